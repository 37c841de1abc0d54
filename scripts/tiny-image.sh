#!/bin/sh
# tiny-image.sh: a first image with no internet: one small layer in an OCI
# layout directory, for skopeo, podman and (through skopeo) docker.
#
#   scripts/tiny-image.sh [--arch ARCH] [--text TEXT] DIR [TAG]
#
# The layer holds /etc/tiny-image (TEXT: different texts make different
# images) and, when Debian's busybox-static is installed and ARCH is this
# machine's, /bin/busybox and its commands (/bin/sh, ...), so the image
# runs.  The same inputs give the same digest.  Prints the manifest's
# digest.  Then, for example:
#
#   skopeo copy --dest-tls-verify=false oci:DIR:TAG docker://127.0.0.1:5000/demo:1
#   podman push --tls-verify=false "$(podman pull -q oci:DIR:TAG)" 127.0.0.1:5000/demo:1
#   skopeo copy oci:DIR:TAG docker-daemon:demo:1   # into docker's images
set -eu

usage() {
	echo "usage: $0 [--arch ARCH] [--text TEXT] DIR [TAG]" >&2
	exit 2
}

# the Go architecture names images use, from Debian's
goarch() {
	case $1 in
	i386) echo 386 ;;
	armhf | armel) echo arm ;;
	ppc64el) echo ppc64le ;;
	*) echo "$1" ;;
	esac
}

host=$(goarch "$(dpkg --print-architecture 2>/dev/null || uname -m)")
arch=$host
text="a tiny image made by signet's scripts/tiny-image.sh"
while [ $# -gt 0 ]; do
	case $1 in
	--arch) [ $# -ge 2 ] || usage; arch=$2; shift 2 ;;
	--text) [ $# -ge 2 ] || usage; text=$2; shift 2 ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
done
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
dir=$1
tag=${2:-latest}
case $tag in
*[!A-Za-z0-9_.-]* | '' | [.-]*) echo "$0: bad tag: $tag" >&2; exit 2 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/etc" "$dir/blobs/sha256"
printf '%s\n' "$text" >"$work/root/etc/tiny-image"
cmd=""
# a static busybox runs in any container; a dynamic one would need its libc
if [ "$arch" = "$host" ] && [ -x /bin/busybox ] &&
    ! ldd /bin/busybox >/dev/null 2>&1; then
	mkdir -p "$work/root/bin"
	cp /bin/busybox "$work/root/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$work/root/bin/$a"
	done
	cmd=',"Cmd":["/bin/sh"]'
fi

# blob FILE: moves FILE into the layout under its digest, prints the digest
blob() {
	d=$(sha256sum "$1" | cut -d' ' -f1)
	mv "$1" "$dir/blobs/sha256/$d"
	echo "$d"
}
size() { wc -c <"$dir/blobs/sha256/$1" | tr -d ' '; }

# reproducible: sorted names, no times, owners or gzip name
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -C "$work/root" -cf "$work/layer.tar" .
diffid=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -9 "$work/layer.tar"
layer=$(blob "$work/layer.tar.gz")

oci=application/vnd.oci.image
printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/bin"]%s},%s,%s}' \
    "$arch" "$cmd" "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diffid\"]}" \
    '"history":[{"created_by":"scripts/tiny-image.sh"}]' >"$work/config"
config=$(blob "$work/config")

# desc MEDIATYPE HEX: a descriptor of a blob in the layout
desc() {
	printf '{"mediaType":"%s","digest":"sha256:%s","size":%s' "$1" "$2" "$(size "$2")"
}
printf '{"schemaVersion":2,"mediaType":"%s","config":%s},"layers":[%s}]}' \
    "$oci.manifest.v1+json" "$(desc "$oci.config.v1+json" "$config")" \
    "$(desc "$oci.layer.v1.tar+gzip" "$layer")" >"$work/manifest"
manifest=$(blob "$work/manifest")

# one image per directory: index.json names this one under TAG
printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
printf '{"schemaVersion":2,"manifests":[%s,"annotations":{"%s":"%s"}}]}' \
    "$(desc "$oci.manifest.v1+json" "$manifest")" org.opencontainers.image.ref.name "$tag" \
    >"$dir/index.json"
echo "sha256:$manifest"
