/*
 * boot/multiboot.c: the Multiboot (version 1) loader, as GRUB legacy and
 * QEMU's -kernel have it: an ELF kernel, or any image whose header gives
 * its load addresses (the "a.out kludge"), entered in flat 32-bit protected
 * mode with EAX = 0x2BADB002 and EBX = the multiboot information.
 */
#include "boot/boot.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "boot/loader.h"

#define PAGE_SIZE 4096

/* The header: in the first 8 KiB, 4-byte aligned. */
#define MB_SEARCH	    8192
#define MB_HEADER_MAGIC	    0x1badb002u
#define MB_BOOTLOADER_MAGIC 0x2badb002u
#define MB_PAGE_ALIGN	    (1u << 0)  /* modules on page boundaries */
#define MB_MEMORY_INFO	    (1u << 1)  /* mem_* and mmap_* wanted */
#define MB_VIDEO_MODE	    (1u << 2)  /* a graphics mode wanted */
#define MB_AOUT_KLUDGE	    (1u << 16) /* the address fields below are valid */
#define MB_REQUIRED	    0xffffu    /* bits a loader must understand or refuse */
#define MB_HEADER_SIZE	    32         /* magic, flags, checksum, the five address fields */

/* The information structure, and the flags saying which of its fields are valid. */
#define MBI_MEM	       (1u << 0)
#define MBI_CMDLINE    (1u << 2)
#define MBI_MODS       (1u << 3)
#define MBI_MMAP       (1u << 6)
#define MBI_LOADER     (1u << 9)
#define MBI_FLAGS      0
#define MBI_MEM_LOWER  4
#define MBI_MEM_UPPER  8
#define MBI_CMDLINE_AT 16
#define MBI_MODS_COUNT 20
#define MBI_MODS_ADDR  24
#define MBI_MMAP_LEN   44
#define MBI_MMAP_ADDR  48
#define MBI_LOADER_AT  64
#define MBI_SIZE       88
#define MOD_SIZE       16 /* mod_start, mod_end, string, reserved */
#define MMAP_SIZE      24 /* size (of the rest, 20), base, length, type */

/*
 * The boot data, in the pages after the kernel: GDT, information, module
 * list, memory map and strings, then the command line.
 */
#define AREA_GDT     0
#define AREA_MBI     64
#define AREA_MODS    (AREA_MBI + MBI_SIZE)
#define AREA_MMAP    (AREA_MODS + MOD_SIZE)
#define AREA_STRINGS (AREA_MMAP + E820_MAX_ENTRIES * MMAP_SIZE)
#define AREA_CMDLINE 1024
#define AREA_SIZE    (AREA_CMDLINE + BOOT_CMDLINE_MAX)
#define LOADER_NAME  "kite"
#define MODULE_NAME  "initrd"

_Static_assert(AREA_STRINGS + sizeof(LOADER_NAME) + sizeof(MODULE_NAME) <= AREA_CMDLINE,
	       "the multiboot structures must fit before the command line");

/* Conventional memory below the EBDA, as PCs report it (KiB). */
#define MEM_LOWER_KIB 639

/*
 * The ACPI tables and the BIOS stubs stay where they are; the IVT is the
 * kernel's to overwrite, as under a BIOS.
 */
static const struct boot_reserved reserved[] = {
    {MEM_BIOS_START, MEM_BIOS_STUBS, "ACPI tables"},
    {MEM_BIOS_STUBS, MEM_BIOS_END, "BIOS stubs"},
};

int multiboot_find_header(const uint8_t *img, size_t len, struct multiboot_header *hdr,
			  struct err *err)
{
	size_t limit = len < MB_SEARCH ? len : MB_SEARCH;

	for (size_t off = 0; off + 12 <= limit; off += 4) {
		uint32_t magic = le32(img + off), flags = le32(img + off + 4);

		if (magic != MB_HEADER_MAGIC || (uint32_t)(magic + flags + le32(img + off + 8)))
			continue;
		memset(hdr, 0, sizeof(*hdr));
		hdr->offset = off;
		hdr->flags = flags;
		if (flags & MB_REQUIRED & ~(MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_VIDEO_MODE))
			return err_set(err, -EINVAL,
				       "multiboot header asks for features 0x%x kite does not know",
				       flags & MB_REQUIRED &
					   ~(MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_VIDEO_MODE));
		if (!(flags & MB_AOUT_KLUDGE))
			return 0;
		if (off + MB_HEADER_SIZE > len)
			return err_set(err, -EINVAL, "multiboot header is truncated");
		hdr->header_addr = le32(img + off + 12);
		hdr->load_addr = le32(img + off + 16);
		hdr->load_end_addr = le32(img + off + 20);
		hdr->bss_end_addr = le32(img + off + 24);
		hdr->entry_addr = le32(img + off + 28);
		return 0;
	}
	return -ENOENT;
}

static int check_reserved(const char *what, uint64_t start, uint64_t end, struct err *err)
{
	const struct boot_reserved *hit = boot_reserved_hit(reserved, ARRAY_SIZE(reserved), start, end);

	if (!hit)
		return 0;
	return err_set(err, -EINVAL, "multiboot %s at 0x%llx-0x%llx overlaps the %s at 0x%llx-0x%llx",
		       what, (unsigned long long)start, (unsigned long long)end, hit->what,
		       (unsigned long long)hit->start, (unsigned long long)hit->end);
}

/* The a.out kludge: the file from load_addr's offset on, then zeros up to bss_end_addr. */
static int aout_load(struct guest_memory *mem, const struct boot_config *cfg,
		     const struct multiboot_header *h, uint64_t *top, struct err *err)
{
	uint64_t file_off, load_len, end;
	uint8_t *dst;
	int ret;

	if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > h->offset)
		return err_set(err, -EINVAL,
			       "multiboot load address 0x%x is above its header's (0x%x) or before "
			       "the file's start",
			       h->load_addr, h->header_addr);
	file_off = h->offset - (h->header_addr - h->load_addr);
	if (h->load_end_addr) {
		if (h->load_end_addr <= h->load_addr)
			return err_set(err, -EINVAL,
				       "multiboot load end 0x%x is not above the load address 0x%x",
				       h->load_end_addr, h->load_addr);
		load_len = h->load_end_addr - h->load_addr;
		if (!range_within(file_off, load_len, cfg->kernel_len))
			return err_set(err, -EINVAL,
				       "multiboot image is truncated: %llu bytes from offset %llu "
				       "asked, the file has %zu",
				       (unsigned long long)load_len, (unsigned long long)file_off,
				       cfg->kernel_len);
	} else {
		load_len = cfg->kernel_len - file_off;
	}
	end = h->load_addr + load_len;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < end)
			return err_set(err, -EINVAL,
				       "multiboot bss end 0x%x is below the loaded end 0x%llx",
				       h->bss_end_addr, (unsigned long long)end);
		end = h->bss_end_addr;
	}
	ret = check_reserved("image", h->load_addr, end, err);
	if (ret)
		return ret;
	dst = gpa_to_hva(mem, h->load_addr, end - h->load_addr);
	if (!dst)
		return err_set(err, -EINVAL, "multiboot image at 0x%x-0x%llx is outside guest RAM",
			       h->load_addr, (unsigned long long)end);
	memcpy(dst, cfg->kernel + file_off, load_len);
	memset(dst + load_len, 0, end - h->load_addr - load_len);
	*top = end;
	return 0;
}

static int elf_load(struct guest_memory *mem, const struct boot_config *cfg, uint32_t *entry,
		    uint64_t *top, struct err *err)
{
	struct elf e;
	uint64_t at;
	int ret;

	ret = elf_open(cfg->kernel, cfg->kernel_len, &e, err);
	if (ret)
		return ret;
	ret = elf_segments_load(mem, &e, reserved, ARRAY_SIZE(reserved), top, err);
	if (ret)
		return ret;
	at = e.is64 ? le64(cfg->kernel + 24) : le32(cfg->kernel + 24);
	if (at > UINT32_MAX)
		return err_set(err, -EINVAL, "ELF entry point 0x%llx is above 4 GiB",
			       (unsigned long long)at);
	*entry = (uint32_t)at;
	return 0;
}

/* KiB of RAM from 1 MiB up to the first hole, from the e820 map. */
static uint32_t mem_upper_kib(const struct e820_entry *map, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t end = map[i].addr + map[i].size;

		if (map[i].type == E820_RAM && map[i].addr <= MEM_BIOS_END && end > MEM_BIOS_END)
			return (uint32_t)((end - MEM_BIOS_END) >> 10 > UINT32_MAX
						  ? UINT32_MAX
						  : (end - MEM_BIOS_END) >> 10);
	}
	return 0;
}

/* The information, at area (guest-physical) with the module at initrd_gpa, if any. */
static int info_write(struct guest_memory *mem, const struct boot_config *cfg, uint64_t area,
		      uint64_t initrd_gpa, struct err *err)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	unsigned n = memory_e820(mem, map, E820_MAX_ENTRIES);
	uint8_t buf[AREA_CMDLINE] = {0};
	uint8_t *mbi = buf + AREA_MBI;
	uint32_t flags = MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER;
	uint64_t name = area + AREA_STRINGS, module_name = name + sizeof(LOADER_NAME);

	put_le32(mbi + MBI_MEM_LOWER, MEM_LOWER_KIB);
	put_le32(mbi + MBI_MEM_UPPER, mem_upper_kib(map, n));
	put_le32(mbi + MBI_CMDLINE_AT, (uint32_t)(area + AREA_CMDLINE));
	put_le32(mbi + MBI_MMAP_LEN, n * MMAP_SIZE);
	put_le32(mbi + MBI_MMAP_ADDR, (uint32_t)(area + AREA_MMAP));
	put_le32(mbi + MBI_LOADER_AT, (uint32_t)name);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *m = buf + AREA_MMAP + i * MMAP_SIZE;

		put_le32(m, MMAP_SIZE - 4);
		put_le64(m + 4, map[i].addr);
		put_le64(m + 12, map[i].size);
		put_le32(m + 20, map[i].type);
	}
	if (initrd_gpa) {
		flags |= MBI_MODS;
		put_le32(mbi + MBI_MODS_COUNT, 1);
		put_le32(mbi + MBI_MODS_ADDR, (uint32_t)(area + AREA_MODS));
		put_le32(buf + AREA_MODS, (uint32_t)initrd_gpa);
		put_le32(buf + AREA_MODS + 4, (uint32_t)(initrd_gpa + cfg->initrd_len));
		put_le32(buf + AREA_MODS + 8, (uint32_t)module_name);
	}
	put_le32(mbi + MBI_FLAGS, flags);
	memcpy(buf + AREA_STRINGS, LOADER_NAME, sizeof(LOADER_NAME));
	memcpy(buf + AREA_STRINGS + sizeof(LOADER_NAME), MODULE_NAME, sizeof(MODULE_NAME));
	if (memory_write(mem, area + AREA_MBI, buf + AREA_MBI, AREA_CMDLINE - AREA_MBI))
		return err_set(err, -EFAULT, "no guest RAM for the multiboot information at 0x%llx",
			       (unsigned long long)area);
	return 0;
}

/* "kernel" then the command line, as GRUB and QEMU pass it (argv[0] first). */
static int cmdline_write(struct guest_memory *mem, const struct boot_config *cfg, uint64_t at,
			 struct err *err)
{
	uint8_t *dst = gpa_to_hva(mem, at, BOOT_CMDLINE_MAX);
	const char *args = cfg->cmdline ? cfg->cmdline : "";
	static const char argv0[] = "kernel";
	size_t len = strlen(args);

	if (!dst)
		return err_set(err, -EFAULT, "no guest RAM for the command line at 0x%llx",
			       (unsigned long long)at);
	if (sizeof(argv0) + len > BOOT_CMDLINE_MAX)
		return err_set(err, -EINVAL,
			       "kernel command line is %zu bytes, longer than the %zu bytes kite "
			       "passes",
			       len, BOOT_CMDLINE_MAX - sizeof(argv0));
	memset(dst, 0, BOOT_CMDLINE_MAX);
	memcpy(dst, argv0, sizeof(argv0) - 1);
	if (len) {
		dst[sizeof(argv0) - 1] = ' ';
		memcpy(dst + sizeof(argv0), args, len);
	}
	return 0;
}

int multiboot_load(struct guest_memory *mem, const struct boot_config *cfg,
		   const struct multiboot_header *h, struct x86_cpu_state *bsp, struct err *err)
{
	uint64_t top, area, initrd_gpa;
	uint32_t entry = 0;
	int ret;

	ret = bios_ivt_write(mem, err);
	if (ret)
		return ret;
	if (h->flags & MB_AOUT_KLUDGE) {
		ret = aout_load(mem, cfg, h, &top, err);
		entry = h->entry_addr;
	} else if (boot_is_elf(cfg->kernel, cfg->kernel_len)) {
		ret = elf_load(mem, cfg, &entry, &top, err);
	} else {
		return err_set(err, -EINVAL,
			       "multiboot image is not an ELF file and its header gives no load "
			       "addresses (flag 16)");
	}
	if (ret)
		return err_wrap(err, "multiboot kernel");
	/* Right after the kernel, where a kernel loaded low leaves room; below 4 GiB. */
	area = ALIGN_UP(top, PAGE_SIZE);
	if (area + AREA_SIZE > UINT32_MAX || !gpa_to_hva(mem, area, AREA_SIZE))
		return err_set(err, -ENOSPC,
			       "no guest RAM for the multiboot information after the kernel "
			       "(0x%llx)",
			       (unsigned long long)area);
	ret = check_reserved("information", area, area + AREA_SIZE, err);
	if (ret)
		return ret;
	ret = boot_cpu_setup_at(mem, bsp, false, area + AREA_GDT, err);
	if (ret)
		return ret;
	ret = cmdline_write(mem, cfg, area + AREA_CMDLINE, err);
	if (ret)
		return ret;
	ret = boot_initrd_load(mem, cfg, area + AREA_SIZE, UINT32_MAX, &initrd_gpa, err);
	if (ret)
		return ret;
	ret = info_write(mem, cfg, area, initrd_gpa, err);
	if (ret)
		return ret;

	/*
	 * Multiboot's machine state: interrupts off too (boot_cpu_setup's
	 * RFLAGS), reached through the BIOS stubs' device programming.
	 */
	boot_enter_protected(bsp, entry);
	bsp->gpr[X86_RAX] = MB_BOOTLOADER_MAGIC;
	bsp->gpr[X86_RBX] = area + AREA_MBI;
	return bios_enter(mem, bsp, err);
}
