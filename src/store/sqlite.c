/* SPDX-License-Identifier: MIT */
/*
 * The embedded store back end, "sqlite:PATH": users, sessions and audit events in one
 * SQLite file (WAL mode), behind the lk_store_ops table of store.h.
 *
 * Design in brief:
 * - One connection per thread, opened lazily (SQLITE_OPEN_NOMUTEX: a connection is never
 *   shared, so SQLite's per-connection mutex would be pure cost). A pthread key per store
 *   hands each thread its connection; the key's destructor closes it when the thread exits.
 *   Every connection is also on the store's list, so close() can close the connections of
 *   threads that are still alive. Cost: one file descriptor and one page cache per thread.
 * - Each connection caches its prepared statements (SQLITE_PREPARE_PERSISTENT), indexed
 *   by enum sid; a statement is reset and its bindings cleared after each use. A listing
 *   whose callback re-enters the same operation gets a transient statement instead.
 * - WAL lets readers proceed while one writer commits. Writers queue on the busy handler
 *   (5 s); multi-statement changes run in BEGIN IMMEDIATE so they take the write lock up
 *   front and never fail half-way with SQLITE_BUSY_SNAPSHOT.
 * - The schema is versioned by PRAGMA user_version and owned by PRAGMA application_id;
 *   migrations[] runs forward, one transaction each. A file that is a database of some
 *   other program is refused (LK_ESTORE_CORRUPT), not converted.
 * - The file holds Argon2id hashes, so it is created 0600; SQLite gives its -wal and -shm
 *   files the permissions of the database file.
 * - Nothing here logs: errors return as lk_err (and, at open, a detail naming the path).
 *
 * close() must not race with the store's use: call it only after every other thread has
 * stopped calling the store (a server joins its workers first). Threads may still be alive;
 * their connections are closed by close(), and their later exit does nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <sodium.h>
#include <stdbool.h>

#include "auth/rlpolicy.h"
#include "store/store.h"
#include "util/err.h"

#define DEFAULT_PATH "latchkey.db"
#define BUSY_TIMEOUT_MS 5000
#define APP_ID 0x4c4b6579 /* "LKey": PRAGMA application_id of a latchkey database */
#define NOT_FOUND (-1)    /* internal result: no such row (no SQLite code is negative) */

/*
 * Schema migrations: migrations[i] takes user_version i to i + 1. Append only; never edit a
 * released entry (a database already past it would not see the change).
 *
 * Later issues add tables here as new entries: refresh-token families and their rotation
 * counters, the access-token denylist, signing keys, OAuth clients, rate-limit buckets.
 */
static const char *const migrations[] = {
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
	/* 4: user ids are never reused (AUTOINCREMENT), and a family already revoked is not
	 * revoked again when its rows go. The users table is rebuilt (migrate() turns foreign
	 * keys off around it, so the rebuild cascades nothing); ids and rows are kept. The
	 * sequence starts past the largest id still known: a live user, or a deleted one whose
	 * `sub` revocation has not been purged yet (the old schema kept no counter, so an id
	 * deleted longer ago than that cannot be known). */
	"CREATE TABLE users_new ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT UNIQUE NOT NULL,"
	"  roles TEXT NOT NULL DEFAULT '',"
	"  phc TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  pw_changed INTEGER NOT NULL"
	");"
	"INSERT INTO users_new (id, name, roles, phc, created, pw_changed)"
	"  SELECT id, name, roles, phc, created, pw_changed FROM users;"
	"DROP TABLE users;"
	"ALTER TABLE users_new RENAME TO users;"
	"DELETE FROM sqlite_sequence WHERE name = 'users';"
	"INSERT INTO sqlite_sequence (name, seq) VALUES ('users', max("
	"  coalesce((SELECT max(id) FROM users), 0),"
	"  coalesce((SELECT max(CAST(value AS INTEGER)) FROM revocations WHERE type = 'sub'), 0)));"
	"CREATE TRIGGER users_password AFTER UPDATE OF pw_changed ON users BEGIN"
	"  INSERT INTO revocations (type, value, before, expires) VALUES ('sub', NEW.id,"
	"    NEW.pw_changed, unixepoch() + (SELECT v FROM meta WHERE k = 'revocation_ttl'));"
	"END;"
	"CREATE TRIGGER users_gone AFTER DELETE ON users BEGIN"
	"  INSERT INTO revocations (type, value, before, expires) VALUES ('sub', OLD.id,"
	"    unixepoch() + 1, unixepoch() + (SELECT v FROM meta WHERE k = 'revocation_ttl'));"
	"END;"
	"CREATE INDEX revocations_value ON revocations(value);"
	"DROP TRIGGER refresh_end;"
	"CREATE TRIGGER refresh_end AFTER DELETE ON refresh"
	"  WHEN OLD.used_at = 0 AND OLD.expires > unixepoch() AND NOT EXISTS ("
	"    SELECT 1 FROM revocations WHERE value = OLD.family AND type = 'sid'"
	"      AND expires > unixepoch()) BEGIN"
	"  INSERT INTO revocations (type, value, expires) VALUES ('sid', OLD.family,"
	"    unixepoch() + (SELECT v FROM meta WHERE k = 'revocation_ttl'));"
	"END;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* Column lists shared by the statements that read rows (see row_user etc.). */
#define USER_COLS "id, name, roles, phc, created, pw_changed"
#define SESS_COLS "id_hash, handle, csrf, user_id, created, last_seen, expires, ip, user_agent"
#define AUDIT_COLS "id, ts, event, user, ip, detail"

/* The prepared-statement cache: one slot per statement per connection. */
enum sid {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_PING,
	S_USER_ADD,
	S_USER_GET,
	S_USER_GET_ID,
	S_USER_ID,
	S_USER_SETPW,
	S_USER_DEL,
	S_USER_LIST,
	S_USER_COUNT,
	S_SESS_ADD,
	S_SESS_GET,
	S_SESS_TOUCH,
	S_SESS_DEL,
	S_SESS_DEL_HANDLE,
	S_SESS_DEL_UID,
	S_SESS_LIST,
	S_SESS_LIST_USER,
	S_SESS_PURGE,
	S_SESS_COUNT,
	S_AUDIT_ADD,
	S_AUDIT_LIST,
	S_KEY_ADD,
	S_KEY_LIST,
	S_KEY_RETIRE,
	S_KEY_DEL,
	S_CLIENT_ADD,
	S_CLIENT_GET,
	S_REFRESH_ADD,
	S_REFRESH_GET,
	S_REFRESH_CLAIM,
	S_FAMILY_DEL,
	S_REFRESH_DEL_USER,
	S_REFRESH_PURGE,
	S_REVOKE_ADD,
	S_REVOKE_LIST,
	S_REVOKE_MARK,
	S_REVOKE_PURGE,
	S_META_SET,
	S_META_GET,
	S_SECRET_GET,
	S_SECRET_ADD,
	S_RL_GET,
	S_RL_RESET,
	S_RL_PURGE,
	S_SESS_EXISTS,
	S_REVOKE_USER_SESS,
	S_REVOKE_USER_FAM,
	S_REVOKE_USER_RT,
	S_RT_TRIM,
	S_RL_PUT,
	S_COUNT_
};

static const char *const sql[S_COUNT_] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_PING] = "SELECT count(*) FROM sqlite_schema",
	[S_USER_ADD] = "INSERT INTO users (name, roles, phc, created, pw_changed) "
		       "VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_USER_GET] = "SELECT " USER_COLS " FROM users WHERE name = ?1",
	[S_USER_GET_ID] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
	[S_USER_ID] = "SELECT id FROM users WHERE name = ?1",
	[S_USER_SETPW] = "UPDATE users SET phc = ?1, pw_changed = ?2 WHERE id = ?3",
	[S_USER_DEL] = "DELETE FROM users WHERE id = ?1",
	[S_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY name",
	[S_USER_COUNT] = "SELECT count(*) FROM users",
	[S_SESS_ADD] = "INSERT INTO sessions (" SESS_COLS ") "
		       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[S_SESS_GET] = "SELECT " SESS_COLS " FROM sessions WHERE id_hash = ?1",
	/* Coalesced: no write at all unless last_seen is older than ?3. */
	[S_SESS_TOUCH] = "UPDATE sessions SET last_seen = ?1 WHERE id_hash = ?2 AND last_seen < ?3",
	[S_SESS_DEL] = "DELETE FROM sessions WHERE id_hash = ?1",
	[S_SESS_DEL_HANDLE] = "DELETE FROM sessions WHERE handle = ?1 AND user_id = ?2",
	[S_SESS_DEL_UID] = "DELETE FROM sessions WHERE user_id = ?1",
	[S_SESS_LIST] = "SELECT " SESS_COLS " FROM sessions ORDER BY created DESC, handle",
	[S_SESS_LIST_USER] = "SELECT " SESS_COLS " FROM sessions WHERE user_id = ?1 "
			     "ORDER BY created DESC, handle",
	[S_SESS_PURGE] = "DELETE FROM sessions WHERE expires <= ?1 OR last_seen < ?2",
	[S_SESS_COUNT] = "SELECT count(*) FROM sessions WHERE expires > ?1",
	[S_AUDIT_ADD] = "INSERT INTO audit (ts, event, user, ip, detail) "
			"VALUES (?1, ?2, ?3, ?4, ?5)",
	/* LIMIT -1 is no limit. */
	[S_AUDIT_LIST] = "SELECT " AUDIT_COLS " FROM audit ORDER BY id DESC LIMIT ?1",
	[S_KEY_ADD] = "INSERT INTO keys (kid, alg, jwk, created, sign_from, retire_at, remove_at) "
		      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_KEY_LIST] = "SELECT kid, alg, jwk, created, sign_from, retire_at, remove_at FROM keys "
		       "ORDER BY sign_from, created, kid",
	[S_KEY_RETIRE] = "UPDATE keys SET retire_at = ?2, remove_at = ?3 WHERE kid = ?1",
	[S_KEY_DEL] = "DELETE FROM keys WHERE kid = ?1",
	[S_CLIENT_ADD] = "INSERT INTO clients (id, name, secret_hash, scope, created) "
			 "VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_CLIENT_GET] = "SELECT id, name, secret_hash, scope, created FROM clients WHERE id = ?1",
	[S_REFRESH_ADD] = "INSERT INTO refresh (hash, family, user_id, client_id, scope, created, "
			  "expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_REFRESH_GET] = "SELECT hash, family, user_id, client_id, scope, created, expires, used_at, "
			  "next_access FROM refresh WHERE hash = ?1",
	/* Only one caller can move used_at from 0: the winner of a concurrent refresh. */
	[S_REFRESH_CLAIM] = "UPDATE refresh SET used_at = ?2, next_access = ?3 "
			    "WHERE hash = ?1 AND used_at = 0",
	[S_FAMILY_DEL] = "DELETE FROM refresh WHERE family = ?1",
	[S_REFRESH_DEL_USER] = "DELETE FROM refresh WHERE user_id = ?1",
	[S_REFRESH_PURGE] = "DELETE FROM refresh WHERE expires <= ?1",
	[S_REVOKE_ADD] = "INSERT INTO revocations (type, value, before, expires) "
			 "VALUES (?1, ?2, ?3, ?4)",
	[S_REVOKE_LIST] = "SELECT cursor, type, value, before, expires FROM revocations "
			  "WHERE cursor > ?1 AND expires > ?2 ORDER BY cursor",
	[S_REVOKE_MARK] = "SELECT coalesce(max(cursor), 0) FROM revocations",
	[S_REVOKE_PURGE] = "DELETE FROM revocations WHERE expires <= ?1",
	[S_META_SET] = "INSERT OR REPLACE INTO meta (k, v) VALUES (?1, ?2)",
	[S_META_GET] = "SELECT v FROM meta WHERE k = ?1",
	[S_SECRET_GET] = "SELECT value FROM secrets WHERE name = ?1",
	[S_SECRET_ADD] = "INSERT OR IGNORE INTO secrets (name, value) VALUES (?1, ?2)",
	[S_RL_GET] = "SELECT failures, tokens, last FROM ratelimit WHERE k = ?1 AND expires > ?2",
	[S_RL_RESET] = "DELETE FROM ratelimit WHERE k = ?1",
	[S_RL_PURGE] = "DELETE FROM ratelimit WHERE expires <= ?1",
	[S_SESS_EXISTS] = "SELECT 1 FROM sessions WHERE id_hash = ?1",
	/* ?1 < 0: everyone; ?2 NULL keeps nothing ("id_hash IS NOT NULL" holds for every row) */
	[S_REVOKE_USER_SESS] = "DELETE FROM sessions WHERE (?1 < 0 OR user_id = ?1) "
			       "AND id_hash IS NOT ?2",
	/* Before the rows go: then the refresh_end trigger finds each family revoked. */
	[S_REVOKE_USER_FAM] = "INSERT INTO revocations (type, value, before, expires) "
			      "SELECT DISTINCT 'sid', family, 0, ?2 FROM refresh "
			      "WHERE ?1 < 0 OR user_id = ?1",
	[S_REVOKE_USER_RT] = "DELETE FROM refresh WHERE ?1 < 0 OR user_id = ?1",
	/* The grace window is over: the successor's access token leaves the store. */
	[S_RT_TRIM] = "UPDATE refresh SET next_access = '' "
		      "WHERE used_at != 0 AND used_at < ?1 AND next_access != ''",
	[S_RL_PUT] = "INSERT OR REPLACE INTO ratelimit (k, failures, tokens, last, expires) "
		     "VALUES (?1, ?2, ?3, ?4, ?5)",
};

struct sq_store;

/* One thread's connection. */
struct conn {
	sqlite3 *db;
	int64_t rw_retry; /* opened read-only: mono_ms() after which conn_get tries read-write */
	sqlite3_stmt *stmt[S_COUNT_];
	unsigned char in_use[S_COUNT_]; /* stmt[i] is stepping (a listing's callback runs) */
	struct sq_store *st;
	struct conn *prev, *next;       /* st->conns, under st->mu */
};

struct sq_store {
	struct lk_store base; /* first: (struct lk_store *) <-> (struct sq_store *) */
	char *path;           /* as typed: connections open it, details name it */
	char *real;           /* realpath(path): names PATH-gen, shared by every path to it */
	char *gen_path;       /* real + "-gen" */
	pthread_key_t key;    /* this thread's struct conn */
	pthread_mutex_t mu;   /* guards conns */
	struct conn *conns;
	/* The revocation generation, shared by every process on this database through a
	 * small mapped file beside it (PATH-gen, mode 0600): bumped after each committed
	 * change that can end a session, read with one atomic load per request. */
	_Atomic uint64_t *gen;
};

#define GEN_FILE_LEN 4096

/* The 32-bit word holding the low half of the counter: what waiters sleep on. A shared
 * (not FUTEX_PRIVATE) futex on a MAP_SHARED file mapping is keyed by the file page, so a
 * bump in another process (the CLI) wakes a waiter here. */
static uint32_t *gen_word(struct sq_store *st)
{
	uint32_t *w = (uint32_t *)(void *)st->gen;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w++;
#endif
	return w;
}

static void bump(struct sq_store *st)
{
	if (!st->gen)
		return;
	atomic_fetch_add_explicit(st->gen, 1, memory_order_release);
	/* Wake every waiter of every process; cheap (one system call) and rare. */
	(void)syscall(SYS_futex, gen_word(st), FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

static uint64_t sq_generation(struct lk_store *base)
{
	struct sq_store *st = (struct sq_store *)base;
	return atomic_load_explicit(st->gen, memory_order_acquire);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep on the low word until a bump (here or in another process) or the timeout. FUTEX_WAIT
 * returns at once when the word no longer holds the value we saw, so a bump between the load
 * and the wait is never missed; the low half changes on every bump. */
static uint64_t sq_generation_wait(struct lk_store *base, uint64_t seen, int timeout_ms)
{
	struct sq_store *st = (struct sq_store *)base;
	int64_t end = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		uint64_t g = sq_generation(base);
		int64_t left = end - mono_ms();
		if (g != seen || left <= 0)
			return g;
		struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
		(void)syscall(SYS_futex, gen_word(st), FUTEX_WAIT, (uint32_t)seen, &ts, NULL, 0);
	}
}

/* Map PATH-gen, creating it (0600, zero-filled) when absent. */
static enum lk_err map_gen(struct sq_store *st, struct lk_errinfo *ei)
{
	size_t n = strlen(st->real) + 5;
	char *gp = malloc(n);
	struct stat sb;
	int fd = -1;
	enum lk_err err = LK_OK;

	if (!gp)
		return lk_errf(ei, LK_ENOMEM, "out of memory opening the store");
	snprintf(gp, n, "%s-gen", st->real);
	fd = open(gp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (sb.st_size < GEN_FILE_LEN && ftruncate(fd, GEN_FILE_LEN) != 0)) {
		err = lk_errf(ei, errno == EROFS || errno == EACCES ? LK_ESTORE_READONLY : LK_ESTORE,
			      "cannot open %s: %s", gp, strerror(errno));
		goto out;
	}
	void *m = mmap(NULL, GEN_FILE_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		err = lk_errf(ei, LK_ESTORE, "cannot map %s: %s", gp, strerror(errno));
		goto out;
	}
	st->gen = m;
	st->gen_path = gp;
	gp = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(gp);
	return err;
}

/* A statement borrowed from a connection's cache (or a transient one). */
struct q {
	struct conn *c;
	sqlite3_stmt *s;
	enum sid id;
	int transient;
};

/* ---------------------------------------------------------------- errors */

/* The connection the calling thread took last (conn_get), for map_rc: a write that fails
 * on a filesystem turned read-only under an open connection comes back as
 * SQLITE_IOERR_WRITE, like a failing disk. Every op takes its connection through
 * conn_get before running a statement, on the thread that then maps the result, so this
 * is the connection whose statement just failed. */
static _Thread_local struct conn *cur_conn;

/* Is the store's filesystem read-only now? sqlite3_system_errno() cannot say: SQLite reads
 * errno after the failing call, when other calls may have reset it (0 was seen). Nor can
 * access(2): ext4 turned read-only after an error (errors=remount-ro, Linux 6.x's
 * "emergency_ro") still passes W_OK and refuses the open. So open PATH-gen for writing:
 * our own file, never the database, whose POSIX locks SQLite holds and any close(2) of
 * it by this process would drop. Only on a failed call: its cost does not matter. */
static bool gen_readonly(const char *gen_path)
{
	int fd = gen_path ? open(gen_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW) : -1;
	if (fd >= 0) {
		close(fd);
		return false;
	}
	return gen_path && errno == EROFS;
}

static bool fs_readonly(const struct sq_store *st)
{
	return gen_readonly(st->gen_path);
}

/* Map an SQLite result code (extended codes are on) to our error. */
static enum lk_err map_rc(int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return LK_OK;
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return LK_EEXISTS;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return LK_ENOT_FOUND; /* a session for a user that does not exist */
	case SQLITE_READONLY_DBMOVED: /* the file was renamed or deleted: not a read-only disk */
		return LK_ESTORE;
	}
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return LK_ENOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return LK_ESTORE_CORRUPT;
	case SQLITE_CONSTRAINT: /* NOT NULL, CHECK: a value we should have refused */
	case SQLITE_TOOBIG:
	case SQLITE_RANGE:
	case SQLITE_MISUSE:
		return LK_EINVAL;
	case SQLITE_READONLY: /* a read-only connection, directory (-wal, -shm) or -shm file */
		return LK_ESTORE_READONLY;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		if (cur_conn && fs_readonly(cur_conn->st))
			return LK_ESTORE_READONLY;
		return LK_ESTORE;
	default:
		/* BUSY and LOCKED (past the busy timeout), FULL, PERM, PROTOCOL, SCHEMA, ERROR:
		 * the store cannot do it now. */
		return LK_ESTORE;
	}
}

/*
 * Why a database SQLite will not write cannot be written, for the one line an operator
 * reads when the server refuses to start: the file itself (EROFS: a read-only mount or a
 * filesystem the kernel turned read-only; EACCES: no write permission), else the -wal or
 * -shm file beside it, else its directory, where WAL mode must create them. Names only
 * the path and the cause. Asked with faccessat(2), never by opening those files: SQLite
 * holds POSIX locks on the database and its -shm through its own descriptors, and any
 * close(2) of another descriptor of them in this process would drop those locks (PATH-gen,
 * ours, may be opened).
 */
static enum lk_err readonly_err(struct lk_errinfo *ei, int rc, const char *path)
{
	static const char *const sfx[] = {"-wal", "-shm"};

	if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) != 0)
		return lk_errf(ei, LK_ESTORE_READONLY, "database is read-only (%s): sqlite:%s",
			       strerror(errno), path);
	/* ext4 turned read-only after an error passes access(2): PATH-gen tells (fs_readonly) */
	char *real = realpath(path, NULL), *gp = NULL;
	if (real && asprintf(&gp, "%s-gen", real) < 0)
		gp = NULL;
	bool rofs = gen_readonly(gp);
	free(gp);
	free(real);
	if (rofs)
		return lk_errf(ei, LK_ESTORE_READONLY, "database is read-only (%s): sqlite:%s",
			       strerror(EROFS), path);
	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		size_t n = strlen(path) + 5;
		char *p = malloc(n);
		if (!p)
			break;
		snprintf(p, n, "%s%s", path, sfx[i]);
		int bad = faccessat(AT_FDCWD, p, W_OK, AT_EACCESS) != 0, e = errno;
		free(p);
		if (bad && e != ENOENT)
			return lk_errf(ei, LK_ESTORE_READONLY,
				       "database is read-only (its %s: %s): sqlite:%s", sfx[i],
				       strerror(e), path);
	}
	if (rc == SQLITE_READONLY_DIRECTORY || rc == SQLITE_READONLY_CANTINIT ||
	    (rc & 0xff) == SQLITE_CANTOPEN)
		return lk_errf(ei, LK_ESTORE_READONLY,
			       "database is read-only (directory not writable: WAL needs -wal, -shm): sqlite:%s",
			       path);
	return lk_errf(ei, LK_ESTORE_READONLY, "database is read-only (%s): sqlite:%s",
		       sqlite3_errstr(rc), path);
}

/* The detail for a failed open: reason first (the path may be long and get cut). */
static enum lk_err open_err(struct lk_errinfo *ei, int rc, const char *path)
{
	enum lk_err err = map_rc(rc);
	if (err == LK_OK)
		err = LK_ESTORE;
	if (err == LK_ESTORE_READONLY)
		return readonly_err(ei, rc, path);
	if (err == LK_ESTORE_CORRUPT)
		return lk_errf(ei, err, "not a database, or corrupt (%s): sqlite:%s",
			       sqlite3_errstr(rc), path);
	return lk_errf(ei, err, "cannot use store (%s): sqlite:%s", sqlite3_errstr(rc), path);
}

/* ---------------------------------------------------------------- connections */

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	if (cur_conn == c)
		cur_conn = NULL;
	for (int i = 0; i < S_COUNT_; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close_v2(c->db);
	free(c);
}

/* pthread key destructor: the thread exits, so does its connection. */
static void conn_thread_exit(void *p)
{
	struct conn *c = p;
	struct sq_store *st = c->st;

	pthread_mutex_lock(&st->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		st->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&st->mu);
	conn_free(c);
}

/* One statement, no rows wanted, no statement cache (set-up only). */
static int exec(sqlite3 *db, const char *q)
{
	return sqlite3_exec(db, q, NULL, NULL, NULL);
}

/* Run a one-row one-column integer query (set-up only). */
static int query_int(sqlite3 *db, const char *q, int64_t *out)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, q, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(s, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			rc = SQLITE_ERROR;
		}
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * Open and configure one connection to path. The file must exist already (open() creates
 * it with mode 0600): without SQLITE_OPEN_CREATE a database deleted under a running server
 * fails loudly instead of coming back empty and schemaless in one thread.
 *
 * SQLite quietly opens a file it cannot write read-only. With ro_ok 0 (the store's first
 * connection) that is refused: a server must not start on a store where every sign-in
 * would fail. With ro_ok 1 (a thread's connection in a running server, whose filesystem
 * may have turned read-only since) it is taken: reads go on and writes fail
 * SQLITE_READONLY, as they do on the connections opened before; *readonly says so.
 */
static int conn_open(const char *path, int ro_ok, sqlite3 **out, int *readonly)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
					 SQLITE_OPEN_EXRESCODE,
				 NULL);
	if (rc != SQLITE_OK)
		goto fail;
	*readonly = sqlite3_db_readonly(db, "main") == 1;
	if (*readonly && !ro_ok) {
		rc = SQLITE_READONLY;
		goto fail;
	}
	/* Hardening: no writable_schema tricks, no SQL functions with side effects from
	 * views or triggers stored in the file. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	if ((rc = sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS)) != SQLITE_OK)
		goto fail;
	/*
	 * synchronous=NORMAL in WAL mode: a commit has been written to the WAL (the OS page
	 * cache) before COMMIT returns, so it survives the process being killed (kill -9, a
	 * crash). Only an OS crash or power loss may lose the last commits, and even then the
	 * database stays consistent. FULL would add an fsync per commit on the login path.
	 * secure_delete=FAST zeroes deleted rows (old password hashes) where that costs no
	 * extra I/O.
	 */
	rc = exec(db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
		      " PRAGMA secure_delete = FAST;");
	if (rc != SQLITE_OK)
		goto fail;
	*out = db;
	return SQLITE_OK;
fail:
	if (rc == SQLITE_OK)
		rc = SQLITE_ERROR;
	sqlite3_close_v2(db);
	return rc;
}

static void conn_link(struct sq_store *st, struct conn *c)
{
	c->st = st;
	pthread_mutex_lock(&st->mu);
	c->prev = NULL;
	c->next = st->conns;
	if (st->conns)
		st->conns->prev = c;
	st->conns = c;
	pthread_mutex_unlock(&st->mu);
}

/* Adopt db as the calling thread's connection. On failure db is closed. */
static int conn_adopt(struct sq_store *st, sqlite3 *db, struct conn **out)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c) {
		sqlite3_close_v2(db);
		return SQLITE_NOMEM;
	}
	c->db = db;
	if (pthread_setspecific(st->key, c) != 0) {
		conn_free(c);
		return SQLITE_NOMEM;
	}
	conn_link(st, c);
	*out = c;
	return SQLITE_OK;
}

#define RW_RETRY_MS 1000

/* A connection opened read-only tries again for read-write at most once a second, so
 * that writes come back by themselves once the filesystem is writable again (a remount)
 * without an open() per call while it is not. Not while one of its statements is stepping
 * (a listing's callback re-entered the store): they belong to the old handle. */
static void conn_retry_rw(struct sq_store *st, struct conn *c)
{
	sqlite3 *db = NULL;
	int64_t now = mono_ms();
	int ro = 0;

	if (now < c->rw_retry)
		return;
	for (int i = 0; i < S_COUNT_; i++)
		if (c->in_use[i])
			return;
	c->rw_retry = now + RW_RETRY_MS;
	if (conn_open(st->path, 0, &db, &ro) != SQLITE_OK)
		return;
	for (int i = 0; i < S_COUNT_; i++) {
		sqlite3_finalize(c->stmt[i]);
		c->stmt[i] = NULL;
	}
	sqlite3_close_v2(c->db);
	c->db = db;
	c->rw_retry = 0;
}

/* The calling thread's connection, opened on first use. Internal helpers like this one
 * return SQLite result codes; the ops map them to lk_err once, at the end. */
static int conn_get(struct sq_store *st, struct conn **out)
{
	struct conn *c = pthread_getspecific(st->key);
	sqlite3 *db = NULL;
	int rc, ro = 0;

	if (c) {
		if (c->rw_retry)
			conn_retry_rw(st, c);
		cur_conn = c;
		*out = c;
		return SQLITE_OK;
	}
	cur_conn = NULL;
	if ((rc = conn_open(st->path, 1, &db, &ro)) != SQLITE_OK)
		return rc;
	if ((rc = conn_adopt(st, db, out)) != SQLITE_OK)
		return rc;
	cur_conn = *out;
	if (ro)
		(*out)->rw_retry = mono_ms() + RW_RETRY_MS;
	return SQLITE_OK;
}

/* ---------------------------------------------------------------- statements */

/* Borrow statement id of the calling thread's connection. */
static int q_begin(struct sq_store *st, enum sid id, struct q *q)
{
	int rc;

	q->s = NULL;
	if ((rc = conn_get(st, &q->c)) != SQLITE_OK)
		return rc;
	q->id = id;
	if (!q->c->in_use[id]) {
		if (!q->c->stmt[id]) {
			rc = sqlite3_prepare_v3(q->c->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT,
						&q->c->stmt[id], NULL);
			if (rc != SQLITE_OK)
				return rc;
		}
		q->c->in_use[id] = 1;
		q->s = q->c->stmt[id];
		q->transient = 0;
		return SQLITE_OK;
	}
	/* Re-entered from a listing's callback: the cached one is mid-iteration. */
	rc = sqlite3_prepare_v3(q->c->db, sql[id], -1, 0, &q->s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	q->transient = 1;
	return SQLITE_OK;
}

/* Give the statement back: reset and unbind (cached) or finalize (transient). */
static void q_end(struct q *q)
{
	if (!q->s)
		return;
	if (q->transient) {
		sqlite3_finalize(q->s);
	} else {
		sqlite3_reset(q->s);
		sqlite3_clear_bindings(q->s);
		q->c->in_use[q->id] = 0;
	}
	q->s = NULL;
}

/* Bind helpers: they keep the first error in *rc, so a chain of binds checks once. */
static void bind_i64(struct q *q, int i, int64_t v, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = sqlite3_bind_int64(q->s, i, v);
}

/* Text of at most max bytes (a struct field's size - 1: never reads past the field). */
static void bind_str(struct q *q, int i, const char *v, size_t max, int *rc)
{
	if (*rc == SQLITE_OK)
		*rc = sqlite3_bind_text(q->s, i, v, (int)strnlen(v, max), SQLITE_STATIC);
}

static void bind_blob(struct q *q, int i, const void *v, int n, int *rc)
{
	if (*rc != SQLITE_OK)
		return;
	*rc = v ? sqlite3_bind_blob(q->s, i, v, n, SQLITE_STATIC) : sqlite3_bind_null(q->s, i);
}

/* Step a statement that returns no rows; SQLITE_OK when done. */
static int step_done(struct q *q)
{
	int rc = sqlite3_step(q->s);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return SQLITE_OK;
	return rc;
}

/* Run one cached statement without parameters or rows (BEGIN, COMMIT, ...). */
static int run(struct sq_store *st, enum sid id)
{
	struct q q;
	int rc = q_begin(st, id, &q);
	if (rc != SQLITE_OK)
		return rc;
	rc = step_done(&q);
	q_end(&q);
	return rc;
}

/* End a transaction begun with S_BEGIN: commit when rc is SQLITE_OK, else roll back.
 * Returns the first failure. */
static int txn_end(struct sq_store *st, struct conn *c, int rc)
{
	if (rc == SQLITE_OK)
		rc = run(st, S_COMMIT);
	if (rc != SQLITE_OK && !sqlite3_get_autocommit(c->db))
		(void)run(st, S_ROLLBACK);
	return rc;
}

/* ---------------------------------------------------------------- rows */

/* Copy column i as text into dst[size], cut at a UTF-8 character boundary when it does
 * not fit. 0 on success, SQLITE_NOMEM if SQLite could not produce the text. */
static int col_text(sqlite3_stmt *s, int i, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t n;

	if (!t) {
		dst[0] = '\0';
		return sqlite3_column_type(s, i) == SQLITE_NULL ? SQLITE_OK : SQLITE_NOMEM;
	}
	n = (size_t)sqlite3_column_bytes(s, i);
	if (n >= size) {
		n = size - 1;
		while (n > 0 && (t[n] & 0xc0) == 0x80) /* t[n] continues a character: back up */
			n--;
	}
	memcpy(dst, t, n);
	dst[n] = '\0';
	return SQLITE_OK;
}

/* Read a row of USER_COLS. */
static int row_user(sqlite3_stmt *s, struct lk_user *u)
{
	int rc;
	memset(u, 0, sizeof *u);
	u->id = sqlite3_column_int64(s, 0);
	if ((rc = col_text(s, 1, u->name, sizeof u->name)) ||
	    (rc = col_text(s, 2, u->roles, sizeof u->roles)) ||
	    (rc = col_text(s, 3, u->phc, sizeof u->phc)))
		return rc;
	u->created = sqlite3_column_int64(s, 4);
	u->pw_changed = sqlite3_column_int64(s, 5);
	return SQLITE_OK;
}

/* Read a row of SESS_COLS. An id_hash that is not 32 bytes is damage (SQLITE_CORRUPT). */
static int row_session(sqlite3_stmt *s, struct lk_session *x)
{
	int rc;
	memset(x, 0, sizeof *x);
	const void *h = sqlite3_column_blob(s, 0);
	if (!h || sqlite3_column_bytes(s, 0) != (int)sizeof x->id_hash)
		return SQLITE_CORRUPT;
	memcpy(x->id_hash, h, sizeof x->id_hash);
	if ((rc = col_text(s, 1, x->handle, sizeof x->handle)) ||
	    (rc = col_text(s, 2, x->csrf, sizeof x->csrf)))
		return rc;
	x->user_id = sqlite3_column_int64(s, 3);
	x->created = sqlite3_column_int64(s, 4);
	x->last_seen = sqlite3_column_int64(s, 5);
	x->expires = sqlite3_column_int64(s, 6);
	if ((rc = col_text(s, 7, x->ip, sizeof x->ip)) ||
	    (rc = col_text(s, 8, x->user_agent, sizeof x->user_agent)))
		return rc;
	return SQLITE_OK;
}

/* Read a row of AUDIT_COLS. */
static int row_audit(sqlite3_stmt *s, struct lk_audit *a)
{
	int rc;
	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(s, 0);
	a->ts = sqlite3_column_int64(s, 1);
	if ((rc = col_text(s, 2, a->event, sizeof a->event)) ||
	    (rc = col_text(s, 3, a->user, sizeof a->user)) ||
	    (rc = col_text(s, 4, a->ip, sizeof a->ip)) ||
	    (rc = col_text(s, 5, a->detail, sizeof a->detail)))
		return rc;
	return SQLITE_OK;
}

static struct sq_store *sq(struct lk_store *st)
{
	return (struct sq_store *)st;
}

/* ---------------------------------------------------------------- open / close */

/* Is the file already a latchkey database, an empty one, or someone else's?
 * *version = its schema version (0 for a new, empty file). */
static enum lk_err check_owner(sqlite3 *db, const char *path, int64_t *version,
			       struct lk_errinfo *ei)
{
	int64_t app = 0, ver = 0, objects = 0;
	int rc;

	if ((rc = query_int(db, "PRAGMA application_id", &app)) ||
	    (rc = query_int(db, "PRAGMA user_version", &ver)) ||
	    (rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &objects)))
		return open_err(ei, rc, path);
	if (app == 0 && ver == 0 && objects == 0) {
		*version = 0;
		return LK_OK;
	}
	if (app != APP_ID)
		return lk_errf(ei, LK_ESTORE_CORRUPT,
			       "an SQLite database, but not latchkey's: sqlite:%s", path);
	if (ver > SCHEMA_VERSION)
		return lk_errf(ei, LK_ESTORE_VERSION,
			       "schema v%lld is newer than this latchkey (v%d); upgrade: sqlite:%s",
			       (long long)ver, SCHEMA_VERSION, path);
	if (ver < 1) /* ours, but the first migration never committed: damaged */
		return lk_errf(ei, LK_ESTORE_CORRUPT, "schema version %lld invalid: sqlite:%s",
			       (long long)ver, path);
	*version = ver;
	return LK_OK;
}

/* Inside a migration with foreign keys off: SQLITE_CONSTRAINT_FOREIGNKEY when a row
 * refers to one that is gone (the rebuild must keep every reference). */
static int fk_check(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc == SQLITE_ROW ? SQLITE_CONSTRAINT_FOREIGNKEY : rc;
	}
	sqlite3_finalize(s);
	return rc;
}

/* The steps of migrate(), from version v, with foreign keys off. */
static enum lk_err migrate_steps(sqlite3 *db, const char *path, int64_t v, struct lk_errinfo *ei)
{
	enum lk_err err;
	char set[80];
	int rc;

	while (v < SCHEMA_VERSION) {
		if ((rc = exec(db, "BEGIN IMMEDIATE")))
			return open_err(ei, rc, path);
		if ((err = check_owner(db, path, &v, ei))) {
			exec(db, "ROLLBACK");
			return err;
		}
		if (v >= SCHEMA_VERSION) {
			exec(db, "ROLLBACK");
			break;
		}
		snprintf(set, sizeof set, "PRAGMA application_id = %d; PRAGMA user_version = %lld;",
			 APP_ID, (long long)v + 1);
		if ((rc = exec(db, migrations[v])) || (rc = exec(db, set)) ||
		    (rc = fk_check(db)) || (rc = exec(db, "COMMIT"))) {
			if (!sqlite3_get_autocommit(db))
				exec(db, "ROLLBACK");
			return open_err(ei, rc, path);
		}
		v++;
	}
	return LK_OK;
}

/* Bring the schema to SCHEMA_VERSION, one transaction per step. Each step re-reads the
 * version under the write lock, so two processes opening one new file migrate it once. */
static enum lk_err migrate(sqlite3 *db, const char *path, struct lk_errinfo *ei)
{
	int64_t v = 0;
	enum lk_err err;
	int rc;

	if ((err = check_owner(db, path, &v, ei)))
		return err;
	if (v >= SCHEMA_VERSION)
		return LK_OK;
	/* A migration may rebuild a table others reference (4: users): with foreign keys on,
	 * dropping the old table would cascade into sessions and refresh tokens. The pragma
	 * is a no-op inside a transaction, so it goes around them. */
	if ((rc = exec(db, "PRAGMA foreign_keys = OFF")))
		return open_err(ei, rc, path);
	err = migrate_steps(db, path, v, ei);
	if ((rc = exec(db, "PRAGMA foreign_keys = ON")) && !err)
		err = open_err(ei, rc, path);
	return err;
}

/* Create path with mode 0600 unless it exists; refuse anything but a regular file. */
static enum lk_err create_file(const char *path, struct lk_errinfo *ei)
{
	struct stat sb;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd >= 0) {
		/* exactly 0600, whatever the umask took away */
		int bad = fchmod(fd, 0600) != 0;
		int e = errno;
		close(fd);
		if (bad) {
			unlink(path);
			return lk_errf(ei, LK_ESTORE, "cannot set mode 0600 (%s): sqlite:%s",
				       strerror(e), path);
		}
		return LK_OK;
	}
	if (errno != EEXIST)
		return lk_errf(ei, errno == EROFS ? LK_ESTORE_READONLY : LK_ESTORE,
			       "cannot create store (%s): sqlite:%s", strerror(errno), path);
	if (stat(path, &sb) != 0)
		return lk_errf(ei, LK_ESTORE, "cannot use store (%s): sqlite:%s", strerror(errno),
			       path);
	if (!S_ISREG(sb.st_mode))
		return lk_errf(ei, LK_ESTORE, "not a regular file: sqlite:%s", path);
	return LK_OK;
}

static void sq_close(struct lk_store *base)
{
	struct sq_store *st = sq(base);
	struct conn *c, *next;

	if (!st)
		return;
	/* After this no thread's exit calls conn_thread_exit for this store. */
	pthread_key_delete(st->key);
	pthread_mutex_lock(&st->mu);
	c = st->conns;
	st->conns = NULL;
	pthread_mutex_unlock(&st->mu);
	for (; c; c = next) {
		next = c->next;
		conn_free(c);
	}
	pthread_mutex_destroy(&st->mu);
	if (st->gen)
		munmap((void *)st->gen, GEN_FILE_LEN);
	free(st->gen_path);
	free(st->real);
	free(st->path);
	free(st);
}

/*
 * Open the store in the file rest ("" means "latchkey.db"), creating it (mode 0600) and
 * migrating its schema. The opening thread keeps the first connection. On failure *out is
 * NULL and ei says why, naming the path.
 */
static enum lk_err sq_open(const char *rest, struct lk_store **out, struct lk_errinfo *ei)
{
	const char *path = rest && *rest ? rest : DEFAULT_PATH;
	struct sq_store *st = NULL;
	struct conn *c = NULL;
	sqlite3 *db = NULL;
	int64_t sane = 0;
	int64_t version = 0;
	enum lk_err err;
	char mode[16] = "";
	int rc, ro = 0;

	*out = NULL;
	if (strcmp(path, ":memory:") == 0)
		return lk_errf(ei, LK_EINVAL,
			       "sqlite::memory: is not supported (one connection per thread); "
			       "use a file");
	if (!sqlite3_threadsafe())
		return lk_errf(ei, LK_ESTORE, "SQLite was built without thread support");
	if ((err = create_file(path, ei)))
		return err;
	st = calloc(1, sizeof *st);
	if (!st || !(st->path = strdup(path))) {
		free(st);
		return lk_errf(ei, LK_ENOMEM, "out of memory opening the store");
	}
	st->base.ops = &lk_store_sqlite_ops;
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		free(st->path);
		free(st);
		return lk_errf(ei, LK_ENOMEM, "cannot create a mutex");
	}
	if (pthread_key_create(&st->key, conn_thread_exit) != 0) {
		pthread_mutex_destroy(&st->mu);
		free(st->path);
		free(st);
		return lk_errf(ei, LK_ENOMEM, "no thread-specific key left");
	}

	cur_conn = NULL; /* no connection of an earlier store answers for this one */
	if ((rc = conn_open(path, 0, &db, &ro)) != SQLITE_OK) {
		err = open_err(ei, rc, path);
		goto fail;
	}
	/* A cheap read of page 1: a foreign or damaged header fails here, at open, and not
	 * on the first login. */
	if ((rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &sane))) {
		err = open_err(ei, rc, path);
		goto fail;
	}
	/* Refuse a foreign or newer database before changing anything in it. */
	if ((err = check_owner(db, path, &version, ei)))
		goto fail;
	{
		sqlite3_stmt *s = NULL;
		rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
		if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
			const unsigned char *m = sqlite3_column_text(s, 0);
			snprintf(mode, sizeof mode, "%s", m ? (const char *)m : "");
			rc = SQLITE_OK;
		}
		sqlite3_finalize(s);
		if (rc != SQLITE_OK) {
			err = open_err(ei, rc, path);
			goto fail;
		}
		if (strcmp(mode, "wal") != 0) {
			err = lk_errf(ei, LK_ESTORE, "cannot enable WAL mode (got \"%s\"): sqlite:%s",
				      mode, path);
			goto fail;
		}
	}
	if ((err = migrate(db, path, ei)))
		goto fail;
	/* The generation file is named from the resolved path, so that a CLI reaching the same
	 * database through a symlink, a relative path or "./x.db" bumps the counter the server
	 * reads. */
	if (!(st->real = realpath(path, NULL))) {
		err = lk_errf(ei, LK_ESTORE, "cannot resolve the path (%s): sqlite:%s",
			      strerror(errno), path);
		goto fail;
	}
	if ((err = map_gen(st, ei)))
		goto fail;
	rc = conn_adopt(st, db, &c);
	db = NULL;
	if (rc != SQLITE_OK) {
		err = lk_errf(ei, LK_ENOMEM, "out of memory opening the store");
		goto fail;
	}
	*out = &st->base;
	return LK_OK;
fail:
	sqlite3_close_v2(db);
	sq_close(&st->base);
	return err;
}

static enum lk_err sq_ping(struct lk_store *base)
{
	struct q q;
	int rc = q_begin(sq(base), S_PING, &q);
	if (rc != SQLITE_OK)
		return map_rc(rc);
	rc = sqlite3_step(q.s);
	q_end(&q);
	return rc == SQLITE_ROW ? LK_OK : map_rc(rc);
}

/* ---------------------------------------------------------------- users */

static enum lk_err sq_user_add(struct lk_store *base, struct lk_user *u)
{
	struct q q;
	int rc = SQLITE_OK;

	if (!u || !u->name[0] || !u->phc[0])
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_USER_ADD, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_str(&q, 1, u->name, sizeof u->name - 1, &rc);
	bind_str(&q, 2, u->roles, sizeof u->roles - 1, &rc);
	bind_str(&q, 3, u->phc, sizeof u->phc - 1, &rc);
	bind_i64(&q, 4, u->created, &rc);
	bind_i64(&q, 5, u->pw_changed, &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	if (rc == SQLITE_OK)
		u->id = sqlite3_last_insert_rowid(q.c->db);
	q_end(&q);
	return map_rc(rc);
}

/* Step q, whose parameters the caller bound (rc: the binding result), for at most one
 * row of USER_COLS into *out; then give q back. */
static enum lk_err user_fetch(struct q *q, int rc, struct lk_user *out)
{
	struct lk_user u;
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q->s);
		if (rc == SQLITE_ROW)
			rc = row_user(q->s, &u);
		else if (rc == SQLITE_DONE)
			rc = NOT_FOUND;
	}
	q_end(q);
	if (rc == NOT_FOUND)
		return LK_ENOT_FOUND;
	if (rc != SQLITE_OK)
		return map_rc(rc);
	*out = u;
	return LK_OK;
}

static enum lk_err sq_user_get(struct lk_store *base, const char *name, struct lk_user *out)
{
	struct q q;
	int rc = SQLITE_OK;

	if (!name || !out)
		return LK_EINVAL;
	if (strnlen(name, LK_NAME_MAX + 1) > LK_NAME_MAX)
		return LK_ENOT_FOUND; /* could not have been added */
	if ((rc = q_begin(sq(base), S_USER_GET, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_str(&q, 1, name, LK_NAME_MAX, &rc);
	return user_fetch(&q, rc, out);
}

static enum lk_err sq_user_get_id(struct lk_store *base, int64_t id, struct lk_user *out)
{
	struct q q;
	int rc = SQLITE_OK;

	if (!out)
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_USER_GET_ID, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_i64(&q, 1, id, &rc);
	return user_fetch(&q, rc, out);
}

/* Inside a transaction: the id of user name; NOT_FOUND or an SQLite error otherwise. */
static int user_id_of(struct sq_store *st, const char *name, int64_t *id)
{
	struct q q;
	int rc = q_begin(st, S_USER_ID, &q);
	if (rc != SQLITE_OK)
		return rc;
	bind_str(&q, 1, name, LK_NAME_MAX, &rc);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q.s);
		if (rc == SQLITE_ROW) {
			*id = sqlite3_column_int64(q.s, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			rc = NOT_FOUND;
		}
	}
	q_end(&q);
	return rc;
}

/* Run statement id with ?1 = v; rows changed in *n (may be NULL). */
static int run_i64(struct sq_store *st, enum sid id, int64_t v, int64_t *n)
{
	struct q q;
	int rc = q_begin(st, id, &q);
	if (rc != SQLITE_OK)
		return rc;
	bind_i64(&q, 1, v, &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	if (rc == SQLITE_OK && n)
		*n = sqlite3_changes64(q.c->db);
	q_end(&q);
	return rc;
}

/* One row of S_REVOKE_LIST into *r. */
static int rev_row(sqlite3_stmt *s, struct lk_revocation *r)
{
	int rc;
	memset(r, 0, sizeof *r);
	r->cursor = sqlite3_column_int64(s, 0);
	if ((rc = col_text(s, 1, r->type, sizeof r->type)) ||
	    (rc = col_text(s, 2, r->value, sizeof r->value)))
		return rc;
	r->before = sqlite3_column_int64(s, 3);
	r->expires = sqlite3_column_int64(s, 4);
	return SQLITE_OK;
}

/*
 * What one transaction recorded, for the callback of revoke_user, user_set_password and
 * user_del: the newest cursor before the change (rec_mark), the rows past it read inside
 * the same transaction (rec_read; BEGIN IMMEDIATE keeps every other writer out, so they
 * are this change's and no one else's, triggers included), handed over once it committed
 * (rec_report). Without a callback nothing is read. Costs one indexed read before and one
 * row per revocation after; the rows are held in memory until the commit.
 */
struct recorded {
	lk_revocation_cb cb;
	void *ud;
	int64_t mark;
	struct lk_revocation *v;
	size_t n, cap;
};

static int rec_mark(struct sq_store *st, struct recorded *rec)
{
	struct q q;
	int rc;
	if (!rec->cb)
		return SQLITE_OK;
	if ((rc = q_begin(st, S_REVOKE_MARK, &q)) != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
		rec->mark = sqlite3_column_int64(q.s, 0);
		rc = SQLITE_OK;
	}
	q_end(&q);
	return rc;
}

static int rec_read(struct sq_store *st, struct recorded *rec)
{
	struct q q;
	int rc = SQLITE_OK;
	if (!rec->cb)
		return SQLITE_OK;
	if ((rc = q_begin(st, S_REVOKE_LIST, &q)) != SQLITE_OK)
		return rc;
	bind_i64(&q, 1, rec->mark, &rc);
	bind_i64(&q, 2, 0, &rc); /* expires > 0: every one */
	while (rc == SQLITE_OK && (rc = sqlite3_step(q.s)) == SQLITE_ROW) {
		if (rec->n == rec->cap) {
			size_t cap = rec->cap ? 2 * rec->cap : 16;
			struct lk_revocation *v = realloc(rec->v, cap * sizeof *v);
			if (!v) {
				rc = SQLITE_NOMEM;
				break;
			}
			rec->v = v;
			rec->cap = cap;
		}
		if ((rc = rev_row(q.s, &rec->v[rec->n])) == SQLITE_OK)
			rec->n++;
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	q_end(&q);
	return rc;
}

/* committed: whether the change committed; the rows go to the callback only then. */
static void rec_report(struct recorded *rec, bool committed)
{
	for (size_t i = 0; committed && i < rec->n; i++)
		if (rec->cb(rec->ud, &rec->v[i]))
			break;
	free(rec->v);
	rec->v = NULL;
	rec->n = rec->cap = 0;
}

/* The statements of one user change, in one transaction: phc non-NULL sets the password,
 * NULL deletes the user. Either way every session of theirs goes in the same commit.
 * cb, ud: what it recorded (struct recorded). */
static enum lk_err user_change(struct sq_store *st, const char *name, const char *phc,
			       int64_t now, lk_revocation_cb cb, void *ud)
{
	struct recorded rec = {.cb = cb, .ud = ud};
	struct conn *c;
	struct q q;
	int64_t id = 0;
	int rc;

	if ((rc = conn_get(st, &c)) != SQLITE_OK)
		return map_rc(rc);
	if ((rc = run(st, S_BEGIN)) != SQLITE_OK)
		return map_rc(rc);
	rc = user_id_of(st, name, &id);
	if (rc == SQLITE_OK)
		rc = rec_mark(st, &rec);
	if (rc == SQLITE_OK)
		rc = run_i64(st, S_SESS_DEL_UID, id, NULL);
	if (rc == SQLITE_OK)
		rc = run_i64(st, S_REFRESH_DEL_USER, id, NULL);
	if (rc == SQLITE_OK && !phc) {
		rc = run_i64(st, S_USER_DEL, id, NULL);
	} else if (rc == SQLITE_OK) {
		if ((rc = q_begin(st, S_USER_SETPW, &q)) == SQLITE_OK) {
			bind_str(&q, 1, phc, LK_PHC_MAX, &rc);
			bind_i64(&q, 2, now, &rc);
			bind_i64(&q, 3, id, &rc);
			if (rc == SQLITE_OK)
				rc = step_done(&q);
			q_end(&q);
		}
	}
	if (rc == SQLITE_OK)
		rc = rec_read(st, &rec);
	if (rc == NOT_FOUND) {
		(void)txn_end(st, c, SQLITE_ERROR);
		rec_report(&rec, false);
		return LK_ENOT_FOUND;
	}
	rc = txn_end(st, c, rc);
	if (rc == SQLITE_OK)
		bump(st);
	rec_report(&rec, rc == SQLITE_OK);
	return map_rc(rc);
}

static enum lk_err sq_user_set_password(struct lk_store *base, const char *name,
					const char *phc, int64_t now, lk_revocation_cb cb, void *ud)
{
	if (!name || !phc || !phc[0] || strnlen(phc, LK_PHC_MAX + 1) > LK_PHC_MAX)
		return LK_EINVAL;
	if (strnlen(name, LK_NAME_MAX + 1) > LK_NAME_MAX)
		return LK_ENOT_FOUND;
	return user_change(sq(base), name, phc, now, cb, ud);
}

static enum lk_err sq_user_del(struct lk_store *base, const char *name, lk_revocation_cb cb,
			       void *ud)
{
	if (!name)
		return LK_EINVAL;
	if (strnlen(name, LK_NAME_MAX + 1) > LK_NAME_MAX)
		return LK_ENOT_FOUND;
	return user_change(sq(base), name, NULL, 0, cb, ud);
}

static enum lk_err sq_user_list(struct lk_store *base, lk_user_cb cb, void *ud)
{
	struct q q;
	struct lk_user u;
	int rc;

	if (!cb)
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_USER_LIST, &q)) != SQLITE_OK)
		return map_rc(rc);
	while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
		if ((rc = row_user(q.s, &u)) != SQLITE_OK || cb(ud, &u))
			break;
	}
	q_end(&q);
	return map_rc(rc);
}

/* One count(*) with an optional ?1. */
static enum lk_err count_of(struct sq_store *st, enum sid id, const int64_t *arg, int64_t *n)
{
	struct q q;
	int rc = SQLITE_OK;
	int64_t v = 0;

	if (!n)
		return LK_EINVAL;
	if ((rc = q_begin(st, id, &q)) != SQLITE_OK)
		return map_rc(rc);
	if (arg)
		bind_i64(&q, 1, *arg, &rc);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q.s);
		if (rc == SQLITE_ROW) {
			v = sqlite3_column_int64(q.s, 0);
			rc = SQLITE_OK;
		}
	}
	q_end(&q);
	if (rc != SQLITE_OK)
		return map_rc(rc);
	*n = v;
	return LK_OK;
}

static enum lk_err sq_user_count(struct lk_store *base, int64_t *n)
{
	return count_of(sq(base), S_USER_COUNT, NULL, n);
}

/* ---------------------------------------------------------------- sessions */

static enum lk_err sq_session_add(struct lk_store *base, const struct lk_session *s)
{
	struct q q;
	int rc = SQLITE_OK;

	if (!s || !s->handle[0])
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_SESS_ADD, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_blob(&q, 1, s->id_hash, (int)sizeof s->id_hash, &rc);
	bind_str(&q, 2, s->handle, sizeof s->handle - 1, &rc);
	bind_str(&q, 3, s->csrf, sizeof s->csrf - 1, &rc);
	bind_i64(&q, 4, s->user_id, &rc);
	bind_i64(&q, 5, s->created, &rc);
	bind_i64(&q, 6, s->last_seen, &rc);
	bind_i64(&q, 7, s->expires, &rc);
	bind_str(&q, 8, s->ip, sizeof s->ip - 1, &rc);
	bind_str(&q, 9, s->user_agent, sizeof s->user_agent - 1, &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	q_end(&q);
	return map_rc(rc);
}

static enum lk_err sq_session_get(struct lk_store *base, const unsigned char id_hash[32],
				  struct lk_session *out)
{
	struct q q;
	struct lk_session s;
	int rc = SQLITE_OK;

	if (!id_hash || !out)
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_SESS_GET, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_blob(&q, 1, id_hash, 32, &rc);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q.s);
		if (rc == SQLITE_ROW)
			rc = row_session(q.s, &s);
		else if (rc == SQLITE_DONE)
			rc = NOT_FOUND;
	}
	q_end(&q);
	if (rc == NOT_FOUND)
		return LK_ENOT_FOUND;
	if (rc != SQLITE_OK)
		return map_rc(rc);
	*out = s;
	return LK_OK;
}

/*
 * LK_OK when the session exists, whether last_seen moved to now or was not older than
 * older_than; LK_ENOT_FOUND when there is no such session. Only an update that wrote
 * nothing costs the second read that tells those apart; callers touch when they expect
 * to write. Pass older_than <= now, so last_seen never goes backwards.
 */
static enum lk_err sq_session_touch(struct lk_store *base, const unsigned char id_hash[32],
				    int64_t now, int64_t older_than)
{
	struct q q;
	int rc = SQLITE_OK;

	if (!id_hash)
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_SESS_TOUCH, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_i64(&q, 1, now, &rc);
	bind_blob(&q, 2, id_hash, 32, &rc);
	bind_i64(&q, 3, older_than, &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	if (rc == SQLITE_OK && sqlite3_changes64(q.c->db) == 0)
		rc = NOT_FOUND; /* or not older: look */
	q_end(&q);
	if (rc != NOT_FOUND)
		return map_rc(rc);
	if ((rc = q_begin(sq(base), S_SESS_EXISTS, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_blob(&q, 1, id_hash, 32, &rc);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q.s);
		rc = rc == SQLITE_ROW ? SQLITE_OK : rc == SQLITE_DONE ? NOT_FOUND : rc;
	}
	q_end(&q);
	return rc == NOT_FOUND ? LK_ENOT_FOUND : map_rc(rc);
}

/* Run a DELETE already bound in q; LK_ENOT_FOUND when it deleted nothing and want_one. */
static enum lk_err del_run(struct q *q, int rc, int want_one, int64_t *n)
{
	int64_t k = 0;
	struct sq_store *st = q->c->st;
	if (rc == SQLITE_OK)
		rc = step_done(q);
	if (rc == SQLITE_OK)
		k = sqlite3_changes64(q->c->db);
	q_end(q);
	if (rc != SQLITE_OK)
		return map_rc(rc);
	if (k > 0)
		bump(st); /* sessions ended: cached copies elsewhere must go */
	if (want_one && k == 0)
		return LK_ENOT_FOUND;
	if (n)
		*n = k;
	return LK_OK;
}

/* LK_ENOT_FOUND when there was no such session. */
static enum lk_err sq_session_del(struct lk_store *base, const unsigned char id_hash[32])
{
	struct q q;
	int rc = SQLITE_OK;

	if (!id_hash)
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_SESS_DEL, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_blob(&q, 1, id_hash, 32, &rc);
	return del_run(&q, rc, 1, NULL);
}

/* LK_ENOT_FOUND when no session has this handle, or it is another user's. */
static enum lk_err sq_session_del_handle(struct lk_store *base, int64_t user_id,
					 const char *handle)
{
	struct q q;
	int rc = SQLITE_OK;

	if (!handle)
		return LK_EINVAL;
	if (strnlen(handle, LK_HANDLE_LEN + 1) > LK_HANDLE_LEN)
		return LK_ENOT_FOUND;
	if ((rc = q_begin(sq(base), S_SESS_DEL_HANDLE, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_str(&q, 1, handle, LK_HANDLE_LEN, &rc);
	bind_i64(&q, 2, user_id, &rc);
	return del_run(&q, rc, 1, NULL);
}

/*
 * Callbacks run while the listing's read is open: they may call the store (a re-entered
 * listing gets its own statement), but rows they change may or may not show in the
 * listing still running. To act on what is listed, collect first and act afterwards.
 */
static enum lk_err sq_session_list(struct lk_store *base, int64_t user_id, lk_session_cb cb,
				   void *ud)
{
	struct q q;
	struct lk_session s;
	int rc = SQLITE_OK;

	if (!cb)
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), user_id < 0 ? S_SESS_LIST : S_SESS_LIST_USER, &q)) != SQLITE_OK)
		return map_rc(rc);
	if (user_id >= 0)
		bind_i64(&q, 1, user_id, &rc);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
			if ((rc = row_session(q.s, &s)) != SQLITE_OK || cb(ud, &s))
				break;
		}
	}
	q_end(&q);
	return map_rc(rc);
}

static enum lk_err purge_one(struct sq_store *st, enum sid id, int64_t now)
{
	struct q q;
	int rc = SQLITE_OK;
	if ((rc = q_begin(st, id, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_i64(&q, 1, now, &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	q_end(&q);
	return map_rc(rc);
}

/* Sessions past either timeout; also expired refresh tokens and revocations, which end
 * by themselves and so need no generation bump. */
static enum lk_err sq_session_purge(struct lk_store *base, int64_t now, int64_t idle_cutoff,
				    int64_t *n)
{
	struct q q;
	int rc = SQLITE_OK;
	enum lk_err err;

	if ((err = purge_one(sq(base), S_REFRESH_PURGE, now)) ||
	    (err = purge_one(sq(base), S_REVOKE_PURGE, now)) ||
	    (err = purge_one(sq(base), S_RL_PURGE, now)))
		return err;
	if ((rc = q_begin(sq(base), S_SESS_PURGE, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_i64(&q, 1, now, &rc);
	bind_i64(&q, 2, idle_cutoff, &rc);
	return del_run(&q, rc, 0, n);
}

static enum lk_err sq_session_count(struct lk_store *base, int64_t now, int64_t *n)
{
	return count_of(sq(base), S_SESS_COUNT, &now, n);
}

/* ---------------------------------------------------------------- audit */

static enum lk_err sq_audit_add(struct lk_store *base, const struct lk_audit *a)
{
	struct q q;
	int rc = SQLITE_OK;

	if (!a || !a->event[0])
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_AUDIT_ADD, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_i64(&q, 1, a->ts, &rc);
	bind_str(&q, 2, a->event, sizeof a->event - 1, &rc);
	bind_str(&q, 3, a->user, sizeof a->user - 1, &rc);
	bind_str(&q, 4, a->ip, sizeof a->ip - 1, &rc);
	bind_str(&q, 5, a->detail, sizeof a->detail - 1, &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	q_end(&q);
	return map_rc(rc);
}

static enum lk_err sq_audit_list(struct lk_store *base, size_t limit, lk_audit_cb cb, void *ud)
{
	struct q q;
	struct lk_audit a;
	int rc = SQLITE_OK;

	if (!cb)
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_AUDIT_LIST, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_i64(&q, 1, limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit, &rc);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
			if ((rc = row_audit(q.s, &a)) != SQLITE_OK || cb(ud, &a))
				break;
		}
	}
	q_end(&q);
	return map_rc(rc);
}

/* ---------------------------------------------------------------- keys */

static enum lk_err sq_key_add(struct lk_store *base, const struct lk_keyrec *k)
{
	struct q q;
	int rc = SQLITE_OK;

	if (!k || !k->kid[0] || !k->jwk[0])
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_KEY_ADD, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_str(&q, 1, k->kid, sizeof k->kid - 1, &rc);
	bind_str(&q, 2, k->alg, sizeof k->alg - 1, &rc);
	bind_str(&q, 3, k->jwk, sizeof k->jwk - 1, &rc);
	bind_i64(&q, 4, k->created, &rc);
	bind_i64(&q, 5, k->sign_from, &rc);
	bind_i64(&q, 6, k->retire_at, &rc);
	bind_i64(&q, 7, k->remove_at, &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	q_end(&q);
	if (rc == SQLITE_OK)
		bump(sq(base)); /* the ring changed: other instances reload it */
	return map_rc(rc);
}

static enum lk_err sq_key_list(struct lk_store *base, lk_key_cb cb, void *ud)
{
	struct q q;
	struct lk_keyrec *k = malloc(sizeof *k);
	int rc = SQLITE_OK;

	if (!cb || !k) {
		free(k);
		return cb ? LK_ENOMEM : LK_EINVAL;
	}
	if ((rc = q_begin(sq(base), S_KEY_LIST, &q)) != SQLITE_OK) {
		free(k);
		return map_rc(rc);
	}
	while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
		memset(k, 0, sizeof *k);
		if ((rc = col_text(q.s, 0, k->kid, sizeof k->kid)) ||
		    (rc = col_text(q.s, 1, k->alg, sizeof k->alg)) ||
		    (rc = col_text(q.s, 2, k->jwk, sizeof k->jwk)))
			break;
		k->created = sqlite3_column_int64(q.s, 3);
		k->sign_from = sqlite3_column_int64(q.s, 4);
		k->retire_at = sqlite3_column_int64(q.s, 5);
		k->remove_at = sqlite3_column_int64(q.s, 6);
		if (cb(ud, k)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	q_end(&q);
	sodium_memzero(k, sizeof *k);
	free(k);
	return map_rc(rc);
}

static enum lk_err kid_run(struct sq_store *st, enum sid id, const char *kid, int64_t a,
			   int64_t b, bool two)
{
	struct q q;
	int rc = SQLITE_OK;
	int64_t k = 0;

	if (!kid)
		return LK_EINVAL;
	if ((rc = q_begin(st, id, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_str(&q, 1, kid, LK_KID_MAX, &rc);
	if (two) {
		bind_i64(&q, 2, a, &rc);
		bind_i64(&q, 3, b, &rc);
	}
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	if (rc == SQLITE_OK)
		k = sqlite3_changes64(q.c->db);
	q_end(&q);
	if (rc != SQLITE_OK)
		return map_rc(rc);
	if (!k)
		return LK_ENOT_FOUND;
	bump(st);
	return LK_OK;
}

static enum lk_err sq_key_retire(struct lk_store *base, const char *kid, int64_t retire_at,
				 int64_t remove_at)
{
	return kid_run(sq(base), S_KEY_RETIRE, kid, retire_at, remove_at, true);
}

static enum lk_err sq_key_del(struct lk_store *base, const char *kid)
{
	return kid_run(sq(base), S_KEY_DEL, kid, 0, 0, false);
}

/* ---------------------------------------------------------------- clients */

static enum lk_err sq_client_add(struct lk_store *base, const struct lk_client *c)
{
	struct q q;
	int rc = SQLITE_OK;

	if (!c || !c->id[0])
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_CLIENT_ADD, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_str(&q, 1, c->id, sizeof c->id - 1, &rc);
	bind_str(&q, 2, c->name, sizeof c->name - 1, &rc);
	bind_blob(&q, 3, c->secret_hash, 32, &rc);
	bind_str(&q, 4, c->scope, sizeof c->scope - 1, &rc);
	bind_i64(&q, 5, c->created, &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	q_end(&q);
	return map_rc(rc);
}

static enum lk_err sq_client_get(struct lk_store *base, const char *id, struct lk_client *out)
{
	struct q q;
	struct lk_client c;
	int rc = SQLITE_OK;

	if (!id || !out)
		return LK_EINVAL;
	if (strnlen(id, LK_CLIENT_ID_LEN + 1) > LK_CLIENT_ID_LEN)
		return LK_ENOT_FOUND;
	if ((rc = q_begin(sq(base), S_CLIENT_GET, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_str(&q, 1, id, LK_CLIENT_ID_LEN, &rc);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q.s);
		if (rc == SQLITE_ROW) {
			memset(&c, 0, sizeof c);
			const void *h = sqlite3_column_blob(q.s, 2);
			if (!h || sqlite3_column_bytes(q.s, 2) != 32)
				rc = SQLITE_CORRUPT;
			else if (!(rc = col_text(q.s, 0, c.id, sizeof c.id)) &&
				 !(rc = col_text(q.s, 1, c.name, sizeof c.name)) &&
				 !(rc = col_text(q.s, 3, c.scope, sizeof c.scope))) {
				memcpy(c.secret_hash, h, 32);
				c.created = sqlite3_column_int64(q.s, 4);
			}
		} else if (rc == SQLITE_DONE) {
			rc = NOT_FOUND;
		}
	}
	q_end(&q);
	if (rc == NOT_FOUND)
		return LK_ENOT_FOUND;
	if (rc != SQLITE_OK)
		return map_rc(rc);
	*out = c;
	return LK_OK;
}

/* ---------------------------------------------------------------- refresh tokens */

static enum lk_err sq_refresh_add(struct lk_store *base, const struct lk_refresh *r)
{
	struct q q;
	int rc = SQLITE_OK;

	if (!r || !r->family[0])
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_REFRESH_ADD, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_blob(&q, 1, r->hash, 32, &rc);
	bind_str(&q, 2, r->family, sizeof r->family - 1, &rc);
	bind_i64(&q, 3, r->user_id, &rc);
	bind_str(&q, 4, r->client_id, sizeof r->client_id - 1, &rc);
	bind_str(&q, 5, r->scope, sizeof r->scope - 1, &rc);
	bind_i64(&q, 6, r->created, &rc);
	bind_i64(&q, 7, r->expires, &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	q_end(&q);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return LK_ENOT_FOUND;
	return map_rc(rc);
}

static enum lk_err sq_refresh_get(struct lk_store *base, const unsigned char hash[32],
				  struct lk_refresh *out)
{
	struct q q;
	int rc = SQLITE_OK;
	struct lk_refresh *r = out;

	if (!hash || !out)
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_REFRESH_GET, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_blob(&q, 1, hash, 32, &rc);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q.s);
		if (rc == SQLITE_ROW) {
			memset(r, 0, sizeof *r);
			memcpy(r->hash, hash, 32);
			if (!(rc = col_text(q.s, 1, r->family, sizeof r->family)) &&
			    !(rc = col_text(q.s, 3, r->client_id, sizeof r->client_id)) &&
			    !(rc = col_text(q.s, 4, r->scope, sizeof r->scope)) &&
			    !(rc = col_text(q.s, 8, r->next_access, sizeof r->next_access))) {
				r->user_id = sqlite3_column_int64(q.s, 2);
				r->created = sqlite3_column_int64(q.s, 5);
				r->expires = sqlite3_column_int64(q.s, 6);
				r->used_at = sqlite3_column_int64(q.s, 7);
			}
		} else if (rc == SQLITE_DONE) {
			rc = NOT_FOUND;
		}
	}
	q_end(&q);
	if (rc == NOT_FOUND)
		return LK_ENOT_FOUND;
	return map_rc(rc);
}

static enum lk_err sq_refresh_claim(struct lk_store *base, const unsigned char hash[32],
				    int64_t now, const char *next_access)
{
	struct q q;
	int rc = SQLITE_OK;
	int64_t k = 0;

	if (!hash || !next_access)
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_REFRESH_CLAIM, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_blob(&q, 1, hash, 32, &rc);
	bind_i64(&q, 2, now, &rc);
	bind_str(&q, 3, next_access, LK_TOKEN_MAX, &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	if (rc == SQLITE_OK)
		k = sqlite3_changes64(q.c->db);
	q_end(&q);
	if (rc != SQLITE_OK)
		return map_rc(rc);
	if (k == 1)
		return LK_OK;
	struct lk_refresh cur;
	enum lk_err err = sq_refresh_get(base, hash, &cur);
	return err ? err : LK_EEXISTS;
}

/* Delete every refresh row of the family inside a transaction that also records its sid
 * revocation until `until`; bump the generation after commit. */
static enum lk_err sq_family_revoke(struct lk_store *base, const char *family, int64_t until,
				    int64_t *n)
{
	struct sq_store *st = sq(base);
	struct conn *c;
	struct q q;
	int rc;
	int64_t k = 0;

	if (!family || !family[0])
		return LK_EINVAL;
	if ((rc = conn_get(st, &c)) != SQLITE_OK)
		return map_rc(rc);
	if ((rc = run(st, S_BEGIN)) != SQLITE_OK)
		return map_rc(rc);
	/* The family's revocation first: the refresh_end trigger then finds it revoked and
	 * records no second event for its live head. */
	if ((rc = q_begin(st, S_REVOKE_ADD, &q)) == SQLITE_OK) {
		bind_str(&q, 1, "sid", 3, &rc);
		bind_str(&q, 2, family, LK_HANDLE_LEN, &rc);
		bind_i64(&q, 3, 0, &rc);
		bind_i64(&q, 4, until, &rc);
		if (rc == SQLITE_OK)
			rc = step_done(&q);
		q_end(&q);
	}
	if (rc == SQLITE_OK && (rc = q_begin(st, S_FAMILY_DEL, &q)) == SQLITE_OK) {
		bind_str(&q, 1, family, LK_HANDLE_LEN, &rc);
		if (rc == SQLITE_OK)
			rc = step_done(&q);
		if (rc == SQLITE_OK)
			k = sqlite3_changes64(c->db);
		q_end(&q);
	}
	rc = txn_end(st, c, rc);
	if (rc != SQLITE_OK)
		return map_rc(rc);
	bump(st);
	if (n)
		*n = k;
	return LK_OK;
}


/* ---------------------------------------------------------------- sign-out */

/*
 * One transaction: the sessions (their sessions_end trigger records each `sid`), then a
 * `sid` revocation per refresh family until `until`, then the refresh rows (whose
 * refresh_end trigger, finding each family revoked, records nothing more).
 */
static enum lk_err sq_revoke_user(struct lk_store *base, int64_t user_id,
				  const unsigned char *keep, int64_t until, int64_t *sessions,
				  int64_t *families, lk_revocation_cb cb, void *ud)
{
	struct sq_store *st = sq(base);
	struct recorded rec = {.cb = cb, .ud = ud};
	struct conn *c;
	struct q q;
	int64_t ns = 0, nf = 0;
	int rc;

	if (user_id < 0)
		user_id = -1;
	if ((rc = conn_get(st, &c)) != SQLITE_OK)
		return map_rc(rc);
	if ((rc = run(st, S_BEGIN)) != SQLITE_OK)
		return map_rc(rc);
	if ((rc = rec_mark(st, &rec)) == SQLITE_OK &&
	    (rc = q_begin(st, S_REVOKE_USER_SESS, &q)) == SQLITE_OK) {
		bind_i64(&q, 1, user_id, &rc);
		bind_blob(&q, 2, keep, 32, &rc);
		if (rc == SQLITE_OK && (rc = step_done(&q)) == SQLITE_OK)
			ns = sqlite3_changes64(c->db);
		q_end(&q);
	}
	if (rc == SQLITE_OK && (rc = q_begin(st, S_REVOKE_USER_FAM, &q)) == SQLITE_OK) {
		bind_i64(&q, 1, user_id, &rc);
		bind_i64(&q, 2, until, &rc);
		if (rc == SQLITE_OK && (rc = step_done(&q)) == SQLITE_OK)
			nf = sqlite3_changes64(c->db);
		q_end(&q);
	}
	if (rc == SQLITE_OK)
		rc = run_i64(st, S_REVOKE_USER_RT, user_id, NULL);
	if (rc == SQLITE_OK)
		rc = rec_read(st, &rec);
	if ((rc = txn_end(st, c, rc)) != SQLITE_OK) {
		rec_report(&rec, false);
		return map_rc(rc);
	}
	if (ns || nf)
		bump(st);
	rec_report(&rec, true);
	if (sessions)
		*sessions = ns;
	if (families)
		*families = nf;
	return LK_OK;
}

/* Expired rows go (they end by themselves: no revocation, no generation bump); used rows
 * past their grace window lose next_access. One transaction. */
static enum lk_err sq_refresh_purge(struct lk_store *base, int64_t now, int64_t used_before,
				    int64_t *n)
{
	struct sq_store *st = sq(base);
	struct conn *c;
	int64_t a = 0, b = 0;
	int rc;

	if ((rc = conn_get(st, &c)) != SQLITE_OK)
		return map_rc(rc);
	if ((rc = run(st, S_BEGIN)) != SQLITE_OK)
		return map_rc(rc);
	rc = run_i64(st, S_REFRESH_PURGE, now, &a);
	if (rc == SQLITE_OK)
		rc = run_i64(st, S_RT_TRIM, used_before, &b);
	if ((rc = txn_end(st, c, rc)) != SQLITE_OK)
		return map_rc(rc);
	if (n)
		*n = a + b;
	return LK_OK;
}

/* ---------------------------------------------------------------- revocations */

static enum lk_err sq_revoke_add(struct lk_store *base, const char *type, const char *value,
				 int64_t before, int64_t expires)
{
	struct q q;
	int rc = SQLITE_OK;

	if (!type || !value || !value[0])
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_REVOKE_ADD, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_str(&q, 1, type, 7, &rc);
	bind_str(&q, 2, value, LK_KID_MAX, &rc);
	bind_i64(&q, 3, before, &rc);
	bind_i64(&q, 4, expires, &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	q_end(&q);
	if (rc == SQLITE_OK)
		bump(sq(base));
	return map_rc(rc);
}

static enum lk_err sq_revocations(struct lk_store *base, int64_t after, int64_t now,
				  lk_revocation_cb cb, void *ud)
{
	struct q q;
	struct lk_revocation r;
	int rc = SQLITE_OK;

	if (!cb)
		return LK_EINVAL;
	if ((rc = q_begin(sq(base), S_REVOKE_LIST, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_i64(&q, 1, after, &rc);
	bind_i64(&q, 2, now, &rc);
	while (rc == SQLITE_OK && (rc = sqlite3_step(q.s)) == SQLITE_ROW) {
		if ((rc = rev_row(q.s, &r)))
			break;
		if (cb(ud, &r)) {
			rc = SQLITE_DONE;
			break;
		}
		rc = SQLITE_OK;
	}
	q_end(&q);
	return map_rc(rc);
}

static enum lk_err sq_set_revocation_ttl(struct lk_store *base, int64_t seconds)
{
	struct q q;
	int rc = SQLITE_OK;

	if ((rc = q_begin(sq(base), S_META_SET, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_str(&q, 1, "revocation_ttl", 20, &rc);
	bind_i64(&q, 2, seconds, &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	q_end(&q);
	return map_rc(rc);
}

static enum lk_err sq_revocation_ttl(struct lk_store *base, int64_t *seconds)
{
	struct q q;
	int rc = SQLITE_OK;

	if ((rc = q_begin(sq(base), S_META_GET, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_str(&q, 1, "revocation_ttl", 20, &rc);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q.s);
		if (rc == SQLITE_ROW) {
			*seconds = sqlite3_column_int64(q.s, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			rc = NOT_FOUND;
		}
	}
	q_end(&q);
	return rc == NOT_FOUND ? LK_ENOT_FOUND : map_rc(rc);
}

static enum lk_err sq_secret_claim(struct lk_store *base, const char *name,
				   const unsigned char mine[32], unsigned char out[32])
{
	struct q q;
	int rc = SQLITE_OK;

	if (!name)
		return LK_EINVAL;
	/* Insert ours unless one exists (first writer wins), then read what stands. */
	if ((rc = q_begin(sq(base), S_SECRET_ADD, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_str(&q, 1, name, 64, &rc);
	bind_blob(&q, 2, mine, 32, &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	q_end(&q);
	if (rc != SQLITE_OK)
		return map_rc(rc);
	if ((rc = q_begin(sq(base), S_SECRET_GET, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_str(&q, 1, name, 64, &rc);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q.s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(q.s, 0) != 32) {
			rc = SQLITE_CORRUPT;
		} else {
			memcpy(out, sqlite3_column_blob(q.s, 0), 32);
			rc = SQLITE_OK;
		}
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_CORRUPT;
	}
	q_end(&q);
	return map_rc(rc);
}

static enum lk_err sq_secret(struct lk_store *base, const char *name, unsigned char out[32])
{
	unsigned char fresh[32];
	randombytes_buf(fresh, sizeof fresh);
	enum lk_err err = sq_secret_claim(base, name, fresh, out);
	sodium_memzero(fresh, sizeof fresh);
	return err;
}

/* ---------------------------------------------------------------- sign-in limits */

static enum lk_err rl_read(struct sq_store *st, const char *k, int64_t now, struct lk_rlstate *o)
{
	struct q q;
	int rc = SQLITE_OK;

	memset(o, 0, sizeof *o);
	if ((rc = q_begin(st, S_RL_GET, &q)) != SQLITE_OK)
		return map_rc(rc);
	bind_str(&q, 1, k, 128, &rc);
	bind_i64(&q, 2, now, &rc);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q.s);
		if (rc == SQLITE_ROW) {
			o->found = true;
			o->failures = sqlite3_column_int64(q.s, 0);
			o->tokens = sqlite3_column_double(q.s, 1);
			o->last = sqlite3_column_int64(q.s, 2);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			rc = SQLITE_OK;
		}
	}
	q_end(&q);
	return map_rc(rc);
}

/* Write one limiter row: the state lives lk_rl_ttl() after its last change. */
static int rl_put(struct sq_store *st, const char *k, const struct lk_rlstate *s,
		  const struct lk_rlcfg *cfg)
{
	struct q q;
	int rc = q_begin(st, S_RL_PUT, &q);
	if (rc != SQLITE_OK)
		return rc;
	bind_str(&q, 1, k, 128, &rc);
	bind_i64(&q, 2, s->failures, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_double(q.s, 3, s->tokens);
	bind_i64(&q, 4, s->last, &rc);
	bind_i64(&q, 5, s->last + lk_rl_ttl(cfg), &rc);
	if (rc == SQLITE_OK)
		rc = step_done(&q);
	q_end(&q);
	return rc;
}

/* Read both rows, apply one step of the shared policy (auth/rlpolicy.h) and write the
 * result, all under the write lock of one BEGIN IMMEDIATE: two processes cannot both
 * pass on the same last free attempt. *wait: the policy's answer. A TAKE that must wait
 * writes nothing. */
static enum lk_err rl_step(struct sq_store *st, enum lk_rl_step step, const char *pair,
			   const char *ip, int64_t now, const struct lk_rlcfg *cfg, int64_t *wait)
{
	struct lk_rlstate p, i;
	struct conn *c;
	enum lk_err err;
	int rc;

	if ((rc = conn_get(st, &c)) != SQLITE_OK)
		return map_rc(rc);
	if ((rc = run(st, S_BEGIN)) != SQLITE_OK)
		return map_rc(rc);
	if ((err = rl_read(st, pair, now, &p)) || (err = rl_read(st, ip, now, &i))) {
		(void)txn_end(st, c, SQLITE_ERROR);
		return err;
	}
	*wait = lk_rl_policy(cfg, step, &p, &i, now);
	if (step == LK_RL_TAKE && *wait > 0) {
		rc = SQLITE_OK; /* nothing to write: end the read */
	} else {
		rc = i.found ? rl_put(st, ip, &i, cfg) : SQLITE_OK;
		if (rc == SQLITE_OK && p.found)
			rc = rl_put(st, pair, &p, cfg);
		else if (rc == SQLITE_OK) {
			struct q q;
			if ((rc = q_begin(st, S_RL_RESET, &q)) == SQLITE_OK) {
				bind_str(&q, 1, pair, 128, &rc);
				if (rc == SQLITE_OK)
					rc = step_done(&q);
				q_end(&q);
			}
		}
	}
	return map_rc(txn_end(st, c, rc));
}

static enum lk_err sq_rl_take(struct lk_store *base, const char *pair, const char *ip,
			      int64_t now, const struct lk_rlcfg *cfg, int64_t *retry_after)
{
	int64_t wait = 0;
	enum lk_err err;

	if (!pair || !ip || !cfg || !retry_after)
		return LK_EINVAL;
	if ((err = rl_step(sq(base), LK_RL_TAKE, pair, ip, now, cfg, &wait)))
		return err;
	if (wait > 0) {
		*retry_after = wait;
		return LK_ERATE_LIMITED;
	}
	return LK_OK;
}

static enum lk_err sq_rl_release(struct lk_store *base, const char *pair, const char *ip,
				 int64_t now, const struct lk_rlcfg *cfg)
{
	int64_t wait = 0;

	if (!pair || !ip || !cfg)
		return LK_EINVAL;
	return rl_step(sq(base), LK_RL_RELEASE, pair, ip, now, cfg, &wait);
}

const struct lk_store_ops lk_store_sqlite_ops = {
	.scheme = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.ping = sq_ping,
	.generation = sq_generation,
	.generation_wait = sq_generation_wait,
	.user_add = sq_user_add,
	.user_get = sq_user_get,
	.user_get_id = sq_user_get_id,
	.user_set_password = sq_user_set_password,
	.user_del = sq_user_del,
	.user_list = sq_user_list,
	.user_count = sq_user_count,
	.session_add = sq_session_add,
	.session_get = sq_session_get,
	.session_touch = sq_session_touch,
	.session_del = sq_session_del,
	.session_del_handle = sq_session_del_handle,
	.session_list = sq_session_list,
	.session_purge = sq_session_purge,
	.session_count = sq_session_count,
	.audit_add = sq_audit_add,
	.audit_list = sq_audit_list,
	.key_add = sq_key_add,
	.key_list = sq_key_list,
	.key_retire = sq_key_retire,
	.key_del = sq_key_del,
	.client_add = sq_client_add,
	.client_get = sq_client_get,
	.refresh_add = sq_refresh_add,
	.refresh_get = sq_refresh_get,
	.refresh_claim = sq_refresh_claim,
	.family_revoke = sq_family_revoke,
	.revoke_add = sq_revoke_add,
	.revocations = sq_revocations,
	.set_revocation_ttl = sq_set_revocation_ttl,
	.revocation_ttl = sq_revocation_ttl,
	.secret = sq_secret,
	.secret_claim = sq_secret_claim,
	.rl_take = sq_rl_take,
	.rl_release = sq_rl_release,
	.revoke_user = sq_revoke_user,
	.refresh_purge = sq_refresh_purge,
};
