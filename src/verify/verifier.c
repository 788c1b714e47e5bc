/* SPDX-License-Identifier: MIT */
/*
 * lk_verifier: the hot path (see latchkey.h "verifier" and verifier_int.h). Keys are an
 * atomic pointer to an immutable lk_keyset, the denylist and the verified-token cache are
 * lock-free for readers; everything a writer replaces is freed through EBR (ebr.h). The
 * network side (discovery, JWKS fetches, the revocation stream) is remote.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "jose/jws_int.h"
#include "util/err.h"
#include "verify/ebr.h"
#include "verify/remote.h"
#include "verify/verifier_int.h"

#define PURGE_EVERY 30 /* seconds between denylist purges */

/* A copy of an optional setting; an empty string is no setting (an unset environment
 * variable and an empty one mean the same). */
static char *dup_opt(const char *s, bool *oom)
{
	char *d;
	if (!s || !*s)
		return NULL;
	if (!(d = strdup(s)))
		*oom = true;
	return d;
}

static void keyset_free(void *p)
{
	struct lk_keyset *ks = p;
	lk_jwks_free(ks->set);
	free(ks);
}

static int64_t or_default(int64_t v, int64_t def) { return v ? v : def; }

enum lk_err lk_verifier_new(const struct lk_verifier_config *cfg, lk_verifier **out,
			    struct lk_errinfo *ei)
{
	static const struct lk_verifier_config none;
	struct lk_verifier *v;
	enum lk_err err;
	bool oom = false;

	if (!out)
		return lk_errf(ei, LK_EINVAL, "no place for the verifier");
	*out = NULL;
	if (!cfg)
		cfg = &none;
	if (cfg->jwks_file && *cfg->jwks_file && cfg->jwks_url && *cfg->jwks_url)
		return lk_errf(ei, LK_EINVAL, "jwks_file and jwks_url are exclusive");
	bool has_id = cfg->client_id && *cfg->client_id,
	     has_secret = cfg->client_secret && *cfg->client_secret;
	if ((has_id || has_secret) && (!cfg->issuer || !*cfg->issuer || !has_id || !has_secret))
		return lk_errf(ei, LK_EINVAL, "the revocation feed needs an issuer, a client id "
					      "and a client secret");
	if (!(v = calloc(1, sizeof *v)))
		return lk_errf(ei, LK_ENOMEM, "out of memory");
	v->issuer = dup_opt(cfg->issuer, &oom);
	v->jwks_file = dup_opt(cfg->jwks_file, &oom);
	v->jwks_url = dup_opt(cfg->jwks_url, &oom);
	v->client_id = dup_opt(cfg->client_id, &oom);
	v->client_secret = dup_opt(cfg->client_secret, &oom);
	v->ca_file = dup_opt(cfg->ca_file, &oom);
	v->iss = dup_opt(cfg->iss && *cfg->iss ? cfg->iss : cfg->issuer, &oom);
	v->aud = dup_opt(cfg->aud, &oom);
	v->typ = strdup(cfg->typ ? cfg->typ : "at+jwt"); /* "" stays: any typ */
	oom |= !v->typ;
	if (oom) {
		err = lk_errf(ei, LK_ENOMEM, "out of memory");
		goto fail;
	}
	v->vo.allow = cfg->allow;
	v->vo.iss = v->iss;
	v->vo.aud = v->aud;
	v->vo.typ = v->typ[0] ? v->typ : NULL;
	v->vo.leeway = cfg->leeway;
	v->vo.require = LK_REQ_EXP | LK_REQ_IAT | LK_REQ_SUB | LK_REQ_JTI;
	v->leeway = cfg->leeway == 0 ? LK_DEFAULT_LEEWAY : cfg->leeway < 0 ? 0 : cfg->leeway;
	v->max_stale = or_default(cfg->max_stale, LK_VF_MAX_STALE);
	v->jwks_refresh = or_default(cfg->jwks_refresh, LK_VF_JWKS_REFRESH);
	v->kid_cooldown = or_default(cfg->kid_cooldown, LK_VF_KID_COOLDOWN);
	v->start_timeout_ms = cfg->start_timeout_ms ? cfg->start_timeout_ms : LK_VF_START_TIMEOUT_MS;
	v->subscribed_feed = v->client_id != NULL;
	atomic_init(&v->keys, NULL);
	/* Subscribed: stale until the first snapshot or event arrives (with a start timeout,
	 * lk_remote_start has it before we return; without one, nothing verifies until it
	 * comes). Not subscribed: staleness does not apply. */
	atomic_init(&v->last_contact, 0);
	atomic_init(&v->contact_mono, INT64_MIN / 2);
	if ((err = lk_denylist_new(&v->deny)) ||
	    (cfg->cache_slots != SIZE_MAX &&
	     (err = lk_vcache_new(cfg->cache_slots ? cfg->cache_slots : LK_VF_CACHE_SLOTS,
				  &v->cache)))) {
		err = lk_errf(ei, err, "out of memory");
		goto fail;
	}
	if ((v->issuer || v->jwks_url || v->jwks_file) && (err = lk_remote_start(v, ei)))
		goto fail;
	*out = v;
	return LK_OK;
fail:
	lk_verifier_free(v);
	return err;
}

void lk_verifier_free(lk_verifier *v)
{
	if (!v)
		return;
	lk_remote_stop(v);
	struct lk_keyset *ks = atomic_load_explicit(&v->keys, memory_order_relaxed);
	if (ks)
		keyset_free(ks);
	lk_vcache_free(v->cache);
	lk_denylist_free(v->deny);
	if (v->client_secret) {
		sodium_memzero(v->client_secret, strlen(v->client_secret));
		free(v->client_secret);
	}
	free(v->issuer);
	free(v->jwks_file);
	free(v->jwks_url);
	free(v->client_id);
	free(v->ca_file);
	free(v->iss);
	free(v->aud);
	free(v->typ);
	free(v);
	lk_ebr_reclaim();
}

enum lk_err lk_verifier_set_keys(lk_verifier *v, lk_jwks *keys)
{
	struct lk_keyset *ks;
	if (!v || !keys)
		return LK_EINVAL;
	if (!(ks = malloc(sizeof *ks)))
		return LK_ENOMEM;
	ks->set = lk_jwks_ref(keys);
	/* a new epoch: verifications cached under the old set end with it */
	ks->epoch = atomic_fetch_add_explicit(&v->key_epoch, 1, memory_order_relaxed) + 1;
	struct lk_keyset *old = atomic_exchange_explicit(&v->keys, ks, memory_order_seq_cst);
	if (old)
		lk_ebr_retire(old, keyset_free);
	return LK_OK;
}

enum lk_err lk_vf_keys(struct lk_verifier *v, lk_jwks *set)
{
	enum lk_err err = lk_verifier_set_keys(v, set);
	if (!err)
		atomic_fetch_add_explicit(&v->jwks_fetches, 1, memory_order_relaxed);
	return err;
}

enum lk_err lk_verifier_revoke(lk_verifier *v, const struct lk_revocation_event *ev)
{
	enum lk_deny_type t;
	enum lk_err err;

	if (!v || !ev || !(t = lk_deny_type_from(ev->type)) || !ev->value)
		return LK_EINVAL;
	int64_t now = (int64_t)time(NULL);
	if ((err = lk_denylist_add(v->deny, t, ev->value, strlen(ev->value),
				   t == LK_DENY_SUB ? ev->before : 0, ev->expires)))
		return err;
	int64_t last = atomic_load_explicit(&v->purged_at, memory_order_relaxed);
	if (now - last >= PURGE_EVERY &&
	    atomic_compare_exchange_strong_explicit(&v->purged_at, &last, now,
						    memory_order_relaxed, memory_order_relaxed))
		lk_denylist_purge(v->deny, now - v->leeway); /* a token lives until exp + leeway */
	return LK_OK;
}

enum lk_err lk_vf_event(struct lk_verifier *v, const struct lk_revocation_event *ev)
{
	enum lk_err err = lk_verifier_revoke(v, ev);
	int64_t c = atomic_load_explicit(&v->cursor, memory_order_relaxed);
	while (!err && ev->cursor > c &&
	       !atomic_compare_exchange_weak_explicit(&v->cursor, &c, ev->cursor,
						      memory_order_relaxed, memory_order_relaxed))
		;
	return err;
}

static int64_t mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

void lk_vf_contact(struct lk_verifier *v, int64_t now)
{
	atomic_store_explicit(&v->last_contact, now, memory_order_relaxed);
	atomic_store_explicit(&v->contact_mono, mono_s(), memory_order_release);
}

/* The token named a key we lack: ask for a fetch, at most once per kid_cooldown. */
static void want_keys(struct lk_verifier *v, int64_t now)
{
	int64_t last = atomic_load_explicit(&v->kid_fetch_at, memory_order_relaxed);
	if (!v->remote || now - last < v->kid_cooldown)
		return;
	if (atomic_compare_exchange_strong_explicit(&v->kid_fetch_at, &last, now,
						    memory_order_relaxed, memory_order_relaxed))
		lk_remote_want_keys(v);
}

enum lk_err lk_verifier_verify(lk_verifier *v, const char *token, size_t len, lk_jwt **out,
			       struct lk_errinfo *ei)
{
	return lk_verifier_verify_at(v, token, len, 0, out, ei);
}

enum lk_err lk_verifier_verify_at(lk_verifier *v, const char *token, size_t len, int64_t at,
				  lk_jwt **out, struct lk_errinfo *ei)
{
	lk_jwt *j = NULL;
	enum lk_err err;

	if (out)
		*out = NULL;
	if (!v || !token || !out)
		return lk_errf(ei, LK_EINVAL, "no verifier, token or result");
	if (len > LK_MAX_TOKEN)
		return lk_errf(ei, LK_ETOO_LARGE, "the token is over %d bytes", LK_MAX_TOKEN);
	int64_t clock = (int64_t)time(NULL), now = at ? at : clock;
	if (v->subscribed_feed && v->max_stale > 0) {
		int64_t quiet = mono_s() - atomic_load_explicit(&v->contact_mono, memory_order_acquire);
		if (quiet > v->max_stale)
			return atomic_load_explicit(&v->last_contact, memory_order_relaxed)
				       ? lk_errf(ei, LK_ESTALE, "no word from the revocation feed for "
						 "%lld s (bound: %lld s)", (long long)quiet,
						 (long long)v->max_stale)
				       : lk_errf(ei, LK_ESTALE, "no revocation snapshot yet");
	}
	struct lk_vkey vk;
	bool put = false;
	lk_ebr_enter();
	struct lk_keyset *ks = atomic_load_explicit(&v->keys, memory_order_seq_cst);
	if (!ks) {
		lk_ebr_exit();
		return lk_errf(ei, LK_ENO_KEY, "no key set yet");
	}
	uint64_t epoch = ks->epoch;
	if (v->cache && (j = lk_vcache_get(v->cache, token, len, epoch, &vk))) {
		atomic_fetch_add_explicit(&v->cache_hits, 1, memory_order_relaxed);
		err = lk_jwt_check_times(j, now, v->leeway, ei);
	} else {
		struct lk_verify_opts o = v->vo;
		o.now = now;
		atomic_fetch_add_explicit(&v->cache_misses, 1, memory_order_relaxed);
		err = lk_jwt_verify(ks->set, token, len, &o, &j, ei);
		put = !err && v->cache;
	}
	lk_ebr_exit();
	if (put) /* outside the read section: what it replaces can be freed sooner */
		lk_vcache_put(v->cache, &vk, epoch, j);
	if (err == LK_ENO_KEY)
		want_keys(v, clock);
	if (!err && lk_denylist_denies(v->deny, lk_jwt_claim_str(j, "jti"),
				       lk_jwt_claim_str(j, "sid"), lk_jwt_claim_str(j, "sub"),
				       lk_jwt_iat(j)))
		err = lk_errf(ei, LK_EREVOKED, "the token, its session or its subject was revoked");
	if (err) {
		lk_jwt_free(j);
		return err;
	}
	*out = j;
	return LK_OK;
}

void lk_verifier_stats(lk_verifier *v, struct lk_verifier_stats *s)
{
	memset(s, 0, sizeof *s);
	s->cursor = atomic_load_explicit(&v->cursor, memory_order_relaxed);
	s->last_contact = v->subscribed_feed ? atomic_load_explicit(&v->last_contact,
								     memory_order_relaxed) : 0;
	s->subscribed = atomic_load_explicit(&v->connected, memory_order_relaxed);
	s->revocations = lk_denylist_count(v->deny);
	s->denylist_bytes = lk_denylist_bytes(v->deny);
	s->jwks_fetches = atomic_load_explicit(&v->jwks_fetches, memory_order_relaxed);
	s->reconnects = atomic_load_explicit(&v->reconnects, memory_order_relaxed);
	s->cache_hits = atomic_load_explicit(&v->cache_hits, memory_order_relaxed);
	s->cache_misses = atomic_load_explicit(&v->cache_misses, memory_order_relaxed);
	struct lk_remote_status rs;
	lk_remote_status(v, &rs);
	s->auth_failures = rs.auth_failures;
	s->feed_errors = rs.feed_errors;
	s->bad_events = rs.bad_events;
	s->jwks_errors = rs.jwks_errors;
	snprintf(s->last_error, sizeof s->last_error, "%s", rs.last_error);
}
