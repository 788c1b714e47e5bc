/* SPDX-License-Identifier: MIT */
/*
 * JWK and JWKS (RFC 7517, 7518 §6, 8037 §2, 7638): parse into crypto-library objects once,
 * validate them (key sizes, points on the curve, private parts matching public ones), write
 * them back out, generate new ones and compute thumbprints. jansson does the JSON here:
 * keys are parsed rarely, and its JSON_REJECT_DUPLICATES gives the duplicate-member rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "jose/jose_int.h"
#include "util/b64url.h"
#include "util/err.h"

/* ---------------------------------------------------------------- lifetime */

static lk_jwk *jwk_alloc(void)
{
	lk_jwk *k = OPENSSL_zalloc(sizeof *k);
	if (!k)
		return NULL;
	atomic_init(&k->refs, 1);
	k->id = lk_crypto_next_id();
	return k;
}

lk_jwk *lk_jwk_ref(lk_jwk *k)
{
	if (k)
		atomic_fetch_add(&k->refs, 1);
	return k;
}

void lk_jwk_free(lk_jwk *k)
{
	if (!k || atomic_fetch_sub(&k->refs, 1) != 1)
		return;
	for (size_t i = 0; i < k->ncomp; i++)
		OPENSSL_clear_free(k->comp[i].b, k->comp[i].n);
	for (int i = 0; i < 3; i++)
		lk_hmac_free(k->mac[i]);
	EVP_PKEY_free(k->pkey);
	OPENSSL_free(k->kid);
	OPENSSL_cleanse(k->ed_sk, sizeof k->ed_sk);
	OPENSSL_free(k);
}

enum lk_alg lk_jwk_alg(const lk_jwk *k) { return k->alg; }
unsigned lk_jwk_algs(const lk_jwk *k) { return k->algs; }
const char *lk_jwk_kid(const lk_jwk *k) { return k->kid; }
int lk_jwk_is_private(const lk_jwk *k) { return k->is_private; }

static const struct lk_comp *find_comp(const lk_jwk *k, const char *name)
{
	for (size_t i = 0; i < k->ncomp; i++)
		if (strcmp(k->comp[i].name, name) == 0)
			return &k->comp[i];
	return NULL;
}

/* ---------------------------------------------------------------- parse */

/* Decode member name of o (base64url) into a new component of k. Absent: *c = NULL and
 * LK_OK unless required. */
static enum lk_err get_comp(json_t *o, const char *name, bool required, bool secret, lk_jwk *k,
			    const struct lk_comp **c, struct lk_errinfo *ei)
{
	json_t *v = json_object_get(o, name);
	*c = NULL;
	if (!v)
		return required ? lk_errf(ei, LK_EKEY, "JWK member \"%s\" is missing", name) : LK_OK;
	if (!json_is_string(v))
		return lk_errf(ei, LK_EKEY, "JWK member \"%s\" is not a string", name);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	size_t cap = lk_b64url_dec_max(n) + 1;
	struct lk_comp *x = &k->comp[k->ncomp];
	if (k->ncomp == LK_MAX_COMPS)
		return lk_errf(ei, LK_EKEY, "too many JWK members");
	if (!(x->b = OPENSSL_malloc(cap)))
		return LK_ENOMEM;
	if (lk_b64url_decode(s, n, x->b, cap, &x->n) != LK_OK || x->n == 0) {
		OPENSSL_clear_free(x->b, cap);
		x->b = NULL;
		return lk_errf(ei, LK_EKEY, "JWK member \"%s\" is not strict base64url", name);
	}
	x->name = name;
	x->secret = secret;
	k->ncomp++;
	*c = x;
	return LK_OK;
}

static enum lk_err check_exact(const struct lk_comp *c, size_t n, struct lk_errinfo *ei)
{
	if (c && c->n != n)
		return lk_errf(ei, LK_EKEY, "JWK member \"%s\" must be %zu bytes, not %zu", c->name,
			       n, c->n);
	return LK_OK;
}

/* Build k->pkey from OSSL params. selection: EVP_PKEY_PUBLIC_KEY or EVP_PKEY_KEYPAIR. */
static enum lk_err pkey_fromdata(lk_jwk *k, const char *type, OSSL_PARAM_BLD *bld,
				 int selection, struct lk_errinfo *ei)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY_CTX *chk = NULL;
	enum lk_err err = LK_OK;

	if (!params || !ctx) {
		err = LK_ENOMEM;
		goto out;
	}
	if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &k->pkey, selection, params) <= 0) {
		err = lk_errf(ei, LK_EKEY, "the %s key parameters are invalid", type);
		goto out;
	}
	if (!(chk = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL))) {
		err = LK_ENOMEM;
		goto out;
	}
	/* OpenSSL's RSA checks are probabilistic (random Miller-Rabin bases): the same key
	 * could pass in one process and fail in another, so RSA gets deterministic checks in
	 * parse_rsa instead. EC checks (point on curve, d*G == Q) are exact. */
	if (strcmp(type, "RSA") == 0)
		goto out;
	if (EVP_PKEY_public_check(chk) != 1)
		err = lk_errf(ei, LK_EKEY, "the %s public key fails validation", type);
	else if (selection == EVP_PKEY_KEYPAIR && EVP_PKEY_pairwise_check(chk) != 1)
		err = lk_errf(ei, LK_EKEY, "the %s private key does not match the public key", type);
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	ERR_clear_error();
	return err;
}

static int push_bn(OSSL_PARAM_BLD *bld, const char *key, const struct lk_comp *c, BIGNUM **keep)
{
	BIGNUM *bn = BN_bin2bn(c->b, (int)c->n, NULL);
	if (!bn)
		return 0;
	if (c->secret)
		BN_set_flags(bn, BN_FLG_CONSTTIME);
	*keep = bn;
	return OSSL_PARAM_BLD_push_BN(bld, key, bn);
}

/* A private RSA key must sign what its public half verifies: PKCS#1 v1.5 is
 * deterministic, so this check gives the same answer every time (unlike
 * EVP_PKEY_pairwise_check, which tests primality with random bases). */
static enum lk_err rsa_selftest(const lk_jwk *k, struct lk_errinfo *ei)
{
	static const unsigned char msg[] = "latchkey RSA key self-test";
	unsigned char sig[LK_MAX_SIG];
	size_t slen = sizeof sig;
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	enum lk_err err = LK_EKEY;
	if (!mc)
		return LK_ENOMEM;
	if (EVP_DigestSignInit_ex(mc, NULL, "SHA256", NULL, NULL, k->pkey, NULL) == 1 &&
	    EVP_DigestSign(mc, sig, &slen, msg, sizeof msg) == 1 &&
	    EVP_DigestVerifyInit_ex(mc, NULL, "SHA256", NULL, NULL, k->pkey, NULL) == 1 &&
	    EVP_DigestVerify(mc, sig, slen, msg, sizeof msg) == 1)
		err = LK_OK;
	EVP_MD_CTX_free(mc);
	ERR_clear_error();
	if (err)
		return lk_errf(ei, err, "the RSA private key does not match the public key");
	return LK_OK;
}

/* The CRT members must be the ones of (n, d): n = p*q, dp = d mod (p-1),
 * dq = d mod (q-1), qi*q = 1 mod p. OpenSSL would otherwise quietly fall back to d when
 * its CRT result fails its own check, hiding damaged members. Exact and deterministic. */
static enum lk_err rsa_crt_check(const struct lk_comp *n, const struct lk_comp *d,
				 const struct lk_comp *const crt[5], struct lk_errinfo *ei)
{
	BN_CTX *bc = BN_CTX_new();
	BIGNUM *v[6], *t = NULL, *one = NULL;
	const struct lk_comp *src[6] = {n, d, crt[0], crt[1], crt[2], crt[3]};
	enum lk_err err = LK_ENOMEM;
	int ok = 0;

	for (int i = 0; i < 6; i++)
		v[i] = NULL;
	if (!bc)
		return LK_ENOMEM;
	for (int i = 0; i < 6; i++)
		if (!(v[i] = BN_bin2bn(src[i]->b, (int)src[i]->n, NULL)))
			goto out;
	BIGNUM *qi = BN_bin2bn(crt[4]->b, (int)crt[4]->n, NULL);
	t = BN_new();
	one = BN_new();
	if (!qi || !t || !one || !BN_one(one)) {
		BN_free(qi);
		goto out;
	}
	/* v: n d p q dp dq */
	ok = BN_mul(t, v[2], v[3], bc) && BN_cmp(t, v[0]) == 0;
	ok = ok && BN_sub(t, v[2], one) && BN_mod(t, v[1], t, bc) && BN_cmp(t, v[4]) == 0;
	ok = ok && BN_sub(t, v[3], one) && BN_mod(t, v[1], t, bc) && BN_cmp(t, v[5]) == 0;
	ok = ok && BN_mod_mul(t, qi, v[3], v[2], bc) && BN_is_one(t);
	BN_clear_free(qi);
	err = ok ? LK_OK : lk_errf(ei, LK_EKEY, "the RSA CRT members do not match n and d");
out:
	for (int i = 0; i < 6; i++)
		BN_clear_free(v[i]);
	BN_clear_free(t);
	BN_free(one);
	BN_CTX_free(bc);
	return err;
}

static enum lk_err parse_rsa(json_t *o, lk_jwk *k, struct lk_errinfo *ei)
{
	static const char *priv_names[5] = {"p", "q", "dp", "dq", "qi"};
	static const char *priv_keys[5] = {OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
					   OSSL_PKEY_PARAM_RSA_EXPONENT1,
					   OSSL_PKEY_PARAM_RSA_EXPONENT2,
					   OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
	const struct lk_comp *n, *e, *d, *crt[5];
	BIGNUM *bns[8] = {0};
	OSSL_PARAM_BLD *bld = NULL;
	enum lk_err err;
	int ncrt = 0, nb = 0;

	if ((err = get_comp(o, "n", true, false, k, &n, ei)) ||
	    (err = get_comp(o, "e", true, false, k, &e, ei)) ||
	    (err = get_comp(o, "d", false, true, k, &d, ei)))
		return err;
	if (json_object_get(o, "oth"))
		return lk_errf(ei, LK_EUNSUPPORTED, "RSA keys with more than two primes");
	size_t nlen = n->n;
	for (size_t i = 0; i < n->n && n->b[i] == 0; i++)
		nlen--; /* some producers prefix a zero octet */
	if (nlen * 8 > LK_RSA_MAX_BITS)
		return lk_errf(ei, LK_EUNSUPPORTED, "RSA modulus over %d bits", LK_RSA_MAX_BITS);
	if (e->n > 8)
		return lk_errf(ei, LK_EKEY, "RSA public exponent is too large");
	for (int i = 0; i < 5; i++) {
		if (d && (err = get_comp(o, priv_names[i], false, true, k, &crt[i], ei)))
			return err;
		if (!d)
			crt[i] = NULL;
		ncrt += crt[i] != NULL;
	}
	if (ncrt != 0 && ncrt != 5)
		return lk_errf(ei, LK_EKEY, "RSA private key needs all of p, q, dp, dq, qi or none");
	if (!(bld = OSSL_PARAM_BLD_new()))
		return LK_ENOMEM;
	err = LK_ENOMEM;
	if (!push_bn(bld, OSSL_PKEY_PARAM_RSA_N, n, &bns[nb++]) ||
	    !push_bn(bld, OSSL_PKEY_PARAM_RSA_E, e, &bns[nb++]) ||
	    (d && !push_bn(bld, OSSL_PKEY_PARAM_RSA_D, d, &bns[nb++])))
		goto out;
	for (int i = 0; i < ncrt; i++)
		if (!push_bn(bld, priv_keys[i], crt[i], &bns[nb++]))
			goto out;
	if ((err = pkey_fromdata(k, "RSA", bld, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, ei)))
		goto out;
	k->bits = EVP_PKEY_get_bits(k->pkey);
	k->is_private = d != NULL;
	if (k->bits < LK_RSA_MIN_BITS) {
		err = lk_errf(ei, LK_EWEAK_KEY, "RSA key of %d bits; at least %d are required",
			      k->bits, LK_RSA_MIN_BITS);
		goto out;
	}
	/* Deterministic sanity: n odd, e odd and > 1 (e < n holds: e has at most 8 bytes). */
	if (!(n->b[n->n - 1] & 1) || !(e->b[e->n - 1] & 1) || (e->n == 1 && e->b[0] < 3)) {
		err = lk_errf(ei, LK_EKEY, "RSA modulus or exponent is invalid");
		goto out;
	}
	if (d && (err = rsa_selftest(k, ei)))
		goto out;
	if (ncrt == 5 && (err = rsa_crt_check(n, d, crt, ei)))
		goto out;
out:
	for (int i = 0; i < nb; i++)
		BN_clear_free(bns[i]);
	OSSL_PARAM_BLD_free(bld);
	return err;
}

static const struct lk_alginfo *curve_alg(const char *crv)
{
	static const enum lk_alg ecs[4] = {LK_ALG_ES256, LK_ALG_ES384, LK_ALG_ES512, LK_ALG_EDDSA};
	for (int i = 0; i < 4; i++)
		if (strcmp(lk_alginfo(ecs[i])->crv, crv) == 0)
			return lk_alginfo(ecs[i]);
	return NULL;
}

static enum lk_err parse_ec(json_t *o, lk_jwk *k, const struct lk_alginfo *a,
			    struct lk_errinfo *ei)
{
	static const char *group[3] = {"prime256v1", "secp384r1", "secp521r1"};
	const struct lk_comp *x, *y, *d;
	unsigned char pub[1 + 2 * 66];
	BIGNUM *priv = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	enum lk_err err;

	if ((err = get_comp(o, "x", true, false, k, &x, ei)) ||
	    (err = get_comp(o, "y", true, false, k, &y, ei)) ||
	    (err = get_comp(o, "d", false, true, k, &d, ei)) ||
	    (err = check_exact(x, a->clen, ei)) || (err = check_exact(y, a->clen, ei)) ||
	    (err = check_exact(d, a->clen, ei)))
		return err;
	pub[0] = 0x04;
	memcpy(pub + 1, x->b, a->clen);
	memcpy(pub + 1 + a->clen, y->b, a->clen);
	if (!(bld = OSSL_PARAM_BLD_new()))
		return LK_ENOMEM;
	err = LK_ENOMEM;
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group[a->hash], 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * a->clen) ||
	    (d && !push_bn(bld, OSSL_PKEY_PARAM_PRIV_KEY, d, &priv)))
		goto out;
	if ((err = pkey_fromdata(k, "EC", bld, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, ei)))
		goto out;
	k->is_private = d != NULL;
out:
	BN_clear_free(priv);
	OSSL_PARAM_BLD_free(bld);
	return err;
}

static enum lk_err parse_okp(json_t *o, lk_jwk *k, struct lk_errinfo *ei)
{
	const struct lk_comp *x, *d;
	enum lk_err err;

	if ((err = get_comp(o, "x", true, false, k, &x, ei)) ||
	    (err = get_comp(o, "d", false, true, k, &d, ei)) || (err = check_exact(x, 32, ei)) ||
	    (err = check_exact(d, 32, ei)))
		return err;
	if (!crypto_core_ed25519_is_valid_point(x->b))
		return lk_errf(ei, LK_EKEY, "Ed25519 public key is not a valid point");
	memcpy(k->ed_pk, x->b, 32);
	if (d) {
		unsigned char pk[32];
		crypto_sign_seed_keypair(pk, k->ed_sk, d->b);
		if (sodium_memcmp(pk, x->b, 32) != 0)
			return lk_errf(ei, LK_EKEY, "Ed25519 private key does not match x");
		k->is_private = true;
	}
	return LK_OK;
}

static enum lk_err parse_oct(json_t *o, lk_jwk *k, struct lk_errinfo *ei)
{
	static const enum lk_alg hs[3] = {LK_ALG_HS256, LK_ALG_HS384, LK_ALG_HS512};
	const struct lk_comp *kk;
	enum lk_err err;

	if ((err = get_comp(o, "k", true, true, k, &kk, ei)))
		return err;
	k->is_private = true;
	if (k->alg) {
		if (kk->n < lk_alginfo(k->alg)->hlen)
			return lk_errf(ei, LK_EWEAK_KEY, "%s needs a secret of at least %zu bytes, not %zu",
				       lk_alg_name(k->alg), lk_alginfo(k->alg)->hlen, kk->n);
		k->algs = k->alg;
	} else {
		for (int i = 0; i < 3; i++)
			if (kk->n >= lk_alginfo(hs[i])->hlen)
				k->algs |= hs[i];
		if (!k->algs)
			return lk_errf(ei, LK_EWEAK_KEY, "HMAC secret of %zu bytes; at least 32 are required",
				       kk->n);
	}
	for (int i = 0; i < 3; i++) {
		if (!(k->algs & hs[i]))
			continue;
		if (!(k->mac[i] = lk_hmac_new(i, kk->b, kk->n)))
			return LK_ENOMEM;
	}
	return LK_OK;
}

/* "use" and "key_ops" (RFC 7517 §4.2, §4.3). "use" other than "sig" excludes the key from
 * everything this library does. "key_ops" sets k->ops to the subset of sign/verify it lists
 * (other operations are ignored); absent, both. Whether anything is left once the key's
 * private part is known is checked by jwk_from_json. */
static enum lk_err parse_use(json_t *o, lk_jwk *k, struct lk_errinfo *ei)
{
	json_t *use = json_object_get(o, "use"), *ops = json_object_get(o, "key_ops"), *v;
	size_t i;

	k->ops = LK_OP_SIGN | LK_OP_VERIFY;
	if (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
		return lk_errf(ei, LK_EKEY_USE, "JWK \"use\" is not \"sig\"");
	if (!ops)
		return LK_OK;
	if (!json_is_array(ops))
		return lk_errf(ei, LK_EKEY, "JWK \"key_ops\" is not an array");
	k->ops = 0;
	k->ops_given = true;
	json_array_foreach(ops, i, v) {
		unsigned bit;
		if (!json_is_string(v))
			return lk_errf(ei, LK_EKEY, "JWK \"key_ops\" holds a value that is not a string");
		bit = strcmp(json_string_value(v), "sign") == 0     ? LK_OP_SIGN
		      : strcmp(json_string_value(v), "verify") == 0 ? LK_OP_VERIFY
								    : 0;
		if (k->ops & bit) /* §4.3: duplicates MUST NOT be present; others are not ours */
			return lk_errf(ei, LK_EKEY, "JWK \"key_ops\" lists \"%s\" twice",
				       json_string_value(v));
		k->ops |= bit;
	}
	return LK_OK;
}

/* Parse one JWK object. On success *out owns a new key. */
static enum lk_err jwk_from_json(json_t *o, lk_jwk **out, struct lk_errinfo *ei)
{
	lk_jwk *k = NULL;
	json_t *kty, *alg, *kid, *crv;
	enum lk_err err;
	const struct lk_alginfo *ai = NULL;

	*out = NULL;
	if ((err = lk_crypto_init()))
		return lk_errf(ei, err, "crypto library initialisation failed");
	if (!json_is_object(o))
		return lk_errf(ei, LK_EJSON, "a JWK must be a JSON object");
	kty = json_object_get(o, "kty");
	alg = json_object_get(o, "alg");
	kid = json_object_get(o, "kid");
	if (!json_is_string(kty))
		return lk_errf(ei, LK_EKEY, "JWK \"kty\" is missing or not a string");
	if (kid && !json_is_string(kid))
		return lk_errf(ei, LK_EKEY, "JWK \"kid\" is not a string");
	if (alg && !json_is_string(alg))
		return lk_errf(ei, LK_EKEY, "JWK \"alg\" is not a string");
	if (!(k = jwk_alloc()))
		return LK_ENOMEM;
	if ((err = parse_use(o, k, ei)))
		goto fail;
	if (kid && !(k->kid = OPENSSL_strdup(json_string_value(kid)))) {
		err = LK_ENOMEM;
		goto fail;
	}
	if (alg) {
		k->alg = lk_alg_from_name(json_string_value(alg), json_string_length(alg));
		if (!k->alg) {
			err = lk_errf(ei, LK_EUNSUPPORTED, "JWK \"alg\" names an unsupported algorithm");
			goto fail;
		}
		ai = lk_alginfo(k->alg);
	}

	const char *t = json_string_value(kty);
	if (strcmp(t, "oct") == 0) {
		k->kty = LK_KTY_OCT;
		if (ai && ai->kind != LK_K_HMAC)
			goto mismatch;
		err = parse_oct(o, k, ei);
	} else if (strcmp(t, "RSA") == 0) {
		k->kty = LK_KTY_RSA;
		if (ai && ai->kind != LK_K_RSA && ai->kind != LK_K_PSS)
			goto mismatch;
		k->algs = k->alg ? (unsigned)k->alg
				 : (unsigned)(LK_ALG_RS256 | LK_ALG_RS384 | LK_ALG_RS512 |
					      LK_ALG_PS256 | LK_ALG_PS384 | LK_ALG_PS512);
		err = parse_rsa(o, k, ei);
	} else if (strcmp(t, "EC") == 0 || strcmp(t, "OKP") == 0) {
		bool okp = t[0] == 'O';
		const struct lk_alginfo *ci;
		crv = json_object_get(o, "crv");
		if (!json_is_string(crv)) {
			err = lk_errf(ei, LK_EKEY, "JWK \"crv\" is missing or not a string");
			goto fail;
		}
		ci = curve_alg(json_string_value(crv));
		if (!ci || (ci->kind == LK_K_ED) != okp) {
			err = lk_errf(ei, LK_EUNSUPPORTED, "JWK curve is not supported");
			goto fail;
		}
		if (ai && ai != ci)
			goto mismatch;
		k->kty = okp ? LK_KTY_OKP : LK_KTY_EC;
		k->crv = ci->crv;
		k->alg = ci->alg;
		k->algs = ci->alg;
		err = okp ? parse_okp(o, k, ei) : parse_ec(o, k, ci, ei);
	} else {
		err = lk_errf(ei, LK_EUNSUPPORTED, "JWK \"kty\" is not supported");
	}
	if (err)
		goto fail;
	/* A key that may neither verify nor (holding its private part) sign is of no use. */
	if (!(k->ops & LK_OP_VERIFY) && !(k->is_private && (k->ops & LK_OP_SIGN))) {
		err = lk_errf(ei, LK_EKEY_USE, k->is_private
				  ? "JWK \"key_ops\" contains neither \"sign\" nor \"verify\""
				  : "JWK \"key_ops\" lacks \"verify\" and a public key cannot sign");
		goto fail;
	}
	*out = k;
	return LK_OK;
mismatch:
	err = lk_errf(ei, LK_EKEY, "JWK \"alg\" does not fit its \"kty\"/\"crv\"");
fail:
	lk_jwk_free(k);
	return err;
}

static json_t *load_json(const char *json, size_t len, size_t cap, enum lk_err *err,
			 struct lk_errinfo *ei)
{
	json_error_t je;
	json_t *o;

	if (len > cap) {
		*err = lk_errf(ei, LK_ETOO_LARGE, "document of %zu bytes is over the %zu-byte limit",
			       len, cap);
		return NULL;
	}
	o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		bool dup = strstr(je.text, "duplicate") != NULL;
		*err = lk_errf(ei, dup ? LK_EDUPLICATE : LK_EJSON, "%s at line %d column %d",
			       dup ? "duplicate member" : "invalid JSON", je.line, je.column);
	}
	return o;
}

enum lk_err lk_jwk_parse(const char *json, size_t len, lk_jwk **out, struct lk_errinfo *ei)
{
	enum lk_err err;
	json_t *o;

	*out = NULL;
	if (!json)
		return lk_errf(ei, LK_EINVAL, "no JWK given");
	if (!(o = load_json(json, len, LK_MAX_JWK, &err, ei)))
		return err;
	err = jwk_from_json(o, out, ei);
	json_decref(o);
	return err;
}

/* ---------------------------------------------------------------- emit */

static int set_b64(json_t *o, const char *name, const unsigned char *b, size_t n)
{
	char *s = OPENSSL_malloc(lk_b64url_enc_len(n) + 1);
	if (!s)
		return -1;
	lk_b64url_encode(b, n, s);
	int r = json_object_set_new(o, name, json_string(s));
	OPENSSL_clear_free(s, lk_b64url_enc_len(n) + 1);
	return r;
}

static const char *kty_name(enum lk_kty t)
{
	return t == LK_KTY_OCT ? "oct" : t == LK_KTY_RSA ? "RSA" : t == LK_KTY_EC ? "EC" : "OKP";
}

static json_t *jwk_to_obj(const lk_jwk *k, int private_part)
{
	json_t *o = json_object();
	int r = 0;
	if (!o)
		return NULL;
	r |= json_object_set_new(o, "kty", json_string(kty_name(k->kty)));
	if (k->crv)
		r |= json_object_set_new(o, "crv", json_string(k->crv));
	for (size_t i = 0; i < k->ncomp; i++)
		if (!k->comp[i].secret || private_part)
			r |= set_b64(o, k->comp[i].name, k->comp[i].b, k->comp[i].n);
	if (k->alg)
		r |= json_object_set_new(o, "alg", json_string(lk_alg_name(k->alg)));
	if (k->kid)
		r |= json_object_set_new(o, "kid", json_string(k->kid));
	r |= json_object_set_new(o, "use", json_string("sig"));
	if (k->ops_given) { /* the public half may only verify, and only if the key may */
		json_t *ops = json_array();
		r |= json_object_set_new(o, "key_ops", ops);
		if ((k->ops & LK_OP_SIGN) && private_part)
			r |= json_array_append_new(ops, json_string("sign"));
		if (k->ops & LK_OP_VERIFY)
			r |= json_array_append_new(ops, json_string("verify"));
	}
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static enum lk_err dump(json_t *o, char **out, size_t *len)
{
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return LK_ENOMEM;
	*out = s;
	if (len)
		*len = strlen(s);
	return LK_OK;
}

enum lk_err lk_jwk_to_json(const lk_jwk *k, int private_part, char **out, size_t *len)
{
	json_t *o;
	*out = NULL;
	if (!k)
		return LK_EINVAL;
	if (k->kty == LK_KTY_OCT && !private_part)
		return LK_EUNSUPPORTED;
	if (!private_part && !(k->ops & LK_OP_VERIFY))
		return LK_EKEY_USE; /* its public half would verify nothing */
	if (!(o = jwk_to_obj(k, private_part)))
		return LK_ENOMEM;
	return dump(o, out, len);
}

/* Append "name":"<base64url of component>", to p. */
static char *tp_comp(char *p, const lk_jwk *k, const char *name)
{
	const struct lk_comp *c = find_comp(k, name);
	p += sprintf(p, "\"%s\":\"", name);
	p += lk_b64url_encode(c->b, c->n, p);
	return p + sprintf(p, "\",");
}

enum lk_err lk_jwk_thumbprint(const lk_jwk *k, char *buf, size_t size)
{
	/* RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace. */
	char *js, *p;
	size_t cap = 96;
	unsigned char md[32];
	enum lk_err err = LK_OK;

	if (size < 44)
		return LK_EINVAL;
	for (size_t i = 0; i < k->ncomp; i++)
		cap += lk_b64url_enc_len(k->comp[i].n) + 8;
	if (!(js = p = OPENSSL_malloc(cap)))
		return LK_ENOMEM;
	*p++ = '{';
	switch (k->kty) {
	case LK_KTY_OCT:
		p = tp_comp(p, k, "k");
		p += sprintf(p, "\"kty\":\"oct\",");
		break;
	case LK_KTY_RSA:
		p = tp_comp(p, k, "e");
		p += sprintf(p, "\"kty\":\"RSA\",");
		p = tp_comp(p, k, "n");
		break;
	case LK_KTY_EC:
		p += sprintf(p, "\"crv\":\"%s\",\"kty\":\"EC\",", k->crv);
		p = tp_comp(p, k, "x");
		p = tp_comp(p, k, "y");
		break;
	case LK_KTY_OKP:
		p += sprintf(p, "\"crv\":\"%s\",\"kty\":\"OKP\",", k->crv);
		p = tp_comp(p, k, "x");
		break;
	}
	p[-1] = '}';
	if (!EVP_Digest(js, (size_t)(p - js), md, NULL, lk_crypto_md(0), NULL))
		err = LK_ECRYPTO;
	else
		lk_b64url_encode(md, sizeof md, buf);
	OPENSSL_clear_free(js, cap);
	return err;
}

/* ---------------------------------------------------------------- generate */

static int set_bn(json_t *o, const char *name, EVP_PKEY *pk, const char *param, size_t pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[LK_MAX_SIG];
	int n, r = -1;
	if (!EVP_PKEY_get_bn_param(pk, param, &bn))
		return -1;
	n = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
	if (n > 0)
		r = set_b64(o, name, buf, (size_t)n);
	OPENSSL_cleanse(buf, sizeof buf);
	BN_clear_free(bn);
	return r;
}

enum lk_err lk_jwk_generate(enum lk_alg alg, const char *kid, lk_jwk **out,
			    struct lk_errinfo *ei)
{
	const struct lk_alginfo *a = lk_alginfo(alg);
	EVP_PKEY *pk = NULL;
	json_t *o = NULL;
	enum lk_err err;
	int r = 0;

	*out = NULL;
	if (!a)
		return lk_errf(ei, LK_EUNSUPPORTED, "no such algorithm");
	if ((err = lk_crypto_init()))
		return err;
	if (!(o = json_object()))
		return LK_ENOMEM;
	r |= json_object_set_new(o, "alg", json_string(a->name));
	if (a->kind == LK_K_HMAC) {
		unsigned char key[64];
		r |= json_object_set_new(o, "kty", json_string("oct"));
		randombytes_buf(key, a->hlen);
		r |= set_b64(o, "k", key, a->hlen);
		OPENSSL_cleanse(key, sizeof key);
	} else if (a->kind == LK_K_ED) {
		unsigned char pk_[32], sk[64];
		crypto_sign_keypair(pk_, sk);
		r |= json_object_set_new(o, "kty", json_string("OKP"));
		r |= json_object_set_new(o, "crv", json_string("Ed25519"));
		r |= set_b64(o, "x", pk_, 32);
		r |= set_b64(o, "d", sk, 32);
		sodium_memzero(sk, sizeof sk);
	} else if (a->kind == LK_K_EC) {
		static const char *group[3] = {"P-256", "P-384", "P-521"};
		if (!(pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group[a->hash]))) {
			err = LK_ECRYPTO;
			goto out;
		}
		r |= json_object_set_new(o, "kty", json_string("EC"));
		r |= json_object_set_new(o, "crv", json_string(a->crv));
		r |= set_bn(o, "x", pk, OSSL_PKEY_PARAM_EC_PUB_X, a->clen);
		r |= set_bn(o, "y", pk, OSSL_PKEY_PARAM_EC_PUB_Y, a->clen);
		r |= set_bn(o, "d", pk, OSSL_PKEY_PARAM_PRIV_KEY, a->clen);
	} else {
		static const char *names[8] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
		static const char *params[8] = {
			OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
			OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
			OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
			OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
		if (!(pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048))) {
			err = LK_ECRYPTO;
			goto out;
		}
		r |= json_object_set_new(o, "kty", json_string("RSA"));
		for (int i = 0; i < 8; i++)
			r |= set_bn(o, names[i], pk, params[i], 0);
	}
	if (kid)
		r |= json_object_set_new(o, "kid", json_string(kid));
	if (r) {
		err = LK_ENOMEM;
		goto out;
	}
	if ((err = jwk_from_json(o, out, ei)))
		goto out;
	if (!kid) {
		char tp[48];
		if ((err = lk_jwk_thumbprint(*out, tp, sizeof tp)) ||
		    !((*out)->kid = OPENSSL_strdup(tp))) {
			lk_jwk_free(*out);
			*out = NULL;
			err = err ? err : LK_ENOMEM;
		}
	}
out:
	EVP_PKEY_free(pk);
	json_decref(o);
	ERR_clear_error();
	return err;
}

/* ---------------------------------------------------------------- sets */

static lk_jwks *jwks_alloc(size_t n)
{
	lk_jwks *s = OPENSSL_zalloc(sizeof *s + n * sizeof s->e[0]);
	if (s)
		atomic_init(&s->refs, 1);
	return s;
}

lk_jwks *lk_jwks_ref(lk_jwks *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

void lk_jwks_free(lk_jwks *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (size_t i = 0; i < s->n; i++) {
		lk_jwk_free(s->e[i].key);
		OPENSSL_free(s->e[i].kid);
	}
	OPENSSL_free(s);
}

size_t lk_jwks_count(const lk_jwks *s) { return s->n; }
const lk_jwk *lk_jwks_get(const lk_jwks *s, size_t i) { return i < s->n ? s->e[i].key : NULL; }

enum lk_err lk_jwks_new(lk_jwk *const *keys, size_t n, lk_jwks **out)
{
	lk_jwks *s;
	*out = NULL;
	if (n > LK_MAX_JWKS_KEYS)
		return LK_ETOO_LARGE;
	if (!(s = jwks_alloc(n)))
		return LK_ENOMEM;
	for (size_t i = 0; i < n; i++)
		s->e[i].key = lk_jwk_ref(keys[i]);
	s->n = n;
	*out = s;
	return LK_OK;
}

/* Parse one member of a set; asymmetric private keys are reduced to their public part. */
static void set_entry(lk_jwks *s, json_t *o)
{
	struct lk_jwks_entry *e = &s->e[s->n++];
	lk_jwk *k = NULL;
	json_t *kid = json_object_get(o, "kid");

	e->why = jwk_from_json(o, &k, NULL);
	if (!e->why && !(k->ops & LK_OP_VERIFY)) { /* a set only verifies: key_ops say no */
		lk_jwk_free(k);
		k = NULL;
		e->why = LK_EKEY_USE;
	}
	if (!e->why && k->is_private && k->kty != LK_KTY_OCT) {
		json_t *pub = jwk_to_obj(k, 0);
		lk_jwk_free(k);
		k = NULL;
		e->why = pub ? jwk_from_json(pub, &k, NULL) : LK_ENOMEM;
		json_decref(pub);
	}
	e->key = k;
	if (e->why && json_is_string(kid))
		e->kid = OPENSSL_strdup(json_string_value(kid));
}

enum lk_err lk_jwks_parse(const char *json, size_t len, lk_jwks **out, struct lk_errinfo *ei)
{
	enum lk_err err = LK_OK;
	json_t *o, *keys, *v;
	lk_jwks *s = NULL;
	size_t i;

	*out = NULL;
	if (!json)
		return lk_errf(ei, LK_EINVAL, "no JWKS given");
	if ((err = lk_crypto_init()))
		return err;
	if (!(o = load_json(json, len, LK_MAX_JWKS, &err, ei)))
		return err;
	if (!json_is_object(o)) {
		err = lk_errf(ei, LK_EJSON, "a JWKS must be a JSON object");
		goto out;
	}
	keys = json_object_get(o, "keys");
	if (!keys && json_object_get(o, "kty")) { /* one bare JWK */
		if (!(s = jwks_alloc(1))) {
			err = LK_ENOMEM;
			goto out;
		}
		set_entry(s, o);
		goto out;
	}
	if (!json_is_array(keys)) {
		err = lk_errf(ei, LK_EKEY, "JWKS member \"keys\" is missing or not an array");
		goto out;
	}
	if (json_array_size(keys) > LK_MAX_JWKS_KEYS) {
		err = lk_errf(ei, LK_ETOO_LARGE, "JWKS of %zu keys is over the limit of %d",
			      json_array_size(keys), LK_MAX_JWKS_KEYS);
		goto out;
	}
	if (!(s = jwks_alloc(json_array_size(keys)))) {
		err = LK_ENOMEM;
		goto out;
	}
	json_array_foreach(keys, i, v)
		set_entry(s, v);
out:
	json_decref(o);
	if (err) {
		lk_jwks_free(s);
		return err;
	}
	*out = s;
	return LK_OK;
}

enum lk_err lk_jwks_to_json(const lk_jwks *s, char **out, size_t *len)
{
	json_t *o = json_object(), *arr = json_array();
	*out = NULL;
	if (!o || !arr || json_object_set_new(o, "keys", arr)) {
		json_decref(o);
		return LK_ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++) {
		const lk_jwk *k = s->e[i].key;
		if (!k || k->kty == LK_KTY_OCT || !(k->ops & LK_OP_VERIFY))
			continue;
		json_t *ko = jwk_to_obj(k, 0);
		if (!ko || json_array_append_new(arr, ko)) {
			json_decref(o);
			return LK_ENOMEM;
		}
	}
	return dump(o, out, len);
}
