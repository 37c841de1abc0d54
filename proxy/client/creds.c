/*
 * proxy/client/creds.c: registry credentials for the commands: given on the
 * command line, or from docker's config.json or podman's auth.json (the
 * first with an "auths" entry for the registry; credential helpers are not
 * run).  Returned as an Authorization value, malloc'ed: the caller wipes
 * and frees it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "client.h"

/* Registry credentials from a docker-style config.json, or podman's. */
char *
px_docker_auth(const char *registry)
{
	const char	*env[][2] = {
		{ "REGISTRY_AUTH_FILE", "" },		/* podman's override */
		{ "DOCKER_CONFIG", "/config.json" },
		{ "HOME", "/.docker/config.json" },
		{ "XDG_RUNTIME_DIR", "/containers/auth.json" },
		{ "HOME", "/.config/containers/auth.json" },
	};
	char		 path[1024], *out = NULL;
	json_error_t	 jerr;
	json_t		*o;
	const char	*b64, *v;
	size_t		 i;

	for (i = 0; i < sizeof(env) / sizeof(env[0]) && out == NULL; i++) {
		v = getenv(env[i][0]);
		if (v == NULL || *v == '\0')
			continue;
		snprintf(path, sizeof(path), "%s%s", v, env[i][1]);
		o = json_load_file(path, 0, &jerr);
		b64 = json_string_value(json_object_get(json_object_get(
		    json_object_get(o, "auths"), registry), "auth"));
		if (b64 != NULL && asprintf(&out, "Basic %s", b64) == -1)
			out = NULL;
		json_decref(o);
	}
	return out;
}

char *
px_basic_auth(const char *user, const char *pass)
{
	char	cred[512], b64[800], *out = NULL;
	size_t	blen;

	snprintf(cred, sizeof(cred), "%s:%s", user, pass);
	if (mbedtls_base64_encode((unsigned char *)b64, sizeof(b64), &blen,
	    (unsigned char *)cred, strlen(cred)) == 0 &&
	    asprintf(&out, "Basic %s", b64) == -1)
		out = NULL;
	mbedtls_platform_zeroize(cred, sizeof(cred));
	mbedtls_platform_zeroize(b64, sizeof(b64));
	return out;
}
