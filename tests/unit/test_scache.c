/* SPDX-License-Identifier: MIT */
/*
 * The session cache and the store's revocation generation (auth/scache.h, store ops
 * `generation`). The story this guards: the hot path serves sessions from memory, so a
 * revocation made by another process (the CLI) must still be seen on the next request.
 * That holds only if every change that can end a session moves the generation, if a
 * second connection (standing in for another process) sees the move, and if the cache
 * refuses entries stored under an older generation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/scache.h"
#include "store/store.h"

static char dir[64], url[128];

static struct lk_store *open_store(void)
{
	struct lk_store *st = NULL;
	struct lk_errinfo ei = {0};
	assert_int_equal(lk_store_open(url, &st, &ei), LK_OK);
	return st;
}

static void add_user(struct lk_store *st, const char *name, struct lk_user *u)
{
	memset(u, 0, sizeof *u);
	snprintf(u->name, sizeof u->name, "%s", name);
	snprintf(u->phc, sizeof u->phc, "$argon2id$v=19$m=19456,t=2,p=1$x$y");
	assert_int_equal(st->ops->user_add(st, u), LK_OK);
}

static void add_session(struct lk_store *st, const struct lk_user *u, unsigned char tag,
			struct lk_session *s)
{
	memset(s, 0, sizeof *s);
	memset(s->id_hash, tag, 32);
	snprintf(s->handle, sizeof s->handle, "handle%c%015d", 'a' + tag % 26, tag);
	snprintf(s->csrf, sizeof s->csrf, "csrf");
	s->user_id = u->id;
	s->created = s->last_seen = 1000;
	s->expires = 999999;
	assert_int_equal(st->ops->session_add(st, s), LK_OK);
}

static void test_generation_moves_on_revocations_only(void **state)
{
	struct lk_store *a = open_store(), *b = open_store(); /* b: "another process" */
	struct lk_user u;
	struct lk_session s1, s2;
	int64_t n, f;

	assert_non_null(a->ops->generation);
	add_user(a, "alice", &u);
	uint64_t g0 = b->ops->generation(b);
	add_session(a, &u, 1, &s1);
	add_session(a, &u, 2, &s2);
	assert_int_equal(a->ops->session_touch(a, s1.id_hash, 2000, 1999), LK_OK);
	assert_true(b->ops->generation(b) == g0); /* new sessions and touches do not move it */

	assert_int_equal(a->ops->session_del(a, s1.id_hash), LK_OK);
	uint64_t g1 = b->ops->generation(b);
	assert_true(g1 != g0);
	assert_int_equal(a->ops->session_del(a, s1.id_hash), LK_ENOT_FOUND);
	assert_true(b->ops->generation(b) == g1); /* nothing deleted, nothing to invalidate */

	assert_int_equal(a->ops->user_set_password(a, "alice", "$argon2id$new", 3000, NULL, NULL), LK_OK);
	uint64_t g2 = b->ops->generation(b);
	assert_true(g2 != g1);
	add_session(a, &u, 3, &s1);
	assert_int_equal(a->ops->revoke_user(a, -1, NULL, 4000, &n, &f, NULL, NULL), LK_OK);
	assert_int_equal(n, 1);
	assert_int_equal(f, 0);
	assert_true(b->ops->generation(b) != g2);
	lk_store_close(a);
	lk_store_close(b);
}

static void test_cache_refuses_old_generation(void **state)
{
	struct lk_scache *c = NULL;
	struct lk_session s = {0}, out;
	struct lk_user u = {0}, uo;
	unsigned char h[32], other[32];

	memset(h, 7, sizeof h);
	memset(other, 8, sizeof other);
	snprintf(s.handle, sizeof s.handle, "h1");
	snprintf(u.name, sizeof u.name, "bob");
	snprintf(u.phc, sizeof u.phc, "secret-hash");
	assert_int_equal(lk_scache_new(16, &c), LK_OK);
	assert_false(lk_scache_get(c, h, 5, &out, &uo));
	lk_scache_put(c, h, 5, &s, &u);
	assert_true(lk_scache_get(c, h, 5, &out, &uo));
	assert_string_equal(out.handle, "h1");
	assert_string_equal(uo.name, "bob");
	assert_string_equal(uo.phc, ""); /* the password hash is never kept */
	assert_false(lk_scache_get(c, h, 6, &out, &uo));     /* generation moved */
	assert_false(lk_scache_get(c, other, 5, &out, &uo)); /* another id */
	lk_scache_del(c, h);
	assert_false(lk_scache_get(c, h, 5, &out, &uo));
	lk_scache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generation_moves_on_revocations_only),
		cmocka_unit_test(test_cache_refuses_old_generation),
	};
	snprintf(dir, sizeof dir, "/tmp/lk-scache-XXXXXX");
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
