/*
 * proxy/cmd/verify_blob.c: `signet verify-blob`: one signature, as `cosign verify-blob`
 * (exit 0 verified, 1 refused, 2 usage): a signature file (with a Rekor bundle
 * or a certificate), or a Sigstore bundle (--bundle, cosign v3's format).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>

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

/* sha256:<hex> of a file of any size, read in pieces. */
static int
file_digest(const char *path, char digest[72])
{
	mbedtls_sha256_context	 c;
	unsigned char		 buf[65536], h[32];
	FILE			*fp = fopen(path, "rb");
	size_t			 n;
	int			 i, bad;

	if (fp == NULL) {
		fprintf(stderr, "signet: %s: %s\n", path, strerror(errno));
		return -1;
	}
	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts_ret(&c, 0);
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		mbedtls_sha256_update_ret(&c, buf, n);
	bad = ferror(fp);
	fclose(fp);
	mbedtls_sha256_finish_ret(&c, h);
	mbedtls_sha256_free(&c);
	if (bad) {
		fprintf(stderr, "signet: %s: read error\n", path);
		return -1;
	}
	memcpy(digest, "sha256:", 7);
	for (i = 0; i < 32; i++)
		snprintf(digest + 7 + 2 * i, 3, "%02x", h[i]);
	return 0;
}

#define BLOB_REKOR_KEYS	4

/*
 * --bundle: a Sigstore bundle (cosign v3's `sign-blob --bundle`, v0.1 to
 * v0.3) over the blob: a message signature over its sha256 (or a DSSE
 * statement naming it), by --key or a keyless signer (--ca-roots with
 * --certificate-identity and --certificate-oidc-issuer); with --rekor-key
 * (repeatable: a v1 and a v2 log), a log entry of a trusted log is required.
 */
static int
verify_bundle(const char *bpath, const char *key, char **rkeys, int nrk,
    const char *rootsp, const char *ident, const char *iss, const char *blob)
{
	struct core_key		*k = NULL, *rk[BLOB_REKOR_KEYS];
	struct core_keyless	 kl;
	struct core_trust	 t;
	struct core_bundle_ok	 ok;
	char			*bundle = NULL, err[512], digest[72];
	size_t			 n;
	int			 i, rc = 2;

	memset(&kl, 0, sizeof(kl));
	memset(&t, 0, sizeof(t));
	memset(rk, 0, sizeof(rk));
	if ((key == NULL) == (rootsp == NULL) || blob == NULL ||
	    (rootsp != NULL && (ident == NULL || iss == NULL))) {
		fprintf(stderr, "signet: verify-blob --bundle needs a blob and "
		    "--key, or --ca-roots with --certificate-identity and "
		    "--certificate-oidc-issuer\n");
		return 2;
	}
	if (key != NULL) {
		k = core_key_load_public(key, err, sizeof(err));
		if (k == NULL)
			goto fail;
		t.keys = &k;
		t.nkeys = 1;
	} else {
		kl.roots = core_roots_load(rootsp, err, sizeof(err));
		if (kl.roots == NULL)
			goto fail;
		kl.identity = (char *)ident;
		kl.issuer = (char *)iss;
		t.keyless = &kl;
		t.nkeyless = 1;
	}
	for (i = 0; i < nrk; i++) {
		rk[i] = core_key_load_public(rkeys[i], err, sizeof(err));
		if (rk[i] == NULL)
			goto fail;
	}
	t.rekor = rk;
	t.nrekor = (size_t)nrk;
	t.rekor_required = nrk > 0;
	bundle = read_file(bpath, CORE_SGBUNDLE_MAX, &n);
	if (bundle == NULL || file_digest(blob, digest) == -1)
		goto done;
	rc = 1;
	if (core_bundle_verify(&t, digest, bundle, n, 0, &ok, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "signet: verify-blob: %s\n", err);
		goto done;
	}
	if (strncmp(ok.signer, "keyless:", 8) == 0)
		fprintf(stderr, "certificate identity %s\n", ok.signer + 8);
	free(ok.payload);
	free(ok.rekor);
	printf("Verified OK\n");
	rc = 0;
	goto done;
fail:
	fprintf(stderr, "signet: %s\n", err);
done:
	core_key_free(k);
	for (i = 0; i < nrk; i++)
		core_key_free(rk[i]);
	core_roots_free(kl.roots);
	free(bundle);
	return rc;
}

int
px_cmd_verify_blob(int argc, char **argv)
{
	const char	*key = NULL, *sigpath = NULL, *bpath = NULL, *rkey = NULL;
	const char	*payload_path = NULL, *manifest = NULL, *certp = NULL;
	const char	*chainp = NULL, *rootsp = NULL, *ident = NULL, *iss = NULL;
	const char	*sgpath = NULL;
	char		*rkeys[BLOB_REKOR_KEYS];
	int		 nrk = 0;
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
		else if (strcmp(argv[i], "--rekor-key") == 0 && i + 1 < argc) {
			if (nrk == BLOB_REKOR_KEYS) {
				fprintf(stderr, "signet: verify-blob: at most %d "
				    "--rekor-key\n", BLOB_REKOR_KEYS);
				return 2;
			}
			rkey = rkeys[nrk++] = argv[++i];
		} else if (strcmp(argv[i], "--bundle") == 0 && i + 1 < argc)
			sgpath = argv[++i];
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
	if (sgpath != NULL) {
		if (sigpath != NULL || bpath != NULL || certp != NULL ||
		    manifest != NULL) {
			fprintf(stderr, "signet: verify-blob: --bundle carries "
			    "the signature, certificate and log entries: no "
			    "--signature, --rekor-bundle, --certificate or "
			    "--manifest with it\n");
			return 2;
		}
		return verify_bundle(sgpath, key, rkeys, nrk, rootsp, ident,
		    iss, payload_path);
	}
	if (nrk > 1) {
		fprintf(stderr, "signet: verify-blob: one --rekor-key without "
		    "--bundle\n");
		return 2;
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

