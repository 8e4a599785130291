/* irqchip/lapic.c: the local APIC of each vCPU (xAPIC and x2APIC): registers, IPIs, timer, INIT/SIPI. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/x86.h"
#include "irqchip/internal.h"

/* Register offsets in the 4 KiB xAPIC page. */
#define APIC_ID		0x020
#define APIC_VERSION	0x030
#define APIC_TPR	0x080
#define APIC_APR	0x090
#define APIC_PPR	0x0a0
#define APIC_EOI	0x0b0
#define APIC_LDR	0x0d0
#define APIC_DFR	0x0e0
#define APIC_SVR	0x0f0
#define APIC_ISR	0x100
#define APIC_TMR	0x180
#define APIC_IRR	0x200
#define APIC_ESR	0x280
#define APIC_ICR_LO	0x300
#define APIC_ICR_HI	0x310
#define APIC_LVT_TIMER	0x320
#define APIC_LVT_ERROR	0x370
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR	0x390
#define APIC_TIMER_DCR	0x3e0
#define APIC_SELF_IPI	0x3f0 /* x2APIC only */
#define APIC_PAGE	0x1000

/* x2APIC: MSR 0x800 + (xAPIC offset >> 4) is the register. */
#define X2APIC_MSR_FIRST 0x800u
#define X2APIC_MSR_LAST	 0x8ffu

/* Version 0x14 (integrated xAPIC), LVT entries 0-5, no EOI-broadcast suppression. */
#define APIC_VERSION_VALUE 0x00050014u

#define SVR_ENABLE (1u << 8)
#define SVR_MASK   0x3ffu /* vector, enable, focus check */

#define LVT_TIMER    0
#define LVT_THERMAL  1
#define LVT_PERF     2
#define LVT_LINT0    3
#define LVT_LINT1    4
#define LVT_ERROR    5
#define LVT_MASKED   (1u << 16)
#define LVT_PERIODIC (1u << 17)

#define ESR_SEND_ILLEGAL (1u << 5)
#define ESR_RECV_ILLEGAL (1u << 6)
#define ESR_MASK	 0xecu

#define ICR_LOGICAL (1u << 11)
#define ICR_ASSERT  (1u << 14)
#define ICR_LEVEL   (1u << 15)
#define ICR_LO_MASK 0x000ccfffu
#define ICR_HI_MASK 0xff000000u

#define DCR_MASK	  0xbu
#define DFR_MODEL_FLAT	  0xfu
#define DFR_MODEL_CLUSTER 0x0u

/*
 * A hostile guest could program a 1 ns periodic timer and keep its vCPU
 * servicing nothing but timer polls; periodic expiries are spaced at least
 * this far apart (the count it reads is unaffected).
 */
#define LAPIC_TIMER_MIN_PERIOD_NS 50000ull

#define LAPIC_STATE_VERSION 4 /* 2: the base address; 3: the ID register; 4: x2APIC mode */

/* Bits a guest may write in each LVT (the timer has no delivery mode). */
static const uint32_t lvt_writable[LAPIC_NR_LVT] = {
    [LVT_TIMER] = 0x000300ff, [LVT_THERMAL] = 0x000107ff, [LVT_PERF] = 0x000107ff,
    [LVT_LINT0] = 0x0001a7ff, [LVT_LINT1] = 0x0001a7ff,	  [LVT_ERROR] = 0x000100ff,
};

static void vec_set(uint32_t *bm, unsigned v)
{
	bm[v >> 5] |= 1u << (v & 31);
}

static void vec_clear(uint32_t *bm, unsigned v)
{
	bm[v >> 5] &= ~(1u << (v & 31));
}

static bool vec_test(const uint32_t *bm, unsigned v)
{
	return bm[v >> 5] & (1u << (v & 31));
}

static int vec_highest(const uint32_t *bm)
{
	for (int i = LAPIC_VEC_WORDS - 1; i >= 0; i--)
		if (bm[i])
			return i * 32 + 31 - __builtin_clz(bm[i]);
	return -1;
}

static bool sw_enabled(const struct lapic *l)
{
	return l->svr & SVR_ENABLE;
}

static uint32_t ppr(const struct lapic *l)
{
	int isrv = vec_highest(l->isr);

	if (isrv < 0 || (l->tpr >> 4) >= ((unsigned)isrv >> 4))
		return l->tpr & 0xff;
	return (unsigned)isrv & 0xf0;
}

/* Refreshes what irqchip_has_interrupt() reads without the lock. */
static void summary_update(struct lapic *l)
{
	int v = vec_highest(l->irr);
	uint32_t lint0 = l->lvt[LVT_LINT0];
	bool extint;

	atomic_store(&l->ready, !l->hw_disabled && v >= 0 && ((unsigned)v >> 4) > (ppr(l) >> 4));
	extint = l->hw_disabled ||
		 (sw_enabled(l) && !(lint0 & LVT_MASKED) && ((lint0 >> 8) & 7) == DM_EXTINT);
	/* Only the BSP's LINT0 is wired to the PIC. */
	atomic_store(&l->extint_ok, l->id == 0 && extint);
}

/* Power-on / INIT state of everything but the ID and IA32_APIC_BASE. */
/* The x2APIC logical ID: cluster id[31:4] in bits 31:16, bit id[3:0] of the cluster's 16. */
static uint32_t x2apic_ldr(uint32_t id)
{
	return ((id >> 4) << 16) | (1u << (id & 0xf));
}

static void regs_reset(struct lapic *l)
{
	l->tpr = 0;
	/* INIT keeps x2APIC mode, whose LDR is fixed by the ID. */
	l->ldr = l->x2apic ? x2apic_ldr(l->id) : 0;
	l->dfr = 0xffffffff;
	l->svr = 0xff;
	l->esr = l->esr_pending = 0;
	l->icr_lo = l->icr_hi = 0;
	for (unsigned i = 0; i < LAPIC_NR_LVT; i++)
		l->lvt[i] = LVT_MASKED;
	memset(l->irr, 0, sizeof(l->irr));
	memset(l->isr, 0, sizeof(l->isr));
	memset(l->tmr, 0, sizeof(l->tmr));
	l->timer_initial = 0;
	l->timer_dcr = 0;
	l->timer_start_ns = 0;
	atomic_store(&l->timer_deadline, UINT64_MAX);
	atomic_store(&l->extint_req, false);
	atomic_store(&l->pic_sampled, false);
	summary_update(l);
}

/* Publishes base and hw_disabled for the lock-free readers of irqchip_apic_page(). Lock held. */
static void page_publish(struct lapic *l)
{
	/* In x2APIC mode the page decodes nothing: accesses there reach memory. */
	atomic_store(&l->page, l->hw_disabled || l->x2apic ? UINT64_MAX : l->base);
}

void lapic_init(struct lapic *l, struct irqchip *chip, unsigned id)
{
	l->chip = chip;
	l->id = id;
	l->apic_id = (uint8_t)id;
	pthread_mutex_init(&l->lock, NULL);
	regs_reset(l);
	l->hw_disabled = false;
	l->base = APIC_DEFAULT_BASE;
	page_publish(l);
	/* An AP listens for SIPI only after an INIT, as after firmware parked it. */
	l->wait_sipi = false;
	l->init_pending = l->sipi_pending = false;
	atomic_store(&l->nmi_pending, 0);
	if (id == 0) {
		/* What a PC BIOS leaves on the BSP: enabled, virtual-wire LINT0, NMI on LINT1. */
		l->svr = SVR_ENABLE | 0xff;
		l->lvt[LVT_LINT0] = DM_EXTINT << 8;
		l->lvt[LVT_LINT1] = DM_NMI << 8;
	}
	summary_update(l);
}

void lapic_destroy(struct lapic *l)
{
	pthread_mutex_destroy(&l->lock);
}

/* Latches an error for the next ESR write and raises the error LVT once per bit. */
static void error_set(struct lapic *l, uint32_t bit)
{
	uint32_t lvt = l->lvt[LVT_ERROR];
	unsigned v = lvt & 0xff;

	if (l->esr_pending & bit)
		return;
	l->esr_pending |= bit;
	if ((lvt & LVT_MASKED) || !sw_enabled(l))
		return;
	if (v < 16) {
		l->esr_pending |= ESR_RECV_ILLEGAL; /* and no recursion */
		return;
	}
	vec_set(l->irr, v);
	vec_clear(l->tmr, v);
	summary_update(l);
}

/* Fixed interrupt into IRR; false when refused. Lock held. */
static bool accept_fixed(struct lapic *l, unsigned vector, bool level)
{
	if (!sw_enabled(l))
		return false;
	if (vector < 16) {
		error_set(l, ESR_RECV_ILLEGAL);
		return false;
	}
	vec_set(l->irr, vector);
	if (level)
		vec_set(l->tmr, vector);
	else
		vec_clear(l->tmr, vector);
	summary_update(l);
	return true;
}

/*
 * NMIs count: two can arrive before the CPU takes either, and it then
 * handles one and latches the other. More than that would only be latched
 * once, so they are dropped here already.
 */
static void nmi_arrive(struct lapic *l)
{
	unsigned n = atomic_load(&l->nmi_pending);

	while (n < IRQCHIP_NMI_MAX && !atomic_compare_exchange_weak(&l->nmi_pending, &n, n + 1))
		;
}

bool lapic_accept(struct lapic *l, const struct irq_msg *m)
{
	bool ok = false;

	pthread_mutex_lock(&l->lock);
	if (l->hw_disabled)
		goto out;
	switch (m->mode) {
	case DM_FIXED:
	case DM_LOWEST:
		ok = accept_fixed(l, m->vector, m->level);
		break;
	case DM_NMI:
		nmi_arrive(l);
		ok = true;
		break;
	case DM_INIT:
		regs_reset(l);
		l->init_pending = true;
		l->wait_sipi = true;
		l->sipi_pending = false;
		ok = true;
		break;
	case DM_SIPI:
		if (!l->wait_sipi)
			break; /* only a CPU waiting for SIPI listens */
		l->wait_sipi = false;
		l->sipi_pending = true;
		l->sipi_vector = m->vector;
		ok = true;
		break;
	case DM_EXTINT:
		atomic_store(&l->extint_req, true);
		ok = true;
		break;
	default:
		break;
	}
out:
	pthread_mutex_unlock(&l->lock);
	if (ok)
		chip_kick(l->chip, l->id);
	return ok;
}

bool lapic_dest_match(struct lapic *l, const struct irq_msg *m)
{
	uint32_t dest = m->dest;
	bool hit = false;
	uint8_t mine;

	pthread_mutex_lock(&l->lock);
	if (l->hw_disabled)
		goto out;
	/* An xAPIC-format broadcast (an IOAPIC's, too) reaches x2APIC-mode APICs as well. */
	if (dest == (m->x2 ? 0xffffffffu : 0xffu)) {
		hit = true;
		goto out;
	}
	if (l->x2apic) {
		/* Logical: the cluster model only, 16 APICs a cluster (SDM 11.12.10.2). */
		if (!m->logical)
			hit = dest == l->id;
		else
			hit = (dest >> 16) == (l->ldr >> 16) && (dest & l->ldr & 0xffff);
		goto out;
	}
	dest &= 0xff; /* an x2APIC message to an xAPIC-mode APIC: mixed modes are undefined */
	if (!m->logical) {
		/* Every APIC whose ID register matches, when software made IDs alias. */
		hit = dest == l->apic_id;
		goto out;
	}
	mine = (uint8_t)(l->ldr >> 24);
	if (l->dfr >> 28 == DFR_MODEL_FLAT)
		hit = mine & dest;
	else if (l->dfr >> 28 == DFR_MODEL_CLUSTER)
		hit = (mine >> 4) == (dest >> 4) && (mine & dest & 0xf);
out:
	pthread_mutex_unlock(&l->lock);
	return hit;
}

int lapic_task_priority(struct lapic *l)
{
	int tpr = -1;

	pthread_mutex_lock(&l->lock);
	if (!l->hw_disabled && sw_enabled(l))
		tpr = (int)l->tpr;
	pthread_mutex_unlock(&l->lock);
	return tpr;
}

bool lapic_id_is(struct lapic *l, uint32_t id)
{
	bool hit;

	pthread_mutex_lock(&l->lock);
	hit = !l->hw_disabled && (l->x2apic ? l->id : l->apic_id) == id;
	pthread_mutex_unlock(&l->lock);
	return hit;
}

int lapic_take(struct lapic *l)
{
	int v;

	pthread_mutex_lock(&l->lock);
	v = vec_highest(l->irr);
	if (l->hw_disabled || v < 0 || ((unsigned)v >> 4) <= (ppr(l) >> 4)) {
		v = -1;
	} else {
		vec_clear(l->irr, (unsigned)v);
		vec_set(l->isr, (unsigned)v);
		summary_update(l);
	}
	pthread_mutex_unlock(&l->lock);
	return v;
}

/* Retires the highest in-service vector; returns it if the IOAPIC must hear of it. */
static int eoi(struct lapic *l)
{
	int v = vec_highest(l->isr);

	if (v < 0)
		return -1;
	vec_clear(l->isr, (unsigned)v);
	summary_update(l);
	return vec_test(l->tmr, (unsigned)v) ? v : -1;
}

/* ---- Timer: 1 GHz input, counts derived from the VM's clock. ---- */

static unsigned timer_shift(const struct lapic *l)
{
	unsigned enc = ((l->timer_dcr & 8) >> 1) | (l->timer_dcr & 3);

	return (enc + 1) & 7; /* 0b111 divides by 1, 0b000 by 2, ... */
}

static bool timer_periodic(const struct lapic *l)
{
	return l->lvt[LVT_TIMER] & LVT_PERIODIC;
}

static uint64_t timer_period(const struct lapic *l)
{
	return (uint64_t)l->timer_initial << timer_shift(l);
}

static uint32_t timer_current(const struct lapic *l, uint64_t now)
{
	uint64_t ticks;

	/* Stopped, or a one-shot count that ran out: 0, whatever the mode says now. */
	if (!l->timer_initial || atomic_load(&l->timer_deadline) == UINT64_MAX)
		return 0;
	ticks = (now - l->timer_start_ns) >> timer_shift(l);
	if (timer_periodic(l))
		return l->timer_initial - (uint32_t)(ticks % l->timer_initial);
	return ticks >= l->timer_initial ? 0 : l->timer_initial - (uint32_t)ticks;
}

static void timer_arm(struct lapic *l, uint64_t now)
{
	uint64_t p = timer_period(l);

	l->timer_start_ns = now;
	if (!p) {
		atomic_store(&l->timer_deadline, UINT64_MAX);
		return;
	}
	if (timer_periodic(l) && p < LAPIC_TIMER_MIN_PERIOD_NS)
		p = LAPIC_TIMER_MIN_PERIOD_NS;
	atomic_store(&l->timer_deadline, now + p);
}

/*
 * One-shot <-> periodic: the count goes on from where it is in the new mode,
 * and one that reached 0 stays there (an expiry nobody polled yet is
 * delivered first). Called before the LVT takes the new mode.
 */
static void timer_mode_change(struct lapic *l)
{
	uint64_t now = chip_now(l->chip), d = atomic_load(&l->timer_deadline);
	uint32_t cur;

	if (!l->timer_initial || d == UINT64_MAX)
		return;
	if (d <= now && !(l->lvt[LVT_TIMER] & LVT_MASKED))
		accept_fixed(l, l->lvt[LVT_TIMER] & 0xff, false);
	cur = timer_current(l, now);
	if (!cur || (d <= now && !timer_periodic(l))) {
		atomic_store(&l->timer_deadline, UINT64_MAX);
		return;
	}
	l->timer_start_ns = now - ((uint64_t)(l->timer_initial - cur) << timer_shift(l));
	atomic_store(&l->timer_deadline, now + ((uint64_t)cur << timer_shift(l)));
}

/* A new divider applies from now on; the count reached so far is kept. */
static void dcr_write(struct lapic *l, uint32_t val)
{
	uint64_t now = chip_now(l->chip);
	uint32_t cur = timer_current(l, now);
	bool running = atomic_load(&l->timer_deadline) != UINT64_MAX;

	l->timer_dcr = val & DCR_MASK;
	if (!running || !cur)
		return;
	l->timer_start_ns = now - ((uint64_t)(l->timer_initial - cur) << timer_shift(l));
	atomic_store(&l->timer_deadline, now + ((uint64_t)cur << timer_shift(l)));
}

uint64_t irqchip_lapic_timer_poll(struct irqchip *chip, unsigned cpu, uint64_t now_ns)
{
	struct lapic *l;
	uint64_t d, p, n;
	uint32_t lvt;

	if (cpu >= chip->nr_cpus)
		return UINT64_MAX;
	l = &chip->lapics[cpu];
	d = atomic_load(&l->timer_deadline);
	if (now_ns < d)
		return d;
	pthread_mutex_lock(&l->lock);
	d = atomic_load(&l->timer_deadline);
	if (now_ns >= d) {
		lvt = l->lvt[LVT_TIMER];
		if (!(lvt & LVT_MASKED))
			accept_fixed(l, lvt & 0xff, false);
		p = timer_period(l);
		if (timer_periodic(l) && p) {
			if (p < LAPIC_TIMER_MIN_PERIOD_NS)
				p = LAPIC_TIMER_MIN_PERIOD_NS;
			/* Expiries missed while nobody polled coalesce into this one. */
			n = (now_ns - d) / p + 1;
			atomic_store(&l->timer_deadline, d + n * p);
		} else {
			atomic_store(&l->timer_deadline, UINT64_MAX);
		}
	}
	d = atomic_load(&l->timer_deadline);
	pthread_mutex_unlock(&l->lock);
	return d;
}

/* ---- Register access ---- */

static uint32_t reg_read(struct lapic *l, unsigned off)
{
	if (off >= APIC_ISR && off < APIC_ISR + 0x80)
		return l->isr[(off - APIC_ISR) >> 4];
	if (off >= APIC_TMR && off < APIC_TMR + 0x80)
		return l->tmr[(off - APIC_TMR) >> 4];
	if (off >= APIC_IRR && off < APIC_IRR + 0x80)
		return l->irr[(off - APIC_IRR) >> 4];
	if (off >= APIC_LVT_TIMER && off <= APIC_LVT_ERROR)
		return l->lvt[(off - APIC_LVT_TIMER) >> 4];
	switch (off) {
	case APIC_ID:
		return (uint32_t)l->apic_id << 24;
	case APIC_VERSION:
		return APIC_VERSION_VALUE;
	case APIC_TPR:
		return l->tpr;
	case APIC_PPR:
		return ppr(l);
	case APIC_LDR:
		return l->ldr;
	case APIC_DFR:
		return l->dfr;
	case APIC_SVR:
		return l->svr;
	case APIC_ESR:
		return l->esr;
	case APIC_ICR_LO:
		return l->icr_lo; /* delivery status is always idle */
	case APIC_ICR_HI:
		return l->icr_hi;
	case APIC_TIMER_INIT:
		return l->timer_initial;
	case APIC_TIMER_CUR:
		return timer_current(l, chip_now(l->chip));
	case APIC_TIMER_DCR:
		return l->timer_dcr;
	default:
		return 0; /* APR, EOI, RRD, reserved */
	}
}

static void svr_write(struct lapic *l, uint32_t val)
{
	l->svr = val & SVR_MASK;
	if (!sw_enabled(l))
		for (unsigned i = 0; i < LAPIC_NR_LVT; i++)
			l->lvt[i] |= LVT_MASKED;
	summary_update(l);
}

static void lvt_write(struct lapic *l, unsigned i, uint32_t val)
{
	val &= lvt_writable[i];
	if (i == LVT_TIMER && ((l->lvt[i] ^ val) & LVT_PERIODIC))
		timer_mode_change(l);
	if (!sw_enabled(l))
		val |= LVT_MASKED;
	l->lvt[i] = val;
	summary_update(l);
}

/*
 * Latches ICR low; returns true with *m filled when a message must go out.
 * The destination is ICR high's bits 31:24, or all 32 in x2APIC mode.
 */
static bool icr_write(struct lapic *l, uint32_t val, struct irq_msg *m)
{
	unsigned mode = (val >> 8) & 7;

	l->icr_lo = val & ICR_LO_MASK;
	*m = (struct irq_msg){
	    .vector = (uint8_t)val,
	    .dest = l->x2apic ? l->icr_hi : (uint8_t)(l->icr_hi >> 24),
	    .x2 = l->x2apic,
	    .mode = (uint8_t)mode,
	    .logical = val & ICR_LOGICAL,
	    .shorthand = (uint8_t)((val >> 18) & 3),
	    .src = l->id,
	};
	switch (mode) {
	case DM_FIXED:
	case DM_LOWEST:
		if (m->vector < 16) {
			error_set(l, ESR_SEND_ILLEGAL);
			return false;
		}
		m->level = val & ICR_LEVEL;
		return true;
	case DM_INIT:
		/* INIT level de-assert only resets arbitration IDs on old APICs. */
		return !((val & ICR_LEVEL) && !(val & ICR_ASSERT));
	case DM_NMI:
	case DM_SIPI:
		return true;
	default:
		log_ratelimited(LOG_WARN, "lapic: cpu %u: ignoring IPI with delivery mode %u",
				l->id, mode);
		return false;
	}
}

static void reg_write(struct lapic *l, unsigned off, uint32_t val)
{
	struct irqchip *chip = l->chip;
	struct irq_msg msg;
	bool send = false, kick = false;
	int eoi_vec = -1;

	pthread_mutex_lock(&l->lock);
	if (l->hw_disabled)
		goto out;
	if (off >= APIC_LVT_TIMER && off <= APIC_LVT_ERROR) {
		lvt_write(l, (off - APIC_LVT_TIMER) >> 4, val);
		kick = off == APIC_LVT_TIMER;
		goto out;
	}
	switch (off) {
	case APIC_ID:
		l->apic_id = (uint8_t)(val >> 24); /* all 8 bits, as since the Pentium 4 */
		break;
	case APIC_TPR:
		l->tpr = val & 0xff;
		summary_update(l);
		break;
	case APIC_EOI:
		eoi_vec = eoi(l);
		break;
	case APIC_LDR:
		l->ldr = val & 0xff000000;
		break;
	case APIC_DFR:
		l->dfr = val | 0x0fffffff;
		break;
	case APIC_SVR:
		svr_write(l, val);
		break;
	case APIC_ESR:
		l->esr = l->esr_pending;
		l->esr_pending = 0;
		break;
	case APIC_ICR_LO:
		send = icr_write(l, val, &msg);
		break;
	case APIC_ICR_HI:
		l->icr_hi = val & ICR_HI_MASK;
		break;
	case APIC_TIMER_INIT:
		l->timer_initial = val;
		timer_arm(l, chip_now(l->chip));
		kick = true;
		break;
	case APIC_TIMER_DCR:
		dcr_write(l, val);
		kick = true;
		break;
	default:
		break; /* read-only or reserved */
	}
out:
	kick |= atomic_load(&l->ready);
	pthread_mutex_unlock(&l->lock);
	if (eoi_vec >= 0)
		ioapic_eoi(chip, (uint8_t)eoi_vec);
	if (send)
		irq_deliver(chip, &msg);
	if (kick)
		chip_kick(chip, l->id);
}

void irqchip_lapic_access(struct irqchip *chip, unsigned cpu, uint64_t offset, uint8_t *data,
			  unsigned len, bool is_write)
{
	struct lapic *l;
	uint32_t val = 0;
	bool off;

	if (!is_write)
		memset(data, 0, len);
	if (cpu >= chip->nr_cpus)
		return;
	if (len != 4 || (offset & 3) || offset >= APIC_PAGE) {
		log_ratelimited(LOG_WARN, "lapic: cpu %u: ignoring %u-byte %s at offset 0x%llx",
				cpu, len, is_write ? "write" : "read", (unsigned long long)offset);
		return;
	}
	if (offset & 0xf)
		return; /* registers sit on 16-byte boundaries; the rest is reserved */
	l = &chip->lapics[cpu];
	pthread_mutex_lock(&l->lock);
	off = l->hw_disabled;
	if (!is_write && !off)
		val = reg_read(l, (unsigned)offset);
	pthread_mutex_unlock(&l->lock);
	if (off) {
		/* A hardware-disabled APIC decodes nothing: the bus floats. */
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write) {
		memcpy(&val, data, 4);
		reg_write(l, (unsigned)offset, val);
		return;
	}
	memcpy(data, &val, 4);
}

/* ---- x2APIC: the registers as MSRs (SDM 11.12.1) ---- */

/* Whether the register at off can be read through its MSR (in xAPIC offsets). */
static bool x2apic_readable(unsigned off)
{
	if ((off >= APIC_ISR && off < APIC_ISR + 0x180) || /* ISR, TMR, IRR */
	    (off >= APIC_LVT_TIMER && off <= APIC_LVT_ERROR))
		return true;
	switch (off) {
	case APIC_ID:
	case APIC_VERSION:
	case APIC_TPR:
	case APIC_PPR:
	case APIC_LDR:
	case APIC_SVR:
	case APIC_ESR:
	case APIC_ICR_LO:
	case APIC_TIMER_INIT:
	case APIC_TIMER_CUR:
	case APIC_TIMER_DCR:
		return true;
	default:
		return false; /* EOI and SELF IPI are write-only; DFR, ICR high and APR are gone */
	}
}

int irqchip_x2apic_msr(struct irqchip *chip, unsigned cpu, uint32_t msr, uint64_t *val,
		       bool is_write)
{
	unsigned off = (msr - X2APIC_MSR_FIRST) << 4;
	struct irq_msg m;
	struct lapic *l;
	bool send = false;

	if (cpu >= chip->nr_cpus || msr < X2APIC_MSR_FIRST || msr > X2APIC_MSR_LAST)
		return -EINVAL;
	l = &chip->lapics[cpu];
	pthread_mutex_lock(&l->lock);
	/* Outside x2APIC mode the MSRs do not exist. */
	if (l->hw_disabled || !l->x2apic)
		goto fault;
	if (!is_write) {
		if (!x2apic_readable(off))
			goto fault;
		if (off == APIC_ID)
			*val = l->id;
		else if (off == APIC_ICR_LO)
			*val = (uint64_t)l->icr_hi << 32 | l->icr_lo;
		else
			*val = reg_read(l, off);
		pthread_mutex_unlock(&l->lock);
		return 0;
	}
	if (off == APIC_ICR_LO) {
		/* One 64-bit write: the 32-bit destination above the command. */
		l->icr_hi = (uint32_t)(*val >> 32);
		send = icr_write(l, (uint32_t)*val, &m);
		pthread_mutex_unlock(&l->lock);
		if (send)
			irq_deliver(chip, &m);
		return 0;
	}
	if (*val >> 32)
		goto fault;
	switch (off) {
	case APIC_EOI:
	case APIC_ESR:
		/* Both take only 0 in x2APIC mode. */
		if (*val)
			goto fault;
		break;
	case APIC_SELF_IPI:
		if (*val & ~0xffull)
			goto fault;
		pthread_mutex_unlock(&l->lock);
		m = (struct irq_msg){ .vector = (uint8_t)*val, .mode = DM_FIXED, .shorthand = SH_SELF,
				      .src = l->id };
		if (m.vector < 16) {
			pthread_mutex_lock(&l->lock);
			error_set(l, ESR_SEND_ILLEGAL);
			pthread_mutex_unlock(&l->lock);
		} else {
			irq_deliver(chip, &m);
		}
		return 0;
	case APIC_TPR:
	case APIC_SVR:
	case APIC_TIMER_INIT:
	case APIC_TIMER_DCR:
		break;
	default:
		if (off >= APIC_LVT_TIMER && off <= APIC_LVT_ERROR)
			break;
		goto fault; /* read-only (ID, LDR, PPR, the vectors, the count) or absent */
	}
	pthread_mutex_unlock(&l->lock);
	reg_write(l, off, (uint32_t)*val);
	return 0;
fault:
	pthread_mutex_unlock(&l->lock);
	return -EINVAL;
}

/* ---- IA32_APIC_BASE ---- */

uint64_t irqchip_apic_base(struct irqchip *chip, unsigned cpu)
{
	struct lapic *l;
	uint64_t v;

	if (cpu >= chip->nr_cpus)
		return 0;
	l = &chip->lapics[cpu];
	v = cpu == 0 ? APIC_BASE_BSP : 0;
	pthread_mutex_lock(&l->lock);
	v |= l->base;
	if (!l->hw_disabled)
		v |= APIC_BASE_ENABLE;
	if (l->x2apic)
		v |= APIC_BASE_EXTD;
	pthread_mutex_unlock(&l->lock);
	return v;
}

uint64_t irqchip_apic_page(struct irqchip *chip, unsigned cpu)
{
	return cpu < chip->nr_cpus ? atomic_load_explicit(&chip->lapics[cpu].page, memory_order_relaxed)
				   : UINT64_MAX;
}

int irqchip_set_apic_base(struct irqchip *chip, unsigned cpu, uint64_t value)
{
	bool disable, extd;
	struct lapic *l;

	if (cpu >= chip->nr_cpus)
		return -EINVAL;
	/*
	 * The enable bit, x2APIC mode and the page's address may change; bits
	 * 0-7 and 9 are reserved. (The caller checks the address against the
	 * physical address width.)
	 */
	if (value & 0x2ffull)
		return -EINVAL;
	l = &chip->lapics[cpu];
	disable = !(value & APIC_BASE_ENABLE);
	extd = value & APIC_BASE_EXTD;
	if (disable && extd)
		return -EINVAL; /* x2APIC mode with the APIC off is no state */
	pthread_mutex_lock(&l->lock);
	/*
	 * x2APIC mode is entered from xAPIC mode only, and left only by
	 * disabling the APIC (SDM 11.12.5): both other ways fault.
	 */
	if ((extd && l->hw_disabled) || (!disable && !extd && l->x2apic)) {
		pthread_mutex_unlock(&l->lock);
		return -EINVAL;
	}
	l->base = value & ~0xfffull;
	if (disable && !l->hw_disabled) {
		/* Re-enabling later finds the power-on state, the initial APIC ID too. */
		l->x2apic = false;
		regs_reset(l);
		l->apic_id = (uint8_t)l->id;
		l->hw_disabled = true;
	} else if (!disable && l->hw_disabled) {
		l->hw_disabled = false;
	}
	if (extd && !l->x2apic) {
		/* The ID becomes the x2APIC ID and fixes the logical ID; the rest stays. */
		l->x2apic = true;
		l->ldr = x2apic_ldr(l->id);
	}
	page_publish(l);
	summary_update(l);
	pthread_mutex_unlock(&l->lock);
	chip_kick(chip, cpu);
	return 0;
}

unsigned irqchip_take_nmis(struct irqchip *chip, unsigned cpu)
{
	if (cpu >= chip->nr_cpus)
		return 0;
	return atomic_exchange(&chip->lapics[cpu].nmi_pending, 0);
}

enum irqchip_startup irqchip_take_startup(struct irqchip *chip, unsigned cpu, uint8_t *vector)
{
	enum irqchip_startup s = STARTUP_NONE;
	struct lapic *l;

	if (cpu >= chip->nr_cpus)
		return STARTUP_NONE;
	l = &chip->lapics[cpu];
	pthread_mutex_lock(&l->lock);
	if (l->init_pending) {
		l->init_pending = false;
		s = STARTUP_INIT;
	} else if (l->sipi_pending) {
		l->sipi_pending = false;
		*vector = l->sipi_vector;
		s = STARTUP_SIPI;
	}
	pthread_mutex_unlock(&l->lock);
	return s;
}

/* ---- Snapshot ---- */

static void put_vecs(struct state_writer *w, const uint32_t *bm)
{
	for (unsigned i = 0; i < LAPIC_VEC_WORDS; i++)
		state_put_u32(w, bm[i]);
}

static void get_vecs(struct state_reader *r, uint32_t *bm)
{
	for (unsigned i = 0; i < LAPIC_VEC_WORDS; i++)
		bm[i] = state_get_u32(r);
}

void lapic_save(struct lapic *l, struct state_writer *w)
{
	uint64_t now = chip_now(l->chip);
	uint64_t d, elapsed = 0, remaining = UINT64_MAX;

	pthread_mutex_lock(&l->lock);
	d = atomic_load(&l->timer_deadline);
	if (d != UINT64_MAX)
		remaining = d > now ? d - now : 0;
	/* Only the position within the count matters for the count read. */
	if (l->timer_initial)
		elapsed = ((uint64_t)(l->timer_initial - timer_current(l, now))) << timer_shift(l);
	state_section_begin(w, "irqchip-lapic", LAPIC_STATE_VERSION);
	state_put_u32(w, l->id);
	state_put_u32(w, l->tpr);
	state_put_u32(w, l->ldr);
	state_put_u32(w, l->dfr);
	state_put_u32(w, l->svr);
	state_put_u32(w, l->esr);
	state_put_u32(w, l->esr_pending);
	state_put_u32(w, l->icr_lo);
	state_put_u32(w, l->icr_hi);
	for (unsigned i = 0; i < LAPIC_NR_LVT; i++)
		state_put_u32(w, l->lvt[i]);
	put_vecs(w, l->irr);
	put_vecs(w, l->isr);
	put_vecs(w, l->tmr);
	state_put_u32(w, l->timer_initial);
	state_put_u32(w, l->timer_dcr);
	state_put_u64(w, elapsed);
	state_put_u64(w, remaining);
	state_put_u8(w, l->hw_disabled);
	state_put_u8(w, l->init_pending);
	state_put_u8(w, l->wait_sipi);
	state_put_u8(w, l->sipi_pending);
	state_put_u8(w, l->sipi_vector);
	state_put_u8(w, (uint8_t)atomic_load(&l->nmi_pending));
	state_put_u8(w, atomic_load(&l->extint_req));
	state_put_u64(w, l->base);
	state_put_u8(w, l->apic_id);
	state_put_u8(w, l->x2apic);
	state_section_end(w);
	pthread_mutex_unlock(&l->lock);
}

/* The snapshot's LAPIC, read and checked before it replaces the live one. */
struct lapic_image {
	uint32_t id, tpr, ldr, dfr, svr, esr, esr_pending, icr_lo, icr_hi;
	uint32_t lvt[LAPIC_NR_LVT];
	uint32_t irr[LAPIC_VEC_WORDS], isr[LAPIC_VEC_WORDS], tmr[LAPIC_VEC_WORDS];
	uint32_t timer_initial, timer_dcr;
	uint64_t elapsed, remaining;
	uint8_t flags[7];
	uint64_t base;
	uint8_t apic_id;
	uint8_t x2apic;
};

static int image_check(const struct lapic *l, const struct lapic_image *s, struct err *err)
{
	/* A timer never runs longer than 2^32 ticks at the slowest divider. */
	const uint64_t max_period = (uint64_t)UINT32_MAX << 7;

	if (s->id != l->id)
		return err_set(err, -EINVAL, "lapic: state is for cpu %u, not %u", s->id, l->id);
	if (s->x2apic > 1 || (s->x2apic && (s->flags[0] || s->ldr != x2apic_ldr(l->id))))
		return err_set(err, -EINVAL, "lapic: cpu %u: x2APIC mode state is inconsistent",
			       l->id);
	if (s->tpr > 0xff || (!s->x2apic && (s->ldr & 0x00ffffff)) ||
	    (s->dfr & 0x0fffffff) != 0x0fffffff ||
	    (s->dfr >> 28 != DFR_MODEL_FLAT && s->dfr >> 28 != DFR_MODEL_CLUSTER) ||
	    (s->svr & ~SVR_MASK) || (s->esr & ~ESR_MASK) || (s->esr_pending & ~ESR_MASK) ||
	    (s->icr_lo & ~ICR_LO_MASK) || (!s->x2apic && (s->icr_hi & ~ICR_HI_MASK)) || (s->timer_dcr & ~DCR_MASK))
		return err_set(err, -EINVAL, "lapic: cpu %u: a register holds reserved bits",
			       l->id);
	for (unsigned i = 0; i < LAPIC_NR_LVT; i++)
		if (s->lvt[i] & ~lvt_writable[i])
			return err_set(err, -EINVAL, "lapic: cpu %u: LVT %u is 0x%x", l->id, i,
				       s->lvt[i]);
	/* Vectors 0-15 can never be pending or in service. */
	if ((s->irr[0] | s->isr[0] | s->tmr[0]) & 0xffff)
		return err_set(err, -EINVAL, "lapic: cpu %u: vectors 0-15 are pending", l->id);
	if (s->elapsed > max_period || (s->remaining != UINT64_MAX && s->remaining > max_period))
		return err_set(err, -EINVAL, "lapic: cpu %u: timer state is out of range", l->id);
	for (unsigned i = 0; i < 7; i++)
		if (s->flags[i] > (i == 5 ? IRQCHIP_NMI_MAX : 1) && i != 4)
			return err_set(err, -EINVAL, "lapic: cpu %u: flag %u is %u", l->id, i,
				       s->flags[i]);
	if ((s->base & 0xfff) || s->base >> 52)
		return err_set(err, -EINVAL, "lapic: cpu %u: base 0x%llx is not a page address",
			       l->id, (unsigned long long)s->base);
	if (s->flags[2] && s->flags[3])
		return err_set(err, -EINVAL, "lapic: cpu %u: both waiting for and holding a SIPI",
			       l->id);
	return 0;
}

int lapic_load(struct lapic *l, struct state_reader *r, struct err *err)
{
	struct lapic_image s;
	uint32_t version;
	uint64_t now;
	int rc;

	rc = state_section_open(r, "irqchip-lapic", LAPIC_STATE_VERSION, &version, err);
	if (rc < 0)
		return rc;
	s.id = state_get_u32(r);
	s.tpr = state_get_u32(r);
	s.ldr = state_get_u32(r);
	s.dfr = state_get_u32(r);
	s.svr = state_get_u32(r);
	s.esr = state_get_u32(r);
	s.esr_pending = state_get_u32(r);
	s.icr_lo = state_get_u32(r);
	s.icr_hi = state_get_u32(r);
	for (unsigned i = 0; i < LAPIC_NR_LVT; i++)
		s.lvt[i] = state_get_u32(r);
	get_vecs(r, s.irr);
	get_vecs(r, s.isr);
	get_vecs(r, s.tmr);
	s.timer_initial = state_get_u32(r);
	s.timer_dcr = state_get_u32(r);
	s.elapsed = state_get_u64(r);
	s.remaining = state_get_u64(r);
	for (unsigned i = 0; i < 7; i++)
		s.flags[i] = state_get_u8(r);
	s.base = version >= 2 ? state_get_u64(r) : APIC_DEFAULT_BASE;
	s.apic_id = version >= 3 ? state_get_u8(r) : (uint8_t)l->id;
	s.x2apic = version >= 4 ? state_get_u8(r) : 0;
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "lapic: cpu %u", l->id);
	rc = image_check(l, &s, err);
	if (rc < 0)
		return rc;

	pthread_mutex_lock(&l->lock);
	l->tpr = s.tpr;
	l->ldr = s.ldr;
	l->dfr = s.dfr;
	l->svr = s.svr;
	l->esr = s.esr;
	l->esr_pending = s.esr_pending;
	l->icr_lo = s.icr_lo;
	l->icr_hi = s.icr_hi;
	memcpy(l->lvt, s.lvt, sizeof(l->lvt));
	memcpy(l->irr, s.irr, sizeof(l->irr));
	memcpy(l->isr, s.isr, sizeof(l->isr));
	memcpy(l->tmr, s.tmr, sizeof(l->tmr));
	l->timer_initial = s.timer_initial;
	l->timer_dcr = s.timer_dcr;
	now = chip_now(l->chip);
	/* Unsigned wrap keeps now - start == elapsed even on a freshly booted host. */
	l->timer_start_ns = now - s.elapsed;
	atomic_store(&l->timer_deadline,
		     s.remaining == UINT64_MAX ? UINT64_MAX : now + s.remaining);
	l->hw_disabled = s.flags[0];
	l->base = s.base;
	l->apic_id = s.apic_id;
	l->x2apic = s.x2apic;
	page_publish(l);
	l->init_pending = s.flags[1];
	l->wait_sipi = s.flags[2];
	l->sipi_pending = s.flags[3];
	l->sipi_vector = s.flags[4];
	atomic_store(&l->nmi_pending, s.flags[5]);
	atomic_store(&l->extint_req, s.flags[6]);
	atomic_store(&l->pic_sampled, false);
	summary_update(l);
	pthread_mutex_unlock(&l->lock);
	chip_kick(l->chip, l->id);
	return 0;
}
