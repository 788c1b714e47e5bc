# latchkey: one plain Makefile. `make run` and `make test` are the two commands.
# Variants: `make SAN=1` builds into build-asan/ with ASan+UBSan; `make tsan` builds the
# verifier race test into build-tsan/ with ThreadSanitizer (TSAN=1).

CC      ?= cc
PKGS    := openssl libsodium jansson libcurl
SRV_PKGS := libmicrohttpd sqlite3 inih hiredis
SAN     ?= 0
TSAN    ?= 0
ifeq ($(TSAN),1)
  B       := build-tsan
  SANFLAGS := -fsanitize=thread
  OPT     := -O1 -g
else ifeq ($(SAN),1)
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
LIBLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
LDLIBS  += $(shell pkg-config --libs $(PKGS) $(SRV_PKGS) 2>/dev/null) -lpthread
LDFLAGS += $(SANFLAGS)

# liblatchkey (util + jose + verify) links only OpenSSL, libsodium, jansson and libcurl;
# the server parts (store, auth, http) are a second archive for the binary.
LIB_SRC := $(wildcard src/util/*.c) $(wildcard src/jose/*.c) $(wildcard src/verify/*.c)
SRV_SRC := $(wildcard src/store/*.c) $(wildcard src/auth/*.c) $(wildcard src/http/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
SRV_OBJ := $(SRV_SRC:%.c=$(B)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)

# The shared library. One source of truth for the version: LK_VERSION in latchkey.h.
# The soname carries the major number (0 while the API is 0.x).
VERSION  := $(shell sed -n 's/^\#define LK_VERSION "\([0-9.]*\)"$$/\1/p' include/latchkey.h)
SOMAJOR  := $(firstword $(subst ., ,$(VERSION)))
SONAME   := liblatchkey.so.$(SOMAJOR)
SOFILE   := liblatchkey.so.$(VERSION)
# Its objects are built -fPIC into $(B)/pic/; the archive and the binary keep the non-PIC
# objects (the benchmarks measure those). -fno-semantic-interposition lets calls inside
# the library bind locally, as they do in the archive. Only lk_* is exported: the sources
# mark the API with LK_API under -fvisibility=hidden, and src/liblatchkey.map hides
# anything else that would be global.
PIC_OBJ  := $(LIB_SRC:%.c=$(B)/pic/%.o)
SOFLAGS  := -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/liblatchkey.map \
            -Wl,--no-undefined -Wl,-z,defs -Wl,-z,relro -Wl,-z,now -Wl,--as-needed

# make install [PREFIX=/usr/local] [DESTDIR=]
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL    ?= install

.PHONY: all deps run test check unit clean bench fuzz sanitize install uninstall tsan FORCE
# The ASan build (SAN=1) builds the shared library too, instrumented (gcc links the
# sanitizer runtimes into it as DT_NEEDED, so -z defs holds); nothing loads it but the
# link is checked. `make install` installs the normal build/ only.
all: $(B)/latchkey $(B)/liblatchkey.a $(B)/libserver.a $(B)/$(SOFILE) $(B)/latchkey.pc

deps:
	@bash scripts/deps.sh $(DEPS)

# store/store.h is private to src/auth and src/store (and the unit tests of both).
PRIVATE_STORE = $(if $(filter src/auth/% src/store/% tests/unit/%,$<),-DLK_STORE_PRIVATE)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) $(PRIVATE_STORE) -MMD -MP -c $< -o $@

$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC -fPIC $<"
	@$(CC) $(CFLAGS) -fPIC -fno-semantic-interposition -MMD -MP -c $< -o $@

$(B)/liblatchkey.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/$(SOFILE): $(PIC_OBJ) src/liblatchkey.map
	@echo "  LD $@"
	@$(CC) $(LDFLAGS) $(SOFLAGS) -o $@ $(PIC_OBJ) $(LIBLIBS)
	@ln -sf $(SOFILE) $(B)/$(SONAME)
	@ln -sf $(SONAME) $(B)/liblatchkey.so

# latchkey.pc for the install prefix; rewritten only when its text changes.
pcdir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
$(B)/latchkey.pc: latchkey.pc.in FORCE
	@mkdir -p $(dir $@)
	@sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(call pcdir,$(LIBDIR))|g' \
	  -e 's|@INCLUDEDIR@|$(call pcdir,$(INCLUDEDIR))|g' -e 's|@VERSION@|$(VERSION)|g' \
	  latchkey.pc.in >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; echo "  GEN $@"; fi
FORCE:

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
$(B)/tests/test_redis_slots $(B)/tests/test_redis_sentinel: tests/unit/replies.h
# lkcheck: an independent verifier process for the revocation tests, on the public API.
$(B)/tests/lkcheck: tests/verify/lkcheck.c $(B)/liblatchkey.a
	@mkdir -p $(dir $@)
	@echo "  CCLD $@"
	@$(CC) $(CFLAGS) -o $@ $< $(B)/liblatchkey.a $(LDFLAGS) $(LIBLIBS)
unit: $(UNIT_BIN) $(B)/tests/lkcheck

# ThreadSanitizer: the library and tests/verify/race.c into build-tsan/ (TSAN=1). The
# race test runs in `make test` (tests/run.sh, suite build-tsan/race).
tsan:
	@$(MAKE) --no-print-directory TSAN=1 build-tsan/tests/race
$(B)/tests/race: tests/verify/race.c $(B)/liblatchkey.a
	@mkdir -p $(dir $@)
	@echo "  CCLD $@"
	@$(CC) $(CFLAGS) -o $@ $< $(B)/liblatchkey.a $(LDFLAGS) $(LIBLIBS)

# Binary 0755; archive, shared library (Debian policy 8.1: not executable), header and
# pkg-config file 0644. No ldconfig here (DESTDIR-safe): run it after a system install.
install: $(B)/latchkey $(B)/liblatchkey.a $(B)/$(SOFILE) $(B)/latchkey.pc
	$(INSTALL) -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 0755 $(B)/latchkey $(DESTDIR)$(BINDIR)/latchkey
	$(INSTALL) -m 0644 $(B)/liblatchkey.a $(DESTDIR)$(LIBDIR)/liblatchkey.a
	$(INSTALL) -m 0644 $(B)/$(SOFILE) $(DESTDIR)$(LIBDIR)/$(SOFILE)
	ln -sf $(SOFILE) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/liblatchkey.so
	$(INSTALL) -m 0644 include/latchkey.h $(DESTDIR)$(INCLUDEDIR)/latchkey.h
	$(INSTALL) -m 0644 $(B)/latchkey.pc $(DESTDIR)$(PKGCONFIGDIR)/latchkey.pc

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/latchkey $(DESTDIR)$(LIBDIR)/liblatchkey.a \
	  $(DESTDIR)$(LIBDIR)/$(SOFILE) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	  $(DESTDIR)$(LIBDIR)/liblatchkey.so $(DESTDIR)$(INCLUDEDIR)/latchkey.h \
	  $(DESTDIR)$(PKGCONFIGDIR)/latchkey.pc

-include fuzz/fuzz.mk
-include bench/bench.mk
-include bench/http/http.mk
-include bench/tokens/tokens.mk
-include bench/soak/soak.mk

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
	@$(MAKE) --no-print-directory tsan || echo "tsan: build failed; the build-tsan/race suite fails"
	@bash tests/run.sh

clean:
	rm -rf build build-asan build-tsan

-include $(shell find $(sort build build-asan build-tsan $(B)) -name '*.d' 2>/dev/null)
