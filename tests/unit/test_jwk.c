/* SPDX-License-Identifier: MIT */
/*
 * test_jwk.c: JWK and JWKS (RFC 7517, RFC 7518 §6, RFC 8037 §2), thumbprints (RFC 7638).
 *
 * Keys are the RFCs' own where the RFCs have one (RFC 7515 Appendix A, RFC 7638 §3.1,
 * RFC 8037 Appendix A.1), generated otherwise. Generated keys are checked against OpenSSL
 * directly: a signature the library makes must verify in OpenSSL with the JOSE rules (PSS
 * salt = hash length, ECDSA as r||s), so that sign and verify cannot agree on a mistake.
 */
#include <openssl/sha.h>

#include "testutil.h"

/* RFC 7515 A.1 (oct), A.2 (RSA), A.3 (P-256), A.4 (P-521); RFC 8037 A.1 (Ed25519). */
#define A1_K "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
#define A2_N "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
#define A2_D "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"
#define A2_P "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc"
#define A2_Q "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc"
#define A2_DP "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0"
#define A2_DQ "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU"
#define A2_QI "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"
#define A3_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define A3_D "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
#define A4_X "AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk"
#define A4_Y "ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"
#define A4_D "AY5pb7A0UFiB3RELSD64fTLOSV_jazdF7fLYyuTw8lOfRhWg6Y6rUrPAxerEzgdRhajnu0ferB0d53vM9mE15j2C"
#define ED_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define ED_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
/* RFC 7638 §3.1 */
#define T_N "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"

#define RSA_A2_PRIV                                                                          \
	"{\"kty\":\"RSA\",\"kid\":\"a2\",\"n\":\"" A2_N "\",\"e\":\"AQAB\",\"d\":\"" A2_D       \
	"\",\"p\":\"" A2_P "\",\"q\":\"" A2_Q "\",\"dp\":\"" A2_DP "\",\"dq\":\"" A2_DQ         \
	"\",\"qi\":\"" A2_QI "\"}"

static const char *const PRIVATE_MEMBERS[] = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"};

static json_t *loads(const char *s)
{
	json_error_t jerr;
	json_t *o = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		fail_msg("library emitted invalid JSON: %s (%s)", jerr.text, s);
	return o;
}

static void assert_no_private_members(json_t *o)
{
	for (size_t i = 0; i < sizeof PRIVATE_MEMBERS / sizeof PRIVATE_MEMBERS[0]; i++)
		if (json_object_get(o, PRIVATE_MEMBERS[i]))
			fail_msg("public JSON carries private member \"%s\"", PRIVATE_MEMBERS[i]);
}

static enum lk_err parse(const char *json, lk_jwk **out)
{
	struct lk_errinfo ei;
	lk_jwk *k = (lk_jwk *)0x1;
	enum lk_err rc = lk_jwk_parse(json, strlen(json), &k, &ei);
	lkt_check_err(rc, &ei, json, strlen(json)); /* no key text in the detail */
	if (rc == LK_OK)
		assert_non_null(k);
	else
		assert_null(k);
	if (out)
		*out = k;
	else
		lk_jwk_free(k);
	return rc;
}

/* Members of `in` that describe the key must come back unchanged. */
static void assert_same_members(json_t *in, json_t *out, int with_private)
{
	static const char *const m[] = {"kty", "crv", "x", "y", "n", "e", "kid", "alg",
					"d", "p", "q", "dp", "dq", "qi", "k"};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
		json_t *a = json_object_get(in, m[i]);
		if (!a || (!with_private && i >= 8))
			continue;
		if (!json_equal(a, json_object_get(out, m[i])))
			fail_msg("member \"%s\" did not survive the round trip", m[i]);
	}
}

/* Parse -> emit -> parse -> emit for every kty, public and private: the key material,
 * kid and alg survive, the second emission is the first, and the public form never
 * carries a private member. oct keys have no public form. */
static void test_roundtrip_every_kty(void **state)
{
	lk_jwk *p384 = lkt_gen(LK_ALG_ES384, "p384");
	char *p384priv = NULL, *p384pub = NULL;
	assert_rc(lk_jwk_to_json(p384, 1, &p384priv, NULL), LK_OK);
	assert_rc(lk_jwk_to_json(p384, 0, &p384pub, NULL), LK_OK);
	const struct {
		const char *json;
		int priv;
	} keys[] = {
		{"{\"kty\":\"oct\",\"kid\":\"a1\",\"k\":\"" A1_K "\"}", 1},
		{"{\"kty\":\"oct\",\"alg\":\"HS512\",\"k\":\"" A1_K "\"}", 1},
		{RSA_A2_PRIV, 1},
		{"{\"kty\":\"RSA\",\"n\":\"" A2_N "\",\"e\":\"AQAB\",\"alg\":\"PS256\"}", 0},
		{"{\"kty\":\"RSA\",\"n\":\"" T_N "\",\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}", 0},
		{"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\",\"d\":\"" A3_D "\"}", 1},
		{"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\",\"kid\":\"a3\"}", 0},
		{p384priv, 1},
		{p384pub, 0},
		{"{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"" A4_X "\",\"y\":\"" A4_Y "\",\"d\":\"" A4_D "\"}", 1},
		{"{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"" A4_X "\",\"y\":\"" A4_Y "\"}", 0},
		{"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"" ED_D "\",\"x\":\"" ED_X "\"}", 1},
		{"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\",\"kid\":\"ed\"}", 0},
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		lk_jwk *k = lkt_jwk(keys[i].json);
		json_t *in = loads(keys[i].json);
		int oct = !strcmp(json_string_value(json_object_get(in, "kty")), "oct");
		assert_int_equal(!!lk_jwk_is_private(k), keys[i].priv);
		const char *kid = json_string_value(json_object_get(in, "kid"));
		if (kid)
			assert_str(lk_jwk_kid(k), kid);
		else
			assert_null(lk_jwk_kid(k));
		char *tp1 = calloc(1, 64), *tp2 = calloc(1, 64);
		assert_rc(lk_jwk_thumbprint(k, tp1, 64), LK_OK);
		if (keys[i].priv) {
			char *e1 = NULL, *e2 = NULL;
			size_t l1 = 0;
			assert_rc(lk_jwk_to_json(k, 1, &e1, &l1), LK_OK);
			assert_int_equal(strlen(e1), l1);
			json_t *out = loads(e1);
			assert_same_members(in, out, 1);
			lk_jwk *k2 = lkt_jwk(e1);
			assert_true(lk_jwk_is_private(k2));
			assert_rc(lk_jwk_to_json(k2, 1, &e2, NULL), LK_OK);
			assert_str(e1, e2);
			assert_int_equal(lk_jwk_alg(k2), lk_jwk_alg(k));
			assert_int_equal(lk_jwk_algs(k2), lk_jwk_algs(k));
			assert_rc(lk_jwk_thumbprint(k2, tp2, 64), LK_OK);
			assert_str(tp1, tp2);
			json_decref(out);
			free(e1);
			free(e2);
			lk_jwk_free(k2);
		}
		char *pub = (char *)0x1;
		if (oct) {
			assert_rc(lk_jwk_to_json(k, 0, &pub, NULL), LK_EUNSUPPORTED);
			assert_null(pub);
		} else {
			assert_rc(lk_jwk_to_json(k, 0, &pub, NULL), LK_OK);
			json_t *po = loads(pub);
			assert_no_private_members(po);
			assert_same_members(in, po, 0);
			lk_jwk *kp = lkt_jwk(pub);
			assert_false(lk_jwk_is_private(kp));
			char *pub2 = NULL;
			assert_rc(lk_jwk_to_json(kp, 0, &pub2, NULL), LK_OK);
			assert_str(pub, pub2);
			assert_rc(lk_jwk_thumbprint(kp, tp2, 64), LK_OK);
			assert_str(tp1, tp2);
			free(pub2);
			lk_jwk_free(kp);
			json_decref(po);
			free(pub);
		}
		free(tp1);
		free(tp2);
		json_decref(in);
		lk_jwk_free(k);
	}
	free(p384priv);
	free(p384pub);
	lk_jwk_free(p384);
}

/* Bytes of the decoded string member `name` of JSON object o, or 0 when absent. */
static size_t member_len(json_t *o, const char *name)
{
	const char *s = json_string_value(json_object_get(o, name));
	size_t n = 0;
	if (!s)
		return 0;
	free(lkt_b64d(s, strlen(s), &n));
	return n;
}

/* lk_jwk_generate for every algorithm: the key has the right shape and size, names its
 * alg, gets its thumbprint as kid, survives to_json -> parse, and a token signed with the
 * reparsed key verifies with the original, with the public half alone, and in OpenSSL. */
static void test_generate_every_alg(void **state)
{
	static const struct {
		enum lk_alg alg;
		const char *kty, *crv;
		size_t size; /* k, n, or x bytes */
	} algs[] = {
		{LK_ALG_HS256, "oct", NULL, 32},      {LK_ALG_HS384, "oct", NULL, 48},
		{LK_ALG_HS512, "oct", NULL, 64},      {LK_ALG_RS256, "RSA", NULL, 256},
		{LK_ALG_RS384, "RSA", NULL, 256},     {LK_ALG_RS512, "RSA", NULL, 256},
		{LK_ALG_PS256, "RSA", NULL, 256},     {LK_ALG_PS384, "RSA", NULL, 256},
		{LK_ALG_PS512, "RSA", NULL, 256},     {LK_ALG_ES256, "EC", "P-256", 32},
		{LK_ALG_ES384, "EC", "P-384", 48},    {LK_ALG_ES512, "EC", "P-521", 66},
		{LK_ALG_EDDSA, "OKP", "Ed25519", 32},
	};
	unsigned seen = 0;
	for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
		enum lk_alg alg = algs[i].alg;
		const char *name = lk_alg_name(alg);
		assert_non_null(name);
		seen |= alg;
		lk_jwk *k = lkt_gen(alg, NULL);
		assert_int_equal(lk_jwk_alg(k), alg);
		assert_int_equal(lk_jwk_algs(k), alg);
		assert_true(lk_jwk_is_private(k));
		char tp[64];
		assert_rc(lk_jwk_thumbprint(k, tp, sizeof tp), LK_OK);
		assert_int_equal(strlen(tp), 43);
		assert_non_null(lk_jwk_kid(k));
		assert_str(lk_jwk_kid(k), tp);

		char *js = NULL;
		assert_rc(lk_jwk_to_json(k, 1, &js, NULL), LK_OK);
		json_t *o = loads(js);
		assert_str(json_string_value(json_object_get(o, "kty")), algs[i].kty);
		assert_str(json_string_value(json_object_get(o, "alg")), name);
		assert_str(json_string_value(json_object_get(o, "kid")), tp);
		if (algs[i].crv)
			assert_str(json_string_value(json_object_get(o, "crv")), algs[i].crv);
		if (!strcmp(algs[i].kty, "oct")) {
			assert_int_equal(member_len(o, "k"), algs[i].size);
		} else if (!strcmp(algs[i].kty, "RSA")) {
			assert_int_equal(member_len(o, "n"), algs[i].size);
			assert_true(member_len(o, "d") > 0);
			assert_str(json_string_value(json_object_get(o, "e")), "AQAB");
		} else if (!strcmp(algs[i].kty, "EC")) {
			assert_int_equal(member_len(o, "x"), algs[i].size);
			assert_int_equal(member_len(o, "y"), algs[i].size);
			assert_int_equal(member_len(o, "d"), algs[i].size);
		} else {
			assert_int_equal(member_len(o, "x"), 32);
			assert_int_equal(member_len(o, "d"), 32);
		}
		json_decref(o);

		lk_jwk *k2 = lkt_jwk(js);
		assert_int_equal(lk_jwk_alg(k2), alg);
		char *tok = NULL;
		struct lk_errinfo ei;
		const char claims[] = "{\"sub\":\"gen\"}";
		assert_rc(lk_jws_sign(k2, "JWT", claims, strlen(claims), &tok, NULL, &ei), LK_OK);
		lk_jwks *set = lkt_set1(k);
		char *pl = NULL;
		size_t pn;
		assert_rc(lkt_jws_verify(set, tok, strlen(tok), 0, &pl, &pn), LK_OK);
		assert_int_equal(pn, strlen(claims));
		assert_memory_equal(pl, claims, pn);
		free(pl);
		/* the header the library wrote */
		char *hdr = NULL, *pay = NULL;
		size_t siglen = 0;
		assert_rc(lk_jws_decode_unverified(tok, strlen(tok), &hdr, &pay, &siglen, &ei), LK_OK);
		char *want = lkt_fmt("{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", name, tp);
		assert_str(hdr, want);
		assert_str(pay, claims);
		free(want);
		free(hdr);
		free(pay);
		if (strcmp(algs[i].kty, "oct")) {
			char *pub = NULL;
			assert_rc(lk_jwk_to_json(k, 0, &pub, NULL), LK_OK);
			lk_jwks *ps = lkt_pubset(k);
			assert_rc(lkt_jws_verify(ps, tok, strlen(tok), 0, NULL, NULL), LK_OK);
			lk_jwks_free(ps);
			/* OpenSSL alone agrees */
			EVP_PKEY *pk = lkt_pkey_from_jwk(pub);
			if (!lkt_pkey_verify(pk, name, tok))
				fail_msg("%s: OpenSSL does not verify the library's signature", name);
			/* and a public key cannot sign */
			lk_jwk *kp = lkt_jwk(pub);
			char *t2 = (char *)0x1;
			assert_rc(lk_jws_sign(kp, NULL, "x", 1, &t2, NULL, &ei), LK_ENO_PRIVATE);
			assert_null(t2);
			lk_jwk_free(kp);
			EVP_PKEY_free(pk);
			free(pub);
		}
		/* another key of the same alg does not verify this token */
		lk_jwk *other = lkt_gen(alg, tp); /* same kid, different key */
		lk_jwks *os = lkt_set1(other);
		assert_rc(lkt_jws_verify(os, tok, strlen(tok), 0, NULL, NULL), LK_EBAD_SIGNATURE);
		lk_jwks_free(os);
		lk_jwk_free(other);
		/* an explicit kid is kept (one RSA alg is enough: RSA keys are slow to make) */
		if (strcmp(algs[i].kty, "RSA") || alg == LK_ALG_RS256) {
			lk_jwk *named = lkt_gen(alg, "my-kid");
			assert_str(lk_jwk_kid(named), "my-kid");
			lk_jwk_free(named);
		}

		lk_jwks_free(set);
		free(tok);
		lk_jwk_free(k2);
		free(js);
		lk_jwk_free(k);
	}
	assert_int_equal(seen, LK_ALG_ALL);
	/* "none" is not an algorithm one can generate a key for */
	lk_jwk *k = (lk_jwk *)0x1;
	struct lk_errinfo ei;
	enum lk_err rc = lk_jwk_generate(LK_ALG_NONE, NULL, &k, &ei);
	assert_true(rc != LK_OK);
	assert_null(k);
	rc = lk_jwk_generate(LK_ALG_HS256 | LK_ALG_ES256, NULL, &k, &ei);
	assert_true(rc != LK_OK);
	assert_null(k);
}

/* SHA-256 thumbprint of canonical JSON text, computed here without the library. */
static void ref_thumbprint(const char *canon, char out[44])
{
	unsigned char md[32];
	SHA256((const unsigned char *)canon, strlen(canon), md);
	char *s = lkt_b64e(md, 32);
	strcpy(out, s);
	free(s);
}

/* RFC 7638 §3.1: the RSA example key has thumbprint NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs
 * (alg and kid do not take part); RFC 8037 A.3: the Ed25519 key's is
 * kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k; EC and oct follow §3.2's member lists. */
static void test_rfc7638_thumbprint(void **state)
{
	lk_jwk *k = lkt_jwk("{\"kty\":\"RSA\",\"n\":\"" T_N "\",\"e\":\"AQAB\",\"alg\":\"RS256\","
			    "\"kid\":\"2011-04-29\"}");
	char buf[64];
	memset(buf, 'Z', sizeof buf);
	assert_rc(lk_jwk_thumbprint(k, buf, sizeof buf), LK_OK);
	assert_str(buf, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	/* exactly 44 bytes are enough, 43 are not (and are not overrun) */
	memset(buf, 'Z', sizeof buf);
	assert_rc(lk_jwk_thumbprint(k, buf, 44), LK_OK);
	assert_str(buf, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	memset(buf, 'Z', sizeof buf);
	assert_true(lk_jwk_thumbprint(k, buf, 43) != LK_OK);
	assert_int_equal(buf[43], 'Z');
	lk_jwk_free(k);
	/* member order and extra members do not matter */
	k = lkt_jwk("{\"use\":\"sig\",\"e\":\"AQAB\",\"kid\":\"x\",\"n\":\"" T_N "\",\"kty\":\"RSA\"}");
	assert_rc(lk_jwk_thumbprint(k, buf, sizeof buf), LK_OK);
	assert_str(buf, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	lk_jwk_free(k);

	/* RFC 8037 A.3, from the private key of A.1 too */
	k = lkt_jwk("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\"}");
	assert_rc(lk_jwk_thumbprint(k, buf, sizeof buf), LK_OK);
	assert_str(buf, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
	lk_jwk_free(k);
	k = lkt_jwk("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"" ED_D "\",\"x\":\"" ED_X "\"}");
	assert_rc(lk_jwk_thumbprint(k, buf, sizeof buf), LK_OK);
	assert_str(buf, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
	lk_jwk_free(k);

	/* EC: {"crv","kty","x","y"}; oct: {"k","kty"} */
	char want[44];
	k = lkt_jwk("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\",\"d\":\"" A3_D "\"}");
	ref_thumbprint("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", want);
	assert_rc(lk_jwk_thumbprint(k, buf, sizeof buf), LK_OK);
	assert_str(buf, want);
	lk_jwk_free(k);
	k = lkt_jwk("{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"" A4_X "\",\"y\":\"" A4_Y "\"}");
	ref_thumbprint("{\"crv\":\"P-521\",\"kty\":\"EC\",\"x\":\"" A4_X "\",\"y\":\"" A4_Y "\"}", want);
	assert_rc(lk_jwk_thumbprint(k, buf, sizeof buf), LK_OK);
	assert_str(buf, want);
	lk_jwk_free(k);
	k = lkt_jwk("{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"" A1_K "\"}");
	ref_thumbprint("{\"k\":\"" A1_K "\",\"kty\":\"oct\"}", want);
	assert_rc(lk_jwk_thumbprint(k, buf, sizeof buf), LK_OK);
	assert_str(buf, want);
	lk_jwk_free(k);
	k = lkt_jwk(RSA_A2_PRIV);
	ref_thumbprint("{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"" A2_N "\"}", want);
	assert_rc(lk_jwk_thumbprint(k, buf, sizeof buf), LK_OK);
	assert_str(buf, want);
	lk_jwk_free(k);
}

/* Replace the character at i of a copy of s by another alphabet character. */
static char *mutate(const char *s, size_t i)
{
	char *t = strdup(s);
	t[i] = t[i] == 'A' ? 'B' : 'A';
	return t;
}

/* Keys that are malformed or inconsistent are bad_key: a point off the curve (the
 * invalid-curve attack feeds such points to ECDH/ECDSA code that never checks), wrong
 * coordinate lengths, a private part that does not belong to the public part. */
static void test_bad_key_material(void **state)
{
	char *y2 = mutate(A3_Y, 20);
	char *x2 = mutate(A3_X, 5);
	lk_jwk *other = lkt_gen(LK_ALG_ES256, NULL);
	size_t dl;
	uint8_t *od = lkt_member(other, "d", &dl);
	char *other_d = lkt_b64e(od, dl);
	uint8_t zero32[32] = {0}, ff32[32];
	memset(ff32, 0xff, sizeof ff32);
	char *z = lkt_b64e(zero32, 32), *f = lkt_b64e(ff32, 32);
	uint8_t x31[31];
	memset(x31, 7, sizeof x31);
	char *short_x = lkt_b64e(x31, 31);
	lk_jwk *oed = lkt_gen(LK_ALG_EDDSA, NULL);
	uint8_t *oedx = lkt_member(oed, "x", &dl);
	char *other_x = lkt_b64e(oedx, dl);
	uint8_t *a3x = lkt_b64d(A3_X, strlen(A3_X), &dl), x33[33] = {0};
	assert_int_equal(dl, 32);
	memcpy(x33 + 1, a3x, 32);
	char *long_x = lkt_b64e(x33, 33);
	char *cases[] = {
		/* off the curve */
		lkt_fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", A3_X, y2),
		lkt_fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", x2, A3_Y),
		lkt_fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", z, z),
		lkt_fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", f, f),
		lkt_fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}", A3_X, y2, A3_D),
		/* the right point on the wrong curve */
		lkt_fmt("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\"}", A3_X, A3_Y),
		lkt_fmt("{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"%s\",\"y\":\"%s\"}", A3_X, A3_Y),
		/* coordinates of the wrong length (RFC 7518 §6.2.1.2: full length) */
		lkt_fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", short_x, A3_Y),
		lkt_fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", long_x, A3_Y),
		/* a private part of another key */
		lkt_fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}", A3_X, A3_Y, other_d),
		lkt_fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}", A3_X, A3_Y, z),
		lkt_fmt("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"%s\",\"x\":\"%s\"}", ED_D, other_x),
		lkt_fmt("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}", short_x),
		lkt_fmt("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"%s\",\"x\":\"%s\"}", short_x, ED_X),
		lkt_fmt("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\",\"d\":\"%s\",\"p\":\"%s\",\"q\":\"%s\","
			"\"dp\":\"%s\",\"dq\":\"%s\",\"qi\":\"%s\"}", A2_N, A2_D, A2_Q, A2_Q, A2_DP, A2_DQ, A2_QI),
		lkt_fmt("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\",\"d\":\"%s\"}", T_N, A2_D),
		/* values that are not base64url or not strings */
		lkt_fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s=\",\"y\":\"%s\"}", A3_X, A3_Y),
		lkt_fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":7}", A3_X),
		lkt_fmt("{\"kty\":\"oct\",\"k\":\"%s+\"}", A1_K),
		lkt_fmt("{\"kty\":\"oct\",\"k\":[\"%s\"]}", A1_K),
		lkt_fmt("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AA\"}", T_N),
		lkt_fmt("{\"kty\":\"oct\",\"k\":\"%s\",\"kid\":5}", A1_K),
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum lk_err rc = parse(cases[i], NULL);
		if (rc != LK_EKEY && !(i >= 16 && rc == LK_EBASE64))
			fail_msg("bad key %zu: %s, want bad_key", i, lk_err_str(rc));
		free(cases[i]);
	}
	/* control: the unmodified keys parse */
	assert_rc(parse("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\",\"d\":\"" A3_D "\"}", NULL), LK_OK);
	assert_rc(parse("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"" ED_D "\",\"x\":\"" ED_X "\"}", NULL), LK_OK);
	assert_rc(parse(RSA_A2_PRIV, NULL), LK_OK);
	free(y2);
	free(x2);
	free(other_d);
	free(od);
	free(z);
	free(f);
	free(short_x);
	free(oedx);
	free(other_x);
	free(a3x);
	free(long_x);
	lk_jwk_free(oed);
	lk_jwk_free(other);
}

/* Required members missing (RFC 7518 §6, RFC 8037 §2): bad_key. */
static void test_missing_members(void **state)
{
	static const char *cases[] = {
		"{}",
		"{\"k\":\"" A1_K "\"}",
		"{\"kty\":\"oct\"}",
		"{\"kty\":\"RSA\",\"e\":\"AQAB\"}",
		"{\"kty\":\"RSA\",\"n\":\"" T_N "\"}",
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\"}",
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"y\":\"" A3_Y "\"}",
		"{\"kty\":\"EC\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}",
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"d\":\"" A3_D "\"}",
		"{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}",
		"{\"kty\":\"OKP\",\"x\":\"" ED_X "\"}",
		"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"" ED_D "\"}",
		"{\"kty\":null,\"k\":\"" A1_K "\"}",
		"{\"kty\":5,\"k\":\"" A1_K "\"}",
		"{\"kty\":\"EC\",\"crv\":5,\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum lk_err rc = parse(cases[i], NULL);
		if (rc != LK_EKEY)
			fail_msg("%s: %s, want bad_key", cases[i], lk_err_str(rc));
	}
	/* not a JSON object at all */
	assert_rc(parse("[]", NULL), LK_EJSON);
	assert_rc(parse("\"oct\"", NULL), LK_EJSON);
	assert_rc(parse("{\"kty\":\"oct\",", NULL), LK_EJSON);
	assert_rc(parse("", NULL), LK_EJSON);
	assert_rc(parse("{\"kty\":\"oct\",\"k\":\"" A1_K "\"} x", NULL), LK_EJSON);
}

/* kty, crv or alg we do not implement: unsupported. */
static void test_unsupported(void **state)
{
	static const char *cases[] = {
		"{\"kty\":\"foo\",\"k\":\"" A1_K "\"}",
		"{\"kty\":\"OCT\",\"k\":\"" A1_K "\"}",
		"{\"kty\":\"ec\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}",
		"{\"kty\":\"EC\",\"crv\":\"P-192\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}",
		"{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}",
		"{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" ED_X "\"}",
		"{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"" ED_X "\"}",
		"{\"kty\":\"oct\",\"alg\":\"HS1\",\"k\":\"" A1_K "\"}",
		"{\"kty\":\"oct\",\"alg\":\"A256GCM\",\"k\":\"" A1_K "\"}",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum lk_err rc = parse(cases[i], NULL);
		if (rc != LK_EUNSUPPORTED)
			fail_msg("%s: %s, want unsupported", cases[i], lk_err_str(rc));
	}
	/* an alg that does not fit the key: never usable */
	static const char *mismatch[] = {
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}",
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"RS256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}",
		"{\"kty\":\"oct\",\"alg\":\"RS256\",\"k\":\"" A1_K "\"}",
		"{\"kty\":\"oct\",\"alg\":\"none\",\"k\":\"" A1_K "\"}",
		"{\"kty\":\"RSA\",\"alg\":\"HS256\",\"n\":\"" T_N "\",\"e\":\"AQAB\"}",
		"{\"kty\":\"RSA\",\"alg\":\"EdDSA\",\"n\":\"" T_N "\",\"e\":\"AQAB\"}",
		"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"ES256\",\"x\":\"" ED_X "\"}",
	};
	for (size_t i = 0; i < sizeof mismatch / sizeof mismatch[0]; i++) {
		enum lk_err rc = parse(mismatch[i], NULL);
		if (rc != LK_EKEY && rc != LK_EUNSUPPORTED)
			fail_msg("%s: %s, want bad_key or unsupported", mismatch[i], lk_err_str(rc));
	}
}

/* base (a JWK's JSON) with the members of the object text extra set on it. */
static char *with_members(const char *base, const char *extra)
{
	json_t *o = loads(base), *x = loads(extra);
	assert_int_equal(json_object_update(o, x), 0);
	char *s = json_dumps(o, JSON_COMPACT);
	assert_non_null(s);
	json_decref(o);
	json_decref(x);
	return s;
}

/*
 * use / key_ops (RFC 7517 §4.2, §4.3) are honoured in both directions: "use" other than
 * "sig", or key_ops without "verify", never verifies, whether the key comes from
 * lk_jwk_parse (then lk_jwks_new) or from a JWKS, and a token naming it by kid fails with
 * key_not_for_signing; key_ops without "sign" never signs. A key left with no operation at
 * all is refused at parse. key_ops must be an array of strings without repeated values.
 *
 * The hazard: a JWKS publishes a key marked for encryption, or for signing only, and a
 * verifier that ignores the marking (or that reads ["sign"] as "a signature key, so fine
 * for verifying") accepts tokens under a key its owner never meant to vouch for tokens.
 */
static void test_key_use(void **state)
{
	enum { NA = -1 };
	lk_jwk *hk = lkt_gen(LK_ALG_HS256, "u"), *ek = lkt_gen(LK_ALG_ES256, "u");
	char *hs = NULL, *ec = NULL, *ecpub = NULL;
	assert_rc(lk_jwk_to_json(hk, 1, &hs, NULL), LK_OK);
	assert_rc(lk_jwk_to_json(ek, 1, &ec, NULL), LK_OK);
	assert_rc(lk_jwk_to_json(ek, 0, &ecpub, NULL), LK_OK);
	static const struct {
		int base; /* 0 oct, 1 EC private, 2 EC public */
		const char *extra;
		int parse, sign, verify, jwks; /* NA: not applicable */
	} cases[] = {
		{0, "{\"use\":\"enc\"}", LK_EKEY_USE, NA, NA, LK_EKEY_USE},
		{0, "{\"use\":\"sig\"}", LK_OK, LK_OK, LK_OK, LK_OK},
		{0, "{\"key_ops\":[\"encrypt\",\"decrypt\"]}", LK_EKEY_USE, NA, NA, LK_EKEY_USE},
		{0, "{\"key_ops\":[]}", LK_EKEY_USE, NA, NA, LK_EKEY_USE},
		{0, "{\"key_ops\":[\"verify\"]}", LK_OK, LK_EKEY_USE, LK_OK, LK_OK},
		{0, "{\"key_ops\":[\"sign\"]}", LK_OK, LK_OK, LK_EKEY_USE, LK_EKEY_USE},
		{0, "{\"key_ops\":[\"sign\",\"verify\"]}", LK_OK, LK_OK, LK_OK, LK_OK},
		{0, "{\"use\":\"sig\",\"key_ops\":[\"sign\"]}", LK_OK, LK_OK, LK_EKEY_USE, LK_EKEY_USE},
		{0, "{\"key_ops\":[\"verify\",\"wrapKey\"]}", LK_OK, LK_EKEY_USE, LK_OK, LK_OK},
		{0, "{\"use\":\"enc\",\"key_ops\":[\"verify\"]}", LK_EKEY_USE, NA, NA, LK_EKEY_USE},
		{0, "{\"key_ops\":\"verify\"}", LK_EKEY, NA, NA, LK_EKEY},
		{0, "{\"key_ops\":[\"verify\",7]}", LK_EKEY, NA, NA, LK_EKEY},
		{0, "{\"key_ops\":[\"verify\",\"verify\"]}", LK_EKEY, NA, NA, LK_EKEY},
		{0, "{\"key_ops\":[\"sign\",\"verify\",\"sign\"]}", LK_EKEY, NA, NA, LK_EKEY},
		{1, "{\"key_ops\":[\"sign\"]}", LK_OK, LK_OK, LK_EKEY_USE, LK_EKEY_USE},
		{1, "{\"key_ops\":[\"verify\"]}", LK_OK, LK_EKEY_USE, LK_OK, LK_OK},
		{1, "{\"key_ops\":[\"sign\",\"verify\"]}", LK_OK, LK_OK, LK_OK, LK_OK},
		{1, "{\"use\":\"enc\"}", LK_EKEY_USE, NA, NA, LK_EKEY_USE},
		{2, "{\"key_ops\":[\"verify\"]}", LK_OK, LK_ENO_PRIVATE, LK_OK, LK_OK},
		{2, "{\"key_ops\":[\"sign\"]}", LK_EKEY_USE, NA, NA, LK_EKEY_USE},
		{2, "{\"use\":\"enc\"}", LK_EKEY_USE, NA, NA, LK_EKEY_USE},
		{2, "{}", LK_OK, LK_ENO_PRIVATE, LK_OK, LK_OK},
	};
	/* tokens by the unrestricted keys, naming kid "u", and without kid */
	char *tok[2] = {NULL, NULL}, *nokid[2] = {NULL, NULL};
	struct lk_errinfo ei;
	assert_rc(lk_jws_sign(hk, NULL, "{}", 2, &tok[0], NULL, &ei), LK_OK);
	assert_rc(lk_jws_sign(ek, NULL, "{}", 2, &tok[1], NULL, &ei), LK_OK);
	for (int b = 0; b < 2; b++) {
		json_t *o = loads(b ? ec : hs);
		json_object_del(o, "kid");
		char *js = json_dumps(o, JSON_COMPACT);
		lk_jwk *k = lkt_jwk(js);
		assert_rc(lk_jws_sign(k, NULL, "{}", 2, &nokid[b], NULL, &ei), LK_OK);
		char *h = NULL, *pl = NULL;
		assert_rc(lk_jws_decode_unverified(nokid[b], strlen(nokid[b]), &h, &pl, NULL, &ei),
			  LK_OK);
		assert_null(strstr(h, "kid"));
		free(h);
		free(pl);
		lk_jwk_free(k);
		free(js);
		json_decref(o);
	}
	const char *base[3] = {hs, ec, ecpub};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int b = cases[i].base, t = b ? 1 : 0;
		char *js = with_members(base[b], cases[i].extra);
		lk_jwk *k = NULL;
		enum lk_err rc = parse(js, &k);
		if ((int)rc != cases[i].parse)
			fail_msg("case %zu %s: parse %s, want %s", i, cases[i].extra, lk_err_str(rc),
				 lk_err_str((enum lk_err)cases[i].parse));
		if (k) {
			char *out = NULL;
			rc = lk_jws_sign(k, NULL, "{}", 2, &out, NULL, &ei);
			if ((int)rc != cases[i].sign)
				fail_msg("case %zu %s: sign %s, want %s", i, cases[i].extra,
					 lk_err_str(rc), lk_err_str((enum lk_err)cases[i].sign));
			free(out);
			lk_jwks *s = lkt_set1(k);
			if ((int)(rc = lkt_jws_verify(s, tok[t], strlen(tok[t]), 0, NULL, NULL)) !=
			    cases[i].verify)
				fail_msg("case %zu %s: verify %s, want %s", i, cases[i].extra,
					 lk_err_str(rc), lk_err_str((enum lk_err)cases[i].verify));
			/* without kid, a key that cannot verify is no candidate at all */
			rc = lkt_jws_verify(s, nokid[t], strlen(nokid[t]), 0, NULL, NULL);
			if (rc != (cases[i].verify == LK_OK ? LK_OK : LK_ENO_KEY))
				fail_msg("case %zu %s: no kid: %s", i, cases[i].extra, lk_err_str(rc));
			lk_jwks_free(s);
		}
		/* the same key inside a JWKS (a private EC key is reduced to its public part) */
		char *doc = lkt_fmt("{\"keys\":[%s]}", js);
		lk_jwks *set = NULL;
		assert_rc(lk_jwks_parse(doc, strlen(doc), &set, &ei), LK_OK);
		if ((int)(rc = lkt_jws_verify(set, tok[t], strlen(tok[t]), 0, NULL, NULL)) !=
		    cases[i].jwks)
			fail_msg("case %zu %s: JWKS verify %s, want %s", i, cases[i].extra,
				 lk_err_str(rc), lk_err_str((enum lk_err)cases[i].jwks));
		rc = lkt_jws_verify(set, nokid[t], strlen(nokid[t]), 0, NULL, NULL);
		if (rc != (cases[i].jwks == LK_OK ? LK_OK : LK_ENO_KEY))
			fail_msg("case %zu %s: JWKS, no kid: %s", i, cases[i].extra, lk_err_str(rc));
		assert_int_equal(lk_jwks_get(set, 0) != NULL, cases[i].jwks == LK_OK);
		lk_jwks_free(set);
		free(doc);
		lk_jwk_free(k);
		free(js);
	}

	/* key_ops is written back out: in full for the private form, and as ["verify"] (or
	 * not at all: LK_EKEY_USE) for the public form, which can only verify */
	char *js = with_members(ec, "{\"key_ops\":[\"sign\",\"verify\"]}");
	lk_jwk *k = lkt_jwk(js), *so;
	char *out = NULL;
	assert_rc(lk_jwk_to_json(k, 1, &out, NULL), LK_OK);
	json_t *o = loads(out);
	json_t *want = loads("[\"sign\",\"verify\"]");
	assert_true(json_equal(json_object_get(o, "key_ops"), want));
	json_decref(want);
	json_decref(o);
	free(out);
	assert_rc(lk_jwk_to_json(k, 0, &out, NULL), LK_OK);
	o = loads(out);
	want = loads("[\"verify\"]");
	assert_true(json_equal(json_object_get(o, "key_ops"), want));
	json_decref(want);
	json_decref(o);
	free(out);
	lk_jwk_free(k);
	free(js);
	js = with_members(ec, "{\"key_ops\":[\"sign\"]}");
	so = lkt_jwk(js);
	out = (char *)0x1;
	assert_rc(lk_jwk_to_json(so, 0, &out, NULL), LK_EKEY_USE);
	assert_null(out);
	/* the private form round-trips and stays sign-only */
	assert_rc(lk_jwk_to_json(so, 1, &out, NULL), LK_OK);
	k = lkt_jwk(out);
	lk_jwks *s = lkt_set1(k);
	assert_rc(lkt_jws_verify(s, tok[1], strlen(tok[1]), 0, NULL, NULL), LK_EKEY_USE);
	lk_jwks_free(s);
	lk_jwk_free(k);
	free(out);
	/* a published set leaves the sign-only key out */
	lk_jwk *ed = lkt_gen(LK_ALG_EDDSA, "ed");
	lk_jwk *two[] = {so, ed};
	s = lkt_set(two, 2);
	assert_rc(lk_jwks_to_json(s, &out, NULL), LK_OK);
	o = loads(out);
	assert_int_equal(json_array_size(json_object_get(o, "keys")), 1);
	assert_str(json_string_value(json_object_get(json_array_get(json_object_get(o, "keys"), 0),
						     "kid")),
		   "ed");
	json_decref(o);
	free(out);
	lk_jwks_free(s);
	lk_jwk_free(ed);
	lk_jwk_free(so);
	free(js);

	for (int b = 0; b < 2; b++) {
		free(tok[b]);
		free(nokid[b]);
	}
	free(hs);
	free(ec);
	free(ecpub);
	lk_jwk_free(hk);
	lk_jwk_free(ek);
}

/* A JWKS with one bad key and good ones: the set parses, keeps the bad key unusable,
 * a token naming its kid fails with that key's reason, the good keys verify. */
static void test_jwks_bad_and_good(void **state)
{
	lk_jwk *good = lkt_gen(LK_ALG_ES256, "good");
	lk_jwk *good2 = lkt_gen(LK_ALG_EDDSA, "good2");
	char *gj = NULL, *gj2 = NULL;
	assert_rc(lk_jwk_to_json(good, 0, &gj, NULL), LK_OK);
	assert_rc(lk_jwk_to_json(good2, 0, &gj2, NULL), LK_OK);
	char *y2 = mutate(A3_Y, 20);
	static const enum lk_err reasons[] = {LK_EUNSUPPORTED, LK_EKEY, LK_EKEY};
	char *bad[] = {
		strdup("{\"kty\":\"foo\",\"kid\":\"bad\",\"k\":\"" A1_K "\"}"),
		lkt_fmt("{\"kty\":\"EC\",\"kid\":\"bad\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", A3_X, y2),
		strdup("{\"kty\":\"RSA\",\"kid\":\"bad\",\"e\":\"AQAB\"}"),
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *doc = lkt_fmt("{\"keys\":[%s,%s,%s]}", gj, bad[i], gj2);
		lk_jwks *set = NULL;
		struct lk_errinfo ei;
		assert_rc(lk_jwks_parse(doc, strlen(doc), &set, &ei), LK_OK);
		assert_int_equal(lk_jwks_count(set), 3);
		assert_non_null(lk_jwks_get(set, 0));
		assert_null(lk_jwks_get(set, 1));
		assert_non_null(lk_jwks_get(set, 2));
		assert_str(lk_jwk_kid(lk_jwks_get(set, 0)), "good");
		assert_str(lk_jwk_kid(lk_jwks_get(set, 2)), "good2");
		assert_null(lk_jwks_get(set, 3));
		/* tokens */
		char *t = NULL;
		assert_rc(lk_jws_sign(good2, NULL, "{}", 2, &t, NULL, &ei), LK_OK);
		assert_rc(lkt_jws_verify(set, t, strlen(t), 0, NULL, NULL), LK_OK);
		free(t);
		lk_jwk *imp = lkt_gen(LK_ALG_ES256, "bad");
		assert_rc(lk_jws_sign(imp, NULL, "{}", 2, &t, NULL, &ei), LK_OK);
		enum lk_err rc = lkt_jws_verify(set, t, strlen(t), 0, NULL, NULL);
		if (rc != reasons[i])
			fail_msg("token naming bad key %zu: %s, want %s", i, lk_err_str(rc),
				 lk_err_str(reasons[i]));
		free(t);
		lk_jwk_free(imp);
		/* the set's JSON lists the usable keys only */
		char *out = NULL;
		assert_rc(lk_jwks_to_json(set, &out, NULL), LK_OK);
		json_t *o = loads(out);
		assert_int_equal(json_array_size(json_object_get(o, "keys")), 2);
		json_decref(o);
		free(out);
		lk_jwks_free(set);
		free(doc);
		free(bad[i]);
	}
	/* a bare JWK is accepted as a set of one */
	lk_jwks *one = NULL;
	struct lk_errinfo ei;
	assert_rc(lk_jwks_parse(gj, strlen(gj), &one, &ei), LK_OK);
	assert_int_equal(lk_jwks_count(one), 1);
	lk_jwks_free(one);
	/* documents that are not key sets */
	static const char *notsets[] = {"[]", "{\"keys\":{}}", "{\"keys\":7}", "{\"keys\":[7]}", "{\"keys\":["};
	for (size_t i = 0; i < sizeof notsets / sizeof notsets[0]; i++) {
		lk_jwks *s = (lk_jwks *)0x1;
		enum lk_err rc = lk_jwks_parse(notsets[i], strlen(notsets[i]), &s, &ei);
		if (rc == LK_OK && i == 3) {
			/* a non-object entry may be kept as an unusable key */
			assert_int_equal(lk_jwks_count(s), 1);
			assert_null(lk_jwks_get(s, 0));
			lk_jwks_free(s);
			continue;
		}
		if (rc == LK_OK)
			fail_msg("%s parsed as a key set", notsets[i]);
		assert_null(s);
	}
	free(y2);
	free(gj);
	free(gj2);
	lk_jwk_free(good);
	lk_jwk_free(good2);
}

/* Duplicate members, plain or escaped, in a JWK or anywhere in a JWKS document. */
static void test_duplicate_members(void **state)
{
	static const char *jwks[] = {
		"{\"kty\":\"oct\",\"k\":\"" A1_K "\",\"k\":\"" A1_K "\"}",
		"{\"kty\":\"oct\",\"kty\":\"oct\",\"k\":\"" A1_K "\"}",
		"{\"kty\":\"oct\",\"k\":\"" A1_K "\",\"\\u006b\":\"AAAA\"}",
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\",\"crv\":\"P-384\"}",
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\",\"kid\":\"a\",\"kid\":\"b\"}",
	};
	for (size_t i = 0; i < sizeof jwks / sizeof jwks[0]; i++) {
		enum lk_err rc = parse(jwks[i], NULL);
		if (rc != LK_EDUPLICATE)
			fail_msg("JWK %zu: %s, want duplicate_member", i, lk_err_str(rc));
	}
	static const char *docs[] = {
		"{\"keys\":[],\"keys\":[]}",
		"{\"keys\":[{\"kty\":\"oct\",\"k\":\"" A1_K "\"}],\"\\u006beys\":[]}",
		"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\",\"x\":\"" A3_X "\"}]}",
	};
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		lk_jwks *s = (lk_jwks *)0x1;
		struct lk_errinfo ei;
		enum lk_err rc = lk_jwks_parse(docs[i], strlen(docs[i]), &s, &ei);
		if (rc != LK_EDUPLICATE)
			fail_msg("JWKS %zu: %s, want duplicate_member", i, lk_err_str(rc));
		assert_null(s);
	}
}

/* A published key set never carries secrets: lk_jwks_to_json lists the public part of
 * each asymmetric key and no oct key, and a set parsed from a private JWKS holds no
 * private parts. */
static void test_jwks_public_only(void **state)
{
	static const enum lk_alg algs[] = {LK_ALG_HS256, LK_ALG_RS256, LK_ALG_PS384,
					   LK_ALG_ES256, LK_ALG_ES384, LK_ALG_ES512, LK_ALG_EDDSA,
					   LK_ALG_HS512};
	enum { N = sizeof algs / sizeof algs[0] };
	lk_jwk *keys[N];
	char *secrets[N * 8];
	size_t ns = 0;
	json_t *privdoc = json_pack("{s:[]}", "keys");
	for (size_t i = 0; i < N; i++) {
		keys[i] = lkt_gen(algs[i], NULL);
		char *js = NULL;
		assert_rc(lk_jwk_to_json(keys[i], 1, &js, NULL), LK_OK);
		json_t *o = loads(js);
		for (size_t m = 0; m < sizeof PRIVATE_MEMBERS / sizeof PRIVATE_MEMBERS[0]; m++) {
			const char *v = json_string_value(json_object_get(o, PRIVATE_MEMBERS[m]));
			if (v)
				secrets[ns++] = strdup(v);
		}
		if (algs[i] != LK_ALG_HS256 && algs[i] != LK_ALG_HS512)
			json_array_append(json_object_get(privdoc, "keys"), o);
		json_decref(o);
		free(js);
	}
	assert_true(ns >= N);
	lk_jwks *set = lkt_set(keys, N);
	assert_int_equal(lk_jwks_count(set), N);
	char *out = NULL;
	size_t len = 0;
	assert_rc(lk_jwks_to_json(set, &out, &len), LK_OK);
	assert_int_equal(strlen(out), len);
	json_t *o = loads(out);
	json_t *arr = json_object_get(o, "keys");
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), N - 2);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *k = json_array_get(arr, i);
		assert_no_private_members(k);
		assert_string_not_equal(json_string_value(json_object_get(k, "kty")), "oct");
		assert_non_null(json_string_value(json_object_get(k, "kid")));
		assert_non_null(json_string_value(json_object_get(k, "alg")));
	}
	for (size_t i = 0; i < ns; i++)
		if (strstr(out, secrets[i]))
			fail_msg("published JWKS contains private key material");
	/* the published set verifies what the keys sign */
	lk_jwks *pub = NULL;
	struct lk_errinfo ei;
	assert_rc(lk_jwks_parse(out, len, &pub, &ei), LK_OK);
	assert_int_equal(lk_jwks_count(pub), N - 2);
	for (size_t i = 0; i < N; i++) {
		char *t = NULL;
		assert_rc(lk_jws_sign(keys[i], NULL, "{}", 2, &t, NULL, &ei), LK_OK);
		enum lk_err rc = lkt_jws_verify(pub, t, strlen(t), 0, NULL, NULL);
		if (algs[i] == LK_ALG_HS256 || algs[i] == LK_ALG_HS512)
			assert_rc(rc, LK_ENO_KEY);
		else
			assert_rc(rc, LK_OK);
		free(t);
	}
	lk_jwks_free(pub);
	json_decref(o);
	free(out);

	/* a JWKS document with private keys: parsed, private parts dropped */
	char *pd = json_dumps(privdoc, JSON_COMPACT);
	lk_jwks *ps = NULL;
	assert_rc(lk_jwks_parse(pd, strlen(pd), &ps, &ei), LK_OK);
	assert_int_equal(lk_jwks_count(ps), N - 2);
	for (size_t i = 0; i < lk_jwks_count(ps); i++) {
		const lk_jwk *k = lk_jwks_get(ps, i);
		assert_non_null(k);
		assert_false(lk_jwk_is_private(k));
		char *t = (char *)0x1;
		assert_rc(lk_jws_sign(k, NULL, "{}", 2, &t, NULL, &ei), LK_ENO_PRIVATE);
		assert_null(t);
	}
	assert_rc(lk_jwks_to_json(ps, &out, NULL), LK_OK);
	for (size_t i = 0; i < ns; i++)
		if (strstr(out, secrets[i]))
			fail_msg("re-published JWKS contains private key material");
	free(out);
	lk_jwks_free(ps);
	free(pd);
	json_decref(privdoc);

	for (size_t i = 0; i < ns; i++)
		free(secrets[i]);
	lk_jwks_free(set);
	for (size_t i = 0; i < N; i++)
		lk_jwk_free(keys[i]);
}

/* Size limits: one JWK <= LK_MAX_JWK bytes, a JWKS <= LK_MAX_JWKS bytes and
 * LK_MAX_JWKS_KEYS keys, refused before parsing. */
static void test_limits(void **state)
{
	char *big = malloc(LK_MAX_JWK + 2);
	memset(big, ' ', LK_MAX_JWK + 1);
	const char *k = "{\"kty\":\"oct\",\"k\":\"" A1_K "\"}";
	memcpy(big, k, strlen(k));
	big[LK_MAX_JWK + 1] = '\0';
	assert_rc(parse(big, NULL), LK_ETOO_LARGE);
	big[LK_MAX_JWK] = '\0'; /* exactly the limit, trailing whitespace is fine */
	assert_rc(parse(big, NULL), LK_OK);
	free(big);

	lk_jwk *e = lkt_gen(LK_ALG_ES256, NULL);
	char *ej = NULL;
	assert_rc(lk_jwk_to_json(e, 0, &ej, NULL), LK_OK);
	for (int n = LK_MAX_JWKS_KEYS; n <= LK_MAX_JWKS_KEYS + 1; n++) {
		json_t *arr = json_array();
		for (int i = 0; i < n; i++) {
			json_t *one = loads(ej);
			char kid[16];
			snprintf(kid, sizeof kid, "k%d", i);
			json_object_set_new(one, "kid", json_string(kid));
			json_array_append_new(arr, one);
		}
		json_t *d = json_pack("{s:o}", "keys", arr);
		char *doc = json_dumps(d, JSON_COMPACT);
		json_decref(d);
		lk_jwks *s = NULL;
		struct lk_errinfo ei;
		enum lk_err rc = lk_jwks_parse(doc, strlen(doc), &s, &ei);
		if (n == LK_MAX_JWKS_KEYS) {
			assert_rc(rc, LK_OK);
			assert_int_equal(lk_jwks_count(s), LK_MAX_JWKS_KEYS);
		} else {
			assert_rc(rc, LK_ETOO_LARGE);
			assert_null(s);
		}
		lk_jwks_free(s);
		free(doc);
	}
	char *huge = malloc(LK_MAX_JWKS + 2);
	memset(huge, ' ', LK_MAX_JWKS + 1);
	memcpy(huge, "{\"keys\":[]}", 11);
	lk_jwks *s = NULL;
	struct lk_errinfo ei;
	assert_rc(lk_jwks_parse(huge, LK_MAX_JWKS + 1, &s, &ei), LK_ETOO_LARGE);
	assert_null(s);
	free(huge);
	free(ej);
	lk_jwk_free(e);
}

/* RFC 7518 §3.5: PS* uses a salt as long as the hash. A signature with another salt
 * length is not a PS256 signature, even though RSASSA-PSS could verify it. */
static void test_pss_salt_length(void **state)
{
	EVP_PKEY *pk = EVP_RSA_gen(2048);
	assert_non_null(pk);
	char *pj = lkt_pkey_jwk(pk, "pss");
	json_t *o = loads(pj);
	json_object_set_new(o, "alg", json_string("PS256"));
	char *pj2 = json_dumps(o, JSON_COMPACT);
	lk_jwk *k = lkt_jwk(pj2);
	lk_jwks *set = lkt_set1(k);
	char *h = lkt_b64e_str("{\"alg\":\"PS256\",\"kid\":\"pss\"}"), *p = lkt_b64e_str("{}");
	char *input = lkt_fmt("%s.%s", h, p);
	static const int salts[] = {RSA_PSS_SALTLEN_DIGEST, RSA_PSS_SALTLEN_MAX, 0, 20};
	for (size_t i = 0; i < sizeof salts / sizeof salts[0]; i++) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = NULL;
		assert_int_equal(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, pk), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salts[i]), 1);
		unsigned char sig[256];
		size_t sl = sizeof sig;
		assert_int_equal(EVP_DigestSign(ctx, sig, &sl, (const unsigned char *)input, strlen(input)), 1);
		EVP_MD_CTX_free(ctx);
		char *s = lkt_b64e(sig, sl);
		char *t = lkt_fmt("%s.%s", input, s);
		enum lk_err rc = lkt_jws_verify(set, t, strlen(t), 0, NULL, NULL);
		if (i == 0)
			assert_rc(rc, LK_OK);
		else if (rc != LK_EBAD_SIGNATURE)
			fail_msg("PS256 with salt mode %d: %s, want bad_signature", salts[i],
				 lk_err_str(rc));
		free(t);
		free(s);
	}
	free(input);
	free(h);
	free(p);
	lk_jwks_free(set);
	lk_jwk_free(k);
	free(pj2);
	json_decref(o);
	free(pj);
	EVP_PKEY_free(pk);
}

/* Algorithm names (RFC 7518 §3.1, RFC 8037 §3.1) are case-sensitive; "none" is not one. */
static void test_alg_names(void **state)
{
	static const char *names[] = {"HS256", "HS384", "HS512", "RS256", "RS384",
				      "RS512", "PS256", "PS384", "PS512", "ES256",
				      "ES384", "ES512", "EdDSA"};
	for (unsigned i = 0; i < 13; i++) {
		enum lk_alg a = (enum lk_alg)(1u << i);
		assert_str(lk_alg_name(a), names[i]);
		assert_int_equal(lk_alg_from_name(names[i], strlen(names[i])), a);
		/* the length bounds the name */
		char buf[16];
		snprintf(buf, sizeof buf, "%sX", names[i]);
		assert_int_equal(lk_alg_from_name(buf, strlen(names[i])), a);
		assert_int_equal(lk_alg_from_name(buf, strlen(buf)), LK_ALG_NONE);
	}
	assert_null(lk_alg_name(LK_ALG_NONE));
	assert_null(lk_alg_name((enum lk_alg)(LK_ALG_HS256 | LK_ALG_ES256)));
	assert_int_equal(lk_alg_from_name("none", 4), LK_ALG_NONE);
	assert_int_equal(lk_alg_from_name("hs256", 5), LK_ALG_NONE);
	assert_int_equal(lk_alg_from_name("EDDSA", 5), LK_ALG_NONE);
	assert_int_equal(lk_alg_from_name("Ed25519", 7), LK_ALG_NONE);
	assert_int_equal(lk_alg_from_name("", 0), LK_ALG_NONE);
	unsigned mask = 0;
	assert_rc(lk_alg_parse_list("ES256,EdDSA", &mask), LK_OK);
	assert_int_equal(mask, LK_ALG_ES256 | LK_ALG_EDDSA);
	assert_rc(lk_alg_parse_list("RS256", &mask), LK_OK);
	assert_int_equal(mask, LK_ALG_RS256);
	assert_rc(lk_alg_parse_list("ES256,foo", &mask), LK_EUNSUPPORTED);
	assert_rc(lk_alg_parse_list("none", &mask), LK_EUNSUPPORTED);
	assert_rc(lk_alg_parse_list("ES256,none", &mask), LK_EUNSUPPORTED);
}

/* References: a key lives as long as its last holder, sets included. */
static void test_refcount(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_ES256, "rc");
	assert_ptr_equal(lk_jwk_ref(k), k);
	lk_jwk_free(k);
	lk_jwks *s = lkt_set1(k);
	lk_jwk_free(k); /* the set still holds it */
	const lk_jwk *in = lk_jwks_get(s, 0);
	assert_non_null(in);
	assert_str(lk_jwk_kid(in), "rc");
	char *t = NULL;
	struct lk_errinfo ei;
	assert_rc(lk_jws_sign(in, NULL, "{}", 2, &t, NULL, &ei), LK_OK);
	assert_ptr_equal(lk_jwks_ref(s), s);
	lk_jwks_free(s);
	assert_rc(lkt_jws_verify(s, t, strlen(t), 0, NULL, NULL), LK_OK);
	lk_jwks_free(s);
	free(t);
	lk_jwk_free(NULL);
	lk_jwks_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_kty),
		cmocka_unit_test(test_generate_every_alg),
		cmocka_unit_test(test_rfc7638_thumbprint),
		cmocka_unit_test(test_bad_key_material),
		cmocka_unit_test(test_missing_members),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_key_use),
		cmocka_unit_test(test_jwks_bad_and_good),
		cmocka_unit_test(test_duplicate_members),
		cmocka_unit_test(test_jwks_public_only),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_pss_salt_length),
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_refcount),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
