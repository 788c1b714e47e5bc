/* SPDX-License-Identifier: MIT */
/*
 * bench/jwt: cost of verifying one realistic access token (issue 2), per algorithm, for
 *   - the raw crypto floor (what any verifier must at least spend on the signature),
 *   - the Debian peers libjwt 1.10, cjose 0.6 and latchset jose 11,
 *   - latchkey's lk_jwt_verify with issuer and audience configured (claims checked),
 * plus the JSON libraries parsing the same claims payload.
 *
 *   bench/jwt                          time every case: ns/op, median of 5 runs (TSV)
 *   bench/jwt --list                   case names, "ok" or "n/a", description (TSV)
 *   bench/jwt --gen FILE               write the tokens (they carry iat/exp) to FILE
 *   bench/jwt [--tokens FILE] --one NAME --iters N
 *                                      set everything up, then run case NAME N times
 *
 * Keys are fixed (embedded below) so that two processes reading the same --tokens file
 * verify identical bytes; bench/measure.sh relies on that to subtract the setup cost of
 * a 200-iteration run from a 1200-iteration run under valgrind.
 */
/* For the SHA256_CTX row only: the low-level SHA-256 API is deprecated in OpenSSL 3. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <sodium.h>

#include <jansson.h>
#include <jwt.h>
#include <cjose/cjose.h>
#include <jose/jose.h>
#ifdef BENCH_HAVE_CJSON
#include <cjson/cJSON.h>
#endif

#ifndef BENCH_NO_LATCHKEY
#include "latchkey.h"
#ifdef BENCH_LK_JSON
#include "../src/jose/json.h" /* internal: the JSON row only */
#endif
#endif

#include "bench.h"

#define ISS "https://auth.example.com"
#define AUD "https://api.example.com"

/* ------------------------------------------------------------------ fixed keys */

static const uint8_t HS_SECRET[32] = {
	0x3b, 0x8e, 0x1f, 0x62, 0xa4, 0x07, 0xd9, 0x5c, 0x71, 0x2e, 0xf0, 0x93, 0x4a, 0xbd,
	0x16, 0xc8, 0x5f, 0xe2, 0x39, 0x80, 0x0d, 0x64, 0xab, 0x17, 0xce, 0x52, 0x96, 0x3d,
	0xf1, 0x28, 0x7a, 0xb5,
};
static const uint8_t ED_SEED[32] = {
	0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
	0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
	0x1c, 0xae, 0x7f, 0x60,
};
static const char RSA_PRIV_PEM[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCtfxI7UVZBuzZW\n"
	"iPZMaQ1sRN3jiT6dPATYANnCP1ZSC2Ub2JX/7w5cCX2AT/ZTZGSjeBUxvPpFzNp2\n"
	"ncxupbCiqH+FT7cZI8eHRGFlkusZiDND+/dX2uIaxvENwJI4OXAcI+w25lFJ6Lah\n"
	"IncvO1CsgaxoqYJU6oxyirW6TdyLEYPNR+lgKEpl5vNaxf2xB8lsAdpxc9LACBb2\n"
	"ZfgUv3JZsYWra8fVFXe6QRW04vmOocScAxWVhKBke1fNrXISpeYYaMQoso2L3c0P\n"
	"Kc3jlD2ZanYmL38icMdjDYJQrhGl+I+fhJ4rLgZvS2XojXnnxZDzQCuHE3RVEw1q\n"
	"DhZXmfOBAgMBAAECggEAK1bJxB2OUX8llLpD5FR9sOUHFJatGHPstdSIkPhnZLlJ\n"
	"+YnB9pvN13nbatkOrEgwx5DwomsVjagdjnHepmknVYqHyFJgZ5xDdGvFdK0do1Qd\n"
	"kkb3w29++bdmccv/+qGGetESaahg9/h03o2QfjDv9xexbLejQfkROm+h87cNd4Nv\n"
	"RmKNCxjOTgDbv+ivP3BmeYckXO5aLE1NCVt9sRgSnVUmmBUhHz5B4P4Nhe8jMtLa\n"
	"tvSUwwUEPbPpT7BJRN5XW55GDfXr/SqbbfLKluGb7tCD0F4xVHAXXLOd5s50A1uj\n"
	"YFYn7fVu/0oGP4KJrvqJAt/44R+e8ICHmUfa2QpEzQKBgQDxkA0Tlks4HfZKwFgY\n"
	"ec6mTuiSOE5v1kAKo5ZzwZ1TKS8rrQy0q/VaH3bf/DDGrxmmGqQIIjulrGYXTpPz\n"
	"h/wU5UjBJ4ibapoMYXc90mXKfuItZDYE2qdy7BIGskrP4jyXYGexO9gqL2z23VXD\n"
	"lDPSe7sr1M399CPFbyelmy+R/wKBgQC33ZgbBVXBMDswuwLG1I6AzGptJFpNPsNq\n"
	"BzYM9IvZ1MypYZBUWOBMJz8DYoYNYBIEXNJyBU+HAbOYmpiwjDOwTJqpOf2VUg9H\n"
	"ouN72mKGbMMyNdz9s/WeQsz3wekNqegeRvBi0tKdxEk+lz0CoQCZBkYP5S3NUhpk\n"
	"VWsDJpN6fwKBgQC6WCF+RqZn99US/SX4W56qdJy8j2sSovhsPJ3HVkiC6nZU/v2a\n"
	"Mjzm9PbC+sy1uEXU+SAolh/lQgTPXfKMHw67H9TsDA85tRZ5DobpzfBwMUlRMsjp\n"
	"HbOm161gNRG5JBERxXC4LC4o/MTV+xA5+42uhXxx54uwqDEgEQtImVotCQKBgQC2\n"
	"p1NgnHcpWNGkQlOq1CPQvcGINRHkJNKaNRmz2whHWMgMCFkKAdSosmA965VCGksr\n"
	"vE5vaOktNDqHAiVnVZBPtnn6XRqWSRPW1XFpa3RvGAL9kVa9ThZVpwTZp+/uW/i0\n"
	"g0Jw2gDTK9ibbkD0qJ7gZcQaLFDI5KRFQjnxwlPF3wKBgALOiUlqWOANpi2+4Vl/\n"
	"WMABYBtz5sjeecpRMuo+L8hdnMoNU8j/LUbVdOMERabSMiqr5G72Ui2Kko3woL2x\n"
	"C+P8qBNJt/V7iN5xyOKSWC0aidLAgLBz6VjPd3KVDcp2zLAFYr0ZxoEOvFK7Xqy3\n"
	"e/LXz0Tm1hvIeX/3KGozMTkk\n"
	"-----END PRIVATE KEY-----\n";
static const char EC_PRIV_PEM[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+5Wz/3YXxmNKuzIN\n"
	"KHe2OSHuDUlK7EnCh689+8Y9Nc2hRANCAARimcDlWlLNIz4zqwO84DFIduEUaRgg\n"
	"EGZ95oNSZSmzhoNdizQ45uTb5eprdN50ridKzZ02u+N4UBYq07GxAH6v\n"
	"-----END PRIVATE KEY-----\n";

/* ------------------------------------------------------------------ helpers */

static void die(const char *what)
{
	fprintf(stderr, "bench/jwt: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		die("out of memory");
	return p;
}

static const char B64URL[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64e(const void *in, size_t n, char *out)
{
	const uint8_t *p = in;
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = B64URL[v >> 18];
		out[o++] = B64URL[v >> 12 & 63];
		out[o++] = B64URL[v >> 6 & 63];
		out[o++] = B64URL[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		out[o++] = B64URL[v >> 18];
		out[o++] = B64URL[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = B64URL[v >> 18];
		out[o++] = B64URL[v >> 12 & 63];
		out[o++] = B64URL[v >> 6 & 63];
	}
	out[o] = 0;
	return o;
}

static char *b64e_dup(const void *in, size_t n)
{
	char *s = xmalloc(n / 3 * 4 + 5);
	b64e(in, n, s);
	return s;
}

/* Lenient decoder for setup only (the tokens are our own). */
static size_t b64d(const char *in, size_t n, uint8_t *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		const char *c = memchr(B64URL, in[i], 64);
		if (!c)
			die("bad base64url in setup");
		acc = acc << 6 | (uint32_t)(c - B64URL);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o;
}

static char *bio_text(BIO *b)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *s = xmalloc((size_t)n + 1);
	memcpy(s, data, (size_t)n);
	s[n] = 0;
	return s;
}

static char *bn_b64(EVP_PKEY *pk, const char *param)
{
	BIGNUM *bn = NULL;
	if (!EVP_PKEY_get_bn_param(pk, param, &bn))
		die("EVP_PKEY_get_bn_param");
	uint8_t buf[512];
	int n = BN_bn2bin(bn, buf);
	BN_free(bn);
	return b64e_dup(buf, (size_t)n);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------ per-algorithm state */

enum kind { K_HS, K_RS, K_ES, K_ED };

struct alg {
	const char *name;
	enum kind kind;
	/* the token under test (typ at+jwt) and the same claims with typ JWT (libjwt) */
	char *token, *token_jwt;
	size_t toklen, toklen_jwt;
	size_t silen;               /* signing input = token[0..silen) */
	uint8_t sig[512];           /* JOSE signature bytes */
	size_t siglen;
	uint8_t der[80];            /* ES256: the same signature as DER */
	size_t derlen;
	EVP_PKEY *priv, *pub;
	uint8_t ed_pk[32], ed_sk[64];
	char *jwk;                  /* public JWK (oct: with k), kid k1 */
	char *pem;                  /* public key PEM (libjwt) */
	/* floors */
	EVP_MAC_CTX *mac;
	EVP_MD *md;
	EVP_PKEY_CTX *pctx;
	EVP_MD_CTX *mdctx;
	crypto_auth_hmacsha256_state sodium_hmac;   /* keyed once, copied per op */
	SHA256_CTX sha_in, sha_out;                  /* HMAC ipad/opad states, copied per op */
	/* peers */
	cjose_jwk_t *cj;
	json_t *jose_jwk;
#ifndef BENCH_NO_LATCHKEY
	lk_jwks *lk;
#endif
};

static struct alg algs[] = {
	{ .name = "HS256", .kind = K_HS },
	{ .name = "RS256", .kind = K_RS },
	{ .name = "ES256", .kind = K_ES },
	{ .name = "EdDSA", .kind = K_ED },
};
#define NALGS (sizeof algs / sizeof algs[0])

static char claims[256];   /* the decoded payload of every token */
static size_t claims_len;

static void load_keys(void)
{
	for (size_t i = 0; i < NALGS; i++) {
		struct alg *a = &algs[i];
		char buf[2048];
		if (a->kind == K_HS) {
			char *k = b64e_dup(HS_SECRET, sizeof HS_SECRET);
			snprintf(buf, sizeof buf,
				 "{\"kty\":\"oct\",\"kid\":\"k1\",\"alg\":\"HS256\",\"k\":\"%s\"}", k);
			free(k);
		} else if (a->kind == K_ED) {
			crypto_sign_seed_keypair(a->ed_pk, a->ed_sk, ED_SEED);
			a->pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, a->ed_pk, 32);
			if (!a->pub)
				die("Ed25519 public key");
			char *x = b64e_dup(a->ed_pk, 32);
			snprintf(buf, sizeof buf,
				 "{\"kty\":\"OKP\",\"kid\":\"k1\",\"alg\":\"EdDSA\",\"crv\":\"Ed25519\","
				 "\"x\":\"%s\"}", x);
			free(x);
		} else {
			const char *pem = a->kind == K_RS ? RSA_PRIV_PEM : EC_PRIV_PEM;
			BIO *b = BIO_new_mem_buf(pem, -1);
			a->priv = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
			BIO_free(b);
			if (!a->priv)
				die("embedded private key");
			/* the public half as its own EVP_PKEY, the way a verifier holds it */
			b = BIO_new(BIO_s_mem());
			if (!PEM_write_bio_PUBKEY(b, a->priv))
				die("PEM_write_bio_PUBKEY");
			a->pem = bio_text(b);
			a->pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
			BIO_free(b);
			if (!a->pub)
				die("public key");
			if (a->kind == K_RS) {
				char *n = bn_b64(a->pub, OSSL_PKEY_PARAM_RSA_N);
				char *e = bn_b64(a->pub, OSSL_PKEY_PARAM_RSA_E);
				snprintf(buf, sizeof buf,
					 "{\"kty\":\"RSA\",\"kid\":\"k1\",\"alg\":\"RS256\",\"n\":\"%s\","
					 "\"e\":\"%s\"}", n, e);
				free(n);
				free(e);
			} else {
				uint8_t pt[65];
				size_t ptlen = 0;
				if (!EVP_PKEY_get_octet_string_param(
					    a->pub, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof pt,
					    &ptlen) || ptlen != 65 || pt[0] != 4)
					die("EC public point");
				char *x = b64e_dup(pt + 1, 32), *y = b64e_dup(pt + 33, 32);
				snprintf(buf, sizeof buf,
					 "{\"kty\":\"EC\",\"kid\":\"k1\",\"alg\":\"ES256\",\"crv\":\"P-256\","
					 "\"x\":\"%s\",\"y\":\"%s\"}", x, y);
				free(x);
				free(y);
			}
		}
		a->jwk = strdup(buf);
	}
}

/* Sign header.payload with a's private key; returns the compact token. */
static char *sign_token(struct alg *a, const char *typ, const char *payload)
{
	char hdr[128], si[1024];
	snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"typ\":\"%s\",\"kid\":\"k1\"}", a->name, typ);
	size_t n = b64e(hdr, strlen(hdr), si);
	si[n++] = '.';
	n += b64e(payload, strlen(payload), si + n);

	uint8_t sig[512];
	size_t siglen = sizeof sig;
	if (a->kind == K_HS) {
		if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, HS_SECRET, sizeof HS_SECRET,
			       (const uint8_t *)si, n, sig, sizeof sig, &siglen))
			die("HMAC sign");
	} else if (a->kind == K_ED) {
		unsigned long long sl;
		crypto_sign_detached(sig, &sl, (const uint8_t *)si, n, a->ed_sk);
		siglen = (size_t)sl;
	} else {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		uint8_t der[512];
		size_t derlen = sizeof der;
		if (!m || EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, a->priv) != 1 ||
		    EVP_DigestSign(m, der, &derlen, (const uint8_t *)si, n) != 1)
			die("DigestSign");
		EVP_MD_CTX_free(m);
		if (a->kind == K_RS) {
			memcpy(sig, der, derlen);
			siglen = derlen;
		} else { /* DER -> JOSE r||s */
			const uint8_t *p = der;
			ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
			if (!es)
				die("d2i_ECDSA_SIG");
			if (BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32) != 32 ||
			    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32) != 32)
				die("ECDSA r/s");
			ECDSA_SIG_free(es);
			siglen = 64;
		}
	}
	char *tok = xmalloc(n + 1 + siglen / 3 * 4 + 5);
	memcpy(tok, si, n);
	tok[n] = '.';
	b64e(sig, siglen, tok + n + 1);
	return tok;
}

static void make_tokens(void)
{
	/* 16 random bytes as base64url: 22 characters, like a typical jti */
	static const uint8_t jti_raw[16] = { 0x5e, 0xa1, 0x07, 0xcc, 0x93, 0x2b, 0x71, 0xf4,
					     0x0d, 0x8a, 0x36, 0xe9, 0x52, 0xbf, 0x14, 0x68 };
	char jti[32];
	b64e(jti_raw, sizeof jti_raw, jti);
	long long now = (long long)time(NULL);
	snprintf(claims, sizeof claims,
		 "{\"iss\":\"" ISS "\",\"sub\":\"user-8f14e45f\",\"aud\":\"" AUD "\","
		 "\"exp\":%lld,\"iat\":%lld,\"jti\":\"%s\",\"roles\":[\"reader\",\"writer\"]}",
		 now + 900, now, jti);
	for (size_t i = 0; i < NALGS; i++) {
		algs[i].token = sign_token(&algs[i], "at+jwt", claims);
		algs[i].token_jwt = sign_token(&algs[i], "JWT", claims);
	}
}

static void write_tokens(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("cannot write the tokens file");
	for (size_t i = 0; i < NALGS; i++)
		fprintf(f, "%s %s\n%s-JWT %s\n", algs[i].name, algs[i].token, algs[i].name,
			algs[i].token_jwt);
	if (fclose(f))
		die("cannot write the tokens file");
}

static void read_tokens(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot read the tokens file");
	char name[32], tok[4096];
	while (fscanf(f, "%31s %4095s", name, tok) == 2) {
		for (size_t i = 0; i < NALGS; i++) {
			size_t nl = strlen(algs[i].name);
			if (!strcmp(name, algs[i].name))
				algs[i].token = strdup(tok);
			else if (!strncmp(name, algs[i].name, nl) && !strcmp(name + nl, "-JWT"))
				algs[i].token_jwt = strdup(tok);
		}
	}
	fclose(f);
	for (size_t i = 0; i < NALGS; i++)
		if (!algs[i].token || !algs[i].token_jwt)
			die("tokens file lacks an algorithm");
	/* claims: the payload of the first token */
	const char *p = strchr(algs[0].token, '.') + 1, *q = strchr(p, '.');
	claims_len = b64d(p, (size_t)(q - p), (uint8_t *)claims);
	claims[claims_len] = 0;
}

/* Split each token: signing input length and raw signature (done once, outside the loops). */
static void parse_tokens(void)
{
	claims_len = strlen(claims);
	for (size_t i = 0; i < NALGS; i++) {
		struct alg *a = &algs[i];
		a->toklen = strlen(a->token);
		a->toklen_jwt = strlen(a->token_jwt);
		const char *dot = strrchr(a->token, '.');
		a->silen = (size_t)(dot - a->token);
		size_t b64len = a->toklen - a->silen - 1;
		if (b64len / 4 * 3 + 3 > sizeof a->sig)
			die("signature too long");
		a->siglen = b64d(dot + 1, b64len, a->sig);
		if (a->kind == K_ES) { /* JOSE r||s -> DER, for EVP_PKEY_verify */
			ECDSA_SIG *es = ECDSA_SIG_new();
			BIGNUM *r = BN_bin2bn(a->sig, 32, NULL), *s = BN_bin2bn(a->sig + 32, 32, NULL);
			if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s))
				die("ECDSA_SIG");
			uint8_t *p = a->der;
			int n = i2d_ECDSA_SIG(es, NULL);
			if (n <= 0 || (size_t)n > sizeof a->der)
				die("i2d_ECDSA_SIG");
			a->derlen = (size_t)i2d_ECDSA_SIG(es, &p);
			ECDSA_SIG_free(es);
		}
	}
}

/* ------------------------------------------------------------------ cases */

struct bcase;
typedef int (*run_fn)(const struct bcase *);

struct bcase {
	const char *name;
	int alg;                 /* index into algs, or -1 (JSON rows) */
	const char *desc;
	int (*setup)(struct bcase *);
	run_fn run;
	const char *na;          /* set when the case cannot run: the reason */
};

/* --- floors */

static int setup_floor(struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	switch (a->kind) {
	case K_HS: {
		EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		OSSL_PARAM prm[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
								       (char *)"SHA256", 0),
				     OSSL_PARAM_construct_end() };
		a->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
		EVP_MAC_free(mac);
		if (!a->mac || !EVP_MAC_init(a->mac, HS_SECRET, sizeof HS_SECRET, prm))
			return -1;
		return 0;
	}
	case K_RS:
	case K_ES:
		a->md = EVP_MD_fetch(NULL, "SHA256", NULL);
		a->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, a->pub, NULL);
		if (!a->md || !a->pctx || EVP_PKEY_verify_init(a->pctx) != 1)
			return -1;
		if (a->kind == K_RS && EVP_PKEY_CTX_set_rsa_padding(a->pctx, RSA_PKCS1_PADDING) != 1)
			return -1;
		if (EVP_PKEY_CTX_set_signature_md(a->pctx, a->md) != 1)
			return -1;
		return 0;
	case K_ED:
		return 0;
	}
	return -1;
}

static int run_floor_hs(const struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	uint8_t mac[EVP_MAX_MD_SIZE];
	size_t ml = 0;
	if (!EVP_MAC_init(a->mac, NULL, 0, NULL) ||
	    !EVP_MAC_update(a->mac, (const uint8_t *)a->token, a->silen) ||
	    !EVP_MAC_final(a->mac, mac, &ml, sizeof mac))
		return -1;
	return ml == a->siglen && CRYPTO_memcmp(mac, a->sig, ml) == 0 ? 0 : -1;
}

/* Two zero-allocation HMAC-SHA256 alternatives, for the record (OpenSSL 3.0's EVP_MAC
 * HMAC duplicates its digest context, i.e. mallocs, in both init and final). */
static int setup_floor_sodium_hs(struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	return crypto_auth_hmacsha256_init(&a->sodium_hmac, HS_SECRET, sizeof HS_SECRET);
}

static int run_floor_sodium_hs(const struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	crypto_auth_hmacsha256_state st = a->sodium_hmac;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)a->token, a->silen);
	crypto_auth_hmacsha256_final(&st, mac);
	return a->siglen == sizeof mac && crypto_verify_32(mac, a->sig) == 0 ? 0 : -1;
}

static int setup_floor_sha256ctx(struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	uint8_t pad[64];
	memset(pad, 0x36, sizeof pad);
	for (size_t i = 0; i < sizeof HS_SECRET; i++)
		pad[i] ^= HS_SECRET[i];
	if (!SHA256_Init(&a->sha_in) || !SHA256_Update(&a->sha_in, pad, sizeof pad))
		return -1;
	for (size_t i = 0; i < sizeof pad; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	if (!SHA256_Init(&a->sha_out) || !SHA256_Update(&a->sha_out, pad, sizeof pad))
		return -1;
	return 0;
}

static int run_floor_sha256ctx(const struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	uint8_t h[SHA256_DIGEST_LENGTH], mac[SHA256_DIGEST_LENGTH];
	SHA256_CTX s = a->sha_in;
	SHA256_Update(&s, a->token, a->silen);
	SHA256_Final(h, &s);
	s = a->sha_out;
	SHA256_Update(&s, h, sizeof h);
	SHA256_Final(mac, &s);
	return a->siglen == sizeof mac && CRYPTO_memcmp(mac, a->sig, sizeof mac) == 0 ? 0 : -1;
}

static int run_floor_pk(const struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned hl = 0;
	if (!EVP_Digest(a->token, a->silen, h, &hl, a->md, NULL))
		return -1;
	const uint8_t *sig = a->kind == K_ES ? a->der : a->sig;
	size_t sl = a->kind == K_ES ? a->derlen : a->siglen;
	return EVP_PKEY_verify(a->pctx, sig, sl, h, hl) == 1 ? 0 : -1;
}

static int run_floor_sodium(const struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	if (a->siglen != crypto_sign_BYTES)
		return -1;
	return crypto_sign_verify_detached(a->sig, (const uint8_t *)a->token, a->silen,
					   a->ed_pk);
}

static int setup_floor_ossl_ed(struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	a->mdctx = EVP_MD_CTX_new();
	return a->mdctx ? 0 : -1;
}

static int run_floor_ossl_ed(const struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	if (EVP_DigestVerifyInit(a->mdctx, NULL, NULL, NULL, a->pub) != 1)
		return -1;
	return EVP_DigestVerify(a->mdctx, a->sig, a->siglen, (const uint8_t *)a->token,
				a->silen) == 1 ? 0 : -1;
}

/* --- libjwt 1.10: jwt_decode with the key verifies the signature and parses header and
 * claims with jansson; it checks no claim (exp needs the separate jwt_valid API). */

static int setup_libjwt(struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	if (a->kind == K_ED) {
		c->na = "libjwt 1.10.2 has no EdDSA (its jwt_alg_t ends at ES512)";
		return 0;
	}
	/* the token under test, with typ "at+jwt", is refused by libjwt 1.x */
	jwt_t *j = NULL;
	const uint8_t *key = a->kind == K_HS ? HS_SECRET : (const uint8_t *)a->pem;
	int klen = a->kind == K_HS ? (int)sizeof HS_SECRET : (int)strlen(a->pem);
	int r = jwt_decode(&j, a->token, key, klen);
	if (j)
		jwt_free(j);
	if (r == 0) {
		fprintf(stderr, "note: libjwt accepted typ at+jwt; bench/jwt expects it not to\n");
		return -1;
	}
	return 0;
}

static int run_libjwt(const struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	jwt_t *j = NULL;
	int r = a->kind == K_HS
			? jwt_decode(&j, a->token_jwt, HS_SECRET, (int)sizeof HS_SECRET)
			: jwt_decode(&j, a->token_jwt, (const uint8_t *)a->pem, (int)strlen(a->pem));
	if (j)
		jwt_free(j);
	return r == 0 ? 0 : -1;
}

/* --- cjose 0.6: cjose_jws_import (parses the header with jansson, decodes the payload)
 * + cjose_jws_verify against a JWK imported once. No claims: the payload is bytes. */

static int setup_cjose(struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	if (a->kind == K_ED) {
		c->na = "cjose 0.6.2.1 has no OKP keys and no EdDSA";
		return 0;
	}
	cjose_err err;
	a->cj = cjose_jwk_import(a->jwk, strlen(a->jwk), &err);
	return a->cj ? 0 : -1;
}

static int run_cjose(const struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	cjose_err err;
	cjose_jws_t *jws = cjose_jws_import(a->token, a->toklen, &err);
	if (!jws)
		return -1;
	bool ok = cjose_jws_verify(jws, a->cj, &err);
	cjose_jws_release(jws);
	return ok ? 0 : -1;
}

/* --- latchset jose 11: the compact token becomes the flattened JSON form
 * {"protected","payload","signature"} (as `jose jws ver` does), then jose_jws_ver with a
 * JWK (a jansson object) loaded once. No claims: jose only verifies. */

static int setup_jose(struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	if (a->kind == K_ED) {
		c->na = "libjose 11 has no OKP keys and no EdDSA";
		return 0;
	}
	a->jose_jwk = json_loads(a->jwk, 0, NULL);
	return a->jose_jwk ? 0 : -1;
}

static int run_jose(const struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	const char *t = a->token, *end = t + a->toklen;
	const char *d1 = memchr(t, '.', a->toklen);
	if (!d1)
		return -1;
	const char *d2 = memchr(d1 + 1, '.', (size_t)(end - d1 - 1));
	if (!d2)
		return -1;
	json_t *jws = json_pack("{s:s%,s:s%,s:s%}", "protected", t, (size_t)(d1 - t), "payload",
				d1 + 1, (size_t)(d2 - d1 - 1), "signature", d2 + 1,
				(size_t)(end - d2 - 1));
	if (!jws)
		return -1;
	bool ok = jose_jws_ver(NULL, jws, NULL, a->jose_jwk, false);
	json_decref(jws);
	return ok ? 0 : -1;
}

/* --- latchkey */

#ifndef BENCH_NO_LATCHKEY
static const struct lk_verify_opts lk_opts = { .iss = ISS, .aud = AUD, .now = 0 };

static int setup_latchkey(struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	lk_jwk *k = NULL;
	struct lk_errinfo ei = { 0 };
	if (lk_jwk_parse(a->jwk, strlen(a->jwk), &k, &ei) != LK_OK) {
		fprintf(stderr, "lk_jwk_parse(%s): %s %s\n", a->name, lk_err_str(ei.code),
			ei.detail);
		return -1;
	}
	enum lk_err e = lk_jwks_new(&k, 1, &a->lk);
	lk_jwk_free(k);
	return e == LK_OK ? 0 : -1;
}

static int run_latchkey(const struct bcase *c)
{
	struct alg *a = &algs[c->alg];
	lk_jwt *jwt = NULL;
	enum lk_err e = lk_jwt_verify(a->lk, a->token, a->toklen, &lk_opts, &jwt, NULL);
	lk_jwt_free(jwt);
	return e == LK_OK ? 0 : -1;
}
#endif

/* --- JSON libraries: one parse of the claims payload into their tree, then free */

static int setup_none(struct bcase *c) { (void)c; return 0; }

static int run_jansson(const struct bcase *c)
{
	(void)c;
	json_error_t err;
	json_t *o = json_loadb(claims, claims_len, 0, &err);
	if (!o)
		return -1;
	json_decref(o);
	return 0;
}

static int run_jansson_nodup(const struct bcase *c)
{
	(void)c;
	json_error_t err;
	json_t *o = json_loadb(claims, claims_len, JSON_REJECT_DUPLICATES, &err);
	if (!o)
		return -1;
	json_decref(o);
	return 0;
}

static int setup_jsonc(struct bcase *c)
{
	if (bench_jsonc_setup() != 0)
		c->na = "libjson-c-dev not installed when bench/jwt was built";
	return 0;
}

static int run_jsonc(const struct bcase *c)
{
	(void)c;
	return bench_jsonc_parse(claims, claims_len);
}

#ifdef BENCH_HAVE_CJSON
static int run_cjson(const struct bcase *c)
{
	(void)c;
	cJSON *o = cJSON_ParseWithLength(claims, claims_len);
	if (!o)
		return -1;
	cJSON_Delete(o);
	return 0;
}
#endif

static int setup_cjson(struct bcase *c)
{
#ifndef BENCH_HAVE_CJSON
	c->na = "libcjson-dev not installed when bench/jwt was built";
#endif
	(void)c;
	return 0;
}

#if !defined(BENCH_NO_LATCHKEY) && defined(BENCH_LK_JSON)
static int run_lk_json(const struct bcase *c)
{
	(void)c;
	struct lk_jmember m[16];
	size_t n = 0;
	return lk_json_scan(claims, claims_len, m, 16, &n) == LK_OK && n == 7 ? 0 : -1;
}
#endif

#define A_HS 0
#define A_RS 1
#define A_ES 2
#define A_ED 3

static struct bcase cases[] = {
	{ "HS256/floor", A_HS, "EVP_MAC HMAC-SHA256 (ctx keyed once) + CRYPTO_memcmp",
	  setup_floor, run_floor_hs, NULL },
	{ "HS256/floor-sodium", A_HS,
	  "libsodium crypto_auth_hmacsha256 state keyed once, copied per op (for the record)",
	  setup_floor_sodium_hs, run_floor_sodium_hs, NULL },
	{ "HS256/floor-sha256ctx", A_HS,
	  "OpenSSL SHA256_CTX ipad/opad states copied per op, deprecated API (for the record)",
	  setup_floor_sha256ctx, run_floor_sha256ctx, NULL },
	{ "HS256/libjwt", A_HS, "libjwt jwt_decode (typ JWT token; no claim checked)",
	  setup_libjwt, run_libjwt, NULL },
	{ "HS256/cjose", A_HS, "cjose_jws_import + cjose_jws_verify (no claims)", setup_cjose,
	  run_cjose, NULL },
	{ "HS256/jose", A_HS, "compact->JSON + jose_jws_ver (no claims)", setup_jose, run_jose,
	  NULL },
#ifndef BENCH_NO_LATCHKEY
	{ "HS256/latchkey", A_HS, "lk_jwt_verify + lk_jwt_free (iss, aud, exp, iat checked)",
	  setup_latchkey, run_latchkey, NULL },
#endif
	{ "RS256/floor", A_RS, "EVP_Digest SHA-256 + EVP_PKEY_verify (ctx made once)",
	  setup_floor, run_floor_pk, NULL },
	{ "RS256/libjwt", A_RS, "libjwt jwt_decode with PEM key (typ JWT token; no claim checked)",
	  setup_libjwt, run_libjwt, NULL },
	{ "RS256/cjose", A_RS, "cjose_jws_import + cjose_jws_verify (no claims)", setup_cjose,
	  run_cjose, NULL },
	{ "RS256/jose", A_RS, "compact->JSON + jose_jws_ver (no claims)", setup_jose, run_jose,
	  NULL },
#ifndef BENCH_NO_LATCHKEY
	{ "RS256/latchkey", A_RS, "lk_jwt_verify + lk_jwt_free (iss, aud, exp, iat checked)",
	  setup_latchkey, run_latchkey, NULL },
#endif
	{ "ES256/floor", A_ES,
	  "EVP_Digest SHA-256 + EVP_PKEY_verify (ctx made once, DER sig made once)", setup_floor,
	  run_floor_pk, NULL },
	{ "ES256/libjwt", A_ES, "libjwt jwt_decode with PEM key (typ JWT token; no claim checked)",
	  setup_libjwt, run_libjwt, NULL },
	{ "ES256/cjose", A_ES, "cjose_jws_import + cjose_jws_verify (no claims)", setup_cjose,
	  run_cjose, NULL },
	{ "ES256/jose", A_ES, "compact->JSON + jose_jws_ver (no claims)", setup_jose, run_jose,
	  NULL },
#ifndef BENCH_NO_LATCHKEY
	{ "ES256/latchkey", A_ES, "lk_jwt_verify + lk_jwt_free (iss, aud, exp, iat checked)",
	  setup_latchkey, run_latchkey, NULL },
#endif
	{ "EdDSA/floor", A_ED, "libsodium crypto_sign_verify_detached", setup_floor,
	  run_floor_sodium, NULL },
	{ "EdDSA/floor-openssl", A_ED,
	  "OpenSSL EVP_DigestVerifyInit + EVP_DigestVerify Ed25519 (for the record)",
	  setup_floor_ossl_ed, run_floor_ossl_ed, NULL },
	{ "EdDSA/libjwt", A_ED, "libjwt", setup_libjwt, run_libjwt, NULL },
	{ "EdDSA/cjose", A_ED, "cjose", setup_cjose, run_cjose, NULL },
	{ "EdDSA/jose", A_ED, "jose", setup_jose, run_jose, NULL },
#ifndef BENCH_NO_LATCHKEY
	{ "EdDSA/latchkey", A_ED, "lk_jwt_verify + lk_jwt_free (iss, aud, exp, iat checked)",
	  setup_latchkey, run_latchkey, NULL },
#endif
	{ "JSON/jansson", -1, "json_loadb + json_decref", setup_none, run_jansson, NULL },
	{ "JSON/jansson-nodup", -1, "json_loadb(JSON_REJECT_DUPLICATES) + json_decref",
	  setup_none, run_jansson_nodup, NULL },
	{ "JSON/json-c", -1, "json_tokener_parse_ex (tokener reused) + json_object_put",
	  setup_jsonc, run_jsonc, NULL },
	{ "JSON/cJSON", -1, "cJSON_ParseWithLength + cJSON_Delete", setup_cjson,
#ifdef BENCH_HAVE_CJSON
	  run_cjson,
#else
	  NULL,
#endif
	  NULL },
#if !defined(BENCH_NO_LATCHKEY) && defined(BENCH_LK_JSON)
	{ "JSON/latchkey-scan", -1,
	  "latchkey's internal lk_json_scan (validates, no tree, no allocation)", setup_none,
	  run_lk_json, NULL },
#endif
};
#define NCASES (sizeof cases / sizeof cases[0])
#define NCASES_MAX 64
_Static_assert(NCASES <= NCASES_MAX, "raise NCASES_MAX");

static void setup_all(const char *tokens)
{
	load_keys();
	if (tokens)
		read_tokens(tokens);
	else
		make_tokens();
	parse_tokens();
	for (size_t i = 0; i < NCASES; i++) {
		struct bcase *c = &cases[i];
		if (c->setup(c) != 0) {
			fprintf(stderr, "bench/jwt: setup of %s failed\n", c->name);
			die("setup");
		}
		/* every runnable case must verify the token once before it is measured */
		if (!c->na && c->run(c) != 0) {
			fprintf(stderr, "bench/jwt: %s does not verify the token\n", c->name);
			die("sanity check");
		}
	}
}

static double cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One timed run: wall ns (CLOCK_MONOTONIC) returned, thread CPU ns in *cpu. */
static double run_ns(const struct bcase *c, long iters, double *cpu)
{
	long fails = 0;
	double c0 = cpu_ns(), t0 = now_ns();
	for (long i = 0; i < iters; i++)
		fails += c->run(c) != 0;
	double t1 = now_ns(), c1 = cpu_ns();
	if (fails) {
		fprintf(stderr, "bench/jwt: %s failed %ld times\n", c->name, fails);
		exit(1);
	}
	if (cpu)
		*cpu = c1 - c0;
	return t1 - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#define RUNS 5
#define MIN_RUN_NS 0.2e9
#define TARGET_RUN_NS 0.25e9

/*
 * Every case: calibrate, then RUNS rounds over all cases (interleaved, so that a burst of
 * load elsewhere on the machine spreads over many cases instead of spoiling one), each
 * run >= 0.2 s of CLOCK_MONOTONIC. Prints the median wall ns/op and, to show whether the
 * process was descheduled, the median thread-CPU ns/op.
 */
static void time_all(void)
{
	static long iters[NCASES_MAX];
	static double wall[NCASES_MAX][RUNS], cpu[NCASES_MAX][RUNS];
	for (size_t i = 0; i < NCASES; i++) {
		if (cases[i].na)
			continue;
		long n = 1;
		double t;
		while ((t = run_ns(&cases[i], n, NULL)) < 0.05e9)
			n *= 2;
		iters[i] = (long)((double)n * TARGET_RUN_NS / t) + 1;
	}
	for (int r = 0; r < RUNS; r++) {
		for (size_t i = 0; i < NCASES; i++) {
			if (cases[i].na)
				continue;
			double c, ns = run_ns(&cases[i], iters[i], &c);
			while (ns < MIN_RUN_NS) { /* the machine sped up: lengthen and redo */
				iters[i] = (long)((double)iters[i] * TARGET_RUN_NS / ns) + 1;
				ns = run_ns(&cases[i], iters[i], &c);
			}
			wall[i][r] = ns / (double)iters[i];
			cpu[i][r] = c / (double)iters[i];
		}
	}
	printf("# case\tns/op (median of %d, CLOCK_MONOTONIC)\titers/run\tmin\tmax"
	       "\tthread-CPU ns/op (median)\n", RUNS);
	for (size_t i = 0; i < NCASES; i++) {
		if (cases[i].na) {
			printf("%s\tn/a\t%s\n", cases[i].name, cases[i].na);
			continue;
		}
		qsort(wall[i], RUNS, sizeof(double), cmp_double);
		qsort(cpu[i], RUNS, sizeof(double), cmp_double);
		printf("%s\t%.1f\t%ld\t%.1f\t%.1f\t%.1f\n", cases[i].name, wall[i][RUNS / 2],
		       iters[i], wall[i][0], wall[i][RUNS - 1], cpu[i][RUNS / 2]);
	}
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench/jwt [--tokens FILE] [--one NAME --iters N]\n"
			"       bench/jwt --gen FILE | --list | --versions\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *tokens = NULL, *one = NULL, *gen = NULL;
	long iters = 0;
	bool list = false, versions = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tokens") && i + 1 < argc)
			tokens = argv[++i];
		else if (!strcmp(argv[i], "--one") && i + 1 < argc)
			one = argv[++i];
		else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--gen") && i + 1 < argc)
			gen = argv[++i];
		else if (!strcmp(argv[i], "--list"))
			list = true;
		else if (!strcmp(argv[i], "--versions"))
			versions = true;
		else
			usage();
	}
	if (sodium_init() < 0)
		die("sodium_init");
	if (versions) {
		printf("openssl\t%s\nlibsodium\t%s\njansson\t%s\n", OpenSSL_version(OPENSSL_VERSION),
		       sodium_version_string(), jansson_version_str());
		const char *jc = bench_jsonc_version();
		if (jc)
			printf("json-c\t%s\n", jc);
#ifdef BENCH_HAVE_CJSON
		printf("cJSON\t%s\n", cJSON_Version());
#endif
		return 0;
	}
	if (gen) {
		load_keys();
		make_tokens();
		write_tokens(gen);
		return 0;
	}
	setup_all(tokens);
	if (list) {
		for (size_t i = 0; i < NCASES; i++)
			printf("%s\t%s\t%s\n", cases[i].name, cases[i].na ? "n/a" : "ok",
			       cases[i].na ? cases[i].na : cases[i].desc);
		printf("#token\t%s\t%zu bytes\n", algs[0].name, algs[0].toklen);
		for (size_t i = 1; i < NALGS; i++)
			printf("#token\t%s\t%zu bytes\n", algs[i].name, algs[i].toklen);
		printf("#claims\t%zu bytes\t%s\n", claims_len, claims);
		return 0;
	}
	if (one) {
		if (iters <= 0)
			usage();
		for (size_t i = 0; i < NCASES; i++) {
			if (strcmp(cases[i].name, one))
				continue;
			if (cases[i].na) {
				fprintf(stderr, "bench/jwt: %s is n/a: %s\n", one, cases[i].na);
				return 3;
			}
			long fails = 0;
			for (long k = 0; k < iters; k++)
				fails += cases[i].run(&cases[i]) != 0;
			if (fails) {
				fprintf(stderr, "bench/jwt: %s failed %ld times\n", one, fails);
				return 1;
			}
			return 0;
		}
		fprintf(stderr, "bench/jwt: no case %s\n", one);
		return 2;
	}
	time_all();
	return 0;
}
