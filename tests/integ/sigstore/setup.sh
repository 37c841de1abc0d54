#!/bin/sh
# Installs the pinned Sigstore JavaScript libraries (package-lock.json) when
# they are missing or older than the lock file, and prints the directory to
# run sgjs.mjs from: this one, or, when it is read-only (make distcheck), a
# copy of sgjs.mjs and the package files under ${TMPDIR:-/tmp}.
# Exits 77 (skip) when node or npm is not installed, 75 when npm ci fails
# (the npm registry out of reach); any other failure (a node too old for
# the libraries) is an error.
here=$(cd "$(dirname "$0")" && pwd) || exit 1
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "SKIP: node and npm are needed for the Sigstore JavaScript libraries" >&2
	exit 77
fi
dir=$here
if [ ! -w "$here" ]; then
	dir=${TMPDIR:-/tmp}/signet-sgjs-$(cat "$here/package-lock.json" "$here/sgjs.mjs" |
	    sha256sum | cut -c1-16)
	mkdir -p "$dir" || exit 1
	cp "$here/package.json" "$here/package-lock.json" "$here/sgjs.mjs" "$dir/" || exit 1
fi
cd "$dir" || exit 1
if [ ! -f node_modules/.package-lock.json ] ||
	[ -n "$(find package-lock.json -newer node_modules/.package-lock.json)" ]; then
	if ! npm ci --no-audit --no-fund --loglevel=error >&2; then
		# the registry out of reach is not a failure of what is tested
		echo "SKIP: npm ci failed (is the npm registry reachable?)" >&2
		exit 75
	fi
fi
node -e 'require("@sigstore/sign"); require("@sigstore/verify")' >&2 || exit 1
echo "$dir"
