/*
 * proxy/client/fetch.c: one small, fully buffered exchange with the upstream, for
 * signet's own requests (signature lists, payload and config blobs, the
 * manifest PUTs of a signed push).  Bodies are at most FETCH_BODY_MAX
 * bytes each way; blobs of images never pass through here.
 *
 * The client's Authorization is attached by the caller, never anything of
 * signet's own, and only to URLs on the upstream's origin: a Location that
 * points elsewhere is refused rather than followed with the credentials.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "client.h"

#define FETCH_BODY_MAX	(CORE_SIGMAN_MAX + 64 * 1024)
/*
 * A registry that rate-limits signet's own requests (429) is waited for:
 * as long as it says (Retry-After, or a hint in the message as GHCR
 * gives), else 0.5, 1, 2 s, with up to a quarter more of jitter; at most
 * FETCH_429_TRIES times, never one wait over FETCH_429_WAIT_MS or all over
 * FETCH_429_BUDGET_MS.  Then the 429 is the answer, and its reason says
 * which limit was hit.
 */
#define FETCH_429_TRIES		3
#define FETCH_429_WAIT_MS	10000
#define FETCH_429_BUDGET_MS	20000

struct px_fetch {
	struct px_xfer		 f_xfer;
	struct px_upstream	*f_up;
	struct curl_slist	*f_hdrs;
	char			*f_url;
	char			*f_body;	/* request body (copy) */
	size_t			 f_body_len;
	struct evbuffer		*f_resp;	/* response body */
	struct evbuffer		*f_resp_hdrs;	/* filtered, for a client */
	int64_t			 f_clen;
	char			*f_location;	/* raw Location */
	char			*f_challenge;	/* raw WWW-Authenticate */
	char			*f_link;	/* raw Link */
	char			 f_digest[CORE_DIGEST_MAX + 1];
	char			 f_ctype[128];
	char			 f_retry_after[64];	/* raw Retry-After */
	char			 f_remaining[64];	/* RateLimit-Remaining */
	int			 f_tries;	/* 429s waited for */
	long			 f_waited_ms;
	struct event		*f_timer;	/* the next try */
	char			 f_reason[512];	/* px_fetch_reason */
	char			 f_up_url[256];
	char			 f_origin[300];
	int			 f_status;
	int			 f_too_big;
	size_t			 f_max;		/* response body bound */
	CURLcode		 f_rc;
	char			 f_err[CURL_ERROR_SIZE];
	px_fetch_fn		 f_cb;
	void			*f_arg;
};

static void
set_string(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
}

static size_t
on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct px_fetch	*f = arg;
	size_t		 len = size * n;
	char		*line, *v;

	line = malloc(len + 1);
	if (line == NULL)
		return 0;
	memcpy(line, buf, len);
	line[len] = '\0';
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		line[--len] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0) {
		v = strchr(line, ' ');
		f->f_status = v != NULL ? atoi(v + 1) : 0;
		evbuffer_drain(f->f_resp_hdrs,
		    evbuffer_get_length(f->f_resp_hdrs));
		f->f_clen = -1;
		f->f_digest[0] = f->f_ctype[0] = '\0';
		f->f_retry_after[0] = f->f_remaining[0] = '\0';
	} else if (len > 0 && strchr(line, ':') != NULL) {
		px_header_filter(line, f->f_resp_hdrs, &f->f_clen, f->f_up_url,
		    f->f_origin);
		v = strchr(line, ':');
		*v++ = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		if (strcasecmp(line, "location") == 0)
			set_string(&f->f_location, v);
		else if (strcasecmp(line, "www-authenticate") == 0)
			set_string(&f->f_challenge, v);
		else if (strcasecmp(line, "link") == 0)
			set_string(&f->f_link, v);
		else if (strcasecmp(line, "docker-content-digest") == 0)
			snprintf(f->f_digest, sizeof(f->f_digest), "%s", v);
		else if (strcasecmp(line, "content-type") == 0)
			snprintf(f->f_ctype, sizeof(f->f_ctype), "%s", v);
		else if (strcasecmp(line, "retry-after") == 0)
			snprintf(f->f_retry_after, sizeof(f->f_retry_after),
			    "%s", v);
		else if (strcasecmp(line, "ratelimit-remaining") == 0 ||
		    strcasecmp(line, "x-ratelimit-remaining") == 0)
			snprintf(f->f_remaining, sizeof(f->f_remaining), "%s",
			    v);
	}
	free(line);
	return size * n;
}

static size_t
on_write(char *buf, size_t size, size_t n, void *arg)
{
	struct px_fetch	*f = arg;

	/* bounded as bytes arrive: a larger answer is cut off, not kept */
	if (evbuffer_get_length(f->f_resp) + size * n > f->f_max) {
		f->f_too_big = 1;
		return 0;
	}
	evbuffer_add(f->f_resp, buf, size * n);
	return size * n;
}

/*
 * How long the registry asks signet to wait, in ms: Retry-After in seconds
 * or as an HTTP date, else "retry-after: 880.092µs" (or ms, s) in the
 * answer's text; -1 when it says nothing.
 */
static long
asked_wait_ms(struct px_fetch *f)
{
	const char	*v = f->f_retry_after, *p, *body;
	char		 text[1025], *end;
	size_t		 len, i;
	double		 n;
	time_t		 t;

	if (*v != '\0' && strspn(v, "0123456789") == strlen(v) &&
	    strlen(v) < 9)
		return atol(v) * 1000;
	t = *v != '\0' ? curl_getdate(v, NULL) : -1;
	if (t != -1)
		return t > time(NULL) ? (long)(t - time(NULL)) * 1000 : 0;
	body = (const char *)evbuffer_pullup(f->f_resp, -1);
	len = evbuffer_get_length(f->f_resp);
	if (body == NULL)
		return -1;
	for (i = 0; i < len && i < sizeof(text) - 1; i++)
		text[i] = (char)tolower((unsigned char)body[i]);
	text[i] = '\0';
	p = strstr(text, "retry-after:");
	if (p == NULL)
		return -1;
	n = strtod(p + 12, &end);
	if (end == p + 12 || n < 0 || n > 86400)
		return -1;
	while (*end == ' ')
		end++;
	if (strncmp(end, "\xc2\xb5s", 3) == 0 || strncmp(end, "us", 2) == 0)
		return (long)(n / 1000) + 1;
	if (strncmp(end, "ms", 2) == 0)
		return (long)n + 1;
	return (long)(n * 1000) + 1;
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct px_fetch	*f = arg;

	(void)fd;
	(void)what;
	if (px_upstream_start(f->f_up, &f->f_xfer) == -1) {
		f->f_rc = CURLE_FAILED_INIT;
		snprintf(f->f_err, sizeof(f->f_err), "cannot start the request "
		    "again after a 429");
		f->f_cb(f, f->f_arg);
	}
}

/* A 429 within the budget: wait as asked and send again; 1 then. */
static int
retry_429(struct px_fetch *f)
{
	struct timeval	tv;
	long		ms = asked_wait_ms(f);

	if (ms < 0)
		ms = 500L << f->f_tries;
	ms += (long)arc4random_uniform((uint32_t)(ms / 4 + 1));
	if (f->f_tries >= FETCH_429_TRIES || ms > FETCH_429_WAIT_MS ||
	    f->f_waited_ms + ms > FETCH_429_BUDGET_MS || f->f_up == NULL)
		return 0;
	if (f->f_timer == NULL)
		f->f_timer = evtimer_new(px_upstream_base(f->f_up), on_retry,
		    f);
	if (f->f_timer == NULL)
		return 0;
	f->f_tries++;
	f->f_waited_ms += ms;
	px_debug("rate limited by the registry (HTTP 429): try %d in %ld ms",
	    f->f_tries + 1, ms);
	evbuffer_drain(f->f_resp, evbuffer_get_length(f->f_resp));
	evbuffer_drain(f->f_resp_hdrs, evbuffer_get_length(f->f_resp_hdrs));
	f->f_status = 0;
	f->f_too_big = 0;
	f->f_err[0] = '\0';
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(f->f_timer, &tv);
	return 1;
}

static void
on_done(CURLcode rc, void *arg)
{
	struct px_fetch	*f = arg;

	f->f_rc = rc;
	if (f->f_too_big)
		snprintf(f->f_err, sizeof(f->f_err), "response body larger "
		    "than %zu bytes", f->f_max);
	if (rc == CURLE_OK && !f->f_too_big && f->f_status == 429 &&
	    retry_429(f))
		return;
	f->f_cb(f, f->f_arg);
}

/* An absolute URL on the upstream's origin, or a path appended to it. */
static char *
make_url(const char *up_url, const char *target)
{
	size_t	 ulen = strlen(up_url);
	char	*url;

	if (strncmp(target, "http://", 7) == 0 ||
	    strncmp(target, "https://", 8) == 0) {
		if (strncasecmp(target, up_url, ulen) != 0 ||
		    (target[ulen] != '/' && target[ulen] != '\0'))
			return NULL;	/* never send credentials elsewhere */
		return strdup(target);
	}
	if (target[0] != '/')
		return NULL;
	url = malloc(ulen + strlen(target) + 1);
	if (url != NULL) {
		memcpy(url, up_url, ulen);
		strcpy(url + ulen, target);
	}
	return url;
}

static struct px_fetch *
fetch_new(const struct conf_endpoint *ep, const char *method, char *url,
    const char *authorization, const char *content_type, const char *accept,
    const void *body, size_t len, const char *origin)
{
	struct px_fetch		*f;
	struct curl_slist	*t;
	CURL			*e;
	char			 h[PX_HTTP_HEAD_MAX];

	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		free(url);
		return NULL;
	}
	f->f_clen = -1;
	f->f_resp = evbuffer_new();
	f->f_resp_hdrs = evbuffer_new();
	f->f_url = url;
	f->f_xfer.easy = e = curl_easy_init();
	f->f_xfer.done = on_done;
	f->f_xfer.arg = f;
	snprintf(f->f_up_url, sizeof(f->f_up_url), "%s", ep->url);
	snprintf(f->f_origin, sizeof(f->f_origin), "%s", origin ? origin : "");
	if (f->f_resp == NULL || f->f_resp_hdrs == NULL || f->f_url == NULL ||
	    e == NULL) {
		px_fetch_free(f);
		return NULL;
	}
	t = curl_slist_append(NULL, "Expect:");
	if (t != NULL && authorization != NULL) {
		snprintf(h, sizeof(h), "Authorization: %s", authorization);
		t = curl_slist_append(t, h);
	}
	if (t != NULL) {
		snprintf(h, sizeof(h), "Accept: %s", accept ? accept : "*/*");
		t = curl_slist_append(t, h);
	}
	if (t != NULL && content_type != NULL) {
		snprintf(h, sizeof(h), "Content-Type: %s", content_type);
		t = curl_slist_append(t, h);
	}
	mbedtls_platform_zeroize(h, sizeof(h));
	f->f_hdrs = t;
	if (t == NULL) {
		px_fetch_free(f);
		return NULL;
	}
	px_xfer_setup(e, ep, PX_XFER_BUFFERED);
	curl_easy_setopt(e, CURLOPT_URL, f->f_url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->f_hdrs);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->f_err);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0) {
		f->f_body = malloc(len + 1);
		if (f->f_body == NULL) {
			px_fetch_free(f);
			return NULL;
		}
		if (len > 0)
			memcpy(f->f_body, body, len);
		f->f_body_len = len;
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, f->f_body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	return f;
}

static struct px_fetch *
fetch_on(const struct conf_endpoint *ep, const char *method,
    const char *target, const char *authorization, const char *content_type,
    const char *accept, const void *body, size_t len, const char *origin)
{
	char	*url = make_url(ep->url, target);

	if (url == NULL)
		return NULL;
	return fetch_new(ep, method, url, authorization, content_type, accept,
	    body, len, origin);
}

static struct px_fetch *
fetch_any(const struct conf_endpoint *ep, const char *method,
    const char *url, const char *authorization, const char *accept,
    const void *body, size_t len)
{
	char	*copy = strdup(url);

	if (copy == NULL)
		return NULL;
	return fetch_new(ep, method, copy, authorization, NULL, accept, body,
	    len, NULL);
}

static void
set_content_type(struct px_fetch *f, const char *content_type)
{
	char			 h[256];
	struct curl_slist	*t;

	snprintf(h, sizeof(h), "Content-Type: %s", content_type);
	t = curl_slist_append(f->f_hdrs, h);
	if (t != NULL)
		f->f_hdrs = t;
	curl_easy_setopt(f->f_xfer.easy, CURLOPT_HTTPHEADER, f->f_hdrs);
}

static void
set_user_agent(struct px_fetch *f, const char *ua)
{
	/* the client's, so the registry's logs name who asked */
	curl_easy_setopt(f->f_xfer.easy, CURLOPT_USERAGENT,
	    ua != NULL ? ua : "signet/" PACKAGE_VERSION);
}

struct px_fetch *
px_fetch_send(struct px_upstream *up, const struct conf_endpoint *ep,
    const struct px_request *rq, px_fetch_fn cb, void *arg, char *err,
    size_t errlen)
{
	struct px_fetch	*f;

	if (rq->url != NULL) {
		f = fetch_any(ep, rq->method, rq->url, rq->authorization,
		    rq->accept, rq->body, rq->len);
		if (f != NULL && rq->content_type != NULL)
			set_content_type(f, rq->content_type);
	} else
		f = fetch_on(ep, rq->method, rq->target, rq->authorization,
		    rq->content_type, rq->accept, rq->body, rq->len,
		    rq->origin);
	if (f == NULL) {
		snprintf(err, errlen, "cannot start %s %.300s: %s", rq->method,
		    rq->url != NULL ? rq->url : rq->target, rq->url == NULL &&
		    strncmp(rq->target, "http", 4) == 0 ? "not on the "
		    "registry's origin" : "out of memory");
		return NULL;
	}
	set_user_agent(f, rq->user_agent);
	if (rq->follow) {
		/* presigned object-storage URLs refuse a second credential:
		 * libcurl drops the Authorization on another host or port */
		curl_easy_setopt(f->f_xfer.easy, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(f->f_xfer.easy, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(f->f_xfer.easy, CURLOPT_UNRESTRICTED_AUTH, 0L);
	}
	f->f_max = rq->max_len > 0 && rq->max_len < FETCH_BODY_MAX ?
	    rq->max_len : FETCH_BODY_MAX;
	f->f_up = up;
	f->f_cb = cb;
	f->f_arg = arg;
	if (px_upstream_start(up, &f->f_xfer) == -1) {
		snprintf(err, errlen, "cannot start %s %.300s: refused by "
		    "libcurl", rq->method, rq->url != NULL ? rq->url :
		    rq->target);
		px_fetch_free(f);
		return NULL;
	}
	return f;
}

void
px_fetch_free(struct px_fetch *f)
{
	if (f == NULL)
		return;
	if (f->f_timer != NULL)
		event_free(f->f_timer);
	if (f->f_xfer.easy != NULL) {
		if (f->f_up != NULL)
			px_upstream_cancel(f->f_up, &f->f_xfer);
		curl_easy_cleanup(f->f_xfer.easy);
	}
	curl_slist_free_all(f->f_hdrs);	/* held the Authorization */
	if (f->f_resp != NULL)
		evbuffer_free(f->f_resp);
	if (f->f_resp_hdrs != NULL)
		evbuffer_free(f->f_resp_hdrs);
	free(f->f_url);
	free(f->f_body);
	free(f->f_location);
	free(f->f_challenge);
	free(f->f_link);
	free(f);
}

int
px_fetch_status(const struct px_fetch *f)
{
	return f->f_rc == CURLE_OK ? f->f_status : 0;
}

int
px_fetch_read_status(const struct px_fetch *f, const struct conf_endpoint *ep)
{
	int	st = px_fetch_status(f);

	return st == 403 && ep->forbidden_absent ? 404 : st;
}

const char *
px_fetch_error(const struct px_fetch *f)
{
	if (f->f_err[0] != '\0')
		return f->f_err;
	return curl_easy_strerror(f->f_rc);
}

const char *
px_fetch_body(struct px_fetch *f, size_t *len)
{
	*len = evbuffer_get_length(f->f_resp);
	return (const char *)evbuffer_pullup(f->f_resp, -1);
}

const char *
px_fetch_location(const struct px_fetch *f)
{
	return f->f_location;
}

const char *
px_fetch_link(const struct px_fetch *f)
{
	return f->f_link;
}

const char *
px_fetch_www_authenticate(const struct px_fetch *f)
{
	return f->f_challenge;
}

const char *
px_fetch_content_type(const struct px_fetch *f)
{
	return f->f_ctype;
}

const char *
px_fetch_digest(const struct px_fetch *f)
{
	return f->f_digest;
}

struct evbuffer *
px_fetch_headers(struct px_fetch *f)
{
	return f->f_resp_hdrs;
}

int64_t
px_fetch_content_length(const struct px_fetch *f)
{
	return f->f_clen;
}

/* s, at most n bytes, with anything but printable ASCII as '?' */
static void
printable(char *dst, size_t dlen, const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n && i + 1 < dlen && s[i] != '\0'; i++)
		dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	dst[i < dlen ? i : dlen - 1] = '\0';
}

const char *
px_fetch_reason(struct px_fetch *f)
{
	const char	*body, *code, *msg, *detail, *nl;
	char		 text[240], extra[200], ra[64], rem[64];
	size_t		 len, n;
	json_t		*o, *e;
	int		 st = px_fetch_status(f);

	if (st == 0) {
		snprintf(f->f_reason, sizeof(f->f_reason), "%s",
		    px_fetch_error(f));
		return f->f_reason;
	}
	text[0] = extra[0] = '\0';
	body = px_fetch_body(f, &len);
	o = body != NULL && len > 0 ? core_json_parse(body, len,
	    &core_json_small) : NULL;
	e = json_array_get(json_object_get(o, "errors"), 0);
	code = json_string_value(json_object_get(e, "code"));
	msg = json_string_value(json_object_get(e, "message"));
	/* a detail in words says more than a generic message (Nexus:
	 * "blob upload invalid", "Repository does not allow updating ...") */
	detail = json_string_value(json_object_get(e, "detail"));
	if (code != NULL || msg != NULL) {
		snprintf(extra, sizeof(extra), "%s%s%s%s%s%s", code ? code : "",
		    code && msg ? ": " : "", msg ? msg : "",
		    detail != NULL && *detail != '\0' ? " (" : "",
		    detail != NULL ? detail : "",
		    detail != NULL && *detail != '\0' ? ")" : "");
		printable(text, sizeof(text), extra, strlen(extra));
	} else if (body != NULL && len > 0 && o == NULL) {
		/* not JSON (an ACR front door's 429, a proxy's page); the body
		 * is no C string: up to its first line end, within len */
		nl = memchr(body, '\n', len);
		n = nl != NULL ? (size_t)(nl - body) : len;
		if (n > 0 && body[n - 1] == '\r')
			n--;
		printable(text, sizeof(text), body, n);
	}
	json_decref(o);
	extra[0] = '\0';
	if (st == 429) {
		printable(ra, sizeof(ra), f->f_retry_after,
		    strlen(f->f_retry_after));
		printable(rem, sizeof(rem), f->f_remaining,
		    strlen(f->f_remaining));
		snprintf(extra, sizeof(extra), "; rate limited by the registry%s"
		    "%.40s%s%.40s%s", ra[0] ? ", Retry-After: " : "", ra,
		    rem[0] ? ", RateLimit-Remaining: " : "", rem,
		    f->f_tries > 0 ? " (signet waited and tried again)" : "");
	}
	snprintf(f->f_reason, sizeof(f->f_reason), "HTTP %d%s%s%s", st,
	    text[0] ? " " : "", text, extra);
	return f->f_reason;
}

int
px_fetch_error_is(struct px_fetch *f, const char *code)
{
	const char	*body, *c;
	size_t		 len, i;
	json_t		*o, *e;
	int		 found = 0;

	body = px_fetch_body(f, &len);
	o = body != NULL && len > 0 ? core_json_parse(body, len,
	    &core_json_small) : NULL;
	json_array_foreach(json_object_get(o, "errors"), i, e) {
		c = json_string_value(json_object_get(e, "code"));
		if (c != NULL && strcasecmp(c, code) == 0)
			found = 1;
	}
	json_decref(o);
	return found;
}

int
px_fetch_set_content_type(struct px_fetch *f, const char *ct)
{
	struct evbuffer	*n = evbuffer_new();
	char		*line;
	size_t		 len;

	if (n == NULL)
		return -1;
	while ((line = evbuffer_readln(f->f_resp_hdrs, &len,
	    EVBUFFER_EOL_CRLF)) != NULL) {
		if (strncasecmp(line, "content-type:", 13) != 0)
			evbuffer_add_printf(n, "%s\r\n", line);
		free(line);
	}
	evbuffer_add_printf(n, "Content-Type: %s\r\n", ct);
	evbuffer_free(f->f_resp_hdrs);
	f->f_resp_hdrs = n;
	snprintf(f->f_ctype, sizeof(f->f_ctype), "%s", ct);
	return 0;
}

int
px_fetch_immutable(struct px_fetch *f)
{
	const char	*r;
	int		 st = px_fetch_status(f);

	if (st == 412)
		return 1;	/* Harbor's PRECONDITION */
	if (st != 400)
		return 0;
	if (px_fetch_error_is(f, "TAG_INVALID"))
		return 1;	/* ECR */
	r = px_fetch_reason(f);
	return strcasestr(r, "immutable") != NULL ||
	    strcasestr(r, "cannot be overwritten") != NULL ||
	    strcasestr(r, "does not allow updating") != NULL;	/* Nexus */
}
