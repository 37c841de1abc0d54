/*
 * proxy/client/signer.c: sign a manifest, as cosign would, before its tag exists.
 * The job never sees a client connection: push.c (the proxy), `signet
 * sign` and the Rekor queue start it with the manifest and credentials and
 * get one result (px_signer_start).
 *
 * For a push by tag the order is: the manifest by digest; the signature
 * (payload blob, config blob, then the signature list re-PUT with the new
 * layer appended); a read-back that the layer is there; only then the tag,
 * whose response goes to the client.  A verifier never sees the tag without
 * its signature.  A push by digest answers the client after the signature.
 *
 * cosign's read-append-write of the list is racy; here appends for one
 * (signature repository, digest) are serialized by an in-process lock, a
 * signature already present under our key is not appended again, and the
 * read-back catches a concurrent writer outside signet that dropped our
 * layer: the append is redone after a jittered pause, SIGN_ATTEMPTS times
 * at most, and a loss that cannot be repaired is counted and reported.
 *
 * Every request carries the pushing client's Authorization and nothing
 * else, so the client can never cause a write it could not make itself.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/base64.h>

#include "client.h"

#define SIGN_ATTEMPTS	5		/* append + read-back rounds */
#define SIGN_FETCHES	4		/* requests in flight at once */

enum sign_state {
	SG_BODY,	/* reading the manifest from the client */
	SG_AUTH,	/* a token for the signature repository */
	SG_PUT_DIGEST,	/* manifest by digest, and two upload sessions */
	SG_MIRROR,	/* signatures from mirror_signatures_from */
	SG_WAIT_LOCK,	/* another push appends to the same list */
	SG_READ_LIST,	/* GET the list; PUT the payload blob; log to Rekor */
	SG_REKOR_GET,	/* the log had the entry (409): fetch it */
	SG_LIST,	/* the list extended, written, read back
			 * (listwrite.c) */
	SG_BUNDLE_CHECK,	/* signature_format bundle: is ours listed? */
	SG_BUNDLE_REKOR,	/* the bundle's dsse entry proposed to the log */
	SG_REFERRER,	/* the bundle written as a referrer (refwrite.c) */
	SG_PUT_TAG,
	SG_TAG_CHECK,	/* the tag was refused as immutable: is it ours? */
	SG_DONE,
	SG_RECHECK_WAIT,	/* answered; look again in a moment */
	SG_RECHECK_SUBJECT	/* is the image still there? */
};

static const char *const state_names[] = {
	[SG_BODY] = "body", [SG_AUTH] = "auth", [SG_PUT_DIGEST] = "put-digest",
	[SG_MIRROR] = "mirror", [SG_WAIT_LOCK] = "wait-lock",
	[SG_READ_LIST] = "read-list",
	[SG_REKOR_GET] = "rekor-get",
	[SG_LIST] = "list", [SG_BUNDLE_CHECK] = "bundle-check",
	[SG_BUNDLE_REKOR] = "bundle-rekor",
	[SG_REFERRER] = "referrer", [SG_PUT_TAG] = "put-tag",
	[SG_TAG_CHECK] = "tag-check",
	[SG_DONE] = "done", [SG_RECHECK_WAIT] = "recheck-wait",
	[SG_RECHECK_SUBJECT] = "recheck-subject",
};

/*
 * After answering, a signature signet wrote is looked at again after these
 * delays and appended again if a concurrent writer (another signet, cosign)
 * wrote a list read before ours was in it.  Without compare-and-swap on
 * tags this is what keeps signatures from being lost to cross-process
 * races: the loser repairs, in the background.
 */
static const int recheck_ms[] = { 1000, 4000 };
#define RECHECKS	(int)(sizeof(recheck_ms) / sizeof(*recheck_ms))

/* How a signing round ended, when it did not fail. */
enum sign_outcome {
	SO_NONE,
	SO_SIGNED,	/* our signature written */
	SO_PRESENT,	/* an identical one was there already */
	SO_REPAIRED,	/* written again after a concurrent writer dropped it */
	SO_INTACT,	/* a recheck found it in place */
	SO_LOGGED	/* a late Rekor bundle added to it */
};

static const char *const outcome_names[] = {
	[SO_NONE] = "none", [SO_SIGNED] = "signed", [SO_PRESENT] = "present",
	[SO_REPAIRED] = "repaired", [SO_INTACT] = "intact",
	[SO_LOGGED] = "logged",
};

/* Why a round failed, where the caller's bookkeeping depends on it. */
enum sign_failure { SF_NONE, SF_OTHER, SF_LOST };

struct sign_lock;

/*
 * A lock file the workers share (px_sign_lock_dir), held by one job: the
 * per-digest lock across processes, a queued upload, a pending recheck.
 * Held when path is set.
 */
struct file_lock {
	char	*path;
	int	 fd;
};

struct px_sign {
	TAILQ_ENTRY(px_sign)	 s_wait;	/* in a lock's queue */
	TAILQ_ENTRY(px_sign)	 s_bg;		/* in sign_background */
	px_signer_fn		 s_cb;		/* the owner; NULL once told */
	void			*s_cb_arg;
	int			 s_command;	/* signet sign, the queue: no
						 * recheck, refusals are final */
	int			 s_refused;	/* the result is "signing
						 * failed" */
	struct conf		*s_conf;	/* a reference */
	struct px_upstream	*s_up;
	struct event_base	*s_base;
	uint64_t		 s_id;		/* connection id, for logs */
	int			 s_recheck;	/* rechecks started */
	int			 s_background;	/* in a recheck round */
	int			 s_detached;	/* in sign_background */
	enum sign_state		 s_state;
	struct sign_lock	*s_lock;
	int			 s_locked;	/* holds s_lock */
	struct file_lock	 s_dlock;	/* and, with workers, this */
	struct file_lock	 s_qlock;	/* the queue entry it runs */
	struct file_lock	 s_rlock;	/* the recheck kept in state_dir */
	const struct conf_policy *s_policy;	/* in c_conf */

	char			 s_repo[CORE_NAME_MAX + 1];
	char			 s_sigrepo[CORE_NAME_MAX + 1];
	char			 s_ref[CORE_REF_MAX + 1];
	char			 s_digest[CORE_DIGEST_MAX + 1];
	char			 s_sigtag[CORE_TAG_MAX + 1];
	char			 s_ctype[256];
	char			 s_origin[300];
	int			 s_by_tag;
	char			*s_auth;	/* the client's, wiped on free */
	char			*s_ua;		/* the client's User-Agent */
	int			 s_own_auth;	/* sig repo: registry_auth */
	char			*s_sigauth;	/* its header, or NULL: none */
	struct px_auth		*s_authjob;

	char			*s_manifest;
	size_t			 s_mlen;
	char			*s_payload;
	size_t			 s_plen;
	char			 s_pdigest[CORE_DIGEST_MAX + 1];
	char			 s_sig64[2 * CORE_SIG_MAX];
	int			 s_signed;	/* s_sig64 is made */
	int			 s_payload_up;	/* payload blob uploaded */
	struct px_listwrite	*s_lw;		/* the list cycle, in SG_LIST */
	/* signature_format bundle or both: cosign v3's referrer, made once
	 * per job (a recheck writes the same one again) */
	struct px_refwrite	*s_rw;
	struct px_sigcheck	*s_pcheck;	/* is ours listed already? */
	struct core_verifier	*s_prun;
	struct core_trust	 s_ptrust;	/* our key only */
	struct core_key		*s_pkey[1];
	char			*s_sgbundle, *s_referrer;
	size_t			 s_sgblen;
	char			*s_stmt, *s_dsig;	/* statement, DSSE sig */
	size_t			 s_stlen;
	int			 s_rekor_dsse;	/* s_f[3] is the bundle's */
	int			 s_brekor_done;	/* its upload tried */
	char			*s_guess;	/* config of a list of just ours */
	size_t			 s_guesslen;
	int			 s_guess_sent;	/* its upload is in this round */
	int			 s_guess_ok;	/* and it is in the registry */
	int			 s_wrote;	/* this job wrote a signature */
	int			 s_bundle_added;	/* a late bundle, not a layer */
	int			 s_rekor_sent;	/* the entry is in this round */
	enum conf_sign		 s_rekor_mode;	/* the rule's, or required */
	char			*s_queue_path;	/* a queued upload being retried */
	char			*s_recheck_path;	/* the pending recheck, kept
						 * in state_dir */
	int			 s_drained;	/* ran early, at a drain */
	time_t			 s_resume_due;	/* a resumed recheck's time */
	struct core_key		*s_oldkey;	/* a resumed recheck's signer,
						 * when no longer the configured
						 * key (job_key) */
	char			*s_bundle;	/* dev.sigstore.cosign/bundle */
	int			 s_rekor_done;	/* tried; s_bundle if it worked */
	int			 s_rekor_proof;	/* s_f[3] is a consistency proof */
	struct core_checkpoint	 s_cp_old, s_cp_new;	/* to prove s_cp_old a
							 * prefix of s_cp_new */
	int			 s_cp_older;	/* the answer's is s_cp_old,
						 * the kept one s_cp_new */
	struct px_fetch		*s_listget;	/* kept across SG_REKOR_GET */
	struct px_fetch		*s_refusal;	/* the tag PUT's, in SG_TAG_CHECK */
	/* mirror_signatures_from: the registry, its verification, and the
	 * valid layer whose payload is being copied here */
	int			 s_mi, s_mstep;
	size_t			 s_ml;
	struct conf_endpoint	*s_mep;		/* the mirror */
	struct core_trust	 s_mtrust;
	char			 s_mref[CORE_NAME_MAX + 300];	/* as signed there */
	struct core_verifier	*s_mrun;
	struct px_sigcheck	*s_mcheck;
	json_t			*s_mirrored;	/* valid layers, to merge */

	struct px_fetch		*s_f[SIGN_FETCHES];
	int			 s_pending;
	struct px_fetch		*s_answer;	/* PUT by digest, kept */
	char			*s_upload[2];	/* payload, config sessions */
	struct event		*s_timer;
	int			 s_attempt;
	struct timeval		 s_start;
	enum sign_outcome	 s_outcome;
	enum sign_failure	 s_failure;
	char			 s_fail[512];	/* why signing failed */
	int			 s_fail_status;	/* for the client */
};

/* One lock per (signature repository, digest) with a queue of waiters. */
struct sign_lock {
	TAILQ_ENTRY(sign_lock)	 l_entry;
	char			 l_key[CORE_NAME_MAX + CORE_DIGEST_MAX + 2];
	TAILQ_HEAD(, px_sign)	 l_waiters;
};

static TAILQ_HEAD(, sign_lock) sign_locks = TAILQ_HEAD_INITIALIZER(sign_locks);
/* jobs whose client has gone on, still rechecking their signature */
static TAILQ_HEAD(, px_sign) sign_background =
    TAILQ_HEAD_INITIALIZER(sign_background);
/* the counters: here, or in this worker's shared slot (px_sign_stats_at) */
static struct px_sign_stats stats_own, *stats = &stats_own;
static struct px_sign *queue_job;

/* The key our signature is by: the configured one, or the one a resumed
 * recheck's layer was made with before a change of key. */
static struct core_key *
job_key(const struct px_sign *s)
{
	return s->s_oldkey != NULL ? s->s_oldkey : s->s_conf->sign_key;
}	/* a queued Rekor upload, retried */
/* the workers' lock files; NULL: one process, the in-memory locks do */
static char *lock_dir;
static void (*queue_more)(void *);	/* it landed: the next one now */
static void *queue_more_arg;

static void	sign_step(struct px_sign *);
static void	read_list(struct px_sign *);
static void	finish_signing(struct px_sign *, int ok);
static void	sign_destroy(struct px_sign *);
static void	mirror_next_registry(struct px_sign *);
static void	mirror_step(struct px_sign *, struct px_fetch *);
static void	take_lock(struct px_sign *);
static void	take_file_lock(struct px_sign *);
static int	merge_mirrored(struct px_sign *, struct core_sigman *);
static void	on_fetch(struct px_fetch *, void *);
static void	begin(struct px_sign *);

void
px_sign_stats_at(struct px_sign_stats *at)
{
	stats = at != NULL ? at : &stats_own;
}

const struct px_sign_stats *
px_sign_stats(void)
{
	return stats;
}

/* Every transition goes through here, logged at debug. */
static void
set_state(struct px_sign *s, enum sign_state st)
{
	if (s->s_state != st)
		px_debug("sign %s@%s: %s -> %s", s->s_repo, s->s_digest,
		    state_names[s->s_state], state_names[st]);
	s->s_state = st;
}

/*
 * The result, to the owner (the push handler, `signet sign`, the Rekor
 * queue), once.  The owner may not free the job from its callback.
 */
static void
deliver(struct px_sign *s, const struct px_signer_result *r)
{
	px_signer_fn	cb = s->s_cb;

	s->s_cb = NULL;
	if (cb != NULL)
		cb(s->s_cb_arg, r);
}

static void
answer_error(struct px_sign *s, int status, const char *code, const char *msg)
{
	struct px_signer_result	r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.code = code;
	r.message = msg;
	r.signing_failed = s->s_refused;
	deliver(s, &r);
}

/* The upstream's answer to the manifest PUT is the push's answer. */
static void
answer_fetch(struct px_sign *s, struct px_fetch *f)
{
	struct px_signer_result	r;
	char			msg[128];
	int			st = px_fetch_status(f);

	if (st == 0) {
		answer_error(s, 502, "UNAVAILABLE", px_fetch_error(f));
		return;
	}
	memset(&r, 0, sizeof(r));
	snprintf(msg, sizeof(msg), "upstream answered HTTP %d", st);
	r.ok = st >= 200 && st < 300;
	r.status = st;
	r.message = msg;
	r.answer = f;
	deliver(s, &r);
}

/* Locks */

void
px_sign_lock_dir(const char *dir)
{
	free(lock_dir);
	lock_dir = dir != NULL ? strdup(dir) : NULL;
}

/*
 * Take the lock file lock_dir/name for one job: 1 held (or no lock_dir),
 * 0 another process holds it, -1 it could not be made (warned).
 */
static int
flock_take(struct file_lock *fl, const char *name)
{
	char	path[2048];
	int	fd, rc;

	if (lock_dir == NULL || fl->path != NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/%s", lock_dir, name);
	rc = core_lock_try(path, &fd);
	if (rc == -1)
		px_warn("lock %s: %s", path, strerror(errno));
	if (rc != 1)
		return rc;
	fl->path = strdup(path);
	if (fl->path == NULL) {
		core_lock_drop(path, fd);
		return -1;
	}
	fl->fd = fd;
	return 1;
}

static void
flock_drop(struct file_lock *fl)
{
	if (fl->path == NULL)
		return;
	core_lock_drop(fl->path, fl->fd);
	free(fl->path);
	fl->path = NULL;
}

/* The lock file of a state_dir entry (a queued upload, a recheck), named
 * after the entry's file name: kind-NAME.lock. */
static int
flock_entry(struct file_lock *fl, const char *kind, const char *path)
{
	const char	*base = strrchr(path, '/');
	char		 name[1400];

	snprintf(name, sizeof(name), "%s-%s.lock", kind,
	    base != NULL ? base + 1 : path);
	return flock_take(fl, name);
}

static int
lock_acquire(struct px_sign *s)
{
	struct sign_lock	*l;
	char			 key[sizeof(l->l_key)];

	snprintf(key, sizeof(key), "%s@%s", s->s_sigrepo, s->s_digest);
	TAILQ_FOREACH(l, &sign_locks, l_entry)
		if (strcmp(l->l_key, key) == 0)
			break;
	if (l != NULL) {
		s->s_lock = l;
		TAILQ_INSERT_TAIL(&l->l_waiters, s, s_wait);
		return 0;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -1;
	snprintf(l->l_key, sizeof(l->l_key), "%s", key);
	TAILQ_INIT(&l->l_waiters);
	TAILQ_INSERT_TAIL(&sign_locks, l, l_entry);
	s->s_lock = l;
	s->s_locked = 1;
	return 1;
}

/* Leave the lock or its queue; the next waiter resumes from the loop. */
static void
lock_release(struct px_sign *s)
{
	struct sign_lock	*l = s->s_lock;
	struct px_sign		*next;

	flock_drop(&s->s_dlock);
	if (l == NULL)
		return;
	s->s_lock = NULL;
	if (!s->s_locked) {
		TAILQ_REMOVE(&l->l_waiters, s, s_wait);
		return;
	}
	s->s_locked = 0;
	next = TAILQ_FIRST(&l->l_waiters);
	if (next == NULL) {
		TAILQ_REMOVE(&sign_locks, l, l_entry);
		free(l);
		return;
	}
	TAILQ_REMOVE(&l->l_waiters, next, s_wait);
	next->s_locked = 1;
	event_active(next->s_timer, EV_TIMEOUT, 0);
}

/* Requests */

static void
drop_fetches(struct px_sign *s)
{
	int	i;

	for (i = 0; i < SIGN_FETCHES; i++) {
		px_fetch_free(s->s_f[i]);
		s->s_f[i] = NULL;
	}
	s->s_pending = 0;
}

static void
on_fetch(struct px_fetch *f, void *arg)
{
	struct px_sign	*s = arg;

	(void)f;
	if (--s->s_pending == 0)
		sign_step(s);
}

/* Queue request i of the current step; 0 or -1 (then the step fails). */
static int
send_req(struct px_sign *s, int i, int sigrepo, const char *method,
    const char *target, const char *ctype, const char *accept,
    const void *body, size_t len)
{
	const char	*auth = s->s_auth;

	/* the signature repository may be written with signet's own */
	if (sigrepo && s->s_own_auth)
		auth = s->s_sigauth;
	s->s_f[i] = px_fetch_send(s->s_up, &s->s_conf->up,
	    &(struct px_request){ .method = method, .target = target,
	    .authorization = auth, .content_type = ctype, .accept = accept,
	    .user_agent = s->s_ua, .origin = s->s_origin, .body = body,
	    .len = len }, on_fetch, s, s->s_fail, sizeof(s->s_fail));
	if (s->s_f[i] == NULL)
		return -1;
	s->s_pending++;
	return 0;
}

/* The upload URL of session loc, finished with ?digest= or &digest=. */
static char *
upload_url(const char *loc, const char *digest)
{
	size_t	 n = strlen(loc) + strlen(digest) + 16;
	char	*u = malloc(n);

	if (u != NULL)
		snprintf(u, n, "%s%cdigest=%s", loc,
		    strchr(loc, '?') != NULL ? '&' : '?', digest);
	return u;
}

static int
fail_http(struct px_sign *s, struct px_fetch *f, const char *what)
{
	int	st = px_fetch_status(f);

	if (st == 0)
		snprintf(s->s_fail, sizeof(s->s_fail), "%s: %s", what,
		    px_fetch_error(f));
	else
		snprintf(s->s_fail, sizeof(s->s_fail), "%s: upstream answered "
		    "%s%s", what, px_fetch_reason(f), st == 401 &&
		    s->s_own_auth && s->s_conf->reg_password_file == NULL ?
		    " (registry_auth's credentials were refused; a password "
		    "that expires, as ECR's, is given as "
		    "registry_auth.password_file, read at each use)" : "");
	/*
	 * A transient upstream fault is a 503 (clients retry those); any
	 * other refusal a 403 DENIED, whose message clients print.
	 */
	s->s_fail_status = st == 0 || st >= 500 || st == 429 ? 503 : 403;
	return -1;
}

/* The simple-signing payload and its digest, once per push. */
static int
make_payload(struct px_sign *s)
{
	struct conf	*cf = s->s_conf;
	const char	*host = s->s_policy->reference_registry != NULL ?
			    s->s_policy->reference_registry : cf->up.hostport;
	json_t		*opt;
	char		 ref[512], hex[65];

	snprintf(ref, sizeof(ref), "%s/%s", host, s->s_repo);
	opt = json_object();
	if (opt == NULL)
		return -1;
	if (cf->sign_annotations != NULL)
		json_object_update(opt, cf->sign_annotations);
	if (s->s_policy->annotations != NULL)
		json_object_update(opt, s->s_policy->annotations);
	s->s_payload = core_sig_payload(ref, s->s_digest, opt, &s->s_plen);
	json_decref(opt);
	if (s->s_payload == NULL)
		return -1;
	core_sha256_hex(s->s_payload, s->s_plen, hex);
	snprintf(s->s_pdigest, sizeof(s->s_pdigest), "sha256:%s", hex);
	return 0;
}

static int
make_signature(struct px_sign *s)
{
	struct conf	*cf = s->s_conf;
	unsigned char	 sig[CORE_SIG_MAX];
	size_t		 slen, blen;
	char		 err[256];

	if (s->s_signed)
		return 0;	/* one signature per push, also on retries */
	if (core_key_sign(cf->sign_key, s->s_payload, s->s_plen, sig, &slen,
	    err, sizeof(err)) == -1) {
		snprintf(s->s_fail, sizeof(s->s_fail), "%s", err);
		s->s_fail_status = 500;
		return -1;
	}
	if (mbedtls_base64_encode((unsigned char *)s->s_sig64,
	    sizeof(s->s_sig64), &blen, sig, slen) != 0) {
		snprintf(s->s_fail, sizeof(s->s_fail), "cannot encode the "
		    "signature");
		s->s_fail_status = 500;
		return -1;
	}
	s->s_signed = 1;
	return 0;
}

/*
 * upstream.manifest_put "tag-only", for a push by tag: no PUT by digest
 * first (Nexus' "Disable redeploy" would refuse the tag of a manifest it
 * holds); the signature is written, then the manifest under its tag.  The
 * registry's checks of the manifest then come after the signing: a
 * manifest it refuses leaves a signature that names nothing.
 */
static int
tag_only(const struct px_sign *s)
{
	return s->s_by_tag && s->s_conf->up_manifest_put == CONF_MP_TAG_ONLY;
}

/* Steps: each sends its requests; sign_step runs when they all answered. */

static void
put_digest(struct px_sign *s)
{
	char	target[512];

	set_state(s, SG_PUT_DIGEST);
	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", s->s_repo,
	    s->s_digest);
	/* tag-only: the manifest is written once, by its tag, last */
	if (!tag_only(s) && send_req(s, 0, 0, "PUT", target, s->s_ctype, NULL,
	    s->s_manifest, s->s_mlen) == -1)
		goto fail;
	snprintf(target, sizeof(target), "/v2/%s/blobs/uploads/", s->s_sigrepo);
	/* the push handler may have opened the first session already */
	if ((s->s_upload[0] == NULL && send_req(s, 1, 1, "POST", target, NULL,
	    NULL, "", 0) == -1) ||
	    send_req(s, 2, 1, "POST", target, NULL, NULL, "", 0) == -1)
		goto fail;
	return;
fail:
	/* nothing was written: answer without signing or tagging */
	drop_fetches(s);
	set_state(s, SG_DONE);
	answer_error(s, 500, "UNKNOWN", s->s_fail);
}

/*
 * state_dir files: one JSON object each, written whole or not at all
 * (a temporary file, fsync, rename), read back one by one.
 */
static int
save_json(const char *path, json_t *o)
{
	char	 tmp[1400], *text;
	FILE	*fp;
	int	 ok = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	fp = text != NULL ? fopen(tmp, "w") : NULL;
	if (fp != NULL) {
		ok = fputs(text, fp) >= 0 && fflush(fp) == 0 &&
		    fsync(fileno(fp)) == 0;
		fclose(fp);
		ok = ok && rename(tmp, path) == 0;
		if (!ok)
			unlink(tmp);
	}
	free(text);
	return ok ? 0 : -1;
}

static int	flock_entry(struct file_lock *, const char *, const char *);
static void	flock_drop(struct file_lock *);

/*
 * The next *.json of dir that no other worker holds, its lock file (kind)
 * taken in *fl, parsed (NULL when it is not JSON), with its path; 0 at the
 * end.  Read once locked: an entry done and removed meanwhile is skipped.
 */
static int
next_json(DIR *d, const char *dir, const char *kind, struct file_lock *fl,
    char *path, size_t plen, json_t **o)
{
	struct dirent	*de;
	json_error_t	 jerr;
	size_t		 n;

	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(path, plen, "%s/%s", dir, de->d_name);
		if (flock_entry(fl, kind, path) == 0)
			continue;	/* another worker's */
		if (access(path, F_OK) != 0) {
			flock_drop(fl);
			continue;
		}
		*o = json_load_file(path, 0, &jerr);
		return 1;
	}
	return 0;
}

/*
 * A best-effort upload that failed is queued on disk, in state_dir, so a
 * restart loses nothing: the manifest (to rebuild the same payload; the
 * signature is deterministic ECDSA, RFC 6979), where it lives, and the
 * fingerprint of the key that signed it (only that key makes the same
 * signature again).
 */
static int
queue_write(struct px_sign *s)
{
	char	 dir[1024], path[1200], *m64;
	size_t	 n;
	json_t	*o;
	int	 rc;

	if (s->s_conf->state_dir == NULL || s->s_queue_path != NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s/rekor-queue", s->s_conf->state_dir);
	(void)mkdir(dir, 0700);
	/* one entry per image and signature (a bundle's is made anew) */
	snprintf(path, sizeof(path), "%s/%s-%s.json", dir, s->s_digest + 7,
	    s->s_rekor_dsse ? "bundle" : s->s_pdigest + 7);
	n = 4 * ((s->s_mlen + 2) / 3) + 1;
	m64 = malloc(n);
	if (m64 == NULL || mbedtls_base64_encode((unsigned char *)m64, n, &n,
	    (unsigned char *)s->s_manifest, s->s_mlen) != 0) {
		free(m64);
		return -1;
	}
	o = json_pack("{s:s, s:s, s:s, s:s}", "repository", s->s_repo,
	    "content_type", s->s_ctype, "manifest", m64, "key",
	    core_key_fingerprint(s->s_conf->sign_key));
	free(m64);
	rc = save_json(path, o);
	json_decref(o);
	return rc;
}

/* Propose entry (JSON, taken and freed) to the transparency log, as
 * request 3 of the round. */
static int
post_rekor(struct px_sign *s, char *entry)
{
	char	url[600];

	snprintf(url, sizeof(url), "%s/api/v1/log/entries",
	    s->s_conf->rekor_url);
	s->s_f[3] = entry != NULL ? px_fetch_send(s->s_up, &s->s_conf->up,
	    &(struct px_request){ .method = "POST", .url = url,
	    .content_type = "application/json", .accept = "application/json",
	    .body = entry, .len = strlen(entry) }, on_fetch, s, s->s_fail,
	    sizeof(s->s_fail)) : NULL;
	free(entry);
	if (s->s_f[3] == NULL) {
		s->s_fail_status = 500;
		return -1;
	}
	s->s_pending++;
	s->s_rekor_sent = 1;
	return 0;
}

/* The signature's hashedrekord entry. */
static int
send_rekor(struct px_sign *s)
{
	return post_rekor(s, core_rekor_entry(s->s_payload, s->s_plen,
	    s->s_sig64, s->s_conf->sign_key));
}

/* A log whose history forked: never quiet, and counted. */
static void
rekor_forked(struct px_sign *s, const char *reason)
{
	stats->rekor_forks++;
	px_log_fields(CONF_LOG_ERROR, json_pack("{s:s, s:s, s:s, s:s}",
	    "msg", "transparency log forked", "repository", s->s_repo,
	    "digest", s->s_digest, "reason", reason));
}

/*
 * The checkpoint of a checked answer against the one kept in state_dir: 0
 * when it is the same or kept now, 1 when a consistency proof was asked
 * for (the log grew: from the kept one to it; or, answers to concurrent
 * uploads arriving out of order, it is older: from it to the kept one),
 * -1 when the log shows two roots for one size, or the proof cannot be
 * asked for.
 */
static int
rekor_checkpoint(struct px_sign *s, const struct core_checkpoint *cp,
    char *reason, size_t rlen)
{
	const char	*dir = s->s_conf->state_dir, *logid;
	char		 url[800];

	if (dir == NULL)
		return 0;
	logid = core_key_fingerprint(s->s_conf->rekor_keys[cp->key]);
	s->s_cp_older = 0;
	switch (core_checkpoint_compare(dir, cp, logid, &s->s_cp_old, reason,
	    rlen)) {
	case CORE_CP_SAME:
		return 0;
	case CORE_CP_NEW:
		return core_checkpoint_keep(dir, cp, logid, reason, rlen);
	case CORE_CP_OLDER:
		/* the proof runs from the older one to the kept one */
		s->s_cp_older = 1;
		s->s_cp_new = s->s_cp_old;
		s->s_cp_new.key = cp->key;	/* the same log's */
		s->s_cp_old = *cp;
		break;
	case CORE_CP_GROWN:
		s->s_cp_new = *cp;
		break;
	default:
		rekor_forked(s, reason);
		return -1;
	}
	snprintf(url, sizeof(url), "%s/api/v1/log/proof?firstSize=%llu"
	    "&lastSize=%llu", s->s_conf->rekor_url,
	    (unsigned long long)s->s_cp_old.size,
	    (unsigned long long)s->s_cp_new.size);
	s->s_f[3] = px_fetch_send(s->s_up, &s->s_conf->up,
	    &(struct px_request){ .method = "GET", .url = url,
	    .accept = "application/json", .max_len = CORE_LOG_ANSWER_MAX },
	    on_fetch, s, reason, rlen);
	if (s->s_f[3] == NULL)
		return -1;
	s->s_pending++;
	s->s_rekor_sent = 1;
	s->s_rekor_proof = 1;
	return 1;
}

/*
 * The log's answer: checked, it gives the bundle: the .sig layer's
 * dev.sigstore.cosign/bundle (s_bundle), or, for cosign v3's format, the
 * Sigstore bundle with the entry in it (s_sgbundle, s_rekor_dsse).
 * Returns 0 to go on (with or without a bundle, as the rule allows), 1
 * when another request to the log must be answered first (the existing
 * entry after a 409, a consistency proof), -1 when signing fails.
 */
static int
rekor_answer(struct px_sign *s, struct px_fetch *f)
{
	struct core_checkpoint	 cp;
	const char		*body;
	char			 reason[300], url[800];
	char			**bundle = s->s_rekor_dsse ? &s->s_sgbundle :
				    &s->s_bundle;
	int			*done = s->s_rekor_dsse ? &s->s_brekor_done :
				    &s->s_rekor_done;
	size_t			 len;
	int			 st = px_fetch_status(f), rc;

	s->s_rekor_sent = 0;
	body = px_fetch_body(f, &len);
	if (s->s_rekor_proof) {
		/* the smaller tree of the answer's and the kept one: is
		 * it a prefix of the larger? (the larger is kept) */
		s->s_rekor_proof = 0;
		if (st == 200 && core_rekor_check_consistency(body, len,
		    &s->s_cp_old, &s->s_cp_new, reason, sizeof(reason)) == 0) {
			if (s->s_cp_older)
				px_debug("sign %s@%s: the log answered with an "
				    "older checkpoint (tree size %llu, seen "
				    "%llu), consistent with the kept one",
				    s->s_repo, s->s_digest,
				    (unsigned long long)s->s_cp_old.size,
				    (unsigned long long)s->s_cp_new.size);
			if (core_checkpoint_keep(s->s_conf->state_dir,
			    &s->s_cp_new, core_key_fingerprint(
			    s->s_conf->rekor_keys[s->s_cp_new.key]), reason,
			    sizeof(reason)) == 0) {
				*done = 1;
				return 0;
			}
		} else if (st == 200)
			rekor_forked(s, reason);
		else if (s->s_cp_older && st >= 400 && st < 500 && st != 429) {
			/* the log refuses to show that the tree it signed
			 * before extends the one it shows now: it went back */
			core_checkpoint_backwards(&s->s_cp_old, &s->s_cp_new,
			    st, reason, sizeof(reason));
			rekor_forked(s, reason);
		} else
			snprintf(reason, sizeof(reason), "the log's consistency "
			    "proof: %s", st == 0 ? px_fetch_error(f) :
			    "the log failed");
		/* no bundle from a log that cannot show its history */
		free(*bundle);
		*bundle = NULL;
	} else if (st == 409 && (s->s_state == SG_READ_LIST ||
	    s->s_state == SG_BUNDLE_REKOR) && px_fetch_location(f) != NULL) {
		/* an equivalent entry exists: use it */
		if (strncmp(px_fetch_location(f), "http", 4) == 0)
			snprintf(url, sizeof(url), "%s", px_fetch_location(f));
		else
			snprintf(url, sizeof(url), "%s%s", s->s_conf->rekor_url,
			    px_fetch_location(f));
		s->s_f[3] = px_fetch_send(s->s_up, &s->s_conf->up,
		    &(struct px_request){ .method = "GET", .url = url,
		    .accept = "application/json" }, on_fetch, s, reason,
		    sizeof(reason));
		if (s->s_f[3] != NULL) {
			s->s_pending++;
			s->s_rekor_sent = 1;
			return 1;
		}
		snprintf(reason, sizeof(reason), "cannot fetch the existing "
		    "entry");
	} else if (st == 201 || st == 200) {
		/* the entry as the signature's bundle, checked whole */
		free(*bundle);
		*bundle = NULL;
		if (s->s_rekor_dsse)
			rc = core_rekor_check_dsse_response(s->s_conf->rekor_keys,
			    (size_t)s->s_conf->nrekor_keys, body, len,
			    s->s_digest, s->s_stmt, s->s_stlen, s->s_dsig,
			    s->s_conf->sign_key, bundle,
			    &cp, reason, sizeof(reason));
		else
			rc = core_rekor_check_response(s->s_conf->rekor_keys,
			    (size_t)s->s_conf->nrekor_keys, body, len,
			    s->s_payload, s->s_plen, s->s_sig64,
			    s->s_conf->sign_key, bundle, &cp, reason,
			    sizeof(reason));
		if (rc == 0) {
			switch (rekor_checkpoint(s, &cp, reason,
			    sizeof(reason))) {
			case 0:
				*done = 1;
				return 0;
			case 1:
				return 1;
			}
			free(*bundle);
			*bundle = NULL;
		}
	} else if (st == 0)
		snprintf(reason, sizeof(reason), "log unreachable: %s",
		    px_fetch_error(f));
	else
		snprintf(reason, sizeof(reason), "the log answered HTTP %d", st);
	*done = 1;
	if (s->s_rekor_mode == CONF_SIGN_REQUIRED) {
		snprintf(s->s_fail, sizeof(s->s_fail), "Rekor upload required "
		    "and failed: %s", reason);
		s->s_fail_status = st == 0 || st >= 500 || st == 429 ? 503 : 403;
		return -1;
	}
	stats->rekor_failed++;
	if (s->s_rekor_dsse)
		/* a bundle without its entry; the queued upload writes
		 * another referrer, with it */
		px_warn("%s@%s: Rekor upload failed, the bundle is written "
		    "without an entry (best-effort%s): %s", s->s_repo,
		    s->s_digest, queue_write(s) == 0 ? ", queued for a later "
		    "upload" : "", reason);
	else
		px_warn("%s@%s: Rekor upload failed, signing without a bundle "
		    "(best-effort%s): %s", s->s_repo, s->s_digest,
		    queue_write(s) == 0 ? ", queued for a later upload" : "",
		    reason);
	return 0;
}

/*
 * GET the list; with it, upload the payload blob and, on the first round,
 * the config of a list holding only our layer: the usual case (a first
 * signature) then needs no round trip of its own for the config.
 */
static void
read_list(struct px_sign *s)
{
	struct core_sigman	 guess;
	const char		*errstr;
	char			 target[512], hex[65], *u, *man = NULL;
	size_t			 mlen;
	json_t			*ann;
	int			 rc;

	set_state(s, SG_READ_LIST);
	s->s_guess_ok = 0;
	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", s->s_sigrepo,
	    s->s_sigtag);
	if (send_req(s, 0, 1, "GET", target, NULL, CORE_MT_ACCEPT_ALL, NULL, 0) ==
	    -1 || make_signature(s) == -1) {
		finish_signing(s, 0);
		return;
	}
	if (!s->s_payload_up) {
		u = upload_url(s->s_upload[0], s->s_pdigest);
		rc = u == NULL ? -1 : send_req(s, 1, 1, "PUT", u,
		    "application/octet-stream", NULL, s->s_payload, s->s_plen);
		free(u);
		if (rc == -1) {
			finish_signing(s, 0);
			return;
		}
	}
	if (s->s_rekor_mode != CONF_SIGN_OFF && !s->s_rekor_done &&
	    send_rekor(s) == -1) {
		finish_signing(s, 0);
		return;
	}
	if (s->s_upload[1] == NULL || s->s_guess != NULL)
		return;
	core_sigman_init(&guess);
	ann = json_pack("{s:s}", CORE_ANN_SIGNATURE, s->s_sig64);
	rc = ann == NULL || core_sigman_open(&guess, NULL, 0, 0, &errstr) == -1 ||
	    core_sigman_append(&guess, s->s_pdigest, s->s_plen, ann) == -1 ||
	    core_sigman_serialize(&guess, &s->s_guess, &s->s_guesslen, &man,
	    &mlen) == -1 ? -1 : 0;
	json_decref(ann);
	core_sigman_free(&guess);
	free(man);
	if (rc == -1)
		return;		/* no guess: the config goes up later */
	core_sha256_hex(s->s_guess, s->s_guesslen, hex);
	snprintf(target, sizeof(target), "sha256:%s", hex);
	u = upload_url(s->s_upload[1], target);
	free(s->s_upload[1]);
	s->s_upload[1] = NULL;	/* a session serves one blob */
	if (u != NULL && send_req(s, 2, 1, "PUT", u, "application/octet-stream",
	    NULL, s->s_guess, s->s_guesslen) == 0)
		s->s_guess_sent = 1;
	free(u);
}

static void
put_tag(struct px_sign *s)
{
	char	target[512];

	set_state(s, SG_PUT_TAG);
	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", s->s_repo,
	    s->s_ref);
	if (send_req(s, 0, 0, "PUT", target, s->s_ctype, NULL, s->s_manifest,
	    s->s_mlen) == -1)
		answer_error(s, 500, "UNKNOWN", s->s_fail);
}

/*
 * What the list must hold (listwrite.c asks on each read and read-back):
 * our signature, under our key, with its Rekor bundle once there is one,
 * and the mirrored signatures.
 */
static int
sign_need(void *arg, struct core_sigman *list, int absent, char *err,
    size_t errlen)
{
	struct px_sign		*s = arg;
	struct core_sig_layer	 layer;
	json_t			*ann;
	int			 found, rc;

	(void)absent;
	found = core_sigman_find(list, s->s_pdigest, s->s_payload, s->s_plen,
	    job_key(s));
	if (found >= 0 && s->s_bundle != NULL &&
	    core_sigman_layer(list, (size_t)found, &layer) == 0 &&
	    layer.bundle == NULL) {
		/* ours, logged late (a queued upload): add its bundle */
		if (core_sigman_set_annotation(list, (size_t)found,
		    CORE_ANN_BUNDLE, s->s_bundle) == -1) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		s->s_bundle_added = 1;
		(void)merge_mirrored(s, list);
		return 1;
	}
	if (found >= 0)
		return merge_mirrored(s, list) > 0;
	if (make_signature(s) == -1) {
		snprintf(err, errlen, "%s", s->s_fail);
		return -1;
	}
	ann = json_pack("{s:s}", CORE_ANN_SIGNATURE, s->s_sig64);
	if (ann != NULL && s->s_bundle != NULL)
		json_object_set_new(ann, CORE_ANN_BUNDLE,
		    json_string(s->s_bundle));
	rc = ann == NULL ? -1 : core_sigman_append(list, s->s_pdigest,
	    s->s_plen, ann);
	json_decref(ann);
	if (rc == -1) {
		snprintf(err, errlen, "the signature list has %d layers, "
		    "cosign's limit", CORE_SIG_LAYERS_MAX);
		return -1;
	}
	(void)merge_mirrored(s, list);
	return 1;
}

/*
 * signature_format bundle or both: cosign v3's signature.  First the one
 * verifier, with our key only and only the referrers, says whether one of
 * ours is listed already (a push of the same image again, a recheck); if
 * not, our bundle is written as a referrer (refwrite.c).
 */
static void	on_present_verdict(void *, struct core_verifier *);
static int	send_rekor_dsse(struct px_sign *);
static void	write_referrer(struct px_sign *);
static void	on_referrer_done(void *, const struct px_rw_result *);

static void
bundle_round(struct px_sign *s)
{
	struct core_vopts	o;

	set_state(s, SG_BUNDLE_CHECK);
	memset(&s->s_ptrust, 0, sizeof(s->s_ptrust));
	s->s_pkey[0] = job_key(s);
	s->s_ptrust.keys = s->s_pkey;
	s->s_ptrust.nkeys = 1;
	if (s->s_rekor_mode == CONF_SIGN_REQUIRED) {
		/* rekor_upload required, or a queued upload: only one of
		 * ours with its log entry is there already (a best-effort
		 * push may have left one without) */
		s->s_ptrust.rekor = s->s_conf->rekor_keys;
		s->s_ptrust.nrekor = (size_t)s->s_conf->nrekor_keys;
		s->s_ptrust.rekor_required = 1;
	}
	memset(&o, 0, sizeof(o));
	o.trust = &s->s_ptrust;
	o.threshold = 1;
	o.bundles = 1;
	o.no_sig = 1;
	core_verifier_free(s->s_prun);
	s->s_prun = core_verifier_new(&o, s->s_digest);
	s->s_pcheck = s->s_prun == NULL ? NULL : px_sigcheck_start(
	    &(struct px_sigcheck_req){ .endpoint = &s->s_conf->up,
	    .up = s->s_up, .sigrepo = s->s_sigrepo,
	    .authorization = s->s_own_auth ? s->s_sigauth : s->s_auth,
	    .user_agent = s->s_ua, .origin = s->s_origin },
	    s->s_prun, on_present_verdict, s);
	if (s->s_pcheck == NULL) {
		snprintf(s->s_fail, sizeof(s->s_fail), "cannot read the "
		    "referrers");
		s->s_fail_status = 500;
		finish_signing(s, 0);
	}
}

/* The statement and its DSSE signature: once per job. */
static int
make_dsse(struct px_sign *s)
{
	if (s->s_dsig != NULL)
		return 0;
	free(s->s_stmt);
	s->s_stmt = core_bundle_statement(s->s_digest, &s->s_stlen);
	s->s_dsig = s->s_stmt != NULL ? core_dsse_sign(s->s_conf->sign_key,
	    s->s_stmt, s->s_stlen, s->s_fail, sizeof(s->s_fail)) : NULL;
	if (s->s_dsig == NULL) {
		s->s_fail_status = 500;
		return -1;
	}
	return 0;
}

/* The bundle (with its log entry when there is one), its referrer
 * manifest: once per job. */
static int
make_referrer(struct px_sign *s)
{
	const char	*mt = s->s_ctype;
	char		 created[32], hex[65], bd[CORE_DIGEST_MAX + 1];
	struct tm	 tm;
	time_t		 now = time(NULL);
	json_t		*o;

	if (s->s_referrer != NULL)
		return 0;
	if (s->s_sgbundle == NULL)
		s->s_sgbundle = core_bundle_assemble(s->s_stmt, s->s_stlen,
		    s->s_dsig, s->s_conf->sign_key, NULL, 0, s->s_fail,
		    sizeof(s->s_fail));
	if (s->s_sgbundle == NULL) {
		s->s_fail_status = 500;
		return -1;
	}
	s->s_sgblen = strlen(s->s_sgbundle);
	core_sha256_hex(s->s_sgbundle, s->s_sgblen, hex);
	snprintf(bd, sizeof(bd), "sha256:%s", hex);
	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* the subject's media type as its own bytes say (a Content-Type
	 * may carry parameters) */
	o = json_loadb(s->s_manifest, s->s_mlen, 0, NULL);
	if (json_is_string(json_object_get(o, "mediaType")))
		mt = json_string_value(json_object_get(o, "mediaType"));
	s->s_referrer = core_referrer_manifest(mt, s->s_mlen, s->s_digest, bd,
	    s->s_sgblen, created);
	json_decref(o);
	if (s->s_referrer == NULL) {
		snprintf(s->s_fail, sizeof(s->s_fail), "out of memory");
		s->s_fail_status = 500;
		return -1;
	}
	return 0;
}

static void
on_present_verdict(void *arg, struct core_verifier *run)
{
	struct px_sign	*s = arg;
	const char	*reason;

	px_sigcheck_free(s->s_pcheck);
	s->s_pcheck = NULL;
	switch (core_verifier_verdict(run, &reason)) {
	case CORE_VERDICT_ALLOW:
		/* one of ours is listed: nothing to write */
		if (s->s_outcome == SO_NONE || s->s_policy->signature_format ==
		    CONF_SF_BUNDLE)
			s->s_outcome = s->s_background ? SO_INTACT : SO_PRESENT;
		finish_signing(s, 1);
		return;
	case CORE_VERDICT_INDETERMINATE:
		snprintf(s->s_fail, sizeof(s->s_fail), "%s", reason);
		s->s_fail_status = 503;
		finish_signing(s, 0);
		return;
	case CORE_VERDICT_DENY:
		break;
	}
	if (make_dsse(s) == -1) {
		finish_signing(s, 0);
		return;
	}
	if (s->s_rekor_mode != CONF_SIGN_OFF && !s->s_brekor_done) {
		if (send_rekor_dsse(s) == -1) {
			finish_signing(s, 0);
			return;
		}
		return;		/* done_bundle_rekor goes on */
	}
	write_referrer(s);
}

/* The bundle written as a referrer. */
static void
write_referrer(struct px_sign *s)
{
	if (make_referrer(s) == -1) {
		finish_signing(s, 0);
		return;
	}
	set_state(s, SG_REFERRER);
	s->s_rw = px_refwrite_start(&(struct px_refwrite_req){
	    .up = s->s_up, .base = s->s_base, .endpoint = &s->s_conf->up,
	    .repo = s->s_sigrepo,
	    .authorization = s->s_own_auth ? s->s_sigauth : s->s_auth,
	    .user_agent = s->s_ua, .origin = s->s_origin,
	    .subject = s->s_digest, .bundle = s->s_sgbundle,
	    .blen = s->s_sgblen, .referrer = s->s_referrer,
	    .create = !s->s_background, .attempts = SIGN_ATTEMPTS },
	    on_referrer_done, s);
	if (s->s_rw == NULL) {
		snprintf(s->s_fail, sizeof(s->s_fail), "cannot write the "
		    "referrer");
		s->s_fail_status = 500;
		finish_signing(s, 0);
	}
}

/* The bundle's dsse 0.0.1 entry proposed to the log (request 3). */
static int
send_rekor_dsse(struct px_sign *s)
{
	set_state(s, SG_BUNDLE_REKOR);
	s->s_rekor_dsse = 1;
	return post_rekor(s, core_rekor_dsse_entry(s->s_stmt, s->s_stlen,
	    s->s_dsig, s->s_conf->sign_key));
}

/* bundle-rekor: the log's answer (or the entry after a 409, or a
 * consistency proof) */
static void
done_bundle_rekor(struct px_sign *s)
{
	struct px_fetch	*f3 = s->s_f[3];
	int		 rc;

	s->s_f[3] = NULL;
	rc = rekor_answer(s, f3);
	px_fetch_free(f3);
	if (rc == 1)
		return;		/* another request to the log is out */
	s->s_rekor_dsse = 0;
	if (rc == -1) {
		drop_fetches(s);
		finish_signing(s, 0);
		return;
	}
	write_referrer(s);
}

static void
on_referrer_done(void *arg, const struct px_rw_result *r)
{
	struct px_sign	*s = arg;
	int		 legacy = s->s_policy->signature_format == CONF_SF_BOTH;

	s->s_attempt = r->attempts - 1;
	switch (r->outcome) {
	case PX_RW_WRITTEN:
		if (!legacy || s->s_outcome == SO_NONE ||
		    s->s_outcome == SO_PRESENT || s->s_outcome == SO_INTACT)
			s->s_outcome = s->s_background ? SO_REPAIRED :
			    SO_SIGNED;
		finish_signing(s, 1);
		return;
	case PX_RW_PRESENT:
		if (!legacy || s->s_outcome == SO_NONE)
			s->s_outcome = s->s_background ? SO_INTACT : SO_PRESENT;
		finish_signing(s, 1);
		return;
	case PX_RW_ABSENT:
		/* deleted on purpose (cascade, gc): not recreated */
		s->s_outcome = SO_INTACT;
		s->s_recheck = RECHECKS;
		finish_signing(s, 1);
		return;
	case PX_RW_LOST:
		stats->lost++;
		s->s_failure = SF_LOST;
		break;
	case PX_RW_FAILED:
		break;
	}
	snprintf(s->s_fail, sizeof(s->s_fail), "%s", r->message);
	s->s_fail_status = r->status;
	finish_signing(s, 0);
}

/* A signing round: the list, the referrer, or both, per the rule. */
static void
start_round(struct px_sign *s)
{
	s->s_outcome = SO_NONE;
	s->s_bundle_added = 0;
	if (s->s_policy->signature_format == CONF_SF_BUNDLE)
		bundle_round(s);
	else
		read_list(s);
}

/* The list's part of a round is done well: the referrer's, if asked. */
static void
list_done(struct px_sign *s)
{
	if (s->s_policy->signature_format == CONF_SF_BOTH) {
		px_listwrite_free(s->s_lw);
		s->s_lw = NULL;
		bundle_round(s);
		return;
	}
	finish_signing(s, 1);
}

/* The list cycle's end: the signing round's outcome. */
static void
on_list_done(void *arg, const struct px_lw_result *r)
{
	struct px_sign	*s = arg;

	s->s_attempt = r->attempts - 1;
	stats->repaired += (uint64_t)r->repairs;
	switch (r->outcome) {
	case PX_LW_PRESENT:
		/* an identical signature under our key is already there */
		s->s_outcome = s->s_background ? SO_INTACT : SO_PRESENT;
		list_done(s);
		return;
	case PX_LW_WRITTEN:
		s->s_outcome = s->s_bundle_added ? SO_LOGGED :
		    s->s_background ? SO_REPAIRED : SO_SIGNED;
		list_done(s);
		return;
	case PX_LW_ABSENT:
		/*
		 * A recheck found the whole list gone: deleted on purpose
		 * (the subject's DELETE cascade, gc), not lost to a race.
		 * It is not recreated.
		 */
		s->s_outcome = SO_INTACT;
		s->s_recheck = RECHECKS;
		finish_signing(s, 1);
		return;
	case PX_LW_LOST:
		stats->lost++;
		s->s_failure = SF_LOST;	/* counted here */
		break;
	case PX_LW_FAILED:
		break;
	}
	snprintf(s->s_fail, sizeof(s->s_fail), "%s", r->message);
	s->s_fail_status = r->status;
	finish_signing(s, 0);
}

/*
 * The list as read in SG_READ_LIST (get, taken): the cycle goes on from it,
 * with the config upload already made or the session already open.
 */
static void
start_list(struct px_sign *s, struct px_fetch *get)
{
	char	hex[65], guess[CORE_DIGEST_MAX + 1];

	set_state(s, SG_LIST);
	if (s->s_guess_ok) {
		core_sha256_hex(s->s_guess, s->s_guesslen, hex);
		snprintf(guess, sizeof(guess), "sha256:%s", hex);
	}
	s->s_lw = px_listwrite_start(&(struct px_listwrite_req){
	    .up = s->s_up, .base = s->s_base, .endpoint = &s->s_conf->up,
	    .repo = s->s_sigrepo, .tag = s->s_sigtag,
	    .authorization = s->s_own_auth ? s->s_sigauth : s->s_auth,
	    .user_agent = s->s_ua, .origin = s->s_origin,
	    .attempts = SIGN_ATTEMPTS, .create = !s->s_background,
	    .docker = s->s_conf->up_media_types == CONF_MT_DOCKER,
	    .fallback_docker = s->s_conf->up_media_types == CONF_MT_AUTO,
	    .set_aside = 1,
	    .upload = s->s_upload[1], .uploaded = s->s_guess_ok ? guess : NULL,
	    .need = sign_need }, get, on_list_done, s);
	free(s->s_upload[1]);
	s->s_upload[1] = NULL;	/* the cycle's now */
	if (s->s_lw == NULL) {
		snprintf(s->s_fail, sizeof(s->s_fail), "out of memory");
		s->s_fail_status = 500;
		finish_signing(s, 0);
	}
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct px_sign	*s = arg;
	char		 target[600];

	(void)fd;
	(void)what;
	switch (s->s_state) {
	case SG_WAIT_LOCK:	/* the lock was handed over to us */
		take_file_lock(s);
		return;
	case SG_RECHECK_WAIT:
		s->s_background = 1;
		s->s_attempt = 0;
		s->s_outcome = SO_NONE;
		s->s_failure = SF_NONE;
		/*
		 * First, is the image still there?  Deleted since (through
		 * signet, whose cascade took its signature away, or not),
		 * its signature is not put back.
		 */
		if (s->s_auth == NULL && s->s_own_auth &&
		    strcmp(s->s_sigrepo, s->s_repo) != 0) {
			/* resumed, with a token for the signature repository
			 * only: no way to ask about the image */
			take_lock(s);
			return;
		}
		set_state(s, SG_RECHECK_SUBJECT);
		snprintf(target, sizeof(target), "/v2/%s/manifests/%s",
		    s->s_repo, s->s_digest);
		if (send_req(s, 0, s->s_auth == NULL && s->s_own_auth, "HEAD",
		    target, NULL, CORE_MT_ACCEPT_ALL, NULL, 0) == -1)
			take_lock(s);
		return;
	default:
		return;
	}
}

/*
 * A pending recheck is kept in state_dir/rechecks, so a restart (SIGTERM
 * or SIGKILL) does not drop it: the layer signet wrote (payload, signature,
 * bundle), the referrer and its Sigstore bundle (signature_format bundle or
 * both: written again byte for byte), whether only one with its log entry
 * counts (a queued upload's), where, when to look next, and the public key
 * it is by (signet may start again with another).  No credentials: a
 * resumed recheck reads and writes with registry_auth, or anonymously.
 */
static void
recheck_save(struct px_sign *s, long delay_ms)
{
	char	 dir[1024], path[1300], *p64, pem[4096];
	size_t	 n;
	json_t	*o;
	int	 rc;

	if (s->s_conf->state_dir == NULL ||
	    core_key_public_pem(job_key(s), pem, sizeof(pem)) == -1)
		return;
	snprintf(dir, sizeof(dir), "%s/rechecks", s->s_conf->state_dir);
	(void)mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/%s-%s.json", dir, s->s_digest + 7,
	    s->s_pdigest + 7);
	/* the entry is this job's before it exists: a worker starting now
	 * resumes only rechecks nobody runs */
	if (flock_entry(&s->s_rlock, "recheck", path) == 0)
		return;		/* another worker runs this very recheck */
	n = 4 * ((s->s_plen + 2) / 3) + 1;
	p64 = malloc(n);
	if (p64 == NULL || mbedtls_base64_encode((unsigned char *)p64, n, &n,
	    (unsigned char *)s->s_payload, s->s_plen) != 0) {
		free(p64);
		return;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:I, s:i, s:s?, s:s?, "
	    "s:b, s:s}",
	    "repository", s->s_repo, "signature_repository", s->s_sigrepo,
	    "digest", s->s_digest, "payload", p64, "signature", s->s_sig64,
	    "bundle", s->s_bundle, "due", (json_int_t)(time(NULL) +
	    (delay_ms + 999) / 1000), "done", s->s_recheck,
	    "referrer", s->s_referrer, "sigstore_bundle", s->s_sgbundle,
	    "rekor_required", s->s_rekor_mode == CONF_SIGN_REQUIRED,
	    "public_key", pem);
	free(p64);
	rc = save_json(path, o);
	json_decref(o);
	if (rc == -1) {
		px_warn("%s: cannot keep the pending recheck", path);
		return;
	}
	if (s->s_recheck_path == NULL)
		s->s_recheck_path = strdup(path);
}

/* No recheck pending any more (done, lost, or the image is gone). */
static void
recheck_forget(struct px_sign *s)
{
	if (s->s_recheck_path == NULL)
		return;
	unlink(s->s_recheck_path);
	free(s->s_recheck_path);
	s->s_recheck_path = NULL;
	flock_drop(&s->s_rlock);
}

/* Answered the client after writing a signature: look again later. */
static void
schedule_recheck(struct px_sign *s)
{
	struct timeval	tv;

	if (s->s_recheck >= RECHECKS) {
		recheck_forget(s);
		set_state(s, SG_DONE);
		if (s->s_detached)
			sign_destroy(s);
		return;
	}
	tv.tv_sec = recheck_ms[s->s_recheck] / 1000;
	tv.tv_usec = (recheck_ms[s->s_recheck] % 1000) * 1000;
	s->s_recheck++;
	recheck_save(s, recheck_ms[s->s_recheck - 1]);
	set_state(s, SG_RECHECK_WAIT);
	evtimer_add(s->s_timer, &tv);
}

/*
 * With several workers, the digest's lock file too, once this process's
 * lock is ours: tried again every LOCK_RETRY_MS (the loop never blocks)
 * until the worker holding it is done, or dies.  A lock file that cannot
 * be made does not stop signing: the read-back and repair of the list
 * still hold, as between replicas.
 */
#define LOCK_RETRY_MS	20

static void
take_file_lock(struct px_sign *s)
{
	struct timeval	 tv = { 0, LOCK_RETRY_MS * 1000 };
	char		 key[CORE_NAME_MAX + CORE_DIGEST_MAX + 2], hex[65];
	char		 name[80];

	snprintf(key, sizeof(key), "%s@%s", s->s_sigrepo, s->s_digest);
	core_sha256_hex(key, strlen(key), hex);
	snprintf(name, sizeof(name), "sign-%s.lock", hex);
	if (flock_take(&s->s_dlock, name) == 0) {
		evtimer_add(s->s_timer, &tv);	/* on_retry: again */
		return;
	}
	start_round(s);
}

static void
take_lock(struct px_sign *s)
{
	set_state(s, SG_WAIT_LOCK);
	switch (lock_acquire(s)) {
	case 1:
		take_file_lock(s);
		break;
	case 0:
		break;	/* on_retry runs when it is our turn */
	default:
		if (s->s_background) {
			/* out of memory: give the recheck up */
			set_state(s, SG_DONE);
			s->s_background = 0;
			if (s->s_detached)
				sign_destroy(s);
			/* else the connection frees it (px_sign_free) */
			return;
		}
		snprintf(s->s_fail, sizeof(s->s_fail), "out of memory");
		s->s_fail_status = 500;
		finish_signing(s, 0);
	}
}

/*
 * mirror_signatures_from: the signatures another registry holds for this
 * digest under the same repository path are checked by the core driver
 * against the rule's trusted signers (as a pull would check them), and the
 * valid ones (their payload blobs copied here) are merged into the list
 * with ours, before the tag.  A mirror that fails is a warning only.
 */
static void	mirror_on_verdict(void *, struct core_verifier *);

static void
mirror_drop(struct px_sign *s)
{
	px_sigcheck_free(s->s_mcheck);
	s->s_mcheck = NULL;
	core_verifier_free(s->s_mrun);
	s->s_mrun = NULL;
	conf_endpoint_free(s->s_mep);
	s->s_mep = NULL;
}

static void
mirror_next_registry(struct px_sign *s)
{
	struct core_vopts	 o;
	struct px_sigcheck_req	 rq;
	char			 url[300], err[CONF_ERR_MAX];
	const char		*m;

	set_state(s, SG_MIRROR);
	for (;;) {
		mirror_drop(s);
		if (++s->s_mi >= s->s_policy->nmirrors) {
			take_lock(s);
			return;
		}
		m = s->s_policy->mirrors[s->s_mi];
		/* the mirror is reached as the upstream is, with its CA file */
		snprintf(url, sizeof(url), "%s%s", strstr(m, "://") ? "" :
		    "https://", m);
		s->s_mep = conf_endpoint_new(url, s->s_conf->up.ca, err,
		    sizeof(err));
		if (s->s_mep == NULL) {
			px_warn("mirror %s: %s", m, err);
			continue;
		}
		/* every layer, each on its own, as the rule checks them; a
		 * mirror's signatures name the image at the mirror */
		snprintf(s->s_mref, sizeof(s->s_mref), "%s/%s",
		    s->s_mep->hostport, s->s_repo);
		conf_policy_vopts(s->s_conf, s->s_policy, s->s_mref,
		    &s->s_mtrust, &o);
		o.threshold = 1;
		o.all = 1;
		o.bundles = 1;	/* cosign v3's referrers too, copied whole */
		o.keep = 1;
		s->s_mrun = core_verifier_new(&o, s->s_digest);
		memset(&rq, 0, sizeof(rq));
		rq.endpoint = s->s_mep;
		rq.up = s->s_up;
		rq.sigrepo = s->s_repo;
		rq.rekor_url = s->s_conf->rekor_url;
		s->s_mcheck = s->s_mrun != NULL ? px_sigcheck_start(&rq,
		    s->s_mrun, mirror_on_verdict, s) : NULL;
		if (s->s_mcheck != NULL)
			return;
		px_warn("mirror %s: cannot start a request", m);
	}
}

static void	on_mirror_referrer(void *, const struct px_rw_result *);
static void	mirror_next_layer(struct px_sign *);

/*
 * A valid cosign v3 signature at the mirror: its referrer, byte for byte
 * (the same digest), with its bundle, written here as signet writes its
 * own (refwrite.c: the blobs, the referrer, the sha256-<hex> index where
 * the registry has no referrers API).  -1 when it cannot be taken.
 */
static int
mirror_referrer(struct px_sign *s, const struct core_vvalid *vv)
{
	const char	*m = s->s_policy->mirrors[s->s_mi], *cfg;
	json_t		*o;
	int		 empty;

	if (vv->manifest == NULL || vv->bundle == NULL) {
		px_warn("%s@%s: mirror %s: referrer %s not taken: out of "
		    "memory", s->s_repo, s->s_digest, m, vv->ref);
		return -1;
	}
	/* refwrite.c uploads the empty config every cosign referrer has */
	o = json_loadb(vv->manifest, vv->mlen, 0, NULL);
	cfg = json_string_value(json_object_get(json_object_get(o, "config"),
	    "digest"));
	empty = cfg != NULL && strcmp(cfg, CORE_EMPTY_DIGEST) == 0;
	json_decref(o);
	if (!empty) {
		px_warn("%s@%s: mirror %s: referrer %s not taken: its config "
		    "is not the empty one", s->s_repo, s->s_digest, m,
		    vv->ref);
		return -1;
	}
	s->s_rw = px_refwrite_start(&(struct px_refwrite_req){
	    .up = s->s_up, .base = s->s_base, .endpoint = &s->s_conf->up,
	    .repo = s->s_sigrepo,
	    .authorization = s->s_own_auth ? s->s_sigauth : s->s_auth,
	    .user_agent = s->s_ua, .origin = s->s_origin,
	    .subject = s->s_digest, .bundle = vv->bundle, .blen = vv->blen,
	    .referrer = vv->manifest, .create = 1,
	    .attempts = SIGN_ATTEMPTS }, on_mirror_referrer, s);
	if (s->s_rw == NULL) {
		px_warn("%s@%s: mirror %s: referrer %s not taken: cannot "
		    "start writing it", s->s_repo, s->s_digest, m, vv->ref);
		return -1;
	}
	return 0;
}

static void
on_mirror_referrer(void *arg, const struct px_rw_result *r)
{
	struct px_sign	*s = arg;
	const char	*m = s->s_policy->mirrors[s->s_mi];

	switch (r->outcome) {
	case PX_RW_WRITTEN:
		px_info("%s@%s: a signature (referrer %s) taken from mirror "
		    "%s", s->s_repo, s->s_digest, r->referrer, m);
		break;
	case PX_RW_PRESENT:
		break;
	default:
		px_warn("%s@%s: copying referrer %s from mirror %s: %s",
		    s->s_repo, s->s_digest, r->referrer, m, r->message);
		break;
	}
	px_refwrite_free(s->s_rw);
	s->s_rw = NULL;
	s->s_ml++;
	mirror_next_layer(s);
}

/*
 * Copy the next valid signature here (a .sig layer's payload blob, merged
 * into the list later; a referrer, written now), or go to the next mirror.
 */
static void
mirror_next_layer(struct px_sign *s)
{
	const struct core_vvalid	*vv;
	char				 target[600];

	while (s->s_ml < core_verifier_nvalid(s->s_mrun)) {
		vv = core_verifier_valid(s->s_mrun, s->s_ml);
		if (vv->layer == CORE_VVALID_REFERRER) {
			if (mirror_referrer(s, vv) == 0)
				return;
			s->s_ml++;
			continue;
		}
		snprintf(target, sizeof(target), "/v2/%s/blobs/uploads/",
		    s->s_sigrepo);
		s->s_mstep = 2;
		if (send_req(s, 0, 1, "POST", target, NULL, NULL, "", 0) == 0)
			return;
		drop_fetches(s);
		s->s_ml++;
	}
	mirror_next_registry(s);
}

static void
mirror_on_verdict(void *arg, struct core_verifier *run)
{
	struct px_sign		*s = arg;
	const char		*m = s->s_policy->mirrors[s->s_mi], *reason;
	enum core_verdict	 d = core_verifier_verdict(run, &reason);

	px_sigcheck_free(s->s_mcheck);
	s->s_mcheck = NULL;
	if (d == CORE_VERDICT_INDETERMINATE)
		px_warn("%s@%s: mirror %s: %s", s->s_repo, s->s_digest, m,
		    reason);
	else if (core_verifier_nvalid(run) < core_verifier_looked(run))
		px_info("%s@%s: %zu of %zu signature(s) from mirror %s taken; "
		    "one not taken: %s", s->s_repo, s->s_digest,
		    core_verifier_nvalid(run), core_verifier_looked(run), m,
		    core_verifier_last_refusal(run) != NULL ?
		    core_verifier_last_refusal(run) : reason);
	s->s_ml = 0;
	mirror_next_layer(s);
}

static void
mirror_step(struct px_sign *s, struct px_fetch *f)
{
	const struct core_vvalid *vv = core_verifier_valid(s->s_mrun, s->s_ml);
	const char		*m = s->s_policy->mirrors[s->s_mi];
	const char		*digest;
	char			*u;
	int			 st = px_fetch_status(f);

	digest = json_string_value(json_object_get(core_sigman_layer_json(
	    core_verifier_list(s->s_mrun), vv->layer), "digest"));
	switch (s->s_mstep) {
	case 2:		/* an upload session here for that payload */
		u = st == 202 && px_fetch_location(f) != NULL ?
		    upload_url(px_fetch_location(f), digest) : NULL;
		s->s_mstep = 3;
		if (u == NULL || send_req(s, 0, 1, "PUT", u,
		    "application/octet-stream", NULL, vv->payload, vv->len) ==
		    -1) {
			free(u);
			drop_fetches(s);
			s->s_ml++;
			mirror_next_layer(s);
			return;
		}
		free(u);
		return;
	case 3:		/* the payload is here: keep the layer to merge */
		if (st == 201) {
			json_array_append_new(s->s_mirrored, json_deep_copy(
			    core_sigman_layer_json(core_verifier_list(
			    s->s_mrun), vv->layer)));
			px_info("%s@%s: a signature taken from mirror %s",
			    s->s_repo, s->s_digest, m);
		} else
			px_warn("%s@%s: copying a signature payload from "
			    "mirror %s: upstream answered HTTP %d", s->s_repo,
			    s->s_digest, m, st);
		s->s_ml++;
		mirror_next_layer(s);
		return;
	}
}

/* Merge the mirrored layers the list lacks; the number appended. */
static int
merge_mirrored(struct px_sign *s, struct core_sigman *list)
{
	json_t	*layer;
	size_t	 i;
	int	 n = 0;

	if (s->s_mirrored == NULL)
		return 0;
	json_array_foreach(s->s_mirrored, i, layer)
		if (core_sigman_merge_layer(list, layer) == 1)
			n++;
	return n;
}

/* put-digest: the manifest by digest, and two upload sessions */
static void
done_put_digest(struct px_sign *s)
{
	struct px_fetch	*f0 = s->s_f[0], *f1 = s->s_f[1], *f2 = s->s_f[2];
	int		 st = f0 != NULL ? px_fetch_status(f0) : 0;

	if (!tag_only(s) && (st < 200 || st > 299)) {
		/* the upstream's verdict on the manifest: no signing */
		set_state(s, SG_DONE);
		answer_fetch(s, f0);
		return;
	}
	s->s_answer = f0;
	s->s_f[0] = NULL;
	if ((f1 != NULL && (px_fetch_status(f1) != 202 ||
	    px_fetch_location(f1) == NULL)) || px_fetch_status(f2) != 202 ||
	    px_fetch_location(f2) == NULL) {
		fail_http(s, f1 != NULL && px_fetch_status(f1) != 202 ? f1 : f2,
		    "starting a blob upload for the signature");
		drop_fetches(s);
		finish_signing(s, 0);
		return;
	}
	if (f1 != NULL)
		s->s_upload[0] = strdup(px_fetch_location(f1));
	s->s_upload[1] = strdup(px_fetch_location(f2));
	drop_fetches(s);
	if (s->s_policy->nmirrors > 0 && s->s_mirrored == NULL) {
		s->s_mirrored = json_array();
		s->s_mi = -1;
		mirror_next_registry(s);
		return;
	}
	take_lock(s);
}

/* mirror: a request of mirror_signatures_from */
static void
done_mirror(struct px_sign *s)
{
	struct px_fetch	*f0 = s->s_f[0];

	s->s_f[0] = NULL;
	mirror_step(s, f0);
	px_fetch_free(f0);
}

/* read-list: the list, the payload blob (and the guessed config), the log */
static void
done_read_list(struct px_sign *s)
{
	struct px_fetch	*f0 = s->s_f[0], *f1 = s->s_f[1], *f2 = s->s_f[2];

	if (!s->s_payload_up) {
		if (px_fetch_status(f1) != 201) {
			fail_http(s, f1, "uploading the payload blob");
			drop_fetches(s);
			finish_signing(s, 0);
			return;
		}
		s->s_payload_up = 1;
		free(s->s_upload[0]);
		s->s_upload[0] = NULL;
	}
	if (s->s_guess_sent) {
		s->s_guess_sent = 0;
		s->s_guess_ok = px_fetch_status(f2) == 201;
	}
	s->s_f[0] = NULL;
	if (s->s_rekor_sent) {
		struct px_fetch *f3 = s->s_f[3];

		s->s_f[3] = NULL;
		switch (rekor_answer(s, f3)) {
		case 1:		/* 409: fetch the entry, keep the list */
			px_fetch_free(f3);
			s->s_listget = f0;
			set_state(s, SG_REKOR_GET);
			return;
		case -1:
			px_fetch_free(f3);
			px_fetch_free(f0);
			drop_fetches(s);
			finish_signing(s, 0);
			return;
		}
		px_fetch_free(f3);
	}
	drop_fetches(s);
	start_list(s, f0);
}

/* rekor-get: the log's existing entry (after a 409) */
static void
done_rekor_get(struct px_sign *s)
{
	struct px_fetch *f3 = s->s_f[3], *lg = s->s_listget;

	s->s_f[3] = NULL;
	s->s_listget = NULL;
	switch (rekor_answer(s, f3)) {
	case 1:		/* a consistency proof asked for: wait for it */
		px_fetch_free(f3);
		s->s_listget = lg;
		return;
	case -1:
		px_fetch_free(f3);
		px_fetch_free(lg);
		drop_fetches(s);
		finish_signing(s, 0);
		return;
	}
	px_fetch_free(f3);
	drop_fetches(s);
	set_state(s, SG_READ_LIST);
	start_list(s, lg);
}

/* put-tag: the tag: the push's answer */
static void
done_put_tag(struct px_sign *s)
{
	struct px_fetch	*f0 = s->s_f[0];
	char		 target[600];

	s->s_f[0] = NULL;
	drop_fetches(s);
	if (f0 != NULL && px_fetch_immutable(f0)) {
		/*
		 * An immutable tag that exists: the push of the same image
		 * again is a success; another image's tag stays a refusal,
		 * in the registry's words.
		 */
		s->s_refusal = f0;
		set_state(s, SG_TAG_CHECK);
		snprintf(target, sizeof(target), "/v2/%s/manifests/%s",
		    s->s_repo, s->s_ref);
		if (send_req(s, 0, 0, "HEAD", target, NULL,
		    CORE_MT_ACCEPT_ALL, NULL, 0) == 0)
			return;
		s->s_refusal = NULL;
	}
	set_state(s, SG_DONE);
	if (s->s_wrote)
		schedule_recheck(s);
	answer_fetch(s, f0);
	px_fetch_free(f0);
}

/* tag-check: the immutable tag names this very manifest: done */
static void
done_tag_check(struct px_sign *s)
{
	struct px_fetch		*f0 = s->s_f[0], *refusal = s->s_refusal;
	struct px_signer_result	 r;
	char			 msg[900];
	int			 same, absent;

	same = f0 != NULL && px_fetch_status(f0) == 200 &&
	    strcmp(px_fetch_digest(f0), s->s_digest) == 0;
	absent = f0 != NULL && px_fetch_status(f0) == 404;
	s->s_refusal = NULL;
	drop_fetches(s);
	set_state(s, SG_DONE);
	if (s->s_wrote)
		schedule_recheck(s);
	if (same) {
		px_info("%s:%s is immutable and already names %s: the push "
		    "is done", s->s_repo, s->s_ref, s->s_digest);
		if (s->s_answer != NULL)
			answer_fetch(s, s->s_answer);	/* the PUT by digest */
		else {
			/* tag-only: nothing was written; as the PUT would */
			memset(&r, 0, sizeof(r));
			r.ok = 1;
			r.status = 201;
			r.digest = s->s_digest;
			deliver(s, &r);
		}
	} else if (absent && s->s_answer != NULL) {
		/*
		 * A new tag refused for a manifest the registry took by
		 * digest a moment ago: it allows one name per manifest.  The
		 * manifest can never be tagged now; say which setting works.
		 */
		snprintf(msg, sizeof(msg), "the registry refused the new tag "
		    "%s:%s for %s, which it holds by digest (%s): it refuses a "
		    "second name for a manifest (Nexus' \"Disable redeploy\"); "
		    "set upstream.manifest_put to \"tag-only\" so that signet "
		    "writes the manifest once, by its tag", s->s_repo,
		    s->s_ref, s->s_digest, px_fetch_reason(refusal));
		px_warn("%s", msg);
		answer_error(s, px_fetch_status(refusal), "TAG_INVALID", msg);
	} else
		answer_fetch(s, refusal);
	px_fetch_free(refusal);
}

/* recheck-subject: a 404 ends the rechecks; anything else looks at the
 * list (a fault is no reason to leave a signature lost) */
static void
done_recheck_subject(struct px_sign *s)
{
	int	st = s->s_f[0] != NULL ? px_fetch_status(s->s_f[0]) : 0;

	drop_fetches(s);
	if (st == 404) {
		px_debug("sign %s@%s: the image is gone; no more rechecks",
		    s->s_repo, s->s_digest);
		s->s_background = 0;
		s->s_recheck = RECHECKS;
		recheck_forget(s);
		set_state(s, SG_DONE);
		if (s->s_detached)
			sign_destroy(s);
		return;
	}
	take_lock(s);
}

/* What answered requests mean, state by state. */
static void (*const on_done[])(struct px_sign *) = {
	[SG_PUT_DIGEST] = done_put_digest,
	[SG_MIRROR] = done_mirror,
	[SG_READ_LIST] = done_read_list,
	[SG_REKOR_GET] = done_rekor_get,
	[SG_BUNDLE_REKOR] = done_bundle_rekor,
	[SG_PUT_TAG] = done_put_tag,
	[SG_TAG_CHECK] = done_tag_check,
	[SG_RECHECK_SUBJECT] = done_recheck_subject,
};

/* Every request of the current step answered: go on from its state. */
static void
sign_step(struct px_sign *s)
{
	if ((size_t)s->s_state >= sizeof(on_done) / sizeof(on_done[0]) ||
	    on_done[s->s_state] == NULL) {
		px_error("sign: unexpected completion in state %s",
		    state_names[s->s_state]);
		drop_fetches(s);
		return;
	}
	on_done[s->s_state](s);
}

/* Signing is over, well or not: log it, then answer or create the tag. */
static void
finish_signing(struct px_sign *s, int ok)
{
	struct timeval	 now, d;
	enum conf_sign	 mode = s->s_policy->sign;
	json_t		*o;
	char		 msg[1200];

	lock_release(s);
	drop_fetches(s);
	px_listwrite_free(s->s_lw);
	s->s_lw = NULL;
	px_refwrite_free(s->s_rw);
	s->s_rw = NULL;
	px_sigcheck_free(s->s_pcheck);
	s->s_pcheck = NULL;
	core_verifier_free(s->s_prun);
	s->s_prun = NULL;
	gettimeofday(&now, NULL);
	timersub(&now, &s->s_start, &d);
	if (!ok && s->s_queue_path != NULL)
		stats->queue_failed++;	/* its signature was counted once */
	else if (!ok)
		stats->failed++;
	else if (s->s_outcome == SO_PRESENT)
		stats->present++;
	else if (s->s_outcome == SO_SIGNED)
		stats->signed_++;
	else if (s->s_outcome == SO_REPAIRED)
		stats->repaired++;
	/* a late bundle rewrote the list too: a concurrent writer may drop
	 * the layer then as well */
	if (ok && (s->s_outcome == SO_SIGNED || s->s_outcome == SO_REPAIRED ||
	    s->s_outcome == SO_LOGGED))
		s->s_wrote = 1;
	if (!s->s_background || !ok || s->s_outcome != SO_INTACT) {
		o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:i, "
		    "s:f}",
		    "msg", "signature", "conn", (json_int_t)s->s_id,
		    "repository", s->s_repo, "digest", s->s_digest,
		    "signature_repository", s->s_sigrepo,
		    "key", core_key_fingerprint(job_key(s)),
		    "mode", conf_sign_name(mode),
		    "outcome", ok ? outcome_names[s->s_outcome] : "failed",
		    "attempts", s->s_attempt + 1,
		    "duration_ms", d.tv_sec * 1000.0 + d.tv_usec / 1000.0);
		if (o != NULL && !ok)
			json_object_set_new(o, "error", json_string(s->s_fail));
		if (o != NULL)
			px_log_fields(ok ? CONF_LOG_INFO : CONF_LOG_WARN, o);
	}

	if (s->s_background) {
		/* a recheck: nobody to answer */
		s->s_background = 0;
		if (!ok) {
			if (s->s_failure != SF_LOST)
				stats->lost++;	/* counted there already */
			recheck_forget(s);	/* logged above */
			set_state(s, SG_DONE);
			if (s->s_detached)
				sign_destroy(s);
			return;
		}
		schedule_recheck(s);
		return;
	}
	if (!ok && mode == CONF_SIGN_REQUIRED) {
		snprintf(msg, sizeof(msg), "signing is required for %s and "
		    "failed, so %s was not %s: %s", s->s_repo, s->s_by_tag ?
		    "the tag" : "the push", s->s_by_tag ? "created" :
		    "completed", s->s_fail);
		set_state(s, SG_DONE);
		s->s_refused = 1;
		answer_error(s, s->s_fail_status ? s->s_fail_status : 403,
		    s->s_fail_status >= 500 ? "UNAVAILABLE" : "DENIED", msg);
		return;
	}
	if (s->s_by_tag) {
		put_tag(s);
		return;
	}
	set_state(s, SG_DONE);
	/* a queued Rekor upload rewrote shared state as a push does: it is
	 * looked at again as a push's is (queue_done hands it over) */
	if (s->s_wrote && (!s->s_command || s->s_queue_path != NULL))
		schedule_recheck(s);
	if (s->s_command) {
		struct px_signer_result	r;

		memset(&r, 0, sizeof(r));
		r.ok = ok;
		r.status = ok ? 201 : s->s_fail_status;
		r.message = ok ? outcome_names[s->s_outcome] : s->s_fail;
		deliver(s, &r);
	} else if (s->s_answer != NULL)
		answer_fetch(s, s->s_answer);
	else
		answer_error(s, 502, "UNAVAILABLE", s->s_fail);
}

static void
on_auth(void *arg, const char *header, const char *err)
{
	struct px_sign	*s = arg;

	px_auth_free(s->s_authjob);
	s->s_authjob = NULL;
	if (err != NULL) {
		snprintf(s->s_fail, sizeof(s->s_fail), "registry_auth for %s: "
		    "%s", s->s_sigrepo, err);
		s->s_fail_status = 403;
		set_state(s, SG_DONE);
		/* nothing written yet: answer as a refused push */
		if (s->s_policy->sign == CONF_SIGN_REQUIRED ||
		    s->s_command) {
			stats->failed++;
			answer_error(s, 403, "DENIED", s->s_fail);
			return;
		}
		s->s_own_auth = 0;	/* best-effort: try the client's */
	} else if (header != NULL)
		s->s_sigauth = strdup(header);
	put_digest(s);
}

/*
 * The signature repository is another repository and registry_auth is
 * configured: get its token first (usually from the cache), then go on.
 */
static void
begin(struct px_sign *s)
{
	const char	*cached;

	s->s_own_auth = strcmp(s->s_sigrepo, s->s_repo) != 0 &&
	    s->s_conf->reg_user != NULL;
	if (!s->s_own_auth) {
		put_digest(s);
		return;
	}
	set_state(s, SG_AUTH);
	s->s_authjob = px_auth_get(s->s_conf, s->s_up, s->s_sigrepo, on_auth,
	    s, &cached);
	if (s->s_authjob != NULL)
		return;
	if (cached != NULL) {
		s->s_sigauth = strdup(cached);
		put_digest(s);
		return;
	}
	on_auth(s, NULL, "cannot start the token flow");
}

static void
sign_destroy(struct px_sign *s)
{
	if (s->s_detached)
		TAILQ_REMOVE(&sign_background, s, s_bg);
	lock_release(s);
	drop_fetches(s);
	px_fetch_free(s->s_answer);
	if (s->s_timer != NULL)
		event_free(s->s_timer);
	if (s->s_auth != NULL) {
		mbedtls_platform_zeroize(s->s_auth, strlen(s->s_auth));
		free(s->s_auth);
	}
	if (s->s_sigauth != NULL) {
		mbedtls_platform_zeroize(s->s_sigauth, strlen(s->s_sigauth));
		free(s->s_sigauth);
	}
	px_auth_free(s->s_authjob);
	free(s->s_ua);
	px_listwrite_free(s->s_lw);
	px_refwrite_free(s->s_rw);
	px_sigcheck_free(s->s_pcheck);
	core_verifier_free(s->s_prun);
	free(s->s_sgbundle);
	free(s->s_referrer);
	free(s->s_stmt);
	free(s->s_dsig);
	conf_unref(s->s_conf);
	free(s->s_manifest);
	free(s->s_payload);
	free(s->s_guess);
	mirror_drop(s);
	json_decref(s->s_mirrored);
	free(s->s_bundle);
	free(s->s_queue_path);
	free(s->s_recheck_path);	/* the file stays: resumed at start */
	core_key_free(s->s_oldkey);
	flock_drop(&s->s_rlock);
	flock_drop(&s->s_qlock);
	px_fetch_free(s->s_listget);
	px_fetch_free(s->s_refusal);
	free(s->s_upload[0]);
	free(s->s_upload[1]);
	free(s);
}

void
px_signer_abandon(struct px_sign *s)
{
	if (s == NULL)
		return;
	s->s_cb = NULL;
	if (s->s_state == SG_RECHECK_WAIT || s->s_background) {
		/* the client is answered; the recheck goes on without it */
		s->s_detached = 1;
		TAILQ_INSERT_TAIL(&sign_background, s, s_bg);
		return;
	}
	sign_destroy(s);
}

void
px_sign_shutdown(void)
{
	struct px_sign	*s;

	while ((s = TAILQ_FIRST(&sign_background)) != NULL)
		sign_destroy(s);
	if (queue_job != NULL) {
		sign_destroy(queue_job);
		queue_job = NULL;
	}
	queue_more = NULL;
}

struct px_sign *
px_signer_start(const struct px_signer_req *rq, px_signer_fn cb, void *arg)
{
	struct px_sign	*s;
	char		 hex[65];

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->s_conf = conf_ref(rq->conf);
	s->s_up = rq->up;
	s->s_cb = cb;
	s->s_cb_arg = arg;
	s->s_command = rq->command;
	s->s_id = rq->id;
	s->s_policy = conf_policy_for(rq->conf, rq->repo);
	gettimeofday(&s->s_start, NULL);
	s->s_base = rq->base;
	s->s_timer = evtimer_new(rq->base, on_retry, s);
	s->s_manifest = malloc(rq->mlen + 1);
	s->s_auth = rq->authorization != NULL ? strdup(rq->authorization) :
	    NULL;
	s->s_ua = rq->user_agent != NULL ? strdup(rq->user_agent) : NULL;
	if (s->s_timer == NULL || s->s_manifest == NULL || s->s_policy == NULL ||
	    (rq->authorization != NULL && s->s_auth == NULL) ||
	    (rq->user_agent != NULL && s->s_ua == NULL)) {
		sign_destroy(s);
		return NULL;
	}
	memcpy(s->s_manifest, rq->manifest, rq->mlen);
	s->s_upload[0] = rq->upload != NULL ? strdup(rq->upload) : NULL;
	if (rq->upload != NULL && s->s_upload[0] == NULL) {
		sign_destroy(s);
		return NULL;
	}
	s->s_mlen = rq->mlen;
	s->s_rekor_mode = s->s_policy->rekor_upload;
	snprintf(s->s_repo, sizeof(s->s_repo), "%s", rq->repo);
	snprintf(s->s_sigrepo, sizeof(s->s_sigrepo), "%s",
	    rq->conf->sig_repo != NULL ? rq->conf->sig_repo : rq->repo);
	snprintf(s->s_ctype, sizeof(s->s_ctype), "%s",
	    rq->content_type != NULL ? rq->content_type :
	    CORE_MT_DOCKER_MANIFEST);
	snprintf(s->s_origin, sizeof(s->s_origin), "%s",
	    rq->origin != NULL ? rq->origin : "");
	core_sha256_hex(rq->manifest, rq->mlen, hex);
	snprintf(s->s_digest, sizeof(s->s_digest), "sha256:%s", hex);
	s->s_by_tag = rq->tag != NULL;
	snprintf(s->s_ref, sizeof(s->s_ref), "%s", rq->tag != NULL ? rq->tag :
	    s->s_digest);
	core_sig_tag(s->s_digest, s->s_sigtag);
	if (make_payload(s) == -1) {
		sign_destroy(s);
		return NULL;
	}
	begin(s);
	return s;
}

const char *
px_sign_sigtag(const struct px_sign *s)
{
	return s->s_sigtag;
}

/* The queue of best-effort Rekor uploads, retried one at a time. */

static void
queue_done(void *arg, const struct px_signer_result *r)
{
	struct px_sign	*s = queue_job;

	(void)arg;
	if (s == NULL)
		return;
	if (r->ok) {
		px_info("queued Rekor upload done for %s@%s (%s)", s->s_repo,
		    s->s_digest, r->message);
		unlink(s->s_queue_path);
		flock_drop(&s->s_qlock);
		/* the log answers: the rest of the backlog need not wait */
		if (queue_more != NULL)
			queue_more(queue_more_arg);
	} else
		px_debug("queued Rekor upload for %s@%s still failing: %s",
		    s->s_repo, s->s_digest, r->message);
	if (s->s_state == SG_RECHECK_WAIT) {
		/*
		 * It wrote the list (or the referrer): its rechecks run in
		 * the background like a push's, and it frees itself after
		 * the last (schedule_recheck); the queue goes on without it.
		 */
		queue_job = NULL;
		s->s_detached = 1;
		TAILQ_INSERT_TAIL(&sign_background, s, s_bg);
		return;
	}
	/* freed from the next run, outside this callback chain */
	set_state(s, SG_DONE);
}

void
px_sign_queue_run(struct conf *cf, struct px_upstream *up,
    struct event_base *base, void (*more)(void *), void *arg)
{
	struct px_signer_req rq;
	char		 dir[1024], path[1400];
	json_t		*o;
	const char	*repo, *ct, *m64, *key;
	unsigned char	*man;
	size_t		 n;
	DIR		*d;
	struct file_lock fl = { NULL, -1 };

	if (queue_job != NULL) {
		if (queue_job->s_state != SG_DONE)
			return;
		sign_destroy(queue_job);
		queue_job = NULL;
	}
	queue_more = more;
	queue_more_arg = arg;
	if (cf->state_dir == NULL || cf->rekor_url == NULL ||
	    cf->sign_key == NULL)
		return;
	snprintf(dir, sizeof(dir), "%s/rekor-queue", cf->state_dir);
	d = opendir(dir);
	if (d == NULL)
		return;
	while (next_json(d, dir, "queue", &fl, path, sizeof(path), &o)) {
		repo = json_string_value(json_object_get(o, "repository"));
		ct = json_string_value(json_object_get(o, "content_type"));
		m64 = json_string_value(json_object_get(o, "manifest"));
		key = json_string_value(json_object_get(o, "key"));
		if (key != NULL && strcmp(key,
		    core_key_fingerprint(cf->sign_key)) != 0) {
			/*
			 * Signed with a key no longer configured: the job
			 * would sign again with today's key, a signature
			 * nobody asked for, and leave that one unlogged.
			 */
			px_warn("%s: queued for key %s, the signing key is "
			    "now %s: removed, that signature stays without "
			    "a Rekor bundle", path, key,
			    core_key_fingerprint(cf->sign_key));
			unlink(path);
			flock_drop(&fl);
			json_decref(o);
			continue;
		}
		man = m64 != NULL ? core_b64_decode(m64, &n) : NULL;
		if (repo == NULL || ct == NULL || man == NULL ||
		    conf_policy_for(cf, repo) == NULL) {
			px_warn("%s: unusable queue entry, removed", path);
			unlink(path);
			flock_drop(&fl);
			free(man);
			json_decref(o);
			continue;
		}
		memset(&rq, 0, sizeof(rq));
		rq.conf = cf;
		rq.up = up;
		rq.base = base;
		rq.repo = repo;
		rq.content_type = ct;
		rq.manifest = (char *)man;
		rq.mlen = n;
		rq.command = 1;
		queue_job = px_signer_start(&rq, queue_done, NULL);
		free(man);
		json_decref(o);
		if (queue_job != NULL) {
			queue_job->s_queue_path = strdup(path);
			queue_job->s_rekor_mode = CONF_SIGN_REQUIRED;
			queue_job->s_qlock = fl;	/* held while it runs */
		} else
			flock_drop(&fl);
		break;
	}
	closedir(d);
}

/*
 * A drain (SIGTERM): rechecks waiting for their time run now, once, so a
 * signature lost moments ago is repaired before the exit; the next round
 * stays in state_dir for the next start.  The number still running.
 */
int
px_sign_drain(void)
{
	struct px_sign	*s;
	int		 busy = 0;

	TAILQ_FOREACH(s, &sign_background, s_bg) {
		if (s->s_state == SG_RECHECK_WAIT && !s->s_drained) {
			s->s_drained = 1;
			evtimer_del(s->s_timer);
			event_active(s->s_timer, EV_TIMEOUT, 1);
			busy++;
		} else if (s->s_state != SG_RECHECK_WAIT &&
		    s->s_state != SG_DONE)
			busy++;
	}
	return busy;
}

/* A resumed recheck waits for its time, with its credentials in hand. */
static void
resume_wait(struct px_sign *s)
{
	struct timeval	tv;

	set_state(s, SG_RECHECK_WAIT);
	tv.tv_sec = s->s_resume_due > time(NULL) ?
	    (long)(s->s_resume_due - time(NULL)) : 0;
	tv.tv_usec = 0;
	evtimer_add(s->s_timer, &tv);
}

static void
on_resumed_auth(void *arg, const char *header, const char *err)
{
	struct px_sign	*s = arg;

	px_auth_free(s->s_authjob);
	s->s_authjob = NULL;
	if (err == NULL && header != NULL)
		s->s_sigauth = strdup(header);
	if (s->s_sigauth == NULL) {
		px_warn("resumed recheck of %s@%s: registry_auth: %s; "
		    "anonymously", s->s_repo, s->s_digest, err != NULL ? err :
		    "no token");
		s->s_own_auth = 0;
	}
	resume_wait(s);
}

/* One kept recheck, as a background job waiting for its time. */
static void
resume_one(struct conf *cf, struct px_upstream *up, struct event_base *base,
    const char *path, json_t *o, struct file_lock *fl)
{
	struct px_sign	*s;
	const char	*repo, *sigrepo, *digest, *p64, *sig, *bundle, *cached;
	const char	*ref, *sgb, *pem;
	unsigned char	*payload = NULL;
	size_t		 plen = 0;
	char		 hex[65], err[256];
	json_int_t	 due;
	struct core_key	*key = NULL;

	repo = json_string_value(json_object_get(o, "repository"));
	sigrepo = json_string_value(json_object_get(o, "signature_repository"));
	digest = json_string_value(json_object_get(o, "digest"));
	p64 = json_string_value(json_object_get(o, "payload"));
	sig = json_string_value(json_object_get(o, "signature"));
	bundle = json_string_value(json_object_get(o, "bundle"));
	ref = json_string_value(json_object_get(o, "referrer"));
	sgb = json_string_value(json_object_get(o, "sigstore_bundle"));
	due = json_integer_value(json_object_get(o, "due"));
	pem = json_string_value(json_object_get(o, "public_key"));
	if (p64 != NULL)
		payload = core_b64_decode(p64, &plen);
	/* older files have no key: today's is theirs */
	if (pem != NULL)
		key = core_key_load_public_pem(pem, strlen(pem), "public_key",
		    err, sizeof(err));
	s = calloc(1, sizeof(*s));
	if ((pem != NULL && key == NULL) || repo == NULL || sigrepo == NULL ||
	    digest == NULL || sig == NULL || payload == NULL || s == NULL ||
	    strlen(sig) >= sizeof(s->s_sig64) ||
	    !core_name_valid(repo, strlen(repo)) ||
	    !core_name_valid(sigrepo, strlen(sigrepo)) ||
	    strncmp(digest, "sha256:", 7) != 0 ||
	    !core_digest_valid(digest, strlen(digest)) ||
	    conf_policy_for(cf, repo) == NULL) {
		px_warn("%s: unusable pending recheck, removed", path);
		unlink(path);
		flock_drop(fl);
		core_key_free(key);
		free(payload);
		free(s);
		return;
	}
	if (key != NULL && strcmp(core_key_fingerprint(key),
	    core_key_fingerprint(cf->sign_key)) != 0) {
		/* the layer is restored as it was, by the key it was made
		 * with, which is the one it is looked for by */
		px_info("%s: made with key %s, the signing key is now %s: "
		    "rechecked as made", path, core_key_fingerprint(key),
		    core_key_fingerprint(cf->sign_key));
		s->s_oldkey = key;
	} else
		core_key_free(key);
	s->s_rlock = *fl;	/* this worker's to run */
	s->s_conf = conf_ref(cf);
	s->s_up = up;
	s->s_base = base;
	s->s_policy = conf_policy_for(cf, repo);
	s->s_timer = evtimer_new(base, on_retry, s);
	s->s_payload = (char *)payload;
	s->s_plen = plen;
	s->s_recheck_path = strdup(path);
	s->s_bundle = bundle != NULL ? strdup(bundle) : NULL;
	gettimeofday(&s->s_start, NULL);
	snprintf(s->s_repo, sizeof(s->s_repo), "%s", repo);
	snprintf(s->s_sigrepo, sizeof(s->s_sigrepo), "%s", sigrepo);
	snprintf(s->s_digest, sizeof(s->s_digest), "%s", digest);
	snprintf(s->s_ref, sizeof(s->s_ref), "%s", digest);
	snprintf(s->s_sig64, sizeof(s->s_sig64), "%s", sig);
	core_sig_tag(s->s_digest, s->s_sigtag);
	core_sha256_hex(s->s_payload, s->s_plen, hex);
	snprintf(s->s_pdigest, sizeof(s->s_pdigest), "sha256:%s", hex);
	s->s_signed = s->s_payload_up = s->s_rekor_done = s->s_wrote = 1;
	s->s_rekor_mode = CONF_SIGN_OFF;
	if (ref != NULL && sgb != NULL) {
		/* the referrer as written, never a new one without the
		 * image's manifest at hand */
		s->s_referrer = strdup(ref);
		s->s_sgbundle = strdup(sgb);
		s->s_sgblen = strlen(sgb);
		s->s_brekor_done = 1;
		if (json_is_true(json_object_get(o, "rekor_required")))
			s->s_rekor_mode = CONF_SIGN_REQUIRED;
	}
	s->s_recheck = (int)json_integer_value(json_object_get(o, "done"));
	if (s->s_recheck < 1 || s->s_recheck > RECHECKS)
		s->s_recheck = RECHECKS;
	s->s_detached = 1;
	TAILQ_INSERT_TAIL(&sign_background, s, s_bg);
	if (s->s_timer == NULL || s->s_recheck_path == NULL ||
	    (ref != NULL && sgb != NULL && (s->s_referrer == NULL ||
	    s->s_sgbundle == NULL))) {
		sign_destroy(s);
		return;
	}
	s->s_resume_due = (time_t)due;
	px_info("resumed the pending recheck of %s@%s (%s)", s->s_repo,
	    s->s_digest, path);
	/* signet's own credentials for the signature repository, if any:
	 * the recheck waits for them (the token flow calls back) */
	if (cf->reg_user != NULL) {
		s->s_own_auth = 1;
		set_state(s, SG_AUTH);
		s->s_authjob = px_auth_get(cf, up, s->s_sigrepo,
		    on_resumed_auth, s, &cached);
		if (s->s_authjob != NULL)
			return;
		if (cached != NULL)
			s->s_sigauth = strdup(cached);
		if (s->s_sigauth == NULL)
			s->s_own_auth = 0;
	}
	resume_wait(s);
}

void
px_sign_rechecks_resume(struct conf *cf, struct px_upstream *up,
    struct event_base *base)
{
	char		 dir[1024], path[1400];
	json_t		*o;
	DIR		*d;
	struct file_lock fl = { NULL, -1 };

	if (cf->state_dir == NULL || cf->sign_key == NULL)
		return;
	snprintf(dir, sizeof(dir), "%s/rechecks", cf->state_dir);
	d = opendir(dir);
	if (d == NULL)
		return;
	/* with workers, each resumes those no other runs (one that died
	 * left its own to the next start of a worker) */
	while (next_json(d, dir, "recheck", &fl, path, sizeof(path), &o)) {
		resume_one(cf, up, base, path, o, &fl);
		fl.path = NULL;
		json_decref(o);
	}
	closedir(d);
}
