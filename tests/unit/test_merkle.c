/*
 * Unit tests: RFC 6962 inclusion proofs (the RFC's reference tree, and
 * proofs built by the RFC's recursive PATH definition for trees of 1 to 40
 * leaves) and Rekor checkpoints (the worked example).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>

#include "core/core.h"
#include "unit.h"

#define MAXLEAVES	40

static unsigned char	leaves[MAXLEAVES][32];
static size_t		leaflen[MAXLEAVES];
static unsigned char	leafdata[MAXLEAVES][16];

/* MTH(D[n]) by the RFC's recursive definition, independent of the verifier */
static void
mth(size_t lo, size_t n, unsigned char out[32])
{
	unsigned char	l[32], r[32];
	size_t		k = 1;

	if (n == 1) {
		core_merkle_leaf(leafdata[lo], leaflen[lo], out);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	mth(lo, k, l);
	mth(lo + k, n - k, r);
	core_merkle_node(l, r, out);
}

/* PATH(m, D[n]) by the RFC's recursive definition, leaf to root */
static size_t
path(size_t m, size_t lo, size_t n, unsigned char (*out)[32])
{
	size_t	k = 1, len;

	if (n == 1)
		return 0;
	while (k * 2 < n)
		k *= 2;
	if (m < k) {
		len = path(m, lo, k, out);
		mth(lo + k, n - k, out[len]);
	} else {
		len = path(m - k, lo + k, n - k, out);
		mth(lo, k, out[len]);
	}
	return len + 1;
}

/* SUBPROOF(m, D[lo:lo+n], b) by the RFC 6962 definition (§2.1.2) */
static size_t
subproof(size_t m, size_t lo, size_t n, int b, unsigned char (*out)[32])
{
	size_t	k = 1, len;

	if (m == n) {
		if (b)
			return 0;
		mth(lo, n, out[0]);
		return 1;
	}
	while (k * 2 < n)
		k *= 2;
	if (m <= k) {
		len = subproof(m, lo, k, b, out);
		mth(lo + k, n - k, out[len]);
	} else {
		len = subproof(m - k, lo + k, n - k, 0, out);
		mth(lo, k, out[len]);
	}
	return len + 1;
}

/* Consistency proofs for every pair of sizes, each altered in turn. */
static void
test_consistency(void)
{
	unsigned char	proof[64][32], r1[32], r2[32];
	size_t		m, n, len, i;
	int		ok = 1, rejects = 1;

	for (n = 1; n <= MAXLEAVES; n++) {
		mth(0, n, r2);
		for (m = 1; m <= n; m++) {
			mth(0, m, r1);
			len = subproof(m, 0, n, 1, proof);
			if (core_merkle_verify_consistency(m, n, r1, r2,
			    (const unsigned char (*)[32])proof, len) != 0) {
				ok = 0;
				fprintf(stderr, "consistency %zu->%zu refused\n",
				    m, n);
			}
			if (m == n)
				continue;
			/* a forked history: another old root */
			r1[0] ^= 1;
			if (core_merkle_verify_consistency(m, n, r1, r2,
			    (const unsigned char (*)[32])proof, len) == 0) {
				rejects = 0;
				fprintf(stderr, "old root %zu->%zu\n", m, n);
			}
			r1[0] ^= 1;
			for (i = 0; i < len; i++) {
				proof[i][31] ^= 1;
				if (core_merkle_verify_consistency(m, n, r1, r2,
				    (const unsigned char (*)[32])proof, len) == 0) {
					rejects = 0;
					fprintf(stderr, "hash %zu of %zu->%zu\n",
					    i, m, n);
				}
				proof[i][31] ^= 1;
			}
			if (len > 0 && core_merkle_verify_consistency(m, n, r1,
			    r2, (const unsigned char (*)[32])proof, len - 1) == 0) {
				rejects = 0;
				fprintf(stderr, "short %zu->%zu\n", m, n);
			}
		}
	}
	CHECK(ok, "every consistency proof of sizes 1..%d verifies", MAXLEAVES);
	CHECK(rejects, "every altered consistency proof is refused");
	CHECK(core_merkle_verify_consistency(5, 3, r1, r2, NULL, 0) == -1,
	    "a smaller second tree is refused");
}

static void
hex(const unsigned char *b, char *out)
{
	int	i;

	for (i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void
test_reference_tree(void)
{
	/* the RFC 6962 reference leaves and roots (certificate-transparency) */
	static const char *const roots[] = {
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	};
	static const unsigned char ref[8][16] = {
		{ 0 }, { 0x00 }, { 0x10 }, { 0x20, 0x21 }, { 0x30, 0x31 },
		{ 0x40, 0x41, 0x42, 0x43 },
		{ 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57 },
		{ 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
		    0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f },
	};
	static const size_t reflen[8] = { 0, 1, 1, 2, 2, 4, 8, 16 };
	unsigned char	root[32];
	char		h[65];
	size_t		n, i;

	for (i = 0; i < 8; i++) {
		memcpy(leafdata[i], ref[i], 16);
		leaflen[i] = reflen[i];
	}
	for (i = 8; i < MAXLEAVES; i++) {	/* more leaves, any content */
		leafdata[i][0] = (unsigned char)i;
		leaflen[i] = 1 + i % 16;
	}
	for (i = 0; i < MAXLEAVES; i++)
		core_merkle_leaf(leafdata[i], leaflen[i], leaves[i]);
	for (n = 1; n <= 8; n++) {
		mth(0, n, root);
		hex(root, h);
		CHECK(strcmp(h, roots[n - 1]) == 0, "reference root %zu: %s", n,
		    h);
	}
}

static void
test_proofs(void)
{
	unsigned char	proof[64][32], root[32], bad[32];
	size_t		n, m, len;
	int		ok = 1, rejects = 1;

	for (n = 1; n <= MAXLEAVES; n++) {
		mth(0, n, root);
		for (m = 0; m < n; m++) {
			len = path(m, 0, n, proof);
			if (core_merkle_verify_inclusion(m, n, leaves[m],
			    (const unsigned char (*)[32])proof, len, root) != 0) {
				ok = 0;
				fprintf(stderr, "proof %zu/%zu rejected\n", m, n);
			}
			/* wrong leaf, index, size, one hash, length, root */
			if (core_merkle_verify_inclusion(m, n, leaves[(m + 1) %
			    MAXLEAVES], (const unsigned char (*)[32])proof, len,
			    root) == 0 && n > 1 && memcmp(leaves[m], leaves[(m + 1) %
			    MAXLEAVES], 32) != 0) {
				rejects = 0;
				fprintf(stderr, "wrong leaf %zu/%zu\n", m, n);
			}
			if (n > 1 && core_merkle_verify_inclusion((m + 1) % n, n,
			    leaves[m], (const unsigned char (*)[32])proof, len,
			    root) == 0) {
				rejects = 0;
				fprintf(stderr, "wrong index %zu/%zu\n", m, n);
			}
			/* the size is bound by the signed root: check the
			 * proof against the root of the larger tree */
			if (n < MAXLEAVES) {
				unsigned char big[32];

				mth(0, n + 1, big);
				if (core_merkle_verify_inclusion(m, n + 1,
				    leaves[m], (const unsigned char (*)[32])proof,
				    len, big) == 0) {
					rejects = 0;
					fprintf(stderr, "wrong size %zu/%zu\n", m,
					    n);
				}
			}
			if (core_merkle_verify_inclusion(m, n, leaves[m],
			    (const unsigned char (*)[32])proof, len, root) == 0 &&
			    len > 0) {
				proof[len / 2][7] ^= 1;
				if (core_merkle_verify_inclusion(m, n, leaves[m],
				    (const unsigned char (*)[32])proof, len,
				    root) == 0)
					rejects = 0;
				proof[len / 2][7] ^= 1;
				if (core_merkle_verify_inclusion(m, n, leaves[m],
				    (const unsigned char (*)[32])proof, len - 1,
				    root) == 0)
					rejects = 0;
			}
			memcpy(bad, root, 32);
			bad[0] ^= 0x80;
			if (core_merkle_verify_inclusion(m, n, leaves[m],
			    (const unsigned char (*)[32])proof, len, bad) == 0)
				rejects = 0;
		}
	}
	CHECK(ok, "every RFC 6962 proof for trees of 1 to %d leaves verifies",
	    MAXLEAVES);
	CHECK(rejects, "a wrong leaf, index, size, hash, length or root is "
	    "rejected");
	CHECK(core_merkle_verify_inclusion(0, 0, leaves[0], NULL, 0, root) ==
	    -1, "index >= size rejected");
	core_merkle_leaf("x", 1, bad);
	/*
	 * A leaf index and tree size whose paths differ in bit 63 (a log
	 * answer signet does not control): the proof is refused, and the
	 * shift by 64 the fuzzer found is not taken (UBSan fails this).
	 */
	{
		unsigned char	hs[64][32];

		memset(hs, 0, sizeof(hs));
		CHECK(core_merkle_verify_inclusion(UINT64_C(1) << 63,
		    UINT64_MAX, leaves[0], hs, 64, root) == -1,
		    "a 64-level proof for a 2^64-1 tree is refused");
		CHECK(core_merkle_verify_inclusion(0, UINT64_MAX, leaves[0],
		    hs, 64, root) == -1, "index 0 of a 2^64-1 tree");
	}
	CHECK(core_merkle_verify_inclusion(0, 1, bad, NULL, 0, bad) == 0,
	    "tree of one: root is the leaf");
}

static void
test_checkpoint(void)
{
	const char	*top = getenv("top_srcdir");
	char		 path[4096], err[256], body[4096];
	unsigned char	 raw[4096], leaf[32], root[32];
	struct core_checkpoint cp;
	struct core_key	*k, *other;
	json_error_t	 jerr;
	json_t		*o, *e;
	size_t		 rawlen;
	const char	*ck;

	snprintf(path, sizeof(path), "%s/tests/vectors/worked-example/"
	    "rekor.pub", top ? top : ".");
	k = core_key_load_public(path, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/tests/vectors/worked-example/"
	    "cosign.pub", top ? top : ".");
	other = core_key_load_public(path, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/tests/vectors/worked-example/"
	    "rekor-response.json", top ? top : ".");
	o = json_load_file(path, 0, &jerr);
	e = json_object_iter_value(json_object_iter(o));
	ck = json_string_value(json_object_get(json_object_get(json_object_get(
	    e, "verification"), "inclusionProof"), "checkpoint"));
	CHECK(k != NULL && ck != NULL, "worked example loads");
	if (k == NULL || ck == NULL)
		return;
	CHECK(core_checkpoint_verify(ck, strlen(ck), &k, 1, &cp, err,
	    sizeof(err)) == 0, "worked example checkpoint: %s", err);
	CHECK(cp.size == 1 && strcmp(cp.origin,
	    "rekor.example.com - 1234567890123456789") == 0 &&
	    strcmp(cp.name, "rekor.example.com") == 0 &&
	    cp.timestamp == 1700000000000000000LL, "checkpoint fields");
	/* the entry is the only leaf: its leaf hash is the root */
	mbedtls_base64_decode(raw, sizeof(raw), &rawlen, (const unsigned char *)
	    json_string_value(json_object_get(e, "body")),
	    strlen(json_string_value(json_object_get(e, "body"))));
	core_merkle_leaf(raw, rawlen, leaf);
	core_hex_decode(json_string_value(json_object_get(json_object_get(
	    json_object_get(e, "verification"), "inclusionProof"), "rootHash")),
	    root, sizeof(root));
	CHECK(memcmp(leaf, root, 32) == 0 && memcmp(cp.root, root, 32) == 0,
	    "leaf hash = rootHash = checkpoint root");
	CHECK(core_merkle_verify_inclusion(0, 1, leaf, NULL, 0, cp.root) == 0,
	    "inclusion in the checkpoint's tree");

	CHECK(core_checkpoint_verify(ck, strlen(ck), &other, 1, &cp, err,
	    sizeof(err)) == -1 && strstr(err, "not signed by a trusted"),
	    "other key: %s", err);
	snprintf(body, sizeof(body), "%s", ck);
	*strchr(body, '\n' ) = 'X';	/* spoil the origin line's end */
	CHECK(core_checkpoint_verify(body, strlen(body), &k, 1, &cp, err,
	    sizeof(err)) == -1, "changed body rejected");
	snprintf(body, sizeof(body), "%s", ck);
	strchr(body, '\n')[1] = '2';	/* tree size 1 -> 2 */
	CHECK(core_checkpoint_verify(body, strlen(body), &k, 1, &cp, err,
	    sizeof(err)) == -1, "changed size rejected");
	CHECK(core_checkpoint_verify("a\n1\n", 4, &k, 1, &cp, err,
	    sizeof(err)) == -1 && strstr(err, "no signature block"),
	    "unsigned: %s", err);
	CHECK(core_checkpoint_verify("o\nx\nAAAA\n\n", 10, &k, 1, &cp, err,
	    sizeof(err)) == -1 && strstr(err, "not a number"), "size: %s", err);
	json_decref(o);
	core_key_free(k);
	core_key_free(other);
}

/* A consistency proof from m to n leaves as the log answers it. */
static char *
proof_answer(size_t m, size_t n)
{
	unsigned char	proof[64][32];
	size_t		len, i, at;
	char		*out;

	len = subproof(m, 0, n, 1, proof);
	out = malloc(32 + len * 67);
	at = (size_t)sprintf(out, "{\"hashes\": [");
	for (i = 0; i < len; i++) {
		at += (size_t)sprintf(out + at, "%s\"", i > 0 ? ", " : "");
		hex(proof[i], out + at);
		at += 64;
		at += (size_t)sprintf(out + at, "\"");
	}
	sprintf(out + at, "]}");
	return out;
}

/*
 * Checkpoints kept per log: answers to concurrent requests arrive in any
 * order, so a smaller checkpoint than the kept one is accepted when the
 * log proves it a prefix of the kept one (which stays); a smaller one that
 * is not, or another root for the kept size, is a fork.
 */
static void
test_checkpoint_order(void)
{
	struct core_checkpoint	 c21, c23, c30, old, bad;
	char			 dir[] = "/tmp/test_merkle.XXXXXX", err[300];
	char			 path[200], *pf;
	const char		*log = "0123abcd";

	CHECK(mkdtemp(dir) != NULL, "a temporary directory");
	memset(&c21, 0, sizeof(c21));
	c23 = c30 = c21;
	c21.size = 21;
	mth(0, 21, c21.root);
	c23.size = 23;
	mth(0, 23, c23.root);
	c30.size = 30;
	mth(0, 30, c30.root);

	CHECK(core_checkpoint_compare(dir, &c23, log, &old, err,
	    sizeof(err)) == CORE_CP_NEW, "nothing kept: new");
	CHECK(core_checkpoint_keep(dir, &c23, log, err, sizeof(err)) == 0,
	    "size 23 kept");
	CHECK(core_checkpoint_compare(dir, &c23, log, &old, err,
	    sizeof(err)) == CORE_CP_SAME, "the same again");
	CHECK(core_checkpoint_compare(dir, &c30, log, &old, err,
	    sizeof(err)) == CORE_CP_GROWN && old.size == 23, "larger: grown");

	/* an older checkpoint, consistent: accepted, 23 stays */
	CHECK(core_checkpoint_compare(dir, &c21, log, &old, err,
	    sizeof(err)) == CORE_CP_OLDER && old.size == 23 &&
	    memcmp(old.root, c23.root, 32) == 0, "smaller: older, with the "
	    "kept one");
	pf = proof_answer(21, 23);
	CHECK(core_rekor_check_consistency(pf, strlen(pf), &c21, &old, err,
	    sizeof(err)) == 0, "older and consistent: accepted (%s)", err);
	CHECK(core_checkpoint_keep(dir, &old, log, err, sizeof(err)) == 0 &&
	    core_checkpoint_keep(dir, &c21, log, err, sizeof(err)) == 0,
	    "keeping the smaller one is a no-op");
	CHECK(core_checkpoint_compare(dir, &c23, log, &old, err,
	    sizeof(err)) == CORE_CP_SAME, "the larger one stays kept");

	/* an older checkpoint that is not a prefix of the kept tree */
	bad = c21;
	bad.root[5] ^= 1;
	CHECK(core_checkpoint_compare(dir, &bad, log, &old, err,
	    sizeof(err)) == CORE_CP_OLDER, "another older root: asks a proof");
	CHECK(core_rekor_check_consistency(pf, strlen(pf), &bad, &old, err,
	    sizeof(err)) == -1 && strstr(err, "is not a prefix") != NULL,
	    "older and inconsistent: refused (%s)", err);
	free(pf);

	/* the kept size with another root */
	bad = c23;
	bad.root[0] ^= 1;
	CHECK(core_checkpoint_compare(dir, &bad, log, &old, err,
	    sizeof(err)) == -1 && strstr(err, "two roots for tree size 23"),
	    "same size, another root: refused (%s)", err);
	CHECK(core_checkpoint_keep(dir, &bad, log, err, sizeof(err)) == -1 &&
	    strstr(err, "two roots"), "and never kept (%s)", err);
	core_checkpoint_backwards(&c21, &c23, 400, err, sizeof(err));
	CHECK(strstr(err, "went backwards (tree size 21, seen 23)") != NULL,
	    "no proof for an older one: it went backwards (%s)", err);

	snprintf(path, sizeof(path), "%s/checkpoint-%s", dir, log);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	test_reference_tree();
	test_proofs();
	test_consistency();
	test_checkpoint();
	test_checkpoint_order();
	return unit_done();
}
