/*
 * proxy/io/splice.c: a body's bytes from one socket to another through a
 * pipe, by splice(2), without copying them through user space.
 *
 * A pulled blob read into user space and written out again costs two
 * copies of every byte in the kernel (_copy_to_iter, _copy_from_iter: 40%
 * of signet's time on a 512 MiB pull), as it does nginx.  Spliced, the
 * pages the upstream's socket received are handed to the client's socket
 * by reference.  Linux only; elsewhere px_pipe_take returns NULL and the
 * caller reads and writes as before.
 *
 * Pipes of PX_PIPE_SIZE are kept for the next transfer (a few per
 * process).  One goes back to the pool only empty: bytes left in it belong
 * to a transfer that ended badly.  A pipe that cannot be made (descriptors
 * out, the user's pipe-user-pages-soft reached) is no error: NULL, and the
 * caller copies.  At most PX_PIPES_MAX are out at once, so pipes never
 * hold more than 2 x PX_PIPES_MAX of the descriptors that connections
 * need (the kernel's own bound, 64 MiB of pipes per user, does not hold
 * for root).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "io.h"

#if defined(HAVE_SPLICE) && defined(HAVE_PIPE2) && defined(F_SETPIPE_SZ)

struct px_pipe {
	int	pp_rd, pp_wr;
	size_t	pp_held;		/* bytes in the pipe */
};

#define POOL_MAX	4	/* empty pipes kept per process */

static struct px_pipe	*pool[POOL_MAX];
static int		 npool;
static int		 nout;		/* taken, not back */

static void
pipe_close(struct px_pipe *pp)
{
	close(pp->pp_rd);
	close(pp->pp_wr);
	free(pp);
}

struct px_pipe *
px_pipe_take(void)
{
	struct px_pipe	*pp;
	int		 fd[2];

	if (nout >= PX_PIPES_MAX)
		return NULL;
	if (npool > 0) {
		nout++;
		return pool[--npool];
	}
	if (pipe2(fd, O_NONBLOCK | O_CLOEXEC) == -1)
		return NULL;
	/* smaller, a pipe would move a blob in 64 KiB pieces: copy instead */
	pp = fcntl(fd[1], F_SETPIPE_SZ, PX_PIPE_SIZE) < PX_PIPE_SIZE ? NULL :
	    calloc(1, sizeof(*pp));
	if (pp == NULL) {
		close(fd[0]);
		close(fd[1]);
		return NULL;
	}
	pp->pp_rd = fd[0];
	pp->pp_wr = fd[1];
	nout++;
	return pp;
}

void
px_pipe_back(struct px_pipe *pp)
{
	if (pp == NULL)
		return;
	nout--;
	if (pp->pp_held == 0 && npool < POOL_MAX)
		pool[npool++] = pp;
	else
		pipe_close(pp);
}

size_t
px_pipe_held(const struct px_pipe *pp)
{
	return pp->pp_held;
}

ssize_t
px_pipe_fill(struct px_pipe *pp, int fd, size_t max)
{
	ssize_t	n;

	if (max > PX_PIPE_SIZE - pp->pp_held)
		max = PX_PIPE_SIZE - pp->pp_held;
	if (max == 0) {
		errno = EAGAIN;
		return -1;
	}
	n = splice(fd, NULL, pp->pp_wr, NULL, max,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0)
		pp->pp_held += (size_t)n;
	return n;
}

ssize_t
px_pipe_drain(struct px_pipe *pp, int fd)
{
	size_t	moved = 0;
	ssize_t	n;

	while (pp->pp_held > 0) {
		n = splice(pp->pp_rd, NULL, fd, NULL, pp->pp_held,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n <= 0) {
			if (n == 0)	/* not for a socket; never loop */
				errno = EIO;
			if (moved > 0 && (errno == EAGAIN || errno == EINTR))
				break;
			return -1;
		}
		pp->pp_held -= (size_t)n;
		moved += (size_t)n;
	}
	return (ssize_t)moved;
}

void
px_pipes_free(void)
{
	while (npool > 0)
		pipe_close(pool[--npool]);
}

#else	/* no splice(2) */

struct px_pipe *
px_pipe_take(void)
{
	return NULL;
}

void
px_pipe_back(struct px_pipe *pp)
{
	(void)pp;
}

size_t
px_pipe_held(const struct px_pipe *pp)
{
	(void)pp;
	return 0;
}

ssize_t
px_pipe_fill(struct px_pipe *pp, int fd, size_t max)
{
	(void)pp;
	(void)fd;
	(void)max;
	errno = ENOSYS;
	return -1;
}

ssize_t
px_pipe_drain(struct px_pipe *pp, int fd)
{
	(void)pp;
	(void)fd;
	errno = ENOSYS;
	return -1;
}

void
px_pipes_free(void)
{
}

#endif
