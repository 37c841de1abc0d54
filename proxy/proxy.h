/*
 * proxy/proxy.h: the network side of signet.  Sections follow the files
 * that implement them.  Anything not declared here is static to its file.
 */
#ifndef SIGNET_PROXY_H
#define SIGNET_PROXY_H

#include <sys/queue.h>
#include <sys/time.h>
#include <stdarg.h>
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
#include "http.h"

struct px_relay;
struct px_fetch;
struct px_sign;
struct px_verify;
struct px_tls;

/* log.c: one JSON object per line on stderr */

void	px_log_set_level(enum conf_log_level);
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
};

struct px_upstream *px_upstream_new(struct event_base *);
void	px_upstream_free(struct px_upstream *);
/*
 * Start x->easy.  When it finishes, the handle is removed from the multi
 * handle and x->done(result, x->arg) runs from the event loop; the owner may
 * then clean the easy handle up.  Returns -1 if curl refused the handle.
 */
int	px_upstream_start(struct px_upstream *, struct px_xfer *x);
/* Remove an unfinished transfer; done is not called.  Never call this from
 * inside a curl callback. */
void	px_upstream_cancel(struct px_upstream *, struct px_xfer *x);

/* fetch.c: small buffered exchanges with the upstream, for signet's own
 * requests */

struct px_fetch;
struct px_conn;
typedef void (*px_fetch_fn)(struct px_fetch *, void *arg);

/*
 * A request to target (a path, or an absolute URL on the upstream's own
 * origin) with the given Authorization (or NULL), body (copied) and
 * headers.  origin is the client's view of signet, for rewriting Location
 * in a response relayed with px_fetch_reply.  NULL on failure, including a
 * target on another origin.
 */
struct px_fetch *px_fetch_new(const struct conf *, const char *method,
	    const char *target, const char *authorization,
	    const char *content_type, const char *accept, const void *body,
	    size_t len, const char *origin);
/* Any URL: only for a token realm, which the registry itself names. */
/*
 * A configuration that only names a registry (url, and a CA file or NULL),
 * for the commands and for mirrors: requests made with it go there.
 */
struct conf	*px_registry_conf(const char *name, const char *url,
		    const char *ca, char *err, size_t errlen);
struct px_fetch *px_fetch_new_any(const struct conf *, const char *method,
	    const char *url, const char *authorization, const char *accept,
	    const void *body, size_t len);
/* The Content-Type of a request made with px_fetch_new_any. */
void	px_fetch_content(struct px_fetch *, const char *content_type);
/* The User-Agent to send (the client's); NULL: signet's own. */
void	px_fetch_user_agent(struct px_fetch *, const char *ua);
/* cb runs once, from the loop; free the fetch there or later. */
int	px_fetch_start(struct px_upstream *, struct px_fetch *, px_fetch_fn cb,
	    void *arg);
void	px_fetch_free(struct px_fetch *);
/* HTTP status, or 0 when no answer came (px_fetch_error says why) */
int	px_fetch_status(const struct px_fetch *);
const char *px_fetch_error(const struct px_fetch *);
const char *px_fetch_body(struct px_fetch *, size_t *len);
const char *px_fetch_location(const struct px_fetch *);
const char *px_fetch_digest(const struct px_fetch *);
const char *px_fetch_content_type(const struct px_fetch *);
const char *px_fetch_www_authenticate(const struct px_fetch *);
const char *px_fetch_link(const struct px_fetch *);

/*
 * sigcheck.c: the core verification driver run against a registry (the
 * signature repository of an endpoint, and its Rekor log).  Strings are
 * copied; conf is referenced; the verifier is borrowed and must outlive
 * the check.
 */
struct px_sigcheck;
struct px_sigcheck_req {
	struct conf		*conf;		/* endpoint, timeouts, rekor_url */
	struct px_upstream	*up;
	const char		*sigrepo;
	const char		*authorization;	/* sent to the registry only */
	const char		*user_agent;	/* NULL: signet's own */
	const char		*origin;	/* the client's view, or NULL */
	const char		*rekor_url;	/* NULL: conf's */
};
/* cb runs once, from the loop, when the verdict is in (read it from the
 * verifier); free the check there or later.  NULL: could not start. */
typedef void (*px_sigcheck_fn)(void *arg, struct core_verifier *);
struct px_sigcheck *px_sigcheck_start(const struct px_sigcheck_req *,
	    struct core_verifier *, px_sigcheck_fn cb, void *arg);
void	px_sigcheck_free(struct px_sigcheck *);

/*
 * cmdtrust.c: the trust a command verifies against, from its flags (--key,
 * --rekor-key, --rekor-url, --rekor-online, --ca-roots,
 * --certificate-identity[-regexp], --certificate-oidc-issuer[-regexp],
 * --threshold, --identity) or from --policy FILE (the repository's rule),
 * with the pull path's meaning.  Paths point into argv.
 */
struct px_cmd_trust {
	const char		*keypaths[CONF_KEYS_MAX];
	int			 nkeypaths;
	const char		*rekorpaths[CONF_KEYS_MAX];
	int			 nrekorpaths;
	const char		*roots, *ident, *ident_re, *issuer, *issuer_re;
	const char		*policy_path, *rekor_url;
	int			 threshold;	/* 0: 1 */
	int			 online;
	int			 identity;	/* -1 unset, 0 any, 1 repository */
	/* loaded */
	struct core_key		*keys[CONF_KEYS_MAX];
	int			 nkeys;
	struct core_key		*rekor[CONF_KEYS_MAX];
	int			 nrekor;
	struct core_keyless	 keyless;
	struct conf		*pconf;
	const struct conf_policy *policy;
};
#define PX_CMD_TRUST_INIT	{ .identity = -1 }
/* argv[*i] when it is a trust flag (its value consumed too): 1; 0 when it
 * is not one; -1 with err for a bad value. */
int	px_cmd_trust_arg(struct px_cmd_trust *, int argc, char **argv, int *i,
	    char *err, size_t errlen);
/* 1 when any signer (or --policy) was named. */
int	px_cmd_trust_given(const struct px_cmd_trust *);
/* Load the keys, roots or policy (the rule for repo); -1 with err. */
int	px_cmd_trust_load(struct px_cmd_trust *, const char *repo, char *err,
	    size_t errlen);
/* The driver's options; *ct and *o borrow from the trust, which must
 * outlive the verification.  want_ref: the docker-reference expected. */
void	px_cmd_trust_vopts(struct px_cmd_trust *, const char *want_ref,
	    struct core_trust *ct, struct core_vopts *o);
const char *px_cmd_trust_rekor_url(const struct px_cmd_trust *);
void	px_cmd_trust_free(struct px_cmd_trust *);

/* gc.c, copy.c, cmd_verify.c: commands */
int	px_cmd_gc(int argc, char **argv);
int	px_cmd_verify(int argc, char **argv);
int	px_cmd_copy(int argc, char **argv);
/* "Basic ..." for registry from docker's config.json or podman's auth.json */
char	*px_docker_auth(const char *registry);

/* auth.c: signet's own registry credentials (registry_auth) */

struct px_auth;
/*
 * header: "Bearer ..."/"Basic ...", or NULL with err NULL: no auth needed.
 * header and err live until the callback returns, whether or not it frees
 * the px_auth first: copy what is kept.
 */
typedef void (*px_auth_fn)(void *arg, const char *header, const char *err);
/*
 * An Authorization for pull and push on repo with registry_auth's
 * credentials.  A valid cached one is returned in *cached (and NULL);
 * otherwise the flow starts and cb runs once; NULL and no *cached means it
 * could not start.  Free the returned object after cb (or to cancel).
 */
struct px_auth *px_auth_get(struct conf *, struct px_upstream *,
	    const char *repo, px_auth_fn cb, void *arg, const char **cached);
/*
 * The same flow with given credentials ("Basic ...", or NULL for an
 * anonymous token) and space-separated scopes: the copy command.
 */
struct px_auth *px_auth_start(struct conf *, struct px_upstream *,
	    const char *basic, const char *scopes, px_auth_fn cb, void *arg,
	    const char **cached);
void	px_auth_free(struct px_auth *);
/* Forget every cached token (tests, reload). */
void	px_auth_flush(void);
/* 1 while the cached Authorization for these scopes is still good */
int	px_auth_fresh(const char *up_url, const char *scopes);
/* Send this response (status, filtered headers, body) to the client, with
 * one more header line when extra is not NULL. */
void	px_fetch_reply(struct px_fetch *, struct px_conn *, const char *extra);

/* tls.c: server-side TLS as a bufferevent filter over mbedTLS */

/* Load certificate chain and key; NULL with a message in err on failure. */
struct px_tls *px_tls_new(const char *cert, const char *key, char *err,
	    size_t errlen);
struct px_tls *px_tls_ref(struct px_tls *);
void	px_tls_unref(struct px_tls *);
/* Wrap a socket bufferevent; the result owns it (and a px_tls reference). */
struct bufferevent *px_tls_wrap(struct px_tls *, struct bufferevent *under);

/* server.c: listeners, connections, signals */

enum px_conn_state {
	PX_C_HEAD,	/* waiting for (the rest of) a request head */
	PX_C_ACTIVE,	/* request in progress: body and/or response */
	PX_C_FLUSH,	/* response complete, output draining */
	PX_C_CLOSING	/* closed; freed at the next loop turn */
};

struct px_server;

struct px_conn {
	TAILQ_ENTRY(px_conn)	 c_entry;
	struct px_server	*c_srv;
	struct conf		*c_conf;	/* reference for this request */
	uint64_t		 c_id;
	struct bufferevent	*c_bev;
	char			 c_peer[64];
	int			 c_tls;
	enum px_conn_state	 c_state;
	struct event		*c_ev_close;	/* deferred free */
	struct event		*c_ev_timer;	/* head / idle timeout */
	struct event		*c_ev_end;	/* deferred end of a response */
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
	uint64_t		 c_bytes_in;	/* request body bytes */

	/* the response */
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
	int			 c_signing;	/* a manifest PUT to sign */
	struct px_sign		*c_sign;	/* ... its signer, once read */
	struct px_verify	*c_verify;	/* a manifest pull being checked */
	struct px_fetch		*c_subject;	/* require_subject's HEAD */
};

struct px_server *px_server_new(struct event_base *, struct conf *,
	    char *err, size_t errlen);
void	px_server_free(struct px_server *);
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
/*
 * Send the status line and headers.  hdrs holds "Name: value\r\n" lines
 * (no framing headers); content_length < 0 means unknown.
 */
void	px_conn_resp_head(struct px_conn *, int status, struct evbuffer *hdrs,
	    int64_t content_length);
/* 1 when the client's pending output is over the high mark: pause. */
int	px_conn_output_full(struct px_conn *);
void	px_conn_resp_body(struct px_conn *, const void *, size_t);
void	px_conn_resp_end(struct px_conn *);
/* The relay took bytes from c_body: resume reading the client if paused. */
void	px_conn_body_drained(struct px_conn *);
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
/* Probe the upstream's /v2/ for /readyz. */
void	px_relay_probe(struct px_conn *);

/* sign.c: in-line signing of pushed manifests */

struct px_sign_stats {
	uint64_t	signed_;	/* signatures written */
	uint64_t	present;	/* already there under our key */
	uint64_t	failed;
	uint64_t	repaired;	/* re-appended after a concurrent writer */
	uint64_t	lost;		/* could not be repaired */
	uint64_t	rekor_failed;	/* best-effort uploads that failed */
};

/*
 * A signature written for one manifest, as cosign writes it, before the
 * tag exists: the manifest by digest, the payload and config blobs, the
 * list appended, read back (and repaired), then the tag.  It sees no
 * client connection: the push handler (push.c), `signet sign` and the
 * Rekor queue hand it the manifest and credentials and get the result.
 */
struct px_signer_req {
	struct conf		*conf;		/* referenced: key, rule, upstream */
	struct px_upstream	*up;
	struct event_base	*base;
	const char		*repo;
	const char		*tag;		/* pushed by tag, or NULL */
	const char		*content_type;	/* NULL: Docker schema 2 */
	const char		*manifest;	/* copied */
	size_t			 mlen;
	const char		*authorization;	/* the pusher's, or NULL */
	const char		*user_agent;
	const char		*origin;	/* the client's view, or NULL */
	uint64_t		 id;		/* for log lines */
	int			 command;	/* no recheck; a failure to get
						 * registry_auth is final */
};
struct px_signer_result {
	int		 ok;
	int		 status;		/* the HTTP answer */
	const char	*code;			/* OCI error code, when !ok */
	const char	*message;
	struct px_fetch	*answer;		/* the upstream's answer to relay,
						 * or NULL */
	int		 signing_failed;	/* refused because signing did */
};
/* Runs once; everything in the result lives until it returns.  It must
 * not free the signer (abandon it later, from the loop). */
typedef void (*px_signer_fn)(void *arg, const struct px_signer_result *);
struct px_sign *px_signer_start(const struct px_signer_req *,
	    px_signer_fn cb, void *arg);
/* The owner goes: no callback any more; a job still rechecking its
 * signature carries on alone and frees itself.  NULL is fine. */
void	px_signer_abandon(struct px_sign *);
/* Free the jobs still rechecking (at exit). */
void	px_sign_shutdown(void);
const char *px_sign_sigtag(const struct px_sign *);
/* Retry one queued best-effort Rekor upload, if any (timer, state_dir). */
void	px_sign_queue_run(struct conf *, struct px_upstream *,
	    struct event_base *);
const struct px_sign_stats *px_sign_stats(void);

/* push.c: a manifest PUT that a rule signs */

/* 1 when c's request is a manifest PUT that a policy wants signed. */
int	px_push_wanted(struct px_conn *);
/* Take the request over: its body is buffered (CORE_SIGMAN_MAX). */
void	px_push_start(struct px_conn *);
/* More of the manifest arrived, or all of it (c_body_done). */
void	px_push_body_ready(struct px_conn *);
void	px_push_free(struct px_conn *);

/* cascade.c: a manifest DELETE's signature objects follow it */
void	px_cascade_start(struct px_conn *);

/* verify.c: verification of pulled manifests */

struct px_verify_stats {
	uint64_t	allowed, denied, warned, indeterminate;
	uint64_t	cache_hits, cache_misses;
	uint64_t	blobs_denied;
};

/* 1 when c's request is a manifest GET/HEAD a policy wants verified. */
int	px_verify_wanted(struct px_conn *);
void	px_verify_start(struct px_conn *);
/* strict_blobs: 1 when a blob GET may go on (with *reason set in warn
 * mode); 0 when it is refused, with *reason. */
int	px_verify_blob_ok(struct px_conn *, const char **reason);
void	px_verify_free(struct px_conn *);
/* Forget every cached decision (tests, reload). */
void	px_verify_flush(void);
const struct px_verify_stats *px_verify_stats(void);
/* The verification latency histogram, Prometheus text, into buf. */
void	px_verify_histogram(char *buf, size_t len);

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
char	*px_rewrite_url(const char *value, const char *upstream,
	    const char *client_origin, int is_link);

#endif /* SIGNET_PROXY_H */
