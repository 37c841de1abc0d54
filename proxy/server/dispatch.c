/*
 * proxy/server/dispatch.c: which handler a request goes to, and its start.
 * The only file that knows every handler; the connection (server.c) then
 * feeds the chosen one the body and the output's drain.
 *
 * In order: signet's own endpoints; a blob a strict_blobs rule does not
 * allow; a manifest pull a rule verifies; the referrers API (answered from
 * the tag schema where the upstream has none); a signature object whose
 * subject a rule requires; a manifest push a rule signs; a blob pull
 * from a plain-HTTP upstream, read by signet itself; everything else
 * relayed as it is.
 */
#include <stdio.h>
#include <string.h>

#include "server.h"

/* A request that is answered without its body leaves the connection
 * unusable unless the body is already read (none was sent). */
static void
no_body(struct px_conn *c)
{
	c->c_keepalive = c->c_keepalive && c->c_body_done;
}

void
px_dispatch(struct px_conn *c)
{
	const char	*reason;

	switch (c->c_route.kind) {
	case CORE_R_HEALTHZ:
		no_body(c);
		px_conn_reply_text(c, 200, "ok\n");
		return;
	case CORE_R_READYZ:
		no_body(c);
		px_conn_set_handler(c, &px_relay_handler);
		px_relay_probe(c);
		return;
	case CORE_R_METRICS:
		no_body(c);
		px_metrics_reply(c);
		return;
	default:
		break;
	}
	if (!px_verify_blob_ok(c, &reason)) {
		no_body(c);
		px_conn_error(c, 403, "DENIED", reason);
		return;
	}
	if (px_verify_wanted(c)) {
		no_body(c);
		px_conn_set_handler(c, &px_verify_handler);
		px_verify_start(c);
		return;
	}
	if (px_referrers_wanted(c)) {
		no_body(c);
		px_conn_set_handler(c, &px_referrers_handler);
		px_referrers_start(c);
		return;
	}
	if (px_subject_wanted(c)) {
		/* a cosign object for a subject the upstream must hold */
		px_conn_set_handler(c, &px_subject_handler);
		px_subject_start(c);
		return;
	}
	if (px_push_wanted(c)) {
		/* the manifest is buffered whole: it is signed as bytes */
		if (c->c_req.content_length > CORE_SIGMAN_MAX) {
			c->c_keepalive = 0;
			px_conn_error(c, 413, "SIZE_INVALID",
			    "manifest larger than 4 MiB");
			return;
		}
		px_conn_set_handler(c, &px_push_handler);
		px_push_start(c);
		return;
	}
	if (px_pull_wanted(c)) {
		px_conn_set_handler(c, &px_pull_handler);
		px_pull_start(c);
		return;
	}
	px_conn_set_handler(c, &px_relay_handler);
	px_relay_start(c);
}
