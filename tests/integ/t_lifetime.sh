#!/bin/bash
# Lifetimes: the paths where a handler could be freed inside its own call
# stack or read an object it had just evicted.  Each part is harmless-looking
# traffic; under the ASan build (make check runs it there too) a report in
# signet's log fails stop_signet's check.
#  1. signing and verification over the TLS front, where the end of a
#     response is reached at once (the filter takes the bytes), with several
#     requests on one kept-alive connection and pipelined requests;
#  2. clients that disconnect while signet signs and while it verifies;
#  3. a verification-cache hit on a full cache, whose allowed blobs evict
#     the entry being read.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo openssl
require_pycrypto

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
mkdir -p "$T/certs.d"
cp "$T/cert.pem" "$T/certs.d/ca.crt"
start_registry up
export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
OCI='application/vnd.oci.image.manifest.v1+json'
POL="\"signing\": {\"key\": \"$T/k.key\"}, \"policies\": [
  {\"match\": \"team/*\", \"sign\": \"required\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"]},
  {\"match\": \"strict/*\", \"sign\": \"required\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"], \"strict_blobs\": true}]"

# 1. TLS front
PROXY_SCHEME=https start_signet "http://$REG_up" \
    "\"tls\": {\"certificate\": \"$T/cert.pem\", \"key\": \"$T/key.pem\"}, $POL"
P="https://$PROXY"
top=$(mkimage "$T/img" --layers 2 --size 30000 --seed life1)
check "skopeo push over TLS, signed" skopeo copy -q --dest-cert-dir "$T/certs.d" \
    "oci:$T/img" "docker://$PROXY/team/app:1"
out=$($CHECK "$REG_up" team/app 1 "$T/k.pub")
expect_match "the signature is valid" "$out" '"valid": 1'
check "skopeo pull over TLS, verified" skopeo copy -q --src-cert-dir "$T/certs.d" \
    "docker://$PROXY/team/app:1" "oci:$T/back:x"
codes=$(curl -s --cacert "$T/cert.pem" -H "Accept: $OCI" -o /dev/null -o /dev/null -o /dev/null \
    -w '%{http_code} %{num_connects}\n' "$P/v2/team/app/manifests/1" \
    "$P/v2/team/app/manifests/$top" "$P/v2/team/app/manifests/1" | tr '\n' ' ')
expect_eq "three verified GETs on one TLS connection" "$codes" "200 1 200 0 200 0 "
# pipelined: three heads in one write, then read everything
out=$("$PYCRYPTO" - "$SIGNET_PORT" "$top" <<'EOF'
import socket, ssl, sys, time
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
req = ("GET /v2/team/app/manifests/%s HTTP/1.1\r\nHost: x\r\n"
       "Accept: application/vnd.oci.image.manifest.v1+json\r\n\r\n")
s.sendall((req % "1" + req % sys.argv[2] + "GET /healthz HTTP/1.1\r\nHost: x\r\n"
           "Connection: close\r\n\r\n").encode())
data = b""
s.settimeout(10)
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
print(data.count(b"HTTP/1.1 200 OK"))
EOF
)
expect_eq "three pipelined requests answered over TLS" "$out" 3
stop_signet
: >"$T/signet.log"

# 2. clients gone mid-sign and mid-verify: a front that adds 0.25 s to
#    every upstream request makes both take over a second
fport=$(free_port)
$HELPERS quirk-front "$fport" "$REG_up" slow >"$T/front.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$fport"
start_signet "http://127.0.0.1:$fport" "$POL"
top2=$(mkimage "$T/img2" --layers 1 --size 20000 --seed life2)
skopeo copy -q --dest-tls-verify=false "oci:$T/img2" "docker://$REG_up/team/gone:src"
curl -s -H "Accept: $OCI" "http://$REG_up/v2/team/gone/manifests/src" >"$T/m2.json"
# hangup HOW PATH [BODYFILE]: send a request, hang up after 0.3 s
hangup() {
	"$PYCRYPTO" - "$SIGNET_PORT" "$@" <<'EOF'
import socket, sys, time
port, method, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = open(sys.argv[4], "rb").read() if len(sys.argv) > 4 else b""
s = socket.create_connection(("127.0.0.1", port))
head = "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (
    method, path, "application/vnd.oci.image.manifest.v1+json", len(body))
s.sendall(head.encode() + body)
time.sleep(0.3)
s.close()
EOF
}
for i in 1 2 3; do
	hangup PUT "/v2/team/gone/manifests/$i" "$T/m2.json"
	hangup GET "/v2/team/gone/manifests/src"
done
sleep 3
expect_eq "signet still serves after clients hung up" \
    "$(http_status GET "http://$PROXY/healthz")" 200
check "a push after that is signed" skopeo copy -q --dest-tls-verify=false \
    "oci:$T/img2" "docker://$PROXY/team/gone:4"
check "and pulled verified" skopeo copy -q --src-tls-verify=false \
    "docker://$PROXY/team/gone:4" "oci:$T/back2:x"
check "an unfinished push left no unsigned tag" sh -c \
    "! curl -sf -o /dev/null 'http://$REG_up/v2/team/gone/manifests/1' || \
     $CHECK '$REG_up' team/gone 1 '$T/k.pub' | grep -q '\"valid\": 1'"
stop_signet
: >"$T/signet.log"

# 3. a cache of 16 entries and a 16-layer image under strict_blobs: a
#    cached pull allows 17 blobs and evicts the entry it answers from
start_signet "http://$REG_up" "\"verify_cache\": {\"max_entries\": 16}, $POL"
top3=$(mkimage "$T/img3" --layers 16 --size 2000 --seed life3)
check "push a 16-layer image (signed)" skopeo copy -q --dest-tls-verify=false \
    "oci:$T/img3" "docker://$PROXY/strict/many:1"
for i in 1 2 3; do
	expect_eq "verified GET $i of the 16-layer image" \
	    "$(http_status GET "http://$PROXY/v2/strict/many/manifests/$top3" -H "Accept: $OCI")" 200
done
# (17 blob entries do not fit in 16: some of them are evicted again, and
# strict_blobs then refuses those blobs until the manifest is pulled again;
# the cache must be sized for the images, signet(8) says so)
expect_eq "signet still serves" "$(http_status GET "http://$PROXY/healthz")" 200
stop_signet
finish
