/* SPDX-License-Identifier: MIT */
/*
 * The three HTML pages: sign-in (with its double-submit CSRF token), the account page
 * (your devices, each with a revoke button, sign out) and the admin page (users, every
 * session, "sign everyone out"). Every value from the store is HTML-escaped; pages carry
 * a strict Content-Security-Policy and no script at all.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "http/http_int.h"
#include "util/b64url.h"

#define PAGE_MAX (256 * 1024)

struct page {
	char *b;
	size_t len, cap;
	bool over;
};

static void put(struct page *p, const char *s, size_t n)
{
	if (p->over || p->len + n + 1 > PAGE_MAX) {
		p->over = true;
		return;
	}
	if (p->len + n + 1 > p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 4096;
		while (nc < p->len + n + 1)
			nc *= 2;
		char *nb = realloc(p->b, nc);
		if (!nb) {
			p->over = true;
			return;
		}
		p->b = nb;
		p->cap = nc;
	}
	memcpy(p->b + p->len, s, n);
	p->len += n;
	p->b[p->len] = '\0';
}

/* Put a string literal: its length comes from sizeof, never from a hand count. */
#define PUTL(p, lit) put((p), lit, sizeof(lit) - 1)

static void putf(struct page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct page *p, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(p, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* HTML-escape s into the page. */
static void esc(struct page *p, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': PUTL(p, "&lt;"); break;
		case '>': PUTL(p, "&gt;"); break;
		case '&': PUTL(p, "&amp;"); break;
		case '"': PUTL(p, "&quot;"); break;
		case '\'': PUTL(p, "&#39;"); break;
		default: put(p, s, 1);
		}
	}
}

static void head(struct page *p, const char *title)
{
	PUTL(p, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	       "<meta name=\"viewport\" content=\"width=device-width\"><title>");
	esc(p, title);
	putf(p, "</title><style>body{font:16px system-ui,sans-serif;max-width:46rem;margin:2rem auto;"
		"padding:0 1rem}table{border-collapse:collapse;width:100%%}td,th{text-align:left;"
		"padding:.3rem;border-bottom:1px solid #ddd}form.inline{display:inline}.err{color:#b00}"
		"</style></head><body><h1>");
	esc(p, title);
	PUTL(p, "</h1>");
}

static enum MHD_Result send_page(struct lk_req *r, unsigned status, struct page *p,
				 const char *set_cookie)
{
	PUTL(p, "</body></html>\n");
	if (p->over) {
		free(p->b);
		return lk_reply_error(r, 500, "server_error", "page too large");
	}
	struct MHD_Response *resp = lk_resp_new("text/html; charset=utf-8", p->b, p->len);
	free(p->b);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
				"frame-ancestors 'none'; base-uri 'none'");
	if (set_cookie)
		MHD_add_response_header(resp, "Set-Cookie", set_cookie);
	return lk_reply(r, status, resp);
}

static void when(struct page *p, int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) && strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm))
		put(p, buf, strlen(buf));
}

static void hidden_csrf(struct page *p, const char *tok)
{
	PUTL(p, "<input type=\"hidden\" name=\"csrf\" value=\"");
	esc(p, tok);
	PUTL(p, "\">");
}

static enum MHD_Result login_page(struct lk_req *r, unsigned status, const char *msg)
{
	struct lk_server *s = r->srv;
	char tok[LK_CSRF_LEN + 1], setc[192];
	struct page p = {0};
	const char *ret = MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, "return_to");

	if (!ret && r->return_to[0])
		ret = r->return_to;
	/* Double-submit token for the form, bound to this browser by a cookie and MAC'd so
	 * only tokens this server minted count. */
	lk_auth_csrf_mint(s->auth, tok);
	snprintf(setc, sizeof setc, "%s=%s%s", s->csrf_cookie, tok, s->cookie_attrs);
	head(&p, "Sign in");
	if (msg) {
		PUTL(&p, "<p class=\"err\" role=\"alert\">");
		esc(&p, msg);
		PUTL(&p, "</p>");
	}
	PUTL(&p, "<form method=\"post\" action=\"/login\">");
	hidden_csrf(&p, tok);
	if (ret && ret[0] == '/' && ret[1] != '/' && ret[1] != '\\') {
		PUTL(&p, "<input type=\"hidden\" name=\"return_to\" value=\"");
		esc(&p, ret);
		PUTL(&p, "\">");
	}
	putf(&p, "<p><label>Username<br><input name=\"username\" autocomplete=\"username\" required "
		 "maxlength=\"%d\" autofocus></label></p><p><label>Password<br><input type=\"password\" "
		 "name=\"password\" autocomplete=\"current-password\" required></label></p>"
		 "<p><button type=\"submit\">Sign in</button></p></form>", LK_NAME_MAX);
	return send_page(r, status, &p, setc);
}

enum MHD_Result lk_page_login(struct lk_req *r) { return login_page(r, 200, NULL); }

enum MHD_Result lk_page_login_error(struct lk_req *r, unsigned status, const char *msg)
{
	return login_page(r, status, msg);
}

struct rows {
	struct page *p;
	const char *current;
	const char *csrf;
	bool admin;
};

static int session_row(void *ud, const struct lk_session *s)
{
	struct rows *x = ud;
	struct page *p = x->p;
	PUTL(p, "<tr><td>");
	if (x->admin) {
		putf(p, "user #%lld</td><td>", (long long)s->user_id);
	}
	esc(p, s->user_agent[0] ? s->user_agent : "(unknown device)");
	PUTL(p, "</td><td>");
	esc(p, s->ip);
	PUTL(p, "</td><td>");
	when(p, s->last_seen);
	PUTL(p, "</td><td>");
	if (!x->admin) {
		if (strcmp(s->handle, x->current) == 0)
			PUTL(p, "<b>this device</b> ");
		PUTL(p, "<form class=\"inline\" method=\"post\" action=\"/account/revoke\">");
		hidden_csrf(p, x->csrf);
		PUTL(p, "<input type=\"hidden\" name=\"id\" value=\"");
		esc(p, s->handle);
		PUTL(p, "\"><button type=\"submit\">Revoke</button></form>");
	}
	PUTL(p, "</td></tr>");
	return 0;
}

enum MHD_Result lk_page_account(struct lk_req *r)
{
	struct page p = {0};
	struct rows x = {&p, r->sess.handle, r->sess.csrf, false};

	head(&p, "Your account");
	PUTL(&p, "<p>Signed in as <b>");
	esc(&p, r->me.name);
	PUTL(&p, "</b>");
	if (r->me.roles[0]) {
		PUTL(&p, " (roles: ");
		esc(&p, r->me.roles);
		PUTL(&p, ")");
	}
	PUTL(&p, "</p><h2>Your devices</h2><table><tr><th>Device</th><th>IP</th><th>Last seen</th>"
		"<th></th></tr>");
	enum lk_err err = lk_auth_sessions(r->srv->auth, r->me.id, session_row, &x);
	if (err) {
		free(p.b);
		return lk_reply_err(r, err);
	}
	PUTL(&p, "</table><p><form class=\"inline\" method=\"post\" action=\"/sessions/revoke-others\">");
	hidden_csrf(&p, r->sess.csrf);
	PUTL(&p, "<button type=\"submit\">Sign out all other devices</button></form> "
		"<form class=\"inline\" method=\"post\" action=\"/logout\">");
	hidden_csrf(&p, r->sess.csrf);
	PUTL(&p, "<button type=\"submit\">Sign out</button></form></p>");
	if (strstr(r->me.roles, "admin"))
		PUTL(&p, "<p><a href=\"/admin\">Administration</a></p>");
	return send_page(r, 200, &p, NULL);
}

static int user_row(void *ud, const struct lk_user *u)
{
	struct page *p = ud;
	putf(p, "<tr><td>%lld</td><td>", (long long)u->id);
	esc(p, u->name);
	PUTL(p, "</td><td>");
	esc(p, u->roles);
	PUTL(p, "</td><td>");
	when(p, u->created);
	PUTL(p, "</td></tr>");
	return 0;
}

enum MHD_Result lk_page_admin(struct lk_req *r)
{
	struct lk_auth *a = r->srv->auth;
	struct page p = {0};
	struct rows x = {&p, r->sess.handle, r->sess.csrf, true};
	enum lk_err err;

	head(&p, "Administration");
	PUTL(&p, "<h2>Users</h2><table><tr><th>Id</th><th>Name</th><th>Roles</th><th>Created</th></tr>");
	if ((err = lk_auth_users(a, user_row, &p)))
		goto fail;
	PUTL(&p, "</table><h2>Sessions</h2><table><tr><th>User</th><th>Device</th><th>IP</th>"
		"<th>Last seen</th><th></th></tr>");
	if ((err = lk_auth_sessions(a, -1, session_row, &x)))
		goto fail;
	PUTL(&p, "</table><form method=\"post\" action=\"/admin/revoke-all\">");
	hidden_csrf(&p, r->sess.csrf);
	PUTL(&p, "<p><button type=\"submit\">Sign everyone out</button></p></form>"
		"<p><a href=\"/account\">Your account</a></p>");
	return send_page(r, 200, &p, NULL);
fail:
	free(p.b);
	return lk_reply_err(r, err);
}
