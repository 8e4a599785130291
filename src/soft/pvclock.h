/* soft/pvclock.h: the KVM paravirtual clock (kvm-clock) as the soft engine offers it. */
#ifndef KITE_SOFT_PVCLOCK_H
#define KITE_SOFT_PVCLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "memory/memory.h"

#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00u
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u

/* CPUID 0x40000001 EAX: what the soft engine's "KVMKVMKVM" leaves offer. */
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define KVM_FEATURE_NOP_IO_DELAY (1u << 1)
#define KVM_FEATURE_PV_SEND_IPI (1u << 11) /* KVM_HC_SEND_IPI */
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (1u << 24)

/*
 * The guest TSC counts nanoseconds of the VM's clock since tsc_epoch_ns, so
 * kvm-clock's scale is exact and constant: written once when the guest
 * enables it, never updated. The VM's clock stands still while the VM is
 * paused, so kvm-clock does too, with nothing to rewrite on resume.
 */
struct pvclock {
	uint64_t tsc_epoch_ns;	  /* the VM's clock (then CLOCK_MONOTONIC) when the guest TSC was 0 */
	uint64_t realtime_epoch_ns; /* CLOCK_REALTIME at the same instant */
};

void pvclock_init(struct pvclock *pc, uint64_t tsc_epoch_ns);

/*
 * MSR_KVM_SYSTEM_TIME_NEW: value is the guest-physical address of the vCPU's
 * pvclock_vcpu_time_info with bit 0 = enable. Writes the structure there.
 * tsc_at_zero is the vCPU's TSC when the VM's clock read 0 (its TSC offset).
 * Returns 0, or -EFAULT when the structure would not lie in RAM (the MSR
 * write then still succeeds, as on KVM, but nothing is written).
 */
int pvclock_system_time_write(const struct pvclock *pc, const struct guest_memory *mem,
			      uint64_t value, uint64_t tsc_at_zero);

/* MSR_KVM_WALL_CLOCK_NEW: writes pvclock_wall_clock (boot-time wall clock) at gpa. */
int pvclock_wall_clock_write(const struct pvclock *pc, const struct guest_memory *mem,
			     uint64_t gpa);

#endif
