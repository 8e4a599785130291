# fuzz/fuzz.mk: libFuzzer targets for the parsers of guest-controlled data and config files.
# `make fuzz` runs each target for FUZZ_TIME seconds (20), `make fuzz-quick`
# for 5 (CI). Corpora start from fuzz/seeds/<target>/ (hand-made requests)
# and grow in build/fuzz/corpus/<target>/; a crash leaves
# build/fuzz/crash-* and fails the target.

FUZZ_CC ?= clang
FUZZ_TIME ?= 20
FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -g -O1 -Isrc -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_BASE := $(filter-out src/base/reaper.c,$(wildcard src/base/*.c)) src/memory/memory.c
FUZZ_TARGETS := fuzz_virtq fuzz_blk fuzz_net fuzz_vsock fuzz_boot fuzz_config fuzz_api_body \
	fuzz_api fuzz_hostsdns

FUZZ_SRCS_fuzz_virtq := fuzz/fuzz_virtq.c src/virtio/virtq.c $(FUZZ_BASE)
FUZZ_SRCS_fuzz_blk := fuzz/fuzz_blk.c src/virtio/blkreq.c src/virtio/virtq.c $(FUZZ_BASE)
FUZZ_SRCS_fuzz_boot := fuzz/fuzz_boot.c $(wildcard src/boot/*.c) $(FUZZ_BASE)
FUZZ_SRCS_fuzz_config := fuzz/fuzz_config.c $(wildcard src/config/*.c) $(FUZZ_BASE)
FUZZ_SRCS_fuzz_api_body := fuzz/fuzz_api_body.c $(wildcard src/config/*.c) $(FUZZ_BASE)
FUZZ_SRCS_fuzz_hostsdns := fuzz/fuzz_hostsdns.c src/backend/hostsdns.c $(FUZZ_BASE)
# The request handling reaches the builder, the VM and devices: all of libkite.
FUZZ_SRCS_fuzz_api := fuzz/fuzz_api.c $(LIB_SRCS)
# The devices need the transport and a VM (no engine runs): all of libkite too.
# What the targets that link all of libkite need besides it.
FUZZ_LIBKITE_CFLAGS := $(JSON_CFLAGS) $(HTTP_CFLAGS) $(SLIRP_CFLAGS)
FUZZ_LIBKITE_LIBS := -pthread $(JSON_LIBS) $(HTTP_LIBS) $(SLIRP_LIBS)
FUZZ_SRCS_fuzz_net := fuzz/fuzz_net.c $(LIB_SRCS)
FUZZ_SRCS_fuzz_vsock := fuzz/fuzz_vsock.c $(LIB_SRCS)

.PHONY: fuzz fuzz-quick fuzz-build

$(FUZZ_BUILD)/fuzz_virtq: $(FUZZ_SRCS_fuzz_virtq) src/virtio/virtio.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS_fuzz_virtq) -pthread

$(FUZZ_BUILD)/fuzz_blk: $(FUZZ_SRCS_fuzz_blk) src/virtio/virtio.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS_fuzz_blk) -pthread

$(FUZZ_BUILD)/fuzz_net: $(FUZZ_SRCS_fuzz_net) fuzz/fuzz_vdev.h src/virtio/virtio.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LIBKITE_CFLAGS) -o $@ $(FUZZ_SRCS_fuzz_net) $(FUZZ_LIBKITE_LIBS)

$(FUZZ_BUILD)/fuzz_vsock: $(FUZZ_SRCS_fuzz_vsock) fuzz/fuzz_vdev.h src/virtio/virtio.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LIBKITE_CFLAGS) -o $@ $(FUZZ_SRCS_fuzz_vsock) $(FUZZ_LIBKITE_LIBS)

$(FUZZ_BUILD)/fuzz_boot: $(FUZZ_SRCS_fuzz_boot) src/boot/boot.h src/boot/loader.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS_fuzz_boot) -pthread

$(FUZZ_BUILD)/fuzz_config: $(FUZZ_SRCS_fuzz_config) src/config/config.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS_fuzz_config) -pthread $(JSON_LIBS)

$(FUZZ_BUILD)/fuzz_api_body: $(FUZZ_SRCS_fuzz_api_body) src/config/config.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS_fuzz_api_body) -pthread $(JSON_LIBS)

$(FUZZ_BUILD)/fuzz_api: $(FUZZ_SRCS_fuzz_api) src/api/api.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LIBKITE_CFLAGS) -o $@ $(FUZZ_SRCS_fuzz_api) $(FUZZ_LIBKITE_LIBS)

$(FUZZ_BUILD)/fuzz_hostsdns: $(FUZZ_SRCS_fuzz_hostsdns) src/backend/backend.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS_fuzz_hostsdns) -pthread

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)

# $(call fuzz_run,SECONDS): runs every target, stops at the first crash.
define fuzz_run
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
		echo "fuzz: $$t for $(1)s"; \
		if ! $(FUZZ_BUILD)/$$t -max_total_time=$(1) -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix=$(FUZZ_BUILD)/ -print_final_stats=1 \
			$(FUZZ_BUILD)/corpus/$$t fuzz/seeds/$$t >$(FUZZ_BUILD)/$$t.log 2>&1; then \
			tail -n 40 $(FUZZ_BUILD)/$$t.log; \
			echo "fuzz: $$t FAILED (log: $(FUZZ_BUILD)/$$t.log)"; \
			exit 1; \
		fi; \
		grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' $(FUZZ_BUILD)/$$t.log; \
	done
endef

fuzz: fuzz-build
	$(call fuzz_run,$(FUZZ_TIME))

fuzz-quick: fuzz-build
	$(call fuzz_run,5)
