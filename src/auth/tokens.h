/* SPDX-License-Identifier: MIT */
/*
 * Access tokens (RFC 9068 JWTs) and the state behind them: the signing key ring kept in
 * the store and the JWKS it publishes. Verification is liblatchkey's lk_verifier (the
 * same rules, denylist and verified-token cache every downstream service uses), fed by
 * hand with the ring's keys and the store's revocations. Refresh-token rotation lives in
 * refresh.c on top of this.
 *
 * Freshness: the ring is reloaded and the revocations recorded since the last reload are
 * fed to the verifier whenever the store's revocation generation moves (a key added or
 * retired, a session or family ended, a token revoked), checked with one atomic load per
 * verification; so a revocation made by any process is honoured by the very next
 * verification here. The verified-token cache holds only what a signature check
 * established (claims); the denylist is consulted on every hit.
 */
#ifndef LK_AUTH_TOKENS_H
#define LK_AUTH_TOKENS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "latchkey.h"
#include "auth/records.h"
#include "store/store.h"



struct lk_tokens;

enum lk_err lk_tokens_new(struct lk_store *st, const struct lk_tokcfg *cfg,
			  struct lk_tokens **out, struct lk_errinfo *ei) LK_WUR;
void lk_tokens_free(struct lk_tokens *t);
const struct lk_tokcfg *lk_tokens_cfg(const struct lk_tokens *t);

/* Make sure the ring has a signing key (first start), rotate when due, drop keys whose
 * tokens have all expired. Safe to call from any instance at any time. */
enum lk_err lk_tokens_maintain(struct lk_tokens *t, int64_t now) LK_WUR;
/* Add a new key now; it signs after one JWKS cache lifetime, and the current key retires
 * then. Used by `latchkey keys rotate` and the schedule. */
enum lk_err lk_tokens_rotate(struct lk_store *st, const struct lk_tokcfg *cfg, int64_t now,
			     struct lk_errinfo *ei) LK_WUR;

/* Issue an access token. p supplies sub, name, roles, scope, client_id, sid (empty
 * strings are left out); jti, iat and exp are set here and written back into p. */
enum lk_err lk_tokens_issue(struct lk_tokens *t, struct lk_principal *p, int64_t ttl,
			    int64_t now, char **token) LK_WUR;
/* Verify one of our access tokens: signature, iss, aud, typ at+jwt, times, denylist. */
enum lk_err lk_tokens_verify(struct lk_tokens *t, const char *token, size_t len, int64_t now,
			     struct lk_principal *p) LK_WUR;
/* Revoke a verified access token by its jti until it expires. */
enum lk_err lk_tokens_revoke_jti(struct lk_tokens *t, const struct lk_principal *p) LK_WUR;
/* How long a token issued now may still verify: the longer of the two access-token
 * lifetimes plus the leeway. What a revocation must outlast. */
int64_t lk_tokens_longest(const struct lk_tokcfg *c);
/* A revocation this process has just made, and the store acknowledged, denied by this
 * process's verifier at once: the store's feed brings the same event with the next reload,
 * but a reload needs the store, which may stop answering right after (restarted, cut off),
 * and the server that answered "revoked" must not accept the token meanwhile. type is
 * "jti", "sid" or "sub"; the entry lasts until `expires` (0: the longest token lifetime
 * plus leeway from now). */
void lk_tokens_deny(struct lk_tokens *t, const char *type, const char *value, int64_t before,
		    int64_t expires);

/* The current public JWKS document (a copy to free()). */
char *lk_tokens_jwks(struct lk_tokens *t);
/* The algorithms the ring signs with, for discovery. */
const char *lk_tokens_alg_name(const struct lk_tokens *t);

/* Encrypt / decrypt a private JWK for storage under the master key ("enc:v1:..."). */
enum lk_err lk_keyseal(const struct lk_tokcfg *cfg, const char *jwk, char *out, size_t size);
enum lk_err lk_keyopen(const struct lk_tokcfg *cfg, const char *stored, char **jwk);

#endif
