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
 * (at most CORE_VERIFY_LAYERS_MAX), the payload blob, checked with
 * core_verify_layer; with an online Rekor rule, the log's entry for the
 * layer's bundle.  An upstream or log that fails (transport error, 5xx)
 * makes the verdict INDETERMINATE, never DENY: an outage is not a proof
 * that something is unsigned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core.h"

enum vd_state { VD_LIST, VD_PAYLOAD, VD_ENTRY, VD_DONE };

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
	[VD_ENTRY] = "log entry", [VD_DONE] = "done",
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
	return v;
}

void
core_verifier_free(struct core_verifier *v)
{
	size_t	i;

	if (v == NULL)
		return;
	core_sigman_free(&v->list);
	for (i = 0; i < v->nvalid; i++)
		free(v->valid[i].payload);
	free(v->valid);
	free(v->payload);
	free(v);
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

	nv = reallocarray(v->valid, v->nvalid + 1, sizeof(*nv));
	if (nv == NULL)
		return -1;
	v->valid = nv;
	nv[v->nvalid].layer = v->cur;
	nv[v->nvalid].payload = v->payload;
	nv[v->nvalid].len = v->plen;
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
	} else {
		snprintf(reason, sizeof(reason), "no signature from a trusted "
		    "signer (%s)", v->lastfail[0] ? v->lastfail :
		    "no usable signature");
		finish(v, CORE_VERDICT_DENY, reason);
	}
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
		return;
	}
	conclude(v);
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
	case VD_ENTRY:
		core_sigman_layer(&v->list, v->cur, &l);
		need->kind = CORE_VN_LOG_ENTRY;
		if (core_rekor_bundle_uuid(l.bundle, need->ref) == -1) {
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
	char		 reason[400];
	const char	*why;

	if (status == 404) {
		finish(v, CORE_VERDICT_DENY, "no signature found");
		return;
	}
	if (status != 200) {
		if (errstr != NULL)
			snprintf(reason, sizeof(reason), "reading the signature "
			    "list: %s%.300s", status != 0 ? "upstream answered " :
			    "", errstr);
		else
			snprintf(reason, sizeof(reason), "reading the signature "
			    "list: %s%d", status != 0 ? "upstream answered HTTP " :
			    "request failed ", status);
		finish(v, CORE_VERDICT_INDETERMINATE, reason);
		return;
	}
	if (core_sigman_open(&v->list, body, len, 0, &why) == -1) {
		snprintf(reason, sizeof(reason), "no usable signature (%s)",
		    why);
		finish(v, CORE_VERDICT_DENY, reason);
		return;
	}
	next_layer(v);
}

static void
feed_payload(struct core_verifier *v, int status, const char *body,
    size_t len, const char *errstr)
{
	struct core_sig_layer	 l;
	char			 reason[256], signer[CORE_SIGNER_MAX];

	core_sigman_layer(&v->list, v->cur, &l);
	if (status != 200 && status != 404) {
		/* not "missing": a fault, a refusal, a rate limit */
		if (errstr != NULL)
			snprintf(reason, sizeof(reason), "reading a signature "
			    "payload: %s%.200s", status != 0 ? "upstream "
			    "answered " : "", errstr);
		else
			snprintf(reason, sizeof(reason), "reading a signature "
			    "payload: %s%d", status != 0 ? "upstream answered "
			    "HTTP " : "request failed ", status);
		finish(v, CORE_VERDICT_INDETERMINATE, reason);
		return;
	}
	if (status != 200) {
		snprintf(v->lastfail, sizeof(v->lastfail), "a signature payload "
		    "is missing (HTTP %d)", status);
		next_layer(v);
		return;
	}
	if (len != (size_t)l.size) {
		snprintf(v->lastfail, sizeof(v->lastfail), "a signature payload "
		    "does not match its descriptor");
		next_layer(v);
		return;
	}
	if (core_verify_layer(v->opts.trust, v->digest, body, len, &l, signer,
	    sizeof(signer), reason, sizeof(reason)) == -1) {
		snprintf(v->lastfail, sizeof(v->lastfail), "%s", reason);
		core_ascii(v->lastfail);
		next_layer(v);
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
		snprintf(v->pending, sizeof(v->pending), "%s", signer);
		v->state = VD_ENTRY;
		return;
	}
	if (accept_layer(v, signer) == -1) {
		finish(v, CORE_VERDICT_INDETERMINATE, "out of memory");
		return;
	}
	next_layer(v);
}

static void
feed_entry(struct core_verifier *v, int status, const char *body, size_t len,
    const char *errstr)
{
	struct core_sig_layer	 l;
	struct core_checkpoint	 cp;
	char			 reason[300], logid[65];
	int			 rc;

	core_sigman_layer(&v->list, v->cur, &l);
	if (status == 404) {
		snprintf(v->lastfail, sizeof(v->lastfail), "Rekor entry missing "
		    "from the log");
		next_layer(v);
		return;
	}
	if (status != 200) {
		snprintf(reason, sizeof(reason), "reading the Rekor entry: %s",
		    status == 0 ? (errstr != NULL ? errstr : "request failed") :
		    "the log failed");
		finish(v, CORE_VERDICT_INDETERMINATE, reason);
		return;
	}
	rc = core_rekor_check_online(v->opts.trust->rekor,
	    v->opts.trust->nrekor, body, len, l.bundle, &cp, reason,
	    sizeof(reason));
	if (rc == 0 && v->opts.state_dir != NULL) {
		if (core_rekor_bundle_logid(l.bundle, logid) == -1)
			snprintf(logid, sizeof(logid), "unknown");
		rc = core_checkpoint_remember(v->opts.state_dir, &cp, logid,
		    reason, sizeof(reason));
	}
	if (rc == -1) {
		snprintf(v->lastfail, sizeof(v->lastfail), "Rekor online check: "
		    "%.200s", reason);
		core_ascii(v->lastfail);
		next_layer(v);
		return;
	}
	if (accept_layer(v, v->pending) == -1) {
		finish(v, CORE_VERDICT_INDETERMINATE, "out of memory");
		return;
	}
	next_layer(v);
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
