/* SPDX-License-Identifier: MIT */
/* bench/bench.h: the few functions bench/jwt.c takes from its other translation units. */
#ifndef LK_BENCH_H
#define LK_BENCH_H
#include <stddef.h>

int bench_jsonc_setup(void);
int bench_jsonc_parse(const char *buf, size_t len);
const char *bench_jsonc_version(void);

#endif
