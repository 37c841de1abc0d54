/* core/mediatype.c: media types of the manifests signet handles. */
#include <string.h>
#include <strings.h>

#include "core.h"

static const char *const manifest_types[] = {
	CORE_MT_OCI_MANIFEST,
	CORE_MT_OCI_INDEX,
	CORE_MT_DOCKER_MANIFEST,
	CORE_MT_DOCKER_LIST,
};

int
core_mediatype_is_manifest(const char *mt)
{
	size_t	i, n;

	/* compare up to parameters (";") or trailing blanks */
	n = strcspn(mt, "; \t");
	for (i = 0; i < sizeof(manifest_types) / sizeof(*manifest_types); i++)
		if (strlen(manifest_types[i]) == n &&
		    strncasecmp(mt, manifest_types[i], n) == 0)
			return 1;
	return 0;
}
