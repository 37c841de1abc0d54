/*
 * proxy/server/referrers.c: the OCI 1.1 referrers API for every registry.
 * GET /v2/<name>/referrers/<digest> goes to the upstream first; where it
 * has no such API (404, or 400/406/405 as some answer), signet answers from
 * the referrers tag schema's index (sha256-<hex>), as the distribution
 * spec tells clients to fall back: an OCI image index, filtered by an
 * artifactType query with OCI-Filters-Applied said, empty when there is
 * nothing (a registry with the API never answers 404 here).  So a client
 * that only knows the API works in front of distribution 2.8, GHCR, GAR.
 *
 * Every read carries the client's own credentials: the client learns
 * nothing through signet it could not read itself, and an authentication
 * challenge reaches it as the registry sent it.  What is listed is not
 * verified here: each referrer is checked when it is pulled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "server.h"

int
px_referrers_wanted(struct px_conn *c)
{
	return c->c_route.kind == CORE_R_REFERRERS &&
	    strcmp(c->c_req.method, "GET") == 0 &&
	    strncmp(c->c_route.ref, "sha256:", 7) == 0;
}

static void	on_api(struct px_fetch *, void *);
static void	on_tag(struct px_fetch *, void *);

static int
send_get(struct px_conn *c, const char *target, px_fetch_fn cb)
{
	char	origin[300], err[400];

	px_conn_origin(c, origin, sizeof(origin));
	c->c_refs = px_fetch_send(px_server_upstream(c->c_srv), &c->c_conf->up,
	    &(struct px_request){ .method = "GET", .target = target,
	    .authorization = px_http_req_header(&c->c_req, "authorization"),
	    .accept = CORE_MT_OCI_INDEX, .user_agent = px_http_req_header(
	    &c->c_req, "user-agent"), .origin = origin }, cb, c, err,
	    sizeof(err));
	if (c->c_refs == NULL) {
		px_conn_error(c, 500, "UNKNOWN", err);
		return -1;
	}
	return 0;
}

void
px_referrers_start(struct px_conn *c)
{
	/* the client's own target: its artifactType filter goes along */
	(void)send_get(c, c->c_req.target, on_api);
}

static void
on_api(struct px_fetch *f, void *arg)
{
	struct px_conn	*c = arg;
	char		 target[600];
	int		 st = px_fetch_status(f);

	c->c_refs = NULL;
	if (st != 404 && st != 400 && st != 405 && st != 406) {
		/* the registry's API answered (or refused: a challenge) */
		px_conn_reply_fetch(c, f, NULL);
		px_fetch_free(f);
		return;
	}
	px_fetch_free(f);
	snprintf(target, sizeof(target), "/v2/%s/manifests/sha256-%.64s",
	    c->c_route.name, c->c_route.ref + 7);
	(void)send_get(c, target, on_tag);
}

/* The artifactType of the query, URL-decoded, in out ("" when none). */
static void
query_type(const char *target, char *out, size_t len)
{
	const char	*q = strchr(target, '?'), *p;
	size_t		 n = 0;
	unsigned int	 ch;

	out[0] = '\0';
	for (p = q; p != NULL; p = strchr(p + 1, '&'))
		if (strncmp(p + 1, "artifactType=", 13) == 0)
			break;
	if (p == NULL)
		return;
	for (p += 14; *p != '\0' && *p != '&' && n + 1 < len; p++) {
		if (*p == '%' && sscanf(p + 1, "%2x", &ch) == 1) {
			out[n++] = (char)ch;
			p += 2;
		} else
			out[n++] = *p == '+' ? ' ' : *p;
	}
	out[n] = '\0';
	core_ascii(out);
}

static void
on_tag(struct px_fetch *f, void *arg)
{
	struct px_conn	*c = arg;
	struct evbuffer	*hdrs;
	json_t		*o = NULL, *out, *list, *d;
	const char	*body, *at;
	char		 want[256], hex[65], *text;
	size_t		 len, i;
	int		 st = px_fetch_status(f);

	c->c_refs = NULL;
	if (st != 200 && st != 404) {
		px_conn_reply_fetch(c, f, NULL);
		px_fetch_free(f);
		return;
	}
	body = px_fetch_body(f, &len);
	core_sha256_hex(body, len, hex);
	/* GitLab resolves sha256-<hex> to the manifest sha256:<hex> itself:
	 * that is no index of referrers */
	if (st == 200 && strcmp(hex, c->c_route.ref + 7) != 0)
		o = core_json_parse(body, len, &core_json_manifest);
	query_type(c->c_req.target, want, sizeof(want));
	list = json_array();
	json_array_foreach(json_object_get(o, "manifests"), i, d) {
		at = json_string_value(json_object_get(d, "artifactType"));
		if (!json_is_object(d) || (want[0] != '\0' && (at == NULL ||
		    strcmp(at, want) != 0)))
			continue;
		json_array_append(list, d);
	}
	out = json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType",
	    CORE_MT_OCI_INDEX, "manifests", list);
	text = out != NULL ? json_dumps(out, JSON_COMPACT |
	    JSON_PRESERVE_ORDER) : NULL;
	json_decref(out);
	json_decref(o);
	px_fetch_free(f);
	hdrs = evbuffer_new();
	if (text == NULL || hdrs == NULL) {
		free(text);
		if (hdrs != NULL)
			evbuffer_free(hdrs);
		px_conn_error(c, 500, "UNKNOWN", "out of memory");
		return;
	}
	evbuffer_add_printf(hdrs, "Content-Type: %s\r\n", CORE_MT_OCI_INDEX);
	if (want[0] != '\0')
		evbuffer_add_printf(hdrs, "OCI-Filters-Applied: artifactType\r\n");
	px_conn_resp_head(c, 200, hdrs, (int64_t)strlen(text));
	evbuffer_free(hdrs);
	px_conn_resp_body(c, text, strlen(text));
	px_conn_resp_end(c);
	free(text);
}

static void
referrers_free(struct px_conn *c)
{
	px_fetch_free(c->c_refs);
	c->c_refs = NULL;
}

const struct px_handler px_referrers_handler = {
	.name = "referrers", .body = NULL, .wants_body = 0,
	.free = referrers_free,
};
