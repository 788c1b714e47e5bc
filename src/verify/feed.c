/* SPDX-License-Identifier: MIT */
/* Pure helpers of the verifier's network side: see feed.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "verify/feed.h"

static int is_http_url(const char *s, int *https)
{
	const char *host;
	if (strncmp(s, "https://", 8) == 0) {
		*https = 1;
		host = s + 8;
	} else if (strncmp(s, "http://", 7) == 0) {
		*https = 0;
		host = s + 7;
	} else {
		return 0;
	}
	if (!*host || *host == '/' || *host == ':' || *host == '?' || *host == '#')
		return 0;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

char *lk_feed_url(const char *issuer, const char *suffix)
{
	int https;
	size_t n;
	char *out;

	if (!issuer || !is_http_url(issuer, &https) || strpbrk(issuer, "?#"))
		return NULL;
	n = strlen(issuer);
	if (n && issuer[n - 1] == '/')
		n--;
	if (!(out = malloc(n + strlen(suffix) + 1)))
		return NULL;
	memcpy(out, issuer, n);
	strcpy(out + n, suffix);
	return out;
}

enum lk_err lk_feed_discovery(const char *doc, size_t len, const char *issuer, char **jwks_uri,
			      char *detail, size_t size)
{
	json_error_t je;
	json_t *o = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &je);
	const char *iss, *ju;
	int https_iss = strncmp(issuer, "https://", 8) == 0, https_ju;

	*jwks_uri = NULL;
	if (!o || !json_is_object(o)) {
		snprintf(detail, size, "discovery: not a JSON object");
		json_decref(o);
		return LK_EIO;
	}
	iss = json_string_value(json_object_get(o, "issuer"));
	ju = json_string_value(json_object_get(o, "jwks_uri"));
	if (!iss || strcmp(iss, issuer) != 0 || strlen(iss) != json_string_length(json_object_get(o, "issuer"))) {
		if (iss)
			snprintf(detail, size, "discovery: issuer is \"%.40s\", not the one configured",
				 iss);
		else
			snprintf(detail, size, "discovery: no issuer");
		json_decref(o);
		return LK_EIO;
	}
	if (!ju || strlen(ju) != json_string_length(json_object_get(o, "jwks_uri")) ||
	    !is_http_url(ju, &https_ju) || (https_iss && !https_ju)) {
		snprintf(detail, size, "discovery: %s", !ju ? "no jwks_uri"
			 : https_iss ? "jwks_uri is not an https URL" : "jwks_uri is not an http(s) URL");
		json_decref(o);
		return LK_EIO;
	}
	*jwks_uri = strdup(ju);
	json_decref(o);
	if (!*jwks_uri) {
		snprintf(detail, size, "out of memory");
		return LK_ENOMEM;
	}
	return LK_OK;
}

static int get_int(json_t *o, const char *name, int64_t *out)
{
	json_t *v = json_object_get(o, name);
	if (!json_is_integer(v))
		return -1;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

enum lk_err lk_feed_event_from(const void *obj, struct lk_feed_event *out)
{
	json_t *o = (json_t *)obj;
	json_t *t, *val;
	const char *ts;
	size_t vn;

	memset(out, 0, sizeof *out);
	if (!json_is_object(o))
		return LK_EINVAL;
	if (get_int(o, "cursor", &out->ev.cursor) || out->ev.cursor <= 0)
		return LK_EINVAL;
	if (get_int(o, "expires", &out->ev.expires))
		return LK_EINVAL;
	t = json_object_get(o, "type");
	val = json_object_get(o, "value");
	if (!json_is_string(t) || !json_is_string(val))
		return LK_EINVAL;
	ts = json_string_value(t);
	if (json_string_length(t) != 3 ||
	    (strcmp(ts, "jti") != 0 && strcmp(ts, "sid") != 0 && strcmp(ts, "sub") != 0))
		return LK_EINVAL;
	vn = json_string_length(val);
	if (vn == 0 || vn > LK_FEED_VALUE_MAX || memchr(json_string_value(val), '\0', vn))
		return LK_EINVAL;
	if (strcmp(ts, "sub") == 0) {
		if (get_int(o, "before", &out->ev.before))
			return LK_EINVAL;
	} else {
		out->ev.before = 0;
	}
	memcpy(out->type, ts, 4);
	memcpy(out->value, json_string_value(val), vn + 1);
	out->ev.type = out->type;
	out->ev.value = out->value;
	return LK_OK;
}

enum lk_err lk_feed_event_parse(const char *json, size_t len, struct lk_feed_event *out)
{
	json_error_t je;
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	enum lk_err err = o ? lk_feed_event_from(o, out) : LK_EINVAL;
	json_decref(o);
	if (err)
		memset(out, 0, sizeof *out);
	return err;
}

int64_t lk_feed_backoff(unsigned failures, int64_t base_ms, int64_t max_ms, uint64_t *seed)
{
	int64_t d = base_ms;
	uint64_t x = *seed ? *seed : 0x9E3779B97F4A7C15ull;

	for (unsigned i = 1; i < failures && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*seed = x;
	return d / 2 + (int64_t)(x % (uint64_t)(d - d / 2 + 1));
}
