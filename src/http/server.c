/* SPDX-License-Identifier: MIT */
/*
 * The libmicrohttpd daemon and the request lifecycle (see http_int.h): size limits, body
 * collection, routing with 404/405, authentication and CSRF gates applied from the route
 * flags, replies with security headers, the per-request log line and metrics, the sweep
 * of expired sessions, and graceful shutdown on SIGTERM/SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "http/http_int.h"
#include "util/b64url.h"
#include "util/log.h"
#include <sodium.h>

/* The last slot (0) is "other"; 414, 417, 501 and 505 only libmicrohttpd sends. */
const unsigned lk_status_codes[LK_NSTATUS] = {200, 204, 303, 400, 401, 403, 404, 405, 413, 414,
					      415, 417, 429, 431, 500, 501, 503, 505, 0, 0};
const char *const lk_noreply_names[LK_NNOREPLY] = {"client_gone", "timeout", "closed",
						    "header_timeout"};

int lk_status_slot(unsigned status)
{
	for (int i = 0; i < LK_NSTATUS - 1; i++)
		if (lk_status_codes[i] == status && status)
			return i;
	return LK_NSTATUS - 1;
}
const double lk_lat_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				0.25, 0.5, 1, 2.5};
const size_t lk_nlat = sizeof lk_lat_bounds / sizeof lk_lat_bounds[0];

int64_t lk_now(void) { return (int64_t)time(NULL); }

/* ---------------------------------------------------------------- replies */

struct MHD_Response *lk_resp_new_with(const char *ctype, const char *body, size_t len,
				      const char *cache, const char *csp)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return NULL;
	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Cache-Control", cache);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	if (csp)
		MHD_add_response_header(resp, "Content-Security-Policy", csp);
	return resp;
}

/* JSON and the rest: nothing to load, nothing to frame (a browser that renders an error
 * body as a document runs nothing from it). */
struct MHD_Response *lk_resp_new(const char *ctype, const char *body, size_t len)
{
	return lk_resp_new_with(ctype, body, len, "no-store",
				"default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
}

enum MHD_Result lk_reply(struct lk_req *r, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result ret;
	if (!resp)
		return MHD_NO;
	if (r->extra_cookie[0])
		MHD_add_response_header(resp, "Set-Cookie", r->extra_cookie);
	if (r->close) /* libmicrohttpd closes after a reply that says so */
		MHD_add_response_header(resp, "Connection", "close");
	r->status = status;
	ret = MHD_queue_response(r->c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result lk_reply_json(struct lk_req *r, unsigned status, json_t *o, const char *set_cookie)
{
	/* Most replies fit the stack buffer: json_dumps grows a heap buffer from 16 bytes by
	 * doubling and copies it once more. (jansson's dump itself stays about 8% of a GET
	 * /me's CPU in perf: its loop check formats and hashes each container's address.) */
	char buf[4096], *s = NULL;
	size_t n = o ? json_dumpb(o, buf, sizeof buf, JSON_COMPACT) : 0;
	if (n > sizeof buf && (s = json_dumps(o, JSON_COMPACT)))
		n = strlen(s);
	json_decref(o);
	if (!n || (n > sizeof buf && !s))
		return lk_reply_error(r, 500, "server_error", "out of memory");
	struct MHD_Response *resp = lk_resp_new("application/json", s ? s : buf, n);
	free(s);
	if (resp && set_cookie)
		MHD_add_response_header(resp, "Set-Cookie", set_cookie);
	return lk_reply(r, status, resp);
}

enum MHD_Result lk_reply_error(struct lk_req *r, unsigned status, const char *code,
			       const char *desc)
{
	char buf[512], c[64], d[384];
	lk_json_escape(c, sizeof c, code);
	lk_json_escape(d, sizeof d, desc);
	int n = snprintf(buf, sizeof buf, "{\"error\":\"%s\",\"error_description\":\"%s\"}", c, d);
	struct MHD_Response *resp = lk_resp_new("application/json", buf, (size_t)n);
	if (resp && status == 503) /* busy or the store away: both pass in moments */
		MHD_add_response_header(resp, "Retry-After", "1");
	if (resp && status == 401) {
		/* RFC 6750 §3: a request with no credentials gets the bare challenge */
		bool tried = lk_req_header(r, "Authorization") != NULL;
		MHD_add_response_header(resp, "WWW-Authenticate",
					strcmp(code, "invalid_client") == 0
						? "Basic realm=\"latchkey\""
					: tried ? "Bearer realm=\"latchkey\", error=\"invalid_token\""
						: "Bearer realm=\"latchkey\"");
	}
	return lk_reply(r, status, resp);
}

enum MHD_Result lk_reply_redirect(struct lk_req *r, const char *location, const char *set_cookie)
{
	struct MHD_Response *resp = lk_resp_new("text/plain; charset=utf-8", "", 0);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Location", location);
	if (set_cookie)
		MHD_add_response_header(resp, "Set-Cookie", set_cookie);
	return lk_reply(r, 303, resp);
}

/* What each class of error means to an HTTP client, and the codes that differ from
 * their class. One table: a handler never picks a status for a server-side failure. */
static const struct {
	enum lk_err_class cls;
	unsigned status;
	const char *error, *desc;
} by_class[] = {
	{LK_CLASS_INPUT, 400, "invalid_request", "the request is malformed"},
	{LK_CLASS_REJECTED, 401, "invalid_token", "the credentials were refused"},
	{LK_CLASS_KEY, 500, "server_error", "no usable signing key"},
	{LK_CLASS_SYSTEM, 500, "server_error", "internal error"},
	{LK_CLASS_STORE, 503, "store_unavailable", "the store is unavailable; try again shortly"},
	{LK_CLASS_AUTH, 401, "unauthorized", "sign in first"},
};
static const struct {
	enum lk_err code;
	unsigned status;
	const char *error, *desc;
} by_code[] = {
	{LK_ENOMEM, 500, "server_error", "out of memory"},
	{LK_EBUSY, 503, "busy", "too many sign-ins in progress; retry shortly"},
	{LK_ENO_KEY, 500, "server_error", "no signing key is available"},
	{LK_ENO_PRIVATE, 500, "server_error", "no signing key is available"},
	{LK_ENOT_FOUND, 404, "not_found", "no such thing"},
	{LK_EEXISTS, 409, "conflict", "it exists already"},
	{LK_ERATE_LIMITED, 429, "rate_limited", "too many attempts; retry later"},
	{LK_EFORBIDDEN, 403, "forbidden", "not allowed"},
	{LK_ECSRF, 403, "csrf", "cross-site request refused"},
	{LK_EREVOKED, 401, "invalid_token", "the credentials have been revoked"},
	/* Not "try again shortly": a read-only filesystem does not heal by itself. Same
	 * error word as any store failure, so clients need no new case. */
	{LK_ESTORE_READONLY, 503, "store_unavailable",
	 "the store is read-only: nothing can be changed until it is writable again"},
};

void lk_err_http(struct lk_req *r, enum lk_err err, unsigned *status_out,
		 const char **error_out, const char **desc_out)
{
	unsigned status = 500;
	const char *error = "server_error", *desc = "internal error";
	for (size_t i = 0; i < sizeof by_class / sizeof by_class[0]; i++)
		if (by_class[i].cls == lk_err_class(err)) {
			status = by_class[i].status;
			error = by_class[i].error;
			desc = by_class[i].desc;
		}
	for (size_t i = 0; i < sizeof by_code / sizeof by_code[0]; i++)
		if (by_code[i].code == err) {
			status = by_code[i].status;
			error = by_code[i].error;
			desc = by_code[i].desc;
		}
	if (status >= 500)
		lk_log("error", "request failed", "reason", lk_err_str(err), "path", r->url,
		       (char *)NULL);
	if (err == LK_EBUSY)
		atomic_fetch_add(&r->srv->logins[3], 1);
	*status_out = status;
	*error_out = error;
	*desc_out = desc;
}

enum MHD_Result lk_reply_err(struct lk_req *r, enum lk_err err)
{
	unsigned status;
	const char *error, *desc;
	lk_err_http(r, err, &status, &error, &desc);
	return lk_reply_error(r, status, error, desc);
}

/* ---------------------------------------------------------------- request helpers */

const char *lk_req_header(struct lk_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, name);
}

bool lk_req_has_type(struct lk_req *r, const char *type)
{
	const char *ct = lk_req_header(r, "Content-Type");
	size_t n = strlen(type);
	/* the media type exactly, then nothing, parameters or whitespace: not a prefix */
	return ct && strncasecmp(ct, type, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

bool lk_req_is_form(struct lk_req *r)
{
	return lk_req_has_type(r, "application/x-www-form-urlencoded");
}

char *lk_req_param(struct lk_req *r, const char *name)
{
	if (!r->body || !r->blen)
		return NULL;
	if (lk_req_is_form(r))
		return lk_form_param(r->body, r->blen, name);
	return lk_json_param(r->body, r->blen, name);
}

/* Is origin (scheme://host[:port], no path) the configured issuer's? Only that one: the
 * Host header is the client's to choose, so it never vouches for an origin. */
static bool origin_is_ours(struct lk_req *r, const char *origin, size_t len)
{
	size_t ol = strlen(r->srv->origin);
	return len == ol && strncasecmp(origin, r->srv->origin, len) == 0;
}

/*
 * Browser same-origin check for state-changing requests: Origin when present and not
 * "null"; else Sec-Fetch-Site; else Referer. A request with none of the three did not come
 * from a browser's cross-site form or script (all current browsers send Origin or
 * Sec-Fetch-Site on POST), so CSRF does not apply to it; Go 1.25's CrossOriginProtection
 * takes the same view.
 */
bool lk_req_same_origin(struct lk_req *r)
{
	const char *o = lk_req_header(r, "Origin");
	const char *sfs = lk_req_header(r, "Sec-Fetch-Site");
	const char *ref = lk_req_header(r, "Referer");

	if (o && strcmp(o, "null") != 0)
		return origin_is_ours(r, o, strlen(o));
	if (sfs)
		return strcmp(sfs, "same-origin") == 0;
	if (ref) {
		const char *p = strstr(ref, "://");
		const char *slash = p ? strchr(p + 3, '/') : NULL;
		size_t len = slash ? (size_t)(slash - ref) : strlen(ref);
		return p && origin_is_ours(r, ref, len);
	}
	return o == NULL;
}

bool lk_req_wants_html(struct lk_req *r)
{
	const char *dest = lk_req_header(r, "Sec-Fetch-Dest");
	const char *accept = lk_req_header(r, "Accept");
	if (dest)
		return strcmp(dest, "document") == 0;
	return accept && strstr(accept, "text/html");
}

void lk_cookie_set(struct lk_server *s, const char *value, char *buf, size_t size)
{
	snprintf(buf, size, "%s=%s%s", s->cookie_name, value, s->cookie_attrs);
}

void lk_cookie_clear(struct lk_server *s, char *buf, size_t size)
{
	snprintf(buf, size, "%s=%s; Max-Age=0", s->cookie_name, s->cookie_attrs);
}

/* ---------------------------------------------------------------- dispatch */

static enum MHD_Result last_xff(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	if (key && value && strcasecmp(key, "X-Forwarded-For") == 0)
		*(const char **)cls = value;
	return MHD_YES;
}

/* Is ip one of the comma-separated addresses in list? */
static bool listed(const char *list, const char *ip)
{
	size_t n = strlen(ip);
	for (const char *p = list; *p;) {
		while (*p == ',' || *p == ' ')
			p++;
		size_t k = strcspn(p, ", ");
		if (k == n && strncmp(p, ip, n) == 0)
			return true;
		p += k;
	}
	return false;
}

static void client_ip(struct lk_req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	r->ip[0] = '\0';
	if (!ci || !ci->client_addr)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, r->ip,
			  sizeof r->ip);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, r->ip,
			  sizeof r->ip);
	/* Behind a trusted proxy, the client is the address that proxy appended last to
	 * X-Forwarded-For; entries further left are whatever the client claimed. */
	const char *tp = r->srv->cfg.trusted_proxies;
	if (!tp[0] || !listed(tp, r->ip))
		return;
	/* several header lines (a client's own, then the proxy's): the proxy's is the last */
	const char *xff = NULL;
	char addr[64];
	MHD_get_connection_values(r->c, MHD_HEADER_KIND, last_xff, &xff);
	if (lk_parse_xff(xff, addr, sizeof addr))
		snprintf(r->ip, sizeof r->ip, "%s", addr);
}

static bool path_matches(const struct route *rt, const char *url)
{
	if (rt->flags & R_PREFIX) {
		size_t n = strlen(rt->path);
		return strncmp(url, rt->path, n) == 0 && url[n] && !strchr(url + n, '/');
	}
	return strcmp(url, rt->path) == 0;
}

/* The route for (method, url): >= 0; -1 for no path match (404); -2 when the path exists
 * with other methods (405; allow receives them). */
static int find_route(const char *method, const char *url, char *allow, size_t size)
{
	int found = -1;
	allow[0] = '\0';
	bool head = strcmp(method, "HEAD") == 0;
	for (size_t i = 0; i < lk_nroutes; i++) {
		const struct route *rt = &lk_routes[i];
		if (!path_matches(rt, url))
			continue;
		/* an exact route wins over a prefix one ("/sessions/revoke-others") */
		if (strcmp(rt->method, method) == 0 || (head && strcmp(rt->method, "GET") == 0)) {
			if (found < 0 || !(rt->flags & R_PREFIX))
				found = (int)i;
			continue;
		}
		if (!strstr(allow, rt->method)) {
			size_t l = strlen(allow);
			snprintf(allow + l, size - l, "%s%s", l ? ", " : "", rt->method);
			if (strcmp(rt->method, "GET") == 0) {
				l = strlen(allow);
				snprintf(allow + l, size - l, ", HEAD");
			}
		}
	}
	if (found >= 0)
		return found;
	return allow[0] ? -2 : -1;
}

/* A bounded buffer being filled; over marks what did not fit. */
struct qbuf {
	char *b;
	size_t len, size;
	bool over;
};

/* Append s, percent-encoded (keeping '/'), or as it is when raw. */
static void qput(struct qbuf *q, const char *s, bool raw)
{
	size_t n;
	if (q->over)
		return;
	if (raw) {
		n = strlen(s);
		if (q->len + n >= q->size) {
			q->over = true;
			return;
		}
		memcpy(q->b + q->len, s, n + 1);
	} else if ((n = lk_pct_encode(s, "/", q->b + q->len, q->size - q->len)) == (size_t)-1) {
		q->over = true;
		return;
	}
	q->len += n;
}

/* Each GET argument of the request as "?k=v" then "&k=v", encoded. */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct qbuf *q = cls;
	if (!key)
		return MHD_YES;
	qput(q, q->len ? "&" : "?", true);
	qput(q, key, false);
	if (value) {
		qput(q, "=", true);
		qput(q, value, false);
	}
	return MHD_YES;
}

/*
 * A browser without a live session: to the sign-in page, which brings it back to where it
 * was going (a page with its query; after a form post, the page the form was on), with a
 * note that the session ended when it presented one, whose cookie is cleared.
 */
static enum MHD_Result to_login(struct lk_req *r, const struct route *rt, bool had_cookie)
{
	char query[200], back[256], enc[3 * 256 + 1], loc[800], clear[160];
	struct qbuf q = {query, 0, sizeof query, false}, e = {enc, 0, sizeof enc, false};

	query[0] = back[0] = enc[0] = '\0';
	if (rt->flags & R_PAGE) {
		MHD_get_connection_values(r->c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
		snprintf(back, sizeof back, "%s%s", rt->path, q.over ? "" : query);
	} else if (strcmp(rt->path, "/logout") != 0) {
		snprintf(back, sizeof back, "%s",
			 strncmp(rt->path, "/admin", 6) == 0 ? "/admin" : "/account");
	}
	qput(&e, back, false);
	snprintf(loc, sizeof loc, "/login%s%s%s", back[0] ? "?return_to=" : "", enc,
		 had_cookie ? (back[0] ? "&ended=1" : "?ended=1") : "");
	if (!had_cookie)
		return lk_reply_redirect(r, loc, NULL);
	lk_cookie_clear(r->srv, clear, sizeof clear);
	return lk_reply_redirect(r, loc, clear);
}

static enum MHD_Result dispatch(struct lk_req *r)
{
	struct lk_server *s = r->srv;
	char allow[128];
	int i = r->route >= 0 ? r->route : find_route(r->method, r->url, allow, sizeof allow);

	if (i == -1)
		return lk_reply_error(r, 404, "not_found", "no such endpoint");
	if (i == -2) {
		static const char body[] = "{\"error\":\"method_not_allowed\","
					   "\"error_description\":\"method not allowed here\"}";
		struct MHD_Response *resp = lk_resp_new("application/json", body, sizeof body - 1);
		if (resp)
			MHD_add_response_header(resp, "Allow", allow);
		return lk_reply(r, 405, resp);
	}
	r->route = i;
	const struct route *rt = &lk_routes[i];
	if (r->too_large) {
		r->close = true;
		return lk_reply_error(r, 413, "request_too_large", "the request body is too large");
	}

	if ((rt->flags & R_BEARER) && !r->authed) {
		enum lk_err err = lk_req_bearer(r);
		if (err == LK_OK) {
			r->authed = r->bearer = true;
			memset(&r->me, 0, sizeof r->me);
			r->me.id = strtoll(r->tok.sub, NULL, 10);
			snprintf(r->me.name, sizeof r->me.name, "%s", r->tok.name);
			snprintf(r->me.roles, sizeof r->me.roles, "%s", r->tok.roles);
		} else if (err != LK_ENOT_FOUND) {
			return lk_reply_error(r, 401, "invalid_token",
					      err == LK_EREVOKED ? "the access token has been revoked"
					      : err == LK_EEXPIRED ? "the access token has expired"
								   : "the access token is invalid");
		}
	}
	if ((rt->flags & (R_AUTH | R_PAGE)) && !r->authed) {
		const char *cookie = MHD_lookup_connection_value(r->c, MHD_COOKIE_KIND, s->cookie_name);
		enum lk_err err = LK_ESESSION;
		if (cookie)
			err = lk_auth_session_check(s->auth, cookie, lk_now(), &r->sess, &r->me);
		if (err && err != LK_ESESSION)
			return lk_reply_err(r, err);
		if (err) {
			if ((rt->flags & R_PAGE) || (lk_req_is_form(r) && lk_req_wants_html(r)))
				return to_login(r, rt, cookie != NULL);
			return lk_reply_error(r, 401, "unauthorized",
					      cookie ? "the session is invalid or has expired"
						     : "sign in first");
		}
		r->authed = true;
	}
	if ((rt->flags & R_UNSAFE) && r->authed && !r->bearer) {
		if (!lk_req_same_origin(r))
			return lk_reply_error(r, 403, "csrf", "cross-site request refused");
		if (lk_req_is_form(r)) {
			char *tok = lk_req_param(r, "csrf");
			bool ok = tok && strlen(tok) == LK_CSRF_LEN &&
				  CRYPTO_memcmp(tok, r->sess.csrf, LK_CSRF_LEN) == 0;
			free(tok);
			if (!ok)
				return lk_reply_error(r, 403, "csrf", "missing or wrong CSRF token");
		}
	}
	if ((rt->flags & R_ADMIN)) {
		bool admin = lk_auth_has_role(r->me.roles, "admin");
		if (!admin && (rt->flags & R_PAGE))
			return lk_page_error(r, 403, "Not allowed",
					     "This page is for administrators (the admin role).");
		if (!admin)
			return lk_reply_error(r, 403, "forbidden", "the admin role is required");
	}
	return rt->fn(r);
}

static struct lk_req *req_new(struct lk_server *s, struct MHD_Connection *c)
{
	struct lk_req *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->srv = s;
	r->c = c;
	r->route = -1;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	return r;
}

/*
 * The request line has been read. The request's context starts here, before the headers:
 * libmicrohttpd then calls on_completed for it even when it never calls on_request (it
 * does so only for requests the application has seen), which is how requests that end
 * unanswered are counted (http_int.h). It also keeps what only the raw target shows: an
 * encoded NUL, a control character, invalid UTF-8 (lk_target_bad), and where the target
 * lay, for raw_nul. NULL (no memory): on_request allocates it and these checks are off.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct lk_req *r = req_new(cls, c);
	if (r) {
		r->raw_target = uri;
		r->raw_len = strlen(uri);
		r->target_bad = lk_target_bad(uri);
	}
	return r;
}

/*
 * A raw NUL in the request target. libmicrohttpd 0.9.75 ends the target at it (the URI
 * callback and the handler see only what comes before, "/healthz" for "/healthz<NUL>x")
 * yet still takes the version from the end of the line. It parses the line in place: the
 * handler's url starts where the raw target did, and the version right after the target's
 * last byte and the space that ended it; a version further on means bytes the target's
 * C string does not show. Checked only with that layout (0.9.75; the url where the raw
 * target was, a version given); pointers are compared, never read through.
 */
static const char *raw_nul(const struct lk_req *r, const char *url, const char *version)
{
#if MHD_VERSION >= 0x00097500 && MHD_VERSION < 0x00097600
	if (r->raw_target && url == r->raw_target && version && version[0] &&
	    version != r->raw_target + r->raw_len + 1)
		return "a NUL in the request target";
#else
	(void)r, (void)url, (void)version;
#endif
	return NULL;
}

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      size_t key_size, const char *value, size_t value_size)
{
	struct lk_framing *f = cls;
	lk_framing_add(f, key, key_size, value, value_size);
	return f->bad ? MHD_NO : MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **ctx)
{
	struct lk_server *s = cls;
	struct lk_req *r = *ctx;

	if (!r || !r->started) {
		if (!r && !(r = req_new(s, c)))
			return MHD_NO;
		r->started = true;
		lk_conn_head_done(c); /* the head is complete: its deadline is met */
		r->url = url;
		r->method = method;
		client_ip(r);
		*ctx = r;
		atomic_fetch_add(&s->inflight, 1);
		/* Ambiguous framing (RFC 9112 §6.3, §11.2): one 400, and the connection closes,
		 * so nothing queued behind this request is ever read as a request. */
		struct lk_framing f = {0};
		MHD_get_connection_values_n(c, MHD_HEADER_KIND, framing_header, &f);
		lk_framing_end(&f, version);
		if (f.bad) {
			char why[128];
			snprintf(why, sizeof why, "bad request framing: %s", f.bad);
			r->dispatched = r->close = true;
			return lk_reply_error(r, 400, "bad_request", why);
		}
		if (f.has_cl && f.cl > s->cfg.max_body) {
			/* the body is not read: closing is what keeps it from being parsed */
			r->dispatched = r->close = true;
			return lk_reply_error(r, 413, "request_too_large",
					      "the request body is too large");
		}
		/* A NUL, a control character or invalid UTF-8 in the target: never read as a
		 * path or a query value (cut short at a NUL, it would name another page). */
		const char *bad = r->target_bad ? r->target_bad : raw_nul(r, url, version);
		if (bad) {
			r->dispatched = r->close = true;
			return lk_reply_error(r, 400, "bad_request", bad);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_large && !r->dispatched) {
			if (r->blen + *upload_size > s->cfg.max_body) {
				r->too_large = true;
			} else {
				char *nb = realloc(r->body, r->blen + *upload_size + 1);
				if (!nb)
					return MHD_NO;
				r->body = nb;
				memcpy(r->body + r->blen, upload, *upload_size);
				r->blen += *upload_size;
				r->body[r->blen] = '\0';
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->dispatched && r->login != LOGIN_DONE)
		return MHD_YES; /* a reply was already queued */
	r->dispatched = true;
	return dispatch(r);
}

/* ---------------------------------------------------------------- unanswered requests */

/* The status of a reply libmicrohttpd queued on c by itself, or 0 when there is none. */
static unsigned mhd_status(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
	return ci ? ci->http_status : 0;
}

/* A request latchkey did not answer has ended. A reply libmicrohttpd made itself was
 * counted by on_mhd_log; anything else ended with no reply at all. Returns that status. */
static unsigned unanswered(struct lk_server *s, struct MHD_Connection *c,
			   enum MHD_RequestTerminationCode why)
{
	unsigned st = mhd_status(c);
	if (st)
		return st;
	if (lk_conn_was_cut(c)) /* counted by the sweeper as header_timeout */
		return 0;
	enum lk_noreply k = why == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? LK_NOREPLY_TIMEOUT
			    : why == MHD_REQUEST_TERMINATED_READ_ERROR ||
					    why == MHD_REQUEST_TERMINATED_CLIENT_ABORT
				    ? LK_NOREPLY_CLIENT_GONE
				    : LK_NOREPLY_CLOSED;
	atomic_fetch_add_explicit(&s->noreply[k], 1, memory_order_relaxed);
	return 0;
}

/*
 * libmicrohttpd's error log, which it writes only with MHD_USE_ERROR_LOG: each reply it
 * makes by itself (a framing or size error found before, or instead of, calling the
 * handler: 400, 413, 414, 431, 505, ...) is logged as one message with its status, the
 * only trace of one that ends at the request line (a bad version, an over-long target).
 * Count those by status; drop every other message, as before the log was on. Runs only
 * on errors. The format is libmicrohttpd 0.9.75's (transmit_error_response in
 * connection.c); hostile.test.mjs checks the counts, so a release that words it
 * differently fails a test instead of silently counting nothing.
 */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	static const char reply[] = "Error processing request (HTTP response code is %u";
	struct lk_server *s = cls;
	va_list aq;

	if (!fmt || strncmp(fmt, reply, sizeof reply - 1) != 0)
		return;
	va_copy(aq, ap);
	unsigned st = va_arg(aq, unsigned);
	va_end(aq);
	atomic_fetch_add_explicit(&s->mhd_replies[lk_status_slot(st)], 1, memory_order_relaxed);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
			 enum MHD_RequestTerminationCode why)
{
	struct lk_server *s = cls;
	struct lk_req *r = *ctx;
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (why == MHD_REQUEST_TERMINATED_COMPLETED_OK) /* a keep-alive's next head is due */
		lk_conn_reply_done(s, c, &t1);
	if (!r)
		return;
	if (!r->started) { /* the handler never ran */
		(void)unanswered(s, c, why);
		free(r);
		*ctx = NULL;
		return;
	}
	double dt = (double)(t1.tv_sec - r->t0.tv_sec) + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e9;
	unsigned status = r->status;
	if (status) { /* answered by latchkey */
		int ri = r->route >= 0 && r->route < LK_NROUTES_MAX - 1 ? r->route : LK_NROUTES_MAX - 1;
		atomic_fetch_add(&s->req_count[ri][lk_status_slot(status)], 1);
		size_t b = 0;
		while (b < lk_nlat && dt > lk_lat_bounds[b])
			b++;
		atomic_fetch_add(&s->lat_bucket[b], 1);
		atomic_fetch_add(&s->lat_sum_us, (unsigned long long)(dt * 1e6));
	} else { /* bad chunk syntax, a client gone mid-body, ... */
		status = unanswered(s, c, why);
	}
	if (s->cfg.log_requests)
		lk_log_request(r->method, r->url, status, dt * 1000, r->ip,
			       why != MHD_REQUEST_TERMINATED_COMPLETED_OK);
	lk_auth_signin_free(&r->si);
	if (r->body) {
		OPENSSL_cleanse(r->body, r->blen);
		free(r->body);
	}
	free(r);
	*ctx = NULL;
	atomic_fetch_sub(&s->inflight, 1);
}

/* ---------------------------------------------------------------- lifecycle */

static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon;
	long port;
	char *end;

	memset(ss, 0, sizeof *ss);
	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - spec - 1) >= sizeof host)
			return -1;
		memcpy(host, spec + 1, (size_t)(rb - spec - 1));
		host[rb - spec - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof host)
			return -1;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -1;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof *a4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof *a6;
		return 0;
	}
	return -1;
}

struct purger {
	struct lk_server *s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
};

static void *purge_loop(void *arg)
{
	struct purger *p = arg;
	struct lk_auth *a = p->s->auth;
	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += p->s->cfg.purge_interval;
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		if (p->stop)
			break;
		pthread_mutex_unlock(&p->mu);
		int64_t now = lk_now();
		lk_auth_upkeep(a, now);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	lk_thread_cleanup();
	return NULL;
}

static void origin_of(const char *issuer, char *out, size_t size)
{
	const char *p = strstr(issuer, "://");
	const char *slash = p ? strchr(p + 3, '/') : NULL;
	size_t n = slash ? (size_t)(slash - issuer) : strlen(issuer);
	if (n >= size)
		n = size - 1;
	memcpy(out, issuer, n);
	out[n] = '\0';
}

/* Is the address free? Binds a plain socket to it (no SO_REUSEPORT) and lets it go; for
 * port 0, ss gets the port the kernel picked, for every daemon to share. */
static bool port_free(struct sockaddr_storage *ss, socklen_t *sl)
{
	int one = 1, e;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	bool ok = bind(fd, (struct sockaddr *)ss, *sl) == 0 &&
		  getsockname(fd, (struct sockaddr *)ss, sl) == 0;
	e = errno;
	close(fd);
	errno = e;
	return ok;
}

/*
 * Daemon i: one thread with its own epoll set and its own listening socket, bound with
 * SO_REUSEPORT beside the others, so the kernel hashes new connections across the
 * threads. (One daemon with a pool of threads sharing one socket lets whichever thread
 * wakes first accept a whole burst: under load they can all land on one.)
 */
static struct MHD_Daemon *start_daemon(struct lk_server *s, unsigned i,
				       const struct sockaddr_storage *ss, socklen_t sl)
{
	const struct lk_srvcfg *cfg = &s->cfg;
	int one = 1;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return NULL;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
	    (ss->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
	    bind(fd, (const struct sockaddr *)ss, sl) != 0 || listen(fd, 1024) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
			 MHD_USE_TURBO | MHD_USE_ERROR_LOG |
			 (ss->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	/* The logger first: libmicrohttpd prints to stderr what comes before it. The accept
	 * policy only with a per-address cap: it refuses an address at its cap. */
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, 0, cfg->max_conn_per_ip ? lk_conn_accept : NULL, s, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->conn_timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->max_header,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)(4096 / s->nd + 1),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, lk_conn_notify, lk_conn_list(s, i), MHD_OPTION_END);
	if (!d) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

int lk_server_run(const struct lk_srvcfg *cfg, struct lk_auth *auth)
{
	struct lk_server *s = calloc(1, sizeof *s);
	struct sockaddr_storage ss;
	socklen_t sl;
	sigset_t sigs;
	int sig = 0, rc = 1;
	struct purger pg = {.stop = false};
	pthread_t purge_th;
	bool purging = false;

	if (!s)
		return 1;
	s->cfg = *cfg;
	s->auth = auth;
	pthread_mutex_init(&s->streams_mu, NULL);
	origin_of(cfg->issuer, s->origin, sizeof s->origin);
	if (cfg->insecure_cookies) {
		snprintf(s->cookie_name, sizeof s->cookie_name, "latchkey");
		snprintf(s->csrf_cookie, sizeof s->csrf_cookie, "latchkey-csrf");
		s->cookie_attrs = cfg->samesite_strict ? "; Path=/; HttpOnly; SameSite=Strict"
						       : "; Path=/; HttpOnly; SameSite=Lax";
	} else {
		snprintf(s->cookie_name, sizeof s->cookie_name, "__Host-latchkey");
		snprintf(s->csrf_cookie, sizeof s->csrf_cookie, "__Host-latchkey-csrf");
		s->cookie_attrs = cfg->samesite_strict ? "; Path=/; HttpOnly; Secure; SameSite=Strict"
						       : "; Path=/; HttpOnly; Secure; SameSite=Lax";
	}
	if (parse_listen(cfg->listen, &ss, &sl) != 0) {
		fprintf(stderr, "latchkey: --listen: expected ADDR:PORT or [ADDR6]:PORT, got \"%s\"\n",
			cfg->listen);
		goto out;
	}
	/* Block the stop signals in every thread; main waits for them with sigwait. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The address must be free: SO_REUSEPORT would otherwise let this server share a port
	 * with another one's (a second instance started by mistake) instead of failing. */
	if (!port_free(&ss, &sl)) {
		fprintf(stderr, "latchkey: cannot listen on %s: %s\n", cfg->listen, strerror(errno));
		goto out;
	}
	s->nd = cfg->threads ? (unsigned)cfg->threads : 1;
	s->d = calloc(s->nd, sizeof *s->d);
	s->conns = calloc(s->nd, sizeof *s->conns);
	if (!s->d || !s->conns || lk_conns_init(s) != 0)
		goto out;
	for (unsigned i = 0; i < s->nd; i++) {
		if (!(s->d[i] = start_daemon(s, i, &ss, sl))) {
			fprintf(stderr, "latchkey: cannot listen on %s: %s\n", cfg->listen,
				errno ? strerror(errno) : "libmicrohttpd failed to start");
			goto out;
		}
	}
	if (lk_conns_start(s) != 0) {
		fprintf(stderr, "latchkey: cannot start the request-head sweeper: %s\n", strerror(errno));
		goto out;
	}
	pg.s = s;
	pthread_mutex_init(&pg.mu, NULL);
	pthread_cond_init(&pg.cv, NULL);
	purging = pthread_create(&purge_th, NULL, purge_loop, &pg) == 0;
	lk_log("info", "listening", "listen", cfg->listen, "issuer", cfg->issuer, (char *)NULL);

	while (sigwait(&sigs, &sig) != 0)
		;
	lk_log("info", "shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", (char *)NULL);
	atomic_store(&s->stopping, true);
	lk_streams_end(s); /* open revocation streams end now, not at the 10 s limit */
	/* No new connections (the listening socket is ours to close now); in-flight
	 * requests, suspended sign-ins included, go on. */
	for (unsigned i = 0; i < s->nd; i++) {
		MHD_socket lfd = MHD_quiesce_daemon(s->d[i]);
		if (lfd != MHD_INVALID_SOCKET)
			close(lfd);
	}
	for (int i = 0; i < 100 && atomic_load(&s->inflight) > 0; i++) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	rc = 0;
out:
	for (unsigned i = 0; s->d && i < s->nd; i++)
		if (s->d[i])
			MHD_stop_daemon(s->d[i]);
	lk_conns_free(s); /* every connection is closed and unregistered now */
	free(s->d);
	free(s->conns);
	if (purging) {
		pthread_mutex_lock(&pg.mu);
		pg.stop = true;
		pthread_cond_signal(&pg.cv);
		pthread_mutex_unlock(&pg.mu);
		pthread_join(purge_th, NULL);
	}
	free(s);
	return rc;
}
