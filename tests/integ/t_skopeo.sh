#!/bin/bash
# skopeo copies an OCI image, a Docker schema-2 image and a multi-arch index
# through signet; every digest equals direct access, and pulls give back the
# same bytes.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo

start_registry up
start_signet "http://$REG_up"
cp="skopeo copy -q --src-tls-verify=false --dest-tls-verify=false"
raw_digest() {
	skopeo inspect --raw --tls-verify=false "docker://$1" | sha256sum | cut -d' ' -f1
}

# OCI image
top=$(mkimage "$T/oci" --layers 3 --size 200000 --seed oci)
check "skopeo copy OCI image through signet" $cp "oci:$T/oci" "docker://$PROXY/t/oci:1"
expect_eq "OCI digest via signet = pushed" "sha256:$(raw_digest "$PROXY/t/oci:1")" "$top"
expect_eq "OCI digest via signet = direct" "$(raw_digest "$PROXY/t/oci:1")" \
    "$(raw_digest "$REG_up/t/oci:1")"

# Docker schema 2 (skopeo converts the OCI layout)
check "skopeo copy Docker schema-2 image through signet" \
    $cp --format v2s2 "oci:$T/oci" "docker://$PROXY/t/docker:1"
mt=$(skopeo inspect --raw --tls-verify=false "docker://$PROXY/t/docker:1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["mediaType"])')
expect_eq "schema-2 media type" "$mt" application/vnd.docker.distribution.manifest.v2+json
expect_eq "schema-2 digest via signet = direct" "$(raw_digest "$PROXY/t/docker:1")" \
    "$(raw_digest "$REG_up/t/docker:1")"

# multi-architecture index
top=$(mkimage "$T/multi" --layers 2 --size 100000 --arch amd64,arm64,s390x --seed multi)
check "skopeo copy --all of a 3-platform index through signet" \
    $cp --all "oci:$T/multi" "docker://$PROXY/t/multi:1"
expect_eq "index digest via signet = pushed" "sha256:$(raw_digest "$PROXY/t/multi:1")" "$top"
for arch in amd64 arm64 s390x; do
	d=$(skopeo inspect --tls-verify=false --override-arch "$arch" \
	    --format '{{.Digest}}' "docker://$PROXY/t/multi:1")
	dd=$(skopeo inspect --tls-verify=false --override-arch "$arch" \
	    --format '{{.Digest}}' "docker://$REG_up/t/multi:1")
	expect_eq "$arch child digest via signet = direct" "$d" "$dd"
done

# pull back through signet: every blob identical
check "skopeo copy --all from signet to an OCI layout" \
    $cp --all "docker://$PROXY/t/multi:1" "oci:$T/back:x"
n=0
for f in "$T"/back/blobs/sha256/*; do
	if cmp -s "$f" "$T/multi/blobs/sha256/$(basename "$f")"; then n=$((n + 1)); fi
done
expect_eq "all pulled blobs equal the pushed ones" "$n" \
    "$(ls "$T/multi/blobs/sha256" | wc -l)"

# copy between repositories of the same registry through signet (mounts)
check "skopeo copy between repositories through signet" \
    $cp "docker://$PROXY/t/oci:1" "docker://$PROXY/t/copy:1"
expect_eq "copied digest" "$(raw_digest "$PROXY/t/copy:1")" "$(raw_digest "$PROXY/t/oci:1")"

# delete through signet
check "skopeo delete through signet" skopeo delete --tls-verify=false "docker://$PROXY/t/copy:1"
expect_eq "deleted manifest is gone" "$(http_status HEAD "http://$REG_up/v2/t/copy/manifests/sha256:$(raw_digest "$PROXY/t/oci:1")" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json')" 404

stop_signet
finish
