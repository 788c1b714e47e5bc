/* SPDX-License-Identifier: MIT */
/*
 * tests/verify/race.c: one lk_verifier, eight threads verifying at once, under
 * ThreadSanitizer (`make tsan`, then build-tsan/tests/race; `make test` runs it as the
 * suite build-tsan/race with TSAN_OPTIONS=halt_on_error=1).
 *
 * The verifier is made without a key source (a zeroed config: typ at+jwt, sub/jti/exp/iat
 * required, no iss or aud) and fed by hand while the readers run:
 *   - a writer revokes jti, sid and sub values of pooled tokens, interleaved with enough
 *     filler events that the denylist grows (rebuilds) several times under the readers;
 *   - the key set is replaced mid-run: {k1} -> {k2} -> {k1, k2};
 *   - readers verify a mix of pooled tokens (repeated: cache hits), freshly signed ones
 *     (misses), tampered ones, and short-lived ones that expire during the run (a cache
 *     hit must still fail the time check; the leeway is off).
 * Every verdict is checked against what the header contract allows given what the writer
 * had finished before the verification started and had begun before it ended: a token
 * whose jti, sid or sub (issued before the sub's `before`) was revoked before the call
 * starts must be LK_EREVOKED; one whose key is not in the set for the whole call must be
 * LK_ENO_KEY; a success must return the claims of the token given. Any wrong verdict
 * fails the run (exit 1).
 *
 * Output: TAP lines. RACE_SECONDS (default 4) sets the run time.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "latchkey.h"

#define READERS 8
#define POOL 512            /* pooled tokens per key */
#define SUBS 32             /* subjects user-0 .. */
#define SIDS 64             /* sessions sid-0 .. */
#define SHORT 16            /* short-lived tokens (exp = t0 + 2) */
#define FILLERS 30000       /* filler events, never matching a token */
#define MAX_REPORTS 20

enum { ST_NONE = 0, ST_STARTED = 1, ST_DONE = 2 };

struct tok {
	char *s;
	size_t len;
	int key;                /* 0: k1, 1: k2 */
	int jti_ix;             /* index into rv_jti, or -1 (never revoked) */
	int sid_ix, sub_ix;     /* -1: never revoked */
	int64_t iat, exp;
	char jti[48];
};

static struct {
	lk_verifier *v;
	lk_jwk *key[2];
	lk_jwks *sets[3];       /* generation 0: {k1}, 1: {k2}, 2: {k1, k2} */
	int64_t t0;             /* start time: sub events carry before = t0 */
	struct tok pool[2 * POOL], shorts[SHORT];
	_Atomic int rv_jti[2 * POOL], rv_sid[SIDS], rv_sub[SUBS];
	_Atomic int gen_started, gen_done;
	_Atomic int stop;
	_Atomic long verifies, wrong, oks, revoked, nokey, expired;
	pthread_mutex_t report_lock;
	int reports;
} G;

static int key_in_gen(int key, int gen)
{
	return gen == 2 || gen == key;
}

static void die(const char *what, enum lk_err err)
{
	printf("not ok 1 - setup: %s: %s\n", what, lk_err_str(err));
	exit(1);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Sign claims with key k (header typ at+jwt) into t. */
static void sign(struct tok *t, int k, const char *jti, const char *sid, const char *sub,
		 int64_t iat, int64_t exp)
{
	char claims[256];
	struct lk_errinfo ei = {0};
	int n = snprintf(claims, sizeof claims,
			 "{\"iss\":\"https://race.test\",\"sub\":\"%s\",\"sid\":\"%s\",\"jti\":\"%s\","
			 "\"iat\":%lld,\"exp\":%lld}",
			 sub, sid, jti, (long long)iat, (long long)exp);
	enum lk_err err = lk_jws_sign(G.key[k], "at+jwt", claims, (size_t)n, &t->s, &t->len, &ei);
	if (err != LK_OK)
		die("lk_jws_sign", err);
	t->key = k;
	t->iat = iat;
	t->exp = exp;
	snprintf(t->jti, sizeof t->jti, "%s", jti);
}

/* Allowed outcomes, as bits. */
#define A_OK (1u << 0)
#define A_REVOKED (1u << 1)
#define A_NOKEY (1u << 2)
#define A_EXPIRED (1u << 3)
#define A_INVALID (1u << 4) /* any refusal but LK_OK (tampered tokens) */

static unsigned outcome_bit(enum lk_err err)
{
	switch (err) {
	case LK_OK: return A_OK;
	case LK_EREVOKED: return A_REVOKED;
	case LK_ENO_KEY: return A_NOKEY;
	case LK_EEXPIRED: return A_EXPIRED;
	default: return 0;
	}
}

static int state_of(_Atomic int *arr, int ix)
{
	return ix < 0 ? ST_NONE : atomic_load(&arr[ix]);
}

struct snap {
	int gen;                /* gen_done at the start / gen_started at the end */
	int jti, sid, sub;      /* revocation states */
	int64_t now;
};

static void snap_of(struct snap *s, const struct tok *t, int at_start)
{
	s->gen = atomic_load(at_start ? &G.gen_done : &G.gen_started);
	s->jti = state_of(G.rv_jti, t->jti_ix);
	s->sid = state_of(G.rv_sid, t->sid_ix);
	s->sub = t->iat < G.t0 ? state_of(G.rv_sub, t->sub_ix) : ST_NONE;
	s->now = (int64_t)time(NULL);
}

/* What the contract allows for t, verified between snapshots a (start) and b (end). The
 * checks come in the verifier's order: key, times, then the denylist. */
static unsigned allowed(const struct tok *t, const struct snap *a, const struct snap *b)
{
	unsigned ok = 0;
	if (a->gen == b->gen) {             /* no replacement began during the call */
		if (!key_in_gen(t->key, a->gen))
			return A_NOKEY;
	} else {
		ok |= A_NOKEY;
	}
	if (t->exp <= a->now)               /* leeway is off: exp <= now is expired */
		return ok | A_EXPIRED;
	if (t->exp <= b->now + 1)           /* the verifier's clock read is in between */
		ok |= A_EXPIRED;
	if (a->jti == ST_DONE || a->sid == ST_DONE || a->sub == ST_DONE)
		return ok | A_REVOKED;
	if (b->jti != ST_NONE || b->sid != ST_NONE || b->sub != ST_NONE)
		ok |= A_REVOKED;
	return ok | A_OK;
}

static void report(const char *kind, const struct tok *t, enum lk_err err, unsigned allow,
		   const struct snap *a, const struct snap *b)
{
	atomic_fetch_add(&G.wrong, 1);
	pthread_mutex_lock(&G.report_lock);
	if (G.reports++ < MAX_REPORTS)
		printf("# WRONG %s token jti=%s key=k%d: got %s, allowed mask 0x%x "
		       "(gen %d..%d, jti %d/%d sid %d/%d sub %d/%d, exp-now %lld)\n",
		       kind, t->jti, t->key + 1, lk_err_str(err), allow, a->gen, b->gen, a->jti,
		       b->jti, a->sid, b->sid, a->sub, b->sub, (long long)(t->exp - a->now));
	pthread_mutex_unlock(&G.report_lock);
}

static void check_one(const char *kind, const struct tok *t, const char *bytes, size_t len,
		      int tampered)
{
	struct snap a, b;
	lk_jwt *jwt = NULL;
	snap_of(&a, t, 1);
	enum lk_err err = lk_verifier_verify(G.v, bytes, len, &jwt, NULL);
	snap_of(&b, t, 0);
	atomic_fetch_add(&G.verifies, 1);

	unsigned allow = tampered ? A_INVALID : allowed(t, &a, &b);
	int right = tampered ? err != LK_OK : (outcome_bit(err) & allow) != 0;
	if (err == LK_OK) {
		const char *jti = lk_jwt_claim_str(jwt, "jti");
		if (!jti || strcmp(jti, t->jti) != 0) /* the cache answered for another token */
			right = 0;
		atomic_fetch_add(&G.oks, 1);
	} else if (jwt) {
		right = 0;                            /* out-parameters are NULL on failure */
	}
	if (err == LK_EREVOKED)
		atomic_fetch_add(&G.revoked, 1);
	if (err == LK_ENO_KEY)
		atomic_fetch_add(&G.nokey, 1);
	if (err == LK_EEXPIRED)
		atomic_fetch_add(&G.expired, 1);
	if (!right)
		report(kind, t, err, allow, &a, &b);
	lk_jwt_free(jwt);
}

static void *reader(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
	char buf[LK_MAX_TOKEN + 1];
	long fresh = 0;

	while (!atomic_load(&G.stop)) {
		unsigned r = (unsigned)(rnd(&seed) % 100);
		if (r < 70) {                       /* repeated: mostly cache hits */
			const struct tok *t = &G.pool[rnd(&seed) % (2 * POOL)];
			check_one("pooled", t, t->s, t->len, 0);
		} else if (r < 85) {                /* fresh: a miss, then a hit */
			struct tok t;
			char jti[48], sid[48];
			int k = (int)(rnd(&seed) % 2);
			snprintf(jti, sizeof jti, "fresh-%d-%ld", id, fresh);
			snprintf(sid, sizeof sid, "fresh-sid-%d-%ld", id, fresh++);
			char sub[16];
			int sub_ix = (int)(rnd(&seed) % SUBS);
			snprintf(sub, sizeof sub, "user-%d", sub_ix);
			int64_t now = (int64_t)time(NULL);
			sign(&t, k, jti, sid, sub, now, now + 600);
			t.jti_ix = t.sid_ix = -1;
			t.sub_ix = sub_ix;          /* iat >= t0: the sub events never deny it */
			check_one("fresh", &t, t.s, t.len, 0);
			check_one("fresh-again", &t, t.s, t.len, 0);
			free(t.s);
		} else if (r < 93) {                /* short-lived: expire during the run */
			const struct tok *t = &G.shorts[rnd(&seed) % SHORT];
			check_one("short", t, t->s, t->len, 0);
		} else {                            /* tampered: one signature byte changed */
			const struct tok *t = &G.pool[rnd(&seed) % (2 * POOL)];
			memcpy(buf, t->s, t->len + 1);
			size_t at = t->len - 1 - (size_t)(rnd(&seed) % 20);
			buf[at] = buf[at] == 'A' ? 'B' : 'A';
			check_one("tampered", t, buf, t->len, 1);
		}
	}
	lk_thread_cleanup();
	return NULL;
}

static void revoke(const char *type, const char *value, int64_t before)
{
	struct lk_revocation_event ev = {0};
	ev.type = type;
	ev.value = value;
	ev.before = before;
	ev.expires = G.t0 + 3600;
	enum lk_err err = lk_verifier_revoke(G.v, &ev);
	if (err != LK_OK)
		die("lk_verifier_revoke", err);
}

static void set_gen(int gen)
{
	atomic_store(&G.gen_started, gen);
	enum lk_err err = lk_verifier_set_keys(G.v, G.sets[gen]);
	if (err != LK_OK)
		die("lk_verifier_set_keys", err);
	atomic_store(&G.gen_done, gen);
}

/* The writer: revocations and fillers spread over the run, key replacements at 1/3 and
 * 2/3 of it. */
static void *writer(void *arg)
{
	long total_ms = (long)(intptr_t)arg;
	uint64_t seed = 12345;
	const int steps = 300;
	char value[64];
	struct lk_verifier_stats st;
	int filler = 0;

	for (int step = 0; step < steps; step++) {
		if (step == steps / 3)
			set_gen(1);
		if (step == 2 * steps / 3)
			set_gen(2);
		/* a few real revocations */
		for (int i = 0; i < 3; i++) {
			unsigned r = (unsigned)(rnd(&seed) % 100);
			if (r < 80) {
				int ix = (int)(rnd(&seed) % (2 * POOL));
				if (atomic_load(&G.rv_jti[ix]) != ST_NONE)
					continue;
				atomic_store(&G.rv_jti[ix], ST_STARTED);
				revoke("jti", G.pool[ix].jti, 0);
				atomic_store(&G.rv_jti[ix], ST_DONE);
			} else if (r < 93) {
				int ix = (int)(rnd(&seed) % SIDS);
				if (atomic_load(&G.rv_sid[ix]) != ST_NONE || ix % 4)
					continue;   /* at most a quarter of the sessions */
				snprintf(value, sizeof value, "sid-%d", ix);
				atomic_store(&G.rv_sid[ix], ST_STARTED);
				revoke("sid", value, 0);
				atomic_store(&G.rv_sid[ix], ST_DONE);
			} else {
				int ix = (int)(rnd(&seed) % SUBS);
				if (atomic_load(&G.rv_sub[ix]) != ST_NONE || ix % 4)
					continue;
				snprintf(value, sizeof value, "user-%d", ix);
				atomic_store(&G.rv_sub[ix], ST_STARTED);
				revoke("sub", value, G.t0);
				atomic_store(&G.rv_sub[ix], ST_DONE);
			}
		}
		/* fillers: grow the denylist under the readers */
		for (int i = 0; i < FILLERS / steps; i++, filler++) {
			static const char *const types[] = {"jti", "sid", "sub"};
			snprintf(value, sizeof value, "filler-%d", filler);
			revoke(types[filler % 3], value, G.t0);
		}
		lk_verifier_stats(G.v, &st);
		struct timespec ts = {0, total_ms * 1000000L / steps};
		nanosleep(&ts, NULL);
	}
	lk_thread_cleanup();
	return NULL;
}

int main(void)
{
	const char *secs = getenv("RACE_SECONDS");
	long total_ms = (secs ? atol(secs) : 4) * 1000;
	if (total_ms <= 0)
		total_ms = 4000;
	enum lk_err err;
	struct lk_errinfo ei = {0};
	int n = 0, failed = 0;

	pthread_mutex_init(&G.report_lock, NULL);
	G.t0 = (int64_t)time(NULL);
	if ((err = lk_jwk_generate(LK_ALG_EDDSA, "k1", &G.key[0], &ei)) ||
	    (err = lk_jwk_generate(LK_ALG_EDDSA, "k2", &G.key[1], &ei)))
		die("lk_jwk_generate", err);
	if ((err = lk_jwks_new(&G.key[0], 1, &G.sets[0])) ||
	    (err = lk_jwks_new(&G.key[1], 1, &G.sets[1])) ||
	    (err = lk_jwks_new(G.key, 2, &G.sets[2])))
		die("lk_jwks_new", err);

	for (int i = 0; i < 2 * POOL; i++) {
		char jti[32], sid[16], sub[16];
		snprintf(jti, sizeof jti, "pool-%d", i);
		snprintf(sid, sizeof sid, "sid-%d", i % SIDS);
		snprintf(sub, sizeof sub, "user-%d", i % SUBS);
		sign(&G.pool[i], i / POOL, jti, sid, sub, G.t0 - 5, G.t0 + 3600);
		G.pool[i].jti_ix = i;
		G.pool[i].sid_ix = i % SIDS;
		G.pool[i].sub_ix = i % SUBS;
	}
	for (int i = 0; i < SHORT; i++) {
		char jti[32], sid[32];
		snprintf(jti, sizeof jti, "short-%d", i);
		snprintf(sid, sizeof sid, "short-sid-%d", i);
		/* key k1 (valid in generations 0 and 2), exp during the first half */
		sign(&G.shorts[i], 0, jti, sid, "short-user", G.t0 - 5, G.t0 + 2);
		G.shorts[i].jti_ix = G.shorts[i].sid_ix = G.shorts[i].sub_ix = -1;
	}

	struct lk_verifier_config cfg = {0};
	cfg.leeway = -1; /* none: expiry is exact */
	if ((err = lk_verifier_new(&cfg, &G.v, &ei)))
		die("lk_verifier_new", err);
	struct lk_verifier_stats st0, st;
	lk_verifier_stats(G.v, &st0);
	set_gen(0);

	pthread_t r[READERS], w;
	for (int i = 0; i < READERS; i++)
		pthread_create(&r[i], NULL, reader, (void *)(intptr_t)i);
	pthread_create(&w, NULL, writer, (void *)(intptr_t)total_ms);
	pthread_join(w, NULL);
	struct timespec tail = {0, 300 * 1000000L}; /* readers run on the final state */
	nanosleep(&tail, NULL);
	atomic_store(&G.stop, 1);
	for (int i = 0; i < READERS; i++)
		pthread_join(r[i], NULL);
	lk_verifier_stats(G.v, &st);

	/* After the run, deterministic: every revoked pooled token is refused. */
	long after_wrong = 0;
	for (int i = 0; i < 2 * POOL; i++) {
		struct tok *t = &G.pool[i];
		lk_jwt *jwt = NULL;
		err = lk_verifier_verify(G.v, t->s, t->len, &jwt, NULL);
		int rev = atomic_load(&G.rv_jti[i]) == ST_DONE ||
			  atomic_load(&G.rv_sid[t->sid_ix]) == ST_DONE ||
			  atomic_load(&G.rv_sub[t->sub_ix]) == ST_DONE;
		if (err != (rev ? LK_EREVOKED : LK_OK)) {
			if (after_wrong++ < MAX_REPORTS)
				printf("# WRONG after the run: %s: got %s, want %s\n", t->jti,
				       lk_err_str(err), rev ? "revoked" : "ok");
		}
		lk_jwt_free(jwt);
	}

	long wrong = atomic_load(&G.wrong);
	printf("# %ld verifications: %ld ok, %ld revoked, %ld no_matching_key, %ld expired; "
	       "cache %llu hits / %llu misses; denylist %zu entries, %zu -> %zu bytes\n",
	       atomic_load(&G.verifies), atomic_load(&G.oks), atomic_load(&G.revoked),
	       atomic_load(&G.nokey), atomic_load(&G.expired),
	       (unsigned long long)st.cache_hits, (unsigned long long)st.cache_misses,
	       st.revocations, st0.denylist_bytes, st.denylist_bytes);

#define TAP(cond, ...)                                                                        \
	do {                                                                                  \
		int c_ = (cond);                                                              \
		failed |= !c_;                                                                \
		printf("%s %d - ", c_ ? "ok" : "not ok", ++n);                                \
		printf(__VA_ARGS__);                                                          \
		printf("\n");                                                                 \
	} while (0)
	TAP(wrong == 0, "%d threads, every verdict allowed by the contract (%ld wrong)", READERS,
	    wrong);
	TAP(after_wrong == 0, "after the run every revoked token is refused, every other accepted");
	TAP(atomic_load(&G.oks) > 0 && atomic_load(&G.revoked) > 0 && atomic_load(&G.nokey) > 0 &&
		    atomic_load(&G.expired) > 0,
	    "the run saw successes, revocations, unknown keys and expiries");
	TAP(st.cache_hits > 0 && st.cache_misses > 0, "the cache was hit and missed");
	TAP(st.revocations >= FILLERS, "the denylist holds every event (%zu >= %d)", st.revocations,
	    FILLERS);
	TAP(st.denylist_bytes > st0.denylist_bytes, "the denylist grew under the readers");
	printf("1..%d\n", n);

	lk_verifier_free(G.v);
	for (int i = 0; i < 2 * POOL; i++)
		free(G.pool[i].s);
	for (int i = 0; i < SHORT; i++)
		free(G.shorts[i].s);
	for (int i = 0; i < 3; i++)
		lk_jwks_free(G.sets[i]);
	lk_jwk_free(G.key[0]);
	lk_jwk_free(G.key[1]);
	return failed ? 1 : 0;
}
