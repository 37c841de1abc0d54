#!/usr/bin/python3
"""A Rekor-API-compatible transparency log for the tests.

The real Rekor needs Trillian and a database, so the tests run this faithful
implementation of the parts signet uses, with real cryptography (Debian's
python3-cryptography):

  POST /api/v1/log/entries          hashedrekord v0.0.1; the signature must
                                    verify over the hash, else 400; a
                                    duplicate is 409 with Location
  GET  /api/v1/log/entries/{uuid}   by UUID (64 hex) or entry ID (80 hex)
  GET  /api/v1/log                  tree size, root hash, signed checkpoint
  GET  /api/v1/log/publicKey        the log key, PEM

An RFC 6962 Merkle tree over the canonical bodies, SETs (ECDSA P-256 over
the JCS of body, integratedTime, logID, logIndex), signed checkpoints with
the 4-byte key hint, inclusion proofs.  State is kept in STATE (JSON), so a
restarted log has the same entries.

  rekor_server.py PORT KEY.pem STATE [--host NAME] [--time UNIX]
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

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

TREE_ID = 1234567890123456789


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


class Log:
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
        if os.path.exists(statepath):
            self.entries = json.load(open(statepath))

    def save(self):
        tmp = self.statepath + ".tmp"
        json.dump(self.entries, open(tmp, "w"))
        os.replace(tmp, self.statepath)

    def leaves(self):
        return [leaf_hash(base64.b64decode(e["body"])) for e in self.entries]

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


def serve(port, log):
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
            if self.path != "/api/v1/log/entries":
                return self.reply(404, {"code": 404, "message": "not found"})
            try:
                entry = json.loads(raw)
                verify_entry(entry)
                body = canonical(entry)
            except (ValueError, KeyError, InvalidSignature, TypeError) as e:
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
            self.reply(201, {eid: out}, [("Location", "/api/v1/log/entries/" + eid), ("ETag", eid)])

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
        sys.stdout.buffer.write(canonical(json.load(open(argv[2]))))
        return
    port, keypath, statepath = int(argv[1]), argv[2], argv[3]
    host, fixed = "rekor.test", 0
    rest = argv[4:]
    for i in range(0, len(rest), 2):
        if rest[i] == "--host":
            host = rest[i + 1]
        elif rest[i] == "--time":
            fixed = int(rest[i + 1])
    serve(port, Log(keypath, statepath, host, fixed))


if __name__ == "__main__":
    main(sys.argv)
