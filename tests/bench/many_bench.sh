#!/bin/bash
# tests/bench/many_bench.sh: many clients at once, pulling a small signed
# manifest through signet with a warm verification cache (issue #13).
#
# Starts a docker-registry and signet in front of it (a signing key, a rule
# that signs pushes and enforces verification), pushes one small image
# through signet (so it is signed), then from BENCH_CLIENTS concurrent
# clients, each on its own kept-alive connection, BENCH_REQUESTS manifest
# GETs each, first against the registry directly and then through signet
# (a warm-up round first, not counted).  Every answer must be 200 with the
# right Docker-Content-Digest.  Prints p50, p90, p99 and max latency,
# requests per second, and signet's CPU and peak RSS.
#
# Environment: BENCH_CLIENTS=1000, BENCH_REQUESTS=20, BENCH_WORKERS (signet's
# workers, when set), SIGNET, BENCH_KEEP=1.  Installs nothing.
set -eu
CLIENTS=${BENCH_CLIENTS:-1000}
REQS=${BENCH_REQUESTS:-20}
BENCH=many
BENCH_TOOLS="docker-registry curl python3 sha256sum"
BENCH_DEBS="docker-registry curl python3 coreutils"
KEEP=${BENCH_KEEP:-}
. "$(dirname "$0")/common.sh"

need=$((CLIENTS * 2 + 600))
ulimit -n "$need" 2>/dev/null || die "cannot raise the descriptor limit to $need"
read -r REG_PORT SIG_PORT <<EOF
$(free_ports 2)
EOF
start_registry "127.0.0.1:$REG_PORT"
export COSIGN_PASSWORD=bench
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null 2>&1 || die "signet keygen failed"
# (quotes inside ${...:+...} of a here-document are removed: a variable)
workers_json=${BENCH_WORKERS:+", \"workers\": $BENCH_WORKERS"}
cat >"$T/signet.json" <<EOF
{"listen": ["127.0.0.1:$SIG_PORT"], "upstream": {"url": "http://127.0.0.1:$REG_PORT"},
 "log": {"level": "warn", "access": false}, "signing": {"key": "$T/k.key"},
 "limits": {"max_connections": $((CLIENTS + 100)),
  "max_connections_per_address": $((CLIENTS + 100))},
 "policies": [{"match": "*", "sign": "required", "verify": "enforce",
  "keys": ["$T/k.pub"]}]$workers_json}
EOF
start_signet
wait_ready docker-registry "$REG_PID" "http://127.0.0.1:$REG_PORT/v2/"
wait_ready signet "$SIG_PID" "http://127.0.0.1:$SIG_PORT/v2/"

# one small image, pushed through signet: signed there
P=http://127.0.0.1:$SIG_PORT
blob() {
	d=sha256:$(sha256sum "$1" | cut -d' ' -f1)
	loc=$(curl -sS -f -X POST -D - -o /dev/null "$P/v2/bench/many/blobs/uploads/" |
	    tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
	case $loc in /*) loc=$P$loc ;; esac
	curl -sS -f -o /dev/null -T "$1" -H 'Expect:' "$loc&digest=$d"
	echo "$d"
}
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$T/c.json"
head -c 1024 /dev/urandom >"$T/l.bin"
cfg=$(blob "$T/c.json")
lay=$(blob "$T/l.bin")
MT=application/vnd.oci.image.manifest.v1+json
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":%d,"digest":"%s"},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1024,"digest":"%s"}]}' \
    "$MT" "$(stat -c %s "$T/c.json")" "$cfg" "$lay" >"$T/m.json"
MDIG=sha256:$(sha256sum "$T/m.json" | cut -d' ' -f1)
st=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $MT" \
    --data-binary "@$T/m.json" "$P/v2/bench/many/manifests/v1")
[ "$st" = 201 ] || die "the push through signet answered $st"

cat >"$T/many.py" <<'PY'
# many.py PORT PATH DIGEST CLIENTS REQUESTS: each client on its own
# kept-alive connection; prints "ok errors p50 p90 p99 max seconds rps"
import asyncio, math, sys, time
port, path, digest = int(sys.argv[1]), sys.argv[2], sys.argv[3]
clients, reqs = int(sys.argv[4]), int(sys.argv[5])
req = ("GET %s HTTP/1.1\r\nHost: x\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\n\r\n"
       % path).encode()
lat, errors = [], [0]

async def client(n, record):
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        errors[0] += n
        return
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            w.write(req)
            head = await r.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            hdr = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
                   for l in lines[1:] if ":" in l}
            await r.readexactly(int(hdr.get("content-length", "0")))
            ok = lines[0].split(" ")[1] == "200" and hdr.get("docker-content-digest") == digest
        except Exception:
            ok = False
        if ok and record:
            lat.append(time.perf_counter() - t0)
        elif not ok:
            errors[0] += 1
            break
    w.close()

async def run(n, record):
    t0 = time.perf_counter()
    await asyncio.gather(*[client(n, record) for _ in range(clients)])
    return time.perf_counter() - t0

asyncio.run(run(1, False))
secs = asyncio.run(run(reqs, True))
lat.sort()
pct = lambda p: lat[max(0, math.ceil(p / 100 * len(lat)) - 1)] * 1000 if lat else float("nan")
print("%d %d %.2f %.2f %.2f %.2f %.2f %.0f" % (len(lat), errors[0], pct(50), pct(90), pct(99),
      lat[-1] * 1000 if lat else float("nan"), secs, len(lat) / secs))
PY

# signet and its workers, if it runs several
SIG_PIDS="$SIG_PID $(ps -o pid= --ppid "$SIG_PID" | tr -d ' ' | tr '\n' ' ')"
cpu() {
	for p in $SIG_PIDS; do
		sed 's/^.*) //' "/proc/$p/stat"
	done | awk '{ t += $12 + $13 } END { print t }'
}
echo "many clients: $CLIENTS clients x $REQS manifest GETs each (kept-alive), a warm-up round first"
echo "signet: verify enforce (one trusted key), the verification cache warm after the warm-up"
printf '%-8s %8s %7s %9s %9s %9s %9s %8s\n' target ok errors "p50 ms" "p90 ms" "p99 ms" "max ms" "req/s"
for t in direct signet; do
	port=$REG_PORT
	[ "$t" = signet ] && port=$SIG_PORT
	c0=$(cpu)
	# shellcheck disable=SC2046
	set -- $(python3 "$T/many.py" "$port" "/v2/bench/many/manifests/v1" "$MDIG" \
	    "$CLIENTS" "$REQS")
	c1=$(cpu)
	printf '%-8s %8s %7s %9s %9s %9s %9s %8s\n' "$t" "$1" "$2" "$3" "$4" "$5" "$6" "$8"
	[ "$2" = 0 ] || failures=$((failures + 1))
done
echo "signet: $(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }') s of CPU for its $((CLIENTS * (REQS + 1))) requests," \
    "peak RSS of one process $(for p in $SIG_PIDS; do awk '/^VmHWM:/ { print $2 }' "/proc/$p/status"; done |
    sort -n | tail -1 | awk '{ printf "%.1f", $1 / 1024 }') MiB"
[ "$failures" = 0 ] || { echo "$failures target(s) had errors"; exit 1; }
exit 0
