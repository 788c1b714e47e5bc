/* SPDX-License-Identifier: MIT */
/*
 * fuzz_cookie: lk_session_hash (src/auth/session.c), the check a session cookie's value
 * passes before any store access: exactly LK_COOKIE_LEN base64url characters of 32 bytes,
 * hashed with SHA-256. The input, up to its first NUL, is a cookie value: when accepted,
 * it is the one encoding of its bytes (re-encoding them gives the value back, so no two
 * cookies name one session) and the hash is SHA-256 of those bytes; when refused, the
 * error is LK_ESESSION. The first 32 bytes of the input (zero-padded) encoded as a cookie
 * must be accepted with the hash of those bytes. abort() on any violation.
 *
 * The CSRF checks are not here: lk_auth_csrf_valid needs a whole struct lk_auth (its
 * key lives there), and the per-session token check is inline in src/http/server.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "auth/auth_int.h"
#include "fuzz_util.h"
#include "util/b64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *cookie = xstrndup(data, size);
	unsigned char h[32], want[32], raw[33];
	size_t n = 0;
	enum lk_err e = lk_session_hash(cookie, h);

	if (e == LK_OK) {
		check(strlen(cookie) == LK_COOKIE_LEN);
		check(lk_b64url_decode(cookie, LK_COOKIE_LEN, raw, sizeof raw, &n) == LK_OK);
		check(n == 32);
		char back[LK_COOKIE_LEN + 1];
		check(lk_b64url_encode(raw, 32, back) == LK_COOKIE_LEN);
		check(memcmp(back, cookie, LK_COOKIE_LEN + 1) == 0);
		crypto_hash_sha256(want, raw, 32);
		check(memcmp(h, want, 32) == 0);
	} else {
		check(e == LK_ESESSION);
	}
	check(lk_session_hash(NULL, h) == LK_ESESSION);

	unsigned char bytes[32] = {0};
	if (size)
		memcpy(bytes, data, size < 32 ? size : 32);
	char *good = xmalloc(LK_COOKIE_LEN + 1);
	check(lk_b64url_encode(bytes, 32, good) == LK_COOKIE_LEN);
	check(lk_session_hash(good, h) == LK_OK);
	crypto_hash_sha256(want, bytes, 32);
	check(memcmp(h, want, 32) == 0);

	free(good);
	free(cookie);
	return 0;
}
