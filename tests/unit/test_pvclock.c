/* tests/unit/test_pvclock.c: kvm-clock structures as a Linux guest reads them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <cmocka.h>

#include "soft/pvclock.h"

/* What Linux's pvclock_read_cycles() computes from the structure. */
static uint64_t guest_system_time(const uint8_t *p, uint64_t tsc)
{
	uint64_t ts, st, delta;
	uint32_t mul;
	int8_t shift;

	memcpy(&ts, p + 8, 8);
	memcpy(&st, p + 16, 8);
	memcpy(&mul, p + 24, 4);
	shift = (int8_t)p[28];
	delta = tsc - ts;
	delta = shift >= 0 ? delta << shift : delta >> -shift;
	return st + (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

static void test_system_time_is_the_tsc(void **state)
{
	struct guest_memory mem;
	struct err err = { 0 };
	struct pvclock pc;
	uint8_t *p;
	uint32_t version;

	(void)state;
	assert_int_equal(memory_init(&mem, 16 << 20, &err), 0);
	pvclock_init(&pc, 12345);
	assert_int_equal(pvclock_system_time_write(&pc, &mem, 0x3000 | 1, 0), 0);
	p = gpa_to_hva(&mem, 0x3000, 32);
	memcpy(&version, p, 4);
	assert_int_equal(version & 1, 0);
	assert_int_equal(p[29] & 1, 1); /* PVCLOCK_TSC_STABLE_BIT */
	/* The guest's nanoseconds equal its TSC, over the whole 64-bit range used in practice. */
	assert_int_equal(guest_system_time(p, 0), 0);
	assert_int_equal(guest_system_time(p, 1), 1);
	assert_int_equal(guest_system_time(p, 1000000007ull), 1000000007ull);
	assert_int_equal(guest_system_time(p, 86400ull * 365 * 1000000000ull),
			 86400ull * 365 * 1000000000ull);
	/* A TSC offset moves the timestamp: system time stays the VM's nanoseconds. */
	assert_int_equal(pvclock_system_time_write(&pc, &mem, 0x3000 | 1, 500), 0);
	assert_int_equal(guest_system_time(p, 500), 0);
	assert_int_equal(guest_system_time(p, 1500), 1000);
	/* Disabled: nothing written; outside RAM: refused. */
	memset(p, 0xaa, 32);
	assert_int_equal(pvclock_system_time_write(&pc, &mem, 0x3000, 0), 0);
	assert_int_equal(p[0], 0xaa);
	assert_int_equal(pvclock_system_time_write(&pc, &mem, (16 << 20) - 16 + 1, 0), -EFAULT);
	memory_destroy(&mem);
}

static void test_wall_clock_is_boot_time(void **state)
{
	struct guest_memory mem;
	struct err err = { 0 };
	struct pvclock pc;
	struct timespec mono, real;
	uint32_t sec, nsec;
	uint64_t boot_real, now_real, since_boot;
	uint8_t *p;

	(void)state;
	assert_int_equal(memory_init(&mem, 16 << 20, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	/* The TSC started 5 s ago. */
	pvclock_init(&pc, (uint64_t)mono.tv_sec * 1000000000ull + (uint64_t)mono.tv_nsec -
				   5000000000ull);
	assert_int_equal(pvclock_wall_clock_write(&pc, &mem, 0x4000), 0);
	p = gpa_to_hva(&mem, 0x4000, 12);
	memcpy(&sec, p + 4, 4);
	memcpy(&nsec, p + 8, 4);
	assert_true(nsec < 1000000000u);
	clock_gettime(CLOCK_REALTIME, &real);
	boot_real = (uint64_t)sec * 1000000000ull + nsec;
	now_real = (uint64_t)real.tv_sec * 1000000000ull + (uint64_t)real.tv_nsec;
	since_boot = now_real - boot_real;
	/* Wall clock at boot + time since boot = now, within 50 ms. */
	assert_true(since_boot > 4950000000ull && since_boot < 5050000000ull);
	assert_int_equal(pvclock_wall_clock_write(&pc, &mem, (16 << 20) - 4), -EFAULT);
	memory_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_system_time_is_the_tsc),
		cmocka_unit_test(test_wall_clock_is_boot_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
