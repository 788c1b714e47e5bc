/* SPDX-License-Identifier: MIT */
/*
 * The HTML pages: sign-in (with its double-submit CSRF token), the account page (who you
 * are, your devices with the current one marked and a revoke button each, sign out, sign
 * out everywhere else, change your password), the admin page (users with search, each
 * user's live sessions, revoke a session or a user's sessions, sign everyone out), the
 * error page browsers get, and the one stylesheet and icon they load.
 *
 * No script at all: every action is a form posting to the JSON endpoints' form variants,
 * each with the session's CSRF token, answered by a redirect back to a page (303, so a
 * reload never posts twice). Every value from the store or the request is HTML-escaped;
 * messages come from fixed tables, never from the query string. Pages carry a strict
 * Content-Security-Policy (no 'unsafe-inline': the style is a file of ours) and
 * Cache-Control: no-store, as every reply of this server does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sodium.h>

#include "http/http_int.h"

#define PAGE_MAX (512 * 1024)
#define ROWS_MAX 200 /* rows of one table on a page; the rest is counted, not shown */

/* Pages may load what this server serves and nothing else; no inline style or script. */
static const char page_csp[] = "default-src 'none'; style-src 'self'; img-src 'self'; "
			       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/* ---------------------------------------------------------------- page buffer */

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
		size_t nc = p->cap ? p->cap * 2 : 8192;
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
#define PUTL(p, lit) put((p), "" lit, sizeof(lit) - 1)

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

/* HTML-escape s into the page (text and double-quoted attribute values alike). */
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

/* Percent-encode s for a query value (only unreserved characters stay as they are). */
static void urlenc(struct page *p, const char *s)
{
	char buf[3 * LK_NAME_MAX + 1];
	size_t n = lk_pct_encode(s, "", buf, sizeof buf);
	if (n != (size_t)-1)
		put(p, buf, n);
}

/* ---------------------------------------------------------------- layout */

static void csrf_field(struct page *p, const char *tok)
{
	PUTL(p, "<input type=\"hidden\" name=\"csrf\" value=\"");
	esc(p, tok);
	PUTL(p, "\">");
}

enum nav { NAV_NONE, NAV_ACCOUNT, NAV_ADMIN };

/* The document up to the page's <h1>: one stylesheet, the header with the navigation of a
 * signed-in browser (its sign-out is a form: sign-out changes state), a skip link. */
static void page_begin(struct page *p, const struct lk_req *r, const char *title, enum nav at,
		       bool narrow)
{
	PUTL(p, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		"<meta name=\"referrer\" content=\"same-origin\"><title>");
	esc(p, title);
	PUTL(p, " \xC2\xB7 latchkey</title><link rel=\"stylesheet\" href=\"/static/latchkey.css\">"
		"<link rel=\"icon\" href=\"/static/icon.svg\" type=\"image/svg+xml\"></head><body>"
		"<a class=\"skip\" href=\"#main\">Skip to content</a><header class=\"top\">"
		"<span class=\"brand\"><img src=\"/static/icon.svg\" alt=\"\" width=\"22\" "
		"height=\"22\"> latchkey</span>");
	if (r->authed && !r->bearer) {
		PUTL(p, "<nav aria-label=\"Main\"><a href=\"/account\"");
		if (at == NAV_ACCOUNT)
			PUTL(p, " aria-current=\"page\"");
		PUTL(p, ">Account</a>");
		if (lk_auth_has_role(r->me.roles, "admin")) {
			PUTL(p, "<a href=\"/admin\"");
			if (at == NAV_ADMIN)
				PUTL(p, " aria-current=\"page\"");
			PUTL(p, ">Administration</a>");
		}
		PUTL(p, "<span class=\"who\">");
		esc(p, r->me.name);
		PUTL(p, "</span><form class=\"inline\" method=\"post\" action=\"/logout\">");
		csrf_field(p, r->sess.csrf);
		PUTL(p, "<button class=\"link\" type=\"submit\">Sign out</button></form></nav>");
	}
	PUTL(p, "</header><main id=\"main\" tabindex=\"-1\"");
	if (narrow)
		PUTL(p, " class=\"narrow\"");
	PUTL(p, "><h1>");
	esc(p, title);
	PUTL(p, "</h1>");
}

static void alert(struct page *p, bool error, const char *msg)
{
	if (!msg)
		return;
	if (error)
		PUTL(p, "<p class=\"alert error\" role=\"alert\">");
	else
		PUTL(p, "<p class=\"alert ok\" role=\"status\">");
	esc(p, msg);
	PUTL(p, "</p>");
}

static enum MHD_Result send_page(struct lk_req *r, unsigned status, struct page *p,
				 const char *set_cookie)
{
	PUTL(p, "</main></body></html>\n");
	if (p->over) {
		free(p->b);
		return lk_reply_error(r, 500, "server_error", "page too large");
	}
	struct MHD_Response *resp =
		lk_resp_new_with("text/html; charset=utf-8", p->b, p->len, "no-store", page_csp);
	free(p->b);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
	if (status == 429 && r->retry_after > 0) {
		char ra[24];
		snprintf(ra, sizeof ra, "%lld", (long long)r->retry_after);
		MHD_add_response_header(resp, "Retry-After", ra);
	} else if (status == 503) {
		MHD_add_response_header(resp, "Retry-After", "1");
	}
	if (set_cookie)
		MHD_add_response_header(resp, "Set-Cookie", set_cookie);
	return lk_reply(r, status, resp);
}

/* "3 min ago" for the last day, else the date; the exact time in the datetime attribute. */
static void when(struct page *p, int64_t t, int64_t now)
{
	char iso[32], day[40];
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm) ||
	    !strftime(day, sizeof day, "%-d %b %Y, %H:%M UTC", &tm))
		return;
	putf(p, "<time datetime=\"%s\">", iso);
	int64_t ago = now - t;
	if (ago < 60 && ago > -60)
		PUTL(p, "just now");
	else if (ago > 0 && ago < 3600)
		putf(p, "%lld min ago", (long long)(ago / 60));
	else if (ago > 0 && ago < 86400)
		putf(p, "%lld h ago", (long long)(ago / 3600));
	else
		put(p, day, strlen(day));
	PUTL(p, "</time>");
}

/* A duration as "30 minutes", "2 hours", "1 day". */
static void idle_text(struct page *p, int64_t secs)
{
	static const struct {
		int64_t unit;
		const char *one, *many;
	} units[] = {{86400, "day", "days"}, {3600, "hour", "hours"}, {60, "minute", "minutes"},
		     {1, "second", "seconds"}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (secs >= units[i].unit && secs % units[i].unit == 0) {
			int64_t n = secs / units[i].unit;
			putf(p, "after %lld %s", (long long)n, n == 1 ? units[i].one : units[i].many);
			return;
		}
	putf(p, "after %lld seconds", (long long)secs);
}

/* The message for ?done=KEY after an action's redirect: fixed text, never the query's. */
static const char *done_message(struct lk_req *r, const char *const table[][2])
{
	const char *k = MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, "done");
	for (size_t i = 0; k && table[i][0]; i++)
		if (strcmp(k, table[i][0]) == 0)
			return table[i][1];
	return NULL;
}

/* ---------------------------------------------------------------- error page */

enum MHD_Result lk_page_error(struct lk_req *r, unsigned status, const char *title,
			      const char *msg)
{
	struct page p = {0};
	page_begin(&p, r, title, NAV_NONE, true);
	alert(&p, true, msg);
	if (r->authed && !r->bearer)
		PUTL(&p, "<p><a href=\"/account\">Back to your account</a></p>");
	else
		PUTL(&p, "<p><a href=\"/login\">Sign in</a></p>");
	return send_page(r, status, &p, NULL);
}

/* A failure of the server's side on a page: the status of the one error table, as HTML. */
static enum MHD_Result page_fail(struct lk_req *r, struct page *p, enum lk_err err)
{
	unsigned status;
	const char *error, *desc;
	free(p->b);
	lk_err_http(r, err, &status, &error, &desc);
	return lk_page_error(r, status, status >= 500 ? "Something went wrong" : "Not possible",
			     desc);
}

/* ---------------------------------------------------------------- sign-in */

static enum MHD_Result login_page(struct lk_req *r, unsigned status, const char *msg)
{
	struct lk_server *s = r->srv;
	char tok[LK_CSRF_LEN + 1], setc[192];
	struct page p = {0};
	const char *ret = MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, "return_to");
	const char *ended = MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, "ended");

	if (r->return_to[0])
		ret = r->return_to; /* a failed form post: what it carried */
	/* Double-submit token for the form, bound to this browser by a cookie and MAC'd so
	 * only tokens this server minted count. A browser that holds one already keeps it,
	 * so a sign-in form in another tab stays valid. */
	const char *have = MHD_lookup_connection_value(r->c, MHD_COOKIE_KIND, s->csrf_cookie);
	if (have && lk_auth_csrf_valid(s->auth, have))
		snprintf(tok, sizeof tok, "%s", have);
	else
		lk_auth_csrf_mint(s->auth, tok);
	snprintf(setc, sizeof setc, "%s=%s%s", s->csrf_cookie, tok, s->cookie_attrs);
	page_begin(&p, r, "Sign in", NAV_NONE, true);
	if (msg)
		alert(&p, true, msg);
	else if (ended)
		alert(&p, false, "Your session has ended. Please sign in again.");
	PUTL(&p, "<form class=\"card\" method=\"post\" action=\"/login\">");
	csrf_field(&p, tok);
	if (lk_return_to_ok(ret)) {
		PUTL(&p, "<input type=\"hidden\" name=\"return_to\" value=\"");
		esc(&p, ret);
		PUTL(&p, "\">");
	}
	putf(&p, "<label for=\"username\">Username</label><input type=\"text\" id=\"username\" "
		 "name=\"username\" autocomplete=\"username\" autocapitalize=\"none\" "
		 "spellcheck=\"false\" required maxlength=\"%d\" autofocus>"
		 "<label for=\"password\">Password</label><input type=\"password\" id=\"password\" "
		 "name=\"password\" autocomplete=\"current-password\" required maxlength=\"%d\">"
		 "<p class=\"actions\"><button type=\"submit\">Sign in</button></p></form>",
		 LK_NAME_MAX, LK_PW_MAX - 1);
	return send_page(r, status, &p, setc);
}

enum MHD_Result lk_page_login(struct lk_req *r) { return login_page(r, 200, NULL); }

enum MHD_Result lk_page_login_error(struct lk_req *r, unsigned status, const char *msg)
{
	return login_page(r, status, msg);
}

/* ---------------------------------------------------------------- session tables */

struct rows {
	struct page *p;
	const struct lk_req *r;
	int64_t now;
	const char *action;   /* where a row's revoke form posts */
	const char *user;     /* admin: the user the sessions are of, sent back with a revoke */
	size_t shown, total;
	bool others;          /* a session other than the current one was listed */
};

/* One session as a table row: device (named from its user agent), address, sign-in and
 * last-seen times, and a revoke button that names the device for screen readers. */
static int session_row(void *ud, const struct lk_session *s)
{
	struct rows *x = ud;
	struct page *p = x->p;
	char device[96];
	bool current = strcmp(s->handle, x->r->sess.handle) == 0;

	x->total++;
	if (!current)
		x->others = true;
	if (x->shown >= ROWS_MAX)
		return 0;
	x->shown++;
	lk_ua_describe(s->user_agent, device, sizeof device);
	PUTL(p, "<tr");
	if (current)
		PUTL(p, " class=\"current\"");
	PUTL(p, "><td data-label=\"Device\"><span class=\"device\">");
	esc(p, device);
	PUTL(p, "</span>");
	if (current)
		PUTL(p, " <strong class=\"badge\">This device</strong>");
	PUTL(p, "</td><td data-label=\"IP address\">");
	esc(p, s->ip[0] ? s->ip : "unknown");
	PUTL(p, "</td><td data-label=\"Signed in\">");
	when(p, s->created, x->now);
	PUTL(p, "</td><td data-label=\"Last seen\">");
	when(p, s->last_seen, x->now);
	PUTL(p, "</td><td class=\"act\"><form class=\"inline\" method=\"post\" action=\"");
	esc(p, x->action);
	PUTL(p, "\">");
	csrf_field(p, x->r->sess.csrf);
	PUTL(p, "<input type=\"hidden\" name=\"id\" value=\"");
	esc(p, s->handle);
	PUTL(p, "\">");
	if (x->user) {
		PUTL(p, "<input type=\"hidden\" name=\"user\" value=\"");
		esc(p, x->user);
		PUTL(p, "\">");
	}
	PUTL(p, "<button class=\"secondary\" type=\"submit\" aria-label=\"");
	if (current)
		PUTL(p, "Sign out this device, ");
	else
		PUTL(p, "Revoke ");
	esc(p, device);
	PUTL(p, ", ");
	esc(p, s->ip);
	PUTL(p, "\">");
	if (current)
		PUTL(p, "Sign out");
	else
		PUTL(p, "Revoke");
	PUTL(p, "</button></form></td></tr>");
	return 0;
}

static void session_table_head(struct page *p, const char *caption)
{
	PUTL(p, "<table class=\"stack\"><caption class=\"sr-only\">");
	esc(p, caption);
	PUTL(p, "</caption><thead><tr><th scope=\"col\">Device</th><th scope=\"col\">IP address"
		"</th><th scope=\"col\">Signed in</th><th scope=\"col\">Last seen</th>"
		"<th scope=\"col\"><span class=\"sr-only\">Action</span></th></tr></thead><tbody>");
}

static void session_table_end(struct page *p, const struct rows *x)
{
	PUTL(p, "</tbody></table>");
	if (x->total > x->shown)
		putf(p, "<p class=\"muted\">%zu more not shown.</p>", x->total - x->shown);
}

/* ---------------------------------------------------------------- account */

static const char *const account_done[][2] = {
	{"revoked", "The device was signed out."},
	{"others", "Every other device was signed out."},
	{"password", "Your password was changed, and every other device was signed out."},
	{NULL, NULL},
};

static enum MHD_Result account_page(struct lk_req *r, unsigned status, const char *error)
{
	struct lk_auth *a = r->srv->auth;
	struct page p = {0};
	int64_t now = lk_now();
	struct rows x = {.p = &p, .r = r, .now = now, .action = "/account/revoke"};
	enum lk_err err;

	page_begin(&p, r, "Your account", NAV_ACCOUNT, false);
	if (!error)
		alert(&p, false, done_message(r, account_done));
	PUTL(&p, "<section aria-labelledby=\"you\"><h2 id=\"you\">Signed in</h2><dl class=\"facts\">"
		 "<dt>Username</dt><dd>");
	esc(&p, r->me.name);
	PUTL(&p, "</dd><dt>Roles</dt><dd>");
	esc(&p, r->me.roles[0] ? r->me.roles : "none");
	PUTL(&p, "</dd><dt>This session began</dt><dd>");
	when(&p, r->sess.created, now);
	PUTL(&p, "</dd><dt>It ends</dt><dd>");
	idle_text(&p, lk_auth_cfg(a)->idle);
	PUTL(&p, " without use, and at the latest ");
	when(&p, r->sess.expires, 0);
	PUTL(&p, "</dd></dl></section>");

	PUTL(&p, "<section aria-labelledby=\"devices\"><h2 id=\"devices\">Your devices</h2>");
	session_table_head(&p, "Your devices");
	if ((err = lk_auth_sessions(a, r->me.id, session_row, &x)))
		return page_fail(r, &p, err);
	session_table_end(&p, &x);
	PUTL(&p, "<div class=\"actions\">");
	if (x.others) {
		PUTL(&p, "<form class=\"inline\" method=\"post\" action=\"/sessions/revoke-others\">");
		csrf_field(&p, r->sess.csrf);
		PUTL(&p, "<button type=\"submit\">Sign out everywhere else</button></form>");
	} else {
		PUTL(&p, "<p class=\"muted\">No other device is signed in.</p>");
	}
	PUTL(&p, "</div></section>");

	PUTL(&p, "<section aria-labelledby=\"pw\"><h2 id=\"pw\">Change your password</h2>");
	alert(&p, true, error);
	PUTL(&p, "<form class=\"card\" method=\"post\" action=\"/account/password\">");
	csrf_field(&p, r->sess.csrf);
	/* for password managers: whose password this is (not sent: it has no name) */
	PUTL(&p, "<input type=\"text\" hidden autocomplete=\"username\" value=\"");
	esc(&p, r->me.name);
	PUTL(&p, "\">");
	putf(&p, "<label for=\"current\">Current password</label><input type=\"password\" "
		 "id=\"current\" name=\"current_password\" autocomplete=\"current-password\" "
		 "required maxlength=\"%d\"><label for=\"new\">New password</label>"
		 "<input type=\"password\" id=\"new\" name=\"new_password\" "
		 "autocomplete=\"new-password\" required minlength=\"%d\" maxlength=\"%d\" "
		 "aria-describedby=\"new-hint\"><p class=\"hint\" id=\"new-hint\">At least %d "
		 "characters. Every other device is signed out when it changes.</p>"
		 "<label for=\"confirm\">New password again</label><input type=\"password\" "
		 "id=\"confirm\" name=\"confirm_password\" autocomplete=\"new-password\" required "
		 "minlength=\"%d\" maxlength=\"%d\"><p class=\"actions\"><button type=\"submit\">"
		 "Change password</button></p></form></section>",
		 LK_PW_MAX - 1, LK_PW_MIN, LK_PW_MAX - 1, LK_PW_MIN, LK_PW_MIN, LK_PW_MAX - 1);
	return send_page(r, status, &p, NULL);
}

enum MHD_Result lk_page_account(struct lk_req *r) { return account_page(r, 200, NULL); }

enum MHD_Result lk_page_account_error(struct lk_req *r, unsigned status, const char *msg)
{
	return account_page(r, status, msg);
}

/* ---------------------------------------------------------------- admin */

static const char *const admin_done[][2] = {
	{"session", "The session was revoked."},
	{"user", "The user was signed out everywhere."},
	{NULL, NULL},
};

/* Live sessions per user for the user table: every live session's user id, sorted. */
struct uids {
	int64_t *v;
	size_t n, cap;
	bool oom;
};

static int collect_uid(void *ud, const struct lk_session *s)
{
	struct uids *u = ud;
	if (u->n == u->cap) {
		size_t nc = u->cap ? u->cap * 2 : 256;
		int64_t *nv = realloc(u->v, nc * sizeof *nv);
		if (!nv) {
			u->oom = true;
			return 1;
		}
		u->v = nv;
		u->cap = nc;
	}
	u->v[u->n++] = s->user_id;
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static size_t count_of(const struct uids *u, int64_t id)
{
	size_t lo = 0, hi = u->n;
	while (lo < hi) { /* first index with v >= id */
		size_t mid = lo + (hi - lo) / 2;
		if (u->v[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t n = 0;
	while (lo + n < u->n && u->v[lo + n] == id)
		n++;
	return n;
}

struct users {
	struct page *p;
	const struct lk_req *r;
	const struct uids *live;
	const char *q;
	int64_t now;
	size_t shown, total;
};

/* Does the search q (case-insensitive) occur in the user's name or roles? */
static bool user_matches(const struct lk_user *u, const char *q)
{
	return !q || !*q || strcasestr(u->name, q) || strcasestr(u->roles, q);
}

static int user_row(void *ud, const struct lk_user *u)
{
	struct users *x = ud;
	struct page *p = x->p;
	if (!user_matches(u, x->q))
		return 0;
	x->total++;
	if (x->shown >= ROWS_MAX)
		return 0;
	x->shown++;
	size_t n = count_of(x->live, u->id);
	PUTL(p, "<tr><td data-label=\"User\"><a href=\"/admin?user=");
	urlenc(p, u->name);
	PUTL(p, "\">");
	esc(p, u->name);
	PUTL(p, "</a></td><td data-label=\"Roles\">");
	esc(p, u->roles[0] ? u->roles : "none");
	PUTL(p, "</td><td data-label=\"Created\">");
	when(p, u->created, x->now);
	putf(p, "</td><td data-label=\"Live sessions\">%zu</td><td class=\"act\">", n);
	if (n) {
		PUTL(p, "<form class=\"inline\" method=\"post\" action=\"/admin/revoke-all\">");
		csrf_field(p, x->r->sess.csrf);
		PUTL(p, "<input type=\"hidden\" name=\"user\" value=\"");
		esc(p, u->name);
		PUTL(p, "\"><button class=\"secondary\" type=\"submit\" aria-label=\"Sign ");
		esc(p, u->name);
		PUTL(p, " out everywhere\">Sign out everywhere</button></form>");
	}
	PUTL(p, "</td></tr>");
	return 0;
}

/* /admin?user=NAME: one user's live sessions, each with a revoke button. */
static enum MHD_Result admin_user(struct lk_req *r, struct page *p, const char *name)
{
	struct lk_auth *a = r->srv->auth;
	struct lk_user u;
	int64_t now = lk_now();
	struct rows x = {.p = p, .r = r, .now = now, .action = "/admin/sessions/revoke",
			 .user = name};
	enum lk_err err = lk_auth_user_get(a, name, &u);

	if (err == LK_ENOT_FOUND) {
		free(p->b);
		return lk_page_error(r, 404, "No such user", "There is no user of that name.");
	}
	if (err)
		return page_fail(r, p, err);
	PUTL(p, "<p><a href=\"/admin\">All users</a></p><section aria-labelledby=\"sess\">"
		"<h2 id=\"sess\">Sessions of ");
	esc(p, u.name);
	PUTL(p, "</h2><dl class=\"facts\"><dt>Roles</dt><dd>");
	esc(p, u.roles[0] ? u.roles : "none");
	PUTL(p, "</dd><dt>Created</dt><dd>");
	when(p, u.created, now);
	PUTL(p, "</dd><dt>Password last set</dt><dd>");
	when(p, u.pw_changed, now);
	PUTL(p, "</dd></dl>");
	session_table_head(p, "Sessions");
	err = lk_auth_sessions(a, u.id, session_row, &x);
	sodium_memzero(u.phc, sizeof u.phc);
	if (err)
		return page_fail(r, p, err);
	session_table_end(p, &x);
	if (!x.total)
		PUTL(p, "<p class=\"muted\">No live session.</p>");
	else {
		PUTL(p, "<form method=\"post\" action=\"/admin/revoke-all\">");
		csrf_field(p, r->sess.csrf);
		PUTL(p, "<input type=\"hidden\" name=\"user\" value=\"");
		esc(p, u.name);
		PUTL(p, "\"><p class=\"actions\"><button type=\"submit\">Sign ");
		esc(p, u.name);
		PUTL(p, " out everywhere</button></p></form>");
	}
	PUTL(p, "</section>");
	return send_page(r, 200, p, NULL);
}

enum MHD_Result lk_page_admin(struct lk_req *r)
{
	struct lk_auth *a = r->srv->auth;
	struct page p = {0};
	struct uids live = {0};
	const char *q = MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, "q");
	const char *user = MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, "user");
	struct users x = {.p = &p, .r = r, .live = &live, .q = q, .now = lk_now()};
	enum lk_err err;

	page_begin(&p, r, "Administration", NAV_ADMIN, false);
	alert(&p, false, done_message(r, admin_done));
	if (user && *user)
		return admin_user(r, &p, user);

	PUTL(&p, "<section aria-labelledby=\"users\"><h2 id=\"users\">Users</h2>"
		 "<form class=\"search\" method=\"get\" action=\"/admin\" role=\"search\">"
		 "<label for=\"q\">Find users by name or role</label><div class=\"row\">"
		 "<input type=\"search\" id=\"q\" name=\"q\" maxlength=\"64\" value=\"");
	esc(&p, q);
	PUTL(&p, "\"><button type=\"submit\">Search</button></div></form>");
	if ((err = lk_auth_sessions(a, -1, collect_uid, &live)) || live.oom) {
		free(live.v);
		return page_fail(r, &p, err ? err : LK_ENOMEM);
	}
	qsort(live.v, live.n, sizeof *live.v, cmp_i64);
	PUTL(&p, "<table class=\"stack\"><caption class=\"sr-only\">Users</caption><thead><tr>"
		 "<th scope=\"col\">User</th><th scope=\"col\">Roles</th><th scope=\"col\">Created"
		 "</th><th scope=\"col\">Live sessions</th><th scope=\"col\"><span class=\"sr-only\">"
		 "Action</span></th></tr></thead><tbody>");
	err = lk_auth_users(a, user_row, &x);
	free(live.v);
	if (err)
		return page_fail(r, &p, err);
	PUTL(&p, "</tbody></table>");
	if (!x.total)
		PUTL(&p, "<p class=\"muted\">No user matches.</p>");
	else if (x.total > x.shown)
		putf(&p, "<p class=\"muted\">Showing %zu of %zu users; search to narrow the list.</p>",
		     x.shown, x.total);
	else
		putf(&p, "<p class=\"muted\">%zu %s, %zu live %s in all.</p>", x.total,
		     x.total == 1 ? "user" : "users", live.n, live.n == 1 ? "session" : "sessions");
	PUTL(&p, "</section><section aria-labelledby=\"all\"><h2 id=\"all\">Everyone</h2>"
		 "<p>Ends every session and refresh token of every user, yours included, and "
		 "revokes the access tokens they carry.</p><form method=\"post\" "
		 "action=\"/admin/revoke-all\">");
	csrf_field(&p, r->sess.csrf);
	PUTL(&p, "<p class=\"actions\"><button class=\"danger\" type=\"submit\">Sign everyone out"
		 "</button></p></form></section>");
	return send_page(r, 200, &p, NULL);
}

/* ---------------------------------------------------------------- static files */

static const char stylesheet[] =
	":root{--fg:#1b1f24;--muted:#4d5661;--bg:#fff;--panel:#f4f6f9;--line:#d5dae1;"
	"--accent:#0b5cad;--danger:#b3261e;--ok:#1e6b34}\n"
	"*{box-sizing:border-box}\n"
	"html{font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,"
	"sans-serif;color:var(--fg);background:var(--bg)}\n"
	"body{margin:0}\n"
	"a{color:var(--accent)}\n"
	":focus-visible{outline:3px solid var(--fg);outline-offset:2px}\n"
	"main:focus{outline:none}\n"
	".skip{position:absolute;left:-9999px;top:.5rem;background:var(--fg);color:#fff;"
	"padding:.5rem 1rem;border-radius:6px;z-index:1}\n"
	".skip:focus{left:.5rem}\n"
	".top{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.25rem;"
	"padding:.6rem 1rem;border-bottom:1px solid var(--line);background:var(--panel)}\n"
	".brand{display:flex;align-items:center;gap:.4rem;font-weight:700;margin-right:auto}\n"
	".top nav{display:flex;flex-wrap:wrap;align-items:center;gap:.25rem 1.25rem}\n"
	".top nav a[aria-current]{font-weight:700;color:var(--fg);text-decoration:none}\n"
	".who{color:var(--muted)}\n"
	"main{max-width:62rem;margin:0 auto;padding:1rem 1rem 3rem}\n"
	"main.narrow{max-width:26rem}\n"
	"h1{font-size:1.6rem;line-height:1.25;margin:1rem 0 1.25rem}\n"
	"h2{font-size:1.2rem;margin:2rem 0 .75rem}\n"
	"label{display:block;font-weight:600;margin:.9rem 0 .3rem}\n"
	"input[type=text],input[type=password],input[type=search]{width:100%;font:inherit;"
	"padding:.55rem .7rem;border:1px solid #69727d;border-radius:6px;background:#fff;"
	"color:var(--fg)}\n"
	".hint{color:var(--muted);font-size:.9rem;margin:.3rem 0 0}\n"
	"button{font:inherit;font-weight:600;min-height:44px;padding:.45rem 1rem;"
	"border-radius:6px;border:2px solid var(--accent);background:var(--accent);color:#fff;"
	"cursor:pointer}\n"
	"button:hover{filter:brightness(1.12)}\n"
	"button.secondary{background:#fff;color:var(--accent)}\n"
	"button.secondary:hover{background:#eaf2fb;filter:none}\n"
	"button.danger{background:var(--danger);border-color:var(--danger)}\n"
	"button.link{min-height:auto;padding:0;border:0;background:none;color:var(--accent);"
	"font-weight:400;text-decoration:underline}\n"
	".actions{display:flex;flex-wrap:wrap;align-items:center;gap:.75rem;margin:1rem 0}\n"
	".actions p{margin:0}\n"
	"form.inline{display:inline}\n"
	".card{border:1px solid var(--line);border-radius:10px;padding:.5rem 1.25rem;"
	"background:#fff;max-width:30rem}\n"
	".search .row{display:flex;gap:.5rem;max-width:30rem}\n"
	".search{margin-bottom:1rem}\n"
	".alert{padding:.7rem 1rem;border:1px solid;border-radius:6px;margin:1rem 0}\n"
	".alert.error{color:var(--danger);background:#fdf0ef}\n"
	".alert.ok{color:var(--ok);background:#eef7f0}\n"
	"table{width:100%;border-collapse:collapse}\n"
	"th,td{text-align:left;padding:.55rem .5rem;border-bottom:1px solid var(--line);"
	"vertical-align:middle}\n"
	"th{font-size:.85rem;color:var(--muted);font-weight:600}\n"
	"td.act{text-align:right}\n"
	"tr.current{background:#f2f7fd}\n"
	".badge{display:inline-block;font-size:.8rem;padding:.05rem .55rem;border-radius:999px;"
	"background:#dce9f8;color:#0a437e;margin-left:.4rem}\n"
	"dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1.25rem;"
	"margin:0}\n"
	"dt{color:var(--muted)}\n"
	"dd{margin:0}\n"
	".muted{color:var(--muted)}\n"
	".sr-only{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;"
	"clip:rect(0 0 0 0);white-space:nowrap;border:0}\n"
	"@media (max-width:40rem){\n"
	"h1{font-size:1.4rem}\n"
	"table.stack thead{position:absolute;width:1px;height:1px;overflow:hidden;"
	"clip:rect(0 0 0 0)}\n"
	"table.stack tr{display:block;border:1px solid var(--line);border-radius:10px;"
	"padding:.5rem .8rem;margin:.75rem 0}\n"
	"table.stack td{display:block;border:0;padding:.15rem 0;text-align:left}\n"
	"table.stack td[data-label]::before{content:attr(data-label) \": \";color:var(--muted)}\n"
	"table.stack td.act{padding-top:.5rem}\n"
	"dl.facts{grid-template-columns:1fr}\n"
	"dd{margin-bottom:.4rem}\n"
	".who{display:none}\n"
	"}\n";

static const char icon[] =
	"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\">"
	"<rect width=\"32\" height=\"32\" rx=\"7\" fill=\"#0b5cad\"/>"
	"<circle cx=\"12\" cy=\"16\" r=\"5.5\" fill=\"none\" stroke=\"#fff\" stroke-width=\"3\"/>"
	"<path d=\"M17.5 16H27M23 16v4M26 16v3\" stroke=\"#fff\" stroke-width=\"3\" "
	"stroke-linecap=\"round\" fill=\"none\"/></svg>\n";

static const struct {
	const char *name, *ctype, *body;
	size_t len;
} statics[] = {
	{"latchkey.css", "text/css; charset=utf-8", stylesheet, sizeof stylesheet - 1},
	{"icon.svg", "image/svg+xml", icon, sizeof icon - 1},
};

enum MHD_Result lk_route_static(struct lk_req *r)
{
	/* /favicon.ico, which browsers ask for on their own (on a JSON reply, say): the icon */
	const char *name = strcmp(r->url, "/favicon.ico") == 0 ? "icon.svg"
							       : r->url + strlen("/static/");
	for (size_t i = 0; i < sizeof statics / sizeof statics[0]; i++) {
		if (strcmp(name, statics[i].name) != 0)
			continue;
		/* public and the same for everyone: cacheable for an hour (no-store is for
		 * what depends on who asks) */
		return lk_reply(r, 200,
				lk_resp_new_with(statics[i].ctype, statics[i].body, statics[i].len,
						 "public, max-age=3600", NULL));
	}
	return lk_reply_error(r, 404, "not_found", "no such file");
}
