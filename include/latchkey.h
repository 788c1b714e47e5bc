/* SPDX-License-Identifier: MIT */
/*
 * latchkey.h: the one installed header of liblatchkey, the JOSE core that signs and
 * verifies every token latchkey handles: strict base64url, JWK and JWKS for oct, RSA,
 * EC P-256/384/521 and OKP Ed25519, JWS compact serialization and JWT claim checks.
 *
 * Design in one paragraph: keys are parsed once into OpenSSL or libsodium objects and are
 * immutable afterwards, so one lk_jwks may be used by any number of threads at once.
 * The algorithm always comes from the key, never from the token. Every function that can
 * fail returns an enum lk_err whose numbers never change; an optional caller-owned
 * struct lk_errinfo receives a short detail text that never contains token, key or
 * password bytes. Out-parameters are written only on success and set to NULL on failure.
 */
#ifndef LATCHKEY_H
#define LATCHKEY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LK_API __attribute__((visibility("default")))
#define LK_WUR __attribute__((warn_unused_result))
#else
#define LK_API
#define LK_WUR
#endif

#define LK_VERSION "0.1.0"

/* Hard limits, enforced before any parsing. */
#define LK_MAX_TOKEN (8 * 1024)       /* compact JWS/JWT, bytes */
#define LK_MAX_JWK (16 * 1024)        /* one JWK, bytes of JSON */
#define LK_MAX_JWKS (256 * 1024)      /* one JWKS document, bytes of JSON */
#define LK_MAX_JWKS_KEYS 64           /* keys in one JWKS */
#define LK_DEFAULT_LEEWAY 60          /* seconds, for exp/nbf/iat */

/*
 * Error codes. Numbers are stable: a retired code stays as a placeholder. Each code
 * belongs to one class (lk_err_class) and has one stable reason string (lk_err_str),
 * the word printed after "invalid: " by `latchkey jwt verify`. docs/errors.md lists all.
 */
enum lk_err {
	LK_OK = 0,
	/* class LK_CLASS_INPUT: the token or document is not well formed */
	LK_EMALFORMED = 1,        /* "malformed": not three dot-separated parts, bad structure */
	LK_ETOO_LARGE = 2,        /* "too_large": over LK_MAX_TOKEN / LK_MAX_JWK / LK_MAX_JWKS */
	LK_EBASE64 = 3,           /* "bad_base64": not strict unpadded base64url */
	LK_EJSON = 4,             /* "bad_json": not one valid UTF-8 JSON object */
	LK_EDUPLICATE = 5,        /* "duplicate_member": a member name appears twice */
	/* class LK_CLASS_REJECTED: well formed, but not acceptable */
	LK_EALG_NONE = 10,        /* "alg_none": unsecured JWS never verifies */
	LK_EALG_NOT_ALLOWED = 11, /* "alg_not_allowed": alg not the key's, or not allowed */
	LK_ENO_KEY = 12,          /* "no_matching_key": no key with this kid / for this alg */
	LK_EBAD_SIGNATURE = 13,   /* "bad_signature" */
	LK_EWEAK_KEY = 14,        /* "weak_key": RSA < 2048 bits, HMAC secret < hash size */
	LK_ECRIT = 15,            /* "unsupported_crit": crit names an extension we lack */
	LK_EEXPIRED = 16,         /* "expired": exp + leeway <= now */
	LK_ENOT_YET_VALID = 17,   /* "not_yet_valid": nbf - leeway > now */
	LK_EIAT_FUTURE = 18,      /* "issued_in_future": iat - leeway > now */
	LK_EISSUER = 19,          /* "bad_issuer": iss absent or not the configured one */
	LK_EAUDIENCE = 20,        /* "bad_audience": aud absent or not containing ours */
	LK_EMISSING_CLAIM = 21,   /* "missing_claim": a required claim is absent */
	LK_ECLAIM_TYPE = 22,      /* "bad_claim": a registered claim has the wrong JSON type */
	LK_ETYP = 23,             /* "bad_typ": header typ is not the required one */
	LK_EHEADER = 24,          /* "bad_header": alg missing or a header member mistyped */
	LK_EREVOKED = 25,         /* "revoked": the token or session was revoked */
	LK_EKEY_AMBIGUOUS = 26,   /* "ambiguous_key": no kid, and several keys fit the alg */
	/* class LK_CLASS_KEY: a key or key set is unusable */
	LK_EKEY = 30,             /* "bad_key": malformed or inconsistent JWK */
	LK_EUNSUPPORTED = 31,     /* "unsupported": kty, crv or alg we do not implement */
	LK_EKEY_USE = 32,         /* "key_not_for_signing": use/key_ops exclude signatures */
	LK_ENO_PRIVATE = 33,      /* "no_private_key": signing needs the private part */
	/* class LK_CLASS_SYSTEM: not the input's fault */
	LK_ENOMEM = 40,           /* "out_of_memory" */
	LK_ECRYPTO = 41,          /* "crypto_error": the crypto library failed */
	LK_EIO = 42,              /* "io_error": file or network */
	LK_EINVAL = 43,           /* "invalid_argument": API misuse */
	LK_EBUSY = 44,            /* "busy": a bounded queue is full; retry later */
	LK_ESTALE = 45,           /* "stale": the revocation feed has been silent past the
				     verifier's bound, so a revoked token cannot be ruled out */
	/* class LK_CLASS_STORE: the session/user store (server side) */
	LK_ENOT_FOUND = 50,       /* "not_found": no such user, session, ... */
	LK_EEXISTS = 51,          /* "already_exists" */
	LK_ESTORE = 52,           /* "store_unavailable": the store cannot be reached or written */
	LK_ESTORE_CORRUPT = 53,   /* "store_corrupt": the store's data is damaged or foreign */
	LK_ESTORE_VERSION = 54,   /* "store_version": schema newer than this program */
	LK_ESTORE_READONLY = 55,  /* "store_readonly": the store can be read but not written
				     (a read-only file, directory or filesystem) */
	/* class LK_CLASS_AUTH: authentication outcomes (server side) */
	LK_EBAD_CREDENTIALS = 60, /* "invalid_credentials": unknown user or wrong password */
	LK_ERATE_LIMITED = 61,    /* "rate_limited": too many failures; retry later */
	LK_ESESSION = 62,         /* "invalid_session": no, expired or revoked session */
	LK_EFORBIDDEN = 63,       /* "forbidden": authenticated, but not allowed */
	LK_ECSRF = 64,            /* "csrf": cross-site request refused */
};

enum lk_err_class {
	LK_CLASS_OK = 0,
	LK_CLASS_INPUT = 1,
	LK_CLASS_REJECTED = 2,
	LK_CLASS_KEY = 3,
	LK_CLASS_SYSTEM = 4,
	LK_CLASS_STORE = 5,
	LK_CLASS_AUTH = 6,
};

/* Caller-allocated detail for one failure. Never holds secret or token bytes. */
struct lk_errinfo {
	enum lk_err code;
	char detail[120];
};

/* Stable reason word for err ("expired", "bad_signature", ...); "unknown" if unknown. */
LK_API const char *lk_err_str(enum lk_err err);
/* The class of err. */
LK_API enum lk_err_class lk_err_class(enum lk_err err);

/* JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1). Values are bits for allow-masks. */
enum lk_alg {
	LK_ALG_NONE = 0,
	LK_ALG_HS256 = 1u << 0,
	LK_ALG_HS384 = 1u << 1,
	LK_ALG_HS512 = 1u << 2,
	LK_ALG_RS256 = 1u << 3,
	LK_ALG_RS384 = 1u << 4,
	LK_ALG_RS512 = 1u << 5,
	LK_ALG_PS256 = 1u << 6,
	LK_ALG_PS384 = 1u << 7,
	LK_ALG_PS512 = 1u << 8,
	LK_ALG_ES256 = 1u << 9,
	LK_ALG_ES384 = 1u << 10,
	LK_ALG_ES512 = 1u << 11,
	LK_ALG_EDDSA = 1u << 12,
};
#define LK_ALG_ALL 0x1fffu
#define LK_ALG_HMAC (LK_ALG_HS256 | LK_ALG_HS384 | LK_ALG_HS512)

/* "HS256" etc. for one alg bit; NULL for none or a mask of several. */
LK_API const char *lk_alg_name(enum lk_alg alg);
/* Parse "ES256"; LK_ALG_NONE when unknown (including "none"). */
LK_API enum lk_alg lk_alg_from_name(const char *name, size_t len);
/* Parse a comma-separated list "ES256,EdDSA" into *mask. LK_EUNSUPPORTED on unknown. */
LK_API LK_WUR enum lk_err lk_alg_parse_list(const char *list, unsigned *mask);

/* ---------------------------------------------------------------- keys */

typedef struct lk_jwk lk_jwk;   /* one key; immutable, reference counted, thread-safe */
typedef struct lk_jwks lk_jwks; /* a key set; immutable once built, thread-safe */

/*
 * Parse one JWK (RFC 7517) from json[0..len). Supported: kty oct, RSA, EC (P-256, P-384,
 * P-521) and OKP (Ed25519), public or private. Rejects duplicate members, weak keys
 * (LK_EWEAK_KEY), points off the curve and inconsistent private parts (LK_EKEY).
 * "use" and "key_ops" are honoured: "use" other than "sig" is LK_EKEY_USE; a key whose
 * key_ops lack "verify" never verifies, one whose key_ops lack "sign" never signs, and a
 * key left with neither (a public key without "verify") is LK_EKEY_USE. key_ops must be
 * an array of strings naming "sign" and "verify" at most once each (LK_EKEY).
 * On success *out owns a new reference (release with lk_jwk_free); on failure *out = NULL.
 */
LK_API LK_WUR enum lk_err lk_jwk_parse(const char *json, size_t len, lk_jwk **out,
				       struct lk_errinfo *ei);

/* Generate a new private key for alg (RSA 2048 bits; oct as long as the hash). kid NULL:
 * the RFC 7638 SHA-256 thumbprint. *out owns a new reference. */
LK_API LK_WUR enum lk_err lk_jwk_generate(enum lk_alg alg, const char *kid, lk_jwk **out,
					  struct lk_errinfo *ei);

/* JSON of the key, NUL-terminated, in *out (free with free()); *len may be NULL.
 * private_part != 0 includes the private members (d, p, q, ..., k). An oct key has no
 * public form: LK_EUNSUPPORTED without private_part. A key parsed with key_ops keeps them:
 * in full in the private form, as ["verify"] in the public form; a key whose key_ops lack
 * "verify" has no public form (LK_EKEY_USE). */
LK_API LK_WUR enum lk_err lk_jwk_to_json(const lk_jwk *key, int private_part, char **out,
					 size_t *len);

/* RFC 7638 thumbprint (SHA-256), base64url, into buf (at least 44 bytes). */
LK_API LK_WUR enum lk_err lk_jwk_thumbprint(const lk_jwk *key, char *buf, size_t size);

LK_API lk_jwk *lk_jwk_ref(lk_jwk *key); /* +1 reference; returns key */
LK_API void lk_jwk_free(lk_jwk *key);   /* -1 reference; NULL is a no-op */

/* The key's own algorithm: its "alg" member, else the one its kty/crv fixes (EC, OKP).
 * LK_ALG_NONE when the key admits several (RSA or oct without "alg"). */
LK_API enum lk_alg lk_jwk_alg(const lk_jwk *key);
/* Every algorithm this key may verify with (one bit when "alg" is set). */
LK_API unsigned lk_jwk_algs(const lk_jwk *key);
/* "kid" or NULL. Valid as long as the key. */
LK_API const char *lk_jwk_kid(const lk_jwk *key);
LK_API int lk_jwk_is_private(const lk_jwk *key);

/*
 * Parse a JWKS document {"keys":[...]} (or, for convenience, one bare JWK). A key that is
 * unsupported, weak or malformed does not fail the set: it is kept, unusable, with its
 * reason, and a token naming its kid fails with that reason. The document itself must be
 * valid JSON without duplicate members, under LK_MAX_JWKS bytes and LK_MAX_JWKS_KEYS keys.
 * Private members are dropped: a set built here only verifies, so a key whose "use" is not
 * "sig" or whose key_ops lack "verify" is kept unusable with LK_EKEY_USE.
 */
LK_API LK_WUR enum lk_err lk_jwks_parse(const char *json, size_t len, lk_jwks **out,
					struct lk_errinfo *ei);
/* A set of keys from keys[0..n), each gaining a reference. */
LK_API LK_WUR enum lk_err lk_jwks_new(lk_jwk *const *keys, size_t n, lk_jwks **out);
/* {"keys":[...]} with the public part of each usable asymmetric key that may verify (oct
 * keys are never published). Free with free(). */
LK_API LK_WUR enum lk_err lk_jwks_to_json(const lk_jwks *set, char **out, size_t *len);
LK_API size_t lk_jwks_count(const lk_jwks *set);   /* usable and unusable */
LK_API const lk_jwk *lk_jwks_get(const lk_jwks *set, size_t i); /* NULL when unusable */
LK_API lk_jwks *lk_jwks_ref(lk_jwks *set);
LK_API void lk_jwks_free(lk_jwks *set);

/* ---------------------------------------------------------------- JWS / JWT */

/*
 * Sign payload[0..len) as JWS compact (LK_ETOO_LARGE when the token would exceed
 * LK_MAX_TOKEN, which no verifier here would accept; LK_ENO_PRIVATE for a public key;
 * LK_EKEY_USE when the key's key_ops lack "sign"). The header is {"alg":<key's alg>,"typ":typ,
 * "kid":<key's kid>} with typ and kid left out when NULL. *out is NUL-terminated, free().
 */
LK_API LK_WUR enum lk_err lk_jws_sign(const lk_jwk *key, const char *typ, const void *payload,
				      size_t len, char **out, size_t *outlen,
				      struct lk_errinfo *ei);

/*
 * Verify a JWS compact token against a key set without reading its payload as claims.
 * allow is a mask of enum lk_alg (0: whatever the key allows). The key is chosen as by
 * lk_jwt_verify: by kid, or, without kid, the one key that fits (else LK_EKEY_AMBIGUOUS).
 * On success *payload is the decoded payload, NUL-terminated, free() it; *plen may be NULL.
 */
LK_API LK_WUR enum lk_err lk_jws_verify(const lk_jwks *keys, const char *token, size_t len,
					unsigned allow, char **payload, size_t *plen,
					struct lk_errinfo *ei);

/* What lk_jwt_verify checks besides the signature. Zero-initialise, then set. */
struct lk_verify_opts {
	unsigned allow;        /* enum lk_alg mask; 0 = whatever the key allows */
	const char *iss;       /* required issuer, or NULL */
	const char *aud;       /* audience that must be in aud (string or array), or NULL */
	const char *typ;       /* required header typ, compared case-insensitively
				  with or without "application/"; NULL = any */
	int64_t now;           /* UNIX seconds; 0 = the clock */
	int64_t leeway;        /* seconds for exp/nbf/iat; < 0 = none, 0 = LK_DEFAULT_LEEWAY */
	unsigned require;      /* LK_REQ_* bits: claims that must be present */
};
#define LK_REQ_EXP (1u << 0)
#define LK_REQ_IAT (1u << 1)
#define LK_REQ_NBF (1u << 2)
#define LK_REQ_SUB (1u << 3)
#define LK_REQ_JTI (1u << 4)
#define LK_REQ_ISS (1u << 5)
#define LK_REQ_AUD (1u << 6)

typedef struct lk_jwt lk_jwt; /* a verified token: header, payload, registered claims */

/*
 * Verify a JWT: size cap (LK_MAX_TOKEN bytes, before any parsing), strict base64url,
 * header (alg, kid, typ, crit), key by kid, algorithm from the key, signature, then claims:
 * exp, nbf, iat with leeway; iss, aud, typ when configured; registered claims of the right
 * JSON type; no duplicate members. A key fits a token when it is usable, may verify (use,
 * key_ops) and admits the token's alg. With a kid, the keys of that kid are tried. Without
 * one, exactly one key of the set must fit: two or more is LK_EKEY_AMBIGUOUS, returned
 * before any signature check, so a forged token costs at most one.
 * Thread-safe; performs no I/O. On success *out owns the result (lk_jwt_free).
 */
LK_API LK_WUR enum lk_err lk_jwt_verify(const lk_jwks *keys, const char *token, size_t len,
					const struct lk_verify_opts *opts, lk_jwt **out,
					struct lk_errinfo *ei);
/* Tokens are reference counted and immutable: lk_jwt_ref adds a reference (returns jwt),
 * lk_jwt_free drops one (NULL is a no-op). Any thread may read or release a reference. */
LK_API lk_jwt *lk_jwt_ref(lk_jwt *jwt);
LK_API void lk_jwt_free(lk_jwt *jwt);

/* Raw JSON of the decoded header and payload, NUL-terminated, valid as long as jwt. */
LK_API const char *lk_jwt_header_json(const lk_jwt *jwt, size_t *len);
LK_API const char *lk_jwt_payload_json(const lk_jwt *jwt, size_t *len);
LK_API enum lk_alg lk_jwt_alg(const lk_jwt *jwt);
/* Unescaped value of one of the string claims iss, sub, jti, scope, sid, client_id,
 * NUL-terminated, valid as long as jwt; NULL when absent or when name is not one of these
 * (the header kid is lk_jwt_kid). O(1): filled in by lk_jwt_verify, which rejects these
 * claims when they contain a NUL character. */
LK_API const char *lk_jwt_claim_str(const lk_jwt *jwt, const char *name);
/* Any top-level string claim, unescaped, in a new string the caller frees with free().
 * NULL when absent, not a string, or out of memory. */
LK_API char *lk_jwt_claim_dup(const lk_jwt *jwt, const char *name);
/* The raw JSON text of any top-level claim's value (e.g. ["a","b"] for roles), not
 * NUL-terminated, length in *len; valid as long as jwt. NULL when absent. */
LK_API const char *lk_jwt_claim_raw(const lk_jwt *jwt, const char *name, size_t *len);
/* NumericDate claims; 0 when absent. */
LK_API int64_t lk_jwt_exp(const lk_jwt *jwt);
LK_API int64_t lk_jwt_iat(const lk_jwt *jwt);
LK_API int64_t lk_jwt_nbf(const lk_jwt *jwt);
/* Header "kid" or NULL. */
LK_API const char *lk_jwt_kid(const lk_jwt *jwt);

/*
 * Decode a compact token's header and payload without verifying anything (for display).
 * Structure and base64url of all three parts are checked strictly, and the header must be
 * a JSON object; the payload is returned as bytes for the caller to parse. Outputs are
 * NUL-terminated, free() them.
 */
LK_API LK_WUR enum lk_err lk_jws_decode_unverified(const char *token, size_t len,
						   char **header, char **payload,
						   size_t *siglen, struct lk_errinfo *ei);

/* ---------------------------------------------------------------- verifier */

/*
 * A verifier for the access tokens of one issuer, for services that accept them: keys,
 * rules and a local denylist of revoked tokens, with no network I/O on the hot path.
 *
 * Made from one source of keys:
 * - an issuer URL: discovery (ISSUER/.well-known/openid-configuration), then its jwks_uri
 *   over libcurl, refetched on schedule (jwks_refresh) and when a token names a kid the
 *   set lacks (at most once per kid_cooldown);
 * - a JWKS file, read once;
 * - or nothing: the caller supplies keys with lk_verifier_set_keys (and revocations with
 *   lk_verifier_revoke), as the latchkey server does for its own tokens.
 * With client credentials and an issuer, a background thread subscribes to
 * ISSUER/revocations/stream (Server-Sent Events, resumed with Last-Event-ID after a
 * snapshot from ISSUER/revocations), keeps the denylist current and reconnects with
 * backoff. Past max_stale seconds without contact (an event or a ping), verification fails
 * closed with LK_ESTALE until contact is back.
 *
 * Hot path: verify takes no lock that another verifying thread can hold. Keys, denylist
 * and the cache of verified tokens are read through atomic pointers; replaced versions are
 * freed once no reader can still hold them (epoch-based reclamation).
 */
typedef struct lk_verifier lk_verifier;

/* Zero-initialise, then set; every 0 / NULL means the default named here. */
struct lk_verifier_config {
	const char *issuer;        /* issuer URL (http(s)://host[:port][/path]); also the
				      required `iss` unless iss is set */
	const char *jwks_file;     /* a JWKS file instead of discovery (exclusive with
				      jwks_url) */
	const char *jwks_url;      /* a JWKS URL instead of discovery */
	const char *client_id;     /* credentials for the revocation feed (HTTP Basic); */
	const char *client_secret; /* without them there is no subscription */
	const char *ca_file;       /* PEM CA bundle for https; NULL: the system's */
	const char *iss;           /* required iss; NULL: issuer (when set), else unchecked */
	const char *aud;           /* required audience, or NULL */
	const char *typ;           /* required header typ; NULL: "at+jwt" (RFC 9068); "" any */
	unsigned allow;            /* enum lk_alg mask; 0: what the key allows */
	int64_t leeway;            /* seconds; 0: LK_DEFAULT_LEEWAY; < 0: none */
	int64_t max_stale;         /* seconds without contact before LK_ESTALE; 0: 60;
				      < 0: never fail closed (not recommended) */
	int64_t jwks_refresh;      /* seconds between scheduled JWKS fetches; 0: 300 */
	int64_t kid_cooldown;      /* least seconds between unknown-kid fetches; 0: 10 */
	size_t cache_slots;        /* verified-token cache slots; 0: 4096; SIZE_MAX: none */
	int start_timeout_ms;      /* lk_verifier_new waits this long for the first JWKS and
				      snapshot; 0: 5000; < 0: do not wait */
};

/*
 * Make a verifier. With an issuer or jwks_url, the first JWKS fetch (and, with
 * credentials, the first snapshot) happen before this returns, within start_timeout_ms:
 * a failure there is returned (LK_EIO with the reason in ei) rather than left to the
 * first verification. *out owns the verifier (lk_verifier_free).
 */
LK_API LK_WUR enum lk_err lk_verifier_new(const struct lk_verifier_config *cfg,
					  lk_verifier **out, struct lk_errinfo *ei);

/*
 * Verify one access token: the rules of lk_jwt_verify (size, base64url, header, key, alg,
 * signature, times, iss, aud, typ; sub, jti, exp and iat required), then the denylist:
 * LK_EREVOKED when its jti, its sid or its sub (issued before that subject's not-before)
 * was revoked. LK_ESTALE when subscribed and the feed has been silent past max_stale;
 * LK_ENO_KEY when no key is known yet. A token verified before is found in the cache by
 * its bytes and skips the signature, never the time checks or the denylist.
 * Thread-safe; no network I/O (an unknown kid wakes the background fetch, at most once per
 * kid_cooldown, and this call fails with LK_ENO_KEY). On success *out owns a reference
 * (lk_jwt_free).
 */
LK_API LK_WUR enum lk_err lk_verifier_verify(lk_verifier *v, const char *token, size_t len,
					     lk_jwt **out, struct lk_errinfo *ei);
/* The same at a given time (UNIX seconds; 0: the clock), for replaying and testing. The
 * feed's staleness is always judged by the clock. */
LK_API LK_WUR enum lk_err lk_verifier_verify_at(lk_verifier *v, const char *token, size_t len,
						int64_t now, lk_jwt **out, struct lk_errinfo *ei);

/* Replace the key set (the verifier takes its own reference). Cached verifications end.
 * For verifiers made without a key source; also usable to force keys on any verifier. */
LK_API LK_WUR enum lk_err lk_verifier_set_keys(lk_verifier *v, lk_jwks *keys);

/* One revocation event, as the feed sends it (SPEC "Revocation events"). */
struct lk_revocation_event {
	int64_t cursor;            /* the feed's cursor; 0 when fed by hand */
	const char *type;          /* "jti", "sid" or "sub" */
	const char *value;         /* at most 255 bytes */
	int64_t before;            /* sub: tokens issued before this are void */
	int64_t expires;           /* after this the event is dropped */
};
/* Add an event to the denylist (LK_EINVAL for an unknown type or an empty value). Takes
 * effect for every verification that starts after it returns. */
LK_API LK_WUR enum lk_err lk_verifier_revoke(lk_verifier *v, const struct lk_revocation_event *ev);

struct lk_verifier_stats {
	int64_t cursor;            /* last event cursor seen */
	int64_t last_contact;      /* UNIX time of the feed's last event or ping; 0: never */
	int subscribed;            /* 1 while the stream is connected */
	size_t revocations;        /* live denylist entries */
	size_t denylist_bytes;     /* memory held by the denylist */
	uint64_t jwks_fetches;     /* successful JWKS fetches */
	uint64_t reconnects;       /* stream (re)connections */
	uint64_t cache_hits, cache_misses;
	uint64_t auth_failures;    /* 401/403 from the feed: wrong client credentials */
	uint64_t feed_errors;      /* other failed stream connections or snapshots */
	uint64_t bad_events;       /* events skipped: malformed, oversize, unknown type */
	uint64_t jwks_errors;      /* failed discoveries or JWKS fetches */
	char last_error[120];      /* the latest network failure ("" when none); never a
				      secret: say this when a verifier goes stale */
};
LK_API void lk_verifier_stats(lk_verifier *v, struct lk_verifier_stats *out);

/* Stop the background thread and free everything. No verify may be running or start. */
LK_API void lk_verifier_free(lk_verifier *v);

/* Release the calling thread's cached crypto contexts (also done at thread exit). */
LK_API void lk_thread_cleanup(void);

#ifdef __cplusplus
}
#endif
#endif /* LATCHKEY_H */
