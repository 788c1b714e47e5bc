/* SPDX-License-Identifier: MIT */
/*
 * The logger never lets a value forge a field or a line (issue: a value starting with '#'
 * was written raw, and request paths, methods and user names reach the log), nor write a
 * line that is not UTF-8 (bytes a client sent in a path were copied as they came). Each
 * test captures what lk_log writes to stderr and parses it back as one JSON object.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "util/log.h"

/* Run fn with stderr sent to a temporary file; return what was written (free()). */
static char *capture(void (*fn)(void))
{
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	fn();
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	long n = ftell(tmp);
	assert_true(n > 0);
	char *buf = calloc(1, (size_t)n + 1);
	rewind(tmp);
	assert_int_equal(fread(buf, 1, (size_t)n, tmp), (size_t)n);
	fclose(tmp);
	return buf;
}

/* out[0..n) is one JSON object; returns it. */
static json_t *one_line_n(const char *out, size_t n)
{
	json_error_t je;
	json_t *o = json_loadb(out, n, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		fail_msg("not JSON: %s (%s)", out, je.text);
	return o;
}

/* Exactly one line, which is one JSON object; returns it. */
static json_t *one_line(const char *out)
{
	const char *nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');
	return one_line_n(out, (size_t)(nl - out));
}

static void log_hash_value(void)
{
	lk_log("info", "auth", "user", "#1,\"level\":\"error\",\"forged\":true}\n{\"x\":1", (char *)NULL);
}

static void test_hash_value_is_a_string(void **state)
{
	char *out = capture(log_hash_value);
	json_t *o = one_line(out);
	assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
	assert_null(json_object_get(o, "forged"));
	assert_string_equal(json_string_value(json_object_get(o, "user")),
			    "#1,\"level\":\"error\",\"forged\":true}\n{\"x\":1");
	json_decref(o);
	free(out);
}

/* A request line is queued for the writer thread; lk_log_flush writes it out now. */
static void log_request_line(void)
{
	lk_log_request("GET\r\n", "/x\n{\"level\":\"error\"}", 404, 1.5, "127.0.0.1", true);
	lk_log_flush();
}

/* Request lines queued and then an ordinary line: the file reads in that order, each line
 * whole, though the ordinary one is written at once and the others by the writer. */
static void log_mixed(void)
{
	for (int i = 0; i < 50; i++)
		lk_log_request("GET", "/queued", 200, 0.1, "127.0.0.1", false);
	lk_log("info", "after", (char *)NULL);
}

static void test_order_kept(void **state)
{
	char *out = capture(log_mixed);
	int n = 0;
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		assert_non_null(o);
		const char *msg = json_string_value(json_object_get(o, "msg"));
		if (n < 50)
			assert_string_equal(msg, "request");
		else
			assert_string_equal(msg, "after");
		json_decref(o);
		n++;
	}
	assert_int_equal(n, 51);
	free(out);
}

static void test_request_line_typed(void **state)
{
	char *out = capture(log_request_line);
	json_t *o = one_line(out);
	assert_true(json_is_integer(json_object_get(o, "status")));
	assert_int_equal(json_integer_value(json_object_get(o, "status")), 404);
	assert_true(json_is_real(json_object_get(o, "ms")));
	assert_string_equal(json_string_value(json_object_get(o, "path")), "/x\n{\"level\":\"error\"}");
	assert_string_equal(json_string_value(json_object_get(o, "method")), "GET\r\n");
	assert_true(json_is_true(json_object_get(o, "aborted")));
	assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
	json_decref(o);
	free(out);
}

/* Bytes that are not UTF-8 (a path, a method or a user name as a client sent them) would
 * make a line that is not JSON (RFC 8259 §8.1): each becomes U+FFFD, valid characters stay.
 * one_line() parses with jansson, which refuses invalid UTF-8. */
static void log_invalid_utf8(void)
{
	lk_log("info", "auth", "user", "a\xc0\xaf" "b\xed\xa0\x80" "c\xff" "d\xe2\x82", "ok",
	       "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", (char *)NULL);
	lk_log_request("G\x80T", "/me\xf4\x90\x80\x80", 400, 0.1, "127.0.0.1", false);
	lk_log_flush();
}

static void test_invalid_utf8_replaced(void **state)
{
	char *out = capture(log_invalid_utf8);
	char *nl = strchr(out, '\n');
	assert_non_null(nl);
	json_t *o = one_line_n(out, (size_t)(nl - out));
	assert_string_equal(json_string_value(json_object_get(o, "user")),
			    "a\xef\xbf\xbd\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			    "c\xef\xbf\xbd" "d\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(json_string_value(json_object_get(o, "ok")),
			    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	json_decref(o);
	o = one_line(nl + 1);
	assert_string_equal(json_string_value(json_object_get(o, "method")), "G\xef\xbf\xbdT");
	assert_string_equal(json_string_value(json_object_get(o, "path")),
			    "/me\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	json_decref(o);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_value_is_a_string),
		cmocka_unit_test(test_request_line_typed),
		cmocka_unit_test(test_order_kept),
		cmocka_unit_test(test_invalid_utf8_replaced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
