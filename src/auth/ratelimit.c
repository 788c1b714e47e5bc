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
	struct lk_store *st;   /* when set (and it has rl ops), state lives in the store */
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

static int64_t pair_wait(const struct lk_ratelimit *rl, const struct entry *e, int64_t now)
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

static bool shared(const struct lk_ratelimit *rl)
{
	return rl->st && rl->st->ops->rl_get && rl->st->ops->rl_fail && rl->st->ops->rl_reset;
}

void lk_rl_use_store(struct lk_ratelimit *rl, struct lk_store *st)
{
	rl->st = st;
}

static int64_t wait_for(const struct lk_ratelimit *rl, const struct entry *ipe,
			const struct entry *pe, int64_t now)
{
	int64_t wait = 0;
	if (ipe) {
		double t = ipe->tokens, rate = rl->cfg.ip_per_min / 60.0;
		if (now > ipe->last)
			t += (double)(now - ipe->last) * rate;
		if (t > rl->cfg.ip_per_min)
			t = rl->cfg.ip_per_min;
		if (t < 1.0)
			wait = (int64_t)((1.0 - t) / rate) + 1;
	}
	if (pe) {
		int64_t w = pair_wait(rl, pe, now);
		if (w > wait)
			wait = w;
	}
	return wait;
}

enum lk_err lk_rl_check(struct lk_ratelimit *rl, const char *user, const char *ip, int64_t now,
			int64_t *retry_after)
{
	int64_t wait = 0;
	if (shared(rl)) {
		char pk[33], ik[33];
		struct lk_rlstate p, i;
		struct entry pe = {0}, ie = {0};
		store_key('p', user, ip, pk);
		store_key('i', NULL, ip, ik);
		/* A store that cannot answer does not lock anyone out; sign-in itself will fail
		 * on the same store moments later with a clear 503. */
		if (rl->st->ops->rl_get(rl->st, pk, ik, now, &p, &i) != LK_OK)
			return LK_OK;
		pe.failures = (unsigned)p.failures;
		pe.last = p.last;
		ie.tokens = i.tokens;
		ie.last = i.last;
		wait = wait_for(rl, i.found ? &ie : NULL, p.found ? &pe : NULL, now);
		if (wait > 0) {
			*retry_after = wait;
			return LK_ERATE_LIMITED;
		}
		return LK_OK;
	}
	pthread_mutex_lock(&rl->mu);
	struct entry *ipe = find(rl, key_of(rl, NULL, ip), false, false, now);
	struct entry *pe = find(rl, key_of(rl, user, ip), true, false, now);
	wait = wait_for(rl, ipe, pe, now);
	pthread_mutex_unlock(&rl->mu);
	if (wait > 0) {
		*retry_after = wait;
		return LK_ERATE_LIMITED;
	}
	return LK_OK;
}

enum lk_err lk_rl_fail(struct lk_ratelimit *rl, const char *user, const char *ip, int64_t now)
{
	if (shared(rl)) {
		char pk[33], ik[33];
		store_key('p', user, ip, pk);
		store_key('i', NULL, ip, ik);
		return rl->st->ops->rl_fail(rl->st, pk, ik, now, rl->cfg.ip_per_min,
					    (int64_t)rl->cfg.backoff_max + 60);
	}
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
	return LK_OK;
}

void lk_rl_success(struct lk_ratelimit *rl, const char *user, const char *ip)
{
	if (shared(rl)) {
		char pk[33];
		store_key('p', user, ip, pk);
		(void)rl->st->ops->rl_reset(rl->st, pk);
		return;
	}
	pthread_mutex_lock(&rl->mu);
	struct entry *pe = find(rl, key_of(rl, user, ip), true, false, 0);
	if (pe)
		pe->failures = 0;
	pthread_mutex_unlock(&rl->mu);
}

/* TEMP until the store branch: the reservation as check + fail (not atomic). */
enum lk_err lk_rl_take(struct lk_ratelimit *rl, const char *user, const char *ip, int64_t now,
		       int64_t *retry_after)
{
	enum lk_err err = lk_rl_check(rl, user, ip, now, retry_after);
	return err ? err : lk_rl_fail(rl, user, ip, now);
}

void lk_rl_release(struct lk_ratelimit *rl, const char *user, const char *ip, int64_t now)
{
	lk_rl_success(rl, user, ip);
}
