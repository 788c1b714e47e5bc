/* SPDX-License-Identifier: MIT */
/*
 * test_b64url.c: strict base64url (RFC 4648 §5, unpadded, as RFC 7515 §2 requires).
 *
 * Strictness matters because a JWS signature covers the base64url text, not the bytes:
 * a lenient decoder gives one byte string many encodings, and two parsers that disagree
 * on which encodings they accept disagree on what a token says. So every byte string
 * must have exactly one accepted encoding: alphabet A-Z a-z 0-9 - _ only, no padding, no
 * whitespace, no length of 1 mod 4, and zero bits in the unused low bits of the last
 * character. This file links the internal functions of src/util/b64url.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/b64url.h"

static enum lk_err dec(const char *s, uint8_t *out, size_t cap, size_t *outlen)
{
	return lk_b64url_decode(s, strlen(s), out, cap, outlen);
}

#define assert_rc(expr, want)                                                            \
	do {                                                                             \
		enum lk_err got_ = (expr);                                               \
		if (got_ != (want))                                                      \
			fail_msg("%s: got %d (%s), want %s", #expr, (int)got_,           \
				 lk_err_str(got_), #want);                               \
	} while (0)

static void check_pair(const void *bin, size_t n, const char *text)
{
	char enc[64];
	uint8_t out[64];
	size_t outlen = 999;
	assert_true(strlen(text) + 1 <= sizeof enc);
	memset(enc, 'X', sizeof enc);
	assert_int_equal(lk_b64url_enc_len(n), strlen(text));
	assert_int_equal(lk_b64url_encode(bin, n, enc), strlen(text));
	assert_string_equal(enc, text); /* also checks the NUL */
	assert_true(lk_b64url_dec_max(strlen(text)) >= n);
	assert_rc(dec(text, out, sizeof out, &outlen), LK_OK);
	assert_int_equal(outlen, n);
	if (n)
		assert_memory_equal(out, bin, n);
}

/* RFC 4648 §10 test vectors, in the url alphabet and without the padding. */
static void test_rfc4648_section10(void **state)
{
	check_pair("", 0, "");
	check_pair("f", 1, "Zg");
	check_pair("fo", 2, "Zm8");
	check_pair("foo", 3, "Zm9v");
	check_pair("foob", 4, "Zm9vYg");
	check_pair("fooba", 5, "Zm9vYmE");
	check_pair("foobar", 6, "Zm9vYmFy");
}

/* The two characters where base64url differs from base64 (RFC 4648 §5): 62 is '-' and
 * 63 is '_'. 0xfb 0xef 0xbe is "++++" in base64; 0xff 0xff 0xff is "////". */
static void test_url_alphabet(void **state)
{
	check_pair("\xfb\xef\xbe", 3, "----");
	check_pair("\xff\xff\xff", 3, "____");
	check_pair("\xfb\xff", 2, "-_8");
	check_pair("\x00", 1, "AA");
	check_pair("\x00\x00\x00", 3, "AAAA");
	check_pair("A", 1, "QQ");
}

/* Every length from 0 to 300 and every byte value round-trips, and the encoding is the
 * only one accepted: any change of the last character that still decodes must decode to
 * different bytes. */
static void test_roundtrip_all_lengths(void **state)
{
	uint8_t in[300], out[300];
	char enc[410];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 167 + 13);
	for (size_t n = 0; n <= sizeof in; n++) {
		size_t el = lk_b64url_encode(in, n, enc), outlen = 0;
		assert_int_equal(el, lk_b64url_enc_len(n));
		assert_int_equal(strlen(enc), el);
		assert_true(el % 4 != 1);
		assert_true(lk_b64url_dec_max(el) >= n);
		assert_rc(lk_b64url_decode(enc, el, out, sizeof out, &outlen), LK_OK);
		assert_int_equal(outlen, n);
		if (n)
			assert_memory_equal(out, in, n);
		if (!el)
			continue;
		static const char al[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		char orig = enc[el - 1];
		for (int c = 0; c < 64; c++) {
			if (al[c] == orig)
				continue;
			enc[el - 1] = al[c];
			enum lk_err rc = lk_b64url_decode(enc, el, out, sizeof out, &outlen);
			if (rc == LK_OK)
				assert_true(outlen != n || memcmp(out, in, n) != 0);
			else
				assert_rc(rc, LK_EBASE64);
		}
		enc[el - 1] = orig;
	}
	/* all 256 byte values in one string */
	uint8_t all[256], back[256];
	char e2[400];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	size_t el = lk_b64url_encode(all, 256, e2), bl = 0;
	assert_rc(lk_b64url_decode(e2, el, back, sizeof back, &bl), LK_OK);
	assert_int_equal(bl, 256);
	assert_memory_equal(back, all, 256);
}

/* Padding is never accepted, in any position. */
static void test_rejects_padding(void **state)
{
	uint8_t out[16];
	size_t n;
	assert_rc(dec("Zg==", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("Zg=", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("Zm8=", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("Zm9v====", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("====", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("=", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("Zm=v", out, sizeof out, &n), LK_EBASE64);
}

/* The base64 (not url) characters '+' and '/' are outside the alphabet. */
static void test_rejects_std_alphabet(void **state)
{
	uint8_t out[16];
	size_t n;
	assert_rc(dec("++++", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("////", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("Zm9v+w", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("Zm9v/w", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("-_8/", out, sizeof out, &n), LK_EBASE64);
}

/* No whitespace anywhere, no control bytes, no NUL, no bytes >= 0x80, no '.'. */
static void test_rejects_whitespace_and_other_bytes(void **state)
{
	uint8_t out[16];
	size_t n;
	static const char *bad[] = {
		" Zm9v", "Zm9v ", "Zm 9v", "Zm9v\n", "\nZm9v", "Zm9v\r\n", "Zm\t9v",
		"Zm9v\v", "Zm9v\f", "Zm9.", "Zm9v.", "Zm9v*", "Zm9v!", "Zm9v\x7f", "Zm9v\x80",
		"Zm9v\xc3\xa9", "Zm9v\xff", "Zm9v%3D", "Zm9v~", "Zm9v,",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum lk_err rc = dec(bad[i], out, sizeof out, &n);
		if (rc != LK_EBASE64)
			fail_msg("input %zu accepted or wrong code: %s", i, lk_err_str(rc));
	}
	/* an embedded NUL, passed with an explicit length */
	assert_rc(lk_b64url_decode("Zm\0v", 4, out, sizeof out, &n), LK_EBASE64);
	assert_rc(lk_b64url_decode("Zm9v\0\0", 6, out, sizeof out, &n), LK_EBASE64);
}

/* A length of 1 mod 4 cannot be the encoding of anything. */
static void test_rejects_length_1_mod_4(void **state)
{
	uint8_t out[16];
	size_t n;
	assert_rc(dec("A", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("Z", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("Zm9vY", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("Zm9vYmFyZ", out, sizeof out, &n), LK_EBASE64);
	/* the length is what counts, not a NUL inside the buffer */
	assert_rc(lk_b64url_decode("Zm9vYg", 5, out, sizeof out, &n), LK_EBASE64);
	assert_rc(lk_b64url_decode("Zm9vYg", 6, out, sizeof out, &n), LK_OK);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "foob", 4);
}

/* Non-zero trailing bits: "QQ" is "A" (0x41 = 010000 01|0000), "QR" sets an unused bit
 * and must be refused; with three characters two bits are unused ("Zm8" is "fo", "Zm9"
 * sets the low bit). */
static void test_rejects_trailing_bits(void **state)
{
	uint8_t out[16];
	size_t n = 0;
	assert_rc(dec("QQ", out, sizeof out, &n), LK_OK);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 'A');
	static const char *bad2[] = {"QR", "QS", "QT", "QU", "QV", "QW", "QX", "QY", "QZ",
				     "Qa", "Qf", "Q-", "Q_", "Zh", "Zi", "Zj", "Zv", "AB"};
	for (size_t i = 0; i < sizeof bad2 / sizeof bad2[0]; i++)
		if (dec(bad2[i], out, sizeof out, &n) != LK_EBASE64)
			fail_msg("\"%s\" has non-zero trailing bits but was not refused", bad2[i]);
	/* "QQ", "Qg", "Qw", "RA" carry only zero low bits */
	assert_rc(dec("Qg", out, sizeof out, &n), LK_OK);
	assert_rc(dec("Qw", out, sizeof out, &n), LK_OK);
	assert_rc(dec("Zm8", out, sizeof out, &n), LK_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "fo", 2);
	assert_rc(dec("Zm9", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("Zm-", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("Zm_", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("Zm9vYmF", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("Zm9vYh", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("AAB", out, sizeof out, &n), LK_EBASE64);
	assert_rc(dec("AAE", out, sizeof out, &n), LK_OK);
}

/* The decoder never writes past cap: too small a buffer is LK_ETOO_LARGE, the exact size
 * is enough. */
static void test_cap(void **state)
{
	uint8_t out[8];
	size_t n = 0;
	memset(out, 0xAA, sizeof out);
	assert_rc(dec("Zm9vYmFy", out, 5, &n), LK_ETOO_LARGE);
	for (size_t i = 5; i < sizeof out; i++)
		assert_int_equal(out[i], 0xAA);
	assert_rc(dec("Zm9vYmFy", out, 0, &n), LK_ETOO_LARGE);
	assert_rc(dec("Zm9vYmE", out, 4, &n), LK_ETOO_LARGE);
	assert_rc(dec("Zg", out, 0, &n), LK_ETOO_LARGE);
	assert_rc(dec("Zm9vYmFy", out, 6, &n), LK_OK);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(out[6], 0xAA);
	assert_rc(dec("Zm9vYmE", out, 5, &n), LK_OK);
	assert_int_equal(n, 5);
	assert_rc(dec("", out, 0, &n), LK_OK);
	assert_int_equal(n, 0);
}

/* The length helpers match the arithmetic of RFC 4648 without padding. */
static void test_length_helpers(void **state)
{
	static const size_t enc[] = {0, 2, 3, 4, 6, 7, 8, 10};
	for (size_t n = 0; n < 8; n++)
		assert_int_equal(lk_b64url_enc_len(n), enc[n]);
	assert_int_equal(lk_b64url_enc_len(32), 43);
	assert_int_equal(lk_b64url_enc_len(64), 86);
	assert_int_equal(lk_b64url_enc_len(256), 342);
	assert_int_equal(lk_b64url_dec_max(43), 32);
	assert_int_equal(lk_b64url_dec_max(86), 64);
	assert_int_equal(lk_b64url_dec_max(342), 256);
	assert_int_equal(lk_b64url_dec_max(4), 3);
	assert_int_equal(lk_b64url_dec_max(0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_section10),
		cmocka_unit_test(test_url_alphabet),
		cmocka_unit_test(test_roundtrip_all_lengths),
		cmocka_unit_test(test_rejects_padding),
		cmocka_unit_test(test_rejects_std_alphabet),
		cmocka_unit_test(test_rejects_whitespace_and_other_bytes),
		cmocka_unit_test(test_rejects_length_1_mod_4),
		cmocka_unit_test(test_rejects_trailing_bits),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_length_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
