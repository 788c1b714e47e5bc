/* SPDX-License-Identifier: MIT */
/*
 * The denylist: the revocations in effect (SPEC "Revocation events"), one module for the
 * server's own verification and for liblatchkey's verifier.
 *
 * An open-addressing hash table of 128-bit keyed hashes (SipHash-128 of type and value
 * under a random key, so no one can aim collisions), each with `before` (sub events) and
 * `expires`. Lookups are lock-free: the table is read through an atomic pointer inside an
 * EBR read section, entries are published with a release store of their first word.
 * Writers (adds, purges) take the denylist's mutex. Entries only leave when expired, in a
 * rebuild that publishes a fresh table; a full table grows the same way.
 *
 * Rule: a token is denied when its jti, or its sid, is in the list, or its sub is with a
 * `before` later than the token's iat. An entry denies even past its own expiry until a
 * purge removes it (by then every token it could affect has expired anyway).
 */
#ifndef LK_VERIFY_DENYLIST_H
#define LK_VERIFY_DENYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "latchkey.h"

#define LK_DENY_VALUE_MAX 255

enum lk_deny_type { LK_DENY_JTI = 'j', LK_DENY_SID = 's', LK_DENY_SUB = 'u' };

struct lk_denylist;

enum lk_err lk_denylist_new(struct lk_denylist **out) LK_WUR;
/* No reader may be using d. */
void lk_denylist_free(struct lk_denylist *d);
/* "jti", "sid", "sub" -> the type; 0 for anything else. */
enum lk_deny_type lk_deny_type_from(const char *name);
/* Add (or, for a value already present, extend: the later before and expires win).
 * LK_EINVAL for an empty or over-long value or an unknown type. */
enum lk_err lk_denylist_add(struct lk_denylist *d, enum lk_deny_type type, const char *value,
			    size_t len, int64_t before, int64_t expires) LK_WUR;
/* Drop entries with expires <= now (a rebuild only when enough have expired to matter). */
void lk_denylist_purge(struct lk_denylist *d, int64_t now);
/* Is a token with these claims denied? NULL or "" claims are not looked up. Lock-free. */
bool lk_denylist_denies(struct lk_denylist *d, const char *jti, const char *sid,
			const char *sub, int64_t iat);
size_t lk_denylist_count(struct lk_denylist *d);
size_t lk_denylist_bytes(struct lk_denylist *d);

#endif
