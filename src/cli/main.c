/* SPDX-License-Identifier: MIT */
/*
 * latchkey: the command line entry point. Dispatches to subcommands; each returns its
 * exit code (0 ok, 1 failed as asked, 2 usage error).
 */
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <sodium.h>

#include "cli/cli.h"
#include "latchkey.h"

static const char usage[] =
	"latchkey " LK_VERSION ": sessions, JWTs and the hybrid of the two\n"
	"\n"
	"usage:\n"
	"  latchkey serve [--listen ADDR:PORT] [--store URL] [--issuer URL] [--config FILE]\n"
	"                 [--insecure-cookies] [--SETTING VALUE]...   (serve --help lists all)\n"
	"  latchkey user add NAME [--role ROLE]... | passwd NAME | del NAME | list [--json]\n"
	"                                 passwords from stdin (one line) or prompted twice\n"
	"  latchkey sessions list [--user NAME] [--json]\n"
	"  latchkey sessions revoke SESSION_ID | --user NAME | --all\n"
	"  latchkey audit list [--limit N] [--json]\n"
	"  latchkey client add NAME [--scope \"a b\"]  prints client_id and client_secret once\n"
	"  latchkey keys list | keys rotate    the server's signing key ring, in the store\n"
	"                                 store commands take --store URL (or LATCHKEY_STORE)\n"
	"  latchkey jwk generate --alg ALG [--kid KID] [--out FILE]\n"
	"                                 a new private JWK on stdout (or FILE, mode 0600)\n"
	"  latchkey jwk public FILE|-     the public JWKS of a private JWK or JWKS\n"
	"  latchkey jwt decode [--json] TOKEN|-\n"
	"                                 header and payload, times in human form; no key needed\n"
	"  latchkey jwt verify --jwks FILE|URL [--alg A[,A...]] [--iss ISS] [--aud AUD]\n"
	"                      [--leeway SECONDS] [--now UNIX] TOKEN|-\n"
	"                                 exit 0 + payload; exit 1 + `invalid: REASON`; exit 2 usage\n"
	"  latchkey jwt sign --key JWK_FILE [--exp-in DURATION] CLAIMS_JSON|-\n"
	"  latchkey version\n"
	"\n"
	"ALG: HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA\n"
	"";

int main(int argc, char **argv)
{
	int rc;

	if (argc < 2) {
		fputs(usage, stderr);
		return LK_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return LK_EXIT_OK;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("latchkey %s (%s, libsodium %s, jansson %s, %s)\n", LK_VERSION,
		       OpenSSL_version(OPENSSL_VERSION), sodium_version_string(), jansson_version_str(),
		       curl_version());
		return LK_EXIT_OK;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(argv[1], "jwt") == 0)
		rc = lk_cli_jwt(argc - 1, argv + 1);
	else if (strcmp(argv[1], "jwk") == 0)
		rc = lk_cli_jwk(argc - 1, argv + 1);
	else if (strcmp(argv[1], "serve") == 0)
		rc = lk_cli_serve(argc - 1, argv + 1);
	else if (strcmp(argv[1], "user") == 0)
		rc = lk_cli_user(argc - 1, argv + 1);
	else if (strcmp(argv[1], "sessions") == 0)
		rc = lk_cli_sessions(argc - 1, argv + 1);
	else if (strcmp(argv[1], "audit") == 0)
		rc = lk_cli_audit(argc - 1, argv + 1);
	else if (strcmp(argv[1], "keys") == 0)
		rc = lk_cli_keys(argc - 1, argv + 1);
	else if (strcmp(argv[1], "client") == 0)
		rc = lk_cli_client(argc - 1, argv + 1);
	else {
		fprintf(stderr, "latchkey: unknown command \"%s\"\n\n%s", argv[1], usage);
		rc = LK_EXIT_USAGE;
	}
	lk_thread_cleanup();
	curl_global_cleanup();
	return rc;
}
