/*
 * core/route.c: map a /v2/ request path to the endpoint it names.
 *
 * Repository names contain slashes, so the endpoint is found from the end of
 * the path: the last one or two components say which endpoint it is, the rest
 * is the name, which must then match the spec's grammar.  Nothing is
 * percent-decoded: a valid name, tag or digest has no '%' in it.
 */
#include <string.h>

#include "core.h"

static const char *const route_names[] = {
	[CORE_R_BASE] = "base",
	[CORE_R_CATALOG] = "catalog",
	[CORE_R_TAGS] = "tags",
	[CORE_R_MANIFEST] = "manifest",
	[CORE_R_BLOB] = "blob",
	[CORE_R_UPLOAD_START] = "upload-start",
	[CORE_R_UPLOAD] = "upload",
	[CORE_R_REFERRERS] = "referrers",
	[CORE_R_HEALTHZ] = "healthz",
	[CORE_R_READYZ] = "readyz",
	[CORE_R_METRICS] = "metrics",
	[CORE_R_UNKNOWN] = "unknown",
};

const char *
core_route_name(enum core_route_kind k)
{
	if ((unsigned)k > CORE_R_UNKNOWN)
		return "?";
	return route_names[k];
}

static int
eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/* Upload session ids are opaque to clients, but never contain '/'. */
static int
upload_id_valid(const char *s, size_t len)
{
	size_t	i;
	char	ch;

	if (len == 0 || len > CORE_REF_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '='))
			return 0;
	}
	return 1;
}

static int
fail(const char **code, const char **errstr, const char *c, const char *m)
{
	*code = c;
	*errstr = m;
	return -1;
}

int
core_route_parse(const char *path, size_t len, struct core_route *r,
    const char **code, const char **errstr)
{
	const char	*comp[4];	/* starts of the last components */
	size_t		 clen[4];
	size_t		 end, i, namelen;
	int		 n;

	memset(r, 0, sizeof(*r));
	r->kind = CORE_R_UNKNOWN;
	if (eq(path, len, "/healthz")) {
		r->kind = CORE_R_HEALTHZ;
		return 0;
	}
	if (eq(path, len, "/readyz")) {
		r->kind = CORE_R_READYZ;
		return 0;
	}
	if (eq(path, len, "/metrics")) {
		r->kind = CORE_R_METRICS;
		return 0;
	}
	if (eq(path, len, "/v2/") || eq(path, len, "/v2")) {
		r->kind = CORE_R_BASE;
		return 0;
	}
	if (eq(path, len, "/v2/_catalog")) {
		r->kind = CORE_R_CATALOG;
		return 0;
	}
	if (len < 4 || memcmp(path, "/v2/", 4) != 0)
		return fail(code, errstr, "NOT_FOUND", "unknown endpoint");

	/* Split off up to four trailing components, right to left. */
	end = len;
	for (n = 0; n < 4; n++) {
		i = end;
		while (i > 4 && path[i - 1] != '/')
			i--;
		comp[n] = path + i;
		clen[n] = end - i;
		if (i <= 4) {
			n++;
			break;
		}
		end = i - 1;
	}

#define NAME_BEFORE(k)	((size_t)(comp[k] - path) - 4 - 1)
	if (n >= 3 && eq(comp[1], clen[1], "tags") &&
	    eq(comp[0], clen[0], "list")) {
		r->kind = CORE_R_TAGS;
		namelen = NAME_BEFORE(1);
	} else if (n >= 3 && eq(comp[1], clen[1], "manifests")) {
		r->kind = CORE_R_MANIFEST;
		namelen = NAME_BEFORE(1);
	} else if (n >= 3 && eq(comp[1], clen[1], "referrers")) {
		r->kind = CORE_R_REFERRERS;
		namelen = NAME_BEFORE(1);
	} else if (n >= 4 && eq(comp[2], clen[2], "blobs") &&
	    eq(comp[1], clen[1], "uploads")) {
		r->kind = clen[0] == 0 ? CORE_R_UPLOAD_START : CORE_R_UPLOAD;
		namelen = NAME_BEFORE(2);
	} else if (n >= 3 && eq(comp[1], clen[1], "blobs") &&
	    eq(comp[0], clen[0], "uploads")) {
		r->kind = CORE_R_UPLOAD_START;	/* no trailing slash */
		namelen = NAME_BEFORE(1);
	} else if (n >= 3 && eq(comp[1], clen[1], "blobs")) {
		r->kind = CORE_R_BLOB;
		namelen = NAME_BEFORE(1);
	} else
		return fail(code, errstr, "NOT_FOUND", "unknown endpoint");
#undef NAME_BEFORE

	if (!core_name_valid(path + 4, namelen)) {
		r->kind = CORE_R_UNKNOWN;
		return fail(code, errstr, "NAME_INVALID",
		    "invalid repository name");
	}
	memcpy(r->name, path + 4, namelen);
	r->name[namelen] = '\0';

	switch (r->kind) {
	case CORE_R_MANIFEST:
		if (core_digest_valid(comp[0], clen[0]))
			r->ref_is_digest = 1;
		else if (memchr(comp[0], ':', clen[0]) != NULL)
			return fail(code, errstr, "DIGEST_INVALID",
			    "invalid digest in manifest reference");
		else if (!core_tag_valid(comp[0], clen[0]))
			return fail(code, errstr, "TAG_INVALID",
			    "invalid tag in manifest reference");
		break;
	case CORE_R_BLOB:
	case CORE_R_REFERRERS:
		if (!core_digest_valid(comp[0], clen[0]))
			return fail(code, errstr, "DIGEST_INVALID",
			    "invalid digest");
		r->ref_is_digest = 1;
		break;
	case CORE_R_UPLOAD:
		if (!upload_id_valid(comp[0], clen[0]))
			return fail(code, errstr, "BLOB_UPLOAD_INVALID",
			    "invalid upload id");
		break;
	default:
		return 0;
	}
	memcpy(r->ref, comp[0], clen[0]);
	r->ref[clen[0]] = '\0';
	return 0;
}
