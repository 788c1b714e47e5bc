/* SPDX-License-Identifier: MIT */
/*
 * Session cache (see scache.h): a direct-mapped table of slots indexed by the first bytes
 * of the id hash (already uniformly random: it is SHA-256 of a random secret), each slot
 * with its own mutex so threads rarely meet. Entries hold copies; nothing points into the
 * table from outside a lock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "auth/scache.h"

struct slot {
	pthread_mutex_t mu;
	bool used;
	uint64_t gen;
	unsigned char id_hash[32];
	struct lk_session s;
	struct lk_user u;
};

struct lk_scache {
	size_t n;
	struct slot *slots;
};

enum lk_err lk_scache_new(size_t slots, struct lk_scache **out)
{
	struct lk_scache *c = calloc(1, sizeof *c);
	*out = NULL;
	if (!c || !(c->slots = calloc(slots, sizeof *c->slots))) {
		free(c);
		return LK_ENOMEM;
	}
	c->n = slots;
	for (size_t i = 0; i < slots; i++)
		pthread_mutex_init(&c->slots[i].mu, NULL);
	*out = c;
	return LK_OK;
}

void lk_scache_free(struct lk_scache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		pthread_mutex_destroy(&c->slots[i].mu);
		sodium_memzero(c->slots[i].u.phc, sizeof c->slots[i].u.phc);
	}
	free(c->slots);
	free(c);
}

static struct slot *slot_of(struct lk_scache *c, const unsigned char h[32])
{
	uint64_t x;
	memcpy(&x, h, sizeof x);
	return &c->slots[x % c->n];
}

bool lk_scache_get(struct lk_scache *c, const unsigned char id_hash[32], uint64_t gen,
		   struct lk_session *s, struct lk_user *u)
{
	struct slot *sl = slot_of(c, id_hash);
	bool hit = false;
	pthread_mutex_lock(&sl->mu);
	if (sl->used && sl->gen == gen && memcmp(sl->id_hash, id_hash, 32) == 0) {
		*s = sl->s;
		*u = sl->u;
		hit = true;
	}
	pthread_mutex_unlock(&sl->mu);
	return hit;
}

void lk_scache_put(struct lk_scache *c, const unsigned char id_hash[32], uint64_t gen,
		   const struct lk_session *s, const struct lk_user *u)
{
	struct slot *sl = slot_of(c, id_hash);
	pthread_mutex_lock(&sl->mu);
	sl->used = true;
	sl->gen = gen;
	memcpy(sl->id_hash, id_hash, 32);
	sl->s = *s;
	sl->u = *u;
	sodium_memzero(sl->u.phc, sizeof sl->u.phc); /* the hash is never needed here */
	pthread_mutex_unlock(&sl->mu);
}

void lk_scache_del(struct lk_scache *c, const unsigned char id_hash[32])
{
	struct slot *sl = slot_of(c, id_hash);
	pthread_mutex_lock(&sl->mu);
	if (sl->used && memcmp(sl->id_hash, id_hash, 32) == 0)
		sl->used = false;
	pthread_mutex_unlock(&sl->mu);
}
