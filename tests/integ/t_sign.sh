#!/bin/bash
# Signing on push: skopeo and podman push through signet and the signature is
# in the registry as cosign writes it, checked by an independent verifier
# (tests/integ/cosign_check.py, Python's cryptography).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo
require_pycrypto

start_registry up
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
cp="skopeo copy -q --src-tls-verify=false --dest-tls-verify=false"

# keygen: a key pair cosign reads, checked by an independent decryption
export COSIGN_PASSWORD=s3cret
out=$("$SIGNET" keygen --output-key-prefix "$T/k" 2>&1)
expect_match "keygen writes the pair" "$out" "Private key written to $T/k.key"
check "keygen refuses to overwrite" sh -c "! '$SIGNET' keygen --output-key-prefix '$T/k' 2>/dev/null"
expect_eq "key file mode 0600" "$(stat -c %a "$T/k.key")" 600
out=$("$PYCRYPTO" "$top_srcdir/tests/integ/cosign_key.py" "$T/k.key" "$T/k.pub" 2>&1)
expect_eq "independent scrypt + secretbox decrypts the key" "$out" "ok N=32768 r=8 p=1"
out=$(COSIGN_PASSWORD=wrong "$PYCRYPTO" "$top_srcdir/tests/integ/cosign_key.py" "$T/k.key" "$T/k.pub" 2>&1)
expect_match "and rejects a wrong password" "$out" 'authentication failed'

POLICIES='"policies": [
    {"match": "signed/*", "sign": "required"},
    {"match": "best/*", "sign": "best-effort"},
    {"match": "named/*", "sign": "required", "reference_registry": "signet.example:443",
     "annotations": {"team": "blue"}},
    {"match": "*", "sign": "off"}]'
start_signet "http://$REG_up" "\"signing\": {\"key\": \"$T/k.key\"}, $POLICIES"
check "signet reports the key check" sh -c "'$SIGNET' check-config -c '$T/signet.json' | grep -q 'configuration OK'"

# 1. an OCI image by tag
top=$(mkimage "$T/img" --layers 2 --size 100000 --seed sign1)
check "skopeo push through signet" $cp "oci:$T/img" "docker://$PROXY/signed/app:1"
out=$($CHECK "$REG_up" signed/app 1 "$T/k.pub" --want-ref "$REG_up/signed/app" --media oci)
expect_match "signature verifies independently, OCI types, docker-reference = upstream/repo" \
    "$out" "\"digest\": \"$top\", \"layers\": 1, \"valid\": 1"
out=$($CHECK "$REG_up" signed/app 1 "$top_srcdir/tests/vectors/cosign/trust/cosign.pub")
expect_match "and not under another key" "$out" '"valid": 0'
line=$(grep '"msg":"signature"' "$T/signet.log" | head -1)
expect_match "signature log line" "$line" \
    "\"repository\":\"signed/app\",\"digest\":\"$top\",\"signature_repository\":\"signed/app\",\"key\":\"[0-9a-f]{64}\",\"mode\":\"required\",\"outcome\":\"signed\""

# skopeo's own lookup finds it (Debian's build then stops: sigstore disabled)
cat >"$T/policy.json" <<EOC
{"default": [{"type": "reject"}], "transports": {"docker": {"$PROXY": [{"type": "sigstoreSigned",
  "keyPath": "$T/k.pub", "signedIdentity": {"type": "matchRepository"}}]}}}
EOC
mkdir -p "$T/registries.d"
printf 'docker:\n  %s:\n    use-sigstore-attachments: true\n' "$PROXY" >"$T/registries.d/signet.yaml"
out=$(skopeo --policy "$T/policy.json" --registries.d "$T/registries.d" copy -q \
    --src-tls-verify=false "docker://$PROXY/signed/app:1" "oci:$T/pulled:x" 2>&1)
expect_match "skopeo finds and accepts the format (then Debian's patch refuses)" "$out" \
    'Debian-local change: sigstore disabled'

# 2. the same image again under another tag: no second layer
check "second push of the same manifest" $cp "oci:$T/img" "docker://$PROXY/signed/app:2"
out=$($CHECK "$REG_up" signed/app 2 "$T/k.pub")
expect_match "identical signature not appended twice" "$out" '"layers": 1, "valid": 1'
check "second push logged as present" grep -q '"outcome":"present"' "$T/signet.log"

# 3. not signed where the policy says off, nor cosign's own objects
check "push to an unsigned repository" $cp "oci:$T/img" "docker://$PROXY/plain/app:1"
expect_eq "no signature there" "$(http_status HEAD \
    "http://$REG_up/v2/plain/app/manifests/sha256-${top#sha256:}.sig" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json')" 404
sigman=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REG_up/v2/signed/app/manifests/sha256-${top#sha256:}.sig")
expect_eq "a cosign signature pushed through signet is stored, not signed" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "$sigman" "http://$PROXY/v2/signed/app/manifests/sha256-${top#sha256:}.sig")" 201
expect_eq "cosign objects are not signed" "$(grep -c '"msg":"signature"' "$T/signet.log")" 2

# 4. by digest: answered after the signature
man=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG_up/v2/signed/app/manifests/1")
printf '%s' "$man" >"$T/man.json"
expect_eq "PUT by digest to another repository... needs its blobs" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$T/man.json" "http://$PROXY/v2/signed/other/manifests/$top")" 400
check "rejected manifest: nothing signed" sh -c "! grep '\"msg\":\"signature\"' '$T/signet.log' | grep -q signed/other"
$cp "oci:$T/img" "docker://$PROXY/plain/copy:1" >/dev/null 2>&1
mounted=0
for d in $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(" ".join([m["config"]["digest"]]+[l["digest"] for l in m["layers"]]))' "$T/man.json"); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$PROXY/v2/signed/bydigest/blobs/uploads/?mount=$d&from=signed/app")" = 201 ] && mounted=$((mounted + 1))
done
expect_eq "blobs mounted for the by-digest push" "$mounted" 3
h=$(curl -s -D - -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$T/man.json" "http://$PROXY/v2/signed/bydigest/manifests/$top")
expect_match "PUT by digest: 201" "$h" '^HTTP/1.1 201'
expect_match "with the registry's Docker-Content-Digest" "$h" "Docker-Content-Digest: $top"
out=$($CHECK "$REG_up" signed/bydigest "$top" "$T/k.pub")
expect_match "pushed by digest: signed" "$out" '"valid": 1'
b=$(curl -s -w ' %{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$T/man.json" "http://$PROXY/v2/signed/bydigest/manifests/sha256:0000000000000000000000000000000000000000000000000000000000000000")
expect_match "digest not matching the bytes: 400" "$b" 'DIGEST_INVALID.* 400$'

# 5. a multi-architecture index: the index and every child
top=$(mkimage "$T/multi" --layers 1 --size 50000 --arch amd64,arm64 --seed sign2)
check "skopeo copy --all of an index" $cp --all "oci:$T/multi" "docker://$PROXY/signed/multi:1"
out=$($CHECK "$REG_up" signed/multi 1 "$T/k.pub")
expect_match "index signed" "$out" "\"digest\": \"$top\", \"layers\": 1, \"valid\": 1"
for arch in amd64 arm64; do
	d=$(child_digest signed/multi:1 "$arch")
	out=$($CHECK "$REG_up" signed/multi "$d" "$T/k.pub")
	expect_match "$arch child signed" "$out" "\"digest\": \"$d\", \"layers\": 1, \"valid\": 1"
done

# 6. reference_registry and annotations from the rule
check "push to a rule with reference_registry" $cp "oci:$T/img" "docker://$PROXY/named/app:1"
out=$($CHECK "$REG_up" named/app 1 "$T/k.pub" --want-ref signet.example:443/named/app)
expect_match "docker-reference from the rule, annotations in optional" "$out" \
    '"valid": 1, "refs": \["signet.example:443/named/app"\], "optional": \[\{"team": "blue"\}\]'

# 7. podman push through signet
pm() { podman --root "$T/proot" --runroot "$T/prun" --storage-driver vfs "$@"; }
if pm pull -q "oci:$T/img" >/dev/null 2>&1; then
	check "podman push through signet" pm push -q --tls-verify=false \
	    --digestfile "$T/pd" "$(pm images -q | head -1)" "$PROXY/signed/podman:1"
	out=$($CHECK "$REG_up" signed/podman 1 "$T/k.pub")
	expect_match "podman's push is signed" "$out" "\"digest\": \"$(cat "$T/pd")\", \"layers\": 1, \"valid\": 1"
else
	not_ok "podman could not load the test image"
fi

# 8. a list signet cannot extend (here an image index at the .sig tag,
#    as a push-only client could plant) does not stop signing: it is kept
#    under <tag>.unusable-<12 hex> and a new list takes the tag
top=$(mkimage "$T/img3" --layers 1 --size 30000 --seed sign3)
bad='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
badd=sha256:$(printf '%s' "$bad" | sha256sum | cut -d' ' -f1)
curl -s -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' \
    --data-binary "$bad" "http://$REG_up/v2/signed/broken/manifests/sha256-${top#sha256:}.sig"
check "required: the push succeeds over a planted index" $cp "oci:$T/img3" \
    "docker://$PROXY/signed/broken:1"
out=$($CHECK "$REG_up" signed/broken 1 "$T/k.pub")
expect_match "  and is signed" "$out" '"layers": 1, "valid": 1'
aside="sha256-${top#sha256:}.sig.unusable-$(printf '%.12s' "${badd#sha256:}")"
h=$(curl -s -D - -o /dev/null -H 'Accept: application/vnd.oci.image.index.v1+json' \
    "http://$REG_up/v2/signed/broken/manifests/$aside" | tr -d '\r')
expect_match "  the index is kept, by its digest, under $aside" "$h" \
    "Docker-Content-Digest: $badd"
check "  and signet says so" grep -q "was unusable (signature manifest is not an image manifest): kept as signed/broken:$aside ($badd)" "$T/signet.log"

# 8b. signing that fails: required refuses without a tag, best-effort tags
#     and counts the failure (an upstream that answers 500 for .sig tags)
proxy1=$PROXY
pid1=$SIGNET_PID
f500=$(free_port)
$HELPERS quirk-front "$f500" "$REG_up" sig-500 &
PIDS="$PIDS $!"
wait_http "http://127.0.0.1:$f500/v2/"
start_signet "http://127.0.0.1:$f500" "\"signing\": {\"key\": \"$T/k.key\"}, $POLICIES"
out=$($cp --retry-times 0 "oci:$T/img3" "docker://$PROXY/signed/fail:1" 2>&1)
rc=$?
check "required: the push fails" test $rc -ne 0
# a transient upstream fault is a 503 (skopeo prints only the status)
expect_match "required: the client gets a 503" "$out" '503 Service Unavailable'
check "  and the log says why" grep -q '"repository":"signed/fail".*"outcome":"failed".*"error":"reading the signature list: upstream answered HTTP 500"' "$T/signet.log"
expect_eq "required: no tag" "$(http_status HEAD "http://$REG_up/v2/signed/fail/manifests/1" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json')" 404
check "best-effort: the push succeeds" $cp "oci:$T/img3" "docker://$PROXY/best/fail:1"
expect_eq "best-effort: the tag exists" "$(http_status HEAD "http://$REG_up/v2/best/fail/manifests/1" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json')" 200
check "best-effort: failure logged" grep -q '"repository":"best/fail".*"outcome":"failed"' "$T/signet.log"
m=$(curl -s "http://$PROXY/metrics")
expect_match "failures counted in /metrics" "$m" 'signet_signatures_total\{outcome="failed"\} [2-9]'
stop_signet
PROXY=$proxy1
SIGNET_PID=$pid1
m=$(curl -s "http://$PROXY/metrics")
expect_match "signatures counted in /metrics" "$m" 'signet_signatures_total\{outcome="signed"\} [1-9]'
stop_signet
: >"$T/signet.log"

# 9. Docker media types, by configuration and by COSIGN_DOCKER_MEDIA_TYPES
UPSTREAM_EXTRA=', "media_types": "docker"' start_signet "http://$REG_up" \
    "\"signing\": {\"key\": \"$T/k.key\"}, $POLICIES"
check "push with media_types docker" $cp "oci:$T/img" "docker://$PROXY/signed/docker:1"
out=$($CHECK "$REG_up" signed/docker 1 "$T/k.pub" --media docker)
expect_match "Docker-typed signature manifest verifies" "$out" '"valid": 1'
stop_signet
: >"$T/signet.log"
COSIGN_DOCKER_MEDIA_TYPES=1 start_signet "http://$REG_up" "\"signing\": {\"key\": \"$T/k.key\"}, $POLICIES"
check "push with COSIGN_DOCKER_MEDIA_TYPES=1" $cp "oci:$T/img" "docker://$PROXY/signed/docker2:1"
out=$($CHECK "$REG_up" signed/docker2 1 "$T/k.pub" --media docker)
expect_match "COSIGN_DOCKER_MEDIA_TYPES gives Docker types" "$out" '"valid": 1'
stop_signet
: >"$T/signet.log"

# 9b. "auto": an upstream that refuses OCI signature manifests (quirk M1)
front=$(free_port)
$HELPERS quirk-front "$front" "$REG_up" no-oci-sig &
PIDS="$PIDS $!"
wait_http "http://127.0.0.1:$front/v2/"
UPSTREAM_EXTRA=', "media_types": "auto"' start_signet "http://127.0.0.1:$front" \
    "\"signing\": {\"key\": \"$T/k.key\"}, $POLICIES"
check "push with media_types auto, OCI refused" $cp "oci:$T/img" "docker://$PROXY/signed/auto:1"
out=$($CHECK "$REG_up" signed/auto 1 "$T/k.pub" --media docker)
expect_match "auto fell back to Docker media types" "$out" '"valid": 1'
check "the fallback is logged" grep -q 'retrying with Docker media types' "$T/signet.log"
stop_signet
: >"$T/signet.log"
start_signet "http://127.0.0.1:$front" "\"signing\": {\"key\": \"$T/k.key\"}, $POLICIES"
out=$($cp "oci:$T/img" "docker://$PROXY/signed/noauto:1" 2>&1)
expect_match "oci only, refused: required push fails with the reason" "$out" \
    'writing the signature list: upstream answered HTTP 400'
expect_eq "and no tag" "$(http_status HEAD "http://$REG_up/v2/signed/noauto/manifests/1" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json')" 404
stop_signet
: >"$T/signet.log"

# 10. a separate signature repository (file, then COSIGN_REPOSITORY)
start_signet "http://$REG_up" "\"signing\": {\"key\": \"$T/k.key\"}, \"signature_repository\": \"sigs/store\", $POLICIES"
top=$(mkimage "$T/img4" --layers 1 --size 30000 --seed sign4)
check "push with a signature repository" $cp "oci:$T/img4" "docker://$PROXY/signed/sep:1"
out=$($CHECK "$REG_up" signed/sep 1 "$T/k.pub" --sigrepo sigs/store --want-ref "$REG_up/signed/sep")
expect_match "signature in sigs/store, payload names the image" "$out" '"valid": 1'
expect_eq "nothing in the image's repository" "$(http_status HEAD \
    "http://$REG_up/v2/signed/sep/manifests/sha256-${top#sha256:}.sig" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json')" 404
stop_signet
: >"$T/signet.log"
COSIGN_REPOSITORY=sigs/env start_signet "http://$REG_up" "\"signing\": {\"key\": \"$T/k.key\"}, $POLICIES"
check "push with COSIGN_REPOSITORY" $cp "oci:$T/img4" "docker://$PROXY/signed/sep2:1"
out=$($CHECK "$REG_up" signed/sep2 1 "$T/k.pub" --sigrepo sigs/env)
expect_match "COSIGN_REPOSITORY honoured" "$out" '"valid": 1'
stop_signet

# 11. signet sign: an image already in the registry, like cosign sign
top=$(mkimage "$T/img5" --layers 1 --size 20000 --seed sign5)
skopeo copy -q --dest-tls-verify=false "oci:$T/img5" "docker://$REG_up/cli/app:1"
out=$("$SIGNET" sign --key "$T/k.key" --allow-http "$REG_up/cli/app:1" 2>&1)
expect_eq "sign by tag" "$out" "signature signed: $REG_up/cli/app:sha256-${top#sha256:}.sig"
out=$($CHECK "$REG_up" cli/app 1 "$T/k.pub" --want-ref "$REG_up/cli/app")
expect_match "signed by the command, verified independently" "$out" '"layers": 1, "valid": 1'
out=$("$SIGNET" sign --key "$T/k.key" --allow-http "$REG_up/cli/app@$top" 2>&1)
expect_eq "sign by digest again: already present" "$out" \
    "signature present: $REG_up/cli/app:sha256-${top#sha256:}.sig"
out=$("$SIGNET" sign --key "$T/k.key" --allow-http "$REG_up/cli/app:nope" 2>&1)
expect_eq "missing tag: exit 1" "$?" 1
expect_match "missing tag named" "$out" "reading the manifest $REG_up/cli/app:nope: HTTP 404"
out=$(COSIGN_PASSWORD=bad "$SIGNET" sign --key "$T/k.key" --allow-http "$REG_up/cli/app:1" 2>&1)
expect_match "wrong password named" "$out" 'signing.key: .*wrong password'
out=$("$SIGNET" sign --key "$T/k.key" "not a reference" 2>&1)
expect_eq "bad reference: exit 2" "$?" 2
finish
