/* tests/unit/test_irqchip.c: LAPIC, IOAPIC, 8259 PICs and 8254 PIT of the soft engine. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/log.h"
#include "base/state.h"
#include "base/x86.h"
#include "bus/bus.h"
#include "irqchip/irqchip.h"
#include "vm/vm.h"

#define APIC_ID		0x020
#define APIC_VERSION	0x030
#define APIC_TPR	0x080
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
#define APIC_LVT_LINT0	0x350
#define APIC_LVT_LINT1	0x360
#define APIC_LVT_ERROR	0x370
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR	0x390
#define APIC_TIMER_DCR	0x3e0

#define MS 1000000ull

struct fx {
	struct vm vm;
	struct irqchip *chip;
	unsigned nr_cpus;
	_Atomic unsigned kicks[32]; /* per CPU: fixtures have at most 32 */
};

static void record_kick(void *opaque, unsigned cpu)
{
	struct fx *f = opaque;

	assert_true(cpu < f->nr_cpus && cpu < 32);
	atomic_fetch_add(&f->kicks[cpu], 1);
}

static struct fx *fx_new(unsigned nr_cpus)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct irqchip_config cfg = {.nr_cpus = nr_cpus, .kick = record_kick};
	struct err err = {0};

	assert_non_null(f);
	f->nr_cpus = nr_cpus;
	cfg.kick_opaque = f;
	io_bus_init(&f->vm.pio, "pio");
	io_bus_init(&f->vm.mmio, "mmio");
	assert_int_equal(irqchip_create(&f->vm, &cfg, &f->chip, &err), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	irqchip_destroy(f->chip);
	free(f);
}

static uint32_t lrd(struct fx *f, unsigned cpu, unsigned off)
{
	uint32_t v;

	irqchip_lapic_access(f->chip, cpu, off, (uint8_t *)&v, 4, false);
	return v;
}

static void lwr(struct fx *f, unsigned cpu, unsigned off, uint32_t v)
{
	irqchip_lapic_access(f->chip, cpu, off, (uint8_t *)&v, 4, true);
}

static bool irr_has(struct fx *f, unsigned cpu, unsigned vec)
{
	return lrd(f, cpu, APIC_IRR + (vec / 32) * 0x10) & (1u << (vec % 32));
}

static bool isr_has(struct fx *f, unsigned cpu, unsigned vec)
{
	return lrd(f, cpu, APIC_ISR + (vec / 32) * 0x10) & (1u << (vec % 32));
}

static bool tmr_has(struct fx *f, unsigned cpu, unsigned vec)
{
	return lrd(f, cpu, APIC_TMR + (vec / 32) * 0x10) & (1u << (vec % 32));
}

static uint32_t esr_read(struct fx *f, unsigned cpu)
{
	lwr(f, cpu, APIC_ESR, 0);
	return lrd(f, cpu, APIC_ESR);
}

static void outb(struct fx *f, uint16_t port, uint8_t v)
{
	assert_true(io_bus_dispatch(&f->vm.pio, port, &v, 1, true));
}

static uint8_t inb(struct fx *f, uint16_t port)
{
	uint8_t v = 0;

	assert_true(io_bus_dispatch(&f->vm.pio, port, &v, 1, false));
	return v;
}

/* LSB then MSB, in that order (an expression would leave the order unspecified). */
static uint16_t in16(struct fx *f, uint16_t port)
{
	uint16_t lo = inb(f, port);

	return (uint16_t)(lo | inb(f, port) << 8);
}

static void io_wr(struct fx *f, unsigned reg, uint32_t v)
{
	uint32_t sel = reg;

	assert_true(io_bus_dispatch(&f->vm.mmio, IOAPIC_DEFAULT_BASE, (uint8_t *)&sel, 4, true));
	assert_true(
	    io_bus_dispatch(&f->vm.mmio, IOAPIC_DEFAULT_BASE + 0x10, (uint8_t *)&v, 4, true));
}

static uint32_t io_rd(struct fx *f, unsigned reg)
{
	uint32_t sel = reg, v = 0;

	assert_true(io_bus_dispatch(&f->vm.mmio, IOAPIC_DEFAULT_BASE, (uint8_t *)&sel, 4, true));
	assert_true(
	    io_bus_dispatch(&f->vm.mmio, IOAPIC_DEFAULT_BASE + 0x10, (uint8_t *)&v, 4, false));
	return v;
}

static void redir_set(struct fx *f, unsigned pin, uint32_t lo, uint32_t hi)
{
	io_wr(f, 0x10 + 2 * pin + 1, hi);
	io_wr(f, 0x10 + 2 * pin, lo);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
			      .tv_nsec = (long)(ns % 1000000000ull)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void enable_all(struct fx *f)
{
	for (unsigned i = 0; i < f->nr_cpus; i++)
		lwr(f, i, APIC_SVR, 0x1ff);
}

/* Linux's init_8259A: vectors 0x30/0x38, cascade on IRQ2, 8086 mode. */
static void pic_init_linux(struct fx *f, uint8_t master_imr, uint8_t slave_imr)
{
	outb(f, 0x21, 0xff);
	outb(f, 0xa1, 0xff);
	outb(f, 0x20, 0x11);
	outb(f, 0x21, 0x30);
	outb(f, 0x21, 0x04);
	outb(f, 0x21, 0x01);
	outb(f, 0xa0, 0x11);
	outb(f, 0xa1, 0x38);
	outb(f, 0xa1, 0x02);
	outb(f, 0xa1, 0x01);
	outb(f, 0x21, master_imr);
	outb(f, 0xa1, slave_imr);
}

/* ---- LAPIC ---- */

static void test_lapic_id_version_svr(void **state)
{
	struct fx *f = fx_new(2);

	(void)state;
	assert_int_equal(lrd(f, 0, APIC_ID), 0);
	assert_int_equal(lrd(f, 1, APIC_ID), 1u << 24);
	assert_int_equal(lrd(f, 1, APIC_VERSION), 0x50014);
	/* The BSP as firmware leaves it; the AP at power-on. */
	assert_int_equal(lrd(f, 0, APIC_SVR), 0x1ff);
	assert_int_equal(lrd(f, 0, APIC_LVT_LINT0), 0x700);
	assert_int_equal(lrd(f, 0, APIC_LVT_LINT1), 0x400);
	assert_int_equal(lrd(f, 1, APIC_SVR), 0xff);
	assert_int_equal(lrd(f, 1, APIC_LVT_LINT0), 0x10000);
	assert_int_equal(lrd(f, 1, APIC_DFR), 0xffffffff);
	/* An LVT stays masked while the APIC is software-disabled. */
	lwr(f, 1, APIC_LVT_TIMER, 0x40);
	assert_int_equal(lrd(f, 1, APIC_LVT_TIMER), 0x10040);
	lwr(f, 1, APIC_SVR, 0xffffffff);
	assert_int_equal(lrd(f, 1, APIC_SVR), 0x3ff);
	lwr(f, 1, APIC_LVT_TIMER, 0x40);
	assert_int_equal(lrd(f, 1, APIC_LVT_TIMER), 0x40);
	lwr(f, 1, APIC_SVR, 0x0ff);
	assert_int_equal(lrd(f, 1, APIC_LVT_TIMER), 0x10040);
	/* The xAPIC ID register takes all of bits 31:24; physical IPIs follow it. */
	lwr(f, 1, APIC_ID, 0xffffffff);
	assert_int_equal(lrd(f, 1, APIC_ID), 0xffu << 24);
	lwr(f, 1, APIC_ID, 5u << 24);
	assert_int_equal(lrd(f, 1, APIC_ID), 5u << 24);
	lwr(f, 1, APIC_SVR, 0x1ff);
	lwr(f, 0, APIC_ICR_HI, 1u << 24);
	lwr(f, 0, APIC_ICR_LO, 0x40);
	assert_false(irr_has(f, 1, 0x40));
	lwr(f, 0, APIC_ICR_HI, 5u << 24);
	lwr(f, 0, APIC_ICR_LO, 0x40);
	assert_true(irr_has(f, 1, 0x40));
	lwr(f, 1, APIC_SVR, 0xff);

	assert_int_equal(irqchip_apic_base(f->chip, 0), 0xfee00900);
	assert_int_equal(irqchip_apic_base(f->chip, 1), 0xfee00800);
	/* x2APIC mode (bit 10) needs the enable bit; bits 0-7 and 9 are reserved. */
	assert_int_equal(irqchip_set_apic_base(f->chip, 1, 0xfee00400), -EINVAL);
	assert_int_equal(irqchip_set_apic_base(f->chip, 1, 0xfee00801), -EINVAL);
	assert_int_equal(irqchip_set_apic_base(f->chip, 1, 0xfee00a00), -EINVAL);
	assert_int_equal(irqchip_apic_page(f->chip, 1), 0xfee00000);
	/* The page moves; its registers stay as they were. */
	assert_int_equal(irqchip_set_apic_base(f->chip, 1, 0xfed00800), 0);
	assert_int_equal(irqchip_apic_base(f->chip, 1), 0xfed00800);
	assert_int_equal(irqchip_apic_page(f->chip, 1), 0xfed00000);
	assert_int_equal(lrd(f, 1, APIC_SVR), 0xff);
	assert_int_equal(irqchip_set_apic_base(f->chip, 1, 0xfee00000), 0);
	assert_int_equal(irqchip_apic_page(f->chip, 1), UINT64_MAX);
	assert_int_equal(irqchip_apic_base(f->chip, 1), 0xfee00000);
	assert_int_equal(lrd(f, 1, APIC_VERSION), 0xffffffff); /* nothing decodes the page */
	assert_int_equal(irqchip_set_apic_base(f->chip, 1, 0xfee00800), 0);
	assert_int_equal(lrd(f, 1, APIC_SVR), 0xff); /* back in its power-on state */
	assert_int_equal(lrd(f, 1, APIC_ID), 1u << 24);
	fx_free(f);
}

static void test_ipi_fixed(void **state)
{
	struct fx *f = fx_new(4);

	(void)state;
	enable_all(f);
	/* Physical destination 1. */
	lwr(f, 0, APIC_ICR_HI, 1u << 24);
	lwr(f, 0, APIC_ICR_LO, 0x40);
	assert_true(irr_has(f, 1, 0x40));
	assert_false(irr_has(f, 0, 0x40) || irr_has(f, 2, 0x40) || irr_has(f, 3, 0x40));
	assert_true(atomic_load(&f->kicks[1]) >= 1);
	assert_int_equal(atomic_load(&f->kicks[2]), 0);
	assert_true(irqchip_has_interrupt(f->chip, 1));
	assert_false(irqchip_has_interrupt(f->chip, 2));
	assert_int_equal(lrd(f, 0, APIC_ICR_LO) & (1u << 12), 0); /* delivery status idle */
	assert_int_equal(irqchip_take_interrupt(f->chip, 1), 0x40);
	assert_true(isr_has(f, 1, 0x40));
	lwr(f, 1, APIC_EOI, 0);
	assert_false(isr_has(f, 1, 0x40));

	/* Logical flat: CPUs 1 and 2 are in the mask, 3 is not. */
	for (unsigned i = 0; i < 4; i++)
		lwr(f, i, APIC_LDR, (1u << i) << 24);
	lwr(f, 0, APIC_ICR_HI, 0x06u << 24);
	lwr(f, 0, APIC_ICR_LO, 0x800 | 0x41);
	assert_true(irr_has(f, 1, 0x41) && irr_has(f, 2, 0x41));
	assert_false(irr_has(f, 0, 0x41) || irr_has(f, 3, 0x41));

	/* Logical cluster: cluster 1 holds CPUs 1 and 2, dest names member bit 2 only. */
	for (unsigned i = 0; i < 4; i++)
		lwr(f, i, APIC_DFR, 0x0fffffff);
	lwr(f, 1, APIC_LDR, 0x11u << 24);
	lwr(f, 2, APIC_LDR, 0x12u << 24);
	lwr(f, 3, APIC_LDR, 0x22u << 24);
	lwr(f, 0, APIC_ICR_HI, 0x12u << 24);
	lwr(f, 0, APIC_ICR_LO, 0x800 | 0x43);
	assert_true(irr_has(f, 2, 0x43));
	assert_false(irr_has(f, 1, 0x43) || irr_has(f, 3, 0x43));

	/* All excluding self. */
	lwr(f, 0, APIC_ICR_LO, (3u << 18) | 0x42);
	assert_false(irr_has(f, 0, 0x42));
	for (unsigned i = 1; i < 4; i++)
		assert_true(irr_has(f, i, 0x42));
	/* Self. */
	lwr(f, 2, APIC_ICR_LO, (1u << 18) | 0x44);
	assert_true(irr_has(f, 2, 0x44));
	assert_false(irr_has(f, 0, 0x44) || irr_has(f, 1, 0x44));
	/* A software-disabled APIC refuses fixed interrupts. */
	lwr(f, 3, APIC_SVR, 0xff);
	lwr(f, 0, APIC_ICR_HI, 3u << 24);
	lwr(f, 0, APIC_ICR_LO, 0x45);
	assert_false(irr_has(f, 3, 0x45));
	/* NMI still gets through. */
	lwr(f, 0, APIC_ICR_LO, 0x400);
	assert_int_equal(irqchip_take_nmis(f->chip, 3), 1);
	assert_int_equal(irqchip_take_nmis(f->chip, 3), 0);
	/* Two count, a third is dropped: the CPU could only latch one more. */
	for (unsigned i = 0; i < 3; i++)
		lwr(f, 0, APIC_ICR_LO, 0x400);
	assert_int_equal(irqchip_take_nmis(f->chip, 3), 2);
	assert_int_equal(irqchip_take_nmis(f->chip, 3), 0);
	fx_free(f);
}

static void self_ipi(struct fx *f, unsigned cpu, unsigned vec)
{
	lwr(f, cpu, APIC_ICR_LO, (1u << 18) | vec);
}

static void test_priorities(void **state)
{
	struct fx *f = fx_new(1);

	(void)state;
	self_ipi(f, 0, 0x35);
	self_ipi(f, 0, 0x62);
	assert_true(irqchip_has_interrupt(f->chip, 0));
	lwr(f, 0, APIC_TPR, 0x70);
	assert_int_equal(lrd(f, 0, APIC_PPR), 0x70);
	assert_false(irqchip_has_interrupt(f->chip, 0));
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), -1);
	lwr(f, 0, APIC_TPR, 0x50);
	assert_true(irqchip_has_interrupt(f->chip, 0));
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x62);
	assert_int_equal(lrd(f, 0, APIC_PPR), 0x60);
	assert_false(irqchip_has_interrupt(f->chip, 0));
	/* A higher class can still preempt the one in service. */
	self_ipi(f, 0, 0x75);
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x75);
	lwr(f, 0, APIC_EOI, 0);
	assert_false(isr_has(f, 0, 0x75));
	assert_true(isr_has(f, 0, 0x62));
	lwr(f, 0, APIC_EOI, 0);
	assert_int_equal(lrd(f, 0, APIC_PPR), 0x50);
	assert_false(irqchip_has_interrupt(f->chip, 0)); /* 0x35 is below the TPR */
	lwr(f, 0, APIC_TPR, 0);
	assert_true(irqchip_has_interrupt(f->chip, 0));
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x35);
	assert_int_equal(lrd(f, 0, APIC_PPR), 0x30);
	/* Same class as in service: blocked until EOI. */
	self_ipi(f, 0, 0x36);
	assert_false(irqchip_has_interrupt(f->chip, 0));
	lwr(f, 0, APIC_EOI, 0);
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x36);
	lwr(f, 0, APIC_EOI, 0);
	assert_int_equal(lrd(f, 0, APIC_ISR + 0x10), 0);
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), -1);
	fx_free(f);
}

static void test_init_sipi(void **state)
{
	struct fx *f = fx_new(2);
	uint8_t vec = 0;

	(void)state;
	assert_int_equal(irqchip_take_startup(f->chip, 1, &vec), STARTUP_NONE);
	lwr(f, 0, APIC_ICR_HI, 1u << 24);
	/* SIPI before INIT: dropped. */
	lwr(f, 0, APIC_ICR_LO, 0x600 | 0x9a);
	assert_int_equal(irqchip_take_startup(f->chip, 1, &vec), STARTUP_NONE);
	/* INIT assert resets the APIC (keeping its ID). */
	lwr(f, 1, APIC_SVR, 0x1ff);
	lwr(f, 1, APIC_TPR, 0x20);
	unsigned kicks = atomic_load(&f->kicks[1]);
	lwr(f, 0, APIC_ICR_LO, 0xc500);
	assert_true(atomic_load(&f->kicks[1]) > kicks);
	assert_int_equal(lrd(f, 1, APIC_SVR), 0xff);
	assert_int_equal(lrd(f, 1, APIC_TPR), 0);
	assert_int_equal(lrd(f, 1, APIC_ID), 1u << 24);
	assert_int_equal(irqchip_take_startup(f->chip, 1, &vec), STARTUP_INIT);
	assert_int_equal(irqchip_take_startup(f->chip, 1, &vec), STARTUP_NONE);
	/* INIT de-assert is ignored. */
	lwr(f, 0, APIC_ICR_LO, 0x8500);
	assert_int_equal(irqchip_take_startup(f->chip, 1, &vec), STARTUP_NONE);
	lwr(f, 0, APIC_ICR_LO, 0x600 | 0x9a);
	lwr(f, 0, APIC_ICR_LO, 0x600 | 0x9b); /* the customary second SIPI */
	assert_int_equal(irqchip_take_startup(f->chip, 1, &vec), STARTUP_SIPI);
	assert_int_equal(vec, 0x9a);
	assert_int_equal(irqchip_take_startup(f->chip, 1, &vec), STARTUP_NONE);
	lwr(f, 0, APIC_ICR_LO, 0x600 | 0x10);
	assert_int_equal(irqchip_take_startup(f->chip, 1, &vec), STARTUP_NONE);
	/* The running BSP ignores SIPI. */
	lwr(f, 1, APIC_ICR_HI, 0);
	lwr(f, 1, APIC_ICR_LO, 0x600 | 0x10);
	assert_int_equal(irqchip_take_startup(f->chip, 0, &vec), STARTUP_NONE);
	fx_free(f);
}

static void test_lapic_timer(void **state)
{
	struct fx *f = fx_new(1);
	uint64_t t0, t1, d, d2;
	uint32_t c1, c2;

	(void)state;
	/* One-shot, divide by 1, 1 ms. */
	lwr(f, 0, APIC_LVT_TIMER, 0x20);
	lwr(f, 0, APIC_TIMER_DCR, 0xb);
	t0 = clock_monotonic_ns();
	lwr(f, 0, APIC_TIMER_INIT, 1000000);
	t1 = clock_monotonic_ns();
	d = irqchip_lapic_timer_poll(f->chip, 0, t0);
	assert_true(d >= t0 + MS && d <= t1 + MS);
	assert_int_equal(irqchip_lapic_timer_poll(f->chip, 0, d - 1), d);
	assert_false(irr_has(f, 0, 0x20));
	assert_int_equal(irqchip_lapic_timer_poll(f->chip, 0, d), UINT64_MAX);
	assert_true(irr_has(f, 0, 0x20));
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x20);
	lwr(f, 0, APIC_EOI, 0);

	/* The current count runs down from CLOCK_MONOTONIC. */
	lwr(f, 0, APIC_TIMER_INIT, 1000000000);
	c1 = lrd(f, 0, APIC_TIMER_CUR);
	sleep_ns(2 * MS);
	c2 = lrd(f, 0, APIC_TIMER_CUR);
	assert_true(c1 <= 1000000000 && c2 < c1 && c1 - c2 >= 2 * MS);

	/* Divide by 16 (DCR 0b0011): 1000 ticks are 16 us. */
	lwr(f, 0, APIC_TIMER_DCR, 0x3);
	assert_int_equal(lrd(f, 0, APIC_TIMER_DCR), 0x3);
	t0 = clock_monotonic_ns();
	lwr(f, 0, APIC_TIMER_INIT, 1000);
	t1 = clock_monotonic_ns();
	d = irqchip_lapic_timer_poll(f->chip, 0, t0);
	assert_true(d >= t0 + 16000 && d <= t1 + 16000);
	/* Divide by 128 (0b1010) and by 2 (0b0000). */
	lwr(f, 0, APIC_TIMER_DCR, 0xa);
	t0 = clock_monotonic_ns();
	lwr(f, 0, APIC_TIMER_INIT, 1000);
	t1 = clock_monotonic_ns();
	d = irqchip_lapic_timer_poll(f->chip, 0, t0);
	assert_true(d >= t0 + 128000 && d <= t1 + 128000);
	lwr(f, 0, APIC_TIMER_DCR, 0x0);
	t0 = clock_monotonic_ns();
	lwr(f, 0, APIC_TIMER_INIT, 100000);
	t1 = clock_monotonic_ns();
	d = irqchip_lapic_timer_poll(f->chip, 0, t0);
	assert_true(d >= t0 + 200000 && d <= t1 + 200000);
	lwr(f, 0, APIC_TIMER_INIT, 0); /* stops it */
	assert_int_equal(irqchip_lapic_timer_poll(f->chip, 0, t1 + 10 * MS), UINT64_MAX);
	assert_int_equal(lrd(f, 0, APIC_TIMER_CUR), 0);

	/* Periodic re-arms; a long stall coalesces into one interrupt. */
	lwr(f, 0, APIC_TIMER_DCR, 0xb);
	lwr(f, 0, APIC_LVT_TIMER, 0x20021);
	lwr(f, 0, APIC_TIMER_INIT, 1000000);
	d = irqchip_lapic_timer_poll(f->chip, 0, 0);
	d2 = irqchip_lapic_timer_poll(f->chip, 0, d);
	assert_int_equal(d2, d + MS);
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x21);
	lwr(f, 0, APIC_EOI, 0);
	assert_int_equal(irqchip_lapic_timer_poll(f->chip, 0, d2 + 5 * MS + MS / 2), d2 + 6 * MS);
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x21);
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), -1);
	lwr(f, 0, APIC_EOI, 0);

	/* A masked LVT lets the timer expire without an interrupt. */
	lwr(f, 0, APIC_LVT_TIMER, 0x10022);
	lwr(f, 0, APIC_TIMER_INIT, 1000);
	d = irqchip_lapic_timer_poll(f->chip, 0, 0);
	assert_int_equal(irqchip_lapic_timer_poll(f->chip, 0, d), UINT64_MAX);
	assert_false(irr_has(f, 0, 0x22));
	assert_false(irqchip_has_interrupt(f->chip, 0));
	fx_free(f);
}

/* ---- IOAPIC ---- */

static void test_ioapic_edge(void **state)
{
	struct fx *f = fx_new(2);

	(void)state;
	enable_all(f);
	assert_int_equal(io_rd(f, 0), 2u << 24); /* ID = nr_cpus, as the MADT says */
	assert_int_equal(io_rd(f, 1), 0x00170011);
	/* The 82093AA's ID is bits 27:24; arbitration follows it and is read-only. */
	io_wr(f, 0, 0xffffffff);
	assert_int_equal(io_rd(f, 0), 0x0f000000);
	assert_int_equal(io_rd(f, 2), 0x0f000000);
	io_wr(f, 2, 0);
	assert_int_equal(io_rd(f, 2), 0x0f000000);
	io_wr(f, 0, 2u << 24);
	assert_int_equal(io_rd(f, 0x10 + 8), 0x10000); /* masked at reset */

	redir_set(f, 4, 0x45, 1u << 24);
	assert_int_equal(io_rd(f, 0x10 + 8), 0x45);
	assert_int_equal(io_rd(f, 0x10 + 9), 1u << 24);
	irqchip_set_irq(f->chip, 4, 1);
	assert_true(irr_has(f, 1, 0x45));
	assert_false(irr_has(f, 0, 0x45));
	assert_false(tmr_has(f, 1, 0x45));
	assert_true(atomic_load(&f->kicks[1]) >= 1);
	assert_int_equal(irqchip_take_interrupt(f->chip, 1), 0x45);
	lwr(f, 1, APIC_EOI, 0);
	/* Holding the line is no new edge. */
	irqchip_set_irq(f->chip, 4, 1);
	assert_false(irr_has(f, 1, 0x45));
	irqchip_set_irq(f->chip, 4, 0);
	irqchip_set_irq(f->chip, 4, 1);
	assert_true(irr_has(f, 1, 0x45));
	assert_int_equal(irqchip_take_interrupt(f->chip, 1), 0x45);
	lwr(f, 1, APIC_EOI, 0);
	irqchip_set_irq(f->chip, 4, 0);
	/* An edge while masked is lost. */
	redir_set(f, 4, 0x10045, 1u << 24);
	irqchip_set_irq(f->chip, 4, 1);
	irqchip_set_irq(f->chip, 4, 0);
	redir_set(f, 4, 0x45, 1u << 24);
	assert_false(irr_has(f, 1, 0x45));
	fx_free(f);
}

static void test_ioapic_level(void **state)
{
	struct fx *f = fx_new(2);

	(void)state;
	enable_all(f);
	redir_set(f, 9, 0x8051, 0); /* level, vector 0x51, CPU 0 */
	irqchip_set_irq(f->chip, 9, 1);
	assert_true(irr_has(f, 0, 0x51));
	assert_true(tmr_has(f, 0, 0x51));
	assert_true(io_rd(f, 0x10 + 18) & (1u << 14)); /* remote IRR */
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x51);
	/* Still asserted at EOI: delivered again. */
	lwr(f, 0, APIC_EOI, 0);
	assert_true(irr_has(f, 0, 0x51));
	assert_true(io_rd(f, 0x10 + 18) & (1u << 14));
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x51);
	irqchip_set_irq(f->chip, 9, 0);
	lwr(f, 0, APIC_EOI, 0);
	assert_false(irr_has(f, 0, 0x51));
	assert_false(io_rd(f, 0x10 + 18) & (1u << 14));
	/* Unmasking a level pin that is already asserted delivers it. */
	redir_set(f, 10, 0x18052, 1u << 24);
	irqchip_set_irq(f->chip, 10, 1);
	assert_false(irr_has(f, 1, 0x52));
	redir_set(f, 10, 0x8052, 1u << 24);
	assert_true(irr_has(f, 1, 0x52));
	/* The EOI register at 0x40 also retires remote IRR. */
	assert_int_equal(irqchip_take_interrupt(f->chip, 1), 0x52);
	irqchip_set_irq(f->chip, 10, 0);
	uint32_t eoi = 0x52;
	assert_true(
	    io_bus_dispatch(&f->vm.mmio, IOAPIC_DEFAULT_BASE + 0x40, (uint8_t *)&eoi, 4, true));
	assert_false(io_rd(f, 0x10 + 20) & (1u << 14));
	fx_free(f);
}

/* ---- PIC ---- */

static void test_pic(void **state)
{
	struct fx *f = fx_new(1);

	(void)state;
	pic_init_linux(f, 0xf9, 0xfd); /* IRQ1, IRQ2 (cascade) and IRQ9 unmasked */
	assert_int_equal(inb(f, 0x21), 0xf9);
	assert_false(irqchip_has_interrupt(f->chip, 0));
	irqchip_set_irq(f->chip, 3, 1); /* masked */
	assert_false(irqchip_has_interrupt(f->chip, 0));
	irqchip_set_irq(f->chip, 3, 0);

	unsigned kicks = atomic_load(&f->kicks[0]);
	irqchip_set_irq(f->chip, 1, 1);
	irqchip_set_irq(f->chip, 1, 0);
	assert_true(atomic_load(&f->kicks[0]) > kicks);
	outb(f, 0x20, 0x0a); /* OCW3: read IRR */
	assert_int_equal(inb(f, 0x20) & 0x02, 0x02);
	assert_true(irqchip_has_interrupt(f->chip, 0));
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x31);
	assert_false(irqchip_has_interrupt(f->chip, 0));
	outb(f, 0x20, 0x0b); /* OCW3: read ISR */
	assert_int_equal(inb(f, 0x20), 0x02);
	outb(f, 0x20, 0x20); /* non-specific EOI */
	assert_int_equal(inb(f, 0x20), 0x00);

	/* The slave through the cascade. */
	irqchip_set_irq(f->chip, 9, 1);
	irqchip_set_irq(f->chip, 9, 0);
	assert_true(irqchip_has_interrupt(f->chip, 0));
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x39);
	outb(f, 0xa0, 0x0b);
	assert_int_equal(inb(f, 0xa0), 0x02);
	assert_int_equal(inb(f, 0x20), 0x04);
	outb(f, 0xa0, 0x20);
	outb(f, 0x20, 0x62); /* specific EOI for IRQ2 */
	assert_int_equal(inb(f, 0xa0), 0);
	assert_int_equal(inb(f, 0x20), 0);

	/* Priority: IRQ1 before IRQ9 (behind IRQ2); IRQ9 waits for IRQ1's EOI. */
	irqchip_set_irq(f->chip, 9, 1);
	irqchip_set_irq(f->chip, 1, 1);
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x31);
	assert_false(irqchip_has_interrupt(f->chip, 0));
	outb(f, 0x20, 0x20);
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x39);
	outb(f, 0xa0, 0x20);
	outb(f, 0x20, 0x20);
	irqchip_set_irq(f->chip, 9, 0);
	irqchip_set_irq(f->chip, 1, 0);

	/* Level-triggered (ELCR) IRQ3 that vanishes before INTA: spurious IRQ7. */
	outb(f, 0x4d0, 0xff);
	assert_int_equal(inb(f, 0x4d0), 0xf8);
	outb(f, 0x4d0, 0x08);
	outb(f, 0x21, 0xf1);
	irqchip_set_irq(f->chip, 3, 1);
	assert_true(irqchip_has_interrupt(f->chip, 0));
	irqchip_set_irq(f->chip, 3, 0);
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x37);
	outb(f, 0x20, 0x0b);
	assert_int_equal(inb(f, 0x20), 0); /* spurious: nothing in service */
	/* A level IRQ re-requests after EOI while held. */
	irqchip_set_irq(f->chip, 3, 1);
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x33);
	outb(f, 0x20, 0x20);
	assert_true(irqchip_has_interrupt(f->chip, 0));
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x33);
	irqchip_set_irq(f->chip, 3, 0);
	outb(f, 0x20, 0x20);
	assert_false(irqchip_has_interrupt(f->chip, 0));

	/* Level IRQ9 gone before INTA: spurious IRQ15, master IR2 in service. */
	outb(f, 0x4d1, 0x02);
	irqchip_set_irq(f->chip, 9, 1);
	assert_true(irqchip_has_interrupt(f->chip, 0));
	irqchip_set_irq(f->chip, 9, 0);
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x3f);
	outb(f, 0x20, 0x20);

	/* Auto-EOI mode: nothing stays in service. */
	outb(f, 0x20, 0x11);
	outb(f, 0x21, 0x30);
	outb(f, 0x21, 0x04);
	outb(f, 0x21, 0x03);
	outb(f, 0x21, 0xfd);
	irqchip_set_irq(f->chip, 1, 1);
	irqchip_set_irq(f->chip, 1, 0);
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x31);
	outb(f, 0x20, 0x0b);
	assert_int_equal(inb(f, 0x20), 0);

	/* LINT0 masked: the PIC no longer reaches the CPU. */
	lwr(f, 0, APIC_LVT_LINT0, 0x10700);
	irqchip_set_irq(f->chip, 1, 1);
	irqchip_set_irq(f->chip, 1, 0);
	assert_false(irqchip_has_interrupt(f->chip, 0));
	/* A hardware-disabled LAPIC passes INTR straight through. */
	assert_int_equal(irqchip_set_apic_base(f->chip, 0, 0xfee00100), 0);
	assert_true(irqchip_has_interrupt(f->chip, 0));
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x31);
	fx_free(f);
}

static void test_misc_paths(void **state)
{
	struct fx *f = fx_new(3);
	unsigned kicks;

	(void)state;
	enable_all(f);
	/* Lowest priority: a refusing (software-disabled) APIC passes it on. */
	for (unsigned i = 0; i < 3; i++)
		lwr(f, i, APIC_LDR, 0x01000000);
	lwr(f, 0, APIC_SVR, 0xff);
	lwr(f, 2, APIC_ICR_HI, 0x01000000);
	lwr(f, 2, APIC_ICR_LO, 0x900 | 0x66); /* lowest priority, logical */
	assert_false(irr_has(f, 0, 0x66));
	assert_true(irr_has(f, 1, 0x66));
	assert_false(irr_has(f, 2, 0x66));
	assert_int_equal(irqchip_take_interrupt(f->chip, 1), 0x66);
	lwr(f, 1, APIC_EOI, 0);
	lwr(f, 0, APIC_SVR, 0x1ff);
	/* It goes to the lowest TPR, not to the lowest-numbered CPU; ties to the lowest-numbered. */
	lwr(f, 0, APIC_TPR, 0x30);
	lwr(f, 1, APIC_TPR, 0x20);
	lwr(f, 2, APIC_TPR, 0x10);
	lwr(f, 0, APIC_ICR_HI, 0x01000000);
	lwr(f, 0, APIC_ICR_LO, 0x900 | 0x67);
	assert_true(irr_has(f, 2, 0x67));
	assert_false(irr_has(f, 0, 0x67) || irr_has(f, 1, 0x67));
	lwr(f, 1, APIC_TPR, 0x10);
	lwr(f, 0, APIC_ICR_LO, 0x900 | 0x68);
	assert_true(irr_has(f, 1, 0x68));
	assert_false(irr_has(f, 0, 0x68) || irr_has(f, 2, 0x68));
	/* Only the addressed APICs take part. */
	lwr(f, 1, APIC_LDR, 0x02000000);
	lwr(f, 2, APIC_TPR, 0x40);
	lwr(f, 0, APIC_ICR_LO, 0x900 | 0x69);
	assert_true(irr_has(f, 0, 0x69));
	assert_false(irr_has(f, 1, 0x69) || irr_has(f, 2, 0x69));
	for (unsigned i = 0; i < 3; i++) {
		assert_true(irqchip_take_interrupt(f->chip, i) >= 0);
		lwr(f, i, APIC_EOI, 0);
		lwr(f, i, APIC_TPR, 0);
	}

	/* Reprogramming the LAPIC timer kicks its CPU. */
	kicks = atomic_load(&f->kicks[2]);
	lwr(f, 2, APIC_TIMER_INIT, 12345);
	assert_true(atomic_load(&f->kicks[2]) > kicks);

	/* PIC poll mode: an INTA by port read. */
	pic_init_linux(f, 0xfd, 0xff);
	irqchip_set_irq(f->chip, 1, 1);
	irqchip_set_irq(f->chip, 1, 0);
	outb(f, 0x20, 0x0c);
	assert_int_equal(inb(f, 0x20), 0x81);
	outb(f, 0x20, 0x0b);
	assert_int_equal(inb(f, 0x20), 0x02);
	outb(f, 0x20, 0x20);
	outb(f, 0x20, 0x0c);
	assert_int_equal(inb(f, 0x20), 0x00);

	/* IOAPIC ExtINT: the PIC's vector reaches CPU 1 through pin 1. */
	lwr(f, 0, APIC_LVT_LINT0, 0x10700);
	redir_set(f, 1, 0x700, 1u << 24);
	irqchip_set_irq(f->chip, 1, 1);
	assert_false(irqchip_has_interrupt(f->chip, 0));
	assert_true(irqchip_has_interrupt(f->chip, 1));
	assert_int_equal(irqchip_take_interrupt(f->chip, 1), 0x31);
	assert_false(irqchip_has_interrupt(f->chip, 1));
	irqchip_set_irq(f->chip, 1, 0);
	outb(f, 0x20, 0x20);
	fx_free(f);
}

/* ---- PIT ---- */

static void test_pit_irq0(void **state)
{
	struct fx *f = fx_new(1);
	uint64_t start, stop;
	unsigned n = 0;

	(void)state;
	redir_set(f, 0, 0x30, 0); /* IRQ0 is GSI 0, edge, to CPU 0 */
	outb(f, 0x43, 0x34);	  /* channel 0, LSB/MSB, mode 2 */
	outb(f, 0x40, 1193 & 0xff);
	outb(f, 0x40, 1193 >> 8); /* ~1 ms */
	start = clock_monotonic_ns();
	while (n < 10 && clock_monotonic_ns() - start < 2000 * MS) {
		if (irqchip_has_interrupt(f->chip, 0)) {
			assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x30);
			lwr(f, 0, APIC_EOI, 0);
			n++;
		}
		sleep_ns(100000);
	}
	stop = clock_monotonic_ns();
	assert_int_equal(n, 10);
	/* 10 ticks of ~1 ms: not much faster than the programmed rate. */
	assert_true(stop - start >= 8 * MS);

	/* A one-tick count is rate-limited rather than spinning. */
	outb(f, 0x40, 2);
	outb(f, 0x40, 0);
	n = 0;
	start = clock_monotonic_ns();
	while (clock_monotonic_ns() - start < 20 * MS) {
		if (irqchip_take_interrupt(f->chip, 0) == 0x30) {
			lwr(f, 0, APIC_EOI, 0);
			n++;
		}
		sleep_ns(20000);
	}
	assert_true(n >= 2 && n <= 20 * MS / 100000 + 2);

	/* Through the PIC as well. */
	outb(f, 0x43, 0x30); /* mode 0 stops the periodic output */
	redir_set(f, 0, 0x10030, 0);
	irqchip_take_interrupt(f->chip, 0);
	lwr(f, 0, APIC_EOI, 0);
	pic_init_linux(f, 0xfe, 0xff);
	outb(f, 0x40, 0xa9);
	outb(f, 0x40, 0x04); /* 1193: ~1 ms, once */
	start = clock_monotonic_ns();
	while (!irqchip_has_interrupt(f->chip, 0) && clock_monotonic_ns() - start < 2000 * MS)
		sleep_ns(100000);
	assert_true(clock_monotonic_ns() - start >= MS - 100000);
	assert_int_equal(irqchip_take_interrupt(f->chip, 0), 0x30);
	outb(f, 0x20, 0x20);
	sleep_ns(5 * MS);
	assert_false(irqchip_has_interrupt(f->chip, 0)); /* mode 0 fires once */
	fx_free(f);
}

/* What Linux's pit_calibrate_tsc() does with channel 2. */
static void test_pit_calibrate(void **state)
{
	struct fx *f = fx_new(1);
	const unsigned latch = 1193182 / 100; /* 10 ms */
	uint64_t start, end;
	unsigned loops = 0;
	uint8_t a, b;

	(void)state;
	outb(f, 0x61, (inb(f, 0x61) & ~0x02) | 0x01);
	outb(f, 0x43, 0xb0);
	outb(f, 0x42, latch & 0xff);
	outb(f, 0x42, latch >> 8);
	start = clock_monotonic_ns();
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	while (!(inb(f, 0x61) & 0x20)) {
		loops++;
		assert_true(clock_monotonic_ns() - start < 2000 * MS);
	}
	end = clock_monotonic_ns();
	assert_true(loops > 0);
	assert_true(end - start >= 9 * MS && end - start < 60 * MS);
	/* OUT stays high; the refresh bit toggles on every read. */
	a = inb(f, 0x61);
	b = inb(f, 0x61);
	assert_true(a & b & 0x20);
	assert_int_equal((a ^ b) & 0x10, 0x10);
	assert_int_equal(a & 0x0f, 0x01);

	/* Gate low freezes mode 0; high resumes. */
	outb(f, 0x43, 0xb0);
	outb(f, 0x42, 0x00);
	outb(f, 0x42, 0xf0);
	outb(f, 0x61, 0x00);
	outb(f, 0x43, 0x80); /* latch channel 2 */
	uint16_t c1 = in16(f, 0x42);
	sleep_ns(3 * MS);
	outb(f, 0x43, 0x80);
	uint16_t c2 = in16(f, 0x42);
	assert_int_equal(c1, c2);
	outb(f, 0x61, 0x01);
	sleep_ns(3 * MS);
	outb(f, 0x43, 0x80);
	c2 = in16(f, 0x42);
	assert_true(c2 < c1 && c1 - c2 >= 3000);
	fx_free(f);
}

static void test_pit_latch_readback(void **state)
{
	struct fx *f = fx_new(1);
	uint16_t latched, live;
	uint8_t st;

	(void)state;
	outb(f, 0x43, 0x70); /* channel 1, LSB/MSB, mode 0 */
	outb(f, 0x41, 60000 & 0xff);
	outb(f, 0x41, 60000 >> 8);
	outb(f, 0x43, 0x40); /* latch channel 1 */
	outb(f, 0x43, 0x40); /* a second latch does not overwrite the first */
	sleep_ns(5 * MS);
	latched = in16(f, 0x41);
	live = in16(f, 0x41);
	assert_true(latched <= 60000 && latched > 59000);
	assert_true(live < latched && latched - live >= 5000);

	/* Read-back status only: OUT low, count loaded, LSB/MSB, mode 0, binary. */
	outb(f, 0x43, 0xe4);
	st = inb(f, 0x41);
	assert_int_equal(st, 0x30);
	/* Status and count together: status first. */
	outb(f, 0x43, 0xc4);
	assert_int_equal(inb(f, 0x41), 0x30);
	latched = in16(f, 0x41);
	assert_true(latched < 60000);
	/* After a control word: null count, OUT low in mode 0 and high in mode 1. */
	outb(f, 0x43, 0x70);
	outb(f, 0x43, 0xe4);
	assert_int_equal(inb(f, 0x41), 0x70);
	outb(f, 0x43, 0x72);
	outb(f, 0x43, 0xe4);
	assert_int_equal(inb(f, 0x41), 0xf2);
	/* LSB-only access mode. */
	outb(f, 0x43, 0x54); /* channel 1, LSB, mode 2 */
	outb(f, 0x41, 200);
	outb(f, 0x43, 0x40);
	assert_true(inb(f, 0x41) <= 200);
	fx_free(f);
}

/* ---- Snapshot ---- */

static void lapic_regs(struct fx *f, unsigned cpu, uint32_t *out)
{
	for (unsigned off = 0; off < 0x400; off += 0x10)
		out[off / 0x10] = off == APIC_TIMER_CUR ? 0 : lrd(f, cpu, off);
}

static void save_all(struct fx *f, struct state_writer *w)
{
	state_writer_init(w);
	assert_int_equal(irqchip_save(f->chip, w), 0);
	assert_true(w->len > 0);
}

static void test_save_load(void **state)
{
	struct fx *a = fx_new(2), *b = fx_new(2);
	uint32_t ra[64], rb[64];
	struct state_writer w;
	struct state_reader r;
	struct err err = {0};
	uint8_t vec;

	(void)state;
	/* Some state everywhere. */
	enable_all(a);
	lwr(a, 0, APIC_TPR, 0x20);
	lwr(a, 1, APIC_LDR, 0x02000000);
	self_ipi(a, 0, 0x50);
	self_ipi(a, 0, 0x61);
	assert_int_equal(irqchip_take_interrupt(a->chip, 0), 0x61);
	lwr(a, 0, APIC_ICR_LO, 5); /* illegal vector: ESR */
	lwr(a, 0, APIC_ESR, 0);
	lwr(a, 0, APIC_LVT_TIMER, 0x20023);
	lwr(a, 0, APIC_TIMER_DCR, 0x1);
	lwr(a, 0, APIC_TIMER_INIT, 500000000);
	lwr(a, 0, APIC_ICR_HI, 1u << 24);
	lwr(a, 0, APIC_ICR_LO, 0xc500); /* INIT to CPU 1 */
	redir_set(a, 5, 0x8055, 1u << 24);
	redir_set(a, 7, 0x10947, 0xff000000);
	irqchip_set_irq(a->chip, 11, 1);
	io_wr(a, 0, 7u << 24);
	pic_init_linux(a, 0xe9, 0xbd);
	outb(a, 0x4d1, 0x0c);
	irqchip_set_irq(a->chip, 1, 1);
	outb(a, 0x43, 0xb0);
	outb(a, 0x42, 0x34);
	outb(a, 0x42, 0x12);
	outb(a, 0x61, 0x03);
	outb(a, 0x43, 0x74);
	outb(a, 0x41, 0x99); /* half a count written */

	save_all(a, &w);
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(irqchip_load(b->chip, &r, &err), 0);
	assert_int_equal(r.pos, w.len);

	for (unsigned cpu = 0; cpu < 2; cpu++) {
		lapic_regs(a, cpu, ra);
		lapic_regs(b, cpu, rb);
		assert_memory_equal(ra, rb, sizeof(ra));
	}
	uint32_t ca = lrd(a, 0, APIC_TIMER_CUR), cb = lrd(b, 0, APIC_TIMER_CUR);
	assert_true(cb <= ca + 1000000 && ca <= cb + 1000000);
	assert_int_equal(irqchip_take_startup(b->chip, 1, &vec), STARTUP_INIT);
	for (unsigned reg = 0; reg < 0x40; reg++)
		assert_int_equal(io_rd(a, reg), io_rd(b, reg));
	for (unsigned port = 0x20; port <= 0xa0; port += 0x80) {
		assert_int_equal(inb(a, port + 1), inb(b, port + 1));
		outb(a, port, 0x0a);
		outb(b, port, 0x0a);
		assert_int_equal(inb(a, port), inb(b, port));
		outb(a, port, 0x0b);
		outb(b, port, 0x0b);
		assert_int_equal(inb(a, port), inb(b, port));
	}
	assert_int_equal(inb(a, 0x4d1), inb(b, 0x4d1));
	assert_int_equal(inb(a, 0x61) & 0x2f, inb(b, 0x61) & 0x2f);
	outb(a, 0x43, 0xee); /* status of channels 1 and 2 */
	outb(b, 0x43, 0xee);
	assert_int_equal(inb(a, 0x41), inb(b, 0x41));
	assert_int_equal(inb(a, 0x42), inb(b, 0x42));
	/* The half-written count completes on the restored PIT. */
	outb(b, 0x41, 0x00);
	outb(b, 0x43, 0xe4);
	assert_int_equal(inb(b, 0x41), 0xb4); /* OUT high, count loaded, LSB/MSB, mode 2 */
	assert_int_equal(irqchip_has_interrupt(a->chip, 0), irqchip_has_interrupt(b->chip, 0));
	assert_int_equal(irqchip_take_interrupt(b->chip, 0), 0x31);

	/* Every truncation is refused. */
	for (size_t len = 0; len < w.len; len++) {
		struct fx *c = fx_new(2);

		state_reader_init(&r, w.buf, len);
		memset(&err, 0, sizeof(err));
		assert_true(irqchip_load(c->chip, &r, &err) < 0);
		assert_true(err.msg[0] != '\0');
		fx_free(c);
	}
	state_writer_free(&w);
	fx_free(a);
	fx_free(b);
}

static uint64_t xrd(struct fx *f, unsigned cpu, uint32_t msr, int *rc)
{
	uint64_t v = 0;

	*rc = irqchip_x2apic_msr(f->chip, cpu, msr, &v, false);
	return v;
}

static int xwr(struct fx *f, unsigned cpu, uint32_t msr, uint64_t v)
{
	return irqchip_x2apic_msr(f->chip, cpu, msr, &v, true);
}

/* x2APIC mode (SDM 11.12): MSRs, the derived IDs, 32-bit destinations, the mode's transitions. */
static void test_x2apic(void **state)
{
	struct fx *f = fx_new(20), *g = fx_new(20);
	struct state_writer w;
	struct state_reader r;
	struct err err = {0};
	int rc;

	(void)state;
	enable_all(f);
	/* The MSRs do not exist in xAPIC mode. */
	xrd(f, 0, 0x802, &rc);
	assert_int_equal(rc, -EINVAL);
	/* Not from disabled: xAPIC first. */
	assert_int_equal(irqchip_set_apic_base(f->chip, 3, 0xfee00000), 0);
	assert_int_equal(irqchip_set_apic_base(f->chip, 3, 0xfee00c00), -EINVAL);
	assert_int_equal(irqchip_set_apic_base(f->chip, 3, 0xfee00800), 0);
	lwr(f, 3, APIC_SVR, 0x1ff);
	for (unsigned cpu = 0; cpu < 20; cpu++)
		assert_int_equal(irqchip_set_apic_base(f->chip, cpu,
						       0xfee00c00 | (cpu ? 0 : 0x100)), 0);
	assert_int_equal(irqchip_apic_base(f->chip, 0), 0xfee00d00);
	assert_int_equal(irqchip_apic_page(f->chip, 0), UINT64_MAX); /* MMIO is off */
	assert_int_equal(xrd(f, 17, 0x802, &rc), 17);
	assert_int_equal(xrd(f, 17, 0x80d, &rc), (1u << 16) | (1u << 1));
	assert_int_equal(xrd(f, 3, 0x80f, &rc), 0x1ff); /* the rest of the state stays */
	/* Read-only, write-only and absent registers fault; so do reserved bits. */
	assert_int_equal(xwr(f, 0, 0x802, 5), -EINVAL);
	assert_int_equal(xwr(f, 0, 0x80d, 1), -EINVAL);
	xrd(f, 0, 0x80b, &rc);
	assert_int_equal(rc, -EINVAL);
	xrd(f, 0, 0x80e, &rc);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(xwr(f, 0, 0x80b, 1), -EINVAL);
	assert_int_equal(xwr(f, 0, 0x828, 1), -EINVAL);
	assert_int_equal(xwr(f, 0, 0x808, 1ull << 32), -EINVAL);
	assert_int_equal(xwr(f, 0, 0x83f, 0x140), -EINVAL);
	/* Physical 32-bit destination; logical cluster 1 (IDs 16-31), bits 0 and 2. */
	assert_int_equal(xwr(f, 0, 0x830, (17ull << 32) | 0x41), 0);
	assert_true(irr_has(f, 17, 0x41));
	assert_false(irr_has(f, 1, 0x41));
	assert_int_equal(xrd(f, 0, 0x830, &rc), (17ull << 32) | 0x41);
	assert_int_equal(xwr(f, 0, 0x830, (0x10005ull << 32) | 0x842), 0);
	assert_true(irr_has(f, 16, 0x42) && irr_has(f, 18, 0x42));
	assert_false(irr_has(f, 0, 0x42) || irr_has(f, 2, 0x42) || irr_has(f, 17, 0x42));
	/* Broadcast is 0xffffffff here; an IOAPIC's 0xff still reaches everyone. */
	assert_int_equal(xwr(f, 0, 0x830, (0xffffffffull << 32) | 0x43), 0);
	assert_true(irr_has(f, 0, 0x43) && irr_has(f, 19, 0x43));
	redir_set(f, 5, 0x44, 0xff000000);
	irqchip_set_irq(f->chip, 5, 1);
	assert_true(irr_has(f, 19, 0x44));
	/* SELF IPI, and the EOI of 0 that ends it. */
	assert_int_equal(xwr(f, 5, 0x83f, 0x90), 0);
	assert_int_equal(irqchip_take_interrupt(f->chip, 5), 0x90);
	assert_int_equal(xrd(f, 5, 0x810 + 0x90 / 32, &rc), 1u << (0x90 % 32));
	assert_int_equal(xwr(f, 5, 0x80b, 0), 0);
	assert_int_equal(xrd(f, 5, 0x810 + 0x90 / 32, &rc), 0);

	/* The mode survives a snapshot, checked on the way in. */
	save_all(f, &w);
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(irqchip_load(g->chip, &r, &err), 0);
	assert_int_equal(xrd(g, 17, 0x80d, &rc), (1u << 16) | (1u << 1));
	assert_int_equal(rc, 0);
	state_writer_free(&w);

	/* Left only by disabling: straight back to xAPIC faults. */
	assert_int_equal(irqchip_set_apic_base(f->chip, 1, 0xfee00800), -EINVAL);
	assert_int_equal(irqchip_set_apic_base(f->chip, 1, 0xfee00000), 0);
	assert_int_equal(irqchip_set_apic_base(f->chip, 1, 0xfee00800), 0);
	assert_int_equal(irqchip_apic_page(f->chip, 1), 0xfee00000);
	xrd(f, 1, 0x802, &rc);
	assert_int_equal(rc, -EINVAL);
	fx_free(f);
	fx_free(g);
}

static size_t section_at(const struct state_writer *w, const char *name)
{
	for (size_t i = 0; i + 32 <= w->len; i++)
		if (!strcmp((const char *)w->buf + i, name))
			return i + 40; /* past name, version and length */
	fail_msg("section %s not found", name);
	return 0;
}

static void expect_reject(struct fx *f, const struct state_writer *w, size_t off, const void *bytes,
			  size_t n)
{
	uint8_t *copy = malloc(w->len);
	struct state_reader r;
	struct err err = {0};

	assert_non_null(copy);
	memcpy(copy, w->buf, w->len);
	memcpy(copy + off, bytes, n);
	state_reader_init(&r, copy, w->len);
	assert_true(irqchip_load(f->chip, &r, &err) < 0);
	assert_true(err.msg[0] != '\0');
	free(copy);
}

static void test_load_rejects_corruption(void **state)
{
	struct fx *a = fx_new(2), *b = fx_new(2), *one = fx_new(1);
	struct state_writer w;
	struct state_reader r;
	struct err err = {0};
	size_t lapic, ioapic, pic, pit;
	uint32_t u32;
	uint8_t u8;

	(void)state;
	save_all(a, &w);
	lapic = section_at(&w, "irqchip-lapic");
	ioapic = section_at(&w, "irqchip-ioapic");
	pic = section_at(&w, "irqchip-pic");
	pit = section_at(&w, "irqchip-pit");

	u32 = 0x100;
	expect_reject(b, &w, lapic + 4, &u32, 4); /* TPR */
	u32 = 7;
	expect_reject(b, &w, lapic, &u32, 4); /* LAPIC of the wrong CPU */
	u32 = 0x00040000;
	expect_reject(b, &w, lapic + 9 * 4, &u32, 4); /* LVT timer with TSC-deadline mode */
	u32 = 0x8;
	expect_reject(b, &w, lapic + 15 * 4, &u32, 4); /* vector 3 pending */
	u32 = 1u << 25;
	expect_reject(b, &w, ioapic + 8, &u32, 4); /* pin 25 */
	u32 = 0x4000;				   /* remote IRR on an edge entry */
	expect_reject(b, &w, ioapic + 12, &u32, 4);
	u8 = 4;
	expect_reject(b, &w, pic + 7, &u8, 1); /* init step */
	u8 = 0x07;
	expect_reject(b, &w, pic + 4, &u8, 1); /* ELCR for IRQ0-2 */
	u32 = 0;
	expect_reject(b, &w, pit, &u32, 4); /* count 0 */
	u32 = 65537;
	expect_reject(b, &w, pit, &u32, 4);
	u8 = 6;
	expect_reject(b, &w, pit + 4, &u8, 1); /* mode */
	u8 = 0;
	expect_reject(b, &w, pit + 5, &u8, 1); /* access mode */
	u8 = 2;
	expect_reject(b, &w, pit + 7, &u8, 1); /* gate */
	u32 = 0xffffffff;
	expect_reject(b, &w, 36, &u32, 4); /* first section's length */

	/* The wrong number of CPUs. */
	state_reader_init(&r, w.buf, w.len);
	assert_true(irqchip_load(one->chip, &r, &err) < 0);
	assert_non_null(strstr(err.msg, "vCPUs"));

	/* Untouched, the same stream still loads. */
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(irqchip_load(b->chip, &r, &err), 0);
	state_writer_free(&w);
	fx_free(a);
	fx_free(b);
	fx_free(one);
}

/* ---- Hostile guest ---- */

static void test_hostile(void **state)
{
	struct fx *f = fx_new(2);
	uint8_t buf[8];
	uint32_t v;

	(void)state;
	enable_all(f);
	log_set_level(LOG_ERROR);
	/* Odd sizes and offsets on the LAPIC page. */
	for (unsigned len = 1; len <= 8; len *= 2) {
		if (len == 4)
			continue;
		memset(buf, 0xaa, sizeof(buf));
		irqchip_lapic_access(f->chip, 0, APIC_TPR, buf, len, true);
		irqchip_lapic_access(f->chip, 0, APIC_SVR, buf, len, false);
		for (unsigned i = 0; i < len; i++)
			assert_int_equal(buf[i], 0);
	}
	memset(buf, 0xaa, sizeof(buf));
	irqchip_lapic_access(f->chip, 0, APIC_TPR + 2, buf, 4, true); /* misaligned */
	assert_int_equal(lrd(f, 0, APIC_TPR), 0);
	assert_int_equal(lrd(f, 0, APIC_SVR + 4), 0);
	assert_int_equal(lrd(f, 0, 0xff0), 0);
	irqchip_lapic_access(f->chip, 0, 0x1000, buf, 4, false);
	irqchip_lapic_access(f->chip, 0, UINT64_MAX - 3, buf, 4, true);
	irqchip_lapic_access(f->chip, 7, APIC_ID, buf, 4, false);
	assert_false(irqchip_has_interrupt(f->chip, 7));
	assert_int_equal(irqchip_take_interrupt(f->chip, 7), -1);
	assert_int_equal(irqchip_lapic_timer_poll(f->chip, 7, 0), UINT64_MAX);
	for (unsigned off = 0; off < 0x1000; off += 4)
		lrd(f, 1, off);

	/* Illegal vectors: a send error at the source, nothing delivered. */
	lwr(f, 0, APIC_ICR_HI, 1u << 24);
	lwr(f, 0, APIC_ICR_LO, 0x05);
	assert_int_equal(lrd(f, 1, APIC_IRR), 0);
	assert_int_equal(esr_read(f, 0), 0x20);
	assert_int_equal(esr_read(f, 0), 0); /* latched by the previous write only */
	/* The error LVT fires once for it. */
	lwr(f, 0, APIC_LVT_ERROR, 0xfe);
	lwr(f, 0, APIC_ICR_LO, 0x0f);
	assert_true(irr_has(f, 0, 0xfe));
	redir_set(f, 3, 0x03, 1u << 24);
	irqchip_set_irq(f->chip, 3, 1);
	assert_int_equal(lrd(f, 1, APIC_IRR), 0);
	assert_int_equal(esr_read(f, 1), 0x40);
	/* Reserved delivery modes. */
	redir_set(f, 6, 0x0640, 1u << 24); /* "SIPI" from the IOAPIC */
	irqchip_set_irq(f->chip, 6, 1);
	lwr(f, 0, APIC_ICR_LO, 0x0740); /* ExtINT IPI */
	lwr(f, 0, APIC_ICR_LO, 0x0340);
	assert_false(irr_has(f, 1, 0x40));
	uint8_t vec;
	assert_int_equal(irqchip_take_startup(f->chip, 1, &vec), STARTUP_NONE);
	irqchip_set_irq(f->chip, 24, 1);
	irqchip_set_irq(f->chip, UINT32_MAX, 1);

	/* IOAPIC: bad sizes and offsets, read-only registers. */
	v = 0xffffffff;
	io_bus_dispatch(&f->vm.mmio, IOAPIC_DEFAULT_BASE + 1, (uint8_t *)&v, 2, true);
	io_bus_dispatch(&f->vm.mmio, IOAPIC_DEFAULT_BASE + 0x10, buf, 8, false);
	io_bus_dispatch(&f->vm.mmio, IOAPIC_DEFAULT_BASE + 0xffc, (uint8_t *)&v, 4, true);
	io_wr(f, 1, 0);
	assert_int_equal(io_rd(f, 1), 0x00170011);
	assert_int_equal(io_rd(f, 0xff), 0);
	assert_int_equal(io_rd(f, 0x10 + 48), 0);
	io_wr(f, 0x10 + 48, 0x40);

	/* PIC and PIT: wide accesses, commands in odd states. */
	uint16_t w16 = 0xffff;
	io_bus_dispatch(&f->vm.pio, 0x20, (uint8_t *)&w16, 2, true);
	io_bus_dispatch(&f->vm.pio, 0x40, (uint8_t *)&w16, 2, false);
	io_bus_dispatch(&f->vm.pio, 0x4d0, (uint8_t *)&w16, 2, true);
	for (unsigned c = 0; c < 256; c++) {
		outb(f, 0x43, (uint8_t)c);
		outb(f, 0x40 + (c % 3), (uint8_t)c);
		inb(f, 0x40 + (c % 3));
		outb(f, 0x20, (uint8_t)(c & ~0x10));
		outb(f, 0xa1, (uint8_t)c);
		inb(f, 0x20);
		inb(f, 0xa0);
	}
	outb(f, 0x43, 0x35); /* BCD: taken as binary, must not crash */
	outb(f, 0x40, 0x99);
	outb(f, 0x40, 0x99);
	inb(f, 0x40);
	inb(f, 0x40);
	fx_free(f);
	log_set_level(LOG_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lapic_id_version_svr),
	    cmocka_unit_test(test_x2apic),
	    cmocka_unit_test(test_ipi_fixed),
	    cmocka_unit_test(test_priorities),
	    cmocka_unit_test(test_init_sipi),
	    cmocka_unit_test(test_lapic_timer),
	    cmocka_unit_test(test_ioapic_edge),
	    cmocka_unit_test(test_ioapic_level),
	    cmocka_unit_test(test_pic),
	    cmocka_unit_test(test_misc_paths),
	    cmocka_unit_test(test_pit_irq0),
	    cmocka_unit_test(test_pit_calibrate),
	    cmocka_unit_test(test_pit_latch_readback),
	    cmocka_unit_test(test_save_load),
	    cmocka_unit_test(test_load_rejects_corruption),
	    cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
