/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sse: the Server-Sent Events parser of the revocation stream (src/verify/sse.c).
 * The first two bytes are a split point, the third seeds a chunking; the rest is the
 * stream. It is fed whole, in two pieces cut at the split point, a byte at a time, and in
 * pseudo-random chunks; the transcripts of callbacks (every event's type, id and data with
 * its length, every comment) and the final state (counters, retry, last event id) must be
 * identical, as tests/unit/test_sse.c checks for its own streams. Each event keeps the
 * bounds of sse.h (data at most LK_SSE_MAX bytes and NUL-terminated after them, type and
 * id within theirs), and after lk_sse_reset a blank line dispatches nothing. abort() on
 * any violation.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "verify/sse.h"

/* A transcript: 'E' or 'C', then length-prefixed fields. */
struct rec {
	char *buf;
	size_t len, cap;
};

static void put(struct rec *r, const void *s, size_t n)
{
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 256;
		while (cap < r->len + n)
			cap *= 2;
		r->buf = realloc(r->buf, cap);
		if (!r->buf)
			abort();
		r->cap = cap;
	}
	if (n)
		memcpy(r->buf + r->len, s, n);
	r->len += n;
}

static void put_field(struct rec *r, const char *s, size_t n)
{
	put(r, &n, sizeof n);
	put(r, s, n);
}

static void on_event(void *ud, const struct lk_sse_event *ev)
{
	struct rec *r = ud;
	size_t tl = strlen(ev->type), il = strlen(ev->id);
	check(ev->len <= LK_SSE_MAX);
	check(ev->data[ev->len] == '\0');
	check(tl <= LK_SSE_TYPE_MAX);
	check(il <= LK_SSE_ID_MAX);
	check(ev->has_id || il == 0);
	put(r, "E", 1);
	put_field(r, ev->type, tl);
	put_field(r, ev->id, il);
	put_field(r, ev->data, ev->len);
}

static void on_comment(void *ud, const char *text, size_t len)
{
	struct rec *r = ud;
	check(len < LK_SSE_MAX);
	put(r, "C", 1);
	put_field(r, text, len);
}

static struct lk_sse whole, other;

/* Two runs gave the same transcript and ended in the same state. */
static void same(const struct lk_sse *a, const struct rec *ra, const struct lk_sse *b,
		 const struct rec *rb)
{
	check(ra->len == rb->len);
	check(ra->len == 0 || memcmp(ra->buf, rb->buf, ra->len) == 0);
	check(a->events == b->events && a->comments == b->comments);
	check(a->oversize == b->oversize && a->bad_id == b->bad_id);
	check(a->retry_ms == b->retry_ms);
	check(a->has_id == b->has_id && strcmp(a->id, b->id) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cut = 0;
	uint32_t seed = 1;
	if (size >= 3) {
		cut = (size_t)data[0] << 8 | data[1];
		seed += data[2];
		data += 3;
		size -= 3;
	}
	cut %= size + 1;
	/* an exact-size copy: the parser must not read past n */
	char *s = xmemdup(data, size);
	struct rec rw = {0}, ro = {0};
	struct lk_sse_cb cbw = {on_event, on_comment, &rw}, cbo = {on_event, on_comment, &ro};

	lk_sse_init(&whole);
	lk_sse_feed(&whole, s, size, &cbw);

	/* two pieces */
	lk_sse_init(&other);
	lk_sse_feed(&other, s, cut, &cbo);
	lk_sse_feed(&other, s + cut, size - cut, &cbo);
	same(&whole, &rw, &other, &ro);

	/* a byte at a time, each copied into a one-byte block */
	char *one = xmalloc(1);
	ro.len = 0;
	lk_sse_init(&other);
	for (size_t i = 0; i < size; i++) {
		*one = s[i];
		lk_sse_feed(&other, one, 1, &cbo);
	}
	free(one);
	same(&whole, &rw, &other, &ro);

	/* pseudo-random chunks, empty ones included */
	ro.len = 0;
	lk_sse_init(&other);
	for (size_t i = 0; i <= size;) {
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		size_t k = seed % 67;
		if (k > size - i)
			k = size - i;
		lk_sse_feed(&other, s + i, k, &cbo);
		if (i == size)
			break;
		i += k;
	}
	same(&whole, &rw, &other, &ro);

	/* a new connection forgets the partial event: a blank line dispatches nothing */
	uint64_t events = whole.events;
	lk_sse_reset(&whole);
	lk_sse_feed(&whole, "\n\n", 2, &cbw);
	check(whole.events == events);

	free(rw.buf);
	free(ro.buf);
	free(s);
	return 0;
}
