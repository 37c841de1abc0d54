/*
 * proxy/cmd/verify.c: `signet verify`, like `cosign verify` against a
 * registry: the image's manifest is read and hashed, and its signatures
 * are checked by the same driver and with the same meaning as a pull
 * through an enforcing signet (keys, keyless signers, threshold, Rekor,
 * identity, size limits).  The verified payloads are printed on stdout.
 *
 * Exit 0 verified, 1 not verified (or the registry failed: said so),
 * 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "cmd.h"

#define ACCEPT_ANY	CORE_MT_OCI_MANIFEST ", " CORE_MT_OCI_INDEX ", " \
			CORE_MT_DOCKER_MANIFEST ", " CORE_MT_DOCKER_LIST

struct verify_cmd {
	struct event_base	*base;
	struct px_session	 ss;		/* the registry */
	struct px_upstream	*up;
	struct px_fetch		*f;
	struct px_sigcheck	*check;
	struct core_verifier	*run;
	struct px_cmd_trust	 trust;
	struct core_trust	 ct;
	struct core_image_ref	 ref;
	char			 sigrepo[CORE_NAME_MAX + 1];
	char			 digest[CORE_DIGEST_MAX + 1];
	char			 want_ref[CORE_NAME_MAX + 300];
	int			 rc;
};

static void
stop(struct verify_cmd *vc, int rc, const char *msg)
{
	vc->rc = rc;
	if (msg != NULL)
		fprintf(stderr, "signet: verify: %s\n", msg);
	event_base_loopexit(vc->base, NULL);
}

static void
on_verdict(void *arg, struct core_verifier *run)
{
	struct verify_cmd	*vc = arg;
	const struct core_vvalid *vv;
	const char		*reason;
	enum core_verdict	 d = core_verifier_verdict(run, &reason);
	json_error_t		 jerr;
	json_t			*out;
	char			*text, msg[600];
	size_t			 i;

	if (d == CORE_VERDICT_INDETERMINATE) {
		snprintf(msg, sizeof(msg), "%s@%s could not be checked: %s",
		    vc->ref.repo, vc->digest, reason);
		stop(vc, 1, msg);
		return;
	}
	if (d == CORE_VERDICT_DENY) {
		snprintf(msg, sizeof(msg), "%s@%s is not verified: %s",
		    vc->ref.repo, vc->digest, reason);
		stop(vc, 1, msg);
		return;
	}
	out = json_array();
	for (i = 0; i < core_verifier_nvalid(run); i++) {
		vv = core_verifier_valid(run, i);
		json_array_append_new(out, json_loadb(vv->payload, vv->len, 0,
		    &jerr));
	}
	fprintf(stderr, "Verification for %s/%s@%s --\nThe following checks "
	    "were performed on each of these signatures:\n"
	    "  - The cosign claims were validated\n"
	    "  - The signatures were verified against the trusted signers "
	    "(%s)\n%s", vc->ref.registry, vc->ref.repo, vc->digest, reason,
	    vc->ct.rekor_required ? "  - The Rekor bundle was verified "
	    "offline\n" : "");
	text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", text != NULL ? text : "[]");
	free(text);
	json_decref(out);
	stop(vc, 0, NULL);
}

static void
on_manifest(struct px_fetch *f, void *arg)
{
	struct verify_cmd	*vc = arg;
	struct core_vopts	 o;
	struct px_sigcheck_req	 rq;
	const char		*body;
	char			 hex[65], msg[300];
	size_t			 len;
	int			 st = px_fetch_status(f);

	if (st != 200) {
		if (st == 0)
			snprintf(msg, sizeof(msg), "reading the manifest: %s",
			    px_fetch_error(f));
		else	/* in the registry's words (or signet's, in front) */
			snprintf(msg, sizeof(msg), "reading the manifest: %s",
			    px_fetch_reason(f));
		stop(vc, 1, msg);
		return;
	}
	body = px_fetch_body(f, &len);
	core_sha256_hex(body, len, hex);
	snprintf(vc->digest, sizeof(vc->digest), "sha256:%s", hex);
	if (strncmp(vc->ref.ref, "sha256:", 7) == 0 &&
	    strcmp(vc->ref.ref, vc->digest) != 0) {
		stop(vc, 1, "the manifest's digest is not the one asked for");
		return;
	}
	px_cmd_trust_vopts(&vc->trust, vc->want_ref, &vc->ct, &o);
	o.all = 1;	/* print every signature that verifies, as cosign */
	o.bundles = 1;	/* and cosign v3's bundles (OCI referrers) */
	vc->run = core_verifier_new(&o, vc->digest);
	memset(&rq, 0, sizeof(rq));
	rq.endpoint = vc->ss.ss_ep;
	rq.up = vc->up;
	rq.sigrepo = vc->sigrepo;
	rq.authorization = vc->ss.ss_auth;
	rq.rekor_url = px_cmd_trust_rekor_url(&vc->trust);
	vc->check = vc->run != NULL ? px_sigcheck_start(&rq, vc->run,
	    on_verdict, vc) : NULL;
	if (vc->check == NULL)
		stop(vc, 1, "cannot start a request");
}

static void
get_manifest(struct verify_cmd *vc)
{
	char	target[600], err[400];

	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", vc->ref.repo,
	    vc->ref.ref);
	vc->f = px_fetch_send(vc->up, vc->ss.ss_ep, &(struct px_request){
	    .method = "GET", .target = target, .authorization = vc->ss.ss_auth,
	    .accept = ACCEPT_ANY }, on_manifest, vc, err, sizeof(err));
	if (vc->f == NULL)
		stop(vc, 1, err);
}

static void
on_login(void *arg, const char *err)
{
	struct verify_cmd	*vc = arg;
	char			 msg[600];

	if (err != NULL) {
		snprintf(msg, sizeof(msg), "authenticating to %s: %s",
		    vc->ref.registry, err);
		stop(vc, 1, msg);
		return;
	}
	get_manifest(vc);
}

/* The registry's token flow (pull on the image and signature repository). */
static void
authenticate(struct verify_cmd *vc)
{
	char	scopes[3 * CORE_NAME_MAX + 96];
	int	other = strcmp(vc->sigrepo, vc->ref.repo) != 0;

	snprintf(scopes, sizeof(scopes), "repository:%s:pull%s%s%s",
	    vc->ref.repo, other ? " repository:" : "", other ? vc->sigrepo :
	    "", other ? ":pull" : "");
	switch (px_session_login(&vc->ss, vc->up, scopes, on_login, vc)) {
	case 1:
		return;
	case 0:
		get_manifest(vc);
		return;
	default:
		stop(vc, 1, "cannot start the token flow");
	}
}

int
px_cmd_verify(int argc, char **argv)
{
	struct verify_cmd	 vc;
	struct px_cmd_trust	 init = PX_CMD_TRUST_INIT;
	const char		*image = NULL, *user = NULL, *pass = NULL;
	const char		*sigrepo = getenv("COSIGN_REPOSITORY");
	char			 err[CONF_ERR_MAX];
	int			 i, allow_http = 0, r;

	memset(&vc, 0, sizeof(vc));
	vc.trust = init;
	vc.rc = 1;
	for (i = 2; i < argc; i++) {
		r = px_cmd_trust_arg(&vc.trust, argc, argv, &i, err,
		    sizeof(err));
		if (r == -1) {
			fprintf(stderr, "signet: verify: %s\n", err);
			return 2;
		}
		if (r == 1)
			continue;
		if (strcmp(argv[i], "--allow-http") == 0)
			allow_http = 1;
		else if (strcmp(argv[i], "--signature-repository") == 0 &&
		    i + 1 < argc)
			sigrepo = argv[++i];
		else if (strcmp(argv[i], "--registry-username") == 0 &&
		    i + 1 < argc)
			user = argv[++i];
		else if (strcmp(argv[i], "--registry-password") == 0 &&
		    i + 1 < argc)
			pass = argv[++i];
		else if (argv[i][0] != '-' && image == NULL)
			image = argv[i];
		else {
			fprintf(stderr, "signet: verify: unexpected argument: "
			    "%s\n", argv[i]);
			return 2;
		}
	}
	if (image == NULL || !px_cmd_trust_given(&vc.trust) ||
	    (user == NULL) != (pass == NULL)) {
		fprintf(stderr, "usage: signet verify (--key PUB ... | "
		    "--ca-roots PEM --certificate-identity ID "
		    "--certificate-oidc-issuer ISSUER | --policy FILE) "
		    "[--rekor-key PUB] [--threshold N] [--identity "
		    "repository|any] [--signature-repository REPO] "
		    "[--registry-username U --registry-password P] "
		    "[--allow-http] REGISTRY/REPO(:TAG|@DIGEST)\n");
		return 2;
	}
	if (core_image_ref_parse(image, 1, &vc.ref) == -1) {
		fprintf(stderr, "signet: verify: %s is not "
		    "REGISTRY/REPO[:TAG|@DIGEST]\n", image);
		return 2;
	}
	if (sigrepo != NULL && *sigrepo != '\0' &&
	    !core_name_valid(sigrepo, strlen(sigrepo))) {
		fprintf(stderr, "signet: verify: signature repository \"%s\" is "
		    "not a valid repository name\n", sigrepo);
		return 2;
	}
	snprintf(vc.sigrepo, sizeof(vc.sigrepo), "%s", sigrepo != NULL &&
	    *sigrepo != '\0' ? sigrepo : vc.ref.repo);
	snprintf(vc.want_ref, sizeof(vc.want_ref), "%s/%s", vc.ref.registry,
	    vc.ref.repo);
	if (px_cmd_trust_load(&vc.trust, vc.ref.repo, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "signet: verify: %s\n", err);
		px_cmd_trust_free(&vc.trust);
		return 1;
	}
	if (px_session_open(&vc.ss, vc.ref.registry, allow_http, user, pass,
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "signet: verify: %s\n", err);
		px_cmd_trust_free(&vc.trust);
		return 1;
	}
	px_log_set_level(CONF_LOG_WARN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	vc.base = event_base_new();
	vc.up = vc.base != NULL ? px_upstream_new(vc.base) : NULL;
	if (vc.up != NULL) {
		authenticate(&vc);
		event_base_dispatch(vc.base);
	} else
		fprintf(stderr, "signet: verify: cannot start\n");
	px_sigcheck_free(vc.check);
	core_verifier_free(vc.run);
	px_fetch_free(vc.f);
	px_upstream_free(vc.up);
	if (vc.base != NULL)
		event_base_free(vc.base);
	curl_global_cleanup();
	px_session_clear(&vc.ss);
	px_cmd_trust_free(&vc.trust);
	return vc.rc;
}
