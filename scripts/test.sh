#!/bin/sh
# The whole test suite, from a fresh Debian 12 machine: install what is
# missing, build, run `make check` (unit, fuzz corpus, style, integration
# tests with a real registry, skopeo and podman), run it again on an
# AddressSanitizer build, then `make distcheck`.  .ci/run runs exactly this.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
cd "$top"
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
jobs=$(nproc 2>/dev/null || echo 2)

# 1. the release build
mkdir -p build/plain
(cd build/plain && "$top/configure" -q && make -s -j"$jobs" &&
    make -s -j"$jobs" check) || { cat build/plain/test-suite.log 2>/dev/null; exit 1; }

# 2. the same tests under AddressSanitizer and UBSan; RSS is not asserted
#    there (shadow memory), everything else is
mkdir -p build/asan
(cd build/asan && "$top/configure" -q --enable-asan && make -s -j"$jobs" &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    SIGNET_SANITIZED=1 SIGNET_STREAM_MIB=256 make -s -j"$jobs" check) ||
    { cat build/asan/test-suite.log 2>/dev/null; exit 1; }

# 3. the distribution tarball builds and passes its tests
(cd build/plain && SIGNET_STREAM_MIB=64 make -s distcheck) ||
    { echo "make distcheck failed"; exit 1; }
echo "all tests passed"
