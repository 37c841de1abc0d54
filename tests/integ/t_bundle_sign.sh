#!/bin/bash
# Signing on push in cosign v3's format (a rule's signature_format: bundle
# or both): the bundle is written as an OCI 1.1 referrer by digest, listed
# in the sha256-<hex> index (distribution 2.8 has no referrers API), before
# the client's tag exists.  signet's bundles are checked by an independent
# implementation (@sigstore/verify, through tests/integ/sigstore/sgjs.mjs),
# pulled back through signet, and written concurrently through two signets
# (a key each) while an outside writer appends to the same index: none
# lost, none duplicated.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo node npm openssl
require_pycrypto
require_sgjs
ec_keys a b w
start_registry up
R="http://$REG_up"
OCI=application/vnd.oci.image.manifest.v1+json
IDX=application/vnd.oci.image.index.v1+json
POL="\"verify_cache\": {\"failure_ttl\": 0}, \"policies\": [
 {\"match\": \"sb/*\", \"sign\": \"required\", \"signature_format\": \"bundle\",
  \"verify\": \"enforce\", \"keys\": [\"$T/a.pub\", \"$T/b.pub\"]},
 {\"match\": \"both/*\", \"sign\": \"required\", \"signature_format\": \"both\",
  \"verify\": \"enforce\", \"keys\": [\"$T/a.pub\"]}]"
start_signet "$R" "\"signing\": {\"key\": \"$T/a.key\"}, $POL"
cpd="skopeo copy -q --dest-tls-verify=false"
pull() { skopeo copy -q --src-tls-verify=false "docker://$PROXY/$1" "oci:$T/p-$RANDOM:x" 2>&1; }
# index REPO DIGEST: the sha256-<hex> index's referrer digests, one a line
index() {
	curl -s -H "Accept: $IDX" "$R/v2/$1/manifests/sha256-${2#sha256:}" |
	    python3 -c 'import json,sys; [print(m["digest"]) for m in json.load(sys.stdin)["manifests"]]'
}
# bundle_of REPO REFERRER OUT: the referrer's bundle blob
bundle_of() {
	b=$(curl -s -H "Accept: $OCI" "$R/v2/$1/manifests/$2" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
	curl -s "$R/v2/$1/blobs/$b" >"$3"
}

# 1. bundle: the referrer, no .sig, before the tag
d=$(mkimage "$T/img" --layers 1 --size 20000 --seed sb1)
check "a push through signet (signature_format bundle)" $cpd "oci:$T/img" "docker://$PROXY/sb/app:1"
expect_eq "  no .sig list" "$(http_status GET "$R/v2/sb/app/manifests/sha256-${d#sha256:}.sig" \
    -H "Accept: $OCI")" 404
refs=$(index sb/app "$d")
expect_eq "  one referrer in the sha256-<hex> index" "$(echo "$refs" | grep -c .)" 1
bundle_of sb/app "$refs" "$T/b1.json"
curl -s -H "Accept: $OCI" "$R/v2/sb/app/manifests/$refs" >"$T/r1.json"
expect_match "  the referrer names the image as its subject" \
    "$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["subject"]["digest"], m["artifactType"], m["config"]["mediaType"])' "$T/r1.json")" \
    "^$d application/vnd.dev.sigstore.bundle.v0.3.json application/vnd.oci.empty.v1.json$"
out=$(SG verify --bundle "$T/b1.json" --key "$T/a.pub" --digest "$d" --insecure-ignore-tlog 2>&1)
expect_eq "  signet's bundle verifies with @sigstore/verify (independent)" "$?" 0
[ -n "$out" ] && echo "# $out"
expect_eq "  and not under another key" "$(SG verify --bundle "$T/b1.json" --key "$T/b.pub" \
    --digest "$d" --insecure-ignore-tlog >/dev/null 2>&1; echo $?)" 1
expect_eq "  the image pulls through signet (verified by its bundle)" "$(pull sb/app:1)" ""
expect_eq "  signet verify accepts it" "$("$SIGNET" verify --key "$T/a.pub" --allow-http \
    "$REG_up/sb/app:1" >/dev/null 2>&1; echo $?)" 0
check "the same image pushed again" $cpd "oci:$T/img" "docker://$PROXY/sb/app:2"
expect_eq "  our referrer is there: none added" "$(index sb/app "$d" | grep -c .)" 1
check "  counted as present" grep -q '"repository":"sb/app".*"outcome":"present"' "$T/signet.log"

# 2. both: a .sig list and a referrer
d2=$(mkimage "$T/img2" --layers 1 --size 20000 --seed both1)
check "a push through signet (signature_format both)" $cpd "oci:$T/img2" "docker://$PROXY/both/app:1"
out=$($PYCRYPTO "$top_srcdir/tests/integ/cosign_check.py" "$REG_up" both/app 1 "$T/a.pub")
expect_match "  a .sig signature, verified independently" "$out" '"valid": 1'
r2=$(index both/app "$d2")
bundle_of both/app "$r2" "$T/b2.json"
expect_eq "  and a bundle, verified independently" "$(SG verify --bundle "$T/b2.json" --key \
    "$T/a.pub" --digest "$d2" --insecure-ignore-tlog >/dev/null 2>&1; echo $?)" 0

# 3. the index as shared state: two signets (key a, key b) push the same
#    digest under many tags while an outside writer appends its own
#    referrers with read-modify-write, as cosign does
# signet B (its log lines go to the same signet.log)
PROXY_A=$PROXY PID_A=$SIGNET_PID
start_signet "$R" "\"signing\": {\"key\": \"$T/b.key\"}, $POL"
PROXY_B=$PROXY SIGNET_PID_B=$SIGNET_PID
PROXY=$PROXY_A SIGNET_PID=$PID_A
d3=$(mkimage "$T/img3" --layers 1 --size 20000 --seed race1)
# its blobs first, straight upstream: distribution answers 500 to a HEAD of
# a blob that concurrent uploads are committing, which is not the race here
skopeo copy -q --dest-tls-verify=false "oci:$T/img3" "docker://$REG_up/sb/blobs:1"
for b in $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))
print(" ".join([m["config"]["digest"]] + [l["digest"] for l in m["layers"]]))' \
    "$T/img3/blobs/sha256/${d3#sha256:}"); do
	curl -s -o /dev/null -X POST "$R/v2/sb/race/blobs/uploads/?mount=$b&from=sb/blobs"
done
size=$(python3 -c 'import json,sys; print(len(open(sys.argv[1],"rb").read()))' \
    "$T/img3/blobs/sha256/${d3#sha256:}")
(
	for i in 1 2 3 4 5 6; do
		SG sign-dsse --key "$T/w.key" --digest "$d3" >"$T/w$i.json" 2>/dev/null
		SG referrer --bundle "$T/w$i.json" --subject-digest "$d3" --subject-media-type "$OCI" \
		    --subject-size "$size" >"$T/wm$i.json"
		$HELPERS bundle-referrer "$REG_up" sb/race "$T/wm$i.json" "$T/w$i.json" >>"$T/w.refs"
	done
) &
pids=$!
for i in 1 2 3 4; do
	$cpd "oci:$T/img3" "docker://$PROXY_A/sb/race:a$i" >"$T/pa$i.out" 2>&1 &
	pids="$pids $!"
	$cpd "oci:$T/img3" "docker://$PROXY_B/sb/race:b$i" >"$T/pb$i.out" 2>&1 &
	pids="$pids $!"
done
for p in $pids; do wait "$p"; done
for i in 1 2 3 4; do
	check "push a$i through signet A" test ! -s "$T/pa$i.out"
	check "push b$i through signet B" test ! -s "$T/pb$i.out"
done
sleep 5	# the signets' rechecks (1 s and 4 s) repair what the writer dropped
index sb/race "$d3" >"$T/race.refs"
lost=0
while read -r r; do grep -qx "$r" "$T/race.refs" || lost=$((lost + 1)); done <"$T/w.refs"
expect_eq "  the outside writer's 6 referrers: none lost" "$lost" 0
na=0 nb=0
for r in $(cat "$T/race.refs"); do
	bundle_of sb/race "$r" "$T/rb.json"
	SG verify --bundle "$T/rb.json" --key "$T/a.pub" --digest "$d3" --insecure-ignore-tlog \
	    >/dev/null 2>&1 && na=$((na + 1))
	SG verify --bundle "$T/rb.json" --key "$T/b.pub" --digest "$d3" --insecure-ignore-tlog \
	    >/dev/null 2>&1 && nb=$((nb + 1))
done
expect_eq "  signet A's referrer: exactly one (not lost, not duplicated)" "$na" 1
expect_eq "  signet B's referrer: exactly one" "$nb" 1
expect_eq "  no entry twice" "$(sort "$T/race.refs" | uniq -d | grep -c .)" 0
expect_eq "  the image pulls through signet" "$(pull sb/race:a1)" ""

kill -TERM "$SIGNET_PID_B" && wait "$SIGNET_PID_B"
expect_eq "signet B exits 0 after SIGTERM" "$?" 0
stop_signet
: >"$T/signet.log"

# 4. Rekor: the bundle's dsse entry logged before the referrer is written;
#    the bundle carries it (SET, inclusion proof, checkpoint), checked by
#    @sigstore/verify against the log's key; the log's history checked
#    (consistency) from one push to the next
ec_keys rekor
rport=$(free_port)
$PYCRYPTO "$top_srcdir/tests/integ/rekor_server.py" "$rport" "$T/rekor.key" "$T/rekor-state.json" \
    >"$T/rekor.log" 2>&1 &
REKOR_PID=$!
PIDS="$PIDS $!"
REKOR=http://127.0.0.1:$rport
wait_http "$REKOR/api/v1/log"
mkdir -p "$T/state"
start_signet "$R" "\"signing\": {\"key\": \"$T/a.key\"}, \"state_dir\": \"$T/state\",
 \"rekor\": {\"url\": \"$REKOR\", \"public_key\": \"$T/rekor.pub\"},
 \"verify_cache\": {\"failure_ttl\": 0}, \"policies\": [
 {\"match\": \"rk/*\", \"sign\": \"required\", \"signature_format\": \"bundle\",
  \"rekor_upload\": \"required\", \"verify\": \"enforce\", \"rekor\": \"required\",
  \"keys\": [\"$T/a.pub\"]}]"
for i in 1 2; do
	d4=$(mkimage "$T/img4-$i" --layers 1 --size 20000 --seed "rk$i")
	check "a push with rekor_upload required (signature_format bundle) $i" \
	    $cpd "oci:$T/img4-$i" "docker://$PROXY/rk/app:$i"
	r4=$(index rk/app "$d4")
	bundle_of rk/app "$r4" "$T/b4-$i.json"
	expect_eq "  its bundle, with the log's entry, verifies with @sigstore/verify" \
	    "$(SG verify --bundle "$T/b4-$i.json" --key "$T/a.pub" --digest "$d4" \
	      --rekor-pub "$T/rekor.pub" >"$T/sgv.out" 2>&1; echo $?)" 0
	expect_match "  a dsse 0.0.1 entry" "$(cat "$T/b4-$i.json")" \
	    '"kindVersion":\{"kind":"dsse","version":"0.0.1"\}'
	expect_eq "  and pulls through signet (rekor: required)" "$(pull rk/app:$i)" ""
done
expect_eq "the log holds both entries" "$(curl -s "$REKOR/api/v1/log" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["treeSize"])')" 2
check "the log's checkpoint kept (grown by a consistency proof)" \
    sh -c "ls '$T/state/'checkpoint-* >/dev/null"
stop_signet

# 5. best-effort with the log down: the bundle is written without an
#    entry and the upload queued in state_dir; across a restart of signet,
#    once the log is back, the queue writes a second referrer whose bundle
#    carries the entry
BE="\"signing\": {\"key\": \"$T/a.key\"}, \"state_dir\": \"$T/state\",
 \"rekor\": {\"url\": \"$REKOR\", \"public_key\": \"$T/rekor.pub\", \"retry_seconds\": 1},
 \"policies\": [
 {\"match\": \"be/*\", \"sign\": \"required\", \"signature_format\": \"bundle\",
  \"rekor_upload\": \"best-effort\", \"keys\": [\"$T/a.pub\"]}]"
kill "$REKOR_PID"
wait "$REKOR_PID" 2>/dev/null
start_signet "$R" "$BE"
d5=$(mkimage "$T/img5" --layers 1 --size 20000 --seed be5)
check "log down, best-effort: the push succeeds" $cpd "oci:$T/img5" "docker://$PROXY/be/app:1"
check "  the failure is logged, queued" grep -q \
    'Rekor upload failed, the bundle is written without an entry (best-effort, queued' "$T/signet.log"
expect_eq "  one referrer" "$(index be/app "$d5" | grep -c .)" 1
bundle_of be/app "$(index be/app "$d5")" "$T/b5.json"
expect_eq "  its bundle verifies without a log" "$(SG verify --bundle "$T/b5.json" --key "$T/a.pub" \
    --digest "$d5" --insecure-ignore-tlog >/dev/null 2>&1; echo $?)" 0
check "  the upload is queued on disk" test -f "$T/state/rekor-queue/${d5#sha256:}-bundle.json"
stop_signet
start_signet "$R" "$BE"
$PYCRYPTO "$top_srcdir/tests/integ/rekor_server.py" "$rport" "$T/rekor.key" "$T/rekor-state.json" \
    >>"$T/rekor.log" 2>&1 &
PIDS="$PIDS $!"
wait_http "$REKOR/api/v1/log"
for i in $(seq 1 100); do
	[ -f "$T/state/rekor-queue/${d5#sha256:}-bundle.json" ] || break
	sleep 0.1
done
check "the queued upload landed after the restart (queue empty)" \
    test ! -f "$T/state/rekor-queue/${d5#sha256:}-bundle.json"
refs5=$(index be/app "$d5")
expect_eq "  a second referrer" "$(echo "$refs5" | grep -c .)" 2
n=0
for r in $refs5; do
	bundle_of be/app "$r" "$T/b5r.json"
	if SG verify --bundle "$T/b5r.json" --key "$T/a.pub" --digest "$d5" \
	    --rekor-pub "$T/rekor.pub" >/dev/null 2>&1; then n=$((n + 1)); fi
done
expect_eq "  exactly one carries the log's entry, verified by @sigstore/verify" "$n" 1
check "the same image pushed again: nothing queued" $cpd "oci:$T/img5" "docker://$PROXY/be/app:2"
expect_eq "  still two referrers" "$(index be/app "$d5" | grep -c .)" 2
check "  and no queue entry" test ! -f "$T/state/rekor-queue/${d5#sha256:}-bundle.json"
stop_signet

# 6. mirror_signatures_from with bundles: a push through signet of an
#    image another registry holds signed by cosign v3 bundles takes the
#    trusted ones, byte for byte, as referrers here; untrusted ones stay
#    behind; in either signature_format
start_registry mir
M="http://$REG_mir"
# mirror_image REPO SEED: the image at the mirror, with bundles by b
# (trusted) and w (not), made by @sigstore/sign; its digest
mirror_image() {
	dm=$(mkimage "$T/m-$2" --layers 1 --size 20000 --seed "$2")
	skopeo copy -q --dest-tls-verify=false "oci:$T/m-$2" "docker://$REG_mir/$1:1"
	size=$(curl -s -H "Accept: $OCI" "$M/v2/$1/manifests/$dm" | wc -c)
	for k in b w; do
		SG sign-dsse --key "$T/$k.key" --digest "$dm" >"$T/mb-$k.json" || return 1
		SG referrer --bundle "$T/mb-$k.json" --subject-digest "$dm" \
		    --subject-media-type "$OCI" --subject-size "$size" >"$T/mm-$k.json"
		$HELPERS bundle-referrer "$REG_mir" "$1" "$T/mm-$k.json" "$T/mb-$k.json" >/dev/null ||
		    return 1
	done
	echo "$dm"
}
# signers REPO DIGEST: the keys (a, b, w) whose bundles the index lists
signers() {
	for r in $(index "$1" "$2"); do
		bundle_of "$1" "$r" "$T/ms.json"
		for k in a b w; do
			SG verify --bundle "$T/ms.json" --key "$T/$k.pub" --digest "$2" \
			    --insecure-ignore-tlog >/dev/null 2>&1 && echo "$k"
		done
	done | sort | tr '\n' ' '
}
start_signet "$R" "\"signing\": {\"key\": \"$T/a.key\"}, \"verify_cache\": {\"failure_ttl\": 0},
 \"policies\": [
 {\"match\": \"mb/*\", \"sign\": \"required\", \"signature_format\": \"bundle\",
  \"verify\": \"enforce\", \"keys\": [\"$T/a.pub\", \"$T/b.pub\"], \"threshold\": 2,
  \"mirror_signatures_from\": [\"$M\"]},
 {\"match\": \"ml/*\", \"sign\": \"required\",
  \"keys\": [\"$T/a.pub\", \"$T/b.pub\"], \"mirror_signatures_from\": [\"$M\"]}]"
d6=$(mirror_image mb/app mb6)
expect_eq "the mirror holds bundles by b and w" "$(index mb/app "$d6" >/dev/null; R=$M signers mb/app "$d6")" "b w "
check "a push through signet (bundle) of the mirror's image" \
    skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://$REG_mir/mb/app:1" "docker://$PROXY/mb/app:1"
expect_eq "  signet's own and b's bundle here, not w's (checked by @sigstore/verify)" \
    "$(signers mb/app "$d6")" "a b "
check "  the taking is logged" grep -q "a signature (referrer sha256:[0-9a-f]*) taken from mirror $M" \
    "$T/signet.log"
check "  the untrusted one is logged with the reason" \
    grep -q "1 of 2 signature(s) from mirror $M taken; one not taken:" "$T/signet.log"
R=$M index mb/app "$d6" >"$T/mirror-refs"
expect_eq "  b's referrer copied byte for byte (its digest is listed here)" \
    "$(index mb/app "$d6" | grep -c -F -f "$T/mirror-refs")" 1
expect_eq "  the image pulls through signet (threshold 2: a and b)" "$(pull mb/app:1)" ""
check "pushed again" skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://$REG_mir/mb/app:1" "docker://$PROXY/mb/app:2"
expect_eq "  still two referrers" "$(index mb/app "$d6" | grep -c .)" 2
d7=$(mirror_image ml/app ml7)
check "a push through signet (legacy) of the mirror's image" \
    skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://$REG_mir/ml/app:1" "docker://$PROXY/ml/app:1"
expect_eq "  b's bundle is a referrer here; w's is not" "$(signers ml/app "$d7")" "b "
expect_eq "  signet's own signature in the .sig list" "$("$SIGNET" verify --key "$T/a.pub" \
    --allow-http "$REG_up/ml/app:1" >/dev/null 2>&1; echo $?)" 0
stop_signet
finish
