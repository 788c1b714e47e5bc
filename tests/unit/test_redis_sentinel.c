/* SPDX-License-Identifier: MIT */
/*
 * test_redis_sentinel.c: the count of replicas a sentinel considers alive, from its answer
 * to SENTINEL REPLICAS (lk_rd_sentinel_alive in src/store/redis_conn.c). A primary with no
 * replica connected makes writes wait for one when that count is above 0, so a count too
 * high costs availability and one too low can let a stale primary acknowledge writes. Only
 * s_down and o_down count as down: a replica that is only "disconnected" (as the old
 * primary is listed for some 20-80 ms after a failover) is alive. The
 * well-formed reply is in the shape a redis-sentinel 7.0.15 sent (read with
 * `SENTINEL REPLICAS lk` on 2026-12-04, only the flags changed between the cases); the
 * malformed ones are built by hand, and each must count for nothing without reading out of
 * bounds (the unit tests also run under ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>

#include "replies.h"

#include "store/redis_int.h"

/* One replica as redis-sentinel 7.0.15 describes it, with these flags. */
static redisReply *replica(const char *flags)
{
	return rarr(42, rstr("name"), rstr("127.0.0.1:43039"), rstr("ip"), rstr("127.0.0.1"),
		    rstr("port"), rstr("43039"), rstr("runid"), rstr(""), rstr("flags"),
		    rstr(flags), rstr("link-pending-commands"), rstr("0"), rstr("link-refcount"),
		    rstr("1"), rstr("last-ping-sent"), rstr("0"), rstr("last-ok-ping-reply"),
		    rstr("27"), rstr("last-ping-reply"), rstr("27"), rstr("down-after-milliseconds"),
		    rstr("1000"), rstr("info-refresh"), rstr("0"), rstr("role-reported"),
		    rstr("slave"), rstr("role-reported-time"), rstr("27"),
		    rstr("master-link-down-time"), rstr("0"), rstr("master-link-status"), rstr("ok"),
		    rstr("master-host"), rstr("127.0.0.1"), rstr("master-port"), rstr("40111"),
		    rstr("slave-priority"), rstr("100"), rstr("slave-repl-offset"), rstr("4242"),
		    rstr("replica-announced"), rstr("1"));
}

static int count1(const char *flags)
{
	redisReply *r = rarr(1, replica(flags));
	int n = lk_rd_sentinel_alive(r);
	rfree(r);
	return n;
}

static void test_flags(void **state)
{
	(void)state;
	assert_int_equal(count1("slave"), 1);
	assert_int_equal(count1("s_down,slave"), 0);
	assert_int_equal(count1("slave,s_down"), 0);
	/* disconnected alone is alive: the old primary just after a failover looks so */
	assert_int_equal(count1("slave,disconnected"), 1);
	assert_int_equal(count1("disconnected"), 1);
	assert_int_equal(count1("s_down,slave,disconnected"), 0);
	assert_int_equal(count1("slave,disconnected,s_down"), 0);
	assert_int_equal(count1("o_down,slave"), 0);
	assert_int_equal(count1("o_down,slave,disconnected"), 0);
	/* words, not substrings: none of these is a down flag */
	assert_int_equal(count1("slave,xs_down"), 1);
	assert_int_equal(count1("slave,s_downx"), 1);
	assert_int_equal(count1("slave,s_dow"), 1);
	assert_int_equal(count1(""), 1);
	assert_int_equal(count1(",,slave,,"), 1);
	assert_int_equal(count1(",s_down"), 0);
	assert_int_equal(count1("s_down,"), 0);
	assert_int_equal(count1("slave,o_dow"), 1);
}

static void test_several(void **state)
{
	(void)state;
	redisReply *r = rarr(5, replica("slave"), replica("s_down,slave,disconnected"),
			     replica("slave"), replica("slave,disconnected"),
			     replica("o_down,slave"));
	assert_int_equal(lk_rd_sentinel_alive(r), 3);
	rfree(r);
	r = rarr(0);
	assert_int_equal(lk_rd_sentinel_alive(r), 0); /* a primary without replicas */
	rfree(r);
}

/* A flags value with a NUL inside: the words are read by length, not up to the NUL. */
static void test_flags_nul(void **state)
{
	(void)state;
	redisReply *r = rarr(1, rarr(2, rstr("flags"), rtyped(REDIS_REPLY_STRING, "slave\0,s_down", 13)));
	assert_int_equal(lk_rd_sentinel_alive(r), 0);
	rfree(r);
	r = rarr(1, rarr(2, rstr("flags"), rtyped(REDIS_REPLY_STRING, "slave,s_down", 5)));
	assert_int_equal(lk_rd_sentinel_alive(r), 1); /* "slave": the rest is past len */
	rfree(r);
}

static void test_malformed(void **state)
{
	(void)state;
	redisReply *r;

	assert_int_equal(lk_rd_sentinel_alive(NULL), 0);
	/* an error (an unknown name, an old or restricted sentinel), a nil, a number, a string */
	r = rtyped(REDIS_REPLY_ERROR, "ERR No such master with that name", 33);
	assert_int_equal(lk_rd_sentinel_alive(r), 0);
	rfree(r);
	r = rnil();
	assert_int_equal(lk_rd_sentinel_alive(r), 0);
	rfree(r);
	r = rnum(3);
	assert_int_equal(lk_rd_sentinel_alive(r), 0);
	rfree(r);
	r = rstr("flags");
	assert_int_equal(lk_rd_sentinel_alive(r), 0);
	rfree(r);
	/* replicas that are not arrays, or have no flags, or a flags value of the wrong type */
	r = rarr(7, rstr("slave"), rnum(1), rnil(), rarr(0), rarr(2, rstr("name"), rstr("x")),
		 rarr(2, rstr("flags"), rnum(0)), rarr(2, rstr("flags"), rnil()));
	assert_int_equal(lk_rd_sentinel_alive(r), 0);
	rfree(r);
	/* an odd number of fields: "flags" last, with no value, is not read past the end */
	r = rarr(1, rarr(3, rstr("name"), rstr("x"), rstr("flags")));
	assert_int_equal(lk_rd_sentinel_alive(r), 0);
	rfree(r);
	/* the field name must be a string "flags", exactly; a value in a name's place is not one */
	r = rarr(3, rarr(2, rtyped(REDIS_REPLY_STATUS, "flags", 5), rstr("slave")),
		 rarr(2, rstr("FLAGS"), rstr("slave")), rarr(3, rstr("name"), rstr("flags"), rstr("slave")));
	assert_int_equal(lk_rd_sentinel_alive(r), 0);
	rfree(r);
	/* a status value is read as a string */
	r = rarr(1, rarr(2, rstr("flags"), rtyped(REDIS_REPLY_STATUS, "slave", 5)));
	assert_int_equal(lk_rd_sentinel_alive(r), 1);
	rfree(r);
	/* the first "flags" decides */
	r = rarr(1, rarr(4, rstr("flags"), rstr("s_down,slave"), rstr("flags"), rstr("slave")));
	assert_int_equal(lk_rd_sentinel_alive(r), 0);
	rfree(r);
}

/* Bounded: at most 64 replicas, and at most 64 fields of each, are looked at. */
static void test_bounds(void **state)
{
	(void)state;
	redisReply *r = calloc(1, sizeof *r);
	r->type = REDIS_REPLY_ARRAY;
	r->elements = 100;
	r->element = calloc(r->elements, sizeof *r->element);
	for (size_t i = 0; i < r->elements; i++)
		r->element[i] = replica("slave");
	assert_int_equal(lk_rd_sentinel_alive(r), 64);
	rfree(r);

	/* "flags" as the 64th field counts; as the 65th it is not reached */
	for (int at = 63; at <= 64; at++) {
		redisReply *e = calloc(1, sizeof *e);
		e->type = REDIS_REPLY_ARRAY;
		e->elements = 2 * (size_t)(at + 1);
		e->element = calloc(e->elements, sizeof *e->element);
		for (int i = 0; i < at; i++) {
			char name[16];
			snprintf(name, sizeof name, "f%d", i);
			e->element[2 * i] = rstr(name);
			e->element[2 * i + 1] = rstr("v");
		}
		e->element[2 * at] = rstr("flags");
		e->element[2 * at + 1] = rstr("slave");
		r = rarr(1, e);
		assert_int_equal(lk_rd_sentinel_alive(r), at == 63 ? 1 : 0);
		rfree(r);
	}
}

/* connected_slaves of INFO replication (lk_rd_info_replicas): what the heartbeat reads of
 * the primary while a connection writes without WAIT, and what every connection counts at
 * connect. Anything but a short number alone on its line is not understood (-1). */
static int info1(const char *s)
{
	redisReply *r = rstr(s);
	int n = lk_rd_info_replicas(r);
	rfree(r);
	return n;
}

static void test_info_replicas(void **state)
{
	(void)state;
	/* as redis-server 7.0.15 answers INFO replication, a replica connected */
	assert_int_equal(info1("# Replication\r\nrole:master\r\nconnected_slaves:1\r\n"
			       "slave0:ip=127.0.0.1,port=43039,state=online,offset=4242,lag=0\r\n"
			       "master_failover_state:no-failover\r\n"),
			 1);
	assert_int_equal(info1("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"), 0);
	assert_int_equal(info1("connected_slaves:12"), 12);
	assert_int_equal(info1("connected_slaves:9999\r\n"), 9999);
	/* not understood */
	assert_int_equal(info1("# Replication\r\nrole:master\r\n"), -1);
	assert_int_equal(info1(""), -1);
	assert_int_equal(info1("connected_slaves:\r\n"), -1);
	assert_int_equal(info1("connected_slaves:-1\r\n"), -1);
	assert_int_equal(info1("connected_slaves:1abc\r\n"), -1);
	assert_int_equal(info1("connected_slaves: 1\r\n"), -1);
	assert_int_equal(info1("connected_slaves:10000\r\n"), -1);
	assert_int_equal(info1("connected_slaves:99999999999999999999\r\n"), -1);
	/* the name at the start of a line only, and whole */
	assert_int_equal(info1("xconnected_slaves:1\r\n"), -1);
	assert_int_equal(info1("connected_slavesx:1\r\n"), -1);
	assert_int_equal(info1("a:b\nconnected_slaves:3\n"), 3);

	/* a value with a NUL inside: read as the C string it is, up to the NUL */
	redisReply *r = rtyped(REDIS_REPLY_STRING, "connected_slaves:1\0" "5\r\n", 22);
	assert_int_equal(lk_rd_info_replicas(r), 1);
	rfree(r);
	r = rtyped(REDIS_REPLY_STRING, "x\0connected_slaves:1\r\n", 22);
	assert_int_equal(lk_rd_info_replicas(r), -1);
	rfree(r);
	/* not a string: an error (INFO refused by an ACL), a nil, a number, an array, nothing */
	r = rtyped(REDIS_REPLY_ERROR, "NOPERM this user has no permissions", 35);
	assert_int_equal(lk_rd_info_replicas(r), -1);
	rfree(r);
	r = rnil();
	assert_int_equal(lk_rd_info_replicas(r), -1);
	rfree(r);
	r = rnum(1);
	assert_int_equal(lk_rd_info_replicas(r), -1);
	rfree(r);
	r = rarr(1, rstr("connected_slaves:1"));
	assert_int_equal(lk_rd_info_replicas(r), -1);
	rfree(r);
	assert_int_equal(lk_rd_info_replicas(NULL), -1);
	/* a status reply is read as a string */
	r = rtyped(REDIS_REPLY_STATUS, "connected_slaves:2", 18);
	assert_int_equal(lk_rd_info_replicas(r), 2);
	rfree(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_several),
		cmocka_unit_test(test_flags_nul),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_info_replicas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
