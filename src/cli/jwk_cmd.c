/* SPDX-License-Identifier: MIT */
/*
 * `latchkey jwk generate|public`: make a new private JWK offline, and publish the public
 * half of one (or of a JWKS) as a JWKS that verifiers can load. Keys written to a file by
 * --out are created with mode 0600 and never overwrite an existing file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "latchkey.h"

static int write_private(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t n = strlen(s), w = 0;
	if (fd < 0) {
		fprintf(stderr, "latchkey: cannot create %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (w < n) {
		ssize_t r = write(fd, s + w, n - w);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "latchkey: cannot write %s: %s\n", path, strerror(errno));
			close(fd);
			unlink(path);
			return -1;
		}
		w += (size_t)r;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) != 0 || close(fd) != 0) {
		fprintf(stderr, "latchkey: cannot write %s: %s\n", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

static int cmd_generate(int argc, char **argv)
{
	static const struct option opts[] = {{"alg", required_argument, 0, 'a'},
					     {"kid", required_argument, 0, 'k'},
					     {"out", required_argument, 0, 'o'},
					     {0, 0, 0, 0}};
	const char *alg_s = NULL, *kid = NULL, *path = NULL;
	lk_jwk *key = NULL;
	char *json = NULL;
	struct lk_errinfo ei = {0};
	enum lk_err err;
	int c, rc = LK_EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a': alg_s = optarg; break;
		case 'k': kid = optarg; break;
		case 'o': path = optarg; break;
		default: return LK_EXIT_USAGE;
		}
	}
	enum lk_alg alg = alg_s ? lk_alg_from_name(alg_s, strlen(alg_s)) : LK_ALG_NONE;
	if (!alg || optind != argc) {
		fprintf(stderr, "usage: latchkey jwk generate --alg ALG [--kid KID] [--out FILE]\n"
				"  ALG: HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 "
				"ES256 ES384 ES512 EdDSA\n");
		return LK_EXIT_USAGE;
	}
	if (kid && !*kid) {
		fprintf(stderr, "latchkey: --kid must not be empty\n");
		return LK_EXIT_USAGE;
	}
	if ((err = lk_jwk_generate(alg, kid, &key, &ei)) || (err = lk_jwk_to_json(key, 1, &json, NULL))) {
		fprintf(stderr, "latchkey: cannot generate: %s %s\n", lk_err_str(err), ei.detail);
		goto out;
	}
	if (path) {
		if (write_private(path, json) == 0)
			rc = LK_EXIT_OK;
	} else {
		puts(json);
		rc = LK_EXIT_OK;
	}
out:
	if (json) {
		memset(json, 0, strlen(json));
		free(json);
	}
	lk_jwk_free(key);
	return rc;
}

static int cmd_public(int argc, char **argv)
{
	char *doc = NULL, *out = NULL, err_s[256];
	size_t len;
	lk_jwks *set = NULL;
	struct lk_errinfo ei = {0};
	enum lk_err err;
	int rc = LK_EXIT_FAIL;

	if (argc != 2) {
		fprintf(stderr, "usage: latchkey jwk public JWK_OR_JWKS_FILE|-\n");
		return LK_EXIT_USAGE;
	}
	if (lk_cli_read(argv[1], LK_MAX_JWKS, NULL, &doc, &len, err_s) != 0) {
		fprintf(stderr, "latchkey: %s\n", err_s);
		free(doc);
		return LK_EXIT_USAGE;
	}
	if ((err = lk_jwks_parse(doc, len, &set, &ei)) || (err = lk_jwks_to_json(set, &out, NULL))) {
		fprintf(stderr, "latchkey: %s: %s\n", lk_err_str(err), ei.detail);
		goto out;
	}
	for (size_t i = 0; i < lk_jwks_count(set); i++) {
		const lk_jwk *k = lk_jwks_get(set, i);
		if (!k)
			fprintf(stderr, "latchkey: warning: key %zu is unusable and left out\n", i);
		else if (lk_jwk_algs(k) & LK_ALG_HMAC)
			fprintf(stderr, "latchkey: warning: key %zu is a shared secret (oct) and is never "
					"published\n", i);
	}
	puts(out);
	rc = LK_EXIT_OK;
out:
	free(out);
	lk_jwks_free(set);
	memset(doc, 0, len);
	free(doc);
	return rc;
}

int lk_cli_jwk(int argc, char **argv)
{
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			if (!strcmp(argv[1], "generate"))
				fputs("usage: latchkey jwk generate --alg ALG [--kid KID] [--out FILE]\n", stdout);
			else if (!strcmp(argv[1], "public"))
				fputs("usage: latchkey jwk public JWK_OR_JWKS_FILE|-\n", stdout);
			else
				break;
			return LK_EXIT_OK;
		}
	if (argc < 2) {
		fprintf(stderr, "usage: latchkey jwk generate|public ...\n");
		return LK_EXIT_USAGE;
	}
	optind = 1;
	if (strcmp(argv[1], "generate") == 0)
		return cmd_generate(argc - 1, argv + 1);
	if (strcmp(argv[1], "public") == 0)
		return cmd_public(argc - 1, argv + 1);
	fprintf(stderr, "latchkey: unknown command \"jwk %s\"\n", argv[1]);
	return LK_EXIT_USAGE;
}
