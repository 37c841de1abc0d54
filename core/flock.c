/*
 * core/flock.c: lock files, for processes that share a directory (the
 * workers of one `signet serve`).  flock(2): the kernel drops a lock when
 * its holder dies, so a killed worker never leaves one held.
 *
 * A lock file that is removed on release may be opened by another process
 * just before: that one checks, once locked, that the path still names the
 * file it holds, and starts over if not.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "core.h"

/* A few rounds of open-lock-check: each lost round means another holder
 * released (and removed) the file in between. */
#define LOCK_ROUNDS	8

static int
lock_open(const char *path, int how, int *fdp)
{
	struct stat	a, b;
	int		fd, i;

	for (i = 0; i < LOCK_ROUNDS; i++) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd == -1)
			return -1;
		if (flock(fd, how) == -1) {
			close(fd);
			if (errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			*fdp = fd;
			return 1;
		}
		close(fd);	/* removed by its last holder: again */
	}
	errno = EAGAIN;
	return -1;
}

int
core_lock_try(const char *path, int *fd)
{
	return lock_open(path, LOCK_EX | LOCK_NB, fd);
}

int
core_lock_wait(const char *path)
{
	int	fd = -1;

	return lock_open(path, LOCK_EX, &fd) == 1 ? fd : -1;
}

void
core_lock_drop(const char *path, int fd)
{
	if (fd < 0)
		return;
	if (path != NULL)
		(void)unlink(path);	/* while still held: see above */
	close(fd);
}
