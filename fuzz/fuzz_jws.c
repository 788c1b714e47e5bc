/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jws: the input is one compact token. It goes to lk_jwt_verify and lk_jws_verify
 * against a fixed key set holding one key of each kind (HS256, RS256, ES256, EdDSA; see
 * fuzz_keys.h) at a fixed time, and to lk_jws_decode_unverified.
 *
 * A mutated token almost never carries a valid signature, so the claim checks behind the
 * signature would stay out of reach. A second pass therefore re-signs the input: when it
 * has the shape "H.P.S" it replaces S by the HMAC-SHA256 of "H.P" under the fixed oct key
 * and verifies again, which reaches header, kid, typ, crit and claim handling with any
 * header and payload the fuzzer invents.
 *
 * Properties checked (abort on violation): a successful verify has a header and payload
 * that decode_unverified also accepts, byte for byte; a failure leaves the out-parameter
 * NULL and an error code with a reason string and class; nothing leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>
#include <openssl/evp.h>

#include "latchkey.h"
#include "util/b64url.h"
#include "fuzz_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lk_jwks *g_set;
static const char *g_hs_k; /* base64url secret of the oct key, for re-signing */

static void check(int cond)
{
	if (!cond)
		abort();
}

static lk_jwk *parse_fixed(const char *json)
{
	lk_jwk *k = NULL;
	struct lk_errinfo ei;
	if (lk_jwk_parse(json, strlen(json), &k, &ei) != LK_OK || !k)
		abort(); /* the embedded keys are valid: a failure is a library bug */
	return k;
}

static void init_once(void)
{
	lk_jwk *keys[4];
	if (g_set)
		return;
	keys[0] = parse_fixed(FZ_JWK_HS256);
	keys[1] = parse_fixed(FZ_JWK_RS256);
	keys[2] = parse_fixed(FZ_JWK_ES256);
	keys[3] = parse_fixed(FZ_JWK_EDDSA);
	if (lk_jwks_new(keys, 4, &g_set) != LK_OK || !g_set)
		abort();
	for (int i = 0; i < 4; i++)
		lk_jwk_free(keys[i]); /* the set holds its own references */
	g_hs_k = strstr(FZ_JWK_HS256, "\"k\":\"") + 5;
}

static void check_err(enum lk_err e)
{
	check(lk_err_str(e) != NULL);
	check(strcmp(lk_err_str(e), "unknown") != 0);
	check(lk_err_class(e) != LK_CLASS_OK);
}

static void one_token(const char *tok, size_t len)
{
	struct lk_verify_opts opts;
	struct lk_errinfo ei;
	lk_jwt *jwt = (lk_jwt *)1;
	char *payload = (char *)1, *hdr = (char *)1, *pl = (char *)1;
	size_t plen = 0, siglen = 0, hl = 0, ll = 0;
	enum lk_err e, d;

	memset(&opts, 0, sizeof opts);
	memset(&ei, 0, sizeof ei);
	opts.now = FZ_NOW;

	d = lk_jws_decode_unverified(tok, len, &hdr, &pl, &siglen, &ei);
	if (d != LK_OK) {
		check(hdr == NULL && pl == NULL);
		check_err(d);
	} else {
		check(hdr != NULL && pl != NULL);
	}

	memset(&ei, 0, sizeof ei);
	e = lk_jwt_verify(g_set, tok, len, &opts, &jwt, &ei);
	if (e == LK_OK) {
		check(jwt != NULL);
		/* anything that verifies must also decode, to the same JSON */
		check(d == LK_OK);
		const char *h = lk_jwt_header_json(jwt, &hl);
		const char *p = lk_jwt_payload_json(jwt, &ll);
		check(h && p && hl == strlen(hdr) && ll == strlen(pl));
		check(memcmp(h, hdr, hl) == 0 && memcmp(p, pl, ll) == 0);
		check(h[hl] == '\0' && p[ll] == '\0');
		check(lk_alg_name(lk_jwt_alg(jwt)) != NULL);
		(void)lk_jwt_claim_str(jwt, "sub");
		(void)lk_jwt_claim_str(jwt, "iss");
		(void)lk_jwt_claim_str(jwt, "scope");
		(void)lk_jwt_claim_str(jwt, "nonexistent");
		(void)lk_jwt_exp(jwt);
		(void)lk_jwt_iat(jwt);
		(void)lk_jwt_nbf(jwt);
		(void)lk_jwt_kid(jwt);
		lk_jwt_free(jwt);
	} else {
		check(jwt == NULL);
		check_err(e);
		check(ei.code == e);
		check(memchr(ei.detail, '\0', sizeof ei.detail) != NULL);
	}

	/* Same key set, stricter options: iss/aud/typ and every claim required. */
	opts.iss = "https://issuer.example";
	opts.aud = "api";
	opts.typ = "at+jwt";
	opts.leeway = -1;
	opts.require = LK_REQ_EXP | LK_REQ_IAT | LK_REQ_SUB | LK_REQ_JTI;
	opts.allow = LK_ALG_ES256 | LK_ALG_EDDSA | LK_ALG_HS256;
	jwt = (lk_jwt *)1;
	e = lk_jwt_verify(g_set, tok, len, &opts, &jwt, &ei);
	if (e == LK_OK)
		lk_jwt_free(jwt);
	else
		check(jwt == NULL);

	/* JWS only: the payload need not be a JSON object. */
	e = lk_jws_verify(g_set, tok, len, 0, &payload, &plen, &ei);
	if (e == LK_OK) {
		check(payload != NULL && payload[plen] == '\0');
		free(payload);
	} else {
		check(payload == NULL);
		check_err(e);
	}

	if (d == LK_OK) {
		free(hdr);
		free(pl);
	}
}

/* "H.P.<anything>" -> "H.P.<HMAC-SHA256(H.P) under the oct key>", or NULL. */
static char *resign(const uint8_t *data, size_t size, size_t *outlen)
{
	const uint8_t *d1 = memchr(data, '.', size);
	if (!d1)
		return NULL;
	const uint8_t *d2 = memchr(d1 + 1, '.', size - (size_t)(d1 + 1 - data));
	if (!d2)
		return NULL;
	size_t signing_len = (size_t)(d2 - data);

	uint8_t key[64];
	size_t klen = 0;
	size_t kchars = (size_t)(strchr(g_hs_k, '"') - g_hs_k);
	if (lk_b64url_decode(g_hs_k, kchars, key, sizeof key, &klen) != LK_OK)
		abort();

	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	if (!HMAC(EVP_sha256(), key, (int)klen, data, signing_len, mac, &maclen))
		abort();

	char *tok = malloc(signing_len + 1 + lk_b64url_enc_len(maclen) + 1);
	if (!tok)
		abort();
	memcpy(tok, data, signing_len);
	tok[signing_len] = '.';
	size_t n = lk_b64url_encode(mac, maclen, tok + signing_len + 1);
	*outlen = signing_len + 1 + n;
	return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	if (size > 2 * LK_MAX_TOKEN)
		return 0;

	one_token((const char *)data, size);

	size_t rlen = 0;
	char *re = resign(data, size, &rlen);
	if (re) {
		/* exact-size copy so that ASan sees any read past the end */
		char *exact = malloc(rlen ? rlen : 1);
		if (!exact)
			abort();
		memcpy(exact, re, rlen);
		free(re);
		one_token(exact, rlen);
		free(exact);
	}
	return 0;
}
