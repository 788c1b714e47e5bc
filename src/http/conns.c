/* SPDX-License-Identifier: MIT */
/*
 * Connections, as opposed to requests (see http_int.h): the deadline for a complete
 * request head (header_timeout) and the cap on connections from one client address
 * (max_conn_per_ip).
 *
 * libmicrohttpd 0.9.75 has only an idle timeout, which every byte resets: a client that
 * sends a byte now and then holds its connection for ever. Nor can an application close
 * a connection from outside. So each connection is registered when libmicrohttpd
 * announces it (MHD_CONNECTION_NOTIFY_STARTED) and unregistered when it announces its end
 * (MHD_CONNECTION_NOTIFY_CLOSED), in a list per daemon under that list's mutex. It
 * carries a deadline, armed at the accept and again when a reply has been sent in full,
 * disarmed when the handler first sees a request (its head is complete then). A sweeper
 * thread shuts down (shutdown(2), SHUT_RDWR) the socket of each connection past its
 * deadline; libmicrohttpd then reads end of file and closes and frees the connection
 * itself, on its own thread. The fd cannot have been closed and reused meanwhile:
 * libmicrohttpd 0.9.75 sends CLOSED before it closes the socket (MHD_cleanup_connections,
 * and the failure path of internal_add_connection, in daemon.c), and our CLOSED handler
 * takes the same mutex the sweeper holds while it calls shutdown.
 *
 * The cost on the request path is an atomic store at the head and one at the reply; the
 * list mutexes are taken once per connection (and by the sweeper, a few times a second).
 *
 * The per-address count is one table for all daemons (SO_REUSEPORT spreads one address's
 * connections over every daemon, so libmicrohttpd's per-daemon limit would not be one
 * cap). The accept policy callback refuses an address at its cap before libmicrohttpd
 * allocates anything; STARTED counts, and refuses too (by shutdown) the rare connection
 * that another thread's accept took over the cap meanwhile.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <sodium.h>

#include "http/http_int.h"
#include "util/log.h"

#define IP_BUCKETS 4096

/* One connection. Its socket context in libmicrohttpd. */
struct lk_conn {
	struct lk_conn *prev, *next; /* its daemon's list, under the list's mutex */
	int fd;
	atomic_llong deadline;       /* ms, CLOCK_MONOTONIC: the head is due; 0: none due */
	atomic_bool cut;             /* the sweeper shut it down */
	struct ipent *ip;            /* its address's count, or NULL when not counted */
};

/* One daemon's connections. */
struct lk_connlist {
	struct lk_server *s;
	unsigned i;
	pthread_mutex_t mu;
	struct lk_conn *head;
};

/* Connections per client address: 1 byte of family, then 4 or 16 of address. */
struct ipent {
	struct ipent *next;
	unsigned char key[17];
	unsigned char len;
	unsigned n;
};

struct lk_conns {
	struct lk_connlist *lists;   /* one per daemon */
	unsigned nd;
	/* the per-address table: chained, with a keyed hash (SipHash, a random key) so that
	 * addresses a client chooses cannot be made to share a chain */
	pthread_mutex_t ips_mu;
	struct ipent *ips[IP_BUCKETS];
	unsigned char hkey[crypto_shorthash_KEYBYTES];
	/* the sweeper */
	pthread_t th;
	bool running, stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static int64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- per-address counts */

/* The table's key for sa (len bytes; 0: as long as its family says); false when sa is
 * not an IPv4 or IPv6 address. */
static bool ip_key(const struct sockaddr *sa, socklen_t len, unsigned char key[17],
		   unsigned char *klen)
{
	if (sa && !len)
		len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		*klen = 5;
		return true;
	}
	if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		key[0] = 6;
		memcpy(key + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		*klen = 17;
		return true;
	}
	return false;
}

/* The chain of key; the caller holds ips_mu. */
static struct ipent **ip_chain(struct lk_conns *cs, const unsigned char *key, unsigned char len)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;
	crypto_shorthash(h, key, len, cs->hkey);
	memcpy(&v, h, sizeof v);
	return &cs->ips[v % IP_BUCKETS];
}

static struct ipent *ip_find(struct ipent **chain, const unsigned char *key, unsigned char len)
{
	for (struct ipent *e = *chain; e; e = e->next)
		if (e->len == len && memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

/* The accept policy: refuse an address that has its cap of connections already. Runs on
 * the daemon's thread before libmicrohttpd allocates the connection; it closes the
 * socket on MHD_NO. */
enum MHD_Result lk_conn_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct lk_server *s = cls;
	struct lk_conns *cs = s->cs;
	unsigned char key[17], klen;
	if (!s->cfg.max_conn_per_ip || !ip_key(addr, len, key, &klen))
		return MHD_YES;
	pthread_mutex_lock(&cs->ips_mu);
	struct ipent *e = ip_find(ip_chain(cs, key, klen), key, klen);
	bool full = e && e->n >= s->cfg.max_conn_per_ip;
	pthread_mutex_unlock(&cs->ips_mu);
	if (full)
		atomic_fetch_add_explicit(&s->refused_per_ip, 1, memory_order_relaxed);
	return full ? MHD_NO : MHD_YES;
}

/* Count k against its address: false when the address is at its cap (or no memory). */
static bool ip_take(struct lk_server *s, struct lk_conn *k, const struct sockaddr *addr,
		    socklen_t len)
{
	struct lk_conns *cs = s->cs;
	unsigned char key[17], klen;
	if (!ip_key(addr, len, key, &klen))
		return true; /* not an IP address (never, on a TCP socket): not capped */
	pthread_mutex_lock(&cs->ips_mu);
	struct ipent **chain = ip_chain(cs, key, klen), *e = ip_find(chain, key, klen);
	if (!e && (e = calloc(1, sizeof *e))) {
		memcpy(e->key, key, klen);
		e->len = klen;
		e->next = *chain;
		*chain = e;
	}
	bool ok = e && e->n < s->cfg.max_conn_per_ip;
	if (ok) {
		e->n++;
		k->ip = e;
	}
	pthread_mutex_unlock(&cs->ips_mu);
	return ok;
}

static void ip_give(struct lk_conns *cs, struct ipent *e)
{
	pthread_mutex_lock(&cs->ips_mu);
	if (--e->n == 0) {
		struct ipent **p = ip_chain(cs, e->key, e->len);
		while (*p != e)
			p = &(*p)->next;
		*p = e->next;
		free(e);
	}
	pthread_mutex_unlock(&cs->ips_mu);
}

/* ---------------------------------------------------------------- the registry */

static void conn_started(struct lk_connlist *l, struct MHD_Connection *c, void **socket_ctx)
{
	struct lk_server *s = l->s;
	const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ad = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!fd)
		return;
	struct lk_conn *k = calloc(1, sizeof *k);
	/* No memory to track it, or its address is at the cap (another thread accepted one
	 * from it since our accept policy looked): refuse it as the policy would have. Never
	 * registered, so nothing else touches the fd. */
	if (!k || (s->cfg.max_conn_per_ip &&
		   !ip_take(s, k, ad ? ad->client_addr : NULL, 0))) {
		if (k)
			atomic_fetch_add_explicit(&s->refused_per_ip, 1, memory_order_relaxed);
		free(k);
		(void)shutdown(fd->connect_fd, SHUT_RDWR);
		return;
	}
	k->fd = fd->connect_fd;
	if (s->cfg.header_timeout)
		atomic_init(&k->deadline, mono_ms() + (int64_t)s->cfg.header_timeout * 1000);
	pthread_mutex_lock(&l->mu);
	k->next = l->head;
	if (l->head)
		l->head->prev = k;
	l->head = k;
	pthread_mutex_unlock(&l->mu);
	*socket_ctx = k;
}

static void conn_closed(struct lk_connlist *l, void **socket_ctx)
{
	struct lk_conn *k = *socket_ctx;
	if (!k)
		return;
	pthread_mutex_lock(&l->mu); /* from here on the sweeper cannot reach k->fd */
	if (k->prev)
		k->prev->next = k->next;
	else
		l->head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&l->mu);
	if (k->ip)
		ip_give(l->s->cs, k->ip);
	free(k);
	*socket_ctx = NULL;
}

/* MHD_OPTION_NOTIFY_CONNECTION; cls is the daemon's list. Counts each accepted connection
 * against its daemon (the metrics show the spread), and registers it when a deadline or
 * the per-address cap needs it. */
void lk_conn_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
		    enum MHD_ConnectionNotificationCode code)
{
	struct lk_connlist *l = cls;
	struct lk_server *s = l->s;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		atomic_fetch_add(&s->conns[l->i], 1);
		if (s->cfg.header_timeout || s->cfg.max_conn_per_ip)
			conn_started(l, c, socket_ctx);
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		conn_closed(l, socket_ctx);
	}
}

void *lk_conn_list(struct lk_server *s, unsigned i)
{
	return &s->cs->lists[i];
}

static struct lk_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

void lk_conn_head_done(struct MHD_Connection *c)
{
	struct lk_conn *k = conn_of(c);
	if (k)
		atomic_store_explicit(&k->deadline, 0, memory_order_relaxed);
}

void lk_conn_reply_done(struct lk_server *s, struct MHD_Connection *c, const struct timespec *now)
{
	struct lk_conn *k = conn_of(c);
	if (k && s->cfg.header_timeout)
		atomic_store_explicit(&k->deadline,
				      (int64_t)now->tv_sec * 1000 + now->tv_nsec / 1000000 +
					      (int64_t)s->cfg.header_timeout * 1000,
				      memory_order_relaxed);
}

bool lk_conn_was_cut(struct MHD_Connection *c)
{
	struct lk_conn *k = conn_of(c);
	return k && atomic_load(&k->cut);
}

/* ---------------------------------------------------------------- the sweeper */

/* Shut down every connection of l past its deadline; returns how many. */
static unsigned sweep_list(struct lk_connlist *l, int64_t now)
{
	unsigned n = 0;
	pthread_mutex_lock(&l->mu);
	for (struct lk_conn *k = l->head; k; k = k->next) {
		long long d = atomic_load_explicit(&k->deadline, memory_order_relaxed);
		/* the exchange loses to a head completed meanwhile only by a hair past the
		 * deadline; such a request is cut, as it is late */
		if (!d || now < d || !atomic_compare_exchange_strong(&k->deadline, &d, 0))
			continue;
		atomic_store(&k->cut, true);
		(void)shutdown(k->fd, SHUT_RDWR);
		n++;
	}
	pthread_mutex_unlock(&l->mu);
	return n;
}

static void *sweep_loop(void *arg)
{
	struct lk_server *s = arg;
	struct lk_conns *cs = s->cs;
	/* a quarter of the deadline, between 100 ms and 1 s: a head is cut at most that late */
	int64_t every = (int64_t)s->cfg.header_timeout * 250;
	every = every < 100 ? 100 : every > 1000 ? 1000 : every;
	pthread_mutex_lock(&cs->mu);
	while (!cs->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)(every % 1000) * 1000000;
		ts.tv_sec += every / 1000 + ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&cs->cv, &cs->mu, &ts);
		if (cs->stop)
			break;
		pthread_mutex_unlock(&cs->mu);
		unsigned n = 0;
		int64_t now = mono_ms();
		for (unsigned i = 0; i < cs->nd; i++)
			n += sweep_list(&cs->lists[i], now);
		if (n) {
			char num[16], limit[16];
			atomic_fetch_add_explicit(&s->noreply[LK_NOREPLY_HEADER_TIMEOUT], n,
						  memory_order_relaxed);
			snprintf(num, sizeof num, "%u", n);
			snprintf(limit, sizeof limit, "%us", s->cfg.header_timeout);
			/* no address, no byte of the request: only how many */
			lk_log("warn", "closed connections whose request head was not complete in time",
			       "connections", num, "header_timeout", limit, (char *)NULL);
		}
		pthread_mutex_lock(&cs->mu);
	}
	pthread_mutex_unlock(&cs->mu);
	return NULL;
}

/* ---------------------------------------------------------------- lifecycle */

int lk_conns_init(struct lk_server *s)
{
	struct lk_conns *cs = calloc(1, sizeof *cs);
	if (!cs || !(cs->lists = calloc(s->nd, sizeof *cs->lists))) {
		free(cs);
		return -1;
	}
	cs->nd = s->nd;
	for (unsigned i = 0; i < s->nd; i++) {
		cs->lists[i].s = s;
		cs->lists[i].i = i;
		pthread_mutex_init(&cs->lists[i].mu, NULL);
	}
	pthread_mutex_init(&cs->ips_mu, NULL);
	pthread_mutex_init(&cs->mu, NULL);
	pthread_cond_init(&cs->cv, NULL);
	randombytes_buf(cs->hkey, sizeof cs->hkey);
	s->cs = cs;
	return 0;
}

/* The sweeper runs only with a deadline configured. */
int lk_conns_start(struct lk_server *s)
{
	struct lk_conns *cs = s->cs;
	if (!s->cfg.header_timeout)
		return 0;
	cs->running = pthread_create(&cs->th, NULL, sweep_loop, s) == 0;
	return cs->running ? 0 : -1;
}

void lk_conns_stop(struct lk_server *s)
{
	struct lk_conns *cs = s->cs;
	if (!cs || !cs->running)
		return;
	pthread_mutex_lock(&cs->mu);
	cs->stop = true;
	pthread_cond_signal(&cs->cv);
	pthread_mutex_unlock(&cs->mu);
	pthread_join(cs->th, NULL);
	cs->running = false;
}

/* After every daemon has stopped: each connection has been unregistered by then. */
void lk_conns_free(struct lk_server *s)
{
	struct lk_conns *cs = s->cs;
	if (!cs)
		return;
	lk_conns_stop(s);
	for (unsigned i = 0; i < cs->nd; i++)
		pthread_mutex_destroy(&cs->lists[i].mu);
	for (size_t b = 0; b < IP_BUCKETS; b++)
		while (cs->ips[b]) {
			struct ipent *e = cs->ips[b];
			cs->ips[b] = e->next;
			free(e);
		}
	free(cs->lists);
	free(cs);
	s->cs = NULL;
}
