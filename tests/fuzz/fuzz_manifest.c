/* Fuzz target: a pushed or pulled manifest (core_manifest_inspect). */
#include "fuzz.h"
#include "core/core.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct core_manifest_info	 mi;
	const char			*errstr;

	if (core_manifest_inspect((const char *)data, size, &mi, &errstr) ==
	    -1 && (errstr == NULL || *errstr == '\0'))
		__builtin_trap();
	return 0;
}
