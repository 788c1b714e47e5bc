/* SPDX-License-Identifier: MIT */
/*
 * test_store_redis.c: the "redis://" store back end (src/store/redis.c) against a real
 * redis-server that this program starts on a free loopback port, with no persistence, in
 * a fresh mkdtemp directory, and stops by its PID at the end (the child also dies with us,
 * PR_SET_PDEATHSIG). Without redis-server on PATH the program prints "1..0 # SKIP" and
 * passes.
 *
 * The store contract (store_contract.h, shared with test_store_sqlite.c) runs here on
 * Redis; this file adds what only Redis has: the URL forms (host, port, DB, password in
 * the URL or in LATCHKEY_REDIS_PASSWORD, percent-escapes) and that no detail quotes the
 * password; the layout version claimed, a newer one refused, layout v1 migrated; native
 * TTLs on session and refresh keys; the audit cap; that Redis never holds a session's
 * cookie secret; damaged keys; and Redis faults: with the server killed or frozen every
 * call fails with LK_ESTORE within 3 s, and once it is back the same store handle works
 * again without being reopened.
 *
 * SIGPIPE is left at its default on purpose: the store must not let a write to a dead
 * connection kill the process.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include "store/store.h"

static char tmpdir[64];
static char url[128];
static int port;
static pid_t rpid = -1;
static redisContext *rawc;

/* ---------------------------------------------------------------- the server */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, prog);
		if (access(buf, X_OK) == 0)
			return 1;
		path += n;
		if (*path)
			path++;
	}
	return 0;
}

/* A loopback port nobody listens on right now. */
static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t n = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &n) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}

static void raw_drop(void)
{
	if (rawc)
		redisFree(rawc);
	rawc = NULL;
}

/* Start redis-server on `port` and wait until it answers PING (5 s at most). */
static int redis_start(void)
{
	char ps[16], logf[128];
	snprintf(ps, sizeof ps, "%d", port);
	snprintf(logf, sizeof logf, "%s/redis.log", tmpdir);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("redis-server", "redis-server", "--port", ps, "--bind", "127.0.0.1",
		       "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", tmpdir,
		       (char *)NULL);
		_exit(127);
	}
	rpid = pid;
	for (int i = 0; i < 200; i++) {
		struct timeval tv = {0, 200000};
		redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
		if (c && !c->err) {
			redisReply *r = redisCommand(c, "PING");
			int ok = r && r->type == REDIS_REPLY_STATUS;
			if (r)
				freeReplyObject(r);
			redisFree(c);
			if (ok)
				return 0;
		} else if (c) {
			redisFree(c);
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			rpid = -1;
			return -1;
		}
		usleep(25000);
	}
	return -1;
}

static void redis_stop(int sig)
{
	if (rpid > 0) {
		kill(rpid, sig);
		waitpid(rpid, NULL, 0);
		rpid = -1;
	}
	raw_drop();
}

static void at_exit_stop(void)
{
	if (rpid > 0) {
		kill(rpid, SIGKILL);
		waitpid(rpid, NULL, 0);
	}
}

/* A command on the test's own connection (reconnecting when needed). Caller frees. */
/* Not printf-checked: hiredis adds %b (pointer, length). */
static redisReply *raw(const char *fmt, ...)
{
	if (!rawc || rawc->err) {
		raw_drop();
		struct timeval tv = {2, 0};
		rawc = redisConnectWithTimeout("127.0.0.1", port, tv);
		if (!rawc || rawc->err)
			fail_msg("raw connect to port %d failed", port);
		redisSetTimeout(rawc, tv);
	}
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(rawc, fmt, ap);
	va_end(ap);
	if (!r)
		fail_msg("raw command \"%s\" failed: %s", fmt, rawc->errstr);
	return r;
}

static long long raw_int(const char *cmd, const char *key)
{
	redisReply *r = raw("%s %s", cmd, key);
	if (r->type != REDIS_REPLY_INTEGER)
		fail_msg("%s %s: not an integer reply", cmd, key);
	long long v = r->integer;
	freeReplyObject(r);
	return v;
}

static void raw_ok(redisReply *r)
{
	if (r->type == REDIS_REPLY_ERROR)
		fail_msg("raw: %s", r->str);
	freeReplyObject(r);
}

/* The server's count of changes (INFO persistence: rdb_changes_since_last_save). */
static long long dirty(void)
{
	redisReply *r = raw("INFO persistence");
	const char *p = strstr(r->str, "rdb_changes_since_last_save:");
	assert_non_null(p);
	long long v = atoll(p + strlen("rdb_changes_since_last_save:"));
	freeReplyObject(r);
	return v;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int group_setup(void **state)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/lk-redis-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	atexit(at_exit_stop);
	for (int tries = 0; tries < 5; tries++) {
		if ((port = free_port()) < 0)
			return -1;
		if (redis_start() == 0) {
			snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
			return 0;
		}
	}
	return -1;
}

static int group_teardown(void **state)
{
	redis_stop(SIGTERM);
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Each test starts on an empty server (restarting it if a test left it down). */
static int setup(void **state)
{
	if (rpid <= 0 && redis_start() != 0)
		return -1;
	redisReply *r = raw("FLUSHALL");
	freeReplyObject(r);
	unsetenv("LATCHKEY_REDIS_PASSWORD");
	return 0;
}

/* ---------------------------------------------------------------- fixtures */

static struct lk_store *open_url(const char *u)
{
	struct lk_store *st = (struct lk_store *)0x1;
	struct lk_errinfo ei;
	memset(&ei, 0, sizeof ei);
	enum lk_err rc = lk_store_open(u, &st, &ei);
	if (rc != LK_OK)
		fail_msg("open %s: %s (%s)", u, lk_err_str(rc), ei.detail);
	assert_non_null(st);
	return st;
}

static struct lk_store *open_ok(void)
{
	return open_url(url);
}

/* Open u expecting failure want; *out NULL, detail set and free of `secret`. */
static void open_fails(const char *u, enum lk_err want, const char *secret)
{
	struct lk_store *st = (struct lk_store *)0x1;
	struct lk_errinfo ei;
	memset(&ei, 0, sizeof ei);
	double t0 = now_s();
	enum lk_err rc = lk_store_open(u, &st, &ei);
	if (rc != want)
		fail_msg("open %s: got %s (%s), want %s", u, lk_err_str(rc), ei.detail,
			 lk_err_str(want));
	assert_null(st);
	lkt_check_err(rc, &ei, NULL, 0);
	assert_true(ei.detail[0] != '\0');
	if (secret && strstr(ei.detail, secret))
		fail_msg("detail \"%s\" quotes the password", ei.detail);
	if (now_s() - t0 > 3.0)
		fail_msg("open %s took %.1f s", u, now_s() - t0);
}

/* ---------------------------------------------------------------- contract hooks */

/* The server's count of changes (INFO persistence: rdb_changes_since_last_save). */
static long long drv_writes(void)
{
	return dirty();
}

static void keys_none(const char *pattern)
{
	redisReply *r = raw("KEYS %s", pattern);
	if (r->elements != 0)
		fail_msg("keys %s left behind (%s, ...)", pattern, r->element[0]->str);
	freeReplyObject(r);
}

static void drv_sessions_clean(int64_t uid)
{
	if (uid >= 0) {
		char *k = lkt_fmt("lk:{u:%lld}:sessions", (long long)uid);
		assert_int_equal(raw_int("EXISTS", k), 0);
		free(k);
		return;
	}
	keys_none("lk:sess:*");
	keys_none("lk:{u:*}:h:*");
	keys_none("lk:handle:*");
	assert_int_equal(raw_int("EXISTS", "lk:{g}:sess_exp"), 0);
	assert_int_equal(raw_int("EXISTS", "lk:{g}:sess_seen"), 0);
}

static void drv_refresh_clean(void)
{
	keys_none("lk:rt:*");
	keys_none("lk:fam:*");
	keys_none("lk:{u:*}:r:*");
	keys_none("lk:{u:*}:f:*");
}

static void drv_damage_secret(const char *name)
{
	raw_ok(raw("SET lk:{g}:secret:%s abc", name));
}

/* Only ours and the test's connections remain (once the server has seen the closes). */
static void drv_threads_gone(void)
{
	int clients = 0;
	for (int tries = 0; tries < 500; tries++) { /* up to 5 s: slow under sanitizers */
		redisReply *r = raw("CLIENT LIST");
		clients = 0;
		for (const char *p = r->str; (p = strstr(p, "id=")); p++)
			clients++;
		freeReplyObject(r);
		if (clients == 2)
			break;
		usleep(10000);
	}
	assert_int_equal(clients, 2);
}

#include "store_contract.h"

/* ---------------------------------------------------------------- open, URLs */

static void test_open_close_reopen(void **state)
{
	struct lk_store *st = open_ok();
	struct lk_user u;

	assert_rc(st->ops->ping(st), LK_OK);
	int64_t id = user_add_ok(st, "alice");
	lk_store_close(st);
	lk_store_close(NULL); /* no-op */

	st = open_ok();
	assert_rc(st->ops->user_get(st, "alice", &u), LK_OK);
	assert_int_equal(u.id, id);
	assert_string_equal(u.roles, "reader");
	lk_store_close(st);

	/* The layout version is claimed at open. */
	redisReply *r = raw("GET lk:{g}:schema");
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_string_equal(r->str, "3");
	freeReplyObject(r);

	/* trailing slash, explicit DB 0, IPv4 literal */
	char *u2 = lkt_fmt("redis://127.0.0.1:%d/", port);
	lk_store_close(open_url(u2));
	free(u2);
	u2 = lkt_fmt("redis://127.0.0.1:%d/0", port);
	lk_store_close(open_url(u2));
	free(u2);
}

static void test_bad_urls(void **state)
{
	const char *bad[] = {
		"redis:",
		"redis:/127.0.0.1:6379",
		"redis://127.0.0.1:0",
		"redis://127.0.0.1:70000",
		"redis://127.0.0.1:12ab",
		"redis://127.0.0.1:",
		"redis://127.0.0.1:6379/x",
		"redis://127.0.0.1:6379/-1",
		"redis://127.0.0.1:6379?db=1",
		"redis://nopass@127.0.0.1:6379",
		"redis://[::1:6379",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		open_fails(bad[i], LK_EINVAL, NULL);
	/* a bad escape in the password: refused without quoting it */
	open_fails("redis://:hunter2%zz@127.0.0.1:6379", LK_EINVAL, "hunter2");

	struct lk_store *st = (struct lk_store *)0x1;
	struct lk_errinfo ei;
	assert_rc(lk_store_open("mysql://x", &st, &ei), LK_EINVAL);
	assert_null(st);
}

/* Nobody listens: LK_ESTORE at once, naming the address (and never the password). */
static void test_unreachable(void **state)
{
	int p = free_port();
	char *u = lkt_fmt("redis://:topsecret@127.0.0.1:%d/2", p);
	struct lk_store *st = (struct lk_store *)0x1;
	struct lk_errinfo ei;
	memset(&ei, 0, sizeof ei);
	assert_rc(lk_store_open(u, &st, &ei), LK_ESTORE);
	assert_null(st);
	char *where = lkt_fmt("redis://127.0.0.1:%d/2", p);
	if (!strstr(ei.detail, where))
		fail_msg("detail \"%s\" does not name %s", ei.detail, where);
	free(where);
	open_fails(u, LK_ESTORE, "topsecret");
	free(u);
}

/* /DB selects the database. */
static void test_db_number(void **state)
{
	char *u = lkt_fmt("redis://127.0.0.1:%d/3", port);
	struct lk_store *st = open_url(u);
	user_add_ok(st, "carol");
	lk_store_close(st);
	free(u);
	assert_int_equal(raw_int("EXISTS", "lk:{g}:names"), 0); /* not in DB 0 */
	raw_ok(raw("SELECT 3"));
	assert_int_equal(raw_int("HLEN", "lk:{g}:names"), 1);
	raw_ok(raw("SELECT 0"));
}

/* A password from the URL (percent-escaped, with or without a user name) or from
 * LATCHKEY_REDIS_PASSWORD; wrong or missing ones fail with a detail that quotes none. */
static void test_password(void **state)
{
	const char *pw = "p@ss:w/rd";
	raw_ok(raw("CONFIG SET requirepass %s", pw));

	char *u = lkt_fmt("redis://127.0.0.1:%d", port);
	open_fails(u, LK_ESTORE, NULL);
	char *wrong = lkt_fmt("redis://:wrongpass1@127.0.0.1:%d", port);
	open_fails(wrong, LK_ESTORE, "wrongpass1");
	char *good = lkt_fmt("redis://:p%%40ss%%3Aw%%2Frd@127.0.0.1:%d", port);
	struct lk_store *st = open_url(good);
	assert_rc(st->ops->ping(st), LK_OK);
	user_add_ok(st, "dave");
	lk_store_close(st);
	char *acl = lkt_fmt("redis://default:p%%40ss%%3Aw%%2Frd@127.0.0.1:%d", port);
	lk_store_close(open_url(acl));

	setenv("LATCHKEY_REDIS_PASSWORD", pw, 1);
	st = open_url(u);
	assert_rc(st->ops->ping(st), LK_OK);
	lk_store_close(st);
	/* the URL's password wins over the environment's */
	open_fails(wrong, LK_ESTORE, "wrongpass1");
	setenv("LATCHKEY_REDIS_PASSWORD", "wrongpass2", 1);
	open_fails(u, LK_ESTORE, "wrongpass2");
	unsetenv("LATCHKEY_REDIS_PASSWORD");

	raw_ok(raw("CONFIG SET requirepass %s", ""));
	free(u);
	free(wrong);
	free(good);
	free(acl);
}

/* A server that may evict keys could drop revocations or the index a password change
 * relies on: refused at open. */
static void test_eviction_policy(void **state)
{
	raw_ok(raw("CONFIG SET maxmemory-policy allkeys-lru"));
	struct lk_store *st = (struct lk_store *)0x1;
	struct lk_errinfo ei;
	memset(&ei, 0, sizeof ei);
	assert_rc(lk_store_open(url, &st, &ei), LK_ESTORE);
	assert_null(st);
	if (!strstr(ei.detail, "noeviction"))
		fail_msg("detail \"%s\" does not say what is needed", ei.detail);
	raw_ok(raw("CONFIG SET maxmemory-policy volatile-ttl"));
	open_fails(url, LK_ESTORE, NULL);
	raw_ok(raw("CONFIG SET maxmemory-policy noeviction"));
	lk_store_close(open_ok());
}

/* A newer layout is refused, and a version key that is not one is damage. */
static void test_schema_version(void **state)
{
	raw_ok(raw("SET lk:{g}:schema 4"));
	open_fails(url, LK_ESTORE_VERSION, NULL);
	redisReply *r = raw("GET lk:{g}:schema");
	assert_string_equal(r->str, "4"); /* untouched */
	freeReplyObject(r);
	raw_ok(raw("SET lk:{g}:schema banana"));
	open_fails(url, LK_ESTORE_CORRUPT, NULL);
	raw_ok(raw("DEL lk:{g}:schema"));
	lk_store_close(open_ok());
}

/*
 * A layout v1 database (before lk:{g}:rt_used) opens as v3 (through v2): its used refresh
 * tokens that still hold next_access are indexed, so refresh_purge trims them too.
 */
static void test_layout_v1(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL), n = -1;
	int64_t alice = user_add_ok(st, "alice");
	struct lk_refresh *r = rt_make("v1", "famV1", alice, t0 + 3600);
	struct lk_refresh *out = calloc(1, sizeof *out);
	assert_rc(st->ops->refresh_add(st, r), LK_OK);
	assert_rc(st->ops->refresh_claim(st, r->hash, t0 - 100, "at-v1"), LK_OK);
	lk_store_close(st);
	/* what v1 had: no index */
	raw_ok(raw("DEL lk:{g}:rt_used"));
	raw_ok(raw("SET lk:{g}:schema 1"));
	st = open_ok();
	redisReply *v = raw("GET lk:{g}:schema");
	assert_string_equal(v->str, "3");
	freeReplyObject(v);
	assert_int_equal(raw_int("ZCARD", "lk:{g}:rt_used"), 1);
	assert_rc(st->ops->refresh_purge(st, t0, t0 - 10, &n), LK_OK);
	assert_int_equal(n, 1);
	assert_rc(st->ops->refresh_get(st, r->hash, out), LK_OK);
	assert_string_equal(out->next_access, "");
	free(r);
	free(out);
	lk_store_close(st);
}

/*
 * A layout v2 database (handle pointers global, lk:handle:HANDLE) opens as v3: each live
 * session's handle pointer moves into its user's slot with its TTL, so a session is still
 * ended by its handle.
 */
static void test_layout_v2(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL);
	int64_t alice = user_add_ok(st, "alice");
	struct lk_session s = sess_make("v2", alice, t0);
	char hex[65];
	s.expires = t0 + 500;
	sess_add_ok(st, &s);
	lk_store_close(st);
	/* what v2 had: the pointer under lk:handle: */
	hexof(s.id_hash, hex);
	char *hk = lkt_fmt("lk:{u:%lld}:h:h-v2", (long long)alice);
	raw_ok(raw("DEL %s", hk));
	raw_ok(raw("SET lk:handle:h-v2 %s EXAT %lld", hex, (long long)(t0 + 500)));
	raw_ok(raw("SET lk:{g}:schema 2"));
	st = open_ok();
	redisReply *v = raw("GET lk:{g}:schema");
	assert_string_equal(v->str, "3");
	freeReplyObject(v);
	assert_int_equal(raw_int("EXISTS", "lk:handle:h-v2"), 0);
	assert_int_equal(raw_int("EXPIRETIME", hk), t0 + 500);
	assert_rc(st->ops->session_del_handle(st, alice, "h-v2"), LK_OK);
	assert_false(sess_exists(st, &s));
	free(hk);
	lk_store_close(st);
}

/*
 * An add that failed after its first step (the pointer claimed, then the store gone)
 * leaves the pointer behind. The retry of that very add (refresh.c re-derives the same
 * successor) must store the record, not answer LK_EEXISTS, which refresh.c takes as "the
 * row is there". A pointer of another user is a real clash.
 */
static void test_orphan_pointer(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL);
	int64_t alice = user_add_ok(st, "alice"), bob = user_add_ok(st, "bob");
	struct lk_refresh *r = rt_make("orphan", "famO", alice, t0 + 3600);
	struct lk_refresh *out = calloc(1, sizeof *out);
	struct lk_session s = sess_make("orphan", alice, t0), so;
	char hex[65];

	hexof(r->hash, hex);
	raw_ok(raw("SET lk:rt:%s %lld", hex, (long long)alice));
	assert_rc(st->ops->refresh_add(st, r), LK_OK);
	assert_rc(st->ops->refresh_get(st, r->hash, out), LK_OK);
	assert_rc(st->ops->refresh_add(st, r), LK_EEXISTS); /* now it is there */
	hexof(s.id_hash, hex);
	raw_ok(raw("SET lk:sess:%s %lld", hex, (long long)alice));
	assert_rc(st->ops->session_add(st, &s), LK_OK);
	assert_rc(st->ops->session_get(st, s.id_hash, &so), LK_OK);
	assert_rc(st->ops->session_add(st, &s), LK_EEXISTS);
	/* another user's pointer: a clash, and it stays */
	struct lk_refresh *r2 = rt_make("orphan2", "famO2", alice, t0 + 3600);
	hexof(r2->hash, hex);
	raw_ok(raw("SET lk:rt:%s %lld", hex, (long long)bob));
	assert_rc(st->ops->refresh_add(st, r2), LK_EEXISTS);
	char *k = lkt_fmt("lk:rt:%s", hex);
	assert_int_equal(raw_int("EXISTS", k), 1);
	free(k);
	free(r);
	free(r2);
	free(out);
	lk_store_close(st);
}

/* ---------------------------------------------------------------- users */

/* Text longer than a struct field (written by some other tool) is cut to fit, at a
 * UTF-8 character boundary, never past the field. */
static void test_user_truncation(void **state)
{
	struct lk_store *st = open_ok();
	struct lk_user out;
	int64_t id = user_add_ok(st, "long");
	char roles[300];
	memset(roles, 'r', 255);
	strcpy(roles + 255, "éé");
	char *key = lkt_fmt("lk:{u:%lld}:user", (long long)id);
	raw_ok(raw("HSET %s roles %s", key, roles));
	assert_rc(st->ops->user_get(st, "long", &out), LK_OK);
	assert_int_equal(strlen(out.roles), 255);
	assert_int_equal(out.roles[254], 'r');
	assert_rc(st->ops->user_get_id(st, id, &out), LK_OK);
	assert_int_equal(strlen(out.roles), 255);
	free(key);
	lk_store_close(st);
}

/* ---------------------------------------------------------------- sessions */

/* Expiry is native: keys carry the absolute expiry, and an expired session is gone from
 * get, list and count without any purge. */
static void test_native_ttl(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL);
	int64_t alice = user_add_ok(st, "alice");
	struct lk_session s = sess_make("ttl", alice, t0), out;
	char hex[65], *k;
	int64_t n;

	s.expires = t0 + 100;
	sess_add_ok(st, &s);
	hexof(s.id_hash, hex);
	k = lkt_fmt("lk:{u:%lld}:s:%s", (long long)alice, hex);
	assert_int_equal(raw_int("EXPIRETIME", k), t0 + 100);
	free(k);
	k = lkt_fmt("lk:sess:%s", hex);
	assert_int_equal(raw_int("EXPIRETIME", k), t0 + 100);
	free(k);
	k = lkt_fmt("lk:{u:%lld}:h:h-ttl", (long long)alice);
	assert_int_equal(raw_int("EXPIRETIME", k), t0 + 100);
	free(k);
	k = lkt_fmt("lk:{u:%lld}:sessions", (long long)alice);
	assert_int_equal(raw_int("EXPIRETIME", k), t0 + 100);
	/* the user's set lives as long as its longest-lived member */
	struct lk_session s2 = sess_make("ttl2", alice, t0);
	s2.expires = t0 + 200;
	sess_add_ok(st, &s2);
	assert_int_equal(raw_int("EXPIRETIME", k), t0 + 200);
	struct lk_session s3 = sess_make("ttl3", alice, t0);
	s3.expires = t0 + 150;
	sess_add_ok(st, &s3);
	assert_int_equal(raw_int("EXPIRETIME", k), t0 + 200);
	free(k);

	/* refresh tokens: the token, its pointer, its family and the user's set */
	struct lk_refresh *r = rt_make("ttl", "fam-ttl", alice, t0 + 300);
	assert_rc(st->ops->refresh_add(st, r), LK_OK);
	hexof(r->hash, hex);
	k = lkt_fmt("lk:{u:%lld}:r:%s", (long long)alice, hex);
	assert_int_equal(raw_int("EXPIRETIME", k), t0 + 300);
	free(k);
	k = lkt_fmt("lk:rt:%s", hex);
	assert_int_equal(raw_int("EXPIRETIME", k), t0 + 300);
	free(k);
	assert_int_equal(raw_int("EXPIRETIME", "lk:fam:fam-ttl"), t0 + 300);
	k = lkt_fmt("lk:{u:%lld}:f:fam-ttl", (long long)alice);
	assert_int_equal(raw_int("EXPIRETIME", k), t0 + 300);
	free(k);
	free(r);

	/* far-future expiry: no TTL at all (EXPIREAT would overflow) */
	struct lk_session far = sess_make("far", alice, t0);
	far.expires = INT64_MAX;
	sess_add_ok(st, &far);
	k = lkt_fmt("lk:{u:%lld}:h:h-far", (long long)alice);
	assert_int_equal(raw_int("EXPIRETIME", k), -1);
	free(k);
	k = lkt_fmt("lk:{u:%lld}:sessions", (long long)alice);
	assert_int_equal(raw_int("EXPIRETIME", k), -1);
	free(k);
	assert_rc(st->ops->session_get(st, far.id_hash, &out), LK_OK);
	assert_int_equal(out.expires, INT64_MAX);

	/* Already expired when added: accepted, and not kept. */
	struct lk_session gone = sess_make("gone", alice, t0 - 100);
	gone.expires = t0 - 1;
	sess_add_ok(st, &gone);
	assert_false(sess_exists(st, &gone));

	/* Two seconds to live (one could end before the check below if a second ticks in
	 * between, on a slow sanitizer build): after it, get, list and count no longer see it. */
	assert_rc(st->ops->revoke_user(st, -1, NULL, t0 + 100, &n, NULL, NULL, NULL), LK_OK);
	struct lk_session brief = sess_make("brief", alice, t0);
	brief.expires = time(NULL) + 2;
	sess_add_ok(st, &brief);
	assert_true(sess_exists(st, &brief));
	while (time(NULL) <= brief.expires + 1)
		usleep(100000);
	assert_false(sess_exists(st, &brief));
	struct list_acc acc;
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->session_list(st, -1, collect_handles, &acc), LK_OK);
	assert_int_equal(acc.n, 0);
	assert_rc(st->ops->session_count(st, time(NULL), &n), LK_OK);
	assert_int_equal(n, 0);
	/* its handle is free; a new session drops its stale index entries */
	brief.expires = time(NULL) + 100;
	sess_add_ok(st, &brief);
	assert_int_equal(raw_int("ZCARD", "lk:{g}:sess_exp"), 1);
	lk_store_close(st);
}

/* The log is capped (10000 events): the oldest fall off, ids keep counting. */
static void test_audit_cap(void **state)
{
	struct lk_store *st = open_ok();
	struct lk_audit a;
	memset(&a, 0, sizeof a);
	snprintf(a.event, sizeof a.event, "login");
	for (int i = 0; i < 10003; i++) {
		a.ts = i;
		assert_rc(st->ops->audit_add(st, &a), LK_OK);
	}
	assert_int_equal(raw_int("LLEN", "lk:{g}:audit"), 10000);
	struct audit_acc acc;
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->audit_list(st, 0, collect_audit, &acc), LK_OK);
	assert_int_equal(acc.n, 10000);
	assert_int_equal(acc.ts[0], 10002);
	assert_int_equal(acc.id[0], 10003);
	lk_store_close(st);
}

/* ---------------------------------------------------------------- secrets at rest */

/* Does any value of any key hold needle? Reads every key by type. */
static int redis_holds(const void *needle, size_t n)
{
	redisReply *keys = raw("KEYS *");
	int found = 0;
	for (size_t i = 0; i < keys->elements && !found; i++) {
		const char *k = keys->element[i]->str;
		size_t kl = keys->element[i]->len;
		if (memmem(k, kl, needle, n))
			found = 1;
		redisReply *t = raw("TYPE %b", k, kl), *v;
		if (!strcmp(t->str, "string"))
			v = raw("GET %b", k, kl);
		else if (!strcmp(t->str, "hash"))
			v = raw("HGETALL %b", k, kl);
		else if (!strcmp(t->str, "set"))
			v = raw("SMEMBERS %b", k, kl);
		else if (!strcmp(t->str, "zset"))
			v = raw("ZRANGE %b 0 -1", k, kl);
		else
			v = raw("LRANGE %b 0 -1", k, kl);
		freeReplyObject(t);
		if (v->type == REDIS_REPLY_STRING && memmem(v->str, v->len, needle, n))
			found = 1;
		for (size_t j = 0; v->type == REDIS_REPLY_ARRAY && j < v->elements; j++)
			if (v->element[j]->str &&
			    memmem(v->element[j]->str, v->element[j]->len, needle, n))
				found = 1;
		freeReplyObject(v);
	}
	freeReplyObject(keys);
	return found;
}

/*
 * A copy of the Redis data (an RDB file, a replica, MONITOR output) must not let anyone
 * log in: the store keeps SHA-256 of the cookie secret, never the secret. Store a session
 * made from a known secret and search every key and value: the hash (in hex) and the
 * public handle are there, the secret is not, raw or base64url.
 */
static void test_no_session_secret(void **state)
{
	struct lk_store *st = open_ok();
	int64_t alice = user_add_ok(st, "alice");
	const unsigned char secret[32] = "LATCHKEY-TEST-SECRET-0123456789";
	char *secret_b64 = lkt_b64e(secret, sizeof secret);
	struct lk_session s = sess_make("x", alice, time(NULL));
	char hex[65];

	SHA256(secret, sizeof secret, s.id_hash);
	snprintf(s.handle, sizeof s.handle, "HANDLE-visible-0001");
	sess_add_ok(st, &s);
	hexof(s.id_hash, hex);
	assert_true(redis_holds(hex, 64));
	assert_true(redis_holds(s.handle, strlen(s.handle)));
	assert_false(redis_holds(secret, sizeof secret));
	assert_false(redis_holds(secret_b64, strlen(secret_b64)));
	free(secret_b64);
	lk_store_close(st);
}

/* Values of the wrong type or shape are reported as damage, not crashes. */
static void test_corrupt(void **state)
{
	struct lk_store *st = open_ok();
	int64_t n;
	int64_t alice = user_add_ok(st, "alice");
	struct lk_session s = sess_make("c", alice, time(NULL)), out;
	char hex[65];
	sess_add_ok(st, &s);
	hexof(s.id_hash, hex);
	char *k = lkt_fmt("lk:{u:%lld}:s:%s", (long long)alice, hex);
	raw_ok(raw("HSET %s created yesterday", k));
	assert_rc(st->ops->session_get(st, s.id_hash, &out), LK_ESTORE_CORRUPT);
	free(k);
	raw_ok(raw("DEL lk:{g}:names"));
	raw_ok(raw("SET lk:{g}:names oops"));
	assert_rc(st->ops->user_count(st, &n), LK_ESTORE_CORRUPT);
	raw_ok(raw("LPUSH lk:{g}:audit garbage"));
	struct audit_acc acc;
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->audit_list(st, 0, collect_audit, &acc), LK_ESTORE_CORRUPT);
	assert_int_equal(acc.n, 0);
	assert_rc(st->ops->ping(st), LK_OK); /* the connection is still fine */
	lk_store_close(st);
}

static void test_close_with_live_threads(void **state)
{
	struct lk_store *st = open_ok();
	int64_t uid = user_add_ok(st, "alice");
	pthread_t tid[NTHREADS];
	struct worker w[NTHREADS];
	pthread_barrier_t done, hold;

	assert_int_equal(pthread_barrier_init(&done, NULL, NTHREADS + 1), 0);
	assert_int_equal(pthread_barrier_init(&hold, NULL, NTHREADS + 1), 0);
	run_threads(st, uid, &done, &hold, tid, w);
	pthread_barrier_wait(&done);
	lk_store_close(st);
	pthread_barrier_wait(&hold);
	for (int t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_join(tid[t], NULL), 0);
	pthread_barrier_destroy(&done);
	pthread_barrier_destroy(&hold);
	check_workers(w);

	int64_t n = -1;
	st = open_ok();
	assert_rc(st->ops->session_count(st, 0, &n), LK_OK);
	assert_int_equal(n, NTHREADS * (NITER - NITER / 10));
	lk_store_close(st);
}

/* ---------------------------------------------------------------- faults */

/* Every kind of call fails with LK_ESTORE, each within 3 s. */
static void all_fail(struct lk_store *st, const char *why)
{
	struct lk_user u;
	struct lk_session s = sess_make("down", 1, time(NULL)), so;
	struct lk_refresh *r = rt_make("down", "famD", 1, time(NULL) + 100);
	struct audit_acc acc;
	int64_t n;
	unsigned char sec[32];
	double t0, dt;

#define DOWN(expr)                                                                       \
	do {                                                                             \
		t0 = now_s();                                                            \
		enum lk_err e_ = (expr);                                                 \
		dt = now_s() - t0;                                                       \
		if (e_ != LK_ESTORE)                                                     \
			fail_msg("%s (%s): got %s, want store_unavailable", #expr, why,  \
				 lk_err_str(e_));                                        \
		if (dt > 3.0)                                                            \
			fail_msg("%s (%s) took %.1f s", #expr, why, dt);                 \
	} while (0)
	DOWN(st->ops->ping(st));
	DOWN(st->ops->user_get(st, "alice", &u));
	DOWN(st->ops->user_get_id(st, 1, &u));
	DOWN(st->ops->session_get(st, s.id_hash, &so));
	DOWN(st->ops->session_add(st, &s));
	DOWN(st->ops->session_touch(st, s.id_hash, 1, 1));
	DOWN(st->ops->session_del(st, s.id_hash));
	DOWN(st->ops->user_set_password(st, "alice", "$argon2id$x", 1, NULL, NULL));
	DOWN(st->ops->session_count(st, 0, &n));
	DOWN(st->ops->audit_list(st, 0, collect_audit, &acc));
	DOWN(st->ops->refresh_get(st, r->hash, r));
	DOWN(st->ops->refresh_claim(st, r->hash, 1, "x"));
	DOWN(st->ops->revocations(st, 0, 0, collect_rev, &acc));
	DOWN(st->ops->secret(st, "x", sec));
#undef DOWN
	/* the generation never repeats while the store is down: no cache hit */
	t0 = now_s();
	uint64_t g1 = st->ops->generation(st), g2 = st->ops->generation(st);
	assert_true(g1 != g2);
	assert_true(now_s() - t0 < 6.0);
	free(r);
}

static void test_redis_down_and_back(void **state)
{
	struct lk_store *st = open_ok();
	struct lk_user u;
	int64_t n;
	int64_t id = user_add_ok(st, "alice");
	uint64_t g_before = st->ops->generation(st);

	/* Killed: the connection breaks, reconnecting is refused. */
	redis_stop(SIGKILL);
	all_fail(st, "killed");
	all_fail(st, "killed, again"); /* and with no connection left to break */
	open_fails(url, LK_ESTORE, NULL);

	/* Back on the same port (empty: no persistence): the same handle works again. */
	assert_int_equal(redis_start(), 0);
	assert_rc(st->ops->ping(st), LK_OK);
	assert_rc(st->ops->user_get(st, "alice", &u), LK_ENOT_FOUND);
	int64_t id2 = user_add_ok(st, "alice");
	assert_true(id2 > 0);
	(void)id;
	assert_rc(st->ops->user_get(st, "alice", &u), LK_OK);
	/* A restarted server never repeats a generation a cache may hold: its run_id
	 * differs, even though its counter starts again from nothing. */
	uint64_t g_after = st->ops->generation(st);
	assert_true(g_after == st->ops->generation(st));
	assert_true(g_after != g_before);

	/* Frozen (SIGSTOP): connected, but no answer. The first call gives up after the
	 * command timeout (2 s); for a second after a timeout every call, in any thread,
	 * fails at once instead of waiting again. */
	kill(rpid, SIGSTOP);
	double t0 = now_s();
	assert_rc(st->ops->ping(st), LK_ESTORE);
	double dt = now_s() - t0;
	if (dt < 1.5 || dt > 3.0)
		fail_msg("frozen server: ping failed after %.2f s, want about 2 s", dt);
	t0 = now_s();
	assert_rc(st->ops->user_get(st, "alice", &u), LK_ESTORE);
	assert_rc(st->ops->session_count(st, 0, &n), LK_ESTORE);
	assert_true(st->ops->generation(st) != st->ops->generation(st));
	if (now_s() - t0 > 0.5)
		fail_msg("calls right after a timeout took %.2f s, want at once", now_s() - t0);
	/* Still frozen once the hold is over: a (re)connect times out too, within 3 s. */
	usleep(1100000);
	t0 = now_s();
	assert_rc(st->ops->user_get(st, "alice", &u), LK_ESTORE);
	assert_true(now_s() - t0 < 3.0);
	/* Thawed: service resumes by itself once the hold (1 s) is over. */
	kill(rpid, SIGCONT);
	t0 = now_s();
	while (st->ops->ping(st) != LK_OK) {
		if (now_s() - t0 > 2.0)
			fail_msg("no recovery %.1f s after the server thawed", now_s() - t0);
		usleep(50000);
	}
	assert_rc(st->ops->user_get(st, "alice", &u), LK_OK);
	lk_store_close(st);
}

/* Scripts come back after SCRIPT FLUSH (EVALSHA fails with NOSCRIPT; EVAL follows). */
static void test_script_flush(void **state)
{
	struct lk_store *st = open_ok();
	struct lk_user u;
	user_add_ok(st, "alice");
	raw_ok(raw("SCRIPT FLUSH"));
	assert_rc(st->ops->user_get(st, "alice", &u), LK_OK);
	raw_ok(raw("SCRIPT FLUSH"));
	user_add_ok(st, "bob");
	lk_store_close(st);
}

int main(void)
{
	if (!on_path("redis-server")) {
		printf("1..0 # SKIP redis-server not installed\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
		CONTRACT_TESTS(setup),
		cmocka_unit_test_setup(test_open_close_reopen, setup),
		cmocka_unit_test_setup(test_bad_urls, setup),
		cmocka_unit_test_setup(test_unreachable, setup),
		cmocka_unit_test_setup(test_db_number, setup),
		cmocka_unit_test_setup(test_password, setup),
		cmocka_unit_test_setup(test_eviction_policy, setup),
		cmocka_unit_test_setup(test_schema_version, setup),
		cmocka_unit_test_setup(test_layout_v2, setup),
		cmocka_unit_test_setup(test_orphan_pointer, setup),
		cmocka_unit_test_setup(test_layout_v1, setup),
		cmocka_unit_test_setup(test_user_truncation, setup),
		cmocka_unit_test_setup(test_native_ttl, setup),
		cmocka_unit_test_setup(test_audit_cap, setup),
		cmocka_unit_test_setup(test_no_session_secret, setup),
		cmocka_unit_test_setup(test_corrupt, setup),
		cmocka_unit_test_setup(test_close_with_live_threads, setup),
		cmocka_unit_test_setup(test_script_flush, setup),
		cmocka_unit_test_setup(test_redis_down_and_back, setup),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
