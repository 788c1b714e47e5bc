/* SPDX-License-Identifier: MIT */
/*
 * fuzz_authz: the Authorization header parsers lk_parse_basic and lk_parse_bearer
 * (src/http/parse.c).
 *
 * The input as a header value (up to its first NUL, as the server sees it): Basic gives 1
 * with both strings, 0 (not Basic) or -1 (malformed) with both NULL, and 0 exactly when
 * the scheme is not "Basic "; Bearer gives NULL exactly when the scheme is not "Bearer ",
 * else the token inside the header, after the spaces.
 *
 * Round trip: the first byte holds flags, the second the length of the id; the rest, NULs
 * dropped, is the id and the secret. base64 of form-encoded "id:secret" (RFC 6749 §2.3.1)
 * after "Basic" in some case and with extra spaces must parse back to the same id and
 * secret (decoded "id:secret" up to 511 bytes, both valid UTF-8 (fz_utf8_ok); anything
 * else is refused with -1), and "Bearer"
 * with spaces and a token must give the token. Outputs are freed (LeakSanitizer checks).
 * abort() on any violation.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

#include "fuzz_util.h"
#include "http/parse.h"

static void header_side(const char *h)
{
	char *id = (char *)1, *secret = (char *)1;
	int rc = lk_parse_basic(h, &id, &secret);
	bool basic = strncasecmp(h, "Basic ", 6) == 0;

	check(rc == 1 || rc == 0 || rc == -1);
	check((rc == 0) == !basic);
	if (rc == 1) {
		check(id != NULL && secret != NULL);
	} else {
		check(id == NULL && secret == NULL);
	}
	free(id);
	free(secret);

	const char *t = lk_parse_bearer(h);
	bool bearer = strncasecmp(h, "Bearer ", 7) == 0;
	check((t != NULL) == bearer);
	if (t) {
		check(t >= h + 7 && t <= h + strlen(h));
		for (const char *p = h + 7; p < t; p++)
			check(*p == ' ');
		check(*t != ' ');
	}
	check(lk_parse_bearer(NULL) == NULL);
}

static void basic_roundtrip(const char *id, size_t il, const char *sec, size_t sl, unsigned flags)
{
	static const char *const schemes[] = {"Basic", "basic", "BASIC", "bAsIc"};
	char *eid = xmalloc(3 * il + 1), *esec = xmalloc(3 * sl + 1);
	size_t el = fz_pct_encode(id, il, eid, flags & 1, flags & 2);
	size_t esl = fz_pct_encode(sec, sl, esec, flags & 1, flags & 2);
	size_t jl = el + 1 + esl;
	char *joined = xmalloc(jl), *w = joined;
	w = fz_put(w, eid, el);
	w = fz_put(w, ":", 1);
	fz_put(w, esec, esl);

	size_t bl = sodium_base64_ENCODED_LEN(jl, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = xmalloc(bl);
	sodium_bin2base64(b64, bl, (const unsigned char *)joined, jl, sodium_base64_VARIANT_ORIGINAL);
	size_t spaces = 1 + (flags >> 2 & 3);
	size_t hl = 5 + spaces + strlen(b64);
	char *h = xmalloc(hl + 1);
	w = fz_put(h, schemes[flags >> 4 & 3], 5);
	for (size_t i = 0; i < spaces; i++)
		*w++ = ' ';
	w = fz_put(w, b64, strlen(b64));
	*w = '\0';

	char *gid = NULL, *gsec = NULL;
	int rc = lk_parse_basic(h, &gid, &gsec);
	if (jl <= 511 && fz_utf8_ok(id, il) && fz_utf8_ok(sec, sl)) {
		check(rc == 1);
		check(strlen(gid) == il && memcmp(gid, id, il) == 0);
		check(strlen(gsec) == sl && memcmp(gsec, sec, sl) == 0);
	} else {
		check(rc == -1);
		check(gid == NULL && gsec == NULL);
	}
	free(gid);
	free(gsec);
	free(h);
	free(b64);
	free(joined);
	free(esec);
	free(eid);
}

static void bearer_roundtrip(const char *tok, size_t tl, unsigned flags)
{
	static const char *const schemes[] = {"Bearer", "bearer", "BEARER", "bEaReR"};
	size_t spaces = 1 + (flags >> 2 & 3);
	char *h = xmalloc(6 + spaces + tl + 1), *w;
	while (tl && *tok == ' ')
		tok++, tl--;
	w = fz_put(h, schemes[flags >> 4 & 3], 6);
	for (size_t i = 0; i < spaces; i++)
		*w++ = ' ';
	w = fz_put(w, tok, tl);
	*w = '\0';
	const char *t = lk_parse_bearer(h);
	check(t == h + 6 + spaces);
	check(strlen(t) == tl && memcmp(t, tok, tl) == 0);
	free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *h = xstrndup(data, size);
	header_side(h);
	free(h);

	if (size < 2)
		return 0;
	unsigned flags = data[0];
	size_t n = 0, idlen = data[1];
	char *rest = xmalloc(size - 2);
	for (size_t i = 2; i < size; i++)
		if (data[i] != '\0')
			rest[n++] = (char)data[i];
	if (idlen > n)
		idlen = n;
	basic_roundtrip(rest, idlen, rest + idlen, n - idlen, flags);
	bearer_roundtrip(rest, n, flags);
	free(rest);
	return 0;
}
