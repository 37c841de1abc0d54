#!/bin/bash
# mirror_signatures_from: a push through signet of an image another
# registry already holds signed brings those signatures along, when they
# verify under the rule's trusted keys; nothing else is taken.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo
require_pycrypto

start_registry a
start_registry b
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
export COSIGN_PASSWORD=pw
for k in k k2 k3 k4; do "$SIGNET" keygen --output-key-prefix "$T/$k" >/dev/null; done
cp="skopeo copy -q --dest-tls-verify=false"

# the image in registry a, signed there by k2 (trusted) and k3 (not)
top=$(mkimage "$T/m" --layers 2 --size 50000 --seed mir1)
$cp "oci:$T/m" "docker://$REG_a/app/m:1"
"$SIGNET" sign --key "$T/k2.key" --allow-http "$REG_a/app/m:1" >/dev/null
"$SIGNET" sign --key "$T/k3.key" --allow-http "$REG_a/app/m:1" >/dev/null
out=$($CHECK "$REG_a" app/m 1 "$T/k2.pub")
expect_match "the source holds two signatures" "$out" '"layers": 2, "valid": 1'

# config: mirroring needs signing and trusted keys, and a registry name
printf '{"listen": ["127.0.0.1:1"], "upstream": {"url": "http://a"}, "policies": [%s]}' \
    '{"match": "*", "mirror_signatures_from": ["http://a", "ftp://b", "c\"d"]}' >"$T/bad.json"
out=$("$SIGNET" check-config -c "$T/bad.json" 2>&1)
expect_match "a non-http mirror is named" "$out" 'mirror_signatures_from\[1\]: must be a registry'
expect_match "a bad host is named" "$out" 'mirror_signatures_from\[2\]: must be a registry'
expect_match "mirroring without sign and keys is refused" "$out" \
    'mirror_signatures_from: needs sign and trusted keys'

start_signet "http://$REG_b" "\"signing\": {\"key\": \"$T/k.key\"}, \"policies\": [
  {\"match\": \"app/*\", \"sign\": \"required\", \"keys\": [\"$T/k2.pub\", \"$T/k4.pub\"],
   \"mirror_signatures_from\": [\"http://127.0.0.1:1\", \"http://$REG_a\"]},
  {\"match\": \"*\", \"sign\": \"required\"}]"

# 1. the push: signet's own signature and k2's from a; not k3's
check "skopeo copy docker://a/app/m docker://signet/app/m" \
    $cp --src-tls-verify=false "docker://$REG_a/app/m:1" "docker://$PROXY/app/m:1"
out=$($CHECK "$REG_b" app/m 1 "$T/k.pub")
expect_match "signet's signature is there" "$out" "\"digest\": \"$top\", \"layers\": 2, \"valid\": 1"
out=$($CHECK "$REG_b" app/m 1 "$T/k2.pub")
expect_match "k2's signature came from the mirror, payload blob too" "$out" '"valid": 1'
out=$($CHECK "$REG_b" app/m 1 "$T/k3.pub")
expect_match "the untrusted k3 signature was not taken" "$out" '"valid": 0'
check "the taking is logged" grep -q "a signature taken from mirror http://$REG_a" "$T/signet.log"
check "the untrusted one is logged with the reason" \
    grep -q "1 of 2 signature(s) from mirror http://$REG_a taken; one not taken: not signed by a trusted key" "$T/signet.log"
check "the unreachable mirror is a warning, not a failure" \
    grep -q 'mirror http://127.0.0.1:1: ' "$T/signet.log"

# 2. pushing again adds nothing
check "push again under another tag" $cp "oci:$T/m" "docker://$PROXY/app/m:2"
out=$($CHECK "$REG_b" app/m 1 "$T/k.pub")
expect_match "still two layers" "$out" '"layers": 2, "valid": 1'

# 3. a new signature at the mirror is merged on the next push
"$SIGNET" sign --key "$T/k4.key" --allow-http "$REG_a/app/m:1" >/dev/null
check "push a third time" $cp "oci:$T/m" "docker://$PROXY/app/m:3"
out=$($CHECK "$REG_b" app/m 1 "$T/k4.pub")
expect_match "the new k4 signature merged" "$out" '"layers": 3, "valid": 1'

# 4. not mirrored where the rule does not say so
$cp "oci:$T/m" "docker://$REG_a/other/m:1"
"$SIGNET" sign --key "$T/k2.key" --allow-http "$REG_a/other/m:1" >/dev/null
check "push to a rule without mirroring" $cp "oci:$T/m" "docker://$PROXY/other/m:1"
out=$($CHECK "$REG_b" other/m 1 "$T/k.pub")
expect_match "only signet's signature" "$out" '"layers": 1, "valid": 1'

stop_signet
finish
