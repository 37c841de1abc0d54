/* Fuzz target: a simple-signing payload's claims (core_payload_check). */
#include "fuzz.h"
#include "core/core.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	reason[300];

	(void)core_payload_check((const char *)data, size, "sha256:"
	    "ae1a1fa654c3c7295ae6e0a5a46d30cc0af9cbba1bdb4e88cc6d3c4c9d3fbf89",
	    "registry.example/team/app", reason, sizeof(reason));
	(void)core_payload_check((const char *)data, size, "sha256:00", NULL,
	    reason, sizeof(reason));
	return 0;
}
