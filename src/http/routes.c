/* SPDX-License-Identifier: MIT */
/*
 * The JSON endpoints of SPEC.md's HTTP table that exist today: sign-in and sign-out,
 * /me, the session list and its revocations, the admin "sign everyone out", health,
 * readiness and metrics. Authentication and CSRF gates come from the route flags
 * (server.c); handlers here assume them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "http/http_int.h"
#include "util/b64url.h"
#include "util/log.h"

static json_t *roles_array(const char *roles)
{
	json_t *a = json_array();
	const char *p = roles;
	while (a && p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n)
			json_array_append_new(a, json_stringn(p, n));
		p = comma ? comma + 1 : NULL;
	}
	return a;
}

static json_t *user_json(const struct lk_user *u)
{
	char sub[24];
	snprintf(sub, sizeof sub, "%lld", (long long)u->id);
	return json_pack("{ssssso}", "sub", sub, "name", u->name, "roles", roles_array(u->roles));
}

/* ---------------------------------------------------------------- sign-in */

static void signin_done(void *arg)
{
	struct lk_req *r = arg;
	r->login = LOGIN_DONE;
	MHD_resume_connection(r->c);
}

static enum MHD_Result login_fail(struct lk_req *r, unsigned status, const char *code,
				  const char *desc)
{
	if (r->form)
		return lk_page_login_error(r, status, desc);
	return lk_reply_error(r, status, code, desc);
}

/* Free a string that held a password, wiping it first. */
static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* A new session for this browser: its cookie (wiped here) with a redirect to location for
 * a form post, else with the JSON body o (consumed). */
static enum MHD_Result new_session_reply(struct lk_req *r, char cookie[LK_COOKIE_LEN + 1],
					 const char *location, json_t *o)
{
	char setc[256];
	enum MHD_Result mr;
	lk_cookie_set(r->srv, cookie, setc, sizeof setc);
	OPENSSL_cleanse(cookie, LK_COOKIE_LEN + 1);
	if (r->form) {
		json_decref(o);
		mr = lk_reply_redirect(r, location, setc);
	} else {
		mr = lk_reply_json(r, 200, o, setc);
	}
	OPENSSL_cleanse(setc, sizeof setc);
	return mr;
}

/*
 * The shared first half of every password check (/login, the password grant): the auth
 * core rate-limits, looks the user up and queues Argon2 on a worker, with the connection
 * suspended; the route's handler runs again on resume with LOGIN_DONE. Takes pw.
 */
enum MHD_Result lk_pw_start(struct lk_req *r, const char *user, char *pw, bool grant)
{
	r->login = LOGIN_HASHING;
	/* Suspend first: the worker may finish and resume before begin returns. */
	MHD_suspend_connection(r->c);
	r->si_err = lk_auth_signin_begin(r->srv->auth, &r->si, user, r->ip, grant, pw, signin_done,
					 r, &r->retry_after);
	if (r->si_err) {
		r->login = LOGIN_DONE;
		MHD_resume_connection(r->c);
	}
	return MHD_YES;
}

enum MHD_Result lk_pw_change_start(struct lk_req *r, char *current, char *next)
{
	r->login = LOGIN_HASHING;
	MHD_suspend_connection(r->c);
	r->si_err = lk_auth_passwd_begin(r->srv->auth, &r->si, r->me.name, r->ip, current, next,
					 signin_done, r, &r->retry_after);
	if (r->si_err) {
		r->login = LOGIN_DONE;
		MHD_resume_connection(r->c);
	}
	return MHD_YES;
}

bool lk_pw_outcome(struct lk_req *r, bool *wrong, enum MHD_Result *mr)
{
	struct lk_server *s = r->srv;
	*wrong = false;
	*mr = MHD_NO;
	if (r->si_err == LK_ERATE_LIMITED) {
		char ra[24], body[256], msg[160];
		atomic_fetch_add(&s->logins[2], 1);
		snprintf(msg, sizeof msg, "Too many failed attempts. Try again in %lld seconds.",
			 (long long)r->retry_after);
		if (r->form_page) {
			*mr = r->form_page(r, 429, msg);
			return false;
		}
		snprintf(ra, sizeof ra, "%lld", (long long)r->retry_after);
		int n = snprintf(body, sizeof body,
				 "{\"error\":\"rate_limited\",\"error_description\":"
				 "\"too many failed sign-ins; retry in %lld s\"}",
				 (long long)r->retry_after);
		struct MHD_Response *resp = lk_resp_new("application/json", body, (size_t)n);
		if (resp)
			MHD_add_response_header(resp, "Retry-After", ra);
		*mr = lk_reply(r, 429, resp);
		return false;
	}
	if (r->si_err && r->form_page) {
		unsigned status;
		const char *error, *desc;
		lk_err_http(r, r->si_err, &status, &error, &desc);
		*mr = r->form_page(r, status, r->si_err == LK_EBUSY
						      ? "The server is busy. Try again in a moment."
						      : desc);
		return false;
	}
	if (r->si_err) {
		*mr = lk_reply_err(r, r->si_err);
		return false;
	}
	if (r->si.change)
		return true; /* the check ran; lk_auth_passwd_end tells */
	enum lk_err err = lk_auth_signin_end(s->auth, &r->si);
	if (err == LK_EBUSY) { /* waited too long for a worker: as if the queue were full */
		r->si_err = err;
		return lk_pw_outcome(r, wrong, mr);
	}
	if (err != LK_OK) {
		atomic_fetch_add(&s->logins[1], 1);
		*wrong = true;
		return false;
	}
	atomic_fetch_add(&s->logins[0], 1);
	return true;
}

static enum MHD_Result login_start(struct lk_req *r)
{
	struct lk_server *s = r->srv;
	char *user = NULL, *pw = NULL, *csrf = NULL, *ret = NULL;
	enum MHD_Result mr;

	r->form = lk_req_is_form(r);
	if (r->form)
		r->form_page = lk_page_login_error;
	if (!r->form && !lk_req_has_type(r, "application/json"))
		return lk_reply_error(r, 415, "invalid_request",
				      "send application/x-www-form-urlencoded or application/json");
	if (!lk_req_same_origin(r))
		return lk_reply_error(r, 403, "csrf", "cross-site sign-in refused");
	if (r->form) {
		const char *cookie = MHD_lookup_connection_value(r->c, MHD_COOKIE_KIND, s->csrf_cookie);
		csrf = lk_req_param(r, "csrf");
		bool ok = cookie && csrf && strlen(cookie) == LK_CSRF_LEN && strlen(csrf) == LK_CSRF_LEN &&
			  CRYPTO_memcmp(cookie, csrf, LK_CSRF_LEN) == 0 &&
			  lk_auth_csrf_valid(s->auth, csrf);
		free(csrf);
		if (!ok)
			return login_fail(r, 403, "csrf", "the sign-in form expired; please try again");
		ret = lk_req_param(r, "return_to");
		if (lk_return_to_ok(ret))
			snprintf(r->return_to, sizeof r->return_to, "%s", ret);
		free(ret);
	}
	user = lk_req_param(r, "username");
	pw = lk_req_param(r, "password");
	if (!user || !pw || !*user || strlen(user) > LK_NAME_MAX || strlen(pw) > LK_PW_MAX) {
		mr = login_fail(r, 400, "invalid_request", "username and password are required");
		goto out;
	}
	mr = lk_pw_start(r, user, pw, false);
	pw = NULL;
out:
	free(user);
	wipe_free(pw);
	return mr;
}

static enum MHD_Result login_finish(struct lk_req *r)
{
	struct lk_server *s = r->srv;
	char cookie[LK_COOKIE_LEN + 1];
	struct lk_session sess;
	enum MHD_Result mr;
	bool wrong;

	if (!lk_pw_outcome(r, &wrong, &mr))
		return wrong ? login_fail(r, 401, "invalid_credentials", "wrong username or password")
			     : mr;
	const char *old = MHD_lookup_connection_value(r->c, MHD_COOKIE_KIND, s->cookie_name);
	enum lk_err err = lk_auth_session_start(s->auth, &r->si.user, r->ip,
						lk_req_header(r, "User-Agent"), old, lk_now(), cookie,
						&sess);
	if (err)
		return lk_reply_err(r, err);
	return new_session_reply(r, cookie, r->return_to[0] ? r->return_to : "/account",
				 r->form ? NULL : user_json(&r->si.user));
}

static enum MHD_Result h_login(struct lk_req *r)
{
	return r->login == LOGIN_DONE ? login_finish(r) : login_start(r);
}

/* ---------------------------------------------------------------- sessions */

/*
 * Sign-out ends the session, and the refresh-token family this browser holds. That cookie
 * is scoped to /oauth2 (SPEC), so a browser does not send it here: every reply clears it
 * (a Set-Cookie may name another path), a client that does send it has its family ended
 * now, and a browser's form post is sent on to GET /oauth2/logout, where its cookie comes
 * along and the family ends before the sign-in page.
 */
static enum MHD_Result h_logout(struct lk_req *r)
{
	struct lk_actor by = lk_req_actor(r);
	char clear[160];
	const char *rt = MHD_lookup_connection_value(r->c, MHD_COOKIE_KIND,
						     lk_refresh_cookie(r->srv));
	enum lk_err err = lk_auth_logout(r->srv->auth, &by, &r->sess, &r->me, rt);
	if (err)
		return lk_reply_err(r, err);
	lk_cookie_clear(r->srv, clear, sizeof clear);
	if (lk_req_is_form(r))
		return lk_reply_redirect(r, "/oauth2/logout", clear);
	lk_refresh_cookie_clear(r->srv, r->extra_cookie, sizeof r->extra_cookie);
	return lk_reply_json(r, 200, json_pack("{sb}", "ok", 1), clear);
}

/* The second half of a browser's sign-out (see h_logout): end the family of the refresh
 * cookie, if any, clear it, and show the sign-in page. Safe as a GET: it ends only what
 * the request's own SameSite=Strict cookie holds, which a cross-site request never has. */
static enum MHD_Result h_oauth_logout(struct lk_req *r)
{
	struct lk_actor by = {"", r->ip};
	const char *rt = MHD_lookup_connection_value(r->c, MHD_COOKIE_KIND,
						     lk_refresh_cookie(r->srv));
	enum lk_err err = lk_auth_refresh_end(r->srv->auth, &by, rt);
	if (err)
		return lk_reply_err(r, err);
	lk_refresh_cookie_clear(r->srv, r->extra_cookie, sizeof r->extra_cookie);
	return lk_reply_redirect(r, "/login", NULL);
}

/*
 * GET /me with a session, the busiest reply, written here rather than built and dumped by
 * jansson (whose pack, dump and free were an eighth of a GET /me's CPU in perf: its dump's
 * loop check formats and hashes each container's address). The members and their order
 * are user_json's and the session object's below; the server suite reads them. Every part
 * is bounded (a name of LK_NAME_MAX bytes, roles of LK_ROLES_MAX, each escaped at most 6
 * times longer), so the buffer always holds it; 0 if it ever did not.
 */
struct jw {
	char *b;
	size_t n, cap;
};

static void jw_raw(struct jw *w, const char *s)
{
	size_t k = strlen(s);
	if (w->n + k < w->cap)
		memcpy(w->b + w->n, s, k);
	w->n += k;
}

static void jw_str(struct jw *w, const char *s, size_t len)
{
	char in[LK_ROLES_MAX + 1], out[6 * LK_ROLES_MAX + 1];
	if (len >= sizeof in) {
		w->n = w->cap; /* cannot happen: every string here is shorter */
		return;
	}
	memcpy(in, s, len);
	in[len] = '\0';
	size_t k = lk_json_escape(out, sizeof out, in);
	out[k] = '\0';
	jw_raw(w, "\"");
	jw_raw(w, out);
	jw_raw(w, "\"");
}

static void jw_int(struct jw *w, const char *key, long long v)
{
	char num[48];
	snprintf(num, sizeof num, "\"%s\":%lld", key, v);
	jw_raw(w, num);
}

static size_t me_session_body(struct lk_req *r, char *buf, size_t cap)
{
	struct jw w = {buf, 0, cap};
	const char *p = r->me.roles;
	bool first = true;

	char sub[48];
	snprintf(sub, sizeof sub, "{\"sub\":\"%lld\",\"name\":", (long long)r->me.id);
	jw_raw(&w, sub);
	jw_str(&w, r->me.name, strlen(r->me.name));
	jw_raw(&w, ",\"roles\":[");
	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n) {
			if (!first)
				jw_raw(&w, ",");
			jw_str(&w, p, n);
			first = false;
		}
		p = comma ? comma + 1 : NULL;
	}
	jw_raw(&w, "],\"session\":{\"id\":");
	jw_str(&w, r->sess.handle, strlen(r->sess.handle));
	jw_raw(&w, ",");
	jw_int(&w, "created", (long long)r->sess.created);
	jw_raw(&w, ",");
	jw_int(&w, "last_seen", (long long)r->sess.last_seen);
	jw_raw(&w, ",");
	jw_int(&w, "expires", (long long)lk_auth_session_expires(r->srv->auth, &r->sess));
	jw_raw(&w, "}}");
	return w.n < cap ? w.n : 0;
}

static enum MHD_Result h_me(struct lk_req *r)
{
	if (!r->bearer) {
		char buf[4096];
		size_t n = me_session_body(r, buf, sizeof buf);
		if (!n)
			return lk_reply_error(r, 500, "server_error", "reply too large");
		return lk_reply(r, 200, lk_resp_new("application/json", buf, n));
	}
	json_t *o = user_json(&r->me);
	json_object_set_new(o, "sub", json_string(r->tok.sub));
	json_object_set_new(o, "session", r->tok.sid[0] ? json_pack("{ss}", "id", r->tok.sid)
							 : json_null());
	json_object_set_new(o, "token", json_pack("{sssIsIss}", "jti", r->tok.jti, "iat",
						  (json_int_t)r->tok.iat, "exp",
						  (json_int_t)r->tok.exp, "scope", r->tok.scope));
	return lk_reply_json(r, 200, o, NULL);
}

struct list_ctx {
	json_t *arr;
	const char *current;
};

static int add_session(void *ud, const struct lk_session *s)
{
	struct list_ctx *c = ud;
	json_array_append_new(c->arr, json_pack("{sssIsIsssssb}", "id", s->handle, "created",
						(json_int_t)s->created, "last_seen",
						(json_int_t)s->last_seen, "ip", s->ip, "user_agent",
						s->user_agent, "current",
						strcmp(s->handle, c->current) == 0));
	return 0;
}

static enum MHD_Result h_sessions(struct lk_req *r)
{
	struct list_ctx c = {json_array(), r->sess.handle};
	enum lk_err err = lk_auth_sessions(r->srv->auth, r->me.id, add_session, &c);
	if (err) {
		json_decref(c.arr);
		return lk_reply_err(r, err);
	}
	return lk_reply_json(r, 200, c.arr, NULL);
}

/* Revoke one of the caller's sessions by public handle; shared by DELETE and the form. */
static enum MHD_Result revoke_handle(struct lk_req *r, const char *handle, bool form)
{
	struct lk_actor by = lk_req_actor(r);
	char clear[160];
	enum lk_err err = lk_auth_revoke_session(r->srv->auth, &by, r->me.id, handle);
	if (err == LK_ENOT_FOUND)
		return lk_reply_error(r, 404, "not_found", "no such session");
	if (err)
		return lk_reply_err(r, err);
	bool current = strcmp(handle, r->sess.handle) == 0;
	if (current)
		lk_cookie_clear(r->srv, clear, sizeof clear);
	if (form)
		return lk_reply_redirect(r, current ? "/login" : "/account?done=revoked",
					 current ? clear : NULL);
	struct MHD_Response *resp = lk_resp_new("application/json", "", 0);
	if (resp && current)
		MHD_add_response_header(resp, "Set-Cookie", clear);
	return lk_reply(r, 204, resp);
}

static enum MHD_Result h_session_del(struct lk_req *r)
{
	return revoke_handle(r, r->url + strlen("/sessions/"), false);
}

static enum MHD_Result h_account_revoke(struct lk_req *r)
{
	char *id = lk_req_param(r, "id");
	enum MHD_Result mr = revoke_handle(r, id, true);
	free(id);
	return mr;
}

static enum MHD_Result h_revoke_others(struct lk_req *r)
{
	struct lk_actor by = lk_req_actor(r);
	struct lk_revoked n;
	enum lk_err err = lk_auth_revoke_user(r->srv->auth, &by, r->me.id, r->sess.id_hash, &n);
	if (err)
		return lk_reply_err(r, err);
	if (lk_req_is_form(r))
		return lk_reply_redirect(r, "/account?done=others", NULL);
	return lk_reply_json(r, 200, json_pack("{sIsI}", "revoked", (json_int_t)n.sessions,
					      "refresh_families", (json_int_t)n.families), NULL);
}

static enum MHD_Result h_revoke_all(struct lk_req *r)
{
	struct lk_actor by = lk_req_actor(r);
	char *name = lk_req_param(r, "user"), clear[160];
	const char *q = MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, "user");
	struct lk_user u = {.id = -1};
	struct lk_revoked n;
	enum lk_err err = LK_OK;

	if (!name && q)
		name = strdup(q);
	if (name && *name && (err = lk_auth_user_get(r->srv->auth, name, &u)) == LK_ENOT_FOUND) {
		free(name);
		return lk_reply_error(r, 404, "not_found", "no such user");
	}
	bool self = u.id < 0 || u.id == r->me.id;
	free(name);
	if (!err)
		err = lk_auth_revoke_user(r->srv->auth, &by, u.id, NULL, &n);
	if (err)
		return lk_reply_err(r, err);
	if (self)
		lk_cookie_clear(r->srv, clear, sizeof clear);
	if (lk_req_is_form(r))
		return lk_reply_redirect(r, self ? "/login" : "/admin?done=user", self ? clear : NULL);
	return lk_reply_json(r, 200, json_pack("{sIsI}", "revoked", (json_int_t)n.sessions,
					      "refresh_families", (json_int_t)n.families),
			     self ? clear : NULL);
}

/* An admin revokes one session, whoever's (the admin page's buttons): back to that
 * user's sessions. */
static enum MHD_Result h_admin_session_revoke(struct lk_req *r)
{
	struct lk_actor by = lk_req_actor(r);
	char *id = lk_req_param(r, "id"), *user = lk_req_param(r, "user"), clear[160];
	char loc[160];
	enum MHD_Result mr;
	enum lk_err err = id ? lk_auth_revoke_session(r->srv->auth, &by, -1, id) : LK_ENOT_FOUND;

	if (err == LK_ENOT_FOUND) {
		mr = lk_reply_error(r, 404, "not_found", "no such session");
	} else if (err) {
		mr = lk_reply_err(r, err);
	} else if (strcmp(id, r->sess.handle) == 0) {
		lk_cookie_clear(r->srv, clear, sizeof clear);
		mr = lk_req_is_form(r) ? lk_reply_redirect(r, "/login", clear)
				       : lk_reply_json(r, 200, json_pack("{sb}", "ok", 1), clear);
	} else if (lk_req_is_form(r)) {
		if (user && lk_auth_name_ok(user))
			snprintf(loc, sizeof loc, "/admin?user=%s&done=session", user);
		else
			snprintf(loc, sizeof loc, "/admin?done=session");
		mr = lk_reply_redirect(r, loc, NULL);
	} else {
		mr = lk_reply_json(r, 200, json_pack("{sb}", "ok", 1), NULL);
	}
	free(id);
	free(user);
	return mr;
}

/*
 * Change your own password: the current one is checked like a sign-in (rate limit
 * included), the new one hashed on the worker; then every session and refresh family of
 * the user ends with the change, and this browser gets a new session (a new id at a
 * privilege change). Form (the account page) or JSON {current_password, new_password}.
 */
static enum MHD_Result password_refused(struct lk_req *r, unsigned status, const char *code,
					const char *desc)
{
	if (r->form)
		return lk_page_account_error(r, status, desc);
	return lk_reply_error(r, status, code, desc);
}

static enum MHD_Result password_start(struct lk_req *r)
{
	char *cur = lk_req_param(r, "current_password"), *next = lk_req_param(r, "new_password");
	char *again = lk_req_param(r, "confirm_password");
	enum MHD_Result mr;

	r->form = lk_req_is_form(r);
	if (r->form)
		r->form_page = lk_page_account_error;
	if (!r->form && !lk_req_has_type(r, "application/json")) {
		mr = lk_reply_error(r, 415, "invalid_request",
				    "send application/x-www-form-urlencoded or application/json");
	} else if (!cur || !next || !*cur) {
		mr = password_refused(r, 400, "invalid_request",
				      "The current and the new password are required.");
	} else if (r->form && (!again || strcmp(again, next) != 0)) {
		mr = password_refused(r, 400, "invalid_request",
				      "The new password and its confirmation differ.");
	} else if (strlen(cur) >= LK_PW_MAX) {
		mr = password_refused(r, 401, "invalid_credentials", "The current password is wrong.");
	} else {
		mr = lk_pw_change_start(r, cur, next);
		cur = next = NULL;
	}
	wipe_free(cur);
	wipe_free(next);
	wipe_free(again);
	return mr;
}

static enum MHD_Result password_finish(struct lk_req *r)
{
	struct lk_server *s = r->srv;
	char cookie[LK_COOKIE_LEN + 1];
	struct lk_session sess;
	enum MHD_Result mr;
	bool wrong;

	if (r->si_err == LK_EINVAL) { /* lk_auth_passwd_begin's rule for a new password */
		char msg[128];
		snprintf(msg, sizeof msg, "The new password must be %d to %d characters long.",
			 LK_PW_MIN, LK_PW_MAX - 1);
		return password_refused(r, 400, "invalid_request", msg);
	}
	if (!lk_pw_outcome(r, &wrong, &mr))
		return mr;
	enum lk_err err = lk_auth_passwd_end(s->auth, &r->si, lk_req_header(r, "User-Agent"),
					     lk_now(), cookie, &sess);
	if (err == LK_EBAD_CREDENTIALS) {
		atomic_fetch_add(&s->logins[1], 1);
		return password_refused(r, 401, "invalid_credentials", "The current password is wrong.");
	}
	if (err) {
		if (!r->form)
			return lk_reply_err(r, err);
		unsigned status;
		const char *error, *desc;
		lk_err_http(r, err, &status, &error, &desc);
		return lk_page_account_error(r, status, desc);
	}
	return new_session_reply(r, cookie, "/account?done=password",
				 r->form ? NULL : json_pack("{sbss}", "ok", 1, "session", sess.handle));
}

static enum MHD_Result h_password(struct lk_req *r)
{
	return r->login == LOGIN_DONE ? password_finish(r) : password_start(r);
}

/* ---------------------------------------------------------------- operations */

static enum MHD_Result h_healthz(struct lk_req *r)
{
	return lk_reply_json(r, 200, json_pack("{ss}", "status", "ok"), NULL);
}

static enum MHD_Result h_readyz(struct lk_req *r)
{
	if (lk_auth_ready(r->srv->auth) != LK_OK)
		return lk_reply_error(r, 503, "store_unavailable", "the store does not answer");
	return lk_reply_json(r, 200, json_pack("{ss}", "status", "ready"), NULL);
}

enum MHD_Result lk_route_metrics(struct lk_req *r)
{
	struct lk_server *s = r->srv;
	static const char *outcomes[4] = {"success", "failure", "rate_limited", "busy"};
	size_t cap = 64 * 1024, w = 0;
	char *b = malloc(cap);
	int64_t live = -1;
	unsigned long long total = 0;

	if (!b)
		return lk_reply_error(r, 500, "server_error", "out of memory");
#define OUT(...) (w += (size_t)snprintf(b + w, w < cap ? cap - w : 0, __VA_ARGS__))
	OUT("# HELP latchkey_http_requests_total HTTP requests by route and status.\n"
	    "# TYPE latchkey_http_requests_total counter\n");
	for (int i = 0; i < LK_NROUTES_MAX; i++)
		for (int j = 0; j < LK_NSTATUS; j++) {
			unsigned long long n = atomic_load(&s->req_count[i][j]);
			if (!n)
				continue;
			const char *route = i < (int)lk_nroutes ? lk_routes[i].path : "other";
			const char *method = i < (int)lk_nroutes ? lk_routes[i].method : "";
			char code[8];
			snprintf(code, sizeof code, "%u", lk_status_codes[j]);
			OUT("latchkey_http_requests_total{route=\"%s%s\",method=\"%s\",status=\"%s\"} %llu\n",
			    route, i < (int)lk_nroutes && (lk_routes[i].flags & R_PREFIX) ? "{id}" : "",
			    method, lk_status_codes[j] ? code : "other", n);
		}
	OUT("# HELP latchkey_http_unanswered_total Requests that ended before latchkey's handler "
	    "answered them: libmicrohttpd's own replies (HTML) by status, or no reply at all "
	    "(the client gone, a timeout, closed by the server; header_timeout counts the "
	    "connections closed because no complete request head came within header_timeout).\n"
	    "# TYPE latchkey_http_unanswered_total counter\n");
	for (int j = 0; j < LK_NSTATUS; j++) {
		unsigned code = lk_status_codes[j];
		unsigned long long n = atomic_load(&s->mhd_replies[j]);
		bool usual = code == 400 || code == 413 || code == 414 || code == 431;
		char st[8];
		if (!n && !usual)
			continue;
		snprintf(st, sizeof st, "%u", code);
		OUT("latchkey_http_unanswered_total{reason=\"libmicrohttpd\",status=\"%s\"} %llu\n",
		    code ? st : "other", n);
	}
	for (int k = 0; k < LK_NNOREPLY; k++)
		OUT("latchkey_http_unanswered_total{reason=\"%s\",status=\"none\"} %llu\n",
		    lk_noreply_names[k], atomic_load(&s->noreply[k]));
	OUT("# HELP latchkey_http_request_duration_seconds Request latency.\n"
	    "# TYPE latchkey_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i <= lk_nlat; i++) {
		total += atomic_load(&s->lat_bucket[i]);
		if (i < lk_nlat)
			OUT("latchkey_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", lk_lat_bounds[i],
			    total);
		else
			OUT("latchkey_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", total);
	}
	OUT("latchkey_http_request_duration_seconds_sum %.6f\n",
	    (double)atomic_load(&s->lat_sum_us) / 1e6);
	OUT("latchkey_http_request_duration_seconds_count %llu\n", total);
	OUT("# HELP latchkey_logins_total Sign-in attempts by outcome.\n"
	    "# TYPE latchkey_logins_total counter\n");
	for (int i = 0; i < 4; i++)
		OUT("latchkey_logins_total{outcome=\"%s\"} %llu\n", outcomes[i],
		    atomic_load(&s->logins[i]));
	if (lk_auth_session_count(s->auth, lk_now(), &live) == LK_OK)
		OUT("# HELP latchkey_sessions_live Sessions not yet expired.\n"
		    "# TYPE latchkey_sessions_live gauge\nlatchkey_sessions_live %lld\n",
		    (long long)live);
	OUT("# HELP latchkey_http_connections_total Connections accepted, by HTTP thread.\n"
	    "# TYPE latchkey_http_connections_total counter\n");
	for (unsigned i = 0; i < s->nd; i++)
		OUT("latchkey_http_connections_total{thread=\"%u\"} %llu\n", i,
		    atomic_load(&s->conns[i]));
	OUT("# HELP latchkey_http_connections_refused_total Connections closed at once: their "
	    "client address had max_conn_per_ip open already.\n"
	    "# TYPE latchkey_http_connections_refused_total counter\n"
	    "latchkey_http_connections_refused_total{reason=\"max_conn_per_ip\"} %llu\n",
	    atomic_load(&s->refused_per_ip));
	OUT("# HELP latchkey_revocation_streams Open /revocations/stream responses.\n"
	    "# TYPE latchkey_revocation_streams gauge\nlatchkey_revocation_streams %d\n",
	    atomic_load(&s->nstreams));
#undef OUT
	if (w >= cap)
		w = cap - 1;
	struct MHD_Response *resp = lk_resp_new("text/plain; version=0.0.4; charset=utf-8", b, w);
	free(b);
	return lk_reply(r, 200, resp);
}

const struct route lk_routes[] = {
	{"GET", "/login", 0, lk_page_login},
	{"POST", "/login", 0, h_login},
	{"POST", "/logout", R_AUTH | R_UNSAFE, h_logout},
	{"GET", "/me", R_AUTH | R_BEARER, h_me},
	{"GET", "/sessions", R_AUTH, h_sessions},
	{"POST", "/sessions/revoke-others", R_AUTH | R_UNSAFE, h_revoke_others},
	{"DELETE", "/sessions/", R_PREFIX | R_AUTH | R_UNSAFE, h_session_del},
	{"GET", "/account", R_PAGE, lk_page_account},
	{"POST", "/account/revoke", R_AUTH | R_UNSAFE, h_account_revoke},
	{"POST", "/account/password", R_AUTH | R_UNSAFE, h_password},
	{"GET", "/admin", R_PAGE | R_ADMIN, lk_page_admin},
	{"POST", "/admin/revoke-all", R_AUTH | R_ADMIN | R_UNSAFE, h_revoke_all},
	{"POST", "/admin/sessions/revoke", R_AUTH | R_ADMIN | R_UNSAFE, h_admin_session_revoke},
	{"GET", "/static/", R_PREFIX, lk_route_static},
	{"GET", "/favicon.ico", 0, lk_route_static},
	{"GET", "/healthz", 0, h_healthz},
	{"GET", "/readyz", 0, h_readyz},
	{"GET", "/metrics", 0, lk_route_metrics},
	{"POST", "/token", R_AUTH | R_UNSAFE, lk_route_hybrid},
	{"POST", "/oauth2/token", 0, lk_route_oauth_token},
	{"POST", "/oauth2/revoke", 0, lk_route_oauth_revoke},
	{"POST", "/oauth2/introspect", 0, lk_route_oauth_introspect},
	{"GET", "/oauth2/logout", 0, h_oauth_logout},
	{"GET", "/revocations", 0, lk_route_revocations},
	{"GET", "/revocations/stream", 0, lk_route_revstream},
	{"GET", "/auth/verify", R_AUTH | R_BEARER, lk_route_auth_verify},
	{"GET", "/.well-known/jwks.json", 0, lk_route_jwks},
	{"GET", "/.well-known/openid-configuration", 0, lk_route_discovery},
	{"GET", "/.well-known/oauth-authorization-server", 0, lk_route_discovery},
};
const size_t lk_nroutes = sizeof lk_routes / sizeof lk_routes[0];
