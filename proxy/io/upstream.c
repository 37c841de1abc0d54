/*
 * proxy/io/upstream.c: libcurl's multi interface on the libevent loop, after
 * the pattern of curl's hiperfifo example: one event per curl socket, one
 * timer, curl_multi_socket_action from both, then finished transfers are
 * collected with curl_multi_info_read.
 */
#include <stdlib.h>

#include "io.h"

#define RELAY_BUFFER	(512L * 1024)	/* curl's receive and upload buffers:
					 * its maximum, per relayed transfer */

struct px_upstream {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	int			 running;
};

/* Per-socket state, attached to curl's socket with curl_multi_assign. */
struct up_sock {
	struct event		*ev;
	int			 what;
};

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

struct px_upstream *
px_upstream_new(struct event_base *base)
{
	struct px_upstream	*up;

	up = calloc(1, sizeof(*up));
	if (up == NULL)
		return NULL;
	up->base = base;
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
	if (up == NULL)
		return;
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
