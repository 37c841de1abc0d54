/*
 * Unit tests of core_bundle_verify: a real cosign v3 bundle
 * (tests/vectors/bundles/cosign-v3-keyed), then bundles this test builds
 * with the vectors' keys (a signer key, and the worked example's log key
 * for Rekor v1 entries: SET, a one-leaf inclusion proof, a checkpoint),
 * each tampered in turn.  Bundles made by an independent implementation
 * (the Sigstore project's JavaScript libraries) are checked by the
 * integration test t_bundle.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <mbedtls/base64.h>

#include "core/core.h"
#include "unit.h"

static char vdir[4096];

static struct core_key *
key(const char *rel, int priv)
{
	char		 path[8192], err[256];
	struct core_key	*k;

	snprintf(path, sizeof(path), "%s/%s", vdir, rel);
	k = priv ? core_key_load_private(path, "", err, sizeof(err)) :
	    core_key_load_public(path, err, sizeof(err));
	if (k == NULL) {
		fprintf(stderr, "%s\n", err);
		exit(99);
	}
	return k;
}

static char *
b64(const void *in, size_t len)
{
	size_t	 n = 4 * ((len + 2) / 3) + 1, olen;
	char	*out = malloc(n);

	if (out == NULL || mbedtls_base64_encode((unsigned char *)out, n, &olen,
	    in, len) != 0)
		exit(99);
	return out;
}

static char *
sign64(struct core_key *k, const void *msg, size_t len)
{
	unsigned char	sig[CORE_SIG_MAX];
	size_t		slen;
	char		err[128];

	if (core_key_sign(k, msg, len, sig, &slen, err, sizeof(err)) == -1)
		exit(99);
	return b64(sig, slen);
}

static char *
pem64(const struct core_key *k)
{
	char	pem[2048];

	if (core_key_public_pem(k, pem, sizeof(pem)) == -1)
		exit(99);
	return b64(pem, strlen(pem));
}

static char *
pae(const char *type, const char *payload, size_t *len)
{
	char	*out;
	int	 n;

	n = asprintf(&out, "DSSEv1 %zu %s %zu %s", strlen(type), type,
	    strlen(payload), payload);
	if (n < 0)
		exit(99);
	*len = (size_t)n;
	return out;
}

static char *
statement(const char *hex, const char *pred)
{
	char	*s;

	if (asprintf(&s, "{\"_type\":\"%s\",\"subject\":[{\"name\":\"x\","
	    "\"digest\":{\"sha256\":\"%s\"}}],\"predicateType\":\"%s\","
	    "\"predicate\":{}}", CORE_INTOTO_V1, hex, pred) < 0)
		exit(99);
	return s;
}

/* A Rekor v1 entry for body (JSON text) by the log key, as a bundle's
 * tlogEntries element: SET, one-leaf proof, signed checkpoint. */
static json_t *
tlog_entry(struct core_key *log, const char *kind, const char *body)
{
	unsigned char	 leaf[32], hint[32];
	char		*body64, *set, *msg, *note, *sig, *ckpt, logid64[64];
	char		 root64[64];
	size_t		 olen;
	json_t		*e;

	body64 = b64(body, strlen(body));
	core_hex_decode(core_key_fingerprint(log), hint, 32);
	mbedtls_base64_encode((unsigned char *)logid64, sizeof(logid64), &olen,
	    hint, 32);
	if (asprintf(&msg, "{\"body\":\"%s\",\"integratedTime\":1700000000,"
	    "\"logID\":\"%s\",\"logIndex\":7}", body64,
	    core_key_fingerprint(log)) < 0)
		exit(99);
	set = sign64(log, msg, strlen(msg));
	core_merkle_leaf(body, strlen(body), leaf);
	mbedtls_base64_encode((unsigned char *)root64, sizeof(root64), &olen,
	    leaf, 32);
	if (asprintf(&note, "test.log - 1\n1\n%s\n", root64) < 0)
		exit(99);
	{
		unsigned char	raw[4 + CORE_SIG_MAX];
		size_t		slen;
		char		err[64];

		memcpy(raw, hint, 4);
		if (core_key_sign(log, note, strlen(note), raw + 4, &slen, err,
		    sizeof(err)) == -1)
			exit(99);
		sig = b64(raw, 4 + slen);
	}
	if (asprintf(&ckpt, "%s\n\xe2\x80\x94 test.log %s\n", note, sig) < 0)
		exit(99);
	e = json_pack("{s:s, s:{s:s}, s:{s:s, s:s}, s:s, s:{s:s}, "
	    "s:{s:s, s:s, s:s, s:[], s:{s:s}}, s:s}",
	    "logIndex", "7", "logId", "keyId", logid64,
	    "kindVersion", "kind", kind, "version", "0.0.1",
	    "integratedTime", "1700000000",
	    "inclusionPromise", "signedEntryTimestamp", set,
	    "inclusionProof", "logIndex", "0", "rootHash", root64, "treeSize",
	    "1", "hashes", "checkpoint", "envelope", ckpt,
	    "canonicalizedBody", body64);
	free(body64);
	free(set);
	free(msg);
	free(note);
	free(sig);
	free(ckpt);
	return e;
}

/* A v0.3 DSSE bundle over stmt, signed by k, with a Rekor v1 dsse entry
 * when log is not NULL. */
static json_t *
dsse_bundle(struct core_key *k, const char *stmt, struct core_key *log)
{
	char	*p64, *sig, *msg, *body, *pk64, hexp[65];
	size_t	 mlen;
	json_t	*b;

	p64 = b64(stmt, strlen(stmt));
	msg = pae(CORE_MT_INTOTO, stmt, &mlen);
	sig = sign64(k, msg, mlen);
	b = json_pack("{s:s, s:{s:{s:s}}, s:{s:s, s:s, s:[{s:s}]}}",
	    "mediaType", CORE_MT_SGBUNDLE_V03,
	    "verificationMaterial", "publicKey", "hint", "unused",
	    "dsseEnvelope", "payload", p64, "payloadType", CORE_MT_INTOTO,
	    "signatures", "sig", sig);
	if (log != NULL) {
		core_sha256_hex(stmt, strlen(stmt), hexp);
		pk64 = pem64(k);
		if (asprintf(&body, "{\"apiVersion\":\"0.0.1\",\"kind\":\"dsse\","
		    "\"spec\":{\"envelopeHash\":{\"algorithm\":\"sha256\","
		    "\"value\":\"00\"},\"payloadHash\":{\"algorithm\":\"sha256\","
		    "\"value\":\"%s\"},\"signatures\":[{\"signature\":\"%s\","
		    "\"verifier\":\"%s\"}]}}", hexp, sig, pk64) < 0)
			exit(99);
		json_object_set_new(json_object_get(b, "verificationMaterial"),
		    "tlogEntries", json_pack("[o]", tlog_entry(log, "dsse",
		    body)));
		free(body);
		free(pk64);
	}
	free(p64);
	free(msg);
	free(sig);
	return b;
}

static int
run(const struct core_trust *t, const char *digest, json_t *b, int online,
    char *reason, size_t rlen, char *signer)
{
	struct core_bundle_ok	 ok;
	char			*s = json_dumps(b, JSON_COMPACT);
	int			 rc;

	rc = core_bundle_verify(t, digest, s, strlen(s), online, &ok, reason,
	    rlen);
	if (rc == 0 && signer != NULL)
		snprintf(signer, CORE_SIGNER_MAX, "%s", ok.signer);
	free(ok.rekor);
	free(ok.payload);
	free(s);
	return rc;
}

/* json path set: b.a.b... = value (a string) */
static void
set_str(json_t *b, const char *path, const char *value)
{
	char	 buf[256], *p, *dot;
	json_t	*o = b;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf; (dot = strchr(p, '.')) != NULL; p = dot + 1) {
		*dot = '\0';
		o = json_is_array(o) ? json_array_get(o, (size_t)atoi(p)) :
		    json_object_get(o, p);
	}
	json_object_set_new(o, p, json_string(value));
}

static void
real_vector(void)
{
	struct core_key		*k = key("bundles/cosign-v3-keyed/key.pub", 0);
	struct core_key		*other = key("keys/ec-sec1.pub", 0);
	struct core_trust	 t = { .keys = &k, .nkeys = 1 };
	struct core_bundle_ok	 ok;
	char			 reason[300], *b, dg[80], *nl, saved;
	size_t			 len;
	FILE			*fp;
	char			 path[8192];

	b = unit_slurp(vdir, "bundles/cosign-v3-keyed/bundle.json", &len);
	snprintf(path, sizeof(path), "%s/bundles/cosign-v3-keyed/digest", vdir);
	fp = fopen(path, "r");
	if (fp == NULL || fgets(dg, sizeof(dg), fp) == NULL)
		exit(99);
	fclose(fp);
	nl = strchr(dg, '\n');
	if (nl != NULL)
		*nl = '\0';
	CHECK(core_bundle_verify(&t, dg, b, len, 0, &ok, reason,
	    sizeof(reason)) == 0, "real v3 bundle: %s", reason);
	CHECK(strcmp(ok.signer, core_key_fingerprint(k)) == 0, "signer %s",
	    ok.signer);
	free(ok.rekor);
	free(ok.payload);
	t.rekor_required = 1;
	CHECK(core_bundle_verify(&t, dg, b, len, 0, &ok, reason,
	    sizeof(reason)) == -1 && strstr(reason, "Rekor entry missing") !=
	    NULL, "rekor required, none: %s", reason);
	t.rekor_required = 0;
	saved = dg[20];
	dg[20] = saved == 'a' ? 'b' : 'a';
	CHECK(core_bundle_verify(&t, dg, b, len, 0, &ok, reason,
	    sizeof(reason)) == -1 && strstr(reason, "does not name") != NULL,
	    "other digest: %s", reason);
	dg[20] = saved;
	t.keys = &other;
	CHECK(core_bundle_verify(&t, dg, b, len, 0, &ok, reason,
	    sizeof(reason)) == -1 && strstr(reason, "not signed by a trusted "
	    "key") != NULL, "other key: %s", reason);
	t.keys = &k;
	/* no subject name (cosign v3): the repository check has nothing to
	 * refuse */
	t.want_ref = "example.com/x";
	CHECK(core_bundle_verify(&t, dg, b, len, 0, &ok, reason,
	    sizeof(reason)) == 0, "want_ref, no name: %s", reason);
	free(ok.rekor);
	free(ok.payload);
	t.want_ref = NULL;
	/* truncated at every length: refused, never a crash */
	{
		size_t	i, refused = 0;

		for (i = 0; i < len; i += 7)
			refused += core_bundle_verify(&t, dg, b, i, 0, &ok,
			    reason, sizeof(reason)) == -1;
		CHECK(refused == (len + 6) / 7, "truncations refused: %zu",
		    refused);
	}
	free(b);
	core_key_free(k);
	core_key_free(other);
}

static void
built(void)
{
	struct core_key		*k = key("keys/ec-sec1.pem", 1);
	struct core_key		*log = key("worked-example/rekor-priv.pem", 1);
	struct core_key		*logpub = key("worked-example/rekor.pub", 0);
	struct core_key		*other = key("keys/ec384-pkcs8.pub", 0);
	struct core_trust	 t = { .keys = &k, .nkeys = 1, .rekor = &logpub,
				       .nrekor = 1 };
	char			 hexd[65], dg[80], reason[300], *stmt;
	char			 signer[CORE_SIGNER_MAX], *bad;
	json_t			*b, *c;

	core_sha256_hex("image", 5, hexd);
	snprintf(dg, sizeof(dg), "sha256:%s", hexd);
	stmt = statement(hexd, CORE_PRED_COSIGN_SIGN);
	b = dsse_bundle(k, stmt, log);
	CHECK(run(&t, dg, b, 0, reason, sizeof(reason), signer) == 0,
	    "built: %s", reason);
	t.rekor_required = 1;
	CHECK(run(&t, dg, b, 0, reason, sizeof(reason), signer) == 0,
	    "built with rekor: %s", reason);
	CHECK(strcmp(signer, core_key_fingerprint(k)) == 0, "signer %s",
	    signer);
	{
		struct core_bundle_ok	 ok;
		char			*s = json_dumps(b, JSON_COMPACT), uuid[65];

		CHECK(core_bundle_verify(&t, dg, s, strlen(s), 1, &ok, reason,
		    sizeof(reason)) == 0 && ok.rekor != NULL &&
		    core_rekor_bundle_uuid(ok.rekor, uuid) == 0,
		    "online: a legacy bundle for the entry: %s", reason);
		free(ok.rekor);
		free(ok.payload);
		free(s);
	}
	/* every field of the entry tampered in turn */
	{
		static const struct {
			const char	*path, *value, *want;
		} rows[] = {
			{ "verificationMaterial.tlogEntries.0.logIndex", "8",
			    "SET" },
			{ "verificationMaterial.tlogEntries.0.integratedTime",
			    "1700000001", "SET" },
			{ "verificationMaterial.tlogEntries.0.inclusionPromise."
			    "signedEntryTimestamp", "MEUCIQ==", "SET" },
			{ "verificationMaterial.tlogEntries.0.canonicalizedBody",
			    "e30=", "kind" },
			{ "verificationMaterial.tlogEntries.0.kindVersion.kind",
			    "hashedrekord", "kind" },
			{ "verificationMaterial.tlogEntries.0.kindVersion."
			    "version", "0.0.2", "kind" },
			{ "verificationMaterial.tlogEntries.0.logId.keyId",
			    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
			    "Rekor entry missing" },
			{ "verificationMaterial.tlogEntries.0.inclusionProof."
			    "rootHash", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
			    "inclusion proof" },
			{ "verificationMaterial.tlogEntries.0.inclusionProof."
			    "treeSize", "2", "inclusion proof" },
			{ "verificationMaterial.tlogEntries.0.inclusionProof."
			    "logIndex", "x", "malformed" },
			{ "verificationMaterial.tlogEntries.0.inclusionProof."
			    "checkpoint.envelope", "test.log\n1\nAAAA\n\n",
			    "checkpoint" },
			{ "dsseEnvelope.payloadType", "text/plain", "in-toto" },
			{ "dsseEnvelope.signatures.0.sig", "MEUCIQ==", "trusted" },
			{ "mediaType", "application/vnd.dev.sigstore.bundle.v0.4"
			    "+json", "v0.1 to v0.3" },
		};
		size_t	i;

		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			c = json_deep_copy(b);
			set_str(c, rows[i].path, rows[i].value);
			CHECK(run(&t, dg, c, 0, reason, sizeof(reason), NULL) ==
			    -1 && strstr(reason, rows[i].want) != NULL,
			    "%s tampered: %s", rows[i].path, reason);
			json_decref(c);
		}
	}
	/* the body names another signature, payload or key */
	{
		char	*pk64 = pem64(other), hexp[65], *body, *sig;
		json_t	*e;

		sig = json_string_value(json_object_get(json_array_get(
		    json_object_get(json_object_get(b, "dsseEnvelope"),
		    "signatures"), 0), "sig")) != NULL ? strdup(
		    json_string_value(json_object_get(json_array_get(
		    json_object_get(json_object_get(b, "dsseEnvelope"),
		    "signatures"), 0), "sig"))) : NULL;
		core_sha256_hex(stmt, strlen(stmt), hexp);
		if (asprintf(&body, "{\"apiVersion\":\"0.0.1\",\"kind\":"
		    "\"dsse\",\"spec\":{\"payloadHash\":{\"algorithm\":"
		    "\"sha256\",\"value\":\"%s\"},\"signatures\":[{"
		    "\"signature\":\"%s\",\"verifier\":\"%s\"}]}}", hexp, sig,
		    pk64) < 0)
			exit(99);
		c = json_deep_copy(b);
		e = tlog_entry(log, "dsse", body);
		json_array_set_new(json_object_get(json_object_get(c,
		    "verificationMaterial"), "tlogEntries"), 0, e);
		CHECK(run(&t, dg, c, 0, reason, sizeof(reason), NULL) == -1 &&
		    strstr(reason, "another signature or key") != NULL,
		    "entry with another key: %s", reason);
		json_decref(c);
		free(body);
		free(pk64);
		free(sig);
	}
	/* the statement's subject is named "x" */
	t.want_ref = "x";
	CHECK(run(&t, dg, b, 0, reason, sizeof(reason), NULL) == 0,
	    "named x, want x: %s", reason);
	t.want_ref = "example.com/y";
	CHECK(run(&t, dg, b, 0, reason, sizeof(reason), NULL) == -1 &&
	    strstr(reason, "names x, not example.com/y") != NULL,
	    "named x, want another: %s", reason);
	t.want_ref = NULL;
	json_decref(b);
	free(stmt);
	t.rekor_required = 0;
	/* the statement's rules */
	stmt = statement(hexd, "https://slsa.dev/provenance/v1");
	b = dsse_bundle(k, stmt, NULL);
	CHECK(run(&t, dg, b, 0, reason, sizeof(reason), NULL) == -1 &&
	    strstr(reason, "predicateType") != NULL, "SLSA: %s", reason);
	json_decref(b);
	free(stmt);
	core_sha256_hex("other", 5, hexd);
	stmt = statement(hexd, CORE_PRED_COSIGN_SIGN);
	b = dsse_bundle(k, stmt, NULL);
	CHECK(run(&t, dg, b, 0, reason, sizeof(reason), NULL) == -1 &&
	    strstr(reason, "does not name") != NULL, "other subject: %s",
	    reason);
	json_decref(b);
	free(stmt);
	core_sha256_hex("image", 5, hexd);
	stmt = statement(hexd, CORE_PRED_COSIGN_SIGN);
	b = dsse_bundle(k, stmt, NULL);
	/* two signatures */
	json_array_append(json_object_get(json_object_get(b, "dsseEnvelope"),
	    "signatures"), json_array_get(json_object_get(json_object_get(b,
	    "dsseEnvelope"), "signatures"), 0));
	CHECK(run(&t, dg, b, 0, reason, sizeof(reason), NULL) == -1 &&
	    strstr(reason, "exactly one signature") != NULL, "two sigs: %s",
	    reason);
	json_decref(b);
	/* both a key and a certificate */
	b = dsse_bundle(k, stmt, NULL);
	json_object_set_new(json_object_get(b, "verificationMaterial"),
	    "certificate", json_pack("{s:s}", "rawBytes", "AAAA"));
	CHECK(run(&t, dg, b, 0, reason, sizeof(reason), NULL) == -1 &&
	    strstr(reason, "exactly one of") != NULL, "key and cert: %s",
	    reason);
	json_decref(b);
	free(stmt);
	/* a messageSignature over the artifact itself */
	{
		unsigned char	d[32];
		char		*sig = sign64(k, "image", 5), *d64;

		core_hex_decode(hexd, d, 32);
		d64 = b64(d, 32);
		b = json_pack("{s:s, s:{s:{}}, s:{s:{s:s, s:s}, s:s}}",
		    "mediaType", CORE_MT_SGBUNDLE_V03, "verificationMaterial",
		    "publicKey", "messageSignature", "messageDigest",
		    "algorithm", "SHA2_256", "digest", d64, "signature", sig);
		CHECK(run(&t, dg, b, 0, reason, sizeof(reason), NULL) == 0,
		    "message signature: %s", reason);
		bad = strdup(dg);
		bad[10] = bad[10] == '0' ? '1' : '0';
		CHECK(run(&t, bad, b, 0, reason, sizeof(reason), NULL) == -1 &&
		    strstr(reason, "another artifact") != NULL,
		    "message signature, other artifact: %s", reason);
		free(bad);
		set_str(b, "messageSignature.messageDigest.algorithm",
		    "SHA2_384");
		CHECK(run(&t, dg, b, 0, reason, sizeof(reason), NULL) == -1,
		    "message signature, SHA2_384: %s", reason);
		json_decref(b);
		free(sig);
		free(d64);
	}
	core_key_free(k);
	core_key_free(log);
	core_key_free(logpub);
	core_key_free(other);
}

/*
 * The verification driver through the referrers: a registry as a table of
 * answers, (need kind, ref) -> (status, body).
 */
struct answer {
	enum core_vneed_kind	 kind;
	char			 ref[CORE_LINK_MAX + 1];
	char			 link[CORE_LINK_MAX + 64];	/* or "" */
	int			 status;
	char			*body;
	size_t			 len;
};
struct fakereg {
	struct answer	 a[128];
	int		 n;
};

static void
put(struct fakereg *r, enum core_vneed_kind kind, const char *ref,
    int status, const char *body, size_t len)
{
	struct answer	*a = &r->a[r->n++];

	a->kind = kind;
	snprintf(a->ref, sizeof(a->ref), "%s", ref);
	a->status = status;
	a->body = malloc(len + 1);
	memcpy(a->body, body, len);
	a->body[len] = '\0';
	a->len = len;
}

static void
put_json(struct fakereg *r, enum core_vneed_kind kind, const char *ref,
    json_t *o, char *digest_out)
{
	char	*s = json_dumps(o, JSON_COMPACT), hexd[65];

	core_sha256_hex(s, strlen(s), hexd);
	if (ref == NULL)
		snprintf(digest_out, 72, "sha256:%s", hexd);
	put(r, kind, ref != NULL ? ref : digest_out, 200, s, strlen(s));
	free(s);
	json_decref(o);
}

static void
fakereg_free(struct fakereg *r)
{
	int	i;

	for (i = 0; i < r->n; i++)
		free(r->a[i].body);
	r->n = 0;
}

/*
 * opts.keep: each valid referrer comes with its manifest and bundle bytes,
 * whose digests are the referrer's and the blob's (mirroring copies them
 * as they are); without it, none.  Counted per drive.
 */
static int	kept, kept_bad;

static void
kept_check(const struct core_vvalid *vv, int keep)
{
	char	hex[65];

	if (vv->layer != CORE_VVALID_REFERRER)
		return;
	if (!keep) {
		kept_bad += vv->manifest != NULL || vv->bundle != NULL;
		return;
	}
	if (vv->manifest == NULL || vv->bundle == NULL) {
		kept_bad++;
		return;
	}
	core_sha256_hex(vv->manifest, vv->mlen, hex);
	kept_bad += strcmp(hex, vv->ref + 7) != 0;
	core_sha256_hex(vv->bundle, vv->blen, hex);
	kept_bad += strcmp(hex, vv->blob + 7) != 0;
	kept++;
}

/* Run the driver; the verdict, with the reason and request count. */
static enum core_verdict
drive(const struct core_vopts *o, const char *digest, struct fakereg *r,
    char *reason, size_t rlen, int *requests, int *nsigners)
{
	struct core_verifier	*v = core_verifier_new(o, digest);
	struct core_vneed	 need;
	enum core_verdict	 d;
	const char		*why;
	size_t			 n;
	int			 i;

	*requests = 0;
	while (core_verifier_next(v, &need) != CORE_VN_DONE &&
	    *requests < 1000) {
		(*requests)++;
		for (i = 0; i < r->n; i++)
			if (r->a[i].kind == need.kind &&
			    strcmp(r->a[i].ref, need.ref) == 0)
				break;
		core_verifier_feed_link(v, i < r->n && r->a[i].link[0] != '\0' ?
		    r->a[i].link : NULL);
		if (i == r->n)
			core_verifier_feed(v, 404, "", 0, NULL);
		else if (r->a[i].len > need.max_len)
			core_verifier_feed(v, 0, NULL, 0, "too large");
		else
			core_verifier_feed(v, r->a[i].status, r->a[i].body,
			    r->a[i].len, "upstream error");
	}
	d = core_verifier_verdict(v, &why);
	snprintf(reason, rlen, "%s", why);
	*nsigners = core_verifier_nsigners(v);
	kept = kept_bad = 0;
	for (n = 0; n < core_verifier_nvalid(v); n++)
		kept_check(core_verifier_valid(v, n), o->keep);
	core_verifier_free(v);
	return d;
}

/* A referrer manifest for bundle (JSON) whose subject is subject; its
 * digest in mdig, the bundle's stored too. */
static void
referrer(struct fakereg *r, json_t *bundle, const char *subject, char *mdig)
{
	char	*b = json_dumps(bundle, JSON_COMPACT), hexd[65], bdig[80];

	core_sha256_hex(b, strlen(b), hexd);
	snprintf(bdig, sizeof(bdig), "sha256:%s", hexd);
	put(r, CORE_VN_PAYLOAD, bdig, 200, b, strlen(b));
	put_json(r, CORE_VN_MANIFEST, NULL, json_pack("{s:i, s:s, "
	    "s:{s:s, s:i, s:s}, s:[{s:s, s:I, s:s}], s:{s:s, s:i, s:s}, s:s}",
	    "schemaVersion", 2, "mediaType", CORE_MT_OCI_MANIFEST,
	    "config", "mediaType", CORE_MT_OCI_EMPTY, "size", 2, "digest",
	    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
	    "layers", "mediaType", CORE_MT_SGBUNDLE_V03, "size",
	    (json_int_t)strlen(b), "digest", bdig,
	    "subject", "mediaType", CORE_MT_OCI_MANIFEST, "size", 100, "digest",
	    subject, "artifactType", CORE_MT_SGBUNDLE_V03), mdig);
	free(b);
}

static json_t *
index_of(const char *mdig, const char *artifact_type)
{
	return json_pack("{s:i, s:s, s:[{s:s, s:s, s:i, s:s}]}",
	    "schemaVersion", 2, "mediaType", CORE_MT_OCI_INDEX, "manifests",
	    "mediaType", CORE_MT_OCI_MANIFEST, "digest", mdig, "size", 500,
	    "artifactType", artifact_type);
}

static void
driver(void)
{
	struct core_key		*ka = key("keys/ec-sec1.pem", 1);
	struct core_key		*kb = key("keys/rsa-pkcs1.pem", 1);
	struct core_key		*keys[2] = { ka, kb };
	struct core_trust	 t = { .keys = keys, .nkeys = 2 };
	struct core_vopts	 o = { .trust = &t, .threshold = 1,
				       .bundles = 1 };
	struct fakereg		 r = { .n = 0 };
	char			 hexd[65], dg[80], other[80], reason[400];
	char			 mdig[80], tag[80], *stmt;
	int			 req, ns;
	json_t			*b;

	core_sha256_hex("image", 5, hexd);
	snprintf(dg, sizeof(dg), "sha256:%s", hexd);
	snprintf(tag, sizeof(tag), "sha256-%s", hexd);
	core_sha256_hex("other", 5, other + 7);
	memcpy(other, "sha256:", 7);
	stmt = statement(hexd, CORE_PRED_COSIGN_SIGN);

	CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
	    CORE_VERDICT_DENY && strcmp(reason, "no signature found") == 0 &&
	    req == 3, "nothing: %s, %d requests", reason, req);
	o.bundles = 0;
	CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
	    CORE_VERDICT_DENY && req == 1, "bundles off: %s, %d requests",
	    reason, req);
	o.bundles = 1;

	/* through the referrers API */
	b = dsse_bundle(ka, stmt, NULL);
	referrer(&r, b, dg, mdig);
	put_json(&r, CORE_VN_REFERRERS, dg, index_of(mdig,
	    CORE_MT_SGBUNDLE_V03), NULL);
	CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
	    CORE_VERDICT_ALLOW && req == 4 && ns == 1,
	    "referrers API: %s, %d requests", reason, req);
	CHECK(kept == 0 && kept_bad == 0, "no bytes kept unasked");
	o.keep = 1;
	CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
	    CORE_VERDICT_ALLOW && kept == 1 && kept_bad == 0,
	    "keep: the referrer's and the bundle's bytes (%d, %d bad)", kept,
	    kept_bad);
	o.keep = 0;
	/* the API fails: indeterminate, never a denial */
	r.a[r.n - 1].status = 503;
	CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
	    CORE_VERDICT_INDETERMINATE && strstr(reason, "referrers") != NULL,
	    "referrers 503: %s", reason);
	/* no API (404): the tag schema's index; the older cosign's empty
	 * artifactType is read too */
	r.a[r.n - 1].status = 404;
	put_json(&r, CORE_VN_MANIFEST, tag, index_of(mdig, CORE_MT_OCI_EMPTY),
	    NULL);
	CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
	    CORE_VERDICT_ALLOW && req == 5, "referrers tag: %s, %d requests",
	    reason, req);
	/* a descriptor of another artifact type is not read */
	fakereg_free(&r);
	referrer(&r, b, dg, mdig);
	put_json(&r, CORE_VN_MANIFEST, tag, index_of(mdig,
	    "application/spdx+json"), NULL);
	CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
	    CORE_VERDICT_DENY && req == 3, "an SBOM referrer: %s, %d "
	    "requests", reason, req);
	/* GitLab: the tag sha256-<hex> resolves to the image itself */
	fakereg_free(&r);
	put(&r, CORE_VN_MANIFEST, tag, 200, "image", 5);
	CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
	    CORE_VERDICT_DENY && strcmp(reason, "no signature found") == 0,
	    "tag is the subject: %s", reason);
	/* a referrer whose subject is another image, listed under this one */
	fakereg_free(&r);
	referrer(&r, b, other, mdig);
	put_json(&r, CORE_VN_REFERRERS, dg, index_of(mdig,
	    CORE_MT_SGBUNDLE_V03), NULL);
	CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
	    CORE_VERDICT_DENY && strstr(reason, "subject is not this image") !=
	    NULL, "other subject: %s", reason);
	/* a bundle blob that does not match its descriptor */
	fakereg_free(&r);
	referrer(&r, b, dg, mdig);
	r.a[0].body[r.a[0].len - 1] = ' ';
	put_json(&r, CORE_VN_REFERRERS, dg, index_of(mdig,
	    CORE_MT_SGBUNDLE_V03), NULL);
	CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
	    CORE_VERDICT_DENY && strstr(reason, "does not match") != NULL,
	    "bundle altered: %s", reason);
	/*
	 * The referrers API in pages (Link: rel="next"): the referrer on
	 * page 3 is found; a page of another image, a page that is no index,
	 * and a registry that names a next page forever are not followed
	 * past what they are.
	 */
	fakereg_free(&r);
	referrer(&r, b, dg, mdig);
	{
		char	p2[200], p3[200];

		snprintf(p2, sizeof(p2), "/v2/x/referrers/%s?n=1&p=2", dg);
		snprintf(p3, sizeof(p3), "/v2/x/referrers/%s?n=1&p=3", dg);
		put_json(&r, CORE_VN_REFERRERS, dg, json_pack("{s:i, s:s, s:[]}",
		    "schemaVersion", 2, "mediaType", CORE_MT_OCI_INDEX,
		    "manifests"), NULL);
		snprintf(r.a[r.n - 1].link, sizeof(r.a[0].link), "<%s>; "
		    "rel=\"next\"", p2);
		put_json(&r, CORE_VN_REFERRERS_NEXT, p2, json_pack("{s:i, s:s, "
		    "s:[]}", "schemaVersion", 2, "mediaType",
		    CORE_MT_OCI_INDEX, "manifests"), NULL);
		snprintf(r.a[r.n - 1].link, sizeof(r.a[0].link), "<http://"
		    "reg:5000%s>; rel=\"next\"", p3);
		put_json(&r, CORE_VN_REFERRERS_NEXT, p3, index_of(mdig,
		    CORE_MT_SGBUNDLE_V03), NULL);
		CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
		    CORE_VERDICT_ALLOW && req == 6, "a referrer on page 3: %s, "
		    "%d requests", reason, req);
		/* page 3 fails: indeterminate, not "no signature" */
		r.a[r.n - 1].status = 503;
		CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
		    CORE_VERDICT_INDETERMINATE, "page 3 fails: %s", reason);
		/* page 2 names a page of another image: not followed */
		r.a[r.n - 1].status = 200;
		snprintf(r.a[r.n - 2].link, sizeof(r.a[0].link), "</v2/x/"
		    "referrers/%s?p=3>; rel=\"next\"", other);
		CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
		    CORE_VERDICT_DENY && req == 2 + 1, "another image's page: %s, "
		    "%d requests", reason, req);
		/* a page that names itself: CORE_REFERRERS_PAGES at most */
		snprintf(r.a[r.n - 2].link, sizeof(r.a[0].link), "<%s>; "
		    "rel=\"next\"", p2);
		CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
		    CORE_VERDICT_DENY && req == 2 + CORE_REFERRERS_PAGES,
		    "endless pages: %s, %d requests", reason, req);
	}
	json_decref(b);
	/* threshold 2 across formats: a .sig layer by B, a bundle by A */
	{
		struct core_sigman	 sm;
		char			*payload, pd[80], *list, *cfg, *sig;
		char			 phex[65];
		size_t			 plen, llen, clen;
		const char		*err;
		json_t			*ann;

		fakereg_free(&r);
		payload = core_sig_payload("x", dg, NULL, &plen);
		core_sha256_hex(payload, plen, phex);
		snprintf(pd, sizeof(pd), "sha256:%s", phex);
		sig = sign64(kb, payload, plen);
		core_sigman_init(&sm);
		core_sigman_open(&sm, NULL, 0, 0, &err);
		ann = json_pack("{s:s}", CORE_ANN_SIGNATURE, sig);
		core_sigman_append(&sm, pd, plen, ann);
		json_decref(ann);
		core_sigman_serialize(&sm, &cfg, &clen, &list, &llen);
		core_sigman_free(&sm);
		snprintf(tag, sizeof(tag), "sha256-%s.sig", hexd);
		put(&r, CORE_VN_LIST, tag, 200, list, llen);
		put(&r, CORE_VN_PAYLOAD, pd, 200, payload, plen);
		o.threshold = 2;
		CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
		    CORE_VERDICT_DENY && ns == 1 && strstr(reason, "2 required")
		    != NULL, ".sig only, threshold 2: %s", reason);
		b = dsse_bundle(ka, stmt, NULL);
		referrer(&r, b, dg, mdig);
		put_json(&r, CORE_VN_REFERRERS, dg, index_of(mdig,
		    CORE_MT_SGBUNDLE_V03), NULL);
		CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
		    CORE_VERDICT_ALLOW && ns == 2, ".sig and bundle, "
		    "threshold 2: %s", reason);
		json_decref(b);
		/* the same signer in both formats counts once */
		fakereg_free(&r);
		put(&r, CORE_VN_LIST, tag, 200, list, llen);
		put(&r, CORE_VN_PAYLOAD, pd, 200, payload, plen);
		b = dsse_bundle(kb, stmt, NULL);
		referrer(&r, b, dg, mdig);
		put_json(&r, CORE_VN_REFERRERS, dg, index_of(mdig,
		    CORE_MT_SGBUNDLE_V03), NULL);
		CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
		    CORE_VERDICT_DENY && ns == 1, "one signer twice: %s",
		    reason);
		json_decref(b);
		o.threshold = 1;
		free(payload);
		free(sig);
		free(list);
		free(cfg);
	}
	/* the budget: 100 referrers listed, each a bundle descriptor whose
	 * blob is absent: 64 are read (manifest and blob), 3 + 2 x 64
	 * requests in all, whatever the index holds */
	{
		json_t	*idx = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2,
			    "mediaType", CORE_MT_OCI_INDEX, "manifests");
		char	 bd[80], md[80];
		int	 i;

		fakereg_free(&r);
		for (i = 0; i < 100; i++) {
			snprintf(bd, sizeof(bd), "sha256:%064x", i);
			put_json(&r, CORE_VN_MANIFEST, NULL, json_pack("{s:i, s:s, "
			    "s:[{s:s, s:i, s:s}], s:{s:s}}", "schemaVersion", 2,
			    "mediaType", CORE_MT_OCI_MANIFEST, "layers",
			    "mediaType", CORE_MT_SGBUNDLE_V03, "size", 100,
			    "digest", bd, "subject", "digest", dg), md);
			json_array_append_new(json_object_get(idx, "manifests"),
			    json_pack("{s:s, s:s, s:i, s:s}", "mediaType",
			    CORE_MT_OCI_MANIFEST, "digest", md, "size", 100,
			    "artifactType", CORE_MT_SGBUNDLE_V03));
		}
		snprintf(tag, sizeof(tag), "sha256-%s", hexd);
		put_json(&r, CORE_VN_MANIFEST, tag, idx, NULL);
		CHECK(drive(&o, dg, &r, reason, sizeof(reason), &req, &ns) ==
		    CORE_VERDICT_DENY && req == 3 + 2 * CORE_VERIFY_LAYERS_MAX &&
		    strstr(reason, "a bundle is missing") != NULL,
		    "100 referrers: %d requests, %s", req, reason);
	}
	fakereg_free(&r);
	free(stmt);
	core_key_free(ka);
	core_key_free(kb);
}

/* What signet writes verifies as what it reads; the index keeps order. */
static void
making(void)
{
	struct core_key		*k = key("keys/ec-sec1.pem", 1);
	struct core_trust	 t = { .keys = &k, .nkeys = 1 };
	char			 hexd[65], dg[80], reason[300], err[200];
	char			*st, *sig, *b, *m, *idx, *idx2;
	size_t			 n, ilen, ilen2;
	struct core_bundle_ok	 ok;
	json_t			*o;

	core_sha256_hex("image", 5, hexd);
	snprintf(dg, sizeof(dg), "sha256:%s", hexd);
	st = core_bundle_statement(dg, &n);
	sig = st != NULL ? core_dsse_sign(k, st, n, err, sizeof(err)) : NULL;
	b = sig != NULL ? core_bundle_assemble(st, n, sig, k, NULL, 0, err,
	    sizeof(err)) : NULL;
	CHECK(b != NULL, "made: %s", err);
	if (b == NULL)
		return;
	CHECK(core_bundle_verify(&t, dg, b, strlen(b), 0, &ok, reason,
	    sizeof(reason)) == 0, "signet's bundle verifies: %s", reason);
	free(ok.payload);
	free(ok.rekor);
	o = json_loads(b, 0, NULL);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(
	    json_object_get(o, "verificationMaterial"), "publicKey"), "hint")),
	    "") != 0, "a key hint");
	json_decref(o);
	m = core_referrer_manifest(CORE_MT_OCI_MANIFEST, 100, dg,
	    "sha256:" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    strlen(b), "2026-11-30T00:00:00Z");
	{
		struct core_manifest_info	 mi;
		const char			*es;

		CHECK(m != NULL && core_manifest_inspect(m, strlen(m), &mi,
		    &es) == 0 && mi.is_sig_object && mi.is_bundle_sig &&
		    strcmp(mi.subject, dg) == 0, "the referrer is a cosign v3 "
		    "signature of the image");
	}
	CHECK(core_refindex_add(NULL, 0, "sha256:bb", 10, CORE_MT_SGBUNDLE_V03,
	    &idx, &ilen, err, sizeof(err)) == 1, "a new index: %s", err);
	CHECK(core_refindex_add(idx, ilen, "sha256:aa", 10,
	    CORE_MT_SGBUNDLE_V03, &idx2, &ilen2, err, sizeof(err)) == 1 &&
	    strstr(idx2, "sha256:aa") < strstr(idx2, "sha256:bb"),
	    "added in digest order: %s", idx2 != NULL ? idx2 : err);
	free(idx);
	CHECK(core_refindex_add(idx2, ilen2, "sha256:bb", 10,
	    CORE_MT_SGBUNDLE_V03, &idx, &ilen, err, sizeof(err)) == 0 &&
	    idx == NULL, "there already: not added twice");
	CHECK(core_refindex_has(idx2, ilen2, "sha256:aa") &&
	    !core_refindex_has(idx2, ilen2, "sha256:cc"), "has");
	CHECK(core_refindex_add("{\"schemaVersion\":2,\"layers\":[]}", 31,
	    "sha256:aa", 1, "x", &idx, &ilen, err, sizeof(err)) == -1 &&
	    strstr(err, "no OCI index") != NULL, "not an index: %s", err);
	free(idx2);
	free(m);
	free(st);
	free(sig);
	free(b);
	core_key_free(k);
}

int
main(void)
{
	const char	*top = getenv("top_srcdir");

	snprintf(vdir, sizeof(vdir), "%s/tests/vectors", top != NULL ? top :
	    ".");
	real_vector();
	built();
	driver();
	making();
	return unit_done();
}
