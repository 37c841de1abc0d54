#!/bin/bash
# cosign v3 signatures on pull: Sigstore bundles as OCI 1.1 referrers.
# The bundles are made by an independent implementation, the Sigstore
# project's JavaScript libraries (tests/integ/sigstore/sgjs.mjs on
# @sigstore/sign), and pushed as cosign 3 pushes them (the bundle blob, the
# referrer manifest by digest, its entry in the sha256-<hex> index: the
# registry here, distribution 2.8, has no referrers API).  The log is
# rekor_server.py (a faithful implementation of Rekor's v1 API and of a
# Rekor v2 log, with real cryptography: the real Rekor needs Trillian and a
# database).  Keyed (with and without log entries, v1 and v2), keyless,
# message signatures, tampered bundles, referrers of another image, one
# threshold across .sig and bundles, and `signet verify`.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo openssl
require_pycrypto
require_sgjs

# keys: signers A and B (P-256), the logs' (v1 P-256, v2 Ed25519), a
# Fulcio-style CA
ec_keys a b rekor
openssl genpkey -algorithm ed25519 -out "$T/rekor2.key" 2>/dev/null
openssl pkey -in "$T/rekor2.key" -pubout -out "$T/rekor2.pub" 2>/dev/null
$PYCRYPTO "$SGDIR/mkcert.py" "$T/ca" --identity ci@example.com >/dev/null
# a v0.3 bundle carries the leaf only: the intermediate is trusted, as in
# Sigstore's trusted root
cat "$T/ca/root.pem" "$T/ca/inter.pem" >"$T/ca/roots.pem"
check "keys, log keys and a CA made" test -s "$T/ca/leaf.pem" -a -s "$T/rekor2.pub"
ISS=https://token.actions.githubusercontent.com	# mkcert.py's default
rport=$(free_port)
$PYCRYPTO "$top_srcdir/tests/integ/rekor_server.py" "$rport" "$T/rekor.key" "$T/rekor-state.json" \
    --v2 "$T/rekor2.key" --v2-origin rekor2.test >"$T/rekor.log" 2>&1 &
PIDS="$PIDS $!"
REKOR=http://127.0.0.1:$rport
wait_http "$REKOR/api/v1/log"

start_registry up
mkdir -p "$T/state"
cat >"$T/pol.json" <<EOF
"state_dir": "$T/state", "verify_cache": {"failure_ttl": 0},
"rekor": {"public_key": ["$T/rekor.pub", "$T/rekor2.pub"], "url": "$REKOR"},
"policies": [
 {"match": "v3/*", "verify": "enforce", "keys": ["$T/a.pub"]},
 {"match": "v3r/*", "verify": "enforce", "keys": ["$T/a.pub"], "rekor": "required"},
 {"match": "v3o/*", "verify": "enforce", "keys": ["$T/a.pub"], "rekor": "online"},
 {"match": "v3k/*", "verify": "enforce",
  "keyless": [{"ca_roots": "$T/ca/roots.pem", "identity": "ci@example.com", "issuer": "$ISS"}]},
 {"match": "v3t/*", "verify": "enforce", "keys": ["$T/a.pub", "$T/b.pub"], "threshold": 2}]
EOF
start_signet "http://$REG_up" "$(cat "$T/pol.json")"
pull() { skopeo copy -q --src-tls-verify=false "docker://$PROXY/$1" "oci:$T/p-$RANDOM:x" 2>&1; }
OCI=application/vnd.oci.image.manifest.v1+json

# image REPO: an image of its own straight upstream (REPO:1); its digest
image() { up_image "$1" 1 "v3-$1"; }
# bundle REPO DIGEST [SUBJECT] -- SGJS-SIGN-ARGS: sign with sgjs, push the
# referrer (of SUBJECT, default DIGEST) into REPO's index for DIGEST
bundle() {
	repo=$1 d=$2 subj=$2
	shift 2
	if [ "$1" != "--" ]; then subj=$1; shift; fi
	shift
	SG "$@" >"$T/b.json" 2>"$T/sg.err" || { cat "$T/sg.err"; return 1; }
	size=$(curl -s -H "Accept: $OCI" "http://$REG_up/v2/$repo/manifests/$subj" | wc -c)
	SG referrer --bundle "$T/b.json" --subject-digest "$subj" --subject-media-type "$OCI" \
	    --subject-size "$size" >"$T/m.json"
	if [ "$subj" = "$d" ]; then
		$HELPERS bundle-referrer "$REG_up" "$repo" "$T/m.json" "$T/b.json"
	else
		# listed in d's index though its subject is another image
		r=$($HELPERS bundle-referrer "$REG_up" "$repo" "$T/m.json" "$T/b.json" --no-index)
		python3 - "$REG_up" "$repo" "$d" "$r" "$T/m.json" <<'PY'
import json, sys, urllib.request
reg, repo, d, r, m = sys.argv[1:]
idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
       "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "digest": r, "size": len(open(m, "rb").read()),
                      "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}]}
q = urllib.request.Request("http://%s/v2/%s/manifests/sha256-%s" % (reg, repo, d[7:]),
                           data=json.dumps(idx).encode(), method="PUT",
                           headers={"Content-Type": idx["mediaType"]})
urllib.request.urlopen(q)
print(r)
PY
	fi
}

# 1. keyed, no log entry (as `cosign sign --tlog-upload=false` in v3)
d=$(image v3/ok)
r=$(bundle v3/ok "$d" -- sign-dsse --key "$T/a.key" --digest "$d")
check "a cosign v3 referrer pushed upstream (no .sig)" test -n "$r"
expect_eq "  no .sig tag" "$(http_status GET \
    "http://$REG_up/v2/v3/ok/manifests/sha256-${d#sha256:}.sig" -H "Accept: $OCI")" 404
expect_eq "a bundle signed by a trusted key: the pull goes through" "$(pull v3/ok:1)" ""
line=$(grep '"msg":"decision"' "$T/signet.log" | grep '"repository":"v3/ok"' | head -1)
expect_match "  the audit line names the key" "$line" \
    "\"signer\":\"$(openssl pkey -pubin -in "$T/a.pub" -outform DER | sha256sum | cut -c1-64)\""
d0=$(image v3/none)
expect_match "an unsigned image is refused" "$(pull v3/none:1)" \
    'is not verified: no signature found'
d=$(image v3/other)
bundle v3/other "$d" -- sign-dsse --key "$T/b.key" --digest "$d" >/dev/null
expect_match "a bundle by an untrusted key is refused" "$(pull v3/other:1)" \
    'not signed by a trusted key'
d=$(image v3/slsa)
bundle v3/slsa "$d" -- sign-dsse --key "$T/a.key" --digest "$d" \
    --predicate-type https://slsa.dev/provenance/v1 >/dev/null
expect_match "an attestation (SLSA provenance) is no signature" "$(pull v3/slsa:1)" \
    'predicateType is https://slsa.dev/provenance/v1, not'
d=$(image v3/wrong)
bundle v3/wrong "$d" -- sign-dsse --key "$T/a.key" --digest "$d0" >/dev/null
expect_match "a statement naming another image is refused" "$(pull v3/wrong:1)" \
    "the statement does not name $d"
x=$(image v3/x)
bundle v3/x "$x" -- sign-dsse --key "$T/a.key" --digest "$x" >/dev/null
d=$(image v3/y)
bundle v3/y "$d" "$x" -- sign-dsse --key "$T/a.key" --digest "$x" >/dev/null
expect_match "a referrer of another image listed under this one is refused" \
    "$(pull v3/y:1)" "subject is not this image"
m=$(image v3/msg)
curl -s -H "Accept: $OCI" "http://$REG_up/v2/v3/msg/manifests/$m" >"$T/msg-manifest.json"
bundle v3/msg "$m" -- sign-message --key "$T/a.key" --file "$T/msg-manifest.json" >/dev/null
expect_eq "a message signature over the manifest itself" "$(pull v3/msg:1)" ""
d=$(image v3/tamper)
SG sign-dsse --key "$T/a.key" --digest "$d" >"$T/good.json"
$PYCRYPTO "$SGDIR/tamper.py" "$T/good.json" "$T/bad.json" sig
size=$(curl -s -H "Accept: $OCI" "http://$REG_up/v2/v3/tamper/manifests/$d" | wc -c)
SG referrer --bundle "$T/bad.json" --subject-digest "$d" --subject-media-type "$OCI" \
    --subject-size "$size" >"$T/m.json"
$HELPERS bundle-referrer "$REG_up" v3/tamper "$T/m.json" "$T/bad.json" >/dev/null
expect_match "a bundle with its signature altered is refused" "$(pull v3/tamper:1)" \
    'not signed by a trusted key'

# 2. a cosign client reading through signet: the index, the referrer and
#    the bundle (signature objects, allowed by their content)
d=$(curl -s -o /dev/null -w '%header{docker-content-digest}' -H "Accept: $OCI" \
    "http://$REG_up/v2/v3/ok/manifests/1")
P="http://$PROXY"
expect_eq "the sha256-<hex> index reads through signet" "$(http_status GET \
    "$P/v2/v3/ok/manifests/sha256-${d#sha256:}" -H "Accept: application/vnd.oci.image.index.v1+json")" 200
ref=$(curl -s -H "Accept: application/vnd.oci.image.index.v1+json" \
    "$P/v2/v3/ok/manifests/sha256-${d#sha256:}" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["manifests"][0]["digest"])')
expect_eq "  the referrer too" "$(http_status GET "$P/v2/v3/ok/manifests/$ref" -H "Accept: $OCI")" 200

#    the referrers API, answered by signet from the tag schema (the
#    registry has none), with the artifactType filter
BT=application/vnd.dev.sigstore.bundle.v0.3+json
out=$(curl -s -D "$T/rh" "$P/v2/v3/ok/referrers/$d")
expect_match "the referrers API through signet: an OCI index listing the referrer" "$out" \
    "\"manifests\":\\[\\{.*\"digest\":\"$ref\""
check "  as an OCI index" grep -qi "^content-type: application/vnd.oci.image.index.v1+json" "$T/rh"
out=$(curl -s -D "$T/rh" "$P/v2/v3/ok/referrers/$d?artifactType=${BT/+/%2B}")
expect_match "  filtered by artifactType (the bundle type): listed" "$out" "$ref"
check "  OCI-Filters-Applied: artifactType" grep -qi "^oci-filters-applied: artifactType" "$T/rh"
expect_match "  another artifactType: an empty list" \
    "$(curl -s "$P/v2/v3/ok/referrers/$d?artifactType=text/spdx")" '"manifests":\[\]'
expect_match "  an image with no referrers: an empty index, not 404" \
    "$(curl -s -w ' %{http_code}' "$P/v2/v3/none/referrers/$d0")" '"manifests":\[\]\} 200$'

# 3. Rekor: v1 (SET, proof, checkpoint) and v2 (proof, Ed25519 checkpoint)
d=$(image v3r/v1)
bundle v3r/v1 "$d" -- sign-dsse --key "$T/a.key" --digest "$d" --rekor "$REKOR" >/dev/null
expect_eq "rekor required: a Rekor v1 dsse entry" "$(pull v3r/v1:1)" ""
d=$(image v3r/v2)
bundle v3r/v2 "$d" -- sign-dsse --key "$T/a.key" --digest "$d" --rekor-v2 "$REKOR" >/dev/null
expect_eq "rekor required: a Rekor v2 hashedrekord 0.0.2 entry" "$(pull v3r/v2:1)" ""
d=$(image v3r/none)
bundle v3r/none "$d" -- sign-dsse --key "$T/a.key" --digest "$d" >/dev/null
expect_match "rekor required, no entry: refused" "$(pull v3r/none:1)" 'Rekor entry missing'
for part in set checkpoint roothash body time; do
	for v in v1 v2; do
		[ $v = v2 ] && { [ $part = set ] || [ $part = time ]; } && continue
		d=$(image "v3r/t-$part-$v")
		opt=--rekor
		[ $v = v2 ] && opt=--rekor-v2
		SG sign-dsse --key "$T/a.key" --digest "$d" $opt "$REKOR" >"$T/good.json"
		$PYCRYPTO "$SGDIR/tamper.py" "$T/good.json" "$T/bad.json" "$part"
		size=$(curl -s -H "Accept: $OCI" "http://$REG_up/v2/v3r/t-$part-$v/manifests/$d" | wc -c)
		SG referrer --bundle "$T/bad.json" --subject-digest "$d" --subject-media-type "$OCI" \
		    --subject-size "$size" >"$T/m.json"
		$HELPERS bundle-referrer "$REG_up" "v3r/t-$part-$v" "$T/m.json" "$T/bad.json" >/dev/null
		out=$(pull "v3r/t-$part-$v:1")
		expect_match "a $v entry with its $part altered is refused" "$out" 'is not verified'
	done
done
d=$(image v3o/v1)
bundle v3o/v1 "$d" -- sign-dsse --key "$T/a.key" --digest "$d" --rekor "$REKOR" >/dev/null
expect_eq "rekor online: the log holds the bundle's entry" "$(pull v3o/v1:1)" ""
check "  the log's checkpoint kept" test -s "$T/state/checkpoint-$(openssl pkey -pubin \
    -in "$T/rekor.pub" -outform DER | sha256sum | cut -c1-64)"
tree_size() { curl -s "$REKOR/api/v1/log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["treeSize"])'; }
# the log grows: its new tree extends the kept one (a consistency proof)
d=$(image v3o/grow)
bundle v3o/grow "$d" -- sign-dsse --key "$T/a.key" --digest "$d" --rekor "$REKOR" >/dev/null
SG sign-dsse --key "$T/a.key" --digest "$d" --rekor "$REKOR" >/dev/null	# one more
expect_eq "rekor online: the log grew, consistently" "$(pull v3o/grow:1)" ""
forks() { curl -s "http://$PROXY/metrics" | sed -n 's/^signet_rekor_log_forks_total //p'; }
expect_eq "  no fork counted" "$(forks)" 0
# the log forks: it drops its last entry and logs another in its place
# (rekor_server.py's test-only /_fork), so one tree size has two roots ...
s=$(tree_size)
curl -s -o /dev/null -X POST "$REKOR/_fork?keep=$((s - 1))"
d=$(image v3o/fork1)
bundle v3o/fork1 "$d" -- sign-dsse --key "$T/a.key" --digest "$d" --rekor "$REKOR" >/dev/null
expect_eq "  the forked log is back at the kept size" "$(tree_size)" "$s"
expect_match "rekor online: two roots for one tree size: refused" "$(pull v3o/fork1:1)" \
    'two roots for tree size'
# ... and grows past the kept size, with no consistency proof from it
d=$(image v3o/fork2)
bundle v3o/fork2 "$d" -- sign-dsse --key "$T/a.key" --digest "$d" --rekor "$REKOR" >/dev/null
expect_match "rekor online: a log grown from a forked history: refused" "$(pull v3o/fork2:1)" \
    'is not a prefix of its tree of size'
expect_eq "  both counted in /metrics" "$(forks)" 2
expect_match "  and logged" "$(grep -c '"msg":"transparency log forked"' "$T/signet.log")" '^2$'
d=$(image v3o/gone)
bundle v3o/gone "$d" -- sign-dsse --key "$T/a.key" --digest "$d" --rekor "$REKOR" >/dev/null
curl -s -o /dev/null -X POST "$REKOR/_fork?keep=0"
expect_match "rekor online: an entry the log no longer holds is refused" "$(pull v3o/gone:1)" \
    'Rekor entry missing from the log'
d=$(image v3o/v2)
bundle v3o/v2 "$d" -- sign-dsse --key "$T/a.key" --digest "$d" --rekor-v2 "$REKOR" >/dev/null
expect_match "rekor online, only a v2 entry: refused (no lookup in a v2 log)" \
    "$(pull v3o/v2:1)" 'rekor: online needs a Rekor v1 entry'

# 4. keyless: the certificate at the v1 entry's time
d=$(image v3k/ok)
bundle v3k/ok "$d" -- sign-dsse --key "$T/ca/leaf.key" --cert "$T/ca/leaf.pem" --digest "$d" \
    --rekor "$REKOR" >/dev/null
expect_eq "keyless: a certificate from the trusted CA and identity" "$(pull v3k/ok:1)" ""
$PYCRYPTO "$SGDIR/mkcert.py" "$T/ca" --identity mallory@example.com >/dev/null
d=$(image v3k/who)
bundle v3k/who "$d" -- sign-dsse --key "$T/ca/leaf.key" --cert "$T/ca/leaf.pem" --digest "$d" \
    --rekor "$REKOR" >/dev/null
expect_match "keyless: another identity is refused" "$(pull v3k/who:1)" \
    'mallory@example.com not trusted'
d=$(image v3k/v2)
bundle v3k/v2 "$d" -- sign-dsse --key "$T/ca/leaf.key" --cert "$T/ca/leaf.pem" --digest "$d" \
    --rekor-v2 "$REKOR" >/dev/null
expect_match "keyless with only a v2 entry: no trusted time, refused" "$(pull v3k/v2:1)" \
    'needs a trusted time'

# 5. one threshold across formats: a .sig by B (cosign 2 style, written by
#    an outside writer) and a bundle by A
d=$(image v3t/two)
bundle v3t/two "$d" -- sign-dsse --key "$T/a.key" --digest "$d" >/dev/null
expect_match "threshold 2, one bundle: refused" "$(pull v3t/two:1)" \
    '1 trusted signer\(s\), 2 required'
$PYCRYPTO "$top_srcdir/tests/integ/cosign_write.py" "$REG_up" v3t/two "$d" "$T/w.pub" \
    --once "$T/go" 0 >/dev/null &
wp=$!
for _ in $(seq 100); do [ -e "$T/go.ready" ] && break; sleep 0.1; done
touch "$T/go"
wait $wp
python3 - "$T/pol.json" "$T/w.pub" <<'PY' >"$T/pol2.json"
import sys
s = open(sys.argv[1]).read()
sys.stdout.write(s.replace('"v3t/*", "verify": "enforce", "keys": [',
                           '"v3t/*", "verify": "enforce", "keys": ["%s", ' % sys.argv[2]))
PY
stop_signet
start_signet "http://$REG_up" "$(cat "$T/pol2.json")"
expect_eq "threshold 2: a .sig and a bundle by two signers" "$(pull v3t/two:1)" ""

# 6. signet verify prints the statement of each bundle that verifies
sv() { "$SIGNET" verify --key "$T/a.pub" --allow-http "$@" >"$T/sv.out" 2>&1; echo $?; }
expect_eq "signet verify: a cosign v3 image" "$(sv "$REG_up/v3/ok:1")" 0
expect_match "  the statement printed" "$(cat "$T/sv.out")" 'https://sigstore.dev/cosign/sign/v1'
expect_eq "signet verify: an unsigned image, exit 1" "$(sv "$REG_up/v3/none:1")" 1
expect_match "  with the reason" "$(cat "$T/sv.out")" 'no signature found'
expect_eq "signet verify: rekor v1 entry checked" \
    "$(sv --rekor-key "$T/rekor.pub" "$REG_up/v3r/v1:1")" 0
expect_eq "signet verify: rekor v2 entry checked" \
    "$(sv --rekor-key "$T/rekor2.pub" "$REG_up/v3r/v2:1")" 0
expect_eq "signet verify: a v1 entry under a v2-only log key: refused" \
    "$(sv --rekor-key "$T/rekor2.pub" "$REG_up/v3r/v1:1")" 1


# 7. signet verify-blob --bundle, as cosign 3's verify-blob
head -c 300000 /dev/urandom >"$T/blob.bin"
SG sign-message --key "$T/a.key" --file "$T/blob.bin" --rekor "$REKOR" --rekor-v2 "$REKOR" \
    >"$T/blob.sigstore.json"
vb() { "$SIGNET" verify-blob "$@" >"$T/vb.out" 2>&1; echo $?; }
expect_eq "verify-blob --bundle, keyed" \
    "$(vb --bundle "$T/blob.sigstore.json" --key "$T/a.pub" "$T/blob.bin")" 0
expect_eq "  with both logs' keys (a v1 and a v2 entry)" \
    "$(vb --bundle "$T/blob.sigstore.json" --key "$T/a.pub" --rekor-key "$T/rekor.pub" \
      --rekor-key "$T/rekor2.pub" "$T/blob.bin")" 0
cp "$T/blob.bin" "$T/blob2.bin"
printf x >>"$T/blob2.bin"
expect_eq "  another blob: exit 1" \
    "$(vb --bundle "$T/blob.sigstore.json" --key "$T/a.pub" "$T/blob2.bin")" 1
expect_match "  with the reason" "$(cat "$T/vb.out")" 'for another artifact'
expect_eq "  another key: exit 1" \
    "$(vb --bundle "$T/blob.sigstore.json" --key "$T/b.pub" "$T/blob.bin")" 1
$PYCRYPTO "$SGDIR/tamper.py" "$T/blob.sigstore.json" "$T/blob-bad.json" checkpoint 1
expect_eq "  a forged v2 checkpoint: exit 1" \
    "$(vb --bundle "$T/blob-bad.json" --key "$T/a.pub" --rekor-key "$T/rekor2.pub" \
      "$T/blob.bin")" 1
expect_eq "  --bundle with --signature: usage, exit 2" \
    "$(vb --bundle "$T/blob.sigstore.json" --signature x --key "$T/a.pub" "$T/blob.bin")" 2
$PYCRYPTO "$SGDIR/mkcert.py" "$T/ca" --identity ci@example.com >/dev/null
SG sign-message --key "$T/ca/leaf.key" --cert "$T/ca/leaf.pem" --file "$T/blob.bin" \
    --rekor "$REKOR" >"$T/blob-kl.json"
expect_eq "verify-blob --bundle, keyless" \
    "$(vb --bundle "$T/blob-kl.json" --ca-roots "$T/ca/roots.pem" --certificate-identity \
      ci@example.com --certificate-oidc-issuer "$ISS" --rekor-key "$T/rekor.pub" "$T/blob.bin")" 0
expect_match "  the identity printed" "$(cat "$T/vb.out")" 'certificate identity ci@example.com'
expect_eq "  another identity: exit 1" \
    "$(vb --bundle "$T/blob-kl.json" --ca-roots "$T/ca/roots.pem" --certificate-identity \
      ci@example.org --certificate-oidc-issuer "$ISS" --rekor-key "$T/rekor.pub" "$T/blob.bin")" 1
stop_signet

# 8. the referrers API in pages (Link: rel="next", as GHCR and Harbor
#    page it): a front answers it one descriptor a page; the trusted
#    signature is on page 3, behind two by an untrusted key.  A Link to a
#    page of another repository is not followed: indeterminate (502)
d=$(image v3/pages)
for k in b b a; do
	bundle v3/pages "$d" -- sign-dsse --key "$T/$k.key" --digest "$d" >/dev/null
done
start_front PAGES "$REG_up" referrers-pages
expect_eq "the front pages the referrers API (a Link on page 1)" "$(curl -s -o /dev/null \
    -w '%{http_code}' -D - "http://$PAGES/v2/v3/pages/referrers/$d" | grep -ci '^link:')" 1
start_signet "http://$PAGES" "$(cat "$T/pol.json")"
expect_eq "a signature on page 3 of the referrers: the pull goes through" "$(pull v3/pages:1)" ""
stop_signet
start_front AWAY "$REG_up" referrers-pages-away
start_signet "http://$AWAY" "$(cat "$T/pol.json")"
expect_match "a next page in another repository: not followed, indeterminate (502)" \
    "$(pull v3/pages:1)" '502 Bad Gateway'
check "  the reason is logged" grep -q 'the next page the registry named is not in this repository' \
    "$T/signet.log"
stop_signet
finish
