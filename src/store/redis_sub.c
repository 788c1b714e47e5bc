/* SPDX-License-Identifier: MIT */
/*
 * The generation feed of the Redis store (see redis_int.h): one subscriber thread per store
 * handle turns the PUBLISH that every generation-bumping script sends into an atomic load
 * for generation() and a wake-up for generation_wait().
 *
 * The window this opens: between a script's commit on the server and the PUBLISH reaching
 * this process (sub-millisecond on a LAN) another instance still reads the old generation,
 * so a cached session of that instance can be served once more in that window. The process
 * that made the change moves its own generation at once (lk_rd_sub_bump), so a client's
 * read-after-write on one instance stays exact. While the subscription is down
 * (connecting, Redis gone) or the store is held after a timeout, generation() is random on
 * every call, as it always was with Redis unreachable: nothing is trusted from a cache.
 *
 * A request trusts the pushed value only while nothing waits in the subscriber's socket or
 * is being handled (current()), and only within TRUST_US (1.5 s) of the subscription's last
 * word. Every HEARTBEAT_MS (0.5 s) the thread sends a PING on the subscription (its PONG is
 * that word) and GETs the counter on a command connection (a change that published
 * nothing, such as a FLUSHALL, is seen within one heartbeat); with Sentinel it also asks
 * the sentinels whether the primary has moved and whether a replica has appeared (moved,
 * recount: both make the other threads' connections anew). So an instance cut off from
 * a Redis that others still reach serves cached sessions for at most 1.5 s before it reads
 * the store again (and answers 503 if the store cannot be read); a frozen Redis, through
 * which no revocation can be made, likewise.
 *
 * The thread reads its connection with poll() on the socket and on a pipe that close()
 * writes to, so it never blocks a shutdown; a subscription that does not answer its PING
 * within PING_WAIT_MS is dropped and made again.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <sodium.h>

#include "store/redis_int.h"

#define FIRST_WAIT_MS 2000 /* the first generation() waits this long for a subscription */
#define KICK_WAIT_MS 200   /* generation() while down: a reconnect attempt, this long */
#define HEARTBEAT_MS 500   /* a PING on the subscription and a GET of the counter */
#define PING_WAIT_MS 1500  /* no PONG this long: the subscription is dropped and made again */
#define TRUST_US 1500000   /* the pushed value is trusted this long after the last word */

void lk_rd_sub_init(struct rd_store *st)
{
	pthread_mutex_init(&st->sub_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->sub_cv, &ca);
	pthread_condattr_destroy(&ca);
	st->sub_pipe[0] = st->sub_pipe[1] = -1;
	atomic_init(&st->sub_fd, -1);
	atomic_init(&st->sub_busy, false);
}

static struct timespec deadline(int64_t end_ms)
{
	struct timespec ts = {(time_t)(end_ms / 1000), (long)(end_ms % 1000) * 1000000L};
	return ts;
}

static uint64_t random_gen(void)
{
	uint64_t g;
	randombytes_buf(&g, sizeof g);
	return g;
}

/* Called with sub_mu held. */
static void set_state(struct rd_store *st, bool up)
{
	atomic_store(&st->sub_up, up);
	pthread_cond_broadcast(&st->sub_cv);
}

static void attempt_done(struct rd_store *st, bool up)
{
	pthread_mutex_lock(&st->sub_mu);
	st->sub_attempts++;
	set_state(st, up);
	pthread_mutex_unlock(&st->sub_mu);
}

static void heard(struct rd_store *st)
{
	pthread_mutex_lock(&st->sub_mu);
	atomic_store(&st->sub_heard_us, lk_rd_mono_us());
	pthread_cond_broadcast(&st->sub_cv);
	pthread_mutex_unlock(&st->sub_mu);
}

/* Odd constants that spread the three parts of a generation apart (and the local part). */
#define MIX_SEQ 0xd1b54a32d192ed03ULL
#define MIX_LOCAL 0x9e3779b97f4a7c15ULL

/*
 * A new value: the counter v (lk:{g}:gen), and, when `message`, one more message or
 * subscription seen. The generation is the server's run_id hash + the counter + the
 * messages seen: every script that ends something publishes on the channel, those of the
 * global slot with the counter they INCRed, those of a user's slot (which cannot reach the
 * counter on a cluster) with a word of their own; and a new subscription counts too,
 * since messages sent while it was down are gone.
 */
static void take_value(struct rd_store *st, uint64_t run, int64_t v, bool message)
{
	pthread_mutex_lock(&st->sub_mu);
	atomic_store(&st->sub_heard_us, lk_rd_mono_us());
	atomic_store(&st->sub_count, v);
	st->sub_seq += message;
	atomic_store(&st->sub_gen, run + (uint64_t)v + st->sub_seq * MIX_SEQ);
	pthread_cond_broadcast(&st->sub_cv);
	pthread_mutex_unlock(&st->sub_mu);
}

void lk_rd_sub_bump(struct rd_store *st)
{
	pthread_mutex_lock(&st->sub_mu);
	atomic_fetch_add(&st->local_gen, 1);
	pthread_cond_broadcast(&st->sub_cv);
	pthread_mutex_unlock(&st->sub_mu);
}

/* What generation() answers for the pushed value g. */
static uint64_t with_local(struct rd_store *st, uint64_t g)
{
	return g + atomic_load(&st->local_gen) * MIX_LOCAL;
}

static bool send_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		b += k;
		n -= (size_t)k;
	}
	return true;
}

/* Connect, SUBSCRIBE, then GET the counter on this thread's command connection. */
static bool subscribe(struct rd_store *st, struct rconn *c)
{
	char sub[128];
	int sn = snprintf(sub, sizeof sub, "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n",
			  strlen(st->channel), st->channel);
	const char *argv[] = {"GET", st->channel};
	size_t len[] = {3, strlen(st->channel)};
	redisReply *r = NULL;
	void *v = NULL;
	int64_t n = 0;

	if (lk_rd_held(st) || lk_rd_connect(st, c, NULL) != LK_OK)
		return false;
	if (!send_all(c->c->fd, sub, (size_t)sn) || redisGetReply(c->c, &v) != REDIS_OK || !v)
		return false;
	r = v;
	bool ok = r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
		  r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "subscribe");
	freeReplyObject(r);
	r = NULL;
	if (!ok)
		return false;
	/* This thread's command connection may still be the one to a server that has gone
	 * since: a failure drops it, and a second try connects afresh. */
	if (lk_rd_cmd(st, 2, argv, len, &r, NULL) != LK_OK &&
	    lk_rd_cmd(st, 2, argv, len, &r, NULL) != LK_OK)
		return false;
	ok = r->type == REDIS_REPLY_NIL || lk_rd_int(r, &n);
	freeReplyObject(r);
	if (ok)
		take_value(st, c->run, n, true);
	return ok;
}

/* The heartbeat's GET of the counter, on this thread's command connection: catches a
 * change that published nothing (FLUSHALL, a restart without persistence under the same
 * subscription is impossible: the subscription breaks) within one heartbeat. */
static void resync(struct rd_store *st, struct rconn *c)
{
	const char *argv[] = {"GET", st->channel};
	size_t len[] = {3, strlen(st->channel)};
	redisReply *r = NULL;
	int64_t n = 0;

	if (lk_rd_cmd(st, 2, argv, len, &r, NULL) != LK_OK)
		return;
	bool ok = r->type == REDIS_REPLY_NIL || lk_rd_int(r, &n);
	freeReplyObject(r);
	if (ok && n != atomic_load(&st->sub_count))
		take_value(st, c->run, n, false);
}

/* RD_SENTINEL, every heartbeat: the sentinels name another primary than the one this
 * subscription is on. Then every connection made before is dropped before its next use
 * (st->epoch), so no thread writes to a demoted or cut-off primary for more than a
 * heartbeat after the sentinels have moved on, and the subscription is made again on the
 * new one. A moment with no sentinel answering changes nothing. *alive: the replicas the
 * sentinel that answered considers alive (0 when none answered). */
static bool moved(struct rd_store *st, const struct rconn *c, int *alive)
{
	char host[256], addr[sizeof c->addr];
	int port;

	*alive = 0;
	if (st->mode != RD_SENTINEL ||
	    lk_rd_sentinel_primary(st, host, sizeof host, &port, alive, NULL))
		return false;
	snprintf(addr, sizeof addr, "%s:%d", host, port);
	if (!strcmp(addr, c->addr))
		return false;
	atomic_fetch_add(&st->epoch, 1);
	return true;
}

/* RD_SENTINEL, every heartbeat while some connection writes without WAIT (st->unguarded:
 * made when its primary had no replica connected and the sentinel counted none alive): a
 * replica has appeared since, the sentinels count one alive (alive) or the primary has one
 * connected. A failover to it can now happen, and would lose what such a connection
 * acknowledged, so every connection is made again (st->epoch) and counts afresh; the
 * threads pay one atomic load per call for this, as for a move. The flag goes first: a
 * connection made meanwhile either has the old epoch (dropped) or sets it again (another
 * bump next heartbeat, harmless). alive costs one more reply in the round trip moved()
 * makes anyway; the primary's own count (INFO replication) is asked only while the flag is
 * set and the sentinel counts none, which also catches a replica the sentinels do not
 * know yet (they learn of one from the primary's INFO, every 10 s) and sentinels that do
 * not answer SENTINEL REPLICAS. */
static void recount(struct rd_store *st, int alive)
{
	if (st->mode != RD_SENTINEL || !atomic_load(&st->unguarded))
		return;
	if (alive <= 0 && lk_rd_connected_replicas(st) <= 0)
		return;
	atomic_store(&st->unguarded, false);
	atomic_fetch_add(&st->epoch, 1);
}

/* Read messages until the connection fails or stop is asked. */
static void listen_loop(struct rd_store *st, struct rconn *c)
{
	static const char ping[] = "*1\r\n$4\r\nPING\r\n";
	int64_t ping_at = 0, beat = lk_rd_mono_ms();

	for (;;) {
		void *v = NULL;
		if (redisGetReplyFromReader(c->c, &v) != REDIS_OK)
			return;
		if (!v) /* everything read is handled: generation() may trust sub_gen again */
			atomic_store(&st->sub_busy, false);
		if (v) {
			redisReply *r = v;
			int64_t n;
			ping_at = 0;
			if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
			    r->element[0]->type == REDIS_REPLY_STRING &&
			    !strcmp(r->element[0]->str, "message"))
				take_value(st, c->run,
					   lk_rd_int(r->element[2], &n) ? n : atomic_load(&st->sub_count),
					   true);
			else
				heard(st); /* a PONG */
			freeReplyObject(r);
			continue;
		}
		struct pollfd p[2] = {{c->c->fd, POLLIN, 0}, {st->sub_pipe[0], POLLIN, 0}};
		int k = poll(p, 2, HEARTBEAT_MS / 2);
		if (k < 0 && errno != EINTR)
			return;
		if (p[1].revents) {
			char buf[64];
			(void)read(st->sub_pipe[0], buf, sizeof buf);
			pthread_mutex_lock(&st->sub_mu);
			bool stop = st->sub_stop;
			pthread_mutex_unlock(&st->sub_mu);
			if (stop)
				return;
			/* asked to prove the subscription alive: a PING now */
			if (!ping_at) {
				if (!send_all(c->c->fd, ping, sizeof ping - 1))
					return;
				ping_at = lk_rd_mono_ms();
			}
			continue;
		}
		if (p[0].revents) {
			/* Set before the bytes leave the socket: from their arrival until
			 * take_value, either the socket is readable or sub_busy is set, and
			 * current() trusts neither (see there). */
			atomic_store(&st->sub_busy, true);
			if (redisBufferRead(c->c) != REDIS_OK)
				return;
			continue;
		}
		int64_t now = lk_rd_mono_ms();
		if (ping_at && now - ping_at >= PING_WAIT_MS)
			return; /* no answer: a dead connection or a frozen server */
		if (now - beat >= HEARTBEAT_MS) {
			/* Every heartbeat: the subscription proves itself alive (its PONG renews
			 * the trust of current()), and the counter is read once. */
			beat = now;
			if (!ping_at) {
				if (!send_all(c->c->fd, ping, sizeof ping - 1))
					return;
				ping_at = now;
			}
			resync(st, c);
			int alive;
			if (moved(st, c, &alive))
				return;
			recount(st, alive);
		}
	}
}

static void *sub_main(void *arg)
{
	struct rd_store *st = arg;
	int backoff = 50;

	for (;;) {
		struct rconn c;
		memset(&c, 0, sizeof c);
		c.st = st;
		bool ok = subscribe(st, &c);
		if (ok)
			atomic_store(&st->sub_fd, c.c->fd);
		attempt_done(st, ok);
		if (ok) {
			backoff = 50;
			listen_loop(st, &c);
			pthread_mutex_lock(&st->sub_mu);
			set_state(st, false);
			pthread_mutex_unlock(&st->sub_mu);
			atomic_store(&st->sub_fd, -1);
			atomic_store(&st->sub_busy, false);
		}
		if (c.c)
			redisFree(c.c);
		pthread_mutex_lock(&st->sub_mu);
		int64_t end = lk_rd_mono_ms() + backoff;
		while (!st->sub_stop && !st->sub_kick && lk_rd_mono_ms() < end) {
			struct timespec ts = deadline(end);
			pthread_cond_timedwait(&st->sub_cv, &st->sub_mu, &ts);
		}
		bool stop = st->sub_stop;
		st->sub_kick = false;
		pthread_mutex_unlock(&st->sub_mu);
		if (stop)
			break;
		if (!ok && backoff < 1000)
			backoff *= 2;
	}
	return NULL;
}

/* Start the thread once; the first caller waits (bounded) for its first attempt. */
static void ensure(struct rd_store *st)
{
	if (atomic_load_explicit(&st->sub_started, memory_order_acquire))
		return;
	pthread_mutex_lock(&st->sub_mu);
	if (!atomic_load(&st->sub_started)) {
		if (pipe2(st->sub_pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
			if (pthread_create(&st->sub_th, NULL, sub_main, st) == 0) {
				atomic_store(&st->sub_started, true);
				int64_t end = lk_rd_mono_ms() + FIRST_WAIT_MS;
				while (st->sub_attempts == 0 && lk_rd_mono_ms() < end) {
					struct timespec ts = deadline(end);
					pthread_cond_timedwait(&st->sub_cv, &st->sub_mu, &ts);
				}
			} else {
				close(st->sub_pipe[0]);
				close(st->sub_pipe[1]);
				st->sub_pipe[0] = st->sub_pipe[1] = -1;
			}
		}
	}
	pthread_mutex_unlock(&st->sub_mu);
}

/* The last pushed value while subscribed and answering, else false. */
static bool pushed(struct rd_store *st, uint64_t *g)
{
	if (!atomic_load(&st->sub_up) || lk_rd_held(st) ||
	    atomic_load(&st->sub_heard_us) <= atomic_load(&st->io_fail_us))
		return false;
	*g = with_local(st, atomic_load(&st->sub_gen));
	return atomic_load(&st->sub_up);
}

/*
 * The value while subscribed and answering, else false. Also false while a message may
 * be on its way into sub_gen: the subscriber is handling what it read (sub_busy), or
 * bytes wait in its socket (a poll with no timeout). So a revocation whose PUBLISH
 * reached this host before this call is never missed because the subscriber thread has
 * not run yet (a loaded machine can delay it by milliseconds); the caller then reads the
 * store instead. The order matters: busy, then the socket, then the value.
 */
static bool current(struct rd_store *st, uint64_t *g)
{
	if (!atomic_load(&st->sub_up) || lk_rd_held(st) ||
	    atomic_load(&st->sub_heard_us) <= atomic_load(&st->io_fail_us) ||
	    lk_rd_mono_us() - atomic_load(&st->sub_heard_us) > TRUST_US ||
	    atomic_load(&st->sub_busy))
		return false;
	int fd = atomic_load(&st->sub_fd);
	if (fd >= 0) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 0) != 0)
			return false;
	}
	*g = with_local(st, atomic_load(&st->sub_gen));
	return atomic_load(&st->sub_up);
}

uint64_t lk_rd_sub_generation(struct rd_store *st)
{
	uint64_t g;

	ensure(st);
	if (current(st, &g))
		return g;
	if (pushed(st, &g)) /* a message on its way in: this caller reads the store instead */
		return random_gen();
	if (atomic_load(&st->sub_up) && !lk_rd_held(st)) {
		/* A connection failed after the subscription last answered: is it alive? */
		ssize_t k = write(st->sub_pipe[1], "p", 1);
		(void)k;
		int64_t end = lk_rd_mono_ms() + KICK_WAIT_MS;
		pthread_mutex_lock(&st->sub_mu);
		while (atomic_load(&st->sub_up) && !pushed(st, &g) && lk_rd_mono_ms() < end) {
			struct timespec ts = deadline(end);
			pthread_cond_timedwait(&st->sub_cv, &st->sub_mu, &ts);
		}
		pthread_mutex_unlock(&st->sub_mu);
		if (current(st, &g))
			return g;
	}
	if (atomic_load(&st->sub_started) && !atomic_load(&st->sub_up) && !lk_rd_held(st)) {
		/* Down: ask for an attempt now rather than after the back-off, and give it a
		 * moment (a refused connection fails in microseconds). */
		pthread_mutex_lock(&st->sub_mu);
		uint64_t n = st->sub_attempts;
		int64_t end = lk_rd_mono_ms() + KICK_WAIT_MS;
		st->sub_kick = true;
		pthread_cond_broadcast(&st->sub_cv);
		while (st->sub_attempts == n && !atomic_load(&st->sub_up) && lk_rd_mono_ms() < end) {
			struct timespec ts = deadline(end);
			pthread_cond_timedwait(&st->sub_cv, &st->sub_mu, &ts);
		}
		pthread_mutex_unlock(&st->sub_mu);
		if (current(st, &g))
			return g;
	}
	return random_gen();
}

uint64_t lk_rd_sub_wait(struct rd_store *st, uint64_t seen, int timeout_ms)
{
	uint64_t g;
	int64_t end = lk_rd_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	ensure(st);
	if (!atomic_load(&st->sub_started))
		return random_gen();
	pthread_mutex_lock(&st->sub_mu);
	/* Down, this waits for the subscription to come back (or the timeout) rather than
	 * returning a random value at once: a caller looping on it does not spin. */
	/* pushed(), not current(): a waiter wants the moment the value moves (take_value
	 * wakes it), not the socket check that guards cache decisions. */
	while (!(pushed(st, &g) && g != seen) && lk_rd_mono_ms() < end) {
		if (!atomic_load(&st->sub_up))
			st->sub_kick = true;
		struct timespec ts = deadline(end);
		pthread_cond_timedwait(&st->sub_cv, &st->sub_mu, &ts);
	}
	pthread_mutex_unlock(&st->sub_mu);
	return pushed(st, &g) ? g : random_gen();
}

void lk_rd_sub_stop(struct rd_store *st)
{
	if (atomic_load(&st->sub_started)) {
		pthread_mutex_lock(&st->sub_mu);
		st->sub_stop = true;
		pthread_cond_broadcast(&st->sub_cv);
		pthread_mutex_unlock(&st->sub_mu);
		ssize_t k;
		do
			k = write(st->sub_pipe[1], "x", 1);
		while (k < 0 && errno == EINTR);
		pthread_join(st->sub_th, NULL);
		atomic_store(&st->sub_started, false);
	}
	if (st->sub_pipe[0] >= 0) {
		close(st->sub_pipe[0]);
		close(st->sub_pipe[1]);
		st->sub_pipe[0] = st->sub_pipe[1] = -1;
	}
	pthread_cond_destroy(&st->sub_cv);
	pthread_mutex_destroy(&st->sub_mu);
}
