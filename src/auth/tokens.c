/* SPDX-License-Identifier: MIT */
/*
 * Access tokens: key ring, JWKS, issuing, verifying, denylist, verified-token cache
 * (see tokens.h). One read-write lock guards the loaded state (ring, JWKS document,
 * denylist); verifications take it shared, reloads exclusively and rarely.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <sodium.h>

#include "auth/tokens.h"
#include "util/b64url.h"
#include "util/err.h"
#include "util/log.h"

#define VC_SLOTS 4096

struct deny_sub {
	char sub[LK_KID_MAX + 1];
	int64_t before;
};

struct denylist {
	char (*jti)[LK_KID_MAX + 1];
	size_t njti;
	char (*sid)[LK_KID_MAX + 1];
	size_t nsid;
	struct deny_sub *sub;
	size_t nsub;
};

struct vslot {
	pthread_mutex_t mu;
	bool used;
	uint64_t epoch;          /* the ring load it was verified under */
	unsigned char h[16];
	struct lk_principal p;
};

struct lk_tokens {
	struct lk_store *st;
	struct lk_tokcfg cfg;
	pthread_rwlock_t lock;
	bool loaded;
	uint64_t gen;            /* store generation the state was loaded under */
	int64_t loaded_at;       /* for stores without a generation: reload each second */
	lk_jwks *verify;         /* every published key (and an HS secret) */
	lk_jwk *signer;          /* the key that signs now, or NULL */
	int64_t next_change;     /* when the signer or the published set changes next */
	char *jwks;              /* public JWKS document */
	struct denylist deny;
	uint64_t epoch;          /* bumped by every reload: cached verifications end with it */
	unsigned char vkey[crypto_shorthash_siphashx24_KEYBYTES];
	struct vslot *vc;
};

const struct lk_tokcfg *lk_tokens_cfg(const struct lk_tokens *t) { return &t->cfg; }
const char *lk_tokens_alg_name(const struct lk_tokens *t) { return lk_alg_name(t->cfg.sign_alg); }

/* ---------------------------------------------------------------- sealing */

enum lk_err lk_keyseal(const struct lk_tokcfg *cfg, const char *jwk, char *out, size_t size)
{
	size_t n = strlen(jwk);
	if (!cfg->has_master) {
		if (n + 1 > size)
			return LK_ETOO_LARGE;
		memcpy(out, jwk, n + 1);
		return LK_OK;
	}
	size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
	unsigned char *b = malloc(blen);
	if (!b)
		return LK_ENOMEM;
	if (7 + lk_b64url_enc_len(blen) + 1 > size) {
		free(b);
		return LK_ETOO_LARGE;
	}
	randombytes_buf(b, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(b + crypto_secretbox_NONCEBYTES, (const unsigned char *)jwk, n, b,
			      cfg->master);
	memcpy(out, "enc:v1:", 7);
	lk_b64url_encode(b, blen, out + 7);
	free(b);
	return LK_OK;
}

enum lk_err lk_keyopen(const struct lk_tokcfg *cfg, const char *stored, char **jwk)
{
	*jwk = NULL;
	if (strncmp(stored, "enc:v1:", 7) != 0) /* stored before a master key was set */
		return (*jwk = strdup(stored)) ? LK_OK : LK_ENOMEM;
	if (!cfg->has_master)
		return LK_EKEY;
	size_t sl = strlen(stored + 7), blen;
	unsigned char *b = malloc(lk_b64url_dec_max(sl) + 1);
	if (!b)
		return LK_ENOMEM;
	if (lk_b64url_decode(stored + 7, sl, b, lk_b64url_dec_max(sl), &blen) ||
	    blen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
		free(b);
		return LK_EKEY;
	}
	size_t n = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
	char *o = malloc(n + 1);
	if (!o || crypto_secretbox_open_easy((unsigned char *)o, b + crypto_secretbox_NONCEBYTES,
					     blen - crypto_secretbox_NONCEBYTES, b, cfg->master) != 0) {
		free(o);
		free(b);
		return LK_EKEY; /* wrong master key or damaged */
	}
	o[n] = '\0';
	free(b);
	*jwk = o;
	return LK_OK;
}

/* ---------------------------------------------------------------- loading */

struct load {
	struct lk_tokens *t;
	int64_t now;
	lk_jwk *keys[LK_MAX_JWKS_KEYS];
	size_t n;
	lk_jwk *signer;
	int64_t signer_from, next_change;
	enum lk_err err;
};

static void note_change(struct load *l, int64_t when)
{
	if (when > l->now && (!l->next_change || when < l->next_change))
		l->next_change = when;
}

static int on_key(void *ud, const struct lk_keyrec *k)
{
	struct load *l = ud;
	char *json = NULL;
	lk_jwk *key = NULL;
	struct lk_errinfo ei = {0};

	if (k->remove_at && k->remove_at <= l->now)
		return 0; /* past its life: maintain() deletes it */
	note_change(l, k->remove_at);
	note_change(l, k->sign_from);
	note_change(l, k->retire_at);
	if (lk_keyopen(&l->t->cfg, k->jwk, &json) || !json) {
		l->err = LK_EKEY;
		lk_log("error", "cannot open a signing key (wrong or missing master key?)", "kid",
		       k->kid, (char *)NULL);
		return 0;
	}
	enum lk_err err = lk_jwk_parse(json, strlen(json), &key, &ei);
	sodium_memzero(json, strlen(json));
	free(json);
	if (err) {
		lk_log("error", "stored signing key is unusable", "kid", k->kid, "reason",
		       lk_err_str(err), (char *)NULL);
		return 0;
	}
	if (l->n == LK_MAX_JWKS_KEYS) {
		lk_jwk_free(key);
		return 0;
	}
	l->keys[l->n++] = key;
	if (k->sign_from <= l->now && (!k->retire_at || k->retire_at > l->now) &&
	    (!l->signer || k->sign_from >= l->signer_from)) {
		l->signer = key;
		l->signer_from = k->sign_from;
	}
	return 0;
}

struct collect {
	struct denylist d;
	size_t cj, cs, cu;
	enum lk_err err;
};

static int on_revocation(void *ud, const struct lk_revocation *r)
{
	struct collect *c = ud;
	if (!strcmp(r->type, "jti") || !strcmp(r->type, "sid")) {
		bool jti = r->type[0] == 'j';
		size_t *n = jti ? &c->d.njti : &c->d.nsid, *cap = jti ? &c->cj : &c->cs;
		char(**arr)[LK_KID_MAX + 1] = jti ? &c->d.jti : &c->d.sid;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			void *na = realloc(*arr, nc * sizeof **arr);
			if (!na) {
				c->err = LK_ENOMEM;
				return 1;
			}
			*arr = na;
			*cap = nc;
		}
		snprintf((*arr)[(*n)++], LK_KID_MAX + 1, "%s", r->value);
	} else if (!strcmp(r->type, "sub")) {
		if (c->d.nsub == c->cu) {
			size_t nc = c->cu ? c->cu * 2 : 16;
			void *na = realloc(c->d.sub, nc * sizeof *c->d.sub);
			if (!na) {
				c->err = LK_ENOMEM;
				return 1;
			}
			c->d.sub = na;
			c->cu = nc;
		}
		struct deny_sub *s = &c->d.sub[c->d.nsub++];
		snprintf(s->sub, sizeof s->sub, "%s", r->value);
		s->before = r->before;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

static void deny_free(struct denylist *d)
{
	free(d->jti);
	free(d->sid);
	free(d->sub);
	memset(d, 0, sizeof *d);
}

/* Reload ring and denylist. Called with the write lock held. */
static enum lk_err reload(struct lk_tokens *t, uint64_t gen, int64_t now)
{
	struct load l = {.t = t, .now = now};
	struct collect c = {0};
	lk_jwks *set = NULL;
	char *doc = NULL;
	enum lk_err err;

	if ((err = t->st->ops->key_list(t->st, on_key, &l)))
		goto fail;
	if (l.err) { /* a key we cannot open: never serve a partial ring */
		err = l.err;
		goto fail;
	}
	if ((err = t->st->ops->revocations(t->st, 0, now, on_revocation, &c)) || (err = c.err))
		goto fail;
	if ((err = lk_jwks_new(l.keys, l.n, &set)) || (err = lk_jwks_to_json(set, &doc, NULL)))
		goto fail;
	if (c.d.njti)
		qsort(c.d.jti, c.d.njti, sizeof *c.d.jti, cmp_str);
	if (c.d.nsid)
		qsort(c.d.sid, c.d.nsid, sizeof *c.d.sid, cmp_str);
	lk_jwks_free(t->verify);
	lk_jwk_free(t->signer);
	free(t->jwks);
	deny_free(&t->deny);
	t->verify = set;
	t->signer = lk_jwk_ref(l.signer);
	t->jwks = doc;
	t->deny = c.d;
	t->gen = gen;
	t->loaded_at = now;
	t->next_change = l.next_change;
	t->loaded = true;
	t->epoch++;
	for (size_t i = 0; i < l.n; i++)
		lk_jwk_free(l.keys[i]);
	return LK_OK;
fail:
	for (size_t i = 0; i < l.n; i++)
		lk_jwk_free(l.keys[i]);
	lk_jwks_free(set);
	free(doc);
	deny_free(&c.d);
	return err;
}

/* Take the read lock on fresh state: reload first when the store moved on. */
static enum lk_err lock_fresh(struct lk_tokens *t, int64_t now)
{
	const struct lk_store_ops *ops = t->st->ops;
	uint64_t gen = ops->generation ? ops->generation(t->st) : 0;
	enum lk_err err = LK_OK;

	pthread_rwlock_rdlock(&t->lock);
	bool stale = !t->loaded || gen != t->gen || (t->next_change && now >= t->next_change) ||
		     (!ops->generation && now != t->loaded_at);
	if (!stale)
		return LK_OK;
	pthread_rwlock_unlock(&t->lock);
	pthread_rwlock_wrlock(&t->lock);
	stale = !t->loaded || gen != t->gen || (t->next_change && now >= t->next_change) ||
		(!ops->generation && now != t->loaded_at);
	if (stale)
		err = reload(t, gen, now);
	pthread_rwlock_unlock(&t->lock);
	if (err && !t->loaded)
		return err;
	pthread_rwlock_rdlock(&t->lock);
	return LK_OK; /* a failed reload keeps the last good state */
}

enum lk_err lk_tokens_new(struct lk_store *st, const struct lk_tokcfg *cfg,
			  struct lk_tokens **out, struct lk_errinfo *ei)
{
	struct lk_tokens *t = calloc(1, sizeof *t);
	*out = NULL;
	if (!t || !(t->vc = calloc(VC_SLOTS, sizeof *t->vc))) {
		free(t);
		return LK_ENOMEM;
	}
	t->st = st;
	t->cfg = *cfg;
	pthread_rwlock_init(&t->lock, NULL);
	for (size_t i = 0; i < VC_SLOTS; i++)
		pthread_mutex_init(&t->vc[i].mu, NULL);
	randombytes_buf(t->vkey, sizeof t->vkey);
	*out = t;
	return LK_OK;
}

void lk_tokens_free(struct lk_tokens *t)
{
	if (!t)
		return;
	lk_jwks_free(t->verify);
	lk_jwk_free(t->signer);
	free(t->jwks);
	deny_free(&t->deny);
	for (size_t i = 0; i < VC_SLOTS; i++)
		pthread_mutex_destroy(&t->vc[i].mu);
	free(t->vc);
	pthread_rwlock_destroy(&t->lock);
	sodium_memzero(t->cfg.master, sizeof t->cfg.master);
	free(t);
}

/* ---------------------------------------------------------------- ring maintenance */

static enum lk_err new_key(struct lk_store *st, const struct lk_tokcfg *cfg, int64_t now,
			   int64_t sign_from, char *kid_out, struct lk_errinfo *ei)
{
	lk_jwk *k = NULL;
	char *json = NULL;
	struct lk_keyrec *rec = calloc(1, sizeof *rec);
	enum lk_err err;

	if (!rec)
		return LK_ENOMEM;
	if ((err = lk_jwk_generate(cfg->sign_alg, NULL, &k, ei)) ||
	    (err = lk_jwk_to_json(k, 1, &json, NULL)))
		goto out;
	snprintf(rec->kid, sizeof rec->kid, "%s", lk_jwk_kid(k));
	snprintf(rec->alg, sizeof rec->alg, "%s", lk_alg_name(cfg->sign_alg));
	if ((err = lk_keyseal(cfg, json, rec->jwk, sizeof rec->jwk)))
		goto out;
	rec->created = now;
	rec->sign_from = sign_from;
	if ((err = st->ops->key_add(st, rec)))
		goto out;
	if (kid_out)
		snprintf(kid_out, LK_KID_MAX + 1, "%s", rec->kid);
out:
	if (json) {
		sodium_memzero(json, strlen(json));
		free(json);
	}
	sodium_memzero(rec, sizeof *rec);
	free(rec);
	lk_jwk_free(k);
	return err;
}

struct ring_view {
	int64_t now;
	int n, live;
	bool sealed;
	char newest_alg[8];
	char newest_kid[LK_KID_MAX + 1];
	int64_t newest_created, newest_sign_from;
	char dead[16][LK_KID_MAX + 1];
	int ndead;
	char active[16][LK_KID_MAX + 1]; /* signing or due to sign, not retiring */
	int64_t active_from[16];
	int nactive;
};

static int view_key(void *ud, const struct lk_keyrec *k)
{
	struct ring_view *v = ud;
	v->n++;
	if (k->remove_at && k->remove_at <= v->now) {
		if (v->ndead < 16)
			snprintf(v->dead[v->ndead++], LK_KID_MAX + 1, "%s", k->kid);
		return 0;
	}
	v->live++;
	if (strncmp(k->jwk, "enc:", 4) == 0)
		v->sealed = true;
	if (k->created >= v->newest_created) {
		v->newest_created = k->created;
		v->newest_sign_from = k->sign_from;
		snprintf(v->newest_alg, sizeof v->newest_alg, "%s", k->alg);
		snprintf(v->newest_kid, sizeof v->newest_kid, "%s", k->kid);
	}
	if (!k->retire_at && v->nactive < 16) {
		v->active_from[v->nactive] = k->sign_from;
		snprintf(v->active[v->nactive++], LK_KID_MAX + 1, "%s", k->kid);
	}
	return 0;
}

enum lk_err lk_tokens_rotate(struct lk_store *st, const struct lk_tokcfg *cfg, int64_t now,
			     struct lk_errinfo *ei)
{
	struct ring_view v = {.now = now};
	char kid[LK_KID_MAX + 1];
	enum lk_err err;

	if ((err = st->ops->key_list(st, view_key, &v)))
		return err;
	if (v.sealed && !cfg->has_master)
		return lk_errf(ei, LK_EKEY, "the ring's keys are encrypted: set the master key "
					    "(LATCHKEY_MASTER_KEY or master_key_file) to rotate");
	/* Keep the ring's algorithm (the running servers' choice), not this caller's default. */
	struct lk_tokcfg c2 = *cfg;
	if (v.live && v.newest_alg[0])
		c2.sign_alg = lk_alg_from_name(v.newest_alg, strlen(v.newest_alg));
	if (!c2.sign_alg)
		c2.sign_alg = cfg->sign_alg;
	cfg = &c2;
	/* The newcomer is published now and signs one JWKS cache lifetime later, so every
	 * verifier that caches our JWKS has it before the first token it signed. */
	int64_t sign_from = v.live ? now + cfg->jwks_max_age : now;
	if ((err = new_key(st, cfg, now, sign_from, kid, ei)))
		return err;
	/* Keys signing until now retire when it starts, and stay published until every
	 * token they signed has expired. */
	/* The servers record their longest token lifetime plus leeway (revocation_ttl); a CLI
	 * with other defaults must not retire keys sooner than that. */
	int64_t longest = cfg->access_ttl > cfg->hybrid_ttl ? cfg->access_ttl : cfg->hybrid_ttl;
	int64_t stay = longest + (cfg->leeway > 0 ? cfg->leeway : 0), stored = 0;
	if (st->ops->revocation_ttl(st, &stored) == LK_OK && stored > stay)
		stay = stored;
	for (int i = 0; i < v.nactive; i++)
		if ((err = st->ops->key_retire(st, v.active[i], sign_from, sign_from + stay)))
			return err;
	return LK_OK;
}

/* The first key of an empty ring. Instances starting together on one store must not each
 * add one: they race for a claim (the store's first-writer-wins secret); the winner adds
 * the key, the others wait for it to appear. */
static enum lk_err first_key(struct lk_tokens *t, int64_t now)
{
	unsigned char mine[32], got[32];
	enum lk_err err;

	randombytes_buf(mine, sizeof mine);
	if ((err = t->st->ops->secret_claim(t->st, "first-key", mine, got)))
		return err;
	if (sodium_memcmp(mine, got, 32) == 0)
		return lk_tokens_rotate(t->st, &t->cfg, now, NULL);
	for (int i = 0; i < 100; i++) { /* up to 10 s for the winner to add it */
		struct ring_view v = {.now = now};
		if ((err = t->st->ops->key_list(t->st, view_key, &v)))
			return err;
		if (v.live)
			return LK_OK;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	/* the claimant died before adding it: add one ourselves */
	return lk_tokens_rotate(t->st, &t->cfg, now, NULL);
}

enum lk_err lk_tokens_maintain(struct lk_tokens *t, int64_t now)
{
	struct ring_view v = {.now = now};
	enum lk_err err;

	if ((err = t->st->ops->key_list(t->st, view_key, &v)))
		return err;
	for (int i = 0; i < v.ndead; i++)
		(void)t->st->ops->key_del(t->st, v.dead[i]);
	if (!v.live)
		return first_key(t, now);
	if (t->cfg.key_rotation && v.newest_sign_from <= now &&
	    v.newest_created + t->cfg.key_rotation <= now) {
		lk_log("info", "rotating the signing key on schedule", (char *)NULL);
		return lk_tokens_rotate(t->st, &t->cfg, now, NULL);
	}
	return LK_OK;
}

char *lk_tokens_jwks(struct lk_tokens *t)
{
	char *s = NULL;
	if (lock_fresh(t, (int64_t)time(NULL)) != LK_OK)
		return NULL;
	if (t->jwks)
		s = strdup(t->jwks);
	pthread_rwlock_unlock(&t->lock);
	return s;
}

/* ---------------------------------------------------------------- issue */

static json_t *roles_json(const char *roles)
{
	json_t *a = json_array();
	for (const char *p = roles; a && p && *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		if (n)
			json_array_append_new(a, json_stringn(p, n));
		p = c ? c + 1 : NULL;
	}
	return a;
}

enum lk_err lk_tokens_issue(struct lk_tokens *t, struct lk_principal *p, int64_t ttl,
			    int64_t now, char **token)
{
	unsigned char raw[16];
	char *payload = NULL;
	json_t *c;
	enum lk_err err;

	*token = NULL;
	randombytes_buf(raw, sizeof raw);
	lk_b64url_encode(raw, sizeof raw, p->jti);
	p->iat = now;
	p->exp = now + ttl;
	c = json_pack("{sssssssIsIss}", "iss", t->cfg.issuer, "sub", p->sub, "aud",
		      t->cfg.audience, "exp", (json_int_t)p->exp, "iat", (json_int_t)p->iat, "jti",
		      p->jti);
	if (!c)
		return LK_ENOMEM;
	json_object_set_new(c, "client_id", json_string(p->client_id[0] ? p->client_id : t->cfg.issuer));
	json_object_set_new(c, "scope", json_string(p->scope));
	json_object_set_new(c, "roles", roles_json(p->roles));
	if (p->name[0])
		json_object_set_new(c, "preferred_username", json_string(p->name));
	if (p->sid[0])
		json_object_set_new(c, "sid", json_string(p->sid));
	payload = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	if (!payload)
		return LK_ENOMEM;
	if ((err = lock_fresh(t, now)) == LK_OK) {
		if (!t->signer)
			err = LK_ENO_KEY;
		else
			err = lk_jws_sign(t->signer, "at+jwt", payload, strlen(payload), token, NULL, NULL);
		pthread_rwlock_unlock(&t->lock);
	}
	free(payload);
	return err;
}

/* ---------------------------------------------------------------- verify */

static bool denied(const struct denylist *d, const struct lk_principal *p)
{
	if (d->njti && bsearch(p->jti, d->jti, d->njti, sizeof *d->jti, cmp_str))
		return true;
	if (p->sid[0] && d->nsid && bsearch(p->sid, d->sid, d->nsid, sizeof *d->sid, cmp_str))
		return true;
	for (size_t i = 0; i < d->nsub; i++)
		if (p->iat < d->sub[i].before && !strcmp(d->sub[i].sub, p->sub))
			return true;
	return false;
}

static void copy_claim(const lk_jwt *j, const char *name, char *dst, size_t size)
{
	const char *v = lk_jwt_claim_str(j, name);
	snprintf(dst, size, "%s", v ? v : "");
}

/* roles: a JSON array of strings -> "a,b"; anything else leaves it empty. */
static void roles_from(const lk_jwt *j, char *dst, size_t size)
{
	size_t len = 0;
	const char *raw = lk_jwt_claim_raw(j, "roles", &len);
	json_error_t je;
	json_t *a = raw ? json_loadb(raw, len, JSON_DECODE_ANY, &je) : NULL, *v;
	size_t i, w = 0;
	dst[0] = '\0';
	if (json_is_array(a))
		json_array_foreach(a, i, v) {
			if (!json_is_string(v))
				continue;
			int n = snprintf(dst + w, size - w, "%s%s", w ? "," : "", json_string_value(v));
			if (n < 0 || (size_t)n >= size - w) {
				dst[w] = '\0';
				break;
			}
			w += (size_t)n;
		}
	json_decref(a);
}

enum lk_err lk_tokens_verify(struct lk_tokens *t, const char *token, size_t len, int64_t now,
			     struct lk_principal *p)
{
	unsigned char h[16];
	struct lk_verify_opts o = {0};
	lk_jwt *j = NULL;
	enum lk_err err;

	if (len > LK_MAX_TOKEN)
		return LK_ETOO_LARGE;
	crypto_shorthash_siphashx24(h, (const unsigned char *)token, len, t->vkey);
	struct vslot *vs = &t->vc[(h[0] | h[1] << 8 | (unsigned)h[2] << 16) % VC_SLOTS];
	if ((err = lock_fresh(t, now)))
		return err;
	bool hit = false;
	pthread_mutex_lock(&vs->mu);
	if (vs->used && vs->epoch == t->epoch && memcmp(vs->h, h, sizeof h) == 0) {
		*p = vs->p;
		hit = true;
	}
	pthread_mutex_unlock(&vs->mu);
	if (hit) {
		err = now >= p->exp + (t->cfg.leeway > 0 ? t->cfg.leeway : 0) ? LK_EEXPIRED : LK_OK;
	} else {
		o.iss = t->cfg.issuer;
		o.aud = t->cfg.audience;
		o.typ = "at+jwt";
		o.now = now;
		o.leeway = t->cfg.leeway > 0 ? t->cfg.leeway : -1;
		o.require = LK_REQ_EXP | LK_REQ_IAT | LK_REQ_SUB | LK_REQ_JTI;
		err = lk_jwt_verify(t->verify, token, len, &o, &j, NULL);
		if (!err) {
			memset(p, 0, sizeof *p);
			copy_claim(j, "sub", p->sub, sizeof p->sub);
			copy_claim(j, "jti", p->jti, sizeof p->jti);
			copy_claim(j, "scope", p->scope, sizeof p->scope);
			copy_claim(j, "sid", p->sid, sizeof p->sid);
			copy_claim(j, "client_id", p->client_id, sizeof p->client_id);
			char *name = lk_jwt_claim_dup(j, "preferred_username");
			snprintf(p->name, sizeof p->name, "%s", name ? name : "");
			free(name);
			roles_from(j, p->roles, sizeof p->roles);
			p->iat = lk_jwt_iat(j);
			p->exp = lk_jwt_exp(j);
			lk_jwt_free(j);
			pthread_mutex_lock(&vs->mu);
			vs->used = true;
			vs->epoch = t->epoch;
			memcpy(vs->h, h, sizeof h);
			vs->p = *p;
			pthread_mutex_unlock(&vs->mu);
		}
	}
	if (!err && denied(&t->deny, p))
		err = LK_EREVOKED;
	pthread_rwlock_unlock(&t->lock);
	return err;
}

enum lk_err lk_tokens_revoke_jti(struct lk_tokens *t, const struct lk_principal *p)
{
	return t->st->ops->revoke_add(t->st, "jti", p->jti, 0, p->exp + t->cfg.leeway);
}
