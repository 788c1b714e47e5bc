/* SPDX-License-Identifier: MIT */
/*
 * propagation: how long a revocation takes to reach a verifier (issue 13, benchmark (a)).
 *
 * One lk_verifier in this process, made from the issuer URL and subscribed to its
 * revocation stream with the feed client's credentials (LATCHKEY_CLIENT_ID/SECRET). For
 * each of N rounds: a password grant (client APP_ID/APP_SECRET, user USER/PASSWORD) gives
 * an access token, which must verify; then POST /oauth2/revoke of it (to REVOKE_URL, which
 * may be another instance on the same store), and from the moment that response has been
 * read, lk_verifier_verify is called in a loop until it answers LK_EREVOKED, yielding the
 * CPU between calls (sched_yield: on a 2-core machine a pure spin would starve the very
 * threads that carry the event). The time between is one sample. Prints p50, p90, p99 and max in microseconds, the number of
 * verifications made while waiting, and what the verifier fetched over the network during
 * the run (it never touches the store: it has no store connection at all).
 *
 * usage: propagation ISSUER REVOKE_BASE N   (env: LATCHKEY_CLIENT_ID, LATCHKEY_CLIENT_SECRET,
 *        APP_ID, APP_SECRET, USER, PASSWORD)
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>
#include "latchkey.h"

struct buf {
	char d[16384];
	size_t n;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t k = sz * n;
	if (b->n + k >= sizeof b->d)
		return 0;
	memcpy(b->d + b->n, p, k);
	b->n += k;
	b->d[b->n] = '\0';
	return k;
}

static double us_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static long post(CURL *c, const char *url, const char *body, struct buf *out)
{
	long status = 0;
	out->n = 0;
	out->d[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (curl_easy_perform(c) != CURLE_OK)
		return -1;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static const char *env(const char *n)
{
	const char *v = getenv(n);
	if (!v || !*v) {
		fprintf(stderr, "propagation: set %s\n", n);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: propagation ISSUER REVOKE_BASE N\n");
		return 2;
	}
	const char *issuer = argv[1], *rbase = argv[2];
	int n = atoi(argv[3]);
	struct lk_verifier_config cfg = {.issuer = issuer,
					 .client_id = env("LATCHKEY_CLIENT_ID"),
					 .client_secret = env("LATCHKEY_CLIENT_SECRET")};
	struct lk_errinfo ei = {0};
	lk_verifier *v = NULL;
	char url_tok[512], url_rev[512], body[1024];
	struct buf out;
	double *lat = calloc((size_t)n, sizeof *lat);
	unsigned long long spins = 0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!lat || n <= 0)
		return 2;
	if (lk_verifier_new(&cfg, &v, &ei)) {
		fprintf(stderr, "propagation: verifier: %s\n", ei.detail);
		return 1;
	}
	struct lk_verifier_stats s0;
	lk_verifier_stats(v, &s0);
	snprintf(url_tok, sizeof url_tok, "%s/oauth2/token", issuer);
	snprintf(url_rev, sizeof url_rev, "%s/oauth2/revoke", rbase);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_USERNAME, env("APP_ID"));
	curl_easy_setopt(c, CURLOPT_PASSWORD, env("APP_SECRET"));
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	char *u = curl_easy_escape(c, env("USER"), 0), *p = curl_easy_escape(c, env("PASSWORD"), 0);
	snprintf(body, sizeof body, "grant_type=password&username=%s&password=%s", u, p);
	curl_free(u);
	curl_free(p);

	for (int i = 0; i < n; i++) {
		char tok[LK_MAX_TOKEN + 1], rbody[LK_MAX_TOKEN + 16];
		if (post(c, url_tok, body, &out) != 200) {
			fprintf(stderr, "propagation: token request failed: %s\n", out.d);
			return 1;
		}
		json_t *j = json_loads(out.d, 0, NULL);
		const char *at = json_string_value(json_object_get(j, "access_token"));
		if (!at || strlen(at) > LK_MAX_TOKEN) {
			fprintf(stderr, "propagation: no access_token\n");
			return 1;
		}
		snprintf(tok, sizeof tok, "%s", at);
		json_decref(j);
		lk_jwt *jwt = NULL;
		enum lk_err err = lk_verifier_verify(v, tok, strlen(tok), &jwt, &ei);
		if (err) {
			fprintf(stderr, "propagation: fresh token refused: %s\n", lk_err_str(err));
			return 1;
		}
		lk_jwt_free(jwt);
		snprintf(rbody, sizeof rbody, "token=%s", tok);
		if (post(c, url_rev, rbody, &out) != 200) {
			fprintf(stderr, "propagation: revoke failed: %s\n", out.d);
			return 1;
		}
		double t0 = us_now(), t;
		for (;;) {
			err = lk_verifier_verify(v, tok, strlen(tok), &jwt, &ei);
			spins++;
			t = us_now();
			if (err == LK_EREVOKED)
				break;
			lk_jwt_free(jwt);
			jwt = NULL;
			if (err) {
				fprintf(stderr, "propagation: unexpected %s\n", lk_err_str(err));
				return 1;
			}
			sched_yield();
			if (t - t0 > 5e6) {
				fprintf(stderr, "propagation: round %d: not refused after 5 s\n", i);
				return 1;
			}
		}
		lat[i] = t - t0;
	}
	struct lk_verifier_stats s1;
	lk_verifier_stats(v, &s1);
	qsort(lat, (size_t)n, sizeof *lat, cmp);
	printf("rounds=%d p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f min_us=%.0f "
	       "verifications_while_waiting=%llu jwks_fetches=%llu reconnects=%llu "
	       "denylist=%zu\n",
	       n, lat[n / 2], lat[(int)(n * 0.9)], lat[(int)(n * 0.99)], lat[n - 1], lat[0], spins,
	       (unsigned long long)(s1.jwks_fetches - s0.jwks_fetches),
	       (unsigned long long)(s1.reconnects - s0.reconnects), s1.revocations);
	curl_easy_cleanup(c);
	lk_verifier_free(v);
	free(lat);
	curl_global_cleanup();
	return 0;
}
