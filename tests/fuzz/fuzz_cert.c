/*
 * Fuzz target: certificates and chains as signet reads them for keyless
 * signers (core_cert_check): the input is the leaf PEM, a NUL, the chain
 * PEM; the roots are a fixed test CA.
 */
#include "fuzz.h"
#include "core/core.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct core_roots	*roots;
	struct core_keyless		 kl;
	struct core_cert_identity	 id;
	struct core_key			*k = NULL;
	char				 reason[300], *leaf, *chain;

	if (roots == NULL) {
		roots = core_roots_load(fuzz_path("tests/fuzz/data/root.pem"),
		    reason, sizeof(reason));
		if (roots == NULL)
			abort();
	}
	memset(&kl, 0, sizeof(kl));
	kl.roots = roots;
	kl.identity_re = (char *)".*";
	kl.issuer_re = (char *)".*";
	fuzz_split(data, size, &leaf, &chain);
	if (core_cert_check(&kl, leaf, *chain != '\0' ? chain : NULL,
	    1700000000, &id, &k, reason, sizeof(reason)) == 0 && k == NULL)
		__builtin_trap();
	core_key_free(k);
	free(leaf);
	return 0;
}
