/*
 * core/keys.c: signing keys.  cosign's encrypted private keys (scrypt +
 * NaCl secretbox over PKCS#8 DER, libsodium doing both), plain PEM keys
 * (PKCS#8, SEC1 EC, PKCS#1 RSA), public keys, signing and verifying with
 * SHA-256, and `keygen` writing a pair cosign reads as its own.
 *
 * Secrets (passwords, derived keys, decrypted DER) are wiped as soon as they
 * are used; mbedtls_pk_free wipes the key itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <sodium.h>

#include "core.h"

#define PEM_SIGSTORE	"ENCRYPTED SIGSTORE PRIVATE KEY"
#define PEM_COSIGN	"ENCRYPTED COSIGN PRIVATE KEY"
#define SALT_LEN	32
#define KEYGEN_N	32768	/* the only N old go-tuf readers accept */

struct core_key {
	mbedtls_pk_context	 pk;
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
	int			 has_private;
	int			 ed25519;	/* a log key (Rekor v2): not in pk */
	unsigned char		 ed[32];
	char			 fingerprint[65];
};

/* The SubjectPublicKeyInfo of an Ed25519 key (RFC 8410) up to the key. */
static const unsigned char ed25519_spki[12] = {
	0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
};

static void
errset(char *err, size_t errlen, const char *fmt, const char *a, int rc)
{
	char	buf[160];

	if (rc != 0) {
		mbedtls_strerror(rc, buf, sizeof(buf));
		snprintf(err, errlen, "%s: %s: %s", a, fmt, buf);
	} else
		snprintf(err, errlen, "%s: %s", a, fmt);
}

static struct core_key *
key_new(void)
{
	static const char	 pers[] = "signet key";
	struct core_key		*k;

	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	mbedtls_pk_init(&k->pk);
	mbedtls_entropy_init(&k->entropy);
	mbedtls_ctr_drbg_init(&k->drbg);
	if (mbedtls_ctr_drbg_seed(&k->drbg, mbedtls_entropy_func, &k->entropy,
	    (const unsigned char *)pers, sizeof(pers) - 1) != 0) {
		core_key_free(k);
		return NULL;
	}
	return k;
}

void
core_key_free(struct core_key *k)
{
	if (k == NULL)
		return;
	mbedtls_pk_free(&k->pk);
	mbedtls_ctr_drbg_free(&k->drbg);
	mbedtls_entropy_free(&k->entropy);
	free(k);
}

int
core_key_reseed(struct core_key *k)
{
	return mbedtls_ctr_drbg_reseed(&k->drbg, NULL, 0) == 0 ? 0 : -1;
}

/* sha256 of the SubjectPublicKeyInfo DER, in hex */
static int
key_finish(struct core_key *k)
{
	unsigned char	 der[2048], *p;
	int		 n;

	n = mbedtls_pk_write_pubkey_der(&k->pk, der, sizeof(der));
	if (n < 0)
		return -1;
	p = der + sizeof(der) - n;
	core_sha256_hex(p, (size_t)n, k->fingerprint);
	return 0;
}

const char *
core_key_fingerprint(const struct core_key *k)
{
	return k->fingerprint;
}

int
core_key_can_sign(const struct core_key *k)
{
	return k->has_private;
}

/* Read a whole small file; NUL-terminated.  Caller frees (and wipes). */
static char *
read_small(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	int		 fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > max) {
		snprintf(err, errlen, "%s: not a regular file of at most %zu "
		    "bytes", path, max);
		close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		snprintf(err, errlen, "%s: short read", path);
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

char *
core_b64_encode(const void *in, size_t len)
{
	size_t	 n = 4 * ((len + 2) / 3) + 1, olen;
	char	*out = malloc(n);

	if (out != NULL && mbedtls_base64_encode((unsigned char *)out, n, &olen,
	    in, len) != 0) {
		free(out);
		out = NULL;
	}
	return out;
}

unsigned char *
core_b64_decode(const char *s, size_t *len)
{
	size_t		 n = strlen(s) / 4 * 3 + 4;
	unsigned char	*out = malloc(n + 1);

	if (out == NULL)
		return NULL;
	if (mbedtls_base64_decode(out, n, len, (const unsigned char *)s,
	    strlen(s)) != 0) {
		free(out);
		return NULL;
	}
	out[*len] = '\0';
	return out;
}

/* Base64 (std, padded) of a JSON string member into a new buffer. */
static unsigned char *
b64_member(json_t *o, const char *name, size_t *len)
{
	const char	*s = json_string_value(json_object_get(o, name));

	return s != NULL ? core_b64_decode(s, len) : NULL;
}

/* The body of a PEM block of type `type`, base64-decoded; NULL if absent. */
static unsigned char *
pem_body(const char *text, const char *type, size_t *len)
{
	char		 begin[80], end[80];
	const char	*b, *e;
	unsigned char	*out;
	size_t		 n;

	snprintf(begin, sizeof(begin), "-----BEGIN %s-----", type);
	snprintf(end, sizeof(end), "-----END %s-----", type);
	b = strstr(text, begin);
	if (b == NULL)
		return NULL;
	b += strlen(begin);
	e = strstr(b, end);
	if (e == NULL)
		return NULL;
	n = (size_t)(e - b);
	out = malloc(n);
	if (out == NULL)
		return NULL;
	if (mbedtls_base64_decode(out, n, len, (const unsigned char *)b, n) !=
	    0) {
		free(out);
		return NULL;
	}
	return out;
}

int
core_cosign_decrypt(const char *pem, const char *password,
    unsigned char **der, size_t *derlen, char *err, size_t errlen)
{
	unsigned char	*body, *salt = NULL, *nonce = NULL, *ct = NULL;
	unsigned char	*plain = NULL, key[32];
	size_t		 blen, slen = 0, nlen = 0, clen = 0;
	json_t		*o = NULL, *kdf, *params, *cipher;
	json_int_t	 N, r, p;
	int		 rc = -1;

	body = pem_body(pem, PEM_SIGSTORE, &blen);
	if (body == NULL)
		body = pem_body(pem, PEM_COSIGN, &blen);
	if (body == NULL) {
		snprintf(err, errlen, "not an encrypted cosign key (PEM type "
		    PEM_SIGSTORE " or " PEM_COSIGN ")");
		return -1;
	}
	o = core_json_parse((const char *)body, blen, &core_json_small);
	free(body);
	kdf = json_object_get(o, "kdf");
	params = json_object_get(kdf, "params");
	cipher = json_object_get(o, "cipher");
	if (o == NULL || params == NULL || cipher == NULL) {
		snprintf(err, errlen, "encrypted key: malformed JSON envelope");
		goto done;
	}
	if (!json_is_string(json_object_get(kdf, "name")) ||
	    strcmp(json_string_value(json_object_get(kdf, "name")),
	    "scrypt") != 0 ||
	    !json_is_string(json_object_get(cipher, "name")) ||
	    strcmp(json_string_value(json_object_get(cipher, "name")),
	    "nacl/secretbox") != 0) {
		snprintf(err, errlen, "encrypted key: kdf must be scrypt and "
		    "cipher nacl/secretbox");
		goto done;
	}
	N = json_integer_value(json_object_get(params, "N"));
	r = json_integer_value(json_object_get(params, "r"));
	p = json_integer_value(json_object_get(params, "p"));
	/* the parameters cosign's readers accept, which also bound memory */
	if ((N != 32768 && N != 65536 && N != 131072) || r != 8 || p != 1) {
		snprintf(err, errlen, "encrypted key: unsupported scrypt "
		    "parameters N=%lld r=%lld p=%lld", (long long)N,
		    (long long)r, (long long)p);
		goto done;
	}
	salt = b64_member(kdf, "salt", &slen);
	nonce = b64_member(cipher, "nonce", &nlen);
	ct = b64_member(o, "ciphertext", &clen);
	if (salt == NULL || nonce == NULL || ct == NULL ||
	    nlen != crypto_secretbox_NONCEBYTES ||
	    clen <= crypto_secretbox_MACBYTES) {
		snprintf(err, errlen, "encrypted key: bad salt, nonce or "
		    "ciphertext");
		goto done;
	}
	if (crypto_pwhash_scryptsalsa208sha256_ll(
	    (const uint8_t *)password, strlen(password), salt, slen,
	    (uint64_t)N, (uint32_t)r, (uint32_t)p, key, sizeof(key)) != 0) {
		snprintf(err, errlen, "encrypted key: scrypt failed");
		goto done;
	}
	plain = malloc(clen - crypto_secretbox_MACBYTES);
	if (plain == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (crypto_secretbox_open_easy(plain, ct, clen, nonce, key) != 0) {
		snprintf(err, errlen, "encrypted key: wrong password, or the "
		    "key file is corrupt");
		free(plain);
		plain = NULL;
		goto done;
	}
	*der = plain;
	*derlen = clen - crypto_secretbox_MACBYTES;
	plain = NULL;
	rc = 0;
done:
	sodium_memzero(key, sizeof(key));
	free(salt);
	free(nonce);
	free(ct);
	json_decref(o);
	return rc;
}

struct core_key *
core_key_load_private(const char *path, const char *password, char *err,
    size_t errlen)
{
	struct core_key	*k = NULL;
	unsigned char	*der = NULL;
	size_t		 len, derlen = 0;
	char		*text, sub[256];
	int		 rc;

	text = read_small(path, 64 * 1024, &len, err, errlen);
	if (text == NULL)
		return NULL;
	k = key_new();
	if (k == NULL) {
		snprintf(err, errlen, "%s: cannot initialise the key", path);
		goto fail;
	}
	if (strstr(text, "-----BEGIN ENCRYPTED ") != NULL &&
	    (strstr(text, PEM_SIGSTORE) != NULL ||
	    strstr(text, PEM_COSIGN) != NULL)) {
		if (password == NULL) {
			snprintf(err, errlen, "%s: encrypted cosign key and no "
			    "password", path);
			goto fail;
		}
		if (core_cosign_decrypt(text, password, &der, &derlen, sub,
		    sizeof(sub)) == -1) {
			snprintf(err, errlen, "%s: %s", path, sub);
			goto fail;
		}
		rc = mbedtls_pk_parse_key(&k->pk, der, derlen, NULL, 0);
		mbedtls_platform_zeroize(der, derlen);
		free(der);
	} else
		rc = mbedtls_pk_parse_key(&k->pk, (unsigned char *)text,
		    len + 1, NULL, 0);
	if (rc != 0) {
		errset(err, errlen, "not a private key (PKCS#8, SEC1 EC or "
		    "PKCS#1 RSA PEM, or an encrypted cosign key)", path, rc);
		goto fail;
	}
	if (!mbedtls_pk_can_do(&k->pk, MBEDTLS_PK_ECKEY) &&
	    !mbedtls_pk_can_do(&k->pk, MBEDTLS_PK_RSA)) {
		snprintf(err, errlen, "%s: only ECDSA and RSA keys are "
		    "supported", path);
		goto fail;
	}
	k->has_private = 1;
	if (key_finish(k) == -1) {
		snprintf(err, errlen, "%s: cannot encode the public key", path);
		goto fail;
	}
	mbedtls_platform_zeroize(text, len);
	free(text);
	return k;
fail:
	mbedtls_platform_zeroize(text, len);
	free(text);
	core_key_free(k);
	return NULL;
}

/*
 * An Ed25519 public key, which mbedTLS 2.28 does not know: a PEM "PUBLIC
 * KEY" of exactly the RFC 8410 SubjectPublicKeyInfo.  Only verifies (log
 * checkpoints); its fingerprint is the sha256 of that DER, like any key's.
 */
static int
ed25519_load(struct core_key *k, const char *text)
{
	unsigned char	*der;
	size_t		 n = 0;

	der = pem_body(text, "PUBLIC KEY", &n);
	if (der == NULL || n != sizeof(ed25519_spki) + 32 ||
	    memcmp(der, ed25519_spki, sizeof(ed25519_spki)) != 0 ||
	    sodium_init() < 0) {
		free(der);
		return -1;
	}
	memcpy(k->ed, der + sizeof(ed25519_spki), 32);
	k->ed25519 = 1;
	core_sha256_hex(der, n, k->fingerprint);
	free(der);
	return 0;
}

int
core_key_is_ed25519(const struct core_key *k)
{
	return k->ed25519;
}

struct core_key *
core_key_load_public_pem(const char *pem, size_t len, const char *name,
    char *err, size_t errlen)
{
	struct core_key	*k;
	unsigned char	*copy;
	int		 rc;

	k = key_new();
	copy = malloc(len + 1);
	if (k == NULL || copy == NULL) {
		free(copy);
		core_key_free(k);
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	memcpy(copy, pem, len);
	copy[len] = '\0';
	rc = mbedtls_pk_parse_public_key(&k->pk, copy, len + 1);
	if (rc != 0 && ed25519_load(k, (const char *)copy) == 0) {
		free(copy);
		return k;
	}
	free(copy);
	if (rc != 0) {
		errset(err, errlen, "not a PEM public key", name, rc);
		core_key_free(k);
		return NULL;
	}
	if (key_finish(k) == -1) {
		snprintf(err, errlen, "%s: cannot encode the public key", name);
		core_key_free(k);
		return NULL;
	}
	return k;
}

struct core_key *
core_key_load_public(const char *path, char *err, size_t errlen)
{
	struct core_key	*k;
	size_t		 len;
	char		*text;

	text = read_small(path, 64 * 1024, &len, err, errlen);
	if (text == NULL)
		return NULL;
	k = core_key_load_public_pem(text, len, path, err, errlen);
	free(text);
	return k;
}

int
core_key_sign(struct core_key *k, const void *msg, size_t len,
    unsigned char *sig, size_t *siglen, char *err, size_t errlen)
{
	unsigned char	hash[32];
	int		rc;

	if (!k->has_private) {
		snprintf(err, errlen, "a public key cannot sign");
		return -1;
	}
	mbedtls_sha256_ret(msg, len, hash, 0);
	rc = mbedtls_pk_sign(&k->pk, MBEDTLS_MD_SHA256, hash, sizeof(hash),
	    sig, siglen, mbedtls_ctr_drbg_random, &k->drbg);
	if (rc != 0) {
		errset(err, errlen, "failed", "signing", rc);
		return -1;
	}
	return 0;
}

int
core_key_verify(struct core_key *k, const void *msg, size_t len,
    const unsigned char *sig, size_t siglen)
{
	unsigned char	hash[32];

	if (k->ed25519)
		return siglen == crypto_sign_BYTES &&
		    crypto_sign_verify_detached(sig, msg, len, k->ed) == 0 ?
		    0 : -1;
	mbedtls_sha256_ret(msg, len, hash, 0);
	return core_key_verify_digest(k, hash, sig, siglen);
}

int
core_key_verify_digest(struct core_key *k, const unsigned char hash[32],
    const unsigned char *sig, size_t siglen)
{
	if (k->ed25519)
		return -1;	/* Ed25519 signs messages, not digests */
	return mbedtls_pk_verify(&k->pk, MBEDTLS_MD_SHA256, hash, 32, sig,
	    siglen) == 0 ? 0 : -1;
}

/* keygen */

/* PKCS#8 PrivateKeyInfo around mbedTLS's SEC1 ECPrivateKey, as cosign
 * stores it (x509.MarshalPKCS8PrivateKey). */
static int
pkcs8_der(mbedtls_pk_context *pk, unsigned char *buf, size_t size,
    unsigned char **start, size_t *len)
{
	unsigned char	 sec1[512], *p;
	size_t		 n = 0, alg;
	int		 s, rc;

/* mbedTLS writes ASN.1 backwards, from the end of buf */
#define PUT(expr) do {							\
	rc = (expr);							\
	if (rc < 0)							\
		return -1;						\
	n += (size_t)rc;						\
} while (0)

	s = mbedtls_pk_write_key_der(pk, sec1, sizeof(sec1));
	if (s < 0)
		return -1;
	p = buf + size;
	rc = mbedtls_asn1_write_raw_buffer(&p, buf, sec1 + sizeof(sec1) - s,
	    (size_t)s);
	mbedtls_platform_zeroize(sec1, sizeof(sec1));
	if (rc < 0)
		return -1;
	n += (size_t)rc;
	PUT(mbedtls_asn1_write_len(&p, buf, n));
	PUT(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_OCTET_STRING));
	/* AlgorithmIdentifier { id-ecPublicKey, prime256v1 } */
	rc = mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_EC_GRP_SECP256R1,
	    MBEDTLS_OID_SIZE(MBEDTLS_OID_EC_GRP_SECP256R1));
	if (rc < 0)
		return -1;
	alg = (size_t)rc;
	PUT(mbedtls_asn1_write_algorithm_identifier(&p, buf,
	    MBEDTLS_OID_EC_ALG_UNRESTRICTED,
	    MBEDTLS_OID_SIZE(MBEDTLS_OID_EC_ALG_UNRESTRICTED), alg));
	PUT(mbedtls_asn1_write_int(&p, buf, 0));
	PUT(mbedtls_asn1_write_len(&p, buf, n));
	PUT(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
	    MBEDTLS_ASN1_SEQUENCE));
#undef PUT
	*start = p;
	*len = n;
	return 0;
}


int
core_cosign_encrypt(const unsigned char *der, size_t derlen,
    const char *password, char **pem, char *err, size_t errlen)
{
	unsigned char	 salt[SALT_LEN], nonce[crypto_secretbox_NONCEBYTES];
	unsigned char	 key[32], *ct;
	char		*salt64, *nonce64, *ct64, *json, *body, *out;
	size_t		 clen = derlen + crypto_secretbox_MACBYTES, jlen, i, o;
	json_t		*j;

	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(nonce, sizeof(nonce));
	if (crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *)password,
	    strlen(password), salt, sizeof(salt), KEYGEN_N, 8, 1, key,
	    sizeof(key)) != 0) {
		snprintf(err, errlen, "scrypt failed");
		return -1;
	}
	ct = malloc(clen);
	if (ct == NULL) {
		sodium_memzero(key, sizeof(key));
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	crypto_secretbox_easy(ct, der, derlen, nonce, key);
	sodium_memzero(key, sizeof(key));
	salt64 = core_b64_encode(salt, sizeof(salt));
	nonce64 = core_b64_encode(nonce, sizeof(nonce));
	ct64 = core_b64_encode(ct, clen);
	free(ct);
	j = json_pack("{s:{s:s, s:{s:i, s:i, s:i}, s:s}, s:{s:s, s:s}, s:s}",
	    "kdf", "name", "scrypt", "params", "N", KEYGEN_N, "r", 8, "p", 1,
	    "salt", salt64 ? salt64 : "", "cipher", "name", "nacl/secretbox",
	    "nonce", nonce64 ? nonce64 : "", "ciphertext", ct64 ? ct64 : "");
	json = j != NULL && salt64 && nonce64 && ct64 ?
	    json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	free(salt64);
	free(nonce64);
	free(ct64);
	if (json == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	jlen = strlen(json);
	body = core_b64_encode(json, jlen);
	free(json);
	out = body != NULL ? malloc(strlen(body) + strlen(body) / 64 + 200) :
	    NULL;
	if (out == NULL) {
		free(body);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* PEM: 64-character lines */
	o = (size_t)sprintf(out, "-----BEGIN " PEM_SIGSTORE "-----\n");
	for (i = 0; body[i] != '\0'; i++) {
		out[o++] = body[i];
		if (i % 64 == 63)
			out[o++] = '\n';
	}
	if (i % 64 != 0)
		out[o++] = '\n';
	o += (size_t)sprintf(out + o, "-----END " PEM_SIGSTORE "-----\n");
	free(body);
	*pem = out;
	return 0;
}

static int
write_new_file(const char *path, const char *data, mode_t mode, char *err,
    size_t errlen)
{
	size_t	len = strlen(data);
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

int
core_keygen(const char *prefix, const char *password, char *err,
    size_t errlen)
{
	struct core_key	*k;
	unsigned char	 der[1024], *p;
	size_t		 derlen;
	char		*pem = NULL, pub[1024], keypath[4096], pubpath[4096];
	int		 rc = -1;

	snprintf(keypath, sizeof(keypath), "%s.key", prefix);
	snprintf(pubpath, sizeof(pubpath), "%s.pub", prefix);
	if (access(keypath, F_OK) == 0 || access(pubpath, F_OK) == 0) {
		snprintf(err, errlen, "%s or %s exists: not overwriting it",
		    keypath, pubpath);
		return -1;
	}
	k = key_new();
	if (k == NULL || mbedtls_pk_setup(&k->pk,
	    mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(k->pk),
	    mbedtls_ctr_drbg_random, &k->drbg) != 0) {
		snprintf(err, errlen, "cannot generate an ECDSA P-256 key");
		goto done;
	}
	if (pkcs8_der(&k->pk, der, sizeof(der), &p, &derlen) == -1 ||
	    mbedtls_pk_write_pubkey_pem(&k->pk, (unsigned char *)pub,
	    sizeof(pub)) != 0) {
		snprintf(err, errlen, "cannot encode the key");
		goto done;
	}
	if (core_cosign_encrypt(p, derlen, password, &pem, err, errlen) == -1)
		goto done;
	if (write_new_file(keypath, pem, 0600, err, errlen) == -1)
		goto done;
	if (write_new_file(pubpath, pub, 0644, err, errlen) == -1) {
		unlink(keypath);
		goto done;
	}
	rc = 0;
done:
	mbedtls_platform_zeroize(der, sizeof(der));
	free(pem);
	core_key_free(k);
	return rc;
}

int
core_key_public_pem(const struct core_key *k, char *buf, size_t len)
{
	unsigned char	der[sizeof(ed25519_spki) + 32];
	size_t		olen;

	if (k->ed25519) {
		memcpy(der, ed25519_spki, sizeof(ed25519_spki));
		memcpy(der + sizeof(ed25519_spki), k->ed, 32);
		/* 44 bytes: one base64 line of 60 characters */
		if (len < 128)
			return -1;
		strcpy(buf, "-----BEGIN PUBLIC KEY-----\n");
		if (mbedtls_base64_encode((unsigned char *)buf + strlen(buf),
		    len - strlen(buf), &olen, der, sizeof(der)) != 0)
			return -1;
		strcat(buf, "\n-----END PUBLIC KEY-----\n");
		return 0;
	}
	return mbedtls_pk_write_pubkey_pem((mbedtls_pk_context *)&k->pk,
	    (unsigned char *)buf, len) == 0 ? 0 : -1;
}
