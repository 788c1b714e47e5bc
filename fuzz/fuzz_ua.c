/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ua: lk_ua_describe (src/http/ua.c), a device name from a User-Agent (the input, up
 * to its first NUL). For sizes from 1 to more than any name needs, each out an
 * exact-size block: the output is NUL-terminated within size, holds only printable ASCII
 * (the names come from fixed tables and the version is digits), and is the start of the
 * full name (what snprintf truncation gives), which fits in 63 bytes. abort() on any
 * violation.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = {1, 2, 3, 5, 8, 13, 16, 24, 32, 48, 64, 128};
	char *ua = xstrndup(data, size);
	char full[128];

	lk_ua_describe(NULL, full, sizeof full);
	check(strcmp(full, "Unknown device") == 0);
	lk_ua_describe(ua, full, sizeof full);
	check(memchr(full, '\0', sizeof full) != NULL);
	check(strlen(full) > 0 && strlen(full) < 64);
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t sz = sizes[k];
		char *out = xmalloc(sz);
		memset(out, 0x5a, sz);
		lk_ua_describe(ua, out, sz);
		const char *nul = memchr(out, '\0', sz);
		check(nul != NULL);
		size_t n = (size_t)(nul - out);
		for (size_t i = 0; i < n; i++)
			check(out[i] >= 0x20 && out[i] < 0x7f);
		check(n == (strlen(full) < sz ? strlen(full) : sz - 1));
		check(memcmp(out, full, n) == 0);
		free(out);
	}
	free(ua);
	return 0;
}
