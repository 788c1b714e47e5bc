/* SPDX-License-Identifier: MIT */
/*
 * Strict base64url (RFC 4648 §5) without padding, as JWS requires (RFC 7515 §2):
 * the alphabet A-Z a-z 0-9 - _ only, no '=', no whitespace, a length that is not 1 mod 4,
 * and zero bits in the unused low bits of the last character, so that every byte string
 * has exactly one encoding. Pure functions, no allocation.
 */
#ifndef LK_UTIL_B64URL_H
#define LK_UTIL_B64URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "latchkey.h"

/* Bytes needed to encode n bytes (no NUL). */
static inline size_t lk_b64url_enc_len(size_t n) { return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0); }
/* Upper bound of bytes decoded from n characters. */
static inline size_t lk_b64url_dec_max(size_t n) { return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0); }

/* Encode in[0..n) into out (room for lk_b64url_enc_len(n) + 1; NUL-terminated).
 * Returns the encoded length. */
size_t lk_b64url_encode(const void *in, size_t n, char *out);

/*
 * Decode in[0..n) into out[0..cap). On success *outlen is the decoded length and LK_OK is
 * returned. LK_EBASE64 on any character outside the alphabet, padding, a length of 1 mod 4
 * or non-zero trailing bits; LK_ETOO_LARGE when cap is too small. out is unspecified on
 * failure.
 */
enum lk_err lk_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap,
			     size_t *outlen) LK_WUR;

#endif
