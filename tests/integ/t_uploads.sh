#!/bin/bash
# Blob uploads through signet: monolithic, chunked PATCH (HTTP chunked
# bodies), Expect: 100-continue, status, cancel, cross-repository mount;
# Location headers point at the proxy; request bodies stream (the registry
# holds the first part before the client sends the second).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3

start_registry up
start_signet "http://$REG_up"
P="http://$PROXY"

head -c 3000000 /dev/urandom >"$T/blob"
dig=sha256:$(sha256_of "$T/blob")

location() { sed -n 's/^Location: *//Ip' | tr -d '\r'; }
absolute() { case $1 in /*) echo "$P$1" ;; *) echo "$1" ;; esac; }

# monolithic: POST, then PUT with the body and the digest
h=$(curl -s -D - -o /dev/null -X POST "$P/v2/up/mono/blobs/uploads/")
expect_match "POST upload: 202" "$h" '^HTTP/1.1 202'
expect_match "POST keeps Docker-Upload-UUID" "$h" 'Docker-Upload-Uuid: [0-9a-f-]+'
loc=$(printf '%s' "$h" | location)
expect_match "upload Location points at the proxy" "$loc" "^(http://$PROXY)?/v2/up/mono/blobs/uploads/"
loc=$(absolute "$loc")
h=$(curl -s -D - -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
    --data-binary @"$T/blob" "$loc&digest=$dig")
expect_match "monolithic PUT: 201" "$h" '^HTTP/1.1 201'
expect_match "PUT keeps Docker-Content-Digest" "$h" "Docker-Content-Digest: $dig"
expect_match "blob Location points at the proxy" "$(printf '%s' "$h" | location)" \
    "^(http://$PROXY)?/v2/up/mono/blobs/$dig"
curl -s -o "$T/back" "http://$REG_up/v2/up/mono/blobs/$dig"
check "registry holds the exact bytes" cmp -s "$T/blob" "$T/back"

# chunked: PATCH twice with Transfer-Encoding: chunked, GET status, PUT
loc=$(absolute "$(curl -s -D - -o /dev/null -X POST "$P/v2/up/chunk/blobs/uploads/" | location)")
head -c 1000000 "$T/blob" >"$T/part1"
tail -c +1000001 "$T/blob" >"$T/part2"
h=$(curl -s -D - -o /dev/null -X PATCH -H 'Transfer-Encoding: chunked' \
    -H 'Content-Type: application/octet-stream' --data-binary @"$T/part1" "$loc")
expect_match "chunked PATCH 1: 202" "$h" '^HTTP/1.1 202'
expect_match "PATCH keeps Range" "$h" 'Range: 0-999999'
loc=$(absolute "$(printf '%s' "$h" | location)")
h=$(curl -s -D - -o /dev/null "$loc")
expect_match "upload status GET: 204 with Range" "$h" 'Range: 0-999999'
h=$(curl -s -D - -o /dev/null -X PATCH -H 'Transfer-Encoding: chunked' \
    -H 'Expect: 100-continue' -H 'Content-Type: application/octet-stream' \
    --data-binary @"$T/part2" "$loc")
expect_match "chunked PATCH 2 with Expect: 100-continue: 202" "$h" 'HTTP/1.1 202'
expect_match "100 Continue sent to the client" "$h" '^HTTP/1.1 100 Continue'
loc=$(absolute "$(printf '%s' "$h" | sed -n '/^HTTP\/1.1 202/,$p' | location)")
expect_eq "final PUT (empty body): 201" "$(http_status PUT "$loc&digest=$dig")" 201
curl -s -o "$T/back2" "http://$REG_up/v2/up/chunk/blobs/$dig"
check "chunked upload stored the exact bytes" cmp -s "$T/blob" "$T/back2"

# blob HEAD and DELETE through signet
expect_eq "blob HEAD: 200" "$(http_status HEAD "$P/v2/up/chunk/blobs/$dig")" 200
expect_eq "blob DELETE: 202" "$(http_status DELETE "$P/v2/up/chunk/blobs/$dig")" 202
expect_eq "deleted blob: 404" "$(http_status HEAD "http://$REG_up/v2/up/chunk/blobs/$dig")" 404

# cancel an upload
loc=$(absolute "$(curl -s -D - -o /dev/null -X POST "$P/v2/up/cancel/blobs/uploads/" | location)")
expect_eq "DELETE cancels the upload: 204" "$(http_status DELETE "$loc")" 204
expect_eq "cancelled upload is gone: 404" "$(http_status GET "$loc")" 404

# cross-repository mount
h=$(curl -s -D - -o /dev/null -X POST "$P/v2/up/mounted/blobs/uploads/?mount=$dig&from=up/mono")
expect_match "mount: 201" "$h" '^HTTP/1.1 201'
expect_match "mount Location points at the proxy" "$(printf '%s' "$h" | location)" \
    "^(http://$PROXY)?/v2/up/mounted/blobs/$dig"
expect_eq "mounted blob readable direct" "$(http_status HEAD "http://$REG_up/v2/up/mounted/blobs/$dig")" 200

# a wrong digest is the registry's verdict, passed through
loc=$(absolute "$(curl -s -D - -o /dev/null -X POST "$P/v2/up/bad/blobs/uploads/" | location)")
b=$(curl -s -w ' %{http_code}' -X PUT --data-binary @"$T/part1" "$loc&digest=$dig" | tr -d '\n')
expect_match "digest mismatch: 400 DIGEST_INVALID" "$b" 'DIGEST_INVALID.* 400$'

# streaming: the registry has part 1 on disk before part 2 is sent
loc=$(absolute "$(curl -s -D - -o /dev/null -X POST "$P/v2/up/stream/blobs/uploads/" | location)")
uuid=$(basename "${loc%%\?*}")
python3 - "$loc" "$T/up-data" "$uuid" >"$T/stream.out" 2>&1 <<'PY'
import os, socket, sys, time, urllib.parse
loc, root, uuid = sys.argv[1], sys.argv[2], sys.argv[3]
u = urllib.parse.urlsplit(loc)
s = socket.create_connection((u.hostname, u.port), timeout=10)
path = u.path + "?" + u.query
s.sendall(("PATCH %s HTTP/1.1\r\nHost: %s:%d\r\nTransfer-Encoding: chunked\r\n"
           "Content-Type: application/octet-stream\r\n\r\n" % (path, u.hostname, u.port)).encode())
part = os.urandom(512 * 1024)
s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
data = os.path.join(root, "docker/registry/v2/repositories/up/stream/_uploads", uuid, "data")
size = 0
for _ in range(100):
    if os.path.exists(data):
        size = os.path.getsize(data)
        if size >= len(part):
            break
    time.sleep(0.05)
# a proxy that buffered the body would have passed on nothing yet; the
# registry (Go) may hold a few bytes of a chunk in its own buffers
print("upstream held %s of part 1 before part 2" % ("most" if size >= len(part) // 2 else size))
s.sendall(b"%x\r\n" % len(part) + part + b"\r\n0\r\n\r\n")
resp = s.recv(65536).decode(errors="replace")
print(resp.split("\r\n")[0])
PY
out=$(cat "$T/stream.out")
expect_match "upstream holds part 1 before part 2 is sent" "$out" 'held most of part 1'
expect_match "streamed PATCH: 202" "$out" 'HTTP/1.1 202'

# a body read by signet's own reads (plain connections): a monolithic PUT
# whose body and a pipelined request arrive in one write, then a body that
# comes in three pieces with pauses, on the same connection; each answer in
# order, the blob whole (the registry checks the digest)
loc=$(curl -s -X POST -D - -o /dev/null "http://$PROXY/v2/up/pipe/blobs/uploads/" |
    tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
loc2=$(curl -s -X POST -D - -o /dev/null "http://$PROXY/v2/up/pipe/blobs/uploads/" |
    tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
python3 - "$loc" "$loc2" >"$T/pipe.out" 2>&1 <<'PY'
import hashlib, os, socket, sys, time, urllib.parse
answers = []
u = urllib.parse.urlsplit(sys.argv[1])
u2 = urllib.parse.urlsplit(sys.argv[2])
s = socket.create_connection((u.hostname, u.port), timeout=20)
f = s.makefile("rb")
def put(url, body):
    d = "sha256:" + hashlib.sha256(body).hexdigest()
    return ("PUT %s?%s&digest=%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
            "Content-Type: application/octet-stream\r\n\r\n" % (url.path, url.query, d, len(body))).encode()
def answer():
    line = f.readline().decode()
    n = 0
    while True:
        h = f.readline().decode()
        if h in ("\r\n", ""):
            break
        if h.lower().startswith("content-length:"):
            n = int(h.split(":")[1])
    f.read(n)
    return line.split(" ")[1]
body = os.urandom(3 * 1024 * 1024 + 17)
s.sendall(put(u, body) + body + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
answers += [answer(), answer()]
body2 = os.urandom(1024 * 1024 + 5)
s.sendall(put(u2, body2) + body2[:1000])
time.sleep(0.3)
s.sendall(body2[1000:700000])
time.sleep(0.3)
s.sendall(body2[700000:])
answers.append(answer())
print(" ".join(answers))
PY
expect_eq "a PUT with a pipelined GET in one write, then a body in pieces: 201 200 201" \
    "$(cat "$T/pipe.out")" "201 200 201"

stop_signet
finish
