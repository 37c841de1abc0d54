/*
 * Unit tests: keys and cosign formats against tests/vectors (the worked
 * example and real cosign signatures).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mbedtls/base64.h>

#include "core/core.h"
#include "unit.h"

static char vdir[4096];

static char *
slurp(const char *rel, size_t *len)
{
	return unit_slurp(vdir, rel, len);
}

static char *
path_of(const char *rel)
{
	static char	path[8192];

	snprintf(path, sizeof(path), "%s/%s", vdir, rel);
	return path;
}

static void
chomp(char *s, size_t *len)
{
	while (*len > 0 && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
		s[--*len] = '\0';
}

static void
test_cosign_key(void)
{
	struct core_key	*k, *plain, *pub;
	char		 err[512];

	k = core_key_load_private(path_of("worked-example/cosign.key"), "test",
	    err, sizeof(err));
	CHECK(k != NULL, "cosign.key with password test: %s", err);
	plain = core_key_load_private(path_of("worked-example/signer-priv.pem"),
	    NULL, err, sizeof(err));
	CHECK(plain != NULL, "signer-priv.pem: %s", err);
	pub = core_key_load_public(path_of("worked-example/cosign.pub"), err,
	    sizeof(err));
	CHECK(pub != NULL, "cosign.pub: %s", err);
	if (k == NULL || plain == NULL || pub == NULL)
		return;
	CHECK(strcmp(core_key_fingerprint(k), core_key_fingerprint(plain)) == 0,
	    "decrypted key is signer-priv.pem");
	CHECK(strcmp(core_key_fingerprint(k), core_key_fingerprint(pub)) == 0,
	    "decrypted key matches cosign.pub");
	CHECK(core_key_can_sign(k) && !core_key_can_sign(pub), "can sign");
	core_key_free(k);
	core_key_free(plain);
	core_key_free(pub);

	k = core_key_load_private(path_of("worked-example/cosign.key"), "nope",
	    err, sizeof(err));
	CHECK(k == NULL && strstr(err, "wrong password") != NULL,
	    "wrong password: %s", err);
	k = core_key_load_private(path_of("worked-example/cosign.key"), NULL,
	    err, sizeof(err));
	CHECK(k == NULL && strstr(err, "no password") != NULL,
	    "no password: %s", err);
	k = core_key_load_private(path_of("worked-example/payload.json"), "",
	    err, sizeof(err));
	CHECK(k == NULL && strstr(err, "not a private key") != NULL,
	    "not a key: %s", err);
	k = core_key_load_private(path_of("nonexistent.key"), "", err,
	    sizeof(err));
	CHECK(k == NULL && strstr(err, "No such file") != NULL, "missing: %s",
	    err);
}

static void
test_plain_keys(void)
{
	static const char *const names[] = { "keys/ec-sec1", "keys/rsa-pkcs1",
	    "keys/ec384-pkcs8" };
	struct core_key	*k, *pub;
	unsigned char	 sig[CORE_SIG_MAX];
	size_t		 i, slen;
	char		 err[512], path[256];

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s.pem", names[i]);
		k = core_key_load_private(path_of(path), NULL, err, sizeof(err));
		CHECK(k != NULL, "%s: %s", path, err);
		snprintf(path, sizeof(path), "%s.pub", names[i]);
		pub = core_key_load_public(path_of(path), err, sizeof(err));
		CHECK(pub != NULL, "%s: %s", path, err);
		if (k == NULL || pub == NULL)
			continue;
		CHECK(core_key_sign(k, "hello", 5, sig, &slen, err,
		    sizeof(err)) == 0, "%s sign: %s", names[i], err);
		CHECK(core_key_verify(pub, "hello", 5, sig, slen) == 0,
		    "%s verifies", names[i]);
		CHECK(core_key_verify(pub, "hellO", 5, sig, slen) == -1,
		    "%s rejects other message", names[i]);
		core_key_free(k);
		core_key_free(pub);
	}
}

static void
test_payload_and_manifest(void)
{
	struct core_sigman	 sm;
	struct core_key		*pub, *other;
	const char		*errstr = NULL;
	unsigned char		*der;
	char			*want, *got, *cfg, *man, *wcfg, *wman, *bundle;
	char			 b64[256], hex[65], pd[72], err[256];
	size_t			 wlen, glen, dlen, blen, clen, mlen, wclen, wmlen;
	json_t			*ann;

	want = slurp("worked-example/payload.json", &wlen);
	chomp(want, &wlen);
	got = core_sig_payload("registry.example.com:5000/team/app",
	    "sha256:0efaee570bdb0e7c26a1c444056f68dae190170e60c5000f9119f53418555408",
	    NULL, &glen);
	CHECK(got != NULL && glen == wlen && memcmp(got, want, wlen) == 0,
	    "payload bytes:\n%s\n%s", got, want);

	der = (unsigned char *)slurp("worked-example/signature.der", &dlen);
	pub = core_key_load_public(path_of("worked-example/cosign.pub"), err,
	    sizeof(err));
	CHECK(pub != NULL && core_key_verify(pub, want, wlen, der, dlen) == 0,
	    "worked-example signature verifies");
	want[10] ^= 1;
	CHECK(pub != NULL && core_key_verify(pub, want, wlen, der, dlen) == -1,
	    "a changed payload byte fails");
	want[10] ^= 1;
	mbedtls_base64_encode((unsigned char *)b64, sizeof(b64), &blen, der,
	    dlen);

	/* the signature manifest and config, byte for byte */
	bundle = slurp("worked-example/bundle-annotation.json", &blen);
	chomp(bundle, &blen);
	core_sha256_hex(want, wlen, hex);
	snprintf(pd, sizeof(pd), "sha256:%s", hex);
	core_sigman_init(&sm);
	CHECK(core_sigman_open(&sm, NULL, 0, 0, &errstr) == 0, "open new");
	ann = json_pack("{s:s, s:s}", CORE_ANN_BUNDLE, bundle,
	    CORE_ANN_SIGNATURE, b64);	/* unsorted on purpose */
	CHECK(core_sigman_append(&sm, pd, wlen, ann) == 0, "append");
	CHECK(core_sigman_serialize(&sm, &cfg, &clen, &man, &mlen) == 0,
	    "serialize");
	wcfg = slurp("worked-example/sig-config.json", &wclen);
	chomp(wcfg, &wclen);
	wman = slurp("worked-example/sig-manifest.json", &wmlen);
	chomp(wman, &wmlen);
	CHECK(clen == wclen && memcmp(cfg, wcfg, clen) == 0,
	    "config bytes:\n%s\n%s", cfg, wcfg);
	CHECK(mlen == wmlen && memcmp(man, wman, mlen) == 0,
	    "manifest bytes:\n%s\n%s", man, wman);

	/* dedupe: found under the signer's key, not under another */
	CHECK(core_sigman_find(&sm, pd, want, wlen, pub) == 0, "find own");
	other = core_key_load_public(path_of("cosign/trust/cosign.pub"), err,
	    sizeof(err));
	CHECK(other != NULL && core_sigman_find(&sm, pd, want, wlen, other) ==
	    -1, "not found under another key");
	core_sigman_free(&sm);

	/* reopen what we wrote and append a second layer */
	CHECK(core_sigman_open(&sm, man, mlen, 0, &errstr) == 0, "reopen: %s",
	    errstr);
	CHECK(core_sigman_count(&sm) == 1, "one layer");
	json_object_del(ann, CORE_ANN_BUNDLE);
	CHECK(core_sigman_append(&sm, pd, wlen, ann) == 0, "append 2");
	free(cfg);
	free(man);
	CHECK(core_sigman_serialize(&sm, &cfg, &clen, &man, &mlen) == 0,
	    "serialize 2");
	CHECK(strstr(cfg, "\"diff_ids\":[\"" ) != NULL &&
	    strstr(cfg, "{\"created\":\"0001-01-01T00:00:00Z\"},{\"created\"") !=
	    NULL, "two history entries: %s", cfg);
	CHECK(strncmp(man, wman, 200) == 0 || strstr(man, "\"layers\":[{") !=
	    NULL, "layers kept");
	core_sigman_free(&sm);

	/* malformed lists are refused with a reason */
	CHECK(core_sigman_open(&sm, "[]", 2, 0, &errstr) == -1 && errstr,
	    "array refused");
	{
		static const char wrongmt[] = "{\"mediaType\":\"text/plain\","
		    "\"config\":{},\"layers\":[]}";
		static const char badlayer[] = "{\"mediaType\":\""
		    CORE_MT_OCI_MANIFEST "\",\"config\":{},\"layers\":"
		    "[{\"digest\":1}]}";
		static const char good[] = "{\"mediaType\":\""
		    CORE_MT_OCI_MANIFEST "\",\"config\":{},\"layers\":[]}";

		CHECK(core_sigman_open(&sm, wrongmt, sizeof(wrongmt) - 1, 0,
		    &errstr) == -1 && strstr(errstr, "not an image manifest"),
		    "wrong media type refused");
		CHECK(core_sigman_open(&sm, badlayer, sizeof(badlayer) - 1, 0,
		    &errstr) == -1 && strstr(errstr, "malformed layer"),
		    "malformed layer refused");
		CHECK(core_sigman_open(&sm, good, sizeof(good) - 1, 0,
		    &errstr) == 0, "an empty list is fine");
		core_sigman_free(&sm);
	}

	/* Docker media types for a new list */
	CHECK(core_sigman_open(&sm, NULL, 0, 1, &errstr) == 0, "docker open");
	CHECK(strcmp(core_sigman_media_type(&sm), CORE_MT_DOCKER_MANIFEST) == 0,
	    "docker media type");
	core_sigman_free(&sm);

	json_decref(ann);
	free(want);
	free(got);
	free(der);
	free(bundle);
	free(cfg);
	free(man);
	free(wcfg);
	free(wman);
	core_key_free(pub);
	core_key_free(other);
}

/* The real cosign signatures and their expected outcomes. */
static void
test_real_vectors(void)
{
	static const struct { const char *c, *key; int ok; } t[] = {
		{ "valid", "cosign.pub", 1 },
		{ "valid", "cosign2.pub", 0 },
		{ "valid-2", "cosign.pub", 1 },
		{ "unknown-key", "cosign.pub", 0 },
		{ "key-rekor-valid", "cosign2.pub", 1 },
	};
	struct core_key	*k;
	char		 path[256], err[256], *payload, *sig, *man, hex[65];
	size_t		 i, plen, slen, mlen;

	for (i = 0; i < sizeof(t) / sizeof(*t); i++) {
		snprintf(path, sizeof(path), "cosign/trust/%s", t[i].key);
		k = core_key_load_public(path_of(path), err, sizeof(err));
		CHECK(k != NULL, "%s: %s", path, err);
		snprintf(path, sizeof(path), "cosign/%s/payload.json", t[i].c);
		payload = slurp(path, &plen);
		snprintf(path, sizeof(path), "cosign/%s/signature.b64", t[i].c);
		sig = slurp(path, &slen);
		chomp(sig, &slen);
		CHECK((core_sig_b64_verify(k, payload, plen, sig) == 0) ==
		    t[i].ok, "%s with %s", t[i].c, t[i].key);
		snprintf(path, sizeof(path), "cosign/%s/manifest.json", t[i].c);
		man = slurp(path, &mlen);
		core_sha256_hex(man, mlen, hex);
		CHECK(strstr(payload, hex) != NULL, "%s: manifest digest in the "
		    "payload", t[i].c);
		free(payload);
		free(sig);
		free(man);
		core_key_free(k);
	}
}

static void
test_keygen(void)
{
	struct core_key	*k, *pub;
	unsigned char	 sig[CORE_SIG_MAX];
	size_t		 slen;
	char		 dir[] = "/tmp/signet-keygen.XXXXXX", prefix[64], p[80];
	char		 err[512];

	if (mkdtemp(dir) == NULL)
		exit(99);
	snprintf(prefix, sizeof(prefix), "%s/t", dir);
	CHECK(core_keygen(prefix, "pw", err, sizeof(err)) == 0, "keygen: %s",
	    err);
	CHECK(core_keygen(prefix, "pw", err, sizeof(err)) == -1 &&
	    strstr(err, "not overwriting") != NULL, "no overwrite: %s", err);
	snprintf(p, sizeof(p), "%s.key", prefix);
	k = core_key_load_private(p, "pw", err, sizeof(err));
	CHECK(k != NULL, "load generated key: %s", err);
	snprintf(p, sizeof(p), "%s.pub", prefix);
	pub = core_key_load_public(p, err, sizeof(err));
	CHECK(pub != NULL, "load generated pub: %s", err);
	if (k != NULL && pub != NULL) {
		CHECK(core_key_sign(k, "x", 1, sig, &slen, err, sizeof(err)) == 0,
		    "sign");
		CHECK(core_key_verify(pub, "x", 1, sig, slen) == 0, "verify");
		CHECK(strcmp(core_key_fingerprint(k), core_key_fingerprint(pub))
		    == 0, "pair");
	}
	core_key_free(k);
	core_key_free(pub);
	snprintf(p, sizeof(p), "%s.key", prefix);
	unlink(p);
	snprintf(p, sizeof(p), "%s.pub", prefix);
	unlink(p);
	rmdir(dir);
}

static void
test_tags_globs(void)
{
	static const struct { const char *t; int ok; } tags[] = {
		{ "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig", 1 },
		{ "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.att", 1 },
		{ "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sbom", 1 },
		{ "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 0 },
		{ "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeF.sig", 0 },
		{ "latest", 0 }, { "sha256-.sig", 0 },
	};
	static const struct { const char *p, *n; int ok; } globs[] = {
		{ "*", "a", 1 }, { "*", "a/b/c", 1 }, { "team/*", "team/app", 1 },
		{ "team/*", "team/a/b", 1 }, { "team/*", "teams/app", 0 },
		{ "team/app", "team/app", 1 }, { "team/ap?", "team/app", 1 },
		{ "*/base", "lib/base", 1 }, { "lib/[ab]*", "lib/cc", 0 },
	};
	char	tag[CORE_TAG_MAX + 1];
	size_t	i;

	for (i = 0; i < sizeof(tags) / sizeof(*tags); i++)
		CHECK(core_cosign_tag(tags[i].t) == tags[i].ok, "tag %s",
		    tags[i].t);
	for (i = 0; i < sizeof(globs) / sizeof(*globs); i++)
		CHECK(core_glob_match(globs[i].p, globs[i].n) == globs[i].ok,
		    "glob %s ~ %s", globs[i].p, globs[i].n);
	core_sig_tag("sha256:0123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789abcdef", tag);
	CHECK(core_cosign_tag(tag), "sig tag %s", tag);
}

/*
 * The one list merge: table of (list before, layer offered) -> appended or
 * not.  Layers are written as "payload-digest/signature" ("-" no signature).
 */
static json_t *
mklayer(const char *spec)
{
	char	 d[80], sig[40];
	json_t	*l;

	if (sscanf(spec, "%79[^/]/%39s", d, sig) != 2)
		return NULL;
	l = json_pack("{s:s, s:s, s:i}", "mediaType", CORE_MT_SIMPLESIGNING,
	    "digest", d, "size", 10);
	if (strcmp(sig, "-") != 0)
		json_object_set_new(l, "annotations", json_pack("{s:s}",
		    CORE_ANN_SIGNATURE, sig));
	return l;
}

static void
test_merge(void)
{
	static const struct {
		const char	*have[3];
		const char	*offer;
		int		 want;		/* 1 appended, 0 already there */
	} rows[] = {
		{ { NULL }, "sha256:a/S1", 1 },
		{ { "sha256:a/S1" }, "sha256:a/S1", 0 },
		{ { "sha256:a/S1" }, "sha256:a/S2", 1 },	/* re-signed */
		{ { "sha256:a/S1" }, "sha256:b/S1", 1 },
		{ { "sha256:a/-" }, "sha256:a/-", 0 },		/* .att/.sbom */
		{ { "sha256:a/-" }, "sha256:a/S1", 1 },
		{ { "sha256:a/S1", "sha256:b/S2" }, "sha256:b/S2", 0 },
	};
	struct core_sigman	 sm, from;
	const char		*errstr;
	size_t			 i, k, n;
	json_t			*l;
	int			 r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		core_sigman_init(&sm);
		core_sigman_open(&sm, NULL, 0, 0, &errstr);
		for (k = 0; k < 3 && rows[i].have[k] != NULL; k++) {
			l = mklayer(rows[i].have[k]);
			core_sigman_append_raw(&sm, l);
			json_decref(l);
		}
		n = core_sigman_count(&sm);
		l = mklayer(rows[i].offer);
		r = core_sigman_merge_layer(&sm, l);
		json_decref(l);
		CHECK(r == rows[i].want, "merge row %zu: %d, want %d", i, r,
		    rows[i].want);
		CHECK(core_sigman_count(&sm) == n + (size_t)rows[i].want,
		    "merge row %zu: count", i);
		core_sigman_free(&sm);
	}
	/* a whole list into another: only what it lacks, idempotent */
	core_sigman_init(&sm);
	core_sigman_init(&from);
	core_sigman_open(&sm, NULL, 0, 0, &errstr);
	core_sigman_open(&from, NULL, 0, 0, &errstr);
	for (i = 0; i < 3; i++) {
		char	spec[40];

		snprintf(spec, sizeof(spec), "sha256:%zu/S%zu", i, i);
		l = mklayer(spec);
		core_sigman_append_raw(&from, l);
		if (i == 1)
			core_sigman_append_raw(&sm, l);
		json_decref(l);
	}
	CHECK(core_sigman_merge(&sm, &from) == 2, "merge: two appended");
	CHECK(core_sigman_merge(&sm, &from) == 0, "merge again: none");
	CHECK(core_sigman_count(&sm) == 3, "merge: three layers");
	core_sigman_free(&from);
	/* a full list refuses a new layer */
	while (core_sigman_count(&sm) < CORE_SIG_LAYERS_MAX) {
		char	spec[40];

		snprintf(spec, sizeof(spec), "sha256:f%zu/S",
		    core_sigman_count(&sm));
		l = mklayer(spec);
		core_sigman_append_raw(&sm, l);
		json_decref(l);
	}
	l = mklayer("sha256:new/S");
	CHECK(core_sigman_merge_layer(&sm, l) == -1, "merge into a full list");
	json_decref(l);
	core_sigman_free(&sm);
}

/* JSON measured before it is parsed: counts, and hostile documents. */
static void
test_json_limits(void)
{
	static const struct {
		const char	*doc;
		int		 rc;
		size_t		 values, depth;
	} rows[] = {
		{ "{}", 0, 1, 1 },
		{ "[1,2,3]", 0, 3, 1 },
		{ "{\"a\":1,\"b\":[true,null]}", 0, 5, 2 },
		{ "{\"a,:{[\":\"]}\\\"\"}", 0, 2, 1 },	/* in strings */
		{ "[[[[]]]]", 0, 1, 4 },
		{ "{\"a\":1", -1, 0, 0 },			/* unbalanced */
		{ "]", -1, 0, 0 },
		{ "\"open", -1, 0, 0 },
	};
	struct core_sigman	 sm;
	struct core_manifest_info mi;
	const char		*errstr;
	char			 err[200], *big;
	const char		*doc;
	size_t			 i, v, d, n;
	json_t			*o;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		v = d = 0;
		CHECK(core_json_measure(rows[i].doc, strlen(rows[i].doc), &v,
		    &d) == rows[i].rc, "measure row %zu", i);
		if (rows[i].rc == 0)
			CHECK(v == rows[i].values && d == rows[i].depth,
			    "measure row %zu: %zu values, depth %zu", i, v, d);
	}
	/* 4 MiB of "{}," as a signature list: refused before parsing */
	n = CORE_SIGMAN_MAX / 3;
	big = malloc(n * 3 + 16);
	strcpy(big, "{\"layers\":[");
	for (i = 0; i < n - 8; i++)
		memcpy(big + 11 + 3 * i, "{},", 3);
	strcpy(big + 11 + 3 * i, "{}]}");
	core_sigman_init(&sm);
	CHECK(core_sigman_open(&sm, big, strlen(big), 0, &errstr) == -1,
	    "a list of a million empty objects is refused");
	CHECK(strstr(errstr, "JSON values, more than 16384") != NULL,
	    "  with the count: %s", errstr);
	CHECK(sm.sm_manifest == NULL, "  and nothing was parsed");
	CHECK(core_manifest_inspect(big, strlen(big), &mi, &errstr) == -1 &&
	    strstr(errstr, "more than 65536") != NULL, "as a manifest: %s",
	    errstr);
	free(big);
	/* nesting */
	big = malloc(200);
	memset(big, '[', 40);
	memset(big + 40, ']', 40);
	big[80] = '\0';
	o = core_json_load(big, 80, &core_json_siglist, err, sizeof(err));
	CHECK(o == NULL && strstr(err, "nested 40 deep") != NULL, "deep: %s",
	    err);
	o = core_json_load(big, 80, &core_json_manifest, err, sizeof(err));
	CHECK(o == NULL && strstr(err, "more than 32") != NULL, "deep: %s",
	    err);
	free(big);
	/* a real list passes */
	doc = "{\"schemaVersion\":2}";
	o = core_json_load(doc, strlen(doc), &core_json_siglist, err,
	    sizeof(err));
	CHECK(o != NULL, "a small document parses: %s", err);
	json_decref(o);
	doc = "{\"a\":1,\"a\":2}";
	o = core_json_load(doc, strlen(doc), &core_json_small, err,
	    sizeof(err));
	CHECK(o == NULL && strstr(err, "not JSON") != NULL,
	    "duplicate keys refused: %s", err);
}

/*
 * What makes a signature object is its content: every layer of a
 * signature, attestation or SBOM type, never the tag it is pushed under;
 * and a cosign v3 signature (bsig) one of one bundle layer, not labelled
 * an attestation.
 */
static void
test_sig_object(void)
{
	static const struct {
		const char	*doc;
		int		 sig, bsig;
	} rows[] = {
		/* cosign's .sig list (OCI, then Docker config) */
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":"
		  "\"application/vnd.oci.image.config.v1+json\"},\"layers\":"
		  "[{\"mediaType\":\"application/vnd.dev.cosign.simplesigning."
		  "v1+json\"}]}", 1 },
		/* .att: DSSE envelopes */
		{ "{\"layers\":[{\"mediaType\":\"application/vnd.dsse."
		  "envelope.v1+json\"},{\"mediaType\":\"application/vnd.dsse."
		  "envelope.v1+json\"}]}", 1 },
		/* .sbom and a cosign v3 bundle referrer */
		{ "{\"layers\":[{\"mediaType\":\"text/spdx+json\"}]}", 1 },
		{ "{\"artifactType\":\"application/vnd.dev.sigstore.bundle."
		  "v0.3+json\",\"layers\":[{\"mediaType\":\"application/vnd."
		  "dev.sigstore.bundle.v0.3+json\"}]}", 1, 1 },
		/* labelled as cosign 3 labels its signatures, its
		 * attestations (SLSA here), and two bundles in one */
		{ "{\"annotations\":{\"dev.sigstore.bundle.predicateType\":"
		  "\"https://sigstore.dev/cosign/sign/v1\"},\"layers\":[{"
		  "\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+"
		  "json\"}]}", 1, 1 },
		{ "{\"annotations\":{\"dev.sigstore.bundle.predicateType\":"
		  "\"https://slsa.dev/provenance/v1\"},\"layers\":[{"
		  "\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+"
		  "json\"}]}", 1, 0 },
		{ "{\"layers\":[{\"mediaType\":\"application/vnd.dev."
		  "sigstore.bundle.v0.3+json\"},{\"mediaType\":\"application/"
		  "vnd.dev.sigstore.bundle.v0.3+json\"}]}", 1, 0 },
		/* a bundle among runnable layers: an image */
		{ "{\"layers\":[{\"mediaType\":\"application/vnd.dev."
		  "sigstore.bundle.v0.3+json\"},{\"mediaType\":\"application/"
		  "vnd.oci.image.layer.v1.tar\"}]}", 0, 0 },
		/* an image, whatever its tag */
		{ "{\"layers\":[{\"mediaType\":\"application/vnd.oci.image."
		  "layer.v1.tar+gzip\"}]}", 0 },
		/* one runnable layer among signatures: an image */
		{ "{\"layers\":[{\"mediaType\":\"application/vnd.dev.cosign."
		  "simplesigning.v1+json\"},{\"mediaType\":\"application/vnd."
		  "docker.image.rootfs.diff.tar.gzip\"}]}", 0 },
		/* a layer without a type, no layers, an index */
		{ "{\"layers\":[{\"mediaType\":\"application/vnd.dev.cosign."
		  "simplesigning.v1+json\"},{\"digest\":\"sha256:00\"}]}", 0 },
		{ "{\"layers\":[]}", 0 },
		{ "{\"config\":{}}", 0 },
		{ "{\"manifests\":[],\"layers\":[{\"mediaType\":\"text/spdx"
		  "\"}]}", 0 },
		/* a look-alike type */
		{ "{\"layers\":[{\"mediaType\":\"application/vnd.dev.cosignX"
		  "\"}]}", 0 },
		{ "{\"layers\":[{\"mediaType\":\"text/spdx+json+gzip\"}]}",
		  0 },
		/* a key Go's encoding/json reads as another (its case, or a
		 * non-ASCII letter it folds): a runtime sees a tar layer */
		{ "{\"layers\":[{\"mediaType\":\"application/vnd.dev.cosign."
		  "simplesigning.v1+json\",\"MediaType\":\"application/vnd.oci."
		  "image.layer.v1.tar+gzip\"}]}", 0 },
		{ "{\"layers\":[{\"mediaType\":\"text/spdx\"}],\"Layers\":"
		  "[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\"}]}",
		  0 },
		{ "{\"layers\":[{\"mediaType\":\"text/spdx\",\"\u017fize\":1}]}",
		  0 },
		{ "{\"layers\":[{\"mediaType\":\"text/spdx\",\"extra\":1}]}",
		  0 },
		{ "{\"config\":{\"mediaType\":\"x\",\"MEDIATYPE\":\"y\"},"
		  "\"layers\":[{\"mediaType\":\"text/spdx\"}]}", 0 },
	};
	struct core_manifest_info	 mi;
	const char			*errstr;
	size_t				 i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		CHECK(core_manifest_inspect(rows[i].doc, strlen(rows[i].doc),
		    &mi, &errstr) == 0, "row %zu parses", i);
		CHECK(mi.is_sig_object == rows[i].sig, "row %zu: a signature "
		    "object is %d, not %d", i, rows[i].sig, mi.is_sig_object);
		CHECK(mi.is_bundle_sig == rows[i].bsig, "row %zu: a cosign v3 "
		    "signature is %d, not %d", i, rows[i].bsig,
		    mi.is_bundle_sig);
	}
}

/* What a signature object's layer names, from its content only. */
static void
test_layer_names(void)
{
	static const char S[] = "sha256:"
	    "1111111111111111111111111111111111111111111111111111111111111111";
	static const char P[] = "sha256:"
	    "2222222222222222222222222222222222222222222222222222222222222222";
	char	pay[512], stmt[512], env[1024], b64[800], why[300];
	size_t	n;
	struct layer_row {
		const char	*mt, *blob, *repo;
		const char	*subject;
		int		 want;
	} rows[6];
	size_t	i;

	snprintf(pay, sizeof(pay), "{\"critical\":{\"identity\":{\"docker-"
	    "reference\":\"reg.example:5000/dev/app\"},\"image\":{\"docker-"
	    "manifest-digest\":\"%s\"},\"type\":\"cosign container image "
	    "signature\"},\"optional\":null}", S);
	snprintf(stmt, sizeof(stmt), "{\"_type\":\"https://in-toto.io/"
	    "Statement/v1\",\"subject\":[{\"name\":\"reg.example/prod/app\","
	    "\"digest\":{\"sha256\":\"%s\"}}],\"predicateType\":\"x\"}", S + 7);
	mbedtls_base64_encode((unsigned char *)b64, sizeof(b64), &n,
	    (const unsigned char *)stmt, strlen(stmt));
	snprintf(env, sizeof(env), "{\"payloadType\":\"application/vnd."
	    "in-toto+json\",\"payload\":\"%s\",\"signatures\":[]}", b64);
	rows[0] = (struct layer_row){ CORE_MT_SIMPLESIGNING, pay, NULL, S, 1 };
	rows[1] = (struct layer_row){ CORE_MT_SIMPLESIGNING, pay, NULL, P, 0 };
	rows[2] = (struct layer_row){ CORE_MT_SIMPLESIGNING, pay, "dev/app", S,
	    1 };
	rows[3] = (struct layer_row){ CORE_MT_SIMPLESIGNING, pay, "prod/app", S,
	    0 };
	rows[4] = (struct layer_row){ CORE_MT_DSSE, env, "prod/app", S, 1 };
	rows[5] = (struct layer_row){ "text/spdx+json", pay, NULL, S, 0 };
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK(core_layer_names(rows[i].mt, rows[i].blob,
		    strlen(rows[i].blob), rows[i].subject, rows[i].repo, why,
		    sizeof(why)) == rows[i].want, "layer row %zu (%s)", i, why);
	CHECK(core_layer_names(CORE_MT_DSSE, env, strlen(env), P, NULL, why,
	    sizeof(why)) == 0, "a statement for S does not name P");
	CHECK(core_layer_names(CORE_MT_DSSE, env, strlen(env), S, "dev/app",
	    why, sizeof(why)) == 0 && strstr(why, "prod/app") != NULL,
	    "nor dev/app: %s", why);
	CHECK(core_layer_names(CORE_MT_SIMPLESIGNING, "{", 1, S, NULL, why,
	    sizeof(why)) == 0, "a broken payload names nothing");
}

/* A Content-Type that disagrees with the manifest's own mediaType. */
static void
test_type_fix(void)
{
	const char	*oci = "{\"mediaType\":\"" CORE_MT_OCI_MANIFEST "\"}";
	const char	*none = "{\"schemaVersion\":2}";
	const char	*odd = "{\"mediaType\":\"text/plain\"}";

	CHECK(core_manifest_type_fix(oci, strlen(oci), CORE_MT_OCI_MANIFEST)
	    == NULL, "agree");
	CHECK(core_manifest_type_fix(oci, strlen(oci), CORE_MT_OCI_MANIFEST
	    "; charset=utf-8") == NULL, "agree, with a parameter");
	CHECK(core_manifest_type_fix(oci, strlen(oci),
	    CORE_MT_DOCKER_MANIFEST) != NULL &&
	    strcmp(core_manifest_type_fix(oci, strlen(oci),
	    CORE_MT_DOCKER_MANIFEST), CORE_MT_OCI_MANIFEST) == 0,
	    "OCI labelled Docker: OCI");
	CHECK(core_manifest_type_fix(oci, strlen(oci), NULL) != NULL,
	    "no Content-Type: the body's");
	CHECK(core_manifest_type_fix(none, strlen(none),
	    CORE_MT_DOCKER_MANIFEST) == NULL, "no mediaType: nothing to say");
	CHECK(core_manifest_type_fix(odd, strlen(odd),
	    CORE_MT_DOCKER_MANIFEST) == NULL, "an unknown mediaType: kept");
}

int
main(void)
{
	const char	*top = getenv("top_srcdir");

	snprintf(vdir, sizeof(vdir), "%s/tests/vectors", top ? top : ".");
	test_cosign_key();
	test_plain_keys();
	test_payload_and_manifest();
	test_real_vectors();
	test_keygen();
	test_tags_globs();
	test_merge();
	test_json_limits();
	test_sig_object();
	test_layer_names();
	test_type_fix();
	return unit_done();
}
