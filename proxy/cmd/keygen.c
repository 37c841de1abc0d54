/*
 * proxy/cmd/keygen.c: `signet keygen`: a key pair in cosign's format.
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

int
px_cmd_keygen(int argc, char **argv)
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

