/* SPDX-License-Identifier: MIT */
/*
 * `latchkey serve` and the commands that administer the store from the shell: `user`,
 * `sessions` and `audit`. They share the configuration loader, so --store, LATCHKEY_STORE
 * and the config file mean the same thing everywhere.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <sodium.h>

#include "cli/cli.h"
#include "cli/config.h"
#include "util/b64url.h"
#include "util/log.h"

/* The store URL for messages: a password in redis://:PASS@host is never printed. */
static void redact_url(const char *url, char *out, size_t size)
{
	const char *scheme = strstr(url, "//"), *at = NULL;
	/* the last '@' of the authority, as the store's URL parser takes it: a password may
	 * hold an '@' of its own */
	for (const char *p = scheme ? scheme + 2 : url; scheme && *p && !strchr("/?#", *p); p++)
		if (*p == '@')
			at = p;
	if (at)
		snprintf(out, size, "%.*s***%s", (int)(scheme + 2 - url), url, at);
	else
		snprintf(out, size, "%s", url);
}

static int open_auth(const struct lk_config *cfg, struct lk_auth **a)
{
	struct lk_errinfo ei = {0};
	enum lk_err err = lk_auth_open(&cfg->auth, cfg->store, a, &ei);
	if (err) {
		char shown[512];
		redact_url(cfg->store, shown, sizeof shown);
		fprintf(stderr, "latchkey: store %s: %s: %s\n", shown, lk_err_str(err), ei.detail);
		return err == LK_EINVAL ? LK_EXIT_USAGE : LK_EXIT_FAIL;
	}
	return 0;
}

/* The command line as an actor in the audit trail. */
static const struct lk_actor cli_actor = {"", "cli"};

int lk_cli_serve(int argc, char **argv)
{
	struct lk_config cfg;
	struct lk_auth *auth = NULL;
	struct lk_errinfo ei = {0};
	char admin_pw[32];
	int argi, rc;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: latchkey serve [--listen ADDR:PORT] [--store URL] [--issuer URL] "
		       "[--config FILE] [--insecure-cookies] [--SETTING VALUE]...\n\n");
		lk_config_help();
		return 0;
	}
	if ((rc = lk_config_load(&cfg, argc, argv, &argi, false)))
		return rc;
	if (argi < argc) {
		fprintf(stderr, "latchkey serve: unknown argument \"%s\" (see --help)\n", argv[argi]);
		return LK_EXIT_USAGE;
	}
	if (cfg.srv.insecure_cookies)
		lk_log("warn", "--insecure-cookies: cookies lose Secure and the __Host- prefix; "
			       "use only for plain-HTTP testing", (char *)NULL);
	if ((rc = open_auth(&cfg, &auth)))
		return rc;
	if (lk_auth_start(auth, admin_pw, &ei)) {
		fprintf(stderr, "latchkey: %s\n", ei.detail);
		lk_auth_close(auth);
		return LK_EXIT_FAIL;
	}
	if (admin_pw[0]) {
		printf("latchkey: created user \"admin\" with password %s\n"
		       "latchkey: it is shown only this once; change it with `latchkey user passwd admin`\n",
		       admin_pw);
		fflush(stdout);
		sodium_memzero(admin_pw, sizeof admin_pw);
	}
	char threads[16], workers[16];
	snprintf(threads, sizeof threads, "%u", cfg.srv.threads);
	snprintf(workers, sizeof workers, "%u", cfg.auth.signin_workers);
	lk_log("info", "threads", "http", threads, "argon2", workers, (char *)NULL);
	rc = lk_server_run(&cfg.srv, auth);
	lk_auth_close(auth);
	lk_log("info", "stopped", (char *)NULL);
	return rc;
}

/* ---------------------------------------------------------------- user */

/* One line from stdin, or twice from the terminal without echo. */
static int read_password(char *buf, size_t size)
{
	if (isatty(STDIN_FILENO)) {
		struct termios old, quiet;
		char again[LK_PW_MAX + 2];
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		fprintf(stderr, "Password: ");
		char *a = fgets(buf, (int)size, stdin);
		fprintf(stderr, "\nAgain: ");
		char *b = a ? fgets(again, sizeof again, stdin) : NULL;
		fprintf(stderr, "\n");
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		if (!a || !b || strcmp(buf, again) != 0) {
			sodium_memzero(again, sizeof again);
			fprintf(stderr, "latchkey: the passwords differ\n");
			return -1;
		}
		sodium_memzero(again, sizeof again);
	} else if (!fgets(buf, (int)size, stdin)) {
		fprintf(stderr, "latchkey: expected the password on one line of stdin\n");
		return -1;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0] || strlen(buf) >= LK_PW_MAX) {
		fprintf(stderr, "latchkey: the password must be 1 to %d bytes\n", LK_PW_MAX - 1);
		return -1;
	}
	return 0;
}

static int print_user(void *ud, const struct lk_user *u)
{
	json_t *arr = ud;
	if (arr)
		json_array_append_new(arr, json_pack("{sIsssssI}", "id", (json_int_t)u->id, "name",
						     u->name, "roles", u->roles, "created",
						     (json_int_t)u->created));
	else
		printf("%-6lld %-24s %s\n", (long long)u->id, u->name, u->roles[0] ? u->roles : "-");
	return 0;
}

int lk_cli_user(int argc, char **argv)
{
	struct lk_config cfg;
	struct lk_auth *a = NULL;
	char pw[LK_PW_MAX + 2];
	int argi, rc;
	enum lk_err err = LK_OK;
	const char *sub = argc > 1 ? argv[1] : "";

	if (argc < 2 || (strcmp(sub, "add") && strcmp(sub, "passwd") && strcmp(sub, "del") &&
			 strcmp(sub, "list"))) {
		fprintf(stderr, "usage: latchkey user add NAME [--role ROLE]... | passwd NAME | del NAME | "
				"list [--json]   [--store URL]\n");
		return LK_EXIT_USAGE;
	}
	/* settings flags (--store, --config) may come anywhere: collect the rest */
	char *rest[64];
	int nrest = 0, json = 0;
	char roles[LK_ROLES_MAX + 1] = "";
	char *args[64];
	int nargs = 1;
	args[0] = argv[0];
	for (int i = 2; i < argc && nargs < 63 && nrest < 63; i++) {
		if (!strcmp(argv[i], "--store") || !strcmp(argv[i], "--config")) {
			args[nargs++] = argv[i];
			if (i + 1 < argc)
				args[nargs++] = argv[++i];
		} else if (!strncmp(argv[i], "--store=", 8) || !strncmp(argv[i], "--config=", 9)) {
			args[nargs++] = argv[i];
		} else if (!strcmp(argv[i], "--role") && i + 1 < argc) {
			const char *r = argv[++i];
			if (!lk_auth_name_ok(r) || strlen(roles) + strlen(r) + 2 > sizeof roles) {
				fprintf(stderr, "latchkey: invalid role \"%s\"\n", r);
				return LK_EXIT_USAGE;
			}
			if (roles[0])
				strcat(roles, ",");
			strcat(roles, r);
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "latchkey user: unknown option \"%s\"\n", argv[i]);
			return LK_EXIT_USAGE;
		} else {
			rest[nrest++] = argv[i];
		}
	}
	if ((rc = lk_config_load(&cfg, nargs, args, &argi, true)))
		return rc;
	bool list = !strcmp(sub, "list");
	if ((list && nrest != 0) || (!list && nrest != 1)) {
		fprintf(stderr, "latchkey user %s: expected %s\n", sub, list ? "no name" : "one NAME");
		return LK_EXIT_USAGE;
	}
	if (!list && !lk_auth_name_ok(rest[0])) {
		fprintf(stderr, "latchkey: user names are 1-%d of A-Z a-z 0-9 . _ @ -\n", LK_NAME_MAX);
		return LK_EXIT_USAGE;
	}
	if ((rc = open_auth(&cfg, &a)))
		return rc;
	if ((!strcmp(sub, "add") || !strcmp(sub, "passwd")) && read_password(pw, sizeof pw)) {
		lk_auth_close(a);
		return LK_EXIT_FAIL;
	}
	rc = LK_EXIT_OK;
	if (!strcmp(sub, "add")) {
		err = lk_auth_user_add(a, &cli_actor, rest[0], roles, pw, strlen(pw));
	} else if (!strcmp(sub, "passwd")) {
		err = lk_auth_user_passwd(a, &cli_actor, rest[0], pw, strlen(pw));
	} else if (!strcmp(sub, "del")) {
		err = lk_auth_user_del(a, &cli_actor, rest[0]);
	} else {
		json_t *arr = json ? json_array() : NULL;
		err = lk_auth_users(a, print_user, arr);
		if (arr) {
			char *s = json_dumps(arr, JSON_INDENT(2));
			if (s)
				puts(s);
			free(s);
			json_decref(arr);
		}
	}
	sodium_memzero(pw, sizeof pw);
	if (err) {
		fprintf(stderr, "latchkey: user %s: %s\n", sub, lk_err_str(err));
		rc = LK_EXIT_FAIL;
	}
	lk_auth_close(a);
	return rc;
}

/* ---------------------------------------------------------------- sessions, audit */

/* --store URL / --config FILE at argv[*i]: copied into args (at most 16) for the config
 * loader, *i moved past the value. false when argv[*i] is something else. */
static bool store_arg(int argc, char **argv, int *i, char **args, int *nargs)
{
	if ((strcmp(argv[*i], "--store") && strcmp(argv[*i], "--config")) || *i + 1 >= argc ||
	    *nargs > 13)
		return false;
	args[(*nargs)++] = argv[*i];
	args[(*nargs)++] = argv[++*i];
	return true;
}

struct sess_ctx {
	json_t *arr;
	struct lk_auth *a;
};

static int print_session(void *ud, const struct lk_session *s)
{
	struct sess_ctx *c = ud;
	struct lk_user u;
	if (lk_auth_user_by_id(c->a, s->user_id, &u))
		snprintf(u.name, sizeof u.name, "#%lld", (long long)s->user_id);
	if (c->arr) {
		json_array_append_new(c->arr, json_pack("{sssssIsIsIssss}", "id", s->handle, "user", u.name,
						       "created", (json_int_t)s->created, "last_seen",
						       (json_int_t)s->last_seen, "expires",
						       (json_int_t)s->expires, "ip", s->ip, "user_agent",
						       s->user_agent));
	} else {
		char when[32];
		time_t t = (time_t)s->last_seen;
		struct tm tm;
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
		printf("%s  %-16s %s  %-15s %s\n", s->handle, u.name, when, s->ip, s->user_agent);
	}
	return 0;
}

static void dump_json(json_t *o)
{
	char *s = json_dumps(o, JSON_INDENT(2));
	if (s)
		puts(s);
	free(s);
	json_decref(o);
}

/* A session id as `sessions list` prints it: 22 base64url characters. It may begin with
 * '-' (one id in 32 does), so it is told from an option by its shape. */
static bool looks_like_handle(const char *s)
{
	size_t n = strlen(s);
	if (n != LK_HANDLE_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

int lk_cli_sessions(int argc, char **argv)
{
	struct lk_config cfg;
	struct lk_auth *a = NULL;
	const char *sub = argc > 1 ? argv[1] : "", *user = NULL, *id = NULL;
	char *args[16];
	int nargs = 1, argi, rc, json = 0, all = 0;
	enum lk_err err = LK_OK;
	int64_t n = 0;

	args[0] = argv[0];
	if (strcmp(sub, "list") && strcmp(sub, "revoke"))
		goto usage;
	for (int i = 2; i < argc; i++) {
		if (store_arg(argc, argv, &i, args, &nargs))
			continue;
		if (!strcmp(argv[i], "--user") && i + 1 < argc) {
			user = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--all")) {
			all = 1;
		} else if (!strcmp(argv[i], "--") && i + 1 < argc && !id) {
			id = argv[++i];
		} else if (!id && (argv[i][0] != '-' || looks_like_handle(argv[i]))) {
			id = argv[i];
		} else {
			goto usage;
		}
	}
	if (!strcmp(sub, "revoke") && (!!id + !!user + all) != 1)
		goto usage;
	if (!strcmp(sub, "list") && (id || all))
		goto usage;
	if ((rc = lk_config_load(&cfg, nargs, args, &argi, true)))
		return rc;
	if ((rc = open_auth(&cfg, &a)))
		return rc;
	rc = LK_EXIT_OK;
	struct lk_user u = {.id = -1};
	struct lk_revoked rv = {0, 0};
	if (user && (err = lk_auth_user_get(a, user, &u)))
		goto done;
	if (!strcmp(sub, "list")) {
		struct sess_ctx c = {.arr = json ? json_array() : NULL, .a = a};
		err = lk_auth_sessions(a, user ? u.id : -1, print_session, &c);
		if (c.arr)
			dump_json(c.arr);
	} else if (all || user) {
		/* sessions and refresh families end together, in one store change */
		err = lk_auth_revoke_user(a, &cli_actor, u.id, NULL, &rv);
		n = rv.sessions;
	} else if (!(err = lk_auth_revoke_session(a, &cli_actor, -1, id))) {
		n = 1;
	}
	if (!err && !strcmp(sub, "revoke") && (all || user))
		printf("revoked %lld session%s and %lld refresh-token famil%s\n", (long long)n,
		       n == 1 ? "" : "s", (long long)rv.families, rv.families == 1 ? "y" : "ies");
	else if (!err && !strcmp(sub, "revoke"))
		printf("revoked %lld session%s\n", (long long)n, n == 1 ? "" : "s");
done:
	if (err) {
		fprintf(stderr, "latchkey: sessions %s: %s\n", sub, lk_err_str(err));
		rc = LK_EXIT_FAIL;
	}
	lk_auth_close(a);
	return rc;
usage:
	fprintf(stderr, "usage: latchkey sessions list [--user NAME] [--json] | "
			"revoke SESSION_ID | --user NAME | --all   [--store URL]\n");
	return LK_EXIT_USAGE;
}

static int print_audit(void *ud, const struct lk_audit *a)
{
	json_t *arr = ud;
	if (arr) {
		json_array_append_new(arr, json_pack("{sIsIssssssss}", "id", (json_int_t)a->id, "ts",
						     (json_int_t)a->ts, "event", a->event, "user", a->user,
						     "ip", a->ip, "detail", a->detail));
	} else {
		char when[32];
		time_t t = (time_t)a->ts;
		struct tm tm;
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
		printf("%s  %-16s %-16s %-15s %s\n", when, a->event, a->user[0] ? a->user : "-",
		       a->ip, a->detail);
	}
	return 0;
}

int lk_cli_audit(int argc, char **argv)
{
	struct lk_config cfg;
	struct lk_auth *a = NULL;
	char *args[16], *end;
	int nargs = 1, argi, rc, json = 0;
	long limit = 50;

	args[0] = argv[0];
	if (argc < 2 || strcmp(argv[1], "list"))
		goto usage;
	for (int i = 2; i < argc; i++) {
		if (store_arg(argc, argv, &i, args, &nargs))
			continue;
		if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
			limit = strtol(argv[++i], &end, 10);
			if (*end || limit < 0)
				goto usage;
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else {
			goto usage;
		}
	}
	if ((rc = lk_config_load(&cfg, nargs, args, &argi, true)))
		return rc;
	if ((rc = open_auth(&cfg, &a)))
		return rc;
	json_t *arr = json ? json_array() : NULL;
	enum lk_err err = lk_auth_audit_list(a, (size_t)limit, print_audit, arr);
	if (arr)
		dump_json(arr);
	lk_auth_close(a);
	if (err) {
		fprintf(stderr, "latchkey: audit list: %s\n", lk_err_str(err));
		return LK_EXIT_FAIL;
	}
	return LK_EXIT_OK;
usage:
	fprintf(stderr, "usage: latchkey audit list [--limit N] [--json] [--store URL]\n");
	return LK_EXIT_USAGE;
}

/* ---------------------------------------------------------------- keys, clients */

static int print_key(void *ud, const struct lk_keyrec *k)
{
	int64_t now = *(int64_t *)ud;
	const char *state = k->remove_at && k->remove_at <= now ? "expired"
			    : k->retire_at && k->retire_at <= now ? "retired (published)"
			    : k->sign_from > now ? "published, signs soon"
						  : "signing";
	char a[32], b[32];
	time_t t1 = (time_t)k->sign_from, t2 = (time_t)k->retire_at;
	struct tm tm;
	strftime(a, sizeof a, "%Y-%m-%d %H:%M:%S", gmtime_r(&t1, &tm));
	if (k->retire_at)
		strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", gmtime_r(&t2, &tm));
	else
		snprintf(b, sizeof b, "-");
	printf("%-44s %-6s %-22s signs from %s  until %s%s\n", k->kid, k->alg, state, a, b,
	       strncmp(k->jwk, "enc:", 4) == 0 ? "  (encrypted)" : "");
	return 0;
}

int lk_cli_keys(int argc, char **argv)
{
	struct lk_config cfg;
	struct lk_auth *a = NULL;
	struct lk_errinfo ei = {0};
	char *args[16];
	int nargs = 1, argi, rc;
	enum lk_err err;

	args[0] = argv[0];
	if (argc < 2 || (strcmp(argv[1], "list") && strcmp(argv[1], "rotate")))
		goto usage;
	for (int i = 2; i < argc; i++) {
		if (!store_arg(argc, argv, &i, args, &nargs))
			goto usage;
	}
	if ((rc = lk_config_load(&cfg, nargs, args, &argi, true)))
		return rc;
	if ((rc = open_auth(&cfg, &a)))
		return rc;
	int64_t now = (int64_t)time(NULL);
	if (!strcmp(argv[1], "list")) {
		err = lk_auth_keys(a, print_key, &now);
	} else {
		err = lk_auth_keys_rotate(a, now, &ei);
		if (!err)
			printf("rotated: the new key is published now and signs in %lld s\n",
			       (long long)cfg.auth.tok.jwks_max_age);
	}
	lk_auth_close(a);
	if (err) {
		fprintf(stderr, "latchkey: keys %s: %s %s\n", argv[1], lk_err_str(err), ei.detail);
		return LK_EXIT_FAIL;
	}
	return LK_EXIT_OK;
usage:
	fprintf(stderr, "usage: latchkey keys list | keys rotate   [--store URL]\n");
	return LK_EXIT_USAGE;
}

int lk_cli_client(int argc, char **argv)
{
	struct lk_config cfg;
	struct lk_auth *a = NULL;
	struct lk_client c;
	char *args[16], secret[LK_SECRET_LEN + 1];
	const char *name = NULL, *scope = "";
	int nargs = 1, argi, rc;

	args[0] = argv[0];
	if (argc < 2 || strcmp(argv[1], "add"))
		goto usage;
	for (int i = 2; i < argc; i++) {
		if (store_arg(argc, argv, &i, args, &nargs))
			continue;
		if (!strcmp(argv[i], "--scope") && i + 1 < argc) {
			scope = argv[++i];
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else {
			goto usage;
		}
	}
	if (!name || !lk_auth_name_ok(name) || strlen(scope) > LK_SCOPE_MAX)
		goto usage;
	if ((rc = lk_config_load(&cfg, nargs, args, &argi, true)))
		return rc;
	if ((rc = open_auth(&cfg, &a)))
		return rc;
	enum lk_err err = lk_auth_client_add(a, &cli_actor, name, scope, &c, secret);
	lk_auth_close(a);
	if (err) {
		sodium_memzero(secret, sizeof secret);
		fprintf(stderr, "latchkey: client add: %s\n", lk_err_str(err));
		return LK_EXIT_FAIL;
	}
	printf("client_id=%s\nclient_secret=%s\n", c.id, secret);
	fprintf(stderr, "latchkey: the secret is shown only this once; only its hash is stored\n");
	sodium_memzero(secret, sizeof secret);
	return LK_EXIT_OK;
usage:
	fprintf(stderr, "usage: latchkey client add NAME [--scope \"a b\"]   [--store URL]\n");
	return LK_EXIT_USAGE;
}
