/*
 * proxy/server/cascade.c: keep signature objects in step with their subject.
 * When a manifest DELETE by digest through signet succeeds, what was signed
 * for it goes too, in the background, with the client's own Authorization
 * (a client cannot delete through signet what it could not delete itself):
 * sigdrop.c reads sha256-<hex>.sig, .att and .sbom in the signature
 * repository and judges each by its content, never its tag, so a push-only
 * client that points those tags at another image's signatures (or at an
 * image) cannot make an administrator's DELETE remove them.  cosign v3's
 * referrers go by the same rule: only those whose own subject is the
 * deleted digest, whatever index lists them.  With a shared signature
 * repository only the signatures made for the deleted repository go.
 * Each object's fate is logged with the reason and counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

struct cascade {
	struct conf		*k_conf;	/* a reference: the endpoint */
	struct px_sigdrop	*k_drop;
	char			 k_repo[CORE_NAME_MAX + 1];
	char			 k_subject[CORE_DIGEST_MAX + 1];
	uint64_t		 k_id;
};

static struct px_cascade_stats	kstats_own, *kstats = &kstats_own;

void
px_cascade_stats_at(struct px_cascade_stats *at)
{
	kstats = at != NULL ? at : &kstats_own;
}

const struct px_cascade_stats *
px_cascade_stats(void)
{
	return kstats;
}

static const char *const action_names[] = {
	[PX_SD_DELETED] = "deleted", [PX_SD_TRIMMED] = "trimmed",
	[PX_SD_KEPT] = "left alone", [PX_SD_FAILED] = "failed",
};

static void
on_object(void *arg, const char *sigrepo, const char *tag, const char *digest,
    enum px_sigdrop_action a, const char *why)
{
	struct cascade	*k = arg;

	switch (a) {
	case PX_SD_DELETED:
		kstats->deleted++;
		break;
	case PX_SD_TRIMMED:
		kstats->trimmed++;
		break;
	case PX_SD_KEPT:
		kstats->kept++;
		break;
	case PX_SD_FAILED:
		kstats->failed++;
		break;
	}
	px_log_fields(a == PX_SD_DELETED || a == PX_SD_TRIMMED ?
	    CONF_LOG_INFO : CONF_LOG_WARN, json_pack("{s:s, s:I, s:s, s:s, "
	    "s:s, s:s, s:s, s:s, s:s}", "msg", "delete cascade object",
	    "conn", (json_int_t)k->k_id, "repository", k->k_repo,
	    "subject", k->k_subject, "signature_repository", sigrepo,
	    "tag", tag, "digest", digest, "action", action_names[a],
	    "reason", why));
}

static void
on_done(void *arg, const struct px_sigdrop_result *r)
{
	struct cascade	*k = arg;

	px_log_fields(CONF_LOG_INFO, json_pack("{s:s, s:I, s:s, s:s, s:i, "
	    "s:i, s:i, s:i}", "msg", "delete cascade", "conn",
	    (json_int_t)k->k_id, "repository", k->k_repo, "subject",
	    k->k_subject, "deleted", r->deleted, "trimmed", r->trimmed,
	    "left_alone", r->kept, "errors", r->errors));
	px_sigdrop_free(k->k_drop);
	conf_unref(k->k_conf);
	free(k);
}

void
px_cascade_start(struct px_conn *c)
{
	const struct conf_policy *p;
	struct cascade		*k;
	const char		*sigrepo;
	struct event_base	*base = bufferevent_get_base(c->c_bev);

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
	k->k_id = c->c_id;
	snprintf(k->k_repo, sizeof(k->k_repo), "%s", c->c_route.name);
	snprintf(k->k_subject, sizeof(k->k_subject), "%s", c->c_route.ref);
	sigrepo = c->c_conf->sig_repo != NULL ? c->c_conf->sig_repo :
	    c->c_route.name;
	k->k_drop = px_sigdrop_start(&(struct px_sigdrop_req){
	    .up = px_server_upstream(c->c_srv), .base = base,
	    .endpoint = &k->k_conf->up, .sigrepo = sigrepo,
	    .subject = k->k_subject,
	    /* shared: only what was signed for this repository */
	    .repo = strcmp(sigrepo, k->k_repo) != 0 ? k->k_repo : NULL,
	    .authorization = px_http_req_header(&c->c_req, "authorization"),
	    .user_agent = px_http_req_header(&c->c_req, "user-agent") },
	    on_object, on_done, k);
	if (k->k_drop == NULL) {
		px_warn("delete cascade for %s@%s: cannot start", k->k_repo,
		    k->k_subject);
		conf_unref(k->k_conf);
		free(k);
	}
}
