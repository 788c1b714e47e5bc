/* SPDX-License-Identifier: MIT */
/*
 * Strict base64url codec (see b64url.h). Table-driven; the decoder rejects anything that
 * is not the one canonical encoding, so a token has exactly one byte form to sign.
 */
#include "util/b64url.h"

static const char enc[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63 for the alphabet, 0x80 for everything else. */
static const uint8_t dec[256] = {
#define X 0x80
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, 62, X, X, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
	X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, 63,
	X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
#undef X
};

size_t lk_b64url_encode(const void *in, size_t n, char *out)
{
	const uint8_t *p = in;
	char *o = out;
	size_t i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = enc[v >> 18];
		*o++ = enc[(v >> 12) & 63];
		*o++ = enc[(v >> 6) & 63];
		*o++ = enc[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = enc[v >> 18];
		*o++ = enc[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = enc[v >> 18];
		*o++ = enc[(v >> 12) & 63];
		*o++ = enc[(v >> 6) & 63];
	}
	*o = '\0';
	return (size_t)(o - out);
}

enum lk_err lk_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap,
			     size_t *outlen)
{
	const uint8_t *p = (const uint8_t *)in;
	size_t full = n / 4 * 4, o = 0;
	uint32_t bad = 0;

	if (n % 4 == 1)
		return LK_EBASE64;
	if (lk_b64url_dec_max(n) > cap)
		return LK_ETOO_LARGE;
	for (size_t i = 0; i < full; i += 4) {
		uint32_t a = dec[p[i]], b = dec[p[i + 1]], c = dec[p[i + 2]], d = dec[p[i + 3]];
		uint32_t v = a << 18 | b << 12 | c << 6 | d;
		bad |= a | b | c | d;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	if (n % 4 == 2) {
		uint32_t a = dec[p[full]], b = dec[p[full + 1]];
		bad |= a | b | ((b & 0x0f) ? 0x80 : 0); /* unused low bits must be zero */
		out[o++] = (uint8_t)(a << 2 | b >> 4);
	} else if (n % 4 == 3) {
		uint32_t a = dec[p[full]], b = dec[p[full + 1]], c = dec[p[full + 2]];
		bad |= a | b | c | ((c & 0x03) ? 0x80 : 0); /* unused low bits must be zero */
		out[o++] = (uint8_t)(a << 2 | b >> 4);
		out[o++] = (uint8_t)(b << 4 | c >> 2);
	}
	if (bad & 0x80)
		return LK_EBASE64;
	*outlen = o;
	return LK_OK;
}
