/* soft/pvclock.c: the KVM paravirtual clock (kvm-clock) as the soft engine offers it. */
#include "soft/pvclock.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "base/util.h"

#define PVCLOCK_TSC_STABLE_BIT (1u << 0)
#define SYSTEM_TIME_ENABLE 1ull
#define SYSTEM_TIME_SIZE 32 /* struct pvclock_vcpu_time_info */
#define WALL_CLOCK_SIZE 12  /* struct pvclock_wall_clock */

void pvclock_init(struct pvclock *pc, uint64_t tsc_epoch_ns)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	pc->tsc_epoch_ns = tsc_epoch_ns;
	/* Realtime at the TSC's zero: now, less the time the TSC has run. */
	pc->realtime_epoch_ns = (uint64_t)real.tv_sec * 1000000000ull + (uint64_t)real.tv_nsec -
				((uint64_t)mono.tv_sec * 1000000000ull + (uint64_t)mono.tv_nsec -
				 tsc_epoch_ns);
}

int pvclock_system_time_write(const struct pvclock *pc, const struct guest_memory *mem,
			      uint64_t value, uint64_t tsc_at_zero)
{
	uint64_t gpa = value & ~SYSTEM_TIME_ENABLE;
	uint8_t *p;

	(void)pc;
	if (!(value & SYSTEM_TIME_ENABLE))
		return 0;
	p = gpa_to_hva(mem, gpa, SYSTEM_TIME_SIZE);
	if (!p)
		return -EFAULT;
	/*
	 * system_time = system_time0 + ((tsc - tsc_timestamp) << shift) * mul / 2^32.
	 * The TSC is already nanoseconds since boot: shift 1 and mul 2^31 make
	 * that the identity, forever, so the version stays even and stable.
	 */
	put_le32(p + 0, 2);	  /* version: even, not being updated */
	put_le32(p + 4, 0);	  /* pad */
	put_le64(p + 8, tsc_at_zero); /* tsc_timestamp */
	put_le64(p + 16, 0);	  /* system_time */
	put_le32(p + 24, 1u << 31); /* tsc_to_system_mul */
	p[28] = 1;		  /* tsc_shift */
	p[29] = PVCLOCK_TSC_STABLE_BIT;
	p[30] = p[31] = 0;
	return 0;
}

int pvclock_wall_clock_write(const struct pvclock *pc, const struct guest_memory *mem,
			     uint64_t gpa)
{
	uint8_t *p = gpa_to_hva(mem, gpa, WALL_CLOCK_SIZE);

	if (!p)
		return -EFAULT;
	put_le32(p + 0, 2); /* version */
	put_le32(p + 4, (uint32_t)(pc->realtime_epoch_ns / 1000000000ull));
	put_le32(p + 8, (uint32_t)(pc->realtime_epoch_ns % 1000000000ull));
	return 0;
}
