#!/bin/bash
# End-to-end self-test of the Sigstore test tooling, without signet:
# rekor_server.py (Rekor v1 and v2 on one free loopback port), sgjs.mjs
# signing every variant against it and verifying each bundle with
# @sigstore/verify, bundles with one byte changed (signature, payload, SET,
# checkpoint, ...) refused, the referrer manifest, and rekor_selfcheck.py.
# Exit 0 when all pass, 1 otherwise, 77 when node/npm are not installed.
# KEEP_TMP=1 keeps the work directory.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
"$PY" -c 'import cryptography' 2>/dev/null || { echo "SKIP: $PY lacks python3-cryptography"; exit 77; }
SGRUN=$(sh "$HERE/setup.sh") || { rc=$?; [ $rc -eq 75 ] && exit 77; exit $rc; }

T=$(mktemp -d "${TMPDIR:-/tmp}/sgjs-selftest.XXXXXX")
SERVER_PID=""
passed=0
failed=0
cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	if [ "$failed" -ne 0 ] || [ -n "${KEEP_TMP:-}" ]; then echo "# work directory kept: $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
SG() { node "$SGRUN/sgjs.mjs" "$@"; }

# valid DESC BUNDLE VERIFY-ARGS...: sgjs verify exits 0
valid() {
	desc=$1 b=$2
	shift 2
	if out=$(SG verify --bundle "$b" "$@" 2>&1); then ok "$desc"; else not_ok "$desc: $out"; fi
}
# invalid DESC BUNDLE VERIFY-ARGS...: sgjs verify exits 1, with a reason
invalid() {
	desc=$1 b=$2
	shift 2
	out=$(SG verify --bundle "$b" "$@" 2>&1)
	rc=$?
	if [ $rc -eq 1 ]; then ok "$desc (${out#sgjs: invalid: })"; else not_ok "$desc: exit $rc: $out"; fi
}
# tampered DESC BUNDLE PART ENTRY VERIFY-ARGS...
tampered() {
	desc=$1 b=$2 part=$3 n=$4
	shift 4
	t=$T/t-$(basename "$b" .json)-$part-$n.json
	if ! "$PY" "$HERE/tamper.py" "$b" "$t" "$part" "$n"; then not_ok "$desc: cannot tamper $part"; return; fi
	invalid "$desc" "$t" "$@"
}

# --- the selfcheck of the log itself
if out=$("$PY" "$HERE/rekor_selfcheck.py" 2>&1); then
	ok "rekor_selfcheck.py: $(echo "$out" | tail -n 1)"
else
	not_ok "rekor_selfcheck.py:"
	echo "$out" | grep -v '^ok' | sed 's/^/#   /'
fi

# --- keys: the signer's (P-256), Rekor v1's (P-256), Rekor v2's (Ed25519),
# and a Fulcio-style CA (tests/integ/keyless.py) with a leaf
cd "$T" || exit 1
for k in signer other rekor rekor-other; do
	openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$k.key"
	openssl pkey -in "$k.key" -pubout -out "$k.pub" 2>/dev/null
done
openssl genpkey -algorithm ed25519 -out rekor2.key 2>/dev/null
openssl pkey -in rekor2.key -pubout -out rekor2.pub 2>/dev/null
"$PY" "$HERE/mkcert.py" "$T/ca" --identity ci@example.com >/dev/null || { not_ok "mkcert.py"; exit 1; }

PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ORIGIN=rekor2.selftest
"$PY" "$HERE/../rekor_server.py" "$PORT" rekor.key state.json --v2 rekor2.key --v2-origin "$ORIGIN" \
	>rekor.log 2>&1 &
SERVER_PID=$!
REKOR=http://127.0.0.1:$PORT
for _ in $(seq 100); do
	curl -s -o /dev/null "$REKOR/api/v1/log" && break
	sleep 0.1
done

echo "image manifest, pretend" >image.json
D=sha256:$(sha256sum image.json | cut -d' ' -f1)
echo "a blob to sign" >blob.txt
K="--key signer.pub"
V1="--rekor-pub rekor.pub"
V2="--rekor-v2-pub rekor2.pub --rekor-v2-origin $ORIGIN"
CA="--cert-root ca/root.pem --cert-inter ca/inter.pem"

# sign NAME SGJS-ARGS...: writes NAME.json
sign() {
	name=$1
	shift
	if SG "$@" >"$name.json" 2>"$name.err"; then ok "sign $name"; else not_ok "sign $name: $(cat "$name.err")"; fi
}

sign dsse-key sign-dsse --key signer.key --digest "$D"
sign dsse-key-v1 sign-dsse --key signer.key --digest "$D" --rekor "$REKOR"
sign dsse-key-v2 sign-dsse --key signer.key --digest "$D" --rekor-v2 "$REKOR"
sign dsse-key-v1v2 sign-dsse --key signer.key --digest "$D" --rekor "$REKOR" --rekor-v2 "$REKOR" \
	--predicate-type https://slsa.dev/provenance/v1
sign msg-key-v1 sign-message --key signer.key --file blob.txt --rekor "$REKOR"
sign msg-key-v2 sign-message --key signer.key --file blob.txt --rekor-v2 "$REKOR"
sign dsse-cert-v1 sign-dsse --key ca/leaf.key --cert ca/leaf.pem --digest "$D" --rekor "$REKOR"
sign dsse-cert-v2 sign-dsse --key ca/leaf.key --cert ca/leaf.pem --digest "$D" --rekor-v2 "$REKOR"
sign msg-chain-v1v2 sign-message --key ca/leaf.key --cert ca/leaf.pem --chain ca/chain.pem \
	--file blob.txt --rekor "$REKOR" --rekor-v2 "$REKOR"

# shapes
"$PY" - "$T" <<'EOF' && ok "bundle shapes (media types, hint, keyid, kinds, no SET on v2)" || not_ok "bundle shapes"
import base64, hashlib, json, subprocess, sys
d = sys.argv[1]
def load(n): return json.load(open("%s/%s.json" % (d, n)))
V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
b = load("dsse-key")
der = subprocess.run(["openssl", "pkey", "-pubin", "-in", d + "/signer.pub", "-outform", "DER"],
                     capture_output=True, check=True).stdout
assert b["mediaType"] == V03
assert b["verificationMaterial"] == {"publicKey": {"hint": base64.b64encode(hashlib.sha256(der).digest()).decode()}}
env = b["dsseEnvelope"]
assert env["payloadType"] == "application/vnd.in-toto+json" and list(env["signatures"][0]) == ["sig"]
st = json.loads(base64.b64decode(env["payload"]))
assert st["_type"] == "https://in-toto.io/Statement/v1" and st["predicate"] == {}
assert st["predicateType"] == "https://sigstore.dev/cosign/sign/v1"
e = load("dsse-key-v1")["verificationMaterial"]["tlogEntries"][0]
assert e["kindVersion"] == {"kind": "dsse", "version": "0.0.1"}
assert "integratedTime" in e and "signedEntryTimestamp" in e["inclusionPromise"]
assert "checkpoint" in e["inclusionProof"]
e = load("dsse-key-v2")["verificationMaterial"]["tlogEntries"][0]
assert e["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
assert "integratedTime" not in e and "inclusionPromise" not in e
body = json.loads(base64.b64decode(e["canonicalizedBody"]))
t = b"application/vnd.in-toto+json"
p2 = base64.b64decode(load("dsse-key-v2")["dsseEnvelope"]["payload"])
pae = b"DSSEv1 %d %s %d %s" % (len(t), t, len(p2), p2)
assert base64.b64decode(body["spec"]["hashedRekordV002"]["data"]["digest"]) == hashlib.sha256(pae).digest()
kinds = [x["kindVersion"]["kind"] + "/" + x["kindVersion"]["version"] for x in load("msg-key-v1")["verificationMaterial"]["tlogEntries"] + load("msg-key-v2")["verificationMaterial"]["tlogEntries"]]
assert kinds == ["hashedrekord/0.0.1", "hashedrekord/0.0.2"], kinds
assert load("msg-key-v1")["mediaType"] == V03
assert "certificate" in load("dsse-cert-v1")["verificationMaterial"]
c = load("msg-chain-v1v2")
assert c["mediaType"] == "application/vnd.dev.sigstore.bundle+json;version=0.2"
assert len(c["verificationMaterial"]["x509CertificateChain"]["certificates"]) == 3
EOF

# --- every variant verifies
valid "verify dsse, key, no tlog" dsse-key.json $K --digest "$D"
valid "verify dsse, key, Rekor v1 dsse 0.0.1 (SET, proof, checkpoint)" dsse-key-v1.json $K --digest "$D" $V1
valid "verify dsse, key, Rekor v2 hashedrekord 0.0.2 over the PAE" dsse-key-v2.json $K --digest "$D" $V2
valid "verify dsse, key, Rekor v1 and v2 entries" dsse-key-v1v2.json $K --digest "$D" $V1 $V2
valid "verify message, key, Rekor v1 hashedrekord 0.0.1" msg-key-v1.json $K --file blob.txt $V1
valid "verify message, key, Rekor v2 hashedrekord 0.0.2" msg-key-v2.json $K --file blob.txt $V2
valid "verify dsse, certificate, Rekor v1, identity and issuer" dsse-cert-v1.json $CA --digest "$D" $V1 \
	--identity ci@example.com --issuer https://token.actions.githubusercontent.com
valid "verify message, certificate chain (v0.2), Rekor v1 and v2" msg-chain-v1v2.json $CA --file blob.txt $V1 $V2
valid "verify with --insecure-ignore-tlog and no log key" dsse-key-v1.json $K --digest "$D" --insecure-ignore-tlog

# --- what must be refused
invalid "certificate with only a Rekor v2 entry: no timestamp (a TSA would be needed)" \
	dsse-cert-v2.json $CA --digest "$D" $V2
invalid "another signing key" dsse-key-v1.json --key other.pub --digest "$D" $V1
invalid "another image digest" dsse-key-v1.json $K --digest "sha256:$(printf x | sha256sum | cut -d' ' -f1)" $V1
invalid "another file" msg-key-v1.json $K --file image.json $V1
invalid "another Rekor v1 key" dsse-key-v1.json $K --digest "$D" --rekor-pub rekor-other.pub
invalid "Rekor v2 with another origin" dsse-key-v2.json $K --digest "$D" --rekor-v2-pub rekor2.pub \
	--rekor-v2-origin rekor2.elsewhere
invalid "Rekor v1 entry without the v1 key" dsse-key-v1.json $K --digest "$D" $V2
invalid "keyless bundle checked with a key" dsse-cert-v1.json $K --digest "$D" $V1
invalid "keyless bundle, wrong identity" dsse-cert-v1.json $CA --digest "$D" $V1 --identity evil@example.com
invalid "keyless bundle, another CA trusted" dsse-cert-v1.json \
	--cert-root ca/rogue-root.pem --cert-inter ca/rogue-inter.pem --digest "$D" $V1
invalid "keyless bundle, intermediate not given" dsse-cert-v1.json --cert-root ca/root.pem --digest "$D" $V1
invalid "another signing key, no tlog" dsse-key.json --key other.pub --digest "$D"

tampered "DSSE signature, one byte, no tlog" dsse-key.json sig 0 $K --digest "$D"
tampered "DSSE payload, one byte, no tlog" dsse-key.json payload 0 $K --digest "$D"
tampered "DSSE signature, one byte" dsse-key-v1.json sig 0 $K --digest "$D" $V1
tampered "DSSE payload, one byte" dsse-key-v1.json payload 0 $K --digest "$D" $V1
tampered "SET, one byte" dsse-key-v1.json set 0 $K --digest "$D" $V1
tampered "integratedTime + 1 (SET)" dsse-key-v1.json time 0 $K --digest "$D" $V1
tampered "Rekor v1 checkpoint signature, one byte" dsse-key-v1.json checkpoint 0 $K --digest "$D" $V1
tampered "Rekor v1 inclusion proof rootHash, one byte" dsse-key-v1.json roothash 0 $K --digest "$D" $V1
tampered "Rekor v1 canonicalized body, one character" dsse-key-v1.json body 0 $K --digest "$D" $V1
tampered "Rekor v2 checkpoint signature, one byte" dsse-key-v2.json checkpoint 0 $K --digest "$D" $V2
tampered "Rekor v2 inclusion proof rootHash, one byte" dsse-key-v2.json roothash 0 $K --digest "$D" $V2
tampered "Rekor v2 canonicalized body, one character" dsse-key-v2.json body 0 $K --digest "$D" $V2
tampered "DSSE signature with a Rekor v2 entry" dsse-key-v2.json sig 0 $K --digest "$D" $V2
tampered "v1+v2 bundle, v2 checkpoint" dsse-key-v1v2.json checkpoint 1 $K --digest "$D" $V1 $V2
tampered "message signature, one byte" msg-key-v1.json sig 0 $K --file blob.txt $V1
tampered "message digest, one byte" msg-key-v2.json digest 0 $K --file blob.txt $V2
tampered "message, Rekor v1 SET" msg-key-v1.json set 0 $K --file blob.txt $V1
tampered "keyless DSSE signature" dsse-cert-v1.json sig 0 $CA --digest "$D" $V1

# --- the referrer manifest
if SG referrer --bundle dsse-key-v1.json --subject-digest "$D" \
	--subject-media-type application/vnd.oci.image.manifest.v1+json --subject-size 24 \
	--created 2026-06-09T10:11:12Z >referrer.json 2>referrer.err; then
	"$PY" - "$T" "$D" <<'EOF' && ok "referrer manifest (cosign v3 layout)" || not_ok "referrer manifest: $(cat referrer.json referrer.err)"
import hashlib, json, os, sys
d, dig = sys.argv[1], sys.argv[2]
raw = open(d + "/referrer.json", "rb").read()
blob = open(d + "/dsse-key-v1.json", "rb").read()
BT = "application/vnd.dev.sigstore.bundle.v0.3+json"
want = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                   "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
                   "artifactType": BT},
        "layers": [{"mediaType": BT, "size": len(blob), "digest": "sha256:" + hashlib.sha256(blob).hexdigest()}],
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope",
                        "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1",
                        "org.opencontainers.image.created": "2026-06-09T10:11:12Z"},
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 24, "digest": dig},
        "artifactType": BT}
assert raw == json.dumps(want, separators=(",", ":")).encode(), raw
EOF
else
	not_ok "referrer: $(cat referrer.err)"
fi

echo "# sgjs self-test: libraries $(cd "$HERE" && node -p 'const l=require("./package-lock.json").packages; ["sign","verify","bundle","core","protobuf-specs"].map(n=>n+"@"+l["node_modules/@sigstore/"+n].version).join(" ")')"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
