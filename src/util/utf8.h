/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 as RFC 3629 defines it, for text that crosses a trust boundary: JSON (the JOSE
 * scanner, the log), form fields, request targets and the headers latchkey keeps. Valid
 * means shortest form only (no overlong encodings, so no second spelling of "/" or NUL),
 * no UTF-16 surrogate halves (U+D800..U+DFFF), nothing past U+10FFFF, no sequence cut
 * short, no stray continuation byte. Pure functions, no allocation.
 */
#ifndef LK_UTIL_UTF8_H
#define LK_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The length (1..4) of the valid UTF-8 character at p[0..n), n > 0; 0 when p[0] does not
 * start one. Inline: the JOSE scanner calls it for every non-ASCII byte of a token. */
static inline size_t lk_utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	if (c < 0x80)
		return 1;
	if (c < 0xc2) /* a continuation byte, or C0/C1: overlong */
		return 0;
	if (c < 0xe0)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && p[1] < 0xa0) /* overlong */
			return 0;
		if (c == 0xed && p[1] >= 0xa0) /* a UTF-16 surrogate half */
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && p[1] < 0x90) /* overlong */
			return 0;
		if (c == 0xf4 && p[1] >= 0x90) /* past U+10FFFF */
			return 0;
		return 4;
	}
	return 0;
}

/* Is s[0..n) valid UTF-8 throughout (NUL bytes allowed: they are valid UTF-8)? */
bool lk_utf8_valid(const char *s, size_t n);

/*
 * Copy the NUL-terminated s into dst[0..size) as valid UTF-8: each byte that does not
 * start a valid character becomes U+FFFD (EF BF BD); the copy ends at a character
 * boundary when it does not fit. For text that is kept and shown but never refused (a
 * User-Agent). dst is always NUL-terminated (size > 0); s NULL copies "". Returns the
 * length written.
 */
size_t lk_utf8_clean(char *dst, size_t size, const char *s);

#endif
