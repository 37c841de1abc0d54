#!/usr/bin/python3
"""Keyless (Fulcio-style) signatures for the tests, with real cryptography:
a test CA, an intermediate and short-lived leaf certificates carrying an
email SAN, code-signing EKU and Fulcio's OIDC issuer extensions (v1 raw
string and v2 DER UTF8String), a test transparency log key, and cosign
signature manifests whose layers carry signature, certificate, chain and a
Rekor bundle (SET over the canonical entry, as Rekor signs it).

  keyless.py init DIR
      root.pem (the trusted roots), inter.pem, log.pub, and private keys
  keyless.py sign DIR REGISTRY REPO DIGEST [--identity E] [--issuer U]
      [--no-bundle] [--late] [--rogue]
      writes REPO:sha256-<hex>.sig at REGISTRY (plain HTTP).  --late puts
      the log's integrated time after the leaf expired; --rogue issues the
      leaf from a CA that is not in root.pem.  --files DIR writes payload,
      sig, cert.pem, chain.pem and bundle.json there instead.
"""
import base64
import datetime
import hashlib
import json
import os
import sys
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID

PEM = serialization.Encoding.PEM
ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OCI = "application/vnd.oci.image.manifest.v1+json"


def der_utf8(s):
    b = s.encode()
    assert len(b) < 128
    return bytes([0x0c, len(b)]) + b


def save_key(path, key):
    with open(path, "wb") as f:
        f.write(key.private_bytes(PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def load_key(path):
    return serialization.load_pem_private_key(open(path, "rb").read(), None)


def ca_cert(name, key, issuer_name, issuer_key, start, end):
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                           critical=True)
            .sign(issuer_key, hashes.SHA256()))


def init(d):
    now = datetime.datetime.utcnow()
    start, end = now - datetime.timedelta(days=30), now + datetime.timedelta(days=30)
    for prefix in ("", "rogue-"):
        rk, ik = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        root = ca_cert(prefix + "signet-test-root", rk,
                       x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, prefix + "signet-test-root")]),
                       rk, start, end)
        inter = ca_cert(prefix + "signet-test-intermediate", ik, root.subject, rk, start, end)
        open(os.path.join(d, prefix + "root.pem"), "wb").write(root.public_bytes(PEM))
        open(os.path.join(d, prefix + "inter.pem"), "wb").write(inter.public_bytes(PEM))
        save_key(os.path.join(d, prefix + "inter.key"), ik)
    lk = ec.generate_private_key(ec.SECP256R1())
    save_key(os.path.join(d, "log.key"), lk)
    open(os.path.join(d, "log.pub"), "wb").write(lk.public_key().public_bytes(
        PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def req(method, url, body=None, ct=None):
    r = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": ct} if ct else {})
    with urllib.request.urlopen(r) as resp:
        return resp.headers, resp.read()


def blob(base, repo, data):
    h, _ = req("POST", "%s/v2/%s/blobs/uploads/" % (base, repo), b"")
    loc = h["Location"]
    loc = loc if loc.startswith("http") else base + loc
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + d, data, "application/octet-stream")
    return d


def sign(d, reg, repo, digest, opts):
    prefix = "rogue-" if "--rogue" in opts else ""
    inter = x509.load_pem_x509_certificate(open(os.path.join(d, prefix + "inter.pem"), "rb").read())
    root_pem = open(os.path.join(d, prefix + "root.pem"), "rb").read()
    ik = load_key(os.path.join(d, prefix + "inter.key"))
    lk = load_key(os.path.join(d, "log.key"))
    # \0, \r, \n written as escapes on the command line (hostile values)
    identity = opts.get("--identity", "ci@example.com").encode().decode("unicode_escape")
    issuer = opts.get("--issuer", "https://token.actions.githubusercontent.com"
                      ).encode().decode("unicode_escape")
    # a leaf that lived ten minutes, an hour ago
    t0 = datetime.datetime.utcnow().replace(microsecond=0) - datetime.timedelta(hours=1)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(inter.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(t0).not_valid_after(t0 + datetime.timedelta(minutes=10))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(identity)]), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.UnrecognizedExtension(ISSUER_V1, issuer.encode()), critical=False)
            .add_extension(x509.UnrecognizedExtension(ISSUER_V2, der_utf8(issuer)), critical=False)
            .sign(ik, hashes.SHA256()))
    leaf_pem = leaf.public_bytes(PEM)
    payload = json.dumps({"critical": {"identity": {"docker-reference": reg + "/" + repo},
                                       "image": {"docker-manifest-digest": digest},
                                       "type": "cosign container image signature"},
                          "optional": None}, separators=(",", ":")).encode()
    sig = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    ann = {"dev.cosignproject.cosign/signature": sig,
           "dev.sigstore.cosign/certificate": leaf_pem.decode(),
           "dev.sigstore.cosign/chain": inter.public_bytes(PEM).decode() + root_pem.decode()}
    if "--no-bundle" not in opts:
        body = json.dumps({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
            "signature": {"content": sig, "publicKey": {"content": base64.b64encode(leaf_pem).decode()}}}},
            sort_keys=True, separators=(",", ":")).encode()
        body64 = base64.b64encode(body).decode()
        logid = hashlib.sha256(lk.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()
        itime = int((t0 + datetime.timedelta(minutes=(30 if "--late" in opts else 2)))
                    .replace(tzinfo=datetime.timezone.utc).timestamp())
        msg = '{"body":"%s","integratedTime":%d,"logID":"%s","logIndex":%d}' % (body64, itime, logid, 7)
        set_ = base64.b64encode(lk.sign(msg.encode(), ec.ECDSA(hashes.SHA256()))).decode()
        ann["dev.sigstore.cosign/bundle"] = json.dumps(
            {"SignedEntryTimestamp": set_, "Payload": {"body": body64, "integratedTime": itime,
                                                        "logIndex": 7, "logID": logid}},
            separators=(",", ":"))
    if "--files" in opts:
        out = opts["--files"]
        open(out + "/payload", "wb").write(payload)
        open(out + "/sig", "w").write(sig)
        open(out + "/cert.pem", "w").write(ann["dev.sigstore.cosign/certificate"])
        open(out + "/chain.pem", "w").write(ann["dev.sigstore.cosign/chain"])
        if "dev.sigstore.cosign/bundle" in ann:
            open(out + "/bundle.json", "w").write(ann["dev.sigstore.cosign/bundle"])
        return
    base = "http://" + reg
    pd = blob(base, repo, payload)
    cfg = json.dumps({"architecture": "", "created": "0001-01-01T00:00:00Z",
                      "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
                      "rootfs": {"type": "layers", "diff_ids": [pd]}, "config": {}},
                     separators=(",", ":")).encode()
    cd = blob(base, repo, cfg)
    man = {"schemaVersion": 2, "mediaType": OCI,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(cfg), "digest": cd},
           "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                       "size": len(payload), "digest": pd, "annotations": ann}]}
    req("PUT", "%s/v2/%s/manifests/sha256-%s.sig" % (base, repo, digest[7:]),
        json.dumps(man, separators=(",", ":")).encode(), OCI)


def main(argv):
    if argv[1] == "init":
        init(argv[2])
        return
    rest = argv[6:]
    opts = {}
    i = 0
    while i < len(rest):
        if rest[i] in ("--identity", "--issuer", "--files"):
            opts[rest[i]] = rest[i + 1]
            i += 2
        else:
            opts[rest[i]] = True
            i += 1
    sign(argv[2], argv[3], argv[4], argv[5], opts)


if __name__ == "__main__":
    main(sys.argv)
