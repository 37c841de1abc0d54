#!/bin/sh
# The architecture, checked: dependencies run one way,
#   commands -> server or client -> io -> conf -> core,
# and of the commands only `serve` (and main, which dispatches to it) may
# use the server.  A file may include its own folder's header and the
# headers of the layers below it, nothing else of the project; headers of a
# layer include only the layer below.  The build turns an undeclared call
# into an error (-Werror=implicit-function-declaration), so the includes
# are the whole dependency graph.  A file declaring project functions
# itself (extern px_..., core_..., conf_...) to get around this fails too.
cd "${top_srcdir:-$(dirname "$0")/..}" || exit 99
bad=0
n=0

# rank LAYER: the layers in order, lowest first
rank() {
	case $1 in
	core) echo 0 ;; conf) echo 1 ;; io) echo 2 ;; client) echo 3 ;;
	server) echo 4 ;; cmd) echo 5 ;; *) echo 99 ;;
	esac
}

# layer_of PATH: the layer a project header or source file belongs to
layer_of() {
	case $1 in
	core/*) echo core ;; conf/*) echo conf ;;
	proxy/io/* | io.h) echo io ;; proxy/client/* | client.h) echo client ;;
	proxy/server/* | server.h) echo server ;; proxy/cmd/* | cmd.h) echo cmd ;;
	*) echo unknown ;;
	esac
}

# check FILE: prints each violation; the number of them
check() {
	f=$1
	v=0
	me=$(layer_of "$f")
	myrank=$(rank "$me")
	if [ "$me" = unknown ]; then
		echo "layers: $f is in no layer (core, conf, proxy/io, proxy/client, proxy/server, proxy/cmd)"
		return 1
	fi
	for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
		case $inc in
		*/*) target=$inc ;;
		*) target=$(dirname "$f")/$inc ;;
		esac
		them=$(layer_of "$target")
		r=$(rank "$them")
		if [ "$them" = unknown ]; then
			echo "layers: $f includes $inc, which belongs to no layer"
			v=$((v + 1))
		elif [ "$r" -gt "$myrank" ]; then
			echo "layers: $f ($me) includes $inc ($them): against the direction"
			v=$((v + 1))
		elif [ "$me" = cmd ] && [ "$them" = server ] &&
		    [ "$f" != proxy/cmd/serve.c ]; then
			echo "layers: $f uses the server; only serve may"
			v=$((v + 1))
		fi
	done
	if grep -Eq '^[[:space:]]*extern[^;]*(px|core|conf)_[a-z_0-9]+\(' "$f"; then
		echo "layers: $f declares a project function itself"
		v=$((v + 1))
	fi
	return $v
}

for f in core/*.[ch] conf/*.[ch] proxy/*/*.[ch]; do
	n=$((n + 1))
	check "$f" || bad=$((bad + 1))
done

# the check must catch what it is for: samples against the direction
tmp=${TMPDIR:-/tmp}/layers.$$
mkdir -p "$tmp/proxy/io" "$tmp/proxy/cmd" "$tmp/core"
printf '#include "proxy/server/server.h"\n' >"$tmp/proxy/io/x.c"
printf '#include "proxy/server/server.h"\n' >"$tmp/proxy/cmd/copy.c"
printf '#include "conf/conf.h"\n' >"$tmp/core/x.c"
printf 'extern int px_relay_start(void);\n' >"$tmp/proxy/cmd/y.c"
for sample in proxy/io/x.c proxy/cmd/copy.c core/x.c proxy/cmd/y.c; do
	if (cd "$tmp" && check "$sample" >/dev/null); then
		echo "layers: the sample $sample was not caught"
		bad=$((bad + 1))
	fi
done
rm -rf "$tmp"

if [ "$bad" -eq 0 ]; then
	echo "$n passed, 0 failed"
	exit 0
fi
echo "$n passed, $bad failed"
exit 1
