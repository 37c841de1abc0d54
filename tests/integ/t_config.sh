#!/bin/bash
# signet check-config and serve validate the whole file and name what is wrong.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require python3

# quickstart.json names its key and state_dir relative to the state
# directory, where scripts/quickstart.sh starts signet
mkdir -p "$T/qs/signet"
out=$(cd "$T/qs" && COSIGN_PASSWORD=qs "$SIGNET" keygen --output-key-prefix cosign 2>&1 &&
    COSIGN_PASSWORD=qs "$SIGNET" check-config -c "$top_srcdir/conf/quickstart.json" 2>&1)
expect_match "shipped quickstart.json is valid" "$out" "configuration OK$"

cp "$top_srcdir/tests/vectors/worked-example/cosign.key" "$T/cosign.key"
sed -e "s|/etc/signet/cosign.key|$T/cosign.key|" "$top_srcdir/conf/signing.json" >"$T/signing.json"
out=$(COSIGN_PASSWORD=test "$SIGNET" check-config -c "$T/signing.json" 2>&1)
expect_eq "shipped signing.json is valid (key decrypted)" "$out" "configuration OK"
out=$(COSIGN_PASSWORD=nope "$SIGNET" check-config -c "$T/signing.json" 2>&1)
expect_match "a wrong key password is named" "$out" 'signing.key: .*wrong password'

W=$top_srcdir/tests/vectors/worked-example
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=test-fulcio -keyout "$T/fulcio.key" -out "$T/fulcio.pem" 2>/dev/null
sed -e "s|/etc/signet/cosign.key|$W/cosign.key|" -e "s|/etc/signet/cosign.pub|$W/cosign.pub|" \
    -e "s|/etc/signet/rekor.pub|$W/rekor.pub|" -e "s|/etc/signet/fulcio.pem|$T/fulcio.pem|" \
    "$top_srcdir/conf/verify.json" >"$T/verify.json"
out=$(COSIGN_PASSWORD=test "$SIGNET" check-config -c "$T/verify.json" 2>&1)
expect_eq "shipped verify.json is valid" "$out" "configuration OK"
printf '{"listen": ["127.0.0.1:1"], "upstream": {"url": "http://a"}, "policies": [%s]}' \
    '{"match": "*", "verify": "enforce", "keyless": [{"ca_roots": "/nonexistent.pem", "identity_regexp": "(", "issuer": "x"}]}' \
    >"$T/kl.json"
out=$("$SIGNET" check-config -c "$T/kl.json" 2>&1)
expect_match "keyless: missing roots named" "$out" 'policies\[0\].keyless\[0\].ca_roots: /nonexistent.pem'
expect_match "keyless: bad regular expression named" "$out" 'identity_regexp: not a valid extended regular expression'
expect_match "keyless: needs Rekor keys" "$out" 'keyless signers need rekor.public_key'
printf '{"listen": ["127.0.0.1:1"], "upstream": {"url": "http://a"}, "policies": [%s]}' \
    '{"match": "*", "verify": "enforce"}' >"$T/nokeys.json"
out=$("$SIGNET" check-config -c "$T/nokeys.json" 2>&1)
expect_match "verify without signers named" "$out" 'verify needs at least one trusted key or keyless signer'

# (its state_dir is the image's /var/lib/signet: a directory here instead)
mkdir -p "$T/state"
sed "s|/var/lib/signet|$T/state|" "$top_srcdir/docker/signet.json" >"$T/docker.json"
out=$("$SIGNET" check-config -c "$T/docker.json" 2>&1)
expect_eq "docker/signet.json is valid" "$out" "configuration OK"
check "  and names the image's state_dir" grep -q '"state_dir": "/var/lib/signet"' \
    "$top_srcdir/docker/signet.json"

# the Kubernetes files (docker/k8s) name only what exists: the YAML
# parses, the ConfigMap's signet.json is valid and mounted where the image
# reads it, the key where the Secret puts it, the ports agree, and the
# probes ask paths signet serves; the HAProxy example is valid
if "$PYCRYPTO" -c 'import yaml' 2>/dev/null; then
	K=$top_srcdir/docker/k8s
	out=$("$PYCRYPTO" "$top_srcdir/tests/integ/k8s_check.py" "$K" "$top_srcdir/docker/Dockerfile")
	rc=$?
	echo "$out" | grep '^bad' | sed 's/^/# /'
	expect_eq "docker/k8s: the manifests agree with each other and signet.json" "$rc" 0
	mkdir -p "$T/k8s-state"
	COSIGN_PASSWORD=k8s "$SIGNET" keygen --output-key-prefix "$T/k8s" >/dev/null
	port=$(free_port)
	sed -e "s|/var/lib/signet|$T/k8s-state|" -e "s|/etc/signet/keys/cosign.key|$T/k8s.key|" \
	    -e "s|0.0.0.0:5000|127.0.0.1:$port|" "$K/signet.json" >"$T/k8s.json"
	expect_eq "docker/k8s/signet.json (the ConfigMap) is valid" \
	    "$(COSIGN_PASSWORD=k8s "$SIGNET" check-config -c "$T/k8s.json" 2>&1)" "configuration OK"
	COSIGN_PASSWORD=k8s "$SIGNET" serve -c "$T/k8s.json" >"$T/k8s.log" 2>&1 &
	k8spid=$!
	PIDS="$PIDS $k8spid"
	wait_http "http://127.0.0.1:$port/healthz"
	for p in $(echo "$out" | sed -n 's/^probe //p'); do
		# /readyz: 503 here, where the upstream does not exist
		expect_match "  its probe path $p is one signet serves" \
		    "$(http_status GET "http://127.0.0.1:$port$p")" '^(200|502|503)$'
	done
	expect_match "  (an unknown path would be 404)" \
	    "$(http_status GET "http://127.0.0.1:$port/ready")" '^404$'
	kill -TERM "$k8spid"
	wait "$k8spid"
else
	echo "# SKIP docker/k8s checks: $PYCRYPTO lacks python3-yaml (scripts/deps.sh installs it)"
	[ "${CI:-}" = true ] && not_ok "python3-yaml is missing"
fi
if command -v haproxy >/dev/null 2>&1; then
	check "docker/haproxy.cfg is valid (haproxy -c)" haproxy -c -q -f "$top_srcdir/docker/haproxy.cfg"
	check "  and checks the replicas on /readyz" grep -q 'option httpchk GET /readyz' \
	    "$top_srcdir/docker/haproxy.cfg"
fi

# the TLS example, with its paths pointed at files that exist
touch "$T/cert.pem" "$T/key.pem" "$T/ca.pem"
sed -e "s|/etc/signet/tls/cert.pem|$T/cert.pem|" -e "s|/etc/signet/tls/key.pem|$T/key.pem|" \
    -e "s|/etc/signet/upstream-ca.pem|$T/ca.pem|" "$top_srcdir/conf/tls-front.json" >"$T/tls.json"
out=$("$SIGNET" check-config -c "$T/tls.json" 2>&1)
expect_eq "shipped tls-front.json is valid" "$out" "configuration OK"
out=$("$SIGNET" check-config -c "$top_srcdir/conf/tls-front.json" 2>&1)
expect_match "missing certificate file is named" "$out" \
    'tls.certificate: /etc/signet/tls/cert.pem: No such file or directory'

cat >"$T/bad.json" <<'EOC'
{
  "listen": ["127.0.0.1:5000"],
  "upstream": {"url": "http://127.0.0.1:5001", "timeout": 3},
  "log": {"level": "verbose"},
  "limits": {"idle_timeout": "60"}
}
EOC
out=$("$SIGNET" check-config -c "$T/bad.json" 2>&1)
rc=$?
expect_eq "check-config fails on a bad file" "$rc" 1
expect_match "unknown key named with its path" "$out" 'upstream.timeout: unknown key'
expect_match "bad value named" "$out" 'log.level: "verbose" is not one of debug\|info\|warn\|error'
expect_match "wrong type named" "$out" 'limits.idle_timeout: must be an integer'

printf '{\n  "listen": ["127.0.0.1:5000"],\n  "upstream": {"url": "http://x"},,\n}\n' >"$T/syntax.json"
out=$("$SIGNET" check-config -c "$T/syntax.json" 2>&1)
expect_match "syntax error names the line" "$out" 'syntax.json: line 3'

out=$("$SIGNET" serve -c "$T/bad.json" 2>&1)
rc=$?
expect_eq "serve refuses a bad file" "$rc" 1
expect_match "serve prints the errors" "$out" 'upstream.timeout: unknown key'

out=$("$SIGNET" check-config -c "$T/nonexistent.json" 2>&1)
expect_match "missing file" "$out" 'nonexistent.json: No such file or directory'
out=$("$SIGNET" frobnicate 2>&1)
expect_eq "unknown command exits 2" "$?" 2
expect_match "unknown command is named" "$out" 'unknown command: frobnicate'

# a port already in use is a clear start-up error
port=$(free_port)
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" &
PIDS="$PIDS $!"
wait_port "$port"
printf '{"listen": ["127.0.0.1:%s"], "upstream": {"url": "http://127.0.0.1:1"}}' "$port" >"$T/busy.json"
out=$(timeout 10 "$SIGNET" serve -c "$T/busy.json" 2>&1)
rc=$?
expect_eq "busy port: exit 1" "$rc" 1
expect_match "busy port is named" "$out" "listen 127.0.0.1:$port: Address already in use"
# every command refuses what it does not know, with a usage line, exit 2
for args in "check-config -c $top_srcdir/conf/quickstart.json bogus" \
    "serve -c $top_srcdir/conf/quickstart.json bogus" "version bogus" \
    "keygen bogus" "sign --key x bogus extra" "verify --key x r/a:1 extra" \
    "verify-blob --key x --signature y p extra" "copy --bogus a/b:1 c/d:1" \
    "gc --bogus r/a" "check-config -c a -c b" "nosuchcommand"; do
	# shellcheck disable=SC2086
	out=$("$SIGNET" $args 2>&1 </dev/null)
	rc=$?
	expect_eq "signet $args: exit 2" "$rc" 2
	expect_match "  with a usage line or the argument named" "$out" 'usage|unexpected|unknown'
done
finish
