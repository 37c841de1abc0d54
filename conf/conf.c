/*
 * conf/conf.c: load the JSON configuration with jansson and validate it
 * against a declared table of keys.  Every key the file may hold is in the
 * table; anything else is an error, so a typo never silently becomes a default.
 *
 * The file may carry whole-line comments starting with '#' or '//': they are
 * blanked before parsing, keeping line numbers, so the shipped examples can
 * explain themselves.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex.h>

#include <jansson.h>

#include "conf.h"

enum conf_type { CT_OBJECT, CT_STRING, CT_BOOL, CT_INT, CT_LISTEN,
	CT_STRMAP, CT_POLICIES, CT_REKOR };

struct conf_key;
typedef int (*conf_check_fn)(struct conf *, json_t *, char *, size_t);

struct conf_key {
	const char		*name;
	enum conf_type		 type;
	size_t			 off;		/* leaves: field in struct conf */
	const struct conf_key	*sub;		/* objects: their keys */
	long			 min, max;	/* integers */
	conf_check_fn		 check;		/* extra validation */
	const char		*choices;	/* strings: "a|b|c" */
};

#define F(field)	offsetof(struct conf, field)

struct errbuf {
	char	*buf;
	size_t	 len, used;
	int	 count;
};

static void
errf(struct errbuf *e, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	e->count++;
	if (e->used + 1 >= e->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(e->buf + e->used, e->len - e->used, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	e->used += (size_t)n;
	if (e->used + 1 < e->len) {
		e->buf[e->used++] = '\n';
		e->buf[e->used] = '\0';
	} else
		e->used = e->len - 1;
}

static int
check_url(struct conf *c, json_t *v, char *msg, size_t len)
{
	const char	*s = json_string_value(v), *host;
	size_t		 n;

	(void)c;
	if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else {
		snprintf(msg, len, "must start with http:// or https://");
		return -1;
	}
	n = strcspn(host, "/?#");
	if (n == 0) {
		snprintf(msg, len, "has no host");
		return -1;
	}
	if (host[n] == '?' || host[n] == '#' ||
	    (host[n] == '/' && host[n + 1] != '\0')) {
		snprintf(msg, len,
		    "must be scheme://host[:port] with no path or query");
		return -1;
	}
	if (strchr(host, '@') != NULL) {
		snprintf(msg, len,
		    "must not carry credentials: clients authenticate "
		    "themselves");
		return -1;
	}
	return 0;
}

static int
check_readable(struct conf *c, json_t *v, char *msg, size_t len)
{
	struct stat	 st;
	const char	*s = json_string_value(v);

	(void)c;
	if (stat(s, &st) == -1) {
		snprintf(msg, len, "%s: %s", s, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(msg, len, "%s: not a regular file", s);
		return -1;
	}
	return 0;
}

static int
choice_index(const char *choices, const char *s)
{
	const char	*p = choices;
	size_t		 n, slen = strlen(s);
	int		 i = 0;

	for (;;) {
		n = strcspn(p, "|");
		if (n == slen && strncmp(p, s, n) == 0)
			return i;
		if (p[n] == '\0')
			return -1;
		p += n + 1;
		i++;
	}
}

static int
check_dir(struct conf *c, json_t *v, char *msg, size_t len)
{
	struct stat	 st;
	const char	*s = json_string_value(v);

	(void)c;
	if (stat(s, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    access(s, W_OK) == -1) {
		snprintf(msg, len, "%s: not a writable directory", s);
		return -1;
	}
	return 0;
}

static int
check_repo(struct conf *c, json_t *v, char *msg, size_t len)
{
	const char	*s = json_string_value(v);

	(void)c;
	if (!core_name_valid(s, strlen(s))) {
		snprintf(msg, len, "\"%s\" is not a valid repository name", s);
		return -1;
	}
	return 0;
}

/* An object whose values are all strings; returns a new reference. */
static json_t *
strmap(json_t *v, const char *path, struct errbuf *e)
{
	const char	*k;
	json_t		*x;

	if (!json_is_object(v)) {
		errf(e, "%s: must be an object of strings", path);
		return NULL;
	}
	json_object_foreach(v, k, x) {
		if (!json_is_string(x)) {
			errf(e, "%s.%s: must be a string", path, k);
			return NULL;
		}
	}
	return json_incref(v);
}

/* A path or an array of paths of PEM public keys, loaded now. */
static void
load_keys(json_t *v, const char *path, const char *name,
    struct core_key **keys, int *nkeys, struct errbuf *e)
{
	json_t		*item;
	size_t		 i;
	char		 msg[512];
	const char	*p;

	if (json_is_string(v)) {
		p = json_string_value(v);
		keys[*nkeys] = core_key_load_public(p, msg, sizeof(msg));
		if (keys[*nkeys] == NULL)
			errf(e, "%s.%s: %s", path, name, msg);
		else
			(*nkeys)++;
		return;
	}
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > CONF_KEYS_MAX) {
		errf(e, "%s.%s: must be a path or an array of 1 to %d paths",
		    path, name, CONF_KEYS_MAX);
		return;
	}
	json_array_foreach(v, i, item) {
		p = json_string_value(item);
		if (p == NULL) {
			errf(e, "%s.%s[%zu]: must be a path", path, name, i);
			continue;
		}
		keys[*nkeys] = core_key_load_public(p, msg, sizeof(msg));
		if (keys[*nkeys] == NULL)
			errf(e, "%s.%s[%zu]: %s", path, name, i, msg);
		else
			(*nkeys)++;
	}
}

/* "keyless": [{"ca_roots", "identity"|"identity_regexp",
 * "issuer"|"issuer_regexp"}] */
static void
parse_keyless(struct conf_policy *p, json_t *v, const char *path,
    struct errbuf *e)
{
	struct core_keyless	*kl;
	const char		*k, *str;
	json_t			*item, *x;
	regex_t			 rx;
	char			 ipath[340], msg[512];
	size_t			 i;

	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > CONF_KEYLESS_MAX) {
		errf(e, "%s.keyless: must be an array of 1 to %d objects", path,
		    CONF_KEYLESS_MAX);
		return;
	}
	json_array_foreach(v, i, item) {
		snprintf(ipath, sizeof(ipath), "%s.keyless[%zu]", path, i);
		if (!json_is_object(item)) {
			errf(e, "%s: must be an object", ipath);
			continue;
		}
		kl = &p->keyless[p->nkeyless++];
		json_object_foreach(item, k, x) {
			str = json_string_value(x);
			if (str == NULL || *str == '\0') {
				errf(e, "%s.%s: must be a non-empty string",
				    ipath, k);
				continue;
			}
			if (strcmp(k, "ca_roots") == 0) {
				kl->roots = core_roots_load(str, msg,
				    sizeof(msg));
				if (kl->roots == NULL)
					errf(e, "%s.ca_roots: %s", ipath, msg);
			} else if (strcmp(k, "identity") == 0)
				kl->identity = strdup(str);
			else if (strcmp(k, "issuer") == 0)
				kl->issuer = strdup(str);
			else if (strcmp(k, "identity_regexp") == 0 ||
			    strcmp(k, "issuer_regexp") == 0) {
				if (core_regex_check(str, msg, sizeof(msg)) ==
				    -1) {
					errf(e, "%s.%s: refused: %s", ipath, k,
					    msg);
					continue;
				}
				if (regcomp(&rx, str, REG_EXTENDED |
				    REG_NOSUB) != 0) {
					errf(e, "%s.%s: not a valid extended "
					    "regular expression", ipath, k);
					continue;
				}
				regfree(&rx);
				if (k[1] == 'd')
					kl->identity_re = strdup(str);
				else
					kl->issuer_re = strdup(str);
			} else
				errf(e, "%s.%s: unknown key", ipath, k);
		}
		if (kl->roots == NULL && json_object_get(item, "ca_roots") ==
		    NULL)
			errf(e, "%s.ca_roots: required", ipath);
		if ((kl->identity == NULL) == (kl->identity_re == NULL))
			errf(e, "%s: exactly one of identity and "
			    "identity_regexp", ipath);
		if ((kl->issuer == NULL) == (kl->issuer_re == NULL))
			errf(e, "%s: exactly one of issuer and issuer_regexp",
			    ipath);
	}
}

/* A registry for mirror_signatures_from: host[:port] or http(s)://host. */
static int
valid_mirror(const json_t *v)
{
	const char	*m = json_string_value(v), *h;
	size_t		 i;

	if (m == NULL || strlen(m) > 256)
		return 0;
	h = strstr(m, "://");
	if (h != NULL && strncmp(m, "http://", 7) != 0 &&
	    strncmp(m, "https://", 8) != 0)
		return 0;
	h = h != NULL ? h + 3 : m;
	if (*h == '\0' || *h == '/' || *h == ':')
		return 0;
	for (i = 0; h[i] != '\0'; i++)
		if (!isalnum((unsigned char)h[i]) && strchr(".-:[]", h[i]) ==
		    NULL)
			return 0;
	return 1;
}

static void
parse_mirrors(struct conf_policy *p, const json_t *x, const char *ipath,
    struct errbuf *e)
{
	const json_t	*mv;
	size_t		 mi;

	if (!json_is_array(x) || json_array_size(x) > CONF_MIRRORS_MAX) {
		errf(e, "%s.mirror_signatures_from: must be an array of at "
		    "most %d registries", ipath, CONF_MIRRORS_MAX);
		return;
	}
	for (mi = 0; mi < json_array_size(x); mi++) {
		mv = json_array_get(x, mi);
		if (!valid_mirror(mv)) {
			errf(e, "%s.mirror_signatures_from[%zu]: must be a "
			    "registry (host[:port] or an http(s) URL)", ipath,
			    mi);
			continue;
		}
		p->mirrors[p->nmirrors] = strdup(json_string_value(mv));
		if (p->mirrors[p->nmirrors] == NULL)
			errf(e, "%s.mirror_signatures_from: out of memory",
			    ipath);
		else
			p->nmirrors++;
	}
}

static void
parse_policies(struct conf *c, json_t *v, const char *path, struct errbuf *e)
{
	struct conf_policy	*p;
	const char		*k, *str;
	json_t			*item, *x;
	char			 ipath[300];
	size_t			 i;
	int			 idx;

	if (!json_is_array(v)) {
		errf(e, "%s: must be an array of objects", path);
		return;
	}
	if (json_array_size(v) > CONF_POLICIES_MAX) {
		errf(e, "%s: more than %d rules", path, CONF_POLICIES_MAX);
		return;
	}
	c->policies = calloc(json_array_size(v) + 1, sizeof(*c->policies));
	if (c->policies == NULL) {
		errf(e, "%s: out of memory", path);
		return;
	}
	json_array_foreach(v, i, item) {
		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (!json_is_object(item)) {
			errf(e, "%s: must be an object", ipath);
			continue;
		}
		p = &c->policies[c->npolicies++];
		p->delete_signatures = 1;
		/* a signature must name this repository unless "any" says not */
		p->identity_repository = 1;
		json_object_foreach(item, k, x) {
			str = json_string_value(x);
			if (strcmp(k, "match") == 0 && str != NULL && *str) {
				p->match = strdup(str);
			} else if (strcmp(k, "sign") == 0 && str != NULL) {
				idx = choice_index("off|best-effort|required",
				    str);
				if (idx < 0)
					errf(e, "%s.sign: \"%s\" is not one of "
					    "off|best-effort|required", ipath,
					    str);
				else
					p->sign = (enum conf_sign)idx;
			} else if (strcmp(k, "reference_registry") == 0 &&
			    str != NULL && *str && !strchr(str, '/')) {
				p->reference_registry = strdup(str);
			} else if (strcmp(k, "verify") == 0 && str != NULL) {
				idx = choice_index("off|warn|enforce", str);
				if (idx < 0)
					errf(e, "%s.verify: \"%s\" is not one of "
					    "off|warn|enforce", ipath, str);
				else
					p->verify = (enum conf_verify)idx;
			} else if (strcmp(k, "rekor") == 0 && str != NULL) {
				idx = choice_index("off|required|online", str);
				if (idx < 0)
					errf(e, "%s.rekor: \"%s\" is not one of "
					    "off|required|online", ipath, str);
				else
					p->rekor_required = idx;
			} else if (strcmp(k, "identity") == 0 && str != NULL) {
				idx = choice_index("any|repository", str);
				if (idx < 0)
					errf(e, "%s.identity: \"%s\" is not one of "
					    "repository|any", ipath, str);
				else
					p->identity_repository = idx;
			} else if (strcmp(k, "rekor_upload") == 0 && str != NULL) {
				idx = choice_index("off|best-effort|required",
				    str);
				if (idx < 0)
					errf(e, "%s.rekor_upload: \"%s\" is not one "
					    "of off|best-effort|required", ipath,
					    str);
				else
					p->rekor_upload = (enum conf_sign)idx;
			} else if (strcmp(k, "signature_format") == 0 &&
			    str != NULL) {
				idx = choice_index("legacy|bundle|both", str);
				if (idx < 0)
					errf(e, "%s.signature_format: \"%s\" is "
					    "not one of legacy|bundle|both", ipath,
					    str);
				else
					p->signature_format = idx;
			} else if (strcmp(k, "mirror_signatures_from") == 0) {
				parse_mirrors(p, x, ipath, e);
			} else if (strcmp(k, "require_subject") == 0) {
				if (!json_is_boolean(x))
					errf(e, "%s.require_subject: must be "
					    "true or false", ipath);
				p->require_subject = json_is_true(x);
			} else if (strcmp(k, "delete_signatures") == 0) {
				if (!json_is_boolean(x))
					errf(e, "%s.delete_signatures: must be "
					    "true or false", ipath);
				p->delete_signatures = json_is_true(x);
			} else if (strcmp(k, "strict_blobs") == 0) {
				if (!json_is_boolean(x))
					errf(e, "%s.strict_blobs: must be true or "
					    "false", ipath);
				p->strict_blobs = json_is_true(x);
			} else if (strcmp(k, "threshold") == 0) {
				if (!json_is_integer(x) ||
				    json_integer_value(x) < 1 ||
				    json_integer_value(x) > CONF_KEYS_MAX)
					errf(e, "%s.threshold: must be an integer "
					    "from 1 to %d", ipath, CONF_KEYS_MAX);
				else
					p->threshold = (long)json_integer_value(x);
			} else if (strcmp(k, "keyless") == 0) {
				parse_keyless(p, x, ipath, e);
			} else if (strcmp(k, "keys") == 0) {
				load_keys(x, ipath, "keys", p->keys, &p->nkeys,
				    e);
			} else if (strcmp(k, "annotations") == 0) {
				char apath[320];

				snprintf(apath, sizeof(apath), "%s.annotations",
				    ipath);
				p->annotations = strmap(x, apath, e);
			} else if (strcmp(k, "match") == 0 ||
			    strcmp(k, "sign") == 0 ||
			    strcmp(k, "verify") == 0 ||
			    strcmp(k, "rekor") == 0 ||
			    strcmp(k, "identity") == 0 ||
			    strcmp(k, "signature_format") == 0 ||
			    strcmp(k, "reference_registry") == 0) {
				errf(e, "%s.%s: must be a non-empty string%s",
				    ipath, k, strcmp(k, "reference_registry")
				    == 0 ? " naming a host[:port]" : "");
			} else
				errf(e, "%s.%s: unknown key", ipath, k);
		}
		if (p->match == NULL)
			errf(e, "%s.match: required", ipath);
		if (p->threshold == 0)
			p->threshold = 1;
		if (p->verify != CONF_VERIFY_OFF && p->nkeys == 0 &&
		    p->nkeyless == 0)
			errf(e, "%s.keys: verify needs at least one trusted key "
			    "or keyless signer", ipath);
		if (p->nmirrors > 0 && (p->sign == CONF_SIGN_OFF ||
		    (p->nkeys == 0 && p->nkeyless == 0)))
			errf(e, "%s.mirror_signatures_from: needs sign and trusted "
			    "keys (mirrored signatures are verified)", ipath);
		if (p->strict_blobs && p->verify == CONF_VERIFY_OFF)
			errf(e, "%s.strict_blobs: needs verify", ipath);
		if (p->verify != CONF_VERIFY_OFF &&
		    p->threshold > p->nkeys + p->nkeyless)
			errf(e, "%s.threshold: %ld is more than the %d trusted "
			    "signers", ipath, p->threshold, p->nkeys +
			    p->nkeyless);
	}
}

static const struct conf_key tls_keys[] = {
	{ "certificate", CT_STRING, F(tls_cert), NULL, 0, 0, check_readable, NULL },
	{ "key", CT_STRING, F(tls_key), NULL, 0, 0, check_readable, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL }
};

static const struct conf_key upstream_keys[] = {
	{ "url", CT_STRING, F(up.url), NULL, 0, 0, check_url, NULL },
	{ "ca", CT_STRING, F(up.ca), NULL, 0, 0, check_readable, NULL },
	{ "insecure", CT_BOOL, F(up.insecure), NULL, 0, 0, NULL, NULL },
	{ "connect_timeout", CT_INT, F(up.connect_timeout), NULL, 1, 600, NULL, NULL },
	{ "response_timeout", CT_INT, F(up.response_timeout), NULL, 1, 3600, NULL, NULL },
	{ "media_types", CT_STRING, F(up_media_types), NULL, 0, 0, NULL, "oci|docker|auto" },
	{ "forbidden_means_absent", CT_BOOL, F(up.forbidden_absent), NULL, 0, 0, NULL, NULL },
	{ "manifest_put", CT_STRING, F(up_manifest_put), NULL, 0, 0, NULL,
	    "digest-then-tag|tag-only" },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL }
};

static const struct conf_key signing_keys[] = {
	{ "key", CT_STRING, F(sign_key_path), NULL, 0, 0, check_readable, NULL },
	{ "password_env", CT_STRING, F(sign_password_env), NULL, 0, 0, NULL, NULL },
	{ "annotations", CT_STRMAP, F(sign_annotations), NULL, 0, 0, NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL }
};

static const struct conf_key log_keys[] = {
	{ "level", CT_STRING, F(log_level), NULL, 0, 0, NULL, "debug|info|warn|error" },
	{ "access", CT_BOOL, F(log_access), NULL, 0, 0, NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL }
};

static const struct conf_key limits_keys[] = {
	{ "max_connections", CT_INT, F(max_connections), NULL, 1, 100000, NULL, NULL },
	{ "idle_timeout", CT_INT, F(idle_timeout), NULL, 1, 3600, NULL, NULL },
	{ "header_timeout", CT_INT, F(header_timeout), NULL, 1, 600, NULL, NULL },
	{ "drain_timeout", CT_INT, F(drain_timeout), NULL, 0, 3600, NULL, NULL },
	{ "buffer_bytes", CT_INT, F(buffer_bytes), NULL, 16384, 64 * 1024 * 1024, NULL, NULL },
	{ "max_connections_per_address", CT_INT, F(max_conns_per_addr), NULL, 1, 100000,
	    NULL, NULL },
	{ "verifications", CT_INT, F(verify_slots), NULL, 1, 4096, NULL, NULL },
	{ "verification_queue", CT_INT, F(verify_queue), NULL, 0, 100000, NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL }
};

static const struct conf_key vcache_keys[] = {
	{ "success_ttl", CT_INT, F(vcache_ok_ttl), NULL, 0, 86400, NULL, NULL },
	{ "failure_ttl", CT_INT, F(vcache_fail_ttl), NULL, 0, 3600, NULL, NULL },
	{ "max_entries", CT_INT, F(vcache_max), NULL, 16, 10000000, NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL }
};

static const struct conf_key registry_auth_keys[] = {
	{ "username", CT_STRING, F(reg_user), NULL, 0, 0, NULL, NULL },
	{ "password_env", CT_STRING, F(reg_password_env), NULL, 0, 0, NULL, NULL },
	{ "password_file", CT_STRING, F(reg_password_file), NULL, 0, 0, check_readable,
	    NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL }
};

static const struct conf_key top_keys[] = {
	{ "listen", CT_LISTEN, 0, NULL, 0, 0, NULL, NULL },
	{ "tls", CT_OBJECT, 0, tls_keys, 0, 0, NULL, NULL },
	{ "upstream", CT_OBJECT, 0, upstream_keys, 0, 0, NULL, NULL },
	{ "log", CT_OBJECT, 0, log_keys, 0, 0, NULL, NULL },
	{ "limits", CT_OBJECT, 0, limits_keys, 0, 0, NULL, NULL },
	{ "signing", CT_OBJECT, 0, signing_keys, 0, 0, NULL, NULL },
	{ "signature_repository", CT_STRING, F(sig_repo), NULL, 0, 0, check_repo, NULL },
	{ "registry_auth", CT_OBJECT, 0, registry_auth_keys, 0, 0, NULL, NULL },
	{ "rekor", CT_REKOR, 0, NULL, 0, 0, NULL, NULL },
	{ "verify_cache", CT_OBJECT, 0, vcache_keys, 0, 0, NULL, NULL },
	{ "state_dir", CT_STRING, F(state_dir), NULL, 0, 0, check_dir, NULL },
	{ "workers", CT_INT, F(workers), NULL, 1, CONF_WORKERS_MAX, NULL, NULL },
	{ "splice", CT_STRING, F(splice), NULL, 0, 0, NULL, "auto|always|never" },
	{ "policies", CT_POLICIES, 0, NULL, 0, 0, NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL, NULL }
};

static const char *const type_names[] = {
	[CT_OBJECT] = "an object", [CT_STRING] = "a string",
	[CT_BOOL] = "true or false", [CT_INT] = "an integer",
	[CT_LISTEN] = "an array of \"host:port\" strings",
	[CT_STRMAP] = "an object of strings",
	[CT_POLICIES] = "an array of objects",
	[CT_REKOR] = "an object",
};

/* "host:port", "[v6]:port" or ":port" */
static int
parse_listen(struct conf *c, const char *s, char *msg, size_t len)
{
	const char	*colon, *host = s, *port;
	size_t		 hlen;
	char		*end;
	long		 p;

	if (c->nlisten == CONF_LISTEN_MAX) {
		snprintf(msg, len, "more than %d addresses", CONF_LISTEN_MAX);
		return -1;
	}
	if (s[0] == '[') {
		colon = strstr(s, "]:");
		if (colon == NULL)
			goto bad;
		host = s + 1;
		hlen = (size_t)(colon - host);
		port = colon + 2;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)))
			goto bad;
		hlen = (size_t)(colon - s);
		port = colon + 1;
	}
	errno = 0;
	p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || errno != 0 || p < 1 || p > 65535) {
		snprintf(msg, len, "\"%s\": port must be 1-65535", s);
		return -1;
	}
	c->listen[c->nlisten].host = strndup(host, hlen);
	c->listen[c->nlisten].port = strdup(port);
	c->nlisten++;
	return 0;
bad:
	snprintf(msg, len, "\"%s\": expected \"host:port\" or \"[v6]:port\"", s);
	return -1;
}

static void
walk(struct conf *c, const struct conf_key *keys, json_t *obj,
    const char *prefix, struct errbuf *e)
{
	const struct conf_key	*k;
	const char		*name;
	json_t			*v, *item;
	char			 path[256], msg[512];
	size_t			 i;
	json_int_t		 n;
	int			 idx;

	json_object_foreach(obj, name, v) {
		snprintf(path, sizeof(path), "%s%s%s", prefix,
		    *prefix ? "." : "", name);
		for (k = keys; k->name != NULL; k++)
			if (strcmp(k->name, name) == 0)
				break;
		if (k->name == NULL) {
			errf(e, "%s: unknown key", path);
			continue;
		}
		switch (k->type) {
		case CT_OBJECT:
			if (!json_is_object(v))
				goto type;
			walk(c, k->sub, v, path, e);
			continue;
		case CT_STRING:
			if (!json_is_string(v))
				goto type;
			if (json_string_length(v) == 0 ||
			    strlen(json_string_value(v)) !=
			    json_string_length(v)) {
				errf(e, "%s: must be a non-empty string "
				    "without NUL", path);
				continue;
			}
			if (k->choices != NULL) {
				idx = choice_index(k->choices,
				    json_string_value(v));
				if (idx < 0) {
					errf(e, "%s: \"%s\" is not one of %s",
					    path, json_string_value(v),
					    k->choices);
					continue;
				}
				*(int *)((char *)c + k->off) = idx;
			} else {
				char **dst = (char **)((char *)c + k->off);
				free(*dst);
				*dst = strdup(json_string_value(v));
			}
			break;
		case CT_BOOL:
			if (!json_is_boolean(v))
				goto type;
			*(int *)((char *)c + k->off) = json_is_true(v);
			break;
		case CT_INT:
			if (!json_is_integer(v))
				goto type;
			n = json_integer_value(v);
			if (n < k->min || n > k->max) {
				errf(e, "%s: %lld is out of range %ld-%ld",
				    path, (long long)n, k->min, k->max);
				continue;
			}
			*(long *)((char *)c + k->off) = (long)n;
			break;
		case CT_STRMAP: {
			json_t **dst = (json_t **)((char *)c + k->off);
			json_decref(*dst);
			*dst = strmap(v, path, e);
			continue;
		}
		case CT_POLICIES:
			parse_policies(c, v, path, e);
			continue;
		case CT_REKOR: {
			const char	*rk;
			json_t		*rv;

			if (!json_is_object(v))
				goto type;
			json_object_foreach(v, rk, rv) {
				char	m[256];

				if (strcmp(rk, "public_key") == 0)
					load_keys(rv, path, rk, c->rekor_keys,
					    &c->nrekor_keys, e);
				else if (strcmp(rk, "url") == 0 &&
				    json_is_string(rv)) {
					if (check_url(c, rv, m, sizeof(m)) == -1)
						errf(e, "%s.url: %s", path, m);
					else
						c->rekor_url = strdup(
						    json_string_value(rv));
				} else if (strcmp(rk, "retry_seconds") == 0) {
					if (!json_is_integer(rv) ||
					    json_integer_value(rv) < 1 ||
					    json_integer_value(rv) > 86400)
						errf(e, "%s.%s: must be an integer "
						    "from 1 to 86400", path, rk);
					else
						c->rekor_retry = (long)
						    json_integer_value(rv);
				} else
					errf(e, "%s.%s: unknown key", path, rk);
			}
			continue;
		}
		case CT_LISTEN:
			if (!json_is_array(v) || json_array_size(v) == 0)
				goto type;
			json_array_foreach(v, i, item) {
				if (!json_is_string(item)) {
					errf(e, "%s[%zu]: must be a string",
					    path, i);
					continue;
				}
				if (parse_listen(c, json_string_value(item),
				    msg, sizeof(msg)) == -1)
					errf(e, "%s[%zu]: %s", path, i, msg);
			}
			continue;
		}
		if (k->check != NULL && k->check(c, v, msg, sizeof(msg)) == -1)
			errf(e, "%s: %s", path, msg);
		continue;
type:
		errf(e, "%s: must be %s", path, type_names[k->type]);
	}
}

static void
set_defaults(struct conf *c)
{
	c->refcnt = 1;
	c->up.connect_timeout = CONF_CONNECT_TIMEOUT;
	c->up.response_timeout = CONF_RESPONSE_TIMEOUT;
	c->log_level = CONF_LOG_INFO;
	c->log_access = 1;
	c->splice = CONF_SPLICE_AUTO;
	c->max_connections = 1024;
	c->idle_timeout = 60;
	c->header_timeout = 30;
	c->drain_timeout = 30;
	c->buffer_bytes = 256 * 1024;
	c->max_conns_per_addr = 128;
	c->verify_slots = 8;
	c->verify_queue = 1024;
	c->vcache_ok_ttl = 300;
	c->vcache_fail_ttl = 10;
	c->vcache_max = 100000;
	c->rekor_retry = 30;
	c->workers = sysconf(_SC_NPROCESSORS_ONLN);
	if (c->workers < 1)
		c->workers = 1;
	if (c->workers > CONF_WORKERS_MAX)
		c->workers = CONF_WORKERS_MAX;
}

/* Blank whole-line '#' and '//' comments, keeping the newlines. */
static void
strip_comments(char *s, size_t len)
{
	size_t	i = 0, j;

	while (i < len) {
		j = i;
		while (j < len && (s[j] == ' ' || s[j] == '\t'))
			j++;
		if (j < len && (s[j] == '#' ||
		    (s[j] == '/' && j + 1 < len && s[j + 1] == '/')))
			while (j < len && s[j] != '\n')
				s[j++] = ' ';
		while (j < len && s[j] != '\n')
			j++;
		i = j + 1;
	}
}

/* Trailing slash dropped; host[:port], as docker-reference names it. */
static int
endpoint_finish(struct conf_endpoint *ep)
{
	size_t		 n = strlen(ep->url);
	const char	*h;

	if (n > 0 && ep->url[n - 1] == '/')
		ep->url[n - 1] = '\0';
	h = strstr(ep->url, "://");
	h = h != NULL ? h + 3 : ep->url;
	free(ep->hostport);
	ep->hostport = strndup(h, strcspn(h, "/"));
	return ep->hostport != NULL ? 0 : -1;
}

struct conf_endpoint *
conf_endpoint_new(const char *url, const char *ca, char *err, size_t errlen)
{
	struct conf_endpoint	*ep;
	json_t			*v = json_string(url);
	char			 msg[256];

	if (v == NULL || check_url(NULL, v, msg, sizeof(msg)) == -1) {
		snprintf(err, errlen, "%s: %s", url, v == NULL ?
		    "not a string" : msg);
		json_decref(v);
		return NULL;
	}
	json_decref(v);
	ep = calloc(1, sizeof(*ep));
	if (ep == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ep->url = strdup(url);
	ep->ca = ca != NULL ? strdup(ca) : NULL;
	ep->connect_timeout = CONF_CONNECT_TIMEOUT;
	ep->response_timeout = CONF_RESPONSE_TIMEOUT;
	if (ep->url == NULL || (ca != NULL && ep->ca == NULL) ||
	    endpoint_finish(ep) == -1) {
		conf_endpoint_free(ep);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return ep;
}

struct conf_endpoint *
conf_endpoint_dup(const struct conf_endpoint *from)
{
	struct conf_endpoint	*ep;

	ep = calloc(1, sizeof(*ep));
	if (ep == NULL)
		return NULL;
	*ep = *from;
	ep->url = strdup(from->url);
	ep->hostport = from->hostport != NULL ? strdup(from->hostport) : NULL;
	ep->ca = from->ca != NULL ? strdup(from->ca) : NULL;
	if (ep->url == NULL || (from->hostport != NULL && ep->hostport ==
	    NULL) || (from->ca != NULL && ep->ca == NULL)) {
		conf_endpoint_free(ep);
		return NULL;
	}
	return ep;
}

void
conf_endpoint_free(struct conf_endpoint *ep)
{
	if (ep == NULL)
		return;
	free(ep->url);
	free(ep->hostport);
	free(ep->ca);
	free(ep);
}

/*
 * Signing needs a key that loads; the cosign environment variables apply
 * as in cosign: COSIGN_DOCKER_MEDIA_TYPES=1 forces Docker media types and
 * COSIGN_REPOSITORY names the signature repository unless the file does.
 */
static void
finish_signing(struct conf *c, struct errbuf *e)
{
	const char	*env, *pw;
	char		 msg[512];
	int		 i, signs = 0;

	for (i = 0; i < c->npolicies; i++)
		if (c->policies[i].sign != CONF_SIGN_OFF)
			signs = 1;
	env = getenv("COSIGN_DOCKER_MEDIA_TYPES");
	if (env != NULL && strcmp(env, "1") == 0)
		c->up_media_types = CONF_MT_DOCKER;
	env = getenv("COSIGN_REPOSITORY");
	if (c->sig_repo == NULL && env != NULL && *env != '\0') {
		if (!core_name_valid(env, strlen(env)))
			errf(e, "COSIGN_REPOSITORY: \"%s\" is not a valid "
			    "repository name", env);
		else
			c->sig_repo = strdup(env);
	}
	if (c->sign_password_env == NULL)
		c->sign_password_env = strdup("COSIGN_PASSWORD");
	if (c->reg_password_env != NULL && c->reg_password_file != NULL)
		errf(e, "registry_auth: password_env or password_file, not "
		    "both");
	else if ((c->reg_user == NULL) != (c->reg_password_env == NULL &&
	    c->reg_password_file == NULL))
		errf(e, "registry_auth: username and password_env (or "
		    "password_file) go together");
	else if (c->reg_password_env != NULL &&
	    getenv(c->reg_password_env) == NULL)
		errf(e, "registry_auth.password_env: the environment variable "
		    "%s is not set", c->reg_password_env);
	if (c->sign_key_path == NULL) {
		if (signs)
			errf(e, "signing.key: required by a policy that signs");
		return;
	}
	if (e->count > 0)
		return;
	pw = getenv(c->sign_password_env);
	c->sign_key = core_key_load_private(c->sign_key_path, pw, msg,
	    sizeof(msg));
	if (c->sign_key == NULL)
		errf(e, "signing.key: %s%s", msg, pw == NULL &&
		    strstr(msg, "no password") ? " (set the environment "
		    "variable named by signing.password_env)" : "");
}

/* Rules that need Rekor keys have them; each rule's trust gets an id. */
static void
finish_verify(struct conf *c, struct errbuf *e)
{
	/* as cosign: the public instance, used only when a rule uploads or
	 * asks the log online */
	if (c->rekor_url == NULL)
		c->rekor_url = strdup(CONF_REKOR_URL_DEFAULT);
	else if (c->rekor_url[0] != '\0' &&
	    c->rekor_url[strlen(c->rekor_url) - 1] == '/')
		c->rekor_url[strlen(c->rekor_url) - 1] = '\0';
	struct conf_policy	*p;
	char			*buf = NULL;
	size_t			 n;
	FILE			*m;
	int			 i, j;

	for (i = 0; i < c->npolicies; i++) {
		p = &c->policies[i];
		if (p->rekor_required && c->nrekor_keys == 0)
			errf(e, "policies[%d].rekor: required needs "
			    "rekor.public_key", i);
		if (p->rekor_required == 2 && c->state_dir == NULL)
			errf(e, "policies[%d].rekor: online needs state_dir "
			    "(checkpoints are kept there)", i);
		if (p->rekor_upload != CONF_SIGN_OFF && c->nrekor_keys == 0)
			errf(e, "policies[%d].rekor_upload: needs "
			    "rekor.public_key (answers are checked)", i);
		if (p->nkeyless > 0 && c->nrekor_keys == 0)
			errf(e, "policies[%d].keyless: keyless signers need "
			    "rekor.public_key (their bundles are always "
			    "checked)", i);
		/*
		 * Everything a verdict depends on, the name expected too, in
		 * a string as long as it takes (order-insensitive would be
		 * nicer; the file order is stable).
		 */
		m = open_memstream(&buf, &n);
		if (m == NULL) {
			errf(e, "policies[%d]: out of memory", i);
			continue;
		}
		fprintf(m, "%s|%d|%ld|%d|%d|%s", p->match, i, p->threshold,
		    p->rekor_required, p->identity_repository,
		    p->reference_registry != NULL ? p->reference_registry : "");
		for (j = 0; j < p->nkeys; j++)
			fprintf(m, "|%s", core_key_fingerprint(p->keys[j]));
		for (j = 0; j < p->nkeyless; j++)
			fprintf(m, "|kl%p|%s|%s|%s|%s",
			    (void *)p->keyless[j].roots,
			    p->keyless[j].identity ? p->keyless[j].identity : "",
			    p->keyless[j].identity_re ?
			    p->keyless[j].identity_re : "",
			    p->keyless[j].issuer ? p->keyless[j].issuer : "",
			    p->keyless[j].issuer_re ?
			    p->keyless[j].issuer_re : "");
		for (j = 0; p->rekor_required && j < c->nrekor_keys; j++)
			fprintf(m, "|r%s", core_key_fingerprint(c->rekor_keys[j]));
		if (fclose(m) != 0 || buf == NULL) {
			free(buf);
			buf = NULL;
			errf(e, "policies[%d]: out of memory", i);
			continue;
		}
		core_sha256_hex(buf, n, p->trust_id);
		free(buf);
		buf = NULL;
	}
}

struct conf *
conf_load_buffer(const char *buf, size_t len, const char *name, char *err,
    size_t errlen)
{
	struct errbuf	 e = { err, errlen, 0, 0 };
	struct conf	*c;
	json_error_t	 jerr;
	json_t		*root;
	char		*copy;
	int		 has_listen;

	if (errlen > 0)
		err[0] = '\0';
	if (len > CONF_FILE_MAX) {
		errf(&e, "%s: larger than %d bytes", name, CONF_FILE_MAX);
		return NULL;
	}
	copy = malloc(len + 1);
	if (copy == NULL) {
		errf(&e, "%s: out of memory", name);
		return NULL;
	}
	memcpy(copy, buf, len);
	copy[len] = '\0';
	strip_comments(copy, len);
	root = json_loadb(copy, len, JSON_REJECT_DUPLICATES, &jerr);
	free(copy);
	if (root == NULL) {
		errf(&e, "%s: line %d, column %d: %s", name, jerr.line,
		    jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		errf(&e, "%s: the top level must be an object", name);
		json_decref(root);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		json_decref(root);
		errf(&e, "%s: out of memory", name);
		return NULL;
	}
	set_defaults(c);
	c->path = strdup(name);
	walk(c, top_keys, root, "", &e);
	has_listen = json_object_get(root, "listen") != NULL;
	json_decref(root);

	/* cross-key rules; a key given with a bad value was reported already */
	if (!has_listen)
		errf(&e, "listen: required");
	if (c->up.url == NULL)
		errf(&e, "upstream.url: required");
	if ((c->tls_cert == NULL) != (c->tls_key == NULL))
		errf(&e, "tls: certificate and key go together");
	if (c->up.url != NULL) {
		if (endpoint_finish(&c->up) == -1)
			errf(&e, "out of memory");
		if ((c->up.ca != NULL || c->up.insecure) &&
		    strncmp(c->up.url, "https://", 8) != 0)
			errf(&e, "upstream: ca and insecure apply to an "
			    "https:// url only");
	}
	finish_signing(c, &e);
	finish_verify(c, &e);
	if (e.count > 0) {
		conf_unref(c);
		return NULL;
	}
	return c;
}

struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct errbuf	 e = { err, errlen, 0, 0 };
	struct conf	*c;
	struct stat	 st;
	FILE		*fp;
	char		*buf;
	size_t		 n;

	if (errlen > 0)
		err[0] = '\0';
	fp = fopen(path, "r");
	if (fp == NULL) {
		errf(&e, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		errf(&e, "%s: not a regular file", path);
		fclose(fp);
		return NULL;
	}
	if (st.st_size > CONF_FILE_MAX) {
		errf(&e, "%s: larger than %d bytes", path, CONF_FILE_MAX);
		fclose(fp);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		fclose(fp);
		errf(&e, "%s: out of memory", path);
		return NULL;
	}
	n = fread(buf, 1, (size_t)st.st_size, fp);
	fclose(fp);
	c = conf_load_buffer(buf, n, path, err, errlen);
	free(buf);
	return c;
}

struct conf *
conf_ref(struct conf *c)
{
	c->refcnt++;
	return c;
}

void
conf_unref(struct conf *c)
{
	int	i, j;

	if (c == NULL || --c->refcnt > 0)
		return;
	for (i = 0; i < c->nlisten; i++) {
		free(c->listen[i].host);
		free(c->listen[i].port);
	}
	free(c->path);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->up.url);
	free(c->up.ca);
	free(c->up.hostport);
	free(c->sign_key_path);
	free(c->sign_password_env);
	json_decref(c->sign_annotations);
	core_key_free(c->sign_key);
	free(c->sig_repo);
	free(c->reg_user);
	free(c->reg_password_env);
	free(c->reg_password_file);
	free(c->rekor_url);
	free(c->state_dir);
	for (i = 0; i < c->npolicies; i++) {
		free(c->policies[i].match);
		free(c->policies[i].reference_registry);
		json_decref(c->policies[i].annotations);
		for (j = 0; j < c->policies[i].nkeys; j++)
			core_key_free(c->policies[i].keys[j]);
		for (j = 0; j < c->policies[i].nmirrors; j++)
			free(c->policies[i].mirrors[j]);
		for (j = 0; j < c->policies[i].nkeyless; j++) {
			core_roots_free(c->policies[i].keyless[j].roots);
			free(c->policies[i].keyless[j].identity);
			free(c->policies[i].keyless[j].identity_re);
			free(c->policies[i].keyless[j].issuer);
			free(c->policies[i].keyless[j].issuer_re);
		}
	}
	for (j = 0; j < c->nrekor_keys; j++)
		core_key_free(c->rekor_keys[j]);
	free(c->policies);
	free(c);
}

void
conf_policy_trust(const struct conf *c, const struct conf_policy *p,
    struct core_trust *t)
{
	memset(t, 0, sizeof(*t));
	t->keys = (struct core_key **)p->keys;
	t->nkeys = (size_t)p->nkeys;
	t->keyless = p->keyless;
	t->nkeyless = (size_t)p->nkeyless;
	t->rekor = (struct core_key **)c->rekor_keys;
	t->nrekor = (size_t)c->nrekor_keys;
	t->rekor_required = p->rekor_required != 0;
}

void
conf_policy_vopts(const struct conf *c, const struct conf_policy *p,
    const char *want_ref, struct core_trust *t, struct core_vopts *o)
{
	conf_policy_trust(c, p, t);
	t->want_ref = p->identity_repository ? want_ref : NULL;
	memset(o, 0, sizeof(*o));
	o->trust = t;
	o->threshold = (int)p->threshold;
	o->online = p->rekor_required == 2;
	o->state_dir = c->state_dir;
}

const struct conf_policy *
conf_policy_for(const struct conf *c, const char *repo)
{
	int	i;

	for (i = 0; i < c->npolicies; i++)
		if (core_glob_match(c->policies[i].match, repo))
			return &c->policies[i];
	return NULL;
}

const char *
conf_verify_name(enum conf_verify v)
{
	static const char *const names[] = { "off", "warn", "enforce" };

	return (unsigned)v < 3 ? names[v] : "?";
}

const char *
conf_sign_name(enum conf_sign s)
{
	static const char *const names[] = { "off", "best-effort", "required" };

	return (unsigned)s < 3 ? names[s] : "?";
}

const char *
conf_log_level_name(enum conf_log_level l)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };

	return (unsigned)l < 4 ? names[l] : "?";
}
