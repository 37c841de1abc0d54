/* Fuzz target: docker's config.json and podman's auth.json, as read for a
 * registry's credentials (px_auth_file_parse). */
#include "fuzz.h"
#include "proxy/client/client.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*a;

	a = px_auth_file_parse((const char *)data, size, "registry.example");
	if (a != NULL && strncmp(a, "Basic ", 6) != 0)
		__builtin_trap();
	free(a);
	return 0;
}
