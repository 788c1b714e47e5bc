/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 validation and cleaning (see utf8.h).
 */
#include <string.h>

#include "util/utf8.h"

bool lk_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t k = lk_utf8_seq(p, (size_t)(end - p));
		if (!k)
			return false;
		p += k;
	}
	return true;
}

size_t lk_utf8_clean(char *dst, size_t size, const char *s)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), w = 0;

	if (!size)
		return 0;
	while (*p) {
		size_t k = lk_utf8_seq(p, n);
		const char *from = k ? (const char *)p : fffd;
		size_t len = k ? k : 3;
		if (w + len >= size)
			break;
		memcpy(dst + w, from, len);
		w += len;
		p += k ? k : 1;
		n -= k ? k : 1;
	}
	dst[w] = '\0';
	return w;
}
