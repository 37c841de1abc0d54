# tests/integ/lib.sh: shared setup for the integration tests, sourced by each.
# Starts a real docker-registry (CNCF distribution) and signet on free
# loopback ports in a private temporary directory, and cleans up on exit.
#
# Environment: top_srcdir, top_builddir, SIGNET (set by make check);
# SIGNET_VALGRIND=1 runs signet under valgrind (errors fail the test);
# CI=true or SIGNET_REQUIRE_ALL=1 turns a missing tool into a failure
# instead of a skip.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${SIGNET:=$top_builddir/signet}"
HELPERS="python3 $top_srcdir/tests/integ/helpers.py"
# lower-case and digits only: podman derives image names from paths
T=${TMPDIR:-/tmp}/signet-test.$$.$(date +%s%N)
mkdir -m 700 "$T" || exit 99
PIDS=""
# Sanitizer builds: reports from every signet run in this test (the server
# and the commands, whatever the test did with their stderr) go to files
# that fail the test in finish, and their exit code, 86, is never one of
# signet's own (0 success, 1 refused or failed, 2 usage).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86:log_path=$T/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=86:log_path=$T/sanitizer"
passed=0
failed=0
TEST_NAME=$(basename "$0" .sh)

cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$failed" -ne 0 ] || [ -n "${KEEP_TMP:-}" ]; then
		echo "# logs kept in $T"
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "# ---- $f (last 30 lines)"
			tail -n 30 "$f" | sed 's/^/# /'
		done
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }

# check DESCRIPTION COMMAND...: passes when the command succeeds
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# expect_eq DESCRIPTION GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got '$2', want '$3'"; fi
}

# expect_match DESCRIPTION TEXT REGEX (grep -E)
expect_match() {
	if printf '%s' "$2" | grep -Eq -- "$3"; then ok "$1"
	else not_ok "$1: '$(printf '%s' "$2" | head -c 300)' does not match /$3/"; fi
}

# sanitizer_reports: prints the reports written so far, fails if any
sanitizer_reports() {
	set -- "$T"/sanitizer.*
	[ -e "$1" ] || return 0
	for f in "$@"; do
		echo "# ---- $f"
		head -40 "$f" | sed 's/^/# /'
	done
	return 1
}

finish() {
	if sanitizer_reports; then ok "no sanitizer reports"
	else not_ok "sanitizer reports (above)"; fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}

require() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 && continue
		if [ "${CI:-}" = true ] || [ -n "${SIGNET_REQUIRE_ALL:-}" ]; then
			echo "FAIL: $c is not installed (scripts/deps.sh installs it)"
			exit 99
		fi
		echo "SKIP: $c is not installed (scripts/deps.sh installs it)"
		exit 77
	done
}

free_port() { $HELPERS free-port; }

# Debian's python3, which has python3-cryptography (the one first on PATH
# may be another build without it)
PYCRYPTO=/usr/bin/python3
require_pycrypto() {
	if "$PYCRYPTO" -c 'import cryptography' 2>/dev/null; then return 0; fi
	if [ "${CI:-}" = true ] || [ -n "${SIGNET_REQUIRE_ALL:-}" ]; then
		echo "FAIL: $PYCRYPTO lacks python3-cryptography"
		exit 99
	fi
	echo "SKIP: $PYCRYPTO lacks python3-cryptography"
	exit 77
}

# require_sgjs: the Sigstore JavaScript libraries (tests/integ/sigstore,
# installed when missing: a skip only where node or npm is missing and CI
# is not running); sets SGDIR and SGRUN for SG, which runs sgjs.mjs
require_sgjs() {
	require node npm
	SGDIR=$top_srcdir/tests/integ/sigstore
	SGRUN=$(sh "$SGDIR/setup.sh" 2>"$T/npm.log")
	rc=$?
	if [ $rc -ne 0 ]; then
		cat "$T/npm.log"
		[ $rc -eq 77 ] && [ "${CI:-}" != true ] && exit 77
		if [ $rc -eq 75 ]; then
			echo "SKIP: the Sigstore JavaScript libraries could not be" \
			    "installed from the npm registry (see above)"
			exit 77
		fi
		echo "FAIL: cannot install the Sigstore JavaScript libraries"
		exit 99
	fi
}
SG() { node "$SGRUN/sgjs.mjs" "$@"; }

# up_image REPO TAG SEED: an image of its own (one layer), pushed straight
# to $REG_up as REPO:TAG; prints its digest
up_image() {
	dir=$T/img-$(echo "$1-$2" | tr / -)
	d=$(mkimage "$dir" --layers 1 --size 8000 --seed "$3")
	skopeo copy -q --dest-tls-verify=false "oci:$dir" "docker://$REG_up/$1:$2"
	echo "$d"
}

# ec_keys NAME...: a P-256 key pair for each, $T/NAME.key (PKCS#8 PEM)
# and $T/NAME.pub
ec_keys() {
	for k in "$@"; do
		openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
		    openssl pkcs8 -topk8 -nocrypt -out "$T/$k.key"
		openssl pkey -in "$T/$k.key" -pubout -out "$T/$k.pub" 2>/dev/null
	done
}

# wait_http URL [CURL OPTIONS]: until it answers at all, 15 s at most
wait_http() {
	url=$1
	shift
	i=0
	while [ $i -lt 150 ]; do
		if curl -s -o /dev/null "$@" "$url"; then return 0; fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "timeout waiting for $url"
	return 1
}

# start_front VAR UPSTREAM QUIRKS: helpers.py quirk-front before UPSTREAM
# (host:port) on a free port; VAR is set to its host:port; its log is
# $T/front-VAR.log
start_front() {
	_front=127.0.0.1:$(free_port)
	$HELPERS quirk-front "${_front#*:}" "$2" "$3" >"$T/front-$1.log" 2>&1 &
	PIDS="$PIDS $!"
	printf -v "$1" %s "$_front"
	wait_http "http://$_front/v2/"
}

# wait_port PORT: until something listens on 127.0.0.1:PORT
wait_port() {
	i=0
	while [ $i -lt 150 ]; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "timeout waiting for port $1"
	return 1
}

# start_registry NAME [EXTRA YAML LINES]: sets REG_<NAME> to host:port
start_registry() {
	name=$1
	extra=${2:-}
	port=$(free_port)
	mkdir -p "$T/$name-data"
	cat >"$T/$name.yml" <<EOC
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $T/$name-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$extra
EOC
	docker-registry serve "$T/$name.yml" >"$T/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	eval "REG_${name}=127.0.0.1:$port"
	eval "REGPID_${name}=$!"
	case "$extra" in
	*tls:*) wait_http "https://127.0.0.1:$port/v2/" -k ;;
	*) wait_http "http://127.0.0.1:$port/v2/" ;;
	esac
}

# rekor_log: the key of a test transparency log (rekor_server.py) in
# $T/log.key and $T/log.pub, and its port in rport; start_rekor starts it
# (again, on the same entries), setting REKOR_PID
rekor_log() {
	openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
	    openssl pkcs8 -topk8 -nocrypt -out "$T/log.key"
	openssl pkey -in "$T/log.key" -pubout -out "$T/log.pub" 2>/dev/null
	rport=$(free_port)
}
start_rekor() {
	$PYCRYPTO "$top_srcdir/tests/integ/rekor_server.py" "$rport" "$T/log.key" \
	    "$T/rekor-state.json" >>"$T/rekor.log" 2>&1 &
	REKOR_PID=$!
	PIDS="$PIDS $REKOR_PID"
	wait_http "http://127.0.0.1:$rport/api/v1/log"
}

# queue_landed MSG: the Rekor queue in $T/state empties within 10 s, as a
# check named MSG
queue_landed() {
	for _i in $(seq 1 50); do
		ls "$T/state/rekor-queue/"*.json >/dev/null 2>&1 || break
		sleep 0.2
	done
	check "$1" sh -c "! ls '$T/state/rekor-queue/'*.json >/dev/null 2>&1"
}

# start_signet UPSTREAM_URL [EXTRA JSON MEMBERS]: sets PROXY, SIGNET_PID (the
# master's, with several workers)
start_signet() {
	up=$1
	extra=${2:-}
	# SIGNET_WORKERS=N: that many worker processes (default: the cores)
	case "$extra" in
	*'"workers"'*) ;;
	*) [ -n "${SIGNET_WORKERS:-}" ] &&
		extra="\"workers\": $SIGNET_WORKERS${extra:+, $extra}" ;;
	esac
	SIGNET_PORT=$(free_port)
	PROXY=127.0.0.1:$SIGNET_PORT
	cat >"$T/signet.json" <<EOC
{
  "listen": ["$PROXY"],
  "upstream": {"url": "$up"${UPSTREAM_EXTRA:-}},
  "log": {"level": "${SIGNET_LOG_LEVEL:-info}"}${extra:+,
  $extra}
}
EOC
	run_signet
	wait_http "${PROXY_SCHEME:-http}://$PROXY/healthz" -k
}

# signet_workers: how many worker processes the signet started last serves
# with (its master says so; one process has no master)
signet_workers() {
	n=$(sed -n 's/.*"msg":"master (pid [0-9]*): \([0-9]*\) workers serving".*/\1/p' \
	    "$T/signet.log" | tail -1)
	echo "${n:-1}"
}

# per_worker_limit KEY REASON: limits.KEY is per worker.  A signet on
# $REG_up with 2 workers and limits.KEY 3; 20 kept connections made one
# after the other are spread by the kernel; each worker holds at most 3 and
# closes the ones beyond at once (logging REASON with its number), so more
# than 3 and at most 6 are served in all.  Stops that signet.
per_worker_limit() {
	: >"$T/signet.log"
	start_signet "http://$REG_up" "\"workers\": 2, \"limits\": {\"$1\": 3}"
	sleep 1		# the start's own /healthz connection is gone by now
	n0=$(wc -l <"$T/signet.log")
	python3 - "$SIGNET_PORT" >"$T/per.out" 2>&1 <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held, served = [], 0
for _ in range(20):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = s.recv(200)
    except OSError:
        data = b""
    if data.startswith(b"HTTP/1.1 200"):
        served += 1
    held.append(s)	# kept open, served or not
print("served %d of 20" % served, flush=True)
time.sleep(0.5)
PY
	served=$(sed -n 's/^served \([0-9]*\) of 20$/\1/p' "$T/per.out")
	bad=0
	for w in 0 1; do
		tail -n +"$((n0 + 1))" "$T/signet.log" | grep "\"worker\":$w," >"$T/per.$w"
		kept=$(grep '"path":"/healthz"' "$T/per.$w" | grep -c '"peer":"127.0.0.1:')
		refused=$(grep -c "$2" "$T/per.$w")
		echo "# $1 3, worker $w: served $kept, refused $refused"
		[ "$kept" -le 3 ] || bad=$((bad + 1))
		[ "$refused" -eq 0 ] || [ "$kept" -ge 3 ] || bad=$((bad + 1))
	done
	expect_eq "$1 3 per worker: each holds at most 3 and refuses only beyond" "$bad" 0
	check "  more than 3 of 20 served in all ($served)" test "${served:-0}" -gt 3
	check "  and at most 2 x 3 ($served)" test "${served:-99}" -le 6
	stop_signet
}

# run_signet: start $SIGNET on $T/signet.json, logging to $T/signet.log
run_signet() {
	if [ -n "${SIGNET_VALGRIND:-}" ]; then
		valgrind -q --error-exitcode=3 --leak-check=full \
		    --errors-for-leak-kinds=definite "$SIGNET" serve \
		    -c "$T/signet.json" >>"$T/signet.log" 2>&1 &
	else
		"$SIGNET" serve -c "$T/signet.json" >>"$T/signet.log" 2>&1 &
	fi
	SIGNET_PID=$!
	PIDS="$PIDS $SIGNET_PID"
}

# What the sanitizers and valgrind's memcheck report (its uninitialised
# reads too: the exit code 3 alone would name nothing)
MEMCHECK_ERRORS='AddressSanitizer|LeakSanitizer|runtime error:|Invalid (read|write|free)'
MEMCHECK_ERRORS="$MEMCHECK_ERRORS|definitely lost|Conditional jump or move|uninitialised"
MEMCHECK_ERRORS="$MEMCHECK_ERRORS|Mismatched free|Source and destination overlap"

# stop_signet: SIGTERM, wait, and check a clean exit and a clean log
stop_signet() {
	kill -TERM "$SIGNET_PID" 2>/dev/null
	wait "$SIGNET_PID"
	rc=$?
	expect_eq "signet exits 0 after SIGTERM" "$rc" 0
	if grep -Eq "$MEMCHECK_ERRORS" "$T/signet.log" || ! sanitizer_reports; then
		not_ok "sanitizer or valgrind report in signet.log"
		grep -E -A20 "$MEMCHECK_ERRORS" "$T/signet.log" | head -60 | sed 's/^/# /'
	else
		ok "no memory errors or leaks reported"
	fi
}

# http_status METHOD URL [CURL OPTIONS]: prints the status code
http_status() {
	m=$1
	u=$2
	shift 2
	if [ "$m" = HEAD ]; then
		curl -s -o /dev/null -w '%{http_code}' -I "$@" "$u"
	else
		curl -s -o /dev/null -w '%{http_code}' -X "$m" "$@" "$u"
	fi
}

# mkimage DIR [OPTIONS]: an OCI layout; prints the top digest
mkimage() { $HELPERS mkimage "$@"; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# put_blob BASE REPO FILE [CURL_ARGS...]: FILE pushed as a blob of REPO at
# BASE (http[s]://host:port) in one PUT (POST, then PUT ?digest=); prints
# its digest
put_blob() {
	_base=$1 _repo=$2 _file=$3
	shift 3
	_dig=sha256:$(sha256_of "$_file")
	_loc=$(curl -s "$@" -D - -o /dev/null -X POST "$_base/v2/$_repo/blobs/uploads/" |
	    sed -n 's/^Location: *//Ip' | tr -d '\r')
	case $_loc in /*) _loc="$_base$_loc" ;; esac
	curl -s "$@" -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
	    --data-binary @"$_file" "$_loc&digest=$_dig"
	echo "$_dig"
}

# child_digest REPO:TAG ARCH: the digest of one platform's manifest in an
# index at $REG_up (skopeo inspect --format {{.Digest}} gives the index's)
child_digest() {
	curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' \
	    "http://$REG_up/v2/${1%%:*}/manifests/${1#*:}" | python3 -c '
import json, sys
for m in json.load(sys.stdin)["manifests"]:
    if m["platform"]["architecture"] == sys.argv[1]:
        print(m["digest"])' "$2"
}
