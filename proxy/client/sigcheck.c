/*
 * proxy/client/sigcheck.c: run the core verification driver against a registry.
 *
 * core_verifier_next says what to read; this file reads it (the signature
 * list and payload blobs from the signature repository, a Rekor entry from
 * the log), feeds the answer back, and calls the owner once the verdict is
 * in.  It never sees a client connection: the pull path, `signet verify`
 * and `signet copy --verify` hand it the same things (where, with which
 * credentials) and get the same verdicts.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "client.h"

struct px_sigcheck {
	struct core_verifier	*k_run;		/* borrowed */
	struct conf_endpoint	*k_ep;		/* a copy */
	struct px_upstream	*k_up;
	struct px_fetch		*k_f;
	char			 k_sigrepo[CORE_NAME_MAX + 1];
	char			*k_auth;	/* wiped when freed */
	char			*k_ua;
	char			 k_origin[300];
	char			 k_rekor[256];
	int			 k_requests;	/* sent so far */
	int			 k_retries;	/* of this request, after a 5xx */
	int			 k_lag_tries;	/* of this request, after a 404 */
	long			 k_lag_ms;	/* waited for lagging reads */
	struct event		*k_timer;
	px_sigcheck_fn		 k_cb;
	void			*k_arg;
};

static int	issue(struct px_sigcheck *);

/*
 * A registry read answered 500, 502 or 503 is asked again, twice at most,
 * after a short jittered pause: distribution answers 500 for a tag whose
 * link is being rewritten by a concurrent writer.  What still fails is
 * indeterminate, as before.  The log's answers are not retried here.
 */
#define SIGCHECK_RETRIES	2

/*
 * A 404 for what the signature list or a referrers index just read names
 * (a payload, a referrer or a bundle, by digest) contradicts that read: a
 * registry whose replicas lag (GAR multi-region) answers so for a moment
 * after a push.  Such a read is asked again after 250 ms, doubling, 2 s
 * apart at most, while the check has waited less than SIGCHECK_LAG_MS in
 * all; what is still missing then is missing.  A 404 for the list or the
 * referrers themselves (an unsigned image) is an answer: no wait.
 */
#define SIGCHECK_LAG_MS		6000
#define SIGCHECK_LAG_FIRST_MS	250
#define SIGCHECK_LAG_STEP_MS	2000

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct px_sigcheck	*k = arg;

	(void)fd;
	(void)what;
	if (issue(k) != 1)
		k->k_cb(k->k_arg, k->k_run);
}

/* issue the need again in ms milliseconds */
static int
retry_later(struct px_sigcheck *k, long ms)
{
	struct timeval	tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };

	if (k->k_timer == NULL)
		k->k_timer = evtimer_new(px_upstream_base(k->k_up), on_retry, k);
	return k->k_timer == NULL || evtimer_add(k->k_timer, &tv) == -1 ? -1 :
	    0;
}

/*
 * 1 when a 404 for need is to be asked again later (SIGCHECK_LAG_MS): a
 * read by digest of what was just listed, within the check's budget.
 */
static int
lagging(struct px_sigcheck *k, const struct core_vneed *need)
{
	long	ms;

	if (need->kind != CORE_VN_PAYLOAD && (need->kind != CORE_VN_MANIFEST ||
	    strncmp(need->ref, "sha256:", 7) != 0))
		return 0;
	ms = SIGCHECK_LAG_FIRST_MS << (k->k_lag_tries < 4 ? k->k_lag_tries :
	    4);
	if (ms > SIGCHECK_LAG_STEP_MS)
		ms = SIGCHECK_LAG_STEP_MS;
	if (k->k_lag_ms + ms > SIGCHECK_LAG_MS)
		ms = SIGCHECK_LAG_MS - k->k_lag_ms;
	if (ms <= 0 || retry_later(k, ms) == -1)
		return 0;
	px_info("sigcheck %s: %s %s is 404 though just listed: asked again in "
	    "%ld ms (a registry whose replicas lag; %ld of %d ms waited)",
	    k->k_sigrepo, core_verifier_state(k->k_run), need->ref, ms,
	    k->k_lag_ms, SIGCHECK_LAG_MS);
	k->k_lag_ms += ms;
	k->k_lag_tries++;
	px_fetch_free(k->k_f);
	k->k_f = NULL;
	return 1;
}

static void
on_answer(struct px_fetch *f, void *arg)
{
	struct px_sigcheck	*k = arg;
	struct core_vneed	 need;
	const char		*body;
	size_t			 len;
	int			 st = px_fetch_status(f);

	(void)core_verifier_next(k->k_run, &need);
	/* a registry that answers 403 for what is not there (configured);
	 * never the log's answers */
	if (need.kind != CORE_VN_LOG_ENTRY && need.kind != CORE_VN_LOG_PROOF)
		st = px_fetch_read_status(f, k->k_ep);
	body = px_fetch_body(f, &len);
	px_debug("sigcheck: %s %s: HTTP %d, %zu bytes",
	    core_verifier_state(k->k_run), need.ref, st, len);
	if ((st == 500 || st == 502 || st == 503) &&
	    need.kind != CORE_VN_LOG_ENTRY && need.kind != CORE_VN_LOG_PROOF &&
	    k->k_retries < SIGCHECK_RETRIES &&
	    retry_later(k, 50 + (long)arc4random_uniform(200)) == 0) {
		k->k_retries++;
		px_fetch_free(k->k_f);
		k->k_f = NULL;
		return;
	}
	if (st == 404 && lagging(k, &need))
		return;
	k->k_retries = 0;
	k->k_lag_tries = 0;
	/* an answer over need.max_len was cut off by the fetch: status 0 */
	/* the referrers API may name a next page */
	core_verifier_feed_link(k->k_run, px_fetch_link(f));
	/* the reason (which parses an error body) only for an answer that
	 * needs one: a 200 list may be 4 MiB, parsed once by the driver */
	core_verifier_feed(k->k_run, st, body, len, st == 200 || st == 404 ?
	    NULL : px_fetch_reason(f));
	px_fetch_free(k->k_f);
	k->k_f = NULL;
	if (issue(k) != 1)
		k->k_cb(k->k_arg, k->k_run);	/* the verdict is in */
}

/*
 * The request for the driver's next need: 1 when it started, 0 when the
 * verdict is in, -1 when it could not start (fed to the driver as a failed
 * request, so the verdict is in too: indeterminate).
 */
static int
issue(struct px_sigcheck *k)
{
	struct core_vneed	 need;
	struct px_request	 rq;
	char			 target[CORE_LINK_MAX + CORE_NAME_MAX + 300], err[400];

	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.target = target;
	rq.authorization = k->k_auth;
	rq.user_agent = k->k_ua;
	rq.origin = k->k_origin;
	switch (core_verifier_next(k->k_run, &need)) {
	case CORE_VN_DONE:
		return 0;
	case CORE_VN_LIST:
		snprintf(target, sizeof(target), "/v2/%s/manifests/%s",
		    k->k_sigrepo, need.ref);
		rq.accept = CORE_MT_OCI_MANIFEST ", " CORE_MT_DOCKER_MANIFEST
		    ", " CORE_MT_OCI_INDEX ", " CORE_MT_DOCKER_LIST;
		break;
	case CORE_VN_PAYLOAD:
		snprintf(target, sizeof(target), "/v2/%s/blobs/%s",
		    k->k_sigrepo, need.ref);
		rq.follow = 1;	/* blobs may live in object storage */
		break;
	case CORE_VN_REFERRERS:
		/* no ?artifactType= filter: as cosign, filter here (old
		 * cosign wrote other artifact types) */
		snprintf(target, sizeof(target), "/v2/%s/referrers/%s",
		    k->k_sigrepo, need.ref);
		rq.accept = CORE_MT_OCI_INDEX;
		break;
	case CORE_VN_MANIFEST:
		snprintf(target, sizeof(target), "/v2/%s/manifests/%s",
		    k->k_sigrepo, need.ref);
		rq.accept = CORE_MT_ACCEPT_ALL;
		break;
	case CORE_VN_REFERRERS_NEXT:
		/* the registry's next page, of this repository only */
		snprintf(target, sizeof(target), "/v2/%s/referrers/",
		    k->k_sigrepo);
		if (strncmp(need.ref, target, strlen(target)) != 0) {
			core_verifier_feed(k->k_run, 0, NULL, 0, "the next "
			    "page the registry named is not in this "
			    "repository");
			return -1;
		}
		snprintf(target, sizeof(target), "%s", need.ref);
		rq.accept = CORE_MT_OCI_INDEX;
		break;
	case CORE_VN_LOG_ENTRY:
	case CORE_VN_LOG_PROOF:
		snprintf(target, sizeof(target), "%s/api/v1/log/%s%s",
		    k->k_rekor, need.kind == CORE_VN_LOG_ENTRY ? "entries/" :
		    "proof?", need.ref);
		/* the log is not the registry: no credentials go there */
		rq.target = NULL;
		rq.url = target;
		rq.authorization = NULL;
		rq.accept = "application/json";
		break;
	}
	rq.max_len = need.max_len;
	k->k_requests++;
	k->k_f = px_fetch_send(k->k_up, k->k_ep, &rq, on_answer, k, err,
	    sizeof(err));
	if (k->k_f == NULL) {
		core_verifier_feed(k->k_run, 0, NULL, 0, err);
		return -1;
	}
	return 1;
}

struct px_sigcheck *
px_sigcheck_start(const struct px_sigcheck_req *rq, struct core_verifier *run,
    px_sigcheck_fn cb, void *arg)
{
	struct px_sigcheck	*k;

	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	k->k_run = run;
	k->k_ep = conf_endpoint_dup(rq->endpoint);
	k->k_up = rq->up;
	k->k_cb = cb;
	k->k_arg = arg;
	snprintf(k->k_sigrepo, sizeof(k->k_sigrepo), "%s", rq->sigrepo);
	snprintf(k->k_origin, sizeof(k->k_origin), "%s",
	    rq->origin != NULL ? rq->origin : "");
	snprintf(k->k_rekor, sizeof(k->k_rekor), "%s", rq->rekor_url != NULL ?
	    rq->rekor_url : CONF_REKOR_URL_DEFAULT);
	k->k_auth = rq->authorization != NULL ? strdup(rq->authorization) :
	    NULL;
	k->k_ua = rq->user_agent != NULL ? strdup(rq->user_agent) : NULL;
	if (k->k_ep == NULL || (rq->authorization != NULL && k->k_auth ==
	    NULL) ||
	    (rq->user_agent != NULL && k->k_ua == NULL)) {
		px_sigcheck_free(k);
		return NULL;
	}
	/* the first need is the list, a request: cb never runs from here */
	if (issue(k) != 1) {
		px_sigcheck_free(k);
		return NULL;
	}
	return k;
}

int
px_sigcheck_requests(const struct px_sigcheck *k)
{
	return k->k_requests;
}

void
px_sigcheck_free(struct px_sigcheck *k)
{
	if (k == NULL)
		return;
	px_fetch_free(k->k_f);
	if (k->k_timer != NULL)
		event_free(k->k_timer);
	if (k->k_auth != NULL) {
		mbedtls_platform_zeroize(k->k_auth, strlen(k->k_auth));
		free(k->k_auth);
	}
	free(k->k_ua);
	conf_endpoint_free(k->k_ep);
	free(k);
}
