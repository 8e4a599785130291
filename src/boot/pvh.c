/* boot/pvh.c: ELF kernel loader for the Xen/PVH direct boot ABI (32-bit entry, start info). */
#include "boot/boot.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "boot/loader.h"

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
static const struct {
	uint64_t start, end;
	const char *what;
} reserved[] = {
    {BOOT_GDT_ADDR, BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX, "boot data"},
    {MEM_BIOS_START, MEM_BIOS_END, "ACPI tables"},
};

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

static bool table_within(uint64_t off, unsigned num, unsigned entsize, size_t len)
{
	return range_within(off, (uint64_t)num * entsize, len);
}

static int elf_open(const uint8_t *img, size_t len, struct elf *e, struct err *err)
{
	unsigned machine;

	memset(e, 0, sizeof(*e));
	if (!boot_is_elf(img, len) || len < EI_NIDENT)
		return err_set(err, -EINVAL, "not an ELF file");
	if (img[EI_CLASS] != ELFCLASS32 && img[EI_CLASS] != ELFCLASS64)
		return err_set(err, -EINVAL, "ELF class %u is neither 32- nor 64-bit",
			       img[EI_CLASS]);
	if (img[EI_DATA] != ELFDATA2LSB || img[EI_VERSION] != EV_CURRENT)
		return err_set(err, -EINVAL, "ELF file is not a little-endian version 1 ELF");
	e->img = img;
	e->len = len;
	e->is64 = img[EI_CLASS] == ELFCLASS64;
	if (len < (e->is64 ? EHDR64_SIZE : EHDR32_SIZE))
		return err_set(err, -EINVAL, "ELF header is truncated (%zu bytes)", len);
	machine = le16(img + 18);
	if (machine != EM_X86_64 && machine != EM_386)
		return err_set(err, -EINVAL, "ELF machine %u is not x86", machine);
	if (e->is64) {
		e->phoff = le64(img + 32);
		e->shoff = le64(img + 40);
		e->phentsize = le16(img + 54);
		e->phnum = le16(img + 56);
		e->shentsize = le16(img + 58);
		e->shnum = le16(img + 60);
	} else {
		e->phoff = le32(img + 28);
		e->shoff = le32(img + 32);
		e->phentsize = le16(img + 42);
		e->phnum = le16(img + 44);
		e->shentsize = le16(img + 46);
		e->shnum = le16(img + 48);
	}
	if (e->phnum == PN_XNUM)
		return err_set(err, -EINVAL, "ELF uses extended program header numbering");
	if (e->phnum && e->phentsize < (e->is64 ? PHDR64_SIZE : PHDR32_SIZE))
		return err_set(err, -EINVAL, "ELF program header size %u is too small",
			       e->phentsize);
	if (!table_within(e->phoff, e->phnum, e->phentsize, len))
		return err_set(err, -EINVAL,
			       "ELF program headers (%u at offset 0x%llx) run past the end of the "
			       "file (%zu bytes)",
			       e->phnum, (unsigned long long)e->phoff, len);
	return 0;
}

static void elf_phdr(const struct elf *e, unsigned i, struct phdr *ph)
{
	const uint8_t *p = e->img + e->phoff + (uint64_t)i * e->phentsize;

	ph->type = le32(p);
	if (e->is64) {
		ph->offset = le64(p + 8);
		ph->paddr = le64(p + 24);
		ph->filesz = le64(p + 32);
		ph->memsz = le64(p + 40);
		ph->align = le64(p + 48);
	} else {
		ph->offset = le32(p + 4);
		ph->paddr = le32(p + 12);
		ph->filesz = le32(p + 16);
		ph->memsz = le32(p + 20);
		ph->align = le32(p + 28);
	}
}

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

static int segment_load(struct guest_memory *mem, const struct elf *e, unsigned i,
			const struct phdr *ph, struct err *err)
{
	uint64_t end;
	uint8_t *dst;

	if (ph->filesz > ph->memsz)
		return err_set(err, -EINVAL, "ELF segment %u has more file bytes than memory", i);
	if (!range_within(ph->offset, ph->filesz, e->len))
		return err_set(err, -EINVAL, "ELF segment %u runs past the end of the file", i);
	if (add_overflows(ph->paddr, ph->memsz, &end))
		return err_set(err, -EINVAL, "ELF segment %u wraps around the address space", i);
	for (unsigned r = 0; r < ARRAY_SIZE(reserved); r++) {
		if (ph->paddr < reserved[r].end && reserved[r].start < end)
			return err_set(
			    err, -EINVAL,
			    "ELF segment %u at 0x%llx-0x%llx overlaps the %s at 0x%llx-0x%llx", i,
			    (unsigned long long)ph->paddr, (unsigned long long)end,
			    reserved[r].what, (unsigned long long)reserved[r].start,
			    (unsigned long long)reserved[r].end);
	}
	dst = gpa_to_hva(mem, ph->paddr, ph->memsz);
	if (!dst)
		return err_set(err, -EINVAL, "ELF segment %u at 0x%llx-0x%llx is outside guest RAM",
			       i, (unsigned long long)ph->paddr, (unsigned long long)end);
	memcpy(dst, e->img + ph->offset, ph->filesz);
	memset(dst + ph->filesz, 0, ph->memsz - ph->filesz);
	return 0;
}

/* Loads every PT_LOAD segment; *top is the end of the highest one. */
static int segments_load(struct guest_memory *mem, const struct elf *e, uint64_t *top,
			 struct err *err)
{
	unsigned loaded = 0;
	struct phdr ph;
	int ret;

	*top = 0;
	for (unsigned i = 0; i < e->phnum; i++) {
		elf_phdr(e, i, &ph);
		if (ph.type != PT_LOAD || !ph.memsz)
			continue;
		ret = segment_load(mem, e, i, &ph, err);
		if (ret)
			return ret;
		if (ph.paddr + ph.memsz > *top)
			*top = ph.paddr + ph.memsz;
		loaded++;
	}
	if (!loaded)
		return err_set(err, -EINVAL, "ELF kernel has no loadable segments");
	return 0;
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
	ret = segments_load(mem, &e, &top, err);
	if (ret)
		return err_wrap(err, "ELF kernel");
	ret = boot_initrd_load(mem, cfg, top, UINT64_MAX, &initrd_gpa, err);
	if (ret)
		return ret;
	ret = start_info_write(mem, cfg, initrd_gpa, err);
	if (ret)
		return ret;

	/* The PVH ABI: flat 32-bit protected mode, paging off, ebx = start info. */
	bsp->cr0 = X86_CR0_PE | X86_CR0_ET;
	bsp->cr4 = 0;
	bsp->efer = 0;
	bsp->rip = entry;
	bsp->gpr[X86_RBX] = BOOT_START_INFO_ADDR;
	return 0;
}
