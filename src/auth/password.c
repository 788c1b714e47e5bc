/* SPDX-License-Identifier: MIT */
/*
 * Argon2id hashing and verification through libsodium, and the worker pool that runs it.
 * The pool is a fixed set of threads around a bounded ring of jobs guarded by one mutex:
 * jobs take tens of milliseconds, so the queue is never the bottleneck, and bounding it
 * turns a login flood into fast 503s instead of unbounded memory and latency. Bounded in
 * time too: a job that waited longer than max_wait for a worker is not run but expired
 * (the sign-in answers 503 busy at once rather than seconds late). The workers run at a
 * lower scheduling priority (nice LK_POOL_NICE): on a busy machine the request threads,
 * which take microseconds each, go first, and Argon2 takes what is left.
 */
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "auth/password.h"
#include "util/err.h"

static char dummy_phc[LK_PHC_MAX + 1];

enum lk_err lk_pw_check_cost(const struct lk_pwcost *c, struct lk_errinfo *ei)
{
	if (c->ops < LK_ARGON2_MIN_OPS || c->mem < LK_ARGON2_MIN_MEM)
		return lk_errf(ei, LK_EINVAL,
			       "Argon2id cost below OWASP's minimum (t >= %d, m >= %u KiB)",
			       LK_ARGON2_MIN_OPS, LK_ARGON2_MIN_MEM / 1024);
	if (c->ops > crypto_pwhash_OPSLIMIT_MAX || c->mem > crypto_pwhash_MEMLIMIT_MAX)
		return lk_errf(ei, LK_EINVAL, "Argon2id cost too large");
	return LK_OK;
}

enum lk_err lk_pw_hash(const struct lk_pwcost *c, const char *pw, size_t len,
		       char phc[LK_PHC_MAX + 1])
{
	char out[crypto_pwhash_STRBYTES];
	if (len > LK_PW_MAX)
		return LK_EINVAL;
	if (sodium_init() < 0)
		return LK_ECRYPTO;
	if (crypto_pwhash_str_alg(out, pw, len, c->ops, c->mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return LK_ENOMEM;
	_Static_assert(sizeof out <= LK_PHC_MAX + 1, "PHC buffer");
	memcpy(phc, out, sizeof out);
	return LK_OK;
}

enum lk_err lk_pw_init(const struct lk_pwcost *c)
{
	unsigned char junk[32];
	char pw[45];
	randombytes_buf(junk, sizeof junk);
	sodium_bin2base64(pw, sizeof pw, junk, sizeof junk, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return lk_pw_hash(c, pw, strlen(pw), dummy_phc);
}

bool lk_pw_verify(const char *phc, const char *pw, size_t len)
{
	if (len > LK_PW_MAX)
		pw = "", len = 0; /* still do the work: equal time */
	if (!phc) {
		/* same work as a real check; the result is meaningless and discarded */
		if (crypto_pwhash_str_verify(dummy_phc, pw, len) == 0)
			return false;
		return false;
	}
	return crypto_pwhash_str_verify(phc, pw, len) == 0;
}

/* ---------------------------------------------------------------- pool */

struct job {
	lk_job_fn fn, expired;
	void *arg;
	int64_t queued_ns;
};

struct lk_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	unsigned head, len, cap, nthreads;
	int64_t max_wait_ns;
	struct job *q;
	pthread_t th[];
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *worker(void *arg)
{
	struct lk_pool *p = arg;
	/* Linux: nice is per thread; an unprivileged process may lower its own priority */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), LK_POOL_NICE);
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->len && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->len) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		struct job j = p->q[p->head];
		p->head = (p->head + 1) % p->cap;
		p->len--;
		pthread_mutex_unlock(&p->mu);
		if (p->max_wait_ns && mono_ns() - j.queued_ns > p->max_wait_ns && !p->stop)
			j.expired(j.arg);
		else
			j.fn(j.arg);
	}
}

enum lk_err lk_pool_new(unsigned threads, unsigned queue, int64_t max_wait_ms,
			struct lk_pool **out)
{
	struct lk_pool *p;
	*out = NULL;
	if (!threads || !queue)
		return LK_EINVAL;
	if (!(p = calloc(1, sizeof *p + threads * sizeof p->th[0])))
		return LK_ENOMEM;
	if (!(p->q = calloc(queue, sizeof *p->q))) {
		free(p);
		return LK_ENOMEM;
	}
	p->cap = queue;
	p->max_wait_ns = max_wait_ms > 0 ? max_wait_ms * 1000000 : 0;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	for (; p->nthreads < threads; p->nthreads++)
		if (pthread_create(&p->th[p->nthreads], NULL, worker, p) != 0) {
			lk_pool_free(p);
			return LK_ENOMEM;
		}
	*out = p;
	return LK_OK;
}

enum lk_err lk_pool_submit(struct lk_pool *p, lk_job_fn fn, lk_job_fn expired, void *arg)
{
	enum lk_err err = LK_OK;
	int64_t now = mono_ns();
	pthread_mutex_lock(&p->mu);
	if (p->len == p->cap || p->stop) {
		err = LK_EBUSY;
	} else {
		p->q[(p->head + p->len) % p->cap] = (struct job){fn, expired, arg, now};
		p->len++;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return err;
}

void lk_pool_free(struct lk_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->th[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->q);
	free(p);
}
