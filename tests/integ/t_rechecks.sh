#!/bin/bash
# Pending rechecks survive a stop (issue #15): signet looks at every list it
# wrote again 1 s and 4 s later and repairs it if a stale writer dropped its
# layer.  A SIGTERM runs the waiting rechecks before the exit; the pending
# ones are kept in state_dir/rechecks, so a SIGKILL loses nothing either:
# the next start resumes them.  A queued Rekor upload that adds its late
# bundle to the list is looked at again the same way.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo openssl
require_pycrypto

start_registry up
export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
OCI='application/vnd.oci.image.manifest.v1+json'
R="http://$REG_up"
mkdir -p "$T/state"
CONF="\"state_dir\": \"$T/state\", \"signing\": {\"key\": \"$T/k.key\"},
  \"policies\": [{\"match\": \"*\", \"sign\": \"required\"}]"
cpd="skopeo copy -q --dest-tls-verify=false"

# drop_layers DIGEST: the signature list written again without any layer,
# as a writer that read it before signet's write would
drop_layers() {
	tag=sha256-${1#sha256:}.sig
	curl -s -H "Accept: $OCI" "$R/v2/r/app/manifests/$tag" |
	    python3 -c 'import json,sys; m=json.load(sys.stdin); m["layers"]=[]; print(json.dumps(m))' \
	    >"$T/empty.json"
	curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $OCI" \
	    --data-binary @"$T/empty.json" "$R/v2/r/app/manifests/$tag"
}
# signed_dropped_killed NAME: pushed, its signature dropped by a stale
# writer, signet killed before its recheck; the image's digest in $sd_d
signed_dropped_killed() {
	sd_d=$(mkimage "$T/$1" --layers 1 --size 5000 --seed "recheck-$1")
	check "a push is signed ($1)" $cpd "oci:$T/$1" "docker://$PROXY/r/app:$1"
	expect_eq "  a stale writer drops it" "$(drop_layers "$sd_d")" 201
	kill -KILL "$SIGNET_PID"
	wait "$SIGNET_PID" 2>/dev/null
	check "  the recheck is kept in state_dir" grep -lq "${sd_d#sha256:}" "$T/state/rechecks/"*.json
}
# back_then_none_kept DIGEST: the resumed recheck puts its signature back
# (by the first key), and once its last round is over nothing is kept
back_then_none_kept() {
	for i in $(seq 1 60); do
		[ "$(layers "$1")" = 1 ] && break
		sleep 0.1
	done
	expect_eq "  the signature is back" "$(layers "$1")" 1
	sleep 5		# the last rounds (4 s)
	n=$(ls "$T/state/rechecks/" | grep -c '\.json$')
	expect_eq "  nothing is kept once the rechecks are done" "$n" 0
}
layers() { $CHECK "$REG_up" r/app "$1" "$T/k.pub" | sed -n 's/.*"valid": \([0-9]*\).*/\1/p'; }

# 1. SIGTERM right after a stale writer dropped the signature
SIGNET_LOG_LEVEL=debug start_signet "$R" "$CONF"
a=$(mkimage "$T/a" --layers 1 --size 5000 --seed recheck-a)
check "a push through signet is signed" $cpd "oci:$T/a" "docker://$PROXY/r/app:a"
expect_eq "a stale writer drops the signature" "$(drop_layers "$a")" 201
# (signet's own first recheck is 1 s after its answer; on a slow machine
# it may have come first: then this run checks less, and says so)
echo "# valid signatures right after the drop: $(layers "$a") (0 expected)"
check "a recheck is kept in state_dir" sh -c "ls '$T/state/rechecks/'*.json >/dev/null 2>&1"
stop_signet
expect_eq "SIGTERM ran the recheck before the exit: the signature is back" \
    "$(layers "$a")" 1
check "  the drain said it waited for it" grep -q 'draining: 1 signature recheck(s) running' "$T/signet.log"
echo "# kept after the drain: $(ls "$T/state/rechecks/" | tr '\n' ' ')"

# 2. SIGKILL: the kept recheck is resumed by the next start
SIGNET_LOG_LEVEL=debug start_signet "$R" "$CONF"
signed_dropped_killed b
b=$sd_d
echo "# valid signatures after the kill: $(layers "$b") (0 expected)"
SIGNET_LOG_LEVEL=debug start_signet "$R" "$CONF"
check "the next start resumes the kept recheck" grep -q "resumed the pending recheck of r/app@$b" "$T/signet.log"
back_then_none_kept "$b"
out=$($CHECK "$REG_up" r/app "$a" "$T/k.pub")
expect_match "  one signature each, no duplicate" "$out" '"layers": 1, "valid": 1'
stop_signet

# 2b. the kept recheck of a signature by a key signet no longer has (a
#     rotation between the kill and the start): the layer is put back as
#     it was made, looked for by the key it was made with
SIGNET_LOG_LEVEL=debug start_signet "$R" "$CONF"
signed_dropped_killed e
e=$sd_d
"$SIGNET" keygen --output-key-prefix "$T/k2" >/dev/null
SIGNET_LOG_LEVEL=debug start_signet "$R" "${CONF/k.key/k2.key}"
check "restarted with another key: the recheck is resumed as made" \
    grep -q "${e#sha256:}.*made with key .*, the signing key is now .*: rechecked as made" "$T/signet.log"
back_then_none_kept "$e"
check "  the rechecks found it in place after" sh -c "! grep -q 'still lacked layers' '$T/signet.log'"
expect_match "  one layer, by the old key" \
    "$($CHECK "$REG_up" r/app "$e" "$T/k.pub")" '"layers": 1, "valid": 1'
expect_match "  none by the new one" \
    "$($CHECK "$REG_up" r/app "$e" "$T/k2.pub")" '"valid": 0'
stop_signet

# 3. a queued Rekor upload (best-effort, the log was down) adds its bundle
#    to the list: a read-append-write like a push's, so a stale writer may
#    drop the layer right after; it is looked at again 1 s and 4 s later
#    and put back, with its bundle
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
    openssl pkcs8 -topk8 -nocrypt -out "$T/log.key"
openssl pkey -in "$T/log.key" -pubout -out "$T/log.pub" 2>/dev/null
rport=$(free_port)
RCONF="\"state_dir\": \"$T/state\", \"signing\": {\"key\": \"$T/k.key\"},
  \"rekor\": {\"url\": \"http://127.0.0.1:$rport\", \"public_key\": \"$T/log.pub\",
   \"retry_seconds\": 1},
  \"policies\": [{\"match\": \"*\", \"sign\": \"required\",
   \"rekor_upload\": \"best-effort\"}]"
SIGNET_LOG_LEVEL=debug start_signet "$R" "$RCONF"
c=$(mkimage "$T/c" --layers 1 --size 5000 --seed recheck-c)
check "log down: a best-effort push is signed" $cpd "oci:$T/c" "docker://$PROXY/r/app:c"
check "  its upload is queued" sh -c "ls '$T/state/rekor-queue/${c#sha256:}-'*.json >/dev/null"
for i in $(seq 1 80); do	# the push's own rechecks (1 s, 4 s) end first
	ls "$T/state/rechecks/"*.json >/dev/null 2>&1 || break
	sleep 0.1
done
check "  the push's rechecks are over" sh -c "! ls '$T/state/rechecks/'*.json >/dev/null 2>&1"
# the stale writer: it read the list before signet's layer was in it and
# writes it back once the late bundle is there, after signet's read-back
python3 - "$R" r/app "$c" >"$T/stale.out" 2>&1 <<'PY' &
import json, sys, time, urllib.error, urllib.request
base, repo, digest = sys.argv[1:4]
url = "%s/v2/%s/manifests/sha256-%s.sig" % (base, repo, digest[7:])
oci = "application/vnd.oci.image.manifest.v1+json"
def get():
    # distribution answers 500 for a tag signet is rewriting at that
    # moment: read it again, as signet does
    for _ in range(50):
        r = urllib.request.Request(url, headers={"Accept": oci})
        try:
            return json.load(urllib.request.urlopen(r, timeout=5))
        except urllib.error.HTTPError as e:
            if e.code != 500:
                raise
            time.sleep(0.02)
    raise SystemExit("the list kept answering 500")
old = get()
old["layers"] = []
deadline = time.time() + 30
while time.time() < deadline:
    if any("dev.sigstore.cosign/bundle" in l.get("annotations", {}) for l in get()["layers"]):
        time.sleep(0.3)
        r = urllib.request.Request(url, data=json.dumps(old).encode(), method="PUT",
                                   headers={"Content-Type": oci})
        print("dropped", urllib.request.urlopen(r, timeout=5).status)
        sys.exit(0)
    time.sleep(0.02)
print("no bundle seen")
PY
stale=$!
$PYCRYPTO "$top_srcdir/tests/integ/rekor_server.py" "$rport" "$T/log.key" "$T/rekor-state.json" \
    >>"$T/rekor.log" 2>&1 &
PIDS="$PIDS $!"
wait "$stale"
expect_eq "the queued upload landed and the stale writer dropped the layer" \
    "$(cat "$T/stale.out")" "dropped 201"
logged() { $CHECK "$REG_up" r/app "$c" "$T/k.pub" --rekor-pub "$T/log.pub" |
    sed -n 's/.*"valid": \([0-9]*\).*/\1/p'; }
echo "# valid signatures with a bundle right after the drop: $(logged) (0 expected)"
for i in $(seq 1 50); do
	[ "$(logged)" = 1 ] && break
	sleep 0.1
done
expect_eq "  within 5 s the layer is back with its bundle" "$(logged)" 1
check "  the queue job's recheck repaired it" grep -q '"repository":"r/app","digest":"'"$c"'".*"outcome":"repaired"' "$T/signet.log"
sleep 4.5	# the last round (4 s)
expect_match "  one signature, no duplicate" \
    "$($CHECK "$REG_up" r/app "$c" "$T/k.pub" --rekor-pub "$T/log.pub")" '"layers": 1, "valid": 1'
n=$(ls "$T/state/rechecks/" | grep -c '\.json$')
expect_eq "  nothing is kept once the rechecks are done" "$n" 0
stop_signet
finish
