/* SPDX-License-Identifier: MIT */
/*
 * `latchkey jwt decode|verify|sign`: the JWT decoder the seed articles keep pointing to,
 * as a tool that never sends a token anywhere, plus a strict verifier whose exit codes
 * scripts can rely on (0 valid, 1 rejected with one `invalid: REASON` line, 2 usage).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "cli/cli.h"
#include "latchkey.h"

/* What stdin may hold for a token or for claims: room for a pretty-printed claims object or
 * trailing whitespace, as a memory bound only. The 8 KiB rule is the library's: a token over
 * LK_MAX_TOKEN is refused by lk_jwt_verify (too_large) and never made by lk_jws_sign, so the
 * CLI agrees with every other verifier at the byte. */
#define STDIN_CAP (4 * LK_MAX_TOKEN)

/* Read a TOKEN argument or '-' (stdin); tokens over the cap are kept so that the library
 * refuses them with its own reason. Returns 0 or prints an error and returns -1. */
static int read_token(const char *arg, char **tok, size_t *len)
{
	char err[256];
	if (strcmp(arg, "-") != 0) {
		*len = strlen(arg);
		*tok = strdup(arg);
		return *tok ? 0 : -1;
	}
	if (lk_cli_read("-", STDIN_CAP, NULL, tok, len, err) == -1) {
		fprintf(stderr, "latchkey: %s\n", err);
		return -1;
	}
	lk_cli_rtrim(*tok, len);
	return 0;
}

/* "14m 3s", "2h", "3d 4h": the two largest non-zero units. */
static void human_span(long long s, char *buf, size_t size)
{
	static const struct { long long sec; const char *u; } units[] = {
		{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
	size_t w = 0;
	int shown = 0;
	if (s == 0) {
		snprintf(buf, size, "0s");
		return;
	}
	for (int i = 0; i < 4 && shown < 2; i++) {
		long long q = s / units[i].sec;
		if (q == 0) {
			if (shown)
				break;
			continue;
		}
		w += (size_t)snprintf(buf + w, size - w, "%s%lld%s", shown ? " " : "", q, units[i].u);
		s -= q * units[i].sec;
		shown++;
	}
}

static void print_time(const char *name, json_t *v, long long now)
{
	char when[64], span[48];
	if (!json_is_number(v)) {
		printf("  %-4s %s\n", name, "(not a NumericDate)");
		return;
	}
	long long t = (long long)json_number_value(v);
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm))
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	else
		snprintf(when, sizeof when, "out of range");
	human_span(t > now ? t - now : now - t, span, sizeof span);
	const char *rel;
	char relbuf[96];
	if (strcmp(name, "exp") == 0)
		snprintf(relbuf, sizeof relbuf, t > now ? "expires in %s" : "expired %s ago", span);
	else if (strcmp(name, "nbf") == 0)
		snprintf(relbuf, sizeof relbuf, t > now ? "valid in %s" : "valid since %s ago", span);
	else
		snprintf(relbuf, sizeof relbuf, t > now ? "issued %s in the future" : "issued %s ago", span);
	rel = relbuf;
	printf("  %-4s %lld  %s  (%s)\n", name, t, when, rel);
}

static int cmd_decode(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
	int as_json = 0, c, rc = LK_EXIT_FAIL;
	char *tok = NULL, *h = NULL, *p = NULL, *hs = NULL, *ps = NULL;
	size_t len, siglen = 0;
	json_t *hj = NULL, *pj = NULL;
	json_error_t je;
	struct lk_errinfo ei = {0};
	enum lk_err err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return LK_EXIT_USAGE;
		as_json = 1;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: latchkey jwt decode [--json] TOKEN|-\n");
		return LK_EXIT_USAGE;
	}
	if (read_token(argv[optind], &tok, &len))
		return LK_EXIT_USAGE;
	if ((err = lk_jws_decode_unverified(tok, len, &h, &p, &siglen, &ei))) {
		fprintf(stderr, "malformed: %s (%s)\n", lk_err_str(err), ei.detail);
		goto out;
	}
	if (!(hj = json_loads(h, JSON_REJECT_DUPLICATES, &je))) {
		fprintf(stderr, "malformed: the header: %s\n", je.text);
		goto out;
	}
	if (!(pj = json_loads(p, JSON_REJECT_DUPLICATES, &je))) {
		fprintf(stderr, "malformed: the payload: %s\n", je.text);
		goto out;
	}
	if (!json_is_object(pj)) {
		fprintf(stderr, "malformed: the payload is not a JSON object\n");
		goto out;
	}
	if (as_json) {
		json_t *o = json_pack("{sOsO}", "header", hj, "payload", pj);
		char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
		json_decref(o);
		if (!s)
			goto out;
		puts(s);
		free(s);
	} else {
		long long now = (long long)time(NULL);
		hs = json_dumps(hj, JSON_INDENT(2));
		ps = json_dumps(pj, JSON_INDENT(2));
		if (!hs || !ps)
			goto out;
		printf("Header:\n%s\nPayload:\n%s\n", hs, ps);
		if (json_object_get(pj, "iat") || json_object_get(pj, "nbf") || json_object_get(pj, "exp")) {
			printf("Times:\n");
			static const char *names[3] = {"iat", "nbf", "exp"};
			for (int i = 0; i < 3; i++)
				if (json_object_get(pj, names[i]))
					print_time(names[i], json_object_get(pj, names[i]), now);
		}
		printf("Signature: %zu bytes, NOT verified (use `latchkey jwt verify`)\n", siglen);
	}
	rc = LK_EXIT_OK;
out:
	json_decref(hj);
	json_decref(pj);
	free(hs);
	free(ps);
	free(h);
	free(p);
	free(tok);
	return rc;
}

/* What `jwt verify` prints and exits with for a verification's outcome (SPEC): the payload
 * and 0; "invalid: REASON" and 1; a failure that is no verdict on the token, 2. */
static int verdict(enum lk_err err, const lk_jwt *jwt)
{
	if (err && lk_err_class(err) == LK_CLASS_SYSTEM) {
		fprintf(stderr, "latchkey: error: %s\n", lk_err_str(err));
		return LK_EXIT_USAGE;
	}
	if (err) {
		fprintf(stderr, "invalid: %s\n", lk_err_str(err));
		return LK_EXIT_FAIL;
	}
	size_t plen;
	const char *pl = lk_jwt_payload_json(jwt, &plen);
	fwrite(pl, 1, plen, stdout);
	putchar('\n');
	return LK_EXIT_OK;
}

/* `--issuer`: a verifier of the library (discovery, JWKS, and with --client-id the revocation
 * snapshot), the same one a service would run. Exit codes as for --jwks. */
static int verify_issuer(const struct lk_verifier_config *cfg, const char *tok_arg)
{
	lk_verifier *v = NULL;
	lk_jwt *jwt = NULL;
	struct lk_errinfo ei = {0};
	char *tok = NULL;
	size_t tlen;
	enum lk_err err;
	int rc = LK_EXIT_USAGE;

	if ((err = lk_verifier_new(cfg, &v, &ei))) {
		fprintf(stderr, "latchkey: --issuer: %s: %s\n", lk_err_str(err), ei.detail);
		return LK_EXIT_USAGE;
	}
	if (read_token(tok_arg, &tok, &tlen))
		goto out;
	err = lk_verifier_verify(v, tok, tlen, &jwt, &ei);
	rc = verdict(err, jwt);
out:
	lk_jwt_free(jwt);
	lk_verifier_free(v);
	free(tok);
	return rc;
}

#define VERIFY_USAGE                                                                         \
	"usage: latchkey jwt verify --jwks FILE|URL | --issuer URL [--client-id ID]\n"        \
	"                           [--cacert FILE] [--alg A[,A...]] [--iss ISS] [--aud AUD]\n" \
	"                           [--typ TYP] [--leeway SECONDS] [--now UNIX] TOKEN|-\n"

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{"jwks", required_argument, 0, 'k'}, {"alg", required_argument, 0, 'a'},
		{"iss", required_argument, 0, 'i'},  {"aud", required_argument, 0, 'u'},
		{"leeway", required_argument, 0, 'l'}, {"now", required_argument, 0, 'n'},
		{"cacert", required_argument, 0, 'c'}, {"issuer", required_argument, 0, 'I'},
		{"client-id", required_argument, 0, 'C'}, {"typ", required_argument, 0, 't'},
		{0, 0, 0, 0}};
	struct lk_verify_opts vo = {0};
	struct lk_cli_fetch fetch = {0};
	struct lk_verifier_config cfg = {0};
	const char *jwks_src = NULL, *typ = NULL;
	char *doc = NULL, *tok = NULL, *end, err_s[256];
	size_t dlen, tlen;
	lk_jwks *set = NULL;
	lk_jwt *jwt = NULL;
	struct lk_errinfo ei = {0};
	enum lk_err err;
	int c, rc = LK_EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': jwks_src = optarg; break;
		case 'c': fetch.cacert = optarg; break;
		case 'I': cfg.issuer = optarg; break;
		case 'C': cfg.client_id = optarg; break;
		case 't': typ = optarg; break;
		case 'a':
			if (lk_alg_parse_list(optarg, &vo.allow) != LK_OK) {
				fprintf(stderr, "latchkey: --alg: unknown algorithm in \"%s\"\n", optarg);
				return LK_EXIT_USAGE;
			}
			break;
		case 'i': vo.iss = optarg; break;
		case 'u': vo.aud = optarg; break;
		case 'l':
			vo.leeway = strtoll(optarg, &end, 10);
			if (*end || !*optarg || vo.leeway < 0) {
				fprintf(stderr, "latchkey: --leeway takes whole seconds\n");
				return LK_EXIT_USAGE;
			}
			if (vo.leeway == 0)
				vo.leeway = -1; /* explicit zero: no leeway */
			break;
		case 'n':
			vo.now = strtoll(optarg, &end, 10);
			if (*end || !*optarg || vo.now <= 0) {
				fprintf(stderr, "latchkey: --now takes a UNIX time in seconds\n");
				return LK_EXIT_USAGE;
			}
			break;
		default: return LK_EXIT_USAGE;
		}
	}
	if ((!jwks_src && !cfg.issuer) || optind != argc - 1) {
		fputs(VERIFY_USAGE, stderr);
		return LK_EXIT_USAGE;
	}
	if (cfg.issuer) {
		/* The verifier judges against the clock: a replay at --now would have to
		 * replay the revocations as they stood then, which no one keeps. */
		if (vo.now) {
			fprintf(stderr, "latchkey: --now cannot be used with --issuer\n");
			return LK_EXIT_USAGE;
		}
		if (jwks_src && strcmp(jwks_src, "-") == 0) {
			fprintf(stderr, "latchkey: --issuer takes --jwks as a file or URL, not -\n");
			return LK_EXIT_USAGE;
		}
		if (cfg.client_id) {
			/* The secret never comes from argv, which any local user can read. */
			const char *sec = getenv("LATCHKEY_CLIENT_SECRET");
			if (!sec || !*sec) {
				fprintf(stderr, "latchkey: --client-id needs the client secret in the "
						"environment variable LATCHKEY_CLIENT_SECRET\n");
				return LK_EXIT_USAGE;
			}
			cfg.client_secret = sec;
		}
		if (jwks_src && (strncmp(jwks_src, "http://", 7) == 0 ||
				 strncmp(jwks_src, "https://", 8) == 0))
			cfg.jwks_url = jwks_src;
		else if (jwks_src)
			cfg.jwks_file = jwks_src;
		cfg.ca_file = fetch.cacert;
		cfg.iss = vo.iss;
		cfg.aud = vo.aud;
		cfg.typ = typ; /* NULL: at+jwt, what latchkey issues */
		cfg.allow = vo.allow;
		cfg.leeway = vo.leeway;
		return verify_issuer(&cfg, argv[optind]);
	}
	if (cfg.client_id) {
		fprintf(stderr, "latchkey: --client-id needs --issuer\n");
		return LK_EXIT_USAGE;
	}
	vo.typ = typ && *typ ? typ : NULL;
	if (lk_cli_read(jwks_src, LK_MAX_JWKS, &fetch, &doc, &dlen, err_s) != 0) {
		fprintf(stderr, "latchkey: --jwks: %s\n", err_s);
		goto out;
	}
	if ((err = lk_jwks_parse(doc, dlen, &set, &ei))) {
		fprintf(stderr, "latchkey: --jwks: %s: %s\n", lk_err_str(err), ei.detail);
		goto out;
	}
	if (read_token(argv[optind], &tok, &tlen))
		goto out;
	err = lk_jwt_verify(set, tok, tlen, &vo, &jwt, &ei);
	rc = verdict(err, jwt);
out:
	lk_jwt_free(jwt);
	lk_jwks_free(set);
	free(doc);
	free(tok);
	return rc;
}

static int cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {{"key", required_argument, 0, 'k'},
					     {"exp-in", required_argument, 0, 'e'},
					     {0, 0, 0, 0}};
	const char *key_src = NULL;
	long long exp_in = -1;
	char *doc = NULL, *claims = NULL, *out = NULL, *pl = NULL, err_s[256];
	size_t dlen, clen;
	lk_jwk *key = NULL;
	json_t *cj = NULL;
	json_error_t je;
	struct lk_errinfo ei = {0};
	enum lk_err err;
	int c, rc = LK_EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key_src = optarg; break;
		case 'e':
			if ((exp_in = lk_cli_duration(optarg)) <= 0) {
				fprintf(stderr, "latchkey: --exp-in takes a duration like 900, 15m, 1h, 7d\n");
				return LK_EXIT_USAGE;
			}
			break;
		default: return LK_EXIT_USAGE;
		}
	}
	if (!key_src || optind != argc - 1) {
		fprintf(stderr, "usage: latchkey jwt sign --key JWK_FILE [--exp-in DURATION] CLAIMS_JSON|-\n");
		return LK_EXIT_USAGE;
	}
	if (lk_cli_read(key_src, LK_MAX_JWK, NULL, &doc, &dlen, err_s) != 0) {
		fprintf(stderr, "latchkey: --key: %s\n", err_s);
		goto out;
	}
	if ((err = lk_jwk_parse(doc, dlen, &key, &ei))) {
		fprintf(stderr, "latchkey: --key: %s: %s\n", lk_err_str(err), ei.detail);
		goto out;
	}
	if (!lk_jwk_is_private(key)) {
		fprintf(stderr, "latchkey: --key: signing needs a private key\n");
		goto out;
	}
	if (strcmp(argv[optind], "-") == 0) {
		if (lk_cli_read("-", STDIN_CAP, NULL, &claims, &clen, err_s) != 0) {
			fprintf(stderr, "latchkey: claims: %s\n", err_s);
			goto out;
		}
	} else {
		claims = strdup(argv[optind]);
	}
	rc = LK_EXIT_FAIL;
	if (!claims || !(cj = json_loads(claims, JSON_REJECT_DUPLICATES, &je)) || !json_is_object(cj)) {
		fprintf(stderr, "latchkey: the claims must be one JSON object%s%s\n", cj ? "" : ": ",
			cj ? "" : je.text);
		goto out;
	}
	if (exp_in > 0) {
		json_int_t now = (json_int_t)time(NULL);
		if (!json_object_get(cj, "iat"))
			json_object_set_new(cj, "iat", json_integer(now));
		json_object_set_new(cj, "exp", json_integer(now + exp_in));
	}
	if (!(pl = json_dumps(cj, JSON_COMPACT)))
		goto out;
	if ((err = lk_jws_sign(key, "JWT", pl, strlen(pl), &out, NULL, &ei))) {
		fprintf(stderr, "latchkey: cannot sign: %s: %s\n", lk_err_str(err), ei.detail);
		goto out;
	}
	puts(out);
	rc = LK_EXIT_OK;
out:
	json_decref(cj);
	lk_jwk_free(key);
	free(out);
	free(pl);
	free(claims);
	free(doc);
	return rc;
}

static const char *const jwt_usage[] = {
	"decode", "usage: latchkey jwt decode [--json] TOKEN|-\n"
		  "  Show header and payload; times in human form. Nothing is verified.\n",
	"verify", VERIFY_USAGE
		  "  --issuer: discovery and JWKS of that issuer (typ at+jwt unless --typ); with\n"
		  "  --client-id (secret in env LATCHKEY_CLIENT_SECRET) its revocations too.\n"
		  "  exit 0: valid, payload on stdout; 1: `invalid: REASON` on stderr; 2: usage.\n",
	"sign", "usage: latchkey jwt sign --key JWK_FILE [--exp-in DURATION] CLAIMS_JSON|-\n",
};

/* `latchkey jwt CMD --help`: usage on stdout, exit 0. */
static bool wants_help(int argc, char **argv)
{
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

int lk_cli_jwt(int argc, char **argv)
{
	if (argc >= 2 && wants_help(argc, argv)) {
		for (size_t i = 0; i < sizeof jwt_usage / sizeof jwt_usage[0]; i += 2)
			if (!strcmp(argv[1], jwt_usage[i])) {
				fputs(jwt_usage[i + 1], stdout);
				return LK_EXIT_OK;
			}
	}
	if (argc < 2) {
		fprintf(stderr, "usage: latchkey jwt decode|verify|sign ...\n");
		return LK_EXIT_USAGE;
	}
	optind = 1;
	if (strcmp(argv[1], "decode") == 0)
		return cmd_decode(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc - 1, argv + 1);
	fprintf(stderr, "latchkey: unknown command \"jwt %s\"\n", argv[1]);
	return LK_EXIT_USAGE;
}
