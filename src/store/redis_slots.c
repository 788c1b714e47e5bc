/* SPDX-License-Identifier: MIT */
/*
 * Redis Cluster's key-to-slot rule, its slot map and its redirections (redis_slots.h),
 * after the Redis Cluster specification: "Keys distribution model" and "Hash tags" for
 * the slot of a key, "Redirection and resharding" for MOVED and ASK, and the CLUSTER
 * SLOTS reply ([start, end, [host, port, id], replicas...] per range).
 */
#include <stdlib.h>
#include <string.h>

#include "store/redis_slots.h"

/* CRC16-CCITT (XMODEM): polynomial 0x1021, initial 0, no reflection. */
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

uint16_t lk_rd_keyslot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len);
	if (open) {
		size_t rest = len - (size_t)(open - key) - 1;
		const char *close = memchr(open + 1, '}', rest);
		if (close && close > open + 1) /* "{}" hashes the whole key */
			return crc16((const unsigned char *)open + 1, (size_t)(close - open - 1)) &
			       (LK_RD_SLOTS - 1);
	}
	return crc16((const unsigned char *)key, len) & (LK_RD_SLOTS - 1);
}

static bool int_of(const redisReply *r, long long lo, long long hi, long long *v)
{
	if (r->type == REDIS_REPLY_INTEGER)
		*v = r->integer;
	else
		return false;
	return *v >= lo && *v <= hi;
}

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
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    !int_of(e->element[0], 0, LK_RD_SLOTS - 1, &a) ||
		    !int_of(e->element[1], 0, LK_RD_SLOTS - 1, &b) || a > b)
			return false;
		const redisReply *nd = e->element[2];
		if (nd->type != REDIS_REPLY_ARRAY || nd->elements < 2 ||
		    nd->element[0]->type != REDIS_REPLY_STRING ||
		    !int_of(nd->element[1], 1, 65535, &port))
			return false;
		const char *host = nd->element[0]->len ? nd->element[0]->str : asked;
		size_t hl = nd->element[0]->len ? nd->element[0]->len : strlen(asked);
		if (hl >= sizeof m->node[0].host)
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

bool lk_rd_redirect_parse(const char *err, size_t len, bool *ask, uint16_t *slot, char *host,
			  size_t hostsz, int *port)
{
	size_t skip;
	if (len > 6 && !memcmp(err, "MOVED ", 6)) {
		*ask = false;
		skip = 6;
	} else if (len > 4 && !memcmp(err, "ASK ", 4)) {
		*ask = true;
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
	*slot = (uint16_t)s;
	*port = (int)pt;
	return true;
}
