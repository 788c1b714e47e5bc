/* SPDX-License-Identifier: MIT */
/*
 * store_contract.h: the store contract (src/store/store.h), written once and run against
 * every back end. A driver (test_store_sqlite.c, test_store_redis.c) includes this file
 * after defining:
 *
 *   static struct lk_store *open_ok(void);   a new handle on the test's store (a second
 *                                            call: a second handle, as another process)
 *   static long long drv_writes(void);       a number that changes when the store writes
 *   static void drv_sessions_clean(int64_t uid); back-end leftovers of uid's (-1: every)
 *                                            ended sessions are gone
 *   static void drv_refresh_clean(void);     leftovers of deleted refresh tokens are gone
 *   static void drv_damage_secret(const char *name); store a secret that is not 32 bytes
 *   static void drv_threads_gone(void);      connections of exited threads are closed
 *
 * and a cmocka setup function that gives each test an empty store; it then lists
 * CONTRACT_TESTS(setup) among its tests. Back-end-specific tests (files, URLs, faults,
 * native TTLs) stay in the drivers.
 *
 * Times are real (time(NULL)): Redis expires keys by its own clock and the SQLite triggers
 * use unixepoch(), so both back ends see the same present.
 *
 * What is checked: every operation of store.h with its errors; user ids never reused; a
 * password change or deletion ending the user's sessions and refresh families with their
 * `sid` revocations; revoke_user (one user, keeping one session, and everyone) with its
 * counts, its revocations and its atomicity as a concurrent reader sees it; the
 * revocations those changes report to their caller, exactly as stored; refresh
 * claims racing; refresh_purge trimming next_access after the grace window; revocation
 * cursors, expiry and TTL; secrets and secret_claim; rl_take racing from 12 threads, and
 * rl_release; re-entrant listings; threads; and the generation moving on every change
 * that can end a session, and on nothing else.
 */
#ifndef LK_TESTS_STORE_CONTRACT_H
#define LK_TESTS_STORE_CONTRACT_H

#include <pthread.h>
#include <time.h>

#include <openssl/sha.h>

#include "auth/ratelimit.h"
#include "store/store.h"

static struct lk_store *open_ok(void);
static long long drv_writes(void);
static void drv_sessions_clean(int64_t uid);
static void drv_refresh_clean(void);
static void drv_damage_secret(const char *name);
static void drv_threads_gone(void);

/*
 * The generation as handle st sees it after a change made through another handle: a back
 * end may learn of it by push (Redis: PUBLISH to a subscriber thread), so a move may take a
 * moment to arrive; gen_moved waits for it (up to 2 s), gen_still gives a wrong move 50 ms
 * to show. Changes through st itself are visible to st at once (no helper).
 */
static uint64_t gen_moved(struct lk_store *st, uint64_t g)
{
	return st->ops->generation_wait ? st->ops->generation_wait(st, g, 2000)
					: st->ops->generation(st);
}

static uint64_t gen_still(struct lk_store *st, uint64_t g)
{
	return st->ops->generation_wait ? st->ops->generation_wait(st, g, 50)
					: st->ops->generation(st);
}

static struct lk_user user_make(const char *name, const char *roles)
{
	struct lk_user u;
	memset(&u, 0, sizeof u);
	snprintf(u.name, sizeof u.name, "%s", name);
	snprintf(u.roles, sizeof u.roles, "%s", roles);
	snprintf(u.phc, sizeof u.phc, "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$%s-hash", name);
	u.created = 1000;
	u.pw_changed = 1000;
	return u;
}

static int64_t user_add_ok(struct lk_store *st, const char *name)
{
	struct lk_user u = user_make(name, "reader");
	u.id = -7;
	assert_rc(st->ops->user_add(st, &u), LK_OK);
	assert_true(u.id > 0);
	return u.id;
}

/* A session whose id_hash is SHA-256 of a secret derived from tag; live for a day from
 * `created` (times are real here: Redis expires keys by its own clock). */
static struct lk_session sess_make(const char *tag, int64_t user_id, int64_t created)
{
	struct lk_session s;
	unsigned char secret[32];
	memset(&s, 0, sizeof s);
	memset(secret, 0, sizeof secret);
	snprintf((char *)secret, sizeof secret, "secret-%s", tag);
	SHA256(secret, sizeof secret, s.id_hash);
	snprintf(s.handle, sizeof s.handle, "h-%s", tag);
	snprintf(s.csrf, sizeof s.csrf, "csrf-%s", tag);
	s.user_id = user_id;
	s.created = created;
	s.last_seen = created;
	s.expires = created + 86400;
	snprintf(s.ip, sizeof s.ip, "192.0.2.1");
	snprintf(s.user_agent, sizeof s.user_agent, "test/%s", tag);
	return s;
}

static void sess_add_ok(struct lk_store *st, const struct lk_session *s)
{
	assert_rc(st->ops->session_add(st, s), LK_OK);
}

static int sess_exists(struct lk_store *st, const struct lk_session *s)
{
	struct lk_session out;
	enum lk_err rc = st->ops->session_get(st, s->id_hash, &out);
	if (rc == LK_ENOT_FOUND)
		return 0;
	assert_rc(rc, LK_OK);
	return 1;
}

LKT_UNUSED static void hexof(const unsigned char h[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

static struct lk_refresh *rt_make(const char *tag, const char *family, int64_t uid,
				  int64_t expires)
{
	struct lk_refresh *r = calloc(1, sizeof *r);
	char secret[32] = {0};
	assert_non_null(r);
	snprintf(secret, sizeof secret, "rt-%s", tag);
	SHA256((unsigned char *)secret, sizeof secret, r->hash);
	snprintf(r->family, sizeof r->family, "%s", family);
	r->user_id = uid;
	snprintf(r->scope, sizeof r->scope, "openid");
	r->created = expires - 86400;
	r->expires = expires;
	return r;
}

/* Revocations, collected. */
struct rev_acc {
	struct lk_revocation r[64];
	int n;
};

static int collect_rev(void *ud, const struct lk_revocation *r)
{
	struct rev_acc *a = ud;
	if (a->n < 64)
		a->r[a->n] = *r;
	a->n++;
	return 0;
}

static struct rev_acc *revs(struct lk_store *st, int64_t after, int64_t now)
{
	static struct rev_acc acc;
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->revocations(st, after, now, collect_rev, &acc), LK_OK);
	return &acc;
}

/* How many collected revocations are type/value. */
static int rev_count(const struct rev_acc *a, const char *type, const char *value)
{
	int k = 0;
	for (int i = 0; i < a->n && i < 64; i++)
		if (!strcmp(a->r[i].type, type) && !strcmp(a->r[i].value, value))
			k++;
	return k;
}

static const struct lk_revocation *rev_find(const struct rev_acc *a, const char *type,
					    const char *value)
{
	for (int i = 0; i < a->n && i < 64; i++)
		if (!strcmp(a->r[i].type, type) && !strcmp(a->r[i].value, value))
			return &a->r[i];
	return NULL;
}

static int collect_names(void *ud, const struct lk_user *u)
{
	char *acc = ud;
	strcat(acc, u->name);
	strcat(acc, ",");
	return 0;
}

static int stop_after_one(void *ud, const struct lk_user *u)
{
	++*(int *)ud;
	return 1;
}

static void test_users(void **state)
{
	struct lk_store *st = open_ok();
	struct lk_user u, out;
	int64_t n = -1;

	assert_rc(st->ops->user_count(st, &n), LK_OK);
	assert_int_equal(n, 0);
	int64_t bob = user_add_ok(st, "bob");
	int64_t alice = user_add_ok(st, "alice");
	assert_true(alice != bob);

	u = user_make("alice", "");
	u.id = 77;
	assert_rc(st->ops->user_add(st, &u), LK_EEXISTS);
	assert_int_equal(u.id, 77);
	u = user_make("", "");
	assert_rc(st->ops->user_add(st, &u), LK_EINVAL);
	u = user_make("carol", "");
	u.phc[0] = '\0';
	assert_rc(st->ops->user_add(st, &u), LK_EINVAL);

	assert_rc(st->ops->user_get(st, "alice", &out), LK_OK);
	assert_int_equal(out.id, alice);
	assert_string_equal(out.name, "alice");
	assert_string_equal(out.roles, "reader");
	assert_string_equal(out.phc, user_make("alice", "").phc);
	assert_int_equal(out.created, 1000);
	assert_int_equal(out.pw_changed, 1000);
	assert_rc(st->ops->user_get_id(st, bob, &out), LK_OK);
	assert_string_equal(out.name, "bob");
	assert_int_equal(out.id, bob);

	memset(&out, 0x5a, sizeof out);
	assert_rc(st->ops->user_get(st, "mallory", &out), LK_ENOT_FOUND);
	assert_rc(st->ops->user_get_id(st, 9999, &out), LK_ENOT_FOUND);
	char longname[LK_NAME_MAX + 10];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_rc(st->ops->user_get(st, longname, &out), LK_ENOT_FOUND);
	for (size_t i = 0; i < sizeof out; i++)
		assert_int_equal(((unsigned char *)&out)[i], 0x5a);

	/* names with bytes that mean something to Redis or Lua stay plain data */
	int64_t odd = user_add_ok(st, "we{i}rd: 'name' \"x\" %s");
	assert_rc(st->ops->user_get(st, "we{i}rd: 'name' \"x\" %s", &out), LK_OK);
	assert_int_equal(out.id, odd);
	assert_rc(st->ops->user_del(st, "we{i}rd: 'name' \"x\" %s", NULL, NULL), LK_OK);

	char names[256] = "";
	assert_rc(st->ops->user_list(st, collect_names, names), LK_OK);
	assert_string_equal(names, "alice,bob,");
	int calls = 0;
	assert_rc(st->ops->user_list(st, stop_after_one, &calls), LK_OK);
	assert_int_equal(calls, 1);
	assert_rc(st->ops->user_count(st, &n), LK_OK);
	assert_int_equal(n, 2);

	assert_rc(st->ops->user_del(st, "alice", NULL, NULL), LK_OK);
	assert_rc(st->ops->user_get(st, "alice", &out), LK_ENOT_FOUND);
	assert_rc(st->ops->user_get_id(st, alice, &out), LK_ENOT_FOUND);
	assert_rc(st->ops->user_del(st, "alice", NULL, NULL), LK_ENOT_FOUND);
	assert_rc(st->ops->user_count(st, &n), LK_OK);
	assert_int_equal(n, 1);
	/* the name is free again, under a new id */
	assert_true(user_add_ok(st, "alice") != alice);
	lk_store_close(st);
}

/*
 * A password change must end every session of that user in the same commit: a thief who
 * holds a session cookie must not survive the victim resetting the password. Here the
 * change is one Lua script; it also records what the SQLite triggers record: a `sid`
 * revocation per live session and per live refresh-family head, and a `sub` revocation
 * with before = the new pw_changed.
 */
static void test_set_password_revokes_sessions(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL);
	int64_t alice = user_add_ok(st, "alice"), bob = user_add_ok(st, "bob");
	struct lk_session a1 = sess_make("a1", alice, t0), a2 = sess_make("a2", alice, t0 + 1);
	struct lk_session b1 = sess_make("b1", bob, t0 + 2);
	struct lk_refresh *ra = rt_make("ra", "fam-a", alice, t0 + 3600);
	struct lk_user out;
	int64_t n;

	sess_add_ok(st, &a1);
	sess_add_ok(st, &a2);
	sess_add_ok(st, &b1);
	assert_rc(st->ops->refresh_add(st, ra), LK_OK);
	assert_rc(st->ops->user_set_password(st, "alice", "$argon2id$new", 5000, NULL, NULL), LK_OK);
	assert_false(sess_exists(st, &a1));
	assert_false(sess_exists(st, &a2));
	assert_true(sess_exists(st, &b1));
	struct lk_refresh *tmp = calloc(1, sizeof *tmp);
	assert_rc(st->ops->refresh_get(st, ra->hash, tmp), LK_ENOT_FOUND);
	assert_rc(st->ops->user_get(st, "alice", &out), LK_OK);
	assert_string_equal(out.phc, "$argon2id$new");
	assert_int_equal(out.pw_changed, 5000);
	assert_int_equal(out.created, 1000);
	memset(&out, 0, sizeof out);

	struct rev_acc *rv = revs(st, 0, t0);
	assert_int_equal(rev_count(rv, "sid", "h-a1"), 1);
	assert_int_equal(rev_count(rv, "sid", "h-a2"), 1);
	assert_int_equal(rev_count(rv, "sid", "fam-a"), 1);
	assert_int_equal(rev_count(rv, "sid", "h-b1"), 0);
	char sub[24];
	snprintf(sub, sizeof sub, "%lld", (long long)alice);
	const struct lk_revocation *s = rev_find(rv, "sub", sub);
	assert_non_null(s);
	assert_int_equal(s->before, 5000);
	assert_true(s->expires >= t0 + 960 && s->expires <= t0 + 960 + 5);
	assert_int_equal(rv->n, 4);
	drv_sessions_clean(alice); /* the back end's own leftovers (index sets) */

	assert_rc(st->ops->user_set_password(st, "nobody", "$argon2id$x", 1, NULL, NULL), LK_ENOT_FOUND);
	assert_rc(st->ops->user_set_password(st, "alice", "", 1, NULL, NULL), LK_EINVAL);
	char phc[LK_PHC_MAX + 2];
	memset(phc, 'p', sizeof phc - 1);
	phc[sizeof phc - 1] = '\0';
	assert_rc(st->ops->user_set_password(st, "alice", phc, 1, NULL, NULL), LK_EINVAL);

	/* deleting a user takes their sessions too, and only theirs; `sub` before now + 1 */
	struct lk_session a3 = sess_make("a3", alice, t0 + 3);
	sess_add_ok(st, &a3);
	assert_rc(st->ops->user_del(st, "bob", NULL, NULL), LK_OK);
	assert_false(sess_exists(st, &b1));
	assert_true(sess_exists(st, &a3));
	rv = revs(st, 0, t0);
	assert_int_equal(rev_count(rv, "sid", "h-b1"), 1);
	snprintf(sub, sizeof sub, "%lld", (long long)bob);
	s = rev_find(rv, "sub", sub);
	assert_non_null(s);
	assert_true(s->before >= t0 + 1 && s->before <= t0 + 3);
	/* a session for a deleted user cannot be added */
	struct lk_session b2 = sess_make("b2", bob, t0);
	assert_rc(st->ops->session_add(st, &b2), LK_ENOT_FOUND);
	assert_rc(st->ops->session_list(st, bob, NULL, NULL), LK_EINVAL);
	assert_rc(st->ops->session_count(st, t0, &n), LK_OK);
	assert_int_equal(n, 1);
	free(ra);
	free(tmp);
	lk_store_close(st);
}

struct list_acc {
	char handles[512];
	int n;
};

static int collect_handles(void *ud, const struct lk_session *s)
{
	struct list_acc *a = ud;
	strcat(a->handles, s->handle);
	strcat(a->handles, ",");
	a->n++;
	return 0;
}

static void test_sessions(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL);
	int64_t alice = user_add_ok(st, "alice"), bob = user_add_ok(st, "bob");
	struct lk_session s1 = sess_make("s1", alice, t0), out;

	sess_add_ok(st, &s1);
	assert_rc(st->ops->session_get(st, s1.id_hash, &out), LK_OK);
	assert_memory_equal(out.id_hash, s1.id_hash, 32);
	assert_string_equal(out.handle, "h-s1");
	assert_string_equal(out.csrf, "csrf-s1");
	assert_int_equal(out.user_id, alice);
	assert_int_equal(out.created, t0);
	assert_int_equal(out.last_seen, t0);
	assert_int_equal(out.expires, t0 + 86400);
	assert_string_equal(out.ip, "192.0.2.1");
	assert_string_equal(out.user_agent, "test/s1");

	/* duplicates of the id_hash or of the handle; a user that does not exist */
	struct lk_session d = sess_make("other", alice, t0);
	memcpy(d.id_hash, s1.id_hash, 32);
	assert_rc(st->ops->session_add(st, &d), LK_EEXISTS);
	d = sess_make("other", alice, t0);
	memcpy(d.handle, s1.handle, sizeof d.handle);
	assert_rc(st->ops->session_add(st, &d), LK_EEXISTS);
	d = sess_make("orphan", 4242, t0);
	assert_rc(st->ops->session_add(st, &d), LK_ENOT_FOUND);
	d = sess_make("nohandle", alice, t0);
	d.handle[0] = '\0';
	assert_rc(st->ops->session_add(st, &d), LK_EINVAL);

	memset(&out, 0x5a, sizeof out);
	d = sess_make("absent", alice, t0);
	assert_rc(st->ops->session_get(st, d.id_hash, &out), LK_ENOT_FOUND);
	assert_int_equal(((unsigned char *)&out)[0], 0x5a);

	/* Coalesced touch: last_seen (t0) is not older than t0, so nothing is written; the
	 * back end's count of writes stays put. */
	long long v0 = drv_writes();
	assert_rc(st->ops->session_touch(st, s1.id_hash, t0 + 50, t0), LK_OK);
	assert_int_equal(drv_writes(), v0);
	assert_rc(st->ops->session_get(st, s1.id_hash, &out), LK_OK);
	assert_int_equal(out.last_seen, t0);
	assert_rc(st->ops->session_touch(st, s1.id_hash, t0 + 50, t0 + 1), LK_OK);
	assert_true(drv_writes() != v0);
	assert_rc(st->ops->session_get(st, s1.id_hash, &out), LK_OK);
	assert_int_equal(out.last_seen, t0 + 50);
	/* touching a session that is gone says so */
	assert_rc(st->ops->session_touch(st, d.id_hash, t0 + 50, t0 + 51), LK_ENOT_FOUND);

	/* del */
	assert_rc(st->ops->session_del(st, s1.id_hash), LK_OK);
	assert_false(sess_exists(st, &s1));
	assert_rc(st->ops->session_del(st, s1.id_hash), LK_ENOT_FOUND);
	/* its handle is free again */
	sess_add_ok(st, &s1);
	assert_rc(st->ops->session_del(st, s1.id_hash), LK_OK);

	/* del_handle: only the owner's request deletes */
	struct lk_session s2 = sess_make("s2", alice, t0);
	sess_add_ok(st, &s2);
	assert_rc(st->ops->session_del_handle(st, bob, "h-s2"), LK_ENOT_FOUND);
	assert_true(sess_exists(st, &s2));
	assert_rc(st->ops->session_del_handle(st, alice, "h-nope"), LK_ENOT_FOUND);
	assert_rc(st->ops->session_del_handle(st, alice, "h-s2"), LK_OK);
	assert_false(sess_exists(st, &s2));
	assert_rc(st->ops->session_del_handle(st, alice, "h-s2"), LK_ENOT_FOUND);

	/* list order: created, newest first; per user and all */
	struct lk_session l1 = sess_make("l1", alice, t0 + 10), l2 = sess_make("l2", alice, t0 + 30);
	struct lk_session l3 = sess_make("l3", alice, t0 + 20), l4 = sess_make("l4", bob, t0 + 25);
	struct lk_session l5 = sess_make("l0", bob, t0 + 20); /* same created as l3: by handle */
	sess_add_ok(st, &l1);
	sess_add_ok(st, &l2);
	sess_add_ok(st, &l3);
	sess_add_ok(st, &l4);
	sess_add_ok(st, &l5);
	struct list_acc acc;
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->session_list(st, alice, collect_handles, &acc), LK_OK);
	assert_string_equal(acc.handles, "h-l2,h-l3,h-l1,");
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->session_list(st, -1, collect_handles, &acc), LK_OK);
	assert_string_equal(acc.handles, "h-l2,h-l4,h-l0,h-l3,h-l1,");
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->session_list(st, 9999, collect_handles, &acc), LK_OK);
	assert_int_equal(acc.n, 0);
	assert_rc(st->ops->session_del(st, l5.id_hash), LK_OK);

	/* revoke_user of one user, nothing kept (keeping one, NULL counts: test_revoke_user):
	 * all of alice's sessions go, each recording its `sid`; bob's stays; no families */
	int64_t n = -1, nf = -1;
	assert_rc(st->ops->revoke_user(st, alice, NULL, t0 + 100, &n, &nf, NULL, NULL), LK_OK);
	assert_int_equal(n, 3);
	assert_int_equal(nf, 0);
	assert_false(sess_exists(st, &l1));
	assert_false(sess_exists(st, &l2));
	assert_false(sess_exists(st, &l3));
	assert_true(sess_exists(st, &l4));
	struct rev_acc *rv = revs(st, 0, t0);
	assert_int_equal(rev_count(rv, "sid", "h-l1"), 1);
	assert_int_equal(rev_count(rv, "sid", "h-l2"), 1);
	assert_int_equal(rev_count(rv, "sid", "h-l3"), 1);
	assert_int_equal(rev_count(rv, "sid", "h-l4"), 0);
	assert_rc(st->ops->revoke_user(st, alice, NULL, t0 + 100, &n, &nf, NULL, NULL), LK_OK);
	assert_int_equal(n, 0);
	assert_int_equal(nf, 0);
	assert_true(sess_exists(st, &l4));

	/* everyone's: then none is left, and a second call ends nothing */
	sess_add_ok(st, &l1);
	assert_rc(st->ops->revoke_user(st, -1, NULL, t0 + 100, &n, &nf, NULL, NULL), LK_OK);
	assert_int_equal(n, 2);
	assert_int_equal(nf, 0);
	assert_rc(st->ops->session_count(st, 0, &n), LK_OK);
	assert_int_equal(n, 0);
	rv = revs(st, 0, t0);
	assert_int_equal(rev_count(rv, "sid", "h-l4"), 1);
	assert_int_equal(rev_count(rv, "sid", "h-l1"), 2);
	assert_rc(st->ops->revoke_user(st, -1, NULL, t0 + 100, &n, &nf, NULL, NULL), LK_OK);
	assert_int_equal(n, 0);
	assert_int_equal(nf, 0);
	drv_sessions_clean(-1); /* nothing left behind in the back end either */
	lk_store_close(st);
}

static void test_purge_count(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL);
	int64_t alice = user_add_ok(st, "alice");
	/* A "now" ahead of the real clock, so the expired session is still stored (on Redis
	 * its native TTL has not run out) and purge is what removes it. */
	const int64_t now = t0 + 10000, idle_cutoff = t0 + 9000;

	struct lk_session live = sess_make("live", alice, t0 + 9500);
	struct lk_session exp = sess_make("exp", alice, t0 + 9500);
	exp.expires = now; /* expires == now counts as expired */
	struct lk_session idle = sess_make("idle", alice, t0 + 8000);
	idle.last_seen = idle_cutoff - 1;
	struct lk_session edge = sess_make("edge", alice, t0 + 8000);
	edge.last_seen = idle_cutoff; /* exactly at the cutoff stays */
	sess_add_ok(st, &live);
	sess_add_ok(st, &exp);
	sess_add_ok(st, &idle);
	sess_add_ok(st, &edge);

	int64_t n = -1;
	assert_rc(st->ops->session_count(st, now, &n), LK_OK);
	assert_int_equal(n, 3);
	assert_rc(st->ops->session_purge(st, now, idle_cutoff, &n), LK_OK);
	assert_int_equal(n, 2);
	/* Both purged sessions were within their absolute expiry by Redis's clock: each
	 * records a `sid` revocation, as the sessions_end trigger would (and, as in
	 * sqlite.c, the purge drops ended revocations before it deletes sessions). */
	struct rev_acc *rv = revs(st, 0, t0);
	assert_int_equal(rev_count(rv, "sid", "h-exp"), 1);
	assert_int_equal(rev_count(rv, "sid", "h-idle"), 1);
	assert_true(sess_exists(st, &live));
	assert_true(sess_exists(st, &edge));
	assert_false(sess_exists(st, &exp));
	assert_false(sess_exists(st, &idle));
	assert_rc(st->ops->session_count(st, now, &n), LK_OK);
	assert_int_equal(n, 2);
	assert_rc(st->ops->session_purge(st, now, idle_cutoff, &n), LK_OK);
	assert_int_equal(n, 0);
	/* a touch moves a session out of the idle range */
	assert_rc(st->ops->session_touch(st, edge.id_hash, idle_cutoff + 5, idle_cutoff + 1),
		  LK_OK);
	assert_rc(st->ops->session_purge(st, now, idle_cutoff + 2, &n), LK_OK);
	assert_int_equal(n, 0);
	assert_true(sess_exists(st, &edge));

	/* purge drops revocations that ended by its `now` */
	assert_rc(st->ops->revoke_add(st, "jti", "old", 0, t0 + 5), LK_OK);
	assert_int_equal(rev_count(revs(st, 0, t0), "jti", "old"), 1);
	assert_rc(st->ops->session_purge(st, t0 + 5, 0, &n), LK_OK);
	assert_int_equal(rev_count(revs(st, 0, 0), "jti", "old"), 0);
	lk_store_close(st);
}

/* Purge runs in batches; more than one batch of index members still all go. */
static void test_purge_batches(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL);
	int64_t alice = user_add_ok(st, "alice");
	int64_t n = -1;
	for (int i = 0; i < 2500; i++) {
		char tag[16];
		snprintf(tag, sizeof tag, "p%d", i);
		struct lk_session s = sess_make(tag, alice, t0);
		s.last_seen = t0 - 100;
		sess_add_ok(st, &s);
	}
	assert_rc(st->ops->session_purge(st, t0, t0, &n), LK_OK);
	assert_int_equal(n, 2500);
	assert_rc(st->ops->session_count(st, t0, &n), LK_OK);
	assert_int_equal(n, 0);
	lk_store_close(st);
}

/* ---------------------------------------------------------------- audit */

struct audit_acc {
	int64_t ts[16];
	int64_t id[16];
	char detail[16][256];
	int n;
};

static int collect_audit(void *ud, const struct lk_audit *a)
{
	struct audit_acc *acc = ud;
	if (acc->n < 16) {
		acc->ts[acc->n] = a->ts;
		acc->id[acc->n] = a->id;
		snprintf(acc->detail[acc->n], sizeof acc->detail[0], "%s", a->detail);
	}
	acc->n++;
	return 0;
}

static void test_audit(void **state)
{
	struct lk_store *st = open_ok();
	struct lk_audit a;
	struct audit_acc acc;

	for (int i = 1; i <= 5; i++) {
		memset(&a, 0, sizeof a);
		a.ts = 1000 + i;
		snprintf(a.event, sizeof a.event, "%s", i % 2 ? "login" : "login_failed");
		snprintf(a.user, sizeof a.user, "alice");
		snprintf(a.ip, sizeof a.ip, "2001:db8::%d", i);
		snprintf(a.detail, sizeof a.detail, "attempt %d: 3:abc, \"x\"", i);
		assert_rc(st->ops->audit_add(st, &a), LK_OK);
	}
	memset(&a, 0, sizeof a);
	assert_rc(st->ops->audit_add(st, &a), LK_EINVAL);

	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->audit_list(st, 3, collect_audit, &acc), LK_OK);
	assert_int_equal(acc.n, 3);
	assert_int_equal(acc.ts[0], 1005);
	assert_int_equal(acc.ts[1], 1004);
	assert_int_equal(acc.ts[2], 1003);
	assert_string_equal(acc.detail[0], "attempt 5: 3:abc, \"x\"");
	assert_true(acc.id[0] > acc.id[1] && acc.id[1] > acc.id[2]);

	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->audit_list(st, 0, collect_audit, &acc), LK_OK);
	assert_int_equal(acc.n, 5);
	assert_int_equal(acc.ts[4], 1001);
	lk_store_close(st);

	/* survives reopen, fields intact; the largest event round-trips */
	st = open_ok();
	memset(&a, 0, sizeof a);
	a.ts = INT64_MAX;
	memset(a.event, 'e', sizeof a.event - 1);
	memset(a.user, 'u', sizeof a.user - 1);
	memset(a.ip, 'i', sizeof a.ip - 1);
	memset(a.detail, 'd', sizeof a.detail - 1);
	assert_rc(st->ops->audit_add(st, &a), LK_OK);
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->audit_list(st, 2, collect_audit, &acc), LK_OK);
	assert_int_equal(acc.n, 2);
	assert_int_equal(acc.ts[0], INT64_MAX);
	assert_int_equal(acc.ts[1], 1005);
	lk_store_close(st);
}


/* ---------------------------------------------------------------- keys, clients */

struct key_acc {
	char kids[256];
	int n;
};

static int collect_kids(void *ud, const struct lk_keyrec *k)
{
	struct key_acc *a = ud;
	strcat(a->kids, k->kid);
	strcat(a->kids, ",");
	a->n++;
	return 0;
}

static struct lk_keyrec *key_make(const char *kid, int64_t created, int64_t sign_from)
{
	struct lk_keyrec *k = calloc(1, sizeof *k);
	assert_non_null(k);
	snprintf(k->kid, sizeof k->kid, "%s", kid);
	snprintf(k->alg, sizeof k->alg, "EdDSA");
	snprintf(k->jwk, sizeof k->jwk, "{\"kty\":\"OKP\",\"kid\":\"%s\",\"d\":\"secret\"}", kid);
	k->created = created;
	k->sign_from = sign_from;
	return k;
}

static int grab_key(void *ud, const struct lk_keyrec *k)
{
	if (!strcmp(k->kid, "k2"))
		*(struct lk_keyrec *)ud = *k;
	return 0;
}

static void test_keys(void **state)
{
	struct lk_store *st = open_ok();
	struct lk_keyrec *k1 = key_make("k1", 100, 200), *k2 = key_make("k2", 50, 100);
	struct lk_keyrec *k3 = key_make("k3", 40, 200), *k0 = key_make("k0", 100, 200);
	struct lk_keyrec *got = calloc(1, sizeof *got);
	struct key_acc acc;

	assert_rc(st->ops->key_add(st, k1), LK_OK);
	assert_rc(st->ops->key_add(st, k2), LK_OK);
	assert_rc(st->ops->key_add(st, k3), LK_OK);
	assert_rc(st->ops->key_add(st, k0), LK_OK);
	assert_rc(st->ops->key_add(st, k1), LK_EEXISTS);
	k1->kid[0] = '\0';
	assert_rc(st->ops->key_add(st, k1), LK_EINVAL);
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->key_list(st, collect_kids, &acc), LK_OK);
	assert_string_equal(acc.kids, "k2,k3,k0,k1,"); /* sign_from, created, kid */

	assert_rc(st->ops->key_retire(st, "k2", 300, 400), LK_OK);
	assert_rc(st->ops->key_retire(st, "nope", 300, 400), LK_ENOT_FOUND);
	assert_rc(st->ops->key_list(st, grab_key, got), LK_OK);
	assert_string_equal(got->alg, "EdDSA");
	assert_string_equal(got->jwk, "{\"kty\":\"OKP\",\"kid\":\"k2\",\"d\":\"secret\"}");
	assert_int_equal(got->created, 50);
	assert_int_equal(got->sign_from, 100);
	assert_int_equal(got->retire_at, 300);
	assert_int_equal(got->remove_at, 400);

	assert_rc(st->ops->key_del(st, "k2"), LK_OK);
	assert_rc(st->ops->key_del(st, "k2"), LK_ENOT_FOUND);
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->key_list(st, collect_kids, &acc), LK_OK);
	assert_string_equal(acc.kids, "k3,k0,k1,");
	free(k0);
	free(k1);
	free(k2);
	free(k3);
	free(got);
	lk_store_close(st);
}

static void test_clients(void **state)
{
	struct lk_store *st = open_ok();
	struct lk_client c, out;

	memset(&c, 0, sizeof c);
	snprintf(c.id, sizeof c.id, "client-0123456789abcd");
	snprintf(c.name, sizeof c.name, "billing");
	for (int i = 0; i < 32; i++)
		c.secret_hash[i] = (unsigned char)(i * 37); /* includes 0 bytes */
	snprintf(c.scope, sizeof c.scope, "read write");
	c.created = 1234;
	assert_rc(st->ops->client_add(st, &c), LK_OK);
	assert_rc(st->ops->client_add(st, &c), LK_EEXISTS);
	assert_rc(st->ops->client_get(st, c.id, &out), LK_OK);
	assert_string_equal(out.id, c.id);
	assert_string_equal(out.name, "billing");
	assert_memory_equal(out.secret_hash, c.secret_hash, 32);
	assert_string_equal(out.scope, "read write");
	assert_int_equal(out.created, 1234);
	memset(&out, 0x5a, sizeof out);
	assert_rc(st->ops->client_get(st, "nope", &out), LK_ENOT_FOUND);
	assert_rc(st->ops->client_get(st, "01234567890123456789012345", &out), LK_ENOT_FOUND);
	assert_int_equal(((unsigned char *)&out)[0], 0x5a);
	c.id[0] = '\0';
	assert_rc(st->ops->client_add(st, &c), LK_EINVAL);
	lk_store_close(st);
}

/* ---------------------------------------------------------------- refresh tokens */

static void test_refresh(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL);
	int64_t alice = user_add_ok(st, "alice");
	struct lk_refresh *r1 = rt_make("r1", "famA", alice, t0 + 3600);
	struct lk_refresh *r2 = rt_make("r2", "famA", alice, t0 + 3600);
	struct lk_refresh *r3 = rt_make("r3", "famB", alice, t0 + 3600);
	struct lk_refresh *out = calloc(1, sizeof *out);
	int64_t n = -1;

	snprintf(r1->client_id, sizeof r1->client_id, "cli");
	assert_rc(st->ops->refresh_add(st, r1), LK_OK);
	assert_rc(st->ops->refresh_add(st, r1), LK_EEXISTS);
	struct lk_refresh *orphan = rt_make("orphan", "famX", 4242, t0 + 3600);
	assert_rc(st->ops->refresh_add(st, orphan), LK_ENOT_FOUND);
	orphan->family[0] = '\0';
	assert_rc(st->ops->refresh_add(st, orphan), LK_EINVAL);

	assert_rc(st->ops->refresh_get(st, r1->hash, out), LK_OK);
	assert_memory_equal(out->hash, r1->hash, 32);
	assert_string_equal(out->family, "famA");
	assert_int_equal(out->user_id, alice);
	assert_string_equal(out->client_id, "cli");
	assert_string_equal(out->scope, "openid");
	assert_int_equal(out->created, t0 + 3600 - 86400);
	assert_int_equal(out->expires, t0 + 3600);
	assert_int_equal(out->used_at, 0);
	assert_string_equal(out->next_access, "");
	memset(out, 0x5a, sizeof *out);
	assert_rc(st->ops->refresh_get(st, orphan->hash, out), LK_ENOT_FOUND);
	assert_int_equal(((unsigned char *)out)[0], 0x5a);

	/* claim: once; the winner's access token stays for the grace window */
	uint64_t g = st->ops->generation(st);
	assert_rc(st->ops->refresh_claim(st, r1->hash, t0 + 5, "access.token.one"), LK_OK);
	assert_rc(st->ops->refresh_claim(st, r1->hash, t0 + 6, "access.token.two"), LK_EEXISTS);
	assert_rc(st->ops->refresh_claim(st, orphan->hash, t0, "x"), LK_ENOT_FOUND);
	assert_true(st->ops->generation(st) == g); /* a claim ends nothing */
	assert_rc(st->ops->refresh_get(st, r1->hash, out), LK_OK);
	assert_int_equal(out->used_at, t0 + 5);
	assert_string_equal(out->next_access, "access.token.one");

	/* family_revoke: every token of the family; the live head (r2, unused) records a
	 * `sid` of the family like the refresh_end trigger, and the revocation itself one
	 * more, lasting until `until` */
	assert_rc(st->ops->refresh_add(st, r2), LK_OK);
	assert_rc(st->ops->refresh_add(st, r3), LK_OK);
	assert_rc(st->ops->family_revoke(st, "famA", t0 + 777, &n), LK_OK);
	assert_int_equal(n, 2);
	assert_true(st->ops->generation(st) != g);
	assert_rc(st->ops->refresh_get(st, r1->hash, out), LK_ENOT_FOUND);
	assert_rc(st->ops->refresh_get(st, r2->hash, out), LK_ENOT_FOUND);
	assert_rc(st->ops->refresh_get(st, r3->hash, out), LK_OK);
	struct rev_acc *rv = revs(st, 0, t0);
	assert_int_equal(rev_count(rv, "sid", "famA"), 1); /* revoked once, not per head */
	int until_seen = 0;
	for (int i = 0; i < rv->n; i++)
		if (!strcmp(rv->r[i].value, "famA") && rv->r[i].expires == t0 + 777)
			until_seen = 1;
	assert_true(until_seen);
	/* revoking a family that has no tokens left still records it */
	assert_rc(st->ops->family_revoke(st, "famA", t0 + 778, &n), LK_OK);
	assert_int_equal(n, 0);
	assert_int_equal(rev_count(revs(st, 0, t0), "sid", "famA"), 2);
	assert_rc(st->ops->family_revoke(st, "", t0, &n), LK_EINVAL);

	/* revoke_user of a user with refresh tokens and no session: that user's tokens go
	 * (others' stay), each family one `sid` until `until`; then everyone's */
	int64_t bob = user_add_ok(st, "bob"), ns = -1;
	struct lk_refresh *rb = rt_make("rb", "famBob", bob, t0 + 3600);
	assert_rc(st->ops->refresh_add(st, rb), LK_OK);
	assert_rc(st->ops->revoke_user(st, alice, NULL, t0 + 999, &ns, &n, NULL, NULL), LK_OK);
	assert_int_equal(ns, 0);
	assert_int_equal(n, 1);
	assert_rc(st->ops->refresh_get(st, r3->hash, out), LK_ENOT_FOUND);
	assert_rc(st->ops->refresh_get(st, rb->hash, out), LK_OK);
	rv = revs(st, 0, t0);
	assert_int_equal(rev_count(rv, "sid", "famB"), 1);
	assert_int_equal(rev_find(rv, "sid", "famB")->expires, t0 + 999);
	assert_int_equal(rev_count(rv, "sid", "famBob"), 0);
	assert_rc(st->ops->refresh_add(st, r3), LK_OK);
	assert_rc(st->ops->revoke_user(st, -1, NULL, t0 + 999, &ns, &n, NULL, NULL), LK_OK);
	assert_int_equal(ns, 0);
	assert_int_equal(n, 2);
	assert_rc(st->ops->refresh_get(st, rb->hash, out), LK_ENOT_FOUND);
	assert_rc(st->ops->refresh_get(st, r3->hash, out), LK_ENOT_FOUND);
	rv = revs(st, 0, t0);
	assert_int_equal(rev_count(rv, "sid", "famB"), 2);
	assert_int_equal(rev_count(rv, "sid", "famBob"), 1);

	/* deleting the user takes their refresh tokens (and pointer keys) too */
	assert_rc(st->ops->refresh_add(st, rb), LK_OK);
	assert_rc(st->ops->user_del(st, "bob", NULL, NULL), LK_OK);
	assert_rc(st->ops->refresh_get(st, rb->hash, out), LK_ENOT_FOUND);
	drv_refresh_clean();

	/* an access token of the largest size round-trips through claim */
	char *big = malloc(LK_TOKEN_MAX + 1);
	memset(big, 'a', LK_TOKEN_MAX);
	big[LK_TOKEN_MAX] = '\0';
	struct lk_refresh *r4 = rt_make("r4", "famC", alice, t0 + 3600);
	assert_rc(st->ops->refresh_add(st, r4), LK_OK);
	assert_rc(st->ops->refresh_claim(st, r4->hash, t0, big), LK_OK);
	assert_rc(st->ops->refresh_get(st, r4->hash, out), LK_OK);
	assert_int_equal(strlen(out->next_access), LK_TOKEN_MAX);
	free(big);
	free(r1);
	free(r2);
	free(r3);
	free(r4);
	free(rb);
	free(orphan);
	free(out);
	lk_store_close(st);
}

/* Four threads present the same refresh token at once: exactly one claim wins. */
#define RACERS 4
struct racer {
	struct lk_store *st;
	const unsigned char *hash;
	pthread_barrier_t *go;
	enum lk_err rc;
	int t;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	char access[32];
	snprintf(access, sizeof access, "access-from-%d", r->t);
	pthread_barrier_wait(r->go);
	r->rc = r->st->ops->refresh_claim(r->st, r->hash, 100, access);
	return NULL;
}

static void test_refresh_claim_race(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL);
	int64_t alice = user_add_ok(st, "alice");
	struct lk_refresh *out = calloc(1, sizeof *out);

	for (int round = 0; round < 50; round++) {
		char tag[16];
		snprintf(tag, sizeof tag, "race%d", round);
		struct lk_refresh *rt = rt_make(tag, "famR", alice, t0 + 3600);
		pthread_barrier_t go;
		pthread_t tid[RACERS];
		struct racer rc[RACERS];
		assert_rc(st->ops->refresh_add(st, rt), LK_OK);
		assert_int_equal(pthread_barrier_init(&go, NULL, RACERS), 0);
		for (int t = 0; t < RACERS; t++) {
			rc[t] = (struct racer){st, rt->hash, &go, LK_EINVAL, t};
			assert_int_equal(pthread_create(&tid[t], NULL, race, &rc[t]), 0);
		}
		int won = -1, lost = 0;
		for (int t = 0; t < RACERS; t++) {
			assert_int_equal(pthread_join(tid[t], NULL), 0);
			if (rc[t].rc == LK_OK) {
				if (won >= 0)
					fail_msg("round %d: threads %d and %d both won", round, won, t);
				won = t;
			} else if (rc[t].rc == LK_EEXISTS) {
				lost++;
			} else {
				fail_msg("round %d: thread %d got %s", round, t, lk_err_str(rc[t].rc));
			}
		}
		pthread_barrier_destroy(&go);
		assert_true(won >= 0);
		assert_int_equal(lost, RACERS - 1);
		/* what is stored is the winner's access token */
		char want[32];
		snprintf(want, sizeof want, "access-from-%d", won);
		assert_rc(st->ops->refresh_get(st, rt->hash, out), LK_OK);
		assert_string_equal(out->next_access, want);
		free(rt);
	}
	free(out);
	lk_store_close(st);
}

/* ---------------------------------------------------------------- revocations */

static void test_revocations(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL);

	assert_rc(st->ops->revoke_add(st, "jti", "j1", 0, t0 + 100), LK_OK);
	assert_rc(st->ops->revoke_add(st, "sub", "42", t0, t0 + 200), LK_OK);
	assert_rc(st->ops->revoke_add(st, "jti", "j2", 0, t0 + 50), LK_OK);
	assert_rc(st->ops->revoke_add(st, "jti", "", 0, t0 + 50), LK_EINVAL);
	assert_rc(st->ops->revoke_add(st, NULL, "x", 0, t0 + 50), LK_EINVAL);

	struct rev_acc *rv = revs(st, 0, t0);
	assert_int_equal(rv->n, 3);
	assert_string_equal(rv->r[0].value, "j1");
	assert_string_equal(rv->r[1].type, "sub");
	assert_int_equal(rv->r[1].before, t0);
	assert_int_equal(rv->r[1].expires, t0 + 200);
	assert_string_equal(rv->r[2].value, "j2");
	assert_true(rv->r[0].cursor < rv->r[1].cursor && rv->r[1].cursor < rv->r[2].cursor);
	int64_t c1 = rv->r[0].cursor;
	/* after a cursor; and only those still in effect at now */
	rv = revs(st, c1, t0);
	assert_int_equal(rv->n, 2);
	rv = revs(st, 0, t0 + 60);
	assert_int_equal(rv->n, 2);
	assert_string_equal(rv->r[1].type, "sub");
	rv = revs(st, 0, t0 + 100); /* expires == now: over */
	assert_int_equal(rv->n, 1);

	/* a value with separators and a long one (cut at LK_KID_MAX) */
	char longv[LK_KID_MAX + 20];
	memset(longv, 'v', sizeof longv - 1);
	longv[sizeof longv - 1] = '\0';
	assert_rc(st->ops->revoke_add(st, "jti", "a:b,c,1:x,", 0, t0 + 100), LK_OK);
	assert_rc(st->ops->revoke_add(st, "jti", longv, 0, t0 + 100), LK_OK);
	rv = revs(st, 0, t0);
	assert_int_equal(rev_count(rv, "jti", "a:b,c,1:x,"), 1);
	assert_int_equal(strlen(rv->r[rv->n - 1].value), LK_KID_MAX);

	/* the TTL of revocations the store records itself */
	assert_rc(st->ops->set_revocation_ttl(st, 60), LK_OK);
	int64_t alice = user_add_ok(st, "alice");
	struct lk_session s = sess_make("rv", alice, t0);
	sess_add_ok(st, &s);
	assert_rc(st->ops->session_del(st, s.id_hash), LK_OK);
	const struct lk_revocation *x = rev_find(revs(st, 0, t0), "sid", "h-rv");
	assert_non_null(x);
	assert_true(x->expires >= t0 + 60 && x->expires <= t0 + 63);
	assert_int_equal(x->before, 0);

	/* a callback that stops early */
	int calls = 0;
	assert_rc(st->ops->revocations(st, 0, t0, (lk_revocation_cb)stop_after_one, &calls), LK_OK);
	assert_int_equal(calls, 1);
	lk_store_close(st);
}

static void test_secret(void **state)
{
	struct lk_store *st = open_ok(), *st2 = open_ok();
	unsigned char a[32], b[32], c[32], zero[32] = {0};

	assert_rc(st->ops->secret(st, "refresh", a), LK_OK);
	assert_rc(st2->ops->secret(st2, "refresh", b), LK_OK);
	assert_memory_equal(a, b, 32);
	assert_memory_not_equal(a, zero, 32);
	assert_rc(st->ops->secret(st, "csrf", c), LK_OK);
	assert_memory_not_equal(a, c, 32);
	lk_store_close(st);
	st = open_ok();
	assert_rc(st->ops->secret(st, "refresh", b), LK_OK);
	assert_memory_equal(a, b, 32);
	/* a value that is not 32 bytes is damage */
	drv_damage_secret("short");
	assert_rc(st->ops->secret(st, "short", c), LK_ESTORE_CORRUPT);
	lk_store_close(st);
	lk_store_close(st2);
}

/* ---------------------------------------------------------------- re-entry */

struct reenter {
	struct lk_store *st;
	int users, inner;
};

static int count_sessions(void *ud, const struct lk_session *s)
{
	++*(int *)ud;
	return 0;
}

static int inner_user(void *ud, const struct lk_user *u)
{
	++*(int *)ud;
	return 0;
}

static int outer_user(void *ud, const struct lk_user *u)
{
	struct reenter *r = ud;
	struct lk_user again;
	int n = 0;
	r->users++;
	if (r->st->ops->user_get_id(r->st, u->id, &again) != LK_OK)
		return 1;
	if (r->st->ops->session_list(r->st, u->id, count_sessions, &n) != LK_OK || n != 1)
		return 1;
	if (r->st->ops->user_list(r->st, inner_user, &r->inner) != LK_OK)
		return 1;
	return 0;
}

static void test_reentrant_listing(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL);
	int64_t a = user_add_ok(st, "alice"), b = user_add_ok(st, "bob");
	struct lk_session sa = sess_make("ra", a, t0), sb = sess_make("rb", b, t0);
	sess_add_ok(st, &sa);
	sess_add_ok(st, &sb);
	struct reenter r = {st, 0, 0};
	assert_rc(st->ops->user_list(st, outer_user, &r), LK_OK);
	assert_int_equal(r.users, 2);
	assert_int_equal(r.inner, 4);
	r.users = r.inner = 0;
	assert_rc(st->ops->user_list(st, outer_user, &r), LK_OK);
	assert_int_equal(r.users, 2);
	lk_store_close(st);
}

/* ---------------------------------------------------------------- threads */

#define NTHREADS 4
#define NITER 300

struct worker {
	struct lk_store *st;
	int64_t user_id;
	int t;
	int failures;
	enum lk_err first;
	pthread_barrier_t *done;
	pthread_barrier_t *hold;
	int64_t t0;
};

static void fail_once(struct worker *w, enum lk_err e)
{
	if (!w->failures++)
		w->first = e;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < NITER; i++) {
		char tag[32];
		snprintf(tag, sizeof tag, "t%d-%d", w->t, i);
		struct lk_session s = sess_make(tag, w->user_id, w->t0 + i), out;
		enum lk_err e;
		if ((e = w->st->ops->session_add(w->st, &s)))
			fail_once(w, e);
		if ((e = w->st->ops->session_get(w->st, s.id_hash, &out)))
			fail_once(w, e);
		else if (memcmp(out.id_hash, s.id_hash, 32) || strcmp(out.handle, s.handle))
			fail_once(w, LK_ESTORE_CORRUPT);
		if ((e = w->st->ops->session_touch(w->st, s.id_hash, w->t0 + 1000 + i,
						   w->t0 + 1000 + i)))
			fail_once(w, e);
		if ((e = w->st->ops->session_get(w->st, s.id_hash, &out)))
			fail_once(w, e);
		else if (out.last_seen != w->t0 + 1000 + i)
			fail_once(w, LK_ESTORE_CORRUPT);
		if (i % 10 == 9 && (e = w->st->ops->session_del(w->st, s.id_hash)))
			fail_once(w, e);
	}
	if (w->done) {
		pthread_barrier_wait(w->done);
		pthread_barrier_wait(w->hold);
	}
	return NULL;
}

static void run_threads(struct lk_store *st, int64_t uid, pthread_barrier_t *done,
			pthread_barrier_t *hold, pthread_t *tid, struct worker *w)
{
	int64_t t0 = time(NULL);
	for (int t = 0; t < NTHREADS; t++) {
		w[t] = (struct worker){st, uid, t, 0, LK_OK, done, hold, t0};
		assert_int_equal(pthread_create(&tid[t], NULL, work, &w[t]), 0);
	}
}

static void check_workers(struct worker *w)
{
	for (int t = 0; t < NTHREADS; t++)
		if (w[t].failures)
			fail_msg("thread %d: %d failures, first %s", t, w[t].failures,
				 lk_err_str(w[t].first));
}

static void test_threads(void **state)
{
	struct lk_store *st = open_ok();
	int64_t uid = user_add_ok(st, "alice");
	pthread_t tid[NTHREADS];
	struct worker w[NTHREADS];

	run_threads(st, uid, NULL, NULL, tid, w);
	for (int t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_join(tid[t], NULL), 0);
	check_workers(w);
	int64_t n = -1;
	assert_rc(st->ops->session_count(st, 0, &n), LK_OK);
	assert_int_equal(n, NTHREADS * (NITER - NITER / 10));
	drv_threads_gone(); /* each thread's connection closed at its exit */
	lk_store_close(st);
}

/* ---------------------------------------------------------------- generation */

/*
 * The session cache (auth/scache.h) trusts a cached session while the generation stands
 * still, so every change that can end a session, or that changes keys or revocations,
 * must move it, as seen from another store handle (another process); and nothing else
 * should, or the cache is useless.
 */
static void test_generation(void **state)
{
	struct lk_store *a = open_ok(), *b = open_ok();
	int64_t t0 = time(NULL), n;
	struct lk_user u = user_make("alice", "");
	struct lk_session s1 = sess_make("g1", 0, t0), s2;
	struct lk_audit ev;

	assert_non_null(a->ops->generation);
	assert_rc(a->ops->user_add(a, &u), LK_OK);
	uint64_t g = b->ops->generation(b);
	assert_true(gen_still(b, g) == g); /* stable when nothing happens */
	s1.user_id = u.id;
	s2 = sess_make("g2", u.id, t0);
	sess_add_ok(a, &s1);
	sess_add_ok(a, &s2);
	assert_rc(a->ops->session_touch(a, s1.id_hash, t0 + 10, t0 + 5), LK_OK);
	memset(&ev, 0, sizeof ev);
	snprintf(ev.event, sizeof ev.event, "login");
	assert_rc(a->ops->audit_add(a, &ev), LK_OK);
	struct lk_refresh *rt = rt_make("g", "famG", u.id, t0 + 3600);
	assert_rc(a->ops->refresh_add(a, rt), LK_OK);
	assert_rc(a->ops->refresh_claim(a, rt->hash, t0, "tok"), LK_OK);
	assert_rc(a->ops->set_revocation_ttl(a, 900), LK_OK);
	unsigned char sec[32];
	assert_rc(a->ops->secret(a, "x", sec), LK_OK);
	assert_true(gen_still(b, g) == g); /* none of that ends anything */

#define MOVES(expr)                                                                      \
	do {                                                                             \
		assert_rc((expr), LK_OK);                                                \
		uint64_t g2 = gen_moved(b, g);                                     \
		if (g2 == g)                                                             \
			fail_msg("%s did not move the generation", #expr);              \
		g = g2;                                                                  \
	} while (0)
	MOVES(a->ops->session_del(a, s1.id_hash));
	assert_rc(a->ops->session_del(a, s1.id_hash), LK_ENOT_FOUND);
	assert_true(gen_still(b, g) == g); /* nothing deleted, nothing to invalidate */
	MOVES(a->ops->user_set_password(a, "alice", "$argon2id$new", 3000, NULL, NULL));
	/* revoke_user: everyone's sessions; again with nothing to end; one user's, keeping one */
	sess_add_ok(a, &s1);
	MOVES(a->ops->revoke_user(a, -1, NULL, t0 + 100, &n, NULL, NULL, NULL));
	assert_int_equal(n, 1);
	assert_rc(a->ops->revoke_user(a, -1, NULL, t0 + 100, &n, NULL, NULL, NULL), LK_OK);
	assert_int_equal(n, 0);
	assert_true(gen_still(b, g) == g);
	sess_add_ok(a, &s1);
	sess_add_ok(a, &s2);
	MOVES(a->ops->revoke_user(a, u.id, s2.id_hash, t0 + 100, &n, NULL, NULL, NULL));
	assert_int_equal(n, 1);
	assert_true(sess_exists(a, &s2)); /* kept: the purge below takes it */
	sess_add_ok(a, &s1);
	MOVES(a->ops->session_del_handle(a, u.id, "h-g1"));
	assert_rc(a->ops->session_purge(a, t0, 0, &n), LK_OK);
	assert_true(gen_still(b, g) == g); /* nothing to purge */
	sess_add_ok(a, &s1);
	MOVES(a->ops->session_purge(a, t0, t0 + 1, &n));
	MOVES(a->ops->revoke_add(a, "jti", "j", 0, t0 + 100));
	MOVES(a->ops->family_revoke(a, "famG", t0 + 100, &n));
	/* revoke_user that ends only a refresh family, then only a session */
	struct lk_refresh *rt2 = rt_make("g2", "famG2", u.id, t0 + 3600);
	int64_t nf = -1;
	assert_rc(a->ops->refresh_add(a, rt2), LK_OK);
	MOVES(a->ops->revoke_user(a, u.id, NULL, t0 + 100, &n, &nf, NULL, NULL));
	assert_int_equal(n, 0);
	assert_int_equal(nf, 1);
	sess_add_ok(a, &s1);
	MOVES(a->ops->revoke_user(a, u.id, NULL, t0 + 100, &n, &nf, NULL, NULL));
	assert_int_equal(n, 1);
	assert_int_equal(nf, 0);
	struct lk_keyrec *k = key_make("kg", 1, 2);
	MOVES(a->ops->key_add(a, k));
	MOVES(a->ops->key_retire(a, "kg", 3, 4));
	MOVES(a->ops->key_del(a, "kg"));
	MOVES(a->ops->user_del(a, "alice", NULL, NULL));
#undef MOVES
	free(k);
	free(rt);
	free(rt2);
	lk_store_close(a);
	lk_store_close(b);
}


/* ---------------------------------------------------------------- generation_wait */

struct gen_waiter {
	struct lk_store *st;
	uint64_t seen, got;
	double took;
};

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *gen_wait_thread(void *arg)
{
	struct gen_waiter *w = arg;
	double t0 = mono_now();
	w->got = w->st->ops->generation_wait(w->st, w->seen, 5000);
	w->took = mono_now() - t0;
	return NULL;
}

/*
 * generation_wait (optional; both back ends have it): a change through another handle (as
 * another process would make it) wakes a waiter at once, not at its timeout, and the value
 * it returns is the new generation; with nothing happening it returns the value it was
 * given once the timeout passed, and not much earlier.
 */
static void test_generation_wait(void **state)
{
	struct lk_store *a = open_ok(), *b = open_ok();
	struct gen_waiter w = {.st = b};
	pthread_t th;

	assert_non_null(b->ops->generation_wait);
	uint64_t g = b->ops->generation(b);
	assert_true(gen_still(b, g) == g);

	/* timeout: the same value, after about the time asked */
	double t0 = mono_now();
	assert_true(b->ops->generation_wait(b, g, 300) == g);
	double dt = mono_now() - t0;
	if (dt < 0.25 || dt > 2.0)
		fail_msg("generation_wait(300 ms) with nothing happening took %.3f s", dt);

	/* a change elsewhere wakes the waiter */
	w.seen = g;
	assert_int_equal(pthread_create(&th, NULL, gen_wait_thread, &w), 0);
	usleep(200000); /* let it sleep */
	assert_rc(a->ops->revoke_add(a, "jti", "wake-me", 0, time(NULL) + 100), LK_OK);
	double t1 = mono_now();
	pthread_join(th, NULL);
	if (w.got == g)
		fail_msg("the waiter was not woken by a revocation (%.3f s)", w.took);
	if (mono_now() - t1 > 0.5)
		fail_msg("the waiter woke %.3f s after the revocation", mono_now() - t1);
	/* generation() agrees (at once, or once the message is handled: while a message is
	 * in the subscriber's socket or being handled, Redis's generation() is "unknown") */
	bool agreed = false;
	for (int i = 0; i < 100 && !agreed; i++) {
		agreed = b->ops->generation(b) == w.got;
		if (!agreed)
			usleep(10000);
	}
	assert_true(agreed);

	/* a value already behind returns at once */
	t0 = mono_now();
	assert_true(b->ops->generation_wait(b, g, 5000) == w.got);
	assert_true(mono_now() - t0 < 0.5);
	lk_store_close(a);
	lk_store_close(b);
}

/* ---------------------------------------------------------------- user ids */

/*
 * A user id is never handed out twice, not even after the user with the largest id is
 * deleted and the store reopened: tokens and revocations name users by id (`sub`), so a
 * new account must never inherit the `sub` of a deleted one.
 */
static void test_user_ids_never_reused(void **state)
{
	struct lk_store *st = open_ok();
	int64_t a = user_add_ok(st, "a"), b = user_add_ok(st, "b");
	assert_true(b > a);
	assert_rc(st->ops->user_del(st, "b", NULL, NULL), LK_OK);
	int64_t c = user_add_ok(st, "c");
	assert_true(c > b);
	assert_rc(st->ops->user_del(st, "c", NULL, NULL), LK_OK);
	lk_store_close(st);
	st = open_ok();
	int64_t d = user_add_ok(st, "c"); /* even under the same name */
	assert_true(d > c);
	int64_t e = user_add_ok(st, "b");
	assert_true(e > d);
	lk_store_close(st);
}

/* ---------------------------------------------------------------- password, deletion */

/*
 * SPEC: "password change or deletion revokes all of that user's sessions and refresh
 * tokens". Each refresh family (here one rotated once, so it has a used token and a live
 * head, and one fresh) goes in the same change and is recorded as one `sid` revocation.
 */
static void test_user_change_ends_families(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL), n = -1;
	int64_t alice = user_add_ok(st, "alice"), bob = user_add_ok(st, "bob");
	struct lk_refresh *a1 = rt_make("a1", "famA1", alice, t0 + 3600);
	struct lk_refresh *a2 = rt_make("a2", "famA1", alice, t0 + 3600);
	struct lk_refresh *a3 = rt_make("a3", "famA2", alice, t0 + 3600);
	struct lk_refresh *b1 = rt_make("b1", "famB1", bob, t0 + 3600);
	struct lk_refresh *out = calloc(1, sizeof *out);

	assert_rc(st->ops->refresh_add(st, a1), LK_OK);
	assert_rc(st->ops->refresh_claim(st, a1->hash, t0, "at-a1"), LK_OK);
	assert_rc(st->ops->refresh_add(st, a2), LK_OK);
	assert_rc(st->ops->refresh_add(st, a3), LK_OK);
	assert_rc(st->ops->refresh_add(st, b1), LK_OK);
	assert_rc(st->ops->user_set_password(st, "alice", "$argon2id$new", t0, NULL, NULL), LK_OK);
	assert_rc(st->ops->refresh_get(st, a1->hash, out), LK_ENOT_FOUND);
	assert_rc(st->ops->refresh_get(st, a2->hash, out), LK_ENOT_FOUND);
	assert_rc(st->ops->refresh_get(st, a3->hash, out), LK_ENOT_FOUND);
	assert_rc(st->ops->refresh_get(st, b1->hash, out), LK_OK);
	struct rev_acc *rv = revs(st, 0, t0);
	assert_int_equal(rev_count(rv, "sid", "famA1"), 1);
	assert_int_equal(rev_count(rv, "sid", "famA2"), 1);
	assert_int_equal(rev_count(rv, "sid", "famB1"), 0);

	assert_rc(st->ops->user_del(st, "bob", NULL, NULL), LK_OK);
	assert_rc(st->ops->refresh_get(st, b1->hash, out), LK_ENOT_FOUND);
	assert_int_equal(rev_count(revs(st, 0, t0), "sid", "famB1"), 1);
	/* nothing of theirs is left for a later sign-out to find */
	int64_t ns = -1;
	assert_rc(st->ops->revoke_user(st, alice, NULL, t0 + 100, &ns, &n, NULL, NULL), LK_OK);
	assert_int_equal(ns, 0);
	assert_int_equal(n, 0);
	drv_refresh_clean();
	free(a1);
	free(a2);
	free(a3);
	free(b1);
	free(out);
	lk_store_close(st);
}

/* ---------------------------------------------------------------- revoke_user */

/*
 * "Sign out everywhere" in one change: sessions (but the one kept) and every refresh
 * family of the user, each family one `sid` revocation lasting until `until`, each session
 * its `sid` as session_del records it; another user untouched; then everyone.
 */
static void test_revoke_user(void **state)
{
	struct lk_store *st = open_ok(), *other = open_ok();
	int64_t t0 = time(NULL), ns = -1, nf = -1;
	int64_t alice = user_add_ok(st, "alice"), bob = user_add_ok(st, "bob");
	struct lk_session s1 = sess_make("s1", alice, t0), s2 = sess_make("s2", alice, t0);
	struct lk_session s3 = sess_make("s3", alice, t0), s4 = sess_make("s4", bob, t0);
	struct lk_refresh *fa1 = rt_make("fa1", "famA", alice, t0 + 3600);
	struct lk_refresh *fa2 = rt_make("fa2", "famA", alice, t0 + 3600);
	struct lk_refresh *fb = rt_make("fb", "famB", alice, t0 + 3600);
	struct lk_refresh *fc = rt_make("fc", "famC", bob, t0 + 3600);
	struct lk_refresh *out = calloc(1, sizeof *out);

	sess_add_ok(st, &s1);
	sess_add_ok(st, &s2);
	sess_add_ok(st, &s3);
	sess_add_ok(st, &s4);
	assert_rc(st->ops->refresh_add(st, fa1), LK_OK);
	assert_rc(st->ops->refresh_claim(st, fa1->hash, t0, "at-fa1"), LK_OK);
	assert_rc(st->ops->refresh_add(st, fa2), LK_OK);
	assert_rc(st->ops->refresh_add(st, fb), LK_OK);
	assert_rc(st->ops->refresh_add(st, fc), LK_OK);
	uint64_t g = other->ops->generation(other);

	assert_rc(st->ops->revoke_user(st, alice, s2.id_hash, t0 + 777, &ns, &nf, NULL, NULL), LK_OK);
	assert_int_equal(ns, 2);
	assert_int_equal(nf, 2);
	assert_true(gen_moved(other, g) != g);
	assert_false(sess_exists(st, &s1));
	assert_true(sess_exists(st, &s2));
	assert_false(sess_exists(st, &s3));
	assert_true(sess_exists(st, &s4));
	assert_rc(st->ops->refresh_get(st, fa1->hash, out), LK_ENOT_FOUND);
	assert_rc(st->ops->refresh_get(st, fa2->hash, out), LK_ENOT_FOUND);
	assert_rc(st->ops->refresh_get(st, fb->hash, out), LK_ENOT_FOUND);
	assert_rc(st->ops->refresh_get(st, fc->hash, out), LK_OK);
	struct rev_acc *rv = revs(st, 0, t0);
	assert_int_equal(rev_count(rv, "sid", "h-s1"), 1);
	assert_int_equal(rev_count(rv, "sid", "h-s3"), 1);
	assert_int_equal(rev_count(rv, "sid", "h-s2"), 0);
	assert_int_equal(rev_count(rv, "sid", "famA"), 1);
	assert_int_equal(rev_count(rv, "sid", "famB"), 1);
	assert_int_equal(rev_count(rv, "sid", "famC"), 0);
	assert_int_equal(rev_find(rv, "sid", "famA")->expires, t0 + 777);
	assert_int_equal(rev_find(rv, "sid", "famB")->expires, t0 + 777);
	assert_int_equal(rv->n, 4);

	/* again: nothing left to end, nothing moves */
	g = other->ops->generation(other);
	assert_rc(st->ops->revoke_user(st, alice, s2.id_hash, t0 + 777, &ns, &nf, NULL, NULL), LK_OK);
	assert_int_equal(ns, 0);
	assert_int_equal(nf, 0);
	assert_true(gen_still(other, g) == g);

	/* everyone: s2 and s4, family famC */
	assert_rc(st->ops->revoke_user(st, -1, NULL, t0 + 888, &ns, &nf, NULL, NULL), LK_OK);
	assert_int_equal(ns, 2);
	assert_int_equal(nf, 1);
	assert_true(gen_moved(other, g) != g);
	assert_false(sess_exists(st, &s2));
	assert_false(sess_exists(st, &s4));
	assert_rc(st->ops->refresh_get(st, fc->hash, out), LK_ENOT_FOUND);
	rv = revs(st, 0, t0);
	assert_int_equal(rev_count(rv, "sid", "famC"), 1);
	assert_int_equal(rev_find(rv, "sid", "famC")->expires, t0 + 888);
	assert_int_equal(rev_count(rv, "sid", "h-s2"), 1);
	assert_int_equal(rev_count(rv, "sid", "h-s4"), 1);
	assert_int_equal(rv->n, 7);
	int64_t n = -1;
	assert_rc(st->ops->session_count(st, t0, &n), LK_OK);
	assert_int_equal(n, 0);
	/* counts may be NULL */
	assert_rc(st->ops->revoke_user(st, -1, NULL, t0 + 888, NULL, NULL, NULL, NULL), LK_OK);
	drv_sessions_clean(-1);
	drv_refresh_clean();
	free(fa1);
	free(fa2);
	free(fb);
	free(fc);
	free(out);
	lk_store_close(st);
	lk_store_close(other);
}

/* The newest revocation's cursor (0: none). */
static int64_t last_cursor(struct lk_store *st)
{
	struct rev_acc *rv = revs(st, 0, 0);
	return rv->n ? rv->r[(rv->n < 64 ? rv->n : 64) - 1].cursor : 0;
}

/* got holds exactly what the store lists past cursor `after`, field for field, in order. */
static void same_as_stored(struct lk_store *st, const struct rev_acc *got, int64_t after)
{
	struct rev_acc *want = revs(st, after, 0);
	assert_int_equal(got->n, want->n);
	for (int i = 0; i < got->n && i < 64; i++) {
		assert_int_equal(got->r[i].cursor, want->r[i].cursor);
		assert_string_equal(got->r[i].type, want->r[i].type);
		assert_string_equal(got->r[i].value, want->r[i].value);
		assert_int_equal(got->r[i].before, want->r[i].before);
		assert_int_equal(got->r[i].expires, want->r[i].expires);
	}
}

static int stop_at_first(void *ud, const struct lk_revocation *r)
{
	collect_rev(ud, r);
	return 1;
}

/*
 * revoke_user, user_set_password and user_del report each revocation they recorded, and
 * nothing else: what the server's own verifier is told at once (auth.c deny_recorded).
 * Checked against the store's own listing after the change; a revocation recorded before
 * by another call is not reported; a change that fails reports nothing.
 */
static void test_changes_report_revocations(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL), ns = -1, nf = -1, c;
	int64_t alice = user_add_ok(st, "alice"), bob = user_add_ok(st, "bob");
	int64_t carol = user_add_ok(st, "carol");
	struct lk_session s1 = sess_make("s1", alice, t0), s2 = sess_make("s2", alice, t0);
	struct lk_session s3 = sess_make("s3", bob, t0), s4 = sess_make("s4", carol, t0);
	struct lk_refresh *fa = rt_make("fa", "famA", alice, t0 + 3600);
	struct lk_refresh *fb = rt_make("fb", "famB", bob, t0 + 3600);
	struct rev_acc got;
	char id[24];

	sess_add_ok(st, &s1);
	sess_add_ok(st, &s2);
	sess_add_ok(st, &s3);
	sess_add_ok(st, &s4);
	assert_rc(st->ops->refresh_add(st, fa), LK_OK);
	assert_rc(st->ops->refresh_add(st, fb), LK_OK);
	assert_rc(st->ops->revoke_add(st, "jti", "someone-else", 0, t0 + 100), LK_OK);

	/* alice but s2: s1 and her family */
	c = last_cursor(st);
	memset(&got, 0, sizeof got);
	assert_rc(st->ops->revoke_user(st, alice, s2.id_hash, t0 + 777, &ns, &nf, collect_rev, &got),
		  LK_OK);
	assert_int_equal(got.n, 2);
	assert_int_equal(rev_count(&got, "sid", "h-s1"), 1);
	assert_int_equal(rev_count(&got, "sid", "famA"), 1);
	assert_int_equal(rev_find(&got, "sid", "famA")->expires, t0 + 777);
	same_as_stored(st, &got, c);

	/* bob's new password: his session, his family and a `sub` from pw_changed */
	c = last_cursor(st);
	memset(&got, 0, sizeof got);
	assert_rc(st->ops->user_set_password(st, "bob", "$argon2id$new", t0, collect_rev, &got),
		  LK_OK);
	snprintf(id, sizeof id, "%lld", (long long)bob);
	assert_int_equal(got.n, 3);
	assert_int_equal(rev_count(&got, "sid", "h-s3"), 1);
	assert_int_equal(rev_count(&got, "sid", "famB"), 1);
	assert_int_equal(rev_find(&got, "sub", id)->before, t0);
	same_as_stored(st, &got, c);

	/* carol deleted: her session and a `sub` */
	c = last_cursor(st);
	memset(&got, 0, sizeof got);
	assert_rc(st->ops->user_del(st, "carol", collect_rev, &got), LK_OK);
	snprintf(id, sizeof id, "%lld", (long long)carol);
	assert_int_equal(got.n, 2);
	assert_int_equal(rev_count(&got, "sid", "h-s4"), 1);
	assert_non_null(rev_find(&got, "sub", id));
	same_as_stored(st, &got, c);

	/* failures and changes that record nothing report nothing */
	memset(&got, 0, sizeof got);
	assert_rc(st->ops->user_set_password(st, "nobody", "$argon2id$x", t0, collect_rev, &got),
		  LK_ENOT_FOUND);
	assert_rc(st->ops->user_del(st, "carol", collect_rev, &got), LK_ENOT_FOUND);
	assert_rc(st->ops->revoke_user(st, bob, NULL, t0 + 777, &ns, &nf, collect_rev, &got), LK_OK);
	assert_int_equal(got.n, 0);

	/* everyone: s2 is what is left; a callback that returns non-zero is not called again */
	sess_add_ok(st, &s1);
	memset(&got, 0, sizeof got);
	assert_rc(st->ops->revoke_user(st, -1, NULL, t0 + 888, &ns, &nf, stop_at_first, &got), LK_OK);
	assert_int_equal(ns, 2);
	assert_int_equal(got.n, 1);
	drv_sessions_clean(-1);
	drv_refresh_clean();
	free(fa);
	free(fb);
	lk_store_close(st);
}

struct watcher {
	struct lk_store *st;
	const unsigned char *sess, *rt;
	_Atomic int stop;
	int torn;  /* saw the session gone while its user's refresh token stood */
	int reads;
};

static void *watch_reader(void *arg)
{
	struct watcher *w = arg;
	struct lk_session s;
	struct lk_refresh *r = calloc(1, sizeof *r);
	while (r && !w->stop) {
		/* session first, then the token: an atomic change never shows "session gone,
		 * token still there" in this order; two separate commits can */
		enum lk_err es = w->st->ops->session_get(w->st, w->sess, &s);
		enum lk_err er = w->st->ops->refresh_get(w->st, w->rt, r);
		w->reads++;
		if (es == LK_ENOT_FOUND && er == LK_OK)
			w->torn++;
		if (es == LK_ENOT_FOUND && er == LK_ENOT_FOUND)
			break;
	}
	free(r);
	return NULL;
}

/* A reader on another handle never sees half of a sign-out. */
static void test_revoke_user_atomic(void **state)
{
	struct lk_store *st = open_ok(), *rd = open_ok();
	int64_t t0 = time(NULL);
	int64_t alice = user_add_ok(st, "alice");

	for (int round = 0; round < 20; round++) {
		char tag[16];
		snprintf(tag, sizeof tag, "at%d", round);
		struct lk_session s = sess_make(tag, alice, t0);
		struct lk_refresh *r = rt_make(tag, tag, alice, t0 + 3600);
		struct watcher w = {rd, s.id_hash, r->hash, 0, 0, 0};
		pthread_t tid;
		int64_t ns = 0, nf = 0;
		sess_add_ok(st, &s);
		assert_rc(st->ops->refresh_add(st, r), LK_OK);
		assert_int_equal(pthread_create(&tid, NULL, watch_reader, &w), 0);
		while (!w.reads)
			usleep(100);
		assert_rc(st->ops->revoke_user(st, alice, NULL, t0 + 100, &ns, &nf, NULL, NULL), LK_OK);
		assert_int_equal(ns, 1);
		assert_int_equal(nf, 1);
		assert_int_equal(pthread_join(tid, NULL), 0);
		if (w.torn)
			fail_msg("round %d: a reader saw the session gone and the token alive", round);
		free(r);
	}
	lk_store_close(rd);
	lk_store_close(st);
}

/* ---------------------------------------------------------------- refresh_purge */

/*
 * next_access (a live access token kept in clear for the grace window) must not outlive
 * the window: after refresh_purge(now, used_before), every token used before used_before
 * has it empty, and later ones keep theirs.
 */
static void test_refresh_purge(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL), n = -1;
	int64_t alice = user_add_ok(st, "alice");
	struct lk_refresh *old = rt_make("old", "famP", alice, t0 + 3600);
	struct lk_refresh *fresh = rt_make("fresh", "famP", alice, t0 + 3600);
	struct lk_refresh *unused = rt_make("unused", "famP", alice, t0 + 3600);
	struct lk_refresh *out = calloc(1, sizeof *out);

	assert_rc(st->ops->refresh_add(st, old), LK_OK);
	assert_rc(st->ops->refresh_add(st, fresh), LK_OK);
	assert_rc(st->ops->refresh_add(st, unused), LK_OK);
	assert_rc(st->ops->refresh_claim(st, old->hash, t0 - 100, "at-old"), LK_OK);
	assert_rc(st->ops->refresh_claim(st, fresh->hash, t0 - 2, "at-fresh"), LK_OK);
	uint64_t g = st->ops->generation(st);
	assert_rc(st->ops->refresh_purge(st, t0, t0 - 10, &n), LK_OK);
	assert_int_equal(n, 1);
	assert_true(st->ops->generation(st) == g); /* nothing ended */
	assert_rc(st->ops->refresh_get(st, old->hash, out), LK_OK);
	assert_string_equal(out->next_access, "");
	assert_int_equal(out->used_at, t0 - 100); /* still used: reuse is still detected */
	assert_rc(st->ops->refresh_get(st, fresh->hash, out), LK_OK);
	assert_string_equal(out->next_access, "at-fresh");
	assert_rc(st->ops->refresh_get(st, unused->hash, out), LK_OK);
	assert_int_equal(out->used_at, 0);
	/* idempotent; then the window of the fresh one ends too */
	assert_rc(st->ops->refresh_purge(st, t0, t0 - 10, &n), LK_OK);
	assert_int_equal(n, 0);
	assert_rc(st->ops->refresh_purge(st, t0, t0, NULL), LK_OK);
	assert_rc(st->ops->refresh_get(st, fresh->hash, out), LK_OK);
	assert_string_equal(out->next_access, "");
	/* a later claim of another token is trimmed by a later purge */
	assert_rc(st->ops->refresh_claim(st, unused->hash, t0, "at-unused"), LK_OK);
	assert_rc(st->ops->refresh_purge(st, t0, t0 + 1, &n), LK_OK);
	assert_int_equal(n, 1);
	assert_rc(st->ops->refresh_get(st, unused->hash, out), LK_OK);
	assert_string_equal(out->next_access, "");
	free(old);
	free(fresh);
	free(unused);
	free(out);
	lk_store_close(st);
}

/* ---------------------------------------------------------------- revocation TTL */

/* The store's own revocations (a session ending) last revocation_ttl from now. */
static void test_revocation_ttl(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL), ttl = -1;
	int64_t alice = user_add_ok(st, "alice");
	struct lk_session s = sess_make("ttl", alice, t0);

	assert_rc(st->ops->revocation_ttl(st, &ttl), LK_OK);
	assert_int_equal(ttl, 960); /* the default: 15 min tokens + 60 s leeway */
	assert_rc(st->ops->set_revocation_ttl(st, 300), LK_OK);
	assert_rc(st->ops->revocation_ttl(st, &ttl), LK_OK);
	assert_int_equal(ttl, 300);
	sess_add_ok(st, &s);
	assert_rc(st->ops->session_del(st, s.id_hash), LK_OK);
	const struct lk_revocation *r = rev_find(revs(st, 0, t0), "sid", "h-ttl");
	assert_non_null(r);
	assert_true(r->expires >= t0 + 300 && r->expires <= t0 + 305);
	/* in effect until then, gone after */
	assert_int_equal(rev_count(revs(st, 0, r->expires - 1), "sid", "h-ttl"), 1);
	assert_int_equal(rev_count(revs(st, 0, r->expires), "sid", "h-ttl"), 0);
	lk_store_close(st);
}

/* ---------------------------------------------------------------- secret_claim */

/* Two instances offer different values at once: both end up with the first writer's. */
static void test_secret_claim(void **state)
{
	struct lk_store *a = open_ok(), *b = open_ok();
	unsigned char ma[32], mb[32], oa[32], ob[32], again[32];
	memset(ma, 0xa1, sizeof ma);
	memset(mb, 0xb2, sizeof mb);
	assert_rc(a->ops->secret_claim(a, "first-key", ma, oa), LK_OK);
	assert_rc(b->ops->secret_claim(b, "first-key", mb, ob), LK_OK);
	assert_memory_equal(oa, ma, 32);
	assert_memory_equal(ob, ma, 32);
	assert_rc(b->ops->secret(b, "first-key", again), LK_OK);
	assert_memory_equal(again, ma, 32);
	lk_store_close(a);
	lk_store_close(b);
}

/* ---------------------------------------------------------------- sign-in limits */

#define RL_THREADS 12
static const struct lk_rlcfg rl_cfg = {.pair_free = 5, .backoff_max = 900, .ip_per_min = 60};

struct taker {
	struct lk_ratelimit *rl;
	pthread_barrier_t *go;
	int64_t now;
	enum lk_err rc;
	int64_t retry;
};

static void *take(void *arg)
{
	struct taker *t = arg;
	pthread_barrier_wait(t->go);
	t->rc = lk_rl_take(t->rl, "alice", "198.51.100.7", t->now, &t->retry);
	return NULL;
}

/*
 * The story: an attacker fires 12 guesses for one account from one address at the same
 * instant. With check-then-fail all 12 pass the check before any failure is counted;
 * with the reservation exactly pair_free (5) go on and the rest wait. Each thread has its
 * own limiter on its own store handle, as 12 instances would.
 */
static void test_rl_take_race(void **state)
{
	struct lk_store *st[RL_THREADS];
	struct lk_ratelimit *rl[RL_THREADS];
	struct taker tk[RL_THREADS];
	pthread_t tid[RL_THREADS];
	pthread_barrier_t go;
	int64_t now = time(NULL);
	int ok = 0, limited = 0;

	assert_int_equal(pthread_barrier_init(&go, NULL, RL_THREADS), 0);
	for (int i = 0; i < RL_THREADS; i++) {
		st[i] = open_ok();
		assert_non_null(st[i]->ops->rl_take);
		assert_rc(lk_rl_new(&rl_cfg, &rl[i]), LK_OK);
		lk_rl_use_store(rl[i], st[i]);
		tk[i] = (struct taker){rl[i], &go, now, LK_EINVAL, 0};
	}
	for (int i = 0; i < RL_THREADS; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, take, &tk[i]), 0);
	for (int i = 0; i < RL_THREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		if (tk[i].rc == LK_OK) {
			ok++;
		} else if (tk[i].rc == LK_ERATE_LIMITED) {
			limited++;
			assert_true(tk[i].retry >= 1); /* the sixth waits 1 s */
		} else {
			fail_msg("thread %d: %s", i, lk_err_str(tk[i].rc));
		}
	}
	pthread_barrier_destroy(&go);
	assert_int_equal(ok, 5);
	assert_int_equal(limited, RL_THREADS - 5);
	for (int i = 0; i < RL_THREADS; i++) {
		lk_rl_free(rl[i]);
		lk_store_close(st[i]);
	}
}

/* What rl_take answers, when it refuses: LK_OK is 0, a refusal its retry_after. A refusal
 * records nothing, so asking again is a read; an attempt that goes on counts a failure. */
static int64_t rl_wait(struct lk_store *st, const char *pair, const char *ip, int64_t now,
		       const struct lk_rlcfg *cfg)
{
	int64_t retry = -1;
	enum lk_err rc = st->ops->rl_take(st, pair, ip, now, cfg, &retry);
	if (rc == LK_OK) {
		assert_int_equal(retry, -1); /* written only when limited */
		return 0;
	}
	assert_rc(rc, LK_ERATE_LIMITED);
	assert_true(retry > 0);
	return retry;
}

/*
 * rl_take and rl_release on the store's own keys: what each leaves behind, as the next
 * rl_take sees it. The keys are opaque, so a fresh pair key reads an ip's bucket alone (a
 * pair belongs to one ip: store.h). cfg: backoff after 2 failures; 3 tokens a minute,
 * one per 20 s, so an empty bucket answers 21 and one holding a token goes on.
 */
static void test_rl_take_release(void **state)
{
	struct lk_store *st = open_ok();
	const struct lk_rlcfg cfg = {.pair_free = 2, .backoff_max = 900, .ip_per_min = 3};
	int64_t now = time(NULL);

	assert_int_equal(rl_wait(st, "pairA", "ipX", now, &cfg), 0);
	assert_int_equal(rl_wait(st, "pairA", "ipX", now, &cfg), 0);
	/* the pair is in backoff now: 2^0 s from a last failure at now, so exactly two were
	 * counted; refused, and nothing recorded (a third failure would make it 2 s) */
	assert_int_equal(rl_wait(st, "pairA", "ipX", now, &cfg), 1);
	assert_int_equal(rl_wait(st, "pairA", "ipX", now, &cfg), 1);
	/* ipX holds one token (3 - 2; the refusals took none): another account from it takes
	 * the last one, then the ip is empty */
	assert_int_equal(rl_wait(st, "pairB", "ipX", now, &cfg), 0);
	assert_int_equal(rl_wait(st, "pairC", "ipX", now, &cfg), 21); /* one token at 3 a minute */
	/* the owner elsewhere (another pair: the pair key names account and ip) goes on */
	assert_int_equal(rl_wait(st, "pairA-Y", "ipY", now, &cfg), 0);

	/* that attempt succeeded: its pair is forgiven (two free attempts again, then the
	 * backoff), and its token is back (ipY full: 3) */
	assert_rc(st->ops->rl_release(st, "pairA-Y", "ipY", now, &cfg), LK_OK);
	assert_int_equal(rl_wait(st, "pairA-Y", "ipY", now, &cfg), 0);
	assert_int_equal(rl_wait(st, "pairA-Y", "ipY", now, &cfg), 0);
	assert_int_equal(rl_wait(st, "pairA-Y", "ipY", now, &cfg), 1);
	assert_int_equal(rl_wait(st, "pairY2", "ipY", now, &cfg), 0);
	assert_int_equal(rl_wait(st, "pairY3", "ipY", now, &cfg), 21);
	/* release on ipX gives one token back (0 + 1) and resets pairA's backoff */
	assert_rc(st->ops->rl_release(st, "pairA", "ipX", now, &cfg), LK_OK);
	assert_int_equal(rl_wait(st, "pairA", "ipX", now, &cfg), 0);
	assert_int_equal(rl_wait(st, "pairD", "ipX", now, &cfg), 21);
	/* after a minute the bucket is full again */
	for (int k = 0; k < 3; k++) {
		char pk[16];
		snprintf(pk, sizeof pk, "pair%d", k);
		assert_int_equal(rl_wait(st, pk, "ipX", now + 60, &cfg), 0);
	}
	assert_int_equal(rl_wait(st, "pairZ", "ipX", now + 60, &cfg), 21);
	/* pairA failed once since its release (above, at now): this is its second, then it
	 * waits (at now + 120 the bucket is full again) */
	assert_int_equal(rl_wait(st, "pairA", "ipX", now + 120, &cfg), 0);
	assert_int_equal(rl_wait(st, "pairA", "ipX", now + 120, &cfg), 1);
	/* release where nothing is stored writes nothing (a full bucket need not be) */
	long long v0 = drv_writes();
	assert_rc(st->ops->rl_release(st, "pairQ", "ipQ", now, &cfg), LK_OK);
	assert_int_equal(drv_writes(), v0);
	lk_store_close(st);
}

/* Every test of the contract, for a driver's cmocka test array. */
#define CONTRACT_TESTS(setup)                                                            \
	cmocka_unit_test_setup(test_users, setup),                                        \
	cmocka_unit_test_setup(test_user_ids_never_reused, setup),                        \
	cmocka_unit_test_setup(test_set_password_revokes_sessions, setup),                \
	cmocka_unit_test_setup(test_user_change_ends_families, setup),                    \
	cmocka_unit_test_setup(test_sessions, setup),                                     \
	cmocka_unit_test_setup(test_purge_count, setup),                                  \
	cmocka_unit_test_setup(test_purge_batches, setup),                                \
	cmocka_unit_test_setup(test_audit, setup),                                        \
	cmocka_unit_test_setup(test_keys, setup),                                         \
	cmocka_unit_test_setup(test_clients, setup),                                      \
	cmocka_unit_test_setup(test_refresh, setup),                                      \
	cmocka_unit_test_setup(test_refresh_claim_race, setup),                           \
	cmocka_unit_test_setup(test_refresh_purge, setup),                                \
	cmocka_unit_test_setup(test_revocations, setup),                                  \
	cmocka_unit_test_setup(test_revocation_ttl, setup),                               \
	cmocka_unit_test_setup(test_secret, setup),                                       \
	cmocka_unit_test_setup(test_secret_claim, setup),                                 \
	cmocka_unit_test_setup(test_revoke_user, setup),                                  \
	cmocka_unit_test_setup(test_changes_report_revocations, setup),                   \
	cmocka_unit_test_setup(test_revoke_user_atomic, setup),                           \
	cmocka_unit_test_setup(test_rl_take_race, setup),                                 \
	cmocka_unit_test_setup(test_rl_take_release, setup),                              \
	cmocka_unit_test_setup(test_reentrant_listing, setup),                            \
	cmocka_unit_test_setup(test_threads, setup),                                      \
	cmocka_unit_test_setup(test_generation, setup),                                   \
	cmocka_unit_test_setup(test_generation_wait, setup)

#endif
