# tests/bench/common.sh: what the benchmark scripts share; sourced, not run.
#
# Before sourcing, set BENCH (the name in messages), BENCH_TOOLS (commands
# that must exist), BENCH_DEBS (the Debian packages that provide them) and
# KEEP (non-empty: keep the temporary directory).  Afterwards: srcdir,
# HELPERS, SIGNET (absolute), T (a private temporary directory), PIDS (add
# every process started; all are stopped on exit), failures=0.

here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
HELPERS=$srcdir/tests/integ/helpers.py

die() {
	echo "$BENCH: $*" >&2
	exit 2
}

# --- prerequisites: check, never install --------------------------------------

missing=""
for c in $BENCH_TOOLS; do
	command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
[ -z "$missing" ] || die "missing:$missing (Debian: apt-get install $BENCH_DEBS)"
[ -f "$HELPERS" ] || die "no $HELPERS"
if [ -z "${SIGNET:-}" ]; then
	if [ -x "$srcdir/signet" ]; then
		SIGNET=$srcdir/signet
	elif command -v signet >/dev/null 2>&1; then
		SIGNET=$(command -v signet)
	else
		die "no signet binary: build it (mkdir b && cd b &&" \
		    "$srcdir/configure && make signet) and set SIGNET=b/signet"
	fi
fi
[ -x "$SIGNET" ] || die "SIGNET=$SIGNET is not executable"
SIGNET=$(cd "$(dirname "$SIGNET")" && pwd)/$(basename "$SIGNET")

# signet reads these; the benchmarks want its defaults
unset COSIGN_REPOSITORY COSIGN_DOCKER_MEDIA_TYPES

# --- temporary directory, processes, cleanup ----------------------------------

T=$(mktemp -d "${TMPDIR:-/tmp}/signet-$BENCH.XXXXXX")
PIDS=""
failures=0

# stop PID: TERM, up to 5 s, then KILL (only processes this script started)
stop() {
	kill -TERM "$1" 2>/dev/null || true
	i=0
	while kill -0 "$1" 2>/dev/null && [ "$i" -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

cleanup() {
	rc=$?
	trap - EXIT INT TERM
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $PIDS; do
		stop "$p"
	done
	if [ "$rc" -ne 0 ] || [ -n "${KEEP:-}" ]; then
		for f in "$T"/*.log "$T"/nginx/error.log; do
			[ -s "$f" ] || continue
			echo "# ---- $f (last 20 lines)"
			tail -n 20 "$f" | cut -c1-400 | sed 's/^/# /'
		done
	fi
	if [ -n "${KEEP:-}" ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_ports N: N distinct free loopback ports, held open together while
# chosen, on one line
free_ports() {
	python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])
' "$1"
}

# wait_ready NAME PID URL: until URL answers 200, 15 s at most
wait_ready() {
	i=0
	while [ $i -lt 150 ]; do
		kill -0 "$2" 2>/dev/null || die "$1 exited at startup (see above)"
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$3" ||
		    true)
		[ "$code" = 200 ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	die "$1 did not answer 200 on $3 within 15 s"
}

now_ns() { date +%s%N; }

# libver BINARY LIBNAME: the Debian package version of a linked library
libver() {
	f=$(ldd "$1" 2>/dev/null | awk -v l="$2" '$1 ~ "^"l { print $3 }')
	[ -n "$f" ] || return 0
	f=$(readlink -f "$f")
	if command -v dpkg-query >/dev/null 2>&1 &&
	    pkg=$(dpkg -S "$f" 2>/dev/null | head -n1 | cut -d: -f1) &&
	    [ -n "$pkg" ]; then
		echo "$2 $(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null)"
	else
		basename "$f"
	fi
}

# print_versions [TOOL...]: signet with its libraries, the source tree, the
# registry, each TOOL given (skopeo, nginx), curl, python3 and the machine
print_versions() {
	echo "versions:"
	echo "  signet:          $("$SIGNET" version 2>&1 | head -n1) ($SIGNET;" \
	    "$(libver "$SIGNET" libcurl), $(libver "$SIGNET" libevent)," \
	    "$(libver "$SIGNET" libmbedcrypto), $(libver "$SIGNET" libjansson))"
	if command -v git >/dev/null 2>&1 &&
	    rev=$(git -C "$srcdir" describe --always --dirty 2>/dev/null); then
		echo "  source tree:     $srcdir at $rev"
	fi
	echo "  docker-registry: $(docker-registry --version 2>&1 | head -n1 |
	    sed 's/^docker-registry //')"
	for tool in "$@"; do
		case $tool in
		skopeo) echo "  skopeo:          $(skopeo --version 2>&1 | head -n1)" ;;
		nginx) echo "  nginx:           $(nginx -v 2>&1 | head -n1 |
		    sed 's/^nginx version: //')" ;;
		esac
	done
	echo "  curl:            $(curl --version | head -n1 | cut -d' ' -f1-3)"
	echo "  python3:         $(python3 --version 2>&1)"
	echo "  system:          $(uname -sr), Debian $(cat /etc/debian_version \
	    2>/dev/null || echo '?'), $(nproc) CPUs, $(awk -F': ' \
	    '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "  load average:    $(cut -d' ' -f1-3 /proc/loadavg) (other work on" \
	    "the machine shows in the numbers)"
}

# start_registry ADDR: a docker-registry on ADDR (host:port), storage in
# $T/registry, access log off, deletes allowed; REG_PID, REG_ROOT set
start_registry() {
	REG_ROOT=$T/registry
	mkdir -p "$REG_ROOT"
	cat >"$T/registry.yml" <<EOR
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $REG_ROOT
  delete:
    enabled: true
http:
  addr: $1
  secret: signet-$BENCH-$$
EOR
	docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
	REG_PID=$!
	PIDS="$PIDS $REG_PID"
}

# start_signet: signet serve -c $T/signet.json, log in $T/signet.log;
# SIG_PID set
start_signet() {
	"$SIGNET" serve -c "$T/signet.json" >"$T/signet.log" 2>&1 &
	SIG_PID=$!
	PIDS="$PIDS $SIG_PID"
}

# start_nginx DIR PORT BUFFERING: nginx before the registry on $REG_PORT,
# with ${NGX_WORKERS:-1} worker(s), its files in DIR; BUFFERING "tuned" is
# the reference (as operators front a registry), "default" nginx's
# defaults; NGINX_PID is the master's
start_nginx() {
	mkdir -p "$1"
	ngx_user=""
	if [ "$(id -u)" = 0 ]; then
		# workers must reach the private temporary directory
		ngx_user="user $(id -un) $(id -gn);"
	fi
	if [ "$3" = tuned ]; then
		bufs="proxy_buffering off;
			proxy_buffer_size 1m;
			proxy_buffers 4 1m;"
	else
		bufs="proxy_buffering on;"
	fi
	cat >"$1/nginx.conf" <<EOF
$ngx_user
daemon off;
master_process on;
worker_processes ${NGX_WORKERS:-1};
pid $1/nginx.pid;
error_log $1/error.log warn;
events {
	worker_connections 1024;
}
http {
	access_log off;
	client_body_temp_path $1/body;
	proxy_temp_path $1/proxy;
	fastcgi_temp_path $1/fastcgi;
	uwsgi_temp_path $1/uwsgi;
	scgi_temp_path $1/scgi;
	upstream registry {
		server 127.0.0.1:$REG_PORT;
		keepalive 32;
	}
	server {
		listen 127.0.0.1:$2;
		client_max_body_size 0;
		location / {
			proxy_pass http://registry;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$http_host;
			proxy_request_buffering off;
			$bufs
			proxy_read_timeout 600s;
			proxy_send_timeout 600s;
		}
	}
}
EOF
	nginx -p "$1" -e "$1/error.log" -c "$1/nginx.conf" >"$1.log" 2>&1 &
	NGINX_PID=$!
	PIDS="$PIDS $NGINX_PID"
}

# push_blob BASE REPO FILE DIGEST: a monolithic upload (POST, then PUT with
# the whole body); dies unless the answer is 201
push_blob() {
	pb_loc=$(curl -sS -X POST -D - -o /dev/null "$1/v2/$2/blobs/uploads/" |
	    tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
	case $pb_loc in /*) pb_loc=$1$pb_loc ;; esac
	case $pb_loc in *\?*) pb_loc="$pb_loc&digest=$4" ;; *) pb_loc="$pb_loc?digest=$4" ;; esac
	pb_st=$(curl -sS -o /dev/null -w '%{http_code}' -T "$3" -H 'Expect:' \
	    -H 'Content-Type: application/octet-stream' "$pb_loc")
	[ "$pb_st" = 201 ] || die "push to $1/$2: HTTP $pb_st"
}

# need_schedstat: dies unless the kernel keeps each thread's run time
need_schedstat() {
	[ "$(cut -d' ' -f1 /proc/$$/schedstat 2>/dev/null)" != 0 ] ||
	    die "this kernel keeps no schedstat run time"
}

# run_ns PID...: the scheduler's run time of every thread of the processes,
# summed, in ns (mawk's %d stops at 2^31: %.0f)
run_ns() {
	for p in "$@"; do cat "/proc/$p/task/"*/schedstat; done |
	    awk '{ t += $1 } END { printf "%.0f", t }'
}

# signet_json PORT MEMBERS: a pass-through configuration for signet on PORT
# before the registry on $REG_PORT, one worker, access log off, and MEMBERS
# (JSON, as '"splice": "always"') if not empty
signet_json() {
	cat <<EOF
{"listen": ["127.0.0.1:$1"], "upstream": {"url": "http://127.0.0.1:$REG_PORT"},
 "log": {"level": "warn", "access": false}, "workers": 1${2:+, $2}}
EOF
}

# start_registry_signet: a docker-registry on $REG_PORT and before it signet
# on $SIG_PORT ($T/signet.json), with BENCH_SIGNET_CONF's members
start_registry_signet() {
	start_registry "127.0.0.1:$REG_PORT"
	signet_json "$SIG_PORT" "${BENCH_SIGNET_CONF:-}" >"$T/signet.json"
	start_signet
	wait_ready docker-registry "$REG_PID" "http://127.0.0.1:$REG_PORT/v2/"
	wait_ready signet "$SIG_PID" "http://127.0.0.1:$SIG_PORT/v2/"
}

# start_signet_b: with SIGNET_B set, that build of signet (the same one, or
# another) beside the first on $SGB_PORT (SGB_PID), with the members of
# BENCH_SIGNET_B_CONF if set, else BENCH_SIGNET_CONF's; TARGETS gains
# signet_b
start_signet_b() {
	[ -n "${SIGNET_B:-}" ] || return 0
	signet_json "$SGB_PORT" "${BENCH_SIGNET_B_CONF-${BENCH_SIGNET_CONF:-}}" \
	    >"$T/signet_b.json"
	"$SIGNET_B" serve -c "$T/signet_b.json" >"$T/signet_b.log" 2>&1 &
	SGB_PID=$!
	PIDS="$PIDS $SGB_PID"
	wait_ready signet_b "$SGB_PID" "http://127.0.0.1:$SGB_PORT/v2/"
	TARGETS="$TARGETS signet_b"
}
