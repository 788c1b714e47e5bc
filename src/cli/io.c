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

static int read_url(const char *url, struct sink *s, char err[256])
{
	CURL *c = curl_easy_init();
	CURLcode rc;
	long status = 0;

	if (!c) {
		snprintf(err, 256, "cannot initialise libcurl");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "latchkey/" "0.1");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (s->over)
		return -2;
	if (rc != CURLE_OK) {
		snprintf(err, 256, "cannot fetch %s: %s", url, curl_easy_strerror(rc));
		return -1;
	}
	if (status != 200) {
		snprintf(err, 256, "cannot fetch %s: HTTP status %ld", url, status);
		return -1;
	}
	return 0;
}

int lk_cli_read(const char *src, size_t cap, int allow_url, char **out, size_t *len,
		char err[256])
{
	struct sink s = {.buf = malloc(cap + 2), .cap = cap};
	int rc = 0;

	*out = NULL;
	if (!s.buf) {
		snprintf(err, 256, "out of memory");
		return -1;
	}
	if (allow_url && (strncmp(src, "http://", 7) == 0 || strncmp(src, "https://", 8) == 0)) {
		rc = read_url(src, &s, err);
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
