/*
 * proxy/cmd/gc.c: `signet gc [--dry-run] [--allow-http] REGISTRY/REPO`: find
 * cosign signature objects (sha256-<hex>.sig, .att, .sbom) and cosign v3's
 * referrers indexes (the referrers tag schema's sha256-<hex>) whose subject
 * manifest no longer exists in the repository, and take away what was
 * signed for it.
 *
 * One request at a time: listing tags (following Link pages), a HEAD of
 * each object's subject, and for an orphan the judgement of sigdrop.c: the
 * object is read and only a signature object whose layers name the missing
 * subject goes (deleted by digest, or written back without those layers),
 * and for an index each referrer it lists whose own subject is the missing
 * one (then the index, when nothing it lists is left); a tag pointing at
 * anything else is left alone and said so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define GC_TAGS_MAX	100000


struct gc {
	struct event_base	*base;
	struct conf_endpoint	*ep;		/* the registry */
	struct px_upstream	*up;
	struct px_fetch		*f;
	struct px_sigdrop	*drop;		/* an orphan being judged */
	char			 repo[CORE_NAME_MAX + 1];
	char			 registry[256];
	char			**tags;		/* cosign objects found */
	size_t			 ntags, cur;
	int			 dry_run;
	int			 orphans, deleted, trimmed, kept, errors;
};

static void	gc_next(struct gc *);

/* 1 for the referrers tag schema's sha256-<64 hex> (a name only). */
static int
referrers_tag(const char *tag)
{
	char	d[CORE_DIGEST_MAX + 1];

	if (strlen(tag) != 7 + 64 || strncmp(tag, "sha256-", 7) != 0)
		return 0;
	snprintf(d, sizeof(d), "sha256:%s", tag + 7);
	return core_digest_valid(d, strlen(d));
}

static int
gc_send(struct gc *g, const char *method, const char *target,
    void (*cb)(struct px_fetch *, void *))
{
	char	err[400];

	px_fetch_free(g->f);
	g->f = px_fetch_send(g->up, g->ep, &(struct px_request){
	    .method = method, .target = target, .accept = CORE_MT_ACCEPT_ALL }, cb, g,
	    err, sizeof(err));
	if (g->f == NULL) {
		fprintf(stderr, "signet: gc: %s\n", err);
		g->errors++;
		event_base_loopexit(g->base, NULL);
		return -1;
	}
	return 0;
}

static void
on_tags(struct px_fetch *f, void *arg)
{
	struct gc	*g = arg;
	const char	*body, *t, *link;
	json_t		*o, *v;
	char		 next[1024];
	size_t		 len, i;

	if (px_fetch_status(f) != 200) {
		fprintf(stderr, "signet: gc: listing the tags of %s/%s: %s\n",
		    g->registry, g->repo, px_fetch_status(f) == 0 ?
		    px_fetch_error(f) : "HTTP error");
		g->errors++;
		event_base_loopexit(g->base, NULL);
		return;
	}
	body = px_fetch_body(f, &len);
	o = core_json_parse(body, len, &core_json_small);
	json_array_foreach(json_object_get(o, "tags"), i, v) {
		t = json_string_value(v);
		if (t == NULL || (!core_cosign_tag(t) && !referrers_tag(t)) ||
		    g->ntags >= GC_TAGS_MAX)
			continue;
		g->tags = realloc(g->tags, (g->ntags + 1) * sizeof(*g->tags));
		g->tags[g->ntags++] = strdup(t);
	}
	json_decref(o);
	link = px_fetch_link(f);
	if (link != NULL && core_link_next(link, next, sizeof(next)) == 0) {
		gc_send(g, "GET", next, on_tags);
		return;
	}
	g->cur = 0;
	gc_next(g);
}

static void
on_object(void *arg, const char *sigrepo, const char *tag, const char *digest,
    enum px_sigdrop_action a, const char *why)
{
	struct gc	*g = arg;
	char		 name[CORE_NAME_MAX + CORE_DIGEST_MAX + 2];

	(void)sigrepo;
	/* a referrer has no tag: it is named by its digest */
	snprintf(name, sizeof(name), "%s%s%s", g->repo, *tag != '\0' ? ":" :
	    "@", *tag != '\0' ? tag : digest);
	switch (a) {
	case PX_SD_DELETED:
		g->deleted += !g->dry_run;
		printf("%s %s/%s\n", g->dry_run ? "would delete" : "deleted",
		    g->registry, name);
		break;
	case PX_SD_TRIMMED:
		g->trimmed += !g->dry_run;
		printf("%s %s/%s: %s\n", g->dry_run ? "would trim" : "trimmed",
		    g->registry, name, why);
		break;
	case PX_SD_KEPT:
		g->kept++;
		printf("left alone %s/%s: %s\n", g->registry, name, why);
		break;
	case PX_SD_FAILED:
		g->errors++;
		fprintf(stderr, "signet: gc: %s: %s\n", name, why);
		break;
	}
}

static void
on_dropped(void *arg, const struct px_sigdrop_result *r)
{
	struct gc	*g = arg;

	(void)r;
	px_sigdrop_free(g->drop);
	g->drop = NULL;
	g->cur++;
	gc_next(g);
}

static void
on_subject(struct px_fetch *f, void *arg)
{
	struct gc	*g = arg;
	const char	*tag = g->tags[g->cur];
	char		 subject[CORE_DIGEST_MAX + 1];
	int		 st = px_fetch_status(f);

	if (st == 404) {
		g->orphans++;
		printf("orphan %s/%s:%s (subject sha256:%.64s is gone)\n",
		    g->registry, g->repo, tag, tag + 7);
		snprintf(subject, sizeof(subject), "sha256:%.64s", tag + 7);
		g->drop = px_sigdrop_start(&(struct px_sigdrop_req){
		    .up = g->up, .base = g->base, .endpoint = g->ep,
		    .sigrepo = g->repo, .subject = subject,
		    .suffix = strchr(tag, '.') != NULL ? strchr(tag, '.') + 1 :
		    "referrers", .dry_run = g->dry_run },
		    on_object, on_dropped, g);
		if (g->drop != NULL)
			return;
		g->errors++;
		fprintf(stderr, "signet: gc: cannot judge %s\n", tag);
	} else if (st != 200) {
		g->errors++;
		fprintf(stderr, "signet: gc: checking the subject of %s: %s\n",
		    tag, st == 0 ? px_fetch_error(f) : "HTTP error");
	}
	g->cur++;
	gc_next(g);
}

static void
gc_next(struct gc *g)
{
	char	target[600];

	if (g->cur >= g->ntags) {
		printf("%zu signature object(s), %d orphan(s), %d deleted, "
		    "%d trimmed, %d left alone%s\n", g->ntags, g->orphans,
		    g->deleted, g->trimmed, g->kept, g->dry_run ?
		    " (dry run)" : "");
		event_base_loopexit(g->base, NULL);
		return;
	}
	snprintf(target, sizeof(target), "/v2/%s/manifests/sha256:%.64s",
	    g->repo, g->tags[g->cur] + 7);
	gc_send(g, "HEAD", target, on_subject);
}

int
px_cmd_gc(int argc, char **argv)
{
	struct gc		 g;
	struct core_image_ref	 ir;
	const char		*image = NULL;
	char			 url[300], err[CONF_ERR_MAX], target[600];
	int			 i, allow_http = 0;
	size_t			 k;

	memset(&g, 0, sizeof(g));
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			g.dry_run = 1;
		else if (strcmp(argv[i], "--allow-http") == 0)
			allow_http = 1;
		else if (argv[i][0] != '-' && image == NULL)
			image = argv[i];
		else {
			fprintf(stderr, "signet: gc: unexpected argument: %s\n",
			    argv[i]);
			return 2;
		}
	}
	if (image == NULL || core_image_ref_parse(image, 0, &ir) == -1) {
		fprintf(stderr, "signet: gc needs REGISTRY/REPO\n");
		return 2;
	}
	memcpy(g.registry, ir.registry, sizeof(g.registry));
	memcpy(g.repo, ir.repo, sizeof(g.repo));
	snprintf(url, sizeof(url), "%s://%s", allow_http ? "http" : "https",
	    g.registry);
	g.ep = conf_endpoint_new(url, NULL, err, sizeof(err));
	if (g.ep == NULL) {
		fprintf(stderr, "signet: gc: %s\n", err);
		return 1;
	}
	px_log_set_level(CONF_LOG_WARN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	g.base = event_base_new();
	g.up = g.base != NULL ? px_upstream_new(g.base) : NULL;
	snprintf(target, sizeof(target), "/v2/%s/tags/list?n=1000", g.repo);
	if (g.up != NULL && gc_send(&g, "GET", target, on_tags) == 0)
		event_base_dispatch(g.base);
	px_fetch_free(g.f);
	px_sigdrop_free(g.drop);
	px_upstream_free(g.up);
	if (g.base != NULL)
		event_base_free(g.base);
	for (k = 0; k < g.ntags; k++)
		free(g.tags[k]);
	free(g.tags);
	conf_endpoint_free(g.ep);
	curl_global_cleanup();
	return g.errors > 0 ? 1 : 0;
}
