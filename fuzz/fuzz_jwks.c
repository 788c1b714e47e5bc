/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jwks: the input is one JWKS document (or a bare JWK). When lk_jwks_parse accepts
 * it, lk_jwks_to_json must succeed, its output must parse again, and serialising that
 * second set must give the same bytes (the published form is a fixed point), and parsing
 * the input twice must publish the same keys.
 * Every usable key of the set is also serialised on its own. abort() on any violation.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latchkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lk_jwks *set = (lk_jwks *)1, *again = (lk_jwks *)1;
	struct lk_errinfo ei;
	char *j1 = (char *)1, *j2 = NULL;
	size_t l1 = 0, l2 = 0;
	enum lk_err e;

	memset(&ei, 0, sizeof ei);
	e = lk_jwks_parse((const char *)data, size, &set, &ei);
	if (e != LK_OK) {
		check(set == NULL);
		check(ei.code == e);
		check(lk_err_class(e) != LK_CLASS_OK);
		return 0;
	}
	check(set != NULL);

	size_t n = lk_jwks_count(set);
	check(n <= LK_MAX_JWKS_KEYS);
	for (size_t i = 0; i < n; i++) {
		const lk_jwk *k = lk_jwks_get(set, i);
		if (!k)
			continue; /* kept but unusable */
		check(!lk_jwk_is_private(k) || lk_jwk_algs(k) & LK_ALG_HMAC); /* private dropped */
		(void)lk_jwk_kid(k);
		(void)lk_jwk_algs(k);
		char *kj = NULL;
		if (lk_jwk_to_json(k, 0, &kj, NULL) == LK_OK)
			free(kj);
	}
	check(lk_jwks_get(set, n) == NULL);

	/* same input, same answer: a second parse publishes the same keys */
	lk_jwks *set2 = NULL;
	char *j0 = NULL;
	memset(&ei, 0, sizeof ei);
	check(lk_jwks_parse((const char *)data, size, &set2, &ei) == LK_OK);
	check(lk_jwks_count(set2) == n);
	check(lk_jwks_to_json(set2, &j0, NULL) == LK_OK);

	check(lk_jwks_ref(set) == set);
	lk_jwks_free(set);

	e = lk_jwks_to_json(set, &j1, &l1);
	check(e == LK_OK && j1 != NULL && l1 == strlen(j1));
	if (strcmp(j0, j1) != 0) {
		fprintf(stderr, "fuzz_jwks: nondeterministic parse, two parses publish:\n%s\n%s\n", j1, j0);
		abort();
	}
	free(j0);
	lk_jwks_free(set2);

	memset(&ei, 0, sizeof ei);
	e = lk_jwks_parse(j1, l1, &again, &ei);
	if (e != LK_OK) { /* the library cannot read its own JWKS */
		fprintf(stderr, "fuzz_jwks: re-parse of own JSON failed: %s (%s)\n%.*s\n",
			lk_err_str(e), ei.detail, (int)l1, j1);
		abort();
	}
	check(again != NULL);

	e = lk_jwks_to_json(again, &j2, &l2);
	check(e == LK_OK && j2 != NULL);
	if (l1 != l2 || memcmp(j1, j2, l1) != 0) {
		fprintf(stderr, "fuzz_jwks: JSON differs after a round trip:\n%s\n%s\n", j1, j2);
		abort();
	}
	/* every key in the published form is usable */
	for (size_t i = 0; i < lk_jwks_count(again); i++)
		check(lk_jwks_get(again, i) != NULL);

	free(j1);
	free(j2);
	lk_jwks_free(again);
	lk_jwks_free(set);
	return 0;
}
