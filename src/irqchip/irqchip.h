/* irqchip/irqchip.h: the interrupt controllers and timers kite emulates itself (soft engine). */
#ifndef KITE_IRQCHIP_IRQCHIP_H
#define KITE_IRQCHIP_IRQCHIP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/state.h"

struct vm;
struct irqchip;

/*
 * One irqchip per VM: a local APIC per vCPU (xAPIC), one IOAPIC (24 pins at
 * IOAPIC_DEFAULT_BASE), the two cascaded 8259 PICs (ports 0x20/0x21,
 * 0xa0/0xa1, ELCR 0x4d0/0x4d1), the 8254 PIT (ports 0x40-0x43, and port 0x61:
 * speaker gate and channel 2 output) and a platform timer thread that fires
 * the PIT. Time is the VM's clock (vm_clock_ns: CLOCK_MONOTONIC less the
 * time the VM spent paused).
 *
 * Threads: each vCPU thread calls the per-CPU functions for its own cpu only;
 * irqchip_set_irq() may come from any thread (devices, the timer thread); IPIs
 * from one vCPU reach another's LAPIC. Everything is safe for that.
 *
 * kick(opaque, cpu) is called (from any thread) whenever cpu has something
 * new to look at: an interrupt became deliverable, INIT or SIPI arrived, or
 * its LAPIC timer was reprogrammed. The engine wakes a halted vCPU or makes a
 * running one check between instructions.
 */
struct irqchip_config {
	unsigned nr_cpus;
	void (*kick)(void *opaque, unsigned cpu);
	void *kick_opaque;
};

/* Registers the IOAPIC, PIC and PIT on vm's buses and starts the timer thread. */
int irqchip_create(struct vm *vm, const struct irqchip_config *cfg, struct irqchip **out,
		   struct err *err);
void irqchip_destroy(struct irqchip *chip);

/* Drives GSI gsi (0-23; ISA IRQs 0-15 also reach the PIC) to level. */
void irqchip_set_irq(struct irqchip *chip, unsigned gsi, int level);

/* This CPU's LAPIC registers (the 4 KiB xAPIC page; offset within it). */
void irqchip_lapic_access(struct irqchip *chip, unsigned cpu, uint64_t offset, uint8_t *data,
			  unsigned len, bool is_write);

/* IA32_APIC_BASE as the guest sees it; a write may disable the LAPIC. */
uint64_t irqchip_apic_base(struct irqchip *chip, unsigned cpu);
int irqchip_set_apic_base(struct irqchip *chip, unsigned cpu, uint64_t value);
/* The address of the CPU's LAPIC page, UINT64_MAX while it is disabled or in x2APIC mode; lock-free. */
uint64_t irqchip_apic_page(struct irqchip *chip, unsigned cpu);
/*
 * RDMSR/WRMSR of an x2APIC register (MSRs 0x800-0x8ff): returns 0, or
 * -EINVAL for the #GP the CPU raises (not in x2APIC mode, a write-only or
 * read-only register, reserved bits).
 */
int irqchip_x2apic_msr(struct irqchip *chip, unsigned cpu, uint32_t msr, uint64_t *val,
		       bool is_write);

/*
 * Cheap check (an atomic load on the fast path): true when the CPU, if its
 * RFLAGS.IF allowed it, has an interrupt to take (LAPIC IRR above PPR, or a
 * PIC interrupt through LINT0 ExtINT / a disabled LAPIC).
 */
bool irqchip_has_interrupt(struct irqchip *chip, unsigned cpu);

/*
 * Takes the interrupt the CPU delivers now (the INTA cycle): returns its
 * vector, having moved it from IRR to ISR (or acknowledged the PIC), or -1 if
 * nothing is deliverable any more.
 */
int irqchip_take_interrupt(struct irqchip *chip, unsigned cpu);

/*
 * KVM's PV IPI (KVM_HC_SEND_IPI) for one bitmap word: the message ICR low
 * word icr describes (fixed or NMI; its destination fields are ignored)
 * from cpu to each APIC ID min + i for bit i of bitmap, by exact physical
 * ID (0xff is an ID here, not a broadcast). Returns how many LAPICs
 * accepted it, or -EINVAL for another delivery mode.
 */
int irqchip_send_ipi_mask(struct irqchip *chip, unsigned cpu, uint64_t bitmap, uint64_t min,
			  uint32_t icr);

/*
 * How many NMIs (LVT/ICR delivery mode NMI) arrived since the last call:
 * 0 to IRQCHIP_NMI_MAX, more are dropped. Taking them clears the count.
 */
#define IRQCHIP_NMI_MAX 2
unsigned irqchip_take_nmis(struct irqchip *chip, unsigned cpu);

enum irqchip_startup { STARTUP_NONE, STARTUP_INIT, STARTUP_SIPI };

/*
 * INIT and SIPI addressed to the CPU: returns STARTUP_INIT once per INIT
 * (the engine resets the vCPU to wait-for-SIPI), then STARTUP_SIPI with the
 * vector (start at vector * 0x1000 in real mode) once per SIPI that arrives
 * while it waits. A SIPI that arrives when not waiting is dropped.
 */
enum irqchip_startup irqchip_take_startup(struct irqchip *chip, unsigned cpu, uint8_t *vector);

/*
 * The LAPIC timer: fires (sets IRR per LVT timer) if its deadline has passed
 * by now_ns, and returns the next deadline in the VM's clock (UINT64_MAX
 * when none): a halted vCPU sleeps until then at most.
 */
uint64_t irqchip_lapic_timer_poll(struct irqchip *chip, unsigned cpu, uint64_t now_ns);

/* The LAPIC timer's input frequency (Hz), which CPUID leaf 0x15 reports. */
#define IRQCHIP_LAPIC_TIMER_HZ 1000000000ull

/*
 * The VM is pausing (after its vCPUs parked) or resuming: the timer thread
 * stops looking at the PIT until resumed. The LAPIC timers need nothing:
 * the vCPU threads poll them, in the VM's clock, which stands still.
 */
void irqchip_pause(struct irqchip *chip);
void irqchip_resume(struct irqchip *chip);

/* Snapshot support: the whole irqchip as sections (pause the VM first). */
int irqchip_save(struct irqchip *chip, struct state_writer *w);
int irqchip_load(struct irqchip *chip, struct state_reader *r, struct err *err);

#endif
