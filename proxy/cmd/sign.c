/*
 * proxy/cmd/sign.c: `signet sign`: sign an image already in a registry, with the same
 * signer, format and append rules as a push through signet.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/base64.h>

#include "cmd.h"

struct sign_cmd {
	struct event_base	*base;
	struct conf		*conf;
	struct px_upstream	*up;
	struct px_fetch		*get;
	struct px_sign		*job;
	char			 repo[CORE_NAME_MAX + 1];
	char			 ref[CORE_REF_MAX + 1];
	char			 registry[256];
	struct px_session	 ss;		/* the registry */
	int			 ok;
};

static void
sign_done(void *arg, const struct px_signer_result *r)
{
	struct sign_cmd	*sc = arg;

	sc->ok = r->ok;
	if (r->ok)
		printf("signature %s: %s/%s:%s\n", r->message, sc->registry,
		    sc->conf->sig_repo != NULL ? sc->conf->sig_repo : sc->repo,
		    px_sign_sigtag(sc->job));
	else
		fprintf(stderr, "signet: sign: %s\n", r->message);
	event_base_loopexit(sc->base, NULL);
}

static void
sign_got_manifest(struct px_fetch *f, void *arg)
{
	struct sign_cmd	*sc = arg;
	struct px_signer_req rq;
	const char	*body, *ct;
	char		 hex[65];
	size_t		 len;
	int		 st = px_fetch_status(f);

	if (st != 200) {
		if (st == 0)
			fprintf(stderr, "signet: sign: %s\n", px_fetch_error(f));
		else
			fprintf(stderr, "signet: sign: reading the manifest "
			    "%s/%s:%s: HTTP %d\n", sc->registry, sc->repo,
			    sc->ref, st);
		event_base_loopexit(sc->base, NULL);
		return;
	}
	body = px_fetch_body(f, &len);
	ct = px_fetch_content_type(f);
	core_sha256_hex(body, len, hex);
	if (strncmp(sc->ref, "sha256:", 7) == 0 && strcmp(sc->ref + 7, hex)) {
		fprintf(stderr, "signet: sign: the registry's manifest for %s "
		    "has another digest (sha256:%s)\n", sc->ref, hex);
		event_base_loopexit(sc->base, NULL);
		return;
	}
	memset(&rq, 0, sizeof(rq));
	rq.conf = sc->conf;
	rq.up = sc->up;
	rq.base = sc->base;
	rq.repo = sc->repo;
	rq.content_type = *ct ? ct : CORE_MT_DOCKER_MANIFEST;
	rq.manifest = body;
	rq.mlen = len;
	rq.authorization = sc->ss.ss_auth;
	rq.command = 1;
	sc->job = px_signer_start(&rq, sign_done, sc);
	if (sc->job == NULL) {
		fprintf(stderr, "signet: sign: cannot start signing\n");
		event_base_loopexit(sc->base, NULL);
	}
}

static void
sign_get(struct sign_cmd *sc)
{
	char	target[600], err[400];

	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", sc->repo,
	    sc->ref);
	sc->get = px_fetch_send(sc->up, sc->ss.ss_ep, &(struct px_request){
	    .method = "GET", .target = target, .authorization = sc->ss.ss_auth,
	    .accept = CORE_MT_OCI_MANIFEST ", " CORE_MT_OCI_INDEX ", "
	    CORE_MT_DOCKER_MANIFEST ", " CORE_MT_DOCKER_LIST },
	    sign_got_manifest, sc, err, sizeof(err));
	if (sc->get == NULL) {
		fprintf(stderr, "signet: sign: %s\n", err);
		event_base_loopexit(sc->base, NULL);
	}
}

/* The registry's token flow: the credentials become a Bearer token. */
static void
sign_on_login(void *arg, const char *err)
{
	struct sign_cmd	*sc = arg;

	if (err != NULL) {
		fprintf(stderr, "signet: sign: authenticating to %s: %s\n",
		    sc->registry, err);
		event_base_loopexit(sc->base, NULL);
		return;
	}
	sign_get(sc);
}

static void
sign_start(struct sign_cmd *sc)
{
	char		 scopes[3 * CORE_NAME_MAX + 96];
	const char	*sr = sc->conf->sig_repo;

	snprintf(scopes, sizeof(scopes), "repository:%s:pull,push%s%s%s",
	    sc->repo, sr != NULL ? " repository:" : "", sr != NULL ? sr : "",
	    sr != NULL ? ":pull,push" : "");
	switch (px_session_login(&sc->ss, sc->up, scopes, sign_on_login, sc)) {
	case 1:
		return;
	case 0:
		sign_get(sc);
		return;
	default:
		fprintf(stderr, "signet: sign: cannot start the token flow\n");
		event_base_loopexit(sc->base, NULL);
	}
}

/* REGISTRY/REPO[:TAG|@DIGEST] */
static int
parse_image_ref(const char *s, struct sign_cmd *sc)
{
	struct core_image_ref	ir;

	if (core_image_ref_parse(s, 1, &ir) == -1)
		return -1;
	memcpy(sc->registry, ir.registry, sizeof(sc->registry));
	memcpy(sc->repo, ir.repo, sizeof(sc->repo));
	memcpy(sc->ref, ir.ref, sizeof(sc->ref));
	return 0;
}

int
px_cmd_sign(int argc, char **argv)
{
	struct sign_cmd	 sc;
	const char	*key = NULL, *image = NULL, *user = NULL, *pass = NULL;
	char		 json[8192], err[CONF_ERR_MAX], up[300];
	int		 i, allow_http = 0;
	json_t		*j;
	char		*text;

	memset(&sc, 0, sizeof(sc));
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			key = argv[++i];
		else if (strcmp(argv[i], "--allow-http") == 0)
			allow_http = 1;
		else if (strcmp(argv[i], "--registry-username") == 0 &&
		    i + 1 < argc)
			user = argv[++i];
		else if (strcmp(argv[i], "--registry-password") == 0 &&
		    i + 1 < argc)
			pass = argv[++i];
		else if (argv[i][0] != '-' && image == NULL)
			image = argv[i];
		else {
			fprintf(stderr, "signet: sign: unexpected argument: "
			    "%s\n", argv[i]);
			return 2;
		}
	}
	if (key == NULL || image == NULL) {
		fprintf(stderr, "signet: sign needs --key KEY and an image\n");
		return 2;
	}
	if (parse_image_ref(image, &sc) == -1) {
		fprintf(stderr, "signet: sign: %s is not REGISTRY/REPO[:TAG|"
		    "@DIGEST]\n", image);
		return 2;
	}
	snprintf(up, sizeof(up), "%s://%s", allow_http ? "http" : "https",
	    sc.registry);
	/* the command's settings, validated like a configuration file */
	j = json_pack("{s:[s], s:{s:s}, s:{s:s}, s:[{s:s, s:s}], s:{s:s}}",
	    "listen", "127.0.0.1:1", "upstream", "url", up, "signing", "key",
	    key, "policies", "match", "*", "sign", "required",
	    "log", "level", "warn");
	text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (text == NULL)
		return 1;
	snprintf(json, sizeof(json), "%s", text);
	free(text);
	sc.conf = conf_load_buffer(json, strlen(json), "sign", err,
	    sizeof(err));
	if (sc.conf == NULL) {
		fprintf(stderr, "%s", err);
		return 1;
	}
	px_log_set_level(CONF_LOG_WARN);
	if (px_session_open(&sc.ss, sc.registry, allow_http, user, pass, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "signet: sign: %s\n", err);
		conf_unref(sc.conf);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sc.base = event_base_new();
	sc.up = sc.base != NULL ? px_upstream_new(sc.base) : NULL;
	if (sc.up != NULL && sc.ss.ss_ep != NULL) {
		sign_start(&sc);
		event_base_dispatch(sc.base);
	} else
		fprintf(stderr, "signet: sign: cannot start\n");
	px_signer_abandon(sc.job);
	px_fetch_free(sc.get);
	px_upstream_free(sc.up);
	if (sc.base != NULL)
		event_base_free(sc.base);
	conf_unref(sc.conf);
	px_session_clear(&sc.ss);
	curl_global_cleanup();
	return sc.ok ? 0 : 1;
}

/* signet verify-blob */

