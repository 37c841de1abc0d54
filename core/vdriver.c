/*
 * core/vdriver.c: the verification of one image digest under one rule's
 * trust, with no I/O.  The caller asks what to fetch next
 * (core_verifier_next), fetches it however it fetches things (the proxy on
 * its event loop, a command, a unit test from a table), hands the answer
 * back (core_verifier_feed), and repeats until the verdict is in.
 *
 * Every place that verifies (pull through the proxy, `signet verify`,
 * `signet copy --verify`, mirroring) runs this one driver, so they agree
 * on what counts: the status codes that mean "absent" or "indeterminate",
 * the size limits, keyless signers, the Rekor requirement, the threshold
 * of distinct signers.
 *
 * The steps: the signature list (sha256-<hex>.sig); then, layer by layer
 * the payload blob, checked with
 * core_verify_layer; with an online Rekor rule, the log's entry for the
 * layer's bundle.  Then, while the threshold is not met and the caller
 * asked for them (opts.bundles), cosign v3's signatures: the image's OCI
 * 1.1 referrers (the referrers API, else the referrers tag schema's
 * sha256-<hex> index, as cosign reads them), each referrer whose single
 * layer is a Sigstore bundle and whose subject is the image, its bundle
 * checked with core_bundle_verify.  Signers of both formats count towards
 * one threshold of distinct signers.  At most CORE_VERIFY_LAYERS_MAX
 * signatures are fetched per image, both formats together (a payload is
 * one request, a referrer two): a cold verification sends at most 3 +
 * 2 x 64 requests, whatever a registry holds.  An upstream or log that fails
 * (transport error, 5xx) makes the verdict INDETERMINATE, never DENY: an
 * outage is not a proof that something is unsigned.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core.h"

enum vd_state {
	VD_LIST, VD_PAYLOAD, VD_ENTRY, VD_PROOF,
	VD_REFERRERS, VD_REFERRERS_NEXT, VD_REFTAG, VD_REFMAN, VD_BUNDLE,
	VD_DONE
};

/* A referrer worth reading: its manifest, then its bundle blob. */
struct vd_ref {
	char		digest[CORE_DIGEST_MAX + 1];
};

struct core_verifier {
	enum vd_state		 state;
	struct core_vopts	 opts;
	char			 digest[CORE_DIGEST_MAX + 1];
	struct core_sigman	 list;
	size_t			 layer;		/* next layer to look at */
	size_t			 cur;		/* the layer being checked */
	char			*payload;	/* of cur, while its log entry
						 * is fetched */
	size_t			 plen;
	char			*ebundle;	/* the entry asked for (a
						 * dev.sigstore.cosign/bundle) */
	int			 in_refs;	/* looking at referrers */
	size_t			 looked;	/* signatures fetched, in both
						 * formats: at most layers_max */
	int			 found;		/* a list or a referrer index
						 * was there */
	struct vd_ref		*refs;		/* referrers to read */
	size_t			 nrefs, ref;	/* count, next */
	char			 next[CORE_LINK_MAX + 1];	/* the
						 * referrers API's next page */
	int			 pages;		/* of it read after the first */
	char			 bdigest[CORE_DIGEST_MAX + 1];	/* bundle blob */
	json_int_t		 bsize;
	char			*kman, *kbundle;	/* opts.keep: the
							 * referrer's bytes */
	size_t			 kmlen, kblen;
	struct core_checkpoint	 cp_old, cp_new;	/* to prove cp_old a
							 * prefix of cp_new */
	int			 cp_older;	/* the answer's is cp_old, the
						 * kept one cp_new */
	char			 cp_log[65];
	char			 forked[300];	/* a log's history forked */
	char			 pending[CORE_SIGNER_MAX];
	char			 signers[CORE_SIGNERS_MAX][CORE_SIGNER_MAX];
	int			 nsigners;
	struct core_vvalid	*valid;		/* layers that verified */
	size_t			 nvalid;
	char			 lastfail[256];
	enum core_verdict	 verdict;
	char			 reason[400];
};

static const char *const state_names[] = {
	[VD_LIST] = "list", [VD_PAYLOAD] = "payload",
	[VD_ENTRY] = "log entry", [VD_PROOF] = "log consistency",
	[VD_REFERRERS] = "referrers",
	[VD_REFERRERS_NEXT] = "referrers page",
	[VD_REFTAG] = "referrers tag", [VD_REFMAN] = "referrer",
	[VD_BUNDLE] = "bundle", [VD_DONE] = "done",
};

const char *
core_verifier_state(const struct core_verifier *v)
{
	return state_names[v->state];
}

struct core_verifier *
core_verifier_new(const struct core_vopts *opts, const char *digest)
{
	struct core_verifier	*v;

	if (!core_digest_valid(digest, strlen(digest)))
		return NULL;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return NULL;
	v->opts = *opts;
	if (v->opts.threshold < 1)
		v->opts.threshold = 1;
	if (v->opts.layers_max == 0 ||
	    v->opts.layers_max > CORE_VERIFY_LAYERS_MAX)
		v->opts.layers_max = CORE_VERIFY_LAYERS_MAX;
	snprintf(v->digest, sizeof(v->digest), "%s", digest);
	core_sigman_init(&v->list);
	v->state = VD_LIST;
	if (v->opts.bundles && v->opts.no_sig) {
		v->in_refs = 1;
		v->state = VD_REFERRERS;
	}
	return v;
}

void
core_verifier_free(struct core_verifier *v)
{
	size_t	i;

	if (v == NULL)
		return;
	core_sigman_free(&v->list);
	for (i = 0; i < v->nvalid; i++) {
		free(v->valid[i].payload);
		free(v->valid[i].manifest);
		free(v->valid[i].bundle);
	}
	free(v->valid);
	free(v->payload);
	free(v->ebundle);
	free(v->kman);
	free(v->kbundle);
	free(v->refs);
	free(v);
}

/* The referrer's bytes kept for opts.keep, no longer wanted. */
static void
drop_kept(struct core_verifier *v)
{
	free(v->kman);
	free(v->kbundle);
	v->kman = v->kbundle = NULL;
	v->kmlen = v->kblen = 0;
}

/* A NUL-terminated copy of what was read, for opts.keep; NULL when memory
 * is short (the signature still counts; the caller cannot copy it). */
static char *
keep_copy(const char *body, size_t len, size_t *lenp)
{
	char	*p = malloc(len + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, body, len);
	p[len] = '\0';
	*lenp = len;
	return p;
}

static void
finish(struct core_verifier *v, enum core_verdict d, const char *reason)
{
	v->state = VD_DONE;
	v->verdict = d;
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
	/* it names what a registry or a payload said: no byte of theirs
	 * goes on unchecked (a cut UTF-8 sequence would lose a log line) */
	core_ascii(v->reason);
	free(v->payload);
	v->payload = NULL;
	free(v->ebundle);
	v->ebundle = NULL;
	drop_kept(v);
}

/* Enough signers, and not asked to look at every layer: stop early. */
static int
enough(const struct core_verifier *v)
{
	return !v->opts.all && v->nsigners >= v->opts.threshold;
}

/* The layer cur verified, by signer; its payload is kept for the caller. */
static int
accept_layer(struct core_verifier *v, const char *signer)
{
	struct core_vvalid	*nv;
	struct core_sig_layer	 l;

	nv = reallocarray(v->valid, v->nvalid + 1, sizeof(*nv));
	if (nv == NULL)
		return -1;
	v->valid = nv;
	nv[v->nvalid].layer = v->in_refs ? CORE_VVALID_REFERRER : v->cur;
	snprintf(nv[v->nvalid].ref, sizeof(nv[v->nvalid].ref), "%s",
	    v->in_refs ? v->refs[v->ref - 1].digest : "");
	if (v->in_refs)
		snprintf(nv[v->nvalid].blob, sizeof(nv[v->nvalid].blob), "%s",
		    v->bdigest);
	else if (core_sigman_layer(&v->list, v->cur, &l) == 0 &&
	    l.digest != NULL)
		snprintf(nv[v->nvalid].blob, sizeof(nv[v->nvalid].blob), "%s",
		    l.digest);
	else
		nv[v->nvalid].blob[0] = '\0';
	nv[v->nvalid].payload = v->payload;
	nv[v->nvalid].len = v->plen;
	nv[v->nvalid].manifest = v->in_refs ? v->kman : NULL;
	nv[v->nvalid].mlen = v->in_refs ? v->kmlen : 0;
	nv[v->nvalid].bundle = v->in_refs ? v->kbundle : NULL;
	nv[v->nvalid].blen = v->in_refs ? v->kblen : 0;
	if (v->in_refs)
		v->kman = v->kbundle = NULL;
	snprintf(nv[v->nvalid].signer, sizeof(nv[v->nvalid].signer), "%s",
	    signer);
	v->nvalid++;
	v->payload = NULL;
	core_signer_add(v->signers, &v->nsigners, CORE_SIGNERS_MAX, signer);
	return 0;
}

/* All layers looked at, or enough signers: the verdict. */
static void
conclude(struct core_verifier *v)
{
	char	reason[400];

	if (v->nsigners >= v->opts.threshold) {
		snprintf(reason, sizeof(reason), "signed by %d trusted "
		    "signer(s)", v->nsigners);
		finish(v, CORE_VERDICT_ALLOW, reason);
	} else if (v->nsigners > 0) {
		snprintf(reason, sizeof(reason), "%d trusted signer(s), %d "
		    "required", v->nsigners, v->opts.threshold);
		finish(v, CORE_VERDICT_DENY, reason);
	} else if (!v->found) {
		finish(v, CORE_VERDICT_DENY, "no signature found");
	} else {
		snprintf(reason, sizeof(reason), "no signature from a trusted "
		    "signer (%s)", v->lastfail[0] ? v->lastfail :
		    "no usable signature");
		finish(v, CORE_VERDICT_DENY, reason);
	}
}

/* The .sig list is done: the referrers when asked for, else the verdict. */
static void
sig_done(struct core_verifier *v)
{
	if (v->opts.bundles && !enough(v) && v->looked < v->opts.layers_max) {
		v->in_refs = 1;
		v->state = VD_REFERRERS;
		return;
	}
	conclude(v);
}

/* The next simple-signing layer worth fetching, or the verdict. */
static void
next_layer(struct core_verifier *v)
{
	struct core_sig_layer	l;

	while (!enough(v) && v->layer < core_sigman_count(&v->list) &&
	    v->layer < v->opts.layers_max) {
		v->cur = v->layer++;
		if (core_sigman_layer(&v->list, v->cur, &l) == -1 ||
		    l.media_type == NULL ||
		    strcmp(l.media_type, CORE_MT_SIMPLESIGNING) != 0 ||
		    l.digest == NULL ||
		    !core_digest_valid(l.digest, strlen(l.digest)))
			continue;
		if (l.size < 0 || l.size > CORE_PAYLOAD_MAX) {
			snprintf(v->lastfail, sizeof(v->lastfail), "a signature "
			    "payload is larger than 64 KiB");
			continue;
		}
		v->state = VD_PAYLOAD;
		v->looked++;
		return;
	}
	sig_done(v);
}

/* The next referrer worth reading, or the verdict. */
static void
next_ref(struct core_verifier *v)
{
	if (!enough(v) && v->ref < v->nrefs &&
	    v->looked < v->opts.layers_max) {
		v->ref++;
		v->looked++;
		v->state = VD_REFMAN;
		return;
	}
	conclude(v);
}

/* The continuation after a signature was looked at, in either format. */
static void
next_any(struct core_verifier *v)
{
	if (v->in_refs)
		next_ref(v);
	else
		next_layer(v);
}

/*
 * The signature looked at does not count: why (in words that may be a
 * registry's or a payload's, made ASCII), then the next one.
 */
static void
refuse(struct core_verifier *v, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(v->lastfail, sizeof(v->lastfail), fmt, ap);
	va_end(ap);
	core_ascii(v->lastfail);
	next_any(v);
}

/* It counts, for signer; then the next one. */
static void
count_signer(struct core_verifier *v, const char *signer)
{
	if (accept_layer(v, signer) == -1) {
		finish(v, CORE_VERDICT_INDETERMINATE, "out of memory");
		return;
	}
	next_any(v);
}

/* rekor: online: it counts once the log shows ebundle's entry (taken). */
static void
ask_log(struct core_verifier *v, const char *signer, char *ebundle)
{
	snprintf(v->pending, sizeof(v->pending), "%s", signer);
	free(v->ebundle);
	v->ebundle = ebundle;
	v->state = VD_ENTRY;
}

/* An answer other than 200 and 404 where one of those was needed. */
static void
indeterminate(struct core_verifier *v, const char *what, int status,
    const char *errstr)
{
	char	reason[400];

	if (errstr != NULL)
		snprintf(reason, sizeof(reason), "reading %s: %s%.300s", what,
		    status != 0 ? "upstream answered " : "", errstr);
	else
		snprintf(reason, sizeof(reason), "reading %s: %s%d", what,
		    status != 0 ? "upstream answered HTTP " : "request failed ",
		    status);
	finish(v, CORE_VERDICT_INDETERMINATE, reason);
}

/* The log did not answer what: an outage, never a verdict. */
static void
log_failed(struct core_verifier *v, const char *what, int status,
    const char *errstr)
{
	char	reason[300];

	snprintf(reason, sizeof(reason), "reading %s: %s", what, status == 0 ?
	    (errstr != NULL ? errstr : "request failed") : "the log failed");
	finish(v, CORE_VERDICT_INDETERMINATE, reason);
}

enum core_vneed_kind
core_verifier_next(struct core_verifier *v, struct core_vneed *need)
{
	struct core_sig_layer	l;

	memset(need, 0, sizeof(*need));
	switch (v->state) {
	case VD_LIST:
		need->kind = CORE_VN_LIST;
		core_sig_tag(v->digest, need->ref);
		need->max_len = CORE_SIGMAN_MAX;
		break;
	case VD_PAYLOAD:
		core_sigman_layer(&v->list, v->cur, &l);
		need->kind = CORE_VN_PAYLOAD;
		snprintf(need->ref, sizeof(need->ref), "%s", l.digest);
		need->max_len = CORE_PAYLOAD_MAX;
		break;
	case VD_REFERRERS:
		need->kind = CORE_VN_REFERRERS;
		snprintf(need->ref, sizeof(need->ref), "%s", v->digest);
		need->max_len = CORE_SIGMAN_MAX;
		break;
	case VD_REFERRERS_NEXT:
		need->kind = CORE_VN_REFERRERS_NEXT;
		snprintf(need->ref, sizeof(need->ref), "%s", v->next);
		v->next[0] = '\0';	/* its answer's Link says what follows */
		need->max_len = CORE_SIGMAN_MAX;
		break;
	case VD_REFTAG:
		need->kind = CORE_VN_MANIFEST;
		/* the referrers tag schema: <alg>-<hex> */
		snprintf(need->ref, sizeof(need->ref), "%s", v->digest);
		need->ref[strcspn(need->ref, ":")] = '-';
		need->max_len = CORE_SIGMAN_MAX;
		break;
	case VD_REFMAN:
		need->kind = CORE_VN_MANIFEST;
		snprintf(need->ref, sizeof(need->ref), "%s",
		    v->refs[v->ref - 1].digest);
		need->max_len = CORE_REFERRER_MAX;
		break;
	case VD_BUNDLE:
		need->kind = CORE_VN_PAYLOAD;
		snprintf(need->ref, sizeof(need->ref), "%s", v->bdigest);
		need->max_len = CORE_SGBUNDLE_MAX;
		break;
	case VD_PROOF:
		need->kind = CORE_VN_LOG_PROOF;
		snprintf(need->ref, sizeof(need->ref), "firstSize=%llu&"
		    "lastSize=%llu", (unsigned long long)v->cp_old.size,
		    (unsigned long long)v->cp_new.size);
		need->max_len = CORE_LOG_ANSWER_MAX;
		break;
	case VD_ENTRY:
		need->kind = CORE_VN_LOG_ENTRY;
		if (core_rekor_bundle_uuid(v->ebundle, need->ref) == -1) {
			/* checked offline already; cannot happen */
			finish(v, CORE_VERDICT_INDETERMINATE, "the Rekor "
			    "bundle names no entry");
			need->kind = CORE_VN_DONE;
			break;
		}
		need->max_len = CORE_LOG_ANSWER_MAX;
		break;
	case VD_DONE:
		need->kind = CORE_VN_DONE;
		break;
	}
	return need->kind;
}

static void
feed_list(struct core_verifier *v, int status, const char *body, size_t len,
    const char *errstr)
{
	const char	*why;

	if (status == 404) {
		sig_done(v);
		return;
	}
	if (status != 200) {
		indeterminate(v, "the signature list", status, errstr);
		return;
	}
	v->found = 1;
	if (core_sigman_open(&v->list, body, len, 0, &why) == -1) {
		refuse(v, "%s", why);	/* an empty list: the referrers next */
		return;
	}
	next_layer(v);
}

static void
feed_payload(struct core_verifier *v, int status, const char *body,
    size_t len, const char *errstr)
{
	struct core_sig_layer	 l;
	char			 reason[256], signer[CORE_SIGNER_MAX], *eb;

	core_sigman_layer(&v->list, v->cur, &l);
	if (status != 200 && status != 404) {
		/* not "missing": a fault, a refusal, a rate limit */
		indeterminate(v, "a signature payload", status, errstr);
		return;
	}
	if (status != 200) {
		refuse(v, "a signature payload is missing (HTTP %d)", status);
		return;
	}
	if (len != (size_t)l.size) {
		refuse(v, "a signature payload does not match its descriptor");
		return;
	}
	if (core_verify_layer(v->opts.trust, v->digest, body, len, &l, signer,
	    sizeof(signer), reason, sizeof(reason)) == -1) {
		refuse(v, "%s", reason);
		return;
	}
	free(v->payload);
	v->payload = malloc(len + 1);
	if (v->payload == NULL) {
		finish(v, CORE_VERDICT_INDETERMINATE, "out of memory");
		return;
	}
	memcpy(v->payload, body, len);
	v->payload[len] = '\0';
	v->plen = len;
	if (v->opts.online) {
		/* the log must still hold the entry, under a checkpoint that
		 * never goes backwards */
		if (l.bundle == NULL) {
			refuse(v, "Rekor entry missing: no bundle");
			return;
		}
		eb = strdup(l.bundle);
		if (eb == NULL) {
			finish(v, CORE_VERDICT_INDETERMINATE, "out of memory");
			return;
		}
		ask_log(v, signer, eb);
		return;
	}
	count_signer(v, signer);
}

static void
feed_entry(struct core_verifier *v, int status, const char *body, size_t len,
    const char *errstr)
{
	struct core_checkpoint	 cp;
	char			 reason[300], logid[65];
	int			 rc;

	if (status == 404) {
		refuse(v, "Rekor entry missing from the log");
		return;
	}
	if (status != 200) {
		log_failed(v, "the Rekor entry", status, errstr);
		return;
	}
	rc = core_rekor_check_online(v->opts.trust->rekor,
	    v->opts.trust->nrekor, body, len, v->ebundle, &cp, reason,
	    sizeof(reason));
	if (rc == 0 && v->opts.state_dir != NULL) {
		/* the log never goes back, and what it shows now extends
		 * what it showed before: else its history forked */
		if (core_rekor_bundle_logid(v->ebundle, logid) == -1)
			snprintf(logid, sizeof(logid), "unknown");
		rc = core_checkpoint_compare(v->opts.state_dir, &cp, logid,
		    &v->cp_old, reason, sizeof(reason));
		if (rc == CORE_CP_GROWN || rc == CORE_CP_OLDER) {
			/* grown: from the kept one to this one; older (the
			 * log answered concurrent lookups out of order): from
			 * this one to the kept one, which stays */
			v->cp_older = rc == CORE_CP_OLDER;
			if (v->cp_older) {
				v->cp_new = v->cp_old;
				v->cp_old = cp;
			} else
				v->cp_new = cp;
			snprintf(v->cp_log, sizeof(v->cp_log), "%s", logid);
			v->state = VD_PROOF;
			return;
		}
		if (rc == -1)
			snprintf(v->forked, sizeof(v->forked), "%s", reason);
		else if (rc == CORE_CP_NEW)
			rc = core_checkpoint_keep(v->opts.state_dir, &cp, logid,
			    reason, sizeof(reason));
	}
	if (rc == -1) {
		refuse(v, "Rekor online check: %.200s", reason);
		return;
	}
	count_signer(v, v->pending);
}

/* The log's consistency proof between the checkpoint kept and the one of
 * its answer. */
static void
feed_proof(struct core_verifier *v, int status, const char *body, size_t len,
    const char *errstr)
{
	char	reason[300];

	if (v->cp_older && status >= 400 && status < 500 && status != 429) {
		/* the log refuses to show that the tree it signed before
		 * extends the one it shows now: it went back */
		core_checkpoint_backwards(&v->cp_old, &v->cp_new, status,
		    reason, sizeof(reason));
		snprintf(v->forked, sizeof(v->forked), "%s", reason);
		refuse(v, "Rekor online check: %.200s", reason);
		return;
	}
	if (status != 200) {
		/* a log that cannot show its history extends: not a verdict */
		log_failed(v, "the log's consistency proof", status, errstr);
		return;
	}
	if (core_rekor_check_consistency(body, len, &v->cp_old, &v->cp_new,
	    reason, sizeof(reason)) == -1) {
		snprintf(v->forked, sizeof(v->forked), "%s", reason);
		refuse(v, "Rekor online check: %.200s", reason);
		return;
	}
	if (core_checkpoint_keep(v->opts.state_dir, &v->cp_new, v->cp_log,
	    reason, sizeof(reason)) == -1) {
		finish(v, CORE_VERDICT_INDETERMINATE, reason);
		return;
	}
	count_signer(v, v->pending);
}


int
core_referrer_desc_bundle(const json_t *d)
{
	const char	*dg, *mt, *at;

	dg = json_string_value(json_object_get(d, "digest"));
	mt = json_string_value(json_object_get(d, "mediaType"));
	at = json_string_value(json_object_get(d, "artifactType"));
	return dg != NULL && strncmp(dg, "sha256:", 7) == 0 &&
	    core_digest_valid(dg, strlen(dg)) &&
	    (mt == NULL || strcmp(mt, CORE_MT_OCI_MANIFEST) == 0) &&
	    (at == NULL || strncmp(at, CORE_MT_SGBUNDLE_PREFIX,
	    strlen(CORE_MT_SGBUNDLE_PREFIX)) == 0 ||
	    strcmp(at, CORE_MT_OCI_EMPTY) == 0);
}

/*
 * A referrers index (the API's answer, or the tag schema's): the
 * descriptors that may be Sigstore bundles (core_referrer_desc_bundle),
 * at most CORE_REFERRERS_MAX.  -1 when body is not an index.
 */
static int
read_index(struct core_verifier *v, const char *body, size_t len)
{
	json_t		*o, *m, *d;
	char		 err[160];
	size_t		 i;

	o = core_json_load(body, len, &core_json_manifest, err, sizeof(err));
	m = json_object_get(o, "manifests");
	if (!json_is_array(m)) {
		json_decref(o);
		return -1;
	}
	if (v->state != VD_REFERRERS_NEXT) {	/* a page adds to the list */
		free(v->refs);
		v->refs = calloc(CORE_REFERRERS_MAX, sizeof(*v->refs));
		v->nrefs = v->ref = 0;
	}
	if (v->refs == NULL) {
		json_decref(o);
		return -1;
	}
	json_array_foreach(m, i, d) {
		if (v->nrefs == CORE_REFERRERS_MAX)
			break;
		if (!core_referrer_desc_bundle(d))
			continue;
		snprintf(v->refs[v->nrefs++].digest, CORE_DIGEST_MAX + 1, "%s",
		    json_string_value(json_object_get(d, "digest")));
	}
	json_decref(o);
	v->found = 1;
	return 0;
}

/* The referrers API's answer read: its next page, if it names one that
 * is worth reading, else the referrers themselves. */
static void
next_page(struct core_verifier *v)
{
	if (v->next[0] != '\0' && v->pages < CORE_REFERRERS_PAGES &&
	    v->nrefs < CORE_REFERRERS_MAX) {
		v->pages++;
		v->state = VD_REFERRERS_NEXT;
		return;
	}
	next_ref(v);
}

static void
feed_referrers(struct core_verifier *v, int status, const char *body,
    size_t len, const char *errstr)
{
	/* 404, and 400 or 406 as go-containerregistry takes them: no API,
	 * so the tag schema */
	if (status == 404 || status == 400 || status == 406 ||
	    (status == 200 && read_index(v, body, len) == -1)) {
		v->state = VD_REFTAG;
		return;
	}
	if (status != 200) {
		indeterminate(v, "the referrers", status, errstr);
		return;
	}
	next_page(v);
}

/* A further page: the API is there, so any failure is indeterminate. */
static void
feed_referrers_next(struct core_verifier *v, int status, const char *body,
    size_t len, const char *errstr)
{
	if (status == 200 && read_index(v, body, len) == -1) {
		indeterminate(v, "a page of the referrers", 0, "not an image "
		    "index");
		return;
	}
	if (status != 200) {
		indeterminate(v, "a page of the referrers", status, errstr);
		return;
	}
	next_page(v);
}

void
core_verifier_feed_link(struct core_verifier *v, const char *link)
{
	char	want[CORE_DIGEST_MAX + 16], *p;

	v->next[0] = '\0';
	if ((v->state != VD_REFERRERS && v->state != VD_REFERRERS_NEXT) ||
	    link == NULL || core_link_next(link, v->next,
	    sizeof(v->next)) == -1) {
		v->next[0] = '\0';
		return;
	}
	/* a page of this image's referrers, nothing else */
	snprintf(want, sizeof(want), "/referrers/%s", v->digest);
	p = strstr(v->next, want);
	if (p == NULL || (p[strlen(want)] != '\0' && p[strlen(want)] != '?'))
		v->next[0] = '\0';
}

static void
feed_reftag(struct core_verifier *v, int status, const char *body,
    size_t len, const char *errstr)
{
	char	hex[65];

	if (status == 404) {
		conclude(v);
		return;
	}
	if (status != 200) {
		indeterminate(v, "the referrers tag", status, errstr);
		return;
	}
	/* GitLab resolves a tag sha256-<hex> to the manifest sha256:<hex>
	 * itself: that is no index of referrers */
	core_sha256_hex(body, len, hex);
	if (strcmp(hex, v->digest + 7) == 0 || read_index(v, body, len) == -1) {
		conclude(v);
		return;
	}
	next_ref(v);
}

static void
feed_refman(struct core_verifier *v, int status, const char *body,
    size_t len, const char *errstr)
{
	json_t		*o, *l, *layer;
	const char	*mt, *lt, *dg, *subj;
	char		 hex[65];

	if (status == 404) {
		refuse(v, "a referrer is missing");
		return;
	}
	if (status != 200) {
		indeterminate(v, "a referrer", status, errstr);
		return;
	}
	core_sha256_hex(body, len, hex);
	if (strcmp(hex, v->refs[v->ref - 1].digest + 7) != 0) {
		refuse(v, "a referrer does not match its digest");
		return;
	}
	o = core_json_parse(body, len, &core_json_manifest);
	mt = json_string_value(json_object_get(o, "mediaType"));
	l = json_object_get(o, "layers");
	layer = json_array_get(l, 0);
	lt = json_string_value(json_object_get(layer, "mediaType"));
	dg = json_string_value(json_object_get(layer, "digest"));
	subj = json_string_value(json_object_get(json_object_get(o, "subject"),
	    "digest"));
	/* as cosign: one layer, a Sigstore bundle; and, stricter than
	 * cosign, a subject that is this image (a referrer listed under
	 * another image's index proves nothing about this one) */
	if ((mt != NULL && strcmp(mt, CORE_MT_OCI_MANIFEST) != 0) ||
	    json_array_size(l) != 1 || lt == NULL ||
	    strncmp(lt, CORE_MT_SGBUNDLE_PREFIX,
	    strlen(CORE_MT_SGBUNDLE_PREFIX)) != 0) {
		json_decref(o);
		next_ref(v);	/* another kind of referrer: not ours */
		return;
	}
	if (subj == NULL || strcmp(subj, v->digest) != 0) {
		json_decref(o);
		refuse(v, "a referrer's subject is not this image");
		return;
	}
	if (dg == NULL || strncmp(dg, "sha256:", 7) != 0 ||
	    !core_digest_valid(dg, strlen(dg)) ||
	    !json_is_integer(json_object_get(layer, "size")) ||
	    json_integer_value(json_object_get(layer, "size")) <= 0 ||
	    json_integer_value(json_object_get(layer, "size")) >
	    CORE_SGBUNDLE_MAX) {
		json_decref(o);
		refuse(v, "a referrer's bundle descriptor is malformed or "
		    "larger than %d KiB", CORE_SGBUNDLE_MAX / 1024);
		return;
	}
	snprintf(v->bdigest, sizeof(v->bdigest), "%s", dg);
	v->bsize = json_integer_value(json_object_get(layer, "size"));
	json_decref(o);
	drop_kept(v);
	if (v->opts.keep)
		v->kman = keep_copy(body, len, &v->kmlen);
	v->state = VD_BUNDLE;
}

static void
feed_bundle(struct core_verifier *v, int status, const char *body,
    size_t len, const char *errstr)
{
	struct core_bundle_ok	 ok;
	char			 hex[65], reason[300];

	if (status == 404) {
		refuse(v, "a bundle is missing");
		return;
	}
	if (status != 200) {
		indeterminate(v, "a bundle", status, errstr);
		return;
	}
	core_sha256_hex(body, len, hex);
	if (len != (size_t)v->bsize || strcmp(hex, v->bdigest + 7) != 0) {
		refuse(v, "a bundle does not match its descriptor");
		return;
	}
	if (core_bundle_verify(v->opts.trust, v->digest, body, len,
	    v->opts.online, &ok, reason, sizeof(reason)) == -1) {
		refuse(v, "%.255s", reason);
		return;
	}
	free(v->payload);
	v->payload = ok.payload;
	v->plen = ok.plen;
	if (v->kman != NULL)
		v->kbundle = keep_copy(body, len, &v->kblen);
	if (v->opts.online) {
		ask_log(v, ok.signer, ok.rekor);
		return;
	}
	free(ok.rekor);
	count_signer(v, ok.signer);
}

void
core_verifier_feed(struct core_verifier *v, int status, const char *body,
    size_t len, const char *errstr)
{
	if (body == NULL)
		len = 0;
	switch (v->state) {
	case VD_LIST:
		feed_list(v, status, body, len, errstr);
		break;
	case VD_PAYLOAD:
		feed_payload(v, status, body, len, errstr);
		break;
	case VD_ENTRY:
		feed_entry(v, status, body, len, errstr);
		break;
	case VD_PROOF:
		feed_proof(v, status, body, len, errstr);
		break;
	case VD_REFERRERS:
		feed_referrers(v, status, body, len, errstr);
		break;
	case VD_REFERRERS_NEXT:
		feed_referrers_next(v, status, body, len, errstr);
		break;
	case VD_REFTAG:
		feed_reftag(v, status, body, len, errstr);
		break;
	case VD_REFMAN:
		feed_refman(v, status, body, len, errstr);
		break;
	case VD_BUNDLE:
		feed_bundle(v, status, body, len, errstr);
		break;
	case VD_DONE:
		break;
	}
}

enum core_verdict
core_verifier_verdict(const struct core_verifier *v, const char **reason)
{
	if (reason != NULL)
		*reason = v->state == VD_DONE ? v->reason : "not finished";
	return v->state == VD_DONE ? v->verdict : CORE_VERDICT_INDETERMINATE;
}

int
core_verifier_nsigners(const struct core_verifier *v)
{
	return v->nsigners;
}

const char *
core_verifier_signer(const struct core_verifier *v, int i)
{
	return i >= 0 && i < v->nsigners ? v->signers[i] : NULL;
}

size_t
core_verifier_looked(const struct core_verifier *v)
{
	return v->looked;
}

size_t
core_verifier_nvalid(const struct core_verifier *v)
{
	return v->nvalid;
}

const struct core_vvalid *
core_verifier_valid(const struct core_verifier *v, size_t i)
{
	return i < v->nvalid ? &v->valid[i] : NULL;
}

const char *
core_verifier_last_refusal(const struct core_verifier *v)
{
	return v->lastfail[0] != '\0' ? v->lastfail : NULL;
}

const struct core_sigman *
core_verifier_list(const struct core_verifier *v)
{
	return &v->list;
}

const char *
core_verifier_forked(const struct core_verifier *v)
{
	return v->forked[0] != '\0' ? v->forked : NULL;
}
