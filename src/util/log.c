/* SPDX-License-Identifier: MIT */
/*
 * JSON-lines logger (see log.h). Lines are assembled in a stack buffer and written whole;
 * an over-long line is truncated at a field boundary rather than split.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

size_t lk_json_escape(char *dst, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t w = 0;
	if (!cap)
		return 0;
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		size_t n;
		if (c == '"' || c == '\\') {
			esc[0] = '\\', esc[1] = (char)c, n = 2;
		} else if (c < 0x20 || c == 0x7f) {
			esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0';
			esc[4] = hex[c >> 4], esc[5] = hex[c & 15], n = 6;
		} else {
			esc[0] = (char)c, n = 1;
		}
		if (w + n >= cap)
			break;
		memcpy(dst + w, esc, n);
		w += n;
	}
	dst[w] = '\0';
	return w;
}

void lk_log(const char *level, const char *msg, ...)
{
	char line[2048];
	struct timespec ts;
	va_list ap;
	size_t w;

	clock_gettime(CLOCK_REALTIME, &ts);
	w = (size_t)snprintf(line, sizeof line, "{\"ts\":%lld.%03ld,\"level\":\"%s\",\"msg\":\"",
			     (long long)ts.tv_sec, ts.tv_nsec / 1000000, level);
	w += lk_json_escape(line + w, sizeof line - w - 8, msg);
	line[w++] = '"';
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *), *v;
		if (!k)
			break;
		v = va_arg(ap, const char *);
		if (!v)
			continue;
		if (w + strlen(k) + 8 >= sizeof line - 4)
			break;
		w += (size_t)snprintf(line + w, sizeof line - w, ",\"%s\":", k);
		line[w++] = '"';
		w += lk_json_escape(line + w, sizeof line - w - 4, v);
		line[w++] = '"';
	}
	va_end(ap);
	line[w++] = '}';
	line[w++] = '\n';
	ssize_t r = write(STDERR_FILENO, line, w);
	(void)r;
}

void lk_log_request(const char *method, const char *path, unsigned status, double ms,
		    const char *ip, bool aborted)
{
	char line[2048], m[64], p[1024], a[64];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	lk_json_escape(m, sizeof m, method);
	lk_json_escape(p, sizeof p, path);
	lk_json_escape(a, sizeof a, ip);
	int n = snprintf(line, sizeof line,
			 "{\"ts\":%lld.%03ld,\"level\":\"info\",\"msg\":\"request\",\"method\":\"%s\","
			 "\"path\":\"%s\",\"status\":%u,\"ms\":%.3f,\"ip\":\"%s\"%s}\n",
			 (long long)ts.tv_sec, ts.tv_nsec / 1000000, m, p, status, ms, a,
			 aborted ? ",\"aborted\":true" : "");
	if (n < 0)
		return;
	ssize_t r = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line);
	(void)r;
}
