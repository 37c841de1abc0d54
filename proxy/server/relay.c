/*
 * proxy/server/relay.c: forward one client request to the upstream with libcurl
 * and stream the answer back.
 *
 * Bodies are never buffered whole.  Upload: the read callback takes what the
 * client side has put in c_body and pauses (CURL_READFUNC_PAUSE) when it is
 * empty; new client bytes unpause it.  Download: the write callback
 * takes what curl read and pauses it (curl_easy_pause) once the client's
 * output is over the high mark; the client's drain unpauses it.  Memory per
 * request is thus O(buffer_bytes + curl's receive buffer).
 *
 * The client's headers go up unchanged but for hop-by-hop ones; the client's
 * Authorization is forwarded and nothing is added to it, and the upstream's
 * WWW-Authenticate comes back unchanged, so token auth happens between the
 * client and the upstream's realm.  Location and Link values that name the
 * upstream are rewritten to name the proxy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

enum relay_kind { RELAY_FORWARD, RELAY_PROBE };

struct px_relay {
	struct px_xfer		 r_xfer;
	struct px_conn		*r_conn;
	enum relay_kind		 r_kind;
	struct curl_slist	*r_hdrs;
	char			*r_url;
	struct evbuffer		*r_resp_hdrs;	/* filtered upstream headers */
	int64_t			 r_content_length;
	int			 r_status;	/* current status line */
	int			 r_head_sent;
	int			 r_pause;	/* CURLPAUSE_RECV / _SEND bits */
	int			 r_sent_all;	/* request body all handed over */
	struct event		*r_timer;	/* response-header timeout */
	char			 r_origin[300];	/* the client's view of us */
	char			 r_errbuf[CURL_ERROR_SIZE];
};

static struct px_upstream *
upstream_of(struct px_conn *c)
{
	return px_server_upstream(c->c_srv);
}

static void
set_pause(struct px_relay *r, int bits)
{
	if (r->r_pause == bits)
		return;
	r->r_pause = bits;
	curl_easy_pause(r->r_xfer.easy, bits);
}

static void
on_response_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct px_relay	*r = arg;
	struct px_conn	*c = r->r_conn;

	(void)fd;
	(void)what;
	px_upstream_cancel(upstream_of(c), &r->r_xfer);
	px_conn_error(c, 504, "UNAVAILABLE",
	    "upstream did not answer in time");
}

static void
arm_response_timer(struct px_relay *r)
{
	struct timeval	tv = { r->r_conn->c_conf->up.response_timeout, 0 };

	if (r->r_timer != NULL && !r->r_head_sent)
		evtimer_add(r->r_timer, &tv);
}

static void	header_line(struct px_relay *, struct px_conn *, char *, size_t);

/* CURLOPT_HEADERFUNCTION: one header line at a time, status line first. */
static size_t
on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct px_relay	*r = arg;
	struct px_conn	*c = r->r_conn;
	size_t		 len = size * n;
	char		 stackbuf[4096], *line = stackbuf;

	if (c->c_state == PX_C_CLOSING)
		return 0;
	/* some registries send upload headers over 16 KiB (GAR): no cap here,
	 * curl's own limit on a response header applies */
	if (len >= sizeof(stackbuf)) {
		line = malloc(len + 1);
		if (line == NULL) {
			c->c_error = "out of memory";
			return 0;	/* aborts the transfer */
		}
	}
	memcpy(line, buf, len);
	line[len] = '\0';
	header_line(r, c, line, len);
	if (line != stackbuf)
		free(line);
	return size * n;
}

/* One header line, NUL-terminated and writable. */
static void
header_line(struct px_relay *r, struct px_conn *c, char *line, size_t len)
{
	char		*v;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		line[--len] = '\0';

	if (strncmp(line, "HTTP/", 5) == 0) {
		/* a new response (after 1xx): start over */
		v = strchr(line, ' ');
		r->r_status = v != NULL ? atoi(v + 1) : 0;
		evbuffer_drain(r->r_resp_hdrs,
		    evbuffer_get_length(r->r_resp_hdrs));
		r->r_content_length = -1;
		return;
	}
	if (len == 0) {
		/* end of a header block */
		if (r->r_status < 200)
			return;
		if (r->r_timer != NULL)
			evtimer_del(r->r_timer);
		c->c_up_status = r->r_status;
		r->r_head_sent = 1;
		if (r->r_kind == RELAY_PROBE)
			return;
		px_conn_resp_head(c, r->r_status, r->r_resp_hdrs,
		    r->r_content_length);
		return;
	}
	px_header_filter(line, r->r_resp_hdrs, &r->r_content_length,
	    c->c_conf->up.url, r->r_origin);
}

/* CURLOPT_WRITEFUNCTION: the response body, towards the client. */
static size_t
on_write(char *buf, size_t size, size_t n, void *arg)
{
	struct px_relay	*r = arg;
	struct px_conn	*c = r->r_conn;

	if (c->c_state == PX_C_CLOSING)
		return 0;
	if (r->r_kind == RELAY_PROBE)
		return size * n;	/* the probe only wants the status */
	/*
	 * Take the piece, then pause once over the mark.  Refusing it with
	 * CURL_WRITEFUNC_PAUSE would make curl copy the rest of its receive
	 * buffer aside, and again at each later refusal: that copy cost more
	 * than ours (perf, a 512 MiB pull).  curl hands over what it has
	 * already read in any case, so the output peaks at the mark plus one
	 * receive buffer (RELAY_BUFFER).
	 */
	px_conn_resp_body(c, buf, size * n);
	if (px_conn_output_full(c))
		set_pause(r, r->r_pause | CURLPAUSE_RECV);
	return size * n;
}

/* CURLOPT_READFUNCTION: the request body, from the client. */
static size_t
on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct px_relay	*r = arg;
	struct px_conn	*c = r->r_conn;
	int		 got;

	if (c->c_state == PX_C_CLOSING)
		return CURL_READFUNC_ABORT;
	if (evbuffer_get_length(c->c_body) == 0) {
		if (c->c_body_done) {
			r->r_sent_all = 1;
			arm_response_timer(r);
			return 0;
		}
		r->r_pause |= CURLPAUSE_SEND;
		return CURL_READFUNC_PAUSE;
	}
	got = evbuffer_remove(c->c_body, buf, size * n);
	if (got < 0)
		return CURL_READFUNC_ABORT;
	px_conn_body_drained(c);
	return (size_t)got;
}

static void
on_done(CURLcode rc, void *arg)
{
	struct px_relay	*r = arg;
	struct px_conn	*c = r->r_conn;
	char		 msg[CURL_ERROR_SIZE + 64];

	if (r->r_timer != NULL)
		evtimer_del(r->r_timer);
	if (c->c_state == PX_C_CLOSING)
		return;
	if (r->r_kind == RELAY_PROBE) {
		if (rc == CURLE_OK && r->r_status > 0 && r->r_status < 500) {
			static const char ok[] = "ready\n";
			struct evbuffer *h = evbuffer_new();
			if (h != NULL)
				evbuffer_add_printf(h,
				    "Content-Type: text/plain\r\n");
			px_conn_resp_head(c, 200, h, sizeof(ok) - 1);
			if (h != NULL)
				evbuffer_free(h);
			if (strcmp(c->c_req.method, "HEAD") != 0)
				px_conn_resp_body(c, ok, sizeof(ok) - 1);
			px_conn_resp_end(c);
		} else {
			snprintf(msg, sizeof(msg), "upstream not ready: %s",
			    rc != CURLE_OK ? (r->r_errbuf[0] ? r->r_errbuf :
			    curl_easy_strerror(rc)) : "server error");
			c->c_error = "upstream not ready";
			px_conn_error(c, 503, "UNAVAILABLE", msg);
		}
		return;
	}
	if (rc == CURLE_OK && r->r_head_sent) {
		if (r->r_status >= 200 && r->r_status < 300)
			px_cascade_start(c);	/* a DELETE's cosign objects */
		px_conn_resp_end(c);
		return;
	}
	if (r->r_head_sent) {
		/* mid-body: close rather than pass a truncated body as whole */
		c->c_error = "upstream failed during the response body";
		px_warn("conn %llu: upstream failed mid-body: %s",
		    (unsigned long long)c->c_id,
		    r->r_errbuf[0] ? r->r_errbuf : curl_easy_strerror(rc));
		px_conn_close(c, "upstream failed during the response body");
		return;
	}
	snprintf(msg, sizeof(msg), "upstream unreachable: %s",
	    r->r_errbuf[0] ? r->r_errbuf : curl_easy_strerror(rc));
	px_warn("conn %llu: %s", (unsigned long long)c->c_id, msg);
	c->c_error = "upstream unreachable";
	if (rc == CURLE_OPERATION_TIMEDOUT)
		px_conn_error(c, 504, "UNAVAILABLE", msg);
	else
		px_conn_error(c, 502, "UNAVAILABLE", msg);
}

static struct px_relay *
relay_new(struct px_conn *c, enum relay_kind kind)
{
	struct px_relay	*r;
	CURL		*e;
	struct conf	*cf = c->c_conf;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->r_conn = c;
	r->r_kind = kind;
	r->r_content_length = -1;
	r->r_resp_hdrs = evbuffer_new();
	r->r_xfer.easy = e = curl_easy_init();
	r->r_xfer.done = on_done;
	r->r_xfer.arg = r;
	r->r_timer = evtimer_new(bufferevent_get_base(c->c_bev),
	    on_response_timeout, r);
	c->c_relay = r;
	if (r->r_resp_hdrs == NULL || e == NULL || r->r_timer == NULL)
		return NULL;
	px_conn_origin(c, r->r_origin, sizeof(r->r_origin));

	px_xfer_setup(e, &cf->up, PX_XFER_RELAY);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->r_errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	return r;
}

/* The client's headers, minus hop-by-hop ones and those Connection names. */
static int
build_headers(struct px_relay *r, struct px_conn *c)
{
	const struct px_http_req *q = &c->c_req;
	struct curl_slist *l = NULL, *t;
	char		 buf[PX_HTTP_HEAD_MAX];
	int		 i, have_accept = 0;

	for (i = 0; i < q->nhdr; i++) {
		if (!px_http_end_to_end(q, i))
			continue;
		if (strcasecmp(q->hdr[i].name, "accept") == 0)
			have_accept = 1;
		if (q->hdr[i].value[0] == '\0')
			snprintf(buf, sizeof(buf), "%s;", q->hdr[i].name);
		else
			snprintf(buf, sizeof(buf), "%s: %s", q->hdr[i].name,
			    q->hdr[i].value);
		t = curl_slist_append(l, buf);
		if (t == NULL)
			goto fail;
		l = t;
	}
	/* curl adds these unless told not to; the client did not send them */
	if (!have_accept) {
		t = curl_slist_append(l, "Accept:");
		if (t == NULL)
			goto fail;
		l = t;
	}
	t = curl_slist_append(l, "Expect:");
	if (t == NULL)
		goto fail;
	r->r_hdrs = t;
	return 0;
fail:
	curl_slist_free_all(l);
	return -1;
}

void
px_relay_start(struct px_conn *c)
{
	struct px_relay	*r;
	const char	*m = c->c_req.method;
	CURL		*e;
	size_t		 ulen;
	int		 has_body;

	r = relay_new(c, RELAY_FORWARD);
	if (r == NULL || build_headers(r, c) == -1) {
		px_conn_error(c, 500, "UNKNOWN", "out of memory");
		return;
	}
	e = r->r_xfer.easy;
	ulen = strlen(c->c_conf->up.url) + strlen(c->c_req.target) + 1;
	r->r_url = malloc(ulen);
	if (r->r_url == NULL) {
		px_conn_error(c, 500, "UNKNOWN", "out of memory");
		return;
	}
	snprintf(r->r_url, ulen, "%s%s", c->c_conf->up.url, c->c_req.target);
	curl_easy_setopt(e, CURLOPT_URL, r->r_url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->r_hdrs);

	has_body = c->c_req.chunked || c->c_req.content_length >= 0 ||
	    strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
	    strcmp(m, "PATCH") == 0;
	if (strcmp(m, "HEAD") == 0 && !has_body) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (has_body) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, r);
		/* -1 makes curl send the body chunked, as the client did */
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)(c->c_req.chunked ? -1 :
		    c->c_req.content_length < 0 ? 0 :
		    c->c_req.content_length));
	} else if (strcmp(m, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	if (!has_body || (c->c_body_done && !c->c_req.chunked &&
	    c->c_req.content_length <= 0)) {
		r->r_sent_all = 1;
		arm_response_timer(r);
	}
	if (px_upstream_start(upstream_of(c), &r->r_xfer) == -1)
		px_conn_error(c, 500, "UNKNOWN", "cannot start upstream request");
}

void
px_relay_probe(struct px_conn *c)
{
	struct px_relay	*r;
	size_t		 ulen;

	r = relay_new(c, RELAY_PROBE);
	if (r == NULL) {
		px_conn_error(c, 500, "UNKNOWN", "out of memory");
		return;
	}
	ulen = strlen(c->c_conf->up.url) + sizeof("/v2/");
	r->r_url = malloc(ulen);
	if (r->r_url == NULL) {
		px_conn_error(c, 500, "UNKNOWN", "out of memory");
		return;
	}
	snprintf(r->r_url, ulen, "%s/v2/", c->c_conf->up.url);
	curl_easy_setopt(r->r_xfer.easy, CURLOPT_URL, r->r_url);
	curl_easy_setopt(r->r_xfer.easy, CURLOPT_TIMEOUT,
	    c->c_conf->up.connect_timeout);
	if (px_upstream_start(upstream_of(c), &r->r_xfer) == -1)
		px_conn_error(c, 500, "UNKNOWN", "cannot start upstream request");
}

void
px_relay_body_ready(struct px_conn *c)
{
	struct px_relay	*r = c->c_relay;

	if (r == NULL || !r->r_xfer.active)
		return;
	if (r->r_pause & CURLPAUSE_SEND)
		set_pause(r, r->r_pause & ~CURLPAUSE_SEND);
}

void
px_relay_output_drained(struct px_conn *c)
{
	struct px_relay	*r = c->c_relay;

	if (r == NULL || !r->r_xfer.active)
		return;
	if (r->r_pause & CURLPAUSE_RECV)
		set_pause(r, r->r_pause & ~CURLPAUSE_RECV);
}

void
px_relay_free(struct px_conn *c)
{
	struct px_relay	*r = c->c_relay;

	if (r == NULL)
		return;
	c->c_relay = NULL;
	if (r->r_xfer.easy != NULL) {
		px_upstream_cancel(upstream_of(c), &r->r_xfer);
		curl_easy_cleanup(r->r_xfer.easy);
	}
	if (r->r_timer != NULL)
		event_free(r->r_timer);
	if (r->r_resp_hdrs != NULL)
		evbuffer_free(r->r_resp_hdrs);
	curl_slist_free_all(r->r_hdrs);
	free(r->r_url);
	free(r);
}

const struct px_handler px_relay_handler = {
	.name = "relay", .wants_body = 1, .body = px_relay_body_ready,
	.drained = px_relay_output_drained, .free = px_relay_free,
};
