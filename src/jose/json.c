/* SPDX-License-Identifier: MIT */
/*
 * The strict JSON scanner (see json.h). Recursive descent bounded by LK_JSON_MAX_DEPTH;
 * names of every open object sit on one fixed stack so duplicates are found at any level
 * with no allocation. Duplicate search is linear per object: O(k^2) for an object of k
 * members, bounded by LK_JSON_MAX_NAMES and the 8 KiB token cap.
 */
#include <stdlib.h>
#include <string.h>

#include "jose/json.h"
#include "util/utf8.h"

struct name { const char *p; uint32_t len; bool esc; };

struct scan {
	const char *p, *end;
	struct name names[LK_JSON_MAX_NAMES];
	size_t nnames;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static int hex4(const char *p)
{
	int a = hexval(p[0]), b = hexval(p[1]), c = hexval(p[2]), d = hexval(p[3]);
	if ((a | b | c | d) < 0)
		return -1;
	return a << 12 | b << 8 | c << 4 | d;
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 if invalid. p < end. */
static size_t utf8_len(const uint8_t *p, const uint8_t *end)
{
	return lk_utf8_seq(p, (size_t)(end - p));
}

/* 1 for bytes that end the plain run of a string: '"', '\\', controls, non-ASCII. */
static const uint8_t special[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* At the opening quote. Leaves s->p after the closing quote. */
static enum lk_err scan_string(struct scan *s, const char **raw, uint32_t *rawlen, bool *esc)
{
	const char *start = ++s->p;
	bool e = false;

	while (s->p < s->end) {
		while (s->p < s->end && !special[(unsigned char)*s->p])
			s->p++;
		if (s->p == s->end)
			break;
		unsigned char c = (unsigned char)*s->p;
		if (c == '"') {
			*raw = start;
			*rawlen = (uint32_t)(s->p - start);
			*esc = e;
			s->p++;
			return LK_OK;
		}
		if (c < 0x20)
			return LK_EJSON;
		if (c == '\\') {
			e = true;
			if (s->end - s->p < 2)
				return LK_EJSON;
			switch (s->p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				s->p += 2;
				continue;
			case 'u': {
				if (s->end - s->p < 6)
					return LK_EJSON;
				int u = hex4(s->p + 2);
				if (u < 0 || (u >= 0xdc00 && u <= 0xdfff))
					return LK_EJSON; /* bad hex or lone low surrogate */
				s->p += 6;
				if (u >= 0xd800 && u <= 0xdbff) {
					if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u')
						return LK_EJSON;
					int lo = hex4(s->p + 2);
					if (lo < 0xdc00 || lo > 0xdfff)
						return LK_EJSON;
					s->p += 6;
				}
				continue;
			}
			default:
				return LK_EJSON;
			}
		}
		if (c < 0x80) {
			s->p++;
			continue;
		}
		size_t n = utf8_len((const uint8_t *)s->p, (const uint8_t *)s->end);
		if (!n)
			return LK_EJSON;
		s->p += n;
	}
	return LK_EJSON;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static enum lk_err scan_number(struct scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p >= s->end)
		return LK_EJSON;
	if (*s->p == '0') {
		s->p++;
	} else if (is_digit(*s->p)) {
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	} else {
		return LK_EJSON;
	}
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (s->p >= s->end || !is_digit(*s->p))
			return LK_EJSON;
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (s->p >= s->end || !is_digit(*s->p))
			return LK_EJSON;
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	}
	return LK_OK;
}

static bool literal(struct scan *s, const char *lit, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return false;
	s->p += n;
	return true;
}

/* Decodes one JSON-string unit at *p (raw, validated) into up to 4 UTF-8 bytes. */
static size_t next_unit(const char **p, uint8_t out[4])
{
	const char *q = *p;
	if (*q != '\\') {
		out[0] = (uint8_t)*q;
		*p = q + 1;
		return 1;
	}
	char c = q[1];
	*p = q + 2;
	switch (c) {
	case 'b': out[0] = '\b'; return 1;
	case 'f': out[0] = '\f'; return 1;
	case 'n': out[0] = '\n'; return 1;
	case 'r': out[0] = '\r'; return 1;
	case 't': out[0] = '\t'; return 1;
	case 'u': break;
	default: out[0] = (uint8_t)c; return 1;
	}
	uint32_t u = (uint32_t)hex4(q + 2);
	*p = q + 6;
	if (u >= 0xd800 && u <= 0xdbff) {
		uint32_t lo = (uint32_t)hex4(q + 8);
		u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
		*p = q + 12;
	}
	if (u < 0x80) { out[0] = (uint8_t)u; return 1; }
	if (u < 0x800) {
		out[0] = (uint8_t)(0xc0 | u >> 6);
		out[1] = (uint8_t)(0x80 | (u & 0x3f));
		return 2;
	}
	if (u < 0x10000) {
		out[0] = (uint8_t)(0xe0 | u >> 12);
		out[1] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
		out[2] = (uint8_t)(0x80 | (u & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | u >> 18);
	out[1] = (uint8_t)(0x80 | ((u >> 12) & 0x3f));
	out[2] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
	out[3] = (uint8_t)(0x80 | (u & 0x3f));
	return 4;
}

size_t lk_json_unescape(const char *raw, size_t rawlen, char *out)
{
	const char *p = raw, *end = raw + rawlen;
	size_t o = 0;

	if (!memchr(raw, '\\', rawlen)) {
		memcpy(out, raw, rawlen);
		out[rawlen] = '\0';
		return rawlen;
	}
	while (p < end) {
		uint8_t u[4];
		size_t k = next_unit(&p, u);
		memcpy(out + o, u, k);
		o += k;
	}
	out[o] = '\0';
	return o;
}

/* Compare two raw strings after unescaping both. */
static bool raw_eq(const char *a, size_t alen, bool aesc, const char *b, size_t blen, bool besc)
{
	if (!aesc && !besc)
		return alen == blen && (alen == 0 || (a[0] == b[0] && memcmp(a, b, alen) == 0));
	const char *ae = a + alen, *be = b + blen;
	uint8_t ua[4], ub[4];
	size_t na = 0, nb = 0, ia = 0, ib = 0;
	for (;;) {
		if (ia == na) {
			if (a == ae) { na = 0; } else { na = aesc ? next_unit(&a, ua) : (ua[0] = (uint8_t)*a++, 1); }
			ia = 0;
		}
		if (ib == nb) {
			if (b == be) { nb = 0; } else { nb = besc ? next_unit(&b, ub) : (ub[0] = (uint8_t)*b++, 1); }
			ib = 0;
		}
		if (na == 0 || nb == 0)
			return na == 0 && nb == 0;
		if (ua[ia++] != ub[ib++])
			return false;
	}
}

bool lk_json_str_eq(const char *raw, size_t rawlen, bool esc, const char *lit, size_t litlen)
{
	return raw_eq(raw, rawlen, esc, lit, litlen, false);
}

static enum lk_err scan_value(struct scan *s, int depth, uint8_t *type);

static enum lk_err scan_object(struct scan *s, int depth, struct lk_jmember *m, size_t cap,
			       size_t *n)
{
	size_t base = s->nnames, count = 0;
	enum lk_err err;

	if (depth > LK_JSON_MAX_DEPTH)
		return LK_ETOO_LARGE;
	s->p++; /* '{' */
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		goto done;
	}
	for (;;) {
		struct name nm;
		const char *val;
		uint8_t type;

		if (s->p >= s->end || *s->p != '"')
			return LK_EJSON;
		if ((err = scan_string(s, &nm.p, &nm.len, &nm.esc)))
			return err;
		for (size_t i = base; i < s->nnames; i++)
			if (raw_eq(s->names[i].p, s->names[i].len, s->names[i].esc, nm.p, nm.len, nm.esc))
				return LK_EDUPLICATE;
		if (s->nnames == LK_JSON_MAX_NAMES)
			return LK_ETOO_LARGE;
		s->names[s->nnames++] = nm;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return LK_EJSON;
		s->p++;
		skip_ws(s);
		val = s->p;
		if ((err = scan_value(s, depth + 1, &type)))
			return err;
		if (m) {
			if (count == cap)
				return LK_ETOO_LARGE;
			struct lk_jmember *x = &m[count];
			x->name = nm.p;
			x->nlen = nm.len;
			x->name_esc = nm.esc;
			x->type = type;
			if (type == LK_J_STRING) {
				x->val = val + 1;
				x->vlen = (uint32_t)(s->p - val - 2);
				x->val_esc = memchr(x->val, '\\', x->vlen) != NULL;
			} else {
				x->val = val;
				x->vlen = (uint32_t)(s->p - val);
				x->val_esc = 0;
			}
		}
		count++;
		skip_ws(s);
		if (s->p >= s->end)
			return LK_EJSON;
		if (*s->p == ',') {
			s->p++;
			skip_ws(s);
			continue;
		}
		if (*s->p != '}')
			return LK_EJSON;
		s->p++;
		break;
	}
done:
	s->nnames = base;
	if (n)
		*n = count;
	return LK_OK;
}

static enum lk_err scan_array(struct scan *s, int depth)
{
	enum lk_err err;
	uint8_t type;

	if (depth > LK_JSON_MAX_DEPTH)
		return LK_ETOO_LARGE;
	s->p++; /* '[' */
	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return LK_OK;
	}
	for (;;) {
		if ((err = scan_value(s, depth + 1, &type)))
			return err;
		skip_ws(s);
		if (s->p >= s->end)
			return LK_EJSON;
		if (*s->p == ',') {
			s->p++;
			skip_ws(s);
			continue;
		}
		if (*s->p != ']')
			return LK_EJSON;
		s->p++;
		return LK_OK;
	}
}

static enum lk_err scan_value(struct scan *s, int depth, uint8_t *type)
{
	const char *raw;
	uint32_t rawlen;
	bool esc;

	if (s->p >= s->end)
		return LK_EJSON;
	switch (*s->p) {
	case '"': *type = LK_J_STRING; return scan_string(s, &raw, &rawlen, &esc);
	case '{': *type = LK_J_OBJECT; return scan_object(s, depth, NULL, 0, NULL);
	case '[': *type = LK_J_ARRAY; return scan_array(s, depth);
	case 't': *type = LK_J_TRUE; return literal(s, "true", 4) ? LK_OK : LK_EJSON;
	case 'f': *type = LK_J_FALSE; return literal(s, "false", 5) ? LK_OK : LK_EJSON;
	case 'n': *type = LK_J_NULL; return literal(s, "null", 4) ? LK_OK : LK_EJSON;
	default: *type = LK_J_NUMBER; return scan_number(s);
	}
}

enum lk_err lk_json_scan(const char *text, size_t len, struct lk_jmember *m, size_t cap,
			 size_t *n)
{
	struct scan s;
	enum lk_err err;
	size_t count = 0;

	s.p = text;
	s.end = text + len;
	s.nnames = 0;
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return LK_EJSON;
	if ((err = scan_object(&s, 1, m, cap, &count)))
		return err;
	skip_ws(&s);
	if (s.p != s.end)
		return LK_EJSON;
	*n = count;
	return LK_OK;
}

const struct lk_jmember *lk_json_find(const struct lk_jmember *m, size_t n, const char *lit)
{
	size_t len = strlen(lit);
	for (size_t i = 0; i < n; i++)
		if (lk_json_str_eq(m[i].name, m[i].nlen, m[i].name_esc, lit, len))
			return &m[i];
	return NULL;
}

bool lk_json_seconds(const struct lk_jmember *m, int64_t *out)
{
	const char *p = m->val, *end = m->val + m->vlen;
	bool neg = false;
	int64_t v = 0;

	if (m->type != LK_J_NUMBER)
		return false;
	if (memchr(p, 'e', m->vlen) || memchr(p, 'E', m->vlen)) {
		char buf[64];
		if (m->vlen >= sizeof buf)
			return false;
		memcpy(buf, p, m->vlen);
		buf[m->vlen] = '\0';
		double d = strtod(buf, NULL);
		if (!(d > -4.6e18 && d < 4.6e18))
			return false;
		*out = (int64_t)d;
		return true;
	}
	if (*p == '-') {
		neg = true;
		p++;
	}
	for (; p < end && is_digit(*p); p++) {
		if (v > (INT64_C(1) << 62) / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	*out = neg ? -v : v;
	return true;
}

int lk_json_classify(const struct lk_jmember *m, const char *const *names, int count)
{
	char buf[64];
	const char *name = m->name;
	size_t len = m->nlen;

	if (m->name_esc) {
		if (m->nlen >= sizeof buf)
			return -1;
		len = lk_json_unescape(m->name, m->nlen, buf);
		name = buf;
	}
	for (int i = 0; i < count; i++)
		if (names[i][0] == name[0] && strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
			return i;
	return -1;
}
