#!/bin/bash
# The image of docker/Dockerfile with the real Docker engine (Debian's
# docker.io, a dockerd of the test's own): built from a Debian base made by
# mmdebstrap from the apt archive, run with --network host, and used by
# docker itself: push through signet (signed: signet verify in the image,
# and tests/integ/cosign_check.py), pull back, an unsigned pull refused with
# signet's words, a manifest list, and TLS with the CA in
# /etc/docker/certs.d/HOST:PORT/ca.crt.
#
# scripts/test.sh runs it as its last stage.  Alone, as root:
#   SIGNET=build/plain/signet tests/docker/t_engine.sh
# Exit 0 passed, 77 skipped (dockerd cannot run here: a loud SKIP line),
# anything else failed.  KEEP_TMP=1 keeps the test directory (in /var/tmp
# unless TMPDIR is set; dockerd's data-root included) and its logs.
#
# The base image's tarball is kept in $SIGNET_TEST_CACHE
# (/var/cache/signet-test), made again when older than 30 days.
#
# Nothing global is changed: the test runs in a mount namespace of its own,
# where /etc/hosts and /etc/docker are private copies (docker reads
# certs.d there).  docker treats 127.0.0.0/8 as an insecure registry (plain
# HTTP, or TLS without verifying the certificate, certs.d not even read),
# so the TLS part names signet by a name that resolves to ::1 alone, which
# docker verifies.

# skip REASON: the loud line, then the exit code make check knows as SKIP
skip() {
	echo "################################################################"
	echo "SKIP: the Docker engine test (tests/docker/t_engine.sh): $*"
	echo "################################################################"
	exit 77
}

if [ -z "${SIGNET_ENGINE_NS:-}" ]; then
	[ "$(id -u)" -eq 0 ] || skip "dockerd needs root (running as uid $(id -u))"
	command -v unshare >/dev/null || skip "unshare (util-linux) is missing"
	unshare --mount --propagation private true 2>/dev/null ||
	    skip "no private mount namespace here (unshare --mount: not permitted)"
	SIGNET_ENGINE_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi

# dockerd's vfs data-root takes gigabytes (2.7 GiB): /var/tmp, on disk
# where /tmp is a tmpfs
export TMPDIR=${TMPDIR:-/var/tmp}
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo openssl dockerd mmdebstrap
require_pycrypto
# docker.io's own client, whatever other docker comes first on PATH
if [ -z "${DOCKER_CLI:-}" ]; then
	DOCKER_CLI=/usr/bin/docker
	[ -x "$DOCKER_CLI" ] || { require docker; DOCKER_CLI=$(command -v docker); }
fi
docker() { "$DOCKER_CLI" "$@"; }
CACHE=${SIGNET_TEST_CACHE:-/var/cache/signet-test}
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
TINY=$top_srcdir/scripts/tiny-image.sh
IMG=signet:engine-test
BASE=signet-test/bookworm:minbase
VOL=signet-engine-state
# a name docker will verify: it resolves to ::1, outside 127.0.0.0/8
NAME=signet-engine-test
t0=$(date +%s)
phase_start=$t0

# phase WORDS: how long the previous phase took, on a comment line
phase() {
	now=$(date +%s)
	echo "# ($((now - phase_start)) s) $*"
	phase_start=$now
}

# engine_cleanup: containers (their logs kept in $T), dockerd, the private
# mounts, then lib.sh's cleanup (registries, $T unless kept)
engine_cleanup() {
	if [ -n "${DOCKERD_PID:-}" ]; then
		for c in $(docker ps -aq 2>/dev/null); do
			n=$(docker inspect -f '{{.Name}}' "$c" 2>/dev/null)
			docker logs "$c" >"$T/container-${n#/}.log" 2>&1
			docker rm -f "$c" >/dev/null 2>&1
		done
		kill -TERM "$DOCKERD_PID" 2>/dev/null
		i=0
		while kill -0 "$DOCKERD_PID" 2>/dev/null && [ $i -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$DOCKERD_PID" 2>/dev/null
	fi
	# whatever dockerd left mounted under $T, then the private files
	grep -o " $T/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	umount /etc/hosts /etc/docker /run/containerd 2>/dev/null
	cleanup
}
trap engine_cleanup EXIT

# --- the private /etc/hosts and /etc/docker, no system containerd ---------
cp /etc/hosts "$T/hosts"
printf '::1\t%s\n' "$NAME" >>"$T/hosts"
mount --bind "$T/hosts" /etc/hosts
mkdir -p "$T/etc-docker/certs.d"
[ -d /etc/docker ] && cp -a /etc/docker/. "$T/etc-docker/"
mount --bind "$T/etc-docker" /etc/docker
# dockerd uses a running system containerd when it finds its socket here
if [ -d /run/containerd ]; then
	mkdir -p "$T/no-containerd"
	mount --bind "$T/no-containerd" /run/containerd
fi
check "private /etc/hosts: $NAME is ::1" test "$(getent hosts "$NAME" | cut -d' ' -f1)" = ::1
export DOCKER_CONFIG=$T/docker-config
mkdir -p "$DOCKER_CONFIG"

# --- dockerd --------------------------------------------------------------
# its data-root in memory when there is room: vfs copies every layer whole
# (2.7 GiB in all here), and deleting that from a disk mounted with discard
# took two minutes; the mount goes with the namespace
mkdir -p "$T/data"
avail=$(awk '/^MemAvailable:/ { print int($2 / 1048576) }' /proc/meminfo)
if [ "${avail:-0}" -ge 12 ] && mount -t tmpfs -o size=8g,mode=0711 signet-engine "$T/data"; then
	echo "# dockerd's data-root: a tmpfs (${avail} GiB of memory available)"
fi
export DOCKER_HOST=unix://$T/docker.sock
echo '{}' >"$T/daemon.json"
dockerd --config-file "$T/daemon.json" --storage-driver vfs --iptables=false \
    --ip6tables=false --bridge=none --data-root "$T/data" --exec-root "$T/exec" \
    --pidfile "$T/dockerd.pid" -H "$DOCKER_HOST" >"$T/dockerd.log" 2>&1 &
DOCKERD_PID=$!
i=0
until docker version >/dev/null 2>&1; do
	if ! kill -0 "$DOCKERD_PID" 2>/dev/null || [ $i -ge 600 ]; then
		tail -20 "$T/dockerd.log" | sed 's/^/# /'
		if grep -Eqi 'permission denied|operation not permitted|not supported' \
		    "$T/dockerd.log"; then
			skip "dockerd cannot run on this machine (above)"
		fi
		not_ok "dockerd started"
		finish
	fi
	sleep 0.1
	i=$((i + 1))
done
ok "dockerd $(docker version -f '{{.Server.Version}}') runs (vfs, no bridge, no iptables)"
phase "dockerd started"

# --- the base image: mmdebstrap from this machine's Debian mirror -------
# the first http(s) URI of a bookworm suite in apt's sources (one-line or
# deb822); deb.debian.org otherwise
debian_mirror() {
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	    /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
	/^deb[ \t]/ && / bookworm[ \t]/ {
		for (i = 2; i <= NF; i++)
			if ($i ~ /^https?:\/\//) { print $i; exit }
	}
	/^[ \t]*$/ { uris = "" }
	/^URIs:/ { uris = $2 }
	/^Suites:/ && uris ~ /^https?:/ && / bookworm( |$)/ { print uris; exit }'
}
base_tar=$CACHE/bookworm-minbase.tar
mkdir -p "$CACHE"
find "$CACHE" -maxdepth 1 -name bookworm-minbase.tar -mtime +30 -delete
# what an interrupted run left half made
find "$CACHE" -maxdepth 1 -name '.bookworm-minbase.*.tar' -mmin +60 -exec rm -rf {} +
if [ ! -f "$base_tar" ]; then
	mirror=$(debian_mirror)
	: "${mirror:=http://deb.debian.org/debian}"
	echo "# making the base image with mmdebstrap from $mirror (once; cached in $CACHE)"
	tmp=$CACHE/.bookworm-minbase.$$.tar
	if mmdebstrap --quiet --variant=minbase --format=tar \
	    --dpkgopt='path-exclude=/usr/share/doc/*' \
	    --dpkgopt='path-exclude=/usr/share/man/*' \
	    --dpkgopt='path-exclude=/usr/share/locale/*' \
	    bookworm "$tmp" "deb $mirror bookworm main" >"$T/mmdebstrap.log" 2>&1; then
		mv "$tmp" "$base_tar"
	else
		rm -rf "$tmp"
		tail -20 "$T/mmdebstrap.log" | sed 's/^/# /'
	fi
fi
check "base image tarball ($(du -m "$base_tar" 2>/dev/null | cut -f1) MiB)" test -f "$base_tar"
check "docker import of the base" eval 'docker import "$base_tar" "$BASE" >/dev/null'
phase "base image ready"

# --- the image ----------------------------------------------------------
# (each container costs seconds with vfs, which copies the image's files:
# the checks below share as few as they can)
if docker build --network host --build-arg BASE="$BASE" -f "$top_srcdir/docker/Dockerfile" \
    -t "$IMG" "$top_srcdir" >"$T/build.log" 2>&1; then
	ok "docker build -f docker/Dockerfile (FROM the mmdebstrap base)"
else
	tail -30 "$T/build.log" | sed 's/^/# /'
	# its first RUN is the first container this dockerd starts
	if grep -Eqi 'OCI runtime create failed.*(permission denied|operation not permitted)' \
	    "$T/build.log"; then
		skip "dockerd runs but cannot start a container on this machine (above)"
	fi
	not_ok "docker build -f docker/Dockerfile"
	finish
fi
phase "image built"

# its own configuration (docker/signet.json: state_dir, listen) starts
docker run -d --name signet-default --network none "$IMG" >/dev/null

# the key pair, made by the image in its state volume (owned by the signet
# user, so readable there: the README's way), and both files copied out
export COSIGN_PASSWORD=engine-test
mkdir -m 755 "$T/keys"
docker run --rm -e COSIGN_PASSWORD -v "$VOL:/var/lib/signet" --entrypoint sh "$IMG" -c '
	{ id -u; signet version; signet keygen --output-key-prefix /var/lib/signet/cosign; } >&2 &&
	tar -C /var/lib/signet -cf - cosign.key cosign.pub' 2>"$T/keygen.out" |
    tar -C "$T/keys" --no-same-owner -xf -
out=$(cat "$T/keygen.out")
expect_match "the image runs as signet (uid 10001)" "$out" '^10001$'
expect_match "signet version in the image" "$out" '^signet [0-9]'
expect_match "keygen in the image, into the state volume" "$out" \
    'Private key written to /var/lib/signet/cosign.key'
cp "$T/keys/cosign.pub" "$T/cosign.pub"
check "  both files copied out" grep -q 'BEGIN PUBLIC KEY' "$T/cosign.pub"
expect_match "  and starts with docker/signet.json" "$(docker logs signet-default 2>&1)" \
    'listening on 0.0.0.0:5000, upstream http://registry:5000'
docker rm -f signet-default >/dev/null

# a key file from the host, as keygen writes it (0600 root): unreadable by
# uid 10001 until chowned (the README's other way)
mkdir -m 755 "$T/rootkey"
cp "$T/keys/cosign.key" "$T/rootkey/cosign.key"
chmod 600 "$T/keys/cosign.key" "$T/rootkey/cosign.key"
chown 10001 "$T/keys/cosign.key"
for k in rootkey keys; do
	printf '{"listen": ["127.0.0.1:1"], "upstream": {"url": "http://127.0.0.1:1"},
	    "signing": {"key": "/%s/cosign.key"}}\n' "$k" >"$T/$k.json"
done
out=$(docker run --rm -e COSIGN_PASSWORD -v "$T/rootkey:/rootkey:ro" -v "$T/keys:/keys:ro" \
    -v "$T/rootkey.json:/rootkey.json:ro" -v "$T/keys.json:/keys.json:ro" --entrypoint sh \
    "$IMG" -c 'signet check-config -c /rootkey.json; echo; signet check-config -c /keys.json' 2>&1)
expect_match "a mounted root 0600 key: the signet user cannot read it" "$out" \
    'signing.key: .*Permission denied'
expect_match "  chown 10001: it can" "$out" "^configuration OK$"
phase "keys"

# --- signet in a container, plain HTTP on loopback ----------------------
start_registry up
P1=$(free_port)
PROXY1=127.0.0.1:$P1
POLICIES='"policies": [
    {"match": "engine/*", "sign": "required", "verify": "enforce",
     "keys": ["/var/lib/signet/cosign.pub"]},
    {"match": "*", "sign": "off", "verify": "off"}]'
cat >"$T/plain.json" <<EOC
{
  "listen": ["$PROXY1"],
  "upstream": {"url": "http://$REG_up"},
  "signing": {"key": "/var/lib/signet/cosign.key"},
  "state_dir": "/var/lib/signet",
  $POLICIES
}
EOC
# wait_healthy CONTAINER: until docker's HEALTHCHECK says healthy, 30 s
wait_healthy() {
	i=0
	while [ $i -lt 300 ]; do
		s=$(docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null)
		[ "$s" = healthy ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "# $1: health '$s'"
	return 1
}
docker run -d --name signet-plain --network host -e COSIGN_PASSWORD \
    -e SIGNET_HEALTHZ="http://$PROXY1/healthz" --health-interval 1s \
    -v "$VOL:/var/lib/signet" -v "$T/plain.json:/etc/signet/signet.json:ro" \
    "$IMG" >/dev/null
check "signet's container is healthy (HEALTHCHECK, SIGNET_HEALTHZ)" wait_healthy signet-plain
expect_eq "/healthz from the host" "$(curl -s "http://$PROXY1/healthz")" ok

# tiny images (scripts/tiny-image.sh) into docker's store
"$TINY" "$T/tiny" 1 >/dev/null
"$TINY" --arch arm64 --text "the arm64 one" "$T/tiny-arm64" 1 >/dev/null
"$TINY" --text "never signed" "$T/unsigned" 1 >/dev/null
load() { skopeo copy -q --dest-daemon-host "$DOCKER_HOST" "oci:$1:1" "docker-daemon:$2"; }
check "tiny images loaded into docker (skopeo, docker-daemon:)" eval \
    'load "$T/tiny" tiny/app:1 && load "$T/tiny-arm64" tiny/app:arm64'
# with Debian's busybox-static installed the tiny image has a shell
if [ -n "$(docker image inspect -f '{{.Config.Cmd}}' tiny/app:1 | tr -d '[]')" ]; then
	expect_match "the tiny image runs (busybox-static)" \
	    "$(docker run --rm --network none tiny/app:1 cat /etc/tiny-image 2>&1)" '^a tiny image'
fi

# pushed_digest OUTPUT: the digest docker push printed
pushed_digest() { printf '%s' "$1" | sed -n 's/^.*: digest: \(sha256:[0-9a-f]*\) size.*$/\1/p'; }
docker tag tiny/app:1 "$PROXY1/engine/app:1"
out=$(docker push "$PROXY1/engine/app:1" 2>&1)
dig=$(pushed_digest "$out")
expect_match "docker push through signet (plain HTTP, loopback)" "$dig" '^sha256:[0-9a-f]{64}$'
out=$(docker run --rm --network host -v "$VOL:/var/lib/signet:ro" --entrypoint signet "$IMG" \
    verify --allow-http --key /var/lib/signet/cosign.pub "$REG_up/engine/app:1" 2>&1)
expect_match "signet verify (in the image) accepts it" "$out" \
    "\"docker-manifest-digest\": \"$dig\""
out=$($CHECK "$REG_up" engine/app 1 "$T/cosign.pub" --want-ref "$REG_up/engine/app")
expect_match "cosign_check.py: signed by the key, docker-reference = the registry's name" \
    "$out" "\"digest\": \"$dig\", \"layers\": 1, \"valid\": 1"

docker rmi -f "$(docker images -q tiny/app:1)" >/dev/null 2>&1
out=$(docker pull "$PROXY1/engine/app:1" 2>&1)
expect_match "docker pull through signet" "$out" "Digest: $dig"
expect_eq "  the image is back, by the pushed digest" \
    "$(docker image inspect -f '{{index .RepoDigests 0}}' "$PROXY1/engine/app:1")" \
    "$PROXY1/engine/app@$dig"

# an unsigned image, pushed straight to the registry
skopeo copy -q --dest-tls-verify=false "oci:$T/unsigned:1" "docker://$REG_up/engine/unsigned:1"
out=$(docker pull "$PROXY1/engine/unsigned:1" 2>&1)
rc=$?
echo "# docker pull of an unsigned image says: $out"
check "docker pull of an unsigned image fails" test "$rc" -ne 0
expect_match "  with signet's words" "$out" \
    'denied: signet: sha256:[0-9a-f]{64} is not verified: no signature found'
phase "push, verify, pull, unsigned refused"

# a manifest list of two images pushed through signet
docker tag "$PROXY1/engine/app:1" "$PROXY1/engine/multi:amd64"
docker tag tiny/app:arm64 "$PROXY1/engine/multi:arm64"
for t in amd64 arm64; do
	out=$(docker push "$PROXY1/engine/multi:$t" 2>&1)
	check "docker push engine/multi:$t" test -n "$(pushed_digest "$out")"
done
out=$(docker manifest create --insecure "$PROXY1/engine/multi:1" \
    "$PROXY1/engine/multi:amd64" "$PROXY1/engine/multi:arm64" 2>&1)
expect_match "docker manifest create (reads both through signet)" "$out" '^Created manifest list'
out=$(docker manifest push --insecure "$PROXY1/engine/multi:1" 2>&1)
ldig=$(printf '%s' "$out" | grep -o 'sha256:[0-9a-f]\{64\}' | tail -1)
expect_match "docker manifest push --insecure through signet" "$ldig" '^sha256:[0-9a-f]{64}$'
out=$($CHECK "$REG_up" engine/multi 1 "$T/cosign.pub")
expect_match "the manifest list is signed" "$out" \
    "\"digest\": \"$ldig\", \"layers\": 1, \"valid\": 1"
expect_match "  it is a Docker manifest list" "$(curl -s -H \
    'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
    "http://$REG_up/v2/engine/multi/manifests/1")" \
    'application/vnd.docker.distribution.manifest.list.v2\+json'
out=$(docker manifest inspect --insecure "$PROXY1/engine/multi:1" 2>&1 | tr -d ' \n')
expect_match "docker manifest inspect through signet: both platforms" "$out" \
    '"architecture":"amd64".*"architecture":"arm64"'
docker rmi -f "$(docker images -q "$PROXY1/engine/multi:amd64")" >/dev/null 2>&1
out=$(docker pull "$PROXY1/engine/multi:1" 2>&1)
expect_match "docker pull of the list through signet" "$out" "Digest: $ldig"
phase "manifest list"

docker stop -t 30 signet-plain >/dev/null
expect_eq "docker stop: signet drains and exits 0" \
    "$(docker inspect -f '{{.State.ExitCode}}' signet-plain)" 0

# --- TLS: the CA in /etc/docker/certs.d/HOST:PORT/ca.crt ----------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=signet-engine-test-ca -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$NAME" \
    -keyout "$T/keys/tls.key" -out "$T/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s,IP:::1,IP:127.0.0.1\n' "$NAME" >"$T/ext"
openssl x509 -req -in "$T/tls.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -days 2 -extfile "$T/ext" -out "$T/keys/tls.pem" 2>/dev/null
chown 10001 "$T/keys/tls.key"
P2=$(free_port)
cat >"$T/tls.json" <<EOC
{
  "listen": ["[::1]:$P2", "127.0.0.1:$P2"],
  "tls": {"certificate": "/keys/tls.pem", "key": "/keys/tls.key"},
  "upstream": {"url": "http://$REG_up"},
  "signing": {"key": "/keys/cosign.key"},
  $POLICIES
}
EOC
sed -i 's|/var/lib/signet/cosign.pub|/keys/cosign.pub|' "$T/tls.json"
cp "$T/cosign.pub" "$T/keys/cosign.pub"
docker run -d --name signet-tls --network host -e COSIGN_PASSWORD \
    -e SIGNET_HEALTHZ="https://127.0.0.1:$P2/healthz" --health-interval 1s \
    -v "$T/keys:/keys:ro" -v "$T/tls.json:/etc/signet/signet.json:ro" "$IMG" >/dev/null
check "TLS signet's container is healthy (keys mounted, chowned 10001)" wait_healthy signet-tls
expect_eq "/healthz over TLS on [::1], verified with the CA" \
    "$(curl -s --cacert "$T/ca.pem" "https://$NAME:$P2/healthz")" ok

R=$NAME:$P2
docker tag "$PROXY1/engine/multi:1" "$R/engine/tls:1"
out=$(docker push "$R/engine/tls:1" 2>&1)
expect_match "without the CA, docker refuses $R's certificate" "$out" \
    'x509: certificate signed by unknown authority'
mkdir -p "/etc/docker/certs.d/$R"
cp "$T/ca.pem" "/etc/docker/certs.d/$R/ca.crt"
out=$(docker push "$R/engine/tls:1" 2>&1)
tdig=$(pushed_digest "$out")
expect_eq "with /etc/docker/certs.d/$R/ca.crt: docker push over TLS" "$tdig" "$dig"
out=$($CHECK "$REG_up" engine/tls 1 "$T/cosign.pub")
expect_match "  signed" "$out" "\"digest\": \"$dig\", \"layers\": 1, \"valid\": 1"
docker rmi -f "$(docker images -q "$R/engine/tls:1")" >/dev/null 2>&1
out=$(docker pull "$R/engine/tls:1" 2>&1)
expect_match "docker pull over TLS" "$out" "Digest: $dig"
out=$(docker pull "$R/engine/unsigned:1" 2>&1)
expect_match "an unsigned pull over TLS is refused with signet's words" "$out" \
    'denied: signet: sha256:[0-9a-f]{64} is not verified: no signature found'
# docker's own rule, which the README states: loopback is insecure, so a
# TLS signet on 127.0.0.1 is used without a CA (and without verification)
docker tag "$R/engine/tls:1" "127.0.0.1:$P2/engine/loop:1"
out=$(docker push "127.0.0.1:$P2/engine/loop:1" 2>&1)
expect_eq "TLS on 127.0.0.1 with no CA in certs.d: docker pushes (loopback is insecure)" \
    "$(pushed_digest "$out")" "$dig"
phase "TLS"

echo "# the Docker engine test took $(($(date +%s) - t0)) s"
finish
