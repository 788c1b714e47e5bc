/* SPDX-License-Identifier: MIT */
/*
 * redis_int.h: the transport of the Redis store, shared by redis_conn.c (which implements
 * it) and redis.c (the store operations, which use it). Nothing outside src/store/redis*.c
 * includes this header.
 *
 * Design of the transport:
 * - One connection per thread, made lazily: a pthread key per store hands each thread its
 *   struct rconn, whose destructor frees it when the thread exits; lk_rd_free() frees those
 *   of threads still alive (as in sqlite.c). Connecting waits at most CONNECT_MS, and every
 *   command at most COMMAND_MS (SO_RCVTIMEO/SO_SNDTIMEO), so no call hangs on a stopped
 *   or unreachable server: it fails with LK_ESTORE. After any I/O error the context is
 *   freed and the thread's next call connects again (AUTH, SELECT, INFO pipelined in one
 *   round trip), so service comes back by itself when Redis does. A timeout (a server that
 *   is frozen or unreachable, not one that refuses) makes every call of every thread fail
 *   at once for HOLD_MS: a request then waits for one timeout, not one per store call, and
 *   worker threads do not pile up behind a hung server. Recovery waits at most HOLD_MS.
 * - Scripts go by EVALSHA, falling back to EVAL on NOSCRIPT (a restarted or flushed
 *   server), which caches them again. Every script puts a status first in its reply
 *   (ST_*), which lk_rd_eval() maps to lk_err.
 * - SIGPIPE: hiredis writes with write(2); unless the process ignores SIGPIPE, it is
 *   blocked around each command and one raised meanwhile is consumed.
 * - Nothing here logs. Details name redis://HOST:PORT/DB, never the password.
 *
 * The generation feed (redis_sub.c): every script that INCRs lk:{g}:gen also PUBLISHes the
 * new value on the channel lk:{g}:gen. A subscriber thread per store handle, started on the
 * first generation() or generation_wait() call (so a CLI command that never asks costs
 * nothing), holds its own connection SUBSCRIBEd to that channel, keeps run + counter in an
 * atomic and wakes waiters (a condition variable). After each (re)subscription it GETs the
 * counter once, so a bump missed while unsubscribed is caught up. While it is not
 * subscribed (connecting, Redis down) or the store is held after a timeout, generation()
 * is a fresh random value on every call, so nothing is cached. A connection failure seen
 * by any thread after the subscription last answered also stops the value from being
 * trusted until the subscriber has proved itself alive again (a PING): the subscriber may
 * not have noticed yet that the server went away.
 */
#ifndef LK_STORE_REDIS_INT_H
#define LK_STORE_REDIS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "store/store.h"

#define LK_RD_MAX_ARGS 12 /* script arguments, at most */
#define LK_RD_MAX_SEEDS 8 /* addresses in a redis+sentinel:// URL, at most */

/* How the store finds its server: the URL's scheme. */
enum rd_mode {
	RD_SINGLE,   /* redis://: the one server named */
	RD_SENTINEL, /* redis+sentinel://: the primary the sentinels name, followed over failovers */
	RD_CLUSTER,  /* redis+cluster://: each call to the primary serving its key's slot */
};

struct rd_addr {
	char *host;
	int port;
};

/* Script results: the first element of every script's reply. */
enum { ST_OK = 0, ST_NOT_FOUND = 1, ST_EXISTS = 2, ST_CORRUPT = 3 };

/* One thread's connection. */
struct rconn {
	redisContext *c;     /* NULL: not connected, or dropped after an error */
	uint64_t run;        /* the server's run_id, hashed: added to the generation */
	char policy[32];     /* the server's maxmemory-policy at connect */
	/* RD_SENTINEL, RD_CLUSTER: > 0, writes wait for a replica (lk_rd_settle): the replicas
	 * the primary had connected at connect or, RD_SENTINEL, when it had none, those the
	 * sentinel asked considered alive (a replica not following it: a stale primary?).
	 * RD_SENTINEL: 0 sets st->unguarded, so a replica that appears later gets c remade. */
	int replicas;
	uint64_t epoch;      /* st->epoch when connected: an older one is dropped before use */
	char addr[280];      /* "HOST:PORT" connected to */
	/* RD_SENTINEL, RD_CLUSTER: a write on this connection waits for a replica
	 * (lk_rd_settle); lost: the connection went before it could be confirmed */
	bool dirty, lost;
	/* RD_CLUSTER: the node this connection is for ("" until the thread's first call picks
	 * one), and this thread's connections to the other nodes (a chain from its first) */
	char host[256];
	int port;
	struct rconn *peer;
	struct rd_store *st;
	struct rconn *prev, *next; /* st->conns, under st->mu */
};

struct lk_rd_slotmap;

struct rd_store {
	struct lk_store base; /* first: (struct lk_store *) <-> (struct rd_store *) */
	char *host;
	int port;
	int db;
	char *user;           /* ACL user name, NULL for the default user */
	char *pass;           /* NULL: no AUTH. Wiped at free */
	char where[128];      /* "redis://HOST:PORT/DB" for details: never the password */
	char root[48];        /* what every key name starts with: "lk", "lk.NAMESPACE" */
	char channel[64];     /* ROOT:{g}:gen, the generation's channel */
	enum rd_mode mode;
	/* RD_SENTINEL: the sentinels, the primary's name, and where asking starts (the last
	 * sentinel that answered). RD_CLUSTER: the seed nodes. host/port above are unused. */
	struct rd_addr seeds[LK_RD_MAX_SEEDS];
	int nseeds;
	char *name;
	char *sentinel_pass;  /* LATCHKEY_SENTINEL_PASSWORD, NULL: none. Wiped at free */
	_Atomic int seed_next;
	/* Bumped when the primary is seen to have moved, or when a replica has appeared while
	 * a connection that writes without WAIT exists (both seen by the subscriber's
	 * heartbeat, redis_sub.c): every connection made before is dropped before its next
	 * use, and the next one asks the sentinels and counts the replicas afresh. */
	_Atomic uint64_t epoch;
	/* RD_SENTINEL: a connection was made that writes without WAIT (its primary had no
	 * replica connected, and the sentinel asked counted none alive). Connections are
	 * long-lived, so without a recount it would go on so after a replica joins, and a
	 * failover to that replica would lose what it acknowledged. Set by lk_rd_connect,
	 * cleared by the heartbeat when it bumps epoch for it. */
	_Atomic bool unguarded;
	/* RD_CLUSTER: which primary serves each slot (CLUSTER SLOTS), replaced whole on a
	 * refresh; readers copy what they need under the read lock. */
	pthread_rwlock_t map_lock;
	struct lk_rd_slotmap *map;
	_Atomic int64_t map_ms;     /* CLOCK_MONOTONIC ms of the last refresh */
	pthread_key_t key;    /* this thread's struct rconn */
	pthread_mutex_t mu;   /* guards conns */
	struct rconn *conns;
	_Atomic int64_t hold_until; /* CLOCK_MONOTONIC ms: fail at once until then */
	/* the generation feed (redis_sub.c) */
	pthread_mutex_t sub_mu;     /* guards the sub_ fields not atomic; sub_cv's mutex */
	pthread_cond_t sub_cv;      /* a new value, a (failed) attempt, a kick or stop */
	pthread_t sub_th;
	_Atomic bool sub_started;   /* set once, under sub_mu */
	bool sub_stop, sub_kick;
	int sub_pipe[2];            /* written to stop the thread out of poll() */
	uint64_t sub_attempts;      /* connection attempts finished */
	_Atomic bool sub_up;        /* subscribed and resynchronised */
	_Atomic int sub_fd;         /* the subscription's socket while up, else -1 */
	_Atomic bool sub_busy;      /* the subscriber is reading or handling messages */
	_Atomic uint64_t sub_gen;   /* run, counter and messages mixed, meaningful while sub_up */
	_Atomic int64_t sub_count;  /* the counter itself */
	uint64_t sub_seq;           /* messages and subscriptions seen, under sub_mu */
	_Atomic uint64_t local_gen; /* this process's own changes (lk_rd_sub_bump) */
	_Atomic int64_t sub_heard_us; /* CLOCK_MONOTONIC µs: the subscription last answered */
	_Atomic int64_t io_fail_us;   /* CLOCK_MONOTONIC µs: any connection last failed */
};

/* A Lua script and the hex SHA-1 that EVALSHA names it by (lk_rd_script_init). */
struct lk_rd_script {
	const char *src;
	char sha[41];
};

/* Script arguments: pointers and lengths, numbers formatted in place. Start from {0}. */
struct lk_rd_args {
	int n;
	const char *v[LK_RD_MAX_ARGS + 4]; /* EVALSHA sha 1 KEY, then the arguments */
	size_t l[LK_RD_MAX_ARGS + 4];
	char num[LK_RD_MAX_ARGS][24];
	char hex[2][65];
	int nnum, nhex;
};

/* ------------------------------------------------------------ store handle */

/* A new store for rest (RD_SINGLE: "//[[USER]:PASSWORD@]HOST[:PORT][/DB]"; RD_SENTINEL:
 * "//[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/NAME[/DB]"; the password may come from
 * LATCHKEY_REDIS_PASSWORD): URL parsed, nothing connected yet. *out is owned by the caller
 * (lk_rd_free). On failure *out is NULL and ei says why, never quoting the password. */
enum lk_err lk_rd_new(const char *rest, enum rd_mode mode, const struct lk_store_ops *ops,
		      struct rd_store **out, struct lk_errinfo *ei) LK_WUR;
/* RD_SENTINEL: ask the sentinels, in turn, for the primary's address. alive (may be NULL:
 * not asked): how many replicas of it the sentinel that answered considers alive, 0 when
 * its answer to SENTINEL REPLICAS was missing or not understood. */
enum lk_err lk_rd_sentinel_primary(struct rd_store *st, char *host, size_t size, int *port,
				   int *alive, struct lk_errinfo *ei) LK_WUR;
/* Of one sentinel's answer to SENTINEL REPLICAS (RESP2: an array of flat arrays of field,
 * value pairs), how many replicas it considers alive: "flags" names neither s_down nor
 * o_down ("disconnected" alone counts as alive: see flags_alive). Only the first 64
 * replicas and 64 fields of each are looked at; a replica without a "flags" string counts
 * for nothing, and so does an answer of any other shape (an error: an older or restricted
 * sentinel). Hostile input: never reads past it. */
int lk_rd_sentinel_alive(const redisReply *r);
/* Of an answer to INFO replication, connected_slaves: 0 to 9999, or -1 when the answer is
 * not a string or has no such line, or its value is not 1 to 4 digits alone. */
int lk_rd_info_replicas(const redisReply *r);
/* RD_SENTINEL: connected_slaves of INFO replication (lk_rd_info_replicas), asked on this
 * thread's connection; -1 when that fails or is not understood. */
int lk_rd_connected_replicas(struct rd_store *st);
/* Close every connection, wipe the password, free st. NULL is a no-op. */
void lk_rd_free(struct rd_store *st);
/* Refuse a server that may evict keys (only "noeviction" is safe), as c saw it. */
enum lk_err lk_rd_check_policy(struct rd_store *st, const struct rconn *c,
			       struct lk_errinfo *ei) LK_WUR;

/* Connect c (not a thread's connection: the caller owns it): TCP, AUTH, SELECT, INFO. */
enum lk_err lk_rd_connect(struct rd_store *st, struct rconn *c, struct lk_errinfo *ei) LK_WUR;
/* A call failed with a timeout less than HOLD_MS ago: the server is not answering. */
bool lk_rd_held(struct rd_store *st);
int64_t lk_rd_mono_ms(void);
int64_t lk_rd_mono_us(void);

/* ------------------------------------------------------------ the generation feed */

void lk_rd_sub_init(struct rd_store *st);
/* Stop and join the subscriber, if it runs. Before the connections are freed. */
void lk_rd_sub_stop(struct rd_store *st);
uint64_t lk_rd_sub_generation(struct rd_store *st);
uint64_t lk_rd_sub_wait(struct rd_store *st, uint64_t seen, int timeout_ms);
/* After this process has ended a session or recorded a revocation: move its own
 * generation at once (and wake generation_wait()), so that it never serves its own change
 * from a cache; other processes learn of it from the PUBLISH. */
void lk_rd_sub_bump(struct rd_store *st);

/* ------------------------------------------------------------ commands */

/* The calling thread's connection, (re)connected when it has none. */
enum lk_err lk_rd_conn_get(struct rd_store *st, struct rconn **out, struct lk_errinfo *ei) LK_WUR;
/* Run one command on this thread's connection. *out: the reply (caller frees with
 * freeReplyObject), never an error reply; *cp (may be NULL): the connection used. */
enum lk_err lk_rd_cmd(struct rd_store *st, int argc, const char **argv, const size_t *len,
		      redisReply **out, struct rconn **cp) LK_WUR;
/* Hash every script's source once (SHA-1, hex) into its sha. false when hashing fails. */
bool lk_rd_script_init(struct lk_rd_script *s, size_t n) LK_WUR;
/*
 * Run script s with KEYS[1] = key and the arguments in a. Every key a script touches is in
 * key's hash slot (docs/redis-keys.md, "Slots"): key routes the call on a cluster, and it
 * is chosen so that a slot in migration holds the script back rather than letting it see
 * half the slot (a key that is never written for scripts of several keys, see there). On
 * LK_OK *out is the reply (caller frees); otherwise the script's status (LK_ENOT_FOUND,
 * LK_EEXISTS) or the failure, and nothing to free.
 */
enum lk_err lk_rd_eval(struct rd_store *st, const char *key, const struct lk_rd_script *s,
		       struct lk_rd_args *a, redisReply **out) LK_WUR;
/* A script whose reply is just its status. */
enum lk_err lk_rd_eval0(struct rd_store *st, const char *key, const struct lk_rd_script *s,
			struct lk_rd_args *a);
/* A script whose reply is {status, n}: *n (may be NULL) = n. */
enum lk_err lk_rd_eval_n(struct rd_store *st, const char *key, const struct lk_rd_script *s,
			 struct lk_rd_args *a, int64_t *n);

/* Argument builders: abort() past LK_RD_MAX_ARGS (our bug, never input's). */
void lk_rd_arg(struct lk_rd_args *a, const void *p, size_t n);
/* Text of at most max bytes (a struct field's size - 1: never reads past the field). */
void lk_rd_arg_str(struct lk_rd_args *a, const char *s, size_t max);
void lk_rd_arg_i64(struct lk_rd_args *a, int64_t v);
/* 32 bytes as 64 lowercase hex digits; at most two per call. */
void lk_rd_arg_hex(struct lk_rd_args *a, const unsigned char h[32]);

/* RD_SENTINEL, RD_CLUSTER: the end of a store operation. Every connection this thread wrote
 * on since the last call waits (WAIT_MS at most) until a replica has the writes, so that a
 * failover cannot lose what latchkey acknowledges; one WAIT per node per operation, not per
 * write. op: the operation's own result; LK_ESTORE when it was LK_OK but a write cannot be
 * confirmed. RD_SINGLE: op. */
enum lk_err lk_rd_settle(struct rd_store *st, enum lk_err op);

/* ------------------------------------------------------------ replies */

/* An integer from an integer reply or decimal text. */
bool lk_rd_int(const redisReply *r, int64_t *v);
/* Text from a string reply (nil: empty), cut at a UTF-8 boundary to fit dst[size]. */
bool lk_rd_text(const redisReply *r, char *dst, size_t size);
/* 64 lowercase hex digits -> 32 bytes. */
bool lk_rd_hash(const redisReply *r, unsigned char out[32]);
/* Netstrings "N:bytes,": read the next one of [*p, end) as text or integer; append. */
bool lk_rd_ns_text(const char **p, const char *end, char *dst, size_t size);
bool lk_rd_ns_i64(const char **p, const char *end, int64_t *v);
bool lk_rd_ns_put(char *buf, size_t cap, size_t *len, const char *s, size_t n);
/* Zero the strings of a reply (private JWKs) before it is freed. */
void lk_rd_wipe(redisReply *r);
/* b[0..n) as lowercase hex into out[2n + 1]. */
void lk_rd_hex(const unsigned char *b, size_t n, char *out);
/* Copy s[0..n) into dst[size], cut at a UTF-8 character boundary when it does not fit. */
void lk_rd_copy_text(char *dst, size_t size, const char *s, size_t n);

#endif
