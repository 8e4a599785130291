/* tests/unit/test_boot.c: bzImage and PVH loaders against synthesized, valid and hostile images. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "boot/boot.h"

#define GUEST_MEM (64ull << 20)

/* ---- little-endian helpers for building images ---- */

static void w16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void w32(uint8_t *p, uint32_t v)
{
	w16(p, (uint16_t)v);
	w16(p + 2, (uint16_t)(v >> 16));
}

static void w64(uint8_t *p, uint64_t v)
{
	w32(p, (uint32_t)v);
	w32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t r16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t r32(const uint8_t *p)
{
	return (uint32_t)r16(p) | (uint32_t)r16(p + 2) << 16;
}

static uint64_t r64(const uint8_t *p)
{
	return (uint64_t)r32(p) | (uint64_t)r32(p + 4) << 32;
}

/* ---- a minimal bzImage: setup header fields plus a protected-mode part ---- */

#define BZ_SETUP_SECTS	1
#define BZ_SETUP_LEN	((BZ_SETUP_SECTS + 1) * 512)
#define BZ_PAYLOAD_LEN	8192
#define BZ_LEN		(BZ_SETUP_LEN + BZ_PAYLOAD_LEN)
#define BZ_PREF_ADDRESS 0x1000000u
#define BZ_INIT_SIZE	0x800000u
#define BZ_KERNEL_END	(BZ_PREF_ADDRESS + BZ_INIT_SIZE) /* 24 MiB */
#define BZ_CMDLINE_SIZE 2047u

static uint8_t payload_byte(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

static uint8_t *bz_make(size_t *len)
{
	uint8_t *img = calloc(1, BZ_LEN);

	assert_non_null(img);
	img[0x1f1] = BZ_SETUP_SECTS;
	w32(img + 0x1f4, BZ_PAYLOAD_LEN / 16);
	w16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a; /* header ends at 0x26c, as in 2.15 kernels */
	memcpy(img + 0x202, "HdrS", 4);
	w16(img + 0x206, 0x020f);
	img[0x211] = 0x01;
	w32(img + 0x22c, 0x7fffffff);
	w32(img + 0x230, 0x200000);
	img[0x234] = 1;
	w16(img + 0x236, 0x0003); /* XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G */
	w32(img + 0x238, BZ_CMDLINE_SIZE);
	w64(img + 0x258, BZ_PREF_ADDRESS);
	w32(img + 0x260, BZ_INIT_SIZE);
	for (size_t i = 0; i < BZ_PAYLOAD_LEN; i++)
		img[BZ_SETUP_LEN + i] = payload_byte(i);
	*len = BZ_LEN;
	return img;
}

static void test_bzimage_parse_valid(void **state)
{
	struct bzimage_info info;
	struct err err = {0};
	size_t len;
	uint8_t *img = bz_make(&len);

	(void)state;
	assert_int_equal(bzimage_parse(img, len, &info, &err), 0);
	assert_int_equal(info.version, 0x020f);
	assert_int_equal(info.setup_sects, BZ_SETUP_SECTS);
	assert_int_equal(info.setup_len, BZ_SETUP_LEN);
	assert_int_equal(info.syssize, BZ_PAYLOAD_LEN);
	assert_int_equal(info.initrd_addr_max, 0x7fffffff);
	assert_int_equal(info.kernel_alignment, 0x200000);
	assert_int_equal(info.relocatable, 1);
	assert_int_equal(info.xloadflags, 3);
	assert_int_equal(info.cmdline_size, BZ_CMDLINE_SIZE);
	assert_int_equal(info.pref_address, BZ_PREF_ADDRESS);
	assert_int_equal(info.init_size, BZ_INIT_SIZE);

	/* setup_sects 0 means 4: the file then needs 5 sectors of setup. */
	img[0x1f1] = 0;
	assert_int_equal(bzimage_parse(img, 5 * 512, &info, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "truncated"));
	uint8_t *big = calloc(1, 5 * 512 + 16);
	assert_non_null(big);
	memcpy(big, img, BZ_SETUP_LEN);
	assert_int_equal(bzimage_parse(big, 5 * 512 + 16, &info, &err), 0);
	assert_int_equal(info.setup_sects, 4);
	assert_int_equal(info.setup_len, 5 * 512);
	free(big);
	free(img);
}

static void test_bzimage_parse_truncated(void **state)
{
	struct bzimage_info info;
	struct err err = {0};
	size_t len;
	uint8_t *img = bz_make(&len);

	(void)state;
	/* Shorter than the header. */
	assert_int_equal(bzimage_parse(img, 0x200, &info, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "truncated"));
	assert_int_equal(bzimage_parse(img, 0x240, &info, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "truncated"));
	/* Header whole, but not the setup sectors it announces. */
	img[0x1f1] = 30;
	assert_int_equal(bzimage_parse(img, len, &info, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "truncated"));
	assert_non_null(strstr(err.msg, "15872")); /* (30 + 1) * 512 */
	/* Setup present, protected-mode part empty. */
	img[0x1f1] = BZ_SETUP_SECTS;
	assert_int_equal(bzimage_parse(img, BZ_SETUP_LEN, &info, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "truncated"));
	assert_int_equal(bzimage_parse(NULL, 0, &info, &err), -EINVAL);
	/* Every prefix is rejected cleanly (run under ASan to see no over-read). */
	for (size_t n = 0; n <= BZ_SETUP_LEN; n++)
		assert_int_equal(bzimage_parse(img, n, &info, &err), -EINVAL);
	assert_int_equal(bzimage_parse(img, BZ_SETUP_LEN + 1, &info, &err), 0);
	free(img);
}

static void test_bzimage_parse_bad_magic(void **state)
{
	struct bzimage_info info;
	struct err err = {0};
	size_t len;
	uint8_t *img = bz_make(&len);

	(void)state;
	img[0x205] = 'X';
	assert_int_equal(bzimage_parse(img, len, &info, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "HdrS"));
	img[0x205] = 'S';
	w16(img + 0x1fe, 0x55aa);
	assert_int_equal(bzimage_parse(img, len, &info, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "0xaa55"));
	free(img);
}

static void test_bzimage_parse_old_protocol(void **state)
{
	struct bzimage_info info;
	struct err err = {0};
	size_t len;
	uint8_t *img = bz_make(&len);

	(void)state;
	w16(img + 0x206, 0x0203);
	assert_int_equal(bzimage_parse(img, len, &info, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "2.03"));
	assert_non_null(strstr(err.msg, "2.12"));
	w16(img + 0x206, 0x020b);
	assert_int_equal(bzimage_parse(img, len, &info, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "2.11"));
	w16(img + 0x206, 0x020c);
	assert_int_equal(bzimage_parse(img, len, &info, &err), 0);
	/* A header too short to hold init_size is not believed. */
	img[0x201] = 0x40;
	assert_int_equal(bzimage_parse(img, len, &info, &err), -EINVAL);
	free(img);
}

static void test_bzimage_parse_no_64bit(void **state)
{
	struct bzimage_info info;
	struct err err = {0};
	size_t len;
	uint8_t *img = bz_make(&len);

	(void)state;
	w16(img + 0x236, 0x0002);
	assert_int_equal(bzimage_parse(img, len, &info, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "XLF_KERNEL_64"));
	free(img);
}

/* ---- boot_load of a bzImage into a 64 MiB guest ---- */

struct guest {
	struct guest_memory mem;
	struct x86_cpu_state cpu;
	struct err err;
	enum boot_kind kind;
};

static int guest_setup(void **state)
{
	struct guest *g = calloc(1, sizeof(*g));

	if (!g || memory_init(&g->mem, GUEST_MEM, &g->err))
		return -1;
	*state = g;
	return 0;
}

static int guest_teardown(void **state)
{
	struct guest *g = *state;

	memory_destroy(&g->mem);
	free(g);
	return 0;
}

static const uint8_t *gp(struct guest *g, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gpa_to_hva(&g->mem, gpa, len);

	assert_non_null(p);
	return p;
}

static void check_e820(struct guest *g, const uint8_t *tab, unsigned n, unsigned stride)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	unsigned want = memory_e820(&g->mem, map, E820_MAX_ENTRIES);

	assert_int_equal(n, want);
	assert_true(n >= 3);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(r64(tab + i * stride), map[i].addr);
		assert_int_equal(r64(tab + i * stride + 8), map[i].size);
		assert_int_equal(r32(tab + i * stride + 16), map[i].type);
	}
}

static void test_bzimage_load(void **state)
{
	static const char cmdline[] = "console=ttyS0 root=/dev/vda quiet";
	struct guest *g = *state;
	uint8_t initrd[10000];
	size_t len;
	uint8_t *img = bz_make(&len);
	struct boot_config cfg = {
	    .kernel = img,
	    .kernel_len = len,
	    .initrd = initrd,
	    .initrd_len = sizeof(initrd),
	    .cmdline = cmdline,
	    .rsdp_gpa = 0xe0000,
	};
	const uint8_t *zp, *pt;
	uint32_t rd;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), 0);
	assert_int_equal(g->kind, BOOT_BZIMAGE);

	zp = gp(g, BOOT_ZERO_PAGE_ADDR, 4096);
	/* The setup header is copied from the image, then the loader's fields set. */
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_int_equal(r16(zp + 0x206), 0x020f);
	assert_int_equal(r32(zp + 0x260), BZ_INIT_SIZE);
	assert_int_equal(zp[0x210], 0xff);
	assert_int_equal(zp[0x211] & 0x81, 0x81);
	assert_int_equal(r16(zp + 0x224), 0xfe00);
	assert_int_equal(r32(zp + 0x228), BOOT_CMDLINE_ADDR);
	assert_string_equal((const char *)gp(g, BOOT_CMDLINE_ADDR, sizeof(cmdline)), cmdline);
	/* The initrd: page aligned, above the kernel, ending within the last page of RAM. */
	rd = r32(zp + 0x218);
	assert_int_equal(r32(zp + 0x21c), sizeof(initrd));
	assert_int_equal(r32(zp + 0x0c0), 0);
	assert_int_equal(r32(zp + 0x0c4), 0);
	assert_int_equal(rd % 4096, 0);
	assert_true(rd >= BZ_KERNEL_END);
	assert_true(rd + sizeof(initrd) <= GUEST_MEM);
	assert_true(rd + sizeof(initrd) + 4096 > GUEST_MEM);
	assert_memory_equal(gp(g, rd, sizeof(initrd)), initrd, sizeof(initrd));
	/* e820. */
	check_e820(g, zp + 0x2d0, zp[0x1e8], 20);
	assert_int_equal(r64(zp + 0x2d0 + 20 * 2), 0x100000);
	assert_int_equal(r64(zp + 0x2d0 + 20 * 2 + 8), GUEST_MEM - 0x100000);
	assert_int_equal(r64(zp + 0x070), 0xe0000);

	/* The protected-mode part at 1 MiB, and only it. */
	assert_memory_equal(gp(g, BOOT_KERNEL_ADDR, BZ_PAYLOAD_LEN), img + BZ_SETUP_LEN,
			    BZ_PAYLOAD_LEN);

	/* Page tables: PML4 -> PDPT -> 4 PDs of 2 MiB pages, identity. */
	pt = gp(g, BOOT_PML4_ADDR, 6 * 4096);
	assert_int_equal(r64(pt), (BOOT_PML4_ADDR + 0x1000) | 3);
	assert_int_equal(r64(pt + 8), 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(r64(pt + 0x1000 + i * 8),
				 (BOOT_PML4_ADDR + 0x2000 + i * 0x1000) | 3);
	assert_int_equal(r64(pt + 0x1000 + 4 * 8), 0);
	assert_int_equal(r64(pt + 0x2000), 0x83);
	assert_int_equal(r64(pt + 0x2000 + 8), 0x200000 | 0x83);
	/* 1 GiB + 2 MiB: second PD, entry 1. */
	assert_int_equal(r64(pt + 0x3000 + 8), 0x40200000ull | 0x83);
	/* The last 2 MiB below 4 GiB. */
	assert_int_equal(r64(pt + 0x5000 + 511 * 8), 0xffe00000ull | 0x83);

	/* CPU: 64-bit entry. */
	assert_int_equal(g->cpu.rip, BOOT_KERNEL_ADDR + 0x200);
	assert_int_equal(g->cpu.gpr[X86_RSI], BOOT_ZERO_PAGE_ADDR);
	assert_int_equal(g->cpu.gpr[X86_RAX], 0);
	assert_int_equal(g->cpu.gpr[X86_RSP], BOOT_STACK_TOP);
	assert_int_equal(g->cpu.cr3, BOOT_PML4_ADDR);
	assert_int_equal(g->cpu.cr0, X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE |
					 X86_CR0_WP | X86_CR0_PG);
	assert_int_equal(g->cpu.cr4, X86_CR4_PAE);
	assert_int_equal(g->cpu.efer, X86_EFER_LME | X86_EFER_LMA);
	assert_int_equal(g->cpu.rflags, 2);
	assert_int_equal(g->cpu.cs.selector, 0x10);
	assert_int_equal(g->cpu.cs.l, 1);
	assert_int_equal(g->cpu.cs.db, 0);
	assert_int_equal(g->cpu.cs.type, 0xb);
	assert_int_equal(g->cpu.ds.selector, 0x18);
	assert_int_equal(g->cpu.ss.db, 1);
	assert_int_equal(g->cpu.tr.selector, 0x20);
	assert_int_equal(g->cpu.tr.type, 11);
	assert_int_equal(g->cpu.ldt.unusable, 1);
	assert_int_equal(g->cpu.gdt.base, BOOT_GDT_ADDR);
	assert_int_equal(g->cpu.gdt.limit, 39);
	assert_int_equal(g->cpu.apic_base, 0xfee00900);
	/* The GDT agrees with the segment caches. */
	assert_int_equal(r64(gp(g, BOOT_GDT_ADDR + 0x10, 8)), 0x00af9b000000ffffull);
	assert_int_equal(r64(gp(g, BOOT_GDT_ADDR + 0x18, 8)), 0x00cf93000000ffffull);
	assert_int_equal(r64(gp(g, BOOT_GDT_ADDR, 8)), 0);
	free(img);
}

static void test_bzimage_load_initrd_limits(void **state)
{
	struct guest *g = *state;
	size_t len, big = 41 << 20; /* 64 MiB - 24 MiB kernel extent = 40 MiB free */
	uint8_t *img = bz_make(&len);
	uint8_t *initrd = calloc(1, big);
	struct boot_config cfg = {
	    .kernel = img,
	    .kernel_len = len,
	    .initrd = initrd,
	    .initrd_len = big,
	};
	const uint8_t *zp;

	assert_non_null(initrd);
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -ENOSPC);
	assert_non_null(strstr(g->err.msg, "initrd of 41 MiB does not fit"));

	/* Exactly the free space fits, right after the kernel's extent. */
	cfg.initrd_len = 40 << 20;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), 0);
	zp = gp(g, BOOT_ZERO_PAGE_ADDR, 4096);
	assert_int_equal(r32(zp + 0x218), BZ_KERNEL_END);

	/* initrd_addr_max caps where it may end. */
	w32(img + 0x22c, 0x1ffffff);
	cfg.initrd_len = 4 << 20;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), 0);
	assert_int_equal(r32(zp + 0x218), 0x2000000 - (4 << 20));
	cfg.initrd_len = 9 << 20;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -ENOSPC);

	/* No initrd: the fields are zero. */
	cfg.initrd = NULL;
	cfg.initrd_len = 0;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), 0);
	assert_int_equal(r32(zp + 0x218), 0);
	assert_int_equal(r32(zp + 0x21c), 0);
	assert_int_equal(r64(zp + 0x070), 0);
	free(initrd);
	free(img);
}

static void test_bzimage_load_kernel_too_big(void **state)
{
	struct guest *g = *state;
	size_t len;
	uint8_t *img = bz_make(&len);
	struct boot_config cfg = {.kernel = img, .kernel_len = len};

	w32(img + 0x260, 60 << 20); /* 16 MiB + 60 MiB > 64 MiB */
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -ENOMEM);
	assert_non_null(strstr(g->err.msg, "kernel needs guest memory"));
	free(img);
}

static void test_bzimage_load_cmdline_too_long(void **state)
{
	struct guest *g = *state;
	size_t len;
	uint8_t *img = bz_make(&len);
	char *cmdline = malloc(5000);
	struct boot_config cfg = {.kernel = img, .kernel_len = len, .cmdline = cmdline};

	assert_non_null(cmdline);
	memset(cmdline, 'a', BZ_CMDLINE_SIZE + 1);
	cmdline[BZ_CMDLINE_SIZE + 1] = 0;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "2048"));
	assert_non_null(strstr(g->err.msg, "2047"));
	cmdline[BZ_CMDLINE_SIZE] = 0;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), 0);
	assert_int_equal(strlen((const char *)gp(g, BOOT_CMDLINE_ADDR, 4096)), BZ_CMDLINE_SIZE);

	/* A kernel accepting more than kite's buffer is capped at the buffer. */
	w32(img + 0x238, 100000);
	memset(cmdline, 'b', 4999);
	cmdline[4999] = 0;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "4095"));
	free(cmdline);
	free(img);
}

static void test_boot_load_not_kernel(void **state)
{
	struct guest *g = *state;
	uint8_t junk[4096] = {1, 2, 3};
	struct boot_config cfg = {.kernel = junk, .kernel_len = 0};

	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "empty"));
	cfg.kernel_len = sizeof(junk);
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "not a kernel image"));
	cfg.kernel_len = 3;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_false(boot_is_elf((const uint8_t *)"\177EL", 3));
	assert_true(boot_is_elf((const uint8_t *)"\177ELF", 4));
}

/* ---- PVH: synthesized ELF64 / ELF32 ---- */

#define ELF_SEG_PADDR  0x200000u
#define ELF_SEG_FILESZ 512u
#define ELF_SEG_MEMSZ  4096u
#define ELF_ENTRY      0x200010u
#define ELF_NOTE_OFF   256u
#define ELF_SEG_OFF    512u
#define ELF_LEN	       (ELF_SEG_OFF + ELF_SEG_FILESZ)

struct elf_opts {
	int is64;
	int descsz;	     /* 4 or 8 */
	int with_note;	     /* in a PT_NOTE */
	int note_in_section; /* in an SHT_NOTE section instead */
};

/* Offsets of fields in the image, so tests can corrupt them. */
struct elf_layout {
	size_t phoff, phentsize, load_ph, note_ph;
};

static uint8_t seg_byte(size_t i)
{
	return (uint8_t)(0xa0 + i * 13);
}

static uint8_t *elf_make(const struct elf_opts *o, size_t *len, struct elf_layout *lay)
{
	uint8_t *img = calloc(1, ELF_LEN + 256);
	size_t ehsize = o->is64 ? 64 : 52, phent = o->is64 ? 56 : 32;
	unsigned phnum = o->with_note ? 2 : 1;
	uint8_t *ph, *n;

	assert_non_null(img);
	memcpy(img, "\177ELF", 4);
	img[4] = o->is64 ? 2 : 1;
	img[5] = 1;
	img[6] = 1;
	w16(img + 16, 2);		 /* ET_EXEC */
	w16(img + 18, o->is64 ? 62 : 3); /* EM_X86_64 / EM_386 */
	w32(img + 20, 1);
	if (o->is64) {
		w64(img + 24, 0xffffffff81000000ull);
		w64(img + 32, ehsize);
		w16(img + 52, (uint16_t)ehsize);
		w16(img + 54, (uint16_t)phent);
		w16(img + 56, (uint16_t)phnum);
	} else {
		w32(img + 24, 0xc1000000u);
		w32(img + 28, (uint32_t)ehsize);
		w16(img + 40, (uint16_t)ehsize);
		w16(img + 42, (uint16_t)phent);
		w16(img + 44, (uint16_t)phnum);
	}
	lay->phoff = ehsize;
	lay->phentsize = phent;
	lay->load_ph = ehsize;
	lay->note_ph = ehsize + phent;

	ph = img + lay->load_ph;
	w32(ph, 1); /* PT_LOAD */
	if (o->is64) {
		w32(ph + 4, 7);
		w64(ph + 8, ELF_SEG_OFF);
		w64(ph + 16, 0xffffffff81000000ull);
		w64(ph + 24, ELF_SEG_PADDR);
		w64(ph + 32, ELF_SEG_FILESZ);
		w64(ph + 40, ELF_SEG_MEMSZ);
		w64(ph + 48, 0x1000);
	} else {
		w32(ph + 4, ELF_SEG_OFF);
		w32(ph + 8, 0xc1000000u);
		w32(ph + 12, ELF_SEG_PADDR);
		w32(ph + 16, ELF_SEG_FILESZ);
		w32(ph + 20, ELF_SEG_MEMSZ);
		w32(ph + 24, 7);
		w32(ph + 28, 0x1000);
	}

	/* Another note first, so the walker must step over one. */
	n = img + ELF_NOTE_OFF;
	w32(n, 4);
	w32(n + 4, 5);
	w32(n + 8, 6); /* XEN_ELFNOTE_GUEST_OS */
	memcpy(n + 12, "Xen", 4);
	memcpy(n + 16, "linux", 5); /* padded to 8 */
	n += 24;
	w32(n, 4);
	w32(n + 4, (uint32_t)o->descsz);
	w32(n + 8, 18);
	memcpy(n + 12, "Xen", 4);
	if (o->descsz == 8)
		w64(n + 16, ELF_ENTRY);
	else
		w32(n + 16, ELF_ENTRY);
	size_t note_len = 24 + 16 + (size_t)o->descsz;

	if (o->with_note) {
		ph = img + lay->note_ph;
		w32(ph, 4); /* PT_NOTE */
		if (o->is64) {
			w64(ph + 8, ELF_NOTE_OFF);
			w64(ph + 32, note_len);
			w64(ph + 48, 4);
		} else {
			w32(ph + 4, ELF_NOTE_OFF);
			w32(ph + 16, (uint32_t)note_len);
			w32(ph + 28, 4);
		}
	}
	if (o->note_in_section) {
		/* Section table after the segment data: [0] null, [1] SHT_NOTE. */
		size_t shent = o->is64 ? 64 : 40, shoff = ELF_LEN;
		uint8_t *sh = img + shoff + shent;

		if (o->is64) {
			w64(img + 40, shoff);
			w16(img + 58, (uint16_t)shent);
			w16(img + 60, 2);
			w32(sh + 4, 7);
			w64(sh + 24, ELF_NOTE_OFF);
			w64(sh + 32, note_len);
			w64(sh + 48, 4);
		} else {
			w32(img + 32, (uint32_t)shoff);
			w16(img + 46, (uint16_t)shent);
			w16(img + 48, 2);
			w32(sh + 4, 7);
			w32(sh + 16, ELF_NOTE_OFF);
			w32(sh + 20, (uint32_t)note_len);
			w32(sh + 32, 4);
		}
		*len = shoff + 2 * shent;
	} else {
		*len = ELF_LEN;
	}
	for (size_t i = 0; i < ELF_SEG_FILESZ; i++)
		img[ELF_SEG_OFF + i] = seg_byte(i);
	return img;
}

static void test_pvh_find_entry(void **state)
{
	static const struct elf_opts variants[] = {
	    {.is64 = 1, .descsz = 8, .with_note = 1},
	    {.is64 = 1, .descsz = 4, .with_note = 1},
	    {.is64 = 0, .descsz = 4, .with_note = 1},
	    {.is64 = 1, .descsz = 4, .note_in_section = 1},
	    {.is64 = 0, .descsz = 4, .note_in_section = 1},
	};
	struct elf_layout lay;
	struct err err = {0};
	uint32_t entry;
	size_t len;

	(void)state;
	for (unsigned v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		uint8_t *img = elf_make(&variants[v], &len, &lay);

		entry = 0;
		assert_int_equal(pvh_find_entry(img, len, &entry, &err), 0);
		assert_int_equal(entry, ELF_ENTRY);
		free(img);
	}
}

static void test_pvh_no_note(void **state)
{
	struct elf_opts o = {.is64 = 1, .descsz = 4};
	struct elf_layout lay;
	struct err err = {0};
	uint32_t entry;
	size_t len;
	uint8_t *img = elf_make(&o, &len, &lay);

	(void)state;
	assert_int_equal(pvh_find_entry(img, len, &entry, &err), -ENOENT);
	free(img);

	/* A note of type 18 under another name is not the PVH entry. */
	o.with_note = 1;
	img = elf_make(&o, &len, &lay);
	memcpy(img + ELF_NOTE_OFF + 24 + 12, "Xem", 4);
	assert_int_equal(pvh_find_entry(img, len, &entry, &err), -ENOENT);
	free(img);
}

static void test_pvh_malformed(void **state)
{
	struct elf_opts o = {.is64 = 1, .descsz = 8, .with_note = 1};
	struct elf_layout lay;
	struct err err = {0};
	uint32_t entry;
	size_t len;
	uint8_t *img = elf_make(&o, &len, &lay);
	uint8_t *copy = malloc(len);

	(void)state;
	assert_non_null(copy);
	/* phoff past the end. */
	memcpy(copy, img, len);
	w64(copy + 32, len + 100);
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	/* phoff so large that phoff + size wraps. */
	w64(copy + 32, UINT64_MAX - 8);
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	/* phnum huge. */
	memcpy(copy, img, len);
	w16(copy + 56, 0xfffe);
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	w16(copy + 56, 0xffff);
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	/* phentsize too small to hold a header. */
	memcpy(copy, img, len);
	w16(copy + 54, 8);
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	/* Note namesz / descsz that would overflow a 32-bit sum. */
	memcpy(copy, img, len);
	w32(copy + ELF_NOTE_OFF, 0xfffffffd);
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	memcpy(copy, img, len);
	w32(copy + ELF_NOTE_OFF + 24 + 4, 0xfffffffc);
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	/* PT_NOTE area beyond the file, and wrapping. */
	memcpy(copy, img, len);
	w64(copy + lay.note_ph + 32, len);
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	w64(copy + lay.note_ph + 8, UINT64_MAX - 4);
	w64(copy + lay.note_ph + 32, 16);
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	/* Entry above 4 GiB; odd descriptor size. */
	memcpy(copy, img, len);
	w64(copy + ELF_NOTE_OFF + 24 + 16, 0x100000000ull);
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "4 GiB"));
	memcpy(copy, img, len);
	w32(copy + ELF_NOTE_OFF + 24 + 4, 2);
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	/* Not x86; big-endian; bad class; truncated header. */
	memcpy(copy, img, len);
	w16(copy + 18, 183);
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	memcpy(copy, img, len);
	copy[5] = 2;
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	memcpy(copy, img, len);
	copy[4] = 3;
	assert_int_equal(pvh_find_entry(copy, len, &entry, &err), -EINVAL);
	assert_int_equal(pvh_find_entry(img, 40, &entry, &err), -EINVAL);
	assert_int_equal(pvh_find_entry(img, 0, &entry, &err), -EINVAL);
	/* Every prefix: no crash, no over-read (under ASan), never success too early. */
	for (size_t n = 0; n < ELF_NOTE_OFF + 24 + 16 + 8; n++) {
		int ret = pvh_find_entry(img, n, &entry, &err);

		assert_true(ret == -EINVAL || ret == -ENOENT);
	}
	/* Single-byte corruption anywhere in the headers and notes: any result but a crash. */
	for (size_t i = 0; i < ELF_SEG_OFF; i++) {
		for (unsigned b = 0; b < 8; b++) {
			memcpy(copy, img, len);
			copy[i] ^= (uint8_t)(1u << b);
			(void)pvh_find_entry(copy, len, &entry, &err);
		}
	}
	free(copy);
	free(img);
}

static void test_pvh_load(void **state)
{
	static const char cmdline[] = "console=hvc0";
	struct elf_opts o = {.is64 = 1, .descsz = 8, .with_note = 1};
	struct guest *g = *state;
	struct elf_layout lay;
	uint8_t initrd[6000];
	size_t len;
	uint8_t *img = elf_make(&o, &len, &lay);
	struct boot_config cfg = {
	    .kernel = img,
	    .kernel_len = len,
	    .initrd = initrd,
	    .initrd_len = sizeof(initrd),
	    .cmdline = cmdline,
	    .rsdp_gpa = 0xe0000,
	};
	const uint8_t *si, *mod, *seg;
	uint64_t rd;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 3);
	/* Dirty the bss so zeroing is observable. */
	memset(gpa_to_hva(&g->mem, ELF_SEG_PADDR, ELF_SEG_MEMSZ), 0xcc, ELF_SEG_MEMSZ);
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), 0);
	assert_int_equal(g->kind, BOOT_PVH);

	seg = gp(g, ELF_SEG_PADDR, ELF_SEG_MEMSZ);
	assert_memory_equal(seg, img + ELF_SEG_OFF, ELF_SEG_FILESZ);
	for (size_t i = ELF_SEG_FILESZ; i < ELF_SEG_MEMSZ; i++)
		assert_int_equal(seg[i], 0);

	si = gp(g, BOOT_START_INFO_ADDR, 0x38);
	assert_int_equal(r32(si), 0x336ec578);
	assert_int_equal(r32(si + 4), 1);
	assert_int_equal(r32(si + 8), 0);
	assert_int_equal(r32(si + 0x0c), 1);
	assert_int_equal(r64(si + 0x18), BOOT_CMDLINE_ADDR);
	assert_string_equal((const char *)gp(g, BOOT_CMDLINE_ADDR, sizeof(cmdline)), cmdline);
	assert_int_equal(r64(si + 0x20), 0xe0000);
	/* Module list and memory map sit between start info and the zero page. */
	assert_true(r64(si + 0x10) >= BOOT_START_INFO_ADDR + 0x38);
	assert_true(r64(si + 0x10) + 32 <= BOOT_ZERO_PAGE_ADDR);
	mod = gp(g, r64(si + 0x10), 32);
	rd = r64(mod);
	assert_int_equal(r64(mod + 8), sizeof(initrd));
	assert_int_equal(r64(mod + 16), 0);
	assert_int_equal(rd % 4096, 0);
	assert_true(rd >= ELF_SEG_PADDR + ELF_SEG_MEMSZ);
	assert_true(rd + sizeof(initrd) <= GUEST_MEM);
	assert_memory_equal(gp(g, rd, sizeof(initrd)), initrd, sizeof(initrd));
	assert_true(r64(si + 0x28) >= BOOT_START_INFO_ADDR + 0x38);
	assert_true(r64(si + 0x28) + r32(si + 0x30) * 24 <= BOOT_ZERO_PAGE_ADDR);
	check_e820(g, gp(g, r64(si + 0x28), r32(si + 0x30) * 24), r32(si + 0x30), 24);

	assert_int_equal(g->cpu.rip, ELF_ENTRY);
	assert_int_equal(g->cpu.gpr[X86_RBX], BOOT_START_INFO_ADDR);
	assert_int_equal(g->cpu.cr0, X86_CR0_PE | X86_CR0_ET);
	assert_int_equal(g->cpu.cr4, 0);
	assert_int_equal(g->cpu.efer, 0);
	assert_int_equal(g->cpu.cs.db, 1);
	assert_int_equal(g->cpu.cs.l, 0);
	assert_int_equal(g->cpu.cs.selector, 0x10);
	assert_int_equal(g->cpu.ds.selector, 0x18);
	assert_int_equal(g->cpu.tr.selector, 0x20);
	assert_int_equal(g->cpu.rflags, 2);
	assert_int_equal(r64(gp(g, BOOT_GDT_ADDR + 0x10, 8)), 0x00cf9b000000ffffull);
	free(img);

	/* The same from an ELF32 kernel, without an initrd. */
	o.is64 = 0;
	o.descsz = 4;
	img = elf_make(&o, &len, &lay);
	cfg.kernel = img;
	cfg.kernel_len = len;
	cfg.initrd = NULL;
	cfg.initrd_len = 0;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), 0);
	assert_int_equal(g->kind, BOOT_PVH);
	assert_int_equal(g->cpu.rip, ELF_ENTRY);
	assert_int_equal(r32(si + 0x0c), 0);
	assert_memory_equal(gp(g, ELF_SEG_PADDR, ELF_SEG_FILESZ), img + ELF_SEG_OFF,
			    ELF_SEG_FILESZ);
	free(img);
}

static void test_pvh_load_bad_segments(void **state)
{
	struct elf_opts o = {.is64 = 1, .descsz = 8, .with_note = 1};
	struct guest *g = *state;
	struct elf_layout lay;
	size_t len;
	uint8_t *img = elf_make(&o, &len, &lay);
	uint8_t *ph = img + lay.load_ph;
	struct boot_config cfg = {.kernel = img, .kernel_len = len};

	/* Outside RAM. */
	w64(ph + 24, 0x10000000);
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "outside guest RAM"));
	/* Straddling the end of RAM. */
	w64(ph + 24, GUEST_MEM - 2048);
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	/* Wrapping. */
	w64(ph + 24, UINT64_MAX - 100);
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	/* Over the loader's own boot data, and over the ACPI area. */
	w64(ph + 24, BOOT_ZERO_PAGE_ADDR);
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "overlaps"));
	w64(ph + 24, MEM_BIOS_START - 1024);
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	/* File bytes past the end of the file; filesz > memsz. */
	w64(ph + 24, ELF_SEG_PADDR);
	w64(ph + 8, len - 100);
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	w64(ph + 8, ELF_SEG_OFF);
	w64(ph + 40, ELF_SEG_FILESZ - 1);
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	w64(ph + 40, ELF_SEG_MEMSZ);
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), 0);
	/* Segment placed so high no initrd fits above it. */
	{
		uint8_t initrd[8192] = {0};

		cfg.initrd = initrd;
		cfg.initrd_len = sizeof(initrd);
		w64(ph + 24, GUEST_MEM - ELF_SEG_MEMSZ - 4096);
		assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -ENOSPC);
		assert_non_null(strstr(g->err.msg, "initrd"));
	}
	free(img);
}

static void test_pvh_load_no_note(void **state)
{
	struct elf_opts o = {.is64 = 1, .descsz = 8};
	struct guest *g = *state;
	struct elf_layout lay;
	size_t len;
	uint8_t *img = elf_make(&o, &len, &lay);
	struct boot_config cfg = {.kernel = img, .kernel_len = len};

	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)"));
	free(img);
}

/* ---- multiboot: a.out-kludge images built here ---- */

#define MB_LOAD	 0x200000u
#define MB_ENTRY (MB_LOAD + 0x40)
#define MB_CODE	 256u /* file bytes */
#define MB_BSS	 0x1000u

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* A header at offset 16 (the file's first 16 bytes load too), code bytes after it. */
static uint8_t *mb_make(uint32_t flags, size_t *len)
{
	uint8_t *img = calloc(1, MB_CODE);
	uint32_t *h = (uint32_t *)(img + 16);

	assert_non_null(img);
	h[0] = 0x1badb002;
	h[1] = flags;
	h[2] = -(0x1badb002 + flags);
	h[3] = MB_LOAD + 16; /* header_addr */
	h[4] = MB_LOAD;	     /* load_addr */
	h[5] = MB_LOAD + MB_CODE;
	h[6] = MB_LOAD + MB_CODE + MB_BSS;
	h[7] = MB_ENTRY;
	memset(img + 64, 0x90, MB_CODE - 64);
	*len = MB_CODE;
	return img;
}

static void test_multiboot_header(void **state)
{
	struct multiboot_header h;
	struct err err = {0};
	size_t len;
	uint8_t *img = mb_make(0x10003, &len);

	(void)state;
	assert_int_equal(multiboot_find_header(img, len, &h, &err), 0);
	assert_int_equal(h.offset, 16);
	assert_int_equal(h.flags, 0x10003);
	assert_int_equal(h.load_addr, MB_LOAD);
	assert_int_equal(h.entry_addr, MB_ENTRY);
	/* A checksum that does not add up is no header. */
	img[24]++;
	assert_int_equal(multiboot_find_header(img, len, &h, &err), -ENOENT);
	free(img);
	/* A requirement kite does not know (bit 5) is refused. */
	img = mb_make(0x10023, &len);
	assert_int_equal(multiboot_find_header(img, len, &h, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "features 0x20"));
	free(img);
	/* Cut off by the end of the file: in its magic, in its address fields. */
	img = mb_make(0x10003, &len);
	assert_int_equal(multiboot_find_header(img, 20, &h, &err), -ENOENT);
	assert_int_equal(multiboot_find_header(img, 40, &h, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "truncated"));
	free(img);
}

/*
 * The BIOS state a multiboot kernel gets (boot/bios.c): entry runs through
 * "mov al, v; out p, al" pairs that program the PICs and the PIT as a BIOS
 * does, then "mov eax, 0x2BADB002; jmp entry"; the IVT leads every vector
 * to an IRET, the PICs' vectors through an EOI first.
 */
static void check_bios(struct guest *g, uint32_t entry)
{
	static const uint8_t writes[][2] = {
	    {0x20, 0x11}, {0xa0, 0x11}, {0x21, 0x08}, {0xa1, 0x70}, {0x21, 0x04},
	    {0xa1, 0x02}, {0x21, 0x01}, {0xa1, 0x01}, {0x21, 0xfa}, {0xa1, 0xff},
	    {0x43, 0x36}, {0x40, 0x00}, {0x40, 0x00},
	};
	const uint8_t *code = gp(g, g->cpu.rip, 128), *p = code, *ivt = gp(g, 0, 1024);
	uint32_t next;

	assert_true(g->cpu.rip >= MEM_BIOS_STUBS && g->cpu.rip < MEM_BIOS_END);
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++, p += 4) {
		assert_int_equal(p[0], 0xb0);
		assert_int_equal(p[1], writes[i][1]);
		assert_int_equal(p[2], 0xe6);
		assert_int_equal(p[3], writes[i][0]);
	}
	assert_int_equal(p[0], 0xb8);
	assert_int_equal(r32(p + 1), 0x2badb002);
	assert_int_equal(p[5], 0xe9);
	next = (uint32_t)g->cpu.rip + (uint32_t)(p + 10 - code); /* after the jmp */
	assert_int_equal(next + r32(p + 6), entry);
	/* The timer's vector at the PC/AT's F000:FEA5; an EOI, then IRET. */
	assert_int_equal(r32(ivt + 4 * 0x08), 0xf000fea5);
	assert_memory_equal(gp(g, 0xffea5, 7), "\x50\xb0\x20\xe6\x20\x58\xcf", 7);
	/* The slave's vectors EOI both PICs; the rest is the dummy IRET at F000:FF53. */
	assert_memory_equal(gp(g, 0xf0000 + r16(ivt + 4 * 0x70), 9),
			    "\x50\xb0\x20\xe6\xa0\xe6\x20\x58\xcf", 9);
	assert_int_equal(r32(ivt + 4 * 0x77), r32(ivt + 4 * 0x70));
	for (unsigned v = 0; v < 256; v++)
		if (v < 0x08 || (v > 0x0f && v < 0x70) || v > 0x77)
			assert_int_equal(r32(ivt + 4 * v), 0xf000ff53);
	assert_int_equal(*gp(g, 0xfff53, 1), 0xcf);
}

static void test_multiboot_load(void **state)
{
	struct guest *g = *state;
	static const char initrd[] = "module bytes";
	size_t len;
	uint8_t *img = mb_make(0x10003, &len);
	struct boot_config cfg = {.kernel = img,
				  .kernel_len = len,
				  .initrd = (const uint8_t *)initrd,
				  .initrd_len = sizeof(initrd),
				  .cmdline = "a b"};
	const uint8_t *mbi, *mods, *mmap;
	uint32_t mbi_at;

	memset((uint8_t *)gp(g, MB_LOAD + MB_CODE, MB_BSS), 0xee, MB_BSS);
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), 0);
	assert_int_equal(g->kind, BOOT_MULTIBOOT);
	check_bios(g, MB_ENTRY);
	assert_int_equal(g->cpu.gpr[X86_RAX], 0x2badb002);
	assert_int_equal(g->cpu.cr0 & (X86_CR0_PE | X86_CR0_PG), X86_CR0_PE);
	assert_false(g->cpu.cs.l);
	assert_true(g->cpu.cs.db);
	assert_memory_equal(gp(g, MB_LOAD, MB_CODE), img, MB_CODE);
	assert_true(all_zero(gp(g, MB_LOAD + MB_CODE, MB_BSS), MB_BSS));
	mbi_at = (uint32_t)g->cpu.gpr[X86_RBX];
	/* After the kernel and its bss, below 4 GiB. */
	assert_true(mbi_at >= MB_LOAD + MB_CODE + MB_BSS);
	mbi = gp(g, mbi_at, 88);
	assert_int_equal(r32(mbi), (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
	assert_int_equal(r32(mbi + 4), 639);
	assert_int_equal(r32(mbi + 8), (GUEST_MEM - 0x100000) >> 10);
	assert_string_equal((const char *)gp(g, r32(mbi + 16), 16), "kernel a b");
	assert_string_equal((const char *)gp(g, r32(mbi + 64), 8), "kite");
	assert_int_equal(r32(mbi + 20), 1);
	mods = gp(g, r32(mbi + 24), 16);
	assert_int_equal(r32(mods) & 0xfff, 0);
	assert_int_equal(r32(mods + 4) - r32(mods), sizeof(initrd));
	assert_memory_equal(gp(g, r32(mods), sizeof(initrd)), initrd, sizeof(initrd));
	assert_true(r32(mods) >= mbi_at);
	assert_string_equal((const char *)gp(g, r32(mods + 8), 8), "initrd");
	/* Entries of 24 bytes whose first word says 20. */
	mmap = gp(g, r32(mbi + 48), r32(mbi + 44));
	for (unsigned i = 0; i < r32(mbi + 44) / 24; i++)
		assert_int_equal(r32(mmap + 24 * i), 20);
	check_e820(g, mmap + 4, r32(mbi + 44) / 24, 24);
	free(img);
}

static void test_multiboot_load_bad(void **state)
{
	struct guest *g = *state;
	size_t len;
	uint8_t *img = mb_make(0x10003, &len);
	uint32_t *h = (uint32_t *)(img + 16);
	struct boot_config cfg = {.kernel = img, .kernel_len = len};

	/* Loaded from before the file's start. */
	h[4] = MB_LOAD - 0x1000;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "before the file's start"));
	/* More file bytes asked than the file has. */
	h[4] = MB_LOAD;
	h[5] = MB_LOAD + 2 * MB_CODE;
	h[6] = 0;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "truncated"));
	/* A bss that ends before the loaded part does. */
	h[5] = MB_LOAD + MB_CODE;
	h[6] = MB_LOAD + 8;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "bss end"));
	/* Onto the ACPI tables, onto the BIOS stubs. */
	h[3] = 0xf0010;
	h[4] = 0xf0000;
	h[5] = 0xf0000 + MB_CODE;
	h[6] = 0;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "ACPI tables"));
	h[3] = MEM_BIOS_STUBS + 16;
	h[4] = MEM_BIOS_STUBS;
	h[5] = MEM_BIOS_STUBS + MB_CODE;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "BIOS stubs"));
	/* Past the end of guest RAM. */
	h[3] = GUEST_MEM - 0x10 + 16;
	h[4] = GUEST_MEM - 0x10;
	h[5] = GUEST_MEM - 0x10 + MB_CODE;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "outside guest RAM"));
	free(img);
	/* Neither ELF nor load addresses. */
	img = mb_make(0x3, &len);
	cfg.kernel = img;
	assert_int_equal(boot_load(&g->mem, &cfg, &g->cpu, &g->kind, &g->err), -EINVAL);
	assert_non_null(strstr(g->err.msg, "gives no load addresses"));
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bzimage_parse_valid),
	    cmocka_unit_test(test_bzimage_parse_truncated),
	    cmocka_unit_test(test_bzimage_parse_bad_magic),
	    cmocka_unit_test(test_bzimage_parse_old_protocol),
	    cmocka_unit_test(test_bzimage_parse_no_64bit),
	    cmocka_unit_test_setup_teardown(test_bzimage_load, guest_setup, guest_teardown),
	    cmocka_unit_test_setup_teardown(test_bzimage_load_initrd_limits, guest_setup,
					    guest_teardown),
	    cmocka_unit_test_setup_teardown(test_bzimage_load_kernel_too_big, guest_setup,
					    guest_teardown),
	    cmocka_unit_test_setup_teardown(test_bzimage_load_cmdline_too_long, guest_setup,
					    guest_teardown),
	    cmocka_unit_test_setup_teardown(test_boot_load_not_kernel, guest_setup, guest_teardown),
	    cmocka_unit_test(test_pvh_find_entry),
	    cmocka_unit_test(test_pvh_no_note),
	    cmocka_unit_test(test_pvh_malformed),
	    cmocka_unit_test_setup_teardown(test_pvh_load, guest_setup, guest_teardown),
	    cmocka_unit_test_setup_teardown(test_pvh_load_bad_segments, guest_setup,
					    guest_teardown),
	    cmocka_unit_test_setup_teardown(test_pvh_load_no_note, guest_setup, guest_teardown),
	    cmocka_unit_test(test_multiboot_header),
	    cmocka_unit_test_setup_teardown(test_multiboot_load, guest_setup, guest_teardown),
	    cmocka_unit_test_setup_teardown(test_multiboot_load_bad, guest_setup, guest_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
