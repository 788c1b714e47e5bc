/* SPDX-License-Identifier: MIT */
/*
 * test_store_sqlite.c: the "sqlite:PATH" store back end (src/store/sqlite.c) against real
 * SQLite files in a fresh mkdtemp directory under /tmp, removed at the end.
 *
 * What is checked: files persist across close and reopen; the schema version is recorded
 * and a newer one is refused; foreign, garbage and damaged files are refused at open with
 * LK_ESTORE_CORRUPT and unusable paths with LK_ESTORE, each naming the path; the file is
 * created 0600 and so are its -wal and -shm files; every operation of store.h, including
 * the atomic revocation of a user's sessions on a password change and coalesced touches
 * that do not write; the file never holds a session's cookie secret; and four threads
 * sharing one store.
 *
 * The tests run as root in CI, and root ignores file permissions, so "cannot write" is
 * provoked by things that fail for root too: a directory that does not exist, a path that
 * is a directory, and a database whose -wal file cannot be created because a directory
 * occupies its name. The classic chmod 0500 case runs only when not root.
 */
#include "testutil.h"

#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <sqlite3.h>

#include "store/store.h"

#define SCHEMA_VERSION 4 /* entries of migrations[] in src/store/sqlite.c */
#define APP_ID 0x4c4b6579

static char tmpdir[64];
static int seq;

/* A new path in the test directory: dir/name-N.db. Caller frees. */
static char *path_new(const char *name)
{
	return lkt_fmt("%s/%s-%d.db", tmpdir, name, ++seq);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	chmod(p, 0700);
	return remove(p);
}

static int group_setup(void **state)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/lk-store-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Open path; fails the test unless it opens. */
static struct lk_store *open_ok(const char *path)
{
	struct lk_store *st = (struct lk_store *)0x1;
	struct lk_errinfo ei;
	char *url = lkt_fmt("sqlite:%s", path);
	memset(&ei, 0, sizeof ei);
	enum lk_err rc = lk_store_open(url, &st, &ei);
	free(url);
	if (rc != LK_OK)
		fail_msg("open %s: %s (%s)", path, lk_err_str(rc), ei.detail);
	assert_non_null(st);
	return st;
}

/* Open path expecting failure want; checks *out is NULL and the detail names the path. */
static void open_fails(const char *path, enum lk_err want)
{
	struct lk_store *st = (struct lk_store *)0x1;
	struct lk_errinfo ei;
	char *url = lkt_fmt("sqlite:%s", path);
	memset(&ei, 0, sizeof ei);
	enum lk_err rc = lk_store_open(url, &st, &ei);
	free(url);
	if (rc != want)
		fail_msg("open %s: got %s (%s), want %s", path, lk_err_str(rc), ei.detail,
			 lk_err_str(want));
	assert_null(st);
	lkt_check_err(rc, &ei, NULL, 0);
	if (!strstr(ei.detail, path))
		fail_msg("detail \"%s\" does not name %s", ei.detail, path);
}

/* ---------------------------------------------------------------- raw SQLite access */

static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
					 NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static int64_t raw_int_db(sqlite3 *db, const char *q)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, q, -1, &s, NULL);
	if (rc != SQLITE_OK)
		fail_msg("%s: %s", q, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int64_t raw_int(const char *path, const char *q)
{
	sqlite3 *db = raw_open(path);
	int64_t v = raw_int_db(db, q);
	sqlite3_close(db);
	return v;
}

static void raw_exec(const char *path, const char *q)
{
	sqlite3 *db = raw_open(path);
	char *msg = NULL;
	if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", q, msg);
	sqlite3_close(db);
}

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* The whole file, or NULL with *n = 0 when it does not exist. */
static unsigned char *read_all(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	*n = 0;
	if (!f)
		return NULL;
	unsigned char *buf = NULL;
	size_t cap = 0;
	for (;;) {
		buf = realloc(buf, cap + 65536);
		assert_non_null(buf);
		size_t k = fread(buf + cap, 1, 65536, f);
		cap += k;
		if (k < 65536)
			break;
	}
	fclose(f);
	*n = cap;
	return buf;
}

/* ---------------------------------------------------------------- fixtures */

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

/* A session whose id_hash is SHA-256 of a secret derived from tag. */
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

/* ---------------------------------------------------------------- open, files */

static void test_open_close_reopen(void **state)
{
	char *p = path_new("reopen");
	struct lk_store *st = open_ok(p);
	struct lk_user u;

	assert_rc(st->ops->ping(st), LK_OK);
	int64_t id = user_add_ok(st, "alice");
	lk_store_close(st);
	lk_store_close(NULL); /* no-op */

	st = open_ok(p);
	assert_rc(st->ops->user_get(st, "alice", &u), LK_OK);
	assert_int_equal(u.id, id);
	assert_string_equal(u.roles, "reader");
	assert_rc(st->ops->ping(st), LK_OK);
	lk_store_close(st);

	/* The URL forms: unknown scheme, and ":memory:" (a connection per thread would give
	 * each thread its own empty database). */
	struct lk_errinfo ei;
	st = (struct lk_store *)0x1;
	assert_rc(lk_store_open("mysql://x", &st, &ei), LK_EINVAL);
	assert_null(st);
	st = (struct lk_store *)0x1;
	assert_rc(lk_store_open("sqlite::memory:", &st, &ei), LK_EINVAL);
	assert_null(st);
	free(p);
}

/* "sqlite:" alone means latchkey.db in the working directory. */
static void test_default_path(void **state)
{
	char cwd[4096];
	struct lk_store *st = NULL;
	struct lk_errinfo ei;
	char *dir = lkt_fmt("%s/default", tmpdir);

	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chdir(dir), 0);
	enum lk_err rc = lk_store_open("sqlite:", &st, &ei);
	assert_int_equal(chdir(cwd), 0);
	if (rc != LK_OK)
		fail_msg("open sqlite: %s (%s)", lk_err_str(rc), ei.detail);
	lk_store_close(st);
	char *db = lkt_fmt("%s/latchkey.db", dir);
	assert_int_equal(access(db, F_OK), 0);
	free(db);
	free(dir);
}

static void test_schema_version(void **state)
{
	char *p = path_new("schema");
	struct lk_store *st = open_ok(p);
	lk_store_close(st);

	assert_int_equal(raw_int(p, "PRAGMA user_version"), SCHEMA_VERSION);
	assert_int_equal(raw_int(p, "PRAGMA application_id"), APP_ID);
	/* WAL is a property of the file: it stays after close. */
	sqlite3 *db = raw_open(p);
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	assert_int_equal(raw_int_db(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
				    " AND name IN ('users', 'sessions', 'audit')"), 3);
	sqlite3_close(db);

	/* Reopening an up-to-date file changes nothing. */
	st = open_ok(p);
	lk_store_close(st);
	assert_int_equal(raw_int(p, "PRAGMA user_version"), SCHEMA_VERSION);
	free(p);
}

/* A newer latchkey migrated this file; an older one must not touch it. */
static void test_future_version(void **state)
{
	char *p = path_new("future");
	lk_store_close(open_ok(p));
	char *q = lkt_fmt("PRAGMA user_version = %d", SCHEMA_VERSION + 1);
	raw_exec(p, q);
	free(q);
	open_fails(p, LK_ESTORE_VERSION);
	assert_int_equal(raw_int(p, "PRAGMA user_version"), SCHEMA_VERSION + 1);
	free(p);
}

static void test_garbage_file(void **state)
{
	char *p = path_new("garbage");
	char buf[4096];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = "this is not a database\n"[i % 23];
	write_file(p, buf, sizeof buf);
	open_fails(p, LK_ESTORE_CORRUPT);
	/* refused, not overwritten */
	size_t n;
	unsigned char *after = read_all(p, &n);
	assert_int_equal(n, sizeof buf);
	assert_memory_equal(after, buf, n);
	free(after);
	free(p);

	p = path_new("short");
	write_file(p, "not a db", 8);
	open_fails(p, LK_ESTORE_CORRUPT);
	free(p);
}

/* Some other program's SQLite database is refused, not converted. */
static void test_foreign_database(void **state)
{
	char *p = path_new("foreign");
	raw_exec(p, "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi')");
	open_fails(p, LK_ESTORE_CORRUPT);
	assert_int_equal(raw_int(p, "PRAGMA user_version"), 0);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM sqlite_schema WHERE name = 'users'"), 0);
	free(p);
}

/* A latchkey file whose first page (the schema table) is damaged fails at open. */
static void test_damaged_database(void **state)
{
	char *p = path_new("damaged");
	struct lk_store *st = open_ok(p);
	user_add_ok(st, "alice");
	lk_store_close(st); /* checkpoints: everything is in the main file now */

	size_t n;
	unsigned char *b = read_all(p, &n);
	assert_true(n >= 4096);
	memset(b + 100, 0xff, 200); /* page 1's b-tree header and cell pointers */
	write_file(p, b, n);
	free(b);
	open_fails(p, LK_ESTORE_CORRUPT);
	free(p);
}

static void test_unwritable(void **state)
{
	/* The directory does not exist. */
	char *p = lkt_fmt("%s/no-such-dir/x.db", tmpdir);
	open_fails(p, LK_ESTORE);
	free(p);

	/* The path is a directory. */
	p = path_new("isdir");
	assert_int_equal(mkdir(p, 0700), 0);
	open_fails(p, LK_ESTORE);
	free(p);

	/* A valid database whose -wal file cannot be created: a directory has its name.
	 * This fails for root too (EISDIR), so it stands in for a read-only location. */
	p = path_new("nowal");
	lk_store_close(open_ok(p));
	char *wal = lkt_fmt("%s-wal", p);
	assert_int_equal(mkdir(wal, 0700), 0);
	open_fails(p, LK_ESTORE);
	assert_int_equal(rmdir(wal), 0);
	lk_store_close(open_ok(p)); /* and it was not damaged */
	free(wal);
	free(p);

	/* chmod 0500 on the directory: effective only for a non-root user. */
	if (geteuid() != 0) {
		char *dir = lkt_fmt("%s/ro", tmpdir);
		assert_int_equal(mkdir(dir, 0700), 0);
		char *old = lkt_fmt("%s/old.db", dir);
		lk_store_close(open_ok(old));
		assert_int_equal(chmod(dir, 0500), 0);
		p = lkt_fmt("%s/new.db", dir);
		open_fails(p, LK_ESTORE);
		open_fails(old, LK_ESTORE); /* cannot create its -wal and -shm */
		assert_int_equal(chmod(dir, 0700), 0);
		free(p);
		free(old);
		free(dir);
	}
}

static void test_file_mode(void **state)
{
	mode_t old = umask(022);
	char *p = path_new("mode");
	struct lk_store *st = open_ok(p);
	struct stat sb;

	user_add_ok(st, "alice"); /* the -wal file now has content */
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	char *wal = lkt_fmt("%s-wal", p), *shm = lkt_fmt("%s-shm", p);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(stat(shm, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	lk_store_close(st);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	umask(old);
	free(wal);
	free(shm);
	free(p);
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
	char *p = path_new("users");
	struct lk_store *st = open_ok(p);
	struct lk_user u, out;
	int64_t n = -1;

	assert_rc(st->ops->user_count(st, &n), LK_OK);
	assert_int_equal(n, 0);
	int64_t bob = user_add_ok(st, "bob");
	int64_t alice = user_add_ok(st, "alice");
	assert_true(alice != bob);

	/* duplicate name; u->id untouched on failure */
	u = user_make("alice", "");
	u.id = 77;
	assert_rc(st->ops->user_add(st, &u), LK_EEXISTS);
	assert_int_equal(u.id, 77);
	/* no name, no hash */
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

	/* not found leaves out alone */
	memset(&out, 0x5a, sizeof out);
	assert_rc(st->ops->user_get(st, "mallory", &out), LK_ENOT_FOUND);
	assert_rc(st->ops->user_get_id(st, 9999, &out), LK_ENOT_FOUND);
	char longname[LK_NAME_MAX + 10];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_rc(st->ops->user_get(st, longname, &out), LK_ENOT_FOUND);
	for (size_t i = 0; i < sizeof out; i++)
		assert_int_equal(((unsigned char *)&out)[i], 0x5a);

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
	assert_rc(st->ops->user_del(st, "alice"), LK_ENOT_FOUND);
	assert_rc(st->ops->user_count(st, &n), LK_OK);
	assert_int_equal(n, 1);
	lk_store_close(st);
	free(p);
}

/* Text longer than a struct field (written by some other tool) is cut to fit, at a
 * UTF-8 character boundary, never past the field. */
static void test_user_truncation(void **state)
{
	char *p = path_new("trunc");
	struct lk_store *st = open_ok(p);
	struct lk_user out;

	/* 255 ASCII bytes then "é" (2 bytes): byte 256 would split the character */
	char *q = lkt_fmt("INSERT INTO users (name, roles, phc, created, pw_changed) VALUES "
			  "('long', printf('%%.255c', 'r') || 'éé', 'x', 1, 1)");
	raw_exec(p, q);
	free(q);
	assert_rc(st->ops->user_get(st, "long", &out), LK_OK);
	assert_int_equal(strlen(out.roles), 255);
	assert_int_equal(out.roles[254], 'r');
	lk_store_close(st);
	free(p);
}

/*
 * A password change must end every session of that user in the same commit: a thief who
 * holds a session cookie must not survive the victim resetting the password, and a crash
 * between the two steps must not leave the old sessions behind.
 */
static void test_set_password_revokes_sessions(void **state)
{
	char *p = path_new("setpw");
	struct lk_store *st = open_ok(p);
	int64_t alice = user_add_ok(st, "alice"), bob = user_add_ok(st, "bob");
	struct lk_session a1 = sess_make("a1", alice, 100), a2 = sess_make("a2", alice, 101);
	struct lk_session b1 = sess_make("b1", bob, 102);
	struct lk_user out;

	sess_add_ok(st, &a1);
	sess_add_ok(st, &a2);
	sess_add_ok(st, &b1);
	assert_rc(st->ops->user_set_password(st, "alice", "$argon2id$new", 5000), LK_OK);
	assert_false(sess_exists(st, &a1));
	assert_false(sess_exists(st, &a2));
	assert_true(sess_exists(st, &b1));
	assert_rc(st->ops->user_get(st, "alice", &out), LK_OK);
	assert_string_equal(out.phc, "$argon2id$new");
	assert_int_equal(out.pw_changed, 5000);
	assert_int_equal(out.created, 1000);

	assert_rc(st->ops->user_set_password(st, "nobody", "$argon2id$x", 1), LK_ENOT_FOUND);
	assert_rc(st->ops->user_set_password(st, "alice", "", 1), LK_EINVAL);
	char phc[LK_PHC_MAX + 2];
	memset(phc, 'p', sizeof phc - 1);
	phc[sizeof phc - 1] = '\0';
	assert_rc(st->ops->user_set_password(st, "alice", phc, 1), LK_EINVAL);

	/* deleting a user takes their sessions too, and only theirs */
	struct lk_session a3 = sess_make("a3", alice, 103);
	sess_add_ok(st, &a3);
	assert_rc(st->ops->user_del(st, "bob"), LK_OK);
	assert_false(sess_exists(st, &b1));
	assert_true(sess_exists(st, &a3));
	lk_store_close(st);
	free(p);
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
	char *p = path_new("sessions");
	struct lk_store *st = open_ok(p);
	int64_t alice = user_add_ok(st, "alice"), bob = user_add_ok(st, "bob");
	struct lk_session s1 = sess_make("s1", alice, 100), out;

	sess_add_ok(st, &s1);
	assert_rc(st->ops->session_get(st, s1.id_hash, &out), LK_OK);
	assert_memory_equal(out.id_hash, s1.id_hash, 32);
	assert_string_equal(out.handle, "h-s1");
	assert_string_equal(out.csrf, "csrf-s1");
	assert_int_equal(out.user_id, alice);
	assert_int_equal(out.created, 100);
	assert_int_equal(out.last_seen, 100);
	assert_int_equal(out.expires, 100 + 86400);
	assert_string_equal(out.ip, "192.0.2.1");
	assert_string_equal(out.user_agent, "test/s1");

	/* duplicates of the id_hash or of the handle; a user that does not exist */
	struct lk_session d = sess_make("other", alice, 100);
	memcpy(d.id_hash, s1.id_hash, 32);
	assert_rc(st->ops->session_add(st, &d), LK_EEXISTS);
	d = sess_make("other", alice, 100);
	memcpy(d.handle, s1.handle, sizeof d.handle);
	assert_rc(st->ops->session_add(st, &d), LK_EEXISTS);
	d = sess_make("orphan", 4242, 100);
	assert_rc(st->ops->session_add(st, &d), LK_ENOT_FOUND);

	memset(&out, 0x5a, sizeof out);
	d = sess_make("absent", alice, 100);
	assert_rc(st->ops->session_get(st, d.id_hash, &out), LK_ENOT_FOUND);
	assert_int_equal(((unsigned char *)&out)[0], 0x5a);

	/* Coalesced touch: last_seen (100) is not older than 100, so nothing is written.
	 * PRAGMA data_version on another connection moves only when someone commits. */
	sqlite3 *watch = raw_open(p);
	int64_t v0 = raw_int_db(watch, "PRAGMA data_version");
	assert_rc(st->ops->session_touch(st, s1.id_hash, 150, 100), LK_OK);
	assert_int_equal(raw_int_db(watch, "PRAGMA data_version"), v0);
	assert_rc(st->ops->session_get(st, s1.id_hash, &out), LK_OK);
	assert_int_equal(out.last_seen, 100);
	/* older than 101: written */
	assert_rc(st->ops->session_touch(st, s1.id_hash, 150, 101), LK_OK);
	assert_true(raw_int_db(watch, "PRAGMA data_version") != v0);
	assert_rc(st->ops->session_get(st, s1.id_hash, &out), LK_OK);
	assert_int_equal(out.last_seen, 150);
	sqlite3_close(watch);
	/* touching a session that is gone says so (the caller drops a cached copy) */
	assert_rc(st->ops->session_touch(st, d.id_hash, 150, 151), LK_ENOT_FOUND);

	/* del */
	assert_rc(st->ops->session_del(st, s1.id_hash), LK_OK);
	assert_false(sess_exists(st, &s1));
	assert_rc(st->ops->session_del(st, s1.id_hash), LK_ENOT_FOUND);

	/* del_handle: only the owner's request deletes */
	struct lk_session s2 = sess_make("s2", alice, 200);
	sess_add_ok(st, &s2);
	assert_rc(st->ops->session_del_handle(st, bob, "h-s2"), LK_ENOT_FOUND);
	assert_true(sess_exists(st, &s2));
	assert_rc(st->ops->session_del_handle(st, alice, "h-nope"), LK_ENOT_FOUND);
	assert_rc(st->ops->session_del_handle(st, alice, "h-s2"), LK_OK);
	assert_false(sess_exists(st, &s2));

	/* list order: created, newest first; per user and all */
	struct lk_session l1 = sess_make("l1", alice, 10), l2 = sess_make("l2", alice, 30);
	struct lk_session l3 = sess_make("l3", alice, 20), l4 = sess_make("l4", bob, 25);
	sess_add_ok(st, &l1);
	sess_add_ok(st, &l2);
	sess_add_ok(st, &l3);
	sess_add_ok(st, &l4);
	struct list_acc acc;
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->session_list(st, alice, collect_handles, &acc), LK_OK);
	assert_string_equal(acc.handles, "h-l2,h-l3,h-l1,");
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->session_list(st, -1, collect_handles, &acc), LK_OK);
	assert_string_equal(acc.handles, "h-l2,h-l4,h-l3,h-l1,");
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->session_list(st, 9999, collect_handles, &acc), LK_OK);
	assert_int_equal(acc.n, 0);

	/* del_user keeping the current session */
	int64_t n = -1;
	assert_rc(st->ops->session_del_user(st, alice, l3.id_hash, &n), LK_OK);
	assert_int_equal(n, 2);
	assert_true(sess_exists(st, &l3));
	assert_false(sess_exists(st, &l1));
	assert_false(sess_exists(st, &l2));
	assert_true(sess_exists(st, &l4));
	/* keep NULL: all of them */
	assert_rc(st->ops->session_del_user(st, alice, NULL, &n), LK_OK);
	assert_int_equal(n, 1);
	assert_false(sess_exists(st, &l3));
	assert_true(sess_exists(st, &l4));
	assert_rc(st->ops->session_del_user(st, alice, NULL, &n), LK_OK);
	assert_int_equal(n, 0);

	/* del_all */
	sess_add_ok(st, &l1);
	assert_rc(st->ops->session_del_all(st, &n), LK_OK);
	assert_int_equal(n, 2);
	assert_rc(st->ops->session_count(st, 0, &n), LK_OK);
	assert_int_equal(n, 0);
	lk_store_close(st);
	free(p);
}

static void test_purge_count(void **state)
{
	char *p = path_new("purge");
	struct lk_store *st = open_ok(p);
	int64_t alice = user_add_ok(st, "alice");
	const int64_t now = 10000, idle_cutoff = 9000;

	/* live: recent and unexpired */
	struct lk_session live = sess_make("live", alice, 9500);
	/* expired: absolute expiry reached (expires == now counts as expired) */
	struct lk_session exp = sess_make("exp", alice, 9500);
	exp.expires = now;
	/* idle: last seen before the cutoff, though not expired */
	struct lk_session idle = sess_make("idle", alice, 8000);
	idle.last_seen = 8999;
	/* edge: last seen exactly at the cutoff stays */
	struct lk_session edge = sess_make("edge", alice, 8000);
	edge.last_seen = idle_cutoff;
	sess_add_ok(st, &live);
	sess_add_ok(st, &exp);
	sess_add_ok(st, &idle);
	sess_add_ok(st, &edge);

	int64_t n = -1;
	/* count: not past absolute expiry (idle ones still count until purged) */
	assert_rc(st->ops->session_count(st, now, &n), LK_OK);
	assert_int_equal(n, 3);
	assert_rc(st->ops->session_purge(st, now, idle_cutoff, &n), LK_OK);
	assert_int_equal(n, 2);
	assert_true(sess_exists(st, &live));
	assert_true(sess_exists(st, &edge));
	assert_false(sess_exists(st, &exp));
	assert_false(sess_exists(st, &idle));
	assert_rc(st->ops->session_count(st, now, &n), LK_OK);
	assert_int_equal(n, 2);
	assert_rc(st->ops->session_purge(st, now, idle_cutoff, &n), LK_OK);
	assert_int_equal(n, 0);
	lk_store_close(st);
	free(p);
}

/* ---------------------------------------------------------------- audit */

struct audit_acc {
	int64_t ts[16];
	int64_t id[16];
	int n;
};

static int collect_audit(void *ud, const struct lk_audit *a)
{
	struct audit_acc *acc = ud;
	if (acc->n < 16) {
		acc->ts[acc->n] = a->ts;
		acc->id[acc->n] = a->id;
	}
	acc->n++;
	return 0;
}

static void test_audit(void **state)
{
	char *p = path_new("audit");
	struct lk_store *st = open_ok(p);
	struct lk_audit a;
	struct audit_acc acc;

	for (int i = 1; i <= 5; i++) {
		memset(&a, 0, sizeof a);
		a.ts = 1000 + i;
		snprintf(a.event, sizeof a.event, "%s", i % 2 ? "login" : "login_failed");
		snprintf(a.user, sizeof a.user, "alice");
		snprintf(a.ip, sizeof a.ip, "2001:db8::%d", i);
		snprintf(a.detail, sizeof a.detail, "attempt %d", i);
		assert_rc(st->ops->audit_add(st, &a), LK_OK);
	}
	memset(&a, 0, sizeof a);
	assert_rc(st->ops->audit_add(st, &a), LK_EINVAL); /* no event name */

	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->audit_list(st, 3, collect_audit, &acc), LK_OK);
	assert_int_equal(acc.n, 3);
	assert_int_equal(acc.ts[0], 1005);
	assert_int_equal(acc.ts[1], 1004);
	assert_int_equal(acc.ts[2], 1003);
	assert_true(acc.id[0] > acc.id[1] && acc.id[1] > acc.id[2]);

	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->audit_list(st, 0, collect_audit, &acc), LK_OK);
	assert_int_equal(acc.n, 5);
	assert_int_equal(acc.ts[4], 1001);
	lk_store_close(st);

	/* survives reopen, fields intact */
	st = open_ok(p);
	memset(&acc, 0, sizeof acc);
	assert_rc(st->ops->audit_list(st, 1, collect_audit, &acc), LK_OK);
	assert_int_equal(acc.n, 1);
	assert_int_equal(acc.ts[0], 1005);
	lk_store_close(st);
	free(p);
}

/* ---------------------------------------------------------------- secrets */

/*
 * A stolen copy of the database (a backup, a misplaced file) must not let anyone log in:
 * the store keeps SHA-256 of the cookie secret, never the secret. Write a session made
 * from a known secret and search the raw bytes of the database and its WAL: the hash and
 * the public handle are there, the secret is not, in raw or base64url form.
 */
static void test_file_has_no_session_secret(void **state)
{
	char *p = path_new("secret");
	char *wal = lkt_fmt("%s-wal", p);
	struct lk_store *st = open_ok(p);
	int64_t alice = user_add_ok(st, "alice");
	const unsigned char secret[32] = "LATCHKEY-TEST-SECRET-0123456789";
	char *secret_b64 = lkt_b64e(secret, sizeof secret);
	struct lk_session s = sess_make("x", alice, 100);

	SHA256(secret, sizeof secret, s.id_hash);
	snprintf(s.handle, sizeof s.handle, "HANDLE-visible-0001");
	sess_add_ok(st, &s);

	size_t nd, nw;
	unsigned char *db = read_all(p, &nd), *w = read_all(wal, &nw);
	assert_non_null(w); /* still open: the row is in the WAL */
	int in_wal = memmem(w, nw, s.id_hash, 32) != NULL;
	int in_db = db && memmem(db, nd, s.id_hash, 32) != NULL;
	assert_true(in_wal || in_db);
	assert_null(memmem(w, nw, secret, sizeof secret));
	assert_null(memmem(w, nw, secret_b64, strlen(secret_b64)));
	free(db);
	free(w);

	lk_store_close(st); /* checkpoint into the main file */
	db = read_all(p, &nd);
	assert_non_null(db);
	assert_non_null(memmem(db, nd, s.id_hash, 32));
	assert_non_null(memmem(db, nd, s.handle, strlen(s.handle)));
	assert_null(memmem(db, nd, secret, sizeof secret));
	assert_null(memmem(db, nd, secret_b64, strlen(secret_b64)));
	free(db);
	free(secret_b64);
	free(wal);
	free(p);
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

/* A listing's callback calls the store, including the very same listing. */
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
	char *p = path_new("reenter");
	struct lk_store *st = open_ok(p);
	int64_t a = user_add_ok(st, "alice"), b = user_add_ok(st, "bob");
	struct lk_session sa = sess_make("ra", a, 1), sb = sess_make("rb", b, 1);
	sess_add_ok(st, &sa);
	sess_add_ok(st, &sb);
	struct reenter r = {st, 0, 0};
	assert_rc(st->ops->user_list(st, outer_user, &r), LK_OK);
	assert_int_equal(r.users, 2);
	assert_int_equal(r.inner, 4);
	/* and the cached statement still works afterwards */
	r.users = r.inner = 0;
	assert_rc(st->ops->user_list(st, outer_user, &r), LK_OK);
	assert_int_equal(r.users, 2);
	lk_store_close(st);
	free(p);
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
	pthread_barrier_t *done; /* when set: wait on done after the work, then on hold */
	pthread_barrier_t *hold;
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
		struct lk_session s = sess_make(tag, w->user_id, 1000 + i), out;
		enum lk_err e;
		if ((e = w->st->ops->session_add(w->st, &s)))
			fail_once(w, e);
		if ((e = w->st->ops->session_get(w->st, s.id_hash, &out)))
			fail_once(w, e);
		else if (memcmp(out.id_hash, s.id_hash, 32) || strcmp(out.handle, s.handle))
			fail_once(w, LK_ESTORE_CORRUPT);
		if ((e = w->st->ops->session_touch(w->st, s.id_hash, 2000 + i, 2000 + i)))
			fail_once(w, e);
		if ((e = w->st->ops->session_get(w->st, s.id_hash, &out)))
			fail_once(w, e);
		else if (out.last_seen != 2000 + i)
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
	for (int t = 0; t < NTHREADS; t++) {
		w[t] = (struct worker){st, uid, t, 0, LK_OK, done, hold};
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
	char *p = path_new("threads");
	struct lk_store *st = open_ok(p);
	int64_t uid = user_add_ok(st, "alice");
	pthread_t tid[NTHREADS];
	struct worker w[NTHREADS];

	run_threads(st, uid, NULL, NULL, tid, w);
	for (int t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_join(tid[t], NULL), 0);
	check_workers(w);
	/* Each thread's connection closed at its exit; the store still works. */
	int64_t n = -1;
	assert_rc(st->ops->session_count(st, 0, &n), LK_OK);
	assert_int_equal(n, NTHREADS * (NITER - NITER / 10));
	lk_store_close(st);
	free(p);
}

/* close() while the threads that used the store are still alive (idle): it closes their
 * connections; their exit afterwards must not touch the freed store (ASan watches). */
static void test_close_with_live_threads(void **state)
{
	char *p = path_new("live");
	struct lk_store *st = open_ok(p);
	int64_t uid = user_add_ok(st, "alice");
	pthread_t tid[NTHREADS];
	struct worker w[NTHREADS];
	pthread_barrier_t done, hold;

	assert_int_equal(pthread_barrier_init(&done, NULL, NTHREADS + 1), 0);
	assert_int_equal(pthread_barrier_init(&hold, NULL, NTHREADS + 1), 0);
	run_threads(st, uid, &done, &hold, tid, w);
	/* Past `done` every worker has finished with the store but is alive, holding its
	 * connection, until it passes `hold`. */
	pthread_barrier_wait(&done);
	lk_store_close(st);
	pthread_barrier_wait(&hold); /* let them exit */
	for (int t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_join(tid[t], NULL), 0);
	pthread_barrier_destroy(&done);
	pthread_barrier_destroy(&hold);
	check_workers(w);

	int64_t n = -1;
	st = open_ok(p);
	assert_rc(st->ops->session_count(st, 0, &n), LK_OK);
	assert_int_equal(n, NTHREADS * (NITER - NITER / 10));
	lk_store_close(st);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_close_reopen),
		cmocka_unit_test(test_default_path),
		cmocka_unit_test(test_schema_version),
		cmocka_unit_test(test_future_version),
		cmocka_unit_test(test_garbage_file),
		cmocka_unit_test(test_foreign_database),
		cmocka_unit_test(test_damaged_database),
		cmocka_unit_test(test_unwritable),
		cmocka_unit_test(test_file_mode),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_user_truncation),
		cmocka_unit_test(test_set_password_revokes_sessions),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_purge_count),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_file_has_no_session_secret),
		cmocka_unit_test(test_reentrant_listing),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_close_with_live_threads),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
