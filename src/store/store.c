/* SPDX-License-Identifier: MIT */
/*
 * Choosing a store back end from a URL. The back ends themselves live in sqlite.c and
 * redis.c; everything else calls them through st->ops.
 */
#include <string.h>

#include "store/store.h"
#include "util/err.h"

static const struct lk_store_ops *const backends[] = {&lk_store_sqlite_ops, &lk_store_redis_ops};

enum lk_err lk_store_open(const char *url, struct lk_store **out, struct lk_errinfo *ei)
{
	*out = NULL;
	if (!url)
		return lk_errf(ei, LK_EINVAL, "no store URL given");
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
		size_t n = strlen(backends[i]->scheme);
		if (strncmp(url, backends[i]->scheme, n) == 0 && url[n] == ':')
			return backends[i]->open(url + n + 1, out, ei);
	}
	return lk_errf(ei, LK_EINVAL,
		       "unknown store URL scheme (expected sqlite:PATH or redis://HOST:PORT)");
}

void lk_store_close(struct lk_store *st)
{
	if (st)
		st->ops->close(st);
}
