/* memory/memory.h: guest RAM, its layout around the 4 GiB hole, and checked access. */
#ifndef KITE_MEMORY_MEMORY_H
#define KITE_MEMORY_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/*
 * Guest-physical layout:
 *   [0, low_end)              RAM (low_end = min(ram_size, MEM_HOLE_START))
 *   [MEM_HOLE_START, 4 GiB)   MMIO hole: virtio-mmio, IOAPIC, HPET, LAPIC
 *   [4 GiB, 4 GiB + rest)     RAM above the hole, if ram_size > MEM_HOLE_START
 * Both ranges are one anonymous host mapping, so host addresses are contiguous.
 */
#define MEM_HOLE_START 0xc0000000ull
#define MEM_4G 0x100000000ull
#define MEM_MIN_SIZE (16ull << 20) /* what the boot data structures need */
#define MEM_MAX_SIZE (1ull << 40)

/* Low-memory areas reserved by the machine model (below 1 MiB). */
#define MEM_EBDA_START 0x9fc00ull /* reserved from here to 1 MiB in e820 */
#define MEM_BIOS_START 0xe0000ull /* ACPI tables live at 0xe0000..0xfefff */
#define MEM_BIOS_STUBS 0xff000ull /* then the BIOS stubs multiboot kernels get */
#define MEM_BIOS_END 0x100000ull

#define MEM_MAX_REGIONS 2

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_memory {
	uint8_t *base; /* host mapping of all guest RAM */
	uint64_t ram_size;
	struct mem_region regions[MEM_MAX_REGIONS];
	unsigned nr_regions;
};

/* Maps ram_size bytes of anonymous memory and lays out the regions. */
int memory_init(struct guest_memory *mem, uint64_t ram_size, struct err *err);
void memory_destroy(struct guest_memory *mem);

/*
 * The one checked translation (STYLE 15): host pointer to [gpa, gpa+len) if the
 * whole range is RAM inside one region, NULL otherwise. len 0 is allowed.
 */
void *gpa_to_hva(const struct guest_memory *mem, uint64_t gpa, uint64_t len);

/* Copies in and out of guest RAM; -EFAULT when the range is not all RAM. */
int memory_write(const struct guest_memory *mem, uint64_t gpa, const void *src, size_t len);
int memory_read(const struct guest_memory *mem, uint64_t gpa, void *dst, size_t len);

/* The end of RAM in guest-physical space (exclusive). */
uint64_t memory_top(const struct guest_memory *mem);

/* e820 entry types. */
#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

#define E820_MAX_ENTRIES 8

/* Fills the guest's memory map; returns the number of entries. */
unsigned memory_e820(const struct guest_memory *mem, struct e820_entry *map, unsigned max);

#endif
