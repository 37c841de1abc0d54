#!/bin/bash
# signet copy: an image with its signatures between two real registries,
# digests preserved, signatures merged without loss, --verify before any
# write, interrupted copies finished by running again.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo
require_pycrypto

start_registry a
start_registry b
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
"$SIGNET" keygen --output-key-prefix "$T/k2" >/dev/null
OCI='application/vnd.oci.image.manifest.v1+json'
IDX='application/vnd.oci.image.index.v1+json'

# a signed multi-arch image in registry a (signed by signet on push)
start_signet "http://$REG_a" "\"signing\": {\"key\": \"$T/k.key\"}, \"policies\": [{\"match\": \"*\", \"sign\": \"required\"}]"
top=$(mkimage "$T/m" --layers 2 --size 200000 --arch amd64,arm64 --seed cp1)
skopeo copy -q --all --dest-tls-verify=false "oci:$T/m" "docker://$PROXY/app/multi:1"
stop_signet
: >"$T/signet.log"

# 1. copy with --verify: everything, digests preserved, tag last
out=$("$SIGNET" copy --verify --key "$T/k.pub" --allow-http "$REG_a/app/multi:1" "$REG_b/mirror/multi:1" 2>"$T/copy.err")
expect_eq "copy --verify exits 0" "$?" 0
# 6 image blobs, and a payload and a config for each of the 3 signature lists
expect_match "summary" "$out" "3 manifest\\(s\\), 12 blob\\(s\\) \\(12 copied"
check "progress on stderr" grep -q '^copied blob sha256:' "$T/copy.err"
expect_eq "index digest preserved" \
    "sha256:$(curl -s -H "Accept: $IDX" "http://$REG_b/v2/mirror/multi/manifests/1" | sha256sum | cut -d' ' -f1)" "$top"
out=$($CHECK "$REG_b" mirror/multi 1 "$T/k.pub")
expect_match "the index's signature came along" "$out" '"valid": 1'
arm=$(REG_up=$REG_b child_digest mirror/multi:1 arm64)
out=$($CHECK "$REG_b" mirror/multi "$arm" "$T/k.pub")
expect_match "a child's signature came along" "$out" '"valid": 1'

# 2. running it again: nothing to transfer (an interrupted copy resumes)
out=$("$SIGNET" copy --allow-http "$REG_a/app/multi:1" "$REG_b/mirror/multi:1" 2>/dev/null)
expect_match "a second run copies no blob" "$out" '0 copied, 12 already there'
mkimage "$T/half" --layers 2 --size 200000 --seed cp2 >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$T/half" "docker://$REG_a/app/half:1"
"$SIGNET" sign --key "$T/k.key" --allow-http "$REG_a/app/half:1" >/dev/null
d=$(curl -s -H "Accept: $OCI" "http://$REG_a/v2/app/half/manifests/1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
# half done: one layer is already at the target, nothing else
curl -s "http://$REG_a/v2/app/half/blobs/$d" >"$T/layer0"
loc=$(curl -s -D - -o /dev/null -X POST "http://$REG_b/v2/mirror/half/blobs/uploads/" | sed -n 's/^Location: *//Ip' | tr -d '\r')
curl -s -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$T/layer0" "$loc&digest=$d"
out=$("$SIGNET" copy --allow-http "$REG_a/app/half:1" "$REG_b/mirror/half:1" 2>/dev/null)
expect_match "a half-done copy finishes (1 blob already there)" "$out" '4 copied, 1 already there'
out=$($CHECK "$REG_b" mirror/half 1 "$T/k.pub")
expect_match "and is signed" "$out" '"valid": 1'

# 3. merging into a list already at the target: no signature lost
"$SIGNET" sign --key "$T/k2.key" --allow-http "$REG_b/mirror/half:1" >/dev/null
"$SIGNET" sign --key "$T/k2.key" --allow-http "$REG_a/app/half:1" >/dev/null 2>&1 || true
out=$("$SIGNET" copy --allow-http "$REG_a/app/half:1" "$REG_b/mirror/half:1" 2>/dev/null)
expect_eq "copy into an existing list" "$?" 0
for k in k k2; do
	out=$($CHECK "$REG_b" mirror/half 1 "$T/$k.pub")
	expect_match "signature by $k present after the merge" "$out" '"valid": [12]'
done
# k from a, k2 made at b (naming b) and k2 made at a (naming a): 3 distinct
out=$($CHECK "$REG_b" mirror/half 1 "$T/k.pub")
expect_match "three distinct layers, no duplicate" "$out" '"layers": 3'
out=$("$SIGNET" copy --allow-http "$REG_a/app/half:1" "$REG_b/mirror/half:1" 2>/dev/null)
out=$($CHECK "$REG_b" mirror/half 1 "$T/k.pub")
expect_match "copying again adds nothing" "$out" '"layers": 3'
# --verify copies only the signatures that verify (app/half holds k's and k2's)
"$SIGNET" copy --verify --key "$T/k.pub" --allow-http "$REG_a/app/half:1" "$REG_b/only/k:1" \
    >/dev/null 2>"$T/err"
expect_eq "copy --verify with one of two signers trusted" "$?" 0
expect_match "  the other signature is reported" "$(cat "$T/err")" 'a signature does not verify, not copied'
out=$($CHECK "$REG_b" only/k 1 "$T/k.pub")
expect_match "  only the trusted signature is written" "$out" '"layers": 1, "valid": 1'

# 4. --verify refuses an unsigned image: nothing written
mkimage "$T/u" --layers 1 --size 10000 --seed cp3 >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$T/u" "docker://$REG_a/app/unsigned:1"
"$SIGNET" copy --verify --key "$T/k.pub" --allow-http "$REG_a/app/unsigned:1" "$REG_b/mirror/unsigned:1" \
    >/dev/null 2>"$T/err"
expect_eq "unsigned: exit 1" "$?" 1
expect_match "  with the reason" "$(cat "$T/err")" 'is not verified: no signature found; nothing was written'
expect_eq "nothing written at the target" "$(curl -s "http://$REG_b/v2/_catalog" | grep -c 'mirror/unsigned')" 0
"$SIGNET" sign --key "$T/k2.key" --allow-http "$REG_a/app/unsigned:1" >/dev/null
"$SIGNET" copy --verify --key "$T/k.pub" --allow-http "$REG_a/app/unsigned:1" "$REG_b/mirror/unsigned:1" \
    >/dev/null 2>"$T/err"
expect_eq "signed by an untrusted key: exit 1" "$?" 1
expect_match "  with the reason" "$(cat "$T/err")" \
    'no signature from a trusted signer \(not signed by a trusted key\); nothing was written'
expect_eq "still nothing written" "$(curl -s "http://$REG_b/v2/_catalog" | grep -c 'mirror/unsigned')" 0

# 5. one platform of an index
out=$("$SIGNET" copy --platform linux/arm64 --allow-http "$REG_a/app/multi:1" "$REG_b/arm/only:1" 2>/dev/null)
expect_eq "--platform copy" "$?" 0
expect_eq "the tag is the arm64 manifest" \
    "sha256:$(curl -s -H "Accept: $OCI" "http://$REG_b/v2/arm/only/manifests/1" | sha256sum | cut -d' ' -f1)" "$arm"

# 6. within one registry: blobs are mounted
out=$("$SIGNET" copy --allow-http "$REG_a/app/half:1" "$REG_a/other/half:1" 2>/dev/null)
expect_match "same registry: blobs mounted" "$out" '5 mounted'

# 6b. --all copies OCI referrers (here the referrers tag schema, as
# registry 2.8 has no referrers API), merged into the target's index
half=sha256:$(curl -s -H "Accept: $OCI" "http://$REG_a/v2/app/half/manifests/1" | sha256sum | cut -d' ' -f1)
r1=$($HELPERS referrer "$REG_a" app/half "$half" "sbom one")
"$SIGNET" copy --all --allow-http "$REG_a/app/half:1" "$REG_b/ref/half:1" >"$T/out" 2>"$T/err"
expect_eq "copy --all with a referrer" "$?" 0
expect_match "  counted" "$(cat "$T/out")" '1 referrer\(s\)'
expect_eq "the referrer manifest is at the target, same digest" "$(curl -s -H "Accept: $OCI" \
    "http://$REG_b/v2/ref/half/manifests/$r1" | sha256sum | sed 's/^/sha256:/; s/ .*//')" "$r1"
idx=$(curl -s -H "Accept: $IDX" "http://$REG_b/v2/ref/half/manifests/sha256-${half#sha256:}")
expect_match "the target's referrers index names it" "$idx" "\"digest\": ?\"$r1\""
r2=$($HELPERS referrer "$REG_b" ref/half "$half" "made at b")
r3=$($HELPERS referrer "$REG_a" app/half "$half" "sbom two")
"$SIGNET" copy --all --allow-http "$REG_a/app/half:1" "$REG_b/ref/half:1" >/dev/null 2>&1
idx=$(curl -s -H "Accept: $IDX" "http://$REG_b/v2/ref/half/manifests/sha256-${half#sha256:}")
expect_eq "merged: the target's own, and both from a, once each" \
    "$(printf '%s' "$idx" | python3 -c 'import json,sys; print(" ".join(sorted(m["digest"] for m in json.load(sys.stdin)["manifests"])))')" \
    "$(printf '%s\n' "$r1" "$r2" "$r3" | sort | tr '\n' ' ' | sed 's/ $//')"
ri=$($HELPERS referrer "$REG_a" app/half "$half" "" --index)
"$SIGNET" copy --all --allow-http "$REG_a/app/half:1" "$REG_b/ref/idx:1" >"$T/out" 2>"$T/err"
expect_eq "a referrer that is an index" "$?" 0
expect_match "  is reported" "$(cat "$T/err")" "referrer $ri is an index, not copied"
idx=$(curl -s -H "Accept: $IDX" "http://$REG_b/v2/ref/idx/manifests/sha256-${half#sha256:}")
expect_eq "  and not listed at the target; the others are" \
    "$(printf '%s' "$idx" | python3 -c 'import json,sys; print(" ".join(sorted(m["digest"] for m in json.load(sys.stdin)["manifests"])))')" \
    "$(printf '%s\n' "$r1" "$r3" | sort | tr '\n' ' ' | sed 's/ $//')"
"$SIGNET" copy --allow-http "$REG_a/app/half:1" "$REG_b/ref/plain:1" >"$T/out" 2>&1
expect_match "without --all no referrer" "$(cat "$T/out")" '0 referrer\(s\)'

# 6c. the target's signature repository: --signature-repository or
# COSIGN_REPOSITORY, its blobs there too
out=$("$SIGNET" copy --signature-repository sigs/store --allow-http "$REG_a/app/half:1" "$REG_b/sr/half:1" 2>&1)
expect_eq "copy into a separate signature repository" "$?" 0
out=$($CHECK "$REG_b" sr/half 1 "$T/k.pub" --sigrepo sigs/store)
expect_match "  the signatures are there, payloads included" "$out" '"valid": 1'
expect_eq "  and not beside the image" "$(http_status HEAD \
    "http://$REG_b/v2/sr/half/manifests/sha256-${half#sha256:}.sig" -H "Accept: $OCI")" 404
out=$(COSIGN_REPOSITORY=sigs/env "$SIGNET" copy --allow-http "$REG_a/app/half:1" "$REG_b/sr/half2:1" 2>&1)
out=$($CHECK "$REG_b" sr/half2 1 "$T/k.pub" --sigrepo sigs/env)
expect_match "COSIGN_REPOSITORY names it too" "$out" '"valid": 1'
out=$("$SIGNET" copy --signature-repository 'Bad/Name' --allow-http "$REG_a/app/half:1" "$REG_b/sr/x:1" 2>&1)
expect_match "a bad name is refused" "$out" 'signature repository "Bad/Name" is not a valid repository name'

# 6d. the list is read back after writing, as on push: a lost write is
# merged and written again
fport=$(free_port)
$HELPERS quirk-front "$fport" "$REG_b" swallow-sig-put >"$T/front.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$fport"
"$SIGNET" copy --allow-http "$REG_a/app/half:1" "127.0.0.1:$fport/lost/half:1" >/dev/null 2>"$T/err"
expect_eq "a copy whose list write is lost" "$?" 0
expect_match "  notices it" "$(cat "$T/err")" 'changed under the copy; merged again'
out=$($CHECK "$REG_b" lost/half 1 "$T/k.pub")
expect_match "  and the signatures are there" "$out" '"layers": 2, "valid": 1'

# 6e. a source that stalls in the middle of a blob: the copy fails after
# --timeout seconds without a byte, instead of hanging
sport=$(free_port)
$HELPERS quirk-front "$sport" "$REG_a" stall-blob >"$T/stall.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$sport"
start=$(date +%s)
timeout 60 "$SIGNET" copy --timeout 3 --allow-http "127.0.0.1:$sport/app/half:1" \
    "$REG_b/stalled/half:1" >/dev/null 2>"$T/err"
rc=$?
took=$(( $(date +%s) - start ))
expect_eq "a stalled source fails the copy (exit 1)" "$rc" 1
check "  within the timeout, not forever ($took s)" test "$took" -lt 30
expect_match "  naming the stall" "$(cat "$T/err")" 'too slow|timed out|Timeout'
expect_eq "  and no tag at the target" "$(http_status GET "http://$REG_b/v2/stalled/half/manifests/1")" 404

# 7. --verify --policy: the target repository's rule, with its threshold
"$SIGNET" keygen --output-key-prefix "$T/k3" >/dev/null
printf '{"listen": ["127.0.0.1:1"], "upstream": {"url": "http://x"}, "policies": [
  {"match": "pol/two", "verify": "enforce", "threshold": 2, "keys": ["%s", "%s"]},
  {"match": "pol/three", "verify": "enforce", "threshold": 2, "keys": ["%s", "%s"]},
  {"match": "*", "sign": "off"}]}' "$T/k.pub" "$T/k2.pub" "$T/k.pub" "$T/k3.pub" >"$T/pol.json"
out=$("$SIGNET" copy --verify --policy "$T/pol.json" --allow-http "$REG_a/app/half:1" "$REG_b/pol/two:1" 2>"$T/err")
expect_eq "--policy: two trusted signers meet the threshold" "$?" 0
"$SIGNET" copy --verify --policy "$T/pol.json" --allow-http "$REG_a/app/half:1" "$REG_b/pol/three:1" \
    >/dev/null 2>"$T/err"
expect_eq "--policy: one of two required signers: exit 1" "$?" 1
expect_match "  with the reason" "$(cat "$T/err")" "1 trusted signer\\(s\\), 2 required; nothing was written"
expect_eq "  and nothing written" "$(curl -s "http://$REG_b/v2/_catalog" | grep -c 'pol/three')" 0
"$SIGNET" copy --verify --policy "$T/pol.json" --allow-http "$REG_a/app/half:1" "$REG_b/other/x:1" \
    >/dev/null 2>"$T/err"
expect_match "--policy: a rule trusting nobody is named" "$(cat "$T/err")" 'no rule for other/x names a trusted signer'
"$SIGNET" copy --policy "$T/pol.json" --allow-http "$REG_a/app/half:1" "$REG_b/pol/two:1" >/dev/null 2>&1
expect_eq "--policy without --verify is a usage error" "$?" 2

# 8. registries behind the token flow: credentials from docker's
# config.json for one and podman's auth.json for the other
tport=$(free_port)
# tokens good for 2 s: a copy longer than that must renew them
TOKEN_TTL=2 "$PYCRYPTO" "$top_srcdir/tests/integ/token_server.py" "$tport" "$T/token.pem" "$T/tokens.log" \
    'alice:apw:src/*' 'bob:bpw:dst/*' >"$T/token.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$tport"
TOK="auth:
  token:
    realm: http://127.0.0.1:$tport/token
    service: signet-test-registry
    issuer: signet-test-issuer
    rootcertbundle: $T/token.pem"
start_registry ta "$TOK"
start_registry tb "$TOK"
skopeo copy -q --dest-tls-verify=false --dest-creds alice:apw "oci:$T/half" "docker://$REG_ta/src/img:1"
check "signet sign through the token flow" "$SIGNET" sign --key "$T/k.key" --allow-http \
    --registry-username alice --registry-password apw "$REG_ta/src/img:1"
out=$("$SIGNET" sign --key "$T/k.key" --allow-http --registry-username alice \
    --registry-password wrong "$REG_ta/src/img:1" 2>&1)
expect_match "signet sign: a refused password is named" "$out" \
    "authenticating to $REG_ta: the token service refused the credentials"
mkdir -p "$T/dockercfg" "$T/xdg/containers"
printf '{"auths": {"%s": {"auth": "%s"}}}' "$REG_ta" "$(printf alice:apw | base64)" >"$T/dockercfg/config.json"
printf '{"auths": {"%s": {"auth": "%s"}}}' "$REG_tb" "$(printf bob:bpw | base64)" >"$T/xdg/containers/auth.json"
"$SIGNET" copy --allow-http "$REG_ta/src/img:1" "$REG_tb/dst/img:1" >/dev/null 2>"$T/err"
expect_eq "without credentials: exit 1" "$?" 1
expect_match "  naming the refusal" "$(cat "$T/err")" 'HTTP 401'
out=$(DOCKER_CONFIG="$T/dockercfg" XDG_RUNTIME_DIR="$T/xdg" "$SIGNET" copy --allow-http \
    "$REG_ta/src/img:1" "$REG_tb/dst/img:1" 2>"$T/err")
expect_eq "with config.json and auth.json: exit 0" "$?" 0
expect_match "  everything copied" "$out" '1 manifest\(s\), 5 blob\(s\) \(5 copied.*1 signature object'
check "a pull token for the source, as alice" grep -q '^alice repository:src/img:pull pull$' "$T/tokens.log"
check "a push token for the target, as bob" grep -q '^bob repository:dst/img:pull,push pull,push$' "$T/tokens.log"
tok=$(curl -s -u bob:bpw "http://127.0.0.1:$tport/token?service=signet-test-registry&scope=repository:dst/img:pull" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
out=$($CHECK "$REG_tb" dst/img 1 "$T/k.pub" --creds bob:bpw)
expect_match "its signature too" "$out" '"valid": 1'
expect_eq "the copy is at the target, digest preserved" "sha256:$(curl -s -H "Authorization: Bearer $tok" \
    -H "Accept: $OCI" "http://$REG_tb/v2/dst/img/manifests/1" | sha256sum | cut -d' ' -f1)" \
    "$(curl -s -H "Accept: $OCI" "http://$REG_a/v2/app/half/manifests/1" | sha256sum | sed 's/^/sha256:/; s/ .*//')"

# a copy slower than the tokens live (0.25 s added to every target request):
# signet renews them.  (Registry 2.8 accepts tokens up to 60 s past their
# expiry, so the renewal itself is what is checked, not a 401.)
fport=$(free_port)
$HELPERS quirk-front "$fport" "$REG_tb" slow >"$T/front.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$fport"
mkimage "$T/many" --layers 12 --size 2000 --seed cpmany >/dev/null
skopeo copy -q --dest-tls-verify=false --dest-creds alice:apw "oci:$T/many" "docker://$REG_ta/src/many:1"
printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}}}' "$fport" "$(printf bob:bpw | base64)" >"$T/podman-auth.json"
n0=$(grep -c '^bob ' "$T/tokens.log")
s0=$(date +%s)
out=$(DOCKER_CONFIG="$T/dockercfg" REGISTRY_AUTH_FILE="$T/podman-auth.json" "$SIGNET" copy --allow-http \
    "$REG_ta/src/many:1" "127.0.0.1:$fport/dst/many:1" 2>"$T/err")
expect_eq "a copy outliving its tokens finishes (target credentials from REGISTRY_AUTH_FILE)" "$?" 0
took=$(( $(date +%s) - s0 ))
check "  it did take longer than a token lives ($took s)" test "$took" -gt 2
check "  the target's token was renewed" test "$(grep -c '^bob ' "$T/tokens.log")" -gt $((n0 + 1))
finish
