#!/usr/bin/env python3
"""Test helpers for signet's integration tests (standard library only).

  helpers.py free-port
  helpers.py mkimage DIR [--layers N] [--size BYTES] [--arch A,B,...] [--seed S]
      Write an OCI image layout with random (incompressible) layers.  With
      several architectures the layout's index holds one OCI index naming a
      manifest per platform.
  helpers.py digest FILE            sha256 of a file, as "sha256:<hex>"
  helpers.py raw HOST PORT FILE     send FILE's bytes, print the raw response
  helpers.py referrer REGISTRY REPO SUBJECT TEXT [--index]
      An SBOM-like OCI 1.1 referrer of SUBJECT and its sha256-<hex> index.
  helpers.py bundle-referrer REGISTRY REPO MANIFEST BUNDLE [--no-index]
      A cosign v3 signature as cosign pushes it: the bundle blob, the
      referrer manifest by digest, its entry in the sha256-<hex> index.
  helpers.py rss PID                peak resident memory (VmHWM) in KiB
  helpers.py quirk-front PORT UPSTREAM QUIRK
      A reverse proxy in front of a real registry that adds one registry
      quirk (see the shared REGISTRIES.md): no-oci-sig refuses an OCI
      manifest PUT to a sha256-<hex>.sig tag with 400 MANIFEST_INVALID, as
      registries that take only Docker schema 2 do (quirk M1); sig-500
      answers 500 to every request for a sha256-<hex>.sig tag, 500-once
      to the first GET of each .sig or sha256-<hex> tag; 429,
      429-ghcr, 429-acr refuse the first try of each request for a .sig tag
      or a blob with a 429 (Retry-After: 1; a retry hint in the message; a
      non-JSON body), 429-always every one; forbidden-absent answers 403
      where the registry says 404; gitlab-allowlist refuses a manifest
      with a cosign layer (400 MANIFEST_INVALID); lag answers reads of a
      manifest reference as before its PUT for 1.5 s after it;
      blob-redirect answers blob GETs with a 307 to a store on another
      port that refuses requests carrying an Authorization; ct-lie labels
      OCI manifests as Docker on GET; immutable (ECR) and immutable-harbor
      refuse a PUT to a tag that exists (400 TAG_INVALID, 412); no-digest
      leaves Docker-Content-Digest off manifest GETs; nexus-redeploy
      (Nexus "Disable redeploy") refuses a manifest PUT to a reference
      that exists or of a manifest held under any name (400
      BLOB_UPLOAD_INVALID); region-lag answers 404 to reads by digest
      of a manifest or blob for 2 s after it was written (reads by tag
      are served); upload policies: patch-min-5m (ECR) refuses more
      data after a PATCH under 5 MiB, patch-max-4m (GHCR) a PATCH over 4
      MiB (416), acr-upload a blob PUT over 20 MB (413) and a PATCH
      without Content-Length (400 CONTENT_LENGTH_INVALID); request bodies
      may be chunked; ecr-basic (ECR's auth) answers 401 with a Basic
      challenge to anything but Basic AWS:<a password issued>, the lines
      "PASSWORD EPOCH" of $ECR_PW_FILE, each refused $ECR_TTL seconds
      after its EPOCH; gitlab-digest-tag answers a GET or HEAD of tag
      sha256-<hex>, where no such tag exists, with the manifest
      sha256:<hex> (GitLab, T7); referrer-index-405 refuses a manifest
      PUT whose subject is an index with 405 (ECR, X5).
      Several quirks are
      given with commas (a registry's profile: t_registries.sh).  GET /_counts: what the
      front counted, as JSON.
  helpers.py fault-upstream PORT MODE
      A deliberately broken upstream for fault tests, on 127.0.0.1:PORT:
      hang (accept, never answer), drop-body (promise 1000000 bytes, send
      100000, close), drop-chunked (the same with a chunked body),
      stall-body (promise 1000000, send 100000, then nothing),
      close-delimited (100000 bytes framed by the close alone),
      nul-header (a NUL byte inside a header value),
      stale-keepalive (answer the first request of each connection with
      300000 bytes and keep it open, close it at the second unanswered;
      GET /_conns: the connections accepted so far),
      overlong (answer every request with 300000 bytes of "z", followed on
      the same connection by a whole second answer nobody asked for,
      "EVIL!", and keep it open).
"""
import gzip
import hashlib
import io
import json
import os
import random
import socket
import sys
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ACCEPT_ALL = ", ".join([OCI_MANIFEST, OCI_INDEX,
                        "application/vnd.docker.distribution.manifest.v2+json",
                        "application/vnd.docker.distribution.manifest.list.v2+json"])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def put_blob(layout, data):
    d = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256", d)
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + d, "size": len(data)}


def make_layer(rng, size, name):
    payload = rng.randbytes(size)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(payload))
    tar_bytes = raw.getvalue()
    gz = gzip.compress(tar_bytes, compresslevel=1, mtime=0)
    return gz, "sha256:" + hashlib.sha256(tar_bytes).hexdigest()


def mkimage(layout, layers, size, arches, seed):
    rng = random.Random(seed)
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    manifests = []
    for arch in arches:
        descs, diff_ids = [], []
        for i in range(layers):
            gz, diff_id = make_layer(rng, size, "%s-layer-%d.bin" % (arch, i))
            d = put_blob(layout, gz)
            d["mediaType"] = OCI_LAYER
            descs.append(d)
            diff_ids.append(diff_id)
        config = json.dumps({
            "architecture": arch, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {"Cmd": ["/bin/true"]},
        }, separators=(",", ":")).encode()
        cd = put_blob(layout, config)
        cd["mediaType"] = OCI_CONFIG
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": cd, "layers": descs,
        }, separators=(",", ":")).encode()
        md = put_blob(layout, manifest)
        md["mediaType"] = OCI_MANIFEST
        md["platform"] = {"architecture": arch, "os": "linux"}
        manifests.append(md)
    if len(manifests) == 1:
        top = dict(manifests[0])
        del top["platform"]
    else:
        index = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": manifests,
        }, separators=(",", ":")).encode()
        top = put_blob(layout, index)
        top["mediaType"] = OCI_INDEX
    top["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [top]}, f)
    print(top["digest"])


def raw(host, port, path):
    with open(path, "rb") as f:
        data = f.read()
    # No half-close: like nginx, signet treats a client's EOF while a
    # request is in flight as the client going away.
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    sys.stdout.buffer.write(out)


def fault_upstream(port, mode):
    import threading
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    held = []

    conns = [0]

    def stale(c):
        # answer the first request of a connection whole and keep it
        # open; close it at the second one, unanswered
        conns[0] += 1
        buf = b""
        served = 0
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            buf += chunk
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                if served:
                    c.close()
                    return
                served += 1
                if head.startswith(b"GET /_conns "):
                    body = str(conns[0]).encode()
                else:
                    body = b"z" * 300000
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                          b"Content-Type: application/octet-stream\r\n\r\n"
                          % len(body) + body)
        c.close()

    def overlong(c):
        buf = b""
        while True:
            try:
                chunk = c.recv(65536)
            except OSError:	# reset: closed with the extra answer unread
                break
            if not chunk:
                break
            buf += chunk
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n"
                          b"Content-Type: application/octet-stream\r\n\r\n"
                          + b"z" * 300000 +
                          b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!")
        c.close()

    def serve(c):
        if mode == "stale-keepalive":
            stale(c)
            return
        if mode == "overlong":
            overlong(c)
            return
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = c.recv(65536)
            if not chunk:
                return
            buf += chunk
        if mode == "hang":
            held.append(c)
            return
        if buf.startswith(b"GET /v2/ "):
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            c.close()
            return
        if mode == "drop-body":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n"
                      b"Content-Type: application/octet-stream\r\n\r\n")
            c.sendall(b"x" * 100000)
        elif mode == "stall-body":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n"
                      b"Content-Type: application/octet-stream\r\n\r\n")
            c.sendall(b"x" * 100000)
            held.append(c)
            return
        elif mode == "nul-header":
            c.sendall(b"HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 5\r\n"
                      b"\r\nhello")
        elif mode == "close-delimited":
            c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n"
                      b"Content-Type: application/octet-stream\r\n\r\n")
            c.sendall(b"x" * 100000)
        elif mode == "drop-chunked":
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                      b"Content-Type: application/octet-stream\r\n\r\n")
            c.sendall(b"186a0\r\n" + b"x" * 100000 + b"\r\n")
        c.close()

    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def quirk_front(port, upstream, quirk):
    import http.client
    import http.server
    import re
    swallowed = []
    quirks = set(quirk.split(","))  # several at once: a registry's profile
    rl = next((q for q in sorted(quirks) if q.startswith("429")), None)
    counts = {}
    tries = {}
    lagged = {}
    written = {}
    parts_seen = {}
    ecr_used = set()

    class Front(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, msg=b"", headers=None):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(msg)

        def read_chunked(self):
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()

        def upload_quirk(self, body, chunked):
            """Upload policies (REGISTRIES.md U3, U5, U6, U7): the refusal
            sent, or None."""
            m = re.search(r"/blobs/uploads/([^/?]+)", self.path)
            if not m or self.command not in ("PATCH", "PUT"):
                return None
            n = len(body or b"")
            js = {"Content-Type": "application/json"}
            if "acr-upload" in quirks and self.command == "PATCH" and chunked:
                return (400, b'{"errors":[{"code":"CONTENT_LENGTH_INVALID","message":'
                        b'"content length invalid"}]}', js)
            if "acr-upload" in quirks and self.command == "PUT" and n > 20000000:
                return (413, b"<html><head><title>413 Request Entity Too Large</title></head>"
                        b"<body>Request Entity Too Large - AzureContainerRegistry</body></html>",
                        {"Content-Type": "text/html"})
            if "patch-max-4m" in quirks and self.command == "PATCH" and n > 4 << 20:
                return (416, b'{"errors":[{"code":"REQUESTED_RANGE_NOT_SATISFIABLE","message":'
                        b'"the request body is too large and exceeds the maximum permissible '
                        b'limit of 4.00MiB"}]}', js)
            if "patch-min-5m" in quirks and (self.command == "PATCH" or n > 0):
                # a part under 5 MiB was not the last (S3 multipart)
                prev = parts_seen.get(m.group(1))
                if prev is not None and prev < 5 << 20:
                    return (400, b'{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":'
                            b'"EntityTooSmall: Your proposed upload is smaller than the '
                            b'minimum allowed size"}]}', js)
                if self.command == "PATCH":
                    parts_seen[m.group(1)] = n
            return None

        def ecr_refused(self):
            """ECR's Basic-only auth (REGISTRIES.md A1): the passwords
            issued are the lines "PASSWORD EPOCH" of $ECR_PW_FILE, each
            good for $ECR_TTL seconds from EPOCH; True when refused (401)."""
            import base64
            import time
            if self.path == "/_counts":
                return False
            born = {}
            with open(os.environ["ECR_PW_FILE"]) as fp:
                for line in fp:
                    if line.strip():
                        pw, t = line.split()
                        born.setdefault(pw, float(t))
            got = self.headers.get("Authorization") or ""
            try:
                user, _, pw = base64.b64decode(got[6:]).decode().partition(":")
            except ValueError:
                user = pw = ""
            # every password issued stays good for its TTL, as ECR's do
            if got.startswith("Basic ") and user == "AWS" and pw in born and \
                    time.time() < born[pw] + float(os.environ.get("ECR_TTL", "43200")):
                counts["ecr_ok"] = counts.get("ecr_ok", 0) + 1
                ecr_used.add(pw)
                counts["ecr_passwords_used"] = len(ecr_used)
                return False
            if got.startswith("Basic "):
                counts["ecr_refused"] = counts.get("ecr_refused", 0) + 1
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            elif "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                self.read_chunked()
            self.reply(401, b"Not Authorized", {
                "Content-Type": "text/plain; charset=utf-8",
                "Www-Authenticate": 'Basic realm="https://127.0.0.1:%d/",service="ecr.amazonaws.com"'
                % port})
            return True

        def forward(self):
            if "ecr-basic" in quirks and self.ecr_refused():
                return
            chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
            if chunked:
                body = self.read_chunked()
            else:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
            if self.command in ("PATCH", "PUT") and "/blobs/uploads/" in self.path:
                k = "chunked_patches" if chunked else "sized_uploads"
                counts[k] = counts.get(k, 0) + 1
            refusal = self.upload_quirk(body, chunked)
            if refusal:
                counts["upload_refused"] = counts.get("upload_refused", 0) + 1
                self.reply(*refusal)
                return
            if self.command in ("PATCH", "PUT") and "/blobs/uploads/" in self.path:
                counts["largest_part"] = max(counts.get("largest_part", 0), len(body or b""))
            ct = self.headers.get("Content-Type", "")
            if ("no-oci-sig" in quirks and self.command == "PUT"
                    and re.search(r"/manifests/sha256-[0-9a-f]{64}\.sig$", self.path)
                    and ct.startswith("application/vnd.oci.image.manifest.v1+json")):
                self.reply(400, b'{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid",'
                           b'"detail":{"description":null}}]}', {"Content-Type": "application/json"})
                return
            if ("swallow-sig-put" in quirks and self.command == "PUT"
                    and re.search(r"/manifests/sha256-[0-9a-f]{64}\.sig$", self.path)
                    and not swallowed):
                # a write that is lost, as when another writer replaces it
                swallowed.append(self.path)
                self.reply(201)
                return
            m = re.match(r"^/v2/(.+)/referrers/(sha256:[0-9a-f]{64})(\?page=(\d+))?$", self.path)
            if quirks & {"referrers-pages", "referrers-pages-away"} and self.command == "GET" and m:
                # the referrers API in pages of one descriptor, each with a
                # Link to the next (REGISTRIES.md P2), answered from the
                # upstream's sha256-<hex> index; "-away" names a page of
                # another repository
                c0 = http.client.HTTPConnection(*upstream.split(":"), timeout=30)
                c0.request("GET", "/v2/%s/manifests/sha256-%s" % (m.group(1), m.group(2)[7:]),
                           headers={"Accept": "application/vnd.oci.image.index.v1+json"})
                r0 = c0.getresponse()
                idx = json.loads(r0.read()) if r0.status == 200 else {"manifests": []}
                c0.close()
                page = int(m.group(4) or 0)
                descs = idx.get("manifests", [])
                counts["pages"] = counts.get("pages", 0) + 1
                hdrs = {"Content-Type": "application/vnd.oci.image.index.v1+json"}
                if page + 1 < len(descs):
                    repo = m.group(1) if "referrers-pages" in quirks else "elsewhere/app"
                    hdrs["Link"] = '</v2/%s/referrers/%s?page=%d>; rel="next"' % (
                        repo, m.group(2), page + 1)
                self.reply(200, json.dumps({"schemaVersion": 2,
                                            "mediaType": "application/vnd.oci.image.index.v1+json",
                                            "manifests": descs[page:page + 1]}).encode(), hdrs)
                return
            if "slow" in quirks:
                import time
                time.sleep(0.25)
            if "sig-500" in quirks and re.search(r"/manifests/sha256-[0-9a-f]{64}\.sig$", self.path):
                self.reply(500)
                return
            if ("500-once" in quirks and self.command == "GET"
                    and re.search(r"/manifests/sha256-[0-9a-f]{64}(\.sig)?$", self.path)):
                # distribution's 500 for a tag whose link a concurrent
                # writer is replacing: once for each GET of a .sig or
                # referrers tag, then the answer
                key = ("500", self.path)
                tries[key] = tries.get(key, 0) + 1
                if tries[key] == 1:
                    counts["total500"] = counts.get("total500", 0) + 1
                    self.reply(500, b'{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}')
                    return
            sigish = (re.search(r"/manifests/sha256-[0-9a-f]{64}\.sig$", self.path)
                      or (self.command == "GET" and "/blobs/sha256:" in self.path))
            if rl is not None and sigish:
                # rate limits (REGISTRIES.md L2, L4, L5): the first try of
                # each request is refused, the next passes; "429-always"
                # refuses every one
                key = (self.command, self.path)
                tries[key] = tries.get(key, 0) + 1
                counts["total429"] = counts.get("total429", 0)
                if rl == "429-always" or tries[key] % 2 == 1:
                    counts["total429"] += 1
                    if rl == "429-acr":
                        msg, hdrs429 = b"Ref A: 4A3B Ref B: AMS231 Ref C: 2026-11-29", {}
                    elif rl == "429-ghcr":
                        msg = (b'{"errors":[{"code":"TOOMANYREQUESTS","message":'
                               b'"toomanyrequests: retry-after: 880.092\xc2\xb5s, allowed: 44000/minute"}]}')
                        hdrs429 = {}
                    else:
                        msg = (b'{"errors":[{"code":"TOOMANYREQUESTS","message":'
                               b'"You have reached your pull rate limit."}]}')
                        hdrs429 = {"Retry-After": "1", "RateLimit-Remaining": "0;w=21600"}
                    self.reply(429, msg, hdrs429)
                    return
            if "gitlab-allowlist" in quirks and self.command == "PUT" and body and \
                    b"application/vnd.dev.cosign.simplesigning.v1+json" in body:
                # a media-type allowlist without cosign's (REGISTRIES.md M3)
                counts["refused"] = counts.get("refused", 0) + 1
                self.reply(400, b'{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid",'
                           b'"detail":"unknown media type: application/vnd.dev.cosign.simplesigning.v1+json"}]}',
                           {"Content-Type": "application/json"})
                return
            if "blob-redirect" in quirks and self.command == "GET" and \
                    re.search(r"^/v2/.+/blobs/sha256:[0-9a-f]{64}$", self.path):
                # object storage (REGISTRIES.md R3): a presigned URL on
                # another host:port, which refuses a second credential
                counts["redirected"] = counts.get("redirected", 0) + 1
                self.reply(307, b"", {"Location": "http://127.0.0.1:%d/store%s?X-Amz-Signature=f00"
                                      % (store_port[0], self.path)})
                return
            if quirks & {"immutable", "immutable-harbor"} and self.command == "PUT" and \
                    re.search(r"/manifests/[^/:]+$", self.path):
                # immutable tags (REGISTRIES.md T1 ECR, T2 Harbor): a tag
                # that exists is never written again, not even the same
                c0 = http.client.HTTPConnection(*upstream.split(":"), timeout=30)
                c0.request("HEAD", self.path, headers={"Accept": ", ".join([
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json"])})
                exists = c0.getresponse().status == 200
                c0.close()
                if exists:
                    counts["immutable"] = counts.get("immutable", 0) + 1
                    tag = self.path.rsplit("/", 1)[1]
                    js = {"Content-Type": "application/json"}
                    if "immutable" in quirks:
                        msg = ("The image tag '" + tag + "' already exists in the repository "
                               "and cannot be overwritten because the repository is immutable.")
                        self.reply(400, json.dumps({"errors": [{"code": "TAG_INVALID",
                                                                "message": msg}]}).encode(), js)
                    else:
                        msg = "Failed to process request due to '" + tag + "' configured as immutable."
                        self.reply(412, json.dumps({"errors": [{"code": "PRECONDITION",
                                                                "message": msg}]}).encode(), js)
                    return
            if "nexus-redeploy" in quirks and self.command == "PUT" and \
                    re.search(r"/manifests/[^/]+$", self.path):
                # Nexus "Disable redeploy" (REGISTRIES.md T6): a manifest
                # PUT to a reference that exists, or of a manifest the
                # repository holds already under any name, is refused,
                # with a blob upload's error code
                name, ref = re.match(r"^/v2/(.+)/manifests/([^/]+)$", self.path).groups()
                digest = "sha256:" + hashlib.sha256(body or b"").hexdigest()
                held = False
                for r0 in sorted({ref, digest}):
                    c0 = http.client.HTTPConnection(*upstream.split(":"), timeout=30)
                    c0.request("HEAD", "/v2/%s/manifests/%s" % (name, r0),
                               headers={"Accept": ACCEPT_ALL})
                    held = held or c0.getresponse().status == 200
                    c0.close()
                if held:
                    counts["redeploy"] = counts.get("redeploy", 0) + 1
                    self.reply(400, json.dumps({"errors": [{
                        "code": "BLOB_UPLOAD_INVALID", "message": "blob upload invalid",
                        "detail": "Repository does not allow updating assets: " + name}]}).encode(),
                        {"Content-Type": "application/json"})
                    return
            m = re.search(r"^/v2/(.+)/manifests/sha256-([0-9a-f]{64})$", self.path)
            if "gitlab-digest-tag" in quirks and m and self.command in ("GET", "HEAD"):
                # GitLab (REGISTRIES.md T7): a digest-shaped tag with no
                # suffix names the manifest of that digest, so the
                # referrers tag schema's index reads as the subject itself
                # (a real index under that tag still wins, as there)
                c0 = http.client.HTTPConnection(*upstream.split(":"), timeout=30)
                c0.request("GET", self.path, headers={"Accept": ACCEPT_ALL})
                r0 = c0.getresponse()
                r0.read()
                c0.close()
                if r0.status == 404:
                    counts["digest_tag"] = counts.get("digest_tag", 0) + 1
                    self.path = "/v2/%s/manifests/sha256:%s" % m.groups()
            if "region-lag" in quirks:
                # replicas that lag (REGISTRIES.md R5, GAR multi-region):
                # for 2 s after a manifest or blob is written, reads of it
                # by digest go to a region that does not have it yet (404);
                # reads by tag are served where it was written
                import time
                m = re.search(r"/(manifests|blobs)/(sha256:[0-9a-f]{64})$", self.path.split("?")[0])
                if m and self.command in ("GET", "HEAD") and \
                        time.time() < written.get(m.group(2), 0):
                    counts["region_lagged"] = counts.get("region_lagged", 0) + 1
                    code = "MANIFEST_UNKNOWN" if m.group(1) == "manifests" else "BLOB_UNKNOWN"
                    self.reply(404, json.dumps({"errors": [{"code": code, "message":
                               code.lower().replace("_", " ")}]}).encode(),
                               {"Content-Type": "application/json"})
                    return
                d = None
                if self.command == "PUT" and "/manifests/" in self.path:
                    d = "sha256:" + hashlib.sha256(body or b"").hexdigest()
                elif self.command in ("PUT", "POST") and "/blobs/uploads/" in self.path:
                    d = (re.search(r"[?&]digest=(sha256(?::|%3A)[0-9a-f]{64})", self.path)
                         or [None, None])[1]
                if d:
                    written[d.replace("%3A", ":")] = time.time() + 2.0
            if "referrer-index-405" in quirks and self.command == "PUT" and \
                    "/manifests/" in self.path and body and b'"subject"' in body:
                # ECR (REGISTRIES.md X5, 2026): a referrer whose subject
                # is an index is refused
                try:
                    subj = json.loads(body).get("subject") or {}
                except ValueError:
                    subj = {}
                if subj.get("mediaType") in (OCI_INDEX,
                                             "application/vnd.docker.distribution.manifest.list.v2+json"):
                    counts["referrer_405"] = counts.get("referrer_405", 0) + 1
                    self.reply(405, b'{"errors":[{"code":"UNSUPPORTED","message":"Invalid JSON '
                               b'syntax"}]}', {"Content-Type": "application/json"})
                    return
            if self.path == "/_counts":
                self.reply(200, json.dumps(counts).encode())
                return
            host, uport = upstream.split(":")
            hdrs = {k: v for k, v in self.headers.items()
                    if k.lower() not in ("connection", "content-length", "transfer-encoding")}
            if "lag" in quirks and "/manifests/" in self.path:
                # eventual consistency (REGISTRIES.md R5): for 1.5 s after
                # a manifest PUT, reads of that reference answer as before
                import time
                if self.command in ("GET", "HEAD") and self.path in lagged \
                        and time.time() < lagged[self.path][0]:
                    counts["lagged"] = counts.get("lagged", 0) + 1
                    _, st0, h0, d0 = lagged[self.path]
                    self.reply(st0, d0, h0)
                    return
                if self.command == "PUT":
                    c0 = http.client.HTTPConnection(host, int(uport), timeout=30)
                    c0.request("GET", self.path, headers=hdrs)
                    r0 = c0.getresponse()
                    d0 = r0.read()
                    h0 = {k: v for k, v in r0.getheaders()
                          if k.lower() not in ("connection", "content-length", "transfer-encoding")}
                    c0.close()
                    lagged[self.path] = (time.time() + 1.5, r0.status, h0, d0)
            c = http.client.HTTPConnection(host, int(uport), timeout=30)
            c.request(self.command, self.path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            status = r.status
            if "ct-lie" in quirks and self.command == "GET" and "/manifests/" in self.path \
                    and b'"application/vnd.oci.image.manifest.v1+json"' in data:
                # old Nexus labels an OCI manifest as Docker (REGISTRIES.md M10)
                c.close()
                h = {k: v for k, v in r.getheaders()
                     if k.lower() not in ("connection", "content-length", "transfer-encoding",
                                          "content-type")}
                h["Content-Type"] = "application/vnd.docker.distribution.manifest.v2+json"
                self.reply(status, data, h)
                return
            if "forbidden-absent" in quirks and status == 404 and "/manifests/" in self.path:
                # Artifactory virtual repositories (REGISTRIES.md T8)
                c.close()
                self.reply(403, b'{"errors":[{"code":"UNAUTHORIZED","message":"The client does '
                           b'not have permission for manifest: forbidden for user anonymous"}]}',
                           {"Content-Type": "application/json"})
                return
            self.send_response(status)
            # ECR leaves Docker-Content-Digest off manifest GETs (R1)
            drop = ("docker-content-digest",) if ("no-digest" in quirks and self.command == "GET"
                                                   and "/manifests/" in self.path) else ()
            for k, v in r.getheaders():
                if k.lower() not in ("connection", "content-length", "transfer-encoding") + drop:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if ("stall-blob" in quirks and self.command == "GET" and r.status == 200
                    and "/blobs/sha256:" in self.path and len(data) > 1024):
                # half the blob, then nothing: a stalled registry
                import time
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                time.sleep(3600)
                return
            if self.command != "HEAD":
                self.wfile.write(data)
            c.close()

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward

    store_port = [0]
    if "blob-redirect" in quirks:
        import threading

        class Store(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.headers.get("Authorization"):
                    counts["store_auth_refused"] = counts.get("store_auth_refused", 0) + 1
                    msg = (b"<Error><Code>InvalidArgument</Code><Message>Only one auth "
                           b"mechanism allowed</Message></Error>")
                    self.send_response(400)
                else:
                    counts["store_served"] = counts.get("store_served", 0) + 1
                    host, uport = upstream.split(":")
                    c = http.client.HTTPConnection(host, int(uport), timeout=30)
                    c.request("GET", self.path.split("?")[0][len("/store"):])
                    r = c.getresponse()
                    msg = r.read()
                    c.close()
                    self.send_response(r.status)
                self.send_header("Content-Length", str(len(msg)))
                self.end_headers()
                self.wfile.write(msg)

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Store)
        store_port[0] = srv.server_address[1]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Front).serve_forever()


def _req(method, url, data=None, ctype=None, accept=None):
    import urllib.request
    r = urllib.request.Request(url, data=data, method=method)
    if ctype:
        r.add_header("Content-Type", ctype)
    if accept:
        r.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def _blob(registry, base, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    st, h, _ = _req("POST", base + "/blobs/uploads/", b"")
    loc = h["Location"]
    if loc.startswith("/"):
        loc = "http://" + registry + loc
    st, _, _ = _req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + d,
                    data, "application/octet-stream")
    assert st == 201, st
    return {"digest": d, "size": len(data)}


def _tag_append(base, subject, desc):
    """Append desc to the referrers tag schema's sha256-<hex> index, as
    go-containerregistry does for cosign: read, skip a duplicate, append,
    sort by digest, write (no conditional request)."""
    tag = base + "/manifests/sha256-" + subject[7:]
    st, _, body = _req("GET", tag, accept=OCI_INDEX)
    idx = json.loads(body) if st == 200 else {
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    if all(m["digest"] != desc["digest"] for m in idx["manifests"]):
        idx["manifests"].append(desc)
    idx["manifests"].sort(key=lambda m: m["digest"])
    st, _, _ = _req("PUT", tag, json.dumps(idx).encode(), OCI_INDEX)
    assert st == 201, st


def push_referrer(registry, repo, subject, text, as_index=False):
    """An OCI 1.1 artifact (an SBOM-like text layer, the empty config)
    whose subject is SUBJECT, pushed by digest, and the referrers tag
    schema's sha256-<hex> index for it (registry 2.8 has no referrers API),
    merged with one already there.  Prints the artifact's digest."""
    base = "http://%s/v2/%s" % (registry, repo)
    st, h, body = _req("GET", base + "/manifests/" + subject, accept=OCI_MANIFEST)
    assert st == 200, st
    cfg = _blob(registry, base, b"{}")
    cfg["mediaType"] = "application/vnd.oci.empty.v1+json"
    layer = _blob(registry, base, text.encode())
    layer["mediaType"] = "text/spdx"
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "artifactType": "application/spdx+json", "config": cfg,
         "layers": [layer],
         "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(body)}}
    mt = OCI_MANIFEST
    if as_index:        # an index that refers (signet skips those)
        mt = OCI_INDEX
        m = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [],
             "artifactType": "application/x-test", "subject": m["subject"]}
    mb = json.dumps(m, sort_keys=True).encode()
    md = "sha256:" + hashlib.sha256(mb).hexdigest()
    st, _, _ = _req("PUT", base + "/manifests/" + md, mb, mt)
    assert st == 201, st
    tag = base + "/manifests/sha256-" + subject[7:]
    st, _, body = _req("GET", tag, accept=OCI_INDEX)
    idx = json.loads(body) if st == 200 else {
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    idx["manifests"].append({"mediaType": mt, "digest": md, "size": len(mb),
                             "artifactType": "application/spdx+json"})
    st, _, _ = _req("PUT", tag, json.dumps(idx).encode(), OCI_INDEX)
    assert st == 201, st
    print(md)


def push_bundle(registry, repo, manifest, bundle, index=True):
    """A cosign v3 signature as cosign writes it: the empty config and the
    bundle blob, the referrer MANIFEST (a file, by sgjs.mjs referrer) by
    digest, and, with index, its entry in the sha256-<hex> index (with the
    artifactType, no annotations, as cosign 3.1 does).  Prints the
    referrer's digest."""
    base = "http://%s/v2/%s" % (registry, repo)
    with open(manifest, "rb") as f:
        mb = f.read()
    with open(bundle, "rb") as f:
        bb = f.read()
    m = json.loads(mb)
    _blob(registry, base, b"{}")
    _blob(registry, base, bb)
    md = "sha256:" + hashlib.sha256(mb).hexdigest()
    st, _, _ = _req("PUT", base + "/manifests/" + md, mb, OCI_MANIFEST)
    assert st == 201, st
    if index:
        _tag_append(base, m["subject"]["digest"], {
            "mediaType": OCI_MANIFEST, "digest": md, "size": len(mb),
            "artifactType": m.get("artifactType", m["config"]["mediaType"])})
    print(md)


def main(argv):
    cmd = argv[1]
    if cmd == "free-port":
        print(free_port())
    elif cmd == "mkimage":
        layout = argv[2]
        opts = {"--layers": "2", "--size": "4096", "--arch": "amd64",
                "--seed": "1"}
        rest = argv[3:]
        for i in range(0, len(rest), 2):
            opts[rest[i]] = rest[i + 1]
        mkimage(layout, int(opts["--layers"]), int(opts["--size"]),
                opts["--arch"].split(","), opts["--seed"])
    elif cmd == "digest":
        with open(argv[2], "rb") as f:
            print("sha256:" + hashlib.sha256(f.read()).hexdigest())
    elif cmd == "referrer":
        push_referrer(argv[2], argv[3], argv[4], argv[5],
                      len(argv) > 6 and argv[6] == "--index")
    elif cmd == "bundle-referrer":
        push_bundle(argv[2], argv[3], argv[4], argv[5],
                    not (len(argv) > 6 and argv[6] == "--no-index"))
    elif cmd == "raw":
        raw(argv[2], argv[3], argv[4])
    elif cmd == "quirk-front":
        quirk_front(int(argv[2]), argv[3], argv[4])
    elif cmd == "fault-upstream":
        fault_upstream(int(argv[2]), argv[3])
    elif cmd == "rss":
        with open("/proc/%s/status" % argv[2]) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    print(line.split()[1])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
