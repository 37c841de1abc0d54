/*
 * proxy/io/sock.c: reading a socket into an evbuffer in large pieces.
 *
 * libevent 2.1's evbuffer_read, and the socket bufferevent that uses it,
 * read at most 4 KiB at a time (EVBUFFER_MAX_READ).  On a blob's bytes that
 * is a wakeup, an ioctl(FIONREAD) and a readv per 4 KiB; this reads up to
 * what the caller asks in one readv into the buffer's own space.
 */
#include <errno.h>
#include <sys/uio.h>

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
