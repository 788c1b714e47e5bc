/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config: the config file parser (src/cli/config.c, inih's ini_parse_string through
 * lk_config_parse_string, the same per-line handler and settings table as a file). The
 * input, up to its first NUL, is the text of a config file. The result is 0 or 2 (usage);
 * parsing the same text twice gives the same answer and the very same struct; on success
 * every string setting is NUL-terminated within its field. The parser prints its
 * complaints to stderr: replay.sh runs this target with -close_fd_mask=2.
 * abort() on any violation.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/config.h"
#include "fuzz_util.h"

static struct lk_config a, b;

#define TERMINATED(f) (memchr((f), '\0', sizeof(f)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup(data, size);
	int ra = lk_config_parse_string(&a, text);
	int rb = lk_config_parse_string(&b, text);

	check(ra == 0 || ra == 2);
	check(ra == rb);
	check(memcmp(&a, &b, sizeof a) == 0);
	if (ra == 0) {
		check(TERMINATED(a.store) && TERMINATED(a.samesite) && TERMINATED(a.signing_alg));
		check(TERMINATED(a.master_key_file) && TERMINATED(a.srv.listen));
		check(TERMINATED(a.srv.issuer) && TERMINATED(a.srv.trusted_proxies));
		check(TERMINATED(a.auth.tok.audience) && TERMINATED(a.auth.tok.user_scopes));
		check(TERMINATED(a.auth.tok.resource_servers));
		check(a.issuer_set == (a.srv.issuer[0] != '\0'));
	}
	free(text);
	return 0;
}
