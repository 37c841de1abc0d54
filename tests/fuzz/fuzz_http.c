/*
 * Fuzz target for the request-head parser, the response-head parser and
 * the chunked decoder.
 * Build with clang -fsanitize=fuzzer,address for libFuzzer (see README);
 * the default build links replay.c, which runs it over the corpus.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proxy/io/io.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct px_http_req	 req = { 0 };
	struct px_chunked	 ck = { 0 };
	const char		*err, *end;
	size_t			 pos = 0, used, off, dlen, headlen = size;
	int			 st;

	/* The head is what precedes the first blank line; the rest is body. */
	end = NULL;
	if (size >= 4) {
		size_t i;
		for (i = 0; i + 4 <= size; i++)
			if (memcmp(data + i, "\r\n\r\n", 4) == 0) {
				end = (const char *)data + i + 4;
				break;
			}
	}
	if (end != NULL)
		headlen = (size_t)(end - (const char *)data);
	if (px_http_parse_head((const char *)data, headlen, &req, &st, &err) == 0) {
		/* every header the parser kept must be NUL-terminated and clean */
		int i;
		for (i = 0; i < req.nhdr; i++)
			if (strpbrk(req.hdr[i].value, "\r\n") != NULL)
				__builtin_trap();
	}
	px_http_req_reset(&req);
	/* the same bytes as an upstream's response head */
	{
		struct px_http_resp	 r = { 0 };
		int			 i;

		if (px_http_parse_resp((const char *)data, headlen, &r) == 0) {
			if (r.content_length < 0)
				__builtin_trap();
			for (i = 0; i < r.nlines; i++)
				if (strpbrk(r.line[i], "\r\n") != NULL ||
				    strchr(r.line[i], ':') == NULL)
					__builtin_trap();
		}
		px_http_resp_reset(&r);
	}

	/* the chunked decoder gets what follows the head, or all of it */
	if (end != NULL)
		pos = headlen;
	while (pos < size && ck.state != PX_CK_DONE && ck.state != PX_CK_ERROR) {
		used = px_chunked_feed(&ck, (const char *)data + pos,
		    size - pos, &off, &dlen);
		if (dlen > 0 && (off + dlen > used || off + dlen > size - pos))
			__builtin_trap();
		if (used == 0)
			break;
		pos += used;
	}
	return 0;
}
