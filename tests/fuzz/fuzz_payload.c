/*
 * Fuzz target: a simple-signing payload's claims (core_payload_check), and
 * what a signature object's layer names (core_layer_names: the payload,
 * and the same bytes as a DSSE envelope with an in-toto statement).
 */
#include "fuzz.h"
#include "core/core.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char d[] = "sha256:"
	    "ae1a1fa654c3c7295ae6e0a5a46d30cc0af9cbba1bdb4e88cc6d3c4c9d3fbf89";
	const char	*s = (const char *)data;
	char		 reason[300];

	(void)core_payload_check(s, size, d, "registry.example/team/app",
	    reason, sizeof(reason));
	(void)core_payload_check(s, size, "sha256:00", NULL, reason,
	    sizeof(reason));
	(void)core_layer_names(CORE_MT_SIMPLESIGNING, s, size, d, "team/app",
	    reason, sizeof(reason));
	(void)core_layer_names(CORE_MT_DSSE, s, size, d, NULL, reason,
	    sizeof(reason));
	(void)core_layer_names(CORE_MT_DSSE, s, size, d, "team/app", reason,
	    sizeof(reason));
	return 0;
}
