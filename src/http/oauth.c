/* SPDX-License-Identifier: MIT */
/*
 * The token side of the HTTP table: discovery and JWKS, the hybrid exchange (/token),
 * RFC 6749 /oauth2/token (password, refresh_token, client_credentials), RFC 7009
 * revocation, RFC 7662 introspection, and the forward-auth endpoint /auth/verify.
 * Errors on the /oauth2 endpoints follow RFC 6749 §5.2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <sodium.h>

#include "http/http_int.h"
#include "util/b64url.h"
#include "util/log.h"

#define REFRESH_COOKIE_SECURE "__Secure-latchkey-refresh"
#define REFRESH_COOKIE_PLAIN "latchkey-refresh"

static struct lk_tokens *tok(struct lk_req *r) { return r->srv->auth->tok; }

static const char *refresh_cookie(const struct lk_server *s)
{
	return s->cfg.insecure_cookies ? REFRESH_COOKIE_PLAIN : REFRESH_COOKIE_SECURE;
}

static void refresh_cookie_set(struct lk_server *s, const char *value, int64_t max_age,
			       char *buf, size_t size)
{
	snprintf(buf, size, "%s=%s; Path=/oauth2; HttpOnly%s; SameSite=Strict; Max-Age=%lld",
		 refresh_cookie(s), value, s->cfg.insecure_cookies ? "" : "; Secure",
		 (long long)max_age);
}

/* ---------------------------------------------------------------- bearer */

enum lk_err lk_req_bearer(struct lk_req *r)
{
	const char *h = lk_req_header(r, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return LK_ENOT_FOUND;
	if (!tok(r))
		return LK_ENO_KEY;
	h += 7;
	while (*h == ' ')
		h++;
	return lk_tokens_verify(tok(r), h, strlen(h), lk_now(), &r->tok);
}

/* ---------------------------------------------------------------- discovery */

enum MHD_Result lk_route_jwks(struct lk_req *r)
{
	char *doc = tok(r) ? lk_tokens_jwks(tok(r)) : NULL, cc[64];
	if (!doc)
		return lk_reply_error(r, 503, "store_unavailable", "the key ring is unavailable");
	struct MHD_Response *resp = lk_resp_new("application/jwk-set+json", doc, strlen(doc));
	free(doc);
	if (resp) {
		snprintf(cc, sizeof cc, "public, max-age=%lld",
			 (long long)lk_tokens_cfg(tok(r))->jwks_max_age);
		MHD_del_response_header(resp, "Cache-Control", "no-store");
		MHD_add_response_header(resp, "Cache-Control", cc);
	}
	return lk_reply(r, 200, resp);
}

enum MHD_Result lk_route_discovery(struct lk_req *r)
{
	const char *iss = r->srv->cfg.issuer;
	char u[5][300];
	static const char *paths[5] = {"/.well-known/jwks.json", "/oauth2/token", "/oauth2/revoke",
				       "/oauth2/introspect", "/auth/verify"};
	for (int i = 0; i < 5; i++)
		snprintf(u[i], sizeof u[i], "%s%s", iss, paths[i]);
	const char *alg = tok(r) ? lk_tokens_alg_name(tok(r)) : "ES256";
	json_t *o = json_pack(
		"{sssssssssss[sss]s[ss]s[s]s[s]s[ss]s[ss]}", "issuer", iss, "jwks_uri", u[0],
		"token_endpoint", u[1], "revocation_endpoint", u[2], "introspection_endpoint", u[3],
		"grant_types_supported", "password", "refresh_token", "client_credentials",
		"token_endpoint_auth_methods_supported", "client_secret_basic", "client_secret_post",
		"id_token_signing_alg_values_supported", alg,
		"access_token_signing_alg_values_supported", alg,
		"revocation_endpoint_auth_methods_supported", "client_secret_basic",
		"client_secret_post", "introspection_endpoint_auth_methods_supported",
		"client_secret_basic", "client_secret_post");
	if (o)
		json_object_set_new(o, "response_types_supported", json_pack("[s]", "token"));
	return lk_reply_json(r, 200, o, NULL);
}

/* ---------------------------------------------------------------- replies */

static enum MHD_Result oauth_error(struct lk_req *r, unsigned status, const char *code,
				   const char *desc)
{
	return lk_reply_error(r, status, code, desc);
}

/* {"access_token","token_type","expires_in","scope"[,"refresh_token"]}; a browser gets
 * the refresh token as an HttpOnly cookie scoped to /oauth2 instead of in the body. */
static enum MHD_Result token_reply(struct lk_req *r, const char *access, int64_t expires_in,
				   const char *scope, const char *refresh)
{
	char setc[256];
	json_t *o = json_pack("{sssssI}", "access_token", access, "token_type", "Bearer",
			      "expires_in", (json_int_t)(expires_in > 0 ? expires_in : 0));
	if (!o)
		return lk_reply_error(r, 500, "server_error", "out of memory");
	if (scope && *scope)
		json_object_set_new(o, "scope", json_string(scope));
	if (refresh && !r->browser)
		json_object_set_new(o, "refresh_token", json_string(refresh));
	if (refresh && r->browser)
		refresh_cookie_set(r->srv, refresh, lk_tokens_cfg(tok(r))->refresh_ttl, setc, sizeof setc);
	enum MHD_Result mr = lk_reply_json(r, 200, o, refresh && r->browser ? setc : NULL);
	OPENSSL_cleanse(setc, sizeof setc);
	return mr;
}

/* ---------------------------------------------------------------- client auth */

/* RFC 6749 §2.3.1: HTTP Basic (each part form-urlencoded) or client_id/client_secret in
 * the body. Returns 1 authenticated, 0 no credentials given, -1 wrong credentials. */
static int client_auth(struct lk_req *r)
{
	const char *h = lk_req_header(r, "Authorization");
	char *id = NULL, *secret = NULL;
	int rc = -1;

	if (h && strncasecmp(h, "Basic ", 6) == 0) {
		unsigned char dec[256];
		size_t n = 0;
		const char *b = h + 6, *end;
		while (*b == ' ')
			b++;
		if (sodium_base642bin(dec, sizeof dec - 1, b, strlen(b), NULL, &n, &end,
				      sodium_base64_VARIANT_ORIGINAL) != 0 || *end)
			return -1;
		dec[n] = '\0';
		char *colon = strchr((char *)dec, ':');
		if (!colon)
			return -1;
		*colon = '\0';
		id = strdup((char *)dec);
		secret = strdup(colon + 1);
		sodium_memzero(dec, sizeof dec);
	} else {
		secret = lk_req_param(r, "client_secret");
		if (!secret)
			return 0;
		id = lk_req_param(r, "client_id");
	}
	if (!id || !secret)
		goto out;
	/* the secret: 43 characters of base64url, 32 bytes; compare hashes in constant time */
	unsigned char raw[33], hsh[32];
	size_t n;
	bool ok = strlen(secret) == 43 && lk_b64url_decode(secret, 43, raw, sizeof raw, &n) == LK_OK &&
		  n == 32;
	enum lk_err err = r->srv->auth->st->ops->client_get(r->srv->auth->st, id, &r->client);
	if (err && err != LK_ENOT_FOUND) {
		rc = -2;
		goto out;
	}
	if (ok)
		crypto_hash_sha256(hsh, raw, 32);
	else
		memset(hsh, 0, sizeof hsh);
	if (!err && ok && CRYPTO_memcmp(hsh, r->client.secret_hash, 32) == 0) {
		r->client_ok = true;
		rc = 1;
	}
	sodium_memzero(raw, sizeof raw);
out:
	if (secret) {
		OPENSSL_cleanse(secret, strlen(secret));
		free(secret);
	}
	free(id);
	return rc;
}

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

/* What every /oauth2 endpoint checks first: tokens configured, a form body, and client
 * credentials valid when given (required when need_client). true when the caller may go
 * on; otherwise *mr holds the reply already queued. */
static bool oauth_preamble(struct lk_req *r, bool need_client, enum MHD_Result *mr)
{
	int ca;
	if (!tok(r))
		*mr = oauth_error(r, 503, "temporarily_unavailable", "tokens are not configured");
	else if (!lk_req_is_form(r))
		*mr = oauth_error(r, 400, "invalid_request",
				  "the body must be application/x-www-form-urlencoded");
	else if ((ca = client_auth(r)) == -2)
		*mr = lk_reply_store_error(r, LK_ESTORE);
	else if (ca < 0 || (need_client && ca != 1))
		*mr = oauth_error(r, 401, "invalid_client",
				  ca < 0 ? "client authentication failed"
					 : "client authentication is required");
	else
		return true;
	return false;
}

/* ---------------------------------------------------------------- /oauth2/token */

static enum MHD_Result grant_password_finish(struct lk_req *r)
{
	struct lk_auth *a = r->srv->auth;
	struct lk_principal p;
	char rt[LK_REFRESH_LEN + 1], *access = NULL;

	if (lk_pw_busy(r))
		return lk_reply_busy(r);
	if (!r->pw_ok) {
		atomic_fetch_add(&r->srv->logins[1], 1);
		enum lk_err ferr = lk_rl_fail(a->rl, r->user.name, r->ip, lk_now());
		if (ferr)
			return lk_reply_store_error(r, ferr);
		lk_audit_event(a, "login_failed", r->user.name, r->ip,
			       r->found ? "wrong password (password grant)" : "unknown user (password grant)");
		return oauth_error(r, 400, "invalid_grant", "wrong username or password");
	}
	lk_rl_success(a->rl, r->user.name, r->ip);
	enum lk_err err = lk_refresh_start(a, &r->user, r->client_ok ? r->client.id : "", r->scope,
					   lk_now(), rt, &access, &p);
	if (err)
		return lk_reply_store_error(r, err);
	atomic_fetch_add(&r->srv->logins[0], 1);
	lk_audit_event(a, "login", r->user.name, r->ip, "password grant");
	enum MHD_Result mr = token_reply(r, access, p.exp - p.iat, p.scope, rt);
	sodium_memzero(rt, sizeof rt);
	free(access);
	return mr;
}

static enum MHD_Result grant_refresh(struct lk_req *r)
{
	struct lk_auth *a = r->srv->auth;
	struct lk_principal p;
	char next[LK_REFRESH_LEN + 1], *access = NULL;
	bool reuse = false;
	char *rt = lk_req_param(r, "refresh_token");

	if (!rt) {
		const char *c = MHD_lookup_connection_value(r->c, MHD_COOKIE_KIND, refresh_cookie(r->srv));
		if (c) {
			/* a cookie rides along with cross-site requests: check where this came from */
			if (!lk_req_same_origin(r))
				return oauth_error(r, 403, "invalid_request", "cross-site refresh refused");
			rt = strdup(c);
			r->browser = true; /* the answer goes back as the cookie, too */
		}
	}
	if (!rt)
		return oauth_error(r, 400, "invalid_request", "refresh_token is required");
	enum lk_err err = lk_refresh_use(a, rt, r->client_ok ? r->client.id : NULL, lk_now(), next,
					 &access, &p, &reuse);
	OPENSSL_cleanse(rt, strlen(rt));
	free(rt);
	if (reuse)
		lk_audit_event(a, "refresh_reuse", p.name, r->ip,
			       "a used refresh token came back: family revoked (suspected theft)");
	if (err == LK_ESESSION)
		return oauth_error(r, 400, "invalid_grant",
				   reuse ? "the refresh token was already used; its family is revoked"
					 : "the refresh token is invalid, expired or revoked");
	if (err)
		return lk_reply_store_error(r, err);
	enum MHD_Result mr = token_reply(r, access, p.exp - lk_now(), p.scope, next);
	sodium_memzero(next, sizeof next);
	free(access);
	return mr;
}

static enum MHD_Result grant_client(struct lk_req *r)
{
	struct lk_principal p;
	char *access = NULL;

	if (!r->client_ok)
		return oauth_error(r, 401, "invalid_client", "client authentication is required");
	if (r->scope[0] && !scope_within(r->scope, r->client.scope))
		return oauth_error(r, 400, "invalid_scope", "the scope exceeds the client's");
	memset(&p, 0, sizeof p);
	snprintf(p.sub, sizeof p.sub, "%s", r->client.id);
	snprintf(p.name, sizeof p.name, "%s", r->client.name);
	snprintf(p.client_id, sizeof p.client_id, "%s", r->client.id);
	snprintf(p.scope, sizeof p.scope, "%s", r->scope[0] ? r->scope : r->client.scope);
	enum lk_err err = lk_tokens_issue(tok(r), &p, lk_tokens_cfg(tok(r))->access_ttl, lk_now(),
					  &access);
	if (err)
		return lk_reply_store_error(r, err);
	lk_audit_event(r->srv->auth, "client_token", r->client.name, r->ip, r->client.id);
	enum MHD_Result mr = token_reply(r, access, p.exp - p.iat, p.scope, NULL);
	free(access);
	return mr;
}

enum MHD_Result lk_route_oauth_token(struct lk_req *r)
{
	if (r->login == LOGIN_DONE)
		return grant_password_finish(r);
	enum MHD_Result pmr;
	if (!oauth_preamble(r, false, &pmr))
		return pmr;
	/* A browser: no client credentials, and the fetch metadata or Origin a browser sends. */
	r->browser = !r->client_ok &&
		     (lk_req_header(r, "Origin") || lk_req_header(r, "Sec-Fetch-Site"));
	char *gt = lk_req_param(r, "grant_type"), *scope = lk_req_param(r, "scope");
	enum MHD_Result mr;
	if (scope && !scope_ok(scope)) {
		mr = oauth_error(r, 400, "invalid_scope", "malformed scope");
		goto out;
	}
	snprintf(r->scope, sizeof r->scope, "%s", scope ? scope : "");
	/* A client gets at most its own scopes; a user without a client at most user_scopes. */
	if (r->scope[0] && !scope_within(r->scope, r->client_ok ? r->client.scope
							      : lk_tokens_cfg(tok(r))->user_scopes)) {
		mr = oauth_error(r, 400, "invalid_scope",
				 r->client_ok ? "the scope exceeds the client's"
					      : "the scope exceeds what users may ask for (user_scopes)");
		goto out;
	}
	if (!gt) {
		mr = oauth_error(r, 400, "invalid_request", "grant_type is required");
	} else if (!strcmp(gt, "password")) {
		if (r->browser && !lk_req_same_origin(r)) {
			mr = oauth_error(r, 403, "invalid_request", "cross-site sign-in refused");
			goto out;
		}
		char *user = lk_req_param(r, "username"), *pw = lk_req_param(r, "password");
		if (!user || !pw || !*user || strlen(user) > LK_NAME_MAX || strlen(pw) > LK_PW_MAX) {
			free(user);
			if (pw) {
				OPENSSL_cleanse(pw, strlen(pw));
				free(pw);
			}
			mr = oauth_error(r, 400, "invalid_request", "username and password are required");
			goto out;
		}
		mr = lk_pw_start(r, user, pw);
		free(user);
	} else if (!strcmp(gt, "refresh_token")) {
		mr = grant_refresh(r);
	} else if (!strcmp(gt, "client_credentials")) {
		mr = grant_client(r);
	} else {
		mr = oauth_error(r, 400, "unsupported_grant_type", "the grant type is not supported");
	}
out:
	free(gt);
	free(scope);
	return mr;
}

/* ---------------------------------------------------------------- /token (hybrid) */

enum MHD_Result lk_route_hybrid(struct lk_req *r)
{
	struct lk_principal p;
	char *access = NULL;

	if (!tok(r))
		return lk_reply_error(r, 503, "temporarily_unavailable", "tokens are not configured");
	memset(&p, 0, sizeof p);
	snprintf(p.sub, sizeof p.sub, "%lld", (long long)r->me.id);
	snprintf(p.name, sizeof p.name, "%s", r->me.name);
	snprintf(p.roles, sizeof p.roles, "%s", r->me.roles);
	snprintf(p.sid, sizeof p.sid, "%s", r->sess.handle);
	enum lk_err err = lk_tokens_issue(tok(r), &p, lk_tokens_cfg(tok(r))->hybrid_ttl, lk_now(),
					  &access);
	if (err)
		return lk_reply_store_error(r, err);
	enum MHD_Result mr = token_reply(r, access, p.exp - p.iat, NULL, NULL);
	free(access);
	return mr;
}

/* ---------------------------------------------------------------- revoke, introspect */

static bool looks_refresh(const char *t)
{
	unsigned char b[33];
	size_t n;
	return strlen(t) == LK_REFRESH_LEN && lk_b64url_decode(t, LK_REFRESH_LEN, b, sizeof b, &n) == LK_OK;
}

enum MHD_Result lk_route_oauth_revoke(struct lk_req *r)
{
	struct lk_auth *a = r->srv->auth;
	struct lk_principal p;

	enum MHD_Result pmr;
	if (!oauth_preamble(r, false, &pmr))
		return pmr;
	char *t = lk_req_param(r, "token");
	if (!t)
		return oauth_error(r, 400, "invalid_request", "token is required");
	enum lk_err err = LK_OK;
	/* RFC 7009 §2.2: unknown and invalid tokens are answered 200 like revoked ones. */
	if (looks_refresh(t)) {
		err = lk_refresh_revoke(a, t, lk_now());
		if (!err)
			lk_audit_event(a, "revoke", "", r->ip, "refresh token family (RFC 7009)");
	} else if (lk_tokens_verify(tok(r), t, strlen(t), lk_now(), &p) == LK_OK) {
		err = lk_tokens_revoke_jti(tok(r), &p);
		if (!err)
			lk_audit_event(a, "revoke", p.name, r->ip, "access token (RFC 7009)");
	}
	OPENSSL_cleanse(t, strlen(t));
	free(t);
	if (err && err != LK_ENOT_FOUND && err != LK_ESESSION)
		return lk_reply_store_error(r, err);
	return lk_reply(r, 200, lk_resp_new("application/json", "{}", 2));
}

enum MHD_Result lk_route_oauth_introspect(struct lk_req *r)
{
	struct lk_principal p;

	enum MHD_Result pmr;
	if (!oauth_preamble(r, true, &pmr))
		return pmr;
	char *t = lk_req_param(r, "token");
	if (!t)
		return oauth_error(r, 400, "invalid_request", "token is required");
	json_t *o;
	if (lk_tokens_verify(tok(r), t, strlen(t), lk_now(), &p) == LK_OK) {
		o = json_pack("{sbsssssssssssIsIssss}", "active", 1, "token_type", "Bearer", "sub", p.sub,
			      "scope", p.scope, "client_id", p.client_id, "iss", r->srv->cfg.issuer,
			      "exp", (json_int_t)p.exp, "iat", (json_int_t)p.iat, "jti", p.jti, "aud",
			      lk_tokens_cfg(tok(r))->audience);
		if (o && p.name[0])
			json_object_set_new(o, "username", json_string(p.name));
		if (o && p.sid[0])
			json_object_set_new(o, "sid", json_string(p.sid));
	} else {
		o = json_pack("{sb}", "active", 0);
	}
	OPENSSL_cleanse(t, strlen(t));
	free(t);
	return lk_reply_json(r, 200, o, NULL);
}

/* ---------------------------------------------------------------- /auth/verify */

enum MHD_Result lk_route_auth_verify(struct lk_req *r)
{
	struct MHD_Response *resp = lk_resp_new("text/plain; charset=utf-8", "", 0);
	char sub[32];
	if (!resp)
		return MHD_NO;
	if (r->bearer) {
		MHD_add_response_header(resp, "X-Auth-Subject", r->tok.sub);
		MHD_add_response_header(resp, "X-Auth-User", r->tok.name);
		MHD_add_response_header(resp, "X-Auth-Roles", r->tok.roles);
		MHD_add_response_header(resp, "X-Auth-Scope", r->tok.scope);
	} else {
		snprintf(sub, sizeof sub, "%lld", (long long)r->me.id);
		MHD_add_response_header(resp, "X-Auth-Subject", sub);
		MHD_add_response_header(resp, "X-Auth-User", r->me.name);
		MHD_add_response_header(resp, "X-Auth-Roles", r->me.roles);
		MHD_add_response_header(resp, "X-Auth-Scope", "");
	}
	return lk_reply(r, 200, resp);
}
