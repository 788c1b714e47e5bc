/* SPDX-License-Identifier: MIT */
/*
 * Sign-in limits (SPEC "Sign-in limits"): failures are counted per client IP and per
 * (account, client IP) pair. After `pair_free` failures a pair waits a backoff that doubles
 * from 1 s up to `backoff_max`; one IP gets at most `ip_per_min` failures a minute across
 * accounts (a token bucket). Successes are never held back by another IP's failures, so an
 * attacker cannot lock an account for its owner. The counters live in the store when it
 * offers rl ops (shared by every instance), else in this process's memory.
 */
#ifndef LK_AUTH_RATELIMIT_H
#define LK_AUTH_RATELIMIT_H

#include <stdint.h>
#include "latchkey.h"
#include "auth/records.h"
#include "store/store.h"


struct lk_ratelimit;

enum lk_err lk_rl_new(const struct lk_rlcfg *cfg, struct lk_ratelimit **out) LK_WUR;
void lk_rl_free(struct lk_ratelimit *rl);
/* Keep the counters in st (when its back end has rl ops) so that every instance on the
 * same store counts together; otherwise they stay in this process's memory. */
void lk_rl_use_store(struct lk_ratelimit *rl, struct lk_store *st);
/* Reserve a failure before the password is checked, atomically: LK_OK when the attempt
 * may go on (a failure is already counted), LK_ERATE_LIMITED with *retry_after seconds
 * (nothing counted), or a store error (the caller answers 503: no unlimited oracle). */
enum lk_err lk_rl_take(struct lk_ratelimit *rl, const char *user, const char *ip, int64_t now,
		       int64_t *retry_after) LK_WUR;
/* The reserved attempt succeeded: the pair's failures are forgiven and the ip's token
 * given back. */
void lk_rl_release(struct lk_ratelimit *rl, const char *user, const char *ip, int64_t now);

#endif
