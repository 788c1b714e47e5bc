/* SPDX-License-Identifier: MIT */
/*
 * The steps of compact JWS verification, shared by jws.c (raw payloads) and jwt.c (claims).
 * struct lk_jws_parts lives on the caller's stack: spans into the token plus the decoded
 * header and its scanned members.
 */
#ifndef LK_JOSE_JWS_INT_H
#define LK_JOSE_JWS_INT_H

#include "jose/jose_int.h"
#include "jose/json.h"

#define LK_MAX_HDR_MEMBERS 32
#define LK_MAX_HDR 2048 /* decoded header bytes */

struct lk_jws_parts {
	const char *h64, *p64, *s64;
	size_t hl, pl, sl;
	unsigned char hdr[LK_MAX_HDR + 1];
	size_t hdrlen;
	unsigned char pay[LK_MAX_TOKEN / 4 * 3 + 1]; /* decoded payload, NUL-terminated */
	size_t paylen;
	struct lk_jmember hm[LK_MAX_HDR_MEMBERS];
	size_t nh;
	enum lk_alg alg;
	const struct lk_jmember *kid, *typ;
};

/* Size cap, three parts, and the payload decoded strictly (not parsed). */
enum lk_err lk_jws_split(const char *tok, size_t len, struct lk_jws_parts *p,
			 struct lk_errinfo *ei) LK_WUR;
/* Decode and check the header: alg (never none), kid, typ, crit. */
enum lk_err lk_jws_header(struct lk_jws_parts *p, struct lk_errinfo *ei) LK_WUR;
/* Find the key (by kid, algorithm from the key) and check the signature. */
enum lk_err lk_jws_check_sig(const lk_jwks *keys, struct lk_jws_parts *p, unsigned allow,
			     struct lk_errinfo *ei) LK_WUR;

/* The time checks of lk_jwt_verify (exp, nbf, iat present in the token, with leeway >= 0)
 * again at `now`: for a verified token taken from a cache. */
enum lk_err lk_jwt_check_times(const lk_jwt *j, int64_t now, int64_t leeway,
			       struct lk_errinfo *ei) LK_WUR;

#endif
