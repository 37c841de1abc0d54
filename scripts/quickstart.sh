#!/bin/sh
# Quickstart: install what is missing, build signet, start a local CNCF
# distribution registry on 127.0.0.1:5001 (storage under ./state) and signet
# on 127.0.0.1:5000 in front of it.  Ctrl-C stops both.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
state=${SIGNET_STATE:-$top/state}
"$top/scripts/deps.sh" run
cd "$top"
if [ ! -x build/plain/signet ]; then
	autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
	mkdir -p build/plain
	(cd build/plain && "$top/configure" -q 2>configure.err) ||
	    { cat build/plain/configure.err; exit 1; }
	make -s -C build/plain -j"$(nproc)" signet
fi
mkdir -p "$state/registry"
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
trap 'kill $reg 2>/dev/null; exit 0' INT TERM EXIT
i=0
until curl -s -o /dev/null http://127.0.0.1:5001/v2/; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "the registry did not start: see $state/registry.log" >&2
		exit 1
	fi
	sleep 0.1
done
cat <<EOM
signet is starting on 127.0.0.1:5000, in front of the registry on 127.0.0.1:5001
(storage in $state/registry).  In another terminal, try:

  podman push --tls-verify=false IMAGE 127.0.0.1:5000/demo:1
  skopeo copy --dest-tls-verify=false docker-archive:image.tar docker://127.0.0.1:5000/demo:1
  skopeo inspect --tls-verify=false docker://127.0.0.1:5000/demo:1
  podman pull --tls-verify=false 127.0.0.1:5000/demo:1
  curl -s http://127.0.0.1:5000/v2/_catalog

docker treats 127.0.0.1 as an insecure registry already: docker push 127.0.0.1:5000/demo:1
One JSON line per request follows.  Ctrl-C stops signet and the registry.

EOM
"$top/build/plain/signet" serve -c "$top/conf/quickstart.json"
