/* SPDX-License-Identifier: MIT */
/*
 * test_rules.c: one test per verifier rule of SPEC.md ("Verifier rules"), each opening
 * with the attack it stops, in the manner of libjwt's tests/jwt_alg_downgrade.c.
 *
 * Hostile tokens are made by hand (testutil.h: own base64url, HMAC and signatures by
 * OpenSSL) so that each one is correctly signed and fails only for the rule under test;
 * where it helps, a control token made the same way but obeying the rule must pass, which
 * proves the negative is not failing for some other reason. Every lk_err seen goes through
 * lkt_check_err(): a known reason word, errinfo.code equal to it, no token text in detail.
 */
#include "testutil.h"

static const char CLAIMS[] = "{\"sub\":\"alice\",\"iat\":1700000000}";

static struct lk_verify_opts opts_now(void)
{
	struct lk_verify_opts o;
	memset(&o, 0, sizeof o);
	o.now = LKT_NOW;
	return o;
}

/* The decoded secret of an oct key. */
static uint8_t *secret_of(const lk_jwk *k, size_t *len) { return lkt_member(k, "k", len); }

/* An HS256 token with header h and payload p, MACed with the secret of oct key k. */
static char *hs_with(const lk_jwk *k, const char *h, const char *p)
{
	size_t sl;
	uint8_t *s = secret_of(k, &sl);
	char *t = lkt_hs_token(lk_alg_name(lk_jwk_alg(k)), s, sl, h, p, strlen(p));
	free(s);
	return t;
}

/* A token for claims signed by the library itself. */
static char *signed_by(const lk_jwk *k, const char *typ, const char *claims)
{
	char *tok = NULL;
	struct lk_errinfo ei;
	enum lk_err rc = lk_jws_sign(k, typ, claims, strlen(claims), &tok, NULL, &ei);
	if (rc != LK_OK)
		fail_msg("lk_jws_sign: %s (%s)", lk_err_str(rc), ei.detail);
	return tok;
}

/* ------------------------------------------------------------------------------------- */

/*
 * Rule: the algorithm comes from the key, never from the token.
 *
 * Attack (CVE-2015-9235 and friends, "RS256 -> HS256 key confusion"): the server verifies
 * RS256 tokens with an RSA public key, which is public. The attacker writes a token with
 * {"alg":"HS256"} and MACs it with the public key itself as HMAC secret: its PEM text,
 * its JWK JSON or the raw modulus bytes. A library that picks the algorithm from the
 * header feeds the public key to HMAC and accepts. Here every variant must fail with
 * alg_not_allowed or no_matching_key, never verify.
 */
static void test_alg_from_key_not_token(void **state)
{
	lk_jwk *rsa = lkt_gen(LK_ALG_RS256, "rsa1");
	char *pubjson = NULL;
	assert_rc(lk_jwk_to_json(rsa, 0, &pubjson, NULL), LK_OK);
	lk_jwk *pub = lkt_jwk(pubjson);
	lk_jwks *set = lkt_set1(pub);

	/* control: a genuine RS256 token verifies against this set */
	char *good = signed_by(rsa, NULL, CLAIMS);
	struct lk_verify_opts o = opts_now();
	assert_rc(lkt_jwt_verify(set, good, &o, NULL), LK_OK);

	/* the secrets an attacker can derive from the public key */
	size_t nlen;
	uint8_t *n = lkt_member(rsa, "n", &nlen);
	EVP_PKEY *pk = lkt_pkey_from_jwk(pubjson);
	BIO *bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PUBKEY(bio, pk), 1);
	char *pem = NULL;
	long pemlen = BIO_get_mem_data(bio, &pem);
	assert_true(pemlen > 0);
	struct {
		const uint8_t *s;
		size_t len;
	} secrets[] = {
		{(const uint8_t *)pubjson, strlen(pubjson)},
		{n, nlen},
		{(const uint8_t *)pem, (size_t)pemlen},
	};
	static const char *headers[] = {
		"{\"alg\":\"HS256\",\"kid\":\"rsa1\"}",
		"{\"alg\":\"HS256\"}",
		"{\"alg\":\"HS512\",\"kid\":\"rsa1\"}",
		"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"rsa1\"}",
	};
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
		for (size_t j = 0; j < sizeof headers / sizeof headers[0]; j++) {
			const char *alg = strstr(headers[j], "HS512") ? "HS512" : "HS256";
			char *t = lkt_hs_token(alg, secrets[i].s, secrets[i].len, headers[j],
					       CLAIMS, strlen(CLAIMS));
			assert_rc_in(lkt_jws_verify(set, t, strlen(t), 0, NULL, NULL),
				     LK_EALG_NOT_ALLOWED, LK_ENO_KEY);
			assert_rc_in(lkt_jws_verify(set, t, strlen(t), LK_ALG_ALL, NULL, NULL),
				     LK_EALG_NOT_ALLOWED, LK_ENO_KEY);
			assert_rc_in(lkt_jwt_verify(set, t, &o, NULL), LK_EALG_NOT_ALLOWED,
				     LK_ENO_KEY);
			free(t);
		}
	}

	/* the caller's allow-list narrows further: the genuine token is refused when RS256
	 * is not allowed */
	assert_rc(lkt_jws_verify(set, good, strlen(good), LK_ALG_ES256 | LK_ALG_EDDSA, NULL, NULL),
		  LK_EALG_NOT_ALLOWED);
	o.allow = LK_ALG_PS256;
	assert_rc(lkt_jwt_verify(set, good, &o, NULL), LK_EALG_NOT_ALLOWED);
	o.allow = LK_ALG_RS256;
	assert_rc(lkt_jwt_verify(set, good, &o, NULL), LK_OK);

	BIO_free(bio);
	EVP_PKEY_free(pk);
	free(n);
	free(good);
	free(pubjson);
	lk_jwks_free(set);
	lk_jwk_free(pub);
	lk_jwk_free(rsa);
}

/*
 * Rule: "none" never verifies.
 *
 * Attack: strip the signature and declare {"alg":"none"} (RFC 7515 Appendix A.5 is such a
 * token). Libraries that treat "none" as an algorithm like any other accept the forged
 * claims. Variants: the kid of a real key in the header, a leftover signature kept after
 * the second dot, an allow-list of everything, and "none" spelled in other cases.
 */
static void test_alg_none(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_HS256, "h1");
	lk_jwks *set = lkt_set1(k);
	struct lk_verify_opts o = opts_now();
	char *p = lkt_b64e_str(CLAIMS);

	static const char *hdrs[] = {
		"{\"alg\":\"none\"}",
		"{\"alg\":\"none\",\"kid\":\"h1\"}",
		"{\"alg\":\"none\",\"typ\":\"JWT\"}",
	};
	for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
		char *h = lkt_b64e_str(hdrs[i]);
		/* empty signature */
		char *t = lkt_fmt("%s.%s.", h, p);
		assert_rc(lkt_jws_verify(set, t, strlen(t), 0, NULL, NULL), LK_EALG_NONE);
		assert_rc(lkt_jws_verify(set, t, strlen(t), LK_ALG_ALL, NULL, NULL), LK_EALG_NONE);
		assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_EALG_NONE);
		free(t);
		/* with a signature: a real HS256 MAC over the same input */
		t = hs_with(k, hdrs[i], CLAIMS);
		assert_rc(lkt_jws_verify(set, t, strlen(t), 0, NULL, NULL), LK_EALG_NONE);
		assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_EALG_NONE);
		free(t);
		free(h);
	}
	/* other spellings are not algorithms we know either: never OK */
	static const char *odd[] = {"None", "NONE", "nOnE", "none ", ""};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		char *hj = lkt_fmt("{\"alg\":\"%s\",\"kid\":\"h1\"}", odd[i]);
		char *h = lkt_b64e_str(hj);
		char *t = lkt_fmt("%s.%s.", h, p);
		enum lk_err rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc == LK_OK)
			fail_msg("alg \"%s\" with no signature verified", odd[i]);
		free(t);
		t = hs_with(k, hj, CLAIMS);
		rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc == LK_OK)
			fail_msg("alg \"%s\" with an HMAC signature verified", odd[i]);
		free(t);
		free(h);
		free(hj);
	}
	/* no alg at all, or alg not a string: a header error, never OK */
	static const char *noalg[] = {"{\"kid\":\"h1\"}", "{\"alg\":null,\"kid\":\"h1\"}",
				      "{\"alg\":256,\"kid\":\"h1\"}", "{\"alg\":[\"HS256\"],\"kid\":\"h1\"}"};
	for (size_t i = 0; i < sizeof noalg / sizeof noalg[0]; i++) {
		char *t = hs_with(k, noalg[i], CLAIMS);
		assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_EHEADER);
		free(t);
	}
	/* control: the same key with a proper header verifies */
	char *t = hs_with(k, "{\"alg\":\"HS256\",\"kid\":\"h1\"}", CLAIMS);
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
	free(t);
	free(p);
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule: a key of the wrong type never verifies.
 *
 * Attack: the token names the kid of a real key but an algorithm of another family or
 * curve (ES256 token for an ES384 key, EdDSA for an EC key, HS256 for an EC key, RS256
 * for an Ed25519 key). A library that selects the key by kid and the algorithm by header
 * ends up running the wrong primitive on the key: at best an error, at worst a forgery.
 */
static void test_wrong_key_type(void **state)
{
	static const struct {
		enum lk_alg key, token;
	} cases[] = {
		{LK_ALG_ES384, LK_ALG_ES256}, {LK_ALG_ES256, LK_ALG_ES512},
		{LK_ALG_ES256, LK_ALG_EDDSA}, {LK_ALG_EDDSA, LK_ALG_ES256},
		{LK_ALG_ES256, LK_ALG_HS256}, {LK_ALG_EDDSA, LK_ALG_RS256},
		{LK_ALG_RS256, LK_ALG_ES256}, {LK_ALG_HS256, LK_ALG_EDDSA},
		{LK_ALG_HS256, LK_ALG_HS512}, {LK_ALG_PS256, LK_ALG_RS256},
	};
	struct lk_verify_opts o = opts_now();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		lk_jwk *victim = lkt_gen(cases[i].key, "k1");
		lk_jwk *attacker = lkt_gen(cases[i].token, "k1");
		lk_jwks *set = lkt_set1(victim);
		char *t = signed_by(attacker, NULL, CLAIMS);
		enum lk_err rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc != LK_EALG_NOT_ALLOWED && rc != LK_ENO_KEY)
			fail_msg("%s token for a %s key: %s, want alg_not_allowed or "
				 "no_matching_key", lk_alg_name(cases[i].token),
				 lk_alg_name(cases[i].key), lk_err_str(rc));
		rc = lkt_jws_verify(set, t, strlen(t), LK_ALG_ALL, NULL, NULL);
		if (rc != LK_EALG_NOT_ALLOWED && rc != LK_ENO_KEY)
			fail_msg("jws: %s token for a %s key: %s", lk_alg_name(cases[i].token),
				 lk_alg_name(cases[i].key), lk_err_str(rc));
		/* control: the attacker's token verifies against the attacker's own key */
		lk_jwks *own = lkt_set1(attacker);
		assert_rc(lkt_jwt_verify(own, t, &o, NULL), LK_OK);
		lk_jwks_free(own);
		free(t);
		lk_jwks_free(set);
		lk_jwk_free(victim);
		lk_jwk_free(attacker);
	}
}

/*
 * Rule: weak keys never verify (RSA < 2048 bits, HMAC secret shorter than the hash).
 *
 * Attack: a 1024-bit RSA modulus is within reach of well-funded factoring, and a 16-byte
 * HMAC secret halves the security HS256 promises; a JWKS that slips such a key in (or an
 * operator who configures one) quietly weakens every token. Parsing refuses the key; in a
 * JWKS the key is kept but unusable, so a token naming its kid fails with weak_key even
 * though its signature is mathematically valid, while the good key next to it still works.
 */
static void test_weak_keys(void **state)
{
	/* RSA 1024 as a JWK: refused by lk_jwk_parse */
	EVP_PKEY *weak = EVP_RSA_gen(1024);
	assert_non_null(weak);
	char *wjson = lkt_pkey_jwk(weak, "weak");
	lk_jwk *k = (lk_jwk *)0x1;
	struct lk_errinfo ei;
	assert_rc(lk_jwk_parse(wjson, strlen(wjson), &k, &ei), LK_EWEAK_KEY);
	assert_null(k);
	lkt_check_err(LK_EWEAK_KEY, &ei, NULL, 0);

	/* in a JWKS next to a good key: the set parses, the weak key is unusable */
	lk_jwk *good = lkt_gen(LK_ALG_ES256, "good");
	char *gjson = NULL;
	assert_rc(lk_jwk_to_json(good, 0, &gjson, NULL), LK_OK);
	char *doc = lkt_fmt("{\"keys\":[%s,%s]}", wjson, gjson);
	lk_jwks *set = NULL;
	assert_rc(lk_jwks_parse(doc, strlen(doc), &set, &ei), LK_OK);
	assert_int_equal(lk_jwks_count(set), 2);
	assert_null(lk_jwks_get(set, 0));
	assert_non_null(lk_jwks_get(set, 1));

	/* a correctly signed RS256 token by the weak key, naming its kid */
	char *t = lkt_pkey_token(weak, "RS256", "{\"alg\":\"RS256\",\"kid\":\"weak\"}", CLAIMS,
				 strlen(CLAIMS));
	assert_int_equal(lkt_pkey_verify(weak, "RS256", t), 1); /* it is a valid signature */
	struct lk_verify_opts o = opts_now();
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_EWEAK_KEY);
	assert_rc(lkt_jws_verify(set, t, strlen(t), 0, NULL, NULL), LK_EWEAK_KEY);
	free(t);
	/* the good key in the same set still verifies */
	t = signed_by(good, NULL, CLAIMS);
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
	free(t);

	/* HMAC: 16 and 31 bytes with alg HS256 are weak, 32 is enough; HS512 needs 64 */
	static const struct {
		const char *alg;
		size_t len;
		enum lk_err want;
	} oct[] = {
		{"HS256", 16, LK_EWEAK_KEY}, {"HS256", 31, LK_EWEAK_KEY}, {"HS256", 32, LK_OK},
		{"HS384", 47, LK_EWEAK_KEY}, {"HS384", 48, LK_OK},        {"HS512", 32, LK_EWEAK_KEY},
		{"HS512", 63, LK_EWEAK_KEY}, {"HS512", 64, LK_OK},
	};
	uint8_t secret[64];
	for (size_t i = 0; i < sizeof secret; i++)
		secret[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof oct / sizeof oct[0]; i++) {
		char *kb = lkt_b64e(secret, oct[i].len);
		char *js = lkt_fmt("{\"kty\":\"oct\",\"alg\":\"%s\",\"kid\":\"o\",\"k\":\"%s\"}",
				   oct[i].alg, kb);
		lk_jwk *ok = NULL;
		enum lk_err rc = lk_jwk_parse(js, strlen(js), &ok, &ei);
		if (rc != oct[i].want)
			fail_msg("oct %s with %zu bytes: %s, want %s", oct[i].alg, oct[i].len,
				 lk_err_str(rc), lk_err_str(oct[i].want));
		lk_jwk_free(ok);
		free(js);
		free(kb);
	}
	/* an oct key without "alg": a 16-byte secret is too short for any HS alg */
	char *kb = lkt_b64e(secret, 16);
	char *js = lkt_fmt("{\"kty\":\"oct\",\"k\":\"%s\"}", kb);
	lk_jwk *ok = NULL;
	assert_rc(lk_jwk_parse(js, strlen(js), &ok, &ei), LK_EWEAK_KEY);
	free(js);
	free(kb);
	/* an oct key of 32 bytes without "alg" must not verify HS512 (a 64-byte hash) */
	kb = lkt_b64e(secret, 32);
	js = lkt_fmt("{\"kty\":\"oct\",\"kid\":\"o32\",\"k\":\"%s\"}", kb);
	ok = lkt_jwk(js);
	lk_jwks *oset = lkt_set1(ok);
	t = lkt_hs_token("HS512", secret, 32, "{\"alg\":\"HS512\",\"kid\":\"o32\"}", CLAIMS,
			 strlen(CLAIMS));
	assert_rc_in(lkt_jwt_verify(oset, t, &o, NULL), LK_EWEAK_KEY, LK_EALG_NOT_ALLOWED);
	free(t);
	t = lkt_hs_token("HS256", secret, 32, "{\"alg\":\"HS256\",\"kid\":\"o32\"}", CLAIMS,
			 strlen(CLAIMS));
	assert_rc(lkt_jwt_verify(oset, t, &o, NULL), LK_OK); /* control */
	free(t);
	lk_jwks_free(oset);
	lk_jwk_free(ok);
	free(js);
	free(kb);

	free(doc);
	free(gjson);
	free(wjson);
	lk_jwks_free(set);
	lk_jwk_free(good);
	EVP_PKEY_free(weak);
}

/*
 * Rule: jwk, jku, x5u and x5c headers are never trusted.
 *
 * Attack (CVE-2018-0114 in node-jose, and others): the attacker signs with a key of their
 * own and ships its public half in the token's "jwk" header, or points "jku"/"x5u" at a
 * URL they control, or embeds a certificate in "x5c". A library that takes the key from
 * the token verifies the attacker's signature with the attacker's key. Here the set holds
 * the real key "real"; each forged token names that kid and carries the attacker's key.
 */
static void test_embedded_keys_not_trusted(void **state)
{
	EVP_PKEY *atk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(atk);
	char *atk_jwk = lkt_pkey_jwk(atk, NULL);
	char *atk_jwk_kid = lkt_pkey_jwk(atk, "real");
	lk_jwk *real = lkt_gen(LK_ALG_EDDSA, "real");
	lk_jwks *set = lkt_pubset(real);
	struct lk_verify_opts o = opts_now();

	/* control: the hand-made signing is sound — the same attacker token without any
	 * embedded key verifies against a set that really holds the attacker's key */
	lk_jwk *atk_k = lkt_jwk(atk_jwk_kid);
	lk_jwks *atk_set = lkt_set1(atk_k);
	char *ctl = lkt_pkey_token(atk, "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":\"real\"}", CLAIMS,
				   strlen(CLAIMS));
	assert_rc(lkt_jwt_verify(atk_set, ctl, &o, NULL), LK_OK);
	/* and the real set refuses it */
	assert_rc(lkt_jwt_verify(set, ctl, &o, NULL), LK_EBAD_SIGNATURE);

	char *hdrs[] = {
		lkt_fmt("{\"alg\":\"EdDSA\",\"kid\":\"real\",\"jwk\":%s}", atk_jwk),
		lkt_fmt("{\"alg\":\"EdDSA\",\"jwk\":%s}", atk_jwk),
		lkt_fmt("{\"alg\":\"EdDSA\",\"jwk\":%s}", atk_jwk_kid),
		lkt_fmt("{\"alg\":\"EdDSA\",\"kid\":\"real\",\"jku\":\"https://attacker.example/jwks.json\"}"),
		lkt_fmt("{\"alg\":\"EdDSA\",\"jku\":\"https://attacker.example/jwks.json\"}"),
		lkt_fmt("{\"alg\":\"EdDSA\",\"kid\":\"real\",\"x5u\":\"https://attacker.example/cert.pem\"}"),
		lkt_fmt("{\"alg\":\"EdDSA\",\"kid\":\"real\",\"x5c\":[\"MIIBszCCAVmgAwIBAgIUU\"]}"),
		lkt_fmt("{\"alg\":\"EdDSA\",\"x5c\":[\"MIIBszCCAVmgAwIBAgIUU\"]}"),
	};
	for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
		char *t = lkt_pkey_token(atk, "EdDSA", hdrs[i], CLAIMS, strlen(CLAIMS));
		enum lk_err rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc == LK_OK)
			fail_msg("token signed by an embedded/remote key verified (header %zu)", i);
		assert_rc_in(rc, LK_EBAD_SIGNATURE, LK_EHEADER, LK_ENO_KEY);
		rc = lkt_jws_verify(set, t, strlen(t), 0, NULL, NULL);
		if (rc == LK_OK)
			fail_msg("jws: token signed by an embedded/remote key verified (header %zu)", i);
		free(t);
		free(hdrs[i]);
	}
	/* HMAC flavour: an oct key embedded in the header, the set holds a different one */
	lk_jwk *hk = lkt_gen(LK_ALG_HS256, "hk");
	lk_jwks *hset = lkt_set1(hk);
	uint8_t mine[32];
	memset(mine, 'A', sizeof mine);
	char *mk = lkt_b64e(mine, sizeof mine);
	char *hh = lkt_fmt("{\"alg\":\"HS256\",\"kid\":\"hk\",\"jwk\":{\"kty\":\"oct\",\"k\":\"%s\"}}", mk);
	char *t = lkt_hs_token("HS256", mine, sizeof mine, hh, CLAIMS, strlen(CLAIMS));
	assert_rc_in(lkt_jwt_verify(hset, t, &o, NULL), LK_EBAD_SIGNATURE, LK_EHEADER);
	free(t);
	free(hh);
	free(mk);

	lk_jwks_free(hset);
	lk_jwk_free(hk);
	free(ctl);
	lk_jwks_free(atk_set);
	lk_jwk_free(atk_k);
	lk_jwks_free(set);
	lk_jwk_free(real);
	free(atk_jwk_kid);
	free(atk_jwk);
	EVP_PKEY_free(atk);
}

/*
 * Rule: unknown crit entries fail.
 *
 * Attack: RFC 7515 §4.1.11 lets a signer mark header extensions as critical: a recipient
 * that does not understand one MUST reject the token. An issuer may, say, bind a token to
 * a channel with a critical extension; a verifier that ignores "crit" accepts the token
 * outside that channel. Also refused: an empty crit list and crit naming a registered
 * header (both forbidden by §4.1.11), and crit that is not an array of strings.
 */
static void test_unknown_crit(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_HS256, "h1");
	lk_jwks *set = lkt_set1(k);
	struct lk_verify_opts o = opts_now();

	char *t = hs_with(k, "{\"alg\":\"HS256\",\"kid\":\"h1\",\"crit\":[\"exp-ext\"],\"exp-ext\":1}", CLAIMS);
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_ECRIT);
	assert_rc(lkt_jws_verify(set, t, strlen(t), 0, NULL, NULL), LK_ECRIT);
	free(t);
	/* crit naming an extension that is not even present */
	t = hs_with(k, "{\"alg\":\"HS256\",\"kid\":\"h1\",\"crit\":[\"http://example.invalid/ext\"]}", CLAIMS);
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_ECRIT);
	free(t);
	/* b64 (RFC 7797) is not implemented, so it is unknown here too */
	t = hs_with(k, "{\"alg\":\"HS256\",\"kid\":\"h1\",\"b64\":false,\"crit\":[\"b64\"]}", CLAIMS);
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_ECRIT);
	free(t);
	/* one known-looking and one unknown entry */
	t = hs_with(k, "{\"alg\":\"HS256\",\"kid\":\"h1\",\"crit\":[\"exp\",\"zzz\"],\"zzz\":1}", CLAIMS);
	assert_rc_in(lkt_jwt_verify(set, t, &o, NULL), LK_ECRIT, LK_EHEADER);
	free(t);
	/* malformed crit: never OK */
	static const char *bad[] = {
		"{\"alg\":\"HS256\",\"kid\":\"h1\",\"crit\":[]}",
		"{\"alg\":\"HS256\",\"kid\":\"h1\",\"crit\":\"exp-ext\",\"exp-ext\":1}",
		"{\"alg\":\"HS256\",\"kid\":\"h1\",\"crit\":[1]}",
		"{\"alg\":\"HS256\",\"kid\":\"h1\",\"crit\":null}",
		"{\"alg\":\"HS256\",\"kid\":\"h1\",\"crit\":[\"alg\"]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t = hs_with(k, bad[i], CLAIMS);
		assert_rc_in(lkt_jwt_verify(set, t, &o, NULL), LK_ECRIT, LK_EHEADER);
		free(t);
	}
	/* control */
	t = hs_with(k, "{\"alg\":\"HS256\",\"kid\":\"h1\",\"exp-ext\":1}", CLAIMS);
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
	free(t);
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule: exp is checked with a small leeway (default 60 s).
 *
 * Attack: replay of a stolen token after it expired. Clock skew between issuer and
 * verifier is tolerated only up to the leeway: exp + leeway <= now is expired.
 */
static void test_exp(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_ES256, "e1");
	lk_jwks *set = lkt_pubset(k);
	static const struct {
		int64_t exp_off, leeway;
		enum lk_err want;
	} cases[] = {
		{-61, 0, LK_EEXPIRED},   {-3600, 0, LK_EEXPIRED}, {-60, 0, LK_EEXPIRED},
		{-59, 0, LK_OK},         {-30, 0, LK_OK},         {3600, 0, LK_OK},
		{-1, -1, LK_EEXPIRED},   {0, -1, LK_EEXPIRED},    {1, -1, LK_OK},
		{-11, 10, LK_EEXPIRED},  {-9, 10, LK_OK},         {-3600, 7200, LK_OK},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *c = lkt_fmt("{\"sub\":\"a\",\"exp\":%lld}", (long long)(LKT_NOW + cases[i].exp_off));
		char *t = signed_by(k, NULL, c);
		struct lk_verify_opts o = opts_now();
		o.leeway = cases[i].leeway;
		lk_jwt *jwt = NULL;
		enum lk_err rc = lkt_jwt_verify(set, t, &o, &jwt);
		if (rc != cases[i].want)
			fail_msg("exp now%+lld leeway %lld: %s, want %s", (long long)cases[i].exp_off,
				 (long long)cases[i].leeway, lk_err_str(rc), lk_err_str(cases[i].want));
		if (jwt)
			assert_true(lk_jwt_exp(jwt) == LKT_NOW + cases[i].exp_off);
		lk_jwt_free(jwt);
		free(t);
		free(c);
	}
	/* with the real clock (now = 0): a token that expired in 2011 is expired */
	char *t = signed_by(k, NULL, "{\"exp\":1300819380}");
	struct lk_verify_opts o;
	memset(&o, 0, sizeof o);
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_EEXPIRED);
	free(t);
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule: nbf is checked with the same leeway.
 *
 * Attack: a token minted ahead of time (post-dated, e.g. for a scheduled job) used before
 * its start. nbf - leeway > now is not yet valid.
 */
static void test_nbf(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_EDDSA, "n1");
	lk_jwks *set = lkt_pubset(k);
	static const struct {
		int64_t off, leeway;
		enum lk_err want;
	} cases[] = {
		{61, 0, LK_ENOT_YET_VALID}, {3600, 0, LK_ENOT_YET_VALID}, {60, 0, LK_OK},
		{30, 0, LK_OK},             {-3600, 0, LK_OK},            {1, -1, LK_ENOT_YET_VALID},
		{0, -1, LK_OK},             {11, 10, LK_ENOT_YET_VALID},  {10, 10, LK_OK},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *c = lkt_fmt("{\"sub\":\"a\",\"nbf\":%lld}", (long long)(LKT_NOW + cases[i].off));
		char *t = signed_by(k, NULL, c);
		struct lk_verify_opts o = opts_now();
		o.leeway = cases[i].leeway;
		lk_jwt *jwt = NULL;
		enum lk_err rc = lkt_jwt_verify(set, t, &o, &jwt);
		if (rc != cases[i].want)
			fail_msg("nbf now%+lld leeway %lld: %s, want %s", (long long)cases[i].off,
				 (long long)cases[i].leeway, lk_err_str(rc), lk_err_str(cases[i].want));
		if (jwt)
			assert_true(lk_jwt_nbf(jwt) == LKT_NOW + cases[i].off);
		lk_jwt_free(jwt);
		free(t);
		free(c);
	}
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule: iat may not lie in the future beyond the leeway.
 *
 * Attack: a token "issued" far in the future is a sign of a forged or mis-clocked issuer,
 * and defeats max-age policies computed from iat. iat - leeway > now is refused.
 */
static void test_iat_future(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_HS256, "i1");
	lk_jwks *set = lkt_set1(k);
	static const struct {
		int64_t off;
		enum lk_err want;
	} cases[] = {
		{3600, LK_EIAT_FUTURE}, {86400 * 365, LK_EIAT_FUTURE}, {61, LK_EIAT_FUTURE},
		{60, LK_OK},            {30, LK_OK},                   {-86400, LK_OK},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *c = lkt_fmt("{\"sub\":\"a\",\"iat\":%lld}", (long long)(LKT_NOW + cases[i].off));
		char *t = signed_by(k, NULL, c);
		struct lk_verify_opts o = opts_now();
		lk_jwt *jwt = NULL;
		enum lk_err rc = lkt_jwt_verify(set, t, &o, &jwt);
		if (rc != cases[i].want)
			fail_msg("iat now%+lld: %s, want %s", (long long)cases[i].off, lk_err_str(rc),
				 lk_err_str(cases[i].want));
		if (jwt)
			assert_true(lk_jwt_iat(jwt) == LKT_NOW + cases[i].off);
		lk_jwt_free(jwt);
		free(t);
		free(c);
	}
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule: iss is checked when configured.
 *
 * Attack: a token from another issuer that shares the verifier's key set (a multi-tenant
 * IdP, a staging issuer) is replayed against production. With opts.iss set the claim must
 * be exactly it: no prefix match, no case folding, and absent is a failure.
 */
static void test_iss(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_ES256, NULL);
	lk_jwks *set = lkt_pubset(k);
	static const struct {
		const char *claims;
		enum lk_err want;
	} cases[] = {
		{"{\"iss\":\"https://issuer.example\"}", LK_OK},
		{"{\"iss\":\"https://evil.example\"}", LK_EISSUER},
		{"{\"iss\":\"https://issuer.example.evil\"}", LK_EISSUER},
		{"{\"iss\":\"https://issuer.exampl\"}", LK_EISSUER},
		{"{\"iss\":\"HTTPS://ISSUER.EXAMPLE\"}", LK_EISSUER},
		{"{\"iss\":\"https://issuer.example/\"}", LK_EISSUER},
		{"{\"iss\":\"\"}", LK_EISSUER},
		{"{\"sub\":\"a\"}", LK_EISSUER},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *t = signed_by(k, NULL, cases[i].claims);
		struct lk_verify_opts o = opts_now();
		o.iss = "https://issuer.example";
		enum lk_err rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc != cases[i].want)
			fail_msg("%s: %s, want %s", cases[i].claims, lk_err_str(rc),
				 lk_err_str(cases[i].want));
		/* without opts.iss any issuer passes */
		o.iss = NULL;
		assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
		free(t);
	}
	/* an iss with an embedded NUL must not match by C-string prefix */
	char *t = signed_by(k, NULL, "{\"iss\":\"https://issuer.example\\u0000.evil\"}");
	struct lk_verify_opts o = opts_now();
	o.iss = "https://issuer.example";
	assert_rc_in(lkt_jwt_verify(set, t, &o, NULL), LK_EISSUER, LK_ECLAIM_TYPE, LK_EJSON);
	free(t);
	/* iss of the wrong type */
	t = signed_by(k, NULL, "{\"iss\":42}");
	assert_rc_in(lkt_jwt_verify(set, t, &o, NULL), LK_ECLAIM_TYPE, LK_EISSUER);
	free(t);
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule: aud is checked when configured, as a string or an array of strings.
 *
 * Attack: a token minted for one service (aud "billing") is replayed to another
 * ("admin") that trusts the same issuer. The configured audience must equal the string,
 * or one element of the array; absent, empty, substring or wrong-type audiences fail.
 */
static void test_aud(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_EDDSA, NULL);
	lk_jwks *set = lkt_pubset(k);
	static const struct {
		const char *claims;
		enum lk_err want;
	} cases[] = {
		{"{\"aud\":\"api\"}", LK_OK},
		{"{\"aud\":[\"api\"]}", LK_OK},
		{"{\"aud\":[\"other\",\"api\"]}", LK_OK},
		{"{\"aud\":\"other\"}", LK_EAUDIENCE},
		{"{\"aud\":\"api2\"}", LK_EAUDIENCE},
		{"{\"aud\":\"ap\"}", LK_EAUDIENCE},
		{"{\"aud\":\"API\"}", LK_EAUDIENCE},
		{"{\"aud\":\"other api\"}", LK_EAUDIENCE},
		{"{\"aud\":[\"other\",\"api2\"]}", LK_EAUDIENCE},
		{"{\"aud\":[]}", LK_EAUDIENCE},
		{"{\"aud\":\"\"}", LK_EAUDIENCE},
		{"{\"sub\":\"a\"}", LK_EAUDIENCE},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *t = signed_by(k, NULL, cases[i].claims);
		struct lk_verify_opts o = opts_now();
		o.aud = "api";
		enum lk_err rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc != cases[i].want)
			fail_msg("%s: %s, want %s", cases[i].claims, lk_err_str(rc),
				 lk_err_str(cases[i].want));
		o.aud = NULL;
		assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
		free(t);
	}
	/* wrong types: a number, an array holding a non-string */
	static const char *typed[] = {"{\"aud\":7}", "{\"aud\":[\"api\",7]}", "{\"aud\":{\"x\":\"api\"}}",
				      "{\"aud\":true}"};
	for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++) {
		char *t = signed_by(k, NULL, typed[i]);
		struct lk_verify_opts o = opts_now();
		o.aud = "api";
		enum lk_err rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc != LK_ECLAIM_TYPE && rc != LK_EAUDIENCE)
			fail_msg("%s: %s, want bad_claim or bad_audience", typed[i], lk_err_str(rc));
		/* the type is wrong even when no audience is configured */
		o.aud = NULL;
		assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_ECLAIM_TYPE);
		free(t);
	}
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule: required claims must be present.
 *
 * Attack: a token without exp never expires; one without jti cannot be revoked by jti;
 * one without sub authenticates nobody in particular. A verifier that only checks claims
 * when present accepts all of them. Each LK_REQ_* bit makes its claim mandatory.
 */
static void test_required_claims(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_HS384, "r1");
	lk_jwks *set = lkt_set1(k);
	static const struct {
		unsigned bit;
		const char *name, *value;
	} req[] = {
		{LK_REQ_EXP, "exp", "1700003600"}, {LK_REQ_IAT, "iat", "1699999000"},
		{LK_REQ_NBF, "nbf", "1699999000"}, {LK_REQ_SUB, "sub", "\"alice\""},
		{LK_REQ_JTI, "jti", "\"j-1\""},    {LK_REQ_ISS, "iss", "\"https://i.example\""},
		{LK_REQ_AUD, "aud", "\"api\""},
	};
	const size_t n = sizeof req / sizeof req[0];
	/* the full set of claims */
	char full[512] = "{";
	for (size_t i = 0; i < n; i++) {
		char m[80];
		snprintf(m, sizeof m, "%s\"%s\":%s", i ? "," : "", req[i].name, req[i].value);
		strcat(full, m);
	}
	strcat(full, "}");
	unsigned all = 0;
	for (size_t i = 0; i < n; i++)
		all |= req[i].bit;
	char *t = signed_by(k, NULL, full);
	struct lk_verify_opts o = opts_now();
	o.require = all;
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
	free(t);
	/* drop one claim at a time */
	for (size_t skip = 0; skip < n; skip++) {
		char c[512] = "{";
		int first = 1;
		for (size_t i = 0; i < n; i++) {
			if (i == skip)
				continue;
			char m[80];
			snprintf(m, sizeof m, "%s\"%s\":%s", first ? "" : ",", req[i].name, req[i].value);
			strcat(c, m);
			first = 0;
		}
		strcat(c, "}");
		t = signed_by(k, NULL, c);
		o = opts_now();
		o.require = req[skip].bit;
		enum lk_err rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc != LK_EMISSING_CLAIM)
			fail_msg("missing %s with its LK_REQ bit: %s", req[skip].name, lk_err_str(rc));
		o.require = all;
		assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_EMISSING_CLAIM);
		/* every other requirement is satisfied */
		o.require = all & ~req[skip].bit;
		assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
		free(t);
	}
	/* a claim set with nothing at all */
	t = signed_by(k, NULL, "{}");
	o = opts_now();
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
	o.require = LK_REQ_EXP;
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_EMISSING_CLAIM);
	free(t);
	/* null is not presence */
	t = signed_by(k, NULL, "{\"exp\":null}");
	assert_rc_in(lkt_jwt_verify(set, t, &o, NULL), LK_EMISSING_CLAIM, LK_ECLAIM_TYPE);
	free(t);
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule: registered claims must have their JSON type (RFC 7519 §4.1).
 *
 * Attack: {"exp":"9999999999"} or {"exp":"never"}: a verifier that only compares numbers
 * skips the string and never expires the token; one that converts with atoi reads
 * whatever it likes. A wrong type is bad_claim, whether or not a check is configured.
 */
static void test_claim_types(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_ES384, "t1");
	lk_jwks *set = lkt_pubset(k);
	static const char *bad[] = {
		"{\"exp\":\"1700003600\"}", "{\"exp\":\"never\"}", "{\"exp\":true}",
		"{\"exp\":[1700003600]}",   "{\"exp\":{}}",        "{\"nbf\":\"1699999000\"}",
		"{\"iat\":\"1699999000\"}", "{\"iat\":false}",     "{\"sub\":42}",
		"{\"sub\":[\"alice\"]}",    "{\"jti\":7}",         "{\"iss\":{}}",
		"{\"aud\":12}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *t = signed_by(k, NULL, bad[i]);
		struct lk_verify_opts o = opts_now();
		enum lk_err rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc != LK_ECLAIM_TYPE)
			fail_msg("%s: %s, want bad_claim", bad[i], lk_err_str(rc));
		free(t);
	}
	/* the right types pass, and are read back */
	char *t = signed_by(k, NULL, "{\"exp\":1700003600,\"nbf\":1699999000,\"iat\":1699999000,"
				     "\"sub\":\"alice\",\"jti\":\"j\",\"iss\":\"i\",\"aud\":[\"a\"],"
				     "\"custom\":\"v\",\"n\":{\"exp\":\"nested is not a claim\"}}");
	struct lk_verify_opts o = opts_now();
	lk_jwt *jwt = NULL;
	assert_rc(lkt_jwt_verify(set, t, &o, &jwt), LK_OK);
	assert_true(lk_jwt_exp(jwt) == 1700003600);
	assert_true(lk_jwt_nbf(jwt) == 1699999000);
	assert_true(lk_jwt_iat(jwt) == 1699999000);
	assert_str(lk_jwt_claim_str(jwt, "sub"), "alice");
	assert_str(lk_jwt_claim_str(jwt, "jti"), "j");
	assert_str(lk_jwt_claim_str(jwt, "iss"), "i");
	/* lk_jwt_claim_str serves only the fixed set; any other claim via claim_dup/raw */
	assert_null(lk_jwt_claim_str(jwt, "custom"));
	char *custom = lk_jwt_claim_dup(jwt, "custom");
	assert_str(custom, "v");
	free(custom);
	size_t rawlen = 0;
	const char *raw = lk_jwt_claim_raw(jwt, "aud", &rawlen);
	assert_non_null(raw);
	assert_int_equal(rawlen, 5);
	assert_memory_equal(raw, "[\"a\"]", 5);
	assert_null(lk_jwt_claim_str(jwt, "aud"));
	assert_null(lk_jwt_claim_str(jwt, "exp"));
	assert_null(lk_jwt_claim_str(jwt, "nothere"));
	assert_str(lk_jwt_kid(jwt), "t1");
	assert_int_equal(lk_jwt_alg(jwt), LK_ALG_ES384);
	lk_jwt_free(jwt);
	free(t);
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule: typ is checked when configured (RFC 9068 §4, RFC 8725 §3.11).
 *
 * Attack: cross-JWT confusion. An ID token, a logout token or any other JWT signed by the
 * same issuer key is presented where an access token is expected. Access tokens say
 * {"typ":"at+jwt"}; with opts.typ = "at+jwt" anything else fails. The comparison is
 * case-insensitive and the "application/" prefix is optional (RFC 7515 §4.1.9).
 */
static void test_typ(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_ES256, "ty");
	lk_jwks *set = lkt_pubset(k);
	static const struct {
		const char *typ; /* NULL: absent */
		enum lk_err want;
	} cases[] = {
		{"at+jwt", LK_OK},
		{"application/at+jwt", LK_OK},
		{"AT+JWT", LK_OK},
		{"Application/At+Jwt", LK_OK},
		{"JWT", LK_ETYP},
		{"jwt", LK_ETYP},
		{"application/jwt", LK_ETYP},
		{"logout+jwt", LK_ETYP},
		{"at+jwt2", LK_ETYP},
		{"xat+jwt", LK_ETYP},
		{"application/application/at+jwt", LK_ETYP},
		{"", LK_ETYP},
		{NULL, LK_ETYP},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *t = signed_by(k, cases[i].typ, CLAIMS);
		struct lk_verify_opts o = opts_now();
		o.typ = "at+jwt";
		enum lk_err rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc != cases[i].want)
			fail_msg("typ %s%s%s: %s, want %s", cases[i].typ ? "\"" : "",
				 cases[i].typ ? cases[i].typ : "absent", cases[i].typ ? "\"" : "",
				 lk_err_str(rc), lk_err_str(cases[i].want));
		o.typ = NULL;
		assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
		free(t);
	}
	/* a configured "application/at+jwt" accepts the short form too */
	char *t = signed_by(k, "at+jwt", CLAIMS);
	struct lk_verify_opts o = opts_now();
	o.typ = "application/at+jwt";
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
	free(t);
	/* typ that is not a string is a header error */
	lk_jwk *hk = lkt_gen(LK_ALG_HS256, "hk");
	lk_jwks *hset = lkt_set1(hk);
	t = hs_with(hk, "{\"alg\":\"HS256\",\"kid\":\"hk\",\"typ\":7}", CLAIMS);
	o.typ = "at+jwt";
	assert_rc_in(lkt_jwt_verify(hset, t, &o, NULL), LK_EHEADER, LK_ETYP);
	o.typ = NULL;
	assert_rc(lkt_jwt_verify(hset, t, &o, NULL), LK_EHEADER);
	free(t);
	lk_jwks_free(hset);
	lk_jwk_free(hk);
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/* Replace the last character of the b64 text s (length n, n % 4 in {2,3}) by the one that
 * sets the lowest unused bit, keeping the decoded bytes the same for a lenient decoder. */
static void set_trailing_bit(char *s, size_t n)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	assert_true(n % 4 == 2 || n % 4 == 3);
	int v = (int)(strchr(al, s[n - 1]) - al);
	assert_int_equal(v & (n % 4 == 2 ? 15 : 3), 0); /* canonical to begin with */
	s[n - 1] = al[v | 1];
}

/* Replace the first '-' or '_' by '+' or '/' (standard alphabet, same bits), or else the
 * middle character by '+'. */
static void to_std_alphabet(char *s)
{
	for (char *c = s; *c; c++) {
		if (*c == '-') {
			*c = '+';
			return;
		}
		if (*c == '_') {
			*c = '/';
			return;
		}
	}
	s[strlen(s) / 2] = '+';
}

/*
 * Rule: base64url is strict: no padding, no stray bits, url alphabet only.
 *
 * Attack: the signature covers the base64url text. A lenient decoder gives a byte string
 * many spellings, so a signed token can be re-spelled ("malleability": a new token id for
 * the same signature defeats replay caches and denylists keyed on the token text), and two
 * parsers that accept different spellings disagree on what a token says. Each hostile
 * spelling here is correctly MACed over its own text, so only strictness can refuse it:
 * padding '=', the standard alphabet '+' '/', non-zero trailing bits, whitespace, in each
 * of the three parts.
 */
static void test_strict_base64url(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_HS256, "b6");
	lk_jwks *set = lkt_set1(k);
	size_t sl;
	uint8_t *secret = secret_of(k, &sl);
	/* lengths chosen so that no part is a multiple of 3 bytes: each has unused bits */
	const char *hj = "{\"alg\":\"HS256\",\"kid\":\"b6\"}";                   /* 26 bytes */
	const char *pj = "{\"sub\":\"a?b>c\",\"x\":\"\xc3\xbf\xc3\xbe\",\"n\":1}"; /* 32 bytes */
	assert_true(strlen(hj) % 3 != 0);
	assert_true(strlen(pj) % 3 != 0);
	char *h = lkt_b64e_str(hj), *p = lkt_b64e_str(pj);
	struct lk_verify_opts o = opts_now();

	/* control */
	char *t = lkt_hs_parts("HS256", secret, sl, h, p);
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
	free(t);

	for (int part = 0; part < 3; part++) {
		for (int kind = 0; kind < 6; kind++) {
			char *hh = strdup(h), *pp = strdup(p);
			char *tok;
			if (part < 2) {
				char **s = part == 0 ? &hh : &pp;
				char *m;
				switch (kind) {
				case 0: m = lkt_fmt("%s=", *s); break;
				case 1: m = lkt_fmt("%s==", *s); break;
				case 2: m = strdup(*s); to_std_alphabet(m); break;
				case 3: m = strdup(*s); set_trailing_bit(m, strlen(m)); break;
				case 4: m = lkt_fmt(" %s", *s); break;
				default: m = strdup(*s); m[strlen(m) / 2] = '\n'; break;
				}
				free(*s);
				*s = m;
				tok = lkt_hs_parts("HS256", secret, sl, hh, pp);
			} else {
				char *good = lkt_hs_parts("HS256", secret, sl, hh, pp);
				char *sig = strrchr(good, '.') + 1;
				char *m;
				assert_int_equal(strlen(sig), 43);
				switch (kind) {
				case 0: m = lkt_fmt("%s=", sig); break;
				case 1: m = lkt_fmt("%s==", sig); break;
				case 2: m = strdup(sig); to_std_alphabet(m); break;
				case 3: m = strdup(sig); set_trailing_bit(m, strlen(m)); break;
				case 4: m = lkt_fmt("%s ", sig); break;
				default: m = strdup(sig); m[20] = '\n'; break;
				}
				sig[-1] = '\0';
				tok = lkt_fmt("%s.%s", good, m);
				free(m);
				free(good);
			}
			enum lk_err rc = lkt_jwt_verify(set, tok, &o, NULL);
			if (rc != LK_EBASE64)
				fail_msg("part %d, spelling %d: %s, want bad_base64", part, kind,
					 lk_err_str(rc));
			rc = lkt_jws_verify(set, tok, strlen(tok), 0, NULL, NULL);
			if (rc != LK_EBASE64)
				fail_msg("jws: part %d, spelling %d: %s, want bad_base64", part, kind,
					 lk_err_str(rc));
			char *hdr = NULL, *pl = NULL;
			struct lk_errinfo ei;
			size_t siglen = 0;
			rc = lk_jws_decode_unverified(tok, strlen(tok), &hdr, &pl, &siglen, &ei);
			if (rc != LK_EBASE64)
				fail_msg("decode_unverified: part %d, spelling %d: %s", part, kind,
					 lk_err_str(rc));
			assert_null(hdr);
			assert_null(pl);
			free(tok);
			free(hh);
			free(pp);
		}
	}
	free(h);
	free(p);
	free(secret);
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule: tokens over 8 KiB are refused before any parsing.
 *
 * Attack: denial of service by size: multi-megabyte headers or deeply nested JSON make a
 * verifier decode, allocate and parse before it finds anything wrong. A token of
 * LK_MAX_TOKEN + 1 bytes is too_large whatever it contains, even garbage that would
 * otherwise be malformed; a valid token of exactly LK_MAX_TOKEN bytes still verifies.
 */
static void test_max_token_size(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_HS256, "big");
	lk_jwks *set = lkt_set1(k);
	struct lk_verify_opts o = opts_now();

	/* a valid token of exactly LK_MAX_TOKEN bytes: the kid length adjusts the header
	 * so that the remaining payload length is a possible base64url length */
	char *exact = NULL;
	for (int kl = 1; kl < 8 && !exact; kl++) {
		char kid[16];
		memset(kid, 'k', (size_t)kl);
		kid[kl] = '\0';
		char *hj = lkt_fmt("{\"alg\":\"HS256\",\"kid\":\"%s\"}", kid);
		char *h = lkt_b64e_str(hj);
		size_t plen64 = LK_MAX_TOKEN - strlen(h) - 2 - 43;
		if (plen64 % 4 != 1) {
			size_t pn = plen64 / 4 * 3 + (plen64 % 4 ? plen64 % 4 - 1 : 0);
			char *pj = malloc(pn + 1);
			assert_non_null(pj);
			memcpy(pj, "{\"x\":\"", 6);
			memset(pj + 6, 'a', pn - 8);
			memcpy(pj + pn - 2, "\"}", 3);
			size_t sl;
			uint8_t *s = secret_of(k, &sl);
			exact = lkt_hs_token("HS256", s, sl, hj, pj, pn);
			free(s);
			free(pj);
			/* the set must know this kid */
			char *kj = NULL;
			assert_rc(lk_jwk_to_json(k, 1, &kj, NULL), LK_OK);
			json_error_t jerr;
			json_t *jo = json_loads(kj, 0, &jerr);
			json_object_set_new(jo, "kid", json_string(kid));
			char *kj2 = json_dumps(jo, JSON_COMPACT);
			lk_jwk *k2 = lkt_jwk(kj2);
			lk_jwks_free(set);
			set = lkt_set1(k2);
			lk_jwk_free(k2);
			free(kj2);
			json_decref(jo);
			free(kj);
		}
		free(h);
		free(hj);
	}
	assert_non_null(exact);
	assert_int_equal(strlen(exact), LK_MAX_TOKEN);
	assert_rc(lkt_jwt_verify(set, exact, &o, NULL), LK_OK);
	assert_rc(lkt_jws_verify(set, exact, strlen(exact), 0, NULL, NULL), LK_OK);

	/* one byte more: a valid-looking token refused for its size */
	char *over = lkt_fmt("%s", exact);
	over = realloc(over, LK_MAX_TOKEN + 2);
	memmove(over + LK_MAX_TOKEN - 42, over + LK_MAX_TOKEN - 43, 44); /* grow the signature */
	assert_int_equal(strlen(over), LK_MAX_TOKEN + 1);
	assert_rc(lkt_jwt_verify(set, over, &o, NULL), LK_ETOO_LARGE);
	assert_rc(lkt_jws_verify(set, over, strlen(over), 0, NULL, NULL), LK_ETOO_LARGE);
	free(over);

	/* garbage of LK_MAX_TOKEN + 1 bytes: too_large, not malformed or bad_base64 */
	static const char fills[] = {'a', '.', '=', '\xff', '{', ' '};
	for (size_t i = 0; i < sizeof fills; i++) {
		char *g = malloc(LK_MAX_TOKEN + 2);
		assert_non_null(g);
		memset(g, fills[i], LK_MAX_TOKEN + 1);
		g[LK_MAX_TOKEN + 1] = '\0';
		assert_rc(lkt_jwt_verify(set, g, &o, NULL), LK_ETOO_LARGE);
		assert_rc(lkt_jws_verify(set, g, LK_MAX_TOKEN + 1, 0, NULL, NULL), LK_ETOO_LARGE);
		char *hdr = NULL, *pl = NULL;
		struct lk_errinfo ei;
		size_t siglen = 0;
		assert_rc(lk_jws_decode_unverified(g, LK_MAX_TOKEN + 1, &hdr, &pl, &siglen, &ei),
			  LK_ETOO_LARGE);
		free(g);
	}
	/* a huge length is refused without reading the bytes (only 4 are readable here) */
	char *tiny = malloc(4);
	memcpy(tiny, "a.b.", 4);
	struct lk_errinfo ei;
	lk_jwt *jwt = NULL;
	assert_rc(lk_jwt_verify(set, tiny, (size_t)1 << 40, &o, &jwt, &ei), LK_ETOO_LARGE);
	assert_null(jwt);
	free(tiny);
	free(exact);
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/* Claims JSON of exactly n bytes: sub, iat, 100 numbered claims, then a "pad" string. */
static char *claims_of_len(size_t n)
{
	char *c = malloc(n + 1), *w = c;
	assert_non_null(c);
	w += sprintf(w, "{\"sub\":\"alice\",\"iat\":1700000000");
	for (int i = 0; i < 100; i++)
		w += sprintf(w, ",\"c%03d\":%d", i, i);
	w += sprintf(w, ",\"pad\":\"");
	size_t used = (size_t)(w - c) + 2;
	assert_true(n >= used);
	memset(w, 'p', n - used);
	memcpy(w + (n - used), "\"}", 3);
	assert_int_equal(strlen(c), n);
	return c;
}

/*
 * Rule: tokens over 8 KiB are refused, at the byte: 8,192 bytes of compact token verify,
 * 8,193 do not, for HS256 and for ES256, with a payload of many claims. The token one byte
 * over is correctly signed (by hand, through OpenSSL), so its only fault is its size; and
 * lk_jws_sign makes the 8,192-byte token but refuses to make the 8,193-byte one.
 */
static void test_max_token_boundary(void **state)
{
	static const enum lk_alg algs[] = {LK_ALG_HS256, LK_ALG_ES256};
	struct lk_verify_opts o = opts_now();

	for (size_t ai = 0; ai < 2; ai++) {
		const char *an = lk_alg_name(algs[ai]);
		size_t siglen64 = algs[ai] == LK_ALG_HS256 ? 43 : 86;
		/* a kid length that leaves a payload length L with L % 4 in {2, 3}: then both
		 * L and L + 1 are lengths of some base64url text */
		char kid[16], *hj = NULL;
		size_t L = 0;
		for (size_t kl = 1; kl < sizeof kid; kl++) {
			memset(kid, 'k', kl);
			kid[kl] = '\0';
			free(hj);
			hj = lkt_fmt("{\"alg\":\"%s\",\"kid\":\"%s\"}", an, kid);
			char *h64 = lkt_b64e_str(hj);
			L = LK_MAX_TOKEN - strlen(h64) - 2 - siglen64;
			free(h64);
			if (L % 4 >= 2)
				break;
		}
		assert_true(L % 4 >= 2);
		size_t m = L / 4 * 3 + L % 4 - 1; /* payload bytes whose encoding is L long */
		char *at = claims_of_len(m), *over = claims_of_len(m + 1);

		/* the library's own key signs the exact-size token, not the one over */
		lk_jwk *k = lkt_gen(algs[ai], kid);
		char *tok = NULL;
		size_t tlen = 0;
		struct lk_errinfo ei;
		assert_rc(lk_jws_sign(k, NULL, at, m, &tok, &tlen, &ei), LK_OK);
		assert_int_equal(tlen, LK_MAX_TOKEN);
		assert_int_equal(strlen(tok), LK_MAX_TOKEN);
		char *tok2 = (char *)0x1;
		assert_rc(lk_jws_sign(k, NULL, over, m + 1, &tok2, NULL, &ei), LK_ETOO_LARGE);
		assert_null(tok2);
		lk_jwks *set = algs[ai] == LK_ALG_HS256 ? lkt_set1(k) : lkt_pubset(k);
		lk_jwt *jwt = NULL;
		assert_rc(lkt_jwt_verify(set, tok, &o, &jwt), LK_OK);
		size_t rl;
		const char *raw = lk_jwt_claim_raw(jwt, "c099", &rl);
		assert_non_null(raw);
		assert_int_equal(rl, 2);
		assert_memory_equal(raw, "99", 2);
		assert_str(lk_jwt_claim_str(jwt, "sub"), "alice");
		lk_jwt_free(jwt);
		assert_rc(lkt_jws_verify(set, tok, tlen, 0, NULL, NULL), LK_OK);
		free(tok);

		/* hand-signed: 8,192 bytes verify (control), 8,193 are too_large */
		char *hand_at, *hand_over;
		lk_jwks *hset;
		EVP_PKEY *ek = NULL;
		if (algs[ai] == LK_ALG_HS256) {
			size_t sl;
			uint8_t *sec = secret_of(k, &sl);
			hand_at = lkt_hs_token(an, sec, sl, hj, at, m);
			hand_over = lkt_hs_token(an, sec, sl, hj, over, m + 1);
			free(sec);
			hset = lk_jwks_ref(set);
		} else {
			ek = EVP_EC_gen("P-256");
			assert_non_null(ek);
			char *pj = lkt_pkey_jwk(ek, kid);
			lk_jwk *pk = lkt_jwk(pj);
			hset = lkt_set1(pk);
			lk_jwk_free(pk);
			free(pj);
			hand_at = lkt_pkey_token(ek, an, hj, at, m);
			hand_over = lkt_pkey_token(ek, an, hj, over, m + 1);
		}
		assert_int_equal(strlen(hand_at), LK_MAX_TOKEN);
		assert_int_equal(strlen(hand_over), LK_MAX_TOKEN + 1);
		assert_rc(lkt_jwt_verify(hset, hand_at, &o, NULL), LK_OK);
		assert_rc(lkt_jwt_verify(hset, hand_over, &o, NULL), LK_ETOO_LARGE);
		assert_rc(lkt_jws_verify(hset, hand_over, LK_MAX_TOKEN + 1, 0, NULL, NULL),
			  LK_ETOO_LARGE);
		EVP_PKEY_free(ek);
		lk_jwks_free(hset);
		free(hand_at);
		free(hand_over);
		lk_jwks_free(set);
		lk_jwk_free(k);
		free(at);
		free(over);
		free(hj);
	}
}

/*
 * Rule: no duplicate members, in header or payload.
 *
 * Attack: {"alg":"HS256","alg":"none"} or {"exp":1,"exp":9999999999}. JSON parsers
 * disagree on which duplicate wins (first, last, error), so the component that checks the
 * signature or the expiry and the one that uses the claims may read different values.
 * The escaped spelling "\u0065xp" is the same member name as "exp" and must be caught too.
 */
static void test_duplicate_members(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_HS256, "d1");
	lk_jwks *set = lkt_set1(k);
	struct lk_verify_opts o = opts_now();
	static const char *hdrs[] = {
		"{\"alg\":\"HS256\",\"alg\":\"HS256\",\"kid\":\"d1\"}",
		"{\"alg\":\"HS256\",\"kid\":\"d1\",\"kid\":\"d1\"}",
		"{\"alg\":\"HS256\",\"kid\":\"d1\",\"\\u0061lg\":\"none\"}",
		"{\"alg\":\"HS256\",\"kid\":\"d1\",\"typ\":\"JWT\",\"t\\u0079p\":\"at+jwt\"}",
	};
	for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
		char *t = hs_with(k, hdrs[i], CLAIMS);
		enum lk_err rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc != LK_EDUPLICATE)
			fail_msg("header %s: %s, want duplicate_member", hdrs[i], lk_err_str(rc));
		assert_rc(lkt_jws_verify(set, t, strlen(t), 0, NULL, NULL), LK_EDUPLICATE);
		free(t);
	}
	static const char *payloads[] = {
		"{\"exp\":1,\"exp\":9999999999}",
		"{\"exp\":9999999999,\"exp\":1}",
		"{\"exp\":1,\"\\u0065xp\":9999999999}",
		"{\"\\u0065xp\":1,\"exp\":9999999999}",
		"{\"sub\":\"alice\",\"sub\":\"admin\"}",
		"{\"sub\":\"alice\",\"s\\u0075b\":\"admin\"}",
		"{\"x\":1,\"x\":1}",
		"{\"o\":{\"a\":1,\"a\":2}}",
	};
	for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
		char *t = hs_with(k, "{\"alg\":\"HS256\",\"kid\":\"d1\"}", payloads[i]);
		enum lk_err rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc != LK_EDUPLICATE)
			fail_msg("payload %s: %s, want duplicate_member", payloads[i], lk_err_str(rc));
		free(t);
	}
	/* control: distinct names that merely look alike */
	char *t = hs_with(k, "{\"alg\":\"HS256\",\"kid\":\"d1\"}", "{\"exp\":9999999999,\"Exp\":1,\"exp \":2}");
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
	free(t);
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule: a compact JWS is exactly three dot-separated parts, the header not empty.
 *
 * Attack: parser confusion: a JWE (five parts) or a token with extra dots is split
 * differently by different components; "header..sig" style truncations probe for code
 * paths that index past the parts they found.
 */
static void test_structure(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_HS256, "s1");
	lk_jwks *set = lkt_set1(k);
	struct lk_verify_opts o = opts_now();
	char *good = hs_with(k, "{\"alg\":\"HS256\",\"kid\":\"s1\"}", CLAIMS);
	char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
	char *h = strndup(good, (size_t)(d1 - good));
	char *p = strndup(d1 + 1, (size_t)(d2 - d1 - 1));
	char *s = strdup(d2 + 1);
	char *cases[] = {
		strdup(""),
		strdup("."),
		strdup(".."),
		strdup("..."),
		strdup("abc"),
		lkt_fmt("%s", h),
		lkt_fmt("%s.%s", h, p),
		lkt_fmt("%s.%s.%s.", h, p, s),
		lkt_fmt("%s.%s.%s.%s", h, p, s, s),
		lkt_fmt("%s.%s.%s.%s.%s", h, p, s, p, s),
		lkt_fmt(".%s.%s", p, s),
		lkt_fmt(".%s.%s.%s", h, p, s),
		lkt_fmt("%s..%s.%s", h, p, s),
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum lk_err rc = lkt_jwt_verify(set, cases[i], &o, NULL);
		if (rc != LK_EMALFORMED)
			fail_msg("structure case %zu: %s, want malformed", i, lk_err_str(rc));
		rc = lkt_jws_verify(set, cases[i], strlen(cases[i]), 0, NULL, NULL);
		if (rc != LK_EMALFORMED)
			fail_msg("jws structure case %zu: %s, want malformed", i, lk_err_str(rc));
		free(cases[i]);
	}
	/* empty signature on an HS256 header: never OK */
	char *t = lkt_fmt("%s.%s.", h, p);
	assert_rc_in(lkt_jwt_verify(set, t, &o, NULL), LK_EMALFORMED, LK_EBAD_SIGNATURE);
	free(t);
	/* empty payload: a JWS may sign nothing, but a JWT needs a claims object */
	t = hs_with(k, "{\"alg\":\"HS256\",\"kid\":\"s1\"}", "");
	assert_rc_in(lkt_jwt_verify(set, t, &o, NULL), LK_EMALFORMED, LK_EJSON);
	free(t);
	/* a NUL inside the token, passed with its full length */
	t = lkt_fmt("%s", good);
	t[strlen(h) + 3] = '\0';
	assert_rc_in(lkt_jws_verify(set, t, strlen(good), 0, NULL, NULL), LK_EBASE64, LK_EMALFORMED);
	free(t);
	/* a signature of the wrong length for HS256 */
	t = lkt_fmt("%s.%s.%s", h, p, "AAAA");
	assert_rc_in(lkt_jwt_verify(set, t, &o, NULL), LK_EBAD_SIGNATURE, LK_EMALFORMED);
	free(t);
	/* control */
	assert_rc(lkt_jwt_verify(set, good, &o, NULL), LK_OK);
	free(h);
	free(p);
	free(s);
	free(good);
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule: the JWT payload is one JSON object (RFC 7519 §7.2 step 10).
 *
 * Attack: a signed array, string or number (a JWS over some other document, signed by the
 * same key for another purpose) is presented as a JWT. Also trailing bytes after the
 * object, which another parser may read as a second document. The signature is valid in
 * every case: lk_jws_sign signs any bytes.
 */
static void test_payload_not_object(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_EDDSA, "p1");
	lk_jwks *set = lkt_pubset(k);
	struct lk_verify_opts o = opts_now();
	static const char *bad[] = {
		"[1,2]", "[]", "\"str\"", "123", "true", "null", "{", "}", "{\"a\":1",
		"{} x", "{}{}", "{\"a\":1}}", "{'a':1}", "{a:1}", "{\"a\":1,}", "{\"a\":01}",
		"{\"a\":NaN}", "{\"a\":\"\\x41\"}", "{\"a\":\"tab\there\"}", "\xef\xbb\xbf{}",
		"{\"a\":1}\x00",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t len = i == sizeof bad / sizeof bad[0] - 1 ? 9 : strlen(bad[i]);
		char *t = NULL;
		struct lk_errinfo ei;
		assert_rc(lk_jws_sign(k, NULL, bad[i], len, &t, NULL, &ei), LK_OK);
		enum lk_err rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc != LK_EJSON)
			fail_msg("payload %zu (%s): %s, want bad_json", i, bad[i], lk_err_str(rc));
		/* lk_jws_verify does not read the payload as claims: it verifies */
		char *pl = NULL;
		size_t pn = 0;
		assert_rc(lkt_jws_verify(set, t, strlen(t), 0, &pl, &pn), LK_OK);
		assert_int_equal(pn, len);
		assert_memory_equal(pl, bad[i], len);
		free(pl);
		free(t);
	}
	/* JSON that is fine, with whitespace around it */
	char *t = signed_by(k, NULL, " \r\n{ \"sub\" : \"a\" }\n ");
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
	free(t);
	/* the header must be an object too */
	lk_jwk *hk = lkt_gen(LK_ALG_HS256, "hk");
	lk_jwks *hset = lkt_set1(hk);
	static const char *badh[] = {"[\"HS256\"]", "\"HS256\"", "{\"alg\":\"HS256\"", "{\"alg\":\"HS256\"} "
				     "x"};
	for (size_t i = 0; i < sizeof badh / sizeof badh[0]; i++) {
		t = hs_with(hk, badh[i], CLAIMS);
		assert_rc(lkt_jwt_verify(hset, t, &o, NULL), LK_EJSON);
		free(t);
	}
	lk_jwks_free(hset);
	lk_jwk_free(hk);
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule: JSON text is valid UTF-8 (RFC 8259 §8.1).
 *
 * Attack: invalid or overlong UTF-8 ("\xc0\xaf" is an overlong '/') and encoded
 * surrogates are decoded differently by different components: one sees "admin", another
 * a replacement character, a third truncates. Such a claim set is refused as bad_json.
 */
static void test_invalid_utf8(void **state)
{
	lk_jwk *k = lkt_gen(LK_ALG_HS256, "u1");
	lk_jwks *set = lkt_set1(k);
	struct lk_verify_opts o = opts_now();
	static const char *bad[] = {
		"{\"sub\":\"\xff\"}",
		"{\"sub\":\"a\xc0\xaf\"}",
		"{\"sub\":\"\xe0\x80\xaf\"}",
		"{\"sub\":\"\xed\xa0\x80\"}",
		"{\"sub\":\"\xe2\x82\"}",
		"{\"sub\":\"\x80\"}",
		"{\"sub\":\"\xf4\x90\x80\x80\"}",
		"{\"sub\":\"\xf8\x88\x80\x80\x80\"}",
		"{\"s\xffub\":\"a\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *t = hs_with(k, "{\"alg\":\"HS256\",\"kid\":\"u1\"}", bad[i]);
		enum lk_err rc = lkt_jwt_verify(set, t, &o, NULL);
		if (rc != LK_EJSON)
			fail_msg("payload %zu: %s, want bad_json", i, lk_err_str(rc));
		free(t);
	}
	/* in the header too */
	char *t = hs_with(k, "{\"alg\":\"HS256\",\"kid\":\"u1\",\"x\":\"\xc0\xaf\"}", CLAIMS);
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_EJSON);
	assert_rc(lkt_jws_verify(set, t, strlen(t), 0, NULL, NULL), LK_EJSON);
	free(t);
	/* control: valid multi-byte UTF-8 (2, 3 and 4 bytes) and escapes */
	t = hs_with(k, "{\"alg\":\"HS256\",\"kid\":\"u1\"}",
		    "{\"sub\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91\\u00e9\\ud83d\\udd11\"}");
	lk_jwt *jwt = NULL;
	assert_rc(lkt_jwt_verify(set, t, &o, &jwt), LK_OK);
	assert_str(lk_jwt_claim_str(jwt, "sub"),
			    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91\xc3\xa9\xf0\x9f\x94\x91");
	lk_jwt_free(jwt);
	free(t);
	lk_jwks_free(set);
	lk_jwk_free(k);
}

/*
 * Rule (key selection): a token names its key by kid, and an unknown kid finds no key.
 *
 * Attack: kid pointing at nothing, hoping the verifier falls back to "try every key" (and
 * then, with mixed key types, to the confusion above), or a kid that is not a string.
 */
static void test_kid_selection(void **state)
{
	lk_jwk *a = lkt_gen(LK_ALG_HS256, "a"), *b = lkt_gen(LK_ALG_HS256, "b");
	lk_jwk *both[] = {a, b};
	lk_jwks *set = lkt_set(both, 2);
	struct lk_verify_opts o = opts_now();
	char *t = signed_by(b, NULL, CLAIMS);
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_OK);
	free(t);
	t = hs_with(a, "{\"alg\":\"HS256\",\"kid\":\"zzz\"}", CLAIMS);
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_ENO_KEY);
	free(t);
	/* kid "b" but MACed with a's secret */
	t = hs_with(a, "{\"alg\":\"HS256\",\"kid\":\"b\"}", CLAIMS);
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_EBAD_SIGNATURE);
	free(t);
	t = hs_with(a, "{\"alg\":\"HS256\",\"kid\":7}", CLAIMS);
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), LK_EHEADER);
	free(t);
	/* an empty set has no key for anything */
	lk_jwks *empty = lkt_set(NULL, 0);
	t = signed_by(a, NULL, CLAIMS);
	assert_rc(lkt_jwt_verify(empty, t, &o, NULL), LK_ENO_KEY);
	free(t);
	lk_jwks_free(empty);
	lk_jwks_free(set);
	lk_jwk_free(a);
	lk_jwk_free(b);
}

/* An oct JWK with a secret of n bytes (all equal to fill), kid and extra members. */
static char *oct_json(const char *kid, int fill, size_t n, const char *extra)
{
	uint8_t sec[64];
	assert_true(n <= sizeof sec);
	memset(sec, fill, n);
	char *kb = lkt_b64e(sec, n);
	char *js = lkt_fmt("{\"kty\":\"oct\",\"kid\":\"%s\",\"k\":\"%s\"%s%s}", kid, kb,
			   *extra ? "," : "", extra);
	free(kb);
	return js;
}

/* An HS256 token over CLAIMS with header h, MACed with n bytes of fill. */
static char *hs_fill(int fill, size_t n, const char *h)
{
	uint8_t sec[64];
	memset(sec, fill, n);
	return lkt_hs_token("HS256", sec, n, h, CLAIMS, strlen(CLAIMS));
}

static lk_jwks *parse_set(const char *doc)
{
	lk_jwks *s = NULL;
	struct lk_errinfo ei;
	enum lk_err rc = lk_jwks_parse(doc, strlen(doc), &s, &ei);
	if (rc != LK_OK)
		fail_msg("lk_jwks_parse: %s (%s)", lk_err_str(rc), ei.detail);
	return s;
}

/* Both verify entry points give want for token t. */
static void both_rc(const lk_jwks *set, const char *t, enum lk_err want)
{
	struct lk_verify_opts o = opts_now();
	assert_rc(lkt_jwt_verify(set, t, &o, NULL), want);
	assert_rc(lkt_jws_verify(set, t, strlen(t), 0, NULL, NULL), want);
}

/*
 * Rule: a token without kid verifies only when exactly one key of the set fits its
 * algorithm; with two or more it is refused as ambiguous.
 *
 * Attack: a verifier that, lacking a kid, tries every key of its set accepts a token under
 * whichever key happens to verify it, so a key the operator meant for one issuer or tenant
 * silently vouches for another's tokens; and every forged token without kid costs one
 * signature check per key (a full JWKS is 64 keys, 64 RSA verifications). latchkey counts
 * the keys that fit first and refuses with ambiguous_key before any signature check. Keys
 * that cannot verify are not candidates: another key type, "use":"enc", key_ops without
 * "verify", a weak key; so a set of one RSA and one EC key still verifies ES256 tokens
 * without kid.
 */
static void test_kidless_one_fitting_key(void **state)
{
	const char *nokid = "{\"alg\":\"HS256\"}";
	char *ja = oct_json("a", 'a', 32, ""), *jb = oct_json("b", 'b', 32, "");
	lk_jwk *a = lkt_jwk(ja), *b = lkt_jwk(jb);
	lk_jwk *ab[] = {a, b};
	lk_jwks *one = lkt_set1(a), *two = lkt_set(ab, 2), *empty = lkt_set(NULL, 0);
	char *ta = hs_fill('a', 32, nokid), *tb = hs_fill('b', 32, nokid);

	/* 1 fitting key: verifies */
	both_rc(one, ta, LK_OK);
	/* 2 fitting keys: refused, even though b's token is genuine */
	both_rc(two, tb, LK_EKEY_AMBIGUOUS);
	both_rc(two, ta, LK_EKEY_AMBIGUOUS);
	/* a forged signature gets the same answer: no key was tried */
	char *forged = lkt_fmt("%.*s%s", (int)(strrchr(tb, '.') + 1 - tb), tb,
			       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	both_rc(two, forged, LK_EKEY_AMBIGUOUS);
	both_rc(one, forged, LK_EBAD_SIGNATURE);
	/* control: naming the key settles it */
	char *tbk = hs_fill('b', 32, "{\"alg\":\"HS256\",\"kid\":\"b\"}");
	both_rc(two, tbk, LK_OK);
	/* 0 fitting keys */
	both_rc(empty, ta, LK_ENO_KEY);
	lk_jwk *es = lkt_gen(LK_ALG_ES256, "es");
	lk_jwks *esonly = lkt_set1(es);
	both_rc(esonly, ta, LK_EALG_NOT_ALLOWED);

	/* an oct key without "alg" and a 64-byte secret admits HS256 too: it fits */
	char *j64 = oct_json("wide", 'w', 64, "");
	char *doc = lkt_fmt("{\"keys\":[%s,%s]}", ja, j64);
	lk_jwks *wide = parse_set(doc);
	both_rc(wide, ta, LK_EKEY_AMBIGUOUS);
	lk_jwks_free(wide);
	free(doc);
	/* ... but one whose "alg" is HS384 does not */
	char *j384 = oct_json("h384", 'h', 48, "\"alg\":\"HS384\"");
	doc = lkt_fmt("{\"keys\":[%s,%s]}", ja, j384);
	lk_jwks *s384 = parse_set(doc);
	both_rc(s384, ta, LK_OK);
	lk_jwks_free(s384);
	free(doc);

	/* keys that cannot verify do not count: "use":"enc", key_ops without "verify", weak
	 * (16 bytes), and an ES256 key; each one's control twin with the flaw removed does */
	static const struct {
		const char *extra;
		size_t n;
	} cannot[] = {
		{"\"use\":\"enc\"", 32},
		{"\"key_ops\":[\"sign\"]", 32},
		{"\"key_ops\":[\"encrypt\"]", 32},
		{"", 16},
	};
	for (size_t i = 0; i < sizeof cannot / sizeof cannot[0]; i++) {
		char *jx = oct_json("x", 'x', cannot[i].n, cannot[i].extra);
		char *jok = oct_json("x", 'x', 32, "\"use\":\"sig\",\"key_ops\":[\"sign\",\"verify\"]");
		char *esj = NULL;
		assert_rc(lk_jwk_to_json(es, 0, &esj, NULL), LK_OK);
		doc = lkt_fmt("{\"keys\":[%s,%s,%s]}", jx, ja, esj);
		lk_jwks *s = parse_set(doc);
		both_rc(s, ta, LK_OK);
		lk_jwks_free(s);
		free(doc);
		doc = lkt_fmt("{\"keys\":[%s,%s,%s]}", jok, ja, esj);
		s = parse_set(doc);
		both_rc(s, ta, LK_EKEY_AMBIGUOUS);
		lk_jwks_free(s);
		free(doc);
		free(esj);
		free(jok);
		free(jx);
	}
	/* the same for a sign-only key handed to lk_jwks_new (not reduced by a JWKS parse) */
	char *jso = oct_json("so", 's', 32, "\"key_ops\":[\"sign\"]");
	lk_jwk *so = lkt_jwk(jso);
	lk_jwk *aso[] = {so, a};
	lk_jwks *sset = lkt_set(aso, 2);
	both_rc(sset, ta, LK_OK);
	lk_jwks_free(sset);

	/* mixed types: one RSA and one EC key, tokens without kid */
	EVP_PKEY *rk = EVP_RSA_gen(2048), *ek = EVP_EC_gen("P-256"), *ek2 = EVP_EC_gen("P-256");
	assert_non_null(rk);
	assert_non_null(ek);
	assert_non_null(ek2);
	char *rj = lkt_pkey_jwk(rk, NULL), *ej = lkt_pkey_jwk(ek, NULL), *ej2 = lkt_pkey_jwk(ek2, NULL);
	doc = lkt_fmt("{\"keys\":[%s,%s]}", rj, ej);
	lk_jwks *mixed = parse_set(doc);
	free(doc);
	char *tes = lkt_pkey_token(ek, "ES256", "{\"alg\":\"ES256\"}", CLAIMS, strlen(CLAIMS));
	char *trs = lkt_pkey_token(rk, "RS256", "{\"alg\":\"RS256\"}", CLAIMS, strlen(CLAIMS));
	char *tps = lkt_pkey_token(rk, "PS256", "{\"alg\":\"PS256\"}", CLAIMS, strlen(CLAIMS));
	char *tes2 = lkt_pkey_token(ek2, "ES256", "{\"alg\":\"ES256\"}", CLAIMS, strlen(CLAIMS));
	both_rc(mixed, tes, LK_OK);
	both_rc(mixed, trs, LK_OK);
	both_rc(mixed, tps, LK_OK);
	both_rc(mixed, tes2, LK_EBAD_SIGNATURE); /* the one EC key was tried, and is not ek2 */
	both_rc(mixed, ta, LK_EALG_NOT_ALLOWED);
	/* a second EC key makes ES256 ambiguous; RS256 still has one key */
	doc = lkt_fmt("{\"keys\":[%s,%s,%s]}", rj, ej, ej2);
	lk_jwks *mixed2 = parse_set(doc);
	free(doc);
	both_rc(mixed2, tes, LK_EKEY_AMBIGUOUS);
	both_rc(mixed2, tes2, LK_EKEY_AMBIGUOUS);
	both_rc(mixed2, trs, LK_OK);

	lk_jwks_free(mixed2);
	lk_jwks_free(mixed);
	free(tes);
	free(trs);
	free(tps);
	free(tes2);
	free(rj);
	free(ej);
	free(ej2);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ek);
	EVP_PKEY_free(ek2);
	lk_jwk_free(so);
	free(jso);
	free(j384);
	free(j64);
	lk_jwks_free(esonly);
	lk_jwk_free(es);
	free(tbk);
	free(forged);
	free(ta);
	free(tb);
	lk_jwks_free(empty);
	lk_jwks_free(two);
	lk_jwks_free(one);
	lk_jwk_free(a);
	lk_jwk_free(b);
	free(ja);
	free(jb);
}

/* Every code has its stable reason word and class (docs/errors.md, `jwt verify` output);
 * an unknown number is "unknown". */
static void test_error_words(void **state)
{
	static const struct {
		enum lk_err e;
		const char *word;
		enum lk_err_class cls;
	} t[] = {
		{LK_OK, NULL, LK_CLASS_OK},
		{LK_EMALFORMED, "malformed", LK_CLASS_INPUT},
		{LK_ETOO_LARGE, "too_large", LK_CLASS_INPUT},
		{LK_EBASE64, "bad_base64", LK_CLASS_INPUT},
		{LK_EJSON, "bad_json", LK_CLASS_INPUT},
		{LK_EDUPLICATE, "duplicate_member", LK_CLASS_INPUT},
		{LK_EALG_NONE, "alg_none", LK_CLASS_REJECTED},
		{LK_EALG_NOT_ALLOWED, "alg_not_allowed", LK_CLASS_REJECTED},
		{LK_ENO_KEY, "no_matching_key", LK_CLASS_REJECTED},
		{LK_EBAD_SIGNATURE, "bad_signature", LK_CLASS_REJECTED},
		{LK_EWEAK_KEY, "weak_key", LK_CLASS_REJECTED},
		{LK_ECRIT, "unsupported_crit", LK_CLASS_REJECTED},
		{LK_EEXPIRED, "expired", LK_CLASS_REJECTED},
		{LK_ENOT_YET_VALID, "not_yet_valid", LK_CLASS_REJECTED},
		{LK_EIAT_FUTURE, "issued_in_future", LK_CLASS_REJECTED},
		{LK_EISSUER, "bad_issuer", LK_CLASS_REJECTED},
		{LK_EAUDIENCE, "bad_audience", LK_CLASS_REJECTED},
		{LK_EMISSING_CLAIM, "missing_claim", LK_CLASS_REJECTED},
		{LK_ECLAIM_TYPE, "bad_claim", LK_CLASS_REJECTED},
		{LK_ETYP, "bad_typ", LK_CLASS_REJECTED},
		{LK_EHEADER, "bad_header", LK_CLASS_REJECTED},
		{LK_EREVOKED, "revoked", LK_CLASS_REJECTED},
		{LK_EKEY_AMBIGUOUS, "ambiguous_key", LK_CLASS_REJECTED},
		{LK_EKEY, "bad_key", LK_CLASS_KEY},
		{LK_EUNSUPPORTED, "unsupported", LK_CLASS_KEY},
		{LK_EKEY_USE, "key_not_for_signing", LK_CLASS_KEY},
		{LK_ENO_PRIVATE, "no_private_key", LK_CLASS_KEY},
		{LK_ENOMEM, "out_of_memory", LK_CLASS_SYSTEM},
		{LK_ECRYPTO, "crypto_error", LK_CLASS_SYSTEM},
		{LK_EIO, "io_error", LK_CLASS_SYSTEM},
		{LK_EINVAL, "invalid_argument", LK_CLASS_SYSTEM},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		const char *w = lk_err_str(t[i].e);
		assert_non_null(w);
		if (t[i].word)
			assert_str(w, t[i].word);
		assert_int_equal(lk_err_class(t[i].e), t[i].cls);
	}
	assert_str(lk_err_str((enum lk_err)9), "unknown");
	assert_str(lk_err_str((enum lk_err)29), "unknown");
	assert_str(lk_err_str((enum lk_err)1000), "unknown");
	assert_str(lk_err_str((enum lk_err)-1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alg_from_key_not_token),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_wrong_key_type),
		cmocka_unit_test(test_weak_keys),
		cmocka_unit_test(test_embedded_keys_not_trusted),
		cmocka_unit_test(test_unknown_crit),
		cmocka_unit_test(test_exp),
		cmocka_unit_test(test_nbf),
		cmocka_unit_test(test_iat_future),
		cmocka_unit_test(test_iss),
		cmocka_unit_test(test_aud),
		cmocka_unit_test(test_required_claims),
		cmocka_unit_test(test_claim_types),
		cmocka_unit_test(test_typ),
		cmocka_unit_test(test_strict_base64url),
		cmocka_unit_test(test_max_token_size),
		cmocka_unit_test(test_max_token_boundary),
		cmocka_unit_test(test_duplicate_members),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_payload_not_object),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_kid_selection),
		cmocka_unit_test(test_kidless_one_fitting_key),
		cmocka_unit_test(test_error_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
