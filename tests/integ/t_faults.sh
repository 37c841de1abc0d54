#!/bin/bash
# Faults: an upstream that is down, that hangs, that drops mid-body; a
# client that disconnects mid-upload or stalls in its headers.  Each gets
# a clear answer and nothing crashes or leaks.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3

D=sha256:0000000000000000000000000000000000000000000000000000000000000000

# behind_fault MODE [RESPONSE_TIMEOUT [EXTRA]]: a fresh signet.log and
# signet in front of helpers.py fault-upstream MODE, with EXTRA in its
# configuration
behind_fault() {
	: >"$T/signet.log"
	_fp=$(free_port)
	$HELPERS fault-upstream "$_fp" "$1" &
	PIDS="$PIDS $!"
	wait_port "$_fp"
	UPSTREAM_EXTRA=${2:+", \"response_timeout\": $2"} \
	    start_signet "http://127.0.0.1:$_fp" "${3:-}"
}

# 1. upstream unreachable: 502 with an OCI body; /readyz 503; /healthz 200
dead=$(free_port)
start_signet "http://127.0.0.1:$dead" '"limits": {"header_timeout": 1}'
P="http://$PROXY"
b=$(curl -s -w ' %{http_code}' "$P/v2/" | tr -d '\n')
expect_match "upstream down: 502 UNAVAILABLE" "$b" '^\{"errors":\[\{"code":"UNAVAILABLE","message":"upstream unreachable: .* 502$'
expect_eq "upstream down: /readyz 503" "$(http_status GET "$P/readyz")" 503
expect_eq "upstream down: /healthz 200" "$(http_status GET "$P/healthz")" 200

# 2. a client stalling in its headers gets 408 after header_timeout
printf 'GET /v2/ HTTP/1.1\r\nHost: x\r\n' >"$T/partial"
r=$($HELPERS raw 127.0.0.1 "$SIGNET_PORT" "$T/partial")
expect_match "stalled head: 408" "$r" '^HTTP/1.1 408'
stop_signet

# 3. upstream hangs: 504 after response_timeout
behind_fault hang 1
start=$(date +%s)
b=$(curl -s --max-time 20 -w ' %{http_code}' "http://$PROXY/v2/x/manifests/y" | tr -d '\n')
took=$(( $(date +%s) - start ))
expect_match "upstream hangs: 504 UNAVAILABLE" "$b" '"code":"UNAVAILABLE".* 504$'
check "504 came from the response timeout, not the client's ($took s)" test "$took" -lt 10
# a blob GET is read by signet itself (pull.c), on its own connection
b=$(curl -s --max-time 20 -w ' %{http_code}' "http://$PROXY/v2/x/blobs/$D" | tr -d '\n')
expect_match "upstream hangs on a blob: 504 UNAVAILABLE" "$b" '"code":"UNAVAILABLE".* 504$'
stop_signet

# 4. upstream drops mid-body: the client sees a truncated transfer, never
#    a short body passed off as complete
for mode in drop-body drop-chunked; do
	behind_fault "$mode"
	curl -s -o "$T/partial.out" "http://$PROXY/v2/x/blobs/$D"
	rc=$?
	expect_eq "$mode: curl reports a partial transfer (exit 18)" "$rc" 18
	got=0
	[ -f "$T/partial.out" ] && got=$(stat -c %s "$T/partial.out")
	check "$mode: client got at most the bytes sent ($got)" test "$got" -le 100000
	rm -f "$T/partial.out"
	check "$mode: logged as an upstream failure" \
	    grep -q 'upstream failed mid-body' "$T/signet.log"
	expect_eq "$mode: signet still serves" "$(http_status GET "http://$PROXY/healthz")" 200
	stop_signet
done

# 4b. an upstream that stalls mid-body: the client's transfer is cut after
#     response_timeout without a byte, not left hanging
behind_fault stall-body 1
start=$(date +%s)
curl -s --max-time 30 -o "$T/partial.out" "http://$PROXY/v2/x/blobs/$D"
rc=$?
took=$(( $(date +%s) - start ))
expect_eq "stall-body: curl reports a partial transfer (exit 18)" "$rc" 18
check "stall-body: cut by the response timeout ($took s)" test "$took" -lt 10
check "stall-body: logged" grep -q 'upstream stalled during the body' "$T/signet.log"
stop_signet

# 4c. a body framed by the close alone: signet's own reader leaves it to
#     the libcurl relay, and the client gets all of it
behind_fault close-delimited
n=$(curl -s "http://$PROXY/v2/x/blobs/$D" | wc -c)
expect_eq "close-delimited: the whole body" "$n" 100000
stop_signet

# 4c'. a NUL inside a response header: no crash, a clear answer
behind_fault nul-header
st=$(http_status GET "http://$PROXY/v2/x/blobs/$D")
check "nul-header: an answer ($st), not a hang" test "$st" -gt 0
expect_eq "nul-header: refused as the relay refuses it (curl: a NUL in a header)" "$st" 502
expect_eq "nul-header: signet still serves" "$(http_status GET "http://$PROXY/healthz")" 200
stop_signet

# 4d. a kept upstream connection that the upstream closes when it is used
#     again: the pull is asked again on a new connection, and succeeds.
#     One worker: each worker keeps its own connections, and the count of
#     retries below is one process's
SIGNET_WORKERS=1 behind_fault stale-keepalive
for i in 1 2 3; do
	n=$(curl -s -w ' %{http_code}' "http://$PROXY/v2/x/blobs/$D" | wc -c)
	expect_eq "stale-keepalive: pull $i whole" "$n" 300004
done
check "stale-keepalive: asked again on a new connection" \
    grep -q 'the upstream had closed a kept connection' "$T/signet.log"
expect_eq "stale-keepalive: one retry per stale connection, no more" \
    "$(grep -c 'the upstream had closed a kept connection' "$T/signet.log")" 2
stop_signet

# 4e. an upstream that sends more than its answer's length: what follows is
#     never taken for the answer to the next request on that connection (a
#     kept connection with bytes to read is closed, not reused); copied and
#     spliced.  One worker: one pool of kept connections
for sp in never always; do
	SIGNET_WORKERS=1 behind_fault overlong "" "\"splice\": \"$sp\""
	for i in 1 2 3; do
		b=$(curl -s "http://$PROXY/v2/x/blobs/$D")
		expect_eq "overlong, splice $sp: pull $i is its own answer" \
		    "${#b} $(printf %s "$b" | tr -d z | wc -c)" "300000 0"
	done
	# two requests sent at once: the second is taken up in the same turn
	# of signet's loop as the first ends, before the pool's watcher could
	# see the extra bytes
	python3 - "$PROXY" "/v2/x/blobs/$D" >"$T/pipelined.out" <<'PY'
import socket, sys
host, port = sys.argv[1].split(":")
s = socket.create_connection((host, int(port)))
req = "GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % sys.argv[2]
s.sendall((req + req).encode())
f = s.makefile("rb")
for n in (1, 2):
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = f.read(length)
    print(n, len(body), len(body.replace(b"z", b"")))
PY
	expect_eq "overlong, splice $sp: two pipelined pulls, each its own answer" \
	    "$(cat "$T/pipelined.out" | tr '\n' ' ')" "1 300000 0 2 300000 0 "
	stop_signet
done

# 5. a client that disconnects mid-upload: the upstream transfer is aborted
start_registry up
start_signet "http://$REG_up"
python3 - "$PROXY" >"$T/abort.out" 2>&1 <<'PY'
import socket, sys, time
host, port = sys.argv[1].split(":")
s = socket.create_connection((host, int(port)))
s.sendall(b"POST /v2/fault/abort/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
resp = s.recv(65536).decode()
loc = [l.split(": ", 1)[1] for l in resp.split("\r\n") if l.lower().startswith("location:")][0]
path = loc[loc.index("/v2/"):]
s.sendall(("PATCH %s HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n"
           "Content-Type: application/octet-stream\r\n\r\n" % path).encode())
s.sendall(b"y" * 5000000)
time.sleep(0.5)
s.close()
print("closed mid-upload")
PY
check "client closed mid-upload" grep -q 'closed mid-upload' "$T/abort.out"
sleep 0.5
line=$(grep '"method":"PATCH"' "$T/signet.log" | tail -1)
expect_match "aborted upload logged with the reason" "$line" '"status":499.*"error":"client closed the connection"'
expect_eq "signet serves after the abort" "$(http_status GET "http://$PROXY/v2/")" 200

# many aborted downloads in a row leave nothing behind (checked at exit)
head -c 20000000 /dev/urandom >"$T/big"
dig=$(put_blob "http://$PROXY" fault/big "$T/big")
for i in 1 2 3 4 5; do
	curl -s --max-time 0.3 --limit-rate 1M -o /dev/null "http://$PROXY/v2/fault/big/blobs/$dig"
done
expect_eq "signet serves after aborted downloads" \
    "$(curl -s "http://$PROXY/v2/fault/big/blobs/$dig" | sha256sum | cut -d' ' -f1)" "${dig#sha256:}"
stop_signet
finish
