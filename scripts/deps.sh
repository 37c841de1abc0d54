#!/bin/sh
# Install what signet needs to build and test, from Debian 12's archive.
# Only missing packages are installed; nothing is downloaded from elsewhere.
set -eu
BUILD="build-essential autoconf automake pkg-config libevent-dev
libcurl4-openssl-dev libmbedtls-dev libjansson-dev libsodium-dev"
RUN="docker-registry curl ca-certificates skopeo"
TEST="podman uidmap python3 python3-cryptography openssl nginx valgrind apache2-utils
haproxy python3-yaml iproute2"
# the Docker engine test (tests/docker/t_engine.sh): its own dockerd, and
# a base image made from the apt archive
DOCKER="docker.io mmdebstrap"
case "${1:-all}" in
build) want="$BUILD" ;;
run) want="$BUILD $RUN" ;;
docker) want="$DOCKER" ;;
*) want="$BUILD $RUN $TEST $DOCKER" ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    $missing >/dev/null
