/*
 * Fuzz target: a signature list (core_sigman_*): opened, every layer read,
 * merged into itself (nothing may be added), serialized, and the bytes it
 * writes must open again with the same layers.
 */
#include "fuzz.h"
#include "core/core.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct core_sigman	 sm, again;
	struct core_sig_layer	 l;
	const char		*errstr;
	char			*cfg, *man;
	size_t			 clen, mlen, i, n;

	core_sigman_init(&sm);
	core_sigman_init(&again);
	if (core_sigman_open(&sm, (const char *)data, size, 0, &errstr) == -1)
		goto done;
	n = core_sigman_count(&sm);
	for (i = 0; i < n; i++)
		if (core_sigman_layer(&sm, i, &l) == -1)
			__builtin_trap();
	if (core_sigman_merge(&sm, &sm) != 0)
		__builtin_trap();	/* a list holds all of itself */
	if (core_sigman_serialize(&sm, &cfg, &clen, &man, &mlen) == 0) {
		if (core_sigman_open(&again, man, mlen, 0, &errstr) == -1 ||
		    core_sigman_count(&again) != n)
			__builtin_trap();
		free(cfg);
		free(man);
	}
done:
	core_sigman_free(&sm);
	core_sigman_free(&again);
	return 0;
}
