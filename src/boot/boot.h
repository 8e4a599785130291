/* boot/boot.h: kernel loaders (Linux boot protocol bzImage, ELF with PVH note, multiboot). */
#ifndef KITE_BOOT_BOOT_H
#define KITE_BOOT_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/x86.h"
#include "memory/memory.h"

/* Where the loaders put their data in low guest memory (below MEM_EBDA_START). */
#define BOOT_GDT_ADDR 0x500
#define BOOT_START_INFO_ADDR 0x6000 /* PVH hvm_start_info, modules, memmap */
#define BOOT_ZERO_PAGE_ADDR 0x7000  /* Linux boot_params */
#define BOOT_PML4_ADDR 0x9000	    /* identity page tables: PML4, PDPT, 4 PDs */
#define BOOT_STACK_TOP 0x8ff0
#define BOOT_CMDLINE_ADDR 0x20000
#define BOOT_CMDLINE_MAX 4096
#define BOOT_KERNEL_ADDR 0x100000 /* bzImage protected-mode part (1 MiB) */

enum boot_kind { BOOT_BZIMAGE, BOOT_PVH, BOOT_MULTIBOOT };

struct boot_config {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd; /* may be NULL */
	size_t initrd_len;
	const char *cmdline; /* may be NULL */
	uint64_t rsdp_gpa;   /* 0 when there are no ACPI tables */
};

/* What a bzImage's setup header says, once checked. */
struct bzimage_info {
	uint16_t version;
	uint8_t setup_sects;
	uint32_t syssize; /* protected-mode code size in bytes */
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint64_t pref_address;
	uint32_t init_size;
	size_t setup_len; /* (setup_sects + 1) * 512 */
};

/*
 * Validates a bzImage header: size, boot_flag 0xAA55, "HdrS", protocol >= 2.12
 * (64-bit entry needs XLF_KERNEL_64), setup_sects within the file. -EINVAL and
 * a message naming what is wrong otherwise ("truncated", "not a bzImage",
 * "boot protocol 2.03 is older than 2.12").
 */
int bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *info, struct err *err);

/*
 * Finds the PVH entry (XEN_ELFNOTE_PHYS32_ENTRY, note type 18 in a "Xen" note)
 * of a 64- or 32-bit little-endian x86 ELF. -ENOENT when the ELF has no such
 * note, -EINVAL with a message for a malformed ELF (every offset and size is
 * checked against len).
 */
int pvh_find_entry(const uint8_t *elf, size_t len, uint32_t *entry, struct err *err);

/* A multiboot (v1) header, as found in an image. */
struct multiboot_header {
	size_t offset; /* of the magic in the file */
	uint32_t flags;
	/* With flag 16 (the "a.out kludge") only: */
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

/*
 * Finds the multiboot header (magic 0x1BADB002 with a checksum that adds up,
 * 4-byte aligned in the first 8 KiB): 0, or -ENOENT when there is none;
 * -EINVAL with a message when it asks for features kite does not know or
 * is truncated.
 */
int multiboot_find_header(const uint8_t *img, size_t len, struct multiboot_header *hdr,
			  struct err *err);

/* True when the image starts with the ELF magic. */
int boot_is_elf(const uint8_t *img, size_t len);

/*
 * Loads cfg->kernel (bzImage, PVH ELF or multiboot, detected from its bytes;
 * an ELF with both a PVH note and a multiboot header boots through PVH),
 * initrd and command line into mem with the e820 map from memory_e820(),
 * and fills the BSP's entry state: 64-bit long mode for bzImage (rsi =
 * boot_params), 32-bit flat protected mode for PVH (ebx = hvm_start_info)
 * and multiboot (eax = 0x2BADB002, ebx = the multiboot information; the
 * initrd is module 0; rip is the BIOS stubs', which program the PICs and
 * the PIT as a BIOS leaves them and then jump to the kernel). Errors name
 * the problem: not a kernel, truncated, unsupported protocol, initrd larger
 * than memory or than initrd_addr_max allows, command line too long.
 */
int boot_load(struct guest_memory *mem, const struct boot_config *cfg,
	      struct x86_cpu_state *bsp, enum boot_kind *kind, struct err *err);

#endif
