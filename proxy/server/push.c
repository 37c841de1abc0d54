/*
 * proxy/server/push.c: a manifest PUT whose rule signs.  The manifest is read
 * whole (it is signed as bytes, at most CORE_SIGMAN_MAX), checked, and
 * handed to a signer (sign.c), whose result is the client's answer: the
 * upstream's answer to the tag PUT, or the refusal in words.
 *
 * The client's right to push comes first when the manifest did not come
 * whole with the request head: an upload session is opened with its
 * credentials before more of its body is read.  A client the upstream
 * turns away gets the upstream's answer (the challenge) and costs one
 * request and at most one read; a client it accepts has the session used
 * for the signature payload.
 *
 * Signature, attestation and SBOM objects, told by their content (every
 * layer of a signature type, core_manifest_inspect) and never by their
 * tag, are relayed unsigned; anything else is signed whatever its tag.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

int
px_push_wanted(struct px_conn *c)
{
	const struct conf_policy *p;

	if (c->c_route.kind != CORE_R_MANIFEST ||
	    strcmp(c->c_req.method, "PUT") != 0 ||
	    c->c_conf->sign_key == NULL)
		return 0;
	/* whatever the tag: a signature object is told by its content */
	p = conf_policy_for(c->c_conf, c->c_route.name);
	return p != NULL && p->sign != CONF_SIGN_OFF;
}

static void
on_probe(struct px_fetch *f, void *arg)
{
	struct px_conn	*c = arg;
	int		 st = px_fetch_status(f);

	if (st == 202 && px_fetch_location(f) != NULL) {
		c->c_upload = strdup(px_fetch_location(f));
		px_fetch_free(f);
		c->c_probe = NULL;
		if (c->c_upload == NULL) {
			px_conn_error(c, 500, "UNKNOWN", "out of memory");
			return;
		}
		px_conn_body_release(c);
		return;
	}
	c->c_probe = NULL;
	c->c_keepalive = 0;	/* the body stays unread */
	if (st == 0)
		px_conn_error(c, 502, "UNAVAILABLE", px_fetch_error(f));
	else
		px_conn_reply_fetch(c, f, NULL);	/* 401 and its challenge */
	px_fetch_free(f);
}

void
px_push_start(struct px_conn *c)
{
	char	target[600], origin[300], err[400];

	/*
	 * A manifest that came whole with its head (the usual case: they are
	 * small) is in memory already, and checking first would only add a
	 * round trip: the push's own requests carry the client's credentials.
	 */
	if (!c->c_req.chunked && c->c_req.content_length >= 0 &&
	    evbuffer_get_length(bufferevent_get_input(c->c_bev)) >=
	    (size_t)c->c_req.content_length)
		return;
	px_conn_body_hold(c);
	snprintf(target, sizeof(target), "/v2/%s/blobs/uploads/",
	    c->c_route.name);
	px_conn_origin(c, origin, sizeof(origin));
	c->c_probe = px_fetch_send(px_server_upstream(c->c_srv),
	    &c->c_conf->up, &(struct px_request){ .method = "POST",
	    .target = target, .authorization = px_http_req_header(&c->c_req,
	    "authorization"), .user_agent = px_http_req_header(&c->c_req,
	    "user-agent"), .origin = origin, .body = "", .len = 0 },
	    on_probe, c, err, sizeof(err));
	if (c->c_probe == NULL) {
		c->c_keepalive = 0;
		px_conn_error(c, 500, "UNKNOWN", err);
	}
}

/*
 * An upload session signet will not use (a cosign object, a refused
 * manifest, a signature repository elsewhere) is left to the registry's
 * purge of abandoned uploads, as a client's aborted upload is.
 */
static void
forget_upload(struct px_conn *c)
{
	free(c->c_upload);
	c->c_upload = NULL;
}

/*
 * 201 for a manifest the registry holds under its tag already (an
 * immutable tag pushed again, with nothing written): what the PUT would
 * have answered.
 */
static void
reply_created(struct px_conn *c, const char *digest)
{
	struct evbuffer	*hdrs = evbuffer_new();

	if (hdrs == NULL) {
		px_conn_close(c, "out of memory");
		return;
	}
	c->c_up_status = 201;
	/* a path: the route's name and a digest, both checked */
	evbuffer_add_printf(hdrs, "Location: /v2/%s/manifests/%s\r\n"
	    "Docker-Content-Digest: %s\r\n"
	    "Docker-Distribution-API-Version: registry/2.0\r\n",
	    c->c_route.name, digest, digest);
	px_conn_resp_head(c, 201, hdrs, 0);
	evbuffer_free(hdrs);
	px_conn_resp_end(c);
}

/* The signer's result is the push's answer. */
static void
on_signed(void *arg, const struct px_signer_result *r)
{
	struct px_conn	*c = arg;

	if (r->answer != NULL) {
		px_conn_reply_fetch(c, r->answer, NULL);
		return;
	}
	if (r->ok && r->digest != NULL) {
		reply_created(c, r->digest);
		return;
	}
	if (!r->ok && r->signing_failed)
		c->c_error = "signing failed";
	px_conn_error(c, r->status, r->code != NULL ? r->code : "UNKNOWN",
	    r->message);
}

static void
push_body(struct px_conn *c)
{
	struct core_manifest_info mi;
	struct px_signer_req	 rq;
	const char		*errstr;
	char			*manifest, hex[65], digest[CORE_DIGEST_MAX + 1];
	char			 origin[300];
	size_t			 mlen;

	if (c->c_sign != NULL || !c->c_body_done)
		return;
	mlen = evbuffer_get_length(c->c_body);
	manifest = malloc(mlen + 1);
	if (manifest == NULL) {
		px_conn_error(c, 500, "UNKNOWN", "out of memory");
		return;
	}
	evbuffer_copyout(c->c_body, manifest, mlen);
	if (core_manifest_inspect(manifest, mlen, &mi, &errstr) == -1) {
		free(manifest);
		forget_upload(c);
		px_conn_error(c, 400, "MANIFEST_INVALID", errstr);
		return;
	}
	if (mi.is_sig_object) {
		/* a signature or attestation pushed by a cosign client */
		free(manifest);
		forget_upload(c);
		px_conn_set_handler(c, &px_relay_handler);
		px_relay_start(c);
		if (c->c_state == PX_C_ACTIVE)
			px_relay_body_ready(c);
		return;
	}
	core_sha256_hex(manifest, mlen, hex);
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	if (c->c_route.ref_is_digest && strcmp(digest, c->c_route.ref) != 0) {
		free(manifest);
		forget_upload(c);
		px_conn_error(c, 400, "DIGEST_INVALID", "the manifest's sha256 "
		    "differs from the digest it was pushed by");
		return;
	}
	px_conn_origin(c, origin, sizeof(origin));
	memset(&rq, 0, sizeof(rq));
	rq.conf = c->c_conf;
	rq.up = px_server_upstream(c->c_srv);
	rq.base = bufferevent_get_base(c->c_bev);
	rq.repo = c->c_route.name;
	rq.tag = c->c_route.ref_is_digest ? NULL : c->c_route.ref;
	rq.content_type = px_http_req_header(&c->c_req, "content-type");
	rq.manifest = manifest;
	rq.mlen = mlen;
	rq.authorization = px_http_req_header(&c->c_req, "authorization");
	rq.user_agent = px_http_req_header(&c->c_req, "user-agent");
	rq.origin = origin;
	rq.id = c->c_id;
	/* the session serves the payload when it is in the signature
	 * repository; else it is closed */
	if (c->c_conf->sig_repo == NULL ||
	    strcmp(c->c_conf->sig_repo, c->c_route.name) == 0)
		rq.upload = c->c_upload;
	else
		forget_upload(c);
	c->c_sign = px_signer_start(&rq, on_signed, c);
	free(manifest);
	if (c->c_sign == NULL)
		px_conn_error(c, 500, "UNKNOWN", "cannot start signing");
}

static void
push_free(struct px_conn *c)
{
	px_signer_abandon(c->c_sign);
	c->c_sign = NULL;
	px_fetch_free(c->c_probe);
	c->c_probe = NULL;
	free(c->c_upload);
	c->c_upload = NULL;
}

/* The manifest is buffered whole (413 beyond CORE_SIGMAN_MAX). */
const struct px_handler px_push_handler = {
	.name = "push", .wants_body = 1, .body_max = CORE_SIGMAN_MAX,
	.body = push_body, .free = push_free,
};
