#!/bin/bash
# TLS on both sides: signet terminates TLS (mbedTLS) for clients, and talks
# to an HTTPS upstream verified against a CA file, or with "insecure".
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo openssl

# a CA and a certificate for 127.0.0.1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=signet-test-ca -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=127.0.0.1 -keyout "$T/key.pem" -out "$T/cert.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/ext"
openssl x509 -req -in "$T/cert.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/ext" -out "$T/cert.pem" 2>/dev/null
check "test certificates made" test -s "$T/cert.pem"

# 1. TLS in front of a plain registry
start_registry up
PROXY_SCHEME=https start_signet "http://$REG_up" \
    "\"tls\": {\"certificate\": \"$T/cert.pem\", \"key\": \"$T/key.pem\"}, \"limits\": {\"header_timeout\": 2}"
P="https://$PROXY"
expect_eq "GET /v2/ over TLS, verified" "$(http_status GET "$P/v2/" --cacert "$T/ca.pem")" 200
v=$(curl -s -o /dev/null -w '%{http_version} %{ssl_verify_result}' --cacert "$T/ca.pem" "$P/v2/")
expect_eq "HTTP/1.1 over a verified TLS session" "$v" "1.1 0"
check "TLS 1.3-only client is refused cleanly or served" \
    curl -s -o /dev/null --cacert "$T/ca.pem" --tls-max 1.2 "$P/healthz"
check "TLS 1.1 is refused" sh -c "! curl -s -o /dev/null --cacert '$T/ca.pem' --tlsv1.1 --tls-max 1.1 '$P/healthz'"

mkdir -p "$T/certs.d"
cp "$T/ca.pem" "$T/certs.d/ca.crt"
top=$(mkimage "$T/img" --layers 2 --size 2000000 --seed tls)
check "skopeo pushes over verified TLS" skopeo copy -q --dest-cert-dir "$T/certs.d" \
    "oci:$T/img" "docker://$PROXY/tls/img:1"
check "skopeo pulls over verified TLS" skopeo copy -q --src-cert-dir "$T/certs.d" \
    "docker://$PROXY/tls/img:1" "oci:$T/back:x"
n=0
for f in "$T"/back/blobs/sha256/*; do
	cmp -s "$f" "$T/img/blobs/sha256/$(basename "$f")" && n=$((n + 1))
done
expect_eq "blobs intact over TLS" "$n" "$(ls "$T/img/blobs/sha256" | wc -l)"
loc=$(curl -s -D - -o /dev/null --cacert "$T/ca.pem" -X POST "$P/v2/tls/x/blobs/uploads/" |
    sed -n 's/^Location: *//Ip' | tr -d '\r')
expect_match "Location names the https origin" "$loc" "^(https://$PROXY)?/v2/tls/x/blobs/uploads/"

# plain HTTP to the TLS port, and a silent client, are closed, not hung
start=$(date +%s)
curl -s --max-time 20 -o /dev/null "http://$PROXY/v2/"
took=$(( $(date +%s) - start ))
check "plain HTTP on the TLS port fails fast ($took s)" test "$took" -lt 5
start=$(date +%s)
python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.settimeout(20); print(s.recv(10))' "$SIGNET_PORT" >/dev/null 2>&1
took=$(( $(date +%s) - start ))
check "a silent client is closed after header_timeout ($took s)" test "$took" -lt 6
stop_signet
: >"$T/signet.log"

# 2. an HTTPS upstream
start_registry tlsup "  tls:
    certificate: $T/cert.pem
    key: $T/key.pem"
UPSTREAM_EXTRA=", \"ca\": \"$T/ca.pem\"" start_signet "https://$REG_tlsup"
expect_eq "HTTPS upstream verified with upstream.ca" "$(http_status GET "http://$PROXY/v2/")" 200
check "skopeo push to an HTTPS upstream" skopeo copy -q --dest-tls-verify=false \
    "oci:$T/img" "docker://$PROXY/tls/up:1"
expect_eq "digest at the HTTPS upstream" \
    "$(curl -s --cacert "$T/ca.pem" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "https://$REG_tlsup/v2/tls/up/manifests/1" | sha256sum | cut -d' ' -f1)" "${top#sha256:}"
stop_signet
: >"$T/signet.log"

start_signet "https://$REG_tlsup"
b=$(curl -s -w ' %{http_code}' "http://$PROXY/v2/" | tr -d '\n')
expect_match "unknown upstream CA: 502 naming the certificate problem" "$b" \
    'upstream unreachable: .*(certificate|SSL).* 502$'
stop_signet
: >"$T/signet.log"

UPSTREAM_EXTRA=', "insecure": true' start_signet "https://$REG_tlsup"
expect_eq "upstream.insecure skips verification" "$(http_status GET "http://$PROXY/v2/")" 200
stop_signet

# 3. a pull longer than idle_timeout (2 s), client reading steadily: whole,
#    over TLS to the client, and through the libcurl relay (an HTTPS
#    upstream).  Reading timed out meanwhile, and cut such pulls.
head -c $((24 * 1048576)) /dev/urandom >"$T/big"
dig=$(put_blob "https://$REG_tlsup" tls/big "$T/big" --cacert "$T/ca.pem")
UPSTREAM_EXTRA=", \"ca\": \"$T/ca.pem\"" PROXY_SCHEME=https start_signet "https://$REG_tlsup" \
    "\"tls\": {\"certificate\": \"$T/cert.pem\", \"key\": \"$T/key.pem\"}, \"limits\": {\"idle_timeout\": 2}"
curl -s --cacert "$T/ca.pem" --limit-rate 6M -o "$T/big.back" \
    "https://$PROXY/v2/tls/big/blobs/$dig"
expect_eq "a 4 s pull over TLS, idle_timeout 2: whole" "$(sha256_of "$T/big.back")" \
    "${dig#sha256:}"
stop_signet
finish
