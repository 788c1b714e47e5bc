/* SPDX-License-Identifier: MIT */
/*
 * Configuration of the server and the store-touching commands. One table of settings
 * drives all three sources, so every setting exists in each: a config file (INI, keys
 * like `idle_timeout = 30m`, with or without a [latchkey] section), environment variables
 * (LATCHKEY_IDLE_TIMEOUT) and flags (--idle-timeout). Later sources win: defaults, then
 * the file (--config or LATCHKEY_CONFIG), then the environment, then flags.
 */
#ifndef LK_CLI_CONFIG_H
#define LK_CLI_CONFIG_H

#include "http/server.h"

struct lk_config {
	char store[512];
	char samesite[16];
	bool issuer_set;
	struct lk_srvcfg srv;
	struct lk_authcfg auth;
	unsigned argon2_mem_kib;
	char signing_alg[16];
	char master_key_file[512];
	int64_t touch_cfg;    /* 0: derived from idle */
};

/*
 * Fill cfg from defaults, file, environment and argv. Flags that are not settings are left
 * for the caller: parsing stops at the first argument that is not a known --flag, and
 * *argi receives its index. Returns 0, or 2 (usage) after printing a message.
 * only_store: accept just --store and --config (for user/sessions/audit commands) but
 * still read the argon2 settings from file and environment.
 */
int lk_config_load(struct lk_config *cfg, int argc, char **argv, int *argi, bool only_store);
/*
 * Fill cfg from the defaults and the INI text (a string, NUL-terminated), with the same
 * rules as a config file, and nothing else: no file, no environment, no flags, no derived
 * values. Returns 0, or 2 (usage) after printing a message. For tests and the fuzzer.
 */
int lk_config_parse_string(struct lk_config *cfg, const char *text);
/* Print the settings table as help text. */
void lk_config_help(void);

#endif
