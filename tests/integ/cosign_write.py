#!/usr/bin/python3
"""A signature writer outside signet, for the concurrency test: appends its
own cosign signature to REPO:sha256-<hex>.sig by read-modify-write, as
cosign does, racing whoever else writes the list.  Unlike cosign it keeps
watching: until STOPFILE exists it reads the list every few milliseconds
and appends again whenever its layer is missing, as signet's rechecks do.

  cosign_write.py REGISTRY REPO DIGEST PUBOUT STOPFILE
  cosign_write.py REGISTRY REPO DIGEST PUBOUT --once GOFILE DELAY_MS

Generates a P-256 key, writes its public key to PUBOUT, prints how many
times it had to append.  With --once it writes as cosign does, once and
never looking again: it uploads its payload, creates GOFILE.ready, waits
for GOFILE, sleeps DELAY_MS, then reads, appends and writes the list (again
only when the registry refuses the PUT).
"""
import os
import base64
import hashlib
import json
import sys
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

OCI = "application/vnd.oci.image.manifest.v1+json"
SS = "application/vnd.dev.cosign.simplesigning.v1+json"


def req(method, url, body=None, headers=None):
    r = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def put_blob(base, repo, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    st, h, _ = req("POST", "%s/v2/%s/blobs/uploads/" % (base, repo), b"")
    loc = h["Location"]
    if loc.startswith("/"):
        loc = base + loc
    sep = "&" if "?" in loc else "?"
    st, h, _ = req("PUT", loc + sep + "digest=" + d, data,
                   {"Content-Type": "application/octet-stream"})
    assert st == 201, st
    return d


def main(argv):
    reg, repo, digest, pubout, stopfile = argv[1:6]
    once = stopfile == "--once"
    if once:
        gofile, delay = argv[6], int(argv[7]) / 1000.0
    base = "http://" + reg
    key = ec.generate_private_key(ec.SECP256R1())
    with open(pubout, "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo))
    payload = json.dumps({"critical": {"identity": {"docker-reference": reg + "/" + repo},
                          "image": {"docker-manifest-digest": digest},
                          "type": "cosign container image signature"},
                          "optional": {"writer": "third"}}, separators=(",", ":")).encode()
    sig = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    pd = put_blob(base, repo, payload)
    tag = "%s/v2/%s/manifests/sha256-%s.sig" % (base, repo, digest[7:])
    appends = 0
    if once:
        open(gofile + ".ready", "w").close()
        while not os.path.exists(gofile):
            time.sleep(0.001)
        time.sleep(delay)
    deadline = time.time() + 120
    while time.time() < deadline:
        stopping = os.path.exists(stopfile)
        st, h, body = req("GET", tag, headers={"Accept": OCI})
        man = json.loads(body) if st == 200 else {
            "schemaVersion": 2, "mediaType": OCI,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 0, "digest": ""},
            "layers": []}
        if once and appends > 0:
            print(appends)
            return 0
        if any(l["digest"] == pd for l in man["layers"]):
            if stopping or once:
                print(appends)
                return 0
            time.sleep(0.02)
            continue
        man["layers"].append({"mediaType": SS, "size": len(payload), "digest": pd,
                              "annotations": {"dev.cosignproject.cosign/signature": sig}})
        cfg = json.dumps({"architecture": "", "created": "0001-01-01T00:00:00Z",
                          "history": [{"created": "0001-01-01T00:00:00Z"}] * len(man["layers"]),
                          "os": "", "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in man["layers"]]},
                          "config": {}}, separators=(",", ":")).encode()
        try:
            man["config"]["digest"] = put_blob(base, repo, cfg)
            man["config"]["size"] = len(cfg)
            st, h, _ = req("PUT", tag, json.dumps(man, separators=(",", ":")).encode(),
                           {"Content-Type": OCI})
        except AssertionError:
            st = 0
        if st != 201:
            # the registry refuses a list now and then under concurrent
            # writers (a blob it calls unknown, a 500): read and try again
            time.sleep(0.02)
            continue
        appends += 1
    print("timed out")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
