#!/bin/bash
# signet's own credentials against a registry with Basic authentication
# (distribution's htpasswd): registry_auth for a signature repository in the
# proxy, `signet sign --registry-username/--registry-password` and `signet
# copy` with a docker config.json.  The Basic branch of the token flow hands
# the credentials back to the caller; this is the path that read them after
# the flow had freed them (under ASan, a report from the server or from a
# command fails the test: see lib.sh).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo htpasswd
require_pycrypto

htpasswd -Bbn alice 'a-pw' >"$T/htpasswd" 2>/dev/null
htpasswd -Bbn signer 's-pw' >>"$T/htpasswd" 2>/dev/null
start_registry up "auth:
  htpasswd:
    realm: signet-basic-realm
    path: $T/htpasswd"
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
export COSIGN_PASSWORD=pw SIGNET_REG_PW=s-pw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
expect_eq "the registry asks for Basic credentials" \
    "$(http_status GET "http://$REG_up/v2/")" 401

# 1. the proxy: registry_auth writes the separate signature repository
AUTH='"registry_auth": {"username": "signer", "password_env": "SIGNET_REG_PW"}'
start_signet "http://$REG_up" "\"signing\": {\"key\": \"$T/k.key\"}, \"signature_repository\": \"sigs/store\", $AUTH, \"policies\": [{\"match\": \"app/*\", \"sign\": \"required\"}]"
mkimage "$T/img1" --layers 1 --size 20000 --seed basic1 >/dev/null
check "skopeo push through signet, signatures with registry_auth (Basic)" \
    skopeo copy -q --dest-tls-verify=false --dest-creds alice:a-pw \
    "oci:$T/img1" "docker://$PROXY/app/one:1"
out=$($CHECK "$REG_up" app/one 1 "$T/k.pub" --sigrepo sigs/store --creds signer:s-pw)
expect_match "signature in sigs/store" "$out" '"valid": 1'
mkimage "$T/img2" --layers 1 --size 20000 --seed basic2 >/dev/null
check "a second push (cached Basic credentials)" \
    skopeo copy -q --dest-tls-verify=false --dest-creds alice:a-pw \
    "oci:$T/img2" "docker://$PROXY/app/two:1"
out=$($CHECK "$REG_up" app/two 1 "$T/k.pub" --sigrepo sigs/store --creds signer:s-pw)
expect_match "second signature in sigs/store" "$out" '"valid": 1'
stop_signet
b64=$(printf 'signer:s-pw' | base64)
check "no secret in signet's log" sh -c \
    "! grep -Eq 's-pw|a-pw|$b64|Basic ' '$T/signet.log'"

# 2. signet sign with --registry-username/--registry-password
mkimage "$T/img3" --layers 1 --size 20000 --seed basic3 >/dev/null
skopeo copy -q --dest-tls-verify=false --dest-creds alice:a-pw \
    "oci:$T/img3" "docker://$REG_up/plain/three:1"
"$SIGNET" sign --key "$T/k.key" --allow-http --registry-username alice \
    --registry-password a-pw "$REG_up/plain/three:1" >"$T/sign.out" 2>"$T/sign.log"
expect_eq "signet sign against Basic auth exits 0" "$?" 0
out=$($CHECK "$REG_up" plain/three 1 "$T/k.pub" --creds alice:a-pw)
expect_match "signet sign wrote a valid signature" "$out" '"valid": 1'
"$SIGNET" sign --key "$T/k.key" --allow-http --registry-username alice \
    --registry-password wrong "$REG_up/plain/three:1" >/dev/null 2>"$T/sign-bad.log"
expect_eq "a wrong password: exit 1" "$?" 1

# 3. signet copy with the credentials in a docker config.json
mkdir -p "$T/dockercfg"
printf '{"auths": {"%s": {"auth": "%s"}}}' "$REG_up" "$(printf alice:a-pw | base64)" \
    >"$T/dockercfg/config.json"
DOCKER_CONFIG="$T/dockercfg" "$SIGNET" copy --allow-http "$REG_up/plain/three:1" \
    "$REG_up/copied/three:1" >"$T/copy.out" 2>"$T/copy.log"
expect_eq "signet copy against Basic auth exits 0" "$?" 0
out=$($CHECK "$REG_up" copied/three 1 "$T/k.pub" --creds alice:a-pw)
expect_match "the copy carries the signature" "$out" '"valid": 1'
finish
