/* soft/soft.h: internals of the soft engine shared between its files. */
#ifndef KITE_SOFT_SOFT_H
#define KITE_SOFT_SOFT_H

#include <stdint.h>

/* The guest TSC runs at this fixed, invariant rate (derived from CLOCK_MONOTONIC). */
#define SOFT_TSC_HZ 1000000000ull

/* Instructions a vCPU runs between looks at its timers and mailbox. */
#define SOFT_BATCH_INSNS 20000

/* CPUID as the soft engine presents it to vCPU apic_id of nr_cpus. */
void soft_cpuid(unsigned apic_id, unsigned nr_cpus, uint32_t leaf, uint32_t subleaf,
		uint32_t out[4]);

#endif
