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

#define AUTH_FILE_MAX	(1024 * 1024)	/* a credentials file */
#define PASSWORD_FILE_MAX 4096		/* a password file */

/*
 * auths.<registry>.<key> of a credentials file, prefixed with prefix,
 * malloc'ed, when it is a non-empty string of characters of set only (it
 * goes into a header or a form); NULL otherwise.
 */
static char *
entry_string(const char *buf, size_t len, const char *registry,
    const char *key, const char *set, const char *prefix)
{
	json_t		*o;
	const char	*v;
	char		*out = NULL;

	o = core_json_parse(buf, len, &core_json_small);
	v = json_string_value(json_object_get(json_object_get(
	    json_object_get(o, "auths"), registry), key));
	if (v != NULL && *v != '\0' && strlen(v) < 16384 &&
	    strspn(v, set) == strlen(v) &&
	    asprintf(&out, "%s%s", prefix, v) == -1)
		out = NULL;
	json_decref(o);
	return out;
}

#define B64_SET	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

/* A secret's copy, wiped before it is freed. */
void
px_wipe_free(char *s)
{
	if (s != NULL) {
		mbedtls_platform_zeroize(s, strlen(s));
		free(s);
	}
}

char *
px_auth_file_parse(const char *buf, size_t len, const char *registry)
{
	/* base64 of user:password, nothing else goes into the header */
	return entry_string(buf, len, registry, "auth", B64_SET, "Basic ");
}

/* The file, whole, when it is no larger than max; NULL otherwise. */
static char *
read_small(const char *path, size_t max, size_t *len)
{
	FILE	*fp = fopen(path, "rb");
	char	*buf;
	size_t	 n;

	if (fp == NULL)
		return NULL;
	buf = malloc(max + 1);
	n = buf != NULL ? fread(buf, 1, max + 1, fp) : 0;
	fclose(fp);
	if (buf == NULL || n > max) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Registry credentials from a docker-style config.json, or podman's. */
char *
px_docker_auth(const char *registry)
{
	char	path[1024], *identity, *out;

	out = px_docker_auth_file(registry, path, sizeof(path), &identity);
	px_wipe_free(identity);
	return out;
}

/* The entry's identitytoken, malloc'ed, or NULL: printable ASCII (it goes
 * into a form field, escaped). */
static char *
identity_token(const char *buf, size_t len, const char *registry)
{
	return entry_string(buf, len, registry, "identitytoken", B64_SET
	    "!#$%&'()*,-.:;<>?@[]^_`{|}~", "");
}

char *
px_docker_auth_file(const char *registry, char *from, size_t flen,
    char **identity)
{
	const char	*env[][2] = {
		{ "REGISTRY_AUTH_FILE", "" },		/* podman's override */
		{ "DOCKER_CONFIG", "/config.json" },
		{ "HOME", "/.docker/config.json" },
		{ "XDG_RUNTIME_DIR", "/containers/auth.json" },
		{ "HOME", "/.config/containers/auth.json" },
	};
	char		 path[1024], *out = NULL, *buf;
	const char	*v;
	size_t		 i, len;

	*identity = NULL;
	for (i = 0; i < sizeof(env) / sizeof(env[0]) && out == NULL; i++) {
		v = getenv(env[i][0]);
		if (v == NULL || *v == '\0')
			continue;
		snprintf(path, sizeof(path), "%s%s", v, env[i][1]);
		buf = read_small(path, AUTH_FILE_MAX, &len);
		if (buf == NULL)
			continue;
		out = px_auth_file_parse(buf, len, registry);
		if (out != NULL)
			*identity = identity_token(buf, len, registry);
		mbedtls_platform_zeroize(buf, len);
		free(buf);
	}
	snprintf(from, flen, "%s", out != NULL ? path : "");
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

char *
px_password_file(const char *path)
{
	char	*buf;
	size_t	 len;

	buf = read_small(path, PASSWORD_FILE_MAX, &len);
	if (buf == NULL)
		return NULL;
	/* one line; its end is not part of the password */
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	return buf;
}
