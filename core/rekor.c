/*
 * core/rekor.c: talking to a Rekor log, without the talking: the entry to
 * propose for a signature, and the checks an answer must pass before its
 * bundle is written next to the signature (FORMATS.md §5.1-5.8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/base64.h>

#include "core.h"


char *
core_rekor_entry(const char *payload, size_t plen, const char *sig_b64,
    const struct core_key *signer)
{
	char	 pem[2048], hex[65], *pem64, *out;
	json_t	*o;

	if (core_key_public_pem(signer, pem, sizeof(pem)) == -1)
		return NULL;
	pem64 = core_b64_encode(pem, strlen(pem));
	if (pem64 == NULL)
		return NULL;
	core_sha256_hex(payload, plen, hex);
	o = json_pack("{s:s, s:s, s:{s:{s:{s:s, s:s}}, s:{s:s, s:{s:s}}}}",
	    "apiVersion", "0.0.1", "kind", "hashedrekord",
	    "spec", "data", "hash", "algorithm", "sha256", "value", hex,
	    "signature", "content", sig_b64, "publicKey", "content", pem64);
	free(pem64);
	out = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) :
	    NULL;
	json_decref(o);
	return out;
}

static int
why(char *reason, size_t rlen, const char *msg)
{
	snprintf(reason, rlen, "%s", msg);
	return -1;
}

/*
 * The entry (body64) is in the tree whose root the log signed: the proof's
 * hashes lead from its leaf to rootHash, and the proof's checkpoint, signed
 * by one of logs, names that root and size.
 */
static int
check_inclusion(struct core_key *const *logs, size_t nlogs,
    const char *body64, const json_t *proof, struct core_checkpoint *cp,
    char *reason, size_t rlen)
{
	unsigned char	 (*hashes)[32] = NULL, root[32], *body = NULL;
	const char	*ck, *rh;
	json_t		*h;
	size_t		 i, n, blen;
	int		 rc = -1;

	ck = json_string_value(json_object_get(proof, "checkpoint"));
	rh = json_string_value(json_object_get(proof, "rootHash"));
	n = json_array_size(json_object_get(proof, "hashes"));
	if (ck == NULL || rh == NULL || n > 64 ||
	    !json_is_integer(json_object_get(proof, "logIndex")) ||
	    !json_is_integer(json_object_get(proof, "treeSize")) ||
	    core_hex_decode(rh, root, sizeof(root)) != 32) {
		why(reason, rlen, "the log gave no usable inclusion proof");
		return -1;
	}
	hashes = calloc(n + 1, sizeof(*hashes));
	body = core_b64_decode(body64, &blen);
	if (hashes == NULL || body == NULL) {
		why(reason, rlen, "the log's entry body is not base64");
		goto done;
	}
	json_array_foreach(json_object_get(proof, "hashes"), i, h) {
		if (!json_is_string(h) || core_hex_decode(json_string_value(h),
		    hashes[i], 32) != 32) {
			why(reason, rlen, "inclusion proof hash malformed");
			goto done;
		}
	}
	rc = core_merkle_check_proof(logs, nlogs, body, blen,
	    (uint64_t)json_integer_value(json_object_get(proof, "logIndex")),
	    (uint64_t)json_integer_value(json_object_get(proof, "treeSize")),
	    (const unsigned char (*)[32])hashes, n, root, ck, cp, reason, rlen);
done:
	free(hashes);
	free(body);
	return rc;
}

int
core_rekor_check_response(struct core_key *const *logs, size_t nlogs,
    const char *resp, size_t len, const char *payload, size_t plen,
    const char *sig_b64, const struct core_key *signer, char **bundle,
    struct core_checkpoint *cp, char *reason, size_t rlen)
{
	json_t		*o, *e, *ver, *proof, *b;
	const char	*body64, *set, *logid;
	int		 rc = -1;

	*bundle = NULL;
	o = core_json_parse(resp, len, &core_json_log);
	if (!json_is_object(o) || json_object_size(o) != 1) {
		why(reason, rlen, "Rekor answer is not one entry");
		goto done;
	}
	e = json_object_iter_value(json_object_iter(o));
	ver = json_object_get(e, "verification");
	proof = json_object_get(ver, "inclusionProof");
	body64 = json_string_value(json_object_get(e, "body"));
	set = json_string_value(json_object_get(ver, "signedEntryTimestamp"));
	logid = json_string_value(json_object_get(e, "logID"));
	if (body64 == NULL || set == NULL || logid == NULL ||
	    !json_is_integer(json_object_get(e, "integratedTime")) ||
	    !json_is_integer(json_object_get(e, "logIndex"))) {
		why(reason, rlen, "Rekor answer lacks body, SET or logID");
		goto done;
	}
	/* the bundle, in cosign's field order, then its offline checks */
	b = json_pack("{s:s, s:{s:s, s:I, s:I, s:s}}",
	    "SignedEntryTimestamp", set, "Payload", "body", body64,
	    "integratedTime", json_integer_value(json_object_get(e,
	    "integratedTime")), "logIndex", json_integer_value(json_object_get(
	    e, "logIndex")), "logID", logid);
	*bundle = b != NULL ? json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER) :
	    NULL;
	json_decref(b);
	if (*bundle == NULL) {
		why(reason, rlen, "out of memory");
		goto done;
	}
	if (core_rekor_check_bundle(logs, nlogs, *bundle, payload, plen,
	    sig_b64, signer, reason, rlen) == -1)
		goto done;
	if (check_inclusion(logs, nlogs, body64, proof, cp, reason, rlen) ==
	    -1)
		goto done;
	rc = 0;
done:
	if (rc == -1) {
		free(*bundle);
		*bundle = NULL;
	}
	json_decref(o);
	return rc;
}

int
core_rekor_check_online(struct core_key *const *logs, size_t nlogs,
    const char *resp, size_t len, const char *bundle,
    struct core_checkpoint *cp, char *reason, size_t rlen)
{
	json_t		*o, *b, *e, *proof;
	const char	*want, *body64;
	int		 rc = -1;

	b = bundle != NULL ? core_json_parse(bundle, strlen(bundle),
	    &core_json_bundle) : NULL;
	want = json_string_value(json_object_get(json_object_get(b, "Payload"),
	    "body"));
	o = core_json_parse(resp, len, &core_json_log);
	e = json_is_object(o) && json_object_size(o) == 1 ?
	    json_object_iter_value(json_object_iter(o)) : NULL;
	body64 = json_string_value(json_object_get(e, "body"));
	proof = json_object_get(json_object_get(e, "verification"),
	    "inclusionProof");
	if (want == NULL || body64 == NULL || strcmp(want, body64) != 0) {
		why(reason, rlen, "the log's entry differs from the bundle's");
		goto done;
	}
	if (check_inclusion(logs, nlogs, body64, proof, cp, reason, rlen) ==
	    -1)
		goto done;
	rc = 0;
done:
	json_decref(o);
	json_decref(b);
	return rc;
}

/* The checkpoint kept for logid in dir; 0, or -1 when none is. */
static int
kept(const char *dir, const char *logid, struct core_checkpoint *old)
{
	char			 path[1200], line[200], hex[100];
	unsigned long long	 size;
	FILE			*fp;
	int			 rc = -1;

	memset(old, 0, sizeof(*old));
	snprintf(path, sizeof(path), "%s/checkpoint-%.64s", dir, logid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return -1;
	if (fgets(line, sizeof(line), fp) != NULL &&
	    sscanf(line, "%llu %64s", &size, hex) == 2 &&
	    core_hex_decode(hex, old->root, 32) == 32) {
		old->size = (uint64_t)size;
		rc = 0;
	}
	fclose(fp);
	return rc;
}

int
core_checkpoint_compare(const char *dir, const struct core_checkpoint *cp,
    const char *logid, struct core_checkpoint *old, char *reason, size_t rlen)
{
	if (kept(dir, logid, old) == -1)
		return CORE_CP_NEW;
	if (cp->size == old->size && memcmp(cp->root, old->root, 32) != 0) {
		snprintf(reason, rlen, "the log shows two roots for tree size "
		    "%llu: its history forked", (unsigned long long)cp->size);
		return -1;
	}
	if (cp->size < old->size)
		return CORE_CP_OLDER;
	return cp->size == old->size ? CORE_CP_SAME : CORE_CP_GROWN;
}

void
core_checkpoint_backwards(const struct core_checkpoint *cp,
    const struct core_checkpoint *kept_cp, int status, char *reason,
    size_t rlen)
{
	snprintf(reason, rlen, "the log's checkpoint went backwards (tree "
	    "size %llu, seen %llu) and the log shows no consistency proof "
	    "between them (HTTP %d)", (unsigned long long)cp->size,
	    (unsigned long long)kept_cp->size, status);
}

static int	checkpoint_keep_locked(const char *,
		    const struct core_checkpoint *, const char *, char *, size_t);

int
core_checkpoint_keep(const char *dir, const struct core_checkpoint *cp,
    const char *logid, char *reason, size_t rlen)
{
	char	lock[1300];
	int	fd, rc;

	/* several workers share dir: the compare and the write are one step
	 * (a checkpoint never goes back); the lock file stays, one per log,
	 * hidden from a glob of checkpoint-* */
	snprintf(lock, sizeof(lock), "%s/.checkpoint-%.64s.lock", dir, logid);
	fd = core_lock_wait(lock);
	if (fd == -1) {
		snprintf(reason, rlen, "cannot lock %s", lock);
		return -1;
	}
	rc = checkpoint_keep_locked(dir, cp, logid, reason, rlen);
	core_lock_drop(NULL, fd);
	return rc;
}

static int
checkpoint_keep_locked(const char *dir, const struct core_checkpoint *cp,
    const char *logid, char *reason, size_t rlen)
{
	struct core_checkpoint	 now;
	char			 path[1200], tmp[1300], hex[65];
	FILE			*fp;
	int			 i;

	/*
	 * Answers to concurrent requests arrive in any order: another one
	 * may have kept a larger checkpoint since cp was compared.  The
	 * larger one stays; the same size with another root is a fork.
	 */
	if (kept(dir, logid, &now) == 0 && now.size >= cp->size) {
		if (now.size == cp->size && memcmp(now.root, cp->root, 32) != 0) {
			snprintf(reason, rlen, "the log shows two roots for "
			    "tree size %llu: its history forked",
			    (unsigned long long)cp->size);
			return -1;
		}
		return 0;
	}
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", cp->root[i]);
	snprintf(path, sizeof(path), "%s/checkpoint-%.64s", dir, logid);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fp = fopen(tmp, "w");
	if (fp == NULL || fprintf(fp, "%llu %s\n",
	    (unsigned long long)cp->size, hex) < 0 || fflush(fp) != 0 ||
	    fsync(fileno(fp)) != 0) {
		if (fp != NULL)
			fclose(fp);
		snprintf(reason, rlen, "cannot keep the checkpoint in %s", dir);
		return -1;
	}
	fclose(fp);
	if (rename(tmp, path) == -1) {
		snprintf(reason, rlen, "cannot keep the checkpoint in %s", dir);
		return -1;
	}
	return 0;
}

int
core_rekor_check_consistency(const char *resp, size_t len,
    const struct core_checkpoint *old, const struct core_checkpoint *cp,
    char *reason, size_t rlen)
{
	unsigned char	 (*hashes)[32] = NULL;
	json_t		*o, *a, *h;
	size_t		 i, n;
	int		 rc = -1;

	o = core_json_parse(resp, len, &core_json_log);
	a = json_object_get(o, "hashes");
	n = json_array_size(a);
	if (!json_is_array(a) || n > 64) {
		why(reason, rlen, "the log's consistency proof is malformed");
		goto done;
	}
	hashes = calloc(n + 1, sizeof(*hashes));
	if (hashes == NULL) {
		why(reason, rlen, "out of memory");
		goto done;
	}
	json_array_foreach(a, i, h) {
		if (!json_is_string(h) || core_hex_decode(json_string_value(h),
		    hashes[i], 32) != 32) {
			why(reason, rlen, "the log's consistency proof is "
			    "malformed");
			goto done;
		}
	}
	/* the roots are the signed checkpoints', never the answer's */
	if (core_merkle_verify_consistency(old->size, cp->size, old->root,
	    cp->root, (const unsigned char (*)[32])hashes, n) != 0) {
		snprintf(reason, rlen, "the log's tree of size %llu is not a "
		    "prefix of its tree of size %llu: its history forked",
		    (unsigned long long)old->size, (unsigned long long)cp->size);
		goto done;
	}
	rc = 0;
done:
	free(hashes);
	json_decref(o);
	return rc;
}

/* Payload.<field> of a bundle, as a string; NULL when absent. */
static char *
bundle_field(const char *bundle, const char *field)
{
	json_t		*o;
	const char	*s;
	char		*out = NULL;

	if (bundle == NULL || strlen(bundle) > CORE_BUNDLE_MAX)
		return NULL;
	o = core_json_parse(bundle, strlen(bundle), &core_json_bundle);
	s = json_string_value(json_object_get(json_object_get(o, "Payload"),
	    field));
	if (s != NULL)
		out = strdup(s);
	json_decref(o);
	return out;
}

int
core_rekor_bundle_uuid(const char *bundle, char uuid[65])
{
	char		*b64body = bundle_field(bundle, "body");
	unsigned char	*body, leaf[32];
	size_t		 blen;
	int		 i;

	body = b64body != NULL ? core_b64_decode(b64body, &blen) : NULL;
	free(b64body);
	if (body == NULL)
		return -1;
	core_merkle_leaf(body, blen, leaf);
	free(body);
	for (i = 0; i < 32; i++)
		snprintf(uuid + 2 * i, 3, "%02x", leaf[i]);
	return 0;
}

int
core_rekor_bundle_logid(const char *bundle, char logid[65])
{
	char	*s = bundle_field(bundle, "logID");

	if (s == NULL || strlen(s) != 64) {
		free(s);
		return -1;
	}
	memcpy(logid, s, 65);
	free(s);
	return 0;
}
