/*
 * Fuzz target: the verification driver fed by a hostile registry: the
 * first byte splits the rest into a signature list and the answers to
 * each later request (status from the answer's first byte): payloads,
 * and with bit 0x40 of the first byte the referrers (index, referrer
 * manifests, bundles).  Whatever comes, the driver must end with a verdict
 * and a reason.
 */
#include "fuzz.h"
#include "core/core.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct core_key	*key;
	struct core_key		*keys[1];
	struct core_trust	 t;
	struct core_vopts	 o;
	struct core_vneed	 need;
	struct core_verifier	*v;
	const char		*reason;
	char			 err[256];
	size_t			 cut, off, steps = 0;

	if (key == NULL) {
		key = core_key_load_public(fuzz_path(
		    "tests/vectors/worked-example/cosign.pub"), err,
		    sizeof(err));
		if (key == NULL)
			abort();
	}
	if (size < 2)
		return 0;
	keys[0] = key;
	memset(&t, 0, sizeof(t));
	t.keys = keys;
	t.nkeys = 1;
	memset(&o, 0, sizeof(o));
	o.trust = &t;
	o.threshold = 1 + data[0] % 3;
	o.all = data[0] & 0x80;
	/* cosign v3's referrers too: the index, a referrer, its bundle */
	o.bundles = (data[0] & 0x40) != 0;
	o.no_sig = o.bundles && (data[0] & 0x20) != 0;
	v = core_verifier_new(&o, "sha256:ae1a1fa654c3c7295ae6e0a5a46d30cc0af9"
	    "cbba1bdb4e88cc6d3c4c9d3fbf89");
	cut = 1 + (size - 1) * (data[1] % 64) / 64;
	off = cut;
	while (core_verifier_next(v, &need) != CORE_VN_DONE) {
		if (++steps > 1000)
			__builtin_trap();	/* the driver must end */
		if (need.kind == CORE_VN_LIST) {
			core_verifier_feed(v, 200, (const char *)data + 2,
			    cut > 2 ? cut - 2 : 0, NULL);
			continue;
		}
		if (off >= size) {
			core_verifier_feed(v, 404, NULL, 0, NULL);
			continue;
		}
		/* one answer: a status byte, a length byte, the body */
		{
			int	st = data[off] % 4 == 0 ? 200 : data[off] % 4 ==
				    1 ? 404 : data[off] % 4 == 2 ? 503 : 0;
			size_t	n = off + 1 < size ? data[off + 1] * 4 : 0;

			off += 2;
			if (off + n > size)
				n = size > off ? size - off : 0;
			core_verifier_feed(v, st, (const char *)data + off, n,
			    st == 0 ? "fuzz: no answer" : NULL);
			off += n;
		}
	}
	(void)core_verifier_verdict(v, &reason);
	if (reason == NULL || *reason == '\0')
		__builtin_trap();
	core_verifier_free(v);
	return 0;
}
