/* SPDX-License-Identifier: MIT */
/*
 * fuzz_form: form bodies (application/x-www-form-urlencoded) through lk_form_decode and
 * lk_form_param, and request targets through lk_target_bad (src/http/parse.c): the
 * percent-decoding of what a client sends.
 *
 * The whole input is decoded: the result must match a plain reference decoder (NULL on a
 * bad escape, %00, a raw NUL or a result that is not UTF-8 (fz_utf8_ok); else every byte
 * decoded, so strlen of the result is the decoded length and no NUL hides inside). The
 * input is also split at its first LF into a field name and a body: lk_form_param must give
 * the reference decoding of the first field of that name. Then the input's bytes without
 * NULs are percent-encoded (fz_pct_encode, '+' or %20 for a space, upper- or lower-case hex
 * as the first byte says) into the middle field of a body that has a near-miss name before
 * and a duplicate after, and lk_form_param must give those bytes back (NULL when they are
 * not UTF-8). Last, the input up to its first NUL as a request target: lk_target_bad must
 * refuse it exactly when a raw byte is a control character or a space, or %XX decoding
 * (a '%' without two hex digits being itself) gives a NUL or bytes that are not UTF-8.
 * Buffers are exact-size: no terminator to lean on. abort() on any violation.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "http/parse.h"

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The reference: decode s[0..n) into out (n bytes room), false when refused. */
static bool ref_decode(const char *s, size_t n, char *out, size_t *outlen)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (n - i < 3 || hexval((unsigned char)s[i + 1]) < 0 ||
			    hexval((unsigned char)s[i + 2]) < 0)
				return false;
			c = (unsigned char)(hexval((unsigned char)s[i + 1]) * 16 +
					    hexval((unsigned char)s[i + 2]));
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == 0)
			return false;
		out[w++] = (char)c;
	}
	*outlen = w;
	return fz_utf8_ok(out, w);
}

/* lk_form_decode of s[0..n) must agree with the reference; returns its result. */
static void decode_side(const char *s, size_t n)
{
	char *buf = xmemdup(s, n), *want = xmalloc(n);
	size_t wl = 0;
	bool ok = ref_decode(buf, n, want, &wl);
	char *got = lk_form_decode(buf, n);

	check(ok == (got != NULL));
	if (got) {
		check(strlen(got) == wl);
		check(memcmp(got, want, wl) == 0);
	}
	free(got);
	free(want);
	free(buf);
}

/* lk_form_param(body, name) against a field-by-field reference. */
static void param_side(const char *body, size_t len, const char *name)
{
	char *b = xmemdup(body, len);
	char *got = lk_form_param(b, len, name);
	size_t nl = strlen(name), i = 0;
	bool found = false;
	char *want = xmalloc(len);
	size_t wl = 0;
	bool ok = false;

	while (i < len && !found) {
		size_t j = i, eq = (size_t)-1;
		for (; j < len && b[j] != '&'; j++)
			if (eq == (size_t)-1 && b[j] == '=')
				eq = j;
		if (eq != (size_t)-1 && eq - i == nl && memcmp(b + i, name, nl) == 0) {
			found = true;
			ok = ref_decode(b + eq + 1, j - eq - 1, want, &wl);
		}
		i = j + 1;
	}
	check((found && ok) == (got != NULL));
	if (got) {
		check(strlen(got) == wl);
		check(memcmp(got, want, wl) == 0);
	}
	free(got);
	free(want);
	free(b);
}

/* Encode the bytes, wrap them in a body, find them again. */
static void roundtrip_side(const char *raw, size_t n, const char *rawname, bool plus, bool lower)
{
	char *val = xmalloc(n), *name = xmalloc(strlen(rawname) + 2);
	size_t vl = 0, nl = 0;

	for (size_t i = 0; i < n; i++)
		if (raw[i] != '\0')
			val[vl++] = raw[i];
	for (const char *p = rawname; *p; p++)
		if (*p != '&' && *p != '=')
			name[nl++] = *p;
	if (nl == 0)
		name[nl++] = 'v';
	name[nl] = '\0';

	char *enc = xmalloc(3 * vl + 1);
	size_t el = fz_pct_encode(val, vl, enc, plus, lower);
	/* name_=x&name=ENC&name=second */
	size_t bl = 3 * nl + el + 13;
	char *body = xmalloc(bl), *w = body;
	w = fz_put(w, name, nl);
	w = fz_put(w, "_=x&", 4);
	w = fz_put(w, name, nl);
	w = fz_put(w, "=", 1);
	w = fz_put(w, enc, el);
	w = fz_put(w, "&", 1);
	w = fz_put(w, name, nl);
	w = fz_put(w, "=second", 7);
	check((size_t)(w - body) == bl);

	char *got = lk_form_param(body, bl, name);
	check((got != NULL) == fz_utf8_ok(val, vl));
	if (got) {
		check(strlen(got) == vl);
		check(memcmp(got, val, vl) == 0);
	}
	free(got);
	free(body);
	free(enc);
	free(name);
	free(val);
}

/* lk_target_bad(t) against the reference: refused exactly when a raw byte is a control
 * character or a space, or the decoded bytes hold a NUL or are not UTF-8. */
static void target_side(const char *t)
{
	size_t n = strlen(t), w = 0;
	char *dec = xmalloc(n);
	bool bad = false;
	for (size_t i = 0; i < n && !bad; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c <= 0x20 || c == 0x7f) {
			bad = true;
		} else if (c == '%' && i + 2 < n && hexval((unsigned char)t[i + 1]) >= 0 &&
			   hexval((unsigned char)t[i + 2]) >= 0) {
			c = (unsigned char)(hexval((unsigned char)t[i + 1]) * 16 +
					    hexval((unsigned char)t[i + 2]));
			i += 2;
			bad = c == 0;
		}
		dec[w++] = (char)c;
	}
	if (!bad)
		bad = !fz_utf8_ok(dec, w);
	check((lk_target_bad(t) != NULL) == bad);
	free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	bool plus = size > 0 && (data[0] & 1), lower = size > 0 && (data[0] & 2);

	decode_side(s, size);

	const char *lf = memchr(s, '\n', size);
	char *name = lf ? xstrndup(s, (size_t)(lf - s)) : xstrndup("a", 1);
	const char *body = lf ? lf + 1 : s;
	size_t blen = lf ? size - (size_t)(lf + 1 - s) : size;
	param_side(body, blen, name);

	roundtrip_side(body, blen, name, plus, lower);
	free(name);

	char *t = xstrndup(s, size);
	target_side(t);
	free(t);
	return 0;
}
