/* soft/mmu.h: the soft engine's MMU: guest page walks, the source of its shadow TLB. */
#ifndef KITE_SOFT_MMU_H
#define KITE_SOFT_MMU_H

#include <stdbool.h>
#include <stdint.h>

#include "memory/memory.h"

/* Physical address width kite reports (CPUID 0x80000008) and enforces. */
#define SOFT_PHYS_BITS 40

/* #PF error code bits. */
#define PF_PRESENT (1u << 0)
#define PF_WRITE (1u << 1)
#define PF_USER (1u << 2)
#define PF_RSVD (1u << 3)
#define PF_FETCH (1u << 4)

enum mmu_access { MMU_READ, MMU_WRITE, MMU_FETCH };

/* The paging-relevant control state of one vCPU at the time of the access. */
struct mmu_ctx {
	uint64_t cr0, cr3, cr4, efer;
	bool user;     /* CPL 3 (and not an implicit supervisor access) */
	bool ac;       /* RFLAGS.AC, for SMAP */
};

struct mmu_result {
	uint64_t gpa;	     /* guest-physical address of la */
	uint8_t *hva;	     /* host address of gpa if it is RAM, else NULL */
	uint32_t error_code; /* on failure: the #PF error code */
	bool large;	     /* the mapping is a 2 MiB, 4 MiB or 1 GiB page */
};

/*
 * Translates linear address la as the vCPU's paging mode says (none, 32-bit,
 * PAE, 4-level), checking present, U/S, R/W (with CR0.WP), NX (EFER.NXE),
 * SMEP/SMAP and reserved bits, and setting accessed/dirty bits with atomic
 * ORs as hardware does. Returns 0, or -EFAULT with res->error_code for the
 * #PF the access must raise (CR2 = la).
 */
int mmu_translate(const struct guest_memory *mem, const struct mmu_ctx *ctx, uint64_t la,
		  enum mmu_access acc, struct mmu_result *res);

#endif
