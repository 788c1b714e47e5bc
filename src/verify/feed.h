/* SPDX-License-Identifier: MIT */
/*
 * The pure parts of the verifier's network side (remote.c), kept apart so they can be
 * tested without a verifier: URLs derived from the issuer, the discovery document, the
 * revocation events (SPEC "Revocation events") and the reconnection backoff.
 */
#ifndef LK_VERIFY_FEED_H
#define LK_VERIFY_FEED_H

#include <stddef.h>
#include <stdint.h>
#include "latchkey.h"

#define LK_FEED_VALUE_MAX 255

/* ISSUER + suffix ("/.well-known/openid-configuration", "/revocations", ...), with a
 * terminating '/' of the issuer removed first (OpenID Connect Discovery §4.1). The issuer
 * must be an http:// or https:// URL with a host and without query or fragment
 * (RFC 8414 §2). NULL when it is not, or out of memory; free(). */
char *lk_feed_url(const char *issuer, const char *suffix);

/*
 * Read a discovery document: its "issuer" must equal `issuer` exactly (RFC 8414 §3.3,
 * OpenID Connect Discovery §4.3), "jwks_uri" must be an http(s) URL, and https when the
 * issuer is. On success *jwks_uri is a new string (free()). Otherwise LK_EIO with the
 * reason in detail[size] (no document bytes beyond the issuer value, shortened).
 */
enum lk_err lk_feed_discovery(const char *doc, size_t len, const char *issuer, char **jwks_uri,
			      char *detail, size_t size);

/* One event as parsed, with its strings held inside. */
struct lk_feed_event {
	struct lk_revocation_event ev; /* type and value point into the fields below */
	char type[4];
	char value[LK_FEED_VALUE_MAX + 1];
};

/*
 * Parse one event object, strictly: JSON without duplicate members; "cursor" an integer
 * > 0; "type" one of "jti", "sid", "sub"; "value" a non-empty string of at most 255 bytes
 * without NUL; "expires" an integer; "before" an integer, required for "sub" (and ignored
 * for the others). Other members are ignored (room for the server to add some).
 * LK_EINVAL when malformed.
 */
enum lk_err lk_feed_event_parse(const char *json, size_t len, struct lk_feed_event *out);
/* The same from a parsed JSON object (a jansson json_t *, void here to keep jansson out of
 * the header). */
enum lk_err lk_feed_event_from(const void *obj, struct lk_feed_event *out);

/*
 * Reconnection delay: `failures` consecutive failures (1 for the first) give
 * base_ms * 2^(failures-1), capped at max_ms, then with jitter: a value drawn in
 * [d/2, d] from *seed (a xorshift state, never 0).
 */
int64_t lk_feed_backoff(unsigned failures, int64_t base_ms, int64_t max_ms, uint64_t *seed);

#endif
