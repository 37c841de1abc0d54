/*
 * tests/unit/test_vdriver.c: the sans-IO verification driver, table-driven.
 * Each row builds a signature list from signatures made here (keys from
 * tests/vectors/keys), answers the driver's requests from an in-memory
 * registry with the row's faults, and checks the verdict, the reason, the
 * number of requests and the layers that verified.  No network, no clock.
 */
#include <mbedtls/base64.h>

#include "core/core.h"
#include "unit.h"

#define DIGEST	"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define OTHER	"sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
#define REF	"registry.example/team/app"

static char kdir[4096];
static struct core_key *signer_a, *signer_b, *signer_c;	/* private */
static struct core_key *pub_a, *pub_b;			/* trusted */

/* What a layer of the list holds. */
enum lkind { L_GOOD, L_OTHER_DIGEST, L_OTHER_REF, L_NOT_SIMPLE, L_HUGE,
    L_BAD_SIZE };

struct layer {
	enum lkind	 kind;
	struct core_key	*by;
};

struct row {
	const char	*name;
	struct layer	 layers[80];
	int		 nlayers;
	int		 list_status;	/* 0: 200 with the list; -1: transport */
	const char	*list_body;	/* instead of the built list */
	int		 payload_status;	/* for every payload; 0: 200 */
	int		 threshold;
	int		 all;
	int		 want_ref;	/* require REF as docker-reference */
	int		 rekor;		/* rekor required (no log keys) */
	enum core_verdict want;
	const char	*want_reason;	/* substring */
	int		 want_requests;
	int		 want_valid;	/* -1: not checked */
};

/* The in-memory registry for one row. */
struct blob {
	char	 digest[CORE_DIGEST_MAX + 1];
	char	*bytes;
	size_t	 len;
};
struct registry {
	char		*list;
	size_t		 listlen;
	char		 sigtag[CORE_TAG_MAX + 1];
	struct blob	 blobs[80];
	int		 nblobs;
};

static struct core_key *
load_private(const char *rel)
{
	char		 path[8192], err[256];
	struct core_key	*k;

	snprintf(path, sizeof(path), "%s/%s", kdir, rel);
	k = core_key_load_private(path, "", err, sizeof(err));
	if (k == NULL) {
		fprintf(stderr, "%s: %s\n", path, err);
		exit(99);
	}
	return k;
}

static struct core_key *
load_public(const char *rel)
{
	char		 path[8192], err[256];
	struct core_key	*k;

	snprintf(path, sizeof(path), "%s/%s", kdir, rel);
	k = core_key_load_public(path, err, sizeof(err));
	if (k == NULL) {
		fprintf(stderr, "%s: %s\n", path, err);
		exit(99);
	}
	return k;
}

static void
add_blob(struct registry *r, const char *bytes, size_t len, char *digest_out)
{
	struct blob	*b = &r->blobs[r->nblobs++];
	char		 hex[65];

	core_sha256_hex(bytes, len, hex);
	snprintf(b->digest, sizeof(b->digest), "sha256:%s", hex);
	b->bytes = malloc(len + 1);
	memcpy(b->bytes, bytes, len);
	b->len = len;
	snprintf(digest_out, CORE_DIGEST_MAX + 1, "%s", b->digest);
}

/* Build the row's list and blobs. */
static void
build(const struct row *w, struct registry *r)
{
	struct core_sigman	 sm;
	const char		*errstr;
	char			*payload, *cfg, pd[CORE_DIGEST_MAX + 1];
	unsigned char		 sig[CORE_SIG_MAX];
	char			 sig64[2 * CORE_SIG_MAX], err[128];
	size_t			 plen, siglen, clen, olen, i;
	json_t			*ann, *l;
	int			 k;

	memset(r, 0, sizeof(*r));
	core_sig_tag(DIGEST, r->sigtag);
	core_sigman_init(&sm);
	core_sigman_open(&sm, NULL, 0, 0, &errstr);
	for (k = 0; k < w->nlayers; k++) {
		const struct layer *ly = &w->layers[k];

		payload = core_sig_payload(ly->kind == L_OTHER_REF ?
		    "registry.example/scratch/evil" : REF,
		    ly->kind == L_OTHER_DIGEST ? OTHER : DIGEST, NULL, &plen);
		core_key_sign(ly->by, payload, plen, sig, &siglen, err,
		    sizeof(err));
		mbedtls_base64_encode((unsigned char *)sig64, sizeof(sig64),
		    &olen, sig, siglen);
		add_blob(r, payload, plen, pd);
		ann = json_pack("{s:s}", CORE_ANN_SIGNATURE, sig64);
		core_sigman_append(&sm, pd, plen, ann);
		json_decref(ann);
		l = json_array_get(json_object_get(sm.sm_manifest, "layers"),
		    (size_t)k);
		if (ly->kind == L_NOT_SIMPLE)
			json_object_set_new(l, "mediaType", json_string(
			    "application/vnd.example.other"));
		else if (ly->kind == L_HUGE)
			json_object_set_new(l, "size", json_integer(
			    CORE_PAYLOAD_MAX + 1));
		else if (ly->kind == L_BAD_SIZE)
			json_object_set_new(l, "size", json_integer(
			    (json_int_t)plen + 1));
		free(payload);
	}
	if (core_sigman_serialize(&sm, &cfg, &clen, &r->list, &r->listlen) ==
	    0)
		free(cfg);
	core_sigman_free(&sm);
	(void)i;
}

static void
teardown(struct registry *r)
{
	int	i;

	for (i = 0; i < r->nblobs; i++)
		free(r->blobs[i].bytes);
	free(r->list);
}

static void
run(const struct row *w)
{
	struct registry		 reg;
	struct core_trust	 t;
	struct core_vopts	 o;
	struct core_vneed	 need;
	struct core_verifier	*v;
	struct core_key		*keys[2] = { pub_a, pub_b };
	const char		*reason;
	enum core_verdict	 d;
	int			 requests = 0, i, found;

	build(w, &reg);
	memset(&t, 0, sizeof(t));
	t.keys = keys;
	t.nkeys = 2;
	t.want_ref = w->want_ref ? REF : NULL;
	t.rekor_required = w->rekor;
	memset(&o, 0, sizeof(o));
	o.trust = &t;
	o.threshold = w->threshold;
	o.all = w->all;
	v = core_verifier_new(&o, DIGEST);
	CHECK(v != NULL, "%s: new", w->name);
	while (v != NULL && core_verifier_next(v, &need) != CORE_VN_DONE &&
	    requests < 200) {
		requests++;
		if (need.kind == CORE_VN_LIST) {
			CHECK(strcmp(need.ref, reg.sigtag) == 0, "%s: list tag "
			    "%s", w->name, need.ref);
			if (w->list_status == -1)
				core_verifier_feed(v, 0, NULL, 0,
				    "connection refused");
			else if (w->list_status != 0)
				core_verifier_feed(v, w->list_status, "{}", 2,
				    NULL);
			else if (w->list_body != NULL)
				core_verifier_feed(v, 200, w->list_body,
				    strlen(w->list_body), NULL);
			else
				core_verifier_feed(v, 200, reg.list,
				    reg.listlen, NULL);
			continue;
		}
		CHECK(need.kind == CORE_VN_PAYLOAD, "%s: need %d", w->name,
		    need.kind);
		CHECK(need.max_len == CORE_PAYLOAD_MAX, "%s: payload limit",
		    w->name);
		if (w->payload_status != 0) {
			core_verifier_feed(v, w->payload_status, "x", 1, NULL);
			continue;
		}
		for (i = 0, found = 0; i < reg.nblobs && !found; i++)
			if (strcmp(reg.blobs[i].digest, need.ref) == 0) {
				core_verifier_feed(v, 200, reg.blobs[i].bytes,
				    reg.blobs[i].len, NULL);
				found = 1;
			}
		if (!found)
			core_verifier_feed(v, 404, "", 0, NULL);
	}
	if (v != NULL) {
		d = core_verifier_verdict(v, &reason);
		CHECK(d == w->want, "%s: verdict %d, want %d (%s)", w->name, d,
		    w->want, reason);
		CHECK(strstr(reason, w->want_reason) != NULL, "%s: reason '%s' "
		    "lacks '%s'", w->name, reason, w->want_reason);
		CHECK(requests == w->want_requests, "%s: %d requests, want %d",
		    w->name, requests, w->want_requests);
		if (w->want_valid >= 0)
			CHECK((int)core_verifier_nvalid(v) == w->want_valid,
			    "%s: %zu valid, want %d", w->name,
			    core_verifier_nvalid(v), w->want_valid);
		if (core_verifier_nvalid(v) > 0) {
			const struct core_vvalid *vv = core_verifier_valid(v, 0);

			CHECK(vv->len > 0 && strstr(vv->payload, DIGEST) !=
			    NULL, "%s: the valid payload is kept", w->name);
		}
	}
	core_verifier_free(v);
	teardown(&reg);
}

int
main(void)
{
	const char	*top = getenv("top_srcdir");
	int		 i;
	struct row	*rows;
	size_t		 nrows = 0;

	snprintf(kdir, sizeof(kdir), "%s/tests/vectors/keys",
	    top != NULL ? top : ".");
	signer_a = load_private("ec-sec1.pem");
	signer_b = load_private("rsa-pkcs1.pem");
	signer_c = load_private("ec384-pkcs8.pem");
	pub_a = load_public("ec-sec1.pub");
	pub_b = load_public("rsa-pkcs1.pub");

	rows = calloc(40, sizeof(*rows));
#define ROW(...) do { struct row r_ = { __VA_ARGS__ }; rows[nrows++] = r_; } while (0)
	ROW(.name = "no list", .list_status = 404, .want = CORE_VERDICT_DENY,
	    .want_reason = "no signature found", .want_requests = 1,
	    .want_valid = 0);
	ROW(.name = "list 500", .list_status = 500,
	    .want = CORE_VERDICT_INDETERMINATE, .want_reason = "HTTP 500",
	    .want_requests = 1, .want_valid = 0);
	ROW(.name = "list 429", .list_status = 429,
	    .want = CORE_VERDICT_INDETERMINATE, .want_reason = "HTTP 429",
	    .want_requests = 1, .want_valid = 0);
	ROW(.name = "list unreachable", .list_status = -1,
	    .want = CORE_VERDICT_INDETERMINATE,
	    .want_reason = "connection refused", .want_requests = 1,
	    .want_valid = 0);
	ROW(.name = "list not JSON", .list_body = "not json",
	    .want = CORE_VERDICT_DENY, .want_reason = "signature list is not JSON",
	    .want_requests = 1, .want_valid = 0);
	ROW(.name = "list an index", .list_body = "{\"schemaVersion\":2,"
	    "\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
	    "\"manifests\":[]}", .want = CORE_VERDICT_DENY,
	    .want_reason = "not an image manifest", .want_requests = 1,
	    .want_valid = 0);
	ROW(.name = "one trusted signature", .nlayers = 1,
	    .layers = { { L_GOOD, NULL } }, .want = CORE_VERDICT_ALLOW,
	    .want_reason = "signed by 1 trusted", .want_requests = 2,
	    .want_valid = 1);
	ROW(.name = "untrusted signer", .nlayers = 1,
	    .layers = { { L_GOOD, (struct core_key *)1 } },
	    .want = CORE_VERDICT_DENY, .want_reason = "not signed by a trusted",
	    .want_requests = 2, .want_valid = 0);
	ROW(.name = "payload missing", .nlayers = 1,
	    .layers = { { L_GOOD, NULL } }, .payload_status = 404,
	    .want = CORE_VERDICT_DENY, .want_reason = "payload is missing",
	    .want_requests = 2, .want_valid = 0);
	ROW(.name = "payload 503", .nlayers = 1,
	    .layers = { { L_GOOD, NULL } }, .payload_status = 503,
	    .want = CORE_VERDICT_INDETERMINATE, .want_reason = "HTTP 503",
	    .want_requests = 2, .want_valid = 0);
	/* a rate limit or a refusal is no "missing payload": no verdict */
	ROW(.name = "payload 429", .nlayers = 1,
	    .layers = { { L_GOOD, NULL } }, .payload_status = 429,
	    .want = CORE_VERDICT_INDETERMINATE, .want_reason = "HTTP 429",
	    .want_requests = 2, .want_valid = 0);
	ROW(.name = "payload 403", .nlayers = 1,
	    .layers = { { L_GOOD, NULL } }, .payload_status = 403,
	    .want = CORE_VERDICT_INDETERMINATE, .want_reason = "HTTP 403",
	    .want_requests = 2, .want_valid = 0);
	ROW(.name = "payload size differs", .nlayers = 1,
	    .layers = { { L_BAD_SIZE, NULL } }, .want = CORE_VERDICT_DENY,
	    .want_reason = "does not match its descriptor", .want_requests = 2,
	    .want_valid = 0);
	ROW(.name = "payload over 64 KiB not fetched", .nlayers = 1,
	    .layers = { { L_HUGE, NULL } }, .want = CORE_VERDICT_DENY,
	    .want_reason = "larger than 64 KiB", .want_requests = 1,
	    .want_valid = 0);
	ROW(.name = "other media type skipped", .nlayers = 2,
	    .layers = { { L_NOT_SIMPLE, NULL }, { L_GOOD, NULL } },
	    .want = CORE_VERDICT_ALLOW, .want_reason = "signed by 1",
	    .want_requests = 2, .want_valid = 1);
	ROW(.name = "signature for another digest", .nlayers = 1,
	    .layers = { { L_OTHER_DIGEST, NULL } }, .want = CORE_VERDICT_DENY,
	    .want_reason = "digest mismatch", .want_requests = 2,
	    .want_valid = 0);
	ROW(.name = "identity: another repository", .nlayers = 1,
	    .layers = { { L_OTHER_REF, NULL } }, .want_ref = 1,
	    .want = CORE_VERDICT_DENY, .want_reason = "scratch/evil",
	    .want_requests = 2, .want_valid = 0);
	ROW(.name = "identity: this repository", .nlayers = 1,
	    .layers = { { L_GOOD, NULL } }, .want_ref = 1,
	    .want = CORE_VERDICT_ALLOW, .want_reason = "signed by 1",
	    .want_requests = 2, .want_valid = 1);
	ROW(.name = "rekor required, no bundle", .nlayers = 1,
	    .layers = { { L_GOOD, NULL } }, .rekor = 1,
	    .want = CORE_VERDICT_DENY, .want_reason = "no bundle",
	    .want_requests = 2, .want_valid = 0);
	ROW(.name = "threshold 2, two signers", .nlayers = 2,
	    .layers = { { L_GOOD, NULL }, { L_GOOD, (struct core_key *)2 } },
	    .threshold = 2, .want = CORE_VERDICT_ALLOW,
	    .want_reason = "signed by 2", .want_requests = 3, .want_valid = 2);
	ROW(.name = "threshold 2, one signer twice", .nlayers = 2,
	    .layers = { { L_GOOD, NULL }, { L_OTHER_DIGEST, NULL } },
	    .threshold = 2, .want = CORE_VERDICT_DENY,
	    .want_reason = "1 trusted signer(s), 2 required",
	    .want_requests = 3, .want_valid = 1);
	ROW(.name = "stops at the threshold", .nlayers = 3,
	    .layers = { { L_GOOD, NULL }, { L_GOOD, (struct core_key *)2 },
	    { L_GOOD, NULL } }, .want = CORE_VERDICT_ALLOW,
	    .want_reason = "signed by 1", .want_requests = 2, .want_valid = 1);
	ROW(.name = "all: every layer checked", .nlayers = 3, .all = 1,
	    .layers = { { L_GOOD, NULL }, { L_GOOD, (struct core_key *)1 },
	    { L_GOOD, (struct core_key *)2 } }, .want = CORE_VERDICT_ALLOW,
	    .want_reason = "signed by 2", .want_requests = 4, .want_valid = 2);
#undef ROW
	/* the 65th layer is past the limit: never fetched */
	{
		struct row r = { .name = "past the layer limit", .nlayers = 66,
		    .want = CORE_VERDICT_DENY, .want_reason = "not signed by",
		    .want_requests = 1 + CORE_VERIFY_LAYERS_MAX,
		    .want_valid = 0 };

		for (i = 0; i < 66; i++)
			r.layers[i].by = (struct core_key *)1;
		r.layers[65].by = NULL;
		rows[nrows++] = r;
	}
	for (i = 0; i < (int)nrows; i++) {
		int k;

		/* NULL: signer a; 1: the untrusted c; 2: b */
		for (k = 0; k < rows[i].nlayers; k++)
			rows[i].layers[k].by = rows[i].layers[k].by == NULL ?
			    signer_a : rows[i].layers[k].by ==
			    (struct core_key *)1 ? signer_c : signer_b;
		run(&rows[i]);
	}
	/* a malformed digest is refused at once */
	{
		struct core_vopts o = { 0 };

		CHECK(core_verifier_new(&o, "sha256:abc") == NULL,
		    "malformed digest refused");
	}
	free(rows);
	core_key_free(signer_a);
	core_key_free(signer_b);
	core_key_free(signer_c);
	core_key_free(pub_a);
	core_key_free(pub_b);
	return unit_done();
}
