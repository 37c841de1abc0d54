/*
 * proxy/http.h: the pure part of the HTTP/1.1 server, no sockets: request-head
 * parsing, the chunked-body decoder and hop-by-hop header rules.  Kept apart
 * from proxy.h so the unit tests and the fuzz target link it alone.
 */
#ifndef SIGNET_HTTP_H
#define SIGNET_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* Limits on what a client may send, checked as bytes arrive. */
#define PX_HTTP_HEAD_MAX	(64 * 1024)	/* request line + headers */
#define PX_HTTP_HEADERS_MAX	100		/* header fields */
#define PX_HTTP_METHOD_MAX	16
#define PX_HTTP_CHUNK_LINE_MAX	256		/* chunk-size line */

struct px_http_header {
	char	*name;		/* points into px_http_req.head */
	char	*value;		/* trimmed, NUL-terminated */
};

struct px_http_req {
	char			*head;	/* owned copy of the head, NULs inserted */
	char			 method[PX_HTTP_METHOD_MAX + 1];
	char			*target;	/* origin-form: path[?query] */
	size_t			 pathlen;	/* bytes of target before '?' */
	int			 minor;		/* HTTP/1.<minor> */
	struct px_http_header	 hdr[PX_HTTP_HEADERS_MAX];
	int			 nhdr;
	int64_t			 content_length;	/* -1 when absent */
	int			 chunked;
	int			 keepalive;
	int			 expect_continue;
};

/*
 * Parse a complete request head: buf[0..len) ends with the blank line.
 * On success returns 0 and req owns a copy (free with px_http_req_reset).
 * On failure returns -1, sets *status (400, 414, 417, 431, 500, 501, 505) and
 * *errstr to a static message for the client.
 */
int	 px_http_parse_head(const char *buf, size_t len, struct px_http_req *req,
	    int *status, const char **errstr);
void	 px_http_req_reset(struct px_http_req *req);
/* First value of a header, case-insensitive name; NULL when absent. */
const char *px_http_req_header(const struct px_http_req *req, const char *name);

/*
 * Every value of a header, joined with ", " as RFC 9110 allows for list
 * headers (clients send Accept several times).  -1 when absent or when it
 * does not fit in out.
 */
int	 px_http_req_header_join(const struct px_http_req *req,
	    const char *name, char *out, size_t len);
/* 1 when the comma-separated list holds token tok, case-insensitive. */
int	 px_http_list_has(const char *list, const char *tok);
/* 1 when the header must not be forwarded by a proxy (RFC 9110 7.6.1). */
int	 px_http_hop_by_hop(const char *name, size_t len);

/* Incremental decoder for a chunked request body. */
enum px_chunked_state {
	PX_CK_SIZE,		/* reading the chunk-size line */
	PX_CK_DATA,		/* inside chunk data */
	PX_CK_DATA_CRLF,	/* the CRLF after chunk data */
	PX_CK_TRAILER,		/* trailer lines after the last chunk */
	PX_CK_DONE,
	PX_CK_ERROR
};

struct px_chunked {
	enum px_chunked_state	 state;
	uint64_t		 remaining;	/* bytes left in this chunk */
	size_t			 linelen;	/* bytes of the current line */
	uint64_t		 size;		/* size being parsed */
	int			 digits;
	int			 in_ext;	/* inside ";ext" of a size line */
	int			 cr;		/* saw CR, want LF */
	const char		*errstr;
};

/*
 * Feed in[0..len).  Returns how many bytes were consumed; when *datalen > 0,
 * in[*dataoff .. *dataoff + *datalen) is body data (always at the end of the
 * consumed range, so the caller can drain the framing bytes then move the
 * data).  Call again with the rest until it consumes 0 or state is DONE.
 * On a framing error state becomes PX_CK_ERROR with errstr set.
 */
size_t	 px_chunked_feed(struct px_chunked *c, const char *in, size_t len,
	    size_t *dataoff, size_t *datalen);

#endif /* SIGNET_HTTP_H */
