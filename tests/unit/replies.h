/* SPDX-License-Identifier: MIT */
/*
 * Redis replies made by hand for the unit tests of the parsers that read them
 * (test_redis_slots.c, test_redis_sentinel.c): the shapes hiredis hands over, built with
 * calloc/malloc so that rfree() (or ASan) catches what a parser holds on to.
 */
#ifndef LK_TEST_REPLIES_H
#define LK_TEST_REPLIES_H

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>

static inline redisReply *rnum(long long v)
{
	redisReply *r = calloc(1, sizeof *r);
	r->type = REDIS_REPLY_INTEGER;
	r->integer = v;
	return r;
}

/* A string-like reply (STRING, STATUS, ERROR) of n bytes, NULs included. */
static inline redisReply *rtyped(int type, const char *s, size_t n)
{
	redisReply *r = calloc(1, sizeof *r);
	r->type = type;
	r->len = n;
	r->str = malloc(n + 1);
	memcpy(r->str, s, n);
	r->str[n] = '\0';
	return r;
}

static inline redisReply *rstr(const char *s)
{
	return rtyped(REDIS_REPLY_STRING, s, strlen(s));
}

static inline redisReply *rnil(void)
{
	redisReply *r = calloc(1, sizeof *r);
	r->type = REDIS_REPLY_NIL;
	return r;
}

/* An array of n replies, which it then owns. */
static inline redisReply *rarr(size_t n, ...)
{
	va_list ap;
	redisReply *r = calloc(1, sizeof *r);
	r->type = REDIS_REPLY_ARRAY;
	r->elements = n;
	r->element = calloc(n ? n : 1, sizeof *r->element);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		r->element[i] = va_arg(ap, redisReply *);
	va_end(ap);
	return r;
}

static inline void rfree(redisReply *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		rfree(r->element[i]);
	free(r->element);
	free(r->str);
	free(r);
}

#endif
