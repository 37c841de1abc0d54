/*
 * proxy/server/verify.c: verify a manifest pulled through signet before the client
 * gets it.
 *
 * The manifest is fetched whole (it is at most 4 MiB); its digest is the
 * sha256 of the bytes that will be forwarded, never a tag.  A decision is
 * cached per (repository, digest, trust material): successes for
 * verify_cache.success_ttl, failures for failure_ttl, so a cached pull adds
 * no upstream request.  Concurrent misses for one key wait on the same
 * verification.  An upstream error while reading signatures is
 * "indeterminate": a 502, never cached, never taken as "unsigned".
 *
 * The signatures themselves are checked by the core driver (core/vdriver.c)
 * run against the upstream by sigcheck.c, as `signet verify` and `signet
 * copy --verify` check them: this file adds the manifest, the cache, the
 * waiters and the answer to the client.
 *
 * Children listed in a verified index are allowed when pulled by digest;
 * a child pulled without a verified parent needs its own signature.
 *
 * Every manifest is verified whatever its tag: a signature, attestation or
 * SBOM object (sha256-<hex>.sig and the like, cosign v3's referrers) is
 * allowed by its content only, every layer of a signature type, so an image
 * pushed upstream under a cosign-shaped tag is verified like any image.
 */
#include <sys/mman.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <strings.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>

#include "server.h"

#define ACCEPT_LIST	CORE_MT_OCI_MANIFEST ", " CORE_MT_DOCKER_MANIFEST ", " \
			CORE_MT_OCI_INDEX ", " CORE_MT_DOCKER_LIST
#define WARN_HEADER		"Signet-Verification"

enum decision { D_ALLOW, D_DENY, D_INDETERMINATE };

static const char *const decision_names[] = {
	[D_ALLOW] = "allow", [D_DENY] = "deny",
	[D_INDETERMINATE] = "indeterminate",
};

/* Cache entries and the verifications in flight share one table. */
struct vc_entry {
	TAILQ_ENTRY(vc_entry)	 e_entry;	/* in vcache, most recent first */
	TAILQ_ENTRY(vc_entry)	 e_hash;	/* in its bucket */
	char			 e_key[CORE_NAME_MAX + CORE_DIGEST_MAX + 80];
	enum decision		 e_decision;
	char			 e_reason[256];
	char			 e_signer[300];
	time_t			 e_expires;
	time_t			 e_walked_until;	/* children, blobs allowed */
	int			 e_pending;	/* a verification runs */
	int			 e_sigobj;	/* allowed as a signature object
						 * (its content), not signed:
						 * nothing it names is allowed */
	TAILQ_HEAD(, px_verify)	 e_waiters;
};

static TAILQ_HEAD(vc_entry_head, vc_entry) vcache =
    TAILQ_HEAD_INITIALIZER(vcache);
static long vcache_count;
/* Lookups by key go through a hash table: a cached pull of an index with
 * thousands of children must not scan the whole cache for each. */
#define VC_BUCKETS	16384
static TAILQ_HEAD(vc_bucket, vc_entry) vc_buckets[VC_BUCKETS];
static int vc_init;
/* the counters: here, or in this worker's shared slot (px_verify_stats_at) */
static struct px_verify_stats vstats_own, *vstats = &vstats_own;

/* Latency of verifications that went to the registry (not cached), ms. */
static const double hist_le[] = { 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000,
    2500 };
#define NBUCKETS	(sizeof(hist_le) / sizeof(*hist_le))
_Static_assert(NBUCKETS == PX_VERIFY_BUCKETS, "PX_VERIFY_BUCKETS");

void
px_verify_stats_at(struct px_verify_stats *at)
{
	vstats = at != NULL ? at : &vstats_own;
}

void
px_verify_histogram(const struct px_verify_stats *vs, char *buf, size_t len)
{
	uint64_t	cum = 0;
	size_t		i;
	int		n;

	n = snprintf(buf, len, "# HELP signet_verification_seconds Time to "
	    "verify a manifest (cache misses).\n"
	    "# TYPE signet_verification_seconds histogram\n");
	for (i = 0; i <= NBUCKETS && n > 0 && (size_t)n < len; i++) {
		cum += vs->hist[i];
		if (i < NBUCKETS)
			n += snprintf(buf + n, len - (size_t)n,
			    "signet_verification_seconds_bucket{le=\"%g\"} "
			    "%llu\n", hist_le[i] / 1000.0,
			    (unsigned long long)cum);
		else
			n += snprintf(buf + n, len - (size_t)n,
			    "signet_verification_seconds_bucket{le=\"+Inf\"} "
			    "%llu\nsignet_verification_seconds_sum %.6f\n"
			    "signet_verification_seconds_count %llu\n",
			    (unsigned long long)cum, vs->hist_sum / 1000.0,
			    (unsigned long long)cum);
	}
}

static void
hist_add(double ms)
{
	size_t	i;

	for (i = 0; i < NBUCKETS && ms > hist_le[i]; i++)
		;
	vstats->hist[i]++;
	vstats->hist_sum += ms;
}

enum vstate { V_QUEUED, V_MANIFEST, V_WAIT, V_CHECK, V_DONE };

struct px_verify {
	TAILQ_ENTRY(px_verify)	 v_wait;
	TAILQ_ENTRY(px_verify)	 v_queue;	/* waiting for a slot */
	int			 v_slot;	/* holds a verification slot */
	struct px_conn		*v_conn;
	enum vstate		 v_state;
	const struct conf_policy *v_policy;
	struct vc_entry		*v_entry;	/* owned verification, or waited */
	int			 v_owner;
	int			 v_sigobj;	/* allowed by content */
	struct px_fetch		*v_manifest;	/* the answer to forward */
	struct core_trust	 v_trust;	/* the rule's, for v_run */
	struct core_verifier	*v_run;		/* the signatures, checked */
	struct px_auth		*v_authjob;	/* registry_auth's token */
	struct px_sigcheck	*v_check;	/* ... against the upstream */
	char			 v_repo[CORE_NAME_MAX + 1];
	char			 v_sigrepo[CORE_NAME_MAX + 1];
	char			 v_digest[CORE_DIGEST_MAX + 1];
	char			 v_origin[300];
	char			 v_want_ref[CORE_NAME_MAX + 300];
	struct timeval		 v_start;
	int			 v_cached;
	int			 v_is_get;	/* v_manifest holds the bytes */
	/* a HEAD whose signatures did not allow it: its content is read
	 * (a signature object is allowed by what it is) before the verdict */
	struct px_fetch		*v_content;
	enum decision		 v_verdict;
	char			 v_verdict_reason[256];
	char			 v_accept[2048];	/* the client's, all of it */
};

static void	decide(struct px_verify *, enum decision, const char *reason,
		    int cache);
static struct px_fetch *manifest_request(struct px_verify *, const char *);

/*
 * At most limits.verifications verified pulls run at once (their manifest,
 * signature list and payloads are in memory), the others wait in a queue
 * of limits.verification_queue, and beyond that get 503 with Retry-After:
 * a flood of pulls costs a bounded amount, and /healthz stays quick.
 */
static TAILQ_HEAD(, px_verify) vqueue = TAILQ_HEAD_INITIALIZER(vqueue);

static void
slot_take(struct px_verify *v)
{
	v->v_slot = 1;
	vstats->active++;
	v->v_state = V_MANIFEST;
	v->v_manifest = manifest_request(v, v->v_conn->c_req.method);
}

/* The verification no longer needs its slot: the next one in line gets it. */
static void
slot_release(struct px_verify *v)
{
	struct px_verify	*next;

	if (v->v_state == V_QUEUED && !v->v_slot) {
		TAILQ_REMOVE(&vqueue, v, v_queue);
		vstats->waiting--;
		v->v_state = V_DONE;
		return;
	}
	if (!v->v_slot)
		return;
	v->v_slot = 0;
	vstats->active--;
	next = TAILQ_FIRST(&vqueue);
	if (next != NULL) {
		TAILQ_REMOVE(&vqueue, next, v_queue);
		vstats->waiting--;
		slot_take(next);
	}
}

const struct px_verify_stats *
px_verify_stats(void)
{
	return vstats;
}

/* Cache */

static void
vc_key(char *out, size_t len, const char *repo, const char *digest,
    const struct conf_policy *p)
{
	snprintf(out, len, "%s@%s#%s", repo, digest, p->trust_id);
}

static unsigned
vc_hash(const char *key)
{
	uint32_t	h = 2166136261u;	/* FNV-1a */

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % VC_BUCKETS;
}

static void
vc_remove(struct vc_entry *e)
{
	TAILQ_REMOVE(&vcache, e, e_entry);
	TAILQ_REMOVE(&vc_buckets[vc_hash(e->e_key)], e, e_hash);
	vcache_count--;
	free(e);
}

static struct vc_entry *
vc_find(const char *key)
{
	struct vc_entry	*e;
	unsigned	 h;
	int		 i;

	if (!vc_init) {
		for (i = 0; i < VC_BUCKETS; i++)
			TAILQ_INIT(&vc_buckets[i]);
		vc_init = 1;
	}
	h = vc_hash(key);
	TAILQ_FOREACH(e, &vc_buckets[h], e_hash)
		if (strcmp(e->e_key, key) == 0)
			break;
	if (e == NULL)
		return NULL;
	if (!e->e_pending && e->e_expires <= time(NULL)) {
		vc_remove(e);
		return NULL;
	}
	/* most recently used first: eviction takes from the tail */
	TAILQ_REMOVE(&vcache, e, e_entry);
	TAILQ_INSERT_HEAD(&vcache, e, e_entry);
	return e;
}

static struct vc_entry *
vc_add(const char *key, long max)
{
	struct vc_entry	*e, *last;

	if (!vc_init)
		(void)vc_find(key);	/* initialises the buckets */
	while (vcache_count >= max) {
		last = TAILQ_LAST(&vcache, vc_entry_head);
		while (last != NULL && last->e_pending)
			last = TAILQ_PREV(last, vc_entry_head, e_entry);
		if (last == NULL)
			break;
		vc_remove(last);
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	snprintf(e->e_key, sizeof(e->e_key), "%s", key);
	TAILQ_INIT(&e->e_waiters);
	TAILQ_INSERT_HEAD(&vcache, e, e_entry);
	TAILQ_INSERT_HEAD(&vc_buckets[vc_hash(e->e_key)], e, e_hash);
	vcache_count++;
	return e;
}

/* An allow decision for key (a child, or a blob), unless one is pending. */
/*
 * Allowances across workers.  A blob allowed by strict_blobs, or a child
 * of a verified index, is recorded by the worker that verified the
 * manifest; the GET that follows may land on another worker.  With several
 * workers every allowance also goes into a table in a mapping shared
 * before the fork: per key, a 128-bit hash of it and an expiry.  A writer
 * clears the expiry first and sets it last; a reader takes a slot only
 * when its expiry is live before and after it compared the hash.  Two
 * writers racing on one slot can leave a hash that is neither key's, which
 * matches nothing: an entry can be lost, never granted to another key.
 */
#define SHARED_SLOTS	32768	/* 24 bytes each */
#define SHARED_PROBE	8

struct shared_allow {
	uint64_t	h[2];
	int64_t		expires;
};
static struct shared_allow *shared;	/* NULL: one process */

int
px_verify_share(char *err, size_t errlen)
{
	void	*p;

	p = mmap(NULL, sizeof(*shared) * SHARED_SLOTS, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "shared allowances: %s", strerror(errno));
		return -1;
	}
	shared = p;	/* zeroed: every slot expired */
	return 0;
}

static void
shared_hash(const char *key, uint64_t h[2])
{
	unsigned char	d[32];

	(void)mbedtls_sha256_ret((const unsigned char *)key, strlen(key), d, 0);
	memcpy(h, d, 2 * sizeof(*h));
}

static void
shared_add(const char *key, time_t expires)
{
	struct shared_allow	*sl, *pick = NULL;
	uint64_t		 h[2];
	int64_t			 now = time(NULL), e, oldest = INT64_MAX;
	size_t			 i;

	if (shared == NULL)
		return;
	shared_hash(key, h);
	for (i = 0; i < SHARED_PROBE; i++) {
		sl = &shared[(h[0] + i) % SHARED_SLOTS];
		e = __atomic_load_n(&sl->expires, __ATOMIC_ACQUIRE);
		if (e > now && sl->h[0] == h[0] && sl->h[1] == h[1]) {
			pick = sl;	/* the same key: a new expiry */
			break;
		}
		if (e < oldest) {	/* else the emptiest, the oldest */
			oldest = e;
			pick = sl;
		}
	}
	__atomic_store_n(&pick->expires, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&pick->h[0], h[0], __ATOMIC_RELAXED);
	__atomic_store_n(&pick->h[1], h[1], __ATOMIC_RELAXED);
	__atomic_store_n(&pick->expires, (int64_t)expires, __ATOMIC_RELEASE);
}

static int
shared_has(const char *key)
{
	struct shared_allow	*sl;
	uint64_t		 h[2];
	int64_t			 now = time(NULL), e;
	size_t			 i;

	if (shared == NULL)
		return 0;
	shared_hash(key, h);
	for (i = 0; i < SHARED_PROBE; i++) {
		sl = &shared[(h[0] + i) % SHARED_SLOTS];
		e = __atomic_load_n(&sl->expires, __ATOMIC_ACQUIRE);
		if (e <= now ||
		    __atomic_load_n(&sl->h[0], __ATOMIC_RELAXED) != h[0] ||
		    __atomic_load_n(&sl->h[1], __ATOMIC_RELAXED) != h[1])
			continue;
		if (__atomic_load_n(&sl->expires, __ATOMIC_ACQUIRE) == e)
			return 1;
	}
	return 0;
}

static void
allow_key(struct px_verify *v, const char *key, const struct conf *cf,
    const char *reason, const char *signer)
{
	struct vc_entry	*e = vc_find(key);

	if (e == NULL)
		e = vc_add(key, cf->vcache_max);
	if (e == NULL || e->e_pending)
		return;
	e->e_decision = D_ALLOW;
	snprintf(e->e_reason, sizeof(e->e_reason), "%s %s", reason,
	    v->v_digest);
	snprintf(e->e_signer, sizeof(e->e_signer), "%s", signer);
	e->e_expires = time(NULL) + cf->vcache_ok_ttl;
	shared_add(key, e->e_expires);
}

/*
 * What a verified manifest allows, parsed once: the children of an index
 * when pulled by digest, and with strict_blobs the blobs of an image.
 */
static void
walk_manifest(struct px_verify *v, const char *body, size_t len,
    const struct conf *cf, const char *signer)
{
	struct vc_entry	*e;
	json_t		*o, *m, *layers;
	const char	*d;
	char		 key[sizeof(e->e_key)], blobkey[CORE_DIGEST_MAX + 8];
	char		 childkey[CORE_DIGEST_MAX + 8];
	size_t		 i, n;

	vstats->index_walks++;
	o = core_json_parse(body, len, &core_json_manifest);
	json_array_foreach(json_object_get(o, "manifests"), i, m) {
		d = json_string_value(json_object_get(m, "digest"));
		if (d == NULL || !core_digest_valid(d, strlen(d)))
			continue;
		snprintf(childkey, sizeof(childkey), "child:%s", d);
		vc_key(key, sizeof(key), v->v_repo, childkey, v->v_policy);
		allow_key(v, key, cf, "listed in verified index", signer);
	}
	if (v->v_policy->strict_blobs) {
		layers = json_object_get(o, "layers");
		n = json_array_size(layers);
		for (i = 0; i <= n; i++) {
			m = i < n ? json_array_get(layers, i) :
			    json_object_get(o, "config");
			d = json_string_value(json_object_get(m, "digest"));
			if (d == NULL || !core_digest_valid(d, strlen(d)))
				continue;
			snprintf(blobkey, sizeof(blobkey), "blob:%s", d);
			vc_key(key, sizeof(key), v->v_repo, blobkey,
			    v->v_policy);
			allow_key(v, key, cf, "referenced by verified manifest",
			    "");
		}
	}
	json_decref(o);
}

/*
 * With strict_blobs on the signature repository: the blobs of the
 * signatures that verified (payloads, bundles), for a cosign client that
 * reads them after the image.  A signature object is allowed by its
 * content, so the blobs it names are not; these are the ones that proved
 * something.
 */
static void
allow_sig_blobs(struct px_verify *v, const struct conf *cf)
{
	const struct conf_policy	*p;
	const struct core_vvalid	*vv;
	char				 key[sizeof(((struct vc_entry *)0)->e_key)];
	char				 blobkey[CORE_DIGEST_MAX + 8];
	size_t				 i;

	p = conf_policy_for(cf, v->v_sigrepo);
	if (v->v_run == NULL || p == NULL || !p->strict_blobs)
		return;
	for (i = 0; i < core_verifier_nvalid(v->v_run); i++) {
		vv = core_verifier_valid(v->v_run, i);
		if (vv->blob[0] == '\0')
			continue;
		snprintf(blobkey, sizeof(blobkey), "blob:%s", vv->blob);
		vc_key(key, sizeof(key), v->v_sigrepo, blobkey, p);
		allow_key(v, key, cf, "a signature that verified", "");
	}
}

int
px_verify_blob_ok(struct px_conn *c, const char **reason)
{
	const struct conf_policy *p;
	struct vc_entry		*e;
	char			 key[sizeof(e->e_key)];
	char			 blobkey[CORE_DIGEST_MAX + 8];

	*reason = NULL;
	if (c->c_route.kind != CORE_R_BLOB ||
	    strcmp(c->c_req.method, "GET") != 0)
		return 1;
	p = conf_policy_for(c->c_conf, c->c_route.name);
	if (p == NULL || !p->strict_blobs || p->verify == CONF_VERIFY_OFF)
		return 1;
	snprintf(blobkey, sizeof(blobkey), "blob:%s", c->c_route.ref);
	vc_key(key, sizeof(key), c->c_route.name, blobkey, p);
	e = vc_find(key);
	if (e != NULL && !e->e_pending && e->e_decision == D_ALLOW)
		return 1;
	if (shared_has(key))
		return 1;	/* verified by another worker */
	vstats->blobs_denied++;
	*reason = "signet: this blob is not referenced by a verified manifest "
	    "in this repository (strict_blobs): pull the image by its tag or "
	    "digest first";
	return p->verify == CONF_VERIFY_WARN;
}

/*
 * Who the client said it is, for the audit line only (never a decision):
 * the user of Basic credentials, or the "sub" of a JWT bearer token.
 */
static const char *
client_user(struct px_conn *c, char *buf, size_t len)
{
	const char	*a = px_http_req_header(&c->c_req, "authorization");
	const char	*dot1, *dot2;
	unsigned char	 dec[1024];
	char		 b64[1400];
	size_t		 n, i, dlen;
	json_error_t	 jerr;
	json_t		*o;

	if (a == NULL)
		return NULL;
	if (strncasecmp(a, "Basic ", 6) == 0) {
		if (mbedtls_base64_decode(dec, sizeof(dec) - 1, &dlen,
		    (const unsigned char *)a + 6, strlen(a + 6)) != 0)
			return "(unreadable)";
		dec[dlen] = '\0';
		n = strcspn((char *)dec, ":");
		snprintf(buf, len, "%.*s", (int)n, (char *)dec);
		mbedtls_platform_zeroize(dec, sizeof(dec));
		return buf;
	}
	if (strncasecmp(a, "Bearer ", 7) != 0)
		return "(authenticated)";
	dot1 = strchr(a + 7, '.');
	dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	n = dot2 != NULL ? (size_t)(dot2 - dot1 - 1) : 0;
	if (n == 0 || n + 4 >= sizeof(b64))
		return "(authenticated)";
	/* base64url to base64, padded */
	for (i = 0; i < n; i++)
		b64[i] = dot1[1 + i] == '-' ? '+' : dot1[1 + i] == '_' ? '/' :
		    dot1[1 + i];
	while (i % 4 != 0)
		b64[i++] = '=';
	if (mbedtls_base64_decode(dec, sizeof(dec), &dlen,
	    (unsigned char *)b64, i) != 0)
		return "(authenticated)";
	o = json_loadb((char *)dec, dlen, 0, &jerr);
	if (json_is_string(json_object_get(o, "sub")) &&
	    *json_string_value(json_object_get(o, "sub")) != '\0')
		snprintf(buf, len, "%s", json_string_value(json_object_get(o,
		    "sub")));
	else
		snprintf(buf, len, "(authenticated)");
	json_decref(o);
	return buf;
}

/* The answer */

static void
audit(struct px_verify *v, enum decision d, const char *reason,
    const char *signer)
{
	struct px_conn	*c = v->v_conn;
	struct timeval	 now, dt;
	json_t		*o;
	const char	*user;
	char		 userbuf[128];

	gettimeofday(&now, NULL);
	timersub(&now, &v->v_start, &dt);
	if (!v->v_cached && d != D_INDETERMINATE)
		hist_add(dt.tv_sec * 1000.0 + dt.tv_usec / 1000.0);
	if (!px_log_enabled(d == D_ALLOW ? CONF_LOG_INFO : CONF_LOG_WARN))
		return;		/* not built only to be dropped */
	user = client_user(c, userbuf, sizeof(userbuf));
	o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, "
	    "s:f}",
	    "msg", "decision", "conn", (json_int_t)c->c_id,
	    "peer", c->c_peer, "repository", v->v_repo,
	    "digest", v->v_digest,
	    "decision", d == D_DENY &&
	    v->v_policy->verify == CONF_VERIFY_WARN ? "warn" :
	    decision_names[d],
	    "rule", v->v_policy->match,
	    "signer", signer != NULL ? signer : "",
	    "reason", reason,
	    "cached", v->v_cached,
	    "duration_ms", dt.tv_sec * 1000.0 + dt.tv_usec / 1000.0);
	if (o != NULL && user != NULL)
		json_object_set_new(o, "user", json_string(user));
	if (o != NULL)
		px_log_fields(d == D_ALLOW ? CONF_LOG_INFO : CONF_LOG_WARN, o);
}

static void	answer_client(struct px_verify *, enum decision, const char *,
		    const char *);

/* Answer the client, then give up the slot and the manifest's memory (the
 * answer holds its own copy). */
static void
answer(struct px_verify *v, enum decision d, const char *reason,
    const char *signer)
{
	answer_client(v, d, reason, signer);
	slot_release(v);
	px_fetch_free(v->v_manifest);
	v->v_manifest = NULL;
}

/*
 * A registry whose Content-Type disagrees with the manifest's own
 * mediaType (old Nexus labels OCI as Docker) would have the client refuse
 * what was verified: the body's type is sent, and logged.
 */
static void
fix_content_type(struct px_verify *v)
{
	const char	*body, *fix;
	char		 ct[128];
	size_t		 len;

	if (!v->v_is_get || v->v_manifest == NULL)
		return;
	body = px_fetch_body(v->v_manifest, &len);
	fix = core_manifest_type_fix(body, len,
	    px_fetch_content_type(v->v_manifest));
	if (fix == NULL)
		return;
	snprintf(ct, sizeof(ct), "%s", px_fetch_content_type(v->v_manifest));
	core_ascii(ct);
	px_info("%s@%s: the upstream's Content-Type %s disagrees with the "
	    "manifest's mediaType; %s is sent", v->v_repo, v->v_digest, ct,
	    fix);
	(void)px_fetch_set_content_type(v->v_manifest, fix);
}

static void
answer_client(struct px_verify *v, enum decision d, const char *reason,
    const char *signer)
{
	struct px_conn	*c = v->v_conn;
	char		 msg[400];

	v->v_state = V_DONE;
	audit(v, d, reason, signer);
	switch (d) {
	case D_ALLOW:
		vstats->allowed++;
		fix_content_type(v);
		px_conn_reply_fetch(c, v->v_manifest, NULL);
		return;
	case D_INDETERMINATE:
		vstats->indeterminate++;
		snprintf(msg, sizeof(msg), "signature check could not be done: "
		    "%s", reason);
		c->c_error = "verification indeterminate";
		px_conn_error(c, 502, "UNAVAILABLE", msg);
		return;
	case D_DENY:
		if (v->v_policy->verify == CONF_VERIFY_WARN) {
			vstats->warned++;
			snprintf(msg, sizeof(msg), WARN_HEADER ": failed; %s",
			    reason);
			px_conn_reply_fetch(c, v->v_manifest, msg);
			return;
		}
		vstats->denied++;
		snprintf(msg, sizeof(msg), "signet: %s is not verified: %s",
		    v->v_digest, reason);
		c->c_error = "verification denied";
		px_conn_error(c, 403, "DENIED", msg);
		return;
	}
}

/* The verification of one (repository, digest) is over: tell everyone. */
static void
decide(struct px_verify *v, enum decision d, const char *reason, int cache)
{
	struct conf	*cf = v->v_conn->c_conf;
	struct vc_entry	*e = v->v_entry;
	struct px_verify *w;
	const char	*signer = v->v_run != NULL ?
			    core_verifier_signer(v->v_run, 0) : NULL;
	size_t		 len;
	const char	*body;

	px_sigcheck_free(v->v_check);
	v->v_check = NULL;
	if (d == D_ALLOW && v->v_manifest != NULL && !v->v_sigobj) {
		body = px_fetch_body(v->v_manifest, &len);
		if (len > 0) {
			walk_manifest(v, body, len, cf, signer != NULL ?
			    signer : "");
			if (e != NULL && v->v_owner)
				e->e_walked_until = time(NULL) +
				    cf->vcache_ok_ttl / 2;
		}
	}
	if (d == D_ALLOW)
		allow_sig_blobs(v, cf);
	if (e != NULL && v->v_owner) {
		e->e_pending = 0;
		e->e_sigobj = v->v_sigobj;
		e->e_decision = d;
		snprintf(e->e_reason, sizeof(e->e_reason), "%s", reason);
		snprintf(e->e_signer, sizeof(e->e_signer), "%s",
		    signer != NULL ? signer : "");
		e->e_expires = time(NULL) + (!cache ? 0 : d == D_ALLOW ?
		    cf->vcache_ok_ttl : cf->vcache_fail_ttl);
		while ((w = TAILQ_FIRST(&e->e_waiters)) != NULL) {
			TAILQ_REMOVE(&e->e_waiters, w, v_wait);
			w->v_entry = NULL;
			w->v_cached = 1;
			answer(w, d, reason, signer);
		}
		v->v_entry = NULL;
		v->v_owner = 0;
	}
	answer(v, d, reason, signer);
}

/*
 * A signature, attestation or SBOM object is what a client pulls to check
 * an image: it is allowed by its content (core_manifest_inspect), never by
 * the tag it sits under, and carries nothing a runtime would unpack.
 */
#define SIG_OBJECT_REASON	"a signature object (every layer of a cosign, " \
				"Sigstore or SBOM type), not an image"

static int
is_sig_object(const char *body, size_t len)
{
	struct core_manifest_info	 mi;
	const char			*errstr;

	return len > 0 && core_manifest_inspect(body, len, &mi, &errstr) == 0 &&
	    mi.is_sig_object;
}

/* The content of a HEAD that its signatures did not allow. */
static void
on_content(struct px_fetch *f, void *arg)
{
	struct px_verify	*v = arg;
	const char		*body;
	char			 hex[65];
	size_t			 len;
	int			 cache = v->v_verdict != D_INDETERMINATE;

	v->v_content = NULL;
	body = px_fetch_status(f) == 200 ? px_fetch_body(f, &len) : NULL;
	if (body != NULL) {
		core_sha256_hex(body, len, hex);
		if (strncmp(v->v_digest, "sha256:", 7) == 0 &&
		    strcmp(v->v_digest + 7, hex) == 0 &&
		    is_sig_object(body, len)) {
			px_fetch_free(f);
			vstats->sig_objects++;
			v->v_sigobj = 1;
			decide(v, D_ALLOW, SIG_OBJECT_REASON, 1);
			return;
		}
	}
	px_fetch_free(f);
	decide(v, v->v_verdict, v->v_verdict_reason, cache);
}

/* Not allowed by its signatures: a HEAD's content decides whether it is a
 * signature object (a GET's was looked at before). */
static void
refuse_or_look(struct px_verify *v, enum decision d, const char *reason)
{
	struct px_conn	*c = v->v_conn;
	char		 err[400], target[600];

	if (v->v_is_get) {
		decide(v, d, reason, d != D_INDETERMINATE);
		return;
	}
	v->v_verdict = d;
	snprintf(v->v_verdict_reason, sizeof(v->v_verdict_reason), "%s",
	    reason);
	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", v->v_repo,
	    v->v_digest);
	v->v_content = px_fetch_send(px_server_upstream(c->c_srv),
	    &c->c_conf->up, &(struct px_request){ .method = "GET",
	    .target = target, .authorization = px_http_req_header(&c->c_req,
	    "authorization"), .accept = CORE_MT_ACCEPT_ALL,
	    .user_agent = px_http_req_header(&c->c_req, "user-agent"),
	    .origin = v->v_origin, .max_len = CORE_SIGMAN_MAX }, on_content,
	    v, err, sizeof(err));
	if (v->v_content == NULL)
		decide(v, d, reason, d != D_INDETERMINATE);
}

/* The driver's verdict on the signatures. */
static void
on_verdict(void *arg, struct core_verifier *run)
{
	struct px_verify	*v = arg;
	const char		*reason;
	enum core_verdict	 d = core_verifier_verdict(run, &reason);
	int			 n = px_sigcheck_requests(v->v_check);

	vstats->upstream_requests += (uint64_t)n;
	if (n > vstats->upstream_requests_max)
		vstats->upstream_requests_max = n;
	if (core_verifier_forked(run) != NULL) {
		/* never quiet: a log that forked has shown two histories */
		vstats->log_forks++;
		px_log_fields(CONF_LOG_ERROR, json_pack("{s:s, s:s, s:s, s:s}",
		    "msg", "transparency log forked", "repository", v->v_repo,
		    "digest", v->v_digest, "reason",
		    core_verifier_forked(run)));
	}
	switch (d) {
	case CORE_VERDICT_ALLOW:
		decide(v, D_ALLOW, reason, 1);
		break;
	case CORE_VERDICT_DENY:
		refuse_or_look(v, D_DENY, reason);
		break;
	case CORE_VERDICT_INDETERMINATE:
		refuse_or_look(v, D_INDETERMINATE, reason);
		break;
	}
}

static void	on_manifest(struct px_fetch *, void *);

/* The client's manifest request, sent by signet with the client's
 * credentials, Accept and User-Agent; NULL (answered) if it cannot start. */
static struct px_fetch *
manifest_request(struct px_verify *v, const char *method)
{
	struct px_conn	*c = v->v_conn;
	struct px_fetch	*f;
	char		 err[400];

	f = px_fetch_send(px_server_upstream(c->c_srv), &c->c_conf->up,
	    &(struct px_request){ .method = method, .target = c->c_req.target,
	    .authorization = px_http_req_header(&c->c_req, "authorization"),
	    .accept = v->v_accept[0] != '\0' ? v->v_accept : ACCEPT_LIST,
	    .user_agent = px_http_req_header(&c->c_req, "user-agent"),
	    .origin = v->v_origin }, on_manifest, v, err, sizeof(err));
	if (f == NULL)
		px_conn_error(c, 502, "UNAVAILABLE", err);
	return f;
}

/* Check the signatures, reading them with this Authorization. */
static void
start_check(struct px_verify *v, const char *authorization)
{
	struct px_conn		*c = v->v_conn;
	struct core_vopts	 o;
	struct px_sigcheck_req	 rq;

	conf_policy_vopts(c->c_conf, v->v_policy, v->v_want_ref, &v->v_trust,
	    &o);
	o.bundles = 1;	/* cosign v3's referrers count too */
	v->v_run = core_verifier_new(&o, v->v_digest);
	memset(&rq, 0, sizeof(rq));
	rq.endpoint = &c->c_conf->up;
	rq.up = px_server_upstream(c->c_srv);
	rq.sigrepo = v->v_sigrepo;
	rq.authorization = authorization;
	rq.user_agent = px_http_req_header(&c->c_req, "user-agent");
	rq.origin = v->v_origin;
	rq.rekor_url = c->c_conf->rekor_url;
	v->v_check = v->v_run != NULL ? px_sigcheck_start(&rq, v->v_run,
	    on_verdict, v) : NULL;
	if (v->v_check == NULL)
		decide(v, D_INDETERMINATE, "cannot start a request", 0);
}

static void
on_sigauth(void *arg, const char *header, const char *err)
{
	struct px_verify	*v = arg;
	char			 reason[400];

	px_auth_free(v->v_authjob);
	v->v_authjob = NULL;
	if (err != NULL) {
		snprintf(reason, sizeof(reason), "registry_auth for %s: %s",
		    v->v_sigrepo, err);
		decide(v, D_INDETERMINATE, reason, 0);
		return;
	}
	start_check(v, header);
}

/* The manifest is here: work out its digest, then decide. */
static void
on_manifest(struct px_fetch *f, void *arg)
{
	struct px_verify	*v = arg;
	struct px_conn		*c = v->v_conn;
	struct vc_entry		*e;
	const char		*body, *hdr, *cached;
	char			 hex[65], key[sizeof(e->e_key)];
	char			 ckey[sizeof(e->e_key)];
	char			 childkey[CORE_DIGEST_MAX + 8];
	size_t			 len;
	int			 st = px_fetch_status(f);

	if (st != 200) {
		/* 401, 404...: nothing is served, so nothing to verify */
		v->v_state = V_DONE;
		if (st == 0)
			px_conn_error(c, 502, "UNAVAILABLE", px_fetch_error(f));
		else
			px_conn_reply_fetch(c, f, NULL);
		return;
	}
	body = px_fetch_body(f, &len);
	hdr = px_fetch_digest(f);
	if (v->v_is_get) {
		core_sha256_hex(body, len, hex);
		snprintf(v->v_digest, sizeof(v->v_digest), "sha256:%s", hex);
		if (*hdr != '\0' && strcmp(hdr, v->v_digest) != 0) {
			decide(v, D_DENY, "digest mismatch: the upstream's "
			    "Docker-Content-Digest is not the sha256 of the "
			    "bytes", 0);
			return;
		}
	} else if (*hdr != '\0' && core_digest_valid(hdr, strlen(hdr)))
		snprintf(v->v_digest, sizeof(v->v_digest), "%s", hdr);
	else if (c->c_route.ref_is_digest)
		snprintf(v->v_digest, sizeof(v->v_digest), "%s",
		    c->c_route.ref);
	else {
		/* a HEAD without a digest (ECR): GET it to hash the bytes */
		px_fetch_free(v->v_manifest);
		v->v_is_get = 1;
		v->v_manifest = manifest_request(v, "GET");
		return;
	}
	if (c->c_route.ref_is_digest &&
	    strcmp(v->v_digest, c->c_route.ref) != 0) {
		decide(v, D_DENY, "digest mismatch: the manifest served is "
		    "not the one pulled by digest", 0);
		return;
	}

	vc_key(key, sizeof(key), v->v_repo, v->v_digest, v->v_policy);
	e = NULL;
	if (c->c_route.ref_is_digest) {
		/*
		 * A child of a verified index is allowed when pulled by
		 * digest, as a client resolving the index does; pulled by a
		 * tag of its own it is an image on its own, and needs its own
		 * signature (the allowance is kept under its own key).
		 */
		snprintf(childkey, sizeof(childkey), "child:%s", v->v_digest);
		vc_key(ckey, sizeof(ckey), v->v_repo, childkey, v->v_policy);
		e = vc_find(ckey);
		if (e == NULL && shared_has(ckey)) {
			/* the index was verified by another worker */
			allow_key(v, ckey, c->c_conf, "listed in a verified "
			    "index (another worker)", "");
			e = vc_find(ckey);
		}
	}
	if (e == NULL)
		e = vc_find(key);
	if (e != NULL && e->e_pending) {
		/* someone is verifying this already: wait for the verdict */
		vstats->cache_hits++;
		v->v_entry = e;
		v->v_state = V_WAIT;
		TAILQ_INSERT_TAIL(&e->e_waiters, v, v_wait);
		return;
	}
	if (e != NULL) {
		enum decision	d = e->e_decision;
		int		walk;
		char		reason[sizeof(e->e_reason)];
		char		signer[sizeof(e->e_signer)];

		/*
		 * Copied out first: filling the child and blob entries below
		 * may evict e from a full cache.
		 */
		memcpy(reason, e->e_reason, sizeof(reason));
		memcpy(signer, e->e_signer, sizeof(signer));
		/*
		 * What an index allows was recorded when it was verified or
		 * walked last: walk it again (parse it) only at half the
		 * entries' life, not on every pull.
		 */
		walk = e->e_walked_until <= time(NULL) && !e->e_sigobj;
		if (walk)
			e->e_walked_until = time(NULL) +
			    c->c_conf->vcache_ok_ttl / 2;
		e = NULL;
		vstats->cache_hits++;
		v->v_cached = 1;
		if (d == D_ALLOW && len > 0 && walk)
			walk_manifest(v, body, len, c->c_conf, signer);
		answer(v, d, reason, signer[0] ? signer : NULL);
		return;
	}
	vstats->cache_misses++;
	v->v_entry = vc_add(key, c->c_conf->vcache_max);
	if (v->v_entry != NULL) {
		v->v_entry->e_pending = 1;
		v->v_owner = 1;
	}
	if (v->v_is_get && is_sig_object(body, len)) {
		vstats->sig_objects++;
		v->v_sigobj = 1;
		decide(v, D_ALLOW, SIG_OBJECT_REASON, 1);
		return;
	}
	v->v_state = V_CHECK;
	/*
	 * A separate signature repository with registry_auth is read with
	 * signet's own credentials: the client's token is scoped to the
	 * image's repository.  Only the verdict reaches the client.
	 */
	if (strcmp(v->v_sigrepo, v->v_repo) != 0 &&
	    c->c_conf->reg_user != NULL) {
		v->v_authjob = px_auth_get(c->c_conf, px_server_upstream(
		    c->c_srv), v->v_sigrepo, on_sigauth, v, &cached);
		if (v->v_authjob == NULL && cached == NULL)
			decide(v, D_INDETERMINATE, "registry_auth: cannot start "
			    "the token flow", 0);
		else if (v->v_authjob == NULL)
			start_check(v, cached);
		return;
	}
	start_check(v, px_http_req_header(&c->c_req, "authorization"));
}

/* Entry points */

int
px_verify_wanted(struct px_conn *c)
{
	const struct conf_policy *p;

	if (c->c_route.kind != CORE_R_MANIFEST ||
	    (strcmp(c->c_req.method, "GET") != 0 &&
	    strcmp(c->c_req.method, "HEAD") != 0))
		return 0;
	/* every manifest, whatever its tag: a signature object is told by
	 * its content (on_manifest, on_content) */
	p = conf_policy_for(c->c_conf, c->c_route.name);
	return p != NULL && p->verify != CONF_VERIFY_OFF;
}

void
px_verify_start(struct px_conn *c)
{
	struct px_verify	*v;

	v = calloc(1, sizeof(*v));
	if (v == NULL) {
		px_conn_error(c, 500, "UNKNOWN", "out of memory");
		return;
	}
	c->c_verify = v;
	v->v_conn = c;
	v->v_policy = conf_policy_for(c->c_conf, c->c_route.name);
	gettimeofday(&v->v_start, NULL);
	snprintf(v->v_repo, sizeof(v->v_repo), "%s", c->c_route.name);
	snprintf(v->v_sigrepo, sizeof(v->v_sigrepo), "%s",
	    c->c_conf->sig_repo != NULL ? c->c_conf->sig_repo : v->v_repo);
	snprintf(v->v_want_ref, sizeof(v->v_want_ref), "%s/%s",
	    v->v_policy->reference_registry != NULL ?
	    v->v_policy->reference_registry : c->c_conf->up.hostport,
	    v->v_repo);
	px_conn_origin(c, v->v_origin, sizeof(v->v_origin));
	/* the client's Accept, all of it; ours when it does not fit */
	if (px_http_req_header_join(&c->c_req, "accept", v->v_accept,
	    sizeof(v->v_accept)) == -1)
		v->v_accept[0] = '\0';
	v->v_is_get = strcmp(c->c_req.method, "GET") == 0;
	if (vstats->active < c->c_conf->verify_slots) {
		slot_take(v);
		return;
	}
	if (vstats->waiting >= c->c_conf->verify_queue) {
		vstats->busy++;
		v->v_state = V_DONE;
		c->c_error = "verification queue full";
		px_conn_error_extra(c, 503, "TOOMANYREQUESTS", "signet: too "
		    "many pulls are being verified; retry", "Retry-After: 1");
		return;
	}
	vstats->queued++;
	vstats->waiting++;
	v->v_state = V_QUEUED;
	TAILQ_INSERT_TAIL(&vqueue, v, v_queue);
}

void
px_verify_free(struct px_conn *c)
{
	struct px_verify	*v = c->c_verify;
	struct vc_entry		*e;
	struct px_verify	*w;

	if (v == NULL)
		return;
	c->c_verify = NULL;
	e = v->v_entry;
	if (e != NULL && !v->v_owner)
		TAILQ_REMOVE(&e->e_waiters, v, v_wait);
	else if (e != NULL) {
		/* the owner's client left: hand the work to a waiter, or drop */
		while ((w = TAILQ_FIRST(&e->e_waiters)) != NULL) {
			TAILQ_REMOVE(&e->e_waiters, w, v_wait);
			w->v_entry = NULL;
			answer(w, D_INDETERMINATE, "the verification was "
			    "abandoned; retry", NULL);
		}
		vc_remove(e);
	}
	slot_release(v);
	px_auth_free(v->v_authjob);
	px_sigcheck_free(v->v_check);
	core_verifier_free(v->v_run);
	px_fetch_free(v->v_manifest);
	px_fetch_free(v->v_content);
	free(v);
}

void
px_verify_flush(void)
{
	struct vc_entry	*e, *tmp;

	for (e = TAILQ_FIRST(&vcache); e != NULL; e = tmp) {
		tmp = TAILQ_NEXT(e, e_entry);
		if (!e->e_pending)
			vc_remove(e);
	}
}

/* A pull takes no body: the answer is the manifest, once verified. */
const struct px_handler px_verify_handler = {
	.name = "verify", .free = px_verify_free,
};
