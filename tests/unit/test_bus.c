/* tests/unit/test_bus.c: I/O bus registration rules and dispatch. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "bus/bus.h"

struct recorder {
	uint64_t offset;
	unsigned len;
	bool is_write;
	uint8_t last[8];
	int calls;
};

static void record(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct recorder *r = opaque;

	r->offset = offset;
	r->len = len;
	r->is_write = is_write;
	r->calls++;
	if (is_write)
		memcpy(r->last, data, len);
	else
		memset(data, 0x5a, len);
}

static void test_register_rejects_overlap(void **state)
{
	struct io_bus bus;
	struct recorder a = { 0 };
	struct err err = { 0 };

	(void)state;
	io_bus_init(&bus, "pio");
	assert_int_equal(io_bus_register(&bus, 0x3f8, 8, record, &a, "uart", &err), 0);
	/* Every kind of overlap: same start, inside, straddling either end, covering. */
	assert_int_equal(io_bus_register(&bus, 0x3f8, 1, record, &a, "x", &err), -EEXIST);
	assert_non_null(strstr(err.msg, "uart"));
	assert_int_equal(io_bus_register(&bus, 0x3fc, 1, record, &a, "x", &err), -EEXIST);
	assert_int_equal(io_bus_register(&bus, 0x3f0, 9, record, &a, "x", &err), -EEXIST);
	assert_int_equal(io_bus_register(&bus, 0x3ff, 4, record, &a, "x", &err), -EEXIST);
	assert_int_equal(io_bus_register(&bus, 0x300, 0x200, record, &a, "x", &err), -EEXIST);
	/* Touching ends do not overlap. */
	assert_int_equal(io_bus_register(&bus, 0x3f0, 8, record, &a, "below", &err), 0);
	assert_int_equal(io_bus_register(&bus, 0x400, 8, record, &a, "above", &err), 0);
	assert_int_equal(bus.nr_regions, 3);
	/* Sorted by base whatever the registration order. */
	assert_true(bus.regions[0].base < bus.regions[1].base);
	assert_true(bus.regions[1].base < bus.regions[2].base);
}

static void test_register_rejects_bad_ranges(void **state)
{
	struct io_bus bus;
	struct recorder a = { 0 };
	struct err err = { 0 };

	(void)state;
	io_bus_init(&bus, "mmio");
	assert_int_equal(io_bus_register(&bus, 0x1000, 0, record, &a, "empty", &err), -EINVAL);
	assert_int_equal(io_bus_register(&bus, UINT64_MAX - 4, 16, record, &a, "wrap", &err),
			 -EINVAL);
	assert_int_equal(io_bus_register(&bus, 0x1000, 16, NULL, &a, "nohandler", &err), -EINVAL);
	for (unsigned i = 0; i < IO_BUS_MAX_REGIONS; i++)
		assert_int_equal(io_bus_register(&bus, 0x1000 * (i + 1), 16, record, &a, "r", &err),
				 0);
	assert_int_equal(io_bus_register(&bus, 0x100000, 16, record, &a, "full", &err), -ENOSPC);
}

static void test_dispatch_routes_and_counts_unclaimed(void **state)
{
	struct io_bus bus;
	struct recorder a = { 0 }, b = { 0 };
	struct err err = { 0 };
	uint8_t data[8];

	(void)state;
	io_bus_init(&bus, "mmio");
	assert_int_equal(io_bus_register(&bus, 0xd0000000, 0x200, record, &a, "a", &err), 0);
	assert_int_equal(io_bus_register(&bus, 0xc0000000, 0x1000, record, &b, "b", &err), 0);

	memset(data, 0, sizeof(data));
	assert_true(io_bus_dispatch(&bus, 0xd0000010, data, 4, false));
	assert_int_equal(a.offset, 0x10);
	assert_int_equal(a.len, 4);
	assert_int_equal(data[0], 0x5a);

	data[0] = 0x77;
	assert_true(io_bus_dispatch(&bus, 0xc0000ffc, data, 4, true));
	assert_int_equal(b.offset, 0xffc);
	assert_true(b.is_write);
	assert_int_equal(b.last[0], 0x77);

	/* Unclaimed reads are all-ones; writes are dropped; both counted. */
	memset(data, 0, sizeof(data));
	assert_false(io_bus_dispatch(&bus, 0xe0000000, data, 8, false));
	for (int i = 0; i < 8; i++)
		assert_int_equal(data[i], 0xff);
	assert_false(io_bus_dispatch(&bus, 0xe0000000, data, 4, true));
	assert_int_equal(bus.unclaimed_reads, 1);
	assert_int_equal(bus.unclaimed_writes, 1);

	/* An access straddling a region's end is not handed to the device. */
	a.calls = 0;
	assert_false(io_bus_dispatch(&bus, 0xd00001fe, data, 4, false));
	assert_int_equal(a.calls, 0);
	assert_int_equal(bus.unclaimed_reads, 2);
	/* The last byte of a region is still the region's. */
	assert_true(io_bus_dispatch(&bus, 0xd00001ff, data, 1, false));
	assert_int_equal(a.offset, 0x1ff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_rejects_overlap),
		cmocka_unit_test(test_register_rejects_bad_ranges),
		cmocka_unit_test(test_dispatch_routes_and_counts_unclaimed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
