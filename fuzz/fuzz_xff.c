/* SPDX-License-Identifier: MIT */
/*
 * fuzz_xff: lk_parse_xff (src/http/parse.c), the client address in an X-Forwarded-For
 * value (the input, up to its first NUL). For several sizes of out, each an exact-size
 * block, from 0 to more than any address needs: when it returns true, out is a
 * NUL-terminated string within size that inet_pton accepts as IPv4 or IPv6, taken from
 * after the last comma of the value; a larger out never turns true into false nor changes
 * the address. abort() on any violation.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "http/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 39, 40, 46, 47, 64, 128};
	char *xff = xstrndup(data, size);
	const char *comma = strrchr(xff, ',');
	const char *last = comma ? comma + 1 : xff;
	char first[128] = "";
	bool any = false;

	check(!lk_parse_xff(NULL, first, sizeof first));
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t sz = sizes[k];
		char *out = xmalloc(sz);
		if (sz)
			memset(out, 0x5a, sz);
		bool ok = lk_parse_xff(xff, out, sz);
		check(ok || !any); /* more room never loses the address */
		if (ok) {
			unsigned char buf[sizeof(struct in6_addr)];
			check(sz > 0 && memchr(out, '\0', sz) != NULL);
			check(inet_pton(AF_INET, out, buf) == 1 || inet_pton(AF_INET6, out, buf) == 1);
			check(strstr(last, out) != NULL);
			if (any) {
				check(strcmp(out, first) == 0);
			} else {
				check(strlen(out) < sizeof first);
				strcpy(first, out);
				any = true;
			}
		}
		free(out);
	}
	free(xff);
	return 0;
}
