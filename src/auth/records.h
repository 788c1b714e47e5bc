/* SPDX-License-Identifier: MIT */
/*
 * The records and settings that the auth core hands its callers (src/http, src/cli) and
 * keeps in the store: users, sessions, audit events, signing keys, clients, the principal
 * a verified token speaks for, and the settings of each part. Plain data, no behaviour;
 * the store's own bookkeeping (refresh rows, revocation rows, limiter state) stays in
 * store/store.h, which only src/auth and src/store may include.
 */
#ifndef LK_AUTH_RECORDS_H
#define LK_AUTH_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "latchkey.h"

#define LK_NAME_MAX 64       /* user name bytes, excluding NUL */
#define LK_ROLES_MAX 256     /* comma-separated roles, excluding NUL */
#define LK_PHC_MAX 160       /* crypto_pwhash_STRBYTES is 128 */
#define LK_HANDLE_LEN 22     /* public session handle: base64url of 16 random bytes */
#define LK_CSRF_LEN 43       /* per-session synchronizer token: base64url of 32 bytes */
#define LK_IP_MAX 46
#define LK_UA_MAX 256

struct lk_user {
	int64_t id;
	char name[LK_NAME_MAX + 1];
	char roles[LK_ROLES_MAX + 1];  /* "admin,reader"; empty when none */
	char phc[LK_PHC_MAX + 1];      /* Argon2id PHC string */
	int64_t created;
	int64_t pw_changed;            /* tokens issued before this are void */
};

struct lk_session {
	unsigned char id_hash[32];     /* SHA-256 of the 32-byte cookie secret */
	char handle[LK_HANDLE_LEN + 1];/* public id: GET /sessions, the `sid` claim */
	char csrf[LK_CSRF_LEN + 1];    /* synchronizer token for this session's HTML forms */
	int64_t user_id;
	int64_t created;
	int64_t last_seen;
	int64_t expires;               /* absolute expiry (created + absolute timeout) */
	char ip[LK_IP_MAX + 1];
	char user_agent[LK_UA_MAX + 1];
};

struct lk_audit {
	int64_t id;                    /* assigned by the store */
	int64_t ts;
	char event[32];                /* "login", "login_failed", "logout", "revoke", ... */
	char user[LK_NAME_MAX + 1];    /* may be empty */
	char ip[LK_IP_MAX + 1];
	char detail[256];              /* never secrets */
};

#define LK_KID_MAX 64
#define LK_CLIENT_ID_LEN 22   /* base64url of 16 random bytes */
#define LK_SCOPE_MAX 256
#define LK_JWK_JSON_MAX 8192  /* a private JWK as stored (RSA 2048 fits; maybe encrypted) */
#define LK_TOKEN_MAX 4096     /* an access token kept for the refresh grace window */

/* One signing key of the ring. Timeline: published in the JWKS from `created`; signs from
 * `sign_from` (at least one JWKS cache lifetime later, except for the very first key);
 * stops signing at `retire_at` (0: not scheduled); leaves the JWKS at `remove_at`, after
 * every token it signed has expired. */
struct lk_keyrec {
	char kid[LK_KID_MAX + 1];
	char alg[8];
	char jwk[LK_JWK_JSON_MAX + 1]; /* private JWK JSON, or "enc:v1:..." under a master key */
	int64_t created, sign_from, retire_at, remove_at;
};

struct lk_client {
	char id[LK_CLIENT_ID_LEN + 1];
	char name[LK_NAME_MAX + 1];
	unsigned char secret_hash[32];  /* SHA-256 of the 32-byte random secret */
	char scope[LK_SCOPE_MAX + 1];
	int64_t created;
};

/* Who a verified token speaks for. Strings are copies. */
struct lk_principal {
	char sub[LK_KID_MAX + 1];
	char name[LK_NAME_MAX + 1];
	char roles[LK_ROLES_MAX + 1];   /* comma-separated */
	char scope[LK_SCOPE_MAX + 1];
	char client_id[LK_CLIENT_ID_LEN + 1];
	char sid[LK_HANDLE_LEN + 1];
	char jti[32];
	int64_t iat, exp;
};


/* Callbacks for listings; return non-zero to stop early. */
typedef int (*lk_user_cb)(void *ud, const struct lk_user *u);
typedef int (*lk_session_cb)(void *ud, const struct lk_session *s);
typedef int (*lk_audit_cb)(void *ud, const struct lk_audit *a);
typedef int (*lk_key_cb)(void *ud, const struct lk_keyrec *k);

/* ---------------------------------------------------------------- settings */

#define LK_PW_MAX 1024                   /* longest accepted password, bytes */
#define LK_PW_MIN 8                      /* shortest new password a user may choose (NIST SP 800-63B §5.1.1.2) */
#define LK_ARGON2_MIN_OPS 2
#define LK_ARGON2_MIN_MEM (19u * 1024 * 1024)

struct lk_pwcost {
	unsigned long long ops; /* Argon2 passes (t) */
	size_t mem;             /* bytes (m) */
};


struct lk_rlcfg {
	unsigned pair_free;    /* failures per pair before backoff (5) */
	unsigned backoff_max;  /* seconds (900) */
	unsigned ip_per_min;   /* failures per IP per minute (60) */
};


struct lk_tokcfg {
	char issuer[256];
	char audience[256];     /* aud of access tokens; default: the issuer */
	char user_scopes[LK_SCOPE_MAX + 1]; /* scopes a password grant without client may ask */
	enum lk_alg sign_alg;   /* ES256 by default; EdDSA, RS256, PS256, HS256 */
	int64_t access_ttl;     /* /oauth2/token access tokens (900) */
	int64_t hybrid_ttl;     /* /token access tokens (300) */
	int64_t refresh_ttl;    /* 7 days */
	int64_t refresh_grace;  /* 10 s */
	int64_t jwks_max_age;   /* Cache-Control max-age of the JWKS (300) */
	int64_t key_rotation;   /* rotate the signing key this often; 0: only by hand */
	int64_t leeway;         /* for exp/iat checks (60) */
	char resource_servers[512]; /* client ids or names that may introspect every token */
	bool has_master;
	unsigned char master[32]; /* encrypts private keys at rest when has_master */
};


struct lk_authcfg {
	int64_t idle;      /* seconds of inactivity that end a session (1800) */
	int64_t absolute;  /* seconds after creation that end it regardless (86400) */
	int64_t touch;     /* at most one last_seen write per session per this many s */
	struct lk_pwcost cost;
	struct lk_rlcfg rl;
	struct lk_tokcfg tok;
	unsigned session_cache;  /* slots of the session cache; 0: read the store every time */
	unsigned signin_workers; /* Argon2 worker threads (lk_auth_start) */
	unsigned signin_queue;   /* sign-ins waiting for a worker before LK_EBUSY */
	int64_t signin_wait;     /* seconds a sign-in may wait for a worker before LK_EBUSY */
};


#endif
