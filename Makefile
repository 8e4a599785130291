# kite: one `make` builds the VMM, the unit tests and the tiny test guests.
# `make SAN=1` builds the same into build-san/ with ASan+UBSan.

CC ?= gcc
SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SANFLAGS :=
endif

# json-c parses --config-file (config/json.c) and the API's bodies;
# libmicrohttpd serves the API and libcurl is `kite ctl`'s client (api/).
JSON_CFLAGS := $(shell pkg-config --cflags json-c 2>/dev/null)
JSON_LIBS := $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c)
HTTP_CFLAGS := $(shell pkg-config --cflags libmicrohttpd libcurl 2>/dev/null)
HTTP_LIBS := $(shell pkg-config --libs libmicrohttpd libcurl 2>/dev/null || echo -lmicrohttpd -lcurl)

# libslirp is the user-mode network's TCP/IP stack (backend/usernet.c). Its
# .pc names glib, which its header does not need: without glib's .pc the
# header's own directory and -lslirp do.
SLIRP_CFLAGS := $(shell pkg-config --cflags slirp 2>/dev/null || echo -I/usr/include/slirp)
SLIRP_LIBS := $(shell pkg-config --libs slirp 2>/dev/null || echo -lslirp)

CFLAGS := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -Isrc -MMD -MP $(SANFLAGS) $(JSON_CFLAGS) $(HTTP_CFLAGS) $(SLIRP_CFLAGS)
LDFLAGS := $(SANFLAGS) -pthread
LDLIBS := $(JSON_LIBS) $(HTTP_LIBS) $(SLIRP_LIBS)

LIB_SRCS := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/src/main.o
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all clean test unit guest run deps bench format guests
all: $(BUILD)/kite $(UNIT_BINS) guests $(BUILD)/tests/diff_x86 $(BUILD)/bench/api_bench \
	$(BUILD)/bench/tcpbench

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libkite.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/kite: $(MAIN_OBJ) $(BUILD)/libkite.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The API's benchmark client (bench/run.sh api); libcurl only, no kite code.
$(BUILD)/bench/api_bench: bench/api_bench.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HTTP_CFLAGS) -o $@ $< $(LDFLAGS) $(HTTP_LIBS)

# The host's end of bench/run.sh net and vsock: the guest's own tool, built
# for the host (it defines _GNU_SOURCE itself, as the guest build needs).
$(BUILD)/bench/tcpbench: guest/tools/tcpbench.c guest/tools/toolio.h
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -O2 -g -Wall -Wextra -Werror -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libkite.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libkite.a $(LDFLAGS) $(LDLIBS) -lcmocka

# Tiny purpose-built guests (freestanding, no host libraries).
include tests/guests/guests.mk
# The soft CPU against the host CPU, instruction by instruction.
include tests/diff/diff.mk
# libFuzzer targets for guest-controlled parsers (clang): make fuzz, make fuzz-quick.
include fuzz/fuzz.mk

unit: $(UNIT_BINS)

# The Debian packages kite, its tests and the guest build need, installed once
# (again when the list changes), so `make run` and `make test` work on a fresh
# machine.
DEPS_STAMP := build/.deps-installed
$(DEPS_STAMP): scripts/install-deps.sh
	scripts/install-deps.sh
	@mkdir -p $(dir $@)
	@touch $@
deps: $(DEPS_STAMP)

# Everything: unit tests, the differential CPU test, tiny guests on both
# engines, bad inputs, and Debian's Linux on the soft engine. Ends with
# "N passed, N failed, N skipped" (what this host cannot run is skipped).
test: $(DEPS_STAMP)
	$(MAKE) all
	guest/mkguest.sh build/guest
	BUILD=$(BUILD) tests/run.sh

# The default guest: Debian's cloud kernel and a busybox initramfs.
guest: $(DEPS_STAMP)
	guest/mkguest.sh build/guest

# Sets up, builds, fetches the default guest and boots it.
run: $(DEPS_STAMP)
	$(MAKE) all
	guest/mkguest.sh build/guest
	$(BUILD)/kite run

bench: $(DEPS_STAMP)
	$(MAKE) all
	guest/mkguest.sh build/guest
	bench/run.sh

format:
	clang-format -i $$(find src tests -name '*.[ch]')

clean:
	rm -rf build build-san

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_BINS:=.d)
