/* SPDX-License-Identifier: MIT */
/*
 * Structured logging: one JSON object per line on stderr, written with a single write(2)
 * so lines from different threads never interleave. Callers pass only non-secret values;
 * there is no way to log a header or a body wholesale.
 */
#ifndef LK_UTIL_LOG_H
#define LK_UTIL_LOG_H

#include <stddef.h>

/* Append s as a JSON string body (no quotes) to dst[0..cap); returns bytes written,
 * truncating safely (never splitting an escape). dst is NUL-terminated. */
size_t lk_json_escape(char *dst, size_t cap, const char *s);

/* Log a line: {"ts":..., "level":level, "msg":msg, <k1>:<v1>, ...}. Pairs are given as
 * NULL-terminated key, value strings; a value starting with '#' is written as a raw JSON
 * number (the '#' dropped), anything else as an escaped string. */
void lk_log(const char *level, const char *msg, ...);

#endif
