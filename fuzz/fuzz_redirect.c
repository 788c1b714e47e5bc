/* SPDX-License-Identifier: MIT */
/*
 * fuzz_redirect: lk_rd_redirect_parse and lk_rd_keyslot (src/store/redis_slots.c), the
 * parts of the Redis store that read what a cluster node answers. The input, as an
 * exact-size block, is an error reply's text and a key. For several host buffer sizes:
 * when the parse succeeds, the slot is below 16384, the port 1..65535, the host a
 * NUL-terminated string within its buffer with no byte the input did not have, and a larger
 * buffer never turns success into failure; when it fails, every output is as it was. A
 * key's slot is below 16384 and depends only on its hash tag when it has one. abort() on
 * any violation.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "store/redis_slots.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = {1, 2, 8, 16, 64, 256};
	char *err = xmemdup(data, size);
	bool any = false;

	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		char *host = xmalloc(sizes[k]);
		memset(host, 0xa5, sizes[k]);
		bool ask = false;
		uint16_t slot = 0xffff;
		int port = 0;
		bool ok = lk_rd_redirect_parse(err, size, &ask, &slot, host, sizes[k], &port);
		check(ok || !any);
		if (!ok) {
			check(!ask && slot == 0xffff && port == 0);
			for (size_t i = 0; i < sizes[k]; i++)
				check((unsigned char)host[i] == 0xa5);
		} else {
			any = true;
			check(slot < LK_RD_SLOTS && port >= 1 && port <= 65535);
			size_t n = strnlen(host, sizes[k]);
			check(n < sizes[k]);
			check(n == 0 || memmem(data, size, host, n) != NULL);
		}
		free(host);
	}

	uint16_t s = lk_rd_keyslot(err, size);
	check(s < LK_RD_SLOTS);
	const char *open = memchr(err, '{', size);
	const char *close = open ? memchr(open + 1, '}', size - (size_t)(open - err) - 1) : NULL;
	if (close && close > open + 1) {
		/* the tag alone, wrapped in braces, hashes the same */
		size_t tl = (size_t)(close - open - 1);
		char *tag = xmalloc(tl + 2);
		tag[0] = '{';
		memcpy(tag + 1, open + 1, tl);
		tag[tl + 1] = '}';
		check(lk_rd_keyslot(tag, tl + 2) == s);
		free(tag);
	}
	free(err);
	return 0;
}
