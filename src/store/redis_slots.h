/* SPDX-License-Identifier: MIT */
/*
 * redis_slots.h: Redis Cluster's key-to-slot rule, its slot map and its redirections, as
 * pure functions (no I/O) for the transport of the Redis store (redis_conn.c).
 */
#ifndef LK_STORE_REDIS_SLOTS_H
#define LK_STORE_REDIS_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define LK_RD_SLOTS 16384
#define LK_RD_MAX_NODES 64      /* primaries a slot map holds, at most */
#define LK_RD_NO_NODE 0xffff    /* a slot no primary serves */

struct lk_rd_node {
	char host[256];
	int port;
};

/* Which primary serves each slot: slot[s] indexes node[], or LK_RD_NO_NODE. */
struct lk_rd_slotmap {
	int nnodes;
	struct lk_rd_node node[LK_RD_MAX_NODES];
	uint16_t slot[LK_RD_SLOTS];
};

/* The slot of key[0..len): CRC16 (XMODEM) of the key, or of its hash tag (the bytes
 * between the first '{' and the first '}' after it, when there are any), mod 16384. */
uint16_t lk_rd_keyslot(const char *key, size_t len);

/* Fill m from a CLUSTER SLOTS reply (primaries only). A node with an empty host is at
 * `asked` (the host the command went to). false on any malformed reply, m then undefined. */
bool lk_rd_slotmap_from_reply(const redisReply *r, const char *asked, struct lk_rd_slotmap *m);

/* Parse "MOVED SLOT HOST:PORT" or "ASK SLOT HOST:PORT" (err[0..len), the error reply's
 * text). The port follows the last ':'; an empty host ("MOVED 1 :6380") is left empty for
 * the caller (the node it asked). false when err is neither. */
bool lk_rd_redirect_parse(const char *err, size_t len, bool *ask, uint16_t *slot, char *host,
			  size_t hostsz, int *port);

#endif
