/* irqchip/ioapic.c: the 82093AA-style I/O APIC: 24 redirection entries at IOAPIC_DEFAULT_BASE. */
#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "irqchip/internal.h"

#define IOAPIC_REGSEL 0x00
#define IOAPIC_WINDOW 0x10
#define IOAPIC_EOI    0x40

#define IOAPIC_REG_ID	   0x00
#define IOAPIC_REG_VERSION 0x01
#define IOAPIC_REG_ARB	   0x02
#define IOAPIC_REG_REDIR   0x10

/* 24 entries (max index 0x17), version 0x11. */
#define IOAPIC_VERSION_VALUE 0x00170011u

#define RTE_VECTOR	 0xffull
#define RTE_LOGICAL	 (1ull << 11)
#define RTE_POLARITY_LOW (1ull << 13)
#define RTE_REMOTE_IRR	 (1ull << 14)
#define RTE_LEVEL	 (1ull << 15)
#define RTE_MASKED	 (1ull << 16)
#define RTE_WRITABLE_LO	 0x0001afffull
#define RTE_WRITABLE	 (0xff00000000000000ull | RTE_WRITABLE_LO)

/* The 82093AA's ID is 4 bits (register bits 27:24); 31:28 are reserved. */
#define IOAPIC_ID_MASK 0xfu

#define IOAPIC_STATE_VERSION 1

void ioapic_init(struct ioapic *io, uint32_t id)
{
	pthread_mutex_init(&io->lock, NULL);
	io->regsel = 0;
	io->id = id & IOAPIC_ID_MASK;
	io->pins = 0;
	for (unsigned i = 0; i < IOAPIC_NR_PINS; i++)
		io->redir[i] = RTE_MASKED;
}

static bool asserted(const struct ioapic *io, unsigned pin)
{
	bool high = (io->pins >> pin) & 1;

	return high != !!(io->redir[pin] & RTE_POLARITY_LOW);
}

/* Sends the pin's message; a level pin holds remote IRR until the EOI. Lock held. */
static void service(struct irqchip *chip, unsigned pin)
{
	struct ioapic *io = &chip->ioapic;
	uint64_t e = io->redir[pin];
	unsigned mode = (e >> 8) & 7;
	struct irq_msg m = {
	    .vector = (uint8_t)(e & RTE_VECTOR),
	    .dest = (uint8_t)(e >> 56),
	    .mode = (uint8_t)mode,
	    .logical = e & RTE_LOGICAL,
	    .level = e & RTE_LEVEL,
	    .shorthand = SH_NONE,
	};

	if (mode != DM_FIXED && mode != DM_LOWEST && mode != DM_NMI && mode != DM_INIT &&
	    mode != DM_EXTINT) {
		log_ratelimited(LOG_WARN, "ioapic: pin %u: ignoring delivery mode %u", pin, mode);
		return;
	}
	if (mode != DM_FIXED && mode != DM_LOWEST)
		m.level = false; /* NMI, INIT and ExtINT are edge by definition */
	if (irq_deliver(chip, &m) && m.level)
		io->redir[pin] |= RTE_REMOTE_IRR;
}

void ioapic_set_pin(struct irqchip *chip, unsigned pin, int level)
{
	struct ioapic *io = &chip->ioapic;
	bool was, now;
	uint64_t e;

	if (pin >= IOAPIC_NR_PINS)
		return;
	pthread_mutex_lock(&io->lock);
	was = asserted(io, pin);
	if (level)
		io->pins |= 1u << pin;
	else
		io->pins &= ~(1u << pin);
	now = asserted(io, pin);
	e = io->redir[pin];
	if (!now || (e & RTE_MASKED))
		goto out;
	if (e & RTE_LEVEL) {
		if (!(e & RTE_REMOTE_IRR))
			service(chip, pin);
	} else if (!was) {
		service(chip, pin);
	}
out:
	pthread_mutex_unlock(&io->lock);
}

void ioapic_eoi(struct irqchip *chip, uint8_t vector)
{
	struct ioapic *io = &chip->ioapic;

	pthread_mutex_lock(&io->lock);
	for (unsigned pin = 0; pin < IOAPIC_NR_PINS; pin++) {
		uint64_t e = io->redir[pin];

		if (!(e & RTE_LEVEL) || !(e & RTE_REMOTE_IRR) || (e & RTE_VECTOR) != vector)
			continue;
		io->redir[pin] = e & ~RTE_REMOTE_IRR;
		/* Still asserted: the device wants service again. */
		if (asserted(io, pin) && !(e & RTE_MASKED))
			service(chip, pin);
	}
	pthread_mutex_unlock(&io->lock);
}

static uint32_t reg_read(const struct ioapic *io)
{
	unsigned idx = io->regsel;

	switch (idx) {
	case IOAPIC_REG_ID:
		return io->id << 24;
	case IOAPIC_REG_VERSION:
		return IOAPIC_VERSION_VALUE;
	case IOAPIC_REG_ARB:
		return io->id << 24; /* loaded from the ID, as after a reset */
	}
	if (idx >= IOAPIC_REG_REDIR && idx < IOAPIC_REG_REDIR + 2 * IOAPIC_NR_PINS) {
		uint64_t e = io->redir[(idx - IOAPIC_REG_REDIR) / 2];

		return (idx & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
	}
	return 0;
}

static void redir_write(struct irqchip *chip, unsigned pin, bool high, uint32_t val)
{
	struct ioapic *io = &chip->ioapic;
	uint64_t e = io->redir[pin];

	if (high)
		e = (e & 0xffffffffull) | ((uint64_t)(val & 0xff000000u) << 32);
	else
		e = (e & ~RTE_WRITABLE_LO) | (val & RTE_WRITABLE_LO);
	if (!(e & RTE_LEVEL))
		e &= ~RTE_REMOTE_IRR;
	io->redir[pin] = e;
	/* Unmasking (or retargeting) a level pin that is still asserted delivers it. */
	if ((e & RTE_LEVEL) && !(e & (RTE_MASKED | RTE_REMOTE_IRR)) && asserted(io, pin))
		service(chip, pin);
}

static void reg_write(struct irqchip *chip, uint32_t val)
{
	struct ioapic *io = &chip->ioapic;
	unsigned idx = io->regsel;

	if (idx == IOAPIC_REG_ID) {
		io->id = (val >> 24) & IOAPIC_ID_MASK;
		return;
	}
	if (idx >= IOAPIC_REG_REDIR && idx < IOAPIC_REG_REDIR + 2 * IOAPIC_NR_PINS)
		redir_write(chip, (idx - IOAPIC_REG_REDIR) / 2, idx & 1, val);
	/* version and arbitration are read-only */
}

void ioapic_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct irqchip *chip = opaque;
	struct ioapic *io = &chip->ioapic;
	uint32_t val = 0;

	if (!is_write)
		memset(data, 0, len);
	if (len != 4 || (offset & 3)) {
		log_ratelimited(LOG_WARN, "ioapic: ignoring %u-byte %s at offset 0x%llx", len,
				is_write ? "write" : "read", (unsigned long long)offset);
		return;
	}
	if (is_write)
		memcpy(&val, data, 4);
	if (offset == IOAPIC_EOI) {
		if (is_write)
			ioapic_eoi(chip, (uint8_t)val);
		return;
	}
	pthread_mutex_lock(&io->lock);
	if (offset == IOAPIC_REGSEL) {
		if (is_write)
			io->regsel = val & 0xff;
		else
			val = io->regsel;
	} else if (offset == IOAPIC_WINDOW) {
		if (is_write)
			reg_write(chip, val);
		else
			val = reg_read(io);
	} else {
		val = 0;
	}
	pthread_mutex_unlock(&io->lock);
	if (!is_write)
		memcpy(data, &val, 4);
}

void ioapic_save(struct irqchip *chip, struct state_writer *w)
{
	struct ioapic *io = &chip->ioapic;

	pthread_mutex_lock(&io->lock);
	state_section_begin(w, "irqchip-ioapic", IOAPIC_STATE_VERSION);
	state_put_u32(w, io->id);
	state_put_u32(w, io->regsel);
	state_put_u32(w, io->pins);
	for (unsigned i = 0; i < IOAPIC_NR_PINS; i++)
		state_put_u64(w, io->redir[i]);
	state_section_end(w);
	pthread_mutex_unlock(&io->lock);
}

int ioapic_load(struct irqchip *chip, struct state_reader *r, struct err *err)
{
	struct ioapic *io = &chip->ioapic;
	uint64_t redir[IOAPIC_NR_PINS];
	uint32_t version, id, regsel, pins;
	int rc;

	rc = state_section_open(r, "irqchip-ioapic", IOAPIC_STATE_VERSION, &version, err);
	if (rc < 0)
		return rc;
	id = state_get_u32(r);
	regsel = state_get_u32(r);
	pins = state_get_u32(r);
	for (unsigned i = 0; i < IOAPIC_NR_PINS; i++)
		redir[i] = state_get_u64(r);
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "ioapic");
	if (id > 0xff || regsel > 0xff || (pins >> IOAPIC_NR_PINS))
		return err_set(err, -EINVAL, "ioapic: state has invalid register values");
	for (unsigned i = 0; i < IOAPIC_NR_PINS; i++) {
		uint64_t e = redir[i];

		if ((e & ~(RTE_WRITABLE | RTE_REMOTE_IRR)) ||
		    ((e & RTE_REMOTE_IRR) && !(e & RTE_LEVEL)))
			return err_set(err, -EINVAL, "ioapic: redirection entry %u is 0x%llx", i,
				       (unsigned long long)e);
	}
	pthread_mutex_lock(&io->lock);
	io->id = id & IOAPIC_ID_MASK; /* what the register could hold */
	io->regsel = regsel;
	io->pins = pins;
	memcpy(io->redir, redir, sizeof(redir));
	pthread_mutex_unlock(&io->lock);
	return 0;
}
