#!/bin/bash
# Verification on pull: signet refuses what is not signed by a trusted
# signer, with the reason shown by the client, and lets signed images
# through, for skopeo and podman alike.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo podman
require_pycrypto

start_registry up
export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
"$SIGNET" keygen --output-key-prefix "$T/evil" >/dev/null
R="http://$REG_up"
OCI='application/vnd.oci.image.manifest.v1+json'
POL="\"policies\": [
  {\"match\": \"team/*\", \"sign\": \"required\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"]},
  {\"match\": \"ident/*\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"], \"identity\": \"repository\"},
  {\"match\": \"prod/*\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"]},
  {\"match\": \"anyid/*\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"], \"identity\": \"any\"},
  {\"match\": \"rekor/*\", \"sign\": \"required\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"], \"rekor\": \"required\"},
  {\"match\": \"two/*\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\", \"$T/evil.pub\"], \"threshold\": 2},
  {\"match\": \"warn/*\", \"verify\": \"warn\", \"keys\": [\"$T/k.pub\"]},
  {\"match\": \"strict/*\", \"sign\": \"required\", \"verify\": \"enforce\", \"keys\": [\"$T/k.pub\"], \"strict_blobs\": true},
  {\"match\": \"*\", \"sign\": \"off\"}]"
VC='"verify_cache": {"failure_ttl": 1}'
start_signet "$R" "$VC, \"signing\": {\"key\": \"$T/k.key\"}, \"rekor\": {\"public_key\": \"$top_srcdir/tests/vectors/worked-example/rekor.pub\"}, $POL"
P="http://$PROXY"
cpd="skopeo copy -q --dest-tls-verify=false"
pull() { skopeo copy -q --src-tls-verify=false "docker://$PROXY/$1" "oci:$T/pulled-$RANDOM:x" 2>&1; }

# 1. signed on push through signet: pulls pass, skopeo and podman
top=$(mkimage "$T/img" --layers 1 --size 30000 --seed v1)
check "push (signed) through signet" $cpd "oci:$T/img" "docker://$PROXY/team/app:1"
out=$(pull team/app:1)
expect_eq "skopeo pulls a signed image" "$out" ""
pm() { podman --root "$T/proot" --runroot "$T/prun" --storage-driver vfs "$@"; }
check "podman pulls a signed image" pm pull -q --tls-verify=false "$PROXY/team/app:1"
expect_eq "HEAD by tag allowed" "$(http_status HEAD "$P/v2/team/app/manifests/1" -H "Accept: $OCI")" 200
h=$(curl -s -D - -o /dev/null -H "Accept: $OCI" "$P/v2/team/app/manifests/$top")
expect_match "GET by digest allowed, headers kept" "$h" "Docker-Content-Digest: $top"
line=$(grep '"msg":"decision"' "$T/signet.log" | grep '"decision":"allow"' | head -1)
expect_match "audit line for the decision" "$line" \
    "\"repository\":\"team/app\",\"digest\":\"$top\",\"decision\":\"allow\",\"rule\":\"team/\\*\",\"signer\":\"[0-9a-f]{64}\""
check "later pulls come from the cache" sh -c "grep '\"msg\":\"decision\"' '$T/signet.log' | grep -q '\"cached\":true'"
# The verification cache is per worker process: a warm cache means no
# verification again in that worker, so once one worker has verified the
# image, any number of pulls parse it at most once in each other worker
# (/metrics sums the workers' counters)
W=$(signet_workers)
walks() { curl -s "$P/metrics" | sed -n 's/^signet_index_walks_total //p'; }
w0=$(walks)
for i in $(seq 1 12); do
	curl -s -o /dev/null -H "Accept: $OCI" "$P/v2/team/app/manifests/$top"
done
w1=$(walks)
check "12 cached pulls parse the manifest at most once in each of the other $((W - 1)) worker(s) (index walks: $w0 -> $w1)" \
    test "$((w1 - w0))" -le "$((W - 1))"

curl -s -o /dev/null -u bob:pw -H "Accept: $OCI" "$P/v2/team/app/manifests/$top"
line=$(grep '"msg":"decision"' "$T/signet.log" | tail -1)
expect_match "the audit line names the client's user" "$line" '"user":"bob"'
check "and not the password" sh -c "! grep -q 'bob:pw\|Ym9iOnB3' '$T/signet.log'"
m=$(curl -s "$P/metrics")
expect_match "metrics: requests by method and status" "$m" \
    'signet_requests_total\{method="GET",status="2xx"\} [1-9]'
expect_match "metrics: verification latency histogram" "$m" \
    'signet_verification_seconds_count [1-9]'
expect_match "metrics: cache hits" "$m" 'signet_verify_cache_total\{result="hit"\} [1-9]'

# concurrent misses share one verification
conc=$(mkimage "$T/imgc" --layers 1 --size 30000 --seed vc)
$cpd "oci:$T/imgc" "docker://$PROXY/team/conc:1" >/dev/null
miss0=$(curl -s "$P/metrics" | sed -n 's/^signet_verify_cache_total{result="miss"} //p')
seq 1 20 | xargs -P 20 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H "Accept: $OCI" \
    "$P/v2/team/conc/manifests/$conc" >"$T/conc.codes"
miss1=$(curl -s "$P/metrics" | sed -n 's/^signet_verify_cache_total{result="miss"} //p')
expect_eq "20 concurrent pulls all allowed" "$(grep -c '^200$' "$T/conc.codes")" 20
# concurrent pulls in one worker wait for its one verification: at most one
# cache miss per worker, and at least one
check "and verified at most once per worker ($((miss1 - miss0)) cache misses, $W worker(s))" \
    test "$((miss1 - miss0))" -ge 1 -a "$((miss1 - miss0))" -le "$W"

# 2. unsigned: refused, and the client says why
unsigned=$(mkimage "$T/img2" --layers 1 --size 30000 --seed v2)
$cpd "oci:$T/img2" "docker://$REG_up/team/unsigned:1"
out=$(pull team/unsigned:1)
expect_match "unsigned image refused with the reason" "$out" \
    "denied: signet: $unsigned is not verified: no signature found"
out=$(pm pull -q --tls-verify=false "$PROXY/team/unsigned:1" 2>&1)
expect_match "podman shows the reason too" "$out" 'is not verified: no signature found'
b=$(curl -s -w ' %{http_code}' -H "Accept: $OCI" "$P/v2/team/unsigned/manifests/1" | tr -d '\n')
expect_match "403 with an OCI DENIED body" "$b" '"code":"DENIED".* 403$'

# 3. signed by a key that is not trusted
"$SIGNET" sign --key "$T/evil.key" --allow-http "$REG_up/team/unsigned:1" >/dev/null
out=$(pull team/unsigned@"$unsigned")
expect_match "still denied (the cached denial, or a fresh one)" "$out" \
    'is not verified: (no signature found|no signature from a trusted signer)'
sleep 1.5	# failures are cached for verify_cache.failure_ttl (1 s here)
out=$(pull team/unsigned:1)
expect_match "untrusted signer refused" "$out" \
    'no signature from a trusted signer \(not signed by a trusted key\)'

# 4. a tampered payload, and a payload for another digest
sigtag=sha256-${top#sha256:}.sig
list=$(curl -s -H "Accept: $OCI" "$R/v2/team/app/manifests/$sigtag")
printf '%s' "$list" >"$T/list.json"
"$PYCRYPTO" - "$R" "$T/list.json" "$T" <<'PY'
import hashlib, json, sys, urllib.request
R, listpath, T = sys.argv[1:4]
def req(m, u, body=None, ct=None):
    r = urllib.request.Request(u, data=body, method=m, headers={"Content-Type": ct} if ct else {})
    with urllib.request.urlopen(r) as resp:
        return resp.headers, resp.read()
def blob(repo, data):
    h, _ = req("POST", "%s/v2/%s/blobs/uploads/" % (R, repo), b"")
    loc = h["Location"]
    loc = loc if loc.startswith("http") else R + loc
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + d, data, "application/octet-stream")
    return d
man = json.load(open(listpath))
layer = man["layers"][0]
_, payload = req("GET", "%s/v2/team/app/blobs/%s" % (R, layer["digest"]))
# tampered: one byte of the payload changed, signature kept
bad = payload.replace(b'"optional":null', b'"optional":{}')
tam = json.loads(json.dumps(man))
tam["layers"][0]["digest"] = blob("team/app", bad)
tam["layers"][0]["size"] = len(bad)
tam["config"]["digest"] = blob("team/app", b"{}")
tam["config"]["size"] = 2
open(T + "/tampered.json", "w").write(json.dumps(tam))
# the same (valid) layer copied under another image's .sig tag
blob("team/other", payload)
blob("team/other", b"{}")
open(T + "/moved.json", "w").write(json.dumps(tam | {"layers": man["layers"]}))
PY
curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" --data-binary @"$T/tampered.json" \
    "$R/v2/team/app/manifests/$sigtag"
top3=$(mkimage "$T/img3" --layers 1 --size 30000 --seed v3)
$cpd "oci:$T/img3" "docker://$REG_up/team/other:1"
curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" --data-binary @"$T/moved.json" \
    "$R/v2/team/other/manifests/sha256-${top3#sha256:}.sig"
sleep 0.2
out=$(pull team/other:1)
expect_match "a signature for another digest is refused" "$out" \
    "no signature from a trusted signer \\(digest mismatch: the signature is for $top, not $top3\\)"
"$SIGNET" keygen --output-key-prefix "$T/k3" >/dev/null
kill -HUP "$SIGNET_PID"	# a reload drops nothing, but the cache is keyed by trust
sleep 0.5
tam_out=$(curl -s -H "Accept: $OCI" "$P/v2/team/app/manifests/$top" -w ' %{http_code}')
# the success for team/app is cached for success_ttl: tampering shows on a
# fresh key only, so look it up as another repository would
expect_match "cached allow survives within its TTL" "$tam_out" ' 200$'

# 4b. a tampered payload under a valid signature, on a fresh digest
tam=$(mkimage "$T/img5" --layers 1 --size 30000 --seed v5)
$cpd "oci:$T/img5" "docker://$PROXY/team/tam:1"
curl -s -H "Accept: $OCI" "$R/v2/team/tam/manifests/sha256-${tam#sha256:}.sig" >"$T/tlist.json"
"$PYCRYPTO" - "$R" "$T/tlist.json" "$T/tam.json" <<'PY'
import hashlib, json, sys, urllib.request
R, src, out = sys.argv[1:4]
def req(m, u, body=None, ct=None):
    r = urllib.request.Request(u, data=body, method=m, headers={"Content-Type": ct} if ct else {})
    with urllib.request.urlopen(r) as resp:
        return resp.headers, resp.read()
man = json.load(open(src))
_, payload = req("GET", "%s/v2/team/tam/blobs/%s" % (R, man["layers"][0]["digest"]))
bad = payload.replace(b'"optional":null', b'"optional":{"x":"y"}')
h, _ = req("POST", "%s/v2/team/tam/blobs/uploads/" % R, b"")
loc = h["Location"] if h["Location"].startswith("http") else R + h["Location"]
d = "sha256:" + hashlib.sha256(bad).hexdigest()
req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + d, bad, "application/octet-stream")
man["layers"][0]["digest"], man["layers"][0]["size"] = d, len(bad)
open(out, "w").write(json.dumps(man))
PY
curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" --data-binary @"$T/tam.json" \
    "$R/v2/team/tam/manifests/sha256-${tam#sha256:}.sig"
expect_match "a tampered payload is refused" "$(pull team/tam:1)" \
    'no signature from a trusted signer \(not signed by a trusted key\)'

# 5. identity: a signature naming another repository
$cpd "oci:$T/img" "docker://$REG_up/ident/copy:1"
curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" --data-binary @"$T/list.json" \
    "$R/v2/ident/copy/manifests/$sigtag" 2>/dev/null
for d in $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(" ".join([m["config"]["digest"]]+[l["digest"] for l in m["layers"]]))' "$T/list.json"); do
	curl -s -o /dev/null -X POST "$R/v2/ident/copy/blobs/uploads/?mount=$d&from=team/app"
done
curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" --data-binary @"$T/list.json" \
    "$R/v2/ident/copy/manifests/$sigtag"
out=$(pull ident/copy:1)
expect_match "identity repository: a signature for team/app refused in ident/copy" "$out" \
    "the signature names $REG_up/team/app, not $REG_up/ident/copy"

# 6. Rekor required: signet's signatures carry no bundle (no log configured)
check "push to a Rekor-required repository" $cpd "oci:$T/img" "docker://$PROXY/rekor/app:1"
out=$(pull rekor/app:1)
expect_match "missing bundle refused" "$out" 'Rekor entry missing: no bundle'

# 7. threshold 2: one trusted signer is not enough, two are
$cpd "oci:$T/img2" "docker://$REG_up/two/app:1"
"$SIGNET" sign --key "$T/k.key" --allow-http "$REG_up/two/app:1" >/dev/null
out=$(pull two/app:1)
expect_match "threshold 2 with one signer refused" "$out" '1 trusted signer\(s\), 2 required'
sleep 1.5
"$SIGNET" sign --key "$T/evil.key" --allow-http "$REG_up/two/app:1" >/dev/null
out=$(pull two/app:1)
expect_eq "threshold 2 with two signers allowed" "$out" ""

# 8. an index signed at the top only: children allowed through it
multi=$(mkimage "$T/multi" --layers 1 --size 20000 --arch amd64,arm64 --seed v4)
skopeo copy -q --all --dest-tls-verify=false "oci:$T/multi" "docker://$REG_up/team/multi:1"
"$SIGNET" sign --key "$T/k.key" --allow-http "$REG_up/team/multi:1" >/dev/null
arm=$(child_digest team/multi:1 arm64)
out=$(pull team/multi@"$arm")
expect_match "a child without a verified parent needs its own signature" "$out" 'no signature found'
sleep 1.5
check "podman pulls its platform through the signed index" \
    pm pull -q --tls-verify=false --arch arm64 "$PROXY/team/multi:1"
out=$(pull team/multi@"$arm")
expect_eq "the child is allowed once its index is verified" "$out" ""
# the same child under a tag of its own is an image on its own
curl -s -H "Accept: $OCI" "$R/v2/team/multi/manifests/$arm" >"$T/child.json"
curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" --data-binary @"$T/child.json" \
    "$R/v2/team/multi/manifests/armonly"
out=$(pull team/multi:armonly)
expect_match "a child pulled by a tag of its own needs its own signature" "$out" \
    'no signature found'
out=$(pull team/multi@"$arm")
expect_eq "  while by digest it stays allowed through its index" "$out" ""

# 8b. signet verify, against the registry directly (team/app's list put
#     back as signet wrote it: step 4 replaced it, and whether signet's
#     rechecks at 1 s and 4 s after the push came after that depends on
#     the machine's speed)
curl -s -o /dev/null -X PUT -H "Content-Type: $OCI" --data-binary @"$T/list.json" \
    "$R/v2/team/app/manifests/$sigtag"
out=$("$SIGNET" verify --key "$T/k.pub" --allow-http "$REG_up/team/app:1" 2>/dev/null)
expect_match "signet verify prints the verified payloads" "$out" \
    "\"docker-manifest-digest\": \"$top\""
"$SIGNET" verify --key "$T/evil.pub" --allow-http "$REG_up/team/app:1" >/dev/null 2>"$T/verr"
expect_eq "signet verify: untrusted key exits 1" "$?" 1
expect_match "  with the reason" "$(cat "$T/verr")" 'not signed by a trusted key'
"$SIGNET" verify --key "$T/k.pub" --allow-http "$REG_up/warn/none:1" >/dev/null 2>"$T/verr"
expect_match "signet verify: a missing image is named" "$(cat "$T/verr")" 'reading the manifest: HTTP 404'
"$SIGNET" verify --key "$T/k.pub" --allow-http "$PROXY/team/unsigned:1" >/dev/null 2>"$T/verr"
expect_match "signet verify through an enforcing signet: its reason, in its words" \
    "$(cat "$T/verr")" 'reading the manifest: HTTP 403 DENIED: signet: sha256:[0-9a-f]* is not verified: '
# the pull path's semantics: several keys, a threshold, the identity check,
# a rule from a configuration file, and an upstream error is not a denial
"$SIGNET" verify --key "$T/evil.pub" --key "$T/k.pub" --allow-http "$REG_up/team/app:1" >/dev/null 2>&1
expect_eq "signet verify: any of several keys" "$?" 0
"$SIGNET" verify --key "$T/evil.pub" --key "$T/k.pub" --threshold 2 --allow-http \
    "$REG_up/team/app:1" >/dev/null 2>"$T/verr"
expect_eq "signet verify: threshold 2 with one signer exits 1" "$?" 1
expect_match "  with the count" "$(cat "$T/verr")" '1 trusted signer\(s\), 2 required'
"$SIGNET" verify --key "$T/k.pub" --threshold 3 --allow-http "$REG_up/team/app:1" >/dev/null 2>"$T/verr"
expect_eq "signet verify: a threshold above the signers given is a usage error" "$?" 1
expect_match "  named" "$(cat "$T/verr")" 'threshold 3 is more than the 1 signer'
"$SIGNET" verify --key "$T/k.pub" --identity repository --allow-http "$REG_up/team/app:1" >/dev/null 2>&1
expect_eq "signet verify --identity repository: the signature names this repository" "$?" 0
# the same signed manifest, copied by a writer to another repository
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false --preserve-digests \
    "docker://$REG_up/team/app:1" "docker://$REG_up/team/elsewhere:1"
appd=$(curl -s -I -H "Accept: $OCI" "$R/v2/team/app/manifests/1" |
    sed -n 's/^Docker-Content-Digest: *//Ip' | tr -d '\r')
curl -s -H "Accept: $OCI" "$R/v2/team/app/manifests/sha256-${appd#sha256:}.sig" >"$T/siglist.json"
for d in $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["config"]["digest"], *[l["digest"] for l in m["layers"]])' "$T/siglist.json"); do
	curl -s -o /dev/null -X POST "$R/v2/team/elsewhere/blobs/uploads/?mount=$d&from=team/app"
done
curl -s -X PUT -H "Content-Type: $OCI" --data-binary @"$T/siglist.json" \
    "$R/v2/team/elsewhere/manifests/sha256-${appd#sha256:}.sig" >/dev/null
"$SIGNET" verify --key "$T/k.pub" --identity repository --allow-http \
    "$REG_up/team/elsewhere:1" >/dev/null 2>"$T/verr"
expect_eq "signet verify --identity repository: another repository's signature exits 1" "$?" 1
expect_match "  naming both" "$(cat "$T/verr")" "names $REG_up/team/app, not $REG_up/team/elsewhere"
"$SIGNET" verify --key "$T/k.pub" --allow-http "$REG_up/team/elsewhere:1" >/dev/null 2>"$T/verr"
expect_eq "signet verify: the repository check is the default" "$?" 1
"$SIGNET" verify --key "$T/k.pub" --identity any --allow-http "$REG_up/team/elsewhere:1" >/dev/null 2>&1
expect_eq "signet verify --identity any: accepted" "$?" 0
# on pull too: a signature for team/app written into prod/app (a rule
# without "identity") is refused; under "identity": "any" it is accepted
for r in prod anyid; do
	skopeo copy -q --src-tls-verify=false --dest-tls-verify=false --preserve-digests \
	    "docker://$REG_up/team/app:1" "docker://$REG_up/$r/app:1"
	for d in $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["config"]["digest"], *[l["digest"] for l in m["layers"]])' "$T/siglist.json"); do
		curl -s -o /dev/null -X POST "$R/v2/$r/app/blobs/uploads/?mount=$d&from=team/app"
	done
	curl -s -X PUT -H "Content-Type: $OCI" --data-binary @"$T/siglist.json" \
	    "$R/v2/$r/app/manifests/sha256-${appd#sha256:}.sig" >/dev/null
done
expect_match "pull: another repository's signature is refused by default" "$(pull prod/app:1)" \
    "the signature names $REG_up/team/app, not $REG_up/prod/app"
expect_eq "pull: accepted under identity any" "$(pull anyid/app:1)" ""
check "identity any is said at start" grep -q 'identity \\"any\\": a signature made for another repository' "$T/signet.log"
"$SIGNET" verify --policy "$T/signet.json" --allow-http "$REG_up/two/x:1" >/dev/null 2>"$T/verr"
expect_match "signet verify --policy: the repository's rule (threshold 2)" "$(cat "$T/verr")" \
    'is not verified|reading the manifest'
"$SIGNET" verify --policy "$T/signet.json" --allow-http "$REG_up/team/app:1" >/dev/null 2>&1
expect_eq "signet verify --policy: team/* rule allows" "$?" 0
fport=$(free_port)
$HELPERS quirk-front "$fport" "$REG_up" sig-500 >"$T/front500.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$fport"
"$SIGNET" verify --key "$T/k.pub" --allow-http "127.0.0.1:$fport/team/app:1" >/dev/null 2>"$T/verr"
expect_eq "signet verify: a registry error exits 1" "$?" 1
expect_match "  and is not called a denial" "$(cat "$T/verr")" 'could not be checked: .*HTTP 500'

# 8c. strict_blobs: blobs only through a verified manifest
check "push to a strict repository" $cpd "oci:$T/img" "docker://$PROXY/strict/app:1"
layer=$(curl -s -H "Accept: $OCI" "$R/v2/strict/app/manifests/1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
b=$(curl -s -w ' %{http_code}' "$P/v2/strict/app/blobs/$layer" | tr -d '\n')
expect_match "a blob before its manifest was verified: 403" "$b" \
    'not referenced by a verified manifest.* 403$'
out=$(pull strict/app:1)
expect_eq "the image pulls (manifest verified, then its blobs)" "$out" ""
expect_eq "and the blob is then served" "$(http_status GET "$P/v2/strict/app/blobs/$layer")" 200
$cpd "oci:$T/img2" "docker://$REG_up/strict/app:evil"
other=$(curl -s -H "Accept: $OCI" "$R/v2/strict/app/manifests/evil" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
expect_eq "a blob of an unverified manifest stays refused" \
    "$(http_status GET "$P/v2/strict/app/blobs/$other")" 403

# 9. warn: through, with a header, logged
$cpd "oci:$T/img2" "docker://$REG_up/warn/app:1"
h=$(curl -s -D - -o /dev/null -H "Accept: $OCI" "$P/v2/warn/app/manifests/1")
expect_match "warn lets the pull through" "$h" '^HTTP/1.1 200'
expect_match "with a header saying why" "$h" 'Signet-Verification: failed; no signature found'
check "warn logged" grep -q '"decision":"warn"' "$T/signet.log"

# 10. an upstream error while reading signatures is indeterminate: 502,
#     never cached as unsigned
front=$(free_port)
$HELPERS quirk-front "$front" "$REG_up" sig-500 &
PIDS="$PIDS $!"
wait_http "http://127.0.0.1:$front/v2/"
stop_signet
: >"$T/signet.log"
start_signet "http://127.0.0.1:$front" "$VC, \"signing\": {\"key\": \"$T/k.key\"}, \"rekor\": {\"public_key\": \"$top_srcdir/tests/vectors/worked-example/rekor.pub\"}, $POL"
b=$(curl -s -w ' %{http_code}' -H "Accept: $OCI" "http://$PROXY/v2/team/app/manifests/1" | tr -d '\n')
expect_match "signature list unreadable: 502, not a denial" "$b" \
    'signature check could not be done: reading the signature list: upstream answered HTTP 500.* 502$'
b=$(curl -s -w ' %{http_code}' -H "Accept: $OCI" "http://$PROXY/v2/team/app/manifests/1" | tr -d '\n')
expect_match "and not cached" "$b" ' 502$'
m=$(curl -s "http://$PROXY/metrics")
expect_match "indeterminate counted" "$m" 'signet_decisions_total\{decision="indeterminate"\} 2'
stop_signet
finish
