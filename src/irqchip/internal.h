/* irqchip/internal.h: state and helpers shared by the irqchip's pieces (not an API). */
#ifndef KITE_IRQCHIP_INTERNAL_H
#define KITE_IRQCHIP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/state.h"
#include "irqchip/irqchip.h"

/*
 * Lock order: IOAPIC, then one LAPIC at a time. The PIC and PIT locks are
 * leaves. A LAPIC drops its lock before it sends an IPI or broadcasts an EOI,
 * and the timer thread drops the PIT lock before it raises IRQ0. kick() runs
 * with no lock but possibly the IOAPIC's held, so the engine may take its own
 * locks in it; it must not call back into the irqchip.
 */

#define IRQCHIP_NR_GSIS	    24
#define IRQCHIP_NR_ISA_IRQS 16

/* Delivery modes shared by the ICR, the LVTs and the IOAPIC redirection entries. */
enum irq_dm {
	DM_FIXED = 0,
	DM_LOWEST = 1,
	DM_SMI = 2,
	DM_NMI = 4,
	DM_INIT = 5,
	DM_SIPI = 6,
	DM_EXTINT = 7,
};

enum irq_shorthand { SH_NONE, SH_SELF, SH_ALL, SH_OTHERS };

/* One interrupt message on the (virtual) APIC bus. */
struct irq_msg {
	uint8_t vector;
	uint32_t dest; /* 8 bits, or 32 when x2 */
	bool x2;       /* sent in x2APIC format (ICR MSR): broadcast is 0xffffffff, not 0xff */
	uint8_t mode; /* enum irq_dm */
	bool logical;
	bool level; /* trigger mode: sets the TMR bit, EOI is broadcast */
	uint8_t shorthand;
	unsigned src; /* sending CPU, for shorthands */
};

#define LAPIC_NR_LVT	6 /* timer, thermal, perf, LINT0, LINT1, error */
#define LAPIC_VEC_WORDS 8

struct lapic {
	struct irqchip *chip;
	unsigned id; /* the vCPU's index, also its initial APIC ID */
	pthread_mutex_t lock;

	uint8_t apic_id; /* the ID register (bits 31:24), which software may rewrite */
	bool x2apic;	 /* IA32_APIC_BASE.EXTD: registers are MSRs, the ID is id, LDR derives from it */

	uint32_t tpr, ldr, dfr, svr;
	uint32_t esr, esr_pending; /* ESR reads what the last write latched */
	uint32_t icr_lo, icr_hi;
	uint32_t lvt[LAPIC_NR_LVT];
	uint32_t irr[LAPIC_VEC_WORDS], isr[LAPIC_VEC_WORDS], tmr[LAPIC_VEC_WORDS];
	bool hw_disabled; /* IA32_APIC_BASE enable bit clear */
	uint64_t base;	  /* IA32_APIC_BASE's address: where its page answers */
	_Atomic uint64_t page; /* base, or UINT64_MAX while disabled: read without the lock */

	/* Timer: counts down from timer_initial since timer_start_ns, 1 ns per tick. */
	uint32_t timer_initial, timer_dcr;
	uint64_t timer_start_ns;
	_Atomic uint64_t timer_deadline; /* next expiry, UINT64_MAX when none */

	bool init_pending, wait_sipi, sipi_pending;
	uint8_t sipi_vector;

	/* Read lock-free by irqchip_has_interrupt(); written under the lock. */
	_Atomic bool ready;	  /* an IRR vector beats the PPR */
	_Atomic bool extint_ok;	  /* PIC INTR reaches this CPU (LINT0 ExtINT / disabled) */
	_Atomic bool extint_req;  /* an ExtINT message arrived from the IOAPIC */
	_Atomic bool pic_sampled; /* has_interrupt saw PIC INTR high: INTA follows */
	_Atomic unsigned nmi_pending; /* NMIs not yet taken, up to IRQCHIP_NMI_MAX */
};

#define IOAPIC_NR_PINS IRQCHIP_NR_GSIS

struct ioapic {
	pthread_mutex_t lock;
	uint32_t regsel;
	uint32_t id;
	uint64_t redir[IOAPIC_NR_PINS];
	uint32_t pins; /* input levels as driven, before polarity */
};

struct pic {
	uint8_t irr, isr, imr;
	uint8_t lines; /* input levels */
	uint8_t elcr;  /* level-triggered inputs */
	uint8_t base;  /* ICW2 vector base */
	uint8_t icw3;
	uint8_t init_step;    /* 0: ready, 1-3: expecting ICW2-ICW4 */
	uint8_t priority_add; /* the IRQ with the highest priority */
	bool icw4_needed, single, auto_eoi, rotate_aeoi, special_mask;
	bool read_isr, poll;
};

struct pics {
	pthread_mutex_t lock;
	struct pic pic[2]; /* master, slave */
};

struct pit_channel {
	uint32_t reload; /* 1..65536 */
	uint8_t mode;	 /* 0-5 */
	uint8_t access;	 /* 1 LSB, 2 MSB, 3 LSB then MSB */
	bool bcd;
	bool gate;
	bool null_count;     /* control word written, no count loaded yet */
	bool write_msb_next; /* LSB written, MSB awaited */
	uint8_t write_lsb;
	bool read_msb_next;
	uint8_t latch_bytes; /* count latch bytes left to read (0-2) */
	uint16_t latch_value;
	bool status_latched;
	uint8_t status;
	/* Counting: elapsed ticks = run_ticks + (running ? ticks since base_ns : 0). */
	bool running;
	uint64_t run_ticks;
	uint64_t base_ns;
	uint64_t edges_fired; /* channel 0: output rising edges already raised */
};

struct pit {
	pthread_mutex_t lock;
	struct pit_channel ch[3];
	uint8_t port61; /* the writable bits */
	bool refresh;
	int wake_fd;
	bool stop;
	bool paused; /* the VM is paused: the timer thread waits for a wakeup */
	pthread_t thread;
	bool thread_started;
};

struct irqchip {
	struct vm *vm;
	unsigned nr_cpus;
	void (*kick)(void *opaque, unsigned cpu);
	void *kick_opaque;
	struct lapic *lapics;
	struct ioapic ioapic;
	struct pics pics;
	_Atomic bool pic_intr; /* the master PIC's INTR output */
	struct pit pit;
};

/* The VM's clock (vm_clock_ns): every timer here counts in it, so a paused VM's stand still. */
uint64_t chip_now(struct irqchip *chip);

static inline void chip_kick(struct irqchip *chip, unsigned cpu)
{
	chip->kick(chip->kick_opaque, cpu);
}

/* irqchip.c */
unsigned irq_deliver(struct irqchip *chip, const struct irq_msg *m);

/* lapic.c */
void lapic_init(struct lapic *l, struct irqchip *chip, unsigned id);
void lapic_destroy(struct lapic *l);
/* Whether m's destination (not its shorthand) names l. */
bool lapic_dest_match(struct lapic *l, const struct irq_msg *m);
/* An enabled APIC whose APIC ID (the xAPIC ID register, or the x2APIC ID) is id. */
bool lapic_id_is(struct lapic *l, uint32_t id);
/* The TPR lowest-priority arbitration compares, or -1 when fixed interrupts are refused. */
int lapic_task_priority(struct lapic *l);
bool lapic_accept(struct lapic *l, const struct irq_msg *m);
int lapic_take(struct lapic *l);
void lapic_save(struct lapic *l, struct state_writer *w);
int lapic_load(struct lapic *l, struct state_reader *r, struct err *err);

/* ioapic.c */
void ioapic_init(struct ioapic *io, uint32_t id);
void ioapic_set_pin(struct irqchip *chip, unsigned pin, int level);
void ioapic_eoi(struct irqchip *chip, uint8_t vector);
void ioapic_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
void ioapic_save(struct irqchip *chip, struct state_writer *w);
int ioapic_load(struct irqchip *chip, struct state_reader *r, struct err *err);

/* pic.c */
void pic_init(struct irqchip *chip);
void pic_set_irq(struct irqchip *chip, unsigned irq, int level);
int pic_inta(struct irqchip *chip);
void pic_master_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
void pic_slave_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
void pic_elcr_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
void pic_save(struct irqchip *chip, struct state_writer *w);
int pic_load(struct irqchip *chip, struct state_reader *r, struct err *err);

/* pit.c */
int pit_init(struct irqchip *chip, struct err *err);
int pit_start(struct irqchip *chip, struct err *err);
void pit_destroy(struct irqchip *chip);
void pit_pause(struct irqchip *chip);
void pit_resume(struct irqchip *chip);
void pit_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
void pit_port61_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
void pit_save(struct irqchip *chip, struct state_writer *w);
int pit_load(struct irqchip *chip, struct state_reader *r, struct err *err);

#endif
