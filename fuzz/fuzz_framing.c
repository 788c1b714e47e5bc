/* SPDX-License-Identifier: MIT */
/*
 * fuzz_framing: the request framing checks lk_framing_add and lk_framing_end
 * (src/http/parse.c) over a header list decoded from the input. The first byte picks the
 * HTTP version and how values are cut; the rest is split on LF, one header per line: the
 * name is what comes before the first ':', the value what comes after (leading spaces and
 * tabs trimmed or not, by the flags); a line without ':' is a name with no value (NULL or
 * empty). Names and values are exact-size blocks with explicit lengths, no terminator, and
 * values may hold NUL and any other byte.
 *
 * Properties: when the list has both a Content-Length and a Transfer-Encoding (names
 * compared without case), bad is set; once set, bad stays set; with bad unset, there is
 * at most one of each, has_cl and cl are that Content-Length's decimal value, has_te says
 * whether there was a Transfer-Encoding, and hosts counts the Host headers; after
 * lk_framing_end with "HTTP/1.1", bad is set exactly when hosts is not 1 (or it was
 * set before). The list is fed twice: stopping at the first bad, as the server does, and
 * to the end. abort() on any violation.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_util.h"
#include "http/parse.h"

struct hdr {
	char *name, *value;
	size_t nlen, vlen;
};

static bool name_is(const struct hdr *h, const char *want)
{
	size_t n = strlen(want);
	if (h->nlen != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char a = (unsigned char)h->name[i], b = (unsigned char)want[i];
		if (a >= 'A' && a <= 'Z')
			a |= 0x20;
		if (b >= 'A' && b <= 'Z')
			b |= 0x20;
		if (a != b)
			return false;
	}
	return true;
}

static void run(const struct hdr *hs, size_t n, const char *version, bool stop)
{
	struct lk_framing f;
	unsigned ncl = 0, nte = 0, hosts = 0;
	unsigned long long cl = 0;
	bool was_bad = false;

	memset(&f, 0, sizeof f);
	for (size_t i = 0; i < n; i++) {
		const struct hdr *h = &hs[i];
		if (stop && f.bad)
			break;
		lk_framing_add(&f, h->name, h->nlen, h->value, h->vlen);
		check(!was_bad || f.bad); /* bad never clears */
		was_bad = f.bad != NULL;
		if (name_is(h, "Content-Length")) {
			ncl++;
			cl = 0;
			for (size_t k = 0; k < h->vlen && k < 19; k++)
				cl = cl * 10 + (unsigned)(h->value[k] - '0');
		}
		if (name_is(h, "Transfer-Encoding"))
			nte++;
		if (name_is(h, "Host"))
			hosts++;
	}
	if (ncl && nte)
		check(f.bad != NULL);
	if (!f.bad) {
		check(ncl <= 1 && nte <= 1);
		check(f.has_cl == (ncl == 1));
		check(!f.has_cl || f.cl == cl);
		check(f.has_te == (nte == 1));
		check(f.hosts == hosts);
	}
	const char *before = f.bad;
	lk_framing_end(&f, version);
	if (before)
		check(f.bad == before);
	else if (version && strcmp(version, "HTTP/1.1") == 0)
		check((f.bad != NULL) == (hosts != 1));
	else
		check(f.bad == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const versions[] = {"HTTP/1.1", "HTTP/1.0", NULL, "HTTP/2"};
	if (size == 0)
		return 0;
	unsigned flags = data[0];
	const char *version = versions[flags & 3];
	bool trim = flags & 4, empty_value = flags & 8;
	const char *s = (const char *)data + 1, *end = (const char *)data + size;
	size_t cap = 1, n = 0;

	for (const char *p = s; p < end; p++)
		cap += *p == '\n';
	struct hdr *hs = xmalloc(cap * sizeof *hs);
	for (const char *p = s; p < end;) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		const char *le = lf ? lf : end;
		const char *colon = memchr(p, ':', (size_t)(le - p));
		struct hdr *h = &hs[n++];
		h->nlen = (size_t)((colon ? colon : le) - p);
		h->name = xmemdup(p, h->nlen);
		if (colon) {
			const char *v = colon + 1;
			while (trim && v < le && (*v == ' ' || *v == '\t'))
				v++;
			h->vlen = (size_t)(le - v);
			h->value = xmemdup(v, h->vlen);
		} else {
			h->vlen = 0;
			h->value = empty_value ? xmalloc(0) : NULL;
		}
		if (!lf)
			break;
		p = lf + 1;
	}

	run(hs, n, version, true);
	run(hs, n, version, false);

	for (size_t i = 0; i < n; i++) {
		free(hs[i].name);
		free(hs[i].value);
	}
	free(hs);
	return 0;
}
