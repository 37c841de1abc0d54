#!/usr/bin/python3
"""An independent check of cosign signatures in a registry, for the tests.

Written from the cosign and containers/image formats (not from signet's
code) with Debian's python3-cryptography:

  cosign_check.py REGISTRY REPO REF PUBKEY [--sigrepo R] [--want-ref HOST/REPO]
      [--media oci|docker] [--min N] [--creds USER:PASS] [--rekor-pub PEM]

REGISTRY is host:port (plain HTTP).  Resolves REF (tag or digest) to the
manifest digest, fetches <sigrepo>:sha256-<hex>.sig and every payload blob,
and checks for each simple-signing layer: blob digest and size, the payload
grammar exactly as containers/image parses it, docker-manifest-digest, and
the ECDSA/RSA signature over the payload bytes with PUBKEY.  Also checks that
the config blob exists and matches its descriptor.  Prints one JSON object:
{"digest":..., "layers":N, "valid":M, "refs":[...]} and exits 0 when at least
--min (default 1) layers verify under PUBKEY, else 1.
"""
import base64
import hashlib
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPT = ", ".join([OCI_MANIFEST, DOCKER_MANIFEST,
                    "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json"])
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"


CREDS = None      # "user:pass" for registries with token or Basic auth
TOKENS = {}


def challenge_token(challenge):
    """The registry token flow: Bearer realm/service/scope -> a token."""
    import re
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    if challenge.lower().startswith("basic"):
        return "Basic " + base64.b64encode(CREDS.encode()).decode()
    url = params["realm"] + "?" + urllib.parse.urlencode(
        {k: v for k, v in params.items() if k in ("service", "scope")})
    req = urllib.request.Request(url, headers={
        "Authorization": "Basic " + base64.b64encode(CREDS.encode()).decode()})
    with urllib.request.urlopen(req, timeout=10) as r:
        return "Bearer " + json.loads(r.read())["token"]


def get(url, accept=None):
    headers = {"Accept": accept} if accept else {}
    for _ in range(2):
        scope_key = url.split("/v2/")[1].split("/manifests/")[0].split("/blobs/")[0]
        if scope_key in TOKENS:
            headers["Authorization"] = TOKENS[scope_key]
        req = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            if e.code != 401 or CREDS is None or scope_key in TOKENS:
                raise
            TOKENS[scope_key] = challenge_token(e.headers.get("WWW-Authenticate", ""))
    raise RuntimeError("unreachable")


def exact_keys(obj, keys, where):
    if not isinstance(obj, dict) or set(obj.keys()) != set(keys):
        raise ValueError("%s: keys %s, want exactly %s" % (where, sorted(obj) if isinstance(obj, dict) else obj, sorted(keys)))


def check_payload(payload, digest):
    # containers/image's ParanoidUnmarshalJSONObjectExactFields, in short
    doc = json.loads(payload, object_pairs_hook=lambda pairs: (
        dict(pairs) if len(pairs) == len(dict(pairs)) else (_ for _ in ()).throw(ValueError("duplicate key"))))
    exact_keys(doc, ["critical", "optional"], "payload")
    crit = doc["critical"]
    exact_keys(crit, ["identity", "image", "type"], "critical")
    exact_keys(crit["identity"], ["docker-reference"], "identity")
    exact_keys(crit["image"], ["docker-manifest-digest"], "image")
    if crit["type"] != "cosign container image signature":
        raise ValueError("type %r" % crit["type"])
    if crit["image"]["docker-manifest-digest"] != digest:
        raise ValueError("payload names %s, not %s" % (crit["image"]["docker-manifest-digest"], digest))
    if doc["optional"] is not None and not isinstance(doc["optional"], dict):
        raise ValueError("optional is neither null nor an object")
    # cosign writes Go's compact json.Marshal: no spaces, this key order
    if payload.startswith(b'{"critical":{"identity":{"docker-reference":') is False:
        raise ValueError("payload is not in cosign's field order")
    return crit["identity"]["docker-reference"], doc["optional"]


def check_bundle(bundle, rekor_pub_path, payload, sig_b64, signer):
    """cosign's offline bundle check (VerifyBundle), independently."""
    if bundle is None:
        raise ValueError("no bundle")
    b = json.loads(bundle)
    rk = serialization.load_pem_public_key(open(rekor_pub_path, "rb").read())
    der = rk.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    p = b["Payload"]
    if p["logID"] != hashlib.sha256(der).hexdigest():
        raise ValueError("bundle logID is not the log key's")
    msg = json.dumps({"body": p["body"], "integratedTime": p["integratedTime"],
                      "logID": p["logID"], "logIndex": p["logIndex"]},
                     sort_keys=True, separators=(",", ":")).encode()
    rk.verify(base64.b64decode(b["SignedEntryTimestamp"]), msg, ec.ECDSA(hashes.SHA256()))
    body = json.loads(base64.b64decode(p["body"]))
    spec = body["spec"]
    if spec["data"]["hash"]["value"] != hashlib.sha256(payload).hexdigest():
        raise ValueError("bundle body names another payload")
    if spec["signature"]["content"] != sig_b64:
        raise ValueError("bundle body holds another signature")
    k = serialization.load_pem_public_key(base64.b64decode(spec["signature"]["publicKey"]["content"]))
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if k.public_bytes(*fmt) != signer.public_bytes(*fmt):
        raise ValueError("bundle body holds another key")


def verify_sig(pub, sig, payload):
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(sig, payload, ec.ECDSA(hashes.SHA256()))
    elif isinstance(pub, rsa.RSAPublicKey):
        pub.verify(sig, payload, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise ValueError("unsupported key type")


def main(argv):
    reg, repo, ref, pubpath = argv[1:5]
    global CREDS
    opts = {"--sigrepo": repo, "--want-ref": None, "--media": None, "--min": "1",
            "--creds": None, "--rekor-pub": None}
    rest = argv[5:]
    for i in range(0, len(rest), 2):
        opts[rest[i]] = rest[i + 1]
    CREDS = opts["--creds"]
    with open(pubpath, "rb") as f:
        pub = serialization.load_pem_public_key(f.read())
    base = "http://" + reg
    st, h, body = get("%s/v2/%s/manifests/%s" % (base, repo, ref), ACCEPT)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    out = {"digest": digest, "layers": 0, "valid": 0, "refs": [], "optional": [], "errors": []}
    tag = "sha256-%s.sig" % digest[7:]
    try:
        st, h, sm = get("%s/v2/%s/manifests/%s" % (base, opts["--sigrepo"], tag), OCI_MANIFEST + ", " + DOCKER_MANIFEST)
    except urllib.error.HTTPError as e:
        out["errors"].append("no signature manifest: HTTP %d" % e.code)
        print(json.dumps(out))
        return 1
    ctype = h.get("Content-Type", "")
    man = json.loads(sm)
    want_media = {"oci": OCI_MANIFEST, "docker": DOCKER_MANIFEST}.get(opts["--media"])
    if want_media and (ctype != want_media or man.get("mediaType") != want_media):
        out["errors"].append("media type %s / %s, want %s" % (ctype, man.get("mediaType"), want_media))
    cfg = man["config"]
    st, h, cfgbytes = get("%s/v2/%s/blobs/%s" % (base, opts["--sigrepo"], cfg["digest"]))
    if "sha256:" + hashlib.sha256(cfgbytes).hexdigest() != cfg["digest"] or len(cfgbytes) != cfg["size"]:
        out["errors"].append("config blob does not match its descriptor")
    for layer in man["layers"]:
        out["layers"] += 1
        try:
            if layer["mediaType"] != SIMPLESIGNING:
                raise ValueError("layer media type %s" % layer["mediaType"])
            st, h, payload = get("%s/v2/%s/blobs/%s" % (base, opts["--sigrepo"], layer["digest"]))
            if "sha256:" + hashlib.sha256(payload).hexdigest() != layer["digest"] or len(payload) != layer["size"]:
                raise ValueError("payload blob does not match its descriptor")
            dref, optional = check_payload(payload, digest)
            sig = base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"], validate=True)
            verify_sig(pub, sig, payload)
            if opts["--rekor-pub"]:
                check_bundle(layer["annotations"].get("dev.sigstore.cosign/bundle"),
                             opts["--rekor-pub"], payload, layer["annotations"]
                             ["dev.cosignproject.cosign/signature"], pub)
            if opts["--want-ref"] and dref != opts["--want-ref"]:
                raise ValueError("docker-reference %s, want %s" % (dref, opts["--want-ref"]))
            out["valid"] += 1
            out["refs"].append(dref)
            out["optional"].append(optional)
        except Exception as e:  # one bad layer does not spoil the others
            out["errors"].append("%s: %s" % (layer.get("digest"), str(e) or type(e).__name__))
    print(json.dumps(out))
    bad_media = want_media and any(e.startswith("media type") for e in out["errors"])
    return 0 if out["valid"] >= int(opts["--min"]) and not bad_media else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
