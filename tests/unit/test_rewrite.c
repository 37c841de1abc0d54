/* Unit tests: Location and Link rewriting towards the proxy. */
#include <stdlib.h>

#include "proxy/io/io.h"
#include "unit.h"

static void
check(const char *value, int is_link, const char *want)
{
	char	*got;

	got = px_rewrite_url(value, "http://127.0.0.1:5001",
	    "https://proxy.example:5000", is_link);
	if (want == NULL)
		CHECK(got == NULL, "%s rewritten to %s", value, got);
	else
		CHECK(got != NULL && strcmp(got, want) == 0, "%s -> %s, want %s",
		    value, got ? got : "(null)", want);
	free(got);
}

int
main(void)
{
	check("http://127.0.0.1:5001/v2/a/blobs/uploads/u?_state=x", 0,
	    "https://proxy.example:5000/v2/a/blobs/uploads/u?_state=x");
	check("HTTP://127.0.0.1:5001/v2/", 0, "https://proxy.example:5000/v2/");
	/* relative and foreign URLs stay as they are */
	check("/v2/a/blobs/uploads/u", 0, NULL);
	check("https://s3.example/bucket/blob?sig=1", 0, NULL);
	check("http://127.0.0.1:50011/v2/", 0, NULL);
	check("http://127.0.0.1:5001.evil/v2/", 0, NULL);
	/* Link: only the URL between the angle brackets */
	check("<http://127.0.0.1:5001/v2/_catalog?last=b&n=2>; rel=\"next\"", 1,
	    "<https://proxy.example:5000/v2/_catalog?last=b&n=2>; rel=\"next\"");
	check("</v2/_catalog?last=b&n=2>; rel=\"next\"", 1, NULL);
	check("http://127.0.0.1:5001/x", 1, NULL);
	/* header lines carrying registry or certificate bytes */
	{
		static const struct {
			const char	*in, *want;
		} rows[] = {
			{ "Signet-Verification: failed; plain", "Signet-Verification: "
			    "failed; plain" },
			{ "a\r\nX-Injected: yes", "a\\x0d\\x0aX-Injected: yes" },
			{ "tab\there", "tab\\x09here" },
			{ "caf\xc3\xa9", "caf\\xc3\\xa9" },
			{ "back\\slash", "back\\x5cslash" },
			{ "del\x7f", "del\\x7f" },
		};
		char	out[64];
		size_t	i;

		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			px_header_safe(out, sizeof(out), rows[i].in);
			CHECK(strcmp(out, rows[i].want) == 0, "header_safe %zu: "
			    "%s", i, out);
		}
		px_header_safe(out, 8, "\r\r\r\r");
		CHECK(strlen(out) < 8 && strchr(out, '\r') == NULL,
		    "header_safe cuts to fit: %s", out);
	}
	return unit_done();
}
