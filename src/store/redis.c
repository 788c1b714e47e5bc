/* SPDX-License-Identifier: MIT */
/*
 * The shared store back end, "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]": the same
 * lk_store_ops as sqlite.c, kept in Redis (7.0 or newer) through hiredis, so that several
 * latchkey instances share users, sessions, refresh families, revocations, keys and
 * clients. This file holds the operations and their Lua scripts; the transport (per-thread
 * connections, reconnects, AUTH, commands, EVALSHA) is redis_conn.c, described in
 * redis_int.h. The key layout is written down in docs/redis-keys.md; keep the two in step.
 *
 * Design in brief:
 * - Every change of more than one key is one Lua script, so it is atomic: a script runs
 *   alone on the server. Redis does not roll a script back when a command in it fails, so
 *   scripts check everything before their first write and never call a command that can
 *   fail on well-formed data. They carry a `#!lua` shebang: Redis then refuses a writing
 *   script as a whole when it is out of memory instead of failing it half-way. Read-only
 *   scripts say `flags=no-writes`.
 * - The SQLite triggers are mirrored inside the scripts: a session deleted
 *   before its absolute expiry records a `sid` revocation of its handle, the live head of a
 *   refresh family (unused, unexpired) a `sid` revocation of the family, a password change
 *   a `sub` revocation with before = pw_changed, a deleted user a `sub` revocation with
 *   before = now + 1; "now" there is the Redis server's clock (TIME), as unixepoch() is
 *   SQLite's. Each such change INCRs lk:{g}:gen in the same script.
 * - Expiry is native: sessions and refresh tokens (and their pointer keys) get EXPIREAT
 *   their absolute expiry, and sets that index them live as long as their longest-lived
 *   member. Sessions and refresh tokens already expired when added are accepted and not
 *   stored (session_get may return expired sessions; here it never does). Sorted-set index
 *   members of sessions that expired by themselves are dropped by session_add (a few at a
 *   time) and by session_purge; revocations past their expiry by every new revocation and
 *   by session_purge.
 * - generation() is an atomic load, fed by push: every script that INCRs lk:{g}:gen also
 *   PUBLISHes the new value on the channel lk:{g}:gen, and a subscriber thread of this
 *   handle (redis_sub.c, started on the first generation() call) keeps the value and wakes
 *   generation_wait(). The value is the counter plus a hash of the server's run_id, so a
 *   restarted (and possibly emptied) Redis never repeats a generation a cache has seen;
 *   while the subscription is not established (connecting, Redis down or not answering)
 *   it is a fresh random number on every call, so no cache entry ever matches. After each
 *   (re)subscription the counter is read once (GET) to catch up.
 *   The window: a change committed by another process reaches this one when its PUBLISH
 *   does (sub-millisecond between instances on one network); in that window another
 *   instance may serve a cached session once more. The process that made the change waits
 *   (at most 50 ms) until its own subscriber has seen it, so read-after-write on one
 *   instance is exact.
 * - Listings read everything in one reply, then run the callbacks: a callback may call
 *   the store, and sees the state as of the read.
 * - Nothing here logs.
 *
 * close() must not race with the store's use: call it only after every other thread has
 * stopped calling the store (as for sqlite.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <sodium.h>

#include "store/redis_int.h"
#include "store/store.h"
#include "util/err.h"

#define AUDIT_CAP 10000       /* audit events kept (a capped list; sqlite keeps all) */
#define PURGE_BATCH 1000      /* index members one session_purge script handles */
#define SCHEMA_VERSION 3      /* lk:{g}:schema; bump when the layout changes */

/* ---------------------------------------------------------------- Lua */

/*
 * Shared by every script; the write part only by scripts that write (defining its
 * functions costs every call time on the server). Identifiers (user ids, hex hashes)
 * travel as strings: Lua numbers are doubles and print large values in exponent form.
 * Timestamps are compared with num(); values of FOREVER or more get no TTL (EXPIREAT
 * would overflow). Every script touches the keys of one hash slot only (docs/redis-keys.md
 * "Slots"): the global slot {g}, one user's {u:ID}, or one key of its own.
 */
#define PRELUDE_READ                                                                       \
	"local R = string.match(KEYS[1], '^[^:]*')\n"                                     \
	"local G = R .. ':{g}:'\n"                                                         \
	"local FOREVER = 1e11\n"                                                           \
	"local function U(id, s) return R .. ':{u:' .. id .. '}:' .. s end\n"             \
	"local function num(v) return tonumber(v) or 0 end\n"                             \
	"local function ns(s) s = tostring(s) return #s .. ':' .. s .. ',' end\n"          \
	"local function unns(s)\n"                                                         \
	"  local out, i = {}, 1\n"                                                         \
	"  while i <= #s do\n"                                                             \
	"    local c = string.find(s, ':', i, true)\n"                                     \
	"    if not c then break end\n"                                                    \
	"    local n = tonumber(string.sub(s, i, c - 1)) or 0\n"                           \
	"    out[#out + 1] = string.sub(s, c + 1, c + n)\n"                                \
	"    i = c + n + 2\n"                                                              \
	"  end\n"                                                                          \
	"  return out\n"                                                                   \
	"end\n"                                                                            \
	"local function clock() return tonumber(redis.call('TIME')[1]) end\n"              \
	"local function split(m)\n"                                                        \
	"  local i = string.find(m, ':', 1, true)\n"                                       \
	"  if not i then return nil end\n"                                                 \
	"  return string.sub(m, 1, i - 1), string.sub(m, i + 1)\n"                         \
	"end\n"

/* What writing scripts add: TTL helpers; for the global slot, revocations and the
 * counter; for a user's slot, the word that moves every subscriber's generation. */
#define PRELUDE_WRITE                                                                      \
	"local function bump()\n"                                                         \
	"  redis.call('PUBLISH', G .. 'gen', redis.call('INCR', G .. 'gen'))\n"            \
	"end\n"                                                                            \
	/* a user's slot cannot reach the counter: it publishes the one its {g} step took */ \
	"local function moved(c) redis.call('PUBLISH', G .. 'gen', c) end\n"              \
	"local function expire_at(k, ts)\n"                                                \
	"  if num(ts) < FOREVER then redis.call('EXPIREAT', k, ts) end\n"                  \
	"end\n"                                                                            \
	/* A set that lives as long as its longest-lived member; cur is its EXPIRETIME     \
	 * taken before the member was added (-2: it did not exist, -1: persistent). */    \
	"local function stretch(k, cur, ts)\n"                                             \
	"  ts = num(ts)\n"                                                                 \
	"  if ts >= FOREVER then\n"                                                        \
	"    if cur ~= -1 then redis.call('PERSIST', k) end\n"                             \
	"  elseif cur == -2 or (cur >= 0 and cur < ts) then\n"                             \
	"    redis.call('EXPIREAT', k, ts)\n"                                              \
	"  end\n"                                                                          \
	"end\n"                                                                            \
	"local function rev_ttl()\n"                                                       \
	"  return num(redis.call('HGET', G .. 'meta', 'revocation_ttl') or 960)\n"         \
	"end\n"                                                                            \
	/* Append a revocation; drop a few that ended before t on the way. expires ''     \
	 * means now + revocation_ttl. Each member recorded is kept in `recorded`, for the  \
	 * scripts that report what they did. */                                           \
	"local recorded = {}\n"                                                            \
	"local function record(typ, val, before, expires, t)\n"                            \
	"  if expires == '' then expires = t + rev_ttl() end\n"                            \
	"  local old = redis.call('ZRANGEBYSCORE', G .. 'rev_exp', '-inf', '(' .. t,\n"    \
	"                         'LIMIT', 0, 64)\n"                                       \
	"  for _, m in ipairs(old) do\n"                                                   \
	"    redis.call('ZREM', G .. 'rev', m)\n"                                          \
	"    redis.call('ZREM', G .. 'rev_exp', m)\n"                                      \
	"  end\n"                                                                          \
	"  local c = redis.call('INCR', G .. 'next_rev')\n"                                \
	"  local m = ns(c) .. ns(typ) .. ns(val) .. ns(before) .. ns(expires)\n"           \
	"  redis.call('ZADD', G .. 'rev', c, m)\n"                                         \
	"  redis.call('ZADD', G .. 'rev_exp', num(expires), m)\n"                          \
	"  recorded[#recorded + 1] = m\n"                                                  \
	"end\n"                                                                            \
	/* Delete one session of user uid in its slot: 1 with its handle and expires when  \
	 * it existed. The pointer lk:sess:HEX and the global indexes are the caller's. */ \
	"local function sess_del(uid, hex)\n"                                              \
	"  local k = U(uid, 's:' .. hex)\n"                                                \
	"  local f = redis.call('HMGET', k, 'handle', 'expires')\n"                        \
	"  redis.call('SREM', U(uid, 'sessions'), hex)\n"                                  \
	"  if not f[1] then return 0 end\n"                                                \
	"  redis.call('DEL', k)\n"                                                         \
	"  if redis.call('GET', U(uid, 'h:' .. f[1])) == hex then\n"                       \
	"    redis.call('DEL', U(uid, 'h:' .. f[1]))\n"                                    \
	"  end\n"                                                                          \
	"  return 1, f[1], f[2]\n"                                                         \
	"end\n"                                                                            \
	/* Delete one refresh token of user uid in its slot: 1 with its family, used_at    \
	 * and expires when it existed. */                                                 \
	"local function rt_del(uid, hex)\n"                                                \
	"  local k = U(uid, 'r:' .. hex)\n"                                                \
	"  local f = redis.call('HMGET', k, 'family', 'used_at', 'expires')\n"             \
	"  redis.call('SREM', U(uid, 'refresh'), hex)\n"                                   \
	"  if not f[1] then return 0 end\n"                                                \
	"  redis.call('DEL', k)\n"                                                         \
	"  redis.call('SREM', U(uid, 'f:' .. f[1]), hex)\n"                                \
	"  return 1, f[1], f[2], f[3]\n"                                                   \
	"end\n"

#define RW "#!lua\n" PRELUDE_READ PRELUDE_WRITE
#define RO "#!lua flags=no-writes\n" PRELUDE_READ

/* Session fields as scripts return them: uid, hex, then these. */
#define SESS_FIELDS "'handle', 'csrf', 'created', 'last_seen', 'expires', 'ip', 'ua'"
#define SESS_OUT                                                                           \
	"  out[#out + 1] = uid\n"                                                          \
	"  out[#out + 1] = hex\n"                                                          \
	"  for i = 1, 7 do out[#out + 1] = f[i] or '' end\n"

enum scr {
	/* the global slot {g} */
	SC_G_USER_ID,
	SC_G_NAME_CLAIM,
	SC_G_RECORD,
	SC_G_SESS_INDEX,
	SC_G_PURGE_SCAN,
	SC_AUDIT_ADD,
	SC_KEY_ADD,
	SC_KEY_LIST,
	SC_KEY_RETIRE,
	SC_KEY_DEL,
	SC_REVOKE_ADD,
	SC_MIGRATE_2,
	SC_MIGRATE_3,
	/* one user's slot {u:ID} */
	SC_U_USER_ADD,
	SC_U_SCAN,
	SC_U_WIPE,
	SC_U_SESS_ADD,
	SC_U_SESS_TOUCH,
	SC_U_SESS_DEL,
	SC_U_SESS_FIND,
	SC_U_SESS_LIST,
	SC_U_RT_ADD,
	SC_U_RT_CLAIM,
	SC_U_FAM_WIPE,
	SC_U_RT_TRIM,
	/* a key of its own */
	SC_CLIENT_ADD,
	SC_FAM_OWNER,
	SC_DEL_IF,
	SC_RL_STEP,
	SC_COUNT_
};

static struct lk_rd_script lua[SC_COUNT_] = {
	/* ---- {g} */

	/* ARGV: name. A fresh user id unless the name is taken. -> {0, id} or {2} */
	[SC_G_USER_ID] = {RW
	"if redis.call('HEXISTS', G .. 'names', ARGV[1]) == 1 then return {2} end\n"
	"return {0, tostring(redis.call('INCR', G .. 'next_user'))}\n"},

	/* ARGV: name id. The unique-name index, last step of user_add. -> {0} or {2} */
	[SC_G_NAME_CLAIM] = {RW
	"if redis.call('HSETNX', G .. 'names', ARGV[1], ARGV[2]) == 0 then return {2} end\n"
	"return {0}\n"},

	/* ARGV: revocations (netstrings, five per revocation: type value before expires
	 * cond; before '+1' = now + 1, expires '' = now + revocation_ttl, cond '' = always,
	 * else only while cond > now: an expiry), session index members to drop (netstrings
	 * of ID:HEX), used-refresh index members to drop (likewise), a name to drop from the
	 * name index while it still names ARGV[5] ('' none), bump: '0' move the counter when
	 * a revocation was recorded, '1' move it anyway, 'q' move it quietly (no PUBLISH: the
	 * user's slot step that follows publishes it, after its change). -> {0, counter,
	 * each revocation recorded (its lk:{g}:rev member)...} */
	[SC_G_RECORD] = {RW
	"local t, n = clock(), 0\n"
	"local r = unns(ARGV[1])\n"
	"for i = 1, #r - 4, 5 do\n"
	"  if r[i + 4] == '' or num(r[i + 4]) > t then\n"
	"    local before = r[i + 2]\n"
	"    if before == '+1' then before = t + 1 end\n"
	"    record(r[i], r[i + 1], before, r[i + 3], t)\n"
	"    n = n + 1\n"
	"  end\n"
	"end\n"
	"for _, m in ipairs(unns(ARGV[2])) do\n"
	"  redis.call('ZREM', G .. 'sess_exp', m)\n"
	"  redis.call('ZREM', G .. 'sess_seen', m)\n"
	"end\n"
	"for _, m in ipairs(unns(ARGV[3])) do redis.call('ZREM', G .. 'rt_used', m) end\n"
	"if ARGV[4] ~= '' and redis.call('HGET', G .. 'names', ARGV[4]) == ARGV[5] then\n"
	"  redis.call('HDEL', G .. 'names', ARGV[4])\n"
	"end\n"
	"local out = {0, 0}\n"
	"if ARGV[6] == 'q' then out[2] = redis.call('INCR', G .. 'gen')\n"
	"elseif n > 0 or ARGV[6] == '1' then bump() end\n"
	"for _, m in ipairs(recorded) do out[#out + 1] = m end\n"
	"return out\n"},

	/* ARGV: ID:HEX expires last_seen. A new session in the global indexes; up to 16
	 * members that expired by Redis's clock leave them on the way. -> {0} */
	[SC_G_SESS_INDEX] = {RW
	"local t = clock()\n"
	"local old = redis.call('ZRANGEBYSCORE', G .. 'sess_exp', '-inf', '(' .. t,\n"
	"                       'LIMIT', 0, 16)\n"
	"for _, m in ipairs(old) do\n"
	"  redis.call('ZREM', G .. 'sess_exp', m)\n"
	"  redis.call('ZREM', G .. 'sess_seen', m)\n"
	"end\n"
	"redis.call('ZADD', G .. 'sess_exp', num(ARGV[2]), ARGV[1])\n"
	"redis.call('ZADD', G .. 'sess_seen', num(ARGV[3]), ARGV[1])\n"
	"return {0}\n"},

	/* ARGV: now idle_cutoff batch. Drops one batch of revocations that ended (expires
	 * <= now) and names one batch of sessions to purge: expires <= now, or last_seen <
	 * idle_cutoff; the caller deletes them. -> {0, more, (ID:HEX expired(0/1))...} */
	[SC_G_PURGE_SCAN] = {RW
	"local batch, more = num(ARGV[3]), 0\n"
	"local r = redis.call('ZRANGEBYSCORE', G .. 'rev_exp', '-inf', ARGV[1], 'LIMIT', 0, batch)\n"
	"for _, m in ipairs(r) do\n"
	"  redis.call('ZREM', G .. 'rev', m)\n"
	"  redis.call('ZREM', G .. 'rev_exp', m)\n"
	"end\n"
	"if #r == batch then more = 1 end\n"
	"local out, seen = {0, 0}, {}\n"
	"local a = redis.call('ZRANGEBYSCORE', G .. 'sess_exp', '-inf', ARGV[1],\n"
	"                     'LIMIT', 0, batch)\n"
	"local b = redis.call('ZRANGEBYSCORE', G .. 'sess_seen', '-inf', '(' .. ARGV[2],\n"
	"                     'LIMIT', 0, batch)\n"
	"if #a == batch or #b == batch then more = 1 end\n"
	"for _, m in ipairs(a) do\n"
	"  if not seen[m] then seen[m] = true out[#out + 1] = m end\n"
	"end\n"
	"for _, m in ipairs(b) do\n"
	"  if not seen[m] then seen[m] = true out[#out + 1] = m end\n"
	"end\n"
	"out[2] = more\n"
	"return out\n"},

	/* ARGV: netstrings of ts event user ip detail; cap. -> {0, id} */
	[SC_AUDIT_ADD] = {RW
	"local id = redis.call('INCR', G .. 'next_audit')\n"
	"redis.call('LPUSH', G .. 'audit', ns(id) .. ARGV[1])\n"
	"redis.call('LTRIM', G .. 'audit', 0, num(ARGV[2]) - 1)\n"
	"return {0, id}\n"},

	/* ARGV: kid alg jwk created sign_from retire_at remove_at. -> {0} or {2} */
	[SC_KEY_ADD] = {RW
	"local k = G .. 'key:' .. ARGV[1]\n"
	"if redis.call('EXISTS', k) == 1 then return {2} end\n"
	"redis.call('HSET', k, 'alg', ARGV[2], 'jwk', ARGV[3], 'created', ARGV[4],\n"
	"           'sign_from', ARGV[5], 'retire_at', ARGV[6], 'remove_at', ARGV[7])\n"
	"redis.call('SADD', G .. 'kids', ARGV[1])\n"
	"bump()\n"
	"return {0}\n"},

	/* -> {0, (kid, alg, jwk, created, sign_from, retire_at, remove_at)...} */
	[SC_KEY_LIST] = {RO
	"local out = {0}\n"
	"for _, kid in ipairs(redis.call('SMEMBERS', G .. 'kids')) do\n"
	"  local f = redis.call('HMGET', G .. 'key:' .. kid, 'alg', 'jwk', 'created',\n"
	"                       'sign_from', 'retire_at', 'remove_at')\n"
	"  if f[1] then\n"
	"    out[#out + 1] = kid\n"
	"    for i = 1, 6 do out[#out + 1] = f[i] or '' end\n"
	"  end\n"
	"end\n"
	"return out\n"},

	/* ARGV: kid retire_at remove_at. -> {0} or {1} */
	[SC_KEY_RETIRE] = {RW
	"local k = G .. 'key:' .. ARGV[1]\n"
	"if redis.call('EXISTS', k) == 0 then return {1} end\n"
	"redis.call('HSET', k, 'retire_at', ARGV[2], 'remove_at', ARGV[3])\n"
	"bump()\n"
	"return {0}\n"},

	/* ARGV: kid. -> {0} or {1} */
	[SC_KEY_DEL] = {RW
	"local gone = redis.call('DEL', G .. 'key:' .. ARGV[1])\n"
	"redis.call('SREM', G .. 'kids', ARGV[1])\n"
	"if gone == 0 then return {1} end\n"
	"bump()\n"
	"return {0}\n"},

	/* ARGV: type value before expires. -> {0} */
	[SC_REVOKE_ADD] = {RW
	"record(ARGV[1], ARGV[2], ARGV[3], ARGV[4], clock())\n"
	"bump()\n"
	"return {0}\n"},

	/* Layout 1 -> 2 (one server only): index the used refresh tokens that still hold
	 * next_access in lk:{g}:rt_used. Runs once, under the schema's own check. -> {0} */
	[SC_MIGRATE_2] = {RW
	"if redis.call('GET', G .. 'schema') ~= '1' then return {0} end\n"
	"for _, id in ipairs(redis.call('HVALS', G .. 'names')) do\n"
	"  for _, hex in ipairs(redis.call('SMEMBERS', U(id, 'refresh'))) do\n"
	"    local f = redis.call('HMGET', U(id, 'r:' .. hex), 'used_at', 'next_access')\n"
	"    if f[1] and num(f[1]) ~= 0 and f[2] and f[2] ~= '' then\n"
	"      redis.call('ZADD', G .. 'rt_used', num(f[1]), id .. ':' .. hex)\n"
	"    end\n"
	"  end\n"
	"end\n"
	"redis.call('SET', G .. 'schema', '2')\n"
	"return {0}\n"},

	/* Layout 2 -> 3 (one server only; a v2 layout never ran on a cluster): each live
	 * session's handle pointer moves from lk:handle:HANDLE into its user's slot,
	 * U(ID, 'h:' .. HANDLE), with the same TTL. -> {0} */
	[SC_MIGRATE_3] = {RW
	"if redis.call('GET', G .. 'schema') ~= '2' then return {0} end\n"
	"for _, id in ipairs(redis.call('HVALS', G .. 'names')) do\n"
	"  for _, hex in ipairs(redis.call('SMEMBERS', U(id, 'sessions'))) do\n"
	"    local f = redis.call('HMGET', U(id, 's:' .. hex), 'handle', 'expires')\n"
	"    if f[1] then\n"
	"      local old = R .. ':handle:' .. f[1]\n"
	"      if redis.call('GET', old) == hex then redis.call('DEL', old) end\n"
	"      redis.call('SET', U(id, 'h:' .. f[1]), hex)\n"
	"      expire_at(U(id, 'h:' .. f[1]), f[2])\n"
	"    end\n"
	"  end\n"
	"end\n"
	"redis.call('SET', G .. 'schema', '3')\n"
	"return {0}\n"},

	/* ---- {u:ID} */

	/* ARGV: id name roles phc created pw_changed. -> {0}, or {2}: the id is in use. */
	[SC_U_USER_ADD] = {RW
	"local k = U(ARGV[1], 'user')\n"
	"if redis.call('EXISTS', k) == 1 then return {2} end\n"
	"redis.call('HSET', k, 'name', ARGV[2], 'roles', ARGV[3], 'phc', ARGV[4],\n"
	"           'created', ARGV[5], 'pw_changed', ARGV[6])\n"
	"return {0}\n"},

	/* ARGV: uid. What a change of the whole user would end. -> {0, nsess, (hex, handle,
	 * expires)..., (hex, family, used_at, expires)...} */
	[SC_U_SCAN] = {RO
	"local uid = ARGV[1]\n"
	"local out = {0, 0}\n"
	"for _, hex in ipairs(redis.call('SMEMBERS', U(uid, 'sessions'))) do\n"
	"  local f = redis.call('HMGET', U(uid, 's:' .. hex), 'handle', 'expires')\n"
	"  if f[1] then\n"
	"    out[#out + 1] = hex out[#out + 1] = f[1] out[#out + 1] = f[2] or '0'\n"
	"    out[2] = out[2] + 1\n"
	"  end\n"
	"end\n"
	"for _, hex in ipairs(redis.call('SMEMBERS', U(uid, 'refresh'))) do\n"
	"  local f = redis.call('HMGET', U(uid, 'r:' .. hex), 'family', 'used_at', 'expires')\n"
	"  if f[1] then\n"
	"    out[#out + 1] = hex out[#out + 1] = f[1]\n"
	"    out[#out + 1] = f[2] or '0' out[#out + 1] = f[3] or '0'\n"
	"  end\n"
	"end\n"
	"return out\n"},

	/* ARGV: uid, 'pw' | 'del' | 'rev', phc, pw_changed, keep (a session HEX or ''),
	 * counter (to publish). Every session but keep and every refresh token of the user
	 * go; 'pw' then sets the password (the user must exist: {1} otherwise, nothing
	 * done), 'del' deletes the user. -> {0, nsess, (hex, handle, expires)..., (hex, family, used_at,
	 * expires)...}: what went. */
	[SC_U_WIPE] = {RW
	"local uid, mode = ARGV[1], ARGV[2]\n"
	"if mode == 'pw' and redis.call('EXISTS', U(uid, 'user')) == 0 then return {1} end\n"
	"local out = {0, 0}\n"
	"for _, hex in ipairs(redis.call('SMEMBERS', U(uid, 'sessions'))) do\n"
	"  if hex ~= ARGV[5] then\n"
	"    local ok, h, e = sess_del(uid, hex)\n"
	"    if ok == 1 then\n"
	"      out[#out + 1] = hex out[#out + 1] = h out[#out + 1] = e or '0'\n"
	"      out[2] = out[2] + 1\n"
	"    end\n"
	"  end\n"
	"end\n"
	"for _, hex in ipairs(redis.call('SMEMBERS', U(uid, 'refresh'))) do\n"
	"  local ok, fam, used, e = rt_del(uid, hex)\n"
	"  if ok == 1 then\n"
	"    out[#out + 1] = hex out[#out + 1] = fam\n"
	"    out[#out + 1] = used or '0' out[#out + 1] = e or '0'\n"
	"    redis.call('DEL', U(uid, 'f:' .. fam))\n"
	"  end\n"
	"end\n"
	"redis.call('DEL', U(uid, 'refresh'))\n"
	"if mode == 'pw' then\n"
	"  redis.call('HSET', U(uid, 'user'), 'phc', ARGV[3], 'pw_changed', ARGV[4])\n"
	"elseif mode == 'del' then\n"
	"  redis.call('DEL', U(uid, 'user'), U(uid, 'sessions'))\n"
	"end\n"
	"moved(ARGV[6])\n"
	"return out\n"},

	/* ARGV: hex uid handle csrf created last_seen expires ip ua. -> {0, 1} stored,
	 * {0, 0} already expired (not stored), {0, 2} the handle is another session's, {1}
	 * no such user, {2} the session is there already. */
	[SC_U_SESS_ADD] = {RW
	"local hex, uid, exp = ARGV[1], ARGV[2], ARGV[7]\n"
	"if redis.call('EXISTS', U(uid, 's:' .. hex)) == 1 then return {2} end\n"
	"if redis.call('EXISTS', U(uid, 'user')) == 0 then return {1} end\n"
	"local hk = U(uid, 'h:' .. ARGV[3])\n"
	"if redis.call('EXISTS', hk) == 1 then return {0, 2} end\n"
	"if num(exp) <= clock() then return {0, 0} end\n"
	"local k = U(uid, 's:' .. hex)\n"
	"redis.call('HSET', k, 'handle', ARGV[3], 'csrf', ARGV[4], 'created', ARGV[5],\n"
	"           'last_seen', ARGV[6], 'expires', exp, 'ip', ARGV[8], 'ua', ARGV[9])\n"
	"expire_at(k, exp)\n"
	"redis.call('SET', hk, hex)\n"
	"expire_at(hk, exp)\n"
	"local sk = U(uid, 'sessions')\n"
	"local cur = redis.call('EXPIRETIME', sk)\n"
	"redis.call('SADD', sk, hex)\n"
	"stretch(sk, cur, exp)\n"
	"return {0, 1}\n"},

	/* ARGV: uid hex now older_than. -> {0, wrote (0/1)}; {1}: no such session. */
	[SC_U_SESS_TOUCH] = {RW
	"local k = U(ARGV[1], 's:' .. ARGV[2])\n"
	"local ls = redis.call('HGET', k, 'last_seen')\n"
	"if not ls then return {1} end\n"
	"if num(ls) < num(ARGV[4]) then\n"
	"  redis.call('HSET', k, 'last_seen', ARGV[3])\n"
	"  return {0, 1}\n"
	"end\n"
	"return {0, 0}\n"},

	/* ARGV: uid hex counter. -> {0, handle, expires} or {1} */
	[SC_U_SESS_DEL] = {RW
	"local ok, h, e = sess_del(ARGV[1], ARGV[2])\n"
	"if ok == 0 then return {1} end\n"
	"moved(ARGV[3])\n"
	"return {0, h, e or '0'}\n"},

	/* ARGV: uid handle-or-''  hex-or-''. A session of the user by handle or by hex.
	 * -> {0, hex, handle, expires} or {1} */
	[SC_U_SESS_FIND] = {RO
	"local hex = ARGV[3]\n"
	"if hex == '' then hex = redis.call('GET', U(ARGV[1], 'h:' .. ARGV[2])) end\n"
	"if not hex then return {1} end\n"
	"local f = redis.call('HMGET', U(ARGV[1], 's:' .. hex), 'handle', 'expires')\n"
	"if not f[1] or (ARGV[2] ~= '' and f[1] ~= ARGV[2]) then return {1} end\n"
	"return {0, hex, f[1], f[2] or '0'}\n"},

	/* ARGV: uid, hexes (netstrings; '' = all of the user's). -> {0, (uid, hex, 7
	 * fields)...} */
	[SC_U_SESS_LIST] = {RO
	"local uid, out = ARGV[1], {0}\n"
	"local hexes = unns(ARGV[2])\n"
	"if ARGV[2] == '' then hexes = redis.call('SMEMBERS', U(uid, 'sessions')) end\n"
	"for _, hex in ipairs(hexes) do\n"
	"  local f = redis.call('HMGET', U(uid, 's:' .. hex), " SESS_FIELDS ")\n"
	"  if f[1] then\n"
	SESS_OUT
	"  end\n"
	"end\n"
	"return out\n"},

	/* ARGV: hex family uid client_id scope created expires. -> {0, 1} stored, {0, 0}
	 * already expired, {1} no such user, {2} the token is there already. */
	[SC_U_RT_ADD] = {RW
	"local hex, fam, uid, exp = ARGV[1], ARGV[2], ARGV[3], ARGV[7]\n"
	"if redis.call('EXISTS', U(uid, 'r:' .. hex)) == 1 then return {2} end\n"
	"if redis.call('EXISTS', U(uid, 'user')) == 0 then return {1} end\n"
	"if num(exp) <= clock() then return {0, 0} end\n"
	"local k = U(uid, 'r:' .. hex)\n"
	"redis.call('HSET', k, 'family', fam, 'client_id', ARGV[4], 'scope', ARGV[5],\n"
	"           'created', ARGV[6], 'expires', exp, 'used_at', '0', 'next_access', '')\n"
	"expire_at(k, exp)\n"
	"for _, sk in ipairs({U(uid, 'refresh'), U(uid, 'f:' .. fam)}) do\n"
	"  local cur = redis.call('EXPIRETIME', sk)\n"
	"  redis.call('SADD', sk, hex)\n"
	"  stretch(sk, cur, exp)\n"
	"end\n"
	"return {0, 1}\n"},

	/* ARGV: uid hex now next_access. Only one caller moves used_at from 0. -> {0},
	 * {1} or {2} */
	[SC_U_RT_CLAIM] = {RW
	"local k = U(ARGV[1], 'r:' .. ARGV[2])\n"
	"local used = redis.call('HGET', k, 'used_at')\n"
	"if not used then return {1} end\n"
	"if num(used) ~= 0 then return {2} end\n"
	"redis.call('HSET', k, 'used_at', ARGV[3], 'next_access', ARGV[4])\n"
	"return {0}\n"},

	/* ARGV: uid family counter. Every refresh token of the family goes. -> {0, hex...} */
	[SC_U_FAM_WIPE] = {RW
	"local uid, fk = ARGV[1], U(ARGV[1], 'f:' .. ARGV[2])\n"
	"local out = {0}\n"
	"for _, hex in ipairs(redis.call('SMEMBERS', fk)) do\n"
	"  if rt_del(uid, hex) == 1 then out[#out + 1] = hex end\n"
	"end\n"
	"redis.call('DEL', fk)\n"
	"moved(ARGV[3])\n"
	"return out\n"},

	/* ARGV: uid, hexes (netstrings). Clears next_access of each (its grace window is
	 * over). -> {0, trimmed} */
	[SC_U_RT_TRIM] = {RW
	"local n = 0\n"
	"for _, hex in ipairs(unns(ARGV[2])) do\n"
	"  local k = U(ARGV[1], 'r:' .. hex)\n"
	"  local na = redis.call('HGET', k, 'next_access')\n"
	"  if na and na ~= '' then\n"
	"    redis.call('HSET', k, 'next_access', '')\n"
	"    n = n + 1\n"
	"  end\n"
	"end\n"
	"return {0, n}\n"},

	/* ---- keys of their own (KEYS[1] is the key) */

	/* ARGV: name secret_hash scope created. -> {0} or {2} */
	[SC_CLIENT_ADD] = {RW
	"if redis.call('EXISTS', KEYS[1]) == 1 then return {2} end\n"
	"redis.call('HSET', KEYS[1], 'name', ARGV[1], 'secret_hash', ARGV[2], 'scope', ARGV[3],\n"
	"           'created', ARGV[4])\n"
	"return {0}\n"},

	/* KEYS[1] = lk:fam:FAMILY. ARGV: uid expires. The family's owner pointer lives as
	 * long as its longest token. -> {0} */
	[SC_FAM_OWNER] = {RW
	"local owner = redis.call('GET', KEYS[1])\n"
	"if not owner then\n"
	"  redis.call('SET', KEYS[1], ARGV[1])\n"
	"  stretch(KEYS[1], -2, ARGV[2])\n"
	"elseif owner == ARGV[1] then\n"
	"  stretch(KEYS[1], redis.call('EXPIRETIME', KEYS[1]), ARGV[2])\n"
	"end\n"
	"return {0}\n"},

	/* KEYS[1] a pointer. ARGV: value. Deleted only while it still holds value. -> {0} */
	[SC_DEL_IF] = {RW
	"if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end\n"
	"return {0}\n"},

	/* KEYS[1] = lk:rl:{IP}:~. ARGV: pair ip now pair_free backoff_max ip_per_min step
	 * ('take' or 'release'). lk_rl_policy() of auth/rlpolicy.h, step for step: change
	 * the two together. Both keys share the IP's slot. Keys live backoff_max + 60 s
	 * after their last change. -> {0, wait}; a take that must wait writes nothing. */
	[SC_RL_STEP] = {RW
	"local i = R .. ':rl:{' .. ARGV[2] .. '}'\n"
	"local p = i .. ':' .. ARGV[1]\n"
	"local now, free, bmax, cap = num(ARGV[3]), num(ARGV[4]), num(ARGV[5]), num(ARGV[6])\n"
	"if cap <= 0 then cap = 1 end\n"
	"local rate, ttl = cap / 60, bmax + 60\n"
	"local pf = redis.call('HMGET', p, 'f', 'l')\n"
	"local ib = redis.call('HMGET', i, 't', 'l')\n"
	"local fails, plast = 0, 0\n"
	"if pf[2] and now - num(pf[2]) <= ttl then fails, plast = num(pf[1]), num(pf[2]) end\n"
	"local tok, ilast, had = cap, now, false\n"
	"if ib[2] and now - num(ib[2]) <= ttl then\n"
	"  tok, ilast, had = num(ib[1]), num(ib[2]), true\n"
	"end\n"
	"if now > ilast then tok = tok + (now - ilast) * rate end\n"
	"if tok > cap then tok = cap end\n"
	"if now > ilast then ilast = now end\n"
	"local wait = 0\n"
	"if tok < 1 then wait = math.floor((1 - tok) / rate) + 1 end\n"
	"if fails >= free then\n"
	"  local backoff = bmax\n"
	"  if fails - free < 30 then backoff = math.min(2 ^ (fails - free), bmax) end\n"
	"  if plast + backoff - now > wait then wait = plast + backoff - now end\n"
	"end\n"
	"if ARGV[7] == 'take' then\n"
	"  if wait > 0 then return {0, wait} end\n"
	"  redis.call('HSET', p, 'f', fails + 1, 'l', now)\n"
	"  redis.call('EXPIRE', p, ttl)\n"
	"  redis.call('HSET', i, 't', tostring(tok - 1), 'l', now)\n"
	"  redis.call('EXPIRE', i, ttl)\n"
	"  return {0, 0}\n"
	"end\n"
	"redis.call('DEL', p)\n"
	"if had then\n"
	"  redis.call('HSET', i, 't', tostring(math.min(cap, tok + 1)), 'l', ilast)\n"
	"  redis.call('EXPIRE', i, ttl)\n"
	"end\n"
	"return {0, 0}\n"},
};


static pthread_once_t lua_sha_once = PTHREAD_ONCE_INIT;
static bool lua_sha_ok;

static void lua_sha_init(void)
{
	lua_sha_ok = lk_rd_script_init(lua, SC_COUNT_);
}

static struct rd_store *rd(struct lk_store *st)
{
	return (struct rd_store *)st;
}

/* Key names start with the store's root (st->root: "lk", or "lk.NAMESPACE"). */
#define ROOT (st->root)

/* ROOT:{g}:suffix in buf[96]. */
static const char *gkey(const struct rd_store *st, char *buf, const char *suffix)
{
	snprintf(buf, 96, "%s:{g}:%s", ROOT, suffix);
	return buf;
}

/* A key of the global slot, in a buffer that lives as long as the enclosing block. */
#define GK(suffix) gkey(st, (char[96]){0}, suffix)

/* The key a script of several keys is called with: one in their slot that is never
 * written (docs/redis-keys.md "Slots"). */
static void user_slot(const struct rd_store *st, char *buf, size_t size, int64_t uid)
{
	snprintf(buf, size, "%s:{u:%lld}:~", ROOT, (long long)uid);
}

static enum lk_err gscript(struct rd_store *st, enum scr id, struct lk_rd_args *a,
			   redisReply **out)
{
	return lk_rd_eval(st, GK("~"), &lua[id], a, out);
}

static enum lk_err gscript0(struct rd_store *st, enum scr id, struct lk_rd_args *a)
{
	return lk_rd_eval0(st, GK("~"), &lua[id], a);
}

static enum lk_err uscript(struct rd_store *st, int64_t uid, enum scr id, struct lk_rd_args *a,
			   redisReply **out)
{
	char key[256];
	user_slot(st, key, sizeof key, uid);
	return lk_rd_eval(st, key, &lua[id], a, out);
}

/* The status of a script whose reply is {0, n}: n, or -1 when the reply has no n. */
static int64_t reply_n(const redisReply *r)
{
	int64_t n;
	return r->elements >= 2 && lk_rd_int(r->element[1], &n) ? n : -1;
}

/* One command with the given arguments (C strings); *out as lk_rd_cmd. */
static enum lk_err cmdv(struct rd_store *st, int argc, const char **argv, redisReply **out)
{
	size_t len[12];
	if (argc > 12)
		abort(); /* our bug: no command here has more arguments */
	for (int i = 0; i < argc; i++)
		len[i] = strlen(argv[i]);
	return lk_rd_cmd(st, argc, argv, len, out, NULL);
}

/* A command whose reply is not needed. */
static enum lk_err cmd_run(struct rd_store *st, int argc, const char **argv)
{
	redisReply *r = NULL;
	enum lk_err err = cmdv(st, argc, argv, &r);
	if (r)
		freeReplyObject(r);
	return err;
}

/* An id from a command's reply: LK_ENOT_FOUND for nil, LK_ESTORE_CORRUPT for anything
 * but an integer. */
static enum lk_err id_cmd(struct rd_store *st, int argc, const char **argv, int64_t *id)
{
	redisReply *r = NULL;
	enum lk_err err = cmdv(st, argc, argv, &r);
	if (err)
		return err;
	if (r->type == REDIS_REPLY_NIL)
		err = LK_ENOT_FOUND;
	else if (!lk_rd_int(r, id))
		err = LK_ESTORE_CORRUPT;
	freeReplyObject(r);
	return err;
}

/* The user id a pointer key (lk:sess:HEX, lk:rt:HEX, lk:fam:F) holds: LK_ENOT_FOUND
 * without one. */
static enum lk_err pointer_get(struct rd_store *st, const char *key, int64_t *uid)
{
	const char *argv[] = {"GET", key};
	return id_cmd(st, 2, argv, uid);
}

/*
 * The first step of an add: claim pointer key for uid with SET NX EXAT expires. true when
 * the add may go on: the pointer is now ours, or it was ours already (left by an add of the
 * same record that failed after this step: the user's slot step then tells whether the
 * record exists). *mine: this call made it (so a refused add takes it back). false: the
 * pointer is another user's (*err LK_EEXISTS) or the store failed (*err).
 */
static bool pointer_claim(struct rd_store *st, const char *key, int64_t uid, int64_t expires,
			  bool *mine, enum lk_err *err)
{
	char id[24], exat[24];
	redisReply *r = NULL;
	int64_t owner = -1;

	snprintf(id, sizeof id, "%lld", (long long)uid);
	snprintf(exat, sizeof exat, "%lld", (long long)expires);
	const char *argv[] = {"SET", key, id, "NX", "EXAT", exat};
	/* no TTL past FOREVER (EXAT would overflow); nor for an expired one, which the next
	 * step refuses to store and drops */
	int argc = expires > 0 && expires < 100000000000LL ? 6 : 4;
	if ((*err = cmdv(st, argc, argv, &r)))
		return false;
	*mine = r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	if (*mine)
		return true;
	if ((*err = pointer_get(st, key, &owner)) == LK_ENOT_FOUND) {
		*err = LK_EEXISTS; /* gone meanwhile: a racer's, to be safe */
		return false;
	}
	if (*err)
		return false;
	*err = owner == uid ? LK_OK : LK_EEXISTS;
	return owner == uid;
}

/* Drop a pointer while it still names uid (a failure leaves it to its TTL). */
static void pointer_drop(struct rd_store *st, const char *key, int64_t uid)
{
	struct lk_rd_args a = {0};
	lk_rd_arg_i64(&a, uid);
	(void)lk_rd_eval0(st, key, &lua[SC_DEL_IF], &a);
}

/*
 * The second step of an add: the record in user uid's slot by script id (reply {0, 1}
 * stored, {0, 0} already expired, {0, 2} a clash inside the slot, or a status). *stored:
 * the add goes on. A refusal takes back the pointer key when this call made it (mine),
 * and keeps it when the record is there (LK_EEXISTS from the script).
 */
static enum lk_err record_add(struct rd_store *st, int64_t uid, enum scr id,
			      struct lk_rd_args *a, const char *key, bool mine, bool *stored)
{
	redisReply *r = NULL;
	enum lk_err err = uscript(st, uid, id, a, &r);
	int64_t n = err ? 0 : reply_n(r);
	if (r)
		freeReplyObject(r);
	*stored = !err && n == 1;
	if (*stored)
		return LK_OK;
	if (mine && err != LK_EEXISTS)
		pointer_drop(st, key, uid);
	return err ? err : n == 0 ? LK_OK : n == 2 ? LK_EEXISTS : LK_ESTORE_CORRUPT;
}

/* Elements from.. of array reply r, each a revocation member of lk:{g}:rev (netstrings:
 * cursor type value before expires), those with expires > now appended to *v (of *n, room
 * for *cap; free() it). LK_ESTORE_CORRUPT on a malformed one, LK_ENOMEM. */
static enum lk_err parse_revocations(const redisReply *r, size_t from, int64_t now,
				     struct lk_revocation **v, size_t *n, size_t *cap)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements < from)
		return LK_ESTORE_CORRUPT;
	size_t need = *n + (r->elements - from);
	if (need > *cap) {
		struct lk_revocation *p = realloc(*v, need * sizeof *p);
		if (!p)
			return LK_ENOMEM;
		*v = p;
		*cap = need;
	}
	for (size_t i = from; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		struct lk_revocation x;
		const char *p = e->str, *end = e->str + e->len;
		memset(&x, 0, sizeof x);
		if (e->type != REDIS_REPLY_STRING || !lk_rd_ns_i64(&p, end, &x.cursor) ||
		    !lk_rd_ns_text(&p, end, x.type, sizeof x.type) ||
		    !lk_rd_ns_text(&p, end, x.value, sizeof x.value) || !lk_rd_ns_i64(&p, end, &x.before) ||
		    !lk_rd_ns_i64(&p, end, &x.expires))
			return LK_ESTORE_CORRUPT;
		if (x.expires > now)
			(*v)[(*n)++] = x;
	}
	return LK_OK;
}

/* What a change recorded, for its caller's callback (store.h: revoke_user). */
struct revs_out {
	struct lk_revocation *v;
	size_t n, cap;
};

/* Hand o's revocations to cb (until it returns non-zero; cb may be NULL) and free them. */
static void report(struct revs_out *o, lk_revocation_cb cb, void *ud)
{
	for (size_t i = 0; cb && i < o->n; i++)
		if (cb(ud, &o->v[i]))
			break;
	free(o->v);
	memset(o, 0, sizeof *o);
}

/*
 * RD_CLUSTER, after a user's slot step published the counter: publish it again on the node
 * serving {g}, where every instance's subscriber is. A PUBLISH reaches the other nodes over
 * the cluster bus, a hop later than the reply to its caller; this one reaches the
 * subscribers as one Redis would, before its own reply, so that a change is heard by every
 * instance before the process that made it goes on (the CLI included). Duplicates only move
 * the generation once more.
 */
static void announce(struct rd_store *st, int64_t counter)
{
	char c[24];
	if (st->mode != RD_CLUSTER)
		return;
	snprintf(c, sizeof c, "%lld", (long long)counter);
	const char *argv[] = {"PUBLISH", st->channel, c};
	(void)cmd_run(st, 3, argv);
}

/* ---------------------------------------------------------------- netstring lists */

/* A growing list of netstrings: script arguments that carry lists. */
struct nsb {
	char *p;
	size_t len, cap;
	bool oom;
};

static void nsb_add(struct nsb *b, const char *s, size_t n)
{
	char head[24];
	int h = snprintf(head, sizeof head, "%zu:", n);
	size_t need = b->len + (size_t)h + n + 1;
	if (b->oom)
		return;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < need)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, head, (size_t)h);
	memcpy(b->p + b->len + h, s, n);
	b->p[b->len + h + n] = ',';
	b->len = need;
}

static void nsb_str(struct nsb *b, const char *s)
{
	nsb_add(b, s, strlen(s));
}

static void nsb_i64(struct nsb *b, int64_t v)
{
	char x[24];
	snprintf(x, sizeof x, "%lld", (long long)v);
	nsb_str(b, x);
}

/* An index member "ID:HEX". */
static void nsb_member(struct nsb *b, int64_t uid, const char *hex)
{
	char m[96];
	snprintf(m, sizeof m, "%lld:%s", (long long)uid, hex);
	nsb_str(b, m);
}

/* A revocation for SC_G_RECORD: recorded when cond is 0, or when cond (an expiry) is
 * still ahead by the Redis clock. expires 0: now + revocation_ttl. */
static void nsb_rev(struct nsb *b, const char *type, const char *value, int64_t before,
		    int64_t expires, int64_t cond)
{
	nsb_str(b, type);
	nsb_str(b, value);
	nsb_i64(b, before);
	if (expires)
		nsb_i64(b, expires);
	else
		nsb_add(b, "", 0);
	if (cond)
		nsb_i64(b, cond);
	else
		nsb_add(b, "", 0);
}

static void nsb_free(struct nsb *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/*
 * The global step of a change: record the revocations in revs, drop the index members,
 * free a deleted user's name (name/name_id: NULL, or the name while it still names that
 * id), and move the counter by `bump` (SC_G_RECORD: '0', '1' or 'q', which gives
 * *counter, may be NULL, for the user's slot step to publish). out (may be NULL) gets
 * each revocation recorded.
 */
static enum lk_err g_record(struct rd_store *st, struct nsb *revs, struct nsb *sess,
			    struct nsb *used, const char *name, int64_t name_id, char bump,
			    int64_t *counter, struct revs_out *out)
{
	struct lk_rd_args a = {0};
	redisReply *r = NULL;
	enum lk_err err;
	char b[2] = {bump, '\0'};

	if (revs->oom || sess->oom || used->oom)
		return LK_ENOMEM;
	lk_rd_arg(&a, revs->p ? revs->p : "", revs->len);
	lk_rd_arg(&a, sess->p ? sess->p : "", sess->len);
	lk_rd_arg(&a, used->p ? used->p : "", used->len);
	lk_rd_arg_str(&a, name ? name : "", LK_NAME_MAX);
	lk_rd_arg_i64(&a, name_id);
	lk_rd_arg_str(&a, b, 1);
	if ((err = gscript(st, SC_G_RECORD, &a, &r)))
		return err;
	int64_t c = reply_n(r);
	if (out)
		err = parse_revocations(r, 2, INT64_MIN, &out->v, &out->n, &out->cap);
	freeReplyObject(r);
	if (counter)
		*counter = c;
	return err;
}

/* ---------------------------------------------------------------- what a change ends */

struct ended_sess {
	char hex[65];
	char handle[LK_HANDLE_LEN + 1];
	int64_t expires;
};

struct ended_rt {
	char hex[65];
	char family[LK_HANDLE_LEN + 1];
	int64_t used_at, expires;
};

/* Sessions and refresh tokens of one user, from the reply {0, nsess, (hex handle
 * expires)..., (hex family used_at expires)...} of SC_U_SCAN or SC_U_WIPE. */
struct ended {
	size_t ns, nt;
	struct ended_sess *s;
	struct ended_rt *t;
};

static void ended_free(struct ended *e)
{
	free(e->s);
	free(e->t);
	memset(e, 0, sizeof *e);
}

static enum lk_err ended_parse(const redisReply *r, struct ended *e)
{
	int64_t ns;
	memset(e, 0, sizeof *e);
	if (r->elements < 2 || !lk_rd_int(r->element[1], &ns) || ns < 0 ||
	    (size_t)ns * 3 > r->elements - 2 || (r->elements - 2 - (size_t)ns * 3) % 4)
		return LK_ESTORE_CORRUPT;
	e->ns = (size_t)ns;
	e->nt = (r->elements - 2 - e->ns * 3) / 4;
	if ((e->ns && !(e->s = calloc(e->ns, sizeof *e->s))) ||
	    (e->nt && !(e->t = calloc(e->nt, sizeof *e->t)))) {
		ended_free(e);
		return LK_ENOMEM;
	}
	redisReply *const *x = r->element + 2;
	for (size_t i = 0; i < e->ns; i++, x += 3)
		if (!lk_rd_text(x[0], e->s[i].hex, sizeof e->s[i].hex) ||
		    !lk_rd_text(x[1], e->s[i].handle, sizeof e->s[i].handle) ||
		    !lk_rd_int(x[2], &e->s[i].expires))
			goto bad;
	for (size_t i = 0; i < e->nt; i++, x += 4)
		if (!lk_rd_text(x[0], e->t[i].hex, sizeof e->t[i].hex) ||
		    !lk_rd_text(x[1], e->t[i].family, sizeof e->t[i].family) ||
		    !lk_rd_int(x[2], &e->t[i].used_at) || !lk_rd_int(x[3], &e->t[i].expires))
			goto bad;
	return LK_OK;
bad:
	ended_free(e);
	return LK_ESTORE_CORRUPT;
}

static bool has_sess(const struct ended *e, const char *hex)
{
	for (size_t i = 0; e && i < e->ns; i++)
		if (!strcmp(e->s[i].hex, hex))
			return true;
	return false;
}

static bool has_family(const struct ended *e, const char *family, size_t upto)
{
	for (size_t i = 0; e && i < upto && i < e->nt; i++)
		if (!strcmp(e->t[i].family, family))
			return true;
	return false;
}

/* How a change of a whole user records the refresh families it ends. */
enum fam_rule {
	FAM_HEADS, /* each live head (unused, unexpired) as its family's sid: the trigger */
	FAM_UNTIL, /* each family once, until a given time, whatever its tokens */
};

/*
 * The revocations owed for what e lists, leaving out what `skip` lists (recorded
 * already): each session's handle while it has not expired (the sessions_end trigger),
 * and the families by `rule`.
 */
static void owed(struct nsb *revs, const struct ended *e, const struct ended *skip,
		 enum fam_rule rule, int64_t until)
{
	for (size_t i = 0; i < e->ns; i++)
		if (!has_sess(skip, e->s[i].hex))
			nsb_rev(revs, "sid", e->s[i].handle, 0, 0, e->s[i].expires);
	for (size_t i = 0; i < e->nt; i++) {
		const struct ended_rt *t = &e->t[i];
		if (rule == FAM_HEADS && t->used_at == 0 && !has_family(skip, t->family, SIZE_MAX))
			nsb_rev(revs, "sid", t->family, 0, 0, t->expires);
		else if (rule == FAM_UNTIL && !has_family(e, t->family, i) &&
			 !has_family(skip, t->family, SIZE_MAX))
			nsb_rev(revs, "sid", t->family, 0, until, 0);
	}
}

/* The index members and pointers of what went: the global step drops the members, then
 * the pointers go one by one. */
static void index_members(struct nsb *sess, struct nsb *used, const struct ended *e, int64_t uid)
{
	for (size_t i = 0; i < e->ns; i++)
		nsb_member(sess, uid, e->s[i].hex);
	for (size_t i = 0; i < e->nt; i++)
		nsb_member(used, uid, e->t[i].hex);
}

static void drop_pointers(struct rd_store *st, const struct ended *e, int64_t uid)
{
	char key[256];
	for (size_t i = 0; i < e->ns; i++) {
		snprintf(key, sizeof key, "%s:sess:%s", ROOT, e->s[i].hex);
		pointer_drop(st, key, uid);
	}
	for (size_t i = 0; i < e->nt; i++) {
		snprintf(key, sizeof key, "%s:rt:%s", ROOT, e->t[i].hex);
		pointer_drop(st, key, uid);
		if (!has_family(e, e->t[i].family, i)) {
			snprintf(key, sizeof key, "%s:fam:%s", ROOT, e->t[i].family);
			pointer_drop(st, key, uid);
		}
	}
}

/*
 * End everything of user uid but the session keep (hex or ""): mode "pw" also sets the
 * password (phc, pw_changed), "del" deletes the user (name: its name, freed from the
 * index), "rev" nothing more. In single-slot steps, revocations first, so that a crash
 * between steps leaves something revoked that still exists, never something ended that is
 * not revoked (docs/redis-keys.md "Changes of a whole user"):
 *   1. scan the user's slot (read only);
 *   2. record in {g} what the scan shows (and the `sub` revocation of pw/del), bump;
 *   3. wipe the user's slot (its PUBLISH moves every generation);
 *   4. record in {g} what the wipe ended that the scan had not seen (a session added in
 *      between), drop the index members, free the name;
 *   5. drop the pointers.
 * *sessions, *families (may be NULL): what went; rep (may be NULL) gets each revocation
 * recorded.
 */
static enum lk_err user_end(struct rd_store *st, int64_t uid, const char *mode, const char *phc,
			    int64_t pw_changed, const char *name, const char *keep,
			    enum fam_rule rule, int64_t until, int64_t *sessions, int64_t *families,
			    struct revs_out *rep)
{
	struct lk_rd_args a = {0};
	struct nsb revs = {0}, none = {0}, sess = {0}, used = {0};
	struct ended scan = {0}, gone = {0};
	redisReply *r = NULL;
	int64_t counter = 0;
	enum lk_err err;
	bool whole = strcmp(mode, "rev") != 0;

	lk_rd_arg_i64(&a, uid);
	if ((err = uscript(st, uid, SC_U_SCAN, &a, &r)))
		return err;
	err = ended_parse(r, &scan);
	freeReplyObject(r);
	r = NULL;
	if (err)
		return err;
	if (keep[0]) /* the kept session is not ended */
		for (size_t i = 0; i < scan.ns; i++)
			if (!strcmp(scan.s[i].hex, keep))
				scan.s[i] = scan.s[--scan.ns];
	if (!whole && !scan.ns && !scan.nt)
		goto out; /* nothing to end: nothing moves */

	owed(&revs, &scan, NULL, rule, until);
	if (!strcmp(mode, "pw") || !strcmp(mode, "del")) {
		char id[24];
		snprintf(id, sizeof id, "%lld", (long long)uid);
		nsb_str(&revs, "sub");
		nsb_str(&revs, id);
		if (!strcmp(mode, "pw"))
			nsb_i64(&revs, pw_changed);
		else
			nsb_str(&revs, "+1"); /* before = now + 1, by the Redis clock */
		nsb_add(&revs, "", 0);
		nsb_add(&revs, "", 0);
	}
	if ((err = g_record(st, &revs, &none, &none, NULL, 0, 'q', &counter, rep)))
		goto out;

	a = (struct lk_rd_args){0};
	lk_rd_arg_i64(&a, uid);
	lk_rd_arg_str(&a, mode, 3);
	lk_rd_arg_str(&a, phc ? phc : "", LK_PHC_MAX);
	lk_rd_arg_i64(&a, pw_changed);
	lk_rd_arg_str(&a, keep, 64);
	lk_rd_arg_i64(&a, counter);
	if ((err = uscript(st, uid, SC_U_WIPE, &a, &r)))
		goto out;
	announce(st, counter);
	err = ended_parse(r, &gone);
	freeReplyObject(r);
	r = NULL;
	if (err)
		goto out;
	nsb_free(&revs);
	owed(&revs, &gone, &scan, rule, until);
	index_members(&sess, &used, &gone, uid);
	if (revs.len || sess.len || used.len || (name && !strcmp(mode, "del")))
		err = g_record(st, &revs, &sess, &used, !strcmp(mode, "del") ? name : NULL, uid,
			       '0', NULL, rep);
	lk_rd_sub_bump(st);
	if (err)
		goto out;
	drop_pointers(st, &gone, uid);
	if (sessions)
		*sessions = (int64_t)gone.ns;
	if (families) {
		int64_t nf = 0;
		for (size_t i = 0; i < gone.nt; i++)
			nf += !has_family(&gone, gone.t[i].family, i);
		*families = nf;
	}
out:
	nsb_free(&revs);
	nsb_free(&sess);
	nsb_free(&used);
	ended_free(&scan);
	ended_free(&gone);
	return err;
}


/* ---------------------------------------------------------------- replies */

/* Six elements at e: id name roles phc created pw_changed. */
static bool parse_user(redisReply *const *e, struct lk_user *u)
{
	memset(u, 0, sizeof *u);
	return lk_rd_int(e[0], &u->id) && lk_rd_text(e[1], u->name, sizeof u->name) &&
	       lk_rd_text(e[2], u->roles, sizeof u->roles) && lk_rd_text(e[3], u->phc, sizeof u->phc) &&
	       lk_rd_int(e[4], &u->created) && lk_rd_int(e[5], &u->pw_changed);
}

/* Nine elements at e: uid hex handle csrf created last_seen expires ip ua. */
static bool parse_session(redisReply *const *e, struct lk_session *s)
{
	memset(s, 0, sizeof *s);
	return lk_rd_int(e[0], &s->user_id) && lk_rd_hash(e[1], s->id_hash) &&
	       lk_rd_text(e[2], s->handle, sizeof s->handle) &&
	       lk_rd_text(e[3], s->csrf, sizeof s->csrf) && lk_rd_int(e[4], &s->created) &&
	       lk_rd_int(e[5], &s->last_seen) && lk_rd_int(e[6], &s->expires) &&
	       lk_rd_text(e[7], s->ip, sizeof s->ip) && lk_rd_text(e[8], s->user_agent, sizeof s->user_agent);
}

/* ---------------------------------------------------------------- open / close */

static void rd_close(struct lk_store *base)
{
	lk_rd_free(rd(base));
}

/* Claim the database for this layout version, migrate an older one, or refuse a newer
 * one. */
static enum lk_err check_schema(struct rd_store *st, struct lk_errinfo *ei)
{
	char ver[16];
	const char *argv[] = {"SET", GK("schema"), ver, "NX", "GET"};
	redisReply *r = NULL;
	int64_t v = 0;
	enum lk_err err;

	snprintf(ver, sizeof ver, "%d", SCHEMA_VERSION);
	if ((err = cmdv(st, 5, argv, &r)))
		return lk_errf(ei, err, "%s: cannot read the layout version", st->where);
	if (r->type == REDIS_REPLY_NIL) {
		err = LK_OK;
	} else if (!lk_rd_int(r, &v) || v < 1) {
		err = lk_errf(ei, LK_ESTORE_CORRUPT, "%s: lk:{g}:schema is not a layout version",
			      st->where);
	} else if (v > SCHEMA_VERSION) {
		err = lk_errf(ei, LK_ESTORE_VERSION,
			      "%s: layout v%lld is newer than this latchkey (v%d); upgrade",
			      st->where, (long long)v, SCHEMA_VERSION);
	} else if (v < SCHEMA_VERSION) {
		/* Older layouts ran on one server only: their scripts crossed slots. */
		struct lk_rd_args a = {0};
		if ((v == 1 && (err = gscript0(st, SC_MIGRATE_2, &a))) ||
		    (err = gscript0(st, SC_MIGRATE_3, &a)))
			err = lk_errf(ei, err, "%s: cannot migrate layout v%lld to v%d", st->where,
				      (long long)v, SCHEMA_VERSION);
	}
	freeReplyObject(r);
	return err;
}

/*
 * Open the store named by rest (see lk_rd_new; the password may come from
 * LATCHKEY_REDIS_PASSWORD instead). Connects once, so that a wrong address or password
 * fails here and not on the first login; the opening thread keeps the connection. On
 * failure *out is NULL and ei says why, naming the store without its password.
 */
static enum lk_err open_mode(const char *rest, enum rd_mode mode, const struct lk_store_ops *ops,
			     struct lk_store **out, struct lk_errinfo *ei)
{
	struct rd_store *st;
	struct rconn *c;
	enum lk_err err;

	*out = NULL;
	pthread_once(&lua_sha_once, lua_sha_init);
	if (!lua_sha_ok)
		return lk_errf(ei, LK_ECRYPTO, "cannot hash the store's scripts (SHA-1)");
	if ((err = lk_rd_new(rest, mode, ops, &st, ei)))
		return err;
	if ((err = lk_rd_conn_get(st, &c, ei)) || (err = lk_rd_check_policy(st, c, ei)) ||
	    (err = check_schema(st, ei))) {
		lk_rd_free(st);
		return err;
	}
	*out = &st->base;
	return LK_OK;
}

static enum lk_err rd_open(const char *rest, struct lk_store **out, struct lk_errinfo *ei)
{
	return open_mode(rest, RD_SINGLE, &lk_store_redis_ops, out, ei);
}

/* "redis+sentinel://...": the same store on the primary the sentinels name (rest as
 * lk_rd_new's RD_SENTINEL form). */
static enum lk_err rd_open_sentinel(const char *rest, struct lk_store **out,
				    struct lk_errinfo *ei)
{
	return open_mode(rest, RD_SENTINEL, &lk_store_redis_sentinel_ops, out, ei);
}

/* "redis+cluster://...": the same store on a Redis Cluster, each call to the primary
 * serving its slot (rest as lk_rd_new's RD_CLUSTER form). */
static enum lk_err rd_open_cluster(const char *rest, struct lk_store **out,
				   struct lk_errinfo *ei)
{
	return open_mode(rest, RD_CLUSTER, &lk_store_redis_cluster_ops, out, ei);
}

static enum lk_err rd_ping(struct lk_store *base)
{
	const char *argv[] = {"PING"};
	redisReply *r = NULL;
	enum lk_err err = cmdv(rd(base), 1, argv, &r);
	if (err)
		return err;
	err = r->type == REDIS_REPLY_STATUS && r->len == 4 && !memcmp(r->str, "PONG", 4)
		      ? LK_OK
		      : LK_ESTORE;
	freeReplyObject(r);
	return err;
}

/* An atomic load, fed by the subscriber (redis_sub.c); random while it is not subscribed. */
static uint64_t rd_generation(struct lk_store *base)
{
	return lk_rd_sub_generation(rd(base));
}

static uint64_t rd_generation_wait(struct lk_store *base, uint64_t seen, int timeout_ms)
{
	return lk_rd_sub_wait(rd(base), seen, timeout_ms);
}

/* ---------------------------------------------------------------- users */

/*
 * Three single-slot steps: a fresh id from {g} (unless the name is taken), the user's
 * hash in its slot, then the name claimed in {g}. A name claimed meanwhile by another
 * user_add makes this one drop its hash and answer LK_EEXISTS; a crash between the steps
 * leaves a hash that no name reaches (harmless: nothing can sign in as it).
 */
static enum lk_err uscript0(struct rd_store *st, int64_t uid, enum scr id, struct lk_rd_args *a)
{
	char key[256];
	user_slot(st, key, sizeof key, uid);
	return lk_rd_eval0(st, key, &lua[id], a);
}

static enum lk_err rd_user_add(struct lk_store *base, struct lk_user *u)
{
	struct rd_store *st = rd(base);
	redisReply *r = NULL;
	enum lk_err err;
	int64_t id = 0;

	if (!u || !u->name[0] || !u->phc[0])
		return LK_EINVAL;
	/* An id whose hash exists (left by an add that crashed) is skipped. */
	for (int tries = 0;; tries++) {
		struct lk_rd_args a = {0};
		lk_rd_arg_str(&a, u->name, sizeof u->name - 1);
		if ((err = gscript(st, SC_G_USER_ID, &a, &r)))
			return err;
		id = reply_n(r);
		freeReplyObject(r);
		if (id < 1)
			return LK_ESTORE_CORRUPT;
		a = (struct lk_rd_args){0};
		lk_rd_arg_i64(&a, id);
		lk_rd_arg_str(&a, u->name, sizeof u->name - 1);
		lk_rd_arg_str(&a, u->roles, sizeof u->roles - 1);
		lk_rd_arg_str(&a, u->phc, sizeof u->phc - 1);
		lk_rd_arg_i64(&a, u->created);
		lk_rd_arg_i64(&a, u->pw_changed);
		err = uscript0(st, id, SC_U_USER_ADD, &a);
		if (err != LK_EEXISTS)
			break;
		if (tries == 8)
			return LK_ESTORE_CORRUPT;
	}
	if (err)
		return err;
	struct lk_rd_args a = {0};
	lk_rd_arg_str(&a, u->name, sizeof u->name - 1);
	lk_rd_arg_i64(&a, id);
	if ((err = gscript0(st, SC_G_NAME_CLAIM, &a)) == LK_EEXISTS) {
		char key[256];
		snprintf(key, sizeof key, "%s:{u:%lld}:user", ROOT, (long long)id);
		const char *argv[] = {"DEL", key};
		(void)cmd_run(st, 2, argv);
	}
	if (!err)
		u->id = id;
	return err;
}

/* The id the name index holds for name. */
static enum lk_err name_id(struct rd_store *st, const char *name, int64_t *id)
{
	const char *argv[] = {"HGET", GK("names"), name};
	return id_cmd(st, 3, argv, id);
}

/* A user by name: the index, then the user's hash (gone meanwhile: not found). */
static enum lk_err rd_user_get(struct lk_store *base, const char *name, struct lk_user *out)
{
	int64_t id;
	enum lk_err err;

	if (!name || !out)
		return LK_EINVAL;
	if (strnlen(name, LK_NAME_MAX + 1) > LK_NAME_MAX)
		return LK_ENOT_FOUND; /* could not have been added */
	if ((err = name_id(rd(base), name, &id)))
		return err;
	return base->ops->user_get_id(base, id, out);
}


static enum lk_err rd_user_get_id(struct lk_store *base, int64_t id, struct lk_user *out)
{
	struct rd_store *st = rd(base);
	char key[256];
	const char *argv[] = {"HMGET", key, "name", "roles", "phc", "created", "pw_changed"};
	struct lk_user u;
	redisReply *r, *e[6], idr;
	enum lk_err err;

	if (!out)
		return LK_EINVAL;
	snprintf(key, sizeof key, "%s:{u:%lld}:user", ROOT, (long long)id);
	if ((err = cmdv(rd(base), 7, argv, &r)))
		return err;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 5) {
		err = LK_ESTORE_CORRUPT;
	} else if (r->element[0]->type == REDIS_REPLY_NIL) {
		err = LK_ENOT_FOUND;
	} else {
		memset(&idr, 0, sizeof idr);
		idr.type = REDIS_REPLY_INTEGER;
		idr.integer = id;
		e[0] = &idr;
		for (int i = 0; i < 5; i++)
			e[i + 1] = r->element[i];
		if (parse_user(e, &u))
			*out = u;
		else
			err = LK_ESTORE_CORRUPT;
	}
	freeReplyObject(r);
	return err;
}

/* A password change or a deletion: every session and refresh token of the user ends with
 * it (user_end). */
static enum lk_err user_change(struct rd_store *st, const char *name, const char *phc,
			       int64_t now, lk_revocation_cb cb, void *ud)
{
	struct revs_out rep = {0};
	int64_t id;
	enum lk_err err = name_id(st, name, &id);
	if (err)
		return err;
	err = user_end(st, id, phc ? "pw" : "del", phc, now, name, "", FAM_HEADS, 0, NULL, NULL,
		       &rep);
	/* reported once the whole change is done, and on a replica where there is one */
	if ((err = lk_rd_settle(st, err)))
		rep.n = 0;
	report(&rep, cb, ud);
	return err;
}

static enum lk_err rd_user_set_password(struct lk_store *base, const char *name,
					const char *phc, int64_t now, lk_revocation_cb cb, void *ud)
{
	if (!name || !phc || !phc[0] || strnlen(phc, LK_PHC_MAX + 1) > LK_PHC_MAX)
		return LK_EINVAL;
	if (strnlen(name, LK_NAME_MAX + 1) > LK_NAME_MAX)
		return LK_ENOT_FOUND;
	return user_change(rd(base), name, phc, now, cb, ud);
}

static enum lk_err rd_user_del(struct lk_store *base, const char *name, lk_revocation_cb cb,
			       void *ud)
{
	if (!name)
		return LK_EINVAL;
	if (strnlen(name, LK_NAME_MAX + 1) > LK_NAME_MAX)
		return LK_ENOT_FOUND;
	return user_change(rd(base), name, NULL, 0, cb, ud);
}

static int cmp_user(const void *x, const void *y)
{
	return strcmp(((const struct lk_user *)x)->name, ((const struct lk_user *)y)->name);
}

/* Ordered by name (bytewise, as SQLite's BINARY collation): the name index, then each
 * user's hash (one round trip per user; one gone meanwhile is left out). */
static enum lk_err rd_user_list(struct lk_store *base, lk_user_cb cb, void *ud)
{
	struct rd_store *st = rd(base);
	const char *argv[] = {"HVALS", GK("names")};
	struct lk_user *v = NULL;
	redisReply *r = NULL;
	enum lk_err err;
	size_t n = 0;

	if (!cb)
		return LK_EINVAL;
	if ((err = cmdv(rd(base), 2, argv, &r)))
		return err;
	if (r->type != REDIS_REPLY_ARRAY) {
		err = LK_ESTORE_CORRUPT;
		goto out;
	}
	if (r->elements && !(v = calloc(r->elements, sizeof *v))) {
		err = LK_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r->elements; i++) {
		int64_t id;
		if (!lk_rd_int(r->element[i], &id)) {
			err = LK_ESTORE_CORRUPT;
			goto out;
		}
		err = rd_user_get_id(base, id, &v[n]);
		if (err == LK_ENOT_FOUND)
			continue;
		if (err)
			goto out;
		n++;
	}
	err = LK_OK;
	freeReplyObject(r);
	r = NULL;
	if (n)
		qsort(v, n, sizeof *v, cmp_user);
	for (size_t i = 0; i < n; i++)
		if (cb(ud, &v[i]))
			break;
out:
	if (r)
		freeReplyObject(r);
	if (v)
		sodium_memzero(v, (r ? r->elements : n) * sizeof *v);
	free(v);
	return err;
}

/* One command with an integer reply into *n. */
static enum lk_err count_cmd(struct rd_store *st, int argc, const char **argv, int64_t *n)
{
	redisReply *r = NULL;
	enum lk_err err;

	if (!n)
		return LK_EINVAL;
	if ((err = cmdv(st, argc, argv, &r)))
		return err;
	if (r->type == REDIS_REPLY_INTEGER)
		*n = r->integer;
	else
		err = LK_ESTORE_CORRUPT;
	freeReplyObject(r);
	return err;
}

static enum lk_err rd_user_count(struct lk_store *base, int64_t *n)
{
	struct rd_store *st = rd(base);
	const char *argv[] = {"HLEN", GK("names")};
	return count_cmd(rd(base), 2, argv, n);
}

/* ---------------------------------------------------------------- sessions */

/*
 * The pointer first (pointer_claim: the id_hash is unique), then the session in its user's
 * slot (LK_EEXISTS only when the session is there), then the global indexes. A failure of
 * the second step takes a pointer it made back; a crash
 * leaves a pointer to nothing (harmless, gone at its TTL) or a session the indexes do not
 * list (still found by its cookie, still ending at its TTL, missed only by listings of
 * everyone and the idle purge).
 */
static enum lk_err rd_session_add(struct lk_store *base, const struct lk_session *s)
{
	struct rd_store *st = rd(base);
	struct lk_rd_args a = {0};
	char hex[65], key[256], member[96];
	enum lk_err err;

	if (!s || !s->handle[0])
		return LK_EINVAL;
	bool mine;
	lk_rd_hex(s->id_hash, 32, hex);
	snprintf(key, sizeof key, "%s:sess:%s", ROOT, hex);
	if (!pointer_claim(st, key, s->user_id, s->expires, &mine, &err))
		return err;
	lk_rd_arg(&a, hex, 64);
	lk_rd_arg_i64(&a, s->user_id);
	lk_rd_arg_str(&a, s->handle, sizeof s->handle - 1);
	lk_rd_arg_str(&a, s->csrf, sizeof s->csrf - 1);
	lk_rd_arg_i64(&a, s->created);
	lk_rd_arg_i64(&a, s->last_seen);
	lk_rd_arg_i64(&a, s->expires);
	lk_rd_arg_str(&a, s->ip, sizeof s->ip - 1);
	lk_rd_arg_str(&a, s->user_agent, sizeof s->user_agent - 1);
	bool stored;
	if ((err = record_add(st, s->user_id, SC_U_SESS_ADD, &a, key, mine, &stored)) || !stored)
		return err;
	a = (struct lk_rd_args){0};
	snprintf(member, sizeof member, "%lld:%s", (long long)s->user_id, hex);
	lk_rd_arg_str(&a, member, sizeof member - 1);
	lk_rd_arg_i64(&a, s->expires);
	lk_rd_arg_i64(&a, s->last_seen);
	return gscript0(st, SC_G_SESS_INDEX, &a);
}

/* The hot path, when the cache misses: the pointer, then the user's hash. */
static enum lk_err rd_session_get(struct lk_store *base, const unsigned char id_hash[32],
				  struct lk_session *out)
{
	struct rd_store *st = rd(base);
	char hex[65], key[256];
	redisReply *r = NULL;
	struct lk_session s;
	int64_t uid;
	enum lk_err err;

	if (!id_hash || !out)
		return LK_EINVAL;
	lk_rd_hex(id_hash, 32, hex);
	snprintf(key, sizeof key, "%s:sess:%s", ROOT, hex);
	if ((err = pointer_get(st, key, &uid)))
		return err;
	snprintf(key, sizeof key, "%s:{u:%lld}:s:%s", ROOT, (long long)uid, hex);
	const char *argv[] = {"HMGET", key, "handle", "csrf", "created", "last_seen",
			      "expires", "ip", "ua"};
	if ((err = cmdv(st, 9, argv, &r)))
		return err;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 7) {
		err = LK_ESTORE_CORRUPT;
	} else if (r->element[0]->type == REDIS_REPLY_NIL) {
		err = LK_ENOT_FOUND;
	} else {
		redisReply uidr, hexr, *e[9];
		memset(&uidr, 0, sizeof uidr);
		uidr.type = REDIS_REPLY_INTEGER;
		uidr.integer = uid;
		memset(&hexr, 0, sizeof hexr);
		hexr.type = REDIS_REPLY_STRING;
		hexr.str = hex;
		hexr.len = 64;
		e[0] = &uidr;
		e[1] = &hexr;
		for (int i = 0; i < 7; i++)
			e[i + 2] = r->element[i];
		if (parse_session(e, &s))
			*out = s;
		else
			err = LK_ESTORE_CORRUPT;
	}
	freeReplyObject(r);
	return err;
}

/* LK_OK when the session exists (last_seen moved or not), LK_ENOT_FOUND when not. */
static enum lk_err rd_session_touch(struct lk_store *base, const unsigned char id_hash[32],
				    int64_t now, int64_t older_than)
{
	struct rd_store *st = rd(base);
	struct lk_rd_args a = {0};
	char hex[65], key[256];
	redisReply *r = NULL;
	int64_t uid;
	enum lk_err err;

	if (!id_hash)
		return LK_EINVAL;
	lk_rd_hex(id_hash, 32, hex);
	snprintf(key, sizeof key, "%s:sess:%s", ROOT, hex);
	if ((err = pointer_get(st, key, &uid)))
		return err;
	lk_rd_arg_i64(&a, uid);
	lk_rd_arg(&a, hex, 64);
	lk_rd_arg_i64(&a, now);
	lk_rd_arg_i64(&a, older_than);
	if ((err = uscript(st, uid, SC_U_SESS_TOUCH, &a, &r)))
		return err;
	int64_t wrote = reply_n(r);
	freeReplyObject(r);
	if (wrote == 1) {
		char score[24], member[96];
		snprintf(score, sizeof score, "%lld", (long long)now);
		snprintf(member, sizeof member, "%lld:%s", (long long)uid, hex);
		const char *argv[] = {"ZADD", GK("sess_seen"), "XX", score, member};
		(void)cmd_run(st, 5, argv); /* the idle purge's index: a failure only delays it */
	}
	return LK_OK;
}

/*
 * End one session of user uid, found by hex or by handle: read it in the user's slot,
 * record its revocation (while unexpired) and drop its index members in {g}, delete it in
 * the user's slot, drop the pointer. LK_ENOT_FOUND when there is no such session.
 */
static enum lk_err sess_end(struct rd_store *st, int64_t uid, const char *hex,
			    const char *handle)
{
	struct lk_rd_args a = {0};
	struct nsb revs = {0}, sess = {0}, none = {0};
	char found[65], h[LK_HANDLE_LEN + 1], key[256];
	redisReply *r = NULL;
	int64_t expires;
	enum lk_err err;

	lk_rd_arg_i64(&a, uid);
	lk_rd_arg_str(&a, handle, LK_HANDLE_LEN);
	lk_rd_arg_str(&a, hex, 64);
	if ((err = uscript(st, uid, SC_U_SESS_FIND, &a, &r)))
		return err;
	bool ok = r->elements == 4 && lk_rd_text(r->element[1], found, sizeof found) &&
		  lk_rd_text(r->element[2], h, sizeof h) && lk_rd_int(r->element[3], &expires);
	freeReplyObject(r);
	if (!ok)
		return LK_ESTORE_CORRUPT;
	nsb_rev(&revs, "sid", h, 0, 0, expires);
	nsb_member(&sess, uid, found);
	int64_t counter = 0;
	err = g_record(st, &revs, &sess, &none, NULL, 0, 'q', &counter, NULL);
	nsb_free(&revs);
	nsb_free(&sess);
	if (err)
		return err;
	a = (struct lk_rd_args){0};
	lk_rd_arg_i64(&a, uid);
	lk_rd_arg(&a, found, 64);
	lk_rd_arg_i64(&a, counter);
	err = uscript0(st, uid, SC_U_SESS_DEL, &a);
	if (!err)
		announce(st, counter);
	lk_rd_sub_bump(st);
	if (err)
		return err;
	snprintf(key, sizeof key, "%s:sess:%s", ROOT, found);
	pointer_drop(st, key, uid);
	return LK_OK;
}

static enum lk_err rd_session_del(struct lk_store *base, const unsigned char id_hash[32])
{
	struct rd_store *st = rd(base);
	char hex[65], key[256];
	int64_t uid;
	enum lk_err err;

	if (!id_hash)
		return LK_EINVAL;
	lk_rd_hex(id_hash, 32, hex);
	snprintf(key, sizeof key, "%s:sess:%s", ROOT, hex);
	if ((err = pointer_get(st, key, &uid)))
		return err;
	return sess_end(st, uid, hex, "");
}

static enum lk_err rd_session_del_handle(struct lk_store *base, int64_t user_id,
					 const char *handle)
{
	if (!handle)
		return LK_EINVAL;
	if (!handle[0] || strnlen(handle, LK_HANDLE_LEN + 1) > LK_HANDLE_LEN)
		return LK_ENOT_FOUND;
	return sess_end(rd(base), user_id, "", handle);
}

static int cmp_session(const void *x, const void *y)
{
	const struct lk_session *a = x, *b = y;
	if (a->created != b->created)
		return a->created > b->created ? -1 : 1;
	return strcmp(a->handle, b->handle);
}

/* A growing array of sessions. */
struct sessv {
	struct lk_session *v;
	size_t n, cap;
};

/* Append the sessions of reply r ({0, (uid, hex, 7 fields)...}). */
static enum lk_err sessv_take(struct sessv *sv, const redisReply *r)
{
	if ((r->elements - 1) % 9)
		return LK_ESTORE_CORRUPT;
	size_t k = (r->elements - 1) / 9;
	if (sv->n + k > sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 16;
		while (cap < sv->n + k)
			cap *= 2;
		struct lk_session *p = realloc(sv->v, cap * sizeof *p);
		if (!p)
			return LK_ENOMEM;
		sv->v = p;
		sv->cap = cap;
	}
	for (size_t i = 0; i < k; i++)
		if (!parse_session(r->element + 1 + 9 * i, &sv->v[sv->n++]))
			return LK_ESTORE_CORRUPT;
	return LK_OK;
}

/* The sessions of user uid: all (hexes NULL) or those listed. */
static enum lk_err sess_list_user(struct rd_store *st, int64_t uid, const struct nsb *hexes,
				  struct sessv *sv)
{
	struct lk_rd_args a = {0};
	redisReply *r = NULL;
	enum lk_err err;

	if (hexes && hexes->oom)
		return LK_ENOMEM;
	lk_rd_arg_i64(&a, uid);
	lk_rd_arg(&a, hexes && hexes->p ? hexes->p : "", hexes ? hexes->len : 0);
	if ((err = uscript(st, uid, SC_U_SESS_LIST, &a, &r)))
		return err;
	err = sessv_take(sv, r);
	freeReplyObject(r);
	return err;
}

/* Split an index member "ID:HEX". */
static bool member_split(const redisReply *m, int64_t *uid, char hex[65])
{
	const char *c = m->type == REDIS_REPLY_STRING ? memchr(m->str, ':', m->len) : NULL;
	if (!c || (size_t)(m->str + m->len - c - 1) != 64)
		return false;
	char id[24];
	size_t n = (size_t)(c - m->str);
	if (!n || n >= sizeof id)
		return false;
	memcpy(id, m->str, n);
	id[n] = '\0';
	char *e;
	long long v = strtoll(id, &e, 10);
	if (*e)
		return false;
	*uid = v;
	memcpy(hex, c + 1, 64);
	hex[64] = '\0';
	return true;
}

/* Ordered by created, newest first, then by handle (as sqlite.c). Everyone's: the
 * global index, then one read per user in it. */
static enum lk_err rd_session_list(struct lk_store *base, int64_t user_id, lk_session_cb cb,
				   void *ud)
{
	struct rd_store *st = rd(base);
	struct sessv sv = {0};
	redisReply *r = NULL;
	enum lk_err err = LK_OK;

	if (!cb)
		return LK_EINVAL;
	if (user_id >= 0) {
		err = sess_list_user(st, user_id, NULL, &sv);
	} else {
		const char *argv[] = {"ZRANGE", GK("sess_exp"), "0", "-1"};
		if ((err = cmdv(st, 4, argv, &r)))
			return err;
		if (r->type != REDIS_REPLY_ARRAY)
			err = LK_ESTORE_CORRUPT;
		/* members grouped by user: one script per user */
		bool *done = !err && r->elements ? calloc(r->elements, sizeof *done) : NULL;
		if (!err && r->elements && !done)
			err = LK_ENOMEM;
		for (size_t i = 0; !err && i < r->elements; i++) {
			int64_t uid, u2;
			char hex[65];
			struct nsb hexes = {0};
			if (done[i])
				continue;
			if (!member_split(r->element[i], &uid, hex))
				continue;
			for (size_t j = i; j < r->elements; j++)
				if (!done[j] && member_split(r->element[j], &u2, hex) && u2 == uid) {
					done[j] = true;
					nsb_add(&hexes, hex, 64);
				}
			err = sess_list_user(st, uid, &hexes, &sv);
			nsb_free(&hexes);
		}
		free(done);
		freeReplyObject(r);
	}
	if (!err && sv.n)
		qsort(sv.v, sv.n, sizeof *sv.v, cmp_session);
	for (size_t i = 0; !err && i < sv.n; i++)
		if (cb(ud, &sv.v[i]))
			break;
	free(sv.v);
	return err;
}

/*
 * Sessions past their absolute expiry (expires <= now) or idle (last_seen < idle_cutoff),
 * and revocations that ended (expires <= now). Refresh tokens expire natively and need no
 * purge. In batches of PURGE_BATCH index members: {g} names a batch, then each session
 * ends as session_del ends it (its revocation while unexpired). *n: sessions deleted.
 */
static enum lk_err rd_session_purge(struct lk_store *base, int64_t now, int64_t idle_cutoff,
				    int64_t *n)
{
	struct rd_store *st = rd(base);
	int64_t total = 0;
	enum lk_err err = LK_OK;

	for (int round = 0; !err && round < 100000; round++) {
		struct lk_rd_args a = {0};
		struct nsb stale = {0}, none = {0};
		redisReply *r = NULL;
		int64_t more = 0;
		lk_rd_arg_i64(&a, now);
		lk_rd_arg_i64(&a, idle_cutoff);
		lk_rd_arg_i64(&a, PURGE_BATCH);
		if ((err = gscript(st, SC_G_PURGE_SCAN, &a, &r)))
			break;
		if (r->elements < 2 || !lk_rd_int(r->element[1], &more))
			err = LK_ESTORE_CORRUPT;
		for (size_t i = 2; !err && i < r->elements; i++) {
			int64_t uid;
			char hex[65];
			if (!member_split(r->element[i], &uid, hex)) {
				nsb_add(&stale, r->element[i]->str ? r->element[i]->str : "",
					r->element[i]->len);
				continue;
			}
			enum lk_err e = sess_end(st, uid, hex, "");
			if (e == LK_OK)
				total++;
			else if (e == LK_ENOT_FOUND) /* gone by its TTL: only the members remain */
				nsb_member(&stale, uid, hex);
			else
				err = e;
		}
		freeReplyObject(r);
		if (!err && stale.len)
			err = g_record(st, &none, &stale, &none, NULL, 0, '0', NULL, NULL);
		nsb_free(&stale);
		if (!more)
			break;
	}
	if (!err && n)
		*n = total;
	return err;
}

static enum lk_err rd_session_count(struct lk_store *base, int64_t now, int64_t *n)
{
	struct rd_store *st = rd(base);
	char min[32];
	const char *argv[] = {"ZCOUNT", GK("sess_exp"), min, "+inf"};
	snprintf(min, sizeof min, "(%lld", (long long)now);
	return count_cmd(rd(base), 4, argv, n);
}

/* A {g} script that moves the generation: this process sees its own change at once. */
static enum lk_err gscript0_moved(struct rd_store *st, enum scr id, struct lk_rd_args *a)
{
	enum lk_err err = gscript0(st, id, a);
	if (!err)
		lk_rd_sub_bump(st);
	return err;
}

/* ---------------------------------------------------------------- audit */

/* Kept in a list capped at AUDIT_CAP events: the oldest fall off. */
static enum lk_err rd_audit_add(struct lk_store *base, const struct lk_audit *a)
{
	struct lk_rd_args args = {0};
	char buf[640], ts[24];
	size_t len = 0;

	if (!a || !a->event[0])
		return LK_EINVAL;
	snprintf(ts, sizeof ts, "%lld", (long long)a->ts);
	if (!lk_rd_ns_put(buf, sizeof buf, &len, ts, strlen(ts)) ||
	    !lk_rd_ns_put(buf, sizeof buf, &len, a->event, strnlen(a->event, sizeof a->event - 1)) ||
	    !lk_rd_ns_put(buf, sizeof buf, &len, a->user, strnlen(a->user, sizeof a->user - 1)) ||
	    !lk_rd_ns_put(buf, sizeof buf, &len, a->ip, strnlen(a->ip, sizeof a->ip - 1)) ||
	    !lk_rd_ns_put(buf, sizeof buf, &len, a->detail, strnlen(a->detail, sizeof a->detail - 1)))
		return LK_EINVAL; /* cannot happen: buf holds the largest event */
	lk_rd_arg(&args, buf, len);
	lk_rd_arg_i64(&args, AUDIT_CAP);
	return gscript0(rd(base), SC_AUDIT_ADD, &args);
}

/* Newest first (LPUSH order). */
static enum lk_err rd_audit_list(struct lk_store *base, size_t limit, lk_audit_cb cb, void *ud)
{
	struct rd_store *st = rd(base);
	char stop[24];
	const char *argv[] = {"LRANGE", GK("audit"), "0", stop};
	size_t len[4];
	redisReply *r = NULL;
	enum lk_err err;
	struct lk_audit ev;

	if (!cb)
		return LK_EINVAL;
	snprintf(stop, sizeof stop, "%lld",
		 limit == 0 || limit > INT64_MAX ? -1LL : (long long)limit - 1);
	for (int i = 0; i < 4; i++)
		len[i] = strlen(argv[i]);
	if ((err = lk_rd_cmd(rd(base), 4, argv, len, &r, NULL)))
		return err;
	if (r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		return LK_ESTORE_CORRUPT;
	}
	/* Parse everything first: a callback may call the store. */
	struct lk_audit *v = r->elements ? calloc(r->elements, sizeof *v) : NULL;
	if (r->elements && !v) {
		freeReplyObject(r);
		return LK_ENOMEM;
	}
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		const char *p, *end;
		if (e->type != REDIS_REPLY_STRING) {
			err = LK_ESTORE_CORRUPT;
			break;
		}
		p = e->str;
		end = e->str + e->len;
		memset(&ev, 0, sizeof ev);
		if (!lk_rd_ns_i64(&p, end, &ev.id) || !lk_rd_ns_i64(&p, end, &ev.ts) ||
		    !lk_rd_ns_text(&p, end, ev.event, sizeof ev.event) ||
		    !lk_rd_ns_text(&p, end, ev.user, sizeof ev.user) ||
		    !lk_rd_ns_text(&p, end, ev.ip, sizeof ev.ip) ||
		    !lk_rd_ns_text(&p, end, ev.detail, sizeof ev.detail)) {
			err = LK_ESTORE_CORRUPT;
			break;
		}
		v[i] = ev;
	}
	size_t n = r->elements;
	freeReplyObject(r);
	for (size_t i = 0; !err && i < n; i++)
		if (cb(ud, &v[i]))
			break;
	free(v);
	return err;
}

/* ---------------------------------------------------------------- keys */

static enum lk_err rd_key_add(struct lk_store *base, const struct lk_keyrec *k)
{
	struct lk_rd_args a = {0};

	if (!k || !k->kid[0] || !k->jwk[0])
		return LK_EINVAL;
	lk_rd_arg_str(&a, k->kid, sizeof k->kid - 1);
	lk_rd_arg_str(&a, k->alg, sizeof k->alg - 1);
	lk_rd_arg_str(&a, k->jwk, sizeof k->jwk - 1);
	lk_rd_arg_i64(&a, k->created);
	lk_rd_arg_i64(&a, k->sign_from);
	lk_rd_arg_i64(&a, k->retire_at);
	lk_rd_arg_i64(&a, k->remove_at);
	return gscript0_moved(rd(base), SC_KEY_ADD, &a);
}

struct keyord {
	int64_t sign_from, created;
	const redisReply *kid;
	size_t i;
};

static int cmp_key(const void *x, const void *y)
{
	const struct keyord *a = x, *b = y;
	if (a->sign_from != b->sign_from)
		return a->sign_from < b->sign_from ? -1 : 1;
	if (a->created != b->created)
		return a->created < b->created ? -1 : 1;
	size_t n = a->kid->len < b->kid->len ? a->kid->len : b->kid->len;
	int c = memcmp(a->kid->str, b->kid->str, n);
	if (c)
		return c;
	return a->kid->len < b->kid->len ? -1 : a->kid->len > b->kid->len;
}

/* Every key, oldest sign_from first (then created, then kid). */
static enum lk_err rd_key_list(struct lk_store *base, lk_key_cb cb, void *ud)
{
	struct lk_rd_args a = {0};
	struct lk_keyrec *k = NULL, *all = NULL;
	struct keyord *ord = NULL;
	redisReply *r = NULL;
	enum lk_err err;
	size_t n = 0;

	if (!cb)
		return LK_EINVAL;
	if ((err = gscript(rd(base), SC_KEY_LIST, &a, &r)))
		return err;
	if ((r->elements - 1) % 7) {
		err = LK_ESTORE_CORRUPT;
		goto out;
	}
	n = (r->elements - 1) / 7;
	if (!n)
		goto out;
	ord = calloc(n, sizeof *ord);
	all = calloc(n, sizeof *all);
	if (!ord || !all) {
		err = LK_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *const *e = r->element + 1 + 7 * i;
		k = &all[i];
		if (e[0]->type != REDIS_REPLY_STRING || !lk_rd_text(e[0], k->kid, sizeof k->kid) ||
		    !lk_rd_text(e[1], k->alg, sizeof k->alg) || !lk_rd_text(e[2], k->jwk, sizeof k->jwk) ||
		    !lk_rd_int(e[3], &k->created) || !lk_rd_int(e[4], &k->sign_from) ||
		    !lk_rd_int(e[5], &k->retire_at) || !lk_rd_int(e[6], &k->remove_at)) {
			err = LK_ESTORE_CORRUPT;
			goto out;
		}
		ord[i] = (struct keyord){k->sign_from, k->created, e[0], i};
	}
	qsort(ord, n, sizeof *ord, cmp_key);
	/* The callbacks run after the reply is gone: copy the order out first. */
	for (size_t i = 0; i < n; i++)
		ord[i].kid = NULL;
	lk_rd_wipe(r);
	freeReplyObject(r);
	r = NULL;
	for (size_t i = 0; i < n; i++)
		if (cb(ud, &all[ord[i].i]))
			break;
out:
	if (r) {
		lk_rd_wipe(r);
		freeReplyObject(r);
	}
	if (all)
		sodium_memzero(all, n * sizeof *all);
	free(all);
	free(ord);
	return err;
}

static enum lk_err rd_key_retire(struct lk_store *base, const char *kid, int64_t retire_at,
				 int64_t remove_at)
{
	struct lk_rd_args a = {0};

	if (!kid)
		return LK_EINVAL;
	lk_rd_arg_str(&a, kid, LK_KID_MAX);
	lk_rd_arg_i64(&a, retire_at);
	lk_rd_arg_i64(&a, remove_at);
	return gscript0_moved(rd(base), SC_KEY_RETIRE, &a);
}

static enum lk_err rd_key_del(struct lk_store *base, const char *kid)
{
	struct lk_rd_args a = {0};

	if (!kid)
		return LK_EINVAL;
	lk_rd_arg_str(&a, kid, LK_KID_MAX);
	return gscript0_moved(rd(base), SC_KEY_DEL, &a);
}

/* ---------------------------------------------------------------- clients */

static enum lk_err rd_client_add(struct lk_store *base, const struct lk_client *c)
{
	struct rd_store *st = rd(base);
	struct lk_rd_args a = {0};

	if (!c || !c->id[0])
		return LK_EINVAL;
	char key[64 + LK_CLIENT_ID_LEN];
	snprintf(key, sizeof key, "%s:client:%.*s", ROOT, (int)LK_CLIENT_ID_LEN, c->id);
	lk_rd_arg_str(&a, c->name, sizeof c->name - 1);
	lk_rd_arg(&a, c->secret_hash, 32);
	lk_rd_arg_str(&a, c->scope, sizeof c->scope - 1);
	lk_rd_arg_i64(&a, c->created);
	return lk_rd_eval0(rd(base), key, &lua[SC_CLIENT_ADD], &a);
}

static enum lk_err rd_client_get(struct lk_store *base, const char *id, struct lk_client *out)
{
	struct rd_store *st = rd(base);
	char key[64 + LK_CLIENT_ID_LEN];
	const char *argv[] = {"HMGET", key, "name", "secret_hash", "scope", "created"};
	size_t len[6];
	struct lk_client c;
	redisReply *r = NULL;
	enum lk_err err;

	if (!id || !out)
		return LK_EINVAL;
	if (strnlen(id, LK_CLIENT_ID_LEN + 1) > LK_CLIENT_ID_LEN)
		return LK_ENOT_FOUND;
	snprintf(key, sizeof key, "%s:client:%s", ROOT, id);
	for (int i = 0; i < 6; i++)
		len[i] = strlen(argv[i]);
	if ((err = lk_rd_cmd(rd(base), 6, argv, len, &r, NULL)))
		return err;
	memset(&c, 0, sizeof c);
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
		err = LK_ESTORE_CORRUPT;
	} else if (r->element[0]->type == REDIS_REPLY_NIL) {
		err = LK_ENOT_FOUND;
	} else if (r->element[1]->type != REDIS_REPLY_STRING || r->element[1]->len != 32 ||
		   !lk_rd_text(r->element[0], c.name, sizeof c.name) ||
		   !lk_rd_text(r->element[2], c.scope, sizeof c.scope) ||
		   !lk_rd_int(r->element[3], &c.created)) {
		err = LK_ESTORE_CORRUPT;
	} else {
		snprintf(c.id, sizeof c.id, "%s", id);
		memcpy(c.secret_hash, r->element[1]->str, 32);
		*out = c;
	}
	freeReplyObject(r);
	return err;
}


/* ---------------------------------------------------------------- refresh tokens */

/*
 * As a session: the pointer lk:rt:HEX first (pointer_claim), the token in its user's slot
 * (LK_EEXISTS only when the token is there: refresh.c relies on it), then the family's
 * owner pointer (its own slot); a refused second step takes a pointer it made back.
 */
static enum lk_err rd_refresh_add(struct lk_store *base, const struct lk_refresh *r)
{
	struct rd_store *st = rd(base);
	struct lk_rd_args a = {0};
	char hex[65], key[256];
	enum lk_err err;

	if (!r || !r->family[0])
		return LK_EINVAL;
	bool mine;
	lk_rd_hex(r->hash, 32, hex);
	snprintf(key, sizeof key, "%s:rt:%s", ROOT, hex);
	if (!pointer_claim(st, key, r->user_id, r->expires, &mine, &err))
		return err;
	lk_rd_arg(&a, hex, 64);
	lk_rd_arg_str(&a, r->family, sizeof r->family - 1);
	lk_rd_arg_i64(&a, r->user_id);
	lk_rd_arg_str(&a, r->client_id, sizeof r->client_id - 1);
	lk_rd_arg_str(&a, r->scope, sizeof r->scope - 1);
	lk_rd_arg_i64(&a, r->created);
	lk_rd_arg_i64(&a, r->expires);
	bool stored;
	if ((err = record_add(st, r->user_id, SC_U_RT_ADD, &a, key, mine, &stored)) || !stored)
		return err;
	a = (struct lk_rd_args){0};
	snprintf(key, sizeof key, "%s:fam:%.*s", ROOT, (int)LK_HANDLE_LEN, r->family);
	lk_rd_arg_i64(&a, r->user_id);
	lk_rd_arg_i64(&a, r->expires);
	return lk_rd_eval0(st, key, &lua[SC_FAM_OWNER], &a);
}

static enum lk_err rd_refresh_get(struct lk_store *base, const unsigned char hash[32],
				  struct lk_refresh *out)
{
	struct rd_store *st = rd(base);
	char hex[65], key[256];
	redisReply *r = NULL;
	struct lk_refresh *x;
	int64_t uid;
	enum lk_err err;

	if (!hash || !out)
		return LK_EINVAL;
	lk_rd_hex(hash, 32, hex);
	snprintf(key, sizeof key, "%s:rt:%s", ROOT, hex);
	if ((err = pointer_get(st, key, &uid)))
		return err;
	snprintf(key, sizeof key, "%s:{u:%lld}:r:%s", ROOT, (long long)uid, hex);
	const char *argv[] = {"HMGET", key, "family", "client_id", "scope", "created", "expires",
			      "used_at", "next_access"};
	if ((err = cmdv(st, 9, argv, &r)))
		return err;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 7) {
		freeReplyObject(r);
		return LK_ESTORE_CORRUPT;
	}
	if (r->element[0]->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		return LK_ENOT_FOUND;
	}
	redisReply *const *e = r->element;
	/* Parse into a copy: out is written only on success (and it is large, so heap). */
	if (!(x = calloc(1, sizeof *x))) {
		freeReplyObject(r);
		return LK_ENOMEM;
	}
	memcpy(x->hash, hash, 32);
	x->user_id = uid;
	if (!lk_rd_text(e[0], x->family, sizeof x->family) ||
	    !lk_rd_text(e[1], x->client_id, sizeof x->client_id) ||
	    !lk_rd_text(e[2], x->scope, sizeof x->scope) || !lk_rd_int(e[3], &x->created) ||
	    !lk_rd_int(e[4], &x->expires) || !lk_rd_int(e[5], &x->used_at) ||
	    !lk_rd_text(e[6], x->next_access, sizeof x->next_access))
		err = LK_ESTORE_CORRUPT;
	else
		*out = *x;
	freeReplyObject(r);
	free(x);
	return err;
}

/* The claim in the user's slot (of any number of concurrent callers exactly one gets
 * LK_OK), then the token in the used index of {g}, for refresh_purge. */
static enum lk_err rd_refresh_claim(struct lk_store *base, const unsigned char hash[32],
				    int64_t now, const char *next_access)
{
	struct rd_store *st = rd(base);
	struct lk_rd_args a = {0};
	char hex[65], key[256];
	int64_t uid;
	enum lk_err err;

	if (!hash || !next_access)
		return LK_EINVAL;
	lk_rd_hex(hash, 32, hex);
	snprintf(key, sizeof key, "%s:rt:%s", ROOT, hex);
	if ((err = pointer_get(st, key, &uid)))
		return err;
	lk_rd_arg_i64(&a, uid);
	lk_rd_arg(&a, hex, 64);
	lk_rd_arg_i64(&a, now);
	lk_rd_arg_str(&a, next_access, LK_TOKEN_MAX);
	if ((err = uscript0(st, uid, SC_U_RT_CLAIM, &a)) || !next_access[0])
		return err;
	char score[24], member[96];
	snprintf(score, sizeof score, "%lld", (long long)now);
	snprintf(member, sizeof member, "%lld:%s", (long long)uid, hex);
	const char *argv[] = {"ZADD", GK("rt_used"), score, member};
	/* a failure leaves next_access to the token's own expiry: the claim itself stands */
	(void)cmd_run(st, 4, argv);
	return LK_OK;
}

/* The family's sid revocation (always, first), then its tokens in the owner's slot,
 * quietly, then their index members and pointers. *n: tokens deleted. */
static enum lk_err rd_family_revoke(struct lk_store *base, const char *family, int64_t until,
				    int64_t *n)
{
	struct rd_store *st = rd(base);
	struct nsb revs = {0}, none = {0}, used = {0};
	struct lk_rd_args a = {0};
	char key[256];
	redisReply *r = NULL;
	int64_t uid = 0, k = 0, counter = 0;
	enum lk_err err;

	if (!family || !family[0])
		return LK_EINVAL;
	snprintf(key, sizeof key, "%s:fam:%.*s", ROOT, (int)LK_HANDLE_LEN, family);
	enum lk_err owner = pointer_get(st, key, &uid);
	if (owner && owner != LK_ENOT_FOUND)
		return owner;
	nsb_rev(&revs, "sid", family, 0, until, 0);
	/* with tokens to delete, their slot's step publishes the counter; else this one */
	err = g_record(st, &revs, &none, &none, NULL, 0, owner ? '1' : 'q', &counter, NULL);
	nsb_free(&revs);
	lk_rd_sub_bump(st);
	if (err)
		return err;
	if (owner == LK_OK) {
		lk_rd_arg_i64(&a, uid);
		lk_rd_arg_str(&a, family, LK_HANDLE_LEN);
		lk_rd_arg_i64(&a, counter);
		if ((err = uscript(st, uid, SC_U_FAM_WIPE, &a, &r)))
			return err;
		announce(st, counter);
		lk_rd_sub_bump(st);
		for (size_t i = 1; i < r->elements; i++) {
			char hex[65], pk[256];
			if (!lk_rd_text(r->element[i], hex, sizeof hex))
				continue;
			nsb_member(&used, uid, hex);
			snprintf(pk, sizeof pk, "%s:rt:%s", ROOT, hex);
			pointer_drop(st, pk, uid);
			k++;
		}
		freeReplyObject(r);
		if (used.len)
			(void)g_record(st, &none, &none, &used, NULL, 0, '0', NULL, NULL);
		nsb_free(&used);
		pointer_drop(st, key, uid);
	}
	if (n)
		*n = k;
	return LK_OK;
}

/* ---------------------------------------------------------------- sign-out */

/* One user's (user_end, keeping keep), or everyone's: user by user, each in single-slot
 * steps (not atomic across users; neither is SQLite's across processes beyond one
 * transaction). */
static enum lk_err rd_revoke_user(struct lk_store *base, int64_t user_id,
				  const unsigned char *keep, int64_t until, int64_t *sessions,
				  int64_t *families, lk_revocation_cb cb, void *ud)
{
	struct rd_store *st = rd(base);
	struct revs_out rep = {0};
	char kh[65] = "";
	int64_t ns = 0, nf = 0;
	enum lk_err err = LK_OK;

	if (keep)
		lk_rd_hex(keep, 32, kh);
	if (user_id >= 0) {
		err = user_end(st, user_id, "rev", NULL, 0, NULL, kh, FAM_UNTIL, until, &ns, &nf,
			       &rep);
	} else {
		const char *argv[] = {"HVALS", GK("names")};
		redisReply *r = NULL;
		if ((err = cmdv(st, 2, argv, &r)))
			return err;
		for (size_t i = 0; !err && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
			int64_t id, s = 0, f = 0;
			if (!lk_rd_int(r->element[i], &id))
				continue;
			err = user_end(st, id, "rev", NULL, 0, NULL, kh, FAM_UNTIL, until, &s, &f, &rep);
			ns += s;
			nf += f;
		}
		freeReplyObject(r);
	}
	if ((err = lk_rd_settle(st, err)))
		rep.n = 0;
	report(&rep, cb, ud);
	if (err)
		return err;
	if (sessions)
		*sessions = ns;
	if (families)
		*families = nf;
	return LK_OK;
}

/*
 * Expired refresh tokens leave by their own TTL, so what remains is trimming: next_access
 * of every token used before used_before goes, through the lk:{g}:rt_used index that
 * refresh_claim fills, in batches of PURGE_BATCH: the batch is read from {g}, trimmed user
 * by user, then dropped from the index (a crash in between trims it again next time).
 * *n: tokens trimmed (expired ones are never counted here: they were gone already).
 */
static enum lk_err rd_refresh_purge(struct lk_store *base, int64_t now, int64_t used_before,
				    int64_t *n)
{
	struct rd_store *st = rd(base);
	char max[32], lim[24];
	int64_t total = 0;
	enum lk_err err = LK_OK;

	(void)now; /* expiry is native */
	snprintf(max, sizeof max, "(%lld", (long long)used_before);
	snprintf(lim, sizeof lim, "%d", PURGE_BATCH);
	for (int round = 0; !err && round < 100000; round++) {
		const char *argv[] = {"ZRANGEBYSCORE", GK("rt_used"), "-inf", max, "LIMIT", "0", lim};
		redisReply *r = NULL;
		struct nsb done = {0}, none = {0};
		if ((err = cmdv(st, 7, argv, &r)))
			break;
		if (r->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			err = LK_ESTORE_CORRUPT;
			break;
		}
		bool *seen = r->elements ? calloc(r->elements, sizeof *seen) : NULL;
		if (r->elements && !seen)
			err = LK_ENOMEM;
		for (size_t i = 0; !err && i < r->elements; i++) {
			int64_t uid, u2;
			char hex[65];
			struct nsb hexes = {0};
			struct lk_rd_args a = {0};
			redisReply *t = NULL;
			if (seen[i])
				continue;
			if (!member_split(r->element[i], &uid, hex)) {
				nsb_add(&done, r->element[i]->str ? r->element[i]->str : "",
					r->element[i]->len);
				continue;
			}
			for (size_t j = i; j < r->elements; j++)
				if (!seen[j] && member_split(r->element[j], &u2, hex) && u2 == uid) {
					seen[j] = true;
					nsb_add(&hexes, hex, 64);
					nsb_member(&done, uid, hex);
				}
			if (hexes.oom) {
				err = LK_ENOMEM;
			} else {
				lk_rd_arg_i64(&a, uid);
				lk_rd_arg(&a, hexes.p, hexes.len);
				if (!(err = uscript(st, uid, SC_U_RT_TRIM, &a, &t))) {
					int64_t k = reply_n(t);
					total += k > 0 ? k : 0;
					freeReplyObject(t);
				}
			}
			nsb_free(&hexes);
		}
		free(seen);
		size_t got = r->elements;
		freeReplyObject(r);
		if (!err && done.len)
			err = g_record(st, &none, &none, &done, NULL, 0, '0', NULL, NULL);
		nsb_free(&done);
		if (got < PURGE_BATCH)
			break;
	}
	if (!err && n)
		*n = total;
	return err;
}


/* ---------------------------------------------------------------- revocations */

static enum lk_err rd_revoke_add(struct lk_store *base, const char *type, const char *value,
				 int64_t before, int64_t expires)
{
	struct lk_rd_args a = {0};

	if (!type || !value || !value[0])
		return LK_EINVAL;
	lk_rd_arg_str(&a, type, 7);
	lk_rd_arg_str(&a, value, LK_KID_MAX);
	lk_rd_arg_i64(&a, before);
	lk_rd_arg_i64(&a, expires);
	return gscript0_moved(rd(base), SC_REVOKE_ADD, &a);
}

static enum lk_err rd_revocations(struct lk_store *base, int64_t after, int64_t now,
				  lk_revocation_cb cb, void *ud)
{
	struct rd_store *st = rd(base);
	char min[32];
	const char *argv[] = {"ZRANGEBYSCORE", GK("rev"), min, "+inf"};
	size_t len[4];
	struct lk_revocation *v = NULL;
	redisReply *r = NULL;
	enum lk_err err;
	size_t n = 0;

	if (!cb)
		return LK_EINVAL;
	snprintf(min, sizeof min, "(%lld", (long long)after);
	for (int i = 0; i < 4; i++)
		len[i] = strlen(argv[i]);
	if ((err = lk_rd_cmd(rd(base), 4, argv, len, &r, NULL)))
		return err;
	if (r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		return LK_ESTORE_CORRUPT;
	}
	if (r->elements && !(v = calloc(r->elements, sizeof *v))) {
		freeReplyObject(r);
		return LK_ENOMEM;
	}
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		struct lk_revocation x;
		const char *p = e->str, *end = e->str + e->len;
		memset(&x, 0, sizeof x);
		if (e->type != REDIS_REPLY_STRING || !lk_rd_ns_i64(&p, end, &x.cursor) ||
		    !lk_rd_ns_text(&p, end, x.type, sizeof x.type) ||
		    !lk_rd_ns_text(&p, end, x.value, sizeof x.value) || !lk_rd_ns_i64(&p, end, &x.before) ||
		    !lk_rd_ns_i64(&p, end, &x.expires)) {
			err = LK_ESTORE_CORRUPT;
			break;
		}
		if (x.expires > now)
			v[n++] = x;
	}
	freeReplyObject(r);
	for (size_t i = 0; !err && i < n; i++)
		if (cb(ud, &v[i]))
			break;
	free(v);
	return err;
}

static enum lk_err rd_set_revocation_ttl(struct lk_store *base, int64_t seconds)
{
	struct rd_store *st = rd(base);
	char v[24];
	const char *argv[] = {"HSET", GK("meta"), "revocation_ttl", v};
	size_t len[4];
	redisReply *r = NULL;
	enum lk_err err;

	snprintf(v, sizeof v, "%lld", (long long)seconds);
	for (int i = 0; i < 4; i++)
		len[i] = strlen(argv[i]);
	if ((err = lk_rd_cmd(rd(base), 4, argv, len, &r, NULL)))
		return err;
	freeReplyObject(r);
	return LK_OK;
}

/* The TTL set, or the default 960 s that the scripts then use. */
static enum lk_err rd_revocation_ttl(struct lk_store *base, int64_t *seconds)
{
	struct rd_store *st = rd(base);
	const char *argv[] = {"HGET", GK("meta"), "revocation_ttl"};
	redisReply *r = NULL;
	enum lk_err err = cmdv(st, 3, argv, &r);
	if (err)
		return err;
	if (r->type == REDIS_REPLY_NIL)
		*seconds = 960; /* what the scripts use when none is set (as sqlite.c's default) */
	else if (!lk_rd_int(r, seconds))
		err = LK_ESTORE_CORRUPT;
	freeReplyObject(r);
	return err;
}

/* SET NX GET: the first writer's value wins, in one round trip. */
static enum lk_err rd_secret_claim(struct lk_store *base, const char *name,
				   const unsigned char mine[32], unsigned char out[32])
{
	struct rd_store *st = rd(base);
	char key[256];
	const char *argv[] = {"SET", key, (const char *)mine, "NX", "GET"};
	size_t len[5];
	redisReply *r = NULL;
	enum lk_err err;

	if (!name)
		return LK_EINVAL;
	snprintf(key, sizeof key, "%s:{g}:secret:%.64s", ROOT, name);
	len[0] = 3;
	len[1] = strlen(key);
	len[2] = 32;
	len[3] = 2;
	len[4] = 3;
	err = lk_rd_cmd(rd(base), 5, argv, len, &r, NULL);
	if (!err) {
		if (r->type == REDIS_REPLY_NIL) {
			memcpy(out, mine, 32);
		} else if (r->type == REDIS_REPLY_STRING && r->len == 32) {
			memcpy(out, r->str, 32);
			sodium_memzero(r->str, 32);
		} else {
			err = LK_ESTORE_CORRUPT;
		}
		freeReplyObject(r);
	}
	return err;
}

static enum lk_err rd_secret(struct lk_store *base, const char *name, unsigned char out[32])
{
	unsigned char fresh[32];
	randombytes_buf(fresh, sizeof fresh);
	enum lk_err err = rd_secret_claim(base, name, fresh, out);
	sodium_memzero(fresh, sizeof fresh);
	return err;
}

/* ---------------------------------------------------------------- sign-in limits */

/* One step of the policy (SC_RL_STEP) on both keys; *wait: its answer. */
static enum lk_err rl_step(struct rd_store *st, const char *step, const char *pair,
			   const char *ip, int64_t now, const struct lk_rlcfg *cfg, int64_t *wait)
{
	struct lk_rd_args a = {0};
	redisReply *r = NULL;
	enum lk_err err;

	char key[256];
	snprintf(key, sizeof key, "%s:rl:{%.128s}:~", ROOT, ip);
	lk_rd_arg_str(&a, pair, 128);
	lk_rd_arg_str(&a, ip, 128);
	lk_rd_arg_i64(&a, now);
	lk_rd_arg_i64(&a, cfg->pair_free);
	lk_rd_arg_i64(&a, cfg->backoff_max);
	lk_rd_arg_i64(&a, cfg->ip_per_min);
	lk_rd_arg_str(&a, step, 8);
	if ((err = lk_rd_eval(st, key, &lua[SC_RL_STEP], &a, &r)))
		return err;
	if (r->elements != 2 || !lk_rd_int(r->element[1], wait))
		err = LK_ESTORE_CORRUPT;
	freeReplyObject(r);
	return err;
}

static enum lk_err rd_rl_take(struct lk_store *base, const char *pair, const char *ip,
			      int64_t now, const struct lk_rlcfg *cfg, int64_t *retry_after)
{
	int64_t wait = 0;
	enum lk_err err;

	if (!pair || !ip || !cfg || !retry_after)
		return LK_EINVAL;
	if ((err = rl_step(rd(base), "take", pair, ip, now, cfg, &wait)))
		return err;
	if (wait > 0) {
		*retry_after = wait;
		return LK_ERATE_LIMITED;
	}
	return LK_OK;
}

static enum lk_err rd_rl_release(struct lk_store *base, const char *pair, const char *ip,
				 int64_t now, const struct lk_rlcfg *cfg)
{
	int64_t wait = 0;

	if (!pair || !ip || !cfg)
		return LK_EINVAL;
	return rl_step(rd(base), "release", pair, ip, now, cfg, &wait);
}

/*
 * The operations that write, as the ops table calls them: the operation, then
 * lk_rd_settle (with Sentinel or a cluster, the wait for a replica to have its writes, once
 * per node it wrote on), so that what latchkey acknowledges survives a failover.
 */
static enum lk_err w_user_add(struct lk_store *base, struct lk_user *u)
{
	return lk_rd_settle(rd(base), rd_user_add(base, u));
}

static enum lk_err w_user_set_password(struct lk_store *base, const char *name, const char *phc, int64_t now, lk_revocation_cb cb, void *ud)
{
	return lk_rd_settle(rd(base), rd_user_set_password(base, name, phc, now, cb, ud));
}

static enum lk_err w_user_del(struct lk_store *base, const char *name, lk_revocation_cb cb, void *ud)
{
	return lk_rd_settle(rd(base), rd_user_del(base, name, cb, ud));
}

static enum lk_err w_session_add(struct lk_store *base, const struct lk_session *s)
{
	return lk_rd_settle(rd(base), rd_session_add(base, s));
}

static enum lk_err w_session_touch(struct lk_store *base, const unsigned char id_hash[32], int64_t now, int64_t older_than)
{
	return lk_rd_settle(rd(base), rd_session_touch(base, id_hash, now, older_than));
}

static enum lk_err w_session_del(struct lk_store *base, const unsigned char id_hash[32])
{
	return lk_rd_settle(rd(base), rd_session_del(base, id_hash));
}

static enum lk_err w_session_del_handle(struct lk_store *base, int64_t user_id, const char *handle)
{
	return lk_rd_settle(rd(base), rd_session_del_handle(base, user_id, handle));
}

static enum lk_err w_session_purge(struct lk_store *base, int64_t now, int64_t idle_cutoff, int64_t *n)
{
	return lk_rd_settle(rd(base), rd_session_purge(base, now, idle_cutoff, n));
}

static enum lk_err w_audit_add(struct lk_store *base, const struct lk_audit *a)
{
	return lk_rd_settle(rd(base), rd_audit_add(base, a));
}

static enum lk_err w_key_add(struct lk_store *base, const struct lk_keyrec *k)
{
	return lk_rd_settle(rd(base), rd_key_add(base, k));
}

static enum lk_err w_key_retire(struct lk_store *base, const char *kid, int64_t retire_at, int64_t remove_at)
{
	return lk_rd_settle(rd(base), rd_key_retire(base, kid, retire_at, remove_at));
}

static enum lk_err w_key_del(struct lk_store *base, const char *kid)
{
	return lk_rd_settle(rd(base), rd_key_del(base, kid));
}

static enum lk_err w_client_add(struct lk_store *base, const struct lk_client *c)
{
	return lk_rd_settle(rd(base), rd_client_add(base, c));
}

static enum lk_err w_refresh_add(struct lk_store *base, const struct lk_refresh *r)
{
	return lk_rd_settle(rd(base), rd_refresh_add(base, r));
}

static enum lk_err w_refresh_claim(struct lk_store *base, const unsigned char hash[32], int64_t now, const char *next_access)
{
	return lk_rd_settle(rd(base), rd_refresh_claim(base, hash, now, next_access));
}

static enum lk_err w_family_revoke(struct lk_store *base, const char *family, int64_t until, int64_t *n)
{
	return lk_rd_settle(rd(base), rd_family_revoke(base, family, until, n));
}

static enum lk_err w_revoke_user(struct lk_store *base, int64_t user_id, const unsigned char *keep, int64_t until, int64_t *sessions, int64_t *families, lk_revocation_cb cb, void *ud)
{
	return lk_rd_settle(rd(base), rd_revoke_user(base, user_id, keep, until, sessions, families, cb, ud));
}

static enum lk_err w_refresh_purge(struct lk_store *base, int64_t now, int64_t used_before, int64_t *n)
{
	return lk_rd_settle(rd(base), rd_refresh_purge(base, now, used_before, n));
}

static enum lk_err w_revoke_add(struct lk_store *base, const char *type, const char *value, int64_t before, int64_t expires)
{
	return lk_rd_settle(rd(base), rd_revoke_add(base, type, value, before, expires));
}

static enum lk_err w_set_revocation_ttl(struct lk_store *base, int64_t seconds)
{
	return lk_rd_settle(rd(base), rd_set_revocation_ttl(base, seconds));
}

static enum lk_err w_secret(struct lk_store *base, const char *name, unsigned char out[32])
{
	return lk_rd_settle(rd(base), rd_secret(base, name, out));
}

static enum lk_err w_secret_claim(struct lk_store *base, const char *name, const unsigned char mine[32], unsigned char out[32])
{
	return lk_rd_settle(rd(base), rd_secret_claim(base, name, mine, out));
}

static enum lk_err w_rl_take(struct lk_store *base, const char *pair, const char *ip, int64_t now, const struct lk_rlcfg *cfg, int64_t *retry_after)
{
	return lk_rd_settle(rd(base), rd_rl_take(base, pair, ip, now, cfg, retry_after));
}

static enum lk_err w_rl_release(struct lk_store *base, const char *pair, const char *ip, int64_t now, const struct lk_rlcfg *cfg)
{
	return lk_rd_settle(rd(base), rd_rl_release(base, pair, ip, now, cfg));
}

#define RD_OPS \
	.close = rd_close, \
	.ping = rd_ping, \
	.generation = rd_generation, \
	.generation_wait = rd_generation_wait, \
	.user_add = w_user_add, \
	.user_get = rd_user_get, \
	.user_get_id = rd_user_get_id, \
	.user_set_password = w_user_set_password, \
	.user_del = w_user_del, \
	.user_list = rd_user_list, \
	.user_count = rd_user_count, \
	.session_add = w_session_add, \
	.session_get = rd_session_get, \
	.session_touch = w_session_touch, \
	.session_del = w_session_del, \
	.session_del_handle = w_session_del_handle, \
	.session_list = rd_session_list, \
	.session_purge = w_session_purge, \
	.session_count = rd_session_count, \
	.audit_add = w_audit_add, \
	.audit_list = rd_audit_list, \
	.key_add = w_key_add, \
	.key_list = rd_key_list, \
	.key_retire = w_key_retire, \
	.key_del = w_key_del, \
	.client_add = w_client_add, \
	.client_get = rd_client_get, \
	.refresh_add = w_refresh_add, \
	.refresh_get = rd_refresh_get, \
	.refresh_claim = w_refresh_claim, \
	.family_revoke = w_family_revoke, \
	.revoke_add = w_revoke_add, \
	.revocations = rd_revocations, \
	.set_revocation_ttl = w_set_revocation_ttl, \
	.revocation_ttl = rd_revocation_ttl, \
	.secret = w_secret, \
	.secret_claim = w_secret_claim, \
	.rl_take = w_rl_take, \
	.rl_release = w_rl_release, \
	.revoke_user = w_revoke_user, \
	.refresh_purge = w_refresh_purge,

const struct lk_store_ops lk_store_redis_ops = {
	.scheme = "redis",
	.open = rd_open,
	RD_OPS
};

const struct lk_store_ops lk_store_redis_sentinel_ops = {
	.scheme = "redis+sentinel",
	.open = rd_open_sentinel,
	RD_OPS
};

const struct lk_store_ops lk_store_redis_cluster_ops = {
	.scheme = "redis+cluster",
	.open = rd_open_cluster,
	RD_OPS
};
