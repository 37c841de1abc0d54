#!/bin/sh
# Fuzz every target for SECONDS each (default 60), two at a time, with
# libFuzzer (clang -fsanitize=fuzzer,address,undefined; Debian's clang and
# libclang-rt-14-dev).  Work directory: $FUZZ_DIR (default /tmp/signet-fuzz),
# one corpus per target seeded from tests/fuzz/corpus/TARGET; findings are
# written there as crash-*, leak-*, timeout-*.  Prints, per target, the
# executions, the coverage and the findings.
#   tests/fuzz/fuzz_all.sh [SECONDS] [TARGET...]
set -u
cd "$(dirname "$0")/../.." || exit 99
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-$(ls tests/fuzz/corpus)}
work=${FUZZ_DIR:-/tmp/signet-fuzz}
jobs=${FUZZ_JOBS:-2}
mkdir -p "$work"
CC=${CC:-clang}
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. -D_GNU_SOURCE"
LIBS="$(pkg-config --libs libevent libcurl jansson libsodium) -lmbedtls -lmbedx509 -lmbedcrypto"
CFLAGS_DEPS="$(pkg-config --cflags libevent libcurl jansson libsodium)"
srcs="$(ls core/*.c conf/*.c proxy/io/*.c proxy/client/*.c)"
for t in $targets; do
	echo "building fuzz_$t"
	# shellcheck disable=SC2086
	$CC $FLAGS $CFLAGS_DEPS -DPACKAGE_VERSION='"fuzz"' tests/fuzz/fuzz_$t.c \
	    $srcs -o "$work/fuzz_$t" $LIBS || exit 1
	mkdir -p "$work/corpus_$t"
	cp tests/fuzz/corpus/$t/* "$work/corpus_$t/"
done
run() {
	t=$1
	(cd "$work" && ASAN_OPTIONS=detect_leaks=1 top_srcdir=$OLDPWD \
	    ./fuzz_$t -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
	    -timeout=10 -artifact_prefix="$work/$t-" "corpus_$t" \
	    >"$work/$t.log" 2>&1)
	last=$(grep -E '^#[0-9]+' "$work/$t.log" | tail -1)
	execs=$(printf '%s' "$last" | sed -E 's/^#([0-9]+).*/\1/')
	cov=$(printf '%s' "$last" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
	ft=$(printf '%s' "$last" | sed -nE 's/.*ft: ([0-9]+).*/\1/p')
	found=$(ls "$work" | grep -c "^$t-" || true)
	echo "fuzz_$t: ${secs}s, ${execs:-0} executions, cov ${cov:-?} ft ${ft:-?}, $found finding(s)"
}
set -- $targets
while [ $# -gt 0 ]; do
	i=0
	while [ $i -lt "$jobs" ] && [ $# -gt 0 ]; do
		run "$1" &
		shift
		i=$((i + 1))
	done
	wait
done
