#!/bin/bash
# Variables are set through eval (per-target names), functions run from traps:
# shellcheck disable=SC2154,SC2317
# tests/bench/bench.sh: signet against nginx and against the bare registry.
#
# One run starts a docker-registry (CNCF distribution), nginx in front of it
# configured as registry operators run it (proxy_buffering off,
# proxy_request_buffering off, proxy_buffer_size 1m, proxy_buffers 4 1m,
# keepalive upstream, HTTP/1.1), and signet in front of it, all on free
# loopback ports in a private temporary directory, and measures for each of
# the targets (direct, nginx, signet; with BENCH_NGINX_DEFAULT=1 also
# nginx_buf, nginx with its default buffering, which spools large answers
# to a temporary file):
#
#   blob push   monolithic: POST .../blobs/uploads/, then PUT <Location>&digest=
#               with a BENCH_BLOB_MIB random blob as the body (curl -T)
#   blob pull   GET .../blobs/<digest> to /dev/null, byte count checked
#   HEAD        BENCH_HEADS manifest HEADs from BENCH_CONCURRENCY keep-alive
#               clients (python3 threads), per-request latency p50/p99
#
# and, for the proxies, CPU seconds (the scheduler's run time per thread,
# in ns, or utime+stime in ticks where the kernel keeps no run time; delta
# over that target's work) and peak RSS (VmHWM).  Then it prints the
# signet/nginx ratios (against the tuned nginx) and the goals of
# tests/bench/README.
#
# Environment:
#   BENCH_BLOB_MIB=512        blob size in MiB
#   BENCH_HEADS=2000          manifest HEADs per target
#   BENCH_CONCURRENCY=16      concurrent HEAD clients
#   BENCH_ROUNDS=5            rounds; each round runs the push, the pull and
#                             the HEADs against direct, nginx, signet in turn
#                             (the order rotates from round to round), and the
#                             medians over the rounds are reported
#   BENCH_NGINX_DEFAULT=0     1: a fourth target, nginx_buf, with nginx's
#                             default proxy_buffering on and buffer sizes
#   BENCH_SIGNET_SPLICE=0     1: a target signet_splice, signet with
#                             "splice": "always".  Every client here is on
#                             this machine, so signet's default ("auto")
#                             copies; this shows what splicing does to
#                             signet's CPU and to the pull (README)
#   BENCH_NGINX_WORKERS=1     nginx worker_processes
#   BENCH_SIGNET_WORKERS=     signet's workers (default: as many as nginx's,
#                             so that both run the same number of processes)
#   BENCH_KEEP=1              keep the temporary directory and logs
#   SIGNET=PATH               the signet binary (default: the build tree's
#                             signet next to the sources, or signet on PATH)
#
# Exit status: 0 when every transfer succeeded and was verified (whether or
# not the targets were met), 1 when a transfer failed, 2 on a setup problem.
# The script installs nothing; it says what is missing.
set -eu

BLOB_MIB=${BENCH_BLOB_MIB:-512}
HEADS=${BENCH_HEADS:-2000}
CONC=${BENCH_CONCURRENCY:-16}
ROUNDS=${BENCH_ROUNDS:-5}
NGX_DEFAULT=${BENCH_NGINX_DEFAULT:-0}
SIG_SPLICE=${BENCH_SIGNET_SPLICE:-0}
NGX_WORKERS=${BENCH_NGINX_WORKERS:-1}
SIG_WORKERS=${BENCH_SIGNET_WORKERS:-$NGX_WORKERS}

BENCH=bench
BENCH_TOOLS="docker-registry nginx curl python3 sha256sum awk ps timeout"
BENCH_DEBS="docker-registry nginx curl python3 coreutils procps gawk"
KEEP=${BENCH_KEEP:-}
. "$(dirname "$0")/common.sh"

for v in BLOB_MIB HEADS CONC ROUNDS NGX_WORKERS; do
	eval "val=\$$v"
	case $val in
	'' | *[!0-9]*) die "$v must be a positive integer, not '$val'" ;;
	esac
	[ "$val" -gt 0 ] || die "$v must be a positive integer"
done
case $NGX_DEFAULT in
0 | 1) ;;
*) die "BENCH_NGINX_DEFAULT must be 0 or 1" ;;
esac
case $SIG_WORKERS in
*[!0-9]*) die "BENCH_SIGNET_WORKERS must be a positive integer" ;;
esac

# five distinct free loopback ports
read -r REG_PORT NGX_PORT SIG_PORT NGB_PORT SGS_PORT <<EOF
$(free_ports 5)
EOF

# proc_cpu PID...: CPU time of the processes, in seconds.  The run time
# the scheduler keeps per thread in nanoseconds (/proc/PID/task/*/schedstat,
# user and system), when the kernel keeps it; else utime+stime from
# /proc/PID/stat, in clock ticks (10 ms: a 512 MiB pull is some 15 ticks,
# so a tick more or less is 7%).
if [ -r /proc/$$/schedstat ] && [ "$(cut -d' ' -f1 /proc/$$/schedstat)" != 0 ]; then
	CPU_CLOCK="scheduler run time (/proc/PID/task/*/schedstat, ns)"
	proc_cpu() {
		for p in "$@"; do
			cat "/proc/$p/task/"*/schedstat 2>/dev/null || true
		done | awk '{ t += $1 } END { printf "%.4f", t / 1e9 }'
	}
else
	CPU_CLOCK="utime+stime (/proc/PID/stat, clock ticks)"
	proc_cpu() {
		hz=$(getconf CLK_TCK)
		for p in "$@"; do
			# fields after "(comm)": utime 14th overall, stime 15th
			sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null || true
		done | awk -v hz="$hz" '{ t += $12 + $13 } END { printf "%.3f", t / hz }'
	}
fi

# proc_hwm_kib PID...: sum of VmHWM
proc_hwm_kib() {
	for p in "$@"; do
		awk '/^VmHWM:/ { print $2 }' "/proc/$p/status"
	done | awk '{ t += $1 } END { print t + 0 }'
}

calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

# --- versions -----------------------------------------------------------------


echo "signet benchmark: blob ${BLOB_MIB} MiB x ${ROUNDS} round(s)," \
    "${HEADS} manifest HEADs x ${CONC} clients, per target"
print_versions nginx
echo "CPU time: $CPU_CLOCK"
echo "nginx setup (the reference, as a registry front): proxy_buffering off," \
    "proxy_request_buffering off, proxy_buffer_size 1m, proxy_buffers 4 1m," \
    "client_max_body_size 0, proxy_http_version 1.1, upstream keepalive 32," \
    "${NGX_WORKERS} worker(s), access_log off"
if [ "$NGX_DEFAULT" = 1 ]; then
	echo "nginx_buf setup: the same with nginx's default buffering" \
	    "(proxy_buffering on, default buffer sizes)"
fi
echo "signet setup: defaults, workers ${SIG_WORKERS:-default}, log level warn," \
    "access log off"
if [ "$SIG_SPLICE" = 1 ]; then
	echo "signet_splice setup: the same with \"splice\": \"always\""
fi
echo

# --- the registry ----------------------------------------------------------------

start_registry "127.0.0.1:$REG_PORT"

# --- nginx -----------------------------------------------------------------------

start_nginx "$T/nginx" "$NGX_PORT" tuned
NGX_PID=$NGINX_PID
if [ "$NGX_DEFAULT" = 1 ]; then
	start_nginx "$T/nginx-buf" "$NGB_PORT" default
	NGB_PID=$NGINX_PID
fi

# --- signet ------------------------------------------------------------------------

# (quotes inside ${...:+...} of a here-document are removed: a variable)
workers_json=${SIG_WORKERS:+", \"workers\": $SIG_WORKERS"}
cat >"$T/signet.json" <<EOF
{
  "listen": ["127.0.0.1:$SIG_PORT"],
  "upstream": {"url": "http://127.0.0.1:$REG_PORT"},
  "log": {"level": "warn", "access": false}$workers_json
}
EOF
start_signet
if [ "$SIG_SPLICE" = 1 ]; then
	sed -e "s/:$SIG_PORT\"/:$SGS_PORT\"/" -e 's/"access": false}/&, "splice": "always"/' \
	    "$T/signet.json" >"$T/signet_splice.json"
	"$SIGNET" serve -c "$T/signet_splice.json" >"$T/signet_splice.log" 2>&1 &
	SGS_PID=$!
	PIDS="$PIDS $SGS_PID"
fi

wait_ready docker-registry "$REG_PID" "http://127.0.0.1:$REG_PORT/v2/"
wait_ready nginx "$NGX_PID" "http://127.0.0.1:$NGX_PORT/v2/"
wait_ready signet "$SIG_PID" "http://127.0.0.1:$SIG_PORT/v2/"
NGX_WORKER_PIDS=$(ps -o pid= --ppid "$NGX_PID" | tr -d ' ' | tr '\n' ' ')
# signet's workers, if it runs several (workers: N): none with one
SIG_WORKER_PIDS=$(ps -o pid= --ppid "$SIG_PID" | tr -d ' ' | tr '\n' ' ')
[ -n "$NGX_WORKER_PIDS" ] || die "no nginx worker processes"
if [ "$NGX_DEFAULT" = 1 ]; then
	wait_ready nginx_buf "$NGB_PID" "http://127.0.0.1:$NGB_PORT/v2/"
	NGB_WORKER_PIDS=$(ps -o pid= --ppid "$NGB_PID" | tr -d ' ' | tr '\n' ' ')
fi
if [ "$SIG_SPLICE" = 1 ]; then
	wait_ready signet_splice "$SGS_PID" "http://127.0.0.1:$SGS_PORT/v2/"
	grep -q '"splice": "always"' "$T/signet_splice.json" ||
	    die "signet_splice: no splice key in its configuration"
	SGS_WORKER_PIDS=$(ps -o pid= --ppid "$SGS_PID" | tr -d ' ' | tr '\n' ' ')
fi

# --- test data ------------------------------------------------------------------------

BLOB=$T/blob
echo "# generating a ${BLOB_MIB} MiB random blob"
head -c "$((BLOB_MIB * 1048576))" /dev/urandom >"$BLOB"
BLOB_BYTES=$(stat -c %s "$BLOB")
DIG=$(sha256sum "$BLOB" | cut -d' ' -f1)
echo "# blob sha256:$DIG, $BLOB_BYTES bytes"

# push_small BASE REPO FILE: monolithic upload of a small file
push_small() {
	d=$(sha256sum "$3" | cut -d' ' -f1)
	loc=$(curl -sS -f -X POST -D - -o /dev/null "$1/v2/$2/blobs/uploads/" |
	    tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
	case $loc in /*) loc=$1$loc ;; esac
	case $loc in *\?*) loc="$loc&digest=sha256:$d" ;; *) loc="$loc?digest=sha256:$d" ;; esac
	curl -sS -f -o /dev/null -T "$3" -H 'Expect:' \
	    -H 'Content-Type: application/octet-stream' "$loc"
	echo "sha256:$d"
}

# One small schema 2 manifest for the HEADs, pushed straight to the registry.
REG=http://127.0.0.1:$REG_PORT
MREPO=bench/manifest
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' \
    >"$T/config.json"
head -c 1024 /dev/urandom >"$T/layer.bin"
cfg=$(push_small "$REG" "$MREPO" "$T/config.json")
lay=$(push_small "$REG" "$MREPO" "$T/layer.bin")
MT=application/vnd.docker.distribution.manifest.v2+json
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":"%s"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":%d,"digest":"%s"}]}' \
    "$MT" "$(stat -c %s "$T/config.json")" "$cfg" \
    "$(stat -c %s "$T/layer.bin")" "$lay" >"$T/manifest.json"
MDIG=sha256:$(sha256sum "$T/manifest.json" | cut -d' ' -f1)
curl -sS -f -o /dev/null -X PUT -H "Content-Type: $MT" \
    --data-binary "@$T/manifest.json" "$REG/v2/$MREPO/manifests/v1"

cat >"$T/heads.py" <<'EOF'
# heads.py HOST PORT PATH ACCEPT DIGEST N CONC: N HEADs from CONC threads,
# each on its own keep-alive connection; prints
# "n errors p50_ms p90_ms p99_ms max_ms seconds req_per_s".
import http.client
import math
import sys
import threading
import time

host, port, path, accept, digest = sys.argv[1:6]
n, conc = int(sys.argv[6]), int(sys.argv[7])
hdrs = {"Accept": accept}
lock = threading.Lock()
state = {"left": 0, "errors": 0}
lat = []
first_error = []


def take():
    with lock:
        if state["left"] == 0:
            return False
        state["left"] -= 1
        return True


def worker(record):
    conn = None
    while take():
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
            conn.request("HEAD", path, headers=hdrs)
            r = conn.getresponse()
            r.read()
            ok = (r.status == 200 and
                  r.getheader("Docker-Content-Digest") == digest)
            if not ok and not first_error:
                first_error.append("status %d, digest %s" % (
                    r.status, r.getheader("Docker-Content-Digest")))
            if r.will_close:
                conn.close()
                conn = None
        except Exception as e:
            ok = False
            if not first_error:
                first_error.append(repr(e))
            if conn is not None:
                conn.close()
            conn = None
        dt = time.perf_counter() - t0
        with lock:
            if ok:
                if record:
                    lat.append(dt)
            else:
                state["errors"] += 1
    if conn is not None:
        conn.close()


def run(count, record):
    state["left"] = count
    ts = [threading.Thread(target=worker, args=(record,))
          for _ in range(conc)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


run(conc * 4, False)          # warm-up: latencies not kept, errors counted
elapsed = run(n, True)
lat.sort()


def pct(p):
    if not lat:
        return float("nan")
    return lat[max(0, math.ceil(p / 100.0 * len(lat)) - 1)] * 1000


print("%d %d %.3f %.3f %.3f %.3f %.3f %.1f" % (
    len(lat), state["errors"], pct(50), pct(90), pct(99),
    lat[-1] * 1000 if lat else float("nan"), elapsed, len(lat) / elapsed))
if first_error:
    print("first error: " + first_error[0], file=sys.stderr)
EOF

# --- measurements -------------------------------------------------------------------

TARGETS="direct nginx signet"
PROXIES="nginx signet"
if [ "$NGX_DEFAULT" = 1 ]; then
	TARGETS="$TARGETS nginx_buf"
	PROXIES="$PROXIES nginx_buf"
fi
if [ "$SIG_SPLICE" = 1 ]; then
	TARGETS="$TARGETS signet_splice"
	PROXIES="$PROXIES signet_splice"
fi
port_of() {
	case $1 in
	direct) echo "$REG_PORT" ;;
	nginx) echo "$NGX_PORT" ;;
	signet) echo "$SIG_PORT" ;;
	nginx_buf) echo "$NGB_PORT" ;;
	signet_splice) echo "$SGS_PORT" ;;
	esac
}
pids_of() {
	case $1 in
	direct) echo "$REG_PID" ;;
	nginx) echo "$NGX_PID $NGX_WORKER_PIDS" ;;
	signet) echo "$SIG_PID $SIG_WORKER_PIDS" ;;
	nginx_buf) echo "$NGB_PID $NGB_WORKER_PIDS" ;;
	signet_splice) echo "$SGS_PID $SGS_WORKER_PIDS" ;;
	esac
}
# the proxies' CPU, accumulated per target and phase: CPU_<target>_<phase>
for t in $PROXIES; do
	for ph in push pull head; do
		eval "CPU_${t}_${ph}=0"
	done
done
cpu_now() {
	# shellcheck disable=SC2046
	proc_cpu $(pids_of "$1")
}
cpu_add() {
	# cpu_add TARGET PHASE BEFORE: adds (now - BEFORE)
	[ "$1" = direct ] && return 0
	now=$(cpu_now "$1")
	eval "CPU_$1_$2=\$(calc \"\$CPU_$1_$2 + $now - $3\" 4)"
	# and each round's, for the medians
	eval "CPUR_$1_$2=\"\${CPUR_$1_$2:-} \$(calc \"$now - $3\" 4)\""
}
alive() {
	for p in "docker-registry $REG_PID" "nginx $NGX_PID" "signet $SIG_PID"; do
		# shellcheck disable=SC2086
		set -- $p
		kill -0 "$2" 2>/dev/null && continue
		st=0
		wait "$2" || st=$?
		if [ "$st" -gt 128 ]; then
			st="killed by signal $((st - 128)) ($(kill -l "$((st - 128))"))"
		else
			st="exit status $st"
		fi
		echo "bench: $1 (pid $2) is gone, $st; its log is below" >&2
		exit 1
	done
}
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# The stall guard: abort a transfer that moves less than 1 MiB/s for 30 s.
CURL_GUARD="--speed-limit 1048576 --speed-time 30 --max-time $((BLOB_MIB * 2 + 120))"
BLOBDIR=$REG_ROOT/docker/registry/v2/blobs/sha256/$(printf %.2s "$DIG")/$DIG

# push TARGET ROUND: prints MiB/s or FAIL
push() {
	base=http://127.0.0.1:$(port_of "$1")
	repo=bench/$1-$2
	# a fresh commit every time: the registry must not find the blob there
	rm -rf "$BLOBDIR"
	sync
	before=$(cpu_now "$1")
	t0=$(date +%s.%N)
	loc=$(curl -sS -X POST -D - -o /dev/null --max-time 30 \
	    "$base/v2/$repo/blobs/uploads/" 2>"$T/curl.err" | tr -d '\r' |
	    awk 'tolower($1) == "location:" { print $2 }') || true
	if [ -z "$loc" ]; then
		cpu_add "$1" push "$before"
		fail "$1 round $2: POST blobs/uploads/ gave no Location: $(cat "$T/curl.err")"
		echo FAIL >"$T/result"
		return 0
	fi
	case $loc in /*) loc=$base$loc ;; esac
	case $loc in *\?*) loc="$loc&digest=sha256:$DIG" ;; *) loc="$loc?digest=sha256:$DIG" ;; esac
	# shellcheck disable=SC2086
	out=$(curl -sS -o "$T/put.body" -T "$BLOB" -H 'Expect:' \
	    -H 'Content-Type: application/octet-stream' $CURL_GUARD \
	    -w '%{http_code} %{size_upload}' "$loc" 2>"$T/curl.err") || true
	t1=$(date +%s.%N)
	cpu_add "$1" push "$before"
	# shellcheck disable=SC2086
	set -- "$1" "$2" $out
	if [ "${3:-}" != 201 ] || [ "${4:-}" != "$BLOB_BYTES" ]; then
		fail "$1 round $2: PUT: status ${3:-none}, ${4:-0} of $BLOB_BYTES bytes sent: $(cat "$T/curl.err") $(head -c 300 "$T/put.body")"
		echo FAIL >"$T/result"
		return 0
	fi
	# the registry checked the digest; check it kept the whole blob
	len=$(curl -sS -I --max-time 30 "$REG/v2/$repo/blobs/sha256:$DIG" |
	    tr -d '\r' | awk 'tolower($1) == "content-length:" { print $2 }')
	if [ "$len" != "$BLOB_BYTES" ]; then
		fail "$1 round $2: the registry holds ${len:-no} bytes after the push"
		echo FAIL >"$T/result"
		return 0
	fi
	calc "$BLOB_BYTES / 1048576 / ($t1 - $t0)" 1 >"$T/result"
	sync	# write-back stays out of the next measurement
}

# pull TARGET ROUND: prints MiB/s or FAIL
pull() {
	base=http://127.0.0.1:$(port_of "$1")
	repo=bench/$1-$2
	before=$(cpu_now "$1")
	# shellcheck disable=SC2086
	out=$(curl -sS -o /dev/null $CURL_GUARD \
	    -w '%{http_code} %{size_download} %{time_total}' \
	    "$base/v2/$repo/blobs/sha256:$DIG" 2>"$T/curl.err") || true
	cpu_add "$1" pull "$before"
	# shellcheck disable=SC2086
	set -- "$1" "$2" $out
	if [ "${3:-}" != 200 ] || [ "${4:-}" != "$BLOB_BYTES" ]; then
		fail "$1 round $2: GET blob: status ${3:-none}, ${4:-0} of $BLOB_BYTES bytes: $(cat "$T/curl.err")"
		echo FAIL >"$T/result"
		return 0
	fi
	calc "$BLOB_BYTES / 1048576 / $5" 1 >"$T/result"
	sync	# e.g. nginx's temporary file
}

median() {
	# median DECIMALS NUMBER...: FAIL if any is FAIL
	d=$1
	shift
	case " $* " in *" FAIL "*) echo FAIL; return 0 ;; esac
	printf '%s\n' "$@" | sort -n | awk -v d="$d" '{ v[NR] = $1 }
	    END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
	          printf "%." d "f\n", m }'
}

ACCEPT="$MT, application/vnd.oci.image.manifest.v1+json"
# heads TARGET ROUND: BENCH_HEADS manifest HEADs; appends to P50_, P99_, RPS_
heads() {
	before=$(cpu_now "$1")
	out=$(timeout 600 python3 "$T/heads.py" 127.0.0.1 "$(port_of "$1")" \
	    "/v2/$MREPO/manifests/v1" "$ACCEPT" "$MDIG" "$HEADS" "$CONC" \
	    2>"$T/heads.err") || out=""
	cpu_add "$1" head "$before"
	# n errors p50 p90 p99 max seconds rps
	# shellcheck disable=SC2086
	set -- "$1" "$2" $out
	if [ $# -ne 10 ] || [ "$4" != 0 ] || [ "$3" != "$HEADS" ]; then
		fail "$1 round $2: manifest HEADs: ${3:-0} ok, ${4:-?} errors: $(cat "$T/heads.err")"
		eval "P50_$1=\"\${P50_$1:-} FAIL\"; P99_$1=\"\${P99_$1:-} FAIL\"; RPS_$1=\"\${RPS_$1:-} FAIL\""
		echo "FAIL" >"$T/result"
		return 0
	fi
	eval "P50_$1=\"\${P50_$1:-} $5\"; P99_$1=\"\${P99_$1:-} $7\"; RPS_$1=\"\${RPS_$1:-} ${10}\""
	echo "p50 $5 ms, p90 $6 ms, p99 $7 ms, max $8 ms, ${10}/s" >"$T/result"
}

# Warm-up, untimed: one push and pull straight to the registry, so the first
# measured round does not pay for cold caches and fresh directories.
push direct 0 >/dev/null
pull direct 0 >/dev/null
rm -rf "$BLOBDIR"

SECONDS=0
r=1
while [ "$r" -le "$ROUNDS" ]; do
	# rotate the order, so no target always follows the same one
	case $((r % 3)) in
	1) order="direct nginx signet" ;;
	2) order="nginx signet direct" ;;
	0) order="signet direct nginx" ;;
	esac
	[ "$NGX_DEFAULT" = 1 ] && order="$order nginx_buf"
	[ "$SIG_SPLICE" = 1 ] && order="$order signet_splice"
	for t in $order; do
		push "$t" "$r"
		alive
		v=$(cat "$T/result")
		eval "PUSH_$t=\"\${PUSH_$t:-} $v\""
		pull "$t" "$r"
		alive
		w=$(cat "$T/result")
		eval "PULL_$t=\"\${PULL_$t:-} $w\""
		heads "$t" "$r"
		alive
		echo "# round $r $t: push $v MiB/s, pull $w MiB/s;" \
		    "$HEADS HEADs: $(cat "$T/result")"
	done
	r=$((r + 1))
done
echo "# measurements took ${SECONDS} s"

# --- report ---------------------------------------------------------------------------

for t in $PROXIES; do
	eval "CPU_${t}_total=\$(calc \"\$CPU_${t}_push + \$CPU_${t}_pull + \$CPU_${t}_head\" 2)"
	# per GiB: the median of the rounds, as for throughput (one round
	# that the machine slowed weighs no more than in the medians), and
	# the sum over the rounds, printed beside it
	eval "GPUSH_$t=\$(calc \"\$(median 4 \$CPUR_${t}_push) / ($BLOB_MIB / 1024)\" 3)"
	eval "GPULL_$t=\$(calc \"\$(median 4 \$CPUR_${t}_pull) / ($BLOB_MIB / 1024)\" 3)"
	eval "SPUSH_$t=\$(calc \"\$CPU_${t}_push / ($ROUNDS * $BLOB_MIB / 1024)\" 3)"
	eval "SPULL_$t=\$(calc \"\$CPU_${t}_pull / ($ROUNDS * $BLOB_MIB / 1024)\" 3)"
done
# one process's peak, as for nginx's worker: the largest of signet's
# workers, or signet itself when it runs alone
RSS_signet=0
for p in ${SIG_WORKER_PIDS:-$SIG_PID}; do
	r=$(calc "$(proc_hwm_kib "$p") / 1024" 1)
	RSS_signet=$(awk -v a="$RSS_signet" -v b="$r" 'BEGIN { print (b > a ? b : a) }')
done
# shellcheck disable=SC2086
RSS_nginx=$(calc "$(proc_hwm_kib $NGX_WORKER_PIDS) / 1024" 1)
RSS_nginx_master=$(calc "$(proc_hwm_kib "$NGX_PID") / 1024" 1)
RSS_direct=$(calc "$(proc_hwm_kib "$REG_PID") / 1024" 1)
if [ "$NGX_DEFAULT" = 1 ]; then
	# shellcheck disable=SC2086
	RSS_nginx_buf=$(calc "$(proc_hwm_kib $NGB_WORKER_PIDS) / 1024" 1)
fi
if [ "$SIG_SPLICE" = 1 ]; then
	RSS_signet_splice=0
	for p in ${SGS_WORKER_PIDS:-$SGS_PID}; do
		r=$(calc "$(proc_hwm_kib "$p") / 1024" 1)
		RSS_signet_splice=$(awk -v a="$RSS_signet_splice" -v b="$r" \
		    'BEGIN { print (b > a ? b : a) }')
	done
fi

echo
echo "results: medians of $ROUNDS round(s); a round is one ${BLOB_MIB} MiB push," \
    "one ${BLOB_MIB} MiB pull and $HEADS manifest HEADs from $CONC" \
    "keep-alive clients"
printf '%-13s %10s %10s %10s %10s %8s  %-22s %s\n' target "push MiB/s" \
    "pull MiB/s" "HEAD p50" "HEAD p99" "HEAD/s" "CPU s push/pull/HEAD" \
    "peak RSS"
for t in $TARGETS; do
	eval "pu=\$(median 1 \$PUSH_$t); pl=\$(median 1 \$PULL_$t)"
	eval "p50=\$(median 3 \$P50_$t); p99=\$(median 3 \$P99_$t)"
	eval "rps=\$(median 0 \$RPS_$t)"
	eval "MPUSH_$t=$pu; MPULL_$t=$pl; MP50_$t=$p50; MP99_$t=$p99"
	if [ "$t" = direct ]; then
		cpu="-"
		rss="(registry: ${RSS_direct} MiB)"
	else
		eval "cpu=\"\$CPU_${t}_push/\$CPU_${t}_pull/\$CPU_${t}_head\""
		eval "rss=\"\$RSS_$t MiB\""
	fi
	printf '%-13s %10s %10s %7s ms %7s ms %8s  %-22s %s\n' "$t" "$pu" "$pl" \
	    "$p50" "$p99" "$rps" "$cpu" "$rss"
done
echo "per round (MiB/s push | MiB/s pull | HEAD p50 ms | HEAD p99 ms):"
for t in $TARGETS; do
	eval "echo \"  $t:\$PUSH_$t |\$PULL_$t |\$P50_$t |\$P99_$t\""
done
echo "CPU: $CPU_CLOCK, over all rounds (nginx, and signet with workers: master and workers)"
for t in $PROXIES; do
	eval "echo \"  $t: \$CPU_${t}_total s in all; per GiB pushed" \
	    "\$GPUSH_$t s (median of the rounds; over all: \$SPUSH_$t), pulled" \
	    "\$GPULL_$t s (over all: \$SPULL_$t);" \
	    "\$(calc \"\$CPU_${t}_head * 1000000 / ($ROUNDS * ($HEADS + $CONC * 4))\" 0) us per HEAD\""
	eval "echo \"    each round's s, push:\$CPUR_${t}_push; pull:\$CPUR_${t}_pull\""
done
echo "peak RSS: VmHWM of one process: nginx's worker (master: ${RSS_nginx_master} MiB), signet's largest worker when it runs several"

# verdict VALUE OP LIMIT: PASS/MISS
verdict() {
	case $1 in FAIL | n/a) echo "-"; return 0 ;; esac
	if awk "BEGIN { exit !($1 $2 $3) }"; then echo PASS; else echo MISS; fi
}
ratio() {
	# ratio A B: A/B, or FAIL/n/a
	case "$1 $2" in *FAIL*) echo FAIL; return 0 ;; esac
	if awk "BEGIN { exit !($2 > 0) }"; then calc "$1 / $2" 2; else echo n/a; fi
}
rpush=$(ratio "$MPUSH_signet" "$MPUSH_nginx")
rpull=$(ratio "$MPULL_signet" "$MPULL_nginx")
rcpush=$(ratio "$GPUSH_signet" "$GPUSH_nginx")
rcpull=$(ratio "$GPULL_signet" "$GPULL_nginx")
rp50=$(ratio "$MP50_signet" "$MP50_nginx")
case "$MP50_direct $MP50_nginx $MP50_signet" in
*FAIL*) add_s=FAIL add_n=FAIL ;;
*)
	add_s=$(calc "$MP50_signet - $MP50_direct" 3)
	add_n=$(calc "$MP50_nginx - $MP50_direct" 3)
	;;
esac

echo
echo "signet / nginx (tuned as a registry front; goals of issue #13)"
printf '  %-30s %6s   goal >= 1.00   %s   (signet %s, nginx %s MiB/s)\n' \
    "push throughput" "$rpush" "$(verdict "$rpush" '>=' 1.0)" \
    "$MPUSH_signet" "$MPUSH_nginx"
printf '  %-30s %6s   goal >= 1.00   %s   (signet %s, nginx %s MiB/s)\n' \
    "pull throughput" "$rpull" "$(verdict "$rpull" '>=' 1.0)" \
    "$MPULL_signet" "$MPULL_nginx"
printf '  %-30s %6s   goal <= 1.00   %s   (signet %s, nginx %s s; over all rounds: %s)\n' \
    "CPU seconds per GiB pushed" "$rcpush" "$(verdict "$rcpush" '<=' 1.0)" \
    "$GPUSH_signet" "$GPUSH_nginx" "$(ratio "$SPUSH_signet" "$SPUSH_nginx")"
printf '  %-30s %6s   goal <= 1.00   %s   (signet %s, nginx %s s; over all rounds: %s)\n' \
    "CPU seconds per GiB pulled" "$rcpull" "$(verdict "$rcpull" '<=' 1.0)" \
    "$GPULL_signet" "$GPULL_nginx" "$(ratio "$SPULL_signet" "$SPULL_nginx")"
printf '  %-30s %6s   goal <= 1.05   %s   (p50 added over direct: signet %s ms, nginx %s ms)\n' \
    "manifest HEAD p50, $CONC clients" "$rp50" "$(verdict "$rp50" '<=' 1.05)" \
    "$add_s" "$add_n"
printf '  %-30s %6s   goal < 16 MiB  %s   (nginx worker %s MiB; the goal is for a 2 GiB blob, this run: %s MiB)\n' \
    "signet peak RSS (MiB)" "$RSS_signet" "$(verdict "$RSS_signet" '<' 16)" \
    "$RSS_nginx" "$BLOB_MIB"
# ratios_line A B WHAT: A's push, pull and CPU per GiB against B's, on one
# line that begins with WHAT
ratios_line() {
	eval "echo \"\$3: push \$(ratio \"\$MPUSH_$1\" \"\$MPUSH_$2\")," \
	    "pull \$(ratio \"\$MPULL_$1\" \"\$MPULL_$2\")," \
	    "CPU per GiB pushed \$(ratio \"\$GPUSH_$1\" \"\$GPUSH_$2\")," \
	    "pulled \$(ratio \"\$GPULL_$1\" \"\$GPULL_$2\")\""
}
[ "$NGX_DEFAULT" = 1 ] && ratios_line signet nginx_buf \
    "signet / nginx_buf (nginx's default buffering, for comparison)"
[ "$SIG_SPLICE" = 1 ] && ratios_line signet_splice nginx \
    "signet_splice / nginx (splice always; a client on this machine pays for it, README)"
# what the servers complained about (warn and above), for a look
for f in signet.log signet_splice.log nginx/error.log nginx-buf/error.log registry.log; do
	[ -s "$T/$f" ] || continue
	echo
	echo "$f: $(wc -l <"$T/$f") line(s), the first ones:"
	head -n 10 "$T/$f" | cut -c1-300 | sed 's/^/  /'
done

if [ "$failures" -ne 0 ]; then
	echo
	echo "$failures measurement(s) failed"
	exit 1
fi
exit 0
