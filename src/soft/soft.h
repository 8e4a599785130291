/* soft/soft.h: internals of the soft engine shared between its files. */
#ifndef KITE_SOFT_SOFT_H
#define KITE_SOFT_SOFT_H

#include <stdint.h>

/* The guest TSC runs at this fixed, invariant rate (derived from CLOCK_MONOTONIC). */
#define SOFT_TSC_HZ 1000000000ull

/*
 * Instructions a vCPU runs between looks at its timers and mailbox (a kick
 * ends a batch at once; timer deadlines cut it short). Translated code runs
 * ten times as many in the same time.
 */
#define SOFT_BATCH_INSNS    20000
#define SOFT_BATCH_INSNS_BT 200000

/*
 * IA32_ARCH_CAPABILITIES: an interpreter executes nothing speculatively, so
 * none of the speculative-execution and buffer-sampling flaws exist here:
 * RDCL_NO, SSB_NO, MDS_NO, PSCHANGE_MC_NO, TAA_NO, SBDR_SSDP_NO,
 * FBSDP_NO, PSDP_NO, BHI_NO, PBRSB_NO, GDS_NO, RFDS_NO, ITS_NO. Saying so
 * spares a guest that does not know the CPU model (cpuid.c) page-table
 * isolation (a CR3 switch, hence a TLB flush, on every kernel entry and
 * exit), return thunks and the buffer-clearing mitigations.
 */
#define MSR_IA32_ARCH_CAPABILITIES 0x10a
#define SOFT_ARCH_CAPABILITIES                                                          \
	((1ull << 0) | (1ull << 4) | (1ull << 5) | (1ull << 6) | (1ull << 8) | (1ull << 13) | \
	 (1ull << 14) | (1ull << 15) | (1ull << 20) | (1ull << 24) | (1ull << 26) |            \
	 (1ull << 27) | (1ull << 62))

/* CPUID as the soft engine presents it to vCPU apic_id of nr_cpus. */
void soft_cpuid(unsigned apic_id, unsigned nr_cpus, uint32_t leaf, uint32_t subleaf,
		uint32_t out[4]);

#endif
