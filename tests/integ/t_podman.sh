#!/bin/bash
# podman pushes and pulls through signet, as a user would.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 podman

start_registry up
start_signet "http://$REG_up"
pm() { podman --root "$T/proot" --runroot "$T/prun" --storage-driver vfs "$@"; }

mkimage "$T/img" --layers 2 --size 500000 --seed podman >/dev/null
check "podman loads a local image" pm pull -q "oci:$T/img" >/dev/null
id=$(pm images -q | head -1)
expect_match "local image has an ID" "$id" '^[0-9a-f]{12}$'
check "podman push through signet" pm push -q --tls-verify=false \
    --digestfile "$T/digest" "$id" "$PROXY/pod/img:1"
d=$(cat "$T/digest")
expect_eq "pushed digest is at the registry" \
    "$(curl -s -o /dev/null -w '%{http_code}' -I \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REG_up/v2/pod/img/manifests/$d")" 200
pm rmi -a -f >/dev/null 2>&1
check "podman pull through signet" pm pull -q --tls-verify=false "$PROXY/pod/img:1"
expect_eq "pulled image has the pushed image's ID" "$(pm images -q | head -1)" "$id"
expect_eq "pulled digest" "$(pm images --digests --format '{{.Digest}}' | head -1)" "$d"
check "podman pull by digest through signet" pm pull -q --tls-verify=false "$PROXY/pod/img@$d"
stop_signet
finish
