/* SPDX-License-Identifier: MIT */
/*
 * The auth core's operations (see auth.h): each says what a caller wants and does it on
 * the store once, with the audit record. session.c, refresh.c, tokens.c and ratelimit.c
 * hold the mechanisms; this file holds the policy that ties them together.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "auth/auth_int.h"
#include "util/b64url.h"
#include "util/err.h"
#include "util/log.h"
#include "util/utf8.h"

static int64_t wall_now(void) { return (int64_t)time(NULL); }

static const char *who(const struct lk_actor *by) { return by && by->name ? by->name : ""; }
static const char *where(const struct lk_actor *by) { return by && by->ip ? by->ip : ""; }

/* The store's report of a revocation it has just committed for a change by user (sign a
 * user or everyone out, a password change, a deletion): denied by this process's verifier
 * at once, as lk_tokens_deny does for the revocations of one token, session or family. The
 * reload from the store would bring it too, but only while the store answers: a server
 * that answered "signed out" must not accept those tokens while its store is away. */
static int deny_recorded(void *ud, const struct lk_revocation *r)
{
	struct lk_auth *a = ud;
	lk_tokens_deny(a->tok, r->type, r->value, r->before, r->expires);
	return 0;
}

/* ---------------------------------------------------------------- open, start, close */

enum lk_err lk_auth_open(const struct lk_authcfg *cfg, const char *store_url,
			 struct lk_auth **out, struct lk_errinfo *ei)
{
	struct lk_auth *a = calloc(1, sizeof *a);
	enum lk_err err;

	*out = NULL;
	if (!a)
		return lk_errf(ei, LK_ENOMEM, "out of memory");
	if ((err = lk_pw_check_cost(&cfg->cost, ei))) {
		free(a);
		return err;
	}
	a->cfg = *cfg;
	if ((err = lk_store_open(store_url, &a->st, ei))) {
		free(a);
		return err;
	}
	if ((err = lk_rl_new(&a->cfg.rl, &a->rl))) {
		lk_auth_close(a);
		return lk_errf(ei, err, "cannot create the sign-in limiter");
	}
	lk_rl_use_store(a->rl, a->st);
	*out = a;
	return LK_OK;
}

void lk_auth_close(struct lk_auth *a)
{
	if (!a)
		return;
	lk_pool_free(a->pool); /* finishes queued sign-ins first */
	lk_revfeed_free(a->feed);
	lk_rl_free(a->rl);
	lk_scache_free(a->cache);
	lk_tokens_free(a->tok);
	lk_store_close(a->st);
	sodium_memzero(a->refresh_key, sizeof a->refresh_key);
	sodium_memzero(a->csrf_key, sizeof a->csrf_key);
	free(a);
}

const struct lk_authcfg *lk_auth_cfg(const struct lk_auth *a) { return &a->cfg; }

/* First start on an empty store: an `admin` user with a random password, shown once.
 * Instances starting together race on user_add; exactly one wins and prints. */
static enum lk_err bootstrap_admin(struct lk_auth *a, char pw[32])
{
	int64_t n = 0;
	unsigned char raw[15];
	struct lk_user u;
	enum lk_err err;

	pw[0] = '\0';
	if ((err = a->st->ops->user_count(a->st, &n)) || n > 0)
		return err;
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(pw, 32, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	memset(&u, 0, sizeof u);
	snprintf(u.name, sizeof u.name, "admin");
	snprintf(u.roles, sizeof u.roles, "admin");
	u.created = u.pw_changed = wall_now();
	if (!(err = lk_pw_hash(&a->cfg.cost, pw, strlen(pw), u.phc)))
		err = a->st->ops->user_add(a->st, &u);
	sodium_memzero(u.phc, sizeof u.phc);
	if (err) {
		sodium_memzero(pw, 32);
		return err == LK_EEXISTS ? LK_OK : err;
	}
	lk_auth_audit(a, "user_add", "admin", "", "first start");
	return LK_OK;
}

enum lk_err lk_auth_start(struct lk_auth *a, char admin_pw[32], struct lk_errinfo *ei)
{
	const struct lk_tokcfg *tc = &a->cfg.tok;
	enum lk_err err;

	if ((err = bootstrap_admin(a, admin_pw)))
		return lk_errf(ei, err, "cannot create the first admin");
	if ((err = a->st->ops->set_revocation_ttl(a->st, lk_tokens_longest(tc))) ||
	    (err = a->st->ops->secret(a->st, "refresh", a->refresh_key)) ||
	    (err = a->st->ops->secret(a->st, "csrf", a->csrf_key)))
		return lk_errf(ei, err, "cannot read the shared secrets");
	if ((err = lk_tokens_new(a->st, tc, &a->tok, ei)) ||
	    (err = lk_tokens_maintain(a->tok, wall_now())))
		return ei && ei->detail[0] ? err : lk_errf(ei, err, "cannot prepare the signing keys");
	char *jwks = lk_tokens_jwks(a->tok);
	if (!jwks)
		return lk_errf(ei, LK_EKEY, "cannot load the signing keys (is the master key right?)");
	free(jwks);
	if ((err = lk_pw_init(&a->cfg.cost)))
		return lk_errf(ei, err, "cannot prepare password hashing");
	if (a->cfg.session_cache && (err = lk_scache_new(a->cfg.session_cache, &a->cache)))
		return lk_errf(ei, err, "out of memory");
	if ((err = lk_pool_new(a->cfg.signin_workers ? a->cfg.signin_workers : 1,
			       a->cfg.signin_queue ? a->cfg.signin_queue : 1, a->cfg.signin_wait * 1000,
			       &a->pool)))
		return lk_errf(ei, err, "cannot start the sign-in workers");
	if ((err = lk_revfeed_new(a->st, &a->feed)))
		return lk_errf(ei, err, "cannot start the revocation feed");
	return LK_OK;
}

enum lk_err lk_auth_revocations(struct lk_auth *a, int64_t after, struct lk_revevent **out,
				size_t *n, int64_t *cursor)
{
	if (!a->feed)
		return LK_EINVAL;
	return lk_revfeed_snapshot(a->feed, after, out, n, cursor);
}

enum lk_err lk_auth_revstream_open(struct lk_auth *a, int64_t after, unsigned ping_s,
				   void (*wake)(void *ud), void *ud, struct lk_revstream **out)
{
	if (!a->feed)
		return LK_EINVAL;
	return lk_revfeed_stream_open(a->feed, after, ping_s, wake, ud, out);
}

size_t lk_auth_revstream_next(struct lk_revstream *rs, struct lk_revevent *ev, size_t max,
			      bool *ping)
{
	return lk_revfeed_stream_next(rs, ev, max, ping);
}

bool lk_auth_revstream_arm(struct lk_revstream *rs) { return lk_revfeed_stream_arm(rs); }

void lk_auth_revstream_close(struct lk_revstream *rs) { lk_revfeed_stream_close(rs); }

enum lk_err lk_auth_ready(struct lk_auth *a) { return a->st->ops->ping(a->st); }

void lk_auth_upkeep(struct lk_auth *a, int64_t now)
{
	int64_t n = 0;
	enum lk_err err = a->st->ops->session_purge(a->st, now, now - a->cfg.idle, &n);
	if (err)
		lk_log("warn", "session purge failed", "reason", lk_err_str(err), (char *)NULL);
	if (!a->tok)
		return;
	if ((err = a->st->ops->refresh_purge(a->st, now, now - a->cfg.tok.refresh_grace, &n)))
		lk_log("warn", "refresh purge failed", "reason", lk_err_str(err), (char *)NULL);
	if ((err = lk_tokens_maintain(a->tok, now)))
		lk_log("warn", "key ring maintenance failed", "reason", lk_err_str(err), (char *)NULL);
}

/* ---------------------------------------------------------------- sign-in */

static void wipe_pw(char **pw, size_t len)
{
	if (*pw) {
		sodium_memzero(*pw, len);
		free(*pw);
		*pw = NULL;
	}
}

/*
 * The Argon2 jobs, in the pool's two halves: the check (and a change's new hash) runs on a
 * worker, which takes no lock (see password.c), so wiping and freeing the passwords and
 * telling the request (done, which resumes its connection) are the second half, on the
 * pool's completer.
 */
static void signin_work(void *arg)
{
	struct lk_signin *si = arg;
	si->ok = lk_pw_verify(si->found ? si->user.phc : NULL, si->pw, si->pwlen);
}

static void passwd_work(void *arg)
{
	struct lk_signin *si = arg;
	si->ok = lk_pw_verify(si->found ? si->user.phc : NULL, si->pw, si->pwlen);
	if (si->ok)
		si->hashed = lk_pw_hash(&si->a->cfg.cost, si->npw, si->npwlen, si->nphc) == LK_OK;
}

static void pw_finish(void *arg)
{
	struct lk_signin *si = arg;
	wipe_pw(&si->pw, si->pwlen);
	wipe_pw(&si->npw, si->npwlen);
	si->done(si->arg);
}

/* A sign-in or change that waited too long for a worker: answered busy, nothing checked. */
static void pw_expired(void *arg)
{
	struct lk_signin *si = arg;
	si->busy = true;
	pw_finish(si);
}

/* The shared body of both begins; si is set up by the caller (name, grant, npw). */
static enum lk_err pw_begin(struct lk_auth *a, struct lk_signin *si, const char *name,
			    const char *ip, char *pw, void (*done)(void *arg), void *arg,
			    int64_t *retry_after)
{
	size_t pwlen = pw ? strlen(pw) : 0;
	enum lk_err err;

	si->a = a;
	snprintf(si->user.name, sizeof si->user.name, "%s", name);
	snprintf(si->ip, sizeof si->ip, "%s", ip ? ip : "");
	if (!pw || !a->pool) {
		wipe_pw(&pw, pwlen);
		return LK_EINVAL;
	}
	err = lk_rl_take(a->rl, name, si->ip, wall_now(), retry_after);
	if (err) {
		if (err == LK_ERATE_LIMITED)
			lk_auth_audit(a, "login_limited", name, si->ip, "rate limited");
		wipe_pw(&pw, pwlen);
		return err;
	}
	err = a->st->ops->user_get(a->st, name, &si->user);
	if (err && err != LK_ENOT_FOUND) {
		lk_rl_release(a->rl, name, si->ip, wall_now());
		wipe_pw(&pw, pwlen);
		return err;
	}
	si->found = err == LK_OK;
	si->pw = pw;
	si->pwlen = pwlen;
	si->done = done;
	si->arg = arg;
	if ((err = lk_pool_submit(a->pool, si->change ? passwd_work : signin_work, pw_finish,
				  pw_expired, si))) {
		/* not an attempt: give the reserved failure back */
		lk_rl_release(a->rl, name, si->ip, wall_now());
		wipe_pw(&si->pw, si->pwlen);
		return err;
	}
	return LK_OK;
}

enum lk_err lk_auth_signin_begin(struct lk_auth *a, struct lk_signin *si, const char *name,
				 const char *ip, bool grant, char *pw, void (*done)(void *arg),
				 void *arg, int64_t *retry_after)
{
	memset(si, 0, sizeof *si);
	si->grant = grant;
	return pw_begin(a, si, name, ip, pw, done, arg, retry_after);
}

enum lk_err lk_auth_passwd_begin(struct lk_auth *a, struct lk_signin *si, const char *name,
				 const char *ip, char *current, char *next,
				 void (*done)(void *arg), void *arg, int64_t *retry_after)
{
	size_t nlen = next ? strlen(next) : 0;
	memset(si, 0, sizeof *si);
	si->change = true;
	si->npw = next;
	si->npwlen = nlen;
	if (!next || nlen < LK_PW_MIN || nlen >= LK_PW_MAX) {
		wipe_pw(&si->npw, si->npwlen);
		wipe_pw(&current, current ? strlen(current) : 0);
		return LK_EINVAL;
	}
	enum lk_err err = pw_begin(a, si, name, ip, current, done, arg, retry_after);
	if (err)
		wipe_pw(&si->npw, si->npwlen);
	return err;
}

enum lk_err lk_auth_passwd_end(struct lk_auth *a, struct lk_signin *si, const char *user_agent,
			       int64_t now, char cookie[LK_COOKIE_LEN + 1], struct lk_session *out)
{
	enum lk_err err;
	if (si->busy) { /* never checked: not an attempt */
		lk_rl_release(a->rl, si->user.name, si->ip, wall_now());
		return LK_EBUSY;
	}
	if (!si->ok) {
		lk_auth_audit(a, "password_change_failed", si->user.name, si->ip,
			      "wrong current password");
		return LK_EBAD_CREDENTIALS;
	}
	lk_rl_release(a->rl, si->user.name, si->ip, wall_now());
	if (!si->hashed)
		return LK_ECRYPTO; /* libsodium could not hash (out of memory) */
	err = a->st->ops->user_set_password(a->st, si->user.name, si->nphc, now, deny_recorded, a);
	sodium_memzero(si->nphc, sizeof si->nphc);
	if (err)
		return err;
	lk_auth_audit(a, "password_changed", si->user.name, si->ip,
		      "by the user; every session and refresh token revoked");
	/* the store dropped every session; cached copies are stale by its generation */
	if ((err = lk_session_start(a, &si->user, si->ip, user_agent, now, cookie, out)))
		return err;
	lk_auth_audit(a, "login", si->user.name, si->ip, out->handle);
	return LK_OK;
}

enum lk_err lk_auth_signin_end(struct lk_auth *a, struct lk_signin *si)
{
	if (si->busy) { /* never checked: not an attempt */
		lk_rl_release(a->rl, si->user.name, si->ip, wall_now());
		return LK_EBUSY;
	}
	if (si->ok) {
		lk_rl_release(a->rl, si->user.name, si->ip, wall_now());
		return LK_OK;
	}
	lk_auth_audit(a, "login_failed", si->user.name, si->ip,
		      si->found ? (si->grant ? "wrong password (password grant)" : "wrong password")
				: (si->grant ? "unknown user (password grant)" : "unknown user"));
	return LK_EBAD_CREDENTIALS;
}

void lk_auth_signin_free(struct lk_signin *si)
{
	wipe_pw(&si->pw, si->pwlen);
	wipe_pw(&si->npw, si->npwlen);
	sodium_memzero(si->nphc, sizeof si->nphc);
	sodium_memzero(si->user.phc, sizeof si->user.phc);
}

/* ---------------------------------------------------------------- sessions */

static void forget_session(struct lk_auth *a, const unsigned char id_hash[32])
{
	if (a->cache)
		lk_scache_del(a->cache, id_hash);
}

enum lk_err lk_auth_session_start(struct lk_auth *a, const struct lk_user *u, const char *ip,
				  const char *user_agent, const char *old, int64_t now,
				  char cookie[LK_COOKIE_LEN + 1], struct lk_session *out)
{
	unsigned char oh[32];
	enum lk_err err;

	/* Never adopt a presented cookie: end whatever session it names, issue a new one. */
	if (old && lk_session_hash(old, oh) == LK_OK) {
		(void)a->st->ops->session_del(a->st, oh);
		forget_session(a, oh);
	}
	if ((err = lk_session_start(a, u, ip, user_agent, now, cookie, out)))
		return err;
	lk_auth_audit(a, "login", u->name, ip, out->handle);
	return LK_OK;
}

enum lk_err lk_auth_session_check(struct lk_auth *a, const char *cookie, int64_t now,
				  struct lk_session *s, struct lk_user *u)
{
	return lk_session_check(a, cookie, now, s, u);
}

int64_t lk_auth_session_expires(const struct lk_auth *a, const struct lk_session *s)
{
	int64_t idle_end = s->last_seen + a->cfg.idle;
	return idle_end < s->expires ? idle_end : s->expires;
}

/* End the family of refresh token rt when it is user_id's (< 0: anyone's); *owner_ok
 * false when it belongs to someone else. LK_ESESSION when unknown or malformed. */
static enum lk_err end_family(struct lk_auth *a, const char *rt, int64_t user_id,
			      const char *client_id, int64_t now, bool *owner_ok)
{
	struct lk_refresh *r = NULL;
	int64_t n = 0;
	enum lk_err err = lk_refresh_find(a, rt, &r);

	*owner_ok = false;
	if (err)
		return err;
	*owner_ok = (user_id < 0 || r->user_id == user_id) &&
		    (!client_id || strcmp(client_id, r->client_id) == 0);
	if (*owner_ok)
		err = lk_refresh_family_end(a, r->family, now, &n);
	sodium_memzero(r->next_access, sizeof r->next_access);
	free(r);
	return err;
}

enum lk_err lk_auth_logout(struct lk_auth *a, const struct lk_actor *by, const struct lk_session *s,
			   const struct lk_user *u, const char *refresh_token)
{
	enum lk_err err = a->st->ops->session_del(a->st, s->id_hash);
	bool mine;

	forget_session(a, s->id_hash);
	if (err && err != LK_ENOT_FOUND)
		return err;
	if (!err) /* its tokens (sid = the handle) are refused here at once */
		lk_tokens_deny(a->tok, "sid", s->handle, 0, 0);
	if (refresh_token && a->tok) {
		err = end_family(a, refresh_token, u->id, NULL, wall_now(), &mine);
		if (err && err != LK_ESESSION)
			return err;
	}
	lk_auth_audit(a, "logout", u->name, where(by), s->handle);
	return LK_OK;
}

enum lk_err lk_auth_refresh_end(struct lk_auth *a, const struct lk_actor *by, const char *rt)
{
	bool mine;
	if (!a->tok || !rt)
		return LK_OK;
	enum lk_err err = end_family(a, rt, -1, NULL, wall_now(), &mine);
	if (err == LK_ESESSION)
		return LK_OK;
	if (!err)
		lk_auth_audit(a, "logout", who(by), where(by), "browser refresh-token family");
	return err;
}

struct live_filter {
	const struct lk_auth *a;
	int64_t now;
	lk_session_cb cb;
	void *ud;
};

/* Ended sessions (idle or past their absolute expiry) stay in the store until the purge;
 * a listing never shows them. The User-Agent goes out as valid UTF-8 whatever the store
 * holds (one kept by an older latchkey, or cut inside a character by a store). */
static int live_only(void *ud, const struct lk_session *s)
{
	struct live_filter *f = ud;
	struct lk_session c;
	if (lk_auth_session_expires(f->a, s) <= f->now)
		return 0;
	if (lk_utf8_valid(s->user_agent, strlen(s->user_agent)))
		return f->cb(f->ud, s);
	c = *s;
	lk_utf8_clean(c.user_agent, sizeof c.user_agent, s->user_agent);
	int rc = f->cb(f->ud, &c);
	sodium_memzero(&c, sizeof c);
	return rc;
}

enum lk_err lk_auth_sessions(struct lk_auth *a, int64_t user_id, lk_session_cb cb, void *ud)
{
	struct live_filter f = {a, wall_now(), cb, ud};
	return a->st->ops->session_list(a->st, user_id, live_only, &f);
}

enum lk_err lk_auth_session_count(struct lk_auth *a, int64_t now, int64_t *n)
{
	return a->st->ops->session_count(a->st, now, n);
}

/* ---------------------------------------------------------------- revocation */

static bool handle_ok(const char *h)
{
	unsigned char b[17];
	size_t n;
	return h && strlen(h) == LK_HANDLE_LEN &&
	       lk_b64url_decode(h, LK_HANDLE_LEN, b, sizeof b, &n) == LK_OK && n == 16;
}

struct find_ctx {
	const char *want;
	int64_t user_id;
	bool hit;
};

static int find_handle(void *ud, const struct lk_session *s)
{
	struct find_ctx *c = ud;
	if (strcmp(s->handle, c->want) != 0)
		return 0;
	c->user_id = s->user_id;
	c->hit = true;
	return 1;
}

enum lk_err lk_auth_revoke_session(struct lk_auth *a, const struct lk_actor *by, int64_t user_id,
				   const char *handle)
{
	enum lk_err err;

	if (!handle_ok(handle))
		return LK_ENOT_FOUND;
	if (user_id < 0) {
		struct find_ctx c = {handle, -1, false};
		if ((err = a->st->ops->session_list(a->st, -1, find_handle, &c)))
			return err;
		if (!c.hit)
			return LK_ENOT_FOUND;
		user_id = c.user_id;
	}
	if ((err = a->st->ops->session_del_handle(a->st, user_id, handle)))
		return err;
	lk_tokens_deny(a->tok, "sid", handle, 0, 0);
	/* the cache holds sessions by secret hash, which a handle does not give: the store's
	 * revocation generation has moved, so every cached copy is stale already */
	lk_auth_audit(a, "revoke", who(by), where(by), handle);
	return LK_OK;
}

enum lk_err lk_auth_revoke_user(struct lk_auth *a, const struct lk_actor *by, int64_t user_id,
				const unsigned char *keep, struct lk_revoked *out)
{
	struct lk_revoked n = {0, 0};
	char d[160];
	enum lk_err err;

	int64_t until = lk_refresh_revoke_until(a, wall_now());
	err = a->st->ops->revoke_user(a->st, user_id, keep, until, &n.sessions, &n.families,
				      deny_recorded, a);
	if (err)
		return err;
	if (user_id < 0) {
		snprintf(d, sizeof d, "everyone: %lld sessions, %lld refresh families",
			 (long long)n.sessions, (long long)n.families);
	} else {
		struct lk_user u;
		if (a->st->ops->user_get_id(a->st, user_id, &u) != LK_OK)
			snprintf(u.name, sizeof u.name, "#%lld", (long long)user_id);
		snprintf(d, sizeof d, "%s %s: %lld sessions, %lld refresh families",
			 keep ? "others of" : "user", u.name, (long long)n.sessions,
			 (long long)n.families);
	}
	lk_auth_audit(a, keep ? "revoke_others" : "revoke_all", who(by), where(by), d);
	if (out)
		*out = n;
	return LK_OK;
}

/* ---------------------------------------------------------------- users, audit */

enum lk_err lk_auth_user_get(struct lk_auth *a, const char *name, struct lk_user *out)
{
	return a->st->ops->user_get(a->st, name, out);
}

enum lk_err lk_auth_user_by_id(struct lk_auth *a, int64_t id, struct lk_user *out)
{
	return a->st->ops->user_get_id(a->st, id, out);
}

enum lk_err lk_auth_users(struct lk_auth *a, lk_user_cb cb, void *ud)
{
	return a->st->ops->user_list(a->st, cb, ud);
}

bool lk_auth_name_ok(const char *n)
{
	size_t len = n ? strlen(n) : 0;
	if (!len || len > LK_NAME_MAX)
		return false;
	for (const char *p = n; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._@-", *p))
			return false;
	return true;
}

bool lk_auth_has_role(const char *roles, const char *role)
{
	size_t n = strlen(role);
	for (const char *p = roles; p && *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && strncmp(p, role, n) == 0)
			return true;
		p += k + (p[k] == ',');
	}
	return false;
}

/* "" or names joined by commas, each as lk_auth_name_ok wants, LK_ROLES_MAX at most. */
static bool roles_ok(const char *roles)
{
	char one[LK_NAME_MAX + 1];
	if (strlen(roles) > LK_ROLES_MAX)
		return false;
	for (const char *p = roles; *p;) {
		size_t n = strcspn(p, ",");
		if (n > LK_NAME_MAX)
			return false;
		memcpy(one, p, n);
		one[n] = '\0';
		if (!lk_auth_name_ok(one))
			return false;
		p += n + (p[n] == ',');
		if (p[-1] == ',' && !*p)
			return false; /* a trailing comma */
	}
	return true;
}

enum lk_err lk_auth_user_add(struct lk_auth *a, const struct lk_actor *by, const char *name,
			     const char *roles, const char *pw, size_t len)
{
	struct lk_user u;
	enum lk_err err;

	if (!lk_auth_name_ok(name) || !roles_ok(roles ? roles : "") || !len || len >= LK_PW_MAX)
		return LK_EINVAL;
	memset(&u, 0, sizeof u);
	snprintf(u.name, sizeof u.name, "%s", name);
	snprintf(u.roles, sizeof u.roles, "%s", roles ? roles : "");
	u.created = u.pw_changed = wall_now();
	if (!(err = lk_pw_hash(&a->cfg.cost, pw, len, u.phc)))
		err = a->st->ops->user_add(a->st, &u);
	sodium_memzero(u.phc, sizeof u.phc);
	if (!err)
		lk_auth_audit(a, "user_add", name, where(by), u.roles);
	return err;
}

enum lk_err lk_auth_user_passwd(struct lk_auth *a, const struct lk_actor *by, const char *name,
				const char *pw, size_t len)
{
	char phc[LK_PHC_MAX + 1];
	enum lk_err err;

	if (!name || !len || len >= LK_PW_MAX)
		return LK_EINVAL;
	if (!(err = lk_pw_hash(&a->cfg.cost, pw, len, phc)))
		err = a->st->ops->user_set_password(a->st, name, phc, wall_now(), deny_recorded, a);
	sodium_memzero(phc, sizeof phc);
	if (!err)
		lk_auth_audit(a, "password_changed", name, where(by),
			      "every session and refresh token revoked");
	return err;
}

enum lk_err lk_auth_user_del(struct lk_auth *a, const struct lk_actor *by, const char *name)
{
	enum lk_err err = name ? a->st->ops->user_del(a->st, name, deny_recorded, a) : LK_EINVAL;
	if (!err)
		lk_auth_audit(a, "user_del", name, where(by), "every session and refresh token revoked");
	return err;
}

void lk_auth_audit(struct lk_auth *a, const char *event, const char *user, const char *ip,
		   const char *detail)
{
	struct lk_audit ev;
	memset(&ev, 0, sizeof ev);
	ev.ts = wall_now();
	snprintf(ev.event, sizeof ev.event, "%s", event);
	snprintf(ev.user, sizeof ev.user, "%s", user ? user : "");
	snprintf(ev.ip, sizeof ev.ip, "%s", ip ? ip : "");
	snprintf(ev.detail, sizeof ev.detail, "%s", detail ? detail : "");
	enum lk_err err = a->st->ops->audit_add(a->st, &ev);
	lk_log(err ? "error" : "info", "auth", "event", event, "user", user, "ip", ip, "detail",
	       detail, err ? "audit_error" : NULL, lk_err_str(err), (char *)NULL);
}

enum lk_err lk_auth_audit_list(struct lk_auth *a, size_t limit, lk_audit_cb cb, void *ud)
{
	return a->st->ops->audit_list(a->st, limit, cb, ud);
}

/* ---------------------------------------------------------------- clients */

enum lk_err lk_auth_client_check(struct lk_auth *a, const char *id, const char *secret,
				 struct lk_client *out)
{
	unsigned char raw[33], h[32];
	struct lk_client c;
	size_t n = 0;
	enum lk_err err;

	bool shaped = secret && strlen(secret) == LK_SECRET_LEN &&
		      lk_b64url_decode(secret, LK_SECRET_LEN, raw, sizeof raw, &n) == LK_OK && n == 32;
	if (shaped)
		crypto_hash_sha256(h, raw, 32);
	else
		memset(h, 0, sizeof h);
	sodium_memzero(raw, sizeof raw);
	err = id && strlen(id) <= LK_CLIENT_ID_LEN ? a->st->ops->client_get(a->st, id, &c)
						    : LK_ENOT_FOUND;
	if (err == LK_ENOT_FOUND) {
		/* the same work as a known id, then the same answer as a wrong secret */
		memset(c.secret_hash, 0xff, sizeof c.secret_hash);
		volatile int same = sodium_memcmp(h, c.secret_hash, 32);
		(void)same;
		return LK_EBAD_CREDENTIALS;
	}
	if (err)
		return err;
	if (!shaped || sodium_memcmp(h, c.secret_hash, 32) != 0)
		return LK_EBAD_CREDENTIALS;
	*out = c;
	return LK_OK;
}

enum lk_err lk_auth_client_add(struct lk_auth *a, const struct lk_actor *by, const char *name,
			       const char *scope, struct lk_client *out,
			       char secret[LK_SECRET_LEN + 1])
{
	unsigned char raw[32], id[16];
	struct lk_client c;
	enum lk_err err;

	if (!lk_auth_name_ok(name) || strlen(scope ? scope : "") > LK_SCOPE_MAX)
		return LK_EINVAL;
	memset(&c, 0, sizeof c);
	randombytes_buf(id, sizeof id);
	randombytes_buf(raw, sizeof raw);
	lk_b64url_encode(id, sizeof id, c.id);
	snprintf(c.name, sizeof c.name, "%s", name);
	snprintf(c.scope, sizeof c.scope, "%s", scope ? scope : "");
	crypto_hash_sha256(c.secret_hash, raw, sizeof raw);
	c.created = wall_now();
	if ((err = a->st->ops->client_add(a->st, &c))) {
		sodium_memzero(raw, sizeof raw);
		return err;
	}
	lk_b64url_encode(raw, sizeof raw, secret);
	sodium_memzero(raw, sizeof raw);
	lk_auth_audit(a, "client_add", name, where(by), c.id);
	*out = c;
	return LK_OK;
}

/* Is id one of the comma-separated ids in list? */
static bool listed(const char *list, const char *id)
{
	size_t n = strlen(id);
	if (!n)
		return false;
	for (const char *p = list; *p;) {
		while (*p == ',' || *p == ' ')
			p++;
		size_t k = strcspn(p, ", ");
		if (k == n && strncmp(p, id, n) == 0)
			return true;
		p += k;
	}
	return false;
}

bool lk_auth_client_is_rs(const struct lk_auth *a, const struct lk_client *c)
{
	return c && (listed(a->cfg.tok.resource_servers, c->id) ||
		     listed(a->cfg.tok.resource_servers, c->name));
}

/* ---------------------------------------------------------------- tokens */

/* Space-separated scope tokens of %x21 / %x23-5B / %x5D-7E (RFC 6749 §3.3). */
static bool scope_ok(const char *s)
{
	if (strlen(s) > LK_SCOPE_MAX)
		return false;
	for (; *s; s++)
		if (!(*s == ' ' || *s == 0x21 || (*s >= 0x23 && *s <= 0x5b) || (*s >= 0x5d && *s <= 0x7e)))
			return false;
	return true;
}

/* Is every token of want in have? */
static bool scope_within(const char *want, const char *have)
{
	char h[LK_SCOPE_MAX + 3];
	snprintf(h, sizeof h, " %s ", have);
	for (const char *p = want; *p;) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (!n)
			break;
		char t[LK_SCOPE_MAX + 3];
		snprintf(t, sizeof t, " %.*s ", (int)n, p);
		if (!strstr(h, t))
			return false;
		p += n;
	}
	return true;
}

enum lk_err lk_auth_scope_check(const struct lk_auth *a, const struct lk_client *c,
				const char *scope)
{
	if (!scope_ok(scope))
		return LK_EMALFORMED;
	return scope_within(scope, c ? c->scope : a->cfg.tok.user_scopes) ? LK_OK : LK_EFORBIDDEN;
}

const struct lk_tokcfg *lk_auth_tokcfg(const struct lk_auth *a)
{
	return a->tok ? lk_tokens_cfg(a->tok) : NULL;
}

enum lk_err lk_auth_token_verify(struct lk_auth *a, const char *token, size_t len, int64_t now,
				 struct lk_principal *p)
{
	if (!a->tok)
		return LK_ENO_KEY;
	return lk_tokens_verify(a->tok, token, len, now, p);
}

enum lk_err lk_auth_token_for_session(struct lk_auth *a, const struct lk_session *s,
				      const struct lk_user *u, int64_t now, char **access,
				      struct lk_principal *p)
{
	if (!a->tok)
		return LK_ENO_KEY;
	memset(p, 0, sizeof *p);
	snprintf(p->sub, sizeof p->sub, "%lld", (long long)u->id);
	snprintf(p->name, sizeof p->name, "%s", u->name);
	snprintf(p->roles, sizeof p->roles, "%s", u->roles);
	snprintf(p->sid, sizeof p->sid, "%s", s->handle);
	return lk_tokens_issue(a->tok, p, lk_tokens_cfg(a->tok)->hybrid_ttl, now, access);
}

enum lk_err lk_auth_token_for_client(struct lk_auth *a, const struct lk_client *c,
				     const char *scope, int64_t now, char **access,
				     struct lk_principal *p)
{
	enum lk_err err;
	if (!a->tok)
		return LK_ENO_KEY;
	memset(p, 0, sizeof *p);
	snprintf(p->sub, sizeof p->sub, "%s", c->id);
	snprintf(p->name, sizeof p->name, "%s", c->name);
	snprintf(p->client_id, sizeof p->client_id, "%s", c->id);
	snprintf(p->scope, sizeof p->scope, "%s", scope && *scope ? scope : c->scope);
	if (!(err = lk_tokens_issue(a->tok, p, lk_tokens_cfg(a->tok)->access_ttl, now, access)))
		lk_auth_audit(a, "client_token", c->name, "", c->id);
	return err;
}

enum lk_err lk_auth_token_for_user(struct lk_auth *a, const struct lk_user *u, const char *ip,
				   const char *client_id, const char *scope, int64_t now,
				   char rt[LK_REFRESH_LEN + 1], char **access,
				   struct lk_principal *p)
{
	enum lk_err err;
	if (!a->tok)
		return LK_ENO_KEY;
	if (!(err = lk_refresh_start(a, u, client_id, scope, now, rt, access, p)))
		lk_auth_audit(a, "login", u->name, ip, "password grant");
	return err;
}

enum lk_err lk_auth_token_refresh(struct lk_auth *a, const struct lk_actor *by, const char *rt,
				  const char *client_id, int64_t now, char next[LK_REFRESH_LEN + 1],
				  char **access, struct lk_principal *p, bool *reuse)
{
	enum lk_err err;
	*reuse = false;
	*access = NULL;
	if (!a->tok)
		return LK_ENO_KEY;
	err = lk_refresh_use(a, rt, client_id, now, next, access, p, reuse);
	if (*reuse)
		lk_auth_audit(a, "refresh_reuse", p->name, where(by),
			      "a used refresh token came back: family revoked (suspected theft)");
	return err;
}

static bool looks_refresh(const char *t)
{
	unsigned char b[33];
	size_t n;
	return strlen(t) == LK_REFRESH_LEN &&
	       lk_b64url_decode(t, LK_REFRESH_LEN, b, sizeof b, &n) == LK_OK && n == 32;
}

enum lk_err lk_auth_token_revoke(struct lk_auth *a, const struct lk_actor *by,
				 const struct lk_client *caller, const char *token, int64_t now)
{
	struct lk_principal p;
	bool mine = false;
	enum lk_err err;

	if (!a->tok)
		return LK_ENO_KEY;
	if (looks_refresh(token)) {
		err = end_family(a, token, -1, caller->id, now, &mine);
		if (err == LK_ESESSION)
			return LK_OK; /* RFC 7009 §2.2: unknown tokens are answered like revoked ones */
		if (!err && !mine)
			return LK_EFORBIDDEN;
		if (!err)
			lk_auth_audit(a, "revoke", caller->name, where(by),
				      "refresh token family (RFC 7009)");
		return err;
	}
	if (lk_tokens_verify(a->tok, token, strlen(token), now, &p) != LK_OK)
		return LK_OK; /* invalid, expired or already revoked: nothing to do (§2.2) */
	if (strcmp(p.client_id, caller->id) != 0)
		return LK_EFORBIDDEN;
	if ((err = lk_tokens_revoke_jti(a->tok, &p)))
		return err;
	lk_auth_audit(a, "revoke", caller->name, where(by), "access token (RFC 7009)");
	return LK_OK;
}

enum lk_err lk_auth_token_introspect(struct lk_auth *a, const struct lk_client *caller,
				     const char *token, int64_t now,
				     struct lk_introspection *out)
{
	bool rs = lk_auth_client_is_rs(a, caller);
	enum lk_err err;

	memset(out, 0, sizeof *out);
	if (!a->tok)
		return LK_ENO_KEY;
	if (looks_refresh(token)) {
		struct lk_refresh *r = NULL;
		struct lk_user u;
		if ((err = lk_refresh_find(a, token, &r)))
			return err == LK_ESESSION ? LK_OK : err;
		/* live: not expired and not yet used; the caller's, or any for a resource server */
		bool live = r->expires > now && !r->used_at &&
			    (rs || strcmp(r->client_id, caller->id) == 0);
		if (live && (err = a->st->ops->user_get_id(a->st, r->user_id, &u))) {
			live = false;
			if (err != LK_ENOT_FOUND) {
				free(r);
				return err;
			}
		}
		if (live) {
			struct lk_principal *p = &out->p;
			out->active = out->refresh = true;
			snprintf(p->sub, sizeof p->sub, "%lld", (long long)r->user_id);
			snprintf(p->name, sizeof p->name, "%s", u.name);
			snprintf(p->client_id, sizeof p->client_id, "%s", r->client_id);
			snprintf(p->scope, sizeof p->scope, "%s", r->scope);
			snprintf(p->sid, sizeof p->sid, "%s", r->family);
			p->iat = r->created;
			p->exp = r->expires;
		}
		sodium_memzero(r->next_access, sizeof r->next_access);
		free(r);
		return LK_OK;
	}
	if (lk_tokens_verify(a->tok, token, strlen(token), now, &out->p) == LK_OK &&
	    (rs || strcmp(out->p.client_id, caller->id) == 0)) {
		out->active = true;
		return LK_OK;
	}
	memset(&out->p, 0, sizeof out->p);
	return LK_OK;
}

char *lk_auth_jwks(struct lk_auth *a) { return a->tok ? lk_tokens_jwks(a->tok) : NULL; }

const char *lk_auth_alg_name(const struct lk_auth *a)
{
	return a->tok ? lk_tokens_alg_name(a->tok) : lk_alg_name(a->cfg.tok.sign_alg);
}

enum lk_err lk_auth_keys(struct lk_auth *a, lk_key_cb cb, void *ud)
{
	return a->st->ops->key_list(a->st, cb, ud);
}

enum lk_err lk_auth_keys_rotate(struct lk_auth *a, int64_t now, struct lk_errinfo *ei)
{
	enum lk_err err = lk_tokens_rotate(a->st, &a->cfg.tok, now, ei);
	if (!err)
		lk_auth_audit(a, "keys_rotate", "", "", "a new signing key is published");
	return err;
}

/* ---------------------------------------------------------------- CSRF */

void lk_auth_csrf_mint(const struct lk_auth *a, char out[LK_CSRF_LEN + 1])
{
	unsigned char b[32], mac[crypto_auth_hmacsha256_BYTES];
	randombytes_buf(b, 16);
	crypto_auth_hmacsha256(mac, b, 16, a->csrf_key);
	memcpy(b + 16, mac, 16);
	lk_b64url_encode(b, sizeof b, out);
}

bool lk_auth_csrf_valid(const struct lk_auth *a, const char *tok)
{
	unsigned char b[33], mac[crypto_auth_hmacsha256_BYTES];
	size_t n;
	if (!tok || strlen(tok) != LK_CSRF_LEN ||
	    lk_b64url_decode(tok, LK_CSRF_LEN, b, sizeof b, &n) || n != 32)
		return false;
	crypto_auth_hmacsha256(mac, b, 16, a->csrf_key);
	return sodium_memcmp(mac, b + 16, 16) == 0;
}
