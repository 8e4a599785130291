/* boot/boot.c: kernel kind detection and what both loaders share (GDT, cmdline, initrd). */
#include "boot/boot.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "boot/loader.h"

#define PAGE_SIZE 4096

/* Flat descriptors: base 0, limit 0xfffff with G=1 (4 GiB). */
#define GDT_CODE64 0x00af9b000000ffffull /* P, DPL0, code r/x accessed, L=1 */
#define GDT_CODE32 0x00cf9b000000ffffull /* P, DPL0, code r/x accessed, D=1 */
#define GDT_DATA   0x00cf93000000ffffull /* P, DPL0, data r/w accessed, B=1 */
/* A 32-bit busy TSS (type 11), base 0, limit 0x67: KVM only needs the hidden TR. */
#define GDT_TSS 0x00008b0000000067ull

#define SEG_TYPE_CODE	  0xb /* execute/read, accessed */
#define SEG_TYPE_DATA	  0x3 /* read/write, accessed */
#define SEG_TYPE_TSS_BUSY 0xb
#define SEG_TYPE_LDT	  0x2
#define TSS_LIMIT	  0x67

int boot_is_elf(const uint8_t *img, size_t len)
{
	return img && len >= 4 && img[0] == 0x7f && img[1] == 'E' && img[2] == 'L' && img[3] == 'F';
}

/* The "HdrS" magic at 0x202 is what marks a Linux boot-protocol image. */
static bool is_bzimage(const uint8_t *img, size_t len)
{
	return len >= 0x206 && memcmp(img + 0x202, "HdrS", 4) == 0;
}

static void seg_flat(struct x86_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct x86_segment){
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = sel,
	    .type = type,
	    .s = 1,
	    .present = 1,
	    .db = 1,
	    .g = 1,
	};
}

int boot_cpu_setup(struct guest_memory *mem, struct x86_cpu_state *bsp, bool long_mode,
		   struct err *err)
{
	return boot_cpu_setup_at(mem, bsp, long_mode, BOOT_GDT_ADDR, err);
}

int boot_cpu_setup_at(struct guest_memory *mem, struct x86_cpu_state *bsp, bool long_mode,
		      uint64_t gdt_addr, struct err *err)
{
	uint8_t gdt[BOOT_GDT_ENTRIES * 8] = {0};

	/* Entries 0 and 1 stay null, as Linux's own boot GDT has them. */
	put_le64(gdt + BOOT_SEL_CODE, long_mode ? GDT_CODE64 : GDT_CODE32);
	put_le64(gdt + BOOT_SEL_DATA, GDT_DATA);
	put_le64(gdt + BOOT_SEL_TSS, GDT_TSS);
	if (memory_write(mem, gdt_addr, gdt, sizeof(gdt)))
		return err_set(err, -EFAULT, "no guest RAM for the boot GDT at 0x%llx",
			       (unsigned long long)gdt_addr);

	memset(bsp, 0, sizeof(*bsp));
	seg_flat(&bsp->cs, BOOT_SEL_CODE, SEG_TYPE_CODE);
	if (long_mode) {
		bsp->cs.l = 1;
		bsp->cs.db = 0; /* L=1 requires D=0 */
	}
	seg_flat(&bsp->ds, BOOT_SEL_DATA, SEG_TYPE_DATA);
	bsp->es = bsp->ds;
	bsp->fs = bsp->ds;
	bsp->gs = bsp->ds;
	bsp->ss = bsp->ds;
	bsp->tr = (struct x86_segment){
	    .limit = TSS_LIMIT,
	    .selector = BOOT_SEL_TSS,
	    .type = SEG_TYPE_TSS_BUSY,
	    .present = 1,
	};
	bsp->ldt = (struct x86_segment){.type = SEG_TYPE_LDT, .present = 1, .unusable = 1};
	bsp->gdt = (struct x86_dtable){.base = gdt_addr, .limit = sizeof(gdt) - 1};
	bsp->idt = (struct x86_dtable){.base = 0, .limit = 0};
	bsp->rflags = X86_RFLAGS_FIXED;
	bsp->gpr[X86_RSP] = BOOT_STACK_TOP;
	bsp->apic_base = APIC_DEFAULT_BASE | APIC_BASE_ENABLE | APIC_BASE_BSP;
	return 0;
}

int boot_cmdline_write(struct guest_memory *mem, const char *cmdline, uint64_t max_len,
		       struct err *err)
{
	uint8_t *dst = gpa_to_hva(mem, BOOT_CMDLINE_ADDR, BOOT_CMDLINE_MAX);
	size_t len;

	if (!dst)
		return err_set(err, -EFAULT, "no guest RAM for the command line at 0x%x",
			       BOOT_CMDLINE_ADDR);
	if (max_len > BOOT_CMDLINE_MAX - 1)
		max_len = BOOT_CMDLINE_MAX - 1;
	if (!cmdline)
		cmdline = "";
	len = strlen(cmdline);
	if (len > max_len)
		return err_set(err, -EINVAL,
			       "kernel command line is %zu bytes, longer than the %llu bytes the "
			       "kernel accepts",
			       len, (unsigned long long)max_len);
	memset(dst, 0, BOOT_CMDLINE_MAX);
	memcpy(dst, cmdline, len);
	return 0;
}

int boot_initrd_load(struct guest_memory *mem, const struct boot_config *cfg, uint64_t lo,
		     uint64_t limit, uint64_t *gpa, struct err *err)
{
	uint64_t hi = mem->regions[0].size; /* low RAM region, starting at 0 */
	uint64_t len = cfg->initrd_len;
	uint64_t addr;

	*gpa = 0;
	if (!cfg->initrd || !len)
		return 0;
	if (limit < hi)
		hi = limit;
	/* Never below 1 MiB: the boot data, EBDA and ACPI tables live there. */
	if (lo < MEM_BIOS_END)
		lo = MEM_BIOS_END;
	if (len > hi || ALIGN_DOWN(hi - len, PAGE_SIZE) < lo)
		return err_set(err, -ENOSPC,
			       "initrd of %llu MiB does not fit in guest memory below 0x%llx (the "
			       "kernel ends at 0x%llx)",
			       (unsigned long long)((len + MiB(1) - 1) >> 20),
			       (unsigned long long)hi, (unsigned long long)lo);
	addr = ALIGN_DOWN(hi - len, PAGE_SIZE);
	if (memory_write(mem, addr, cfg->initrd, len))
		return err_set(err, -EFAULT, "no guest RAM for the initrd at 0x%llx",
			       (unsigned long long)addr);
	*gpa = addr;
	return 0;
}

int boot_load(struct guest_memory *mem, const struct boot_config *cfg, struct x86_cpu_state *bsp,
	      enum boot_kind *kind, struct err *err)
{
	struct multiboot_header mb;
	struct err ignored = {0};
	enum boot_kind k;
	uint32_t entry;
	int ret;

	if (!cfg->kernel || !cfg->kernel_len)
		return err_set(err, -EINVAL, "kernel image is empty");
	if (boot_is_elf(cfg->kernel, cfg->kernel_len) &&
	    (pvh_find_entry(cfg->kernel, cfg->kernel_len, &entry, &ignored) != -ENOENT ||
	     multiboot_find_header(cfg->kernel, cfg->kernel_len, &mb, &ignored) == -ENOENT)) {
		k = BOOT_PVH;
		ret = pvh_load(mem, cfg, bsp, err);
	} else if (is_bzimage(cfg->kernel, cfg->kernel_len)) {
		k = BOOT_BZIMAGE;
		ret = bzimage_load(mem, cfg, bsp, err);
	} else {
		ret = multiboot_find_header(cfg->kernel, cfg->kernel_len, &mb, err);
		if (ret == -ENOENT)
			return err_set(err, -EINVAL,
				       "not a kernel image (no bzImage HdrS header, no ELF file, no "
				       "multiboot header in the first 8 KiB)");
		if (ret)
			return ret;
		k = BOOT_MULTIBOOT;
		ret = multiboot_load(mem, cfg, &mb, bsp, err);
	}
	if (ret)
		return ret;
	*kind = k;
	return 0;
}
