#!/usr/bin/python3
"""Self-check of tests/integ/rekor_server.py, with its own keys and its own
server on a free loopback port (no node, no signet):

  rekor_selfcheck.py

Rekor v1: hashedrekord and dsse 0.0.1 entries (accepted, refused, the
canonical dsse body, SET, inclusion proof, checkpoint, 409 on a duplicate);
consistency proofs between every pair of sizes, checked with the RFC 9162
2.1.4.2 verifier written here, and the error answers; /_fork makes a history
that no consistency proof joins to the old one.  Rekor v2: hashedrekord
0.0.2 (the canonical body, the Ed25519 checkpoint and its key hint, the
inclusion proof, what is refused).  Ends with "N passed, N failed".
"""
import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "..", "rekor_server.py")
PEM = serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
RESULTS = [0, 0]


def check(name, ok, detail=""):
    RESULTS[0 if ok else 1] += 1
    print("%s - %s%s" % ("ok" if ok else "FAIL", name, "" if ok or not detail else ": %s" % detail))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def call(base, method, path, obj=None):
    data = None if obj is None else (obj if isinstance(obj, bytes) else json.dumps(obj).encode())
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null"), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), e.headers


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def leaf(body):
    return hashlib.sha256(b"\x00" + body).digest()


def verify_inclusion(index, size, leaf_h, proof, root):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_h
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 2.1.4.2."""
    if first == second:
        return proof == [] and first_hash == second_hash
    if first == 0 or first > second or not proof:
        return False
    if first & (first - 1) == 0:
        proof = [first_hash] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def split_note(text):
    body, sigs = text.split("\n\n", 1)
    line = sigs.split("\n")[0]
    assert line.startswith("\u2014 ")
    name, b64 = line[2:].split(" ")
    raw = base64.b64decode(b64)
    return (body + "\n").encode(), name, raw[:4], raw[4:]


def hashedrekord(key, pub_pem, data):
    sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
    return {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(data).hexdigest()}},
        "signature": {"content": base64.b64encode(sig).decode(),
                      "publicKey": {"content": base64.b64encode(pub_pem).decode()}}}}


def dsse_request(key, pub_pem, payload, ptype="application/vnd.in-toto+json"):
    t = ptype.encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)
    sig = base64.b64encode(key.sign(pae, ec.ECDSA(hashes.SHA256()))).decode()
    env = json.dumps({"payload": base64.b64encode(payload).decode(), "payloadType": ptype,
                      "signatures": [{"sig": sig}]}, separators=(",", ":"))
    return {"apiVersion": "0.0.1", "kind": "dsse", "spec": {"proposedContent": {
        "envelope": env, "verifiers": [base64.b64encode(pub_pem).decode()]}}}, env, sig, pae


def v1_checks(base, lk, signer, pub_pem):
    lpub = lk.public_key()
    log_id = hashlib.sha256(lpub.public_bytes(serialization.Encoding.DER, SPKI)).hexdigest()

    st, out, hd = call(base, "POST", "/api/v1/log/entries", hashedrekord(signer, pub_pem, b"one"))
    check("v1 hashedrekord accepted (201)", st == 201, st)
    # ECDSA signatures differ each time, so a second signature is a new entry;
    # the same request twice is the duplicate
    req = hashedrekord(signer, pub_pem, b"two")
    call(base, "POST", "/api/v1/log/entries", req)
    st, out, hd = call(base, "POST", "/api/v1/log/entries", req)
    check("v1 duplicate is 409 with Location", st == 409 and "/api/v1/log/entries/" in (hd.get("Location") or ""), st)

    payload = b'{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"' + b"ab" * 32 + b'"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}'
    req, env, sig, pae = dsse_request(signer, pub_pem, payload)
    st, out, hd = call(base, "POST", "/api/v1/log/entries", req)
    check("v1 dsse 0.0.1 accepted (201)", st == 201, out)
    if st != 201:
        return
    (eid, e), = out.items()
    body = base64.b64decode(e["body"])
    want = json.dumps({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
        "envelopeHash": {"algorithm": "sha256", "value": hashlib.sha256(env.encode()).hexdigest()},
        "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
        "signatures": [{"signature": sig, "verifier": base64.b64encode(pub_pem).decode()}]}},
        sort_keys=True, separators=(",", ":")).encode()
    check("dsse canonical body: envelopeHash, payloadHash, signatures[{signature, verifier}]",
          body == want, body)
    check("dsse entry ID is tree ID + leaf hash", eid[16:] == leaf(body).hex())
    msg = json.dumps({"body": e["body"], "integratedTime": e["integratedTime"],
                      "logID": e["logID"], "logIndex": e["logIndex"]},
                     sort_keys=True, separators=(",", ":")).encode()
    try:
        lpub.verify(base64.b64decode(e["verification"]["signedEntryTimestamp"]), msg,
                    ec.ECDSA(hashes.SHA256()))
        ok = e["logID"] == log_id
    except InvalidSignature:
        ok = False
    check("dsse entry SET verifies with the log key", ok)
    p = e["verification"]["inclusionProof"]
    check("dsse entry inclusion proof verifies",
          verify_inclusion(p["logIndex"], p["treeSize"], leaf(body),
                           [bytes.fromhex(h) for h in p["hashes"]], bytes.fromhex(p["rootHash"])))
    text, name, hint, nsig = split_note(p["checkpoint"])
    try:
        lpub.verify(nsig, text, ec.ECDSA(hashes.SHA256()))
        ok = hint.hex() == log_id[:8] and name == "rekor.test"
    except InvalidSignature:
        ok = False
    check("v1 checkpoint signed, key hint = logID[:4]", ok)

    bad = json.loads(json.dumps(req))
    envj = json.loads(bad["spec"]["proposedContent"]["envelope"])
    envj["payload"] = base64.b64encode(payload.replace(b"ab", b"cd", 1)).decode()
    bad["spec"]["proposedContent"]["envelope"] = json.dumps(envj)
    st, out, _ = call(base, "POST", "/api/v1/log/entries", bad)
    check("dsse with a signature that does not verify is 400", st == 400, st)
    other = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(PEM, SPKI)
    bad = json.loads(json.dumps(req))
    bad["spec"]["proposedContent"]["verifiers"] = [base64.b64encode(other).decode()]
    st, out, _ = call(base, "POST", "/api/v1/log/entries", bad)
    check("dsse with another key as verifier is 400", st == 400, st)
    bad = json.loads(json.dumps(req))
    bad["spec"]["payloadHash"] = {"algorithm": "sha256", "value": "00" * 32}
    st, out, _ = call(base, "POST", "/api/v1/log/entries", bad)
    check("dsse proposing server-side fields too is 400", st == 400, st)
    bad = json.loads(json.dumps(req))
    envj = json.loads(bad["spec"]["proposedContent"]["envelope"])
    envj["signatures"] = []
    bad["spec"]["proposedContent"]["envelope"] = json.dumps(envj)
    st, out, _ = call(base, "POST", "/api/v1/log/entries", bad)
    check("dsse envelope without signatures is 400", st == 400, st)
    st, out, _ = call(base, "GET", "/api/v1/log/entries/" + eid)
    check("dsse entry found by entry ID", st == 200 and eid in out, st)


def consistency_checks(base, signer, pub_pem):
    roots = {}
    for i in range(9):
        call(base, "POST", "/api/v1/log/entries", hashedrekord(signer, pub_pem, b"c%d" % i))
        _, info, _ = call(base, "GET", "/api/v1/log")
        roots[info["treeSize"]] = bytes.fromhex(info["rootHash"])
    n = max(roots)
    lo = min(roots)
    bad = []
    for m in range(lo, n + 1):
        for k in range(m, n + 1):
            st, out, _ = call(base, "GET", "/api/v1/log/proof?firstSize=%d&lastSize=%d" % (m, k))
            if st != 200 or not verify_consistency(m, k, roots[m], roots[k],
                                                   [bytes.fromhex(h) for h in out["hashes"]]):
                bad.append((m, k))
    check("consistency proofs verify for every firstSize <= lastSize in %d..%d" % (lo, n), not bad, bad)
    st, out, _ = call(base, "GET", "/api/v1/log/proof?lastSize=%d" % n)
    st1, out1, _ = call(base, "GET", "/api/v1/log/proof?firstSize=1&lastSize=%d" % n)
    check("consistency proof: firstSize defaults to 1", st == 200 and out == out1, out)
    st, out, _ = call(base, "GET", "/api/v1/log/proof?firstSize=%d&lastSize=%d" % (lo, n - 1))
    check("consistency proof: rootHash is the log's current root (as Rekor answers)",
          st == 200 and out["rootHash"] == roots[n].hex(), out)
    st, out, _ = call(base, "GET", "/api/v1/log/proof?firstSize=%d&lastSize=%d" % (n, n - 1))
    check("consistency proof: firstSize > lastSize is 400", st == 400 and "must be less than" in out["message"], out)
    st, out, _ = call(base, "GET", "/api/v1/log/proof?firstSize=1&lastSize=%d" % (n + 5))
    check("consistency proof: lastSize past the log is 400", st == 400, out)

    keep = n - 3
    st, out, _ = call(base, "POST", "/_fork?keep=%d" % keep)
    check("/_fork cuts the log", st == 200 and call(base, "GET", "/api/v1/log")[1]["treeSize"] == keep, out)
    for i in range(4):
        call(base, "POST", "/api/v1/log/entries", hashedrekord(signer, pub_pem, b"fork%d" % i))
    _, info, _ = call(base, "GET", "/api/v1/log")
    m2 = info["treeSize"]
    new_root = bytes.fromhex(info["rootHash"])
    st, out, _ = call(base, "GET", "/api/v1/log/proof?firstSize=%d&lastSize=%d" % (n, m2))
    forked = not verify_consistency(n, m2, roots[n], new_root, [bytes.fromhex(h) for h in out["hashes"]])
    st, out, _ = call(base, "GET", "/api/v1/log/proof?firstSize=%d&lastSize=%d" % (keep, m2))
    shared = verify_consistency(keep, m2, roots[keep], new_root, [bytes.fromhex(h) for h in out["hashes"]])
    check("after /_fork the old size-%d root is not consistent with the new log, size %d still is"
          % (n, keep), forked and shared)


def v2_checks(base, ed_key, origin, signer, pub_der):
    raw = ed_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()
    digest = hashlib.sha256(b"v2 artifact").digest()
    sig = signer.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    req = {"hashedRekordRequestV002": {"digest": base64.b64encode(digest).decode(), "signature": {
        "content": base64.b64encode(sig).decode(),
        "verifier": {"publicKey": {"rawBytes": base64.b64encode(pub_der).decode()},
                     "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}}
    st, e, _ = call(base, "POST", "/api/v2/log/entries", req)
    check("v2 hashedrekord 0.0.2 accepted (201)", st == 201, e)
    if st != 201:
        return
    body = base64.b64decode(e["canonicalizedBody"])
    want = json.dumps({"apiVersion": "0.0.2", "kind": "hashedrekord", "spec": {"hashedRekordV002": {
        "data": {"algorithm": "SHA2_256", "digest": base64.b64encode(digest).decode()},
        "signature": {"content": base64.b64encode(sig).decode(), "verifier": {
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "publicKey": {"rawBytes": base64.b64encode(pub_der).decode()}}}}}},
        sort_keys=True, separators=(",", ":")).encode()
    check("v2 canonical body is the JCS of the protojson Entry", body == want, body)
    check("v2 entry: kindVersion hashedrekord/0.0.2, integratedTime 0, no inclusionPromise",
          e["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
          and e["integratedTime"] == "0" and e["inclusionPromise"] is None)
    check("v2 logId.keyId = SHA-256(origin \\n 0x01 key)",
          base64.b64decode(e["logId"]["keyId"]) == key_id)
    p = e["inclusionProof"]
    text, name, hint, nsig = split_note(p["checkpoint"]["envelope"])
    try:
        ed_key.public_key().verify(nsig, text)
        ok = hint == key_id[:4] and name == origin and text.startswith(origin.encode() + b"\n")
    except InvalidSignature:
        ok = False
    check("v2 checkpoint: Ed25519 over the note, name = origin, key hint = keyId[:4]", ok)
    lines = text.decode().split("\n")
    check("v2 checkpoint has origin, size, root and nothing else",
          len(lines) == 4 and lines[3] == "" and lines[1] == p["treeSize"]
          and base64.b64decode(lines[2]) == base64.b64decode(p["rootHash"]))
    check("v2 inclusion proof verifies",
          verify_inclusion(int(p["logIndex"]), int(p["treeSize"]), leaf(body),
                           [base64.b64decode(h) for h in p["hashes"]], base64.b64decode(p["rootHash"])))
    st, out, _ = call(base, "POST", "/api/v2/log/entries", req)
    check("v2 duplicate is 409 (AlreadyExists)", st == 409 and out["code"] == 6, out)
    bad = json.loads(json.dumps(req))
    bad["hashedRekordRequestV002"]["digest"] = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    st, out, _ = call(base, "POST", "/api/v2/log/entries", bad)
    check("v2 signature that does not verify is 400", st == 400 and out["code"] == 3, out)
    bad = json.loads(json.dumps(req))
    bad["hashedRekordRequestV002"]["extra"] = 1
    st, out, _ = call(base, "POST", "/api/v2/log/entries", bad)
    check("v2 unknown field is 400", st == 400, out)
    bad = json.loads(json.dumps(req))
    bad["hashedRekordRequestV002"]["digest"] = base64.b64encode(digest[:20]).decode()
    st, out, _ = call(base, "POST", "/api/v2/log/entries", bad)
    check("v2 digest of the wrong length is 400", st == 400, out)
    bad = json.loads(json.dumps(req))
    bad["hashedRekordRequestV002"]["signature"]["verifier"]["keyDetails"] = "PKIX_ECDSA_P384_SHA_384"
    st, out, _ = call(base, "POST", "/api/v2/log/entries", bad)
    check("v2 keyDetails that does not fit the key is 400", st == 400, out)
    st, out, _ = call(base, "POST", "/api/v2/log/entries", {"dsseRequestV002": {}})
    check("v2 dsse request is 400 here", st == 400, out)


def main():
    # the C2SP / sumdb note key hash, on the example key of golang.org/x/mod/sumdb/note
    k = base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    check("note key hash of PeterNeumann+c74f20a3 example",
          hashlib.sha256(b"PeterNeumann\n" + k).hexdigest()[:8] == "c74f20a3")
    with tempfile.TemporaryDirectory() as d:
        lk = ec.generate_private_key(ec.SECP256R1())
        ek = ed25519.Ed25519PrivateKey.generate()
        for name, key in (("log.key", lk), ("log2.key", ek)):
            open(os.path.join(d, name), "wb").write(key.private_bytes(
                PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        port = free_port()
        origin = "rekor2.selfcheck"
        proc = subprocess.Popen([sys.executable, SERVER, str(port), os.path.join(d, "log.key"),
                                 os.path.join(d, "state.json"), "--v2", os.path.join(d, "log2.key"),
                                 "--v2-origin", origin])
        try:
            base = "http://127.0.0.1:%d" % port
            for _ in range(100):
                try:
                    call(base, "GET", "/api/v1/log")
                    break
                except OSError:
                    time.sleep(0.05)
            signer = ec.generate_private_key(ec.SECP256R1())
            pub_pem = signer.public_key().public_bytes(PEM, SPKI)
            pub_der = signer.public_key().public_bytes(serialization.Encoding.DER, SPKI)
            v1_checks(base, lk, signer, pub_pem)
            consistency_checks(base, signer, pub_pem)
            v2_checks(base, ek, origin, signer, pub_der)
        finally:
            proc.terminate()
            proc.wait()
    print("%d passed, %d failed" % tuple(RESULTS))
    return 1 if RESULTS[1] else 0


if __name__ == "__main__":
    sys.exit(main())
