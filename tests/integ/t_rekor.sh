#!/bin/bash
# Rekor: every signature signet makes is logged in a transparency log (here a
# Rekor-API-compatible test log with real cryptography, tests/integ/
# rekor_server.py: the real Rekor needs Trillian and a database), the bundle
# verifies offline and independently, tampered bundles are refused on pull,
# and a log that is down fails a required upload but not a best-effort one.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo openssl
require_pycrypto

RS="$PYCRYPTO $top_srcdir/tests/integ/rekor_server.py"
W=$top_srcdir/tests/vectors/worked-example
out=$($RS canonical "$W/rekor-request.json" | sha256sum | cut -d' ' -f1)
expect_eq "the test log's canonical body is byte for byte rekor-body.json" "$out" \
    "$(tr -d '\n' <"$W/rekor-body.json" | sha256sum | cut -d' ' -f1)"

rekor_log
mkdir -p "$T/state"
start_rekor
start_registry up
export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
CFG="\"signing\": {\"key\": \"$T/k.key\"},
 \"rekor\": {\"url\": \"http://127.0.0.1:$rport\", \"public_key\": \"$T/log.pub\", \"retry_seconds\": 1},
 \"state_dir\": \"$T/state\",
 \"verify_cache\": {\"failure_ttl\": 0},
 \"policies\": [
  {\"match\": \"rk/*\", \"sign\": \"required\", \"rekor_upload\": \"required\",
   \"verify\": \"enforce\", \"rekor\": \"required\", \"keys\": [\"$T/k.pub\"]},
  {\"match\": \"be/*\", \"sign\": \"required\", \"rekor_upload\": \"best-effort\"},
  {\"match\": \"on/copy\", \"verify\": \"enforce\", \"rekor\": \"online\",
   \"keys\": [\"$T/k.pub\"], \"identity\": \"any\"},
  {\"match\": \"on/*\", \"sign\": \"required\", \"rekor_upload\": \"required\",
   \"verify\": \"enforce\", \"rekor\": \"online\", \"keys\": [\"$T/k.pub\"]},
  {\"match\": \"*\", \"sign\": \"off\"}]"
start_signet "http://$REG_up" "$CFG"
check "identity any is said at start" grep -q 'policies\[2\] (on/copy): identity \\"any\\"' "$T/signet.log"
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
cpd="skopeo copy -q --dest-tls-verify=false"
pull() { skopeo copy -q --src-tls-verify=false "docker://$PROXY/$1" "oci:$T/p-$RANDOM:x" 2>&1; }
OCI='application/vnd.oci.image.manifest.v1+json'

# 1. a push logs the signature; the bundle verifies independently
top=$(mkimage "$T/img1" --layers 1 --size 20000 --seed rk1)
check "push with rekor_upload required" $cpd "oci:$T/img1" "docker://$PROXY/rk/app:1"
out=$($CHECK "$REG_up" rk/app 1 "$T/k.pub" --rekor-pub "$T/log.pub")
expect_match "signature and bundle verify independently (SET, logID, body)" "$out" '"valid": 1'
size=$(curl -s "http://127.0.0.1:$rport/api/v1/log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["treeSize"])')
expect_eq "the log holds the entry" "$size" 1
list=$(curl -s -H "Accept: $OCI" "http://$REG_up/v2/rk/app/manifests/sha256-${top#sha256:}.sig")
uuid=$(printf '%s' "$list" | python3 -c '
import base64, hashlib, json, sys
b = json.loads(json.load(sys.stdin)["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"])
print(hashlib.sha256(b"\x00" + base64.b64decode(b["Payload"]["body"])).hexdigest())')
expect_eq "the entry is found by its UUID" \
    "$(http_status GET "http://127.0.0.1:$rport/api/v1/log/entries/$uuid")" 200
expect_eq "a pull under rekor: required passes" "$(pull rk/app:1)" ""

# the test log refuses an entry whose signature does not verify
python3 - "$W/rekor-request.json" >"$T/badreq.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["spec"]["signature"]["content"]
r["spec"]["signature"]["content"] = s[:20] + ("B" if s[20] == "A" else "A") + s[21:]
print(json.dumps(r))
PY
expect_eq "the test log refuses a bad signature (400)" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary @"$T/badreq.json" "http://127.0.0.1:$rport/api/v1/log/entries")" 400

# 2. the same signature again: the log answers 409, signet uses the entry
check "second push of the same manifest (409 from the log)" \
    $cpd "oci:$T/img1" "docker://$PROXY/rk/app:2"
expect_eq "no second entry" "$(curl -s "http://127.0.0.1:$rport/api/v1/log" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["treeSize"])')" 1

# 3. tampered bundles are refused on pull
n=0
for what in body set logid; do
	n=$((n + 1))
	d=$(mkimage "$T/t$n" --layers 1 --size 20000 --seed "rkt$n")
	$cpd "oci:$T/t$n" "docker://$PROXY/rk/t$n:1"
	curl -s -H "Accept: $OCI" "http://$REG_up/v2/rk/t$n/manifests/sha256-${d#sha256:}.sig" |
	    python3 -c '
import json, sys
what = sys.argv[1]
m = json.load(sys.stdin)
a = m["layers"][0]["annotations"]
b = json.loads(a["dev.sigstore.cosign/bundle"])
def alt(s, i):
    return s[:i] + ("B" if s[i] == "A" else "A") + s[i + 1:]
if what == "body":
    b["Payload"]["body"] = alt(b["Payload"]["body"], 60)
elif what == "set":
    b["SignedEntryTimestamp"] = alt(b["SignedEntryTimestamp"], 20)
else:
    b["Payload"]["logID"] = ("0" if b["Payload"]["logID"][0] != "0" else "1") + b["Payload"]["logID"][1:]
a["dev.sigstore.cosign/bundle"] = json.dumps(b, separators=(",", ":"))
print(json.dumps(m, separators=(",", ":")))' "$what" >"$T/tampered.json"
	curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" --data-binary @"$T/tampered.json" \
	    "http://$REG_up/v2/rk/t$n/manifests/sha256-${d#sha256:}.sig"
	expect_match "tampered bundle ($what) refused" "$(pull rk/t$n:1)" \
	    'is not verified: no signature from a trusted signer \(Rekor'
done

# 4. the log down: required fails the push (no tag), best-effort signs without
kill "$REKOR_PID"
wait "$REKOR_PID" 2>/dev/null
d=$(mkimage "$T/down" --layers 1 --size 20000 --seed rkd)
out=$($cpd "oci:$T/down" "docker://$PROXY/rk/down:1" 2>&1)
expect_match "log down, upload required: the push fails (503, clients retry)" "$out" \
    '503 Service Unavailable'
check "and the reason is logged" grep -q '"error":"Rekor upload required and failed: log unreachable' \
    "$T/signet.log"
expect_eq "and no tag" "$(http_status HEAD "http://$REG_up/v2/rk/down/manifests/1" -H "Accept: $OCI")" 404
check "best-effort: the push succeeds" $cpd "oci:$T/down" "docker://$PROXY/be/down:1"
out=$($CHECK "$REG_up" be/down 1 "$T/k.pub")
expect_match "best-effort: signed, without a bundle" "$out" '"valid": 1'
check "best-effort: the failure is logged" grep -q 'Rekor upload failed, signing without a bundle (best-effort, queued' "$T/signet.log"
check "the upload is queued on disk" sh -c "ls '$T/state/rekor-queue/'*.json >/dev/null 2>&1"
# the queue retries every second (retry_seconds), failing while the log is
# down: counted as upload failures of their own, not as failed signatures
# (the one failed signature is rk/down's, refused above)
sleep 2.5
m=$(curl -s "http://$PROXY/metrics")
expect_match "/metrics: the best-effort upload that failed" "$m" \
    'signet_rekor_upload_failures_total\{upload="best_effort"\} 1'
expect_match "/metrics: the queued upload's retries that failed" "$m" \
    'signet_rekor_upload_failures_total\{upload="queued_retry"\} [1-9]'
expect_match "/metrics: they are no failed signatures" "$m" \
    'signet_signatures_total\{outcome="failed"\} 1'

# the queue survives a restart of signet, and lands once the log is back
stop_signet
: >"$T/signet.log"
check "queue kept across the restart" sh -c "ls '$T/state/rekor-queue/'*.json >/dev/null 2>&1"
start_signet "http://$REG_up" "$CFG"

# 5. the log keeps its entries across a restart
start_rekor
queue_landed "the queued upload landed (queue empty)"
out=$($CHECK "$REG_up" be/down 1 "$T/k.pub" --rekor-pub "$T/log.pub")
expect_match "the signature now carries its bundle, verified independently" "$out" '"layers": 1, "valid": 1'
check "logged as a late bundle" grep -q '"outcome":"logged"' "$T/signet.log"
expect_eq "restarted log still holds its entries" \
    "$(http_status GET "http://127.0.0.1:$rport/api/v1/log/entries/$uuid")" 200
check "a required push works again" $cpd "oci:$T/down" "docker://$PROXY/rk/down:1"

# 5b. answers out of order: the log integrates two concurrent uploads and
#     answers the first one last, with the checkpoint of its time, smaller
#     than the one signet kept from the second answer.  Not a fork: the log
#     proves the smaller tree a prefix of the kept one, and both pushes are
#     signed with their bundles
treesize() { curl -s "http://127.0.0.1:$rport/api/v1/log" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["treeSize"])'; }
mkimage "$T/late-a" --layers 1 --size 20000 --seed rk-late-a >/dev/null
mkimage "$T/late-b" --layers 1 --size 20000 --seed rk-late-b >/dev/null
curl -s -o /dev/null -X POST "http://127.0.0.1:$rport/_hold"
n0=$(treesize)
$cpd "oci:$T/late-a" "docker://$PROXY/rk/late-a:1" >"$T/late-a.out" 2>&1 &
pa=$!
for i in $(seq 1 100); do
	[ "$(treesize)" -gt "$n0" ] && break
	sleep 0.1
done
check "a push whose upload is integrated, its answer held" test "$(treesize)" -gt "$n0"
check "a second push, answered first (a larger tree)" \
    $cpd "oci:$T/late-b" "docker://$PROXY/rk/late-b:1"
wait "$pa"
expect_eq "the first push, answered with the older checkpoint, is signed" \
    "$?: $(cat "$T/late-a.out")" "0: "
for t in late-a late-b; do
	expect_match "  $t: its signature and bundle verify" \
	    "$($CHECK "$REG_up" "rk/$t" 1 "$T/k.pub" --rekor-pub "$T/log.pub")" '"valid": 1'
done
expect_eq "  no fork counted" "$(curl -s "http://$PROXY/metrics" |
    sed -n 's/^signet_rekor_log_forks_total //p')" 0
kept=$(cat "$T/state/"checkpoint-* | cut -d' ' -f1)
expect_eq "  the larger checkpoint stays kept" "$kept" "$(treesize)"

# 6. online: the log is asked; an entry missing from it, and a checkpoint
#    that goes backwards, are refused
check "push to an online repository" $cpd "oci:$T/img1" "docker://$PROXY/on/app:1"
expect_eq "online pull passes (entry in the log)" "$(pull on/app:1)" ""
check "the checkpoint is kept on disk" sh -c "ls '$T/state/'checkpoint-* >/dev/null"
# the verification cache is per worker process: pulls until every worker
# has decided on/app (below, its cached decision stands after a rollback)
W=$(signet_workers)
deciders() { grep '"msg":"decision"' "$T/signet.log" | grep '"repository":"on/app"' |
    grep -o '"worker":[0-9]*' | sort -u | wc -l; }
for i in $(seq 1 60); do
	[ "$W" -eq 1 ] || [ "$(deciders)" -ge "$W" ] && break
	curl -s -o /dev/null -H "Accept: $OCI" "http://$PROXY/v2/on/app/manifests/$top"
done
[ "$W" -eq 1 ] || expect_eq "  each of the $W workers has decided on/app once" "$(deciders)" "$W"
cp "$T/rekor-state.json" "$T/rekor-state.small"
d2=$(mkimage "$T/img2" --layers 1 --size 20000 --seed rk2)
check "another push grows the log" $cpd "oci:$T/img2" "docker://$PROXY/on/two:1"
expect_eq "online pull of it passes" "$(pull on/two:1)" ""
d3=$(mkimage "$T/img3" --layers 1 --size 20000 --seed rk3)
check "a third push" $cpd "oci:$T/img3" "docker://$PROXY/on/three:1"
kill "$REKOR_PID"
wait "$REKOR_PID" 2>/dev/null
cp "$T/rekor-state.small" "$T/rekor-state.json"	# the log rolled back
start_rekor
expect_match "entry missing from the log: refused" "$(pull on/three:1)" \
    'Rekor entry missing from the log'
out=$(skopeo copy -q --src-tls-verify=false "docker://$PROXY/on/app@$top" "oci:$T/q:x" 2>&1)
expect_eq "a cached decision stands (no upstream request)" "$out" ""
$cpd "oci:$T/img1" "docker://$REG_up/on/copy:1"
curl -s -H "Accept: $OCI" "http://$REG_up/v2/rk/app/manifests/sha256-${top#sha256:}.sig" >"$T/l.json"
for dg in $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(" ".join([m["config"]["digest"]]+[l["digest"] for l in m["layers"]]))' "$T/l.json"); do
	curl -s -o /dev/null -X POST "http://$REG_up/v2/on/copy/blobs/uploads/?mount=$dg&from=rk/app"
done
curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" --data-binary @"$T/l.json" \
    "http://$REG_up/v2/on/copy/manifests/sha256-${top#sha256:}.sig"
expect_match "a checkpoint that went backwards is refused" "$(pull on/copy:1)" \
    'checkpoint went backwards'

# 7. uploads check the log's history too (every required push above grew
#    the log: each answer's checkpoint came with a consistency proof from
#    the one kept).  The rolled-back log answers the next pushes with a
#    smaller tree, then another root for the kept size, then a larger tree
#    that does not extend the kept one: each push is refused, and counted.
for i in 1 2 3; do
	mkimage "$T/img-f$i" --layers 1 --size 20000 --seed "rk-fork$i" >/dev/null
	out=$($cpd "oci:$T/img-f$i" "docker://$PROXY/rk/fork$i:1" 2>&1)
	case $i in
	1) want='checkpoint went backwards' ;;
	2) want='two roots for tree size' ;;
	3) want='is not a prefix of its tree of size' ;;
	esac
	expect_match "a push answered by the forked log ($want): refused" "$out" \
	    "Rekor upload required and failed: .*$want"
done
expect_eq "  no tag written" "$(http_status HEAD "http://$REG_up/v2/rk/fork1/manifests/1" \
    -H "Accept: $OCI")" 404
# three uploads, and the pull of on/copy above (a checkpoint gone back)
expect_eq "  the forks counted in /metrics" "$(curl -s "http://$PROXY/metrics" |
    sed -n 's/^signet_rekor_log_forks_total //p')" 4
expect_match "  and logged" "$(grep -c '"msg":"transparency log forked"' "$T/signet.log")" '^4$'

# 8. a queued upload outlives its key: signet restarted with another key
#    (a rotation, or a replica given its own) must not sign that image
#    again with the new one; the entry goes, said in the log
kill "$REKOR_PID"
wait "$REKOR_PID" 2>/dev/null
mkimage "$T/rot" --layers 1 --size 20000 --seed rk-rot >/dev/null
check "log down: a best-effort push is signed" $cpd "oci:$T/rot" "docker://$PROXY/be/rot:1"
check "  and its upload queued" grep -lq be/rot "$T/state/rekor-queue/"*.json
stop_signet
"$SIGNET" keygen --output-key-prefix "$T/k2" >/dev/null
start_signet "http://$REG_up" "${CFG/k.key/k2.key}"
for i in $(seq 1 40); do
	grep -lq be/rot "$T/state/rekor-queue/"*.json 2>/dev/null || break
	sleep 0.1
done
check "restarted with another key: the entry is removed" \
    sh -c "! grep -lq be/rot '$T/state/rekor-queue/'*.json 2>/dev/null"
check "  and said" grep -q 'queued for key .*, the signing key is now .*: removed' "$T/signet.log"
stop_signet
expect_match "  the image keeps its one signature, by the old key" \
    "$($CHECK "$REG_up" be/rot 1 "$T/k.pub")" '"layers": 1, "valid": 1'
check "  its resumed recheck found it in place" sh -c "! grep -q 'still lacked layers' '$T/signet.log'"
finish
