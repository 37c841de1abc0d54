#!/bin/bash
# No lost signatures: two signet instances with different keys in front of
# one registry take 50 concurrent pushes of the same manifest under
# different tags, while a third writer appends to the same signature list
# directly; at the end every distinct signature is present.  Then the
# remaining race, measured: a cosign-style writer that writes once and
# never looks again, started at the same moment as a push through signet,
# 20 times (issue #9 item 7; the figure goes to the README).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo
require_pycrypto

start_registry up
CHECK="$PYCRYPTO $top_srcdir/tests/integ/cosign_check.py"
export COSIGN_PASSWORD=pw
"$SIGNET" keygen --output-key-prefix "$T/a" >/dev/null
"$SIGNET" keygen --output-key-prefix "$T/b" >/dev/null
POL='"policies": [{"match": "race/*", "sign": "required"}]'

start_signet "http://$REG_up" "\"signing\": {\"key\": \"$T/a.key\"}, $POL"
A=$PROXY
A_PID=$SIGNET_PID
mv "$T/signet.json" "$T/a.json"
start_signet "http://$REG_up" "\"signing\": {\"key\": \"$T/b.key\"}, $POL"
B=$PROXY
B_PID=$SIGNET_PID

# the blobs, once, directly; then the same manifest 50 times through signet
top=$(mkimage "$T/img" --layers 1 --size 20000 --seed race)
skopeo copy -q --dest-tls-verify=false "oci:$T/img" "docker://$REG_up/race/app:seed"
curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REG_up/v2/race/app/manifests/seed" >"$T/man.json"

"$PYCRYPTO" "$top_srcdir/tests/integ/cosign_write.py" "$REG_up" race/app "$top" "$T/c.pub" \
    "$T/stop" >"$T/third.out" 2>&1 &
third=$!
# 50 concurrent pushes, alternating between the two instances
seq 1 50 | xargs -P 50 -I{} sh -c '
	if [ $(({} % 2)) -eq 1 ]; then p=$0; else p=$1; fi
	curl -s -o /dev/null -w "%{http_code}\n" -X PUT \
	    -H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
	    --data-binary @"$2" "http://$p/v2/race/app/manifests/t{}"' "$A" "$B" "$T/man.json" \
    >"$T/codes"
# signet looks at what it wrote again 1 s and 4 s after answering
sleep 6
touch "$T/stop"
wait "$third"
expect_eq "third writer finished with its signature present" "$?" 0
expect_eq "all 50 pushes answered 201" "$(grep -c '^201$' "$T/codes")" 50
n=0
for i in $(seq 1 50); do
	[ "$(http_status HEAD "http://$REG_up/v2/race/app/manifests/t$i" \
	    -H 'Accept: application/vnd.oci.image.manifest.v1+json')" = 200 ] && n=$((n + 1))
done
expect_eq "all 50 tags exist" "$n" 50

for k in a b c; do
	out=$($CHECK "$REG_up" race/app "$top" "$T/$k.pub")
	expect_match "signature by key $k present" "$out" '"valid": 1'
done
out=$($CHECK "$REG_up" race/app "$top" "$T/a.pub")
expect_match "exactly three distinct signatures, no duplicates" "$out" '"layers": 3'
for p in $A $B; do
	m=$(curl -s "http://$p/metrics")
	expect_match "$p: no signature lost" "$m" 'signet_signature_losses_total 0'
	expect_match "$p: nothing failed" "$m" 'signet_signatures_total\{outcome="failed"\} 0'
	echo "# $p: $(echo "$m" | grep -E '^signet_signature' | tr '\n' ' ')"
done
echo "# third writer appended $(cat "$T/third.out") time(s)"

# the remaining race: one-shot writers against signet's read-append-write
N=20
for i in $(seq 1 $N); do
	x=$(mkimage "$T/r$i" --layers 1 --size 2000 --seed "once-$i")
	echo "$x" >"$T/x$i"
	skopeo copy -q --dest-tls-verify=false "oci:$T/r$i" "docker://$REG_up/race/once:seed$i"
	curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	    "http://$REG_up/v2/race/once/manifests/seed$i" >"$T/m$i.json"
	"$PYCRYPTO" "$top_srcdir/tests/integ/cosign_write.py" "$REG_up" race/once "$x" \
	    "$T/w$i.pub" --once "$T/go$i" $(( (i % 4) * 5 )) >"$T/w$i.out" 2>&1 &
	w=$!
	for k in $(seq 1 500); do [ -e "$T/go$i.ready" ] && break; sleep 0.01; done
	touch "$T/go$i"
	curl -s -o /dev/null -w "%{http_code}\n" -X PUT \
	    -H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
	    --data-binary @"$T/m$i.json" "http://$A/v2/race/once/manifests/t$i" >>"$T/once.codes"
	wait "$w"
done
sleep 5	# signet's rechecks, 1 s and 4 s after each answer
lost_s=0
lost_w=0
lost=
for i in $(seq 1 $N); do
	$CHECK "$REG_up" race/once "$(cat "$T/x$i")" "$T/a.pub" >/dev/null || lost_s=$((lost_s + 1))
	$CHECK "$REG_up" race/once "$(cat "$T/x$i")" "$T/w$i.pub" >/dev/null ||
	    { lost_w=$((lost_w + 1)); lost="$lost $i"; }
done
expect_eq "$N pushes next to one-shot writers: all 201" "$(grep -c '^201$' "$T/once.codes")" $N
expect_eq "  signet's signature is never lost" "$lost_s" 0
echo "# one-shot writers' signatures lost to signet's writes: $lost_w of $N${lost:+ (trials$lost)}"
kill -TERM "$A_PID"
wait "$A_PID"
expect_eq "instance A exits 0" "$?" 0
stop_signet
finish
