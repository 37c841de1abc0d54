/*
 * Fuzz target: what a Rekor log hands signet: a bundle (offline check,
 * integrated time, entry UUID, logID), an entry answer (online check and
 * upload answer), a signed checkpoint.  The first byte picks which; the
 * worked example's keys, payload and signature are the fixed side.
 */
#include "fuzz.h"
#include "core/core.h"

static struct core_key	*logkey, *signer;
static char		*payload, *sig64, *bundle;
static size_t		 plen;

static char *
slurp(const char *rel, size_t *len)
{
	FILE	*fp = fopen(fuzz_path(rel), "rb");
	char	*buf;
	long	 n;

	if (fp == NULL)
		abort();
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, fp) != (size_t)n)
		abort();
	buf[n] = '\0';
	fclose(fp);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static void
setup(void)
{
	char	err[256], *der, *p;
	size_t	dlen, i, o = 0;
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	if (logkey != NULL)
		return;
	logkey = core_key_load_public(fuzz_path(
	    "tests/vectors/worked-example/rekor.pub"), err, sizeof(err));
	signer = core_key_load_public(fuzz_path(
	    "tests/vectors/worked-example/cosign.pub"), err, sizeof(err));
	payload = slurp("tests/vectors/worked-example/payload.json", &plen);
	bundle = slurp("tests/vectors/worked-example/bundle-annotation.json",
	    NULL);
	p = strrchr(bundle, '}');
	if (p != NULL)
		p[1] = '\0';
	der = slurp("tests/vectors/worked-example/signature.der", &dlen);
	sig64 = calloc(1, 4 * dlen / 3 + 8);
	for (i = 0; i < dlen; i += 3) {
		unsigned v = (unsigned char)der[i] << 16;

		v |= i + 1 < dlen ? (unsigned char)der[i + 1] << 8 : 0;
		v |= i + 2 < dlen ? (unsigned char)der[i + 2] : 0;
		sig64[o++] = b64[v >> 18 & 63];
		sig64[o++] = b64[v >> 12 & 63];
		sig64[o++] = i + 1 < dlen ? b64[v >> 6 & 63] : '=';
		sig64[o++] = i + 2 < dlen ? b64[v & 63] : '=';
	}
	free(der);
	if (logkey == NULL || signer == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct core_checkpoint	 cp;
	char			 reason[300], uuid[65], *in, *out = NULL;
	time_t			 at;

	setup();
	if (size == 0)
		return 0;
	in = fuzz_str(data + 1, size - 1);
	switch (data[0] % 5) {
	case 0:
		(void)core_rekor_check_bundle(&logkey, 1, in, payload, plen,
		    sig64, signer, reason, sizeof(reason));
		(void)core_rekor_bundle_time(in, &at);
		(void)core_rekor_bundle_uuid(in, uuid);
		(void)core_rekor_bundle_logid(in, uuid);
		break;
	case 1:
		(void)core_rekor_check_online(&logkey, 1, in, size - 1, bundle,
		    &cp, reason, sizeof(reason));
		break;
	case 2:
		if (core_rekor_check_response(&logkey, 1, in, size - 1,
		    payload, plen, sig64, signer, &out, &cp, reason,
		    sizeof(reason)) == 0 && out == NULL)
			__builtin_trap();
		free(out);
		break;
	case 3:
		(void)core_checkpoint_verify(in, size - 1, &logkey, 1, &cp,
		    reason, sizeof(reason));
		break;
	default:
		(void)core_rekor_check_online(&logkey, 1, bundle,
		    strlen(bundle), in, &cp, reason, sizeof(reason));
		break;
	}
	free(in);
	return 0;
}
