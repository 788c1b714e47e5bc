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

/* The token settings, NULL when tokens are not served. */
static const struct lk_tokcfg *tcfg(struct lk_req *r) { return lk_auth_tokcfg(r->srv->auth); }

const char *lk_refresh_cookie(const struct lk_server *s)
{
	return s->cfg.insecure_cookies ? REFRESH_COOKIE_PLAIN : REFRESH_COOKIE_SECURE;
}

static void refresh_cookie_set(const struct lk_server *s, const char *value, int64_t max_age,
			       char *buf, size_t size)
{
	snprintf(buf, size, "%s=%s; Path=/oauth2; HttpOnly%s; SameSite=Strict; Max-Age=%lld",
		 lk_refresh_cookie(s), value, s->cfg.insecure_cookies ? "" : "; Secure",
		 (long long)max_age);
}

void lk_refresh_cookie_clear(const struct lk_server *s, char *buf, size_t size)
{
	refresh_cookie_set(s, "", 0, buf, size);
}

/* ---------------------------------------------------------------- bearer */

enum lk_err lk_req_bearer(struct lk_req *r)
{
	const char *t = lk_parse_bearer(lk_req_header(r, "Authorization"));
	if (!t)
		return LK_ENOT_FOUND;
	return lk_auth_token_verify(r->srv->auth, t, strlen(t), lk_now(), &r->tok);
}

/* ---------------------------------------------------------------- discovery */

enum MHD_Result lk_route_jwks(struct lk_req *r)
{
	char *doc = lk_auth_jwks(r->srv->auth), cc[64];
	if (!doc)
		return lk_reply_error(r, 503, "temporarily_unavailable", "the key ring is unavailable");
	struct MHD_Response *resp = lk_resp_new("application/jwk-set+json", doc, strlen(doc));
	free(doc);
	if (resp) {
		snprintf(cc, sizeof cc, "public, max-age=%lld", (long long)tcfg(r)->jwks_max_age);
		MHD_del_response_header(resp, "Cache-Control", "no-store");
		MHD_add_response_header(resp, "Cache-Control", cc);
	}
	return lk_reply(r, 200, resp);
}

/*
 * Authorization server metadata (RFC 8414 §2), served at /.well-known/oauth-authorization-
 * server and, for clients that only look there, at /.well-known/openid-configuration. It
 * advertises what the server does and nothing else: no authorization endpoint, so no
 * response types; no ID tokens, so no ID-token algorithms.
 */
enum MHD_Result lk_route_discovery(struct lk_req *r)
{
	const char *iss = r->srv->cfg.issuer;
	char u[4][300];
	static const char *paths[4] = {"/.well-known/jwks.json", "/oauth2/token", "/oauth2/revoke",
				       "/oauth2/introspect"};
	for (int i = 0; i < 4; i++)
		snprintf(u[i], sizeof u[i], "%s%s", iss, paths[i]);
	json_t *o = json_pack(
		"{sssssssssss[sss]s[ss]s[s]s[ss]s[ss]s[]}", "issuer", iss, "jwks_uri", u[0],
		"token_endpoint", u[1], "revocation_endpoint", u[2], "introspection_endpoint", u[3],
		"grant_types_supported", "password", "refresh_token", "client_credentials",
		"token_endpoint_auth_methods_supported", "client_secret_basic", "client_secret_post",
		"access_token_signing_alg_values_supported", lk_auth_alg_name(r->srv->auth),
		"revocation_endpoint_auth_methods_supported", "client_secret_basic",
		"client_secret_post", "introspection_endpoint_auth_methods_supported",
		"client_secret_basic", "client_secret_post", "response_types_supported");
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
		refresh_cookie_set(r->srv, refresh, tcfg(r)->refresh_ttl, setc, sizeof setc);
	/* RFC 6749 §5.1: no-store (every reply has it) and no-cache */
	char *body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!body)
		return lk_reply_err(r, LK_ENOMEM);
	struct MHD_Response *resp = lk_resp_new("application/json", body, strlen(body));
	OPENSSL_cleanse(body, strlen(body));
	free(body);
	if (resp) {
		MHD_add_response_header(resp, "Pragma", "no-cache");
		if (refresh && r->browser)
			MHD_add_response_header(resp, "Set-Cookie", setc);
	}
	enum MHD_Result mr = lk_reply(r, 200, resp);
	OPENSSL_cleanse(setc, sizeof setc);
	return mr;
}

/* ---------------------------------------------------------------- client auth */

/*
 * Client authentication, RFC 6749 §2.3.1: HTTP Basic, where the id and the secret are each
 * form-urlencoded (Appendix B) before base64, or client_id and client_secret in the body;
 * never both (§2.3). Returns 1 authenticated, 0 no credentials given, -1 wrong or
 * malformed credentials, -2 the store failed, -3 two methods at once.
 */
int lk_req_client_auth(struct lk_req *r)
{
	const char *h = lk_req_header(r, "Authorization");
	char *id = NULL, *secret = NULL;
	int rc = -1;

	if (h && strncasecmp(h, "Basic ", 6) == 0) {
		char *body_secret = lk_req_param(r, "client_secret");
		if (body_secret) {
			OPENSSL_cleanse(body_secret, strlen(body_secret));
			free(body_secret);
			return -3;
		}
		if (lk_parse_basic(h, &id, &secret) != 1)
			return -1;
	} else {
		secret = lk_req_param(r, "client_secret");
		if (!secret)
			return 0;
		id = lk_req_param(r, "client_id");
	}
	if (id && secret) {
		enum lk_err err = lk_auth_client_check(r->srv->auth, id, secret, &r->client);
		if (!err) {
			r->client_ok = true;
			rc = 1;
		} else if (err != LK_EBAD_CREDENTIALS) {
			rc = -2;
		}
	}
	if (secret) {
		OPENSSL_cleanse(secret, strlen(secret));
		free(secret);
	}
	free(id);
	return rc;
}

/* What every /oauth2 endpoint checks first: tokens configured, a form body, and client
 * credentials valid when given (required when need_client). true when the caller may go
 * on; otherwise *mr holds the reply already queued. */
static bool oauth_preamble(struct lk_req *r, bool need_client, enum MHD_Result *mr)
{
	int ca;
	if (!tcfg(r))
		*mr = oauth_error(r, 503, "temporarily_unavailable", "tokens are not configured");
	else if (!lk_req_is_form(r))
		*mr = oauth_error(r, 400, "invalid_request",
				  "the body must be application/x-www-form-urlencoded");
	else if ((ca = lk_req_client_auth(r)) == -2)
		*mr = lk_reply_err(r, LK_ESTORE);
	else if (ca == -3)
		*mr = oauth_error(r, 400, "invalid_request",
				  "use one client authentication method, not two (RFC 6749 §2.3)");
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
	struct lk_principal p;
	char rt[LK_REFRESH_LEN + 1], *access = NULL;
	enum MHD_Result mr;
	bool wrong;

	if (!lk_pw_outcome(r, &wrong, &mr))
		return wrong ? oauth_error(r, 400, "invalid_grant", "wrong username or password") : mr;
	enum lk_err err = lk_auth_token_for_user(r->srv->auth, &r->si.user, r->ip,
						 r->client_ok ? r->client.id : "", r->scope, lk_now(),
						 rt, &access, &p);
	if (err)
		return lk_reply_err(r, err);
	mr = token_reply(r, access, p.exp - p.iat, p.scope, rt);
	sodium_memzero(rt, sizeof rt);
	free(access);
	return mr;
}

static enum MHD_Result grant_refresh(struct lk_req *r)
{
	struct lk_actor by = lk_req_actor(r);
	struct lk_principal p;
	char next[LK_REFRESH_LEN + 1], *access = NULL;
	bool reuse = false;
	char *rt = lk_req_param(r, "refresh_token");

	if (!rt) {
		const char *c = MHD_lookup_connection_value(r->c, MHD_COOKIE_KIND, lk_refresh_cookie(r->srv));
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
	enum lk_err err = lk_auth_token_refresh(r->srv->auth, &by, rt, r->client_ok ? r->client.id : NULL,
						lk_now(), next, &access, &p, &reuse);
	OPENSSL_cleanse(rt, strlen(rt));
	free(rt);
	if (err == LK_ESESSION)
		return oauth_error(r, 400, "invalid_grant",
				   reuse ? "the refresh token was already used; its family is revoked"
					 : "the refresh token is invalid, expired or revoked");
	if (err)
		return lk_reply_err(r, err);
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
	enum lk_err err = lk_auth_token_for_client(r->srv->auth, &r->client, r->scope, lk_now(),
						   &access, &p);
	if (err)
		return lk_reply_err(r, err);
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
	enum lk_err serr = lk_auth_scope_check(r->srv->auth, r->client_ok ? &r->client : NULL,
					       scope ? scope : "");
	if (serr) {
		mr = oauth_error(r, 400, "invalid_scope",
				 serr == LK_EMALFORMED ? "malformed scope"
				 : r->client_ok	       ? "the scope exceeds the client's"
						       : "the scope exceeds what users may ask for (user_scopes)");
		goto out;
	}
	snprintf(r->scope, sizeof r->scope, "%s", scope ? scope : "");
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
		mr = lk_pw_start(r, user, pw, true);
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

	if (!tcfg(r))
		return lk_reply_error(r, 503, "temporarily_unavailable", "tokens are not configured");
	enum lk_err err = lk_auth_token_for_session(r->srv->auth, &r->sess, &r->me, lk_now(),
						    &access, &p);
	if (err)
		return lk_reply_err(r, err);
	enum MHD_Result mr = token_reply(r, access, p.exp - p.iat, NULL, NULL);
	free(access);
	return mr;
}

/* ---------------------------------------------------------------- revoke, introspect */

/* RFC 7009: client-authenticated (§2.1); a token issued to another client is refused with
 * unauthorized_client (§2.2.1) and stays valid; unknown and invalid tokens get 200 (§2.2). */
enum MHD_Result lk_route_oauth_revoke(struct lk_req *r)
{
	struct lk_actor by = lk_req_actor(r);
	enum MHD_Result pmr;
	if (!oauth_preamble(r, true, &pmr))
		return pmr;
	char *t = lk_req_param(r, "token");
	if (!t)
		return oauth_error(r, 400, "invalid_request", "token is required");
	enum lk_err err = lk_auth_token_revoke(r->srv->auth, &by, &r->client, t, lk_now());
	OPENSSL_cleanse(t, strlen(t));
	free(t);
	if (err == LK_EFORBIDDEN)
		return oauth_error(r, 400, "unauthorized_client",
				   "the token was issued to another client");
	if (err)
		return lk_reply_err(r, err);
	return lk_reply(r, 200, lk_resp_new("application/json", "{}", 2));
}

/* RFC 7662: a client learns about its own tokens only, unless it is a resource server
 * (setting resource_servers); anything else is {"active":false} (§2.2, §4). */
enum MHD_Result lk_route_oauth_introspect(struct lk_req *r)
{
	struct lk_introspection in;
	enum MHD_Result pmr;
	if (!oauth_preamble(r, true, &pmr))
		return pmr;
	char *t = lk_req_param(r, "token");
	if (!t)
		return oauth_error(r, 400, "invalid_request", "token is required");
	enum lk_err err = lk_auth_token_introspect(r->srv->auth, &r->client, t, lk_now(), &in);
	OPENSSL_cleanse(t, strlen(t));
	free(t);
	if (err)
		return lk_reply_err(r, err);
	if (!in.active)
		return lk_reply_json(r, 200, json_pack("{sb}", "active", 0), NULL);
	const struct lk_principal *p = &in.p;
	json_t *o = json_pack("{sbsssssssssIsI}", "active", 1, "token_type",
			      in.refresh ? "refresh_token" : "Bearer", "sub", p->sub, "client_id",
			      p->client_id[0] ? p->client_id : r->srv->cfg.issuer, "iss",
			      r->srv->cfg.issuer, "exp", (json_int_t)p->exp, "iat", (json_int_t)p->iat);
	if (o)
		json_object_set_new(o, "scope", json_string(p->scope));
	if (o && !in.refresh) {
		json_object_set_new(o, "jti", json_string(p->jti));
		json_object_set_new(o, "aud", json_string(tcfg(r)->audience));
	}
	if (o && p->name[0])
		json_object_set_new(o, "username", json_string(p->name));
	if (o && p->sid[0])
		json_object_set_new(o, "sid", json_string(p->sid));
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
