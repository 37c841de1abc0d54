#!/usr/bin/python3
"""Clients and checkers for the replicas test (t_replicas.sh): many pushes
through a load balancer, a poller that watches what a puller would see,
a steady load that counts every failed request, and the final count of
signatures per signer with cosign_check.py.

  replicas.py seed REGISTRY PREFIX N SEED OUTDIR
      N small images (a config and one layer each) put straight into the
      registry, in PREFIX/app0 .. PREFIX/app2; writes OUTDIR/images, one
      "REPO DIGEST MANIFEST-FILE" line per image.
  replicas.py push FRONT IMAGES TAGS CONC OUT
      TAGS pushes of each image (manifest PUT by tag, as skopeo's last
      request), image by image so that one digest's pushes go to several
      replicas, CONC at a time; a push that fails is tried again (up to 40
      times, 0.25 s apart: a killed replica).  OUT gets one line per
      push, "REPO TAG DIGEST STATUS ATTEMPTS SERVER" (SERVER from the
      X-Served-By header the balancer adds); prints a summary as JSON.
  replicas.py poll REGISTRY REPOS KEYS STOPFILE OUT
      Until STOPFILE exists: every tag of every repository (comma-separated)
      is read straight from the registry, and its digest's signature list
      must hold a signature, valid under one of KEYS (comma-separated PEM
      files), whose payload names that digest.  Writes a JSON report with
      each violation seen (a tag visible without such a signature) and its
      window: from the first look that saw it to the next that found the
      tag signed again (null: never, in this run).
  replicas.py load FRONT PULLS PUSH-IMAGE STOPFILE OUT
      A steady load until STOPFILE exists: two pullers (a verified manifest
      GET by tag, then a blob of it) over PULLS ("REPO TAG" lines) and
      one pusher (new tags of PUSH-IMAGE, a "REPO DIGEST FILE" line), each
      on one kept-alive connection, never retried: every answer that is
      not a success, and every connection error, is a failed request.
      Writes a JSON report.
  replicas.py final REGISTRY PUSHES KEYMAP WRITERS [--rekor-pub PEM]
      The end state: for each digest pushed (PUSHES, from push), each key
      of KEYMAP ("SERVER=PEM,..." or "*=PEM" for one key everywhere) must
      have exactly one valid layer when SERVER answered one of its pushes
      (at most one otherwise), each WRITERS key ("DIGEST=PEM,...") exactly
      one, and no other layer may be there.  Every count comes from
      cosign_check.py.  Prints a JSON report; exit 1 on a loss, a
      duplicate or a stray layer.
"""
import base64
import concurrent.futures
import contextlib
import hashlib
import http.client
import io
import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cosign_check  # noqa: E402  (the independent verifier)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
SIG_ANN = "dev.cosignproject.cosign/signature"


def request(hostport, method, path, body=None, headers=None, timeout=30):
    """One request on its own connection: (status, headers, body); status 0
    with the error's text as body when the connection failed."""
    host, port = hostport.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    except (OSError, http.client.HTTPException) as e:
        return 0, {}, str(e).encode()
    finally:
        conn.close()


def put_blob(reg, repo, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    st, h, _ = request(reg, "POST", "/v2/%s/blobs/uploads/" % repo, b"")
    loc = h["Location"]
    if loc.startswith("http"):
        loc = "/" + loc.split("/", 3)[3]
    sep = "&" if "?" in loc else "?"
    st, _, body = request(reg, "PUT", loc + sep + "digest=" + d, data,
                          {"Content-Type": "application/octet-stream"})
    if st != 201:
        raise RuntimeError("blob upload: HTTP %d %s" % (st, body[:200]))
    return d


def seed(reg, prefix, n, seedtext, outdir):
    rng = random.Random(seedtext)
    lines = []
    for i in range(n):
        repo = "%s/app%d" % (prefix, i % 3)
        layer = bytes(rng.getrandbits(8) for _ in range(2048))
        cfg = json.dumps({"architecture": "amd64", "os": "linux",
                          "rootfs": {"type": "layers", "diff_ids": [
                              "sha256:" + hashlib.sha256(layer).hexdigest()]},
                          "config": {"Labels": {"seed": "%s-%d" % (seedtext, i)}}}).encode()
        man = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": OCI_CONFIG, "size": len(cfg),
                                     "digest": put_blob(reg, repo, cfg)},
                          "layers": [{"mediaType": OCI_LAYER, "size": len(layer),
                                      "digest": put_blob(reg, repo, layer)}]}).encode()
        path = os.path.join(outdir, "m-%s-%d.json" % (prefix.replace("/", "-"), i))
        with open(path, "wb") as f:
            f.write(man)
        lines.append("%s sha256:%s %s" % (repo, hashlib.sha256(man).hexdigest(), path))
    with open(os.path.join(outdir, "images"), "w") as f:
        f.write("\n".join(lines) + "\n")


def read_images(path):
    with open(path) as f:
        return [ln.split() for ln in f if ln.strip()]


def push(front, images, tags, conc, out):
    jobs = []
    for n, (repo, digest, path) in enumerate(read_images(images)):
        with open(path, "rb") as f:
            man = f.read()
        for t in range(int(tags)):
            jobs.append((repo, "i%d-t%d" % (n, t), digest, man))

    def one(job):
        repo, tag, digest, man = job
        for attempt in range(1, 41):
            st, h, _ = request(front, "PUT", "/v2/%s/manifests/%s" % (repo, tag), man,
                               {"Content-Type": OCI_MANIFEST})
            if st == 201:
                return (repo, tag, digest, st, attempt, h.get("X-Served-By", "-"))
            time.sleep(0.25)
        return (repo, tag, digest, st, attempt, "-")

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(int(conc)) as ex:
        results = list(ex.map(one, jobs))
    elapsed = time.monotonic() - t0
    with open(out, "w") as f:
        for r in results:
            f.write("%s %s %s %d %d %s\n" % r)
    servers = {}
    for r in results:
        servers.setdefault(r[2], set()).add(r[5])
    print(json.dumps({
        "pushes": len(results), "ok": sum(1 for r in results if r[3] == 201),
        "retried": sum(1 for r in results if r[4] > 1),
        "attempts": sum(r[4] for r in results), "seconds": round(elapsed, 2),
        "per_second": round(len(results) / elapsed, 1),
        "digests": len(servers),
        "digests_on_several_replicas": sum(1 for s in servers.values() if len(s) > 1),
        "by_server": {s: sum(1 for r in results if r[5] == s) for s in
                      sorted(set(r[5] for r in results))}}))


def load_keys(paths):
    keys = []
    for p in paths:
        with open(p, "rb") as f:
            keys.append(serialization.load_pem_public_key(f.read()))
    return keys


def poll(reg, repos, keyfiles, stopfile, out):
    keys = load_keys(keyfiles.split(","))
    payloads = {}        # payload digest -> bytes
    verdicts = {}        # (payload digest, signature) -> verifies under a key
    lock = threading.Lock()
    report = {"rounds": 0, "observations": 0, "violations": []}

    def signed(digest):
        st, _, body = request(reg, "GET", "/v2/%s/manifests/sha256-%s.sig" % (
            digest[0], digest[1][7:]), headers={"Accept": OCI_MANIFEST})
        if st == 404:
            return False, "no signature list"
        if st != 200:
            return None, "list: HTTP %d" % st
        for layer in json.loads(body).get("layers", []):
            sig = layer.get("annotations", {}).get(SIG_ANN, "")
            k = (layer["digest"], sig)
            with lock:
                v = verdicts.get(k)
            if v is None:
                if layer["digest"] not in payloads:
                    st, _, p = request(reg, "GET", "/v2/%s/blobs/%s" % (digest[0], layer["digest"]))
                    if st != 200:
                        return None, "payload: HTTP %d" % st
                    payloads[layer["digest"]] = p
                p = payloads[layer["digest"]]
                v = False
                try:
                    names = json.loads(p)["critical"]["image"]["docker-manifest-digest"]
                    for key in keys:
                        try:
                            key.verify(base64.b64decode(sig), p, ec.ECDSA(hashes.SHA256()))
                            v = names == digest[1]
                            break
                        except Exception:
                            continue
                except (ValueError, KeyError, TypeError):
                    v = False
                with lock:
                    verdicts[k] = v
            if v:
                return True, ""
        return False, "no signature under the expected key(s)"

    def look(repo_tag):
        repo, tag = repo_tag
        st, h, body = request(reg, "GET", "/v2/%s/manifests/%s" % (repo, tag),
                              headers={"Accept": OCI_MANIFEST})
        if st != 200:
            return None
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        ok, why = signed((repo, digest))
        return repo, tag, digest, ok, why, time.time()

    # a violation is open from the first look that finds the tag unsigned
    # to the next look that finds it signed again: its window
    opened = {}

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        while True:
            last = os.path.exists(stopfile)
            todo = []
            for repo in repos.split(","):
                st, _, body = request(reg, "GET", "/v2/%s/tags/list" % repo)
                if st != 200:
                    continue
                for tag in json.loads(body).get("tags") or []:
                    if not tag.startswith("sha256-"):
                        todo.append((repo, tag))
            for v in ex.map(look, todo):
                if v is None or v[3] is None:
                    continue
                repo, tag, digest, ok, why, at = v
                if ok is False and (repo, tag) not in opened:
                    opened[(repo, tag)] = {"repo": repo, "tag": tag, "digest": digest,
                                           "why": why, "at": round(at, 3), "window": None}
                elif ok and (repo, tag) in opened:
                    o = opened.pop((repo, tag))
                    o["window"] = round(at - o["at"], 3)
                    report["violations"].append(o)
            report["rounds"] += 1
            report["observations"] += len(todo)
            if last:
                break
    report["violations"].extend(opened.values())
    with open(out, "w") as f:
        json.dump(report, f)


def load(front, pulls, push_image, stopfile, out):
    targets = [ln.split() for ln in open(pulls) if ln.strip()]
    repo, digest, path = read_images(push_image)[0]
    with open(path, "rb") as f:
        man = f.read()
    blob = json.loads(man)["layers"][0]["digest"]
    report = {"requests": 0, "failed": 0, "failures": [], "pulls": 0, "pushes": 0}
    lock = threading.Lock()

    class Client:
        """One kept-alive connection, as docker and skopeo keep theirs;
        after an error, a new one (the failure counted, never retried)."""
        def __init__(self):
            self.conn = None

        def __call__(self, method, path, body=None, headers=None):
            host, port = front.rsplit(":", 1)
            if self.conn is None:
                self.conn = http.client.HTTPConnection(host, int(port), timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                if r.will_close:
                    self.conn.close()
                    self.conn = None
                return r.status, r.headers, data
            except (OSError, http.client.HTTPException) as e:
                self.conn.close()
                self.conn = None
                return 0, {}, ("%s: %s" % (type(e).__name__, e)).encode()

    def count(what, st, body):
        with lock:
            report["requests"] += 1
            if st not in (200, 201):
                report["failed"] += 1
                if len(report["failures"]) < 20:
                    report["failures"].append("%s: %d %s" % (what, st, body[:160].decode("utf-8", "replace")))

    def puller(n):
        rng = random.Random(n)
        req = Client()
        while not os.path.exists(stopfile):
            r, tag = rng.choice(targets)
            st, _, body = req("GET", "/v2/%s/manifests/%s" % (r, tag),
                                  headers={"Accept": OCI_MANIFEST})
            count("GET %s:%s" % (r, tag), st, body)
            if st == 200:
                b = json.loads(body)["layers"][0]["digest"]
                st, _, body = req("GET", "/v2/%s/blobs/%s" % (r, b))
                count("GET blob", st, body)
                with lock:
                    report["pulls"] += 1

    def pusher(n):
        i = 0
        req = Client()
        while not os.path.exists(stopfile):
            i += 1
            st, _, body = req("PUT", "/v2/%s/manifests/load%d-%d" % (repo, n, i), man,
                                  {"Content-Type": OCI_MANIFEST})
            count("PUT %s:load%d-%d" % (repo, n, i), st, body)
            st, _, body = req("HEAD", "/v2/%s/blobs/%s" % (repo, blob))
            count("HEAD blob", st, body)
            with lock:
                report["pushes"] += 1

    threads = [threading.Thread(target=puller, args=(n,)) for n in range(2)]
    threads.append(threading.Thread(target=pusher, args=(0,)))
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report["seconds"] = round(time.monotonic() - t0, 1)
    with open(out, "w") as f:
        json.dump(report, f)


def final(reg, pushes, keymap, writers, rekor_pub):
    keys = dict(kv.split("=", 1) for kv in keymap.split(","))
    wkeys = dict(kv.split("=", 1) for kv in writers.split(",")) if writers else {}
    answered = {}       # (repo, digest) -> servers that answered 201
    for ln in open(pushes):
        repo, _, digest, st, _, server = ln.split()
        s = answered.setdefault((repo, digest), set())
        if st == "201":
            s.add(server)
    report = {"digests": 0, "signatures_checked": 0, "lost": [], "duplicated": [],
              "stray": [], "extra": 0}

    def count(repo, digest, pem, with_rekor):
        args = ["cosign_check.py", reg, repo, digest, pem]
        if with_rekor and rekor_pub:
            args += ["--rekor-pub", rekor_pub]
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            cosign_check.main(args)
        return json.loads(buf.getvalue())

    for (repo, digest), servers in sorted(answered.items()):
        report["digests"] += 1
        valid = 0
        layers = None
        want = [(s, pem, "*" in keys or s in servers) for s, pem in sorted(keys.items())]
        if digest in wkeys:
            want.append(("writer", wkeys[digest], True))
        for who, pem, must in want:
            r = count(repo, digest, pem, who != "writer")
            layers = r["layers"]
            valid += r["valid"]
            report["signatures_checked"] += r["valid"]
            if r["valid"] > 1:
                report["duplicated"].append("%s@%s: %d layers by %s" % (repo, digest, r["valid"], who))
            if must and r["valid"] == 0:
                report["lost"].append("%s@%s: none by %s (%s)" % (repo, digest, who, "; ".join(r["errors"])))
            if not must and r["valid"] == 1:
                report["extra"] += 1      # a replica killed after writing it
        if layers != valid:
            report["stray"].append("%s@%s: %s layers, %d valid" % (repo, digest, layers, valid))
    print(json.dumps(report))
    return 1 if report["lost"] or report["duplicated"] or report["stray"] else 0


def main(argv):
    cmd = argv[1]
    if cmd == "seed":
        seed(argv[2], argv[3], int(argv[4]), argv[5], argv[6])
    elif cmd == "push":
        push(*argv[2:7])
    elif cmd == "poll":
        poll(*argv[2:7])
    elif cmd == "load":
        load(*argv[2:7])
    elif cmd == "final":
        rekor = argv[7] if len(argv) > 7 and argv[6] == "--rekor-pub" else None
        return final(argv[2], argv[3], argv[4], argv[5], rekor)
    else:
        print("unknown command " + cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
