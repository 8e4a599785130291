/* boot/loader.h: pieces shared by the bzImage and PVH loaders (internal to boot/). */
#ifndef KITE_BOOT_LOADER_H
#define KITE_BOOT_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/util.h"
#include "boot/boot.h"

/* GDT selectors the loaders use; the layout is written by boot_cpu_setup(). */
#define BOOT_GDT_ENTRIES 5
#define BOOT_SEL_CODE	 0x10
#define BOOT_SEL_DATA	 0x18
#define BOOT_SEL_TSS	 0x20

/*
 * Writes the boot GDT at BOOT_GDT_ADDR and resets bsp to a flat segmented
 * state matching it: 64-bit code for long mode, 32-bit code otherwise.
 * Control registers, paging and GPRs are left zero for the caller.
 */
int boot_cpu_setup(struct guest_memory *mem, struct x86_cpu_state *bsp, bool long_mode,
		   struct err *err);
/* Flat 32-bit protected mode with paging off, at entry: how PVH and multiboot start. */
static inline void boot_enter_protected(struct x86_cpu_state *bsp, uint32_t entry)
{
	bsp->cr0 = X86_CR0_PE | X86_CR0_ET;
	bsp->cr4 = 0;
	bsp->efer = 0;
	bsp->rip = entry;
}

/* The same with the GDT at gdt_addr. */
int boot_cpu_setup_at(struct guest_memory *mem, struct x86_cpu_state *bsp, bool long_mode,
		      uint64_t gdt_addr, struct err *err);

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

/* ELF layout, from the System V gABI; 32- and 64-bit files differ in widths. */
#define EI_CLASS      4
#define EI_DATA	      5
#define EI_VERSION    6
#define EI_NIDENT     16
#define ELFCLASS32    1
#define ELFCLASS64    2
#define ELFDATA2LSB   1
#define EV_CURRENT    1
#define EM_386	      3
#define EM_X86_64     62
#define PT_LOAD	      1
#define PT_NOTE	      4
#define SHT_NOTE      7
#define PN_XNUM	      0xffff
#define SHN_LORESERVE 0xff00

#define EHDR32_SIZE 52
#define EHDR64_SIZE 64
#define PHDR32_SIZE 32
#define PHDR64_SIZE 56
#define SHDR32_SIZE 40
#define SHDR64_SIZE 64
#define NHDR_SIZE   12 /* namesz, descsz, type */


/* An ELF header, checked: its tables lie within the file. */
struct elf {
	const uint8_t *img;
	size_t len;
	bool is64;
	uint64_t phoff, shoff;
	unsigned phnum, phentsize, shnum, shentsize;
};

struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz, align;
};

/* A table of num entries of entsize bytes at off lies within a file of len bytes. */
static inline bool table_within(uint64_t off, unsigned num, unsigned entsize, size_t len)
{
	return range_within(off, (uint64_t)num * entsize, len);
}

/* Guest memory a loader keeps for itself: no segment may land there. */
struct boot_reserved {
	uint64_t start, end;
	const char *what;
};

/* The reserved range that [start, end) overlaps, or NULL. */
static inline const struct boot_reserved *boot_reserved_hit(const struct boot_reserved *reserved,
							    unsigned n, uint64_t start, uint64_t end)
{
	for (unsigned r = 0; r < n; r++)
		if (start < reserved[r].end && reserved[r].start < end)
			return &reserved[r];
	return NULL;
}

/* Checks an ELF header (class, byte order, machine, program header table within len). */
int elf_open(const uint8_t *img, size_t len, struct elf *e, struct err *err);
void elf_phdr(const struct elf *e, unsigned i, struct phdr *ph);
/*
 * Loads every PT_LOAD segment at its physical address, zeroing past the
 * file bytes; none may overlap reserved[] or leave guest RAM. *top is the
 * end of the highest one.
 */
int elf_segments_load(struct guest_memory *mem, const struct elf *e,
		      const struct boot_reserved *reserved, unsigned nr_reserved, uint64_t *top,
		      struct err *err);

/*
 * What a PC BIOS leaves for a multiboot kernel (boot/bios.c). First the
 * real-mode IVT at 0, written before the kernel so that a kernel loaded
 * over it wins; then, once bsp holds the kernel's entry state, the handlers
 * and a few instructions in the page at MEM_BIOS_STUBS that program the
 * PICs and the PIT and jump to bsp's RIP with bsp's EAX: bsp's RIP becomes
 * theirs.
 */
int bios_ivt_write(struct guest_memory *mem, struct err *err);
int bios_enter(struct guest_memory *mem, struct x86_cpu_state *bsp, struct err *err);

int bzimage_load(struct guest_memory *mem, const struct boot_config *cfg, struct x86_cpu_state *bsp,
		 struct err *err);
int pvh_load(struct guest_memory *mem, const struct boot_config *cfg, struct x86_cpu_state *bsp,
	     struct err *err);
int multiboot_load(struct guest_memory *mem, const struct boot_config *cfg,
		   const struct multiboot_header *h, struct x86_cpu_state *bsp, struct err *err);

#endif
