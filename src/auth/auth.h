/* SPDX-License-Identifier: MIT */
/*
 * The auth core: the only door to the store. The HTTP server and the command line say
 * what they want (sign someone in, check a cookie, revoke a user's sessions, issue a
 * token) and this module does it, with its rules written once: rate limits, Argon2,
 * session lifetimes, refresh rotation, who may revoke or introspect what, and the audit
 * trail. Every operation that ends access (a session, a refresh family, a token) is one
 * atomic store change, so no caller can end half of it.
 *
 * store/store.h is private to src/auth and src/store; callers see only this header and
 * the plain records of auth/records.h.
 *
 * Errors: the lk_err codes of latchkey.h. A caller maps the class to its own protocol
 * (src/http has one table from class to HTTP status): LK_CLASS_STORE means the store
 * failed (or LK_ENOT_FOUND / LK_EEXISTS for the thing asked about); LK_CLASS_AUTH and
 * LK_CLASS_REJECTED mean the caller's credentials or token were refused; LK_EBUSY means a
 * bounded queue is full. Out-parameters are written only on LK_OK unless said otherwise.
 *
 * Thread safety: one struct lk_auth serves every thread at once, except lk_auth_open,
 * lk_auth_start and lk_auth_close.
 */
#ifndef LK_AUTH_AUTH_H
#define LK_AUTH_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include "auth/records.h"

#define LK_COOKIE_LEN 43  /* a session cookie: base64url of 32 random bytes */
#define LK_REFRESH_LEN 43 /* a refresh token: base64url of 32 random bytes */
#define LK_SECRET_LEN 43  /* a client secret: base64url of 32 random bytes */

struct lk_auth;

/* Who asks, for the audit trail: a user name (or "" / "cli") and an address. */
struct lk_actor {
	const char *name;
	const char *ip;
};

/* Open the store at store_url ("sqlite:PATH", "redis://...") for cfg. Enough for the
 * administration commands; a server also calls lk_auth_start. ei gets a message. */
enum lk_err lk_auth_open(const struct lk_authcfg *cfg, const char *store_url,
			 struct lk_auth **out, struct lk_errinfo *ei) LK_WUR;
/* Prepare to serve: the first `admin` user on an empty store (its random password is
 * written to admin_pw, else admin_pw[0] = '\0'), the secrets every instance shares, the
 * signing-key ring (a first key when there is none), the session cache and the Argon2
 * workers (cfg->signin_workers, cfg->signin_queue). */
enum lk_err lk_auth_start(struct lk_auth *a, char admin_pw[32], struct lk_errinfo *ei) LK_WUR;
void lk_auth_close(struct lk_auth *a);
const struct lk_authcfg *lk_auth_cfg(const struct lk_auth *a);

/* The store answers (for /readyz). */
enum lk_err lk_auth_ready(struct lk_auth *a) LK_WUR;
/* Periodic upkeep from one thread: purge ended sessions, trim used refresh tokens past
 * their grace window, rotate and retire signing keys when due. Failures are logged. */
void lk_auth_upkeep(struct lk_auth *a, int64_t now);

/* ---------------------------------------------------------------- sign-in */

/*
 * One password sign-in, in two halves around the Argon2 check, which runs on a worker
 * thread so that request threads never hash. The caller owns the struct (it lives in the
 * request) and touches only the public members.
 *
 *   lk_auth_signin_begin: rate limit (a failure is reserved before the password is
 *   checked, so parallel guesses cannot all pass one check), user lookup, then the hash
 *   queued on a worker. LK_OK: done(arg) is called from the worker once the check ran
 *   (possibly before begin returns). Anything else: done is never called;
 *   LK_ERATE_LIMITED sets *retry_after (audited); LK_EBUSY when the queue is full.
 *   pw is taken over in every case (wiped and freed here).
 *
 *   lk_auth_signin_end: the outcome, after done. LK_OK: si->user is who signed in and
 *   the reserved failure is released. LK_EBAD_CREDENTIALS: unknown user or wrong
 *   password, one answer for both (audited; the failure stays counted). LK_EBUSY: the
 *   check waited for a worker past cfg->signin_wait and never ran (nothing counted).
 */
struct lk_signin {
	struct lk_user user;
	/* private */
	struct lk_auth *a;
	char ip[LK_IP_MAX + 1];
	char *pw;
	size_t pwlen;
	bool found, ok, grant;
	bool busy; /* waited past the bound for a worker: never checked */
	void (*done)(void *arg);
	void *arg;
	/* a password change (lk_auth_passwd_begin): the new password, then its hash */
	bool change, hashed;
	char *npw;
	size_t npwlen;
	char nphc[LK_PHC_MAX + 1];
};
enum lk_err lk_auth_signin_begin(struct lk_auth *a, struct lk_signin *si, const char *name,
				 const char *ip, bool grant, char *pw, void (*done)(void *arg),
				 void *arg, int64_t *retry_after) LK_WUR;
enum lk_err lk_auth_signin_end(struct lk_auth *a, struct lk_signin *si) LK_WUR;
/* Release what a sign-in still holds (the password, when begin never reached a worker). */
void lk_auth_signin_free(struct lk_signin *si);

/*
 * A user changing their own password, in the same two halves as a sign-in (the current
 * password is checked like a sign-in's, rate limit included: a wrong one counts as a
 * failed sign-in of that account from ip), with the new password hashed on the worker too.
 *
 *   lk_auth_passwd_begin: LK_EINVAL when next is not LK_PW_MIN to LK_PW_MAX - 1 bytes
 *   (nothing is counted); otherwise as lk_auth_signin_begin. Takes current and next.
 *
 *   lk_auth_passwd_end: LK_EBAD_CREDENTIALS when the current password was wrong (audited).
 *   LK_OK: the new password is set, which ends every session and refresh-token family of
 *   the user and revokes their access tokens in one store change (as `user passwd` does),
 *   and a new session starts for the browser that asked (cookie, *out; its old cookie is
 *   one of those ended). Audited as "password_changed" and "login".
 */
enum lk_err lk_auth_passwd_begin(struct lk_auth *a, struct lk_signin *si, const char *name,
				 const char *ip, char *current, char *next,
				 void (*done)(void *arg), void *arg, int64_t *retry_after) LK_WUR;
enum lk_err lk_auth_passwd_end(struct lk_auth *a, struct lk_signin *si, const char *user_agent,
			       int64_t now, char cookie[LK_COOKIE_LEN + 1],
			       struct lk_session *out) LK_WUR;

/* ---------------------------------------------------------------- sessions */

/* Start a session for u after a sign-in. A presented cookie (old, or NULL) is never
 * adopted: its session ends. cookie receives the secret for Set-Cookie (only its hash is
 * stored); *out is the new record. Audited as "login". */
enum lk_err lk_auth_session_start(struct lk_auth *a, const struct lk_user *u, const char *ip,
				  const char *user_agent, const char *old, int64_t now,
				  char cookie[LK_COOKIE_LEN + 1], struct lk_session *out) LK_WUR;
/* Check a cookie: LK_OK and (s, u); LK_ESESSION for a malformed, unknown, idle, expired
 * or revoked session, or one whose user is gone; store errors. */
enum lk_err lk_auth_session_check(struct lk_auth *a, const char *cookie, int64_t now,
				  struct lk_session *s, struct lk_user *u) LK_WUR;
/* When s ends: the earlier of its idle and absolute expiry. */
int64_t lk_auth_session_expires(const struct lk_auth *a, const struct lk_session *s);
/* Sign out of session s (of user u). A refresh token the same browser holds (its cookie,
 * or NULL) is revoked with its family when it is u's. Audited as "logout". */
enum lk_err lk_auth_logout(struct lk_auth *a, const struct lk_actor *by, const struct lk_session *s,
			   const struct lk_user *u, const char *refresh_token) LK_WUR;
/* End the family of refresh token rt, whoever's it is: holding the token is owning it
 * (a browser signing out sends its refresh cookie here). LK_OK also when rt is unknown. */
enum lk_err lk_auth_refresh_end(struct lk_auth *a, const struct lk_actor *by, const char *rt) LK_WUR;
/* Live sessions of user_id (< 0: everyone's), newest first; ended ones the purge has not
 * removed yet are left out. */
enum lk_err lk_auth_sessions(struct lk_auth *a, int64_t user_id, lk_session_cb cb, void *ud) LK_WUR;
/* Live sessions, for metrics. */
enum lk_err lk_auth_session_count(struct lk_auth *a, int64_t now, int64_t *n) LK_WUR;

/* ---------------------------------------------------------------- revocation */

struct lk_revoked {
	int64_t sessions; /* sessions ended */
	int64_t families; /* refresh-token families ended */
};
/* End one session by its public id, if it is user_id's (< 0: whoever's). LK_ENOT_FOUND
 * when there is no such session (of that user). Audited as "revoke". */
enum lk_err lk_auth_revoke_session(struct lk_auth *a, const struct lk_actor *by, int64_t user_id,
				   const char *handle) LK_WUR;
/* Sign user_id out everywhere (< 0: everyone), except the session keep (an id_hash, NULL
 * for none): their sessions and their refresh-token families end in one atomic store
 * change, and every access token they carry is revoked with them. Audited. */
enum lk_err lk_auth_revoke_user(struct lk_auth *a, const struct lk_actor *by, int64_t user_id,
				const unsigned char *keep, struct lk_revoked *out) LK_WUR;

/* ---------------------------------------------------------------- revocation feed */

/* One revocation still in effect (SPEC "Revocation events"): type "jti", "sid" or "sub";
 * before only for "sub". */
struct lk_revevent {
	int64_t cursor;
	char type[8];
	char value[LK_KID_MAX + 1];
	int64_t before;
	int64_t expires;
};
/* GET /revocations: the live events with cursor > after (every live event when after is
 * beyond the store's highest cursor: the store was emptied or reset), read fresh from the
 * store, and the current cursor. *out is malloc'd (free()), possibly NULL when *n is 0.
 * Needs lk_auth_start. */
enum lk_err lk_auth_revocations(struct lk_auth *a, int64_t after, struct lk_revevent **out,
				size_t *n, int64_t *cursor) LK_WUR;

/*
 * /revocations/stream without a thread per subscriber. open: a subscription starting after
 * `after` (as above for a cursor beyond the store's); wake(ud) is called from the
 * revocation hub's thread, once per arm, when events arrive or when no event has been
 * handed out for ping_s seconds; it runs under the hub's lock, so it must only signal
 * (resume a connection), never call these functions. next: copy up to max pending events
 * (advancing the subscription), *ping true when a keep-alive is due instead. arm: ask for
 * the next wake; false when something is pending already (call next again, no wait).
 * close: after it returns wake is never called again.
 */
struct lk_revstream;
enum lk_err lk_auth_revstream_open(struct lk_auth *a, int64_t after, unsigned ping_s,
				   void (*wake)(void *ud), void *ud,
				   struct lk_revstream **out) LK_WUR;
size_t lk_auth_revstream_next(struct lk_revstream *rs, struct lk_revevent *ev, size_t max,
			      bool *ping);
bool lk_auth_revstream_arm(struct lk_revstream *rs);
void lk_auth_revstream_close(struct lk_revstream *rs);

/* ---------------------------------------------------------------- users, audit */

/* A user (or role) name: 1 to LK_NAME_MAX of A-Z a-z 0-9 . _ @ - */
bool lk_auth_name_ok(const char *name);
/* Is role one of roles (comma-separated, as in struct lk_user and the `roles` claim)? */
bool lk_auth_has_role(const char *roles, const char *role);
enum lk_err lk_auth_user_get(struct lk_auth *a, const char *name, struct lk_user *out) LK_WUR;
enum lk_err lk_auth_user_by_id(struct lk_auth *a, int64_t id, struct lk_user *out) LK_WUR;
enum lk_err lk_auth_users(struct lk_auth *a, lk_user_cb cb, void *ud) LK_WUR;
/* Add a user (Argon2id of pw[0..len) at the configured cost). LK_EEXISTS when taken. */
enum lk_err lk_auth_user_add(struct lk_auth *a, const struct lk_actor *by, const char *name,
			     const char *roles, const char *pw, size_t len) LK_WUR;
/* A new password; every session and refresh family of the user ends with it, atomically. */
enum lk_err lk_auth_user_passwd(struct lk_auth *a, const struct lk_actor *by, const char *name,
				const char *pw, size_t len) LK_WUR;
/* Delete a user with every session and refresh family of theirs, atomically. */
enum lk_err lk_auth_user_del(struct lk_auth *a, const struct lk_actor *by, const char *name) LK_WUR;
/* Record an event in the audit trail (and the log). Never secrets in detail. */
void lk_auth_audit(struct lk_auth *a, const char *event, const char *user, const char *ip,
		   const char *detail);
/* Newest first, at most limit (0: all). */
enum lk_err lk_auth_audit_list(struct lk_auth *a, size_t limit, lk_audit_cb cb, void *ud) LK_WUR;

/* ---------------------------------------------------------------- clients */

/* Client credentials (RFC 6749 §2.3.1), checked in constant time against the stored hash:
 * LK_OK and *out; LK_EBAD_CREDENTIALS for an unknown id or a wrong secret; store errors. */
enum lk_err lk_auth_client_check(struct lk_auth *a, const char *id, const char *secret,
				 struct lk_client *out) LK_WUR;
/* A new client: *out, and its secret (shown once; only its hash is stored). */
enum lk_err lk_auth_client_add(struct lk_auth *a, const struct lk_actor *by, const char *name,
			       const char *scope, struct lk_client *out,
			       char secret[LK_SECRET_LEN + 1]) LK_WUR;
/* Is client c a resource server (its id or name in cfg->tok.resource_servers), which may
 * introspect every client's tokens? */
bool lk_auth_client_is_rs(const struct lk_auth *a, const struct lk_client *c);

/* ---------------------------------------------------------------- tokens */

/* May scope (space-separated, RFC 6749 §3.3; "" asks for the default) be granted? A
 * client gets at most its own scopes, a user without a client (c NULL) at most the
 * `user_scopes` setting. LK_EMALFORMED for a malformed scope, LK_EFORBIDDEN beyond. */
enum lk_err lk_auth_scope_check(const struct lk_auth *a, const struct lk_client *c,
				const char *scope) LK_WUR;
/* The token settings; NULL before lk_auth_start (tokens are not served). */
const struct lk_tokcfg *lk_auth_tokcfg(const struct lk_auth *a);
/* Verify one of our access tokens (signature, iss, aud, typ, times) and the denylist:
 * LK_EREVOKED for a revoked one; the verifier's codes otherwise. */
enum lk_err lk_auth_token_verify(struct lk_auth *a, const char *token, size_t len, int64_t now,
				 struct lk_principal *p) LK_WUR;
/* The hybrid exchange: a short-lived access token for session s of user u (sid = s). */
enum lk_err lk_auth_token_for_session(struct lk_auth *a, const struct lk_session *s,
				      const struct lk_user *u, int64_t now, char **access,
				      struct lk_principal *p) LK_WUR;
/* client_credentials: a token for client c with scope (NULL or "": the client's). */
enum lk_err lk_auth_token_for_client(struct lk_auth *a, const struct lk_client *c,
				     const char *scope, int64_t now, char **access,
				     struct lk_principal *p) LK_WUR;
/* A password grant's outcome: a new refresh family for u (client_id "" for none), its
 * first refresh token rt and access token. Audited as "login". */
enum lk_err lk_auth_token_for_user(struct lk_auth *a, const struct lk_user *u, const char *ip,
				   const char *client_id, const char *scope, int64_t now,
				   char rt[LK_REFRESH_LEN + 1], char **access,
				   struct lk_principal *p) LK_WUR;
/* Rotate refresh token rt (client_id: the authenticated client, or NULL): LK_OK with a
 * new pair (the same pair for every caller within the grace window); LK_ESESSION for an
 * unknown, expired or revoked token or another client's; *reuse when a used token came
 * back after the window, in which case its whole family has been revoked (audited). */
enum lk_err lk_auth_token_refresh(struct lk_auth *a, const struct lk_actor *by, const char *rt,
				  const char *client_id, int64_t now, char next[LK_REFRESH_LEN + 1],
				  char **access, struct lk_principal *p, bool *reuse) LK_WUR;
/* RFC 7009 by an authenticated client: LK_OK when the token is revoked now (a refresh
 * token with its family, an access token by its jti) or was unknown or invalid (§2.2);
 * LK_EFORBIDDEN when it was issued to another client (nothing revoked). */
enum lk_err lk_auth_token_revoke(struct lk_auth *a, const struct lk_actor *by,
				 const struct lk_client *caller, const char *token, int64_t now) LK_WUR;
/* RFC 7662 for an authenticated client. out->active only for a live token issued to the
 * caller, or to anyone when the caller is a resource server; out->p then describes it
 * (out->refresh for a refresh token: sub, scope, client_id, exp, sid = its family). */
struct lk_introspection {
	bool active;
	bool refresh;
	struct lk_principal p;
};
enum lk_err lk_auth_token_introspect(struct lk_auth *a, const struct lk_client *caller,
				     const char *token, int64_t now,
				     struct lk_introspection *out) LK_WUR;
/* The public JWKS document (a copy to free()), NULL when unavailable. */
char *lk_auth_jwks(struct lk_auth *a);
/* The algorithm the ring signs with ("ES256"), for metadata. */
const char *lk_auth_alg_name(const struct lk_auth *a);
/* The key ring, oldest first; rotation by hand (`latchkey keys rotate`). */
enum lk_err lk_auth_keys(struct lk_auth *a, lk_key_cb cb, void *ud) LK_WUR;
enum lk_err lk_auth_keys_rotate(struct lk_auth *a, int64_t now, struct lk_errinfo *ei) LK_WUR;

/* ---------------------------------------------------------------- CSRF */

/* Sign-in form tokens: random, MAC'd with a secret every instance shares, so a planted
 * cookie the server never issued is refused. out: LK_CSRF_LEN + 1 bytes. */
void lk_auth_csrf_mint(const struct lk_auth *a, char out[LK_CSRF_LEN + 1]);
bool lk_auth_csrf_valid(const struct lk_auth *a, const char *tok);

#endif
