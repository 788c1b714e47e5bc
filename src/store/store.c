/* SPDX-License-Identifier: MIT */
/*
 * Choosing a store back end from a URL. The back ends themselves live in sqlite.c and
 * redis.c; everything else calls them through st->ops.
 */
#include <string.h>

#include "store/store.h"
#include "util/err.h"

static const struct lk_store_ops *const backends[] = {&lk_store_sqlite_ops, &lk_store_redis_ops,
						      &lk_store_redis_sentinel_ops,
						      &lk_store_redis_cluster_ops};

/* The one place that says which operations a back end may leave out: only `generation`
 * (then nothing is cached, see auth/scache.h) and `generation_wait` (then the revocation
 * feed polls, see auth/revfeed.h). Every other one is required, so callers in src/auth
 * never test for NULL. */
static const char *missing_op(const struct lk_store_ops *o)
{
#define REQ(f) if (!o->f) return #f;
	REQ(open)
	REQ(close)
	REQ(ping)
	REQ(user_add)
	REQ(user_get)
	REQ(user_get_id)
	REQ(user_set_password)
	REQ(user_del)
	REQ(user_list)
	REQ(user_count)
	REQ(session_add)
	REQ(session_get)
	REQ(session_touch)
	REQ(session_del)
	REQ(session_del_handle)
	REQ(session_list)
	REQ(session_purge)
	REQ(session_count)
	REQ(audit_add)
	REQ(audit_list)
	REQ(key_add)
	REQ(key_list)
	REQ(key_retire)
	REQ(key_del)
	REQ(client_add)
	REQ(client_get)
	REQ(refresh_add)
	REQ(refresh_get)
	REQ(refresh_claim)
	REQ(family_revoke)
	REQ(revoke_user)
	REQ(refresh_purge)
	REQ(revoke_add)
	REQ(revocations)
	REQ(set_revocation_ttl)
	REQ(revocation_ttl)
	REQ(secret)
	REQ(secret_claim)
	REQ(rl_take)
	REQ(rl_release)
#undef REQ
	return NULL;
}

enum lk_err lk_store_open(const char *url, struct lk_store **out, struct lk_errinfo *ei)
{
	*out = NULL;
	if (!url)
		return lk_errf(ei, LK_EINVAL, "no store URL given");
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
		size_t n = strlen(backends[i]->scheme);
		if (strncmp(url, backends[i]->scheme, n) != 0 || url[n] != ':')
			continue;
		const char *gap = missing_op(backends[i]);
		if (gap)
			return lk_errf(ei, LK_EINVAL, "the %s store lacks the %s operation",
				       backends[i]->scheme, gap);
		return backends[i]->open(url + n + 1, out, ei);
	}
	return lk_errf(ei, LK_EINVAL,
		       "unknown store URL scheme (expected sqlite:PATH, redis://HOST:PORT, "
		       "redis+sentinel://HOST:PORT/NAME or redis+cluster://HOST:PORT)");
}

void lk_store_close(struct lk_store *st)
{
	if (st)
		st->ops->close(st);
}
