/* SPDX-License-Identifier: MIT */
/*
 * test_remote.c: the verifier's network side (src/verify/remote.c, feed.c, fetch.c) against
 * a scripted HTTP server on loopback, run in this process.
 *
 * remote.c publishes into the verifier through lk_vf_keys, lk_vf_event and lk_vf_contact
 * (verifier.c). This file defines those three itself and records the calls, so the network
 * side is tested on its own: discovery and its exact issuer check, the JWKS, the snapshot,
 * the stream (events, pings, resume with Last-Event-ID, a new snapshot when the cursor is
 * unknown), credentials (HTTP Basic, form-urlencoded, never in a detail), a dead peer
 * noticed, backoff, and lk_remote_stop returning promptly mid-stream.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "verify/feed.h"
#include "verify/remote.h"
#include "verify/verifier_int.h"

/* ---------------------------------------------------------------- the verifier, recorded */

static pthread_mutex_t rec_mu = PTHREAD_MUTEX_INITIALIZER;
static int n_keys, n_events, n_contacts;
static struct { int64_t cursor; char type[4]; char value[256]; int64_t before, expires; } evs[64];

enum lk_err lk_vf_keys(struct lk_verifier *v, lk_jwks *set)
{
	pthread_mutex_lock(&rec_mu);
	n_keys++;
	pthread_mutex_unlock(&rec_mu);
	atomic_fetch_add(&v->jwks_fetches, 1);
	return lk_jwks_count(set) ? LK_OK : LK_EINVAL;
}

enum lk_err lk_vf_event(struct lk_verifier *v, const struct lk_revocation_event *ev)
{
	pthread_mutex_lock(&rec_mu);
	if (n_events < 64) {
		evs[n_events].cursor = ev->cursor;
		snprintf(evs[n_events].type, 4, "%s", ev->type);
		snprintf(evs[n_events].value, 256, "%s", ev->value);
		evs[n_events].before = ev->before;
		evs[n_events].expires = ev->expires;
	}
	n_events++;
	pthread_mutex_unlock(&rec_mu);
	atomic_store(&v->cursor, ev->cursor);
	return LK_OK;
}

void lk_vf_contact(struct lk_verifier *v, int64_t now)
{
	pthread_mutex_lock(&rec_mu);
	n_contacts++;
	pthread_mutex_unlock(&rec_mu);
	atomic_store(&v->last_contact, now);
}

static int get(int *p)
{
	pthread_mutex_lock(&rec_mu);
	int x = *p;
	pthread_mutex_unlock(&rec_mu);
	return x;
}

/* ---------------------------------------------------------------- the server */

enum { HANG, CLOSE, PING }; /* what a 200 stream does after its script */

static struct srv {
	int fd, port;
	pthread_t th;
	atomic_int stop, conns;
	pthread_mutex_t mu;
	/* script */
	char disco_issuer[128];
	int snap_status;
	const char *snap_body;
	int stream_status[8];
	const char *stream_body[8];
	int stream_after[8];
	const char *jwks;
	/* log */
	int n_disco, n_jwks, n_snap, n_stream;
	char auth[256];
	char last_id[8][32];
} S;

static char jwks_doc[4096];

static void sendall(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, int status, const char *ctype, const char *body)
{
	char h[256];
	int n = snprintf(h, sizeof h, "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", status, ctype, strlen(body));
	sendall(fd, h, (size_t)n);
	sendall(fd, body, strlen(body));
}

/* Wait up to ms for the peer to close or the server to stop; 1 when it is time to go. */
static int gone(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char b[256];
	if (atomic_load(&S.stop))
		return 1;
	if (poll(&p, 1, ms) > 0 && recv(fd, b, sizeof b, MSG_DONTWAIT) <= 0)
		return 1;
	return atomic_load(&S.stop);
}

static void *conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[8192] = "", path[256] = "", *h;
	size_t n = 0;

	while (n < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
		ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
		if (r <= 0)
			goto out;
		n += (size_t)r;
		req[n] = '\0';
	}
	sscanf(req, "GET %255s", path);
	pthread_mutex_lock(&S.mu);
	if ((h = strcasestr(req, "\r\nAuthorization: ")))
		sscanf(h + 17, "%255[^\r]", S.auth);
	if (!strcmp(path, "/.well-known/openid-configuration")) {
		char body[512];
		S.n_disco++;
		pthread_mutex_unlock(&S.mu);
		snprintf(body, sizeof body, "{\"issuer\":\"%s\",\"jwks_uri\":\"http://127.0.0.1:%d/jwks\"}",
			 S.disco_issuer, S.port);
		respond(fd, 200, "application/json", body);
	} else if (!strcmp(path, "/jwks")) {
		S.n_jwks++;
		pthread_mutex_unlock(&S.mu);
		respond(fd, 200, "application/json", S.jwks);
	} else if (!strcmp(path, "/revocations")) {
		S.n_snap++;
		int st = S.snap_status;
		pthread_mutex_unlock(&S.mu);
		respond(fd, st, "application/json", st == 200 ? S.snap_body : "{}");
	} else if (!strcmp(path, "/revocations/stream")) {
		int i = S.n_stream < 8 ? S.n_stream : 7;
		if (i > 0 && !S.stream_status[i])
			i = 0; /* past the script: as the first */
		for (int k = i; k > 0 && !S.stream_status[k]; k--)
			i = k - 1;
		S.last_id[S.n_stream < 8 ? S.n_stream : 7][0] = '\0';
		if ((h = strcasestr(req, "\r\nLast-Event-ID: ")))
			sscanf(h + 17, "%31[^\r]", S.last_id[S.n_stream < 8 ? S.n_stream : 7]);
		S.n_stream++;
		int st = S.stream_status[i], after = S.stream_after[i];
		const char *body = S.stream_body[i];
		pthread_mutex_unlock(&S.mu);
		if (st != 200) {
			respond(fd, st, "text/plain", "no");
			goto out;
		}
		const char *hd = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				 "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
		sendall(fd, hd, strlen(hd));
		sendall(fd, body, strlen(body));
		if (after == CLOSE)
			goto out;
		while (!gone(fd, 100))
			if (after == PING)
				sendall(fd, ": ping\n\n", 8);
	} else {
		pthread_mutex_unlock(&S.mu);
		respond(fd, 404, "text/plain", "");
	}
out:
	close(fd);
	atomic_fetch_sub(&S.conns, 1);
	return NULL;
}

static void *serve(void *arg)
{
	for (;;) {
		int c = accept(S.fd, NULL, NULL);
		pthread_t t;
		if (c < 0 || atomic_load(&S.stop)) {
			if (c >= 0)
				close(c);
			return NULL;
		}
		atomic_fetch_add(&S.conns, 1);
		pthread_create(&t, NULL, conn, (void *)(intptr_t)c);
		pthread_detach(t);
	}
}

static void srv_start(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	memset(&S, 0, sizeof S);
	pthread_mutex_init(&S.mu, NULL);
	S.fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(S.fd >= 0);
	assert_int_equal(bind(S.fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(S.fd, 16), 0);
	getsockname(S.fd, (struct sockaddr *)&a, &al);
	S.port = ntohs(a.sin_port);
	snprintf(S.disco_issuer, sizeof S.disco_issuer, "http://127.0.0.1:%d", S.port);
	S.jwks = jwks_doc;
	S.snap_status = 200;
	S.snap_body = "{\"cursor\":3,\"events\":[{\"cursor\":3,\"type\":\"jti\",\"value\":\"t-1\","
		      "\"expires\":4102444800},{\"cursor\":2,\"type\":\"bogus\",\"value\":\"x\","
		      "\"expires\":1}]}";
	S.stream_status[0] = 200;
	S.stream_body[0] = ": ping\n\n";
	S.stream_after[0] = HANG;
	pthread_mutex_lock(&rec_mu);
	n_keys = n_events = n_contacts = 0;
	pthread_mutex_unlock(&rec_mu);
	assert_int_equal(pthread_create(&S.th, NULL, serve, NULL), 0);
}

static void srv_stop(void)
{
	atomic_store(&S.stop, 1);
	shutdown(S.fd, SHUT_RDWR);
	pthread_join(S.th, NULL);
	close(S.fd);
	while (atomic_load(&S.conns) > 0)
		usleep(10000);
}

static int srv_get(int *p)
{
	pthread_mutex_lock(&S.mu);
	int x = *p;
	pthread_mutex_unlock(&S.mu);
	return x;
}

/* ---------------------------------------------------------------- helpers */

static char issuer[64];

static void vinit(struct lk_verifier *v, bool creds)
{
	memset(v, 0, sizeof *v);
	snprintf(issuer, sizeof issuer, "http://127.0.0.1:%d", S.port);
	v->issuer = issuer;
	if (creds) {
		v->client_id = "my client";
		v->client_secret = "s3cr:et+/";
	}
	v->max_stale = 60;
	v->jwks_refresh = 300;
	v->start_timeout_ms = 3000;
}

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait up to ms for *p (under mu) to reach want. */
static int wait_for(int (*getter)(int *), int *p, int want, int ms)
{
	int64_t end = ms_now() + ms;
	while (ms_now() < end) {
		if (getter(p) >= want)
			return 1;
		usleep(10000);
	}
	return getter(p) >= want;
}

static int setup(void **state)
{
	lk_jwk *k = NULL;
	char *pub = NULL;
	assert_int_equal(lk_jwk_generate(LK_ALG_ES256, "k1", &k, NULL), LK_OK);
	assert_int_equal(lk_jwk_to_json(k, 0, &pub, NULL), LK_OK);
	snprintf(jwks_doc, sizeof jwks_doc, "{\"keys\":[%s]}", pub);
	free(pub);
	lk_jwk_free(k);
	return 0;
}

/* ---------------------------------------------------------------- pure parts */

static void test_feed_url(void **state)
{
	char *u;
	u = lk_feed_url("https://a.example", "/revocations");
	assert_string_equal(u, "https://a.example/revocations");
	free(u);
	u = lk_feed_url("https://a.example/t1/", "/.well-known/openid-configuration");
	assert_string_equal(u, "https://a.example/t1/.well-known/openid-configuration");
	free(u);
	assert_null(lk_feed_url("ftp://a.example", "/x"));
	assert_null(lk_feed_url("https://", "/x"));
	assert_null(lk_feed_url("https:///path", "/x"));
	assert_null(lk_feed_url("https://a.example?x=1", "/x"));
	assert_null(lk_feed_url("https://a.example#f", "/x"));
	assert_null(lk_feed_url("https://a.exa mple", "/x"));
	assert_null(lk_feed_url(NULL, "/x"));
}

static void test_feed_event(void **state)
{
	struct lk_feed_event fe;
#define OK(s) assert_int_equal(lk_feed_event_parse(s, strlen(s), &fe), LK_OK)
#define BAD(s) assert_int_equal(lk_feed_event_parse(s, strlen(s), &fe), LK_EINVAL)
	OK("{\"cursor\":7,\"type\":\"jti\",\"value\":\"abc\",\"expires\":100}");
	assert_int_equal(fe.ev.cursor, 7);
	assert_string_equal(fe.ev.type, "jti");
	assert_string_equal(fe.ev.value, "abc");
	assert_int_equal(fe.ev.expires, 100);
	OK("{\"cursor\":8,\"type\":\"sub\",\"value\":\"alice\",\"expires\":100,\"before\":90}");
	assert_int_equal(fe.ev.before, 90);
	OK("{\"cursor\":9,\"type\":\"sid\",\"value\":\"s\",\"expires\":1,\"extra\":[1]}");
	BAD("{\"cursor\":8,\"type\":\"sub\",\"value\":\"alice\",\"expires\":100}");  /* no before */
	BAD("{\"cursor\":0,\"type\":\"jti\",\"value\":\"a\",\"expires\":1}");
	BAD("{\"cursor\":1.5,\"type\":\"jti\",\"value\":\"a\",\"expires\":1}");
	BAD("{\"cursor\":\"1\",\"type\":\"jti\",\"value\":\"a\",\"expires\":1}");
	BAD("{\"cursor\":1,\"type\":\"JTI\",\"value\":\"a\",\"expires\":1}");
	BAD("{\"cursor\":1,\"type\":\"jt\",\"value\":\"a\",\"expires\":1}");
	BAD("{\"cursor\":1,\"type\":\"jti\",\"value\":\"\",\"expires\":1}");
	BAD("{\"cursor\":1,\"type\":\"jti\",\"value\":\"a\\u0000b\",\"expires\":1}");
	BAD("{\"cursor\":1,\"type\":\"jti\",\"value\":7,\"expires\":1}");
	BAD("{\"cursor\":1,\"type\":\"jti\",\"value\":\"a\"}");
	BAD("{\"cursor\":1,\"cursor\":2,\"type\":\"jti\",\"value\":\"a\",\"expires\":1}");
	BAD("[1]");
	BAD("{\"cursor\":1,");
	BAD("");
	char big[400];
	int n = snprintf(big, sizeof big, "{\"cursor\":1,\"type\":\"jti\",\"expires\":1,\"value\":\"");
	memset(big + n, 'v', 255);
	strcpy(big + n + 255, "\"}");
	OK(big);
	memset(big + n, 'v', 256);
	strcpy(big + n + 256, "\"}");
	BAD(big);
#undef OK
#undef BAD
}

static void test_feed_discovery(void **state)
{
	char *j = NULL, d[120];
	const char *doc = "{\"issuer\":\"https://a.example\",\"jwks_uri\":\"https://a.example/k\"}";
	assert_int_equal(lk_feed_discovery(doc, strlen(doc), "https://a.example", &j, d, sizeof d),
			 LK_OK);
	assert_string_equal(j, "https://a.example/k");
	free(j);
	/* exact: a trailing slash is another issuer (RFC 8414 §3.3) */
	assert_int_equal(lk_feed_discovery(doc, strlen(doc), "https://a.example/", &j, d, sizeof d),
			 LK_EIO);
	assert_null(j);
	assert_non_null(strstr(d, "issuer"));
	/* https issuer, http jwks_uri: refused */
	doc = "{\"issuer\":\"https://a.example\",\"jwks_uri\":\"http://a.example/k\"}";
	assert_int_equal(lk_feed_discovery(doc, strlen(doc), "https://a.example", &j, d, sizeof d),
			 LK_EIO);
	doc = "{\"issuer\":\"https://a.example\"}";
	assert_int_equal(lk_feed_discovery(doc, strlen(doc), "https://a.example", &j, d, sizeof d),
			 LK_EIO);
	doc = "{\"issuer\":\"https://a.example\",\"issuer\":\"https://a.example\",\"jwks_uri\":\"https://a.example/k\"}";
	assert_int_equal(lk_feed_discovery(doc, strlen(doc), "https://a.example", &j, d, sizeof d),
			 LK_EIO);
}

static void test_backoff(void **state)
{
	uint64_t seed = 42;
	for (unsigned f = 1; f < 40; f++) {
		int64_t want = 100;
		for (unsigned i = 1; i < f && want < 5000; i++)
			want *= 2;
		if (want > 5000)
			want = 5000;
		for (int k = 0; k < 50; k++) {
			int64_t d = lk_feed_backoff(f, 100, 5000, &seed);
			assert_true(d >= want / 2 && d <= want);
		}
	}
}

/* ---------------------------------------------------------------- against the server */

static void test_discovery_and_keys(void **state)
{
	struct lk_verifier v;
	struct lk_errinfo ei = {0};
	srv_start();
	vinit(&v, false);
	{ enum lk_err e_ = lk_remote_start(&v, &ei); if (e_) fail_msg("start: %d %s", e_, ei.detail); }
	assert_non_null(v.remote);
	assert_int_equal(get(&n_keys), 1);
	assert_int_equal(srv_get(&S.n_disco), 1);
	assert_int_equal(srv_get(&S.n_snap), 0); /* no credentials: no feed */
	/* a token naming an unknown kid: one fetch now, and never two within a second; the
	 * same document again publishes nothing (new keys would end the verified cache) */
	lk_remote_want_keys(&v);
	assert_true(wait_for(srv_get, &S.n_jwks, 2, 1500));
	for (int i = 0; i < 20; i++)
		lk_remote_want_keys(&v);
	usleep(300 * 1000);
	assert_true(srv_get(&S.n_jwks) <= 3);
	assert_int_equal(get(&n_keys), 1);
	/* every fetch after the first found the same document: counted, not published */
	assert_true(atomic_load(&v.jwks_fetches) >= 1);
	lk_remote_stop(&v);
	assert_null(v.remote);
	srv_stop();
}

static void test_issuer_mismatch(void **state)
{
	struct lk_verifier v;
	struct lk_errinfo ei = {0};
	srv_start();
	vinit(&v, false);
	snprintf(S.disco_issuer, sizeof S.disco_issuer, "http://127.0.0.1:%d/", S.port);
	assert_int_equal(lk_remote_start(&v, &ei), LK_EIO);
	assert_null(v.remote);
	assert_non_null(strstr(ei.detail, "issuer"));
	assert_int_equal(get(&n_keys), 0);
	srv_stop();
}

static void test_unreachable(void **state)
{
	struct lk_verifier v;
	struct lk_errinfo ei = {0};
	int port;
	srv_start();
	port = S.port;
	srv_stop(); /* nobody listens there now */
	vinit(&v, false);
	snprintf(issuer, sizeof issuer, "http://127.0.0.1:%d", port);
	int64_t t0 = ms_now();
	assert_int_equal(lk_remote_start(&v, &ei), LK_EIO);
	assert_true(ms_now() - t0 < 3500);
	assert_non_null(strstr(ei.detail, "discovery: "));
	/* a bad issuer is refused before any I/O */
	v.issuer = "ftp://x";
	assert_int_equal(lk_remote_start(&v, &ei), LK_EINVAL);
}

static void test_feed(void **state)
{
	struct lk_verifier v;
	struct lk_errinfo ei = {0};
	struct lk_remote_status st;
	srv_start();
	S.stream_body[0] = ": ping\n\nid: 4\ndata: {\"cursor\":4,\"type\":\"sub\",\"value\":\"alice\","
			   "\"expires\":4102444800,\"before\":1700000000}\n\n"
			   "id: 5\ndata: {\"cursor\":5,\"type\":\"nope\"}\n\n"
			   "id: 6\r\ndata: {\"cursor\":6,\"type\":\"sid\",\r\ndata: \"value\":\"s-9\",\"expires\":1}\r\n\r\n";
	S.stream_after[0] = CLOSE;
	S.stream_status[1] = 200;
	S.stream_body[1] = "";
	S.stream_after[1] = PING;
	vinit(&v, true);
	{ enum lk_err e_ = lk_remote_start(&v, &ei); if (e_) fail_msg("start: %d %s", e_, ei.detail); }
	/* the snapshot came first, synchronously: one good event, one skipped */
	assert_int_equal(get(&n_events), 1);
	assert_int_equal(evs[0].cursor, 3);
	assert_string_equal(evs[0].value, "t-1");
	assert_true(atomic_load(&v.cursor) == 3);
	assert_true(get(&n_contacts) >= 1);
	/* credentials: HTTP Basic of the form-urlencoded id and secret (RFC 6749 §2.3.1) */
	pthread_mutex_lock(&S.mu);
	/* base64("my+client:s3cr%3Aet%2B%2F") */
	assert_string_equal(S.auth, "Basic bXkrY2xpZW50OnMzY3IlM0FldCUyQiUyRg==");
	pthread_mutex_unlock(&S.mu);
	/* the stream: events 4 and 6 applied, 5 skipped; then it closes; the reconnection
	 * resumes after 6 */
	assert_true(wait_for(srv_get, &S.n_stream, 2, 3000));
	assert_true(wait_for(get, &n_events, 3, 1000));
	pthread_mutex_lock(&rec_mu);
	assert_int_equal(evs[1].cursor, 4);
	assert_string_equal(evs[1].type, "sub");
	assert_int_equal(evs[1].before, 1700000000);
	assert_int_equal(evs[2].cursor, 6);
	assert_string_equal(evs[2].value, "s-9");
	pthread_mutex_unlock(&rec_mu);
	pthread_mutex_lock(&S.mu);
	assert_string_equal(S.last_id[0], "3");
	assert_string_equal(S.last_id[1], "6");
	pthread_mutex_unlock(&S.mu);
	assert_int_equal(srv_get(&S.n_snap), 1); /* resumed, no new snapshot */
	/* pings on the second connection keep contact coming */
	int c = get(&n_contacts);
	assert_true(wait_for(get, &n_contacts, c + 2, 2000));
	assert_int_equal(atomic_load(&v.connected), 1);
	assert_true(atomic_load(&v.reconnects) >= 2);
	lk_remote_status(&v, &st);
	assert_int_equal(st.bad_events, 2);
	assert_int_equal(st.auth_failures, 0);
	assert_null(strstr(st.last_error, "s3cr"));
	/* stop mid-stream: promptly */
	int64_t t0 = ms_now();
	lk_remote_stop(&v);
	assert_true(ms_now() - t0 < 1000);
	srv_stop();
}

static void test_stop_while_hanging(void **state)
{
	struct lk_verifier v;
	struct lk_errinfo ei = {0};
	srv_start();
	S.stream_body[0] = "";
	S.stream_after[0] = HANG;
	vinit(&v, true);
	{ enum lk_err e_ = lk_remote_start(&v, &ei); if (e_) fail_msg("start: %d %s", e_, ei.detail); }
	assert_true(wait_for(srv_get, &S.n_stream, 1, 2000));
	usleep(200 * 1000);
	int64_t t0 = ms_now();
	lk_remote_stop(&v);
	assert_true(ms_now() - t0 < 1000);
	srv_stop();
}

static void test_dead_peer(void **state)
{
	struct lk_verifier v;
	struct lk_errinfo ei = {0};
	struct lk_remote_status st;
	srv_start();
	S.stream_body[0] = ": hello\n\n";
	S.stream_after[0] = HANG; /* then silence: no pings */
	vinit(&v, true);
	v.max_stale = 2; /* the watchdog follows max_stale when it is under 35 s */
	{ enum lk_err e_ = lk_remote_start(&v, &ei); if (e_) fail_msg("start: %d %s", e_, ei.detail); }
	assert_true(wait_for(srv_get, &S.n_stream, 1, 2000));
	int64_t t0 = ms_now();
	assert_true(wait_for(srv_get, &S.n_stream, 2, 5000));
	assert_true(ms_now() - t0 >= 1500);
	lk_remote_status(&v, &st);
	assert_non_null(strstr(st.last_error, "no byte"));
	lk_remote_stop(&v);
	srv_stop();
}

static void test_auth_refused(void **state)
{
	struct lk_verifier v;
	struct lk_errinfo ei = {0};
	struct lk_remote_status st;
	srv_start();
	S.snap_status = 401;
	vinit(&v, true);
	assert_int_equal(lk_remote_start(&v, &ei), LK_EIO);
	assert_non_null(strstr(ei.detail, "revocations: HTTP 401"));
	assert_null(strstr(ei.detail, "s3cr"));
	assert_null(v.remote);
	/* the snapshot passes, the stream refuses: counted, retried slowly */
	S.snap_status = 200;
	S.stream_status[0] = 401;
	{ enum lk_err e_ = lk_remote_start(&v, &ei); if (e_) fail_msg("start: %d %s", e_, ei.detail); }
	assert_true(wait_for(srv_get, &S.n_stream, 1, 2000));
	usleep(300 * 1000);
	lk_remote_status(&v, &st);
	assert_int_equal(st.auth_failures, 1);
	assert_null(strstr(st.last_error, "s3cr"));
	usleep(1000 * 1000);
	assert_int_equal(srv_get(&S.n_stream), 1); /* not again within a second */
	assert_int_equal(atomic_load(&v.connected), 0);
	lk_remote_stop(&v);
	srv_stop();
}

static void test_cursor_unknown(void **state)
{
	struct lk_verifier v;
	struct lk_errinfo ei = {0};
	srv_start();
	S.snap_body = "{\"cursor\":0,\"events\":[]}";
	S.stream_status[0] = 410;
	S.stream_status[1] = 200;
	S.stream_body[1] = ": ping\n\n";
	S.stream_after[1] = HANG;
	vinit(&v, true);
	{ enum lk_err e_ = lk_remote_start(&v, &ei); if (e_) fail_msg("start: %d %s", e_, ei.detail); }
	assert_true(wait_for(srv_get, &S.n_stream, 2, 3000));
	assert_int_equal(srv_get(&S.n_snap), 2); /* a new snapshot between */
	pthread_mutex_lock(&S.mu);
	assert_string_equal(S.last_id[1], "0"); /* resumed from the snapshot's cursor, even 0 */
	pthread_mutex_unlock(&S.mu);
	lk_remote_stop(&v);
	srv_stop();
}

static void test_not_waiting(void **state)
{
	struct lk_verifier v;
	struct lk_errinfo ei = {0};
	srv_start();
	vinit(&v, true);
	v.start_timeout_ms = -1; /* the thread does it all */
	{ enum lk_err e_ = lk_remote_start(&v, &ei); if (e_) fail_msg("start: %d %s", e_, ei.detail); }
	assert_true(wait_for(get, &n_keys, 1, 2000));
	assert_true(wait_for(srv_get, &S.n_stream, 1, 2000));
	assert_int_equal(srv_get(&S.n_snap), 1);
	lk_remote_stop(&v);
	srv_stop();
}

static void test_jwks_file(void **state)
{
	struct lk_verifier v;
	struct lk_errinfo ei = {0};
	char path[] = "/tmp/lk-test-jwks-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, jwks_doc, strlen(jwks_doc)), (ssize_t)strlen(jwks_doc));
	close(fd);
	memset(&v, 0, sizeof v);
	pthread_mutex_lock(&rec_mu);
	n_keys = 0;
	pthread_mutex_unlock(&rec_mu);
	v.jwks_file = path;
	{ enum lk_err e_ = lk_remote_start(&v, &ei); if (e_) fail_msg("start: %d %s", e_, ei.detail); }
	assert_null(v.remote); /* no thread for a file */
	assert_int_equal(get(&n_keys), 1);
	v.jwks_file = "/nonexistent/jwks.json";
	assert_int_equal(lk_remote_start(&v, &ei), LK_EIO);
	assert_non_null(strstr(ei.detail, "jwks_file"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feed_url),
		cmocka_unit_test(test_feed_event),
		cmocka_unit_test(test_feed_discovery),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_discovery_and_keys),
		cmocka_unit_test(test_issuer_mismatch),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_feed),
		cmocka_unit_test(test_stop_while_hanging),
		cmocka_unit_test(test_dead_peer),
		cmocka_unit_test(test_auth_refused),
		cmocka_unit_test(test_cursor_unknown),
		cmocka_unit_test(test_not_waiting),
		cmocka_unit_test(test_jwks_file),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
