/*
 * core/sigobj.c: what a signature object was made for.  Before signet
 * deletes or trims a signature object (the DELETE cascade, `signet gc`), the
 * object itself must say it belongs to the deleted subject: a tag name
 * proves nothing (a push-only client can point sha256-<S>.sig at anything),
 * and registries delete by digest, so deleting a copy of another image's
 * list deletes that list too.  A layer names a subject through its content:
 * a simple-signing payload's docker-manifest-digest, or an in-toto
 * statement's subject in a DSSE envelope.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* repo equals the repository part of a reference "host/repo[:tag|@d]" */
static int
ref_repo_is(const char *ref, const char *repo)
{
	struct core_image_ref	ir;

	return ref != NULL && core_image_ref_parse(ref, 1, &ir) == 0 &&
	    strcmp(ir.repo, repo) == 0;
}

static int
payload_names(const char *blob, size_t len, const char *subject,
    const char *repo, char *reason, size_t rlen)
{
	json_t		*o, *crit;
	const char	*d, *ref;
	int		 rc = 0;

	o = core_json_parse(blob, len, &core_json_payload);
	crit = json_object_get(o, "critical");
	d = json_string_value(json_object_get(json_object_get(crit, "image"),
	    "docker-manifest-digest"));
	ref = json_string_value(json_object_get(json_object_get(crit,
	    "identity"), "docker-reference"));
	if (d == NULL)
		snprintf(reason, rlen, "a payload that is not a simple-signing "
		    "document");
	else if (strcmp(d, subject) != 0)
		snprintf(reason, rlen, "a payload for %.80s", d);
	else if (repo != NULL && !ref_repo_is(ref, repo))
		snprintf(reason, rlen, "a payload for %.200s",
		    ref != NULL ? ref : "(no reference)");
	else
		rc = 1;
	json_decref(o);
	return rc;
}

static int
statement_names(const char *blob, size_t len, const char *subject,
    const char *repo, char *reason, size_t rlen)
{
	json_t		*env, *st, *s;
	unsigned char	*raw = NULL;
	const char	*p64, *hex, *name;
	size_t		 rawlen, i;
	int		 rc = 0;

	snprintf(reason, rlen, "a DSSE envelope whose statement does not "
	    "name %.80s", subject);
	env = core_json_parse(blob, len, &core_json_small);
	p64 = json_string_value(json_object_get(env, "payload"));
	if (p64 != NULL)
		raw = core_b64_decode(p64, &rawlen);
	st = raw != NULL ? core_json_parse((char *)raw, rawlen,
	    &core_json_small) : NULL;
	json_array_foreach(json_object_get(st, "subject"), i, s) {
		hex = json_string_value(json_object_get(json_object_get(s,
		    "digest"), "sha256"));
		name = json_string_value(json_object_get(s, "name"));
		if (hex == NULL || strncmp(subject, "sha256:", 7) != 0 ||
		    strcmp(hex, subject + 7) != 0)
			continue;
		/* in-toto names the image without its registry, or with */
		if (repo != NULL && (name == NULL || (strcmp(name, repo) != 0 &&
		    !ref_repo_is(name, repo)))) {
			snprintf(reason, rlen, "a statement for %.200s",
			    name != NULL ? name : "(no name)");
			continue;
		}
		rc = 1;
		break;
	}
	json_decref(st);
	json_decref(env);
	free(raw);
	return rc;
}

int
core_layer_names(const char *media_type, const char *blob, size_t len,
    const char *subject, const char *repo, char *reason, size_t rlen)
{
	int	rc = 0;

	if (media_type != NULL && strcmp(media_type, CORE_MT_SIMPLESIGNING) == 0)
		rc = payload_names(blob, len, subject, repo, reason, rlen);
	else if (media_type != NULL && strcmp(media_type, CORE_MT_DSSE) == 0)
		rc = statement_names(blob, len, subject, repo, reason, rlen);
	else
		snprintf(reason, rlen, "nothing in a layer of type %.100s names "
		    "a subject", media_type != NULL ? media_type : "(none)");
	core_ascii(reason);	/* what a payload said, for logs */
	return rc;
}

int
core_layer_has_names(const char *media_type)
{
	return media_type != NULL &&
	    (strcmp(media_type, CORE_MT_SIMPLESIGNING) == 0 ||
	    strcmp(media_type, CORE_MT_DSSE) == 0);
}
