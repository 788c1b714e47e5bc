/* SPDX-License-Identifier: MIT */
/*
 * An incremental, bounded parser for Server-Sent Events (WHATWG HTML, "Parsing an event
 * stream"), for the revocation stream. Pure: no I/O, no allocation; feed it bytes as they
 * arrive, split anywhere, and it calls back once per dispatched event and once per comment
 * line.
 *
 * Rules followed: a leading UTF-8 BOM is skipped; lines end in CRLF, LF or CR (a CR at the
 * end of one chunk and an LF at the start of the next are one line end); a line starting
 * with ':' is a comment; otherwise "field:value" with one optional space after the colon,
 * or a whole line as a field with an empty value; "data" appends value + LF to the data
 * buffer, "event" sets the type, "id" sets the last event id unless the value holds a NUL,
 * "retry" with only ASCII digits sets the reconnection time; other fields are ignored; a
 * blank line dispatches (nothing when no data was given), without the data's final LF.
 * The last event id persists across events, as in the spec. Bytes after the last line end
 * are kept until the next feed; at the end of the stream the caller drops them by simply
 * not feeding any more (the spec discards an unfinished event).
 *
 * Bounds: an event whose data, or any one of whose lines, passes LK_SSE_MAX bytes is
 * dropped at its blank line and counted in `oversize`; an id over LK_SSE_ID_MAX bytes is
 * ignored and counted in `bad_id`. Memory use is the struct, nothing else.
 */
#ifndef LK_VERIFY_SSE_H
#define LK_VERIFY_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LK_SSE_MAX 4096    /* bytes of data per event, and of any one line */
#define LK_SSE_ID_MAX 64   /* bytes of an id */
#define LK_SSE_TYPE_MAX 64 /* bytes of an event type */

struct lk_sse_event {
	const char *type;  /* "" when no event field: the spec's "message" */
	const char *data;  /* NUL-terminated; len bytes (a NUL inside is possible) */
	size_t len;
	const char *id;    /* the last event id (persisting); "" when none */
	bool has_id;       /* an id field was ever accepted */
};

struct lk_sse_cb {
	void (*event)(void *ud, const struct lk_sse_event *ev);
	void (*comment)(void *ud, const char *text, size_t len); /* after the ':' */
	void *ud;
};

struct lk_sse {
	/* the line being read */
	char line[LK_SSE_MAX + 1];
	size_t line_len;
	bool line_over;     /* the line passed LK_SSE_MAX: its bytes are dropped */
	bool after_cr;      /* the last byte was CR: an LF next is part of that line end */
	uint8_t bom;        /* bytes of a leading BOM matched so far; 3 + 1 when done */
	/* the event being built */
	char data[LK_SSE_MAX + 2];
	size_t data_len;
	bool data_given;    /* a data field was seen */
	bool event_over;    /* drop this event at its blank line */
	char type[LK_SSE_TYPE_MAX + 1];
	char id[LK_SSE_ID_MAX + 1];
	bool has_id;
	int64_t retry_ms;   /* -1 until a retry field */
	/* counters */
	uint64_t events, comments, oversize, bad_id;
};

void lk_sse_init(struct lk_sse *p);
/* Forget a partial line and event (a new connection), keeping the last event id, retry
 * and the counters. */
void lk_sse_reset(struct lk_sse *p);
/* Parse buf[0..n); callbacks run from inside this call. */
void lk_sse_feed(struct lk_sse *p, const char *buf, size_t n, const struct lk_sse_cb *cb);

#endif
