#!/usr/bin/env python3
"""tests/integ/hostile.py: hostile traffic for t_hostile.sh, with /healthz
timed throughout and signet's peak RSS read from /proc.

  hostile.py plant REGISTRY REPO N USER:PASS
      push N distinct small manifests (one config blob, no layers) to
      REPO and, for each, a signature list padded to about 3.9 MiB with
      empty objects in an extra field (distribution ignores it); prints the
      digests, one a line.
  hostile.py pulls PROXY REPO DIGESTS_FILE USER:PASS PID
      GET every digest through PROXY at once (one thread each) while
      /healthz is asked every 20 ms; prints a JSON summary.
  hostile.py puts PROXY REPO N PID
      N clients PUT a 4 MiB manifest without credentials at once, each
      sending its body as fast as signet takes it; /healthz is timed the
      same way.
"""
import base64
import hashlib
import http.client
import json
import socket
import sys
import threading
import time

OCI = "application/vnd.oci.image.manifest.v1+json"


def req(host, method, path, body=None, headers=None, creds=None):
    h, p = host.split(":")
    c = http.client.HTTPConnection(h, int(p), timeout=120)
    hdrs = dict(headers or {})
    if creds:
        hdrs["Authorization"] = "Basic " + base64.b64encode(creds.encode()).decode()
    c.request(method, path, body=body, headers=hdrs)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), data


def put_blob(reg, repo, data, creds):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    st, h, _ = req(reg, "POST", "/v2/%s/blobs/uploads/" % repo, b"", creds=creds)
    loc = h.get("Location") or h.get("location")
    if loc.startswith("http"):
        loc = loc.split("/", 3)[3]
        loc = "/" + loc
    sep = "&" if "?" in loc else "?"
    st, _, _ = req(reg, "PUT", "%s%sdigest=%s" % (loc, sep, d), data,
                   {"Content-Type": "application/octet-stream"}, creds)
    assert st == 201, st
    return d, len(data)


def plant(reg, repo, n, creds):
    cfg, cfglen = put_blob(reg, repo, b'{"architecture":"amd64","os":"linux"}', creds)
    pad = ",".join(["{}"] * 1300000)
    out = []
    for i in range(n):
        m = json.dumps({"schemaVersion": 2, "mediaType": OCI,
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                   "digest": cfg, "size": cfglen},
                        "layers": [], "annotations": {"n": str(i)}}).encode()
        d = "sha256:" + hashlib.sha256(m).hexdigest()
        st, _, body = req(reg, "PUT", "/v2/%s/manifests/%s" % (repo, d), m,
                          {"Content-Type": OCI}, creds)
        assert st == 201, (st, body)
        lst = ('{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":'
               '"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},'
               '"layers":[],"padding":[%s]}' % (OCI, cfg, cfglen, pad)).encode()
        st, _, body = req(reg, "PUT", "/v2/%s/manifests/sha256-%s.sig" % (repo, d[7:]),
                          lst, {"Content-Type": OCI}, creds)
        assert st == 201, (st, body[:200])
        out.append(d)
    print("\n".join(out))


def plant_layers(reg, repo, creds):
    """One manifest whose list has 999 layers whose payloads are absent."""
    cfg, cfglen = put_blob(reg, repo, b'{"architecture":"amd64","os":"linux","x":1}', creds)
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": cfg, "size": cfglen},
                    "layers": [], "annotations": {"n": "layers"}}).encode()
    d = "sha256:" + hashlib.sha256(m).hexdigest()
    st, _, body = req(reg, "PUT", "/v2/%s/manifests/%s" % (repo, d), m,
                      {"Content-Type": OCI}, creds)
    assert st == 201, (st, body)
    # one payload blob (distribution wants every layer's blob), named by
    # every layer, each with a signature that verifies under nobody
    pd, plen = put_blob(reg, repo, b'{"critical":{}}', creds)
    layers = [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
               "digest": pd, "size": plen,
               "annotations": {"dev.cosignproject.cosign/signature":
                               base64.b64encode(b"sig%d" % i).decode()}}
              for i in range(999)]
    lst = json.dumps({"schemaVersion": 2, "mediaType": OCI,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": cfg, "size": cfglen},
                      "layers": layers}).encode()
    st, _, body = req(reg, "PUT", "/v2/%s/manifests/sha256-%s.sig" % (repo, d[7:]),
                      lst, {"Content-Type": OCI}, creds)
    assert st == 201, (st, body[:300])
    print(d)


def rss_kib(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def _health_loop(proxy, stop, out):
    times, failures = [], 0
    while not stop.is_set():
        t = time.monotonic()
        try:
            st, _, _ = req(proxy, "GET", "/healthz")
            if st != 200:
                failures += 1
        except OSError:
            failures += 1
        times.append((time.monotonic() - t) * 1000)
        time.sleep(0.02)
    out.put((times, failures))


class Health:
    """/healthz every 20 ms from a process of its own (no lock shared with
    the hostile threads), until stopped; every latency in ms."""

    def __init__(self, proxy):
        import multiprocessing
        self.stop_ev = multiprocessing.Event()
        self.out = multiprocessing.Queue()
        self.p = multiprocessing.Process(target=_health_loop,
                                         args=(proxy, self.stop_ev, self.out))
        self.times, self.failures = [], 0

    def start(self):
        self.p.start()

    def join(self):
        self.stop_ev.set()
        self.times, self.failures = self.out.get()
        self.p.join()


def summary(health, pid, results):
    t = sorted(health.times)
    p99 = t[min(len(t) - 1, int(len(t) * 0.99))] if t else -1
    return json.dumps({"healthz_samples": len(t), "healthz_p99_ms": round(p99, 1),
                       "healthz_max_ms": round(t[-1], 1) if t else -1,
                       "healthz_failures": health.failures,
                       "peak_rss_kib": rss_kib(pid), "results": results})


def pulls(proxy, repo, digests_file, creds, pid):
    digests = [d.strip() for d in open(digests_file) if d.strip()]
    results = {}
    lock = threading.Lock()
    health = Health(proxy)
    health.start()
    time.sleep(0.1)

    def one(d):
        try:
            st, _, _ = req(proxy, "GET", "/v2/%s/manifests/%s" % (repo, d),
                           headers={"Accept": OCI}, creds=creds)
        except OSError as e:
            st = "error"
        with lock:
            results[str(st)] = results.get(str(st), 0) + 1

    ts = [threading.Thread(target=one, args=(d,)) for d in digests]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    time.sleep(0.2)
    health.join()
    print(summary(health, pid, results))


def puts(proxy, repo, n, pid):
    size = 4 * 1024 * 1024 - 100
    body = b'{"schemaVersion":2,"padding":"' + b"a" * (size - 40) + b'"}'
    results = {}
    lock = threading.Lock()
    health = Health(proxy)
    health.start()
    time.sleep(0.1)

    def one(i):
        h, p = proxy.split(":")
        s = socket.create_connection((h, int(p)), timeout=60)
        head = ("PUT /v2/%s/manifests/evil%d HTTP/1.1\r\nHost: %s\r\n"
                "Content-Type: %s\r\nContent-Length: %d\r\n\r\n" %
                (repo, i, proxy, OCI, len(body))).encode()
        status = "none"
        try:
            s.sendall(head)
            sent = 0
            s.settimeout(0.2)
            while sent < len(body):
                try:
                    sent += s.send(body[sent:sent + 65536])
                except socket.timeout:
                    break		# signet stopped reading: fine
                except OSError:
                    break
            s.settimeout(30)
            data = s.recv(4096)
            status = data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "none"
        except OSError:
            status = "closed"
        finally:
            s.close()
        with lock:
            results[status] = results.get(status, 0) + 1

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    time.sleep(0.2)
    health.join()
    print(summary(health, pid, results))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "plant":
        plant(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif cmd == "plant-layers":
        plant_layers(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "pulls":
        pulls(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6])
    elif cmd == "puts":
        puts(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit("unknown command " + cmd)
