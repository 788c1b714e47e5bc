/* SPDX-License-Identifier: MIT */
/*
 * Sign-in limits (SPEC "Sign-in limits"), in memory and in the store. The story: an
 * attacker guesses one account's password from one address; after five failures each
 * further try waits 1 s, 2 s, 4 s ... up to the cap, while the owner, from another
 * address, signs in untouched; one address spraying many accounts is held to 60 failures a
 * minute; and when the counters live in the store, two server instances (two store
 * handles here) count together, so spreading the guesses over instances gains nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ratelimit.h"

static char dir[64], url[128];
static const struct lk_rlcfg cfg = {.pair_free = 5, .backoff_max = 900, .ip_per_min = 60};

/* What lk_rl_take answers: 0 when the attempt goes on (a failure is then counted), else
 * its retry_after. A refused attempt counts nothing, so asking again changes nothing. */
static int64_t take_wait(struct lk_ratelimit *rl, const char *u, const char *ip, int64_t now)
{
	int64_t w = -1;
	enum lk_err rc = lk_rl_take(rl, u, ip, now, &w);
	if (rc == LK_OK)
		return 0;
	assert_int_equal(rc, LK_ERATE_LIMITED);
	assert_true(w > 0);
	return w;
}

/* Run the scenario against two limiters: the same one twice (memory), or two on two
 * handles of one store (shared). Every step alternates between them. */
static void scenario(struct lk_ratelimit *a, struct lk_ratelimit *b)
{
	int64_t t = 1000000;
	for (int i = 0; i < 5; i++)
		assert_int_equal(take_wait(i % 2 ? a : b, "alice", "10.0.0.1", t), 0);
	/* sixth failure from the pair: backoff doubling from 1 s, capped at 15 min. After
	 * f failures (the last at `now`) the next waits 2^(f - 5) s: still 1 s one second
	 * before, and goes on (the failure f + 1) at its end. */
	static const int64_t backoff[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900};
	int64_t now = t;
	for (size_t k = 0; k < sizeof backoff / sizeof backoff[0]; k++) {
		struct lk_ratelimit *x = k % 2 ? a : b, *y = k % 2 ? b : a;
		assert_int_equal(take_wait(x, "alice", "10.0.0.1", now), backoff[k]);
		assert_int_equal(take_wait(y, "alice", "10.0.0.1", now + backoff[k] - 1), 1);
		now += backoff[k];
		assert_int_equal(take_wait(y, "alice", "10.0.0.1", now), 0);
	}
	assert_int_equal(take_wait(b, "alice", "10.0.0.1", now), 900); /* capped at 15 min */
	/* the owner elsewhere is not held back */
	assert_int_equal(take_wait(a, "alice", "192.0.2.7", now), 0);
	/* success from the pair forgives it: five free failures again, then 1 s */
	lk_rl_release(b, "alice", "10.0.0.1", now);
	for (int i = 0; i < 5; i++)
		assert_int_equal(take_wait(i % 2 ? a : b, "alice", "10.0.0.1", now), 0);
	assert_int_equal(take_wait(a, "alice", "10.0.0.1", now), 1);

	/* spraying: one address, many accounts, 60 failures a minute */
	int64_t s = now + 5000;
	for (int i = 0; i < 60; i++) {
		char u[16];
		snprintf(u, sizeof u, "user%d", i);
		assert_int_equal(take_wait(i % 2 ? a : b, u, "10.9.9.9", s), 0);
	}
	assert_true(take_wait(a, "user-new", "10.9.9.9", s) >= 1);
	/* a success gives its address its token back: one more attempt, then a wait again */
	lk_rl_release(b, "user0", "10.9.9.9", s);
	assert_int_equal(take_wait(a, "user-new", "10.9.9.9", s), 0);
	assert_true(take_wait(b, "user-new2", "10.9.9.9", s) >= 1);
	assert_int_equal(take_wait(b, "user-new2", "10.9.9.9", s + 2), 0); /* refilled 2 tokens */
	assert_int_equal(take_wait(a, "user-new3", "10.9.9.10", s), 0);    /* another address */
}

static void test_memory(void **state)
{
	struct lk_ratelimit *rl = NULL;
	assert_int_equal(lk_rl_new(&cfg, &rl), LK_OK);
	scenario(rl, rl);
	lk_rl_free(rl);
}

static void test_shared_store(void **state)
{
	struct lk_store *s1 = NULL, *s2 = NULL;
	struct lk_ratelimit *a = NULL, *b = NULL;
	struct lk_errinfo ei = {0};
	assert_int_equal(lk_store_open(url, &s1, &ei), LK_OK);
	assert_int_equal(lk_store_open(url, &s2, &ei), LK_OK);
	assert_int_equal(lk_rl_new(&cfg, &a), LK_OK);
	assert_int_equal(lk_rl_new(&cfg, &b), LK_OK);
	lk_rl_use_store(a, s1);
	lk_rl_use_store(b, s2);
	scenario(a, b);
	lk_rl_free(a);
	lk_rl_free(b);
	lk_store_close(s1);
	lk_store_close(s2);
}

#define TAKERS 12
struct taker {
	struct lk_ratelimit *rl;
	pthread_barrier_t *go;
	enum lk_err rc;
};

static void *take(void *arg)
{
	struct taker *t = arg;
	int64_t retry = 0;
	pthread_barrier_wait(t->go);
	t->rc = lk_rl_take(t->rl, "alice", "10.0.0.1", 1000000, &retry);
	return NULL;
}

/* In memory, as in the stores (store_contract.h): 12 parallel guesses, exactly
 * pair_free (5) go on; release forgives the pair and gives the ip its token back. */
static void test_memory_take_race(void **state)
{
	struct lk_ratelimit *rl = NULL;
	struct taker tk[TAKERS];
	pthread_t tid[TAKERS];
	pthread_barrier_t go;
	int ok = 0, limited = 0;
	int64_t w = 0;

	assert_int_equal(lk_rl_new(&cfg, &rl), LK_OK);
	assert_int_equal(pthread_barrier_init(&go, NULL, TAKERS), 0);
	for (int i = 0; i < TAKERS; i++) {
		tk[i] = (struct taker){rl, &go, LK_EINVAL};
		assert_int_equal(pthread_create(&tid[i], NULL, take, &tk[i]), 0);
	}
	for (int i = 0; i < TAKERS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		ok += tk[i].rc == LK_OK;
		limited += tk[i].rc == LK_ERATE_LIMITED;
	}
	pthread_barrier_destroy(&go);
	assert_int_equal(ok, 5);
	assert_int_equal(limited, TAKERS - 5);
	assert_int_equal(take_wait(rl, "alice", "10.0.0.1", 1000000), 1);
	lk_rl_release(rl, "alice", "10.0.0.1", 1000000);
	assert_int_equal(take_wait(rl, "alice", "10.0.0.1", 1000000), 0);
	/* the ip's bucket: 60 - 5 + 1 - 1 = 55 tokens left, so 55 more accounts, then a wait */
	for (int i = 0; i < 55; i++) {
		char u[16];
		snprintf(u, sizeof u, "u%d", i);
		assert_int_equal(lk_rl_take(rl, u, "10.0.0.1", 1000000, &w), LK_OK);
	}
	assert_int_equal(lk_rl_take(rl, "u-last", "10.0.0.1", 1000000, &w), LK_ERATE_LIMITED);
	assert_int_equal(w, 2); /* a whole token at one a second, rounded up past it */
	lk_rl_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_shared_store),
		cmocka_unit_test(test_memory_take_race),
	};
	snprintf(dir, sizeof dir, "/tmp/lk-rl-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(url, sizeof url, "sqlite:%s/t.db", dir);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
