#!/bin/bash
# SIGHUP reloads the configuration without dropping connections; SIGTERM
# drains requests in flight, then exits 0.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3

start_registry a
start_registry b
start_signet "http://$REG_a"
P="http://$PROXY"

# a 6 MB blob in registry a, through signet
head -c 6000000 /dev/urandom >"$T/blob"
dig=sha256:$(sha256_of "$T/blob")
loc=$(curl -s -D - -o /dev/null -X POST "$P/v2/sig/a/blobs/uploads/" | sed -n 's/^Location: *//Ip' | tr -d '\r')
case $loc in /*) loc="$P$loc" ;; esac
expect_eq "blob uploaded to a" "$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
    -H 'Content-Type: application/octet-stream' --data-binary @"$T/blob" "$loc&digest=$dig")" 201

# SIGHUP during a slow download: the download completes, new requests
# go to the new upstream
curl -s --limit-rate 3M -o "$T/dl1" "$P/v2/sig/a/blobs/$dig" &
dl=$!
sleep 0.5
sed -i "s|http://$REG_a|http://$REG_b|" "$T/signet.json"
kill -HUP "$SIGNET_PID"
sleep 0.3
check "download across SIGHUP finishes" wait "$dl"
expect_eq "download across SIGHUP is intact" "$(sha256_of "$T/dl1")" "${dig#sha256:}"
check "reload is logged" grep -q 'configuration reloaded' "$T/signet.log"
expect_eq "new requests go to the new upstream" \
    "$(http_status HEAD "$P/v2/sig/a/blobs/$dig")" 404

# a bad file on reload keeps the running configuration
printf '{"listen": ["%s"], "upstream": {"url": "http://%s"}, "bogus": 1}' "$PROXY" "$REG_a" \
    >"$T/signet.json"
kill -HUP "$SIGNET_PID"
sleep 0.3
check "failed reload is logged with the key" grep -q 'reload failed.*bogus: unknown key' "$T/signet.log"
expect_eq "still on the previous configuration" \
    "$(http_status HEAD "$P/v2/sig/a/blobs/$dig")" 404
expect_eq "still serving" "$(http_status GET "$P/healthz")" 200

# SIGTERM: drain the download in flight, refuse new connections, exit 0
sed -i "s|\"bogus\": 1|\"log\": {\"level\": \"info\"}|" "$T/signet.json"
kill -HUP "$SIGNET_PID"
sleep 0.3
curl -s --limit-rate 3M -o "$T/dl2" "$P/v2/sig/a/blobs/$dig" &
dl=$!
sleep 0.5
kill -TERM "$SIGNET_PID"
sleep 0.3
check "new connections are refused while draining" \
    sh -c "! curl -s --max-time 2 -o /dev/null '$P/healthz'"
check "download in flight finishes" wait "$dl"
expect_eq "drained download is intact" "$(sha256_of "$T/dl2")" "${dig#sha256:}"
wait "$SIGNET_PID"
expect_eq "signet exits 0 after draining" "$?" 0
check "drain logged" grep -q 'drained, exiting' "$T/signet.log"
check "no memory errors in the log" sh -c "! grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' '$T/signet.log'"
finish
