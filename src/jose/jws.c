/* SPDX-License-Identifier: MIT */
/*
 * JWS compact serialization (RFC 7515 §7.1): split, decode, header rules, key selection
 * and signature, for signing and for verifying. The order of checks is fixed and
 * deliberate: size cap, structure and strict base64url first; then the header (alg, crit,
 * kid) on a stack copy; then the signature; only an authentic payload is ever parsed.
 * The verify path allocates nothing; jwt.c adds one allocation for its result.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "jose/jws_int.h"
#include "util/b64url.h"
#include "util/err.h"

enum lk_err lk_jws_split(const char *tok, size_t len, struct lk_jws_parts *p,
			 struct lk_errinfo *ei)
{
	const char *d1, *d2, *end = tok + len;

	if (!tok)
		return lk_errf(ei, LK_EINVAL, "no token given");
	if (len > LK_MAX_TOKEN)
		return lk_errf(ei, LK_ETOO_LARGE, "token of %zu bytes is over the %d-byte limit", len,
			       LK_MAX_TOKEN);
	d1 = memchr(tok, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) : NULL;
	if (!d2 || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)))
		return lk_errf(ei, LK_EMALFORMED, "a compact JWS has exactly three parts");
	p->h64 = tok;
	p->hl = (size_t)(d1 - tok);
	p->p64 = d1 + 1;
	p->pl = (size_t)(d2 - d1 - 1);
	p->s64 = d2 + 1;
	p->sl = (size_t)(end - d2 - 1);
	if (p->hl == 0)
		return lk_errf(ei, LK_EMALFORMED, "the header part is empty");
	/* Strictness of every part before any cryptography. Decoding is not parsing: the
	 * payload is read as JSON only once its signature holds. */
	if (lk_b64url_decode(p->p64, p->pl, p->pay, sizeof p->pay - 1, &p->paylen))
		return lk_errf(ei, LK_EBASE64, "the payload is not strict base64url");
	p->pay[p->paylen] = '\0';
	return LK_OK;
}

static bool mem_eq(const struct lk_jmember *m, const char *lit)
{
	return lk_json_str_eq(m->val, m->vlen, m->val_esc, lit, strlen(lit));
}

enum lk_err lk_jws_header(struct lk_jws_parts *p, struct lk_errinfo *ei)
{
	static const char *const names[4] = {"alg", "kid", "typ", "crit"};
	const struct lk_jmember *h[4] = {0}, *alg, *kid, *crit, *typ;
	enum lk_err err;

	if (lk_b64url_dec_max(p->hl) > LK_MAX_HDR)
		return lk_errf(ei, LK_ETOO_LARGE, "the header is over %d bytes", LK_MAX_HDR);
	if (lk_b64url_decode(p->h64, p->hl, p->hdr, LK_MAX_HDR, &p->hdrlen))
		return lk_errf(ei, LK_EBASE64, "the header is not strict base64url");
	p->hdr[p->hdrlen] = '\0';
	if ((err = lk_json_scan((const char *)p->hdr, p->hdrlen, p->hm, LK_MAX_HDR_MEMBERS, &p->nh)))
		return lk_errf(ei, err, "the header is %s",
			       err == LK_EDUPLICATE ? "a JSON object with a duplicate member"
			       : err == LK_ETOO_LARGE ? "too large or too deep"
						      : "not a JSON object");
	for (size_t i = 0; i < p->nh; i++) {
		int k = lk_json_classify(&p->hm[i], names, 4);
		if (k >= 0)
			h[k] = &p->hm[i];
	}
	alg = h[0];
	kid = h[1];
	typ = h[2];
	crit = h[3];
	if (!alg || alg->type != LK_J_STRING)
		return lk_errf(ei, LK_EHEADER, "the header has no \"alg\" string");
	if (mem_eq(alg, "none"))
		return lk_errf(ei, LK_EALG_NONE, "unsecured JWS (alg none) never verifies");
	p->alg = alg->val_esc ? LK_ALG_NONE : lk_alg_from_name(alg->val, alg->vlen);
	if (!p->alg)
		return lk_errf(ei, LK_EALG_NOT_ALLOWED, "the header names an unsupported algorithm");
	if (kid && kid->type != LK_J_STRING)
		return lk_errf(ei, LK_EHEADER, "the header \"kid\" is not a string");
	if (typ && typ->type != LK_J_STRING)
		return lk_errf(ei, LK_EHEADER, "the header \"typ\" is not a string");
	/* RFC 7515 §4.1.11: we implement no extension, so any crit is one we do not know. */
	if (crit)
		return lk_errf(ei, LK_ECRIT, "the header lists critical extensions we do not implement");
	/* jwk, jku, x5u, x5c are never consulted: keys come only from the caller's set. */
	p->kid = kid;
	p->typ = typ;
	return LK_OK;
}

/* One signature check: LK_OK, LK_EBAD_SIGNATURE, or the crypto library's failure. The
 * signing input is the ASCII of header '.' payload, as received. */
static enum lk_err try_key(const lk_jwk *k, const struct lk_alginfo *a,
			   const struct lk_jws_parts *p, const unsigned char *sig, size_t slen,
			   struct lk_errinfo *ei)
{
	enum lk_err err = lk_crypto_verify(k, a, (const unsigned char *)p->h64, p->hl + 1 + p->pl,
					   sig, slen);
	if (err != LK_OK && err != LK_EBAD_SIGNATURE)
		return lk_errf(ei, err, "the crypto library failed");
	return err;
}

enum lk_err lk_jws_check_sig(const lk_jwks *keys, struct lk_jws_parts *p, unsigned allow,
			     struct lk_errinfo *ei)
{
	const struct lk_alginfo *a = lk_alginfo(p->alg);
	const lk_jwk *only = NULL;
	unsigned char sig[LK_MAX_SIG];
	size_t slen = 0;
	enum lk_err why = LK_ENO_KEY, err;
	bool tried = false;

	if (!keys)
		return lk_errf(ei, LK_EINVAL, "no key set given");
	if (allow && !(allow & p->alg))
		return lk_errf(ei, LK_EALG_NOT_ALLOWED, "%s is not an allowed algorithm", a->name);
	if (p->sl > lk_b64url_enc_len(sizeof sig) ||
	    lk_b64url_decode(p->s64, p->sl, sig, sizeof sig, &slen))
		return lk_errf(ei, p->sl > lk_b64url_enc_len(sizeof sig) ? LK_EBAD_SIGNATURE : LK_EBASE64,
			       "the signature is not strict base64url of a plausible length");

	/* With a kid, the candidates are the keys of that kid. Without one, exactly one key of
	 * the set may fit the algorithm: with two, which one the issuer meant is a guess, and
	 * trying each would let one forged token cost a signature check per key. A key fits
	 * when it is usable, may verify (use/key_ops) and admits the token's alg. */
	for (size_t i = 0; i < keys->n; i++) {
		const struct lk_jwks_entry *e = &keys->e[i];
		const char *kid = e->key ? e->key->kid : e->kid;
		if (p->kid && (!kid || !lk_json_str_eq(p->kid->val, p->kid->vlen, p->kid->val_esc,
						       kid, strlen(kid))))
			continue;
		if (!e->key) {
			if (p->kid) /* the token names an unusable key: say why */
				why = e->why;
			continue;
		}
		if (!(e->key->ops & LK_OP_VERIFY)) { /* key_ops without "verify" */
			if (p->kid)
				why = LK_EKEY_USE;
			continue;
		}
		if (!(e->key->algs & p->alg)) {
			if (why == LK_ENO_KEY)
				why = LK_EALG_NOT_ALLOWED;
			continue;
		}
		if (!p->kid) {
			if (only)
				return lk_errf(ei, LK_EKEY_AMBIGUOUS,
					       "the token has no kid and several keys fit %s", a->name);
			only = e->key;
			continue;
		}
		tried = true;
		if ((err = try_key(e->key, a, p, sig, slen, ei)) != LK_EBAD_SIGNATURE)
			return err;
	}
	if (only) {
		tried = true;
		if ((err = try_key(only, a, p, sig, slen, ei)) != LK_EBAD_SIGNATURE)
			return err;
	}
	if (tried)
		return lk_errf(ei, LK_EBAD_SIGNATURE, "the signature does not verify");
	switch (why) {
	case LK_EALG_NOT_ALLOWED:
		return lk_errf(ei, why, "no key for %s: the algorithm comes from the key", a->name);
	case LK_ENO_KEY:
		return lk_errf(ei, why, p->kid ? "no key with the token's kid" : "no key for %s",
			       a->name);
	default:
		return lk_errf(ei, why, "the key the token names is unusable (%s)", lk_err_str(why));
	}
}

enum lk_err lk_jws_verify(const lk_jwks *keys, const char *token, size_t len, unsigned allow,
			  char **payload, size_t *plen, struct lk_errinfo *ei)
{
	struct lk_jws_parts p;
	enum lk_err err;
	size_t n;
	char *out;

	*payload = NULL;
	if ((err = lk_jws_split(token, len, &p, ei)) || (err = lk_jws_header(&p, ei)) ||
	    (err = lk_jws_check_sig(keys, &p, allow, ei)))
		return err;
	n = p.paylen;
	if (!(out = malloc(n + 1)))
		return lk_errf(ei, LK_ENOMEM, "out of memory");
	memcpy(out, p.pay, n + 1);
	*payload = out;
	if (plen)
		*plen = n;
	return LK_OK;
}

/* Choose the algorithm to sign with: the key's own, else its first (RS256, HS256...). */
static const struct lk_alginfo *sign_alg(const lk_jwk *k)
{
	if (k->alg)
		return lk_alginfo(k->alg);
	for (unsigned b = 1; b <= LK_ALG_ALL; b <<= 1)
		if (k->algs & b)
			return lk_alginfo((enum lk_alg)b);
	return NULL;
}

enum lk_err lk_jws_sign(const lk_jwk *key, const char *typ, const void *payload, size_t len,
			char **out, size_t *outlen, struct lk_errinfo *ei)
{
	const struct lk_alginfo *a;
	json_t *h = NULL;
	char *hj = NULL, *tok = NULL;
	unsigned char sig[LK_MAX_SIG];
	size_t slen = 0, hl, pl, cap;
	enum lk_err err;
	int r;

	*out = NULL;
	if (!key || (!payload && len))
		return lk_errf(ei, LK_EINVAL, "no key or payload given");
	if (!(a = sign_alg(key)))
		return lk_errf(ei, LK_EUNSUPPORTED, "the key has no usable algorithm");
	if (!key->is_private)
		return lk_errf(ei, LK_ENO_PRIVATE, "signing needs a private key");
	if (!(key->ops & LK_OP_SIGN))
		return lk_errf(ei, LK_EKEY_USE, "the key's \"key_ops\" do not include \"sign\"");
	if (!(h = json_object()))
		return LK_ENOMEM;
	r = json_object_set_new(h, "alg", json_string(a->name));
	if (typ)
		r |= json_object_set_new(h, "typ", json_string(typ));
	if (key->kid)
		r |= json_object_set_new(h, "kid", json_string(key->kid));
	if (r || !(hj = json_dumps(h, JSON_COMPACT))) {
		err = LK_ENOMEM;
		goto out;
	}
	hl = lk_b64url_enc_len(strlen(hj));
	pl = lk_b64url_enc_len(len);
	if (hl + 2 + pl + lk_b64url_enc_len(a->kind == LK_K_RSA || a->kind == LK_K_PSS
						     ? (size_t)(key->bits + 7) / 8
						     : a->kind == LK_K_EC ? 2 * a->clen : a->hlen) >
	    LK_MAX_TOKEN) {
		err = lk_errf(ei, LK_ETOO_LARGE, "the token would exceed %d bytes", LK_MAX_TOKEN);
		goto out;
	}
	cap = hl + 1 + pl + 1 + lk_b64url_enc_len(LK_MAX_SIG) + 1;
	if (!(tok = malloc(cap))) {
		err = LK_ENOMEM;
		goto out;
	}
	lk_b64url_encode(hj, strlen(hj), tok);
	tok[hl] = '.';
	lk_b64url_encode(payload, len, tok + hl + 1);
	if ((err = lk_crypto_sign(key, a, (unsigned char *)tok, hl + 1 + pl, sig, &slen))) {
		lk_errf(ei, err, "signing failed");
		goto out;
	}
	tok[hl + 1 + pl] = '.';
	size_t sl = lk_b64url_encode(sig, slen, tok + hl + 2 + pl);
	*out = tok;
	tok = NULL;
	if (outlen)
		*outlen = hl + 2 + pl + sl;
out:
	free(tok);
	free(hj);
	json_decref(h);
	return err;
}

enum lk_err lk_jws_decode_unverified(const char *token, size_t len, char **header,
				     char **payload, size_t *siglen, struct lk_errinfo *ei)
{
	struct lk_jws_parts p;
	enum lk_err err;
	size_t sl;
	char *h = NULL, *pl = NULL;
	unsigned char sig[LK_MAX_TOKEN];

	*header = *payload = NULL;
	if ((err = lk_jws_split(token, len, &p, ei)))
		return err;
	if (lk_b64url_dec_max(p.hl) > LK_MAX_HDR)
		return lk_errf(ei, LK_ETOO_LARGE, "the header is over %d bytes", LK_MAX_HDR);
	if (lk_b64url_decode(p.h64, p.hl, p.hdr, LK_MAX_HDR, &p.hdrlen))
		return lk_errf(ei, LK_EBASE64, "the header is not strict base64url");
	if ((err = lk_json_scan((const char *)p.hdr, p.hdrlen, p.hm, LK_MAX_HDR_MEMBERS, &p.nh)))
		return lk_errf(ei, err, "the header is not a valid JSON object");
	if (lk_b64url_decode(p.s64, p.sl, sig, sizeof sig, &sl))
		return lk_errf(ei, LK_EBASE64, "the signature is not strict base64url");
	if (!(h = malloc(p.hdrlen + 1)) || !(pl = malloc(p.paylen + 1))) {
		free(h);
		return LK_ENOMEM;
	}
	memcpy(h, p.hdr, p.hdrlen);
	h[p.hdrlen] = '\0';
	memcpy(pl, p.pay, p.paylen + 1);
	*header = h;
	*payload = pl;
	if (siglen)
		*siglen = sl;
	return LK_OK;
}
