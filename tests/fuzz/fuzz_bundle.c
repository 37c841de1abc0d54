/*
 * Fuzz target: a Sigstore bundle (core_bundle_verify): its JSON, the DSSE
 * envelope and statement or the message signature, the key or certificate,
 * the Rekor v1 and v2 entries (SET, inclusion proof, checkpoint, body).
 * The fixed side: the real cosign v3 bundle's key and the worked example's
 * signer and log key, an Ed25519 log key (data/rekor2.pub), a keyless
 * root (data/root.pem); the digests the seeds sign.  A verdict that holds
 * must name a trusted signer.
 */
#include "fuzz.h"
#include "core/core.h"

static struct core_key		*keys[2], *logs[2];
static struct core_keyless	 kl;
static struct core_trust	 trust;

static const char *const digests[] = {
	"sha256:5099b89d7666cc2186cad769ddc262ddc7c335b33f5fe79f9ffe50a01282b23e",
	"sha256:1a244e0b3d39ad8a7b4a569ac0416b1fdb55fa3f84eb109f3cab560891695392",
};

static struct core_key *
load(const char *rel)
{
	char		 err[256];
	struct core_key	*k = core_key_load_public(fuzz_path(rel), err,
			    sizeof(err));

	if (k == NULL) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	return k;
}

static void
setup(void)
{
	char	err[256];

	if (keys[0] != NULL)
		return;
	keys[0] = load("tests/vectors/bundles/cosign-v3-keyed/key.pub");
	keys[1] = load("tests/vectors/worked-example/cosign.pub");
	logs[0] = load("tests/vectors/worked-example/rekor.pub");
	logs[1] = load("tests/fuzz/data/rekor2.pub");
	kl.roots = core_roots_load(fuzz_path("tests/fuzz/data/root.pem"), err,
	    sizeof(err));
	kl.identity = "ci@example.com";
	kl.issuer_re = "^https://";
	trust.keys = keys;
	trust.nkeys = 2;
	trust.rekor = logs;
	trust.nrekor = 2;
	trust.keyless = &kl;
	trust.nkeyless = kl.roots != NULL ? 1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct core_bundle_ok	 ok;
	char			 reason[400];
	size_t			 i;
	int			 req, online;

	setup();
	for (i = 0; i < sizeof(digests) / sizeof(*digests); i++)
		for (req = 0; req < 2; req++)
			for (online = 0; online < 2; online++) {
				trust.rekor_required = req;
				if (core_bundle_verify(&trust, digests[i],
				    (const char *)data, size, online, &ok,
				    reason, sizeof(reason)) == -1)
					continue;
				/* what verified names a signer and a payload,
				 * and a v1 entry when online */
				if (ok.signer[0] == '\0' || ok.payload == NULL ||
				    (online && ok.rekor == NULL))
					abort();
				free(ok.payload);
				free(ok.rekor);
			}
	return 0;
}
