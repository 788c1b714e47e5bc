/* SPDX-License-Identifier: MIT */
/*
 * Refresh-token rotation with reuse detection (see auth_int.h). The store's
 * refresh_claim is the linearisation point: of concurrent callers presenting the same
 * token, exactly one moves it from unused to used and stores the access token it issued;
 * the others, inside the grace window, get that same access token and the same successor
 * (derived, never stored in clear; its row is added before the claim); a presentation
 * after the window is theft or a bug, and ends the whole family together with every
 * access token it carries (sid = family).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "auth/auth_int.h"
#include "util/b64url.h"

static enum lk_err decode_rt(const char *rt, unsigned char raw[32], unsigned char hash[32])
{
	unsigned char b[33];
	size_t n;
	if (!rt || strlen(rt) != LK_REFRESH_LEN ||
	    lk_b64url_decode(rt, LK_REFRESH_LEN, b, sizeof b, &n) || n != 32)
		return LK_ESESSION;
	memcpy(raw, b, 32);
	crypto_hash_sha256(hash, raw, 32);
	sodium_memzero(b, sizeof b);
	return LK_OK;
}

static void successor(const struct lk_auth *a, const unsigned char raw[32], unsigned char out[32])
{
	crypto_auth_hmacsha256(out, raw, 32, a->refresh_key);
}

static void principal_of(struct lk_principal *p, const struct lk_user *u, const char *client_id,
			 const char *scope, const char *family)
{
	memset(p, 0, sizeof *p);
	snprintf(p->sub, sizeof p->sub, "%lld", (long long)u->id);
	snprintf(p->name, sizeof p->name, "%s", u->name);
	snprintf(p->roles, sizeof p->roles, "%s", u->roles);
	snprintf(p->client_id, sizeof p->client_id, "%s", client_id ? client_id : "");
	snprintf(p->scope, sizeof p->scope, "%s", scope ? scope : "");
	snprintf(p->sid, sizeof p->sid, "%s", family);
}

static enum lk_err add_row(struct lk_auth *a, const unsigned char raw[32], const char *family,
			   const struct lk_principal *p, int64_t user_id, int64_t now)
{
	struct lk_refresh *r = calloc(1, sizeof *r);
	enum lk_err err;
	if (!r)
		return LK_ENOMEM;
	crypto_hash_sha256(r->hash, raw, 32);
	snprintf(r->family, sizeof r->family, "%s", family);
	r->user_id = user_id;
	snprintf(r->client_id, sizeof r->client_id, "%s", p->client_id);
	snprintf(r->scope, sizeof r->scope, "%s", p->scope);
	r->created = now;
	r->expires = now + lk_tokens_cfg(a->tok)->refresh_ttl;
	err = a->st->ops->refresh_add(a->st, r);
	free(r);
	return err;
}

enum lk_err lk_refresh_start(struct lk_auth *a, const struct lk_user *u, const char *client_id,
			     const char *scope, int64_t now, char rt[LK_REFRESH_LEN + 1],
			     char **access, struct lk_principal *p)
{
	unsigned char raw[32], fam[16];
	char family[LK_HANDLE_LEN + 1];
	enum lk_err err;

	*access = NULL;
	randombytes_buf(fam, sizeof fam);
	lk_b64url_encode(fam, sizeof fam, family);
	randombytes_buf(raw, sizeof raw);
	principal_of(p, u, client_id, scope, family);
	if ((err = add_row(a, raw, family, p, u->id, now)) ||
	    (err = lk_tokens_issue(a->tok, p, lk_tokens_cfg(a->tok)->access_ttl, now, access))) {
		sodium_memzero(raw, sizeof raw);
		return err;
	}
	lk_b64url_encode(raw, sizeof raw, rt);
	sodium_memzero(raw, sizeof raw);
	return LK_OK;
}

enum lk_err lk_refresh_use(struct lk_auth *a, const char *rt, const char *client_id,
			   int64_t now, char next[LK_REFRESH_LEN + 1], char **access,
			   struct lk_principal *p, bool *reuse)
{
	const struct lk_tokcfg *cfg = lk_tokens_cfg(a->tok);
	unsigned char raw[32], hash[32], succ[32];
	struct lk_refresh *r = calloc(1, sizeof *r);
	struct lk_user u;
	enum lk_err err;

	*access = NULL;
	*reuse = false;
	if (!r)
		return LK_ENOMEM;
	if ((err = decode_rt(rt, raw, hash)))
		goto out;
	err = a->st->ops->refresh_get(a->st, hash, r);
	if (err == LK_ENOT_FOUND)
		err = LK_ESESSION;
	if (err)
		goto out;
	/* expired, or issued to a confidential client that did not authenticate as itself */
	if (r->expires <= now || (r->client_id[0] && (!client_id || strcmp(client_id, r->client_id)))) {
		err = LK_ESESSION;
		goto out;
	}
	err = a->st->ops->user_get_id(a->st, r->user_id, &u);
	if (err == LK_ENOT_FOUND)
		err = LK_ESESSION;
	if (err)
		goto out;
	principal_of(p, &u, r->client_id, r->scope, r->family);
	successor(a, raw, succ);
	if (!r->used_at) {
		if ((err = lk_tokens_issue(a->tok, p, cfg->access_ttl, now, access)))
			goto out;
		/* The successor's row before the claim: a claim whose answer was lost (the store
		 * restarted or timed out under it) may have landed all the same, and a retry in
		 * the grace window is then handed this successor, so it must exist by then. The
		 * successor is derived, so a racer or an earlier attempt adds the very same row:
		 * LK_EEXISTS is that row. */
		err = add_row(a, succ, r->family, p, r->user_id, now);
		if (err == LK_OK || err == LK_EEXISTS)
			err = a->st->ops->refresh_claim(a->st, hash, now, *access);
		if (err == LK_OK) {
			lk_b64url_encode(succ, sizeof succ, next);
			goto out;
		}
		free(*access);
		*access = NULL;
		if (err != LK_EEXISTS)
			goto out;
		/* lost the race: read what the winner stored */
		if ((err = a->st->ops->refresh_get(a->st, hash, r)))
			goto out;
	}
	if (now - r->used_at <= cfg->refresh_grace && r->next_access[0]) {
		if (!(*access = strdup(r->next_access))) {
			err = LK_ENOMEM;
			goto out;
		}
		p->iat = r->used_at;
		p->exp = r->used_at + cfg->access_ttl;
		lk_b64url_encode(succ, sizeof succ, next);
		err = LK_OK;
		goto out;
	}
	/* A used token after the grace window: someone replayed it. End the family. */
	*reuse = true;
	int64_t n = 0;
	err = lk_refresh_family_end(a, r->family, now, &n);
	if (!err)
		err = LK_ESESSION;
out:
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(succ, sizeof succ);
	free(r);
	return err;
}

enum lk_err lk_refresh_family_end(struct lk_auth *a, const char *family, int64_t now,
				  int64_t *n)
{
	int64_t until = lk_refresh_revoke_until(a, now);
	enum lk_err err = a->st->ops->family_revoke(a->st, family, until, n);
	if (!err && a->tok)
		lk_tokens_deny(a->tok, "sid", family, 0, until);
	return err;
}

int64_t lk_refresh_revoke_until(const struct lk_auth *a, int64_t now)
{
	/* the server's own lifetimes; a command-line process uses what the servers stored */
	int64_t ttl = 0;
	if (a->tok)
		ttl = lk_tokens_cfg(a->tok)->access_ttl + lk_tokens_cfg(a->tok)->leeway;
	else if (a->st->ops->revocation_ttl(a->st, &ttl) != LK_OK || ttl <= 0)
		ttl = lk_tokens_longest(&a->cfg.tok);
	return now + ttl;
}

enum lk_err lk_refresh_find(struct lk_auth *a, const char *rt, struct lk_refresh **out)
{
	unsigned char raw[32], hash[32];
	struct lk_refresh *r;
	enum lk_err err;

	*out = NULL;
	if ((err = decode_rt(rt, raw, hash)))
		return err;
	sodium_memzero(raw, sizeof raw);
	if (!(r = calloc(1, sizeof *r)))
		return LK_ENOMEM;
	err = a->st->ops->refresh_get(a->st, hash, r);
	if (err) {
		free(r);
		return err == LK_ENOT_FOUND ? LK_ESESSION : err;
	}
	*out = r;
	return LK_OK;
}
