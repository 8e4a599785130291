/* base/util.h: small helpers: checked arithmetic, sizes, containers. */
#ifndef KITE_BASE_UTIL_H
#define KITE_BASE_UTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define KiB(x) ((uint64_t)(x) << 10)
#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))

/*
 * Little-endian fields at any alignment (images, guest structures, device
 * config spaces): read and written byte-wise.
 */
static inline uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* True when a + b overflows; the sum is stored otherwise. */
static inline bool add_overflows(uint64_t a, uint64_t b, uint64_t *sum)
{
	return __builtin_add_overflow(a, b, sum);
}

/* True when [base, base+len) lies inside [0, limit). */
static inline bool range_within(uint64_t base, uint64_t len, uint64_t limit)
{
	uint64_t end;

	return !add_overflows(base, len, &end) && end <= limit;
}

/*
 * Parses "256", "512K", "512M", "2G" (binary units, optional trailing "iB"/"B")
 * into bytes. Fails with -EINVAL and a message naming the text.
 */
int parse_size(const char *text, uint64_t *bytes, struct err *err);

/* Parses a decimal unsigned integer in [min, max]. */
int parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out, struct err *err);

/*
 * Metrics counters (docs/metrics.md): 64 bits, which no rate kite reaches
 * wraps in centuries. Another thread may read one at any time (relaxed:
 * a reading may be a little behind). counter_add is for counters several
 * threads bump; counter_add_owned for one only its owner thread bumps (a
 * vCPU's): a plain load and store, no locked instruction on the hot path.
 */
static inline void counter_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline void counter_add_owned(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline uint64_t counter_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Reads a whole file (at most max_len bytes) into a malloc'd buffer. */
int file_read_all(const char *path, size_t max_len, uint8_t **data, size_t *len,
		  struct err *err);

#endif
