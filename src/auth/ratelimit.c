/* SPDX-License-Identifier: MIT */
/*
 * The in-memory sign-in limiter: one hash table of entries keyed by a keyed hash of
 * "ip" or "user\0ip" (siphash with a per-process random key, so an attacker cannot aim
 * entries at one bucket), a mutex around it, and a cap on entries. Entries that have been
 * quiet longer than the longest backoff are dropped when the table is full, so memory is
 * bounded whatever the traffic; the cap is large enough that only a flood of distinct IPs
 * reaches it, and then the oldest quiet entries go first.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "auth/ratelimit.h"
#include "auth/rlpolicy.h"

#define RL_BUCKETS 4096
#define RL_MAX_ENTRIES 100000

struct entry {
	struct entry *next;
	uint64_t key;
	bool is_pair;
	unsigned failures;     /* pair: consecutive failures */
	int64_t last;          /* last failure */
	double tokens;         /* ip: bucket level */
};

struct lk_ratelimit {
	struct lk_store *st;   /* when set, state lives in the store */
	pthread_mutex_t mu;
	struct lk_rlcfg cfg;
	unsigned char sipkey[crypto_shorthash_KEYBYTES];
	size_t count;
	struct entry *b[RL_BUCKETS];
};

enum lk_err lk_rl_new(const struct lk_rlcfg *cfg, struct lk_ratelimit **out)
{
	struct lk_ratelimit *rl = calloc(1, sizeof *rl);
	*out = NULL;
	if (!rl)
		return LK_ENOMEM;
	if (sodium_init() < 0) {
		free(rl);
		return LK_ECRYPTO;
	}
	rl->cfg = *cfg;
	if (!rl->cfg.ip_per_min)
		rl->cfg.ip_per_min = 1;
	crypto_shorthash_keygen(rl->sipkey);
	pthread_mutex_init(&rl->mu, NULL);
	*out = rl;
	return LK_OK;
}

void lk_rl_free(struct lk_ratelimit *rl)
{
	if (!rl)
		return;
	for (int i = 0; i < RL_BUCKETS; i++)
		for (struct entry *e = rl->b[i], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

static uint64_t key_of(struct lk_ratelimit *rl, const char *user, const char *ip)
{
	uint64_t k;
	/* crypto_shorthash has no streaming API: hash "user\0ip" in one buffer */
	char buf[512];
	size_t ul = user ? strlen(user) : 0, il = strlen(ip);
	if (ul + il + 2 > sizeof buf)
		ul = sizeof buf - il - 2;
	if (user)
		memcpy(buf, user, ul);
	buf[ul] = user ? '\0' : '\1';
	memcpy(buf + ul + 1, ip, il);
	crypto_shorthash((unsigned char *)&k, (unsigned char *)buf, ul + 1 + il, rl->sipkey);
	return k;
}

/* Drop entries quiet for longer than any backoff: O(table), only when full. */
static void sweep(struct lk_ratelimit *rl, int64_t now)
{
	for (int i = 0; i < RL_BUCKETS; i++)
		for (struct entry **pp = &rl->b[i]; *pp;) {
			struct entry *e = *pp;
			if (now - e->last > (int64_t)rl->cfg.backoff_max + 60) {
				*pp = e->next;
				free(e);
				rl->count--;
			} else {
				pp = &e->next;
			}
		}
}

static struct entry *find(struct lk_ratelimit *rl, uint64_t key, bool pair, bool create,
			  int64_t now)
{
	struct entry **head = &rl->b[key % RL_BUCKETS], *e;
	for (e = *head; e; e = e->next)
		if (e->key == key && e->is_pair == pair)
			return e;
	if (!create)
		return NULL;
	if (rl->count >= RL_MAX_ENTRIES)
		sweep(rl, now);
	if (rl->count >= RL_MAX_ENTRIES || !(e = calloc(1, sizeof *e)))
		return NULL; /* full of active entries: fail open for bookkeeping only */
	e->key = key;
	e->is_pair = pair;
	e->tokens = rl->cfg.ip_per_min;
	e->last = now;
	e->next = *head;
	*head = e;
	rl->count++;
	return e;
}

/* Store keys: BLAKE2b-128 of the pair or IP, hex; nothing readable about who tried. */
static void store_key(char kind, const char *user, const char *ip, char out[33])
{
	crypto_generichash_state h;
	unsigned char d[16];
	static const char hexd[] = "0123456789abcdef";
	crypto_generichash_init(&h, NULL, 0, sizeof d);
	crypto_generichash_update(&h, (const unsigned char *)&kind, 1);
	if (user)
		crypto_generichash_update(&h, (const unsigned char *)user, strlen(user) + 1);
	crypto_generichash_update(&h, (const unsigned char *)ip, strlen(ip));
	crypto_generichash_final(&h, d, sizeof d);
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hexd[d[i] >> 4];
		out[2 * i + 1] = hexd[d[i] & 15];
	}
	out[32] = '\0';
}

void lk_rl_use_store(struct lk_ratelimit *rl, struct lk_store *st)
{
	rl->st = st;
}

/* The two entries of (user, ip) as policy states. */
static void state_of(const struct entry *e, struct lk_rlstate *o)
{
	memset(o, 0, sizeof *o);
	if (e) {
		o->found = true;
		o->failures = e->failures;
		o->last = e->last;
		o->tokens = e->tokens;
	}
}

/* Write a policy state back into the table (creating the entry when needed). */
static void state_put(struct lk_ratelimit *rl, uint64_t key, bool pair, struct entry *e,
		      const struct lk_rlstate *s, int64_t now)
{
	if (!s->found) {
		if (e && pair)
			e->failures = 0; /* forgiven; the entry ages out with the others */
		return;
	}
	if (!e && !(e = find(rl, key, pair, true, now)))
		return; /* full of active entries: fail open for bookkeeping only */
	e->failures = s->failures > UINT32_MAX ? UINT32_MAX : (unsigned)s->failures;
	e->last = s->last;
	e->tokens = s->tokens;
}

/* One step of the policy on the in-memory table, under the mutex: read, decide, write. */
static int64_t mem_step(struct lk_ratelimit *rl, enum lk_rl_step step, const char *user,
			const char *ip, int64_t now)
{
	struct lk_rlstate p, i;
	uint64_t pk = key_of(rl, user, ip), ik = key_of(rl, NULL, ip);
	int64_t wait;

	pthread_mutex_lock(&rl->mu);
	struct entry *pe = find(rl, pk, true, false, now);
	struct entry *ie = find(rl, ik, false, false, now);
	state_of(pe, &p);
	state_of(ie, &i);
	wait = lk_rl_policy(&rl->cfg, step, &p, &i, now);
	if (step == LK_RL_RELEASE || wait == 0) {
		/* the ip entry first: creating it may sweep, and the sweep may free pe */
		state_put(rl, ik, false, ie, &i, now);
		pe = find(rl, pk, true, false, now);
		state_put(rl, pk, true, pe, &p, now);
	}
	pthread_mutex_unlock(&rl->mu);
	return wait;
}

/* The store's atomic reservation when it has one; else the table, under the mutex. */
enum lk_err lk_rl_take(struct lk_ratelimit *rl, const char *user, const char *ip, int64_t now,
		       int64_t *retry_after)
{
	int64_t wait;
	if (rl->st && rl->st->ops->rl_take) {
		char pk[33], ik[33];
		store_key('p', user, ip, pk);
		store_key('i', NULL, ip, ik);
		return rl->st->ops->rl_take(rl->st, pk, ik, now, &rl->cfg, retry_after);
	}
	wait = mem_step(rl, LK_RL_TAKE, user, ip, now);
	if (wait > 0) {
		*retry_after = wait;
		return LK_ERATE_LIMITED;
	}
	return LK_OK;
}

/* A store that cannot answer here leaves the reservation counted: it ages out like any
 * failure, and the success it stood for has already happened. */
void lk_rl_release(struct lk_ratelimit *rl, const char *user, const char *ip, int64_t now)
{
	if (rl->st && rl->st->ops->rl_release) {
		char pk[33], ik[33];
		store_key('p', user, ip, pk);
		store_key('i', NULL, ip, ik);
		(void)rl->st->ops->rl_release(rl->st, pk, ik, now, &rl->cfg);
		return;
	}
	(void)mem_step(rl, LK_RL_RELEASE, user, ip, now);
}
