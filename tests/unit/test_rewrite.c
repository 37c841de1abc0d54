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
	return unit_done();
}
