/* SPDX-License-Identifier: MIT */
/*
 * The store: everything latchkey keeps between requests (users, sessions, audit events;
 * later refresh-token families, the denylist, signing keys and rate-limit buckets) behind
 * one table of operations, like Redis's ConnectionType. Auth logic calls only lk_store_*;
 * it never sees SQL or Redis commands, so back ends are interchangeable: "sqlite:PATH" is
 * the embedded default, "redis://HOST:PORT/DB" the shared one for many instances.
 *
 * Rules every back end keeps:
 * - Thread-safe: any thread may call any operation; back ends keep a connection per
 *   thread (or a pool) internally.
 * - Secrets never reach the store in clear: sessions are keyed by SHA-256 of the cookie
 *   secret (id_hash); passwords arrive as Argon2id PHC strings.
 * - Multi-step changes are atomic (a password change and the revocation of that user's
 *   sessions commit together or not at all).
 * - Errors: LK_ENOT_FOUND, LK_EEXISTS, LK_ESTORE (unreachable, I/O, full, busy past the
 *   timeout), LK_ESTORE_READONLY (a write refused because the file, its directory or its
 *   filesystem is read-only; reads still work), LK_ESTORE_CORRUPT, LK_ESTORE_VERSION,
 *   LK_ENOMEM. Out-parameters are written only on LK_OK.
 * - Times are UNIX seconds.
 */
#ifndef LK_STORE_STORE_H
#define LK_STORE_STORE_H

/* Private to src/auth and src/store (and their unit tests): everyone else goes through
 * auth/auth.h, the one door to the store. The Makefile defines LK_STORE_PRIVATE only for
 * those directories; `make check` also fails on any include from src/http or src/cli. */
#ifndef LK_STORE_PRIVATE
#error "store/store.h is private to src/auth and src/store: include auth/auth.h"
#endif

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include "latchkey.h"
#include "auth/records.h"


/* A refresh token, keyed by SHA-256 of its secret. A family is the chain of tokens that
 * one sign-in produced through rotation; its id is the `sid` of its access tokens. */
struct lk_refresh {
	unsigned char hash[32];
	char family[LK_HANDLE_LEN + 1];
	int64_t user_id;
	char client_id[LK_CLIENT_ID_LEN + 1];
	char scope[LK_SCOPE_MAX + 1];
	int64_t created, expires;
	int64_t used_at;                 /* 0: not yet used */
	char next_access[LK_TOKEN_MAX + 1]; /* the access token issued with its successor */
};

/* A revocation still in effect (SPEC "Revocation events"). */
struct lk_revocation {
	int64_t cursor;
	char type[8];                    /* "jti", "sid", "sub" */
	char value[LK_KID_MAX + 1];
	int64_t before;                  /* sub: tokens issued before this are void */
	int64_t expires;
};

struct lk_store;

/* Callbacks for listings; return non-zero to stop early. */
typedef int (*lk_revocation_cb)(void *ud, const struct lk_revocation *r);

struct lk_store_ops {
	const char *scheme; /* "sqlite", "redis", "redis+sentinel", "redis+cluster" */
	/* Open (creating or migrating the schema). *out owns the store. */
	enum lk_err (*open)(const char *rest, struct lk_store **out, struct lk_errinfo *ei);
	void (*close)(struct lk_store *st);
	/* Cheap liveness check of the back end (for /readyz). */
	enum lk_err (*ping)(struct lk_store *st);
	/* The revocation generation: a number that changes whenever any process using this
	 * store commits a change that can end a session (a session deleted, a user deleted, a
	 * password changed, a token revoked, a key added). SQLite: an atomic load from a
	 * shared mapping; Redis: one GET (still cheaper than the two reads it saves). NULL when
	 * the back end cannot offer it; then nothing is cached (auth/scache.h). */
	uint64_t (*generation)(struct lk_store *st);
	/* Block until generation() != seen or timeout_ms passed, and return generation()
	 * then: how a feed of revocations learns of a change without polling. A bump by any
	 * process on the store wakes it (SQLite: a shared futex on the mapped counter; Redis:
	 * the subscriber thread's PUBLISH feed). May return early (a spurious wake gives back
	 * seen). NULL when the back end cannot wait; callers then poll. Optional, as
	 * `generation` is. */
	uint64_t (*generation_wait)(struct lk_store *st, uint64_t seen, int timeout_ms);

	/* Sets u->id: a new id, larger than any id this store ever handed out. */
	enum lk_err (*user_add)(struct lk_store *st, struct lk_user *u);
	enum lk_err (*user_get)(struct lk_store *st, const char *name, struct lk_user *out);
	enum lk_err (*user_get_id)(struct lk_store *st, int64_t id, struct lk_user *out);
	/* New password: also deletes every session and refresh token of the user (each live
	 * family recorded as a `sid` revocation), atomically. cb (may be NULL) then gets each
	 * revocation the change recorded, as for revoke_user. */
	enum lk_err (*user_set_password)(struct lk_store *st, const char *name, const char *phc,
					 int64_t now, lk_revocation_cb cb, void *ud);
	/* Deletes the user and every session and refresh token of theirs (as above),
	 * atomically. User ids are never handed out again. cb: as for user_set_password. */
	enum lk_err (*user_del)(struct lk_store *st, const char *name, lk_revocation_cb cb,
				void *ud);
	enum lk_err (*user_list)(struct lk_store *st, lk_user_cb cb, void *ud);
	enum lk_err (*user_count)(struct lk_store *st, int64_t *n);

	enum lk_err (*session_add)(struct lk_store *st, const struct lk_session *s);
	/* The hot path: one read by id_hash. Expired sessions may still be returned: the
	 * caller checks times (and deletes). */
	enum lk_err (*session_get)(struct lk_store *st, const unsigned char id_hash[32],
				   struct lk_session *out);
	/* Set last_seen = now if it is older than `older_than` (coalesced writes). LK_OK when
	 * the session exists (written or not), LK_ENOT_FOUND when no session has id_hash (the
	 * caller then drops any cached copy). */
	enum lk_err (*session_touch)(struct lk_store *st, const unsigned char id_hash[32],
				     int64_t now, int64_t older_than);
	enum lk_err (*session_del)(struct lk_store *st, const unsigned char id_hash[32]);
	/* Delete the session with this public handle if it belongs to user_id. */
	enum lk_err (*session_del_handle)(struct lk_store *st, int64_t user_id, const char *handle);
	/* user_id < 0: every session. Ordered by created, newest first. */
	enum lk_err (*session_list)(struct lk_store *st, int64_t user_id, lk_session_cb cb, void *ud);
	/* Delete sessions idle since before idle_cutoff or past their absolute expiry. */
	enum lk_err (*session_purge)(struct lk_store *st, int64_t now, int64_t idle_cutoff,
				     int64_t *n);
	enum lk_err (*session_count)(struct lk_store *st, int64_t now, int64_t *n);

	enum lk_err (*audit_add)(struct lk_store *st, const struct lk_audit *a);
	/* Newest first, at most limit events (0: all). */
	enum lk_err (*audit_list)(struct lk_store *st, size_t limit, lk_audit_cb cb, void *ud);

	/* Signing keys. key_list: every key, oldest sign_from first. */
	enum lk_err (*key_add)(struct lk_store *st, const struct lk_keyrec *k);
	enum lk_err (*key_list)(struct lk_store *st, lk_key_cb cb, void *ud);
	enum lk_err (*key_retire)(struct lk_store *st, const char *kid, int64_t retire_at,
				  int64_t remove_at);
	enum lk_err (*key_del)(struct lk_store *st, const char *kid);

	enum lk_err (*client_add)(struct lk_store *st, const struct lk_client *c);
	enum lk_err (*client_get)(struct lk_store *st, const char *id, struct lk_client *out);

	enum lk_err (*refresh_add)(struct lk_store *st, const struct lk_refresh *r);
	enum lk_err (*refresh_get)(struct lk_store *st, const unsigned char hash[32],
				   struct lk_refresh *out);
	/* Mark an unused token used at `now`, keeping next_access for the grace window:
	 * LK_OK when this caller won, LK_EEXISTS when it was already used, LK_ENOT_FOUND. */
	enum lk_err (*refresh_claim)(struct lk_store *st, const unsigned char hash[32],
				     int64_t now, const char *next_access);
	/* Delete every token of the family and record a `sid` revocation of it that lasts
	 * until `until` (the last access token it could have issued expires). */
	enum lk_err (*family_revoke)(struct lk_store *st, const char *family, int64_t until,
				     int64_t *n);

	/* Sign out, in one atomic change: the sessions of user_id (< 0: of everyone) except
	 * `keep` (an id_hash; NULL: none kept), and every refresh token of theirs, each family
	 * recorded as a `sid` revocation that lasts until `until`. Sessions record their own
	 * `sid` revocations as session_del does. *sessions, *families: what ended.
	 * cb (may be NULL) gets each revocation this change recorded (cursor order, `sid` and
	 * `sub` as the store keeps them, nothing recorded by anyone else), once it committed
	 * and only if it did, so that the caller can act on exactly what the store holds
	 * without reading it again; a non-zero return stops the calls. The callback may call
	 * the store. */
	enum lk_err (*revoke_user)(struct lk_store *st, int64_t user_id, const unsigned char *keep,
				   int64_t until, int64_t *sessions, int64_t *families,
				   lk_revocation_cb cb, void *ud);
	/* Upkeep of refresh tokens: delete the expired ones and clear next_access of every
	 * token used before `used_before` (its grace window is over), so no live access token
	 * stays in the store in clear. *n: rows deleted or trimmed. */
	enum lk_err (*refresh_purge)(struct lk_store *st, int64_t now, int64_t used_before,
				     int64_t *n);

	/* Record a revocation (type "jti", "sid" or "sub"). */
	enum lk_err (*revoke_add)(struct lk_store *st, const char *type, const char *value,
				  int64_t before, int64_t expires);
	/* Revocations with cursor > after that are still in effect at now, in cursor order. */
	enum lk_err (*revocations)(struct lk_store *st, int64_t after, int64_t now,
				   lk_revocation_cb cb, void *ud);
	/* Set how long revocations recorded by the store itself (sessions ending, passwords
	 * changing) stay in effect: the longest access-token lifetime plus leeway. */
	enum lk_err (*set_revocation_ttl)(struct lk_store *st, int64_t seconds);
	enum lk_err (*revocation_ttl)(struct lk_store *st, int64_t *seconds);
	/* A named 32-byte server secret shared by every instance, created on first use. */
	enum lk_err (*secret)(struct lk_store *st, const char *name, unsigned char out[32]);
	/* Offer `mine` as the value of secret `name`: out receives the value that stands,
	 * which equals mine for exactly one caller (first writer wins). */
	enum lk_err (*secret_claim)(struct lk_store *st, const char *name,
				    const unsigned char mine[32], unsigned char out[32]);

	/* Sign-in limits shared by every instance (keys `pair` and `ip`: short opaque strings;
	 * a pair belongs to one ip, as auth/ratelimit.c derives it from the ip: a back end may
	 * keep a pair's state under its ip, as Redis does to keep the two in one slot).
	 * Reserve a failed sign-in before the password is checked, atomically (the policy of
	 * auth/rlpolicy.h, cfg): when the pair is in backoff or the ip bucket is empty,
	 * LK_ERATE_LIMITED with *retry_after seconds and nothing recorded; otherwise the
	 * failure is recorded now (pair failures + 1 and last = now; one token taken from the
	 * ip bucket) and LK_OK. So parallel guesses cannot all pass one check. */
	enum lk_err (*rl_take)(struct lk_store *st, const char *pair, const char *ip, int64_t now,
			       const struct lk_rlcfg *cfg, int64_t *retry_after);
	/* The reserved attempt succeeded: forget the pair's failures and give the ip bucket its
	 * token back (up to its cap). */
	enum lk_err (*rl_release)(struct lk_store *st, const char *pair, const char *ip,
				  int64_t now, const struct lk_rlcfg *cfg);
};

/* A store handle: which back end, and the back end's own state. */
struct lk_store {
	const struct lk_store_ops *ops;
};

/*
 * Open the store named by url ("sqlite:PATH", "sqlite:" followed by nothing means
 * "latchkey.db"; "redis://..." once that back end exists). LK_EINVAL for an unknown scheme.
 */
enum lk_err lk_store_open(const char *url, struct lk_store **out, struct lk_errinfo *ei) LK_WUR;
void lk_store_close(struct lk_store *st);

extern const struct lk_store_ops lk_store_sqlite_ops;
extern const struct lk_store_ops lk_store_redis_ops; /* "redis://...": redis.c */
extern const struct lk_store_ops lk_store_redis_sentinel_ops; /* "redis+sentinel://...": redis.c */
extern const struct lk_store_ops lk_store_redis_cluster_ops; /* "redis+cluster://...": redis.c */

#endif
