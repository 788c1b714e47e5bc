/* SPDX-License-Identifier: MIT */
/*
 * The session cache: the per-request check reads (session, user) from memory instead of
 * the store when nothing that could revoke it has changed since it was read.
 *
 * "Nothing has changed" is the store's revocation generation (store ops `generation`): a
 * counter every process bumps after committing a change that can end a session (a
 * session deleted, a user deleted, a password changed). An entry is used only if it was
 * read under the current generation, so a revocation made by any process on the same
 * store, including the CLI, is seen by the very next request; new sessions and last-seen
 * writes do not bump it. A store without a generation gets no cache.
 *
 * Cost: one atomic load per request on a hit; memory is bounded by a fixed number of
 * slots (overwritten by hash), so a flood of distinct cookies cannot grow it.
 */
#ifndef LK_AUTH_SCACHE_H
#define LK_AUTH_SCACHE_H

#include <stdbool.h>
#include <stdint.h>
#include "store/store.h"

struct lk_scache;

enum lk_err lk_scache_new(size_t slots, struct lk_scache **out) LK_WUR;
void lk_scache_free(struct lk_scache *c);
/* Copy out the entry for id_hash if it was stored under generation gen. */
bool lk_scache_get(struct lk_scache *c, const unsigned char id_hash[32], uint64_t gen,
		   struct lk_session *s, struct lk_user *u);
/* Remember (s, u), read from the store under generation gen (taken before the read). */
void lk_scache_put(struct lk_scache *c, const unsigned char id_hash[32], uint64_t gen,
		   const struct lk_session *s, const struct lk_user *u);
/* Forget id_hash (after this process deleted it). */
void lk_scache_del(struct lk_scache *c, const unsigned char id_hash[32]);

#endif
