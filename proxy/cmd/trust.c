/*
 * proxy/cmd/trust.c: the trust a command verifies against, from its flags,
 * with the same meaning as a rule's (the pull path's): --key (trusted
 * signers, repeatable), --rekor-key (trusted logs; Rekor then required),
 * --ca-roots with --certificate-identity[-regexp] and
 * --certificate-oidc-issuer[-regexp] (one keyless signer), --threshold N
 * (distinct signers), --rekor-online with --rekor-url, --identity
 * repository|any; or --policy
 * FILE, a signet configuration whose rule for the repository is applied
 * whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static int
value(int argc, char **argv, int *i, const char **out, char *err,
    size_t errlen)
{
	if (*i + 1 >= argc) {
		snprintf(err, errlen, "%s needs a value", argv[*i]);
		return -1;
	}
	*out = argv[++*i];
	return 1;
}

int
px_cmd_trust_arg(struct px_cmd_trust *t, int argc, char **argv, int *i,
    char *err, size_t errlen)
{
	const char	*a = argv[*i], *v;
	char		*end;
	long		 n;

	if (strcmp(a, "--key") == 0) {
		if (t->nkeypaths >= CONF_KEYS_MAX) {
			snprintf(err, errlen, "at most %d --key", CONF_KEYS_MAX);
			return -1;
		}
		return value(argc, argv, i, &t->keypaths[t->nkeypaths++], err,
		    errlen);
	}
	if (strcmp(a, "--rekor-key") == 0) {
		if (t->nrekorpaths >= CONF_KEYS_MAX) {
			snprintf(err, errlen, "at most %d --rekor-key",
			    CONF_KEYS_MAX);
			return -1;
		}
		return value(argc, argv, i, &t->rekorpaths[t->nrekorpaths++],
		    err, errlen);
	}
	if (strcmp(a, "--ca-roots") == 0)
		return value(argc, argv, i, &t->roots, err, errlen);
	if (strcmp(a, "--certificate-identity") == 0)
		return value(argc, argv, i, &t->ident, err, errlen);
	if (strcmp(a, "--certificate-identity-regexp") == 0)
		return value(argc, argv, i, &t->ident_re, err, errlen);
	if (strcmp(a, "--certificate-oidc-issuer") == 0)
		return value(argc, argv, i, &t->issuer, err, errlen);
	if (strcmp(a, "--certificate-oidc-issuer-regexp") == 0)
		return value(argc, argv, i, &t->issuer_re, err, errlen);
	if (strcmp(a, "--policy") == 0)
		return value(argc, argv, i, &t->policy_path, err, errlen);
	if (strcmp(a, "--rekor-url") == 0)
		return value(argc, argv, i, &t->rekor_url, err, errlen);
	if (strcmp(a, "--rekor-online") == 0) {
		t->online = 1;
		return 1;
	}
	if (strcmp(a, "--identity") == 0) {
		if (value(argc, argv, i, &v, err, errlen) == -1)
			return -1;
		if (strcmp(v, "repository") != 0 && strcmp(v, "any") != 0) {
			snprintf(err, errlen, "--identity is repository or any");
			return -1;
		}
		t->identity = strcmp(v, "repository") == 0 ? 1 : 0;
		return 1;
	}
	if (strcmp(a, "--threshold") == 0) {
		if (value(argc, argv, i, &v, err, errlen) == -1)
			return -1;
		n = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 1 || n > CORE_SIGNERS_MAX) {
			snprintf(err, errlen, "--threshold must be 1 to %d",
			    CORE_SIGNERS_MAX);
			return -1;
		}
		t->threshold = (int)n;
		return 1;
	}
	return 0;
}

int
px_cmd_trust_given(const struct px_cmd_trust *t)
{
	return t->nkeypaths > 0 || t->roots != NULL || t->policy_path != NULL;
}

static struct core_key *
load_key(const char *path, char *err, size_t errlen)
{
	return core_key_load_public(path, err, errlen);
}

int
px_cmd_trust_load(struct px_cmd_trust *t, const char *repo, char *err,
    size_t errlen)
{
	char	cerr[CONF_ERR_MAX], why[80];
	int	i, flags;

	flags = t->nkeypaths > 0 || t->nrekorpaths > 0 || t->roots != NULL ||
	    t->ident != NULL || t->ident_re != NULL || t->issuer != NULL ||
	    t->issuer_re != NULL || t->threshold > 0 || t->online ||
	    t->rekor_url != NULL || t->identity >= 0;
	if (t->policy_path != NULL) {
		if (flags) {
			snprintf(err, errlen, "--policy takes the trust from "
			    "the file: no --key, --rekor-key, --ca-roots, "
			    "--certificate-*, --threshold, --rekor-online or "
			    "--identity with it");
			return -1;
		}
		t->pconf = conf_load(t->policy_path, cerr, sizeof(cerr));
		if (t->pconf == NULL) {
			snprintf(err, errlen, "%.1000s", cerr);
			return -1;
		}
		t->policy = conf_policy_for(t->pconf, repo);
		if (t->policy == NULL || (t->policy->nkeys == 0 &&
		    t->policy->nkeyless == 0)) {
			snprintf(err, errlen, "%s: no rule for %s names a "
			    "trusted signer", t->policy_path, repo);
			return -1;
		}
		return 0;
	}
	if (t->nkeypaths == 0 && t->roots == NULL) {
		snprintf(err, errlen, "no trusted signer: --key PUB, --ca-roots "
		    "with --certificate-identity and --certificate-oidc-issuer, "
		    "or --policy FILE");
		return -1;
	}
	for (i = 0; i < t->nkeypaths; i++) {
		t->keys[i] = load_key(t->keypaths[i], err, errlen);
		if (t->keys[i] == NULL)
			return -1;
		t->nkeys++;
	}
	for (i = 0; i < t->nrekorpaths; i++) {
		t->rekor[i] = load_key(t->rekorpaths[i], err, errlen);
		if (t->rekor[i] == NULL)
			return -1;
		t->nrekor++;
	}
	if (t->roots != NULL) {
		if ((t->ident == NULL) == (t->ident_re == NULL) ||
		    (t->issuer == NULL) == (t->issuer_re == NULL)) {
			snprintf(err, errlen, "--ca-roots needs one of "
			    "--certificate-identity[-regexp] and one of "
			    "--certificate-oidc-issuer[-regexp]");
			return -1;
		}
		if (t->nrekor == 0) {
			snprintf(err, errlen, "keyless signers need --rekor-key "
			    "(their certificates are checked at the log's "
			    "time)");
			return -1;
		}
		if ((t->ident_re != NULL && core_regex_check(t->ident_re, why,
		    sizeof(why)) == -1) || (t->issuer_re != NULL &&
		    core_regex_check(t->issuer_re, why, sizeof(why)) == -1)) {
			snprintf(err, errlen, "a --certificate-*-regexp is "
			    "refused: %s", why);
			return -1;
		}
		t->keyless.roots = core_roots_load(t->roots, err, errlen);
		if (t->keyless.roots == NULL)
			return -1;
		t->keyless.identity = (char *)t->ident;
		t->keyless.identity_re = (char *)t->ident_re;
		t->keyless.issuer = (char *)t->issuer;
		t->keyless.issuer_re = (char *)t->issuer_re;
	} else if (t->ident != NULL || t->ident_re != NULL ||
	    t->issuer != NULL || t->issuer_re != NULL) {
		snprintf(err, errlen, "--certificate-* flags need --ca-roots");
		return -1;
	}
	if (t->threshold > t->nkeys + (t->roots != NULL ? 1 : 0)) {
		snprintf(err, errlen, "--threshold %d is more than the %d "
		    "signer(s) given", t->threshold, t->nkeys +
		    (t->roots != NULL ? 1 : 0));
		return -1;
	}
	if (t->online && t->nrekor == 0) {
		snprintf(err, errlen, "--rekor-online needs --rekor-key");
		return -1;
	}
	return 0;
}

void
px_cmd_trust_vopts(struct px_cmd_trust *t, const char *want_ref,
    struct core_trust *ct, struct core_vopts *o)
{
	if (t->policy != NULL) {
		conf_policy_vopts(t->pconf, t->policy, want_ref, ct, o);
		return;
	}
	memset(ct, 0, sizeof(*ct));
	ct->keys = t->keys;
	ct->nkeys = (size_t)t->nkeys;
	ct->rekor = t->rekor;
	ct->nrekor = (size_t)t->nrekor;
	ct->rekor_required = t->nrekor > 0;
	ct->keyless = t->roots != NULL ? &t->keyless : NULL;
	ct->nkeyless = t->roots != NULL ? 1 : 0;
	/* the repository check unless --identity any turns it off */
	ct->want_ref = t->identity != 0 ? want_ref : NULL;
	memset(o, 0, sizeof(*o));
	o->trust = ct;
	o->threshold = t->threshold > 0 ? t->threshold : 1;
	o->online = t->online;
}

const char *
px_cmd_trust_rekor_url(const struct px_cmd_trust *t)
{
	if (t->pconf != NULL)
		return t->pconf->rekor_url;
	return t->rekor_url != NULL ? t->rekor_url : CONF_REKOR_URL_DEFAULT;
}

void
px_cmd_trust_free(struct px_cmd_trust *t)
{
	int	i;

	for (i = 0; i < t->nkeys; i++)
		core_key_free(t->keys[i]);
	for (i = 0; i < t->nrekor; i++)
		core_key_free(t->rekor[i]);
	core_roots_free(t->keyless.roots);
	conf_unref(t->pconf);
	memset(t, 0, sizeof(*t));
	t->identity = -1;
}
