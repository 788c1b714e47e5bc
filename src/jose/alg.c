/* SPDX-License-Identifier: MIT */
/*
 * The JWS algorithm table (RFC 7518 §3.1, RFC 8037 §3.1): names, key kinds, hashes and
 * sizes in one place, so that no other file spells an algorithm's parameters.
 */
#include <string.h>

#include "jose/jose_int.h"

static const struct lk_alginfo algs[] = {
	{LK_ALG_HS256, "HS256", LK_K_HMAC, 0, 32, 0, NULL},
	{LK_ALG_HS384, "HS384", LK_K_HMAC, 1, 48, 0, NULL},
	{LK_ALG_HS512, "HS512", LK_K_HMAC, 2, 64, 0, NULL},
	{LK_ALG_RS256, "RS256", LK_K_RSA, 0, 32, 0, NULL},
	{LK_ALG_RS384, "RS384", LK_K_RSA, 1, 48, 0, NULL},
	{LK_ALG_RS512, "RS512", LK_K_RSA, 2, 64, 0, NULL},
	{LK_ALG_PS256, "PS256", LK_K_PSS, 0, 32, 0, NULL},
	{LK_ALG_PS384, "PS384", LK_K_PSS, 1, 48, 0, NULL},
	{LK_ALG_PS512, "PS512", LK_K_PSS, 2, 64, 0, NULL},
	{LK_ALG_ES256, "ES256", LK_K_EC, 0, 32, 32, "P-256"},
	{LK_ALG_ES384, "ES384", LK_K_EC, 1, 48, 48, "P-384"},
	{LK_ALG_ES512, "ES512", LK_K_EC, 2, 64, 66, "P-521"},
	{LK_ALG_EDDSA, "EdDSA", LK_K_ED, 2, 64, 32, "Ed25519"},
};

const struct lk_alginfo *lk_alginfo(enum lk_alg alg)
{
	for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
		if (algs[i].alg == alg)
			return &algs[i];
	return NULL;
}

const char *lk_alg_name(enum lk_alg alg)
{
	const struct lk_alginfo *a = lk_alginfo(alg);
	return a ? a->name : NULL;
}

enum lk_alg lk_alg_from_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
		if (strlen(algs[i].name) == len && memcmp(algs[i].name, name, len) == 0)
			return algs[i].alg;
	return LK_ALG_NONE;
}

enum lk_err lk_alg_parse_list(const char *list, unsigned *mask)
{
	unsigned m = 0;
	const char *p = list;

	if (!list || !*list)
		return LK_EINVAL;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		enum lk_alg a = lk_alg_from_name(p, len);
		if (a == LK_ALG_NONE)
			return LK_EUNSUPPORTED;
		m |= a;
		if (!comma)
			break;
		p = comma + 1;
	}
	*mask = m;
	return LK_OK;
}
