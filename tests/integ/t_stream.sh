#!/bin/bash
# Streaming and backpressure: a 2 GiB blob pushed (chunked) and pulled through
# signet, and a slow reader, while signet's peak resident memory stays under
# 64 MiB.  SIGNET_STREAM_MIB changes the size (default 2048).  Under a
# sanitizer (SIGNET_SANITIZED=1) or valgrind (SIGNET_VALGRIND=1) memory
# figures mean nothing: the transfers still run and are checked, the RSS
# assertions are skipped.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3

MIB=${SIGNET_STREAM_MIB:-2048}
LIMIT_KIB=$((64 * 1024))
start_registry up
start_signet "http://$REG_up"
P="http://$PROXY"

rss_ok() {
	hwm=$($HELPERS rss "$SIGNET_PID")
	if [ -n "${SIGNET_SANITIZED:-}${SIGNET_VALGRIND:-}" ]; then
		ok "$1: peak RSS ${hwm} KiB (not asserted under a sanitizer or valgrind)"
	elif [ "$hwm" -lt "$LIMIT_KIB" ]; then
		ok "$1: peak RSS ${hwm} KiB < $LIMIT_KIB KiB"
	else
		not_ok "$1: peak RSS ${hwm} KiB >= $LIMIT_KIB KiB"
	fi
}

zeros() { head -c $((MIB * 1024 * 1024)) /dev/zero; }
dig=sha256:$(zeros | sha256sum | cut -d' ' -f1)

# push: POST, one chunked PATCH streamed from a pipe, then PUT ?digest=
loc=$(curl -s -D - -o /dev/null -X POST "$P/v2/big/blob/blobs/uploads/" |
    sed -n 's/^Location: *//Ip' | tr -d '\r')
case $loc in /*) loc="$P$loc" ;; esac
start=$(date +%s%N)
h=$(zeros | curl -s -D - -o /dev/null -X PATCH -H 'Content-Type: application/octet-stream' \
    -T - "$loc")
t_push=$(( ($(date +%s%N) - start) / 1000000 ))
expect_match "${MIB} MiB chunked PATCH through signet: 202" "$h" 'HTTP/1.1 202'
loc=$(printf '%s' "$h" | sed -n 's/^Location: *//Ip' | tr -d '\r')
case $loc in /*) loc="$P$loc" ;; esac
expect_eq "final PUT: 201 (digest verified by the registry)" \
    "$(http_status PUT "$loc&digest=$dig")" 201
echo "# push: ${MIB} MiB in ${t_push} ms"
rss_ok "after the push"

# pull at full speed
start=$(date +%s%N)
got=$(curl -s "$P/v2/big/blob/blobs/$dig" | sha256sum | cut -d' ' -f1)
t_pull=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "${MIB} MiB pulled through signet intact" "$got" "${dig#sha256:}"
echo "# pull: ${MIB} MiB in ${t_pull} ms"
rss_ok "after the pull"

# a slow reader: 256 MiB at 64 MiB/s; signet must pause the upstream
# rather than buffer what the client has not read
slow_mib=$(( MIB < 256 ? MIB : 256 ))
python3 - "$PROXY" "$dig" "$slow_mib" >"$T/slow.out" <<'PY'
import hashlib, socket, sys, time
host, port = sys.argv[1].split(":")
want = int(sys.argv[3]) * 1024 * 1024
s = socket.create_connection((host, int(port)))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(("GET /v2/big/blob/blobs/%s HTTP/1.1\r\nHost: %s\r\n"
           "Range: bytes=0-%d\r\nConnection: close\r\n\r\n" % (sys.argv[2], sys.argv[1], want - 1)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, body = buf.split(b"\r\n\r\n", 1)
n = len(body)
rate = 64 * 1024 * 1024
t0 = time.time()
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    n += len(chunk)
    ahead = n / rate - (time.time() - t0)
    if ahead > 0:
        time.sleep(ahead)
print(head.split(b"\r\n")[0].decode(), n)
PY
expect_eq "slow reader got $slow_mib MiB (206)" "$(cat "$T/slow.out")" \
    "HTTP/1.1 206 Partial Content $((slow_mib * 1024 * 1024))"
rss_ok "after the slow reader"
stop_signet
finish
