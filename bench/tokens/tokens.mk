# bench/tokens/tokens.mk: `make bench-tokens`, to be included by the Makefile
# (`-include bench/tokens/tokens.mk`). Runs bench/tokens/run.sh: wrk -t1 -c32 on
# latchkey's GET /auth/verify with ES256, EdDSA and HS256 Bearer tokens (one repeated
# token, and 20000 distinct ones), a session cookie and GET /healthz, beside the seed's
# Express + jsonwebtoken app (bench/peers/jwt-app.js, HS256 and ES256); `openssl speed`
# for the one-core verify limit; a revocation check. Writes bench/tokens/RESULTS.md.
# Needs wrk, node/npm, curl, openssl (perf optional). BENCH_TOKENS_ARGS passes
# environment to run.sh, e.g. BENCH_TOKENS_ARGS="DURATION=2 RESULTS_FILE=".

.PHONY: bench-tokens
bench-tokens: $(B)/latchkey
	env LATCHKEY_BIN=$(abspath $(B)/latchkey) $(BENCH_TOKENS_ARGS) bash bench/tokens/run.sh
