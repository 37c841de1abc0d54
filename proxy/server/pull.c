/*
 * proxy/server/pull.c: reads (GET and HEAD) that pass through to a
 * plain-HTTP upstream, spoken by signet itself.
 *
 * Blob pulls are most of the bytes a registry front moves, and HEADs of
 * manifests most of its requests.  Through libcurl each body byte is copied
 * twice in user space: curl hands its receive buffer over in 16 KiB pieces,
 * and sets aside what a paused transfer has read (perf on a 512 MiB pull:
 * those copies were 14% of signet's time, and the gap to nginx); and each
 * request sets up a transfer.  Here the body is read from the upstream
 * socket BODY_READ at a time into a buffer that is written to the client at
 * once (px_conn_resp_move): the kernel's two copies, none of ours.
 * Backpressure stops the reads while the client's output is over the high
 * mark.  A blob's body to a client on another machine is spliced instead
 * (conf "splice", splice_wanted): through a kernel pipe from socket to
 * socket, no copy at all in signet, the pipe its only buffer.
 *
 * curl still resolves and connects (px_upconn_open), and the connection
 * goes back to a pool when the exchange ended cleanly.  What this file does
 * not handle goes to the libcurl relay instead, decided before a byte
 * reaches the client: an https upstream (this reads the socket in the
 * clear), a proxy from the environment, a response head that is not plain
 * (px_http_parse_resp: no Content-Length, Transfer-Encoding, a 1xx, ...),
 * a head over PX_HTTP_HEAD_MAX.  A kept connection that the upstream had
 * closed meanwhile is asked again once on a new one: a GET or HEAD is
 * idempotent, and nothing was sent to the client yet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

#define BODY_READ	PX_BLOCK	/* bytes per read of the body (1 MiB,
					 * as nginx's proxy_buffer_size 1m) */
#define HEAD_READ	(16 * 1024)	/* bytes per read of the head */
#define SPLICE_MIN	(256 * 1024)	/* a GET body this long is spliced */
#define SPLICE_ROUNDS	16		/* pipe loads per wakeup, at most */

enum pull_state { P_CONNECT, P_SEND, P_HEAD, P_BODY };

struct px_pull {
	struct px_conn	*p_conn;
	struct px_upconn *p_up;		/* the connection, or NULL */
	struct event	*p_ev;
	enum pull_state	 p_state;
	int		 p_reused;	/* came from the pool */
	int		 p_retried;	/* a stale one was replaced once */
	int		 p_keep;	/* the connection can serve again */
	int		 p_stopped;	/* reads stopped by backpressure */
	int		 p_short;	/* the last read took less than asked:
					 * the socket was empty after it */
	short		 p_what;	/* what p_ev waits for */
	int64_t		 p_left;	/* body bytes still to come */
	struct evbuffer	*p_req;		/* the request, not yet written */
	struct evbuffer	*p_in;		/* the response head, as it comes */
	struct evbuffer	*p_buf;		/* body bytes, read, not yet moved */
	struct px_pipe	*p_pipe;	/* the body spliced through, or NULL */
};

static struct px_upstream *
upstream_of(struct px_conn *c)
{
	return px_server_upstream(c->c_srv);
}

/* Whether curl would go through a proxy from the environment, which does
 * not change while signet runs: looked up once. */
static int
env_proxy(void)
{
	static const char *const proxies[] = { "http_proxy", "all_proxy",
	    "ALL_PROXY" };
	static int	 proxied = -1;
	const char	*v;
	size_t		 i;

	if (proxied != -1)
		return proxied;
	proxied = 0;
	for (i = 0; i < sizeof(proxies) / sizeof(*proxies); i++) {
		v = getenv(proxies[i]);
		if (v != NULL && *v != '\0')
			proxied = 1;
	}
	return proxied;
}

int
px_pull_wanted(struct px_conn *c)
{
	switch (c->c_route.kind) {
	case CORE_R_BASE:
	case CORE_R_CATALOG:
	case CORE_R_TAGS:
	case CORE_R_MANIFEST:
	case CORE_R_BLOB:
	case CORE_R_REFERRERS:
		break;
	default:
		return 0;
	}
	if ((strcmp(c->c_req.method, "GET") != 0 &&
	    strcmp(c->c_req.method, "HEAD") != 0) || c->c_req.chunked ||
	    c->c_req.content_length > 0 ||
	    strncmp(c->c_conf->up.url, "http://", 7) != 0)
		return 0;
	/* curl would go through a proxy; leave those setups to curl */
	return !env_proxy();
}

/* The connection goes: closed, or back to the pool when it is clean. */
static void
release_conn(struct px_pull *p)
{
	/* kept before our event goes: no epoll_ctl (io.h); closed after it
	 * goes, which is before the socket closes (at the next loop turn) */
	if (p->p_up != NULL && p->p_keep && p->p_state == P_BODY &&
	    p->p_left == 0 && evbuffer_get_length(p->p_in) == 0) {
		px_upstream_keep(upstream_of(p->p_conn), p->p_up,
		    p->p_short);
		p->p_up = NULL;
	}
	if (p->p_ev != NULL) {
		event_free(p->p_ev);
		p->p_ev = NULL;
	}
	if (p->p_up != NULL)
		px_upconn_close(p->p_up);
	p->p_up = NULL;
}

/* Not ours to handle: the libcurl relay takes the request over.  p is
 * freed; the caller returns at once. */
static void
to_relay(struct px_pull *p)
{
	struct px_conn	*c = p->p_conn;

	px_conn_set_handler(c, &px_relay_handler);
	px_relay_start(c);
}

static void
fail(struct px_pull *p, int status, const char *msg)
{
	struct px_conn	*c = p->p_conn;

	p->p_keep = 0;
	release_conn(p);
	px_warn("conn %llu: %s", (unsigned long long)c->c_id, msg);
	c->c_error = "upstream unreachable";
	px_conn_error(c, status, "UNAVAILABLE", msg);
}

static void	on_event(evutil_socket_t, short, void *);
static void	start_conn(struct px_pull *);
static int	build_request(struct px_pull *, struct px_conn *);

/* Wait for what on the socket (persistent, with the response timeout,
 * which each event restarts); the same wait again is no system call. */
static int
watch(struct px_pull *p, short what)
{
	struct timeval	 tv = { p->p_conn->c_conf->up.response_timeout, 0 };
	struct event_base *base = bufferevent_get_base(p->p_conn->c_bev);
	evutil_socket_t	 fd = px_upconn_fd(p->p_up);

	if (p->p_ev != NULL && p->p_what == what &&
	    event_pending(p->p_ev, EV_READ | EV_WRITE, NULL))
		return 0;
	if (p->p_ev == NULL) {
		p->p_ev = event_new(base, fd, what | EV_PERSIST, on_event, p);
		if (p->p_ev == NULL)
			return -1;
	} else {
		event_del(p->p_ev);
		event_assign(p->p_ev, base, fd, what | EV_PERSIST, on_event,
		    p);
	}
	p->p_what = what;
	if (event_add(p->p_ev, &tv) == -1)
		return -1;
	px_upconn_settle(p->p_up);	/* the pool's watcher goes after */
	return 0;
}

/* A reused connection the upstream had closed: once more on a new one. */
static int
retry_stale(struct px_pull *p)
{
	if (!p->p_reused || p->p_retried)
		return 0;
	px_info("conn %llu: the upstream had closed a kept connection; "
	    "asking again on a new one", (unsigned long long)p->p_conn->c_id);
	p->p_retried = 1;
	p->p_keep = 0;
	release_conn(p);
	evbuffer_drain(p->p_in, evbuffer_get_length(p->p_in));
	/* the request again, whole: the first write took it */
	evbuffer_drain(p->p_req, evbuffer_get_length(p->p_req));
	if (build_request(p, p->p_conn) == -1) {
		fail(p, 500, "out of memory");
		return 1;
	}
	start_conn(p);
	return 1;
}

static void
send_request(struct px_pull *p)
{
	int	n;

	p->p_state = P_SEND;
	n = evbuffer_write(p->p_req, px_upconn_fd(p->p_up));
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		if (!retry_stale(p))
			fail(p, 502, "upstream unreachable: cannot send the "
			    "request");
		return;
	}
	if (evbuffer_get_length(p->p_req) > 0) {
		if (watch(p, EV_WRITE) == -1)
			fail(p, 500, "cannot watch the upstream connection");
		return;
	}
	p->p_state = P_HEAD;
	if (watch(p, EV_READ) == -1)
		fail(p, 500, "cannot watch the upstream connection");
}

/*
 * Whether this pull's body is spliced (conf "splice").  auto: unless the
 * client is on this machine.  A spliced page reaches the client as the
 * upstream's socket left it, never read by signet: a NIC sends it by DMA,
 * but a client on this machine spends more reading it than signet saves
 * (pull_ab.sh: curl's CPU per GiB 1.8 to 2.3 times, the pull 5 to 15%
 * slower), most likely because the page is no longer in cache, where
 * signet's own copy would have left it there.
 */
static int
splice_wanted(const struct px_conn *c)
{
	if (c->c_tls)
		return 0;
	switch (c->c_conf->splice) {
	case CONF_SPLICE_ALWAYS:
		return 1;
	case CONF_SPLICE_NEVER:
		return 0;
	default:
		return !c->c_local;
	}
}

/*
 * The head is whole in p_in: parse it, send the client its own head, and
 * start the body.  Returns 0 when the body goes on, -1 when p is gone
 * (answered, failed, or handed to the relay).
 */
static int
take_head(struct px_pull *p, size_t headlen)
{
	struct px_conn		*c = p->p_conn;
	struct px_http_resp	 r = { 0 };
	struct evbuffer		*hdrs;
	char			 origin[300];
	const char		*head;
	int64_t			 ignored;
	int			 i;

	head = (const char *)evbuffer_pullup(p->p_in, (ev_ssize_t)headlen);
	if (head == NULL || px_http_parse_resp(head, headlen, &r) == -1) {
		px_http_resp_reset(&r);
		p->p_keep = 0;
		release_conn(p);
		to_relay(p);	/* not plain (or no memory): curl's */
		return -1;
	}
	evbuffer_drain(p->p_in, headlen);
	hdrs = evbuffer_new();
	if (hdrs == NULL) {
		px_http_resp_reset(&r);
		fail(p, 500, "out of memory");
		return -1;
	}
	/* the filter drops hop-by-hop lines and rewrites the URLs that name
	 * the upstream */
	px_conn_origin(c, origin, sizeof(origin));
	for (i = 0; i < r.nlines; i++)
		px_header_filter(r.line[i], hdrs, &ignored, c->c_conf->up.url,
		    origin);
	p->p_keep = !r.close;
	/* a HEAD's answer names the length of a body it does not carry */
	p->p_left = strcmp(c->c_req.method, "HEAD") == 0 ? 0 :
	    r.content_length;
	p->p_state = P_BODY;
	c->c_up_status = r.status;
	px_conn_resp_head(c, r.status, hdrs, r.status == 204 ||
	    r.status == 304 ? -1 : r.content_length);
	/* a blob's bytes: spliced when a pipe can be had (splice.c) */
	if (splice_wanted(c) && p->p_left >= SPLICE_MIN)
		p->p_pipe = px_pipe_take();
	evbuffer_free(hdrs);
	px_http_resp_reset(&r);
	return 0;
}

/* The body ended short: close rather than pass a truncated body as whole.
 * n is what the read returned (0: the upstream closed). */
static void
fail_body(struct px_pull *p, ssize_t n)
{
	struct px_conn	*c = p->p_conn;

	p->p_keep = 0;
	release_conn(p);
	c->c_error = "upstream failed during the response body";
	px_warn("conn %llu: upstream failed mid-body: %s",
	    (unsigned long long)c->c_id, n == 0 ?
	    "it closed the connection" : strerror(errno));
	px_conn_close(c, "upstream failed during the response body");
}

static void
end_body(struct px_pull *p)
{
	release_conn(p);	/* to the pool, when clean */
	px_pipe_back(p->p_pipe);
	p->p_pipe = NULL;
	px_conn_resp_end(p->p_conn);
}

/*
 * The body through the pipe: what it holds out to the client first, then
 * a pipe load from the upstream, until either socket has nothing to give
 * or take.  While the client takes no more, the pipe is topped up with
 * what the upstream has already sent, and the wait is for the client (the
 * drained callback); an empty pipe waits for the upstream.  Bounded per
 * wakeup, as the loop's other connections wait meanwhile.
 */
static void
splice_step(struct px_pull *p)
{
	struct px_conn	*c = p->p_conn;
	size_t		 want;
	ssize_t		 n;
	int		 rounds, blocked;

	for (rounds = 0;; rounds++) {
		blocked = 0;
		if (px_pipe_held(p->p_pipe) > 0) {
			n = px_conn_splice(c, p->p_pipe);
			if (n < 0)
				return;		/* closing */
			blocked = n > 0;
		}
		if (p->p_left == 0 && !blocked) {
			end_body(p);
			return;
		}
		if (rounds == SPLICE_ROUNDS && !blocked)
			break;
		/* blocked, this fills what room the pipe has: EAGAIN is then
		 * no data or no room, either way the client's turn */
		while (p->p_left > 0) {
			want = p->p_left < PX_PIPE_SIZE ? (size_t)p->p_left :
			    PX_PIPE_SIZE;
			n = px_pipe_fill(p->p_pipe, px_upconn_fd(p->p_up),
			    want);
			p->p_short = n >= 0 && (size_t)n < want;
			if (n > 0) {
				p->p_left -= n;
				px_metrics_pulled(1, (uint64_t)n);
				if (blocked)
					continue;
				break;
			}
			if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				fail_body(p, n);
				return;
			}
			break;
		}
		if (blocked) {			/* the client's turn */
			p->p_stopped = 1;
			event_del(p->p_ev);
			return;
		}
		if (n < 0)			/* nothing came */
			break;
	}
	p->p_stopped = 0;
	if (watch(p, EV_READ) == -1)
		px_conn_close(c, "cannot watch the upstream connection");
}

/* Move what the head's reads took of the body, then end or read on. */
static void
body_step(struct px_pull *p)
{
	struct px_conn	*c = p->p_conn;
	size_t		 have = evbuffer_get_length(p->p_in), want;
	ssize_t		 n;

	if (have > 0) {
		if ((int64_t)have > p->p_left) {
			p->p_keep = 0;	/* more than the response: unusable */
			have = (size_t)p->p_left;
		}
		evbuffer_remove_buffer(p->p_in, p->p_buf, have);
		p->p_left -= (int64_t)have;
		px_metrics_pulled(0, have);
	}
	/* to splice: first out, the head and what its read took of the body */
	if (p->p_pipe != NULL && px_pipe_held(p->p_pipe) == 0 &&
	    evbuffer_get_length(p->p_buf) > 0 && !px_conn_output_full(c)) {
		px_conn_resp_move(c, p->p_buf);
		if (c->c_state == PX_C_CLOSING)
			return;
	}
	/* once bytes are in the pipe, nothing may pass them */
	if (p->p_pipe != NULL && (px_pipe_held(p->p_pipe) > 0 ||
	    (evbuffer_get_length(p->p_buf) == 0 && px_conn_splice_ready(c)))) {
		splice_step(p);
		return;
	}
	if (c->c_state == PX_C_CLOSING)
		return;
	if (p->p_left > 0 && !px_conn_output_full(c)) {
		want = p->p_left < BODY_READ ? (size_t)p->p_left : BODY_READ;
		n = px_read_block(p->p_buf, px_upconn_fd(p->p_up), want);
		p->p_short = n >= 0 && (size_t)n < want;
		if (n > 0) {
			p->p_left -= n;
			px_metrics_pulled(0, (uint64_t)n);
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			fail_body(p, n);
			return;
		}
	}
	px_conn_resp_move(c, p->p_buf);
	if (c->c_state == PX_C_CLOSING)
		return;
	if (p->p_left == 0) {
		end_body(p);
		return;
	}
	p->p_stopped = px_conn_output_full(c);
	if (p->p_stopped)
		event_del(p->p_ev);	/* px_pull_drained reads on */
	else if (watch(p, EV_READ) == -1)
		px_conn_close(c, "cannot watch the upstream connection");
}

static void
read_head(struct px_pull *p)
{
	struct evbuffer_ptr	 end;
	ssize_t			 n;

	n = px_read_into(p->p_in, px_upconn_fd(p->p_up), HEAD_READ);
	p->p_short = n >= 0 && n < HEAD_READ;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		if (evbuffer_get_length(p->p_in) == 0 && retry_stale(p))
			return;
		fail(p, 502, n == 0 ? "upstream unreachable: it closed the "
		    "connection before answering" :
		    "upstream unreachable: cannot read the answer");
		return;
	}
	end = evbuffer_search(p->p_in, "\r\n\r\n", 4, NULL);
	if (end.pos < 0) {
		if (evbuffer_get_length(p->p_in) > PX_HTTP_HEAD_MAX) {
			p->p_keep = 0;
			release_conn(p);
			to_relay(p);
		}
		return;		/* more to come: the event stays */
	}
	if (take_head(p, (size_t)end.pos + 4) == 0)
		body_step(p);
}

static void
on_event(evutil_socket_t fd, short what, void *arg)
{
	struct px_pull	*p = arg;
	struct px_conn	*c = p->p_conn;

	(void)fd;
	if (c->c_state == PX_C_CLOSING)
		return;
	if (what & EV_TIMEOUT) {
		if (p->p_state == P_BODY) {
			p->p_keep = 0;
			release_conn(p);
			px_warn("conn %llu: upstream stalled during the body: "
			    "no byte for %ld s", (unsigned long long)c->c_id,
			    c->c_conf->up.response_timeout);
			c->c_error = "upstream stalled during the body";
			px_conn_close(c, "upstream stalled during the body");
		} else
			fail(p, 504, "upstream did not answer in time");
		return;
	}
	switch (p->p_state) {
	case P_SEND:
		send_request(p);
		break;
	case P_HEAD:
		read_head(p);
		break;
	case P_BODY:
		body_step(p);
		break;
	default:
		break;
	}
}

static void
on_connected(struct px_upconn *u, CURLcode rc, void *arg)
{
	struct px_pull	*p = arg;
	char		 msg[CURL_ERROR_SIZE + 64];

	(void)u;	/* p->p_up */
	if (rc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "upstream unreachable: %s",
		    curl_easy_strerror(rc));
		fail(p, rc == CURLE_OPERATION_TIMEDOUT ? 504 : 502, msg);
		return;
	}
	send_request(p);
}

static void
start_conn(struct px_pull *p)
{
	struct px_conn	*c = p->p_conn;

	p->p_state = P_CONNECT;
	p->p_reused = 0;
	if (!p->p_retried)
		p->p_up = px_upstream_take(upstream_of(c), &c->c_conf->up);
	if (p->p_up != NULL) {
		p->p_reused = 1;
		send_request(p);
		return;
	}
	p->p_up = px_upconn_open(upstream_of(c), &c->c_conf->up, on_connected,
	    p);
	if (p->p_up == NULL)
		fail(p, 500, "cannot start upstream request");
}

/* The request line, Host, and the client's end-to-end headers. */
static int
build_request(struct px_pull *p, struct px_conn *c)
{
	const struct px_http_req *q = &c->c_req;
	int		 i;

	if (evbuffer_add_printf(p->p_req, "%s %s HTTP/1.1\r\nHost: %s\r\n",
	    q->method, q->target, c->c_conf->up.url + 7) < 0)
		return -1;
	for (i = 0; i < q->nhdr; i++) {
		if (!px_http_end_to_end(q, i))
			continue;
		if (evbuffer_add_printf(p->p_req, "%s: %s\r\n", q->hdr[i].name,
		    q->hdr[i].value) < 0)
			return -1;
	}
	return evbuffer_add(p->p_req, "\r\n", 2);
}

void
px_pull_start(struct px_conn *c)
{
	struct px_pull	*p;

	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		px_conn_error(c, 500, "UNKNOWN", "out of memory");
		return;
	}
	c->c_pull = p;
	p->p_conn = c;
	p->p_req = evbuffer_new();
	p->p_in = evbuffer_new();
	p->p_buf = evbuffer_new();
	if (p->p_req == NULL || p->p_in == NULL || p->p_buf == NULL ||
	    build_request(p, c) == -1) {
		px_conn_error(c, 500, "UNKNOWN", "out of memory");
		return;
	}
	start_conn(p);
}

static void
pull_drained(struct px_conn *c)
{
	struct px_pull	*p = c->c_pull;

	if (p == NULL || p->p_state != P_BODY || !p->p_stopped ||
	    p->p_ev == NULL)
		return;
	p->p_stopped = 0;
	body_step(p);
}

static void
pull_free(struct px_conn *c)
{
	struct px_pull	*p = c->c_pull;

	if (p == NULL)
		return;
	c->c_pull = NULL;
	release_conn(p);
	if (p->p_req != NULL)
		evbuffer_free(p->p_req);
	if (p->p_in != NULL)
		evbuffer_free(p->p_in);
	if (p->p_buf != NULL)
		evbuffer_free(p->p_buf);
	px_pipe_back(p->p_pipe);	/* closed if it holds bytes */
	free(p);
}

const struct px_handler px_pull_handler = {
	.name = "pull", .wants_body = 0, .drained = pull_drained,
	.free = pull_free,
};
