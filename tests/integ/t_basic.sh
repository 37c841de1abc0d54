#!/bin/bash
# The /v2/ endpoints pass through with the headers clients rely on; bad
# requests get the right status and an OCI error body.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo

start_registry up
start_signet "http://$REG_up"
P="http://$PROXY"

# base check and signet's own endpoints
h=$(curl -s -D - -o /dev/null "$P/v2/")
expect_match "GET /v2/ answers 200" "$h" '^HTTP/1.1 200'
expect_match "Docker-Distribution-API-Version is kept" "$h" \
    '[Dd]ocker-[Dd]istribution-[Aa][Pp][Ii]-[Vv]ersion: registry/2.0'
expect_eq "/healthz" "$(curl -s "$P/healthz")" "ok"
expect_eq "/readyz with the upstream up" "$(http_status GET "$P/readyz")" 200

# an image to read back
img=$T/img
top=$(mkimage "$img" --layers 2 --size 300000)
skopeo copy -q --dest-tls-verify=false "oci:$img" "docker://$PROXY/lib/basic:v1" \
    >"$T/skopeo.log" 2>&1
check "skopeo pushes through signet" test $? -eq 0
mf=${top#sha256:}
layer=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["layers"][0]["digest"])' \
    "$img/blobs/sha256/$mf")
ldig=${layer#sha256:}
acc='Accept: application/vnd.oci.image.manifest.v1+json'

# manifests: GET and HEAD by tag and by digest, headers kept
h=$(curl -s -D - -o "$T/m1" -H "$acc" "$P/v2/lib/basic/manifests/v1")
expect_match "manifest GET by tag: 200" "$h" '^HTTP/1.1 200'
expect_match "manifest GET keeps Docker-Content-Digest" "$h" "Docker-Content-Digest: sha256:$mf"
expect_match "manifest GET keeps Content-Type" "$h" \
    'Content-Type: application/vnd.oci.image.manifest.v1\+json'
expect_eq "manifest bytes are the pushed bytes" "$(sha256_of "$T/m1")" "$mf"
h=$(curl -s -I -H "$acc" "$P/v2/lib/basic/manifests/sha256:$mf")
expect_match "manifest HEAD by digest: 200" "$h" '^HTTP/1.1 200'
expect_match "HEAD keeps Content-Length" "$h" "Content-Length: $(stat -c %s "$T/m1")"
expect_eq "HEAD of a missing tag: 404" \
    "$(http_status HEAD "$P/v2/lib/basic/manifests/nope" -H "$acc")" 404
b=$(curl -s -H "$acc" "$P/v2/lib/basic/manifests/nope")
expect_match "upstream error body passes through" "$b" '"code":"MANIFEST_UNKNOWN"'

# blobs: GET, HEAD, Range
curl -s -o "$T/layer" "$P/v2/lib/basic/blobs/$layer"
expect_eq "blob GET bytes" "$(sha256_of "$T/layer")" "$ldig"
h=$(curl -s -I "$P/v2/lib/basic/blobs/$layer")
expect_match "blob HEAD: 200" "$h" '^HTTP/1.1 200'
expect_match "blob HEAD keeps Docker-Content-Digest" "$h" "Docker-Content-Digest: $layer"
h=$(curl -s -D - -o "$T/range" -H 'Range: bytes=10-109' "$P/v2/lib/basic/blobs/$layer")
expect_match "Range GET: 206" "$h" '^HTTP/1.1 206'
expect_match "Range GET keeps Content-Range" "$h" 'Content-Range: bytes 10-109/'
expect_eq "Range GET bytes" "$(sha256_of "$T/range")" \
    "$(tail -c +11 "$T/layer" | head -c 100 | sha256sum | cut -d' ' -f1)"

# tags list (distribution 2.8 ignores n= for tags: the query must still pass)
for t in v2 v3 v4; do
	skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
	    "docker://$PROXY/lib/basic:v1" "docker://$PROXY/lib/basic:$t" >>"$T/skopeo.log" 2>&1
done
expect_eq "tags list equals direct access" \
    "$(curl -s "$P/v2/lib/basic/tags/list?n=2")" \
    "$(curl -s "http://$REG_up/v2/lib/basic/tags/list?n=2")"
# _catalog pagination: the Link header is rewritten to the proxy
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://$PROXY/lib/basic:v1" "docker://$PROXY/lib/other:v1" >>"$T/skopeo.log" 2>&1
h=$(curl -s -D - -o "$T/cat" "$P/v2/_catalog?n=1")
expect_eq "_catalog page 1" "$(cat "$T/cat")" '{"repositories":["lib/basic"]}'
expect_match "_catalog Link names the proxy" "$h" \
    "Link: <(http://$PROXY)?/v2/_catalog\\?(last=lib%2Fbasic&n=1|n=1&last=lib%2Fbasic)>; rel=\"next\""
next=$(printf '%s' "$h" | sed -n 's/^Link: <\([^>]*\)>.*/\1/p' | tr -d '\r')
case $next in /*) next="$P$next" ;; esac
expect_eq "_catalog page 2 via the Link" "$(curl -s "$next")" \
    '{"repositories":["lib/other"]}'

# referrers: distribution 2.8 has no such API (404); signet answers it from
# the referrers tag schema: here an empty OCI index (t_bundle.sh: a listed
# referrer and the artifactType filter)
expect_eq "the referrers API where the registry has none: an empty index" \
    "$(curl -s -w ' %{http_code}' "$P/v2/lib/basic/referrers/sha256:$mf")" \
    '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]} 200'

# keep-alive: several requests on one connection
n=$(curl -s -v -o /dev/null -o /dev/null -o /dev/null "$P/v2/" "$P/healthz" \
    "$P/v2/lib/basic/tags/list" 2>&1 | grep -c 'Re-using existing connection')
expect_eq "keep-alive reuses the connection" "$n" 2

# bad requests: OCI error bodies
b=$(curl -s -w ' %{http_code}' "$P/v2/Bad_Name/manifests/x")
expect_match "invalid name: 400 NAME_INVALID" "$b" '"code":"NAME_INVALID".* 400$'
b=$(curl -s -w ' %{http_code}' "$P/v2/a/manifests/sha256:zz")
expect_match "invalid digest: 400 DIGEST_INVALID" "$b" '"code":"DIGEST_INVALID".* 400$'
b=$(curl -s -w ' %{http_code}' "$P/v3/whatever")
expect_match "unknown endpoint: 404 with OCI body" "$b" '^\{"errors":\[\{"code":"UNSUPPORTED".* 404$'
expect_eq "TRACE: 405" "$(http_status TRACE "$P/v2/")" 405
printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n' >"$T/req1"
r=$($HELPERS raw 127.0.0.1 "$SIGNET_PORT" "$T/req1")
expect_match "malformed head: 400" "$r" '^HTTP/1.1 400 '
expect_match "malformed head: OCI body" "$r" '^\{"errors":\[\{"code":"UNSUPPORTED","message":"obsolete header line folding'

{ printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: '; head -c 70000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } >"$T/req2"
r=$($HELPERS raw 127.0.0.1 "$SIGNET_PORT" "$T/req2")
expect_match "oversized head: 431" "$r" '^HTTP/1.1 431 '
expect_match "oversized head: OCI body" "$r" '"code":"SIZE_INVALID"'
# a head far over the limit: signet answers after 64 KiB, while the client
# is still sending; it must read the rest away before it closes, or the
# kernel resets the connection and the answer can be lost unread
{ printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: '; head -c 1000000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } >"$T/req3"
r=$($HELPERS raw 127.0.0.1 "$SIGNET_PORT" "$T/req3" 2>/dev/null)
expect_match "a 1 MB head: the 431 arrives whole, no reset" "$r" '^HTTP/1.1 431 '
printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n' >"$T/req3"
r=$($HELPERS raw 127.0.0.1 "$SIGNET_PORT" "$T/req3")
expect_match "Content-Length with chunked: 400" "$r" '^HTTP/1.1 400'
printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$T/req4"
r=$($HELPERS raw 127.0.0.1 "$SIGNET_PORT" "$T/req4")
expect_eq "pipelined requests answered in order" \
    "$(printf '%s' "$r" | grep -o 'HTTP/1.1 200' | wc -l)" 2
expect_match "second pipelined answer is /healthz" "$r" 'ok$'
printf 'GET /v2/ HTTP/1.0\r\n\r\n' >"$T/req5"
r=$($HELPERS raw 127.0.0.1 "$SIGNET_PORT" "$T/req5")
expect_match "HTTP/1.0 answered with Connection: close" "$r" 'Connection: close'

# one JSON access line per request
line=$(grep '"msg":"access"' "$T/signet.log" | grep '"endpoint":"blob"' | grep '"status":206' | head -1)
expect_match "access log line is JSON with the fields" "$line" \
    '"method":"GET".*"repository":"lib/basic".*"reference":"sha256:[0-9a-f]{64}".*"status":206.*"bytes_in":0,"bytes_out":100,"duration_ms":[0-9.]+,"upstream_status":206'
check "access log lines parse as JSON" python3 -c '
import json, sys
for l in open(sys.argv[1]):
    if l.startswith("{"):
        json.loads(l)
' "$T/signet.log"

stop_signet
finish
