/* SPDX-License-Identifier: MIT */
/*
 * The revocation hub of a server (private to src/auth): one background thread that learns
 * of every revocation any process makes on the store and keeps the live ones in memory, in
 * cursor order, for GET /revocations and the /revocations/stream subscribers. (tokens.c
 * reads the store itself when the generation moves, synchronously, so that the very next
 * verification honours a revocation; see docs/design.md.)
 *
 * How it learns: it sleeps in the store's generation_wait (woken by a bump in any process:
 * a futex on SQLite, PUBLISH on Redis), at most WAIT_MS at a time so a missed wake costs at
 * most that, then reads revocations(after = its cursor). A generation change that brings no
 * new event makes it read the whole live set again: that is how it notices a store that was
 * emptied or reset (its highest cursor then drops below ours: every stream starts again
 * from 0). Expired events leave the log every few seconds.
 *
 * Streams never block a thread: lk_revfeed_stream_next copies what is pending, _arm asks to
 * be woken (false when something is pending already: then do not wait), and the hub calls
 * the stream's wake callback once, from its own thread, when events arrive or a ping is due.
 * The callback runs under the hub's lock: it must only signal (MHD_resume_connection), never
 * call back into the hub. After _close returns the callback is never called again.
 */
#ifndef LK_AUTH_REVFEED_H
#define LK_AUTH_REVFEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "auth/auth.h"

struct lk_store;
struct lk_revfeed;

/* Load the live set and start the thread. */
enum lk_err lk_revfeed_new(struct lk_store *st, struct lk_revfeed **out) LK_WUR;
/* Stop the thread (within WAIT_MS) and free; streams must be closed first. NULL: no-op. */
void lk_revfeed_free(struct lk_revfeed *f);

/* Events with cursor > after (all of them when after is beyond the store's highest cursor)
 * after reading the store once more, and the current cursor. *out: malloc'd, free(). */
enum lk_err lk_revfeed_snapshot(struct lk_revfeed *f, int64_t after, struct lk_revevent **out,
				size_t *n, int64_t *cursor) LK_WUR;

enum lk_err lk_revfeed_stream_open(struct lk_revfeed *f, int64_t after, unsigned ping_s,
				   void (*wake)(void *ud), void *ud,
				   struct lk_revstream **out) LK_WUR;
size_t lk_revfeed_stream_next(struct lk_revstream *rs, struct lk_revevent *ev, size_t max,
			      bool *ping);
bool lk_revfeed_stream_arm(struct lk_revstream *rs);
void lk_revfeed_stream_close(struct lk_revstream *rs);

#endif
