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

static void refill(struct lk_ratelimit *rl, struct entry *e, int64_t now)
{
	double cap = rl->cfg.ip_per_min, rate = cap / 60.0;
	if (now > e->last)
		e->tokens += (double)(now - e->last) * rate;
	if (e->tokens > cap)
		e->tokens = cap;
}

static int64_t pair_wait(struct lk_ratelimit *rl, const struct entry *e, int64_t now)
{
	if (e->failures < rl->cfg.pair_free)
		return 0;
	unsigned shift = e->failures - rl->cfg.pair_free;
	int64_t backoff = shift >= 20 ? rl->cfg.backoff_max : (int64_t)1 << shift;
	if (backoff > rl->cfg.backoff_max)
		backoff = rl->cfg.backoff_max;
	int64_t until = e->last + backoff;
	return until > now ? until - now : 0;
}

enum lk_err lk_rl_check(struct lk_ratelimit *rl, const char *user, const char *ip, int64_t now,
			int64_t *retry_after)
{
	int64_t wait = 0;
	pthread_mutex_lock(&rl->mu);
	struct entry *ipe = find(rl, key_of(rl, NULL, ip), false, false, now);
	struct entry *pe = find(rl, key_of(rl, user, ip), true, false, now);
	if (ipe) {
		double t = ipe->tokens, rate = rl->cfg.ip_per_min / 60.0;
		if (now > ipe->last)
			t += (double)(now - ipe->last) * rate;
		if (t < 1.0)
			wait = (int64_t)((1.0 - t) / rate) + 1;
	}
	if (pe) {
		int64_t w = pair_wait(rl, pe, now);
		if (w > wait)
			wait = w;
	}
	pthread_mutex_unlock(&rl->mu);
	if (wait > 0) {
		*retry_after = wait;
		return LK_ERATE_LIMITED;
	}
	return LK_OK;
}

void lk_rl_fail(struct lk_ratelimit *rl, const char *user, const char *ip, int64_t now)
{
	pthread_mutex_lock(&rl->mu);
	struct entry *ipe = find(rl, key_of(rl, NULL, ip), false, true, now);
	if (ipe) {
		refill(rl, ipe, now);
		ipe->tokens -= 1.0;
		ipe->last = now;
	}
	struct entry *pe = find(rl, key_of(rl, user, ip), true, true, now);
	if (pe) {
		pe->failures++;
		pe->last = now;
	}
	pthread_mutex_unlock(&rl->mu);
}

void lk_rl_success(struct lk_ratelimit *rl, const char *user, const char *ip)
{
	pthread_mutex_lock(&rl->mu);
	struct entry *pe = find(rl, key_of(rl, user, ip), true, false, 0);
	if (pe)
		pe->failures = 0;
	pthread_mutex_unlock(&rl->mu);
}
