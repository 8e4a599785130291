/* tests/unit/test_ratelimit.c: the token bucket's arithmetic (base/ratelimit.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/ratelimit.h"

#define MS 1000000ull
#define SEC (1000 * MS)
/* Any start: the clock is only ever compared with itself. */
#define T0 (5 * SEC)

static struct ratelimit bw_limiter(uint64_t size, uint64_t burst, uint64_t refill_ms)
{
	struct ratelimit_config cfg = {
		.bandwidth = { .size = size, .one_time_burst = burst, .refill_time_ms = refill_ms },
	};
	struct ratelimit rl;

	ratelimit_init(&rl, &cfg, T0);
	return rl;
}

static void test_disabled_never_waits(void **state)
{
	struct ratelimit rl = bw_limiter(0, 0, 1000);

	(void)state;
	assert_false(ratelimit_enabled(&rl));
	for (int i = 0; i < 100; i++)
		assert_int_equal(ratelimit_consume(&rl, 1ull << 40, T0), 0);
	rl = bw_limiter(1000, 0, 0);
	assert_false(ratelimit_enabled(&rl));
	assert_int_equal(ratelimit_consume(&rl, 5000, T0), 0);
}

static void test_starts_full_then_waits(void **state)
{
	struct ratelimit rl = bw_limiter(1000, 0, 1000); /* 1000 bytes per second */

	(void)state;
	assert_true(ratelimit_enabled(&rl));
	assert_int_equal(ratelimit_consume(&rl, 600, T0), 0);
	assert_int_equal(ratelimit_consume(&rl, 400, T0), 0);
	/* Empty: one byte comes back in 1 ms. */
	assert_int_equal(ratelimit_consume(&rl, 1, T0), MS);
	/* 250 bytes take a quarter of the refill time. */
	assert_int_equal(ratelimit_consume(&rl, 250, T0), 250 * MS);
	assert_int_equal(ratelimit_consume(&rl, 250, T0 + 250 * MS - 1), 1);
	assert_int_equal(ratelimit_consume(&rl, 250, T0 + 250 * MS), 0);
	assert_int_equal(ratelimit_consume(&rl, 1, T0 + 250 * MS), MS);
}

static void test_refill_is_continuous_and_capped(void **state)
{
	struct ratelimit rl = bw_limiter(1000, 0, 100); /* 10 bytes per ms */

	(void)state;
	assert_int_equal(ratelimit_consume(&rl, 1000, T0), 0);
	/* 3.5 ms bring 35 bytes, not a rounded 30 or 40. */
	assert_int_equal(ratelimit_consume(&rl, 35, T0 + 3500000), 0);
	assert_int_equal(ratelimit_consume(&rl, 1, T0 + 3500000), 100000);
	/* A long idle time fills the bucket, never more than its size. */
	assert_int_equal(ratelimit_consume(&rl, 1000, T0 + 60 * SEC), 0);
	assert_int_equal(ratelimit_consume(&rl, 1, T0 + 60 * SEC), 100000);
	/* A clock that does not move forward adds nothing. */
	assert_int_equal(ratelimit_consume(&rl, 1, T0), 100000);
}

static void test_one_time_burst_pays_first_and_never_refills(void **state)
{
	struct ratelimit rl = bw_limiter(100, 1000, 1000);

	(void)state;
	assert_int_equal(ratelimit_consume(&rl, 700, T0), 0); /* burst: 300 left */
	assert_int_equal(ratelimit_consume(&rl, 300, T0), 0); /* burst: 0 left */
	assert_int_equal(ratelimit_consume(&rl, 100, T0), 0); /* the bucket itself */
	assert_int_equal(ratelimit_consume(&rl, 1, T0), 10 * MS);
	/* Ten seconds later only the bucket's own 100 are back. */
	assert_int_equal(ratelimit_consume(&rl, 100, T0 + 10 * SEC), 0);
	assert_int_equal(ratelimit_consume(&rl, 1, T0 + 10 * SEC), 10 * MS);
	/* What the burst cannot cover comes out of the bucket. */
	rl = bw_limiter(100, 50, 1000);
	assert_int_equal(ratelimit_consume(&rl, 120, T0), 0);
	assert_int_equal(ratelimit_consume(&rl, 30, T0), 0);
	assert_int_equal(ratelimit_consume(&rl, 1, T0), 10 * MS);
}

static void test_request_larger_than_size(void **state)
{
	struct ratelimit rl = bw_limiter(1000, 0, 1000);

	(void)state;
	/* A full bucket lets it through, and is 4000 in debt. */
	assert_int_equal(ratelimit_consume(&rl, 5000, T0), 0);
	/* The next byte waits for the debt and itself: 4001 ms. */
	assert_int_equal(ratelimit_consume(&rl, 1, T0), 4001 * MS);
	assert_int_equal(ratelimit_consume(&rl, 1, T0 + 4001 * MS), 0);
	/* Not full: the big one waits until the bucket is, not forever. */
	assert_int_equal(ratelimit_consume(&rl, 5000, T0 + 4001 * MS), 1000 * MS);
	assert_int_equal(ratelimit_consume(&rl, 5000, T0 + 5001 * MS), 0);
	/* 10001 bytes in 5 s from a 1000 B/s limiter that started with 1000: the next waits 4 s. */
	assert_int_equal(ratelimit_consume(&rl, 1, T0 + 5001 * MS), 4001 * MS);
}

static void test_both_buckets_or_neither(void **state)
{
	struct ratelimit_config cfg = {
		.bandwidth = { .size = 10000, .refill_time_ms = 1000 },
		.ops = { .size = 2, .refill_time_ms = 1000 },
	};
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, &cfg, T0);
	assert_int_equal(ratelimit_consume(&rl, 100, T0), 0);
	assert_int_equal(ratelimit_consume(&rl, 100, T0), 0);
	/* The ops bucket is empty: 500 ms for one op, and no bytes are charged. */
	assert_int_equal(ratelimit_consume(&rl, 100, T0), 500 * MS);
	assert_int_equal(ratelimit_consume(&rl, 9800, T0 + 500 * MS), 0);
	/* Now both are short (bytes 780 ms, ops 500 ms): the longer wait. */
	assert_int_equal(ratelimit_consume(&rl, 8000, T0 + 500 * MS), 780 * MS);
	/* ops alone (no bandwidth bucket) limits operations, whatever their size. */
	cfg.bandwidth.size = 0;
	ratelimit_init(&rl, &cfg, T0);
	assert_int_equal(ratelimit_consume(&rl, 1ull << 40, T0), 0);
	assert_int_equal(ratelimit_consume(&rl, 1ull << 40, T0), 0);
	assert_int_equal(ratelimit_consume(&rl, 1, T0), 500 * MS);
}

static void test_extreme_values_do_not_overflow(void **state)
{
	struct ratelimit rl = bw_limiter(RATELIMIT_SIZE_MAX, 0, RATELIMIT_REFILL_MS_MAX);
	uint64_t w;

	(void)state;
	assert_int_equal(ratelimit_consume(&rl, RATELIMIT_SIZE_MAX, T0), 0);
	w = ratelimit_consume(&rl, RATELIMIT_SIZE_MAX, T0);
	/* Empty: a full refill time, in ns. */
	assert_true(w == RATELIMIT_REFILL_MS_MAX * MS);
	assert_int_equal(ratelimit_consume(&rl, UINT64_MAX, T0 + w), 0);
	/* The debt of 2^64 - 2^62 tokens takes three more refill times to pay. */
	w = ratelimit_consume(&rl, 1, T0 + w);
	assert_true(w > 2 * RATELIMIT_REFILL_MS_MAX * MS && w <= 4 * RATELIMIT_REFILL_MS_MAX * MS);
	/* A one-byte-per-50-days bucket and a 2^64-byte request. */
	rl = bw_limiter(1, 0, RATELIMIT_REFILL_MS_MAX);
	assert_int_equal(ratelimit_consume(&rl, UINT64_MAX, T0), 0);
	assert_true(ratelimit_consume(&rl, 1, UINT64_MAX) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled_never_waits),
		cmocka_unit_test(test_starts_full_then_waits),
		cmocka_unit_test(test_refill_is_continuous_and_capped),
		cmocka_unit_test(test_one_time_burst_pays_first_and_never_refills),
		cmocka_unit_test(test_request_larger_than_size),
		cmocka_unit_test(test_both_buckets_or_neither),
		cmocka_unit_test(test_extreme_values_do_not_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
