/*
 * proxy/client/pipe.c: one blob piped from a registry into an upload
 * session at another, never touching the disk: the GET's bytes go into a
 * bounded buffer the PUT reads from.  A full buffer pauses the GET, an
 * empty one the PUT, so memory stays at PIPE_HIGH whatever the blob size.
 * Both halves fail when no byte moves for the endpoint's response timeout.
 *
 * The upload is one PUT, or, with a chunk size, PATCHes of that many bytes
 * and a final PUT with the rest: registries bound a request's body
 * differently (ACR refuses a PUT over about 20 MB; GHCR a PATCH over 4
 * MiB; ECR a PATCH under 5 MiB unless it is the last), so the shape is
 * the caller's to choose.  Every part carries its Content-Length (ACR
 * refuses a chunked PATCH) and a PATCH its Content-Range; the next part
 * goes to the Location the last answer gave.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define PIPE_HIGH	(1024 * 1024)	/* bytes buffered between the two */

struct px_pipe {
	struct px_upstream	*p_up;
	struct px_xfer		 p_get, p_put;
	struct evbuffer		*p_buf;
	struct curl_slist	*p_get_hdrs, *p_put_hdrs;
	int			 p_get_done, p_get_paused, p_put_paused;
	int			 p_checked;	/* the GET's status seen */
	int			 p_refused;	/* not a 200: its body is not the
						 * blob and goes nowhere */
	int			 p_pending;	/* halves still running */
	uint64_t		 p_bytes;	/* handed to the PUT */
	int64_t			 p_size, p_chunk;
	int64_t			 p_part_left;	/* bytes of this part unsent */
	int			 p_final;	/* this part is the PUT */
	char			*p_session;	/* where the next part goes */
	char			*p_digest;
	char			*p_auth;	/* the target's, wiped */
	char			*p_origin;	/* the target's scheme://host */
	char			 p_err[300];
	px_pipe_fn		 p_cb;
	void			*p_arg;
};

static void
finish(struct px_pipe *p, const char *err)
{
	px_pipe_fn	cb = p->p_cb;

	p->p_cb = NULL;
	if (err != NULL)
		snprintf(p->p_err, sizeof(p->p_err), "%s", err);
	if (cb != NULL)
		cb(p->p_arg, err == NULL, p->p_bytes, err != NULL ? p->p_err :
		    NULL);
}

static size_t
pipe_write(char *buf, size_t size, size_t n, void *arg)
{
	struct px_pipe	*p = arg;
	long		 st = 0;

	if (!p->p_checked) {
		/* an error page (a 429's) must never reach the target */
		p->p_checked = 1;
		curl_easy_getinfo(p->p_get.easy, CURLINFO_RESPONSE_CODE, &st);
		p->p_refused = st != 200;
	}
	if (p->p_refused)
		return size * n;
	if (evbuffer_get_length(p->p_buf) >= PIPE_HIGH) {
		p->p_get_paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	evbuffer_add(p->p_buf, buf, size * n);
	if (p->p_put_paused) {
		p->p_put_paused = 0;
		curl_easy_pause(p->p_put.easy, CURLPAUSE_CONT);
	}
	return size * n;
}

static size_t
pipe_read(char *buf, size_t size, size_t n, void *arg)
{
	struct px_pipe	*p = arg;
	int		 got;

	if (p->p_part_left <= 0)
		return 0;	/* this part is sent; the rest is the next's */
	if (evbuffer_get_length(p->p_buf) == 0) {
		if (p->p_get_done)
			return 0;
		p->p_put_paused = 1;
		return CURL_READFUNC_PAUSE;
	}
	if ((int64_t)(size * n) > p->p_part_left)
		n = (size_t)p->p_part_left, size = 1;
	got = evbuffer_remove(p->p_buf, buf, size * n);
	p->p_bytes += (uint64_t)(got > 0 ? got : 0);
	p->p_part_left -= got > 0 ? got : 0;
	if (p->p_get_paused && evbuffer_get_length(p->p_buf) < PIPE_HIGH / 2) {
		p->p_get_paused = 0;
		curl_easy_pause(p->p_get.easy, CURLPAUSE_CONT);
	}
	return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

static void
get_done(CURLcode rc, void *arg)
{
	struct px_pipe	*p = arg;
	long		 st = 0;
	char		 msg[300];

	p->p_pending--;
	p->p_get_done = 1;
	curl_easy_getinfo(p->p_get.easy, CURLINFO_RESPONSE_CODE, &st);
	if (rc != CURLE_OK || st != 200) {
		snprintf(msg, sizeof(msg), "reading the blob: %s",
		    rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP error");
		if (rc == CURLE_OK)
			snprintf(msg, sizeof(msg), "reading the blob: HTTP %ld%s",
			    st, st == 429 ? " (rate limited by the registry)" :
			    "");
		if (p->p_put.active)
			px_upstream_cancel(p->p_up, &p->p_put);
		finish(p, msg);
		return;
	}
	/* the PUT reads what is left, then EOF */
	if (p->p_put_paused) {
		p->p_put_paused = 0;
		curl_easy_pause(p->p_put.easy, CURLPAUSE_CONT);
	}
	if (p->p_pending == 0)
		finish(p, NULL);
}

static int	start_part(struct px_pipe *);

/* A PATCH answered: the next part goes where it says. */
static int
next_part(struct px_pipe *p, long st, char *msg, size_t msglen)
{
	if (st < 200 || st > 299 || p->p_session == NULL) {
		snprintf(msg, msglen, "writing the blob: a PATCH of %lld bytes "
		    "at offset %lld: HTTP %ld%s", (long long)p->p_chunk,
		    (long long)(p->p_bytes - (uint64_t)p->p_chunk), st,
		    st == 416 || st == 413 || st == 400 ? " (the registry "
		    "refuses this chunk size: see copy's --chunk-size)" : "");
		return -1;
	}
	if (start_part(p) == -1) {
		snprintf(msg, msglen, "writing the blob: cannot start the next "
		    "part");
		return -1;
	}
	return 0;
}

static void
put_done(CURLcode rc, void *arg)
{
	struct px_pipe	*p = arg;
	long		 st = 0;
	char		 msg[300];

	curl_easy_getinfo(p->p_put.easy, CURLINFO_RESPONSE_CODE, &st);
	if (rc == CURLE_OK && !p->p_final &&
	    next_part(p, st, msg, sizeof(msg)) == 0)
		return;
	p->p_pending--;
	if (!p->p_get_done) {
		/* the target gave up before the source finished */
		p->p_get_done = 1;
		px_upstream_cancel(p->p_up, &p->p_get);
		p->p_pending--;
	}
	if (rc == CURLE_OK && !p->p_final) {
		finish(p, msg);		/* a PATCH refused */
		return;
	}
	if (rc != CURLE_OK || st != 201) {
		snprintf(msg, sizeof(msg), "writing the blob: %s",
		    rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP error");
		if (rc == CURLE_OK)
			snprintf(msg, sizeof(msg), "writing the blob: HTTP "
			    "%ld%s", st, st == 413 && p->p_chunk == 0 ? " (the "
			    "registry refuses a request body this large: copy "
			    "with --chunk-size, e.g. 8388608 for ACR)" : "");
		finish(p, msg);
		return;
	}
	if (p->p_pending == 0)
		finish(p, NULL);
}

static struct curl_slist *
auth_header(struct curl_slist *l, const char *auth)
{
	char	*h;

	/* tokens with certificate chains run to several KiB */
	if (auth == NULL || asprintf(&h, "Authorization: %s", auth) == -1)
		return l;
	l = curl_slist_append(l, h);
	mbedtls_platform_zeroize(h, strlen(h));
	free(h);
	return l;
}

/* The target's answer headers: where the session goes on (Location). */
static size_t
put_header(char *buf, size_t size, size_t n, void *arg)
{
	struct px_pipe	*p = arg;
	size_t		 len = size * n, k;
	char		*v;

	if (len < 10 || strncasecmp(buf, "location:", 9) != 0)
		return len;
	for (k = 9; k < len && (buf[k] == ' ' || buf[k] == '\t'); k++)
		;
	while (len > k && (buf[len - 1] == '\r' || buf[len - 1] == '\n' ||
	    buf[len - 1] == ' '))
		len--;
	/* a path is on the target's origin; a URL stays as given */
	if (asprintf(&v, "%s%.*s", buf[k] == '/' ? p->p_origin : "",
	    (int)(len - k), buf + k) == -1)
		return 0;
	free(p->p_session);
	p->p_session = v;
	return size * n;
}

/*
 * Start the next part of the upload at p_session: a PATCH of p_chunk
 * bytes, or the final PUT of what is left.
 */
static int
start_part(struct px_pipe *p)
{
	CURL		*u = p->p_put.easy;
	int64_t		 off = (int64_t)p->p_bytes, left = p->p_size - off;
	char		*url, range[80];

	p->p_final = p->p_chunk == 0 || left <= p->p_chunk;
	p->p_part_left = p->p_final ? left : p->p_chunk;
	if (asprintf(&url, "%s%s%s", p->p_session, !p->p_final ? "" :
	    strchr(p->p_session, '?') ? "&digest=" : "?digest=",
	    p->p_final ? p->p_digest : "") == -1)
		return -1;
	curl_slist_free_all(p->p_put_hdrs);
	p->p_put_hdrs = curl_slist_append(NULL, "Content-Type: "
	    "application/octet-stream");
	p->p_put_hdrs = curl_slist_append(p->p_put_hdrs, "Expect:");
	if (!p->p_final) {
		snprintf(range, sizeof(range), "Content-Range: %lld-%lld",
		    (long long)off, (long long)(off + p->p_chunk - 1));
		p->p_put_hdrs = curl_slist_append(p->p_put_hdrs, range);
	}
	p->p_put_hdrs = auth_header(p->p_put_hdrs, p->p_auth);
	curl_easy_setopt(u, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(u, CURLOPT_HTTPHEADER, p->p_put_hdrs);
	curl_easy_setopt(u, CURLOPT_CUSTOMREQUEST, p->p_final ? NULL :
	    "PATCH");
	curl_easy_setopt(u, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)p->p_part_left);
	p->p_put_paused = 0;
	return px_upstream_start(p->p_up, &p->p_put);
}

/* scheme://host[:port] of url, malloc'ed */
static char *
origin_of(const char *url)
{
	const char	*h = strstr(url, "://"), *e;

	if (h == NULL)
		return NULL;
	e = strchr(h + 3, '/');
	return strndup(url, e != NULL ? (size_t)(e - url) : strlen(url));
}

struct px_pipe *
px_pipe_start(struct px_upstream *up, const struct px_pipe_req *rq,
    px_pipe_fn cb, void *arg)
{
	struct px_pipe	*p;
	CURL		*g, *u;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->p_up = up;
	p->p_cb = cb;
	p->p_arg = arg;
	p->p_buf = evbuffer_new();
	p->p_get.easy = g = curl_easy_init();
	p->p_put.easy = u = curl_easy_init();
	if (p->p_buf == NULL || g == NULL || u == NULL) {
		px_pipe_free(p);
		return NULL;
	}
	px_xfer_setup(g, rq->src, PX_XFER_STREAM);
	px_xfer_setup(u, rq->dst, PX_XFER_STREAM);
	curl_easy_setopt(g, CURLOPT_URL, rq->src_url);
	p->p_get_hdrs = auth_header(NULL, rq->src_auth);
	curl_easy_setopt(g, CURLOPT_HTTPHEADER, p->p_get_hdrs);
	/* blobs may be served from elsewhere (S3): follow; libcurl keeps the
	 * Authorization for the registry's own host */
	curl_easy_setopt(g, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(g, CURLOPT_UNRESTRICTED_AUTH, 0L);
	curl_easy_setopt(g, CURLOPT_WRITEFUNCTION, pipe_write);
	curl_easy_setopt(g, CURLOPT_WRITEDATA, p);
	p->p_size = rq->size;
	p->p_chunk = rq->chunk > 0 ? rq->chunk : 0;
	p->p_session = strdup(rq->dst_url);
	p->p_digest = strdup(rq->digest);
	p->p_origin = origin_of(rq->dst_url);
	p->p_auth = rq->dst_auth != NULL ? strdup(rq->dst_auth) : NULL;
	if (p->p_session == NULL || p->p_digest == NULL ||
	    p->p_origin == NULL || (rq->dst_auth != NULL && p->p_auth == NULL)) {
		px_pipe_free(p);
		return NULL;
	}
	curl_easy_setopt(u, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(u, CURLOPT_READFUNCTION, pipe_read);
	curl_easy_setopt(u, CURLOPT_READDATA, p);
	curl_easy_setopt(u, CURLOPT_HEADERFUNCTION, put_header);
	curl_easy_setopt(u, CURLOPT_HEADERDATA, p);
	p->p_get.done = get_done;
	p->p_get.arg = p;
	p->p_put.done = put_done;
	p->p_put.arg = p;
	if (px_upstream_start(up, &p->p_get) == -1) {
		px_pipe_free(p);
		return NULL;
	}
	if (start_part(p) == -1) {
		px_pipe_free(p);
		return NULL;
	}
	p->p_pending = 2;
	return p;
}

void
px_pipe_free(struct px_pipe *p)
{
	if (p == NULL)
		return;
	if (p->p_get.easy != NULL) {
		px_upstream_cancel(p->p_up, &p->p_get);
		curl_easy_cleanup(p->p_get.easy);
	}
	if (p->p_put.easy != NULL) {
		px_upstream_cancel(p->p_up, &p->p_put);
		curl_easy_cleanup(p->p_put.easy);
	}
	curl_slist_free_all(p->p_get_hdrs);	/* held the Authorization */
	curl_slist_free_all(p->p_put_hdrs);
	if (p->p_buf != NULL)
		evbuffer_free(p->p_buf);
	px_wipe_free(p->p_auth);
	free(p->p_session);
	free(p->p_digest);
	free(p->p_origin);
	free(p);
}
