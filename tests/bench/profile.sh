#!/bin/bash
# tests/bench/profile.sh: where signet's time goes on the blob data path.
#
# Starts a docker-registry and signet (and, with PROFILE_NGINX=1, nginx
# tuned as bench.sh runs it) on free loopback ports, then, for one push
# and one pull of a PROFILE_MIB random blob through each proxy:
#
#   strace -c   the system calls the proxy made, by count
#   perf        the top of a CPU profile of the proxy (perf record -g,
#               perf report --no-children), when perf can run here
#
# Environment: PROFILE_MIB=512, PROFILE_NGINX=0, PROFILE_TOP=25 (lines of
# each report), SIGNET, BENCH_KEEP=1.  Installs nothing.
set -eu
MIB=${PROFILE_MIB:-512}
TOP=${PROFILE_TOP:-25}
WITH_NGINX=${PROFILE_NGINX:-0}
BENCH=profile
BENCH_TOOLS="docker-registry curl strace sha256sum"
BENCH_DEBS="docker-registry curl strace coreutils"
[ "$WITH_NGINX" = 1 ] && BENCH_TOOLS="$BENCH_TOOLS nginx"
KEEP=${BENCH_KEEP:-}
. "$(dirname "$0")/common.sh"

read -r REG_PORT SIG_PORT NGX_PORT <<EOF
$(free_ports 3)
EOF
start_registry "127.0.0.1:$REG_PORT"
# one worker, the process traced (with several, SIG_PID is the master's)
cat >"$T/signet.json" <<EOF
{"listen": ["127.0.0.1:$SIG_PORT"], "upstream": {"url": "http://127.0.0.1:$REG_PORT"},
 "log": {"level": "warn", "access": false}, "workers": 1${PROFILE_SIGNET_CONF:+, $PROFILE_SIGNET_CONF}}
EOF
start_signet
wait_ready docker-registry "$REG_PID" "http://127.0.0.1:$REG_PORT/v2/"
wait_ready signet "$SIG_PID" "http://127.0.0.1:$SIG_PORT/v2/"
if [ "$WITH_NGINX" = 1 ]; then
	start_nginx "$T/nginx" "$NGX_PORT" tuned
	wait_ready nginx "$NGINX_PID" "http://127.0.0.1:$NGX_PORT/v2/"
	# the worker does the work (one: NGX_WORKERS is unset)
	NGX_PID=$(ps -o pid= --ppid "$NGINX_PID" | tr -d ' ')
fi

head -c "$((MIB * 1048576))" /dev/urandom >"$T/blob"
DIG=sha256:$(sha256sum "$T/blob" | cut -d' ' -f1)
n=0

# push_pull PORT: one monolithic push (a fresh repository) and one pull
push_pull() {
	n=$((n + 1))
	base=http://127.0.0.1:$1
	push_blob "$base" "p/r$n" "$T/blob" "$DIG"
	st=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' \
	    "$base/v2/p/r$n/blobs/$DIG")
	[ "$st" = "200 $((MIB * 1048576))" ] || die "pull through port $1: $st"
}

# profile NAME PID PORT
profile() {
	echo "=== $1: strace -c over one ${MIB} MiB push and one pull"
	strace -c -f -p "$2" -o "$T/$1.strace" &
	tracer=$!
	sleep 0.5
	push_pull "$3"
	kill -INT "$tracer"
	wait "$tracer" 2>/dev/null || true
	head -n "$((TOP + 2))" "$T/$1.strace"
	if command -v perf >/dev/null 2>&1 &&
	    perf record -q -g -o "$T/$1.perf" -p "$2" -- sleep 0.1 >/dev/null 2>&1; then
		echo "=== $1: perf, one ${MIB} MiB push and one pull (self time)"
		perf record -q -g -o "$T/$1.perf" -p "$2" >/dev/null 2>&1 &
		pf=$!
		sleep 0.5
		push_pull "$3"
		kill -INT "$pf"
		wait "$pf" 2>/dev/null || true
		perf report -i "$T/$1.perf" --no-children --stdio --sort symbol \
		    -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n "$TOP"
	else
		echo "(perf cannot record here)"
	fi
}

profile signet "$SIG_PID" "$SIG_PORT"
[ "$WITH_NGINX" = 1 ] && profile nginx "$NGX_PID" "$NGX_PORT"
exit 0
