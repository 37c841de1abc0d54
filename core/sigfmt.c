/*
 * core/sigfmt.c: cosign's formats, byte for byte: the simple-signing payload
 * and the signature manifest with its config (see FORMATS.md §2-4 in the
 * shared reference; tests/vectors/worked-example holds a consistent set).
 *
 * JSON is written compact with fields in the order of cosign's Go structs;
 * maps (annotations, "optional") have sorted keys as Go marshals them.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <mbedtls/base64.h>

#include "core.h"

#define DUMP_FLAGS	(JSON_COMPACT | JSON_PRESERVE_ORDER)
#define ZERO_TIME	"0001-01-01T00:00:00Z"

static char *
dump(json_t *o, size_t *len)
{
	char	*s = json_dumps(o, DUMP_FLAGS);

	if (s != NULL && len != NULL)
		*len = strlen(s);
	return s;
}

/* A copy of a flat object with its keys in sorted order. */
static json_t *
sorted_copy(const json_t *obj)
{
	const char	**keys, *k;
	json_t		 *out, *v;
	size_t		  n = 0, i, j;

	out = json_object();
	keys = calloc(json_object_size(obj) + 1, sizeof(*keys));
	if (out == NULL || keys == NULL) {
		free(keys);
		json_decref(out);
		return NULL;
	}
	json_object_foreach((json_t *)obj, k, v)
		keys[n++] = k;
	for (i = 1; i < n; i++)		/* insertion sort: maps are tiny */
		for (j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			k = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = k;
		}
	for (i = 0; i < n; i++)
		json_object_set(out, keys[i],
		    json_object_get(obj, keys[i]));
	free(keys);
	return out;
}

char *
core_sig_payload(const char *docker_ref, const char *digest,
    const json_t *optional, size_t *len)
{
	json_t	*o, *opt;
	char	*s;

	opt = optional != NULL && json_object_size(optional) > 0 ?
	    sorted_copy(optional) : json_null();
	o = json_pack("{s:{s:{s:s}, s:{s:s}, s:s}, s:o}",
	    "critical",
	    "identity", "docker-reference", docker_ref,
	    "image", "docker-manifest-digest", digest,
	    "type", CORE_SIG_TYPE,
	    "optional", opt);
	if (o == NULL)
		return NULL;
	s = dump(o, len);
	json_decref(o);
	return s;
}

int
core_cosign_tag(const char *tag)
{
	size_t	n = strlen(tag), i;

	if (n != 7 + 64 + 4 && n != 7 + 64 + 5)
		return 0;
	if (strncmp(tag, "sha256-", 7) != 0)
		return 0;
	for (i = 7; i < 71; i++)
		if (!((tag[i] >= '0' && tag[i] <= '9') ||
		    (tag[i] >= 'a' && tag[i] <= 'f')))
			return 0;
	return strcmp(tag + 71, ".sig") == 0 || strcmp(tag + 71, ".att") == 0 ||
	    strcmp(tag + 71, ".sbom") == 0;
}

void
core_sig_tag(const char *digest, char out[CORE_TAG_MAX + 1])
{
	/* sha256:<hex> -> sha256-<hex>.sig */
	snprintf(out, CORE_TAG_MAX + 1, "sha256-%s.sig", digest + 7);
}

/*
 * What signature, attestation and SBOM objects carry (cosign's tags, cosign
 * v3's referrers, `cosign attach sbom`): none is a layer type a runtime
 * unpacks.
 */
int
core_sig_layer_type(const char *t)
{
	static const char *const prefix[] = {
		"application/vnd.dev.cosign.",		/* simplesigning, ... */
		"application/vnd.dev.sigstore.bundle.",	/* v0.1 to v0.3 */
	};
	static const char *const exact[] = {
		CORE_MT_DSSE, "application/vnd.in-toto+json",
		"text/spdx", "text/spdx+xml", "text/spdx+json",
		"application/spdx+json", "application/vnd.cyclonedx",
		"application/vnd.cyclonedx+xml", "application/vnd.cyclonedx+json",
		"application/vnd.syft+json",
	};
	size_t	i;

	for (i = 0; i < sizeof(prefix) / sizeof(*prefix); i++)
		if (strncmp(t, prefix[i], strlen(prefix[i])) == 0)
			return 1;
	for (i = 0; i < sizeof(exact) / sizeof(*exact); i++)
		if (strcmp(t, exact[i]) == 0)
			return 1;
	return 0;
}

/*
 * The keys of o are all what a signature object has, byte for byte.  A
 * runtime reads manifests with Go's encoding/json, which takes a key that
 * differs only in case (and folds some non-ASCII letters: U+017F to s,
 * U+212A to k), the last one winning: {"mediaType": cosign's,
 * "MediaType": a layer's} is a signature object to jansson and a runnable
 * image to docker.  So an object is told a signature object only when no
 * key could be read two ways.  NULL (no such member) passes.
 */
static const char *const top_keys[] = { "schemaVersion", "mediaType",
    "artifactType", "config", "layers", "subject", "annotations", NULL };
static const char *const desc_keys[] = { "mediaType", "digest", "size",
    "annotations", "urls", "data", "artifactType", "platform", NULL };

static int
keys_plain(const json_t *o, const char *const *allowed)
{
	const char	*k, *p;
	json_t		*v;
	size_t		 i;
	int		 known;

	if (o == NULL)
		return 1;
	if (!json_is_object(o))
		return 0;
	json_object_foreach((json_t *)o, k, v) {
		for (p = k; *p != '\0'; p++)
			if ((unsigned char)*p >= 0x80)
				return 0;	/* Go folds some of these */
		known = 0;
		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(k, allowed[i]) == 0)
				known = 1;
			else if (strcasecmp(k, allowed[i]) == 0)
				return 0;	/* "MediaType" next to ... */
		}
		if (!known)
			return 0;
	}
	return 1;
}

/*
 * The referrers tag schema's index (sha256-<hex>, which cosign v3 writes
 * where a registry has no referrers API): every entry an OCI manifest of a
 * signature, Sigstore or SBOM artifact type (or the empty config type older
 * cosign wrote), for no platform.  Nothing a runtime would pick; and what
 * it lists is checked on its own when it is pulled: an image among its
 * entries still needs its signature.
 */
static const char *const index_keys[] = { "schemaVersion", "mediaType",
    "artifactType", "manifests", "subject", "annotations", NULL };

static int
referrers_index(const json_t *o)
{
	const char	*mt, *at;
	json_t		*m;
	size_t		 i;

	if (!keys_plain(o, index_keys))
		return 0;
	json_array_foreach(json_object_get(o, "manifests"), i, m) {
		mt = json_string_value(json_object_get(m, "mediaType"));
		at = json_string_value(json_object_get(m, "artifactType"));
		if (!keys_plain(m, desc_keys) ||
		    json_object_get(m, "platform") != NULL || mt == NULL ||
		    strcmp(mt, CORE_MT_OCI_MANIFEST) != 0 || at == NULL ||
		    (!core_sig_layer_type(at) &&
		    strcmp(at, CORE_MT_OCI_EMPTY) != 0))
			return 0;
	}
	return 1;
}

int
core_manifest_inspect(const char *bytes, size_t len,
    struct core_manifest_info *mi, const char **errstr)
{
	json_t		*o, *layers, *l, *mt;
	const char	*t, *pred;
	size_t		 i;

	memset(mi, 0, sizeof(*mi));
	o = core_json_load(bytes, len, &core_json_manifest, mi->err,
	    sizeof(mi->err));
	if (o == NULL || !json_is_object(o)) {
		if (o != NULL)
			snprintf(mi->err, sizeof(mi->err), "manifest is not a "
			    "JSON object");
		json_decref(o);
		*errstr = mi->err;
		return -1;
	}
	mt = json_object_get(o, "mediaType");
	if (json_is_string(mt))
		snprintf(mi->media_type, sizeof(mi->media_type), "%s",
		    json_string_value(mt));
	mi->is_index = json_is_array(json_object_get(o, "manifests"));
	t = json_string_value(json_object_get(json_object_get(o, "subject"),
	    "digest"));
	if (t != NULL && core_digest_valid(t, strlen(t)))
		snprintf(mi->subject, sizeof(mi->subject), "%s", t);
	layers = json_object_get(o, "layers");
	mi->is_sig_object = !mi->is_index && json_array_size(layers) > 0 &&
	    keys_plain(o, top_keys);
	json_array_foreach(layers, i, l) {
		t = json_string_value(json_object_get(l, "mediaType"));
		if (t == NULL || !core_sig_layer_type(t) ||
		    !keys_plain(l, desc_keys))
			mi->is_sig_object = 0;
	}
	if (!keys_plain(json_object_get(o, "config"), desc_keys))
		mi->is_sig_object = 0;
	if (mi->is_index)
		mi->is_sig_object = referrers_index(o);
	t = json_string_value(json_object_get(json_array_get(layers, 0),
	    "mediaType"));
	pred = json_string_value(json_object_get(json_object_get(o,
	    "annotations"), CORE_ANN_PREDICATE));
	mi->is_bundle_sig = mi->is_sig_object && !mi->is_index &&
	    json_array_size(layers) == 1 && t != NULL && strncmp(t,
	    CORE_MT_SGBUNDLE_PREFIX, strlen(CORE_MT_SGBUNDLE_PREFIX)) == 0 &&
	    (pred == NULL || strcmp(pred, CORE_PRED_COSIGN_SIGN) == 0);
	json_decref(o);
	return 0;
}

/* Signature manifests */

void
core_sigman_init(struct core_sigman *sm)
{
	memset(sm, 0, sizeof(*sm));
}

void
core_sigman_free(struct core_sigman *sm)
{
	json_decref(sm->sm_manifest);
	sm->sm_manifest = NULL;
}

int
core_sigman_open(struct core_sigman *sm, const char *bytes, size_t len,
    int docker_types, const char **errstr)
{
	json_t		*o, *layers, *l;
	const char	*mt;
	size_t		 i;

	core_sigman_free(sm);
	if (bytes == NULL) {
		/* a new list, as cosign starts one (empty.Signatures()) */
		o = json_pack("{s:i, s:s, s:{s:s, s:i, s:s}, s:[]}",
		    "schemaVersion", 2,
		    "mediaType", docker_types ? CORE_MT_DOCKER_MANIFEST :
		    CORE_MT_OCI_MANIFEST,
		    "config", "mediaType", docker_types ?
		    CORE_MT_DOCKER_CONFIG : CORE_MT_OCI_CONFIG,
		    "size", 0, "digest", "",
		    "layers");
		if (o == NULL) {
			*errstr = "out of memory";
			return -1;
		}
		sm->sm_manifest = o;
		return 0;
	}
	o = core_json_load(bytes, len, &core_json_siglist, sm->sm_err,
	    sizeof(sm->sm_err));
	if (o == NULL || !json_is_object(o)) {
		if (o != NULL)
			snprintf(sm->sm_err, sizeof(sm->sm_err), "signature "
			    "manifest is not a JSON object");
		json_decref(o);
		*errstr = sm->sm_err;
		return -1;
	}
	mt = json_string_value(json_object_get(o, "mediaType"));
	layers = json_object_get(o, "layers");
	if (mt == NULL || (strcmp(mt, CORE_MT_OCI_MANIFEST) != 0 &&
	    strcmp(mt, CORE_MT_DOCKER_MANIFEST) != 0) ||
	    !json_is_array(layers) ||
	    !json_is_object(json_object_get(o, "config"))) {
		json_decref(o);
		*errstr = "signature manifest is not an image manifest";
		return -1;
	}
	if (json_array_size(layers) >= CORE_SIG_LAYERS_MAX) {
		json_decref(o);
		*errstr = "signature manifest has too many layers";
		return -1;
	}
	json_array_foreach(layers, i, l) {
		if (!json_is_string(json_object_get(l, "digest")) ||
		    !json_is_integer(json_object_get(l, "size"))) {
			json_decref(o);
			*errstr = "signature manifest has a malformed layer";
			return -1;
		}
	}
	sm->sm_manifest = o;
	return 0;
}

size_t
core_sigman_count(const struct core_sigman *sm)
{
	return json_array_size(json_object_get(sm->sm_manifest, "layers"));
}

int
core_sigman_layer(const struct core_sigman *sm, size_t i,
    struct core_sig_layer *out)
{
	json_t	*l, *ann;

	l = json_array_get(json_object_get(sm->sm_manifest, "layers"), i);
	if (l == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	out->media_type = json_string_value(json_object_get(l, "mediaType"));
	out->digest = json_string_value(json_object_get(l, "digest"));
	out->size = json_integer_value(json_object_get(l, "size"));
	ann = json_object_get(l, "annotations");
	out->signature = json_string_value(json_object_get(ann,
	    CORE_ANN_SIGNATURE));
	out->bundle = json_string_value(json_object_get(ann, CORE_ANN_BUNDLE));
	out->certificate = json_string_value(json_object_get(ann,
	    CORE_ANN_CERTIFICATE));
	out->chain = json_string_value(json_object_get(ann, CORE_ANN_CHAIN));
	return 0;
}

int
core_sig_b64_verify(struct core_key *key, const char *payload, size_t plen,
    const char *sig_b64)
{
	unsigned char	sig[1024];
	size_t		slen;

	if (sig_b64 == NULL || mbedtls_base64_decode(sig, sizeof(sig), &slen,
	    (const unsigned char *)sig_b64, strlen(sig_b64)) != 0)
		return -1;
	return core_key_verify(key, payload, plen, sig, slen);
}

int
core_sigman_find(const struct core_sigman *sm, const char *payload_digest,
    const char *payload, size_t plen, struct core_key *key)
{
	struct core_sig_layer	l;
	size_t			i, n = core_sigman_count(sm);

	for (i = 0; i < n; i++) {
		if (core_sigman_layer(sm, i, &l) == -1 || l.digest == NULL)
			continue;
		if (strcmp(l.digest, payload_digest) != 0 ||
		    l.media_type == NULL ||
		    strcmp(l.media_type, CORE_MT_SIMPLESIGNING) != 0)
			continue;
		if (key == NULL || core_sig_b64_verify(key, payload, plen,
		    l.signature) == 0)
			return (int)i;
	}
	return -1;
}

int
core_sigman_append(struct core_sigman *sm, const char *payload_digest,
    size_t payload_size, const json_t *annotations)
{
	json_t	*layer, *ann;

	if (core_sigman_count(sm) >= CORE_SIG_LAYERS_MAX)
		return -1;
	ann = sorted_copy(annotations);
	layer = json_pack("{s:s, s:I, s:s, s:o}",
	    "mediaType", CORE_MT_SIMPLESIGNING,
	    "size", (json_int_t)payload_size,
	    "digest", payload_digest,
	    "annotations", ann);
	if (layer == NULL)
		return -1;
	return json_array_append_new(json_object_get(sm->sm_manifest,
	    "layers"), layer);
}

int
core_sigman_serialize(struct core_sigman *sm, char **config, size_t *clen,
    char **manifest, size_t *mlen)
{
	json_t	*cfg, *hist, *diffs, *layers, *l, *desc;
	char	 hex[65], digest[72];
	size_t	 i;

	*config = *manifest = NULL;
	/*
	 * The config is what cosign's mutate.Append produces: one diff_id
	 * (= the layer digest: payloads are not compressed) and one history
	 * entry per layer.  No verifier reads it.
	 */
	hist = json_array();
	diffs = json_array();
	layers = json_object_get(sm->sm_manifest, "layers");
	json_array_foreach(layers, i, l) {
		json_array_append_new(hist, json_pack("{s:s}", "created",
		    ZERO_TIME));
		json_array_append(diffs, json_object_get(l, "digest"));
	}
	cfg = json_pack("{s:s, s:s, s:o, s:s, s:{s:s, s:o}, s:{}}",
	    "architecture", "", "created", ZERO_TIME, "history", hist,
	    "os", "", "rootfs", "type", "layers", "diff_ids", diffs,
	    "config");
	if (cfg == NULL)
		return -1;
	*config = dump(cfg, clen);
	json_decref(cfg);
	if (*config == NULL)
		return -1;
	core_sha256_hex(*config, *clen, hex);
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	desc = json_object_get(sm->sm_manifest, "config");
	json_object_set_new(desc, "size", json_integer((json_int_t)*clen));
	json_object_set_new(desc, "digest", json_string(digest));
	*manifest = dump(sm->sm_manifest, mlen);
	if (*manifest == NULL) {
		free(*config);
		*config = NULL;
		return -1;
	}
	return 0;
}

const char *
core_sigman_media_type(const struct core_sigman *sm)
{
	return json_string_value(json_object_get(sm->sm_manifest,
	    "mediaType"));
}

int
core_sigman_set_docker(struct core_sigman *sm)
{
	json_t	*cfg = json_object_get(sm->sm_manifest, "config");

	json_object_set_new(sm->sm_manifest, "mediaType",
	    json_string(CORE_MT_DOCKER_MANIFEST));
	return json_object_set_new(cfg, "mediaType",
	    json_string(CORE_MT_DOCKER_CONFIG));
}

int
core_sigman_set_annotation(struct core_sigman *sm, size_t i, const char *key,
    const char *value)
{
	json_t	*l, *ann, *sorted;

	l = json_array_get(json_object_get(sm->sm_manifest, "layers"), i);
	if (l == NULL)
		return -1;
	ann = json_object_get(l, "annotations");
	if (!json_is_object(ann)) {
		ann = json_object();
		json_object_set_new(l, "annotations", ann);
	}
	json_object_set_new(ann, key, json_string(value));
	sorted = sorted_copy(ann);	/* Go marshals maps sorted */
	if (sorted == NULL)
		return -1;
	return json_object_set_new(l, "annotations", sorted);
}

int
core_sigman_remove(struct core_sigman *sm, size_t i)
{
	return json_array_remove(json_object_get(sm->sm_manifest, "layers"), i);
}

json_t *
core_sigman_layer_json(const struct core_sigman *sm, size_t i)
{
	return json_array_get(json_object_get(sm->sm_manifest, "layers"), i);
}

int
core_sigman_append_raw(struct core_sigman *sm, const json_t *layer)
{
	if (core_sigman_count(sm) >= CORE_SIG_LAYERS_MAX)
		return -1;
	return json_array_append_new(json_object_get(sm->sm_manifest,
	    "layers"), json_deep_copy(layer));
}

/* The same layer: one payload, and the same signature (or none in both). */
static int
same_layer(const json_t *a, const json_t *b)
{
	const char	*da, *db, *sa, *sb;

	da = json_string_value(json_object_get(a, "digest"));
	db = json_string_value(json_object_get(b, "digest"));
	sa = json_string_value(json_object_get(json_object_get(a,
	    "annotations"), CORE_ANN_SIGNATURE));
	sb = json_string_value(json_object_get(json_object_get(b,
	    "annotations"), CORE_ANN_SIGNATURE));
	if (da == NULL || db == NULL || strcmp(da, db) != 0)
		return 0;
	if (sa == NULL || sb == NULL)
		return sa == sb;
	return strcmp(sa, sb) == 0;
}

int
core_sigman_merge_layer(struct core_sigman *sm, const json_t *layer)
{
	size_t	i, n = core_sigman_count(sm);

	for (i = 0; i < n; i++)
		if (same_layer(layer, core_sigman_layer_json(sm, i)))
			return 0;
	return core_sigman_append_raw(sm, layer) == 0 ? 1 : -1;
}

int
core_sigman_merge(struct core_sigman *sm, const struct core_sigman *from)
{
	size_t	i, n = core_sigman_count(from);
	int	added = 0, r;

	for (i = 0; i < n; i++) {
		r = core_sigman_merge_layer(sm, core_sigman_layer_json(from, i));
		if (r == -1)
			return -1;
		added += r;
	}
	return added;
}

const char *
core_manifest_type_fix(const char *bytes, size_t len, const char *ct)
{
	static const char *const known[] = { CORE_MT_OCI_MANIFEST,
	    CORE_MT_OCI_INDEX, CORE_MT_DOCKER_MANIFEST, CORE_MT_DOCKER_LIST };
	const char	*mt, *fix = NULL;
	json_t		*o;
	size_t		 i, n;

	o = core_json_parse(bytes, len, &core_json_manifest);
	mt = json_string_value(json_object_get(o, "mediaType"));
	n = ct != NULL ? strcspn(ct, "; ") : 0;
	for (i = 0; mt != NULL && i < sizeof(known) / sizeof(*known); i++)
		if (strcmp(mt, known[i]) == 0 && (ct == NULL ||
		    strlen(known[i]) != n || strncmp(ct, known[i], n) != 0))
			fix = known[i];
	json_decref(o);
	return fix;
}
