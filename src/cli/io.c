/* SPDX-License-Identifier: MIT */
/*
 * Input for CLI arguments: stdin, files and (for --jwks) http(s) URLs through libcurl, each
 * read with a hard size cap so a hostile or mistaken source cannot exhaust memory.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "cli/cli.h"

struct sink {
	char *buf;
	size_t len, cap; /* cap: bytes allowed before failing */
	int over;
};

static int sink_add(struct sink *s, const void *p, size_t n)
{
	if (s->len + n > s->cap) {
		n = s->cap + 1 - s->len;
		s->over = 1;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return s->over ? -1 : 0;
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	return sink_add(ud, p, sz * n) == 0 ? sz * n : 0;
}

static int read_url(const char *url, const struct lk_cli_fetch *f, struct sink *s,
		    char err[256])
{
	/* An https URL must stay https: a redirect to http would hand the key set, the thing
	 * every verdict rests on, to anyone on the path. An http URL has nothing to lose. */
	const char *protos = strncmp(url, "https://", 8) == 0 ? "https" : "http,https";
	CURL *c = curl_easy_init();
	CURLcode rc;
	long status = 0;
	char *where = NULL;

	if (!c) {
		snprintf(err, 256, "cannot initialise libcurl");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protos);
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, protos);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "latchkey/" "0.1");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	if (f && f->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, f->cacert);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &where);
	if (s->over) {
		curl_easy_cleanup(c);
		return -2;
	}
	if (rc == CURLE_UNSUPPORTED_PROTOCOL && where && strcmp(where, url) != 0 &&
	    strcmp(protos, "https") == 0)
		snprintf(err, 256, "cannot fetch %s: refused its redirect to %.100s (an https URL "
			 "may only redirect to https)", url, where);
	else if (rc != CURLE_OK)
		snprintf(err, 256, "cannot fetch %s: %s", url, curl_easy_strerror(rc));
	else if (status != 200)
		snprintf(err, 256, "cannot fetch %s: HTTP status %ld", url, status);
	curl_easy_cleanup(c);
	return rc == CURLE_OK && status == 200 ? 0 : -1;
}

int lk_cli_read(const char *src, size_t cap, const struct lk_cli_fetch *url, char **out,
		size_t *len, char err[256])
{
	struct sink s = {.buf = malloc(cap + 2), .cap = cap};
	int rc = 0;

	*out = NULL;
	if (!s.buf) {
		snprintf(err, 256, "out of memory");
		return -1;
	}
	if (url && (strncmp(src, "http://", 7) == 0 || strncmp(src, "https://", 8) == 0)) {
		rc = read_url(src, url, &s, err);
	} else {
		FILE *f = strcmp(src, "-") == 0 ? stdin : fopen(src, "rb");
		char chunk[4096];
		size_t n;
		if (!f) {
			snprintf(err, 256, "cannot open %s: %s", src, strerror(errno));
			free(s.buf);
			return -1;
		}
		while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
			if (sink_add(&s, chunk, n) < 0)
				break;
		if (ferror(f)) {
			snprintf(err, 256, "cannot read %s: %s", src, strerror(errno));
			rc = -1;
		}
		if (f != stdin)
			fclose(f);
		if (s.over)
			rc = -2;
	}
	if (rc == -1) {
		free(s.buf);
		return -1;
	}
	if (rc == -2)
		snprintf(err, 256, "%s is over the %zu-byte limit", src, cap);
	s.buf[s.len] = '\0';
	*out = s.buf;
	*len = s.len;
	return rc;
}

void lk_cli_rtrim(char *s, size_t *len)
{
	while (*len && isspace((unsigned char)s[*len - 1]))
		s[--*len] = '\0';
}

long long lk_cli_duration(const char *s)
{
	char *end;
	long long mult = 1, v;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v < 0)
		return -1;
	if (*end) {
		switch (*end) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		case 'w': mult = 7 * 86400; break;
		default: return -1;
		}
		if (end[1])
			return -1;
	}
	if (v > (1LL << 40) / mult)
		return -1;
	return v * mult;
}
