/*
 * tests/unit/soft_stubs.h: the soft CPU callbacks its unit tests do not
 * exercise: no devices (reads all ones, writes dropped), an empty CPUID and
 * a TSC that stays at 0. Each test file brings its own translate.
 */
#ifndef KITE_TESTS_UNIT_SOFT_STUBS_H
#define KITE_TESTS_UNIT_SOFT_STUBS_H

#include <string.h>

#include "soft/cpu/cpu.h"

static void t_mmio(void *opaque, uint64_t gpa, uint8_t *data, unsigned len, bool is_write)
{
	(void)opaque;
	(void)gpa;
	(void)is_write;
	memset(data, 0xff, len);
}

static void t_pio(void *opaque, uint16_t port, uint8_t *data, unsigned len, bool is_write)
{
	(void)opaque;
	(void)port;
	(void)is_write;
	memset(data, 0xff, len);
}

static void t_cpuid(void *opaque, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	(void)opaque;
	(void)leaf;
	(void)subleaf;
	memset(out, 0, 4 * sizeof(out[0]));
}

static uint64_t t_rdtsc(void *opaque)
{
	(void)opaque;
	return 0;
}

#endif
