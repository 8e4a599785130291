# tests/diff/diff.mk: the differential test of the soft CPU against the host CPU.
# Included from the top-level Makefile; builds $(BUILD)/tests/diff_x86.

DIFF_SRCS := $(sort $(wildcard tests/diff/*.c))
DIFF_ASMS := $(sort $(wildcard tests/diff/*.S))
DIFF_OBJS := $(DIFF_SRCS:%.c=$(BUILD)/obj/%.o) $(DIFF_ASMS:%.S=$(BUILD)/obj/%.o)
# The CPU core, its translator and the CPU model (CPUID) the soft engine presents.
SOFT_CPU_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard src/soft/cpu/*.c src/soft/bt/*.c)) src/soft/cpuid.c)

$(BUILD)/obj/tests/diff/%.o: tests/diff/%.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/diff_x86: $(DIFF_OBJS) $(SOFT_CPU_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: diff
diff: $(BUILD)/tests/diff_x86
	$(BUILD)/tests/diff_x86 --quick

-include $(DIFF_OBJS:.o=.d)
