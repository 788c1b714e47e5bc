/* SPDX-License-Identifier: MIT */
/*
 * Session lifecycle (see auth.h). The cookie secret is 32 bytes from libsodium's
 * randombytes (getrandom(2)); the store keys sessions by SHA-256 of those bytes, so a
 * copy of the database does not let anyone sign in. The public handle shown in listings
 * and the CSRF token are independent random values, never derived from the secret.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "auth/auth_int.h"
#include "util/b64url.h"
#include "util/log.h"
#include "util/utf8.h"

static void rand_b64(char *out, size_t nbytes)
{
	unsigned char b[32];
	randombytes_buf(b, nbytes);
	lk_b64url_encode(b, nbytes, out);
	sodium_memzero(b, sizeof b);
}

enum lk_err lk_session_hash(const char *cookie, unsigned char out[32])
{
	unsigned char raw[33];
	size_t n;
	if (!cookie || strlen(cookie) != LK_COOKIE_LEN ||
	    lk_b64url_decode(cookie, LK_COOKIE_LEN, raw, sizeof raw, &n) || n != 32)
		return LK_ESESSION;
	crypto_hash_sha256(out, raw, 32);
	sodium_memzero(raw, sizeof raw);
	return LK_OK;
}

enum lk_err lk_session_start(struct lk_auth *a, const struct lk_user *u, const char *ip,
			     const char *ua, int64_t now, char cookie[LK_COOKIE_LEN + 1],
			     struct lk_session *out)
{
	unsigned char secret[32];
	struct lk_session s;
	enum lk_err err;

	memset(&s, 0, sizeof s);
	randombytes_buf(secret, sizeof secret);
	crypto_hash_sha256(s.id_hash, secret, sizeof secret);
	lk_b64url_encode(secret, sizeof secret, cookie);
	sodium_memzero(secret, sizeof secret);
	rand_b64(s.handle, 16);
	rand_b64(s.csrf, 32);
	s.user_id = u->id;
	s.created = s.last_seen = now;
	s.expires = now + a->cfg.absolute;
	snprintf(s.ip, sizeof s.ip, "%s", ip ? ip : "");
	/* kept and shown, never refused: as valid UTF-8, cut at a character (utf8.h) */
	lk_utf8_clean(s.user_agent, sizeof s.user_agent, ua);
	if ((err = a->st->ops->session_add(a->st, &s))) {
		sodium_memzero(cookie, LK_COOKIE_LEN + 1);
		return err;
	}
	*out = s;
	return LK_OK;
}

static bool ended(const struct lk_auth *a, const struct lk_session *s, int64_t now)
{
	return now >= s->expires || now >= s->last_seen + a->cfg.idle;
}

enum lk_err lk_session_check(struct lk_auth *a, const char *cookie, int64_t now,
			     struct lk_session *s, struct lk_user *u)
{
	const struct lk_store_ops *ops = a->st->ops;
	unsigned char h[32];
	enum lk_err err;
	bool cached = a->cache && ops->generation;
	uint64_t gen = cached ? ops->generation(a->st) : 0;

	if (lk_session_hash(cookie, h))
		return LK_ESESSION;
	/* A cached copy that looks ended is re-read: another process may have touched it. */
	if (!cached || !lk_scache_get(a->cache, h, gen, s, u) || ended(a, s, now)) {
		err = ops->session_get(a->st, h, s);
		if (err == LK_ENOT_FOUND)
			return LK_ESESSION;
		if (err)
			return err;
		if (ended(a, s, now)) {
			(void)ops->session_del(a->st, h); /* best effort; purge also catches it */
			return LK_ESESSION;
		}
		err = ops->user_get_id(a->st, s->user_id, u);
		if (err == LK_ENOT_FOUND)
			return LK_ESESSION;
		if (err)
			return err;
		if (cached)
			lk_scache_put(a->cache, h, gen, s, u);
	}
	if (now - s->last_seen >= a->cfg.touch) {
		/* Coalesced: at most one write per session per cfg.touch seconds. A failed touch
		 * does not fail the request; the session simply ages from its last write. */
		err = ops->session_touch(a->st, h, now, now - a->cfg.touch + 1);
		if (err == LK_ENOT_FOUND) {
			/* gone since it was cached (ended through another path): never serve it */
			if (a->cache)
				lk_scache_del(a->cache, h);
			return LK_ESESSION;
		}
		if (err == LK_OK) {
			s->last_seen = now;
			if (cached)
				lk_scache_put(a->cache, h, gen, s, u);
		}
	}
	return LK_OK;
}
