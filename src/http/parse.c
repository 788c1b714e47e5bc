/* SPDX-License-Identifier: MIT */
/*
 * The parsers of what clients send, as pure functions of bytes (no request, no server),
 * so that each can be fuzzed and unit-tested alone: form bodies (application/x-www-form-
 * urlencoded), a member of a JSON body, the Authorization header's Basic and Bearer
 * credentials, the client address of an X-Forwarded-For header, a return_to path, the
 * request target as it came, and the framing headers of a request (Content-Length,
 * Transfer-Encoding; RFC 9112 §6.3). Everything here takes hostile input: lengths are
 * explicit, NULs, bad escapes and invalid UTF-8 are refused, nothing is read past its end.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <sodium.h>

#include "http/parse.h"
#include "util/utf8.h"

static int hexv(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

char *lk_form_decode(const char *s, size_t n)
{
	char *o = malloc(n + 1), *w = o;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*w++ = ' ';
		} else if (s[i] == '%') {
			int a, b;
			if (i + 2 >= n || (a = hexv(s[i + 1])) < 0 || (b = hexv(s[i + 2])) < 0 ||
			    (a == 0 && b == 0))
				goto bad;
			*w++ = (char)(a << 4 | b);
			i += 2;
		} else if (s[i] == '\0') {
			goto bad;
		} else {
			*w++ = s[i];
		}
	}
	*w = '\0';
	if (!lk_utf8_valid(o, (size_t)(w - o)))
		goto bad;
	return o;
bad:
	free(o);
	return NULL;
}

char *lk_form_param(const char *body, size_t len, const char *name)
{
	size_t nl = strlen(name);
	const char *p = body, *end = body + len;
	while (p && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *fe = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(fe - p));
		if (eq && (size_t)(eq - p) == nl && memcmp(p, name, nl) == 0)
			return lk_form_decode(eq + 1, (size_t)(fe - eq - 1));
		if (!amp)
			break;
		p = amp + 1; /* never past end: end + 1 would be out of the array */
	}
	return NULL;
}

char *lk_json_param(const char *body, size_t len, const char *name)
{
	json_error_t je;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je), *v;
	char *out = NULL;
	/* a string member without NULs (json_string_length counts an escaped \u0000) */
	if (o && (v = json_object_get(o, name)) && json_is_string(v) &&
	    strlen(json_string_value(v)) == json_string_length(v))
		out = strdup(json_string_value(v));
	json_decref(o);
	return out;
}

int lk_parse_basic(const char *h, char **id, char **secret)
{
	unsigned char dec[512];
	size_t n = 0;
	const char *b, *end;
	int rc = -1;

	*id = *secret = NULL;
	if (!h || strncasecmp(h, "Basic ", 6) != 0)
		return 0;
	for (b = h + 6; *b == ' '; b++)
		;
	if (sodium_base642bin(dec, sizeof dec - 1, b, strlen(b), NULL, &n, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || *end)
		return -1;
	dec[n] = '\0';
	char *colon = memchr(dec, ':', n);
	if (colon && !memchr(dec, '\0', n)) {
		*id = lk_form_decode((char *)dec, (size_t)(colon - (char *)dec));
		*secret = lk_form_decode(colon + 1, n - (size_t)(colon + 1 - (char *)dec));
		if (*id && *secret) {
			rc = 1;
		} else {
			free(*id);
			if (*secret) {
				sodium_memzero(*secret, strlen(*secret));
				free(*secret);
			}
			*id = *secret = NULL;
		}
	}
	sodium_memzero(dec, sizeof dec);
	return rc;
}

const char *lk_parse_bearer(const char *h)
{
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	for (h += 7; *h == ' '; h++)
		;
	return h;
}

bool lk_parse_xff(const char *xff, char *out, size_t size)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char addr[64];
	if (!xff)
		return false;
	const char *last = strrchr(xff, ',');
	last = last ? last + 1 : xff;
	while (*last == ' ' || *last == '\t')
		last++;
	size_t n = strcspn(last, " \t");
	if (n == 0 || n >= sizeof addr || n >= size)
		return false;
	memcpy(addr, last, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1)
		return false;
	memcpy(out, addr, n + 1);
	return true;
}

size_t lk_pct_encode(const char *s, const char *keep, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			     (*c >= '0' && *c <= '9') || strchr("-._~", *c) || strchr(keep, *c);
		if (n + (plain ? 1 : 3) >= size) {
			if (size)
				out[0] = '\0';
			return (size_t)-1;
		}
		if (plain) {
			out[n++] = (char)*c;
		} else {
			out[n++] = '%';
			out[n++] = hex[*c >> 4];
			out[n++] = hex[*c & 15];
		}
	}
	if (size)
		out[n] = '\0';
	return size ? n : (size_t)-1;
}

bool lk_return_to_ok(const char *p)
{
	if (!p || p[0] != '/' || p[1] == '/' || strlen(p) >= 200)
		return false;
	for (const unsigned char *c = (const unsigned char *)p; *c; c++)
		if (*c <= 0x20 || *c >= 0x7f || *c == '\\')
			return false;
	return true;
}

const char *lk_target_bad(const char *t)
{
	unsigned char buf[4];
	size_t have = 0, want = 0;

	for (const unsigned char *p = (const unsigned char *)t; p && *p; p++) {
		unsigned char c = *p;
		int a, b;
		if (c <= 0x20 || c == 0x7f)
			return "a control character or space in the request target";
		if (c == '%' && (a = hexv((char)p[1])) >= 0 && (b = hexv((char)p[2])) >= 0) {
			c = (unsigned char)(a << 4 | b);
			p += 2;
			if (!c)
				return "an encoded NUL in the request target";
		}
		/* the decoded bytes, one character at a time */
		if (!have) {
			want = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		} else if ((c & 0xc0) != 0x80) {
			return "invalid UTF-8 in the request target";
		}
		buf[have++] = c;
		if (have == want) {
			if (lk_utf8_seq(buf, have) != have)
				return "invalid UTF-8 in the request target";
			have = 0;
		}
	}
	return have ? "invalid UTF-8 in the request target" : NULL;
}

void lk_framing_add(struct lk_framing *f, const char *name, size_t nlen, const char *value,
		    size_t vlen)
{
	if (!name || !nlen) {
		f->bad = "an empty header name";
		return;
	}
	/* RFC 9112 §5.1: no whitespace between a field name and the colon; a name with it
	 * would be read as another field by something in front of us */
	if (name[nlen - 1] == ' ' || name[nlen - 1] == '\t' || name[0] == ' ' || name[0] == '\t') {
		f->bad = "whitespace around a header name";
		return;
	}
	if (memchr(name, '\0', nlen)) {
		f->bad = "a NUL in a header name";
		return;
	}
	for (size_t i = 0; value && i < vlen; i++) {
		unsigned char c = (unsigned char)value[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			f->bad = "a control character in a header value";
			return;
		}
	}
	if (nlen == 4 && strncasecmp(name, "Host", 4) == 0)
		f->hosts++;
	if (nlen == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
		/* value[0..vlen) only: a value need not be NUL-terminated */
		unsigned long long v = 0;
		size_t d = 0;
		while (value && d < vlen && value[d] >= '0' && value[d] <= '9')
			d++;
		if (!value || !vlen || d != vlen || vlen > 18) {
			f->bad = "a Content-Length that is not one number";
			return;
		}
		for (size_t i = 0; i < vlen; i++)
			v = v * 10 + (unsigned)(value[i] - '0');
		if (f->has_cl && v != f->cl) {
			f->bad = "two different Content-Lengths";
			return;
		}
		if (f->has_cl) {
			f->bad = "Content-Length twice";
			return;
		}
		f->has_cl = true;
		f->cl = v;
	} else if (nlen == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0) {
		/* we accept exactly one coding: chunked (RFC 9112 §6.1; anything else is 501
		 * territory, and refusing it is what keeps the framing unambiguous) */
		if (f->has_te || !value || vlen != 7 || strncasecmp(value, "chunked", 7) != 0) {
			f->bad = "a Transfer-Encoding other than one \"chunked\"";
			return;
		}
		f->has_te = true;
	}
	if (f->has_cl && f->has_te)
		f->bad = "both Content-Length and Transfer-Encoding";
}

void lk_framing_end(struct lk_framing *f, const char *version)
{
	if (!f->bad && version && strcmp(version, "HTTP/1.1") == 0 && f->hosts != 1)
		f->bad = f->hosts ? "more than one Host" : "an HTTP/1.1 request without Host";
}
