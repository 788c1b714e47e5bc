/* SPDX-License-Identifier: MIT */
/*
 * The revocation hub (see revfeed.h). Locks: poll_mu serialises reads of the store (the hub
 * thread's and a snapshot's), mu guards the log, the cursor and the streams; wake callbacks
 * run under mu.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/revfeed.h"
#include "store/store.h"
#include "util/log.h"

#define WAIT_MS 500        /* longest sleep in generation_wait: bounds a missed wake */
#define PRUNE_S 5          /* expired events leave the log this often */

struct lk_revstream {
	struct lk_revfeed *f;
	int64_t pos;          /* the last cursor handed out */
	int64_t last_ms;      /* when something (event or ping) was last handed out */
	int64_t ping_ms;
	bool armed, ping_due;
	void (*wake)(void *ud);
	void *ud;
	struct lk_revstream *prev, *next;
};

struct lk_revfeed {
	struct lk_store *st;
	pthread_mutex_t mu, poll_mu;
	pthread_cond_t cv;    /* stop, for stores without generation_wait */
	struct lk_revevent *log;
	size_t n, cap;
	int64_t cursor;       /* the highest cursor seen */
	uint64_t gen;
	int64_t pruned;
	/* CLOCK_MONOTONIC ms of the last successful read of the store. Pings go out only
	 * while it is recent: a ping tells a verifier "nothing was revoked that you have
	 * not seen", which this server cannot say while it cannot read the store. So a
	 * verifier of a server cut off from its store goes stale and fails closed. */
	_Atomic int64_t fresh_ms;
	struct lk_revstream *streams;
	pthread_t th;
	atomic_bool stop;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall(void) { return (int64_t)time(NULL); }

#define FRESH_MS (3 * WAIT_MS) /* pings stop this long after the store stopped answering */

static bool fresh(struct lk_revfeed *f)
{
	return mono_ms() - atomic_load(&f->fresh_ms) <= FRESH_MS;
}

/* ---------------------------------------------------------------- reading the store */

struct batch {
	struct lk_revevent *ev;
	size_t n, cap;
	bool oom;
};

static int collect(void *ud, const struct lk_revocation *r)
{
	struct batch *b = ud;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct lk_revevent *ev = realloc(b->ev, cap * sizeof *ev);
		if (!ev) {
			b->oom = true;
			return 1;
		}
		b->ev = ev;
		b->cap = cap;
	}
	struct lk_revevent *e = &b->ev[b->n++];
	memset(e, 0, sizeof *e);
	e->cursor = r->cursor;
	memcpy(e->type, r->type, sizeof e->type);
	e->type[sizeof e->type - 1] = '\0';
	memcpy(e->value, r->value, sizeof e->value);
	e->value[sizeof e->value - 1] = '\0';
	e->before = r->before;
	e->expires = r->expires;
	return 0;
}

/* The first index of the log with cursor > after. Under mu. */
static size_t first_after(const struct lk_revfeed *f, int64_t after)
{
	size_t lo = 0, hi = f->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->log[mid].cursor <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Wake armed streams that have something. Under mu. */
static void wake_streams(struct lk_revfeed *f, bool pings)
{
	int64_t now = mono_ms();
	for (struct lk_revstream *s = f->streams; s; s = s->next) {
		if (!s->armed)
			continue;
		bool data = first_after(f, s->pos) < f->n;
		if (pings && !data && now - s->last_ms >= s->ping_ms && fresh(f))
			s->ping_due = true;
		if (data || s->ping_due) {
			s->armed = false;
			s->wake(s->ud);
		}
	}
}

/*
 * Read what is new (full: the whole live set) and fold it into the log. Returns the number
 * of new events, or -1 when the store failed.
 */
static long poll_store(struct lk_revfeed *f, bool full)
{
	struct batch b = {0};
	long added = 0;
	bool reset = false;

	pthread_mutex_lock(&f->poll_mu);
	pthread_mutex_lock(&f->mu);
	int64_t after = full ? 0 : f->cursor;
	pthread_mutex_unlock(&f->mu);
	enum lk_err err = f->st->ops->revocations(f->st, after, wall(), collect, &b);
	if (err || b.oom) {
		pthread_mutex_unlock(&f->poll_mu);
		free(b.ev);
		return -1;
	}
	pthread_mutex_lock(&f->mu);
	int64_t top = b.n ? b.ev[b.n - 1].cursor : 0;
	if (full) {
		/* The whole live set: it replaces the log. Below our cursor with events we never
		 * saw: the store was emptied or reset, and everyone starts again from 0. */
		size_t fresh = 0;
		while (fresh < b.n && b.ev[fresh].cursor <= f->cursor)
			fresh++;
		added = (long)(b.n - fresh);
		reset = b.n && top < f->cursor;
		if (reset) {
			added = (long)b.n;
			for (struct lk_revstream *s = f->streams; s; s = s->next)
				s->pos = 0;
			f->cursor = top;
		} else if (top > f->cursor) {
			f->cursor = top;
		}
		free(f->log);
		f->log = b.ev;
		f->n = f->cap = b.n;
		if (b.cap > b.n)
			f->cap = b.cap;
		b.ev = NULL;
	} else if (b.n) {
		if (f->n + b.n > f->cap) {
			size_t cap = (f->n + b.n) * 2;
			struct lk_revevent *log = realloc(f->log, cap * sizeof *log);
			if (!log) {
				pthread_mutex_unlock(&f->mu);
				pthread_mutex_unlock(&f->poll_mu);
				free(b.ev);
				return -1;
			}
			f->log = log;
			f->cap = cap;
		}
		memcpy(f->log + f->n, b.ev, b.n * sizeof *b.ev);
		f->n += b.n;
		f->cursor = top;
		added = (long)b.n;
	}
	if (added)
		wake_streams(f, false);
	pthread_mutex_unlock(&f->mu);
	pthread_mutex_unlock(&f->poll_mu);
	free(b.ev);
	return added;
}

/* Drop events past their expiry. */
static void prune(struct lk_revfeed *f)
{
	int64_t now = wall();
	pthread_mutex_lock(&f->mu);
	size_t w = 0;
	for (size_t i = 0; i < f->n; i++)
		if (f->log[i].expires > now)
			f->log[w++] = f->log[i];
	f->n = w;
	pthread_mutex_unlock(&f->mu);
}

static void *hub(void *arg)
{
	struct lk_revfeed *f = arg;
	const struct lk_store_ops *ops = f->st->ops;
	bool failed = false;

	while (!atomic_load(&f->stop)) {
		uint64_t g = f->gen, ng;
		if (ops->generation_wait) {
			ng = ops->generation_wait(f->st, g, WAIT_MS);
		} else {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += WAIT_MS * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_mutex_lock(&f->mu);
			if (!atomic_load(&f->stop))
				pthread_cond_timedwait(&f->cv, &f->mu, &ts);
			pthread_mutex_unlock(&f->mu);
			ng = g + 1; /* cannot tell: read everything now and then */
		}
		if (atomic_load(&f->stop))
			break;
		bool changed = ng != g;
		f->gen = ng;
		long got = poll_store(f, false);
		if (got == 0 && (changed || failed))
			got = poll_store(f, true);
		if (got >= 0)
			atomic_store(&f->fresh_ms, mono_ms());
		if (got < 0 && !failed)
			lk_log("warn", "revocation feed: the store failed; retrying (streams get no "
				       "pings meanwhile, so their verifiers fail closed)", (char *)NULL);
		failed = got < 0;
		int64_t now = wall();
		if (now - f->pruned >= PRUNE_S) {
			prune(f);
			f->pruned = now;
		}
		pthread_mutex_lock(&f->mu);
		wake_streams(f, true);
		pthread_mutex_unlock(&f->mu);
	}
	return NULL;
}

/* ---------------------------------------------------------------- lifecycle */

enum lk_err lk_revfeed_new(struct lk_store *st, struct lk_revfeed **out)
{
	struct lk_revfeed *f = calloc(1, sizeof *f);
	*out = NULL;
	if (!f)
		return LK_ENOMEM;
	f->st = st;
	pthread_mutex_init(&f->mu, NULL);
	pthread_mutex_init(&f->poll_mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->gen = st->ops->generation ? st->ops->generation(st) : 0;
	if (poll_store(f, true) < 0) {
		lk_revfeed_free(f);
		return LK_ESTORE;
	}
	atomic_store(&f->fresh_ms, mono_ms());
	f->pruned = wall();
	if (pthread_create(&f->th, NULL, hub, f) != 0) {
		lk_revfeed_free(f);
		return LK_ENOMEM; /* no thread: resources exhausted */
	}
	*out = f;
	return LK_OK;
}

void lk_revfeed_free(struct lk_revfeed *f)
{
	if (!f)
		return;
	if (f->th) {
		atomic_store(&f->stop, true);
		pthread_mutex_lock(&f->mu);
		pthread_cond_broadcast(&f->cv);
		pthread_mutex_unlock(&f->mu);
		pthread_join(f->th, NULL);
	}
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	pthread_mutex_destroy(&f->poll_mu);
	free(f->log);
	free(f);
}

/* ---------------------------------------------------------------- readers */

enum lk_err lk_revfeed_snapshot(struct lk_revfeed *f, int64_t after, struct lk_revevent **out,
				size_t *n, int64_t *cursor)
{
	if (poll_store(f, false) < 0)
		return LK_ESTORE;
	int64_t now = wall();
	pthread_mutex_lock(&f->mu);
	if (after > f->cursor || after < 0)
		after = 0;
	size_t i = first_after(f, after), k = 0;
	struct lk_revevent *ev = f->n > i ? malloc((f->n - i) * sizeof *ev) : NULL;
	if (f->n > i && !ev) {
		pthread_mutex_unlock(&f->mu);
		return LK_ENOMEM;
	}
	for (; i < f->n; i++)
		if (f->log[i].expires > now)
			ev[k++] = f->log[i];
	*cursor = f->cursor;
	pthread_mutex_unlock(&f->mu);
	*out = ev;
	*n = k;
	return LK_OK;
}

enum lk_err lk_revfeed_stream_open(struct lk_revfeed *f, int64_t after, unsigned ping_s,
				   void (*wake)(void *ud), void *ud, struct lk_revstream **out)
{
	struct lk_revstream *s = calloc(1, sizeof *s);
	if (!s)
		return LK_ENOMEM;
	s->f = f;
	s->wake = wake;
	s->ud = ud;
	s->ping_ms = (int64_t)(ping_s ? ping_s : 15) * 1000;
	s->last_ms = mono_ms();
	pthread_mutex_lock(&f->mu);
	s->pos = after > f->cursor || after < 0 ? 0 : after;
	s->next = f->streams;
	if (f->streams)
		f->streams->prev = s;
	f->streams = s;
	pthread_mutex_unlock(&f->mu);
	*out = s;
	return LK_OK;
}

size_t lk_revfeed_stream_next(struct lk_revstream *s, struct lk_revevent *ev, size_t max,
			      bool *ping)
{
	struct lk_revfeed *f = s->f;
	int64_t now = wall();
	size_t k = 0;

	pthread_mutex_lock(&f->mu);
	size_t i = first_after(f, s->pos);
	for (; i < f->n && k < max; i++) {
		s->pos = f->log[i].cursor;
		if (f->log[i].expires > now)
			ev[k++] = f->log[i];
	}
	*ping = false;
	if (k) {
		s->last_ms = mono_ms();
		s->ping_due = false;
	} else if (fresh(f) && (s->ping_due || mono_ms() - s->last_ms >= s->ping_ms)) {
		*ping = true;
		s->ping_due = false;
		s->last_ms = mono_ms();
	}
	pthread_mutex_unlock(&f->mu);
	return k;
}

bool lk_revfeed_stream_arm(struct lk_revstream *s)
{
	struct lk_revfeed *f = s->f;
	bool armed = false;

	pthread_mutex_lock(&f->mu);
	bool ping = fresh(f) && (s->ping_due || mono_ms() - s->last_ms >= s->ping_ms);
	if (first_after(f, s->pos) >= f->n && !ping)
		armed = s->armed = true;
	pthread_mutex_unlock(&f->mu);
	return armed;
}

void lk_revfeed_stream_close(struct lk_revstream *s)
{
	if (!s)
		return;
	struct lk_revfeed *f = s->f;
	pthread_mutex_lock(&f->mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		f->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&f->mu);
	free(s);
}
