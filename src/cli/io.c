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

#include "cli/cli.h"
#include "verify/fetch.h"

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

/* The URL case is the library's lk_fetch (src/verify/fetch.c), which the verifier uses
 * too: same cap, same redirect rule, same texts. */
static int read_url(const char *url, const struct lk_cli_fetch *f, struct sink *s,
		    char err[256])
{
	struct lk_fetch_req req = {.url = url, .cap = s->cap, .ca_file = f ? f->cacert : NULL};
	char *body;
	size_t len;
	enum lk_err rc = lk_fetch(&req, &body, &len, NULL, err);

	if (rc != LK_OK && rc != LK_ETOO_LARGE)
		return -1;
	memcpy(s->buf, body, len);
	s->len = len;
	free(body);
	return rc == LK_OK ? 0 : -2;
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
