/* SPDX-License-Identifier: MIT */
/*
 * Argon2id hashing and verification through libsodium, and the worker pool that runs it.
 * The pool is a fixed set of threads around a bounded ring of jobs guarded by one mutex:
 * jobs take tens of milliseconds, so the queue is never the bottleneck, and bounding it
 * turns a login flood into fast 503s instead of unbounded memory and latency. Bounded in
 * time too: a job that waited longer than max_wait for a worker is not run but expired
 * (the sign-in answers 503 busy within 100 ms of max_wait rather than seconds late).
 *
 * The workers run at normal priority, each with a short scheduler slice (0.1 ms, Linux
 * 6.12's sched_setattr(2) sched_runtime for SCHED_OTHER): a hash that shares a CPU with a
 * request thread gives it the CPU back within 0.1 ms of each turn instead of the default
 * few ms, and still gets its fair share. Measured with bench/http/run.sh PIN=1 (server on
 * one CPU, 20 sign-ins/s beside wrk): GET /me p99 4.63-4.82 ms in five runs against
 * 4.77-5.25 ms without it, every sign-in answered. A lower priority was measured too and
 * is not used: SCHED_IDLE kept the p99 at 1.5 ms but refused half the sign-ins (a busy
 * request thread leaves an idle-class hash no CPU at all), and nice 5 to 10 made sign-ins
 * wait 0.7-1.6 s (p50) with 503s. On older kernels the slice is ignored.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <semaphore.h>
#include <stdatomic.h>
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

/*
 * Who touches what. A worker only waits on its own semaphore, runs work(), sets its
 * `finished` flag and posts the pool's semaphore; it takes no mutex of ours, so a worker
 * descheduled in the middle of a hash delays nobody else's lock. Everything that locks -
 * the queue, handing jobs to workers, finish() and expired(), which resume connections
 * inside libmicrohttpd - runs on request threads (lk_pool_submit) or on the completer,
 * which also answers the jobs that waited too long even while every worker is busy.
 */
struct job {
	lk_job_fn work, finish, expired;
	void *arg;
	int64_t queued_ns;
};

struct worker {
	pthread_t th;
	sem_t go;                 /* posted when job is set, or to stop */
	struct job job;           /* written before go is posted, read by the worker */
	bool busy;                /* under p->mu */
	atomic_bool finished;     /* set by the worker when work() returned */
	atomic_bool stop;
	struct lk_pool *p;
};

struct lk_pool {
	pthread_mutex_t mu;       /* queue and worker states; never taken by a worker */
	sem_t done;               /* posted by a worker after work(), and to wake the completer */
	bool stopping;
	unsigned head, len, cap, nthreads;
	int64_t max_wait_ns;
	struct job *q;
	pthread_t completer;
	bool completer_started;
	struct job *finished, *late; /* the completer's scratch: room for nthreads, for cap */
	struct worker w[];
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The calling thread's scheduler slice, for SCHED_OTHER (Linux 6.12 and later; older
 * kernels ignore it). glibc has no wrapper for sched_setattr, nor Debian 12's headers a
 * struct sched_attr beside <sched.h>: this is its first version (SCHED_ATTR_SIZE_VER0). */
static void short_slice(uint64_t ns)
{
	struct {
		uint32_t size, policy;
		uint64_t flags;
		int32_t nice;
		uint32_t priority;
		uint64_t runtime, deadline, period;
	} at = {.size = 48, .policy = SCHED_OTHER, .runtime = ns};
	_Static_assert(sizeof at == 48, "struct sched_attr, version 0");
	(void)syscall(SYS_sched_setattr, 0, &at, 0); /* a hint: nothing to do if refused */
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	pthread_setname_np(pthread_self(), "lk-argon2"); /* for top -H, and the tests */
	short_slice(100 * 1000);
	for (;;) {
		while (sem_wait(&w->go) != 0)
			; /* EINTR */
		if (atomic_load(&w->stop))
			return NULL;
		w->job.work(w->job.arg);
		atomic_store(&w->finished, true);
		sem_post(&w->p->done);
	}
}

/* With p->mu held: hand queued jobs to idle workers. With late (the completer), jobs that
 * waited past max_wait go to late[] (room for cap) instead, for expired() outside the lock. */
static void dispatch(struct lk_pool *p, struct job *late, unsigned *nlate)
{
	int64_t now = mono_ns();
	while (p->len) {
		struct job *j = &p->q[p->head];
		if (late && p->max_wait_ns && !p->stopping && now - j->queued_ns > p->max_wait_ns) {
			late[(*nlate)++] = *j;
		} else {
			struct worker *w = NULL;
			for (unsigned i = 0; i < p->nthreads && !w; i++)
				if (!p->w[i].busy)
					w = &p->w[i];
			if (!w)
				return;
			w->job = *j;
			w->busy = true;
			sem_post(&w->go);
		}
		p->head = (p->head + 1) % p->cap;
		p->len--;
	}
}

/* The completer: finish() for each job a worker is done with, expired() for each that
 * waited too long (checked at least every 100 ms, so a queue behind starved workers is
 * still answered), and the next queued jobs to the workers that are free. */
static void *completer(void *arg)
{
	struct lk_pool *p = arg;
	struct job *done = p->finished, *late = p->late;
	for (;;) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)sem_timedwait(&p->done, &ts);
		unsigned ndone = 0, nlate = 0;
		bool idle = true;
		pthread_mutex_lock(&p->mu);
		for (unsigned i = 0; i < p->nthreads; i++) {
			struct worker *w = &p->w[i];
			if (w->busy && atomic_exchange(&w->finished, false)) {
				done[ndone++] = w->job;
				w->busy = false;
			}
		}
		dispatch(p, late, &nlate);
		for (unsigned i = 0; i < p->nthreads; i++)
			idle = idle && !p->w[i].busy;
		bool quit = p->stopping && idle && !p->len;
		pthread_mutex_unlock(&p->mu);
		for (unsigned i = 0; i < ndone; i++)
			done[i].finish(done[i].arg);
		for (unsigned i = 0; i < nlate; i++)
			late[i].expired(late[i].arg);
		if (quit)
			break;
	}
	return NULL;
}

enum lk_err lk_pool_new(unsigned threads, unsigned queue, int64_t max_wait_ms,
			struct lk_pool **out)
{
	struct lk_pool *p;
	*out = NULL;
	if (!threads || !queue)
		return LK_EINVAL;
	if (!(p = calloc(1, sizeof *p + threads * sizeof p->w[0])))
		return LK_ENOMEM;
	p->q = calloc(queue, sizeof *p->q);
	p->finished = calloc(threads, sizeof *p->finished);
	p->late = calloc(queue, sizeof *p->late);
	if (!p->q || !p->finished || !p->late) {
		free(p->q);
		free(p->finished);
		free(p->late);
		free(p);
		return LK_ENOMEM;
	}
	p->cap = queue;
	p->max_wait_ns = max_wait_ms > 0 ? max_wait_ms * 1000000 : 0;
	pthread_mutex_init(&p->mu, NULL);
	sem_init(&p->done, 0, 0);
	for (; p->nthreads < threads; p->nthreads++) {
		struct worker *w = &p->w[p->nthreads];
		w->p = p;
		sem_init(&w->go, 0, 0);
		if (pthread_create(&w->th, NULL, worker, w) != 0) {
			sem_destroy(&w->go);
			lk_pool_free(p);
			return LK_ENOMEM;
		}
	}
	if (pthread_create(&p->completer, NULL, completer, p) != 0) {
		lk_pool_free(p);
		return LK_ENOMEM;
	}
	p->completer_started = true;
	*out = p;
	return LK_OK;
}

enum lk_err lk_pool_submit(struct lk_pool *p, lk_job_fn work, lk_job_fn finish,
			   lk_job_fn expired, void *arg)
{
	enum lk_err err = LK_OK;
	pthread_mutex_lock(&p->mu);
	if (p->len == p->cap || p->stopping) {
		err = LK_EBUSY;
	} else {
		p->q[(p->head + p->len) % p->cap] = (struct job){work, finish, expired, arg, mono_ns()};
		p->len++;
		dispatch(p, NULL, NULL); /* a free worker takes it now */
	}
	pthread_mutex_unlock(&p->mu);
	return err;
}

void lk_pool_free(struct lk_pool *p)
{
	if (!p)
		return;
	/* run what is queued (no expiry while stopping), then stop the threads */
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_mutex_unlock(&p->mu);
	if (p->completer_started) {
		sem_post(&p->done);
		pthread_join(p->completer, NULL);
	}
	for (unsigned i = 0; i < p->nthreads; i++) {
		atomic_store(&p->w[i].stop, true);
		sem_post(&p->w[i].go);
	}
	for (unsigned i = 0; i < p->nthreads; i++) {
		pthread_join(p->w[i].th, NULL);
		sem_destroy(&p->w[i].go);
	}
	sem_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p->q);
	free(p->finished);
	free(p->late);
	free(p);
}
