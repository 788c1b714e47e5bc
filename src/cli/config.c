/* SPDX-License-Identifier: MIT */
/*
 * The settings table and its three readers (see config.h). Values are validated when read:
 * a bad duration, number or choice is a usage error naming the source and the setting.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <ini.h>
#include <sodium.h>

#include "cli/cli.h"
#include "cli/config.h"

enum type { T_STR, T_BOOL, T_UINT, T_DUR, T_SIZE };

struct setting {
	const char *name;
	enum type type;
	size_t off, size;
	const char *def;
	const char *help;
};

#define S(f) offsetof(struct lk_config, f), sizeof(((struct lk_config *)0)->f)
static const struct setting settings[] = {
	{"listen", T_STR, S(srv.listen), "127.0.0.1:8080", "ADDR:PORT to listen on"},
	{"store", T_STR, S(store), "sqlite:latchkey.db", "store URL: sqlite:PATH, redis://[:PASSWORD@]HOST:PORT[/DB], redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/NAME[/DB] or redis+cluster://[:PASSWORD@]HOST:PORT[,HOST:PORT...][/NAMESPACE] (password also LATCHKEY_REDIS_PASSWORD)"},
	{"issuer", T_STR, S(srv.issuer), "", "public base URL (default http://LISTEN)"},
	{"insecure_cookies", T_BOOL, S(srv.insecure_cookies), "false",
	 "drop Secure and __Host- (plain-HTTP testing only)"},
	{"samesite", T_STR, S(samesite), "lax", "session cookie SameSite: lax or strict"},
	{"idle_timeout", T_DUR, S(auth.idle), "30m", "end sessions idle this long"},
	{"absolute_timeout", T_DUR, S(auth.absolute), "24h", "end sessions this long after sign-in"},
	{"touch_interval", T_DUR, S(touch_cfg), "0",
	 "at most one last-seen write per session per interval (0: min(60s, idle/4))"},
	{"threads", T_UINT, S(srv.threads), "0", "HTTP threads (0: one per CPU but one, at least one)"},
	{"login_workers", T_UINT, S(auth.signin_workers), "0", "Argon2 worker threads (0: one per CPU)"},
	{"login_queue", T_UINT, S(auth.signin_queue), "64", "sign-ins waiting for a worker before 503"},
	{"login_wait", T_DUR, S(auth.signin_wait), "2s",
	 "longest wait for an Argon2 worker; beyond it, 503 busy (0: no bound)"},
	{"argon2_ops", T_UINT, S(auth.cost.ops), "2", "Argon2id passes (t), at least 2"},
	{"argon2_mem_kib", T_UINT, S(argon2_mem_kib), "19456", "Argon2id memory in KiB (m), at least 19456"},
	{"rate_pair_free", T_UINT, S(auth.rl.pair_free), "5",
	 "failed sign-ins per (account, IP) before backoff"},
	{"rate_backoff_max", T_DUR, S(auth.rl.backoff_max), "15m", "longest sign-in backoff"},
	{"rate_ip_per_min", T_UINT, S(auth.rl.ip_per_min), "60", "failed sign-ins per IP per minute"},
	{"max_body", T_SIZE, S(srv.max_body), "16384", "largest request body, bytes (413 beyond)"},
	{"max_header", T_SIZE, S(srv.max_header), "32768", "largest request head, bytes (431 beyond)"},
	{"conn_timeout", T_DUR, S(srv.conn_timeout), "15s", "close connections silent this long"},
	{"header_timeout", T_DUR, S(srv.header_timeout), "10s",
	 "close connections with no complete request head this long after the accept or "
	 "the last reply (0: off)"},
	{"max_conn_per_ip", T_UINT, S(srv.max_conn_per_ip), "256",
	 "open connections per client address (0: no cap; behind a proxy, 0 or high)"},
	{"revocation_ping", T_DUR, S(srv.revocation_ping), "15s",
	 "a `: ping` on an idle /revocations/stream this often (at least 1s)"},
	{"log_requests", T_BOOL, S(srv.log_requests), "true", "one JSON log line per request"},
	{"session_cache", T_UINT, S(auth.session_cache), "8192",
	 "sessions kept in memory between revocations (0: read the store every time)"},
	{"signing_alg", T_STR, S(signing_alg), "ES256",
	 "access-token algorithm: ES256, EdDSA, RS256, PS256 or HS256 (never published)"},
	{"audience", T_STR, S(auth.tok.audience), "", "aud of access tokens (default: the issuer)"},
	{"user_scopes", T_STR, S(auth.tok.user_scopes), "",
	 "scopes a password grant without a client may request (space-separated)"},
	{"token_leeway", T_DUR, S(auth.tok.leeway), "60s", "clock leeway when checking our own tokens"},
	{"resource_servers", T_STR, S(auth.tok.resource_servers), "",
	 "comma-separated client ids or names that may introspect every client's tokens (RFC 7662 §4)"},
	{"trusted_proxies", T_STR, S(srv.trusted_proxies), "",
	 "comma-separated proxy addresses whose X-Forwarded-For names the client"},
	{"access_ttl", T_DUR, S(auth.tok.access_ttl), "15m", "lifetime of /oauth2/token access tokens"},
	{"hybrid_ttl", T_DUR, S(auth.tok.hybrid_ttl), "5m", "lifetime of /token access tokens"},
	{"refresh_ttl", T_DUR, S(auth.tok.refresh_ttl), "7d", "lifetime of refresh tokens"},
	{"refresh_grace", T_DUR, S(auth.tok.refresh_grace), "10s",
	 "window in which a used refresh token returns the same successor"},
	{"jwks_max_age", T_DUR, S(auth.tok.jwks_max_age), "5m",
	 "Cache-Control max-age of the JWKS; new keys are published this long before use"},
	{"key_rotation", T_DUR, S(auth.tok.key_rotation), "30d", "rotate the signing key this often (0: never)"},
	{"master_key_file", T_STR, S(master_key_file), "",
	 "file with a base64url 32-byte key that encrypts private keys at rest "
	 "(or env LATCHKEY_MASTER_KEY)"},
	{"purge_interval", T_DUR, S(srv.purge_interval), "60s", "sweep expired sessions this often"},
};
#define NSET (sizeof settings / sizeof settings[0])

static int set_value(struct lk_config *cfg, const struct setting *s, const char *v,
		     const char *src)
{
	char *base = (char *)cfg + s->off, *end;
	long long n = 0;

	switch (s->type) {
	case T_STR:
		if (strlen(v) >= s->size)
			goto bad;
		strcpy(base, v);
		if (strcmp(s->name, "issuer") == 0)
			cfg->issuer_set = *v != 0;
		return 0;
	case T_BOOL: {
		bool b;
		if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
			b = true;
		else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
			 !strcasecmp(v, "off"))
			b = false;
		else
			goto bad;
		*(bool *)base = b;
		return 0;
	}
	case T_UINT:
	case T_SIZE:
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno || *end || !*v || n < 0 || n > 0x7fffffff)
			goto bad;
		break;
	case T_DUR:
		if ((n = lk_cli_duration(v)) < 0)
			goto bad;
		break;
	}
	if (s->size == sizeof(int64_t))
		*(int64_t *)base = n;
	else if (s->size == sizeof(unsigned))
		*(unsigned *)base = (unsigned)n;
	else if (s->size == sizeof(unsigned long long))
		*(unsigned long long *)base = (unsigned long long)n;
	else
		return -1;
	return 0;
bad:
	fprintf(stderr, "latchkey: %s: invalid value for %s\n", src, s->name);
	return -1;
}

static const struct setting *find(const char *name, size_t len)
{
	for (size_t i = 0; i < NSET; i++)
		if (strlen(settings[i].name) == len && strncmp(settings[i].name, name, len) == 0)
			return &settings[i];
	return NULL;
}

struct ini_ctx {
	struct lk_config *cfg;
	const char *path;
	int bad;
};

static int on_ini(void *ud, const char *section, const char *name, const char *value)
{
	struct ini_ctx *c = ud;
	const struct setting *s = find(name, strlen(name));
	char src[300];
	if (section[0] && strcmp(section, "latchkey") != 0) {
		fprintf(stderr, "latchkey: %s: unknown section [%s]\n", c->path, section);
		c->bad = 1;
		return 0;
	}
	if (!s) {
		fprintf(stderr, "latchkey: %s: unknown setting \"%s\"\n", c->path, name);
		c->bad = 1;
		return 0;
	}
	snprintf(src, sizeof src, "%s", c->path);
	if (set_value(c->cfg, s, value, src))
		c->bad = 1;
	return 1;
}

void lk_config_help(void)
{
	printf("settings (flag --name, env LATCHKEY_NAME, config file `name = value`):\n");
	for (size_t i = 0; i < NSET; i++) {
		char flag[40];
		snprintf(flag, sizeof flag, "--%s", settings[i].name);
		for (char *p = flag; *p; p++)
			if (*p == '_')
				*p = '-';
		printf("  %-22s %s (default %s)\n", flag, settings[i].help,
		       settings[i].def[0] ? settings[i].def : "derived");
	}
}

/* The master key: LATCHKEY_MASTER_KEY or master_key_file, base64url of 32 bytes. Never a
 * flag value, so it does not show in `ps`. */
static int load_master(struct lk_config *cfg)
{
	char buf[128] = "", err[256];
	const char *env = getenv("LATCHKEY_MASTER_KEY");
	size_t n = 0;
	if (env) {
		snprintf(buf, sizeof buf, "%s", env);
	} else if (cfg->master_key_file[0]) {
		char *doc = NULL;
		size_t len;
		if (lk_cli_read(cfg->master_key_file, 100, NULL, &doc, &len, err) != 0) {
			fprintf(stderr, "latchkey: master_key_file: %s\n", err);
			free(doc);
			return -1;
		}
		snprintf(buf, sizeof buf, "%s", doc);
		memset(doc, 0, len);
		free(doc);
	} else {
		return 0;
	}
	n = strlen(buf);
	lk_cli_rtrim(buf, &n);
	unsigned char raw[40];
	size_t got = 0;
	if (sodium_base642bin(raw, sizeof raw, buf, n, NULL, &got, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || got != 32) {
		fprintf(stderr, "latchkey: the master key must be base64url of 32 bytes "
				"(make one: head -c32 /dev/urandom | basenc --base64url | tr -d =)\n");
		sodium_memzero(buf, sizeof buf);
		return -1;
	}
	memcpy(cfg->auth.tok.master, raw, 32);
	cfg->auth.tok.has_master = true;
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(buf, sizeof buf);
	return 0;
}

/* The CPUs this process may run on, as nproc(1) counts them: a taskset or a container's
 * cpuset narrows the affinity mask, and threads beyond it only take turns on the same
 * CPUs (a server pinned to one CPU with a worker per machine CPU ran two Argon2 hashes
 * beside its one request thread). */
static unsigned ncpu(void)
{
	cpu_set_t set;
	long n = 0;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 && n < 256 ? (unsigned)n : 1;
}

static int set_defaults(struct lk_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	for (size_t k = 0; k < NSET; k++)
		if (set_value(cfg, &settings[k], settings[k].def, "default"))
			return LK_EXIT_USAGE;
	return 0;
}

/* The outcome of ini_parse or ini_parse_string on src: 0, or LK_EXIT_USAGE after a
 * message (on_ini printed those of bad settings). */
static int ini_done(const char *src, int r, const struct ini_ctx *c)
{
	if (r > 0 || c->bad) {
		if (r > 0)
			fprintf(stderr, "latchkey: %s: syntax error on line %d\n", src, r);
		return LK_EXIT_USAGE;
	}
	return 0;
}

int lk_config_parse_string(struct lk_config *cfg, const char *text)
{
	struct ini_ctx c = {cfg, "config text", 0};
	int r;

	if (set_defaults(cfg))
		return LK_EXIT_USAGE;
	r = ini_parse_string(text, on_ini, &c);
	if (r < 0) {
		fprintf(stderr, "latchkey: config text: out of memory\n");
		return LK_EXIT_USAGE;
	}
	return ini_done(c.path, r, &c);
}

int lk_config_load(struct lk_config *cfg, int argc, char **argv, int *argi, bool only_store)
{
	const char *file = getenv("LATCHKEY_CONFIG");
	int i;

	if (set_defaults(cfg))
		return LK_EXIT_USAGE;
	/* --config first, wherever it is, since the file sits under env and flags. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			file = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			file = argv[i] + 9;
	}
	if (file) {
		struct ini_ctx c = {cfg, file, 0};
		int r = ini_parse(file, on_ini, &c);
		if (r < 0) {
			fprintf(stderr, "latchkey: --config: cannot read %s\n", file);
			return LK_EXIT_USAGE;
		}
		if (ini_done(file, r, &c))
			return LK_EXIT_USAGE;
	}
	for (size_t k = 0; k < NSET; k++) {
		char env[64];
		snprintf(env, sizeof env, "LATCHKEY_%s", settings[k].name);
		for (char *p = env; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		const char *v = getenv(env);
		if (v && set_value(cfg, &settings[k], v, env))
			return LK_EXIT_USAGE;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL, *eq;
		char name[64];
		if (strncmp(a, "--", 2) != 0)
			break;
		a += 2;
		eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		if (len >= sizeof name)
			break;
		memcpy(name, a, len);
		name[len] = '\0';
		for (char *p = name; *p; p++)
			if (*p == '-')
				*p = '_';
		if (strcmp(name, "config") == 0) {
			if (!eq)
				i++;
			continue;
		}
		const struct setting *s = find(name, len);
		if (!s || (only_store && strcmp(name, "store") != 0))
			break;
		if (s->type == T_BOOL && !eq) {
			static const char *words[] = {"true", "false", "yes", "no", "on", "off", "1", "0"};
			v = "true";
			for (size_t w = 0; i + 1 < argc && w < 8; w++)
				if (strcasecmp(argv[i + 1], words[w]) == 0) {
					v = argv[++i];
					break;
				}
		} else if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			fprintf(stderr, "latchkey: --%s needs a value\n", a);
			return LK_EXIT_USAGE;
		}
		char src[80];
		snprintf(src, sizeof src, "--%.60s", a);
		if (set_value(cfg, s, v, src))
			return LK_EXIT_USAGE;
	}
	*argi = i;

	/* Derived values and cross-checks. */
	if (!cfg->issuer_set)
		snprintf(cfg->srv.issuer, sizeof cfg->srv.issuer, "http://%s", cfg->srv.listen);
	size_t il = strlen(cfg->srv.issuer);
	if (il && cfg->srv.issuer[il - 1] == '/')
		cfg->srv.issuer[il - 1] = '\0';
	if (strncmp(cfg->srv.issuer, "http://", 7) != 0 && strncmp(cfg->srv.issuer, "https://", 8) != 0) {
		fprintf(stderr, "latchkey: issuer must be an http(s) URL\n");
		return LK_EXIT_USAGE;
	}
	if (strcasecmp(cfg->samesite, "lax") == 0)
		cfg->srv.samesite_strict = false;
	else if (strcasecmp(cfg->samesite, "strict") == 0)
		cfg->srv.samesite_strict = true;
	else {
		fprintf(stderr, "latchkey: samesite must be lax or strict\n");
		return LK_EXIT_USAGE;
	}
	if (cfg->auth.idle <= 0 || cfg->auth.absolute <= 0) {
		fprintf(stderr, "latchkey: timeouts must be positive\n");
		return LK_EXIT_USAGE;
	}
	cfg->auth.touch = cfg->touch_cfg ? cfg->touch_cfg
					 : (cfg->auth.idle / 4 < 60 ? cfg->auth.idle / 4 : 60);
	if (cfg->auth.touch < 1)
		cfg->auth.touch = 1;
	cfg->auth.cost.mem = (size_t)cfg->argon2_mem_kib * 1024;
	snprintf(cfg->auth.tok.issuer, sizeof cfg->auth.tok.issuer, "%s", cfg->srv.issuer);
	if (!cfg->auth.tok.audience[0])
		snprintf(cfg->auth.tok.audience, sizeof cfg->auth.tok.audience, "%s", cfg->srv.issuer);
	cfg->auth.tok.sign_alg = lk_alg_from_name(cfg->signing_alg, strlen(cfg->signing_alg));
	if (!(cfg->auth.tok.sign_alg & (LK_ALG_ES256 | LK_ALG_EDDSA | LK_ALG_RS256 | LK_ALG_PS256 |
				    LK_ALG_HS256))) {
		fprintf(stderr, "latchkey: signing_alg must be ES256, EdDSA, RS256, PS256 or HS256\n");
		return LK_EXIT_USAGE;
	}
	if (cfg->auth.tok.access_ttl <= 0 || cfg->auth.tok.hybrid_ttl <= 0 || cfg->auth.tok.refresh_ttl <= 0) {
		fprintf(stderr, "latchkey: token lifetimes must be positive\n");
		return LK_EXIT_USAGE;
	}
	if (load_master(cfg))
		return LK_EXIT_USAGE;
	/* One HTTP thread per CPU but one: the CPU left over runs Argon2 and the rest of the
	 * machine, and fewer threads than CPUs keep GET /me's p99 low when they are busy
	 * (docs/reliability.md: on 2 CPUs beside wrk, p99 1.5 ms with one thread, 4.5 with two). */
	if (!cfg->srv.threads)
		cfg->srv.threads = ncpu() > 1 ? ncpu() - 1 : 1;
	if (!cfg->auth.signin_workers)
		cfg->auth.signin_workers = ncpu();
	if (!cfg->auth.signin_queue)
		cfg->auth.signin_queue = 1;
	if (cfg->srv.max_header < 4096)
		cfg->srv.max_header = 4096;
	if (!cfg->srv.conn_timeout)
		cfg->srv.conn_timeout = 15;
	if (!cfg->srv.purge_interval)
		cfg->srv.purge_interval = 60;
	if (cfg->srv.revocation_ping < 1) {
		fprintf(stderr, "latchkey: revocation_ping must be at least 1s\n");
		return LK_EXIT_USAGE;
	}
	return 0;
}
