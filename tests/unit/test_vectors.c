/* SPDX-License-Identifier: MIT */
/*
 * test_vectors.c: the RFC test vectors of tests/vectors/ (*.json), one file per vector with
 * its provenance (RFC 7515 Appendix A, RFC 7520 §4.1-4.4, RFC 8037 Appendix A.4).
 *
 * For each vector: the JWK parses; lk_jws_verify accepts the RFC's token and returns the
 * RFC's payload bytes, from the private key and from its public half alone; one changed
 * character in the signature or in the payload makes it bad_signature; a signature made
 * by the library verifies; and where the algorithm is deterministic and the library's
 * own header ({"alg","kid"}) is the RFC's protected header byte for byte, signing the RFC
 * payload reproduces the RFC token exactly. RFC 7515 A.5 (alg "none") must be refused.
 *
 * The directory is $LK_VECTORS, else "tests/vectors" relative to the working directory
 * (the tests run from the repository root).
 */
#include <dirent.h>

#include "testutil.h"

struct vector {
	json_t *root;
	const char *file, *source, *alg, *token, *payload_b64, *expect;
	int deterministic;
	char *jwk_json;   /* the "jwk" member as compact JSON */
	uint8_t *payload; /* payload_b64 decoded */
	size_t plen;
};

static const char *vectors_dir(void)
{
	const char *d = getenv("LK_VECTORS");
	return d && *d ? d : "tests/vectors";
}

static void load(struct vector *v, const char *file)
{
	char path[512];
	json_error_t jerr;
	memset(v, 0, sizeof *v);
	snprintf(path, sizeof path, "%s/%s", vectors_dir(), file);
	v->root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!v->root)
		fail_msg("%s: %s (line %d); run from the repository root or set LK_VECTORS",
			 path, jerr.text, jerr.line);
	v->file = file;
	v->source = json_string_value(json_object_get(v->root, "source"));
	v->alg = json_string_value(json_object_get(v->root, "alg"));
	v->token = json_string_value(json_object_get(v->root, "token"));
	v->payload_b64 = json_string_value(json_object_get(v->root, "payload_b64"));
	v->expect = json_string_value(json_object_get(v->root, "expect"));
	json_t *det = json_object_get(v->root, "deterministic");
	json_t *jwk = json_object_get(v->root, "jwk");
	if (!v->source || !v->alg || !v->token || !v->payload_b64 || !v->expect ||
	    !json_is_boolean(det) || !json_is_object(jwk))
		fail_msg("%s: missing or mistyped member", path);
	v->deterministic = json_is_true(det);
	v->jwk_json = json_dumps(jwk, JSON_COMPACT);
	assert_non_null(v->jwk_json);
	/* the token is one line of the base64url alphabet and dots */
	for (const char *c = v->token; *c; c++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.", *c))
			fail_msg("%s: stray byte 0x%02x in token", path, (unsigned char)*c);
	v->payload = lkt_b64d(v->payload_b64, strlen(v->payload_b64), &v->plen);
	/* the payload part of the token is payload_b64 */
	const char *d1 = strchr(v->token, '.'), *d2 = strrchr(v->token, '.');
	assert_non_null(d1);
	assert_true(d2 > d1);
	assert_int_equal((size_t)(d2 - d1 - 1), strlen(v->payload_b64));
	assert_memory_equal(d1 + 1, v->payload_b64, strlen(v->payload_b64));
}

static void unload(struct vector *v)
{
	free(v->jwk_json);
	free(v->payload);
	json_decref(v->root);
}

/* The vector's JWK with "alg" set to the vector's algorithm, so that lk_jws_sign knows
 * which of an RSA or oct key's algorithms to use. */
static lk_jwk *signing_key(const struct vector *v)
{
	json_t *jwk = json_deep_copy(json_object_get(v->root, "jwk"));
	json_object_set_new(jwk, "alg", json_string(v->alg));
	char *js = json_dumps(jwk, JSON_COMPACT);
	lk_jwk *k = lkt_jwk(js);
	free(js);
	json_decref(jwk);
	assert_int_equal(lk_jwk_alg(k), lk_alg_from_name(v->alg, strlen(v->alg)));
	return k;
}

/* Change one character of token at position i to another of the alphabet ('A' <-> 'B'),
 * away from the last character of a part so the encoding stays canonical. */
static char *flip_at(const char *token, size_t i)
{
	char *t = strdup(token);
	assert_non_null(t);
	assert_true(t[i] != '.' && t[i + 1] != '.' && t[i + 1] != '\0');
	t[i] = t[i] == 'A' ? 'B' : 'A';
	return t;
}

static void check_valid(const struct vector *v)
{
	enum lk_alg alg = lk_alg_from_name(v->alg, strlen(v->alg));
	assert_true(alg != LK_ALG_NONE);
	lk_jwk *key = lkt_jwk(v->jwk_json);
	assert_true(lk_jwk_is_private(key));
	assert_true(lk_jwk_algs(key) & alg);
	lk_jwks *set = lkt_set1(key);
	size_t tlen = strlen(v->token);

	/* the RFC token verifies and yields the RFC payload */
	char *pl = NULL;
	size_t pn = 0;
	assert_rc(lkt_jws_verify(set, v->token, tlen, 0, &pl, &pn), LK_OK);
	assert_int_equal(pn, v->plen);
	assert_memory_equal(pl, v->payload, v->plen);
	free(pl);
	/* with an allow-list naming exactly this algorithm, and refused without it */
	assert_rc(lkt_jws_verify(set, v->token, tlen, alg, NULL, NULL), LK_OK);
	assert_rc(lkt_jws_verify(set, v->token, tlen, LK_ALG_ALL & ~alg, NULL, NULL),
		  LK_EALG_NOT_ALLOWED);

	/* from the public half alone (a verifier never holds the private key) */
	if (strcmp(v->alg, "HS256") && strcmp(v->alg, "HS384") && strcmp(v->alg, "HS512")) {
		lk_jwks *pub = lkt_pubset(key);
		assert_rc(lkt_jws_verify(pub, v->token, tlen, 0, &pl, &pn), LK_OK);
		assert_int_equal(pn, v->plen);
		assert_memory_equal(pl, v->payload, v->plen);
		free(pl);
		lk_jwks_free(pub);
	}

	/* one character changed in the middle of the signature, then of the payload */
	const char *d1 = strchr(v->token, '.'), *d2 = strrchr(v->token, '.');
	size_t sig_mid = (size_t)(d2 - v->token) + 1 + strlen(d2 + 1) / 2;
	size_t pay_mid = (size_t)(d1 - v->token) + 1 + (size_t)(d2 - d1 - 1) / 2;
	char *t = flip_at(v->token, sig_mid);
	assert_rc(lkt_jws_verify(set, t, tlen, 0, NULL, NULL), LK_EBAD_SIGNATURE);
	free(t);
	t = flip_at(v->token, pay_mid);
	assert_rc(lkt_jws_verify(set, t, tlen, 0, NULL, NULL), LK_EBAD_SIGNATURE);
	free(t);
	/* and the first character of the signature */
	t = flip_at(v->token, (size_t)(d2 - v->token) + 1);
	assert_rc(lkt_jws_verify(set, t, tlen, 0, NULL, NULL), LK_EBAD_SIGNATURE);
	free(t);

	/* a signature by the library verifies, with the private and the public key */
	lk_jwk *sk = signing_key(v);
	char *mine = NULL;
	size_t mlen = 0;
	struct lk_errinfo ei;
	assert_rc(lk_jws_sign(sk, NULL, v->payload, v->plen, &mine, &mlen, &ei), LK_OK);
	assert_int_equal(strlen(mine), mlen);
	assert_rc(lkt_jws_verify(set, mine, mlen, 0, &pl, &pn), LK_OK);
	assert_int_equal(pn, v->plen);
	assert_memory_equal(pl, v->payload, v->plen);
	free(pl);
	/* same signature length as the RFC's (fixed r||s for ECDSA, modulus size for RSA) */
	assert_int_equal(strlen(strrchr(mine, '.')), strlen(d2));
	/* the library's header is {"alg":A[,"kid":K]} */
	const char *kid = lk_jwk_kid(sk);
	char *hj = kid ? lkt_fmt("{\"alg\":\"%s\",\"kid\":\"%s\"}", v->alg, kid)
		       : lkt_fmt("{\"alg\":\"%s\"}", v->alg);
	char *hb = lkt_b64e_str(hj);
	assert_int_equal(strchr(mine, '.') - mine, strlen(hb));
	assert_memory_equal(mine, hb, strlen(hb));

	if (v->deterministic) {
		/* deterministic: the same input gives the same token every time */
		char *again = NULL;
		assert_rc(lk_jws_sign(sk, NULL, v->payload, v->plen, &again, NULL, &ei), LK_OK);
		assert_str(again, mine);
		free(again);
		/* and where the library's header is the RFC's, the RFC token itself */
		if ((size_t)(d1 - v->token) == strlen(hb) &&
		    memcmp(v->token, hb, strlen(hb)) == 0)
			assert_str(mine, v->token);
	}
	free(hb);
	free(hj);
	free(mine);
	lk_jwk_free(sk);
	lk_jwks_free(set);
	lk_jwk_free(key);
}

/* RFC 7515 A.1-A.3 and A.5 carry a JWT claims set: {"iss":"joe","exp":1300819380,...}. */
static void check_claims(const struct vector *v)
{
	lk_jwk *key = lkt_jwk(v->jwk_json);
	lk_jwks *set = lkt_set1(key);
	struct lk_verify_opts o;
	memset(&o, 0, sizeof o);
	o.now = 1300819380 - 600; /* before its expiry */
	o.iss = "joe";
	lk_jwt *jwt = NULL;
	if (!strcmp(v->expect, "alg_none")) {
		assert_rc(lkt_jwt_verify(set, v->token, &o, NULL), LK_EALG_NONE);
	} else {
		assert_rc(lkt_jwt_verify(set, v->token, &o, &jwt), LK_OK);
		assert_true(lk_jwt_exp(jwt) == 1300819380);
		assert_str(lk_jwt_claim_str(jwt, "iss"), "joe");
		assert_int_equal(lk_jwt_alg(jwt), lk_alg_from_name(v->alg, strlen(v->alg)));
		size_t n = 0;
		const char *pj = lk_jwt_payload_json(jwt, &n);
		assert_int_equal(n, v->plen);
		assert_memory_equal(pj, v->payload, v->plen);
		lk_jwt_free(jwt);
		/* by the real clock it expired in 2011 */
		o.now = 0;
		assert_rc(lkt_jwt_verify(set, v->token, &o, NULL), LK_EEXPIRED);
		/* and it is not from another issuer */
		o.now = 1300819380 - 600;
		o.iss = "jane";
		assert_rc(lkt_jwt_verify(set, v->token, &o, NULL), LK_EISSUER);
	}
	/* decoding without verification shows the same header and payload */
	char *h = NULL, *p = NULL;
	size_t siglen = 99;
	struct lk_errinfo ei;
	assert_rc(lk_jws_decode_unverified(v->token, strlen(v->token), &h, &p, &siglen, &ei), LK_OK);
	size_t hl;
	uint8_t *hexp = lkt_b64d(v->token, (size_t)(strchr(v->token, '.') - v->token), &hl);
	assert_int_equal(strlen(h), hl);
	assert_memory_equal(h, hexp, hl);
	assert_int_equal(strlen(p), v->plen);
	assert_memory_equal(p, v->payload, v->plen);
	size_t sl;
	const char *s = strrchr(v->token, '.') + 1;
	free(lkt_b64d(s, strlen(s), &sl));
	assert_int_equal(siglen, sl);
	free(hexp);
	free(h);
	free(p);
	lk_jwks_free(set);
	lk_jwk_free(key);
}

/* RFC 7515 A.5: an unsecured JWS. It never verifies, whatever the set or allow-list, and
 * also not when an attacker leaves a signature in the third part. */
static void check_alg_none(const struct vector *v)
{
	assert_str(v->alg, "none");
	lk_jwk *key = lkt_jwk(v->jwk_json);
	lk_jwks *set = lkt_set1(key);
	size_t tlen = strlen(v->token);
	assert_int_equal(v->token[tlen - 1], '.');
	assert_rc(lkt_jws_verify(set, v->token, tlen, 0, NULL, NULL), LK_EALG_NONE);
	assert_rc(lkt_jws_verify(set, v->token, tlen, LK_ALG_ALL, NULL, NULL), LK_EALG_NONE);
	lk_jwks *empty = lkt_set(NULL, 0);
	assert_rc(lkt_jws_verify(empty, v->token, tlen, 0, NULL, NULL), LK_EALG_NONE);
	lk_jwks_free(empty);
	/* with the HMAC of A.1's key over the same signing input appended */
	size_t sl;
	uint8_t *secret = lkt_member(key, "k", &sl);
	char *input = strndup(v->token, tlen - 1);
	char *dot = strchr(input, '.');
	*dot = '\0';
	char *t = lkt_hs_parts("HS256", secret, sl, input, dot + 1);
	assert_rc(lkt_jws_verify(set, t, strlen(t), 0, NULL, NULL), LK_EALG_NONE);
	free(t);
	free(input);
	free(secret);
	lk_jwks_free(set);
	lk_jwk_free(key);
}

static void run(const char *file, int claims)
{
	struct vector v;
	load(&v, file);
	if (!strcmp(v.expect, "valid"))
		check_valid(&v);
	else if (!strcmp(v.expect, "alg_none"))
		check_alg_none(&v);
	else
		fail_msg("%s: unknown expect \"%s\"", file, v.expect);
	if (claims)
		check_claims(&v);
	unload(&v);
}

/* RFC 7515 Appendix A.1: HS256 over a JWT, header {"typ":"JWT",\r\n "alg":"HS256"}. */
static void test_rfc7515_a1(void **state) { run("rfc7515-A.1.json", 1); }
/* RFC 7515 Appendix A.2: RS256 (RSASSA-PKCS1-v1_5 SHA-256), 2048-bit key. */
static void test_rfc7515_a2(void **state) { run("rfc7515-A.2.json", 1); }
/* RFC 7515 Appendix A.3: ES256 (ECDSA P-256 SHA-256). */
static void test_rfc7515_a3(void **state) { run("rfc7515-A.3.json", 1); }
/* RFC 7515 Appendix A.4: ES512 (ECDSA P-521 SHA-512) over the bytes "Payload". */
static void test_rfc7515_a4(void **state) { run("rfc7515-A.4.json", 0); }
/* RFC 7515 Appendix A.5: the unsecured JWS, {"alg":"none"}: must be alg_none. */
static void test_rfc7515_a5(void **state) { run("rfc7515-A.5.json", 1); }
/* RFC 7520 §4.1: RS256 with the §3.3 RSA key; lk_jws_sign reproduces it exactly. */
static void test_rfc7520_4_1(void **state) { run("rfc7520-4.1.json", 0); }
/* RFC 7520 §4.2: PS384 (RSASSA-PSS, salt 48 bytes) with the §3.3 RSA key. */
static void test_rfc7520_4_2(void **state) { run("rfc7520-4.2.json", 0); }
/* RFC 7520 §4.3: ES512 with the §3.2 P-521 key. */
static void test_rfc7520_4_3(void **state) { run("rfc7520-4.3.json", 0); }
/* RFC 7520 §4.4: HS256 with the §3.5 symmetric key; lk_jws_sign reproduces it exactly. */
static void test_rfc7520_4_4(void **state) { run("rfc7520-4.4.json", 0); }
/* RFC 8037 Appendix A.4: Ed25519 with the A.1 key; EdDSA is deterministic and the header
 * is exactly {"alg":"EdDSA"}, so lk_jws_sign reproduces the RFC token byte for byte. */
static void test_rfc8037_a4(void **state)
{
	run("rfc8037-A.4.json", 0);
	/* the reproduction, spelled out */
	struct vector v;
	load(&v, "rfc8037-A.4.json");
	lk_jwk *k = lkt_jwk(v.jwk_json);
	assert_null(lk_jwk_kid(k));
	assert_int_equal(lk_jwk_alg(k), LK_ALG_EDDSA);
	char *tok = NULL;
	struct lk_errinfo ei;
	assert_rc(lk_jws_sign(k, NULL, "Example of Ed25519 signing", 26, &tok, NULL, &ei), LK_OK);
	assert_str(tok, v.token);
	free(tok);
	lk_jwk_free(k);
	unload(&v);
}

/* RFC 7520 §4.1 and §4.4 also reproduce exactly: their protected header is the library's
 * {"alg":...,"kid":...}. Checked explicitly so the conditional in check_valid cannot
 * silently skip them. */
static void test_rfc7520_reproduced(void **state)
{
	static const char *files[] = {"rfc7520-4.1.json", "rfc7520-4.4.json"};
	for (size_t i = 0; i < 2; i++) {
		struct vector v;
		load(&v, files[i]);
		lk_jwk *k = signing_key(&v);
		char *tok = NULL;
		struct lk_errinfo ei;
		assert_rc(lk_jws_sign(k, NULL, v.payload, v.plen, &tok, NULL, &ei), LK_OK);
		assert_str(tok, v.token);
		free(tok);
		lk_jwk_free(k);
		unload(&v);
	}
}

/* Every file in the directory is a well-formed vector with provenance, and is run. */
static void test_all_files(void **state)
{
	DIR *d = opendir(vectors_dir());
	if (!d)
		fail_msg("cannot open %s; run from the repository root or set LK_VECTORS",
			 vectors_dir());
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".json"))
			continue;
		struct vector v;
		load(&v, e->d_name);
		assert_true(strstr(v.source, "RFC ") == v.source);
		/* the file name is the RFC and section the source cites */
		char rfc[16];
		snprintf(rfc, sizeof rfc, "rfc%.4s", v.source + 4);
		assert_memory_equal(e->d_name, rfc, 7);
		unload(&v);
		run(e->d_name, 0);
		n++;
	}
	closedir(d);
	assert_true(n >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7515_a1),
		cmocka_unit_test(test_rfc7515_a2),
		cmocka_unit_test(test_rfc7515_a3),
		cmocka_unit_test(test_rfc7515_a4),
		cmocka_unit_test(test_rfc7515_a5),
		cmocka_unit_test(test_rfc7520_4_1),
		cmocka_unit_test(test_rfc7520_4_2),
		cmocka_unit_test(test_rfc7520_4_3),
		cmocka_unit_test(test_rfc7520_4_4),
		cmocka_unit_test(test_rfc8037_a4),
		cmocka_unit_test(test_rfc7520_reproduced),
		cmocka_unit_test(test_all_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
