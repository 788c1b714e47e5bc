# bench/http/http.mk: `make bench-http` (issue 3), to be included by the Makefile
# (`-include bench/http/http.mk`). Runs bench/http/run.sh: wrk -t1 -c32 on GET /me
# for the seed's Express + express-session + connect-redis app, an nginx
# `return 200` constant, and $(B)/latchkey when it has a `serve` command.
# Needs Debian's wrk, redis-server, nginx-light, nodejs/npm and curl; the peers'
# npm packages are installed from bench/peers/package-lock.json on first use.
# BENCH_HTTP_ARGS passes environment to run.sh, e.g. BENCH_HTTP_ARGS="DURATION=5".

.PHONY: bench-http
bench-http: $(B)/latchkey
	env LATCHKEY_BIN=$(abspath $(B)/latchkey) $(BENCH_HTTP_ARGS) bash bench/http/run.sh
