/* SPDX-License-Identifier: MIT */
/*
 * JSON-lines logger (see log.h). Lines are assembled in a stack buffer and written whole;
 * an over-long line is truncated at a field boundary rather than split.
 *
 * Request lines, one per HTTP request, do not cost their thread a write(2): they are
 * appended to a buffer that a writer thread (started by the first one) writes out every
 * LOG_FLUSH_MS or when it is half full. Two buffers alternate, so appending goes on while
 * the other is written. Order holds: every other line (lk_log) is written at once, after
 * whatever request lines are pending, and lk_log_flush writes them out (at shutdown).
 * Lock order: mu (the buffers), then wmu (the file descriptor); the writer takes wmu before
 * it lets go of mu, so no line can overtake the buffer it has just taken.
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/utf8.h"

size_t lk_json_escape(char *dst, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t w = 0, left = s ? strlen(s) : 0;
	if (!cap)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; left;) {
		unsigned char c = *p;
		char esc[7];
		size_t n, k = 1;
		if (c == '"' || c == '\\') {
			esc[0] = '\\', esc[1] = (char)c, n = 2;
		} else if (c < 0x20 || c == 0x7f) {
			esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0';
			esc[4] = hex[c >> 4], esc[5] = hex[c & 15], n = 6;
		} else if (c < 0x80) {
			esc[0] = (char)c, n = 1;
		} else if ((k = lk_utf8_seq(p, left))) { /* a whole character, as it is */
			memcpy(esc, p, k);
			n = k;
		} else { /* not UTF-8 (RFC 8259 §8.1): U+FFFD in its place */
			memcpy(esc, "\\ufffd", 6);
			n = 6;
			k = 1;
		}
		if (w + n >= cap)
			break;
		memcpy(dst + w, esc, n);
		w += n;
		p += k;
		left -= k;
	}
	dst[w] = '\0';
	return w;
}

#define LOG_BUF (256 * 1024)
#define LOG_FLUSH_MS 50

static struct {
	pthread_mutex_t mu, wmu;
	pthread_cond_t cv;
	pthread_once_t once;
	bool started;
	char buf[2][LOG_BUF];
	size_t len;  /* bytes in buf[cur] */
	int cur;
} lg = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	PTHREAD_ONCE_INIT, false, {{0}}, 0, 0};

static void write_all(const char *b, size_t n)
{
	while (n) {
		ssize_t r = write(STDERR_FILENO, b, n);
		if (r <= 0)
			return; /* stderr gone or full: a log line is not worth blocking for */
		b += r;
		n -= (size_t)r;
	}
}

/* With lg.mu held: write out the pending request lines, then line[0..n) (none when n is
 * 0), in that order (takes and releases wmu). */
static void flush_locked(const char *line, size_t n)
{
	pthread_mutex_lock(&lg.wmu);
	write_all(lg.buf[lg.cur], lg.len);
	lg.len = 0;
	write_all(line, n);
	pthread_mutex_unlock(&lg.wmu);
}

static void *log_writer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lg.mu);
	for (;;) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += LOG_FLUSH_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (lg.len < LOG_BUF / 2)
			pthread_cond_timedwait(&lg.cv, &lg.mu, &ts);
		if (!lg.len)
			continue;
		const char *b = lg.buf[lg.cur];
		size_t n = lg.len;
		lg.cur ^= 1;
		lg.len = 0;
		pthread_mutex_lock(&lg.wmu);
		pthread_mutex_unlock(&lg.mu);
		write_all(b, n);
		pthread_mutex_unlock(&lg.wmu);
		pthread_mutex_lock(&lg.mu);
	}
	return NULL;
}

static void start_writer(void)
{
	pthread_t th;
	pthread_attr_t at;
	sigset_t all, old;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	/* the writer takes no signals: they are the program's to wait for */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	lg.started = pthread_create(&th, &at, log_writer, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
}

/* Queue one request line; written at once when no writer could be started. */
static void queue_line(const char *line, size_t n)
{
	pthread_once(&lg.once, start_writer);
	pthread_mutex_lock(&lg.mu);
	if (!lg.started) {
		flush_locked(line, n);
		pthread_mutex_unlock(&lg.mu);
		return;
	}
	if (lg.len + n > LOG_BUF)
		flush_locked(NULL, 0);
	memcpy(lg.buf[lg.cur] + lg.len, line, n);
	lg.len += n;
	if (lg.len >= LOG_BUF / 2)
		pthread_cond_signal(&lg.cv);
	pthread_mutex_unlock(&lg.mu);
}

void lk_log_flush(void)
{
	pthread_mutex_lock(&lg.mu);
	flush_locked(NULL, 0);
	pthread_mutex_unlock(&lg.mu);
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
	/* after the request lines still pending, so the file reads in order */
	pthread_mutex_lock(&lg.mu);
	flush_locked(line, w);
	pthread_mutex_unlock(&lg.mu);
}

void lk_log_request(const char *method, const char *path, unsigned status, double ms,
		    const char *ip, bool aborted)
{
	char line[2048], m[64], p[1024], a[64];
	struct timespec ts;

	/* ms with three decimals, as %.3f would print it, without printf's floating point */
	long long us = ms > 0 ? (long long)(ms * 1000 + 0.5) : 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	lk_json_escape(m, sizeof m, method);
	lk_json_escape(p, sizeof p, path);
	lk_json_escape(a, sizeof a, ip);
	int n = snprintf(line, sizeof line,
			 "{\"ts\":%lld.%03ld,\"level\":\"info\",\"msg\":\"request\",\"method\":\"%s\","
			 "\"path\":\"%s\",\"status\":%u,\"ms\":%lld.%03lld,\"ip\":\"%s\"%s}\n",
			 (long long)ts.tv_sec, ts.tv_nsec / 1000000, m, p, status, us / 1000, us % 1000, a,
			 aborted ? ",\"aborted\":true" : "");
	if (n < 0)
		return;
	queue_line(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
