/* SPDX-License-Identifier: MIT */
/*
 * fuzz_b64url: strict base64url has exactly one encoding per byte string. Whatever
 * lk_b64url_decode accepts must encode back to the very same characters; a too small
 * buffer must give LK_ETOO_LARGE; and any bytes must encode and decode back unchanged.
 * abort() on any violation. Buffers are exact-size heap blocks so ASan sees overruns.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "latchkey.h"
#include "util/b64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

/* Decode direction: the input as text. */
static void decode_side(const char *in, size_t n)
{
	size_t cap = lk_b64url_dec_max(n);
	uint8_t *out = xmalloc(cap);
	size_t outlen = (size_t)-1;
	enum lk_err e = lk_b64url_decode(in, n, out, cap, &outlen);

	if (e != LK_OK) {
		check(e == LK_EBASE64);
		free(out);
		return;
	}
	check(outlen <= cap);
	check(lk_b64url_enc_len(outlen) == n);

	char *back = xmalloc(n + 1);
	size_t m = lk_b64url_encode(out, outlen, back);
	check(m == n);
	check(memcmp(back, in, n) == 0); /* unique encoding */
	check(back[n] == '\0');
	free(back);

	if (outlen > 0) {
		/* one byte short: must refuse, not overrun */
		uint8_t *small = xmalloc(outlen - 1);
		size_t sl = 0;
		check(lk_b64url_decode(in, n, small, outlen - 1, &sl) == LK_ETOO_LARGE);
		free(small);
	}
	free(out);
}

/* Encode direction: the input as bytes. */
static void encode_side(const uint8_t *in, size_t n)
{
	size_t el = lk_b64url_enc_len(n);
	char *enc = xmalloc(el + 1);
	check(lk_b64url_encode(in, n, enc) == el);
	check(enc[el] == '\0');
	for (size_t i = 0; i < el; i++) {
		char c = enc[i];
		check((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_');
	}
	uint8_t *dec = xmalloc(n);
	size_t dl = (size_t)-1;
	check(lk_b64url_decode(enc, el, dec, n, &dl) == LK_OK);
	check(dl == n && memcmp(dec, in, n) == 0);
	free(dec);
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_side((const char *)data, size);
	encode_side(data, size);
	return 0;
}
