/* SPDX-License-Identifier: MIT */
/*
 * Internals of the JOSE core, shared by alg.c, crypto.c, jwk.c, jws.c and jwt.c.
 *
 * A parsed key (struct lk_jwk) holds its material twice: as the crypto library's object
 * (EVP_PKEY for RSA and EC, raw libsodium keys for Ed25519, keyed EVP_MAC templates for
 * HMAC), built once at parse time, and as the JWK components needed to write it back out.
 * Keys are immutable after parse, so threads share them without locks. Per-call crypto
 * contexts (EVP_PKEY_CTX, EVP_MAC_CTX, EVP_MD_CTX) are not shareable; crypto.c keeps them
 * in a small per-thread cache keyed by the key's unique id, so the hot path allocates
 * nothing and never re-fetches an algorithm from a provider.
 */
#ifndef LK_JOSE_INT_H
#define LK_JOSE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "latchkey.h"

enum lk_kty { LK_KTY_OCT = 1, LK_KTY_RSA, LK_KTY_EC, LK_KTY_OKP };
enum lk_kind { LK_K_HMAC = 1, LK_K_RSA, LK_K_PSS, LK_K_EC, LK_K_ED };

struct lk_alginfo {
	enum lk_alg alg;
	const char *name;
	enum lk_kind kind;
	int hash;          /* 0 SHA-256, 1 SHA-384, 2 SHA-512 */
	size_t hlen;       /* hash bytes: also the minimum HMAC secret */
	size_t clen;       /* EC: coordinate bytes (signature is 2*clen) */
	const char *crv;   /* EC/OKP curve name as in JWK */
};

#define LK_MAX_SIG 1024    /* RSA up to 8192 bits */
#define LK_RSA_MAX_BITS 8192
#define LK_RSA_MIN_BITS 2048
#define LK_MAX_COMPS 8

/* What a key's JWK "key_ops" (RFC 7517 §4.3) lets it do; both when key_ops is absent. */
#define LK_OP_SIGN 1u
#define LK_OP_VERIFY 2u

/*
 * HMAC (RFC 2104) with the inner and outer hash states precomputed from the key, so a MAC
 * is two struct copies plus the hashing. OpenSSL 3.0's EVP_MAC re-duplicates provider
 * digest contexts at every init and final (two heap allocations and ~1.6k instructions per
 * MAC, docs/performance.md); the SHA-2 context structs, deprecated but present in 3.x, are
 * plain values and use the same assembly block functions. Not FIPS-provider routed.
 */
struct lk_hmac {
	int hash; /* 0 SHA-256, 1 SHA-384, 2 SHA-512 */
	union {
		SHA256_CTX s256;
		SHA512_CTX s512;
	} in, out;
};

/* One base64url-encoded member of the JWK, kept for emission. */
struct lk_comp {
	const char *name;  /* static: "n", "e", "d", ... */
	unsigned char *b;
	size_t n;
	bool secret;
};

struct lk_jwk {
	atomic_int refs;
	uint64_t id;          /* unique per process: tags per-thread cached contexts */
	enum lk_kty kty;
	enum lk_alg alg;      /* declared, or fixed by the curve; LK_ALG_NONE if ambiguous */
	unsigned algs;        /* every alg this key may be used with */
	bool is_private;
	unsigned ops;         /* LK_OP_*: key_ops allows; a public key never signs anyway */
	bool ops_given;       /* key_ops was present, so it is written back out */
	char *kid;
	const char *crv;      /* static, EC/OKP */
	int bits;             /* RSA modulus bits */
	EVP_PKEY *pkey;       /* RSA, EC */
	unsigned char ed_pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char ed_sk[crypto_sign_SECRETKEYBYTES];
	struct lk_hmac *mac[3]; /* oct: precomputed HMAC states by hash index, or NULL */
	struct lk_comp comp[LK_MAX_COMPS];
	size_t ncomp;
};

struct lk_jwks_entry {
	lk_jwk *key;          /* NULL when unusable */
	enum lk_err why;      /* reason when unusable */
	char *kid;            /* kid of an unusable key, if any */
};

struct lk_jwks {
	atomic_int refs;
	size_t n;
	struct lk_jwks_entry e[];
};

/* alg.c */
const struct lk_alginfo *lk_alginfo(enum lk_alg alg);

/* crypto.c: one-time library setup (idempotent, thread-safe); LK_ECRYPTO on failure. */
enum lk_err lk_crypto_init(void) LK_WUR;
/* Precompute HMAC states for hash index from key[0..n). NULL when out of memory. */
struct lk_hmac *lk_hmac_new(int hash, const unsigned char *key, size_t n);
void lk_hmac_free(struct lk_hmac *h);
const EVP_MD *lk_crypto_md(int hash);
uint64_t lk_crypto_next_id(void);

/* Verify sig over msg with key k under algorithm a (already checked against k->algs).
 * LK_OK, LK_EBAD_SIGNATURE, or LK_ECRYPTO/LK_ENOMEM. */
enum lk_err lk_crypto_verify(const lk_jwk *k, const struct lk_alginfo *a,
			     const unsigned char *msg, size_t mlen,
			     const unsigned char *sig, size_t slen) LK_WUR;
/* Sign msg; sig has room for LK_MAX_SIG bytes; *slen receives the JWS signature length. */
enum lk_err lk_crypto_sign(const lk_jwk *k, const struct lk_alginfo *a,
			   const unsigned char *msg, size_t mlen,
			   unsigned char *sig, size_t *slen) LK_WUR;

#endif
