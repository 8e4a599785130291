/* base/ratelimit.h: token buckets for I/O rate limiters (Firecracker's RateLimiter). */
#ifndef KITE_BASE_RATELIMIT_H
#define KITE_BASE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/*
 * One bucket as the user gives it (Firecracker's TokenBucket): it holds size
 * tokens and refills from empty to full in refill_time_ms, continuously;
 * one_time_burst tokens more are there at the start and never come back.
 * size or refill_time_ms 0: the bucket does not limit.
 */
struct ratelimit_bucket_config {
	uint64_t size;
	uint64_t one_time_burst;
	uint64_t refill_time_ms;
};

/* The largest values a bucket takes: the arithmetic below stays in 128 bits. */
#define RATELIMIT_SIZE_MAX (1ull << 62)
#define RATELIMIT_REFILL_MS_MAX (1ull << 32) /* ~50 days */

/* A rate limiter: bytes (bandwidth) and operations (ops), both must allow. */
struct ratelimit_config {
	struct ratelimit_bucket_config bandwidth, ops;
};

struct ratelimit_bucket {
	struct ratelimit_bucket_config cfg;
	/*
	 * Tokens times the refill time in ns, so refilling by elapsed ns adds
	 * size per ns with no rounding. Negative: a request larger than the
	 * bucket was let through and is being paid back.
	 */
	__int128 level;
	uint64_t burst; /* one_time_burst not yet used */
	uint64_t last_ns;
};

struct ratelimit {
	struct ratelimit_bucket bandwidth, ops;
};

/* Whether the bucket (or the limiter) limits anything at all. */
bool ratelimit_bucket_enabled(const struct ratelimit_bucket_config *cfg);
bool ratelimit_enabled(const struct ratelimit *rl);

/* A limiter with cfg's buckets, full (with their one_time_burst) at now_ns. */
void ratelimit_init(struct ratelimit *rl, const struct ratelimit_config *cfg, uint64_t now_ns);

/*
 * One operation of bytes bytes at now_ns: 0 when both buckets allowed it
 * (both are charged), else the nanoseconds (>= 1) until it would be allowed,
 * and nothing is charged. The one-time burst pays first. A request larger
 * than a bucket's size is allowed once that bucket is full, and its level
 * goes below zero: the average rate holds for any request size.
 */
uint64_t ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t now_ns);

#endif
