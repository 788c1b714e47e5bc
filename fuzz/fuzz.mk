# fuzz/fuzz.mk: libFuzzer targets, included by the top Makefile (`-include fuzz/fuzz.mk`).
#   make fuzz          builds build-fuzz/fuzz_<t> for every target below
#   make fuzz-clean    removes build-fuzz/
#   bash fuzz/replay.sh   replays fuzz/corpus/<t>/ through each target (TAP); see fuzz/README.md
# The library sources ($(LIB_SRC), from the top Makefile) are compiled once with clang and the
# fuzzer/ASan/UBSan instrumentation into build-fuzz/obj/, not taken from the gcc-built archive.

FUZZ_CC      ?= clang
FUZZ_B       := build-fuzz
FUZZ_TARGETS := b64url jwk jwks jws
FUZZ_SAN     := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -g -O1 $(FUZZ_SAN) -std=c11 -D_GNU_SOURCE -Iinclude -Isrc \
                $(shell pkg-config --cflags openssl libsodium jansson 2>/dev/null)
FUZZ_LDLIBS  := $(shell pkg-config --libs openssl libsodium jansson libcurl 2>/dev/null) -lpthread

FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_B)/obj/%.o)
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)

.PHONY: fuzz fuzz-clean fuzz-replay
fuzz: $(FUZZ_BIN)

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_B)/fuzz_%: $(FUZZ_B)/obj/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ $(FUZZ_LDLIBS)

# keep the target objects after a build (they are intermediate to make)
.SECONDARY: $(FUZZ_TARGETS:%=$(FUZZ_B)/obj/fuzz/fuzz_%.o) $(FUZZ_LIB_OBJ)

fuzz-replay:
	@bash fuzz/replay.sh

fuzz-clean:
	rm -rf $(FUZZ_B)

-include $(shell find $(FUZZ_B)/obj -name '*.d' 2>/dev/null)
