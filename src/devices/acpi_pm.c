/* devices/acpi_pm.c: ACPI PM1a event and control blocks and the PM timer. */
#include "devices/devices.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "bus/bus.h"
#include "vm/vm.h"

#define PM1_EVT_LEN 4 /* PM1_STS at +0, PM1_EN at +2 */
#define PM1_CNT_LEN 2
#define PM_TMR_LEN 4

#define PM1_STS_TMR 0x0001 /* the timer's bit 23 toggled */
#define PM1_STS_BM 0x0010
#define PM1_STS_GBL 0x0020
#define PM1_STS_PWRBTN 0x0100
#define PM1_STS_SLPBTN 0x0200
#define PM1_STS_RTC 0x0400
#define PM1_STS_WAK 0x8000
#define PM1_STS_MASK                                                                       \
	(PM1_STS_TMR | PM1_STS_BM | PM1_STS_GBL | PM1_STS_PWRBTN | PM1_STS_SLPBTN | PM1_STS_RTC | \
	 PM1_STS_WAK)
#define PM1_EN_MASK 0x0721 /* TMR, GBL, PWRBTN, SLPBTN, RTC */

#define PM1_CNT_SCI_EN 0x0001
#define PM1_CNT_BM_RLD 0x0002
#define PM1_CNT_GBL_RLS 0x0004 /* write-only */
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_TYP (7u << PM1_CNT_SLP_TYP_SHIFT)
#define PM1_CNT_SLP_EN 0x2000 /* write-only */
#define PM1_CNT_STORED (PM1_CNT_BM_RLD | PM1_CNT_SLP_TYP)

#define PM_TMR_HZ 3579545ull
#define PM_TMR_MASK 0xffffffu
#define PM_TMR_MSB_SHIFT 23
#define NSEC_PER_SEC 1000000000ull

#define ACPI_PM_STATE_VERSION 1

struct acpi_pm {
	struct device dev;
	pthread_mutex_t lock;
	uint16_t sts; /* sticky status bits; TMR_STS is also derived from the timer */
	uint16_t en;
	uint16_t cnt; /* PM1_CNT_STORED bits */
	/* The timer reads (ticks of the VM's clock + base) mod 2^24: it stops while paused. */
	_Atomic uint64_t tmr_base; /* read by vCPUs without the lock */
	uint64_t tmr_sts_since; /* timer value (unmasked) when TMR_STS was last cleared */
};

static struct acpi_pm *to_pm(struct device *dev)
{
	return container_of(dev, struct acpi_pm, dev);
}

/* ns * 3579545 / 1e9, split so that no product overflows 64 bits. */
static uint64_t ns_to_ticks(uint64_t ns)
{
	return ns / NSEC_PER_SEC * PM_TMR_HZ + ns % NSEC_PER_SEC * PM_TMR_HZ / NSEC_PER_SEC;
}

static uint64_t tmr_now(const struct acpi_pm *pm)
{
	return ns_to_ticks(vm_clock_ns(pm->dev.vm)) + atomic_load(&pm->tmr_base);
}

static uint16_t sts_read(const struct acpi_pm *pm)
{
	uint64_t now = tmr_now(pm);

	if (now >> PM_TMR_MSB_SHIFT != pm->tmr_sts_since >> PM_TMR_MSB_SHIFT)
		return pm->sts | PM1_STS_TMR;
	return pm->sts;
}

static void sts_clear(struct acpi_pm *pm, uint16_t bits)
{
	if (bits & PM1_STS_TMR) {
		pm->sts &= ~PM1_STS_TMR;
		pm->tmr_sts_since = tmr_now(pm);
	}
	pm->sts &= ~bits;
}

/* Byte i of a little-endian register of width bytes, for partial accesses. */
static void reg_get(uint32_t reg, uint64_t offset, uint8_t *data, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		data[i] = offset + i < 4 ? (uint8_t)(reg >> (8 * (offset + i))) : 0xff;
}

/* Merges the bytes written into reg; returns the mask of the bits they covered. */
static uint32_t reg_put(uint32_t *reg, uint64_t offset, const uint8_t *data, unsigned len)
{
	uint32_t mask = 0;

	for (unsigned i = 0; i < len && offset + i < 4; i++) {
		unsigned shift = 8 * (unsigned)(offset + i);

		*reg = (*reg & ~(0xffu << shift)) | ((uint32_t)data[i] << shift);
		mask |= 0xffu << shift;
	}
	return mask;
}

static void evt_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	uint32_t reg, mask;

	pthread_mutex_lock(&pm->lock);
	reg = sts_read(pm) | (uint32_t)pm->en << 16;
	if (!is_write) {
		reg_get(reg, offset, data, len);
		goto out;
	}
	mask = reg_put(&reg, offset, data, len);
	/* PM1_STS is write-one-to-clear; a byte not written clears nothing. */
	if (mask & 0xffff)
		sts_clear(pm, (uint16_t)(reg & mask & PM1_STS_MASK));
	if (mask & 0xffff0000)
		pm->en = (uint16_t)(reg >> 16) & PM1_EN_MASK;
out:
	pthread_mutex_unlock(&pm->lock);
}

static void sleep_request(struct acpi_pm *pm, unsigned slp_typ)
{
	if (slp_typ == ACPI_S5_SLP_TYP) {
		log_ratelimited(LOG_INFO, "acpi-pm: guest entered S5 (soft off)");
		vm_request_stop(pm->dev.vm, VM_STOP_POWEROFF);
		return;
	}
	log_ratelimited(LOG_WARN, "acpi-pm: ignoring sleep type %u (only S5 is supported)",
			slp_typ);
}

static void cnt_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	uint32_t reg;

	pthread_mutex_lock(&pm->lock);
	/* SCI_EN reads as set: the FADT has no SMI command port, so ACPI mode is fixed. */
	reg = pm->cnt | PM1_CNT_SCI_EN;
	if (!is_write) {
		reg_get(reg, offset, data, len);
		goto out;
	}
	reg_put(&reg, offset, data, len);
	pm->cnt = (uint16_t)reg & PM1_CNT_STORED;
	if (reg & PM1_CNT_SLP_EN)
		sleep_request(pm, (reg & PM1_CNT_SLP_TYP) >> PM1_CNT_SLP_TYP_SHIFT);
out:
	pthread_mutex_unlock(&pm->lock);
}

static void tmr_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct acpi_pm *pm = opaque;

	if (is_write)
		return; /* read-only */
	/* No lock: the PM timer is a clocksource, read often by every vCPU. */
	reg_get((uint32_t)(tmr_now(pm) & PM_TMR_MASK), offset, data, len);
}

static void regs_reset(struct acpi_pm *pm)
{
	pm->sts = 0;
	pm->en = 0;
	pm->cnt = 0;
	pm->tmr_sts_since = tmr_now(pm);
}

static void acpi_pm_reset(struct device *dev)
{
	struct acpi_pm *pm = to_pm(dev);

	pthread_mutex_lock(&pm->lock);
	regs_reset(pm);
	pthread_mutex_unlock(&pm->lock);
}

static int acpi_pm_realize(struct device *dev, struct err *err)
{
	struct acpi_pm *pm = to_pm(dev);
	struct io_bus *pio = &dev->vm->pio;
	int rc;

	rc = io_bus_register(pio, ACPI_PM1A_EVT_PORT, PM1_EVT_LEN, evt_io, pm, "pm1a-evt", err);
	if (rc < 0)
		return rc;
	rc = io_bus_register(pio, ACPI_PM1A_CNT_PORT, PM1_CNT_LEN, cnt_io, pm, "pm1a-cnt", err);
	if (rc < 0)
		return rc;
	return io_bus_register(pio, ACPI_PM_TMR_PORT, PM_TMR_LEN, tmr_io, pm, "pm-tmr", err);
}

static int acpi_pm_save(struct device *dev, struct state_writer *w)
{
	struct acpi_pm *pm = to_pm(dev);

	pthread_mutex_lock(&pm->lock);
	state_section_begin(w, "acpi-pm", ACPI_PM_STATE_VERSION);
	state_put_u16(w, sts_read(pm));
	state_put_u16(w, pm->en);
	state_put_u16(w, pm->cnt);
	/* The timer's value, not the host clock: load rebases it so it runs on. */
	state_put_u32(w, (uint32_t)(tmr_now(pm) & PM_TMR_MASK));
	state_section_end(w);
	pthread_mutex_unlock(&pm->lock);
	return w->error;
}

static int acpi_pm_load(struct device *dev, struct state_reader *r, struct err *err)
{
	struct acpi_pm *pm = to_pm(dev);
	uint16_t sts, en, cnt;
	uint32_t version, tmr;
	uint64_t ticks;
	int rc;

	rc = state_section_open(r, "acpi-pm", ACPI_PM_STATE_VERSION, &version, err);
	if (rc < 0)
		return rc;
	sts = state_get_u16(r);
	en = state_get_u16(r);
	cnt = state_get_u16(r);
	tmr = state_get_u32(r);
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "acpi-pm");
	if ((sts & ~PM1_STS_MASK) || (en & ~PM1_EN_MASK) || (cnt & ~PM1_CNT_STORED) ||
	    tmr > PM_TMR_MASK)
		return err_set(err, -EINVAL, "acpi-pm: state has invalid register values");

	pthread_mutex_lock(&pm->lock);
	pm->sts = sts;
	pm->en = en;
	pm->cnt = cnt;
	ticks = ns_to_ticks(vm_clock_ns(pm->dev.vm));
	atomic_store(&pm->tmr_base, (tmr - ticks) & PM_TMR_MASK);
	pm->tmr_sts_since = ticks + atomic_load(&pm->tmr_base);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

static void acpi_pm_destroy(struct device *dev)
{
	struct acpi_pm *pm = to_pm(dev);

	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

static const struct device_ops acpi_pm_ops = {
	.type = "acpi-pm",
	.realize = acpi_pm_realize,
	.reset = acpi_pm_reset,
	.save = acpi_pm_save,
	.load = acpi_pm_load,
	.destroy = acpi_pm_destroy,
};

struct device *acpi_pm_create(struct vm *vm, struct err *err)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));

	if (!pm) {
		err_set(err, -ENOMEM, "acpi-pm: out of memory");
		return NULL;
	}
	pthread_mutex_init(&pm->lock, NULL);
	pm->dev.ops = &acpi_pm_ops;
	pm->dev.vm = vm;
	pm->dev.name = "acpi-pm";
	regs_reset(pm);
	vm_add_device(vm, &pm->dev);
	return &pm->dev;
}
