/* SPDX-License-Identifier: MIT */
/*
 * The cache of verified tokens (see vcache.h): an array of atomic pointers to immutable
 * entries. A hit takes a reference to the entry's lk_jwt inside an EBR read section; a
 * put swaps in a new entry and retires the one it replaced.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "verify/ebr.h"
#include "verify/vcache.h"

struct ventry {
	unsigned char h[16];
	uint64_t epoch;
	lk_jwt *jwt;
};

struct lk_vcache {
	size_t n; /* power of two */
	unsigned char key[crypto_shorthash_siphashx24_KEYBYTES];
	_Atomic(struct ventry *) slot[];
};

static void ventry_free(void *p)
{
	struct ventry *e = p;
	lk_jwt_free(e->jwt);
	free(e);
}

enum lk_err lk_vcache_new(size_t slots, struct lk_vcache **out)
{
	size_t n = 64;
	*out = NULL;
	while (n < slots && n < ((size_t)1 << 24))
		n *= 2;
	struct lk_vcache *c = calloc(1, sizeof *c + n * sizeof c->slot[0]);
	if (!c)
		return LK_ENOMEM;
	c->n = n;
	for (size_t i = 0; i < n; i++)
		atomic_init(&c->slot[i], NULL);
	randombytes_buf(c->key, sizeof c->key);
	*out = c;
	return LK_OK;
}

/* No reader may be using c. */
void lk_vcache_free(struct lk_vcache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		struct ventry *e = atomic_load_explicit(&c->slot[i], memory_order_relaxed);
		if (e)
			ventry_free(e);
	}
	free(c);
}

static void key_of(struct lk_vcache *c, const char *token, size_t len, struct lk_vkey *k)
{
	uint64_t i;
	crypto_shorthash_siphashx24(k->h, (const unsigned char *)token, len, c->key);
	memcpy(&i, k->h + 8, sizeof i);
	k->slot = (size_t)(i & (c->n - 1));
}

lk_jwt *lk_vcache_get(struct lk_vcache *c, const char *token, size_t len, uint64_t epoch,
		      struct lk_vkey *k)
{
	lk_jwt *j = NULL;

	key_of(c, token, len, k);
	lk_ebr_enter();
	struct ventry *e = atomic_load_explicit(&c->slot[k->slot], memory_order_seq_cst);
	if (e && e->epoch == epoch && sodium_memcmp(e->h, k->h, sizeof k->h) == 0)
		j = lk_jwt_ref(e->jwt);
	lk_ebr_exit();
	return j;
}

void lk_vcache_put(struct lk_vcache *c, const struct lk_vkey *k, uint64_t epoch, lk_jwt *jwt)
{
	struct ventry *e = malloc(sizeof *e);
	if (!e)
		return; /* not cached: the next call verifies again */
	memcpy(e->h, k->h, sizeof e->h);
	e->epoch = epoch;
	e->jwt = lk_jwt_ref(jwt);
	struct ventry *old = atomic_exchange_explicit(&c->slot[k->slot], e, memory_order_seq_cst);
	if (old)
		lk_ebr_retire(old, ventry_free);
}
