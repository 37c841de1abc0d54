/*
 * proxy/io/io.h: the I/O layer under the registry client and the server:
 * the log, libcurl on the event loop, the TLS filter, the HTTP/1.1 request
 * parser and the header rewriting.  It knows nothing of registries,
 * signatures or client connections.  Sections follow the files.
 */
#ifndef SIGNET_IO_H
#define SIGNET_IO_H

#include <sys/queue.h>
#include <sys/time.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>
#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <event2/listener.h>

#include <mbedtls/platform_util.h>

#include "conf/conf.h"
#include "core/core.h"

/* http.c: the pure part of the HTTP/1.1 server, no sockets: request-head
 * parsing, the chunked-body decoder and hop-by-hop header rules */

/* Limits on what a client may send, checked as bytes arrive. */
#define PX_HTTP_HEAD_MAX	(64 * 1024)	/* request line + headers */
#define PX_UP_IDLE_MAX		256	/* idle upstream connections kept */
#define PX_UP_IDLE_SECONDS	30	/* ... each for at most this long */
#define PX_HTTP_HEADERS_MAX	100		/* header fields */
#define PX_HTTP_METHOD_MAX	16
#define PX_HTTP_CHUNK_LINE_MAX	256		/* chunk-size line */

struct px_http_header {
	char	*name;		/* points into px_http_req.head */
	char	*value;		/* trimmed, NUL-terminated */
};

struct px_http_req {
	char			*head;	/* owned copy of the head, NULs inserted */
	char			 method[PX_HTTP_METHOD_MAX + 1];
	char			*target;	/* origin-form: path[?query] */
	size_t			 pathlen;	/* bytes of target before '?' */
	int			 minor;		/* HTTP/1.<minor> */
	struct px_http_header	 hdr[PX_HTTP_HEADERS_MAX];
	int			 nhdr;
	int64_t			 content_length;	/* -1 when absent */
	int			 chunked;
	int			 keepalive;
	int			 expect_continue;
};

/*
 * Parse a complete request head: buf[0..len) ends with the blank line.
 * On success returns 0 and req owns a copy (free with px_http_req_reset).
 * On failure returns -1, sets *status (400, 414, 417, 431, 500, 501, 505) and
 * *errstr to a static message for the client.
 */
int	 px_http_parse_head(const char *buf, size_t len, struct px_http_req *req,
	    int *status, const char **errstr);
void	 px_http_req_reset(struct px_http_req *req);
/* First value of a header, case-insensitive name; NULL when absent.  It
 * points into req->head and lives until px_http_req_reset. */
const char *px_http_req_header(const struct px_http_req *req, const char *name);

/*
 * Every value of a header, joined with ", " as RFC 9110 allows for list
 * headers (clients send Accept several times).  -1 when absent or when it
 * does not fit in out.
 */
int	 px_http_req_header_join(const struct px_http_req *req,
	    const char *name, char *out, size_t len);
/* 1 when header i of req goes on to the upstream: not hop-by-hop, nor
 * named by the client's Connection header. */
int	 px_http_end_to_end(const struct px_http_req *req, int i);
/* 1 when the comma-separated list holds token tok, case-insensitive. */
int	 px_http_list_has(const char *list, const char *tok);
/* 1 when the header must not be forwarded by a proxy (RFC 9110 7.6.1). */
int	 px_http_hop_by_hop(const char *name, size_t len);

/* Incremental decoder for a chunked request body. */
enum px_chunked_state {
	PX_CK_SIZE,		/* reading the chunk-size line */
	PX_CK_DATA,		/* inside chunk data */
	PX_CK_DATA_CRLF,	/* the CRLF after chunk data */
	PX_CK_TRAILER,		/* trailer lines after the last chunk */
	PX_CK_DONE,
	PX_CK_ERROR
};

struct px_chunked {
	enum px_chunked_state	 state;
	uint64_t		 remaining;	/* bytes left in this chunk */
	size_t			 linelen;	/* bytes of the current line */
	uint64_t		 size;		/* size being parsed */
	int			 digits;
	int			 in_ext;	/* inside ";ext" of a size line */
	int			 cr;		/* saw CR, want LF */
	const char		*errstr;
};

/*
 * Feed in[0..len).  Returns how many bytes were consumed; when *datalen > 0,
 * in[*dataoff .. *dataoff + *datalen) is body data (always at the end of the
 * consumed range, so the caller can drain the framing bytes then move the
 * data).  Call again with the rest until it consumes 0 or state is DONE.
 * On a framing error state becomes PX_CK_ERROR with errstr set.
 */
size_t	 px_chunked_feed(struct px_chunked *c, const char *in, size_t len,
	    size_t *dataoff, size_t *datalen);

/*
 * A response head from an upstream, for the reads signet makes itself
 * (pull.c).  buf[0..len) ends with the blank line.  Returns 0 when it is
 * plain: HTTP/1.x, a status from 200 to 599, header lines "name: value"
 * without NUL, folding or Transfer-Encoding, and one Content-Length (or
 * a status without a body: 204, 304, content_length 0).  Returns -1 for
 * anything else, which the caller leaves to curl.  r owns a copy of the
 * head: free with px_http_resp_reset.
 */
struct px_http_resp {
	int		 status;
	int		 minor;
	int64_t		 content_length;
	int		 close;		/* Connection: close, or HTTP/1.0 */
	char		*head;
	char		*line[PX_HTTP_HEADERS_MAX];	/* "Name: value" */
	int		 nlines;
};
int	 px_http_parse_resp(const char *buf, size_t len,
	    struct px_http_resp *r);
void	 px_http_resp_reset(struct px_http_resp *r);

/* log.c: one JSON object per line on stderr */

void	px_log_set_level(enum conf_log_level);
/* Each line names worker i (i >= 0: one of several processes serving). */
void	px_log_set_worker(int i);
int	px_log_enabled(enum conf_log_level);
/* Log a JSON object's fields after "ts" and "level"; takes the reference. */
void	px_log_fields(enum conf_log_level, json_t *fields);
void	px_log(enum conf_log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
#define px_debug(...)	px_log(CONF_LOG_DEBUG, __VA_ARGS__)
#define px_info(...)	px_log(CONF_LOG_INFO, __VA_ARGS__)
#define px_warn(...)	px_log(CONF_LOG_WARN, __VA_ARGS__)
#define px_error(...)	px_log(CONF_LOG_ERROR, __VA_ARGS__)

/* upstream.c: libcurl multi driven by the libevent loop */

struct px_upstream;
typedef void (*px_upstream_done_fn)(CURLcode, void *arg);

/* Transfer bookkeeping; embed it in the owner of the easy handle. */
struct px_xfer {
	CURL			*easy;
	px_upstream_done_fn	 done;
	void			*arg;
	int			 active;	/* added to the multi handle */
	int			 connect_only;	/* CURLOPT_CONNECT_ONLY: ... */
	evutil_socket_t		 sock;	/* ... its socket, the owner's, when
					 * done (-1: none) */
};

struct px_upstream *px_upstream_new(struct event_base *);
void	px_upstream_free(struct px_upstream *);
/* The loop it runs on, borrowed. */
struct event_base *px_upstream_base(struct px_upstream *);
/*
 * Start x->easy.  When it finishes, the handle is removed from the multi
 * handle and x->done(result, x->arg) runs from the event loop; the owner may
 * then clean the easy handle up.  Returns -1 if curl refused the handle.
 */
int	px_upstream_start(struct px_upstream *, struct px_xfer *x);
/* Remove an unfinished transfer; done is not called.  Never call this from
 * inside a curl callback. */
void	px_upstream_cancel(struct px_upstream *, struct px_xfer *x);
/*
 * The options every transfer to an endpoint shares, set once here: no
 * signals, http and https only, the endpoint's CA (or no check when
 * insecure), its connect timeout, no content decoding.  A buffered exchange
 * must end within response_timeout; a stream (a blob piped between two
 * registries) fails when no byte moved for response_timeout; the relay
 * times the response head itself and then runs at the client's pace.
 */
enum px_xfer_kind { PX_XFER_BUFFERED, PX_XFER_STREAM, PX_XFER_RELAY };
void	px_xfer_setup(CURL *, const struct conf_endpoint *, enum px_xfer_kind);

/*
 * Connections for HTTP that signet speaks itself (pull.c).  curl resolves
 * and connects, and nothing more (CURLOPT_CONNECT_ONLY, no proxy), with the
 * endpoint's connect timeout; the socket is then the caller's alone.
 * px_upconn_open calls done(u, CURLE_OK, arg) from the loop once
 * px_upconn_fd(u) is connected, or done with the error (close u then too).
 * px_upconn_close closes it, at the next loop turn.  A connection whose
 * exchange ended cleanly goes back with px_upstream_keep; px_upstream_take
 * hands one for the same endpoint out again (NULL: none).  Kept ones are
 * closed after PX_UP_IDLE_SECONDS, or as soon as the peer closes them.
 *
 * The pool's watcher of a taken connection stays registered until the new
 * owner has added its own event on the socket and calls px_upconn_settle
 * (it does nothing while the connection is taken); and px_upstream_keep is
 * called before the owner frees its event.  One event on the socket at each
 * moment between, libevent changes nothing in epoll: handing a connection
 * over and back costs no epoll_ctl (four a request before).
 *
 * Nothing may wait to be read on a connection handed out again: bytes an
 * upstream sent beyond its answer's length would be read as the next
 * answer.  px_upstream_keep's drained says the owner's last read returned
 * less than it asked for, so the socket was empty after the answer's end
 * (the usual end of a HEAD or a small answer); otherwise px_upstream_take
 * looks (recv MSG_PEEK, one system call), as the pool's watcher may not have
 * run yet.
 */
struct px_upconn;
typedef void (*px_upconn_fn)(struct px_upconn *, CURLcode, void *arg);
struct px_upconn *px_upconn_open(struct px_upstream *,
	    const struct conf_endpoint *, px_upconn_fn done, void *arg);
evutil_socket_t px_upconn_fd(const struct px_upconn *);
void	px_upconn_close(struct px_upconn *);
struct px_upconn *px_upstream_take(struct px_upstream *,
	    const struct conf_endpoint *);
void	px_upstream_keep(struct px_upstream *, struct px_upconn *,
	    int drained);
void	px_upconn_settle(struct px_upconn *);

/* sock.c */

/*
 * Read at most max bytes of fd into the end of buf, in one readv: what
 * evbuffer_read would do but for its 4 KiB cap.  Returns what readv did:
 * bytes read, 0 at end of stream, -1 with errno (EAGAIN: nothing yet).
 */
ssize_t	px_read_into(struct evbuffer *, evutil_socket_t fd, size_t max);

/*
 * The same for a body's bytes, at most PX_BLOCK, read into a pooled block
 * that buf holds by reference until they are written out (a short read is
 * copied and the block kept).  px_read_blocks_free frees the pool at exit.
 */
#define PX_BLOCK	(1024 * 1024)
ssize_t	px_read_block(struct evbuffer *, evutil_socket_t fd, size_t max);
void	px_read_blocks_free(void);

/*
 * Whether the peer of the connected socket fd, at sa, is on this machine: a
 * loopback address, or the address fd was reached at.  Otherwise, or when
 * that cannot be told, 0.
 */
struct sockaddr;
int	px_peer_is_local(evutil_socket_t fd, const struct sockaddr *sa);

/*
 * splice.c: a body moved from one socket to another through a pipe by
 * splice(2), never through user space (Linux).  px_pipe_take gives an
 * empty pipe of PX_PIPE_SIZE, or NULL when none can be had (no splice,
 * PX_PIPES_MAX out already, no descriptor, the user's pipe pages used
 * up): the caller then copies.
 * px_pipe_fill moves up to max bytes from socket fd into the pipe (what
 * it holds bounds max); px_pipe_drain moves what the pipe holds to socket
 * fd until it is empty or the socket takes no more, and returns the bytes
 * moved (-1 with EAGAIN when none: wait for fd writable).  Both return -1
 * with errno on an error, and px_pipe_fill 0 at the end of the stream.
 * px_pipe_back keeps an empty pipe for the next transfer and closes one
 * with bytes left; px_pipes_free closes the kept ones at exit.  splice(2)
 * to a socket the peer closed raises SIGPIPE: the caller ignores it (as
 * signet serve does) and gets EPIPE.
 */
#define PX_PIPE_SIZE	(1024 * 1024)
#define PX_PIPES_MAX	64	/* out at once, per process */
struct px_pipe;
struct px_pipe *px_pipe_take(void);
void	px_pipe_back(struct px_pipe *);
size_t	px_pipe_held(const struct px_pipe *);
ssize_t	px_pipe_fill(struct px_pipe *, int fd, size_t max);
ssize_t	px_pipe_drain(struct px_pipe *, int fd);
void	px_pipes_free(void);

/* tls.c: server-side TLS as a bufferevent filter over mbedTLS */

struct px_tls;

/* Load certificate chain and key; NULL with a message in err on failure. */
struct px_tls *px_tls_new(const char *cert, const char *key, char *err,
	    size_t errlen);
struct px_tls *px_tls_ref(struct px_tls *);
void	px_tls_unref(struct px_tls *);
/* Wrap a socket bufferevent; the result owns it (and a px_tls reference). */
struct bufferevent *px_tls_wrap(struct px_tls *, struct bufferevent *under);

/* rewrite.c: upstream headers as a client of signet sees them */

/*
 * One upstream response header line (no CRLF) towards the client: framing
 * headers dropped (Content-Length goes to *clen), Location and Link
 * rewritten, the rest appended to out as "Name: value\r\n".  -1 for a
 * malformed line, which is dropped.
 */
int	px_header_filter(const char *line, struct evbuffer *out, int64_t *clen,
	    const char *upstream, const char *origin);

/*
 * Rewrite a Location or Link value that points at the upstream origin so it
 * points at the client origin.  Returns a malloc'ed string, or NULL when the
 * value is left as it is.
 */
/*
 * A header line (or value) with every control, non-ASCII or backslash byte
 * written as \xHH, so a value from a registry, a payload or a certificate
 * cannot add a header or end the head; cut to fit outlen.  The length
 * written.
 */
size_t	px_header_safe(char *out, size_t outlen, const char *in);
char	*px_rewrite_url(const char *value, const char *upstream,
	    const char *client_origin, int is_link);

#endif /* SIGNET_IO_H */
