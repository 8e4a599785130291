# tests/guests/guests.mk: the tiny test guests, included by the top-level
# Makefile. Freestanding assembly built with the system gcc/as/ld/objcopy only;
# no host libraries and none of the VMM's CFLAGS (sanitizers would not link).

GUEST_SRC := tests/guests
GUEST_OUT := $(BUILD)/guests
GUEST_PVH := hello mmio uart rtc timer hpet clock smp reset port92 triplefault bench spin cpuloop hashloop panic fpu virtio ticker
# The soft CPU's system-level guests (modes, faults, hostile code).
GUEST_PVH += modes pagefault divide smc wildjump ptloop longinsn udstream btcode btsmp hypercall
GUEST_PVH += apicctl apicid intfault lowprio nmi nmishadow nmitwo debug x2apic netarp
GUEST_ASFLAGS := -nostdinc -I$(GUEST_SRC) -Wa,--fatal-warnings
GUEST_MULTIBOOT := multiboot testdev realmode
GUEST_BINS := $(GUEST_PVH:%=$(GUEST_OUT)/%.elf) $(GUEST_OUT)/bzimage.bin \
	      $(GUEST_MULTIBOOT:%=$(GUEST_OUT)/%.elf)

.PHONY: guests
guests: $(GUEST_BINS)

# Keep the objects: no "rm" noise after every build.
.SECONDARY: $(GUEST_PVH:%=$(GUEST_OUT)/%.o) $(GUEST_MULTIBOOT:%=$(GUEST_OUT)/%.o)

$(GUEST_OUT)/%.o: $(GUEST_SRC)/%.S $(GUEST_SRC)/lib32.inc $(GUEST_SRC)/long.inc \
		   $(GUEST_SRC)/hashloop.inc $(GUEST_SRC)/virtio_mmio.inc $(GUEST_SRC)/guests.mk
	@mkdir -p $(dir $@)
	$(CC) -m32 $(GUEST_ASFLAGS) -c $< -o $@

$(GUEST_OUT)/%.elf: $(GUEST_OUT)/%.o $(GUEST_SRC)/pvh.ld
	ld -m elf_i386 -static -nostdlib --no-warn-rwx-segments -T $(GUEST_SRC)/pvh.ld -o $@ $<

# Not PVH guests: a multiboot header, loaded below the old boot data.
$(GUEST_MULTIBOOT:%=$(GUEST_OUT)/%.elf): $(GUEST_OUT)/%.elf: $(GUEST_OUT)/%.o \
		$(GUEST_SRC)/multiboot.ld
	ld -m elf_i386 -static -nostdlib --no-warn-rwx-segments -T $(GUEST_SRC)/multiboot.ld -o $@ $<

$(GUEST_OUT)/bzimage.o: $(GUEST_SRC)/bzimage.S $(GUEST_SRC)/lib64.inc $(GUEST_SRC)/guests.mk
	@mkdir -p $(dir $@)
	$(CC) -m64 $(GUEST_ASFLAGS) -c $< -o $@

$(GUEST_OUT)/bzimage.elf: $(GUEST_OUT)/bzimage.o $(GUEST_SRC)/bzimage.ld
	ld -m elf_x86_64 -static -nostdlib --no-warn-rwx-segments -T $(GUEST_SRC)/bzimage.ld -o $@ $<

$(GUEST_OUT)/bzimage.bin: $(GUEST_OUT)/bzimage.elf
	objcopy -O binary $< $@

# The hash benchmark's loop as a host process (bench/run.sh: the physical limit).
$(BUILD)/bench/hashloop_host: bench/hashloop_host.S $(GUEST_SRC)/hashloop.inc
	@mkdir -p $(dir $@)
	$(CC) -nostdinc -I$(GUEST_SRC) -o $@ $<
guests: $(BUILD)/bench/hashloop_host
