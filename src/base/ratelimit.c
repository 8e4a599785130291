/* base/ratelimit.c: token buckets refilled continuously from a monotonic clock. */
#include "base/ratelimit.h"

#define NS_PER_MS 1000000ull

bool ratelimit_bucket_enabled(const struct ratelimit_bucket_config *cfg)
{
	return cfg->size && cfg->refill_time_ms;
}

bool ratelimit_enabled(const struct ratelimit *rl)
{
	return ratelimit_bucket_enabled(&rl->bandwidth.cfg) ||
	       ratelimit_bucket_enabled(&rl->ops.cfg);
}

/* The refill time in ns: also the scale of level (tokens * refill_ns). */
static __int128 refill_ns(const struct ratelimit_bucket *b)
{
	return (__int128)b->cfg.refill_time_ms * NS_PER_MS;
}

static __int128 full(const struct ratelimit_bucket *b)
{
	return (__int128)b->cfg.size * refill_ns(b);
}

static void bucket_init(struct ratelimit_bucket *b, const struct ratelimit_bucket_config *cfg,
			uint64_t now_ns)
{
	b->cfg = *cfg;
	b->burst = cfg->one_time_burst;
	b->last_ns = now_ns;
	b->level = ratelimit_bucket_enabled(cfg) ? full(b) : 0;
}

void ratelimit_init(struct ratelimit *rl, const struct ratelimit_config *cfg, uint64_t now_ns)
{
	bucket_init(&rl->bandwidth, &cfg->bandwidth, now_ns);
	bucket_init(&rl->ops, &cfg->ops, now_ns);
}

/*
 * Adds what the time since the last refill brought, up to full. No clamp on
 * the time: a bucket in debt after a huge request pays it all back. With the
 * *_MAX bounds every product stays below 2^127.
 */
static void bucket_refill(struct ratelimit_bucket *b, uint64_t now_ns)
{
	if (now_ns <= b->last_ns)
		return;
	b->level += (__int128)(now_ns - b->last_ns) * b->cfg.size;
	b->last_ns = now_ns;
	if (b->level > full(b))
		b->level = full(b);
}

/* 0 when b can take n tokens now, else the ns until it can. Refilled first. */
static uint64_t bucket_wait(struct ratelimit_bucket *b, uint64_t n, uint64_t now_ns)
{
	__int128 need, missing;

	if (!ratelimit_bucket_enabled(&b->cfg) || n <= b->burst)
		return 0;
	bucket_refill(b, now_ns);
	n -= b->burst;
	/* More than the bucket holds: wait for it to be full, not for the impossible. */
	need = (__int128)(n < b->cfg.size ? n : b->cfg.size) * refill_ns(b);
	if (b->level >= need)
		return 0;
	/* level grows by size per ns: round up so the wait is never one ns short. */
	missing = (need - b->level + b->cfg.size - 1) / b->cfg.size;
	return missing > UINT64_MAX ? UINT64_MAX : (uint64_t)missing;
}

static void bucket_take(struct ratelimit_bucket *b, uint64_t n)
{
	if (!ratelimit_bucket_enabled(&b->cfg))
		return;
	if (n <= b->burst) {
		b->burst -= n;
		return;
	}
	n -= b->burst;
	b->burst = 0;
	b->level -= (__int128)n * refill_ns(b);
}

uint64_t ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t now_ns)
{
	uint64_t wait_bw = bucket_wait(&rl->bandwidth, bytes, now_ns);
	uint64_t wait_ops = bucket_wait(&rl->ops, 1, now_ns);

	if (wait_bw || wait_ops)
		return wait_bw > wait_ops ? wait_bw : wait_ops;
	bucket_take(&rl->bandwidth, bytes);
	bucket_take(&rl->ops, 1);
	return 0;
}
