/*
 * core/core.h: what signet knows about registries, with no network code.
 *
 * Everything here is pure: it takes bytes and returns verdicts, so it can be
 * unit-tested without sockets and reused by the commands.
 */
#ifndef SIGNET_CORE_H
#define SIGNET_CORE_H

#include <stddef.h>
#include <stdint.h>

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

/* Lower-case hex sha256 of buf into out (65 bytes with the NUL). */
void	core_sha256_hex(const void *buf, size_t len, char out[65]);

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
/* 1 when the media type (parameters ignored) names an image manifest or index. */
int	core_mediatype_is_manifest(const char *mt);

#endif /* SIGNET_CORE_H */
