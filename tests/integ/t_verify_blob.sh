#!/bin/bash
# signet verify-blob against every row of tests/vectors/cosign/README.md:
# real cosign signatures and their expected outcomes.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require python3

V=$top_srcdir/tests/vectors/cosign
vb() { "$SIGNET" verify-blob "$@" >"$T/out" 2>&1; echo $?; }
row() {	# row DESCRIPTION WANT-EXIT ARGS...
	d=$1
	want=$2
	shift 2
	expect_eq "$d" "$(vb "$@")" "$want"
}

row "valid / cosign.pub: accept" 0 --key "$V/trust/cosign.pub" \
    --signature "$V/valid/signature.b64" "$V/valid/payload.json"
row "valid / cosign2.pub: reject" 1 --key "$V/trust/cosign2.pub" \
    --signature "$V/valid/signature.b64" "$V/valid/payload.json"
expect_match "  with the reason" "$(cat "$T/out")" 'does not verify'
row "valid-2 / cosign.pub: accept" 0 --key "$V/trust/cosign.pub" \
    --signature "$V/valid-2/signature.b64" "$V/valid-2/payload.json"
row "unknown-key / cosign.pub: reject" 1 --key "$V/trust/cosign.pub" \
    --signature "$V/unknown-key/signature.b64" "$V/unknown-key/payload.json"
K=$V/key-rekor-valid
row "key-rekor-valid / cosign2.pub + rekor.pub: accept" 0 --key "$V/trust/cosign2.pub" \
    --signature "$K/signature.b64" --rekor-bundle "$K/bundle.json" \
    --rekor-key "$V/trust/rekor.pub" "$K/payload.json"
row "key-rekor-valid / Rekor key cosign.pub: reject" 1 --key "$V/trust/cosign2.pub" \
    --signature "$K/signature.b64" --rekor-bundle "$K/bundle.json" \
    --rekor-key "$V/trust/cosign.pub" "$K/payload.json"
expect_match "  SET not signed by this log" "$(cat "$T/out")" 'logID'
row "key-rekor-valid, bundle removed: reject" 1 --key "$V/trust/cosign2.pub" \
    --signature "$K/signature.b64" --rekor-key "$V/trust/rekor.pub" "$K/payload.json"
expect_match "  Rekor required but no bundle" "$(cat "$T/out")" 'no bundle'

# every byte of Payload.body and of the SignedEntryTimestamp, changed in
# turn: each variant must be refused with exit 1 exactly (a crash, a
# sanitizer report or an acceptance is not a refusal)
made=$(python3 - "$K/bundle.json" "$T" <<'PY'
import json, sys
src, out = sys.argv[1], sys.argv[2]
b = json.load(open(src))
n = 0
def alt(c):
    return "B" if c == "A" else "A"
for field in ("body", "SignedEntryTimestamp"):
    s = b["Payload"]["body"] if field == "body" else b["SignedEntryTimestamp"]
    for i in range(len(s)):
        if s[i] == "=":
            continue
        t = s[:i] + alt(s[i]) + s[i + 1:]
        c = json.loads(json.dumps(b))
        if field == "body":
            c["Payload"]["body"] = t
        else:
            c["SignedEntryTimestamp"] = t
        open("%s/b%05d.json" % (out, n), "w").write(json.dumps(c, separators=(",", ":")))
        n += 1
print(n)
PY
)
total=0
other=0
for f in "$T"/b*.json; do
	[ -f "$f" ] || continue
	total=$((total + 1))
	[ "$(vb --key "$V/trust/cosign2.pub" --signature "$K/signature.b64" \
	    --rekor-bundle "$f" --rekor-key "$V/trust/rekor.pub" "$K/payload.json")" = 1 ] ||
	    other=$((other + 1))
done
check "body and SET variants generated ($made)" test "${made:-0}" -gt 500
expect_eq "each variant run" "$total" "$made"
expect_eq "every changed byte of body or SET refused, exit 1 ($total variants)" "$other" 0

# every byte of the payload changed in turn
python3 - "$V/valid/payload.json" "$T" <<'PY'
import sys
p = open(sys.argv[1], "rb").read()
for i in range(len(p)):
    q = bytearray(p)
    q[i] ^= 0x01
    open("%s/p%04d" % (sys.argv[2], i), "wb").write(bytes(q))
PY
total=0
other=0
for f in "$T"/p[0-9]*; do
	[ -f "$f" ] || continue
	total=$((total + 1))
	[ "$(vb --key "$V/trust/cosign.pub" --signature "$V/valid/signature.b64" "$f")" = 1 ] ||
	    other=$((other + 1))
done
expect_eq "one variant per payload byte" "$total" "$(wc -c <"$V/valid/payload.json")"
check "payload variants generated" test "$total" -gt 100
expect_eq "every changed payload byte refused, exit 1 ($total variants)" "$other" 0

row "valid against its manifest: accept" 0 --key "$V/trust/cosign.pub" \
    --signature "$V/valid/signature.b64" --manifest "$V/valid/manifest.json" "$V/valid/payload.json"
row "valid against another manifest: reject" 1 --key "$V/trust/cosign.pub" \
    --signature "$V/valid/signature.b64" --manifest "$V/key-rekor-valid/manifest.json" "$V/valid/payload.json"
expect_match "  digest mismatch" "$(cat "$T/out")" 'digest mismatch'
row "usage error: exit 2" 2 --key "$V/trust/cosign.pub"
finish
