/*
 * proxy/server/server.c: listeners, client connections and signals.
 *
 * One struct px_conn per client connection.  px_conn_close() is the only way
 * out: it marks the connection and frees it from a zero-timeout event, so no
 * callback chain (libevent's or curl's) ever runs on freed memory.
 *
 * Requests are handled one at a time per connection (pipelined requests wait
 * in the input buffer).  Bodies stream: client bytes go to c_body, the relay
 * hands them to curl, and reading stops while c_body is over the high mark.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "server.h"

/* Output drained to LOW resumes the upstream; LOW = HIGH / 4. */
#define OUT_HIGH(c)	((size_t)(c)->c_conf->buffer_bytes)
#define OUT_LOW(c)	(OUT_HIGH(c) / 4)
/* Bytes per read(2)/write(2) on client sockets. */
#define IO_CHUNK	(64 * 1024)
#define WRITE_CHUNK	(1024 * 1024)
/* Bytes per read of a request body on a plain connection (body_read). */
#define BODY_READ	(256 * 1024)
/* How long a closing TLS connection may take to send its last records. */
#define LINGER_SECONDS	5
/* What a closing connection reads of a request it refused, at most. */
#define DISCARD_MAX	(4 * 1024 * 1024)

struct px_server {
	struct event_base	*base;
	const struct px_server_hooks *hooks;
	struct conf		*conf;
	struct px_upstream	*up;
	struct px_tls		*tls;
	struct evconnlistener	*lst[CONF_LISTEN_MAX];
	int			 nlst;
	TAILQ_HEAD(, px_conn)	 conns;
	int			 nconns;
	int			 draining;
	struct event		*ev_term, *ev_int, *ev_hup, *ev_drain;
	struct event		*ev_queue;	/* queued Rekor uploads */
	struct event		*ev_queue_next;	/* one landed: the next now */
	struct event		*ev_poll;	/* a drain waiting for rechecks */
	struct event		*ev_accept;	/* accepting again after EMFILE */
	int			 accept_paused;
	uint64_t		 next_id;
	uint64_t		 refused_per_addr;
};

static void	conn_read(struct bufferevent *, void *);
static void	conn_write(struct bufferevent *, void *);
static void	conn_event(struct bufferevent *, short, void *);
static void	conn_next_request(struct px_conn *);
static void	log_access(struct px_conn *);
static void	server_maybe_exit(struct px_server *);

static const char *const state_names[] = {
	[PX_C_HEAD] = "head", [PX_C_ACTIVE] = "active",
	[PX_C_FLUSH] = "flush", [PX_C_CLOSING] = "closing",
};

static const char *
status_text(int st)
{
	switch (st) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Status";
	}
}

/* Connection lifecycle */

/* The gauge of /metrics follows the count (shared between workers). */
static void
conns_changed(struct px_server *srv)
{
	if (srv->hooks->conns != NULL)
		srv->hooks->conns(srv->nconns);
}

static void
conn_free(evutil_socket_t fd, short what, void *arg)
{
	struct px_conn	*c = arg;
	struct px_server *srv = c->c_srv;

	(void)fd;
	(void)what;
	if (c->c_resp_status == 0)
		c->c_resp_status = 499;	/* nothing was answered */
	log_access(c);
	px_conn_set_handler(c, NULL);
	if (c->c_ev_body != NULL)
		event_free(c->c_ev_body);	/* before its socket is closed */
	if (c->c_ev_out != NULL)
		event_free(c->c_ev_out);
	if (c->c_bev != NULL)
		bufferevent_free(c->c_bev);
	if (c->c_ev_timer != NULL)
		event_free(c->c_ev_timer);
	if (c->c_ev_end != NULL)
		event_free(c->c_ev_end);
	event_free(c->c_ev_close);
	if (c->c_body != NULL)
		evbuffer_free(c->c_body);
	if (c->c_head != NULL)
		evbuffer_free(c->c_head);
	px_http_req_reset(&c->c_req);
	conf_unref(c->c_conf);
	TAILQ_REMOVE(&srv->conns, c, c_entry);
	srv->nconns--;
	conns_changed(srv);
	free(c);
	server_maybe_exit(srv);
}

static void	conn_discard(struct px_conn *);
static void	conn_linger_event(struct bufferevent *, short, void *);

static void
conn_linger_write(struct bufferevent *under, void *arg)
{
	struct px_conn	*c = arg;

	if (evbuffer_get_length(bufferevent_get_output(under)) > 0)
		return;
	if (c->c_discard)
		conn_discard(c);
	else
		event_active(c->c_ev_close, EV_TIMEOUT, 0);
}

static void
conn_discard_read(struct bufferevent *bev, void *arg)
{
	struct px_conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	c->c_discarded += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (c->c_discarded > DISCARD_MAX)
		event_active(c->c_ev_close, EV_TIMEOUT, 0);
}

/*
 * The answer is out, and the client may still be sending the request it
 * answers (a body refused, a head too large).  Closing now would make the
 * kernel answer its next bytes with a reset, and a reset can discard the
 * answer before the client has read it.  So, as nginx's lingering close:
 * no more writing (the client sees the end), and what comes is read and
 * dropped until the client closes, LINGER_SECONDS pass without a byte, or
 * DISCARD_MAX has come.  Plain connections only: over TLS the filter
 * would have to decrypt what is dropped.
 */
static void
conn_discard(struct px_conn *c)
{
	static const struct timeval idle = { LINGER_SECONDS, 0 };
	struct bufferevent *bev = c->c_bev;

	if (shutdown(bufferevent_getfd(bev), SHUT_WR) == -1) {
		event_active(c->c_ev_close, EV_TIMEOUT, 0);
		return;
	}
	c->c_discarded = 0;
	conn_discard_read(bev, c);	/* what was read already */
	bufferevent_setcb(bev, conn_discard_read, NULL, conn_linger_event, c);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_set_timeouts(bev, &idle, NULL);
	bufferevent_disable(bev, EV_WRITE);
	bufferevent_enable(bev, EV_READ);
}

static void
conn_linger_event(struct bufferevent *under, short what, void *arg)
{
	struct px_conn	*c = arg;

	(void)under;
	(void)what;
	event_active(c->c_ev_close, EV_TIMEOUT, 0);
}

static void	head_queue(struct px_conn *);

/*
 * Close c.  What is still queued for the client (the end of a response, the
 * part of a body that arrived before the upstream failed) is sent first, for
 * LINGER_SECONDS at most, unless the client is gone (abort set).
 */
static void
conn_close(struct px_conn *c, const char *reason, int abort)
{
	static const struct timeval linger = { LINGER_SECONDS, 0 };
	struct bufferevent *sock;

	if (c->c_state == PX_C_CLOSING)
		return;
	px_debug("conn %llu: close in state %s: %s",
	    (unsigned long long)c->c_id, state_names[c->c_state], reason);
	/* a request whose rest the client may still be sending */
	c->c_discard = !c->c_tls && c->c_bev != NULL &&
	    (((c->c_state == PX_C_ACTIVE || c->c_state == PX_C_FLUSH) &&
	    !c->c_body_done) ||
	    evbuffer_get_length(bufferevent_get_input(c->c_bev)) > 0);
	c->c_state = PX_C_CLOSING;
	c->c_close_reason = reason;
	if (c->c_ev_body != NULL)
		event_del(c->c_ev_body);
	if (c->c_ev_out != NULL)
		event_del(c->c_ev_out);
	if (c->c_bev == NULL || abort) {
		if (c->c_bev != NULL)
			bufferevent_disable(c->c_bev, EV_READ | EV_WRITE);
		event_active(c->c_ev_close, EV_TIMEOUT, 0);
		return;
	}
	head_queue(c);	/* a response's start goes out as before */
	/* TLS: encrypt what the filter still holds, then work on the socket */
	sock = bufferevent_get_underlying(c->c_bev);
	if (sock != NULL)
		bufferevent_flush(c->c_bev, EV_WRITE, BEV_FLUSH);
	else
		sock = c->c_bev;
	bufferevent_disable(c->c_bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(sock)) == 0) {
		bufferevent_disable(c->c_bev, EV_WRITE);
		if (c->c_discard)
			conn_discard(c);
		else
			event_active(c->c_ev_close, EV_TIMEOUT, 0);
		return;
	}
	/* nothing but the socket is needed now: take over its callbacks */
	bufferevent_setcb(sock, NULL, conn_linger_write, conn_linger_event, c);
	bufferevent_setwatermark(sock, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(sock, NULL, &linger);
	bufferevent_disable(sock, EV_READ);
	bufferevent_enable(sock, EV_WRITE);
}

void
px_conn_close(struct px_conn *c, const char *reason)
{
	conn_close(c, reason, 0);
}

static void
conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct px_conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->c_state != PX_C_HEAD)
		return;
	if (evbuffer_get_length(bufferevent_get_input(c->c_bev)) == 0) {
		px_conn_close(c, "idle timeout");
		return;
	}
	c->c_keepalive = 0;
	px_conn_error(c, 408, "UNAVAILABLE", "request header timeout");
}

/*
 * The head timer: idle_timeout while a kept-alive connection waits for its
 * next request, header_timeout from accept or from the first byte of a
 * request until its head is complete (armed once: a client trickling bytes
 * does not extend it).
 */
static void
arm_head_timer(struct px_conn *c, int idle)
{
	struct timeval	tv = { c->c_srv->conf->header_timeout, 0 };

	if (idle)
		tv.tv_sec = c->c_srv->conf->idle_timeout;
	c->c_head_timer_idle = idle;
	evtimer_add(c->c_ev_timer, &tv);
}

/* The access log line, written when a request ends. */
static void
log_access(struct px_conn *c)
{
	struct timeval	 now, d;
	json_t		*o;

	if (c->c_req.head == NULL || c->c_logged)
		return;
	c->c_logged = 1;
	c->c_srv->hooks->finished(c);
	if (!c->c_conf->log_access)
		return;
	gettimeofday(&now, NULL);
	timersub(&now, &c->c_start, &d);
	o = json_pack("{s:s, s:I, s:s, s:s, s:s%, s:s, s:s, s:s, s:i, s:I, "
	    "s:I, s:f}",
	    "msg", "access", "conn", (json_int_t)c->c_id, "peer", c->c_peer,
	    "method", c->c_req.method, "path", c->c_req.target,
	    c->c_req.pathlen,
	    "endpoint", core_route_name(c->c_route.kind),
	    "repository", c->c_route.name, "reference", c->c_route.ref,
	    "status", c->c_resp_status,
	    "bytes_in", (json_int_t)c->c_bytes_in,
	    "bytes_out", (json_int_t)c->c_bytes_out,
	    "duration_ms", d.tv_sec * 1000.0 + d.tv_usec / 1000.0);
	if (o == NULL)
		return;
	if (c->c_up_status > 0)
		json_object_set_new(o, "upstream_status",
		    json_integer(c->c_up_status));
	else
		json_object_set_new(o, "upstream_status", json_null());
	if (c->c_error != NULL)
		json_object_set_new(o, "error", json_string(c->c_error));
	px_log_fields(CONF_LOG_INFO, o);
}

/* Response writing, called by relay.c and for local answers */

void
px_conn_origin(struct px_conn *c, char *buf, size_t len)
{
	const char	*host = px_http_req_header(&c->c_req, "host");

	if (host == NULL)
		buf[0] = '\0';
	else
		snprintf(buf, len, "%s://%s", c->c_tls ? "https" : "http", host);
}

/*
 * The start of a response on a plain connection with nothing queued waits
 * in c_head, and goes out with the first body bytes or at the end, written
 * at once (write_now): queued on the bufferevent it would cost two epoll_ctl
 * (its write event added, then removed once out) and a pass of the loop.
 * Anything else queued for the client goes after it (head_queue first).
 */
#define HEAD_HOLD_MAX	(64 * 1024)	/* more than this is queued */

static void
head_queue(struct px_conn *c)
{
	if (c->c_head != NULL && evbuffer_get_length(c->c_head) > 0)
		evbuffer_add_buffer(bufferevent_get_output(c->c_bev), c->c_head);
}

/*
 * buf to the client: on a plain connection with nothing queued, written at
 * once (through the bufferevent each piece would cost two epoll_ctl, its
 * write event added for the piece and removed once it is out); what the
 * socket does not take, or all of it otherwise, moved to the output.
 */
static void
write_now(struct px_conn *c, struct evbuffer *buf)
{
	struct evbuffer	*out = bufferevent_get_output(c->c_bev);

	if (!c->c_tls && evbuffer_get_length(out) == 0 &&
	    evbuffer_write(buf, bufferevent_getfd(c->c_bev)) == -1 &&
	    errno != EAGAIN && errno != EINTR) {
		evbuffer_drain(buf, evbuffer_get_length(buf));
		c->c_error = errno == EPIPE || errno == ECONNRESET ?
		    "client closed the connection" : "client connection error";
		conn_close(c, c->c_error, 1);
		return;
	}
	evbuffer_add_buffer(out, buf);	/* the rest: moved, not copied */
}

void
px_conn_resp_head(struct px_conn *c, int status, struct evbuffer *hdrs,
    int64_t content_length)
{
	struct evbuffer	*out = bufferevent_get_output(c->c_bev);
	int		 nobody;

	if (c->c_state == PX_C_CLOSING || c->c_resp_started)
		return;
	c->c_resp_started = 1;
	c->c_resp_status = status;
	/* An unread request body leaves the connection unusable. */
	if (!c->c_body_done || c->c_srv->draining)
		c->c_keepalive = 0;
	/*
	 * Not when the connection closes after: written at once, the answer
	 * would be followed by the close within the same pass, and a client
	 * whose request is still partly unread here gets a reset that can
	 * discard the answer before it is read.
	 */
	if (!c->c_tls && c->c_keepalive && evbuffer_get_length(out) == 0) {
		if (c->c_head == NULL)
			c->c_head = evbuffer_new();
		if (c->c_head != NULL)
			out = c->c_head;	/* out of memory: queued */
	}
	nobody = strcmp(c->c_req.method, "HEAD") == 0 || status == 204 ||
	    status == 304 || (status >= 100 && status < 200);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status,
	    status_text(status));
	if (hdrs != NULL)
		evbuffer_add_buffer(out, hdrs);
	if (content_length >= 0) {
		if (status != 204 && status != 304)
			evbuffer_add_printf(out, "Content-Length: %lld\r\n",
			    (long long)content_length);
	} else if (!nobody) {
		if (c->c_req.minor >= 1) {
			evbuffer_add_printf(out,
			    "Transfer-Encoding: chunked\r\n");
			c->c_resp_chunked = 1;
		} else
			c->c_keepalive = 0;	/* close delimits it */
	}
	if (!c->c_keepalive)
		evbuffer_add_printf(out, "Connection: close\r\n");
	else if (c->c_req.minor == 0)
		evbuffer_add_printf(out, "Connection: keep-alive\r\n");
	evbuffer_add(out, "\r\n", 2);
}

int
px_conn_output_full(struct px_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->c_bev)) >=
	    OUT_HIGH(c);
}

void
px_conn_resp_body(struct px_conn *c, const void *data, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->c_bev);

	if (c->c_state == PX_C_CLOSING || len == 0)
		return;
	/* a small body joins the head that waits (one write at the end) */
	if (c->c_head != NULL && evbuffer_get_length(c->c_head) > 0) {
		if (evbuffer_get_length(c->c_head) + len <= HEAD_HOLD_MAX)
			out = c->c_head;
		else
			head_queue(c);
	}
	if (c->c_resp_chunked)
		evbuffer_add_printf(out, "%zx\r\n", len);
	evbuffer_add(out, data, len);
	if (c->c_resp_chunked)
		evbuffer_add(out, "\r\n", 2);
	c->c_bytes_out += len;
}

void
px_conn_resp_move(struct px_conn *c, struct evbuffer *buf)
{
	struct evbuffer	*out = bufferevent_get_output(c->c_bev);
	size_t		 len = evbuffer_get_length(buf);

	if (c->c_state == PX_C_CLOSING || len == 0)
		return;
	c->c_bytes_out += len;
	if (c->c_resp_chunked) {
		head_queue(c);
		evbuffer_add_printf(out, "%zx\r\n", len);
		evbuffer_add_buffer(out, buf);
		evbuffer_add(out, "\r\n", 2);
		return;
	}
	/* the head that waits goes in the same write */
	if (c->c_head != NULL && evbuffer_get_length(c->c_head) > 0)
		evbuffer_prepend_buffer(buf, c->c_head);
	write_now(c, buf);
}

int
px_conn_splice_ready(struct px_conn *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->c_bev);

	if (c->c_tls || c->c_state != PX_C_ACTIVE || !c->c_resp_started ||
	    c->c_resp_chunked || evbuffer_get_length(out) > 0)
		return 0;
	if (c->c_head != NULL && evbuffer_get_length(c->c_head) > 0) {
		write_now(c, c->c_head);	/* the head first */
		if (c->c_state == PX_C_CLOSING)
			return 0;
	}
	return evbuffer_get_length(out) == 0;
}

/* c_ev_out: the socket takes spliced bytes again, or stalled too long */
static void
conn_out_ready(evutil_socket_t fd, short what, void *arg)
{
	struct px_conn	*c = arg;

	(void)fd;
	if (c->c_state != PX_C_ACTIVE)
		return;
	if (what & EV_TIMEOUT) {
		c->c_error = "client timeout";
		conn_close(c, "client write timeout", 1);
		return;
	}
	if (c->c_handler != NULL && c->c_handler->drained != NULL)
		c->c_handler->drained(c);
}

ssize_t
px_conn_splice(struct px_conn *c, struct px_pipe *pp)
{
	struct timeval	 tv = { c->c_srv->conf->idle_timeout, 0 };
	evutil_socket_t	 fd = bufferevent_getfd(c->c_bev);
	ssize_t		 n;

	if (c->c_state != PX_C_ACTIVE)
		return -1;
	n = px_pipe_drain(pp, fd);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		c->c_error = errno == EPIPE || errno == ECONNRESET ?
		    "client closed the connection" : "client connection error";
		conn_close(c, c->c_error, 1);
		return -1;
	}
	if (n > 0)
		c->c_bytes_out += (uint64_t)n;
	if (px_pipe_held(pp) == 0)
		return 0;
	if (c->c_ev_out == NULL)
		c->c_ev_out = event_new(c->c_srv->base, fd, EV_WRITE,
		    conn_out_ready, c);
	if (c->c_ev_out == NULL || event_add(c->c_ev_out, &tv) == -1) {
		c->c_error = "out of memory";
		conn_close(c, "cannot watch the client connection", 1);
		return -1;
	}
	return (ssize_t)px_pipe_held(pp);
}

void
px_conn_resp_end(struct px_conn *c)
{
	struct evbuffer	*out;

	if (c->c_state == PX_C_CLOSING || c->c_resp_done)
		return;
	out = bufferevent_get_output(c->c_bev);
	if (c->c_head != NULL && evbuffer_get_length(c->c_head) > 0) {
		/* the whole response waits there: one write */
		if (c->c_resp_chunked)
			evbuffer_add(c->c_head, "0\r\n\r\n", 5);
		write_now(c, c->c_head);
		if (c->c_state == PX_C_CLOSING)
			return;
	} else if (c->c_resp_chunked)
		evbuffer_add(out, "0\r\n\r\n", 5);
	c->c_resp_done = 1;
	c->c_state = PX_C_FLUSH;
	/* Fire the write callback only once everything is out; with nothing
	 * queued, enabling it would arm the write event for nothing */
	bufferevent_setwatermark(c->c_bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(out) > 0)
		bufferevent_enable(c->c_bev, EV_WRITE);
	/*
	 * Already out (always so over TLS, whose filter takes the bytes at
	 * once): the write callback will not fire.  Finish from the loop,
	 * never from here: the caller is a handler that finishing would free
	 * while its own frames are still running.
	 */
	if (evbuffer_get_length(out) == 0)
		event_active(c->c_ev_end, EV_TIMEOUT, 0);
}

static void
conn_end(evutil_socket_t fd, short what, void *arg)
{
	struct px_conn	*c = arg;

	(void)fd;
	(void)what;
	conn_write(c->c_bev, c);
}

void
px_conn_error(struct px_conn *c, int status, const char *code,
    const char *msg)
{
	px_conn_error_extra(c, status, code, msg, NULL);
}

void
px_conn_error_extra(struct px_conn *c, int status, const char *code,
    const char *msg, const char *extra)
{
	struct evbuffer	*hdrs;
	char		 line[1024];
	json_t		*o;
	char		*body;

	if (c->c_state == PX_C_CLOSING)
		return;
	if (c->c_error == NULL) {
		/* msg may live on a caller's stack or in a request object */
		snprintf(c->c_errbuf, sizeof(c->c_errbuf), "%s", msg);
		c->c_error = c->c_errbuf;
	}
	if (c->c_resp_started) {
		/* Never let a truncated body look complete. */
		px_conn_close(c, msg);
		return;
	}
	o = json_pack("{s:[{s:s, s:s, s:{}}]}", "errors", "code", code,
	    "message", msg, "detail");
	body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	hdrs = evbuffer_new();
	if (body == NULL || hdrs == NULL) {
		free(body);
		if (hdrs != NULL)
			evbuffer_free(hdrs);
		px_conn_close(c, "out of memory");
		return;
	}
	evbuffer_add_printf(hdrs, "Content-Type: application/json\r\n"
	    "Docker-Distribution-API-Version: registry/2.0\r\n");
	if (extra != NULL) {
		px_header_safe(line, sizeof(line), extra);
		evbuffer_add_printf(hdrs, "%s\r\n", line);
	}
	px_conn_resp_head(c, status, hdrs, (int64_t)strlen(body));
	evbuffer_free(hdrs);
	if (strcmp(c->c_req.method, "HEAD") != 0)
		px_conn_resp_body(c, body, strlen(body));
	free(body);
	px_conn_resp_end(c);
}

void
px_conn_reply_fetch(struct px_conn *c, struct px_fetch *f, const char *extra)
{
	struct evbuffer	*hdrs = px_fetch_headers(f);
	char		 line[1024];
	size_t		 len;
	const char	*body = px_fetch_body(f, &len);
	int64_t		 clen = (int64_t)len;

	c->c_up_status = px_fetch_status(f);
	if (extra != NULL) {
		px_header_safe(line, sizeof(line), extra);
		evbuffer_add_printf(hdrs, "%s\r\n", line);
	}
	/* a HEAD answered by a HEAD: the upstream's length, no body */
	if (strcmp(c->c_req.method, "HEAD") == 0 && len == 0 &&
	    px_fetch_content_length(f) >= 0)
		clen = px_fetch_content_length(f);
	px_conn_resp_head(c, px_fetch_status(f), hdrs, clen);
	if (strcmp(c->c_req.method, "HEAD") != 0)
		px_conn_resp_body(c, body, len);
	px_conn_resp_end(c);
}

/* A short plain-text answer for signet's own endpoints. */
void
px_conn_reply_text(struct px_conn *c, int status, const char *text)
{
	struct evbuffer	*hdrs = evbuffer_new();

	if (hdrs == NULL) {
		px_conn_close(c, "out of memory");
		return;
	}
	evbuffer_add_printf(hdrs, "Content-Type: text/plain\r\n");
	px_conn_resp_head(c, status, hdrs, (int64_t)strlen(text));
	evbuffer_free(hdrs);
	if (strcmp(c->c_req.method, "HEAD") != 0)
		px_conn_resp_body(c, text, strlen(text));
	px_conn_resp_end(c);
}

void
px_conn_set_handler(struct px_conn *c, const struct px_handler *h)
{
	const struct px_handler	*old = c->c_handler;

	c->c_handler = h;
	if (old != NULL && old != h && old->free != NULL)
		old->free(c);
	if (h != NULL)
		px_debug("conn %llu: handler %s", (unsigned long long)c->c_id,
		    h->name);
}

int
px_server_nconns(const struct px_server *srv)
{
	return srv->nconns;
}

/*
 * A request body on a plain connection is read by c_ev_body, BODY_READ at
 * a time: libevent 2.1's bufferevent reads a socket 4 KiB at a time
 * (EVBUFFER_MAX_READ; max_single_read cannot raise it), which made a 512
 * MiB upload 135,000 wakeups, each an epoll_wait, an ioctl(FIONREAD) and
 * a readv, and as many 4 KiB sends upstream.  The bytes go to the same
 * input buffer, framed by read_body as before.  TLS keeps the filter's
 * reads (it decrypts records of 16 KiB).
 */
static void
body_read_on(struct px_conn *c)
{
	struct timeval	tv = { c->c_srv->conf->idle_timeout, 0 };

	if (c->c_direct)
		event_add(c->c_ev_body, &tv);
	else
		bufferevent_enable(c->c_bev, EV_READ);
}

static void
body_read_off(struct px_conn *c)
{
	if (c->c_direct)
		event_del(c->c_ev_body);
	else
		bufferevent_disable(c->c_bev, EV_READ);
}

/* The body is all read: the bufferevent reads what follows (a pipelined
 * request, the client's close), as for a request without a body. */
static void
body_direct_end(struct px_conn *c)
{
	if (!c->c_direct)
		return;
	c->c_direct = 0;
	event_del(c->c_ev_body);
	if (c->c_state == PX_C_ACTIVE)
		bufferevent_enable(c->c_bev, EV_READ);
}

void
px_conn_body_drained(struct px_conn *c)
{
	if (c->c_read_paused && !c->c_body_done && !c->c_body_hold &&
	    evbuffer_get_length(c->c_body) <= OUT_LOW(c)) {
		c->c_read_paused = 0;
		body_read_on(c);
		/*
		 * Bytes read from the socket before the pause wait in the
		 * input buffer; when the client sent its last ones then, no
		 * new read comes to move them (the upload stalled a few KB
		 * before its end).  Run the read callback for them, from
		 * the loop: we are inside the relay's curl callback here.
		 */
		if (evbuffer_get_length(bufferevent_get_input(c->c_bev)) == 0)
			return;
		if (c->c_direct)
			event_active(c->c_ev_body, EV_READ, 0);
		else
			bufferevent_trigger(c->c_bev, EV_READ,
			    BEV_TRIG_DEFER_CALLBACKS);
	}
}

/* Request reading */

/* Move request-body bytes from the socket to c_body, as framing allows. */
static int
read_body(struct px_conn *c, struct evbuffer *in)
{
	size_t	 n, used, off, dlen;
	size_t	 max = c->c_handler != NULL ? c->c_handler->body_max : 0;
	char	*p;

	if (c->c_body_hold && !c->c_body_done) {
		/* not yet: the handler checks something first */
		c->c_read_paused = 1;
		body_read_off(c);
		return 0;
	}
	while (!c->c_body_done && evbuffer_get_length(in) > 0) {
		if (max > 0 && evbuffer_get_length(c->c_body) > max) {
			c->c_keepalive = 0;
			px_conn_error(c, 413, "SIZE_INVALID",
			    "manifest larger than 4 MiB");
			return -1;
		}
		if (max == 0 && evbuffer_get_length(c->c_body) >= OUT_HIGH(c)) {
			/* backpressure: the upstream is slower than us */
			c->c_read_paused = 1;
			body_read_off(c);
			break;
		}
		if (!c->c_req.chunked) {
			n = evbuffer_get_length(in);
			if ((uint64_t)n > (uint64_t)c->c_body_left)
				n = (size_t)c->c_body_left;
			evbuffer_remove_buffer(in, c->c_body, n);
			c->c_body_left -= (int64_t)n;
			c->c_bytes_in += n;
			if (c->c_body_left == 0)
				c->c_body_done = 1;
			continue;
		}
		n = evbuffer_get_contiguous_space(in);
		p = (char *)evbuffer_pullup(in, (ssize_t)n);
		used = px_chunked_feed(&c->c_ck, p, n, &off, &dlen);
		if (c->c_ck.state == PX_CK_ERROR) {
			c->c_keepalive = 0;
			px_conn_error(c, 400, "BLOB_UPLOAD_INVALID",
			    c->c_ck.errstr);
			return -1;
		}
		if (dlen > 0) {
			evbuffer_drain(in, off);
			evbuffer_remove_buffer(in, c->c_body, dlen);
			c->c_bytes_in += dlen;
		} else
			evbuffer_drain(in, used);
		if (c->c_ck.state == PX_CK_DONE)
			c->c_body_done = 1;
	}
	if (c->c_body_done)
		body_direct_end(c);
	return 0;
}

/* c_ev_body: a plain connection's request body, BODY_READ at a time. */
static void
body_read(evutil_socket_t fd, short what, void *arg)
{
	struct px_conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(c->c_bev);
	size_t			 want = BODY_READ, have;
	ssize_t			 n = 0;

	if (what & EV_TIMEOUT) {
		c->c_error = "client timeout";
		conn_close(c, "client read timeout", 1);
		return;
	}
	if (c->c_state != PX_C_ACTIVE || c->c_body_done)
		return;
	/*
	 * At most BODY_READ waits in the input (read_body moves it on as
	 * backpressure allows: reading on regardless would pile the client's
	 * bytes up here), and no further than the body's end: what follows
	 * is the next request's, read by the bufferevent.
	 */
	have = evbuffer_get_length(in);
	want = have < BODY_READ ? BODY_READ - have : 0;
	if (!c->c_req.chunked && (uint64_t)c->c_body_left < have + want)
		want = (uint64_t)c->c_body_left > have ?
		    (size_t)((uint64_t)c->c_body_left - have) : 0;
	if (want > 0) {
		/* the bufferevent keeps its input's end frozen but while it
		 * reads; so here */
		evbuffer_unfreeze(in, 0);
		n = px_read_into(in, fd, want);
		evbuffer_freeze(in, 0);
		if (n == 0) {
			c->c_error = "client closed the connection";
			conn_close(c, "client closed the connection", 1);
			return;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			c->c_error = errno == ENOMEM ? "out of memory" :
			    "client connection error";
			conn_close(c, c->c_error, 1);
			return;
		}
	}
	if (read_body(c, in) == -1)
		return;
	if (c->c_handler != NULL && c->c_handler->body != NULL &&
	    !c->c_body_hold)
		c->c_handler->body(c);
}

/* A request starts with a method, so with a token character. */
static int
http_start_byte(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static int
method_allowed(const char *m)
{
	static const char *const ok[] = { "GET", "HEAD", "PUT", "POST",
	    "PATCH", "DELETE" };
	size_t	i;

	for (i = 0; i < sizeof(ok) / sizeof(*ok); i++)
		if (strcmp(m, ok[i]) == 0)
			return 1;
	return 0;
}

/* A complete head is in the input: parse it and start the request. */
static void
start_request(struct px_conn *c, struct evbuffer *in, size_t headlen)
{
	const char	*errstr, *code;
	int		 status;

	evtimer_del(c->c_ev_timer);
	gettimeofday(&c->c_start, NULL);
	conf_unref(c->c_conf);
	c->c_conf = conf_ref(c->c_srv->conf);
	c->c_state = PX_C_ACTIVE;

	if (px_http_parse_head((const char *)evbuffer_pullup(in,
	    (ssize_t)headlen), headlen, &c->c_req, &status, &errstr) == -1) {
		evbuffer_drain(in, headlen);
		c->c_keepalive = 0;
		c->c_body_done = 1;
		px_conn_error(c, status, status == 431 ? "SIZE_INVALID" :
		    "UNSUPPORTED", errstr);
		return;
	}
	evbuffer_drain(in, headlen);
	c->c_keepalive = c->c_req.keepalive;
	c->c_body_left = c->c_req.content_length > 0 ?
	    c->c_req.content_length : 0;
	c->c_body_done = !c->c_req.chunked && c->c_body_left == 0;

	if (core_route_parse(c->c_req.target, c->c_req.pathlen, &c->c_route,
	    &code, &errstr) == -1) {
		c->c_keepalive = c->c_keepalive && c->c_body_done;
		if (strcmp(code, "NOT_FOUND") == 0)
			px_conn_error(c, 404, "UNSUPPORTED", errstr);
		else
			px_conn_error(c, 400, code, errstr);
		return;
	}
	if (!method_allowed(c->c_req.method)) {
		c->c_keepalive = c->c_keepalive && c->c_body_done;
		px_conn_error(c, 405, "UNSUPPORTED", "method not allowed");
		return;
	}
	c->c_srv->hooks->dispatch(c);
	if (c->c_state != PX_C_ACTIVE || c->c_handler == NULL ||
	    !c->c_handler->wants_body)
		return;		/* answered, or no body wanted */
	if (c->c_req.expect_continue && !c->c_body_done && !c->c_body_hold) {
		head_queue(c);
		evbuffer_add_printf(bufferevent_get_output(c->c_bev),
		    "HTTP/1.1 100 Continue\r\n\r\n");
	}
	if (!c->c_body_done && !c->c_tls) {
		/* the body, read by body_read (see body_read_on) */
		c->c_direct = 1;
		bufferevent_disable(c->c_bev, EV_READ);
		body_read_on(c);
	}
	if (!c->c_body_done && read_body(c, in) == -1)
		return;
	if (c->c_handler->body != NULL && !c->c_body_hold)
		c->c_handler->body(c);
}

void
px_conn_body_hold(struct px_conn *c)
{
	c->c_body_hold = 1;
}

void
px_conn_body_release(struct px_conn *c)
{
	if (!c->c_body_hold || c->c_state != PX_C_ACTIVE)
		return;
	c->c_body_hold = 0;
	if (c->c_req.expect_continue && !c->c_body_done) {
		head_queue(c);
		evbuffer_add_printf(bufferevent_get_output(c->c_bev),
		    "HTTP/1.1 100 Continue\r\n\r\n");
	}
	px_conn_body_resume(c);
}

void
px_conn_body_resume(struct px_conn *c)
{
	if (c->c_state != PX_C_ACTIVE || c->c_body_hold)
		return;
	if (c->c_read_paused) {
		c->c_read_paused = 0;
		body_read_on(c);
	}
	if (!c->c_body_done &&
	    read_body(c, bufferevent_get_input(c->c_bev)) == -1)
		return;
	if (c->c_handler != NULL && c->c_handler->body != NULL)
		c->c_handler->body(c);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct px_conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 p;
	size_t			 avail;

	switch (c->c_state) {
	case PX_C_HEAD:
		avail = evbuffer_get_length(in);
		if (avail > 0 && !http_start_byte(*evbuffer_pullup(in, 1))) {
			/*
			 * Not HTTP, typically a TLS ClientHello on the plain
			 * port (skopeo tries https first): answer now instead
			 * of waiting for a blank line that never comes.
			 */
			c->c_state = PX_C_ACTIVE;
			c->c_keepalive = 0;
			c->c_body_done = 1;
			gettimeofday(&c->c_start, NULL);
			px_conn_error(c, 400, "UNSUPPORTED",
			    "not an HTTP/1.1 request");
			return;
		}
		p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (p.pos < 0) {
			if (avail > PX_HTTP_HEAD_MAX) {
				c->c_state = PX_C_ACTIVE;
				c->c_keepalive = 0;
				c->c_body_done = 1;
				gettimeofday(&c->c_start, NULL);
				px_conn_error(c, 431, "SIZE_INVALID",
				    "request header too large");
			} else if (c->c_head_timer_idle)
				arm_head_timer(c, 0);
			return;
		}
		start_request(c, in, (size_t)p.pos + 4);
		return;
	case PX_C_ACTIVE:
		if (c->c_body_done)
			break;
		if (read_body(c, in) == -1)
			return;
		if (c->c_handler != NULL && c->c_handler->body != NULL &&
		    !c->c_body_hold)
			c->c_handler->body(c);
		return;
	default:
		break;
	}
	/* A pipelined request waits; bound what we hold for it. */
	if (evbuffer_get_length(in) > PX_HTTP_HEAD_MAX)
		bufferevent_disable(bev, EV_READ);
}

static void
conn_write(struct bufferevent *bev, void *arg)
{
	struct px_conn	*c = arg;

	if (c->c_state == PX_C_ACTIVE) {
		if (c->c_handler != NULL && c->c_handler->drained != NULL)
			c->c_handler->drained(c);
		return;
	}
	if (c->c_state != PX_C_FLUSH ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	/* The response is out. */
	log_access(c);
	if (!c->c_keepalive || !c->c_body_done) {
		px_conn_close(c, "response complete");
		return;
	}
	conn_next_request(c);
}

/* Reset per-request state for the next request on a kept-alive connection. */
static void
conn_next_request(struct px_conn *c)
{
	px_conn_set_handler(c, NULL);
	px_http_req_reset(&c->c_req);
	memset(&c->c_route, 0, sizeof(c->c_route));
	memset(&c->c_ck, 0, sizeof(c->c_ck));
	evbuffer_drain(c->c_body, evbuffer_get_length(c->c_body));
	if (c->c_head != NULL)	/* written at the end; empty */
		evbuffer_drain(c->c_head, evbuffer_get_length(c->c_head));
	c->c_state = PX_C_HEAD;
	c->c_body_done = 0;
	c->c_body_left = 0;
	c->c_read_paused = 0;
	c->c_body_hold = 0;
	c->c_direct = 0;
	event_del(c->c_ev_body);
	c->c_bytes_in = c->c_bytes_out = 0;
	c->c_resp_started = c->c_resp_done = c->c_resp_chunked = 0;
	c->c_resp_status = c->c_up_status = 0;
	c->c_error = NULL;
	c->c_logged = 0;
	bufferevent_setwatermark(c->c_bev, EV_WRITE, OUT_LOW(c), 0);
	/*
	 * Writing stays enabled (px_conn_resp_end); enabling it again would
	 * arm the write event with nothing to write: two epoll_ctl and a
	 * wakeup a request.
	 */
	bufferevent_enable(c->c_bev, EV_READ);
	if (c->c_srv->draining) {
		px_conn_close(c, "shutting down");
		return;
	}
	arm_head_timer(c, 1);
	if (evbuffer_get_length(bufferevent_get_input(c->c_bev)) > 0)
		conn_read(c->c_bev, c);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct px_conn	*c = arg;

	if (what & BEV_EVENT_TIMEOUT) {
		/*
		 * Nothing read for idle_timeout while the answer to a whole
		 * request is still coming or going out: the client has nothing
		 * to send, it waits or reads.  Not a stall: a pull longer than
		 * idle_timeout was cut here.  Writing has its own timeout
		 * (and a spliced body, c_ev_out), the upstream its own.
		 * libevent disabled reading; it was enabled, so again.
		 */
		if ((what & BEV_EVENT_READING) && c->c_body_done &&
		    (c->c_state == PX_C_ACTIVE || c->c_state == PX_C_FLUSH)) {
			bufferevent_enable(bev, EV_READ);
			return;
		}
		c->c_error = "client timeout";
		conn_close(c, "client read or write timeout", 1);
	} else if (what & BEV_EVENT_ERROR) {
		c->c_error = "client connection error";
		conn_close(c, "client connection error", 1);
	} else if (what & BEV_EVENT_EOF) {
		if (c->c_state == PX_C_ACTIVE)
			c->c_error = "client closed the connection";
		conn_close(c, "client closed the connection", 1);
	}
}

/* Connections open from one client address (a scan: accepts are rare
 * next to requests, and max_connections bounds it). */
static long
conns_from(struct px_server *srv, const char *addr)
{
	struct px_conn	*c;
	long		 n = 0;

	TAILQ_FOREACH(c, &srv->conns, c_entry)
		if (c->c_state != PX_C_CLOSING && strcmp(c->c_addr, addr) == 0)
			n++;
	return n;
}

uint64_t
px_server_refused_per_addr(const struct px_server *srv)
{
	return srv->refused_per_addr;
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct px_server	*srv = arg;
	struct bufferevent	*bev;
	struct px_conn		*c;
	struct timeval		 tv;
	char			 host[INET6_ADDRSTRLEN];
	int			 one = 1;

	(void)l;
	(void)salen;
	host[0] = '\0';
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, host,
		    sizeof(host));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
		    host, sizeof(host));
	if (srv->draining || srv->nconns >= srv->conf->max_connections) {
		px_warn("refusing connection from %s: %s", host,
		    srv->draining ? "shutting down" : "max_connections reached");
		evutil_closesocket(fd);
		return;
	}
	/* one address may not hold every connection */
	if (conns_from(srv, host) >= srv->conf->max_conns_per_addr) {
		srv->refused_per_addr++;
		if (srv->hooks->refused != NULL)
			srv->hooks->refused();
		px_warn("refusing connection from %s: "
		    "max_connections_per_address reached", host);
		evutil_closesocket(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->c_srv = srv;
	c->c_id = ++srv->next_id;
	c->c_conf = conf_ref(srv->conf);
	c->c_req.content_length = -1;
	snprintf(c->c_addr, sizeof(c->c_addr), "%s", host);
	c->c_local = px_peer_is_local(fd, sa);
	snprintf(c->c_peer, sizeof(c->c_peer), "%s:%u", host,
	    sa->sa_family == AF_INET ?
	    ntohs(((struct sockaddr_in *)sa)->sin_port) :
	    ntohs(((struct sockaddr_in6 *)sa)->sin6_port));
	TAILQ_INSERT_TAIL(&srv->conns, c, c_entry);
	srv->nconns++;
	conns_changed(srv);

	c->c_ev_close = event_new(srv->base, -1, 0, conn_free, c);
	c->c_ev_timer = evtimer_new(srv->base, conn_timer, c);
	c->c_ev_end = event_new(srv->base, -1, 0, conn_end, c);
	c->c_ev_body = event_new(srv->base, fd, EV_READ | EV_PERSIST,
	    body_read, c);
	c->c_body = evbuffer_new();
	bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (bev != NULL) {
		/* libevent 2.1 reads at most 4 KiB a time whatever this
		 * says (EVBUFFER_MAX_READ): bodies are read by body_read */
		bufferevent_set_max_single_read(bev, IO_CHUNK);
		bufferevent_set_max_single_write(bev, WRITE_CHUNK);
	}
	if (bev != NULL && srv->tls != NULL) {
		c->c_tls = 1;
		bev = px_tls_wrap(srv->tls, bev);
	} else if (bev == NULL)
		evutil_closesocket(fd);
	c->c_bev = bev;
	if (c->c_ev_close == NULL || c->c_ev_timer == NULL || c->c_ev_end ==
	    NULL || c->c_ev_body == NULL || c->c_body == NULL || bev == NULL) {
		px_error("conn %llu: out of memory", (unsigned long long)c->c_id);
		if (c->c_ev_close == NULL) {
			/* cannot defer: free what exists right here */
			if (bev != NULL)
				bufferevent_free(bev);
			if (c->c_ev_timer != NULL)
				event_free(c->c_ev_timer);
			if (c->c_ev_end != NULL)
				event_free(c->c_ev_end);
			if (c->c_ev_body != NULL)
				event_free(c->c_ev_body);
			if (c->c_body != NULL)
				evbuffer_free(c->c_body);
			conf_unref(c->c_conf);
			TAILQ_REMOVE(&srv->conns, c, c_entry);
			srv->nconns--;
			conns_changed(srv);
			free(c);
			return;
		}
		px_conn_close(c, "out of memory");
		return;
	}
	bufferevent_setcb(bev, conn_read, conn_write, conn_event, c);
	bufferevent_setwatermark(bev, EV_WRITE, OUT_LOW(c), 0);
	/* Stalled peers: no progress for idle_timeout closes the connection. */
	tv.tv_sec = srv->conf->idle_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	c->c_state = PX_C_HEAD;
	arm_head_timer(c, 0);
	px_debug("conn %llu: accepted from %s%s", (unsigned long long)c->c_id,
	    c->c_peer, c->c_tls ? " (TLS)" : "");
}

/* Signals, reload, drain */

/*
 * Exit once no connection is left and no recheck of a signature written
 * moments ago is running (px_sign_drain runs the waiting ones now); the
 * drain timeout bounds both.  Polled every 50 ms while draining.
 */
static void
server_maybe_exit(struct px_server *srv)
{
	struct timeval	tv = { 0, 50000 };
	int		busy;

	if (!srv->draining || srv->nconns > 0)
		return;
	busy = px_sign_drain();
	if (busy == 0) {
		px_info("drained, exiting");
		event_base_loopexit(srv->base, NULL);
		return;
	}
	if (!evtimer_pending(srv->ev_poll, NULL)) {
		px_info("draining: %d signature recheck(s) running", busy);
		evtimer_add(srv->ev_poll, &tv);
	}
}

static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	server_maybe_exit(arg);
}

static void
on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct px_server	*srv = arg;

	(void)fd;
	(void)what;
	px_warn("drain timeout: closing %d connections", srv->nconns);
	event_base_loopexit(srv->base, NULL);
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	struct px_server	*srv = arg;
	struct px_conn		*c, *tmp;
	struct timeval		 tv = { srv->conf->drain_timeout, 0 };
	int			 i;

	(void)what;
	if (srv->draining)
		return;
	px_info("signal %d: draining %d connections", (int)sig, srv->nconns);
	srv->draining = 1;
	for (i = 0; i < srv->nlst; i++) {
		evconnlistener_free(srv->lst[i]);
		srv->lst[i] = NULL;
	}
	srv->nlst = 0;
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = tmp) {
		tmp = TAILQ_NEXT(c, c_entry);
		if (c->c_state == PX_C_HEAD &&
		    evbuffer_get_length(bufferevent_get_input(c->c_bev)) == 0)
			px_conn_close(c, "shutting down");
		else
			c->c_keepalive = 0;
	}
	evtimer_add(srv->ev_drain, &tv);
	server_maybe_exit(srv);
}

static void	queue_more(void *);

static void
on_queue(evutil_socket_t fd, short what, void *arg)
{
	struct px_server	*srv = arg;

	(void)fd;
	(void)what;
	if (!srv->draining)
		px_sign_queue_run(srv->conf, srv->up, srv->base, queue_more,
		    srv);
}

/* A queued upload landed (called from its job's callbacks): the next one
 * starts from the loop, at once. */
static void
queue_more(void *arg)
{
	struct px_server	*srv = arg;

	if (srv->ev_queue_next != NULL)
		event_active(srv->ev_queue_next, EV_TIMEOUT, 1);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	px_server_reload(arg);
}

static int
same_listen(const struct conf *a, const struct conf *b)
{
	int	i;

	if (a->nlisten != b->nlisten)
		return 0;
	for (i = 0; i < a->nlisten; i++)
		if (strcmp(a->listen[i].host, b->listen[i].host) != 0 ||
		    strcmp(a->listen[i].port, b->listen[i].port) != 0)
			return 0;
	return 1;
}

void
px_server_reload(struct px_server *srv)
{
	struct px_tls	*tls = NULL;
	struct conf	*nc;
	char		 err[CONF_ERR_MAX];

	nc = conf_load(srv->conf->path, err, sizeof(err));
	if (nc == NULL) {
		px_error("reload failed, keeping the running configuration: %s",
		    err);
		return;
	}
	if ((nc->tls_cert == NULL) != (srv->tls == NULL)) {
		px_error("reload failed: switching TLS on or off needs a restart");
		conf_unref(nc);
		return;
	}
	if (nc->tls_cert != NULL) {
		tls = px_tls_new(nc->tls_cert, nc->tls_key, err, sizeof(err));
		if (tls == NULL) {
			px_error("reload failed, keeping the running "
			    "configuration: %s", err);
			conf_unref(nc);
			return;
		}
		px_tls_unref(srv->tls);
		srv->tls = tls;
	}
	if (!same_listen(srv->conf, nc))
		px_warn("reload: listen addresses change only on restart");
	conf_unref(srv->conf);
	srv->conf = nc;
	px_log_set_level(nc->log_level);
	px_info("configuration reloaded from %s", nc->path);
}

/*
 * accept(2) failed: out of descriptors (EMFILE, ENFILE) or kernel memory.
 * The pending connection stays in the backlog and the listener stays
 * readable, so the loop would spin on it: stop accepting for
 * ACCEPT_PAUSE_MS, then try again.  max_connections below the descriptor
 * limit (checked at start) keeps this from happening but for other
 * descriptors (upstream connections, files).
 */
#define ACCEPT_PAUSE_MS	100

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	struct px_server	*srv = arg;
	struct timeval		 tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	int			 err = EVUTIL_SOCKET_ERROR(), i;

	(void)l;
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return;		/* the connection's own trouble: go on */
	if (!srv->accept_paused)
		px_warn("accept: %s (%d connections open): not accepting for "
		    "%d ms", strerror(err), srv->nconns, ACCEPT_PAUSE_MS);
	srv->accept_paused = 1;
	for (i = 0; i < srv->nlst; i++)
		evconnlistener_disable(srv->lst[i]);
	evtimer_add(srv->ev_accept, &tv);
}

static void
on_accept_again(evutil_socket_t fd, short what, void *arg)
{
	struct px_server	*srv = arg;
	int			 i;

	(void)fd;
	(void)what;
	if (srv->draining)
		return;
	srv->accept_paused = 0;
	for (i = 0; i < srv->nlst; i++)
		evconnlistener_enable(srv->lst[i]);
}

/*
 * Descriptors: the soft limit raised to the hard one, and a warning when
 * max_connections does not fit under it with room for the upstream
 * connections and files signet opens besides.
 */
#define FD_RESERVE	(PX_UP_IDLE_MAX + 64)

static void
check_fd_limit(const struct conf *conf)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)conf->max_connections + FD_RESERVE > rl.rlim_cur)
		px_warn("limits.max_connections is %ld but the descriptor limit "
		    "is %llu: about %llu connections can be open (raise the "
		    "limit, e.g. LimitNOFILE=, or lower max_connections)",
		    conf->max_connections, (unsigned long long)rl.rlim_cur,
		    rl.rlim_cur > FD_RESERVE ? (unsigned long long)(rl.rlim_cur -
		    FD_RESERVE) : 0ULL);
}

static int
server_listen(struct px_server *srv, const struct conf_listen *l, char *err,
    size_t errlen)
{
	struct evutil_addrinfo	 hints, *res = NULL, *ai;
	struct evconnlistener	*lst;
	int			 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICSERV;
	rc = evutil_getaddrinfo(*l->host ? l->host : NULL, l->port, &hints,
	    &res);
	if (rc != 0) {
		snprintf(err, errlen, "listen %s:%s: %s", l->host, l->port,
		    evutil_gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		/* workers: each binds its own socket to the address and
		 * the kernel spreads connections over them */
		lst = evconnlistener_new_bind(srv->base, on_accept, srv,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
		    LEV_OPT_CLOSE_ON_EXEC | (srv->conf->workers > 1 ?
		    LEV_OPT_REUSEABLE_PORT : 0), 511, ai->ai_addr,
		    (int)ai->ai_addrlen);
		if (lst == NULL) {
			snprintf(err, errlen, "listen %s:%s: %s", l->host,
			    l->port, strerror(errno));
			evutil_freeaddrinfo(res);
			return -1;
		}
		if (srv->nlst == CONF_LISTEN_MAX) {
			evconnlistener_free(lst);
			break;
		}
		evconnlistener_set_error_cb(lst, on_accept_error);
		srv->lst[srv->nlst++] = lst;
		break;	/* the first address is the one asked for */
	}
	evutil_freeaddrinfo(res);
	return 0;
}

struct px_server *
px_server_new(struct event_base *base, struct conf *conf,
    const struct px_server_hooks *hooks, char *err,
    size_t errlen)
{
	struct px_server	*srv;
	int			 i;

	srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	TAILQ_INIT(&srv->conns);
	srv->base = base;
	srv->hooks = hooks;
	srv->conf = conf_ref(conf);
	srv->up = px_upstream_new(base);
	if (srv->up == NULL) {
		snprintf(err, errlen, "cannot initialise libcurl");
		goto fail;
	}
	if (conf->tls_cert != NULL) {
		srv->tls = px_tls_new(conf->tls_cert, conf->tls_key, err,
		    errlen);
		if (srv->tls == NULL)
			goto fail;
	}
	check_fd_limit(conf);
	srv->ev_accept = evtimer_new(base, on_accept_again, srv);
	if (srv->ev_accept == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (i = 0; i < conf->nlisten; i++)
		if (server_listen(srv, &conf->listen[i], err, errlen) == -1)
			goto fail;
	srv->ev_term = evsignal_new(base, SIGTERM, on_term, srv);
	srv->ev_int = evsignal_new(base, SIGINT, on_term, srv);
	srv->ev_hup = evsignal_new(base, SIGHUP, on_hup, srv);
	srv->ev_drain = evtimer_new(base, on_drain_timeout, srv);
	srv->ev_poll = evtimer_new(base, on_poll, srv);
	if (srv->ev_term == NULL || srv->ev_int == NULL || srv->ev_hup == NULL ||
	    srv->ev_drain == NULL || srv->ev_poll == NULL) {
		snprintf(err, errlen, "cannot set up signal handling");
		goto fail;
	}
	srv->ev_queue = event_new(base, -1, EV_PERSIST, on_queue, srv);
	if (srv->ev_queue != NULL) {
		struct timeval tv = { conf->rekor_retry, 0 };

		evtimer_add(srv->ev_queue, &tv);
	}
	srv->ev_queue_next = evtimer_new(base, on_queue, srv);
	/* what a previous run (stopped, or killed) had still to look at */
	px_sign_rechecks_resume(conf, srv->up, base);
	evsignal_add(srv->ev_term, NULL);
	evsignal_add(srv->ev_int, NULL);
	evsignal_add(srv->ev_hup, NULL);
	return srv;
fail:
	px_server_free(srv);
	return NULL;
}

void
px_server_free(struct px_server *srv)
{
	struct px_conn	*c;
	int		 i;

	if (srv == NULL)
		return;
	for (i = 0; i < srv->nlst; i++)
		evconnlistener_free(srv->lst[i]);
	/* Connections left after a drain timeout are freed right here. */
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL) {
		srv->draining = 0;	/* no loop exit from inside the free */
		conn_free(-1, 0, c);
	}
	if (srv->ev_term != NULL)
		event_free(srv->ev_term);
	if (srv->ev_int != NULL)
		event_free(srv->ev_int);
	if (srv->ev_hup != NULL)
		event_free(srv->ev_hup);
	if (srv->ev_drain != NULL)
		event_free(srv->ev_drain);
	if (srv->ev_queue != NULL)
		event_free(srv->ev_queue);
	if (srv->ev_queue_next != NULL)
		event_free(srv->ev_queue_next);
	if (srv->ev_poll != NULL)
		event_free(srv->ev_poll);
	if (srv->ev_accept != NULL)
		event_free(srv->ev_accept);
	px_sign_shutdown();	/* before the upstream its jobs use */
	px_upstream_free(srv->up);
	px_tls_unref(srv->tls);
	conf_unref(srv->conf);
	free(srv);
}

struct px_upstream *
px_server_upstream(struct px_server *srv)
{
	return srv->up;
}
