/*
 * proxy/client/sigdrop.c: take away what was signed for a deleted subject.
 * For each of sha256-<S>.sig, .att and .sbom in a signature repository,
 * the object is read and judged by its content (core/sigobj.c), never by
 * its tag: it must be a signature object, and each layer is looked at for
 * what it names (a payload's digest and reference, a statement's subject).
 * The layers made for S (for one repository, in a shared signature
 * repository) go: the whole object is deleted by digest when nothing else
 * is left, or the list is written back without them (listwrite.c).
 * Anything else is left alone with the reason, and counted.
 *
 * Then cosign v3's signatures: the OCI 1.1 referrers of S, listed by the
 * referrers API, else by the referrers tag schema's index (the tag
 * sha256-<S>).  A listing is a name too: each referrer is read by digest
 * and goes (deleted by digest, whole) only when it is a signature object
 * whose subject is S (and whose layers name the repository, in a shared
 * signature repository).  The index then loses the entries that are gone:
 * it is deleted when it lists nothing left, else written back without them
 * (read again first: a signer may have added one meanwhile).  A registry
 * with the referrers API keeps its list itself.
 *
 * Used by the DELETE cascade (server) and `signet gc`; one request at a
 * time, in the background: at most SD_LAYERS_MAX blob reads per object and
 * SD_REFERRERS_MAX referrers per subject.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <mbedtls/platform_util.h>

#include "client.h"

#define SD_LAYERS_MAX	256	/* layers looked at in one object */
#define SD_DSSE_MAX	(1024 * 1024)	/* an attestation envelope */
#define SD_REFERRERS_MAX 256	/* referrers looked at for one subject */

/* The objects of S in turn: the three tags, then the referrers. */
static const char *const suffixes[] = { "sig", "att", "sbom", "referrers" };
#define NSUFFIX		(sizeof(suffixes) / sizeof(*suffixes))
#define SX_REFERRERS	3

enum sd_state {
	SD_GET,		/* a tag's object, or a referrer by digest */
	SD_BLOB,	/* a layer's blob */
	SD_DELETE,	/* the object by digest */
	SD_REWRITE,	/* a list written back (listwrite.c) */
	SD_REFS,	/* the referrers API */
	SD_REFTAG,	/* the referrers tag schema's index */
	SD_IDXREAD,	/* the index read again, to write it back */
	SD_IDXPUT,	/* and written */
	SD_DONE
};

/* What d_tag and d_digest name now. */
enum sd_kind { SD_K_TAG, SD_K_REFERRER, SD_K_INDEX };

/* A referrer of S and what became of it. */
enum sd_fate { SD_F_REMAINS, SD_F_REMOVED, SD_F_ABSENT };
struct sd_ref {
	char		digest[CORE_DIGEST_MAX + 1];
	enum sd_fate	fate;
};

struct px_sigdrop {
	struct px_upstream		*d_up;
	struct event_base		*d_base;
	const struct conf_endpoint	*d_ep;
	char				 d_sigrepo[CORE_NAME_MAX + 1];
	char				 d_repo[CORE_NAME_MAX + 1];
	int				 d_by_repo;	/* judge d_repo too */
	char				 d_subject[CORE_DIGEST_MAX + 1];
	char				*d_auth, *d_ua;
	int				 d_dry_run;
	int				 d_only;	/* a suffix index, or -1 */
	px_sigdrop_obj_fn		 d_obj_cb;
	px_sigdrop_fn			 d_cb;
	void				*d_arg;

	enum sd_state			 d_state;
	enum sd_kind			 d_kind;
	struct event			*d_ev;		/* the start */
	struct px_fetch			*d_f;
	struct px_listwrite		*d_lw;
	size_t				 d_suffix;	/* current object */
	char				 d_tag[CORE_TAG_MAX + 1];
	char				 d_digest[CORE_DIGEST_MAX + 1];
	struct core_sigman		 d_list;
	size_t				 d_layer;	/* being looked at */
	char				(*d_drop)[CORE_DIGEST_MAX + 1];
	size_t				 d_ndrop;
	size_t				 d_nlayers;
	char				 d_why[300];	/* why a layer stays */
	struct sd_ref			*d_refs;	/* S's referrers */
	size_t				 d_nrefs, d_ref;	/* read, next */
	size_t				 d_nentries;	/* the index lists */
	int				 d_api;		/* the API listed them */
	char				 d_idx[CORE_DIGEST_MAX + 1];
	struct px_sigdrop_result	 d_res;
};

static void	next_object(struct px_sigdrop *);
static void	next_layer(struct px_sigdrop *);
static void	next_referrer(struct px_sigdrop *);
static void	on_answer(struct px_fetch *, void *);
static struct px_listwrite *rewrite(struct px_sigdrop *);

static void
finish(struct px_sigdrop *d)
{
	d->d_state = SD_DONE;
	d->d_cb(d->d_arg, &d->d_res);
}

/* A request with a body (an index written back), or none (body NULL). */
static void
send_body(struct px_sigdrop *d, const char *method, const char *target,
    size_t max_len, const char *body)
{
	char	err[400];

	px_fetch_free(d->d_f);
	d->d_f = px_fetch_send(d->d_up, d->d_ep, &(struct px_request){
	    .method = method, .target = target, .authorization = d->d_auth,
	    .accept = CORE_MT_ACCEPT_ALL, .user_agent = d->d_ua,
	    .content_type = body != NULL ? CORE_MT_OCI_INDEX : NULL,
	    .body = body, .len = body != NULL ? strlen(body) : 0,
	    .max_len = max_len, .follow = d->d_state == SD_BLOB }, on_answer, d,
	    err, sizeof(err));
	if (d->d_f == NULL) {
		d->d_res.errors++;
		snprintf(d->d_res.message, sizeof(d->d_res.message), "%s", err);
		finish(d);
	}
}

static void
send_req(struct px_sigdrop *d, const char *method, const char *target,
    size_t max_len)
{
	send_body(d, method, target, max_len, NULL);
}

/* A GET (or DELETE) of manifest ref in the signature repository. */
static void
send_manifest(struct px_sigdrop *d, const char *method, const char *ref)
{
	char	target[600];

	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", d->d_sigrepo,
	    ref);
	send_req(d, method, target, strcmp(method, "GET") == 0 ?
	    CORE_SIGMAN_MAX : 0);
}

/* The object judged (or found absent): on with the next one. */
static void
advance(struct px_sigdrop *d)
{
	core_sigman_free(&d->d_list);
	d->d_ndrop = 0;
	if (d->d_kind == SD_K_REFERRER) {
		d->d_ref++;
		next_referrer(d);
		return;
	}
	d->d_suffix++;
	next_object(d);
}

/* One object judged: tell the caller, and go on with the next. */
static void
object_done(struct px_sigdrop *d, enum px_sigdrop_action a, const char *why)
{
	switch (a) {
	case PX_SD_DELETED:
		d->d_res.deleted++;
		break;
	case PX_SD_TRIMMED:
		d->d_res.trimmed++;
		break;
	case PX_SD_KEPT:
		d->d_res.kept++;
		break;
	case PX_SD_FAILED:
		d->d_res.errors++;
		snprintf(d->d_res.message, sizeof(d->d_res.message), "%s%s%s: "
		    "%s", d->d_sigrepo, d->d_tag[0] != '\0' ? ":" : "@",
		    d->d_tag[0] != '\0' ? d->d_tag : d->d_digest, why);
		break;
	}
	if (d->d_kind == SD_K_REFERRER)
		d->d_refs[d->d_ref].fate = a == PX_SD_DELETED ? SD_F_REMOVED :
		    SD_F_REMAINS;
	if (d->d_obj_cb != NULL)
		d->d_obj_cb(d->d_arg, d->d_sigrepo, d->d_tag, d->d_digest, a,
		    why);
	advance(d);
}

static void
next_object(struct px_sigdrop *d)
{
	char	target[600];

	while (d->d_suffix < NSUFFIX && d->d_only >= 0 &&
	    d->d_suffix != (size_t)d->d_only)
		d->d_suffix++;
	if (d->d_suffix >= NSUFFIX) {
		finish(d);
		return;
	}
	d->d_kind = SD_K_TAG;
	d->d_digest[0] = '\0';
	if (d->d_suffix == SX_REFERRERS) {
		/* reported under the tag schema's name for S's referrers */
		d->d_kind = SD_K_INDEX;
		snprintf(d->d_tag, sizeof(d->d_tag), "sha256-%.64s",
		    d->d_subject + 7);
		d->d_state = SD_REFS;
		snprintf(target, sizeof(target), "/v2/%s/referrers/%s",
		    d->d_sigrepo, d->d_subject);
		send_req(d, "GET", target, CORE_SIGMAN_MAX);
		return;
	}
	snprintf(d->d_tag, sizeof(d->d_tag), "sha256-%.64s.%s",
	    d->d_subject + 7, suffixes[d->d_suffix]);
	d->d_state = SD_GET;
	send_manifest(d, "GET", d->d_tag);
}

static int
dropped(const struct px_sigdrop *d, const char *digest)
{
	size_t	i;

	for (i = 0; i < d->d_ndrop; i++)
		if (strcmp(d->d_drop[i], digest) == 0)
			return 1;
	return 0;
}

/* Why an object goes whole, by its kind. */
static const char *
gone_why(const struct px_sigdrop *d)
{
	switch (d->d_kind) {
	case SD_K_REFERRER:
		return "a referrer of the subject, every layer made for it";
	case SD_K_INDEX:
		return "every referrer it listed is gone";
	default:
		return "every layer made for the subject";
	}
}

/* The object by digest, or what would be done in a dry run. */
static void
delete_object(struct px_sigdrop *d)
{
	if (d->d_dry_run) {
		object_done(d, PX_SD_DELETED, gone_why(d));
		return;
	}
	d->d_state = SD_DELETE;
	send_manifest(d, "DELETE", d->d_digest);
}

/* All layers looked at: delete, trim, or leave the object. */
static void
decide(struct px_sigdrop *d)
{
	char	why[600];

	if (d->d_ndrop == 0) {
		object_done(d, PX_SD_KEPT, d->d_why);
		return;
	}
	if (d->d_ndrop < d->d_nlayers) {
		snprintf(why, sizeof(why), "%zu of %zu layers made for %s%s%s",
		    d->d_ndrop, d->d_nlayers, d->d_subject,
		    d->d_by_repo ? " in " : "", d->d_by_repo ? d->d_repo : "");
		if (d->d_kind == SD_K_REFERRER) {
			/* by digest: it cannot be written back without them */
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
			    "; a referrer goes whole or not at all");
			object_done(d, PX_SD_KEPT, why);
			return;
		}
		if (d->d_dry_run) {
			object_done(d, PX_SD_TRIMMED, why);
			return;
		}
		d->d_state = SD_REWRITE;
		d->d_lw = rewrite(d);
		if (d->d_lw == NULL)
			object_done(d, PX_SD_FAILED, "cannot start the rewrite");
		return;
	}
	delete_object(d);
}

/*
 * The answer to a read of the object d_tag (or, for a referrer, d_digest)
 * names: its bytes, with d_digest set to their sha256 and *mi filled in.
 * -1 when the object was judged already (unreadable, or not what its
 * digest says: left alone), which moved on to the next one.
 */
static int
read_object(struct px_sigdrop *d, struct px_fetch *f, int st,
    struct core_manifest_info *mi, const char **body, size_t *len)
{
	const char	*errstr, *hdr;
	char		 hex[65], why[300];

	if (st != 200) {
		snprintf(why, sizeof(why), "reading it: %s", st == 0 ?
		    px_fetch_error(f) : "HTTP error");
		if (st != 0)
			snprintf(why, sizeof(why), "reading it: HTTP %d", st);
		object_done(d, PX_SD_FAILED, why);
		return -1;
	}
	*body = px_fetch_body(f, len);
	core_sha256_hex(*body, *len, hex);
	if (d->d_kind == SD_K_REFERRER && strcmp(d->d_digest + 7, hex) != 0) {
		object_done(d, PX_SD_KEPT, "the registry served other bytes "
		    "for its digest");
		return -1;
	}
	snprintf(d->d_digest, sizeof(d->d_digest), "sha256:%s", hex);
	hdr = px_fetch_digest(f);
	if (*hdr != '\0' && strcmp(hdr, d->d_digest) != 0) {
		object_done(d, PX_SD_KEPT, "its Docker-Content-Digest is not the "
		    "sha256 of its bytes");
		return -1;
	}
	if (core_manifest_inspect(*body, *len, mi, &errstr) == -1) {
		snprintf(why, sizeof(why), "not a manifest signet can read: %s",
		    errstr);
		object_done(d, PX_SD_KEPT, why);
		return -1;
	}
	return 0;
}

/* SD_GET: the object at the tag, or a referrer */
static void
got_object(struct px_sigdrop *d, struct px_fetch *f)
{
	struct core_manifest_info	 mi;
	const char			*body, *errstr;
	char				 why[300];
	size_t				 len;
	int				 st = px_fetch_read_status(f,
					    d->d_ep);

	if (st == 404) {
		if (d->d_kind == SD_K_REFERRER)
			d->d_refs[d->d_ref].fate = SD_F_ABSENT;
		advance(d);
		return;
	}
	if (read_object(d, f, st, &mi, &body, &len) == -1)
		return;
	if (!mi.is_sig_object || mi.is_index) {
		object_done(d, PX_SD_KEPT, "not a signature object (a layer "
		    "that is not of a signature type, or an index)");
		return;
	}
	if (mi.subject[0] != '\0' && strcmp(mi.subject, d->d_subject) != 0) {
		snprintf(why, sizeof(why), "its subject is %s", mi.subject);
		object_done(d, PX_SD_KEPT, why);
		return;
	}
	if (mi.subject[0] == '\0' && d->d_kind == SD_K_REFERRER) {
		/* listed under S proves nothing: its own subject must */
		object_done(d, PX_SD_KEPT, "a referrer that names no subject");
		return;
	}
	if (core_sigman_open(&d->d_list, body, len, 0, &errstr) == -1) {
		snprintf(why, sizeof(why), "unreadable: %s", errstr);
		object_done(d, PX_SD_KEPT, why);
		return;
	}
	d->d_nlayers = core_sigman_count(&d->d_list);
	if (d->d_nlayers > SD_LAYERS_MAX) {
		snprintf(why, sizeof(why), "%zu layers, more than the %d "
		    "signet looks at", d->d_nlayers, SD_LAYERS_MAX);
		object_done(d, PX_SD_KEPT, why);
		return;
	}
	free(d->d_drop);
	d->d_drop = calloc(d->d_nlayers + 1, sizeof(*d->d_drop));
	if (d->d_drop == NULL) {
		object_done(d, PX_SD_FAILED, "out of memory");
		return;
	}
	d->d_ndrop = 0;
	snprintf(d->d_why, sizeof(d->d_why), "no layer names %s",
	    d->d_subject);
	if (d->d_kind == SD_K_REFERRER && d->d_by_repo)
		snprintf(d->d_why, sizeof(d->d_why), "a referrer of the "
		    "subject, but no layer names %.200s (a shared signature "
		    "repository)", d->d_repo);
	if (mi.subject[0] != '\0' && !d->d_by_repo) {
		/* an OCI 1.1 referrer of S: it is S's, whole */
		for (d->d_layer = 0; d->d_layer < d->d_nlayers; d->d_layer++) {
			json_t *l = core_sigman_layer_json(&d->d_list,
			    d->d_layer);

			snprintf(d->d_drop[d->d_ndrop++], CORE_DIGEST_MAX + 1,
			    "%s", json_string_value(json_object_get(l,
			    "digest")));
		}
		decide(d);
		return;
	}
	d->d_layer = 0;
	next_layer(d);
}

/*
 * The referrers of S (an image index, from the API or the tag schema):
 * their digests into d_refs.  -1 when body is no index; -2 when it lists
 * more than signet looks at.
 */
static int
read_entries(struct px_sigdrop *d, const char *body, size_t len)
{
	json_t		*o, *ms, *m;
	const char	*dg;
	size_t		 i;

	o = core_json_parse(body, len, &core_json_manifest);
	ms = json_object_get(o, "manifests");
	if (!json_is_array(ms) || json_array_size(ms) > SD_REFERRERS_MAX) {
		json_decref(o);
		return json_is_array(ms) ? -2 : -1;
	}
	free(d->d_refs);
	d->d_refs = calloc(json_array_size(ms) + 1, sizeof(*d->d_refs));
	if (d->d_refs == NULL) {
		json_decref(o);
		return -1;
	}
	d->d_nrefs = d->d_ref = 0;
	d->d_nentries = json_array_size(ms);
	json_array_foreach(ms, i, m) {
		/* anything else is no referrer signet could judge: it stays */
		dg = json_string_value(json_object_get(m, "digest"));
		if (dg != NULL && strncmp(dg, "sha256:", 7) == 0 &&
		    core_digest_valid(dg, strlen(dg)))
			snprintf(d->d_refs[d->d_nrefs++].digest,
			    CORE_DIGEST_MAX + 1, "%s", dg);
	}
	json_decref(o);
	return 0;
}

/* The entries of the index listed too many referrers, or none at all. */
static int
entries_failed(struct px_sigdrop *d, int rc)
{
	char	why[200];

	if (rc == 0)
		return 0;
	if (rc == -2)
		snprintf(why, sizeof(why), "it lists more than the %d "
		    "referrers signet looks at", SD_REFERRERS_MAX);
	else
		snprintf(why, sizeof(why), "its list of referrers is "
		    "unreadable");
	object_done(d, rc == -2 ? PX_SD_KEPT : PX_SD_FAILED, why);
	return -1;
}

/* SD_REFS: the referrers API's list, or no API: the tag schema */
static void
got_referrers(struct px_sigdrop *d, struct px_fetch *f)
{
	const char	*body;
	char		 why[300];
	size_t		 len;
	int		 st = px_fetch_read_status(f, d->d_ep), rc = -1;

	body = px_fetch_body(f, &len);
	if (st == 200)
		rc = read_entries(d, body, len);
	if (rc != -1) {
		if (entries_failed(d, rc) == -1)
			return;
		d->d_api = 1;
		next_referrer(d);
		return;
	}
	/* 404, and 400 or 406 as go-containerregistry takes them (and a
	 * 200 that is no index): no API, so the tag schema */
	if (st == 200 || st == 404 || st == 400 || st == 406) {
		d->d_state = SD_REFTAG;
		send_manifest(d, "GET", d->d_tag);
		return;
	}
	snprintf(why, sizeof(why), "reading the referrers: %s", st == 0 ?
	    px_fetch_error(f) : "HTTP error");
	if (st != 0)
		snprintf(why, sizeof(why), "reading the referrers: HTTP %d", st);
	object_done(d, PX_SD_FAILED, why);
}

/* SD_REFTAG: the index at sha256-<S>, judged by its content too */
static void
got_index(struct px_sigdrop *d, struct px_fetch *f)
{
	struct core_manifest_info	 mi;
	const char			*body;
	size_t				 len;
	int				 st = px_fetch_read_status(f,
					    d->d_ep);

	if (st == 404) {
		advance(d);	/* no referrers */
		return;
	}
	if (read_object(d, f, st, &mi, &body, &len) == -1)
		return;
	if (!mi.is_index || !mi.is_sig_object) {
		object_done(d, PX_SD_KEPT, "not a referrers index (an index "
		    "of signature, attestation or SBOM artifacts)");
		return;
	}
	if (entries_failed(d, read_entries(d, body, len)) == -1)
		return;
	snprintf(d->d_idx, sizeof(d->d_idx), "%s", d->d_digest);
	d->d_api = 0;
	next_referrer(d);
}

static size_t
count_fate(const struct px_sigdrop *d, enum sd_fate fate)
{
	size_t	i, n = 0;

	for (i = 0; i < d->d_nrefs; i++)
		n += d->d_refs[i].fate == fate;
	return n;
}

/* Every referrer judged: what the index becomes. */
static void
index_decide(struct px_sigdrop *d)
{
	char	why[300];
	size_t	gone = count_fate(d, SD_F_REMOVED) + count_fate(d, SD_F_ABSENT);

	d->d_kind = SD_K_INDEX;
	snprintf(d->d_tag, sizeof(d->d_tag), "sha256-%.64s", d->d_subject + 7);
	snprintf(d->d_digest, sizeof(d->d_digest), "%s", d->d_idx);
	if (d->d_api) {
		advance(d);	/* the registry keeps its list itself */
		return;
	}
	if (gone == 0) {
		snprintf(why, sizeof(why), "none of the %zu referrers it lists "
		    "went", d->d_nentries);
		object_done(d, PX_SD_KEPT, why);
		return;
	}
	if (gone == d->d_nentries) {
		delete_object(d);
		return;
	}
	if (d->d_dry_run) {
		snprintf(why, sizeof(why), "%zu of %zu entries gone", gone,
		    d->d_nentries);
		object_done(d, PX_SD_TRIMMED, why);
		return;
	}
	d->d_state = SD_IDXREAD;
	send_manifest(d, "GET", d->d_tag);
}

/* The next referrer to judge, or the index once all are. */
static void
next_referrer(struct px_sigdrop *d)
{
	if (d->d_ref >= d->d_nrefs) {
		index_decide(d);
		return;
	}
	d->d_kind = SD_K_REFERRER;
	d->d_tag[0] = '\0';
	snprintf(d->d_digest, sizeof(d->d_digest), "%s",
	    d->d_refs[d->d_ref].digest);
	d->d_state = SD_GET;
	send_manifest(d, "GET", d->d_digest);
}

/* 1 when the index entry m is a referrer that went (or was gone). */
static int
entry_gone(const struct px_sigdrop *d, const json_t *m)
{
	const char	*dg = json_string_value(json_object_get(m, "digest"));
	size_t		 i;

	for (i = 0; dg != NULL && i < d->d_nrefs; i++)
		if (strcmp(d->d_refs[i].digest, dg) == 0)
			return d->d_refs[i].fate != SD_F_REMAINS;
	return 0;
}

/*
 * SD_IDXREAD: the index as it is now (a signer may have added an entry
 * since), written back without the entries that went.
 */
static void
got_index_again(struct px_sigdrop *d, struct px_fetch *f)
{
	struct core_manifest_info	 mi;
	const char			*body;
	char				 target[600], *out;
	json_t				*o, *ms, *kept, *m;
	size_t				 len, i;
	int				 st = px_fetch_read_status(f,
					    d->d_ep);

	if (st == 404) {
		object_done(d, PX_SD_KEPT, "gone before it was written back");
		return;
	}
	if (read_object(d, f, st, &mi, &body, &len) == -1)
		return;
	o = mi.is_index && mi.is_sig_object ? core_json_parse(body, len,
	    &core_json_manifest) : NULL;
	ms = json_object_get(o, "manifests");
	kept = json_array();
	if (!json_is_array(ms) || kept == NULL) {
		json_decref(kept);
		json_decref(o);
		object_done(d, PX_SD_KEPT, "no longer a referrers index");
		return;
	}
	json_array_foreach(ms, i, m)
		if (!entry_gone(d, m))
			json_array_append(kept, m);
	d->d_ndrop = json_array_size(ms) - json_array_size(kept);
	d->d_nlayers = json_array_size(ms);
	json_object_set_new(o, "manifests", kept);
	out = d->d_ndrop > 0 ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (out == NULL) {
		object_done(d, d->d_ndrop > 0 ? PX_SD_FAILED : PX_SD_KEPT,
		    d->d_ndrop > 0 ? "out of memory" : "already without them");
		return;
	}
	d->d_state = SD_IDXPUT;
	snprintf(target, sizeof(target), "/v2/%s/manifests/%s", d->d_sigrepo,
	    d->d_tag);
	send_body(d, "PUT", target, 0, out);
	free(out);
}

/* The next layer that names something: read its blob. */
static void
next_layer(struct px_sigdrop *d)
{
	struct core_sig_layer	l;
	char			target[600];

	for (; d->d_layer < d->d_nlayers; d->d_layer++) {
		if (core_sigman_layer(&d->d_list, d->d_layer, &l) == -1 ||
		    !core_layer_has_names(l.media_type) ||
		    !core_digest_valid(l.digest, strlen(l.digest)))
			continue;
		if (dropped(d, l.digest))
			continue;	/* the same blob, judged already */
		d->d_state = SD_BLOB;
		snprintf(target, sizeof(target), "/v2/%s/blobs/%s",
		    d->d_sigrepo, l.digest);
		send_req(d, "GET", target, strcmp(l.media_type, CORE_MT_DSSE)
		    == 0 ? SD_DSSE_MAX : CORE_PAYLOAD_MAX);
		return;
	}
	/* every layer of a dropped blob goes */
	decide(d);
}

/* SD_BLOB: a layer's payload or envelope */
static void
got_blob(struct px_sigdrop *d, struct px_fetch *f)
{
	struct core_sig_layer	 l;
	const char		*body;
	char			 hex[65], why[300];
	size_t			 len;

	if (core_sigman_layer(&d->d_list, d->d_layer, &l) == -1) {
		object_done(d, PX_SD_FAILED, "the list changed");
		return;
	}
	if (px_fetch_status(f) != 200) {
		snprintf(why, sizeof(why), "reading layer blob %s: %s",
		    l.digest, px_fetch_status(f) == 0 ? px_fetch_error(f) :
		    "not there");
		object_done(d, PX_SD_FAILED, why);
		return;
	}
	body = px_fetch_body(f, &len);
	core_sha256_hex(body, len, hex);
	if (strncmp(l.digest, "sha256:", 7) != 0 ||
	    strcmp(l.digest + 7, hex) != 0) {
		snprintf(d->d_why, sizeof(d->d_why), "layer blob %s is not what "
		    "its digest says", l.digest);
	} else if (core_layer_names(l.media_type, body, len, d->d_subject,
	    d->d_by_repo ? d->d_repo : NULL, why, sizeof(why)) == 1) {
		snprintf(d->d_drop[d->d_ndrop++], CORE_DIGEST_MAX + 1, "%s",
		    l.digest);
	} else
		snprintf(d->d_why, sizeof(d->d_why), "kept: %.290s", why);
	d->d_layer++;
	next_layer(d);
}

static void
on_answer(struct px_fetch *f, void *arg)
{
	struct px_sigdrop	*d = arg;
	char			 why[300];
	int			 st = px_fetch_status(f);

	switch (d->d_state) {
	case SD_GET:
		got_object(d, f);
		break;
	case SD_BLOB:
		got_blob(d, f);
		break;
	case SD_DELETE:
		if (st >= 200 && st < 300) {
			object_done(d, PX_SD_DELETED, gone_why(d));
			break;
		}
		snprintf(why, sizeof(why), "deleting it: HTTP %d", st);
		object_done(d, PX_SD_FAILED, why);
		break;
	case SD_REFS:
		got_referrers(d, f);
		break;
	case SD_REFTAG:
		got_index(d, f);
		break;
	case SD_IDXREAD:
		got_index_again(d, f);
		break;
	case SD_IDXPUT:
		if (st >= 200 && st < 300)
			snprintf(why, sizeof(why), "%zu of %zu entries removed",
			    d->d_ndrop, d->d_nlayers);
		else
			snprintf(why, sizeof(why), "writing it back: HTTP %d",
			    st);
		object_done(d, st >= 200 && st < 300 ? PX_SD_TRIMMED :
		    PX_SD_FAILED, why);
		break;
	default:
		break;
	}
}

/* The rewrite: the layers of dropped blobs taken out of the list as it is
 * read again (it may have changed since). */
static int
trim_need(void *arg, struct core_sigman *list, int absent, char *err,
    size_t errlen)
{
	struct px_sigdrop	*d = arg;
	struct core_sig_layer	 l;
	size_t			 i;
	int			 n = 0;

	(void)err;
	(void)errlen;
	if (absent)
		return 0;
	for (i = core_sigman_count(list); i-- > 0;)
		if (core_sigman_layer(list, i, &l) == 0 &&
		    dropped(d, l.digest) && core_sigman_remove(list, i) == 0)
			n++;
	return n > 0;
}

static void
on_trimmed(void *arg, const struct px_lw_result *r)
{
	struct px_sigdrop	*d = arg;
	char			 why[700];
	int			 ok = r->outcome == PX_LW_WRITTEN ||
				    r->outcome == PX_LW_PRESENT ||
				    r->outcome == PX_LW_ABSENT;

	/* r lives as long as the job: read it before freeing that */
	if (ok)
		snprintf(why, sizeof(why), "%zu of %zu layers made for %s%s%s "
		    "removed", d->d_ndrop, d->d_nlayers, d->d_subject,
		    d->d_by_repo ? " in " : "", d->d_by_repo ? d->d_repo : "");
	else
		snprintf(why, sizeof(why), "writing it back: %s", r->message);
	px_listwrite_free(d->d_lw);
	d->d_lw = NULL;
	object_done(d, ok ? PX_SD_TRIMMED : PX_SD_FAILED, why);
}

static struct px_listwrite *
rewrite(struct px_sigdrop *d)
{
	return px_listwrite_start(&(struct px_listwrite_req){
	    .up = d->d_up, .base = d->d_base, .endpoint = d->d_ep,
	    .repo = d->d_sigrepo, .tag = d->d_tag,
	    .authorization = d->d_auth, .user_agent = d->d_ua,
	    .attempts = 5, .create = 0, .need = trim_need }, NULL, on_trimmed,
	    d);
}

static void
on_start(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	next_object(arg);
}

struct px_sigdrop *
px_sigdrop_start(const struct px_sigdrop_req *rq, px_sigdrop_obj_fn obj_cb,
    px_sigdrop_fn cb, void *arg)
{
	struct px_sigdrop	*d;
	size_t			 i;

	if (rq->subject == NULL || strncmp(rq->subject, "sha256:", 7) != 0 ||
	    !core_digest_valid(rq->subject, strlen(rq->subject)))
		return NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	core_sigman_init(&d->d_list);
	d->d_up = rq->up;
	d->d_base = rq->base;
	d->d_ep = rq->endpoint;
	snprintf(d->d_sigrepo, sizeof(d->d_sigrepo), "%s", rq->sigrepo);
	snprintf(d->d_subject, sizeof(d->d_subject), "%s", rq->subject);
	if (rq->repo != NULL) {
		d->d_by_repo = 1;
		snprintf(d->d_repo, sizeof(d->d_repo), "%s", rq->repo);
	}
	d->d_dry_run = rq->dry_run;
	d->d_only = -1;
	for (i = 0; rq->suffix != NULL && i < NSUFFIX; i++)
		if (strcmp(rq->suffix, suffixes[i]) == 0)
			d->d_only = (int)i;
	if (rq->suffix != NULL && d->d_only < 0) {
		px_sigdrop_free(d);
		return NULL;
	}
	d->d_auth = rq->authorization != NULL ? strdup(rq->authorization) :
	    NULL;
	d->d_ua = rq->user_agent != NULL ? strdup(rq->user_agent) : NULL;
	d->d_obj_cb = obj_cb;
	d->d_cb = cb;
	d->d_arg = arg;
	d->d_ev = event_new(rq->base, -1, 0, on_start, d);
	if ((rq->authorization != NULL && d->d_auth == NULL) ||
	    (rq->user_agent != NULL && d->d_ua == NULL) || d->d_ev == NULL) {
		px_sigdrop_free(d);
		return NULL;
	}
	/* from the loop: the callback may free the job */
	event_active(d->d_ev, EV_TIMEOUT, 1);
	return d;
}

void
px_sigdrop_free(struct px_sigdrop *d)
{
	if (d == NULL)
		return;
	if (d->d_ev != NULL)
		event_free(d->d_ev);
	px_fetch_free(d->d_f);
	px_listwrite_free(d->d_lw);
	core_sigman_free(&d->d_list);
	free(d->d_drop);
	free(d->d_refs);
	if (d->d_auth != NULL) {
		mbedtls_platform_zeroize(d->d_auth, strlen(d->d_auth));
		free(d->d_auth);
	}
	free(d->d_ua);
	free(d);
}
