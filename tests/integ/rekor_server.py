#!/usr/bin/python3
"""A Rekor-API-compatible transparency log for the tests.

The real Rekor needs Trillian and a database, so the tests run this faithful
implementation of the parts signet uses, with real cryptography (Debian's
python3-cryptography):

  POST /api/v1/log/entries          hashedrekord v0.0.1 or dsse v0.0.1; the
                                    signature must verify (over the hash, or
                                    over the DSSE PAE), else 400; a
                                    duplicate is 409 with Location
  GET  /api/v1/log/entries/{uuid}   by UUID (64 hex) or entry ID (80 hex)
  GET  /api/v1/log                  tree size, root hash, signed checkpoint
  GET  /api/v1/log/publicKey        the log key, PEM
  GET  /api/v1/log/proof?firstSize=N&lastSize=M
                                    RFC 6962 consistency proof
  POST /api/v2/log/entries          with --v2 only: a Rekor v2 (rekor-tiles)
                                    log, hashedrekord v0.0.2, Ed25519
                                    checkpoints, no SET, no integrated time
  POST /_fork?keep=K[&log=v2]       TEST ONLY, no such thing in Rekor: cut
                                    the log back to its first K entries so
                                    that the next entries make a history
                                    that forks from the one already shown
  POST /_hold                       TEST ONLY: the next v1 upload is
                                    integrated at once but answered late,
                                    after the upload that follows it has
                                    been answered (10 s at most): its
                                    answer then carries an older checkpoint
                                    than one already handed out, as
                                    concurrent uploads can see in Rekor

An RFC 6962 Merkle tree over the canonical bodies, SETs (ECDSA P-256 over
the JCS of body, integratedTime, logID, logIndex), signed checkpoints with
the 4-byte key hint, inclusion proofs.  State is kept in STATE (JSON), so a
restarted log has the same entries (the v2 log's in STATE.v2).

  rekor_server.py PORT KEY.pem STATE [--host NAME] [--time UNIX]
                  [--v2 ED25519_KEY.pem --v2-origin NAME]
  rekor_server.py canonical REQUEST.json     print the canonical body
"""
import base64
import hashlib
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

TREE_ID = 1234567890123456789

# Facts this log relies on, with where they come from (read in the upstream
# sources; no code was copied):
#
# Rekor v1 `dsse` 0.0.1 (sigstore/rekor pkg/types/dsse/v0.0.1/entry.go and
# dsse_v0_0_1_schema.json):
#  * request spec = {"proposedContent": {"envelope": "<the DSSE envelope as a
#    JSON *string*>", "verifiers": ["<base64 of a PEM public key or
#    certificate>", ...]}}; a request that also carries the server-side
#    fields (envelopeHash, payloadHash, signatures) is refused.  (Old Rekor
#    releases called these publicKeys / publicKey; current Rekor and
#    sigstore-js send verifiers / verifier.)
#  * every envelope signature must verify over the DSSE PAE with one of the
#    verifiers ("all signatures must have a key that verifies it"); an
#    envelope without signatures is refused.
#  * canonical body = JCS of {"apiVersion":"0.0.1","kind":"dsse","spec":{
#    "envelopeHash":{"algorithm":"sha256","value":hex SHA-256 of the envelope
#    string exactly as sent},"payloadHash":{"algorithm":"sha256","value":hex
#    SHA-256 of the decoded payload},"signatures":[{"signature":"<sig as in
#    the envelope>","verifier":"<base64 of the key's canonical PEM>"}]}},
#    signatures sorted by the signature string.  The envelope itself is not
#    kept.
#
# Rekor v2 (sigstore/rekor-tiles: internal/server/service.go CreateEntry,
# pkg/types/hashedrekord/hashedrekord.go ToLogEntry and ToEntryHash,
# internal/tessera/tessera.go, pkg/note/note.go, internal/server/http.go):
#  * POST /api/v2/log/entries takes a protojson CreateEntryRequest:
#    {"hashedRekordRequestV002": {"digest": "<b64>", "signature": {"content":
#    "<b64>", "verifier": {"publicKey": {"rawBytes": "<b64 SPKI DER>"} |
#    "x509Certificate": {"rawBytes": "<b64 cert DER>"}, "keyDetails":
#    "PKIX_ECDSA_P256_SHA_256"}}}}; unknown fields are an error (the gateway
#    unmarshals with DiscardUnknown false).
#  * the signature is verified over the digest (prehashed) with the hash that
#    keyDetails names, and the digest length must match that hash.
#  * the leaf is JCS(protojson(Entry)) with Entry = {"kind":"hashedrekord",
#    "apiVersion":"0.0.2","spec":{"hashedRekordV002":{"data":{"algorithm":
#    "SHA2_256","digest":"<b64>"},"signature":<the request's signature, as
#    sent>}}}; bytes are standard base64 with padding, enums by name.
#  * the answer (201) is a protojson TransparencyLogEntry marshalled with
#    EmitUnpopulated: logIndex, logId.keyId, kindVersion hashedrekord/0.0.2,
#    integratedTime "0", inclusionPromise null, inclusionProof {logIndex,
#    rootHash (b64), treeSize, hashes (b64), checkpoint.envelope},
#    canonicalizedBody (b64).  A duplicate is AlreadyExists (409).
#  * the checkpoint is a C2SP signed note "<origin>\n<size>\n<b64 root>\n",
#    then "\n", then "\u2014 <origin> <b64(4-byte key hash || signature)>\n".
#    For an Ed25519 log key the key hash is SHA-256(origin || "\n" || 0x01 ||
#    32-byte public key) (golang.org/x/mod/sumdb/note, C2SP signed-note); the
#    note carries its first 4 bytes, and logId.keyId is the whole 32 bytes
#    ("non-truncated digest of C2SP signed-note key ID").  The signature is
#    plain Ed25519 over the note text.
#  * this log accepts hashedrekord only: dsseRequestV002 (the dsse 0.0.2
#    kind) is refused here; sigstore-go >= 1.2 logs a DSSE envelope in
#    Rekor v2 as a hashedrekord whose digest is SHA-256 of the DSSE PAE.
#
# Consistency proof (rekor pkg/api/tlog.go GetLogProofHandler, openapi.yaml
# ConsistencyProof; RFC 6962 section 2.1.2): answer {"rootHash": hex,
# "hashes": [hex, ...]}; firstSize defaults to 1; firstSize > lastSize is 400
# "firstSize(N) must be less than lastSize(M)"; a lastSize the log has not
# reached is 400.  rootHash is the root of the log as it is now (Rekor passes
# on Trillian's latest signed root), which is the root at lastSize only when
# lastSize is the current size.

V2_KEY_DETAILS = {
    # keyDetails name (or protobuf number): key family, curve, hash
    "PKIX_ECDSA_P256_SHA_256": ("ec", "secp256r1", hashes.SHA256),
    "PKIX_ECDSA_P384_SHA_384": ("ec", "secp384r1", hashes.SHA384),
    "PKIX_ECDSA_P521_SHA_512": ("ec", "secp521r1", hashes.SHA512),
    "PKIX_RSA_PKCS1V15_2048_SHA256": ("rsa", 2048, hashes.SHA256),
    "PKIX_RSA_PKCS1V15_3072_SHA256": ("rsa", 3072, hashes.SHA256),
    "PKIX_RSA_PKCS1V15_4096_SHA256": ("rsa", 4096, hashes.SHA256),
}
V2_KEY_DETAILS_NUM = {5: "PKIX_ECDSA_P256_SHA_256", 12: "PKIX_ECDSA_P384_SHA_384",
                      13: "PKIX_ECDSA_P521_SHA_512", 9: "PKIX_RSA_PKCS1V15_2048_SHA256",
                      10: "PKIX_RSA_PKCS1V15_3072_SHA256", 11: "PKIX_RSA_PKCS1V15_4096_SHA256"}
V2_HASH_NAME = {"sha256": "SHA2_256", "sha384": "SHA2_384", "sha512": "SHA2_512"}


def jcs(obj):
    """RFC 8785 for the shapes logged here (ASCII strings, small integers):
    sorted keys, no blanks."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical(entry):
    """Rekor's canonical hashedrekord body: only hash, signature content and
    public key, wrapped with apiVersion and kind, as RFC 8785 JCS (for this
    all-ASCII shape: sorted keys, no blanks)."""
    spec = entry["spec"]
    body = {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": spec["data"]["hash"]["algorithm"],
                          "value": spec["data"]["hash"]["value"]}},
        "signature": {"content": spec["signature"]["content"],
                      "publicKey": {"content": spec["signature"]["publicKey"]["content"]}}}}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def leaf_hash(body):
    return hashlib.sha256(b"\x00" + body).digest()


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(leaves):
    if len(leaves) == 0:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


def path(m, leaves):
    if len(leaves) <= 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m, leaves, complete):
    """RFC 6962 2.1.2 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, leaves[:k], complete) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def consistency(m, leaves):
    """RFC 6962 PROOF(m, D[n]) for 0 < m <= n."""
    return subproof(m, leaves, True)


def load_verifier(pem):
    """A PEM public key or certificate, as Rekor's x509.NewPublicKey takes
    it; returns (key, canonical PEM)."""
    if b"BEGIN CERTIFICATE" in pem:
        cert = x509.load_pem_x509_certificate(pem)
        return cert.public_key(), cert.public_bytes(serialization.Encoding.PEM)
    key = serialization.load_pem_public_key(pem)
    return key, key.public_bytes(serialization.Encoding.PEM,
                                 serialization.PublicFormat.SubjectPublicKeyInfo)


def verify_entry(entry):
    spec = entry["spec"]
    if entry.get("kind") != "hashedrekord" or entry.get("apiVersion") != "0.0.1":
        raise ValueError("only hashedrekord 0.0.1")
    if spec["data"]["hash"]["algorithm"] != "sha256":
        raise ValueError("only sha256")
    digest = bytes.fromhex(spec["data"]["hash"]["value"])
    sig = base64.b64decode(spec["signature"]["content"], validate=True)
    pem = base64.b64decode(spec["signature"]["publicKey"]["content"], validate=True)
    if b"BEGIN CERTIFICATE" in pem:
        key = x509.load_pem_x509_certificate(pem).public_key()
    else:
        key = serialization.load_pem_public_key(pem)
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(sig, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(sig, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    else:
        raise ValueError("unsupported key")


def b64any(s):
    """base64 as go-securesystemslib's DSSE code and protojson read it:
    standard or URL-safe alphabet, padded or not."""
    if not isinstance(s, str):
        raise ValueError("not a base64 string")
    s = s.replace("-", "+").replace("_", "/")
    return base64.b64decode(s + "=" * (-len(s) % 4), validate=True)


def pae(payload_type, payload):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def dsse_verify(key, sig, data):
    """sigstore's LoadVerifier(key, SHA256) as Rekor's dsse type uses it."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(sig, data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(sig, data)
    else:
        raise ValueError("unsupported key")


def canonical_dsse(entry):
    """Verify a proposed dsse 0.0.1 entry and return Rekor's canonical body."""
    if entry.get("kind") != "dsse" or entry.get("apiVersion") != "0.0.1":
        raise ValueError("only dsse 0.0.1")
    spec = entry["spec"]
    pc = spec.get("proposedContent")
    if pc is None:
        raise ValueError("missing proposed content")
    if any(k in spec for k in ("envelopeHash", "payloadHash", "signatures")):
        raise ValueError("either proposedContent or envelopeHash, payloadHash, "
                         "and signatures must be present but not both")
    env_text = pc["envelope"]
    verifiers = pc["verifiers"]
    if not isinstance(env_text, str) or not env_text:
        raise ValueError("missing proposed DSSE envelope")
    if not isinstance(verifiers, list) or not verifiers:
        raise ValueError("missing proposed verifiers")
    env = json.loads(env_text)
    sigs = env.get("signatures") or []
    if not sigs:
        raise ValueError("DSSE envelope must contain 1 or more signatures")
    payload = b64any(env["payload"])
    data = pae(env["payloadType"], payload)
    by_sig = {}
    for v in verifiers:
        if v is None:
            raise ValueError("an invalid null verifier was provided in ProposedContent")
        key, canon = load_verifier(base64.b64decode(v, validate=True))
        for s in sigs:
            if s["sig"] in by_sig:
                continue
            try:
                dsse_verify(key, b64any(s["sig"]), data)
                by_sig[s["sig"]] = canon
            except InvalidSignature:
                pass
    if any(s["sig"] not in by_sig for s in sigs):
        raise ValueError("all signatures must have a key that verifies it")
    body = {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
        "envelopeHash": {"algorithm": "sha256",
                         "value": hashlib.sha256(env_text.encode()).hexdigest()},
        "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
        "signatures": [{"signature": s, "verifier": base64.b64encode(by_sig[s]).decode()}
                       for s in sorted(by_sig)]}}
    return jcs(body)


def propose_v1(entry):
    """The canonical body of a proposed v1 entry, once it verifies."""
    if entry.get("kind") == "dsse":
        return canonical_dsse(entry)
    verify_entry(entry)
    return canonical(entry)


def field(obj, camel, snake):
    """protojson reads both the JSON name and the proto field name."""
    if not isinstance(obj, dict):
        raise ValueError("expected an object")
    if camel in obj and snake in obj:
        raise ValueError("duplicate field " + camel)
    return obj.get(camel, obj.get(snake))


def only(obj, *names):
    bad = [k for k in obj if k not in names]
    if bad:
        raise ValueError("unknown field %r" % bad[0])


def canonical_v2(req):
    """Verify a Rekor v2 CreateEntryRequest and return the canonical entry
    (JCS of the protojson Entry) that is the log's leaf."""
    if not isinstance(req, dict):
        raise ValueError("expected an object")
    only(req, "hashedRekordRequestV002", "hashed_rekord_request_v002",
         "dsseRequestV002", "dsse_request_v002")
    if field(req, "dsseRequestV002", "dsse_request_v002") is not None:
        raise ValueError("dsse requests are not accepted by this log")
    hr = field(req, "hashedRekordRequestV002", "hashed_rekord_request_v002")
    if hr is None:
        raise ValueError("invalid type, must be either hashedrekord or dsse")
    only(hr, "digest", "signature")
    sig = hr.get("signature")
    if not isinstance(sig, dict):
        raise ValueError("missing signature")
    only(sig, "content", "verifier")
    content = b64any(sig.get("content") or "")
    if not content:
        raise ValueError("missing signature")
    digest = b64any(hr.get("digest") or "")
    if not digest:
        raise ValueError("missing digest")
    ver = sig.get("verifier")
    if not isinstance(ver, dict):
        raise ValueError("missing verifier")
    only(ver, "publicKey", "public_key", "x509Certificate", "x509_certificate",
         "keyDetails", "key_details")
    details = field(ver, "keyDetails", "key_details")
    details = V2_KEY_DETAILS_NUM.get(details, details)
    if details not in V2_KEY_DETAILS:
        raise ValueError("unsupported key details %r" % (details,))
    family, size, hash_cls = V2_KEY_DETAILS[details]
    pub = field(ver, "publicKey", "public_key")
    cert = field(ver, "x509Certificate", "x509_certificate")
    if (pub is None) == (cert is None):
        raise ValueError("must contain either a public key or X.509 certificate")
    holder = pub if pub is not None else cert
    only(holder, "rawBytes", "raw_bytes")
    raw = b64any(field(holder, "rawBytes", "raw_bytes") or "")
    if pub is not None:
        key = serialization.load_der_public_key(raw)
        verifier = {"publicKey": {"rawBytes": base64.b64encode(raw).decode()}}
    else:
        key = x509.load_der_x509_certificate(raw).public_key()
        verifier = {"x509Certificate": {"rawBytes": base64.b64encode(raw).decode()}}
    verifier["keyDetails"] = details
    h = hash_cls()
    if len(digest) != h.digest_size:
        raise ValueError("digest length (%d) does not match expected size (%d)"
                         % (len(digest), h.digest_size))
    if family == "ec":
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != size:
            raise ValueError("key does not match its key details")
        key.verify(content, digest, ec.ECDSA(utils.Prehashed(h)))
    else:
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size != size:
            raise ValueError("key does not match its key details")
        key.verify(content, digest, padding.PKCS1v15(), utils.Prehashed(h))
    entry = {"kind": "hashedrekord", "apiVersion": "0.0.2", "spec": {"hashedRekordV002": {
        "data": {"algorithm": V2_HASH_NAME[h.name], "digest": base64.b64encode(digest).decode()},
        "signature": {"content": base64.b64encode(content).decode(), "verifier": verifier}}}}
    return jcs(entry)


class Entries:
    """The entries of a log, kept in a JSON file (a restarted log has the
    same entries), and their leaf hashes."""

    def save(self):
        tmp = self.statepath + ".tmp"
        json.dump(self.entries, open(tmp, "w"))
        os.replace(tmp, self.statepath)

    def leaves(self):
        return [leaf_hash(base64.b64decode(e["body"])) for e in self.entries]


class Log(Entries):
    def __init__(self, keypath, statepath, host, fixed_time):
        self.key = serialization.load_pem_private_key(open(keypath, "rb").read(), None)
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        self.pub_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.log_id = hashlib.sha256(der).hexdigest()
        self.hint = hashlib.sha256(der).digest()[:4]
        self.host = host
        self.fixed_time = fixed_time
        self.statepath = statepath
        self.lock = threading.Lock()
        self.entries = []          # [{"body": b64, "integratedTime": t}]
        self.hold = False          # /_hold: answer the next upload late
        self.answered = threading.Event()
        if os.path.exists(statepath):
            self.entries = json.load(open(statepath))

    def sign(self, data):
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def checkpoint(self, leaves):
        root = mth(leaves)
        body = "%s - %d\n%d\n%s\nTimestamp: %d\n" % (
            self.host, TREE_ID, len(leaves), base64.b64encode(root).decode(),
            int(self.now() * 1e9))
        sig = base64.b64encode(self.hint + self.sign(body.encode())).decode()
        return body + "\n\u2014 %s %s\n" % (self.host, sig), root

    def now(self):
        return self.fixed_time if self.fixed_time else int(time.time())

    def render(self, index):
        e = self.entries[index]
        leaves = self.leaves()
        ck, root = self.checkpoint(leaves)
        uuid = leaves[index].hex()
        payload = {"body": e["body"], "integratedTime": e["integratedTime"],
                   "logID": self.log_id, "logIndex": index}
        msg = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        out = dict(payload)
        out["verification"] = {
            "inclusionProof": {"checkpoint": ck, "hashes": [h.hex() for h in path(index, leaves)],
                               "logIndex": index, "rootHash": root.hex(), "treeSize": len(leaves)},
            "signedEntryTimestamp": base64.b64encode(self.sign(msg)).decode()}
        return "%016x%s" % (TREE_ID, uuid), out


class LogV2(Entries):
    """A Rekor v2 (rekor-tiles) log: Ed25519 signed-note checkpoints, no SETs."""

    def __init__(self, keypath, origin, statepath):
        self.key = serialization.load_pem_private_key(open(keypath, "rb").read(), None)
        if not isinstance(self.key, ed25519.Ed25519PrivateKey):
            raise SystemExit("--v2 wants an Ed25519 private key")
        if not origin or any(c.isspace() for c in origin) or "+" in origin:
            raise SystemExit("--v2-origin: not a valid note name")
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw)
        self.origin = origin
        self.log_id = hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()
        self.hint = self.log_id[:4]
        self.statepath = statepath
        self.entries = []          # [{"body": b64}]
        if os.path.exists(statepath):
            self.entries = json.load(open(statepath))

    def checkpoint(self, leaves):
        root = mth(leaves)
        body = "%s\n%d\n%s\n" % (self.origin, len(leaves), base64.b64encode(root).decode())
        sig = base64.b64encode(self.hint + self.key.sign(body.encode())).decode()
        return body + "\n\u2014 %s %s\n" % (self.origin, sig), root

    def render(self, index):
        leaves = self.leaves()
        ck, root = self.checkpoint(leaves)
        body = json.loads(base64.b64decode(self.entries[index]["body"]))
        return {"logIndex": str(index),
                "logId": {"keyId": base64.b64encode(self.log_id).decode()},
                "kindVersion": {"kind": body["kind"], "version": body["apiVersion"]},
                "integratedTime": "0",
                "inclusionPromise": None,
                "inclusionProof": {
                    "logIndex": str(index), "rootHash": base64.b64encode(root).decode(),
                    "treeSize": str(len(leaves)),
                    "hashes": [base64.b64encode(h).decode() for h in path(index, leaves)],
                    "checkpoint": {"envelope": ck}},
                "canonicalizedBody": self.entries[index]["body"]}


def serve(port, log, log2=None):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, status, obj, headers=()):
            data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n)
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/_fork":
                return self.fork(urllib.parse.parse_qs(url.query))
            if url.path == "/_hold":
                with log.lock:
                    log.hold = True
                    log.answered.clear()
                return self.reply(200, {"hold": True})
            if self.path == "/api/v2/log/entries" and log2 is not None:
                return self.post_v2(raw)
            if self.path != "/api/v1/log/entries":
                return self.reply(404, {"code": 404, "message": "not found"})
            try:
                entry = json.loads(raw)
                body = propose_v1(entry)
            except (ValueError, KeyError, InvalidSignature, TypeError, AttributeError) as e:
                return self.reply(400, {"code": 400, "message": "invalid entry: %s" % (e or "signature")})
            with log.lock:
                lh = leaf_hash(body)
                leaves = log.leaves()
                if lh in leaves:
                    eid = "%016x%s" % (TREE_ID, lh.hex())
                    return self.reply(409, {"code": 409, "message":
                                            "An equivalent entry already exists in the transparency log with UUID " + eid},
                                      [("Location", "/api/v1/log/entries/" + eid)])
                log.entries.append({"body": base64.b64encode(body).decode(),
                                    "integratedTime": log.now()})
                log.save()
                eid, out = log.render(len(log.entries) - 1)
                held, log.hold = log.hold, False
            if held:
                # rendered now, with the tree as it is; sent once the next
                # upload's answer (a larger tree) has gone out, and a
                # moment after, so that it is seen first
                log.answered.wait(10)
                time.sleep(0.3)
            self.reply(201, {eid: out}, [("Location", "/api/v1/log/entries/" + eid), ("ETag", eid)])
            if not held:
                log.answered.set()

        def post_v2(self, raw):
            # gRPC-gateway error bodies: {"code": <gRPC code>, "message", "details"}
            try:
                body = canonical_v2(json.loads(raw))
            except (ValueError, KeyError, InvalidSignature, TypeError, AttributeError) as e:
                return self.reply(400, {"code": 3, "message": "invalid hashedrekord request: %s"
                                        % (e or "signature"), "details": []})
            with log.lock:
                lh = leaf_hash(body)
                leaves = log2.leaves()
                if lh in leaves:
                    return self.reply(409, {"code": 6, "message":
                                            "an equivalent entry already exists in the transparency log with index %d"
                                            % leaves.index(lh), "details": []})
                log2.entries.append({"body": base64.b64encode(body).decode()})
                log2.save()
                out = log2.render(len(log2.entries) - 1)
            self.reply(201, out)

        def fork(self, q):
            # Test only: drop every entry after the first K, so that the
            # entries added next give checkpoints that contradict the ones
            # already handed out (a split view / forked log).
            target = log2 if q.get("log") == ["v2"] else log
            if target is None:
                return self.reply(404, {"code": 404, "message": "no v2 log"})
            try:
                keep = int(q["keep"][0])
            except (KeyError, ValueError):
                return self.reply(400, {"code": 400, "message": "keep=K wanted"})
            with log.lock:
                if keep < 0 or keep > len(target.entries):
                    return self.reply(400, {"code": 400, "message": "keep out of range"})
                target.entries = target.entries[:keep]
                target.save()
            self.reply(200, {"treeSize": keep})

        def proof(self, q):
            try:
                first = int(q.get("firstSize", ["1"])[0])
                last = int(q["lastSize"][0])
            except (KeyError, ValueError):
                return self.reply(400, {"code": 400, "message": "lastSize in query is required"})
            if first < 1 or last < 1:
                return self.reply(400, {"code": 400, "message": "firstSize and lastSize must be at least 1"})
            if first > last:
                return self.reply(400, {"code": 400, "message":
                                        "firstSize(%d) must be less than lastSize(%d)" % (first, last)})
            leaves = log.leaves()
            if last > len(leaves):
                return self.reply(400, {"code": 400, "message":
                                        "the tree size requested(%d) was greater than what is currently observable(%d)"
                                        % (last, len(leaves))})
            return self.reply(200, {"rootHash": mth(leaves).hex(),
                                    "hashes": [h.hex() for h in consistency(first, leaves[:last])]})

        def do_GET(self):
            with log.lock:
                if self.path == "/api/v1/log/publicKey":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-pem-file")
                    self.send_header("Content-Length", str(len(log.pub_pem)))
                    self.end_headers()
                    self.wfile.write(log.pub_pem)
                    return
                if self.path == "/api/v1/log":
                    leaves = log.leaves()
                    ck, root = log.checkpoint(leaves)
                    return self.reply(200, {"rootHash": root.hex(), "treeSize": len(leaves),
                                            "signedTreeHead": ck, "treeID": str(TREE_ID)})
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/api/v1/log/proof":
                    return self.proof(urllib.parse.parse_qs(url.query))
                prefix = "/api/v1/log/entries/"
                if self.path.startswith(prefix):
                    want = self.path[len(prefix):][-64:]
                    for i, lh in enumerate(log.leaves()):
                        if lh.hex() == want:
                            eid, out = log.render(i)
                            return self.reply(200, {eid: out})
                    return self.reply(404, {"code": 404, "message": "entry not found"})
            self.reply(404, {"code": 404, "message": "not found"})

    http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


def main(argv):
    if argv[1] == "canonical":
        entry = json.load(open(argv[2]))
        out = canonical_dsse(entry) if entry.get("kind") == "dsse" else canonical(entry)
        sys.stdout.buffer.write(out)
        return
    port, keypath, statepath = int(argv[1]), argv[2], argv[3]
    host, fixed, v2key, v2origin = "rekor.test", 0, None, None
    rest = argv[4:]
    for i in range(0, len(rest), 2):
        if rest[i] == "--host":
            host = rest[i + 1]
        elif rest[i] == "--time":
            fixed = int(rest[i + 1])
        elif rest[i] == "--v2":
            v2key = rest[i + 1]
        elif rest[i] == "--v2-origin":
            v2origin = rest[i + 1]
    log2 = None
    if v2key:
        log2 = LogV2(v2key, v2origin or "rekor2.test", statepath + ".v2")
    serve(port, Log(keypath, statepath, host, fixed), log2)


if __name__ == "__main__":
    main(sys.argv)
