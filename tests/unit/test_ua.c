/* SPDX-License-Identifier: MIT */
/*
 * test_ua.c: device names from User-Agent strings (src/http/ua.c) for the account and
 * admin pages: real agent strings of current browsers and tools, the order that tells
 * Edge and Opera from the Chrome they also claim to be, and hostile strings, which must
 * name nothing of their own (only table names and digits ever come out).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http/http_int.h"

static const char *name(const char *ua)
{
	static char out[96];
	lk_ua_describe(ua, out, sizeof out);
	return out;
}

static void test_browsers(void **state)
{
	static const char *const cases[][2] = {
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
		 "Chrome/131.0.0.0 Safari/537.36", "Chrome 131 on Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
		 "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86", "Edge 131 on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
		 "Gecko) Version/18.1 Safari/605.1.15", "Safari 18 on macOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
		 "like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari 18 on iOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
		 "like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "Chrome 131 on iOS"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		 "Firefox 133 on Linux"},
		{"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
		 "Firefox 133 on Android"},
		{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
		 "SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36",
		 "Samsung Internet 27 on Android"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
		 "Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0", "Opera 115 on Windows"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
		 "Chrome/131.0.0.0 Safari/537.36", "Chrome 131 on ChromeOS"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
		 "HeadlessChrome/156.0.0.0 Safari/537.36", "Headless Chrome 156 on Linux"},
		{"curl/8.5.0", "curl 8"},
		{"Wget/1.21.3", "Wget 1"},
		{"node", "Node.js"},
		{"python-requests/2.32.3", "Python Requests 2"},
		{"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)", "Unknown browser on iPadOS"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_string_equal(name(cases[i][0]), cases[i][1]);
}

static void test_nothing_known(void **state)
{
	assert_string_equal(name(NULL), "Unknown device");
	assert_string_equal(name(""), "Unknown device");
	assert_string_equal(name("keeper/1"), "Unknown device");
	/* markup, CR/LF and a long version are never echoed: names from the tables, and at
	 * most a few digits */
	assert_string_equal(name("<script>alert(1)</script>"), "Unknown device");
	assert_string_equal(name("Firefox/<b>1</b>\r\nSet-Cookie: x=1"), "Firefox");
	assert_string_equal(name("curl/123456789012345"), "curl 1234567");
	char big[4096];
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big + 100, "Chrome/9", 8);
	assert_string_equal(name(big), "Chrome 9");
	/* a small buffer truncates, never overflows */
	char tiny[6];
	lk_ua_describe("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", tiny,
		       sizeof tiny);
	assert_string_equal(tiny, "Firef");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_browsers),
		cmocka_unit_test(test_nothing_known),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
