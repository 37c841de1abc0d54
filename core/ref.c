/*
 * core/ref.c: repository names, tags and digests, as the OCI distribution
 * spec defines them.  Hand-written matchers rather than regex(3): they run on
 * every request and must never allocate.
 */
#include <string.h>

#include <mbedtls/sha256.h>

#include "core.h"

static int
is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/*
 * One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
 * Returns the length matched, 0 if the component is malformed.
 */
static size_t
name_component(const char *s, size_t len)
{
	size_t	i = 0;

	if (len == 0 || !is_lower_alnum(s[0]))
		return 0;
	for (;;) {
		while (i < len && is_lower_alnum(s[i]))
			i++;
		if (i == len || s[i] == '/')
			return i;
		/* a separator, then at least one alphanumeric */
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += (i + 1 < len && s[i + 1] == '_') ? 2 : 1;
		else if (s[i] == '-')
			while (i < len && s[i] == '-')
				i++;
		else
			return 0;
		if (i == len || !is_lower_alnum(s[i]))
			return 0;
	}
}

int
core_name_valid(const char *s, size_t len)
{
	size_t	i = 0, n;

	if (len == 0 || len > CORE_NAME_MAX)
		return 0;
	for (;;) {
		n = name_component(s + i, len - i);
		if (n == 0)
			return 0;
		i += n;
		if (i == len)
			return 1;
		i++;	/* the '/' */
	}
}

int
core_tag_valid(const char *s, size_t len)
{
	size_t	i;
	char	ch;

	if (len == 0 || len > CORE_TAG_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		ch = s[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_')
			continue;
		if (i > 0 && (ch == '.' || ch == '-'))
			continue;
		return 0;
	}
	return 1;
}

int
core_digest_valid(const char *s, size_t len)
{
	const char	*colon;
	size_t		 alen, elen, i;
	char		 ch;

	if (len > CORE_DIGEST_MAX)
		return 0;
	colon = memchr(s, ':', len);
	if (colon == NULL)
		return 0;
	alen = (size_t)(colon - s);
	elen = len - alen - 1;
	/* algorithm: [a-z0-9]+([+._-][a-z0-9]+)* */
	if (alen == 0 || alen > 32 || !is_lower_alnum(s[0]) ||
	    !is_lower_alnum(s[alen - 1]))
		return 0;
	for (i = 0; i < alen; i++) {
		ch = s[i];
		if (is_lower_alnum(ch))
			continue;
		if ((ch == '+' || ch == '.' || ch == '_' || ch == '-') &&
		    is_lower_alnum(s[i + 1]))
			continue;
		return 0;
	}
	/* encoded: [a-zA-Z0-9=_-]+ */
	if (elen == 0)
		return 0;
	for (i = alen + 1; i < len; i++) {
		ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '=' || ch == '_' ||
		    ch == '-'))
			return 0;
	}
	/* registered algorithms are lower-case hex of a fixed length */
	if ((alen == 6 && memcmp(s, "sha256", 6) == 0) ||
	    (alen == 6 && memcmp(s, "sha512", 6) == 0)) {
		if (elen != (s[3] == '2' ? 64u : 128u))
			return 0;
		for (i = alen + 1; i < len; i++) {
			ch = s[i];
			if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
				return 0;
		}
	}
	return 1;
}

void
core_sha256_hex(const void *buf, size_t len, char out[65])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 md[32];
	int			 i;

	mbedtls_sha256_ret(buf, len, md, 0);
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

int
core_image_ref_parse(const char *s, int want_ref, struct core_image_ref *r)
{
	const char	*slash = strchr(s, '/'), *name, *at, *colon;
	size_t		 n;

	memset(r, 0, sizeof(*r));
	if (slash == NULL || slash == s ||
	    (size_t)(slash - s) >= sizeof(r->registry))
		return -1;
	memcpy(r->registry, s, (size_t)(slash - s));
	name = slash + 1;
	at = strchr(name, '@');
	colon = strrchr(name, ':');
	if (!want_ref)
		n = strlen(name);
	else if (at != NULL) {
		n = (size_t)(at - name);
		if (strlen(at + 1) >= sizeof(r->ref) ||
		    !core_digest_valid(at + 1, strlen(at + 1)))
			return -1;
		strcpy(r->ref, at + 1);
	} else if (colon != NULL && strchr(colon, '/') == NULL) {
		n = (size_t)(colon - name);
		if (!core_tag_valid(colon + 1, strlen(colon + 1)))
			return -1;
		strcpy(r->ref, colon + 1);
	} else {
		n = strlen(name);
		strcpy(r->ref, "latest");
	}
	if (n == 0 || n >= sizeof(r->repo) || !core_name_valid(name, n))
		return -1;
	memcpy(r->repo, name, n);
	return 0;
}

int
core_link_next(const char *link, char *out, size_t outlen)
{
	const char	*a, *b, *p, *params;
	size_t		 n;

	/* Link: <target>; rel="next" (RFC 8288; one link, as registries
	 * send it) */
	a = strchr(link, '<');
	b = a != NULL ? strchr(a, '>') : NULL;
	if (b == NULL)
		return -1;
	params = b + 1;
	if (strstr(params, "rel=\"next\"") == NULL &&
	    strstr(params, "rel=next") == NULL)
		return -1;
	a++;
	if (strncmp(a, "http://", 7) == 0 || strncmp(a, "https://", 8) == 0) {
		/* absolute: the path only, asked of the same registry */
		p = strchr(strstr(a, "://") + 3, '/');
		if (p == NULL || p > b)
			return -1;
		a = p;
	}
	n = (size_t)(b - a);
	if (n >= outlen || n > CORE_LINK_MAX || strncmp(a, "/v2/", 4) != 0)
		return -1;
	for (p = a; p < b; p++)
		if (*p <= ' ' || *p > '~')
			return -1;
	memcpy(out, a, n);
	out[n] = '\0';
	/* no step out of the path (a query may hold "..": a tag "a..b") */
	p = strstr(out, "..");
	if (p != NULL && (strchr(out, '?') == NULL || p < strchr(out, '?'))) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}
