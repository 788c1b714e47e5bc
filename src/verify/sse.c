/* SPDX-License-Identifier: MIT */
/* The Server-Sent Events parser: see sse.h. */
#include <string.h>

#include "verify/sse.h"

void lk_sse_init(struct lk_sse *p)
{
	memset(p, 0, sizeof *p);
	p->retry_ms = -1;
}

static void clear_event(struct lk_sse *p)
{
	p->data_len = 0;
	p->data_given = false;
	p->event_over = false;
	p->type[0] = '\0';
}

void lk_sse_reset(struct lk_sse *p)
{
	p->line_len = 0;
	p->line_over = false;
	p->after_cr = false;
	p->bom = 0;
	clear_event(p);
}

static void dispatch(struct lk_sse *p, const struct lk_sse_cb *cb)
{
	if (p->event_over) {
		p->oversize++;
		clear_event(p);
		return;
	}
	if (p->data_len == 0) { /* no data field: nothing to dispatch */
		clear_event(p);
		return;
	}
	p->data_len--; /* the final LF */
	p->data[p->data_len] = '\0';
	struct lk_sse_event ev = {.type = p->type, .data = p->data, .len = p->data_len,
				  .id = p->id, .has_id = p->has_id};
	p->events++;
	if (cb && cb->event)
		cb->event(cb->ud, &ev);
	clear_event(p);
}

static bool field_is(const char *f, size_t n, const char *name)
{
	return n == strlen(name) && memcmp(f, name, n) == 0;
}

static void process_line(struct lk_sse *p, const struct lk_sse_cb *cb)
{
	const char *l = p->line, *colon, *v;
	size_t n = p->line_len, fn, vn;

	if (p->line_over) {
		/* A line over the bound: a comment is dropped silently, any field spoils the
		 * event it belongs to (it is dropped, and counted, at its blank line). */
		if (l[0] != ':')
			p->event_over = true;
		return;
	}
	if (n == 0) {
		dispatch(p, cb);
		return;
	}
	if (l[0] == ':') {
		p->comments++;
		if (cb && cb->comment)
			cb->comment(cb->ud, l + 1, n - 1);
		return;
	}
	colon = memchr(l, ':', n);
	if (colon) {
		fn = (size_t)(colon - l);
		v = colon + 1;
		vn = n - fn - 1;
		if (vn && *v == ' ') {
			v++;
			vn--;
		}
	} else {
		fn = n;
		v = l + n;
		vn = 0;
	}
	if (field_is(l, fn, "data")) {
		if (p->data_len + vn + 1 > LK_SSE_MAX + 1) {
			p->event_over = true;
			return;
		}
		memcpy(p->data + p->data_len, v, vn);
		p->data_len += vn;
		p->data[p->data_len++] = '\n';
		p->data_given = true;
	} else if (field_is(l, fn, "event")) {
		if (vn > LK_SSE_TYPE_MAX) {
			p->event_over = true;
			return;
		}
		memcpy(p->type, v, vn);
		p->type[vn] = '\0';
	} else if (field_is(l, fn, "id")) {
		if (memchr(v, '\0', vn))
			return; /* the spec: an id with a NUL is ignored */
		if (vn > LK_SSE_ID_MAX) {
			p->bad_id++;
			return;
		}
		memcpy(p->id, v, vn);
		p->id[vn] = '\0';
		p->has_id = true;
	} else if (field_is(l, fn, "retry")) {
		int64_t ms = 0;
		if (vn == 0)
			return;
		for (size_t i = 0; i < vn; i++) {
			if (v[i] < '0' || v[i] > '9')
				return;
			if (ms < INT64_MAX / 10 - 10)
				ms = ms * 10 + (v[i] - '0');
		}
		p->retry_ms = ms;
	}
	/* any other field is ignored */
}

static void end_line(struct lk_sse *p, const struct lk_sse_cb *cb)
{
	process_line(p, cb);
	p->line_len = 0;
	p->line_over = false;
}

static void byte(struct lk_sse *p, char c, const struct lk_sse_cb *cb)
{
	if (c == '\n' && p->after_cr) { /* the LF of a CRLF */
		p->after_cr = false;
		return;
	}
	p->after_cr = false;
	if (c == '\r' || c == '\n') {
		p->after_cr = c == '\r';
		end_line(p, cb);
		return;
	}
	if (p->line_len < LK_SSE_MAX) {
		p->line[p->line_len++] = c;
	} else {
		p->line_over = true;
	}
}

void lk_sse_feed(struct lk_sse *p, const char *buf, size_t n, const struct lk_sse_cb *cb)
{
	static const char bom[3] = {'\xEF', '\xBB', '\xBF'};
	size_t i = 0;

	while (i < n && p->bom < 4) {
		if (buf[i] == bom[p->bom]) {
			i++;
			if (++p->bom == 3)
				p->bom = 4;
			continue;
		}
		/* not a BOM: replay what looked like one as ordinary bytes */
		uint8_t k = p->bom;
		p->bom = 4;
		for (uint8_t j = 0; j < k; j++)
			byte(p, bom[j], cb);
	}
	for (; i < n; i++)
		byte(p, buf[i], cb);
}
