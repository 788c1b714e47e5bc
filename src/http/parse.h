/* SPDX-License-Identifier: MIT */
/*
 * Parsers of client input as pure functions of bytes (parse.c), shared by the HTTP layer
 * and the fuzz targets (fuzz/fuzz_{form,json_param,authz,xff,framing}.c). Every string
 * result is malloc'd (free()), NULL when absent or malformed.
 */
#ifndef LK_HTTP_PARSE_H
#define LK_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Form-urldecode s[0..n) ('+' is a space); NULL on a bad escape, an encoded or raw NUL,
 * a result that is not valid UTF-8 (a UTF-8 page's form data always is; the HTML
 * standard's application/x-www-form-urlencoded), or no memory. */
char *lk_form_decode(const char *s, size_t n);
/* The decoded value of field name in a form body body[0..len) (the first one). */
char *lk_form_param(const char *body, size_t len, const char *name);
/* The string member name of the JSON object body[0..len) (duplicate members refused,
 * strings with an escaped NUL refused). */
char *lk_json_param(const char *body, size_t len, const char *name);
/* Authorization: Basic (RFC 7617, with RFC 6749 §2.3.1's form-encoding of id and secret).
 * 1: *id and *secret set; 0: not Basic; -1: malformed. */
int lk_parse_basic(const char *h, char **id, char **secret);
/* Authorization: Bearer: the token (inside h), or NULL when h is not Bearer. */
const char *lk_parse_bearer(const char *h);
/* The last address of an X-Forwarded-For value (the one our trusted proxy appended),
 * validated as IPv4 or IPv6, into out; false when there is none or it is not an address. */
bool lk_parse_xff(const char *xff, char *out, size_t size);
/* Percent-encode s into out[0..size) (RFC 3986 §2.1): unreserved characters stay as they
 * are, and those in keep ("/" for a path); every other byte becomes %XX. Returns the
 * length written, or (size_t)-1 with out[0] = '\0' when it does not fit. */
size_t lk_pct_encode(const char *s, const char *keep, char *out, size_t size);
/* What is wrong with the request target t (path and query, as it came on the request line,
 * before any decoding), or NULL when nothing is: a control character or a space, an
 * encoded NUL (%00), or bytes that, once percent-escapes are decoded, are not valid UTF-8
 * (RFC 3986 §2.5: non-ASCII data is UTF-8 percent-encoded). A '%' without two hex digits
 * after it counts as itself. The reason is static text. */
const char *lk_target_bad(const char *t);
/* Is p a same-origin path fit for return_to: "/x...", not "//host" or "/\host", printable
 * ASCII without spaces or backslashes, under 200 bytes? */
bool lk_return_to_ok(const char *p);

/* The message framing of one request, header by header (RFC 9112 §6.3, §11.2): bad is set
 * (a static reason) on Content-Length together with Transfer-Encoding, two Content-Lengths,
 * a Content-Length that is not one number, a Transfer-Encoding other than "chunked",
 * whitespace around a field name, a control character (not TAB) in a value (RFC 9110
 * §5.5). Such a request must get a 400 and the connection closed, or what follows it could
 * be read as a request of its own. lk_framing_end adds the request-wide rules: HTTP/1.1
 * needs exactly one Host (RFC 9112 §3.2). */
struct lk_framing {
	bool has_cl, has_te;
	unsigned hosts;
	unsigned long long cl;
	const char *bad;
};
void lk_framing_add(struct lk_framing *f, const char *name, size_t nlen, const char *value,
		    size_t vlen);
void lk_framing_end(struct lk_framing *f, const char *version);

#endif
