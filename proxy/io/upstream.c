/*
 * proxy/io/upstream.c: libcurl's multi interface on the libevent loop, after
 * the pattern of curl's hiperfifo example: one event per curl socket, one
 * timer, curl_multi_socket_action from both, then finished transfers are
 * collected with curl_multi_info_read.
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define RELAY_BUFFER	(512L * 1024)	/* curl's receive and upload buffers:
					 * its maximum, per relayed transfer
					 * (a 64 KiB upload buffer pushed no
					 * faster for 27% more CPU:
					 * tests/bench/push_ab.sh) */

struct px_upstream {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	int			 running;
	TAILQ_HEAD(up_idle_head, px_upconn) idle;	/* kept, newest first */
	int			 nidle;
};

/* Per-socket state, attached to curl's socket with curl_multi_assign. */
struct up_sock {
	struct event		*ev;
	int			 what;
};

/*
 * A connect-only transfer's socket, made the caller's: a duplicate, taken
 * while the handle is still in the multi (removing it closes curl's).
 */
static evutil_socket_t
take_socket(CURL *e, CURLcode rc)
{
	curl_socket_t	fd = CURL_SOCKET_BAD;

	if (rc != CURLE_OK || curl_easy_getinfo(e, CURLINFO_ACTIVESOCKET,
	    &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
		return -1;
	return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

static void
check_done(struct px_upstream *up)
{
	struct px_xfer	*x;
	CURLMsg		*m;
	int		 left;

	while ((m = curl_multi_info_read(up->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x != NULL && x->connect_only)
			x->sock = take_socket(m->easy_handle, m->data.result);
		curl_multi_remove_handle(up->multi, m->easy_handle);
		if (x == NULL)
			continue;
		x->active = 0;
		x->done(m->data.result, x->arg);
	}
}

static void
on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct px_upstream	*up = arg;
	int			 flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(up->multi, fd, flags, &up->running);
	check_done(up);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct px_upstream	*up = arg;

	(void)fd;
	(void)what;
	curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0,
	    &up->running);
	check_done(up);
}

/* CURLMOPT_TIMERFUNCTION: never call curl from here, only arm the timer. */
static int
timer_cb(CURLM *multi, long ms, void *arg)
{
	struct px_upstream	*up = arg;
	struct timeval		 tv;

	(void)multi;
	if (ms < 0) {
		evtimer_del(up->timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(up->timer, &tv);
	return 0;
}

static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct px_upstream	*up = arg;
	struct up_sock		*us = sockp;
	short			 kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (us != NULL) {
			event_free(us->ev);
			free(us);
			curl_multi_assign(up->multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (us == NULL) {
		us = calloc(1, sizeof(*us));
		if (us == NULL)
			return -1;
		us->ev = event_new(up->base, s, kind, on_socket_event, up);
		if (us->ev == NULL) {
			free(us);
			return -1;
		}
		curl_multi_assign(up->multi, s, us);
	} else {
		if (us->what == what)
			return 0;
		/* same event, new interest: no allocation */
		event_del(us->ev);
		event_assign(us->ev, up->base, s, kind, on_socket_event, up);
	}
	us->what = what;
	event_add(us->ev, NULL);
	return 0;
}

/*
 * Connections for HTTP that signet speaks itself (pull.c).  curl resolves
 * and connects (CURLOPT_CONNECT_ONLY) on the shared multi handle, and the
 * socket is then taken with dup(2) before the handle is removed, which
 * closes curl's own descriptor: the connection is signet's alone.  Left in
 * curl's cache, it would be closed by curl's sweep of dead connections,
 * which takes a readable idle socket for a dead one, while pull.c reads it.
 */
struct px_upconn {
	TAILQ_ENTRY(px_upconn)	 entry;		/* in a pool */
	struct px_upstream	*up;
	struct px_upstream	*pool;		/* kept in, or NULL */
	struct px_xfer		 x;		/* while connecting */
	evutil_socket_t		 fd;		/* ours, once connected */
	struct event		*ev;	/* kept: the peer closed it, or it
					 * idled out */
	struct event		*ev_close;	/* the deferred free */
	char			*url;	/* the endpoint it was made for */
	int			 drained;	/* kept with nothing to read */
	px_upconn_fn		 done;
	void			*arg;
};

static void
upconn_free(evutil_socket_t fd, short what, void *arg)
{
	struct px_upconn	*u = arg;

	(void)fd;
	(void)what;
	if (u->ev != NULL)
		event_free(u->ev);
	if (u->ev_close != NULL)
		event_free(u->ev_close);
	if (u->x.easy != NULL) {
		px_upstream_cancel(u->up, &u->x);
		curl_easy_cleanup(u->x.easy);
	}
	if (u->fd != -1)
		evutil_closesocket(u->fd);
	free(u->url);
	free(u);
}

void
px_upconn_close(struct px_upconn *u)
{
	if (u == NULL)
		return;
	u->done = NULL;		/* whatever curl still reports */
	if (u->ev != NULL) {
		event_free(u->ev);
		u->ev = NULL;
	}
	/* from the loop: this may run inside the multi's own callbacks */
	event_active(u->ev_close, EV_TIMEOUT, 0);
}

static void
upconn_connected(CURLcode rc, void *arg)
{
	struct px_upconn	*u = arg;

	/* check_done took the socket (x.sock) and removed the handle */
	curl_easy_cleanup(u->x.easy);
	u->x.easy = NULL;
	u->fd = u->x.sock;
	if (rc == CURLE_OK && u->fd == -1)
		rc = CURLE_COULDNT_CONNECT;
	if (u->done != NULL)
		u->done(u, rc, u->arg);
}

struct px_upconn *
px_upconn_open(struct px_upstream *up, const struct conf_endpoint *ep,
    px_upconn_fn done, void *arg)
{
	struct px_upconn	*u;
	CURL			*e;

	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	u->up = up;
	u->fd = -1;
	u->x.sock = -1;
	u->done = done;
	u->arg = arg;
	u->url = strdup(ep->url);
	u->ev_close = event_new(up->base, -1, 0, upconn_free, u);
	u->x.easy = e = curl_easy_init();
	u->x.done = upconn_connected;
	u->x.arg = u;
	u->x.connect_only = 1;
	if (u->url == NULL || u->ev_close == NULL || e == NULL) {
		upconn_free(-1, 0, u);
		return NULL;
	}
	/* buffered: no relay-sized buffers for a handle that moves nothing */
	px_xfer_setup(e, ep, PX_XFER_BUFFERED);
	curl_easy_setopt(e, CURLOPT_URL, ep->url);
	curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
	/* a direct connection: the caller speaks HTTP on the socket */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	if (px_upstream_start(up, &u->x) == -1) {
		upconn_free(-1, 0, u);
		return NULL;
	}
	return u;
}

evutil_socket_t
px_upconn_fd(const struct px_upconn *u)
{
	return u->fd;
}

/* A kept connection became readable (the peer closed it, or sent what
 * nothing asked for) or idled out: either way it is done. */
static void
on_kept_event(evutil_socket_t fd, short what, void *arg)
{
	struct px_upconn	*u = arg;

	(void)fd;
	(void)what;
	if (u->pool == NULL)
		return;		/* taken, its new owner reads it now */
	TAILQ_REMOVE(&u->pool->idle, u, entry);
	u->pool->nidle--;
	u->pool = NULL;
	px_upconn_close(u);
}

/* Whether fd has bytes to read, its end, or an error: anything but EAGAIN */
static int
readable(evutil_socket_t fd)
{
	char	b;

	return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 ||
	    (errno != EAGAIN && errno != EWOULDBLOCK);
}

struct px_upconn *
px_upstream_take(struct px_upstream *up, const struct conf_endpoint *ep)
{
	struct px_upconn	*u, *next;

	for (u = TAILQ_FIRST(&up->idle); u != NULL; u = next) {
		next = TAILQ_NEXT(u, entry);
		if (strcmp(u->url, ep->url) != 0)
			continue;
		TAILQ_REMOVE(&up->idle, u, entry);
		up->nidle--;
		u->pool = NULL;
		/*
		 * Nothing may wait to be read (io.h): bytes beyond the last
		 * answer would be read as the next answer, to another
		 * client's request; an end of stream means it closed.  The
		 * watcher may not have run yet (kept within this loop turn).
		 */
		if (!u->drained && readable(u->fd)) {
			px_upconn_close(u);
			continue;
		}
		/* its watcher stays until px_upconn_settle: see io.h */
		return u;
	}
	return NULL;
}

void
px_upstream_keep(struct px_upstream *up, struct px_upconn *u, int drained)
{
	struct timeval		 tv = { PX_UP_IDLE_SECONDS, 0 };
	struct px_upconn	*old;

	if (up->nidle >= PX_UP_IDLE_MAX) {
		old = TAILQ_LAST(&up->idle, up_idle_head);
		TAILQ_REMOVE(&up->idle, old, entry);
		up->nidle--;
		old->pool = NULL;
		px_upconn_close(old);
	}
	u->ev = event_new(up->base, u->fd, EV_READ, on_kept_event, u);
	if (u->ev == NULL || event_add(u->ev, &tv) == -1) {
		px_upconn_close(u);
		return;
	}
	u->pool = up;
	u->drained = drained;
	TAILQ_INSERT_HEAD(&up->idle, u, entry);
	up->nidle++;
}

void
px_upconn_settle(struct px_upconn *u)
{
	if (u->ev != NULL) {
		event_free(u->ev);
		u->ev = NULL;
	}
}

struct px_upstream *
px_upstream_new(struct event_base *base)
{
	struct px_upstream	*up;

	up = calloc(1, sizeof(*up));
	if (up == NULL)
		return NULL;
	up->base = base;
	TAILQ_INIT(&up->idle);
	up->multi = curl_multi_init();
	up->timer = evtimer_new(base, on_timer, up);
	if (up->multi == NULL || up->timer == NULL) {
		px_upstream_free(up);
		return NULL;
	}
	curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
	curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
	/*
	 * Keep upstream connections for reuse: the default cache follows the
	 * number of easy handles, and ours live one request each, so it would
	 * keep closing and reopening connections under load.
	 */
	curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, (long)PX_UP_IDLE_MAX);
	return up;
}

void
px_upstream_free(struct px_upstream *up)
{
	struct px_upconn	*u;

	if (up == NULL)
		return;
	while (!TAILQ_EMPTY(&up->idle)) {
		u = TAILQ_FIRST(&up->idle);
		TAILQ_REMOVE(&up->idle, u, entry);
		upconn_free(-1, 0, u);	/* the loop is ending: now */
	}
	if (up->multi != NULL)
		curl_multi_cleanup(up->multi);
	if (up->timer != NULL)
		event_free(up->timer);
	free(up);
}

struct event_base *
px_upstream_base(struct px_upstream *up)
{
	return up->base;
}

int
px_upstream_start(struct px_upstream *up, struct px_xfer *x)
{
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	if (curl_multi_add_handle(up->multi, x->easy) != CURLM_OK)
		return -1;
	x->active = 1;
	return 0;
}

void
px_upstream_cancel(struct px_upstream *up, struct px_xfer *x)
{
	if (!x->active)
		return;
	curl_multi_remove_handle(up->multi, x->easy);
	x->active = 0;
}

void
px_xfer_setup(CURL *e, const struct conf_endpoint *ep, enum px_xfer_kind kind)
{
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, ep->connect_timeout);
	/* bytes pass through as they are: no content decoding */
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (ep->ca != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, ep->ca);
	if (ep->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	switch (kind) {
	case PX_XFER_BUFFERED:
		curl_easy_setopt(e, CURLOPT_TIMEOUT, ep->response_timeout);
		break;
	case PX_XFER_STREAM:
		/* a registry that moves no byte for that long has stalled */
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
		    ep->response_timeout);
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 65536L);
		curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 65536L);
		break;
	case PX_XFER_RELAY:
		/* the relay times the response head itself; the body runs at
		 * the client's pace.  Large reads and sends: each costs a
		 * system call and a pass of the event loop */
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, RELAY_BUFFER);
		curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, RELAY_BUFFER);
		break;
	}
}
