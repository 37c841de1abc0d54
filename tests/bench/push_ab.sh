#!/bin/bash
# tests/bench/push_ab.sh: blob pushes straight to the registry, through
# nginx (tuned, as bench.sh runs it), through signet and, with SIGNET_B,
# through a second signet build, alternated, each push measured alone.
#
# A push runs at the registry's pace (distribution hashes and writes the
# bytes on about one core), so what a proxy changes is how the registry is
# fed; runs vary by several percent, and comparing two builds in one run
# (SIGNET_B) is how a change to the upload path is judged.  Per push: the
# MiB/s, and the CPU seconds of the registry and of the proxy (the
# scheduler's run time of every thread).  Each push goes to a new
# repository, and the blob's data is removed from the registry before it,
# so every push writes it again.
#
# Environment: PUSH_AB_MIB=512, PUSH_AB_ROUNDS=8, SIGNET, SIGNET_B,
# BENCH_SIGNET_CONF, BENCH_SIGNET_B_CONF (JSON members for signet's and
# signet_b's configurations: common.sh), BENCH_KEEP=1.  Installs nothing; needs a kernel that keeps schedstat.
set -eu
MIB=${PUSH_AB_MIB:-512}
ROUNDS=${PUSH_AB_ROUNDS:-8}
BENCH=push_ab
BENCH_TOOLS="docker-registry curl nginx sha256sum"
BENCH_DEBS="docker-registry curl nginx coreutils"
KEEP=${BENCH_KEEP:-}
. "$(dirname "$0")/common.sh"

need_schedstat
read -r REG_PORT SIG_PORT SGB_PORT NGX_PORT <<EOF
$(free_ports 4)
EOF
start_registry_signet
TARGETS="direct nginx signet"
start_signet_b
start_nginx "$T/nginx" "$NGX_PORT" tuned
wait_ready nginx "$NGINX_PID" "http://127.0.0.1:$NGX_PORT/v2/"
NGX_W=$(ps -o pid= --ppid "$NGINX_PID" | tr -d ' ')

head -c "$((MIB * 1048576))" /dev/urandom >"$T/blob"
DIG=sha256:$(sha256sum "$T/blob" | cut -d' ' -f1)
BLOBDIR=$REG_ROOT/docker/registry/v2/blobs/sha256/$(printf %.2s "${DIG#sha256:}")/${DIG#sha256:}

echo "push_ab: ${ROUNDS} pushes of ${MIB} MiB per target, alternated"
echo "  signet: $SIGNET${SIGNET_B:+; signet_b: $SIGNET_B}"
echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %5s %7s %12s %9s\n' target round "MiB/s" "registry CPU" "proxy CPU"
for r in $(seq 1 "$ROUNDS"); do
	for t in $TARGETS; do
		case $t in
		direct) port=$REG_PORT pids="" ;;
		nginx) port=$NGX_PORT pids=$NGX_W ;;
		signet) port=$SIG_PORT pids=$SIG_PID ;;
		signet_b) port=$SGB_PORT pids=$SGB_PID ;;
		esac
		rm -rf "$BLOBDIR"
		sync
		r0=$(run_ns "$REG_PID")
		# shellcheck disable=SC2086
		p0=$([ -n "$pids" ] && run_ns $pids || echo 0)
		t0=$(date +%s.%N)
		push_blob "http://127.0.0.1:$port" "ab/$t$r" "$T/blob" "$DIG"
		t1=$(date +%s.%N)
		r1=$(run_ns "$REG_PID")
		# shellcheck disable=SC2086
		p1=$([ -n "$pids" ] && run_ns $pids || echo 0)
		printf '%-9s %5d %7s %12s %9s\n' "$t" "$r" \
		    "$(awk -v a="$t0" -v b="$t1" -v m="$MIB" 'BEGIN { printf "%.1f", m / (b - a) }')" \
		    "$(awk -v c=$((r1 - r0)) 'BEGIN { printf "%.2f s", c / 1e9 }')" \
		    "$([ -n "$pids" ] && awk -v c=$((p1 - p0)) 'BEGIN { printf "%.2f s", c / 1e9 }' || echo -)"
		sync
	done
done | tee "$T/rows"
awk '{ s[$1] += $3; n[$1]++ }
END {
	printf "means (MiB/s):"
	for (t in s)
		printf " %s %.1f", t, s[t] / n[t]
	printf "\nsignet / nginx: %.2f", s["signet"] / s["nginx"]
	if ("signet_b" in s)
		printf "; signet_b / nginx: %.2f; signet_b / signet: %.2f",
		    s["signet_b"] / s["nginx"], s["signet_b"] / s["signet"]
	printf "\n"
}' "$T/rows"
