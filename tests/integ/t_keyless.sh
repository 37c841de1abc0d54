#!/bin/bash
# Keyless signers on pull: certificates chaining to the rule's roots, the
# subject and OIDC issuer matching, valid at the Rekor entry's integrated
# time, the bundle checked offline.  The test builds its own CA,
# intermediate and leaf certificates with Fulcio's extensions.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integ/lib.sh"
require docker-registry curl python3 skopeo
require_pycrypto

start_registry up
KL="$PYCRYPTO $top_srcdir/tests/integ/keyless.py"
$KL init "$T"
check "test CA, intermediate and log key made" test -s "$T/root.pem"
ISS=https://token.actions.githubusercontent.com
POL="\"rekor\": {\"public_key\": \"$T/log.pub\"}, \"verify_cache\": {\"failure_ttl\": 0},
 \"policies\": [
  {\"match\": \"kl/*\", \"verify\": \"enforce\",
   \"keyless\": [{\"ca_roots\": \"$T/root.pem\", \"identity\": \"ci@example.com\", \"issuer\": \"$ISS\"}]},
  {\"match\": \"klre/*\", \"verify\": \"enforce\",
   \"keyless\": [{\"ca_roots\": \"$T/root.pem\", \"identity_regexp\": \"^[a-z]+@example\\\\.com$\",
                 \"issuer_regexp\": \"^https://token\\\\.actions\\\\.\"}]}]"
start_signet "http://$REG_up" "$POL"
pull() { skopeo copy -q --src-tls-verify=false "docker://$PROXY/$1" "oci:$T/p-$RANDOM:x" 2>&1; }
n=0
image() {	# image REPO [keyless.py options]: push an image, sign it; prints the digest
	n=$((n + 1))
	repo=$1
	shift
	d=$(mkimage "$T/img$n" --layers 1 --size 10000 --seed "kl$n")
	skopeo copy -q --dest-tls-verify=false "oci:$T/img$n" "docker://$REG_up/$repo:1"
	$KL sign "$T" "$REG_up" "$repo" "$d" "$@"
	echo "$d"
}

image kl/ok >/dev/null
expect_eq "a keyless signature from the trusted CA and identity is accepted" "$(pull kl/ok:1)" ""
line=$(grep '"msg":"decision"' "$T/signet.log" | grep '"repository":"kl/ok"' | head -1)
expect_match "the audit line names the certificate identity" "$line" '"signer":"keyless:ci@example.com"'
image kl/who --identity mallory@example.com >/dev/null
expect_match "another identity is refused" "$(pull kl/who:1)" \
    'certificate identity mallory@example.com not trusted'
image kl/iss --issuer https://accounts.example.org >/dev/null
expect_match "another OIDC issuer is refused" "$(pull kl/iss:1)" \
    'certificate OIDC issuer https://accounts.example.org not trusted'
image kl/nobundle --no-bundle >/dev/null
expect_match "no bundle: refused" "$(pull kl/nobundle:1)" \
    'Rekor entry missing: a certificate signature needs a bundle'
image kl/late --late >/dev/null
expect_match "logged after the certificate expired: refused" "$(pull kl/late:1)" \
    "certificate not valid at the Rekor entry's integrated time"
image kl/rogue --rogue >/dev/null
expect_match "a certificate from another CA is refused" "$(pull kl/rogue:1)" \
    'certificate does not chain to the trusted roots'
# a NUL in the identity must not cut it short to the trusted one
image kl/nul --identity 'ci@example.com\x00.attacker.example' >/dev/null
expect_match "an identity with a NUL byte is refused" "$(pull kl/nul:1)" \
    'holds a NUL or control byte'
image klre/ok --identity build@example.com >/dev/null
expect_eq "identity and issuer by regular expression" "$(pull klre/ok:1)" ""
image klre/no --identity build@example.org >/dev/null
expect_match "a regular expression that does not match" "$(pull klre/no:1)" 'not trusted'

# signet verify with keyless signers, as on pull
kv() {
	"$SIGNET" verify --ca-roots "$T/root.pem" --rekor-key "$T/log.pub" --allow-http "$@" \
	    >"$T/kv.out" 2>&1
	echo $?
}
expect_eq "signet verify: a keyless signature accepted" \
    "$(kv --certificate-identity ci@example.com --certificate-oidc-issuer "$ISS" "$REG_up/kl/ok:1")" 0
expect_match "  its payload printed" "$(cat "$T/kv.out")" 'docker-manifest-digest'
expect_eq "signet verify: another identity refused" \
    "$(kv --certificate-identity ci@example.com --certificate-oidc-issuer "$ISS" "$REG_up/kl/who:1")" 1
expect_match "  with the reason" "$(cat "$T/kv.out")" 'mallory@example.com not trusted'
expect_eq "signet verify: identity by regular expression" \
    "$(kv --certificate-identity-regexp '^[a-z]+@example\.com$' --certificate-oidc-issuer-regexp '^https://token\.' \
      "$REG_up/klre/ok:1")" 0
expect_eq "signet verify: a certificate past its validity at log time refused" \
    "$(kv --certificate-identity ci@example.com --certificate-oidc-issuer "$ISS" "$REG_up/kl/late:1")" 1
expect_eq "signet verify: keyless without a log key is a usage error (exit 1, named)" \
    "$("$SIGNET" verify --ca-roots "$T/root.pem" --certificate-identity ci@example.com \
      --certificate-oidc-issuer "$ISS" --allow-http "$REG_up/kl/ok:1" 2>"$T/kv.out"; echo $?)" 1
expect_match "  named" "$(cat "$T/kv.out")" 'keyless signers need --rekor-key'

# a key-signed image under a keyless-only rule
COSIGN_PASSWORD=x "$SIGNET" keygen --output-key-prefix "$T/k" >/dev/null
d=$(mkimage "$T/imgk" --layers 1 --size 10000 --seed klk)
skopeo copy -q --dest-tls-verify=false "oci:$T/imgk" "docker://$REG_up/kl/keyed:1"
COSIGN_PASSWORD=x "$SIGNET" sign --key "$T/k.key" --allow-http "$REG_up/kl/keyed:1" >/dev/null
expect_match "a key signature does not satisfy a keyless-only rule" "$(pull kl/keyed:1)" \
    'no signature from a trusted signer'

# verify-blob with a certificate, flags as cosign's
mkdir -p "$T/blob"
$KL sign "$T" r.example repo/x sha256:0000000000000000000000000000000000000000000000000000000000000000 \
    --files "$T/blob"
vb() {
	"$SIGNET" verify-blob --certificate "$T/blob/cert.pem" --certificate-chain "$T/blob/chain.pem" \
	    --rekor-bundle "$T/blob/bundle.json" --rekor-key "$T/log.pub" \
	    --signature "$T/blob/sig" "$@" "$T/blob/payload" >"$T/vb.out" 2>&1
	echo $?
}
expect_eq "verify-blob --certificate: accepted" \
    "$(vb --ca-roots "$T/root.pem" --certificate-identity ci@example.com --certificate-oidc-issuer "$ISS")" 0
expect_eq "verify-blob: another identity rejected" \
    "$(vb --ca-roots "$T/root.pem" --certificate-identity x@example.com --certificate-oidc-issuer "$ISS")" 1
expect_eq "verify-blob: another issuer rejected" \
    "$(vb --ca-roots "$T/root.pem" --certificate-identity ci@example.com --certificate-oidc-issuer https://x)" 1
expect_eq "verify-blob: other roots rejected" \
    "$(vb --ca-roots "$T/rogue-root.pem" --certificate-identity ci@example.com --certificate-oidc-issuer "$ISS")" 1
expect_match "  with the reason" "$(cat "$T/vb.out")" 'does not chain to the trusted roots'
# warn mode: the reason goes into a response header; a certificate whose
# issuer carries CR LF cannot add a header (the value is refused, and any
# header line is escaped besides: test_rewrite)
stop_signet
: >"$T/signet.log"
start_signet "http://$REG_up" "\"rekor\": {\"public_key\": \"$T/log.pub\"}, \"verify_cache\": {\"failure_ttl\": 0},
 \"policies\": [{\"match\": \"klw/*\", \"verify\": \"warn\",
   \"keyless\": [{\"ca_roots\": \"$T/root.pem\", \"identity\": \"ci@example.com\", \"issuer\": \"$ISS\"}]}]"
image klw/inj --issuer 'https://x.example\r\nX-Injected: yes' >/dev/null
h=$(curl -s -D - -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$PROXY/v2/klw/inj/manifests/1")
expect_match "warn mode: the reason is in Signet-Verification" "$h" 'Signet-Verification: failed;'
check "  and no header was injected" sh -c "! printf '%s' \"\$1\" | grep -qi '^X-Injected'" _ "$h"
expect_match "  the certificate refused for its control bytes" "$h" 'holds a NUL or control byte'

stop_signet
finish
