/*
 * core/core.h: what signet knows about registries, with no network code.
 *
 * Everything here is pure: it takes bytes and returns verdicts, so it can be
 * unit-tested without sockets and reused by the commands.
 *
 * Ownership, wherever a comment does not say otherwise: pointer arguments
 * are borrowed for the call only; an object returned by a *_new, *_load or
 * *_open function, and a returned non-const char * or json_t *, is the
 * caller's (free it with the matching *_free, free() or json_decref); a
 * returned const pointer is borrowed from the object it came from and
 * lives as long as that object (or for ever, for a name of an enum).
 * Sections follow the files.
 */
#ifndef SIGNET_CORE_H
#define SIGNET_CORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Limits from the OCI distribution spec, checked as names arrive. */
#define CORE_NAME_MAX		255	/* repository name, whole path */
#define CORE_TAG_MAX		128
#define CORE_DIGEST_MAX		(32 + 1 + 128)	/* algorithm ":" encoded */
#define CORE_REF_MAX		CORE_DIGEST_MAX

/* ref.c: repository names, tags and digests */

/* 1 when s[0..len) matches the spec's repository-name grammar. */
int	core_name_valid(const char *s, size_t len);
/* 1 when s[0..len) matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
int	core_tag_valid(const char *s, size_t len);
/*
 * 1 when s[0..len) is a well-formed digest: algorithm ":" encoded, where a
 * sha256 or sha512 digest must have exactly 64 or 128 lower-case hex digits.
 */
int	core_digest_valid(const char *s, size_t len);

/* An image named on a command line: REGISTRY/REPO[:TAG|@DIGEST]. */
struct core_image_ref {
	char	registry[256];
	char	repo[CORE_NAME_MAX + 1];
	char	ref[CORE_REF_MAX + 1];		/* the tag ("latest"), or digest */
};
/*
 * Parse s; with want_ref 0 only REGISTRY/REPO is accepted (ref left
 * empty).  0, or -1 when any part is malformed or too long.
 */
int	core_image_ref_parse(const char *s, int want_ref,
	    struct core_image_ref *r);

/*
 * json.c: JSON measured before it is parsed.  The limits of a kind of
 * document: bytes, values (every scalar, array, object and key counts) and
 * nesting.  Far above real documents; they bound what a hostile one costs.
 */
struct core_json_limits {
	const char	*what;		/* for messages */
	size_t		 max_bytes;
	size_t		 max_values;
	size_t		 max_depth;
};
extern const struct core_json_limits core_json_manifest;  /* 4 MiB, 65536, 32 */
extern const struct core_json_limits core_json_siglist;	  /* 4 MiB, 16384, 8 */
extern const struct core_json_limits core_json_payload;	  /* 64 KiB, 4096, 16 */
extern const struct core_json_limits core_json_bundle;	  /* 64 KiB, 1024, 8 */
extern const struct core_json_limits core_json_log;	  /* 256 KiB, 8192, 16 */
extern const struct core_json_limits core_json_small;	  /* 1 MiB, 65536, 32 */
/* Count the values and the nesting of buf in one pass, allocating
 * nothing; -1 when it cannot be JSON (unbalanced, an open string). */
int	 core_json_measure(const char *buf, size_t len, size_t *values,
	    size_t *depth);
/* Parse buf (duplicate keys refused) when it is within the limits; NULL
 * with the reason in err.  The caller owns the result (json_decref). */
json_t	*core_json_load(const char *buf, size_t len,
	    const struct core_json_limits *, char *err, size_t errlen);
/* The same where the reason is not needed (a malformed field is). */
json_t	*core_json_parse(const char *buf, size_t len,
	    const struct core_json_limits *);

/* Replace, in place, every byte of s that is not printable ASCII with
 * '?': text that came from a registry, made safe for a log or a message. */
void	core_ascii(char *s);
/* Standard base64 decoded into a new NUL-terminated buffer (the caller
 * frees it); NULL if bad. */
unsigned char	*core_b64_decode(const char *s, size_t *len);
/* Standard base64 (padded) of buf, malloc'ed and NUL-terminated; NULL when
 * memory is short. */
char		*core_b64_encode(const void *buf, size_t len);

/* Lower-case hex sha256 of buf into out (65 bytes with the NUL). */
void	core_sha256_hex(const void *buf, size_t len, char out[65]);

/*
 * flock.c: lock files shared by processes (flock(2), dropped by the kernel
 * when the holder dies).  core_lock_try: 1 with *fd held, 0 when another
 * holds it, -1 with errno.  core_lock_wait blocks: the descriptor, or -1.
 * core_lock_drop releases fd, removing path first unless path is NULL
 * (a lock file kept, e.g. one per log).
 */
int	core_lock_try(const char *path, int *fd);
int	core_lock_wait(const char *path);
void	core_lock_drop(const char *path, int fd);

/* route.c: which /v2/ endpoint a request path names */

enum core_route_kind {
	CORE_R_BASE,		/* /v2/ */
	CORE_R_CATALOG,		/* /v2/_catalog */
	CORE_R_TAGS,		/* /v2/<name>/tags/list */
	CORE_R_MANIFEST,	/* /v2/<name>/manifests/<reference> */
	CORE_R_BLOB,		/* /v2/<name>/blobs/<digest> */
	CORE_R_UPLOAD_START,	/* /v2/<name>/blobs/uploads/ */
	CORE_R_UPLOAD,		/* /v2/<name>/blobs/uploads/<id> */
	CORE_R_REFERRERS,	/* /v2/<name>/referrers/<digest> */
	CORE_R_HEALTHZ,		/* /healthz, signet's own */
	CORE_R_READYZ,		/* /readyz, signet's own */
	CORE_R_METRICS,		/* /metrics, signet's own */
	CORE_R_UNKNOWN
};

struct core_route {
	enum core_route_kind	 kind;
	char			 name[CORE_NAME_MAX + 1];
	char			 ref[CORE_REF_MAX + 1];	/* tag, digest or upload id */
	int			 ref_is_digest;
};

/*
 * Classify the path part of a request target (no query) and check its names.
 * Returns 0 on success.  On failure returns -1 and sets *code to the OCI error
 * code ("NAME_INVALID", "TAG_INVALID", "DIGEST_INVALID", "NOT_FOUND") and
 * *errstr to a static message; NOT_FOUND means no endpoint has this shape.
 */
int	core_route_parse(const char *path, size_t len, struct core_route *r,
	    const char **code, const char **errstr);
const char *core_route_name(enum core_route_kind);

/* mediatype.c */
#define CORE_MT_OCI_MANIFEST	"application/vnd.oci.image.manifest.v1+json"
#define CORE_MT_OCI_INDEX	"application/vnd.oci.image.index.v1+json"
#define CORE_MT_DOCKER_MANIFEST	"application/vnd.docker.distribution.manifest.v2+json"
#define CORE_MT_DOCKER_LIST	"application/vnd.docker.distribution.manifest.list.v2+json"
/* An Accept naming every manifest type: a registry answers 404 for a type
 * the Accept header leaves out (distribution does), and what sits at a tag
 * must be seen whatever it is. */
#define CORE_MT_ACCEPT_ALL	CORE_MT_OCI_MANIFEST ", " \
				CORE_MT_DOCKER_MANIFEST ", " \
				CORE_MT_OCI_INDEX ", " CORE_MT_DOCKER_LIST
#define CORE_MT_OCI_CONFIG	"application/vnd.oci.image.config.v1+json"
#define CORE_MT_DOCKER_CONFIG	"application/vnd.docker.container.image.v1+json"
#define CORE_MT_SIMPLESIGNING	"application/vnd.dev.cosign.simplesigning.v1+json"
#define CORE_MT_DSSE		"application/vnd.dsse.envelope.v1+json"
/* 1 when the media type (parameters ignored) names an image manifest or index. */
int	core_mediatype_is_manifest(const char *mt);

/* keys.c: signing keys (cosign encrypted, plain PEM) */

struct core_key;

/*
 * Load a private key: cosign's encrypted PEM (password required, may be
 * empty) or a plain PEM key (PKCS#8, SEC1 EC, PKCS#1 RSA).  NULL with a
 * message in err on failure.  The password is not kept.
 */
struct core_key	*core_key_load_private(const char *path, const char *password,
		    char *err, size_t errlen);
/* A PEM public key (SubjectPublicKeyInfo: ECDSA P-256/P-384, RSA). */
struct core_key	*core_key_load_public(const char *path, char *err,
		    size_t errlen);
struct core_key	*core_key_load_public_pem(const char *pem, size_t len,
		    const char *name, char *err, size_t errlen);
void		 core_key_free(struct core_key *);
/* Fresh entropy into k's random generator: a forked process must not
 * share its parent's stream (ECDSA blinding).  0, or -1. */
int		 core_key_reseed(struct core_key *);
/* sha256 hex of the public key's DER; lives as long as the key */
const char	*core_key_fingerprint(const struct core_key *);
int		 core_key_can_sign(const struct core_key *);
/* The public key as PEM ("PUBLIC KEY"), NUL-terminated. */
int		 core_key_public_pem(const struct core_key *, char *buf,
		    size_t len);
/* SHA-256 then ECDSA (ASN.1 DER) or RSA PKCS#1 v1.5; sig holds
 * CORE_SIG_MAX bytes */
#define CORE_SIG_MAX	1024
int		 core_key_sign(struct core_key *, const void *msg, size_t len,
		    unsigned char *sig, size_t *siglen, char *err, size_t errlen);
/* 0 when sig is a valid signature of msg under the key */
int		 core_key_verify(struct core_key *, const void *msg, size_t len,
		    const unsigned char *sig, size_t siglen);
/* 0 when sig is a valid signature of a sha256 digest under the key (a
 * messageSignature's prehashed artifact; never for Ed25519). */
int		 core_key_verify_digest(struct core_key *,
		    const unsigned char hash[32], const unsigned char *sig,
		    size_t siglen);
/* 1 for an Ed25519 public key (a Rekor v2 log's): it verifies checkpoints
 * only; the PEM loaders take it as RFC 8410 SubjectPublicKeyInfo. */
int		 core_key_is_ed25519(const struct core_key *);
/* Decrypt / encrypt cosign's key envelope; *der and *pem are malloc'ed,
 * and the caller wipes *der after use. */
int		 core_cosign_decrypt(const char *pem, const char *password,
		    unsigned char **der, size_t *derlen, char *err, size_t errlen);
int		 core_cosign_encrypt(const unsigned char *der, size_t derlen,
		    const char *password, char **pem, char *err, size_t errlen);
/* Write PREFIX.key (encrypted, N=32768, mode 0600) and PREFIX.pub. */
int		 core_keygen(const char *prefix, const char *password,
		    char *err, size_t errlen);

/* sigfmt.c: cosign's payload and signature manifest, byte for byte */

#define CORE_SIG_TYPE		"cosign container image signature"
#define CORE_ANN_SIGNATURE	"dev.cosignproject.cosign/signature"
#define CORE_ANN_BUNDLE		"dev.sigstore.cosign/bundle"
#define CORE_ANN_CERTIFICATE	"dev.sigstore.cosign/certificate"
#define CORE_ANN_CHAIN		"dev.sigstore.cosign/chain"
#define CORE_SIGMAN_MAX		(4 * 1024 * 1024)	/* as distribution */
#define CORE_SIG_LAYERS_MAX	1000			/* as cosign */

/*
 * The simple-signing payload: compact JSON, critical{identity,image,type}
 * then optional (sorted keys, or null when NULL or empty).  malloc'ed.
 */
char	*core_sig_payload(const char *docker_ref, const char *digest,
	    const json_t *optional, size_t *len);
/* 1 for cosign's own tags: sha256-<hex>.sig, .att, .sbom (a name only:
 * what an object is comes from core_manifest_inspect) */
int	 core_cosign_tag(const char *tag);
/* sha256:<hex> -> sha256-<hex>.sig */
void	 core_sig_tag(const char *digest, char out[CORE_TAG_MAX + 1]);

struct core_manifest_info {
	char	media_type[128];
	int	is_index;
	/*
	 * A signature, attestation or SBOM object, by its content only (never
	 * its tag): a manifest with at least one layer, every layer of a
	 * cosign, Sigstore, DSSE/in-toto or SBOM media type, so nothing a
	 * runtime unpacks (docker, containerd and podman take only layer
	 * types of application/vnd.oci.image.* and application/vnd.docker.*);
	 * or a referrers index (the sha256-<hex> tag of OCI 1.1's tag schema)
	 * of such artifacts.
	 */
	int	is_sig_object;
	/*
	 * cosign v3's signature: a signature object whose one layer is a
	 * Sigstore bundle and whose dev.sigstore.bundle.predicateType
	 * annotation, where there is one, is cosign's signing predicate (an
	 * attestation names its own).  Unsigned labels: what is carried with
	 * an image, never a verdict.
	 */
	int	is_bundle_sig;
	char	subject[CORE_DIGEST_MAX + 1];	/* OCI 1.1 subject, or "" */
	char	err[160];	/* where *errstr points on failure */
};
/*
 * The manifest's own mediaType when it is one of the four manifest and
 * index types and the Content-Type ct (parameters aside) says otherwise:
 * a registry that labels an OCI body as Docker (old Nexus) would have
 * clients refuse the manifest.  NULL when they agree or the body names
 * none; otherwise a static string.
 */
const char *core_manifest_type_fix(const char *bytes, size_t len,
	    const char *ct);
/* 1 when a layer of media type t is a signature object's (see above). */
int	 core_sig_layer_type(const char *t);
int	 core_manifest_inspect(const char *bytes, size_t len,
	    struct core_manifest_info *, const char **errstr);

/* A signature manifest being read or extended. */
struct core_sigman {
	json_t	*sm_manifest;
	char	 sm_err[160];	/* where *errstr points on failure */
};
struct core_sig_layer {		/* pointers live as long as the sigman */
	const char	*media_type;
	const char	*digest;
	json_int_t	 size;
	const char	*signature;	/* base64 DER, or NULL */
	const char	*bundle;
	const char	*certificate;
	const char	*chain;
};
void	 core_sigman_init(struct core_sigman *);
void	 core_sigman_free(struct core_sigman *);
/* Parse existing bytes, or start an empty list when bytes is NULL. */
int	 core_sigman_open(struct core_sigman *, const char *bytes, size_t len,
	    int docker_types, const char **errstr);
size_t	 core_sigman_count(const struct core_sigman *);
int	 core_sigman_layer(const struct core_sigman *, size_t i,
	    struct core_sig_layer *);
/*
 * Index of a simple-signing layer with this payload digest whose signature
 * verifies over payload under key (any such layer when key is NULL), or -1.
 */
int	 core_sigman_find(const struct core_sigman *, const char *payload_digest,
	    const char *payload, size_t plen, struct core_key *key);
/* Append a layer; annotations is a flat object of strings (copied). */
int	 core_sigman_append(struct core_sigman *, const char *payload_digest,
	    size_t payload_size, const json_t *annotations);
/* Layer i's descriptor as JSON (borrowed), and appending a copy of one
 * (signet copy merges lists layer by layer). */
json_t	*core_sigman_layer_json(const struct core_sigman *, size_t i);
int	 core_sigman_append_raw(struct core_sigman *, const json_t *layer);
/*
 * The one merge of signature lists (signing, copy, mirroring): a layer is
 * appended unless the list holds the same one (same payload digest and the
 * same signature, or no signature in both).  1 appended, 0 already there,
 * -1 when the list is full (CORE_SIG_LAYERS_MAX) or memory is short.
 */
int	 core_sigman_merge_layer(struct core_sigman *, const json_t *layer);
/* Every layer of from; the number appended, or -1. */
int	 core_sigman_merge(struct core_sigman *, const struct core_sigman *from);
/* Set one annotation of layer i (keys kept sorted). */
int	 core_sigman_set_annotation(struct core_sigman *, size_t i,
	    const char *key, const char *value);
/* The config (rebuilt from the layers) and the manifest; malloc'ed. */
int	 core_sigman_serialize(struct core_sigman *, char **config,
	    size_t *clen, char **manifest, size_t *mlen);
const char *core_sigman_media_type(const struct core_sigman *);
/* Remove layer i; 0, or -1 when there is none. */
int	 core_sigman_remove(struct core_sigman *, size_t i);
/* Switch a new list to Docker schema-2 media types. */
int	 core_sigman_set_docker(struct core_sigman *);
/* 0 when sig_b64 is a valid signature of payload under key */
int	 core_sig_b64_verify(struct core_key *, const char *payload,
	    size_t plen, const char *sig_b64);

/*
 * sigobj.c: what a signature object's layer was made for, from its content
 * (a tag name proves nothing).  1 when blob (the layer's, of media_type)
 * names subject (sha256:<hex>): a simple-signing payload's
 * docker-manifest-digest, or a subject of the in-toto statement in a DSSE
 * envelope; and, when repo is not NULL, names that repository too
 * (docker-reference, the statement subject's name).  0 otherwise, with
 * what it names in reason.
 */
int	 core_layer_names(const char *media_type, const char *blob, size_t len,
	    const char *subject, const char *repo, char *reason, size_t rlen);
/* 1 for the media types core_layer_names can read (payload, DSSE). */
int	 core_layer_has_names(const char *media_type);

/* cert.c: keyless signers (Fulcio-style certificates) */

#include <time.h>

struct core_roots;
/* The PEM certificates of path as trust anchors; the caller frees them
 * with core_roots_free. */
struct core_roots *core_roots_load(const char *path, char *err, size_t errlen);
void	 core_roots_free(struct core_roots *);

/* One trusted keyless signer: roots, and identity and issuer, each exact
 * or an extended regular expression (unanchored, as cosign's). */
struct core_keyless {
	struct core_roots	*roots;
	char			*identity, *identity_re;
	char			*issuer, *issuer_re;
};

struct core_cert_identity {
	char	subject[1024];	/* email or URI SAN */
	char	issuer[1024];	/* OIDC issuer extension */
};

/*
 * 0 when re is an extended regular expression signet will compile: at most
 * CORE_REGEX_MAX bytes, groups nested 8 deep, no repetition of a
 * repetition ("x++"), counts up to 32 (glibc's regcomp grows without
 * bound otherwise); -1 with why.
 */
#define CORE_REGEX_MAX	512
int	 core_regex_check(const char *re, char *why, size_t wlen);
/*
 * Check a leaf certificate (and its chain) against one keyless signer at
 * time `at` (the Rekor entry's integrated time).  On success *key_out is
 * the leaf's public key (caller frees).
 */
int	 core_cert_check(const struct core_keyless *, const char *leaf_pem,
	    const char *chain_pem, time_t at, struct core_cert_identity *,
	    struct core_key **key_out, char *reason, size_t rlen);

/* The public key of a certificate, PEM or DER; NULL when it is not one. */
struct core_key *core_cert_key(const void *cert, size_t len);

struct core_checkpoint;

/* verify.c: one cosign signature against trust material */

#define CORE_PAYLOAD_MAX	(64 * 1024)	/* a payload blob */
#define CORE_BUNDLE_MAX		(64 * 1024)	/* a bundle annotation */

struct core_trust {
	struct core_key	**keys;		/* trusted signers */
	size_t		  nkeys;
	struct core_key	**rekor;	/* trusted log keys, by logID */
	size_t		  nrekor;
	int		  rekor_required;
	const char	 *want_ref;	/* docker-reference required, or NULL */
	const struct core_keyless *keyless;	/* certificate signers */
	size_t		  nkeyless;
};

/*
 * Index in t->keys of the key a valid signature verifies under, or -1 with
 * the reason: untrusted signer, payload claims (type, digest, identity),
 * or the Rekor bundle when required.
 */
int	 core_verify_signature(const struct core_trust *t, const char *digest,
	    const char *payload, size_t plen, const char *sig_b64,
	    const char *bundle, char *reason, size_t rlen);
/*
 * The same for a layer that may carry a certificate: keyless signers are
 * tried for it.  *signer gets the key fingerprint or "keyless:<subject>".
 * Returns 0 or -1.
 */
#define CORE_SIGNER_MAX	1040	/* "keyless:<subject>" or a fingerprint */
/* Add signer to a set of distinct signers (up to max); the new count. */
int	 core_signer_add(char (*set)[CORE_SIGNER_MAX], int *n, int max,
	    const char *signer);
int	 core_verify_layer(const struct core_trust *t, const char *digest,
	    const char *payload, size_t plen, const struct core_sig_layer *l,
	    char *signer, size_t slen, char *reason, size_t rlen);
/* The payload's type and docker-manifest-digest (and reference). */
int	 core_payload_check(const char *payload, size_t plen,
	    const char *digest, const char *want_ref, char *reason, size_t rlen);
/* A dev.sigstore.cosign/bundle, offline: SET, logID, entry body. */
int	 core_rekor_check_bundle(struct core_key *const *logs, size_t nlogs,
	    const char *bundle, const char *payload, size_t plen,
	    const char *sig_b64, const struct core_key *signer, char *reason,
	    size_t rlen);
/*
 * The hashedrekord v0.0.1 entry to propose for a signature: malloc'ed JSON.
 */
char	*core_rekor_entry(const char *payload, size_t plen, const char *sig_b64,
	    const struct core_key *signer);
/*
 * A Rekor answer (201 or GET of an entry) for that signature, checked
 * before use: SET under a trusted log key (by logID), the entry's body equal
 * to this payload hash, signature and key, the inclusion proof against the
 * root of a checkpoint signed by the same log.  *bundle gets the
 * dev.sigstore.cosign/bundle value as cosign writes it (malloc'ed), *cp the
 * checkpoint.
 */
int	 core_rekor_check_response(struct core_key *const *logs, size_t nlogs,
	    const char *resp, size_t len, const char *payload, size_t plen,
	    const char *sig_b64, const struct core_key *signer, char **bundle,
	    struct core_checkpoint *cp, char *reason, size_t rlen);
/*
 * rekor "online": the log's current answer for a bundle's entry: the same
 * body, included (by its proof) in a tree whose checkpoint a trusted log
 * signed.
 */
int	 core_rekor_check_online(struct core_key *const *logs, size_t nlogs,
	    const char *resp, size_t len, const char *bundle,
	    struct core_checkpoint *cp, char *reason, size_t rlen);
/*
 * The largest checkpoint seen per log is kept in dir (checkpoint-<logID>).
 * core_checkpoint_compare says what cp is to it: CORE_CP_NEW (none kept),
 * CORE_CP_SAME, CORE_CP_GROWN (larger: *old is the kept one, and cp may be
 * kept, core_checkpoint_keep, only once a consistency proof from old to cp
 * verified), CORE_CP_OLDER (smaller: answers to concurrent requests arrive
 * in any order; cp is accepted, and the kept one stays, only once a
 * consistency proof from cp to old verified), or -1 when cp shows another
 * root for the kept size (a forked history).  core_checkpoint_keep keeps
 * cp unless a larger one is kept (then 0, nothing written), -1 when one of
 * the same size with another root is.
 * core_checkpoint_backwards: the reason for an older checkpoint the log
 * answered a consistency proof for with a refusal (HTTP status).
 */
enum { CORE_CP_NEW = 1, CORE_CP_SAME, CORE_CP_GROWN, CORE_CP_OLDER };
int	 core_checkpoint_compare(const char *dir,
	    const struct core_checkpoint *cp, const char *logid,
	    struct core_checkpoint *old, char *reason, size_t rlen);
int	 core_checkpoint_keep(const char *dir, const struct core_checkpoint *cp,
	    const char *logid, char *reason, size_t rlen);
void	 core_checkpoint_backwards(const struct core_checkpoint *cp,
	    const struct core_checkpoint *kept_cp, int status, char *reason,
	    size_t rlen);
/*
 * A log's answer to GET /api/v1/log/proof?firstSize=old&lastSize=cp
 * ({"hashes": [hex...], "rootHash": ...}) proves the tree of old a prefix
 * of cp's (roots from the signed checkpoints, never from the answer); -1
 * with the reason when it does not: the log's history forked.
 */
int	 core_rekor_check_consistency(const char *resp, size_t len,
	    const struct core_checkpoint *old, const struct core_checkpoint *cp,
	    char *reason, size_t rlen);
/* The integrated time of a bundle that passed core_rekor_check_bundle. */
int	 core_rekor_bundle_time(const char *bundle, time_t *at);

/* The UUID of a bundle's entry (hex of its leaf hash) and its logID; 0 or
 * -1 when the bundle is malformed. */
int	 core_rekor_bundle_uuid(const char *bundle, char uuid[65]);
int	 core_rekor_bundle_logid(const char *bundle, char logid[65]);

/*
 * bundle.c: Sigstore bundles (v0.1 to v0.3): cosign v3's image signatures
 * (OCI 1.1 referrers) and `sign-blob --bundle`.
 */
#define CORE_MT_SGBUNDLE_PREFIX	"application/vnd.dev.sigstore.bundle"
#define CORE_MT_SGBUNDLE_V03	"application/vnd.dev.sigstore.bundle.v0.3+json"
#define CORE_MT_OCI_EMPTY	"application/vnd.oci.empty.v1+json"
#define CORE_MT_INTOTO		"application/vnd.in-toto+json"
#define CORE_INTOTO_V1		"https://in-toto.io/Statement/v1"
#define CORE_INTOTO_V01		"https://in-toto.io/Statement/v0.1"
#define CORE_PRED_COSIGN_SIGN	"https://sigstore.dev/cosign/sign/v1"
#define CORE_ANN_PREDICATE	"dev.sigstore.bundle.predicateType"
#define CORE_SGBUNDLE_MAX	(128 * 1024)	/* a bundle blob */
#define CORE_BUNDLE_TLOG_MAX	8		/* log entries per bundle */
extern const struct core_json_limits core_json_sgbundle; /* 128 KiB, 8192, 16 */

struct core_bundle_ok {
	char	 signer[CORE_SIGNER_MAX];	/* fingerprint, or
						 * "keyless:<subject>" */
	char	*rekor;		/* a verified Rekor v1 entry as a
				 * dev.sigstore.cosign/bundle (for `rekor:
				 * online`), or NULL; the caller frees it */
	char	*payload;	/* what was signed: the in-toto statement, or
				 * {"messageDigest": digest}; NUL-terminated,
				 * the caller frees it */
	size_t	 plen;
};
/*
 * Verify a bundle for the artifact whose sha256 is digest (an image
 * manifest, or a blob) under t: the content (a DSSE in-toto statement with
 * cosign's signing predicate naming digest, or a messageSignature over
 * it), a trusted key or keyless signer, and the log entries when the rule
 * requires Rekor (always for a certificate: they give its time).  With
 * online, a Rekor v1 entry must be there (ok->rekor) for the caller to ask
 * the log about.  0, or -1 with the reason.
 */
int	 core_bundle_verify(const struct core_trust *t, const char *digest,
	    const char *bundle, size_t len, int online,
	    struct core_bundle_ok *ok, char *reason, size_t rlen);

/*
 * Making cosign v3's signatures (a rule's signature_format): the in-toto
 * statement for digest (malloc'ed, *len set), its DSSE signature (base64,
 * malloc'ed), the Rekor dsse 0.0.1 entry to propose, the v0.3 bundle (with
 * the log's answer as its tlog entry, or none), the referrer manifest of
 * it, and the referrers tag schema's index with one more descriptor.
 */
#define CORE_EMPTY_DIGEST	"sha256:44136fa355b3678a1146ad16f7e8649e94" \
				"fb4fc21fe77e8310c060f61caaff8a"	/* "{}" */
#define CORE_REFINDEX_MAX	4096	/* descriptors in a referrers index */
char	*core_bundle_statement(const char *digest, size_t *len);
char	*core_dsse_sign(struct core_key *, const char *payload, size_t plen,
	    char *err, size_t errlen);
char	*core_rekor_dsse_entry(const char *payload, size_t plen,
	    const char *sig64, const struct core_key *signer);
char	*core_bundle_assemble(const char *payload, size_t plen,
	    const char *sig64, const struct core_key *signer,
	    const char *rekor_answer, size_t alen, char *err, size_t errlen);
/*
 * A Rekor v1 answer to core_rekor_dsse_entry's proposal for the statement
 * about digest, checked before use: *bundle gets the v0.3 bundle with it
 * as its tlog entry (malloc'ed), checked whole by core_bundle_verify under
 * logs; *cp the answer's checkpoint.  0, or -1 with the reason.
 */
int	 core_rekor_check_dsse_response(struct core_key *const *logs,
	    size_t nlogs, const char *resp, size_t len, const char *digest,
	    const char *payload, size_t plen, const char *sig64,
	    struct core_key *signer, char **bundle, struct core_checkpoint *cp,
	    char *reason, size_t rlen);
char	*core_referrer_manifest(const char *subject_mt, size_t subject_size,
	    const char *subject, const char *bundle_digest, size_t bundle_size,
	    const char *created);
/*
 * The index bytes (NULL: none yet) with a descriptor for digest added, in
 * digest order, into *out (malloc'ed): 1 added, 0 there already (*out
 * NULL), -1 when bytes is no OCI index or is full (err says).
 */
int	 core_refindex_add(const char *bytes, size_t len, const char *digest,
	    size_t size, const char *artifact_type, char **out, size_t *olen,
	    char *err, size_t errlen);
/* 1 when the index lists digest. */
int	 core_refindex_has(const char *bytes, size_t len, const char *digest);

/*
 * vdriver.c: the verification of one digest under one rule's trust, as a
 * driver with no I/O: core_verifier_next says what to fetch, the caller
 * fetches it and hands the answer to core_verifier_feed, until the verdict.
 * Every place that verifies runs it.
 */
#define CORE_VERIFY_LAYERS_MAX	64	/* signatures looked at per image,
					 * .sig layers and referrers together */
#define CORE_SIGNERS_MAX	64	/* distinct signers counted */
#define CORE_LOG_ANSWER_MAX	(256 * 1024)	/* a Rekor entry answer */

enum core_verdict {
	CORE_VERDICT_ALLOW,
	CORE_VERDICT_DENY,		/* cacheable: the registry answered */
	CORE_VERDICT_INDETERMINATE	/* the registry or log failed */
};

enum core_vneed_kind {
	CORE_VN_LIST,		/* GET manifest `ref` (sha256-<hex>.sig) of the
				 * signature repository */
	CORE_VN_PAYLOAD,	/* GET blob `ref` of the signature repository */
	CORE_VN_LOG_ENTRY,	/* GET <rekor>/api/v1/log/entries/`ref` */
	CORE_VN_LOG_PROOF,	/* GET <rekor>/api/v1/log/proof?`ref` (a
				 * consistency proof, firstSize and lastSize) */
	CORE_VN_REFERRERS,	/* GET /v2/<signature repository>/referrers/
				 * `ref` (an OCI image index) */
	CORE_VN_MANIFEST,	/* GET manifest `ref` of the signature
				 * repository: the referrers tag
				 * (sha256-<hex>) or a referrer's digest */
	CORE_VN_REFERRERS_NEXT,	/* GET `ref`, a path and query on the
				 * registry (/v2/.../referrers/<digest>?...):
				 * the next page the last one's Link named */
	CORE_VN_DONE		/* the verdict is in */
};
#define CORE_REFERRERS_MAX	64	/* referrers read per image */
#define CORE_REFERRERS_PAGES	8	/* pages of the referrers API */
#define CORE_LINK_MAX		1024	/* a next page's path and query */
/*
 * The next page a Link header names (rel="next"), as a path and query on
 * the same registry (an absolute URL's host is dropped: the next page is
 * asked of the registry that answered, never of another host); -1 when
 * there is none, or it is not printable ASCII, is longer than
 * CORE_LINK_MAX, does not start with /v2/, or holds "..".
 */
int	 core_link_next(const char *link, char *out, size_t outlen);
#define CORE_REFERRER_MAX	(64 * 1024)	/* a referrer's manifest */
/*
 * 1 when descriptor d of a referrers index may name a cosign v3
 * signature, so that the verifier reads it: a sha256 digest, an OCI
 * manifest (or no mediaType), and an artifactType that is a Sigstore
 * bundle's, the empty type, or none (cosign's older fallback indexes carry
 * the empty config type and no annotations).  Only a descriptor that says
 * it is something else is left out: what it names is judged by content.
 */
int	 core_referrer_desc_bundle(const json_t *d);

struct core_vneed {
	enum core_vneed_kind	kind;
	char			ref[CORE_LINK_MAX + 1];
	size_t			max_len;	/* a larger answer is refused */
};

struct core_vopts {
	const struct core_trust	*trust;		/* borrowed: outlives the run */
	int			 threshold;	/* distinct signers, >= 1 */
	int			 online;	/* ask the log for each entry */
	const char		*state_dir;	/* checkpoints (online), or NULL */
	size_t			 layers_max;	/* 0: CORE_VERIFY_LAYERS_MAX */
	int			 all;		/* check every layer, do not
						 * stop at the threshold */
	int			 bundles;	/* also cosign v3's Sigstore
						 * bundles (OCI referrers) */
	int			 no_sig;	/* only those: no .sig list */
	int			 keep;		/* keep each valid referrer's
						 * manifest and bundle bytes
						 * (mirroring copies them) */
};

/* One signature that verified: a layer (its index in the list) or a
 * referrer's bundle, and what it signed. */
#define CORE_VVALID_REFERRER	((size_t)-1)
struct core_vvalid {
	size_t	 layer;		/* or CORE_VVALID_REFERRER */
	char	 ref[CORE_DIGEST_MAX + 1];	/* the referrer, or "" */
	char	 blob[CORE_DIGEST_MAX + 1];	/* the payload or bundle blob */
	char	*payload;	/* NUL-terminated; owned by the verifier: a
				 * simple-signing payload, an in-toto
				 * statement, or {"messageDigest": ...} */
	size_t	 len;
	char	 signer[CORE_SIGNER_MAX];
	/* with opts.keep, a referrer's bytes as read; else NULL */
	char	*manifest, *bundle;
	size_t	 mlen, blen;
};

struct core_verifier;
/* NULL when digest is malformed or memory is short.  opts is copied; the
 * trust it points to is borrowed. */
struct core_verifier *core_verifier_new(const struct core_vopts *opts,
	    const char *digest);
void	 core_verifier_free(struct core_verifier *);
/* What to fetch next, in *need; CORE_VN_DONE when the verdict is in. */
enum core_vneed_kind core_verifier_next(struct core_verifier *,
	    struct core_vneed *need);
/*
 * The answer to the last need: the HTTP status, or 0 when the request
 * failed, and the body (borrowed for the call); errstr, or NULL, says what
 * went wrong in words (used in the reason of any answer other than 200 and
 * 404).  An answer larger than need.max_len must be fed as status 0.  Only
 * 404 means absent: any other status is indeterminate, never a verdict.
 */
void	 core_verifier_feed(struct core_verifier *, int status,
	    const char *body, size_t len, const char *errstr);
/*
 * The Link header of the answer about to be fed (or NULL), before
 * core_verifier_feed: a referrers API answer may name its next page.
 * Pages are read while they name one under /v2/.../referrers/<digest>, up
 * to CORE_REFERRERS_PAGES and CORE_REFERRERS_MAX referrers in all.
 */
void	 core_verifier_feed_link(struct core_verifier *, const char *link);
/* The verdict and its reason (lives as long as the verifier). */
enum core_verdict core_verifier_verdict(const struct core_verifier *,
	    const char **reason);
int	 core_verifier_nsigners(const struct core_verifier *);
/* Distinct signer i (a fingerprint or "keyless:<subject>"); borrowed. */
const char *core_verifier_signer(const struct core_verifier *, int i);
/* The layers that verified, in list order; borrowed. */
size_t	 core_verifier_nvalid(const struct core_verifier *);
/* How many signatures were fetched and looked at, in both formats. */
size_t	 core_verifier_looked(const struct core_verifier *);
const struct core_vvalid *core_verifier_valid(const struct core_verifier *,
	    size_t i);
/* Why the last refused layer was refused, or NULL; borrowed. */
const char *core_verifier_last_refusal(const struct core_verifier *);
/* The signature list as read (empty before it is); borrowed. */
const struct core_sigman *core_verifier_list(const struct core_verifier *);
/* Why a log's history was found forked (a checkpoint that went back, two
 * roots for one size, a failed consistency proof), or NULL; borrowed. */
const char *core_verifier_forked(const struct core_verifier *);
/* The state's name, for debug logs (static). */
const char *core_verifier_state(const struct core_verifier *);

/* merkle.c: RFC 6962 inclusion proofs, signed checkpoints */

#define CORE_CHECKPOINT_MAX	4096

void	 core_merkle_leaf(const void *data, size_t len, unsigned char out[32]);
void	 core_merkle_node(const unsigned char l[32], const unsigned char r[32],
	    unsigned char out[32]);
/* 0 when hashes (leaf to root) prove leaf at index in a tree of size. */
int	 core_merkle_verify_inclusion(uint64_t index, uint64_t size,
	    const unsigned char leaf[32], const unsigned char (*hashes)[32],
	    size_t nhashes, const unsigned char root[32]);

/* 0 when hashes prove the tree of size first (root r1) a prefix of the
 * one of size second (root r2): RFC 6962's consistency proof. */
int	 core_merkle_verify_consistency(uint64_t first, uint64_t second,
	    const unsigned char r1[32], const unsigned char r2[32],
	    const unsigned char (*hashes)[32], size_t nhashes);

struct core_checkpoint {
	char		origin[256];
	uint64_t	size;
	unsigned char	root[32];
	int64_t		timestamp;	/* nanoseconds, 0 when absent */
	char		name[256];	/* of the signature that verified */
	size_t		key;		/* index of the log key */
};
/* Parse a signed note and verify one signature under a trusted log key
 * (selected by the 4-byte key hint). */
int	 core_checkpoint_verify(const char *text, size_t len,
	    struct core_key *const *logs, size_t nlogs,
	    struct core_checkpoint *cp, char *reason, size_t rlen);
/*
 * An inclusion proof as a log hands it, whatever its encoding: body's leaf
 * at index in the tree of size, by hashes, up to root; and checkpoint (a
 * signed note) signed by one of logs, naming that root and size (*cp).  0,
 * or -1 with why.
 */
int	 core_merkle_check_proof(struct core_key *const *logs, size_t nlogs,
	    const void *body, size_t blen, uint64_t index, uint64_t size,
	    const unsigned char (*hashes)[32], size_t nhashes,
	    const unsigned char root[32], const char *checkpoint,
	    struct core_checkpoint *cp, char *reason, size_t rlen);
/* Lower-case hex to bytes; the number of bytes, or -1. */
int	 core_hex_decode(const char *hex, unsigned char *out, size_t outlen);

/* glob.c */
/* 1 when name matches the glob: '*' any run (also across '/'), '?' one
 * character, '[...]' a set, as fnmatch(3) without flags. */
int	 core_glob_match(const char *pattern, const char *name);

#endif /* SIGNET_CORE_H */
