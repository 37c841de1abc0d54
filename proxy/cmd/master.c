/*
 * proxy/cmd/master.c: `workers` above 1.  The master forks the workers, each
 * running the whole server on its own SO_REUSEPORT sockets (the kernel
 * spreads connections over them), and takes no traffic itself: it restarts
 * a worker that dies, forwards SIGHUP once the configuration validates and
 * SIGTERM/SIGINT (then waits for every worker's drain), and removes the
 * directory of the workers' lock files at the end.
 *
 * Processes rather than threads: every module keeps its state in statics
 * (caches, queues, the signer's jobs, log level), one event loop each, and
 * a crash takes one worker, not the service.  What must be shared goes
 * through the kernel: file locks (flock, released when a worker dies) and
 * the counters' shared mapping.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

/* How long past drain_timeout the master waits before SIGKILL. */
#define DRAIN_MARGIN	5
/* A worker is started again at most once a second (one that cannot start
 * must not spin the machine). */
#define RESTART_DELAY	1
#define TICK_NS		(200 * 1000 * 1000)

struct worker {
	pid_t		w_pid;		/* 0: not running */
	time_t		w_due;		/* when to start it again */
};

static struct worker	workers[CONF_WORKERS_MAX];
static int		nworkers;
static struct conf	*cur;		/* the configuration last validated */
static sigset_t		oldmask;	/* the mask before the master's */
static char		lockdir[512];

static time_t
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Fork worker i; in the child run fn and exit with its status.  The read
 * end of the child's readiness pipe in *ready (or -1). */
static int
spawn(int i, px_worker_fn fn, int *ready)
{
	pid_t	master = getpid(), pid;
	int	p[2] = { -1, -1 };

	if (ready != NULL && pipe2(p, O_CLOEXEC) == -1)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == -1) {
		px_error("worker %d: fork: %s", i, strerror(errno));
		if (p[0] != -1) {
			close(p[0]);
			close(p[1]);
		}
		return -1;
	}
	if (pid == 0) {
		/* a worker outlives no master: it drains and exits */
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != master)
			exit(1);
		if (p[0] != -1)
			close(p[0]);
		exit(fn(cur, i, lockdir, p[1]));
	}
	workers[i].w_pid = pid;
	if (p[1] != -1)
		close(p[1]);
	if (ready != NULL)
		*ready = p[0];
	return 0;
}

void
px_master_ready(int fd)
{
	if (fd >= 0) {
		(void)!write(fd, "ok", 2);
		close(fd);
	}
	/* the server's signal events are in place: let signals in */
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
}

/* 1 when the worker behind fd said it serves, 0 when it exited first. */
static int
await_ready(int fd)
{
	char	buf[8];
	ssize_t	n;
	size_t	got = 0;

	while (got < sizeof(buf)) {
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return got == 2 && memcmp(buf, "ok", 2) == 0;
}

static void
forward(int sig)
{
	int	i;

	for (i = 0; i < nworkers; i++)
		if (workers[i].w_pid > 0)
			kill(workers[i].w_pid, sig);
}

static int
alive(void)
{
	int	i, n = 0;

	for (i = 0; i < nworkers; i++)
		n += workers[i].w_pid > 0;
	return n;
}

/* Collect the workers that exited; outside a drain they start again. */
static void
reap(int draining)
{
	pid_t	pid;
	int	st, i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < nworkers; i++)
			if (workers[i].w_pid == pid)
				break;
		if (i == nworkers)
			continue;
		workers[i].w_pid = 0;
		if (draining) {
			px_info("worker %d (pid %ld) exited", i, (long)pid);
			continue;
		}
		if (WIFSIGNALED(st))
			px_error("worker %d (pid %ld) killed by signal %d: "
			    "starting it again", i, (long)pid, WTERMSIG(st));
		else
			px_error("worker %d (pid %ld) exited with status %d: "
			    "starting it again", i, (long)pid, WEXITSTATUS(st));
	}
}

static void
restart_due(px_worker_fn fn)
{
	time_t	t = now_s();
	int	i;

	for (i = 0; i < nworkers; i++) {
		if (workers[i].w_pid != 0 || t < workers[i].w_due)
			continue;
		workers[i].w_due = t + RESTART_DELAY;
		if (spawn(i, fn, NULL) == 0)
			px_info("worker %d started again (pid %ld)", i,
			    (long)workers[i].w_pid);
	}
}

/* SIGHUP: the workers reload only a configuration that validates. */
static void
reload(void)
{
	struct conf	*nc;
	char		 err[CONF_ERR_MAX];

	nc = conf_load(cur->path, err, sizeof(err));
	if (nc == NULL) {
		/* the words of a worker's own refusal (server.c) */
		px_error("reload failed, keeping the running configuration "
		    "(no worker reloads): %s", err);
		return;
	}
	if (nc->workers != nworkers)
		px_warn("reload: workers %d -> %ld takes a restart", nworkers,
		    nc->workers);
	conf_unref(cur);
	cur = nc;
	px_log_set_level(nc->log_level);
	px_info("reloading %d workers", alive());
	forward(SIGHUP);
}

/* The lock files a killed worker left, then the directory. */
static void
lockdir_remove(void)
{
	struct dirent	*de;
	char		 path[1024];
	DIR		*d;

	d = opendir(lockdir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", lockdir, de->d_name);
		(void)unlink(path);
	}
	closedir(d);
	(void)rmdir(lockdir);
}

int
px_master_run(struct conf *c, px_worker_fn fn)
{
	const struct timespec tick = { 0, TICK_NS };
	const char	*tmp = getenv("TMPDIR");
	sigset_t	 set;
	time_t		 deadline = 0;
	int		 ready[CONF_WORKERS_MAX], i, sig, rc = 0;
	int		 draining = 0;

	nworkers = (int)c->workers;
	cur = conf_ref(c);
	snprintf(lockdir, sizeof(lockdir), "%s/signet-%ld.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp", (long)getpid());
	if (mkdtemp(lockdir) == NULL) {
		fprintf(stderr, "signet: %s: %s\n", lockdir, strerror(errno));
		conf_unref(cur);
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &oldmask);
	for (i = 0; i < nworkers; i++) {
		ready[i] = -1;
		if (spawn(i, fn, &ready[i]) == -1)
			rc = 1;
	}
	for (i = 0; i < nworkers; i++)
		if (ready[i] != -1 && !await_ready(ready[i]))
			rc = 1;
	if (rc != 0) {
		/* each worker said why; none serves alone */
		draining = 1;
		forward(SIGTERM);
		deadline = now_s() + DRAIN_MARGIN;
	} else
		px_info("master (pid %ld): %d workers serving", (long)getpid(),
		    nworkers);
	for (;;) {
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGHUP && !draining)
			reload();
		else if (sig == SIGTERM || sig == SIGINT) {
			if (!draining) {
				px_info("signal %d: draining %d workers", sig,
				    alive());
				deadline = now_s() + cur->drain_timeout +
				    DRAIN_MARGIN;
			}
			draining = 1;
			forward(sig);
		}
		reap(draining);
		if (!draining) {
			restart_due(fn);
			continue;
		}
		if (alive() == 0)
			break;
		if (now_s() >= deadline) {
			px_error("%d workers still running past the drain "
			    "timeout: killed", alive());
			forward(SIGKILL);
			while (wait(NULL) > 0)
				;	/* every child is a worker */
			rc = 1;
			break;
		}
	}
	lockdir_remove();
	conf_unref(cur);
	cur = NULL;
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	if (rc == 0)
		px_info("all workers exited");
	return rc;
}
