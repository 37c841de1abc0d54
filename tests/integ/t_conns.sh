#!/bin/bash
# Many connections (issue #13): 10,000 kept-alive client connections, each
# having made one request through signet to the registry, held idle at
# once: signet's resident memory stays under 100 MiB, and the connections
# still work (a sample asks again on each) while a new client is answered.
# The test raises its descriptor limit (signet and the client each hold
# 10,000 sockets) and skips when the hard limit is too low.  Under the
# sanitizers (shadow memory) the memory is reported, not asserted.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3

# under the sanitizers (shadow memory, slower) 2,000 connections
if [ -n "${SIGNET_SANITIZED:-}" ]; then N=${SIGNET_CONNS:-2000}; else N=${SIGNET_CONNS:-10000}; fi
need=$((N + 1000))	# and the upstream connections, files
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
	echo "SKIP: the descriptor limit is $hard, $need are needed"
	exit 77
fi
ulimit -n "$need" || { echo "SKIP: cannot raise the descriptor limit to $need"; exit 77; }

start_registry up
# workers: 1 in the two parts that measure one process (its descriptors, its
# memory, its CPU): limits are per worker (the last part checks that)
SIGNET_LOG_LEVEL=warn start_signet "http://$REG_up" "\"workers\": 1, \"limits\": {\"max_connections\": $((N + 200)),
 \"max_connections_per_address\": $((N + 200)), \"idle_timeout\": 600}"
rss_kib() { awk "/^$1:/ { print \$2 }" "/proc/$SIGNET_PID/status"; }
base=$(rss_kib VmRSS)

# open N connections in batches; each sends GET /v2/ (answered by the
# registry through signet) and reads the answer, then stays open; then
# a sample of 200 asks again on its kept connection
python3 - "$SIGNET_PORT" "$N" "$T/conns.fifo" >"$T/conns.out" 2>&1 <<'PY' &
import os, selectors, socket, sys, time
port, n, fifo = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
req = b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n"
conns = []

def answered(socks):
    # every socket gets one whole answer (a head and its body)
    sel = selectors.DefaultSelector()
    buf = {}
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
        buf[s] = b""
    left = set(socks)
    deadline = time.time() + 60
    while left and time.time() < deadline:
        for key, _ in sel.select(1):
            s = key.fileobj
            d = s.recv(65536)
            if not d:
                sel.unregister(s)
                left.discard(s)
                continue
            buf[s] += d
            head, sep, body = buf[s].partition(b"\r\n\r\n")
            if sep:
                cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if len(body) >= (int(cl[0].split(b":")[1]) if cl else 0):
                    sel.unregister(s)
                    left.discard(s)
    sel.close()
    return sum(1 for s in socks if buf[s].startswith(b"HTTP/1.1 200"))

ok = 0
for start in range(0, n, 500):
    batch = []
    for _ in range(min(500, n - start)):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        batch.append(s)
    ok += answered(batch)
    conns += batch
print("first requests answered 200: %d of %d" % (ok, n), flush=True)
with open(fifo, "w") as f:
    f.write("open\n")
# wait for the shell to measure, then ask again on a sample
with open(fifo) as f:
    f.readline()
sample = conns[:: max(1, n // 200)]
for s in sample:
    s.sendall(req)
print("kept connections answered again: %d of %d" % (answered(sample), len(sample)), flush=True)
with open(fifo, "w") as f:
    f.write("done\n")
time.sleep(30)
PY
client=$!
PIDS="$PIDS $client"
mkfifo "$T/conns.fifo"
read -r _ <"$T/conns.fifo"
expect_match "$N connections made one request each through signet" \
    "$(cat "$T/conns.out")" "first requests answered 200: $N of $N"
open=$(ls "/proc/$SIGNET_PID/fd" | wc -l)
check "signet holds them all open ($open descriptors)" test "$open" -ge "$N"
rss=$(rss_kib VmRSS)
echo "# signet's resident memory: $((base / 1024)) MiB at start," \
    "$((rss / 1024)) MiB with $N idle connections" \
    "($(((rss - base) * 1024 / N)) bytes a connection)"
if [ -z "${SIGNET_SANITIZED:-}" ] && [ -z "${SIGNET_VALGRIND:-}" ]; then
	check "$N idle connections under 100 MiB of RSS ($((rss / 1024)) MiB)" \
	    test "$rss" -lt $((100 * 1024))
fi
t0=$(date +%s%N)
expect_eq "a new client is answered meanwhile" \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://$PROXY/v2/")" 200
echo "# that answer took $((($(date +%s%N) - t0) / 1000000)) ms"
echo go >"$T/conns.fifo"
read -r _ <"$T/conns.fifo"
expect_match "a sample of the kept connections asks again" "$(cat "$T/conns.out")" \
    'kept connections answered again: ([0-9]+) of \1$'
kill "$client" 2>/dev/null
wait "$client" 2>/dev/null
stop_signet

# Out of descriptors: a signet started with a limit of 200 and
# max_connections 1000 says so at start; 300 clients exhaust it; signet
# pauses accepting (it does not spin on the listener: little CPU while
# they are held), and accepts again once they are gone
: >"$T/signet.log"
(
	ulimit -n 200
	SIGNET_LOG_LEVEL=warn start_signet "http://$REG_up" \
	    "\"workers\": 1, \"limits\": {\"max_connections\": 1000, \"max_connections_per_address\": 1000}"
	echo "$SIGNET_PID $SIGNET_PORT" >"$T/low.pid"
	wait "$SIGNET_PID"
) &
PIDS="$PIDS $!"
for _ in $(seq 1 100); do [ -s "$T/low.pid" ] && break; sleep 0.1; done
read -r LOW_PID LOW_PORT <"$T/low.pid"
check "the descriptor limit below max_connections is named at start" \
    grep -q 'limits.max_connections is 1000 but the descriptor limit is 200' "$T/signet.log"
python3 - "$LOW_PORT" "$T/low.fifo" >"$T/low.out" 2>&1 <<'PY' &
import socket, sys, time
socks = []
for _ in range(300):
    try:
        socks.append(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5))
    except OSError:
        pass
with open(sys.argv[2], "w") as f:
    f.write("held %d\n" % len(socks))
with open(sys.argv[2]) as f:
    f.readline()
for s in socks:
    s.close()
with open(sys.argv[2], "w") as f:
    f.write("closed\n")
PY
mkfifo "$T/low.fifo"
read -r _ held <"$T/low.fifo"
cpu() { awk '{ print $14 + $15 }' "/proc/$LOW_PID/stat"; }
c0=$(cpu)
sleep 3
c1=$(cpu)
hz=$(getconf CLK_TCK)
echo "# $held connections held against a limit of 200: signet used $(((c1 - c0) * 1000 / hz)) ms of CPU in 3 s"
check "out of descriptors, signet pauses accepting instead of spinning (< 1 s CPU in 3 s)" \
    test $((c1 - c0)) -lt "$hz"
check "  and says so" grep -q 'accept: Too many open files' "$T/signet.log"
echo go >"$T/low.fifo"
read -r _ <"$T/low.fifo"
sleep 0.5
expect_eq "  once they are gone it accepts again" \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$LOW_PORT/v2/")" 200
kill "$LOW_PID"

# Limits are per worker (like nginx's worker_connections)
per_worker_limit max_connections 'max_connections reached'
finish
