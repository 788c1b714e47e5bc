/* SPDX-License-Identifier: MIT */
/*
 * lkcheck: an independent verifier process for the tests, built on liblatchkey alone
 * (public API, nothing of the server). It makes one lk_verifier from an issuer URL (with
 * the client credentials in LATCHKEY_CLIENT_ID / LATCHKEY_CLIENT_SECRET, it subscribes to
 * the revocation stream) and answers commands on stdin, one line each:
 *
 *   verify TOKEN       -> "ok SUB" | "invalid REASON"
 *   until TOKEN MS     -> verify every millisecond until refused or MS pass:
 *                         "invalid REASON ELAPSED_MS" | "ok SUB ELAPSED_MS"
 *   untilok TOKEN MS   -> the same until accepted
 *   stats              -> one JSON object (lk_verifier_stats)
 *
 * usage: lkcheck --issuer URL [--iss ISS] [--max-stale S] [--jwks-refresh S]
 *                [--kid-cooldown S]
 * Prints "ready" once the verifier is made, or "error REASON: DETAIL" and exits 2.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "latchkey.h"

static double ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static enum lk_err check(lk_verifier *v, const char *tok, char *sub, size_t size)
{
	lk_jwt *j = NULL;
	enum lk_err err = lk_verifier_verify(v, tok, strlen(tok), &j, NULL);
	if (!err) {
		const char *s = lk_jwt_claim_str(j, "sub");
		snprintf(sub, size, "%s", s ? s : "");
		lk_jwt_free(j);
	}
	return err;
}

int main(int argc, char **argv)
{
	struct lk_verifier_config c = {0};
	struct lk_errinfo ei = {0};
	lk_verifier *v = NULL;
	char line[LK_MAX_TOKEN + 64], sub[256];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--issuer"))
			c.issuer = argv[i + 1];
		else if (!strcmp(argv[i], "--iss"))
			c.iss = argv[i + 1];
		else if (!strcmp(argv[i], "--max-stale"))
			c.max_stale = atoll(argv[i + 1]);
		else if (!strcmp(argv[i], "--jwks-refresh"))
			c.jwks_refresh = atoll(argv[i + 1]);
		else if (!strcmp(argv[i], "--kid-cooldown"))
			c.kid_cooldown = atoll(argv[i + 1]);
		else {
			fprintf(stderr, "lkcheck: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	c.client_id = getenv("LATCHKEY_CLIENT_ID");
	c.client_secret = getenv("LATCHKEY_CLIENT_SECRET");
	enum lk_err err = lk_verifier_new(&c, &v, &ei);
	if (err) {
		printf("error %s: %s\n", lk_err_str(err), ei.detail);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *cmd = strtok(line, " "), *tok = strtok(NULL, " "), *arg = strtok(NULL, " ");
		if (!cmd)
			continue;
		if (!strcmp(cmd, "stats")) {
			struct lk_verifier_stats s;
			lk_verifier_stats(v, &s);
			printf("{\"cursor\":%lld,\"last_contact\":%lld,\"subscribed\":%d,"
			       "\"revocations\":%zu,\"denylist_bytes\":%zu,\"jwks_fetches\":%llu,"
			       "\"reconnects\":%llu,\"cache_hits\":%llu,\"cache_misses\":%llu,"
			       "\"auth_failures\":%llu,\"feed_errors\":%llu}\n",
			       (long long)s.cursor, (long long)s.last_contact, s.subscribed,
			       s.revocations, s.denylist_bytes, (unsigned long long)s.jwks_fetches,
			       (unsigned long long)s.reconnects, (unsigned long long)s.cache_hits,
			       (unsigned long long)s.cache_misses,
			       (unsigned long long)s.auth_failures, (unsigned long long)s.feed_errors);
		} else if (!strcmp(cmd, "verify") && tok) {
			err = check(v, tok, sub, sizeof sub);
			if (err)
				printf("invalid %s\n", lk_err_str(err));
			else
				printf("ok %s\n", sub);
		} else if ((!strcmp(cmd, "until") || !strcmp(cmd, "untilok")) && tok && arg) {
			double t0 = ms_now(), limit = atof(arg);
			struct timespec ms = {0, 1000 * 1000};
			bool want_ok = cmd[5] == 'o';
			while (((err = check(v, tok, sub, sizeof sub)) != LK_OK) == want_ok &&
			       ms_now() - t0 < limit)
				nanosleep(&ms, NULL);
			if (err)
				printf("invalid %s %.1f\n", lk_err_str(err), ms_now() - t0);
			else
				printf("ok %s %.1f\n", sub, ms_now() - t0);
		} else {
			printf("error usage: verify TOKEN | until TOKEN MS | untilok TOKEN MS | stats\n");
		}
	}
	lk_verifier_free(v);
	return 0;
}
