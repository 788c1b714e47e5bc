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
static char *cur;        /* this test's database (setup: a new path) */
static sqlite3 *watch;   /* a connection of the test's own, for data_version */

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
	if (watch)
		sqlite3_close(watch);
	watch = NULL;
	free(cur);
	cur = NULL;
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Open path; fails the test unless it opens. */
static struct lk_store *open_path(const char *path)
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

/* ---------------------------------------------------------------- contract hooks */


static int setup(void **state)
{
	if (watch)
		sqlite3_close(watch);
	watch = NULL;
	free(cur);
	cur = path_new("contract");
	return 0;
}

static struct lk_store *open_ok(void)
{
	return open_path(cur);
}

/* PRAGMA data_version on our own connection: it changes when any other connection (the
 * store's) commits. */
static long long drv_writes(void)
{
	if (!watch)
		watch = raw_open(cur);
	return raw_int_db(watch, "PRAGMA data_version");
}

static void drv_sessions_clean(int64_t uid)
{
	char *q = uid < 0 ? lkt_fmt("SELECT count(*) FROM sessions")
			  : lkt_fmt("SELECT count(*) FROM sessions WHERE user_id = %lld",
				    (long long)uid);
	assert_int_equal(raw_int(cur, q), 0);
	free(q);
}

static void drv_refresh_clean(void)
{
	assert_int_equal(raw_int(cur, "SELECT count(*) FROM refresh"), 0);
}

static void drv_damage_secret(const char *name)
{
	char *q = lkt_fmt("INSERT OR REPLACE INTO secrets VALUES ('%s', x'616263')", name);
	raw_exec(cur, q);
	free(q);
}

/* Threads that exited left no transaction open: another connection takes the write lock
 * at once (SQLite keeps a closed connection's descriptors open while others hold POSIX
 * locks on the file, so counting descriptors would prove nothing), and the file is whole. */
static void drv_threads_gone(void)
{
	sqlite3 *db = raw_open(cur);
	char *msg = NULL;
	sqlite3_busy_timeout(db, 0);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE; COMMIT;", NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("write lock held after the threads exited: %s", msg);
	sqlite3_stmt *q = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
	sqlite3_finalize(q);
	sqlite3_close(db);
}

#include "store_contract.h"

/* ---------------------------------------------------------------- open, files */

static void test_open_close_reopen(void **state)
{
	char *p = path_new("reopen");
	struct lk_store *st = open_path(p);
	struct lk_user u;

	assert_rc(st->ops->ping(st), LK_OK);
	int64_t id = user_add_ok(st, "alice");
	lk_store_close(st);
	lk_store_close(NULL); /* no-op */

	st = open_path(p);
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
	struct lk_store *st = open_path(p);
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
	st = open_path(p);
	lk_store_close(st);
	assert_int_equal(raw_int(p, "PRAGMA user_version"), SCHEMA_VERSION);
	free(p);
}

/* A newer latchkey migrated this file; an older one must not touch it. */
static void test_future_version(void **state)
{
	char *p = path_new("future");
	lk_store_close(open_path(p));
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
	struct lk_store *st = open_path(p);
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
	lk_store_close(open_path(p));
	char *wal = lkt_fmt("%s-wal", p);
	assert_int_equal(mkdir(wal, 0700), 0);
	open_fails(p, LK_ESTORE);
	assert_int_equal(rmdir(wal), 0);
	lk_store_close(open_path(p)); /* and it was not damaged */
	free(wal);
	free(p);

	/* chmod 0500 on the directory: effective only for a non-root user. */
	if (geteuid() != 0) {
		char *dir = lkt_fmt("%s/ro", tmpdir);
		assert_int_equal(mkdir(dir, 0700), 0);
		char *old = lkt_fmt("%s/old.db", dir);
		lk_store_close(open_path(old));
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
	struct lk_store *st = open_path(p);
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

/* The schema of latchkey before migration 4 (migrations 1 to 3 of src/store/sqlite.c,
 * frozen): a database made by an older release. */
static const char *const old_schema[] = {
	/* 1: users, sessions, audit */
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT UNIQUE NOT NULL,"
	"  roles TEXT NOT NULL DEFAULT '',"
	"  phc TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  pw_changed INTEGER NOT NULL"
	");"
	/* Keyed by SHA-256 of the cookie secret: the secret itself is never stored. */
	"CREATE TABLE sessions ("
	"  id_hash BLOB PRIMARY KEY CHECK (length(id_hash) = 32),"
	"  handle TEXT UNIQUE NOT NULL,"
	"  csrf TEXT NOT NULL,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  created INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  ip TEXT NOT NULL DEFAULT '',"
	"  user_agent TEXT NOT NULL DEFAULT ''"
	") WITHOUT ROWID;"
	"CREATE INDEX sessions_user ON sessions(user_id);"
	"CREATE INDEX sessions_expires ON sessions(expires);"
	"CREATE INDEX sessions_last_seen ON sessions(last_seen);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  ts INTEGER NOT NULL,"
	"  event TEXT NOT NULL,"
	"  user TEXT NOT NULL DEFAULT '',"
	"  ip TEXT NOT NULL DEFAULT '',"
	"  detail TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX audit_ts ON audit(ts);",
	/* 2: tokens: signing keys, clients, refresh tokens, revocations, server secrets.
	 * Triggers record revocations in the same transaction as the change that causes
	 * them, whichever process makes it (server, another instance, the CLI). */
	"CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE keys ("
	"  kid TEXT PRIMARY KEY,"
	"  alg TEXT NOT NULL,"
	"  jwk TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  sign_from INTEGER NOT NULL,"
	"  retire_at INTEGER NOT NULL DEFAULT 0,"
	"  remove_at INTEGER NOT NULL DEFAULT 0"
	") WITHOUT ROWID;"
	"CREATE TABLE clients ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),"
	"  scope TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL"
	") WITHOUT ROWID;"
	/* Keyed by SHA-256 of the token: the token itself is never stored. */
	"CREATE TABLE refresh ("
	"  hash BLOB PRIMARY KEY CHECK (length(hash) = 32),"
	"  family TEXT NOT NULL,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  client_id TEXT NOT NULL DEFAULT '',"
	"  scope TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  used_at INTEGER NOT NULL DEFAULT 0,"
	"  next_access TEXT NOT NULL DEFAULT ''"
	") WITHOUT ROWID;"
	"CREATE INDEX refresh_family ON refresh(family);"
	"CREATE INDEX refresh_user ON refresh(user_id);"
	"CREATE INDEX refresh_expires ON refresh(expires);"
	"CREATE TABLE revocations ("
	"  cursor INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  type TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  before INTEGER NOT NULL DEFAULT 0,"
	"  expires INTEGER NOT NULL"
	");"
	"CREATE INDEX revocations_expires ON revocations(expires);"
	"INSERT INTO meta VALUES ('revocation_ttl', 960);"
	/* A session that ends early takes its hybrid access tokens (sid) with it. */
	"CREATE TRIGGER sessions_end AFTER DELETE ON sessions WHEN OLD.expires > unixepoch() BEGIN"
	"  INSERT INTO revocations (type, value, expires) VALUES ('sid', OLD.handle,"
	"    unixepoch() + (SELECT v FROM meta WHERE k = 'revocation_ttl'));"
	"END;"
	/* The live head of a refresh family going takes the family's access tokens. */
	"CREATE TRIGGER refresh_end AFTER DELETE ON refresh"
	"  WHEN OLD.used_at = 0 AND OLD.expires > unixepoch() BEGIN"
	"  INSERT INTO revocations (type, value, expires) VALUES ('sid', OLD.family,"
	"    unixepoch() + (SELECT v FROM meta WHERE k = 'revocation_ttl'));"
	"END;"
	/* A new password voids every token issued before it; so does deleting the user. */
	"CREATE TRIGGER users_password AFTER UPDATE OF pw_changed ON users BEGIN"
	"  INSERT INTO revocations (type, value, before, expires) VALUES ('sub', NEW.id,"
	"    NEW.pw_changed, unixepoch() + (SELECT v FROM meta WHERE k = 'revocation_ttl'));"
	"END;"
	"CREATE TRIGGER users_gone AFTER DELETE ON users BEGIN"
	"  INSERT INTO revocations (type, value, before, expires) VALUES ('sub', OLD.id,"
	"    unixepoch() + 1, unixepoch() + (SELECT v FROM meta WHERE k = 'revocation_ttl'));"
	"END;",
	/* 3: sign-in limits shared by every process on this database */
	"CREATE TABLE ratelimit ("
	"  k TEXT PRIMARY KEY,"
	"  failures INTEGER NOT NULL DEFAULT 0,"
	"  tokens REAL NOT NULL DEFAULT 0,"
	"  last INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX ratelimit_expires ON ratelimit(expires);",
};

/*
 * Ids were INTEGER PRIMARY KEY before migration 4, so SQLite handed out max(id) + 1 and a
 * deleted newest user's id came back for the next account (with that user's tokens'
 * `sub`). A database of that schema opens, keeps its rows and ids, and new ids go past
 * the largest ever used that is still known (here: a deleted user whose `sub` revocation
 * is still in the table).
 */
static void test_migration_4(void **state)
{
	char *p = path_new("oldschema");
	sqlite3 *db = raw_open(p);
	char *msg = NULL;
	for (size_t i = 0; i < sizeof old_schema / sizeof old_schema[0]; i++)
		if (sqlite3_exec(db, old_schema[i], NULL, NULL, &msg) != SQLITE_OK)
			fail_msg("old schema %zu: %s", i + 1, msg);
	const char *rows =
		"PRAGMA application_id = 1280009593; PRAGMA user_version = 3;"
		"INSERT INTO users (id, name, phc, created, pw_changed) VALUES"
		"  (1, 'ann', 'x', 1, 1), (2, 'ben', 'x', 1, 1), (3, 'cat', 'x', 1, 1);"
		"INSERT INTO sessions (id_hash, handle, csrf, user_id, created, last_seen, expires)"
		"  VALUES (randomblob(32), 'h-ann', 'c', 1, 1, 1, unixepoch() + 3600);"
		"INSERT INTO refresh (hash, family, user_id, created, expires)"
		"  VALUES (randomblob(32), 'fam-ben', 2, 1, unixepoch() + 3600);"
		"DELETE FROM users WHERE id = 3;"; /* the trigger records sub 3 */
	if (sqlite3_exec(db, rows, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("old rows: %s", msg);
	sqlite3_close(db);
	assert_int_equal(APP_ID, 1280009593);

	struct lk_store *st = open_path(p);
	struct lk_user u;
	assert_int_equal(raw_int(p, "PRAGMA user_version"), SCHEMA_VERSION);
	assert_rc(st->ops->user_get(st, "ann", &u), LK_OK);
	assert_int_equal(u.id, 1);
	assert_rc(st->ops->user_get(st, "ben", &u), LK_OK);
	assert_int_equal(u.id, 2);
	/* the rows that refer to users came through the rebuild */
	assert_int_equal(raw_int(p, "SELECT count(*) FROM sessions WHERE user_id = 1"), 1);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM refresh WHERE user_id = 2"), 1);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	int64_t d = user_add_ok(st, "dan");
	assert_int_equal(d, 4); /* not 3: cat's id stays cat's */
	assert_rc(st->ops->user_del(st, "dan", NULL, NULL), LK_OK);
	assert_int_equal(user_add_ok(st, "eve"), 5);
	/* foreign keys still hold: a user's deletion cascades to their rows */
	assert_rc(st->ops->user_del(st, "ann", NULL, NULL), LK_OK);
	assert_int_equal(raw_int(p, "SELECT count(*) FROM sessions"), 0);
	lk_store_close(st);
	/* and the file says AUTOINCREMENT now */
	assert_int_equal(raw_int(p, "SELECT count(*) FROM sqlite_schema WHERE name = 'users'"
				    " AND sql LIKE '%AUTOINCREMENT%'"), 1);
	free(p);
}

/*
 * The generation lives in PATH-gen. Named from the path as typed, a CLI reaching the
 * database through a symlink (or "./x.db") bumped a counter the server never read, and
 * the server kept serving a session the CLI had revoked from its cache. Every path to
 * the file now shares one counter, named from the real path.
 */
static void test_generation_symlink(void **state)
{
	char *p = path_new("real"), *l = path_new("link"), cwd[4096];
	assert_int_equal(symlink(p, l), 0); /* l -> p (p not there yet) */
	struct lk_store *a = open_path(p), *b = open_path(l);
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(tmpdir), 0);
	char *rel = lkt_fmt("./%s", strrchr(p, '/') + 1);
	struct lk_store *c = open_path(rel);
	assert_int_equal(chdir(cwd), 0);
	int64_t t0 = time(NULL), uid = user_add_ok(a, "alice");
	struct lk_session s1 = sess_make("g1", uid, t0), s2 = sess_make("g2", uid, t0);
	sess_add_ok(a, &s1);
	sess_add_ok(a, &s2);

	uint64_t ga = a->ops->generation(a), gc = c->ops->generation(c);
	assert_rc(b->ops->session_del(b, s1.id_hash), LK_OK); /* the CLI, via the link */
	assert_true(a->ops->generation(a) != ga);             /* the server sees it */
	assert_true(c->ops->generation(c) != gc);
	uint64_t gb = b->ops->generation(b);
	assert_rc(c->ops->session_del(c, s2.id_hash), LK_OK); /* via "./name" */
	assert_true(b->ops->generation(b) != gb);
	/* one file, beside the real database; none beside the link */
	char *pg = lkt_fmt("%s-gen", p), *lg = lkt_fmt("%s-gen", l);
	struct stat sb;
	assert_int_equal(stat(pg, &sb), 0);
	assert_int_equal(lstat(lg, &sb), -1);
	lk_store_close(a);
	lk_store_close(b);
	lk_store_close(c);
	free(pg);
	free(lg);
	free(rel);
	free(p);
	free(l);
}

/* refresh_purge deletes expired rows here (Redis lets them expire by themselves), and an
 * expired token's going revokes nothing. */
static void test_refresh_purge_expired(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL), n = -1;
	int64_t uid = user_add_ok(st, "alice");
	struct lk_refresh *gone = rt_make("gone", "famX", uid, t0 - 10);
	struct lk_refresh *live = rt_make("live", "famY", uid, t0 + 3600);
	struct lk_refresh *out = calloc(1, sizeof *out);
	assert_rc(st->ops->refresh_add(st, gone), LK_OK);
	assert_rc(st->ops->refresh_add(st, live), LK_OK);
	assert_rc(st->ops->refresh_purge(st, t0, t0 - 10, &n), LK_OK);
	assert_int_equal(n, 1);
	assert_rc(st->ops->refresh_get(st, gone->hash, out), LK_ENOT_FOUND);
	assert_rc(st->ops->refresh_get(st, live->hash, out), LK_OK);
	assert_int_equal(revs(st, 0, t0)->n, 0);
	free(gone);
	free(live);
	free(out);
	lk_store_close(st);
}

/* A coalesced touch that finds last_seen recent enough writes nothing, and one that finds
 * no session reads once more to say so: neither commits. */
static void test_touch_writes_nothing(void **state)
{
	struct lk_store *st = open_ok();
	int64_t t0 = time(NULL), uid = user_add_ok(st, "alice");
	struct lk_session s = sess_make("t", uid, t0), gone = sess_make("gone", uid, t0);
	sess_add_ok(st, &s);
	long long v0 = drv_writes();
	assert_rc(st->ops->session_touch(st, s.id_hash, t0 + 5, t0), LK_OK);
	assert_rc(st->ops->session_touch(st, gone.id_hash, t0 + 5, t0 + 6), LK_ENOT_FOUND);
	assert_int_equal(drv_writes(), v0);
	lk_store_close(st);
}

/* ---------------------------------------------------------------- users */

/* Text longer than a struct field (written by some other tool) is cut to fit, at a
 * UTF-8 character boundary, never past the field. */
static void test_user_truncation(void **state)
{
	char *p = path_new("trunc");
	struct lk_store *st = open_path(p);
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
 * A stolen copy of the database (a backup, a misplaced file) must not let anyone log in:
 * the store keeps SHA-256 of the cookie secret, never the secret. Write a session made
 * from a known secret and search the raw bytes of the database and its WAL: the hash and
 * the public handle are there, the secret is not, in raw or base64url form.
 */
static void test_file_has_no_session_secret(void **state)
{
	char *p = path_new("secret");
	char *wal = lkt_fmt("%s-wal", p);
	struct lk_store *st = open_path(p);
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

static void test_close_with_live_threads(void **state)
{
	char *p = path_new("live");
	struct lk_store *st = open_path(p);
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
	st = open_path(p);
	assert_rc(st->ops->session_count(st, 0, &n), LK_OK);
	assert_int_equal(n, NTHREADS * (NITER - NITER / 10));
	lk_store_close(st);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CONTRACT_TESTS(setup),
		cmocka_unit_test_setup(test_open_close_reopen, setup),
		cmocka_unit_test_setup(test_default_path, setup),
		cmocka_unit_test_setup(test_schema_version, setup),
		cmocka_unit_test_setup(test_future_version, setup),
		cmocka_unit_test_setup(test_garbage_file, setup),
		cmocka_unit_test_setup(test_foreign_database, setup),
		cmocka_unit_test_setup(test_damaged_database, setup),
		cmocka_unit_test_setup(test_unwritable, setup),
		cmocka_unit_test_setup(test_file_mode, setup),
		cmocka_unit_test_setup(test_migration_4, setup),
		cmocka_unit_test_setup(test_generation_symlink, setup),
		cmocka_unit_test_setup(test_refresh_purge_expired, setup),
		cmocka_unit_test_setup(test_touch_writes_nothing, setup),
		cmocka_unit_test_setup(test_user_truncation, setup),
		cmocka_unit_test_setup(test_file_has_no_session_secret, setup),
		cmocka_unit_test_setup(test_close_with_live_threads, setup),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
