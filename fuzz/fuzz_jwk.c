/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jwk: the input is one JWK. When lk_jwk_parse accepts it, its JSON (private form,
 * and public form unless it is an oct key or its key_ops lack "verify") must parse again into a key whose JSON is
 * byte for byte the same, with the same thumbprint, kid and algorithms: serialisation is
 * a fixed point after one round. Parsing the same input twice gives the same answer.
 * abort() on any violation.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "latchkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static int same_str(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Does key carry key_ops without "verify" (read from its private form, which keeps them
 * in full)? Such a key has no public form: its public half would verify nothing. */
static int verify_forbidden(const lk_jwk *key)
{
	char *j = NULL;
	size_t l = 0;
	int forbidden = 0;
	check(lk_jwk_to_json(key, 1, &j, &l) == LK_OK);
	json_t *o = json_loadb(j, l, 0, NULL), *ops, *v;
	size_t i;
	check(o != NULL);
	if ((ops = json_object_get(o, "key_ops"))) {
		forbidden = 1;
		json_array_foreach(ops, i, v)
			if (json_is_string(v) && strcmp(json_string_value(v), "verify") == 0)
				forbidden = 0;
	}
	json_decref(o);
	free(j);
	return forbidden;
}

/* key's JSON (private_part pp) must re-parse to an equivalent key with identical JSON. */
static void roundtrip(const lk_jwk *key, int pp)
{
	char *j1 = (char *)1, *j2 = NULL;
	size_t l1 = 0, l2 = 0;
	lk_jwk *again = (lk_jwk *)1;
	struct lk_errinfo ei;
	enum lk_err e;

	e = lk_jwk_to_json(key, pp, &j1, &l1);
	if (e != LK_OK) {
		check(j1 == NULL);
		/* only an oct key, or one whose key_ops forbid verifying, lacks a public form;
		 * a public key may refuse a private one */
		check((!pp && e == LK_EUNSUPPORTED) || (!pp && e == LK_EKEY_USE && verify_forbidden(key)) ||
		      (pp && !lk_jwk_is_private(key) && e == LK_ENO_PRIVATE));
		return;
	}
	check(j1 != NULL && l1 == strlen(j1));

	memset(&ei, 0, sizeof ei);
	e = lk_jwk_parse(j1, l1, &again, &ei);
	if (e != LK_OK) { /* the library cannot read its own output */
		fprintf(stderr, "fuzz_jwk: re-parse of own JSON failed: %s (%s)\n%.*s\n",
			lk_err_str(e), ei.detail, (int)l1, j1);
		abort();
	}
	check(again != NULL);

	e = lk_jwk_to_json(again, pp, &j2, &l2);
	check(e == LK_OK && j2 != NULL);
	if (l1 != l2 || memcmp(j1, j2, l1) != 0) {
		fprintf(stderr, "fuzz_jwk: JSON differs after a round trip:\n%s\n%s\n", j1, j2);
		abort();
	}

	check(same_str(lk_jwk_kid(key), lk_jwk_kid(again)));
	check(lk_jwk_alg(key) == lk_jwk_alg(again));
	check(lk_jwk_algs(key) == lk_jwk_algs(again));
	check(lk_jwk_is_private(again) == (pp && lk_jwk_is_private(key)));

	char t1[64], t2[64];
	if (lk_jwk_thumbprint(key, t1, sizeof t1) == LK_OK) {
		check(lk_jwk_thumbprint(again, t2, sizeof t2) == LK_OK);
		check(strcmp(t1, t2) == 0);
	}

	free(j1);
	free(j2);
	lk_jwk_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lk_jwk *key = (lk_jwk *)1;
	struct lk_errinfo ei;
	enum lk_err e;

	memset(&ei, 0, sizeof ei);
	e = lk_jwk_parse((const char *)data, size, &key, &ei);

	/* same input, same answer: a second parse must agree with the first */
	lk_jwk *key2 = NULL;
	struct lk_errinfo ei2;
	enum lk_err e2 = lk_jwk_parse((const char *)data, size, &key2, &ei2);
	if (e2 != e) {
		fprintf(stderr, "fuzz_jwk: nondeterministic parse: first %s (%s), then %s (%s)\n",
			lk_err_str(e), e ? ei.detail : "", lk_err_str(e2), e2 ? ei2.detail : "");
		abort();
	}
	lk_jwk_free(key2);

	if (e != LK_OK) {
		check(key == NULL);
		check(ei.code == e);
		check(lk_err_class(e) != LK_CLASS_OK);
		return 0;
	}
	check(key != NULL);

	/* reference counting: one extra reference, released again */
	check(lk_jwk_ref(key) == key);
	lk_jwk_free(key);

	(void)lk_alg_name(lk_jwk_alg(key));
	roundtrip(key, 1);
	roundtrip(key, 0);
	lk_jwk_free(key);
	return 0;
}
