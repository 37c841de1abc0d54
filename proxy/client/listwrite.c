/*
 * proxy/client/listwrite.c: the signature-list cycle, the one way signet
 * writes a list of signatures (cosign's sha256-<hex>.sig manifest): read
 * the list, let the caller say what it lacks, write the config and the
 * list, read it back, and start over when a concurrent writer (another
 * signet, cosign, a copy) replaced it with a list read before ours was in
 * it.  Registries have no compare-and-swap on tags, so the read-back is
 * what catches a lost write.  The signer (push, `signet sign`, rechecks)
 * and `signet copy` run it; what goes in the list is theirs, through the
 * need callback, so the cycle itself knows nothing of keys or payloads.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <mbedtls/platform_util.h>

#include "client.h"


enum lw_state {
	LW_READ,	/* GET the list */
	LW_POST,	/* an upload session for the config */
	LW_PUT_CONFIG,
	LW_PUT_LIST,
	LW_READ_BACK,	/* GET it again: is everything there? */
	LW_PAUSE,	/* a jittered wait before reading again */
	LW_ASIDE,	/* an unusable list kept under another tag */
	LW_CHECK,	/* HEAD: is the list still the one read? */
	LW_DONE
};

static const char *const lw_names[] = {
	[LW_READ] = "read", [LW_POST] = "post-config",
	[LW_PUT_CONFIG] = "put-config", [LW_PUT_LIST] = "put-list",
	[LW_READ_BACK] = "read-back", [LW_PAUSE] = "pause",
	[LW_ASIDE] = "set-aside", [LW_CHECK] = "check", [LW_DONE] = "done",
};

struct px_listwrite {
	/* the request, its strings copied; the endpoint borrowed */
	struct px_upstream		*lw_up;
	const struct conf_endpoint	*lw_ep;
	char				*lw_repo, *lw_tag;
	char				*lw_auth, *lw_ua, *lw_origin;
	char				*lw_verbatim, *lw_vtype;
	size_t				 lw_vlen;
	char				*lw_upload;	/* a session, once */
	char				*lw_uploaded;	/* config digest up */
	int				 lw_attempts, lw_create, lw_docker;
	int				 lw_fallback;
	int				 lw_set_aside;	/* keep unusable lists */
	int				 lw_asides;	/* set aside so far */
	char				 lw_aside_tag[CORE_TAG_MAX + 1];
	char				 lw_aside_digest[CORE_DIGEST_MAX + 1];
	char				 lw_aside_why[200];
	px_lw_need_fn			 lw_need;
	px_lw_fn			 lw_cb;
	void				*lw_arg;

	enum lw_state			 lw_state;
	struct event			*lw_timer;
	struct px_fetch			*lw_f;
	struct core_sigman		 lw_list;
	int				 lw_new;	/* no list was there */
	char				*lw_cfg, *lw_bytes;
	size_t				 lw_cfglen, lw_len;
	const char			*lw_ctype;	/* of lw_bytes */
	int				 lw_attempt;	/* reads started - 1 */
	int				 lw_writes, lw_repairs;
	int				 lw_preread;	/* lw_f: the first read */
	char				 lw_seen[CORE_DIGEST_MAX + 1];	/* the
					 * list read (its digest), "" none */
	int				 lw_rereads;	/* it changed before
							 * the PUT */
	char				 lw_before[CORE_DIGEST_MAX + 1];
	char				 lw_wrote[CORE_DIGEST_MAX + 1];
	long				 lw_lag_ms;	/* waited to see it */
	int				 lw_lag_wait;	/* the timer reads back */
	int				 lw_lags;	/* read-backs that saw
							 * the list before */
	char				 lw_err[600];
};

#define LW_ASIDES_MAX	2	/* unusable lists set aside in one job */
#define LW_REREADS_MAX	8	/* changed before the PUT: read again */
/*
 * A registry that shows a PUT only some time later (Docker Hub, GAR: about
 * 2 s) answers the read-back with the list as it was before: that is "not
 * visible yet", not "removed by a concurrent writer", so it is read back
 * again (100 ms, doubling, up to 1 s apart) for up to LW_VISIBLE_MS before
 * it counts as lost and is written again.
 */
#define LW_VISIBLE_MS	6000

static void	lw_read(struct px_listwrite *);
static void	read_back(struct px_listwrite *);
static void	on_answer(struct px_fetch *, void *);

static void
set_state(struct px_listwrite *w, enum lw_state st)
{
	if (w->lw_state != st)
		px_debug("list %s:%s: %s -> %s", w->lw_repo, w->lw_tag,
		    lw_names[w->lw_state], lw_names[st]);
	w->lw_state = st;
}

/* The end, once: the callback may free the job. */
static void
finish(struct px_listwrite *w, enum px_lw_outcome o, int status)
{
	struct px_lw_result	r;

	set_state(w, LW_DONE);
	memset(&r, 0, sizeof(r));
	r.outcome = o;
	r.status = status;
	r.writes = w->lw_writes;
	r.repairs = w->lw_repairs;
	r.attempts = w->lw_attempt + 1;
	r.rereads = w->lw_rereads;
	r.lags = w->lw_lags;
	r.message = w->lw_err;
	w->lw_cb(w->lw_arg, &r);
}

/*
 * A failure from an answer: a transient upstream fault is a 503 (clients
 * retry those), any other refusal a 403 whose message clients print.
 */
static void
fail_http(struct px_listwrite *w, struct px_fetch *f, const char *what)
{
	int	st = px_fetch_status(f);

	if (st == 0)
		snprintf(w->lw_err, sizeof(w->lw_err), "%s: %s", what,
		    px_fetch_error(f));
	else
		snprintf(w->lw_err, sizeof(w->lw_err), "%s: upstream answered "
		    "%s", what, px_fetch_reason(f));
	/* a fault or a rate limit is a 503 (clients retry those) */
	finish(w, PX_LW_FAILED, st == 0 || st >= 500 || st == 429 ? 503 : 403);
}

static void
send_req(struct px_listwrite *w, const char *method, const char *target,
    const char *ctype, const void *body, size_t len)
{
	px_fetch_free(w->lw_f);
	w->lw_f = px_fetch_send(w->lw_up, w->lw_ep, &(struct px_request){
	    .method = method, .target = target, .authorization = w->lw_auth,
	    .content_type = ctype, .accept = body == NULL ? CORE_MT_ACCEPT_ALL :
	    NULL, .user_agent = w->lw_ua, .origin = w->lw_origin,
	    .body = body, .len = len }, on_answer, w, w->lw_err,
	    sizeof(w->lw_err));
	if (w->lw_f == NULL)
		finish(w, PX_LW_FAILED, 500);
}

static void
manifest_target(const struct px_listwrite *w, char *buf, size_t len)
{
	snprintf(buf, len, "/v2/%s/manifests/%s", w->lw_repo, w->lw_tag);
}

/* Read again after a jittered pause, or give up after the attempts. */
static void
again(struct px_listwrite *w)
{
	struct timeval	tv;

	if (w->lw_attempt + 1 >= w->lw_attempts) {
		snprintf(w->lw_err, sizeof(w->lw_err), "the signature list "
		    "%s:%s still lacked layers after %d attempts (a concurrent "
		    "writer kept replacing it)", w->lw_repo, w->lw_tag,
		    w->lw_attempts);
		finish(w, PX_LW_LOST, 503);
		return;
	}
	w->lw_attempt++;
	set_state(w, LW_PAUSE);
	tv.tv_sec = 0;
	tv.tv_usec = 20000 * w->lw_attempt + (long)arc4random_uniform(50000);
	evtimer_add(w->lw_timer, &tv);
}

static void
on_pause(evutil_socket_t fd, short what, void *arg)
{
	struct px_listwrite	*w = arg;

	(void)fd;
	(void)what;
	if (w->lw_preread) {
		w->lw_preread = 0;
		on_answer(w->lw_f, w);
		return;
	}
	if (w->lw_lag_wait) {
		w->lw_lag_wait = 0;
		read_back(w);
		return;
	}
	lw_read(w);
}

static void
lw_read(struct px_listwrite *w)
{
	char	target[600];

	set_state(w, LW_READ);
	manifest_target(w, target, sizeof(target));
	send_req(w, "GET", target, NULL, NULL, 0);
}

static void
read_back(struct px_listwrite *w)
{
	char	target[600];

	set_state(w, LW_READ_BACK);
	manifest_target(w, target, sizeof(target));
	send_req(w, "GET", target, NULL, NULL, 0);
}

/*
 * Just before the PUT, a HEAD: has the list changed since it was read?
 * Then it is read and extended again, so a signature another writer added
 * meanwhile is kept.  Registries have no compare-and-swap, so what is left
 * is the window between this HEAD's answer and the PUT (one round trip).
 */
static void
put_list(struct px_listwrite *w)
{
	char	target[600];

	set_state(w, LW_CHECK);
	manifest_target(w, target, sizeof(target));
	send_req(w, "HEAD", target, NULL, NULL, 0);
}

static void
put_list_now(struct px_listwrite *w)
{
	char	target[600], hex[65];

	snprintf(w->lw_before, sizeof(w->lw_before), "%s", w->lw_seen);
	core_sha256_hex(w->lw_bytes, w->lw_len, hex);
	snprintf(w->lw_wrote, sizeof(w->lw_wrote), "sha256:%s", hex);
	w->lw_lag_ms = 0;
	set_state(w, LW_PUT_LIST);
	manifest_target(w, target, sizeof(target));
	send_req(w, "PUT", target, w->lw_ctype, w->lw_bytes, w->lw_len);
}

static void
put_config(struct px_listwrite *w)
{
	char	hex[65], *u;
	size_t	n;

	set_state(w, LW_PUT_CONFIG);
	core_sha256_hex(w->lw_cfg, w->lw_cfglen, hex);
	n = strlen(w->lw_upload) + 96;
	u = malloc(n);
	if (u == NULL) {
		snprintf(w->lw_err, sizeof(w->lw_err), "out of memory");
		finish(w, PX_LW_FAILED, 500);
		return;
	}
	snprintf(u, n, "%s%cdigest=sha256:%s", w->lw_upload,
	    strchr(w->lw_upload, '?') != NULL ? '&' : '?', hex);
	free(w->lw_upload);
	w->lw_upload = NULL;	/* a session serves one blob */
	send_req(w, "PUT", u, "application/octet-stream", w->lw_cfg,
	    w->lw_cfglen);
	free(u);
}

/* The list as extended: its config first, unless it is up already. */
static void
write_list(struct px_listwrite *w)
{
	char	hex[65], digest[CORE_DIGEST_MAX + 1], target[600];

	core_sha256_hex(w->lw_cfg, w->lw_cfglen, hex);
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	if (w->lw_uploaded != NULL && strcmp(w->lw_uploaded, digest) == 0) {
		put_list(w);
	} else if (w->lw_upload != NULL) {
		put_config(w);
	} else {
		set_state(w, LW_POST);
		snprintf(target, sizeof(target), "/v2/%s/blobs/uploads/",
		    w->lw_repo);
		send_req(w, "POST", target, NULL, "", 0);
	}
}

/* The list's config and bytes; -1 (the message set) when it cannot. */
static int
serialize(struct px_listwrite *w)
{
	free(w->lw_cfg);
	free(w->lw_bytes);
	w->lw_cfg = w->lw_bytes = NULL;
	if (core_sigman_serialize(&w->lw_list, &w->lw_cfg, &w->lw_cfglen,
	    &w->lw_bytes, &w->lw_len) == -1) {
		snprintf(w->lw_err, sizeof(w->lw_err), "cannot serialize the "
		    "signature list");
		return -1;
	}
	w->lw_ctype = core_sigman_media_type(&w->lw_list);
	return 0;
}

/*
 * A list signet cannot extend (an index, 1,000 layers, duplicate keys, no
 * mediaType: planted, or written by something else) would stop every
 * signature of that digest.  It is not destroyed either: its bytes are
 * PUT again under <tag>.unusable-<12 hex of its digest>, where they stay
 * with their digest (logged), and a new list takes the tag.
 */
static void
set_aside(struct px_listwrite *w, struct px_fetch *f, const char *body,
    size_t len, const char *why)
{
	const char	*ct = px_fetch_content_type(f);
	char		 hex[65], target[600], type[256];
	char		*copy;

	w->lw_asides++;
	core_sha256_hex(body, len, hex);
	snprintf(w->lw_aside_digest, sizeof(w->lw_aside_digest), "sha256:%s",
	    hex);
	snprintf(w->lw_aside_tag, sizeof(w->lw_aside_tag), "%.75s.unusable-"
	    "%.12s", w->lw_tag, hex);
	snprintf(w->lw_aside_why, sizeof(w->lw_aside_why), "%s", why);
	snprintf(type, sizeof(type), "%s", ct != NULL && *ct != '\0' ? ct :
	    CORE_MT_OCI_MANIFEST);
	copy = malloc(len + 1);
	if (copy == NULL) {
		snprintf(w->lw_err, sizeof(w->lw_err), "out of memory");
		finish(w, PX_LW_FAILED, 500);
		return;
	}
	memcpy(copy, body, len);
	set_state(w, LW_ASIDE);
	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", w->lw_repo,
	    w->lw_aside_tag);
	send_req(w, "PUT", target, type, copy, len);	/* copies the body */
	free(copy);
}

/* LW_CHECK: unchanged since read (or no way to tell): PUT; else again */
static void
done_check(struct px_listwrite *w, struct px_fetch *f)
{
	const char	*hdr = px_fetch_digest(f);
	int		 st = px_fetch_read_status(f, w->lw_ep), same;

	same = (st == 404 && w->lw_seen[0] == '\0') || (st == 200 &&
	    (*hdr == '\0' || strcmp(hdr, w->lw_seen) == 0));
	if (same || (st != 200 && st != 404) ||
	    w->lw_rereads >= LW_REREADS_MAX) {
		put_list_now(w);
		return;
	}
	w->lw_rereads++;
	px_debug("list %s:%s: changed since it was read (%s, now %s): "
	    "reading it again", w->lw_repo, w->lw_tag, w->lw_seen[0] ?
	    w->lw_seen : "none", st == 200 ? hdr : "none");
	lw_read(w);
}

/* LW_ASIDE: kept; a new list takes the tag */
static void
done_aside(struct px_listwrite *w, struct px_fetch *f)
{
	const char	*errstr;
	int		 st = px_fetch_status(f), n;

	if (st < 200 || st > 299) {
		snprintf(w->lw_err, sizeof(w->lw_err), "the signature list "
		    "%s:%s is unusable (%s), and keeping it as %s failed: HTTP "
		    "%d", w->lw_repo, w->lw_tag, w->lw_aside_why,
		    w->lw_aside_tag, st);
		finish(w, PX_LW_FAILED, st == 0 || st >= 500 ? 503 : 403);
		return;
	}
	px_warn("the signature list %s:%s was unusable (%s): kept as %s:%s "
	    "(%s); a new list takes the tag", w->lw_repo, w->lw_tag,
	    w->lw_aside_why, w->lw_repo, w->lw_aside_tag, w->lw_aside_digest);
	core_sigman_free(&w->lw_list);
	if (core_sigman_open(&w->lw_list, NULL, 0, w->lw_docker, &errstr)
	    == -1) {
		snprintf(w->lw_err, sizeof(w->lw_err), "%s", errstr);
		finish(w, PX_LW_FAILED, 500);
		return;
	}
	w->lw_new = 1;
	/* until the PUT the tag holds what was set aside */
	snprintf(w->lw_seen, sizeof(w->lw_seen), "%s", w->lw_aside_digest);
	n = w->lw_need(w->lw_arg, &w->lw_list, 1, w->lw_err,
	    sizeof(w->lw_err));
	if (n == -1) {
		finish(w, PX_LW_FAILED, 403);
		return;
	}
	if (n == 0) {
		/* nothing of ours to add: leave the tag to the next writer */
		finish(w, PX_LW_PRESENT, 200);
		return;
	}
	if (serialize(w) == -1) {
		finish(w, PX_LW_FAILED, 500);
		return;
	}
	write_list(w);
}

/*
 * The list as read (st 200 with its bytes, or 404): open it and ask the
 * caller what it lacks.  1 when it must be written, 0 when it holds
 * everything, -1 when the job ended.
 */
static int
open_and_ask(struct px_listwrite *w, struct px_fetch *f)
{
	const char	*body, *errstr;
	char		 hex[65];
	size_t		 len;
	int		 st = px_fetch_read_status(f, w->lw_ep), n;

	core_sigman_free(&w->lw_list);
	body = st == 200 ? px_fetch_body(f, &len) : NULL;
	if (body == NULL)
		len = 0;
	w->lw_seen[0] = '\0';
	if (body != NULL) {
		core_sha256_hex(body, len, hex);
		snprintf(w->lw_seen, sizeof(w->lw_seen), "sha256:%s", hex);
	}
	if (core_sigman_open(&w->lw_list, body, len, w->lw_docker, &errstr)
	    == -1) {
		if (w->lw_set_aside && w->lw_asides < LW_ASIDES_MAX) {
			set_aside(w, f, body, len, errstr);
			return -1;
		}
		snprintf(w->lw_err, sizeof(w->lw_err), "the signature list "
		    "%s:%s is unusable: %s", w->lw_repo, w->lw_tag, errstr);
		finish(w, PX_LW_FAILED, 403);
		return -1;
	}
	w->lw_new = st != 200;
	n = w->lw_need(w->lw_arg, &w->lw_list, w->lw_new, w->lw_err,
	    sizeof(w->lw_err));
	if (n == -1) {
		finish(w, PX_LW_FAILED, 403);
		return -1;
	}
	return n > 0;
}

/* LW_READ: the list, or none */
static void
done_read(struct px_listwrite *w, struct px_fetch *f)
{
	int	st = px_fetch_read_status(f, w->lw_ep), n;

	if (st == 404 && !w->lw_create) {
		finish(w, PX_LW_ABSENT, 404);
		return;
	}
	if (st == 404 && w->lw_verbatim != NULL) {
		/* nothing there: the bytes as they are (their digest kept) */
		free(w->lw_cfg);
		free(w->lw_bytes);
		w->lw_cfg = NULL;
		w->lw_cfglen = 0;
		w->lw_bytes = malloc(w->lw_vlen + 1);
		if (w->lw_bytes == NULL) {
			snprintf(w->lw_err, sizeof(w->lw_err), "out of memory");
			finish(w, PX_LW_FAILED, 500);
			return;
		}
		memcpy(w->lw_bytes, w->lw_verbatim, w->lw_vlen);
		w->lw_seen[0] = '\0';
		w->lw_len = w->lw_vlen;
		w->lw_ctype = w->lw_vtype;
		w->lw_new = 1;
		put_list(w);
		return;
	}
	if (st != 200 && st != 404) {
		if ((st == 0 || st >= 500) &&
		    w->lw_attempt + 1 < w->lw_attempts) {
			/* distribution answers 500 now and then for a tag
			 * being rewritten at that moment */
			again(w);
			return;
		}
		fail_http(w, f, "reading the signature list");
		return;
	}
	n = open_and_ask(w, f);
	if (n <= 0) {
		if (n == 0)
			finish(w, w->lw_writes > 0 ? PX_LW_WRITTEN :
			    PX_LW_PRESENT, 200);
		return;
	}
	if (serialize(w) == -1) {
		finish(w, PX_LW_FAILED, 500);
		return;
	}
	write_list(w);
}

static void
done_post(struct px_listwrite *w, struct px_fetch *f)
{
	const char	*loc = px_fetch_location(f);

	if (px_fetch_status(f) != 202 || loc == NULL) {
		fail_http(w, f, "starting a blob upload for the list's config");
		return;
	}
	free(w->lw_upload);
	w->lw_upload = strdup(loc);
	if (w->lw_upload == NULL) {
		snprintf(w->lw_err, sizeof(w->lw_err), "out of memory");
		finish(w, PX_LW_FAILED, 500);
		return;
	}
	put_config(w);
}

static void
done_put_config(struct px_listwrite *w, struct px_fetch *f)
{
	if (px_fetch_status(f) != 201) {
		fail_http(w, f, "uploading the signature list's config");
		return;
	}
	put_list(w);
}

static void
done_put_list(struct px_listwrite *w, struct px_fetch *f)
{
	int	st = px_fetch_status(f);

	if (st >= 400 && st < 500 && w->lw_new && w->lw_fallback &&
	    w->lw_cfg != NULL && strcmp(w->lw_ctype, CORE_MT_OCI_MANIFEST)
	    == 0) {
		/* "auto": the upstream refused OCI, try Docker types */
		px_info("%s: upstream refused an OCI signature manifest "
		    "(HTTP %d), retrying with Docker media types", w->lw_repo,
		    st);
		if (core_sigman_set_docker(&w->lw_list) == -1 ||
		    serialize(w) == -1) {
			snprintf(w->lw_err, sizeof(w->lw_err), "cannot switch "
			    "the signature list to Docker media types");
			finish(w, PX_LW_FAILED, 500);
			return;
		}
		w->lw_fallback = 0;
		write_list(w);
		return;
	}
	if ((st == 0 || st >= 500 || (st == 400 && (px_fetch_error_is(f,
	    "MANIFEST_BLOB_UNKNOWN") || px_fetch_error_is(f,
	    "BLOB_UNKNOWN")))) && w->lw_attempt + 1 < w->lw_attempts) {
		/*
		 * Seen under concurrent writers: distribution refuses the
		 * list as naming an unknown blob, or fails with a 500.  Read
		 * the list and extend it again, as for a lost layer.  Any
		 * other 4xx is the registry's answer: not tried again, its
		 * words go to the log and the client.
		 */
		again(w);
		return;
	}
	if (px_fetch_immutable(f)) {
		snprintf(w->lw_err, sizeof(w->lw_err), "this registry's tags "
		    "are immutable: the signature list %s:%s exists and cannot "
		    "be appended (%s); a second signature needs the OCI "
		    "referrer format (the rule's \"signature_format\": "
		    "\"bundle\", as cosign v3 writes, which appends nothing "
		    "where the registry has the referrers API) or a "
		    "signature_repository whose tags are mutable", w->lw_repo,
		    w->lw_tag,
		    px_fetch_reason(f));
		finish(w, PX_LW_FAILED, 403);
		return;
	}
	if (st < 200 || st > 299) {
		fail_http(w, f, "writing the signature list");
		return;
	}
	w->lw_writes++;
	read_back(w);
}

/* LW_READ_BACK: everything there, or a concurrent writer dropped some */
static void
done_read_back(struct px_listwrite *w, struct px_fetch *f)
{
	struct timeval	 tv;
	const char	*body;
	char		 hex[65], now[CORE_DIGEST_MAX + 1];
	size_t		 len;
	long		 ms;
	int		 st = px_fetch_read_status(f, w->lw_ep), n;

	now[0] = '\0';
	if (st == 200) {
		body = px_fetch_body(f, &len);
		core_sha256_hex(body, len, hex);
		snprintf(now, sizeof(now), "sha256:%s", hex);
	}
	if ((st == 200 || st == 404) && strcmp(now, w->lw_wrote) != 0 &&
	    strcmp(now, w->lw_before) == 0 && w->lw_lag_ms < LW_VISIBLE_MS) {
		/* the list as it was before the PUT: not visible yet */
		ms = w->lw_lag_ms == 0 ? 100 : w->lw_lag_ms;	/* doubling */
		if (ms > 1000)
			ms = 1000;
		w->lw_lags++;
		w->lw_lag_ms += ms;
		px_debug("list %s:%s: the write is not visible yet; reading it "
		    "back again in %ld ms", w->lw_repo, w->lw_tag, ms);
		w->lw_lag_wait = 1;
		set_state(w, LW_PAUSE);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(w->lw_timer, &tv);
		return;
	}
	if (st == 200 || st == 404) {
		if (st == 404 && !w->lw_create) {
			finish(w, PX_LW_ABSENT, 404);
			return;
		}
		n = open_and_ask(w, f);
		if (n == -1)
			return;
		if (n == 0) {
			finish(w, PX_LW_WRITTEN, 201);
			return;
		}
		/* someone outside rewrote the list: extend it again */
		w->lw_repairs++;
		again(w);
		return;
	}
	if ((st == 0 || st >= 500) && w->lw_attempt + 1 < w->lw_attempts) {
		again(w);	/* a passing fault: read it back once more */
		return;
	}
	/* a refusal (401, 403, 429 after its waits): the registry's words */
	fail_http(w, f, "reading the signature list back");
}

static void
on_answer(struct px_fetch *f, void *arg)
{
	struct px_listwrite	*w = arg;

	switch (w->lw_state) {
	case LW_READ:
		done_read(w, f);
		break;
	case LW_POST:
		done_post(w, f);
		break;
	case LW_PUT_CONFIG:
		done_put_config(w, f);
		break;
	case LW_PUT_LIST:
		done_put_list(w, f);
		break;
	case LW_READ_BACK:
		done_read_back(w, f);
		break;
	case LW_ASIDE:
		done_aside(w, f);
		break;
	case LW_CHECK:
		done_check(w, f);
		break;
	default:
		break;
	}
}

static char *
dup_or_null(const char *s, int *bad)
{
	char	*d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*bad = 1;
	return d;
}

struct px_listwrite *
px_listwrite_start(const struct px_listwrite_req *rq, struct px_fetch *read,
    px_lw_fn cb, void *arg)
{
	struct px_listwrite	*w;
	int			 bad = 0;

	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		px_fetch_free(read);
		return NULL;
	}
	core_sigman_init(&w->lw_list);
	w->lw_up = rq->up;
	w->lw_ep = rq->endpoint;
	w->lw_repo = dup_or_null(rq->repo, &bad);
	w->lw_tag = dup_or_null(rq->tag, &bad);
	w->lw_auth = dup_or_null(rq->authorization, &bad);
	w->lw_ua = dup_or_null(rq->user_agent, &bad);
	w->lw_origin = dup_or_null(rq->origin, &bad);
	w->lw_upload = dup_or_null(rq->upload, &bad);
	w->lw_uploaded = dup_or_null(rq->uploaded, &bad);
	w->lw_vtype = dup_or_null(rq->verbatim_type, &bad);
	if (rq->verbatim != NULL && rq->verbatim_type != NULL) {
		w->lw_verbatim = malloc(rq->verbatim_len + 1);
		if (w->lw_verbatim == NULL)
			bad = 1;
		else
			memcpy(w->lw_verbatim, rq->verbatim,
			    rq->verbatim_len);
		w->lw_vlen = rq->verbatim_len;
	}
	w->lw_attempts = rq->attempts > 0 ? rq->attempts : 1;
	w->lw_create = rq->create;
	w->lw_docker = rq->docker;
	w->lw_fallback = rq->fallback_docker;
	w->lw_set_aside = rq->set_aside;
	w->lw_need = rq->need;
	w->lw_cb = cb;
	w->lw_arg = arg;
	w->lw_timer = evtimer_new(rq->base, on_pause, w);
	if (bad || w->lw_timer == NULL || w->lw_repo == NULL ||
	    w->lw_tag == NULL || rq->need == NULL) {
		px_fetch_free(read);
		px_listwrite_free(w);
		return NULL;
	}
	/*
	 * From the loop, never from here: the callback may free the job, and
	 * the caller has not got it yet.
	 */
	w->lw_state = LW_READ;
	w->lw_f = read;		/* the caller's GET of the list, or NULL */
	w->lw_preread = read != NULL;
	event_active(w->lw_timer, EV_TIMEOUT, 1);
	return w;
}

void
px_listwrite_free(struct px_listwrite *w)
{
	if (w == NULL)
		return;
	if (w->lw_timer != NULL)
		event_free(w->lw_timer);
	px_fetch_free(w->lw_f);
	core_sigman_free(&w->lw_list);
	free(w->lw_cfg);
	free(w->lw_bytes);
	free(w->lw_repo);
	free(w->lw_tag);
	if (w->lw_auth != NULL)
		mbedtls_platform_zeroize(w->lw_auth, strlen(w->lw_auth));
	free(w->lw_auth);
	free(w->lw_ua);
	free(w->lw_origin);
	free(w->lw_upload);
	free(w->lw_uploaded);
	free(w->lw_verbatim);
	free(w->lw_vtype);
	free(w);
}
