/* SPDX-License-Identifier: MIT */
/*
 * A device's name from its User-Agent, for the account and admin pages: "Firefox 128 on
 * Windows", "Safari on iOS", "curl 8". Only names from the tables below ever come out,
 * never text of the header itself (apart from a version's digits), so a hostile agent
 * string cannot put anything on the page. Order matters: most browsers carry the tokens
 * of the ones they descend from (Edge says Chrome and Safari, Chrome says Safari).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"

static const struct {
	const char *token; /* followed by '/' and the version, where there is one */
	const char *name;
} browsers[] = {
	{"Edg/", "Edge"},
	{"EdgA/", "Edge"},
	{"EdgiOS/", "Edge"},
	{"OPR/", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"Vivaldi/", "Vivaldi"},
	{"YaBrowser/", "Yandex Browser"},
	{"FxiOS/", "Firefox"},
	{"Firefox/", "Firefox"},
	{"CriOS/", "Chrome"},
	{"HeadlessChrome/", "Headless Chrome"},
	{"Chromium/", "Chromium"},
	{"Chrome/", "Chrome"},
	{"Version/", "Safari"}, /* with "Safari/" below: Safari's own version token */
	{"curl/", "curl"},
	{"Wget/", "Wget"},
	{"python-requests/", "Python Requests"},
	{"Go-http-client/", "Go HTTP client"},
	{"okhttp/", "OkHttp"},
	{"node-fetch/", "Node.js"},
	{"undici", "Node.js"},
	{"node", "Node.js"},
};

static const struct {
	const char *token;
	const char *name;
} systems[] = {
	{"Windows NT", "Windows"},
	{"iPhone", "iOS"},
	{"iPad", "iPadOS"},
	{"Android", "Android"},
	{"CrOS", "ChromeOS"},
	{"Macintosh", "macOS"},
	{"Mac OS X", "macOS"},
	{"FreeBSD", "FreeBSD"},
	{"OpenBSD", "OpenBSD"},
	{"Linux", "Linux"},
};

void lk_ua_describe(const char *ua, char *out, size_t size)
{
	const char *browser = NULL, *os = NULL, *at = NULL;
	char version[8] = "";

	if (!ua || !*ua) {
		snprintf(out, size, "Unknown device");
		return;
	}
	for (size_t i = 0; i < sizeof browsers / sizeof browsers[0] && !browser; i++) {
		const char *p = strstr(ua, browsers[i].token);
		if (!p)
			continue;
		if (strcmp(browsers[i].token, "Version/") == 0 && !strstr(ua, "Safari/"))
			continue;
		browser = browsers[i].name;
		at = strchr(browsers[i].token, '/') ? p + strlen(browsers[i].token) : NULL;
	}
	for (size_t i = 0; i < sizeof systems / sizeof systems[0] && !os; i++)
		if (strstr(ua, systems[i].token))
			os = systems[i].name;
	/* the major version: digits only, at most a few */
	for (size_t n = 0; at && n + 1 < sizeof version && isdigit((unsigned char)at[n]); n++) {
		version[n] = at[n];
		version[n + 1] = '\0';
	}
	if (!browser && os)
		snprintf(out, size, "Unknown browser on %s", os);
	else if (!browser)
		snprintf(out, size, "Unknown device");
	else
		snprintf(out, size, "%s%s%s%s%s", browser, version[0] ? " " : "", version,
			 os ? " on " : "", os ? os : "");
}
