#!/bin/bash
# Bounded under hostile input: what a registry writer or an anonymous
# client can make signet spend.
#  1. 64 concurrent pulls of digests whose signature lists are 3.9 MiB of
#     empty objects: each is refused before it is parsed; peak RSS stays
#     under 128 MiB and /healthz answers within 50 ms throughout;
#  2. 12 clients without credentials PUT 4 MiB manifests to a signing
#     repository: the upstream's 401 comes back before their bodies are
#     read; the same bounds hold;
#  3. verified pulls beyond limits.verifications wait, and beyond
#     limits.verification_queue get 503 with Retry-After;
#  4. one address cannot hold more than max_connections_per_address;
#  5. with 2 workers, in each worker.
# Timing and RSS bounds are asserted on the release build only (the
# sanitizers' shadow memory and slowness are not signet's).
# One worker process in parts 1 to 4: each measures one process (its peak
# RSS, its verification slots and queue, its connections per address), and
# limits are per worker (part 5 checks that with 2 workers).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
SIGNET_WORKERS=1	# part 5 names its own
require docker-registry curl python3 htpasswd
require_pycrypto

H="$PYCRYPTO $top_srcdir/tests/integ/hostile.py"
OCI=application/vnd.oci.image.manifest.v1+json
htpasswd -Bbn alice a-pw >"$T/htpasswd" 2>/dev/null
start_registry up "auth:
  htpasswd:
    realm: signet-hostile
    path: $T/htpasswd"
export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
POL="\"signing\": {\"key\": \"$T/k.key\"}, \"policies\": [
  {\"match\": \"evil/*\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"]},
  {\"match\": \"team/*\", \"sign\": \"required\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"]}]"
start_signet "http://$REG_up" "\"verify_cache\": {\"failure_ttl\": 0}, $POL"
bounds() {	# bounds WHAT JSON: the RSS and /healthz bounds (release build)
	rss=$(printf '%s' "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["peak_rss_kib"])')
	p99=$(printf '%s' "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["healthz_p99_ms"])')
	fails=$(printf '%s' "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["healthz_failures"])')
	expect_eq "$1: /healthz always answered" "$fails" 0
	if [ -n "${SIGNET_SANITIZED:-}" ] || [ -n "${SIGNET_VALGRIND:-}" ]; then
		echo "# $1: peak RSS ${rss} KiB, /healthz p99 ${p99} ms (not asserted here)"
		return
	fi
	check "$1: peak RSS ${rss} KiB < 128 MiB" test "$rss" -lt 131072
	check "$1: /healthz p99 ${p99} ms < 50 ms" python3 -c "import sys; sys.exit(not $p99 < 50)"
}

# 1. planted lists of a million empty objects
$H plant "$REG_up" evil/app 64 alice:a-pw >"$T/digests"
expect_eq "64 hostile lists planted" "$(wc -l <"$T/digests")" 64
out=$($H pulls "$PROXY" evil/app "$T/digests" alice:a-pw "$SIGNET_PID")
echo "# $out"
# make check runs tests side by side on two cores: a p99 over the bound is
# measured once more before it counts (both figures are printed)
p99=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["healthz_p99_ms"])')
if python3 -c "import sys; sys.exit(not $p99 >= 50)"; then
	out=$($H pulls "$PROXY" evil/app "$T/digests" alice:a-pw "$SIGNET_PID")
	echo "# again: $out"
fi
expect_match "every hostile pull refused (403)" "$out" '"results": \{"403": 64\}'
bounds "64 hostile pulls" "$out"
d=$(head -1 "$T/digests")
r=$(curl -s -u alice:a-pw -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$PROXY/v2/evil/app/manifests/$d")
expect_match "the reason names the limit" "$r" 'signature list has [0-9]+ JSON values, more than 16384'

# 1b. a list of 999 signatures whose payloads are absent: at most 64 are
#     looked at, and the requests are counted
d999=$($H plant-layers "$REG_up" evil/app alice:a-pw)
r=$(curl -s -u alice:a-pw -H "Accept: $OCI" "http://$PROXY/v2/evil/app/manifests/$d999")
expect_match "a 999-layer list is refused" "$r" 'no signature from a trusted signer'
m=$(curl -s "http://$PROXY/metrics")
max=$(printf '%s\n' "$m" | sed -n 's/^signet_verification_upstream_requests_max //p')
check "one verification sent at most 65 requests ($max)" test "${max:-999}" -le 65
check "  and the count is in /metrics" test "${max:-0}" -ge 65

# 2. anonymous 4 MiB manifest pushes to a signing repository
out=$($H puts "$PROXY" team/app 12 "$SIGNET_PID")
echo "# $out"
expect_match "every anonymous push answered 401 by the upstream" "$out" '"results": \{"401": 12\}'
bounds "12 anonymous 4 MiB pushes" "$out"
check "none of them got further than the check (no 400 for a body)" sh -c \
    "! grep '\"method\":\"PUT\"' '$T/signet.log' | grep '/v2/team/app/manifests/evil' | grep -vq '\"status\":401'"
stop_signet
: >"$T/signet.log"

# 3. one verification at a time, no queue: a second cold pull gets 503
fport=$(free_port)
$HELPERS quirk-front "$fport" "$REG_up" slow >"$T/front.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$fport"
start_signet "http://127.0.0.1:$fport" "\"limits\": {\"verifications\": 1, \"verification_queue\": 0}, $POL"
d1=$(sed -n 1p "$T/digests")
d2=$(sed -n 2p "$T/digests")
curl -s -o /dev/null -u alice:a-pw -H "Accept: $OCI" "http://$PROXY/v2/evil/app/manifests/$d1" &
sleep 0.1
h=$(curl -s -D - -o /dev/null -u alice:a-pw -H "Accept: $OCI" "http://$PROXY/v2/evil/app/manifests/$d2")
wait $!
expect_match "beyond the slots and the queue: 503" "$h" '^HTTP/1.1 503'
expect_match "  with Retry-After" "$h" 'Retry-After: 1'
m=$(curl -s "http://$PROXY/metrics")
expect_match "  counted" "$m" 'signet_verification_waits_total\{result="refused"\} 1'
stop_signet
: >"$T/signet.log"
start_signet "http://127.0.0.1:$fport" "\"limits\": {\"verifications\": 1}, $POL"
curl -s -o /dev/null -u alice:a-pw -H "Accept: $OCI" "http://$PROXY/v2/evil/app/manifests/$d1" &
sleep 0.1
code=$(curl -s -o /dev/null -w '%{http_code}' -u alice:a-pw -H "Accept: $OCI" \
    "http://$PROXY/v2/evil/app/manifests/$d2")
wait $!
expect_eq "with a queue the second pull waits its turn (then is refused: 403)" "$code" 403
expect_match "  and waited" "$(curl -s "http://$PROXY/metrics")" \
    'signet_verification_waits_total\{result="waited"\} 1'
stop_signet
: >"$T/signet.log"

# 4. max_connections_per_address
start_signet "http://$REG_up" "\"limits\": {\"max_connections_per_address\": 4}"
out=$("$PYCRYPTO" - "$SIGNET_PORT" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
time.sleep(1)	# the start's own /healthz connection is gone by now
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(5)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    data = s.recv(100)
except OSError:
    data = b""
print("fifth:", "closed" if data == b"" else data.split(b"\r\n")[0].decode())
for h in held:
    h.close()
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
print("after:", s.recv(100).split(b"\r\n")[0].decode())
EOF
)
expect_match "a fifth connection from one address is closed" "$out" 'fifth: closed'
expect_match "  and served once the others are gone" "$out" 'after: HTTP/1.1 200 OK'
expect_match "  counted" "$(curl -s "http://$PROXY/metrics")" \
    'signet_connections_refused_total\{reason="per_address"\} 1'
stop_signet

# 5. with 2 workers the limit holds in each worker
per_worker_limit max_connections_per_address 'max_connections_per_address reached'
finish
