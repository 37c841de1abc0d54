/*
 * proxy/server/subject.c: the require_subject handler: a pushed signature
 * object whose subject manifest is not in the repository is refused, so no
 * orphan is created through signet; otherwise it is relayed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/*
 * require_subject: a pushed signature object (sha256-<hex>.sig, .att,
 * .sbom) is refused when its subject manifest is not in the repository, so
 * no orphan is created through signet.
 */
int
px_subject_wanted(struct px_conn *c)
{
	const struct conf_policy *p;

	if (c->c_route.kind != CORE_R_MANIFEST || c->c_route.ref_is_digest ||
	    strcmp(c->c_req.method, "PUT") != 0 ||
	    !core_cosign_tag(c->c_route.ref))
		return 0;
	p = conf_policy_for(c->c_conf, c->c_route.name);
	return p != NULL && p->require_subject;
}

static void
on_subject(struct px_fetch *f, void *arg)
{
	struct px_conn	*c = arg;
	int		 st = px_fetch_status(f);
	char		 msg[400];

	c->c_subject = NULL;
	if (st == 200 && px_push_wanted(c)) {
		/*
		 * The subject is there, and the rule signs: the push handler
		 * relays a signature object as it is and signs anything else
		 * (what it is comes from its content, not this tag).
		 */
		px_fetch_free(f);
		px_conn_set_handler(c, &px_push_handler);
		px_push_start(c);
		px_conn_body_resume(c);
		return;
	}
	if (st == 200) {
		/* the subject is there: the object goes up as it is */
		px_fetch_free(f);
		px_conn_set_handler(c, &px_relay_handler);
		px_relay_start(c);
		if (c->c_state == PX_C_ACTIVE)
			px_relay_body_ready(c);
		return;
	}
	px_fetch_free(f);
	if (st == 404) {
		snprintf(msg, sizeof(msg), "signet: the subject sha256:%.64s of "
		    "this signature object is not in %s", c->c_route.ref + 7,
		    c->c_route.name);
		px_conn_error(c, 400, "MANIFEST_BLOB_UNKNOWN", msg);
	} else
		px_conn_error(c, 502, "UNAVAILABLE", "cannot check the "
		    "signature object's subject");
}

void
px_subject_start(struct px_conn *c)
{
	char	target[600], origin[300], err[400];

	snprintf(target, sizeof(target), "/v2/%s/manifests/sha256:%.64s",
	    c->c_route.name, c->c_route.ref + 7);
	px_conn_origin(c, origin, sizeof(origin));
	c->c_subject = px_fetch_send(px_server_upstream(c->c_srv),
	    &c->c_conf->up, &(struct px_request){ .method = "HEAD",
	    .target = target, .authorization = px_http_req_header(&c->c_req,
	    "authorization"), .accept = CORE_MT_OCI_MANIFEST ", "
	    CORE_MT_DOCKER_MANIFEST ", " CORE_MT_OCI_INDEX ", "
	    CORE_MT_DOCKER_LIST, .user_agent = px_http_req_header(&c->c_req,
	    "user-agent"), .origin = origin }, on_subject, c, err,
	    sizeof(err));
	if (c->c_subject == NULL)
		px_conn_error(c, 500, "UNKNOWN", err);
}

static void
subject_free(struct px_conn *c)
{
	px_fetch_free(c->c_subject);
	c->c_subject = NULL;
}

/* The body waits in c_body (reading pauses at the high mark) until the
 * subject's answer. */
const struct px_handler px_subject_handler = {
	.name = "subject", .body = NULL, .wants_body = 1,
	.free = subject_free,
};
