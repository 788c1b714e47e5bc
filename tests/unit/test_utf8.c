/* SPDX-License-Identifier: MIT */
/*
 * src/util/utf8.c and the parsers built on it (src/http/parse.c): what is UTF-8 (RFC 3629
 * §4 and its Table 3-7 of well-formed sequences, as Unicode 15 §3.9 prints it), what a
 * form field and a request target refuse, and how a User-Agent is cleaned. The story:
 * form fields passed any bytes, so a user name of 0xFF reached the audit trail and the
 * log as it came, a User-Agent cut inside a character dropped its session from /sessions
 * (jansson refuses to serialise invalid UTF-8), and "/healthz%00x" was served as /healthz.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/parse.h"
#include "util/utf8.h"

#define U(s) ((const unsigned char *)(s))

static void test_seq_boundaries(void **state)
{
	static const struct {
		const char *s;
		size_t n, want;
	} t[] = {
		{"\x7f", 1, 1},
		{"\x80", 1, 0},               /* a lone continuation byte */
		{"\xc0\xaf", 2, 0},           /* overlong "/" */
		{"\xc1\xbf", 2, 0},           /* overlong */
		{"\xc2\x80", 2, 2},           /* U+0080, the first of two bytes */
		{"\xc2", 1, 0},               /* cut short */
		{"\xc2\x41", 2, 0},           /* not a continuation */
		{"\xdf\xbf", 2, 2},           /* U+07FF */
		{"\xe0\x80\xaf", 3, 0},       /* overlong "/" */
		{"\xe0\x9f\xbf", 3, 0},       /* overlong U+07FF */
		{"\xe0\xa0\x80", 3, 3},       /* U+0800 */
		{"\xed\x9f\xbf", 3, 3},       /* U+D7FF */
		{"\xed\xa0\x80", 3, 0},       /* U+D800, a surrogate half */
		{"\xed\xbf\xbf", 3, 0},       /* U+DFFF */
		{"\xee\x80\x80", 3, 3},       /* U+E000 */
		{"\xef\xbf\xbd", 3, 3},       /* U+FFFD */
		{"\xe2\x82", 2, 0},           /* cut short */
		{"\xf0\x8f\xbf\xbf", 4, 0},   /* overlong U+FFFF */
		{"\xf0\x90\x80\x80", 4, 4},   /* U+10000 */
		{"\xf4\x8f\xbf\xbf", 4, 4},   /* U+10FFFF */
		{"\xf4\x90\x80\x80", 4, 0},   /* U+110000 */
		{"\xf5\x80\x80\x80", 4, 0},
		{"\xff", 1, 0},
		{"\xfe", 1, 0},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		if (lk_utf8_seq(U(t[i].s), t[i].n) != t[i].want)
			fail_msg("case %zu: got %zu, want %zu", i, lk_utf8_seq(U(t[i].s), t[i].n), t[i].want);
		assert_int_equal(lk_utf8_valid(t[i].s, t[i].n), t[i].want == t[i].n);
	}
	assert_true(lk_utf8_valid("", 0));
	assert_true(lk_utf8_valid("a\0b", 3)); /* NUL is a character; callers refuse it apart */
	assert_true(lk_utf8_valid("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
	assert_false(lk_utf8_valid("caf\xc3\xa9 \xf0\x9f\x98", 9));
}

static void test_clean(void **state)
{
	char out[32];
	assert_int_equal(lk_utf8_clean(out, sizeof out, "ok \xc3\xa9"), 5);
	assert_string_equal(out, "ok \xc3\xa9");
	lk_utf8_clean(out, sizeof out, "a\xffz\xe2\x82");
	assert_string_equal(out, "a\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd");
	assert_true(lk_utf8_valid(out, strlen(out)));
	/* cut at a character boundary: "ab" and not half of the e-acute */
	char small[4];
	assert_int_equal(lk_utf8_clean(small, sizeof small, "ab\xc3\xa9"), 2);
	assert_string_equal(small, "ab");
	assert_int_equal(lk_utf8_clean(small, sizeof small, "\xff"), 3);
	assert_string_equal(small, "\xef\xbf\xbd");
	assert_int_equal(lk_utf8_clean(small, 1, "abc"), 0);
	assert_string_equal(small, "");
	assert_int_equal(lk_utf8_clean(out, sizeof out, NULL), 0);
	assert_string_equal(out, "");
}

/* Form fields: UTF-8 or nothing. */
static void test_form_decode(void **state)
{
	static const char *const refused[] = {"a%C0%AFb", "a%E0%80%AF", "%80", "%ED%A0%80", "%FF",
					      "a%E2%82", "a%E2%82b", "a\xff", "x%00y"};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		char *got = lk_form_decode(refused[i], strlen(refused[i]));
		if (got)
			fail_msg("%s: decoded, want refused", refused[i]);
	}
	char *ok = lk_form_decode("caf%C3%A9+%E2%82%AC", 19);
	assert_non_null(ok);
	assert_string_equal(ok, "caf\xc3\xa9 \xe2\x82\xac");
	free(ok);
}

/* Request targets: no control byte or space, no %00, UTF-8 once decoded. */
static void test_target(void **state)
{
	static const char *const ok[] = {"/", "/login?return_to=%2Faccount", "/me?q=%C3%A9",
					 "/a%zz", "/a%4", "/caf\xc3\xa9", "/%F0%9F%98%80", "/x+y"};
	static const char *const bad[] = {"/healthz%00x", "/me%C0%AF", "/me%ED%A0%80", "/me%FF",
					  "/me%E2%82", "/me%E2%82x", "/me\xff", "/a b", "/a\tb",
					  "/a\x7f", "/%C3", "/%C3%", "/login?return_to=/admin%E0%80%AF"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (lk_target_bad(ok[i]))
			fail_msg("%s: refused (%s)", ok[i], lk_target_bad(ok[i]));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (!lk_target_bad(bad[i]))
			fail_msg("%s: passed", bad[i]);
	assert_string_equal(lk_target_bad("/a%00"), "an encoded NUL in the request target");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_boundaries),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_form_decode),
		cmocka_unit_test(test_target),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
