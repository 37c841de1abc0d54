#!/bin/bash
# workers: 3: one port, three processes.  Concurrent pushes of one digest
# under many tags next to a direct writer lose and duplicate nothing (the
# per-digest lock spans the workers); /metrics gives the totals of all the
# workers whichever answers; a queued Rekor upload lands once; SIGHUP
# revoking a key is applied by every worker, an invalid config is refused
# by the master; a worker killed is started again; SIGTERM stops them all,
# exit status 0.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo openssl
require_pycrypto

CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
OCI='application/vnd.oci.image.manifest.v1+json'
cpd="skopeo copy -q --dest-tls-verify=false"
export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/a" >/dev/null
"$SIGNET" keygen --output-key-prefix "$T/o" >/dev/null	# revokes a (4.)
start_registry up
mkdir -p "$T/state"
rekor_log
start_rekor
cfg() {
	echo "\"workers\": 3, \"signing\": {\"key\": \"$T/a.key\"},
 \"rekor\": {\"url\": \"http://127.0.0.1:$rport\", \"public_key\": \"$T/log.pub\", \"retry_seconds\": 1},
 \"state_dir\": \"$T/state\",
 \"verify_cache\": {\"success_ttl\": 1, \"failure_ttl\": 0},
 \"policies\": [
  {\"match\": \"race/*\", \"sign\": \"required\"},
  {\"match\": \"be/*\", \"sign\": \"required\", \"rekor_upload\": \"best-effort\"},
  {\"match\": \"v/*\", \"verify\": \"enforce\", \"keys\": [\"$T/$1.pub\"]}
 ]"
}
start_signet "http://$REG_up" "$(cfg a)"
for i in $(seq 1 50); do
	[ "$(pgrep -P "$SIGNET_PID" | wc -l)" -eq 3 ] && break
	sleep 0.1
done
expect_eq "the master runs 3 workers" "$(pgrep -P "$SIGNET_PID" | wc -l)" 3
check "the master says so" grep -q '"msg":"master (pid [0-9]*): 3 workers serving"' "$T/signet.log"

# 1. one digest, 30 tags at once through one port, and a direct writer
top=$(mkimage "$T/img" --layers 1 --size 20000 --seed wrk)
$cpd "oci:$T/img" "docker://$REG_up/race/app:seed"
curl -s -H "Accept: $OCI" "http://$REG_up/v2/race/app/manifests/seed" >"$T/man.json"
"$PYCRYPTO" "$top_srcdir/tests/integ/cosign_write.py" "$REG_up" race/app "$top" "$T/c.pub" \
    "$T/stop" >"$T/third.out" 2>&1 &
third=$!
seq 1 30 | xargs -P 30 -I{} curl -s -o /dev/null -w "%{http_code}\n" -X PUT \
    -H "Content-Type: $OCI" --data-binary @"$T/man.json" \
    "http://$PROXY/v2/race/app/manifests/t{}" >"$T/codes"
sleep 6		# the rechecks, 1 s and 4 s after each answer
touch "$T/stop"
wait "$third"
expect_eq "the direct writer finished with its signature present" "$?" 0
expect_eq "all 30 pushes answered 201" "$(grep -c '^201$' "$T/codes")" 30
for k in a c; do
	out=$($CHECK "$REG_up" race/app "$top" "$T/$k.pub")
	expect_match "signature by key $k present" "$out" '"valid": 1'
done
expect_match "exactly two signatures, no duplicates" "$out" '"layers": 2'
served=$(grep '"msg":"access"' "$T/signet.log" | grep '"method":"PUT"' |
    grep -o '"worker":[0-9]*' | sort -u | wc -l)
check "the pushes were served by more than one worker ($served)" test "$served" -gt 1
m=$(curl -s "http://$PROXY/metrics")
expect_match "no signature lost" "$m" 'signet_signature_losses_total 0'
expect_match "nothing failed" "$m" 'signet_signatures_total\{outcome="failed"\} 0'
s=$(echo "$m" | sed -n 's/^signet_signatures_total{outcome="\(signed\|present\)"} //p' |
    awk "{ s += \$1 } END { print s }")
expect_eq "30 signatures handled (signed or present), counted across workers" "$s" 30
echo "# $(echo "$m" | grep -E '^signet_signature' | tr '\n' ' ')"

# 2. /metrics: the totals of every worker, whichever answers
heads() { curl -s "http://$PROXY/metrics" |
    sed -n 's/^signet_requests_total{method="HEAD",status="2xx"} //p'; }
h0=$(heads)
for i in $(seq 1 40); do curl -s -o /dev/null -I "http://$PROXY/healthz"; done
sleep 0.5
bad=0
for i in $(seq 1 8); do
	h=$(heads)
	[ "$h" = "$((${h0:-0} + 40))" ] || { bad=$((bad + 1)); echo "# /metrics said $h"; }
done
expect_eq "8 answers of /metrics all count the 40 HEADs" "$bad" 0
answered=$(grep '"path":"/metrics"' "$T/signet.log" | grep -o '"worker":[0-9]*' | sort -u | wc -l)
check "/metrics answered by more than one worker ($answered)" test "$answered" -gt 1

# 3. a best-effort upload queued while the log is down lands once
kill "$REKOR_PID"
wait "$REKOR_PID" 2>/dev/null
entries() { "$PYCRYPTO" -c 'import json,os,sys
p = sys.argv[1]
print(len(json.load(open(p))) if os.path.exists(p) else 0)' "$T/rekor-state.json"; }
n0=$(entries)
mkimage "$T/down" --layers 1 --size 2000 --seed wrkd >/dev/null
check "log down, best-effort: the push succeeds" $cpd "oci:$T/down" "docker://$PROXY/be/down:1"
check "the upload is queued on disk" sh -c "ls '$T/state/rekor-queue/'*.json >/dev/null 2>&1"
start_rekor
queue_landed "the queued upload landed (queue empty)"
sleep 3		# three workers, each retrying every second: none may again
n1=$(entries)
expect_eq "the log holds one entry more, not several" "$n1" "$((n0 + 1))"
expect_eq "one worker said it landed" "$(grep -c 'queued Rekor upload done for be/down' "$T/signet.log")" 1

# 4. SIGHUP revoking the key: every worker refuses after success_ttl
mkimage "$T/v" --layers 1 --size 2000 --seed wrkv >/dev/null
$cpd "oci:$T/v" "docker://$REG_up/v/app:1"
check "signed with key a (signet sign)" "$SIGNET" sign --key "$T/a.key" --allow-http "$REG_up/v/app:1"
pulls() {
	for i in $(seq 1 24); do
		http_status GET "http://$PROXY/v2/v/app/manifests/1" -H "Accept: $OCI"
		echo
	done | sort | uniq -c | tr -s ' \n' '  '
}
expect_match "signed with the trusted key: 24 pulls allowed" "$(pulls)" '^ ?24 200 ?$'
sed -i "s|$T/a.pub|$T/o.pub|" "$T/signet.json"
kill -HUP "$SIGNET_PID"
sleep 2
expect_eq "each worker reloaded" "$(grep -c '"msg":"configuration reloaded' "$T/signet.log")" 3
expect_match "the key revoked: 24 pulls refused, whatever the worker" "$(pulls)" '^ ?24 403 ?$'
cp "$T/signet.json" "$T/good.json"
echo '{"listen": [' >"$T/signet.json"
kill -HUP "$SIGNET_PID"
sleep 1
check "an invalid config is refused by the master" grep -q '"msg":"reload failed, keeping the running configuration (no worker reloads)' "$T/signet.log"
expect_eq "  and no worker reloaded" "$(grep -c '"msg":"configuration reloaded' "$T/signet.log")" 3
expect_eq "  they all still serve" "$(for i in $(seq 1 12); do http_status GET "http://$PROXY/healthz"; echo; done | sort -u)" 200
cp "$T/good.json" "$T/signet.json"

# 5. a worker killed is started again; the service goes on
victim=$(pgrep -P "$SIGNET_PID" | head -1)
kill -KILL "$victim"
for i in $(seq 1 50); do
	grep -q '"msg":"worker [0-9] started again' "$T/signet.log" && break
	sleep 0.1
done
check "the master logs the death" grep -q "(pid $victim) killed by signal 9: starting it again" "$T/signet.log"
check "and starts it again" grep -q '"msg":"worker [0-9] started again' "$T/signet.log"
sleep 0.5
expect_eq "3 workers again" "$(pgrep -P "$SIGNET_PID" | wc -l)" 3
expect_eq "40 requests after: all 200" "$(for i in $(seq 1 40); do http_status GET "http://$PROXY/readyz"; echo; done | sort -u)" 200

# 6. SIGTERM: every worker drains and exits, then the master, status 0
kids=$(pgrep -P "$SIGNET_PID")
stop_signet
left=0
for k in $kids; do kill -0 "$k" 2>/dev/null && left=$((left + 1)); done
expect_eq "no worker left running" "$left" 0
check "the master waited for them" grep -q '"msg":"all workers exited"' "$T/signet.log"
finish
