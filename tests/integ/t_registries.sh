#!/bin/bash
# Every registry of cosign's list, emulated (issue #16): for each profile
# of ../shared/REGISTRIES.md section 3, the quirks the front can emulate
# are switched on together before a real distribution registry, and the
# sequence a user runs goes through signet:
#   1. push a small image: it is signed;
#   2. push a multi-arch index with its children: each is signed;
#   3. pull the signed image;
#   4. pull an unsigned image: refused with a DENIED (403), not a 502;
#   5. `signet copy` to another registry, signatures included.
# A profile whose registry cannot take cosign's legacy format ends with
# the refusal the README documents for it (gitlab-strict).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo
require_pycrypto

start_registry up
start_registry dst
export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
OCI='application/vnd.oci.image.manifest.v1+json'
cpd="skopeo copy -q --dest-tls-verify=false --src-tls-verify=false"
img=$(mkimage "$T/img" --layers 1 --size 5000 --seed reg-img)
idx=$(mkimage "$T/idx" --layers 1 --size 5000 --arch amd64,arm64 --seed reg-idx)
uns=$(mkimage "$T/uns" --layers 1 --size 5000 --seed reg-unsigned)

# profile NAME QUIRKS UPSTREAM_EXTRA: the sequence through a front with the
# quirks (","-separated; "none" for none) and the upstream options given
profile() {
	name=$1
	quirks=$2
	FRONT=127.0.0.1:$(free_port)
	$HELPERS quirk-front "${FRONT#*:}" "$REG_up" "$quirks" >"$T/front-$name.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_http "http://$FRONT/v2/"
	UPSTREAM_EXTRA=$3 start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"},
	  \"policies\": [{\"match\": \"*\", \"sign\": \"required\", \"verify\": \"enforce\",
	  \"keys\": [\"$T/k.pub\"]}]"
	r=$name/app
	# 1. a small image
	check "$name: 1. a push is signed" $cpd "oci:$T/img" "docker://$PROXY/$r:1"
	out=$($CHECK "$REG_up" "$r" 1 "$T/k.pub" 2>&1)
	expect_match "$name:    valid" "$out" '"valid": 1'
	# 2. a multi-arch index and its children
	check "$name: 2. an index is pushed" $cpd --all "oci:$T/idx" "docker://$PROXY/$r:multi"
	out=$($CHECK "$REG_up" "$r" multi "$T/k.pub" 2>&1)
	expect_match "$name:    the index is signed" "$out" '"valid": 1'
	d=$(child_digest "$r:multi" arm64)
	out=$($CHECK "$REG_up" "$r" "$d" "$T/k.pub" 2>&1)
	expect_match "$name:    a child is signed" "$out" '"valid": 1'
	# 3. the signed image, pulled
	out=$($cpd "docker://$PROXY/$r:1" "oci:$T/pulled-$name:x" 2>&1)
	expect_eq "$name: 3. the signed image pulls" "$out" ""
	# 4. an unsigned image (pushed straight upstream): DENIED
	$cpd "oci:$T/uns" "docker://$REG_up/$r:unsigned" >/dev/null 2>&1
	body=$(curl -s -H "Accept: $OCI" -w ' %{http_code}' "http://$PROXY/v2/$r/manifests/unsigned")
	expect_match "$name: 4. an unsigned pull is DENIED (403)" "$body" '"DENIED".* 403$'
	# 5. copied with its signatures
	out=$("$SIGNET" copy --allow-http "$FRONT/$r:1" "$REG_dst/$name/copy:1" 2>&1)
	expect_eq "$name: 5. signet copy succeeds" "$?" 0
	case $quirks in *forbidden-absent*)
		# no cosign v3 signature here: the referrers tag's 403 is "none"
		expect_match "$name:    a 403 for the referrers tag is taken as none, in words" \
		    "$out" 'answers HTTP 403 for the referrers tag sha256-[0-9a-f]{64} .*taken as no referrers' ;;
	esac
	out=$($CHECK "$REG_dst" "$name/copy" 1 "$T/k.pub" 2>&1)
	expect_match "$name:    with the signature" "$out" '"valid": 1'
	stop_signet
	: >"$T/signet.log"
}

#       profile       quirks the front emulates            upstream options
profile distribution  none                                 ''
profile ecr           immutable,no-digest,blob-redirect,referrer-index-405 ''
profile gar           lag                                  ''
profile dockerhub     lag,429                              ''
profile acr           429-acr                              ''
profile artifactory   forbidden-absent,no-oci-sig          ', "forbidden_means_absent": true, "media_types": "auto"'
profile gitlab        gitlab-digest-tag                    ''
profile ghcr          429-ghcr                             ''
profile harbor        immutable-harbor,blob-redirect       ''
profile docr          none                                 ''
profile nexus         ct-lie,nexus-redeploy                ', "manifest_put": "tag-only"'
profile alibaba       none                                 ''
profile quay          no-oci-sig                           ', "media_types": "auto"'

# gitlab-strict: a media-type allowlist without cosign's: a push under a
# rule that requires signing is refused, in the registry's words
FRONT=127.0.0.1:$(free_port)
$HELPERS quirk-front "${FRONT#*:}" "$REG_up" gitlab-allowlist >"$T/front-gls.log" 2>&1 &
PIDS="$PIDS $!"
wait_http "http://$FRONT/v2/"
start_signet "http://$FRONT" "\"signing\": {\"key\": \"$T/k.key\"},
  \"policies\": [{\"match\": \"*\", \"sign\": \"required\"}]"
$cpd "oci:$T/img" "docker://$REG_up/gls/app:seed" >/dev/null 2>&1
curl -s -H "Accept: $OCI" "http://$REG_up/v2/gls/app/manifests/seed" >"$T/gls.json"
body=$(curl -s -X PUT -H "Content-Type: $OCI" --data-binary @"$T/gls.json" \
    "http://$PROXY/v2/gls/app/manifests/1" -w ' %{http_code}')
expect_match "gitlab-strict: the push is refused, in the registry's words" "$body" \
    'upstream answered HTTP 400 MANIFEST_INVALID.* 403$'
stop_signet
finish
