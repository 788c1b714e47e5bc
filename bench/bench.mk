# bench/bench.mk: `make bench` (issue 2), included by the Makefile.
# Builds $(B)/bench/jwt against $(B)/liblatchkey.a (built -O2 by `make`) and the Debian
# peers, then runs bench/measure.sh: wall time, instructions and heap allocations per
# verification, printed as a markdown table (also kept in $(B)/bench/results.md).
# json-c and cJSON rows appear when libjson-c-dev / libcjson-dev are installed.

BENCH_PKGS := libcrypto libsodium jansson libjwt cjose jose
BENCH_DEFS :=
ifeq ($(shell pkg-config --exists json-c 2>/dev/null && echo y),y)
  BENCH_PKGS += json-c
  BENCH_DEFS += -DBENCH_HAVE_JSONC
endif
ifeq ($(shell pkg-config --exists libcjson 2>/dev/null && echo y),y)
  BENCH_PKGS += libcjson
  BENCH_DEFS += -DBENCH_HAVE_CJSON
endif
ifneq ($(wildcard src/jose/json.h),)
  BENCH_DEFS += -DBENCH_LK_JSON
endif
# No -Isrc: src/jose/ would shadow <jose/...> of libjose.
BENCH_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -Iinclude -Ibench \
                $(shell pkg-config --cflags $(BENCH_PKGS) 2>/dev/null)
BENCH_LIBS   := $(shell pkg-config --libs $(BENCH_PKGS) 2>/dev/null)

$(B)/bench/jwt: bench/jwt.c bench/jsonc.c bench/bench.h $(B)/liblatchkey.a
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $(BENCH_DEFS) $(LDFLAGS) -o $@ bench/jwt.c bench/jsonc.c \
	  $(B)/liblatchkey.a $(BENCH_LIBS) $(LDLIBS)

bench: $(B)/bench/jwt
	@bash bench/measure.sh $(B)/bench/jwt

# Issue 13 (a): revocation propagation to a verifier in another process (bench/revocation).
$(B)/bench/propagation: bench/revocation/propagation.c $(B)/liblatchkey.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/liblatchkey.a $(LDFLAGS) $(LIBLIBS)

.PHONY: bench-revocation
bench-revocation: $(B)/latchkey $(B)/bench/propagation
	env LATCHKEY_BIN=$(abspath $(B)/latchkey) PROP_BIN=$(abspath $(B)/bench/propagation) \
	  bash bench/revocation/run.sh
# `make bench-verify` (issue 13): build/bench/verify against build/liblatchkey.a; prints
# the markdown tables of docs/performance.md "liblatchkey verifier". Needs only the
# library's own packages (OpenSSL, libsodium). Includes src/ internals (denylist lookups),
# hence -Isrc; it does not include libjose. BENCH_VERIFY_ARGS is passed to the throughput
# run (e.g. "--secs 0.5 --rounds 3 --algs ES256").
$(B)/bench/verify: bench/verify.c $(B)/liblatchkey.a
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -Iinclude -Isrc -o $@ bench/verify.c \
	  $(B)/liblatchkey.a $(LIBLIBS)

.PHONY: bench-verify
bench-verify: $(B)/bench/verify
	$(B)/bench/verify $(BENCH_VERIFY_ARGS)
	$(B)/bench/verify --mem

# For the contention analysis only: the same bench linked with a copy of
# src/verify/verifier.c whose two shared relaxed counters (cache_hits, cache_misses) are
# deleted by sed (src/ is not modified; the stats then read 0 hits / 0 misses).
$(B)/bench/variant/verifier_nostats.c: src/verify/verifier.c
	@mkdir -p $(dir $@)
	sed '/atomic_fetch_add_explicit(&v->cache_\(hits\|misses\), 1,/d' $< >$@
	@test $$(diff $< $@ | grep -c '^<') = 2 || { echo "verifier_nostats.c: expected 2 lines removed" >&2; exit 1; }
$(B)/bench/verify-nostats: bench/verify.c $(B)/bench/variant/verifier_nostats.c $(B)/liblatchkey.a
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -Iinclude -Isrc -o $@ bench/verify.c \
	  $(B)/bench/variant/verifier_nostats.c $(B)/liblatchkey.a $(LIBLIBS)

.PHONY: bench-verify-contention
bench-verify-contention: $(B)/bench/verify $(B)/bench/verify-nostats
	$(B)/bench/verify --algs ES256 --kinds hot,hotown $(BENCH_VERIFY_ARGS)
	$(B)/bench/verify-nostats --algs ES256 --kinds hot,hotown $(BENCH_VERIFY_ARGS)
