#!/bin/bash
# Signatures follow their subject: a manifest DELETE through signet deletes
# its .sig/.att/.sbom objects; `signet gc` finds and deletes orphans.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo

start_registry up
export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
start_signet "http://$REG_up" "\"signing\": {\"key\": \"$T/k.key\"}, \"policies\": [
  {\"match\": \"keep/*\", \"sign\": \"required\", \"delete_signatures\": false},
  {\"match\": \"strict/*\", \"sign\": \"required\", \"require_subject\": true},
  {\"match\": \"*\", \"sign\": \"required\"}]"
R="http://$REG_up"
OCI='application/vnd.oci.image.manifest.v1+json'
cpd="skopeo copy -q --dest-tls-verify=false"
exists() { [ "$(http_status HEAD "$R/v2/$1/manifests/$2" -H "Accept: $OCI")" = 200 ]; }

a=$(mkimage "$T/a" --layers 1 --size 10000 --seed gca)
b=$(mkimage "$T/b" --layers 1 --size 10000 --seed gcb)
$cpd "oci:$T/a" "docker://$PROXY/g/app:1"
$cpd "oci:$T/b" "docker://$PROXY/g/app:2"
check "signatures written" exists g/app "sha256-${a#sha256:}.sig"
# an attestation-like object too (any manifest at the .att tag)
curl -s -H "Accept: $OCI" "$R/v2/g/app/manifests/sha256-${a#sha256:}.sig" |
    python3 -c 'import json,sys; m=json.load(sys.stdin); m["annotations"]={"kind":"att"}; print(json.dumps(m))' \
    >"$T/sig.json"
curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" --data-binary @"$T/sig.json" \
    "$R/v2/g/app/manifests/sha256-${a#sha256:}.att"
check ".att written" exists g/app "sha256-${a#sha256:}.att"

# 1. DELETE through signet cascades
expect_eq "DELETE of the subject through signet: 202" \
    "$(http_status DELETE "http://$PROXY/v2/g/app/manifests/$a")" 202
for i in $(seq 1 50); do
	grep -q '"msg":"delete cascade"' "$T/signet.log" && break
	sleep 0.1
done
expect_eq "its .sig is gone" "$(http_status HEAD "$R/v2/g/app/manifests/sha256-${a#sha256:}.sig" -H "Accept: $OCI")" 404
expect_eq "its .att is gone" "$(http_status HEAD "$R/v2/g/app/manifests/sha256-${a#sha256:}.att" -H "Accept: $OCI")" 404
check "another image's signature stays" exists g/app "sha256-${b#sha256:}.sig"
check "the cascade is logged" grep -q '"msg":"delete cascade".*"deleted":2' "$T/signet.log"

# 2. the rule option turns it off
$cpd "oci:$T/a" "docker://$PROXY/keep/app:1"
expect_eq "DELETE under delete_signatures false" \
    "$(http_status DELETE "http://$PROXY/v2/keep/app/manifests/$a")" 202
sleep 0.5
check "the signature is kept" exists keep/app "sha256-${a#sha256:}.sig"

# 3. gc: an orphan made by a DELETE that bypassed signet
c=$(mkimage "$T/c" --layers 1 --size 10000 --seed gcc)
$cpd "oci:$T/c" "docker://$PROXY/g/app:3"
curl -s -o /dev/null -X DELETE "$R/v2/g/app/manifests/$c"
out=$("$SIGNET" gc --dry-run --allow-http "$REG_up/g/app")
expect_match "gc --dry-run names the orphan" "$out" "orphan $REG_up/g/app:sha256-${c#sha256:}.sig"
expect_match "gc --dry-run deletes nothing" "$out" '1 orphan\(s\), 0 deleted, 0 trimmed, 0 left alone \(dry run\)'
expect_match "  and says what it would do" "$out" "would delete $REG_up/g/app:sha256-${c#sha256:}.sig"
check "the orphan is still there" exists g/app "sha256-${c#sha256:}.sig"
out=$("$SIGNET" gc --allow-http "$REG_up/g/app")
expect_match "gc deletes the orphan" "$out" "deleted $REG_up/g/app:sha256-${c#sha256:}.sig"
expect_eq "the orphan is gone" "$(http_status HEAD "$R/v2/g/app/manifests/sha256-${c#sha256:}.sig" -H "Accept: $OCI")" 404
check "the live image's signature stays" exists g/app "sha256-${b#sha256:}.sig"
out=$("$SIGNET" gc --allow-http "$REG_up/g/app")
expect_match "a second gc finds nothing" "$out" '0 orphan\(s\), 0 deleted'
# 4. require_subject: no orphan signature object is written through signet
$cpd "oci:$T/b" "docker://$PROXY/strict/app:1"
curl -s -H "Accept: $OCI" "$R/v2/strict/app/manifests/sha256-${b#sha256:}.sig" >"$T/sb.json"
ghost=sha256:1111111111111111111111111111111111111111111111111111111111111111
b2=$(curl -s -w ' %{http_code}' -X PUT -H "Content-Type: $OCI" --data-binary @"$T/sb.json" \
    "http://$PROXY/v2/strict/app/manifests/sha256-${ghost#sha256:}.sig" | tr -d '\n')
expect_match "a signature object for a missing subject is refused" "$b2" \
    'MANIFEST_BLOB_UNKNOWN.*is not in strict/app.* 400$'
expect_eq "one for an existing subject is stored" "$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
    -H "Content-Type: $OCI" --data-binary @"$T/sb.json" \
    "http://$PROXY/v2/strict/app/manifests/sha256-${b#sha256:}.att")" 201

out=$("$SIGNET" gc --allow-http "$REG_up/g/none" 2>&1)
expect_eq "gc of a missing repository: exit 1" "$?" 1
stop_signet
finish
