/* soft/mmu.c: guest page walks for the soft engine (none, 32-bit, PAE, 4-level). */
#include "soft/mmu.h"

#include <errno.h>

#include "base/x86.h"

#define PAGE_SHIFT 12
#define PAGE_MASK_4K 0xfffull
#define PHYS_MASK (((1ull << SOFT_PHYS_BITS) - 1) & ~PAGE_MASK_4K)
/* Bits 62:52 are ignored (software available) in 64-bit entries, not reserved. */
#define RSVD_HIGH(nx_ok) ((~((1ull << SOFT_PHYS_BITS) - 1) & 0x000fffffffffffffull) | \
			  ((nx_ok) ? 0 : X86_PTE_NX))

/* Permissions accumulated over the walk: every level must allow the access. */
struct walk {
	bool writable;
	bool user;
	bool nx;
};

/*
 * Reads one paging-structure entry. Entries outside RAM read as all-ones,
 * as unclaimed MMIO does, which the reserved-bit checks then reject.
 */
static uint64_t *entry_ptr(const struct guest_memory *mem, uint64_t gpa, unsigned size)
{
	return gpa_to_hva(mem, gpa, size);
}

static uint64_t entry_load(uint64_t *p, unsigned size)
{
	if (!p)
		return ~0ull;
	if (size == 4)
		return __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Sets A (and D) as the walk needs them; other vCPUs may walk the same tables. */
static void entry_mark(uint64_t *p, unsigned size, uint64_t old, uint64_t bits)
{
	if (!p || (old & bits) == bits)
		return;
	if (size == 4)
		__atomic_fetch_or((uint32_t *)p, (uint32_t)bits, __ATOMIC_RELAXED);
	else
		__atomic_fetch_or(p, bits, __ATOMIC_RELAXED);
}

static uint32_t fault_code(const struct mmu_ctx *ctx, enum mmu_access acc, uint32_t why)
{
	uint32_t code = why;

	if (acc == MMU_WRITE)
		code |= PF_WRITE;
	if (ctx->user)
		code |= PF_USER;
	/* I/D is reported only where instruction fetches can be refused. */
	if (acc == MMU_FETCH && ((ctx->efer & X86_EFER_NXE) || (ctx->cr4 & X86_CR4_SMEP)))
		code |= PF_FETCH;
	return code;
}

/* Applies the final permission checks to a completed walk. */
static uint32_t check_access(const struct mmu_ctx *ctx, const struct walk *w, enum mmu_access acc)
{
	if (ctx->user && !w->user)
		return PF_PRESENT;
	if (acc == MMU_WRITE && !w->writable && (ctx->user || (ctx->cr0 & X86_CR0_WP)))
		return PF_PRESENT;
	if (acc == MMU_FETCH && w->nx && (ctx->efer & X86_EFER_NXE))
		return PF_PRESENT;
	if (!ctx->user && w->user) {
		if (acc == MMU_FETCH && (ctx->cr4 & X86_CR4_SMEP))
			return PF_PRESENT;
		if (acc != MMU_FETCH && (ctx->cr4 & X86_CR4_SMAP) && !ctx->ac)
			return PF_PRESENT;
	}
	return 0;
}

static void walk_accumulate(struct walk *w, uint64_t e)
{
	w->writable &= !!(e & X86_PTE_RW);
	w->user &= !!(e & X86_PTE_US);
	w->nx |= !!(e & X86_PTE_NX);
}

/*
 * A walk over 64-bit entries: levels 4 (PML4), 3 (PDPT), 2 (PD), 1 (PT) for
 * 4-level paging; PAE starts at level 3 with 4 PDPTEs loaded from CR3.
 */
static int walk64(const struct guest_memory *mem, const struct mmu_ctx *ctx, uint64_t la,
		  enum mmu_access acc, struct mmu_result *res, int top)
{
	bool nx_ok = ctx->efer & X86_EFER_NXE;
	struct walk w = { .writable = true, .user = true, .nx = false };
	uint64_t *ptrs[5] = { 0 };
	uint64_t entries[5] = { 0 };
	uint64_t table = ctx->cr3 & PHYS_MASK, page_base;
	unsigned page_shift = 12;
	uint32_t why;
	int level;

	if (top == 3) /* PAE: CR3 holds a 32-byte aligned PDPT */
		table = ctx->cr3 & 0xffffffe0ull;
	for (level = top; level >= 1; level--) {
		unsigned shift = PAGE_SHIFT + 9 * (level - 1);
		unsigned index = (top == 3 && level == 3) ? (la >> 30) & 3 : (la >> shift) & 511;
		uint64_t e, rsvd = RSVD_HIGH(nx_ok);

		ptrs[level] = entry_ptr(mem, table + index * 8ull, 8);
		e = entries[level] = entry_load(ptrs[level], 8);
		if (!(e & X86_PTE_P))
			goto fault_not_present;
		if (top == 3 && level == 3) {
			/* PAE PDPTEs have no R/W, U/S or NX; bits 2:1, 8:5 are reserved. */
			if (e & (rsvd | X86_PTE_NX | 0x1e6ull))
				goto fault_rsvd;
			table = e & PHYS_MASK;
			continue;
		}
		if (level == 4 && (e & X86_PTE_PS))
			goto fault_rsvd;
		if (e & rsvd)
			goto fault_rsvd;
		walk_accumulate(&w, e);
		if ((level == 3 || level == 2) && (e & X86_PTE_PS)) {
			uint64_t large_mask = (1ull << shift) - 1;

			/* A large page's low address bits above PAT (bit 12) are reserved. */
			if (e & large_mask & ~PAGE_MASK_4K & ~(1ull << 12))
				goto fault_rsvd;
			page_shift = shift;
			break;
		}
		table = e & PHYS_MASK;
	}
	if (level == 0)
		level = 1;
	why = check_access(ctx, &w, acc);
	if (why)
		goto fault;
	for (int l = top; l >= level; l--) {
		if (top == 3 && l == 3)
			continue; /* PDPTEs carry no accessed bit in PAE */
		entry_mark(ptrs[l], 8, entries[l],
			   X86_PTE_A | (l == level && acc == MMU_WRITE ? X86_PTE_D : 0));
	}
	page_base = entries[level] & PHYS_MASK & ~((1ull << page_shift) - 1);
	res->large = page_shift > 12;
	res->gpa = page_base | (la & ((1ull << page_shift) - 1));
	return 0;

fault_not_present:
	why = 0;
	goto fault;
fault_rsvd:
	why = PF_PRESENT | PF_RSVD;
fault:
	res->error_code = fault_code(ctx, acc, why);
	return -EFAULT;
}

/* Legacy 32-bit paging: two levels of 32-bit entries, 4 MiB pages with PSE. */
static int walk32(const struct guest_memory *mem, const struct mmu_ctx *ctx, uint64_t la,
		  enum mmu_access acc, struct mmu_result *res)
{
	struct walk w = { .writable = true, .user = true, .nx = false };
	uint32_t addr = (uint32_t)la, why;
	uint64_t *pde_p, *pte_p;
	uint64_t pde, pte;

	pde_p = entry_ptr(mem, (ctx->cr3 & 0xfffff000ull) + ((addr >> 22) & 1023) * 4ull, 4);
	pde = entry_load(pde_p, 4) & 0xffffffffull;
	if (!(pde & X86_PTE_P))
		goto fault_np;
	walk_accumulate(&w, pde);
	if ((pde & X86_PTE_PS) && (ctx->cr4 & X86_CR4_PSE)) {
		/* PSE-36 bits 20:13 give physical bits 39:32; bit 21 is reserved. */
		uint64_t base = (pde & 0xffc00000ull) | ((pde & 0x1fe000ull) << 19);

		if (pde & (1ull << 21)) {
			why = PF_PRESENT | PF_RSVD;
			goto fault;
		}
		why = check_access(ctx, &w, acc);
		if (why)
			goto fault;
		entry_mark(pde_p, 4, pde, X86_PTE_A | (acc == MMU_WRITE ? X86_PTE_D : 0));
		res->gpa = base | (addr & 0x3fffff);
		res->large = true;
		return 0;
	}
	pte_p = entry_ptr(mem, (pde & 0xfffff000ull) + ((addr >> 12) & 1023) * 4ull, 4);
	pte = entry_load(pte_p, 4) & 0xffffffffull;
	if (!(pte & X86_PTE_P))
		goto fault_np;
	walk_accumulate(&w, pte);
	why = check_access(ctx, &w, acc);
	if (why)
		goto fault;
	entry_mark(pde_p, 4, pde, X86_PTE_A);
	entry_mark(pte_p, 4, pte, X86_PTE_A | (acc == MMU_WRITE ? X86_PTE_D : 0));
	res->gpa = (pte & 0xfffff000ull) | (addr & 0xfff);
	return 0;

fault_np:
	why = 0;
fault:
	res->error_code = fault_code(ctx, acc, why);
	return -EFAULT;
}

int mmu_translate(const struct guest_memory *mem, const struct mmu_ctx *ctx, uint64_t la,
		  enum mmu_access acc, struct mmu_result *res)
{
	int rc;

	res->error_code = 0;
	res->large = false;
	if (!(ctx->cr0 & X86_CR0_PG)) {
		/* Outside long mode linear addresses are 32 bits wide (A20 is always on). */
		res->gpa = (ctx->efer & X86_EFER_LMA) ? la : (uint32_t)la;
		rc = 0;
	} else if (ctx->efer & X86_EFER_LMA) {
		rc = walk64(mem, ctx, la, acc, res, 4);
	} else if (ctx->cr4 & X86_CR4_PAE) {
		rc = walk64(mem, ctx, (uint32_t)la, acc, res, 3);
	} else {
		rc = walk32(mem, ctx, la, acc, res);
	}
	if (rc < 0)
		return rc;
	res->hva = gpa_to_hva(mem, res->gpa, 1);
	return 0;
}
