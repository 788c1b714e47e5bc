/* SPDX-License-Identifier: MIT */
/*
 * Structured logging: one JSON object per line on stderr; lines from different threads
 * never interleave. Callers pass only non-secret values;
 * there is no way to log a header or a body wholesale.
 */
#ifndef LK_UTIL_LOG_H
#define LK_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* Append s as a JSON string body (no quotes) to dst[0..cap); returns bytes written,
 * truncating safely (never splitting an escape or a character). Control characters are
 * escaped, and each byte that does not start a valid UTF-8 character is written as
 * \ufffd, so the output is valid UTF-8 JSON whatever s holds. dst is NUL-terminated. */
size_t lk_json_escape(char *dst, size_t cap, const char *s);

/* Log a line: {"ts":..., "level":level, "msg":msg, <k1>:<v1>, ...}. Pairs are given as
 * NULL-terminated key, value strings. Keys are the caller's literals; every value is
 * written as an escaped JSON string, whatever it holds, so no value can forge a field or
 * a line. Numbers have typed arguments in the functions that log them. */
void lk_log(const char *level, const char *msg, ...);
/* The per-request line: method, path and ip escaped; status and ms typed numbers. Queued
 * for a writer thread (within 50 ms), not written on the caller's thread. */
void lk_log_request(const char *method, const char *path, unsigned status, double ms,
		    const char *ip, bool aborted);
/* Write out the queued request lines now (at shutdown; lk_log does it before its line). */
void lk_log_flush(void);

#endif
