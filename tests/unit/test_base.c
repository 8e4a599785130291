/* tests/unit/test_base.c: size and number parsing, errors, and the state stream. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "base/err.h"
#include "base/state.h"
#include "base/util.h"

static void test_parse_size(void **state)
{
	struct err err = { 0 };
	uint64_t v;

	(void)state;
	assert_int_equal(parse_size("512M", &v, &err), 0);
	assert_int_equal(v, 512ull << 20);
	assert_int_equal(parse_size("2G", &v, &err), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(parse_size("2g", &v, &err), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(parse_size("64K", &v, &err), 0);
	assert_int_equal(v, 64ull << 10);
	assert_int_equal(parse_size("1GiB", &v, &err), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(parse_size("4096", &v, &err), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("0", &v, &err), 0);
	assert_int_equal(v, 0);

	assert_int_equal(parse_size("", &v, &err), -EINVAL);
	assert_int_equal(parse_size("M", &v, &err), -EINVAL);
	assert_int_equal(parse_size("-1G", &v, &err), -EINVAL);
	assert_int_equal(parse_size("12X", &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "12X"));
	assert_int_equal(parse_size("1MM", &v, &err), -EINVAL);
	assert_int_equal(parse_size("banana", &v, &err), -EINVAL);
	assert_int_equal(parse_size("99999999999999999999", &v, &err), -EINVAL);
	assert_int_equal(parse_size("99999999999T", &v, &err), -ERANGE);
}

static void test_parse_uint(void **state)
{
	struct err err = { 0 };
	uint64_t v;

	(void)state;
	assert_int_equal(parse_uint("4", 1, 64, &v, &err), 0);
	assert_int_equal(v, 4);
	assert_int_equal(parse_uint("0", 1, 64, &v, &err), -ERANGE);
	assert_non_null(strstr(err.msg, "1..64"));
	assert_int_equal(parse_uint("65", 1, 64, &v, &err), -ERANGE);
	assert_int_equal(parse_uint("4x", 1, 64, &v, &err), -EINVAL);
	assert_int_equal(parse_uint("-4", 1, 64, &v, &err), -EINVAL);
	assert_int_equal(parse_uint("", 1, 64, &v, &err), -EINVAL);
}

static void test_err_wrap_keeps_context(void **state)
{
	struct err err = { 0 };

	(void)state;
	assert_int_equal(err_set(&err, -ENOENT, "%s: missing", "file"), -ENOENT);
	assert_int_equal(err_wrap(&err, "kernel %s", "/x"), -ENOENT);
	assert_string_equal(err.msg, "kernel /x: file: missing");
	/* Overlong messages are cut, never overflow. */
	for (int i = 0; i < 20; i++)
		err_wrap(&err, "%0100d", i);
	assert_int_equal(strlen(err.msg), ERR_MSG_MAX - 1);
}

static void test_checked_ranges(void **state)
{
	uint64_t sum;

	(void)state;
	assert_true(add_overflows(UINT64_MAX, 1, &sum));
	assert_false(add_overflows(1, 2, &sum));
	assert_int_equal(sum, 3);
	assert_true(range_within(0, 16, 16));
	assert_false(range_within(1, 16, 16));
	assert_false(range_within(UINT64_MAX, 2, UINT64_MAX));
	assert_true(range_within(16, 0, 16));
}

static void test_state_round_trip(void **state)
{
	struct state_writer w;
	struct state_reader r;
	struct err err = { 0 };
	uint8_t blob[5] = { 1, 2, 3, 4, 5 }, back[5];
	uint32_t version;

	(void)state;
	state_writer_init(&w);
	state_section_begin(&w, "dev", 2);
	state_put_u8(&w, 0xab);
	state_put_u16(&w, 0xbeef);
	state_put_u32(&w, 0xdeadbeef);
	state_put_u64(&w, 0x0123456789abcdefull);
	state_put_bytes(&w, blob, sizeof(blob));
	state_section_end(&w);
	assert_int_equal(w.error, 0);

	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(state_section_open(&r, "dev", 2, &version, &err), 0);
	assert_int_equal(version, 2);
	assert_int_equal(state_get_u8(&r), 0xab);
	assert_int_equal(state_get_u16(&r), 0xbeef);
	assert_int_equal(state_get_u32(&r), 0xdeadbeef);
	assert_int_equal(state_get_u64(&r), 0x0123456789abcdefull);
	state_get_bytes(&r, back, sizeof(back));
	assert_memory_equal(back, blob, sizeof(blob));
	assert_int_equal(state_section_close(&r, &err), 0);

	/* Wrong name, future version, unread bytes, truncation: all refused. */
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(state_section_open(&r, "other", 2, &version, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "other"));
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(state_section_open(&r, "dev", 1, &version, &err), -EINVAL);
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(state_section_open(&r, "dev", 2, &version, &err), 0);
	state_get_u8(&r);
	assert_int_equal(state_section_close(&r, &err), -EINVAL);
	state_reader_init(&r, w.buf, w.len - 3);
	assert_int_equal(state_section_open(&r, "dev", 2, &version, &err), -EINVAL);
	/* Reads past a section's end fail without touching memory beyond it. */
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(state_section_open(&r, "dev", 2, &version, &err), 0);
	for (int i = 0; i < 10; i++)
		state_get_u64(&r);
	assert_int_equal(r.error, -EBADMSG);
	assert_int_equal(state_section_close(&r, &err), -EINVAL);
	state_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_uint),
		cmocka_unit_test(test_err_wrap_keeps_context),
		cmocka_unit_test(test_checked_ranges),
		cmocka_unit_test(test_state_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
