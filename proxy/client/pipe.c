/*
 * proxy/client/pipe.c: one blob piped from a registry into an upload
 * session at another, never touching the disk: the GET's bytes go into a
 * bounded buffer the PUT reads from.  A full buffer pauses the GET, an
 * empty one the PUT, so memory stays at PIPE_HIGH whatever the blob size.
 * Both halves fail when no byte moves for the endpoint's response timeout.
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

	if (evbuffer_get_length(p->p_buf) == 0) {
		if (p->p_get_done)
			return 0;
		p->p_put_paused = 1;
		return CURL_READFUNC_PAUSE;
	}
	got = evbuffer_remove(p->p_buf, buf, size * n);
	p->p_bytes += (uint64_t)(got > 0 ? got : 0);
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

static void
put_done(CURLcode rc, void *arg)
{
	struct px_pipe	*p = arg;
	long		 st = 0;
	char		 msg[300];

	p->p_pending--;
	if (!p->p_get_done) {
		/* the target gave up before the source finished */
		p->p_get_done = 1;
		px_upstream_cancel(p->p_up, &p->p_get);
		p->p_pending--;
	}
	curl_easy_getinfo(p->p_put.easy, CURLINFO_RESPONSE_CODE, &st);
	if (rc != CURLE_OK || st != 201) {
		snprintf(msg, sizeof(msg), "writing the blob: %s",
		    rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP error");
		if (rc == CURLE_OK)
			snprintf(msg, sizeof(msg), "writing the blob: HTTP %ld",
			    st);
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
	curl_easy_setopt(u, CURLOPT_URL, rq->dst_url);
	p->p_put_hdrs = curl_slist_append(NULL, "Content-Type: "
	    "application/octet-stream");
	p->p_put_hdrs = curl_slist_append(p->p_put_hdrs, "Expect:");
	p->p_put_hdrs = auth_header(p->p_put_hdrs, rq->dst_auth);
	curl_easy_setopt(u, CURLOPT_HTTPHEADER, p->p_put_hdrs);
	curl_easy_setopt(u, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(u, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->size);
	curl_easy_setopt(u, CURLOPT_READFUNCTION, pipe_read);
	curl_easy_setopt(u, CURLOPT_READDATA, p);
	p->p_get.done = get_done;
	p->p_get.arg = p;
	p->p_put.done = put_done;
	p->p_put.arg = p;
	if (px_upstream_start(up, &p->p_get) == -1) {
		px_pipe_free(p);
		return NULL;
	}
	if (px_upstream_start(up, &p->p_put) == -1) {
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
	free(p);
}
