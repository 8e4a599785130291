/* irqchip/pic.c: the two cascaded 8259A PICs (ports 0x20/0x21, 0xa0/0xa1) and the ELCR. */
#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "irqchip/internal.h"

#define PIC_MASTER	0
#define PIC_SLAVE	1
#define PIC_CASCADE_IRQ 2

#define ICW1_IC4    0x01
#define ICW1_SNGL   0x02
#define ICW1_INIT   0x10
#define OCW3_SELECT 0x08
#define OCW3_POLL   0x04
#define OCW3_RR	    0x02
#define OCW3_RIS    0x01
#define OCW3_ESMM   0x40
#define OCW3_SMM    0x20
#define ICW4_AEOI   0x02

/* IRQ 0-2 (timer, keyboard, cascade) and 8, 13 (RTC, FPU) are always edge. */
static const uint8_t elcr_writable[2] = {0xf8, 0xde};

#define PIC_STATE_VERSION 1

/* The rank (0 highest) of the best request in mask under the current rotation; 8 if none. */
static unsigned rank(const struct pic *p, uint8_t mask)
{
	for (unsigned i = 0; i < 8; i++)
		if (mask & (1u << ((i + p->priority_add) & 7)))
			return i;
	return 8;
}

/* The IRQ this PIC would raise INT for now, or -1. */
static int pending_irq(const struct pic *p)
{
	unsigned req = rank(p, p->irr & ~p->imr);
	uint8_t in_service = p->isr;

	if (req == 8)
		return -1;
	/* Special mask mode: a masked in-service level no longer blocks lower ones. */
	if (p->special_mask)
		in_service &= ~p->imr;
	if (req >= rank(p, in_service))
		return -1;
	return (int)((req + p->priority_add) & 7);
}

static void line_set(struct pic *p, unsigned irq, int level)
{
	uint8_t bit = (uint8_t)(1u << irq);

	if (p->elcr & bit) {
		/* Level: the request follows the line; if it drops before INTA, IRQ7 is spurious.
		 */
		if (level)
			p->irr |= bit;
		else
			p->irr &= (uint8_t)~bit;
	} else if (level && !(p->lines & bit)) {
		p->irr |= bit; /* edge: latched on the rising edge */
	}
	if (level)
		p->lines |= bit;
	else
		p->lines &= (uint8_t)~bit;
}

/* Propagates the slave's INT to the master's IR2 and the master's INT to the CPU. */
static bool outputs_update(struct irqchip *chip)
{
	struct pic *m = &chip->pics.pic[PIC_MASTER], *s = &chip->pics.pic[PIC_SLAVE];
	bool intr;

	line_set(m, PIC_CASCADE_IRQ, pending_irq(s) >= 0);
	intr = pending_irq(m) >= 0;
	return !atomic_exchange(&chip->pic_intr, intr) && intr;
}

static void reset_pic(struct pic *p, uint8_t base, uint8_t icw3, uint8_t imr)
{
	memset(p, 0, sizeof(*p));
	p->base = base;
	p->icw3 = icw3;
	p->imr = imr;
	p->icw4_needed = true;
}

void pic_init(struct irqchip *chip)
{
	pthread_mutex_init(&chip->pics.lock, NULL);
	/* As a PC BIOS leaves them: vectors 0x08/0x70, everything but the cascade masked. */
	reset_pic(&chip->pics.pic[PIC_MASTER], 0x08, 1u << PIC_CASCADE_IRQ, 0xfb);
	reset_pic(&chip->pics.pic[PIC_SLAVE], 0x70, PIC_CASCADE_IRQ, 0xff);
	atomic_store(&chip->pic_intr, false);
}

void pic_set_irq(struct irqchip *chip, unsigned irq, int level)
{
	bool kick;

	if (irq >= IRQCHIP_NR_ISA_IRQS || irq == PIC_CASCADE_IRQ)
		return;
	pthread_mutex_lock(&chip->pics.lock);
	line_set(&chip->pics.pic[irq >> 3], irq & 7, level);
	kick = outputs_update(chip);
	pthread_mutex_unlock(&chip->pics.lock);
	if (kick)
		chip_kick(chip, 0);
}

/* The first INTA pulse: IRR to ISR (or rotation in auto-EOI mode). */
static void ack(struct pic *p, unsigned irq)
{
	uint8_t bit = (uint8_t)(1u << irq);

	if (!p->auto_eoi)
		p->isr |= bit;
	else if (p->rotate_aeoi)
		p->priority_add = (irq + 1) & 7;
	if (!(p->elcr & bit))
		p->irr &= (uint8_t)~bit;
}

int pic_inta(struct irqchip *chip)
{
	struct pic *m = &chip->pics.pic[PIC_MASTER], *s = &chip->pics.pic[PIC_SLAVE];
	int irq, sirq, vector;

	pthread_mutex_lock(&chip->pics.lock);
	irq = pending_irq(m);
	if (irq < 0) {
		vector = m->base + 7; /* the request went away: spurious IRQ7 */
	} else if (irq == PIC_CASCADE_IRQ && !m->single) {
		ack(m, PIC_CASCADE_IRQ);
		sirq = pending_irq(s);
		if (sirq < 0) {
			vector = s->base + 7; /* spurious IRQ15 */
		} else {
			ack(s, (unsigned)sirq);
			vector = s->base + sirq;
		}
	} else {
		ack(m, (unsigned)irq);
		vector = m->base + irq;
	}
	outputs_update(chip);
	pthread_mutex_unlock(&chip->pics.lock);
	return vector;
}

static void ocw2(struct pic *p, uint8_t val)
{
	unsigned cmd = val >> 5, irq;

	switch (cmd) {
	case 0: /* rotate in auto-EOI mode: clear */
	case 4: /* ... set */
		p->rotate_aeoi = cmd == 4;
		break;
	case 1: /* non-specific EOI */
	case 5: /* rotate on non-specific EOI */
		irq = rank(p, p->isr);
		if (irq == 8)
			break;
		irq = (irq + p->priority_add) & 7;
		p->isr &= (uint8_t) ~(1u << irq);
		if (cmd == 5)
			p->priority_add = (irq + 1) & 7;
		break;
	case 3: /* specific EOI */
	case 7: /* rotate on specific EOI */
		p->isr &= (uint8_t) ~(1u << (val & 7));
		if (cmd == 7)
			p->priority_add = ((val & 7) + 1) & 7;
		break;
	case 6: /* set priority: the IRQ named becomes the lowest */
		p->priority_add = ((val & 7) + 1) & 7;
		break;
	default:
		break;
	}
}

static void cmd_write(struct pic *p, uint8_t val)
{
	if (val & ICW1_INIT) {
		/* ICW1: IMR, ISR, rotation and modes reset; edge latches re-arm. */
		uint8_t level_irr = p->lines & p->elcr;

		p->irr = level_irr;
		p->isr = 0;
		p->imr = 0;
		p->priority_add = 0;
		p->special_mask = p->read_isr = p->poll = false;
		p->auto_eoi = p->rotate_aeoi = false;
		p->icw4_needed = val & ICW1_IC4;
		p->single = val & ICW1_SNGL;
		p->init_step = 1;
		return;
	}
	if (!(val & OCW3_SELECT)) {
		ocw2(p, val);
		return;
	}
	if (val & OCW3_POLL)
		p->poll = true;
	if (val & OCW3_RR)
		p->read_isr = val & OCW3_RIS;
	if (val & OCW3_ESMM)
		p->special_mask = val & OCW3_SMM;
}

static void data_write(struct pic *p, uint8_t val)
{
	switch (p->init_step) {
	case 1: /* ICW2 */
		p->base = val & 0xf8;
		p->init_step = p->single ? (p->icw4_needed ? 3 : 0) : 2;
		break;
	case 2: /* ICW3 */
		p->icw3 = val;
		p->init_step = p->icw4_needed ? 3 : 0;
		break;
	case 3: /* ICW4: only 8086 mode and auto-EOI matter on a PC */
		p->auto_eoi = val & ICW4_AEOI;
		p->init_step = 0;
		break;
	default: /* OCW1 */
		p->imr = val;
		break;
	}
}

/* Poll command: an INTA without a vector, answered with 0x80 | irq. */
static uint8_t poll_read(struct pic *p)
{
	int irq = pending_irq(p);

	if (irq < 0)
		return 0;
	ack(p, (unsigned)irq);
	return (uint8_t)(0x80 | irq);
}

static void port_io(struct irqchip *chip, unsigned idx, uint64_t offset, uint8_t *data,
		    unsigned len, bool is_write)
{
	struct pic *p = &chip->pics.pic[idx];
	bool kick;

	if (len != 1) {
		log_ratelimited(LOG_WARN, "pic: ignoring %u-byte access to port 0x%llx", len,
				(unsigned long long)((idx ? 0xa0 : 0x20) + offset));
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&chip->pics.lock);
	if (is_write && offset == 0)
		cmd_write(p, data[0]);
	else if (is_write)
		data_write(p, data[0]);
	else if (offset == 1)
		data[0] = p->imr;
	else if (p->poll) {
		p->poll = false;
		data[0] = poll_read(p);
	} else {
		data[0] = p->read_isr ? p->isr : p->irr;
	}
	kick = outputs_update(chip);
	pthread_mutex_unlock(&chip->pics.lock);
	if (kick)
		chip_kick(chip, 0);
}

void pic_master_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	port_io(opaque, PIC_MASTER, offset, data, len, is_write);
}

void pic_slave_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	port_io(opaque, PIC_SLAVE, offset, data, len, is_write);
}

void pic_elcr_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct irqchip *chip = opaque;
	bool kick = false;

	pthread_mutex_lock(&chip->pics.lock);
	for (unsigned i = 0; i < len; i++) {
		unsigned idx = (unsigned)offset + i;
		struct pic *p;

		if (idx > 1) {
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		p = &chip->pics.pic[idx];
		if (!is_write) {
			data[i] = p->elcr;
			continue;
		}
		p->elcr = data[i] & elcr_writable[idx];
		/* Level inputs report their line; edge ones keep what they latched. */
		p->irr = (uint8_t)((p->irr & ~p->elcr) | (p->lines & p->elcr));
	}
	if (is_write)
		kick = outputs_update(chip);
	pthread_mutex_unlock(&chip->pics.lock);
	if (kick)
		chip_kick(chip, 0);
}

void pic_save(struct irqchip *chip, struct state_writer *w)
{
	pthread_mutex_lock(&chip->pics.lock);
	state_section_begin(w, "irqchip-pic", PIC_STATE_VERSION);
	for (unsigned i = 0; i < 2; i++) {
		const struct pic *p = &chip->pics.pic[i];

		state_put_u8(w, p->irr);
		state_put_u8(w, p->isr);
		state_put_u8(w, p->imr);
		state_put_u8(w, p->lines);
		state_put_u8(w, p->elcr);
		state_put_u8(w, p->base);
		state_put_u8(w, p->icw3);
		state_put_u8(w, p->init_step);
		state_put_u8(w, p->priority_add);
		state_put_u8(w, p->icw4_needed);
		state_put_u8(w, p->single);
		state_put_u8(w, p->auto_eoi);
		state_put_u8(w, p->rotate_aeoi);
		state_put_u8(w, p->special_mask);
		state_put_u8(w, p->read_isr);
		state_put_u8(w, p->poll);
	}
	state_section_end(w);
	pthread_mutex_unlock(&chip->pics.lock);
}

static int pic_read_one(struct state_reader *r, unsigned idx, struct pic *p, struct err *err)
{
	uint8_t flags[7];

	p->irr = state_get_u8(r);
	p->isr = state_get_u8(r);
	p->imr = state_get_u8(r);
	p->lines = state_get_u8(r);
	p->elcr = state_get_u8(r);
	p->base = state_get_u8(r);
	p->icw3 = state_get_u8(r);
	p->init_step = state_get_u8(r);
	p->priority_add = state_get_u8(r);
	for (unsigned i = 0; i < 7; i++)
		flags[i] = state_get_u8(r);
	if (r->error)
		return 0; /* reported by state_section_close */
	for (unsigned i = 0; i < 7; i++)
		if (flags[i] > 1)
			return err_set(err, -EINVAL, "pic %u: flag %u is %u", idx, i, flags[i]);
	if ((p->elcr & ~elcr_writable[idx]) || (p->base & 7) || p->init_step > 3 ||
	    p->priority_add > 7)
		return err_set(err, -EINVAL, "pic %u: state has invalid register values", idx);
	p->icw4_needed = flags[0];
	p->single = flags[1];
	p->auto_eoi = flags[2];
	p->rotate_aeoi = flags[3];
	p->special_mask = flags[4];
	p->read_isr = flags[5];
	p->poll = flags[6];
	return 0;
}

int pic_load(struct irqchip *chip, struct state_reader *r, struct err *err)
{
	struct pic pics[2];
	uint32_t version;
	bool kick;
	int rc;

	rc = state_section_open(r, "irqchip-pic", PIC_STATE_VERSION, &version, err);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < 2; i++) {
		rc = pic_read_one(r, i, &pics[i], err);
		if (rc < 0)
			return rc;
	}
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "pic");
	pthread_mutex_lock(&chip->pics.lock);
	memcpy(chip->pics.pic, pics, sizeof(pics));
	kick = outputs_update(chip);
	pthread_mutex_unlock(&chip->pics.lock);
	if (kick)
		chip_kick(chip, 0);
	return 0;
}
