/* SPDX-License-Identifier: MIT */
/*
 * test_verifier.c: the verifier's hot path without a network (keys and revocations fed
 * by hand, as the server feeds its own): the denylist rules (jti, sid, sub with before),
 * its growth and purge, the verified-token cache (a hit skips the signature but never
 * the time checks or the denylist), key replacement, and the configuration errors.
 */
#include <time.h>
#include <unistd.h>
#include "testutil.h"
#include "verify/denylist.h"

static lk_jwk *key_es256(void)
{
	lk_jwk *k = NULL;
	assert_int_equal(lk_jwk_generate(LK_ALG_ES256, "k1", &k, NULL), LK_OK);
	return k;
}

static lk_verifier *manual(lk_jwk *k, int64_t leeway)
{
	struct lk_verifier_config c = {.iss = "https://issuer.test", .leeway = leeway};
	lk_verifier *v = NULL;
	lk_jwks *set = NULL;
	struct lk_errinfo ei = {0};
	assert_int_equal(lk_verifier_new(&c, &v, &ei), LK_OK);
	assert_int_equal(lk_jwks_new(&k, 1, &set), LK_OK);
	assert_int_equal(lk_verifier_set_keys(v, set), LK_OK);
	lk_jwks_free(set);
	return v;
}

static char *token(const lk_jwk *k, const char *jti, const char *sid, const char *sub,
		   int64_t iat, int64_t exp)
{
	char claims[512], *t = NULL;
	snprintf(claims, sizeof claims,
		 "{\"iss\":\"https://issuer.test\",\"sub\":\"%s\",\"jti\":\"%s\",%s%s%s"
		 "\"iat\":%lld,\"exp\":%lld}",
		 sub, jti, sid ? "\"sid\":\"" : "", sid ? sid : "", sid ? "\"," : "",
		 (long long)iat, (long long)exp);
	assert_int_equal(lk_jws_sign(k, "at+jwt", claims, strlen(claims), &t, NULL, NULL), LK_OK);
	return t;
}

static enum lk_err check(lk_verifier *v, const char *t)
{
	lk_jwt *j = NULL;
	struct lk_errinfo ei = {0};
	enum lk_err err = lk_verifier_verify(v, t, strlen(t), &j, &ei);
	if (err) {
		assert_null(j);
		assert_int_equal(ei.code, err);
	} else {
		assert_non_null(j);
		assert_string_equal(lk_jwt_claim_str(j, "iss"), "https://issuer.test");
	}
	lk_jwt_free(j);
	return err;
}

static void deny(lk_verifier *v, const char *type, const char *value, int64_t before)
{
	struct lk_revocation_event ev = {.type = type, .value = value, .before = before,
					 .expires = time(NULL) + 600};
	assert_int_equal(lk_verifier_revoke(v, &ev), LK_OK);
}

static void test_denylist_rules(void **state)
{
	lk_jwk *k = key_es256();
	lk_verifier *v = manual(k, 0);
	int64_t now = time(NULL);
	char *a = token(k, "jti-a", "sess-1", "7", now - 10, now + 300);
	char *b = token(k, "jti-b", "sess-2", "7", now - 10, now + 300);
	char *c = token(k, "jti-c", NULL, "8", now - 10, now + 300);
	char *d = token(k, "jti-d", NULL, "8", now, now + 300);

	assert_int_equal(check(v, a), LK_OK);
	assert_int_equal(check(v, a), LK_OK); /* cached */
	deny(v, "jti", "jti-a", 0);
	assert_int_equal(check(v, a), LK_EREVOKED); /* the cache hit still sees the denylist */
	assert_int_equal(check(v, b), LK_OK);
	deny(v, "sid", "sess-2", 0);
	assert_int_equal(check(v, b), LK_EREVOKED);
	/* sub: tokens issued before `before` die, later ones live */
	assert_int_equal(check(v, c), LK_OK);
	deny(v, "sub", "8", now - 5);
	assert_int_equal(check(v, c), LK_EREVOKED);
	assert_int_equal(check(v, d), LK_OK);
	/* a later before widens the entry; an earlier one never narrows it */
	deny(v, "sub", "8", now + 1);
	assert_int_equal(check(v, d), LK_EREVOKED);
	deny(v, "sub", "8", now - 100);
	assert_int_equal(check(v, d), LK_EREVOKED);
	/* sub "8" does not touch sub "80" or "7"'s other tokens */
	char *e = token(k, "jti-e", NULL, "80", now - 10, now + 300);
	assert_int_equal(check(v, e), LK_OK);

	struct lk_revocation_event bad = {.type = "user", .value = "x", .expires = now + 5};
	assert_int_equal(lk_verifier_revoke(v, &bad), LK_EINVAL);
	bad.type = "jti";
	bad.value = "";
	assert_int_equal(lk_verifier_revoke(v, &bad), LK_EINVAL);

	struct lk_verifier_stats st;
	lk_verifier_stats(v, &st);
	assert_int_equal(st.revocations, 3);
	assert_true(st.cache_hits >= 1);
	free(a), free(b), free(c), free(d), free(e);
	lk_verifier_free(v);
	lk_jwk_free(k);
}

/* The table grows past its first size, keeps every entry, and purge drops only the
 * expired ones. */
static void test_denylist_grow_purge(void **state)
{
	struct lk_denylist *d = NULL;
	char v[32];
	assert_int_equal(lk_denylist_new(&d), LK_OK);
	size_t b0 = lk_denylist_bytes(d);
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(v, sizeof v, "j%d", i);
		assert_int_equal(lk_denylist_add(d, LK_DENY_JTI, v, (size_t)n, 0, i < 2500 ? 100 : 200),
				 LK_OK);
	}
	assert_int_equal(lk_denylist_count(d), 5000);
	assert_true(lk_denylist_bytes(d) > b0);
	for (int i = 0; i < 5000; i++) {
		snprintf(v, sizeof v, "j%d", i);
		assert_true(lk_denylist_denies(d, v, NULL, NULL, 0));
	}
	assert_false(lk_denylist_denies(d, "j5000", NULL, NULL, 0));
	/* the same value as another type is another entry */
	assert_false(lk_denylist_denies(d, NULL, "j1", "j1", 0));
	lk_denylist_purge(d, 150);
	assert_int_equal(lk_denylist_count(d), 2500);
	assert_false(lk_denylist_denies(d, "j0", NULL, NULL, 0));
	assert_true(lk_denylist_denies(d, "j2500", NULL, NULL, 0));
	lk_denylist_purge(d, 300);
	assert_int_equal(lk_denylist_count(d), 0);
	assert_false(lk_denylist_denies(d, "j4999", NULL, NULL, 0));
	char big[LK_DENY_VALUE_MAX + 2];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(lk_denylist_add(d, LK_DENY_JTI, big, strlen(big), 0, 1), LK_EINVAL);
	lk_denylist_free(d);
}

/* A cached token is re-checked for time on every hit. */
static void test_cache_rechecks_expiry(void **state)
{
	lk_jwk *k = key_es256();
	lk_verifier *v = manual(k, -1); /* no leeway */
	int64_t now = time(NULL);
	char *t = token(k, "jti-x", NULL, "9", now, now + 1);
	assert_int_equal(check(v, t), LK_OK);
	sleep(2);
	assert_int_equal(check(v, t), LK_EEXPIRED);
	struct lk_verifier_stats st;
	lk_verifier_stats(v, &st);
	assert_int_equal(st.cache_hits, 1); /* the expiry came from the cached entry */
	free(t);
	lk_verifier_free(v);
	lk_jwk_free(k);
}

/* New keys end cached verifications under the old ones. */
static void test_key_replacement(void **state)
{
	lk_jwk *k = key_es256(), *k2 = NULL;
	lk_verifier *v = manual(k, 0);
	int64_t now = time(NULL);
	char *t = token(k, "jti-y", NULL, "9", now, now + 300);
	lk_jwks *set = NULL;

	assert_int_equal(check(v, t), LK_OK);
	assert_int_equal(lk_jwk_generate(LK_ALG_ES256, "k2", &k2, NULL), LK_OK);
	assert_int_equal(lk_jwks_new(&k2, 1, &set), LK_OK);
	assert_int_equal(lk_verifier_set_keys(v, set), LK_OK);
	assert_int_equal(check(v, t), LK_ENO_KEY);
	free(t);
	t = token(k2, "jti-z", NULL, "9", now, now + 300);
	assert_int_equal(check(v, t), LK_OK);
	free(t);
	lk_jwks_free(set);
	lk_verifier_free(v);
	lk_jwk_free(k);
	lk_jwk_free(k2);
}

static void test_rules_and_config(void **state)
{
	lk_jwk *k = key_es256();
	lk_verifier *v = NULL;
	struct lk_errinfo ei = {0};
	int64_t now = time(NULL);

	/* no keys yet */
	assert_int_equal(lk_verifier_new(NULL, &v, &ei), LK_OK);
	char *t = token(k, "j", NULL, "1", now, now + 60);
	assert_int_equal(check(v, t), LK_ENO_KEY);
	lk_verifier_free(v);
	free(t);
	/* at+jwt is required by default; iss is checked */
	v = manual(k, 0);
	char claims[] = "{\"iss\":\"https://issuer.test\",\"sub\":\"1\",\"jti\":\"q\",\"iat\":1,"
			"\"exp\":99999999999}";
	assert_int_equal(lk_jws_sign(k, "JWT", claims, strlen(claims), &t, NULL, NULL), LK_OK);
	assert_int_equal(check(v, t), LK_ETYP);
	free(t);
	char other[] = "{\"iss\":\"https://evil.test\",\"sub\":\"1\",\"jti\":\"q\",\"iat\":1,"
		       "\"exp\":99999999999}";
	assert_int_equal(lk_jws_sign(k, "at+jwt", other, strlen(other), &t, NULL, NULL), LK_OK);
	assert_int_equal(check(v, t), LK_EISSUER);
	free(t);
	char big[LK_MAX_TOKEN + 2];
	memset(big, 'a', sizeof big);
	lk_jwt *j = (lk_jwt *)1;
	assert_int_equal(lk_verifier_verify(v, big, sizeof big, &j, &ei), LK_ETOO_LARGE);
	assert_null(j);
	lk_verifier_free(v);
	/* configuration errors */
	struct lk_verifier_config c = {.jwks_file = "a", .jwks_url = "http://b"};
	assert_int_equal(lk_verifier_new(&c, &v, &ei), LK_EINVAL);
	struct lk_verifier_config c2 = {.client_id = "x"};
	assert_int_equal(lk_verifier_new(&c2, &v, &ei), LK_EINVAL);
	assert_null(v);
	lk_jwk_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_denylist_rules),
		cmocka_unit_test(test_denylist_grow_purge),
		cmocka_unit_test(test_cache_rechecks_expiry),
		cmocka_unit_test(test_key_replacement),
		cmocka_unit_test(test_rules_and_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
