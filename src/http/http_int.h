/* SPDX-License-Identifier: MIT */
/*
 * Internals of the HTTP layer shared by server.c (daemon, request lifecycle, replies,
 * CSRF, metrics), routes.c (the JSON endpoints) and html.c (the three pages).
 *
 * A request's life: once its request line is read, MHD calls the URI callback, where
 * server.c allocates a struct lk_req and checks the target as it came; then the handler,
 * first with no body, which checks the framing and Content-Length against the cap, then
 * collects the body (capped), then dispatches to the route's handler once. A sign-in
 * suspends the connection while a pool worker runs Argon2 and resumes it; the handler is
 * then called again and finishes. The completion callback logs the request, updates
 * metrics and frees the struct.
 *
 * Requests latchkey never answers: libmicrohttpd refuses some by itself (a Content-Length
 * that is not a number, bad chunk syntax, a head over the memory limit, a bad request
 * line) with its own HTML, before or instead of calling the handler, and a client may go
 * away or time out first. Since the URI callback starts the context of every request
 * whose request line was read, the completion callback runs for it too; it counts the
 * ones without a reply by why they ended. libmicrohttpd's own replies are counted by
 * status from its error log (the only place a bad request line shows), never twice: the
 * completion callback leaves alone a request whose reply it queued itself.
 */
#ifndef LK_HTTP_INT_H
#define LK_HTTP_INT_H

#include <strings.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "http/parse.h"
#include "http/server.h"

#define LK_NSTATUS 20
#define LK_NROUTES_MAX 48 /* metrics slots: routes, and the last for "other" */

struct lk_server;

/* Ways a request ends without any reply (latchkey_http_unanswered_total's reasons).
 * HEADER_TIMEOUT counts connections, one for each the head deadline cut (conns.c). */
enum lk_noreply {
	LK_NOREPLY_CLIENT_GONE,
	LK_NOREPLY_TIMEOUT,
	LK_NOREPLY_CLOSED,
	LK_NOREPLY_HEADER_TIMEOUT,
	LK_NNOREPLY
};

enum { LOGIN_NEW = 0, LOGIN_HASHING, LOGIN_DONE };

struct lk_req {
	struct lk_server *srv;
	struct MHD_Connection *c;
	bool started;              /* on_request has seen it (else only the request line) */
	const char *raw_target;    /* the target as the URI callback saw it: compared, not read */
	size_t raw_len;
	const char *target_bad;    /* lk_target_bad's reason, or NULL */
	const char *method, *url;
	int route;                 /* index in the route table, -1 when none */
	unsigned status;           /* final status, for the log and metrics */
	struct timespec t0;
	char ip[64];
	char *body;
	size_t blen;
	bool too_large, dispatched;
	bool close;                /* the reply ends the connection (Connection: close) */
	/* sign-in state across suspend/resume */
	int login;
	bool form;
	struct lk_signin si;
	enum lk_err si_err;        /* lk_auth_signin_begin's refusal, if any */
	int64_t retry_after;
	char return_to[256];
	/* a form post answered by a page (sign-in, change of password): how to show a refusal */
	enum MHD_Result (*form_page)(struct lk_req *r, unsigned status, const char *msg);
	char extra_cookie[192];    /* a second Set-Cookie that lk_reply adds when set */
	/* the authenticated session, when any */
	bool authed;
	struct lk_session sess;
	struct lk_user me;
	/* or the verified bearer token */
	bool bearer;
	struct lk_principal tok;
	/* OAuth: the authenticated client and what the grant asked for */
	bool client_ok, browser;
	struct lk_client client;
	char scope[LK_SCOPE_MAX + 1];
};

struct route {
	const char *method;
	const char *path;  /* exact, or a prefix ending in '/' when PREFIX is set */
	unsigned flags;
	enum MHD_Result (*fn)(struct lk_req *r);
};
#define R_PREFIX 1u   /* path is a prefix; the rest is an argument */
#define R_AUTH 2u     /* needs a session (401 JSON otherwise) */
#define R_PAGE 4u     /* an HTML page: unauthenticated visitors are sent to /login */
#define R_ADMIN 8u    /* needs the admin role */
#define R_UNSAFE 16u  /* state-changing: CSRF rules apply */
#define R_BEARER 32u  /* R_AUTH may also be met by a Bearer access token */

struct lk_server {
	struct lk_srvcfg cfg;
	struct lk_auth *auth;
	/* one daemon per HTTP thread, each on its own SO_REUSEPORT listening socket, so the
	 * kernel spreads connections evenly over the threads */
	struct MHD_Daemon **d;
	unsigned nd;
	atomic_ullong *conns;      /* connections accepted, per daemon (metrics) */
	char origin[256];          /* scheme://host[:port] of the issuer */
	char cookie_name[32];      /* __Host-latchkey or latchkey */
	char csrf_cookie[40];      /* __Host-latchkey-csrf or latchkey-csrf */
	const char *cookie_attrs;  /* "; Path=/; HttpOnly; Secure; SameSite=Lax" */
	atomic_int inflight;
	atomic_bool stopping;
	/* metrics */
	atomic_ullong req_count[LK_NROUTES_MAX][LK_NSTATUS];
	atomic_ullong lat_bucket[16];
	atomic_ullong lat_sum_us;
	atomic_ullong logins[4];   /* success, failure, rate_limited, busy */
	/* requests that ended before latchkey answered them: libmicrohttpd's own replies by
	 * status slot (lk_status_codes), and those with no reply by enum lk_noreply */
	atomic_ullong mhd_replies[LK_NSTATUS];
	atomic_ullong noreply[LK_NNOREPLY];
	atomic_ullong refused_per_ip; /* connections refused at max_conn_per_ip */
	/* every open connection, for the head deadline and the per-address cap (conns.c) */
	struct lk_conns *cs;
	/* open /revocations/stream responses (revstream.c), ended at shutdown */
	pthread_mutex_t streams_mu;
	struct lk_sse *streams;
	atomic_int nstreams;
};

extern const struct route lk_routes[];
extern const size_t lk_nroutes;
extern const char *const lk_noreply_names[LK_NNOREPLY];

/* Connections (conns.c): the request-head deadline and the per-address cap. init after
 * s->nd is set and before the daemons start; start the sweeper once they run; free after
 * they stopped. */
int lk_conns_init(struct lk_server *s);
int lk_conns_start(struct lk_server *s);
void lk_conns_stop(struct lk_server *s);
void lk_conns_free(struct lk_server *s);
/* For MHD_start_daemon: the accept policy (cls: the server) and the connection
 * notification (cls: lk_conn_list(s, i), daemon i's list). */
enum MHD_Result lk_conn_accept(void *cls, const struct sockaddr *addr, socklen_t len);
void lk_conn_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
		    enum MHD_ConnectionNotificationCode code);
void *lk_conn_list(struct lk_server *s, unsigned i);
/* The head of c's request is complete (the handler's first call): no deadline now. */
void lk_conn_head_done(struct MHD_Connection *c);
/* A reply on c has been sent in full (now: CLOCK_MONOTONIC): the next head is due within
 * header_timeout. */
void lk_conn_reply_done(struct lk_server *s, struct MHD_Connection *c, const struct timespec *now);
/* Did the deadline cut c? (Its request is counted as HEADER_TIMEOUT already.) */
bool lk_conn_was_cut(struct MHD_Connection *c);

extern const unsigned lk_status_codes[LK_NSTATUS];
/* The slot of status in lk_status_codes: LK_NSTATUS - 1 ("other") when not listed. */
int lk_status_slot(unsigned status);
extern const double lk_lat_bounds[];
extern const size_t lk_nlat;

/* Replies. Each queues the response and returns MHD's result; r->status is recorded. */
enum MHD_Result lk_reply(struct lk_req *r, unsigned status, struct MHD_Response *resp);
/* A response with body (copied), content type and the security headers every reply gets:
 * Cache-Control: no-store and a Content-Security-Policy that allows nothing. */
struct MHD_Response *lk_resp_new(const char *ctype, const char *body, size_t len);
/* The same with this Cache-Control and Content-Security-Policy (csp NULL: none). */
struct MHD_Response *lk_resp_new_with(const char *ctype, const char *body, size_t len,
				      const char *cache, const char *csp);
/* JSON body from o (o is consumed). */
enum MHD_Result lk_reply_json(struct lk_req *r, unsigned status, json_t *o,
			      const char *set_cookie);
/* {"error": code, "error_description": desc}; 401s carry WWW-Authenticate, 503s
 * Retry-After. */
enum MHD_Result lk_reply_error(struct lk_req *r, unsigned status, const char *code,
			       const char *desc);
enum MHD_Result lk_reply_redirect(struct lk_req *r, const char *location, const char *set_cookie);
/* The one table from error to reply: the status and error word for err's class (store
 * failures 503 store_unavailable, LK_ENOT_FOUND 404, LK_EBUSY 503 + Retry-After, a missing
 * signing key 500, ...). For failures on the server's side; refusals of the caller's
 * credentials are answered where the protocol says how. */
enum MHD_Result lk_reply_err(struct lk_req *r, enum lk_err err);
/* That table's row for err (status, error word, description), logged when status >= 500;
 * for replies in another form (the HTML pages). */
void lk_err_http(struct lk_req *r, enum lk_err err, unsigned *status, const char **error,
		 const char **desc);

/* Request helpers. */
const char *lk_req_header(struct lk_req *r, const char *name);
/* Form field or JSON member from the body (form-urlencoded or JSON); NULL when absent.
 * The result is a new string the caller frees. */
char *lk_req_param(struct lk_req *r, const char *name);
bool lk_req_is_form(struct lk_req *r);
/* Is Content-Type exactly this media type (parameters allowed)? */
bool lk_req_has_type(struct lk_req *r, const char *type);
bool lk_req_same_origin(struct lk_req *r);
/* Does a browser ask for a page (a navigation or a form post), not a script or an API
 * client? Sec-Fetch-Dest: document, else an Accept that names text/html. */
bool lk_req_wants_html(struct lk_req *r);
/* Set-Cookie values for the session cookie; buf at least 128 bytes. */
void lk_cookie_set(struct lk_server *s, const char *value, char *buf, size_t size);
void lk_cookie_clear(struct lk_server *s, char *buf, size_t size);

/* Password checks shared by /login, the password grant and /account/password (routes.c):
 * start the sign-in (takes pw; the connection is suspended until the check ran, then the
 * route's handler runs again with LOGIN_DONE), or the change of password (takes both),
 * and its outcome: true when r->si.user signed in (a change: the check ran, and the caller
 * ends it); false when *mr holds the reply already queued (429, 503, a store error; by
 * r->form_page when set) or when the password was wrong (*mr is then MHD_NO and nothing
 * is queued: the caller answers). */
enum MHD_Result lk_pw_start(struct lk_req *r, const char *user, char *pw, bool grant);
enum MHD_Result lk_pw_change_start(struct lk_req *r, char *current, char *next);
bool lk_pw_outcome(struct lk_req *r, bool *wrong, enum MHD_Result *mr);
/* The refresh cookie's name, and a Set-Cookie value that clears it (oauth.c). */
const char *lk_refresh_cookie(const struct lk_server *s);
void lk_refresh_cookie_clear(const struct lk_server *s, char *buf, size_t size);
/* Bearer token of the request into r->tok: LK_OK, LK_ENOT_FOUND (no Authorization:
 * Bearer header), or the verification failure. */
enum lk_err lk_req_bearer(struct lk_req *r);
/* Client authentication (oauth.c; RFC 6749 §2.3.1): HTTP Basic or client_secret in the
 * body, never both. 1 authenticated (r->client), 0 no credentials, -1 wrong or malformed,
 * -2 the store failed, -3 two methods at once. */
int lk_req_client_auth(struct lk_req *r);
/* Who is asking, for the audit trail. */
static inline struct lk_actor lk_req_actor(const struct lk_req *r)
{
	return (struct lk_actor){r->authed ? r->me.name : "", r->ip};
}

/* OAuth endpoints and discovery (oauth.c). */
enum MHD_Result lk_route_jwks(struct lk_req *r);
enum MHD_Result lk_route_discovery(struct lk_req *r);
enum MHD_Result lk_route_hybrid(struct lk_req *r);
enum MHD_Result lk_route_oauth_token(struct lk_req *r);
enum MHD_Result lk_route_oauth_revoke(struct lk_req *r);
enum MHD_Result lk_route_oauth_introspect(struct lk_req *r);
enum MHD_Result lk_route_auth_verify(struct lk_req *r);

/* Pages (html.c). */
enum MHD_Result lk_page_login(struct lk_req *r);
/* The sign-in page again with a message, for failed form posts. */
enum MHD_Result lk_page_login_error(struct lk_req *r, unsigned status, const char *msg);
enum MHD_Result lk_page_account(struct lk_req *r);
/* The account page with a message for its change-of-password form. */
enum MHD_Result lk_page_account_error(struct lk_req *r, unsigned status, const char *msg);
enum MHD_Result lk_page_admin(struct lk_req *r);
/* An error as a page, for browsers (title and message are plain text). */
enum MHD_Result lk_page_error(struct lk_req *r, unsigned status, const char *title,
			      const char *msg);
/* GET /static/NAME: the stylesheet and the icon, compiled in. */
enum MHD_Result lk_route_static(struct lk_req *r);
/* A device's name from its User-Agent ("Firefox 128 on Windows"), from fixed tables only
 * (ua.c). */
void lk_ua_describe(const char *ua, char *out, size_t size);

/* The revocation feed (revstream.c): GET /revocations and /revocations/stream; at
 * shutdown (s->stopping set) every open stream ends. */
enum MHD_Result lk_route_revocations(struct lk_req *r);
enum MHD_Result lk_route_revstream(struct lk_req *r);
void lk_streams_end(struct lk_server *s);

/* Metrics text (routes.c). */
enum MHD_Result lk_route_metrics(struct lk_req *r);

int64_t lk_now(void);

#endif
