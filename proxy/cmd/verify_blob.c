/*
 * proxy/cmd/verify_blob.c: `signet verify-blob`: one signature, as `cosign verify-blob`
 * (exit 0 verified, 1 refused, 2 usage).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/base64.h>

#include "cmd.h"

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

int
px_cmd_verify_blob(int argc, char **argv)
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

