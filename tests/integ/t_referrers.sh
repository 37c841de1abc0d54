#!/bin/bash
# cosign v3 signatures follow their subject and travel with it (issue #12):
# Sigstore bundles made by the Sigstore JavaScript libraries
# (tests/integ/sigstore/sgjs.mjs), pushed as cosign 3 pushes them (the
# referrer by digest, its entry in the sha256-<hex> index: registry 2.8 has
# no referrers API).  A DELETE through signet and `signet gc` take away the
# referrers whose own subject is the image, judged by their content, never
# by the index that lists them (a planted referrer of another image and a
# planted image survive), and the index loses what went;
# `signet copy --verify` carries the bundles that verified, merging the
# target's index; a plain `signet copy` carries the image's cosign v3
# signatures (and its children's), nothing else without --all.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo openssl
require_pycrypto
require_sgjs
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
OCI=application/vnd.oci.image.manifest.v1+json
IDX=application/vnd.oci.image.index.v1+json
EMPTY=application/vnd.oci.empty.v1+json
ALL="$OCI, $IDX"
ec_keys a b
export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
"$SIGNET" keygen --output-key-prefix "$T/k2" >/dev/null

start_registry up
start_registry b
R="http://$REG_up"
B="http://$REG_b"
start_signet "$R" '"policies": [{"match": "*", "sign": "off"}]'
P="http://$PROXY"

# image REPO TAG: an image of its own straight upstream; its digest
image() { up_image "$1" "$2" "rf-$1-$2"; }
# sign3 REPO DIGEST KEY [MEDIA-TYPE]: a cosign v3 signature by KEY of an
# image (an index with $IDX), pushed as cosign 3 pushes it; the referrer's
# digest.  With PRED set, an attestation of that predicate type instead.
sign3() {
	SG sign-dsse --key "$3" --digest "$2" ${PRED:+--predicate-type "$PRED"} \
	    >"$T/b.json" 2>"$T/sg.err" || {
		cat "$T/sg.err" >&2
		return 1
	}
	mt=${4:-$OCI}
	size=$(curl -s -H "Accept: $mt" "$R/v2/$1/manifests/$2" | wc -c)
	SG referrer --bundle "$T/b.json" --subject-digest "$2" --subject-media-type "$mt" \
	    --subject-size "$size" >"$T/m.json"
	$HELPERS bundle-referrer "$REG_up" "$1" "$T/m.json" "$T/b.json"
}
# plant REPO SUBJECT DIGEST ARTIFACT-TYPE [COUNT]: an entry (COUNT times)
# added to SUBJECT's index upstream (what anyone who can push there can do)
plant() {
	python3 - "$R/v2/$1/manifests" "$2" "$3" "$4" "${5:-1}" <<'PY'
import json, sys, urllib.request
base, subj, d, at, n = sys.argv[1:]
tag = "%s/sha256-%s" % (base, subj[7:])
ix = json.load(urllib.request.urlopen(urllib.request.Request(
    tag, headers={"Accept": "application/vnd.oci.image.index.v1+json"})))
size = len(urllib.request.urlopen(urllib.request.Request(
    "%s/%s" % (base, d), headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})).read())
ix["manifests"] += [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                     "digest": d, "size": size, "artifactType": at}] * int(n)
urllib.request.urlopen(urllib.request.Request(
    tag, data=json.dumps(ix).encode(), method="PUT",
    headers={"Content-Type": ix["mediaType"]}))
PY
}
# st REGISTRY-URL REPO REF: the status of a manifest GET
st() { http_status GET "$1/v2/$2/manifests/$3" -H "Accept: $ALL"; }
# listed REGISTRY-URL REPO SUBJECT: the digests S's index lists, sorted
# ("none" when there is no index)
listed() {
	curl -s -H "Accept: $IDX" "$1/v2/$2/manifests/sha256-${3#sha256:}" | python3 -c '
import json, sys
try:
    print(" ".join(sorted(m["digest"] for m in json.load(sys.stdin)["manifests"])))
except Exception:
    print("none")'
}
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
# wait_cascade SUBJECT: until signet logged the end of its cascade
wait_cascade() {
	for _ in $(seq 1 100); do
		grep -q "\"msg\":\"delete cascade\".*\"subject\":\"$1\"" "$T/signet.log" && return
		sleep 0.1
	done
}
# obj DIGEST: the cascade's log line for the object with this digest
obj() { grep '"msg":"delete cascade object"' "$T/signet.log" | grep "\"digest\":\"$1\""; }

# 1. the DELETE cascade.  D has two bundles (two signers) and an SBOM; in
#    its index, planted: E's referrer (subject E) and the image F
d=$(image r/app d)
e=$(image r/app e)
f=$(image r/app f)
rd1=$(sign3 r/app "$d" "$T/a.key")
rd2=$(sign3 r/app "$d" "$T/b.key")
rds=$($HELPERS referrer "$REG_up" r/app "$d" "sbom of d")
re=$(sign3 r/app "$e" "$T/a.key")
rf=$(sign3 r/app "$f" "$T/a.key")
plant r/app "$d" "$re" application/vnd.dev.sigstore.bundle.v0.3+json
plant r/app "$d" "$f" "$EMPTY"
expect_eq "D's index lists its three referrers, E's and the image F" \
    "$(listed "$R" r/app "$d")" "$(sorted "$rd1" "$rd2" "$rds" "$re" "$f")"
expect_eq "DELETE of D through signet: 202" "$(http_status DELETE "$P/v2/r/app/manifests/$d")" 202
wait_cascade "$d"
for r in rd1 rd2 rds; do
	expect_eq "  D's referrer $r is gone" "$(st "$R" r/app "${!r}")" 404
done
expect_eq "  E's referrer, planted in D's index, stays" "$(st "$R" r/app "$re")" 200
expect_eq "  the image F, planted in D's index, stays" "$(st "$R" r/app "$f")" 200
expect_eq "  D's index is written back without what went" \
    "$(listed "$R" r/app "$d")" "$(sorted "$re" "$f")"
expect_eq "  E's own index is untouched" "$(listed "$R" r/app "$e")" "$re"
expect_eq "  F's too, and F's referrer is there" "$(listed "$R" r/app "$f") $(st "$R" r/app "$rf")" \
    "$rf 200"
out=$("$SIGNET" verify --key "$T/a.pub" --allow-http "$REG_up/r/app:e" 2>&1)
expect_eq "  E still verifies" "$?" 0
expect_match "E's referrer was left alone, with the reason" "$(obj "$re")" \
    "\"action\":\"left alone\",\"reason\":\"its subject is $e\""
expect_match "the image F too" "$(obj "$f")" \
    '"action":"left alone","reason":"not a signature object'
expect_match "each of D's referrers is logged deleted" "$(obj "$rd1")" \
    '"action":"deleted","reason":"a referrer of the subject'
expect_match "the index is logged trimmed" \
    "$(grep '"msg":"delete cascade object"' "$T/signet.log" | grep "\"tag\":\"sha256-${d#sha256:}\"")" \
    '"action":"trimmed","reason":"3 of 5 entries removed"'
expect_match "the cascade's summary" \
    "$(grep '"msg":"delete cascade"' "$T/signet.log" | grep "\"subject\":\"$d\"")" \
    '"deleted":3, ?"trimmed":1, ?"left_alone":2, ?"errors":0'
m=$(curl -s "$P/metrics")
expect_match "and counted in the cascade's metrics" "$m" \
    'signet_cascade_objects_total\{action="deleted"\} 3'
expect_match "  (trimmed and left alone too)" "$(printf '%s' "$m" | grep -E 'trimmed|left_alone' | tr '\n' ' ')" \
    'action="trimmed"\} 1 .*action="left_alone"\} 2 '

# G's index lists only G's referrers: it goes with them
g=$(image r/app g)
rg=$(sign3 r/app "$g" "$T/a.key")
expect_eq "DELETE of G through signet: 202" "$(http_status DELETE "$P/v2/r/app/manifests/$g")" 202
wait_cascade "$g"
expect_eq "  G's referrer is gone" "$(st "$R" r/app "$rg")" 404
expect_eq "  and so is its index" "$(st "$R" r/app "sha256-${g#sha256:}")" 404
expect_match "  logged" "$(grep '"msg":"delete cascade object"' "$T/signet.log" |
    grep "\"tag\":\"sha256-${g#sha256:}\"")" '"action":"deleted","reason":"every referrer it listed is gone"'

# 2. signet gc: H and K deleted straight upstream (bypassing signet); H's
#    index also lists E's referrer
h=$(image r/app h)
k=$(image r/app k)
rh=$(sign3 r/app "$h" "$T/a.key")
rk=$(sign3 r/app "$k" "$T/b.key")
plant r/app "$h" "$re" application/vnd.dev.sigstore.bundle.v0.3+json
curl -s -o /dev/null -X DELETE "$R/v2/r/app/manifests/$h"
curl -s -o /dev/null -X DELETE "$R/v2/r/app/manifests/$k"
out=$("$SIGNET" gc --dry-run --allow-http "$REG_up/r/app")
expect_match "gc --dry-run names H's index an orphan" "$out" \
    "orphan $REG_up/r/app:sha256-${h#sha256:} \\(subject $h is gone\\)"
expect_match "  would delete H's referrer" "$out" "would delete $REG_up/r/app@$rh"
expect_match "  would trim H's index" "$out" "would trim $REG_up/r/app:sha256-${h#sha256:}: 1 of 2"
expect_match "  would delete K's index" "$out" "would delete $REG_up/r/app:sha256-${k#sha256:}"
expect_eq "  and deletes nothing" "$(st "$R" r/app "$rh") $(st "$R" r/app "$rk")" "200 200"
out=$("$SIGNET" gc --allow-http "$REG_up/r/app")
expect_match "gc deletes H's referrer" "$out" "deleted $REG_up/r/app@$rh"
expect_eq "  which is gone" "$(st "$R" r/app "$rh")" 404
expect_eq "  H's index keeps E's referrer only" "$(listed "$R" r/app "$h")" "$re"
expect_eq "  K's referrer and index are gone" \
    "$(st "$R" r/app "$rk") $(st "$R" r/app "sha256-${k#sha256:}")" "404 404"
expect_match "  D's index (planted entries only) is left alone" "$out" \
    "left alone $REG_up/r/app:sha256-${d#sha256:}: none of the 2 referrers it lists went"
expect_eq "  E's referrer and the image F stay" "$(st "$R" r/app "$re") $(st "$R" r/app "$f")" \
    "200 200"
expect_eq "  live images' indexes are untouched" "$(listed "$R" r/app "$e"); $(listed "$R" r/app "$f")" \
    "$re; $rf"
expect_match "  the summary" "$out" \
    '5 signature object\(s\), 3 orphan\(s\), 3 deleted, 1 trimmed, 4 left alone$'
out=$("$SIGNET" gc --allow-http "$REG_up/r/app")
expect_match "a second gc deletes nothing" "$out" '2 orphan\(s\), 0 deleted, 0 trimmed'

# 3. signet copy --verify: a cosign v3 image verifies, and its bundles that
#    verified go with it (without --all), the target's index merged
v=$(image r/v3 1)
rv=$(sign3 r/v3 "$v" "$T/a.key")
rvb=$(sign3 r/v3 "$v" "$T/b.key")
rvs=$($HELPERS referrer "$REG_up" r/v3 "$v" "sbom of v")
"$SIGNET" copy --verify --key "$T/a.pub" --allow-http "$REG_up/r/v3:1" "$REG_b/m/v3:1" \
    >"$T/out" 2>"$T/err"
expect_eq "copy --verify of a cosign v3 image: exit 0" "$?" 0
expect_match "  one referrer copied" "$(cat "$T/out")" '1 referrer\(s\)$'
expect_eq "  the trusted bundle's referrer is at the target, same digest" \
    "sha256:$(curl -s -H "Accept: $OCI" "$B/v2/m/v3/manifests/$rv" | sha256sum | cut -d' ' -f1)" "$rv"
expect_eq "  the untrusted one and the SBOM are not (no --all)" \
    "$(st "$B" m/v3 "$rvb") $(st "$B" m/v3 "$rvs")" "404 404"
expect_eq "  the target's index lists it" "$(listed "$B" m/v3 "$v")" "$rv"
out=$("$SIGNET" verify --key "$T/a.pub" --allow-http "$REG_b/m/v3:1" 2>&1)
expect_eq "  and the copy verifies at the target" "$?" 0
rbt=$($HELPERS referrer "$REG_b" m/v3 "$v" "made at b")
rv2=$(sign3 r/v3 "$v" "$T/a.key")
"$SIGNET" copy --verify --key "$T/a.pub" --allow-http "$REG_up/r/v3:1" "$REG_b/m/v3:1" >/dev/null 2>&1
expect_eq "copying again merges the index by digest: nothing lost, none twice" \
    "$(listed "$B" m/v3 "$v")" "$(sorted "$rv" "$rv2" "$rbt")"
expect_eq "  sorted by digest, as go-containerregistry writes it" \
    "$(curl -s -H "Accept: $IDX" "$B/v2/m/v3/manifests/sha256-${v#sha256:}" |
    python3 -c 'import json,sys; d=[m["digest"] for m in json.load(sys.stdin)["manifests"]]; print(d == sorted(d))')" \
    True
expect_match "  with the referrer's own artifactType and annotations" \
    "$(curl -s -H "Accept: $IDX" "$B/v2/m/v3/manifests/sha256-${v#sha256:}")" \
    "\"digest\": ?\"$rv2\".*\"artifactType\": ?\"application/vnd.dev.sigstore.bundle.v0.3\\+json\".*\"dev.sigstore.bundle.predicateType\""
u=$(image r/v3 untrusted)
sign3 r/v3 "$u" "$T/b.key" >/dev/null
"$SIGNET" copy --verify --key "$T/a.pub" --allow-http "$REG_up/r/v3:untrusted" "$REG_b/m/v3:untrusted" \
    >/dev/null 2>"$T/err"
expect_eq "a cosign v3 image by an untrusted key: exit 1" "$?" 1
expect_match "  nothing written" "$(cat "$T/err")" 'is not verified: .*nothing was written'
# .sig and bundles together: only what verified goes, from both
w=$(image r/v3 w)
"$SIGNET" sign --key "$T/k.key" --allow-http "$REG_up/r/v3:w" >/dev/null
"$SIGNET" sign --key "$T/k2.key" --allow-http "$REG_up/r/v3:w" >/dev/null
rw=$(sign3 r/v3 "$w" "$T/a.key")
"$SIGNET" copy --verify --key "$T/k.pub" --key "$T/a.pub" --allow-http "$REG_up/r/v3:w" \
    "$REG_b/m/v3:w" >"$T/out" 2>"$T/err"
expect_eq "copy --verify of a .sig list and a bundle: exit 0" "$?" 0
out=$($CHECK "$REG_b" m/v3 w "$T/k.pub")
expect_match "  the .sig list holds the trusted layer only" "$out" '"layers": 1, "valid": 1'
expect_eq "  and the bundle came along" "$(listed "$B" m/v3 "$w")" "$rw"

# --all carries every referrer and the index, as before
"$SIGNET" copy --all --allow-http "$REG_up/r/v3:1" "$REG_b/all/v3:1" >"$T/out" 2>"$T/err"
expect_eq "copy --all: exit 0" "$?" 0
expect_match "  four referrers" "$(cat "$T/out")" '4 referrer\(s\)$'
expect_eq "  every one listed at the target" "$(listed "$B" all/v3 "$v")" \
    "$(sorted "$rv" "$rvb" "$rvs" "$rv2")"
out=$("$SIGNET" verify --key "$T/a.pub" --allow-http "$REG_b/all/v3:1" 2>&1)
expect_eq "  and the copy verifies" "$?" 0

# 4. a plain `signet copy` (no --verify, no --all) carries the image's
#    cosign v3 signatures as it carries its .sig list: the referrers whose
#    content is a bundle and whose subject is the image, for an index and
#    each child; an SBOM, and a referrer of another image planted in the
#    index, stay behind; the target's index is merged by digest
p=$(image r/plain 1)
rp=$(sign3 r/plain "$p" "$T/a.key")
rps=$($HELPERS referrer "$REG_up" r/plain "$p" "sbom of p")
rpa=$(PRED=https://slsa.dev/provenance/v1 sign3 r/plain "$p" "$T/a.key")
q=$(image r/plain q)
rq=$(sign3 r/plain "$q" "$T/a.key")
plant r/plain "$p" "$rq" application/vnd.dev.sigstore.bundle.v0.3+json
"$SIGNET" copy --allow-http "$REG_up/r/plain:1" "$REG_b/pl/app:1" >"$T/out" 2>"$T/err"
expect_eq "plain copy of an image signed by cosign v3 only: exit 0" "$?" 0
expect_match "  one referrer copied" "$(cat "$T/out")" '1 referrer\(s\)$'
expect_eq "  the target's index lists its bundle's referrer" "$(listed "$B" pl/app "$p")" "$rp"
expect_eq "  which is there, same digest" \
    "sha256:$(curl -s -H "Accept: $OCI" "$B/v2/pl/app/manifests/$rp" | sha256sum | cut -d' ' -f1)" "$rp"
expect_eq "  the SBOM is not copied without --all" "$(st "$B" pl/app "$rps")" 404
expect_eq "  nor a cosign v3 attestation (as .att)" "$(st "$B" pl/app "$rpa")" 404
expect_eq "  nor the other image's referrer planted in its index" "$(st "$B" pl/app "$rq")" 404
out=$("$SIGNET" verify --key "$T/a.pub" --allow-http "$REG_b/pl/app:1" 2>&1)
expect_eq "  and the copy verifies at the target" "$?" 0
# copying again, after an SBOM was added at the target and a second
# signature was deleted at the source behind its index's back
rpb=$($HELPERS referrer "$REG_b" pl/app "$p" "made at b")
rpx=$(sign3 r/plain "$p" "$T/b.key")
curl -s -o /dev/null -X DELETE "$R/v2/r/plain/manifests/$rpx"
"$SIGNET" copy --allow-http "$REG_up/r/plain:1" "$REG_b/pl/app:1" >"$T/out" 2>"$T/err"
expect_eq "copying again: exit 0" "$?" 0
expect_match "  the referrer listed but missing is reported" "$(cat "$T/err")" \
    "referrer $rpx of $p is listed but missing, not copied"
expect_match "  no index written" "$(cat "$T/out")" '0 signature object\(s\) written'
expect_eq "  nothing lost, nothing twice" "$(listed "$B" pl/app "$p")" "$(sorted "$rp" "$rpb")"
# an index listing more than 64 entries that may be signatures: 64 are
# read, as the verifier reads them
z=$(image r/plain z)
rz=$(sign3 r/plain "$z" "$T/a.key")
plant r/plain "$z" "$rq" application/vnd.dev.sigstore.bundle.v0.3+json 70
"$SIGNET" copy --allow-http "$REG_up/r/plain:z" "$REG_b/pl/z:1" >"$T/out" 2>"$T/err"
expect_eq "plain copy of an image whose index lists 71 possible signatures: exit 0" "$?" 0
expect_match "  said" "$(cat "$T/err")" "$z lists 71 referrers that may be signatures; the first 64 are read"
expect_eq "  its own signature (first in the index) is carried" "$(listed "$B" pl/z "$z")" "$rz"
# an index: its own bundle, and each child's, to the child's index; a
# child's referrer planted in the index's index stays out of it, and the
# other way round
mi=$(mkimage "$T/pmulti" --layers 1 --size 5000 --arch amd64,arm64 --seed rf-pmulti)
skopeo copy -q --all --dest-tls-verify=false "oci:$T/pmulti" "docker://$REG_up/r/plain:multi"
pc=$(child_digest r/plain:multi arm64)
rmi=$(sign3 r/plain "$mi" "$T/a.key" "$IDX")
rpc=$(sign3 r/plain "$pc" "$T/a.key")
plant r/plain "$mi" "$rpc" application/vnd.dev.sigstore.bundle.v0.3+json
plant r/plain "$pc" "$rmi" application/vnd.dev.sigstore.bundle.v0.3+json
"$SIGNET" copy --allow-http "$REG_up/r/plain:multi" "$REG_b/pl/multi:1" >"$T/out" 2>"$T/err"
expect_eq "plain copy of an index signed by cosign v3 only: exit 0" "$?" 0
expect_match "  two referrers copied" "$(cat "$T/out")" '2 referrer\(s\)$'
expect_eq "  the index's index lists its own only" "$(listed "$B" pl/multi "$mi")" "$rmi"
expect_eq "  the child's lists the child's" "$(listed "$B" pl/multi "$pc")" "$rpc"
out=$("$SIGNET" verify --key "$T/a.pub" --allow-http "$REG_b/pl/multi:1" 2>&1)
expect_eq "  the index verifies at the target" "$?" 0
out=$("$SIGNET" verify --key "$T/a.pub" --allow-http "$REG_b/pl/multi@$pc" 2>&1)
expect_eq "  and so does the child" "$?" 0

stop_signet
finish
