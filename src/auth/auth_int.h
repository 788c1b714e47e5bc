/* SPDX-License-Identifier: MIT */
/*
 * Inside the auth core (see auth.h): the struct behind the opaque handle, and the pieces
 * that session.c, refresh.c and auth.c share. Only src/auth includes this.
 */
#ifndef LK_AUTH_INT_H
#define LK_AUTH_INT_H

#include <stdint.h>
#include "auth/auth.h"
#include "auth/password.h"
#include "auth/ratelimit.h"
#include "auth/revfeed.h"
#include "auth/scache.h"
#include "auth/tokens.h"
#include "store/store.h"

struct lk_auth {
	struct lk_store *st;
	struct lk_authcfg cfg;
	struct lk_ratelimit *rl;
	struct lk_scache *cache;       /* NULL: every check reads the store */
	struct lk_tokens *tok;         /* NULL until lk_auth_start */
	struct lk_pool *pool;          /* Argon2 workers; NULL until lk_auth_start */
	struct lk_revfeed *feed;       /* the revocation hub; NULL until lk_auth_start */
	unsigned char refresh_key[32]; /* derives successors for the grace window */
	unsigned char csrf_key[32];    /* MACs sign-in form tokens */
};

/* session.c */
enum lk_err lk_session_start(struct lk_auth *a, const struct lk_user *u, const char *ip,
			     const char *ua, int64_t now, char cookie[LK_COOKIE_LEN + 1],
			     struct lk_session *out) LK_WUR;
enum lk_err lk_session_check(struct lk_auth *a, const char *cookie, int64_t now,
			     struct lk_session *s, struct lk_user *u) LK_WUR;
/* SHA-256 of a cookie value's 32 decoded bytes; LK_ESESSION when malformed. */
enum lk_err lk_session_hash(const char *cookie, unsigned char out[32]) LK_WUR;

/* refresh.c: a token is 32 random bytes, base64url; its successor is HMAC(refresh_key,
 * token), so every caller inside the grace window gets the same one without the store
 * ever holding a token in clear. The successor's row is added before the token is
 * claimed, so a successor handed out (to a retry of a rotation whose answer was lost,
 * too) always exists. */
enum lk_err lk_refresh_start(struct lk_auth *a, const struct lk_user *u, const char *client_id,
			     const char *scope, int64_t now, char rt[LK_REFRESH_LEN + 1],
			     char **access, struct lk_principal *p) LK_WUR;
enum lk_err lk_refresh_use(struct lk_auth *a, const char *rt, const char *client_id,
			   int64_t now, char next[LK_REFRESH_LEN + 1], char **access,
			   struct lk_principal *p, bool *reuse) LK_WUR;
/* Look up refresh token rt: LK_OK and *out (heap: free()), LK_ESESSION when malformed or
 * unknown. */
enum lk_err lk_refresh_find(struct lk_auth *a, const char *rt, struct lk_refresh **out) LK_WUR;
/* How long a revoked family's `sid` stays in the denylist: its last access token's life. */
int64_t lk_refresh_revoke_until(const struct lk_auth *a, int64_t now);
/* End a family: in the store (its tokens go, a `sid` revocation is recorded) and, once the
 * store has it, in this process's verifier too (lk_tokens_deny). *n: tokens deleted. */
enum lk_err lk_refresh_family_end(struct lk_auth *a, const char *family, int64_t now,
				  int64_t *n) LK_WUR;

#endif
