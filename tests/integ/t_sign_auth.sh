#!/bin/bash
# Signing behind registry token auth: signet's writes to the image's own
# repository carry the pushing client's token; a separate signature
# repository is written with registry_auth's credentials, through the token
# flow signet performs itself, with the token cached.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo
require_pycrypto

tport=$(free_port)
"$PYCRYPTO" "$top_srcdir/tests/integ/token_server.py" "$tport" "$T/token.pem" "$T/tokens.log" \
    'alice:apw:app/*' 'signer:spw:sigs/*' >"$T/token.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$tport"
start_registry up "auth:
  token:
    realm: http://127.0.0.1:$tport/token
    service: signet-test-registry
    issuer: signet-test-issuer
    rootcertbundle: $T/token.pem"
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
cp="skopeo copy -q --dest-tls-verify=false --dest-creds alice:apw"
export COSIGN_PASSWORD=pw SIGNET_REG_PW=spw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
POL='"policies": [{"match": "app/*", "sign": "required"}]'

expect_eq "the registry asks for a token" "$(http_status GET "http://$REG_up/v2/")" 401

# 1. same repository: the client's own token is enough
start_signet "http://$REG_up" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
mkimage "$T/img1" --layers 1 --size 20000 --seed auth1 >/dev/null
check "skopeo push with a token, signed in the same repository" \
    $cp "oci:$T/img1" "docker://$PROXY/app/one:1"
out=$($CHECK "$REG_up" app/one 1 "$T/k.pub" --creds alice:apw)
expect_match "signature written with the client's token" "$out" '"valid": 1'
check "signet fetched no token itself" sh -c "! grep -q '^signer' '$T/tokens.log'"
stop_signet
: >"$T/signet.log"

# 2. a separate signature repository, without registry_auth: the client's
#    token does not cover it, so a required signature fails, and no tag
start_signet "http://$REG_up" "\"signing\": {\"key\": \"$T/k.key\"}, \"signature_repository\": \"sigs/store\", $POL"
mkimage "$T/img2" --layers 1 --size 20000 --seed auth2 >/dev/null
out=$($cp "oci:$T/img2" "docker://$PROXY/app/two:1" 2>&1)
expect_match "client token cannot write sigs/store: push refused" "$out" \
    'signing is required for app/two and failed'
stop_signet
: >"$T/signet.log"

# 3. with registry_auth: signet's own token for sigs/store, cached
AUTH='"registry_auth": {"username": "signer", "password_env": "SIGNET_REG_PW"}'
POLV="\"policies\": [{\"match\": \"app/*\", \"sign\": \"required\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"]}]"
start_signet "http://$REG_up" "\"signing\": {\"key\": \"$T/k.key\"}, \"signature_repository\": \"sigs/store\", $AUTH, $POLV"
check "push with registry_auth for the signature repository" \
    $cp "oci:$T/img2" "docker://$PROXY/app/two:1"
out=$($CHECK "$REG_up" app/two 1 "$T/k.pub" --sigrepo sigs/store --creds signer:spw \
    --want-ref "$REG_up/app/two")
expect_match "signature in sigs/store, naming app/two" "$out" '"valid": 1'
mkimage "$T/img3" --layers 1 --size 20000 --seed auth3 >/dev/null
check "a second push" $cp "oci:$T/img3" "docker://$PROXY/app/three:1"
out=$($CHECK "$REG_up" app/three 1 "$T/k.pub" --sigrepo sigs/store --creds signer:spw)
expect_match "second signature in sigs/store" "$out" '"valid": 1'
# the token cache is per worker process: at most one token per worker, over
# more pushes than workers (each push without the cache fetches one at least)
W=$(signet_workers)
for i in $(seq 4 $((W + 2))); do	# W + 1 pushes in all
	mkimage "$T/img$i" --layers 1 --size 20000 --seed "auth$i" >/dev/null
	check "push $((i - 1)) of $((W + 1))" $cp "oci:$T/img$i" "docker://$PROXY/app/n$i:1"
done
tokens=$(grep -c '^signer repository:sigs/store:pull,push pull,push$' "$T/tokens.log")
check "at most one token fetched per worker over $((W + 1)) pushes (cached; $tokens token(s), $W worker(s))" \
    test "$tokens" -ge 1 -a "$tokens" -le "$W"
# pulls verified: the client's token cannot read sigs/store, signet reads
# it with registry_auth's
out=$(skopeo copy -q --src-tls-verify=false --src-creds alice:apw \
    "docker://$PROXY/app/two:1" "oci:$T/pulled:x" 2>&1)
expect_eq "a verified pull reads the signature repository with registry_auth" "$out" ""
check "  signet asked the token service for sigs/store, not the client" \
    grep -q '^signer repository:sigs/store:pull,push' "$T/tokens.log"
check "the token is never logged" sh -c "! grep -q 'Bearer\|spw\|apw' '$T/signet.log'"
stop_signet
: >"$T/signet.log"

# 4. wrong registry_auth password: named, push refused
SIGNET_REG_PW=wrong start_signet "http://$REG_up" "\"signing\": {\"key\": \"$T/k.key\"}, \"signature_repository\": \"sigs/store\", $AUTH, $POL"
mkimage "$T/img4" --layers 1 --size 20000 --seed auth4 >/dev/null
out=$($cp "oci:$T/img4" "docker://$PROXY/app/four:1" 2>&1)
expect_match "refused credentials named" "$out" \
    "registry_auth for sigs/store: the token service refused the credentials"
stop_signet

# 6. a pending recheck kept in state_dir is resumed, after a SIGKILL, with
#    registry_auth's token (the client's is not kept anywhere)
mkdir -p "$T/state"
start_signet "http://$REG_up" "\"state_dir\": \"$T/state\", \"signing\": {\"key\": \"$T/k.key\"}, \"signature_repository\": \"sigs/store\", $AUTH, $POL"
img5=$(mkimage "$T/img5" --layers 1 --size 20000 --seed auth5)
check "a push to resume later" $cp "oci:$T/img5" "docker://$PROXY/app/five:1"
tok=$(curl -s -u signer:spw "http://127.0.0.1:$tport/token?service=signet-test-registry&scope=repository:sigs/store:pull,push" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
tag=sha256-${img5#sha256:}.sig
curl -s -H "Authorization: Bearer $tok" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REG_up/v2/sigs/store/manifests/$tag" |
    python3 -c 'import json,sys; m=json.load(sys.stdin); m["layers"]=[]; print(json.dumps(m))' >"$T/empty.json"
expect_eq "a stale writer drops the signature" "$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
    -H "Authorization: Bearer $tok" -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$T/empty.json" "http://$REG_up/v2/sigs/store/manifests/$tag")" 201
kill -KILL "$SIGNET_PID"
wait "$SIGNET_PID" 2>/dev/null
check "  the recheck is kept, without credentials" sh -c \
    "grep -l '${img5#sha256:}' '$T/state/rechecks/'*.json >/dev/null && ! grep -q 'Bearer\|Basic\|apw\|spw' '$T/state/rechecks/'*.json"
sleep 2		# a restart that takes a while: the recheck is due at once
start_signet "http://$REG_up" "\"state_dir\": \"$T/state\", \"signing\": {\"key\": \"$T/k.key\"}, \"signature_repository\": \"sigs/store\", $AUTH, $POL"
for i in $(seq 1 60); do
	$CHECK "$REG_up" app/five 1 "$T/k.pub" --sigrepo sigs/store --creds signer:spw >/dev/null 2>&1 && break
	sleep 0.1
done
out=$($CHECK "$REG_up" app/five 1 "$T/k.pub" --sigrepo sigs/store --creds signer:spw)
expect_match "  resumed with registry_auth, the signature is back" "$out" '"valid": 1'
stop_signet

# 5. configuration: the password variable must be set
printf '{"listen": ["127.0.0.1:1"], "upstream": {"url": "http://%s"}, %s}' "$REG_up" \
    '"registry_auth": {"username": "u", "password_env": "SIGNET_UNSET_VAR"}' >"$T/bad.json"
out=$("$SIGNET" check-config -c "$T/bad.json" 2>&1)
expect_match "unset password variable named" "$out" \
    'registry_auth.password_env: the environment variable SIGNET_UNSET_VAR is not set'
finish
