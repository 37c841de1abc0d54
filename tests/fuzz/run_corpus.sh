#!/bin/sh
# Replay every fuzz target's seed corpus (tests/fuzz/corpus/TARGET/) through
# the target built with replay.c: a crash, a trap or a sanitizer report
# fails the test.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
export top_srcdir
bad=0
n=0
for dir in "$top_srcdir"/tests/fuzz/corpus/*/; do
	t=$(basename "$dir")
	bin=$top_builddir/tests/fuzz/fuzz_$t
	if [ ! -x "$bin" ]; then
		echo "no target for corpus $t"
		bad=$((bad + 1))
		continue
	fi
	set -- "$dir"*
	if [ ! -e "$1" ]; then
		echo "empty corpus for $t"
		bad=$((bad + 1))
		continue
	fi
	if out=$("$bin" "$@" 2>&1); then
		echo "fuzz_$t: $out"
		n=$((n + $#))
	else
		echo "fuzz_$t failed:"
		echo "$out" | tail -20
		bad=$((bad + 1))
	fi
done
echo "$n passed, $bad failed"
[ "$bad" -eq 0 ]
