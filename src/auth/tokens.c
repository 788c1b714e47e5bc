/* SPDX-License-Identifier: MIT */
/*
 * Access tokens: key ring, JWKS, issuing, verifying (see tokens.h). Verification is
 * liblatchkey's own verifier (src/verify), fed by hand: the ring's keys and the store's
 * revocations go into it on every reload, so the server and every downstream service
 * share one set of rules, one denylist and one verified-token cache. One read-write lock
 * guards the loaded ring (signer, JWKS document); reloads take it exclusively and rarely,
 * verifications not at all.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <sodium.h>

#include "auth/tokens.h"
#include "jose/json.h"
#include "util/b64url.h"
#include "util/err.h"
#include "util/log.h"

#define RESYNC_EVERY 60 /* seconds between full re-reads of the revocations */

struct lk_tokens {
	struct lk_store *st;
	struct lk_tokcfg cfg;
	pthread_rwlock_t lock;   /* the ring below; verification does not take it */
	_Atomic bool loaded;
	_Atomic uint64_t gen;    /* store generation the state was loaded under */
	_Atomic int64_t loaded_at; /* for stores without a generation: reload each second */
	_Atomic int64_t next_change; /* when the signer or the published set changes next */
	lk_jwk *signer;          /* the key that signs now, or NULL */
	char *jwks;              /* public JWKS document */
	char *kids;              /* the loaded ring's kids: a changed ring gets new keys */
	lk_verifier *vf;         /* keys, rules, denylist, verified-token cache */
	int64_t rev_cursor;      /* last revocation fed to vf */
	int64_t resync_at;       /* when every revocation was last re-read */
	bool empty_reads;        /* the last incremental read found nothing new */
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

struct feed {
	struct lk_tokens *t;
	int64_t cursor;
	enum lk_err err;
};

static int on_revocation(void *ud, const struct lk_revocation *r)
{
	struct feed *f = ud;
	struct lk_revocation_event ev = {.cursor = r->cursor, .type = r->type,
					 .value = r->value, .before = r->before,
					 .expires = r->expires};
	enum lk_err err = lk_verifier_revoke(f->t->vf, &ev);
	if (err && err != LK_EINVAL) { /* EINVAL: a type this build does not know */
		f->err = err;
		return 1;
	}
	if (r->cursor > f->cursor)
		f->cursor = r->cursor;
	return 0;
}

/* "kid1 kid2 ..." of the loaded keys, to tell a changed ring from the same one. */
static char *kid_list(lk_jwk *const *keys, size_t n)
{
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(lk_jwk_kid(keys[i]) ? lk_jwk_kid(keys[i]) : "") + 1;
	char *s = malloc(len), *w = s;
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *k = lk_jwk_kid(keys[i]) ? lk_jwk_kid(keys[i]) : "";
		w += sprintf(w, "%s ", k);
	}
	*w = '\0';
	return s;
}

/* Reload the ring, and feed the verifier the revocations recorded since the last reload
 * (all of them once a minute, in case the store was emptied and its cursors restarted).
 * Called with the write lock held. */
static enum lk_err reload(struct lk_tokens *t, uint64_t gen, int64_t now)
{
	struct load l = {.t = t, .now = now};
	/* Everything again once a minute, or at most once a second when the generation moved
	 * and the last incremental read found nothing: a store that was emptied or failed
	 * over to a replica that lost writes numbers its revocations from below our cursor. */
	bool resync = now - t->resync_at >= RESYNC_EVERY ||
		      (t->empty_reads && now - t->resync_at >= 1);
	struct feed f = {.t = t, .cursor = resync ? 0 : t->rev_cursor};
	lk_jwks *set = NULL;
	char *doc = NULL, *kids = NULL;
	enum lk_err err;

	if ((err = t->st->ops->key_list(t->st, on_key, &l)))
		goto fail;
	if (l.err) { /* a key we cannot open: never serve a partial ring */
		err = l.err;
		goto fail;
	}
	if ((err = t->st->ops->revocations(t->st, f.cursor, now, on_revocation, &f)) ||
	    (err = f.err))
		goto fail;
	if ((err = lk_jwks_new(l.keys, l.n, &set)) || (err = lk_jwks_to_json(set, &doc, NULL)))
		goto fail;
	if (!(kids = kid_list(l.keys, l.n))) {
		err = LK_ENOMEM;
		goto fail;
	}
	/* New keys only when the ring changed: they end every cached verification. */
	if ((!t->kids || strcmp(kids, t->kids) != 0) && (err = lk_verifier_set_keys(t->vf, set)))
		goto fail;
	lk_jwk_free(t->signer);
	free(t->jwks);
	free(t->kids);
	t->signer = lk_jwk_ref(l.signer);
	t->jwks = doc;
	t->kids = kids;
	/* A full read sets the cursor to what the store holds now, lower too (a reset);
	 * an incremental one only moves it on. */
	if (resync) {
		t->rev_cursor = f.cursor;
		t->resync_at = now;
		t->empty_reads = false;
	} else {
		t->empty_reads = f.cursor == t->rev_cursor;
		if (f.cursor > t->rev_cursor)
			t->rev_cursor = f.cursor;
	}
	atomic_store_explicit(&t->next_change, l.next_change, memory_order_relaxed);
	atomic_store_explicit(&t->loaded_at, now, memory_order_relaxed);
	atomic_store_explicit(&t->gen, gen, memory_order_relaxed);
	atomic_store_explicit(&t->loaded, true, memory_order_release);
	lk_jwks_free(set);
	for (size_t i = 0; i < l.n; i++)
		lk_jwk_free(l.keys[i]);
	return LK_OK;
fail:
	for (size_t i = 0; i < l.n; i++)
		lk_jwk_free(l.keys[i]);
	lk_jwks_free(set);
	free(doc);
	free(kids);
	return err;
}

static bool stale(struct lk_tokens *t, uint64_t gen, int64_t now, bool has_gen)
{
	int64_t nc = atomic_load_explicit(&t->next_change, memory_order_relaxed);
	return !atomic_load_explicit(&t->loaded, memory_order_acquire) ||
	       gen != atomic_load_explicit(&t->gen, memory_order_relaxed) || (nc && now >= nc) ||
	       (!has_gen && now != atomic_load_explicit(&t->loaded_at, memory_order_relaxed));
}

/* Reload when the store moved on (one atomic load when it did not). A failed reload keeps
 * the last good state; it fails only when nothing was ever loaded. */
static enum lk_err refresh(struct lk_tokens *t, int64_t now)
{
	const struct lk_store_ops *ops = t->st->ops;
	uint64_t gen = ops->generation ? ops->generation(t->st) : 0;
	enum lk_err err = LK_OK;

	if (!stale(t, gen, now, ops->generation))
		return LK_OK;
	pthread_rwlock_wrlock(&t->lock);
	if (stale(t, gen, now, ops->generation))
		err = reload(t, gen, now);
	pthread_rwlock_unlock(&t->lock);
	return err && !atomic_load_explicit(&t->loaded, memory_order_acquire) ? err : LK_OK;
}

/* Take the read lock on fresh state. */
static enum lk_err lock_fresh(struct lk_tokens *t, int64_t now)
{
	enum lk_err err = refresh(t, now);
	if (!err)
		pthread_rwlock_rdlock(&t->lock);
	return err;
}

enum lk_err lk_tokens_new(struct lk_store *st, const struct lk_tokcfg *cfg,
			  struct lk_tokens **out, struct lk_errinfo *ei)
{
	struct lk_tokens *t = calloc(1, sizeof *t);
	enum lk_err err;
	*out = NULL;
	if (!t)
		return LK_ENOMEM;
	t->st = st;
	t->cfg = *cfg;
	/* The rules of every access token we issue (RFC 9068): our iss and aud, typ at+jwt,
	 * sub, jti, exp and iat present, the configured leeway. */
	struct lk_verifier_config vc = {.iss = t->cfg.issuer, .aud = t->cfg.audience,
					.typ = "at+jwt",
					.leeway = t->cfg.leeway > 0 ? t->cfg.leeway : -1};
	if ((err = lk_verifier_new(&vc, &t->vf, ei))) {
		free(t);
		return err;
	}
	pthread_rwlock_init(&t->lock, NULL);
	*out = t;
	return LK_OK;
}

void lk_tokens_free(struct lk_tokens *t)
{
	if (!t)
		return;
	lk_verifier_free(t->vf);
	lk_jwk_free(t->signer);
	free(t->jwks);
	free(t->kids);
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
	int64_t stay = lk_tokens_longest(cfg), stored = 0;
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

static void copy_claim(const lk_jwt *j, const char *name, char *dst, size_t size)
{
	const char *v = lk_jwt_claim_str(j, name);
	snprintf(dst, size, "%s", v ? v : "");
}

/* A string claim that lk_jwt_claim_str does not keep (preferred_username), unescaped into
 * dst and cut to its size; "" when absent or not a string. No allocation: this runs on
 * every bearer request, cache hits included. */
static void copy_raw_str(const lk_jwt *j, const char *name, char *dst, size_t size)
{
	char tmp[LK_MAX_TOKEN];
	size_t len = 0;
	const char *raw = lk_jwt_claim_raw(j, name, &len);
	dst[0] = '\0';
	if (!raw || len < 2 || raw[0] != '"' || len - 2 >= sizeof tmp)
		return;
	size_t n = lk_json_unescape(raw + 1, len - 2, tmp);
	tmp[n] = '\0';
	n = strnlen(tmp, size - 1); /* to a NUL inside, as a C string reads it, and to size */
	memcpy(dst, tmp, n);
	dst[n] = '\0';
}

/* roles: a JSON array of strings -> "a,b", cut at the last role that fits; anything else
 * leaves it empty. The array passed the scanner when the token was verified, so its
 * strings are well formed; an element that is not a string empties the list. */
static void roles_from(const lk_jwt *j, char *dst, size_t size)
{
	char tmp[LK_MAX_TOKEN];
	size_t len = 0, w = 0;
	const char *raw = lk_jwt_claim_raw(j, "roles", &len);
	dst[0] = '\0';
	if (!raw || len < 2 || raw[0] != '[')
		return;
	for (const char *p = raw + 1, *end = raw + len - 1;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ','))
			p++;
		if (p >= end)
			return;
		if (*p != '"') {
			dst[0] = '\0';
			return;
		}
		const char *e = ++p;
		while (*e != '"')
			e += *e == '\\' ? 2 : 1;
		size_t n = lk_json_unescape(p, (size_t)(e - p), tmp);
		tmp[n] = '\0';
		p = e + 1;
		int k = snprintf(dst + w, size - w, "%s%s", w ? "," : "", tmp);
		if (k < 0 || (size_t)k >= size - w) {
			dst[w] = '\0';
			return;
		}
		w += (size_t)k;
	}
}

enum lk_err lk_tokens_verify(struct lk_tokens *t, const char *token, size_t len, int64_t now,
			     struct lk_principal *p)
{
	lk_jwt *j = NULL;
	enum lk_err err;

	if (len > LK_MAX_TOKEN)
		return LK_ETOO_LARGE;
	if ((err = refresh(t, now)) || (err = lk_verifier_verify_at(t->vf, token, len, now, &j, NULL)))
		return err;
	memset(p, 0, sizeof *p);
	copy_claim(j, "sub", p->sub, sizeof p->sub);
	copy_claim(j, "jti", p->jti, sizeof p->jti);
	copy_claim(j, "scope", p->scope, sizeof p->scope);
	copy_claim(j, "sid", p->sid, sizeof p->sid);
	copy_claim(j, "client_id", p->client_id, sizeof p->client_id);
	copy_raw_str(j, "preferred_username", p->name, sizeof p->name);
	roles_from(j, p->roles, sizeof p->roles);
	p->iat = lk_jwt_iat(j);
	p->exp = lk_jwt_exp(j);
	lk_jwt_free(j);
	return LK_OK;
}

enum lk_err lk_tokens_revoke_jti(struct lk_tokens *t, const struct lk_principal *p)
{
	enum lk_err err = t->st->ops->revoke_add(t->st, "jti", p->jti, 0, p->exp + t->cfg.leeway);
	if (!err)
		lk_tokens_deny(t, "jti", p->jti, 0, p->exp + t->cfg.leeway);
	return err;
}

int64_t lk_tokens_longest(const struct lk_tokcfg *c)
{
	return (c->access_ttl > c->hybrid_ttl ? c->access_ttl : c->hybrid_ttl) +
	       (c->leeway > 0 ? c->leeway : 0);
}

void lk_tokens_deny(struct lk_tokens *t, const char *type, const char *value, int64_t before,
		    int64_t expires)
{
	if (!t || !value || !*value)
		return;
	if (!expires)
		expires = (int64_t)time(NULL) + lk_tokens_longest(&t->cfg);
	struct lk_revocation_event ev = {.cursor = 0, .type = type, .value = value,
					 .before = before, .expires = expires};
	/* Out of memory: the store's feed still brings it with the next reload. */
	enum lk_err err = lk_verifier_revoke(t->vf, &ev);
	(void)err;
}
