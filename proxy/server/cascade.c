/*
 * proxy/server/cascade.c: keep signature objects in step with their subject.  When
 * a manifest DELETE by digest through signet succeeds, its cosign objects
 * (sha256-<hex>.sig, .att, .sbom in the signature repository) are deleted
 * too, in the background, with the client's own Authorization: a client
 * cannot delete through signet what it could not delete itself.
 *
 * Registries delete manifests by digest (distribution refuses tags), so each
 * object's tag is resolved with a HEAD first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"


static const char *const suffixes[] = { "sig", "att", "sbom" };
#define NSUFFIX	(sizeof(suffixes) / sizeof(*suffixes))

struct cascade {
	struct conf		*k_conf;
	struct px_upstream	*k_up;
	char			 k_repo[CORE_NAME_MAX + 1];
	char			 k_hex[65];
	char			*k_auth;
	struct px_fetch		*k_f[NSUFFIX];
	int			 k_deleting[NSUFFIX];
	int			 k_pending;
	int			 k_deleted;
	uint64_t		 k_id;
};

static void
cascade_free(struct cascade *k)
{
	size_t	i;

	for (i = 0; i < NSUFFIX; i++)
		px_fetch_free(k->k_f[i]);
	if (k->k_auth != NULL) {
		mbedtls_platform_zeroize(k->k_auth, strlen(k->k_auth));
		free(k->k_auth);
	}
	conf_unref(k->k_conf);
	free(k);
}

static void on_fetch(struct px_fetch *, void *);

static int
send_one(struct cascade *k, size_t i, const char *method, const char *ref)
{
	char	target[600], err[400];

	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", k->k_repo, ref);
	px_fetch_free(k->k_f[i]);
	k->k_f[i] = px_fetch_send(k->k_up, &k->k_conf->up, &(struct px_request){
	    .method = method, .target = target, .authorization = k->k_auth,
	    .accept = CORE_MT_ACCEPT_ALL }, on_fetch, k, err, sizeof(err));
	if (k->k_f[i] == NULL) {
		px_warn("%s", err);
		return -1;
	}
	k->k_pending++;
	return 0;
}

static void
on_fetch(struct px_fetch *f, void *arg)
{
	struct cascade	*k = arg;
	char		 digest[CORE_DIGEST_MAX + 1];
	size_t		 i;
	int		 st = px_fetch_status(f);

	for (i = 0; i < NSUFFIX && k->k_f[i] != f; i++)
		;
	k->k_pending--;
	if (i < NSUFFIX && !k->k_deleting[i] && st == 200 &&
	    core_digest_valid(px_fetch_digest(f), strlen(px_fetch_digest(f)))) {
		/* found: delete it by the digest its tag resolves to */
		snprintf(digest, sizeof(digest), "%s", px_fetch_digest(f));
		k->k_deleting[i] = 1;
		if (send_one(k, i, "DELETE", digest) == -1)
			px_warn("cascade: cannot delete %s:sha256-%s.%s",
			    k->k_repo, k->k_hex, suffixes[i]);
	} else if (i < NSUFFIX && k->k_deleting[i]) {
		if (st >= 200 && st < 300)
			k->k_deleted++;
		else
			px_warn("cascade: deleting %s:sha256-%s.%s: HTTP %d",
			    k->k_repo, k->k_hex, suffixes[i], st);
	}
	if (k->k_pending > 0)
		return;
	px_log_fields(CONF_LOG_INFO, json_pack("{s:s, s:I, s:s, s:s, s:i}",
	    "msg", "delete cascade", "conn", (json_int_t)k->k_id,
	    "signature_repository", k->k_repo, "subject", k->k_hex,
	    "deleted", k->k_deleted));
	cascade_free(k);
}

void
px_cascade_start(struct px_conn *c)
{
	const struct conf_policy *p;
	struct cascade		*k;
	const char		*auth;
	char			 tag[CORE_TAG_MAX + 1];
	size_t			 i;

	if (c->c_route.kind != CORE_R_MANIFEST || !c->c_route.ref_is_digest ||
	    strncmp(c->c_route.ref, "sha256:", 7) != 0 ||
	    strcmp(c->c_req.method, "DELETE") != 0)
		return;
	p = conf_policy_for(c->c_conf, c->c_route.name);
	if (p != NULL && !p->delete_signatures)
		return;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return;
	k->k_conf = conf_ref(c->c_conf);
	k->k_up = px_server_upstream(c->c_srv);
	k->k_id = c->c_id;
	snprintf(k->k_repo, sizeof(k->k_repo), "%s", c->c_conf->sig_repo ?
	    c->c_conf->sig_repo : c->c_route.name);
	snprintf(k->k_hex, sizeof(k->k_hex), "%s", c->c_route.ref + 7);
	auth = px_http_req_header(&c->c_req, "authorization");
	if (auth != NULL)
		k->k_auth = strdup(auth);
	for (i = 0; i < NSUFFIX; i++) {
		snprintf(tag, sizeof(tag), "sha256-%s.%s", k->k_hex, suffixes[i]);
		if (send_one(k, i, "HEAD", tag) == -1)
			break;
	}
	if (k->k_pending == 0)
		cascade_free(k);
}
