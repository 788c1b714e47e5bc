/* SPDX-License-Identifier: MIT */
/*
 * One HTTP(S) GET through libcurl, shared by the verifier's network side (remote.c) and the
 * CLI (--jwks URL): a hard size cap on the body, an https URL never redirected to http,
 * the peer always verified (against ca_file or the system's CAs), timeouts, and an abort
 * flag so a background thread can be stopped mid-transfer.
 *
 * Credentials (user, pass) go as HTTP Basic, each form-urlencoded first (RFC 6749
 * §2.3.1); they never appear in a URL or an error message. Error texts name the URL,
 * which never carries a secret.
 */
#ifndef LK_VERIFY_FETCH_H
#define LK_VERIFY_FETCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <curl/curl.h>
#include "latchkey.h"

#define LK_FETCH_ERRLEN 256

struct lk_fetch_req {
	const char *url;
	size_t cap;               /* body bytes allowed */
	const char *ca_file;      /* PEM bundle, or NULL: the system's */
	const char *user, *pass;  /* HTTP Basic (client_secret_basic), or NULL */
	const char *accept;       /* Accept header, or NULL */
	long connect_timeout_ms;  /* 0: 5000 */
	long timeout_ms;          /* whole transfer; 0: 15000; < 0: none (streams) */
	const atomic_int *abort;  /* non-zero: end the transfer now (may be NULL) */
};

/*
 * GET req->url. On LK_OK the status was 200 and *body (NUL-terminated, free()) holds
 * *len bytes. LK_ETOO_LARGE: the body passed req->cap; *body holds its first cap + 1
 * bytes, *len = cap + 1, and err says so. LK_EIO: no answer, or a status other than 200
 * (then *status holds it); err says which. *status is 0 without an answer.
 * status may be NULL.
 */
enum lk_err lk_fetch(const struct lk_fetch_req *req, char **body, size_t *len, long *status,
		     char err[LK_FETCH_ERRLEN]);

/* Make an easy handle set up as lk_fetch does (protocols, redirects, TLS, credentials,
 * timeouts, abort flag), without a write function: for the revocation stream. Returns
 * NULL when out of memory. libcurl copies the strings; req->abort must outlive the
 * handle. */
CURL *lk_fetch_easy(const struct lk_fetch_req *req);

/* The error text lk_fetch would give for rc on c (which must be done): redirect refused,
 * curl's reason, or the status. */
void lk_fetch_explain(CURL *c, const char *url, CURLcode rc, long status,
		      char err[LK_FETCH_ERRLEN]);

/* curl_global_init, once per process, thread-safe. 0 on success. */
int lk_fetch_global_init(void);

#endif
