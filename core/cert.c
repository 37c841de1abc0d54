/*
 * core/cert.c: keyless (Fulcio-style) signers.  A signature carries its
 * leaf certificate and chain in the layer annotations; it is trusted when
 * the chain leads to configured roots, the certificate was valid at the
 * moment the transparency log integrated the entry (short-lived
 * certificates are long expired at pull time), it allows code signing, and
 * its subject (email or URI SAN) and OIDC issuer extension match the rule.
 *
 * mbedTLS 2.28 lists only dNSName and otherName SANs and skips unknown
 * extensions, so the extensions are read from the raw v3_ext here.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/x509_crt.h>

#include "core.h"

#define CHAIN_MAX	5	/* certificates in a chain annotation */
#define CERT_PEM_MAX	(16 * 1024)

/* Fulcio's OIDC issuer: v1 (raw string value) and v2 (DER UTF8String) */
static const unsigned char oid_issuer_v1[] = { 0x2b, 0x06, 0x01, 0x04, 0x01,
    0x83, 0xbf, 0x30, 0x01, 0x01 };	/* 1.3.6.1.4.1.57264.1.1 */
static const unsigned char oid_issuer_v2[] = { 0x2b, 0x06, 0x01, 0x04, 0x01,
    0x83, 0xbf, 0x30, 0x01, 0x08 };	/* 1.3.6.1.4.1.57264.1.8 */
static const unsigned char oid_san[] = { 0x55, 0x1d, 0x11 };	/* 2.5.29.17 */

struct core_roots {
	mbedtls_x509_crt	crt;
};

struct core_roots *
core_roots_load(const char *path, char *err, size_t errlen)
{
	struct core_roots	*r;
	int			 rc;

	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mbedtls_x509_crt_init(&r->crt);
	rc = mbedtls_x509_crt_parse_file(&r->crt, path);
	if (rc != 0) {
		snprintf(err, errlen, "%s: not a PEM certificate bundle (%s)",
		    path, rc > 0 ? "some certificates failed" : "unreadable");
		core_roots_free(r);
		return NULL;
	}
	return r;
}

void
core_roots_free(struct core_roots *r)
{
	if (r == NULL)
		return;
	mbedtls_x509_crt_free(&r->crt);
	free(r);
}

static time_t
x509_time(const mbedtls_x509_time *t)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = t->year - 1900;
	tm.tm_mon = t->mon - 1;
	tm.tm_mday = t->day;
	tm.tm_hour = t->hour;
	tm.tm_min = t->min;
	tm.tm_sec = t->sec;
	return timegm(&tm);
}

/*
 * An identity or issuer value, whole: one with a NUL or control byte, or
 * longer than the buffer, is refused rather than cut short (a value cut at
 * a NUL could match a shorter trusted one).
 */
static int
copy_value(char *dst, size_t dstlen, const unsigned char *p, size_t len)
{
	size_t	i;

	if (len >= dstlen)
		return -1;
	for (i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return -1;
	memcpy(dst, p, len);
	dst[len] = '\0';
	return 0;
}

/* Walk the raw extensions for the SAN and the OIDC issuer; -1 when they
 * do not parse, -2 when a value is refused by copy_value. */
static int
read_extensions(const mbedtls_x509_crt *crt, struct core_cert_identity *id)
{
	unsigned char	*p = crt->v3_ext.p, *end = p + crt->v3_ext.len;
	unsigned char	*ext_end, *val, *san_end;
	size_t		 len, oidlen, vlen;
	int		 critical, tag;

	if (p == NULL || crt->v3_ext.len == 0)
		return -1;
	/* v3_ext may start at the [3] wrapper or at the SEQUENCE */
	if (*p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED |
	    3) && mbedtls_asn1_get_tag(&p, end, &len,
	    MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3) != 0)
		return -1;
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED |
	    MBEDTLS_ASN1_SEQUENCE) != 0)
		return -1;
	end = p + len;
	while (p < end) {
		if (mbedtls_asn1_get_tag(&p, end, &len,
		    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
			return -1;
		ext_end = p + len;
		if (mbedtls_asn1_get_tag(&p, ext_end, &oidlen,
		    MBEDTLS_ASN1_OID) != 0)
			return -1;
		val = p;
		p += oidlen;
		critical = 0;
		(void)mbedtls_asn1_get_bool(&p, ext_end, &critical);
		if (mbedtls_asn1_get_tag(&p, ext_end, &vlen,
		    MBEDTLS_ASN1_OCTET_STRING) != 0)
			return -1;
		if (oidlen == sizeof(oid_issuer_v1) &&
		    memcmp(val, oid_issuer_v1, oidlen) == 0 &&
		    id->issuer[0] == '\0') {
			if (copy_value(id->issuer, sizeof(id->issuer), p,
			    vlen) == -1)
				return -2;
		} else if (oidlen == sizeof(oid_issuer_v2) &&
		    memcmp(val, oid_issuer_v2, oidlen) == 0) {
			unsigned char	*q = p;
			size_t		 slen;

			if (mbedtls_asn1_get_tag(&q, p + vlen, &slen,
			    MBEDTLS_ASN1_UTF8_STRING) == 0 &&
			    copy_value(id->issuer, sizeof(id->issuer), q,
			    slen) == -1)
				return -2;
		} else if (oidlen == sizeof(oid_san) &&
		    memcmp(val, oid_san, oidlen) == 0) {
			unsigned char	*q = p;

			if (mbedtls_asn1_get_tag(&q, p + vlen, &len,
			    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)
			    != 0)
				return -1;
			san_end = q + len;
			while (q < san_end && id->subject[0] == '\0') {
				tag = *q++;
				if (mbedtls_asn1_get_len(&q, san_end, &len) != 0)
					return -1;
				/* [1] rfc822Name, [6] uniformResourceIdentifier */
				if ((tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 1) ||
				    tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 6)) &&
				    copy_value(id->subject,
				    sizeof(id->subject), q, len) == -1)
					return -2;
				q += len;
			}
		}
		p = ext_end;
	}
	return 0;
}

/* Exact, or an (unanchored, as cosign's) extended regular expression. */
/*
 * A regular expression regcomp can take without a blow-up: glibc copies
 * the tree for each repetition, so stacked ones ("x+++...") or large counts
 * grow it without bound (the configuration fuzzer took 2 GiB with one).
 * Identities and issuers never need more than this.
 */
int
core_regex_check(const char *re, char *why, size_t wlen)
{
	const char	*p;
	long		 size[10], last = 0, n;
	int		 depth = 0, prev_rep = 0;
	char		*end;

	/*
	 * Each atom counts 1, a group what it holds; a repetition multiplies
	 * the atom before it by its count (2 for *, + and ?): the sum, at
	 * every depth, approximates the tree regcomp builds.
	 */
	if (strlen(re) > CORE_REGEX_MAX) {
		snprintf(why, wlen, "longer than %d bytes", CORE_REGEX_MAX);
		return -1;
	}
	size[0] = 0;
	for (p = re; *p != '\0'; p++) {
		if (*p == '*' || *p == '+' || *p == '?' || *p == '{') {
			if (prev_rep) {
				snprintf(why, wlen, "a repetition of a "
				    "repetition");
				return -1;
			}
			n = 2;
			if (*p == '{') {
				n = strtol(p + 1, &end, 10);
				if (*end == ',')
					n = end[1] == '}' ? n + 1 :
					    strtol(end + 1, &end, 10);
				while (p[1] != '\0' && p[1] != '}')
					p++;
				if (p[1] == '}')
					p++;
			}
			if (n < 0 || n > 32) {
				snprintf(why, wlen, "a repetition count over 32");
				return -1;
			}
			size[depth] += last * (n > 0 ? n - 1 : 0);
			last *= n;
			prev_rep = 1;
		} else if (*p == '(') {
			if (++depth > 8) {
				snprintf(why, wlen, "groups nested more than 8 "
				    "deep");
				return -1;
			}
			size[depth] = 0;
			last = 0;
			prev_rep = 0;
			continue;
		} else if (*p == ')' && depth > 0) {
			last = size[depth] > 0 ? size[depth] : 1;
			size[--depth] += last;
			prev_rep = 0;
		} else {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '[') {
				/* a bracket expression is one atom */
				p++;
				if (*p == '^')
					p++;
				if (*p == ']')
					p++;
				while (*p != '\0' && *p != ']')
					p++;
				if (*p == '\0')
					break;
			}
			last = 1;
			size[depth] += 1;
			prev_rep = 0;
		}
		if (size[depth] > 1000) {
			snprintf(why, wlen, "repetitions that multiply past "
			    "1000");
			return -1;
		}
	}
	return 0;
}

static int
matches(const char *value, const char *exact, const char *re)
{
	regex_t	rx;
	char	why[80];
	int	ok;

	if (exact != NULL)
		return strcmp(value, exact) == 0;
	if (re == NULL)
		return 1;
	if (core_regex_check(re, why, sizeof(why)) == -1 ||
	    regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	ok = regexec(&rx, value, 0, NULL, 0) == 0;
	regfree(&rx);
	return ok;
}

int
core_cert_check(const struct core_keyless *kl, const char *leaf_pem,
    const char *chain_pem, time_t at, struct core_cert_identity *id,
    struct core_key **key_out, char *reason, size_t rlen)
{
	mbedtls_x509_crt	 leaf;
	const mbedtls_x509_crt	*c;
	unsigned char		 pub[1024];
	char			 err[128];
	uint32_t		 flags = 0;
	int			 n, rc = -1;
	size_t			 plen;

	*key_out = NULL;
	memset(id, 0, sizeof(*id));
	mbedtls_x509_crt_init(&leaf);
	if (leaf_pem == NULL || strlen(leaf_pem) > CERT_PEM_MAX ||
	    (chain_pem != NULL && strlen(chain_pem) > CHAIN_MAX *
	    CERT_PEM_MAX)) {
		snprintf(reason, rlen, "certificate missing or too large");
		goto done;
	}
	if (mbedtls_x509_crt_parse(&leaf, (const unsigned char *)leaf_pem,
	    strlen(leaf_pem) + 1) != 0) {
		snprintf(reason, rlen, "the signing certificate does not parse");
		goto done;
	}
	/* the chain follows the leaf in the same list */
	if (chain_pem != NULL && *chain_pem != '\0' &&
	    mbedtls_x509_crt_parse(&leaf, (const unsigned char *)chain_pem,
	    strlen(chain_pem) + 1) != 0) {
		snprintf(reason, rlen, "the certificate chain does not parse");
		goto done;
	}
	for (n = 0, c = &leaf; c != NULL; c = c->next)
		n++;
	if (n > CHAIN_MAX + 1) {
		snprintf(reason, rlen, "certificate chain deeper than %d",
		    CHAIN_MAX);
		goto done;
	}
	/* at the log's time, not now: leaf certificates live minutes */
	for (c = &leaf; c != NULL; c = c->next) {
		if (at < x509_time(&c->valid_from) ||
		    at > x509_time(&c->valid_to)) {
			snprintf(reason, rlen, "certificate not valid at the "
			    "Rekor entry's integrated time");
			goto done;
		}
	}
	if (mbedtls_x509_crt_verify(&leaf, (mbedtls_x509_crt *)&kl->roots->crt,
	    NULL, NULL, &flags, NULL, NULL) != 0 &&
	    (flags & ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED |
	    MBEDTLS_X509_BADCERT_FUTURE)) != 0) {
		snprintf(reason, rlen, "certificate does not chain to the "
		    "trusted roots");
		goto done;
	}
	if (mbedtls_x509_crt_check_extended_key_usage(&leaf,
	    MBEDTLS_OID_CODE_SIGNING, MBEDTLS_OID_SIZE(MBEDTLS_OID_CODE_SIGNING))
	    != 0) {
		snprintf(reason, rlen, "certificate not for code signing");
		goto done;
	}
	n = read_extensions(&leaf, id);
	if (n == -2) {
		snprintf(reason, rlen, "certificate identity or OIDC issuer "
		    "holds a NUL or control byte, or is too long");
		goto done;
	}
	if (n == -1 || id->subject[0] == '\0') {
		snprintf(reason, rlen, "certificate has no email or URI "
		    "subject");
		goto done;
	}
	if (!matches(id->subject, kl->identity, kl->identity_re)) {
		snprintf(reason, rlen, "certificate identity %.200s not "
		    "trusted", id->subject);
		goto done;
	}
	if (id->issuer[0] == '\0' ||
	    !matches(id->issuer, kl->issuer, kl->issuer_re)) {
		snprintf(reason, rlen, "certificate OIDC issuer %.200s not "
		    "trusted", id->issuer[0] ? id->issuer : "(none)");
		goto done;
	}
	if (mbedtls_pk_write_pubkey_pem(&leaf.pk, pub, sizeof(pub)) != 0) {
		snprintf(reason, rlen, "certificate key unusable");
		goto done;
	}
	plen = strlen((char *)pub);
	*key_out = core_key_load_public_pem((char *)pub, plen, "certificate",
	    err, sizeof(err));
	if (*key_out == NULL) {
		snprintf(reason, rlen, "certificate key unusable: %s", err);
		goto done;
	}
	rc = 0;
done:
	mbedtls_x509_crt_free(&leaf);
	return rc;
}

struct core_key *
core_cert_key(const void *cert, size_t len)
{
	mbedtls_x509_crt	 crt;
	unsigned char		 pub[1024], *copy;
	struct core_key		*k = NULL;
	char			 err[64];
	int			 rc;

	/* PEM is parsed from a NUL-terminated copy, DER as it is */
	copy = malloc(len + 1);
	if (copy == NULL)
		return NULL;
	memcpy(copy, cert, len);
	copy[len] = '\0';
	mbedtls_x509_crt_init(&crt);
	if (memmem(copy, len, "-----BEGIN", 10) != NULL)
		rc = mbedtls_x509_crt_parse(&crt, copy, len + 1);
	else
		rc = mbedtls_x509_crt_parse_der(&crt, copy, len);
	if (rc == 0 && mbedtls_pk_write_pubkey_pem(&crt.pk, pub,
	    sizeof(pub)) == 0)
		k = core_key_load_public_pem((char *)pub, strlen((char *)pub),
		    "certificate", err, sizeof(err));
	mbedtls_x509_crt_free(&crt);
	free(copy);
	return k;
}
