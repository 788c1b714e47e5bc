/* SPDX-License-Identifier: MIT */
/*
 * JWT verification (RFC 7519 §7.2) on top of compact JWS: after the signature, the claims
 * object is scanned once without a DOM, registered claims are type-checked and time checks
 * run against the caller's clock and leeway. The result is one allocation holding the
 * decoded header, the payload and the unescaped registered string claims.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "jose/jws_int.h"
#include "util/b64url.h"
#include "util/err.h"

#define LK_MAX_CLAIMS 128

/* The string claims kept unescaped in the result, in this order. */
static const char *const str_claims[] = {"iss", "sub", "jti", "scope", "sid", "client_id"};
#define NSTR (sizeof str_claims / sizeof str_claims[0])

struct lk_jwt {
	_Atomic unsigned refs;
	enum lk_alg alg;
	bool has_exp, has_nbf, has_iat;
	int64_t exp, iat, nbf;
	const char *kid;
	const char *str[NSTR];
	const char *hdr, *payload;
	size_t hlen, plen;
	char data[];
};

lk_jwt *lk_jwt_ref(lk_jwt *j)
{
	if (j)
		atomic_fetch_add_explicit(&j->refs, 1, memory_order_relaxed);
	return j;
}

void lk_jwt_free(lk_jwt *j)
{
	if (j && atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1)
		free(j);
}
enum lk_alg lk_jwt_alg(const lk_jwt *j) { return j->alg; }
int64_t lk_jwt_exp(const lk_jwt *j) { return j->exp; }
int64_t lk_jwt_iat(const lk_jwt *j) { return j->iat; }
int64_t lk_jwt_nbf(const lk_jwt *j) { return j->nbf; }
const char *lk_jwt_kid(const lk_jwt *j) { return j->kid; }

const char *lk_jwt_header_json(const lk_jwt *j, size_t *len)
{
	if (len)
		*len = j->hlen;
	return j->hdr;
}

const char *lk_jwt_payload_json(const lk_jwt *j, size_t *len)
{
	if (len)
		*len = j->plen;
	return j->payload;
}

const char *lk_jwt_claim_str(const lk_jwt *j, const char *name)
{
	for (size_t i = 0; i < NSTR; i++)
		if (strcmp(name, str_claims[i]) == 0)
			return j->str[i];
	return NULL;
}

const char *lk_jwt_claim_raw(const lk_jwt *j, const char *name, size_t *len)
{
	struct lk_jmember m[LK_MAX_CLAIMS];
	size_t n;
	const struct lk_jmember *c;

	if (lk_json_scan(j->payload, j->plen, m, LK_MAX_CLAIMS, &n) || !(c = lk_json_find(m, n, name)))
		return NULL;
	if (c->type == LK_J_STRING) { /* include the quotes: it is raw JSON text */
		*len = c->vlen + 2;
		return c->val - 1;
	}
	*len = c->vlen;
	return c->val;
}

char *lk_jwt_claim_dup(const lk_jwt *j, const char *name)
{
	struct lk_jmember m[LK_MAX_CLAIMS];
	size_t n;
	const struct lk_jmember *c;
	char *s;

	if (lk_json_scan(j->payload, j->plen, m, LK_MAX_CLAIMS, &n) ||
	    !(c = lk_json_find(m, n, name)) || c->type != LK_J_STRING || !(s = malloc(c->vlen + 1)))
		return NULL;
	lk_json_unescape(c->val, c->vlen, s);
	return s;
}

enum lk_err lk_jwt_check_times(const lk_jwt *j, int64_t now, int64_t leeway,
			       struct lk_errinfo *ei)
{
	if (j->has_exp && now >= j->exp + leeway)
		return lk_errf(ei, LK_EEXPIRED, "expired %lld s ago", (long long)(now - j->exp));
	if (j->has_nbf && now + leeway < j->nbf)
		return lk_errf(ei, LK_ENOT_YET_VALID, "valid only in %lld s", (long long)(j->nbf - now));
	if (j->has_iat && now + leeway < j->iat)
		return lk_errf(ei, LK_EIAT_FUTURE, "issued %lld s in the future",
			       (long long)(j->iat - now));
	return LK_OK;
}

/* Does a typ header value match want, ignoring case and an "application/" prefix
 * (RFC 7515 §4.1.9)? */
static bool typ_matches(const struct lk_jmember *typ, const char *want)
{
	char buf[128];
	if (!typ || typ->vlen >= sizeof buf)
		return false;
	size_t n = lk_json_unescape(typ->val, typ->vlen, buf);
	const char *t = buf;
	if (n > 12 && strncasecmp(t, "application/", 12) == 0)
		t += 12;
	if (strncasecmp(want, "application/", 12) == 0)
		want += 12;
	return strcasecmp(t, want) == 0;
}

/* Is aud (a string or an array of strings) or does it contain want? */
static enum lk_err aud_contains(const struct lk_jmember *aud, const char *want, bool *found)
{
	size_t wl = strlen(want);
	*found = false;
	if (aud->type == LK_J_STRING) {
		*found = lk_json_str_eq(aud->val, aud->vlen, aud->val_esc, want, wl);
		return LK_OK;
	}
	if (aud->type != LK_J_ARRAY)
		return LK_ECLAIM_TYPE;
	/* The array was validated by the scanner: walk its elements. */
	const char *p = aud->val + 1, *end = aud->val + aud->vlen - 1;
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ','))
			p++;
		if (p >= end)
			return LK_OK;
		if (*p != '"')
			return LK_ECLAIM_TYPE;
		const char *s = ++p;
		bool esc = false;
		while (*p != '"') {
			if (*p == '\\') {
				esc = true;
				p++;
			}
			p++;
		}
		if (lk_json_str_eq(s, (size_t)(p - s), esc, want, wl))
			*found = true;
		p++;
	}
}

static enum lk_err get_time(const struct lk_jmember *m, const char *name, int64_t *out,
			    struct lk_errinfo *ei)
{
	if (!m)
		return LK_OK;
	if (!lk_json_seconds(m, out))
		return lk_errf(ei, LK_ECLAIM_TYPE, "claim \"%s\" is not a NumericDate", name);
	return LK_OK;
}

/* The claims looked at, found in one pass over the members. The first NSTR are the
 * string claims kept in the result (same order as str_claims). */
static const char *const known[] = {"iss", "sub", "jti", "scope", "sid", "client_id",
				    "exp", "nbf", "iat", "aud"};
enum { K_EXP = NSTR, K_NBF, K_IAT, K_AUD, NKNOWN };

static enum lk_err check_claims(lk_jwt *j, const struct lk_jws_parts *p,
				const struct lk_jmember *m, size_t n,
				const struct lk_verify_opts *o, struct lk_errinfo *ei)
{
	static const struct { unsigned bit; int k; } req[] = {
		{LK_REQ_EXP, K_EXP}, {LK_REQ_IAT, K_IAT}, {LK_REQ_NBF, K_NBF}, {LK_REQ_SUB, 1},
		{LK_REQ_JTI, 2},     {LK_REQ_ISS, 0},     {LK_REQ_AUD, K_AUD}};
	const struct lk_jmember *c[NKNOWN] = {0};
	int64_t now = o && o->now ? o->now : (int64_t)time(NULL);
	int64_t leeway = !o || o->leeway == 0 ? LK_DEFAULT_LEEWAY : o->leeway < 0 ? 0 : o->leeway;
	enum lk_err err;
	bool found = false;

	for (size_t i = 0; i < n; i++) {
		int k = lk_json_classify(&m[i], known, NKNOWN);
		if (k >= 0)
			c[k] = &m[i];
	}
	for (size_t i = 0; o && i < sizeof req / sizeof req[0]; i++)
		if ((o->require & req[i].bit) && !c[req[i].k])
			return lk_errf(ei, LK_EMISSING_CLAIM, "required claim \"%s\" is absent",
				       known[req[i].k]);
	if ((err = get_time(c[K_EXP], "exp", &j->exp, ei)) ||
	    (err = get_time(c[K_NBF], "nbf", &j->nbf, ei)) ||
	    (err = get_time(c[K_IAT], "iat", &j->iat, ei)))
		return err;
	for (size_t i = 0; i < NSTR; i++)
		if (c[i] && c[i]->type != LK_J_STRING)
			return lk_errf(ei, LK_ECLAIM_TYPE, "claim \"%s\" is not a string", str_claims[i]);
	j->has_exp = c[K_EXP] != NULL;
	j->has_nbf = c[K_NBF] != NULL;
	j->has_iat = c[K_IAT] != NULL;
	if ((err = lk_jwt_check_times(j, now, leeway, ei)))
		return err;
	if (c[K_AUD] && (err = aud_contains(c[K_AUD], o && o->aud ? o->aud : "", &found)))
		return lk_errf(ei, err, "claim \"aud\" is neither a string nor an array of strings");
	if (o && o->aud && (!c[K_AUD] || !found))
		return lk_errf(ei, LK_EAUDIENCE, c[K_AUD] ? "the audience is not ours"
							  : "claim \"aud\" is absent");
	if (o && o->iss && (!c[0] || !lk_json_str_eq(c[0]->val, c[0]->vlen, c[0]->val_esc, o->iss,
						     strlen(o->iss))))
		return lk_errf(ei, LK_EISSUER, c[0] ? "the issuer is not the expected one"
						    : "claim \"iss\" is absent");
	if (o && o->typ && !typ_matches(p->typ, o->typ))
		return lk_errf(ei, LK_ETYP, "the header typ is not \"%s\"", o->typ);

	/* Fill the result: unescaped strings after the payload. */
	char *w = j->data + j->hlen + 1 + j->plen + 1;
	for (size_t i = 0; i < NSTR; i++) {
		if (!c[i])
			continue;
		j->str[i] = w;
		size_t ul = lk_json_unescape(c[i]->val, c[i]->vlen, w);
		/* "admin\u0000x" must not read back as "admin" through a C string */
		if (memchr(w, 0, ul))
			return lk_errf(ei, LK_ECLAIM_TYPE, "claim \"%s\" contains a NUL character",
				       str_claims[i]);
		w += ul + 1;
	}
	if (p->kid) {
		j->kid = w;
		lk_json_unescape(p->kid->val, p->kid->vlen, w);
	}
	return LK_OK;
}

enum lk_err lk_jwt_verify(const lk_jwks *keys, const char *token, size_t len,
			  const struct lk_verify_opts *o, lk_jwt **out, struct lk_errinfo *ei)
{
	struct lk_jws_parts p;
	struct lk_jmember m[LK_MAX_CLAIMS];
	size_t n, pmax;
	enum lk_err err;
	lk_jwt *j;

	*out = NULL;
	if ((err = lk_jws_split(token, len, &p, ei)) || (err = lk_jws_header(&p, ei)) ||
	    (err = lk_jws_check_sig(keys, &p, o ? o->allow : 0, ei)))
		return err;
	/* header + payload + unescaped strings (never longer than their raw text) + kid */
	pmax = p.paylen;
	if (!(j = malloc(sizeof *j + p.hdrlen + 1 + 2 * (pmax + 1) + NSTR + p.hdrlen + 1)))
		return lk_errf(ei, LK_ENOMEM, "out of memory");
	memset(j, 0, sizeof *j);
	atomic_init(&j->refs, 1);
	j->alg = p.alg;
	j->hlen = p.hdrlen;
	memcpy(j->data, p.hdr, p.hdrlen + 1);
	j->hdr = j->data;
	char *pl = j->data + p.hdrlen + 1;
	j->plen = p.paylen;
	memcpy(pl, p.pay, p.paylen + 1);
	j->payload = pl;
	if ((err = lk_json_scan(pl, j->plen, m, LK_MAX_CLAIMS, &n))) {
		lk_errf(ei, err, "the claims are %s",
			err == LK_EDUPLICATE ? "a JSON object with a duplicate member"
			: err == LK_ETOO_LARGE ? "too many or too deep"
					       : "not a JSON object");
		goto fail;
	}
	if ((err = check_claims(j, &p, m, n, o, ei)))
		goto fail;
	*out = j;
	return LK_OK;
fail:
	free(j);
	return err;
}
