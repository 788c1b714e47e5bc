/* SPDX-License-Identifier: MIT */
/*
 * Passwords: Argon2id (libsodium) with configurable cost, at least OWASP's minimum
 * (m = 19 MiB, t = 2, p = 1), and a verify that costs the same for unknown users as for
 * wrong passwords (it checks against a dummy hash made at start with the same cost).
 */
#ifndef LK_AUTH_PASSWORD_H
#define LK_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include "latchkey.h"
#include "auth/records.h"
#include "store/store.h"


/* Check cost against the OWASP floor; LK_EINVAL with a message when below. */
enum lk_err lk_pw_check_cost(const struct lk_pwcost *c, struct lk_errinfo *ei) LK_WUR;
/* Hash pw[0..len) into phc (LK_PHC_MAX + 1 bytes). */
enum lk_err lk_pw_hash(const struct lk_pwcost *c, const char *pw, size_t len,
		       char phc[LK_PHC_MAX + 1]) LK_WUR;
/* Prepare the dummy hash used for unknown users. Call once before lk_pw_verify. */
enum lk_err lk_pw_init(const struct lk_pwcost *c) LK_WUR;
/* Verify pw against phc; phc NULL means "no such user": the dummy hash is checked and
 * the result is always false. Constant work either way. */
bool lk_pw_verify(const char *phc, const char *pw, size_t len);

/* A bounded pool of worker threads for Argon2, so hashing never runs on request threads. */
struct lk_pool;
typedef void (*lk_job_fn)(void *arg);
/* threads workers, at most queue jobs waiting, each at most max_wait_ms (0: no bound). */
enum lk_err lk_pool_new(unsigned threads, unsigned queue, int64_t max_wait_ms,
			struct lk_pool **out) LK_WUR;
/* Queue a job: work(arg) runs on a worker (it must take no lock a request thread takes),
 * then finish(arg) on the pool's completer thread. A job
 * that waited past max_wait gets expired(arg) on the completer instead, without the work.
 * LK_EBUSY when the queue is full (the caller answers 503). */
enum lk_err lk_pool_submit(struct lk_pool *p, lk_job_fn work, lk_job_fn finish,
			   lk_job_fn expired, void *arg) LK_WUR;
/* Run the queued jobs (none expires now), stop the threads and free the pool. */
void lk_pool_free(struct lk_pool *p);

#endif
