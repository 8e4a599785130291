/* irqchip/pit.c: the 8254 PIT (ports 0x40-0x43), port 0x61 and the thread that fires IRQ0. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "irqchip/internal.h"
#include "vm/vm.h"

#define PIT_HZ	      1193182ull
#define NSEC_PER_SEC  1000000000ull
#define PIT_COUNT_MAX 65536u

#define PIT_ACCESS_LATCH 0
#define PIT_ACCESS_LSB	 1
#define PIT_ACCESS_MSB	 2
#define PIT_ACCESS_WORD	 3

#define PORT61_GATE2	0x01
#define PORT61_WRITABLE 0x0f
#define PORT61_REFRESH	0x10
#define PORT61_OUT2	0x20

#define READBACK_NO_COUNT  0x20
#define READBACK_NO_STATUS 0x10

/*
 * IRQ0 is raised at most this often however small the guest's count: a
 * 1-tick rate generator would otherwise keep a host thread spinning at 1 MHz.
 * Missed edges are coalesced, as a CPU that cannot keep up would see.
 */
#define PIT_MIN_PERIOD_NS 100000ull

#define PIT_STATE_VERSION 1

static uint64_t ns_to_ticks(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * PIT_HZ / NSEC_PER_SEC);
}

/* The first ns offset at which ns_to_ticks() reaches ticks. */
static uint64_t ticks_to_ns_ceil(uint64_t ticks)
{
	unsigned __int128 ns = ((unsigned __int128)ticks * NSEC_PER_SEC + PIT_HZ - 1) / PIT_HZ;

	return ns > UINT64_MAX / 2 ? UINT64_MAX / 2 : (uint64_t)ns;
}

static uint64_t elapsed(const struct pit_channel *c, uint64_t now)
{
	if (!c->running)
		return c->run_ticks;
	return c->run_ticks + (now > c->base_ns ? ns_to_ticks(now - c->base_ns) : 0);
}

static bool periodic(const struct pit_channel *c)
{
	return c->mode == 2 || c->mode == 3;
}

static uint16_t count_at(const struct pit_channel *c, uint64_t now)
{
	uint64_t t = elapsed(c, now), n = c->reload, p;

	if (c->null_count)
		return (uint16_t)n;
	switch (c->mode) {
	case 2:
		return (uint16_t)(n - t % n);
	case 3:
		/* Counts down by two through each half of the period. */
		p = t % n;
		if (p >= (n + 1) / 2)
			p -= (n + 1) / 2;
		return (uint16_t)(n - 2 * p);
	default:
		/* Modes 0, 1, 4, 5 wrap through 0xffff after the terminal count. */
		return (uint16_t)(n - (t & 0xffff));
	}
}

static bool out_at(const struct pit_channel *c, uint64_t now)
{
	uint64_t t, n = c->reload;

	if (c->null_count)
		return c->mode != 0;
	if (periodic(c) && (!c->gate || n < 2))
		return true;
	t = elapsed(c, now);
	switch (c->mode) {
	case 0:
	case 1:
		return t >= n;
	case 2:
		return t % n != n - 1;
	case 3:
		return t % n < (n + 1) / 2;
	default:
		return t != n; /* a one-tick low strobe */
	}
}

static void wake(struct pit *p)
{
	uint64_t one = 1;

	if (write(p->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "pit: waking the timer thread: %s", strerror(errno));
}

static void count_load(struct pit *p, unsigned idx, uint32_t v, uint64_t now)
{
	struct pit_channel *c = &p->ch[idx];

	/* BCD counting is not emulated: the count is taken as binary. */
	c->reload = v ? v : PIT_COUNT_MAX;
	c->null_count = false;
	c->run_ticks = 0;
	c->base_ns = now;
	c->running = c->gate;
	c->edges_fired = 0;
	if (idx == 0)
		wake(p);
}

static void gate_set(struct pit_channel *c, bool gate, uint64_t now)
{
	if (gate == c->gate)
		return;
	c->gate = gate;
	if (c->null_count)
		return;
	if (!gate) {
		/* Modes 0, 2, 3, 4 stop counting while the gate is low. */
		if (c->mode != 1 && c->mode != 5) {
			c->run_ticks = elapsed(c, now);
			c->running = false;
		}
		return;
	}
	if (c->mode == 0 || c->mode == 4) {
		c->base_ns = now;
		c->running = true;
		return;
	}
	/* A rising gate (re)triggers modes 1 and 5 and reloads modes 2 and 3. */
	c->run_ticks = 0;
	c->base_ns = now;
	c->running = true;
	c->edges_fired = 0;
}

static uint8_t status_of(const struct pit_channel *c, uint64_t now)
{
	return (uint8_t)((out_at(c, now) << 7) | (c->null_count << 6) | (c->access << 4) |
			 (c->mode << 1) | c->bcd);
}

static void latch_count(struct pit_channel *c, uint64_t now)
{
	if (c->latch_bytes)
		return; /* the first latch holds until read */
	c->latch_value = count_at(c, now);
	c->latch_bytes = c->access == PIT_ACCESS_WORD ? 2 : 1;
}

static void control_write(struct pit *p, uint8_t val, uint64_t now)
{
	unsigned sel = val >> 6, access = (val >> 4) & 3, mode = (val >> 1) & 7;
	struct pit_channel *c;

	if (sel == 3) {
		/* Read-back: bits 1-3 pick channels 0-2. */
		for (unsigned i = 0; i < 3; i++) {
			c = &p->ch[i];
			if (!(val & (2u << i)))
				continue;
			if (!(val & READBACK_NO_COUNT))
				latch_count(c, now);
			if (!(val & READBACK_NO_STATUS) && !c->status_latched) {
				c->status = status_of(c, now);
				c->status_latched = true;
			}
		}
		return;
	}
	c = &p->ch[sel];
	if (access == PIT_ACCESS_LATCH) {
		latch_count(c, now);
		return;
	}
	c->access = (uint8_t)access;
	c->mode = (uint8_t)(mode > 5 ? mode - 4 : mode); /* 6 and 7 alias 2 and 3 */
	c->bcd = val & 1;
	c->null_count = true;
	c->running = false;
	c->run_ticks = 0;
	c->write_msb_next = false;
	c->read_msb_next = false;
	if (sel == 0)
		wake(p);
}

static void data_write(struct pit *p, unsigned idx, uint8_t val, uint64_t now)
{
	struct pit_channel *c = &p->ch[idx];

	switch (c->access) {
	case PIT_ACCESS_LSB:
		count_load(p, idx, val, now);
		break;
	case PIT_ACCESS_MSB:
		count_load(p, idx, (uint32_t)val << 8, now);
		break;
	default:
		if (!c->write_msb_next) {
			c->write_lsb = val;
			c->write_msb_next = true;
			/* Mode 0 stops (OUT low) as soon as the first byte arrives. */
			if (c->mode == 0) {
				c->null_count = true;
				c->running = false;
				if (idx == 0)
					wake(p);
			}
			break;
		}
		c->write_msb_next = false;
		count_load(p, idx, c->write_lsb | (uint32_t)val << 8, now);
		break;
	}
}

static uint8_t data_read(struct pit_channel *c, uint64_t now)
{
	uint16_t v;
	bool msb;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	if (c->latch_bytes) {
		v = c->latch_value;
		msb = c->access == PIT_ACCESS_MSB ||
		      (c->access == PIT_ACCESS_WORD && c->latch_bytes == 1);
		c->latch_bytes--;
		return msb ? (uint8_t)(v >> 8) : (uint8_t)v;
	}
	/* Unlatched reads see the live counter, byte by byte. */
	v = count_at(c, now);
	msb = c->access == PIT_ACCESS_MSB;
	if (c->access == PIT_ACCESS_WORD) {
		msb = c->read_msb_next;
		c->read_msb_next = !c->read_msb_next;
	}
	return msb ? (uint8_t)(v >> 8) : (uint8_t)v;
}

void pit_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct irqchip *chip = opaque;
	struct pit *p = &chip->pit;
	uint64_t now;

	if (len != 1) {
		log_ratelimited(LOG_WARN, "pit: ignoring %u-byte access to port 0x%llx", len,
				(unsigned long long)(0x40 + offset));
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	now = chip_now(chip);
	pthread_mutex_lock(&p->lock);
	if (offset == 3) {
		if (is_write)
			control_write(p, data[0], now);
		else
			data[0] = 0xff; /* the control word register is write-only */
	} else if (offset < 3) {
		if (is_write)
			data_write(p, (unsigned)offset, data[0], now);
		else
			data[0] = data_read(&p->ch[offset], now);
	}
	pthread_mutex_unlock(&p->lock);
}

void pit_port61_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct irqchip *chip = opaque;
	struct pit *p = &chip->pit;
	uint64_t now = chip_now(chip);
	uint8_t v;

	if (offset != 0 || len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&p->lock);
	if (is_write) {
		p->port61 = data[0] & PORT61_WRITABLE;
		gate_set(&p->ch[2], data[0] & PORT61_GATE2, now);
	} else {
		/* The refresh bit toggles on every read: delay loops only need it to move. */
		p->refresh = !p->refresh;
		v = p->port61 | (p->refresh ? PORT61_REFRESH : 0);
		if (out_at(&p->ch[2], now))
			v |= PORT61_OUT2;
		data[0] = v;
	}
	pthread_mutex_unlock(&p->lock);
}

/*
 * Whether channel 0's output rose since the last IRQ0 (then it is raised
 * once, however many edges passed), and when the next rising edge is due.
 */
static bool ch0_due(struct pit_channel *c, uint64_t now, uint64_t *next)
{
	uint64_t t, edge, due;
	bool raise = false;

	*next = UINT64_MAX;
	if (c->null_count || !c->running)
		return false;
	t = elapsed(c, now);
	if (periodic(c)) {
		due = t / c->reload;
		if (due > c->edges_fired) {
			c->edges_fired = due;
			raise = true;
		}
		edge = (c->edges_fired + 1) * c->reload;
	} else {
		/* Modes 0 and 1 rise at terminal count, 4 and 5 end their strobe a tick later. */
		edge = c->reload + (c->mode >= 4);
		if (c->edges_fired)
			return false;
		if (t >= edge) {
			c->edges_fired = 1;
			return true;
		}
	}
	*next = c->base_ns + ticks_to_ns_ceil(edge - c->run_ticks);
	return raise;
}

/*
 * Sleeps until deadline (the VM's clock) or a wakeup. The VM's clock only
 * maps to host time while it runs: paused, the thread waits for the wakeup
 * pit_resume() sends.
 */
static void wait_until(struct irqchip *chip, uint64_t deadline)
{
	struct pit *p = &chip->pit;
	struct pollfd pfd = {.fd = p->wake_fd, .events = POLLIN};
	uint64_t host = vm_clock_host_ns(chip->vm, deadline), now = clock_monotonic_ns(), junk;
	struct timespec ts, *tsp = NULL;

	if (host != UINT64_MAX) {
		uint64_t d = host > now ? host - now : 0;

		ts.tv_sec = (time_t)(d / NSEC_PER_SEC);
		ts.tv_nsec = (long)(d % NSEC_PER_SEC);
		tsp = &ts;
	}
	if (ppoll(&pfd, 1, tsp, NULL) > 0 && (pfd.revents & POLLIN)) {
		if (read(p->wake_fd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
			log_ratelimited(LOG_WARN, "pit: timer wakeup: %s", strerror(errno));
	}
}

static void *timer_thread(void *arg)
{
	struct irqchip *chip = arg;
	struct pit *p = &chip->pit;
	uint64_t now, next = UINT64_MAX;
	bool raise = false;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		if (!p->paused) {
			now = chip_now(chip);
			raise = ch0_due(&p->ch[0], now, &next);
			if (raise && next != UINT64_MAX && next < now + PIT_MIN_PERIOD_NS)
				next = now + PIT_MIN_PERIOD_NS;
		} else {
			raise = false;
			next = UINT64_MAX;
		}
		pthread_mutex_unlock(&p->lock);
		if (raise) {
			/* IRQ0 is an edge on both the PIC and IOAPIC pin 0. */
			irqchip_set_irq(chip, 0, 1);
			irqchip_set_irq(chip, 0, 0);
		}
		wait_until(chip, next);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void pit_pause(struct irqchip *chip)
{
	struct pit *p = &chip->pit;

	pthread_mutex_lock(&p->lock);
	p->paused = true;
	pthread_mutex_unlock(&p->lock);
	wake(p);
}

void pit_resume(struct irqchip *chip)
{
	struct pit *p = &chip->pit;

	pthread_mutex_lock(&p->lock);
	p->paused = false;
	pthread_mutex_unlock(&p->lock);
	wake(p);
}

int pit_init(struct irqchip *chip, struct err *err)
{
	struct pit *p = &chip->pit;

	memset(p, 0, sizeof(*p));
	p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->wake_fd < 0)
		return err_set(err, -errno, "pit: eventfd: %s", strerror(errno));
	pthread_mutex_init(&p->lock, NULL);
	/* No count loaded: channels stay quiet until the guest programs them. */
	for (unsigned i = 0; i < 3; i++) {
		p->ch[i].reload = PIT_COUNT_MAX;
		p->ch[i].access = PIT_ACCESS_WORD;
		p->ch[i].mode = 3;
		p->ch[i].null_count = true;
		p->ch[i].gate = i != 2; /* channels 0 and 1 have their gate tied high */
	}
	return 0;
}

int pit_start(struct irqchip *chip, struct err *err)
{
	struct pit *p = &chip->pit;
	int rc = pthread_create(&p->thread, NULL, timer_thread, chip);

	if (rc)
		return err_set(err, -rc, "pit: starting the timer thread: %s", strerror(rc));
	p->thread_started = true;
	return 0;
}

void pit_destroy(struct irqchip *chip)
{
	struct pit *p = &chip->pit;

	if (p->thread_started) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_mutex_unlock(&p->lock);
		wake(p);
		pthread_join(p->thread, NULL);
		p->thread_started = false;
	}
	if (p->wake_fd >= 0) {
		close(p->wake_fd);
		pthread_mutex_destroy(&p->lock);
	}
	p->wake_fd = -1;
}

void pit_save(struct irqchip *chip, struct state_writer *w)
{
	struct pit *p = &chip->pit;
	uint64_t now = chip_now(chip);

	pthread_mutex_lock(&p->lock);
	state_section_begin(w, "irqchip-pit", PIT_STATE_VERSION);
	for (unsigned i = 0; i < 3; i++) {
		const struct pit_channel *c = &p->ch[i];

		state_put_u32(w, c->reload);
		state_put_u8(w, c->mode);
		state_put_u8(w, c->access);
		state_put_u8(w, c->bcd);
		state_put_u8(w, c->gate);
		state_put_u8(w, c->null_count);
		state_put_u8(w, c->write_msb_next);
		state_put_u8(w, c->write_lsb);
		state_put_u8(w, c->read_msb_next);
		state_put_u8(w, c->latch_bytes);
		state_put_u16(w, c->latch_value);
		state_put_u8(w, c->status_latched);
		state_put_u8(w, c->status);
		state_put_u8(w, c->running);
		/* Time as ticks counted so far: load continues from there. */
		state_put_u64(w, elapsed(c, now));
		state_put_u64(w, c->edges_fired);
	}
	state_put_u8(w, p->port61);
	state_put_u8(w, p->refresh);
	state_section_end(w);
	pthread_mutex_unlock(&p->lock);
}

static int channel_read(struct state_reader *r, unsigned i, struct pit_channel *c, struct err *err)
{
	uint8_t b[8];

	c->reload = state_get_u32(r);
	c->mode = state_get_u8(r);
	c->access = state_get_u8(r);
	b[0] = state_get_u8(r); /* bcd */
	b[1] = state_get_u8(r); /* gate */
	b[2] = state_get_u8(r); /* null_count */
	b[3] = state_get_u8(r); /* write_msb_next */
	c->write_lsb = state_get_u8(r);
	b[4] = state_get_u8(r); /* read_msb_next */
	c->latch_bytes = state_get_u8(r);
	c->latch_value = state_get_u16(r);
	b[5] = state_get_u8(r); /* status_latched */
	c->status = state_get_u8(r);
	b[6] = state_get_u8(r); /* running */
	c->run_ticks = state_get_u64(r);
	c->edges_fired = state_get_u64(r);
	if (r->error)
		return 0; /* reported by state_section_close */
	for (unsigned k = 0; k < 7; k++)
		if (b[k] > 1)
			return err_set(err, -EINVAL, "pit: channel %u: flag %u is %u", i, k, b[k]);
	if (c->reload < 1 || c->reload > PIT_COUNT_MAX || c->mode > 5 || c->access < 1 ||
	    c->access > 3 || c->latch_bytes > (c->access == PIT_ACCESS_WORD ? 2 : 1) ||
	    (b[2] && b[6]))
		return err_set(err, -EINVAL, "pit: channel %u: invalid mode or count state", i);
	/* Ticks for ~245 years; anything larger is not a clock but an attack on the math. */
	if (c->run_ticks > (1ull << 53) || c->edges_fired > c->run_ticks / c->reload + 1)
		return err_set(err, -EINVAL, "pit: channel %u: time state is out of range", i);
	c->bcd = b[0];
	c->gate = b[1];
	c->null_count = b[2];
	c->write_msb_next = b[3];
	c->read_msb_next = b[4];
	c->status_latched = b[5];
	c->running = b[6];
	return 0;
}

int pit_load(struct irqchip *chip, struct state_reader *r, struct err *err)
{
	struct pit *p = &chip->pit;
	struct pit_channel ch[3];
	uint8_t port61, refresh;
	uint32_t version;
	uint64_t now;
	int rc;

	rc = state_section_open(r, "irqchip-pit", PIT_STATE_VERSION, &version, err);
	if (rc < 0)
		return rc;
	memset(ch, 0, sizeof(ch));
	for (unsigned i = 0; i < 3; i++) {
		rc = channel_read(r, i, &ch[i], err);
		if (rc < 0)
			return rc;
	}
	port61 = state_get_u8(r);
	refresh = state_get_u8(r);
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "pit");
	if ((port61 & ~PORT61_WRITABLE) || refresh > 1 || ch[2].gate != !!(port61 & PORT61_GATE2) ||
	    !ch[0].gate || !ch[1].gate)
		return err_set(err, -EINVAL, "pit: port 0x61 or gate state is invalid");
	now = chip_now(chip);
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < 3; i++) {
		p->ch[i] = ch[i];
		p->ch[i].base_ns = now;
	}
	p->port61 = port61;
	p->refresh = refresh;
	wake(p);
	pthread_mutex_unlock(&p->lock);
	return 0;
}
