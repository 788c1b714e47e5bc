# bench/soak/soak.mk: `make soak` (not in CI): latchkey serve under sustained mixed load
# for SOAK_MINUTES (default 10), memory, fds and 5xx sampled; see bench/soak/run.sh.
SOAK_MINUTES ?= 10
.PHONY: soak
soak: $(B)/latchkey
	env LATCHKEY_BIN=$(abspath $(B)/latchkey) SOAK_MINUTES=$(SOAK_MINUTES) $(SOAK_ARGS) bash bench/soak/run.sh
