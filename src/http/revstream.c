/* SPDX-License-Identifier: MIT */
/*
 * The revocation feed over HTTP (SPEC "Revocation events"): GET /revocations, a snapshot,
 * and GET /revocations/stream, the same as Server-Sent Events. Both take HTTP Basic client
 * authentication as introspection does.
 *
 * A stream holds no thread. Its response is a content-reader callback: it hands out what
 * the auth core's subscription has pending (events, or a `: ping` when idle); when nothing
 * is pending it suspends the connection and arms the subscription, whose wake callback (from
 * the revocation hub's thread) resumes it. Suspending comes before arming, so a wake can
 * never come before the suspension it ends (the rule of the sign-in code in routes.c);
 * `suspended` under the stream's mutex makes a resume happen at most once per suspension.
 * The connection timeout does not apply to streams (the pings keep them alive, and a write
 * to a client that went away fails); at shutdown every stream ends at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

#define BATCH 32
#define MAX_STREAMS 1024        /* open streams per server */
#define MAX_STREAMS_CLIENT 32   /* open streams per client */

struct lk_sse {
	struct lk_server *srv;
	struct MHD_Connection *c;
	struct lk_revstream *rs;
	pthread_mutex_t mu;
	bool suspended;
	bool broken;         /* an event could not be formatted: end after what is complete */
	char client[LK_CLIENT_ID_LEN + 1];
	char *buf;           /* formatted output not yet handed to MHD */
	size_t len, off, cap;
	struct lk_sse *prev, *next; /* srv->streams, under srv->streams_mu */
};

/* ---------------------------------------------------------------- shared */

/* 401 with the Basic challenge and invalid_client unless the client authenticated. */
static bool client_ok(struct lk_req *r, enum MHD_Result *mr)
{
	int ca = lk_req_client_auth(r);
	if (ca == 1)
		return true;
	if (ca == -2)
		*mr = lk_reply_err(r, LK_ESTORE);
	else
		*mr = lk_reply_error(r, 401, "invalid_client",
				     ca == 0 ? "client authentication is required"
					     : "client authentication failed");
	return false;
}

/* A cursor: 1 to 18 decimal digits (0 too); false for anything else. */
static bool parse_cursor(const char *s, int64_t *out)
{
	int64_t v = 0;
	size_t n = 0;
	if (!s || !*s)
		return false;
	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 18)
			return false;
		v = v * 10 + (s[n] - '0');
	}
	*out = v;
	return true;
}

static json_t *event_json(const struct lk_revevent *e)
{
	json_t *o = json_pack("{sIsssssI}", "cursor", (json_int_t)e->cursor, "type", e->type,
			      "value", e->value, "expires", (json_int_t)e->expires);
	if (o && !strcmp(e->type, "sub"))
		json_object_set_new(o, "before", json_integer(e->before));
	return o;
}

/* ---------------------------------------------------------------- GET /revocations */

enum MHD_Result lk_route_revocations(struct lk_req *r)
{
	enum MHD_Result mr;
	struct lk_revevent *ev = NULL;
	size_t n = 0;
	int64_t after = 0, cursor = 0;

	if (!client_ok(r, &mr))
		return mr;
	const char *q = MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, "after");
	if (q && !parse_cursor(q, &after))
		return lk_reply_error(r, 400, "invalid_request",
				      "after must be a cursor: decimal digits");
	enum lk_err err = lk_auth_revocations(r->srv->auth, after, &ev, &n, &cursor);
	if (err)
		return lk_reply_err(r, err);
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, event_json(&ev[i]));
	free(ev);
	if (!arr)
		return lk_reply_error(r, 500, "server_error", "out of memory");
	return lk_reply_json(r, 200, json_pack("{sIso}", "cursor", (json_int_t)cursor, "events", arr),
			     NULL);
}

/* ---------------------------------------------------------------- the stream */

static bool put(struct lk_sse *s, const char *p, size_t n)
{
	if (s->len + n > s->cap) {
		size_t cap = (s->len + n) * 2;
		char *b = realloc(s->buf, cap);
		if (!b)
			return false;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return true;
}

/* Format what the subscription has pending into s->buf, whole events only. An event that
 * cannot be formatted (out of memory) has already left the subscription: rather than skip
 * it, the stream ends after the last complete event, and the client resumes from there
 * with Last-Event-ID. */
static void fill(struct lk_sse *s)
{
	struct lk_revevent ev[BATCH];
	bool ping = false;
	char head[40];

	s->len = s->off = 0;
	size_t n = lk_auth_revstream_next(s->rs, ev, BATCH, &ping);
	for (size_t i = 0; i < n && !s->broken; i++) {
		size_t mark = s->len;
		json_t *o = event_json(&ev[i]);
		char *j = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		int k = snprintf(head, sizeof head, "id: %" PRId64 "\ndata: ", ev[i].cursor);
		if (!j || !put(s, head, (size_t)k) || !put(s, j, strlen(j)) || !put(s, "\n\n", 2)) {
			s->len = mark;
			s->broken = true;
		}
		free(j);
	}
	if (!n && ping && !put(s, ": ping\n\n", 8))
		s->broken = true;
}

/* From the hub's thread: resume the connection if it waits. */
static void sse_wake(void *ud)
{
	struct lk_sse *s = ud;
	pthread_mutex_lock(&s->mu);
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->c);
	}
	pthread_mutex_unlock(&s->mu);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct lk_sse *s = cls;
	(void)pos;

	if (s->off >= s->len) {
		if (atomic_load(&s->srv->stopping))
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (s->broken)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		fill(s);
	}
	if (s->off < s->len) {
		size_t n = s->len - s->off < max ? s->len - s->off : max;
		memcpy(out, s->buf + s->off, n);
		s->off += n;
		return (ssize_t)n;
	}
	/* Nothing pending: suspend first, then arm; a wake resumes. */
	pthread_mutex_lock(&s->mu);
	if (atomic_load(&s->srv->stopping)) {
		pthread_mutex_unlock(&s->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	s->suspended = true;
	MHD_suspend_connection(s->c);
	pthread_mutex_unlock(&s->mu);
	if (!lk_auth_revstream_arm(s->rs))
		sse_wake(s); /* something came in meanwhile: on at once */
	return 0;
}

static void sse_free(void *cls)
{
	struct lk_sse *s = cls;
	struct lk_server *srv = s->srv;

	pthread_mutex_lock(&srv->streams_mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&srv->streams_mu);
	lk_auth_revstream_close(s->rs); /* no wake after this */
	atomic_fetch_sub(&srv->nstreams, 1);
	pthread_mutex_destroy(&s->mu);
	free(s->buf);
	free(s);
}

void lk_streams_end(struct lk_server *srv)
{
	pthread_mutex_lock(&srv->streams_mu);
	for (struct lk_sse *s = srv->streams; s; s = s->next)
		sse_wake(s); /* stopping is set: the reader ends the stream */
	pthread_mutex_unlock(&srv->streams_mu);
}

enum MHD_Result lk_route_revstream(struct lk_req *r)
{
	struct lk_server *srv = r->srv;
	enum MHD_Result mr;
	int64_t after = 0;

	if (!client_ok(r, &mr))
		return mr;
	const char *last = lk_req_header(r, "Last-Event-ID");
	const char *q = MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, "after");
	if (last && !parse_cursor(last, &after))
		return lk_reply_error(r, 400, "invalid_request",
				      "Last-Event-ID must be a cursor: decimal digits");
	if (!last && q && !parse_cursor(q, &after))
		return lk_reply_error(r, 400, "invalid_request",
				      "after must be a cursor: decimal digits");
	if (atomic_load(&srv->stopping))
		return lk_reply_error(r, 503, "shutting_down", "the server is stopping");

	/* Bounded: streams hold connections without a timeout of their own, so one client
	 * must not take them all (nor all clients together every connection of the server). */
	size_t all = 0, mine = 0;
	pthread_mutex_lock(&srv->streams_mu);
	for (struct lk_sse *o = srv->streams; o; o = o->next, all++)
		mine += strcmp(o->client, r->client.id) == 0;
	pthread_mutex_unlock(&srv->streams_mu);
	if (all >= MAX_STREAMS || mine >= MAX_STREAMS_CLIENT) {
		enum MHD_Result busy = lk_reply_error(r, 503, "too_many_streams",
			mine >= MAX_STREAMS_CLIENT ? "this client has too many revocation streams open"
						   : "too many revocation streams are open");
		return busy;
	}
	struct lk_sse *s = calloc(1, sizeof *s);
	if (!s)
		return lk_reply_error(r, 500, "server_error", "out of memory");
	snprintf(s->client, sizeof s->client, "%s", r->client.id);
	s->srv = srv;
	s->c = r->c;
	pthread_mutex_init(&s->mu, NULL);
	enum lk_err err = lk_auth_revstream_open(srv->auth, after, srv->cfg.revocation_ping,
						 sse_wake, s, &s->rs);
	if (err) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		return lk_reply_err(r, err);
	}
	atomic_fetch_add(&srv->nstreams, 1);
	pthread_mutex_lock(&srv->streams_mu);
	s->next = srv->streams;
	if (srv->streams)
		srv->streams->prev = s;
	srv->streams = s;
	pthread_mutex_unlock(&srv->streams_mu);

	struct MHD_Response *resp =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
	if (!resp) {
		sse_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* The stream outlives conn_timeout: its pings keep it active. A client that stops
	 * reading stops the pings' writes too, and is cut after three ping intervals. */
	MHD_set_connection_option(r->c, MHD_CONNECTION_OPTION_TIMEOUT,
				  (unsigned)(3 * srv->cfg.revocation_ping + 10));
	return lk_reply(r, 200, resp);
}
