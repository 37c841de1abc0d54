/*
 * proxy/main.c: the signet command line.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
