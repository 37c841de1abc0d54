#!/bin/sh
# The whole test suite, from a fresh Debian 12 machine: install what is
# missing, build, run `make check` (unit, fuzz corpus, style, integration
# tests with a real registry, skopeo and podman), run it again on an
# AddressSanitizer/UBSan build, then `make distcheck`, then the image of
# docker/Dockerfile with the real Docker engine.  .ci/run runs exactly this.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
cd "$top"
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
jobs=$(nproc 2>/dev/null || echo 2)

# configure_in DIR [OPTIONS]: a build directory, quiet unless it fails
# (configure's "rm: cannot remove 'core'" is noise: core/ is a folder here)
configure_in() {
	dir=$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q "$@" 2>configure.err) ||
	    { cat "$dir/configure.err"; exit 1; }
	make -s -C "$dir" -j"$jobs"
}

# check_in DIR: make check, printing the failed tests' logs on failure
check_in() {
	make -s -C "$1" -j"$jobs" check || {
		cat "$1/test-suite.log"
		exit 1
	}
}

# 1. the release build
configure_in build/plain
check_in build/plain

# 2. the same tests under AddressSanitizer and UBSan; peak RSS is not
#    asserted there (shadow memory), everything else is
configure_in build/asan --enable-asan
(
	# exit code 86 for a sanitizer report: never one of signet's own
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86
	export SIGNET_SANITIZED=1 SIGNET_STREAM_MIB=256
	check_in build/asan
)

# 3. the distribution tarball builds and passes its tests
SIGNET_STREAM_MIB=64 make -s -C build/plain distcheck \
    DISTCHECK_CONFIGURE_FLAGS=-q >build/distcheck.log 2>&1 ||
    { tail -100 build/distcheck.log; echo "make distcheck failed"; exit 1; }
echo "make distcheck: OK"

# 4. the image with the real Docker engine (a dockerd of its own, a base
#    image made by mmdebstrap, docker push and pull through signet); a loud
#    SKIP when dockerd cannot run on this machine, any other failure fails
start=$(date +%s)
rc=0
top_srcdir="$top" SIGNET="$top/build/plain/signet" bash tests/docker/t_engine.sh \
    >build/engine.log 2>&1 || rc=$?
grep -E '^(ok|not ok|SKIP|#####|# \(|# docker|# the Docker|[0-9]+ passed)' build/engine.log
case $rc in
0) echo "Docker engine test: OK ($(($(date +%s) - start)) s)" ;;
77) echo "Docker engine test: SKIPPED (see above)" ;;
*)
	grep -v '^ok' build/engine.log | tail -100
	echo "the Docker engine test failed (build/engine.log)"
	exit 1
	;;
esac
echo "all tests passed"
