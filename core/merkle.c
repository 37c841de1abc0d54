/*
 * core/merkle.c: RFC 6962 / RFC 9162 inclusion proofs and Rekor's signed
 * checkpoints (FORMATS.md §5.7, §5.8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>

#include "core.h"

#define EM_DASH		"\xe2\x80\x94 "	/* U+2014 and a space */

void
core_merkle_leaf(const void *data, size_t len, unsigned char out[32])
{
	mbedtls_sha256_context	c;
	static const unsigned char zero = 0x00;

	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts_ret(&c, 0);
	mbedtls_sha256_update_ret(&c, &zero, 1);
	mbedtls_sha256_update_ret(&c, data, len);
	mbedtls_sha256_finish_ret(&c, out);
	mbedtls_sha256_free(&c);
}

void
core_merkle_node(const unsigned char l[32], const unsigned char r[32],
    unsigned char out[32])
{
	mbedtls_sha256_context	c;
	static const unsigned char one = 0x01;

	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts_ret(&c, 0);
	mbedtls_sha256_update_ret(&c, &one, 1);
	mbedtls_sha256_update_ret(&c, l, 32);
	mbedtls_sha256_update_ret(&c, r, 32);
	mbedtls_sha256_finish_ret(&c, out);
	mbedtls_sha256_free(&c);
}

static int
bitlen(uint64_t x)
{
	int	n = 0;

	while (x != 0) {
		n++;
		x >>= 1;
	}
	return n;
}

static int
popcount(uint64_t x)
{
	int	n = 0;

	for (; x != 0; x &= x - 1)
		n++;
	return n;
}

int
core_merkle_verify_inclusion(uint64_t index, uint64_t size,
    const unsigned char leaf[32], const unsigned char (*hashes)[32],
    size_t nhashes, const unsigned char root[32])
{
	unsigned char	h[32];
	int		inner, border, i;

	if (index >= size)
		return -1;
	inner = bitlen(index ^ (size - 1));
	/* inner is 64 when the paths part at the top bit: nothing is left
	 * of index above it (a shift by 64 is undefined) */
	border = inner >= 64 ? 0 : popcount(index >> inner);
	if (nhashes != (size_t)(inner + border))
		return -1;
	memcpy(h, leaf, 32);
	for (i = 0; i < inner; i++) {
		if (((index >> i) & 1) == 0)
			core_merkle_node(h, hashes[i], h);
		else
			core_merkle_node(hashes[i], h, h);
	}
	for (; (size_t)i < nhashes; i++)
		core_merkle_node(hashes[i], h, h);
	return memcmp(h, root, 32) == 0 ? 0 : -1;
}

/*
 * RFC 9162 §2.1.4.2: the proof's hashes show the tree of size first (root
 * r1) is a prefix of the tree of size second (root r2).  With first a
 * power of two its root is the proof's implicit first node.
 */
int
core_merkle_verify_consistency(uint64_t first, uint64_t second,
    const unsigned char r1[32], const unsigned char r2[32],
    const unsigned char (*hashes)[32], size_t nhashes)
{
	unsigned char	fr[32], sr[32];
	uint64_t	fn, sn;
	size_t		i = 0;

	if (first > second || nhashes > 128)
		return -1;
	if (first == second)
		return nhashes == 0 && memcmp(r1, r2, 32) == 0 ? 0 : -1;
	if (first == 0)
		return nhashes == 0 ? 0 : -1;	/* the empty tree */
	if ((first & (first - 1)) == 0) {
		memcpy(fr, r1, 32);	/* prepended: the old root itself */
	} else {
		if (nhashes == 0)
			return -1;
		memcpy(fr, hashes[i++], 32);
	}
	memcpy(sr, fr, 32);
	fn = first - 1;
	sn = second - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < nhashes; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			core_merkle_node(hashes[i], fr, fr);
			core_merkle_node(hashes[i], sr, sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else
			core_merkle_node(sr, hashes[i], sr);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(fr, r1, 32) == 0 &&
	    memcmp(sr, r2, 32) == 0 ? 0 : -1;
}

static int
why(char *reason, size_t rlen, const char *msg)
{
	snprintf(reason, rlen, "%s", msg);
	return -1;
}

int
core_checkpoint_verify(const char *text, size_t len,
    struct core_key *const *logs, size_t nlogs, struct core_checkpoint *cp,
    char *reason, size_t rlen)
{
	const char	*body_end, *p, *nl, *sp;
	unsigned char	 raw[512], hint[32];
	char		 line[600], *end;
	size_t		 n, rawlen, i, bodylen;
	int		 lineno;
	unsigned long long size;

	memset(cp, 0, sizeof(*cp));
	if (len > CORE_CHECKPOINT_MAX || memchr(text, '\0', len) != NULL)
		return why(reason, rlen, "checkpoint too large or malformed");
	/* the note body ends at the blank line before the signatures */
	body_end = NULL;
	for (p = text; p + 1 < text + len; p++)
		if (p[0] == '\n' && p[1] == '\n') {
			body_end = p + 1;
			break;
		}
	if (body_end == NULL)
		return why(reason, rlen, "checkpoint has no signature block");
	bodylen = (size_t)(body_end - text);
	/* body: origin, size, base64 root, optional extension lines */
	for (p = text, lineno = 0; p < body_end; p = nl + 1, lineno++) {
		nl = memchr(p, '\n', (size_t)(body_end - p));
		n = (size_t)(nl - p);
		if (n >= sizeof(line))
			return why(reason, rlen, "checkpoint line too long");
		memcpy(line, p, n);
		line[n] = '\0';
		if (lineno == 0) {
			if (n == 0)
				return why(reason, rlen, "checkpoint has no "
				    "origin");
			snprintf(cp->origin, sizeof(cp->origin), "%.255s",
			    line);
		} else if (lineno == 1) {
			size = strtoull(line, &end, 10);
			if (n == 0 || *end != '\0' || line[0] == '-')
				return why(reason, rlen, "checkpoint tree size "
				    "is not a number");
			cp->size = (uint64_t)size;
		} else if (lineno == 2) {
			if (mbedtls_base64_decode(raw, sizeof(raw), &rawlen,
			    (unsigned char *)line, n) != 0 || rawlen != 32)
				return why(reason, rlen, "checkpoint root hash "
				    "is not 32 base64 bytes");
			memcpy(cp->root, raw, 32);
		} else if (strncmp(line, "Timestamp: ", 11) == 0)
			cp->timestamp = strtoll(line + 11, NULL, 10);
	}
	if (lineno < 3)
		return why(reason, rlen, "checkpoint body is incomplete");
	/* signature lines: "— <name> <base64(keyhint || signature)>" */
	for (p = body_end + 1; p < text + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(text + len - p));
		if (nl == NULL)
			nl = text + len;
		n = (size_t)(nl - p);
		if (n < 5 || n >= sizeof(line) ||
		    memcmp(p, EM_DASH, strlen(EM_DASH)) != 0)
			continue;
		memcpy(line, p + strlen(EM_DASH), n - strlen(EM_DASH));
		line[n - strlen(EM_DASH)] = '\0';
		sp = strrchr(line, ' ');
		if (sp == NULL || mbedtls_base64_decode(raw, sizeof(raw),
		    &rawlen, (const unsigned char *)sp + 1, strlen(sp + 1)) !=
		    0 || rawlen <= 4)
			continue;
		for (i = 0; i < nlogs; i++) {
			/* the key hint: the first 4 bytes of the log ID; an
			 * Ed25519 note key's hint hashes the signer's name
			 * too, so it is only tried (the signature decides) */
			if (!core_key_is_ed25519(logs[i]) &&
			    (core_hex_decode(core_key_fingerprint(logs[i]), hint,
			    sizeof(hint)) != 32 || memcmp(hint, raw, 4) != 0))
				continue;
			if (core_key_verify(logs[i], text, bodylen, raw + 4,
			    rawlen - 4) == 0) {
				snprintf(cp->name, sizeof(cp->name), "%.*s",
				    (int)(sp - line), line);
				cp->key = i;
				return 0;
			}
		}
	}
	return why(reason, rlen, "checkpoint not signed by a trusted log key");
}

int
core_hex_decode(const char *hex, unsigned char *out, size_t outlen)
{
	size_t	n = strlen(hex), i;
	int	hi, lo;

	if (n % 2 != 0 || n / 2 > outlen)
		return -1;
	for (i = 0; i < n / 2; i++) {
		hi = hex[2 * i];
		lo = hex[2 * i + 1];
		hi = hi >= '0' && hi <= '9' ? hi - '0' : hi >= 'a' && hi <= 'f' ?
		    hi - 'a' + 10 : -1;
		lo = lo >= '0' && lo <= '9' ? lo - '0' : lo >= 'a' && lo <= 'f' ?
		    lo - 'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

int
core_merkle_check_proof(struct core_key *const *logs, size_t nlogs,
    const void *body, size_t blen, uint64_t index, uint64_t size,
    const unsigned char (*hashes)[32], size_t nhashes,
    const unsigned char root[32], const char *checkpoint,
    struct core_checkpoint *cp, char *reason, size_t rlen)
{
	unsigned char	leaf[32];

	core_merkle_leaf(body, blen, leaf);
	if (core_merkle_verify_inclusion(index, size, leaf, hashes, nhashes,
	    root) != 0)
		return why(reason, rlen, "the log's inclusion proof does not "
		    "verify");
	if (core_checkpoint_verify(checkpoint, strlen(checkpoint), logs, nlogs,
	    cp, reason, rlen) == -1)
		return -1;
	if (memcmp(cp->root, root, 32) != 0 || cp->size != size)
		return why(reason, rlen, "the log's checkpoint does not sign the "
		    "proof's root");
	return 0;
}
