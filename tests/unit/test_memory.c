/* tests/unit/test_memory.c: guest RAM layout, checked translation and the e820 map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "memory/memory.h"

#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)

static void test_init_small(void **state)
{
	struct guest_memory mem;
	struct err err = {0};

	(void)state;
	assert_int_equal(memory_init(&mem, MiB(256), &err), 0);
	assert_int_equal(mem.nr_regions, 1);
	assert_int_equal(mem.regions[0].gpa, 0);
	assert_int_equal(mem.regions[0].size, MiB(256));
	assert_ptr_equal(mem.regions[0].hva, mem.base);
	assert_int_equal(mem.ram_size, MiB(256));
	assert_int_equal(memory_top(&mem), MiB(256));
	memory_destroy(&mem);
	assert_null(mem.base);

	assert_int_equal(memory_init(&mem, MEM_MIN_SIZE, &err), 0);
	assert_int_equal(mem.nr_regions, 1);
	memory_destroy(&mem);
}

static void test_init_exactly_hole(void **state)
{
	struct guest_memory mem;
	struct err err = {0};

	(void)state;
	assert_int_equal(memory_init(&mem, GiB(3), &err), 0);
	assert_int_equal(mem.nr_regions, 1);
	assert_int_equal(mem.regions[0].size, GiB(3));
	assert_int_equal(memory_top(&mem), MEM_HOLE_START);
	memory_destroy(&mem);
}

static void test_init_split(void **state)
{
	struct guest_memory mem;
	struct err err = {0};

	(void)state;
	assert_int_equal(memory_init(&mem, GiB(4), &err), 0);
	assert_int_equal(mem.nr_regions, 2);
	assert_int_equal(mem.regions[0].gpa, 0);
	assert_int_equal(mem.regions[0].size, GiB(3));
	assert_int_equal(mem.regions[1].gpa, MEM_4G);
	assert_int_equal(mem.regions[1].size, GiB(1));
	/* One host mapping: the high region continues where the low one ends. */
	assert_ptr_equal(mem.regions[1].hva, mem.base + GiB(3));
	assert_int_equal(memory_top(&mem), MEM_4G + GiB(1));
	memory_destroy(&mem);
}

static void test_init_rejects(void **state)
{
	struct guest_memory mem;
	struct err err = {0};

	(void)state;
	assert_int_equal(memory_init(&mem, 0, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "minimum"));
	assert_null(mem.base);
	err.msg[0] = 0;
	assert_int_equal(memory_init(&mem, MEM_MIN_SIZE - 4096, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "minimum"));
	err.msg[0] = 0;
	assert_int_equal(memory_init(&mem, MiB(256) + 1, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "4 KiB"));
	err.msg[0] = 0;
	assert_int_equal(memory_init(&mem, MiB(256) + 2048, &err), -EINVAL);
	assert_int_equal(memory_init(&mem, MEM_MAX_SIZE + GiB(1), &err), -EINVAL);
	assert_non_null(strstr(err.msg, "maximum"));
	assert_null(mem.base);
}

static void test_gpa_to_hva(void **state)
{
	struct guest_memory mem;
	struct err err = {0};
	uint8_t buf[16] = "kite";
	uint8_t out[16];

	(void)state;
	assert_int_equal(memory_init(&mem, GiB(4), &err), 0);
	/* Inside each region. */
	assert_ptr_equal(gpa_to_hva(&mem, 0x1000, 16), mem.base + 0x1000);
	assert_ptr_equal(gpa_to_hva(&mem, GiB(3) - 16, 16), mem.base + GiB(3) - 16);
	assert_ptr_equal(gpa_to_hva(&mem, MEM_4G, 4096), mem.base + GiB(3));
	assert_ptr_equal(gpa_to_hva(&mem, MEM_4G + GiB(1) - 1, 1), mem.base + GiB(4) - 1);
	/* Straddling a region end: into the hole, past the top. */
	assert_null(gpa_to_hva(&mem, GiB(3) - 16, 17));
	assert_null(gpa_to_hva(&mem, MEM_4G + GiB(1) - 1, 2));
	/* Straddling the hole into the high region is not one range of RAM. */
	assert_null(gpa_to_hva(&mem, GiB(3) - 16, GiB(1) + 32));
	/* In the hole. */
	assert_null(gpa_to_hva(&mem, MEM_HOLE_START, 1));
	assert_null(gpa_to_hva(&mem, 0xfee00000ull, 4));
	assert_null(gpa_to_hva(&mem, MEM_4G - 1, 1));
	/* Above everything. */
	assert_null(gpa_to_hva(&mem, MEM_4G + GiB(1), 1));
	assert_null(gpa_to_hva(&mem, UINT64_MAX, 1));
	/* gpa + len overflows. */
	assert_null(gpa_to_hva(&mem, 0x1000, UINT64_MAX));
	assert_null(gpa_to_hva(&mem, MEM_4G, UINT64_MAX - MEM_4G + 2));
	assert_null(gpa_to_hva(&mem, UINT64_MAX - 1, 4));
	/* len 0 at a region's end is an empty range inside it. */
	assert_non_null(gpa_to_hva(&mem, MEM_4G + GiB(1), 0));
	assert_non_null(gpa_to_hva(&mem, GiB(3), 0));
	assert_null(gpa_to_hva(&mem, MEM_4G + GiB(1) + 1, 0));

	/* memory_write/read go through the same check. */
	assert_int_equal(memory_write(&mem, MEM_4G + 8, buf, sizeof(buf)), 0);
	assert_memory_equal(mem.base + GiB(3) + 8, "kite", 4);
	assert_int_equal(memory_read(&mem, MEM_4G + 8, out, sizeof(out)), 0);
	assert_memory_equal(out, buf, sizeof(buf));
	assert_int_equal(memory_write(&mem, GiB(3) - 8, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(memory_read(&mem, MEM_HOLE_START, out, 1), -EFAULT);
	memory_destroy(&mem);
}

static void check_e820(uint64_t ram_size)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	struct guest_memory mem;
	struct err err = {0};
	uint64_t ram = 0, prev_end = 0;
	unsigned n;
	bool high = false;

	assert_int_equal(memory_init(&mem, ram_size, &err), 0);
	n = memory_e820(&mem, map, E820_MAX_ENTRIES);
	assert_true(n >= 3 && n <= E820_MAX_ENTRIES);
	for (unsigned i = 0; i < n; i++) {
		/* Sorted and non-overlapping. */
		assert_true(map[i].addr >= prev_end);
		assert_true(map[i].size > 0);
		prev_end = map[i].addr + map[i].size;
		if (map[i].type == E820_RAM) {
			ram += map[i].size;
			/* Every RAM byte the guest is told about is really there. */
			assert_non_null(gpa_to_hva(&mem, map[i].addr, map[i].size));
		}
		if (map[i].addr == MEM_4G) {
			high = true;
			assert_int_equal(map[i].type, E820_RAM);
		}
		/* Nothing the guest may use as RAM lies in the hole. */
		if (map[i].type == E820_RAM)
			assert_false(map[i].addr < MEM_4G && prev_end > MEM_HOLE_START);
	}
	assert_int_equal(ram, ram_size - (MEM_BIOS_END - MEM_EBDA_START));
	assert_int_equal(high, ram_size > MEM_HOLE_START);
	/* The EBDA..1 MiB area (with the ACPI tables) is reserved, not RAM. */
	for (unsigned i = 0; i < n; i++) {
		if (map[i].addr <= MEM_BIOS_START && map[i].addr + map[i].size >= MEM_BIOS_END)
			assert_int_equal(map[i].type, E820_RESERVED);
	}
	/* A short buffer gets a prefix, never more. */
	assert_int_equal(memory_e820(&mem, map, 2), 2);
	assert_int_equal(map[0].addr, 0);
	memory_destroy(&mem);
}

static void test_e820(void **state)
{
	(void)state;
	check_e820(MEM_MIN_SIZE);
	check_e820(MiB(256));
	check_e820(GiB(3));
	check_e820(GiB(4));
	check_e820(GiB(6) + MiB(2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_small), cmocka_unit_test(test_init_exactly_hole),
	    cmocka_unit_test(test_init_split), cmocka_unit_test(test_init_rejects),
	    cmocka_unit_test(test_gpa_to_hva), cmocka_unit_test(test_e820),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
