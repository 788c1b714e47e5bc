# latchkey: one plain Makefile. `make run` and `make test` are the two commands.
# Variants: `make SAN=1` builds into build-asan/ with ASan+UBSan.

CC      ?= cc
PKGS    := openssl libsodium jansson libcurl
SRV_PKGS := libmicrohttpd sqlite3 inih hiredis
SAN     ?= 0
ifeq ($(SAN),1)
  B       := build-asan
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  OPT     := -O1 -g
else
  B       := build
  SANFLAGS :=
  OPT     := -O2 -g
endif

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wvla -Wno-unused-parameter -Werror=implicit-function-declaration
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) -fvisibility=hidden \
           -Iinclude -Isrc $(shell pkg-config --cflags $(PKGS) $(SRV_PKGS) 2>/dev/null)
# Until src/verify/verifier.c (lk_verifier_*) is in the tree, `jwt verify --issuer` is
# compiled out and says so; remove this when it lands.
ifneq ($(wildcard src/verify/verifier.c),)
  CFLAGS += -DLK_HAVE_VERIFIER
endif
LIBLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
LDLIBS  += $(shell pkg-config --libs $(PKGS) $(SRV_PKGS) 2>/dev/null) -lpthread
LDFLAGS += $(SANFLAGS)

# liblatchkey (util + jose) links only OpenSSL, libsodium, jansson (and libcurl later for the
# verifier); the server parts (store, auth, http) are a second archive for the binary.
LIB_SRC := $(wildcard src/util/*.c) $(wildcard src/jose/*.c) $(wildcard src/verify/*.c)
SRV_SRC := $(wildcard src/store/*.c) $(wildcard src/auth/*.c) $(wildcard src/http/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
SRV_OBJ := $(SRV_SRC:%.c=$(B)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)

.PHONY: all deps run test check unit clean bench fuzz sanitize
all: $(B)/latchkey $(B)/liblatchkey.a $(B)/libserver.a

deps:
	@bash scripts/deps.sh $(DEPS)

# store/store.h is private to src/auth and src/store (and the unit tests of both).
PRIVATE_STORE = $(if $(filter src/auth/% src/store/% tests/unit/%,$<),-DLK_STORE_PRIVATE)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) $(PRIVATE_STORE) -MMD -MP -c $< -o $@

# jwt_cmd.o is rebuilt when verifier.c appears (LK_HAVE_VERIFIER changes with it).
$(B)/src/cli/jwt_cmd.o: $(wildcard src/verify/verifier.c)

$(B)/liblatchkey.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libserver.a: $(SRV_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/latchkey: $(CLI_OBJ) $(B)/libserver.a $(B)/liblatchkey.a
	@echo "  LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests: one cmocka program per tests/unit/test_*.c, linked with the static library.
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
$(B)/tests/%: tests/unit/%.c $(B)/libserver.a $(B)/liblatchkey.a
	@mkdir -p $(dir $@)
	@echo "  CCLD $@"
	@$(CC) $(CFLAGS) -DLK_STORE_PRIVATE $(shell pkg-config --cflags cmocka) -o $@ $< $(B)/libserver.a \
	  $(B)/liblatchkey.a $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs cmocka)
# The store drivers include the contract suite.
$(B)/tests/test_store_sqlite $(B)/tests/test_store_redis: tests/unit/store_contract.h tests/unit/testutil.h
unit: $(UNIT_BIN)

-include fuzz/fuzz.mk
-include bench/bench.mk
-include bench/http/http.mk
-include bench/tokens/tokens.mk

# Start the server on the embedded store (sqlite:latchkey.db, http://127.0.0.1:8080).
# The first start prints the admin password once. RUN_ARGS adds flags.
run: deps
	@DEPS=build $(MAKE) --no-print-directory all
	exec $(B)/latchkey serve $(RUN_ARGS)

# The layering rules (src/auth is the only door to the store; the library stays small)
# and the error table: scripts/check.sh.
check:
	@bash scripts/check.sh

# Everything: the normal build, then the same suites under ASan+UBSan.
test: deps check
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory SAN=1 all unit
	@bash tests/run.sh

clean:
	rm -rf build build-asan

-include $(shell find build build-asan -name '*.d' 2>/dev/null)
