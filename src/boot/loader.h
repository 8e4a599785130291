/* boot/loader.h: pieces shared by the bzImage and PVH loaders (internal to boot/). */
#ifndef KITE_BOOT_LOADER_H
#define KITE_BOOT_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "boot/boot.h"

/* GDT selectors the loaders use; the layout is written by boot_cpu_setup(). */
#define BOOT_GDT_ENTRIES 5
#define BOOT_SEL_CODE	 0x10
#define BOOT_SEL_DATA	 0x18
#define BOOT_SEL_TSS	 0x20

/* Images are little-endian and may be unaligned: read and write byte-wise. */
static inline uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/*
 * Writes the boot GDT at BOOT_GDT_ADDR and resets bsp to a flat segmented
 * state matching it: 64-bit code for long mode, 32-bit code otherwise.
 * Control registers, paging and GPRs are left zero for the caller.
 */
int boot_cpu_setup(struct guest_memory *mem, struct x86_cpu_state *bsp, bool long_mode,
		   struct err *err);

/*
 * Copies the command line (NULL means empty) NUL-terminated to
 * BOOT_CMDLINE_ADDR; -EINVAL when it is longer than max_len bytes.
 */
int boot_cmdline_write(struct guest_memory *mem, const char *cmdline, uint64_t max_len,
		       struct err *err);

/*
 * Copies cfg->initrd to the highest page-aligned address at or above lo whose
 * end is at most min(limit, end of low RAM); -ENOSPC when it does not fit.
 * *gpa is 0 when there is no initrd.
 */
int boot_initrd_load(struct guest_memory *mem, const struct boot_config *cfg, uint64_t lo,
		     uint64_t limit, uint64_t *gpa, struct err *err);

int bzimage_load(struct guest_memory *mem, const struct boot_config *cfg, struct x86_cpu_state *bsp,
		 struct err *err);
int pvh_load(struct guest_memory *mem, const struct boot_config *cfg, struct x86_cpu_state *bsp,
	     struct err *err);

#endif
