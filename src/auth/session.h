/* SPDX-License-Identifier: MIT */
/*
 * Sessions: creation at sign-in, the per-request check, and ending them, with the rules of
 * SPEC.md: 256-bit ids from the OS CSPRNG stored only as SHA-256, a fresh id at every
 * sign-in (a presented cookie is never adopted), a sliding idle timeout and an absolute
 * one, and last-seen writes coalesced so the hot path is a read. Also the audit trail.
 */
#ifndef LK_AUTH_SESSION_H
#define LK_AUTH_SESSION_H

#include <stdint.h>
#include "auth/password.h"
#include "auth/ratelimit.h"
#include "auth/scache.h"
#include "auth/tokens.h"
#include "store/store.h"

#define LK_COOKIE_LEN 43 /* base64url of 32 bytes */


struct lk_auth {
	struct lk_store *st;
	struct lk_authcfg cfg;
	struct lk_ratelimit *rl;
	struct lk_scache *cache; /* NULL: every check reads the store */
	struct lk_tokens *tok;   /* access tokens; NULL when not serving them */
	unsigned char refresh_key[32]; /* derives successors for the grace window */
	unsigned char csrf_key[32];    /* MACs sign-in form tokens */
};

/* Refresh tokens (refresh.c). A token is 32 random bytes, base64url; its successor is
 * HMAC(refresh_key, token) so that every caller inside the grace window gets the same
 * one without the store ever holding a token in clear. */
#define LK_REFRESH_LEN 43

/* A new family for user u (sign-in by password grant): refresh token rt and access token
 * *access for p (filled from u, client_id and scope; p->sid is the family). */
enum lk_err lk_refresh_start(struct lk_auth *a, const struct lk_user *u, const char *client_id,
			     const char *scope, int64_t now, char rt[LK_REFRESH_LEN + 1],
			     char **access, struct lk_principal *p) LK_WUR;
/* Rotate (client_id: the authenticated client, or NULL): LK_OK with a new pair (the same pair for every caller within the grace window);
 * LK_ESESSION for unknown, expired or revoked tokens; *reuse set when a used token came
 * back after the window, in which case its whole family has been revoked. */
enum lk_err lk_refresh_use(struct lk_auth *a, const char *rt, const char *client_id,
			   int64_t now, char next[LK_REFRESH_LEN + 1], char **access,
			   struct lk_principal *p, bool *reuse) LK_WUR;
/* Revoke the family of refresh token rt (RFC 7009). LK_ENOT_FOUND when unknown. */
enum lk_err lk_refresh_revoke(struct lk_auth *a, const char *rt, int64_t now) LK_WUR;

/* Start a session for u. cookie receives the secret (NUL-terminated) for Set-Cookie; only
 * its hash is stored. *out is the stored record. */
enum lk_err lk_session_start(struct lk_auth *a, const struct lk_user *u, const char *ip,
			     const char *ua, int64_t now, char cookie[LK_COOKIE_LEN + 1],
			     struct lk_session *out) LK_WUR;
/* Check a cookie value. LK_ESESSION for malformed, unknown, idle or expired (the last two
 * are deleted); LK_ESTORE and friends when the store fails. On LK_OK fills s and u. */
enum lk_err lk_session_check(struct lk_auth *a, const char *cookie, int64_t now,
			     struct lk_session *s, struct lk_user *u) LK_WUR;
/* SHA-256 of a cookie value's 32 decoded bytes; LK_ESESSION when malformed. */
enum lk_err lk_session_hash(const char *cookie, unsigned char out[32]) LK_WUR;
/* When does s end (the earlier of idle and absolute expiry)? */
int64_t lk_session_expires(const struct lk_auth *a, const struct lk_session *s);

/* Record an audit event (store) and log it (stderr). Failures to record are logged. */
void lk_audit_event(struct lk_auth *a, const char *event, const char *user, const char *ip,
		    const char *detail);

#endif
