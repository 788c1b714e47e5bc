/* SPDX-License-Identifier: MIT */
/*
 * redis_slots.h: Redis Cluster's key-to-slot rule, its slot map and its redirections, as
 * pure functions (no I/O) for the transport of the Redis store (redis_conn.c). Only the
 * parse of a CLUSTER SLOTS reply needs hiredis's reply type; it is declared, not included,
 * so a user of the key rule or the redirections alone needs no hiredis header.
 */
#ifndef LK_STORE_REDIS_SLOTS_H
#define LK_STORE_REDIS_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct redisReply; /* <hiredis/hiredis.h>: typedef struct redisReply {...} redisReply */

#define LK_RD_SLOTS 16384
#define LK_RD_MAX_NODES 64      /* primaries a slot map holds, at most */
#define LK_RD_NO_NODE 0xffff    /* a slot no primary serves, or one at an unknown address */

struct lk_rd_node {
	char host[256]; /* an IP address or a name, NUL-terminated */
	int port;       /* 1..65535 */
};

/* Which primary serves each slot: slot[s] indexes node[], or LK_RD_NO_NODE. */
struct lk_rd_slotmap {
	int nnodes;
	struct lk_rd_node node[LK_RD_MAX_NODES];
	uint16_t slot[LK_RD_SLOTS];
};

/* The slot of key[0..len) (any bytes, NUL included): CRC16 (XMODEM) of the key, or of its
 * hash tag (the bytes between the first '{' and the first '}' after it, when there is at
 * least one), mod 16384. key may be NULL when len is 0. */
uint16_t lk_rd_keyslot(const char *key, size_t len);

/* Fill m (OUT, caller-allocated, about 49 KiB) from r, a CLUSTER SLOTS reply (RESP2, as
 * hiredis gives it): the primary of each range only; replicas are ignored. `asked` is the
 * host the command went to: a range whose primary has a nil or empty host is at `asked`
 * (the port is the reply's). A primary whose host is "?" (a name is preferred but none is
 * set) is at the "ip" of its metadata when there is one; otherwise its slots stay
 * LK_RD_NO_NODE. Slots no range names stay LK_RD_NO_NODE. Returns false, and leaves m
 * undefined, when r is NULL or malformed (not an array of [start, end, [host, port, ...],
 * ...] with integers 0 <= start <= end <= 16383 and port 1..65535, a host of 256 bytes or
 * more) or names more than LK_RD_MAX_NODES primaries. Never reads outside r. */
bool lk_rd_slotmap_from_reply(const struct redisReply *r, const char *asked,
			      struct lk_rd_slotmap *m);

/* Parse the text of an error reply, err[0..len) (no '-', no CRLF), of the form
 * "MOVED SLOT HOST:PORT" or "ASK SLOT HOST:PORT". The port follows the last ':', so an IPv6
 * host needs no brackets ("MOVED 1 ::1:6380"). OUT: *ask (true for ASK), *slot (0..16383),
 * host (NUL-terminated in host[0..hostsz)), *port (1..65535). An empty host ("MOVED 1
 * :6380", a node with cluster-preferred-endpoint-type unknown-endpoint) is returned empty:
 * the caller uses the host it sent the command to. A host of "?" is returned as it is: the
 * node knows no address for the target, so the caller should reload the slot map. Returns
 * false, with every output untouched, when err is neither form or the host does not fit. */
bool lk_rd_redirect_parse(const char *err, size_t len, bool *ask, uint16_t *slot, char *host,
			  size_t hostsz, int *port);

#endif
