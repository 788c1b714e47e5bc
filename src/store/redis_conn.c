/* SPDX-License-Identifier: MIT */
/*
 * The transport of the Redis store: per-thread connections that reconnect by themselves,
 * AUTH and SELECT, the hold after a timeout, commands and scripts (EVALSHA with an EVAL
 * fallback), argument builders and reply parsers. The store operations that use it are in
 * redis.c; the design notes are at the top of redis_int.h.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "store/redis_int.h"
#include "store/redis_slots.h"
#include "util/err.h"

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 6379
#define CONNECT_MS 1000
#define COMMAND_MS 2000
#define HOLD_MS 1000          /* after a timeout, fail at once for this long */
#define PASS_ENV "LATCHKEY_REDIS_PASSWORD"
#define SENTINEL_PASS_ENV "LATCHKEY_SENTINEL_PASSWORD"
#define DEFAULT_SENTINEL_PORT 26379
#define SENTINEL_MS 500       /* connect to and hear from one sentinel within this */
#define WAIT_MS 500           /* RD_SENTINEL, RD_CLUSTER: a write waits this long for a replica */
#define RESHARD_WAIT_MS 2000  /* RD_CLUSTER: a call waits at most this for a slot in motion */
#define MAP_EVERY_MS 100      /* RD_CLUSTER: at most one slot map refresh this often */
#define MAX_HOPS 16           /* RD_CLUSTER: redirections a call follows, at most */
#define MAX_SENT_REPLICAS 64  /* RD_SENTINEL: replicas of a SENTINEL REPLICAS answer read */
#define MAX_SENT_FIELDS 64    /* RD_SENTINEL: fields of each of those read, at most */
#define G_KEY "lk:{g}:~"      /* RD_CLUSTER: where keyless commands go */
#define STR_(x) #x
#define STR(x) STR_(x)

void lk_rd_hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Copy s[0..n) into dst[size], cut at a UTF-8 character boundary when it does not fit
 * (as sqlite.c's col_text). */
void lk_rd_copy_text(char *dst, size_t size, const char *s, size_t n)
{
	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	if (n)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

/* ---------------------------------------------------------------- SIGPIPE */

/*
 * hiredis writes with write(2): on a connection the server has closed, that raises
 * SIGPIPE, which kills a process that has not ignored it (a CLI command, say). Unless the
 * process ignores SIGPIPE already (the server does), block it in this thread around the
 * call and consume one raised meanwhile. Cost: four system calls per command then.
 */
struct pipeguard {
	bool on, pending;
	sigset_t set, old;
};

static void guard_begin(struct pipeguard *g)
{
	struct sigaction sa;
	sigset_t pend;

	g->on = false;
	if (sigaction(SIGPIPE, NULL, &sa) != 0 || sa.sa_handler == SIG_IGN)
		return;
	sigemptyset(&g->set);
	sigaddset(&g->set, SIGPIPE);
	g->pending = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE);
	g->on = pthread_sigmask(SIG_BLOCK, &g->set, &g->old) == 0;
}

static void guard_end(struct pipeguard *g)
{
	sigset_t pend;
	struct timespec zero = {0, 0};

	if (!g->on)
		return;
	if (!g->pending && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE)) {
		while (sigtimedwait(&g->set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---------------------------------------------------------------- timeouts */

int64_t lk_rd_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t lk_rd_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* After an I/O failure with errno e (message msg): on a timeout, hold off every call of
 * this store for HOLD_MS. Refusals and resets fail fast by themselves and hold nothing. */
static void note_failure(struct rd_store *st, int e, const char *msg)
{
	atomic_store_explicit(&st->io_fail_us, lk_rd_mono_us(), memory_order_relaxed);
	bool timeout = e == EAGAIN || e == EWOULDBLOCK || e == ETIMEDOUT || e == EINPROGRESS ||
		       (msg && (strstr(msg, "timed out") || strstr(msg, "temporarily unavailable")));
	if (timeout)
		atomic_store_explicit(&st->hold_until, lk_rd_mono_ms() + HOLD_MS, memory_order_relaxed);
}

bool lk_rd_held(struct rd_store *st)
{
	return lk_rd_mono_ms() < atomic_load_explicit(&st->hold_until, memory_order_relaxed);
}

/* RD_CLUSTER: the primary serving slot, from the slot map (loaded at the first call). */
static bool node_for(struct rd_store *st, uint16_t slot, char *host, size_t size, int *port);
/* RD_CLUSTER: load the slot map afresh (forced, or at most every MAP_EVERY_MS). */
static bool map_refresh(struct rd_store *st, bool force);

/* ---------------------------------------------------------------- connections */

static void conn_drop(struct rconn *c)
{
	if (c->c)
		redisFree(c->c);
	c->c = NULL;
	if (c->dirty)
		c->lost = true; /* writes no WAIT can confirm any more */
	c->dirty = false;
}

/* c and its chain of connections to other cluster nodes. */
static void conn_free(struct rconn *c)
{
	while (c) {
		struct rconn *next = c->peer;
		conn_drop(c);
		free(c);
		c = next;
	}
}

/* pthread key destructor: the thread exits, so does its connection. */
static void conn_thread_exit(void *p)
{
	struct rconn *c = p;
	struct rd_store *st = c->st;

	pthread_mutex_lock(&st->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		st->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&st->mu);
	conn_free(c);
}

static struct timeval ms_tv(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	return tv;
}

/* The value of "name:" in an INFO reply, up to the end of its line. */
static const char *info_field(const char *info, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	for (const char *p = info; p && *p;) {
		if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			*len = strcspn(p, "\r\n");
			return p;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* The first word of a Redis error reply, for details ("WRONGPASS", "NOAUTH"). */
static void err_word(const redisReply *r, char *out, size_t size)
{
	size_t n = r && r->str ? strcspn(r->str, " \r\n") : 0;
	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(out, r->str, n);
	out[n] = '\0';
}

/* A short-lived connection for one question (a sentinel's, a cluster node's slot map):
 * SENTINEL_MS to connect, answer_ms for each answer, AUTH [user] pass first when pass is
 * set. NULL when it cannot be had. The caller guards SIGPIPE and frees it. */
static redisContext *brief_connect(const char *host, int port, const char *user,
				   const char *pass, int answer_ms)
{
	redisContext *x = redisConnectWithTimeout(host, port, ms_tv(SENTINEL_MS));
	if (!x || x->err || redisSetTimeout(x, ms_tv(answer_ms)) != REDIS_OK)
		goto fail;
	if (pass) {
		const char *argv[] = {"AUTH", user ? user : pass, pass};
		size_t len[] = {4, strlen(argv[1]), strlen(pass)};
		int n = user ? 3 : 2;
		redisReply *r = redisCommandArgv(x, n, argv, len);
		bool ok = r && r->type != REDIS_REPLY_ERROR;
		if (r)
			freeReplyObject(r);
		if (!ok)
			goto fail;
	}
	return x;
fail:
	if (x)
		redisFree(x);
	return NULL;
}

/* Whether a replica's "flags" (words joined by commas: "slave", "s_down,slave,disconnected")
 * leave it alive to the sentinel: neither s_down nor o_down. "disconnected" alone (the
 * sentinel has no link to it at the moment) counts as alive: right after a failover a
 * sentinel lists the old primary so, as a replica of the new one, for some 20-80 ms while
 * its new link is made, and a connection made then that counted no replica would write
 * without WAIT; the new primary dying before the old one follows it would lose those
 * writes. The cost: a replica that is really dead holds writes up (503) until the
 * sentinels mark it s_down, after their down-after-milliseconds (after a kill -9 failover,
 * the dead old primary is such a replica). */
static bool flags_alive(const char *f, size_t n)
{
	static const char *const down[] = {"s_down", "o_down"};
	for (size_t i = 0; i < n;) {
		size_t w = 0;
		while (i + w < n && f[i + w] != ',')
			w++;
		for (size_t d = 0; d < sizeof down / sizeof *down; d++)
			if (w == strlen(down[d]) && !memcmp(f + i, down[d], w))
				return false;
		i += w + 1;
	}
	return true;
}

int lk_rd_sentinel_alive(const redisReply *r)
{
	int alive = 0;

	if (!r || r->type != REDIS_REPLY_ARRAY)
		return 0;
	for (size_t i = 0; i < r->elements && i < MAX_SENT_REPLICAS; i++) {
		const redisReply *e = r->element[i];
		if (!e || e->type != REDIS_REPLY_ARRAY)
			continue;
		for (size_t j = 0; j + 1 < e->elements && j < 2 * MAX_SENT_FIELDS; j += 2) {
			const redisReply *k = e->element[j], *v = e->element[j + 1];
			if (!k || k->type != REDIS_REPLY_STRING || k->len != 5 ||
			    memcmp(k->str, "flags", 5))
				continue;
			if (v && (v->type == REDIS_REPLY_STRING || v->type == REDIS_REPLY_STATUS) &&
			    flags_alive(v->str, v->len))
				alive++;
			break;
		}
	}
	return alive;
}

/* One sentinel's answer to SENTINEL GET-MASTER-ADDR-BY-NAME: 1 an address, 0 it does not
 * know the name, -1 no answer (unreachable, refused, a bad password). With alive, SENTINEL
 * REPLICAS goes in the same round trip and *alive is how many replicas of the primary this
 * sentinel considers alive (lk_rd_sentinel_alive; 0 when its answer is missing or not
 * understood, which leaves writes as available as without the question). */
static int ask_sentinel(struct rd_store *st, const struct rd_addr *a, char *host, size_t size,
			int *port, int *alive)
{
	const char *argv[3];
	size_t len[3];
	redisReply *r = NULL;
	void *v = NULL, *w = NULL;
	int got = -1;

	if (alive)
		*alive = 0;
	redisContext *s = brief_connect(a->host, a->port, NULL, st->sentinel_pass, SENTINEL_MS);
	if (!s)
		goto out;
	argv[0] = "SENTINEL";
	len[0] = 8;
	argv[1] = "get-master-addr-by-name";
	len[1] = 23;
	argv[2] = st->name;
	len[2] = strlen(st->name);
	if (redisAppendCommandArgv(s, 3, argv, len) != REDIS_OK)
		goto out;
	if (alive) {
		argv[1] = "replicas";
		len[1] = 8;
		if (redisAppendCommandArgv(s, 3, argv, len) != REDIS_OK)
			goto out;
	}
	/* The first read sends both. */
	if (redisGetReply(s, &v) != REDIS_OK || !v)
		goto out;
	r = v;
	if (alive && redisGetReply(s, &w) == REDIS_OK && w) {
		*alive = lk_rd_sentinel_alive(w);
		freeReplyObject(w);
	}
	if (r->type == REDIS_REPLY_ERROR)
		goto out;
	if (r->type == REDIS_REPLY_NIL) {
		got = 0;
		goto out;
	}
	int64_t p = 0;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || !r->element[0]->len ||
	    r->element[0]->len >= size || !lk_rd_int(r->element[1], &p) || p < 1 || p > 65535)
		goto out;
	memcpy(host, r->element[0]->str, r->element[0]->len);
	host[r->element[0]->len] = '\0';
	*port = (int)p;
	got = 1;
out:
	if (alive && got != 1)
		*alive = 0;
	if (r)
		freeReplyObject(r);
	if (s)
		redisFree(s);
	return got;
}

/*
 * Ask the sentinels in turn, starting with the last one that answered, for the address of
 * the primary named st->name; the first that knows it wins (Redis's "Sentinel client
 * guidelines": the address is then checked with the primary's own role, in lk_rd_connect).
 */
enum lk_err lk_rd_sentinel_primary(struct rd_store *st, char *host, size_t size, int *port,
				   int *alive, struct lk_errinfo *ei)
{
	struct pipeguard g;
	int first = atomic_load(&st->seed_next), unknown = 0;

	guard_begin(&g);
	for (int k = 0; k < st->nseeds; k++) {
		int i = (first + k) % st->nseeds;
		int got = ask_sentinel(st, &st->seeds[i], host, size, port, alive);
		if (got > 0) {
			atomic_store(&st->seed_next, i);
			guard_end(&g);
			return LK_OK;
		}
		unknown += got == 0;
	}
	guard_end(&g);
	if (alive)
		*alive = 0;
	if (unknown)
		return lk_errf(ei, LK_ESTORE, "%s: the sentinels know no primary named %s",
			       st->where, st->name);
	return lk_errf(ei, LK_ESTORE, "%s: no sentinel answered", st->where);
}

/*
 * Connect c: TCP with CONNECT_MS, then AUTH, SELECT and INFO (server, memory) pipelined
 * in one round trip, each reply read within COMMAND_MS. Checks the server is Redis 7 or
 * newer, keeps a hash of its run_id and its maxmemory-policy. On failure c->c stays NULL
 * and ei says why.
 */
enum lk_err lk_rd_connect(struct rd_store *st, struct rconn *c, struct lk_errinfo *ei)
{
	struct pipeguard g;
	redisReply *r = NULL;
	enum lk_err err = LK_OK;
	char dbs[16], word[32];
	const char *argv[3];
	size_t len[3];
	int sent = 0, got = 0, alive = 0;

	const char *host = st->host;
	int port = st->port;
	char hbuf[256];

	/* The epoch first: a move seen while this connects makes it stale, never the reverse. */
	c->epoch = atomic_load(&st->epoch);
	if (st->mode == RD_SENTINEL) {
		if ((err = lk_rd_sentinel_primary(st, hbuf, sizeof hbuf, &port, &alive, ei)))
			return err;
		host = hbuf;
	} else if (st->mode == RD_CLUSTER) {
		if (!c->host[0] && !node_for(st, lk_rd_keyslot(G_KEY, sizeof G_KEY - 1), c->host,
					     sizeof c->host, &c->port))
			return lk_errf(ei, LK_ESTORE, "%s: no node known for the slot", st->where);
		host = c->host;
		port = c->port;
	}
	snprintf(c->addr, sizeof c->addr, "%s:%d", host, port);
	errno = 0;
	c->c = redisConnectWithTimeout(host, port, ms_tv(CONNECT_MS));
	if (!c->c)
		return lk_errf(ei, LK_ENOMEM, "out of memory connecting to %s", st->where);
	if (c->c->err) {
		note_failure(st, errno, c->c->errstr);
		err = lk_errf(ei, LK_ESTORE, "cannot connect to %s: %s", st->where, c->c->errstr);
		/* a node gone: the map may name its successor by the next attempt (the
		 * subscriber's too, which would otherwise wait for a request to find out) */
		if (st->mode == RD_CLUSTER)
			map_refresh(st, false);
		goto fail;
	}
	if (redisSetTimeout(c->c, ms_tv(COMMAND_MS)) != REDIS_OK ||
	    redisEnableKeepAlive(c->c) != REDIS_OK) {
		err = lk_errf(ei, LK_ESTORE, "cannot set up the connection to %s", st->where);
		goto fail;
	}
	if (st->pass) {
		int n = 0;
		argv[n] = "AUTH";
		len[n++] = 4;
		if (st->user) {
			argv[n] = st->user;
			len[n] = strlen(st->user);
			n++;
		}
		argv[n] = st->pass;
		len[n] = strlen(st->pass);
		n++;
		if (redisAppendCommandArgv(c->c, n, argv, len) != REDIS_OK)
			goto io;
		sent++;
	}
	if (st->db && st->mode != RD_CLUSTER) {
		snprintf(dbs, sizeof dbs, "%d", st->db);
		argv[0] = "SELECT";
		len[0] = 6;
		argv[1] = dbs;
		len[1] = strlen(dbs);
		if (redisAppendCommandArgv(c->c, 2, argv, len) != REDIS_OK)
			goto io;
		sent++;
	}
	{
		const char *iv[] = {"INFO", "server", "memory", "replication"};
		size_t il[] = {4, 6, 6, 11};
		if (redisAppendCommandArgv(c->c, 4, iv, il) != REDIS_OK)
			goto io;
		sent++;
	}

	/* The first read sends the whole pipeline. */
	guard_begin(&g);
	for (int i = 0; i < sent; i++) {
		void *v = NULL;
		errno = 0;
		if (redisGetReply(c->c, &v) != REDIS_OK || !v) {
			note_failure(st, errno, c->c->errstr);
			break;
		}
		got++;
		redisReply *x = v;
		if (x->type == REDIS_REPLY_ERROR && err == LK_OK) {
			err_word(x, word, sizeof word);
			if (st->pass && i == 0)
				err = lk_errf(ei, LK_ESTORE, "%s refused the password (%s)", st->where,
					      word);
			else if (!strcmp(word, "NOAUTH"))
				err = lk_errf(ei, LK_ESTORE, "%s wants a password (URL or %s)",
					      st->where, PASS_ENV);
			else
				err = lk_errf(ei, LK_ESTORE, "%s refused the connection set-up (%s)",
					      st->where, word);
		}
		if (i == sent - 1)
			r = x;
		else
			freeReplyObject(x);
	}
	guard_end(&g);
	if (err)
		goto fail;
	if (got < sent)
		goto io;
	if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) {
		err = lk_errf(ei, LK_ESTORE, "%s: unexpected reply to INFO", st->where);
		goto fail;
	}
	{
		size_t n = 0;
		const char *v = info_field(r->str, "redis_version", &n);
		if (!v || atoi(v) < 7) {
			err = lk_errf(ei, LK_ESTORE, "%s is Redis %.*s; latchkey needs 7.0 or newer",
				      st->where, v ? (int)(n < 16 ? n : 16) : 1, v ? v : "?");
			goto fail;
		}
		v = info_field(r->str, "run_id", &n);
		uint64_t run = 0;
		for (size_t i = 0; v && i < n && i < 16; i++) {
			int d = v[i] >= '0' && v[i] <= '9'   ? v[i] - '0'
				: v[i] >= 'a' && v[i] <= 'f' ? v[i] - 'a' + 10
							     : 0;
			run = run << 4 | (uint64_t)d;
		}
		c->run = run;
		v = info_field(r->str, "maxmemory_policy", &n);
		lk_rd_copy_text(c->policy, sizeof c->policy, v ? v : "", v ? n : 0);
		/* The sentinels' answer may be stale in the middle of a failover: a server that
		 * is not (or no longer) the primary is not used. */
		v = info_field(r->str, "role", &n);
		if (st->mode == RD_SENTINEL && !(v && n == 6 && !memcmp(v, "master", 6))) {
			err = lk_errf(ei, LK_ESTORE,
				      "%s: %s:%d is not the primary of %s (a failover in progress?)",
				      st->where, host, port, st->name);
			goto fail;
		}
		int nr = lk_rd_info_replicas(r);
		c->replicas = nr > 0 ? nr : 0;
		/* No replica connected, yet the sentinel asked considers one alive: this server may
		 * be the stale side of a failover (the sentinels name the old primary for about a
		 * second after one, and it says role:master and takes writes for seconds more,
		 * until it is made a replica and drops them). Its writes then wait for a replica
		 * like any other, so none is acknowledged that only it holds. */
		if (st->mode == RD_SENTINEL && c->replicas <= 0 && alive > 0)
			c->replicas = alive;
		/* None at all: writes here do not wait, until the heartbeat sees a replica and has
		 * this connection made again (redis_sub.c, recount). */
		if (st->mode == RD_SENTINEL && c->replicas <= 0)
			atomic_store(&st->unguarded, true);
	}
	freeReplyObject(r);
	return LK_OK;
io:
	err = lk_errf(ei, LK_ESTORE, "%s: %s", st->where,
		      c->c->errstr[0] ? c->c->errstr : "connection lost");
fail:
	if (r)
		freeReplyObject(r);
	conn_drop(c);
	return err;
}

/* The calling thread's connection, (re)connected when it has none. */
/* The calling thread's first connection (not connected yet when new). */
static struct rconn *thread_conn(struct rd_store *st)
{
	struct rconn *c = pthread_getspecific(st->key);
	if (c)
		return c;
	if (!(c = calloc(1, sizeof *c)))
		return NULL;
	c->st = st;
	if (pthread_setspecific(st->key, c) != 0) {
		free(c);
		return NULL;
	}
	pthread_mutex_lock(&st->mu);
	c->next = st->conns;
	if (st->conns)
		st->conns->prev = c;
	st->conns = c;
	pthread_mutex_unlock(&st->mu);
	return c;
}

/* Make c ready to send on: dropped when stale, (re)connected when it has no context. */
static enum lk_err conn_ready(struct rd_store *st, struct rconn *c, struct lk_errinfo *ei);

enum lk_err lk_rd_conn_get(struct rd_store *st, struct rconn **out, struct lk_errinfo *ei)
{
	struct rconn *c;
	enum lk_err err;

	if (lk_rd_held(st))
		return lk_errf(ei, LK_ESTORE, "%s timed out less than %d ms ago", st->where,
			       HOLD_MS);
	if (!(c = thread_conn(st)))
		return lk_errf(ei, LK_ENOMEM, "out of memory");
	if ((err = conn_ready(st, c, ei)))
		return err;
	*out = c;
	return LK_OK;
}

static enum lk_err conn_ready(struct rd_store *st, struct rconn *c, struct lk_errinfo *ei)
{
	enum lk_err err;

	if (c->c && c->epoch != atomic_load(&st->epoch))
		conn_drop(c); /* made before the primary moved */
	if (c->c) {
		/* An idle connection to a server that has gone (restarted, killed) has the
		 * peer's FIN or RST waiting: nothing else ever arrives unasked (RESP2, no
		 * pub/sub here). Reconnect before sending rather than fail the request: a
		 * command sent there could not tell "not run" from "run, then the server died". */
		struct pollfd p = {c->c->fd, POLLIN | POLLRDHUP, 0};
		if (poll(&p, 1, 0) != 0)
			conn_drop(c);
	}
	if (!c->c && (err = lk_rd_connect(st, c, ei)))
		return err;
	return LK_OK;
}

/* ---------------------------------------------------------------- the cluster */

/*
 * RD_CLUSTER. The slot map says which primary serves each of the 16384 slots; it comes
 * from CLUSTER SLOTS, asked of any node that answers (those of the map, then the seeds),
 * at the first call and again (at most every MAP_EVERY_MS) when a node redirects a call
 * with MOVED or stops answering. Each thread keeps one connection per node it has talked
 * to (a chain from its first). A call goes to its key's slot:
 *   MOVED            the slot has moved for good: the map is refreshed (the redirect
 *                    patched in at once), the call goes to the new node;
 *   ASK              the slot is being moved and the key is not here (any more): a
 *                    command of one key goes to the target with ASKING first; a script
 *                    never does (its KEYS[1] is never written, so ASK means the slot is
 *                    in motion, and the script would see half of it): it waits and is
 *                    retried at the source until the move is done;
 *   TRYAGAIN, CLUSTERDOWN   wait and retry.
 * Waiting is bounded: RESHARD_WAIT_MS in all, then LK_ESTORE (503). A node that stops
 * answering gets the map refreshed and the call retried once on the node it names, which
 * after a failover is the promoted replica.
 */

static int64_t map_load(struct rd_store *st, const char *host, int port,
			struct lk_rd_slotmap **out)
{
	struct pipeguard g;
	redisReply *r = NULL;
	const char *argv[3];
	size_t len[3];
	int64_t ok = 0;

	guard_begin(&g);
	/* a node's answer as any command's: a slot map of a large cluster is not small */
	redisContext *x = brief_connect(host, port, st->user, st->pass, COMMAND_MS);
	if (!x) {
		guard_end(&g);
		goto out;
	}
	argv[0] = "CLUSTER";
	len[0] = 7;
	argv[1] = "SLOTS";
	len[1] = 5;
	r = redisCommandArgv(x, 2, argv, len);
	guard_end(&g);
	if (!r || r->type != REDIS_REPLY_ARRAY)
		goto out;
	struct lk_rd_slotmap *m = calloc(1, sizeof *m);
	if (m && lk_rd_slotmap_from_reply(r, host, m)) {
		*out = m;
		ok = 1;
	} else {
		free(m);
	}
out:
	if (r)
		freeReplyObject(r);
	if (x)
		redisFree(x);
	return ok;
}

/* Load the slot map afresh from the first node that answers; forced or at most every
 * MAP_EVERY_MS. */
static bool map_refresh(struct rd_store *st, bool force)
{
	int64_t now = lk_rd_mono_ms();
	if (!force && now - atomic_load(&st->map_ms) < MAP_EVERY_MS)
		return false;
	atomic_store(&st->map_ms, now);

	/* candidates: the nodes of the current map, then the seeds */
	struct rd_addr cand[LK_RD_MAX_NODES + LK_RD_MAX_SEEDS];
	char hosts[LK_RD_MAX_NODES][256];
	int n = 0;
	pthread_rwlock_rdlock(&st->map_lock);
	for (int i = 0; st->map && i < st->map->nnodes && n < LK_RD_MAX_NODES; i++) {
		snprintf(hosts[n], sizeof hosts[n], "%s", st->map->node[i].host);
		cand[n].host = hosts[n];
		cand[n].port = st->map->node[i].port;
		n++;
	}
	pthread_rwlock_unlock(&st->map_lock);
	for (int i = 0; i < st->nseeds; i++)
		cand[n++] = st->seeds[i];
	for (int i = 0; i < n; i++) {
		struct lk_rd_slotmap *m = NULL;
		if (!map_load(st, cand[i].host, cand[i].port, &m))
			continue;
		pthread_rwlock_wrlock(&st->map_lock);
		struct lk_rd_slotmap *old = st->map;
		st->map = m;
		pthread_rwlock_unlock(&st->map_lock);
		free(old);
		return true;
	}
	return false;
}

static bool node_for(struct rd_store *st, uint16_t slot, char *host, size_t size, int *port)
{
	bool ok = false;
	for (int pass = 0; pass < 2 && !ok; pass++) {
		pthread_rwlock_rdlock(&st->map_lock);
		if (st->map && st->map->slot[slot] < st->map->nnodes) {
			const struct lk_rd_node *nd = &st->map->node[st->map->slot[slot]];
			snprintf(host, size, "%s", nd->host);
			*port = nd->port;
			ok = true;
		}
		bool none = !st->map;
		pthread_rwlock_unlock(&st->map_lock);
		if (!ok && !map_refresh(st, none))
			break;
	}
	return ok;
}

/* A MOVED slot host:port: patched into the map at once (a full refresh follows when due). */
static void map_patch(struct rd_store *st, uint16_t slot, const char *host, int port)
{
	pthread_rwlock_wrlock(&st->map_lock);
	struct lk_rd_slotmap *m = st->map;
	if (m) {
		int i;
		for (i = 0; i < m->nnodes; i++)
			if (m->node[i].port == port && !strcmp(m->node[i].host, host))
				break;
		if (i == m->nnodes && i < LK_RD_MAX_NODES) {
			snprintf(m->node[i].host, sizeof m->node[i].host, "%s", host);
			m->node[i].port = port;
			m->nnodes++;
		}
		if (i < m->nnodes)
			m->slot[slot] = (uint16_t)i;
	}
	pthread_rwlock_unlock(&st->map_lock);
}

/* This thread's connection to node host:port, ready to send on. */
static enum lk_err node_conn(struct rd_store *st, const char *host, int port, struct rconn **out)
{
	struct rconn *head = thread_conn(st), *c;
	if (!head)
		return LK_ENOMEM;
	for (c = head; c; c = c->peer)
		if (c->port == port && !strcmp(c->host, host))
			break;
	if (!c && !head->host[0]) {
		c = head; /* the thread's first connection, not yet given a node */
	} else if (!c) {
		if (!(c = calloc(1, sizeof *c)))
			return LK_ENOMEM;
		c->st = st;
		c->peer = head->peer;
		head->peer = c;
	}
	if (c->port != port || strcmp(c->host, host)) {
		conn_drop(c);
		snprintf(c->host, sizeof c->host, "%s", host);
		c->port = port;
	}
	enum lk_err err = conn_ready(st, c, NULL);
	if (!err)
		*out = c;
	return err;
}

static redisReply *send_argv(struct rconn *c, int argc, const char **argv, const size_t *len);

/* Send on c with ASKING first (the slot's importing node); NULL on an I/O failure. */
static redisReply *send_asking(struct rconn *c, int argc, const char **argv, const size_t *len)
{
	struct pipeguard g;
	void *a = NULL, *v = NULL;
	const char *ask[] = {"ASKING"};
	const size_t al[] = {6};

	guard_begin(&g);
	errno = 0;
	bool ok = redisAppendCommandArgv(c->c, 1, ask, al) == REDIS_OK &&
		  redisAppendCommandArgv(c->c, argc, argv, len) == REDIS_OK &&
		  redisGetReply(c->c, &a) == REDIS_OK && redisGetReply(c->c, &v) == REDIS_OK;
	int e = errno;
	guard_end(&g);
	if (a)
		freeReplyObject(a);
	if (!ok || !v || c->c->err) {
		note_failure(c->st, e, c->c->errstr);
		if (v)
			freeReplyObject(v);
		conn_drop(c);
		return NULL;
	}
	return v;
}

static bool err_is(const redisReply *r, const char *word)
{
	size_t n = strlen(word);
	return r->type == REDIS_REPLY_ERROR && r->len >= n && !memcmp(r->str, word, n) &&
	       (r->len == n || r->str[n] == ' ');
}

static void pause_ms(int ms)
{
	struct timespec ts = {0, (long)ms * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Send argv to the primary serving key's slot and follow the cluster (see above). The
 * reply may be an error reply other than a redirection (the caller maps it); NULL with
 * *err on failure. *cp: the connection that answered.
 */
static redisReply *route(struct rd_store *st, const char *key, size_t klen, bool script, int argc,
			 const char **argv, const size_t *len, struct rconn **cp, enum lk_err *err)
{
	uint16_t slot = lk_rd_keyslot(key, klen);
	int64_t until = lk_rd_mono_ms() + RESHARD_WAIT_MS;
	char host[256];
	int port = 0, lost = 0;
	bool asking = false;

	*err = LK_ESTORE;
	for (int hop = 0; hop < MAX_HOPS; hop++) {
		struct rconn *c;
		redisReply *r;
		if (lk_rd_held(st))
			return NULL;
		if (!asking && !node_for(st, slot, host, sizeof host, &port))
			return NULL;
		if ((*err = node_conn(st, host, port, &c))) {
			/* a node gone: after a failover the map names its successor */
			if (*err == LK_ENOMEM || lost++ || !map_refresh(st, true))
				return NULL;
			asking = false;
			continue;
		}
		r = asking ? send_asking(c, argc, argv, len) : send_argv(c, argc, argv, len);
		asking = false;
		if (!r) {
			if (lost++ || !map_refresh(st, true)) {
				*err = LK_ESTORE;
				return NULL;
			}
			continue;
		}
		if (r->type != REDIS_REPLY_ERROR) {
			*cp = c;
			return r;
		}
		bool ask = false;
		uint16_t rs = 0;
		char to[256];
		int tp = 0;
		if ((err_is(r, "MOVED") || err_is(r, "ASK")) &&
		    lk_rd_redirect_parse(r->str, r->len, &ask, &rs, to, sizeof to, &tp)) {
			freeReplyObject(r);
			if (!to[0]) /* "MOVED 1 :6380": the same host */
				snprintf(to, sizeof to, "%s", host);
			if (!ask) {
				map_patch(st, rs, to, tp);
				map_refresh(st, false);
				continue;
			}
			if (!script) {
				snprintf(host, sizeof host, "%s", to);
				port = tp;
				asking = true;
				continue;
			}
			/* a script on a slot in motion: wait until the move is done */
		} else if (err_is(r, "TRYAGAIN") || err_is(r, "CLUSTERDOWN")) {
			freeReplyObject(r);
		} else {
			*cp = c;
			return r;
		}
		if (lk_rd_mono_ms() >= until) {
			*err = LK_ESTORE;
			return NULL;
		}
		pause_ms(20);
		hop--; /* waiting is bounded by time, not by hops */
	}
	*err = LK_ESTORE;
	return NULL;
}

/* The key a command names (argv[1]); keyless ones go to G_KEY's node. */
static const char *cmd_key(int argc, const char **argv, const size_t *len, size_t *klen)
{
	if (argc < 2 || !strcmp(argv[0], "PING") || !strcmp(argv[0], "INFO")) {
		*klen = sizeof G_KEY - 1;
		return G_KEY;
	}
	*klen = len[1];
	return argv[1];
}

/* ---------------------------------------------------------------- commands */

/* Map an error reply. Errors that mean the connection itself is in a bad state (lost
 * authentication after a failover, say) drop it so the next call starts afresh. */
static enum lk_err map_error(struct rconn *c, const redisReply *r)
{
	char w[32];
	err_word(r, w, sizeof w);
	if (!strcmp(w, "WRONGTYPE"))
		return LK_ESTORE_CORRUPT; /* a key of ours holds something else */
	if (!strcmp(w, "NOAUTH") || !strcmp(w, "WRONGPASS") || !strcmp(w, "NOPERM") ||
	    !strcmp(w, "READONLY") || !strcmp(w, "MASTERDOWN"))
		conn_drop(c);
	/* OOM, LOADING, BUSY, MISCONF, script errors: the store cannot do it now. */
	return LK_ESTORE;
}

/* Send one command on c and read its reply. NULL after an I/O error or timeout, with the
 * connection dropped (and, on a timeout, the store held). */
static redisReply *send_argv(struct rconn *c, int argc, const char **argv, const size_t *len)
{
	struct pipeguard g;
	guard_begin(&g);
	errno = 0;
	redisReply *r = redisCommandArgv(c->c, argc, argv, len);
	int e = errno; /* before guard_end's system calls */
	guard_end(&g);
	if (!r || c->c->err) {
		note_failure(c->st, e, c->c->errstr);
		if (r)
			freeReplyObject(r);
		conn_drop(c);
		return NULL;
	}
	return r;
}

/* After a write on c: remembered for lk_rd_settle when there is a replica to wait for. A
 * primary that had no replica connected when c was made, and (RD_SENTINEL) none that the
 * sentinels considered alive, has nothing to wait for: a replica that joins later copies
 * everything, and no failover can happen without one. RD_SENTINEL: once one has joined,
 * the subscriber's heartbeat has c made again within about a heartbeat, and the new c
 * waits (st->unguarded); the count is not redone here, so a write costs no more. */
static void wrote(struct rconn *c)
{
	if (c->st->mode != RD_SINGLE && c->replicas > 0)
		c->dirty = true;
}

enum lk_err lk_rd_settle(struct rd_store *st, enum lk_err op)
{
	static const char *argv[] = {"WAIT", "1", STR(WAIT_MS)};
	static const size_t len[] = {4, 1, sizeof STR(WAIT_MS) - 1};
	struct rconn *head = st->mode == RD_SINGLE ? NULL : pthread_getspecific(st->key), *c;
	struct pipeguard g;
	bool ok = true;

	if (!head)
		return op;
	/* The WAITs of every node written to go out first, then their answers are read: the
	 * nodes wait for their replicas at the same time. */
	guard_begin(&g);
	for (c = head; c; c = c->peer) {
		if (!c->dirty || !c->c)
			continue;
		int done = 0;
		if (redisAppendCommandArgv(c->c, 3, argv, len) != REDIS_OK)
			conn_drop(c);
		while (c->c && !done)
			if (redisBufferWrite(c->c, &done) != REDIS_OK)
				conn_drop(c);
	}
	for (c = head; c; c = c->peer) {
		if (c->dirty && c->c) {
			void *v = NULL;
			errno = 0;
			if (redisGetReply(c->c, &v) != REDIS_OK || !v) {
				note_failure(st, errno, c->c->errstr);
				conn_drop(c);
			} else {
				redisReply *r = v;
				bool acked = r->type == REDIS_REPLY_INTEGER && r->integer >= 1;
				freeReplyObject(r);
				if (!acked)
					conn_drop(c); /* the next connection counts the replicas afresh */
			}
		}
		ok = ok && !c->lost && !(c->dirty && !c->c);
		c->dirty = c->lost = false;
	}
	guard_end(&g);
	return op == LK_OK && !ok ? LK_ESTORE : op;
}

int lk_rd_info_replicas(const redisReply *r)
{
	size_t n = 0;
	const char *v;

	if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) || !r->str)
		return -1;
	/* at most 4 digits and nothing else on the line: no overflow, no "1abc" read as 1 */
	v = info_field(r->str, "connected_slaves", &n);
	if (!v || n < 1 || n > 4 || strspn(v, "0123456789") != n)
		return -1;
	return atoi(v);
}

int lk_rd_connected_replicas(struct rd_store *st)
{
	static const char *argv[] = {"INFO", "replication"};
	static const size_t len[] = {4, 11};
	redisReply *r = NULL;

	if (lk_rd_cmd(st, 2, argv, len, &r, NULL) != LK_OK)
		return -1;
	int n = lk_rd_info_replicas(r);
	freeReplyObject(r);
	return n;
}

/* The commands that write, of those redis.c sends outside scripts. */
static bool writes(const char *cmd)
{
	return !strcmp(cmd, "SET") || !strcmp(cmd, "HSET");
}

/* Run one command on this thread's connection. *out: the reply (caller frees with
 * freeReplyObject), never an error reply; *cp (may be NULL): the connection used. */
enum lk_err lk_rd_cmd(struct rd_store *st, int argc, const char **argv, const size_t *len,
			redisReply **out, struct rconn **cp)
{
	struct rconn *c;
	enum lk_err err;
	redisReply *r = NULL;

	if (st->mode == RD_CLUSTER) {
		size_t klen;
		const char *key = cmd_key(argc, argv, len, &klen);
		if (!(r = route(st, key, klen, false, argc, argv, len, &c, &err)))
			return err;
	} else {
		if ((err = lk_rd_conn_get(st, &c, NULL)))
			return err;
		if (!(r = send_argv(c, argc, argv, len)))
			return LK_ESTORE;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		err = map_error(c, r);
		freeReplyObject(r);
		return err;
	}
	if (writes(argv[0]))
		wrote(c);
	*out = r;
	if (cp)
		*cp = c;
	return LK_OK;
}

void lk_rd_arg(struct lk_rd_args *a, const void *p, size_t n)
{
	if (a->n >= LK_RD_MAX_ARGS)
		abort(); /* our bug: a script called with more than LK_RD_MAX_ARGS arguments */
	a->v[4 + a->n] = p;
	a->l[4 + a->n] = n;
	a->n++;
}

/* Text of at most max bytes (a struct field's size - 1: never reads past the field). */
void lk_rd_arg_str(struct lk_rd_args *a, const char *s, size_t max)
{
	lk_rd_arg(a, s, strnlen(s, max));
}

void lk_rd_arg_i64(struct lk_rd_args *a, int64_t v)
{
	if (a->nnum >= LK_RD_MAX_ARGS)
		abort(); /* our bug, as in a_add */
	char *b = a->num[a->nnum++];
	int n = snprintf(b, sizeof a->num[0], "%lld", (long long)v);
	lk_rd_arg(a, b, (size_t)n);
}

void lk_rd_arg_hex(struct lk_rd_args *a, const unsigned char h[32])
{
	if (a->nhex >= 2)
		abort(); /* our bug: at most two hashes per call */
	char *b = a->hex[a->nhex++];
	lk_rd_hex(h, 32, b);
	lk_rd_arg(a, b, 64);
}

/* The status a script put first in its reply. */
static enum lk_err script_status(const redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER)
		return LK_ESTORE_CORRUPT;
	switch (r->element[0]->integer) {
	case ST_OK:
		return LK_OK;
	case ST_NOT_FOUND:
		return LK_ENOT_FOUND;
	case ST_EXISTS:
		return LK_EEXISTS;
	default:
		return LK_ESTORE_CORRUPT;
	}
}

bool lk_rd_script_init(struct lk_rd_script *s, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!EVP_Digest(s[i].src, strlen(s[i].src), md, &k, EVP_sha1(), NULL) || k != 20)
			return false;
		lk_rd_hex(md, 20, s[i].sha);
	}
	return true;
}

/* EVALSHA first; on NOSCRIPT (a restarted or flushed server) EVAL, which also caches it
 * again. */
enum lk_err lk_rd_eval(struct rd_store *st, const char *key, const struct lk_rd_script *s,
		       struct lk_rd_args *a, redisReply **out)
{
	struct rconn *c;
	enum lk_err err;
	redisReply *r = NULL;

	a->v[0] = "EVALSHA";
	a->l[0] = 7;
	a->v[1] = s->sha;
	a->l[1] = 40;
	a->v[2] = "1";
	a->l[2] = 1;
	a->v[3] = key;
	a->l[3] = strlen(key);
	if (st->mode == RD_CLUSTER) {
		if (!(r = route(st, key, a->l[3], true, a->n + 4, a->v, a->l, &c, &err)))
			return err;
	} else {
		if ((err = lk_rd_conn_get(st, &c, NULL)))
			return err;
		if (!(r = send_argv(c, a->n + 4, a->v, a->l)))
			return LK_ESTORE;
	}
	if (r->type == REDIS_REPLY_ERROR && r->str && !strncmp(r->str, "NOSCRIPT", 8)) {
		freeReplyObject(r);
		a->v[0] = "EVAL";
		a->l[0] = 4;
		a->v[1] = s->src;
		a->l[1] = strlen(s->src);
		if (st->mode == RD_CLUSTER) {
			if (!(r = route(st, key, a->l[3], true, a->n + 4, a->v, a->l, &c, &err)))
				return err;
		} else if (!(r = send_argv(c, a->n + 4, a->v, a->l))) {
			return LK_ESTORE;
		}
	}
	if (r->type == REDIS_REPLY_ERROR) {
		err = map_error(c, r);
		freeReplyObject(r);
		return err;
	}
	if ((err = script_status(r))) {
		freeReplyObject(r);
		return err;
	}
	if (strncmp(s->src, "#!lua flags=no-writes", 21) != 0)
		wrote(c);
	*out = r;
	return LK_OK;
}

enum lk_err lk_rd_eval0(struct rd_store *st, const char *key, const struct lk_rd_script *s,
			struct lk_rd_args *a)
{
	redisReply *r = NULL;
	enum lk_err err = lk_rd_eval(st, key, s, a, &r);
	if (r)
		freeReplyObject(r);
	return err;
}

enum lk_err lk_rd_eval_n(struct rd_store *st, const char *key, const struct lk_rd_script *s,
			 struct lk_rd_args *a, int64_t *n)
{
	redisReply *r = NULL;
	enum lk_err err = lk_rd_eval(st, key, s, a, &r);
	if (err)
		return err;
	if (r->elements < 2 || r->element[1]->type != REDIS_REPLY_INTEGER)
		err = LK_ESTORE_CORRUPT;
	else if (n)
		*n = r->element[1]->integer;
	freeReplyObject(r);
	return err;
}

/* ---------------------------------------------------------------- replies */

/* An integer from an integer reply or decimal text. */
bool lk_rd_int(const redisReply *r, int64_t *v)
{
	if (r->type == REDIS_REPLY_INTEGER) {
		*v = r->integer;
		return true;
	}
	if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20)
		return false;
	char buf[24], *end;
	memcpy(buf, r->str, r->len);
	buf[r->len] = '\0';
	errno = 0;
	long long x = strtoll(buf, &end, 10);
	if (errno || *end)
		return false;
	*v = x;
	return true;
}

/* Text from a string reply (nil: empty). */
bool lk_rd_text(const redisReply *r, char *dst, size_t size)
{
	if (r->type == REDIS_REPLY_NIL) {
		dst[0] = '\0';
		return true;
	}
	if (r->type != REDIS_REPLY_STRING)
		return false;
	lk_rd_copy_text(dst, size, r->str, r->len);
	return true;
}

static int unhex1(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 64 lowercase hex digits -> 32 bytes. */
bool lk_rd_hash(const redisReply *r, unsigned char out[32])
{
	if (r->type != REDIS_REPLY_STRING || r->len != 64)
		return false;
	for (size_t i = 0; i < 32; i++) {
		int hi = unhex1(r->str[2 * i]), lo = unhex1(r->str[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

/* The next netstring "N:bytes," of [*p, end). */
static bool ns_next(const char **p, const char *end, const char **s, size_t *n)
{
	size_t k = 0;
	const char *q = *p;
	int digits = 0;
	while (q < end && *q >= '0' && *q <= '9' && digits < 9) {
		k = k * 10 + (size_t)(*q++ - '0');
		digits++;
	}
	if (!digits || q >= end || *q != ':' || (size_t)(end - q - 1) < k + 1 || q[1 + k] != ',')
		return false;
	*s = q + 1;
	*n = k;
	*p = q + 2 + k;
	return true;
}

bool lk_rd_ns_text(const char **p, const char *end, char *dst, size_t size)
{
	const char *s;
	size_t n;
	if (!ns_next(p, end, &s, &n))
		return false;
	lk_rd_copy_text(dst, size, s, n);
	return true;
}

bool lk_rd_ns_i64(const char **p, const char *end, int64_t *v)
{
	const char *s;
	size_t n;
	char buf[24], *e;
	if (!ns_next(p, end, &s, &n) || n == 0 || n >= sizeof buf)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	long long x = strtoll(buf, &e, 10);
	if (errno || *e)
		return false;
	*v = x;
	return true;
}

/* Append netstring s[0..n) to buf (size cap) at *len. */
bool lk_rd_ns_put(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
	int k = snprintf(buf + *len, cap - *len, "%zu:", n);
	if (k < 0 || (size_t)k + n + 1 >= cap - *len)
		return false;
	*len += (size_t)k;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[(*len)++] = ',';
	buf[*len] = '\0';
	return true;
}

/* ---------------------------------------------------------------- the store handle */

void lk_rd_wipe(redisReply *r)
{
	if (r->type == REDIS_REPLY_STRING && r->str)
		sodium_memzero(r->str, r->len);
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		lk_rd_wipe(r->element[i]);
}

void lk_rd_free(struct rd_store *st)
{
	struct rconn *c, *next;

	if (!st)
		return;
	lk_rd_sub_stop(st); /* its thread uses a connection of ours: first */
	/* After this no thread's exit calls conn_thread_exit for this store. */
	pthread_key_delete(st->key);
	pthread_mutex_lock(&st->mu);
	c = st->conns;
	st->conns = NULL;
	pthread_mutex_unlock(&st->mu);
	for (; c; c = next) {
		next = c->next;
		conn_free(c);
	}
	pthread_mutex_destroy(&st->mu);
	if (st->pass) {
		sodium_memzero(st->pass, strlen(st->pass));
		free(st->pass);
	}
	if (st->sentinel_pass) {
		sodium_memzero(st->sentinel_pass, strlen(st->sentinel_pass));
		free(st->sentinel_pass);
	}
	for (int i = 0; i < st->nseeds; i++)
		free(st->seeds[i].host);
	if (st->mode == RD_CLUSTER)
		pthread_rwlock_destroy(&st->map_lock);
	free(st->map);
	free(st->name);
	free(st->user);
	free(st->host);
	free(st);
}

/* Decode %XX escapes of s[0..n) into a new string; NULL when malformed or out of memory. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t k = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[k++] = s[i];
			continue;
		}
		int hi = i + 2 < n ? unhex1((char)(s[i + 1] | 0x20)) : -1;
		int lo = i + 2 < n ? unhex1((char)(s[i + 2] | 0x20)) : -1;
		if (hi < 0 || lo < 0)
			goto bad;
		out[k++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[k] = '\0';
	return out;
bad:
	sodium_memzero(out, n + 1);
	free(out);
	return NULL;
}

#define URL_FORM "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]"
#define SENTINEL_FORM "redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/NAME[/DB]"
#define CLUSTER_FORM "redis+cluster://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...][/NAMESPACE]"

/* HOST[:PORT] or [IPV6][:PORT] in [s, end) into *host (allocated) and *port. An empty
 * host is 127.0.0.1. */
static enum lk_err parse_hostport(const char *s, const char *end, int defport, const char *form,
				  char **host, int *port, struct lk_errinfo *ei)
{
	const char *hend, *p;
	long v;
	char *e;

	*port = defport;
	if (*s == '[') {
		hend = memchr(s, ']', (size_t)(end - s));
		if (!hend)
			return lk_errf(ei, LK_EINVAL, "bad store URL: unclosed [ in the host");
		*host = strndup(s + 1, (size_t)(hend - s - 1));
		p = hend + 1;
	} else {
		hend = memchr(s, ':', (size_t)(end - s));
		if (!hend)
			hend = end;
		*host = strndup(s, (size_t)(hend - s));
		p = hend;
	}
	if (!*host)
		return lk_errf(ei, LK_ENOMEM, "out of memory opening the store");
	if (!(*host)[0]) {
		free(*host);
		if (!(*host = strdup(DEFAULT_HOST)))
			return lk_errf(ei, LK_ENOMEM, "out of memory opening the store");
	}
	if (p < end) {
		if (*p != ':' || p + 1 == end || (size_t)(end - p - 1) > 5)
			return lk_errf(ei, LK_EINVAL, "bad store URL: bad port (%s)", form);
		char buf[8];
		memcpy(buf, p + 1, (size_t)(end - p - 1));
		buf[end - p - 1] = '\0';
		v = strtol(buf, &e, 10);
		if (*e || buf[0] < '0' || buf[0] > '9' || v < 1 || v > 65535)
			return lk_errf(ei, LK_EINVAL, "bad store URL: port must be 1 to 65535");
		*port = (int)v;
	}
	return LK_OK;
}

/* "/DB" (or nothing) at s into st->db. */
static enum lk_err parse_db(struct rd_store *st, const char *s, struct lk_errinfo *ei)
{
	long v;
	char *e;

	if (*s != '/' || !s[1])
		return *s && strcmp(s, "/") ? lk_errf(ei, LK_EINVAL, "bad store URL: DB must be a number")
					    : LK_OK;
	errno = 0;
	v = strtol(s + 1, &e, 10);
	if (*e || errno || s[1] < '0' || s[1] > '9' || v < 0 || v > INT_MAX)
		return lk_errf(ei, LK_EINVAL, "bad store URL: DB must be a number");
	st->db = (int)v;
	return LK_OK;
}

/* Parse "//[[USER]:PASSWORD@]ADDRESSES[/PATH]" into st: one HOST[:PORT] and /DB for
 * RD_SINGLE, sentinels and /NAME[/DB] for RD_SENTINEL. Details never quote the URL (it
 * may hold the password). */
static enum lk_err parse_url(struct rd_store *st, const char *rest, struct lk_errinfo *ei)
{
	const char *form = st->mode == RD_SENTINEL  ? SENTINEL_FORM
			   : st->mode == RD_CLUSTER ? CLUSTER_FORM
						    : URL_FORM;
	const char *auth, *end, *at, *host, *p;
	enum lk_err err;

	st->port = DEFAULT_PORT;
	snprintf(st->root, sizeof st->root, "lk");
	if (!rest || strncmp(rest, "//", 2) != 0)
		return lk_errf(ei, LK_EINVAL, "bad store URL: expected %s", form);
	auth = rest + 2;
	end = auth + strcspn(auth, "/?#");
	if (*end == '?' || *end == '#' || strpbrk(end, "?#"))
		return lk_errf(ei, LK_EINVAL, "bad store URL: no query or fragment in %s", form);
	at = NULL;
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	host = auth;
	if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		if (!colon)
			return lk_errf(ei, LK_EINVAL,
				       "bad store URL: the user part needs \":PASSWORD\" (%s)", form);
		if (colon > auth && !(st->user = pct_decode(auth, (size_t)(colon - auth))))
			return lk_errf(ei, LK_EINVAL, "bad store URL: bad %%-escape in the user name");
		if (!(st->pass = pct_decode(colon + 1, (size_t)(at - colon - 1))))
			return lk_errf(ei, LK_EINVAL, "bad store URL: bad %%-escape in the password");
		if (!st->pass[0]) {
			free(st->pass);
			st->pass = NULL;
		}
		host = at + 1;
	}
	if (st->mode == RD_SINGLE) {
		if ((err = parse_hostport(host, end, DEFAULT_PORT, form, &st->host, &st->port, ei)) ||
		    (err = parse_db(st, end, ei)))
			return err;
	} else {
		for (const char *h = host; h < end;) {
			const char *comma = memchr(h, ',', (size_t)(end - h));
			const char *e2 = comma ? comma : end;
			if (st->nseeds == LK_RD_MAX_SEEDS)
				return lk_errf(ei, LK_EINVAL, "bad store URL: more than %d addresses",
					       LK_RD_MAX_SEEDS);
			if (e2 == h)
				return lk_errf(ei, LK_EINVAL, "bad store URL: an empty address");
			struct rd_addr *a = &st->seeds[st->nseeds++];
			if ((err = parse_hostport(h, e2,
						  st->mode == RD_CLUSTER ? DEFAULT_PORT
									 : DEFAULT_SENTINEL_PORT,
						  form, &a->host, &a->port, ei)))
				return err;
			h = comma ? comma + 1 : end;
		}
		if (st->mode == RD_CLUSTER) {
			/* a cluster has database 0 only; a path names a namespace instead, so that
			 * deployments (or test runs) can share one cluster */
			const char *ns = *end == '/' ? end + 1 : end;
			size_t n = strlen(ns);
			if (n > 32 || strspn(ns, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
						 "0123456789_-") != n)
				return lk_errf(ei, LK_EINVAL,
					       "bad store URL: the namespace is 1 to 32 of A-Z a-z 0-9 _ - "
					       "(%s[/NAMESPACE])",
					       form);
			if (n)
				snprintf(st->root, sizeof st->root, "lk.%s", ns);
			goto done;
		}
		const char *name = *end == '/' ? end + 1 : end, *nend = name + strcspn(name, "/");
		if (!st->nseeds || nend == name)
			return lk_errf(ei, LK_EINVAL, "bad store URL: expected %s", form);
		if (!(st->name = pct_decode(name, (size_t)(nend - name))))
			return lk_errf(ei, LK_EINVAL, "bad store URL: bad %%-escape in the name");
		if ((err = parse_db(st, nend, ei)))
			return err;
		const char *env = getenv(SENTINEL_PASS_ENV);
		if (env && *env && !(st->sentinel_pass = strdup(env)))
			return lk_errf(ei, LK_ENOMEM, "out of memory opening the store");
	}
done:
	if (!st->pass) {
		const char *env = getenv(PASS_ENV);
		if (env && *env && !(st->pass = strdup(env)))
			return lk_errf(ei, LK_ENOMEM, "out of memory opening the store");
	}
	if (st->mode == RD_SINGLE) {
		snprintf(st->where, sizeof st->where,
			 strchr(st->host, ':') ? "redis://[%s]:%d/%d" : "redis://%s:%d/%d", st->host,
			 st->port, st->db);
	} else if (st->mode == RD_SENTINEL) {
		const struct rd_addr *a = &st->seeds[0];
		snprintf(st->where, sizeof st->where,
			 strchr(a->host, ':') ? "redis+sentinel://[%s]:%d%s/%s/%d"
					      : "redis+sentinel://%s:%d%s/%s/%d",
			 a->host, a->port, st->nseeds > 1 ? ",..." : "", st->name, st->db);
	} else {
		const struct rd_addr *a = &st->seeds[0];
		snprintf(st->where, sizeof st->where,
			 strchr(a->host, ':') ? "redis+cluster://[%s]:%d%s/%s"
					      : "redis+cluster://%s:%d%s/%s",
			 a->host, a->port, st->nseeds > 1 ? ",..." : "",
			 strchr(st->root, '.') ? strchr(st->root, '.') + 1 : "");
	}
	snprintf(st->channel, sizeof st->channel, "%s:{g}:gen", st->root);
	return LK_OK;
}

/*
 * Refuse a server that may evict keys: an evicted revocation set would let revoked tokens
 * through again, and an evicted index would let a session outlive a password change. Only
 * "noeviction" is safe (the Redis default). Checked at open; a server reconfigured later
 * is not noticed until the next open.
 */
enum lk_err lk_rd_check_policy(struct rd_store *st, const struct rconn *c,
				struct lk_errinfo *ei)
{
	if (!c->policy[0] || !strcmp(c->policy, "noeviction"))
		return LK_OK;
	return lk_errf(ei, LK_ESTORE, "%s has maxmemory-policy %s; latchkey needs noeviction",
		       st->where, c->policy);
}

enum lk_err lk_rd_new(const char *rest, enum rd_mode mode, const struct lk_store_ops *ops,
		      struct rd_store **out, struct lk_errinfo *ei)
{
	struct rd_store *st;
	enum lk_err err;

	*out = NULL;
	if (!(st = calloc(1, sizeof *st)))
		return lk_errf(ei, LK_ENOMEM, "out of memory opening the store");
	st->base.ops = ops;
	st->mode = mode;
	if (mode == RD_CLUSTER && pthread_rwlock_init(&st->map_lock, NULL) != 0) {
		free(st);
		return lk_errf(ei, LK_ENOMEM, "cannot create a lock");
	}
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		free(st);
		return lk_errf(ei, LK_ENOMEM, "cannot create a mutex");
	}
	if (pthread_key_create(&st->key, conn_thread_exit) != 0) {
		pthread_mutex_destroy(&st->mu);
		free(st);
		return lk_errf(ei, LK_ENOMEM, "no thread-specific key left");
	}
	lk_rd_sub_init(st);
	if ((err = parse_url(st, rest, ei))) {
		lk_rd_free(st);
		return err;
	}
	*out = st;
	return LK_OK;
}
