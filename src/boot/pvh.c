/* boot/pvh.c: ELF kernel loader for the Xen/PVH direct boot ABI (32-bit entry, start info). */
#include "boot/boot.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "boot/loader.h"

/* xen/include/public/elfnote.h */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* struct hvm_start_info (version 1), xen/include/public/arch-x86/hvm/start_info.h */
#define HVM_START_MAGIC	  0x336ec578
#define HVM_START_VERSION 1
#define SI_MAGIC	  0x00
#define SI_VERSION	  0x04
#define SI_FLAGS	  0x08
#define SI_NR_MODULES	  0x0c
#define SI_MODLIST_PADDR  0x10
#define SI_CMDLINE_PADDR  0x18
#define SI_RSDP_PADDR	  0x20
#define SI_MEMMAP_PADDR	  0x28
#define SI_MEMMAP_ENTRIES 0x30
#define SI_SIZE		  0x38
#define MOD_SIZE	  32 /* paddr, size, cmdline_paddr, reserved: u64 each */
#define MEMMAP_SIZE	  24 /* addr, size: u64; type, reserved: u32 */
#define SI_AREA		  (BOOT_ZERO_PAGE_ADDR - BOOT_START_INFO_ADDR)

_Static_assert(SI_SIZE + MOD_SIZE + E820_MAX_ENTRIES * MEMMAP_SIZE <= SI_AREA,
	       "start info, module list and memory map must fit below the zero page");

/* Low guest memory the loader itself uses; a PVH segment may not land there. */
static const struct boot_reserved reserved[] = {
    {BOOT_GDT_ADDR, BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX, "boot data"},
    {MEM_BIOS_START, MEM_BIOS_END, "ACPI tables"},
};

static int entry_from_desc(const uint8_t *desc, uint32_t descsz, uint32_t *entry, struct err *err)
{
	uint64_t v;

	/* 64-bit kernels emit the address as a pointer-sized value, newer ones as .long. */
	if (descsz == 4)
		v = le32(desc);
	else if (descsz == 8)
		v = le64(desc);
	else
		return err_set(err, -EINVAL, "PVH entry note has a %u-byte value, not 4 or 8",
			       descsz);
	if (v > UINT32_MAX)
		return err_set(err, -EINVAL, "PVH entry 0x%llx is above 4 GiB",
			       (unsigned long long)v);
	*entry = (uint32_t)v;
	return 0;
}

/*
 * Walks the notes in [off, off+size) of the file. Name and descriptor are each
 * padded to align (4, or 8 where the segment says so). 0 when the PVH entry
 * note is found, -ENOENT when not, -EINVAL when a note runs past the area.
 */
static int notes_search(const struct elf *e, uint64_t off, uint64_t size, uint64_t align,
			uint32_t *entry, struct err *err)
{
	const uint8_t *p;
	uint64_t pos = 0;

	if (!range_within(off, size, e->len))
		return err_set(err, -EINVAL,
			       "ELF note area at 0x%llx (%llu bytes) runs past the end of the file",
			       (unsigned long long)off, (unsigned long long)size);
	p = e->img + off;
	align = align == 8 ? 8 : 4;
	while (size - pos >= NHDR_SIZE) {
		uint32_t namesz = le32(p + pos), descsz = le32(p + pos + 4);
		uint32_t type = le32(p + pos + 8);
		uint64_t name, desc, pad;

		pos += NHDR_SIZE;
		name = pos;
		/* u32 sizes padded in u64 cannot overflow; compare against what is left. */
		if (ALIGN_UP((uint64_t)namesz, align) > size - pos)
			return err_set(err, -EINVAL, "ELF note name (%u bytes) runs past its area",
				       namesz);
		pos += ALIGN_UP((uint64_t)namesz, align);
		desc = pos;
		if (descsz > size - pos)
			return err_set(err, -EINVAL, "ELF note value (%u bytes) runs past its area",
				       descsz);
		/* The last note's trailing padding may be cut off by the area's end. */
		pad = ALIGN_UP((uint64_t)descsz, align);
		pos += pad < size - pos ? pad : size - pos;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && !memcmp(p + name, "Xen", 4))
			return entry_from_desc(p + desc, descsz, entry, err);
	}
	return -ENOENT;
}

static int sections_search(const struct elf *e, uint32_t *entry, struct err *err)
{
	unsigned min = e->is64 ? SHDR64_SIZE : SHDR32_SIZE;

	/* No table, or extended numbering (count in section 0): notes live in PT_NOTE. */
	if (!e->shoff || !e->shnum || e->shnum >= SHN_LORESERVE)
		return -ENOENT;
	if (e->shentsize < min || !table_within(e->shoff, e->shnum, e->shentsize, e->len))
		return err_set(err, -EINVAL, "ELF section headers run past the end of the file");
	for (unsigned i = 0; i < e->shnum; i++) {
		const uint8_t *s = e->img + e->shoff + (uint64_t)i * e->shentsize;
		uint64_t off, size, align;
		int ret;

		if (le32(s + 4) != SHT_NOTE)
			continue;
		off = e->is64 ? le64(s + 24) : le32(s + 16);
		size = e->is64 ? le64(s + 32) : le32(s + 20);
		align = e->is64 ? le64(s + 48) : le32(s + 32);
		ret = notes_search(e, off, size, align, entry, err);
		if (ret != -ENOENT)
			return ret;
	}
	return -ENOENT;
}

int pvh_find_entry(const uint8_t *elf, size_t len, uint32_t *entry, struct err *err)
{
	struct elf e;
	struct phdr ph;
	int ret;

	ret = elf_open(elf, len, &e, err);
	if (ret)
		return ret;
	for (unsigned i = 0; i < e.phnum; i++) {
		elf_phdr(&e, i, &ph);
		if (ph.type != PT_NOTE)
			continue;
		ret = notes_search(&e, ph.offset, ph.filesz, ph.align, entry, err);
		if (ret != -ENOENT)
			return ret;
	}
	ret = sections_search(&e, entry, err);
	if (ret == -ENOENT)
		err_set(err, -ENOENT, "ELF has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	return ret;
}

static int start_info_write(struct guest_memory *mem, const struct boot_config *cfg,
			    uint64_t initrd_gpa, struct err *err)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	uint8_t si[SI_AREA] = {0};
	unsigned nr_modules = initrd_gpa ? 1 : 0;
	uint64_t memmap = SI_SIZE + (uint64_t)nr_modules * MOD_SIZE;
	unsigned n = memory_e820(mem, map, E820_MAX_ENTRIES);

	put_le32(si + SI_MAGIC, HVM_START_MAGIC);
	put_le32(si + SI_VERSION, HVM_START_VERSION);
	put_le32(si + SI_FLAGS, 0);
	put_le32(si + SI_NR_MODULES, nr_modules);
	put_le64(si + SI_CMDLINE_PADDR, BOOT_CMDLINE_ADDR);
	put_le64(si + SI_RSDP_PADDR, cfg->rsdp_gpa);
	if (nr_modules) {
		put_le64(si + SI_MODLIST_PADDR, BOOT_START_INFO_ADDR + SI_SIZE);
		put_le64(si + SI_SIZE, initrd_gpa);
		put_le64(si + SI_SIZE + 8, cfg->initrd_len);
	}
	put_le64(si + SI_MEMMAP_PADDR, BOOT_START_INFO_ADDR + memmap);
	put_le32(si + SI_MEMMAP_ENTRIES, n);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *m = si + memmap + i * MEMMAP_SIZE;

		/* e820 and hvm_memmap types share their numbering. */
		put_le64(m, map[i].addr);
		put_le64(m + 8, map[i].size);
		put_le32(m + 16, map[i].type);
	}
	if (memory_write(mem, BOOT_START_INFO_ADDR, si, sizeof(si)))
		return err_set(err, -EFAULT, "no guest RAM for the PVH start info at 0x%x",
			       BOOT_START_INFO_ADDR);
	return 0;
}

int pvh_load(struct guest_memory *mem, const struct boot_config *cfg, struct x86_cpu_state *bsp,
	     struct err *err)
{
	uint64_t top, initrd_gpa;
	uint32_t entry;
	struct elf e;
	int ret;

	ret = pvh_find_entry(cfg->kernel, cfg->kernel_len, &entry, err);
	if (ret == -ENOENT)
		return err_set(err, -EINVAL,
			       "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	if (ret)
		return err_wrap(err, "ELF kernel");
	ret = elf_open(cfg->kernel, cfg->kernel_len, &e, err);
	if (ret)
		return ret;
	ret = boot_cpu_setup(mem, bsp, false, err);
	if (ret)
		return ret;
	ret = boot_cmdline_write(mem, cfg->cmdline, BOOT_CMDLINE_MAX - 1, err);
	if (ret)
		return ret;
	ret = elf_segments_load(mem, &e, reserved, ARRAY_SIZE(reserved), &top, err);
	if (ret)
		return err_wrap(err, "ELF kernel");
	ret = boot_initrd_load(mem, cfg, top, UINT64_MAX, &initrd_gpa, err);
	if (ret)
		return ret;
	ret = start_info_write(mem, cfg, initrd_gpa, err);
	if (ret)
		return ret;

	/* The PVH ABI: ebx = start info. */
	boot_enter_protected(bsp, entry);
	bsp->gpr[X86_RBX] = BOOT_START_INFO_ADDR;
	return 0;
}
