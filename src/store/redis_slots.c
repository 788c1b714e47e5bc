/* SPDX-License-Identifier: MIT */
/*
 * Redis Cluster's key-to-slot rule, its slot map and its redirections (redis_slots.h),
 * after the Redis Cluster specification (redis.io/docs/reference/cluster-spec): "Key
 * distribution model" and "Hash tags" for the slot of a key, "Redirection and resharding"
 * ("MOVED Redirection", "ASK redirection") for the two error replies, and the CLUSTER SLOTS
 * command's page for its reply and the meaning of a nil, empty or "?" endpoint. Pure
 * functions: no I/O, no allocation, nothing kept between calls.
 */
#include <string.h>

#include <hiredis/hiredis.h>

#include "store/redis_slots.h"

/* "Key distribution model": HASH_SLOT = CRC16(key) mod 16384, with the CRC16 of the
 * specification's Appendix A: CCITT/XMODEM, polynomial 0x1021, initial value 0, no
 * reflection, no final XOR (CRC16("123456789") = 0x31C3). Bit by bit rather than the
 * spec's 512-byte table: keys are short, and this costs about 8 shifts per byte. */
static uint16_t crc16(const unsigned char *p, size_t n)
{
	uint16_t crc = 0;
	for (size_t i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (uint16_t)(crc << 1 ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

/* "Hash tags": if the key contains a '{', and a '}' somewhere after the first '{', and at
 * least one byte between the first '{' and the first '}' after it, only those bytes are
 * hashed. So "foo{}{bar}" hashes whole (the first tag is empty), "foo{{bar}}zap" hashes
 * "{bar" and "foo{bar}{zap}" hashes "bar". mod 16384 is & 16383. */
uint16_t lk_rd_keyslot(const char *key, size_t len)
{
	if (len == 0)
		return 0; /* CRC16 of nothing; and memchr(NULL, ..., 0) is not defined */
	const char *open = memchr(key, '{', len);
	if (open) {
		size_t rest = len - (size_t)(open - key) - 1;
		const char *close = rest ? memchr(open + 1, '}', rest) : NULL;
		if (close && close > open + 1)
			return crc16((const unsigned char *)open + 1, (size_t)(close - open - 1)) &
			       (LK_RD_SLOTS - 1);
	}
	return crc16((const unsigned char *)key, len) & (LK_RD_SLOTS - 1);
}

static bool int_in(const redisReply *r, long long lo, long long hi, long long *v)
{
	if (!r || r->type != REDIS_REPLY_INTEGER || r->integer < lo || r->integer > hi)
		return false;
	*v = r->integer;
	return true;
}

/* The "ip" of a node's metadata (Redis 7: [host, port, id, [name, value, ...]]), or NULL. */
static const redisReply *meta_ip(const redisReply *nd)
{
	if (nd->elements < 4 || !nd->element[3] || nd->element[3]->type != REDIS_REPLY_ARRAY)
		return NULL;
	const redisReply *md = nd->element[3];
	for (size_t i = 0; i + 1 < md->elements; i += 2) {
		const redisReply *k = md->element[i], *v = md->element[i + 1];
		if (k && v && k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
		    k->len == 2 && !memcmp(k->str, "ip", 2) && v->len > 0)
			return v;
	}
	return NULL;
}

/* The CLUSTER SLOTS reply: one element per range of slots, [start, end, primary,
 * replica...], each node [endpoint, port, id, metadata] (id since 4.0, metadata since
 * 7.0). The endpoint is the node's IP, its hostname or nil, after
 * cluster-preferred-endpoint-type. The command's page: nil ("unknown-endpoint", as behind a
 * load balancer) means the endpoint the client asked, with the port given; "" (a node that
 * does not know its own IP yet) may be taken the same way; "?" (hostname preferred, none
 * set) is an unknown node, "not necessarily the same node" as the one asked: here the IP of
 * its metadata when given, else its slots stay unknown. */
bool lk_rd_slotmap_from_reply(const redisReply *r, const char *asked, struct lk_rd_slotmap *m)
{
	memset(m, 0, sizeof *m);
	for (size_t s = 0; s < LK_RD_SLOTS; s++)
		m->slot[s] = LK_RD_NO_NODE;
	if (!r || r->type != REDIS_REPLY_ARRAY)
		return false;
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		long long a, b, port;
		if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    !int_in(e->element[0], 0, LK_RD_SLOTS - 1, &a) ||
		    !int_in(e->element[1], 0, LK_RD_SLOTS - 1, &b) || a > b)
			return false;
		const redisReply *nd = e->element[2];
		if (!nd || nd->type != REDIS_REPLY_ARRAY || nd->elements < 2 || !nd->element[0] ||
		    (nd->element[0]->type != REDIS_REPLY_STRING &&
		     nd->element[0]->type != REDIS_REPLY_NIL) ||
		    !int_in(nd->element[1], 1, 65535, &port))
			return false;
		const redisReply *ep = nd->element[0];
		const char *host;
		size_t hl;
		if (ep->type == REDIS_REPLY_NIL || ep->len == 0) { /* the node asked */
			if (!asked)
				return false;
			host = asked;
			hl = strlen(asked);
		} else if (ep->len == 1 && ep->str[0] == '?') { /* unknown */
			const redisReply *ip = meta_ip(nd);
			if (!ip)
				continue;
			host = ip->str;
			hl = ip->len;
		} else {
			host = ep->str;
			hl = ep->len;
		}
		if (hl >= sizeof m->node[0].host || memchr(host, '\0', hl))
			return false;
		int k;
		for (k = 0; k < m->nnodes; k++)
			if (m->node[k].port == port && strlen(m->node[k].host) == hl &&
			    !memcmp(m->node[k].host, host, hl))
				break;
		if (k == m->nnodes) {
			if (m->nnodes == LK_RD_MAX_NODES)
				return false;
			memcpy(m->node[k].host, host, hl);
			m->node[k].host[hl] = '\0';
			m->node[k].port = (int)port;
			m->nnodes++;
		}
		for (long long s = a; s <= b; s++)
			m->slot[s] = (uint16_t)k;
	}
	return true;
}

/* "MOVED Redirection": "-MOVED 3999 127.0.0.1:6381", the slot and the endpoint:port of the
 * node that serves it now; "ASK redirection": the same with ASK, for this one query only
 * (the client sends ASKING before it, and does not update its map). The node writes the
 * endpoint as it is, so an IPv6 address has no brackets and the port is after the last
 * ':'; unknown-endpoint makes it empty (":6381", Redis 7.0.15 seen doing so), a missing
 * hostname makes it "?". */
bool lk_rd_redirect_parse(const char *err, size_t len, bool *ask, uint16_t *slot, char *host,
			  size_t hostsz, int *port)
{
	size_t skip;
	bool is_ask;
	if (len > 6 && !memcmp(err, "MOVED ", 6)) {
		is_ask = false;
		skip = 6;
	} else if (len > 4 && !memcmp(err, "ASK ", 4)) {
		is_ask = true;
		skip = 4;
	} else {
		return false;
	}
	const char *p = err + skip, *end = err + len;
	long s = 0;
	int digits = 0;
	while (p < end && *p >= '0' && *p <= '9' && digits < 6) {
		s = s * 10 + (*p++ - '0');
		digits++;
	}
	if (!digits || s >= LK_RD_SLOTS || p >= end || *p != ' ')
		return false;
	const char *addr = ++p, *colon = NULL;
	for (const char *q = addr; q < end; q++)
		if (*q == ':')
			colon = q;
	if (!colon || (size_t)(colon - addr) >= hostsz || end - colon - 1 < 1 || end - colon - 1 > 5)
		return false;
	/* the host is one token of printable bytes: no space, no control byte, no NUL */
	for (const char *q = addr; q < colon; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q == 0x7f)
			return false;
	long pt = 0;
	for (const char *q = colon + 1; q < end; q++) {
		if (*q < '0' || *q > '9')
			return false;
		pt = pt * 10 + (*q - '0');
	}
	if (pt < 1 || pt > 65535)
		return false;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	*ask = is_ask;
	*slot = (uint16_t)s;
	*port = (int)pt;
	return true;
}
