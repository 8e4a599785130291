/* irqchip/irqchip.c: the soft engine's interrupt fabric: routing, delivery, lifecycle, state. */
#include "irqchip/irqchip.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/x86.h"
#include "bus/bus.h"
#include "irqchip/internal.h"
#include "vm/vm.h"

#define PIC_MASTER_PORT	  0x20
#define PIC_SLAVE_PORT	  0xa0
#define ELCR_PORT	  0x4d0
#define PIT_PORT	  0x40
#define PORT61		  0x61
#define IOAPIC_WINDOW_LEN 0x1000

#define IRQCHIP_STATE_VERSION 1

static bool targeted(struct irqchip *chip, unsigned cpu, const struct irq_msg *m)
{
	switch (m->shorthand) {
	case SH_SELF:
		return cpu == m->src;
	case SH_ALL:
		return true;
	case SH_OTHERS:
		return cpu != m->src;
	default:
		return lapic_dest_match(&chip->lapics[cpu], m);
	}
}

/*
 * Lowest priority (SDM 11.6.2.4, Pentium 4 and Xeon): the bus gives the
 * message to the addressed processor whose task priority is lowest, as
 * the chipset does from the TPRs the processors report; there is no focus
 * processor. Ties go to the lowest-numbered CPU, always the same one, as
 * the SDM warns a chipset may do. Returns the CPU, or -1 when every
 * addressed APIC would refuse it (software-disabled).
 */
static int lowest_priority(struct irqchip *chip, const struct irq_msg *m)
{
	int best = -1, best_tpr = 0x100;

	for (unsigned cpu = 0; cpu < chip->nr_cpus; cpu++) {
		int tpr;

		if (!targeted(chip, cpu, m))
			continue;
		tpr = lapic_task_priority(&chip->lapics[cpu]);
		if (tpr >= 0 && tpr < best_tpr) {
			best = (int)cpu;
			best_tpr = tpr;
		}
	}
	return best;
}

/* The APIC bus: one message to every LAPIC it addresses. Returns how many accepted it. */
unsigned irq_deliver(struct irqchip *chip, const struct irq_msg *m)
{
	unsigned n = 0;
	int cpu;

	if (m->mode == DM_LOWEST) {
		cpu = lowest_priority(chip, m);
		return cpu >= 0 && lapic_accept(&chip->lapics[cpu], m);
	}
	for (unsigned t = 0; t < chip->nr_cpus; t++)
		if (targeted(chip, t, m))
			n += lapic_accept(&chip->lapics[t], m);
	return n;
}

int irqchip_send_ipi_mask(struct irqchip *chip, unsigned cpu, uint64_t bitmap, uint64_t min,
			  uint32_t icr)
{
	struct irq_msg m = {
	    .vector = (uint8_t)icr,
	    .mode = (uint8_t)((icr >> 8) & 7),
	    .level = icr & (1u << 15),
	    .shorthand = SH_NONE,
	    .src = cpu,
	};
	int n = 0;

	if (cpu >= chip->nr_cpus || (m.mode != DM_FIXED && m.mode != DM_NMI))
		return -EINVAL;
	if (m.mode == DM_NMI)
		m.level = false;
	/* xAPIC IDs are 8 bits: bits for IDs past 0xff name nobody. */
	for (; bitmap && min <= 0xff; bitmap >>= 1, min++) {
		if (!(bitmap & 1))
			continue;
		for (unsigned t = 0; t < chip->nr_cpus; t++)
			if (lapic_id_is(&chip->lapics[t], (uint32_t)min))
				n += lapic_accept(&chip->lapics[t], &m);
	}
	return n;
}

void irqchip_set_irq(struct irqchip *chip, unsigned gsi, int level)
{
	if (gsi >= IRQCHIP_NR_GSIS) {
		log_ratelimited(LOG_WARN, "irqchip: ignoring GSI %u (only 0-%u exist)", gsi,
				IRQCHIP_NR_GSIS - 1);
		return;
	}
	/* The MADT maps ISA IRQs 1:1 onto GSIs, so IRQ n is PIC input n and IOAPIC pin n. */
	if (gsi < IRQCHIP_NR_ISA_IRQS)
		pic_set_irq(chip, gsi, level);
	ioapic_set_pin(chip, gsi, level);
}

bool irqchip_has_interrupt(struct irqchip *chip, unsigned cpu)
{
	struct lapic *l;

	if (cpu >= chip->nr_cpus)
		return false;
	l = &chip->lapics[cpu];
	if (atomic_load(&l->ready))
		return true;
	if (atomic_load(&chip->pic_intr) &&
	    (atomic_load(&l->extint_ok) || atomic_load(&l->extint_req))) {
		/* INTR was seen high: the INTA that follows acks the PIC even if it fell. */
		if (!atomic_load(&l->pic_sampled))
			atomic_store(&l->pic_sampled, true);
		return true;
	}
	if (atomic_load(&l->pic_sampled))
		atomic_store(&l->pic_sampled, false);
	return false;
}

int irqchip_take_interrupt(struct irqchip *chip, unsigned cpu)
{
	struct lapic *l;
	bool sampled;
	int v;

	if (cpu >= chip->nr_cpus)
		return -1;
	l = &chip->lapics[cpu];
	v = lapic_take(l);
	if (v >= 0)
		return v;
	sampled = atomic_exchange(&l->pic_sampled, false);
	if (!atomic_load(&l->extint_ok) && !atomic_load(&l->extint_req))
		return -1;
	if (!sampled && !atomic_load(&chip->pic_intr))
		return -1;
	atomic_store(&l->extint_req, false);
	return pic_inta(chip);
}

static int regions_register(struct vm *vm, struct irqchip *chip, struct err *err)
{
	static const struct {
		uint16_t port, len;
		io_handler_fn fn;
		const char *name;
	} ports[] = {
	    {PIC_MASTER_PORT, 2, pic_master_io, "pic-master"},
	    {PIC_SLAVE_PORT, 2, pic_slave_io, "pic-slave"},
	    {ELCR_PORT, 2, pic_elcr_io, "elcr"},
	    {PIT_PORT, 4, pit_io, "pit"},
	    {PORT61, 1, pit_port61_io, "port61"},
	};
	int rc;

	for (unsigned i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		rc = io_bus_register(&vm->pio, ports[i].port, ports[i].len, ports[i].fn, chip,
				     ports[i].name, err);
		if (rc < 0)
			return rc;
	}
	return io_bus_register(&vm->mmio, IOAPIC_DEFAULT_BASE, IOAPIC_WINDOW_LEN, ioapic_mmio, chip,
			       "ioapic", err);
}

uint64_t chip_now(struct irqchip *chip)
{
	return vm_clock_ns(chip->vm);
}

static void chip_free(struct irqchip *chip)
{
	pit_destroy(chip);
	pthread_mutex_destroy(&chip->pics.lock);
	pthread_mutex_destroy(&chip->ioapic.lock);
	for (unsigned i = 0; i < chip->nr_cpus; i++)
		lapic_destroy(&chip->lapics[i]);
	free(chip->lapics);
	free(chip);
}

int irqchip_create(struct vm *vm, const struct irqchip_config *cfg, struct irqchip **out,
		   struct err *err)
{
	struct irqchip *chip;
	int rc;

	if (cfg->nr_cpus < 1 || cfg->nr_cpus > VM_MAX_VCPUS)
		return err_set(err, -EINVAL, "irqchip: %u vCPUs is outside 1..%u", cfg->nr_cpus,
			       VM_MAX_VCPUS);
	if (!cfg->kick)
		return err_set(err, -EINVAL, "irqchip: no kick callback");
	chip = calloc(1, sizeof(*chip));
	if (!chip)
		return err_set(err, -ENOMEM, "irqchip: out of memory");
	chip->lapics = calloc(cfg->nr_cpus, sizeof(*chip->lapics));
	if (!chip->lapics) {
		free(chip);
		return err_set(err, -ENOMEM, "irqchip: out of memory");
	}
	chip->vm = vm;
	chip->nr_cpus = cfg->nr_cpus;
	chip->kick = cfg->kick;
	chip->kick_opaque = cfg->kick_opaque;
	for (unsigned i = 0; i < cfg->nr_cpus; i++)
		lapic_init(&chip->lapics[i], chip, i);
	/* The MADT gives the IOAPIC the first ID after the CPUs'. */
	ioapic_init(&chip->ioapic, cfg->nr_cpus);
	pic_init(chip);
	rc = pit_init(chip, err);
	if (rc < 0) {
		chip->pit.wake_fd = -1;
		goto err_free;
	}
	/*
	 * The bus cannot unregister: a failure below leaves regions pointing at
	 * a freed chip, so the caller must tear the whole VM down (it does).
	 */
	rc = regions_register(vm, chip, err);
	if (rc < 0)
		goto err_free;
	rc = pit_start(chip, err);
	if (rc < 0)
		goto err_free;
	*out = chip;
	return 0;

err_free:
	chip_free(chip);
	return rc;
}

void irqchip_destroy(struct irqchip *chip)
{
	if (chip)
		chip_free(chip);
}

void irqchip_pause(struct irqchip *chip)
{
	pit_pause(chip);
}

void irqchip_resume(struct irqchip *chip)
{
	pit_resume(chip);
}

int irqchip_save(struct irqchip *chip, struct state_writer *w)
{
	state_section_begin(w, "irqchip", IRQCHIP_STATE_VERSION);
	state_put_u32(w, chip->nr_cpus);
	state_section_end(w);
	for (unsigned i = 0; i < chip->nr_cpus; i++)
		lapic_save(&chip->lapics[i], w);
	ioapic_save(chip, w);
	pic_save(chip, w);
	pit_save(chip, w);
	return w->error;
}

/*
 * Each part is checked whole before it replaces the live one, but a failure
 * in a later part leaves earlier ones loaded: the VM must not run after a
 * failed load.
 */
int irqchip_load(struct irqchip *chip, struct state_reader *r, struct err *err)
{
	uint32_t version, nr;
	int rc;

	rc = state_section_open(r, "irqchip", IRQCHIP_STATE_VERSION, &version, err);
	if (rc < 0)
		return rc;
	nr = state_get_u32(r);
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "irqchip");
	if (nr != chip->nr_cpus)
		return err_set(err, -EINVAL, "irqchip: state has %u LAPICs, this VM has %u vCPUs",
			       nr, chip->nr_cpus);
	for (unsigned i = 0; i < chip->nr_cpus; i++) {
		rc = lapic_load(&chip->lapics[i], r, err);
		if (rc < 0)
			return rc;
	}
	rc = ioapic_load(chip, r, err);
	if (rc < 0)
		return rc;
	rc = pic_load(chip, r, err);
	if (rc < 0)
		return rc;
	return pit_load(chip, r, err);
}
