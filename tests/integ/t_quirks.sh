#!/bin/bash
# Registry quirks (issue #16, ../shared/REGISTRIES.md), emulated by a front
# in front of a real distribution registry (helpers.py quirk-front):
#   - rate limits on signet's own requests (429 with Retry-After, GHCR's
#     hint in the message, ACR's non-JSON body): waited for and tried
#     again, so pushes are signed and pulls verified; a limit that does not
#     lift fails with a 503 naming it, never a verdict;
#   - 403 for what is not there (Artifactory virtual repositories), with
#     upstream.forbidden_means_absent;
#   - a 4xx refusal of the signature list (GitLab's media-type allowlist):
#     not tried again, the registry's words reach the client and the log;
#   - eventual consistency (Docker Hub, GAR): a list PUT shows only 1.5 s
#     later; signet waits to see it instead of writing it again;
#   - blobs served from object storage through a 307 (ECR, Harbor on S3):
#     followed, without the client's Authorization (a presigned URL
#     refuses a second credential), by the verifier and by `signet copy`;
#   - a Content-Type that disagrees with the manifest (old Nexus): the
#     manifest's own mediaType is sent on a verified pull, and copied;
#   - a token service that resets connections or fails now and then
#     (Alibaba, GAR): asked again;
#   - immutable tags (ECR, Harbor): pushing the same image again is a
#     success; a second signature, which would rewrite the .sig tag, is
#     refused in words that say so and what to do;
#   - Nexus' "Disable redeploy", which refuses a second name for a
#     manifest: upstream.manifest_put "tag-only" writes the manifest
#     once, by its tag, after the signature; by default the refusal
#     names that setting;
#   - replicas that lag (GAR multi-region): a 404 by digest for what the
#     signature list just named is asked again, 6 s at most in all;
#   - upload policies (ECR's 5 MiB least PATCH, GHCR's 4 MiB most, ACR's
#     20 MB PUT and Content-Length): a client's shape is kept, signet's
#     own uploads pass, `signet copy --chunk-size` chunks;
#   - ECR's Basic-only auth with passwords that expire: passed through for
#     clients; `signet copy` reads docker's config.json again when it
#     changes;
#   - ACR's tokens: user 00000000-0000-0000-0000-000000000000 with a
#     refresh token as its password, and docker's identitytoken (the
#     OAuth2 refresh-token grant);
#   - referrers quirks under signature_format bundle: GitLab's
#     sha256-<hex> tag read as the image itself, ECR's 405 for a referrer
#     of an index (a documented refusal).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo
require_pycrypto

start_registry up
export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
OCI='application/vnd.oci.image.manifest.v1+json'
POL="\"policies\": [{\"match\": \"*\", \"sign\": \"required\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"]}]"
cpd="skopeo copy -q --dest-tls-verify=false --retry-times 0"

# front QUIRK: a quirk front before the registry; sets FRONT
front() { start_front FRONT "$REG_up" "$1"; }
counts() { curl -s --max-time 5 "http://$FRONT/_counts"; }

# 1. rate limits that lift: each of signet's requests is refused once
for q in 429 429-ghcr 429-acr; do
	front "$q"
	start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
	img=$(mkimage "$T/img-$q" --layers 1 --size 5000 --seed "rl-$q")
	check "$q: a push through signet is signed" \
	    $cpd "oci:$T/img-$q" "docker://$PROXY/rl/$q:1"
	out=$($CHECK "$REG_up" "rl/$q" 1 "$T/k.pub")
	expect_match "  the signature is valid" "$out" '"valid": 1'
	expect_eq "  a pull is verified (200)" "$(http_status GET \
	    "http://$PROXY/v2/rl/$q/manifests/1" -H "Accept: $OCI")" 200
	expect_match "  the registry did refuse signet's requests" "$(counts)" \
	    '"total429": [1-9]'
	stop_signet
	: >"$T/signet.log"
done

# 1b. a 500 that passes (distribution's, for a tag being rewritten): the
#     reads of a verification are asked again, and the verdict is the
#     signatures'
front 500-once
POL5="\"policies\": [{\"match\": \"*\", \"sign\": \"required\", \"verify\": \"enforce\",
 \"keys\": [\"$T/k.pub\"], \"identity\": \"any\"}]"
start_signet "http://$REG_up" "\"signing\": {\"key\": \"$T/k.key\"}, $POL5"
check "500-once: an image signed through signet (no quirk)" \
    $cpd "oci:$T/img-429" "docker://$PROXY/rl/five:1"
stop_signet
: >"$T/signet.log"
start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $POL5"
expect_match "  a pull through the front is verified (200)" "$(curl -s -w ' %{http_code}' \
    -H "Accept: $OCI" "http://$PROXY/v2/rl/five/manifests/1")" ' 200$'
expect_match "  though the registry answered 500 first" "$(counts)" '"total500": [1-9]'
stop_signet
: >"$T/signet.log"

# 2. a limit that does not lift: a refusal that names it, no verdict
front 429-always
start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
img=$(mkimage "$T/img-al" --layers 1 --size 5000 --seed rl-always)
out=$($cpd "oci:$T/img-al" "docker://$PROXY/rl/always:1" 2>&1)
expect_match "a push is refused with a 503 (clients retry those)" "$out" \
    '503 Service Unavailable'
check "  the log names the limit" grep -q \
    '"outcome":"failed".*reading the signature list: upstream answered HTTP 429 TOOMANYREQUESTS: You have reached your pull rate limit.; rate limited by the registry, Retry-After: 1, RateLimit-Remaining: 0;w=21600 (signet waited and tried again)' \
    "$T/signet.log"
expect_eq "  no tag" "$(http_status HEAD "http://$REG_up/v2/rl/always/manifests/1" \
    -H "Accept: $OCI")" 404
$cpd "oci:$T/img-al" "docker://$REG_up/rl/always:2" >/dev/null 2>&1
body=$(curl -s -w ' %{http_code}' -H "Accept: $OCI" "http://$PROXY/v2/rl/always/manifests/2")
expect_match "a pull is indeterminate (502), with the limit in words" "$body" \
    'signature check could not be done: reading the signature list: upstream answered HTTP 429 .*rate limited by the registry.* 502$'
stop_signet
: >"$T/signet.log"

# 3. 403 for what is not there: a 502 by default (a 403 is no verdict),
#    unsigned means denied with forbidden_means_absent, and pushes sign
front forbidden-absent
img=$(mkimage "$T/img-fa" --layers 1 --size 5000 --seed forbidden)
$cpd "oci:$T/img-fa" "docker://$REG_up/fa/app:unsigned" >/dev/null 2>&1
start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
expect_eq "403 for a missing list, by default: indeterminate (502)" \
    "$(http_status GET "http://$PROXY/v2/fa/app/manifests/unsigned" -H "Accept: $OCI")" 502
stop_signet
: >"$T/signet.log"
UPSTREAM_EXTRA=', "forbidden_means_absent": true' start_signet "http://$FRONT" \
    "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
body=$(curl -s -w ' %{http_code}' -H "Accept: $OCI" "http://$PROXY/v2/fa/app/manifests/unsigned")
expect_match "with forbidden_means_absent: unsigned is denied (403)" "$body" \
    'no signature found.* 403$'
img=$(mkimage "$T/img-fa2" --layers 1 --size 5000 --seed forbidden-2)
check "a push through it is signed" $cpd "oci:$T/img-fa2" "docker://$PROXY/fa/app:1"
out=$($CHECK "$REG_up" fa/app 1 "$T/k.pub")
expect_match "  the signature is valid" "$out" '"valid": 1'
expect_eq "  and it pulls (200)" "$(http_status GET \
    "http://$PROXY/v2/fa/app/manifests/1" -H "Accept: $OCI")" 200
stop_signet
: >"$T/signet.log"

# 4. a 4xx refusal of the list is the registry's answer: once, in words
front gitlab-allowlist
start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
img=$(mkimage "$T/img-gl" --layers 1 --size 5000 --seed allowlist)
$cpd "oci:$T/img-gl" "docker://$REG_up/gl/app:seed" >/dev/null 2>&1
curl -s -H "Accept: $OCI" "http://$REG_up/v2/gl/app/manifests/seed" >"$T/gl.json"
body=$(curl -s -X PUT -H "Content-Type: $OCI" --data-binary @"$T/gl.json" \
    "http://$PROXY/v2/gl/app/manifests/1" -w ' %{http_code}')
expect_match "a refused list refuses the push, in the registry's words" "$body" \
    'signing is required .*writing the signature list: upstream answered HTTP 400 MANIFEST_INVALID: manifest invalid.* 403$'
expect_match "  the list was PUT once, not five times" "$(counts)" '"refused": 1[,}]'
#    signet copy to it: refused in words, exit 1 (not a crash)
start_registry src
$cpd "oci:$T/img-gl" "docker://$REG_src/gl/src:1" >/dev/null 2>&1
"$SIGNET" sign --key "$T/k.key" --allow-http "$REG_src/gl/src:1" >/dev/null 2>&1
out=$("$SIGNET" copy --allow-http "$REG_src/gl/src:1" "$FRONT/gl/copy:1" 2>&1)
expect_eq "signet copy to it fails with exit 1" "$?" 1
expect_match "  saying why, in the registry's words" "$out" \
    'signature object sha256-[0-9a-f]*.sig at the target: writing the signature list: upstream answered HTTP 400 MANIFEST_INVALID'
stop_signet
: >"$T/signet.log"

# 5. eventual consistency: the read-back waits for the write to show
front lag
SIGNET_LOG_LEVEL=debug start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
img=$(mkimage "$T/img-lag" --layers 1 --size 5000 --seed lagging)
check "a push through a lagging registry is signed" \
    $cpd "oci:$T/img-lag" "docker://$PROXY/lag/app:1"
out=$($CHECK "$REG_up" lag/app 1 "$T/k.pub")
expect_match "  one valid signature, no duplicate" "$out" '"layers": 1, "valid": 1'
expect_match "  the registry did lag" "$(counts)" '"lagged": [1-9]'
line=$(grep '"msg":"signature"' "$T/signet.log" | grep '"repository":"lag/app"')
expect_match "  written once: signed at the first attempt" "$line" \
    '"outcome":"signed","attempts":1,'
check "  signet said it waited" grep -q 'the write is not visible yet' "$T/signet.log"
expect_match "  nothing counted lost" "$(curl -s "http://$PROXY/metrics")" \
    'signet_signature_losses_total 0'
stop_signet
: >"$T/signet.log"

# 6. blob redirects to object storage
front blob-redirect
start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
img=$(mkimage "$T/img-rd" --layers 1 --size 5000 --seed redirect)
check "a push through signet is signed" $cpd "oci:$T/img-rd" "docker://$PROXY/rd/app:1"
expect_eq "a pull with credentials is verified through the redirect (200)" \
    "$(http_status GET "http://$PROXY/v2/rd/app/manifests/1" -H "Accept: $OCI" -u alice:pw)" 200
c=$(counts)
expect_match "  the payload came from the store" "$c" '"store_served": [1-9]'
check "  which never saw the client's credentials" sh -c "! printf '%s' '$c' | grep -q store_auth_refused"
start_registry dst
out=$("$SIGNET" copy --allow-http "$FRONT/rd/app:1" "$REG_dst/rd/copy:1" 2>&1)
expect_eq "signet copy from it succeeds" "$?" 0
out=$($CHECK "$REG_dst" rd/copy 1 "$T/k.pub")
expect_match "  with the signature" "$out" '"valid": 1'
stop_signet
: >"$T/signet.log"

# 7. a Content-Type that lies: the body's mediaType goes to the client
front ct-lie
start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
img=$(mkimage "$T/img-ct" --layers 1 --size 5000 --seed ctlie)
check "a push through signet is signed" $cpd "oci:$T/img-ct" "docker://$PROXY/ct/app:1"
h=$(curl -s -D - -o /dev/null -H "Accept: $OCI" "http://$PROXY/v2/ct/app/manifests/1" | tr -d '\r')
expect_match "a verified GET carries the manifest's own type" "$h" \
    'Content-Type: application/vnd.oci.image.manifest.v1.json'
check "  and only that one" test "$(printf '%s' "$h" | grep -ci '^content-type:')" -eq 1
check "  and signet logged it" grep -q "disagrees with the manifest's mediaType" "$T/signet.log"
out=$(skopeo copy -q --src-tls-verify=false "docker://$PROXY/ct/app:1" "oci:$T/ct-pulled:x" 2>&1)
expect_eq "skopeo pulls it through signet" "$out" ""
out=$("$SIGNET" copy --allow-http "$FRONT/ct/app:1" "$REG_dst/ct/copy:1" 2>&1)
expect_eq "signet copy from it succeeds" "$?" 0
expect_match "  and says which type it used" "$out" \
    "disagrees with the manifest's mediaType; application/vnd.oci.image.manifest.v1.json is used"
stop_signet

# 8. a flaky token service: signet's own token flow asks again
for flaky in reset 503; do
	tport=$(free_port)
	TOKEN_FLAKY=$flaky "$PYCRYPTO" "$top_srcdir/tests/integ/token_server.py" "$tport" \
	    "$T/token-$flaky.pem" "$T/tokens-$flaky.log" 'alice:apw:app/*' \
	    >"$T/token-$flaky.out" 2>&1 &
	PIDS="$PIDS $!"
	wait_port "$tport"
	start_registry "tok$flaky" "auth:
  token:
    realm: http://127.0.0.1:$tport/token
    service: signet-test-registry
    issuer: signet-test-issuer
    rootcertbundle: $T/token-$flaky.pem"
	eval "reg=\$REG_tok$flaky"
	img=$(mkimage "$T/img-tok-$flaky" --layers 1 --size 5000 --seed "tok-$flaky")
	skopeo copy -q --dest-tls-verify=false --dest-creds alice:apw --retry-times 3 \
	    "oci:$T/img-tok-$flaky" "docker://$reg/app/tok:1" >/dev/null 2>&1
	out=$(SIGNET_REG_PW=apw "$SIGNET" sign --key "$T/k.key" --allow-http \
	    --registry-username alice --registry-password apw "$reg/app/tok:1" 2>&1)
	expect_eq "$flaky token service: signet sign succeeds" "$?" 0
	check "  after the service failed once" grep -q "flaky $flaky" "$T/tokens-$flaky.log"
	out=$($CHECK "$reg" app/tok 1 "$T/k.pub" --creds alice:apw)
	expect_match "  and the signature is there" "$out" '"valid": 1'
done

# 9. immutable tags
"$SIGNET" keygen --output-key-prefix "$T/k2" >/dev/null
for q in immutable immutable-harbor; do
	front "$q"
	start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
	img=$(mkimage "$T/img-$q" --layers 1 --size 5000 --seed "$q")
	check "$q: a push through signet is signed" $cpd "oci:$T/img-$q" "docker://$PROXY/im/$q:1"
	check "  the same image pushed again: a success" $cpd "oci:$T/img-$q" "docker://$PROXY/im/$q:1"
	check "  as signet says" grep -q "is immutable and already names" "$T/signet.log"
	other=$(mkimage "$T/img-$q-b" --layers 1 --size 5000 --seed "$q-other")
	out=$($cpd "oci:$T/img-$q-b" "docker://$PROXY/im/$q:1" 2>&1)
	expect_match "  another image under that tag: the registry's refusal" "$out" \
	    'tag invalid|configured as immutable'
	stop_signet
	: >"$T/signet.log"
	start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k2.key\"}, $POL"
	curl -s -H "Accept: $OCI" "http://$REG_up/v2/im/$q/manifests/1" >"$T/im.json"
	body=$(curl -s -X PUT -H "Content-Type: $OCI" --data-binary @"$T/im.json" \
	    "http://$PROXY/v2/im/$q/manifests/2" -w ' %{http_code}')
	expect_match "  a second signer's push is refused, saying why and what to do" "$body" \
	    "this registry's tags are immutable: the signature list im/$q:sha256-[0-9a-f]*.sig exists and cannot be appended .*OCI referrer format.* 403$"
	stop_signet
	: >"$T/signet.log"
done

# 10. Nexus "Disable redeploy": a manifest is written once, under one name
"$SIGNET" keygen --output-key-prefix "$T/k3" >/dev/null
front nexus-redeploy
img=$(mkimage "$T/img-nx" --layers 1 --size 5000 --seed nexus)
#     signet's default order (by digest, then the tag) cannot tag there:
#     refused, naming the setting that works
start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
out=$($cpd "oci:$T/img-nx" "docker://$PROXY/nx/first:1" 2>&1)
expect_match "nexus-redeploy, by default: the push is refused, naming manifest_put" \
    "$out" 'refuses a second name for a manifest.*manifest_put.*tag-only'
stop_signet
: >"$T/signet.log"
UPSTREAM_EXTRA=', "manifest_put": "tag-only"' start_signet "http://$FRONT" \
    "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
check "manifest_put tag-only: a push through signet is signed" \
    $cpd "oci:$T/img-nx" "docker://$PROXY/nx/app:1"
out=$($CHECK "$REG_up" nx/app 1 "$T/k.pub")
expect_match "  the signature is valid" "$out" '"valid": 1'
expect_eq "  and it pulls (200)" "$(http_status GET \
    "http://$PROXY/v2/nx/app/manifests/1" -H "Accept: $OCI")" 200
check "  the same image pushed again: a success" \
    $cpd "oci:$T/img-nx" "docker://$PROXY/nx/app:1"
h=$(curl -s -D - -o /dev/null -X PUT -H "Content-Type: $OCI" \
    --data-binary @<(curl -s -H "Accept: $OCI" "http://$REG_up/v2/nx/app/manifests/1") \
    "http://$PROXY/v2/nx/app/manifests/1" | tr -d '\r')
expect_match "  answered 201" "$h" '^HTTP/1.1 201'
expect_match "  with the manifest's digest" "$h" 'Docker-Content-Digest: sha256:[0-9a-f]{64}'
other=$(mkimage "$T/img-nx-b" --layers 1 --size 5000 --seed nexus-other)
out=$($cpd "oci:$T/img-nx-b" "docker://$PROXY/nx/app:1" 2>&1)
expect_match "  another image under that tag: the registry's refusal" "$out" \
    'blob upload invalid'
expect_match "  the registry refused redeploys" "$(counts)" '"redeploy": [1-9]'
stop_signet
: >"$T/signet.log"
UPSTREAM_EXTRA=', "manifest_put": "tag-only"' start_signet "http://$FRONT" \
    "\"signing\": {\"key\": \"$T/k3.key\"}, $POL"
curl -s -H "Accept: $OCI" "http://$REG_up/v2/nx/app/manifests/1" >"$T/nx.json"
body=$(curl -s -X PUT -H "Content-Type: $OCI" --data-binary @"$T/nx.json" \
    "http://$PROXY/v2/nx/app/manifests/2" -w ' %{http_code}')
expect_match "  a second signer's push is refused, saying why and what to do" "$body" \
    "this registry's tags are immutable: the signature list nx/app:sha256-[0-9a-f]*.sig exists and cannot be appended .*signature_format.*bundle.* 403$"
expect_eq "  and the tag was not written" "$(http_status HEAD \
    "http://$REG_up/v2/nx/app/manifests/2" -H "Accept: $OCI")" 404
stop_signet
: >"$T/signet.log"
#     signet copy to it: the image goes once, by its tag; again: done
start_registry nxdst
start_front NXF "$REG_nxdst" nexus-redeploy
out=$("$SIGNET" copy --allow-http "$FRONT/nx/app:1" "$NXF/nx/copy:1" 2>&1)
expect_eq "signet copy to a Nexus that refuses redeploys: done" "$?" 0
out=$($CHECK "$REG_nxdst" nx/copy 1 "$T/k.pub")
expect_match "  with the signature" "$out" '"valid": 1'
out=$("$SIGNET" copy --allow-http "$FRONT/nx/app:1" "$NXF/nx/copy:1" 2>&1)
expect_eq "  again: done" "$?" 0
expect_match "  the tag names the image already" "$out" 'nx/copy:1 is immutable and names sha256:'
other=$(mkimage "$T/img-nx-c" --layers 1 --size 5000 --seed nexus-copy-other)
$cpd "oci:$T/img-nx-c" "docker://$REG_up/nx/other:1" >/dev/null 2>&1
"$SIGNET" sign --key "$T/k.key" --allow-http "$REG_up/nx/other:1" >/dev/null 2>&1
out=$("$SIGNET" copy --allow-http "$REG_up/nx/other:1" "$NXF/nx/copy:1" 2>&1)
expect_match "  another image to that tag: refused in the registry's words" "$out" \
    'writing the tag 1 at the target: HTTP 400 BLOB_UPLOAD_INVALID: .*does not allow updating'

# 11. replicas that lag (GAR multi-region): right after a push, what the
#     signature list names is 404 by digest for 2 s; a pull then waits
#     for it (bounded), and an unsigned image is still denied at once
front region-lag
start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
img=$(mkimage "$T/img-rg" --layers 1 --size 5000 --seed region)
check "region-lag: a push through signet is signed" \
    $cpd "oci:$T/img-rg" "docker://$PROXY/rg/app:1"
body=$(curl -s -w ' %{http_code} %{time_total}' -H "Accept: $OCI" \
    "http://$PROXY/v2/rg/app/manifests/1")
expect_match "  a pull right after it is verified (200 in ${body##* } s), not denied" "$body" \
    ' 200 [0-9.]+$'
expect_match "  the registry did lag" "$(counts)" '"region_lagged": [1-9]'
check "  signet said it waited" grep -q 'asked again in' "$T/signet.log"
other=$(mkimage "$T/img-rg-u" --layers 1 --size 5000 --seed region-unsigned)
$cpd "oci:$T/img-rg-u" "docker://$REG_up/rg/app:unsigned" >/dev/null 2>&1
body=$(curl -s -w ' %{http_code} %{time_total}' -H "Accept: $OCI" \
    "http://$PROXY/v2/rg/app/manifests/unsigned")
expect_match "  an unsigned image is denied (403)" "$body" 'no signature found.* 403 '
check "  at once (${body##* } s; under 1 s: no wait for a list that is not there)" \
    awk -v t="${body##* }" 'BEGIN { exit !(t < 1) }'
#     a payload really gone: the wait is bounded (6 s), then a denial
$cpd "oci:$T/img-rg-u" "docker://$REG_up/rg/gone:1" >/dev/null 2>&1
"$SIGNET" sign --key "$T/k.key" --allow-http "$REG_up/rg/gone:1" >/dev/null 2>&1
d=$(curl -s -D - -o /dev/null -H "Accept: $OCI" "http://$REG_up/v2/rg/gone/manifests/1" |
    tr -d '\r' | sed -n 's/^Docker-Content-Digest: //Ip')
p=$(curl -s -H "Accept: $OCI" "http://$REG_up/v2/rg/gone/manifests/sha256-${d#sha256:}.sig" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
curl -s -o /dev/null -X DELETE "http://$REG_up/v2/rg/gone/blobs/$p"
body=$(curl -s -w ' %{http_code} %{time_total}' -H "Accept: $OCI" \
    "http://$PROXY/v2/rg/gone/manifests/1")
expect_match "  a payload that stays missing: denied (403)" "$body" ' 403 [0-9.]+$'
check "  after a bounded wait (${body##* } s; 5 to 8 s)" \
    awk -v t="${body##* }" 'BEGIN { exit !(t >= 5 && t < 8) }'
stop_signet
: >"$T/signet.log"
# 12. upload policies (ECR U3, GHCR U5, ACR U6/U7): a client's upload keeps
#     its shape through signet (each part's Content-Length, never
#     re-chunked), signet's own uploads pass all of them, and `signet copy`
#     chunks when told to
big=$T/big
head -c 12582912 /dev/urandom >"$big"	# 12 MiB
# upload_parts REPO FILE CHUNK: PATCHes of CHUNK bytes with Content-Length
# and Content-Range through signet, the rest in the final PUT; prints the
# statuses
upload_parts() {
	size=$(stat -c %s "$2")
	dg=sha256:$(sha256_of "$2")
	loc=$(curl -s -D - -o /dev/null -X POST "http://$PROXY/v2/$1/blobs/uploads/" |
	    sed -n 's/^Location: *//Ip' | tr -d '\r')
	off=0
	sts=
	while [ $((size - off)) -gt "$3" ]; do
		tail -c +$((off + 1)) "$2" | head -c "$3" >"$T/part"
		case $loc in /*) loc="http://$PROXY$loc" ;; esac
		h=$(curl -s -D - -o /dev/null -X PATCH -H 'Content-Type: application/octet-stream' \
		    -H "Content-Range: $off-$((off + $3 - 1))" --data-binary @"$T/part" "$loc" | tr -d '\r')
		sts="$sts $(printf '%s\n' "$h" | grep '^HTTP/1.1 ' | tail -1 | cut -d' ' -f2)"
		loc=$(printf '%s' "$h" | sed -n 's/^Location: *//Ip')
		off=$((off + $3))
	done
	tail -c +$((off + 1)) "$2" >"$T/part"
	case $loc in /*) loc="http://$PROXY$loc" ;; esac
	sts="$sts $(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
	    --data-binary @"$T/part" "$loc&digest=$dg")"
	echo "$sts"
}
for q in patch-min-5m:5242880 patch-max-4m:4194304 acr-upload:10000000; do
	front "${q%:*}"
	start_signet "http://$FRONT"
	out=$(upload_parts "up/${q%:*}" "$big" "${q#*:}")
	expect_match "${q%:*}: 12 MiB in PATCHes of ${q#*:} bytes through signet: stored (201)" \
	    "$out" '^( 202)+ 201$'
	curl -s -o "$T/back" "http://$REG_up/v2/up/${q%:*}/blobs/sha256:$(sha256_of "$big")"
	check "  the exact bytes" cmp -s "$big" "$T/back"
	expect_match "  every part came with its Content-Length" "$(counts)" '"sized_uploads": [1-9]'
	check "  none chunked" sh -c "! curl -s http://$FRONT/_counts | grep -q chunked_patches"
	stop_signet
	: >"$T/signet.log"
done
#     a client that breaks the policy gets the registry's refusal, as is
front acr-upload
start_signet "http://$FRONT"
head -c 25000000 /dev/urandom >"$T/big25"
out=$(upload_parts up/acr-mono "$T/big25" 30000000)
expect_eq "acr-upload: a 25 MB monolithic PUT is the registry's 413" "$out" " 413"
loc=$(curl -s -D - -o /dev/null -X POST "http://$PROXY/v2/up/acr-te/blobs/uploads/" |
    sed -n 's/^Location: *//Ip' | tr -d '\r')
case $loc in /*) loc="http://$PROXY$loc" ;; esac
expect_match "  a chunked PATCH: passed on chunked, the registry's 400" \
    "$(curl -s -X PATCH -H 'Transfer-Encoding: chunked' --data-binary @"$big" "$loc" -w ' %{http_code}')" \
    'CONTENT_LENGTH_INVALID.* 400$'
stop_signet
: >"$T/signet.log"
#     signet's own uploads (payloads, configs) pass every policy at once
front patch-min-5m,patch-max-4m,acr-upload
start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
img=$(mkimage "$T/img-up" --layers 1 --size 5000 --seed uploads)
check "all three policies: a push through signet is signed" \
    $cpd "oci:$T/img-up" "docker://$PROXY/up/signed:1"
out=$($CHECK "$REG_up" up/signed 1 "$T/k.pub")
expect_match "  the signature is valid" "$out" '"valid": 1'
check "  nothing refused" sh -c "! curl -s http://$FRONT/_counts | grep -q upload_refused"
stop_signet
: >"$T/signet.log"
#     signet copy to ACR: one PUT a blob by default (refused over 20 MB,
#     in words), PATCHes of --chunk-size bytes when told
start_registry acrdst
start_front ACRF "$REG_acrdst" acr-upload
img=$(mkimage "$T/img-25" --layers 1 --size 25000000 --seed acr-25)
$cpd "oci:$T/img-25" "docker://$REG_up/up/big:1" >/dev/null 2>&1
"$SIGNET" sign --key "$T/k.key" --allow-http "$REG_up/up/big:1" >/dev/null 2>&1
out=$("$SIGNET" copy --allow-http "$REG_up/up/big:1" "$ACRF/up/big:1" 2>&1)
expect_eq "signet copy of a 25 MB layer to ACR, one PUT: fails (exit 1)" "$?" 1
expect_match "  saying why and what to do" "$out" 'HTTP 413 .*--chunk-size'
out=$("$SIGNET" copy --allow-http --chunk-size 8388608 "$REG_up/up/big:1" "$ACRF/up/big:1" 2>&1)
expect_eq "  with --chunk-size 8388608: copied" "$?" 0
out=$($CHECK "$REG_acrdst" up/big 1 "$T/k.pub")
expect_match "  with its signature" "$out" '"valid": 1'
expect_match "  in parts of at most 8 MiB" "$(curl -s "http://$ACRF/_counts")" '"largest_part": [0-9]{1,7}[,}]'
out=$("$SIGNET" copy --allow-http --chunk-size 12 "$REG_up/up/big:1" "$ACRF/up/big:2" 2>&1)
expect_match "  a chunk size out of range is named" "$out" '--chunk-size is 65536 to'
# 13. ECR's auth: Basic only (no token service; a realm that is no token
#     endpoint), passwords that expire (12 h there, 6 s and 2 s here),
#     renewed by writing the new one where its users read it
# issue PASSWORD: the registry issues it now (the front's history, and the
# user's password file, $T/ecr-pw)
issue() {
	printf '%s %s\n' "$1" "$(date +%s.%N)" >>"$T/ecr-issued"
	echo "$1" >"$T/ecr-pw.new" && mv "$T/ecr-pw.new" "$T/ecr-pw"
}
: >"$T/ecr-issued"
export ECR_PW_FILE=$T/ecr-issued ECR_TTL=6
front ecr-basic
b64() { printf '%s' "$1" | base64 -w0; }
start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
img=$(mkimage "$T/img-ecr" --layers 1 --size 5000 --seed ecr-auth)
other=$(mkimage "$T/img-ecr-u" --layers 1 --size 5000 --seed ecr-unsigned)
$cpd "oci:$T/img-ecr-u" "docker://$REG_up/ecr/app:unsigned" >/dev/null 2>&1
issue pw-one
check "ecr-basic: a push with the client's Basic credentials is signed" \
    $cpd --dest-creds AWS:pw-one "oci:$T/img-ecr" "docker://$PROXY/ecr/app:1"
out=$($CHECK "$REG_up" ecr/app 1 "$T/k.pub")
expect_match "  the signature is valid" "$out" '"valid": 1'
expect_eq "  a pull with them is verified (200)" "$(http_status GET \
    "http://$PROXY/v2/ecr/app/manifests/1" -H "Accept: $OCI" -u AWS:pw-one)" 200
expect_eq "  an unsigned one is denied (403)" "$(http_status GET \
    "http://$PROXY/v2/ecr/app/manifests/unsigned" -H "Accept: $OCI" -u AWS:pw-one)" 403
check "  no realm was asked for a token" sh -c "! grep -qi 'token service' '$T/signet.log'"
sleep 6
h=$(curl -s -D - -o /dev/null -H "Accept: $OCI" -u AWS:pw-one \
    "http://$PROXY/v2/ecr/app/manifests/1" | tr -d '\r')
expect_match "  an expired password: the registry's 401 and challenge, no verdict" "$h" \
    '^HTTP/1.1 401.*'
expect_match "  (the challenge)" "$h" 'Www-Authenticate: Basic realm='
stop_signet
: >"$T/signet.log"
#     signet's own credentials (registry_auth, for a signature repository):
#     a password_env is read once, so a renewed password never reaches
#     signet; a password_file is read at each use
RA="\"signature_repository\": \"sigs/ecr\", \"signing\": {\"key\": \"$T/k.key\"}, $POL"
# ra_push KEY VALUE PASSWORD IMAGE TAG: signet with registry_auth's KEY,
# and a push through it
ra_push() {
	start_signet "http://$FRONT" "\"registry_auth\": {\"username\": \"AWS\",
	  \"$1\": \"$2\"}, $RA"
	check "registry_auth $1: a push is signed into sigs/ecr" \
	    $cpd --dest-creds "AWS:$3" "oci:$T/$4" "docker://$PROXY/ecr/ra:$5"
}
issue pw-three
export ECR_OLD_PW=pw-three
ra_push password_env ECR_OLD_PW pw-three img-ecr 1
sleep 6
issue pw-four
out=$($cpd --dest-creds AWS:pw-four "oci:$T/img-ecr-u" "docker://$PROXY/ecr/ra:2" 2>&1)
expect_match "  once that password expired: pushes are refused, naming registry_auth" \
    "$out" "HTTP 401 Not Authorized \\(registry_auth's credentials were refused; .*password_file"
stop_signet
: >"$T/signet.log"
ra_push password_file "$T/ecr-pw" pw-four img-ecr-u 2
sleep 6
issue pw-five
img=$(mkimage "$T/img-ecr-5" --layers 1 --size 5000 --seed ecr-five)
check "  after the password was renewed and the old one expired: signed" \
    $cpd --dest-creds AWS:pw-five "oci:$T/img-ecr-5" "docker://$PROXY/ecr/ra:3"
out=$($CHECK "$REG_up" ecr/ra 3 "$T/k.pub" --sigrepo sigs/ecr)
expect_match "  the signature is valid" "$out" '"valid": 1'
expect_eq "  and a pull with it is verified (200)" "$(http_status GET \
    "http://$PROXY/v2/ecr/ra/manifests/3" -H "Accept: $OCI" -u AWS:pw-five)" 200
stop_signet
: >"$T/signet.log"
#     signet copy with docker's config.json, renewed (as a cron job running
#     `aws ecr get-login-password | docker login` would) every 0.7 s while
#     each password lasts 2 s and each request takes 0.25 s
img=$(mkimage "$T/img-ecr-c" --layers 10 --size 300000 --seed ecr-copy)
$cpd "oci:$T/img-ecr-c" "docker://$REG_up/ecr/copy:1" >/dev/null 2>&1
"$SIGNET" sign --key "$T/k.key" --allow-http "$REG_up/ecr/copy:1" >/dev/null 2>&1
kill "${PIDS##* }"
ECR_TTL=2 front ecr-basic,slow
mkdir -p "$T/dcfg"
renew() {
	issue "$1"
	printf '{"auths": {"%s": {"auth": "%s"}}}' "$FRONT" "$(b64 "AWS:$1")" >"$T/dcfg/c.new"
	mv "$T/dcfg/c.new" "$T/dcfg/config.json"
}
start_registry ecrdst
renew pw-0
(for i in $(seq 1 100); do sleep 0.7; renew "pw-$i"; done) &
renewer=$!
t0=$(date +%s.%N)
out=$(DOCKER_CONFIG=$T/dcfg "$SIGNET" copy --allow-http "$FRONT/ecr/copy:1" "$REG_ecrdst/ecr/copy:1" 2>&1)
expect_eq "signet copy while passwords are renewed and expire: done" "$?" 0
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
kill $renewer 2>/dev/null
expect_match "  the copy (${took} s) outlived passwords: several were used" "$(counts)" \
    '"ecr_passwords_used": ([2-9]|[1-9][0-9])'
check "  longer than one lasts" awk -v t="$took" 'BEGIN { exit !(t > 2) }'
out=$($CHECK "$REG_ecrdst" ecr/copy 1 "$T/k.pub")
expect_match "  with the signature" "$out" '"valid": 1'
unset ECR_PW_FILE ECR_TTL

# 14. ACR's tokens (A8): an AAD token exchanged for a refresh token
#     (POST /oauth2/exchange), which buys access tokens (POST /oauth2/token,
#     or Basic 00000000-0000-0000-0000-000000000000:<refresh token>)
tport=$(free_port)
"$PYCRYPTO" "$top_srcdir/tests/integ/token_server.py" "$tport" "$T/token-acr.pem" \
    "$T/tokens-acr.log" 'alice:apw:acr/*' >"$T/token-acr.out" 2>&1 &
PIDS="$PIDS $!"
wait_port "$tport"
start_registry acr "auth:
  token:
    realm: http://127.0.0.1:$tport/oauth2/token
    service: acr-test.azurecr.io
    issuer: signet-test-issuer
    rootcertbundle: $T/token-acr.pem"
rt=$(curl -s -X POST -d 'grant_type=access_token&service=acr-test.azurecr.io&access_token=aad-alice' \
    "http://127.0.0.1:$tport/oauth2/exchange" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])')
expect_match "acr: the AAD token was exchanged for a refresh token" "$rt" '^rt-'
ACRU=00000000-0000-0000-0000-000000000000
img=$(mkimage "$T/img-acr" --layers 1 --size 5000 --seed acr-tokens)
$cpd --dest-creds alice:apw "oci:$T/img-acr" "docker://$REG_acr/acr/app:1" >/dev/null 2>&1
#     docker login's way: the refresh token as the password of user 0000...
out=$("$SIGNET" sign --key "$T/k.key" --allow-http --registry-username "$ACRU" \
    --registry-password "$rt" "$REG_acr/acr/app:1" 2>&1)
expect_eq "  signet sign with user $ACRU and the refresh token: done" "$?" 0
check "  through Basic to the token service" grep -q 'acr-basic alice' "$T/tokens-acr.log"
out=$($CHECK "$REG_acr" acr/app 1 "$T/k.pub" --creds alice:apw)
expect_match "  the signature is valid" "$out" '"valid": 1'
#     az acr login's way: docker's config.json holds an identitytoken
mkdir -p "$T/acrcfg"
printf '{"auths": {"%s": {"auth": "%s", "identitytoken": "%s"}}}' "$REG_acr" \
    "$(printf '%s:' "$ACRU" | base64 -w0)" "$rt" >"$T/acrcfg/config.json"
start_registry acrcopy
out=$(DOCKER_CONFIG=$T/acrcfg "$SIGNET" copy --allow-http "$REG_acr/acr/app:1" \
    "$REG_acrcopy/acr/copy:1" 2>&1)
expect_eq "  signet copy with config.json's identitytoken: done" "$?" 0
check "  through the refresh-token grant (POST /oauth2/token)" \
    grep -q 'acr-refresh alice' "$T/tokens-acr.log"
out=$($CHECK "$REG_acrcopy" acr/copy 1 "$T/k.pub")
expect_match "  with the signature" "$out" '"valid": 1'
#     a client with user 0000... pushes through signet: signed
start_signet "http://$REG_acr" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
img=$(mkimage "$T/img-acr2" --layers 1 --size 5000 --seed acr-client)
check "  a client's push with the refresh token through signet is signed" \
    $cpd --dest-creds "$ACRU:$rt" "oci:$T/img-acr2" "docker://$PROXY/acr/app:2"
out=$($CHECK "$REG_acr" acr/app 2 "$T/k.pub" --creds alice:apw)
expect_match "  the signature is valid" "$out" '"valid": 1'
check "  no refresh token in signet's log" sh -c "! grep -q '$rt' '$T/signet.log'"
stop_signet
: >"$T/signet.log"
# 15. referrers quirks under cosign v3's format (signature_format bundle):
#     GitLab's sha256-<hex> tag that reads as the image itself (T7), and
#     ECR's 405 for a referrer whose subject is an index (X5)
BPOL="\"policies\": [{\"match\": \"*\", \"sign\": \"required\", \"signature_format\": \"bundle\",
  \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"]}]"
front gitlab-digest-tag
start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $BPOL"
img=$(mkimage "$T/img-t7" --layers 1 --size 5000 --seed t7)
idx=$(mkimage "$T/idx-t7" --layers 1 --size 5000 --arch amd64,arm64 --seed t7-idx)
check "gitlab-digest-tag, bundle: a push is signed" $cpd "oci:$T/img-t7" "docker://$PROXY/t7/app:1"
check "  an index too" $cpd --all "oci:$T/idx-t7" "docker://$PROXY/t7/app:multi"
expect_eq "  the image pulls, verified by its referrer (200)" "$(http_status GET \
    "http://$PROXY/v2/t7/app/manifests/1" -H "Accept: $OCI")" 200
uns=$(mkimage "$T/img-t7-u" --layers 1 --size 5000 --seed t7-unsigned)
$cpd "oci:$T/img-t7-u" "docker://$REG_up/t7/app:unsigned" >/dev/null 2>&1
body=$(curl -s -w ' %{http_code}' -H "Accept: $OCI" "http://$PROXY/v2/t7/app/manifests/unsigned")
expect_match "  an unsigned image, whose sha256-<hex> reads as itself: DENIED (403)" \
    "$body" '"DENIED".* 403$'
expect_match "  the registry did answer the digest-shaped tag with the image" "$(counts)" \
    '"digest_tag": [1-9]'
stop_signet
: >"$T/signet.log"
front referrer-index-405
start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"}, $BPOL"
check "referrer-index-405, bundle: an image's push is signed" \
    $cpd "oci:$T/img-t7" "docker://$PROXY/x5/app:1"
out=$($cpd --all "oci:$T/idx-t7" "docker://$PROXY/x5/app:multi" 2>&1)
expect_match "  an index's is refused, in the registry's words (documented)" "$out" \
    'writing the referrer: upstream answered HTTP 405 UNSUPPORTED'
expect_eq "  and its tag was not written" "$(http_status HEAD \
    "http://$REG_up/v2/x5/app/manifests/multi" -H "Accept: application/vnd.oci.image.index.v1+json")" 404
stop_signet
: >"$T/signet.log"
#     Alibaba's manifest classes (M2; distribution's own setting): the
#     referrer's empty config is refused, in the registry's words; the
#     legacy .sig (an image config) passes
start_registry classes "policy:
  repository:
    classes: [image]"
start_signet "http://$REG_classes" "\"signing\": {\"key\": \"$T/k.key\"}, $BPOL"
out=$($cpd "oci:$T/img-t7" "docker://$PROXY/m2/app:1" 2>&1)
expect_match "classes [image], bundle: the push is refused, in the registry's words" "$out" \
    'writing the referrer: upstream answered HTTP 403 .*unknown manifest class'
stop_signet
: >"$T/signet.log"
start_signet "http://$REG_classes" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
check "  legacy: signed" $cpd "oci:$T/img-t7" "docker://$PROXY/m2/app:1"
stop_signet
: >"$T/signet.log"
finish
