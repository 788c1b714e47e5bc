/* SPDX-License-Identifier: MIT */
/*
 * The HTTP server: libmicrohttpd (epoll, internal thread pool) in front of the auth logic.
 * lk_server_run starts it, blocks until SIGTERM or SIGINT, then shuts down gracefully:
 * stop accepting, let in-flight requests (including suspended sign-ins) finish, stop.
 */
#ifndef LK_HTTP_SERVER_H
#define LK_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include "auth/auth.h"

struct lk_srvcfg {
	char listen[128];      /* "127.0.0.1:8080", "[::1]:8080" */
	char issuer[256];      /* "http://127.0.0.1:8080": also our origin for CSRF */
	bool insecure_cookies; /* drop Secure and the __Host- prefix (plain-HTTP testing) */
	bool samesite_strict;
	unsigned threads;      /* MHD thread pool size */
	size_t max_body;       /* bytes; larger bodies get 413 */
	size_t max_header;     /* bytes of request head; larger gets 431 */
	unsigned conn_timeout; /* seconds of silence before a connection is closed */
	unsigned header_timeout; /* seconds for a request head, from the accept or the last
				  * reply; 0: no deadline */
	unsigned max_conn_per_ip; /* open connections from one client address; 0: no cap */
	bool log_requests;
	unsigned purge_interval; /* seconds between sweeps of expired sessions */
	unsigned revocation_ping; /* seconds: `: ping` on an idle /revocations/stream */
	char trusted_proxies[512]; /* "10.0.0.1,::1": their X-Forwarded-For names the client */
};

/* Run until SIGTERM/SIGINT. auth is borrowed, started (lk_auth_start). Returns 0, or 1 when the server cannot
 * start (message on stderr). */
int lk_server_run(const struct lk_srvcfg *cfg, struct lk_auth *auth);

#endif
