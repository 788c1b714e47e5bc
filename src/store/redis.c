/* SPDX-License-Identifier: MIT */
/*
 * The shared store back end, "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]": the same
 * lk_store_ops as sqlite.c, kept in Redis (7.0 or newer) through hiredis, so that several
 * latchkey instances share users, sessions, refresh families, revocations, keys and
 * clients. The key layout is written down in docs/redis-keys.md; keep the two in step.
 *
 * Design in brief:
 * - One connection per thread, made lazily: a pthread key per store hands each thread its
 *   struct rconn, whose destructor frees it when the thread exits; close() frees those of
 *   threads still alive (as in sqlite.c). Connecting waits at most CONNECT_MS, and every
 *   command at most COMMAND_MS (SO_RCVTIMEO/SO_SNDTIMEO), so no call hangs on a stopped
 *   or unreachable server: it fails with LK_ESTORE. After any I/O error the context is
 *   freed and the thread's next call connects again (AUTH, SELECT, INFO pipelined in one
 *   round trip), so service comes back by itself when Redis does. A timeout (a server that
 *   is frozen or unreachable, not one that refuses) makes every call of every thread fail
 *   at once for HOLD_MS: a request then waits for one timeout, not one per store call, and
 *   worker threads do not pile up behind a hung server. Recovery waits at most HOLD_MS.
 * - Every change of more than one key is one Lua script (EVALSHA, falling back to EVAL
 *   on NOSCRIPT), so it is atomic: a script runs alone on the server. Redis does not roll
 *   a script back when a command in it fails, so scripts check everything before their
 *   first write and never call a command that can fail on well-formed data. They carry a
 *   `#!lua` shebang: Redis then refuses a writing script as a whole when it is out of
 *   memory instead of failing it half-way. Read-only scripts say `flags=no-writes`.
 * - The SQLite triggers of migration 2 are mirrored inside the scripts: a session deleted
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
 * - generation() costs one round trip (GET lk:{g}:gen), not an atomic load: a cached
 *   session saves the session and user reads but not this one. The value is the counter
 *   plus a hash of the server's run_id, so a restarted (and possibly emptied) Redis never
 *   repeats a generation a cache has seen; when Redis cannot be reached it is a fresh
 *   random number, so no cache entry ever matches while the store is down.
 * - Listings read everything in one reply, then run the callbacks: a callback may call
 *   the store, and sees the state as of the read.
 * - Nothing here logs. Details name redis://HOST:PORT/DB, never the password.
 *
 * close() must not race with the store's use: call it only after every other thread has
 * stopped calling the store (as for sqlite.c).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "store/store.h"
#include "util/err.h"

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 6379
#define CONNECT_MS 1000
#define COMMAND_MS 2000
#define HOLD_MS 1000          /* after a timeout, fail at once for this long */
#define AUDIT_CAP 10000       /* audit events kept (a capped list; sqlite keeps all) */
#define PURGE_BATCH 1000      /* index members one session_purge script handles */
#define SCHEMA_VERSION 1      /* lk:{g}:schema; bump when the layout changes */
#define MAX_ARGS 12           /* script arguments, at most */
#define PASS_ENV "LATCHKEY_REDIS_PASSWORD"

/* Script results: the first element of every script's reply. */
enum { ST_OK = 0, ST_NOT_FOUND = 1, ST_EXISTS = 2, ST_CORRUPT = 3 };

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
	"local function bump() redis.call('INCR', G .. 'gen') end\n"                       \
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
	/* Append a revocation; drop a few that ended before t on the way. */              \
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
	/* Delete one refresh token; the refresh_end trigger. 1 when it existed. */        \
	"local function rt_del(uid, hex, t)\n"                                             \
	"  local k = U(uid, 'r:' .. hex)\n"                                                \
	"  local f = redis.call('HMGET', k, 'family', 'used_at', 'expires')\n"             \
	"  redis.call('SREM', U(uid, 'refresh'), hex)\n"                                   \
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
	"  if num(f[2]) == 0 and num(f[3]) > t then\n"                                     \
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
	SC_SESS_DEL_USER,
	SC_SESS_DEL_ALL,
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
	SC_RT_DEL_USER,
	SC_REVOKE_ADD,
	SC_RL_FAIL,
	SC_COUNT_
};

static const char *const lua[SC_COUNT_] = {
	/* ARGV: name roles phc created pw_changed. -> {0, id} */
	[SC_USER_ADD] = RW
	"if redis.call('HEXISTS', G .. 'names', ARGV[1]) == 1 then return {2} end\n"
	"local id = tostring(redis.call('INCR', G .. 'next_user'))\n"
	"while redis.call('EXISTS', U(id, 'user')) == 1 do\n"
	"  id = tostring(redis.call('INCR', G .. 'next_user'))\n"
	"end\n"
	"redis.call('HSET', U(id, 'user'), 'name', ARGV[1], 'roles', ARGV[2], 'phc', ARGV[3],\n"
	"           'created', ARGV[4], 'pw_changed', ARGV[5])\n"
	"redis.call('HSET', G .. 'names', ARGV[1], id)\n"
	"return {0, id}\n",

	/* ARGV: name. -> {0, id, name, roles, phc, created, pw_changed} */
	[SC_USER_GET] = RO
	"local id = redis.call('HGET', G .. 'names', ARGV[1])\n"
	"if not id then return {1} end\n"
	"local f = redis.call('HMGET', U(id, 'user'), " USER_FIELDS ")\n"
	"if not f[1] then return {3} end\n"
	"return {0, id, f[1], f[2] or '', f[3] or '', f[4] or '', f[5] or ''}\n",

	/* ARGV: name, 'pw' or 'del', phc, pw_changed. Every session and refresh token of the
	 * user goes; then the password changes or the user goes. -> {0} */
	[SC_USER_CHANGE] = RW
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
	"return {0}\n",

	/* -> {0, (id, name, roles, phc, created, pw_changed)...} */
	[SC_USER_LIST] = RO
	"local out = {0}\n"
	"local all = redis.call('HGETALL', G .. 'names')\n"
	"for i = 1, #all, 2 do\n"
	"  local f = redis.call('HMGET', U(all[i + 1], 'user'), " USER_FIELDS ")\n"
	"  if f[1] then\n"
	"    out[#out + 1] = all[i + 1]\n"
	"    for j = 1, 5 do out[#out + 1] = f[j] or '' end\n"
	"  end\n"
	"end\n"
	"return out\n",

	/* ARGV: hex uid handle csrf created last_seen expires ip ua. -> {0} */
	[SC_SESS_ADD] = RW
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
	"return {0}\n",

	/* ARGV: hex. -> {0, uid, hex, handle, csrf, created, last_seen, expires, ip, ua} */
	[SC_SESS_GET] = RO
	"local hex = ARGV[1]\n"
	"local uid = redis.call('GET', 'lk:sess:' .. hex)\n"
	"if not uid then return {1} end\n"
	"local f = redis.call('HMGET', U(uid, 's:' .. hex), " SESS_FIELDS ")\n"
	"if not f[1] then return {1} end\n"
	"local out = {0}\n"
	SESS_OUT
	"return out\n",

	/* ARGV: hex now older_than. -> {0} whether or not it wrote. */
	[SC_SESS_TOUCH] = RW
	"local hex = ARGV[1]\n"
	"local uid = redis.call('GET', 'lk:sess:' .. hex)\n"
	"if not uid then return {0} end\n"
	"local k = U(uid, 's:' .. hex)\n"
	"local ls = redis.call('HGET', k, 'last_seen')\n"
	"if ls and num(ls) < num(ARGV[3]) then\n"
	"  redis.call('HSET', k, 'last_seen', ARGV[2])\n"
	"  redis.call('ZADD', G .. 'sess_seen', 'XX', num(ARGV[2]), uid .. ':' .. hex)\n"
	"end\n"
	"return {0}\n",

	/* ARGV: hex. -> {0} or {1} */
	[SC_SESS_DEL] = RW
	"local uid = redis.call('GET', 'lk:sess:' .. ARGV[1])\n"
	"if not uid then return {1} end\n"
	"if sess_del(uid, ARGV[1], clock()) == 0 then return {1} end\n"
	"bump()\n"
	"return {0}\n",

	/* ARGV: uid handle. -> {0} or {1} */
	[SC_SESS_DEL_HANDLE] = RW
	"local hex = redis.call('GET', 'lk:handle:' .. ARGV[2])\n"
	"if not hex or redis.call('EXISTS', U(ARGV[1], 's:' .. hex)) == 0 then return {1} end\n"
	"if sess_del(ARGV[1], hex, clock()) == 0 then return {1} end\n"
	"bump()\n"
	"return {0}\n",

	/* ARGV: uid keep-hex (may be ''). -> {0, n} */
	[SC_SESS_DEL_USER] = RW
	"local t, n = clock(), 0\n"
	"for _, hex in ipairs(redis.call('SMEMBERS', U(ARGV[1], 'sessions'))) do\n"
	"  if hex ~= ARGV[2] then n = n + sess_del(ARGV[1], hex, t) end\n"
	"end\n"
	"if n > 0 then bump() end\n"
	"return {0, n}\n",

	/* -> {0, n} */
	[SC_SESS_DEL_ALL] = RW
	"local t, n = clock(), 0\n"
	"for _, m in ipairs(redis.call('ZRANGE', G .. 'sess_exp', 0, -1)) do\n"
	"  local u, h = split(m)\n"
	"  if u then n = n + sess_del(u, h, t)\n"
	"  else redis.call('ZREM', G .. 'sess_exp', m) redis.call('ZREM', G .. 'sess_seen', m) end\n"
	"end\n"
	"if n > 0 then bump() end\n"
	"return {0, n}\n",

	/* ARGV: uid (negative: everyone). -> {0, (uid, hex, 7 fields)...} */
	[SC_SESS_LIST] = RO
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
	"return out\n",

	/* ARGV: now idle_cutoff batch. One batch of: sessions with expires <= now or
	 * last_seen < idle_cutoff; revocations with expires <= now. -> {0, n, more} */
	[SC_SESS_PURGE] = RW
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
	"return {0, n, more}\n",

	/* ARGV: netstrings of ts event user ip detail; cap. -> {0, id} */
	[SC_AUDIT_ADD] = RW
	"local id = redis.call('INCR', G .. 'next_audit')\n"
	"redis.call('LPUSH', G .. 'audit', ns(id) .. ARGV[1])\n"
	"redis.call('LTRIM', G .. 'audit', 0, num(ARGV[2]) - 1)\n"
	"return {0, id}\n",

	/* ARGV: kid alg jwk created sign_from retire_at remove_at. -> {0} or {2} */
	[SC_KEY_ADD] = RW
	"local k = G .. 'key:' .. ARGV[1]\n"
	"if redis.call('EXISTS', k) == 1 then return {2} end\n"
	"redis.call('HSET', k, 'alg', ARGV[2], 'jwk', ARGV[3], 'created', ARGV[4],\n"
	"           'sign_from', ARGV[5], 'retire_at', ARGV[6], 'remove_at', ARGV[7])\n"
	"redis.call('SADD', G .. 'kids', ARGV[1])\n"
	"bump()\n"
	"return {0}\n",

	/* -> {0, (kid, alg, jwk, created, sign_from, retire_at, remove_at)...} */
	[SC_KEY_LIST] = RO
	"local out = {0}\n"
	"for _, kid in ipairs(redis.call('SMEMBERS', G .. 'kids')) do\n"
	"  local f = redis.call('HMGET', G .. 'key:' .. kid, 'alg', 'jwk', 'created',\n"
	"                       'sign_from', 'retire_at', 'remove_at')\n"
	"  if f[1] then\n"
	"    out[#out + 1] = kid\n"
	"    for i = 1, 6 do out[#out + 1] = f[i] or '' end\n"
	"  end\n"
	"end\n"
	"return out\n",

	/* ARGV: kid retire_at remove_at. -> {0} or {1} */
	[SC_KEY_RETIRE] = RW
	"local k = G .. 'key:' .. ARGV[1]\n"
	"if redis.call('EXISTS', k) == 0 then return {1} end\n"
	"redis.call('HSET', k, 'retire_at', ARGV[2], 'remove_at', ARGV[3])\n"
	"bump()\n"
	"return {0}\n",

	/* ARGV: kid. -> {0} or {1} */
	[SC_KEY_DEL] = RW
	"local gone = redis.call('DEL', G .. 'key:' .. ARGV[1])\n"
	"redis.call('SREM', G .. 'kids', ARGV[1])\n"
	"if gone == 0 then return {1} end\n"
	"bump()\n"
	"return {0}\n",

	/* ARGV: id name secret_hash scope created. -> {0} or {2} */
	[SC_CLIENT_ADD] = RW
	"local k = 'lk:client:' .. ARGV[1]\n"
	"if redis.call('EXISTS', k) == 1 then return {2} end\n"
	"redis.call('HSET', k, 'name', ARGV[2], 'secret_hash', ARGV[3], 'scope', ARGV[4],\n"
	"           'created', ARGV[5])\n"
	"return {0}\n",

	/* ARGV: hex family uid client_id scope created expires. -> {0}, {1} or {2} */
	[SC_RT_ADD] = RW
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
	"return {0}\n",

	/* ARGV: hex. -> {0, uid, family, client_id, scope, created, expires, used_at,
	 * next_access} */
	[SC_RT_GET] = RO
	"local uid = redis.call('GET', 'lk:rt:' .. ARGV[1])\n"
	"if not uid then return {1} end\n"
	"local f = redis.call('HMGET', U(uid, 'r:' .. ARGV[1]), 'family', 'client_id',\n"
	"                     'scope', 'created', 'expires', 'used_at', 'next_access')\n"
	"if not f[1] then return {1} end\n"
	"local out = {0, uid}\n"
	"for i = 1, 7 do out[#out + 1] = f[i] or '' end\n"
	"return out\n",

	/* ARGV: hex now next_access. Only one caller moves used_at from 0. -> {0}, {1}, {2} */
	[SC_RT_CLAIM] = RW
	"local uid = redis.call('GET', 'lk:rt:' .. ARGV[1])\n"
	"if not uid then return {1} end\n"
	"local k = U(uid, 'r:' .. ARGV[1])\n"
	"local used = redis.call('HGET', k, 'used_at')\n"
	"if not used then return {1} end\n"
	"if num(used) ~= 0 then return {2} end\n"
	"redis.call('HSET', k, 'used_at', ARGV[2], 'next_access', ARGV[3])\n"
	"return {0}\n",

	/* ARGV: family until. -> {0, n} */
	[SC_FAMILY_REVOKE] = RW
	"local t, n = clock(), 0\n"
	"local uid = redis.call('GET', 'lk:fam:' .. ARGV[1])\n"
	"if uid then\n"
	"  for _, hex in ipairs(redis.call('SMEMBERS', U(uid, 'f:' .. ARGV[1]))) do\n"
	"    n = n + rt_del(uid, hex, t)\n"
	"  end\n"
	"  redis.call('DEL', U(uid, 'f:' .. ARGV[1]))\n"
	"  if redis.call('GET', 'lk:fam:' .. ARGV[1]) == uid then\n"
	"    redis.call('DEL', 'lk:fam:' .. ARGV[1])\n"
	"  end\n"
	"end\n"
	"record('sid', ARGV[1], 0, ARGV[2], t)\n"
	"bump()\n"
	"return {0, n}\n",

	/* ARGV: uid (negative: everyone). -> {0, n} */
	[SC_RT_DEL_USER] = RW
	"local t, n = clock(), 0\n"
	"local ids = {ARGV[1]}\n"
	"if num(ARGV[1]) < 0 then ids = redis.call('HVALS', G .. 'names') end\n"
	"for _, id in ipairs(ids) do\n"
	"  for _, hex in ipairs(redis.call('SMEMBERS', U(id, 'refresh'))) do\n"
	"    n = n + rt_del(id, hex, t)\n"
	"  end\n"
	"end\n"
	"bump()\n"
	"return {0, n}\n",

	/* ARGV: type value before expires. -> {0} */
	[SC_REVOKE_ADD] = RW
	"record(ARGV[1], ARGV[2], ARGV[3], ARGV[4], clock())\n"
	"bump()\n"
	"return {0}\n",

	/* ARGV: pair ip now cap ttl. One more failure for pair; one token from ip's bucket,
	 * refilled at cap per minute up to cap. Both keys live ttl after their last change. */
	[SC_RL_FAIL] = RW
	"local p, i = 'lk:rl:' .. ARGV[1], 'lk:rl:' .. ARGV[2]\n"
	"local now, cap, ttl = num(ARGV[3]), num(ARGV[4]), num(ARGV[5])\n"
	"redis.call('HINCRBY', p, 'f', 1)\n"
	"redis.call('HSET', p, 'l', now)\n"
	"redis.call('EXPIRE', p, ttl)\n"
	"local b = redis.call('HMGET', i, 't', 'l')\n"
	"local t = cap\n"
	"if b[1] then t = math.min(cap, num(b[1]) + (now - num(b[2])) * cap / 60) end\n"
	"redis.call('HSET', i, 't', tostring(t - 1), 'l', now)\n"
	"redis.call('EXPIRE', i, ttl)\n"
	"return {0}\n",
};

/* SHA-1 of each script, hex: what EVALSHA names. Computed once per process. */
static char lua_sha[SC_COUNT_][41];
static pthread_once_t lua_sha_once = PTHREAD_ONCE_INIT;
static bool lua_sha_ok;

static void tohex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Copy s[0..n) into dst[size], cut at a UTF-8 character boundary when it does not fit
 * (as sqlite.c's col_text). */
static void copy_text(char *dst, size_t size, const char *s, size_t n)
{
	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	if (n)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

static void lua_sha_init(void)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	for (int i = 0; i < SC_COUNT_; i++) {
		if (!EVP_Digest(lua[i], strlen(lua[i]), md, &n, EVP_sha1(), NULL) || n != 20)
			return;
		tohex(md, 20, lua_sha[i]);
	}
	lua_sha_ok = true;
}

/* ---------------------------------------------------------------- the store */

/* One thread's connection. */
struct rconn {
	redisContext *c;     /* NULL: not connected, or dropped after an error */
	uint64_t run;        /* the server's run_id, hashed: added to the generation */
	char policy[32];     /* the server's maxmemory-policy at connect */
	struct rd_store *st;
	struct rconn *prev, *next; /* st->conns, under st->mu */
};

struct rd_store {
	struct lk_store base; /* first: (struct lk_store *) <-> (struct rd_store *) */
	char *host;
	int port;
	int db;
	char *user;           /* ACL user name, NULL for the default user */
	char *pass;           /* NULL: no AUTH. Wiped at close */
	char where[128];      /* "redis://HOST:PORT/DB" for details: never the password */
	pthread_key_t key;    /* this thread's struct rconn */
	pthread_mutex_t mu;   /* guards conns */
	struct rconn *conns;
	_Atomic int64_t hold_until; /* CLOCK_MONOTONIC ms: fail at once until then */
};

static struct rd_store *rd(struct lk_store *st)
{
	return (struct rd_store *)st;
}

/* ---------------------------------------------------------------- SIGPIPE */

/*
 * hiredis writes with write(2): on a connection the server has closed, that raises
 * SIGPIPE, which kills a process that has not ignored it (a CLI command, say). Unless the
 * process ignores SIGPIPE already (the server does), block it in this thread around the
 * call and consume one raised meanwhile. Cost: four system calls per command then.
 */
struct pipeguard {
	bool on, pending;
	sigset_t set, old;
};

static void guard_begin(struct pipeguard *g)
{
	struct sigaction sa;
	sigset_t pend;

	g->on = false;
	if (sigaction(SIGPIPE, NULL, &sa) != 0 || sa.sa_handler == SIG_IGN)
		return;
	sigemptyset(&g->set);
	sigaddset(&g->set, SIGPIPE);
	g->pending = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE);
	g->on = pthread_sigmask(SIG_BLOCK, &g->set, &g->old) == 0;
}

static void guard_end(struct pipeguard *g)
{
	sigset_t pend;
	struct timespec zero = {0, 0};

	if (!g->on)
		return;
	if (!g->pending && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE)) {
		while (sigtimedwait(&g->set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---------------------------------------------------------------- timeouts */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* After an I/O failure with errno e (message msg): on a timeout, hold off every call of
 * this store for HOLD_MS. Refusals and resets fail fast by themselves and hold nothing. */
static void note_failure(struct rd_store *st, int e, const char *msg)
{
	bool timeout = e == EAGAIN || e == EWOULDBLOCK || e == ETIMEDOUT || e == EINPROGRESS ||
		       (msg && (strstr(msg, "timed out") || strstr(msg, "temporarily unavailable")));
	if (timeout)
		atomic_store_explicit(&st->hold_until, mono_ms() + HOLD_MS, memory_order_relaxed);
}

static bool held(struct rd_store *st)
{
	return mono_ms() < atomic_load_explicit(&st->hold_until, memory_order_relaxed);
}

/* ---------------------------------------------------------------- connections */

static void conn_drop(struct rconn *c)
{
	if (c->c)
		redisFree(c->c);
	c->c = NULL;
}

static void conn_free(struct rconn *c)
{
	if (!c)
		return;
	conn_drop(c);
	free(c);
}

/* pthread key destructor: the thread exits, so does its connection. */
static void conn_thread_exit(void *p)
{
	struct rconn *c = p;
	struct rd_store *st = c->st;

	pthread_mutex_lock(&st->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		st->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&st->mu);
	conn_free(c);
}

static struct timeval ms_tv(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	return tv;
}

/* The value of "name:" in an INFO reply, up to the end of its line. */
static const char *info_field(const char *info, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	for (const char *p = info; p && *p;) {
		if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			*len = strcspn(p, "\r\n");
			return p;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* The first word of a Redis error reply, for details ("WRONGPASS", "NOAUTH"). */
static void err_word(const redisReply *r, char *out, size_t size)
{
	size_t n = r && r->str ? strcspn(r->str, " \r\n") : 0;
	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(out, r->str, n);
	out[n] = '\0';
}

/*
 * Connect c: TCP with CONNECT_MS, then AUTH, SELECT and INFO (server, memory) pipelined
 * in one round trip, each reply read within COMMAND_MS. Checks the server is Redis 7 or
 * newer, keeps a hash of its run_id and its maxmemory-policy. On failure c->c stays NULL
 * and ei says why.
 */
static enum lk_err conn_connect(struct rd_store *st, struct rconn *c, struct lk_errinfo *ei)
{
	struct pipeguard g;
	redisReply *r = NULL;
	enum lk_err err = LK_OK;
	char dbs[16], word[32];
	const char *argv[3];
	size_t len[3];
	int sent = 0, got = 0;

	errno = 0;
	c->c = redisConnectWithTimeout(st->host, st->port, ms_tv(CONNECT_MS));
	if (!c->c)
		return lk_errf(ei, LK_ENOMEM, "out of memory connecting to %s", st->where);
	if (c->c->err) {
		note_failure(st, errno, c->c->errstr);
		err = lk_errf(ei, LK_ESTORE, "cannot connect to %s: %s", st->where, c->c->errstr);
		goto fail;
	}
	if (redisSetTimeout(c->c, ms_tv(COMMAND_MS)) != REDIS_OK ||
	    redisEnableKeepAlive(c->c) != REDIS_OK) {
		err = lk_errf(ei, LK_ESTORE, "cannot set up the connection to %s", st->where);
		goto fail;
	}
	if (st->pass) {
		int n = 0;
		argv[n] = "AUTH";
		len[n++] = 4;
		if (st->user) {
			argv[n] = st->user;
			len[n] = strlen(st->user);
			n++;
		}
		argv[n] = st->pass;
		len[n] = strlen(st->pass);
		n++;
		if (redisAppendCommandArgv(c->c, n, argv, len) != REDIS_OK)
			goto io;
		sent++;
	}
	if (st->db) {
		snprintf(dbs, sizeof dbs, "%d", st->db);
		argv[0] = "SELECT";
		len[0] = 6;
		argv[1] = dbs;
		len[1] = strlen(dbs);
		if (redisAppendCommandArgv(c->c, 2, argv, len) != REDIS_OK)
			goto io;
		sent++;
	}
	argv[0] = "INFO";
	len[0] = 4;
	argv[1] = "server";
	len[1] = 6;
	argv[2] = "memory";
	len[2] = 6;
	if (redisAppendCommandArgv(c->c, 3, argv, len) != REDIS_OK)
		goto io;
	sent++;

	/* The first read sends the whole pipeline. */
	guard_begin(&g);
	for (int i = 0; i < sent; i++) {
		void *v = NULL;
		errno = 0;
		if (redisGetReply(c->c, &v) != REDIS_OK || !v) {
			note_failure(st, errno, c->c->errstr);
			break;
		}
		got++;
		redisReply *x = v;
		if (x->type == REDIS_REPLY_ERROR && err == LK_OK) {
			err_word(x, word, sizeof word);
			if (st->pass && i == 0)
				err = lk_errf(ei, LK_ESTORE, "%s refused the password (%s)", st->where,
					      word);
			else if (!strcmp(word, "NOAUTH"))
				err = lk_errf(ei, LK_ESTORE, "%s wants a password (URL or %s)",
					      st->where, PASS_ENV);
			else
				err = lk_errf(ei, LK_ESTORE, "%s refused the connection set-up (%s)",
					      st->where, word);
		}
		if (i == sent - 1)
			r = x;
		else
			freeReplyObject(x);
	}
	guard_end(&g);
	if (err)
		goto fail;
	if (got < sent)
		goto io;
	if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) {
		err = lk_errf(ei, LK_ESTORE, "%s: unexpected reply to INFO", st->where);
		goto fail;
	}
	{
		size_t n = 0;
		const char *v = info_field(r->str, "redis_version", &n);
		if (!v || atoi(v) < 7) {
			err = lk_errf(ei, LK_ESTORE, "%s is Redis %.*s; latchkey needs 7.0 or newer",
				      st->where, v ? (int)(n < 16 ? n : 16) : 1, v ? v : "?");
			goto fail;
		}
		v = info_field(r->str, "run_id", &n);
		uint64_t run = 0;
		for (size_t i = 0; v && i < n && i < 16; i++) {
			int d = v[i] >= '0' && v[i] <= '9'   ? v[i] - '0'
				: v[i] >= 'a' && v[i] <= 'f' ? v[i] - 'a' + 10
							     : 0;
			run = run << 4 | (uint64_t)d;
		}
		c->run = run;
		v = info_field(r->str, "maxmemory_policy", &n);
		copy_text(c->policy, sizeof c->policy, v ? v : "", v ? n : 0);
	}
	freeReplyObject(r);
	return LK_OK;
io:
	err = lk_errf(ei, LK_ESTORE, "%s: %s", st->where,
		      c->c->errstr[0] ? c->c->errstr : "connection lost");
fail:
	if (r)
		freeReplyObject(r);
	conn_drop(c);
	return err;
}

/* The calling thread's connection, (re)connected when it has none. */
static enum lk_err conn_get(struct rd_store *st, struct rconn **out, struct lk_errinfo *ei)
{
	struct rconn *c = pthread_getspecific(st->key);
	enum lk_err err;

	if (held(st))
		return lk_errf(ei, LK_ESTORE, "%s timed out less than %d ms ago", st->where,
			       HOLD_MS);
	if (!c) {
		if (!(c = calloc(1, sizeof *c)))
			return lk_errf(ei, LK_ENOMEM, "out of memory");
		c->st = st;
		if (pthread_setspecific(st->key, c) != 0) {
			free(c);
			return lk_errf(ei, LK_ENOMEM, "out of memory");
		}
		pthread_mutex_lock(&st->mu);
		c->next = st->conns;
		if (st->conns)
			st->conns->prev = c;
		st->conns = c;
		pthread_mutex_unlock(&st->mu);
	}
	if (!c->c && (err = conn_connect(st, c, ei)))
		return err;
	*out = c;
	return LK_OK;
}

/* ---------------------------------------------------------------- commands */

/* Map an error reply. Errors that mean the connection itself is in a bad state (lost
 * authentication after a failover, say) drop it so the next call starts afresh. */
static enum lk_err map_error(struct rconn *c, const redisReply *r)
{
	char w[32];
	err_word(r, w, sizeof w);
	if (!strcmp(w, "WRONGTYPE"))
		return LK_ESTORE_CORRUPT; /* a key of ours holds something else */
	if (!strcmp(w, "NOAUTH") || !strcmp(w, "WRONGPASS") || !strcmp(w, "NOPERM") ||
	    !strcmp(w, "READONLY") || !strcmp(w, "MASTERDOWN"))
		conn_drop(c);
	/* OOM, LOADING, BUSY, MISCONF, script errors: the store cannot do it now. */
	return LK_ESTORE;
}

/* Send one command on c and read its reply. NULL after an I/O error or timeout, with the
 * connection dropped (and, on a timeout, the store held). */
static redisReply *send_argv(struct rconn *c, int argc, const char **argv, const size_t *len)
{
	struct pipeguard g;
	guard_begin(&g);
	errno = 0;
	redisReply *r = redisCommandArgv(c->c, argc, argv, len);
	int e = errno; /* before guard_end's system calls */
	guard_end(&g);
	if (!r || c->c->err) {
		note_failure(c->st, e, c->c->errstr);
		if (r)
			freeReplyObject(r);
		conn_drop(c);
		return NULL;
	}
	return r;
}

/* Run one command on this thread's connection. *out: the reply (caller frees with
 * freeReplyObject), never an error reply; *cp (may be NULL): the connection used. */
static enum lk_err rcmd(struct rd_store *st, int argc, const char **argv, const size_t *len,
			redisReply **out, struct rconn **cp)
{
	struct rconn *c;
	enum lk_err err;
	redisReply *r = NULL;

	if ((err = conn_get(st, &c, NULL)))
		return err;
	if (!(r = send_argv(c, argc, argv, len)))
		return LK_ESTORE;
	if (r->type == REDIS_REPLY_ERROR) {
		err = map_error(c, r);
		freeReplyObject(r);
		return err;
	}
	*out = r;
	if (cp)
		*cp = c;
	return LK_OK;
}

/* Script arguments: pointers and lengths, numbers formatted in place. */
struct args {
	int n;
	const char *v[MAX_ARGS + 3];
	size_t l[MAX_ARGS + 3];
	char num[MAX_ARGS][24];
	char hex[2][65];
	int nnum, nhex;
};

static void a_add(struct args *a, const void *p, size_t n)
{
	if (a->n >= MAX_ARGS)
		abort(); /* our bug: a script called with more than MAX_ARGS arguments */
	a->v[3 + a->n] = p;
	a->l[3 + a->n] = n;
	a->n++;
}

/* Text of at most max bytes (a struct field's size - 1: never reads past the field). */
static void a_str(struct args *a, const char *s, size_t max)
{
	a_add(a, s, strnlen(s, max));
}

static void a_i64(struct args *a, int64_t v)
{
	if (a->nnum >= MAX_ARGS)
		abort(); /* our bug, as in a_add */
	char *b = a->num[a->nnum++];
	int n = snprintf(b, sizeof a->num[0], "%lld", (long long)v);
	a_add(a, b, (size_t)n);
}

static void a_hex(struct args *a, const unsigned char h[32])
{
	if (a->nhex >= 2)
		abort(); /* our bug: at most two hashes per call */
	char *b = a->hex[a->nhex++];
	tohex(h, 32, b);
	a_add(a, b, 64);
}

/* The status a script put first in its reply. */
static enum lk_err script_status(const redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER)
		return LK_ESTORE_CORRUPT;
	switch (r->element[0]->integer) {
	case ST_OK:
		return LK_OK;
	case ST_NOT_FOUND:
		return LK_ENOT_FOUND;
	case ST_EXISTS:
		return LK_EEXISTS;
	default:
		return LK_ESTORE_CORRUPT;
	}
}

/*
 * Run script id with the arguments in a (no KEYS: the scripts name their keys; see
 * docs/redis-keys.md on Redis Cluster). EVALSHA first; on NOSCRIPT (a restarted or
 * flushed server) EVAL, which also caches it again. On LK_OK *out is the reply (caller
 * frees); otherwise the script's status (LK_ENOT_FOUND, LK_EEXISTS) or the failure.
 */
static enum lk_err rscript(struct rd_store *st, enum scr id, struct args *a, redisReply **out)
{
	struct rconn *c;
	enum lk_err err;
	redisReply *r = NULL;

	if ((err = conn_get(st, &c, NULL)))
		return err;
	a->v[0] = "EVALSHA";
	a->l[0] = 7;
	a->v[1] = lua_sha[id];
	a->l[1] = 40;
	a->v[2] = "0";
	a->l[2] = 1;
	if (!(r = send_argv(c, a->n + 3, a->v, a->l)))
		return LK_ESTORE;
	if (r->type == REDIS_REPLY_ERROR && r->str && !strncmp(r->str, "NOSCRIPT", 8)) {
		freeReplyObject(r);
		a->v[0] = "EVAL";
		a->l[0] = 4;
		a->v[1] = lua[id];
		a->l[1] = strlen(lua[id]);
		if (!(r = send_argv(c, a->n + 3, a->v, a->l)))
			return LK_ESTORE;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		err = map_error(c, r);
		freeReplyObject(r);
		return err;
	}
	if ((err = script_status(r))) {
		freeReplyObject(r);
		return err;
	}
	*out = r;
	return LK_OK;
}

/* A script whose reply is just its status. */
static enum lk_err rscript0(struct rd_store *st, enum scr id, struct args *a)
{
	redisReply *r = NULL;
	enum lk_err err = rscript(st, id, a, &r);
	if (r)
		freeReplyObject(r);
	return err;
}

/* A script whose reply is {status, n}: *n (may be NULL) = n. */
static enum lk_err rscript_n(struct rd_store *st, enum scr id, struct args *a, int64_t *n)
{
	redisReply *r = NULL;
	enum lk_err err = rscript(st, id, a, &r);
	if (err)
		return err;
	if (r->elements < 2 || r->element[1]->type != REDIS_REPLY_INTEGER)
		err = LK_ESTORE_CORRUPT;
	else if (n)
		*n = r->element[1]->integer;
	freeReplyObject(r);
	return err;
}

/* ---------------------------------------------------------------- replies */

/* An integer from an integer reply or decimal text. */
static bool r_i64(const redisReply *r, int64_t *v)
{
	if (r->type == REDIS_REPLY_INTEGER) {
		*v = r->integer;
		return true;
	}
	if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20)
		return false;
	char buf[24], *end;
	memcpy(buf, r->str, r->len);
	buf[r->len] = '\0';
	errno = 0;
	long long x = strtoll(buf, &end, 10);
	if (errno || *end)
		return false;
	*v = x;
	return true;
}

/* Text from a string reply (nil: empty). */
static bool r_text(const redisReply *r, char *dst, size_t size)
{
	if (r->type == REDIS_REPLY_NIL) {
		dst[0] = '\0';
		return true;
	}
	if (r->type != REDIS_REPLY_STRING)
		return false;
	copy_text(dst, size, r->str, r->len);
	return true;
}

static int unhex1(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 64 lowercase hex digits -> 32 bytes. */
static bool r_hash(const redisReply *r, unsigned char out[32])
{
	if (r->type != REDIS_REPLY_STRING || r->len != 64)
		return false;
	for (size_t i = 0; i < 32; i++) {
		int hi = unhex1(r->str[2 * i]), lo = unhex1(r->str[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

/* The next netstring "N:bytes," of [*p, end). */
static bool ns_next(const char **p, const char *end, const char **s, size_t *n)
{
	size_t k = 0;
	const char *q = *p;
	int digits = 0;
	while (q < end && *q >= '0' && *q <= '9' && digits < 9) {
		k = k * 10 + (size_t)(*q++ - '0');
		digits++;
	}
	if (!digits || q >= end || *q != ':' || (size_t)(end - q - 1) < k + 1 || q[1 + k] != ',')
		return false;
	*s = q + 1;
	*n = k;
	*p = q + 2 + k;
	return true;
}

static bool ns_text(const char **p, const char *end, char *dst, size_t size)
{
	const char *s;
	size_t n;
	if (!ns_next(p, end, &s, &n))
		return false;
	copy_text(dst, size, s, n);
	return true;
}

static bool ns_i64(const char **p, const char *end, int64_t *v)
{
	const char *s;
	size_t n;
	char buf[24], *e;
	if (!ns_next(p, end, &s, &n) || n == 0 || n >= sizeof buf)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	long long x = strtoll(buf, &e, 10);
	if (errno || *e)
		return false;
	*v = x;
	return true;
}

/* Append netstring s[0..n) to buf (size cap) at *len. */
static bool ns_put(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
	int k = snprintf(buf + *len, cap - *len, "%zu:", n);
	if (k < 0 || (size_t)k + n + 1 >= cap - *len)
		return false;
	*len += (size_t)k;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[(*len)++] = ',';
	buf[*len] = '\0';
	return true;
}

/* Six elements at e: id name roles phc created pw_changed. */
static bool parse_user(redisReply *const *e, struct lk_user *u)
{
	memset(u, 0, sizeof *u);
	return r_i64(e[0], &u->id) && r_text(e[1], u->name, sizeof u->name) &&
	       r_text(e[2], u->roles, sizeof u->roles) && r_text(e[3], u->phc, sizeof u->phc) &&
	       r_i64(e[4], &u->created) && r_i64(e[5], &u->pw_changed);
}

/* Nine elements at e: uid hex handle csrf created last_seen expires ip ua. */
static bool parse_session(redisReply *const *e, struct lk_session *s)
{
	memset(s, 0, sizeof *s);
	return r_i64(e[0], &s->user_id) && r_hash(e[1], s->id_hash) &&
	       r_text(e[2], s->handle, sizeof s->handle) &&
	       r_text(e[3], s->csrf, sizeof s->csrf) && r_i64(e[4], &s->created) &&
	       r_i64(e[5], &s->last_seen) && r_i64(e[6], &s->expires) &&
	       r_text(e[7], s->ip, sizeof s->ip) && r_text(e[8], s->user_agent, sizeof s->user_agent);
}

/* ---------------------------------------------------------------- open / close */

static void rd_close(struct lk_store *base)
{
	struct rd_store *st = rd(base);
	struct rconn *c, *next;

	if (!st)
		return;
	/* After this no thread's exit calls conn_thread_exit for this store. */
	pthread_key_delete(st->key);
	pthread_mutex_lock(&st->mu);
	c = st->conns;
	st->conns = NULL;
	pthread_mutex_unlock(&st->mu);
	for (; c; c = next) {
		next = c->next;
		conn_free(c);
	}
	pthread_mutex_destroy(&st->mu);
	if (st->pass) {
		sodium_memzero(st->pass, strlen(st->pass));
		free(st->pass);
	}
	free(st->user);
	free(st->host);
	free(st);
}

/* Decode %XX escapes of s[0..n) into a new string; NULL when malformed or out of memory. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t k = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[k++] = s[i];
			continue;
		}
		int hi = i + 2 < n ? unhex1((char)(s[i + 1] | 0x20)) : -1;
		int lo = i + 2 < n ? unhex1((char)(s[i + 2] | 0x20)) : -1;
		if (hi < 0 || lo < 0)
			goto bad;
		out[k++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[k] = '\0';
	return out;
bad:
	sodium_memzero(out, n + 1);
	free(out);
	return NULL;
}

#define URL_FORM "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]"

/* Parse "//[[USER]:PASSWORD@]HOST[:PORT][/DB]" into st. Details never quote the URL (it
 * may hold the password). */
static enum lk_err parse_url(struct rd_store *st, const char *rest, struct lk_errinfo *ei)
{
	const char *auth, *end, *at, *host, *hend, *p;
	long v;
	char *e;

	st->port = DEFAULT_PORT;
	if (!rest || strncmp(rest, "//", 2) != 0)
		return lk_errf(ei, LK_EINVAL, "bad store URL: expected " URL_FORM);
	auth = rest + 2;
	end = auth + strcspn(auth, "/?#");
	if (*end == '?' || *end == '#')
		return lk_errf(ei, LK_EINVAL, "bad store URL: no query or fragment in " URL_FORM);
	at = NULL;
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	host = auth;
	if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		if (!colon)
			return lk_errf(ei, LK_EINVAL,
				       "bad store URL: the user part needs \":PASSWORD\" (" URL_FORM ")");
		if (colon > auth && !(st->user = pct_decode(auth, (size_t)(colon - auth))))
			return lk_errf(ei, LK_EINVAL, "bad store URL: bad %%-escape in the user name");
		if (!(st->pass = pct_decode(colon + 1, (size_t)(at - colon - 1))))
			return lk_errf(ei, LK_EINVAL, "bad store URL: bad %%-escape in the password");
		if (!st->pass[0]) {
			free(st->pass);
			st->pass = NULL;
		}
		host = at + 1;
	}
	if (*host == '[') {
		hend = memchr(host, ']', (size_t)(end - host));
		if (!hend)
			return lk_errf(ei, LK_EINVAL, "bad store URL: unclosed [ in the host");
		st->host = strndup(host + 1, (size_t)(hend - host - 1));
		p = hend + 1;
	} else {
		hend = memchr(host, ':', (size_t)(end - host));
		if (!hend)
			hend = end;
		st->host = strndup(host, (size_t)(hend - host));
		p = hend;
	}
	if (!st->host)
		return lk_errf(ei, LK_ENOMEM, "out of memory opening the store");
	if (!st->host[0]) {
		free(st->host);
		if (!(st->host = strdup(DEFAULT_HOST)))
			return lk_errf(ei, LK_ENOMEM, "out of memory opening the store");
	}
	if (p < end) {
		if (*p != ':' || p + 1 == end || (size_t)(end - p - 1) > 5)
			return lk_errf(ei, LK_EINVAL, "bad store URL: bad port (" URL_FORM ")");
		char buf[8];
		memcpy(buf, p + 1, (size_t)(end - p - 1));
		buf[end - p - 1] = '\0';
		v = strtol(buf, &e, 10);
		if (*e || buf[0] < '0' || buf[0] > '9' || v < 1 || v > 65535)
			return lk_errf(ei, LK_EINVAL, "bad store URL: port must be 1 to 65535");
		st->port = (int)v;
	}
	if (*end == '/' && end[1]) {
		errno = 0;
		v = strtol(end + 1, &e, 10);
		if (*e || errno || end[1] < '0' || end[1] > '9' || v < 0 || v > INT_MAX)
			return lk_errf(ei, LK_EINVAL, "bad store URL: DB must be a number");
		st->db = (int)v;
	}
	if (!st->pass) {
		const char *env = getenv(PASS_ENV);
		if (env && *env && !(st->pass = strdup(env)))
			return lk_errf(ei, LK_ENOMEM, "out of memory opening the store");
	}
	snprintf(st->where, sizeof st->where, strchr(st->host, ':') ? "redis://[%s]:%d/%d"
								    : "redis://%s:%d/%d",
		 st->host, st->port, st->db);
	return LK_OK;
}

/*
 * Refuse a server that may evict keys: an evicted revocation set would let revoked tokens
 * through again, and an evicted index would let a session outlive a password change. Only
 * "noeviction" is safe (the Redis default). Checked at open; a server reconfigured later
 * is not noticed until the next open.
 */
static enum lk_err check_policy(struct rd_store *st, const struct rconn *c,
				struct lk_errinfo *ei)
{
	if (!c->policy[0] || !strcmp(c->policy, "noeviction"))
		return LK_OK;
	return lk_errf(ei, LK_ESTORE, "%s has maxmemory-policy %s; latchkey needs noeviction",
		       st->where, c->policy);
}

/* Claim the database for this layout version, or refuse a newer one. */
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
	if ((err = rcmd(st, 5, argv, len, &r, NULL)))
		return lk_errf(ei, err, "%s: cannot read the layout version", st->where);
	if (r->type == REDIS_REPLY_NIL) {
		err = LK_OK;
	} else if (!r_i64(r, &v) || v < 1) {
		err = lk_errf(ei, LK_ESTORE_CORRUPT, "%s: lk:{g}:schema is not a layout version",
			      st->where);
	} else if (v > SCHEMA_VERSION) {
		err = lk_errf(ei, LK_ESTORE_VERSION,
			      "%s: layout v%lld is newer than this latchkey (v%d); upgrade",
			      st->where, (long long)v, SCHEMA_VERSION);
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
	if (!(st = calloc(1, sizeof *st)))
		return lk_errf(ei, LK_ENOMEM, "out of memory opening the store");
	st->base.ops = &lk_store_redis_ops;
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		free(st);
		return lk_errf(ei, LK_ENOMEM, "cannot create a mutex");
	}
	if (pthread_key_create(&st->key, conn_thread_exit) != 0) {
		pthread_mutex_destroy(&st->mu);
		free(st);
		return lk_errf(ei, LK_ENOMEM, "no thread-specific key left");
	}
	if ((err = parse_url(st, rest, ei)) || (err = conn_get(st, &c, ei)) ||
	    (err = check_policy(st, c, ei)) || (err = check_schema(st, ei))) {
		rd_close(&st->base);
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
	enum lk_err err = rcmd(rd(base), 1, argv, len, &r, NULL);
	if (err)
		return err;
	err = r->type == REDIS_REPLY_STATUS && r->len == 4 && !memcmp(r->str, "PONG", 4)
		      ? LK_OK
		      : LK_ESTORE;
	freeReplyObject(r);
	return err;
}

/*
 * One round trip: GET lk:{g}:gen, plus a hash of the server's run_id. Any failure gives
 * a fresh random value, so that no cached session is trusted while Redis is unreachable.
 */
static uint64_t rd_generation(struct lk_store *base)
{
	const char *argv[] = {"GET", "lk:{g}:gen"};
	size_t len[] = {3, 10};
	struct rconn *c = NULL;
	redisReply *r = NULL;
	int64_t v = 0;
	uint64_t g;

	if (rcmd(rd(base), 2, argv, len, &r, &c) == LK_OK &&
	    (r->type == REDIS_REPLY_NIL || r_i64(r, &v))) {
		g = c->run + (uint64_t)v;
	} else {
		randombytes_buf(&g, sizeof g);
	}
	if (r)
		freeReplyObject(r);
	return g;
}

/* ---------------------------------------------------------------- users */

static enum lk_err rd_user_add(struct lk_store *base, struct lk_user *u)
{
	struct args a = {0};
	redisReply *r = NULL;
	enum lk_err err;
	int64_t id;

	if (!u || !u->name[0] || !u->phc[0])
		return LK_EINVAL;
	a_str(&a, u->name, sizeof u->name - 1);
	a_str(&a, u->roles, sizeof u->roles - 1);
	a_str(&a, u->phc, sizeof u->phc - 1);
	a_i64(&a, u->created);
	a_i64(&a, u->pw_changed);
	if ((err = rscript(rd(base), SC_USER_ADD, &a, &r)))
		return err;
	if (r->elements < 2 || !r_i64(r->element[1], &id))
		err = LK_ESTORE_CORRUPT;
	else
		u->id = id;
	freeReplyObject(r);
	return err;
}

static enum lk_err rd_user_get(struct lk_store *base, const char *name, struct lk_user *out)
{
	struct args a = {0};
	struct lk_user u;
	redisReply *r = NULL;
	enum lk_err err;

	if (!name || !out)
		return LK_EINVAL;
	if (strnlen(name, LK_NAME_MAX + 1) > LK_NAME_MAX)
		return LK_ENOT_FOUND; /* could not have been added */
	a_str(&a, name, LK_NAME_MAX);
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
	if ((err = rcmd(rd(base), 7, argv, len, &r, NULL)))
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

static enum lk_err user_change(struct rd_store *st, const char *name, const char *phc,
			       int64_t now)
{
	struct args a = {0};
	a_str(&a, name, LK_NAME_MAX);
	a_str(&a, phc ? "pw" : "del", 3);
	a_str(&a, phc ? phc : "", LK_PHC_MAX);
	a_i64(&a, now);
	return rscript0(st, SC_USER_CHANGE, &a);
}

static enum lk_err rd_user_set_password(struct lk_store *base, const char *name,
					const char *phc, int64_t now)
{
	if (!name || !phc || !phc[0] || strnlen(phc, LK_PHC_MAX + 1) > LK_PHC_MAX)
		return LK_EINVAL;
	if (strnlen(name, LK_NAME_MAX + 1) > LK_NAME_MAX)
		return LK_ENOT_FOUND;
	return user_change(rd(base), name, phc, now);
}

static enum lk_err rd_user_del(struct lk_store *base, const char *name)
{
	if (!name)
		return LK_EINVAL;
	if (strnlen(name, LK_NAME_MAX + 1) > LK_NAME_MAX)
		return LK_ENOT_FOUND;
	return user_change(rd(base), name, NULL, 0);
}

static int cmp_user(const void *x, const void *y)
{
	return strcmp(((const struct lk_user *)x)->name, ((const struct lk_user *)y)->name);
}

/* Ordered by name (bytewise, as SQLite's BINARY collation). */
static enum lk_err rd_user_list(struct lk_store *base, lk_user_cb cb, void *ud)
{
	struct args a = {0};
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
	if ((err = rcmd(st, argc, argv, len, &r, NULL)))
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
	struct args a = {0};

	if (!s || !s->handle[0])
		return LK_EINVAL;
	a_hex(&a, s->id_hash);
	a_i64(&a, s->user_id);
	a_str(&a, s->handle, sizeof s->handle - 1);
	a_str(&a, s->csrf, sizeof s->csrf - 1);
	a_i64(&a, s->created);
	a_i64(&a, s->last_seen);
	a_i64(&a, s->expires);
	a_str(&a, s->ip, sizeof s->ip - 1);
	a_str(&a, s->user_agent, sizeof s->user_agent - 1);
	return rscript0(rd(base), SC_SESS_ADD, &a);
}

/* The hot path: one round trip (the script follows lk:sess:HEX to the user's hash). */
static enum lk_err rd_session_get(struct lk_store *base, const unsigned char id_hash[32],
				  struct lk_session *out)
{
	struct args a = {0};
	struct lk_session s;
	redisReply *r = NULL;
	enum lk_err err;

	if (!id_hash || !out)
		return LK_EINVAL;
	a_hex(&a, id_hash);
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

/* LK_OK both when last_seen moved and when there was nothing to do (as sqlite.c). */
static enum lk_err rd_session_touch(struct lk_store *base, const unsigned char id_hash[32],
				    int64_t now, int64_t older_than)
{
	struct args a = {0};

	if (!id_hash)
		return LK_EINVAL;
	a_hex(&a, id_hash);
	a_i64(&a, now);
	a_i64(&a, older_than);
	return rscript0(rd(base), SC_SESS_TOUCH, &a);
}

static enum lk_err rd_session_del(struct lk_store *base, const unsigned char id_hash[32])
{
	struct args a = {0};

	if (!id_hash)
		return LK_EINVAL;
	a_hex(&a, id_hash);
	return rscript0(rd(base), SC_SESS_DEL, &a);
}

static enum lk_err rd_session_del_handle(struct lk_store *base, int64_t user_id,
					 const char *handle)
{
	struct args a = {0};

	if (!handle)
		return LK_EINVAL;
	if (strnlen(handle, LK_HANDLE_LEN + 1) > LK_HANDLE_LEN)
		return LK_ENOT_FOUND;
	a_i64(&a, user_id);
	a_str(&a, handle, LK_HANDLE_LEN);
	return rscript0(rd(base), SC_SESS_DEL_HANDLE, &a);
}

static enum lk_err rd_session_del_user(struct lk_store *base, int64_t user_id,
				       const unsigned char *keep, int64_t *n)
{
	struct args a = {0};

	a_i64(&a, user_id);
	if (keep)
		a_hex(&a, keep);
	else
		a_add(&a, "", 0);
	return rscript_n(rd(base), SC_SESS_DEL_USER, &a, n);
}

static enum lk_err rd_session_del_all(struct lk_store *base, int64_t *n)
{
	struct args a = {0};
	return rscript_n(rd(base), SC_SESS_DEL_ALL, &a, n);
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
	struct args a = {0};
	struct lk_session *v = NULL;
	redisReply *r = NULL;
	enum lk_err err;
	size_t n;

	if (!cb)
		return LK_EINVAL;
	a_i64(&a, user_id < 0 ? -1 : user_id);
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
static enum lk_err rd_session_purge(struct lk_store *base, int64_t now, int64_t idle_cutoff,
				    int64_t *n)
{
	int64_t total = 0;
	enum lk_err err = LK_OK;

	for (int round = 0; round < 100000; round++) {
		struct args a = {0};
		redisReply *r = NULL;
		int64_t k = 0, more = 0;
		a_i64(&a, now);
		a_i64(&a, idle_cutoff);
		a_i64(&a, PURGE_BATCH);
		if ((err = rscript(rd(base), SC_SESS_PURGE, &a, &r)))
			return err;
		if (r->elements != 3 || !r_i64(r->element[1], &k) || !r_i64(r->element[2], &more))
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
	struct args args = {0};
	char buf[640], ts[24];
	size_t len = 0;

	if (!a || !a->event[0])
		return LK_EINVAL;
	snprintf(ts, sizeof ts, "%lld", (long long)a->ts);
	if (!ns_put(buf, sizeof buf, &len, ts, strlen(ts)) ||
	    !ns_put(buf, sizeof buf, &len, a->event, strnlen(a->event, sizeof a->event - 1)) ||
	    !ns_put(buf, sizeof buf, &len, a->user, strnlen(a->user, sizeof a->user - 1)) ||
	    !ns_put(buf, sizeof buf, &len, a->ip, strnlen(a->ip, sizeof a->ip - 1)) ||
	    !ns_put(buf, sizeof buf, &len, a->detail, strnlen(a->detail, sizeof a->detail - 1)))
		return LK_EINVAL; /* cannot happen: buf holds the largest event */
	a_add(&args, buf, len);
	a_i64(&args, AUDIT_CAP);
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
	if ((err = rcmd(rd(base), 4, argv, len, &r, NULL)))
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
		if (!ns_i64(&p, end, &ev.id) || !ns_i64(&p, end, &ev.ts) ||
		    !ns_text(&p, end, ev.event, sizeof ev.event) ||
		    !ns_text(&p, end, ev.user, sizeof ev.user) ||
		    !ns_text(&p, end, ev.ip, sizeof ev.ip) ||
		    !ns_text(&p, end, ev.detail, sizeof ev.detail)) {
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
	struct args a = {0};

	if (!k || !k->kid[0] || !k->jwk[0])
		return LK_EINVAL;
	a_str(&a, k->kid, sizeof k->kid - 1);
	a_str(&a, k->alg, sizeof k->alg - 1);
	a_str(&a, k->jwk, sizeof k->jwk - 1);
	a_i64(&a, k->created);
	a_i64(&a, k->sign_from);
	a_i64(&a, k->retire_at);
	a_i64(&a, k->remove_at);
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

/* Zero the strings of a reply (private JWKs) before it is freed. */
static void wipe_reply(redisReply *r)
{
	if (r->type == REDIS_REPLY_STRING && r->str)
		sodium_memzero(r->str, r->len);
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		wipe_reply(r->element[i]);
}

/* Every key, oldest sign_from first (then created, then kid). */
static enum lk_err rd_key_list(struct lk_store *base, lk_key_cb cb, void *ud)
{
	struct args a = {0};
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
		if (e[0]->type != REDIS_REPLY_STRING || !r_text(e[0], k->kid, sizeof k->kid) ||
		    !r_text(e[1], k->alg, sizeof k->alg) || !r_text(e[2], k->jwk, sizeof k->jwk) ||
		    !r_i64(e[3], &k->created) || !r_i64(e[4], &k->sign_from) ||
		    !r_i64(e[5], &k->retire_at) || !r_i64(e[6], &k->remove_at)) {
			err = LK_ESTORE_CORRUPT;
			goto out;
		}
		ord[i] = (struct keyord){k->sign_from, k->created, e[0], i};
	}
	qsort(ord, n, sizeof *ord, cmp_key);
	/* The callbacks run after the reply is gone: copy the order out first. */
	for (size_t i = 0; i < n; i++)
		ord[i].kid = NULL;
	wipe_reply(r);
	freeReplyObject(r);
	r = NULL;
	for (size_t i = 0; i < n; i++)
		if (cb(ud, &all[ord[i].i]))
			break;
out:
	if (r) {
		wipe_reply(r);
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
	struct args a = {0};

	if (!kid)
		return LK_EINVAL;
	a_str(&a, kid, LK_KID_MAX);
	a_i64(&a, retire_at);
	a_i64(&a, remove_at);
	return rscript0(rd(base), SC_KEY_RETIRE, &a);
}

static enum lk_err rd_key_del(struct lk_store *base, const char *kid)
{
	struct args a = {0};

	if (!kid)
		return LK_EINVAL;
	a_str(&a, kid, LK_KID_MAX);
	return rscript0(rd(base), SC_KEY_DEL, &a);
}

/* ---------------------------------------------------------------- clients */

static enum lk_err rd_client_add(struct lk_store *base, const struct lk_client *c)
{
	struct args a = {0};

	if (!c || !c->id[0])
		return LK_EINVAL;
	a_str(&a, c->id, sizeof c->id - 1);
	a_str(&a, c->name, sizeof c->name - 1);
	a_add(&a, c->secret_hash, 32);
	a_str(&a, c->scope, sizeof c->scope - 1);
	a_i64(&a, c->created);
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
	if ((err = rcmd(rd(base), 6, argv, len, &r, NULL)))
		return err;
	memset(&c, 0, sizeof c);
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
		err = LK_ESTORE_CORRUPT;
	} else if (r->element[0]->type == REDIS_REPLY_NIL) {
		err = LK_ENOT_FOUND;
	} else if (r->element[1]->type != REDIS_REPLY_STRING || r->element[1]->len != 32 ||
		   !r_text(r->element[0], c.name, sizeof c.name) ||
		   !r_text(r->element[2], c.scope, sizeof c.scope) ||
		   !r_i64(r->element[3], &c.created)) {
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
	struct args a = {0};

	if (!r || !r->family[0])
		return LK_EINVAL;
	a_hex(&a, r->hash);
	a_str(&a, r->family, sizeof r->family - 1);
	a_i64(&a, r->user_id);
	a_str(&a, r->client_id, sizeof r->client_id - 1);
	a_str(&a, r->scope, sizeof r->scope - 1);
	a_i64(&a, r->created);
	a_i64(&a, r->expires);
	return rscript0(rd(base), SC_RT_ADD, &a);
}

static enum lk_err rd_refresh_get(struct lk_store *base, const unsigned char hash[32],
				  struct lk_refresh *out)
{
	struct args a = {0};
	redisReply *r = NULL, *const *e;
	struct lk_refresh *x = out;
	enum lk_err err;

	if (!hash || !out)
		return LK_EINVAL;
	a_hex(&a, hash);
	if ((err = rscript(rd(base), SC_RT_GET, &a, &r)))
		return err;
	e = r->element + 1;
	/* Parse into a copy: out is written only on success (and it is large, so heap). */
	if (!(x = calloc(1, sizeof *x))) {
		freeReplyObject(r);
		return LK_ENOMEM;
	}
	memcpy(x->hash, hash, 32);
	if (r->elements != 9 || !r_i64(e[0], &x->user_id) ||
	    !r_text(e[1], x->family, sizeof x->family) ||
	    !r_text(e[2], x->client_id, sizeof x->client_id) ||
	    !r_text(e[3], x->scope, sizeof x->scope) || !r_i64(e[4], &x->created) ||
	    !r_i64(e[5], &x->expires) || !r_i64(e[6], &x->used_at) ||
	    !r_text(e[7], x->next_access, sizeof x->next_access))
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
	struct args a = {0};

	if (!hash || !next_access)
		return LK_EINVAL;
	a_hex(&a, hash);
	a_i64(&a, now);
	a_str(&a, next_access, LK_TOKEN_MAX);
	return rscript0(rd(base), SC_RT_CLAIM, &a);
}

static enum lk_err rd_family_revoke(struct lk_store *base, const char *family, int64_t until,
				    int64_t *n)
{
	struct args a = {0};

	if (!family || !family[0])
		return LK_EINVAL;
	a_str(&a, family, LK_HANDLE_LEN);
	a_i64(&a, until);
	return rscript_n(rd(base), SC_FAMILY_REVOKE, &a, n);
}

static enum lk_err rd_refresh_del_user(struct lk_store *base, int64_t user_id, int64_t until,
				       int64_t *n)
{
	struct args a = {0};

	(void)until; /* each live family head records its own revocation, as in sqlite.c */
	a_i64(&a, user_id < 0 ? -1 : user_id);
	return rscript_n(rd(base), SC_RT_DEL_USER, &a, n);
}

/* ---------------------------------------------------------------- revocations */

static enum lk_err rd_revoke_add(struct lk_store *base, const char *type, const char *value,
				 int64_t before, int64_t expires)
{
	struct args a = {0};

	if (!type || !value || !value[0])
		return LK_EINVAL;
	a_str(&a, type, 7);
	a_str(&a, value, LK_KID_MAX);
	a_i64(&a, before);
	a_i64(&a, expires);
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
	if ((err = rcmd(rd(base), 4, argv, len, &r, NULL)))
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
		if (e->type != REDIS_REPLY_STRING || !ns_i64(&p, end, &x.cursor) ||
		    !ns_text(&p, end, x.type, sizeof x.type) ||
		    !ns_text(&p, end, x.value, sizeof x.value) || !ns_i64(&p, end, &x.before) ||
		    !ns_i64(&p, end, &x.expires)) {
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
	char v[24];
	const char *argv[] = {"HSET", "lk:{g}:meta", "revocation_ttl", v};
	size_t len[4];
	redisReply *r = NULL;
	enum lk_err err;

	snprintf(v, sizeof v, "%lld", (long long)seconds);
	for (int i = 0; i < 4; i++)
		len[i] = strlen(argv[i]);
	if ((err = rcmd(rd(base), 4, argv, len, &r, NULL)))
		return err;
	freeReplyObject(r);
	return LK_OK;
}

/* SET NX GET: the first writer's random value wins, in one round trip. */
static enum lk_err rd_revocation_ttl(struct lk_store *base, int64_t *seconds)
{
	const char *argv[] = {"HGET", "lk:{g}:meta", "revocation_ttl"};
	size_t len[3] = {4, 11, 14};
	redisReply *r = NULL;
	enum lk_err err = rcmd(rd(base), 3, argv, len, &r, NULL);
	if (err)
		return err;
	if (r->type == REDIS_REPLY_NIL)
		err = LK_ENOT_FOUND;
	else if (!r_i64(r, seconds))
		err = LK_ESTORE_CORRUPT;
	freeReplyObject(r);
	return err;
}

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
	err = rcmd(rd(base), 5, argv, len, &r, NULL);
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

static enum lk_err rl_read(struct rd_store *st, const char *k, struct lk_rlstate *o)
{
	char key[160];
	const char *argv[] = {"HMGET", key, "f", "t", "l"};
	size_t len[5] = {5, 0, 1, 1, 1};
	redisReply *r = NULL;
	enum lk_err err;

	memset(o, 0, sizeof *o);
	snprintf(key, sizeof key, "lk:rl:%.128s", k);
	len[1] = strlen(key);
	if ((err = rcmd(st, 5, argv, len, &r, NULL)))
		return err;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
		freeReplyObject(r);
		return LK_ESTORE_CORRUPT;
	}
	if (r->element[2]->type == REDIS_REPLY_STRING) {
		o->found = true;
		o->failures = r->element[0]->type == REDIS_REPLY_STRING ? strtoll(r->element[0]->str, NULL, 10) : 0;
		o->tokens = r->element[1]->type == REDIS_REPLY_STRING ? strtod(r->element[1]->str, NULL) : 0;
		o->last = strtoll(r->element[2]->str, NULL, 10);
	}
	freeReplyObject(r);
	return LK_OK;
}

static enum lk_err rd_rl_get(struct lk_store *base, const char *pair, const char *ip, int64_t now,
			     struct lk_rlstate *p, struct lk_rlstate *i)
{
	enum lk_err err;
	(void)now; /* keys expire by themselves */
	if (!pair || !ip || !p || !i)
		return LK_EINVAL;
	if ((err = rl_read(rd(base), pair, p)))
		return err;
	return rl_read(rd(base), ip, i);
}

static enum lk_err rd_rl_fail(struct lk_store *base, const char *pair, const char *ip, int64_t now,
			      double cap, int64_t ttl)
{
	struct args a = {0};
	if (!pair || !ip)
		return LK_EINVAL;
	a_str(&a, pair, 128);
	a_str(&a, ip, 128);
	a_i64(&a, now);
	a_i64(&a, (int64_t)cap);
	a_i64(&a, ttl > 0 ? ttl : 1);
	return rscript0(rd(base), SC_RL_FAIL, &a);
}

static enum lk_err rd_rl_reset(struct lk_store *base, const char *pair)
{
	char key[160];
	const char *argv[] = {"DEL", key};
	size_t len[2] = {3, 0};
	redisReply *r = NULL;
	enum lk_err err;
	if (!pair)
		return LK_EINVAL;
	snprintf(key, sizeof key, "lk:rl:%.128s", pair);
	len[1] = strlen(key);
	if (!(err = rcmd(rd(base), 2, argv, len, &r, NULL)))
		freeReplyObject(r);
	return err;
}

const struct lk_store_ops lk_store_redis_ops = {
	.scheme = "redis",
	.open = rd_open,
	.close = rd_close,
	.ping = rd_ping,
	.generation = rd_generation,
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
	.session_del_user = rd_session_del_user,
	.session_del_all = rd_session_del_all,
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
	.refresh_del_user = rd_refresh_del_user,
	.revoke_add = rd_revoke_add,
	.revocations = rd_revocations,
	.set_revocation_ttl = rd_set_revocation_ttl,
	.revocation_ttl = rd_revocation_ttl,
	.secret = rd_secret,
	.secret_claim = rd_secret_claim,
	.rl_get = rd_rl_get,
	.rl_fail = rd_rl_fail,
	.rl_reset = rd_rl_reset,
};
