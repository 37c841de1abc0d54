/*
 * Fuzz target: key files: a PEM public key (core_key_load_public_pem) and
 * cosign's encrypted private key envelope (core_cosign_decrypt, password
 * "pw"; the scrypt parameters it accepts are bounded).
 */
#include "fuzz.h"
#include "core/core.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct core_key	*k;
	unsigned char	*der = NULL;
	size_t		 dlen;
	char		 err[256], *s = fuzz_str(data, size);

	k = core_key_load_public_pem(s, size, "fuzz", err, sizeof(err));
	core_key_free(k);
	if (core_cosign_decrypt(s, "pw", &der, &dlen, err, sizeof(err)) == 0)
		free(der);
	free(s);
	return 0;
}
