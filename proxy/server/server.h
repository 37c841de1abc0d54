/*
 * proxy/server/server.h: the proxy: listeners, client connections, and the
 * handlers of requests (relay, signed push, verified pull, the delete
 * cascade).  Sections follow the files.
 */
#ifndef SIGNET_SERVER_H
#define SIGNET_SERVER_H

#include "proxy/client/client.h"

struct px_relay;
struct px_pull;
struct px_verify;

/* server.c: listeners, connections, signals */

enum px_conn_state {
	PX_C_HEAD,	/* waiting for (the rest of) a request head */
	PX_C_ACTIVE,	/* request in progress: body and/or response */
	PX_C_FLUSH,	/* response complete, output draining */
	PX_C_CLOSING	/* closed; freed at the next loop turn */
};

struct px_server;
struct px_conn;

/*
 * A request's handler: what the connection calls while the request is in
 * progress (dispatch.c picks it).  Its state hangs off the connection
 * (c_relay, c_sign, c_verify, c_subject, c_refs).  A handler is never freed inside
 * its own call: the end of a response is deferred to the loop.
 */
struct px_handler {
	const char	*name;		/* for debug logs */
	int		 wants_body;	/* read the request body for it */
	size_t		 body_max;	/* 0: the body streams, reading pauses
					 * at buffer_bytes; else it is buffered
					 * whole, 413 beyond body_max */
	/* more request body is in c_body, or it ended (c_body_done) */
	void		(*body)(struct px_conn *);
	/* the client's output drained below the low mark */
	void		(*drained)(struct px_conn *);
	/* the request or the connection ends: free the handler's state */
	void		(*free)(struct px_conn *);
};

struct px_conn {
	TAILQ_ENTRY(px_conn)	 c_entry;
	struct px_server	*c_srv;
	struct conf		*c_conf;	/* reference for this request */
	uint64_t		 c_id;
	struct bufferevent	*c_bev;
	char			 c_peer[64];	/* address:port */
	char			 c_addr[64];	/* address */
	int			 c_tls;
	int			 c_local;	/* the client is on this machine
						 * (loopback, or our own address) */
	enum px_conn_state	 c_state;
	struct event		*c_ev_close;	/* deferred free */
	struct event		*c_ev_timer;	/* head / idle timeout */
	struct event		*c_ev_end;	/* deferred end of a response */
	struct event		*c_ev_body;	/* a plain connection's request
						 * body, read here (server.c) */
	struct event		*c_ev_out;	/* spliced output waits for the
						 * socket (made when needed) */
	int			 c_direct;	/* the body is read by c_ev_body,
						 * not by the bufferevent */
	int			 c_head_timer_idle;	/* timer is the idle one */
	const char		*c_close_reason;

	/* the request */
	struct px_http_req	 c_req;
	struct core_route	 c_route;
	struct timeval		 c_start;
	int			 c_keepalive;
	int			 c_body_done;	/* request body fully read */
	int64_t			 c_body_left;	/* Content-Length framing */
	struct px_chunked	 c_ck;		/* chunked framing */
	struct evbuffer		*c_body;	/* client bytes not yet sent up */
	int			 c_read_paused;	/* backpressure on the client */
	int			 c_body_hold;	/* body not read until released */
	uint64_t		 c_bytes_in;	/* request body bytes */

	/* the response */
	struct evbuffer		*c_head;	/* its start, not yet queued:
						 * see px_conn_resp_head */
	int			 c_discard;	/* closing: read the client's
						 * rest first (conn_discard) */
	size_t			 c_discarded;
	int			 c_resp_started;
	int			 c_resp_done;
	int			 c_resp_chunked;
	int			 c_resp_status;
	int			 c_up_status;	/* 0: no upstream answer */
	uint64_t		 c_bytes_out;	/* response body bytes */
	const char		*c_error;	/* why it failed, for the log */
	char			 c_errbuf[256];	/* c_error's copy of a message */
	int			 c_logged;	/* access line written */

	struct px_relay		*c_relay;
	struct px_pull		*c_pull;	/* a blob GET read by signet */
	const struct px_handler	*c_handler;	/* the request's, or NULL */
	struct px_sign		*c_sign;	/* a pushed manifest's signer */
	struct px_fetch		*c_probe;	/* ... its right to push */
	char			*c_upload;	/* ... the session it opened */
	struct px_verify	*c_verify;	/* a manifest pull being checked */
	struct px_fetch		*c_subject;	/* require_subject's HEAD */
	struct px_fetch		*c_refs;	/* the referrers API's reads */
};

/*
 * What the server calls back into: the dispatcher, which picks a request's
 * handler (dispatch.c), and the accounting of a finished request (metrics.c).
 * Handed in by `signet serve`, so the connection depends on no handler.
 */
struct px_server_hooks {
	void	(*dispatch)(struct px_conn *);
	void	(*finished)(struct px_conn *);
	void	(*conns)(int nconns);	/* the number open changed */
	void	(*refused)(void);	/* max_connections_per_address */
};
/* The server takes a reference to conf; hooks are borrowed for its life;
 * NULL with err on failure. */
struct px_server *px_server_new(struct event_base *, struct conf *,
	    const struct px_server_hooks *, char *err, size_t errlen);
void	px_server_free(struct px_server *);
/* The server's libcurl driver, borrowed: it lives as long as the server. */
struct px_upstream *px_server_upstream(struct px_server *);
/* Reload the configuration from its file; on error keep the old one. */
void	px_server_reload(struct px_server *);

/*
 * The connection side of a request, for relay.c.  Each call is safe from
 * inside a curl callback: closing is deferred to the next loop turn.
 */
void	px_conn_close(struct px_conn *, const char *reason);
/* An OCI error response; closes the connection if the response already began. */
void	px_conn_error(struct px_conn *, int status, const char *code,
	    const char *msg);
/* The same with one more header line ("Retry-After: 1"), or NULL. */
void	px_conn_error_extra(struct px_conn *, int status, const char *code,
	    const char *msg, const char *extra);
/*
 * Send the status line and headers.  hdrs holds "Name: value\r\n" lines
 * (no framing headers); content_length < 0 means unknown.
 */
void	px_conn_resp_head(struct px_conn *, int status, struct evbuffer *hdrs,
	    int64_t content_length);
/* 1 when the client's pending output is over the high mark: pause. */
int	px_conn_output_full(struct px_conn *);
void	px_conn_resp_body(struct px_conn *, const void *, size_t);
/* Body bytes moved out of buf (it is left empty), none copied: written at
 * once when nothing is queued before them on a plain connection. */
void	px_conn_resp_move(struct px_conn *, struct evbuffer *buf);
void	px_conn_resp_end(struct px_conn *);
/*
 * Body bytes spliced from a pipe straight to the client's socket
 * (splice.c).  Only when px_conn_splice_ready: a plain connection, a
 * response framed by its length, nothing queued before the bytes (ready
 * writes the head that waits first, and says 0 while any of it is still
 * queued).  px_conn_splice returns what the pipe still holds: 0 when all
 * is out; more when the socket took no more, and the handler's drained
 * callback runs once it is writable (or the connection closes after
 * idle_timeout without progress); -1 when the connection failed and is
 * closing.
 */
int	px_conn_splice_ready(struct px_conn *);
ssize_t	px_conn_splice(struct px_conn *, struct px_pipe *);
/*
 * Read none of the request body until px_conn_body_release (the handler
 * checks something first, and a client it turns away costs nothing more);
 * release reads what has come and calls the handler's body callback.
 */
void	px_conn_body_hold(struct px_conn *);
void	px_conn_body_release(struct px_conn *);
/* A handler that took a request over mid-way (the subject check hands a
 * push to the signer): read on under its rules and feed it. */
void	px_conn_body_resume(struct px_conn *);
/* The relay took bytes from c_body: resume reading the client if paused. */
void	px_conn_body_drained(struct px_conn *);
/* Hand the request to h (NULL: none), freeing the previous handler's
 * state. */
void	px_conn_set_handler(struct px_conn *, const struct px_handler *h);
/* A short text/plain answer. */
void	px_conn_reply_text(struct px_conn *, int status, const char *text);
int	px_server_nconns(const struct px_server *);
/* Connections refused by max_connections_per_address. */
uint64_t px_server_refused_per_addr(const struct px_server *);
/* Send a buffered upstream answer (status, filtered headers, body) to the
 * client, with one more header line when extra is not NULL. */
void	px_conn_reply_fetch(struct px_conn *, struct px_fetch *,
	    const char *extra);
/* The scheme and authority the client used, e.g. "https://proxy:5000". */
void	px_conn_origin(struct px_conn *, char *buf, size_t len);

/* relay.c: one request forwarded upstream with libcurl */

/* Start forwarding c's request; errors are answered to the client. */
void	px_relay_start(struct px_conn *);
/* More request body is in c_body, or it ended. */
void	px_relay_body_ready(struct px_conn *);
/* The client's output drained below the low mark. */
void	px_relay_output_drained(struct px_conn *);
/* Stop and free the relay of c, if any. */
void	px_relay_free(struct px_conn *);
extern const struct px_handler px_relay_handler;
/* Probe the upstream's /v2/ for /readyz. */
void	px_relay_probe(struct px_conn *);

/* pull.c: a blob GET from a plain-HTTP upstream, read by signet itself */

/* 1 when c's request is one pull.c serves (else the relay does). */
int	px_pull_wanted(struct px_conn *);
/* Start it; what it turns out not to handle it hands to the relay before
 * answering anything. */
void	px_pull_start(struct px_conn *);
extern const struct px_handler px_pull_handler;

/* push.c: a manifest PUT that a rule signs */

/* 1 when c's request is a manifest PUT that a policy wants signed. */
int	px_push_wanted(struct px_conn *);
/* The client's right to push is checked first (an upload session opened
 * with its credentials); its body is read only then. */
void	px_push_start(struct px_conn *);
extern const struct px_handler px_push_handler;

/* subject.c: require_subject */

/* 1 when c pushes a signature object whose rule requires its subject. */
int	px_subject_wanted(struct px_conn *);
void	px_subject_start(struct px_conn *);
extern const struct px_handler px_subject_handler;

/* referrers.c: the referrers API, answered from the tag schema where the
 * upstream has none */

int	px_referrers_wanted(struct px_conn *);
void	px_referrers_start(struct px_conn *);
extern const struct px_handler px_referrers_handler;

/* metrics.c: /metrics */

/*
 * With several workers every counter lives in shared memory, one slot per
 * worker written only by its owner, and /metrics sums the slots: any worker
 * answers for all.  px_metrics_share maps the slots (the master, before
 * forking; -1 with err); px_metrics_attach points this process's counters
 * at slot i and zeroes its gauges (a restarted worker's predecessor is
 * gone; its counts stay).  Without them a process counts for itself.
 */
int	px_metrics_share(int nworkers, char *err, size_t errlen);
void	px_metrics_attach(int i);
/* Count a finished request (method, status class, upstream error). */
void	px_metrics_count(struct px_conn *);
/* The connection gauge and the per-address refusals, from server.c. */
void	px_metrics_conns(int nconns);
void	px_metrics_refused(void);
/* Body bytes a pull read from the upstream, spliced or copied (pull.c). */
void	px_metrics_pulled(int spliced, uint64_t n);
void	px_metrics_reply(struct px_conn *);

/* dispatch.c: route -> handler, the only file that knows them all */

/* Pick c's handler and start it (or answer at once). */
void	px_dispatch(struct px_conn *);

/* cascade.c: a manifest DELETE's signature objects follow it */
void	px_cascade_start(struct px_conn *);
/* What the cascades did with the objects they looked at. */
struct px_cascade_stats {
	uint64_t	deleted, trimmed, kept, failed;
};
const struct px_cascade_stats *px_cascade_stats(void);
void	px_cascade_stats_at(struct px_cascade_stats *at);	/* as above */

/* verify.c: verification of pulled manifests */

#define PX_VERIFY_BUCKETS	11	/* the latency histogram's */

struct px_verify_stats {
	uint64_t	allowed, denied, warned, indeterminate;
	uint64_t	cache_hits, cache_misses;
	uint64_t	blobs_denied;
	uint64_t	index_walks;	/* an index's children allowed anew */
	uint64_t	sig_objects;	/* allowed by content (cold pulls) */
	uint64_t	log_forks;	/* a transparency log's history forked */
	uint64_t	upstream_requests;	/* by cold verifications */
	int		upstream_requests_max;	/* by one of them */
	uint64_t	queued;		/* waited for a verification slot */
	uint64_t	busy;		/* refused: the queue was full (503) */
	long		active, waiting;	/* now */
	/* latency of cold verifications, ms: bucket counts, sum */
	uint64_t	hist[PX_VERIFY_BUCKETS + 1];
	double		hist_sum;
};

/* 1 when c's request is a manifest GET/HEAD a policy wants verified. */
int	px_verify_wanted(struct px_conn *);
void	px_verify_start(struct px_conn *);
/* strict_blobs: 1 when a blob GET may go on (with *reason set in warn
 * mode); 0 when it is refused, with *reason. */
int	px_verify_blob_ok(struct px_conn *, const char **reason);
void	px_verify_free(struct px_conn *);
extern const struct px_handler px_verify_handler;
/* Forget every cached decision (tests, reload). */
void	px_verify_flush(void);
const struct px_verify_stats *px_verify_stats(void);
/* Count in *at from now on (NULL: a private copy); at outlives the
 * process's use of it. */
void	px_verify_stats_at(struct px_verify_stats *at);
/* Several workers: the allowances of strict_blobs and of verified indexes
 * in a mapping all share (made before the fork); -1 with err. */
int	px_verify_share(char *err, size_t errlen);
/* vs's latency histogram, Prometheus text, into buf. */
void	px_verify_histogram(const struct px_verify_stats *vs, char *buf,
	    size_t len);

#endif /* SIGNET_SERVER_H */
