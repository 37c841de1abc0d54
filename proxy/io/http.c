/*
 * proxy/io/http.c: strict HTTP/1.1 request-head parser and chunked decoder,
 * and the response heads signet reads from an upstream itself.
 *
 * Strict on purpose: a proxy that is lenient where the upstream is strict (or
 * the reverse) is how request smuggling happens.  So: CRLF line ends only, no
 * obsolete line folding, no Transfer-Encoding other than "chunked", and never
 * both Transfer-Encoding and Content-Length.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io.h"

#define TARGET_MAX	8192

/* RFC 9110 tchar */
static int
is_tchar(unsigned char ch)
{
	if (isalnum(ch))
		return 1;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int
fail(int *status, const char **errstr, int st, const char *msg)
{
	*status = st;
	*errstr = msg;
	return -1;
}

void
px_http_req_reset(struct px_http_req *req)
{
	free(req->head);
	memset(req, 0, sizeof(*req));
	req->content_length = -1;
}

const char *
px_http_req_header(const struct px_http_req *req, const char *name)
{
	int	i;

	for (i = 0; i < req->nhdr; i++)
		if (strcasecmp(req->hdr[i].name, name) == 0)
			return req->hdr[i].value;
	return NULL;
}

int
px_http_req_header_join(const struct px_http_req *req, const char *name,
    char *out, size_t len)
{
	size_t	n = 0;
	int	i, found = 0;

	out[0] = '\0';
	for (i = 0; i < req->nhdr; i++) {
		if (strcasecmp(req->hdr[i].name, name) != 0)
			continue;
		n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s",
		    found ? ", " : "", req->hdr[i].value);
		found = 1;
	}
	if (n >= len)
		return -1;
	return found ? 0 : -1;
}

int
px_http_hop_by_hop(const char *name, size_t len)
{
	static const char *const hop[] = {
		"connection", "keep-alive", "proxy-connection",
		"proxy-authenticate", "proxy-authorization", "te", "trailer",
		"transfer-encoding", "upgrade", "expect", "host",
		"content-length",
	};
	size_t	i;

	for (i = 0; i < sizeof(hop) / sizeof(*hop); i++)
		if (strlen(hop[i]) == len && strncasecmp(name, hop[i], len) == 0)
			return 1;
	return 0;
}

int
px_http_end_to_end(const struct px_http_req *req, int i)
{
	const char	*conn = px_http_req_header(req, "connection");
	const char	*name = req->hdr[i].name;

	if (px_http_hop_by_hop(name, strlen(name)))
		return 0;
	/* declared hop-by-hop by the client */
	return conn == NULL || !px_http_list_has(conn, name);
}

int
px_http_list_has(const char *list, const char *tok)
{
	size_t	n = strlen(tok), len;
	const char *p = list;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == n && strncasecmp(p, tok, n) == 0)
			return 1;
		p += strcspn(p, ",");
	}
	return 0;
}

static int
parse_content_length(const char *v, int64_t *out)
{
	int64_t	n = 0;

	if (*v == '\0')
		return -1;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9')
			return -1;
		if (n > (INT64_MAX - (*v - '0')) / 10)
			return -1;
		n = n * 10 + (*v - '0');
	}
	*out = n;
	return 0;
}

/* The request line, NUL-terminated in place. */
static int
parse_request_line(char *line, struct px_http_req *req, int *status,
    const char **errstr)
{
	char	*sp1, *sp2;
	size_t	 mlen, i;

	sp1 = strchr(line, ' ');
	if (sp1 == NULL)
		return fail(status, errstr, 400, "malformed request line");
	mlen = (size_t)(sp1 - line);
	if (mlen == 0)
		return fail(status, errstr, 400, "malformed request line");
	if (mlen > PX_HTTP_METHOD_MAX)
		return fail(status, errstr, 501, "method not implemented");
	for (i = 0; i < mlen; i++)
		if (!is_tchar((unsigned char)line[i]))
			return fail(status, errstr, 400, "malformed method");
	memcpy(req->method, line, mlen);
	req->method[mlen] = '\0';

	sp2 = strchr(sp1 + 1, ' ');
	if (sp2 == NULL || sp2 == sp1 + 1)
		return fail(status, errstr, 400, "malformed request line");
	*sp2 = '\0';
	req->target = sp1 + 1;
	if (strlen(req->target) > TARGET_MAX)
		return fail(status, errstr, 414, "request target too long");
	if (req->target[0] != '/')
		return fail(status, errstr, 400,
		    "request target must be a path (origin-form)");
	for (i = 0; req->target[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)req->target[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '#')
			return fail(status, errstr, 400,
			    "invalid character in request target");
	}
	req->pathlen = strcspn(req->target, "?");

	if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] < '0' ||
	    sp2[8] > '9' || sp2[9] != '\0') {
		if (strncmp(sp2 + 1, "HTTP/", 5) == 0 && isdigit(
		    (unsigned char)sp2[6]) && sp2[7] == '.' &&
		    isdigit((unsigned char)sp2[8]) && sp2[9] == '\0')
			return fail(status, errstr, 505,
			    "HTTP version not supported");
		return fail(status, errstr, 400, "malformed HTTP version");
	}
	req->minor = sp2[8] - '0';
	return 0;
}

static int
parse_header_line(char *line, struct px_http_req *req, int *status,
    const char **errstr)
{
	char	*colon, *v, *end;
	size_t	 i;

	if (*line == ' ' || *line == '\t')
		return fail(status, errstr, 400,
		    "obsolete header line folding is not accepted");
	colon = strchr(line, ':');
	if (colon == NULL || colon == line)
		return fail(status, errstr, 400, "malformed header field");
	for (i = 0; line + i < colon; i++)
		if (!is_tchar((unsigned char)line[i]))
			return fail(status, errstr, 400,
			    "invalid character in header name");
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	for (i = 0; v[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)v[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return fail(status, errstr, 400,
			    "invalid character in header value");
	}
	if (req->nhdr == PX_HTTP_HEADERS_MAX)
		return fail(status, errstr, 431, "too many header fields");
	req->hdr[req->nhdr].name = line;
	req->hdr[req->nhdr].value = v;
	req->nhdr++;
	return 0;
}

/* Interpret the headers that frame the message and steer the connection. */
static int
check_framing(struct px_http_req *req, int *status, const char **errstr)
{
	const char	*name, *v;
	int64_t		 cl;
	int		 i, nhost = 0, have_te = 0;
	int		 conn_close = 0, conn_keep = 0;

	for (i = 0; i < req->nhdr; i++) {
		name = req->hdr[i].name;
		v = req->hdr[i].value;
		if (strcasecmp(name, "content-length") == 0) {
			if (parse_content_length(v, &cl) == -1)
				return fail(status, errstr, 400,
				    "invalid Content-Length");
			if (req->content_length != -1 &&
			    req->content_length != cl)
				return fail(status, errstr, 400,
				    "conflicting Content-Length fields");
			req->content_length = cl;
		} else if (strcasecmp(name, "transfer-encoding") == 0) {
			if (have_te || strcasecmp(v, "chunked") != 0)
				return fail(status, errstr, 501,
				    "only Transfer-Encoding: chunked is "
				    "implemented");
			have_te = 1;
		} else if (strcasecmp(name, "host") == 0) {
			nhost++;
		} else if (strcasecmp(name, "connection") == 0) {
			conn_close |= px_http_list_has(v, "close");
			conn_keep |= px_http_list_has(v, "keep-alive");
		} else if (strcasecmp(name, "expect") == 0) {
			if (strcasecmp(v, "100-continue") != 0) {
				return fail(status, errstr, 417,
				    "unsupported expectation");
			}
			req->expect_continue = 1;
		}
	}
	if (have_te && req->content_length != -1)
		return fail(status, errstr, 400,
		    "both Transfer-Encoding and Content-Length");
	if (have_te && req->minor == 0)
		return fail(status, errstr, 400,
		    "Transfer-Encoding in an HTTP/1.0 request");
	req->chunked = have_te;
	if (nhost > 1 || (nhost == 0 && req->minor >= 1))
		return fail(status, errstr, 400,
		    "exactly one Host header is required");
	if (req->minor >= 1)
		req->keepalive = !conn_close;
	else
		req->keepalive = conn_keep && !conn_close;
	if (req->minor == 0)
		req->expect_continue = 0;
	return 0;
}

int
px_http_parse_head(const char *buf, size_t len, struct px_http_req *req,
    int *status, const char **errstr)
{
	char	*p, *eol, *end;
	int	 first = 1;

	px_http_req_reset(req);
	if (len > PX_HTTP_HEAD_MAX)
		return fail(status, errstr, 431, "request header too large");
	if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0)
		return fail(status, errstr, 400, "incomplete request head");
	if (memchr(buf, '\0', len) != NULL)
		return fail(status, errstr, 400, "NUL byte in request head");
	req->head = malloc(len + 1);
	if (req->head == NULL)
		return fail(status, errstr, 500, "out of memory");
	memcpy(req->head, buf, len);
	req->head[len] = '\0';
	end = req->head + len - 2;	/* the final CRLF */

	for (p = req->head; p < end; p = eol + 2) {
		eol = strstr(p, "\r\n");
		*eol = '\0';
		if (memchr(p, '\r', (size_t)(eol - p)) != NULL ||
		    memchr(p, '\n', (size_t)(eol - p)) != NULL)
			return fail(status, errstr, 400,
			    "bare CR or LF in request head");
		if (first) {
			if (parse_request_line(p, req, status, errstr) == -1)
				return -1;
			first = 0;
		} else if (parse_header_line(p, req, status, errstr) == -1)
			return -1;
	}
	/* len >= 4 and ends in CRLFCRLF: the request line was seen */
	return check_framing(req, status, errstr);
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static size_t
ck_error(struct px_chunked *c, const char *msg, size_t used)
{
	c->state = PX_CK_ERROR;
	c->errstr = msg;
	return used;
}

size_t
px_chunked_feed(struct px_chunked *c, const char *in, size_t len,
    size_t *dataoff, size_t *datalen)
{
	size_t	i = 0, n;
	int	h;
	char	ch;

	*dataoff = 0;
	*datalen = 0;
	while (i < len) {
		switch (c->state) {
		case PX_CK_DATA:
			n = len - i;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = PX_CK_DATA_CRLF;
			*dataoff = i;
			*datalen = n;
			return i + n;	/* hand the data over */
		case PX_CK_DONE:
		case PX_CK_ERROR:
			return i;
		default:
			break;
		}
		/* line-oriented states, one byte at a time */
		ch = in[i++];
		if (++c->linelen > PX_HTTP_CHUNK_LINE_MAX)
			return ck_error(c, "chunk line too long", i);
		if (c->cr) {
			if (ch != '\n')
				return ck_error(c, "CR without LF in chunk", i);
			c->cr = 0;
			c->linelen = 0;
			switch (c->state) {
			case PX_CK_SIZE:
				if (c->digits == 0)
					return ck_error(c,
					    "missing chunk size", i);
				if (c->in_ext == 2)	/* blanks, no ';' */
					return ck_error(c,
					    "invalid chunk size", i);
				c->remaining = c->size;
				c->state = c->size == 0 ? PX_CK_TRAILER :
				    PX_CK_DATA;
				c->size = 0;
				c->digits = 0;
				c->in_ext = 0;
				break;
			case PX_CK_DATA_CRLF:
				c->state = PX_CK_SIZE;
				break;
			case PX_CK_TRAILER:
				if (c->digits == 0) {
					c->state = PX_CK_DONE;
					return i;
				}
				c->digits = 0;	/* a trailer field: ignored */
				break;
			default:
				break;
			}
			continue;
		}
		if (ch == '\r') {
			c->cr = 1;
			continue;
		}
		switch (c->state) {
		case PX_CK_SIZE:
			if (c->in_ext == 1) {		/* ";ext": skipped */
				if (ch == '\n')
					return ck_error(c, "bare LF in chunk",
					    i);
				break;
			}
			if (ch == ';' || ch == ' ' || ch == '\t') {
				/* an extension, after optional blanks */
				if (c->digits == 0)
					return ck_error(c,
					    "invalid chunk size", i);
				c->in_ext = ch == ';' ? 1 : 2;
				break;
			}
			h = hexval(ch);
			if (h < 0 || c->in_ext == 2)
				return ck_error(c, "invalid chunk size", i);
			if (c->size > (UINT64_MAX >> 4) || ++c->digits > 15)
				return ck_error(c, "chunk size too large", i);
			c->size = (c->size << 4) | (uint64_t)h;
			break;
		case PX_CK_DATA_CRLF:
			return ck_error(c, "missing CRLF after chunk data", i);
		case PX_CK_TRAILER:
			if (ch == '\n')
				return ck_error(c, "bare LF in trailer", i);
			c->digits = 1;	/* this trailer line is not empty */
			break;
		default:
			break;
		}
	}
	return i;
}

/* Response heads (pull.c): what is not plain is left to curl */

void
px_http_resp_reset(struct px_http_resp *r)
{
	free(r->head);
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
}

/* Strict Content-Length digits; -1 when it is not one. */
static int64_t
resp_length(const char *v)
{
	int64_t	n = 0;

	if (*v == '\0')
		return -1;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9' || n > (INT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*v - '0');
	}
	return n;
}

/* One header line, NUL-terminated: its framing facts into r. */
static int
resp_line(char *line, struct px_http_resp *r)
{
	char	*colon, *v;
	size_t	 n;
	int64_t	 cl;

	colon = strchr(line, ':');
	if (*line == ' ' || *line == '\t' || colon == NULL || colon == line ||
	    strpbrk(line, "\r\n") != NULL)
		return -1;	/* folded, broken, or a bare CR or LF */
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	*colon = '\0';
	if (strcasecmp(line, "transfer-encoding") == 0)
		return -1;
	if (strcasecmp(line, "content-length") == 0) {
		char save = v[n];

		v[n] = '\0';
		cl = resp_length(v);
		v[n] = save;
		if (cl < 0 || (r->content_length >= 0 && cl != r->content_length))
			return -1;
		r->content_length = cl;
	} else if (strcasecmp(line, "connection") == 0 &&
	    px_http_list_has(v, "close"))
		r->close = 1;
	*colon = ':';
	if (r->nlines == PX_HTTP_HEADERS_MAX)
		return -1;
	r->line[r->nlines++] = line;
	return 0;
}

int
px_http_parse_resp(const char *buf, size_t len, struct px_http_resp *r)
{
	char	*line, *next;

	px_http_resp_reset(r);
	/* each line ends with a CRLF and the head with a blank line; a NUL
	 * would cut a line short of its CRLF */
	if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0 ||
	    memchr(buf, '\0', len) != NULL)
		return -1;
	r->head = malloc(len + 1);
	if (r->head == NULL)
		return -1;
	memcpy(r->head, buf, len);
	r->head[len] = '\0';

	next = strstr(r->head, "\r\n");
	*next = '\0';
	line = r->head;
	if (strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' &&
	    line[7] != '1') || line[8] != ' ' || !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]) ||
	    (line[12] != ' ' && line[12] != '\0'))
		return -1;
	r->minor = line[7] - '0';
	r->status = atoi(line + 9);
	if (r->status < 200 || r->status > 599)
		return -1;	/* 1xx: curl's */
	for (line = next + 2;; line = next + 2) {
		next = strstr(line, "\r\n");
		*next = '\0';
		if (*line == '\0')
			break;		/* the blank line */
		if (resp_line(line, r) == -1)
			return -1;
	}
	if (r->minor == 0)
		r->close = 1;
	if (r->status == 204 || r->status == 304)
		r->content_length = 0;
	else if (r->content_length < 0)
		return -1;	/* framed by the close: curl's */
	return 0;
}
