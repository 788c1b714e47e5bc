/* SPDX-License-Identifier: MIT */
/*
 * The denylist (see denylist.h): a lock-free-read, single-writer open-addressing table.
 *
 * Layout: a power-of-two array of 32-byte entries, linear probing. An entry is free while
 * its k0 is 0 (hashes with k0 = 0 are stored as 1). A writer fills k1, before and expires,
 * then publishes with a release store of k0; a reader that acquires k0 sees the rest. The
 * same key is never stored twice, so a reader that finds k0 and k1 equal has the entry.
 * The table grows (and drops expired entries) by building a new one and swapping the
 * pointer; the old one is freed through EBR.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "verify/denylist.h"
#include "verify/ebr.h"

#define MIN_CAP 1024u

struct entry {
	_Atomic uint64_t k0;
	uint64_t k1;
	_Atomic int64_t before;
	_Atomic int64_t expires;
};

struct table {
	size_t cap;    /* power of two */
	size_t used;   /* writer's count, under mu */
	size_t expired_hint;
	struct entry e[];
};

struct lk_denylist {
	_Atomic(struct table *) t;
	_Atomic size_t count;
	pthread_mutex_t mu; /* writers */
	unsigned char key[crypto_shorthash_siphashx24_KEYBYTES];
};

enum lk_deny_type lk_deny_type_from(const char *name)
{
	if (!name)
		return 0;
	if (!strcmp(name, "jti"))
		return LK_DENY_JTI;
	if (!strcmp(name, "sid"))
		return LK_DENY_SID;
	if (!strcmp(name, "sub"))
		return LK_DENY_SUB;
	return 0;
}

static struct table *table_new(size_t cap)
{
	struct table *t = calloc(1, sizeof *t + cap * sizeof t->e[0]);
	if (t)
		t->cap = cap;
	return t;
}

static void table_free(void *p) { free(p); }

static void hash(const struct lk_denylist *d, enum lk_deny_type type, const char *v, size_t len,
		 uint64_t k[2])
{
	unsigned char buf[1 + LK_DENY_VALUE_MAX], out[16];
	buf[0] = (unsigned char)type;
	memcpy(buf + 1, v, len);
	crypto_shorthash_siphashx24(out, buf, len + 1, d->key);
	memcpy(&k[0], out, 8);
	memcpy(&k[1], out + 8, 8);
	if (!k[0])
		k[0] = 1;
}

/* The entry for k, or NULL. Reader side: acquire loads only. */
static struct entry *find(struct table *t, const uint64_t k[2])
{
	size_t mask = t->cap - 1;
	for (size_t i = (size_t)k[0] & mask;; i = (i + 1) & mask) {
		struct entry *e = &t->e[i];
		uint64_t k0 = atomic_load_explicit(&e->k0, memory_order_acquire);
		if (!k0)
			return NULL;
		if (k0 == k[0] && e->k1 == k[1])
			return e;
	}
}

/* Writer side (mu held): place a new key; the table has room. */
static void place(struct table *t, const uint64_t k[2], int64_t before, int64_t expires)
{
	size_t mask = t->cap - 1;
	for (size_t i = (size_t)k[0] & mask;; i = (i + 1) & mask) {
		struct entry *e = &t->e[i];
		if (atomic_load_explicit(&e->k0, memory_order_relaxed))
			continue;
		e->k1 = k[1];
		atomic_store_explicit(&e->before, before, memory_order_relaxed);
		atomic_store_explicit(&e->expires, expires, memory_order_relaxed);
		atomic_store_explicit(&e->k0, k[0], memory_order_release);
		t->used++;
		return;
	}
}

/* A new table of cap slots with the live entries of old (expires > now; now 0: all). */
static struct table *rebuild(const struct table *old, size_t cap, int64_t now)
{
	struct table *t = table_new(cap);
	if (!t)
		return NULL;
	for (size_t i = 0; i < old->cap; i++) {
		const struct entry *e = &old->e[i];
		uint64_t k[2] = {atomic_load_explicit(&e->k0, memory_order_relaxed), e->k1};
		int64_t exp = atomic_load_explicit(&e->expires, memory_order_relaxed);
		if (k[0] && (!now || exp > now))
			place(t, k, atomic_load_explicit(&e->before, memory_order_relaxed), exp);
	}
	return t;
}

enum lk_err lk_denylist_new(struct lk_denylist **out)
{
	struct lk_denylist *d = calloc(1, sizeof *d);
	struct table *t = table_new(MIN_CAP);
	*out = NULL;
	if (!d || !t) {
		free(d);
		free(t);
		return LK_ENOMEM;
	}
	atomic_init(&d->t, t);
	atomic_init(&d->count, 0);
	pthread_mutex_init(&d->mu, NULL);
	randombytes_buf(d->key, sizeof d->key);
	*out = d;
	return LK_OK;
}

void lk_denylist_free(struct lk_denylist *d)
{
	if (!d)
		return;
	free(atomic_load_explicit(&d->t, memory_order_relaxed));
	pthread_mutex_destroy(&d->mu);
	free(d);
}

static void publish(struct lk_denylist *d, struct table *old, struct table *t)
{
	atomic_store_explicit(&d->t, t, memory_order_seq_cst);
	atomic_store_explicit(&d->count, t->used, memory_order_seq_cst);
	lk_ebr_retire(old, table_free);
}

static void raise_to(_Atomic int64_t *v, int64_t x)
{
	int64_t cur = atomic_load_explicit(v, memory_order_relaxed);
	while (x > cur && !atomic_compare_exchange_weak_explicit(v, &cur, x, memory_order_release,
								  memory_order_relaxed))
		;
}

enum lk_err lk_denylist_add(struct lk_denylist *d, enum lk_deny_type type, const char *value,
			    size_t len, int64_t before, int64_t expires)
{
	uint64_t k[2];

	if (!value || !len || len > LK_DENY_VALUE_MAX ||
	    (type != LK_DENY_JTI && type != LK_DENY_SID && type != LK_DENY_SUB))
		return LK_EINVAL;
	hash(d, type, value, len, k);
	pthread_mutex_lock(&d->mu);
	struct table *t = atomic_load_explicit(&d->t, memory_order_relaxed);
	struct entry *e = find(t, k);
	if (e) { /* a later not-before or expiry widens the entry; nothing narrows it */
		raise_to(&e->before, before);
		raise_to(&e->expires, expires);
		pthread_mutex_unlock(&d->mu);
		return LK_OK;
	}
	if ((t->used + 1) * 4 > t->cap * 3) { /* keep the load under 3/4 */
		struct table *n = rebuild(t, t->cap * 2, 0);
		if (!n) {
			pthread_mutex_unlock(&d->mu);
			return LK_ENOMEM;
		}
		publish(d, t, n);
		t = n;
	}
	place(t, k, before, expires);
	atomic_store_explicit(&d->count, t->used, memory_order_seq_cst);
	pthread_mutex_unlock(&d->mu);
	return LK_OK;
}

void lk_denylist_purge(struct lk_denylist *d, int64_t now)
{
	pthread_mutex_lock(&d->mu);
	struct table *t = atomic_load_explicit(&d->t, memory_order_relaxed);
	size_t expired = 0;
	for (size_t i = 0; i < t->cap; i++)
		if (atomic_load_explicit(&t->e[i].k0, memory_order_relaxed) &&
		    atomic_load_explicit(&t->e[i].expires, memory_order_relaxed) <= now)
			expired++;
	/* Rebuild when it frees a good part of the table; shrink while it stays sparse. */
	if (expired && (expired * 8 >= t->used || t->used - expired < 64)) {
		size_t live = t->used - expired, cap = MIN_CAP;
		while ((live + 1) * 2 > cap)
			cap *= 2;
		struct table *n = rebuild(t, cap, now);
		if (n)
			publish(d, t, n);
	}
	pthread_mutex_unlock(&d->mu);
}

bool lk_denylist_denies(struct lk_denylist *d, const char *jti, const char *sid,
			const char *sub, int64_t iat)
{
	uint64_t k[2];
	bool deny = false;
	size_t n;

	if (!atomic_load_explicit(&d->count, memory_order_acquire))
		return false;
	lk_ebr_enter();
	struct table *t = atomic_load_explicit(&d->t, memory_order_seq_cst);
	if (jti && (n = strlen(jti)) && n <= LK_DENY_VALUE_MAX) {
		hash(d, LK_DENY_JTI, jti, n, k);
		deny = find(t, k) != NULL;
	}
	if (!deny && sid && (n = strlen(sid)) && n <= LK_DENY_VALUE_MAX) {
		hash(d, LK_DENY_SID, sid, n, k);
		deny = find(t, k) != NULL;
	}
	if (!deny && sub && (n = strlen(sub)) && n <= LK_DENY_VALUE_MAX) {
		hash(d, LK_DENY_SUB, sub, n, k);
		struct entry *e = find(t, k);
		deny = e && iat < atomic_load_explicit(&e->before, memory_order_acquire);
	}
	lk_ebr_exit();
	return deny;
}

size_t lk_denylist_count(struct lk_denylist *d)
{
	return atomic_load_explicit(&d->count, memory_order_relaxed);
}

size_t lk_denylist_bytes(struct lk_denylist *d)
{
	lk_ebr_enter();
	const struct table *t = atomic_load_explicit(&d->t, memory_order_seq_cst);
	size_t b = sizeof *d + sizeof *t + t->cap * sizeof t->e[0];
	lk_ebr_exit();
	return b;
}
