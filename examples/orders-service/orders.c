/* SPDX-License-Identifier: MIT */
/*
 * orders: the "downstream microservice" of the hybrid design. It serves GET /api/orders to
 * callers holding an access token from a latchkey issuer, verifies each token locally
 * with an lk_verifier (keys from the issuer's JWKS, revocations pushed by its feed: no
 * call to the issuer per request), and answers with the orders of the token's subject.
 *
 *   LATCHKEY_ISSUER=http://127.0.0.1:8080 \
 *   LATCHKEY_CLIENT_ID=... LATCHKEY_CLIENT_SECRET=... ./orders [PORT]
 *
 * Replies (RFC 6750 §3): no bearer token: 401 with the bare challenge; a token that does
 * not verify: 401 with error="invalid_token" and the reason word (lk_err_str); revocation
 * feed silent past the verifier's bound (LK_ESTALE): 503 with Retry-After, since a revoked
 * token cannot be ruled out.
 *
 * Threads: libmicrohttpd runs a pool of POOL_THREADS; they share the one verifier, which
 * is thread-safe and takes no lock on the hot path. There is no other shared state.
 */
#define _POSIX_C_SOURCE 200809L
#include <latchkey.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POOL_THREADS 4
#define DEFAULT_PORT 8081
#define RETRY_AFTER "5" /* seconds, for 503 */
#define REALM "orders"

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, const char *body,
				 const char *hdr, const char *val)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (hdr)
		MHD_add_response_header(r, hdr, val);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* s as a JSON string body (without quotes) in a new buffer; NULL when out of memory. */
static char *json_escape(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(6 * n + 1), *o = out;
	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			*o++ = '\\';
			*o++ = (char)ch;
		} else if (ch < 0x20) {
			o += sprintf(o, "\\u%04x", ch);
		} else {
			*o++ = (char)ch;
		}
	}
	*o = '\0';
	return out;
}

/* The verified caller's orders: made-up but stable data, derived from the subject. */
static enum MHD_Result send_orders(struct MHD_Connection *c, const char *sub)
{
	static const struct {
		const char *item;
		unsigned qty, cents;
	} catalog[] = {
		{"espresso beans, 1 kg", 2, 2890},
		{"burr grinder", 1, 12900},
		{"paper filters (100)", 3, 450},
		{"milk jug", 1, 1990},
	};
	const size_t ncat = sizeof catalog / sizeof catalog[0];
	uint32_t h = 2166136261u; /* FNV-1a of sub picks this subject's orders */
	for (const char *p = sub; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;

	char *esub = json_escape(sub);
	if (!esub)
		return MHD_NO;
	size_t size = strlen(esub) + 64 + ncat * 160, len;
	char *body = malloc(size);
	if (!body) {
		free(esub);
		return MHD_NO;
	}
	len = (size_t)snprintf(body, size, "{\"sub\":\"%s\",\"orders\":[", esub);
	for (size_t i = 0, n = 1 + h % ncat; i < n; i++) {
		size_t k = (h >> 8 >> i) % ncat;
		unsigned total = catalog[k].qty * catalog[k].cents;
		len += (size_t)snprintf(body + len, size - len,
					"%s{\"id\":\"ord-%08x-%zu\",\"item\":\"%s\",\"quantity\":%u,"
					"\"total\":\"%u.%02u\"}",
					i ? "," : "", h, i + 1, catalog[k].item, catalog[k].qty,
					total / 100, total % 100);
	}
	snprintf(body + len, size - len, "]}");
	enum MHD_Result ret = send_json(c, MHD_HTTP_OK, body, NULL, NULL);
	free(body);
	free(esub);
	return ret;
}

/* A token the verifier refused: 401, or 503/500 when the fault is ours, not the token's. */
static enum MHD_Result send_refusal(struct MHD_Connection *c, enum lk_err err)
{
	char body[160], challenge[160];
	const char *word = lk_err_str(err);

	if (err == LK_ESTALE || err == LK_EBUSY) {
		snprintf(body, sizeof body,
			 "{\"error\":\"temporarily_unavailable\",\"error_description\":\"%s\"}", word);
		return send_json(c, MHD_HTTP_SERVICE_UNAVAILABLE, body, MHD_HTTP_HEADER_RETRY_AFTER,
				 RETRY_AFTER);
	}
	if (lk_err_class(err) == LK_CLASS_SYSTEM) {
		snprintf(body, sizeof body, "{\"error\":\"server_error\",\"error_description\":\"%s\"}",
			 word);
		return send_json(c, MHD_HTTP_INTERNAL_SERVER_ERROR, body, NULL, NULL);
	}
	/* reason words are [a-z_], safe in both the header and the JSON as they are */
	snprintf(challenge, sizeof challenge,
		 "Bearer realm=\"" REALM "\", error=\"invalid_token\", error_description=\"%s\"", word);
	snprintf(body, sizeof body, "{\"error\":\"invalid_token\",\"error_description\":\"%s\"}",
		 word);
	return send_json(c, MHD_HTTP_UNAUTHORIZED, body, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
			 challenge);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	lk_verifier *verifier = cls;

	if (strcmp(url, "/api/orders") != 0)
		return send_json(c, MHD_HTTP_NOT_FOUND, "{\"error\":\"not_found\"}", NULL, NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return send_json(c, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"method_not_allowed\"}",
				 MHD_HTTP_HEADER_ALLOW, "GET, HEAD");

	/* Authorization: Bearer <token> (RFC 6750 §2.1; the scheme is case-insensitive).
	 * Anything else is a request without credentials: the bare challenge (§3.1). */
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_AUTHORIZATION);
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return send_json(c, MHD_HTTP_UNAUTHORIZED,
				 "{\"error\":\"unauthorized\",\"error_description\":\"a bearer token is required\"}",
				 MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"" REALM "\"");
	const char *token = auth + 7;
	while (*token == ' ')
		token++;

	lk_jwt *jwt = NULL;
	enum lk_err err = lk_verifier_verify(verifier, token, strlen(token), &jwt, NULL);
	if (err != LK_OK)
		return send_refusal(c, err);
	/* lk_verifier_verify requires sub, so it is there */
	enum MHD_Result ret = send_orders(c, lk_jwt_claim_str(jwt, "sub"));
	lk_jwt_free(jwt);
	return ret;
}

static int parse_port(const char *s, unsigned short *port)
{
	char *end;
	unsigned long n = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || n == 0 || n > 65535)
		return -1;
	*port = (unsigned short)n;
	return 0;
}

int main(int argc, char **argv)
{
	const char *issuer = getenv("LATCHKEY_ISSUER");
	const char *port_arg = argc > 1 ? argv[1] : getenv("PORT");
	unsigned short port = DEFAULT_PORT;

	if (argc > 2 || !issuer || !*issuer || (port_arg && parse_port(port_arg, &port) != 0)) {
		fprintf(stderr, "usage: LATCHKEY_ISSUER=URL [LATCHKEY_CLIENT_ID=ID "
				"LATCHKEY_CLIENT_SECRET=SECRET] [LATCHKEY_AUDIENCE=AUD] %s [PORT]\n"
				"PORT: 1-65535, also from $PORT; default %d\n",
			argv[0], DEFAULT_PORT);
		return 2;
	}

	/* Block the stop signals before any thread exists (the verifier's feed thread, the
	 * server's pool): they inherit the mask, and main alone receives them in sigwait. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	struct lk_verifier_config cfg = {0};
	cfg.issuer = issuer;
	cfg.client_id = getenv("LATCHKEY_CLIENT_ID"); /* both set: subscribe to revocations */
	cfg.client_secret = getenv("LATCHKEY_CLIENT_SECRET");
	cfg.aud = getenv("LATCHKEY_AUDIENCE");       /* NULL: aud not checked */
	struct lk_errinfo ei = {0};
	lk_verifier *verifier = NULL;
	enum lk_err err = lk_verifier_new(&cfg, &verifier, &ei);
	if (err != LK_OK) {
		fprintf(stderr, "orders: cannot start the verifier for %s: %s%s%s\n", issuer,
			lk_err_str(err), ei.detail[0] ? ": " : "", ei.detail);
		return 1;
	}

	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, port, NULL, NULL, handle, verifier,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "orders: cannot listen on port %u\n", (unsigned)port);
		lk_verifier_free(verifier);
		return 1;
	}
	fprintf(stderr, "orders: listening on port %u, tokens from %s%s\n", (unsigned)port, issuer,
		cfg.client_id && cfg.client_secret ? ", revocations subscribed" : "");

	int sig;
	sigwait(&stop, &sig);
	MHD_stop_daemon(d); /* joins the pool: no verification runs after this */
	lk_verifier_free(verifier);
	return 0;
}
