/*
 * proxy/cmd/main.c: the signet command line: one command, one file.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: signet serve -c FILE         run the proxy\n"
	    "       signet check-config -c FILE  validate a configuration\n"
	    "       signet keygen [--output-key-prefix P]\n"
	    "                                    write P.key (cosign's encrypted\n"
	    "                                    format) and P.pub; password from\n"
	    "                                    COSIGN_PASSWORD or a prompt\n"
	    "       signet sign --key KEY [--allow-http] [--registry-username U\n"
	    "                   --registry-password P] REGISTRY/REPO(:TAG|@DIGEST)\n"
	    "                                    sign an image already in a registry\n"
	    "       signet verify-blob --key PUB --signature SIG [--rekor-bundle FILE]\n"
	    "                   [--rekor-key PUB] [--manifest FILE] PAYLOAD\n"
	    "       signet verify-blob --certificate PEM [--certificate-chain PEM]\n"
	    "                   --ca-roots PEM --certificate-identity ID\n"
	    "                   --certificate-oidc-issuer ISSUER --signature SIG\n"
	    "                   --rekor-bundle FILE --rekor-key PUB PAYLOAD\n"
	    "       signet verify-blob --bundle FILE (--key PUB | --ca-roots PEM\n"
	    "                   --certificate-identity ID --certificate-oidc-issuer\n"
	    "                   ISSUER) [--rekor-key PUB]... BLOB\n"
	    "                                    verify one signature (exit 0/1/2)\n"
	    "       signet verify (--key PUB ... | --ca-roots PEM\n"
	    "                   --certificate-identity ID --certificate-oidc-issuer\n"
	    "                   ISSUER | --policy FILE) [--rekor-key PUB]\n"
	    "                   [--threshold N] [--identity repository|any]\n"
	    "                   [--signature-repository REPO] [--allow-http]\n"
	    "                   REGISTRY/REPO(:TAG|@DIGEST)\n"
	    "                                    verify an image's signatures\n"
	    "       signet copy [--all] [--platform OS/ARCH] [--verify --key PUB |\n"
	    "                   --verify --policy FILE] [--signature-repository\n"
	    "                   REPO] [--allow-http] SRC DST\n"
	    "                                    copy an image and its signatures\n"
	    "       signet gc [--dry-run] [--allow-http] REGISTRY/REPO\n"
	    "                                    delete orphaned signature objects\n"
	    "       signet version\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "serve") == 0)
		return px_cmd_serve(argc, argv);
	if (strcmp(argv[1], "check-config") == 0)
		return px_cmd_check_config(argc, argv);
	if (strcmp(argv[1], "keygen") == 0)
		return px_cmd_keygen(argc, argv);
	if (strcmp(argv[1], "sign") == 0)
		return px_cmd_sign(argc, argv);
	if (strcmp(argv[1], "verify-blob") == 0)
		return px_cmd_verify_blob(argc, argv);
	if (strcmp(argv[1], "verify") == 0)
		return px_cmd_verify(argc, argv);
	if (strcmp(argv[1], "gc") == 0)
		return px_cmd_gc(argc, argv);
	if (strcmp(argv[1], "copy") == 0)
		return px_cmd_copy(argc, argv);
	if (strcmp(argv[1], "version") == 0 ||
	    strcmp(argv[1], "--version") == 0) {
		if (argc > 2) {
			fprintf(stderr, "signet: version: unexpected argument: "
			    "%s\nusage: signet version\n", argv[2]);
			return 2;
		}
		printf("signet %s\n", PACKAGE_VERSION);
		return 0;
	}
	if ((strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) && argc == 2) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "signet: unknown command: %s\n", argv[1]);
	usage(stderr);
	return 2;
}

