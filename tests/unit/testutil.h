/* SPDX-License-Identifier: MIT */
/*
 * testutil.h: helpers shared by the cmocka unit tests (header only, every function static).
 *
 * The tests build hostile tokens by hand, so this file carries its own base64url codec and
 * signs with OpenSSL directly: a token the library must reject is then rejected for the
 * reason under test, not because the test's own encoder or signer went through the
 * library it is testing. Checks on every lk_err a test sees (a known reason word, the
 * errinfo code, a detail free of token text) live here too, in lkt_check_err().
 */
#ifndef LK_TESTS_TESTUTIL_H
#define LK_TESTS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "latchkey.h"

#define LKT_UNUSED __attribute__((unused))

/* A fixed clock for claim tests: 2023-11-14T22:13:20Z. */
#define LKT_NOW INT64_C(1700000000)

/* assert that expr returns want, printing both reason words when it does not. */
#define assert_rc(expr, want)                                                            \
	do {                                                                             \
		enum lk_err got_ = (expr);                                               \
		enum lk_err want_ = (want);                                              \
		if (got_ != want_)                                                       \
			fail_msg("%s: got %d (%s), want %d (%s)", #expr, (int)got_,      \
				 lk_err_str(got_), (int)want_, lk_err_str(want_));       \
	} while (0)

/* assert_string_equal that fails (instead of crashing cmocka) when got is NULL. */
#define assert_str(got, want)                                                            \
	do {                                                                             \
		const char *g_ = (got), *w_ = (want);                                    \
		if (!g_)                                                                 \
			fail_msg("%s is NULL, want \"%s\"", #got, w_);                   \
		assert_string_equal(g_, w_);                                             \
	} while (0)

/* assert that rc is one of the listed codes (terminated by -1). */
LKT_UNUSED static int lkt_rc_in(enum lk_err rc, ...)
{
	va_list ap;
	int c, found = 0;
	va_start(ap, rc);
	while ((c = va_arg(ap, int)) != -1)
		if ((int)rc == c)
			found = 1;
	va_end(ap);
	return found;
}
#define assert_rc_in(expr, ...)                                                          \
	do {                                                                             \
		enum lk_err got_ = (expr);                                               \
		if (!lkt_rc_in(got_, __VA_ARGS__, -1))                                   \
			fail_msg("%s: got %d (%s), not one of {%s}", #expr, (int)got_,   \
				 lk_err_str(got_), #__VA_ARGS__);                        \
	} while (0)

/* ---------------------------------------------------------------- base64url */

/* Encode n bytes, unpadded base64url, into a new NUL-terminated string. */
LKT_UNUSED static char *lkt_b64e(const void *in, size_t n)
{
	static const char al[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const uint8_t *p = in;
	char *out = malloc(n / 3 * 4 + 5), *o = out;
	assert_non_null(out);
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = al[v >> 18 & 63];
		*o++ = al[v >> 12 & 63];
		*o++ = al[v >> 6 & 63];
		*o++ = al[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = al[v >> 18 & 63];
		*o++ = al[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = al[v >> 18 & 63];
		*o++ = al[v >> 12 & 63];
		*o++ = al[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}

LKT_UNUSED static char *lkt_b64e_str(const char *s) { return lkt_b64e(s, strlen(s)); }

/* Decode canonical base64url (the test's own inputs); fails the test on bad input.
 * Returns a malloc'd buffer with a NUL after the *outlen bytes. */
LKT_UNUSED static uint8_t *lkt_b64d(const char *in, size_t n, size_t *outlen)
{
	uint8_t *out = malloc(n / 4 * 3 + 4), *o = out;
	uint32_t acc = 0;
	int bits = 0;
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		int v = c >= 'A' && c <= 'Z' ? c - 'A'
			: c >= 'a' && c <= 'z' ? c - 'a' + 26
			: c >= '0' && c <= '9' ? c - '0' + 52
			: c == '-' ? 62 : c == '_' ? 63 : -1;
		if (v < 0)
			fail_msg("test helper: bad base64url input");
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (uint8_t)(acc >> bits);
		}
	}
	*o = 0;
	*outlen = (size_t)(o - out);
	return out;
}

/* printf into a new string. */
LKT_UNUSED __attribute__((format(printf, 1, 2))) static char *lkt_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	assert_true(r >= 0);
	return s;
}

/* ---------------------------------------------------------------- error checks */

/* Does any window of `win` bytes of hay[0..n) occur in detail? */
LKT_UNUSED static const char *lkt_leak(const char *detail, const char *hay, size_t n, size_t win)
{
	for (size_t i = 0; i + win <= n; i++) {
		char w[64];
		if (win >= sizeof w)
			return NULL;
		memcpy(w, hay + i, win);
		w[win] = '\0';
		if (strlen(w) == win && strstr(detail, w))
			return hay + i;
	}
	return NULL;
}

/*
 * Every failure the tests see must carry a stable reason word (not "unknown"), a class,
 * an errinfo with the same code and a NUL-terminated detail that quotes no part of the
 * token: no 10-byte run of the token text, nor a 12-byte run of its decoded header or
 * payload.
 */
LKT_UNUSED static void lkt_check_err(enum lk_err rc, const struct lk_errinfo *ei,
				     const char *token, size_t len)
{
	const char *s = lk_err_str(rc);
	assert_non_null(s);
	if (rc == LK_OK)
		return;
	if (strcmp(s, "unknown") == 0)
		fail_msg("lk_err %d has no reason word", (int)rc);
	assert_true(lk_err_class(rc) != LK_CLASS_OK);
	if (ei->code != rc)
		fail_msg("errinfo.code %d (%s) differs from the returned %d (%s)", (int)ei->code,
			 lk_err_str(ei->code), (int)rc, s);
	assert_non_null(memchr(ei->detail, '\0', sizeof ei->detail));
	if (!token)
		return;
	const char *hit = lkt_leak(ei->detail, token, len, 10);
	if (hit)
		fail_msg("errinfo.detail \"%s\" quotes the token text", ei->detail);
	/* decoded parts, when they decode */
	const char *p = token, *end = token + len;
	for (int part = 0; part < 2 && p < end; part++) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
		int ok = n % 4 != 1;
		for (size_t i = 0; i < n && ok; i++) {
			char c = p[i];
			ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '_';
		}
		if (ok) {
			size_t dl;
			uint8_t *d = lkt_b64d(p, n, &dl);
			if (lkt_leak(ei->detail, (const char *)d, dl, 12))
				fail_msg("errinfo.detail \"%s\" quotes decoded token bytes", ei->detail);
			free(d);
		}
		if (!dot)
			break;
		p = dot + 1;
	}
}

/* lk_jws_verify with the invariants of lkt_check_err and of the out-parameters. The token
 * is copied into a buffer of exactly len bytes, without a NUL, so that a read past len
 * shows under ASan. */
LKT_UNUSED static enum lk_err lkt_jws_verify(const lk_jwks *set, const char *token, size_t len,
					     unsigned allow, char **payload, size_t *plen)
{
	struct lk_errinfo ei;
	char *pl = (char *)0x1, *copy = malloc(len ? len : 1);
	size_t n = 0;
	assert_non_null(copy);
	memcpy(copy, token, len);
	memset(&ei, 0, sizeof ei);
	enum lk_err rc = lk_jws_verify(set, copy, len, allow, &pl, &n, &ei);
	lkt_check_err(rc, &ei, token, len);
	free(copy);
	if (rc == LK_OK) {
		assert_non_null(pl);
		assert_int_equal(pl[n], '\0');
	} else {
		assert_null(pl);
	}
	if (payload) {
		*payload = pl;
		if (plen)
			*plen = n;
	} else {
		free(pl);
	}
	return rc;
}

LKT_UNUSED static enum lk_err lkt_jwt_verify(const lk_jwks *set, const char *token,
					     const struct lk_verify_opts *opts, lk_jwt **out)
{
	struct lk_errinfo ei;
	lk_jwt *jwt = (lk_jwt *)0x1;
	size_t len = strlen(token);
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, token, len);
	memset(&ei, 0, sizeof ei);
	enum lk_err rc = lk_jwt_verify(set, copy, len, opts, &jwt, &ei);
	lkt_check_err(rc, &ei, token, len);
	free(copy);
	if (rc == LK_OK)
		assert_non_null(jwt);
	else
		assert_null(jwt);
	if (out)
		*out = jwt;
	else
		lk_jwt_free(jwt);
	return rc;
}

/* ---------------------------------------------------------------- keys */

/* A new key from JSON text; fails the test unless it parses. */
LKT_UNUSED static lk_jwk *lkt_jwk(const char *json)
{
	lk_jwk *k = NULL;
	struct lk_errinfo ei;
	enum lk_err rc = lk_jwk_parse(json, strlen(json), &k, &ei);
	if (rc != LK_OK)
		fail_msg("lk_jwk_parse: %s (%s)", lk_err_str(rc), ei.detail);
	assert_non_null(k);
	return k;
}

LKT_UNUSED static lk_jwk *lkt_gen(enum lk_alg alg, const char *kid)
{
	lk_jwk *k = NULL;
	struct lk_errinfo ei;
	enum lk_err rc = lk_jwk_generate(alg, kid, &k, &ei);
	if (rc != LK_OK)
		fail_msg("lk_jwk_generate(%s): %s (%s)", lk_alg_name(alg), lk_err_str(rc),
			 ei.detail);
	assert_non_null(k);
	return k;
}

/* A set of the given keys (the set takes its own references). */
LKT_UNUSED static lk_jwks *lkt_set(lk_jwk *const *keys, size_t n)
{
	lk_jwks *s = NULL;
	assert_rc(lk_jwks_new(keys, n, &s), LK_OK);
	assert_non_null(s);
	return s;
}
LKT_UNUSED static lk_jwks *lkt_set1(lk_jwk *k) { return lkt_set(&k, 1); }

/* A set holding only the public part of k, the way a verifier receives it. */
LKT_UNUSED static lk_jwks *lkt_pubset(const lk_jwk *k)
{
	char *js = NULL;
	assert_rc(lk_jwk_to_json(k, 0, &js, NULL), LK_OK);
	lk_jwk *pub = lkt_jwk(js);
	free(js);
	assert_false(lk_jwk_is_private(pub));
	lk_jwks *s = lkt_set1(pub);
	lk_jwk_free(pub);
	return s;
}

/* The value of string member `name` of the key's private JSON, decoded. */
LKT_UNUSED static uint8_t *lkt_member(const lk_jwk *k, const char *name, size_t *len)
{
	char *js = NULL;
	assert_rc(lk_jwk_to_json(k, 1, &js, NULL), LK_OK);
	json_error_t jerr;
	json_t *o = json_loads(js, 0, &jerr);
	assert_non_null(o);
	const char *v = json_string_value(json_object_get(o, name));
	if (!v)
		fail_msg("key JSON has no string member \"%s\"", name);
	uint8_t *d = lkt_b64d(v, strlen(v), len);
	json_decref(o);
	free(js);
	return d;
}

/* ---------------------------------------------------------------- hand-made tokens */

static const EVP_MD *lkt_md(const char *alg)
{
	const char *h = alg + strlen(alg) - 3;
	return !strcmp(h, "256") ? EVP_sha256() : !strcmp(h, "384") ? EVP_sha384()
						  : EVP_sha512();
}

/* b64(h).b64(p).b64(HMAC-SHA-x(secret, signing input)); h_b64/p_b64 already encoded, so
 * a test may feed deliberately non-canonical text that is nevertheless correctly MACed. */
LKT_UNUSED static char *lkt_hs_parts(const char *alg, const uint8_t *secret, size_t slen,
				     const char *h_b64, const char *p_b64)
{
	char *input = lkt_fmt("%s.%s", h_b64, p_b64);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	assert_non_null(HMAC(lkt_md(alg), secret, (int)slen, (const unsigned char *)input,
			     strlen(input), mac, &maclen));
	char *sig = lkt_b64e(mac, maclen);
	char *tok = lkt_fmt("%s.%s", input, sig);
	free(input);
	free(sig);
	return tok;
}

/* An HMAC token over the given header JSON and payload bytes. */
LKT_UNUSED static char *lkt_hs_token(const char *alg, const uint8_t *secret, size_t slen,
				     const char *header, const void *payload, size_t plen)
{
	char *h = lkt_b64e_str(header), *p = lkt_b64e(payload, plen);
	char *tok = lkt_hs_parts(alg, secret, slen, h, p);
	free(h);
	free(p);
	return tok;
}

/* Sign input with an OpenSSL key as JWS alg `alg` (RS*, PS*, ES*, EdDSA); returns the
 * JOSE form of the signature (ECDSA as fixed-size r||s), base64url. */
LKT_UNUSED static char *lkt_pkey_sign(EVP_PKEY *pkey, const char *alg, const char *input)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ed = !strcmp(alg, "EdDSA");
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, &pctx, ed ? NULL : lkt_md(alg), NULL, pkey), 1);
	if (alg[0] == 'P') {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
	}
	size_t n = 0;
	assert_int_equal(EVP_DigestSign(ctx, NULL, &n, (const unsigned char *)input, strlen(input)), 1);
	unsigned char *sig = malloc(n);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(ctx, sig, &n, (const unsigned char *)input, strlen(input)), 1);
	EVP_MD_CTX_free(ctx);
	char *out;
	if (alg[0] == 'E' && !ed) {
		const unsigned char *q = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)n);
		assert_non_null(es);
		int half = (EVP_PKEY_get_bits(pkey) + 7) / 8;
		unsigned char raw[2 * 66];
		assert_true(half <= 66);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, half), half);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + half, half), half);
		ECDSA_SIG_free(es);
		out = lkt_b64e(raw, (size_t)(2 * half));
	} else {
		out = lkt_b64e(sig, n);
	}
	free(sig);
	return out;
}

/* A token over header JSON and payload bytes signed with an OpenSSL key. */
LKT_UNUSED static char *lkt_pkey_token(EVP_PKEY *pkey, const char *alg, const char *header,
				       const void *payload, size_t plen)
{
	char *h = lkt_b64e_str(header), *p = lkt_b64e(payload, plen);
	char *input = lkt_fmt("%s.%s", h, p);
	char *sig = lkt_pkey_sign(pkey, alg, input);
	char *tok = lkt_fmt("%s.%s", input, sig);
	free(h);
	free(p);
	free(input);
	free(sig);
	return tok;
}

static char *lkt_bn_b64(EVP_PKEY *pkey, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	assert_int_equal(EVP_PKEY_get_bn_param(pkey, param, &bn), 1);
	int n = pad ? pad : BN_num_bytes(bn);
	unsigned char *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(BN_bn2binpad(bn, buf, n), n);
	char *s = lkt_b64e(buf, (size_t)n);
	free(buf);
	BN_free(bn);
	return s;
}

/* The public JWK (JSON text) of an OpenSSL RSA, EC or Ed25519 key, with kid when given. */
LKT_UNUSED static char *lkt_pkey_jwk(EVP_PKEY *pkey, const char *kid)
{
	char *kidm = kid ? lkt_fmt(",\"kid\":\"%s\"", kid) : strdup("");
	char *js;
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		char *n = lkt_bn_b64(pkey, OSSL_PKEY_PARAM_RSA_N, 0);
		char *e = lkt_bn_b64(pkey, OSSL_PKEY_PARAM_RSA_E, 0);
		js = lkt_fmt("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"%s}", n, e, kidm);
		free(n);
		free(e);
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		char grp[32];
		size_t gl = 0;
		assert_int_equal(EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
								grp, sizeof grp, &gl), 1);
		const char *crv = !strcmp(grp, "prime256v1") ? "P-256"
				  : !strcmp(grp, "secp384r1") ? "P-384" : "P-521";
		int sz = (EVP_PKEY_get_bits(pkey) + 7) / 8;
		char *x = lkt_bn_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_X, sz);
		char *y = lkt_bn_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, sz);
		js = lkt_fmt("{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}", crv, x,
			     y, kidm);
		free(x);
		free(y);
	} else {
		unsigned char raw[32];
		size_t rl = sizeof raw;
		assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, raw, &rl), 1);
		char *x = lkt_b64e(raw, rl);
		js = lkt_fmt("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"%s}", x, kidm);
		free(x);
	}
	free(kidm);
	return js;
}

/* An OpenSSL public key from a public JWK (RSA, EC or OKP Ed25519), for checks made
 * independently of the library. */
LKT_UNUSED static EVP_PKEY *lkt_pkey_from_jwk(const char *jwk)
{
	json_error_t jerr;
	json_t *o = json_loads(jwk, 0, &jerr);
	assert_non_null(o);
	const char *kty = json_string_value(json_object_get(o, "kty"));
	assert_non_null(kty);
	EVP_PKEY *pkey = NULL;
	size_t l1, l2;
	if (!strcmp(kty, "OKP")) {
		const char *x = json_string_value(json_object_get(o, "x"));
		uint8_t *raw = lkt_b64d(x, strlen(x), &l1);
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, l1);
		free(raw);
	} else {
		OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, kty[0] == 'R' ? "RSA" : "EC", NULL);
		BIGNUM *n = NULL, *e = NULL;
		uint8_t *pt = NULL;
		assert_non_null(bld);
		assert_non_null(ctx);
		if (kty[0] == 'R') {
			const char *ns = json_string_value(json_object_get(o, "n"));
			const char *es = json_string_value(json_object_get(o, "e"));
			uint8_t *nb = lkt_b64d(ns, strlen(ns), &l1), *eb = lkt_b64d(es, strlen(es), &l2);
			n = BN_bin2bn(nb, (int)l1, NULL);
			e = BN_bin2bn(eb, (int)l2, NULL);
			free(nb);
			free(eb);
			OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
			OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
		} else {
			const char *crv = json_string_value(json_object_get(o, "crv"));
			const char *xs = json_string_value(json_object_get(o, "x"));
			const char *ys = json_string_value(json_object_get(o, "y"));
			uint8_t *xb = lkt_b64d(xs, strlen(xs), &l1), *yb = lkt_b64d(ys, strlen(ys), &l2);
			pt = malloc(1 + l1 + l2);
			assert_non_null(pt);
			pt[0] = 4;
			memcpy(pt + 1, xb, l1);
			memcpy(pt + 1 + l1, yb, l2);
			free(xb);
			free(yb);
			const char *grp = !strcmp(crv, "P-256") ? "prime256v1"
					  : !strcmp(crv, "P-384") ? "secp384r1" : "secp521r1";
			OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, grp, 0);
			OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + l1 + l2);
		}
		OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
		assert_non_null(params);
		assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
		assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
		OSSL_PARAM_free(params);
		OSSL_PARAM_BLD_free(bld);
		EVP_PKEY_CTX_free(ctx);
		BN_free(n);
		BN_free(e);
		free(pt);
	}
	json_decref(o);
	assert_non_null(pkey);
	return pkey;
}

/* Verify a compact token's signature with OpenSSL alone (alg from the header), as any
 * other JOSE implementation would: PSS with salt = hash length, ECDSA as r||s. 1 = valid. */
LKT_UNUSED static int lkt_pkey_verify(EVP_PKEY *pkey, const char *alg, const char *token)
{
	const char *dot2 = strrchr(token, '.');
	assert_non_null(dot2);
	size_t inlen = (size_t)(dot2 - token), sl;
	uint8_t *sig = lkt_b64d(dot2 + 1, strlen(dot2 + 1), &sl);
	unsigned char *der = NULL;
	int derlen = 0, ed = !strcmp(alg, "EdDSA");
	if (alg[0] == 'E' && !ed) {
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r = BN_bin2bn(sig, (int)(sl / 2), NULL), *s = BN_bin2bn(sig + sl / 2, (int)(sl / 2), NULL);
		assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
		derlen = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if ((int)sl != 2 * ((EVP_PKEY_get_bits(pkey) + 7) / 8))
			derlen = -1;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	assert_int_equal(EVP_DigestVerifyInit(ctx, &pctx, ed ? NULL : lkt_md(alg), NULL, pkey), 1);
	if (alg[0] == 'P') {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
	}
	int ok = derlen < 0 ? 0
		 : EVP_DigestVerify(ctx, der ? der : sig, der ? (size_t)derlen : sl,
				    (const unsigned char *)token, inlen) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	free(sig);
	return ok;
}

#endif
