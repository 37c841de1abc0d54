#!/bin/bash
# The boundary holds whatever a tag is called (issue #9, item 1): what makes
# a manifest a signature, attestation or SBOM object is its content (every
# layer of such a type), never a cosign-shaped tag.  An ordinary image under
# sha256-<hex>.sig is verified on pull and signed on push like any image; a
# real signature object is allowed by its content under any tag, by digest
# too; under strict_blobs an unsigned manifest assembled from the blobs of
# verified images gets neither blob.  The DELETE cascade and `signet gc`
# take away only what was signed for the deleted digest (items 2 and 3).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo podman
require_pycrypto

start_registry up
export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
R="http://$REG_up"
OCI='application/vnd.oci.image.manifest.v1+json'
POL="\"policies\": [
  {\"match\": \"team/*\", \"sign\": \"required\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"]},
  {\"match\": \"strict/*\", \"sign\": \"required\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"], \"strict_blobs\": true},
  {\"match\": \"sub/*\", \"sign\": \"required\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"], \"require_subject\": true},
  {\"match\": \"*\", \"sign\": \"off\"}]"
start_signet "$R" "\"signing\": {\"key\": \"$T/k.key\"}, $POL"
P="http://$PROXY"
cpd="skopeo copy -q --dest-tls-verify=false"
pull() { skopeo copy -q --src-tls-verify=false "docker://$PROXY/$1" "oci:$T/pulled-$RANDOM:x" 2>&1; }
pm() { podman --root "$T/proot" --runroot "$T/prun" --storage-driver vfs "$@"; }
FAKE=sha256-$(printf 'a%.0s' $(seq 64)).sig
# wait_log PATTERN: until signet has logged it (5 s at most)
wait_log() {
	for i in $(seq 1 50); do
		grep -q "$1" "$T/signet.log" && return
		sleep 0.1
	done
}
hexof() { printf '%s' "${1#sha256:}"; }

# 1. an ordinary unsigned image pushed upstream under a cosign-shaped tag
evil=$(mkimage "$T/evil" --layers 1 --size 20000 --seed evil)
check "an unsigned image pushed straight upstream as team/app:$FAKE" \
    $cpd "oci:$T/evil" "docker://$REG_up/team/app:$FAKE"
out=$(pull "team/app:$FAKE")
expect_match "skopeo's pull through signet is refused" "$out" \
    "$evil is not verified"
out=$(pm pull -q --tls-verify=false "$PROXY/team/app:$FAKE" 2>&1)
expect_match "podman's too" "$out" "is not verified"
expect_eq "HEAD by that tag: 403" "$(http_status HEAD \
    "$P/v2/team/app/manifests/$FAKE" -H "Accept: $OCI")" 403
expect_eq "GET by its digest: 403" "$(http_status GET \
    "$P/v2/team/app/manifests/$evil" -H "Accept: $OCI")" 403
#    ... nor disguised: a layer whose "mediaType" says cosign and whose
#    "MediaType" (what Go's encoding/json reads last) says tar
curl -s -H "Accept: $OCI" "$R/v2/team/app/manifests/$evil" | python3 -c '
import json, sys
m = json.load(sys.stdin)
for l in m["layers"]:
    real = l["mediaType"]
    l["mediaType"] = "application/vnd.dev.cosign.simplesigning.v1+json"
    l["MediaType"] = real
sys.stdout.write(json.dumps(m))' >"$T/disguised.json"
expect_eq "a disguised image pushed straight upstream" "$(curl -s -o /dev/null \
    -w '%{http_code}' -X PUT -H "Content-Type: $OCI" --data-binary @"$T/disguised.json" \
    "$R/v2/team/app/manifests/disguised")" 201
expect_eq "  is no signature object to signet: 403" "$(http_status GET \
    "$P/v2/team/app/manifests/disguised" -H "Accept: $OCI")" 403
out=$(pull team/app:disguised)
expect_match "  skopeo's pull is refused" "$out" "is not verified"

# 2. a real signature object: allowed by its content, by tag (GET and a
#    cold HEAD), by digest, and under a tag that is not cosign-shaped
img=$(mkimage "$T/img" --layers 1 --size 20000 --seed good)
check "push (signed) through signet" $cpd "oci:$T/img" \
    "docker://$PROXY/team/app:1"
sigtag=sha256-$(hexof "$img").sig
expect_eq "a cold HEAD of the signature list by its tag: 200" \
    "$(http_status HEAD "$P/v2/team/app/manifests/$sigtag" -H "Accept: $OCI")" 200
expect_eq "GET of it by tag: 200" \
    "$(http_status GET "$P/v2/team/app/manifests/$sigtag" -H "Accept: $OCI")" 200
sigd=$(curl -s -D - -o "$T/list.json" -H "Accept: $OCI" \
    "$R/v2/team/app/manifests/$sigtag" | tr -d '\r' |
    sed -n 's/^Docker-Content-Digest: //Ip')
expect_eq "GET of it by digest: 200" \
    "$(http_status GET "$P/v2/team/app/manifests/$sigd" -H "Accept: $OCI")" 200
curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" --data-binary @"$T/list.json" \
    "$R/v2/team/app/manifests/copied-list"
expect_eq "the same object under an ordinary tag: 200" \
    "$(http_status GET "$P/v2/team/app/manifests/copied-list" -H "Accept: $OCI")" 200
expect_match "counted in /metrics" "$(curl -s "$P/metrics")" \
    'signet_signature_objects_total [1-9]'
line=$(grep '"msg":"decision"' "$T/signet.log" | grep "\"digest\":\"$sigd\"" | head -1)
expect_match "the audit line says why" "$line" 'a signature object'

# 3. pushed through signet under a cosign-shaped tag, an image is signed
img2=$(mkimage "$T/img2" --layers 1 --size 20000 --seed under-sig-tag)
check "an image pushed through signet as team/app:$FAKE" \
    $cpd "oci:$T/img2" "docker://$PROXY/team/app:$FAKE"
out=$($CHECK "$REG_up" team/app "$img2" "$T/k.pub")
expect_match "  is signed" "$out" '"valid": 1'
out=$(pull "team/app:$FAKE")
expect_eq "  and pulls through signet" "$out" ""
#    ... while a signature object pushed through signet goes up unsigned
curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" --data-binary @"$T/list.json" \
    "$P/v2/team/app/manifests/sha256-$(hexof "$evil").sig" -w '%{http_code}' >"$T/st"
expect_eq "a signature object pushed through signet: 201" "$(cat "$T/st")" 201
expect_eq "  is not signed itself" "$(http_status HEAD \
    "$R/v2/team/app/manifests/sha256-$(hexof "$sigd").sig" -H "Accept: $OCI")" 404

# 4. require_subject and sign: an image under a signature tag whose subject
#    exists is handed to the signer, not relayed as it is
check "a subject in sub/app" $cpd "oci:$T/img" "docker://$PROXY/sub/app:1"
img3=$(mkimage "$T/img3" --layers 1 --size 20000 --seed sub-image)
check "an image pushed through signet as sub/app:$sigtag" \
    $cpd "oci:$T/img3" "docker://$PROXY/sub/app:$sigtag"
out=$($CHECK "$REG_up" sub/app "$img3" "$T/k.pub")
expect_match "  is signed" "$out" '"valid": 1'

# 5. strict_blobs: B's config with A's layer, pushed upstream unsigned
a=$(mkimage "$T/a" --layers 1 --size 20000 --seed blob-a)
b=$(mkimage "$T/b" --layers 1 --size 20000 --seed blob-b)
check "A signed through signet" $cpd "oci:$T/a" "docker://$PROXY/strict/app:a"
check "B signed through signet" $cpd "oci:$T/b" "docker://$PROXY/strict/app:b"
expect_eq "A pulls" "$(pull strict/app:a)" ""
expect_eq "B pulls" "$(pull strict/app:b)" ""
curl -s -H "Accept: $OCI" "$R/v2/strict/app/manifests/a" >"$T/ma.json"
curl -s -H "Accept: $OCI" "$R/v2/strict/app/manifests/b" >"$T/mb.json"
python3 - "$T/ma.json" "$T/mb.json" >"$T/mix.json" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
a["config"] = b["config"]
sys.stdout.write(json.dumps(a))
EOF
for tag in mix "$FAKE"; do
	curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" \
	    --data-binary @"$T/mix.json" "$R/v2/strict/app/manifests/$tag"
	n0=$(grep -c '"path":"/v2/strict/app/blobs/' "$T/signet.log")
	out=$(pull "strict/app:$tag")
	expect_match "the mix under strict/app:$tag is refused" "$out" \
	    "is not verified"
	expect_eq "  and not one of its blobs was asked for" \
	    "$(grep -c '"path":"/v2/strict/app/blobs/' "$T/signet.log")" "$n0"
done

# 5b. strict_blobs: a signature object is allowed by its content, not by a
#     signature, so the blobs it names are not allowed by it: one naming an
#     unsigned image's config and layer does not open them
u=$(mkimage "$T/u" --layers 1 --size 20000 --seed blob-u)
check "U straight upstream, unsigned" $cpd "oci:$T/u" "docker://$REG_up/strict/app:u"
curl -s -H "Accept: $OCI" "$R/v2/strict/app/manifests/u" >"$T/mu.json"
python3 - "$T/mu.json" >"$T/usig.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["layers"][0]["mediaType"] = "application/vnd.dev.cosign.simplesigning.v1+json"
sys.stdout.write(json.dumps(m))
EOF
curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" --data-binary @"$T/usig.json" \
    "$R/v2/strict/app/manifests/usig"
expect_eq "a signature object naming U's blobs is allowed" "$(http_status GET \
    "$P/v2/strict/app/manifests/usig" -H "Accept: $OCI")" 200
for d in $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))
print(m["config"]["digest"], m["layers"][0]["digest"])' "$T/mu.json"); do
	expect_eq "  U's blob ${d#sha256:} is still refused" \
	    "$(http_status GET "$P/v2/strict/app/blobs/$d")" 403
done
#     while the payload of a signature that verified A stays readable, for a
#     cosign client checking A through signet
pd=$(curl -s -H "Accept: $OCI" "$P/v2/strict/app/manifests/sha256-$(hexof "$a").sig" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
expect_eq "A's signature payload is readable through signet" \
    "$(http_status GET "$P/v2/strict/app/blobs/$pd")" 200

# 8. a planted list signet cannot extend does not block a digest: it is
#    kept under <tag>.unusable-<12 hex> and a new list takes the tag
for kind in duplicate-keys no-media-type 1000-layers; do
	x=$(mkimage "$T/x-$kind" --layers 1 --size 5000 --seed "plant-$kind")
	check "an image for the $kind plant, straight upstream" \
	    $cpd "oci:$T/x-$kind" "docker://$REG_up/team/app:x-$kind"
	python3 - "$T/list.json" "$kind" >"$T/plant.json" <<'EOF2'
import json, sys
m = json.load(open(sys.argv[1]))
kind = sys.argv[2]
if kind == "duplicate-keys":
    t = json.dumps(m)
    sys.stdout.write(t[:-1] + ', "layers": []}')
    sys.exit(0)
if kind == "no-media-type":
    del m["mediaType"]
else:
    m["layers"] = m["layers"] * 1000
sys.stdout.write(json.dumps(m))
EOF2
	pd=sha256:$(sha256sum "$T/plant.json" | cut -d' ' -f1)
	st=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $OCI" \
	    --data-binary @"$T/plant.json" \
	    "$R/v2/team/app/manifests/sha256-$(hexof "$x").sig")
	expect_eq "  planted at its .sig tag" "$st" 201
	check "  a push of it through signet is signed all the same" \
	    $cpd "oci:$T/x-$kind" "docker://$PROXY/team/app:x-$kind"
	out=$($CHECK "$REG_up" team/app "$x" "$T/k.pub")
	expect_match "  one valid signature" "$out" '"layers": 1, "valid": 1'
	aside="sha256-$(hexof "$x").sig.unusable-$(printf '%.12s' "$(hexof "$pd")")"
	h=$(curl -s -D - -o /dev/null -H "Accept: $OCI" \
	    "$R/v2/team/app/manifests/$aside" | tr -d '\r')
	expect_match "  the plant is kept under $aside" "$h" \
	    "Docker-Content-Digest: $pd"
	expect_eq "  and it pulls through signet" "$(pull "team/app:x-$kind")" ""
done

# 6. the cascade is no confused deputy: a push-only client points S's
#    signature tags at P's signature list and at P itself
p=$(mkimage "$T/p" --layers 1 --size 20000 --seed precious)
check "P signed through signet" $cpd "oci:$T/p" "docker://$PROXY/team/app:p"
s_=$(mkimage "$T/s" --layers 1 --size 20000 --seed subject-s)
check "S pushed straight upstream" $cpd "oci:$T/s" "docker://$REG_up/team/app:s"
ptag=sha256-$(hexof "$p").sig
curl -s -H "Accept: $OCI" "$R/v2/team/app/manifests/$ptag" >"$T/plist.json"
curl -s -H "Accept: $OCI" "$R/v2/team/app/manifests/$p" >"$T/pman.json"
plant() {
	curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $OCI" \
	    --data-binary @"$1" "$P/v2/team/app/manifests/sha256-$(hexof "$s_").$2"
}
expect_eq "P's list planted at S's .sig through signet" "$(plant "$T/plist.json" sig)" 201
expect_eq "P's image planted at S's .att (signed: an image)" "$(plant "$T/pman.json" att)" 201
expect_eq "DELETE of S through signet: 202" \
    "$(http_status DELETE "$P/v2/team/app/manifests/$s_")" 202
wait_log "\"msg\":\"delete cascade\".*\"subject\":\"$s_\""
expect_eq "P's signature list is still there" \
    "$(http_status GET "$R/v2/team/app/manifests/$ptag" -H "Accept: $OCI")" 200
expect_eq "P itself is still there" \
    "$(http_status GET "$R/v2/team/app/manifests/$p" -H "Accept: $OCI")" 200
expect_eq "P still pulls through signet" "$(pull team/app:p)" ""
line=$(grep '"msg":"delete cascade object"' "$T/signet.log" | grep "\"subject\":\"$s_\"" | grep '"tag":"sha256-[0-9a-f]*.sig"')
expect_match "the .sig was left alone, with the reason" "$line" \
    '"action":"left alone","reason":"kept: a payload for sha256:'
line=$(grep '"msg":"delete cascade object"' "$T/signet.log" | grep "\"subject\":\"$s_\"" | grep '"tag":"sha256-[0-9a-f]*.att"')
expect_match "the .att too" "$line" '"action":"left alone","reason":"not a signature object'
expect_match "and counted" "$(curl -s "$P/metrics")" \
    'signet_cascade_objects_total\{action="left_alone"\} 2'
out=$("$SIGNET" gc --allow-http "$REG_up/team/app")
expect_match "signet gc leaves them alone too" "$out" \
    "left alone $REG_up/team/app:sha256-$(hexof "$s_").sig: kept: a payload for $p"
# the image pushed in 3 under $FAKE is an orphan by its tag's name too
expect_match "  all three: P's list, P, and the image under $FAKE" "$out" \
    '3 orphan\(s\), 0 deleted, 0 trimmed, 3 left alone'
expect_eq "  which is still there" "$(http_status GET \
    "$R/v2/team/app/manifests/$img2" -H "Accept: $OCI")" 200
expect_eq "  and P's list is there" \
    "$(http_status GET "$R/v2/team/app/manifests/$ptag" -H "Accept: $OCI")" 200

stop_signet

# 7. a shared signature repository: a DELETE takes only the deleted
#    repository's signatures, and the list only when nothing is left
SIGNET_LOG_LEVEL=debug start_signet "$R" "\"signing\": {\"key\": \"$T/k.key\"}, \"signature_repository\": \"sigs/all\", \"policies\": [
  {\"match\": \"*\", \"sign\": \"required\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"]}]"
P="http://$PROXY"
sh_=$(mkimage "$T/sh" --layers 1 --size 20000 --seed shared)
check "pushed to dev/app" $cpd "oci:$T/sh" "docker://$PROXY/dev/app:1"
check "and to prod/app" $cpd "oci:$T/sh" "docker://$PROXY/prod/app:1"
shtag=sha256-$(hexof "$sh_").sig
out=$($CHECK "$REG_up" prod/app 1 "$T/k.pub" --sigrepo sigs/all)
expect_match "one list, a signature for each" "$out" '"layers": 2, "valid": 2'
expect_eq "DELETE dev/app@D through signet: 202" \
    "$(http_status DELETE "$P/v2/dev/app/manifests/$sh_")" 202
wait_log "\"msg\":\"delete cascade\".*\"repository\":\"dev/app\""
out=$($CHECK "$REG_up" prod/app 1 "$T/k.pub" --sigrepo sigs/all)
expect_match "prod/app's signature stays, dev/app's went" "$out" \
    '"layers": 1, "valid": 1, "refs": \["127.0.0.1:[0-9]*/prod/app"\]'
expect_eq "prod/app:1 still pulls through signet" "$(pull prod/app:1)" ""
sleep 5		# signet looks at what it wrote 1 s and 4 s after the push
out=$($CHECK "$REG_up" prod/app 1 "$T/k.pub" --sigrepo sigs/all)
expect_match "  and signet's rechecks did not put dev/app's back" "$out" \
    '"layers": 1, "valid": 1, "refs": \["127.0.0.1:[0-9]*/prod/app"\]'
check "  (the recheck saw the image was gone)" grep -q \
    "sign dev/app@$sh_: the image is gone; no more rechecks" "$T/signet.log"
expect_eq "DELETE prod/app@D through signet: 202" \
    "$(http_status DELETE "$P/v2/prod/app/manifests/$sh_")" 202
wait_log "\"msg\":\"delete cascade\".*\"repository\":\"prod/app\""
expect_eq "then the list goes" "$(http_status HEAD \
    "$R/v2/sigs/all/manifests/$shtag" -H "Accept: $OCI")" 404

stop_signet
finish
