#!/bin/bash
# Authentication passes through: the upstream's challenge reaches the client
# unchanged, the client's credentials reach the upstream, signet adds none
# and logs none.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo htpasswd

htpasswd -Bbn alice 's3cret-pw' >"$T/htpasswd" 2>/dev/null
start_registry up "auth:
  htpasswd:
    realm: signet-test-realm
    path: $T/htpasswd"
start_signet "http://$REG_up"
P="http://$PROXY"

direct=$(curl -s -D - -o /dev/null "http://$REG_up/v2/" | grep -i '^www-authenticate' | tr -d '\r')
via=$(curl -s -D - -o /dev/null "$P/v2/" | grep -i '^www-authenticate' | tr -d '\r')
expect_eq "no credentials: 401 through signet" "$(http_status GET "$P/v2/")" 401
expect_match "challenge present" "$via" 'realm="signet-test-realm"'
expect_eq "challenge identical to direct access" "$via" "$direct"
expect_eq "wrong password: 401" "$(http_status GET "$P/v2/" -u alice:wrong)" 401
expect_eq "client's credentials reach the upstream: 200" \
    "$(http_status GET "$P/v2/" -u 'alice:s3cret-pw')" 200

mkimage "$T/img" --layers 1 --size 50000 --seed auth >/dev/null
check "skopeo without credentials is refused" sh -c \
    "! skopeo copy -q --dest-tls-verify=false 'oci:$T/img' 'docker://$PROXY/auth/img:1' 2>/dev/null"
check "skopeo with credentials pushes through signet" skopeo copy -q --dest-tls-verify=false \
    --dest-creds 'alice:s3cret-pw' "oci:$T/img" "docker://$PROXY/auth/img:1"
check "skopeo with credentials reads back" skopeo inspect --tls-verify=false \
    --creds 'alice:s3cret-pw' "docker://$PROXY/auth/img:1" >/dev/null
expect_eq "reads without credentials stay refused" \
    "$(http_status GET "$P/v2/auth/img/tags/list")" 401

stop_signet
b64=$(printf 'alice:s3cret-pw' | base64)
check "no secret in signet's log" sh -c \
    "! grep -Eq 's3cret-pw|$b64|Authorization|Basic ' '$T/signet.log'"
finish
