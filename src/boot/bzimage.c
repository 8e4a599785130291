/* boot/bzimage.c: Linux x86 boot protocol loader (bzImage, 64-bit entry). */
#include "boot/boot.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "boot/loader.h"

/*
 * Offsets into the image and into struct boot_params (the "zero page"), from
 * Documentation/arch/x86/boot.rst. The setup header sits at the same offset
 * in both, so it is copied across unchanged.
 */
#define HDR_START	     0x1f1
#define HDR_SETUP_SECTS	     0x1f1
#define HDR_SYSSIZE	     0x1f4
#define HDR_BOOT_FLAG	     0x1fe
#define HDR_JUMP	     0x200 /* a short jmp; its offset byte at 0x201 gives the header length */
#define HDR_MAGIC	     0x202
#define HDR_VERSION	     0x206
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS	     0x211
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_HEAP_END_PTR     0x224
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_ADDR_MAX  0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE	     0x234
#define HDR_XLOADFLAGS	     0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_SETUP_DATA	     0x250
#define HDR_PREF_ADDRESS     0x258
#define HDR_INIT_SIZE	     0x260
#define HDR_MIN_END	     0x264 /* through init_size: every field kite reads */
#define HDR_MAX_END	     0x290 /* where boot_params moves on past the header */

#define BP_SIZE		     4096
#define BP_ACPI_RSDP_ADDR    0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES	     0x1e8
#define BP_E820_TABLE	     0x2d0
#define BP_E820_MAX	     128
#define BP_E820_ENTRY_SIZE   20

#define BOOT_FLAG	      0xaa55
#define BOOT_PROTO_MIN	      0x020c /* 2.12: xloadflags, so the 64-bit entry is declared */
#define SETUP_SECTS_DEFAULT   4	     /* what 0 meant to old loaders */
#define SECTOR		      512
#define TYPE_OF_LOADER_UNDEF  0xff
#define LOADFLAG_LOADED_HIGH  0x01
#define LOADFLAG_CAN_USE_HEAP 0x80
#define HEAP_END	      0xfe00
#define XLF_KERNEL_64	      0x0001
#define ENTRY_64_OFFSET	      0x200

#define PT_PAGES   6 /* PML4, PDPT, four PDs mapping 4 GiB with 2 MiB pages */
#define PT_ENTRIES 512
#define PAGE_SIZE  4096

static size_t hdr_end(const uint8_t *img)
{
	return (size_t)HDR_MAGIC + img[HDR_JUMP + 1];
}

int bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *info, struct err *err)
{
	uint64_t syssize;
	unsigned sects;
	size_t end;

	memset(info, 0, sizeof(*info));
	if (!img || len < HDR_VERSION + 2)
		return err_set(err, -EINVAL,
			       "kernel image is truncated (%zu bytes, the setup header needs %u)",
			       img ? len : 0, HDR_VERSION + 2);
	if (memcmp(img + HDR_MAGIC, "HdrS", 4) != 0)
		return err_set(err, -EINVAL, "not a Linux kernel image (no HdrS signature)");
	if (le16(img + HDR_BOOT_FLAG) != BOOT_FLAG)
		return err_set(err, -EINVAL,
			       "not a Linux kernel image (boot flag is 0x%04x, not 0xaa55)",
			       le16(img + HDR_BOOT_FLAG));
	info->version = le16(img + HDR_VERSION);
	if (info->version < BOOT_PROTO_MIN)
		return err_set(
		    err, -EINVAL,
		    "boot protocol %u.%02u is older than %u.%02u, the oldest kite supports",
		    info->version >> 8, info->version & 0xff, BOOT_PROTO_MIN >> 8,
		    BOOT_PROTO_MIN & 0xff);
	end = hdr_end(img);
	if (end < HDR_MIN_END)
		return err_set(err, -EINVAL,
			       "setup header is %zu bytes, too short for protocol %u.%02u",
			       end - HDR_START, info->version >> 8, info->version & 0xff);
	if (len < end)
		return err_set(err, -EINVAL,
			       "kernel image is truncated (%zu bytes, the setup header needs %zu)",
			       len, end);

	sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : SETUP_SECTS_DEFAULT;
	info->setup_sects = (uint8_t)sects;
	info->setup_len = (size_t)(sects + 1) * SECTOR;
	if (len <= info->setup_len)
		return err_set(
		    err, -EINVAL,
		    "kernel image is truncated (%zu bytes, setup needs %zu plus the kernel)", len,
		    info->setup_len);

	info->xloadflags = le16(img + HDR_XLOADFLAGS);
	if (!(info->xloadflags & XLF_KERNEL_64))
		return err_set(err, -EINVAL, "kernel has no 64-bit entry point (XLF_KERNEL_64)");

	syssize = (uint64_t)le32(img + HDR_SYSSIZE) * 16; /* in 16-byte paragraphs */
	if (syssize > UINT32_MAX)
		return err_set(err, -EINVAL, "kernel syssize of %llu bytes is implausible",
			       (unsigned long long)syssize);
	info->syssize = (uint32_t)syssize;
	info->initrd_addr_max = le32(img + HDR_INITRD_ADDR_MAX);
	info->kernel_alignment = le32(img + HDR_KERNEL_ALIGNMENT);
	info->relocatable = img[HDR_RELOCATABLE];
	info->cmdline_size = le32(img + HDR_CMDLINE_SIZE);
	info->pref_address = le64(img + HDR_PREF_ADDRESS);
	info->init_size = le32(img + HDR_INIT_SIZE);
	return 0;
}

/*
 * Where the kernel's memory ends once it runs. The 64-bit entry of the
 * compressed kernel decompresses to the load address rounded up to
 * kernel_alignment, but never below pref_address (LOAD_PHYSICAL_ADDR), and
 * uses init_size bytes from there. A non-relocatable kernel runs at
 * pref_address. The initrd must stay clear of all of it.
 */
static int kernel_extent(const struct bzimage_info *info, uint64_t payload_len, uint64_t *end,
			 struct err *err)
{
	uint64_t align = info->kernel_alignment ? info->kernel_alignment : 1;
	uint64_t start = info->pref_address ? info->pref_address : BOOT_KERNEL_ADDR;
	uint64_t run_end;

	*end = 0;
	if (info->relocatable) {
		uint64_t aligned = (BOOT_KERNEL_ADDR + align - 1) / align * align;

		if (aligned > start)
			start = aligned;
	}
	if (add_overflows(start, info->init_size, &run_end))
		return err_set(err, -EINVAL, "kernel preferred address 0x%llx is implausible",
			       (unsigned long long)info->pref_address);
	*end = BOOT_KERNEL_ADDR + payload_len;
	if (run_end > *end)
		*end = run_end;
	return 0;
}

static void zero_page_fill(uint8_t *zp, const uint8_t *img, const struct guest_memory *mem,
			   const struct boot_config *cfg, uint64_t initrd_gpa)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	size_t end = hdr_end(img);
	unsigned n;

	memset(zp, 0, BP_SIZE);
	if (end > HDR_MAX_END)
		end = HDR_MAX_END;
	memcpy(zp + HDR_START, img + HDR_START, end - HDR_START);

	zp[HDR_TYPE_OF_LOADER] = TYPE_OF_LOADER_UNDEF;
	zp[HDR_LOADFLAGS] |= LOADFLAG_LOADED_HIGH | LOADFLAG_CAN_USE_HEAP;
	put_le16(zp + HDR_HEAP_END_PTR, HEAP_END);
	put_le32(zp + HDR_CMD_LINE_PTR, BOOT_CMDLINE_ADDR);
	put_le32(zp + BP_EXT_CMD_LINE_PTR, 0);
	/* The kernel would follow a setup_data list; kite passes none. */
	put_le64(zp + HDR_SETUP_DATA, 0);

	put_le32(zp + HDR_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
	put_le32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_gpa >> 32));
	put_le32(zp + HDR_RAMDISK_SIZE, initrd_gpa ? (uint32_t)cfg->initrd_len : 0);
	put_le32(zp + BP_EXT_RAMDISK_SIZE,
		 initrd_gpa ? (uint32_t)((uint64_t)cfg->initrd_len >> 32) : 0);

	/* Read by protocol >= 2.14 kernels; older ones ignore the field. */
	put_le64(zp + BP_ACPI_RSDP_ADDR, cfg->rsdp_gpa);

	n = memory_e820(mem, map, E820_MAX_ENTRIES < BP_E820_MAX ? E820_MAX_ENTRIES : BP_E820_MAX);
	zp[BP_E820_ENTRIES] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = zp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE;

		put_le64(e, map[i].addr);
		put_le64(e + 8, map[i].size);
		put_le32(e + 16, map[i].type);
	}
}

/* Identity-maps the first 4 GiB with 2 MiB pages: what the 64-bit entry requires. */
static int page_tables_write(struct guest_memory *mem, struct err *err)
{
	uint8_t *pt = gpa_to_hva(mem, BOOT_PML4_ADDR, PT_PAGES * PAGE_SIZE);
	uint64_t pdpt = BOOT_PML4_ADDR + PAGE_SIZE;
	uint64_t pd = pdpt + PAGE_SIZE;

	if (!pt)
		return err_set(err, -EFAULT, "no guest RAM for the page tables at 0x%x",
			       BOOT_PML4_ADDR);
	memset(pt, 0, PT_PAGES * PAGE_SIZE);
	put_le64(pt, pdpt | X86_PTE_P | X86_PTE_RW);
	for (unsigned i = 0; i < 4; i++) {
		uint8_t *pdp = pt + (pd - BOOT_PML4_ADDR) + (uint64_t)i * PAGE_SIZE;

		put_le64(pt + PAGE_SIZE + i * 8,
			 (pd + (uint64_t)i * PAGE_SIZE) | X86_PTE_P | X86_PTE_RW);
		for (unsigned j = 0; j < PT_ENTRIES; j++) {
			uint64_t addr = ((uint64_t)i * PT_ENTRIES + j) << 21;

			put_le64(pdp + j * 8, addr | X86_PTE_P | X86_PTE_RW | X86_PTE_PS);
		}
	}
	return 0;
}

int bzimage_load(struct guest_memory *mem, const struct boot_config *cfg, struct x86_cpu_state *bsp,
		 struct err *err)
{
	struct bzimage_info info;
	uint64_t payload_len, kernel_end, initrd_gpa, limit;
	uint8_t zp[BP_SIZE];
	int ret;

	ret = bzimage_parse(cfg->kernel, cfg->kernel_len, &info, err);
	if (ret)
		return ret;
	payload_len = cfg->kernel_len - info.setup_len;
	ret = kernel_extent(&info, payload_len, &kernel_end, err);
	if (ret)
		return ret;
	if (!gpa_to_hva(mem, BOOT_KERNEL_ADDR, kernel_end - BOOT_KERNEL_ADDR))
		return err_set(
		    err, -ENOMEM,
		    "kernel needs guest memory up to 0x%llx (%llu MiB) but low RAM ends at 0x%llx",
		    (unsigned long long)kernel_end,
		    (unsigned long long)((kernel_end + MiB(1) - 1) >> 20),
		    (unsigned long long)mem->regions[0].size);

	ret = boot_cpu_setup(mem, bsp, true, err);
	if (ret)
		return ret;
	ret = boot_cmdline_write(mem, cfg->cmdline, info.cmdline_size, err);
	if (ret)
		return ret;
	if (memory_write(mem, BOOT_KERNEL_ADDR, cfg->kernel + info.setup_len, payload_len))
		return err_set(err, -EFAULT, "cannot copy the kernel to 0x%x", BOOT_KERNEL_ADDR);
	limit = (uint64_t)info.initrd_addr_max + 1;
	ret = boot_initrd_load(mem, cfg, kernel_end, limit, &initrd_gpa, err);
	if (ret)
		return ret;
	zero_page_fill(zp, cfg->kernel, mem, cfg, initrd_gpa);
	if (memory_write(mem, BOOT_ZERO_PAGE_ADDR, zp, sizeof(zp)))
		return err_set(err, -EFAULT, "no guest RAM for the zero page at 0x%x",
			       BOOT_ZERO_PAGE_ADDR);
	ret = page_tables_write(mem, err);
	if (ret)
		return ret;

	bsp->cr3 = BOOT_PML4_ADDR;
	bsp->cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
	bsp->cr4 = X86_CR4_PAE;
	bsp->efer = X86_EFER_LME | X86_EFER_LMA;
	bsp->rip = BOOT_KERNEL_ADDR + ENTRY_64_OFFSET;
	bsp->gpr[X86_RSI] = BOOT_ZERO_PAGE_ADDR;
	return 0;
}
