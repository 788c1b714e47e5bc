/* SPDX-License-Identifier: MIT */
/*
 * The cache of verified tokens: token bytes -> the lk_jwt its signature check produced,
 * so a repeated token skips the signature. Keyed by SipHash-128 of the bytes under a
 * random key; a fixed number of slots, each an atomic pointer overwritten by hash, so a
 * flood of distinct tokens cannot grow it. An entry is valid only under the key-set epoch
 * it was verified with. Readers take no lock; replaced entries are freed through EBR.
 * The cache holds what a signature established; times and the denylist are the caller's
 * to check on every hit.
 */
#ifndef LK_VERIFY_VCACHE_H
#define LK_VERIFY_VCACHE_H

#include <stddef.h>
#include <stdint.h>
#include "latchkey.h"

struct lk_vcache;

enum lk_err lk_vcache_new(size_t slots, struct lk_vcache **out) LK_WUR;
void lk_vcache_free(struct lk_vcache *c);
/* Where a token's bytes go: filled by lk_vcache_get, so a miss hashes them only once. */
struct lk_vkey {
	unsigned char h[16];
	size_t slot;
};
/* A new reference to the cached token for these bytes under epoch, or NULL; *k is set
 * either way. */
lk_jwt *lk_vcache_get(struct lk_vcache *c, const char *token, size_t len, uint64_t epoch,
		      struct lk_vkey *k);
/* Remember jwt under k (the cache takes its own reference). Call it outside any EBR read
 * section, so the entry it replaces can be freed sooner. */
void lk_vcache_put(struct lk_vcache *c, const struct lk_vkey *k, uint64_t epoch, lk_jwt *jwt);

#endif
