/* SPDX-License-Identifier: MIT */
/*
 * Signature primitives over parsed keys, and the per-thread context cache that keeps the
 * verify hot path free of allocations and provider fetches.
 *
 * OpenSSL 3 contexts cannot be shared between threads, and creating one costs a provider
 * fetch plus several allocations, which for an HS256 or ES256 verify is a large fraction
 * of the work. So each thread keeps up to CACHE_SLOTS contexts, tagged by (key id, alg):
 * an initialised EVP_PKEY_CTX (RSA, ECDSA), plus one EVP_MD_CTX per hash. HMAC needs no
 * context at all (struct lk_hmac). Key ids are never reused, so a freed key's slots simply stop
 * matching and are evicted round-robin; they are released at thread exit (pthread key
 * destructor) or by lk_thread_cleanup(). Ed25519 goes to libsodium, which needs no context
 * and measured 2.4x fewer instructions than OpenSSL 3.0 here.
 */
/* The SHA-2 context API is deprecated in OpenSSL 3.0 but kept; see struct lk_hmac. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <pthread.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "jose/jose_int.h"

#define CACHE_SLOTS 8

struct slot {
	uint64_t id;
	enum lk_alg alg;
	EVP_PKEY_CTX *ctx;
};

struct tcache {
	struct slot s[CACHE_SLOTS];
	unsigned next;
	EVP_MD_CTX *md[3];
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum lk_err init_err = LK_OK;
static pthread_key_t tc_key;
static EVP_MD *mds[3];
static atomic_uint_fast64_t next_id = 1;
static __thread struct tcache *tc;

static void free_slot(struct slot *s)
{
	if (!s->ctx)
		return;
	EVP_PKEY_CTX_free(s->ctx);
	s->ctx = NULL;
	s->id = 0;
}

static void tcache_free(void *p)
{
	struct tcache *c = p;
	if (!c)
		return;
	for (int i = 0; i < CACHE_SLOTS; i++)
		free_slot(&c->s[i]);
	for (int i = 0; i < 3; i++)
		EVP_MD_CTX_free(c->md[i]);
	OPENSSL_free(c);
}

void lk_thread_cleanup(void)
{
	if (tc) {
		pthread_setspecific(tc_key, NULL);
		tcache_free(tc);
		tc = NULL;
	}
}

static void do_init(void)
{
	static const char *names[3] = {"SHA256", "SHA384", "SHA512"};
	if (sodium_init() < 0 || pthread_key_create(&tc_key, tcache_free) != 0) {
		init_err = LK_ECRYPTO;
		return;
	}
	for (int i = 0; i < 3; i++)
		mds[i] = EVP_MD_fetch(NULL, names[i], NULL);
	if (!mds[0] || !mds[1] || !mds[2])
		init_err = LK_ECRYPTO;
}

enum lk_err lk_crypto_init(void)
{
	pthread_once(&once, do_init);
	return init_err;
}

const EVP_MD *lk_crypto_md(int hash) { return mds[hash]; }
uint64_t lk_crypto_next_id(void) { return atomic_fetch_add(&next_id, 1); }

static struct tcache *get_tcache(void)
{
	if (tc)
		return tc;
	tc = OPENSSL_zalloc(sizeof *tc);
	if (tc && pthread_setspecific(tc_key, tc) != 0) {
		OPENSSL_free(tc);
		tc = NULL;
	}
	return tc;
}

/* A fresh EVP_PKEY_CTX for (k, a), set up for verify. */
static EVP_PKEY_CTX *new_ctx(const lk_jwk *k, const struct lk_alginfo *a)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
	if (!pc || EVP_PKEY_verify_init(pc) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(pc, mds[a->hash]) <= 0)
		goto fail;
	if (a->kind == LK_K_RSA && EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) <= 0)
		goto fail;
	if (a->kind == LK_K_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(pc, mds[a->hash]) <= 0))
		goto fail;
	return pc;
fail:
	EVP_PKEY_CTX_free(pc);
	return NULL;
}

/* The calling thread's context for (k, a), created on first use. NULL on failure. */
static EVP_PKEY_CTX *cached_ctx(struct tcache *c, const lk_jwk *k, const struct lk_alginfo *a)
{
	for (int i = 0; i < CACHE_SLOTS; i++)
		if (c->s[i].id == k->id && c->s[i].alg == a->alg)
			return c->s[i].ctx;
	EVP_PKEY_CTX *ctx = new_ctx(k, a);
	if (!ctx)
		return NULL;
	struct slot *s = &c->s[c->next++ % CACHE_SLOTS];
	free_slot(s);
	s->id = k->id;
	s->alg = a->alg;
	s->ctx = ctx;
	return ctx;
}

struct lk_hmac *lk_hmac_new(int hash, const unsigned char *key, size_t n)
{
	size_t bs = hash == 0 ? 64 : 128;
	unsigned char k0[128] = {0}, pad[128];
	struct lk_hmac *h = OPENSSL_zalloc(sizeof *h);

	if (!h)
		return NULL;
	h->hash = hash;
	if (n > bs) { /* RFC 2104: longer keys are hashed first */
		EVP_Digest(key, n, k0, NULL, mds[hash], NULL);
	} else {
		memcpy(k0, key, n);
	}
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < bs; i++)
			pad[i] = k0[i] ^ (round ? 0x5c : 0x36);
		if (hash == 0) {
			SHA256_CTX *c = round ? &h->out.s256 : &h->in.s256;
			SHA256_Init(c);
			SHA256_Update(c, pad, bs);
		} else {
			SHA512_CTX *c = round ? &h->out.s512 : &h->in.s512;
			if (hash == 1)
				SHA384_Init(c);
			else
				SHA512_Init(c);
			SHA512_Update(c, pad, bs);
		}
	}
	OPENSSL_cleanse(k0, sizeof k0);
	OPENSSL_cleanse(pad, sizeof pad);
	return h;
}

void lk_hmac_free(struct lk_hmac *h)
{
	if (!h)
		return;
	OPENSSL_clear_free(h, sizeof *h);
}

/* HMAC of msg into out (a->hlen bytes). No allocation: the states are copied by value. */
static enum lk_err hmac_compute(const lk_jwk *k, const struct lk_alginfo *a,
				const unsigned char *msg, size_t mlen, unsigned char *out)
{
	const struct lk_hmac *h = k->mac[a->hash];
	if (!h)
		return LK_ECRYPTO;
	if (h->hash == 0) {
		SHA256_CTX c = h->in.s256;
		SHA256_Update(&c, msg, mlen);
		SHA256_Final(out, &c);
		c = h->out.s256;
		SHA256_Update(&c, out, 32);
		SHA256_Final(out, &c);
		OPENSSL_cleanse(&c, sizeof c);
	} else {
		SHA512_CTX c = h->in.s512;
		SHA512_Update(&c, msg, mlen);
		SHA512_Final(out, &c); /* SHA-384 shares SHA512_Final; it writes 64 bytes */
		c = h->out.s512;
		SHA512_Update(&c, out, a->hlen);
		SHA512_Final(out, &c);
		OPENSSL_cleanse(&c, sizeof c);
	}
	return LK_OK;
}

static enum lk_err digest(struct tcache *c, int hash, const unsigned char *msg, size_t mlen,
			  unsigned char *out, unsigned *outl)
{
	if (!c->md[hash] && !(c->md[hash] = EVP_MD_CTX_new()))
		return LK_ENOMEM;
	if (!EVP_DigestInit_ex2(c->md[hash], mds[hash], NULL) ||
	    !EVP_DigestUpdate(c->md[hash], msg, mlen) ||
	    !EVP_DigestFinal_ex(c->md[hash], out, outl))
		return LK_ECRYPTO;
	return LK_OK;
}

/* DER INTEGER of an unsigned big-endian number; returns bytes written. */
static size_t der_int(unsigned char *o, const unsigned char *b, size_t n)
{
	size_t i = 0, w = 0;
	while (i + 1 < n && b[i] == 0)
		i++;
	size_t len = n - i + (b[i] & 0x80 ? 1 : 0);
	o[w++] = 0x02;
	o[w++] = (unsigned char)len;
	if (b[i] & 0x80)
		o[w++] = 0;
	memcpy(o + w, b + i, n - i);
	return w + n - i;
}

/* JOSE r||s (2*clen bytes) to a DER ECDSA-Sig-Value. out has room for 2*clen + 16. */
static size_t ec_raw_to_der(const unsigned char *sig, size_t clen, unsigned char *out)
{
	unsigned char body[2 * 70];
	size_t bl = der_int(body, sig, clen);
	bl += der_int(body + bl, sig + clen, clen);
	size_t w = 0;
	out[w++] = 0x30;
	if (bl >= 0x80)
		out[w++] = 0x81;
	out[w++] = (unsigned char)bl;
	memcpy(out + w, body, bl);
	return w + bl;
}

enum lk_err lk_crypto_verify(const lk_jwk *k, const struct lk_alginfo *a,
			     const unsigned char *msg, size_t mlen,
			     const unsigned char *sig, size_t slen)
{
	struct tcache *c;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdl = 0;
	enum lk_err err;

	if (a->kind == LK_K_ED) {
		if (slen != crypto_sign_BYTES)
			return LK_EBAD_SIGNATURE;
		return crypto_sign_verify_detached(sig, msg, mlen, k->ed_pk) == 0
			       ? LK_OK : LK_EBAD_SIGNATURE;
	}
	if (a->kind == LK_K_HMAC) {
		if (slen != a->hlen)
			return LK_EBAD_SIGNATURE;
		if ((err = hmac_compute(k, a, msg, mlen, md)))
			return err;
		return CRYPTO_memcmp(md, sig, slen) == 0 ? LK_OK : LK_EBAD_SIGNATURE;
	}

	if (!(c = get_tcache()))
		return LK_ENOMEM;
	EVP_PKEY_CTX *pc = cached_ctx(c, k, a);
	if (!pc)
		return LK_ECRYPTO;
	if ((err = digest(c, a->hash, msg, mlen, md, &mdl)))
		return err;
	if (a->kind == LK_K_EC) {
		unsigned char der[2 * 66 + 16];
		if (slen != 2 * a->clen)
			return LK_EBAD_SIGNATURE;
		size_t dl = ec_raw_to_der(sig, a->clen, der);
		if (EVP_PKEY_verify(pc, der, dl, md, mdl) == 1)
			return LK_OK;
	} else if (slen == (size_t)(k->bits + 7) / 8) {
		if (EVP_PKEY_verify(pc, sig, slen, md, mdl) == 1)
			return LK_OK;
	} else {
		return LK_EBAD_SIGNATURE;
	}
	/* A failed verify leaves an error on OpenSSL's thread queue; drop it. */
	ERR_clear_error();
	return LK_EBAD_SIGNATURE;
}

static enum lk_err sign_pkey(const lk_jwk *k, const struct lk_alginfo *a,
			     const unsigned char *msg, size_t mlen, unsigned char *sig,
			     size_t *slen)
{
	static const char *mdname[3] = {"SHA256", "SHA384", "SHA512"};
	unsigned char der[LK_MAX_SIG + 16];
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	ECDSA_SIG *es = NULL;
	enum lk_err err = LK_ECRYPTO;
	size_t dl = sizeof der;

	if (!mc)
		return LK_ENOMEM;
	if (EVP_DigestSignInit_ex(mc, &pc, mdname[a->hash], NULL, NULL, k->pkey, NULL) != 1)
		goto out;
	if (a->kind == LK_K_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) <= 0))
		goto out;
	if (a->kind == LK_K_RSA && EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) <= 0)
		goto out;
	if (a->kind != LK_K_EC) {
		*slen = LK_MAX_SIG;
		if (EVP_DigestSign(mc, sig, slen, msg, mlen) == 1)
			err = LK_OK;
		goto out;
	}
	if (EVP_DigestSign(mc, der, &dl, msg, mlen) != 1)
		goto out;
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	if (!(es = d2i_ECDSA_SIG(NULL, &p, (long)dl)))
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, (int)a->clen) < 0 || BN_bn2binpad(s, sig + a->clen, (int)a->clen) < 0)
		goto out;
	*slen = 2 * a->clen;
	err = LK_OK;
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(mc);
	ERR_clear_error();
	return err;
}

enum lk_err lk_crypto_sign(const lk_jwk *k, const struct lk_alginfo *a,
			   const unsigned char *msg, size_t mlen,
			   unsigned char *sig, size_t *slen)
{
	enum lk_err err;

	if (!k->is_private)
		return LK_ENO_PRIVATE;
	switch (a->kind) {
	case LK_K_ED:
		crypto_sign_detached(sig, NULL, msg, mlen, k->ed_sk);
		*slen = crypto_sign_BYTES;
		return LK_OK;
	case LK_K_HMAC:
		if ((err = hmac_compute(k, a, msg, mlen, sig)))
			return err;
		*slen = a->hlen;
		return LK_OK;
	default:
		return sign_pkey(k, a, msg, mlen, sig, slen);
	}
}
