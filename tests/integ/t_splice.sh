#!/bin/bash
# Spliced pulls: a blob's body read from a plain-HTTP upstream moves to a
# plain-HTTP client through a kernel pipe (splice(2), proxy/io/splice.c).
# With "splice": "always", against the real registry: whole and in order
# (full speed, a slow reader, a range, two pulls on one kept connection),
# counted by /metrics; a client that goes away or stops reading leaves no
# pipe behind.  With "never" the same pulls are copied; with "auto" (the
# default) a client on this machine, as every client here, gets them
# copied too.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3

start_registry up
# one worker: the descriptors counted below are one process's
start_signet "http://$REG_up" \
    '"workers": 1, "splice": "always", "limits": {"idle_timeout": 2}'
P="http://$PROXY"

if [ "$(uname -s)" != Linux ]; then
	ok "# SKIP not Linux: signet copies there"
	finish
fi

# pulled BYTES_PATH: signet_pulled_bytes_total{path=BYTES_PATH}
pulled() {
	curl -s "$P/metrics" |
	    sed -n "s/^signet_pulled_bytes_total{path=\"$1\"} //p"
}
# the pipes signet holds open: one is kept for the next pull, one that
# ended with bytes in it is closed
pipes() { ls -l "/proc/$SIGNET_PID/fd" | grep -c 'pipe:'; }

# a 40 MiB blob straight into the registry
head -c $((40 * 1048576)) /dev/urandom >"$T/big"
dig=$(put_blob "http://$REG_up" sp/big "$T/big")
B="$P/v2/sp/big/blobs/$dig"

# 1. full speed: whole, and (nearly) all of it spliced
s0=$(pulled spliced) c0=$(pulled copied)
expect_eq "40 MiB pulled whole" "$(curl -s "$B" | sha256sum | cut -d' ' -f1)" \
    "${dig#sha256:}"
s1=$(pulled spliced) c1=$(pulled copied)
expect_eq "every body byte counted once, spliced or copied" \
    $((s1 - s0 + c1 - c0)) $((40 * 1048576))
# copied: what the read of the response head took of the body (16 KiB a
# read at most)
check "spliced: $((s1 - s0)) of the bytes, all but $((c1 - c0))" \
    test $((c1 - c0)) -le 16384

# 2. a range: 206, the bytes of the range
curl -s -r 1000000-9999999 -o "$T/range" "$B"
expect_eq "a range of 9 MB: the registry's bytes" \
    "$(sha256_of "$T/range")" \
    "$(tail -c +1000001 "$T/big" | head -c 9000000 | sha256sum | cut -d' ' -f1)"

# 3. two pulls and a HEAD on one kept connection
w='%{http_code} %{size_download} %{num_connects}\n'
out=$(curl -s -o /dev/null -w "$w" "$B" -o /dev/null "$B" \
    --next -s -I -o /dev/null -w "$w" "$B" 2>&1)
expect_eq "two pulls and a HEAD on one connection" "$(echo $out)" \
    "200 41943040 1 200 41943040 0 200 0 0"

# 4. a slow reader with a small window: the pipe waits for the client
python3 - "$PROXY" "/v2/sp/big/blobs/$dig" >"$T/slow.out" <<'PY'
import hashlib, socket, sys, time
host, port = sys.argv[1].split(":")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s.connect((host, int(port)))
s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
           % sys.argv[2]).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
body = buf.split(b"\r\n\r\n", 1)[1]
h = hashlib.sha256(body)
n = len(body)
while True:
    c = s.recv(16384)
    if not c:
        break
    h.update(c)
    n += len(c)
    if n < 4 * 1048576:
        time.sleep(0.0005)	# about 30 MiB/s for the first 4 MiB
print(n, h.hexdigest())
PY
expect_eq "a slow reader gets it whole" "$(cat "$T/slow.out")" \
    "$((40 * 1048576)) ${dig#sha256:}"

# 4b. a steady pull longer than idle_timeout (2 s): whole.  The client
#     sends nothing meanwhile, and reading timed out: such pulls were cut
curl -s --limit-rate 10M -o "$T/steady" "$B"
expect_eq "a 4 s pull with idle_timeout 2: whole" "$(sha256_of "$T/steady")" \
    "${dig#sha256:}"

# 5. clients that go away mid-pull: nothing left behind
n0=$(pipes)
for i in 1 2 3 4 5; do
	curl -s --max-time 0.3 --limit-rate 2M -o /dev/null "$B"
done
sleep 0.5
expect_eq "signet serves after aborted pulls" \
    "$(curl -s "$B" | sha256sum | cut -d' ' -f1)" "${dig#sha256:}"
expect_eq "no pipe left by the aborted pulls" "$(pipes)" "$n0"

# 6. a client that stops reading: closed after idle_timeout (2 s)
python3 - "$PROXY" "/v2/sp/big/blobs/$dig" >"$T/stuck.out" <<'PY'
import socket, sys, time
host, port = sys.argv[1].split(":")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s.connect((host, int(port)))
s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % sys.argv[2]).encode())
s.recv(4096)
t0 = time.time()
time.sleep(4)		# reads nothing meanwhile
s.settimeout(10)
n = 0
try:
    while True:
        c = s.recv(1 << 20)
        if not c:
            break
        n += len(c)
except OSError:
    pass
print("closed" if n < 40 * 1048576 else "whole")
PY
expect_eq "a client that stops reading is cut, not kept" "$(cat "$T/stuck.out")" closed
line=$(grep '"error":"client timeout"' "$T/signet.log" | tail -1)
expect_match "logged as a client timeout after about 2 s" "$line" \
    '"duration_ms":2[0-9][0-9][0-9]\.'
expect_eq "a pull after the stuck client: whole" \
    "$(curl -s "$B" | sha256sum | cut -d' ' -f1)" "${dig#sha256:}"
expect_eq "no pipe left by the stuck client" "$(pipes)" "$n0"
stop_signet

# 7. "splice": "never": the same pulls, copied
start_signet "http://$REG_up" \
    '"workers": 1, "splice": "never", "limits": {"idle_timeout": 2}'
P="http://$PROXY"
B="$P/v2/sp/big/blobs/$dig"
expect_eq "splice never: 40 MiB pulled whole" \
    "$(curl -s "$B" | sha256sum | cut -d' ' -f1)" "${dig#sha256:}"
expect_eq "splice never: nothing spliced" "$(pulled spliced)" 0
expect_eq "splice never: all of it copied" "$(pulled copied)" $((40 * 1048576))
curl -s --limit-rate 10M -o "$T/steady" "$B"
expect_eq "splice never: a 4 s pull with idle_timeout 2: whole" \
    "$(sha256_of "$T/steady")" "${dig#sha256:}"
stop_signet

# 8. "auto" (the default): a client on this machine gets the body copied
start_signet "http://$REG_up" '"workers": 1'
P="http://$PROXY"
expect_eq "splice auto, a local client: 40 MiB pulled whole" \
    "$(curl -s "$P/v2/sp/big/blobs/$dig" | sha256sum | cut -d' ' -f1)" \
    "${dig#sha256:}"
expect_eq "splice auto, a local client: nothing spliced" "$(pulled spliced)" 0
stop_signet

# 9. "auto", a client at another address: spliced.  In a network namespace
#    of its own (unshare, iproute2), whose loopback also carries 10.77.0.1
#    (the client's) and 10.77.0.2 (signet's): the client is neither on a
#    loopback address nor at the address it reaches, as a remote one.
if ! command -v ip >/dev/null || ! unshare -rn true 2>/dev/null; then
	ok "# SKIP no network namespace here (unshare -rn, iproute2)"
	finish
fi
cat >"$T/ns.sh" <<'NS'
set -e
ip link set lo up
ip addr add 10.77.0.1/32 dev lo
ip addr add 10.77.0.2/32 dev lo
mkdir -p "$T/ns"
cat >"$T/ns/reg.yml" <<EOF
version: 0.1
storage: {filesystem: {rootdirectory: $T/ns/reg}}
http: {addr: 127.0.0.1:5001}
log: {level: error}
EOF
cat >"$T/ns/signet.json" <<EOF
{"listen": ["10.77.0.2:5000"], "upstream": {"url": "http://127.0.0.1:5001"},
 "log": {"level": "warn"}, "workers": 1}
EOF
docker-registry serve "$T/ns/reg.yml" >"$T/ns/reg.log" 2>&1 &
"$SIGNET" serve -c "$T/ns/signet.json" >"$T/ns/signet.log" 2>&1 &
for i in $(seq 50); do
	curl -sf -o /dev/null http://127.0.0.1:5001/v2/ &&
	    curl -sf -o /dev/null http://10.77.0.2:5000/healthz && break
	sleep 0.2
done
dig=$(put_blob http://127.0.0.1:5001 ns/big "$T/big")
got=$(curl -s --interface 10.77.0.1 "http://10.77.0.2:5000/v2/ns/big/blobs/$dig" |
    sha256sum | cut -d' ' -f1)
echo "pulled ${got} want ${dig#sha256:}"
curl -s --interface 10.77.0.1 http://10.77.0.2:5000/metrics |
    sed -n 's/^signet_pulled_bytes_total{path="spliced"} /spliced /p'
kill $(jobs -p)
wait
NS
# the sanitizers' reports still go to $T (ASAN_OPTIONS, exported by lib.sh)
export T SIGNET
export -f put_blob sha256_of
unshare -rn bash "$T/ns.sh" >"$T/ns.out" 2>&1 || true
expect_match "splice auto, a client at another address: pulled whole" \
    "$(grep '^pulled' "$T/ns.out")" "^pulled ${dig#sha256:} want"
s=$(sed -n 's/^spliced //p' "$T/ns.out")
check "splice auto, a client at another address: spliced (${s:-none})" \
    test "${s:-0}" -ge $((40 * 1048576 - 16384))
finish
