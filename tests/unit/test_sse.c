/* SPDX-License-Identifier: MIT */
/*
 * test_sse.c: the Server-Sent Events parser of the revocation stream (src/verify/sse.c),
 * against the WHATWG "event stream" rules.
 *
 * The parser sees the network's chunking, so every stream here is also fed split at every
 * byte boundary (and a byte at a time), and must give the same events; CRLF, LF and CR
 * line ends are interchangeable, a CR at the end of one chunk and the LF at the start of
 * the next being one line end. Bounds: an event over LK_SSE_MAX is dropped and counted,
 * never overflowing; hostile bytes never crash it (random input under ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "verify/sse.h"

/* A transcript of callbacks: "E<type>|<id>|<data>\n" per event, "C<text>\n" per comment
 * (NUL bytes shown as \0). */
struct rec {
	char buf[1 << 16];
	size_t len;
};

static void put(struct rec *r, const char *s, size_t n)
{
	for (size_t i = 0; i < n && r->len + 3 < sizeof r->buf; i++) {
		if (s[i] == '\0') {
			r->buf[r->len++] = '\\';
			r->buf[r->len++] = '0';
		} else {
			r->buf[r->len++] = s[i];
		}
	}
	r->buf[r->len] = '\0';
}

static void on_event(void *ud, const struct lk_sse_event *ev)
{
	struct rec *r = ud;
	assert_true(ev->len <= LK_SSE_MAX);
	assert_int_equal(ev->data[ev->len], '\0');
	put(r, "E", 1);
	put(r, ev->type, strlen(ev->type));
	put(r, "|", 1);
	put(r, ev->id, strlen(ev->id));
	put(r, "|", 1);
	put(r, ev->data, ev->len);
	put(r, "\n", 1);
}

static void on_comment(void *ud, const char *text, size_t len)
{
	struct rec *r = ud;
	put(r, "C", 1);
	put(r, text, len);
	put(r, "\n", 1);
}

/* Parse s[0..n) in one go into r; returns the parser's counters through p. */
static void parse_whole(const char *s, size_t n, struct rec *r, struct lk_sse *p)
{
	struct lk_sse_cb cb = {on_event, on_comment, r};
	lk_sse_init(p);
	r->len = 0;
	r->buf[0] = '\0';
	lk_sse_feed(p, s, n, &cb);
}

/* The same transcript whatever the chunking: whole, split at every boundary, bytewise. */
static void check_splits(const char *s, size_t n, const char *want)
{
	static struct rec whole, split;
	static struct lk_sse p, q;
	struct lk_sse_cb cb = {on_event, on_comment, &split};

	parse_whole(s, n, &whole, &p);
	if (want)
		assert_string_equal(whole.buf, want);
	for (size_t cut = 0; cut <= n; cut++) {
		lk_sse_init(&q);
		split.len = 0;
		split.buf[0] = '\0';
		lk_sse_feed(&q, s, cut, &cb);
		lk_sse_feed(&q, s + cut, n - cut, &cb);
		if (strcmp(whole.buf, split.buf) != 0)
			fail_msg("split at %zu: got\n%s\nwant\n%s", cut, split.buf, whole.buf);
		assert_int_equal(q.oversize, p.oversize);
	}
	lk_sse_init(&q);
	split.len = 0;
	split.buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		lk_sse_feed(&q, s + i, 1, &cb);
	assert_string_equal(whole.buf, split.buf);
}

#define CHECK(lit, want) check_splits(lit, sizeof(lit) - 1, want)

static void test_basic(void **state)
{
	CHECK("id: 5\ndata: {\"cursor\":5}\n\n", "E|5|{\"cursor\":5}\n");
	/* the revocation stream's shape: pings, then events with ids */
	CHECK(": ping\n\nid: 7\ndata: {\"a\":1}\n\n: ping\n\nid: 8\ndata: {\"b\":2}\n\n",
	      "C ping\nE|7|{\"a\":1}\nC ping\nE|8|{\"b\":2}\n");
}

static void test_line_ends(void **state)
{
	const char *want = "E|1|a\nC p\nE|2|b\n";
	CHECK("id: 1\ndata: a\n\n: p\nid: 2\ndata: b\n\n", want);
	CHECK("id: 1\r\ndata: a\r\n\r\n: p\r\nid: 2\r\ndata: b\r\n\r\n", want);
	CHECK("id: 1\rdata: a\r\r: p\rid: 2\rdata: b\r\r", want);
	/* mixed */
	CHECK("id: 1\r\ndata: a\r\r\n: p\nid: 2\rdata: b\n\r\n", want);
	/* CR CR is two line ends (a blank line), CR LF one */
	CHECK("data: x\r\r", "E||x\n");
	CHECK("data: x\r\n", "");
}

static void test_fields(void **state)
{
	/* one optional space only */
	CHECK("data:x\n\n", "E||x\n");
	CHECK("data:  x\n\n", "E|| x\n");
	/* multi-line data joined with LF; the final LF dropped */
	CHECK("data: a\ndata: b\ndata\n\n", "E||a\nb\n\n");
	/* "data" alone is an empty value, which still dispatches */
	CHECK("data\n\n", "E||\n");
	/* no data: nothing dispatched, and the type does not leak into the next event */
	CHECK("event: x\nid: 3\n\ndata: y\n\n", "E|3|y\n");
	/* event type */
	CHECK("event: revoke\ndata: y\n\n", "Erevoke||y\n");
	/* unknown fields and a colon in the value */
	CHECK("foo: bar\ndata: a:b: c\n\n", "E||a:b: c\n");
	/* field names are case-sensitive */
	CHECK("Data: a\n\n", "");
	/* the id persists; an empty id resets it */
	CHECK("id: 9\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", "E|9|a\nE|9|b\nE||c\n");
}

static void test_nul_in_id(void **state)
{
	static const char s[] = "id: 4\ndata: a\n\nid: 5\0x\ndata: b\n\n";
	check_splits(s, sizeof s - 1, "E|4|a\nE|4|b\n");
	/* a NUL in data is passed on (the JSON parser refuses it) */
	static const char t[] = "data: a\0b\n\n";
	check_splits(t, sizeof t - 1, "E||a\\0b\n");
}

static void test_unfinished(void **state)
{
	struct rec r;
	struct lk_sse p;
	/* no blank line: the event is not dispatched; the stream ending drops it */
	CHECK("id: 1\ndata: a\n", "");
	CHECK("data: a", "");
	parse_whole("data: a\n\ndata: b\n", 17, &r, &p);
	assert_string_equal(r.buf, "E||a\n");
	assert_int_equal(p.events, 1);
	/* lk_sse_reset (a new connection) forgets the partial event, keeps the id */
	struct lk_sse_cb cb = {on_event, on_comment, &r};
	lk_sse_init(&p);
	r.len = 0;
	lk_sse_feed(&p, "id: 2\ndata: a\n\nid: 3\ndata: half", 32, &cb);
	lk_sse_reset(&p);
	lk_sse_feed(&p, "\n\n", 2, &cb);
	assert_string_equal(r.buf, "E|2|a\n");
	assert_string_equal(p.id, "3");
}

static void test_bom(void **state)
{
	CHECK("\xEF\xBB\xBF" "data: a\n\n", "E||a\n");
	/* only one BOM is skipped, and only at the start */
	CHECK("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\n", "");
	CHECK("data: \xEF\xBB\xBF\n\n", "E||\xEF\xBB\xBF\n");
	/* a prefix of a BOM that is not one is kept */
	CHECK("\xEF" "data: a\n\n", "");
	CHECK("\xEF\xBB" "\n" "data: a\n\n", "E||a\n");
}

static void test_retry(void **state)
{
	struct rec r;
	struct lk_sse p;
	parse_whole("retry: 2500\n", 12, &r, &p);
	assert_int_equal(p.retry_ms, 2500);
	parse_whole("retry: 25x\n", 11, &r, &p);
	assert_int_equal(p.retry_ms, -1);
	parse_whole("retry: 99999999999999999999999\n", 31, &r, &p);
	assert_true(p.retry_ms > 0);
}

static void test_oversize(void **state)
{
	static char s[3 * LK_SSE_MAX];
	struct rec r;
	struct lk_sse p;
	size_t n;

	/* data of exactly LK_SSE_MAX bytes over four lines (3 * 1023 + 1024 + 3 LFs): kept */
	n = 0;
	for (int i = 0; i < 4; i++) {
		n += (size_t)sprintf(s + n, "data: ");
		memset(s + n, 'a' + i, LK_SSE_MAX / 4 - 1 + (i == 3));
		n += LK_SSE_MAX / 4 - 1 + (i == 3);
		s[n++] = '\n';
	}
	s[n++] = '\n';
	parse_whole(s, n, &r, &p);
	assert_int_equal(p.events, 1);
	assert_int_equal(p.oversize, 0);
	assert_int_equal(strlen(r.buf), 3 + LK_SSE_MAX + 1); /* "E||" data "\n" */

	/* one byte more: dropped and counted; the next event still comes through */
	n = 0;
	for (int i = 0; i < 4; i++) {
		n += (size_t)sprintf(s + n, "data: ");
		memset(s + n, 'a', LK_SSE_MAX / 4 - 1 + 2 * (i == 3));
		n += LK_SSE_MAX / 4 - 1 + 2 * (i == 3);
		s[n++] = '\n';
	}
	n += (size_t)sprintf(s + n, "\nid: 2\ndata: ok\n\n");
	parse_whole(s, n, &r, &p);
	assert_string_equal(r.buf, "E|2|ok\n");
	assert_int_equal(p.oversize, 1);
	check_splits(s, n, "E|2|ok\n");

	/* one line far over the bound */
	n = (size_t)sprintf(s, "data: ");
	memset(s + n, 'x', 2 * LK_SSE_MAX);
	n += 2 * LK_SSE_MAX;
	n += (size_t)sprintf(s + n, "\n\ndata: ok\n\n");
	parse_whole(s, n, &r, &p);
	assert_string_equal(r.buf, "E||ok\n");
	assert_int_equal(p.oversize, 1);

	/* an oversize comment is dropped silently; an oversize id is ignored and counted */
	n = (size_t)sprintf(s, ":");
	memset(s + n, 'x', 2 * LK_SSE_MAX);
	n += 2 * LK_SSE_MAX;
	n += (size_t)sprintf(s + n, "\nid: ");
	memset(s + n, '7', LK_SSE_ID_MAX + 1);
	n += LK_SSE_ID_MAX + 1;
	n += (size_t)sprintf(s + n, "\ndata: ok\n\n");
	parse_whole(s, n, &r, &p);
	assert_string_equal(r.buf, "E||ok\n");
	assert_int_equal(p.oversize, 0);
	assert_int_equal(p.bad_id, 1);

	/* an oversize event type spoils the event */
	n = (size_t)sprintf(s, "event: ");
	memset(s + n, 't', LK_SSE_TYPE_MAX + 1);
	n += LK_SSE_TYPE_MAX + 1;
	n += (size_t)sprintf(s + n, "\ndata: a\n\n");
	parse_whole(s, n, &r, &p);
	assert_string_equal(r.buf, "");
	assert_int_equal(p.oversize, 1);
}

/* Random bytes, biased to the characters that matter: no crash, bounds hold (on_event
 * asserts them), and the chunking never changes the result. */
static void test_garbage(void **state)
{
	static const char alphabet[] = "\r\n:  dataidevntry\0\xEF\xBB\xBFx";
	static char s[3 * LK_SSE_MAX];
	uint32_t seed = 12345;
	for (int round = 0; round < 300; round++) {
		size_t n = round < 290 ? (size_t)(1 + round % 200) : sizeof s;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			uint32_t x = seed >> 16;
			s[i] = (x & 3) ? alphabet[x % (sizeof alphabet - 1)] : (char)(x >> 2);
		}
		if (n <= 200)
			check_splits(s, n, NULL);
		else {
			struct rec r;
			struct lk_sse p;
			parse_whole(s, n, &r, &p);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),     cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_fields),    cmocka_unit_test(test_nul_in_id),
		cmocka_unit_test(test_unfinished), cmocka_unit_test(test_bom),
		cmocka_unit_test(test_retry),     cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
