/* SPDX-License-Identifier: MIT */
/*
 * test_redis_slots.c: Redis Cluster's key-to-slot rule, slot map and redirections
 * (src/store/redis_slots.c). The slots were read from a real node (redis-server 7.0.15,
 * `CLUSTER KEYSLOT`, cluster-enabled) on 2026-12-04, and read again there for the second
 * block of vectors (`redis-cli -p PORT CLUSTER KEYSLOT KEY`; the key with a NUL through
 * `printf 'foo\0x' | redis-cli -x CLUSTER KEYSLOT`). The CLUSTER SLOTS replies are built by
 * hand in the shape the Redis Cluster specification gives, and so are the malformed ones,
 * each of which must be refused without reading out of bounds; the nil and "?" endpoints
 * and the metadata are as two 7.0.15 nodes sent them with cluster-preferred-endpoint-type
 * unknown-endpoint and hostname (raw RESP read off the socket), and so are the redirections
 * ":44817" and "?:44817".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>

#include "replies.h"

#include "store/redis_slots.h"

static void test_keyslot(void **state)
{
	static const struct {
		const char *key;
		uint16_t slot;
	} v[] = {
		{"123456789", 12739}, /* CRC16 0x31C3 */
		{"foo", 12182},
		{"bar", 5061},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"foo{}{bar}", 8363},    /* an empty tag: the whole key */
		{"foo{{bar}}zap", 4015}, /* the tag is "{bar" */
		{"foo{bar}{zap}", 5061}, /* the first tag: "bar", as the key "bar" */
		{"lk:{g}:~", 7233},
		{"lk.t1:{g}:gen", 7233}, /* a namespace does not move the global slot */
		{"lk:{u:1}:~", 16340},
		{"lk:{u:42}:s:abc", 8980},
		{"{", 4092},
		{"}", 12090},
		{"{}", 15257},
		{"a{b", 13340},
		{"lk:rl:{0123456789abcdef0123456789abcdef}:~", 1829},
		{"", 0},
		/* read again from the node: the tag rule at its edges */
		{"{bar", 4015},  /* no '}': the whole key (as "foo{{bar}}zap" hashes it) */
		{"}{bar}", 5061}, /* a '}' before the first '{' does not count */
		{"{}bar", 6479},
		{"a{}b{c}", 7353}, /* the first tag is empty: the whole key, not "c" */
		{"{{}}", 4092},    /* the tag is "{", as the key "{" */
		{"{a}}", 15495},
		{"x{ }y", 9314},
		{"{ user}", 7638},
		{"user:1000", 1649},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (lk_rd_keyslot(v[i].key, strlen(v[i].key)) != v[i].slot)
			fail_msg("slot of \"%s\": %u, want %u", v[i].key,
				 lk_rd_keyslot(v[i].key, strlen(v[i].key)), v[i].slot);
	/* bytes after a NUL count: the length, not the string, says what the key is */
	assert_int_equal(lk_rd_keyslot("foo\0x", 5), 4512);
	assert_int_equal(lk_rd_keyslot(NULL, 0), 0);
}

/* The CRC itself, through a key that is all tag: "{123456789}" hashes "123456789", whose
 * CRC16 (XMODEM) is 0x31C3, the check value of the specification's Appendix A. */
static void test_crc16_check_value(void **state)
{
	assert_int_equal(lk_rd_keyslot("{123456789}", 11), 0x31C3 & 16383);
	assert_int_equal(lk_rd_keyslot("123456789", 9), 0x31C3);
}

/* ---------------------------------------------------------------- replies by hand */

/* [start, end, [host, port, id], [replica host, port, id]] */
static redisReply *range(long long a, long long b, const char *host, long long port)
{
	return rarr(4, rnum(a), rnum(b), rarr(3, rstr(host), rnum(port), rstr("id")),
		    rarr(3, rstr("127.0.0.1"), rnum(7000), rstr("rid")));
}

static void test_slotmap(void **state)
{
	struct lk_rd_slotmap *m = calloc(1, sizeof *m);
	redisReply *r = rarr(4, range(0, 5460, "127.0.0.1", 7001), range(5461, 10922, "", 7002),
			     range(10923, 16000, "::1", 7003), range(16001, 16383, "127.0.0.1", 7001));

	assert_true(lk_rd_slotmap_from_reply(r, "10.0.0.9", m));
	assert_int_equal(m->nnodes, 3); /* 7001 named twice: one node */
	assert_string_equal(m->node[m->slot[0]].host, "127.0.0.1");
	assert_int_equal(m->node[m->slot[0]].port, 7001);
	assert_int_equal(m->node[m->slot[16383]].port, 7001);
	/* an empty host is the node the command went to */
	assert_string_equal(m->node[m->slot[5461]].host, "10.0.0.9");
	assert_string_equal(m->node[m->slot[12000]].host, "::1");
	assert_int_equal(m->node[m->slot[10922]].port, 7002);
	rfree(r);

	/* uncovered slots stay unknown */
	r = rarr(1, range(100, 200, "127.0.0.1", 7001));
	assert_true(lk_rd_slotmap_from_reply(r, "h", m));
	assert_int_equal(m->slot[99], LK_RD_NO_NODE);
	assert_int_equal(m->slot[201], LK_RD_NO_NODE);
	rfree(r);

	/* malformed: each refused */
	redisReply *bad[] = {
		rstr("not an array"),
		rarr(1, rstr("range")),
		rarr(1, rarr(2, rnum(0), rnum(1))),                                   /* no node */
		rarr(1, range(5, 4, "h", 1)),                                          /* start > end */
		rarr(1, range(0, 16384, "h", 1)),                                      /* past the last slot */
		rarr(1, range(-1, 3, "h", 1)),
		rarr(1, range(0, 3, "h", 0)),                                          /* port */
		rarr(1, range(0, 3, "h", 65536)),
		rarr(1, rarr(3, rnum(0), rnum(3), rarr(1, rstr("h")))),               /* node without port */
		rarr(1, rarr(3, rnum(0), rnum(3), rarr(2, rnum(1), rnum(2)))),        /* host not text */
		rarr(1, rarr(3, rstr("0"), rnum(3), rarr(2, rstr("h"), rnum(2)))),    /* start not integer */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (lk_rd_slotmap_from_reply(bad[i], "h", m))
			fail_msg("malformed reply %zu accepted", i);
		rfree(bad[i]);
	}
	assert_false(lk_rd_slotmap_from_reply(NULL, "h", m));

	/* more primaries than the map holds */
	redisReply *many = rarr(0);
	free(many->element);
	many->elements = LK_RD_MAX_NODES + 1;
	many->element = calloc(many->elements, sizeof *many->element);
	for (int i = 0; i <= LK_RD_MAX_NODES; i++)
		many->element[i] = range(i, i, "127.0.0.1", 1000 + i);
	assert_false(lk_rd_slotmap_from_reply(many, "h", m));
	rfree(many);
	free(m);
}

static void test_redirect(void **state)
{
	static const struct {
		const char *err;
		bool ok, ask;
		uint16_t slot;
		const char *host;
		int port;
	} v[] = {
		{"MOVED 3999 127.0.0.1:6381", true, false, 3999, "127.0.0.1", 6381},
		{"ASK 3999 127.0.0.1:6381", true, true, 3999, "127.0.0.1", 6381},
		{"MOVED 1 ::1:6380", true, false, 1, "::1", 6380}, /* the port after the last ':' */
		{"MOVED 16383 :6380", true, false, 16383, "", 6380}, /* the same host */
		{"MOVED 0 redis-node-3.example:7000", true, false, 0, "redis-node-3.example", 7000},
		{"MOVED 16384 h:1", false, false, 0, "", 0},
		{"MOVED 3999 127.0.0.1", false, false, 0, "", 0},
		{"MOVED 3999 127.0.0.1:", false, false, 0, "", 0},
		{"MOVED 3999 127.0.0.1:0", false, false, 0, "", 0},
		{"MOVED 3999 127.0.0.1:65536", false, false, 0, "", 0},
		{"MOVED 3999 127.0.0.1:12a", false, false, 0, "", 0},
		{"MOVED x 127.0.0.1:6381", false, false, 0, "", 0},
		{"MOVED  127.0.0.1:6381", false, false, 0, "", 0},
		{"MOVED", false, false, 0, "", 0},
		{"TRYAGAIN Multiple keys request during rehashing of slot", false, false, 0, "", 0},
		{"ERR unknown", false, false, 0, "", 0},
		{"", false, false, 0, "", 0},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		bool ask = !v[i].ask;
		uint16_t slot = 0;
		char host[64] = "untouched";
		int port = 0;
		bool ok = lk_rd_redirect_parse(v[i].err, strlen(v[i].err), &ask, &slot, host,
					       sizeof host, &port);
		if (ok != v[i].ok)
			fail_msg("\"%s\": %s", v[i].err, ok ? "accepted" : "refused");
		if (!ok)
			continue;
		assert_int_equal(ask, v[i].ask);
		assert_int_equal(slot, v[i].slot);
		assert_string_equal(host, v[i].host);
		assert_int_equal(port, v[i].port);
	}
	/* a host longer than the buffer is refused, not cut */
	char small[4];
	bool ask;
	uint16_t slot;
	int port;
	assert_false(lk_rd_redirect_parse("MOVED 1 127.0.0.1:6379", 22, &ask, &slot, small,
					  sizeof small, &port));
	/* the length bounds the parse: no read past it */
	assert_false(lk_rd_redirect_parse("MOVED 1 h:6379", 9, &ask, &slot, small, sizeof small,
					  &port));
}

/* [start, end, [endpoint, port, id, [name, value...]]] as Redis 7.0 sends it, endpoint NULL
 * for nil */
static redisReply *range7(long long a, long long b, redisReply *endpoint, long long port,
			  redisReply *meta)
{
	return rarr(3, rnum(a), rnum(b), rarr(4, endpoint, rnum(port), rstr("id"), meta));
}

/* The endpoint rules of the CLUSTER SLOTS page, in the replies a 7.0.15 node sent:
 * unknown-endpoint gave "*4 $-1 :34803 $40 <id> *2 $2 ip $9 127.0.0.1" (nil, the address
 * asked), hostname with no hostname set gave "$1 ?" (an unknown node; its IP is in the
 * metadata), the default ip gave the IP and an empty metadata array. */
static void test_slotmap_endpoints(void **state)
{
	struct lk_rd_slotmap *m = calloc(1, sizeof *m);
	redisReply *r = rarr(4,
		range7(0, 4095, rnil(), 34803, rarr(2, rstr("ip"), rstr("127.0.0.1"))),
		range7(4096, 8191, rstr("?"), 34804, rarr(2, rstr("ip"), rstr("10.1.1.2"))),
		range7(8192, 12287, rstr("?"), 34805, rarr(0)),
		range7(12288, 16383, rstr("10.1.1.4"), 34806, rarr(0)));
	assert_true(lk_rd_slotmap_from_reply(r, "seed.example", m));
	assert_string_equal(m->node[m->slot[0]].host, "seed.example");
	assert_int_equal(m->node[m->slot[4095]].port, 34803);
	assert_string_equal(m->node[m->slot[4096]].host, "10.1.1.2"); /* "?": its metadata IP */
	assert_int_equal(m->node[m->slot[8191]].port, 34804);
	assert_int_equal(m->slot[8192], LK_RD_NO_NODE); /* "?" and no IP: unknown */
	assert_int_equal(m->slot[12287], LK_RD_NO_NODE);
	assert_string_equal(m->node[m->slot[16383]].host, "10.1.1.4");
	assert_int_equal(m->nnodes, 3);
	rfree(r);

	/* nil or empty, and no address asked to stand for it: refused, not dereferenced */
	r = rarr(1, range7(0, 1, rnil(), 1, rarr(0)));
	assert_false(lk_rd_slotmap_from_reply(r, NULL, m));
	rfree(r);
	r = rarr(1, range(0, 1, "", 1));
	assert_false(lk_rd_slotmap_from_reply(r, NULL, m));
	rfree(r);

	/* a host with a NUL in it (bulk strings are binary) would be cut: refused */
	redisReply *h = rstr("1.2.3.4");
	h->str[3] = '\0';
	r = rarr(1, rarr(3, rnum(0), rnum(1), rarr(2, h, rnum(7000))));
	assert_false(lk_rd_slotmap_from_reply(r, "h", m));
	rfree(r);

	/* a host of 255 bytes fits, 256 does not */
	char big[257];
	memset(big, 'h', sizeof big - 1);
	big[256] = '\0';
	r = rarr(1, range(0, 1, big, 7000));
	assert_false(lk_rd_slotmap_from_reply(r, "h", m));
	rfree(r);
	big[255] = '\0';
	r = rarr(1, range(0, 1, big, 7000));
	assert_true(lk_rd_slotmap_from_reply(r, "h", m));
	assert_int_equal(strlen(m->node[m->slot[1]].host), 255);
	rfree(r);

	/* metadata of odd shapes is only looked at for "?": never read past it */
	redisReply *odd[] = {
		range7(0, 1, rstr("?"), 7000, rarr(1, rstr("ip"))),
		range7(0, 1, rstr("?"), 7000, rarr(2, rstr("ip"), rnum(1))),
		range7(0, 1, rstr("?"), 7000, rarr(2, rstr("ip"), rstr(""))),
		range7(0, 1, rstr("?"), 7000, rstr("ip")),
	};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		r = rarr(1, odd[i]);
		assert_true(lk_rd_slotmap_from_reply(r, "h", m));
		assert_int_equal(m->slot[0], LK_RD_NO_NODE);
		assert_int_equal(m->nnodes, 0);
		rfree(r);
	}
	/* an empty reply (a node in no cluster yet): a valid map of nothing */
	r = rarr(0);
	assert_true(lk_rd_slotmap_from_reply(r, "h", m));
	assert_int_equal(m->nnodes, 0);
	rfree(r);
	free(m);
}

/* What a failed parse leaves: everything as it was (CRAFT.md, out-parameters only on
 * success); and the endpoints Redis 7.0.15 wrote for unknown-endpoint and hostname. */
static void test_redirect_edges(void **state)
{
	static const char *bad[] = {
		"ASK 3999 127.0.0.1:0", "MOVED 3999 a b:6379", "MOVED 3999 a\tb:6379",
		"MOVED 1 h:6379 ", "ASK 1", "ASK ", "MOVED 999999 h:1", "MOVED 1 h:123456",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bool ask = true;
		uint16_t slot = 77;
		char host[16] = "untouched";
		int port = 99;
		if (lk_rd_redirect_parse(bad[i], strlen(bad[i]), &ask, &slot, host, sizeof host,
					 &port))
			fail_msg("\"%s\" accepted", bad[i]);
		assert_true(ask);
		assert_int_equal(slot, 77);
		assert_string_equal(host, "untouched");
		assert_int_equal(port, 99);
	}
	bool ask;
	uint16_t slot;
	char host[64];
	int port;
	/* unknown-endpoint: empty, the caller's own host */
	assert_true(lk_rd_redirect_parse("MOVED 12182 :44817", 18, &ask, &slot, host, sizeof host,
					 &port));
	assert_string_equal(host, "");
	assert_int_equal(port, 44817);
	/* hostname preferred, none set: "?" comes back as it is, for the caller to see */
	assert_true(lk_rd_redirect_parse("MOVED 12182 ?:44817", 19, &ask, &slot, host, sizeof host,
					 &port));
	assert_string_equal(host, "?");
	/* ASK with IPv6, and a host that just fits (3 bytes and the NUL in 4) */
	assert_true(lk_rd_redirect_parse("ASK 5061 fe80::1:7001", 21, &ask, &slot, host, sizeof host,
					 &port));
	assert_true(ask);
	assert_int_equal(slot, 5061);
	assert_string_equal(host, "fe80::1");
	assert_int_equal(port, 7001);
	char four[4];
	assert_true(lk_rd_redirect_parse("MOVED 0 abc:1", 13, &ask, &slot, four, sizeof four, &port));
	assert_string_equal(four, "abc");
	assert_false(lk_rd_redirect_parse("MOVED 0 abcd:1", 14, &ask, &slot, four, sizeof four, &port));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyslot),
		cmocka_unit_test(test_crc16_check_value),
		cmocka_unit_test(test_slotmap),
		cmocka_unit_test(test_slotmap_endpoints),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_redirect_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
