/* Unit tests: repository names, tags, digests and /v2/ routes. */
#include "core/core.h"
#include "unit.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
test_names(void)
{
	static const struct { const char *s; int ok; } t[] = {
		{ "a", 1 }, { "library/alpine", 1 }, { "a/b/c/d", 1 },
		{ "foo.bar", 1 }, { "foo_bar", 1 }, { "foo__bar", 1 },
		{ "foo---bar", 1 }, { "x9/y-z.w", 1 },
		{ "", 0 }, { "A", 0 }, { "foo/", 0 }, { "/foo", 0 },
		{ "foo//bar", 0 }, { "foo..bar", 0 }, { "foo___bar", 0 },
		{ "-foo", 0 }, { "foo-", 0 }, { "foo/../bar", 0 },
		{ "foo/./bar", 0 }, { "foo%2fbar", 0 }, { "foo bar", 0 },
		{ "foo._bar", 0 },
	};
	char	long_name[300];
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(*t); i++)
		CHECK(core_name_valid(t[i].s, strlen(t[i].s)) == t[i].ok,
		    "name \"%s\"", t[i].s);
	memset(long_name, 'a', sizeof(long_name));
	CHECK(core_name_valid(long_name, 255) == 1, "255 bytes");
	CHECK(core_name_valid(long_name, 256) == 0, "256 bytes");
}

static void
test_tags_digests(void)
{
	static const struct { const char *s; int ok; } tags[] = {
		{ "latest", 1 }, { "v1.2.3", 1 }, { "_x", 1 }, { "A-b_c.D", 1 },
		{ "sha256-" D64 ".sig", 1 },
		{ "", 0 }, { ".x", 0 }, { "-x", 0 }, { "a/b", 0 }, { "a:b", 0 },
	};
	static const struct { const char *s; int ok; } digests[] = {
		{ "sha256:" D64, 1 }, { "sha512:" D64 D64, 1 },
		{ "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", 1 },
		{ "sha256:" D64 "0", 0 }, { "sha256:ABCDEF" D64, 0 },
		{ "sha256:0123", 0 }, { "sha256:", 0 }, { ":" D64, 0 },
		{ "SHA256:" D64, 0 }, { "sha256" D64, 0 },
		{ "sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", 0 },
	};
	char	tag[200];
	size_t	i;

	for (i = 0; i < sizeof(tags) / sizeof(*tags); i++)
		CHECK(core_tag_valid(tags[i].s, strlen(tags[i].s)) == tags[i].ok,
		    "tag \"%s\"", tags[i].s);
	memset(tag, 'a', sizeof(tag));
	CHECK(core_tag_valid(tag, 128) == 1, "128-byte tag");
	CHECK(core_tag_valid(tag, 129) == 0, "129-byte tag");
	for (i = 0; i < sizeof(digests) / sizeof(*digests); i++)
		CHECK(core_digest_valid(digests[i].s, strlen(digests[i].s)) ==
		    digests[i].ok, "digest \"%s\"", digests[i].s);
}

static void
test_routes(void)
{
	static const struct {
		const char *path;
		enum core_route_kind kind;
		const char *name, *ref, *code;
	} t[] = {
		{ "/v2/", CORE_R_BASE, "", "", NULL },
		{ "/v2", CORE_R_BASE, "", "", NULL },
		{ "/v2/_catalog", CORE_R_CATALOG, "", "", NULL },
		{ "/healthz", CORE_R_HEALTHZ, "", "", NULL },
		{ "/readyz", CORE_R_READYZ, "", "", NULL },
		{ "/v2/foo/tags/list", CORE_R_TAGS, "foo", "", NULL },
		{ "/v2/a/b/c/tags/list", CORE_R_TAGS, "a/b/c", "", NULL },
		{ "/v2/foo/manifests/latest", CORE_R_MANIFEST, "foo", "latest", NULL },
		{ "/v2/foo/bar/manifests/sha256:" D64, CORE_R_MANIFEST,
		    "foo/bar", "sha256:" D64, NULL },
		{ "/v2/x/blobs/sha256:" D64, CORE_R_BLOB, "x", "sha256:" D64, NULL },
		{ "/v2/x/y/blobs/uploads/", CORE_R_UPLOAD_START, "x/y", "", NULL },
		{ "/v2/x/y/blobs/uploads", CORE_R_UPLOAD_START, "x/y", "", NULL },
		{ "/v2/x/blobs/uploads/3f0a-b_c=", CORE_R_UPLOAD, "x", "3f0a-b_c=", NULL },
		{ "/v2/x/referrers/sha256:" D64, CORE_R_REFERRERS, "x", "sha256:" D64, NULL },
		/* names that look like endpoints are still names */
		{ "/v2/manifests/manifests/latest", CORE_R_MANIFEST, "manifests", "latest", NULL },
		{ "/v2/blobs/tags/list", CORE_R_TAGS, "blobs", "", NULL },
		/* errors */
		{ "/", CORE_R_UNKNOWN, "", "", "NOT_FOUND" },
		{ "/v1/foo", CORE_R_UNKNOWN, "", "", "NOT_FOUND" },
		{ "/v2/foo", CORE_R_UNKNOWN, "", "", "NOT_FOUND" },
		{ "/v2/foo/whatever/x", CORE_R_UNKNOWN, "", "", "NOT_FOUND" },
		{ "/v2/Foo/manifests/latest", CORE_R_UNKNOWN, "", "", "NAME_INVALID" },
		{ "/v2/../manifests/latest", CORE_R_UNKNOWN, "", "", "NAME_INVALID" },
		{ "/v2//manifests/latest", CORE_R_UNKNOWN, "", "", "NAME_INVALID" },
		{ "/v2/foo/manifests/", CORE_R_MANIFEST, "", "", "TAG_INVALID" },
		{ "/v2/foo/manifests/sha256:abc", CORE_R_MANIFEST, "", "", "DIGEST_INVALID" },
		{ "/v2/foo/manifests/a/b", CORE_R_UNKNOWN, "", "", "NOT_FOUND" },
		{ "/v2/foo/blobs/latest", CORE_R_BLOB, "", "", "DIGEST_INVALID" },
		{ "/v2/foo/blobs/uploads/a%2f", CORE_R_UPLOAD, "", "", "BLOB_UPLOAD_INVALID" },
	};
	struct core_route	 r;
	const char		*code, *err;
	size_t			 i;
	int			 rc;

	for (i = 0; i < sizeof(t) / sizeof(*t); i++) {
		code = err = NULL;
		rc = core_route_parse(t[i].path, strlen(t[i].path), &r, &code,
		    &err);
		if (t[i].code == NULL) {
			CHECK(rc == 0, "%s: %s", t[i].path, err);
			CHECK(r.kind == t[i].kind, "%s: kind %s", t[i].path,
			    core_route_name(r.kind));
			CHECK(strcmp(r.name, t[i].name) == 0, "%s: name %s",
			    t[i].path, r.name);
			CHECK(strcmp(r.ref, t[i].ref) == 0, "%s: ref %s",
			    t[i].path, r.ref);
		} else {
			CHECK(rc == -1, "%s: accepted", t[i].path);
			CHECK(code != NULL && strcmp(code, t[i].code) == 0,
			    "%s: code %s, want %s", t[i].path,
			    code ? code : "(null)", t[i].code);
		}
	}
}

static void
test_sha256(void)
{
	char	hex[65];

	core_sha256_hex("abc", 3, hex);
	CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad") == 0, "sha256(abc) %s", hex);
	CHECK(core_mediatype_is_manifest(CORE_MT_OCI_INDEX), "oci index");
	CHECK(core_mediatype_is_manifest(
	    "application/vnd.docker.distribution.manifest.v2+json; charset=x"),
	    "with parameter");
	CHECK(!core_mediatype_is_manifest("application/json"), "json");
}

static void
test_image_refs(void)
{
	static const char *d = "sha256:ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad";
	struct core_image_ref	r;
	char			s[300];

	CHECK(core_image_ref_parse("127.0.0.1:5000/a/b:v1", 1, &r) == 0 &&
	    strcmp(r.registry, "127.0.0.1:5000") == 0 &&
	    strcmp(r.repo, "a/b") == 0 && strcmp(r.ref, "v1") == 0, "tag");
	CHECK(core_image_ref_parse("reg:5000/app", 1, &r) == 0 &&
	    strcmp(r.repo, "app") == 0 && strcmp(r.ref, "latest") == 0,
	    "port in registry, default tag");
	snprintf(s, sizeof(s), "reg/app@%s", d);
	CHECK(core_image_ref_parse(s, 1, &r) == 0 && strcmp(r.ref, d) == 0 &&
	    strcmp(r.repo, "app") == 0, "digest");
	CHECK(core_image_ref_parse("reg/app@sha256:abc", 1, &r) == -1,
	    "short digest");
	CHECK(core_image_ref_parse("reg/App:1", 1, &r) == -1, "upper case");
	CHECK(core_image_ref_parse("reg/app:bad tag", 1, &r) == -1, "bad tag");
	CHECK(core_image_ref_parse("app:1", 1, &r) == -1, "no registry");
	CHECK(core_image_ref_parse("/app:1", 1, &r) == -1, "empty registry");
	CHECK(core_image_ref_parse("reg/:1", 1, &r) == -1, "empty repo");
	CHECK(core_image_ref_parse("reg/a/b", 0, &r) == 0 &&
	    strcmp(r.repo, "a/b") == 0 && r.ref[0] == '\0', "repo only");
	CHECK(core_image_ref_parse("reg/a:1", 0, &r) == -1,
	    "repo only refuses a tag");
}

/* Link: rel="next" -> a path and query on the same registry */
static void
test_links(void)
{
	char	out[CORE_LINK_MAX + 1], big[CORE_LINK_MAX + 64];

	CHECK(core_link_next("</v2/a/tags/list?last=x&n=2>; rel=\"next\"",
	    out, sizeof(out)) == 0 && strcmp(out, "/v2/a/tags/list?last=x&n=2")
	    == 0, "relative: %s", out);
	CHECK(core_link_next("<https://reg.example:5000/v2/a/referrers/d?n=1>; "
	    "rel=next", out, sizeof(out)) == 0 &&
	    strcmp(out, "/v2/a/referrers/d?n=1") == 0,
	    "absolute: the host dropped: %s", out);
	CHECK(core_link_next("</v2/a/tags/list?last=a..b>; rel=\"next\"", out,
	    sizeof(out)) == 0, "a tag with .. in the query");
	CHECK(core_link_next("</v2/a/../b/tags/list>; rel=\"next\"", out,
	    sizeof(out)) == -1, ".. in the path");
	CHECK(core_link_next("</v2/a/tags/list>; rel=\"prev\"", out,
	    sizeof(out)) == -1, "not next");
	CHECK(core_link_next("<//evil.example/v2/a>; rel=\"next\"", out,
	    sizeof(out)) == -1, "scheme-relative");
	CHECK(core_link_next("</token?x=1>; rel=\"next\"", out,
	    sizeof(out)) == -1, "not under /v2/");
	CHECK(core_link_next("</v2/a b>; rel=\"next\"", out, sizeof(out)) == -1,
	    "a space");
	CHECK(core_link_next("</v2/a; rel=\"next\"", out, sizeof(out)) == -1,
	    "no closing bracket");
	memset(big, 'a', sizeof(big));
	memcpy(big, "</v2/", 5);
	snprintf(big + sizeof(big) - 16, 16, ">; rel=\"next\"");
	CHECK(core_link_next(big, out, sizeof(out)) == -1, "too long");
}

int
main(void)
{
	test_links();
	test_names();
	test_image_refs();
	test_tags_digests();
	test_routes();
	test_sha256();
	return unit_done();
}
