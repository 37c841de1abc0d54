/*
 * proxy/main.c: the signet command line.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/base64.h>

#include "proxy.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: signet serve -c FILE         run the proxy\n"
	    "       signet check-config -c FILE  validate a configuration\n"
	    "       signet keygen [--output-key-prefix P]\n"
	    "                                    write P.key (cosign's encrypted\n"
	    "                                    format) and P.pub; password from\n"
	    "                                    COSIGN_PASSWORD or a prompt\n"
	    "       signet sign --key KEY [--allow-http] [--registry-username U\n"
	    "                   --registry-password P] REGISTRY/REPO(:TAG|@DIGEST)\n"
	    "                                    sign an image already in a registry\n"
	    "       signet verify-blob --key PUB --signature SIG [--rekor-bundle FILE]\n"
	    "                   [--rekor-key PUB] [--manifest FILE] PAYLOAD\n"
	    "       signet verify-blob --certificate PEM [--certificate-chain PEM]\n"
	    "                   --ca-roots PEM --certificate-identity ID\n"
	    "                   --certificate-oidc-issuer ISSUER --signature SIG\n"
	    "                   --rekor-bundle FILE --rekor-key PUB PAYLOAD\n"
	    "                                    verify one signature (exit 0/1/2)\n"
	    "       signet verify (--key PUB ... | --ca-roots PEM\n"
	    "                   --certificate-identity ID --certificate-oidc-issuer\n"
	    "                   ISSUER | --policy FILE) [--rekor-key PUB]\n"
	    "                   [--threshold N] [--identity repository|any]\n"
	    "                   [--signature-repository REPO] [--allow-http]\n"
	    "                   REGISTRY/REPO(:TAG|@DIGEST)\n"
	    "                                    verify an image's signatures\n"
	    "       signet copy [--all] [--platform OS/ARCH] [--verify --key PUB |\n"
	    "                   --verify --policy FILE] [--signature-repository\n"
	    "                   REPO] [--allow-http] SRC DST\n"
	    "                                    copy an image and its signatures\n"
	    "       signet gc [--dry-run] [--allow-http] REGISTRY/REPO\n"
	    "                                    delete orphaned signature objects\n"
	    "       signet version\n");
}

/* -c FILE, the only option the commands take so far */
static const char *
config_arg(int argc, char **argv)
{
	int	i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			return argv[++i];
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			return argv[++i];
		fprintf(stderr, "signet: unexpected argument: %s\n", argv[i]);
		return NULL;
	}
	fprintf(stderr, "signet: %s needs -c FILE\n", argv[1]);
	return NULL;
}

static struct conf *
load(const char *path)
{
	struct conf	*c;
	char		 err[CONF_ERR_MAX];

	c = conf_load(path, err, sizeof(err));
	if (c == NULL)
		fprintf(stderr, "%s", err);
	return c;
}

static int
cmd_check_config(int argc, char **argv)
{
	const char	*path = config_arg(argc, argv);
	struct conf	*c;

	if (path == NULL)
		return 2;
	c = load(path);
	if (c == NULL)
		return 1;
	conf_unref(c);
	printf("configuration OK\n");
	return 0;
}

static int
cmd_serve(int argc, char **argv)
{
	const char		*path = config_arg(argc, argv);
	struct event_base	*base;
	struct px_server	*srv;
	struct conf		*c;
	char			 err[CONF_ERR_MAX];
	int			 i;

	if (path == NULL)
		return 2;
	c = load(path);
	if (c == NULL)
		return 1;
	px_log_set_level(c->log_level);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "signet: cannot initialise libcurl\n");
		conf_unref(c);
		return 1;
	}
	base = event_base_new();
	if (base == NULL) {
		fprintf(stderr, "signet: cannot create the event loop\n");
		conf_unref(c);
		return 1;
	}
	srv = px_server_new(base, c, err, sizeof(err));
	if (srv == NULL) {
		fprintf(stderr, "signet: %s\n", err);
		event_base_free(base);
		conf_unref(c);
		return 1;
	}
	for (i = 0; i < c->nlisten; i++)
		px_info("listening on %s:%s%s, upstream %s",
		    c->listen[i].host, c->listen[i].port,
		    c->tls_cert != NULL ? " (TLS)" : "", c->up_url);
	conf_unref(c);
	event_base_dispatch(base);
	px_server_free(srv);
	event_base_free(base);
	curl_global_cleanup();
	return 0;
}

/* The password for a new key: COSIGN_PASSWORD, or asked twice on a tty. */
static char *
new_password(void)
{
	const char	*env = getenv("COSIGN_PASSWORD");
	char		*a, *b;

	if (env != NULL)
		return strdup(env);
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "signet: set COSIGN_PASSWORD (it may be empty) "
		    "or run on a terminal\n");
		return NULL;
	}
	a = getpass("Enter password for private key: ");
	a = a != NULL ? strdup(a) : NULL;
	b = getpass("Enter password for private key again: ");
	if (a == NULL || b == NULL || strcmp(a, b) != 0) {
		fprintf(stderr, "signet: passwords do not match\n");
		if (a != NULL)
			mbedtls_platform_zeroize(a, strlen(a));
		free(a);
		return NULL;
	}
	mbedtls_platform_zeroize(b, strlen(b));
	return a;
}

static int
cmd_keygen(int argc, char **argv)
{
	const char	*prefix = "cosign";
	char		 err[512], *pw;
	int		 i, rc;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--output-key-prefix") == 0 && i + 1 < argc)
			prefix = argv[++i];
		else if (strncmp(argv[i], "--output-key-prefix=", 20) == 0)
			prefix = argv[i] + 20;
		else {
			fprintf(stderr, "signet: keygen: unexpected argument: "
			    "%s\n", argv[i]);
			return 2;
		}
	}
	pw = new_password();
	if (pw == NULL)
		return 1;
	rc = core_keygen(prefix, pw, err, sizeof(err));
	mbedtls_platform_zeroize(pw, strlen(pw));
	free(pw);
	if (rc == -1) {
		fprintf(stderr, "signet: keygen: %s\n", err);
		return 1;
	}
	printf("Private key written to %s.key\nPublic key written to %s.pub\n",
	    prefix, prefix);
	return 0;
}

/* signet sign */

struct sign_cmd {
	struct event_base	*base;
	struct conf		*conf;
	struct px_upstream	*up;
	struct px_fetch		*get;
	struct px_sign		*job;
	char			 repo[CORE_NAME_MAX + 1];
	char			 ref[CORE_REF_MAX + 1];
	char			 registry[256];
	char			*auth;
	struct px_auth		*authjob;
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
	rq.authorization = sc->auth;
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
	char	target[600];

	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", sc->repo,
	    sc->ref);
	sc->get = px_fetch_new(sc->conf, "GET", target, sc->auth, NULL,
	    CORE_MT_OCI_MANIFEST ", " CORE_MT_OCI_INDEX ", "
	    CORE_MT_DOCKER_MANIFEST ", " CORE_MT_DOCKER_LIST, NULL, 0, NULL);
	if (sc->get == NULL ||
	    px_fetch_start(sc->up, sc->get, sign_got_manifest, sc) == -1) {
		fprintf(stderr, "signet: sign: cannot start\n");
		event_base_loopexit(sc->base, NULL);
	}
}

/* The registry's token flow: the credentials become a Bearer token. */
static void
sign_on_auth(void *arg, const char *header, const char *err)
{
	struct sign_cmd	*sc = arg;

	px_auth_free(sc->authjob);
	sc->authjob = NULL;
	if (err != NULL) {
		fprintf(stderr, "signet: sign: authenticating to %s: %s\n",
		    sc->registry, err);
		event_base_loopexit(sc->base, NULL);
		return;
	}
	if (header != NULL) {
		free(sc->auth);
		sc->auth = strdup(header);
	}
	sign_get(sc);
}

static void
sign_start(struct sign_cmd *sc)
{
	char		 scopes[3 * CORE_NAME_MAX + 96];
	const char	*cached, *sr = sc->conf->sig_repo;

	snprintf(scopes, sizeof(scopes), "repository:%s:pull,push%s%s%s",
	    sc->repo, sr != NULL ? " repository:" : "", sr != NULL ? sr : "",
	    sr != NULL ? ":pull,push" : "");
	sc->authjob = px_auth_start(sc->conf, sc->up, sc->auth, scopes,
	    sign_on_auth, sc, &cached);
	if (sc->authjob != NULL)
		return;
	if (cached == NULL) {
		fprintf(stderr, "signet: sign: cannot start\n");
		event_base_loopexit(sc->base, NULL);
		return;
	}
	free(sc->auth);
	sc->auth = strdup(cached);
	sign_get(sc);
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

static int
cmd_sign(int argc, char **argv)
{
	struct sign_cmd	 sc;
	const char	*key = NULL, *image = NULL, *user = NULL, *pass = NULL;
	char		 json[8192], err[CONF_ERR_MAX], up[300];
	char		 cred[512], b64[800];
	size_t		 blen;
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
	if (user != NULL && pass != NULL) {
		snprintf(cred, sizeof(cred), "%s:%s", user, pass);
		mbedtls_base64_encode((unsigned char *)b64, sizeof(b64), &blen,
		    (unsigned char *)cred, strlen(cred));
		mbedtls_platform_zeroize(cred, sizeof(cred));
		if (asprintf(&sc.auth, "Basic %s", b64) == -1)
			sc.auth = NULL;
		mbedtls_platform_zeroize(b64, sizeof(b64));
	} else
		sc.auth = px_docker_auth(sc.registry);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sc.base = event_base_new();
	sc.up = sc.base != NULL ? px_upstream_new(sc.base) : NULL;
	if (sc.up != NULL) {
		sign_start(&sc);
		event_base_dispatch(sc.base);
	} else
		fprintf(stderr, "signet: sign: cannot start\n");
	px_signer_abandon(sc.job);
	px_auth_free(sc.authjob);
	px_fetch_free(sc.get);
	px_upstream_free(sc.up);
	if (sc.base != NULL)
		event_base_free(sc.base);
	conf_unref(sc.conf);
	if (sc.auth != NULL) {
		mbedtls_platform_zeroize(sc.auth, strlen(sc.auth));
		free(sc.auth);
	}
	curl_global_cleanup();
	return sc.ok ? 0 : 1;
}

/* signet verify-blob */

static char *
read_file(const char *path, size_t max, size_t *len)
{
	FILE	*fp = fopen(path, "rb");
	char	*buf;
	size_t	 n;

	if (fp == NULL) {
		fprintf(stderr, "signet: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(max + 1);
	n = buf != NULL ? fread(buf, 1, max + 1, fp) : 0;
	fclose(fp);
	if (buf == NULL || n > max) {
		fprintf(stderr, "signet: %s: larger than %zu bytes\n", path, max);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void
chomp(char *s)
{
	size_t	n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == ' '))
		s[--n] = '\0';
}

static int
cmd_verify_blob(int argc, char **argv)
{
	const char	*key = NULL, *sigpath = NULL, *bpath = NULL, *rkey = NULL;
	const char	*payload_path = NULL, *manifest = NULL, *certp = NULL;
	const char	*chainp = NULL, *rootsp = NULL, *ident = NULL, *iss = NULL;
	struct core_key	*k = NULL, *rk = NULL;
	struct core_keyless kl;
	struct core_cert_identity id;
	char		*payload = NULL, *sig = NULL, *bundle = NULL, *man;
	char		*cert = NULL, *chain = NULL;
	char		 err[512], hex[65], digest[72];
	size_t		 plen, n;
	time_t		 at;
	int		 i, rc = 2;

	memset(&kl, 0, sizeof(kl));
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			key = argv[++i];
		else if (strcmp(argv[i], "--signature") == 0 && i + 1 < argc)
			sigpath = argv[++i];
		else if (strcmp(argv[i], "--rekor-bundle") == 0 && i + 1 < argc)
			bpath = argv[++i];
		else if (strcmp(argv[i], "--rekor-key") == 0 && i + 1 < argc)
			rkey = argv[++i];
		else if (strcmp(argv[i], "--manifest") == 0 && i + 1 < argc)
			manifest = argv[++i];
		else if (strcmp(argv[i], "--certificate") == 0 && i + 1 < argc)
			certp = argv[++i];
		else if (strcmp(argv[i], "--certificate-chain") == 0 &&
		    i + 1 < argc)
			chainp = argv[++i];
		else if (strcmp(argv[i], "--ca-roots") == 0 && i + 1 < argc)
			rootsp = argv[++i];
		else if (strcmp(argv[i], "--certificate-identity") == 0 &&
		    i + 1 < argc)
			ident = argv[++i];
		else if (strcmp(argv[i], "--certificate-oidc-issuer") == 0 &&
		    i + 1 < argc)
			iss = argv[++i];
		else if (argv[i][0] != '-' && payload_path == NULL)
			payload_path = argv[i];
		else {
			fprintf(stderr, "signet: verify-blob: unexpected "
			    "argument: %s\n", argv[i]);
			return 2;
		}
	}
	if (certp != NULL) {
		/* keyless: the certificate's key, checked at the log's time */
		if (key != NULL || rootsp == NULL || ident == NULL ||
		    iss == NULL || bpath == NULL || rkey == NULL ||
		    sigpath == NULL || payload_path == NULL) {
			fprintf(stderr, "signet: verify-blob --certificate needs "
			    "--ca-roots, --certificate-identity, "
			    "--certificate-oidc-issuer, --rekor-bundle, "
			    "--rekor-key and --signature (and no --key)\n");
			return 2;
		}
		kl.roots = core_roots_load(rootsp, err, sizeof(err));
		kl.identity = (char *)ident;
		kl.issuer = (char *)iss;
		cert = read_file(certp, 64 * 1024, &n);
		if (chainp != NULL)
			chain = read_file(chainp, 256 * 1024, &n);
		bundle = read_file(bpath, CORE_BUNDLE_MAX, &n);
		if (kl.roots == NULL || cert == NULL || bundle == NULL ||
		    (chainp != NULL && chain == NULL)) {
			if (kl.roots == NULL)
				fprintf(stderr, "signet: %s\n", err);
			goto done;
		}
		chomp(bundle);
		rc = 1;
		if (core_rekor_bundle_time(bundle, &at) == -1 ||
		    core_cert_check(&kl, cert, chain, at, &id, &k, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "signet: verify-blob: %s\n",
			    core_rekor_bundle_time(bundle, &at) == -1 ?
			    "the bundle has no integrated time" : err);
			goto done;
		}
		rc = 2;
	} else if (key == NULL || sigpath == NULL || payload_path == NULL ||
	    (bpath != NULL && rkey == NULL)) {
		fprintf(stderr, "signet: verify-blob needs --key, --signature "
		    "and a payload file (and --rekor-key with --rekor-bundle)\n");
		return 2;
	}
	if (k == NULL) {
		k = core_key_load_public(key, err, sizeof(err));
		if (k == NULL) {
			fprintf(stderr, "signet: %s\n", err);
			goto done;
		}
	}
	if (rkey != NULL) {
		rk = core_key_load_public(rkey, err, sizeof(err));
		if (rk == NULL) {
			fprintf(stderr, "signet: %s\n", err);
			goto done;
		}
	}
	payload = read_file(payload_path, 64 * 1024 * 1024, &plen);
	sig = read_file(sigpath, 16 * 1024, &n);
	if (bpath != NULL && bundle == NULL)
		bundle = read_file(bpath, CORE_BUNDLE_MAX, &n);
	if (payload == NULL || sig == NULL || (bpath != NULL && bundle == NULL))
		goto done;
	chomp(sig);
	if (bundle != NULL)
		chomp(bundle);
	rc = 1;
	if (core_sig_b64_verify(k, payload, plen, sig) != 0) {
		fprintf(stderr, "signet: verify-blob: the signature does not "
		    "verify under %s\n", key != NULL ? key : "the certificate");
		goto done;
	}
	/* --rekor-key without a bundle: Rekor is required, and missing */
	if (rk != NULL && core_rekor_check_bundle(&rk, 1, bundle, payload,
	    plen, sig, k, err, sizeof(err)) != 0) {
		fprintf(stderr, "signet: verify-blob: %s\n", err);
		goto done;
	}
	if (manifest != NULL) {
		/* signet's addition: the payload must name this manifest */
		man = read_file(manifest, CORE_SIGMAN_MAX, &n);
		if (man == NULL) {
			rc = 2;
			goto done;
		}
		core_sha256_hex(man, n, hex);
		free(man);
		snprintf(digest, sizeof(digest), "sha256:%s", hex);
		if (core_payload_check(payload, plen, digest, NULL, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "signet: verify-blob: %s\n", err);
			goto done;
		}
	}
	if (certp != NULL)
		fprintf(stderr, "certificate identity %s, issuer %s\n",
		    id.subject, id.issuer);
	printf("Verified OK\n");
	rc = 0;
done:
	core_key_free(k);
	core_key_free(rk);
	core_roots_free(kl.roots);
	free(payload);
	free(sig);
	free(bundle);
	free(cert);
	free(chain);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc, argv);
	if (strcmp(argv[1], "check-config") == 0)
		return cmd_check_config(argc, argv);
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc, argv);
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc, argv);
	if (strcmp(argv[1], "verify-blob") == 0)
		return cmd_verify_blob(argc, argv);
	if (strcmp(argv[1], "verify") == 0)
		return px_cmd_verify(argc, argv);
	if (strcmp(argv[1], "gc") == 0)
		return px_cmd_gc(argc, argv);
	if (strcmp(argv[1], "copy") == 0)
		return px_cmd_copy(argc, argv);
	if (strcmp(argv[1], "version") == 0 ||
	    strcmp(argv[1], "--version") == 0) {
		printf("signet %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "signet: unknown command: %s\n", argv[1]);
	usage(stderr);
	return 2;
}
