/* SPDX-License-Identifier: MIT */
/*
 * The verifier's network side: discovery, JWKS fetches and the revocation feed.
 *
 * lk_remote_start works out the sources from the configuration:
 * - keys: jwks_file (read once, here), or jwks_url, or the jwks_uri of the issuer's
 *   discovery document (ISSUER/.well-known/openid-configuration, whose "issuer" must equal
 *   the configured issuer exactly, RFC 8414 §3.3);
 * - the feed: with an issuer, client_id and client_secret, a snapshot from
 *   ISSUER/revocations, then ISSUER/revocations/stream (SSE) resumed with Last-Event-ID.
 * The first JWKS and the first snapshot are fetched before it returns, within
 * start_timeout_ms (< 0: not waited for, the thread fetches them). Without a network source
 * (a file, or nothing) there is no thread and v->remote stays NULL.
 *
 * One thread per verifier then drives every transfer through one curl multi handle, so a
 * JWKS fetch and the stream run side by side, and lk_remote_stop (a flag and
 * curl_multi_wakeup) ends it at once, mid-stream or mid-fetch: the thread never waits more
 * than a second in curl_multi_poll.
 *
 * Keys: refetched every jwks_refresh seconds, and when lk_remote_want_keys wakes the thread
 * (verifier.c applies kid_cooldown), never twice within a second; a failed fetch keeps the
 * old set and is retried with backoff (1 s doubling, at most 60 s or jwks_refresh).
 *
 * Feed: every event, ping (any comment line) or snapshot is contact (lk_vf_contact); the
 * verifier fails closed once contact is older than max_stale. A stream with no byte for
 * 35 s (two of the pings SPEC promises every 15 s, and slack; max_stale when smaller, at
 * least 2 s) is taken as a dead peer and reconnected. Reconnection: 100 ms doubling to 5 s,
 * drawn in [d/2, d] (jitter), reset by the first contact on a new connection. A 401 or 403
 * is a configuration error: counted and kept in lk_remote_status, retried every ~30 s.
 * Resumption: from the last cursor applied (Last-Event-ID), since events only ever add to
 * the denylist and the server replays what came after the cursor. A new snapshot is taken
 * when the stream answers 409, 410 or 412 (the cursor is unknown to the server: pruned, or
 * a different store), or when the feed has been down for more than 300 s, so a long outage
 * never depends on the server keeping a long replay log.
 *
 * Secrets: client_secret goes only into libcurl's Basic credentials (fetch.c), never into a
 * URL, a detail or lk_remote_status.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <jansson.h>
#include <sodium.h>

#include "util/err.h"
#include "verify/feed.h"
#include "verify/fetch.h"
#include "verify/remote.h"
#include "verify/sse.h"
#include "verify/verifier_int.h"

#define JWKS_MIN_GAP_MS 1000
#define JWKS_RETRY_BASE_MS 1000
#define JWKS_RETRY_MAX_MS 60000
#define FEED_BASE_MS 100
#define FEED_MAX_MS 5000
#define AUTH_RETRY_MS 30000
#define IDLE_MS 35000
#define IDLE_MIN_MS 2000
#define RESNAPSHOT_AFTER_S 300
#define POLL_MAX_MS 1000
#define DISCOVERY_CAP (64u * 1024)
#define SNAPSHOT_CAP (16u * 1024 * 1024)
#define ERROR_BODY_CAP (64u * 1024)

enum job_kind { J_DISCO, J_JWKS, J_SNAP, J_STREAM };

struct job {
	CURL *easy;
	struct curl_slist *hdr;
	enum job_kind kind;
	bool active;
	char *buf;            /* one-shot transfers: the body */
	size_t len, cap;
	bool over;
	bool stream_ok;       /* the stream: a 200 text/event-stream answer began */
	bool had_contact;     /* the stream: an event or ping on this connection */
	int64_t last_byte_ms;
	struct lk_remote *r;
};

struct lk_remote {
	struct lk_verifier *v;
	pthread_t thread;
	bool started;
	atomic_int stop, want_keys;
	CURLM *multi;
	char *disco_url, *jwks_url, *snap_url, *stream_url;
	bool fetch_keys, subscribe;

	/* the thread's own */
	int64_t last_jwks_ms, next_jwks_ms;
	unsigned jwks_failures;
	int64_t next_connect_ms;
	unsigned feed_failures;
	bool need_snapshot;
	bool lost_event;         /* an event could not be applied: cut, snapshot again */
	bool have_doc;           /* doc_hash holds the JWKS document now published */
	unsigned char doc_hash[32];
	int64_t down_since;   /* UNIX seconds; 0 while connected */
	int64_t resume;       /* last cursor applied */
	bool have_cursor;     /* a snapshot set resume (which may be 0: no event yet) */
	int64_t idle_ms;
	uint64_t seed;
	struct job keys, feed; /* keys: discovery or JWKS; feed: snapshot or stream */
	struct lk_sse sse;
	uint64_t sse_drops;   /* the parser's drops already counted in st.bad_events */

	pthread_mutex_t mu;   /* guards st */
	struct lk_remote_status st;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t unix_now(void)
{
	return (int64_t)time(NULL);
}

static void note_error(struct lk_remote *r, uint64_t *counter, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note_error(struct lk_remote *r, uint64_t *counter, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&r->mu);
	if (counter)
		(*counter)++;
	va_start(ap, fmt);
	vsnprintf(r->st.last_error, sizeof r->st.last_error, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&r->mu);
}

static void count(struct lk_remote *r, uint64_t *counter)
{
	pthread_mutex_lock(&r->mu);
	(*counter)++;
	pthread_mutex_unlock(&r->mu);
}

/* "cannot fetch URL: reason" -> "stage: reason (URL)", so the reason survives the
 * 120-byte detail even for a long URL. */
static void fetch_detail(char *out, size_t size, const char *stage, const char *url,
			 const char *err)
{
	size_t ul = strlen(url);
	if (strncmp(err, "cannot fetch ", 13) == 0 && strncmp(err + 13, url, ul) == 0 &&
	    strncmp(err + 13 + ul, ": ", 2) == 0)
		snprintf(out, size, "%s: %s (%s)", stage, err + 15 + ul, url);
	else
		snprintf(out, size, "%s: %s", stage, err);
}

/* ---------------------------------------------------------------- applying results */

static void raise_cursor(struct lk_remote *r, int64_t c)
{
	int64_t cur = atomic_load(&r->v->cursor);
	if (c > r->resume)
		r->resume = c;
	while (c > cur && !atomic_compare_exchange_weak(&r->v->cursor, &cur, c))
		;
}

static enum lk_err apply_jwks(struct lk_remote *r, const char *doc, size_t len, char *detail,
			      size_t size, const char *what)
{
	struct lk_errinfo ei = {0};
	lk_jwks *set = NULL;
	unsigned char h[crypto_generichash_BYTES];
	/* The same document again (a scheduled fetch, or one an unknown kid asked for) keeps
	 * the published set: new keys would end every cached verification, and anyone can
	 * send a token with an unknown kid. */
	crypto_generichash(h, sizeof h, (const unsigned char *)doc, len, NULL, 0);
	if (r->have_doc && sodium_memcmp(h, r->doc_hash, sizeof h) == 0) {
		atomic_fetch_add(&r->v->jwks_fetches, 1);
		return LK_OK;
	}
	enum lk_err err = lk_jwks_parse(doc, len, &set, &ei);
	if (err) {
		snprintf(detail, size, "%s: %s: %.80s", what, lk_err_str(err), ei.detail);
		return err;
	}
	err = lk_vf_keys(r->v, set);
	if (!err) {
		memcpy(r->doc_hash, h, sizeof h);
		r->have_doc = true;
	}
	lk_jwks_free(set);
	if (err)
		snprintf(detail, size, "%s: cannot publish the keys: %s", what, lk_err_str(err));
	return err;
}

/* An event the denylist cannot take for want of memory must not be passed over by a later
 * cursor: the stream is cut (stream_write sees lost_event) and a new snapshot taken. */
static void apply_event(struct lk_remote *r, const struct lk_feed_event *fe)
{
	enum lk_err err = lk_vf_event(r->v, &fe->ev);
	if (err == LK_EINVAL) { /* not an event of ours: skipped */
		count(r, &r->st.bad_events);
		return;
	}
	if (err) {
		count(r, &r->st.feed_errors);
		r->need_snapshot = true;
		r->lost_event = true;
		return;
	}
	if (!r->lost_event)
		raise_cursor(r, fe->ev.cursor);
}

/* {"cursor":N,"events":[...]}: a malformed document fails; a malformed event in it is
 * skipped and counted. */
static enum lk_err apply_snapshot(struct lk_remote *r, const char *doc, size_t len,
				  char *detail, size_t size)
{
	json_error_t je;
	json_t *o = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &je), *evs, *e;
	json_t *cur;
	size_t i;

	cur = json_object_get(o, "cursor");
	evs = json_object_get(o, "events");
	if (!json_is_object(o) || !json_is_integer(cur) || json_integer_value(cur) < 0 ||
	    !json_is_array(evs)) {
		snprintf(detail, size, "snapshot: not {\"cursor\":N,\"events\":[...]}");
		json_decref(o);
		return LK_EIO;
	}
	json_array_foreach(evs, i, e) {
		struct lk_feed_event fe;
		if (lk_feed_event_from(e, &fe) != LK_OK) {
			count(r, &r->st.bad_events);
			continue;
		}
		apply_event(r, &fe);
	}
	if (r->lost_event) { /* an event could not be applied: no contact, snapshot again */
		r->lost_event = false;
		json_decref(o);
		snprintf(detail, size, "snapshot: an event could not be applied (out of memory)");
		return LK_ENOMEM;
	}
	/* The snapshot's cursor is where the stream resumes, lower than before too: a store
	 * that was emptied numbers its events again from below what we had. */
	r->resume = (int64_t)json_integer_value(cur);
	atomic_store(&r->v->cursor, r->resume);
	r->have_cursor = true;
	json_decref(o);
	lk_vf_contact(r->v, unix_now());
	return LK_OK;
}

/* ---------------------------------------------------------------- synchronous start */

static enum lk_err read_file(const char *path, char **out, size_t *len, char *detail,
			     size_t size)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	*out = NULL;
	if (!f) {
		snprintf(detail, size, "jwks_file: cannot open: %s", strerror(errno));
		return LK_EIO;
	}
	if (!(buf = malloc(LK_MAX_JWKS + 2))) {
		fclose(f);
		snprintf(detail, size, "out of memory");
		return LK_ENOMEM;
	}
	n = fread(buf, 1, LK_MAX_JWKS + 1, f);
	if (ferror(f)) {
		snprintf(detail, size, "jwks_file: cannot read: %s", strerror(errno));
		fclose(f);
		free(buf);
		return LK_EIO;
	}
	fclose(f);
	if (n > LK_MAX_JWKS) {
		snprintf(detail, size, "jwks_file: over the %d-byte limit", LK_MAX_JWKS);
		free(buf);
		return LK_ETOO_LARGE;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return LK_OK;
}

/* One GET before the deadline; LK_EIO with "stage: reason (URL)" in detail. */
static enum lk_err sync_get(struct lk_remote *r, const char *stage, const char *url, size_t cap,
			    bool creds, int64_t deadline, char **body, size_t *len, long *status,
			    char *detail, size_t size)
{
	char err[LK_FETCH_ERRLEN];
	int64_t left = deadline - mono_ms();
	struct lk_fetch_req req = {.url = url, .cap = cap, .ca_file = r->v->ca_file,
				   .accept = "application/json"};
	enum lk_err e;

	*body = NULL;
	if (left <= 0) {
		snprintf(detail, size, "%s: start_timeout_ms passed before it began (%s)", stage, url);
		return LK_EIO;
	}
	req.timeout_ms = (long)left;
	req.connect_timeout_ms = left < 5000 ? (long)left : 5000;
	if (creds) {
		req.user = r->v->client_id;
		req.pass = r->v->client_secret;
	}
	e = lk_fetch(&req, body, len, status, err);
	if (e == LK_OK)
		return LK_OK;
	free(*body);
	*body = NULL;
	if (e == LK_ETOO_LARGE)
		snprintf(detail, size, "%s: the answer is over %zu bytes (%s)", stage, cap, url);
	else
		fetch_detail(detail, size, stage, url, err);
	return LK_EIO;
}

static enum lk_err start_sync(struct lk_remote *r, int64_t deadline, char *detail, size_t size)
{
	char *body = NULL;
	size_t len;
	long status;
	enum lk_err e;

	if (r->fetch_keys && !r->jwks_url) {
		e = sync_get(r, "discovery", r->disco_url, DISCOVERY_CAP, false, deadline, &body,
			     &len, &status, detail, size);
		if (e == LK_OK) {
			e = lk_feed_discovery(body, len, r->v->issuer, &r->jwks_url, detail, size);
			free(body);
		}
		if (e)
			return e == LK_ENOMEM ? e : LK_EIO;
	}
	if (r->fetch_keys) {
		e = sync_get(r, "jwks", r->jwks_url, LK_MAX_JWKS, false, deadline, &body, &len,
			     &status, detail, size);
		if (e == LK_OK) {
			e = apply_jwks(r, body, len, detail, size, "jwks");
			free(body);
		}
		if (e)
			return LK_EIO;
		r->last_jwks_ms = mono_ms();
		r->next_jwks_ms = r->last_jwks_ms + r->v->jwks_refresh * 1000;
	}
	if (r->subscribe) {
		e = sync_get(r, "revocations", r->snap_url, SNAPSHOT_CAP, true, deadline, &body, &len,
			     &status, detail, size);
		if (e == LK_OK) {
			e = apply_snapshot(r, body, len, detail, size);
			free(body);
		} else if (status == 401 || status == 403) {
			snprintf(detail, size, "revocations: HTTP %ld: the server refused client_id "
				 "and client_secret (%s)", status, r->snap_url);
		}
		if (e)
			return LK_EIO;
		r->need_snapshot = false;
	}
	return LK_OK;
}

/* ---------------------------------------------------------------- transfers */

static size_t body_write(char *p, size_t sz, size_t n, void *ud)
{
	struct job *j = ud;
	size_t k = sz * n;
	if (j->len + k > j->cap) {
		j->over = true;
		return 0;
	}
	memcpy(j->buf + j->len, p, k);
	j->len += k;
	return k;
}

static void on_sse_event(void *ud, const struct lk_sse_event *ev)
{
	struct lk_remote *r = ud;
	struct lk_feed_event fe;
	if (lk_feed_event_parse(ev->data, ev->len, &fe) != LK_OK) {
		count(r, &r->st.bad_events);
		return;
	}
	apply_event(r, &fe);
	if (r->lost_event)
		return;
	lk_vf_contact(r->v, unix_now());
	r->feed.had_contact = true;
	r->feed_failures = 0;
}

static void on_sse_comment(void *ud, const char *text, size_t len)
{
	struct lk_remote *r = ud;
	lk_vf_contact(r->v, unix_now());
	r->feed.had_contact = true;
	r->feed_failures = 0;
}

static size_t stream_header(char *p, size_t sz, size_t n, void *ud)
{
	struct job *j = ud;
	size_t k = sz * n;
	long st = 0;
	char *ct = NULL;

	j->last_byte_ms = mono_ms();
	if (!(k == 2 && p[0] == '\r' && p[1] == '\n') && !(k == 1 && p[0] == '\n'))
		return k;
	/* the end of one response's headers (a redirect's, or the final one) */
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &st);
	curl_easy_getinfo(j->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (st == 200 && ct && strncasecmp(ct, "text/event-stream", 17) == 0 && !j->stream_ok) {
		struct lk_remote *r = j->r;
		j->stream_ok = true;
		lk_sse_reset(&r->sse);
		atomic_store(&r->v->connected, 1);
		atomic_fetch_add(&r->v->reconnects, 1);
		r->down_since = 0;
	}
	return k;
}

static size_t stream_write(char *p, size_t sz, size_t n, void *ud)
{
	struct job *j = ud;
	struct lk_sse_cb cb = {on_sse_event, on_sse_comment, j->r};
	size_t k = sz * n;

	j->last_byte_ms = mono_ms();
	if (!j->stream_ok) { /* an error body (or a redirect's): read and ignored, bounded */
		j->len += k;
		return j->len <= ERROR_BODY_CAP ? k : 0;
	}
	struct lk_remote *r = j->r;
	lk_sse_feed(&r->sse, p, k, &cb);
	if (r->lost_event) { /* cut the stream; the next connection starts from a snapshot */
		r->lost_event = false;
		return 0;
	}
	if (r->sse.oversize + r->sse.bad_id != r->sse_drops) {
		pthread_mutex_lock(&r->mu);
		r->st.bad_events += r->sse.oversize + r->sse.bad_id - r->sse_drops;
		pthread_mutex_unlock(&r->mu);
		r->sse_drops = r->sse.oversize + r->sse.bad_id;
	}
	return k;
}

static void end_job(struct lk_remote *r, struct job *j)
{
	if (!j->active)
		return;
	curl_multi_remove_handle(r->multi, j->easy);
	curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->hdr);
	free(j->buf);
	j->easy = NULL;
	j->hdr = NULL;
	j->buf = NULL;
	j->active = false;
}

static bool start_job(struct lk_remote *r, struct job *j, enum job_kind kind)
{
	const char *url = kind == J_DISCO ? r->disco_url : kind == J_JWKS ? r->jwks_url
			  : kind == J_SNAP ? r->snap_url : r->stream_url;
	bool creds = kind == J_SNAP || kind == J_STREAM;
	struct lk_fetch_req req = {.url = url, .ca_file = r->v->ca_file,
				   .timeout_ms = kind == J_STREAM ? -1 : 15000,
				   .user = creds ? r->v->client_id : NULL,
				   .pass = creds ? r->v->client_secret : NULL};
	char h[64];

	memset(j, 0, sizeof *j);
	j->r = r;
	j->kind = kind;
	j->cap = kind == J_DISCO ? DISCOVERY_CAP : kind == J_JWKS ? LK_MAX_JWKS : SNAPSHOT_CAP;
	j->last_byte_ms = mono_ms();
	if (!(j->easy = lk_fetch_easy(&req)))
		return false;
	if (kind == J_STREAM) {
		j->hdr = curl_slist_append(NULL, "Accept: text/event-stream");
		j->hdr = j->hdr ? curl_slist_append(j->hdr, "Cache-Control: no-cache") : NULL;
		/* after a snapshot always, "0" included: without Last-Event-ID a server may
		 * send only what comes next, and what came between would be lost */
		if (j->hdr && (r->have_cursor || r->resume > 0)) {
			snprintf(h, sizeof h, "Last-Event-ID: %lld", (long long)r->resume);
			j->hdr = curl_slist_append(j->hdr, h);
		}
		curl_easy_setopt(j->easy, CURLOPT_HEADERFUNCTION, stream_header);
		curl_easy_setopt(j->easy, CURLOPT_HEADERDATA, j);
		curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, stream_write);
		curl_easy_setopt(j->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	} else {
		j->hdr = curl_slist_append(NULL, "Accept: application/json");
		j->buf = malloc(j->cap + 1);
		curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, body_write);
	}
	if (!j->hdr || (kind != J_STREAM && !j->buf)) {
		curl_easy_cleanup(j->easy);
		curl_slist_free_all(j->hdr);
		free(j->buf);
		memset(j, 0, sizeof *j);
		return false;
	}
	curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->hdr);
	curl_easy_setopt(j->easy, CURLOPT_PRIVATE, (void *)j);
	if (curl_multi_add_handle(r->multi, j->easy) != CURLM_OK) {
		curl_easy_cleanup(j->easy);
		curl_slist_free_all(j->hdr);
		free(j->buf);
		memset(j, 0, sizeof *j);
		return false;
	}
	j->active = true;
	return true;
}

static void keys_failed(struct lk_remote *r, int64_t now)
{
	int64_t cap = r->v->jwks_refresh * 1000;
	int64_t d = lk_feed_backoff(++r->jwks_failures, JWKS_RETRY_BASE_MS,
				    cap < JWKS_RETRY_MAX_MS ? cap : JWKS_RETRY_MAX_MS, &r->seed);
	r->next_jwks_ms = now + d;
}

static void feed_down(struct lk_remote *r, int64_t now, int64_t delay_ms)
{
	if (atomic_load(&r->v->connected))
		atomic_store(&r->v->connected, 0);
	if (!r->down_since)
		r->down_since = unix_now();
	r->next_connect_ms = now + delay_ms;
}

static int64_t feed_backoff(struct lk_remote *r)
{
	return lk_feed_backoff(++r->feed_failures, FEED_BASE_MS, FEED_MAX_MS, &r->seed);
}

/* A transfer ended (done, or failed). */
static void finish(struct lk_remote *r, struct job *j, CURLcode rc)
{
	long st = 0;
	char err[LK_FETCH_ERRLEN], detail[120];
	const char *url = j->kind == J_DISCO ? r->disco_url : j->kind == J_JWKS ? r->jwks_url
			  : j->kind == J_SNAP ? r->snap_url : r->stream_url;
	int64_t now = mono_ms();
	bool ok;

	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &st);
	ok = rc == CURLE_OK && st == 200 && !j->over;
	if (!ok && j->kind != J_STREAM) {
		if (j->over)
			snprintf(err, sizeof err, "cannot fetch %s: the answer is over %zu bytes", url,
				 j->cap);
		else
			lk_fetch_explain(j->easy, url, rc, st, err);
		fetch_detail(detail, sizeof detail, j->kind == J_DISCO ? "discovery"
			     : j->kind == J_JWKS ? "jwks" : "revocations", url, err);
	}
	switch (j->kind) {
	case J_DISCO:
	case J_JWKS:
		if (ok && j->kind == J_DISCO) {
			ok = lk_feed_discovery(j->buf, j->len, r->v->issuer, &r->jwks_url, detail,
					       sizeof detail) == LK_OK;
			if (ok)
				r->next_jwks_ms = now; /* the keys, right away */
		} else if (ok) {
			ok = apply_jwks(r, j->buf, j->len, detail, sizeof detail, "jwks") == LK_OK;
			if (ok) {
				r->jwks_failures = 0;
				r->next_jwks_ms = now + r->v->jwks_refresh * 1000;
			}
		}
		if (!ok) {
			note_error(r, &r->st.jwks_errors, "%s", detail);
			keys_failed(r, now);
		}
		break;
	case J_SNAP:
		if (ok && apply_snapshot(r, j->buf, j->len, detail, sizeof detail) == LK_OK) {
			r->need_snapshot = false;
			r->next_connect_ms = now; /* the stream, right away */
			if (r->down_since) /* current again: an outage counts from here */
				r->down_since = unix_now();
		} else if (st == 401 || st == 403) {
			note_error(r, &r->st.auth_failures, "revocations: HTTP %ld: the server refused "
				   "client_id and client_secret", st);
			feed_down(r, now, lk_feed_backoff(1, AUTH_RETRY_MS, AUTH_RETRY_MS, &r->seed));
		} else {
			note_error(r, &r->st.feed_errors, "%s", detail);
			feed_down(r, now, feed_backoff(r));
		}
		break;
	case J_STREAM:
		if (j->stream_ok) { /* it was connected: the server or the network ended it */
			note_error(r, NULL, "revocations/stream: disconnected: %s",
				   rc == CURLE_OK ? "the server closed it" : curl_easy_strerror(rc));
			if (j->had_contact)
				r->feed_failures = 0;
			feed_down(r, now, feed_backoff(r));
		} else if (st == 401 || st == 403) {
			note_error(r, &r->st.auth_failures, "revocations/stream: HTTP %ld: the server "
				   "refused client_id and client_secret", st);
			feed_down(r, now, lk_feed_backoff(1, AUTH_RETRY_MS, AUTH_RETRY_MS, &r->seed));
		} else if (st == 409 || st == 410 || st == 412) {
			note_error(r, &r->st.feed_errors, "revocations/stream: HTTP %ld: cursor %lld "
				   "unknown, taking a new snapshot", st, (long long)r->resume);
			r->need_snapshot = true;
			feed_down(r, now, feed_backoff(r));
		} else {
			if (rc != CURLE_OK)
				lk_fetch_explain(j->easy, url, rc, st, err);
			else if (st == 200)
				snprintf(err, sizeof err, "cannot fetch %s: not text/event-stream", url);
			else
				snprintf(err, sizeof err, "cannot fetch %s: HTTP status %ld", url, st);
			fetch_detail(detail, sizeof detail, "revocations/stream", url, err);
			note_error(r, &r->st.feed_errors, "%s", detail);
			feed_down(r, now, feed_backoff(r));
		}
		break;
	}
	end_job(r, j);
}

static void maybe_start(struct lk_remote *r, int64_t now)
{
	if (r->fetch_keys && !r->keys.active) {
		bool due = now >= r->next_jwks_ms;
		if (atomic_load(&r->want_keys) && r->jwks_url)
			due = true;
		if (due && now - r->last_jwks_ms >= JWKS_MIN_GAP_MS) {
			atomic_store(&r->want_keys, 0);
			r->last_jwks_ms = now;
			if (!start_job(r, &r->keys, r->jwks_url ? J_JWKS : J_DISCO))
				keys_failed(r, now);
		}
	}
	if (r->subscribe && !r->feed.active && now >= r->next_connect_ms) {
		if (r->down_since && unix_now() - r->down_since > RESNAPSHOT_AFTER_S)
			r->need_snapshot = true;
		if (!start_job(r, &r->feed, r->need_snapshot ? J_SNAP : J_STREAM))
			feed_down(r, now, feed_backoff(r));
	}
}

static int poll_timeout(struct lk_remote *r, int64_t now)
{
	int64_t t = POLL_MAX_MS;
	if (r->fetch_keys && !r->keys.active) {
		int64_t at = r->next_jwks_ms;
		if (atomic_load(&r->want_keys) && r->jwks_url)
			at = r->last_jwks_ms + JWKS_MIN_GAP_MS;
		if (at < r->last_jwks_ms + JWKS_MIN_GAP_MS)
			at = r->last_jwks_ms + JWKS_MIN_GAP_MS;
		if (at - now < t)
			t = at - now;
	}
	if (r->subscribe && !r->feed.active && r->next_connect_ms - now < t)
		t = r->next_connect_ms - now;
	if (r->feed.active && r->feed.kind == J_STREAM &&
	    r->feed.last_byte_ms + r->idle_ms - now < t)
		t = r->feed.last_byte_ms + r->idle_ms - now;
	return t < 0 ? 0 : (int)t;
}

static void *run(void *arg)
{
	struct lk_remote *r = arg;
	int running;

	while (!atomic_load(&r->stop)) {
		int64_t now = mono_ms();
		CURLMsg *m;
		int left;

		maybe_start(r, now);
		curl_multi_perform(r->multi, &running);
		while ((m = curl_multi_info_read(r->multi, &left))) {
			struct job *j = NULL;
			CURLcode rc = m->data.result;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
			if (j)
				finish(r, j, rc);
		}
		now = mono_ms();
		if (r->feed.active && r->feed.kind == J_STREAM &&
		    now - r->feed.last_byte_ms > r->idle_ms) {
			/* a dead peer, or a server that stopped pinging */
			note_error(r, &r->st.feed_errors, "revocations/stream: no byte for %lld ms, "
				   "reconnecting", (long long)r->idle_ms);
			end_job(r, &r->feed);
			feed_down(r, now, feed_backoff(r));
		}
		if (atomic_load(&r->stop))
			break;
		curl_multi_poll(r->multi, NULL, 0, poll_timeout(r, now), NULL);
	}
	end_job(r, &r->keys);
	end_job(r, &r->feed);
	atomic_store(&r->v->connected, 0);
	return NULL;
}

/* ---------------------------------------------------------------- the interface */

static void remote_free(struct lk_remote *r)
{
	if (!r)
		return;
	end_job(r, &r->keys);
	end_job(r, &r->feed);
	if (r->multi)
		curl_multi_cleanup(r->multi);
	free(r->disco_url);
	free(r->jwks_url);
	free(r->snap_url);
	free(r->stream_url);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

enum lk_err lk_remote_start(struct lk_verifier *v, struct lk_errinfo *ei)
{
	struct lk_remote *r;
	char detail[120];
	enum lk_err e;
	int ms = v->start_timeout_ms ? v->start_timeout_ms : LK_VF_START_TIMEOUT_MS;
	bool net_keys = v->jwks_url || (v->issuer && !v->jwks_file);
	bool sub = v->issuer && v->client_id && v->client_secret;

	v->remote = NULL;
	if (v->jwks_file) {
		char *doc;
		size_t len;
		struct lk_remote tmp = {.v = v};
		if ((e = read_file(v->jwks_file, &doc, &len, detail, sizeof detail)) ||
		    (e = apply_jwks(&tmp, doc, len, detail, sizeof detail, "jwks_file"))) {
			if (e != LK_ENOMEM && e != LK_ETOO_LARGE)
				e = LK_EIO;
			free(doc);
			return lk_errf(ei, e, "%s", detail);
		}
		free(doc);
	}
	if (!net_keys && !sub)
		return LK_OK;
	if (lk_fetch_global_init() != 0)
		return lk_errf(ei, LK_EIO, "libcurl cannot initialise");
	if (!(r = calloc(1, sizeof *r)))
		return lk_errf(ei, LK_ENOMEM, "out of memory");
	pthread_mutex_init(&r->mu, NULL);
	r->v = v;
	r->fetch_keys = net_keys;
	r->subscribe = sub;
	r->need_snapshot = sub;
	r->seed = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)r << 16) ^ (uint64_t)mono_ms();
	r->idle_ms = IDLE_MS;
	if (v->max_stale > 0 && v->max_stale * 1000 < IDLE_MS)
		r->idle_ms = v->max_stale * 1000 < IDLE_MIN_MS ? IDLE_MIN_MS : v->max_stale * 1000;
	r->last_jwks_ms = mono_ms() - JWKS_MIN_GAP_MS;
	lk_sse_init(&r->sse);

	if (v->issuer && !(r->disco_url = lk_feed_url(v->issuer, "/.well-known/openid-configuration"))) {
		remote_free(r);
		return lk_errf(ei, LK_EINVAL, "issuer: not an http(s) URL with a host, without "
			       "query or fragment");
	}
	if (v->jwks_url) {
		int ok = strncmp(v->jwks_url, "https://", 8) == 0 || strncmp(v->jwks_url, "http://", 7) == 0;
		if (!ok || !(r->jwks_url = strdup(v->jwks_url))) {
			remote_free(r);
			return ok ? lk_errf(ei, LK_ENOMEM, "out of memory")
				  : lk_errf(ei, LK_EINVAL, "jwks_url: not an http(s) URL");
		}
	}
	if (sub && (!(r->snap_url = lk_feed_url(v->issuer, "/revocations")) ||
		    !(r->stream_url = lk_feed_url(v->issuer, "/revocations/stream")))) {
		remote_free(r);
		return lk_errf(ei, LK_ENOMEM, "out of memory");
	}
	if (ms >= 0 && (e = start_sync(r, mono_ms() + ms, detail, sizeof detail))) {
		remote_free(r);
		return lk_errf(ei, e, "%s", detail);
	}
	if (!(r->multi = curl_multi_init())) {
		remote_free(r);
		return lk_errf(ei, LK_ENOMEM, "out of memory");
	}
	r->next_connect_ms = mono_ms();

	/* The thread takes no signal of the application's. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int prc = pthread_create(&r->thread, NULL, run, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (prc != 0) {
		remote_free(r);
		return lk_errf(ei, LK_EIO, "cannot start the background thread: %s", strerror(prc));
	}
	r->started = true;
	v->remote = r;
	return LK_OK;
}

void lk_remote_stop(struct lk_verifier *v)
{
	struct lk_remote *r = v ? v->remote : NULL;
	if (!r)
		return;
	atomic_store(&r->stop, 1);
	if (r->started) {
		curl_multi_wakeup(r->multi);
		pthread_join(r->thread, NULL);
	}
	remote_free(r);
	v->remote = NULL;
}

void lk_remote_want_keys(struct lk_verifier *v)
{
	struct lk_remote *r = v->remote;
	if (!r || !r->fetch_keys)
		return;
	atomic_store(&r->want_keys, 1);
	curl_multi_wakeup(r->multi);
}

void lk_remote_status(struct lk_verifier *v, struct lk_remote_status *out)
{
	struct lk_remote *r = v ? v->remote : NULL;
	memset(out, 0, sizeof *out);
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	*out = r->st;
	pthread_mutex_unlock(&r->mu);
}
