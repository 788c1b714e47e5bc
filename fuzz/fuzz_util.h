/* SPDX-License-Identifier: MIT */
/*
 * fuzz_util.h: helpers shared by the fuzz targets of the server's parsers (fuzz_form.c,
 * fuzz_authz.c, ...): check() aborts on a violated property, xmalloc() gives exact-size
 * heap blocks (so ASan sees a read one byte past the end), xmemdup() and xstrndup()
 * copy into such blocks (without and with a terminator), fz_put() appends, and
 * fz_pct_encode() is a plain form-urlencoder, to build inputs that must decode back, and
 * fz_utf8_ok() a plain UTF-8 validator, the reference for the parsers that refuse what is
 * not UTF-8.
 */
#ifndef LK_FUZZ_UTIL_H
#define LK_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void check(int cond)
{
	if (!cond)
		abort();
}

static inline void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

/* A copy of s[0..n) in a block of exactly n bytes (no terminator). */
static inline char *xmemdup(const void *s, size_t n)
{
	char *p = xmalloc(n);
	if (n)
		memcpy(p, s, n);
	return p;
}

/* s[0..n) with a NUL after it (the text up to a NUL inside s is what C string code sees). */
static inline char *xstrndup(const void *s, size_t n)
{
	char *p = xmalloc(n + 1);
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Append s[0..n) at w; returns the new end. */
static inline char *fz_put(char *w, const void *s, size_t n)
{
	if (n)
		memcpy(w, s, n);
	return w + n;
}

/* Form-urlencode s[0..n) into out (room for 3n + 1 bytes), NUL-terminated; returns the
 * length. Unreserved characters (RFC 3986 §2.3) stay as they are, anything else becomes
 * %XX (lower-case hex when lower), a space '+' when plus. */
static inline size_t fz_pct_encode(const char *s, size_t n, char *out, int plus, int lower)
{
	const char *hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[w++] = (char)c;
		} else if (c == ' ' && plus) {
			out[w++] = '+';
		} else {
			out[w++] = '%';
			out[w++] = hex[c >> 4];
			out[w++] = hex[c & 15];
		}
	}
	out[w] = '\0';
	return w;
}

/* Is s[0..n) valid UTF-8 (RFC 3629)? A reference written apart from src/util/utf8.h: each
 * sequence decoded to its code point, which must need exactly that many bytes, not be a
 * UTF-16 surrogate and not pass U+10FFFF. */
static inline int fz_utf8_ok(const void *v, size_t n)
{
	static const unsigned long least[5] = {0, 0, 0x80, 0x800, 0x10000};
	const unsigned char *s = v;
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		unsigned long cp;
		size_t k;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			k = 2, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			k = 3, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			k = 4, cp = c & 0x07;
		else
			return 0;
		if (n - i < k)
			return 0;
		for (size_t j = 1; j < k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < least[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k;
	}
	return 1;
}

#endif
