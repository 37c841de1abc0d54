/*
 * proxy/cmd/serve.c: `signet serve` (the proxy) and `signet check-config`.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(HAVE_MALLOC_H) && defined(HAVE_MALLOPT)
#include <malloc.h>
#endif

#include <mbedtls/base64.h>

#include "cmd.h"
#include "proxy/server/server.h"

/* -c FILE, the only option these commands take, once; anything else is a
 * usage error (NULL) */
static const char *
config_arg(int argc, char **argv)
{
	const char	*path = NULL, *v;
	int		 i;

	for (i = 2; i < argc; i++) {
		v = NULL;
		if ((strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			v = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			v = argv[i] + 9;
		if (v == NULL || path != NULL) {
			fprintf(stderr, "signet: %s: unexpected argument: %s\n"
			    "usage: signet %s -c FILE\n", argv[1], argv[i],
			    argv[1]);
			return NULL;
		}
		path = v;
	}
	if (path == NULL)
		fprintf(stderr, "usage: signet %s -c FILE\n", argv[1]);
	return path;
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

int
px_cmd_check_config(int argc, char **argv)
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

/* The server's handlers: the dispatcher and the request counters. */
static const struct px_server_hooks hooks = {
	.dispatch = px_dispatch, .finished = px_metrics_count,
	.conns = px_metrics_conns, .refused = px_metrics_refused,
};

/*
 * The server on its own event loop: the whole of `signet serve` with one
 * worker, one worker's part with several (i >= 0, forked by the master:
 * its counters go to slot i, its lock files to lockdir).
 */
static int
serve_worker(struct conf *c, int i, const char *lockdir, int ready_fd)
{
	struct event_base	*base;
	struct px_server	*srv;
	char			 err[CONF_ERR_MAX];
	int			 k;

	/* the counters of /metrics: this process's slot (the only one with
	 * one worker) */
	px_metrics_attach(i >= 0 ? i : 0);
	if (i >= 0) {
		px_log_set_worker(i);
		px_sign_lock_dir(lockdir);
		/* the fork copied the master's random state */
		if (c->sign_key != NULL && core_key_reseed(c->sign_key) != 0) {
			fprintf(stderr, "signet: cannot reseed the signing "
			    "key's random generator\n");
			return 1;
		}
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "signet: cannot initialise libcurl\n");
		return 1;
	}
	base = event_base_new();
	if (base == NULL) {
		fprintf(stderr, "signet: cannot create the event loop\n");
		return 1;
	}
	srv = px_server_new(base, c, &hooks, err, sizeof(err));
	if (srv == NULL) {
		fprintf(stderr, "signet: %s\n", err);
		event_base_free(base);
		return 1;
	}
	if (i >= 0)
		px_master_ready(ready_fd);
	if (i <= 0) {
		for (k = 0; k < c->npolicies; k++)
			if (c->policies[k].verify != CONF_VERIFY_OFF &&
			    !c->policies[k].identity_repository)
				px_warn("policies[%d] (%s): identity \"any\": a "
				    "signature made for another repository is "
				    "accepted here", k, c->policies[k].match);
		for (k = 0; k < c->nlisten; k++)
			px_info("listening on %s:%s%s, upstream %s",
			    c->listen[k].host, c->listen[k].port,
			    c->tls_cert != NULL ? " (TLS)" : "", c->up.url);
	} else
		px_info("worker %d serving (pid %ld)", i, (long)getpid());
	event_base_dispatch(base);
	px_server_free(srv);
	/* libevent 2.1 finishes freeing a bufferevent from the loop (its
	 * finalizer): one more pass, or connections still open at the exit
	 * leak (2,000 at a SIGTERM: LeakSanitizer found 879) */
	(void)event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
	curl_global_cleanup();
	px_read_blocks_free();
	px_pipes_free();
	return 0;
}

/*
 * A pulled blob passes through in 1 MiB reads, each into an evbuffer chain
 * of 2 MiB that is freed once the client has the bytes.  With glibc's
 * dynamic thresholds the heap's freed top went back to the kernel (trim)
 * and the next read faulted its pages in again: 3,000 to 7,000 minor faults
 * per 512 MiB pull after a push, where nginx has none, and up to a fifth of
 * the pull's CPU.  Fixed thresholds: blocks under MALLOC_MMAP_AT come from
 * the heap, and up to MALLOC_KEEP freed at its top stay for the next read.
 * The peak (what is in use at once) does not change; what stays after a
 * burst is at most MALLOC_KEEP.
 */
#define MALLOC_MMAP_AT	(4 * 1024 * 1024)
#define MALLOC_KEEP	(16 * 1024 * 1024)

static void
tune_malloc(void)
{
#if defined(HAVE_MALLOC_H) && defined(HAVE_MALLOPT) && \
    defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
	/* the environment's MALLOC_*_ settings, if any, are the operator's */
	if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL)
		(void)mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP_AT);
	if (getenv("MALLOC_TRIM_THRESHOLD_") == NULL)
		(void)mallopt(M_TRIM_THRESHOLD, MALLOC_KEEP);
#endif
}

int
px_cmd_serve(int argc, char **argv)
{
	const char	*path = config_arg(argc, argv);
	struct conf	*c;
	char		 err[CONF_ERR_MAX];
	int		 rc;

	if (path == NULL)
		return 2;
	c = load(path);
	if (c == NULL)
		return 1;
	px_log_set_level(c->log_level);
	signal(SIGPIPE, SIG_IGN);
	tune_malloc();
	if (c->workers == 1)
		rc = serve_worker(c, -1, NULL, -1);
	else if (px_metrics_share((int)c->workers, err, sizeof(err)) == -1 ||
	    px_verify_share(err, sizeof(err)) == -1) {
		fprintf(stderr, "signet: %s\n", err);
		rc = 1;
	} else
		rc = px_master_run(c, serve_worker);
	conf_unref(c);
	return rc;
}

/* The password for a new key: COSIGN_PASSWORD, or asked twice on a tty. */
