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
#define SCHEMA_VERSION 2      /* lk:{g}:schema; bump when the layout changes */

/* ---------------------------------------------------------------- Lua */

/*
 * Shared by every script; the write part only by scripts that write (defining its
 * functions costs every call time on the server). Identifiers (user ids, hex hashes)
 * travel as strings: Lua numbers are doubles and print large values in exponent form.
 * Timestamps are compared with num(); values of FOREVER or more get no TTL (EXPIREAT
 * would overflow).
 */
#define PRELUDE_READ                                                                       \
	"local G = 'lk:{g}:'\n"                                                            \
	"local FOREVER = 1e11\n"                                                           \
	"local function U(id, s) return 'lk:{u:' .. id .. '}:' .. s end\n"                \
	"local function num(v) return tonumber(v) or 0 end\n"                             \
	"local function ns(s) s = tostring(s) return #s .. ':' .. s .. ',' end\n"          \
	"local function clock() return tonumber(redis.call('TIME')[1]) end\n"              \
	"local function split(m)\n"                                                        \
	"  local i = string.find(m, ':', 1, true)\n"                                       \
	"  if not i then return nil end\n"                                                 \
	"  return string.sub(m, 1, i - 1), string.sub(m, i + 1)\n"                         \
	"end\n"

/* What writing scripts add: TTL helpers, revocations, the trigger mirrors. */
#define PRELUDE_WRITE                                                                      \
	"local function bump()\n"                                                         \
	"  redis.call('PUBLISH', G .. 'gen', redis.call('INCR', G .. 'gen'))\n"            \
	"end\n"                                                                            \
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
	/* Append a revocation; drop a few that ended before t on the way. Each member     \
	 * recorded is also kept in `recorded`, for scripts that report what they did. */  \
	"local recorded = {}\n"                                                            \
	"local function with_recorded(out)\n"                                              \
	"  for _, m in ipairs(recorded) do out[#out + 1] = m end\n"                        \
	"  return out\n"                                                                   \
	"end\n"                                                                            \
	"local function record(typ, val, before, expires, t)\n"                            \
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
	/* Delete one session and its index entries; the sessions_end trigger. 1 when it   \
	 * existed. */                                                                     \
	"local function sess_del(uid, hex, t)\n"                                           \
	"  local k = U(uid, 's:' .. hex)\n"                                                \
	"  local m = uid .. ':' .. hex\n"                                                  \
	"  local f = redis.call('HMGET', k, 'handle', 'expires')\n"                        \
	"  redis.call('SREM', U(uid, 'sessions'), hex)\n"                                  \
	"  redis.call('ZREM', G .. 'sess_exp', m)\n"                                       \
	"  redis.call('ZREM', G .. 'sess_seen', m)\n"                                      \
	"  if redis.call('GET', 'lk:sess:' .. hex) == uid then\n"                          \
	"    redis.call('DEL', 'lk:sess:' .. hex)\n"                                       \
	"  end\n"                                                                          \
	"  if not f[1] then return 0 end\n"                                                \
	"  redis.call('DEL', k)\n"                                                         \
	"  if redis.call('GET', 'lk:handle:' .. f[1]) == hex then\n"                       \
	"    redis.call('DEL', 'lk:handle:' .. f[1])\n"                                    \
	"  end\n"                                                                          \
	"  if num(f[2]) > t then record('sid', f[1], 0, t + rev_ttl(), t) end\n"           \
	"  return 1\n"                                                                     \
	"end\n"                                                                            \
	/* Delete one refresh token; the refresh_end trigger unless quiet (the caller has  \
	 * revoked the family already). 1 when it existed. */                              \
	"local function rt_del(uid, hex, t, quiet)\n"                                      \
	"  local k = U(uid, 'r:' .. hex)\n"                                                \
	"  local f = redis.call('HMGET', k, 'family', 'used_at', 'expires')\n"             \
	"  redis.call('SREM', U(uid, 'refresh'), hex)\n"                                   \
	"  redis.call('ZREM', G .. 'rt_used', uid .. ':' .. hex)\n"                        \
	"  if redis.call('GET', 'lk:rt:' .. hex) == uid then\n"                            \
	"    redis.call('DEL', 'lk:rt:' .. hex)\n"                                         \
	"  end\n"                                                                          \
	"  if not f[1] then return 0 end\n"                                                \
	"  redis.call('DEL', k)\n"                                                         \
	"  local fk = U(uid, 'f:' .. f[1])\n"                                              \
	"  redis.call('SREM', fk, hex)\n"                                                  \
	"  if redis.call('SCARD', fk) == 0 and redis.call('GET', 'lk:fam:' .. f[1]) == uid then\n" \
	"    redis.call('DEL', 'lk:fam:' .. f[1])\n"                                       \
	"  end\n"                                                                          \
	"  if not quiet and num(f[2]) == 0 and num(f[3]) > t then\n"                       \
	"    record('sid', f[1], 0, t + rev_ttl(), t)\n"                                   \
	"  end\n"                                                                          \
	"  return 1\n"                                                                     \
	"end\n"

#define RW "#!lua\n" PRELUDE_READ PRELUDE_WRITE
#define RO "#!lua flags=no-writes\n" PRELUDE_READ

/* Session fields as scripts return them: uid, hex, then these. */
#define SESS_FIELDS "'handle', 'csrf', 'created', 'last_seen', 'expires', 'ip', 'ua'"
#define SESS_OUT                                                                           \
	"  out[#out + 1] = uid\n"                                                          \
	"  out[#out + 1] = hex\n"                                                          \
	"  for i = 1, 7 do out[#out + 1] = f[i] or '' end\n"
#define USER_FIELDS "'name', 'roles', 'phc', 'created', 'pw_changed'"

enum scr {
	SC_USER_ADD,
	SC_USER_GET,
	SC_USER_CHANGE,
	SC_USER_LIST,
	SC_SESS_ADD,
	SC_SESS_GET,
	SC_SESS_TOUCH,
	SC_SESS_DEL,
	SC_SESS_DEL_HANDLE,
	SC_SESS_LIST,
	SC_SESS_PURGE,
	SC_AUDIT_ADD,
	SC_KEY_ADD,
	SC_KEY_LIST,
	SC_KEY_RETIRE,
	SC_KEY_DEL,
	SC_CLIENT_ADD,
	SC_RT_ADD,
	SC_RT_GET,
	SC_RT_CLAIM,
	SC_FAMILY_REVOKE,
	SC_REVOKE_ADD,
	SC_RL_STEP,
	SC_REVOKE_USER,
	SC_RT_PURGE,
	SC_MIGRATE_2,
	SC_COUNT_
};

static struct lk_rd_script lua[SC_COUNT_] = {
	/* ARGV: name roles phc created pw_changed. -> {0, id} */
	[SC_USER_ADD] = {RW
	"if redis.call('HEXISTS', G .. 'names', ARGV[1]) == 1 then return {2} end\n"
	"local id = tostring(redis.call('INCR', G .. 'next_user'))\n"
	"while redis.call('EXISTS', U(id, 'user')) == 1 do\n"
	"  id = tostring(redis.call('INCR', G .. 'next_user'))\n"
	"end\n"
	"redis.call('HSET', U(id, 'user'), 'name', ARGV[1], 'roles', ARGV[2], 'phc', ARGV[3],\n"
	"           'created', ARGV[4], 'pw_changed', ARGV[5])\n"
	"redis.call('HSET', G .. 'names', ARGV[1], id)\n"
	"return {0, id}\n"},

	/* ARGV: name. -> {0, id, name, roles, phc, created, pw_changed} */
	[SC_USER_GET] = {RO
	"local id = redis.call('HGET', G .. 'names', ARGV[1])\n"
	"if not id then return {1} end\n"
	"local f = redis.call('HMGET', U(id, 'user'), " USER_FIELDS ")\n"
	"if not f[1] then return {3} end\n"
	"return {0, id, f[1], f[2] or '', f[3] or '', f[4] or '', f[5] or ''}\n"},

	/* ARGV: name, 'pw' or 'del', phc, pw_changed. Every session and refresh token of the
	 * user goes; then the password changes or the user goes. -> {0, recorded...} */
	[SC_USER_CHANGE] = {RW
	"local id = redis.call('HGET', G .. 'names', ARGV[1])\n"
	"if not id then return {1} end\n"
	"local t = clock()\n"
	"for _, hex in ipairs(redis.call('SMEMBERS', U(id, 'sessions'))) do\n"
	"  sess_del(id, hex, t)\n"
	"end\n"
	"for _, hex in ipairs(redis.call('SMEMBERS', U(id, 'refresh'))) do\n"
	"  rt_del(id, hex, t)\n"
	"end\n"
	"redis.call('DEL', U(id, 'sessions'), U(id, 'refresh'))\n"
	"if ARGV[2] == 'del' then\n"
	"  redis.call('DEL', U(id, 'user'))\n"
	"  redis.call('HDEL', G .. 'names', ARGV[1])\n"
	"  record('sub', id, t + 1, t + rev_ttl(), t)\n"
	"else\n"
	"  redis.call('HSET', U(id, 'user'), 'phc', ARGV[3], 'pw_changed', ARGV[4])\n"
	"  record('sub', id, ARGV[4], t + rev_ttl(), t)\n"
	"end\n"
	"bump()\n"
	"return with_recorded({0})\n"},

	/* -> {0, (id, name, roles, phc, created, pw_changed)...} */
	[SC_USER_LIST] = {RO
	"local out = {0}\n"
	"local all = redis.call('HGETALL', G .. 'names')\n"
	"for i = 1, #all, 2 do\n"
	"  local f = redis.call('HMGET', U(all[i + 1], 'user'), " USER_FIELDS ")\n"
	"  if f[1] then\n"
	"    out[#out + 1] = all[i + 1]\n"
	"    for j = 1, 5 do out[#out + 1] = f[j] or '' end\n"
	"  end\n"
	"end\n"
	"return out\n"},

	/* ARGV: hex uid handle csrf created last_seen expires ip ua. -> {0} */
	[SC_SESS_ADD] = {RW
	"local hex, uid, exp = ARGV[1], ARGV[2], ARGV[7]\n"
	"if redis.call('EXISTS', 'lk:sess:' .. hex, 'lk:handle:' .. ARGV[3]) > 0 then\n"
	"  return {2}\n"
	"end\n"
	"if redis.call('EXISTS', U(uid, 'user')) == 0 then return {1} end\n"
	"local t = clock()\n"
	"local old = redis.call('ZRANGEBYSCORE', G .. 'sess_exp', '-inf', '(' .. t,\n"
	"                       'LIMIT', 0, 16)\n"
	"for _, m in ipairs(old) do\n"
	"  local u, h = split(m)\n"
	"  if u then redis.call('SREM', U(u, 'sessions'), h) end\n"
	"  redis.call('ZREM', G .. 'sess_exp', m)\n"
	"  redis.call('ZREM', G .. 'sess_seen', m)\n"
	"end\n"
	"if num(exp) <= t then return {0} end\n"
	"local k = U(uid, 's:' .. hex)\n"
	"redis.call('HSET', k, 'handle', ARGV[3], 'csrf', ARGV[4], 'created', ARGV[5],\n"
	"           'last_seen', ARGV[6], 'expires', exp, 'ip', ARGV[8], 'ua', ARGV[9])\n"
	"expire_at(k, exp)\n"
	"redis.call('SET', 'lk:sess:' .. hex, uid)\n"
	"expire_at('lk:sess:' .. hex, exp)\n"
	"redis.call('SET', 'lk:handle:' .. ARGV[3], hex)\n"
	"expire_at('lk:handle:' .. ARGV[3], exp)\n"
	"local sk = U(uid, 'sessions')\n"
	"local cur = redis.call('EXPIRETIME', sk)\n"
	"redis.call('SADD', sk, hex)\n"
	"stretch(sk, cur, exp)\n"
	"redis.call('ZADD', G .. 'sess_exp', num(exp), uid .. ':' .. hex)\n"
	"redis.call('ZADD', G .. 'sess_seen', num(ARGV[6]), uid .. ':' .. hex)\n"
	"return {0}\n"},

	/* ARGV: hex. -> {0, uid, hex, handle, csrf, created, last_seen, expires, ip, ua} */
	[SC_SESS_GET] = {RO
	"local hex = ARGV[1]\n"
	"local uid = redis.call('GET', 'lk:sess:' .. hex)\n"
	"if not uid then return {1} end\n"
	"local f = redis.call('HMGET', U(uid, 's:' .. hex), " SESS_FIELDS ")\n"
	"if not f[1] then return {1} end\n"
	"local out = {0}\n"
	SESS_OUT
	"return out\n"},

	/* ARGV: hex now older_than. -> {0} whether or not it wrote; {1}: no such session. */
	[SC_SESS_TOUCH] = {RW
	"local hex = ARGV[1]\n"
	"local uid = redis.call('GET', 'lk:sess:' .. hex)\n"
	"if not uid then return {1} end\n"
	"local k = U(uid, 's:' .. hex)\n"
	"local ls = redis.call('HGET', k, 'last_seen')\n"
	"if not ls then return {1} end\n"
	"if num(ls) < num(ARGV[3]) then\n"
	"  redis.call('HSET', k, 'last_seen', ARGV[2])\n"
	"  redis.call('ZADD', G .. 'sess_seen', 'XX', num(ARGV[2]), uid .. ':' .. hex)\n"
	"end\n"
	"return {0}\n"},

	/* ARGV: hex. -> {0} or {1} */
	[SC_SESS_DEL] = {RW
	"local uid = redis.call('GET', 'lk:sess:' .. ARGV[1])\n"
	"if not uid then return {1} end\n"
	"if sess_del(uid, ARGV[1], clock()) == 0 then return {1} end\n"
	"bump()\n"
	"return {0}\n"},

	/* ARGV: uid handle. -> {0} or {1} */
	[SC_SESS_DEL_HANDLE] = {RW
	"local hex = redis.call('GET', 'lk:handle:' .. ARGV[2])\n"
	"if not hex or redis.call('EXISTS', U(ARGV[1], 's:' .. hex)) == 0 then return {1} end\n"
	"if sess_del(ARGV[1], hex, clock()) == 0 then return {1} end\n"
	"bump()\n"
	"return {0}\n"},

	/* ARGV: uid (negative: everyone). -> {0, (uid, hex, 7 fields)...} */
	[SC_SESS_LIST] = {RO
	"local out = {0}\n"
	"local function one(uid, hex)\n"
	"  local f = redis.call('HMGET', U(uid, 's:' .. hex), " SESS_FIELDS ")\n"
	"  if not f[1] then return end\n"
	SESS_OUT
	"end\n"
	"if num(ARGV[1]) < 0 then\n"
	"  for _, m in ipairs(redis.call('ZRANGE', G .. 'sess_exp', 0, -1)) do\n"
	"    local u, h = split(m)\n"
	"    if u then one(u, h) end\n"
	"  end\n"
	"else\n"
	"  for _, hex in ipairs(redis.call('SMEMBERS', U(ARGV[1], 'sessions'))) do\n"
	"    one(ARGV[1], hex)\n"
	"  end\n"
	"end\n"
	"return out\n"},

	/* ARGV: now idle_cutoff batch. One batch of: sessions with expires <= now or
	 * last_seen < idle_cutoff; revocations with expires <= now. -> {0, n, more} */
	[SC_SESS_PURGE] = {RW
	"local t, n, more = clock(), 0, 0\n"
	"local batch = num(ARGV[3])\n"
	/* revocations first, as sqlite.c: those the deletions below record stay */
	"local r = redis.call('ZRANGEBYSCORE', G .. 'rev_exp', '-inf', ARGV[1], 'LIMIT', 0, batch)\n"
	"for _, m in ipairs(r) do\n"
	"  redis.call('ZREM', G .. 'rev', m)\n"
	"  redis.call('ZREM', G .. 'rev_exp', m)\n"
	"end\n"
	"if #r == batch then more = 1 end\n"
	"local a = redis.call('ZRANGEBYSCORE', G .. 'sess_exp', '-inf', ARGV[1],\n"
	"                     'LIMIT', 0, batch)\n"
	"local b = redis.call('ZRANGEBYSCORE', G .. 'sess_seen', '-inf', '(' .. ARGV[2],\n"
	"                     'LIMIT', 0, batch)\n"
	"if #a == batch or #b == batch then more = 1 end\n"
	"for _, list in ipairs({a, b}) do\n"
	"  for _, m in ipairs(list) do\n"
	"    local u, h = split(m)\n"
	"    if u then n = n + sess_del(u, h, t)\n"
	"    else redis.call('ZREM', G .. 'sess_exp', m) redis.call('ZREM', G .. 'sess_seen', m) end\n"
	"  end\n"
	"end\n"
	"if n > 0 then bump() end\n"
	"return {0, n, more}\n"},

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

	/* ARGV: id name secret_hash scope created. -> {0} or {2} */
	[SC_CLIENT_ADD] = {RW
	"local k = 'lk:client:' .. ARGV[1]\n"
	"if redis.call('EXISTS', k) == 1 then return {2} end\n"
	"redis.call('HSET', k, 'name', ARGV[2], 'secret_hash', ARGV[3], 'scope', ARGV[4],\n"
	"           'created', ARGV[5])\n"
	"return {0}\n"},

	/* ARGV: hex family uid client_id scope created expires. -> {0}, {1} or {2} */
	[SC_RT_ADD] = {RW
	"local hex, fam, uid, exp = ARGV[1], ARGV[2], ARGV[3], ARGV[7]\n"
	"if redis.call('EXISTS', 'lk:rt:' .. hex) == 1 then return {2} end\n"
	"if redis.call('EXISTS', U(uid, 'user')) == 0 then return {1} end\n"
	"if num(exp) <= clock() then return {0} end\n"
	"local k = U(uid, 'r:' .. hex)\n"
	"redis.call('HSET', k, 'family', fam, 'client_id', ARGV[4], 'scope', ARGV[5],\n"
	"           'created', ARGV[6], 'expires', exp, 'used_at', '0', 'next_access', '')\n"
	"expire_at(k, exp)\n"
	"redis.call('SET', 'lk:rt:' .. hex, uid)\n"
	"expire_at('lk:rt:' .. hex, exp)\n"
	"for _, sk in ipairs({U(uid, 'refresh'), U(uid, 'f:' .. fam)}) do\n"
	"  local cur = redis.call('EXPIRETIME', sk)\n"
	"  redis.call('SADD', sk, hex)\n"
	"  stretch(sk, cur, exp)\n"
	"end\n"
	"local pk = 'lk:fam:' .. fam\n"
	"local owner = redis.call('GET', pk)\n"
	"if not owner then\n"
	"  redis.call('SET', pk, uid)\n"
	"  stretch(pk, -2, exp)\n"
	"elseif owner == uid then\n"
	"  stretch(pk, redis.call('EXPIRETIME', pk), exp)\n"
	"end\n"
	"return {0}\n"},

	/* ARGV: hex. -> {0, uid, family, client_id, scope, created, expires, used_at,
	 * next_access} */
	[SC_RT_GET] = {RO
	"local uid = redis.call('GET', 'lk:rt:' .. ARGV[1])\n"
	"if not uid then return {1} end\n"
	"local f = redis.call('HMGET', U(uid, 'r:' .. ARGV[1]), 'family', 'client_id',\n"
	"                     'scope', 'created', 'expires', 'used_at', 'next_access')\n"
	"if not f[1] then return {1} end\n"
	"local out = {0, uid}\n"
	"for i = 1, 7 do out[#out + 1] = f[i] or '' end\n"
	"return out\n"},

	/* ARGV: hex now next_access. Only one caller moves used_at from 0. -> {0}, {1}, {2} */
	[SC_RT_CLAIM] = {RW
	"local uid = redis.call('GET', 'lk:rt:' .. ARGV[1])\n"
	"if not uid then return {1} end\n"
	"local k = U(uid, 'r:' .. ARGV[1])\n"
	"local used = redis.call('HGET', k, 'used_at')\n"
	"if not used then return {1} end\n"
	"if num(used) ~= 0 then return {2} end\n"
	"redis.call('HSET', k, 'used_at', ARGV[2], 'next_access', ARGV[3])\n"
	"if ARGV[3] ~= '' then\n"
	"  redis.call('ZADD', G .. 'rt_used', num(ARGV[2]), uid .. ':' .. ARGV[1])\n"
	"end\n"
	"return {0}\n"},

	/* ARGV: family until. -> {0, n} */
	[SC_FAMILY_REVOKE] = {RW
	"local t, n = clock(), 0\n"
	"record('sid', ARGV[1], 0, ARGV[2], t)\n"
	"local uid = redis.call('GET', 'lk:fam:' .. ARGV[1])\n"
	"if uid then\n"
	"  for _, hex in ipairs(redis.call('SMEMBERS', U(uid, 'f:' .. ARGV[1]))) do\n"
	"    n = n + rt_del(uid, hex, t, true)\n"
	"  end\n"
	"  redis.call('DEL', U(uid, 'f:' .. ARGV[1]))\n"
	"  if redis.call('GET', 'lk:fam:' .. ARGV[1]) == uid then\n"
	"    redis.call('DEL', 'lk:fam:' .. ARGV[1])\n"
	"  end\n"
	"end\n"
	"bump()\n"
	"return {0, n}\n"},

	/* ARGV: type value before expires. -> {0} */
	[SC_REVOKE_ADD] = {RW
	"record(ARGV[1], ARGV[2], ARGV[3], ARGV[4], clock())\n"
	"bump()\n"
	"return {0}\n"},

	/* ARGV: pair ip now pair_free backoff_max ip_per_min step ('take' or 'release').
	 * lk_rl_policy() of auth/rlpolicy.h, step for step: change the two together. Keys
	 * live backoff_max + 60 s after their last change. -> {0, wait}; a take that must
	 * wait writes nothing. */
	[SC_RL_STEP] = {RW
	"local p, i = 'lk:rl:' .. ARGV[1], 'lk:rl:' .. ARGV[2]\n"
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

	/* ARGV: uid (negative: everyone), keep-hex (may be ''), until. The sessions (each
	 * recording its sid as sess_del does), then one sid revocation per refresh family until
	 * `until`, then the refresh tokens, quietly. -> {0, sessions, families, recorded...} */
	[SC_REVOKE_USER] = {RW
	"local t, ns, nf = clock(), 0, 0\n"
	"local ids = {ARGV[1]}\n"
	"if num(ARGV[1]) < 0 then ids = redis.call('HVALS', G .. 'names') end\n"
	"for _, id in ipairs(ids) do\n"
	"  for _, hex in ipairs(redis.call('SMEMBERS', U(id, 'sessions'))) do\n"
	"    if hex ~= ARGV[2] then ns = ns + sess_del(id, hex, t) end\n"
	"  end\n"
	"  local rts, seen = redis.call('SMEMBERS', U(id, 'refresh')), {}\n"
	"  for _, hex in ipairs(rts) do\n"
	"    local f = redis.call('HGET', U(id, 'r:' .. hex), 'family')\n"
	"    if f and not seen[f] then\n"
	"      seen[f] = true\n"
	"      nf = nf + 1\n"
	"      record('sid', f, 0, ARGV[3], t)\n"
	"    end\n"
	"  end\n"
	"  for _, hex in ipairs(rts) do rt_del(id, hex, t, true) end\n"
	"  redis.call('DEL', U(id, 'refresh'))\n"
	"end\n"
	"if ns + nf > 0 then bump() end\n"
	"return with_recorded({0, ns, nf})\n"},

	/* ARGV: used_before batch. Clear next_access of tokens used before used_before (their
	 * grace window is over), one batch of lk:{g}:rt_used. -> {0, trimmed, more} */
	[SC_RT_PURGE] = {RW
	"local n = 0\n"
	"local batch = num(ARGV[2])\n"
	"local m = redis.call('ZRANGEBYSCORE', G .. 'rt_used', '-inf', '(' .. ARGV[1],\n"
	"                     'LIMIT', 0, batch)\n"
	"for _, x in ipairs(m) do\n"
	"  local u, h = split(x)\n"
	"  if u then\n"
	"    local k = U(u, 'r:' .. h)\n"
	"    local na = redis.call('HGET', k, 'next_access')\n"
	"    if na and na ~= '' then\n"
	"      redis.call('HSET', k, 'next_access', '')\n"
	"      n = n + 1\n"
	"    end\n"
	"  end\n"
	"  redis.call('ZREM', G .. 'rt_used', x)\n"
	"end\n"
	"local more = 0\n"
	"if #m == batch then more = 1 end\n"
	"return {0, n, more}\n"},

	/* Layout 1 -> 2: index the used refresh tokens that still hold next_access in
	 * lk:{g}:rt_used (for refresh_purge). Runs once, under the schema's own check. ->
	 * {0} */
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

/* Does script id call bump()? (Its source names it more than once: the definition.) */
static bool bumps(enum scr id)
{
	const char *p = lua[id].src;
	int n = 0;
	while ((p = strstr(p, "bump()"))) {
		n++;
		p++;
	}
	return n > 1;
}

/* After a script that may have moved the generation: let this handle's subscriber catch up
 * (bounded), so this process reads its own revocation back at once. */
static enum lk_err synced(struct rd_store *st, enum scr id, enum lk_err err)
{
	if (err == LK_OK && bumps(id))
		lk_rd_sub_sync(st);
	return err;
}

static enum lk_err rscript(struct rd_store *st, enum scr id, struct lk_rd_args *a,
			   redisReply **out)
{
	return synced(st, id, lk_rd_eval(st, &lua[id], a, out));
}

static enum lk_err rscript0(struct rd_store *st, enum scr id, struct lk_rd_args *a)
{
	return synced(st, id, lk_rd_eval0(st, &lua[id], a));
}

static enum lk_err rscript_n(struct rd_store *st, enum scr id, struct lk_rd_args *a, int64_t *n)
{
	return synced(st, id, lk_rd_eval_n(st, &lua[id], a, n));
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

/* Elements from.. of array reply r, each a revocation member of lk:{g}:rev (netstrings:
 * cursor type value before expires), those with expires > now into a new array *v of *n
 * (free() it; NULL when none). LK_ESTORE_CORRUPT on a malformed one, LK_ENOMEM. */
static enum lk_err parse_revocations(const redisReply *r, size_t from, int64_t now,
				     struct lk_revocation **v, size_t *n)
{
	*v = NULL;
	*n = 0;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < from)
		return LK_ESTORE_CORRUPT;
	if (r->elements > from && !(*v = calloc(r->elements - from, sizeof **v)))
		return LK_ENOMEM;
	for (size_t i = from; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		struct lk_revocation x;
		const char *p = e->str, *end = e->str + e->len;
		memset(&x, 0, sizeof x);
		if (e->type != REDIS_REPLY_STRING || !lk_rd_ns_i64(&p, end, &x.cursor) ||
		    !lk_rd_ns_text(&p, end, x.type, sizeof x.type) ||
		    !lk_rd_ns_text(&p, end, x.value, sizeof x.value) || !lk_rd_ns_i64(&p, end, &x.before) ||
		    !lk_rd_ns_i64(&p, end, &x.expires)) {
			free(*v);
			*v = NULL;
			*n = 0;
			return LK_ESTORE_CORRUPT;
		}
		if (x.expires > now)
			(*v)[(*n)++] = x;
	}
	return LK_OK;
}

/* Hand v[0..n) to cb (until it returns non-zero; cb may be NULL) and free v. */
static void report(struct lk_revocation *v, size_t n, lk_revocation_cb cb, void *ud)
{
	for (size_t i = 0; cb && i < n; i++)
		if (cb(ud, &v[i]))
			break;
	free(v);
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
	const char *argv[] = {"SET", "lk:{g}:schema", ver, "NX", "GET"};
	size_t len[5];
	redisReply *r = NULL;
	int64_t v = 0;
	enum lk_err err;

	snprintf(ver, sizeof ver, "%d", SCHEMA_VERSION);
	for (int i = 0; i < 5; i++)
		len[i] = strlen(argv[i]);
	if ((err = lk_rd_cmd(st, 5, argv, len, &r, NULL)))
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
	} else if (v == 1) {
		struct lk_rd_args a = {0};
		if ((err = rscript0(st, SC_MIGRATE_2, &a)))
			err = lk_errf(ei, err, "%s: cannot migrate layout v1 to v2", st->where);
	}
	freeReplyObject(r);
	return err;
}

/*
 * Open the store named by rest ("//[[USER]:PASSWORD@]HOST[:PORT][/DB]"; the password may
 * come from LATCHKEY_REDIS_PASSWORD instead). Connects once, so that a wrong address or
 * password fails here and not on the first login; the opening thread keeps the
 * connection. On failure *out is NULL and ei says why, naming redis://HOST:PORT/DB.
 */
static enum lk_err rd_open(const char *rest, struct lk_store **out, struct lk_errinfo *ei)
{
	struct rd_store *st;
	struct rconn *c;
	enum lk_err err;

	*out = NULL;
	pthread_once(&lua_sha_once, lua_sha_init);
	if (!lua_sha_ok)
		return lk_errf(ei, LK_ECRYPTO, "cannot hash the store's scripts (SHA-1)");
	if ((err = lk_rd_new(rest, &lk_store_redis_ops, &st, ei)))
		return err;
	if ((err = lk_rd_conn_get(st, &c, ei)) || (err = lk_rd_check_policy(st, c, ei)) ||
	    (err = check_schema(st, ei))) {
		lk_rd_free(st);
		return err;
	}
	*out = &st->base;
	return LK_OK;
}

static enum lk_err rd_ping(struct lk_store *base)
{
	const char *argv[] = {"PING"};
	size_t len[] = {4};
	redisReply *r = NULL;
	enum lk_err err = lk_rd_cmd(rd(base), 1, argv, len, &r, NULL);
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

static enum lk_err rd_user_add(struct lk_store *base, struct lk_user *u)
{
	struct lk_rd_args a = {0};
	redisReply *r = NULL;
	enum lk_err err;
	int64_t id;

	if (!u || !u->name[0] || !u->phc[0])
		return LK_EINVAL;
	lk_rd_arg_str(&a, u->name, sizeof u->name - 1);
	lk_rd_arg_str(&a, u->roles, sizeof u->roles - 1);
	lk_rd_arg_str(&a, u->phc, sizeof u->phc - 1);
	lk_rd_arg_i64(&a, u->created);
	lk_rd_arg_i64(&a, u->pw_changed);
	if ((err = rscript(rd(base), SC_USER_ADD, &a, &r)))
		return err;
	if (r->elements < 2 || !lk_rd_int(r->element[1], &id))
		err = LK_ESTORE_CORRUPT;
	else
		u->id = id;
	freeReplyObject(r);
	return err;
}

static enum lk_err rd_user_get(struct lk_store *base, const char *name, struct lk_user *out)
{
	struct lk_rd_args a = {0};
	struct lk_user u;
	redisReply *r = NULL;
	enum lk_err err;

	if (!name || !out)
		return LK_EINVAL;
	if (strnlen(name, LK_NAME_MAX + 1) > LK_NAME_MAX)
		return LK_ENOT_FOUND; /* could not have been added */
	lk_rd_arg_str(&a, name, LK_NAME_MAX);
	if ((err = rscript(rd(base), SC_USER_GET, &a, &r)))
		return err;
	if (r->elements < 7 || !parse_user(r->element + 1, &u))
		err = LK_ESTORE_CORRUPT;
	else
		*out = u;
	freeReplyObject(r);
	return err;
}

static enum lk_err rd_user_get_id(struct lk_store *base, int64_t id, struct lk_user *out)
{
	char key[48];
	const char *argv[] = {"HMGET", key, "name", "roles", "phc", "created", "pw_changed"};
	size_t len[7];
	struct lk_user u;
	redisReply *r, *e[6], idr;
	enum lk_err err;

	if (!out)
		return LK_EINVAL;
	snprintf(key, sizeof key, "lk:{u:%lld}:user", (long long)id);
	for (int i = 0; i < 7; i++)
		len[i] = strlen(argv[i]);
	if ((err = lk_rd_cmd(rd(base), 7, argv, len, &r, NULL)))
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

/* The script reports what it recorded (parse_revocations); cb gets it. */
static enum lk_err user_change(struct rd_store *st, const char *name, const char *phc,
			       int64_t now, lk_revocation_cb cb, void *ud)
{
	struct lk_rd_args a = {0};
	struct lk_revocation *v = NULL;
	redisReply *r = NULL;
	size_t n = 0;
	enum lk_err err;

	lk_rd_arg_str(&a, name, LK_NAME_MAX);
	lk_rd_arg_str(&a, phc ? "pw" : "del", 3);
	lk_rd_arg_str(&a, phc ? phc : "", LK_PHC_MAX);
	lk_rd_arg_i64(&a, now);
	if ((err = rscript(st, SC_USER_CHANGE, &a, &r)))
		return err;
	err = parse_revocations(r, 1, INT64_MIN, &v, &n);
	freeReplyObject(r);
	report(v, err ? 0 : n, cb, ud);
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

/* Ordered by name (bytewise, as SQLite's BINARY collation). */
static enum lk_err rd_user_list(struct lk_store *base, lk_user_cb cb, void *ud)
{
	struct lk_rd_args a = {0};
	struct lk_user *v = NULL;
	redisReply *r = NULL;
	enum lk_err err;
	size_t n;

	if (!cb)
		return LK_EINVAL;
	if ((err = rscript(rd(base), SC_USER_LIST, &a, &r)))
		return err;
	if ((r->elements - 1) % 6) {
		err = LK_ESTORE_CORRUPT;
		goto out;
	}
	n = (r->elements - 1) / 6;
	if (n && !(v = calloc(n, sizeof *v))) {
		err = LK_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!parse_user(r->element + 1 + 6 * i, &v[i])) {
			err = LK_ESTORE_CORRUPT;
			goto out;
		}
	}
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
	free(v);
	return err;
}

/* One command with an integer reply into *n. */
static enum lk_err count_cmd(struct rd_store *st, int argc, const char **argv, int64_t *n)
{
	size_t len[4];
	redisReply *r = NULL;
	enum lk_err err;

	if (!n)
		return LK_EINVAL;
	for (int i = 0; i < argc; i++)
		len[i] = strlen(argv[i]);
	if ((err = lk_rd_cmd(st, argc, argv, len, &r, NULL)))
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
	const char *argv[] = {"HLEN", "lk:{g}:names"};
	return count_cmd(rd(base), 2, argv, n);
}

/* ---------------------------------------------------------------- sessions */

static enum lk_err rd_session_add(struct lk_store *base, const struct lk_session *s)
{
	struct lk_rd_args a = {0};

	if (!s || !s->handle[0])
		return LK_EINVAL;
	lk_rd_arg_hex(&a, s->id_hash);
	lk_rd_arg_i64(&a, s->user_id);
	lk_rd_arg_str(&a, s->handle, sizeof s->handle - 1);
	lk_rd_arg_str(&a, s->csrf, sizeof s->csrf - 1);
	lk_rd_arg_i64(&a, s->created);
	lk_rd_arg_i64(&a, s->last_seen);
	lk_rd_arg_i64(&a, s->expires);
	lk_rd_arg_str(&a, s->ip, sizeof s->ip - 1);
	lk_rd_arg_str(&a, s->user_agent, sizeof s->user_agent - 1);
	return rscript0(rd(base), SC_SESS_ADD, &a);
}

/* The hot path: one round trip (the script follows lk:sess:HEX to the user's hash). */
static enum lk_err rd_session_get(struct lk_store *base, const unsigned char id_hash[32],
				  struct lk_session *out)
{
	struct lk_rd_args a = {0};
	struct lk_session s;
	redisReply *r = NULL;
	enum lk_err err;

	if (!id_hash || !out)
		return LK_EINVAL;
	lk_rd_arg_hex(&a, id_hash);
	if ((err = rscript(rd(base), SC_SESS_GET, &a, &r)))
		return err;
	if (r->elements != 10 || !parse_session(r->element + 1, &s) ||
	    memcmp(s.id_hash, id_hash, 32) != 0)
		err = LK_ESTORE_CORRUPT;
	else
		*out = s;
	freeReplyObject(r);
	return err;
}

/* LK_OK when the session exists (last_seen moved or not), LK_ENOT_FOUND when not. */
static enum lk_err rd_session_touch(struct lk_store *base, const unsigned char id_hash[32],
				    int64_t now, int64_t older_than)
{
	struct lk_rd_args a = {0};

	if (!id_hash)
		return LK_EINVAL;
	lk_rd_arg_hex(&a, id_hash);
	lk_rd_arg_i64(&a, now);
	lk_rd_arg_i64(&a, older_than);
	return rscript0(rd(base), SC_SESS_TOUCH, &a);
}

static enum lk_err rd_session_del(struct lk_store *base, const unsigned char id_hash[32])
{
	struct lk_rd_args a = {0};

	if (!id_hash)
		return LK_EINVAL;
	lk_rd_arg_hex(&a, id_hash);
	return rscript0(rd(base), SC_SESS_DEL, &a);
}

static enum lk_err rd_session_del_handle(struct lk_store *base, int64_t user_id,
					 const char *handle)
{
	struct lk_rd_args a = {0};

	if (!handle)
		return LK_EINVAL;
	if (strnlen(handle, LK_HANDLE_LEN + 1) > LK_HANDLE_LEN)
		return LK_ENOT_FOUND;
	lk_rd_arg_i64(&a, user_id);
	lk_rd_arg_str(&a, handle, LK_HANDLE_LEN);
	return rscript0(rd(base), SC_SESS_DEL_HANDLE, &a);
}

static int cmp_session(const void *x, const void *y)
{
	const struct lk_session *a = x, *b = y;
	if (a->created != b->created)
		return a->created > b->created ? -1 : 1;
	return strcmp(a->handle, b->handle);
}

/* Ordered by created, newest first, then by handle (as sqlite.c). */
static enum lk_err rd_session_list(struct lk_store *base, int64_t user_id, lk_session_cb cb,
				   void *ud)
{
	struct lk_rd_args a = {0};
	struct lk_session *v = NULL;
	redisReply *r = NULL;
	enum lk_err err;
	size_t n;

	if (!cb)
		return LK_EINVAL;
	lk_rd_arg_i64(&a, user_id < 0 ? -1 : user_id);
	if ((err = rscript(rd(base), SC_SESS_LIST, &a, &r)))
		return err;
	if ((r->elements - 1) % 9) {
		err = LK_ESTORE_CORRUPT;
		goto out;
	}
	n = (r->elements - 1) / 9;
	if (n && !(v = calloc(n, sizeof *v))) {
		err = LK_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!parse_session(r->element + 1 + 9 * i, &v[i])) {
			err = LK_ESTORE_CORRUPT;
			goto out;
		}
	}
	freeReplyObject(r);
	r = NULL;
	if (n)
		qsort(v, n, sizeof *v, cmp_session);
	for (size_t i = 0; i < n; i++)
		if (cb(ud, &v[i]))
			break;
out:
	if (r)
		freeReplyObject(r);
	free(v);
	return err;
}

/*
 * Sessions past their absolute expiry (expires <= now) or idle (last_seen < idle_cutoff),
 * and revocations that ended (expires <= now). Refresh tokens expire natively and need no
 * purge. Runs in batches of PURGE_BATCH index members, each batch one script, so a large
 * purge does not hold the server for long; each batch is atomic, the whole is not.
 */
/* Run a purge script in batches until it reports nothing more: its reply is {0, n, more}
 * and its arguments are args[0..nargs) then PURGE_BATCH. *n: the sum of the batches. */
static enum lk_err purge_batches(struct rd_store *st, enum scr id, const int64_t *args,
				 int nargs, int64_t *n)
{
	int64_t total = 0;
	enum lk_err err = LK_OK;

	for (int round = 0; round < 100000; round++) {
		struct lk_rd_args a = {0};
		redisReply *r = NULL;
		int64_t k = 0, more = 0;
		for (int i = 0; i < nargs; i++)
			lk_rd_arg_i64(&a, args[i]);
		lk_rd_arg_i64(&a, PURGE_BATCH);
		if ((err = rscript(st, id, &a, &r)))
			return err;
		if (r->elements != 3 || !lk_rd_int(r->element[1], &k) ||
		    !lk_rd_int(r->element[2], &more))
			err = LK_ESTORE_CORRUPT;
		freeReplyObject(r);
		if (err)
			return err;
		total += k;
		if (!more)
			break;
	}
	if (n)
		*n = total;
	return LK_OK;
}

static enum lk_err rd_session_purge(struct lk_store *base, int64_t now, int64_t idle_cutoff,
				    int64_t *n)
{
	const int64_t args[] = {now, idle_cutoff};
	return purge_batches(rd(base), SC_SESS_PURGE, args, 2, n);
}

static enum lk_err rd_session_count(struct lk_store *base, int64_t now, int64_t *n)
{
	char min[32];
	const char *argv[] = {"ZCOUNT", "lk:{g}:sess_exp", min, "+inf"};
	snprintf(min, sizeof min, "(%lld", (long long)now);
	return count_cmd(rd(base), 4, argv, n);
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
	return rscript0(rd(base), SC_AUDIT_ADD, &args);
}

/* Newest first (LPUSH order). */
static enum lk_err rd_audit_list(struct lk_store *base, size_t limit, lk_audit_cb cb, void *ud)
{
	char stop[24];
	const char *argv[] = {"LRANGE", "lk:{g}:audit", "0", stop};
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
	return rscript0(rd(base), SC_KEY_ADD, &a);
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
	if ((err = rscript(rd(base), SC_KEY_LIST, &a, &r)))
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
	return rscript0(rd(base), SC_KEY_RETIRE, &a);
}

static enum lk_err rd_key_del(struct lk_store *base, const char *kid)
{
	struct lk_rd_args a = {0};

	if (!kid)
		return LK_EINVAL;
	lk_rd_arg_str(&a, kid, LK_KID_MAX);
	return rscript0(rd(base), SC_KEY_DEL, &a);
}

/* ---------------------------------------------------------------- clients */

static enum lk_err rd_client_add(struct lk_store *base, const struct lk_client *c)
{
	struct lk_rd_args a = {0};

	if (!c || !c->id[0])
		return LK_EINVAL;
	lk_rd_arg_str(&a, c->id, sizeof c->id - 1);
	lk_rd_arg_str(&a, c->name, sizeof c->name - 1);
	lk_rd_arg(&a, c->secret_hash, 32);
	lk_rd_arg_str(&a, c->scope, sizeof c->scope - 1);
	lk_rd_arg_i64(&a, c->created);
	return rscript0(rd(base), SC_CLIENT_ADD, &a);
}

static enum lk_err rd_client_get(struct lk_store *base, const char *id, struct lk_client *out)
{
	char key[16 + LK_CLIENT_ID_LEN];
	const char *argv[] = {"HMGET", key, "name", "secret_hash", "scope", "created"};
	size_t len[6];
	struct lk_client c;
	redisReply *r = NULL;
	enum lk_err err;

	if (!id || !out)
		return LK_EINVAL;
	if (strnlen(id, LK_CLIENT_ID_LEN + 1) > LK_CLIENT_ID_LEN)
		return LK_ENOT_FOUND;
	snprintf(key, sizeof key, "lk:client:%s", id);
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

static enum lk_err rd_refresh_add(struct lk_store *base, const struct lk_refresh *r)
{
	struct lk_rd_args a = {0};

	if (!r || !r->family[0])
		return LK_EINVAL;
	lk_rd_arg_hex(&a, r->hash);
	lk_rd_arg_str(&a, r->family, sizeof r->family - 1);
	lk_rd_arg_i64(&a, r->user_id);
	lk_rd_arg_str(&a, r->client_id, sizeof r->client_id - 1);
	lk_rd_arg_str(&a, r->scope, sizeof r->scope - 1);
	lk_rd_arg_i64(&a, r->created);
	lk_rd_arg_i64(&a, r->expires);
	return rscript0(rd(base), SC_RT_ADD, &a);
}

static enum lk_err rd_refresh_get(struct lk_store *base, const unsigned char hash[32],
				  struct lk_refresh *out)
{
	struct lk_rd_args a = {0};
	redisReply *r = NULL, *const *e;
	struct lk_refresh *x = out;
	enum lk_err err;

	if (!hash || !out)
		return LK_EINVAL;
	lk_rd_arg_hex(&a, hash);
	if ((err = rscript(rd(base), SC_RT_GET, &a, &r)))
		return err;
	e = r->element + 1;
	/* Parse into a copy: out is written only on success (and it is large, so heap). */
	if (!(x = calloc(1, sizeof *x))) {
		freeReplyObject(r);
		return LK_ENOMEM;
	}
	memcpy(x->hash, hash, 32);
	if (r->elements != 9 || !lk_rd_int(e[0], &x->user_id) ||
	    !lk_rd_text(e[1], x->family, sizeof x->family) ||
	    !lk_rd_text(e[2], x->client_id, sizeof x->client_id) ||
	    !lk_rd_text(e[3], x->scope, sizeof x->scope) || !lk_rd_int(e[4], &x->created) ||
	    !lk_rd_int(e[5], &x->expires) || !lk_rd_int(e[6], &x->used_at) ||
	    !lk_rd_text(e[7], x->next_access, sizeof x->next_access))
		err = LK_ESTORE_CORRUPT;
	else
		*out = *x;
	freeReplyObject(r);
	free(x);
	return err;
}

static enum lk_err rd_refresh_claim(struct lk_store *base, const unsigned char hash[32],
				    int64_t now, const char *next_access)
{
	struct lk_rd_args a = {0};

	if (!hash || !next_access)
		return LK_EINVAL;
	lk_rd_arg_hex(&a, hash);
	lk_rd_arg_i64(&a, now);
	lk_rd_arg_str(&a, next_access, LK_TOKEN_MAX);
	return rscript0(rd(base), SC_RT_CLAIM, &a);
}

static enum lk_err rd_family_revoke(struct lk_store *base, const char *family, int64_t until,
				    int64_t *n)
{
	struct lk_rd_args a = {0};

	if (!family || !family[0])
		return LK_EINVAL;
	lk_rd_arg_str(&a, family, LK_HANDLE_LEN);
	lk_rd_arg_i64(&a, until);
	return rscript_n(rd(base), SC_FAMILY_REVOKE, &a, n);
}

/* ---------------------------------------------------------------- sign-out */

static enum lk_err rd_revoke_user(struct lk_store *base, int64_t user_id,
				  const unsigned char *keep, int64_t until, int64_t *sessions,
				  int64_t *families, lk_revocation_cb cb, void *ud)
{
	struct lk_rd_args a = {0};
	struct lk_revocation *v = NULL;
	redisReply *r = NULL;
	int64_t ns = 0, nf = 0;
	size_t n = 0;
	enum lk_err err;

	lk_rd_arg_i64(&a, user_id < 0 ? -1 : user_id);
	if (keep)
		lk_rd_arg_hex(&a, keep);
	else
		lk_rd_arg(&a, "", 0);
	lk_rd_arg_i64(&a, until);
	if ((err = rscript(rd(base), SC_REVOKE_USER, &a, &r)))
		return err;
	if (r->elements < 3 || !lk_rd_int(r->element[1], &ns) || !lk_rd_int(r->element[2], &nf))
		err = LK_ESTORE_CORRUPT;
	else
		err = parse_revocations(r, 3, INT64_MIN, &v, &n);
	freeReplyObject(r);
	if (err)
		return err;
	report(v, n, cb, ud);
	if (sessions)
		*sessions = ns;
	if (families)
		*families = nf;
	return LK_OK;
}

/*
 * Expired refresh tokens leave by their own TTL, so what remains is trimming: next_access
 * of every token used before used_before goes, through the lk:{g}:rt_used index that
 * refresh_claim fills, in batches of PURGE_BATCH (each atomic, the whole not). *n: tokens
 * trimmed (expired ones are never counted here: they were gone already).
 */
static enum lk_err rd_refresh_purge(struct lk_store *base, int64_t now, int64_t used_before,
				    int64_t *n)
{
	const int64_t args[] = {used_before};
	(void)now; /* expiry is native */
	return purge_batches(rd(base), SC_RT_PURGE, args, 1, n);
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
	return rscript0(rd(base), SC_REVOKE_ADD, &a);
}

static enum lk_err rd_revocations(struct lk_store *base, int64_t after, int64_t now,
				  lk_revocation_cb cb, void *ud)
{
	char min[32];
	const char *argv[] = {"ZRANGEBYSCORE", "lk:{g}:rev", min, "+inf"};
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
	err = parse_revocations(r, 0, now, &v, &n);
	freeReplyObject(r);
	report(v, n, cb, ud);
	return err;
}

static enum lk_err rd_set_revocation_ttl(struct lk_store *base, int64_t seconds)
{
	char v[24];
	const char *argv[] = {"HSET", "lk:{g}:meta", "revocation_ttl", v};
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
	const char *argv[] = {"HGET", "lk:{g}:meta", "revocation_ttl"};
	size_t len[3] = {4, 11, 14};
	redisReply *r = NULL;
	enum lk_err err = lk_rd_cmd(rd(base), 3, argv, len, &r, NULL);
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
	char key[96];
	const char *argv[] = {"SET", key, (const char *)mine, "NX", "GET"};
	size_t len[5];
	redisReply *r = NULL;
	enum lk_err err;

	if (!name)
		return LK_EINVAL;
	snprintf(key, sizeof key, "lk:{g}:secret:%.64s", name);
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

	lk_rd_arg_str(&a, pair, 128);
	lk_rd_arg_str(&a, ip, 128);
	lk_rd_arg_i64(&a, now);
	lk_rd_arg_i64(&a, cfg->pair_free);
	lk_rd_arg_i64(&a, cfg->backoff_max);
	lk_rd_arg_i64(&a, cfg->ip_per_min);
	lk_rd_arg_str(&a, step, 8);
	if ((err = rscript(st, SC_RL_STEP, &a, &r)))
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

const struct lk_store_ops lk_store_redis_ops = {
	.scheme = "redis",
	.open = rd_open,
	.close = rd_close,
	.ping = rd_ping,
	.generation = rd_generation,
	.generation_wait = rd_generation_wait,
	.user_add = rd_user_add,
	.user_get = rd_user_get,
	.user_get_id = rd_user_get_id,
	.user_set_password = rd_user_set_password,
	.user_del = rd_user_del,
	.user_list = rd_user_list,
	.user_count = rd_user_count,
	.session_add = rd_session_add,
	.session_get = rd_session_get,
	.session_touch = rd_session_touch,
	.session_del = rd_session_del,
	.session_del_handle = rd_session_del_handle,
	.session_list = rd_session_list,
	.session_purge = rd_session_purge,
	.session_count = rd_session_count,
	.audit_add = rd_audit_add,
	.audit_list = rd_audit_list,
	.key_add = rd_key_add,
	.key_list = rd_key_list,
	.key_retire = rd_key_retire,
	.key_del = rd_key_del,
	.client_add = rd_client_add,
	.client_get = rd_client_get,
	.refresh_add = rd_refresh_add,
	.refresh_get = rd_refresh_get,
	.refresh_claim = rd_refresh_claim,
	.family_revoke = rd_family_revoke,
	.revoke_add = rd_revoke_add,
	.revocations = rd_revocations,
	.set_revocation_ttl = rd_set_revocation_ttl,
	.revocation_ttl = rd_revocation_ttl,
	.secret = rd_secret,
	.secret_claim = rd_secret_claim,
	.rl_take = rd_rl_take,
	.rl_release = rd_rl_release,
	.revoke_user = rd_revoke_user,
	.refresh_purge = rd_refresh_purge,
};
