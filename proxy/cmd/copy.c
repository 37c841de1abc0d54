/*
 * proxy/cmd/copy.c: `signet copy SRC DST`: an image (an index with all its
 * children, or one platform) and its signature objects, from one registry
 * to another, digests preserved.
 *
 * Manifests are copied as bytes, never re-serialized.  Blobs stream from
 * registry to registry through a bounded buffer (never to disk), skipped
 * when the target has them, mounted when both sides are one registry.
 * Signature lists merge into one already at the target without losing a
 * layer.  The subject's tag is written last, so the target never shows an
 * image without its signatures.  Every step checks first (HEAD), so a copy
 * that was interrupted is finished by running it again.  With --verify,
 * the image's signatures are checked before anything is written, and only
 * the valid ones are copied: cosign v3's bundles (OCI referrers) too,
 * with the target's referrers index merged by digest.  Without --verify,
 * cosign v3's signatures of the image and its children go with it as
 * their .sig lists do; --all adds every other referrer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/base64.h>

#include "cmd.h"

#define COPY_ITEMS_MAX	4096
#define COPY_LANES	4		/* blobs copied at once */
#define COPY_APPEND_ATTEMPTS 5		/* writes of one signature list */
/* --chunk-size: 0 (one PUT a blob, the default) or PATCHes of this many
 * bytes (ACR refuses a PUT over ~20 MB, GHCR a PATCH over 4 MiB, ECR a
 * PATCH under 5 MiB that is not the last) */
#define COPY_CHUNK_MIN	65536
#define COPY_CHUNK_MAX	(1LL << 30)

struct cp_ref {
	char		 registry[256];
	char		 repo[CORE_NAME_MAX + 1];
	char		 ref[CORE_REF_MAX + 1];	/* tag or digest */
	struct px_session ss;			/* endpoint, credentials, token */
};

struct cp_blob {
	char		 digest[CORE_DIGEST_MAX + 1];
	int64_t		 size;
	int		 sig;		/* goes to the signature repository */
};

struct cp_manifest {
	char		 digest[CORE_DIGEST_MAX + 1];
	char		 ctype[128];
	char		*bytes;
	size_t		 len;
	char		 tag[CORE_TAG_MAX + 1];	/* signature objects */
};

struct copy;

/* One blob in flight: HEAD, POST (mount), then GET piped into PUT. */
struct cp_lane {
	struct copy		*c;
	int			 busy;
	size_t			 bi;		/* its blob */
	struct px_fetch		*f;		/* HEAD, upload session */
	struct px_pipe		*pipe;		/* GET piped into PUT */
	int			 tries;		/* rate-limited, tried again */
};

/*
 * The copy, phase by phase.  Each phase has one function (phases[]) that
 * starts its next request and returns 1 (the answer's callback calls
 * next() again), or moves on with enter() and returns 0.  Sub-steps are
 * counted in c->i, c->j, c->k, reset on entering a phase.
 */
enum cp_phase {
	PH_AUTH,	/* tokens for the source and the target */
	PH_TOP,		/* the manifest named (an index, or one platform's) */
	PH_CHILD,	/* each child of an index */
	PH_SIGS,	/* .sig (and with --all .att, .sbom) of each */
	PH_VERIFY,	/* --verify: the top's signatures, before any write */
	PH_REFERRERS,	/* OCI referrers of each: --all every one; --verify
			 * alone the top's bundles that verified; else
			 * each one's cosign v3 signatures */
	PH_BLOBS,	/* blobs piped, COPY_LANES at a time */
	PH_LISTS,	/* signature objects merged into the target's */
	PH_MANIFESTS,	/* children, then the top, by digest */
	PH_REFINDEX,	/* the referrers tag schema's index at the target */
	PH_TAG,		/* the tag, last */
	PH_DONE
};

static const char *const phase_names[] = {
	[PH_AUTH] = "auth", [PH_TOP] = "top", [PH_CHILD] = "children",
	[PH_SIGS] = "signatures", [PH_REFERRERS] = "referrers",
	[PH_VERIFY] = "verify", [PH_BLOBS] = "blobs", [PH_LISTS] = "lists",
	[PH_MANIFESTS] = "manifests", [PH_REFINDEX] = "referrers-index",
	[PH_TAG] = "tag", [PH_DONE] = "done",
};

struct copy {
	struct event_base	*base;
	struct px_upstream	*up;
	struct cp_ref		 src, dst;
	char			 sigrepo[CORE_NAME_MAX + 1];	/* at dst */
	struct px_cmd_trust	 trust;		/* --verify: keys or --policy */
	struct core_trust	 ct;
	struct core_verifier	*run;		/* PH_VERIFY */
	struct px_sigcheck	*check;
	char			 want_ref[CORE_NAME_MAX + 300];
	int			 all, verify, same_registry;
	int64_t			 chunk;		/* --chunk-size, 0: one PUT */
	char			 refusal[300];	/* of an immutable tag */
	char			 platform[64];

	struct cp_manifest	 man[COPY_ITEMS_MAX];	/* write order */
	size_t			 nman;
	struct cp_manifest	 top;			/* written last */
	json_t			*children;		/* of an index */
	struct cp_manifest	 sig[COPY_ITEMS_MAX];	/* signature objects */
	size_t			 nsig;
	struct cp_blob		 blob[COPY_ITEMS_MAX];
	size_t			 nblob;
	enum cp_phase		 phase;
	size_t			 i, j, k;	/* current item, sub-steps */
	size_t			 nsubj;		/* the top and its children */
	/* OCI referrers: [{"subject": D, "manifests": [{"digest": ...}]}] */
	json_t			*refs;
	int			 nrefs;		/* referrer manifests copied */
	int			 said403;	/* a 403 taken as no referrers */
	struct px_fetch		*f;
	int			 aside;		/* PH_AUTH: 0 source, 1 target */
	enum cp_phase		 resume;	/* the phase after PH_AUTH */
	struct px_listwrite	*lw;		/* PH_LISTS: the list cycle */

	/* PH_BLOBS: the lanes, and the next blob to hand out */
	struct cp_lane		 lane[COPY_LANES];
	size_t			 bnext;

	uint64_t		 bytes;
	int			 copied, skipped, mounted, lists;
	char			 failure[1024];
};

static void	next(struct copy *);
static void	enter(struct copy *, enum cp_phase);
static void	on_refindex_put(struct px_fetch *, void *);

static void
fail(struct copy *c, const char *msg)
{
	snprintf(c->failure, sizeof(c->failure), "%s", msg);
	event_base_loopexit(c->base, NULL);
}

/* A PUT at the target that was not 2xx fails the copy; 1 then. */
static int
write_failed(struct copy *c, struct px_fetch *f, const char *what)
{
	char	msg[600];
	int	st = px_fetch_status(f);

	if (st >= 200 && st <= 299)
		return 0;
	/* the registry's words (Nexus: "Repository does not allow ...") */
	snprintf(msg, sizeof(msg), "writing %s at the target: %s", what,
	    st == 0 ? px_fetch_error(f) : px_fetch_reason(f));
	fail(c, msg);
	return 1;
}

static int
parse_ref(const char *s, struct cp_ref *r, int allow_http, char *err,
    size_t errlen)
{
	struct core_image_ref	ir;
	char			cerr[CONF_ERR_MAX];

	if (core_image_ref_parse(s, 1, &ir) == -1) {
		snprintf(err, errlen, "%s is not REGISTRY/REPO[:TAG|@DIGEST]", s);
		return -1;
	}
	memcpy(r->registry, ir.registry, sizeof(r->registry));
	memcpy(r->repo, ir.repo, sizeof(r->repo));
	memcpy(r->ref, ir.ref, sizeof(r->ref));
	if (px_session_open(&r->ss, r->registry, allow_http, NULL, NULL, cerr,
	    sizeof(cerr)) == -1) {
		snprintf(err, errlen, "%.200s: %.3800s", s, cerr);
		return -1;
	}
	return 0;
}

static int
send_fetch(struct copy *c, struct cp_ref *r, const char *method,
    const char *target, const char *ctype, const void *body, size_t len,
    px_fetch_fn cb)
{
	char	msg[700];

	px_fetch_free(c->f);
	c->f = px_fetch_send(c->up, r->ss.ss_ep, &(struct px_request){
	    .method = method, .target = target, .authorization = r->ss.ss_auth,
	    .content_type = ctype, .accept = CORE_MT_ACCEPT_ALL, .body = body,
	    .len = len }, cb, c, msg, sizeof(msg));
	if (c->f == NULL) {
		fail(c, msg);
		return -1;
	}
	return 0;
}

static void
add_blob(struct copy *c, const char *digest, int64_t size, int sig)
{
	size_t	i;

	if (digest == NULL || !core_digest_valid(digest, strlen(digest)))
		return;
	for (i = 0; i < c->nblob; i++)
		if (strcmp(c->blob[i].digest, digest) == 0 &&
		    c->blob[i].sig == sig)
			return;
	if (c->nblob == COPY_ITEMS_MAX)
		return;
	snprintf(c->blob[c->nblob].digest, sizeof(c->blob[0].digest), "%s",
	    digest);
	c->blob[c->nblob].sig = sig;
	c->blob[c->nblob++].size = size;
}

/* The target repository of blob i. */
static const char *
blob_repo(const struct copy *c, size_t i)
{
	return c->blob[i].sig ? c->sigrepo : c->dst.repo;
}

/* Keep a manifest's bytes, and note the blobs it refers to. */
static int
keep(struct copy *c, struct cp_manifest *m, const char *body, size_t len,
    const char *ct, const char *tag)
{
	const char	*fix;
	json_t		*o, *l;
	char		 hex[65];
	size_t		 i;

	m->bytes = malloc(len + 1);
	if (m->bytes == NULL)
		return -1;
	memcpy(m->bytes, body, len);
	m->len = len;
	snprintf(m->ctype, sizeof(m->ctype), "%s", ct);
	fix = core_manifest_type_fix(body, len, ct);
	if (fix != NULL) {
		/* old Nexus labels OCI as Docker: the target would refuse */
		fprintf(stderr, "signet: copy: the source's Content-Type %.100s "
		    "disagrees with the manifest's mediaType; %s is used\n", ct,
		    fix);
		snprintf(m->ctype, sizeof(m->ctype), "%s", fix);
	}
	snprintf(m->tag, sizeof(m->tag), "%s", tag != NULL ? tag : "");
	core_sha256_hex(body, len, hex);
	snprintf(m->digest, sizeof(m->digest), "sha256:%s", hex);
	o = core_json_parse(body, len, &core_json_manifest);
	l = json_object_get(o, "config");
	add_blob(c, json_string_value(json_object_get(l, "digest")),
	    json_integer_value(json_object_get(l, "size")), tag != NULL);
	json_array_foreach(json_object_get(o, "layers"), i, l) {
		add_blob(c, json_string_value(json_object_get(l, "digest")),
		    json_integer_value(json_object_get(l, "size")),
		    tag != NULL);
	}
	json_decref(o);
	return 0;
}

/* PH_TOP, PH_CHILD: what to copy */

static int
platform_matches(json_t *m, const char *want)
{
	json_t	*p = json_object_get(m, "platform");
	char	 s[128];

	snprintf(s, sizeof(s), "%s/%s",
	    json_string_value(json_object_get(p, "os")) ?
	    json_string_value(json_object_get(p, "os")) : "",
	    json_string_value(json_object_get(p, "architecture")) ?
	    json_string_value(json_object_get(p, "architecture")) : "");
	return strcmp(s, want) == 0;
}

static void
on_manifest(struct px_fetch *f, void *arg)
{
	struct copy	*c = arg;
	struct core_manifest_info mi;
	const char	*body, *errstr, *d;
	json_t		*o, *m;
	char		 hex[65], msg[600];
	size_t		 len, i;

	if (px_fetch_status(f) != 200) {
		snprintf(msg, sizeof(msg), "reading %s/%s manifest: HTTP %d",
		    c->src.registry, c->src.repo, px_fetch_status(f));
		fail(c, msg);
		return;
	}
	body = px_fetch_body(f, &len);
	if (core_manifest_inspect(body, len, &mi, &errstr) == -1) {
		fail(c, "a source manifest is not JSON");
		return;
	}
	if (c->phase == PH_CHILD) {
		if (c->nman == COPY_ITEMS_MAX || keep(c, &c->man[c->nman], body,
		    len, px_fetch_content_type(f), NULL) == -1) {
			fail(c, "too many manifests");
			return;
		}
		c->nman++;
		c->i++;
		next(c);
		return;
	}
	core_sha256_hex(body, len, hex);
	if (core_digest_valid(c->src.ref, strlen(c->src.ref)) &&
	    strcmp(c->src.ref + 7, hex) != 0) {
		fail(c, "the source registry served another digest");
		return;
	}
	if (mi.is_index && c->platform[0] != '\0') {
		/* one platform: its manifest becomes what is copied */
		o = core_json_parse(body, len, &core_json_manifest);
		d = NULL;
		json_array_foreach(json_object_get(o, "manifests"), i, m) {
			if (platform_matches(m, c->platform)) {
				d = json_string_value(json_object_get(m,
				    "digest"));
				break;
			}
		}
		if (d == NULL) {
			json_decref(o);
			snprintf(msg, sizeof(msg), "no platform %s in the index",
			    c->platform);
			fail(c, msg);
			return;
		}
		snprintf(c->src.ref, sizeof(c->src.ref), "%s", d);
		json_decref(o);
		c->platform[0] = '\0';
		next(c);
		return;
	}
	if (keep(c, &c->top, body, len, px_fetch_content_type(f), NULL) == -1) {
		fail(c, "out of memory");
		return;
	}
	if (mi.is_index) {
		c->children = core_json_parse(body, len, &core_json_manifest);
		enter(c, PH_CHILD);
	} else
		enter(c, PH_SIGS);
	next(c);
}

/* PH_SIGS: the signature objects of each manifest */

static void
on_sig(struct px_fetch *f, void *arg)
{
	struct copy	*c = arg;
	const char	*body;
	char		 msg[300];
	size_t		 len;
	int		 st = px_fetch_status(f);

	if (st == 200) {
		char	tag[CORE_TAG_MAX + 1];

		body = px_fetch_body(f, &len);
		if (c->nsig >= COPY_ITEMS_MAX) {
			fail(c, "too many signature objects");
			return;
		}
		snprintf(tag, sizeof(tag), "%s", c->sig[c->nsig].tag);
		if (keep(c, &c->sig[c->nsig], body, len,
		    px_fetch_content_type(f), tag) == -1) {
			fail(c, "too many signature objects");
			return;
		}
		c->nsig++;
	} else if (st != 404) {
		snprintf(msg, sizeof(msg), "reading signature objects: HTTP %d",
		    st);
		fail(c, msg);
		return;
	}
	c->j++;
	next(c);
}

/*
 * PH_REFERRERS: the OCI referrers of the top and each child, from the
 * referrers API, or else the referrers tag schema's sha256-<hex> index;
 * each referrer manifest carried is copied by digest like a child.
 * Sub-steps in c->j: 0 the API, 1 the fallback tag, 2 the manifests
 * (c->k the descriptor).  With --all every referrer is carried.  With
 * --verify alone, on_verdict lists the top's referrers whose bundles
 * verified, and only those are read (from sub-step 2).  Otherwise only
 * cosign v3's signatures are (see carried()): what a subject's list
 * names and is not carried is taken off the list, so PH_REFINDEX never
 * lists it at the target.
 */
/* The manifest with this digest among those copied, or NULL. */
static const struct cp_manifest *
copied_manifest(const struct copy *c, const char *digest)
{
	size_t	i;

	for (i = 0; digest != NULL && i < c->nman; i++)
		if (strcmp(c->man[i].digest, digest) == 0)
			return &c->man[i];
	return NULL;
}

static const char *
subject_digest(struct copy *c, size_t i)
{
	return i == 0 ? c->top.digest : c->man[i - 1].digest;
}

static json_t *
subject_refs(struct copy *c)
{
	return json_object_get(json_array_get(c->refs,
	    json_array_size(c->refs) - 1), "manifests");
}

/*
 * 1 when this referrer of subject goes with the image.  With --all, every
 * one; with --verify alone, those listed are the bundles the verifier
 * accepted for the top.  A plain copy carries what a signature list
 * would be: cosign v3's signatures (content, not the index's descriptor,
 * decides), whose own subject is this image (a referrer listed under
 * another image's index signs nothing here); SBOMs, attestations and
 * other artifacts stay for --all.
 */
static int
carried(const struct copy *c, const char *body, size_t len,
    const char *subject)
{
	struct core_manifest_info mi;
	const char	*errstr;

	if (c->all || c->verify)
		return 1;
	return core_manifest_inspect(body, len, &mi, &errstr) == 0 &&
	    mi.is_bundle_sig && strcmp(mi.subject, subject) == 0;
}

/* Descriptor c->k of the current subject's list is not carried: off the
 * list (the next one takes its place). */
static void
drop_referrer(struct copy *c)
{
	json_array_remove(subject_refs(c), c->k);
}

/*
 * What a plain copy reads of a subject's referrers, as the verifier reads
 * them: the descriptors that may name a cosign v3 signature, at most
 * CORE_REFERRERS_MAX (an index of thousands costs no more requests).  A
 * new array, or NULL when memory is short.
 */
static json_t *
plain_candidates(struct copy *c, json_t *ms)
{
	json_t	*out = json_array(), *d;
	size_t	 i, n = 0;

	json_array_foreach(ms, i, d) {
		if (out == NULL || !core_referrer_desc_bundle(d))
			continue;
		if (++n <= CORE_REFERRERS_MAX &&
		    json_array_append(out, d) == -1) {
			json_decref(out);
			return NULL;
		}
	}
	if (n > CORE_REFERRERS_MAX)
		fprintf(stderr, "signet: copy: %s lists %zu referrers that may "
		    "be signatures; the first %d are read\n",
		    subject_digest(c, c->i), n, CORE_REFERRERS_MAX);
	return out;
}

static void
on_referrers(struct px_fetch *f, void *arg)
{
	struct copy	*c = arg;
	const char	*body;
	char		 msg[300];
	json_t		*o, *ms;
	size_t		 len;
	int		 st = px_fetch_status(f);

	body = px_fetch_body(f, &len);
	o = st == 200 ? core_json_parse(body, len, &core_json_manifest) :
	    NULL;
	ms = json_object_get(o, "manifests");
	if (json_is_array(ms) && !c->all) {	/* a plain copy */
		if (json_object_set_new(o, "manifests", plain_candidates(c,
		    ms)) == -1) {
			json_decref(o);
			fail(c, "out of memory");
			return;
		}
		ms = json_object_get(o, "manifests");
	}
	if (json_is_array(ms) && json_array_size(ms) > 0) {
		if (json_array_append_new(c->refs, json_pack("{s:s, s:O}",
		    "subject", subject_digest(c, c->i), "manifests", ms)) ==
		    -1) {
			json_decref(o);
			fail(c, "out of memory");
			return;
		}
		c->j = 2;
		c->k = 0;
	} else if (st != 0 && st < 500 && c->j == 0) {
		c->j = 1;	/* no API (404) or nothing there: the tag */
	} else if (st == 200 || st == 404 || (st == 403 && c->j == 1)) {
		/* no referrers.  A 403 for the tag: Artifactory's answer for
		 * a tag it does not have; the image was just read from this
		 * repository with these credentials, so no refusal to read.
		 * Said once, since a real refusal would leave the image's
		 * cosign v3 signatures behind. */
		if (st == 403 && !c->said403)
			fprintf(stderr, "signet: copy: the source answers "
			    "HTTP 403 for the referrers tag sha256-%s (as "
			    "Artifactory does for a tag it does not have): "
			    "taken as no referrers\n",
			    subject_digest(c, c->i) + 7);
		c->said403 |= st == 403;
		c->i++;
		c->j = 0;
	} else {
		/* an upstream error is not "no referrers" */
		json_decref(o);
		snprintf(msg, sizeof(msg), "reading the referrers of %s: "
		    "HTTP %d", subject_digest(c, c->i), st);
		fail(c, msg);
		return;
	}
	json_decref(o);
	next(c);
}

static void
on_ref_manifest(struct px_fetch *f, void *arg)
{
	struct copy		*c = arg;
	struct core_manifest_info mi;
	const char		*body, *errstr;
	char			 msg[300];
	size_t			 len;

	body = px_fetch_body(f, &len);
	if (px_fetch_status(f) == 404 && (c->all || !c->verify)) {
		/* the index names it, the registry has it no more (deleted
		 * behind the index's back): nothing to carry */
		fprintf(stderr, "signet: copy: referrer %s of %s is listed but "
		    "missing, not copied\n", json_string_value(json_object_get(
		    json_array_get(subject_refs(c), c->k), "digest")),
		    subject_digest(c, c->i));
		drop_referrer(c);
		next(c);
		return;
	}
	if (px_fetch_status(f) != 200 || core_manifest_inspect(body, len, &mi,
	    &errstr) == -1) {
		snprintf(msg, sizeof(msg), "reading a referrer of %s: HTTP %d",
		    subject_digest(c, c->i), px_fetch_status(f));
		fail(c, msg);
		return;
	}
	if (!carried(c, body, len, subject_digest(c, c->i))) {
		drop_referrer(c);
		next(c);
		return;
	}
	if (mi.is_index)
		fprintf(stderr, "signet: copy: referrer %s is an index, "
		    "not copied\n", json_string_value(json_object_get(
		    json_array_get(subject_refs(c), c->k), "digest")));
	else if (c->nman == COPY_ITEMS_MAX || keep(c, &c->man[c->nman], body,
	    len, px_fetch_content_type(f), NULL) == -1) {
		fail(c, "too many manifests");
		return;
	} else {
		c->nman++;
		c->nrefs++;
	}
	c->k++;
	next(c);
}

/* The next request of PH_REFERRERS; 0 when one was sent, 1 when done. */
static int
next_referrer(struct copy *c)
{
	const struct cp_manifest *m;
	char		 target[800];
	const char	*d;
	json_t		*ms;

	if (c->refs == NULL)
		c->refs = json_array();
	if (c->refs == NULL) {
		fail(c, "out of memory");
		return 0;
	}
	while (c->i < c->nsubj) {
		d = subject_digest(c, c->i);
		if (c->j == 0 || c->j == 1) {
			if (c->j == 0)
				snprintf(target, sizeof(target), "/v2/%s/"
				    "referrers/%s", c->src.repo, d);
			else
				snprintf(target, sizeof(target), "/v2/%s/"
				    "manifests/sha256-%s", c->src.repo, d + 7);
			send_fetch(c, &c->src, "GET", target, NULL, NULL, 0,
			    on_referrers);
			return 0;
		}
		ms = subject_refs(c);
		if (c->k < json_array_size(ms)) {
			d = json_string_value(json_object_get(json_array_get(
			    ms, c->k), "digest"));
			if (d == NULL || !core_digest_valid(d, strlen(d))) {
				fail(c, "a referrer has no valid digest");
				return 0;
			}
			m = copied_manifest(c, d);
			if (m != NULL) {	/* already kept */
				if (carried(c, m->bytes, m->len,
				    subject_digest(c, c->i)))
					c->k++;
				else
					drop_referrer(c);
				continue;
			}
			snprintf(target, sizeof(target), "/v2/%s/manifests/%s",
			    c->src.repo, d);
			send_fetch(c, &c->src, "GET", target, NULL, NULL, 0,
			    on_ref_manifest);
			return 0;
		}
		if (json_array_size(ms) == 0)	/* nothing carried: no
						 * index to merge */
			json_array_remove(c->refs, json_array_size(c->refs) -
			    1);
		c->i++;
		c->j = c->k = 0;
		if (c->verify && !c->all)
			return 1;	/* --verify alone: the top's, listed */
	}
	return 1;
}

/*
 * PH_REFINDEX: after the referrer manifests are written, a target without
 * the referrers API gets the sha256-<hex> index, merged with what it has
 * as go-containerregistry merges it for cosign: an entry whose digest is
 * there already is not added again, none is dropped, and the entries are
 * sorted by digest.  Sub-steps in c->j: 0 the target's API, 1 its tag, 2
 * the PUT.
 */

/* The descriptor an index lists for a referrer: its type, digest and
 * size, its artifactType (else its config's media type) and its
 * annotations, as the distribution spec asks; from its bytes. */
static json_t *
referrer_desc(const struct cp_manifest *m)
{
	json_t		*o, *d, *at, *ann;

	o = core_json_parse(m->bytes, m->len, &core_json_manifest);
	at = json_object_get(o, "artifactType");
	if (!json_is_string(at))
		at = json_object_get(json_object_get(o, "config"),
		    "mediaType");
	d = json_pack("{s:s, s:s, s:I}", "mediaType", CORE_MT_OCI_MANIFEST,
	    "digest", m->digest, "size", (json_int_t)m->len);
	if (d != NULL && json_is_string(at))
		json_object_set(d, "artifactType", at);
	ann = json_object_get(o, "annotations");
	if (d != NULL && json_is_object(ann) && json_object_size(ann) > 0)
		json_object_set(d, "annotations", ann);
	json_decref(o);
	return d;
}

static int
by_digest(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a,
	    "digest")), json_string_value(json_object_get(*(json_t *const *)b,
	    "digest")));
}

/* Sort the entries of an index by digest; -1 when one has none. */
static int
sort_entries(json_t *ms)
{
	json_t	**v;
	size_t	  i, n = json_array_size(ms);

	for (i = 0; i < n; i++)
		if (!json_is_string(json_object_get(json_array_get(ms, i),
		    "digest")))
			return -1;
	v = calloc(n + 1, sizeof(*v));
	if (v == NULL)
		return -1;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(ms, i));
	qsort(v, n, sizeof(*v), by_digest);
	json_array_clear(ms);
	for (i = 0; i < n; i++)
		json_array_append_new(ms, v[i]);
	free(v);
	return 0;
}

static void
on_target_refs(struct px_fetch *f, void *arg)
{
	struct copy	*c = arg;
	json_t		*e = json_array_get(c->refs, c->i), *have, *o, *d, *nd;
	const struct cp_manifest *m;
	const char	*body;
	char		 target[800], *out;
	size_t		 len, i, k;
	int		 st = px_fetch_status(f), added = 0;

	body = px_fetch_body(f, &len);
	if (c->j == 0) {
		o = st == 200 ? core_json_parse(body, len, &core_json_manifest) :
	    NULL;
		c->j = json_is_array(json_object_get(o, "manifests")) ? 3 : 1;
		json_decref(o);	/* 3: the registry keeps it itself */
		next(c);
		return;
	}
	if (st != 200 && st != 404) {
		snprintf(target, sizeof(target), "reading the target's "
		    "referrers index: HTTP %d", st);
		fail(c, target);
		return;
	}
	o = st == 200 ? core_json_parse(body, len, &core_json_manifest) :
	    json_pack("{s:i, "
	    "s:s, s:[]}", "schemaVersion", 2, "mediaType", CORE_MT_OCI_INDEX,
	    "manifests");
	have = json_object_get(o, "manifests");
	if (!json_is_array(have)) {
		json_decref(o);
		fail(c, "the target's referrers index is unusable");
		return;
	}
	json_array_foreach(json_object_get(e, "manifests"), i, d) {
		m = copied_manifest(c, json_string_value(json_object_get(d,
		    "digest")));
		if (m == NULL)
			continue;	/* not copied (an index): not listed */
		for (k = 0; k < json_array_size(have); k++)
			if (json_equal(json_object_get(json_array_get(have, k),
			    "digest"), json_object_get(d, "digest")))
				break;
		if (k == json_array_size(have)) {
			nd = referrer_desc(m);
			if (json_array_append_new(have, nd) == -1)
				break;
			added++;
		}
	}
	if (i < json_array_size(json_object_get(e, "manifests")) ||
	    (added > 0 && sort_entries(have) == -1)) {
		json_decref(o);
		fail(c, "the target's referrers index cannot be merged (an "
		    "entry without a digest, or out of memory)");
		return;
	}
	if (added == 0) {
		json_decref(o);
		c->j = 3;
		next(c);
		return;
	}
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (out == NULL) {
		fail(c, "out of memory");
		return;
	}
	snprintf(target, sizeof(target), "/v2/%s/manifests/sha256-%s",
	    c->dst.repo, json_string_value(json_object_get(e, "subject")) + 7);
	c->j = 2;
	send_fetch(c, &c->dst, "PUT", target, CORE_MT_OCI_INDEX, out,
	    strlen(out), on_refindex_put);
	free(out);
}

static void
on_refindex_put(struct px_fetch *f, void *arg)
{
	struct copy	*c = arg;

	if (write_failed(c, f, "the referrers index"))
		return;
	c->lists++;
	c->j = 3;
	next(c);
}

static int
next_refindex(struct copy *c)
{
	char		 target[800];
	const char	*d;

	while (c->i < json_array_size(c->refs)) {
		d = json_string_value(json_object_get(json_array_get(c->refs,
		    c->i), "subject"));
		if (c->j == 3) {
			c->i++;
			c->j = 0;
			continue;
		}
		if (c->j == 0)
			snprintf(target, sizeof(target), "/v2/%s/referrers/%s",
			    c->dst.repo, d);
		else
			snprintf(target, sizeof(target), "/v2/%s/manifests/"
			    "sha256-%s", c->dst.repo, d + 7);
		send_fetch(c, &c->dst, "GET", target, NULL, NULL, 0,
		    on_target_refs);
		return 0;
	}
	return 1;
}

/* PH_VERIFY: the image's signatures, before anything is written */

/* 1 when layer k of the list verified. */
static int
layer_valid(const struct core_verifier *run, size_t k)
{
	size_t	i;

	for (i = 0; i < core_verifier_nvalid(run); i++)
		if (core_verifier_valid(run, i)->layer == k)
			return 1;
	return 0;
}

/* How many layers of the .sig list verified (the rest: bundles). */
static size_t
layers_valid(const struct core_verifier *run)
{
	size_t	i, n = 0;

	for (i = 0; i < core_verifier_nvalid(run); i++)
		n += core_verifier_valid(run, i)->layer != CORE_VVALID_REFERRER;
	return n;
}

/*
 * --verify alone: the top's referrers whose bundles verified, listed for
 * PH_REFERRERS to read (the verifier read them by digest, and checked
 * that their subject is the top).  0, or -1 when memory is short.
 */
static int
verified_referrers(struct copy *c, const struct core_verifier *run)
{
	const struct core_vvalid *v;
	json_t			*ms, *e;
	size_t			 i, k;

	ms = json_array();
	c->refs = json_array();
	e = json_pack("{s:s, s:o}", "subject", c->top.digest, "manifests", ms);
	if (ms == NULL || c->refs == NULL || e == NULL ||
	    json_array_append_new(c->refs, e) == -1)
		return -1;
	for (i = 0; i < core_verifier_nvalid(run); i++) {
		v = core_verifier_valid(run, i);
		if (v->layer != CORE_VVALID_REFERRER)
			continue;
		for (k = 0; k < json_array_size(ms); k++)
			if (strcmp(json_string_value(json_object_get(
			    json_array_get(ms, k), "digest")), v->ref) == 0)
				break;
		if (k == json_array_size(ms) && json_array_append_new(ms,
		    json_pack("{s:s}", "digest", v->ref)) == -1)
			return -1;
	}
	return 0;
}

/*
 * PH_VERIFY: the driver's verdict on the top's signatures, under the
 * trust given (the pull path's meaning); only the layers that verified are
 * copied.
 */
static void
on_verdict(void *arg, struct core_verifier *run)
{
	struct copy		*c = arg;
	const struct core_sigman *list = core_verifier_list(run);
	struct core_sigman	 kept;
	const char		*reason, *errstr;
	char			 msg[600], *cfg, *lst;
	size_t			 i, k, cl, ll;

	px_sigcheck_free(c->check);
	c->check = NULL;
	if (core_verifier_verdict(run, &reason) != CORE_VERDICT_ALLOW) {
		snprintf(msg, sizeof(msg), "--verify: %s is not verified: %s; "
		    "nothing was written", c->top.digest, reason);
		fail(c, msg);
		return;
	}
	/* the top's list, as copied: keep only the layers that verified */
	for (i = 0; i < c->nsig; i++)
		if (strstr(c->sig[i].tag, c->top.digest + 7) &&
		    strstr(c->sig[i].tag, ".sig"))
			break;
	if (i < c->nsig && layers_valid(run) < core_sigman_count(list)) {
		core_sigman_init(&kept);
		if (core_sigman_open(&kept, NULL, 0, strcmp(
		    core_sigman_media_type(list), CORE_MT_DOCKER_MANIFEST) == 0,
		    &errstr) == -1) {
			fail(c, "out of memory");
			return;
		}
		for (k = 0; k < core_sigman_count(list); k++)
			if (layer_valid(run, k))
				core_sigman_append_raw(&kept,
				    core_sigman_layer_json(list, k));
		for (k = 0; k < core_sigman_count(list); k++)
			if (!layer_valid(run, k))
				fprintf(stderr, "signet: copy: a signature does "
				    "not verify, not copied (layer %zu)\n", k);
		if (core_sigman_serialize(&kept, &cfg, &cl, &lst, &ll) == -1) {
			core_sigman_free(&kept);
			fail(c, "cannot rebuild the list");
			return;
		}
		core_sigman_free(&kept);
		free(cfg);	/* uploaded with the merge path */
		free(c->sig[i].bytes);
		c->sig[i].bytes = lst;
		c->sig[i].len = ll;
		c->sig[i].ctype[0] = '\0';
	}
	fprintf(stderr, "verified %zu signature(s) of %s (%s)\n",
	    core_verifier_nvalid(run), c->top.digest, reason);
	if (c->all) {
		enter(c, PH_REFERRERS);
	} else if (core_verifier_nvalid(run) > layers_valid(run)) {
		/* cosign v3's signatures go with the image, as .sig does */
		if (verified_referrers(c, run) == -1) {
			fail(c, "out of memory");
			return;
		}
		enter(c, PH_REFERRERS);
		c->j = 2;
	} else
		enter(c, PH_BLOBS);
	next(c);
}

/*
 * PH_BLOBS: up to COPY_LANES blobs at a time (skopeo copies layers in
 * parallel too).  Each lane checks the target (HEAD), mounts or starts an
 * upload, then pipes the GET from the source into the PUT at the target
 * through a bounded buffer: a full buffer pauses the GET, an empty one the
 * PUT.
 */

static void
lane_finished(struct cp_lane *ln)
{
	struct copy	*c = ln->c;

	ln->busy = 0;
	ln->tries = 0;		/* a rate limit counts per blob */
	if (c->phase == PH_BLOBS)	/* else a token renewal resumes it */
		next(c);
}

static int
lane_fetch(struct cp_lane *ln, const char *method, const char *target,
    px_fetch_fn cb)
{
	struct copy	*c = ln->c;
	char		 msg[700];

	px_fetch_free(ln->f);
	ln->f = px_fetch_send(c->up, c->dst.ss.ss_ep, &(struct px_request){
	    .method = method, .target = target, .authorization = c->dst.ss.ss_auth },
	    cb, ln, msg, sizeof(msg));
	if (ln->f == NULL) {
		fail(c, msg);
		return -1;
	}
	return 0;
}

static void	on_blob_head(struct px_fetch *, void *);

/* A rate-limited blob, from the start: is it there, a session, the pipe. */
static void
lane_again(evutil_socket_t fd, short what, void *arg)
{
	struct cp_lane	*ln = arg;
	char		 target[800];

	(void)fd;
	(void)what;
	snprintf(target, sizeof(target), "/v2/%s/blobs/%s",
	    blob_repo(ln->c, ln->bi), ln->c->blob[ln->bi].digest);
	(void)lane_fetch(ln, "HEAD", target, on_blob_head);	/* fails the
								 * copy itself */
}

static void
on_piped(void *arg, int ok, uint64_t bytes, const char *err)
{
	struct cp_lane	*ln = arg;
	struct copy	*c = ln->c;
	struct cp_blob	*b = &c->blob[ln->bi];
	char		 msg[600];

	c->bytes += bytes;
	if (!ok && strstr(err, "HTTP 429") != NULL && ln->tries < 3) {
		/* rate limited: the lane starts over after a pause (1, 2,
		 * 4 s), with a new upload session */
		struct timeval	tv = { 1L << ln->tries, 0 };

		ln->tries++;
		fprintf(stderr, "signet: copy: blob %s: %s; trying again in "
		    "%ld s\n", b->digest, err, (long)tv.tv_sec);
		if (event_base_once(c->base, -1, EV_TIMEOUT, lane_again, ln,
		    &tv) == 0)
			return;
	}
	if (!ok) {
		snprintf(msg, sizeof(msg), "blob %s: %s", b->digest, err);
		fail(c, msg);
		return;
	}
	c->copied++;
	fprintf(stderr, "copied blob %s (%lld bytes); %d of %zu blobs done\n",
	    b->digest, (long long)b->size, c->copied + c->skipped + c->mounted,
	    c->nblob);
	lane_finished(ln);
}

/* The upload session is open at location: pipe the source's blob in. */
static int
pipe_start(struct cp_lane *ln, const char *location)
{
	struct copy		*c = ln->c;
	struct cp_blob		*b = &c->blob[ln->bi];
	struct px_pipe_req	 rq;
	char			 src[2048], dst[2048];

	snprintf(src, sizeof(src), "%s/v2/%s/blobs/%s", c->src.ss.ss_ep->url,
	    c->src.repo, b->digest);
	snprintf(dst, sizeof(dst), "%s%s",
	    strncmp(location, "http", 4) == 0 ? "" : c->dst.ss.ss_ep->url,
	    location);
	memset(&rq, 0, sizeof(rq));
	rq.src = c->src.ss.ss_ep;
	rq.src_url = src;
	rq.src_auth = c->src.ss.ss_auth;
	rq.dst = c->dst.ss.ss_ep;
	rq.dst_url = dst;
	rq.digest = b->digest;
	rq.dst_auth = c->dst.ss.ss_auth;
	rq.size = b->size;
	rq.chunk = c->chunk;
	px_pipe_free(ln->pipe);
	ln->pipe = px_pipe_start(c->up, &rq, on_piped, ln);
	return ln->pipe != NULL ? 0 : -1;
}

static void
on_upload_start(struct px_fetch *f, void *arg)
{
	struct cp_lane	*ln = arg;
	int		 st = px_fetch_status(f);
	char		 msg[300];

	if (st == 201) {		/* mounted */
		ln->c->mounted++;
		lane_finished(ln);
		return;
	}
	if (st != 202 || px_fetch_location(f) == NULL) {
		snprintf(msg, sizeof(msg), "starting a blob upload at the "
		    "target: HTTP %d", st);
		fail(ln->c, msg);
		return;
	}
	if (pipe_start(ln, px_fetch_location(f)) == -1)
		fail(ln->c, "cannot start the blob transfer");
}

static void
on_blob_head(struct px_fetch *f, void *arg)
{
	struct cp_lane	*ln = arg;
	struct copy	*c = ln->c;
	char		 target[800];

	if (px_fetch_status(f) == 200) {	/* already there */
		c->skipped++;
		lane_finished(ln);
		return;
	}
	if (c->same_registry)
		snprintf(target, sizeof(target), "/v2/%s/blobs/uploads/?mount=%s"
		    "&from=%s", blob_repo(c, ln->bi), c->blob[ln->bi].digest,
		    c->src.repo);
	else
		snprintf(target, sizeof(target), "/v2/%s/blobs/uploads/",
		    blob_repo(c, ln->bi));
	lane_fetch(ln, "POST", target, on_upload_start);
}

/* Give each idle lane the next blob; 1 when every blob is done. */
static int
blobs_pump(struct copy *c)
{
	struct cp_lane	*ln;
	char		 target[800];
	int		 i, busy = 0;

	for (i = 0; i < COPY_LANES; i++) {
		ln = &c->lane[i];
		if (!ln->busy && c->bnext < c->nblob) {
			ln->busy = 1;
			ln->bi = c->bnext++;
			snprintf(target, sizeof(target), "/v2/%s/blobs/%s",
			    blob_repo(c, ln->bi), c->blob[ln->bi].digest);
			if (lane_fetch(ln, "HEAD", target, on_blob_head) == -1)
				return 0;
		}
		busy += ln->busy;
	}
	return busy == 0 && c->bnext >= c->nblob;
}

/*
 * PH_LISTS: each signature list merged into the target's by the list cycle
 * (listwrite.c), as on push: written, read back, merged again when another
 * writer's list lacked layers.  Where the target has none, the source's
 * bytes go as they are, so the list keeps its digest.
 */
static int
copy_need(void *arg, struct core_sigman *list, int absent, char *err,
    size_t errlen)
{
	struct copy		*c = arg;
	struct core_sigman	 src;
	const char		*errstr;
	int			 added;

	(void)absent;
	core_sigman_init(&src);
	if (core_sigman_open(&src, c->sig[c->i].bytes, c->sig[c->i].len, 0,
	    &errstr) == -1) {
		snprintf(err, errlen, "the source's signature list %s is "
		    "unusable: %s", c->sig[c->i].tag, errstr);
		core_sigman_free(&src);
		return -1;
	}
	/* append what the target lacks (same payload and signature) */
	added = core_sigman_merge(list, &src);
	core_sigman_free(&src);
	if (added == -1) {
		snprintf(err, errlen, "the merged signature list would exceed "
		    "%d layers", CORE_SIG_LAYERS_MAX);
		return -1;
	}
	return added > 0;
}

static void
on_list_done(void *arg, const struct px_lw_result *r)
{
	struct copy	*c = arg;
	char		 msg[900];
	int		 ok = r->outcome == PX_LW_PRESENT ||
			    r->outcome == PX_LW_WRITTEN;

	/* r lives as long as the job: read it all before freeing that */
	if (r->repairs > 0)
		fprintf(stderr, "signet: copy: %s changed under the copy; "
		    "merged again (%d time(s))\n", c->sig[c->i].tag,
		    r->repairs);
	snprintf(msg, sizeof(msg), "signature object %s at the target: %s",
	    c->sig[c->i].tag, r->message);
	if (ok && r->writes > 0)
		c->lists++;
	px_listwrite_free(c->lw);
	c->lw = NULL;
	if (!ok) {
		fail(c, msg);
		return;
	}
	c->i++;
	next(c);
}

/* PH_MANIFESTS, PH_TAG */

/* The immutable tag asked about: it names the image already, or the
 * refusal stands. */
static void
on_tag_check(struct px_fetch *f, void *arg)
{
	struct copy	*c = arg;
	char		 msg[700];

	if (px_fetch_status(f) == 200 &&
	    strcmp(px_fetch_digest(f), c->top.digest) == 0) {
		fprintf(stderr, "%s:%s is immutable and names %s already\n",
		    c->dst.repo, c->dst.ref, c->top.digest);
		c->i++;
		next(c);
		return;
	}
	snprintf(msg, sizeof(msg), "writing the tag %s at the target: %s",
	    c->dst.ref, c->refusal);
	fail(c, msg);
}

static void
on_manifest_put(struct px_fetch *f, void *arg)
{
	struct copy	*c = arg;
	char		 target[800];

	if (c->phase == PH_TAG && px_fetch_immutable(f)) {
		/* a copy run again to immutable tags: done if it is ours */
		snprintf(c->refusal, sizeof(c->refusal), "%s",
		    px_fetch_reason(f));
		snprintf(target, sizeof(target), "/v2/%s/manifests/%s",
		    c->dst.repo, c->dst.ref);
		send_fetch(c, &c->dst, "HEAD", target, NULL, NULL, 0,
		    on_tag_check);
		return;
	}
	if (write_failed(c, f, c->phase == PH_TAG ? "the tag" : "a manifest"))
		return;
	c->i++;
	next(c);
}

/*
 * PH_AUTH: the registry token flow for each side, with the config.json
 * credentials (or anonymously): pull on the source; pull and push on the
 * target, and pull on the source repository for mounts within one registry.
 * A registry without auth, or with Basic, keeps the config.json header.
 */
static void
on_login(void *arg, const char *err)
{
	struct copy	*c = arg;
	struct cp_ref	*r = c->aside == 0 ? &c->src : &c->dst;
	char		 msg[600];

	if (err != NULL) {
		snprintf(msg, sizeof(msg), "authenticating to %s: %s",
		    r->registry, err);
		fail(c, msg);
		return;
	}
	c->aside++;
	next(c);
}

/* A token for the source (pull) or the target (push, and pull on the
 * source for mounts and on the signature repository): 1 when the flow
 * runs, 0 when the session is ready, -1 (failed) when it cannot start. */
static int
start_auth(struct copy *c)
{
	struct cp_ref	*r = c->aside == 0 ? &c->src : &c->dst;
	char		 scopes[3 * CORE_NAME_MAX + 96];
	int		 sr = strcmp(c->sigrepo, c->dst.repo) != 0;

	if (c->aside == 0)
		snprintf(scopes, sizeof(scopes), "repository:%s:pull",
		    c->src.repo);
	else
		snprintf(scopes, sizeof(scopes), "repository:%s:pull,push%s%s%s"
		    "%s%s%s", c->dst.repo, c->same_registry ? " repository:" :
		    "", c->same_registry ? c->src.repo : "",
		    c->same_registry ? ":pull" : "", sr ? " repository:" : "",
		    sr ? c->sigrepo : "", sr ? ":pull,push" : "");
	switch (px_session_login(&r->ss, c->up, scopes, on_login, c)) {
	case 1:
		return 1;
	case 0:
		return 0;
	default:
		fail(c, "cannot start authentication");
		return -1;
	}
}

/* Move to phase ph, its sub-steps from the start; logged at debug. */
static void
enter(struct copy *c, enum cp_phase ph)
{
	px_debug("copy: %s -> %s", phase_names[c->phase], phase_names[ph]);
	c->phase = ph;
	c->i = c->j = c->k = 0;
}

static int
ph_auth(struct copy *c)
{
	while (c->aside < 2) {
		switch (start_auth(c)) {
		case 1:
			return 1;	/* on_auth goes on */
		case 0:
			c->aside++;
			continue;
		default:
			return 1;	/* failed */
		}
	}
	/* back where the copy was, its sub-steps as they were */
	px_debug("copy: auth -> %s", phase_names[c->resume]);
	c->phase = c->resume;
	return 0;
}

static int
ph_top(struct copy *c)
{
	char	target[800];

	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", c->src.repo,
	    c->src.ref);
	send_fetch(c, &c->src, "GET", target, NULL, NULL, 0, on_manifest);
	return 1;
}

static int
ph_child(struct copy *c)
{
	json_t		*ms = json_object_get(c->children, "manifests");
	const char	*d;
	char		 target[800];

	if (c->i >= json_array_size(ms)) {
		enter(c, PH_SIGS);
		return 0;
	}
	d = json_string_value(json_object_get(json_array_get(ms, c->i),
	    "digest"));
	if (d == NULL || !core_digest_valid(d, strlen(d))) {
		fail(c, "an index child has no valid digest");
		return 1;
	}
	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", c->src.repo,
	    d);
	send_fetch(c, &c->src, "GET", target, NULL, NULL, 0, on_manifest);
	return 1;
}

/* the top and each child; .sig, and with --all .att, .sbom */
static int
ph_sigs(struct copy *c)
{
	static const char *const kinds[] = { "sig", "att", "sbom" };
	size_t			 nkinds = c->all ? 3 : 1;
	struct cp_manifest	*m;
	char			 target[800];

	while (c->i <= c->nman && c->j >= nkinds) {
		c->i++;
		c->j = 0;
	}
	if (c->i > c->nman) {
		c->nsubj = c->nman + 1;
		enter(c, c->verify ? PH_VERIFY : PH_REFERRERS);
		return 0;
	}
	if (c->nsig >= COPY_ITEMS_MAX) {
		fail(c, "too many signature objects");
		return 1;
	}
	m = c->i == 0 ? &c->top : &c->man[c->i - 1];
	snprintf(target, sizeof(target), "/v2/%s/manifests/sha256-%s.%s",
	    c->src.repo, m->digest + 7, kinds[c->j]);
	snprintf(c->sig[c->nsig].tag, sizeof(c->sig[0].tag), "sha256-%s.%s",
	    m->digest + 7, kinds[c->j]);
	send_fetch(c, &c->src, "GET", target, NULL, NULL, 0, on_sig);
	return 1;
}

static int
ph_referrers(struct copy *c)
{
	if (next_referrer(c) == 0)
		return 1;
	enter(c, PH_BLOBS);
	return 0;
}

static int
ph_verify(struct copy *c)
{
	struct core_vopts	o;
	struct px_sigcheck_req	rq;

	px_cmd_trust_vopts(&c->trust, c->want_ref, &c->ct, &o);
	o.all = 1;	/* every layer: only those that verify go */
	o.bundles = 1;	/* and cosign v3's bundles (OCI referrers) */
	c->run = core_verifier_new(&o, c->top.digest);
	memset(&rq, 0, sizeof(rq));
	rq.endpoint = c->src.ss.ss_ep;
	rq.up = c->up;
	rq.sigrepo = c->src.repo;
	rq.authorization = c->src.ss.ss_auth;
	rq.rekor_url = px_cmd_trust_rekor_url(&c->trust);
	c->check = c->run != NULL ? px_sigcheck_start(&rq, c->run, on_verdict,
	    c) : NULL;
	if (c->check == NULL)
		fail(c, "--verify: cannot start a request");
	return 1;		/* on_verdict goes on */
}

static int
ph_blobs(struct copy *c)
{
	if (!blobs_pump(c))
		return 1;
	enter(c, PH_LISTS);
	return 0;
}

static int
ph_lists(struct copy *c)
{
	struct cp_manifest	*m = &c->sig[c->i];

	if (c->i >= c->nsig) {
		enter(c, PH_MANIFESTS);
		return 0;
	}
	c->lw = px_listwrite_start(&(struct px_listwrite_req){
	    .up = c->up, .base = c->base, .endpoint = c->dst.ss.ss_ep,
	    .repo = c->sigrepo, .tag = m->tag,
	    .authorization = c->dst.ss.ss_auth,
	    .attempts = COPY_APPEND_ATTEMPTS, .create = 1, .set_aside = 1,
	    .verbatim = m->ctype[0] != '\0' ? m->bytes : NULL,
	    .verbatim_len = m->len, .verbatim_type = m->ctype,
	    .need = copy_need }, NULL, on_list_done, c);
	if (c->lw == NULL)
		fail(c, "out of memory");
	return 1;		/* on_list_done, or the loop exits */
}

/* children by digest, then the top by digest */
static int
ph_manifests(struct copy *c)
{
	struct cp_manifest	*m;
	char			 target[800];

	if (c->i > c->nman) {
		enter(c, PH_REFINDEX);
		return 0;
	}
	/*
	 * The image itself goes once, by its tag, in PH_TAG: a registry
	 * that allows one name per manifest (Nexus' "Disable redeploy")
	 * refuses the tag of a manifest it holds by digest.
	 */
	if (c->i == c->nman && !core_digest_valid(c->dst.ref,
	    strlen(c->dst.ref))) {
		c->i++;
		return 0;
	}
	m = c->i < c->nman ? &c->man[c->i] : &c->top;
	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", c->dst.repo,
	    m->digest);
	send_fetch(c, &c->dst, "PUT", target, m->ctype, m->bytes, m->len,
	    on_manifest_put);
	return 1;
}

static int
ph_refindex(struct copy *c)
{
	if (next_refindex(c) == 0)
		return 1;
	enter(c, PH_TAG);
	return 0;
}

/* the subject's tag last: never an image without its signatures */
static int
ph_tag(struct copy *c)
{
	char	target[800];

	if (c->i > 0 || core_digest_valid(c->dst.ref, strlen(c->dst.ref))) {
		enter(c, PH_DONE);
		return 0;
	}
	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", c->dst.repo,
	    c->dst.ref);
	send_fetch(c, &c->dst, "PUT", target, c->top.ctype, c->top.bytes,
	    c->top.len, on_manifest_put);
	return 1;
}

static int
ph_done(struct copy *c)
{
	event_base_loopexit(c->base, NULL);
	return 1;
}

static int (*const phases[])(struct copy *) = {
	[PH_AUTH] = ph_auth, [PH_TOP] = ph_top, [PH_CHILD] = ph_child,
	[PH_SIGS] = ph_sigs, [PH_REFERRERS] = ph_referrers,
	[PH_VERIFY] = ph_verify, [PH_BLOBS] = ph_blobs, [PH_LISTS] = ph_lists,
	[PH_MANIFESTS] = ph_manifests, [PH_REFINDEX] = ph_refindex,
	[PH_TAG] = ph_tag, [PH_DONE] = ph_done,
};

/* The next request of the copy, whatever phase it is in. */
static void
next(struct copy *c)
{
	/* tokens expire (Docker Hub's after 300 s): renew between requests */
	if (c->phase != PH_AUTH && c->phase != PH_DONE &&
	    (px_session_stale(&c->src.ss) || px_session_stale(&c->dst.ss))) {
		px_debug("copy: %s -> auth (a token expired)",
		    phase_names[c->phase]);
		c->resume = c->phase;
		c->phase = PH_AUTH;
		c->aside = 0;
	}
	while (phases[c->phase](c) == 0)
		;
}

int
px_cmd_copy(int argc, char **argv)
{
	struct copy	*c;
	struct px_cmd_trust init = PX_CMD_TRUST_INIT;
	const char	*srcs = NULL, *dsts = NULL;
	const char	*sigrepo = getenv("COSIGN_REPOSITORY");
	char		 err[CONF_ERR_MAX], *end;
	long		 timeout = 0;
	int		 i, allow_http = 0, rc, r;
	size_t		 k;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return 1;
	c->trust = init;
	for (i = 2; i < argc; i++) {
		r = px_cmd_trust_arg(&c->trust, argc, argv, &i, err,
		    sizeof(err));
		if (r == -1) {
			fprintf(stderr, "signet: copy: %s\n", err);
			free(c);
			return 2;
		}
		if (r == 1)
			continue;
		if (strcmp(argv[i], "--all") == 0)
			c->all = 1;
		else if (strcmp(argv[i], "--allow-http") == 0)
			allow_http = 1;
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			timeout = strtol(argv[++i], &end, 10);
			if (*end != '\0' || timeout < 1 || timeout > 86400) {
				fprintf(stderr, "signet: copy: --timeout is 1 "
				    "to 86400 seconds\n");
				free(c);
				return 2;
			}
		}
		else if (strcmp(argv[i], "--chunk-size") == 0 && i + 1 < argc) {
			c->chunk = strtoll(argv[++i], &end, 10);
			if (*end != '\0' || c->chunk < COPY_CHUNK_MIN ||
			    c->chunk > COPY_CHUNK_MAX) {
				fprintf(stderr, "signet: copy: --chunk-size is "
				    "%d to %lld bytes\n", COPY_CHUNK_MIN,
				    (long long)COPY_CHUNK_MAX);
				free(c);
				return 2;
			}
		} else if (strcmp(argv[i], "--verify") == 0)
			c->verify = 1;
		else if (strcmp(argv[i], "--signature-repository") == 0 &&
		    i + 1 < argc)
			sigrepo = argv[++i];
		else if (strcmp(argv[i], "--platform") == 0 && i + 1 < argc)
			snprintf(c->platform, sizeof(c->platform), "%s",
			    argv[++i]);
		else if (argv[i][0] != '-' && srcs == NULL)
			srcs = argv[i];
		else if (argv[i][0] != '-' && dsts == NULL)
			dsts = argv[i];
		else {
			fprintf(stderr, "signet: copy: unexpected argument: "
			    "%s\n", argv[i]);
			free(c);
			return 2;
		}
	}
	if (srcs == NULL || dsts == NULL ||
	    c->verify != px_cmd_trust_given(&c->trust)) {
		fprintf(stderr, "signet: copy [--all] [--platform OS/ARCH] "
		    "[--verify (--key PUB ... | --ca-roots PEM "
		    "--certificate-identity ID --certificate-oidc-issuer ISSUER "
		    "| --policy FILE) [--rekor-key PUB] [--threshold N]] "
		    "[--signature-repository REPO] [--timeout SECONDS] "
		    "[--chunk-size BYTES] [--allow-http] SRC DST\n");
		free(c);
		return 2;
	}
	if (parse_ref(srcs, &c->src, allow_http, err, sizeof(err)) == -1 ||
	    parse_ref(dsts, &c->dst, allow_http, err, sizeof(err)) == -1) {
		fprintf(stderr, "signet: copy: %s\n", err);
		rc = 2;
		goto done;
	}
	if (timeout > 0)
		c->src.ss.ss_ep->response_timeout = c->dst.ss.ss_ep->response_timeout =
		    timeout;
	/* the target's signature repository: the option, COSIGN_REPOSITORY,
	 * or the image's own (a name on the target registry, as in serve) */
	if (sigrepo != NULL && *sigrepo != '\0' &&
	    !core_name_valid(sigrepo, strlen(sigrepo))) {
		fprintf(stderr, "signet: copy: signature repository \"%s\" is "
		    "not a valid repository name\n", sigrepo);
		rc = 2;
		goto done;
	}
	snprintf(c->sigrepo, sizeof(c->sigrepo), "%s", sigrepo != NULL &&
	    *sigrepo != '\0' ? sigrepo : c->dst.repo);
	/* --policy: the rule signet would enforce on pulls of the copy */
	if (c->verify && px_cmd_trust_load(&c->trust, c->dst.repo, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "signet: copy: %s\n", err);
		rc = 1;
		goto done;
	}
	/* the signatures must name the image copied */
	snprintf(c->want_ref, sizeof(c->want_ref), "%s/%s", c->src.registry,
	    c->src.repo);
	c->same_registry = strcmp(c->src.registry, c->dst.registry) == 0;
	px_log_set_level(CONF_LOG_WARN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c->base = event_base_new();
	c->up = c->base != NULL ? px_upstream_new(c->base) : NULL;
	for (k = 0; k < COPY_LANES; k++)
		c->lane[k].c = c;
	if (c->up == NULL) {
		fprintf(stderr, "signet: copy: cannot start\n");
		rc = 1;
		goto done;
	}
	c->phase = PH_AUTH;
	c->resume = PH_TOP;
	px_debug("copy: %s -> %s", srcs, dsts);
	next(c);
	event_base_dispatch(c->base);
	if (c->failure[0] != '\0') {
		fprintf(stderr, "signet: copy: %s\n", c->failure);
		rc = 1;
	} else {
		printf("copied %s to %s (%s): %zu manifest(s), %zu blob(s) "
		    "(%d copied, %d already there, %d mounted, %llu bytes), "
		    "%d signature object(s) written, %d referrer(s)\n", srcs,
		    dsts, c->top.digest, c->nman + 1, c->nblob, c->copied,
		    c->skipped, c->mounted, (unsigned long long)c->bytes,
		    c->lists, c->nrefs);
		rc = 0;
	}
done:
	for (k = 0; k < COPY_LANES; k++) {
		px_pipe_free(c->lane[k].pipe);
		px_fetch_free(c->lane[k].f);
	}
	px_fetch_free(c->f);
	px_sigcheck_free(c->check);
	core_verifier_free(c->run);
	px_upstream_free(c->up);
	if (c->base != NULL)
		event_base_free(c->base);
	for (k = 0; k < c->nman; k++)
		free(c->man[k].bytes);
	for (k = 0; k < c->nsig; k++)
		free(c->sig[k].bytes);
	free(c->top.bytes);
	json_decref(c->children);
	json_decref(c->refs);
	px_listwrite_free(c->lw);
	px_session_clear(&c->src.ss);
	px_session_clear(&c->dst.ss);

	px_cmd_trust_free(&c->trust);
	free(c);
	return rc;
}
