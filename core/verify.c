/*
 * core/verify.c: checking one cosign signature as cosign does (FORMATS.md
 * §3.2, §5.6): the signature over the payload bytes under a trusted key,
 * the payload's claims, and, when Rekor is required, the bundle offline:
 * SET under the log key its logID names, and the entry's body equal to this
 * payload hash, signature and key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <mbedtls/base64.h>
#include <mbedtls/x509_crt.h>

#include "core.h"

static int
why(char *reason, size_t rlen, const char *msg)
{
	snprintf(reason, rlen, "%s", msg);
	return -1;
}

int
core_payload_check(const char *payload, size_t plen, const char *digest,
    const char *want_ref, char *reason, size_t rlen)
{
	json_t		*o, *crit;
	const char	*d, *type, *ref;
	int		 rc = -1;

	if (plen > CORE_PAYLOAD_MAX)
		return why(reason, rlen, "payload larger than 64 KiB");
	o = core_json_parse(payload, plen, &core_json_payload);
	crit = json_object_get(o, "critical");
	if (!json_is_object(crit)) {
		why(reason, rlen, "payload is not a simple-signing document");
		goto done;
	}
	type = json_string_value(json_object_get(crit, "type"));
	d = json_string_value(json_object_get(json_object_get(crit, "image"),
	    "docker-manifest-digest"));
	ref = json_string_value(json_object_get(json_object_get(crit,
	    "identity"), "docker-reference"));
	if (type == NULL || strcmp(type, CORE_SIG_TYPE) != 0) {
		why(reason, rlen, "payload critical.type is not a cosign "
		    "container image signature");
		goto done;
	}
	if (d == NULL || strcmp(d, digest) != 0) {
		snprintf(reason, rlen, "digest mismatch: the signature is for "
		    "%.80s, not %s", d != NULL ? d : "(none)", digest);
		goto done;
	}
	if (want_ref != NULL && (ref == NULL || strcmp(ref, want_ref) != 0)) {
		snprintf(reason, rlen, "the signature names %.200s, not %.200s",
		    ref != NULL ? ref : "(no reference)", want_ref);
		goto done;
	}
	rc = 0;
done:
	json_decref(o);
	return rc;
}

/* base64 text of a JSON string: only the base64 alphabet, no escapes */
static int
b64_text(const char *s)
{
	return s != NULL && *s != '\0' &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/=") == strlen(s);
}


/* The hashedrekord entry in the body names this payload, signature, key. */
static int
check_body(const char *body64, const char *payload, size_t plen,
    const char *sig_b64, const struct core_key *signer, char *reason,
    size_t rlen)
{
	unsigned char	*body, *pem = NULL;
	struct core_key	*k = NULL;
	json_t		*o, *spec, *hash;
	const char	*alg, *value, *content, *pkey;
	char		 hex[65], err[128];
	size_t		 blen, pemlen;
	int		 rc = -1;

	body = core_b64_decode(body64, &blen);
	if (body == NULL)
		return why(reason, rlen, "Rekor entry body is not base64");
	o = core_json_parse((const char *)body, blen, &core_json_payload);
	free(body);
	spec = json_object_get(o, "spec");
	hash = json_object_get(json_object_get(spec, "data"), "hash");
	alg = json_string_value(json_object_get(hash, "algorithm"));
	value = json_string_value(json_object_get(hash, "value"));
	content = json_string_value(json_object_get(json_object_get(spec,
	    "signature"), "content"));
	pkey = json_string_value(json_object_get(json_object_get(
	    json_object_get(spec, "signature"), "publicKey"), "content"));
	if (o == NULL || json_string_value(json_object_get(o, "kind")) == NULL ||
	    strcmp(json_string_value(json_object_get(o, "kind")),
	    "hashedrekord") != 0 || alg == NULL || value == NULL ||
	    content == NULL || pkey == NULL) {
		why(reason, rlen, "Rekor entry is not a hashedrekord entry");
		goto done;
	}
	core_sha256_hex(payload, plen, hex);
	if (strcmp(alg, "sha256") != 0 || strcmp(value, hex) != 0) {
		why(reason, rlen, "Rekor entry is for another payload");
		goto done;
	}
	if (strcmp(content, sig_b64) != 0) {
		why(reason, rlen, "Rekor entry holds another signature");
		goto done;
	}
	pem = core_b64_decode(pkey, &pemlen);
	if (pem != NULL && strstr((char *)pem, "BEGIN CERTIFICATE") != NULL)
		k = core_cert_key(pem, pemlen);	/* keyless entries */
	else
		k = pem != NULL ? core_key_load_public_pem((const char *)pem,
		    pemlen, "Rekor entry key", err, sizeof(err)) : NULL;
	if (k == NULL || strcmp(core_key_fingerprint(k),
	    core_key_fingerprint(signer)) != 0) {
		why(reason, rlen, "Rekor entry holds another public key");
		goto done;
	}
	rc = 0;
done:
	free(pem);
	core_key_free(k);
	json_decref(o);
	return rc;
}

int
core_rekor_check_bundle(struct core_key *const *logs, size_t nlogs,
    const char *bundle, const char *payload, size_t plen, const char *sig_b64,
    const struct core_key *signer, char *reason, size_t rlen)
{
	json_t		*o, *p;
	const char	*set64, *body, *logid;
	unsigned char	*set = NULL;
	char		*msg = NULL;
	json_int_t	 itime, lindex;
	size_t		 setlen, i;
	int		 rc = -1, n;

	if (bundle == NULL)
		return why(reason, rlen, "Rekor entry missing: no bundle");
	if (strlen(bundle) > CORE_BUNDLE_MAX)
		return why(reason, rlen, "Rekor bundle too large");
	o = core_json_parse(bundle, strlen(bundle), &core_json_bundle);
	p = json_object_get(o, "Payload");
	set64 = json_string_value(json_object_get(o, "SignedEntryTimestamp"));
	body = json_string_value(json_object_get(p, "body"));
	logid = json_string_value(json_object_get(p, "logID"));
	itime = json_integer_value(json_object_get(p, "integratedTime"));
	lindex = json_integer_value(json_object_get(p, "logIndex"));
	if (!b64_text(set64) || !b64_text(body) || logid == NULL ||
	    strlen(logid) != 64 || strspn(logid, "0123456789abcdef") != 64 ||
	    !json_is_integer(json_object_get(p, "integratedTime")) ||
	    !json_is_integer(json_object_get(p, "logIndex"))) {
		why(reason, rlen, "Rekor bundle is malformed");
		goto done;
	}
	for (i = 0; i < nlogs; i++)
		if (strcmp(core_key_fingerprint(logs[i]), logid) == 0)
			break;
	if (i == nlogs) {
		why(reason, rlen, "Rekor entry from a log whose key is not "
		    "trusted (logID)");
		goto done;
	}
	/* JCS of the four fields: sorted keys, no blanks, plain integers */
	n = asprintf(&msg, "{\"body\":\"%s\",\"integratedTime\":%lld,"
	    "\"logID\":\"%s\",\"logIndex\":%lld}", body, (long long)itime,
	    logid, (long long)lindex);
	set = n < 0 ? NULL : core_b64_decode(set64, &setlen);
	if (set == NULL || core_key_verify(logs[i], msg, (size_t)n, set,
	    setlen) != 0) {
		why(reason, rlen, "Rekor SET does not verify under the log's "
		    "key");
		goto done;
	}
	rc = check_body(body, payload, plen, sig_b64, signer, reason, rlen);
done:
	free(set);
	free(msg);
	json_decref(o);
	return rc;
}

int
core_verify_signature(const struct core_trust *t, const char *digest,
    const char *payload, size_t plen, const char *sig_b64, const char *bundle,
    char *reason, size_t rlen)
{
	size_t	i;
	int	signer = -1;

	if (sig_b64 == NULL || *sig_b64 == '\0')
		return why(reason, rlen, "layer has no signature annotation");
	for (i = 0; i < t->nkeys && signer < 0; i++)
		if (core_sig_b64_verify(t->keys[i], payload, plen, sig_b64) == 0)
			signer = (int)i;
	if (signer < 0)
		return why(reason, rlen, "not signed by a trusted key");
	if (core_payload_check(payload, plen, digest, t->want_ref, reason,
	    rlen) == -1)
		return -1;
	if (t->rekor_required && core_rekor_check_bundle(t->rekor, t->nrekor,
	    bundle, payload, plen, sig_b64, t->keys[signer], reason, rlen) == -1)
		return -1;
	return signer;
}

int
core_rekor_bundle_time(const char *bundle, time_t *at)
{
	json_t		*o, *t;

	o = core_json_parse(bundle, strlen(bundle), &core_json_bundle);
	t = json_object_get(json_object_get(o, "Payload"), "integratedTime");
	if (!json_is_integer(t)) {
		json_decref(o);
		return -1;
	}
	*at = (time_t)json_integer_value(t);
	json_decref(o);
	return 0;
}

/* A layer with a certificate: the keyless signers, Rekor always. */
static int
verify_keyless(const struct core_trust *t, const char *digest,
    const char *payload, size_t plen, const struct core_sig_layer *l,
    char *signer, size_t slen, char *reason, size_t rlen)
{
	struct core_cert_identity	 id;
	struct core_key			*k;
	char				 why_[256] = "";
	time_t				 at;
	size_t				 i;

	if (t->nkeyless == 0)
		return why(reason, rlen, "signed with a certificate, and the "
		    "rule trusts no keyless signer");
	if (l->bundle == NULL)
		return why(reason, rlen, "Rekor entry missing: a certificate "
		    "signature needs a bundle");
	if (core_rekor_bundle_time(l->bundle, &at) == -1)
		return why(reason, rlen, "Rekor bundle is malformed");
	for (i = 0; i < t->nkeyless; i++) {
		if (core_cert_check(&t->keyless[i], l->certificate, l->chain,
		    at, &id, &k, why_, sizeof(why_)) == -1)
			continue;
		if (core_sig_b64_verify(k, payload, plen, l->signature) != 0) {
			snprintf(why_, sizeof(why_), "signature does not verify "
			    "under the certificate's key");
			core_key_free(k);
			continue;
		}
		if (core_payload_check(payload, plen, digest, t->want_ref,
		    why_, sizeof(why_)) == -1 ||
		    core_rekor_check_bundle(t->rekor, t->nrekor, l->bundle,
		    payload, plen, l->signature, k, why_, sizeof(why_)) == -1) {
			core_key_free(k);
			continue;
		}
		core_key_free(k);
		snprintf(signer, slen, "keyless:%s", id.subject);
		return 0;
	}
	return why(reason, rlen, why_[0] ? why_ : "no keyless signer matches");
}

int
core_verify_layer(const struct core_trust *t, const char *digest,
    const char *payload, size_t plen, const struct core_sig_layer *l,
    char *signer, size_t slen, char *reason, size_t rlen)
{
	int	k;

	if (l->certificate != NULL && *l->certificate != '\0')
		return verify_keyless(t, digest, payload, plen, l, signer, slen,
		    reason, rlen);
	k = core_verify_signature(t, digest, payload, plen, l->signature,
	    l->bundle, reason, rlen);
	if (k < 0)
		return -1;
	snprintf(signer, slen, "%s", core_key_fingerprint(t->keys[k]));
	return 0;
}

int
core_signer_add(char (*set)[CORE_SIGNER_MAX], int *n, int max,
    const char *signer)
{
	int	i;

	for (i = 0; i < *n; i++)
		if (strcmp(set[i], signer) == 0)
			return *n;
	if (*n < max)
		snprintf(set[(*n)++], CORE_SIGNER_MAX, "%s", signer);
	return *n;
}
