/* devices/rtc.c: MC146818 CMOS real-time clock and RAM, running on the host's time. */
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

#define RTC_PORT 0x70 /* index (bit 7 masks NMI), then data at 0x71 */
#define CMOS_SIZE 128
#define CMOS_INDEX_MASK 0x7f

/* Clock registers. */
#define RTC_SEC 0x00
#define RTC_MIN 0x02
#define RTC_HOUR 0x04
#define RTC_WDAY 0x06
#define RTC_MDAY 0x07
#define RTC_MON 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32

#define REG_A_UIP 0x80
#define REG_A_POWER_ON 0x26 /* 32.768 kHz divider, 1024 Hz rate */
#define REG_B_SET 0x80
#define REG_B_PIE 0x40
#define REG_B_AIE 0x20
#define REG_B_UIE 0x10
#define REG_B_SQWE 0x08
#define REG_B_BINARY 0x04
#define REG_B_24H 0x02
#define REG_B_POWER_ON REG_B_24H
#define REG_D_VRT 0x80
#define HOUR_PM 0x80

/* CMOS bytes firmware leaves for the memory size. */
#define CMOS_BASE_MEM_LO 0x15
#define CMOS_EXT_MEM_LO 0x17
#define CMOS_EXT_MEM2_LO 0x30
#define CMOS_MEM_ABOVE_16M_LO 0x34
#define CMOS_MEM_ABOVE_4G 0x5b /* three bytes */
#define BASE_MEM_KIB 640

/* The chip raises UIP this long before each update (each second boundary). */
#define RTC_UIP_NS 244000
#define NSEC_PER_SEC 1000000000
/* Years 0000-9999 are what the century and year registers can say. */
#define RTC_OFFSET_MAX_SEC (10000ll * 366 * 86400)

#define RTC_STATE_VERSION 1

struct rtc {
	struct device dev;
	pthread_mutex_t lock;
	uint8_t index;
	/* Time registers hold a frozen copy while SET is on (rtc_freeze). */
	uint8_t cmos[CMOS_SIZE];
	/* The guest's clock is the host's CLOCK_REALTIME plus this offset. */
	int64_t offset_sec;
	uint32_t offset_nsec;
};

static struct rtc *to_rtc(struct device *dev)
{
	return container_of(dev, struct rtc, dev);
}

static void guest_now(const struct rtc *r, int64_t *sec, uint32_t *nsec)
{
	struct timespec ts;
	uint64_t ns;

	clock_gettime(CLOCK_REALTIME, &ts);
	*sec = (int64_t)ts.tv_sec + r->offset_sec;
	ns = (uint64_t)ts.tv_nsec + r->offset_nsec;
	if (ns >= NSEC_PER_SEC) {
		ns -= NSEC_PER_SEC;
		(*sec)++;
	}
	*nsec = (uint32_t)ns;
}

/* Makes the guest's clock read sec + nsec from now on. */
static void guest_set(struct rtc *r, int64_t sec, uint32_t nsec)
{
	struct timespec ts;
	int64_t ns;

	clock_gettime(CLOCK_REALTIME, &ts);
	r->offset_sec = sec - (int64_t)ts.tv_sec;
	ns = (int64_t)nsec - ts.tv_nsec;
	if (ns < 0) {
		ns += NSEC_PER_SEC;
		r->offset_sec--;
	}
	r->offset_nsec = (uint32_t)ns;
}

static bool is_binary(const struct rtc *r)
{
	return r->cmos[RTC_REG_B] & REG_B_BINARY;
}

static uint8_t to_reg(const struct rtc *r, unsigned v)
{
	return is_binary(r) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | (v % 10));
}

/* Returns -1 for a byte that is not a valid number in the current mode. */
static int from_reg(const struct rtc *r, uint8_t v)
{
	if (is_binary(r))
		return v;
	if ((v >> 4) > 9 || (v & 0xf) > 9)
		return -1;
	return (v >> 4) * 10 + (v & 0xf);
}

static uint8_t hour_to_reg(const struct rtc *r, unsigned hour)
{
	unsigned h12 = hour % 12 ? hour % 12 : 12;

	if (r->cmos[RTC_REG_B] & REG_B_24H)
		return to_reg(r, hour);
	return to_reg(r, h12) | (hour >= 12 ? HOUR_PM : 0);
}

static int hour_from_reg(const struct rtc *r, uint8_t v)
{
	int h;

	if (r->cmos[RTC_REG_B] & REG_B_24H)
		return from_reg(r, v);
	h = from_reg(r, v & ~HOUR_PM);
	if (h < 1 || h > 12)
		return -1;
	return h % 12 + (v & HOUR_PM ? 12 : 0);
}

static bool is_time_reg(unsigned idx)
{
	return (idx <= RTC_YEAR && idx != 1 && idx != 3 && idx != 5) || idx == RTC_CENTURY;
}

/* Writes the guest's current time into the time registers in the current format. */
static void rtc_freeze(struct rtc *r)
{
	struct tm tm;
	int64_t sec;
	uint32_t nsec;
	time_t t;
	long year;

	guest_now(r, &sec, &nsec);
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm))
		return;
	year = (long)tm.tm_year + 1900;
	r->cmos[RTC_SEC] = to_reg(r, (unsigned)tm.tm_sec % 60);
	r->cmos[RTC_MIN] = to_reg(r, (unsigned)tm.tm_min);
	r->cmos[RTC_HOUR] = hour_to_reg(r, (unsigned)tm.tm_hour);
	r->cmos[RTC_WDAY] = to_reg(r, (unsigned)tm.tm_wday + 1);
	r->cmos[RTC_MDAY] = to_reg(r, (unsigned)tm.tm_mday);
	r->cmos[RTC_MON] = to_reg(r, (unsigned)tm.tm_mon + 1);
	r->cmos[RTC_YEAR] = to_reg(r, (unsigned)(year % 100));
	r->cmos[RTC_CENTURY] = to_reg(r, (unsigned)(year / 100 % 100));
}

/*
 * Makes the time registers the guest's clock, with nsec into the current
 * second. A guest writing nonsense keeps its old clock.
 */
static void rtc_commit(struct rtc *r, uint32_t nsec)
{
	struct tm tm = { 0 };
	int sec = from_reg(r, r->cmos[RTC_SEC]), min = from_reg(r, r->cmos[RTC_MIN]);
	int hour = hour_from_reg(r, r->cmos[RTC_HOUR]), mday = from_reg(r, r->cmos[RTC_MDAY]);
	int mon = from_reg(r, r->cmos[RTC_MON]), year = from_reg(r, r->cmos[RTC_YEAR]);
	int century = from_reg(r, r->cmos[RTC_CENTURY]);
	time_t t;

	if (sec < 0 || sec > 59 || min < 0 || min > 59 || hour < 0 || hour > 23 || mday < 1 ||
	    mday > 31 || mon < 1 || mon > 12 || year < 0 || year > 99 || century < 0 ||
	    century > 99) {
		log_ratelimited(LOG_WARN, "rtc: guest set an invalid time; clock unchanged");
		return;
	}
	tm.tm_sec = sec;
	tm.tm_min = min;
	tm.tm_hour = hour;
	tm.tm_mday = mday;
	tm.tm_mon = mon - 1;
	tm.tm_year = century * 100 + year - 1900;
	/* Day of week is derived from the date, whatever the guest wrote. */
	t = timegm(&tm);
	guest_set(r, (int64_t)t, nsec);
}

static uint8_t time_read(struct rtc *r, unsigned idx)
{
	if (!(r->cmos[RTC_REG_B] & REG_B_SET))
		rtc_freeze(r);
	return r->cmos[idx];
}

static void time_write(struct rtc *r, unsigned idx, uint8_t val)
{
	int64_t sec;
	uint32_t nsec;

	if (r->cmos[RTC_REG_B] & REG_B_SET) {
		r->cmos[idx] = val;
		return;
	}
	/* A write while the clock runs changes that field, keeping the rest running. */
	guest_now(r, &sec, &nsec);
	rtc_freeze(r);
	r->cmos[idx] = val;
	rtc_commit(r, nsec);
}

static uint8_t reg_a_read(struct rtc *r)
{
	int64_t sec;
	uint32_t nsec;
	uint8_t val = r->cmos[RTC_REG_A] & ~REG_A_UIP;

	/* Honest UIP: a guest polling for it to clear sees it clear within 244 us. */
	guest_now(r, &sec, &nsec);
	if (!(r->cmos[RTC_REG_B] & REG_B_SET) && nsec >= NSEC_PER_SEC - RTC_UIP_NS)
		val |= REG_A_UIP;
	return val;
}

static void reg_b_write(struct rtc *r, uint8_t val)
{
	uint8_t old = r->cmos[RTC_REG_B];

	/* Setting SET ends update-ended interrupts, as on the chip. */
	if (val & REG_B_SET)
		val &= ~REG_B_UIE;
	r->cmos[RTC_REG_B] = val;
	if ((val & REG_B_SET) && !(old & REG_B_SET))
		rtc_freeze(r);
	else if (!(val & REG_B_SET) && (old & REG_B_SET))
		/* The clock restarts at the beginning of the second written. */
		rtc_commit(r, 0);
}

static uint8_t data_read(struct rtc *r)
{
	unsigned idx = r->index;
	uint8_t val;

	if (is_time_reg(idx))
		return time_read(r, idx);
	switch (idx) {
	case RTC_REG_A:
		return reg_a_read(r);
	case RTC_REG_C:
		/* Interrupt flags, cleared by reading. */
		val = r->cmos[RTC_REG_C];
		r->cmos[RTC_REG_C] = 0;
		return val;
	case RTC_REG_D:
		return REG_D_VRT;
	default:
		return r->cmos[idx];
	}
}

static void data_write(struct rtc *r, uint8_t val)
{
	unsigned idx = r->index;

	if (is_time_reg(idx)) {
		time_write(r, idx, val);
		return;
	}
	switch (idx) {
	case RTC_REG_A:
		r->cmos[RTC_REG_A] = val & ~REG_A_UIP;
		break;
	case RTC_REG_B:
		reg_b_write(r, val);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		r->cmos[idx] = val;
		break;
	}
}

static void rtc_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct rtc *r = opaque;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < len; i++) {
		bool is_index = offset + i == 0;

		if (offset + i > 1)
			data[i] = is_write ? data[i] : 0xff;
		else if (is_write && is_index)
			r->index = data[i] & CMOS_INDEX_MASK;
		else if (is_write)
			data_write(r, data[i]);
		else
			/* The index port is write-only. */
			data[i] = is_index ? 0xff : data_read(r);
	}
	pthread_mutex_unlock(&r->lock);
}

static void put_u16(uint8_t *p, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* The memory-size bytes firmware leaves in CMOS, from the guest's RAM layout. */
static void cmos_set_memory(struct rtc *r, const struct guest_memory *mem)
{
	uint64_t low = 0, high = 0, above4g;

	for (unsigned i = 0; i < mem->nr_regions; i++) {
		if (mem->regions[i].gpa >= MEM_4G)
			high += mem->regions[i].size;
		else
			low += mem->regions[i].size;
	}
	put_u16(&r->cmos[CMOS_BASE_MEM_LO], BASE_MEM_KIB);
	put_u16(&r->cmos[CMOS_EXT_MEM_LO], low > MiB(1) ? (low - MiB(1)) / KiB(1) : 0);
	put_u16(&r->cmos[CMOS_EXT_MEM2_LO], low > MiB(1) ? (low - MiB(1)) / KiB(1) : 0);
	put_u16(&r->cmos[CMOS_MEM_ABOVE_16M_LO], low > MiB(16) ? (low - MiB(16)) / KiB(64) : 0);
	above4g = high / KiB(64);
	if (above4g > 0xffffff)
		above4g = 0xffffff;
	r->cmos[CMOS_MEM_ABOVE_4G] = (uint8_t)above4g;
	r->cmos[CMOS_MEM_ABOVE_4G + 1] = (uint8_t)(above4g >> 8);
	r->cmos[CMOS_MEM_ABOVE_4G + 2] = (uint8_t)(above4g >> 16);
}

/* A reset leaves the time and the RAM alone; it stops interrupts, as the RESET pin does. */
static void rtc_reset(struct device *dev)
{
	struct rtc *r = to_rtc(dev);

	pthread_mutex_lock(&r->lock);
	r->cmos[RTC_REG_B] &= ~(REG_B_PIE | REG_B_AIE | REG_B_UIE | REG_B_SQWE);
	r->cmos[RTC_REG_C] = 0;
	pthread_mutex_unlock(&r->lock);
}

static int rtc_realize(struct device *dev, struct err *err)
{
	return io_bus_register(&dev->vm->pio, RTC_PORT, 2, rtc_io, to_rtc(dev), "rtc", err);
}

static int rtc_save(struct device *dev, struct state_writer *w)
{
	struct rtc *r = to_rtc(dev);

	pthread_mutex_lock(&r->lock);
	state_section_begin(w, "rtc", RTC_STATE_VERSION);
	state_put_u8(w, r->index);
	state_put_u64(w, (uint64_t)r->offset_sec);
	state_put_u32(w, r->offset_nsec);
	state_put_bytes(w, r->cmos, sizeof(r->cmos));
	state_section_end(w);
	pthread_mutex_unlock(&r->lock);
	return w->error;
}

static int rtc_load(struct device *dev, struct state_reader *rd, struct err *err)
{
	struct rtc *r = to_rtc(dev);
	uint8_t cmos[CMOS_SIZE], index;
	uint32_t version, offset_nsec;
	int64_t offset_sec;
	int rc;

	rc = state_section_open(rd, "rtc", RTC_STATE_VERSION, &version, err);
	if (rc < 0)
		return rc;
	index = state_get_u8(rd);
	offset_sec = (int64_t)state_get_u64(rd);
	offset_nsec = state_get_u32(rd);
	state_get_bytes(rd, cmos, sizeof(cmos));
	rc = state_section_close(rd, err);
	if (rc < 0)
		return err_wrap(err, "rtc");
	if (index > CMOS_INDEX_MASK || offset_nsec >= NSEC_PER_SEC ||
	    offset_sec > RTC_OFFSET_MAX_SEC || offset_sec < -RTC_OFFSET_MAX_SEC)
		return err_set(err, -EINVAL, "rtc: state has an invalid index or clock offset");

	pthread_mutex_lock(&r->lock);
	r->index = index;
	r->offset_sec = offset_sec;
	r->offset_nsec = offset_nsec;
	memcpy(r->cmos, cmos, sizeof(cmos));
	r->cmos[RTC_REG_A] &= ~REG_A_UIP;
	r->cmos[RTC_REG_D] = REG_D_VRT;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void rtc_destroy(struct device *dev)
{
	struct rtc *r = to_rtc(dev);

	pthread_mutex_destroy(&r->lock);
	free(r);
}

static const struct device_ops rtc_ops = {
	.type = "mc146818",
	.realize = rtc_realize,
	.reset = rtc_reset,
	.save = rtc_save,
	.load = rtc_load,
	.destroy = rtc_destroy,
};

struct device *rtc_create(struct vm *vm, struct err *err)
{
	struct rtc *r = calloc(1, sizeof(*r));

	if (!r) {
		err_set(err, -ENOMEM, "rtc: out of memory");
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->dev.ops = &rtc_ops;
	r->dev.vm = vm;
	r->dev.name = "rtc";
	r->cmos[RTC_REG_A] = REG_A_POWER_ON;
	r->cmos[RTC_REG_B] = REG_B_POWER_ON;
	r->cmos[RTC_REG_D] = REG_D_VRT;
	cmos_set_memory(r, &vm->mem);
	vm_add_device(vm, &r->dev);
	return &r->dev;
}
