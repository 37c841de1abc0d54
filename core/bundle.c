/*
 * core/bundle.c: Sigstore bundles (v0.1 to v0.3), the signatures cosign v3
 * writes as OCI 1.1 referrers of an image and `cosign sign-blob --bundle`
 * writes next to a blob (COSIGN-V3.md §1-3, §6).
 *
 * A bundle carries its content, one of:
 *  - a DSSE envelope around an in-toto statement: the signature is over the
 *    PAE of the payload type and the payload; the statement must name the
 *    artifact's sha256 among its subjects and have cosign's signing
 *    predicate type (an attestation such as SLSA provenance says something
 *    else than "signed by": it does not count as a signature here);
 *  - a messageSignature: the signature over the artifact itself, whose
 *    sha256 the bundle repeats (messageDigest), verified against that digest;
 * and the material to check it: a public key hint (the key is the rule's,
 * never the bundle's: the hint is not signed and is not used), or a
 * certificate (keyless signers, as for .sig layers).
 *
 * Transparency log entries (verificationMaterial.tlogEntries):
 *  - Rekor v1 (dsse 0.0.1, hashedrekord 0.0.1): the SET (inclusionPromise,
 *    the same JCS message as a dev.sigstore.cosign/bundle's), the RFC 6962
 *    inclusion proof from the leaf of canonicalizedBody to a root that a
 *    checkpoint signed by the same trusted log names, and the body equal to
 *    this signature, key and payload hash;
 *  - Rekor v2 (hashedrekord 0.0.2): no SET and no integrated time; the proof
 *    and the checkpoint (Ed25519, a signed note) are required, and the body
 *    names the digest that was signed: sha256 of the PAE for DSSE, the
 *    artifact's for a messageSignature.
 * A log is trusted by its key, as for .sig; an entry of another log is
 * skipped.  The integrated time of an entry whose SET verified is the
 * trusted time at which a keyless certificate must have been valid; a
 * bundle with only v2 entries has none (RFC 3161 timestamps are not read),
 * so it cannot carry a keyless signature here.
 *
 * protojson writes int64 as strings and bytes as base64 (URL-safe accepted
 * on reading), fields in lowerCamelCase (the proto names are accepted too).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <mbedtls/base64.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "core.h"

const struct core_json_limits core_json_sgbundle = {
	"Sigstore bundle", CORE_SGBUNDLE_MAX, 8192, 16 };

#define STATEMENT_SUBJECTS_MAX	1024	/* as sigstore-go */
#define SUBJECT_DIGESTS_MAX	32

/* What the signature is over, and who made it. */
struct bsig {
	int		 dsse;		/* else a messageSignature */
	unsigned char	*payload;	/* DSSE: the decoded payload */
	size_t		 plen;
	unsigned char	*pae;		/* DSSE: what was signed */
	size_t		 paelen;
	unsigned char	 digest[32];	/* message: the artifact's sha256 */
	unsigned char	*sig;
	size_t		 siglen;
	unsigned char	*cert;		/* keyless: the leaf's DER, or NULL */
	size_t		 certlen;
	char		*cert_pem, *chain_pem;
	struct core_key	*key;		/* the key the signature verified
					 * under (borrowed from the trust when
					 * keyed, owned when keyless) */
	int		 owned;
};

static int
why(char *reason, size_t rlen, const char *msg)
{
	snprintf(reason, rlen, "%s", msg);
	return -1;
}

/* o[camel], or o[snake] as protojson readers also accept. */
static json_t *
field(const json_t *o, const char *camel, const char *snake)
{
	json_t	*v = json_object_get(o, camel);

	return v != NULL || snake == NULL ? v : json_object_get(o, snake);
}

/* protojson bytes, decoded (standard or URL-safe base64, padding
 * optional); NULL when absent or malformed.  The caller frees. */
static unsigned char *
b64str(const char *s, size_t *len)
{
	unsigned char	*out;
	char		*t;
	size_t		 n, i;

	if (s == NULL || *s == '\0' || strlen(s) > CORE_SGBUNDLE_MAX)
		return NULL;
	n = strlen(s);
	t = malloc(n + 4);
	if (t == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (i % 4 != 0)
		t[i++] = '=';
	t[i] = '\0';
	out = core_b64_decode(t, len);
	free(t);
	return out;
}

/* The bytes field o[camel] (or o[snake]). */
static unsigned char *
bytes(const json_t *o, const char *camel, const char *snake, size_t *len)
{
	return b64str(json_string_value(field(o, camel, snake)), len);
}

/* A protojson int64: a decimal string (or a JSON integer), >= 0.  A
 * missing field is 0, as protobuf's default. */
static int
int64(const json_t *o, const char *camel, const char *snake, int64_t *v)
{
	json_t		*j = field(o, camel, snake);
	const char	*s;
	char		*end;
	long long	 n;

	*v = 0;
	if (j == NULL)
		return 0;
	if (json_is_integer(j)) {
		*v = (int64_t)json_integer_value(j);
		return *v < 0 ? -1 : 0;
	}
	s = json_string_value(j);
	if (s == NULL || *s < '0' || *s > '9' || strlen(s) > 19)
		return -1;
	n = strtoll(s, &end, 10);
	if (*end != '\0' || n < 0)
		return -1;
	*v = (int64_t)n;
	return 0;
}


static void
hex(const unsigned char *in, size_t len, char *out)
{
	size_t	i;

	for (i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* The bundle's version from its media type: 1 to 3, or -1. */
static int
bundle_version(const char *mt)
{
	if (mt == NULL)
		return -1;
	if (strcmp(mt, CORE_MT_SGBUNDLE_V03) == 0 ||
	    strcmp(mt, "application/vnd.dev.sigstore.bundle+json;version=0.3")
	    == 0)
		return 3;
	if (strcmp(mt, "application/vnd.dev.sigstore.bundle+json;version=0.2")
	    == 0)
		return 2;
	if (strcmp(mt, "application/vnd.dev.sigstore.bundle+json;version=0.1")
	    == 0)
		return 1;
	return -1;
}

/* A certificate's DER as PEM, for core_cert_check. */
static char *
der_to_pem(const unsigned char *der, size_t len)
{
	size_t	 n = len * 2 + 128, olen;
	char	*pem = malloc(n);

	if (pem != NULL && mbedtls_pem_write_buffer(
	    "-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n",
	    der, len, (unsigned char *)pem, n, &olen) != 0) {
		free(pem);
		return NULL;
	}
	return pem;
}


/* PEM text (a key or a certificate) names the same key as k. */
static int
pem_is_key(const char *pem, size_t len, const struct core_key *k)
{
	struct core_key	*o;
	char		 err[64];
	int		 same;

	if (memmem(pem, len, "BEGIN CERTIFICATE", 17) != NULL)
		o = core_cert_key(pem, len);
	else
		o = core_key_load_public_pem(pem, len, "entry key", err,
		    sizeof(err));
	same = o != NULL && strcmp(core_key_fingerprint(o),
	    core_key_fingerprint(k)) == 0;
	core_key_free(o);
	return same;
}

/* A subject's name is the repository want_ref, bare or with a tag or
 * digest after it. */
static int
name_is(const char *name, const char *want_ref)
{
	size_t	n = strlen(want_ref);

	return strncmp(name, want_ref, n) == 0 && (name[n] == '\0' ||
	    name[n] == ':' || name[n] == '@');
}

/*
 * The in-toto statement names the artifact and is cosign's signature.
 * cosign v3 writes subjects without a name; a subject that has one must,
 * when the rule checks the repository (want_ref), name this one.
 */
static int
statement_check(const unsigned char *p, size_t len, const char *digest,
    const char *want_ref, char *reason, size_t rlen)
{
	json_t		*o, *subj, *s, *d;
	const char	*type, *pred, *v, *name;
	char		 err[160], other[210] = "";
	size_t		 i;
	int		 rc = -1, found = 0;

	o = core_json_load((const char *)p, len, &core_json_payload, err,
	    sizeof(err));
	if (!json_is_object(o)) {
		snprintf(reason, rlen, "the DSSE payload is not a statement "
		    "(%s)", o == NULL ? err : "not an object");
		goto done;
	}
	type = json_string_value(json_object_get(o, "_type"));
	pred = json_string_value(json_object_get(o, "predicateType"));
	subj = json_object_get(o, "subject");
	if (type == NULL || (strcmp(type, CORE_INTOTO_V1) != 0 &&
	    strcmp(type, CORE_INTOTO_V01) != 0)) {
		why(reason, rlen, "the DSSE payload is not an in-toto "
		    "statement");
		goto done;
	}
	if (pred == NULL || strcmp(pred, CORE_PRED_COSIGN_SIGN) != 0) {
		snprintf(reason, rlen, "the statement's predicateType is "
		    "%.100s, not cosign's signature (%s)", pred != NULL ? pred :
		    "absent", CORE_PRED_COSIGN_SIGN);
		goto done;
	}
	if (!json_is_array(subj) || json_array_size(subj) == 0 ||
	    json_array_size(subj) > STATEMENT_SUBJECTS_MAX) {
		why(reason, rlen, "the statement has no usable subject list");
		goto done;
	}
	json_array_foreach(subj, i, s) {
		d = json_object_get(s, "digest");
		if (!json_is_object(d) ||
		    json_object_size(d) > SUBJECT_DIGESTS_MAX) {
			why(reason, rlen, "a statement subject has no usable "
			    "digest");
			goto done;
		}
		v = json_string_value(json_object_get(d, "sha256"));
		if (v == NULL || strlen(v) != 64 ||
		    strcasecmp(v, digest + 7) != 0)
			continue;
		name = json_string_value(json_object_get(s, "name"));
		if (want_ref != NULL && name != NULL && *name != '\0' &&
		    !name_is(name, want_ref)) {
			snprintf(other, sizeof(other), "%.200s", name);
			continue;
		}
		found = 1;
	}
	if (!found && other[0] != '\0') {
		snprintf(reason, rlen, "the statement names %s, not %.200s",
		    other, want_ref);
		goto done;
	}
	if (!found) {
		snprintf(reason, rlen, "the statement does not name %s", digest);
		goto done;
	}
	rc = 0;
done:
	json_decref(o);
	return rc;
}

/* The bundle's content: what was signed, and the signature. */
static int
read_content(const json_t *b, const char *digest, const char *want_ref,
    struct bsig *s, char *reason, size_t rlen)
{
	json_t		*env, *msg, *sigs, *md;
	const char	*ptype, *alg;
	unsigned char	 want[32], *d;
	size_t		 dlen;
	int		 n;

	env = field(b, "dsseEnvelope", "dsse_envelope");
	msg = field(b, "messageSignature", "message_signature");
	if ((env != NULL) == (msg != NULL))
		return why(reason, rlen, "the bundle has neither or both of a "
		    "DSSE envelope and a message signature");
	if (core_hex_decode(digest + 7, want, sizeof(want)) != 32)
		return why(reason, rlen, "the artifact digest is not sha256");
	if (msg != NULL) {
		md = field(msg, "messageDigest", "message_digest");
		alg = json_string_value(json_object_get(md, "algorithm"));
		d = bytes(md, "digest", NULL, &dlen);
		s->sig = bytes(msg, "signature", NULL, &s->siglen);
		if (alg == NULL || strcmp(alg, "SHA2_256") != 0 || d == NULL ||
		    dlen != 32 || s->sig == NULL) {
			free(d);
			return why(reason, rlen, "the message signature is "
			    "malformed (a SHA2_256 digest and a signature)");
		}
		n = memcmp(d, want, 32);
		free(d);
		if (n != 0)
			return why(reason, rlen, "the message signature is for "
			    "another artifact");
		memcpy(s->digest, want, 32);
		return 0;
	}
	s->dsse = 1;
	ptype = json_string_value(field(env, "payloadType", "payload_type"));
	sigs = json_object_get(env, "signatures");
	s->payload = bytes(env, "payload", NULL, &s->plen);
	if (ptype == NULL || s->payload == NULL || !json_is_array(sigs))
		return why(reason, rlen, "the DSSE envelope is malformed");
	if (json_array_size(sigs) != 1)
		return why(reason, rlen, "the DSSE envelope must have exactly "
		    "one signature");
	s->sig = bytes(json_array_get(sigs, 0), "sig", NULL, &s->siglen);
	if (s->sig == NULL)
		return why(reason, rlen, "the DSSE signature is not base64");
	if (strcmp(ptype, CORE_MT_INTOTO) != 0)
		return why(reason, rlen, "the DSSE payload type is not in-toto");
	/* PAE: "DSSEv1" SP len(type) SP type SP len(payload) SP payload */
	s->pae = malloc(s->plen + strlen(ptype) + 64);
	if (s->pae == NULL)
		return why(reason, rlen, "out of memory");
	n = snprintf((char *)s->pae, strlen(ptype) + 64, "DSSEv1 %zu %s %zu ",
	    strlen(ptype), ptype, s->plen);
	memcpy(s->pae + n, s->payload, s->plen);
	s->paelen = (size_t)n + s->plen;
	mbedtls_sha256_ret(s->pae, s->paelen, s->digest, 0);
	return statement_check(s->payload, s->plen, digest, want_ref, reason,
	    rlen);
}

static int
sig_verifies(const struct bsig *s, struct core_key *k)
{
	if (s->dsse)
		return core_key_verify(k, s->pae, s->paelen, s->sig, s->siglen);
	return core_key_verify_digest(k, s->digest, s->sig, s->siglen);
}

/* The signer's material: a trusted key that verifies the signature, or a
 * certificate whose key does (the certificate itself is checked later, at
 * the log's time). */
static int
read_material(const struct core_trust *t, const json_t *vm, int version,
    struct bsig *s, char *reason, size_t rlen)
{
	json_t		*pk, *cert, *chain, *c;
	unsigned char	*der;
	size_t		 i, len, total = 0;
	char		*pem, *all;

	pk = field(vm, "publicKey", "public_key");
	cert = json_object_get(vm, "certificate");
	chain = field(vm, "x509CertificateChain", "x509_certificate_chain");
	if ((pk != NULL) + (cert != NULL) + (chain != NULL) != 1)
		return why(reason, rlen, "the bundle must carry exactly one of "
		    "a public key, a certificate and a certificate chain");
	if (pk != NULL) {
		for (i = 0; i < t->nkeys; i++)
			if (!core_key_is_ed25519(t->keys[i]) &&
			    sig_verifies(s, t->keys[i]) == 0) {
				s->key = t->keys[i];
				return 0;
			}
		return why(reason, rlen, "not signed by a trusted key");
	}
	if (chain != NULL && version >= 3)
		return why(reason, rlen, "a v0.3 bundle must not carry a "
		    "certificate chain");
	if (cert != NULL)
		s->cert = bytes(cert, "rawBytes", "raw_bytes", &s->certlen);
	else {
		c = json_object_get(chain, "certificates");
		if (!json_is_array(c) || json_array_size(c) == 0 ||
		    json_array_size(c) > 10)
			return why(reason, rlen, "the certificate chain is "
			    "malformed");
		s->cert = bytes(json_array_get(c, 0), "rawBytes", "raw_bytes",
		    &s->certlen);
		/* the rest of the chain, as PEM, for core_cert_check */
		for (i = 1; i < json_array_size(c); i++) {
			der = bytes(json_array_get(c, i), "rawBytes",
			    "raw_bytes", &len);
			pem = der != NULL ? der_to_pem(der, len) : NULL;
			free(der);
			if (pem == NULL)
				return why(reason, rlen, "a chain certificate is "
				    "malformed");
			all = realloc(s->chain_pem, total + strlen(pem) + 1);
			if (all == NULL) {
				free(pem);
				return why(reason, rlen, "out of memory");
			}
			memcpy(all + total, pem, strlen(pem) + 1);
			total += strlen(pem);
			s->chain_pem = all;
			free(pem);
		}
	}
	if (s->cert != NULL) {
		s->cert_pem = der_to_pem(s->cert, s->certlen);
		s->key = core_cert_key(s->cert, s->certlen);
	}
	if (s->cert_pem == NULL || s->key == NULL)
		return why(reason, rlen, "the bundle's certificate is "
		    "malformed");
	s->owned = 1;
	if (t->nkeyless == 0)
		return why(reason, rlen, "signed with a certificate, and the "
		    "rule trusts no keyless signer");
	if (sig_verifies(s, s->key) != 0)
		return why(reason, rlen, "signature does not verify under the "
		    "certificate's key");
	return 0;
}

/* A Rekor v1 entry's body (JSON) names this signature. */
static int
body_v1(const json_t *o, const char *kind, const struct bsig *s,
    char *reason, size_t rlen)
{
	json_t		*spec = json_object_get(o, "spec"), *sigs, *e;
	const char	*alg, *value;
	unsigned char	*pem, *sig;
	char		 want[65];
	size_t		 i, len, slen;
	int		 ok = 0;

	if (strcmp(kind, "hashedrekord") == 0) {
		if (s->dsse)
			return why(reason, rlen, "a hashedrekord v0.0.1 entry "
			    "for a DSSE bundle");
		alg = json_string_value(json_object_get(json_object_get(
		    json_object_get(spec, "data"), "hash"), "algorithm"));
		value = json_string_value(json_object_get(json_object_get(
		    json_object_get(spec, "data"), "hash"), "value"));
		hex(s->digest, 32, want);
		if (alg == NULL || value == NULL || strcmp(alg, "sha256") != 0 ||
		    strcmp(value, want) != 0)
			return why(reason, rlen, "the Rekor entry is for another "
			    "artifact");
		sig = bytes(json_object_get(spec, "signature"), "content", NULL,
		    &slen);
		pem = bytes(json_object_get(json_object_get(spec, "signature"),
		    "publicKey"), "content", NULL, &len);
		ok = sig != NULL && slen == s->siglen &&
		    memcmp(sig, s->sig, slen) == 0;
		free(sig);
		if (!ok) {
			free(pem);
			return why(reason, rlen, "the Rekor entry holds another "
			    "signature");
		}
		ok = pem != NULL && pem_is_key((char *)pem, len, s->key);
		free(pem);
		return ok ? 0 : why(reason, rlen, "the Rekor entry holds "
		    "another public key");
	}
	/* dsse 0.0.1: payloadHash and the signatures with their verifiers
	 * (envelopeHash is not checked: it covers the envelope's JSON form) */
	if (!s->dsse)
		return why(reason, rlen, "a dsse entry for a message signature");
	alg = json_string_value(json_object_get(json_object_get(spec,
	    "payloadHash"), "algorithm"));
	value = json_string_value(json_object_get(json_object_get(spec,
	    "payloadHash"), "value"));
	core_sha256_hex(s->payload, s->plen, want);
	if (alg == NULL || value == NULL || strcmp(alg, "sha256") != 0 ||
	    strcmp(value, want) != 0)
		return why(reason, rlen, "the Rekor entry is for another "
		    "payload");
	sigs = json_object_get(spec, "signatures");
	if (!json_is_array(sigs) || json_array_size(sigs) != 1)
		return why(reason, rlen, "the Rekor entry must hold exactly "
		    "one signature");
	json_array_foreach(sigs, i, e) {
		sig = bytes(e, "signature", NULL, &slen);
		pem = bytes(e, "verifier", NULL, &len);
		ok = sig != NULL && pem != NULL && slen == s->siglen &&
		    memcmp(sig, s->sig, slen) == 0 &&
		    pem_is_key((char *)pem, len, s->key);
		free(sig);
		free(pem);
	}
	return ok ? 0 : why(reason, rlen, "the Rekor entry holds another "
	    "signature or key");
}

/* A Rekor v2 hashedrekord 0.0.2 body names this signature. */
static int
body_v2(const json_t *o, const struct bsig *s, char *reason, size_t rlen)
{
	json_t		*h, *v;
	const char	*alg;
	unsigned char	*d, *sig, *raw;
	struct core_key	*k;
	char		 fp[65];
	size_t		 dlen, slen, len;
	int		 ok, cert;

	h = field(json_object_get(o, "spec"), "hashedRekordV002",
	    "hashed_rekord_v002");
	alg = json_string_value(json_object_get(json_object_get(h, "data"),
	    "algorithm"));
	d = bytes(json_object_get(h, "data"), "digest", NULL, &dlen);
	ok = alg != NULL && strcmp(alg, "SHA2_256") == 0 && d != NULL &&
	    dlen == 32 && memcmp(d, s->digest, 32) == 0;
	free(d);
	if (!ok)
		return why(reason, rlen, "the Rekor entry is for another "
		    "digest");
	sig = bytes(json_object_get(h, "signature"), "content", NULL, &slen);
	ok = sig != NULL && slen == s->siglen && memcmp(sig, s->sig, slen) == 0;
	free(sig);
	if (!ok)
		return why(reason, rlen, "the Rekor entry holds another "
		    "signature");
	v = json_object_get(json_object_get(h, "signature"), "verifier");
	raw = bytes(field(v, "publicKey", "public_key"), "rawBytes",
	    "raw_bytes", &len);
	cert = raw == NULL;
	if (cert)
		raw = bytes(field(v, "x509Certificate", "x509_certificate"),
		    "rawBytes", "raw_bytes", &len);
	if (raw != NULL && !cert) {
		core_sha256_hex(raw, len, fp);
		ok = strcmp(fp, core_key_fingerprint(s->key)) == 0;
	} else if (raw != NULL) {
		k = core_cert_key(raw, len);
		ok = k != NULL && strcmp(core_key_fingerprint(k),
		    core_key_fingerprint(s->key)) == 0;
		core_key_free(k);
	} else
		ok = 0;
	free(raw);
	return ok ? 0 : why(reason, rlen, "the Rekor entry holds another "
	    "public key");
}

/* The inclusion proof: body's leaf, in the tree a checkpoint signed by a
 * trusted log names. */
static int
proof_check(const struct core_trust *t, const json_t *p,
    const unsigned char *body, size_t blen, struct core_checkpoint *cp,
    char *reason, size_t rlen)
{
	unsigned char	 (*hashes)[32], *root, *h;
	const char	*env;
	json_t		*a;
	int64_t		 index, size;
	size_t		 i, n, len;
	int		 rc = -1;

	a = json_object_get(p, "hashes");
	env = json_string_value(json_object_get(json_object_get(p,
	    "checkpoint"), "envelope"));
	if (p == NULL || int64(p, "logIndex", "log_index", &index) == -1 ||
	    int64(p, "treeSize", "tree_size", &size) == -1 || env == NULL ||
	    (a != NULL && !json_is_array(a)) || json_array_size(a) > 64)
		return why(reason, rlen, "the inclusion proof is malformed");
	root = bytes(p, "rootHash", "root_hash", &len);
	if (root == NULL || len != 32) {
		free(root);
		return why(reason, rlen, "the inclusion proof's root is not 32 "
		    "bytes");
	}
	n = json_array_size(a);
	hashes = calloc(n + 1, sizeof(*hashes));
	if (hashes == NULL)
		goto done;
	for (i = 0; i < n; i++) {
		h = b64str(json_string_value(json_array_get(a, i)), &len);
		if (h == NULL || len != 32) {
			free(h);
			why(reason, rlen, "an inclusion proof hash is not 32 "
			    "bytes");
			goto done;
		}
		memcpy(hashes[i], h, 32);
		free(h);
	}
	rc = core_merkle_check_proof(t->rekor, t->nrekor, body, blen,
	    (uint64_t)index, (uint64_t)size,
	    (const unsigned char (*)[32])hashes, n, root, env, cp, reason,
	    rlen);
done:
	free(hashes);
	free(root);
	return rc;
}

/*
 * One tlog entry.  0 when it verified (*at gets the integrated time when
 * its SET verified, else stays), 1 when it belongs to a log the rule does
 * not trust (skipped), -1 when it is wrong.
 */
static int
entry_check(const struct core_trust *t, const json_t *e, int version,
    const struct bsig *s, time_t *at, char **legacy, char *reason,
    size_t rlen)
{
	json_t		*kv, *o = NULL, *promise, *proof, *lb;
	const char	*kind, *ver, *bkind, *bver;
	unsigned char	*keyid = NULL, *body = NULL, *set = NULL;
	char		 logid[65], *msg = NULL, *body64 = NULL, *set64 = NULL;
	int64_t		 index, itime;
	size_t		 len, blen = 0, slen, i;
	struct core_checkpoint cp;
	int		 rc = -1, v2, n;

	kv = field(e, "kindVersion", "kind_version");
	kind = json_string_value(json_object_get(kv, "kind"));
	ver = json_string_value(json_object_get(kv, "version"));
	keyid = bytes(field(e, "logId", "log_id"), "keyId", "key_id", &len);
	body = bytes(e, "canonicalizedBody", "canonicalized_body", &blen);
	if (kind == NULL || ver == NULL || keyid == NULL || len != 32 ||
	    body == NULL || int64(e, "logIndex", "log_index", &index) == -1 ||
	    int64(e, "integratedTime", "integrated_time", &itime) == -1) {
		why(reason, rlen, "a transparency log entry is malformed");
		goto done;
	}
	hex(keyid, 32, logid);
	v2 = strcmp(kind, "hashedrekord") == 0 && strcmp(ver, "0.0.2") == 0;
	if (!v2 && !((strcmp(kind, "hashedrekord") == 0 ||
	    strcmp(kind, "dsse") == 0) && strcmp(ver, "0.0.1") == 0)) {
		snprintf(reason, rlen, "a transparency log entry of kind "
		    "%.40s %.20s, which signet does not check", kind, ver);
		goto done;
	}
	/* the log, by its key: v1 names it by logID; a v2 log's checkpoint
	 * is matched against every trusted key below */
	for (i = 0; i < t->nrekor; i++)
		if (strcmp(core_key_fingerprint(t->rekor[i]), logid) == 0)
			break;
	if (!v2 && i == t->nrekor) {
		rc = 1;
		goto done;
	}
	o = core_json_parse((const char *)body, blen, &core_json_payload);
	bkind = json_string_value(json_object_get(o, "kind"));
	bver = json_string_value(json_object_get(o, "apiVersion"));
	if (bkind == NULL || bver == NULL || strcmp(bkind, kind) != 0 ||
	    strcmp(bver, ver) != 0) {
		why(reason, rlen, "a transparency log entry's body is not of "
		    "its kind and version");
		goto done;
	}
	if ((v2 ? body_v2(o, s, reason, rlen) : body_v1(o, kind, s, reason,
	    rlen)) == -1)
		goto done;
	promise = field(e, "inclusionPromise", "inclusion_promise");
	proof = field(e, "inclusionProof", "inclusion_proof");
	if (v2 && (proof == NULL || promise != NULL)) {
		why(reason, rlen, "a Rekor v2 entry needs an inclusion proof "
		    "and has no SET");
		goto done;
	}
	if (!v2 && proof == NULL && (version >= 2 || promise == NULL)) {
		why(reason, rlen, "a Rekor entry without an inclusion proof");
		goto done;
	}
	if (proof != NULL && proof_check(t, proof, body, blen, &cp, reason,
	    rlen) == -1)
		goto done;
	if (!v2 && proof != NULL && strcmp(core_key_fingerprint(
	    t->rekor[cp.key]), logid) != 0) {
		why(reason, rlen, "the checkpoint is signed by another log than "
		    "the entry's");
		goto done;
	}
	if (promise != NULL) {
		/* the SET: the JCS of body, integratedTime, logID, logIndex */
		set = bytes(promise, "signedEntryTimestamp",
		    "signed_entry_timestamp", &slen);
		body64 = core_b64_encode(body, blen);
		n = body64 == NULL ? -1 : asprintf(&msg, "{\"body\":\"%s\","
		    "\"integratedTime\":%lld,\"logID\":\"%s\",\"logIndex\":"
		    "%lld}", body64, (long long)itime, logid, (long long)index);
		if (set == NULL || n < 0 || core_key_verify(t->rekor[i], msg,
		    (size_t)n, set, slen) != 0) {
			why(reason, rlen, "the Rekor SET does not verify under "
			    "the log's key");
			goto done;
		}
		*at = (time_t)itime;
		/* the entry as a dev.sigstore.cosign/bundle, for `rekor:
		 * online` (the log is asked for it as for a .sig layer) */
		set64 = core_b64_encode(set, slen);
		lb = set64 == NULL ? NULL : json_pack("{s:s, s:{s:s, s:I, s:I, "
		    "s:s}}", "SignedEntryTimestamp", set64, "Payload", "body",
		    body64, "integratedTime", (json_int_t)itime, "logIndex",
		    (json_int_t)index, "logID", logid);
		if (*legacy == NULL && lb != NULL)
			*legacy = json_dumps(lb, JSON_COMPACT |
			    JSON_PRESERVE_ORDER);
		json_decref(lb);
	}
	rc = 0;
done:
	json_decref(o);
	free(keyid);
	free(body);
	free(set);
	free(msg);
	free(body64);
	free(set64);
	return rc;
}

static void
bsig_free(struct bsig *s)
{
	free(s->payload);
	free(s->pae);
	free(s->sig);
	free(s->cert);
	free(s->cert_pem);
	free(s->chain_pem);
	if (s->owned)
		core_key_free(s->key);
}

int
core_bundle_verify(const struct core_trust *t, const char *digest,
    const char *bundle, size_t len, int online, struct core_bundle_ok *ok,
    char *reason, size_t rlen)
{
	struct core_cert_identity	 id;
	struct core_key			*ck;
	struct bsig			 s;
	json_t				*b, *vm, *tl;
	char				 err[300], why_[300] = "";
	time_t				 at = (time_t)-1;
	size_t				 i;
	int				 version, verified = 0, n, rc = -1;

	memset(ok, 0, sizeof(*ok));
	memset(&s, 0, sizeof(s));
	if (rlen > 0)
		reason[0] = '\0';
	if (!core_digest_valid(digest, strlen(digest)) ||
	    strncmp(digest, "sha256:", 7) != 0)
		return why(reason, rlen, "the artifact digest is not sha256");
	b = core_json_load(bundle, len, &core_json_sgbundle, err, sizeof(err));
	if (!json_is_object(b)) {
		snprintf(reason, rlen, "not a Sigstore bundle: %s", b == NULL ?
		    err : "not an object");
		goto done;
	}
	version = bundle_version(json_string_value(json_object_get(b,
	    "mediaType")));
	if (version < 0) {
		snprintf(reason, rlen, "not a Sigstore bundle v0.1 to v0.3 "
		    "(mediaType %.100s)", json_string_value(json_object_get(b,
		    "mediaType")) != NULL ? json_string_value(json_object_get(b,
		    "mediaType")) : "absent");
		goto done;
	}
	vm = field(b, "verificationMaterial", "verification_material");
	if (!json_is_object(vm)) {
		why(reason, rlen, "the bundle has no verification material");
		goto done;
	}
	if (read_content(b, digest, t->want_ref, &s, reason, rlen) == -1 ||
	    read_material(t, vm, version, &s, reason, rlen) == -1)
		goto done;
	tl = field(vm, "tlogEntries", "tlog_entries");
	if (tl != NULL && (!json_is_array(tl) ||
	    json_array_size(tl) > CORE_BUNDLE_TLOG_MAX)) {
		why(reason, rlen, "the bundle's transparency log entries are "
		    "malformed or too many");
		goto done;
	}
	/* the log is checked when the rule asks for it, and always for a
	 * certificate: it gives the time at which the certificate was valid */
	if (t->rekor_required || online || s.cert != NULL) {
		for (i = 0; i < json_array_size(tl); i++) {
			int	r;

			r = entry_check(t, json_array_get(tl, i), version, &s,
			    &at, &ok->rekor, why_, sizeof(why_));
			if (r == -1) {
				snprintf(reason, rlen, "%s", why_);
				goto done;
			}
			if (r == 0)
				verified++;
		}
		if (verified == 0) {
			snprintf(reason, rlen, "Rekor entry missing: no entry "
			    "from a trusted log%s%s", why_[0] ? ": " : "", why_);
			goto done;
		}
		if (online && ok->rekor == NULL) {
			why(reason, rlen, "rekor: online needs a Rekor v1 entry "
			    "with a SET (a Rekor v2 log has no entry lookup)");
			goto done;
		}
	}
	/* what was signed, for the caller to show: the statement, or the
	 * artifact's digest */
	if (s.dsse) {
		ok->payload = (char *)s.payload;
		ok->plen = s.plen;
		s.payload = NULL;
	} else {
		n = asprintf(&ok->payload, "{\"messageDigest\":\"%s\"}",
		    digest);
		if (n < 0) {
			why(reason, rlen, "out of memory");
			ok->payload = NULL;
			goto done;
		}
		ok->plen = (size_t)n;
	}
	if (s.cert == NULL) {
		snprintf(ok->signer, sizeof(ok->signer), "%s",
		    core_key_fingerprint(s.key));
		rc = 0;
		goto done;
	}
	if (at == (time_t)-1) {
		why(reason, rlen, "a certificate signature needs a trusted time: "
		    "a Rekor v1 entry with a SET");
		goto done;
	}
	for (i = 0; i < t->nkeyless; i++) {
		if (core_cert_check(&t->keyless[i], s.cert_pem, s.chain_pem, at,
		    &id, &ck, why_, sizeof(why_)) == -1)
			continue;
		/* the certificate's key is the one that signed */
		if (strcmp(core_key_fingerprint(ck),
		    core_key_fingerprint(s.key)) != 0) {
			core_key_free(ck);
			continue;
		}
		core_key_free(ck);
		snprintf(ok->signer, sizeof(ok->signer), "keyless:%s",
		    id.subject);
		rc = 0;
		goto done;
	}
	snprintf(reason, rlen, "%s", why_[0] ? why_ :
	    "no keyless signer matches");
done:
	if (rc == -1) {
		free(ok->rekor);
		free(ok->payload);
		ok->rekor = NULL;
		ok->payload = NULL;
	}
	core_ascii(reason);
	bsig_free(&s);
	json_decref(b);
	return rc;
}

/* Making bundles: what signet writes when a rule's signature_format asks
 * for cosign v3's layout. */

char *
core_bundle_statement(const char *digest, size_t *len)
{
	json_t	*o;
	char	*s;

	if (!core_digest_valid(digest, strlen(digest)) ||
	    strncmp(digest, "sha256:", 7) != 0)
		return NULL;
	/* as cosign 3.0.5 and later: no subject name, an empty predicate */
	o = json_pack("{s:s, s:[{s:{s:s}}], s:s, s:{}}", "_type",
	    CORE_INTOTO_V1, "subject", "digest", "sha256", digest + 7,
	    "predicateType", CORE_PRED_COSIGN_SIGN, "predicate");
	s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) :
	    NULL;
	json_decref(o);
	if (s != NULL)
		*len = strlen(s);
	return s;
}

char *
core_dsse_sign(struct core_key *key, const char *payload, size_t plen,
    char *err, size_t errlen)
{
	unsigned char	 sig[CORE_SIG_MAX];
	char		*pae, *grown;
	size_t		 slen;
	int		 n;

	n = asprintf(&pae, "DSSEv1 %zu %s %zu ", strlen(CORE_MT_INTOTO),
	    CORE_MT_INTOTO, plen);
	if (n < 0) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	grown = realloc(pae, (size_t)n + plen);
	if (grown == NULL) {
		free(pae);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pae = grown;
	memcpy(pae + n, payload, plen);
	if (core_key_sign(key, pae, (size_t)n + plen, sig, &slen, err,
	    errlen) == -1) {
		free(pae);
		return NULL;
	}
	free(pae);
	return core_b64_encode(sig, slen);
}

/* The DSSE envelope as JSON (borrowed strings copied in). */
static json_t *
envelope(const char *payload, size_t plen, const char *sig64)
{
	char	*p64 = core_b64_encode(payload, plen);
	json_t	*o;

	if (p64 == NULL)
		return NULL;
	o = json_pack("{s:s, s:s, s:[{s:s}]}", "payload", p64, "payloadType",
	    CORE_MT_INTOTO, "signatures", "sig", sig64);
	free(p64);
	return o;
}

char *
core_rekor_dsse_entry(const char *payload, size_t plen, const char *sig64,
    const struct core_key *signer)
{
	char	 pem[2048], *pem64, *env, *out = NULL;
	json_t	*e, *o;

	if (core_key_public_pem(signer, pem, sizeof(pem)) == -1)
		return NULL;
	e = envelope(payload, plen, sig64);
	env = e != NULL ? json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER) :
	    NULL;
	json_decref(e);
	pem64 = core_b64_encode(pem, strlen(pem));
	o = env != NULL && pem64 != NULL ? json_pack("{s:s, s:s, "
	    "s:{s:{s:s, s:[s]}}}", "apiVersion", "0.0.1", "kind", "dsse",
	    "spec", "proposedContent", "envelope", env, "verifiers", pem64) :
	    NULL;
	if (o != NULL)
		out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	free(env);
	free(pem64);
	return out;
}

/* Lower-case hex to base64, for the answer's hashes and IDs. */
static char *
hex_b64(const char *hex)
{
	unsigned char	b[64];
	int		n;

	if (hex == NULL || strlen(hex) > 128)
		return NULL;
	n = core_hex_decode(hex, b, sizeof(b));
	return n <= 0 ? NULL : core_b64_encode(b, (size_t)n);
}

/*
 * A Rekor v1 answer (201, or the GET of an entry) as a bundle's tlog entry:
 * the same facts in protojson's shapes (strings for int64, base64 for
 * bytes).  NULL when the answer lacks a part; it is checked afterwards,
 * inside the bundle, by core_bundle_verify.
 */
static json_t *
tlog_from_answer(const char *resp, size_t len)
{
	json_t		*o, *e, *ver, *p, *hs, *h, *t = NULL, *ha;
	const char	*body64, *set, *logid, *kind, *ver_s;
	unsigned char	*body;
	char		*keyid = NULL, *root = NULL, *hb, num[3][24];
	json_t		*b = NULL;
	size_t		 i, blen;

	o = core_json_parse(resp, len, &core_json_log);
	e = json_is_object(o) && json_object_size(o) == 1 ?
	    json_object_iter_value(json_object_iter(o)) : NULL;
	ver = json_object_get(e, "verification");
	p = json_object_get(ver, "inclusionProof");
	hs = json_object_get(p, "hashes");
	body64 = json_string_value(json_object_get(e, "body"));
	set = json_string_value(json_object_get(ver, "signedEntryTimestamp"));
	logid = json_string_value(json_object_get(e, "logID"));
	body = body64 != NULL ? core_b64_decode(body64, &blen) : NULL;
	if (body != NULL)
		b = core_json_parse((const char *)body, blen, &core_json_payload);
	free(body);
	kind = json_string_value(json_object_get(b, "kind"));
	ver_s = json_string_value(json_object_get(b, "apiVersion"));
	keyid = hex_b64(logid);
	root = hex_b64(json_string_value(json_object_get(p, "rootHash")));
	if (set == NULL || kind == NULL || ver_s == NULL || keyid == NULL ||
	    root == NULL || !json_is_integer(json_object_get(e, "logIndex")) ||
	    !json_is_integer(json_object_get(e, "integratedTime")) ||
	    !json_is_integer(json_object_get(p, "logIndex")) ||
	    !json_is_integer(json_object_get(p, "treeSize")) ||
	    !json_is_string(json_object_get(p, "checkpoint")) ||
	    !json_is_array(hs))
		goto done;
	ha = json_array();
	json_array_foreach(hs, i, h) {
		hb = hex_b64(json_string_value(h));
		if (hb == NULL || ha == NULL) {
			free(hb);
			json_decref(ha);
			goto done;
		}
		json_array_append_new(ha, json_string(hb));
		free(hb);
	}
	snprintf(num[0], sizeof(num[0]), "%lld", (long long)
	    json_integer_value(json_object_get(e, "logIndex")));
	snprintf(num[1], sizeof(num[1]), "%lld", (long long)
	    json_integer_value(json_object_get(e, "integratedTime")));
	snprintf(num[2], sizeof(num[2]), "%lld", (long long)
	    json_integer_value(json_object_get(p, "logIndex")));
	t = json_pack("{s:s, s:{s:s}, s:{s:s, s:s}, s:s, s:{s:s}, "
	    "s:{s:s, s:s, s:I, s:o, s:{s:s}}, s:s}",
	    "logIndex", num[0], "logId", "keyId", keyid,
	    "kindVersion", "kind", kind, "version", ver_s,
	    "integratedTime", num[1],
	    "inclusionPromise", "signedEntryTimestamp", set,
	    "inclusionProof", "logIndex", num[2], "rootHash", root,
	    "treeSize", json_integer_value(json_object_get(p, "treeSize")),
	    "hashes", ha, "checkpoint", "envelope",
	    json_string_value(json_object_get(p, "checkpoint")),
	    "canonicalizedBody", body64);
	if (t != NULL) {
		/* treeSize as protojson writes int64: a string */
		snprintf(num[0], sizeof(num[0]), "%lld", (long long)
		    json_integer_value(json_object_get(p, "treeSize")));
		json_object_set_new(json_object_get(t, "inclusionProof"),
		    "treeSize", json_string(num[0]));
	}
done:
	free(keyid);
	free(root);
	json_decref(b);
	json_decref(o);
	return t;
}

char *
core_bundle_assemble(const char *payload, size_t plen, const char *sig64,
    const struct core_key *signer, const char *rekor_answer, size_t alen,
    char *err, size_t errlen)
{
	unsigned char	 h[32];
	json_t		*b, *vm, *t;
	char		*hint = NULL, *out = NULL;

	/* the hint: base64 of the sha256 of the key's DER (the fingerprint) */
	if (core_hex_decode(core_key_fingerprint(signer), h, sizeof(h)) == 32)
		hint = core_b64_encode(h, 32);
	vm = hint != NULL ? json_pack("{s:{s:s}}", "publicKey", "hint", hint) :
	    NULL;
	free(hint);
	if (vm != NULL && rekor_answer != NULL) {
		t = tlog_from_answer(rekor_answer, alen);
		if (t == NULL) {
			snprintf(err, errlen, "the log's answer lacks the parts "
			    "of a bundle entry");
			json_decref(vm);
			return NULL;
		}
		json_object_set_new(vm, "tlogEntries", json_pack("[o]", t));
	}
	b = vm != NULL ? json_pack("{s:s, s:o, s:o}", "mediaType",
	    CORE_MT_SGBUNDLE_V03, "verificationMaterial", vm, "dsseEnvelope",
	    envelope(payload, plen, sig64)) : NULL;
	if (b != NULL)
		out = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(b);
	if (out == NULL)
		snprintf(err, errlen, "out of memory");
	return out;
}

char *
core_referrer_manifest(const char *subject_mt, size_t subject_size,
    const char *subject, const char *bundle_digest, size_t bundle_size,
    const char *created)
{
	json_t	*o;
	char	*s;

	/* as cosign writes it (COSIGN-V3.md §1.3), the artifactType inside
	 * the config descriptor included */
	o = json_pack("{s:i, s:s, s:{s:s, s:i, s:s, s:s}, s:[{s:s, s:I, s:s}], "
	    "s:{s:s, s:s, s:s}, s:{s:s, s:I, s:s}, s:s}",
	    "schemaVersion", 2, "mediaType", CORE_MT_OCI_MANIFEST,
	    "config", "mediaType", CORE_MT_OCI_EMPTY, "size", 2, "digest",
	    CORE_EMPTY_DIGEST, "artifactType", CORE_MT_SGBUNDLE_V03,
	    "layers", "mediaType", CORE_MT_SGBUNDLE_V03, "size",
	    (json_int_t)bundle_size, "digest", bundle_digest,
	    "annotations", "dev.sigstore.bundle.content", "dsse-envelope",
	    CORE_ANN_PREDICATE, CORE_PRED_COSIGN_SIGN,
	    "org.opencontainers.image.created", created,
	    "subject", "mediaType", subject_mt, "size", (json_int_t)subject_size,
	    "digest", subject, "artifactType", CORE_MT_SGBUNDLE_V03);
	s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) :
	    NULL;
	json_decref(o);
	return s;
}

int
core_refindex_add(const char *bytes, size_t len, const char *digest,
    size_t size, const char *artifact_type, char **out, size_t *olen,
    char *err, size_t errlen)
{
	json_t		*o, *m, *d;
	const char	*dg, *mt;
	size_t		 i;
	int		 rc = -1;

	*out = NULL;
	if (bytes == NULL)
		o = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2,
		    "mediaType", CORE_MT_OCI_INDEX, "manifests");
	else
		o = core_json_load(bytes, len, &core_json_manifest, err, errlen);
	m = json_object_get(o, "manifests");
	mt = json_string_value(json_object_get(o, "mediaType"));
	if (!json_is_array(m) || (mt != NULL &&
	    strcmp(mt, CORE_MT_OCI_INDEX) != 0)) {
		if (o != NULL)
			snprintf(err, errlen, "the referrers tag holds no OCI "
			    "index");
		goto done;
	}
	json_array_foreach(m, i, d) {
		dg = json_string_value(json_object_get(d, "digest"));
		if (dg != NULL && strcmp(dg, digest) == 0) {
			rc = 0;		/* there already */
			goto done;
		}
	}
	if (json_array_size(m) >= CORE_REFINDEX_MAX) {
		snprintf(err, errlen, "the referrers index holds %d entries "
		    "already", CORE_REFINDEX_MAX);
		goto done;
	}
	/* appended, then sorted by digest, as go-containerregistry does */
	for (i = 0; i < json_array_size(m); i++) {
		dg = json_string_value(json_object_get(json_array_get(m, i),
		    "digest"));
		if (dg != NULL && strcmp(dg, digest) > 0)
			break;
	}
	if (json_array_insert_new(m, i, json_pack("{s:s, s:s, s:I, s:s}",
	    "mediaType", CORE_MT_OCI_MANIFEST, "digest", digest, "size",
	    (json_int_t)size, "artifactType", artifact_type)) == -1) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (*out == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	*olen = strlen(*out);
	rc = 1;
done:
	json_decref(o);
	return rc;
}

int
core_refindex_has(const char *bytes, size_t len, const char *digest)
{
	json_t		*o, *d;
	const char	*dg;
	size_t		 i;
	int		 found = 0;

	o = core_json_parse(bytes, len, &core_json_manifest);
	json_array_foreach(json_object_get(o, "manifests"), i, d) {
		dg = json_string_value(json_object_get(d, "digest"));
		if (dg != NULL && strcmp(dg, digest) == 0)
			found = 1;
	}
	json_decref(o);
	return found;
}

int
core_rekor_check_dsse_response(struct core_key *const *logs, size_t nlogs,
    const char *resp, size_t len, const char *digest, const char *payload,
    size_t plen, const char *sig64, struct core_key *signer, char **bundle,
    struct core_checkpoint *cp, char *reason, size_t rlen)
{
	struct core_trust	 t;
	struct core_bundle_ok	 ok;
	struct core_key		*keys[1];
	json_t			*o, *e;
	const char		*ck;

	*bundle = core_bundle_assemble(payload, plen, sig64, signer, resp, len,
	    reason, rlen);
	if (*bundle == NULL)
		return -1;
	/* the whole bundle checked as a verifier will check it: SET, body,
	 * inclusion proof, checkpoint, under the configured log keys */
	memset(&t, 0, sizeof(t));
	keys[0] = signer;
	t.keys = keys;
	t.nkeys = 1;
	t.rekor = (struct core_key **)logs;
	t.nrekor = nlogs;
	t.rekor_required = 1;
	if (core_bundle_verify(&t, digest, *bundle, strlen(*bundle), 0, &ok,
	    reason, rlen) == -1)
		goto fail;
	free(ok.payload);
	free(ok.rekor);
	/* the checkpoint, for the one kept per log */
	o = core_json_parse(resp, len, &core_json_log);
	e = json_is_object(o) && json_object_size(o) == 1 ?
	    json_object_iter_value(json_object_iter(o)) : NULL;
	ck = json_string_value(json_object_get(json_object_get(
	    json_object_get(e, "verification"), "inclusionProof"),
	    "checkpoint"));
	if (ck == NULL || core_checkpoint_verify(ck, strlen(ck), logs, nlogs,
	    cp, reason, rlen) == -1) {
		json_decref(o);
		goto fail;
	}
	json_decref(o);
	return 0;
fail:
	free(*bundle);
	*bundle = NULL;
	return -1;
}
