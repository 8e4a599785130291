/* tests/unit/test_mmu.c: the soft MMU's page walks, permissions, A/D bits and #PF codes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "base/x86.h"
#include "memory/memory.h"
#include "soft/mmu.h"

#define PML4 0x10000ull
#define PDPT 0x11000ull
#define PD 0x12000ull
#define PT 0x13000ull
#define P X86_PTE_P
#define RW X86_PTE_RW
#define US X86_PTE_US
#define PS X86_PTE_PS
#define NX X86_PTE_NX

struct fixture {
	struct guest_memory mem;
};

static int setup(void **state)
{
	static struct fixture f;
	struct err err = { 0 };

	if (memory_init(&f.mem, 64ull << 20, &err) < 0)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	memory_destroy(&f->mem);
	return 0;
}

static uint64_t *ent(struct fixture *f, uint64_t gpa)
{
	return gpa_to_hva(&f->mem, gpa, 8);
}

static uint32_t *ent32(struct fixture *f, uint64_t gpa)
{
	return gpa_to_hva(&f->mem, gpa, 4);
}

static struct mmu_ctx long_mode(bool user)
{
	return (struct mmu_ctx){
		.cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_WP,
		.cr3 = PML4,
		.cr4 = X86_CR4_PAE,
		.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE,
		.user = user,
	};
}

/* Maps la 0x0000_7f80_0040_3000 -> 0x200000 through all four levels with flags. */
static uint64_t map4k(struct fixture *f, uint64_t leaf_flags, uint64_t upper_flags)
{
	uint64_t la = 0x00007f8000403000ull;

	memset(gpa_to_hva(&f->mem, PML4, 0x4000), 0, 0x4000);
	*ent(f, PML4 + ((la >> 39) & 511) * 8) = PDPT | upper_flags;
	*ent(f, PDPT + ((la >> 30) & 511) * 8) = PD | upper_flags;
	*ent(f, PD + ((la >> 21) & 511) * 8) = PT | upper_flags;
	*ent(f, PT + ((la >> 12) & 511) * 8) = 0x200000 | leaf_flags;
	return la;
}

static void test_no_paging(void **state)
{
	struct fixture *f = *state;
	struct mmu_ctx ctx = { .cr0 = X86_CR0_PE };
	struct mmu_result r;

	assert_int_equal(mmu_translate(&f->mem, &ctx, 0x100123, MMU_READ, &r), 0);
	assert_int_equal(r.gpa, 0x100123);
	assert_ptr_equal(r.hva, gpa_to_hva(&f->mem, 0x100123, 1));
	/* Linear addresses wrap at 4 GiB outside long mode. */
	assert_int_equal(mmu_translate(&f->mem, &ctx, 0x100000123ull, MMU_READ, &r), 0);
	assert_int_equal(r.gpa, 0x123);
	/* Beyond RAM: a translation without a host pointer (MMIO). */
	assert_int_equal(mmu_translate(&f->mem, &ctx, 0xfee00020, MMU_READ, &r), 0);
	assert_null(r.hva);
}

static void test_4level_walk_sets_accessed_and_dirty(void **state)
{
	struct fixture *f = *state;
	struct mmu_ctx ctx = long_mode(false);
	struct mmu_result r;
	uint64_t la = map4k(f, P | RW, P | RW);
	uint64_t pte_gpa = PT + ((la >> 12) & 511) * 8;

	assert_int_equal(mmu_translate(&f->mem, &ctx, la + 0x45, MMU_READ, &r), 0);
	assert_int_equal(r.gpa, 0x200045);
	assert_true(*ent(f, PML4 + ((la >> 39) & 511) * 8) & X86_PTE_A);
	assert_true(*ent(f, pte_gpa) & X86_PTE_A);
	assert_false(*ent(f, pte_gpa) & X86_PTE_D);
	assert_int_equal(mmu_translate(&f->mem, &ctx, la, MMU_WRITE, &r), 0);
	assert_true(*ent(f, pte_gpa) & X86_PTE_D);
	/* Dirty goes on the leaf only. */
	assert_false(*ent(f, PD + ((la >> 21) & 511) * 8) & X86_PTE_D);
}

static void test_not_present_and_error_codes(void **state)
{
	struct fixture *f = *state;
	struct mmu_ctx ctx = long_mode(true);
	struct mmu_result r;
	uint64_t la = map4k(f, 0, P | RW | US);

	assert_int_equal(mmu_translate(&f->mem, &ctx, la, MMU_WRITE, &r), -EFAULT);
	assert_int_equal(r.error_code, PF_WRITE | PF_USER);
	assert_int_equal(mmu_translate(&f->mem, &ctx, la, MMU_FETCH, &r), -EFAULT);
	assert_int_equal(r.error_code, PF_USER | PF_FETCH);
	/* An untouched PML4 slot: not present at the top level. */
	assert_int_equal(mmu_translate(&f->mem, &ctx, 0x1000, MMU_READ, &r), -EFAULT);
	assert_int_equal(r.error_code, PF_USER);
	/* A failed walk sets no accessed bits below the fault. */
	assert_false(*ent(f, PT + ((la >> 12) & 511) * 8) & X86_PTE_A);
}

static void test_user_supervisor_and_write_protect(void **state)
{
	struct fixture *f = *state;
	struct mmu_ctx user = long_mode(true), kernel = long_mode(false);
	struct mmu_result r;
	uint64_t la;

	/* Supervisor page: user access faults with P set. */
	la = map4k(f, P | RW, P | RW);
	assert_int_equal(mmu_translate(&f->mem, &user, la, MMU_READ, &r), -EFAULT);
	assert_int_equal(r.error_code, PF_PRESENT | PF_USER);

	/* Read-only user page: user write faults; supervisor write only with CR0.WP. */
	la = map4k(f, P | US, P | RW | US);
	assert_int_equal(mmu_translate(&f->mem, &user, la, MMU_READ, &r), 0);
	assert_int_equal(mmu_translate(&f->mem, &user, la, MMU_WRITE, &r), -EFAULT);
	assert_int_equal(r.error_code, PF_PRESENT | PF_WRITE | PF_USER);
	assert_int_equal(mmu_translate(&f->mem, &kernel, la, MMU_WRITE, &r), -EFAULT);
	assert_int_equal(r.error_code, PF_PRESENT | PF_WRITE);
	kernel.cr0 &= ~X86_CR0_WP;
	assert_int_equal(mmu_translate(&f->mem, &kernel, la, MMU_WRITE, &r), 0);

	/* R/W clear at an upper level makes the whole range read-only. */
	la = map4k(f, P | RW | US, P | US);
	*ent(f, PML4 + ((la >> 39) & 511) * 8) |= RW;
	assert_int_equal(mmu_translate(&f->mem, &user, la, MMU_WRITE, &r), -EFAULT);

	/* SMEP and SMAP: supervisor fetch from / data access to user pages. */
	la = map4k(f, P | RW | US, P | RW | US);
	kernel = long_mode(false);
	kernel.cr4 |= X86_CR4_SMEP | X86_CR4_SMAP;
	assert_int_equal(mmu_translate(&f->mem, &kernel, la, MMU_FETCH, &r), -EFAULT);
	assert_int_equal(r.error_code, PF_PRESENT | PF_FETCH);
	assert_int_equal(mmu_translate(&f->mem, &kernel, la, MMU_READ, &r), -EFAULT);
	kernel.ac = true;
	assert_int_equal(mmu_translate(&f->mem, &kernel, la, MMU_READ, &r), 0);
}

static void test_nx_and_reserved_bits(void **state)
{
	struct fixture *f = *state;
	struct mmu_ctx ctx = long_mode(false);
	struct mmu_result r;
	uint64_t la = map4k(f, P | RW | NX, P | RW);

	assert_int_equal(mmu_translate(&f->mem, &ctx, la, MMU_READ, &r), 0);
	assert_int_equal(mmu_translate(&f->mem, &ctx, la, MMU_FETCH, &r), -EFAULT);
	assert_int_equal(r.error_code, PF_PRESENT | PF_FETCH);
	/* Without EFER.NXE the NX bit is reserved. */
	ctx.efer &= ~X86_EFER_NXE;
	assert_int_equal(mmu_translate(&f->mem, &ctx, la, MMU_READ, &r), -EFAULT);
	assert_int_equal(r.error_code, PF_PRESENT | PF_RSVD);
	/* A physical address beyond MAXPHYADDR is reserved. */
	ctx = long_mode(false);
	la = map4k(f, P | RW | (1ull << SOFT_PHYS_BITS), P | RW);
	assert_int_equal(mmu_translate(&f->mem, &ctx, la, MMU_WRITE, &r), -EFAULT);
	assert_int_equal(r.error_code, PF_PRESENT | PF_RSVD | PF_WRITE);
	/* PS in a PML4 entry is reserved. */
	la = map4k(f, P | RW, P | RW);
	*ent(f, PML4 + ((la >> 39) & 511) * 8) |= PS;
	assert_int_equal(mmu_translate(&f->mem, &ctx, la, MMU_READ, &r), -EFAULT);
	assert_true(r.error_code & PF_RSVD);
}

static void test_large_pages(void **state)
{
	struct fixture *f = *state;
	struct mmu_ctx ctx = long_mode(false);
	struct mmu_result r;
	uint64_t la = map4k(f, P | RW, P | RW);
	uint64_t *pde = ent(f, PD + ((la >> 21) & 511) * 8);
	uint64_t *pdpte = ent(f, PDPT + ((la >> 30) & 511) * 8);

	/* 2 MiB page at 0x600000. */
	*pde = 0x600000 | P | RW | PS;
	assert_int_equal(mmu_translate(&f->mem, &ctx, la + 0x12, MMU_WRITE, &r), 0);
	assert_int_equal(r.gpa, 0x600000 + (la & 0x1fffff) + 0x12);
	assert_true(*pde & X86_PTE_D);
	/* Low address bits of a 2 MiB page are reserved (bit 12 is PAT). */
	*pde = 0x601000 | P | RW | PS;
	assert_int_equal(mmu_translate(&f->mem, &ctx, la, MMU_READ, &r), 0);
	*pde = 0x602000 | P | RW | PS;
	assert_int_equal(mmu_translate(&f->mem, &ctx, la, MMU_READ, &r), -EFAULT);
	assert_true(r.error_code & PF_RSVD);
	/* 1 GiB page at 0 (RAM is 64 MiB: la's offset within it must be small). */
	*pdpte = 0x0 | P | RW | PS;
	assert_int_equal(mmu_translate(&f->mem, &ctx, la, MMU_READ, &r), 0);
	assert_int_equal(r.gpa, la & 0x3fffffff);
}

static void test_pae_and_legacy_32bit(void **state)
{
	struct fixture *f = *state;
	struct mmu_ctx pae = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = PDPT, .cr4 = X86_CR4_PAE };
	struct mmu_ctx legacy = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = PD, .cr4 = X86_CR4_PSE };
	struct mmu_result r;
	uint32_t la = 0xc0403000;

	memset(gpa_to_hva(&f->mem, PML4, 0x4000), 0, 0x4000);
	/* PAE: PDPTE[3] -> PD -> PT -> 0x300000. */
	*ent(f, PDPT + 3 * 8) = PD | P;
	*ent(f, PD + ((la >> 21) & 511) * 8) = PT | P | RW;
	*ent(f, PT + ((la >> 12) & 511) * 8) = 0x300000 | P | RW;
	assert_int_equal(mmu_translate(&f->mem, &pae, la + 7, MMU_WRITE, &r), 0);
	assert_int_equal(r.gpa, 0x300007);
	/* R/W in a PAE PDPTE is reserved. */
	*ent(f, PDPT + 3 * 8) = PD | P | RW;
	assert_int_equal(mmu_translate(&f->mem, &pae, la, MMU_READ, &r), -EFAULT);
	assert_true(r.error_code & PF_RSVD);

	/* Legacy: 4 KiB through PDE/PTE, and a 4 MiB PSE page. */
	memset(gpa_to_hva(&f->mem, PML4, 0x4000), 0, 0x4000);
	*ent32(f, PD + (la >> 22) * 4) = (uint32_t)(PT | P | RW);
	*ent32(f, PT + ((la >> 12) & 1023) * 4) = 0x500000 | P | RW;
	assert_int_equal(mmu_translate(&f->mem, &legacy, la + 9, MMU_READ, &r), 0);
	assert_int_equal(r.gpa, 0x500009);
	assert_true(*ent32(f, PT + ((la >> 12) & 1023) * 4) & X86_PTE_A);
	*ent32(f, PD + (la >> 22) * 4) = 0x800000 | P | RW | PS;
	assert_int_equal(mmu_translate(&f->mem, &legacy, la, MMU_READ, &r), 0);
	assert_int_equal(r.gpa, 0x800000 + (la & 0x3fffff));
}

static void test_tables_outside_ram(void **state)
{
	struct fixture *f = *state;
	struct mmu_ctx ctx = long_mode(false);
	struct mmu_result r;

	/* CR3 pointing into the MMIO hole: entries read as all-ones -> reserved. */
	ctx.cr3 = 0xfee00000;
	assert_int_equal(mmu_translate(&f->mem, &ctx, 0x1000, MMU_READ, &r), -EFAULT);
	assert_true(r.error_code & PF_RSVD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_paging),
		cmocka_unit_test(test_4level_walk_sets_accessed_and_dirty),
		cmocka_unit_test(test_not_present_and_error_codes),
		cmocka_unit_test(test_user_supervisor_and_write_protect),
		cmocka_unit_test(test_nx_and_reserved_bits),
		cmocka_unit_test(test_large_pages),
		cmocka_unit_test(test_pae_and_legacy_32bit),
		cmocka_unit_test(test_tables_outside_ram),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
