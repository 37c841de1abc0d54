/* Fuzz target: JSON measured before it is parsed (core/json.c). */
#include "fuzz.h"
#include "core/core.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct core_json_limits *kinds[] = { &core_json_manifest,
	    &core_json_siglist, &core_json_payload, &core_json_bundle,
	    &core_json_log, &core_json_small };
	size_t		 i, v, d;
	char		 err[200];
	json_t		*o;

	if (core_json_measure((const char *)data, size, &v, &d) == 0 &&
	    (v == 0 || d > size))
		__builtin_trap();	/* a count that cannot be */
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		o = core_json_load((const char *)data, size, kinds[i], err,
		    sizeof(err));
		if (o == NULL && err[0] == '\0')
			__builtin_trap();	/* a refusal says why */
		json_decref(o);
	}
	return 0;
}
