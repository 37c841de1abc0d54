/*
 * Fuzz target: names as clients and users write them: image references
 * (core_image_ref_parse), request paths (core_route_parse) and the name,
 * tag and digest grammars.  What parses must be valid by the grammars.
 */
#include "fuzz.h"
#include "core/core.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct core_image_ref	 r;
	struct core_route	 rt;
	const char		*code, *err;
	char			*s = fuzz_str(data, size);

	if (core_image_ref_parse(s, 1, &r) == 0 &&
	    !core_name_valid(r.repo, strlen(r.repo)))
		__builtin_trap();
	(void)core_image_ref_parse(s, 0, &r);
	if (core_route_parse(s, strlen(s), &rt, &code, &err) == 0 &&
	    rt.name[0] != '\0' && !core_name_valid(rt.name, strlen(rt.name)))
		__builtin_trap();
	(void)core_tag_valid(s, strlen(s));
	(void)core_digest_valid(s, strlen(s));
	free(s);
	return 0;
}
