/* SPDX-License-Identifier: MIT */
/*
 * bench/jsonc.c: the json-c row of bench/jwt, in its own translation unit because
 * json-c's <json-c/json.h> and jansson's <jansson.h> declare conflicting json_object_get.
 */
#include "bench.h"

#ifdef BENCH_HAVE_JSONC
#include <json-c/json.h>

static struct json_tokener *tok;

int bench_jsonc_setup(void)
{
	tok = json_tokener_new();
	return tok ? 0 : -1;
}

/* One parse of buf[0..len) into a tree, then free the tree. The tokener is reused. */
int bench_jsonc_parse(const char *buf, size_t len)
{
	json_tokener_reset(tok);
	struct json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
	if (!o || !json_object_is_type(o, json_type_object)) {
		if (o)
			json_object_put(o);
		return -1;
	}
	json_object_put(o);
	return 0;
}

const char *bench_jsonc_version(void) { return json_c_version(); }
#else
int bench_jsonc_setup(void) { return -1; }
int bench_jsonc_parse(const char *buf, size_t len) { (void)buf; (void)len; return -1; }
const char *bench_jsonc_version(void) { return NULL; }
#endif
