/*
 * proxy/io/sock.c: reading a socket into an evbuffer in large pieces.
 *
 * libevent 2.1's evbuffer_read, and the socket bufferevent that uses it,
 * read at most 4 KiB at a time (EVBUFFER_MAX_READ).  On a blob's bytes that
 * is a wakeup, an ioctl(FIONREAD) and a readv per 4 KiB; this reads up to
 * what the caller asks in one readv into the buffer's own space.
 *
 * px_read_block reads a body's bytes into a block of a small pool instead,
 * handed to the evbuffer by reference and back to the pool when the bytes
 * are written out.  The newest block is taken first, so a transfer cycles
 * through the one or two blocks it has in flight, as nginx's one proxy
 * buffer per request does.  Through evbuffer_reserve_space each 1 MiB read
 * took a fresh 2 MiB chain (libevent rounds the size up to a power of two)
 * and glibc handed freed chains out oldest first: a 512 MiB pull touched
 * 10 MiB of heap in rotation, and on a machine that pages out idle memory
 * (this one's DAMON) each pull faulted 1,000 to 7,000 of those pages in
 * again.
 *
 * px_peer_is_local tells a client on this machine, for the choice of
 * splicing a pull (pull.c).
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

ssize_t
px_read_into(struct evbuffer *buf, evutil_socket_t fd, size_t max)
{
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	size_t			 left;
	ssize_t			 n;
	int			 nv, i;

	nv = evbuffer_reserve_space(buf, (ev_ssize_t)max, v, 2);
	if (nv <= 0) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		/* reserve_space may offer more than asked: take only max */
		iov[i].iov_len = v[i].iov_len < max ? v[i].iov_len : max;
		max -= iov[i].iov_len;
	}
	n = readv(fd, iov, nv);
	if (n <= 0)
		return n;
	for (i = 0, left = (size_t)n; i < nv; i++) {
		v[i].iov_len = left < iov[i].iov_len ? left : iov[i].iov_len;
		left -= v[i].iov_len;
	}
	if (evbuffer_commit_space(buf, v, nv) == -1) {
		errno = ENOMEM;
		return -1;
	}
	return n;
}

#define POOL_MAX	4	/* blocks kept per process */

static void	*pool[POOL_MAX];
static int	 npool;

static void *
block_take(void)
{
	return npool > 0 ? pool[--npool] : malloc(PX_BLOCK);
}

/* evbuffer's cleanup of a reference: the block goes back, newest on top */
static void
block_back(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	if (npool < POOL_MAX)
		pool[npool++] = (void *)(uintptr_t)data;
	else
		free((void *)(uintptr_t)data);
}

ssize_t
px_read_block(struct evbuffer *buf, evutil_socket_t fd, size_t max)
{
	void	*b;
	ssize_t	 n;

	if (max > PX_BLOCK)
		max = PX_BLOCK;
	b = block_take();
	if (b == NULL) {
		errno = ENOMEM;
		return -1;
	}
	n = read(fd, b, max);
	if (n <= 0) {
		block_back(b, 0, NULL);
		return n;
	}
	/* a short read is copied, so a block in flight holds at least a
	 * quarter of its size: memory stays within 4 x the bytes queued */
	if ((size_t)n < PX_BLOCK / 4) {
		if (evbuffer_add(buf, b, (size_t)n) == -1) {
			block_back(b, 0, NULL);
			errno = ENOMEM;
			return -1;
		}
		block_back(b, 0, NULL);
		return n;
	}
	if (evbuffer_add_reference(buf, b, (size_t)n, block_back, NULL) ==
	    -1) {
		block_back(b, 0, NULL);
		errno = ENOMEM;
		return -1;
	}
	return n;
}

void
px_read_blocks_free(void)
{
	while (npool > 0)
		free(pool[--npool]);
}

/*
 * Whether the peer of fd, at sa, is on this machine: a loopback address, or
 * the address it reached us at (a client of this host's own address).  A
 * client that cannot be told apart counts as remote.
 */
int
px_peer_is_local(evutil_socket_t fd, const struct sockaddr *sa)
{
	struct sockaddr_storage	 me;
	socklen_t		 len = sizeof(me);
	const struct in6_addr	*a6;
	const uint8_t		*b;

	if (sa->sa_family == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		if (b[0] == 127)
			return 1;
	} else if (sa->sa_family == AF_INET6) {
		a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a6) ||
		    (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127))
			return 1;
	} else
		return 0;
	if (getsockname(fd, (struct sockaddr *)&me, &len) == -1 ||
	    me.ss_family != sa->sa_family)
		return 0;
	if (sa->sa_family == AF_INET)
		return memcmp(&((struct sockaddr_in *)&me)->sin_addr,
		    &((const struct sockaddr_in *)sa)->sin_addr,
		    sizeof(struct in_addr)) == 0;
	return memcmp(&((struct sockaddr_in6 *)&me)->sin6_addr,
	    &((const struct sockaddr_in6 *)sa)->sin6_addr,
	    sizeof(struct in6_addr)) == 0;
}
