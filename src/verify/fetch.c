/* SPDX-License-Identifier: MIT */
/*
 * lk_fetch: see fetch.h. Moved here from the CLI (src/cli/io.c), which now calls it, so the
 * command line and the library's verifier fetch keys under the same rules.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "verify/fetch.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int lk_fetch_global_init(void)
{
	pthread_once(&global_once, global_init);
	return global_rc;
}

struct sink {
	char *buf;
	size_t len, cap; /* cap: bytes allowed before failing */
	int over;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t k = sz * n;
	if (s->len + k > s->cap) {
		k = s->cap + 1 - s->len;
		memcpy(s->buf + s->len, p, k);
		s->len += k;
		s->over = 1;
		return 0; /* ends the transfer: CURLE_WRITE_ERROR */
	}
	memcpy(s->buf + s->len, p, k);
	s->len += k;
	return sz * n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const atomic_int *abort = ud;
	return abort && atomic_load(abort) ? 1 : 0;
}

/* application/x-www-form-urlencoded (RFC 6749 §2.3.1, Appendix B): alnum and *-._ stay,
 * space is '+', every other byte %XX. NULL when out of memory. */
static char *form_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *o = malloc(3 * n + 1), *w = o;
	if (!o)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '*' || *p == '-' || *p == '.' || *p == '_') {
			*w++ = (char)*p;
		} else if (*p == ' ') {
			*w++ = '+';
		} else {
			*w++ = '%';
			*w++ = hex[*p >> 4];
			*w++ = hex[*p & 15];
		}
	}
	*w = '\0';
	return o;
}

static void free_wiped(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

CURL *lk_fetch_easy(const struct lk_fetch_req *req)
{
	/* An https URL must stay https: a redirect to http would hand the key set (or the
	 * revocation feed, and the credentials), the things every verdict rests on, to anyone
	 * on the path. An http URL has nothing to lose. */
	const char *protos = strncmp(req->url, "https://", 8) == 0 ? "https" : "http,https";
	CURL *c;

	if (lk_fetch_global_init() != 0 || !(c = curl_easy_init()))
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protos);
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, protos);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 5000L);
	if (req->timeout_ms >= 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 15000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "latchkey/" "0.1");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
	if (req->abort) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)req->abort);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	if (req->user && req->pass) {
		/* Basic credentials are sent only to the host of the URL, never to a redirect
		 * target on another host (libcurl's default without CURLOPT_UNRESTRICTED_AUTH). */
		char *u = form_encode(req->user), *p = form_encode(req->pass);
		if (!u || !p) {
			free_wiped(u);
			free_wiped(p);
			curl_easy_cleanup(c);
			return NULL;
		}
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, u);
		curl_easy_setopt(c, CURLOPT_PASSWORD, p);
		free_wiped(u);
		free_wiped(p);
	}
	return c;
}

void lk_fetch_explain(CURL *c, const char *url, CURLcode rc, long status,
		      char err[LK_FETCH_ERRLEN])
{
	char *where = NULL;
	curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &where);
	if (rc == CURLE_UNSUPPORTED_PROTOCOL && where && strcmp(where, url) != 0 &&
	    strncmp(url, "https://", 8) == 0)
		snprintf(err, LK_FETCH_ERRLEN, "cannot fetch %s: refused its redirect to %.100s (an "
			 "https URL may only redirect to https)", url, where);
	else if (rc != CURLE_OK)
		snprintf(err, LK_FETCH_ERRLEN, "cannot fetch %s: %s", url, curl_easy_strerror(rc));
	else
		snprintf(err, LK_FETCH_ERRLEN, "cannot fetch %s: HTTP status %ld", url, status);
}

enum lk_err lk_fetch(const struct lk_fetch_req *req, char **body, size_t *len, long *status,
		     char err[LK_FETCH_ERRLEN])
{
	struct sink s = {.buf = malloc(req->cap + 2), .cap = req->cap};
	struct curl_slist *hdr = NULL;
	long st = 0;
	CURLcode rc;
	CURL *c;

	*body = NULL;
	*len = 0;
	if (status)
		*status = 0;
	if (!s.buf || !(c = lk_fetch_easy(req))) {
		free(s.buf);
		snprintf(err, LK_FETCH_ERRLEN, "cannot fetch %s: out of memory or libcurl "
			 "cannot start", req->url);
		return LK_ENOMEM;
	}
	if (req->accept) {
		char h[128];
		snprintf(h, sizeof h, "Accept: %s", req->accept);
		if ((hdr = curl_slist_append(NULL, h)))
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	if (status)
		*status = st;
	if (s.over) {
		curl_easy_cleanup(c);
		curl_slist_free_all(hdr);
		snprintf(err, LK_FETCH_ERRLEN, "%s is over the %zu-byte limit", req->url, req->cap);
		s.buf[s.len] = '\0';
		*body = s.buf;
		*len = s.len;
		return LK_ETOO_LARGE;
	}
	if (rc != CURLE_OK || st != 200) {
		lk_fetch_explain(c, req->url, rc, st, err);
		curl_easy_cleanup(c);
		curl_slist_free_all(hdr);
		free(s.buf);
		return LK_EIO;
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	s.buf[s.len] = '\0';
	*body = s.buf;
	*len = s.len;
	return LK_OK;
}
