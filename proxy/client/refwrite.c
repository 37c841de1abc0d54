/*
 * proxy/client/refwrite.c: write a cosign v3 signature, as cosign 3 pushes
 * one (COSIGN-V3.md §1.2): the empty config and the bundle blob, the
 * referrer manifest by digest (its subject the image), then, where the
 * registry has no referrers API, the referrers tag schema's index
 * (sha256-<hex>) with the referrer added.
 *
 * The index is shared read-append-write state, racy as the .sig list: a
 * writer that read it before our PUT and writes after drops our entry.
 * cosign writes it once and never looks again; here the index is read back
 * after each write and the entry added again, after a jittered pause,
 * until it is there (RW_ATTEMPTS rounds), and the signer looks again later
 * (its rechecks).  The caller serializes writers inside signet (the
 * signer's per-digest lock); the read-back catches the ones outside.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <mbedtls/platform_util.h>

#include "client.h"

enum rw_state {
	RW_POST,	/* an upload session for blob rw_blob */
	RW_PUT_BLOB,
	RW_PUT_REFERRER,
	RW_PROBE,	/* GET /referrers/: does the registry index it? */
	RW_READ,	/* GET the sha256-<hex> index */
	RW_PUT_INDEX,
	RW_READ_BACK,
	RW_PAUSE,
	RW_DONE
};

static const char *const rw_names[] = {
	[RW_POST] = "post", [RW_PUT_BLOB] = "put-blob",
	[RW_PUT_REFERRER] = "put-referrer", [RW_PROBE] = "probe",
	[RW_READ] = "read-index", [RW_PUT_INDEX] = "put-index",
	[RW_READ_BACK] = "read-back", [RW_PAUSE] = "pause", [RW_DONE] = "done",
};

struct px_refwrite {
	struct px_upstream		*rw_up;
	const struct conf_endpoint	*rw_ep;
	struct event_base		*rw_base;
	char				*rw_repo, *rw_auth, *rw_ua, *rw_origin;
	char				*rw_bundle, *rw_referrer;
	size_t				 rw_blen, rw_rlen;
	char				 rw_bdigest[CORE_DIGEST_MAX + 1];
	char				 rw_rdigest[CORE_DIGEST_MAX + 1];
	char				 rw_subject[CORE_DIGEST_MAX + 1];
	char				 rw_tag[CORE_TAG_MAX + 1];
	int				 rw_create;	/* 0: a recheck, which
							 * does not recreate a
							 * deleted index */
	int				 rw_attempts, rw_attempt;
	int				 rw_blob;	/* 0 config, 1 bundle */
	int				 rw_writes;
	int				 rw_starting;	/* no callback yet */
	int				 rw_reput;	/* the pause is for the
							 * referrer's PUT */
	enum rw_state			 rw_state;
	struct px_fetch			*rw_f;
	struct event			*rw_timer;
	px_rw_fn			 rw_cb;
	void				*rw_arg;
	struct px_rw_result		 rw_result;
	char				 rw_msg[400];
};

static void	rw_step(struct px_refwrite *);

static void
rw_done(struct px_refwrite *w, enum px_rw_outcome o, int status,
    const char *fmt, const char *a)
{
	w->rw_state = RW_DONE;
	snprintf(w->rw_msg, sizeof(w->rw_msg), fmt, a != NULL ? a : "");
	w->rw_result.outcome = o;
	w->rw_result.status = status;
	w->rw_result.message = w->rw_msg;
	w->rw_result.writes = w->rw_writes;
	w->rw_result.attempts = w->rw_attempt + 1;
	w->rw_result.referrer = w->rw_rdigest;
	if (!w->rw_starting)
		w->rw_cb(w->rw_arg, &w->rw_result);
}

/* A request failed or was refused: in the registry's words. */
static void
rw_fail(struct px_refwrite *w, struct px_fetch *f, const char *what)
{
	char	why[300];
	int	st = px_fetch_status(f);

	snprintf(why, sizeof(why), "%s: %s%s", what, st == 0 ? "" :
	    "upstream answered ", st == 0 ? px_fetch_error(f) :
	    px_fetch_reason(f));
	rw_done(w, PX_RW_FAILED, st == 0 || st >= 500 || st == 429 ? 503 : 403,
	    "%s", why);
}

static void
on_answer(struct px_fetch *f, void *arg)
{
	struct px_refwrite	*w = arg;

	(void)f;
	rw_step(w);
}

static int
rw_send(struct px_refwrite *w, enum rw_state st, const char *method,
    const char *target, const char *ctype, const char *accept,
    const void *body, size_t len)
{
	char	err[400];

	w->rw_state = st;
	w->rw_f = px_fetch_send(w->rw_up, w->rw_ep, &(struct px_request){
	    .method = method, .target = target, .authorization = w->rw_auth,
	    .content_type = ctype, .accept = accept, .user_agent = w->rw_ua,
	    .origin = w->rw_origin, .body = body, .len = len }, on_answer, w,
	    err, sizeof(err));
	if (w->rw_f == NULL) {
		rw_done(w, PX_RW_FAILED, 500, "%s", err);
		return -1;
	}
	return 0;
}

static void
post_blob(struct px_refwrite *w)
{
	char	target[600];

	snprintf(target, sizeof(target), "/v2/%s/blobs/uploads/", w->rw_repo);
	(void)rw_send(w, RW_POST, "POST", target, NULL, NULL, NULL, 0);
}

static void
read_index(struct px_refwrite *w, enum rw_state st)
{
	char	target[600];

	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", w->rw_repo,
	    w->rw_tag);
	(void)rw_send(w, st, "GET", target, NULL, CORE_MT_OCI_INDEX, NULL, 0);
}

static void
put_referrer(struct px_refwrite *w)
{
	char	target[600];

	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", w->rw_repo,
	    w->rw_rdigest);
	(void)rw_send(w, RW_PUT_REFERRER, "PUT", target, CORE_MT_OCI_MANIFEST,
	    NULL, w->rw_referrer, w->rw_rlen);
}

static void
on_pause(evutil_socket_t fd, short what, void *arg)
{
	struct px_refwrite	*w = arg;

	(void)fd;
	(void)what;
	w->rw_attempt++;
	if (w->rw_reput) {
		w->rw_reput = 0;
		put_referrer(w);
		return;
	}
	read_index(w, RW_READ);
}

/* Our entry is not in what was read back: add it again, after a pause. */
static void
again(struct px_refwrite *w)
{
	struct timeval	tv;

	if (w->rw_attempt + 1 >= w->rw_attempts) {
		rw_done(w, PX_RW_LOST, 503, "the referrers index %s lost our "
		    "entry to concurrent writers, %s", w->rw_tag);
		return;
	}
	w->rw_state = RW_PAUSE;
	tv.tv_sec = 0;
	tv.tv_usec = 50000 + (suseconds_t)(arc4random_uniform(250000));
	if (w->rw_timer == NULL)
		w->rw_timer = evtimer_new(w->rw_base, on_pause, w);
	if (w->rw_timer == NULL || evtimer_add(w->rw_timer, &tv) == -1)
		rw_done(w, PX_RW_FAILED, 500, "out of memory%s", NULL);
}

/* The index as read: ours added and written, or there already. */
static void
merge(struct px_refwrite *w, const char *body, size_t len, int absent)
{
	char	 target[600], err[200], *out = NULL;
	size_t	 olen = 0;
	int	 rc;

	if (absent && !w->rw_create) {
		/* a recheck finds the whole index gone: deleted on purpose
		 * (the image's DELETE cascade, gc), not lost to a race */
		rw_done(w, PX_RW_ABSENT, 200, "the referrers index is gone%s",
		    NULL);
		return;
	}
	rc = core_refindex_add(absent ? NULL : body, len, w->rw_rdigest,
	    w->rw_rlen, CORE_MT_SGBUNDLE_V03, &out, &olen, err, sizeof(err));
	if (rc == -1) {
		rw_done(w, PX_RW_FAILED, 403, "the referrers tag: %s", err);
		return;
	}
	if (rc == 0) {
		rw_done(w, w->rw_writes > 0 ? PX_RW_WRITTEN : PX_RW_PRESENT,
		    201, "in the referrers index%s", NULL);
		return;
	}
	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", w->rw_repo,
	    w->rw_tag);
	free(w->rw_bundle);	/* the blobs are up: hold the index instead */
	w->rw_bundle = out;
	w->rw_blen = olen;
	w->rw_writes++;
	(void)rw_send(w, RW_PUT_INDEX, "PUT", target, CORE_MT_OCI_INDEX, NULL,
	    out, olen);
}

static void
rw_step(struct px_refwrite *w)
{
	struct px_fetch	*f = w->rw_f;
	const char	*body, *loc;
	char		*u, target[600];
	size_t		 len;
	int		 st = px_fetch_status(f);

	w->rw_f = NULL;
	px_debug("refwrite %s %s: HTTP %d", w->rw_repo, rw_names[w->rw_state],
	    st);
	switch (w->rw_state) {
	case RW_POST:
		loc = px_fetch_location(f);
		if (st != 202 || loc == NULL) {
			rw_fail(w, f, "starting a blob upload for the bundle");
			break;
		}
		u = malloc(strlen(loc) + CORE_DIGEST_MAX + 16);
		if (u == NULL) {
			rw_done(w, PX_RW_FAILED, 500, "out of memory%s", NULL);
			break;
		}
		sprintf(u, "%s%cdigest=%s", loc, strchr(loc, '?') != NULL ?
		    '&' : '?', w->rw_blob == 0 ? CORE_EMPTY_DIGEST :
		    w->rw_bdigest);
		(void)rw_send(w, RW_PUT_BLOB, "PUT", u,
		    "application/octet-stream", NULL, w->rw_blob == 0 ? "{}" :
		    w->rw_bundle, w->rw_blob == 0 ? 2 : w->rw_blen);
		free(u);
		break;
	case RW_PUT_BLOB:
		if (st != 201) {
			rw_fail(w, f, "uploading the bundle's blobs");
			break;
		}
		if (w->rw_blob++ == 0) {
			post_blob(w);
			break;
		}
		put_referrer(w);
		break;
	case RW_PUT_REFERRER:
		if (st == 400 && (px_fetch_error_is(f, "DIGEST_INVALID") ||
		    px_fetch_error_is(f, "MANIFEST_BLOB_UNKNOWN")) &&
		    w->rw_attempt + 1 < w->rw_attempts) {
			/*
			 * distribution checks the blobs a manifest names by
			 * reading their links, which concurrent uploads of the
			 * same blob (the empty config every referrer shares)
			 * rewrite: a link read half-written is "digest
			 * invalid".  The same bytes again, in a moment.
			 */
			w->rw_reput = 1;
			again(w);
			break;
		}
		if (st != 201) {
			rw_fail(w, f, "writing the referrer");
			break;
		}
		snprintf(target, sizeof(target), "/v2/%s/referrers/%s",
		    w->rw_repo, w->rw_subject);
		(void)rw_send(w, RW_PROBE, "GET", target, NULL,
		    CORE_MT_OCI_INDEX, NULL, 0);
		break;
	case RW_PROBE:
		/*
		 * A registry with the referrers API lists the referrer
		 * itself (as go-containerregistry, signet does not trust an
		 * OCI-Subject header alone: ECR sent one without the API).
		 * Anything else but a failure: the tag schema.
		 */
		body = px_fetch_body(f, &len);
		if (st == 200 && core_refindex_has(body, len, w->rw_rdigest)) {
			rw_done(w, PX_RW_WRITTEN, 201, "listed by the referrers "
			    "API%s", NULL);
			break;
		}
		if (st == 0 || st >= 500 || st == 429 || st == 401) {
			rw_fail(w, f, "asking for the referrers");
			break;
		}
		read_index(w, RW_READ);
		break;
	case RW_READ:
	case RW_READ_BACK:
		st = px_fetch_read_status(f, w->rw_ep);
		body = px_fetch_body(f, &len);
		if ((st == 500 || st == 502 || st == 503) &&
		    w->rw_attempt + 1 < w->rw_attempts) {
			/* distribution answers 500 for a tag a concurrent
			 * writer is replacing: read it again in a moment */
			again(w);
			break;
		}
		if (st != 200 && st != 404) {
			rw_fail(w, f, "reading the referrers index");
			break;
		}
		if (w->rw_state == RW_READ_BACK && st == 200 &&
		    core_refindex_has(body, len, w->rw_rdigest)) {
			rw_done(w, PX_RW_WRITTEN, 201, "in the referrers index%s",
			    NULL);
			break;
		}
		if (w->rw_state == RW_READ_BACK) {
			again(w);
			break;
		}
		merge(w, body, len, st == 404);
		break;
	case RW_PUT_INDEX:
		if (st != 201) {
			rw_fail(w, f, "writing the referrers index");
			break;
		}
		read_index(w, RW_READ_BACK);
		break;
	case RW_PAUSE:
	case RW_DONE:
		break;
	}
	px_fetch_free(f);
}

struct px_refwrite *
px_refwrite_start(const struct px_refwrite_req *rq, px_rw_fn cb, void *arg)
{
	struct px_refwrite	*w;
	char			 hex[65];

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->rw_up = rq->up;
	w->rw_ep = rq->endpoint;
	w->rw_base = rq->base;
	w->rw_cb = cb;
	w->rw_arg = arg;
	w->rw_create = rq->create;
	w->rw_attempts = rq->attempts > 0 ? rq->attempts : 1;
	w->rw_repo = strdup(rq->repo);
	w->rw_auth = rq->authorization != NULL ? strdup(rq->authorization) :
	    NULL;
	w->rw_ua = rq->user_agent != NULL ? strdup(rq->user_agent) : NULL;
	w->rw_origin = rq->origin != NULL ? strdup(rq->origin) : NULL;
	w->rw_bundle = malloc(rq->blen + 1);
	w->rw_referrer = rq->referrer != NULL ? strdup(rq->referrer) : NULL;
	if (w->rw_repo == NULL || w->rw_bundle == NULL ||
	    w->rw_referrer == NULL || (rq->authorization != NULL &&
	    w->rw_auth == NULL) || (rq->user_agent != NULL && w->rw_ua ==
	    NULL) || (rq->origin != NULL && w->rw_origin == NULL)) {
		px_refwrite_free(w);
		return NULL;
	}
	memcpy(w->rw_bundle, rq->bundle, rq->blen);
	w->rw_blen = rq->blen;
	w->rw_rlen = strlen(w->rw_referrer);
	core_sha256_hex(w->rw_bundle, w->rw_blen, hex);
	snprintf(w->rw_bdigest, sizeof(w->rw_bdigest), "sha256:%s", hex);
	core_sha256_hex(w->rw_referrer, w->rw_rlen, hex);
	snprintf(w->rw_rdigest, sizeof(w->rw_rdigest), "sha256:%s", hex);
	snprintf(w->rw_subject, sizeof(w->rw_subject), "%s", rq->subject);
	snprintf(w->rw_tag, sizeof(w->rw_tag), "sha256-%.64s",
	    rq->subject + 7);
	/* the first request: the callback never runs from here */
	w->rw_starting = 1;
	post_blob(w);
	w->rw_starting = 0;
	if (w->rw_state == RW_DONE) {
		px_refwrite_free(w);
		return NULL;
	}
	return w;
}

void
px_refwrite_free(struct px_refwrite *w)
{
	if (w == NULL)
		return;
	px_fetch_free(w->rw_f);
	if (w->rw_timer != NULL)
		event_free(w->rw_timer);
	if (w->rw_auth != NULL) {
		mbedtls_platform_zeroize(w->rw_auth, strlen(w->rw_auth));
		free(w->rw_auth);
	}
	free(w->rw_repo);
	free(w->rw_ua);
	free(w->rw_origin);
	free(w->rw_bundle);
	free(w->rw_referrer);
	free(w);
}
