/* SPDX-License-Identifier: MIT */
/*
 * The sign-in limit policy (SPEC "Sign-in limits") as one pure function, so that the
 * in-memory limiter (auth/ratelimit.c) and the SQLite store (store/sqlite.c, inside one
 * BEGIN IMMEDIATE transaction) decide alike. The Redis store runs the same arithmetic in
 * one Lua script (SC_RL_STEP in store/redis.c); change the three together.
 *
 * The policy: a pair (account, client IP) may fail `pair_free` times freely; after that
 * each attempt waits a backoff of 2^(failures - pair_free) seconds from its last failure,
 * capped at `backoff_max`. An IP has a bucket of `ip_per_min` tokens refilled at
 * ip_per_min per minute; each failure takes one, and an empty bucket waits for the next.
 * State is forgotten backoff_max + 60 s after its last failure.
 *
 * Header-only (one static inline function): the store may use it without linking the auth
 * core.
 */
#ifndef LK_AUTH_RLPOLICY_H
#define LK_AUTH_RLPOLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "auth/records.h"

/* Sign-in limiter state for one key: consecutive failures, the time of the last one, and
 * a token-bucket level. found = false: no state (never failed, or forgotten). */
struct lk_rlstate {
	int64_t failures;
	int64_t last;
	double tokens;
	bool found;
};

enum lk_rl_step {
	LK_RL_TAKE,    /* when the wait is 0, record a failure (reserve the attempt) */
	LK_RL_RELEASE, /* forget the pair's failures; give the IP its token back */
};

/* How long state lives after the last failure, in seconds. */
static inline int64_t lk_rl_ttl(const struct lk_rlcfg *cfg)
{
	return (int64_t)cfg->backoff_max + 60;
}

/*
 * Apply one step of the policy at `now` to the stored states *pair and *ip (in: as read,
 * found = false when there is none; out: what to store, both with found = true; for
 * RELEASE pair->found = false means "delete" and ip->found = false "nothing to write").
 * Returns the seconds to wait before another attempt may go on (0: it may); TAKE changes
 * the states only when that is 0 (otherwise the caller writes nothing back).
 */
static inline int64_t lk_rl_policy(const struct lk_rlcfg *cfg, enum lk_rl_step step,
				   struct lk_rlstate *pair, struct lk_rlstate *ip, int64_t now)
{
	double cap = cfg->ip_per_min ? (double)cfg->ip_per_min : 1.0, rate = cap / 60.0;
	int64_t wait = 0, ttl = lk_rl_ttl(cfg);
	bool had_ip = ip->found && now - ip->last <= ttl;

	/* Forget state past its lifetime; bring the bucket to now. */
	if (!pair->found || now - pair->last > ttl)
		memset(pair, 0, sizeof *pair);
	if (!ip->found || now - ip->last > ttl) {
		memset(ip, 0, sizeof *ip);
		ip->tokens = cap;
		ip->last = now;
	}
	if (now > ip->last)
		ip->tokens += (double)(now - ip->last) * rate;
	if (ip->tokens > cap)
		ip->tokens = cap;
	ip->last = now > ip->last ? now : ip->last;

	if (ip->tokens < 1.0)
		wait = (int64_t)((1.0 - ip->tokens) / rate) + 1;
	if (pair->failures >= (int64_t)cfg->pair_free) {
		int64_t shift = pair->failures - (int64_t)cfg->pair_free;
		int64_t backoff = shift >= 30 ? (int64_t)cfg->backoff_max : (int64_t)1 << shift;
		if (backoff > (int64_t)cfg->backoff_max)
			backoff = cfg->backoff_max;
		if (pair->last + backoff - now > wait)
			wait = pair->last + backoff - now;
	}

	switch (step) {
	case LK_RL_TAKE:
		if (wait > 0)
			break;
		pair->failures++;
		pair->last = now;
		pair->found = true;
		ip->tokens -= 1.0;
		ip->last = now;
		ip->found = true;
		break;
	case LK_RL_RELEASE:
		memset(pair, 0, sizeof *pair);
		ip->tokens = ip->tokens + 1.0 > cap ? cap : ip->tokens + 1.0;
		ip->found = had_ip; /* a full bucket need not be written */
		break;
	}
	return wait;
}

#endif
