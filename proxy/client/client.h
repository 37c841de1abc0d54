/*
 * proxy/client/client.h: the registry client.  It talks to registries and
 * logs for signet (signature lists, payloads, tokens, the signer) and never
 * sees a client connection.  Sections follow the files.
 */
#ifndef SIGNET_CLIENT_H
#define SIGNET_CLIENT_H

#include "proxy/io/io.h"

struct px_sign;

/* fetch.c: small buffered exchanges with a registry (an endpoint), for
 * signet's own requests */

struct px_fetch;
typedef void (*px_fetch_fn)(struct px_fetch *, void *arg);

/* A request of signet's own; strings and the body are copied. */
struct px_request {
	const char	*method;
	const char	*target;	/* a path, or an absolute URL on the
					 * endpoint's own origin (credentials
					 * never go elsewhere) */
	const char	*url;		/* or any URL: only a token realm or a
					 * log, which signet's configuration or
					 * the registry itself names */
	const char	*authorization;	/* or NULL */
	const char	*content_type;
	const char	*accept;	/* NULL: any */
	const char	*user_agent;	/* the client's; NULL: signet's */
	const char	*origin;	/* the client's view of signet, for an
					 * answer relayed with
					 * px_conn_reply_fetch */
	const void	*body;
	size_t		 len;
	size_t		 max_len;	/* response body bound, as it arrives;
					 * 0: 4 MiB + 64 KiB */
	int		 follow;	/* follow redirects (a blob read: S3,
					 * GCS); libcurl sends the
					 * Authorization to the registry's
					 * host only */
};
/*
 * Make and start a request to the endpoint (its timeouts and CA); cb runs
 * once, from the loop, and may free the fetch.  NULL when it could not
 * start, with "cannot start METHOD TARGET: why" in err.
 */
struct px_fetch *px_fetch_send(struct px_upstream *,
	    const struct conf_endpoint *, const struct px_request *,
	    px_fetch_fn cb, void *arg, char *err, size_t errlen);
void	px_fetch_free(struct px_fetch *);
/*
 * The answer.  Every pointer returned below is owned by the fetch and
 * lives until px_fetch_free; copy what outlives it.
 */
/* HTTP status, or 0 when no answer came (px_fetch_error says why) */
int	px_fetch_status(const struct px_fetch *);
/* The same for a read from the endpoint ep, where a registry configured
 * with forbidden_means_absent says 403 for "not there": 404 then. */
int	px_fetch_read_status(const struct px_fetch *,
	    const struct conf_endpoint *ep);
const char *px_fetch_error(const struct px_fetch *);
/*
 * What went wrong, in words, for logs and clients: the transfer's error,
 * or "HTTP <status> <the registry's error code and message, or the first
 * line of a non-JSON body>", with the rate limit a 429 names.  Only
 * printable ASCII; lives until the next call or px_fetch_free.  A 429 was
 * waited for and tried again first, within a bounded budget (fetch.c).
 */
const char *px_fetch_reason(struct px_fetch *);
/* 1 when the answer's errors[] (the distribution error body) has code. */
int	px_fetch_error_is(struct px_fetch *, const char *code);
/* 1 when a manifest PUT was refused because the tag is immutable (ECR's
 * TAG_INVALID, Harbor's 412, Nexus' "does not allow updating", ...). */
int	px_fetch_immutable(struct px_fetch *);
/* The body, contiguous, NUL-terminated or not: use *len. */
const char *px_fetch_body(struct px_fetch *, size_t *len);
/* Raw header values, or NULL when absent ("" for digest and type). */
const char *px_fetch_location(const struct px_fetch *);
const char *px_fetch_digest(const struct px_fetch *);
const char *px_fetch_content_type(const struct px_fetch *);
const char *px_fetch_www_authenticate(const struct px_fetch *);
const char *px_fetch_link(const struct px_fetch *);
/* The response headers filtered for a client of signet (framing dropped,
 * Location and Link rewritten to the origin given), and Content-Length
 * (-1 when absent); they live as long as the fetch. */
struct evbuffer *px_fetch_headers(struct px_fetch *);
/* Replace the Content-Type of those headers (and px_fetch_content_type). */
int	px_fetch_set_content_type(struct px_fetch *, const char *);
int64_t	px_fetch_content_length(const struct px_fetch *);

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
 * credentials.  A valid cached one is returned in *cached (and NULL): it
 * is the cache's, valid until the next call into this file, so copy it;
 * otherwise the flow starts and cb runs once; NULL and no *cached means it
 * could not start.  Free the returned object after cb (or to cancel).
 */
struct px_auth *px_auth_get(struct conf *, struct px_upstream *,
	    const char *repo, px_auth_fn cb, void *arg, const char **cached);
/*
 * The same flow with given credentials ("Basic ...", or NULL for an
 * anonymous token) and space-separated scopes: the copy command.
 */
struct px_auth *px_auth_start(const struct conf_endpoint *,
	    struct px_upstream *, const char *basic, const char *scopes,
	    px_auth_fn cb, void *arg, const char **cached);
void	px_auth_free(struct px_auth *);
/* Wipe a secret string (a header, a password) and free it; NULL is fine. */
void	px_wipe_free(char *);
/* Forget every cached token (tests, reload). */
void	px_auth_flush(void);
/* 1 while the cached Authorization for these scopes is still good */
int	px_auth_fresh(const char *url, const char *scopes);

/*
 * A command's session with a registry (auth.c): the endpoint and the
 * credentials given (both owned: set them, px_session_clear frees them),
 * and the Authorization to send (ss_auth: the credentials, or the token the
 * flow got for the scopes of the last login).
 */
typedef void (*px_session_fn)(void *arg, const char *err);
struct px_session {
	struct conf_endpoint	*ss_ep;
	char			*ss_basic;	/* "Basic ...", or NULL */
	char			*ss_identity;	/* docker's identitytoken (an
						 * OAuth2 refresh token, ACR),
						 * or NULL; wins over ss_basic
						 * for a token */
	char			*ss_auth;	/* what is sent, or NULL */
	int			 ss_bearer;	/* ss_auth is a token */
	char			 ss_scopes[3 * CORE_NAME_MAX + 96];
	char			 ss_registry[300];	/* host[:port] */
	char			 ss_credfile[1024];	/* where ss_basic was
							 * read, or "" */
	struct timespec		 ss_credtime;	/* its mtime then */
	off_t			 ss_credsize;
	struct px_auth		*ss_job;
	px_session_fn		 ss_cb;
	void			*ss_arg;
};
/* A session with registry (host[:port]; https unless allow_http): the
 * credentials given, or else those of the docker/podman files.  -1 with
 * err when the name makes no URL. */
int	px_session_open(struct px_session *, const char *registry,
	    int allow_http, const char *user, const char *pass, char *err,
	    size_t errlen);
/* The token flow for these space-separated scopes: 1 when it runs (cb
 * runs once, with NULL or why not), 0 when ss_auth is already set (from
 * the cache, or no auth needed), -1 when it cannot start. */
int	px_session_login(struct px_session *, struct px_upstream *,
	    const char *scopes, px_session_fn cb, void *arg);
/*
 * 1 when the session must log in again: ss_auth is a token that has
 * expired, or the credentials file it was read from changed and holds
 * other credentials (ECR's passwords last 12 h and are renewed by
 * rewriting docker's config.json): they replace the old ones, and cached
 * tokens are forgotten.
 */
int	px_session_stale(struct px_session *);
void	px_session_clear(struct px_session *);

/* pipe.c: a blob piped from one registry into another's upload session */

struct px_pipe;
struct px_pipe_req {
	const struct conf_endpoint *src;	/* borrowed for the call */
	const char		*src_url;	/* GET: the blob's URL */
	const char		*src_auth;	/* or NULL */
	const struct conf_endpoint *dst;
	const char		*dst_url;	/* the upload session (an
						 * absolute URL) */
	const char		*digest;	/* the blob's, for the PUT */
	const char		*dst_auth;
	int64_t			 size;
	int64_t			 chunk;		/* 0: one PUT; else PATCHes of
						 * this many bytes, each with
						 * its Content-Length and
						 * Content-Range, and the rest
						 * in the final PUT (never an
						 * empty one) */
};
/* Once, from the loop: ok, the bytes handed to the PUT, or why not. */
typedef void (*px_pipe_fn)(void *arg, int ok, uint64_t bytes,
	    const char *err);
/* Strings are copied; NULL when it cannot start.  Free the pipe after cb
 * or to cancel it, never from inside cb. */
struct px_pipe *px_pipe_start(struct px_upstream *,
	    const struct px_pipe_req *, px_pipe_fn cb, void *arg);
void	px_pipe_free(struct px_pipe *);

/* creds.c: credentials named by the user */

/* "Basic ..." for registry from docker's config.json or podman's auth.json,
 * or NULL; malloc'ed. */
char	*px_docker_auth(const char *registry);
/* The same, and the file it came from in path (plen bytes), "" if none,
 * and its identitytoken (`az acr login` writes one: an OAuth2 refresh
 * token) in *identity, malloc'ed, or NULL. */
char	*px_docker_auth_file(const char *registry, char *path, size_t plen,
	    char **identity);
/* The same from the bytes of one such file (at most 1 MiB is read). */
char	*px_auth_file_parse(const char *buf, size_t len, const char *registry);
/* The first line of a password file (at most 4 KiB), malloc'ed: the
 * caller wipes it (px_wipe_free); NULL when it cannot be read. */
char	*px_password_file(const char *path);
/* "Basic base64(user:pass)", malloc'ed, or NULL. */
char	*px_basic_auth(const char *user, const char *pass);

/*
 * sigcheck.c: the core verification driver run against a registry (the
 * signature repository of an endpoint, and its Rekor log).  Strings are
 * copied; conf is referenced; the verifier is borrowed and must outlive
 * the check.
 */
struct px_sigcheck;
struct px_sigcheck_req {
	const struct conf_endpoint *endpoint;	/* the registry (copied) */
	struct px_upstream	*up;
	const char		*sigrepo;
	const char		*authorization;	/* sent to the registry only */
	const char		*user_agent;	/* NULL: signet's own */
	const char		*origin;	/* the client's view, or NULL */
	const char		*rekor_url;	/* the log, for online checks */
};
/* cb runs once, from the loop, when the verdict is in (read it from the
 * verifier); free the check there or later.  NULL: could not start. */
typedef void (*px_sigcheck_fn)(void *arg, struct core_verifier *);
struct px_sigcheck *px_sigcheck_start(const struct px_sigcheck_req *,
	    struct core_verifier *, px_sigcheck_fn cb, void *arg);
/* Requests sent for it so far (the list, payloads, log entries): at most
 * 1 + 2 * CORE_VERIFY_LAYERS_MAX. */
int	px_sigcheck_requests(const struct px_sigcheck *);
void	px_sigcheck_free(struct px_sigcheck *);

/*
 * listwrite.c: the signature-list cycle, the one writer of signature lists
 * (the signer and `signet copy`): read the list, ask the caller what it
 * lacks, write the config and the list, read it back, and go round again
 * (after a jittered pause) while a concurrent writer keeps dropping layers.
 */
/*
 * refwrite.c: a cosign v3 signature written as cosign 3 writes it: the
 * empty config and bundle blobs, the referrer by digest, and, where the
 * registry has no referrers API, the sha256-<hex> index with it added,
 * read back and added again while a concurrent writer drops it.
 */
struct px_refwrite;
enum px_rw_outcome {
	PX_RW_WRITTEN,		/* written (and listed) */
	PX_RW_PRESENT,		/* listed already: nothing to write */
	PX_RW_ABSENT,		/* a recheck found the index gone: not
				 * recreated */
	PX_RW_LOST,		/* concurrent writers dropped it every time */
	PX_RW_FAILED
};
struct px_rw_result {
	enum px_rw_outcome	 outcome;
	int			 status;	/* an HTTP status for a failure */
	const char		*message;	/* borrowed for the callback */
	const char		*referrer;	/* its digest; borrowed */
	int			 writes, attempts;
};
typedef void (*px_rw_fn)(void *arg, const struct px_rw_result *);
struct px_refwrite_req {
	struct px_upstream		*up;
	struct event_base		*base;
	const struct conf_endpoint	*endpoint;	/* borrowed: outlives */
	const char			*repo;		/* the signature repo */
	const char			*authorization, *user_agent, *origin;
	const char			*subject;	/* sha256:<hex> */
	const char			*bundle;	/* the blob */
	size_t				 blen;
	const char			*referrer;	/* its manifest */
	int				 create;	/* 0: a recheck */
	int				 attempts;	/* read-back rounds */
};
/* Strings are copied; cb runs once, from the loop.  NULL when it could
 * not start. */
struct px_refwrite *px_refwrite_start(const struct px_refwrite_req *,
	    px_rw_fn cb, void *arg);
void	px_refwrite_free(struct px_refwrite *);

struct px_listwrite;
enum px_lw_outcome {
	PX_LW_PRESENT,	/* the list held everything: nothing written */
	PX_LW_WRITTEN,	/* written, and read back whole */
	PX_LW_ABSENT,	/* no list, and create was 0 (a recheck: deleted on
			 * purpose, not recreated) */
	PX_LW_LOST,	/* still lacking layers after the attempts */
	PX_LW_FAILED	/* an upstream refusal or fault: see status */
};
struct px_lw_result {
	enum px_lw_outcome	 outcome;
	int			 status;	/* for a client: 403 refused,
						 * 503 transient, 500 signet */
	int			 writes;	/* lists written */
	int			 repairs;	/* read-backs that lacked layers */
	int			 attempts;	/* rounds, 1 and up */
	int			 rereads;	/* changed just before a PUT: read
						 * and extended again */
	int			 lags;		/* read-backs that did not show
						 * the write yet */
	const char		*message;	/* why, when not PRESENT/WRITTEN;
						 * the job's: read it before
						 * freeing the job */
};
/*
 * What the list must hold: change list (append, merge, annotate) and return
 * 1, or return 0 when it holds everything already, or -1 with a message in
 * err.  absent: there was no list (list is a new empty one).  Called for
 * each read and read-back; list is the job's, valid for the call.
 */
typedef int (*px_lw_need_fn)(void *arg, struct core_sigman *list,
	    int absent, char *err, size_t errlen);
/* Once, from the loop; the callback may free the job, after which the
 * result is gone. */
typedef void (*px_lw_fn)(void *arg, const struct px_lw_result *);
struct px_listwrite_req {
	struct px_upstream	*up;
	struct event_base	*base;
	const struct conf_endpoint *endpoint;	/* borrowed: must outlive */
	const char		*repo;		/* the signature repository */
	const char		*tag;		/* sha256-<hex>.sig */
	const char		*authorization;	/* or NULL */
	const char		*user_agent;	/* NULL: signet's */
	const char		*origin;	/* the client's view, or NULL */
	int			 attempts;	/* rounds at most */
	int			 create;	/* write a list where none is */
	int			 docker;	/* a new list in Docker types */
	int			 fallback_docker;	/* OCI refused: Docker */
	int			 set_aside;	/* an unusable list is kept under
						 * <tag>.unusable-<12 hex> and a
						 * new one written; else the
						 * cycle fails (403) */
	const char		*verbatim;	/* written as they are where no
						 * list is (a copy keeps the
						 * source list's digest), or
						 * NULL */
	size_t			 verbatim_len;
	const char		*verbatim_type;
	const char		*upload;	/* an upload session open in repo
						 * for the config, or NULL */
	const char		*uploaded;	/* the digest of a config blob
						 * already there, or NULL */
	px_lw_need_fn		 need;
};
/*
 * Start the cycle; strings and bytes are copied.  read: the answer to a
 * GET of the list the caller made (taken), or NULL to read it first.  It
 * never calls back from here; NULL when it cannot start.  Free the job
 * after cb, or to cancel it.
 */
struct px_listwrite *px_listwrite_start(const struct px_listwrite_req *,
	    struct px_fetch *read, px_lw_fn cb, void *arg);
void	px_listwrite_free(struct px_listwrite *);

/*
 * sigdrop.c: what was signed for a deleted subject S taken away (the DELETE
 * cascade, `signet gc`): each of sha256-<S>.sig, .att, .sbom is judged by
 * its content, never its tag.  A signature object's layers that name S (and
 * repo, in a shared signature repository) go; the object is deleted by
 * digest when nothing else is left in it, else written back without them.
 * Then S's OCI referrers (the referrers API, else the sha256-<S> index):
 * a signature object whose subject is S is deleted by digest, and the
 * index loses what went (deleted when nothing is left).  Anything else is
 * left alone, with the reason.
 */
struct px_sigdrop;
enum px_sigdrop_action {
	PX_SD_DELETED,	/* the whole object (or would be, dry run) */
	PX_SD_TRIMMED,	/* written back without S's layers */
	PX_SD_KEPT,	/* left alone: the reason says why */
	PX_SD_FAILED	/* could not be read, deleted or written */
};
struct px_sigdrop_result {
	int	deleted, trimmed, kept, errors;
	char	message[700];	/* the last error */
};
struct px_sigdrop_req {
	struct px_upstream	*up;
	struct event_base	*base;
	const struct conf_endpoint *endpoint;	/* borrowed: must outlive */
	const char		*sigrepo;
	const char		*subject;	/* sha256:<hex> */
	const char		*repo;		/* judge the repository named too
						 * (a shared signature
						 * repository), or NULL */
	const char		*suffix;	/* "sig", "att", "sbom",
						 * "referrers"; NULL: all */
	const char		*authorization;	/* or NULL */
	const char		*user_agent;
	int			 dry_run;	/* judge, change nothing */
};
/* Each object judged (strings live for the call; tag is "" for a
 * referrer, named by its digest), then the end, once; both from the loop.
 * The end may free the job. */
typedef void (*px_sigdrop_obj_fn)(void *arg, const char *sigrepo,
	    const char *tag, const char *digest, enum px_sigdrop_action,
	    const char *why);
typedef void (*px_sigdrop_fn)(void *arg, const struct px_sigdrop_result *);
/* Strings are copied; NULL when subject or suffix is bad or memory is
 * short.  Free after the end, or to cancel. */
struct px_sigdrop *px_sigdrop_start(const struct px_sigdrop_req *,
	    px_sigdrop_obj_fn obj_cb, px_sigdrop_fn cb, void *arg);
void	px_sigdrop_free(struct px_sigdrop *);

/* signer.c: a signature written for a manifest (push, sign, the queue) */

struct px_sign_stats {
	uint64_t	signed_;	/* signatures written */
	uint64_t	present;	/* already there under our key */
	uint64_t	failed;
	uint64_t	repaired;	/* re-appended after a concurrent writer */
	uint64_t	lost;		/* could not be repaired */
	uint64_t	rekor_failed;	/* best-effort uploads that failed */
	uint64_t	queue_failed;	/* retries of queued uploads that
					 * failed (no signature counted) */
	uint64_t	rekor_forks;	/* answers from a log whose history
					 * forked */
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
	const char		*upload;	/* an upload session already open
						 * in the signature repository
						 * with these credentials, or
						 * NULL */
};
struct px_signer_result {
	int		 ok;
	int		 status;		/* the HTTP answer */
	const char	*code;			/* OCI error code, when !ok */
	const char	*message;
	struct px_fetch	*answer;		/* the upstream's answer to relay,
						 * or NULL */
	int		 signing_failed;	/* refused because signing did */
	const char	*digest;		/* ok, no answer, 201: the
						 * manifest is in place under
						 * its tag already (an
						 * immutable tag naming it) */
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
/*
 * Retry one queued best-effort Rekor upload, if any (timer, state_dir).
 * When that upload lands, more(arg) is called (from the job's callback
 * chain: the caller runs the next one from its loop), so a backlog drains
 * one upload after the other while the log answers, not one per timer
 * period; a failure waits for the next period.  more may be NULL.
 */
void	px_sign_queue_run(struct conf *, struct px_upstream *,
	    struct event_base *, void (*more)(void *), void *arg);
const struct px_sign_stats *px_sign_stats(void);
/* Count in *at from now on (a worker's slot of shared memory; NULL: a
 * private copy); at lives as long as the process. */
void	px_sign_stats_at(struct px_sign_stats *at);
/*
 * Pending rechecks are kept in state_dir/rechecks: resume them (at start),
 * and at a drain run those waiting now, once; px_sign_drain returns how
 * many still run (the drain waits for 0, within drain_timeout).
 */
void	px_sign_rechecks_resume(struct conf *, struct px_upstream *,
	    struct event_base *);
int	px_sign_drain(void);
/*
 * Several workers: per-digest signing, queued uploads and pending rechecks
 * are serialized across them with lock files in dir (flock, released by
 * the kernel if a worker dies); NULL (the default): one process.
 */
void	px_sign_lock_dir(const char *dir);

#endif /* SIGNET_CLIENT_H */
