/* SPDX-License-Identifier: MIT */
/*
 * bench/verify: liblatchkey's lk_verifier (issue 13), benchmarks (b) and (c).
 *
 *   bench/verify [--secs S] [--rounds R] [--threads 1,2,8] [--algs ES256,EdDSA,RS256,HS256]
 *       (b) throughput: the JOSE core alone (lk_jwt_verify with the verifier's rules) vs
 *       lk_verifier_verify with the cache cold (every token distinct; or the cache off,
 *       cache_slots = SIZE_MAX) vs hot (one token repeated), every verifier holding a
 *       denylist of 10k live entries; then the hot-path contention table.
 *   bench/verify --mem [--entries N]
 *       (c) the denylist at N (default 100k) live revocations: denylist_bytes, RSS delta,
 *       lookup cost at 0 / 1 / 10k / N entries.
 *
 * Each figure is the median of R rounds (default 5) of S seconds (default 1); the rounds
 * are interleaved across all cases, so a burst of load from elsewhere spreads over them.
 * Prints markdown. Build: `make bench-verify` (also runs it).
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "latchkey.h"
#include "verify/denylist.h"      /* internal: the lookup-cost rows of --mem */
#include "verify/verifier_int.h"  /* internal: v->deny */

#define ISS "https://auth.example.com"
#define AUD "https://api.example.com"
#define POOL_DEFAULT 65536 /* distinct tokens per algorithm: 16x the default 4096 cache
			     slots, so a token's slot is reused before it comes round again */
#define DENY_LIVE 10000
#define MAXT 64

static void die(const char *what, enum lk_err e)
{
	fprintf(stderr, "bench/verify: %s: %s\n", what, e ? lk_err_str(e) : strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void rand_b64(char *out, size_t nbytes) /* 16 bytes -> 22 chars */
{
	unsigned char b[64];
	randombytes_buf(b, nbytes);
	sodium_bin2base64(out, sodium_base64_ENCODED_LEN(nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
			  b, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *x, int n)
{
	double t[64];
	memcpy(t, x, (size_t)n * sizeof *x);
	qsort(t, (size_t)n, sizeof *t, cmp_d);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* ------------------------------------------------------------------ tokens and verifiers */

struct alg {
	const char *name;
	enum lk_alg alg;
	lk_jwk *priv;
	lk_jwks *pub;
	char **tok;      /* pool of distinct tokens */
	size_t *len;
	size_t n;
	size_t start;    /* where the next run starts in the pool: runs do not repeat tokens */
	lk_verifier *vc; /* cache on (default 4096 slots) */
	lk_verifier *vn; /* cache off */
	struct lk_verify_opts opts;
};

static int64_t T0; /* iat of every token */

static char *mint(struct alg *a, size_t *len)
{
	char payload[512], jti[32], sid[32];
	rand_b64(jti, 16);
	rand_b64(sid, 16);
	uint32_t sub = 1 + randombytes_uniform(9000000); /* decimal ids; denied subs are >= 1e7 */
	snprintf(payload, sizeof payload,
		 "{\"iss\":\"%s\",\"sub\":\"%u\",\"aud\":\"%s\",\"exp\":%lld,\"iat\":%lld,"
		 "\"jti\":\"%s\",\"sid\":\"%s\",\"scope\":\"read write\",\"client_id\":\"web\"}",
		 ISS, sub, AUD, (long long)T0 + 7200, (long long)T0, jti, sid);
	char *t;
	struct lk_errinfo ei = {0};
	enum lk_err e = lk_jws_sign(a->priv, "at+jwt", payload, strlen(payload), &t, len, &ei);
	if (e)
		die("lk_jws_sign", e);
	return t;
}

struct gen { struct alg *a; size_t from, to; };
static void *gen_thread(void *p)
{
	struct gen *g = p;
	for (size_t i = g->from; i < g->to; i++)
		g->a->tok[i] = mint(g->a, &g->a->len[i]);
	lk_thread_cleanup();
	return NULL;
}

/* A realistic denylist entry: jti (22 chars base64url), sid (22), or sub (a decimal id
 * that no bench token carries, revoked "before" the tokens were issued). 60/25/15. */
static void revoke_one(lk_verifier *v, uint32_t i)
{
	char val[32];
	struct lk_revocation_event ev = {.expires = T0 + 86400};
	uint32_t r = i % 20;
	if (r < 12) {
		ev.type = "jti";
		rand_b64(val, 16);
	} else if (r < 17) {
		ev.type = "sid";
		rand_b64(val, 16);
	} else {
		ev.type = "sub";
		snprintf(val, sizeof val, "%u", 10000000u + i);
		ev.before = T0 - 60;
	}
	ev.value = val;
	enum lk_err e = lk_verifier_revoke(v, &ev);
	if (e)
		die("lk_verifier_revoke", e);
}

static lk_verifier *make_verifier(lk_jwks *keys, size_t slots, unsigned live)
{
	struct lk_verifier_config cfg = {.iss = ISS, .cache_slots = slots};
	lk_verifier *v;
	struct lk_errinfo ei = {0};
	enum lk_err e = lk_verifier_new(&cfg, &v, &ei);
	if (e)
		die("lk_verifier_new", e);
	if ((e = lk_verifier_set_keys(v, keys)))
		die("lk_verifier_set_keys", e);
	for (unsigned i = 0; i < live; i++)
		revoke_one(v, i);
	return v;
}

static void setup_alg(struct alg *a, size_t pool)
{
	struct lk_errinfo ei = {0};
	enum lk_err e;
	char *json;
	lk_jwk *pk;
	if ((e = lk_jwk_generate(a->alg, "k1", &a->priv, &ei)))
		die("lk_jwk_generate", e);
	/* the verifier holds the public form (oct keys have none) */
	if ((e = lk_jwk_to_json(a->priv, a->alg == LK_ALG_HS256, &json, NULL)))
		die("lk_jwk_to_json", e);
	if ((e = lk_jwk_parse(json, strlen(json), &pk, &ei)))
		die("lk_jwk_parse", e);
	free(json);
	if ((e = lk_jwks_new(&pk, 1, &a->pub)))
		die("lk_jwks_new", e);
	lk_jwk_free(pk);
	a->n = pool;
	a->tok = calloc(pool, sizeof *a->tok);
	a->len = calloc(pool, sizeof *a->len);
	struct gen g[2] = {{a, 0, pool / 2}, {a, pool / 2, pool}};
	pthread_t th;
	pthread_create(&th, NULL, gen_thread, &g[1]);
	gen_thread(&g[0]);
	pthread_join(th, NULL);
	a->vc = make_verifier(a->pub, 0, DENY_LIVE);
	a->vn = make_verifier(a->pub, SIZE_MAX, DENY_LIVE);
	/* the core gets the verifier's rules: typ at+jwt, iss, exp/iat/sub/jti required */
	a->opts = (struct lk_verify_opts){.iss = ISS, .typ = "at+jwt",
		.require = LK_REQ_EXP | LK_REQ_IAT | LK_REQ_SUB | LK_REQ_JTI};
	/* sanity: every path accepts the token, and a revoked jti is refused */
	lk_jwt *j = NULL;
	if ((e = lk_jwt_verify(a->pub, a->tok[0], a->len[0], &a->opts, &j, &ei)))
		die("core verify", e);
	char jti[64];
	snprintf(jti, sizeof jti, "%s", lk_jwt_claim_str(j, "jti"));
	lk_jwt_free(j);
	lk_verifier *vs[2] = {a->vc, a->vn};
	for (int k = 0; k < 2; k++) {
		if ((e = lk_verifier_verify(vs[k], a->tok[0], a->len[0], &j, &ei)))
			die("verifier verify", e);
		lk_jwt_free(j);
	}
	lk_verifier *t = make_verifier(a->pub, 0, 0);
	struct lk_revocation_event ev = {.type = "jti", .value = jti, .expires = T0 + 86400};
	if ((e = lk_verifier_revoke(t, &ev)))
		die("revoke", e);
	if (lk_verifier_verify(t, a->tok[0], a->len[0], &j, &ei) != LK_EREVOKED)
		die("a revoked token verified", 0);
	lk_verifier_free(t);
}

/* ------------------------------------------------------------------ the timed runs */

enum kind { CORE, COLD, NOCACHE, HOT, HOT_OWN, NKIND };
static const char *const KIND_NAME[NKIND] = {
	"core: lk_jwt_verify", "verifier, cache cold (distinct tokens)",
	"verifier, cache off (cache_slots = SIZE_MAX)", "verifier, cache hot (one token, all threads)",
	"verifier, cache hot (one token per thread)",
};

struct run {
	struct alg *a;
	enum kind k;
	int nt;
	pthread_barrier_t bar;
	atomic_int stop;
	struct {
		_Alignas(64) uint64_t ops;
		uint64_t fail;
		double cpu; /* the thread's CPU seconds while timed */
		pthread_t th;
		int id;
	} t[MAXT];
};

struct targ { struct run *r; int id; };

static void *worker(void *p)
{
	struct targ *ta = p;
	struct run *r = ta->r;
	struct alg *a = r->a;
	int id = ta->id;
	uint64_t ops = 0, fail = 0;
	/* each thread walks the pool from its own offset */
	size_t i = (a->start + (size_t)id * a->n / (size_t)r->nt) % a->n;
	lk_verifier *v = r->k == NOCACHE ? a->vn : a->vc;
	pthread_barrier_wait(&r->bar);
	struct timespec c0, c1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		lk_jwt *j = NULL;
		enum lk_err e;
		size_t x = r->k == HOT ? 0 : r->k == HOT_OWN ? (size_t)id + 1 : i;
		if (r->k == CORE)
			e = lk_jwt_verify(a->pub, a->tok[x], a->len[x], &a->opts, &j, NULL);
		else
			e = lk_verifier_verify(v, a->tok[x], a->len[x], &j, NULL);
		lk_jwt_free(j);
		fail += e != LK_OK;
		ops++;
		if (++i == a->n)
			i = 0;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	r->t[id].cpu = (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9;
	r->t[id].ops = ops;
	r->t[id].fail = fail;
	lk_thread_cleanup();
	return NULL;
}

struct res { double ops_s, ops_cpu, cpu_util; uint64_t hits, misses; };

static struct res run_once(struct alg *a, enum kind k, int nt, double secs)
{
	static struct run r;
	struct targ ta[MAXT];
	struct lk_verifier_stats s0, s1;
	lk_verifier *v = k == NOCACHE ? a->vn : a->vc;
	memset(&r, 0, sizeof r);
	r.a = a;
	r.k = k;
	r.nt = nt;
	if (k == HOT || k == HOT_OWN) { /* warm: put the hot tokens in the cache */
		for (int i = 0; i <= nt; i++) {
			lk_jwt *j = NULL;
			if (lk_verifier_verify(v, a->tok[i], a->len[i], &j, NULL))
				die("warming the cache", 0);
			lk_jwt_free(j);
		}
	}
	lk_verifier_stats(v, &s0);
	pthread_barrier_init(&r.bar, NULL, (unsigned)nt + 1);
	for (int i = 0; i < nt; i++) {
		ta[i] = (struct targ){&r, i};
		if (pthread_create(&r.t[i].th, NULL, worker, &ta[i]))
			die("pthread_create", 0);
	}
	pthread_barrier_wait(&r.bar);
	double t0 = now_s(), c0 = cpu_s();
	struct timespec ts = {(time_t)secs, (long)((secs - (time_t)secs) * 1e9)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	atomic_store(&r.stop, 1);
	uint64_t ops = 0, fail = 0;
	double cpu = 0;
	for (int i = 0; i < nt; i++) {
		pthread_join(r.t[i].th, NULL);
		ops += r.t[i].ops;
		fail += r.t[i].fail;
		cpu += r.t[i].cpu;
	}
	double t1 = now_s(), c1 = cpu_s();
	pthread_barrier_destroy(&r.bar);
	if (fail) {
		fprintf(stderr, "bench/verify: %s %s: %llu of %llu verifications failed\n", a->name,
			KIND_NAME[k], (unsigned long long)fail, (unsigned long long)ops);
		exit(1);
	}
	lk_verifier_stats(v, &s1);
	a->start = (a->start + ops) % a->n;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	return (struct res){ops / (t1 - t0), ops / cpu, (c1 - c0) / ((t1 - t0) * (nt < ncpu ? nt : ncpu)),
			    s1.cache_hits - s0.cache_hits, s1.cache_misses - s0.cache_misses};
}

/* ------------------------------------------------------------------ (b): the tables */

static void fmt_n(char *buf, size_t n, double x)
{
	char s[32];
	snprintf(s, sizeof s, "%.0f", x);
	size_t l = strlen(s), o = 0;
	for (size_t i = 0; i < l && o + 2 < n; i++) {
		if (i && (l - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = s[i];
	}
	buf[o] = 0;
}

struct cell { double ops[64], opc[64], util[64]; uint64_t hits, misses; };

static double loadavg(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

static int parse_list(const char *s, char out[][16], int max)
{
	int n = 0;
	while (*s && n < max) {
		size_t l = strcspn(s, ",");
		snprintf(out[n++], 16, "%.*s", (int)l, s);
		s += l + (s[l] == ',');
	}
	return n;
}

static const char *const KIND_OPT[NKIND] = {"core", "cold", "off", "hot", "hotown"};

static int bench_throughput(double secs, int rounds, const char *algs_s, const char *threads_s,
			    size_t pool, const char *kinds_s)
{
	char kn[NKIND + 1][16];
	int nk = parse_list(kinds_s, kn, NKIND + 1);
	bool want[NKIND] = {0};
	for (int i = 0; i < nk; i++) {
		int k;
		for (k = 0; k < NKIND && strcmp(kn[i], KIND_OPT[k]); k++)
			;
		if (k == NKIND)
			die("--kinds: core,cold,off,hot,hotown", 0);
		want[k] = true;
	}
	static const struct { const char *n; enum lk_alg a; } KNOWN[] = {
		{"ES256", LK_ALG_ES256}, {"EdDSA", LK_ALG_EDDSA}, {"RS256", LK_ALG_RS256},
		{"HS256", LK_ALG_HS256},
	};
	char names[8][16], ths[8][16];
	int na = parse_list(algs_s, names, 8), nth = parse_list(threads_s, ths, 8);
	struct alg algs[8] = {{0}};
	int th[8];
	for (int i = 0; i < nth; i++)
		if ((th[i] = atoi(ths[i])) < 1 || th[i] > MAXT - 1)
			die("--threads: 1..63", 0);
	for (int i = 0; i < na; i++) {
		size_t k;
		for (k = 0; k < sizeof KNOWN / sizeof KNOWN[0]; k++)
			if (!strcmp(KNOWN[k].n, names[i]))
				break;
		if (k == sizeof KNOWN / sizeof KNOWN[0])
			die("--algs: ES256, EdDSA, RS256, HS256", 0);
		algs[i].name = KNOWN[k].n;
		algs[i].alg = KNOWN[k].a;
		double t = now_s();
		setup_alg(&algs[i], pool);
		fprintf(stderr, "bench/verify: %s: %zu tokens (%zu bytes) and verifiers in %.1f s\n",
			algs[i].name, pool, algs[i].len[0], now_s() - t);
	}
	/* the contention rows (hot, one token per thread) for the first algorithm only */
	static struct cell cells[8][NKIND][8];
	double load0 = loadavg(), umin = 1e9;
	time_t started = time(NULL);
	for (int r = 0; r < rounds; r++) {
		fprintf(stderr, "bench/verify: round %d/%d (load %.2f)\n", r + 1, rounds, loadavg());
		for (int i = 0; i < na; i++)
			for (int k = 0; k < NKIND; k++) {
				if ((k == HOT_OWN && i) || !want[k])
					continue;
				for (int t = 0; t < nth; t++) {
					struct res x = run_once(&algs[i], (enum kind)k, th[t], secs);
					struct cell *c = &cells[i][k][t];
					c->ops[r] = x.ops_s;
					c->opc[r] = x.ops_cpu;
					c->util[r] = x.cpu_util;
					c->hits += x.hits;
					c->misses += x.misses;
					if (x.cpu_util < umin)
						umin = x.cpu_util;
				}
			}
	}
	double load1 = loadavg();
	char when[64];
	strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&started));
	printf("Measured %s; %ld CPUs; load average %.2f before, %.2f after; %d x %.1f s per "
	       "figure (median); lowest CPU share of a run %.0f%%.\n",
	       when, sysconf(_SC_NPROCESSORS_ONLN), load0, load1, rounds, secs, umin * 100);
	printf("Denylist: %d live entries (60%% jti, 25%% sid, 15%% sub) in every verifier; "
	       "%zu distinct tokens per algorithm for the cold and core rows.\n",
	       DENY_LIVE, pool);
	for (int i = 0; i < na; i++) {
		struct alg *a = &algs[i];
		printf("\n#### %s (token %zu bytes): verifications per second\n\n", a->name, a->len[0]);
		printf("| path |");
		for (int t = 0; t < nth; t++)
			printf(" %d thread%s: total (per thread) |", th[t], th[t] > 1 ? "s" : "");
		printf(" per CPU-second (");
		for (int t = 0; t < nth; t++)
			printf("%d%s", th[t], t + 1 < nth ? " / " : " threads) | cache hits |\n|---|");
		for (int t = 0; t < nth; t++)
			printf("---:|");
		printf("---:|---:|\n");
		double med[NKIND][8], medc[NKIND][8];
		for (int k = 0; k < NKIND; k++) {
			if ((k == HOT_OWN && i) || !want[k])
				continue;
			printf("| %s |", KIND_NAME[k]);
			uint64_t h = 0, m = 0;
			for (int t = 0; t < nth; t++) {
				struct cell *c = &cells[i][k][t];
				char tot[32], per[32];
				med[k][t] = median(c->ops, rounds);
				medc[k][t] = median(c->opc, rounds);
				fmt_n(tot, sizeof tot, med[k][t]);
				fmt_n(per, sizeof per, med[k][t] / th[t]);
				if (th[t] == 1)
					printf(" %s |", tot);
				else
					printf(" %s (%s) |", tot, per);
				h += c->hits;
				m += c->misses;
			}
			for (int t = 0; t < nth; t++) {
				char x[32];
				fmt_n(x, sizeof x, medc[k][t]);
				printf("%s%s", t ? " / " : " ", x);
			}
			if (k == CORE)
				printf(" | |\n");
			else
				printf(" | %.2f%% |\n", h + m ? 100.0 * (double)h / (double)(h + m) : 0);
		}
		if (!want[CORE] || !want[COLD] || !want[NOCACHE])
			continue;
		printf("\nTime added to the core's per verification (core ops / path ops - 1), wall "
		       "clock [per CPU-second]:");
		for (int t = 0; t < nth; t++)
			printf(" %d thread%s: cold %+.1f%% [%+.1f%%], cache off %+.1f%% [%+.1f%%]%s",
			       th[t], th[t] > 1 ? "s" : "", 100 * (med[CORE][t] / med[COLD][t] - 1),
			       100 * (medc[CORE][t] / medc[COLD][t] - 1),
			       100 * (med[CORE][t] / med[NOCACHE][t] - 1),
			       100 * (medc[CORE][t] / medc[NOCACHE][t] - 1), t + 1 < nth ? ";" : ".\n");
		printf("Target: cold path <= core + 5%% (1 thread, wall clock): **%s** (%+.1f%%).\n",
		       med[CORE][0] / med[COLD][0] - 1 <= 0.05 ? "met" : "missed",
		       100 * (med[CORE][0] / med[COLD][0] - 1));
	}
	return 0;
}

/* ------------------------------------------------------------------ (c): memory, lookups */

static long rss_bytes(void)
{
	long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld %ld", &size, &res) != 2)
		die("/proc/self/statm", 0);
	fclose(f);
	return res * sysconf(_SC_PAGESIZE);
}

struct triple { char jti[32], sid[32], sub[16]; };

/* ns per lk_denylist_denies of a token that is not in the list (jti, sid and sub looked
 * up: the cost every accepted token pays), cycling through nq distinct tokens. */
static double lookup_ns(lk_verifier *v, const struct triple *q, size_t nq, double secs, int rounds)
{
	double x[64];
	for (int r = 0; r < rounds; r++) {
		uint64_t n = 0, denied = 0;
		double t0 = now_s(), t1;
		do {
			for (size_t i = 0; i < nq; i++)
				denied += lk_denylist_denies(v->deny, q[i].jti, q[i].sid, q[i].sub, T0);
			n += nq;
		} while ((t1 = now_s()) - t0 < secs);
		if (denied)
			die("a bench token was denied", 0);
		x[r] = (t1 - t0) * 1e9 / (double)n;
	}
	return median(x, rounds);
}

static double hot_verify_ns(lk_verifier *v, const char *tok, size_t len, double secs, int rounds)
{
	double x[64];
	for (int r = 0; r < rounds; r++) {
		uint64_t n = 0;
		double t0 = now_s(), t1;
		do {
			for (int i = 0; i < 256; i++) {
				lk_jwt *j = NULL;
				if (lk_verifier_verify(v, tok, len, &j, NULL))
					die("hot verify", 0);
				lk_jwt_free(j);
			}
			n += 256;
		} while ((t1 = now_s()) - t0 < secs);
		x[r] = (t1 - t0) * 1e9 / (double)n;
	}
	return median(x, rounds);
}

static int bench_memory(unsigned entries, double secs, int rounds)
{
	struct lk_verifier_stats s;
	struct rusage ru0, ru1;
	/* RSS: one verifier, then `entries` revocations through lk_verifier_revoke */
	lk_verifier *big;
	struct lk_verifier_config cfg = {.iss = ISS};
	struct lk_errinfo ei = {0};
	malloc_trim(0);
	long rss0 = rss_bytes();
	getrusage(RUSAGE_SELF, &ru0);
	if (lk_verifier_new(&cfg, &big, &ei))
		die("lk_verifier_new", 0);
	long rss_empty = rss_bytes();
	double t = now_s();
	for (unsigned i = 0; i < entries; i++)
		revoke_one(big, i);
	double add_s = now_s() - t;
	long rss1 = rss_bytes();
	getrusage(RUSAGE_SELF, &ru1);
	lk_verifier_stats(big, &s);
	malloc_trim(0);
	long rss2 = rss_bytes();

	printf("#### Denylist memory at %u live revocations (60%% jti, 25%% sid: 22-char "
	       "base64url; 15%% sub: decimal ids)\n\n", entries);
	printf("| measure | bytes | bytes per entry |\n|---|---:|---:|\n");
	printf("| `lk_verifier_stats().denylist_bytes` (revocations = %zu) | %zu | %.1f |\n",
	       s.revocations, s.denylist_bytes, (double)s.denylist_bytes / s.revocations);
	printf("| RSS delta, `/proc/self/statm`, after the adds | %ld | %.1f |\n",
	       rss1 - rss_empty, (double)(rss1 - rss_empty) / entries);
	printf("| RSS delta after `malloc_trim(0)` | %ld | %.1f |\n", rss2 - rss_empty,
	       (double)(rss2 - rss_empty) / entries);
	printf("| peak RSS growth (getrusage ru_maxrss) | %ld | %.1f |\n",
	       (ru1.ru_maxrss - ru0.ru_maxrss) * 1024, (double)(ru1.ru_maxrss - ru0.ru_maxrss) * 1024 / entries);
	printf("\nThe empty verifier itself: %ld bytes of RSS (mostly its 4096-slot cache). "
	       "%u adds took %.0f ms (%.2f µs each, table growth included).\n", rss_empty - rss0,
	       entries, add_s * 1e3, add_s * 1e6 / entries);

	/* lookup cost vs size */
	size_t nq = 4096;
	struct triple *q = calloc(nq, sizeof *q);
	for (size_t i = 0; i < nq; i++) {
		rand_b64(q[i].jti, 16);
		rand_b64(q[i].sid, 16);
		snprintf(q[i].sub, sizeof q[i].sub, "%u", 1 + randombytes_uniform(9000000));
	}
	lk_jwk *k;
	lk_jwks *ks;
	char *tok;
	size_t toklen;
	if (lk_jwk_generate(LK_ALG_ES256, "k1", &k, &ei) || lk_jwks_new(&k, 1, &ks))
		die("key", 0);
	struct alg a = {.priv = k};
	tok = mint(&a, &toklen);
	unsigned sizes[4] = {0, 1, DENY_LIVE, entries};
	printf("\n#### Denylist lookup cost (1 thread, median of %d x %.1f s)\n\n", rounds, secs);
	printf("| live entries | table bytes | `lk_denylist_denies`, token not listed (jti + sid + "
	       "sub looked up), ns | `lk_verifier_verify`, ES256 cache hot, ns |\n|---:|---:|---:|---:|\n");
	for (int i = 0; i < 4; i++) {
		lk_verifier *v = i == 3 ? big : make_verifier(ks, 0, sizes[i]);
		if (i == 3 && lk_verifier_set_keys(v, ks))
			die("set_keys", 0);
		lk_verifier_stats(v, &s);
		double l = lookup_ns(v, q, nq, secs, rounds);
		double h = hot_verify_ns(v, tok, toklen, secs, rounds);
		char b[32];
		fmt_n(b, sizeof b, (double)s.denylist_bytes);
		printf("| %zu | %s | %.1f | %.1f |\n", s.revocations, b, l, h);
		lk_verifier_free(v);
	}
	printf("\n0 entries: `lk_denylist_denies` returns at its count check without hashing.\n");
	free(tok);
	free(q);
	lk_jwks_free(ks);
	lk_jwk_free(k);
	return 0;
}

int main(int argc, char **argv)
{
	double secs = 1;
	int rounds = 5, mem = 0;
	unsigned entries = 100000;
	size_t pool = POOL_DEFAULT;
	const char *algs = "ES256,EdDSA,RS256,HS256", *threads = "1,2,8";
	const char *kinds = "core,cold,off,hot,hotown";
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "--mem")) {
			mem = 1;
			continue;
		}
		if (!val)
			goto usage;
		i++;
		if (!strcmp(o, "--secs"))
			secs = atof(val);
		else if (!strcmp(o, "--rounds"))
			rounds = atoi(val);
		else if (!strcmp(o, "--algs"))
			algs = val;
		else if (!strcmp(o, "--threads"))
			threads = val;
		else if (!strcmp(o, "--entries"))
			entries = (unsigned)strtoul(val, NULL, 10);
		else if (!strcmp(o, "--kinds"))
			kinds = val;
		else if (!strcmp(o, "--pool"))
			pool = strtoul(val, NULL, 10);
		else
			goto usage;
	}
	if (secs <= 0 || rounds < 1 || rounds > 63 || pool < 64)
		goto usage;
	if (sodium_init() < 0)
		die("sodium_init", 0);
	T0 = (int64_t)time(NULL);
	return mem ? bench_memory(entries, secs, rounds)
		   : bench_throughput(secs, rounds, algs, threads, pool, kinds);
usage:
	fprintf(stderr, "usage: bench/verify [--secs S] [--rounds R] [--algs A,B] [--threads 1,2,8] "
			"[--kinds core,cold,off,hot,hotown] [--pool N]\n       bench/verify --mem [--entries N] [--secs S] [--rounds R]\n");
	return 2;
}
