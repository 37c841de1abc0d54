#!/bin/bash
# tests/bench/pull_ab.sh: blob pulls through nginx (tuned, as bench.sh runs
# it) and signet, alternated, each pull measured alone.
#
# bench.sh sums a phase's CPU over its rounds; this looks at one pull at a
# time and at what the kernel did for it, to explain a difference:
#
#   cpu    the proxy's CPU per GiB pulled (the scheduler's run time of every
#          thread, /proc/PID/task/*/schedstat, ns)
#   flt    minor page faults of the proxy during the pull (/proc/PID/stat)
#   csw    its context switches, voluntary and not (/proc/PID/task/*/status)
#   reg    the registry's CPU per GiB pulled
#   cli    the client's (curl's) CPU per GiB pulled: reading a spliced body
#          costs a client on the same machine more (see README, Benchmark)
#
# With PULL_AB_PUSH_FIRST=1 each pull follows a push of the same blob to a
# new repository through the same proxy, as in a round of bench.sh.  One
# registry, one blob; signet runs one worker, as nginx does.
#
# With PULL_AB_PERF=DIR, perf records each pull of each proxy (with call
# graphs) into DIR/PROXY.ROUND.data, for perf report.
#
# With SIGNET_B, a second build of signet runs beside the first, and its
# pulls alternate with theirs: how a change to the pull path is judged.
#
# Environment: PULL_AB_MIB=512, PULL_AB_ROUNDS=6, PULL_AB_PUSH_FIRST=0,
# PULL_AB_PERF, SIGNET, SIGNET_B, BENCH_SIGNET_CONF, BENCH_SIGNET_B_CONF
# (JSON members for signet's and signet_b's configurations: common.sh),
# BENCH_KEEP=1.  Installs nothing; needs a kernel that keeps
# schedstat.
set -eu
MIB=${PULL_AB_MIB:-512}
ROUNDS=${PULL_AB_ROUNDS:-6}
PUSH_FIRST=${PULL_AB_PUSH_FIRST:-0}
BENCH=pull_ab
BENCH_TOOLS="docker-registry curl nginx sha256sum"
BENCH_DEBS="docker-registry curl nginx coreutils"
KEEP=${BENCH_KEEP:-}
. "$(dirname "$0")/common.sh"

need_schedstat
read -r REG_PORT SIG_PORT SGB_PORT NGX_PORT <<EOF
$(free_ports 4)
EOF
start_registry_signet
TARGETS="nginx signet"
start_signet_b
start_nginx "$T/nginx" "$NGX_PORT" tuned
wait_ready nginx "$NGINX_PID" "http://127.0.0.1:$NGX_PORT/v2/"
NGX_W=$(ps -o pid= --ppid "$NGINX_PID" | tr -d ' ')

faults() {
	for p in "$@"; do sed 's/^.*) //' "/proc/$p/stat"; done |
	    awk '{ t += $8 } END { printf "%.0f", t }'
}
switches() {
	for p in "$@"; do cat "/proc/$p/task/"*/status; done |
	    awk '/^(non)?voluntary_ctxt_switches/ { t += $2 } END { printf "%.0f", t }'
}

head -c "$((MIB * 1048576))" /dev/urandom >"$T/blob"
DIG=sha256:$(sha256sum "$T/blob" | cut -d' ' -f1)
push_blob "http://127.0.0.1:$REG_PORT" ab/direct "$T/blob" "$DIG"
curl -sS -o /dev/null "http://127.0.0.1:$REG_PORT/v2/ab/direct/blobs/$DIG"

echo "pull_ab: ${ROUNDS} pulls of ${MIB} MiB through each, alternated;" \
    "push first: $([ "$PUSH_FIRST" = 1 ] && echo yes || echo no)"
echo "  signet: $SIGNET${SIGNET_B:+; signet_b: $SIGNET_B}"
echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %5s %9s %7s %7s %9s %9s %9s\n' proxy round "CPU s/GiB" faults switches "MiB/s" \
    "reg s/GiB" "cli s/GiB"
for r in $(seq 1 "$ROUNDS"); do
	for t in $TARGETS; do
		case $t in
		nginx) port=$NGX_PORT pids=$NGX_W ;;
		signet) port=$SIG_PORT pids=$SIG_PID ;;
		signet_b) port=$SGB_PORT pids=$SGB_PID ;;
		esac
		repo=ab/direct
		if [ "$PUSH_FIRST" = 1 ]; then
			repo=ab/$t$r
			push_blob "http://127.0.0.1:$port" "$repo" "$T/blob" "$DIG"
		fi
		if [ -n "${PULL_AB_PERF:-}" ]; then
			mkdir -p "$PULL_AB_PERF"
			perf record -q -g -o "$PULL_AB_PERF/$t.$r.data" \
			    -p "$(echo $pids | tr ' ' ,)" >/dev/null 2>&1 &
			pf=$!
			sleep 0.5
		fi
		# shellcheck disable=SC2086
		c0=$(run_ns $pids) f0=$(faults $pids) s0=$(switches $pids)
		g0=$(run_ns "$REG_PID")
		# the client's CPU: its user and system time, from the shell
		# that ran it (times, in ticks of 10 ms)
		out=$(bash -c 'curl -sS -o /dev/null -w "%{http_code} %{size_download} %{speed_download}\n" "$1"
		    times' _ "http://127.0.0.1:$port/v2/$repo/blobs/$DIG" | sed -n '1p;3p' |
		    tr '\n' ' ' | sed 's/\([0-9]*\)m\([0-9.]*\)s/\1 \2/g')
		# shellcheck disable=SC2086
		c1=$(run_ns $pids) f1=$(faults $pids) s1=$(switches $pids)
		g1=$(run_ns "$REG_PID")
		if [ -n "${PULL_AB_PERF:-}" ]; then
			kill -INT "$pf"
			wait "$pf" 2>/dev/null || true
		fi
		set -- $out
		[ "$1 $2" = "200 $((MIB * 1048576))" ] || die "$t pull: $out"
		cli=$(awk -v a="$4" -v b="$5" -v c="$6" -v d="$7" -v m="$MIB" \
		    'BEGIN { printf "%.3f", (a * 60 + b + c * 60 + d) / (m / 1024) }')
		printf '%-8s %5d %9s %7d %7d %9s %9s %9s\n' "$t" "$r" \
		    "$(awk -v c=$((c1 - c0)) -v m="$MIB" 'BEGIN { printf "%.3f", c / 1e9 / (m / 1024) }')" \
		    $((f1 - f0)) $((s1 - s0)) "$(awk -v s="$3" 'BEGIN { printf "%.0f", s / 1048576 }')" \
		    "$(awk -v c=$((g1 - g0)) -v m="$MIB" 'BEGIN { printf "%.3f", c / 1e9 / (m / 1024) }')" \
		    "$cli"
	done
done | tee "$T/rows"
awk '{ c[$1] += $3; f[$1] += $4; m[$1] += $6; g[$1] += $7; k[$1] += $8; n[$1]++ }
END {
	printf "means:\n"
	for (t in c)
		printf "  %-8s %.3f s/GiB, %.0f faults, %.0f MiB/s; registry %.3f s/GiB, client %.3f s/GiB\n",
		    t, c[t] / n[t], f[t] / n[t], m[t] / n[t], g[t] / n[t], k[t] / n[t]
	printf "signet / nginx: CPU per GiB pulled %.2f, MiB/s %.2f\n",
	    c["signet"] / c["nginx"], m["signet"] / m["nginx"]
	if ("signet_b" in c)
		printf "signet_b / nginx: CPU %.2f, MiB/s %.2f; signet_b / signet: CPU %.2f, MiB/s %.2f\n",
		    c["signet_b"] / c["nginx"], m["signet_b"] / m["nginx"],
		    c["signet_b"] / c["signet"], m["signet_b"] / m["signet"]
}' "$T/rows"
