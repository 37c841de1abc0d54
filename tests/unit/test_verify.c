/*
 * Unit tests: every row of tests/vectors/cosign/README.md, and the worked
 * example's bundle, through core_verify_signature.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"
#include "unit.h"

static char vdir[4096];

static char *
slurp(const char *rel, size_t *len)
{
	return unit_slurp(vdir, rel, len);
}

static char *
chomped(const char *rel)
{
	size_t	 n;
	char	*s = slurp(rel, &n);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static struct core_key *
pub(const char *rel)
{
	char		 path[8192], err[256];
	struct core_key	*k;

	snprintf(path, sizeof(path), "%s/%s", vdir, rel);
	k = core_key_load_public(path, err, sizeof(err));
	if (k == NULL) {
		fprintf(stderr, "%s\n", err);
		exit(99);
	}
	return k;
}

/* The case's manifest digest, as a verifier computes it from the bytes. */
static void
case_digest(const char *c, char out[72])
{
	char	 rel[256], hex[65], *m;
	size_t	 n;

	snprintf(rel, sizeof(rel), "cosign/%s/manifest.json", c);
	m = slurp(rel, &n);
	core_sha256_hex(m, n, hex);
	snprintf(out, 72, "sha256:%s", hex);
	free(m);
}

/* change one character to another of the same alphabet */
static void
flip(char *p)
{
	*p = *p == '0' ? '1' : (*p == 'A' ? 'B' : (*p >= 'a' && *p <= 'f' ?
	    (*p == 'a' ? 'b' : 'a') : 'A'));
}

/* verify a case; spoil 1-4 changes one byte of one input */
static int
run(const char *c, struct core_key *key, struct core_key *rekor,
    const char *digest_override, int drop_bundle, int spoil,
    char *reason, size_t rlen)
{
	struct core_trust	 t = { 0 };
	char			 rel[8192], digest[72], *payload, *sig, *bundle = NULL;
	size_t			 plen;
	int			 rc;

	snprintf(rel, sizeof(rel), "cosign/%s/payload.json", c);
	payload = slurp(rel, &plen);
	snprintf(rel, sizeof(rel), "cosign/%s/signature.b64", c);
	sig = chomped(rel);
	snprintf(rel, sizeof(rel), "%s/cosign/%s/bundle.json", vdir, c);
	if (access(rel, R_OK) == 0 && !drop_bundle) {
		snprintf(rel, sizeof(rel), "cosign/%s/bundle.json", c);
		bundle = chomped(rel);
	}
	case_digest(c, digest);
	if (digest_override != NULL)
		snprintf(digest, sizeof(digest), "%s", digest_override);
	switch (spoil) {
	case 1:			/* a payload byte */
		payload[20] ^= 1;
		break;
	case 2:			/* a byte of Payload.body, still base64 */
		if (bundle != NULL)
			flip(strstr(bundle, "\"body\":\"") + 8 + 40);
		break;
	case 3:			/* a byte of the SET */
		if (bundle != NULL)
			flip(strstr(bundle, "\"SignedEntryTimestamp\":\"") + 24 +
			    30);
		break;
	case 4:			/* a hex digit of the logID */
		if (bundle != NULL)
			flip(strstr(bundle, "\"logID\":\"") + 9);
		break;
	}
	t.keys = &key;
	t.nkeys = 1;
	if (rekor != NULL) {
		t.rekor = &rekor;
		t.nrekor = 1;
		t.rekor_required = 1;
	}
	rc = core_verify_signature(&t, digest, payload, plen, sig, bundle,
	    reason, rlen);
	free(payload);
	free(sig);
	free(bundle);
	return rc;
}

static void
test_signer_set(void)
{
	char	set[2][CORE_SIGNER_MAX];
	int	n = 0;

	CHECK(core_signer_add(set, &n, 2, "a") == 1, "first signer");
	CHECK(core_signer_add(set, &n, 2, "a") == 1, "same signer once");
	CHECK(core_signer_add(set, &n, 2, "keyless:b") == 2, "second signer");
	CHECK(core_signer_add(set, &n, 2, "c") == 2 && n == 2,
	    "full set stays at max");
	CHECK(strcmp(set[1], "keyless:b") == 0, "kept in order");
}

int
main(void)
{
	const char	*top = getenv("top_srcdir");
	struct core_key	*k1, *k2, *rk;
	char		 reason[256];
	int		 rc, i;

	test_signer_set();
	snprintf(vdir, sizeof(vdir), "%s/tests/vectors", top ? top : ".");
	k1 = pub("cosign/trust/cosign.pub");
	k2 = pub("cosign/trust/cosign2.pub");
	rk = pub("cosign/trust/rekor.pub");

	rc = run("valid", k1, NULL, NULL, 0, 0, reason, sizeof(reason));
	CHECK(rc == 0, "valid / cosign.pub: %s", reason);
	rc = run("valid", k2, NULL, NULL, 0, 0, reason, sizeof(reason));
	CHECK(rc == -1 && strstr(reason, "not signed by a trusted key"),
	    "valid / cosign2.pub: %s", reason);
	rc = run("valid-2", k1, NULL, NULL, 0, 0, reason, sizeof(reason));
	CHECK(rc == 0, "valid-2: %s", reason);
	rc = run("unknown-key", k1, NULL, NULL, 0, 0, reason, sizeof(reason));
	CHECK(rc == -1 && strstr(reason, "trusted"), "unknown-key: %s", reason);
	rc = run("key-rekor-valid", k2, rk, NULL, 0, 0, reason, sizeof(reason));
	CHECK(rc == 0, "key-rekor-valid with rekor.pub: %s", reason);
	{
		/* several log keys: the SET's logID picks rekor.pub */
		struct core_key		*logs[2] = { k1, rk };
		struct core_trust	 t2 = { 0 };
		char			*p, *sg, *b;
		size_t			 pl;
		char			 d[72];

		p = slurp("cosign/key-rekor-valid/payload.json", &pl);
		sg = chomped("cosign/key-rekor-valid/signature.b64");
		b = chomped("cosign/key-rekor-valid/bundle.json");
		case_digest("key-rekor-valid", d);
		t2.keys = &k2;
		t2.nkeys = 1;
		t2.rekor = logs;
		t2.nrekor = 2;
		t2.rekor_required = 1;
		CHECK(core_verify_signature(&t2, d, p, pl, sg, b, reason,
		    sizeof(reason)) == 0, "two log keys, logID selects: %s",
		    reason);
		free(p);
		free(sg);
		free(b);
	}
	rc = run("key-rekor-valid", k2, k1, NULL, 0, 0, reason, sizeof(reason));
	CHECK(rc == -1 && strstr(reason, "logID"), "rekor key cosign.pub: %s",
	    reason);
	rc = run("key-rekor-valid", k2, rk, NULL, 1, 0, reason, sizeof(reason));
	CHECK(rc == -1 && strstr(reason, "no bundle"), "bundle removed: %s",
	    reason);
	for (i = 2; i <= 4; i++) {
		rc = run("key-rekor-valid", k2, rk, NULL, 0, i, reason,
		    sizeof(reason));
		CHECK(rc == -1, "bundle spoiled (%d) accepted", i);
	}
	rc = run("valid", k1, NULL, NULL, 0, 1, reason, sizeof(reason));
	CHECK(rc == -1, "payload byte changed accepted");
	rc = run("valid", k1, NULL, "sha256:0000000000000000000000000000000000"
	    "000000000000000000000000000000", 0, 0, reason, sizeof(reason));
	CHECK(rc == -1 && strstr(reason, "digest mismatch"), "other digest: %s",
	    reason);

	/* the worked example's bundle under its own test log key */
	{
		struct core_key	*wk = pub("worked-example/cosign.pub");
		struct core_key	*wr = pub("worked-example/rekor.pub");
		char		*payload, *bundle;
		size_t		 plen;
		const char	*sig = "MEUCICQy8aTKZEAimg0/t5neI3JWd9c+ZifKkGUttjoOMr"
				    "TEAiEA3Ft/Emks70TC/ZAEA+ZvSC4udY5G3zOUCxR/Ueyp"
				    "dK4=";

		payload = slurp("worked-example/payload.json", &plen);
		while (plen > 0 && payload[plen - 1] == '\n')
			payload[--plen] = '\0';
		bundle = chomped("worked-example/bundle-annotation.json");
		CHECK(core_rekor_check_bundle(&wr, 1, bundle, payload, plen, sig,
		    wk, reason, sizeof(reason)) == 0, "worked example bundle: %s",
		    reason);
		CHECK(core_rekor_check_bundle(&wr, 1, bundle, payload, plen, sig,
		    k1, reason, sizeof(reason)) == -1 &&
		    strstr(reason, "another public key"), "other signer: %s",
		    reason);
		free(payload);
		free(bundle);
		core_key_free(wk);
		core_key_free(wr);
	}

	/* identity and claims */
	{
		static const char p[] = "{\"critical\":{\"identity\":{\"docker-"
		    "reference\":\"r.example/a\"},\"image\":{\"docker-manifest-"
		    "digest\":\"sha256:ab\"},\"type\":\"cosign container image "
		    "signature\"},\"optional\":null}";

		CHECK(core_payload_check(p, sizeof(p) - 1, "sha256:ab",
		    "r.example/a", reason, sizeof(reason)) == 0, "identity ok");
		CHECK(core_payload_check(p, sizeof(p) - 1, "sha256:ab",
		    "r.example/b", reason, sizeof(reason)) == -1 &&
		    strstr(reason, "names r.example/a"), "identity: %s", reason);
		CHECK(core_payload_check("{\"critical\":{}}", 15, "sha256:ab",
		    NULL, reason, sizeof(reason)) == -1 &&
		    strstr(reason, "critical.type"), "type: %s", reason);
		CHECK(core_payload_check("[1]", 3, "sha256:ab", NULL, reason,
		    sizeof(reason)) == -1, "not json object");
	}
	core_key_free(k1);
	core_key_free(k2);
	core_key_free(rk);
	return unit_done();
}
