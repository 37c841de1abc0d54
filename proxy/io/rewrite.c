/*
 * proxy/io/rewrite.c: upstream response headers as a client of signet must
 * see them: framing and hop-by-hop headers dropped, Location and Link
 * values that name the upstream rewritten to name signet.  Pure string
 * work, shared by the relay and by signet's own buffered requests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io.h"

char *
px_rewrite_url(const char *value, const char *upstream,
    const char *client_origin, int is_link)
{
	const char	*url = value, *rest;
	size_t		 ulen = strlen(upstream), prefix = 0;
	char		*out;

	if (is_link) {
		/* <url>; rel="next": only the URL between the brackets */
		while (*url == ' ')
			url++;
		if (*url != '<')
			return NULL;
		url++;
	}
	prefix = (size_t)(url - value);
	if (strncasecmp(url, upstream, ulen) != 0)
		return NULL;
	rest = url + ulen;
	if (*rest != '/' && *rest != '\0' && *rest != '>' && *rest != '?')
		return NULL;	/* e.g. http://host:50000 vs http://host:5000 */
	if (*client_origin == '\0')
		client_origin = "";	/* no Host: make it a relative URL */
	out = malloc(prefix + strlen(client_origin) + strlen(rest) + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, value, prefix);
	strcpy(out + prefix, client_origin);
	strcat(out, rest);
	return out;
}

int
px_header_filter(const char *line, struct evbuffer *out, int64_t *clen,
    const char *upstream, const char *origin)
{
	const char	*v;
	char		*nv;
	size_t		 nlen;
	int		 is_link;

	v = strchr(line, ':');
	if (v == NULL || strpbrk(line, "\r\n") != NULL)
		return -1;	/* malformed, or an attempt at splitting */
	nlen = (size_t)(v - line);
	v++;
	while (*v == ' ' || *v == '\t')
		v++;
	if (nlen == 14 && strncasecmp(line, "content-length", 14) == 0) {
		*clen = strtoll(v, NULL, 10);
		return 0;
	}
	if (px_http_hop_by_hop(line, nlen))
		return 0;
	is_link = nlen == 4 && strncasecmp(line, "link", 4) == 0;
	if (is_link || (nlen == 8 && strncasecmp(line, "location", 8) == 0)) {
		nv = px_rewrite_url(v, upstream, origin, is_link);
		if (nv != NULL) {
			evbuffer_add_printf(out, "%.*s: %s\r\n", (int)nlen,
			    line, nv);
			free(nv);
			return 0;
		}
	}
	evbuffer_add_printf(out, "%s\r\n", line);
	return 0;
}

size_t
px_header_safe(char *out, size_t outlen, const char *in)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 n = 0;
	unsigned char		 ch;

	if (outlen == 0)
		return 0;
	for (; *in != '\0' && n + 5 < outlen; in++) {
		ch = (unsigned char)*in;
		if (ch < 0x20 || ch >= 0x7f || ch == '\\') {
			/* nothing from a registry, a payload or a certificate
			 * reaches a header as it is */
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		} else
			out[n++] = (char)ch;
	}
	out[n] = '\0';
	return n;
}
