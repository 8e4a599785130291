/* devices/hpet.c: the IA-PC HPET (spec 1.0a): a 64-bit main counter at 100 MHz and three timers. */
#include "devices/devices.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "bus/bus.h"
#include "vm/vm.h"

#define HPET_NR_TIMERS 3
#define FS_PER_NS 1000000ull
#define NSEC_PER_SEC 1000000000ull

/* Register block offsets. */
#define REG_CAP 0x000
#define REG_CONFIG 0x010
#define REG_STATUS 0x020
#define REG_COUNTER 0x0f0
#define REG_TIMER0 0x100
#define TIMER_STRIDE 0x20
#define TIMER_CONFIG 0x00
#define TIMER_CMP 0x08
#define TIMER_FSB 0x10

/* General capabilities and ID: revision 1, 64-bit counter, LegacyReplacement capable. */
#define CAP_REV_ID 0x01u
#define CAP_NUM_TIM_SHIFT 8
#define CAP_COUNT_SIZE (1u << 13)
#define CAP_LEG_RT (1u << 15)
#define CAP_VENDOR_SHIFT 16
#define HPET_VENDOR_ID 0x8086u /* the ICH-compatible block it models */

#define CFG_ENABLE (1u << 0)
#define CFG_LEG_RT (1u << 1)

/* Timer configuration and capabilities. */
#define TN_LEVEL (1u << 1)
#define TN_INT_ENB (1u << 2)
#define TN_PERIODIC (1u << 3)
#define TN_PER_INT_CAP (1u << 4)
#define TN_SIZE_CAP (1u << 5)
#define TN_VAL_SET (1u << 6)
#define TN_32MODE (1u << 8)
#define TN_ROUTE_SHIFT 9
#define TN_ROUTE_MASK (0x1fu << TN_ROUTE_SHIFT)
#define TN_ROUTE_CAP_SHIFT 32

/*
 * Tn_INT_ROUTE_CAP: IOAPIC inputs 10 and 11, the ISA lines no kite device
 * drives or the DSDT describes. A line is driven by one source (not wired-OR),
 * so a timer may not share one with another device; GSIs 16-23 belong to the
 * virtio-mmio slots. FSB (MSI) delivery is not offered.
 */
#define HPET_ROUTE_CAP ((1u << 10) | (1u << 11))
/* Power-on route: one the timers can take, so an enabled timer never hits a foreign line. */
#define HPET_ROUTE_DEFAULT 10u

/* LegacyReplacement: timer 0 takes the system timer's line, timer 1 the RTC's. */
#define LEGACY_GSI_TIMER0 0 /* ISA IRQ0: GSI 0, as kite's MADT maps it */
#define LEGACY_GSI_TIMER1 8

/*
 * A timer raises its interrupt at most this often: a periodic timer with a
 * 1-tick period would otherwise keep a host thread spinning at 100 MHz.
 * Matches in between are coalesced, as a CPU that cannot keep up would see.
 */
#define HPET_MIN_INTERVAL_NS (HPET_MIN_TICK * HPET_PERIOD_FS / FS_PER_NS)

#define NONE UINT64_MAX

#define HPET_STATE_VERSION 1

struct hpet_timer {
	uint64_t config; /* the capability bits are constant, see timer_caps() */
	uint64_t cmp;
	uint64_t period; /* the last value written to the comparator: the periodic increment */
	/* Elapsed ticks (since the counter's base) at the next match; NONE while halted. */
	uint64_t fire_at;
	uint64_t fired_ns; /* when it last raised its interrupt */
};

struct hpet {
	struct device dev;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* wakes the timer thread */
	pthread_t thread;
	bool thread_started;
	bool stop;
	bool paused;
	uint64_t thread_deadline; /* when the timer thread wakes next; NONE: when signalled */
	uint64_t config;
	uint64_t status;
	/* Halted: the main counter. Running: its value at base_ns. */
	uint64_t counter;
	uint64_t base_ns;
	struct hpet_timer t[HPET_NR_TIMERS];
	uint32_t lines; /* the GSIs this HPET drives high */
	_Atomic uint64_t interrupts; /* matches that raised an interrupt (docs/metrics.md) */
};

static struct hpet *to_hpet(struct device *dev)
{
	return container_of(dev, struct hpet, dev);
}

static uint64_t hpet_cap(void)
{
	return (uint64_t)HPET_PERIOD_FS << 32 | HPET_VENDOR_ID << CAP_VENDOR_SHIFT | CAP_LEG_RT |
	       CAP_COUNT_SIZE | (HPET_NR_TIMERS - 1) << CAP_NUM_TIM_SHIFT | CAP_REV_ID;
}

uint32_t hpet_block_id(void)
{
	return (uint32_t)hpet_cap();
}

/* Timer 0 is 64 bits wide and periodic capable; timers 1 and 2 are 32-bit one-shots. */
static uint64_t timer_caps(unsigned i)
{
	uint64_t caps = (uint64_t)HPET_ROUTE_CAP << TN_ROUTE_CAP_SHIFT;

	return i == 0 ? caps | TN_PER_INT_CAP | TN_SIZE_CAP : caps;
}

/* The configuration bits a guest may write on timer i. */
static uint64_t timer_writable(unsigned i)
{
	uint64_t w = TN_LEVEL | TN_INT_ENB | TN_ROUTE_MASK;

	if (timer_caps(i) & TN_PER_INT_CAP)
		w |= TN_PERIODIC | TN_VAL_SET;
	if (timer_caps(i) & TN_SIZE_CAP)
		w |= TN_32MODE;
	return w;
}

static uint64_t width_mask(const struct hpet_timer *t)
{
	return (t->config & TN_SIZE_CAP) && !(t->config & TN_32MODE) ? UINT64_MAX : UINT32_MAX;
}

static bool is_running(const struct hpet *h)
{
	return h->config & CFG_ENABLE;
}

static uint64_t ns_to_ticks(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * FS_PER_NS / HPET_PERIOD_FS);
}

/* The first ns offset at which ns_to_ticks() reaches ticks; NONE past 2^64 ns. */
static uint64_t ticks_to_ns_ceil(uint64_t ticks)
{
	unsigned __int128 ns = ((unsigned __int128)ticks * HPET_PERIOD_FS + FS_PER_NS - 1) / FS_PER_NS;

	return ns >= NONE ? NONE : (uint64_t)ns;
}

/*
 * Ticks since base_ns. The main counter is always derived from this one
 * anchor, never accumulated, so it cannot drift from the VM's clock.
 */
static uint64_t elapsed(const struct hpet *h, uint64_t now)
{
	return now > h->base_ns ? ns_to_ticks(now - h->base_ns) : 0;
}

static uint64_t counter_now(const struct hpet *h, uint64_t now)
{
	return is_running(h) ? h->counter + elapsed(h, now) : h->counter;
}

static unsigned timer_gsi(const struct hpet *h, unsigned i)
{
	if ((h->config & CFG_LEG_RT) && i == 0)
		return LEGACY_GSI_TIMER0;
	if ((h->config & CFG_LEG_RT) && i == 1)
		return LEGACY_GSI_TIMER1;
	return (unsigned)((h->t[i].config & TN_ROUTE_MASK) >> TN_ROUTE_SHIFT);
}

/* Drives every line to what the level-triggered timers' status bits say. */
static void lines_update(struct hpet *h)
{
	uint32_t want = 0, changed;

	for (unsigned i = 0; i < HPET_NR_TIMERS; i++) {
		const struct hpet_timer *t = &h->t[i];

		if (is_running(h) && (t->config & TN_LEVEL) && (t->config & TN_INT_ENB) &&
		    (h->status & (1u << i)))
			want |= 1u << timer_gsi(h, i);
	}
	changed = want ^ h->lines;
	h->lines = want;
	for (unsigned gsi = 0; changed; gsi++, changed >>= 1)
		if (changed & 1)
			vm_irq_set(h->dev.vm, gsi, (want >> gsi) & 1);
}

/* A comparator match: a level timer latches its status bit, an edge timer pulses its line. */
static void timer_fire(struct hpet *h, unsigned i, uint64_t now)
{
	struct hpet_timer *t = &h->t[i];
	unsigned gsi = timer_gsi(h, i);

	t->fired_ns = now;
	if (t->config & TN_INT_ENB)
		counter_add_owned(&h->interrupts, 1);
	if (t->config & TN_LEVEL) {
		h->status |= 1u << i;
		lines_update(h);
	} else if ((t->config & TN_INT_ENB) && !(h->lines & (1u << gsi))) {
		vm_irq_set(h->dev.vm, gsi, 1);
		vm_irq_set(h->dev.vm, gsi, 0);
	}
}

/*
 * Arms timer i for the next tick at which the counter's low bits (32 or 64)
 * equal its comparator. The match is an equality, so a comparator the counter
 * has just passed waits for the counter to come round again.
 */
static void timer_arm(struct hpet *h, unsigned i, uint64_t now)
{
	struct hpet_timer *t = &h->t[i];
	uint64_t cur, d, at;

	t->fire_at = NONE;
	if (!is_running(h))
		return;
	cur = elapsed(h, now);
	d = (t->cmp - (h->counter + cur)) & width_mask(t);
	if (!add_overflows(cur, d, &at))
		t->fire_at = at;
}

static void timers_arm(struct hpet *h, uint64_t now)
{
	for (unsigned i = 0; i < HPET_NR_TIMERS; i++)
		timer_arm(h, i, now);
}

/*
 * After a match at fire_at: a periodic timer's comparator moves on by its
 * period past the current tick (skipped periods are coalesced); a one-shot
 * matches again once the counter wraps back to the comparator.
 */
static void timer_rearm(struct hpet_timer *t, uint64_t cur)
{
	uint64_t mask = width_mask(t), step, k, at;

	if ((t->config & TN_PERIODIC) && t->period) {
		k = (cur - t->fire_at) / t->period + 1;
		step = (uint64_t)((unsigned __int128)k * t->period);
		t->cmp = (t->cmp + step) & mask;
		if ((unsigned __int128)k * t->period > UINT64_MAX || add_overflows(t->fire_at, step, &at))
			at = NONE;
		t->fire_at = at;
		return;
	}
	if (mask == UINT64_MAX || add_overflows(t->fire_at, mask + 1, &at))
		at = NONE;
	t->fire_at = at;
}

/*
 * Whether a match shows outside the HPET: a level timer latches its status
 * bit, an enabled edge timer pulses its line. The others (an OS's shut-down
 * periodic timer, say) only advance their comparator, which is caught up
 * when the guest next touches the block instead of on a host wakeup.
 */
static bool timer_is_live(const struct hpet_timer *t)
{
	return t->config & (TN_LEVEL | TN_INT_ENB);
}

/*
 * Fires what is due by now and catches up timers whose matches show
 * nothing; returns the next deadline of a live timer (the VM's clock, ns)
 * or NONE. Runs on the timer thread and before and after every access.
 */
static uint64_t timers_run(struct hpet *h, uint64_t now)
{
	uint64_t cur, next = NONE, at;

	if (!is_running(h))
		return NONE;
	cur = elapsed(h, now);
	for (unsigned i = 0; i < HPET_NR_TIMERS; i++) {
		struct hpet_timer *t = &h->t[i];
		bool live = timer_is_live(t);

		if (t->fire_at <= cur && !live) {
			timer_rearm(t, cur);
		} else if (t->fire_at <= cur &&
			   (!t->fired_ns || t->fired_ns + HPET_MIN_INTERVAL_NS <= now)) {
			timer_fire(h, i, now);
			timer_rearm(t, cur);
		}
		if (!live || t->fire_at == NONE)
			continue;
		at = ticks_to_ns_ceil(t->fire_at);
		if (at == NONE || add_overflows(h->base_ns, at, &at))
			continue;
		if (t->fired_ns && at < t->fired_ns + HPET_MIN_INTERVAL_NS)
			at = t->fired_ns + HPET_MIN_INTERVAL_NS;
		if (at < next)
			next = at;
	}
	return next;
}

static void *timer_thread(void *arg)
{
	struct hpet *h = arg;
	struct timespec ts;
	uint64_t host;

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		h->thread_deadline = h->paused ? NONE : timers_run(h, vm_clock_ns(h->dev.vm));
		/* NONE too when the VM paused meanwhile: hpet_resume() signals. */
		host = vm_clock_host_ns(h->dev.vm, h->thread_deadline);
		if (host == NONE) {
			pthread_cond_wait(&h->cond, &h->lock);
			continue;
		}
		ts.tv_sec = (time_t)(host / NSEC_PER_SEC);
		ts.tv_nsec = (long)(host % NSEC_PER_SEC);
		pthread_cond_timedwait(&h->cond, &h->lock, &ts);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* The timer thread looks again only if it would otherwise sleep past next. */
static void thread_wake_by(struct hpet *h, uint64_t next)
{
	if (next < h->thread_deadline)
		pthread_cond_signal(&h->cond);
}

static void config_write(struct hpet *h, uint64_t val, uint64_t now)
{
	uint64_t old = h->config;

	h->config = val & (CFG_ENABLE | CFG_LEG_RT);
	if ((old ^ h->config) & CFG_ENABLE) {
		if (h->config & CFG_ENABLE) {
			h->base_ns = now;
		} else {
			h->counter += elapsed(h, now);
		}
		timers_arm(h, now);
	}
	lines_update(h);
}

static void counter_write(struct hpet *h, uint64_t val, uint64_t now)
{
	/* The spec wants the counter halted first; a running one restarts from val. */
	h->counter = val;
	h->base_ns = now;
	timers_arm(h, now);
}

static void timer_config_write(struct hpet *h, unsigned i, uint64_t val, uint64_t now)
{
	struct hpet_timer *t = &h->t[i];
	uint64_t old = t->config, route = (val & TN_ROUTE_MASK) >> TN_ROUTE_SHIFT;

	/* An input the timer cannot reach is not taken: the route reads back unchanged. */
	if (!(HPET_ROUTE_CAP & (1u << route)))
		val = (val & ~(uint64_t)TN_ROUTE_MASK) | (old & TN_ROUTE_MASK);
	t->config = (old & ~timer_writable(i)) | (val & timer_writable(i));
	/* Forced 32-bit: the comparator and the period keep their low halves. */
	t->cmp &= width_mask(t);
	t->period &= width_mask(t);
	/* Edge-triggered timers have no status bit. */
	if (!(t->config & TN_LEVEL))
		h->status &= ~(1ull << i);
	if ((old ^ t->config) & (TN_32MODE | TN_PERIODIC))
		timer_arm(h, i, now);
	lines_update(h);
}

/*
 * A comparator write sets the period (the value the comparator advances by
 * in periodic mode) and, unless the timer is periodic without Tn_VAL_SET_CNF,
 * the comparator itself. Tn_VAL_SET_CNF clears after each write.
 */
static void timer_cmp_write(struct hpet *h, unsigned i, uint64_t val, uint64_t mask,
			    uint64_t now)
{
	struct hpet_timer *t = &h->t[i];

	mask &= width_mask(t);
	t->period = (t->period & ~mask) | (val & mask);
	if (!(t->config & TN_PERIODIC) || (t->config & TN_VAL_SET)) {
		t->cmp = (t->cmp & ~mask) | (val & mask);
		timer_arm(h, i, now);
	}
	t->config &= ~(uint64_t)TN_VAL_SET;
}

static uint64_t reg_read(struct hpet *h, uint64_t reg, uint64_t now)
{
	unsigned i;

	switch (reg) {
	case REG_CAP:
		return hpet_cap();
	case REG_CONFIG:
		return h->config;
	case REG_STATUS:
		return h->status;
	case REG_COUNTER:
		return counter_now(h, now);
	}
	if (reg < REG_TIMER0 || reg >= REG_TIMER0 + HPET_NR_TIMERS * TIMER_STRIDE)
		return 0; /* reserved */
	i = (unsigned)((reg - REG_TIMER0) / TIMER_STRIDE);
	switch ((reg - REG_TIMER0) % TIMER_STRIDE) {
	case TIMER_CONFIG:
		return h->t[i].config;
	case TIMER_CMP:
		return h->t[i].cmp;
	default:
		return 0; /* the FSB route register: no FSB delivery */
	}
}

/* val holds the bytes written in mask; the rest of the register keeps its value. */
static void reg_write(struct hpet *h, uint64_t reg, uint64_t val, uint64_t mask, uint64_t now)
{
	uint64_t merged = (reg_read(h, reg, now) & ~mask) | (val & mask);
	unsigned i;

	switch (reg) {
	case REG_CONFIG:
		config_write(h, merged, now);
		return;
	case REG_STATUS:
		/* Write 1 to clear, level-triggered timers' bits only (edge ones stay 0). */
		h->status &= ~(val & mask);
		lines_update(h);
		return;
	case REG_COUNTER:
		counter_write(h, merged, now);
		return;
	}
	if (reg < REG_TIMER0 || reg >= REG_TIMER0 + HPET_NR_TIMERS * TIMER_STRIDE)
		return;
	i = (unsigned)((reg - REG_TIMER0) / TIMER_STRIDE);
	switch ((reg - REG_TIMER0) % TIMER_STRIDE) {
	case TIMER_CONFIG:
		timer_config_write(h, i, merged, now);
		break;
	case TIMER_CMP:
		timer_cmp_write(h, i, val, mask, now);
		break;
	default:
		break;
	}
}

/*
 * Registers are 64 bits wide; the spec allows 32- and 64-bit accesses, and
 * a 32-bit one reaches either half alone. Any access inside one register is
 * served the same way; one that straddles two is ignored.
 */
static void hpet_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct hpet *h = opaque;
	uint64_t reg = offset & ~7ull, shift = (offset & 7) * 8, val = 0, mask, now;

	if ((offset & 7) + len > 8) {
		log_ratelimited(LOG_WARN, "hpet: ignoring a %u-byte access across registers at 0x%llx",
				len, (unsigned long long)offset);
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	mask = (len == 8 ? UINT64_MAX : ((1ull << (len * 8)) - 1)) << shift;
	now = vm_clock_ns(h->dev.vm);
	pthread_mutex_lock(&h->lock);
	/* What matched by now shows in the registers, whether or not the thread ran yet. */
	timers_run(h, now);
	if (is_write) {
		for (unsigned b = 0; b < len; b++)
			val |= (uint64_t)data[b] << (shift + 8 * b);
		reg_write(h, reg, val, mask, now);
		thread_wake_by(h, timers_run(h, now));
	} else {
		val = reg_read(h, reg, now);
		for (unsigned b = 0; b < len; b++)
			data[b] = (uint8_t)(val >> (shift + 8 * b));
	}
	pthread_mutex_unlock(&h->lock);
}

/* Power-on state: halted at 0, every timer one-shot, edge, disabled, comparators all ones. */
static void state_reset(struct hpet *h)
{
	h->config = 0;
	h->status = 0;
	h->counter = 0;
	h->base_ns = 0;
	for (unsigned i = 0; i < HPET_NR_TIMERS; i++) {
		struct hpet_timer *t = &h->t[i];

		t->config = timer_caps(i) | ((uint64_t)HPET_ROUTE_DEFAULT << TN_ROUTE_SHIFT);
		t->cmp = width_mask(t);
		t->period = 0;
		t->fire_at = NONE;
		t->fired_ns = 0;
	}
}

/* A reset leaves the counter halted at 0 and drops every line the HPET held. */
static void hpet_reset(struct device *dev)
{
	struct hpet *h = to_hpet(dev);

	pthread_mutex_lock(&h->lock);
	state_reset(h);
	lines_update(h);
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static int hpet_realize(struct device *dev, struct err *err)
{
	struct hpet *h = to_hpet(dev);
	int rc;

	rc = io_bus_register(&dev->vm->mmio, HPET_BASE, HPET_SIZE, hpet_mmio, h, "hpet", err);
	if (rc < 0)
		return rc;
	rc = pthread_create(&h->thread, NULL, timer_thread, h);
	if (rc)
		return err_set(err, -rc, "hpet: starting the timer thread: %s", strerror(rc));
	h->thread_started = true;
	return 0;
}

/*
 * Paused, no timer fires; the counter stands still with the VM's clock
 * (stopped just after this), so nothing is due at once on resume.
 */
static void hpet_pause(struct device *dev)
{
	struct hpet *h = to_hpet(dev);

	pthread_mutex_lock(&h->lock);
	h->paused = true;
	pthread_mutex_unlock(&h->lock);
}

static void hpet_resume(struct device *dev)
{
	struct hpet *h = to_hpet(dev);

	pthread_mutex_lock(&h->lock);
	h->paused = false;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static int hpet_save(struct device *dev, struct state_writer *w)
{
	struct hpet *h = to_hpet(dev);
	uint64_t now = vm_clock_ns(h->dev.vm);

	pthread_mutex_lock(&h->lock);
	state_section_begin(w, "hpet", HPET_STATE_VERSION);
	state_put_u64(w, h->config);
	state_put_u64(w, h->status);
	/* The counter's value now: load runs it on from there. */
	state_put_u64(w, counter_now(h, now));
	for (unsigned i = 0; i < HPET_NR_TIMERS; i++) {
		state_put_u64(w, h->t[i].config);
		state_put_u64(w, h->t[i].cmp);
		state_put_u64(w, h->t[i].period);
	}
	state_section_end(w);
	pthread_mutex_unlock(&h->lock);
	return w->error;
}

/* Whether a loaded timer is one this HPET could have been put in. */
static bool timer_valid(unsigned i, const struct hpet_timer *t)
{
	uint64_t route = (t->config & TN_ROUTE_MASK) >> TN_ROUTE_SHIFT;

	return (t->config & ~timer_writable(i)) == timer_caps(i) &&
	       (HPET_ROUTE_CAP & (1u << route)) && !(t->cmp & ~width_mask(t)) &&
	       !(t->period & ~width_mask(t));
}

static int hpet_load(struct device *dev, struct state_reader *r, struct err *err)
{
	struct hpet *h = to_hpet(dev);
	struct hpet_timer t[HPET_NR_TIMERS] = { 0 };
	uint64_t config, status, counter, now, level = 0;
	uint32_t version;
	int rc;

	rc = state_section_open(r, "hpet", HPET_STATE_VERSION, &version, err);
	if (rc < 0)
		return rc;
	config = state_get_u64(r);
	status = state_get_u64(r);
	counter = state_get_u64(r);
	for (unsigned i = 0; i < HPET_NR_TIMERS; i++) {
		t[i].config = state_get_u64(r);
		t[i].cmp = state_get_u64(r);
		t[i].period = state_get_u64(r);
	}
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "hpet");
	if (config & ~(uint64_t)(CFG_ENABLE | CFG_LEG_RT))
		return err_set(err, -EINVAL, "hpet: configuration 0x%llx has reserved bits",
			       (unsigned long long)config);
	for (unsigned i = 0; i < HPET_NR_TIMERS; i++) {
		if (!timer_valid(i, &t[i]))
			return err_set(err, -EINVAL, "hpet: timer %u state is not one it can be in", i);
		if (t[i].config & TN_LEVEL)
			level |= 1u << i;
	}
	if (status & ~level)
		return err_set(err, -EINVAL, "hpet: status 0x%llx names edge-triggered timers",
			       (unsigned long long)status);

	now = vm_clock_ns(h->dev.vm);
	pthread_mutex_lock(&h->lock);
	h->config = config;
	h->status = status;
	h->counter = counter;
	h->base_ns = now;
	for (unsigned i = 0; i < HPET_NR_TIMERS; i++) {
		h->t[i] = t[i];
		h->t[i].fired_ns = 0;
	}
	timers_arm(h, now);
	lines_update(h);
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static void hpet_destroy(struct device *dev)
{
	struct hpet *h = to_hpet(dev);

	if (h->thread_started) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_signal(&h->cond);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
	}
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static unsigned hpet_metrics(struct device *dev, struct metric *out, unsigned max)
{
	unsigned n = 0;

	metric_put(out, &n, max, "interrupts", counter_get(&to_hpet(dev)->interrupts));
	return n;
}

static const struct device_ops hpet_ops = {
	.type = "hpet",
	.realize = hpet_realize,
	.reset = hpet_reset,
	.pause = hpet_pause,
	.resume = hpet_resume,
	.save = hpet_save,
	.load = hpet_load,
	.destroy = hpet_destroy,
	.metrics = hpet_metrics,
};

struct device *hpet_create(struct vm *vm, struct err *err)
{
	struct hpet *h = calloc(1, sizeof(*h));
	pthread_condattr_t attr;

	if (!h) {
		err_set(err, -ENOMEM, "hpet: out of memory");
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	/* Deadlines are the VM's clock, turned into CLOCK_MONOTONIC to sleep on. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &attr);
	pthread_condattr_destroy(&attr);
	h->dev.ops = &hpet_ops;
	h->dev.vm = vm;
	h->dev.name = "hpet";
	state_reset(h);
	vm_add_device(vm, &h->dev);
	return &h->dev;
}
