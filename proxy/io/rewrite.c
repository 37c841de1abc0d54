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
