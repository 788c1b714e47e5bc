/* SPDX-License-Identifier: MIT */
/*
 * Inside lk_verifier: verifier.c owns the hot path (keys, rules, cache, denylist);
 * remote.c owns the network side (discovery, JWKS fetches, the revocation stream) and
 * runs one background thread per verifier that has a network source.
 */
#ifndef LK_VERIFY_VERIFIER_INT_H
#define LK_VERIFY_VERIFIER_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "latchkey.h"
#include "verify/denylist.h"
#include "verify/vcache.h"

#define LK_VF_MAX_STALE 60
#define LK_VF_JWKS_REFRESH 300
#define LK_VF_KID_COOLDOWN 10
#define LK_VF_CACHE_SLOTS 4096
#define LK_VF_START_TIMEOUT_MS 5000

struct lk_keyset {            /* one published key set: freed through EBR */
	lk_jwks *set;
	uint64_t epoch;
};

struct lk_remote;             /* remote.c */

struct lk_verifier {
	/* configuration, strings owned (copies of the caller's) */
	char *issuer, *jwks_file, *jwks_url, *client_id, *client_secret, *ca_file;
	char *iss, *aud, *typ;
	struct lk_verify_opts vo;  /* iss, aud, typ, allow, leeway, require */
	int64_t leeway;            /* effective, >= 0 */
	int64_t max_stale, jwks_refresh, kid_cooldown;
	int start_timeout_ms;

	_Atomic(struct lk_keyset *) keys;
	_Atomic uint64_t key_epoch;
	struct lk_denylist *deny;
	struct lk_vcache *cache;   /* NULL: no cache */

	/* the feed: written by remote.c, read by verify */
	bool subscribed_feed;      /* credentials given: staleness applies */
	_Atomic int64_t last_contact;  /* wall clock, for stats */
	_Atomic int64_t contact_mono;  /* CLOCK_MONOTONIC s: staleness, immune to clock steps */
	_Atomic int64_t cursor;
	_Atomic int connected;
	_Atomic int64_t kid_fetch_at;  /* last unknown-kid fetch request */
	_Atomic int64_t purged_at;     /* last denylist purge */

	_Atomic uint64_t jwks_fetches, reconnects, cache_hits, cache_misses;

	struct lk_remote *remote;  /* NULL without a network source */
};

/* remote.c: fetch the first JWKS (and snapshot) within cfg->start_timeout_ms, then start
 * the background thread. */
enum lk_err lk_remote_start(struct lk_verifier *v, struct lk_errinfo *ei);
/* Stop and join the background thread, free the remote state. NULL-safe on v->remote. */
void lk_remote_stop(struct lk_verifier *v);
/* A token named a kid we lack: wake the background thread for a JWKS fetch now (the
 * caller has already applied kid_cooldown). Never blocks. */
void lk_remote_want_keys(struct lk_verifier *v);

/* verifier.c, for remote.c */
/* Publish a newly fetched set (takes its own reference); counts a fetch. */
enum lk_err lk_vf_keys(struct lk_verifier *v, lk_jwks *set);
/* Apply one event from the feed and advance the cursor. */
enum lk_err lk_vf_event(struct lk_verifier *v, const struct lk_revocation_event *ev);
/* The feed is alive (an event, a ping or a snapshot arrived) at `now`. */
void lk_vf_contact(struct lk_verifier *v, int64_t now);

#endif
