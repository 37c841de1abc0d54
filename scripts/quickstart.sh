#!/bin/sh
# Quickstart: install what is missing, build signet, start a local CNCF
# distribution registry on 127.0.0.1:5001 (storage under ./state) and signet
# on 127.0.0.1:5000 in front of it, signing every push with a key pair made
# on the first run (./state/cosign.key, .pub) and refusing pulls of images
# it did not sign.  Ctrl-C stops both.
#
# The key's password comes from COSIGN_PASSWORD; when it is not set, the
# first run makes one, prints it, and keeps it in ./state/cosign.password.
# SIGNET_STATE names another state directory.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
state=${SIGNET_STATE:-$top/state}
signet=$top/build/plain/signet
"$top/scripts/deps.sh" run
cd "$top"
if [ ! -x "$signet" ]; then
	autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
	mkdir -p build/plain
	(cd build/plain && "$top/configure" -q 2>configure.err) ||
	    { cat build/plain/configure.err; exit 1; }
	make -s -C build/plain -j"$(nproc)" signet
fi
mkdir -p "$state/registry" "$state/signet"
state=$(cd "$state" && pwd)

# The key pair, once.  The password file sits next to the key it opens:
# fine for a demonstration, not for a key that matters.
newkey=""
if [ ! -f "$state/cosign.key" ]; then
	if [ -z "${COSIGN_PASSWORD+set}" ]; then
		COSIGN_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
		(umask 077 && printf '%s\n' "$COSIGN_PASSWORD" >"$state/cosign.password")
		newkey=generated
	else
		newkey=given
	fi
	export COSIGN_PASSWORD
	"$signet" keygen --output-key-prefix "$state/cosign" >/dev/null
elif [ -z "${COSIGN_PASSWORD+set}" ]; then
	if [ ! -f "$state/cosign.password" ]; then
		echo "set COSIGN_PASSWORD to the password of $state/cosign.key" >&2
		exit 1
	fi
	COSIGN_PASSWORD=$(cat "$state/cosign.password")
	export COSIGN_PASSWORD
fi
# signet runs in the state directory: conf/quickstart.json's paths are
# relative to it
cd "$state"
out=$("$signet" check-config -c "$top/conf/quickstart.json" 2>&1) || {
	printf '%s\n(paths relative to %s; the password comes from COSIGN_PASSWORD,\n' \
	    "$out" "$state" >&2
	echo "else from $state/cosign.password)" >&2
	exit 1
}

cat >"$state/registry.yml" <<EOC
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $state/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5001
EOC
docker-registry serve "$state/registry.yml" >"$state/registry.log" 2>&1 &
reg=$!
trap 'kill $reg 2>/dev/null' EXIT
trap 'exit 0' INT TERM
i=0
until curl -s -o /dev/null http://127.0.0.1:5001/v2/; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $reg 2>/dev/null; then
		echo "the registry did not start: see $state/registry.log" >&2
		exit 1
	fi
	sleep 0.1
done

case $newkey in
generated)
	cat <<EOM
A key pair for signing: $state/cosign.key and cosign.pub.
Its password, shown this once (and kept in $state/cosign.password):

  $COSIGN_PASSWORD

EOM
	;;
given)
	echo "A key pair for signing: $state/cosign.key and cosign.pub (password: COSIGN_PASSWORD)."
	echo
	;;
esac
# the commands are printed with paths relative to the source tree
r() { echo "${1#"$top"/}"; }
cat <<EOM
signet is starting on 127.0.0.1:5000 in front of the registry on 127.0.0.1:5001
(storage in $(r "$state")/registry).  It signs every image pushed through it
with $(r "$state")/cosign.key and refuses to pull any image it cannot verify
with cosign.pub.  In another terminal, in $top, try:

  # a tiny image (one small layer) in an OCI layout directory: no internet
  scripts/tiny-image.sh /tmp/tiny 1
  # pushed through signet: signed before the tag exists
  skopeo copy --dest-tls-verify=false oci:/tmp/tiny:1 docker://127.0.0.1:5000/demo:1
  build/plain/signet verify --allow-http --key $(r "$state")/cosign.pub 127.0.0.1:5000/demo:1
  skopeo copy --src-tls-verify=false docker://127.0.0.1:5000/demo:1 oci:/tmp/back:1

  # pushed straight to the registry, so unsigned: refused through signet
  scripts/tiny-image.sh --text unsigned /tmp/unsigned 1
  skopeo copy --dest-tls-verify=false oci:/tmp/unsigned:1 docker://127.0.0.1:5001/demo:2
  skopeo inspect --tls-verify=false docker://127.0.0.1:5000/demo:2

  podman push --tls-verify=false "\$(podman pull -q oci:/tmp/tiny:1)" 127.0.0.1:5000/demo:3
  skopeo copy oci:/tmp/tiny:1 docker-daemon:demo:1 && docker tag demo:1 127.0.0.1:5000/demo:4 &&
      docker push 127.0.0.1:5000/demo:4    # docker treats 127.0.0.1 as insecure already

One JSON line per request follows.  Ctrl-C stops signet and the registry.

EOM
"$signet" serve -c "$top/conf/quickstart.json"
