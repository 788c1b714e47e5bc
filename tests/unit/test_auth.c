/* SPDX-License-Identifier: MIT */
/*
 * test_auth.c: the auth core (src/auth/auth.h) against a real SQLite store, a fresh
 * "sqlite:/tmp/lk-auth-XXXXXX/x.db" per test, opened with lk_auth_open and started with
 * lk_auth_start (first admin, shared secrets, ES256 key ring, session cache, two Argon2
 * workers at the minimum cost).
 *
 * What is checked, each rule against the contract in auth.h:
 *  - lk_auth_revoke_user ends a user's sessions, refresh families and the access tokens
 *    they carry in one call, leaves other users alone, honours `keep`, and -1 means
 *    everyone; the counts in struct lk_revoked;
 *  - lk_auth_user_passwd ends the user's sessions and refresh families;
 *  - lk_auth_client_check: right secret, wrong secret, unknown id, malformed secrets;
 *  - lk_auth_token_revoke (RFC 7009): only the issuing client may revoke; unknown and
 *    garbage tokens are answered LK_OK; revoked access tokens are refused by verify;
 *  - lk_auth_token_introspect (RFC 7662): active for the issuing client and for a
 *    resource server named in cfg.tok.resource_servers, inactive (and zeroed) otherwise,
 *    inactive once a refresh token is used or an access token revoked or expired;
 *  - sign-in: right, wrong and unknown; the limiter's reservation with 12 parallel wrong
 *    guesses; a correct sign-in releasing its reservation;
 *  - logout ends the same user's refresh family only;
 *  - lk_auth_revoke_session by handle, per user, and malformed handles;
 *  - lk_auth_session_start never adopts a presented cookie.
 */
#include "testutil.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"

#define ALICE_PW "correct horse battery staple"
#define BOB_PW "bob's own passphrase"
#define RS_NAME "rs-gateway"

struct fx {
	char dir[64];
	struct lk_authcfg cfg;
	struct lk_auth *a;
	struct lk_user alice, bob;
	struct lk_client ca, cb, crs; /* client A, client B, a resource server */
	char sa[LK_SECRET_LEN + 1], sb[LK_SECRET_LEN + 1], srs[LK_SECRET_LEN + 1];
};

static const struct lk_actor BY = {"admin", "127.0.0.1"};

static int64_t now_s(void) { return (int64_t)time(NULL); }

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void make_cfg(struct lk_authcfg *c)
{
	memset(c, 0, sizeof *c);
	c->idle = 1800;
	c->absolute = 86400;
	c->touch = 60;
	c->cost.ops = LK_ARGON2_MIN_OPS;
	c->cost.mem = LK_ARGON2_MIN_MEM;
	c->rl.pair_free = 5;
	c->rl.backoff_max = 900;
	c->rl.ip_per_min = 60;
	snprintf(c->tok.issuer, sizeof c->tok.issuer, "http://127.0.0.1:1");
	snprintf(c->tok.audience, sizeof c->tok.audience, "http://127.0.0.1:1");
	snprintf(c->tok.user_scopes, sizeof c->tok.user_scopes, "openid profile");
	c->tok.sign_alg = LK_ALG_ES256;
	c->tok.access_ttl = 900;
	c->tok.hybrid_ttl = 300;
	c->tok.refresh_ttl = 604800;
	c->tok.refresh_grace = 10;
	c->tok.jwks_max_age = 300;
	c->tok.key_rotation = 0;
	c->tok.leeway = 60;
	snprintf(c->tok.resource_servers, sizeof c->tok.resource_servers, "%s", RS_NAME);
	c->signin_workers = 2;
	c->signin_queue = 16;
	c->session_cache = 64;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct lk_errinfo ei;
	char admin_pw[32];
	enum lk_err rc;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/lk-auth-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	make_cfg(&f->cfg);
	char *url = lkt_fmt("sqlite:%s/x.db", f->dir);
	memset(&ei, 0, sizeof ei);
	rc = lk_auth_open(&f->cfg, url, &f->a, &ei);
	free(url);
	if (rc != LK_OK) {
		fprintf(stderr, "lk_auth_open: %s (%s)\n", lk_err_str(rc), ei.detail);
		goto fail;
	}
	memset(&ei, 0, sizeof ei);
	if ((rc = lk_auth_start(f->a, admin_pw, &ei)) != LK_OK) {
		fprintf(stderr, "lk_auth_start: %s (%s)\n", lk_err_str(rc), ei.detail);
		goto fail;
	}
	if (!admin_pw[0]) {
		fprintf(stderr, "lk_auth_start: no admin password on an empty store\n");
		goto fail;
	}
	if ((rc = lk_auth_user_add(f->a, &BY, "alice", "reader", ALICE_PW, strlen(ALICE_PW))) ||
	    (rc = lk_auth_user_add(f->a, &BY, "bob", "", BOB_PW, strlen(BOB_PW))) ||
	    (rc = lk_auth_user_get(f->a, "alice", &f->alice)) ||
	    (rc = lk_auth_user_get(f->a, "bob", &f->bob)) ||
	    (rc = lk_auth_client_add(f->a, &BY, "client-a", "read write", &f->ca, f->sa)) ||
	    (rc = lk_auth_client_add(f->a, &BY, "client-b", "read", &f->cb, f->sb)) ||
	    (rc = lk_auth_client_add(f->a, &BY, RS_NAME, "", &f->crs, f->srs))) {
		fprintf(stderr, "fixture: %s\n", lk_err_str(rc));
		goto fail;
	}
	*state = f;
	return 0;
fail:
	lk_auth_close(f->a);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	lk_auth_close(f->a);
	int r = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return r;
}

/* ---------------------------------------------------------------- helpers */

/* A session for u; cookie and record out. */
static void session_new(struct fx *f, const struct lk_user *u, char cookie[LK_COOKIE_LEN + 1],
			struct lk_session *s)
{
	assert_rc(lk_auth_session_start(f->a, u, "192.0.2.10", "test-agent/1", NULL, now_s(),
					cookie, s), LK_OK);
	assert_int_equal(strlen(cookie), LK_COOKIE_LEN);
	assert_int_equal(s->user_id, u->id);
}

/* A new refresh family for u (client_id "" for none): rt and its first access token. */
static char *family_new(struct fx *f, const struct lk_user *u, const char *client_id,
			const char *scope, char rt[LK_REFRESH_LEN + 1], struct lk_principal *p)
{
	char *access = NULL;
	struct lk_principal pp;
	assert_rc(lk_auth_token_for_user(f->a, u, "192.0.2.10", client_id, scope, now_s(), rt,
					 &access, p ? p : &pp), LK_OK);
	assert_non_null(access);
	assert_int_equal(strlen(rt), LK_REFRESH_LEN);
	return access;
}

static enum lk_err check_cookie(struct fx *f, const char *cookie, struct lk_session *s)
{
	struct lk_session ss;
	struct lk_user u;
	return lk_auth_session_check(f->a, cookie, now_s(), s ? s : &ss, &u);
}

static enum lk_err verify(struct fx *f, const char *tok, struct lk_principal *p)
{
	struct lk_principal pp;
	return lk_auth_token_verify(f->a, tok, strlen(tok), now_s(), p ? p : &pp);
}

/* Rotate rt (as client_id); on LK_OK, next and *access (caller frees) are set. */
static enum lk_err refresh(struct fx *f, const char *rt, const char *client_id,
			   char next[LK_REFRESH_LEN + 1], char **access)
{
	char nx[LK_REFRESH_LEN + 1];
	char *acc = NULL;
	struct lk_principal p;
	bool reuse = false;
	enum lk_err rc = lk_auth_token_refresh(f->a, &BY, rt, client_id, now_s(), next ? next : nx,
					       &acc, &p, &reuse);
	if (access)
		*access = acc;
	else
		free(acc);
	return rc;
}

/* A refresh-shaped token nobody issued. */
static void random_rt(char out[LK_REFRESH_LEN + 1])
{
	unsigned char b[32];
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = (unsigned char)(rand() & 0xff);
	char *s = lkt_b64e(b, sizeof b);
	assert_int_equal(strlen(s), LK_REFRESH_LEN);
	memcpy(out, s, LK_REFRESH_LEN + 1);
	free(s);
}

/* ---------------------------------------------------------------- revoke_user */

static void test_revoke_user_one(void **state)
{
	struct fx *f = *state;
	char ca1[LK_COOKIE_LEN + 1], ca2[LK_COOKIE_LEN + 1], cbk[LK_COOKIE_LEN + 1];
	char rta[LK_REFRESH_LEN + 1], rtb[LK_REFRESH_LEN + 1], nb[LK_REFRESH_LEN + 1];
	struct lk_session sa1, sa2, sb;
	struct lk_revoked rv = {-1, -1};

	session_new(f, &f->alice, ca1, &sa1);
	session_new(f, &f->alice, ca2, &sa2);
	session_new(f, &f->bob, cbk, &sb);
	char *ata = family_new(f, &f->alice, "", NULL, rta, NULL);
	char *atb = family_new(f, &f->bob, "", NULL, rtb, NULL);

	/* everything works before, and the cache and verifier have seen it */
	assert_rc(check_cookie(f, ca1, NULL), LK_OK);
	assert_rc(check_cookie(f, ca2, NULL), LK_OK);
	assert_rc(check_cookie(f, cbk, NULL), LK_OK);
	assert_rc(verify(f, ata, NULL), LK_OK);
	assert_rc(verify(f, atb, NULL), LK_OK);

	assert_rc(lk_auth_revoke_user(f->a, &BY, f->alice.id, NULL, &rv), LK_OK);
	assert_int_equal(rv.sessions, 2);
	assert_int_equal(rv.families, 1);

	/* alice: sessions, refresh family and its access token all end */
	assert_rc(check_cookie(f, ca1, NULL), LK_ESESSION);
	assert_rc(check_cookie(f, ca2, NULL), LK_ESESSION);
	assert_rc(refresh(f, rta, NULL, NULL, NULL), LK_ESESSION);
	assert_rc(verify(f, ata, NULL), LK_EREVOKED);

	/* bob is untouched */
	struct lk_session got;
	assert_rc(check_cookie(f, cbk, &got), LK_OK);
	assert_int_equal(got.user_id, f->bob.id);
	assert_rc(verify(f, atb, NULL), LK_OK);
	char *atb2 = NULL;
	assert_rc(refresh(f, rtb, NULL, nb, &atb2), LK_OK);
	assert_non_null(atb2);
	struct lk_principal p;
	assert_rc(verify(f, atb2, &p), LK_OK);
	assert_str(p.name, "bob");
	free(ata);
	free(atb);
	free(atb2);
}

static void test_revoke_user_keep(void **state)
{
	struct fx *f = *state;
	char c1[LK_COOKIE_LEN + 1], c2[LK_COOKIE_LEN + 1], c3[LK_COOKIE_LEN + 1];
	char cbk[LK_COOKIE_LEN + 1], rta[LK_REFRESH_LEN + 1], rtb[LK_REFRESH_LEN + 1];
	struct lk_session s1, s2, s3, sb, got;
	struct lk_revoked rv = {-1, -1};

	session_new(f, &f->alice, c1, &s1);
	session_new(f, &f->alice, c2, &s2);
	session_new(f, &f->alice, c3, &s3);
	session_new(f, &f->bob, cbk, &sb);
	char *ata = family_new(f, &f->alice, "", NULL, rta, NULL);
	char *atb = family_new(f, &f->bob, "", NULL, rtb, NULL);
	assert_rc(check_cookie(f, c1, NULL), LK_OK);
	assert_rc(check_cookie(f, c2, NULL), LK_OK);

	/* "sign out everywhere else" from session 2 */
	assert_rc(lk_auth_revoke_user(f->a, &BY, f->alice.id, s2.id_hash, &rv), LK_OK);
	assert_int_equal(rv.sessions, 2);
	assert_int_equal(rv.families, 1);

	assert_rc(check_cookie(f, c2, &got), LK_OK);
	assert_memory_equal(got.id_hash, s2.id_hash, 32);
	assert_rc(check_cookie(f, c1, NULL), LK_ESESSION);
	assert_rc(check_cookie(f, c3, NULL), LK_ESESSION);
	assert_rc(refresh(f, rta, NULL, NULL, NULL), LK_ESESSION);
	assert_rc(verify(f, ata, NULL), LK_EREVOKED);
	/* bob's session is not alice's to keep or end */
	assert_rc(check_cookie(f, cbk, NULL), LK_OK);
	assert_rc(verify(f, atb, NULL), LK_OK);
	assert_rc(refresh(f, rtb, NULL, NULL, NULL), LK_OK);
	free(ata);
	free(atb);
}

static void test_revoke_user_everyone(void **state)
{
	struct fx *f = *state;
	char ca[LK_COOKIE_LEN + 1], cbk[LK_COOKIE_LEN + 1];
	char rta[LK_REFRESH_LEN + 1], rtb[LK_REFRESH_LEN + 1];
	struct lk_session sa, sb;
	struct lk_revoked rv = {-1, -1};

	session_new(f, &f->alice, ca, &sa);
	session_new(f, &f->bob, cbk, &sb);
	char *ata = family_new(f, &f->alice, "", NULL, rta, NULL);
	char *atb = family_new(f, &f->bob, f->ca.id, "read", rtb, NULL);
	assert_rc(check_cookie(f, ca, NULL), LK_OK);
	assert_rc(check_cookie(f, cbk, NULL), LK_OK);
	assert_rc(verify(f, ata, NULL), LK_OK);
	assert_rc(verify(f, atb, NULL), LK_OK);

	assert_rc(lk_auth_revoke_user(f->a, &BY, -1, NULL, &rv), LK_OK);
	assert_int_equal(rv.sessions, 2);
	assert_int_equal(rv.families, 2);

	assert_rc(check_cookie(f, ca, NULL), LK_ESESSION);
	assert_rc(check_cookie(f, cbk, NULL), LK_ESESSION);
	assert_rc(refresh(f, rta, NULL, NULL, NULL), LK_ESESSION);
	assert_rc(refresh(f, rtb, f->ca.id, NULL, NULL), LK_ESESSION);
	assert_rc(verify(f, ata, NULL), LK_EREVOKED);
	assert_rc(verify(f, atb, NULL), LK_EREVOKED);
	int64_t n = -1;
	assert_rc(lk_auth_session_count(f->a, now_s(), &n), LK_OK);
	assert_int_equal(n, 0);
	free(ata);
	free(atb);
}

/* ---------------------------------------------------------------- passwd */

static void test_passwd_ends_sessions_and_refresh(void **state)
{
	struct fx *f = *state;
	char ca[LK_COOKIE_LEN + 1], cbk[LK_COOKIE_LEN + 1];
	char rta[LK_REFRESH_LEN + 1], rta2[LK_REFRESH_LEN + 1], rtb[LK_REFRESH_LEN + 1];
	struct lk_session sa, sb;
	struct lk_user before, after;

	session_new(f, &f->alice, ca, &sa);
	session_new(f, &f->bob, cbk, &sb);
	char *ata = family_new(f, &f->alice, "", NULL, rta, NULL);
	char *ata2 = family_new(f, &f->alice, f->ca.id, "read", rta2, NULL);
	char *atb = family_new(f, &f->bob, "", NULL, rtb, NULL);
	assert_rc(check_cookie(f, ca, NULL), LK_OK);
	assert_rc(lk_auth_user_get(f->a, "alice", &before), LK_OK);

	static const char npw[] = "a brand new passphrase";
	assert_rc(lk_auth_user_passwd(f->a, &BY, "alice", npw, strlen(npw)), LK_OK);
	assert_rc(lk_auth_user_get(f->a, "alice", &after), LK_OK);
	assert_string_not_equal(before.phc, after.phc);

	assert_rc(check_cookie(f, ca, NULL), LK_ESESSION);
	assert_rc(refresh(f, rta, NULL, NULL, NULL), LK_ESESSION);
	assert_rc(refresh(f, rta2, f->ca.id, NULL, NULL), LK_ESESSION);
	/* bob keeps his */
	assert_rc(check_cookie(f, cbk, NULL), LK_OK);
	assert_rc(refresh(f, rtb, NULL, NULL, NULL), LK_OK);
	/* unknown user */
	assert_rc(lk_auth_user_passwd(f->a, &BY, "nobody", npw, strlen(npw)), LK_ENOT_FOUND);
	free(ata);
	free(ata2);
	free(atb);
}

/* ---------------------------------------------------------------- clients */

/* The scope rules live in auth (RFC 6749 §3.3): a client gets at most its own scopes, a
 * user without a client at most user_scopes (none here), and a malformed scope nothing. */
static void test_scope_check(void **state)
{
	struct fx *f = *state;
	assert_rc(lk_auth_scope_check(f->a, &f->ca, ""), LK_OK);
	assert_rc(lk_auth_scope_check(f->a, &f->ca, "read"), LK_OK);
	assert_rc(lk_auth_scope_check(f->a, &f->ca, "write read"), LK_OK);
	assert_rc(lk_auth_scope_check(f->a, &f->cb, "write"), LK_EFORBIDDEN);
	assert_rc(lk_auth_scope_check(f->a, &f->cb, "rea"), LK_EFORBIDDEN);
	assert_rc(lk_auth_scope_check(f->a, &f->cb, "read write"), LK_EFORBIDDEN);
	assert_rc(lk_auth_scope_check(f->a, NULL, "read"), LK_EFORBIDDEN);
	assert_rc(lk_auth_scope_check(f->a, NULL, ""), LK_OK);
	assert_rc(lk_auth_scope_check(f->a, &f->ca, "read\"x"), LK_EMALFORMED);
	assert_rc(lk_auth_scope_check(f->a, &f->ca, "read\twrite"), LK_EMALFORMED);
}

/* User and role names follow one rule, in auth: "a,,b", a trailing comma or a role with a
 * space is refused before anything is stored. */
static void test_user_add_roles(void **state)
{
	struct fx *f = *state;
	struct lk_user u;
	static const char pw[] = "carol-pw-0123456789";
	assert_rc(lk_auth_user_add(f->a, &BY, "carol", "a,,b", pw, sizeof pw - 1), LK_EINVAL);
	assert_rc(lk_auth_user_add(f->a, &BY, "carol", "admin,", pw, sizeof pw - 1), LK_EINVAL);
	assert_rc(lk_auth_user_add(f->a, &BY, "carol", "ad min", pw, sizeof pw - 1), LK_EINVAL);
	assert_rc(lk_auth_user_add(f->a, &BY, "car ol", "", pw, sizeof pw - 1), LK_EINVAL);
	assert_rc(lk_auth_user_get(f->a, "carol", &u), LK_ENOT_FOUND);
	assert_rc(lk_auth_user_add(f->a, &BY, "carol", "admin,reader", pw, sizeof pw - 1), LK_OK);
	assert_rc(lk_auth_user_get(f->a, "carol", &u), LK_OK);
	assert_str(u.roles, "admin,reader");
}

static void test_client_check(void **state)
{
	struct fx *f = *state;
	struct lk_client c;
	char bad[LK_SECRET_LEN + 2];

	memset(&c, 0, sizeof c);
	assert_rc(lk_auth_client_check(f->a, f->ca.id, f->sa, &c), LK_OK);
	assert_str(c.id, f->ca.id);
	assert_str(c.name, "client-a");
	assert_str(c.scope, "read write");

	/* a wrong but well-formed secret (another client's), a one-character change */
	assert_rc(lk_auth_client_check(f->a, f->ca.id, f->sb, &c), LK_EBAD_CREDENTIALS);
	memcpy(bad, f->sa, sizeof f->sa);
	bad[5] = bad[5] == 'A' ? 'B' : 'A';
	assert_rc(lk_auth_client_check(f->a, f->ca.id, bad, &c), LK_EBAD_CREDENTIALS);
	/* unknown id (well-formed, and too long), empty id */
	assert_rc(lk_auth_client_check(f->a, "AAAAAAAAAAAAAAAAAAAAAA", f->sa, &c),
		  LK_EBAD_CREDENTIALS);
	assert_rc(lk_auth_client_check(f->a, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", f->sa,
				       &c), LK_EBAD_CREDENTIALS);
	assert_rc(lk_auth_client_check(f->a, "", f->sa, &c), LK_EBAD_CREDENTIALS);
	/* malformed secrets: too short, too long, not base64url, empty */
	memcpy(bad, f->sa, sizeof f->sa);
	bad[LK_SECRET_LEN - 1] = '\0';
	assert_rc(lk_auth_client_check(f->a, f->ca.id, bad, &c), LK_EBAD_CREDENTIALS);
	memcpy(bad, f->sa, LK_SECRET_LEN);
	bad[LK_SECRET_LEN] = 'A';
	bad[LK_SECRET_LEN + 1] = '\0';
	assert_rc(lk_auth_client_check(f->a, f->ca.id, bad, &c), LK_EBAD_CREDENTIALS);
	memcpy(bad, f->sa, sizeof f->sa);
	bad[10] = '+';
	assert_rc(lk_auth_client_check(f->a, f->ca.id, bad, &c), LK_EBAD_CREDENTIALS);
	bad[10] = '!';
	assert_rc(lk_auth_client_check(f->a, f->ca.id, bad, &c), LK_EBAD_CREDENTIALS);
	memset(bad, '=', LK_SECRET_LEN);
	bad[LK_SECRET_LEN] = '\0';
	assert_rc(lk_auth_client_check(f->a, f->ca.id, bad, &c), LK_EBAD_CREDENTIALS);
	assert_rc(lk_auth_client_check(f->a, f->ca.id, "", &c), LK_EBAD_CREDENTIALS);
	/* and the right one still works */
	assert_rc(lk_auth_client_check(f->a, f->cb.id, f->sb, &c), LK_OK);
	assert_str(c.id, f->cb.id);
}

/* ---------------------------------------------------------------- RFC 7009 */

static void test_token_revoke_refresh(void **state)
{
	struct fx *f = *state;
	char rt[LK_REFRESH_LEN + 1], rt2[LK_REFRESH_LEN + 1];
	char *at = family_new(f, &f->alice, f->ca.id, "read", rt, NULL);
	char *at2 = NULL;

	/* B may not revoke A's token: nothing happens */
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->cb, rt, now_s()), LK_EFORBIDDEN);
	assert_rc(verify(f, at, NULL), LK_OK);
	assert_rc(refresh(f, rt, f->ca.id, rt2, &at2), LK_OK);
	assert_rc(verify(f, at2, NULL), LK_OK);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->cb, rt2, now_s()), LK_EFORBIDDEN);
	assert_rc(verify(f, at2, NULL), LK_OK);

	/* A may: the family ends, with its access tokens */
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->ca, rt2, now_s()), LK_OK);
	assert_rc(refresh(f, rt2, f->ca.id, NULL, NULL), LK_ESESSION);
	assert_rc(refresh(f, rt, f->ca.id, NULL, NULL), LK_ESESSION); /* in grace, family gone */
	assert_rc(verify(f, at2, NULL), LK_EREVOKED);
	assert_rc(verify(f, at, NULL), LK_EREVOKED);
	/* revoking it again: unknown now, answered LK_OK (RFC 7009 §2.2) */
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->ca, rt2, now_s()), LK_OK);
	free(at);
	free(at2);
}

static void test_token_revoke_refresh_fresh(void **state)
{
	/* the same on an unused first token, revoked by A directly */
	struct fx *f = *state;
	char rt[LK_REFRESH_LEN + 1];
	char *at = family_new(f, &f->alice, f->ca.id, "read", rt, NULL);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->cb, rt, now_s()), LK_EFORBIDDEN);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->crs, rt, now_s()), LK_EFORBIDDEN);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->ca, rt, now_s()), LK_OK);
	assert_rc(refresh(f, rt, f->ca.id, NULL, NULL), LK_ESESSION);
	assert_rc(verify(f, at, NULL), LK_EREVOKED);
	free(at);
}

static void test_token_revoke_unknown(void **state)
{
	struct fx *f = *state;
	char rt[LK_REFRESH_LEN + 1], other[LK_REFRESH_LEN + 1], mine[LK_REFRESH_LEN + 1];
	char *at = family_new(f, &f->alice, f->ca.id, "read", mine, NULL);

	random_rt(rt);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->ca, rt, now_s()), LK_OK);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->cb, rt, now_s()), LK_OK);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->ca, "garbage", now_s()), LK_OK);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->ca, "", now_s()), LK_OK);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->ca, "a.b.c", now_s()), LK_OK);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->ca,
				       "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", now_s()), LK_OK);
	/* 43 characters that are not base64url */
	memset(other, '*', LK_REFRESH_LEN);
	other[LK_REFRESH_LEN] = '\0';
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->ca, other, now_s()), LK_OK);
	/* none of that touched the live family */
	assert_rc(verify(f, at, NULL), LK_OK);
	assert_rc(refresh(f, mine, f->ca.id, NULL, NULL), LK_OK);
	free(at);
}

static void test_token_revoke_access(void **state)
{
	struct fx *f = *state;
	struct lk_principal p;
	char *at = NULL, rt[LK_REFRESH_LEN + 1];

	/* a client_credentials token of A */
	assert_rc(lk_auth_token_for_client(f->a, &f->ca, NULL, now_s(), &at, &p), LK_OK);
	assert_str(p.client_id, f->ca.id);
	assert_rc(verify(f, at, NULL), LK_OK);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->cb, at, now_s()), LK_EFORBIDDEN);
	assert_rc(verify(f, at, NULL), LK_OK);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->ca, at, now_s()), LK_OK);
	assert_rc(verify(f, at, NULL), LK_EREVOKED);
	/* again: already revoked, nothing to do */
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->ca, at, now_s()), LK_OK);
	free(at);

	/* an access token of a refresh family issued to A */
	char *fat = family_new(f, &f->alice, f->ca.id, "read", rt, NULL);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->cb, fat, now_s()), LK_EFORBIDDEN);
	assert_rc(verify(f, fat, NULL), LK_OK);
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->ca, fat, now_s()), LK_OK);
	assert_rc(verify(f, fat, NULL), LK_EREVOKED);
	free(fat);
}

/* ---------------------------------------------------------------- RFC 7662 */

static void assert_inactive(struct fx *f, const struct lk_client *c, const char *tok, int64_t now)
{
	struct lk_introspection out, zero;
	memset(&out, 0xa5, sizeof out);
	memset(&zero, 0, sizeof zero);
	assert_rc(lk_auth_token_introspect(f->a, c, tok, now, &out), LK_OK);
	assert_false(out.active);
	assert_false(out.refresh);
	assert_memory_equal(&out.p, &zero.p, sizeof zero.p);
}

static void test_introspect_refresh(void **state)
{
	struct fx *f = *state;
	char rt[LK_REFRESH_LEN + 1], rt2[LK_REFRESH_LEN + 1], sub[32], unk[LK_REFRESH_LEN + 1];
	struct lk_introspection out;
	int64_t t0 = now_s();
	char *at = family_new(f, &f->alice, f->ca.id, "read write", rt, NULL);
	snprintf(sub, sizeof sub, "%lld", (long long)f->alice.id);

	memset(&out, 0, sizeof out);
	assert_rc(lk_auth_token_introspect(f->a, &f->ca, rt, now_s(), &out), LK_OK);
	assert_true(out.active);
	assert_true(out.refresh);
	assert_str(out.p.client_id, f->ca.id);
	assert_str(out.p.sub, sub);
	assert_str(out.p.scope, "read write");
	assert_true(out.p.exp >= t0 + 604800 && out.p.exp <= now_s() + 604800);
	assert_int_equal(strlen(out.p.sid), LK_HANDLE_LEN);

	/* another client: not active, nothing told */
	assert_inactive(f, &f->cb, rt, now_s());

	/* a resource server by name: active */
	assert_false(lk_auth_client_is_rs(f->a, &f->ca));
	assert_true(lk_auth_client_is_rs(f->a, &f->crs));
	memset(&out, 0, sizeof out);
	assert_rc(lk_auth_token_introspect(f->a, &f->crs, rt, now_s(), &out), LK_OK);
	assert_true(out.active);
	assert_true(out.refresh);
	assert_str(out.p.client_id, f->ca.id);
	assert_str(out.p.sub, sub);

	/* used (rotated): not active; its successor is */
	assert_rc(refresh(f, rt, f->ca.id, rt2, NULL), LK_OK);
	assert_inactive(f, &f->ca, rt, now_s());
	assert_inactive(f, &f->crs, rt, now_s());
	memset(&out, 0, sizeof out);
	assert_rc(lk_auth_token_introspect(f->a, &f->ca, rt2, now_s(), &out), LK_OK);
	assert_true(out.active);
	assert_true(out.refresh);
	assert_str(out.p.scope, "read write");

	/* expired, unknown, garbage */
	assert_inactive(f, &f->ca, rt2, now_s() + 604800 + 10);
	random_rt(unk);
	assert_inactive(f, &f->ca, unk, now_s());
	assert_inactive(f, &f->ca, "garbage", now_s());
	free(at);
}

static void test_introspect_access(void **state)
{
	struct fx *f = *state;
	char rt[LK_REFRESH_LEN + 1], sub[32];
	struct lk_introspection out;
	struct lk_principal p;
	char *at = family_new(f, &f->alice, f->ca.id, "read", rt, &p);
	snprintf(sub, sizeof sub, "%lld", (long long)f->alice.id);

	memset(&out, 0, sizeof out);
	assert_rc(lk_auth_token_introspect(f->a, &f->ca, at, now_s(), &out), LK_OK);
	assert_true(out.active);
	assert_false(out.refresh);
	assert_str(out.p.client_id, f->ca.id);
	assert_str(out.p.sub, sub);
	assert_str(out.p.scope, "read");
	assert_str(out.p.jti, p.jti);
	assert_true(out.p.exp > now_s());

	assert_inactive(f, &f->cb, at, now_s());

	memset(&out, 0, sizeof out);
	assert_rc(lk_auth_token_introspect(f->a, &f->crs, at, now_s(), &out), LK_OK);
	assert_true(out.active);
	assert_str(out.p.client_id, f->ca.id);

	/* expired */
	assert_inactive(f, &f->ca, at, now_s() + 900 + 60 + 10);
	/* a client_credentials token of B: B yes, A no */
	char *bt = NULL;
	assert_rc(lk_auth_token_for_client(f->a, &f->cb, NULL, now_s(), &bt, &p), LK_OK);
	memset(&out, 0, sizeof out);
	assert_rc(lk_auth_token_introspect(f->a, &f->cb, bt, now_s(), &out), LK_OK);
	assert_true(out.active);
	assert_str(out.p.client_id, f->cb.id);
	assert_inactive(f, &f->ca, bt, now_s());

	/* revoked: not active, for anyone */
	assert_rc(lk_auth_token_revoke(f->a, &BY, &f->ca, at, now_s()), LK_OK);
	assert_inactive(f, &f->ca, at, now_s());
	assert_inactive(f, &f->crs, at, now_s());
	free(at);
	free(bt);
}

/* ---------------------------------------------------------------- sign-in */

static void done_post(void *arg) { sem_post((sem_t *)arg); }

static void sem_wait_s(sem_t *s, int seconds)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	int r;
	while ((r = sem_timedwait(s, &ts)) == -1 && errno == EINTR)
		;
	if (r != 0)
		fail_msg("a sign-in's done callback never came (%d s)", seconds);
}

/* Begin one sign-in and wait for done; returns the begin code (end not called). */
static enum lk_err signin_run(struct fx *f, struct lk_signin *si, sem_t *sem, const char *name,
			      const char *ip, const char *pw)
{
	int64_t retry = -1;
	char *copy = strdup(pw);
	assert_non_null(copy);
	enum lk_err rc = lk_auth_signin_begin(f->a, si, name, ip, false, copy, done_post, sem,
					      &retry);
	if (rc == LK_OK)
		sem_wait_s(sem, 30);
	return rc;
}

/* The burst tests depend on the limiter's 1 s backoff after pair_free failures: start
 * them early in a wall-clock second so a burst of a few milliseconds cannot straddle a
 * second boundary and see the backoff already over. */
static void early_in_second(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_nsec > 300000000L) {
		struct timespec d = {0, 1000000000L - ts.tv_nsec + 20000000L};
		nanosleep(&d, NULL);
	}
}

static void test_signin_outcomes(void **state)
{
	struct fx *f = *state;
	struct lk_signin si;
	sem_t sem;
	sem_init(&sem, 0, 0);

	assert_rc(signin_run(f, &si, &sem, "alice", "203.0.113.1", ALICE_PW), LK_OK);
	assert_rc(lk_auth_signin_end(f->a, &si), LK_OK);
	assert_int_equal(si.user.id, f->alice.id);
	assert_str(si.user.name, "alice");
	assert_str(si.user.roles, "reader");
	lk_auth_signin_free(&si);

	assert_rc(signin_run(f, &si, &sem, "alice", "203.0.113.1", "not the password"), LK_OK);
	assert_rc(lk_auth_signin_end(f->a, &si), LK_EBAD_CREDENTIALS);
	lk_auth_signin_free(&si);

	assert_rc(signin_run(f, &si, &sem, "alice", "203.0.113.1", BOB_PW), LK_OK);
	assert_rc(lk_auth_signin_end(f->a, &si), LK_EBAD_CREDENTIALS);
	lk_auth_signin_free(&si);

	assert_rc(signin_run(f, &si, &sem, "mallory", "203.0.113.1", ALICE_PW), LK_OK);
	assert_rc(lk_auth_signin_end(f->a, &si), LK_EBAD_CREDENTIALS);
	lk_auth_signin_free(&si);

	assert_rc(signin_run(f, &si, &sem, "bob", "203.0.113.2", BOB_PW), LK_OK);
	assert_rc(lk_auth_signin_end(f->a, &si), LK_OK);
	assert_int_equal(si.user.id, f->bob.id);
	lk_auth_signin_free(&si);
	sem_destroy(&sem);
}

#define BURST 12

struct burst {
	struct fx *f;
	pthread_barrier_t *bar;
	sem_t *sem;
	struct lk_signin si;
	enum lk_err rc;
	int64_t retry;
	int i;
};

static void *burst_one(void *arg)
{
	struct burst *b = arg;
	char *pw = lkt_fmt("wrong guess %d", b->i);
	pthread_barrier_wait(b->bar);
	b->retry = -1;
	b->rc = lk_auth_signin_begin(b->f->a, &b->si, "alice", "198.51.100.7", false, pw,
				     done_post, b->sem, &b->retry);
	return NULL;
}

static void test_signin_limit_parallel(void **state)
{
	struct fx *f = *state;
	struct burst b[BURST];
	pthread_t th[BURST];
	pthread_barrier_t bar;
	sem_t sem;
	int ok = 0, limited = 0, other = 0;

	sem_init(&sem, 0, 0);
	pthread_barrier_init(&bar, NULL, BURST);
	early_in_second();
	for (int i = 0; i < BURST; i++) {
		memset(&b[i], 0, sizeof b[i]);
		b[i].f = f;
		b[i].bar = &bar;
		b[i].sem = &sem;
		b[i].i = i;
		assert_int_equal(pthread_create(&th[i], NULL, burst_one, &b[i]), 0);
	}
	for (int i = 0; i < BURST; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	for (int i = 0; i < BURST; i++) {
		if (b[i].rc == LK_OK)
			ok++;
		else if (b[i].rc == LK_ERATE_LIMITED && b[i].retry > 0)
			limited++;
		else
			other++;
	}
	/* wait for every started one before judging, so nothing outlives the test */
	for (int i = 0; i < ok; i++)
		sem_wait_s(&sem, 60);
	int bad_end = 0;
	for (int i = 0; i < BURST; i++) {
		if (b[i].rc == LK_OK && lk_auth_signin_end(f->a, &b[i].si) != LK_EBAD_CREDENTIALS)
			bad_end++;
		lk_auth_signin_free(&b[i].si);
	}
	sem_destroy(&sem);
	if (ok > 5 || ok < 1 || limited != BURST - ok || other || bad_end) {
		char codes[256] = "";
		for (int i = 0; i < BURST; i++) {
			size_t l = strlen(codes);
			snprintf(codes + l, sizeof codes - l, "%s%s(%lld)", i ? " " : "",
				 lk_err_str(b[i].rc), (long long)b[i].retry);
		}
		fail_msg("%d parallel wrong sign-ins for one (user, ip): %d began, %d rate limited, "
			 "%d other, %d ends not invalid_credentials; want at most 5 begun and the "
			 "rest rate_limited with retry_after > 0: %s",
			 BURST, ok, limited, other, bad_end, codes);
	}
	/* and the limit holds afterwards */
	struct lk_signin si;
	int64_t retry = -1;
	char *pw = strdup("one more guess");
	assert_non_null(pw);
	sem_init(&sem, 0, 0);
	enum lk_err rc = lk_auth_signin_begin(f->a, &si, "alice", "198.51.100.7", false, pw,
					      done_post, &sem, &retry);
	if (rc == LK_OK) {
		sem_wait_s(&sem, 60);
		if (lk_auth_signin_end(f->a, &si) != LK_EBAD_CREDENTIALS)
			fail_msg("a wrong guess ended other than invalid_credentials");
	}
	lk_auth_signin_free(&si);
	sem_destroy(&sem);
	assert_rc(rc, LK_ERATE_LIMITED);
	assert_true(retry > 0);
}

static void test_signin_success_releases(void **state)
{
	struct fx *f = *state;
	const char *ip = "198.51.100.9";
	struct lk_signin si, sis[6];
	sem_t sem;
	int64_t retry;

	sem_init(&sem, 0, 0);
	for (int i = 0; i < 4; i++) {
		assert_rc(signin_run(f, &si, &sem, "alice", ip, "wrong"), LK_OK);
		assert_rc(lk_auth_signin_end(f->a, &si), LK_EBAD_CREDENTIALS);
		lk_auth_signin_free(&si);
	}
	assert_rc(signin_run(f, &si, &sem, "alice", ip, ALICE_PW), LK_OK);
	assert_rc(lk_auth_signin_end(f->a, &si), LK_OK);
	lk_auth_signin_free(&si);

	/* the pair's failures are forgiven: five more wrong ones may begin at once */
	early_in_second();
	int began = 0;
	enum lk_err rcs[6];
	for (int i = 0; i < 6; i++) {
		char *pw = lkt_fmt("wrong again %d", i);
		retry = -1;
		rcs[i] = lk_auth_signin_begin(f->a, &sis[i], "alice", ip, false, pw, done_post, &sem,
					      &retry);
		if (rcs[i] == LK_OK)
			began++;
		if (i == 5 && rcs[i] == LK_ERATE_LIMITED)
			assert_true(retry > 0);
	}
	for (int i = 0; i < began; i++)
		sem_wait_s(&sem, 60);
	for (int i = 0; i < 6; i++) {
		if (rcs[i] == LK_OK)
			assert_rc(lk_auth_signin_end(f->a, &sis[i]), LK_EBAD_CREDENTIALS);
		lk_auth_signin_free(&sis[i]);
	}
	sem_destroy(&sem);
	for (int i = 0; i < 5; i++)
		if (rcs[i] != LK_OK)
			fail_msg("after a correct sign-in, wrong attempt %d of 5 began with %s", i + 1,
				 lk_err_str(rcs[i]));
	/* ...and the sixth is held back again */
	assert_rc(rcs[5], LK_ERATE_LIMITED);
}

/* ---------------------------------------------------------------- logout */

static void test_logout_refresh(void **state)
{
	struct fx *f = *state;
	char c1[LK_COOKIE_LEN + 1], c2[LK_COOKIE_LEN + 1];
	char rta[LK_REFRESH_LEN + 1], rtb[LK_REFRESH_LEN + 1];
	struct lk_session s1, s2;

	session_new(f, &f->alice, c1, &s1);
	session_new(f, &f->alice, c2, &s2);
	char *ata = family_new(f, &f->alice, "", NULL, rta, NULL);
	char *atb = family_new(f, &f->bob, "", NULL, rtb, NULL);
	assert_rc(check_cookie(f, c1, NULL), LK_OK);

	/* another user's refresh token: the session ends, that family lives */
	assert_rc(lk_auth_logout(f->a, &BY, &s1, &f->alice, rtb), LK_OK);
	assert_rc(check_cookie(f, c1, NULL), LK_ESESSION);
	assert_rc(verify(f, atb, NULL), LK_OK);
	assert_rc(refresh(f, rtb, NULL, NULL, NULL), LK_OK);
	/* alice's family was not named: it lives too */
	assert_rc(verify(f, ata, NULL), LK_OK);

	/* her own refresh token: its family ends with the session */
	assert_rc(check_cookie(f, c2, NULL), LK_OK);
	assert_rc(lk_auth_logout(f->a, &BY, &s2, &f->alice, rta), LK_OK);
	assert_rc(check_cookie(f, c2, NULL), LK_ESESSION);
	assert_rc(refresh(f, rta, NULL, NULL, NULL), LK_ESESSION);
	assert_rc(verify(f, ata, NULL), LK_EREVOKED);

	/* garbage or no refresh token: still a clean logout */
	char c3[LK_COOKIE_LEN + 1];
	struct lk_session s3;
	session_new(f, &f->alice, c3, &s3);
	assert_rc(lk_auth_logout(f->a, &BY, &s3, &f->alice, "garbage"), LK_OK);
	assert_rc(check_cookie(f, c3, NULL), LK_ESESSION);
	free(ata);
	free(atb);
}

/* ---------------------------------------------------------------- revoke_session */

static void test_revoke_session(void **state)
{
	struct fx *f = *state;
	char c1[LK_COOKIE_LEN + 1], c2[LK_COOKIE_LEN + 1];
	struct lk_session s1, s2;

	session_new(f, &f->alice, c1, &s1);
	session_new(f, &f->alice, c2, &s2);
	assert_rc(check_cookie(f, c1, NULL), LK_OK);
	assert_rc(check_cookie(f, c2, NULL), LK_OK);

	/* not bob's session */
	assert_rc(lk_auth_revoke_session(f->a, &BY, f->bob.id, s1.handle), LK_ENOT_FOUND);
	assert_rc(check_cookie(f, c1, NULL), LK_OK);
	/* whoever's */
	assert_rc(lk_auth_revoke_session(f->a, &BY, -1, s1.handle), LK_OK);
	assert_rc(check_cookie(f, c1, NULL), LK_ESESSION);
	assert_rc(check_cookie(f, c2, NULL), LK_OK);
	assert_rc(lk_auth_revoke_session(f->a, &BY, -1, s1.handle), LK_ENOT_FOUND);
	/* alice's own */
	assert_rc(lk_auth_revoke_session(f->a, &BY, f->alice.id, s2.handle), LK_OK);
	assert_rc(check_cookie(f, c2, NULL), LK_ESESSION);

	/* malformed and unknown handles */
	char h[LK_HANDLE_LEN + 2];
	memcpy(h, s1.handle, sizeof s1.handle);
	h[LK_HANDLE_LEN - 1] = '\0';
	assert_rc(lk_auth_revoke_session(f->a, &BY, -1, h), LK_ENOT_FOUND);
	memcpy(h, s1.handle, LK_HANDLE_LEN);
	h[LK_HANDLE_LEN] = 'A';
	h[LK_HANDLE_LEN + 1] = '\0';
	assert_rc(lk_auth_revoke_session(f->a, &BY, -1, h), LK_ENOT_FOUND);
	memset(h, '!', LK_HANDLE_LEN);
	h[LK_HANDLE_LEN] = '\0';
	assert_rc(lk_auth_revoke_session(f->a, &BY, -1, h), LK_ENOT_FOUND);
	assert_rc(lk_auth_revoke_session(f->a, &BY, f->alice.id, h), LK_ENOT_FOUND);
	assert_rc(lk_auth_revoke_session(f->a, &BY, -1, ""), LK_ENOT_FOUND);
	assert_rc(lk_auth_revoke_session(f->a, &BY, -1, "AAAAAAAAAAAAAAAAAAAAAA"), LK_ENOT_FOUND);
	/* a cookie is not a handle */
	char c3[LK_COOKIE_LEN + 1];
	struct lk_session s3;
	session_new(f, &f->bob, c3, &s3);
	assert_rc(lk_auth_revoke_session(f->a, &BY, -1, c3), LK_ENOT_FOUND);
	assert_rc(check_cookie(f, c3, NULL), LK_OK);
}

/* ---------------------------------------------------------------- session_start */

static void test_session_start_never_adopts(void **state)
{
	struct fx *f = *state;
	char c1[LK_COOKIE_LEN + 1], c2[LK_COOKIE_LEN + 1], c3[LK_COOKIE_LEN + 1];
	struct lk_session s1, s2, s3, got;
	struct lk_user u;

	session_new(f, &f->alice, c1, &s1);
	assert_rc(check_cookie(f, c1, NULL), LK_OK);
	assert_rc(lk_auth_session_start(f->a, &f->alice, "192.0.2.10", "ua", c1, now_s(), c2, &s2),
		  LK_OK);
	assert_string_not_equal(c1, c2);
	assert_string_not_equal(s1.handle, s2.handle);
	assert_true(memcmp(s1.id_hash, s2.id_hash, 32) != 0);
	assert_rc(check_cookie(f, c1, NULL), LK_ESESSION);
	assert_rc(lk_auth_session_check(f->a, c2, now_s(), &got, &u), LK_OK);
	assert_memory_equal(got.id_hash, s2.id_hash, 32);
	assert_int_equal(u.id, f->alice.id);

	/* another user's old cookie in the browser: it ends too, and the new one is bob's */
	assert_rc(lk_auth_session_start(f->a, &f->bob, "192.0.2.10", "ua", c2, now_s(), c3, &s3),
		  LK_OK);
	assert_rc(check_cookie(f, c2, NULL), LK_ESESSION);
	assert_rc(lk_auth_session_check(f->a, c3, now_s(), &got, &u), LK_OK);
	assert_int_equal(u.id, f->bob.id);

	/* a malformed old cookie does not stop a new session */
	char c4[LK_COOKIE_LEN + 1];
	struct lk_session s4;
	assert_rc(lk_auth_session_start(f->a, &f->alice, "192.0.2.10", "ua", "junk", now_s(), c4,
					&s4), LK_OK);
	assert_rc(check_cookie(f, c4, NULL), LK_OK);
	assert_rc(check_cookie(f, c3, NULL), LK_OK);
}

/* A role is a whole member of the comma-separated list: "admin" is not "sysadmin" or
 * "admins" (the /admin pages and routes ask this, and so do bearer tokens' roles). */
static void test_has_role(void **state)
{
	assert_true(lk_auth_has_role("admin", "admin"));
	assert_true(lk_auth_has_role("reader,admin", "admin"));
	assert_true(lk_auth_has_role("admin,reader", "reader"));
	assert_false(lk_auth_has_role("", "admin"));
	assert_false(lk_auth_has_role(NULL, "admin"));
	assert_false(lk_auth_has_role("sysadmin", "admin"));
	assert_false(lk_auth_has_role("admins,reader", "admin"));
	assert_false(lk_auth_has_role("adm,in", "admin"));
	assert_false(lk_auth_has_role("reader,", "admin"));
}

int main(void)
{
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_revoke_user_one),
		T(test_revoke_user_keep),
		T(test_revoke_user_everyone),
		T(test_passwd_ends_sessions_and_refresh),
		T(test_scope_check),
		T(test_user_add_roles),
		T(test_client_check),
		T(test_token_revoke_refresh),
		T(test_token_revoke_refresh_fresh),
		T(test_token_revoke_unknown),
		T(test_token_revoke_access),
		T(test_introspect_refresh),
		T(test_introspect_access),
		T(test_signin_outcomes),
		T(test_signin_limit_parallel),
		T(test_signin_success_releases),
		T(test_logout_refresh),
		T(test_revoke_session),
		T(test_session_start_never_adopts),
#undef T
		cmocka_unit_test(test_has_role),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
