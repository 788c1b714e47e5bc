/* SPDX-License-Identifier: MIT */
/*
 * A strict, allocation-free JSON scanner for the two small objects of every token: the
 * JOSE header and the JWT claims. It validates the whole text (RFC 8259 grammar, UTF-8,
 * escapes, surrogate pairs, nesting depth), rejects duplicate member names at every level
 * (comparing names after unescaping, so "exp" and "\u0065xp" collide), and reports the
 * top-level members as spans into the input. It exists because the hot path cannot afford
 * a DOM: a jansson parse of a 168-byte payload costs more instructions than the HMAC that
 * protects it (docs/performance.md). Keys, key sets and the CLI use jansson.
 */
#ifndef LK_JOSE_JSON_H
#define LK_JOSE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "latchkey.h"

#define LK_JSON_MAX_DEPTH 32     /* nested arrays and objects */
#define LK_JSON_MAX_NAMES 256    /* member names open at once, across nesting levels */

enum lk_jtype { LK_J_STRING = 1, LK_J_NUMBER, LK_J_OBJECT, LK_J_ARRAY, LK_J_TRUE,
		LK_J_FALSE, LK_J_NULL };

/* One top-level member. Strings are given without their quotes; esc says whether the raw
 * text contains a backslash (then lk_json_unescape gives the value). */
struct lk_jmember {
	const char *name;
	const char *val;
	uint32_t nlen, vlen;
	uint8_t type, name_esc, val_esc;
};

/*
 * Scan s[0..len) as exactly one JSON object (surrounding whitespace allowed). Top-level
 * members go to m[0..cap); *n receives their count. LK_EJSON on any syntax or encoding
 * error, LK_EDUPLICATE on a repeated name, LK_ETOO_LARGE past cap members, LK_JSON_MAX_NAMES
 * open names or LK_JSON_MAX_DEPTH levels.
 */
enum lk_err lk_json_scan(const char *s, size_t len, struct lk_jmember *m, size_t cap,
			 size_t *n) LK_WUR;

/* The member named lit (compared after unescaping), or NULL. */
const struct lk_jmember *lk_json_find(const struct lk_jmember *m, size_t n, const char *lit);

/* Index in names[0..count) of member m's (unescaped) name, or -1. One pass over a member
 * list with this is cheaper than one lk_json_find per wanted name. */
int lk_json_classify(const struct lk_jmember *m, const char *const *names, int count);

/* Unescape a scanned string's raw text into out (room for rawlen bytes + NUL; the result
 * is never longer). The raw text must have passed lk_json_scan. Returns the length. */
size_t lk_json_unescape(const char *raw, size_t rawlen, char *out);

/* Does the scanned string raw[0..rawlen) equal lit[0..litlen) after unescaping? */
bool lk_json_str_eq(const char *raw, size_t rawlen, bool esc, const char *lit, size_t litlen);

/* A scanned number as whole seconds (fraction truncated toward zero). false when it is not
 * a number within +-2^62. */
bool lk_json_seconds(const struct lk_jmember *m, int64_t *out);

#endif
