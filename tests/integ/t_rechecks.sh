#!/bin/bash
# Pending rechecks survive a stop (issue #15): signet looks at every list it
# wrote again 1 s and 4 s later and repairs it if a stale writer dropped its
# layer.  A SIGTERM runs the waiting rechecks before the exit; the pending
# ones are kept in state_dir/rechecks, so a SIGKILL loses nothing either:
# the next start resumes them.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo
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
b=$(mkimage "$T/b" --layers 1 --size 5000 --seed recheck-b)
check "another push is signed" $cpd "oci:$T/b" "docker://$PROXY/r/app:b"
expect_eq "a stale writer drops it" "$(drop_layers "$b")" 201
kill -KILL "$SIGNET_PID"
wait "$SIGNET_PID" 2>/dev/null
echo "# valid signatures after the kill: $(layers "$b") (0 expected)"
check "  the recheck is kept in state_dir" grep -lq "${b#sha256:}" "$T/state/rechecks/"*.json
SIGNET_LOG_LEVEL=debug start_signet "$R" "$CONF"
check "the next start resumes the kept recheck" grep -q "resumed the pending recheck of r/app@$b" "$T/signet.log"
for i in $(seq 1 60); do
	[ "$(layers "$b")" = 1 ] && break
	sleep 0.1
done
expect_eq "  and the signature is back" "$(layers "$b")" 1
sleep 5		# the last rounds (4 s)
n=$(ls "$T/state/rechecks/" | grep -c '\.json$')
expect_eq "  nothing is kept once the rechecks are done" "$n" 0
out=$($CHECK "$REG_up" r/app "$a" "$T/k.pub")
expect_match "  one signature each, no duplicate" "$out" '"layers": 1, "valid": 1'
stop_signet
finish
