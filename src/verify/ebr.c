/* SPDX-License-Identifier: MIT */
/*
 * Epoch-based reclamation (see ebr.h). One domain for the whole library: every verifier,
 * denylist and cache retires into it, so a thread has one slot however many it reads.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "verify/ebr.h"

struct slot {
	_Alignas(64) _Atomic uint64_t epoch; /* 0: not reading */
	unsigned depth;                      /* nesting, owner thread only */
	_Atomic int owned;
	struct slot *next;                   /* list of all slots; never shrinks */
};

struct retired {
	void *p;
	void (*fn)(void *);
	uint64_t epoch;
	struct retired *next;
};

static _Atomic uint64_t global_epoch = 1;
static _Atomic(struct slot *) slots;
static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t retire_mu = PTHREAD_MUTEX_INITIALIZER;
/* A FIFO in retire order, so (nearly) in epoch order: reclaiming pops from the head while
 * the head is safe, O(freed), never a walk of what must wait. Two retirers may append a
 * pair out of order; the later epoch then waits one pass longer, which is only late. */
static struct retired *retired_head, **retired_tail = &retired_head;
static size_t retired_count;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t slot_key;
static _Thread_local struct slot *me;
/* Readers that could not get a slot (out of memory) count here; while any is inside,
 * nothing is freed. */
static _Atomic unsigned anon_readers;
static _Thread_local unsigned anon_depth;

static void slot_release(void *p)
{
	struct slot *s = p;
	atomic_store_explicit(&s->epoch, 0, memory_order_release);
	s->depth = 0;
	atomic_store_explicit(&s->owned, 0, memory_order_release);
}

static void make_key(void) { (void)pthread_key_create(&slot_key, slot_release); }

/* This thread's slot: a free one reused, or a new one. NULL only when out of memory. */
static struct slot *my_slot(void)
{
	if (me)
		return me;
	pthread_once(&key_once, make_key);
	pthread_mutex_lock(&slot_mu);
	struct slot *s = atomic_load_explicit(&slots, memory_order_acquire);
	for (; s; s = s->next)
		if (!atomic_load_explicit(&s->owned, memory_order_acquire))
			break;
	if (!s && (s = aligned_alloc(64, sizeof *s))) {
		atomic_init(&s->epoch, 0);
		s->depth = 0;
		s->next = atomic_load_explicit(&slots, memory_order_relaxed);
		atomic_init(&s->owned, 0);
		atomic_store_explicit(&slots, s, memory_order_release);
	}
	if (s) {
		atomic_store_explicit(&s->owned, 1, memory_order_relaxed);
		(void)pthread_setspecific(slot_key, s);
	}
	pthread_mutex_unlock(&slot_mu);
	return me = s;
}

void lk_ebr_enter(void)
{
	struct slot *s = anon_depth ? NULL : my_slot();
	if (!s) {
		anon_depth++;
		atomic_fetch_add_explicit(&anon_readers, 1, memory_order_seq_cst);
		return;
	}
	if (s->depth++ == 0) {
		uint64_t e = atomic_load_explicit(&global_epoch, memory_order_seq_cst);
		/* seq_cst store, then the caller's seq_cst pointer loads: a writer that
		 * unpublishes after our load cannot miss this store (ebr.h). */
		atomic_store_explicit(&s->epoch, e, memory_order_seq_cst);
	}
}

void lk_ebr_exit(void)
{
	struct slot *s = me;
	if (anon_depth) {
		anon_depth--;
		atomic_fetch_sub_explicit(&anon_readers, 1, memory_order_release);
		return;
	}
	if (--s->depth == 0)
		atomic_store_explicit(&s->epoch, 0, memory_order_release);
}

/* The oldest epoch any reader is in; UINT64_MAX when none reads. */
static uint64_t oldest_reader(void)
{
	uint64_t m = UINT64_MAX;
	if (atomic_load_explicit(&anon_readers, memory_order_seq_cst))
		return 0;
	for (struct slot *s = atomic_load_explicit(&slots, memory_order_acquire); s; s = s->next) {
		uint64_t e = atomic_load_explicit(&s->epoch, memory_order_seq_cst);
		if (e && e < m)
			m = e;
	}
	return m;
}

/* Unlink what is safe to free (retire_mu held); the caller frees it unlocked. */
static struct retired *take_free(void)
{
	if (!retired_head)
		return NULL;
	uint64_t m = oldest_reader();
	struct retired *done = retired_head, **last = &retired_head;
	while (*last && (*last)->epoch <= m) {
		last = &(*last)->next;
		retired_count--;
	}
	if (last == &retired_head)
		return NULL;
	retired_head = *last;
	*last = NULL;
	if (!retired_head)
		retired_tail = &retired_head;
	return done;
}

static void free_all(struct retired *r)
{
	while (r) {
		struct retired *n = r->next;
		r->fn(r->p);
		free(r);
		r = n;
	}
}

void lk_ebr_retire(void *p, void (*fn)(void *))
{
	struct retired *r = malloc(sizeof *r);
	/* The pointer is unpublished already; epochs from now on are at least R. */
	uint64_t epoch = atomic_fetch_add_explicit(&global_epoch, 1, memory_order_seq_cst) + 1;
	if (!r) /* out of memory: p is never freed, which is safe (a reader may hold it) */
		return;
	r->p = p;
	r->fn = fn;
	r->epoch = epoch;
	r->next = NULL;
	pthread_mutex_lock(&retire_mu);
	*retired_tail = r;
	retired_tail = &r->next;
	/* Reclaim every 32 retires: the scan of the reader slots is paid once per batch. */
	struct retired *done = ++retired_count % 32 == 0 ? take_free() : NULL;
	pthread_mutex_unlock(&retire_mu);
	free_all(done);
}

void lk_ebr_reclaim(void)
{
	pthread_mutex_lock(&retire_mu);
	struct retired *done = take_free();
	pthread_mutex_unlock(&retire_mu);
	free_all(done);
}

void lk_ebr_barrier(void)
{
	for (;;) {
		pthread_mutex_lock(&retire_mu);
		struct retired *done = take_free();
		int left = retired_head != NULL;
		pthread_mutex_unlock(&retire_mu);
		free_all(done);
		if (!left)
			return;
		struct timespec ts = {0, 100 * 1000};
		nanosleep(&ts, NULL);
	}
}
