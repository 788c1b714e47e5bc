/* SPDX-License-Identifier: MIT */
/*
 * test_store_redis.c: the "redis://" store back end (src/store/redis.c) against a real
 * redis-server that this program starts on a free loopback port, with no persistence, in
 * a fresh mkdtemp directory, and stops by its PID at the end (the child also dies with us,
 * PR_SET_PDEATHSIG). Without redis-server on PATH the program prints "1..0 # SKIP" and
 * passes.
 *
 * What is checked: the URL forms (host, port, DB, password in the URL or in
 * LATCHKEY_REDIS_PASSWORD, percent-escapes) and that no detail quotes the password; the
 * layout version is claimed and a newer one refused; every operation of store.h with the
 * behaviours test_store_sqlite.c checks (times moved to the present: expiry is native
 * here), the revocations the SQLite triggers would record, native TTLs on session and
 * refresh keys, the audit cap, and that Redis never holds a session's cookie secret;
 * concurrency (threads sharing a store, four threads racing for one refresh_claim of which
 * exactly one wins); the generation moving on revocations only; and Redis faults: with the
 * server killed or frozen every call fails with LK_ESTORE within 3 s, and once it is back
 * the same store handle works again without being reopened.
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

static void hexof(const unsigned char h[32], char out[65])
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
	assert_string_equal(r->str, "2");
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
	raw_ok(raw("SET lk:{g}:schema 3"));
	open_fails(url, LK_ESTORE_VERSION, NULL);
	redisReply *r = raw("GET lk:{g}:schema");
	assert_string_equal(r->str, "3"); /* untouched */
	freeReplyObject(r);
	raw_ok(raw("SET lk:{g}:schema banana"));
	open_fails(url, LK_ESTORE_CORRUPT, NULL);
	raw_ok(raw("DEL lk:{g}:schema"));
	lk_store_close(open_ok());
}

/* ---------------------------------------------------------------- users */

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
	assert_rc(st->ops->user_del(st, "we{i}rd: 'name' \"x\" %s"), LK_OK);

	char names[256] = "";
	assert_rc(st->ops->user_list(st, collect_names, names), LK_OK);
	assert_string_equal(names, "alice,bob,");
	int calls = 0;
	assert_rc(st->ops->user_list(st, stop_after_one, &calls), LK_OK);
	assert_int_equal(calls, 1);
	assert_rc(st->ops->user_count(st, &n), LK_OK);
	assert_int_equal(n, 2);

	assert_rc(st->ops->user_del(st, "alice"), LK_OK);
	assert_rc(st->ops->user_get(st, "alice", &out), LK_ENOT_FOUND);
	assert_rc(st->ops->user_get_id(st, alice, &out), LK_ENOT_FOUND);
	assert_rc(st->ops->user_del(st, "alice"), LK_ENOT_FOUND);
	assert_rc(st->ops->user_count(st, &n), LK_OK);
	assert_int_equal(n, 1);
	/* the name is free again, under a new id */
	assert_true(user_add_ok(st, "alice") != alice);
	lk_store_close(st);
}

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
	assert_rc(st->ops->user_set_password(st, "alice", "$argon2id$new", 5000), LK_OK);
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
	/* the user's index sets are gone with them */
	char *k = lkt_fmt("lk:{u:%lld}:sessions", (long long)alice);
	assert_int_equal(raw_int("EXISTS", k), 0);
	free(k);

	assert_rc(st->ops->user_set_password(st, "nobody", "$argon2id$x", 1), LK_ENOT_FOUND);
	assert_rc(st->ops->user_set_password(st, "alice", "", 1), LK_EINVAL);
	char phc[LK_PHC_MAX + 2];
	memset(phc, 'p', sizeof phc - 1);
	phc[sizeof phc - 1] = '\0';
	assert_rc(st->ops->user_set_password(st, "alice", phc, 1), LK_EINVAL);

	/* deleting a user takes their sessions too, and only theirs; `sub` before now + 1 */
	struct lk_session a3 = sess_make("a3", alice, t0 + 3);
	sess_add_ok(st, &a3);
	assert_rc(st->ops->user_del(st, "bob"), LK_OK);
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

/* ---------------------------------------------------------------- sessions */

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
	 * server's change counter stays put. */
	long long v0 = dirty();
	assert_rc(st->ops->session_touch(st, s1.id_hash, t0 + 50, t0), LK_OK);
	assert_int_equal(dirty(), v0);
	assert_rc(st->ops->session_get(st, s1.id_hash, &out), LK_OK);
	assert_int_equal(out.last_seen, t0);
	assert_rc(st->ops->session_touch(st, s1.id_hash, t0 + 50, t0 + 1), LK_OK);
	assert_true(dirty() != v0);
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

	/* del_user keeping the current session */
	int64_t n = -1;
	assert_rc(st->ops->session_del_user(st, alice, l3.id_hash, &n), LK_OK);
	assert_int_equal(n, 2);
	assert_true(sess_exists(st, &l3));
	assert_false(sess_exists(st, &l1));
	assert_false(sess_exists(st, &l2));
	assert_true(sess_exists(st, &l4));
	assert_rc(st->ops->session_del_user(st, alice, NULL, &n), LK_OK);
	assert_int_equal(n, 1);
	assert_false(sess_exists(st, &l3));
	assert_true(sess_exists(st, &l4));
	assert_rc(st->ops->session_del_user(st, alice, NULL, &n), LK_OK);
	assert_int_equal(n, 0);
	assert_rc(st->ops->session_del_user(st, alice, NULL, NULL), LK_OK);

	/* del_all */
	sess_add_ok(st, &l1);
	assert_rc(st->ops->session_del_all(st, &n), LK_OK);
	assert_int_equal(n, 2);
	assert_rc(st->ops->session_count(st, 0, &n), LK_OK);
	assert_int_equal(n, 0);
	assert_rc(st->ops->session_del_all(st, &n), LK_OK);
	assert_int_equal(n, 0);
	/* nothing is left behind but the global counters, names, meta and revocations */
	redisReply *r = raw("KEYS lk:sess:*");
	assert_int_equal(r->elements, 0);
	freeReplyObject(r);
	r = raw("KEYS lk:handle:*");
	assert_int_equal(r->elements, 0);
	freeReplyObject(r);
	assert_int_equal(raw_int("EXISTS", "lk:{g}:sess_exp"), 0);
	assert_int_equal(raw_int("EXISTS", "lk:{g}:sess_seen"), 0);
	lk_store_close(st);
}

static void test_purge_count(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL);
	int64_t alice = user_add_ok(st, "alice");
	/* A "now" ahead of the real clock, so the expired session is still in Redis (its
	 * native TTL has not run out) and purge is what removes it. */
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
	assert_int_equal(raw_int("EXPIRETIME", "lk:handle:h-ttl"), t0 + 100);
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
	assert_int_equal(raw_int("EXPIRETIME", "lk:handle:h-far"), -1);
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
	assert_rc(st->ops->session_del_all(st, &n), LK_OK);
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

	/* refresh_del_user: that user's tokens (others' stay), each live head revoked */
	int64_t bob = user_add_ok(st, "bob");
	struct lk_refresh *rb = rt_make("rb", "famBob", bob, t0 + 3600);
	assert_rc(st->ops->refresh_add(st, rb), LK_OK);
	assert_rc(st->ops->refresh_del_user(st, alice, t0 + 999, &n), LK_OK);
	assert_int_equal(n, 1);
	assert_rc(st->ops->refresh_get(st, r3->hash, out), LK_ENOT_FOUND);
	assert_rc(st->ops->refresh_get(st, rb->hash, out), LK_OK);
	assert_int_equal(rev_count(revs(st, 0, t0), "sid", "famB"), 1);
	assert_rc(st->ops->refresh_add(st, r3), LK_OK);
	assert_rc(st->ops->refresh_del_user(st, -1, t0 + 999, &n), LK_OK);
	assert_int_equal(n, 2);
	assert_rc(st->ops->refresh_get(st, rb->hash, out), LK_ENOT_FOUND);
	assert_rc(st->ops->refresh_get(st, r3->hash, out), LK_ENOT_FOUND);

	/* deleting the user takes their refresh tokens (and pointer keys) too */
	assert_rc(st->ops->refresh_add(st, rb), LK_OK);
	assert_rc(st->ops->user_del(st, "bob"), LK_OK);
	assert_rc(st->ops->refresh_get(st, rb->hash, out), LK_ENOT_FOUND);
	redisReply *r = raw("KEYS lk:rt:*");
	assert_int_equal(r->elements, 0);
	freeReplyObject(r);
	r = raw("KEYS lk:fam:*");
	assert_int_equal(r->elements, 0);
	freeReplyObject(r);

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
	raw_ok(raw("SET lk:{g}:secret:short abc"));
	assert_rc(st->ops->secret(st, "short", c), LK_ESTORE_CORRUPT);
	lk_store_close(st);
	lk_store_close(st2);
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
	/* each thread's connection closed at its exit: only ours and the test's remain
	 * (once the server has seen the closes) */
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
	assert_true(b->ops->generation(b) == g); /* stable when nothing happens */
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
	assert_true(b->ops->generation(b) == g); /* none of that ends anything */

#define MOVES(expr)                                                                      \
	do {                                                                             \
		assert_rc((expr), LK_OK);                                                \
		uint64_t g2 = b->ops->generation(b);                                     \
		if (g2 == g)                                                             \
			fail_msg("%s did not move the generation", #expr);              \
		g = g2;                                                                  \
	} while (0)
	MOVES(a->ops->session_del(a, s1.id_hash));
	assert_rc(a->ops->session_del(a, s1.id_hash), LK_ENOT_FOUND);
	assert_true(b->ops->generation(b) == g); /* nothing deleted, nothing to invalidate */
	MOVES(a->ops->user_set_password(a, "alice", "$argon2id$new", 3000));
	sess_add_ok(a, &s1);
	MOVES(a->ops->session_del_all(a, &n));
	assert_int_equal(n, 1);
	assert_rc(a->ops->session_del_all(a, &n), LK_OK);
	assert_true(b->ops->generation(b) == g);
	sess_add_ok(a, &s1);
	MOVES(a->ops->session_del_user(a, u.id, NULL, &n));
	sess_add_ok(a, &s1);
	MOVES(a->ops->session_del_handle(a, u.id, "h-g1"));
	assert_rc(a->ops->session_purge(a, t0, 0, &n), LK_OK);
	assert_true(b->ops->generation(b) == g); /* nothing to purge */
	sess_add_ok(a, &s1);
	MOVES(a->ops->session_purge(a, t0, t0 + 1, &n));
	MOVES(a->ops->revoke_add(a, "jti", "j", 0, t0 + 100));
	MOVES(a->ops->family_revoke(a, "famG", t0 + 100, &n));
	MOVES(a->ops->refresh_del_user(a, u.id, t0 + 100, &n));
	struct lk_keyrec *k = key_make("kg", 1, 2);
	MOVES(a->ops->key_add(a, k));
	MOVES(a->ops->key_retire(a, "kg", 3, 4));
	MOVES(a->ops->key_del(a, "kg"));
	MOVES(a->ops->user_del(a, "alice"));
#undef MOVES
	free(k);
	free(rt);
	lk_store_close(a);
	lk_store_close(b);
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
	DOWN(st->ops->user_set_password(st, "alice", "$argon2id$x", 1));
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
		cmocka_unit_test_setup(test_open_close_reopen, setup),
		cmocka_unit_test_setup(test_bad_urls, setup),
		cmocka_unit_test_setup(test_unreachable, setup),
		cmocka_unit_test_setup(test_db_number, setup),
		cmocka_unit_test_setup(test_password, setup),
		cmocka_unit_test_setup(test_eviction_policy, setup),
		cmocka_unit_test_setup(test_schema_version, setup),
		cmocka_unit_test_setup(test_users, setup),
		cmocka_unit_test_setup(test_user_truncation, setup),
		cmocka_unit_test_setup(test_set_password_revokes_sessions, setup),
		cmocka_unit_test_setup(test_sessions, setup),
		cmocka_unit_test_setup(test_purge_count, setup),
		cmocka_unit_test_setup(test_purge_batches, setup),
		cmocka_unit_test_setup(test_native_ttl, setup),
		cmocka_unit_test_setup(test_audit, setup),
		cmocka_unit_test_setup(test_audit_cap, setup),
		cmocka_unit_test_setup(test_keys, setup),
		cmocka_unit_test_setup(test_clients, setup),
		cmocka_unit_test_setup(test_refresh, setup),
		cmocka_unit_test_setup(test_refresh_claim_race, setup),
		cmocka_unit_test_setup(test_revocations, setup),
		cmocka_unit_test_setup(test_secret, setup),
		cmocka_unit_test_setup(test_no_session_secret, setup),
		cmocka_unit_test_setup(test_corrupt, setup),
		cmocka_unit_test_setup(test_reentrant_listing, setup),
		cmocka_unit_test_setup(test_threads, setup),
		cmocka_unit_test_setup(test_close_with_live_threads, setup),
		cmocka_unit_test_setup(test_generation, setup),
		cmocka_unit_test_setup(test_script_flush, setup),
		cmocka_unit_test_setup(test_redis_down_and_back, setup),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
