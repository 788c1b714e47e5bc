/* SPDX-License-Identifier: MIT */
/*
 * The latchkey command line: shared helpers for subcommands (reading arguments that name a
 * file, stdin or a URL, with size caps) and the subcommand entry points. Exit codes follow
 * SPEC.md: 0 ok, 1 failed as asked (rejected, not found), 2 usage or configuration error.
 */
#ifndef LK_CLI_H
#define LK_CLI_H

#include <stddef.h>

enum { LK_EXIT_OK = 0, LK_EXIT_FAIL = 1, LK_EXIT_USAGE = 2 };

/* How to fetch an http(s) URL. An https URL may redirect only to https; an http URL (no
 * protection to lose) to http or https. The peer is always verified. */
struct lk_cli_fetch {
	const char *cacert; /* CA bundle (PEM file) to trust instead of the system's, or NULL */
};

/* Read "-" (stdin), an http(s) URL (when url is not NULL) or a file, at most cap bytes.
 * Returns 0 and a NUL-terminated *out (free()) or -1 with a message in err[256]; a
 * source over cap gives -2 and *out holds its first cap+1 bytes, *len = cap + 1. */
int lk_cli_read(const char *src, size_t cap, const struct lk_cli_fetch *url, char **out,
		size_t *len, char err[256]);
/* Trim trailing ASCII whitespace in place (for tokens from stdin). */
void lk_cli_rtrim(char *s, size_t *len);
/* Parse "90", "30s", "15m", "1h", "7d" into seconds; -1 when invalid. */
long long lk_cli_duration(const char *s);

int lk_cli_jwt(int argc, char **argv);
int lk_cli_jwk(int argc, char **argv);
int lk_cli_serve(int argc, char **argv);
int lk_cli_user(int argc, char **argv);
int lk_cli_sessions(int argc, char **argv);
int lk_cli_audit(int argc, char **argv);
int lk_cli_keys(int argc, char **argv);
int lk_cli_client(int argc, char **argv);

#endif
