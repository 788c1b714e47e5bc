/* SPDX-License-Identifier: MIT */
/*
 * fuzz_json_param: lk_json_param (src/http/parse.c), a string member of a JSON request
 * body. The first byte holds flags, the rest is split at its first LF into a member name
 * and a body (an exact-size block). The result must be NULL or a string without a NUL
 * inside: exactly the member's value as jansson reads it (json_string_length bytes).
 * Then the body's bytes are made into the value of that member of an object that jansson
 * serialises (plain or with \u escapes, as the flags say): lk_json_param must give the
 * bytes back when they hold no NUL, and NULL when they do (an escaped \u0000).
 * abort() on any violation.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "fuzz_util.h"
#include "http/parse.h"

static void parse_side(const char *body, size_t len, const char *name)
{
	char *b = xmemdup(body, len);
	char *got = lk_json_param(b, len, name);
	json_t *o = json_loadb(b, len, JSON_REJECT_DUPLICATES, NULL), *v;

	if (got) {
		check(o != NULL);
		v = json_object_get(o, name);
		check(json_is_string(v));
		check(strlen(got) == json_string_length(v));
		check(memcmp(got, json_string_value(v), strlen(got)) == 0);
	} else if (o && (v = json_object_get(o, name)) && json_is_string(v)) {
		/* refused only for a NUL inside */
		check(memchr(json_string_value(v), '\0', json_string_length(v)) != NULL);
	}
	json_decref(o);
	free(got);
	free(b);
}

static void roundtrip_side(const char *val, size_t vl, const char *name, unsigned flags)
{
	json_t *o = json_object(), *s = json_stringn(val, vl);
	size_t nl = strlen(name);

	if (!o || !s || json_object_set_new(o, name, s) != 0) {
		/* invalid UTF-8 in the name or the value: nothing to serialise */
		json_decref(o);
		return;
	}
	/* a near-miss name before, another member after */
	char *near = xmalloc(nl + 2);
	memcpy(near, name, nl);
	near[nl] = 'x';
	near[nl + 1] = '\0';
	json_object_set_new(o, near, json_integer(1));
	if (strcmp(name, "z") != 0)
		json_object_set_new(o, "z", json_pack("[s%]", val, vl));
	free(near);

	size_t jflags = (flags & 1 ? JSON_ENSURE_ASCII : 0) | (flags & 2 ? JSON_COMPACT : JSON_INDENT(1)) |
			(flags & 4 ? JSON_SORT_KEYS : 0);
	char *doc = json_dumps(o, jflags);
	json_decref(o);
	if (!doc)
		abort();
	size_t dl = strlen(doc);
	char *b = xmemdup(doc, dl);
	free(doc);

	char *got = lk_json_param(b, dl, name);
	if (memchr(val, '\0', vl)) {
		check(got == NULL);
	} else {
		check(got != NULL);
		check(strlen(got) == vl);
		check(memcmp(got, val, vl) == 0);
	}
	free(got);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned flags = data[0];
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	const char *lf = memchr(s, '\n', n);
	char *name = lf ? xstrndup(s, (size_t)(lf - s)) : xstrndup("token", 5);
	const char *body = lf ? lf + 1 : s;
	size_t blen = lf ? n - (size_t)(lf + 1 - s) : n;

	parse_side(body, blen, name);
	roundtrip_side(body, blen, name, flags);
	free(name);
	return 0;
}
