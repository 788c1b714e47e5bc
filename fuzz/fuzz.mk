# fuzz/fuzz.mk: libFuzzer targets, included by the top Makefile (`-include fuzz/fuzz.mk`).
#   make fuzz              builds build-fuzz/fuzz_<t> for every target below
#   make fuzz SECONDS=N    builds them, then replays the corpora and fuzzes each target N s
#                          (FUZZ_SECONDS=N bash fuzz/replay.sh)
#   make fuzz-clean        removes build-fuzz/
#   bash fuzz/replay.sh    replays fuzz/corpus/<t>/ through each target (TAP); see fuzz/README.md
# The library sources ($(LIB_SRC), from the top Makefile) are compiled once with clang and the
# fuzzer/ASan/UBSan instrumentation into build-fuzz/obj/, not taken from the gcc-built archive;
# so are the few server sources a target needs (FUZZ_SRC_<t>), with its libraries
# (FUZZ_PKGS_<t>, pkg-config names).

FUZZ_CC      ?= clang
FUZZ_B       := build-fuzz
FUZZ_TARGETS := b64url jwk jwks jws form json_param authz xff framing sse config ua cookie redirect
FUZZ_SAN     := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -g -O1 $(FUZZ_SAN) -std=c11 -D_GNU_SOURCE -Iinclude -Isrc \
                $(shell pkg-config --cflags openssl libsodium jansson libmicrohttpd inih 2>/dev/null)
FUZZ_LDLIBS  := $(shell pkg-config --libs openssl libsodium jansson libcurl 2>/dev/null) -lpthread

# Server sources and libraries per target (src/verify/sse.c is in $(LIB_SRC) already).
FUZZ_SRC_form       := src/http/parse.c
FUZZ_SRC_json_param := src/http/parse.c
FUZZ_SRC_authz      := src/http/parse.c
FUZZ_SRC_xff        := src/http/parse.c
FUZZ_SRC_framing    := src/http/parse.c
FUZZ_SRC_config     := src/cli/config.c src/cli/io.c
FUZZ_PKGS_config    := inih
FUZZ_SRC_ua         := src/http/ua.c
FUZZ_SRC_cookie     := src/auth/session.c src/auth/scache.c
FUZZ_SRC_redirect   := src/store/redis_slots.c

FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_B)/obj/%.o)
FUZZ_SRV_OBJ := $(sort $(foreach t,$(FUZZ_TARGETS),$(FUZZ_SRC_$(t):%.c=$(FUZZ_B)/obj/%.o)))
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)

.PHONY: fuzz fuzz-clean fuzz-replay
fuzz: $(FUZZ_BIN)
ifneq ($(strip $(SECONDS)),)
	@FUZZ_SECONDS=$(SECONDS) bash fuzz/replay.sh
endif

# store/store.h is private to src/auth (PRIVATE_STORE, top Makefile); fuzz_cookie.c
# includes auth/auth_int.h for lk_session_hash.
FUZZ_PRIVATE_STORE = $(if $(filter src/auth/% fuzz/fuzz_cookie.c,$<),-DLK_STORE_PRIVATE)

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_PRIVATE_STORE) -MMD -MP -c $< -o $@

define FUZZ_LINK
$(FUZZ_B)/fuzz_$(1): $(FUZZ_B)/obj/fuzz/fuzz_$(1).o $(FUZZ_SRC_$(1):%.c=$(FUZZ_B)/obj/%.o) $(FUZZ_LIB_OBJ)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -o $$@ $$^ \
	  $(if $(FUZZ_PKGS_$(1)),$$(shell pkg-config --libs $(FUZZ_PKGS_$(1)) 2>/dev/null)) $$(FUZZ_LDLIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_LINK,$(t))))

# keep the target objects after a build (they are intermediate to make)
.SECONDARY: $(FUZZ_TARGETS:%=$(FUZZ_B)/obj/fuzz/fuzz_%.o) $(FUZZ_LIB_OBJ) $(FUZZ_SRV_OBJ)

fuzz-replay:
	@bash fuzz/replay.sh

fuzz-clean:
	rm -rf $(FUZZ_B)

-include $(shell find $(FUZZ_B)/obj -name '*.d' 2>/dev/null)
