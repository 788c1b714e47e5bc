/* SPDX-License-Identifier: MIT */
/*
 * Error helpers shared by every module: filling a caller's struct lk_errinfo with a
 * code and a short detail. Detail text must never contain token, key or password bytes;
 * callers pass only fixed strings and numbers.
 */
#ifndef LK_UTIL_ERR_H
#define LK_UTIL_ERR_H

#include "latchkey.h"

/* Record err and a printf-style detail in ei (may be NULL); returns err. */
enum lk_err lk_errf(struct lk_errinfo *ei, enum lk_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
