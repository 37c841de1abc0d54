/*
 * conf/conf.h: the configuration file, declared once and validated
 * completely at load.  Nothing here touches a socket.
 */
#ifndef SIGNET_CONF_H
#define SIGNET_CONF_H

#include <stddef.h>

#include <jansson.h>

#include "core/core.h"

#define CONF_LISTEN_MAX		16
#define CONF_WORKERS_MAX	64	/* worker processes (workers) */
#define CONF_FILE_MAX		(1024 * 1024)	/* a config file bigger is an error */
#define CONF_ERR_MAX		4096		/* all messages of one load */

enum conf_log_level { CONF_LOG_DEBUG, CONF_LOG_INFO, CONF_LOG_WARN,
	CONF_LOG_ERROR };

enum conf_media_types { CONF_MT_OCI, CONF_MT_DOCKER, CONF_MT_AUTO };
/* How a signed push by tag writes the manifest: by digest before signing,
 * then the tag (the registry checks the manifest before anything is
 * signed), or once, by the tag, after the signature (Nexus' "Disable
 * redeploy" refuses a second name for a manifest). */
enum conf_manifest_put { CONF_MP_DIGEST_THEN_TAG, CONF_MP_TAG_ONLY };
/* "splice": when a pulled blob moves through a kernel pipe (pull.c) */
enum conf_splice { CONF_SPLICE_AUTO, CONF_SPLICE_ALWAYS, CONF_SPLICE_NEVER };
enum conf_sign { CONF_SIGN_OFF, CONF_SIGN_BEST_EFFORT, CONF_SIGN_REQUIRED };
enum conf_verify { CONF_VERIFY_OFF, CONF_VERIFY_WARN, CONF_VERIFY_ENFORCE };

/* The public Rekor instance, as cosign's default. */
#define CONF_REKOR_URL_DEFAULT	"https://rekor.sigstore.dev"
#define CONF_KEYS_MAX		16	/* trusted keys per rule, Rekor keys */
#define CONF_CONNECT_TIMEOUT	10	/* seconds, an endpoint's default */
#define CONF_RESPONSE_TIMEOUT	300
#define CONF_KEYLESS_MAX	8	/* keyless signers per rule */

/* One entry of "policies": the first whose glob matches a repository wins. */
#define CONF_MIRRORS_MAX	8

struct conf_policy {
	char		*match;
	enum conf_sign	 sign;
	char		*reference_registry;	/* docker-reference host, or NULL */
	json_t		*annotations;		/* "optional" in payloads, or NULL */
	enum conf_verify verify;
	struct core_key	*keys[CONF_KEYS_MAX];	/* trusted signers */
	int		 nkeys;
	struct core_keyless keyless[CONF_KEYLESS_MAX];
	int		 nkeyless;
	long		 threshold;		/* distinct trusted signers */
	int		 rekor_required;
	int		 identity_repository;	/* docker-reference must match */
	int		 strict_blobs;		/* blob GETs need a verified ref */
	enum conf_sign	 rekor_upload;		/* off, best-effort, required */
	int		 signature_format;	/* CONF_SF_*: what signing
						 * writes */
	int		 delete_signatures;	/* DELETE cascades (default) */
	int		 require_subject;	/* no orphan signature objects */
	char		*mirrors[CONF_MIRRORS_MAX];	/* mirror_signatures_from */
	int		 nmirrors;
	char		 trust_id[65];		/* hash of the trust material */
};

/* signature_format: cosign's .sig list (legacy), cosign v3's Sigstore
 * bundle as an OCI referrer (bundle), or both. */
#define CONF_SF_LEGACY	0
#define CONF_SF_BUNDLE	1
#define CONF_SF_BOTH	2

#define CONF_POLICIES_MAX	256

struct conf_listen {
	char	*host;		/* numeric or name; "" for any */
	char	*port;
};

/*
 * Where signet's own requests go and how: the upstream, a mirror, a
 * command's registries.  The strings are owned by the endpoint.
 */
struct conf_endpoint {
	char	*url;		/* scheme://host[:port], no slash */
	char	*hostport;	/* host[:port] of url, as docker-reference
				 * names it */
	char	*ca;		/* CA file, or NULL: the system's */
	int	 insecure;	/* no certificate check (https only) */
	long	 connect_timeout;	/* seconds */
	long	 response_timeout;	/* seconds to the whole answer */
	int	 forbidden_absent;	/* 403 on a read means "not there"
					 * (Artifactory virtual repositories) */
};

struct conf {
	int			 refcnt;
	char			*path;

	struct conf_listen	 listen[CONF_LISTEN_MAX];
	int			 nlisten;

	char			*tls_cert;	/* both NULL: plain HTTP */
	char			*tls_key;

	struct conf_endpoint	 up;		/* the upstream registry */
	enum conf_media_types	 up_media_types;	/* for signature manifests */
	enum conf_manifest_put	 up_manifest_put;

	/* signing */
	char			*sign_key_path;
	char			*sign_password_env;	/* default COSIGN_PASSWORD */
	json_t			*sign_annotations;	/* for every payload */
	struct core_key		*sign_key;	/* loaded and checked at load */
	char			*sig_repo;	/* NULL: the image's own */
	char			*rekor_url;	/* where signatures are logged */
	long			 rekor_retry;	/* seconds between queued retries */
	char			*state_dir;	/* queue of uploads, checkpoints */
	struct core_key		*rekor_keys[CONF_KEYS_MAX];
	int			 nrekor_keys;
	long			 vcache_ok_ttl;		/* seconds */
	long			 vcache_fail_ttl;
	long			 vcache_max;		/* entries */
	char			*reg_user;	/* registry_auth, for sig_repo */
	char			*reg_password_env;
	char			*reg_password_file;	/* or this, read at
							 * each use (ECR) */
	struct conf_policy	*policies;
	int			 npolicies;

	enum conf_log_level	 log_level;
	int			 log_access;

	long			 max_connections;
	long			 idle_timeout;		/* seconds */
	long			 header_timeout;	/* seconds */
	long			 drain_timeout;		/* seconds */
	long			 workers;	/* processes serving; 1: no master */
	long			 buffer_bytes;		/* backpressure HIGH */
	enum conf_splice	 splice;	/* blob pulls through a pipe */
	long			 max_conns_per_addr;	/* from one client address */
	long			 verify_slots;		/* verified pulls at once */
	long			 verify_queue;		/* waiting for a slot */
};

/*
 * Load and validate path.  Returns a configuration with one reference, or
 * NULL with every problem found written to err, one per line, each naming
 * the key path (and the line, where the JSON parser gives one).
 */
struct conf	*conf_load(const char *path, char *err, size_t errlen);
/* Same, from a buffer; name is used in messages. */
struct conf	*conf_load_buffer(const char *buf, size_t len, const char *name,
		    char *err, size_t errlen);
struct conf	*conf_ref(struct conf *);
void		 conf_unref(struct conf *);
const char	*conf_log_level_name(enum conf_log_level);
/*
 * An endpoint for url (http:// or https://host[:port], a trailing slash
 * dropped) with the CA file given (or NULL) and the default timeouts, as
 * the upstream's would be: malloc'ed, NULL with a message naming what is
 * wrong.  conf_endpoint_dup copies one; conf_endpoint_free frees either.
 */
struct conf_endpoint *conf_endpoint_new(const char *url, const char *ca,
		    char *err, size_t errlen);
struct conf_endpoint *conf_endpoint_dup(const struct conf_endpoint *);
void		 conf_endpoint_free(struct conf_endpoint *);

/* The policy for a repository, or NULL when no rule matches. */
const struct conf_policy *conf_policy_for(const struct conf *, const char *repo);
/* The signers a rule trusts, with the log keys and its Rekor requirement. */
void		 conf_policy_trust(const struct conf *, const struct conf_policy *,
		    struct core_trust *);
/*
 * The same, with the docker-reference the rule's identity check wants
 * (want_ref is borrowed), and the driver's options (threshold, Rekor online,
 * state_dir) pointing at *t: both must outlive the verification.
 */
void		 conf_policy_vopts(const struct conf *, const struct conf_policy *,
		    const char *want_ref, struct core_trust *t,
		    struct core_vopts *o);
const char	*conf_sign_name(enum conf_sign);
const char	*conf_verify_name(enum conf_verify);

#endif /* SIGNET_CONF_H */
