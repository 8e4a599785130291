/* tests/unit/test_devices.c: the legacy PC devices driven through the port bus. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "base/util.h"
#include "devices/devices.h"
#include "vm/vm.h"

#define COM1_IIR (COM1_PORT + 2)
#define COM1_LCR (COM1_PORT + 3)
#define COM1_MCR (COM1_PORT + 4)
#define COM1_LSR (COM1_PORT + 5)
#define COM1_MSR (COM1_PORT + 6)
#define COM1_SCR (COM1_PORT + 7)

/* A VM with no engine behind it: interrupt lines are only recorded. */
struct fixture {
	struct vm vm;
	int level[24];
	unsigned raises[24]; /* 0->1 transitions, what an edge-triggered IOAPIC delivers */
	unsigned calls;
	int pipe[2];
};

static void fake_irq_set(struct vm *vm, unsigned gsi, int level)
{
	struct fixture *f = container_of(vm, struct fixture, vm);

	assert_true(gsi < 24);
	f->calls++;
	if (level && !f->level[gsi])
		f->raises[gsi]++;
	f->level[gsi] = level;
}

static void fake_kick(struct vcpu *vcpu)
{
	(void)vcpu;
}

static const struct engine_ops fake_engine = {
	.name = "fake",
	.vcpu_kick = fake_kick,
	.irq_set = fake_irq_set,
};

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	io_bus_init(&f->vm.pio, "pio");
	io_bus_init(&f->vm.mmio, "mmio");
	f->vm.engine = &fake_engine;
	f->vm.stop_eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(f->vm.stop_eventfd >= 0);
	atomic_store(&f->vm.stop_reason, VM_STOP_NONE);
	atomic_store(&f->vm.debug_exit_status, -1);
	f->pipe[0] = f->pipe[1] = -1;
	return f;
}

static void fixture_free(struct fixture *f)
{
	struct device *dev, *next;

	for (dev = f->vm.devices; dev; dev = next) {
		next = dev->next;
		dev->ops->destroy(dev);
	}
	close(f->vm.stop_eventfd);
	if (f->pipe[0] >= 0) {
		close(f->pipe[0]);
		close(f->pipe[1]);
	}
	free(f);
}

static int setup(void **state)
{
	*state = fixture_new();
	return 0;
}

static int teardown(void **state)
{
	fixture_free(*state);
	return 0;
}

static struct device *realized(struct fixture *f, struct device *dev)
{
	struct err err = { 0 };

	(void)f;
	assert_non_null(dev);
	assert_int_equal(dev->ops->realize(dev, &err), 0);
	return dev;
}

static struct device *uart_new(struct fixture *f)
{
	struct err err = { 0 };

	assert_int_equal(pipe2(f->pipe, O_NONBLOCK | O_CLOEXEC), 0);
	return realized(f, uart_create(&f->vm, COM1_PORT, COM1_IRQ, f->pipe[1], &err));
}

static void outb(struct fixture *f, uint16_t port, uint8_t val)
{
	assert_true(io_bus_dispatch(&f->vm.pio, port, &val, 1, true));
}

static uint8_t inb(struct fixture *f, uint16_t port)
{
	uint8_t val = 0;

	assert_true(io_bus_dispatch(&f->vm.pio, port, &val, 1, false));
	return val;
}

static void outw(struct fixture *f, uint16_t port, uint16_t val)
{
	uint8_t b[2] = { (uint8_t)val, (uint8_t)(val >> 8) };

	assert_true(io_bus_dispatch(&f->vm.pio, port, b, 2, true));
}

static uint16_t inw(struct fixture *f, uint16_t port)
{
	uint8_t b[2];

	assert_true(io_bus_dispatch(&f->vm.pio, port, b, 2, false));
	return (uint16_t)(b[0] | b[1] << 8);
}

static void outl(struct fixture *f, uint16_t port, uint32_t val)
{
	uint8_t b[4] = { (uint8_t)val, (uint8_t)(val >> 8), (uint8_t)(val >> 16),
			 (uint8_t)(val >> 24) };

	assert_true(io_bus_dispatch(&f->vm.pio, port, b, 4, true));
}

static uint32_t inl(struct fixture *f, uint16_t port)
{
	uint8_t b[4];

	assert_true(io_bus_dispatch(&f->vm.pio, port, b, 4, false));
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static enum vm_stop_reason stop_reason(struct fixture *f)
{
	return atomic_load(&f->vm.stop_reason);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Hammers a region with every size at every offset around it; must not crash. */
static void poke_everything(struct fixture *f, uint16_t base, unsigned span)
{
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	uint32_t seed = 12345;

	for (unsigned round = 0; round < 4; round++) {
		for (unsigned off = 0; off < span + 8; off++) {
			for (unsigned s = 0; s < ARRAY_SIZE(sizes); s++) {
				uint8_t data[8];

				for (unsigned i = 0; i < 8; i++) {
					seed = seed * 1103515245u + 12345u;
					data[i] = (uint8_t)(seed >> 16);
				}
				io_bus_dispatch(&f->vm.pio, base + off - 4, data, sizes[s],
						round & 1);
			}
		}
	}
}

/* --- UART --- */

static void test_uart_transmit(void **state)
{
	struct fixture *f = *state;
	char buf[16] = { 0 };

	uart_new(f);
	assert_int_equal(inb(f, COM1_LSR), 0x60); /* THRE | TEMT, no data */
	outb(f, COM1_PORT, 'h');
	outb(f, COM1_PORT, 'i');
	outb(f, COM1_PORT, '\n');
	assert_int_equal(inb(f, COM1_LSR) & 0x60, 0x60);
	assert_int_equal(read(f->pipe[0], buf, sizeof(buf)), 3);
	assert_string_equal(buf, "hi\n");
}

static void test_uart_divisor_and_scratch(void **state)
{
	struct fixture *f = *state;

	uart_new(f);
	outb(f, COM1_PORT + 1, 0x05); /* IER */
	outb(f, COM1_LCR, 0x83);      /* DLAB, 8N1 */
	outb(f, COM1_PORT, 0x01);
	outb(f, COM1_PORT + 1, 0x02);
	assert_int_equal(inb(f, COM1_PORT), 0x01);
	assert_int_equal(inb(f, COM1_PORT + 1), 0x02);
	outb(f, COM1_LCR, 0x03);
	assert_int_equal(inb(f, COM1_LCR), 0x03);
	assert_int_equal(inb(f, COM1_PORT + 1), 0x05); /* IER untouched by DLM */
	/* The divisor latch bytes did not reach the console. */
	assert_int_equal(read(f->pipe[0], (char[4]){ 0 }, 4), -1);
	outb(f, COM1_LCR, 0x80);
	assert_int_equal(inb(f, COM1_PORT), 0x01);
	outb(f, COM1_LCR, 0x03);
	outb(f, COM1_SCR, 0xa5);
	assert_int_equal(inb(f, COM1_SCR), 0xa5);
	outb(f, COM1_SCR, 0x5a);
	assert_int_equal(inb(f, COM1_SCR), 0x5a);
}

static void test_uart_thre_interrupt(void **state)
{
	struct fixture *f = *state;

	uart_new(f);
	/* OUT2 clear: the interrupt exists but never reaches the PIC. */
	outb(f, COM1_PORT + 1, 0x02);
	assert_int_equal(inb(f, COM1_IIR), 0x02);
	assert_int_equal(f->raises[COM1_IRQ], 0);
	assert_int_equal(inb(f, COM1_IIR), 0x01); /* the read acknowledged it */

	/* OUT2 set: re-enabling ETBEI with THR empty raises it again. */
	outb(f, COM1_PORT + 1, 0x00);
	outb(f, COM1_MCR, 0x08);
	assert_int_equal(f->raises[COM1_IRQ], 0);
	outb(f, COM1_PORT + 1, 0x02);
	assert_int_equal(f->raises[COM1_IRQ], 1);
	assert_int_equal(f->level[COM1_IRQ], 1);
	assert_int_equal(inb(f, COM1_IIR), 0x02);
	assert_int_equal(f->level[COM1_IRQ], 0);
	assert_int_equal(inb(f, COM1_IIR), 0x01);

	/* A transmit empties THR again: THRE is raised after it. */
	outb(f, COM1_PORT, 'x');
	assert_int_equal(f->raises[COM1_IRQ], 2);
	assert_int_equal(inb(f, COM1_IIR), 0x02);

	/* Pending while OUT2 is clear, delivered once OUT2 is set. */
	outb(f, COM1_MCR, 0x00);
	assert_int_equal(f->level[COM1_IRQ], 0);
	outb(f, COM1_PORT, 'y');
	assert_int_equal(f->raises[COM1_IRQ], 2);
	outb(f, COM1_MCR, 0x08);
	assert_int_equal(f->raises[COM1_IRQ], 3);

	/* Disabling ETBEI drops the line without acknowledging. */
	outb(f, COM1_PORT + 1, 0x00);
	assert_int_equal(f->level[COM1_IRQ], 0);
	assert_int_equal(inb(f, COM1_IIR), 0x01);
}

static void test_uart_iir_priorities(void **state)
{
	struct fixture *f = *state;
	struct device *dev = uart_new(f);
	uint8_t bytes[20];

	memset(bytes, 'a', sizeof(bytes));
	outb(f, COM1_MCR, 0x08);
	outb(f, COM1_PORT + 1, 0x0f);
	assert_int_equal(inb(f, COM1_IIR), 0x02); /* THRE only */

	/*
	 * Overrun (line status) beats data, which beats THRE. Host input is
	 * flow-controlled, so the overrun comes from the guest's own loopback.
	 */
	outb(f, COM1_PORT + 1, 0x00);
	outb(f, COM1_MCR, 0x18); /* LOOP OUT2 */
	outb(f, COM1_PORT + 1, 0x07); /* not modem status: loopback just changed it */
	for (unsigned i = 0; i < 17; i++)
		outb(f, COM1_PORT, 'a');
	assert_int_equal(uart_receive(dev, bytes, sizeof(bytes)), sizeof(bytes));
	assert_int_equal(inb(f, COM1_IIR), 0x06);
	assert_int_equal(inb(f, COM1_LSR), 0x63); /* THRE TEMT OE DR */
	assert_int_equal(inb(f, COM1_IIR), 0x04);
	assert_int_equal(f->level[COM1_IRQ], 1);
	for (unsigned i = 0; i < 16; i++)
		inb(f, COM1_PORT);
	assert_int_equal(inb(f, COM1_IIR), 0x02);
	assert_int_equal(inb(f, COM1_IIR), 0x01);
	assert_int_equal(f->level[COM1_IRQ], 0);
	outb(f, COM1_MCR, 0x08); /* back from loopback */
	inb(f, COM1_MSR);	 /* acknowledge the line changes */
	outb(f, COM1_PORT + 1, 0x0f);

	/* FIFOs on: IIR says so; below the trigger level data reports as a timeout. */
	outb(f, COM1_IIR, 0x47); /* enable, clear both, trigger 4 */
	assert_int_equal(inb(f, COM1_IIR), 0xc1);
	assert_int_equal(uart_receive(dev, bytes, 2), 2);
	assert_int_equal(inb(f, COM1_IIR), 0xcc);
	assert_int_equal(uart_receive(dev, bytes, 2), 2);
	assert_int_equal(inb(f, COM1_IIR), 0xc4);
	outb(f, COM1_IIR, 0x03); /* clear RX */
	assert_int_equal(inb(f, COM1_LSR) & 0x01, 0);
	assert_int_equal(inb(f, COM1_IIR), 0xc1);

	/* Modem status last: loopback changes the lines and sets delta bits. */
	outb(f, COM1_MCR, 0x19); /* LOOP OUT2 DTR: CTS drops */
	assert_int_equal(inb(f, COM1_IIR), 0xc0);
	assert_int_equal(f->level[COM1_IRQ], 1);
	assert_int_equal(inb(f, COM1_MSR), 0xa1); /* DCD DSR, delta CTS */
	assert_int_equal(inb(f, COM1_IIR), 0xc1);
	assert_int_equal(f->level[COM1_IRQ], 0);
	assert_int_equal(inb(f, COM1_MSR), 0xa0);
}

static void test_uart_receive(void **state)
{
	struct fixture *f = *state;
	struct device *dev = uart_new(f);
	uint8_t bytes[20];

	for (unsigned i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)('A' + i);
	outb(f, COM1_MCR, 0x08);
	outb(f, COM1_PORT + 1, 0x01);
	assert_int_equal(f->raises[COM1_IRQ], 0);
	assert_int_equal(uart_receive(dev, bytes, 3), 3);
	assert_int_equal(inb(f, COM1_LSR) & 0x01, 0x01);
	assert_int_equal(f->raises[COM1_IRQ], 1);
	assert_int_equal(inb(f, COM1_PORT), 'A');
	assert_int_equal(inb(f, COM1_PORT), 'B');
	assert_int_equal(f->level[COM1_IRQ], 1);
	assert_int_equal(inb(f, COM1_PORT), 'C');
	assert_int_equal(inb(f, COM1_LSR), 0x60);
	assert_int_equal(f->level[COM1_IRQ], 0);

	/*
	 * A full FIFO: 16 fit and the rest is refused for kite to offer again
	 * later (host flow control), so no overrun is flagged.
	 */
	assert_int_equal(uart_receive(dev, bytes, sizeof(bytes)), 16);
	assert_int_equal(uart_receive(dev, bytes, 1), 0);
	assert_int_equal(inb(f, COM1_LSR), 0x61);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(inb(f, COM1_PORT), 'A' + i);
	assert_int_equal(inb(f, COM1_LSR) & 0x01, 0);
}

static void test_uart_loopback(void **state)
{
	struct fixture *f = *state;
	struct device *dev = uart_new(f);

	outb(f, COM1_MCR, 0x1a); /* LOOP OUT2 RTS: the probe Linux runs */
	assert_int_equal(inb(f, COM1_MSR) & 0xf0, 0x90);
	outb(f, COM1_MCR, 0x15); /* LOOP OUT1 DTR */
	assert_int_equal(inb(f, COM1_MSR) & 0xf0, 0x60);
	outb(f, COM1_PORT, 'x');
	assert_int_equal(read(f->pipe[0], (char[4]){ 0 }, 4), -1);
	assert_int_equal(inb(f, COM1_LSR) & 0x01, 0x01);
	assert_int_equal(inb(f, COM1_PORT), 'x');
	/* Host input is cut off in loopback. */
	assert_int_equal(uart_receive(dev, (const uint8_t *)"zz", 2), 2);
	assert_int_equal(inb(f, COM1_LSR) & 0x01, 0);
	outb(f, COM1_MCR, 0x00);
	assert_int_equal(inb(f, COM1_MSR) & 0xf0, 0xb0);
}

static void uart_program(struct fixture *f, struct device *dev)
{
	outb(f, COM1_LCR, 0x80);
	outb(f, COM1_PORT, 0x0c);
	outb(f, COM1_PORT + 1, 0x00);
	outb(f, COM1_LCR, 0x1b);
	outb(f, COM1_IIR, 0x81); /* FIFO, trigger 8 */
	outb(f, COM1_MCR, 0x0b);
	outb(f, COM1_PORT + 1, 0x07);
	outb(f, COM1_SCR, 0x42);
	assert_int_equal(uart_receive(dev, (const uint8_t *)"snapshot", 8), 8);
}

/* Reads every register (the same side effects on both) into out[]. */
static void uart_dump(struct fixture *f, uint8_t *out)
{
	unsigned n = 0;
	uint8_t lcr = inb(f, COM1_LCR);

	out[n++] = lcr;
	out[n++] = inb(f, COM1_MCR);
	out[n++] = inb(f, COM1_PORT + 1);
	out[n++] = inb(f, COM1_SCR);
	out[n++] = inb(f, COM1_IIR);
	out[n++] = inb(f, COM1_LSR);
	out[n++] = inb(f, COM1_MSR);
	outb(f, COM1_LCR, lcr | 0x80);
	out[n++] = inb(f, COM1_PORT);
	out[n++] = inb(f, COM1_PORT + 1);
	outb(f, COM1_LCR, lcr);
	for (unsigned i = 0; i < 9; i++)
		out[n++] = inb(f, COM1_PORT);
	out[n++] = inb(f, COM1_IIR);
	out[n++] = inb(f, COM1_LSR);
}

static void uart_saved(struct fixture *f, struct state_writer *w)
{
	struct device *dev = uart_new(f);

	uart_program(f, dev);
	state_writer_init(w);
	assert_int_equal(dev->ops->save(dev, w), 0);
}

static void test_uart_save_load(void **state)
{
	struct fixture *f = *state, *g = fixture_new();
	struct state_writer w;
	struct state_reader r;
	struct err err = { 0 };
	struct device *copy;
	uint8_t a[32] = { 0 }, b[32] = { 0 };

	uart_saved(f, &w);
	copy = uart_new(g);
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(copy->ops->load(copy, &r, &err), 0);
	/* The restored line is driven at once: data is pending and OUT2 is set. */
	assert_int_equal(g->level[COM1_IRQ], 1);
	uart_dump(f, a);
	uart_dump(g, b);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(a[5] & 0x01, 0x01);
	assert_memory_equal(&a[9], "snapshot", 8);
	state_writer_free(&w);
	fixture_free(g);
}

static void test_uart_load_hostile(void **state)
{
	struct fixture *f = *state, *g = fixture_new();
	struct device *copy = uart_new(g);
	struct state_writer w;
	struct state_reader r;
	struct err err;
	uint8_t *bad;
	const size_t fields = 40; /* name, version and length come first */

	uart_saved(f, &w);
	bad = malloc(w.len);
	assert_non_null(bad);

	/* Truncated: the header claims more than there is. */
	memset(&err, 0, sizeof(err));
	state_reader_init(&r, w.buf, w.len - 1);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	assert_true(err.msg[0] != '\0');

	/* A FIFO count larger than the FIFO. */
	memcpy(bad, w.buf, w.len);
	bad[fields + 10] = 17;
	memset(&err, 0, sizeof(err));
	state_reader_init(&r, bad, w.len);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	assert_non_null(strstr(err.msg, "FIFO"));

	/* Reserved IER bits. */
	memcpy(bad, w.buf, w.len);
	bad[fields + 2] = 0xff;
	state_reader_init(&r, bad, w.len);
	assert_true(copy->ops->load(copy, &r, &err) < 0);

	/* Another device's section. */
	memcpy(bad, w.buf, w.len);
	bad[0] = 'x';
	state_reader_init(&r, bad, w.len);
	assert_true(copy->ops->load(copy, &r, &err) < 0);

	/* A failed load changed nothing. */
	assert_int_equal(inb(g, COM1_LSR), 0x60);
	assert_int_equal(inb(g, COM1_SCR), 0x00);
	free(bad);
	state_writer_free(&w);
	fixture_free(g);
}

static void test_uart_odd_accesses(void **state)
{
	struct fixture *f = *state;
	struct device *dev = uart_new(f);
	uint8_t wide[8];

	/* A word write reaches THR then IER, as two ISA cycles would. */
	outw(f, COM1_PORT, 0x0041);
	assert_int_equal(read(f->pipe[0], wide, sizeof(wide)), 1);
	assert_int_equal(wide[0], 'A');
	assert_int_equal(inw(f, COM1_LCR) & 0xff, 0x00);
	assert_true(io_bus_dispatch(&f->vm.pio, COM1_PORT, wide, 8, false));
	/* Straddling the end is the bus's to refuse. */
	assert_false(io_bus_dispatch(&f->vm.pio, COM1_SCR, wide, 2, false));
	poke_everything(f, COM1_PORT, 8);
	/* Still a UART afterwards. */
	dev->ops->reset(dev);
	outb(f, COM1_SCR, 0x77);
	assert_int_equal(inb(f, COM1_SCR), 0x77);
}

struct reader {
	struct fixture *f;
	unsigned got;
	bool in_order;
	_Atomic bool stop;
};

/* A vCPU draining the FIFO as fast as it can. */
static void *uart_reader(void *arg)
{
	struct reader *rd = arg;

	rd->in_order = true;
	while (rd->got < 10000 && !atomic_load(&rd->stop)) {
		uint8_t lsr = 0, byte = 0;

		io_bus_dispatch(&rd->f->vm.pio, COM1_LSR, &lsr, 1, false);
		if (!(lsr & 0x01)) {
			sched_yield();
			continue;
		}
		io_bus_dispatch(&rd->f->vm.pio, COM1_PORT, &byte, 1, false);
		if (byte != (uint8_t)rd->got)
			rd->in_order = false;
		rd->got++;
	}
	return NULL;
}

static void test_uart_concurrent_receive(void **state)
{
	struct fixture *f = *state;
	struct device *dev = uart_new(f);
	struct reader rd = { .f = f };
	pthread_t thread;
	unsigned sent = 0;
	uint64_t start = clock_monotonic_ns();
	size_t n;

	assert_int_equal(pthread_create(&thread, NULL, uart_reader, &rd), 0);
	while (sent < 10000 && clock_monotonic_ns() - start < 10000000000ull) {
		uint8_t buf[7];

		for (unsigned i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(sent + i);
		n = uart_receive(dev, buf, sent + 7 <= 10000 ? 7 : 10000 - sent);
		if (!n)
			sched_yield();
		sent += (unsigned)n;
	}
	atomic_store(&rd.stop, sent < 10000);
	pthread_join(thread, NULL);
	assert_int_equal(sent, 10000);
	assert_int_equal(rd.got, 10000);
	assert_true(rd.in_order);
}

/* --- i8042 --- */

#define KBD_DATA 0x60
#define KBD_STATUS 0x64

static void test_i8042_self_test(void **state)
{
	struct fixture *f = *state;

	realized(f, i8042_create(&f->vm, NULL));
	assert_int_equal(inb(f, KBD_STATUS) & 0x07, 0x00); /* no OBF, IBF, SYS */
	outb(f, KBD_STATUS, 0xaa);
	assert_int_equal(inb(f, KBD_STATUS) & 0x07, 0x05); /* OBF, SYS */
	assert_int_equal(inb(f, KBD_DATA), 0x55);
	assert_int_equal(inb(f, KBD_STATUS) & 0x03, 0x00);
	outb(f, KBD_STATUS, 0xab);
	assert_int_equal(inb(f, KBD_DATA), 0x00);
	outb(f, KBD_STATUS, 0xa9);
	assert_int_equal(inb(f, KBD_DATA), 0x00);
}

static void test_i8042_command_byte(void **state)
{
	struct fixture *f = *state;

	realized(f, i8042_create(&f->vm, NULL));
	outb(f, KBD_STATUS, 0x60);
	outb(f, KBD_DATA, 0x74); /* interrupts off, both ports disabled */
	outb(f, KBD_STATUS, 0x20);
	assert_int_equal(inb(f, KBD_DATA), 0x74);
	assert_int_equal(f->calls, 0);
	outb(f, KBD_STATUS, 0xae);
	outb(f, KBD_STATUS, 0xa8);
	outb(f, KBD_STATUS, 0x20);
	assert_int_equal(inb(f, KBD_DATA), 0x44);
	outb(f, KBD_STATUS, 0xad);
	outb(f, KBD_STATUS, 0xa7);
	outb(f, KBD_STATUS, 0x20);
	assert_int_equal(inb(f, KBD_DATA), 0x74);

	/* With the keyboard interrupt on, each reply byte raises IRQ 1. */
	outb(f, KBD_STATUS, 0x60);
	outb(f, KBD_DATA, 0x47);
	outb(f, KBD_DATA, 0xff); /* keyboard reset */
	assert_int_equal(f->raises[1], 1);
	assert_int_equal(inb(f, KBD_DATA), 0xfa);
	assert_int_equal(f->raises[1], 2);
	assert_int_equal(inb(f, KBD_DATA), 0xaa);
	assert_int_equal(f->level[1], 0);
	assert_int_equal(inb(f, KBD_STATUS) & 0x01, 0);

	/* The AUX loopback answers on the AUX side, with IRQ 12. */
	outb(f, KBD_STATUS, 0xd3);
	outb(f, KBD_DATA, 0x5a);
	assert_int_equal(inb(f, KBD_STATUS) & 0x21, 0x21);
	assert_int_equal(f->raises[12], 1);
	assert_int_equal(inb(f, KBD_DATA), 0x5a);
	assert_int_equal(f->level[12], 0);
	/* No mouse: a byte sent to it is refused. */
	outb(f, KBD_STATUS, 0xd4);
	outb(f, KBD_DATA, 0xf2);
	assert_int_equal(inb(f, KBD_STATUS) & 0x21, 0x21);
	assert_int_equal(inb(f, KBD_DATA), 0xfe);
	assert_int_equal(stop_reason(f), VM_STOP_NONE);
}

static void test_i8042_reset(void **state)
{
	struct fixture *f = *state, *g = fixture_new();
	uint64_t n = 0;

	realized(f, i8042_create(&f->vm, NULL));
	outb(f, KBD_STATUS, 0xff); /* pulses nothing */
	assert_int_equal(stop_reason(f), VM_STOP_NONE);
	outb(f, KBD_STATUS, 0xfe);
	assert_int_equal(stop_reason(f), VM_STOP_RESET);
	assert_int_equal(read(f->vm.stop_eventfd, &n, sizeof(n)), sizeof(n));
	assert_int_equal(n, 1);

	/* Clearing the reset bit of the output port does the same. */
	realized(g, i8042_create(&g->vm, NULL));
	outb(g, KBD_STATUS, 0xd0);
	assert_int_equal(inb(g, KBD_DATA) & 0x01, 0x01);
	outb(g, KBD_STATUS, 0xd1);
	outb(g, KBD_DATA, 0x03);
	assert_int_equal(stop_reason(g), VM_STOP_NONE);
	outb(g, KBD_STATUS, 0xd1);
	outb(g, KBD_DATA, 0x02);
	assert_int_equal(stop_reason(g), VM_STOP_RESET);
	fixture_free(g);
}

static void test_i8042_save_load(void **state)
{
	struct fixture *f = *state, *g = fixture_new();
	struct device *dev = realized(f, i8042_create(&f->vm, NULL));
	struct device *copy = realized(g, i8042_create(&g->vm, NULL));
	struct state_writer w;
	struct state_reader r;
	struct err err = { 0 };

	outb(f, KBD_STATUS, 0x60);
	outb(f, KBD_DATA, 0x46);
	outb(f, KBD_DATA, 0xf2); /* ID: ack, 0xab, 0x41 */
	state_writer_init(&w);
	assert_int_equal(dev->ops->save(dev, &w), 0);
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(copy->ops->load(copy, &r, &err), 0);
	assert_int_equal(inb(g, KBD_DATA), 0xfa);
	assert_int_equal(inb(g, KBD_DATA), 0xab);
	assert_int_equal(inb(g, KBD_DATA), 0x41);
	outb(g, KBD_STATUS, 0x20);
	assert_int_equal(inb(g, KBD_DATA), 0x46);

	w.buf[40 + 8] = 200; /* queue count */
	state_reader_init(&r, w.buf, w.len);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	state_reader_init(&r, w.buf, 20);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	state_writer_free(&w);
	fixture_free(g);
}

static void test_i8042_odd_accesses(void **state)
{
	struct fixture *f = *state;

	realized(f, i8042_create(&f->vm, NULL));
	/* Each port is one byte wide; wider accesses are not the device's. */
	assert_false(io_bus_dispatch(&f->vm.pio, KBD_DATA, (uint8_t[4]){ 0 }, 4, false));
	/* Flood the queue: bounded, never a crash. */
	for (unsigned i = 0; i < 100; i++)
		outb(f, KBD_STATUS, 0x20);
	for (unsigned i = 0; i < 100; i++)
		inb(f, KBD_DATA);
	assert_int_equal(inb(f, KBD_STATUS) & 0x01, 0);
	for (unsigned cmd = 0; cmd < 0xf0; cmd++) {
		if (cmd == 0xd1)
			continue; /* its data byte could reset */
		outb(f, KBD_STATUS, (uint8_t)cmd);
		outb(f, KBD_DATA, 0xff);
	}
	assert_int_equal(stop_reason(f), VM_STOP_NONE);
}

/* --- port 0x92 --- */

static void test_port92_reset(void **state)
{
	struct fixture *f = *state, *g = fixture_new();
	uint64_t n = 0;

	realized(f, port92_create(&f->vm, NULL));
	assert_int_equal(inb(f, PORT92_PORT), 0x02); /* A20 on, reset bit clear */
	/* A20 and the reset bit read back; the other bits are not kept. */
	outb(f, PORT92_PORT, 0xfc);
	assert_int_equal(inb(f, PORT92_PORT), 0x00);
	outb(f, PORT92_PORT, 0x02);
	assert_int_equal(inb(f, PORT92_PORT), 0x02);
	assert_int_equal(stop_reason(f), VM_STOP_NONE);
	/* Bit 0 going from 0 to 1 resets, as the i8042's pulse does. */
	outb(f, PORT92_PORT, 0x03);
	assert_int_equal(stop_reason(f), VM_STOP_RESET);
	assert_int_equal(read(f->vm.stop_eventfd, &n, sizeof(n)), sizeof(n));
	assert_int_equal(n, 1);
	assert_int_equal(inb(f, PORT92_PORT), 0x03);
	/* Writing it 1 again is no new pulse: no second stop request. */
	outb(f, PORT92_PORT, 0x01);
	assert_int_equal(read(f->vm.stop_eventfd, &n, sizeof(n)), -1);

	/* Only a one-byte access is the device's. */
	realized(g, port92_create(&g->vm, NULL));
	assert_false(io_bus_dispatch(&g->vm.pio, PORT92_PORT, (uint8_t[2]){ 1, 1 }, 2, true));
	assert_int_equal(stop_reason(g), VM_STOP_NONE);
	fixture_free(g);
}

static void test_port92_save_load(void **state)
{
	struct fixture *f = *state, *g = fixture_new();
	struct device *dev = realized(f, port92_create(&f->vm, NULL));
	struct device *copy = realized(g, port92_create(&g->vm, NULL));
	struct state_writer w;
	struct state_reader r;
	struct err err = { 0 };

	outb(f, PORT92_PORT, 0x00);
	state_writer_init(&w);
	assert_int_equal(dev->ops->save(dev, &w), 0);
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(copy->ops->load(copy, &r, &err), 0);
	assert_int_equal(inb(g, PORT92_PORT), 0x00);
	copy->ops->reset(copy);
	assert_int_equal(inb(g, PORT92_PORT), 0x02);

	w.buf[40] = 0x04; /* a bit the register does not have */
	state_reader_init(&r, w.buf, w.len);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	assert_int_equal(inb(g, PORT92_PORT), 0x02);
	state_reader_init(&r, w.buf, 20);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	state_writer_free(&w);
	assert_int_equal(stop_reason(g), VM_STOP_NONE);
	fixture_free(g);
}

/* --- RTC --- */

static uint8_t cmos_read(struct fixture *f, uint8_t idx)
{
	outb(f, 0x70, idx);
	return inb(f, 0x71);
}

static void cmos_write(struct fixture *f, uint8_t idx, uint8_t val)
{
	outb(f, 0x70, idx);
	outb(f, 0x71, val);
}

static unsigned from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0xf);
}

/* Reads the clock as Linux does: after UIP, in the mode reg B says. */
static time_t rtc_read_time(struct fixture *f)
{
	uint8_t b = cmos_read(f, 0x0b);
	unsigned (*conv)(uint8_t) = (b & 0x04) ? NULL : from_bcd;
	uint8_t raw[7];
	struct tm tm = { 0 };
	uint64_t start = clock_monotonic_ns();
	unsigned v[7], hour;
	bool pm;

	while (cmos_read(f, 0x0a) & 0x80)
		assert_true(clock_monotonic_ns() - start < 1000000000ull);
	raw[0] = cmos_read(f, 0x00);
	raw[1] = cmos_read(f, 0x02);
	raw[2] = cmos_read(f, 0x04);
	raw[3] = cmos_read(f, 0x07);
	raw[4] = cmos_read(f, 0x08);
	raw[5] = cmos_read(f, 0x09);
	raw[6] = cmos_read(f, 0x32);
	pm = raw[2] & 0x80;
	raw[2] &= 0x7f; /* the PM flag, handled below */
	for (unsigned i = 0; i < 7; i++)
		v[i] = conv ? conv(raw[i]) : raw[i];
	hour = v[2];
	if (!(b & 0x02))
		hour = hour % 12 + (pm ? 12 : 0);
	tm.tm_sec = (int)v[0];
	tm.tm_min = (int)v[1];
	tm.tm_hour = (int)hour;
	tm.tm_mday = (int)v[3];
	tm.tm_mon = (int)v[4] - 1;
	tm.tm_year = (int)(v[6] * 100 + v[5]) - 1900;
	return timegm(&tm);
}

static struct device *rtc_new(struct fixture *f)
{
	return realized(f, rtc_create(&f->vm, NULL));
}

static void test_rtc_host_time(void **state)
{
	struct fixture *f = *state;
	time_t t;

	rtc_new(f);
	assert_int_equal(cmos_read(f, 0x0b), 0x02); /* 24 h, BCD */
	t = rtc_read_time(f);
	assert_true(llabs((long long)(t - time(NULL))) <= 2);
	/* The BCD year really is BCD: 20 for the century. */
	assert_int_equal(cmos_read(f, 0x32), 0x20);

	cmos_write(f, 0x0b, 0x06); /* binary */
	t = rtc_read_time(f);
	assert_true(llabs((long long)(t - time(NULL))) <= 2);
	assert_int_equal(cmos_read(f, 0x32), 20);

	cmos_write(f, 0x0b, 0x00); /* 12 h, BCD */
	t = rtc_read_time(f);
	assert_true(llabs((long long)(t - time(NULL))) <= 2);
	assert_int_equal(cmos_read(f, 0x0d), 0x80);
	assert_int_equal(cmos_read(f, 0x0c), 0x00);
}

static void test_rtc_set_time(void **state)
{
	struct fixture *f = *state;
	struct tm want = { .tm_year = 101, .tm_mon = 1, .tm_mday = 3, .tm_hour = 4,
			   .tm_min = 5, .tm_sec = 6 };
	time_t t, expect = timegm(&want);

	rtc_new(f);
	cmos_write(f, 0x0b, 0x82); /* SET, 24 h, BCD */
	cmos_write(f, 0x00, 0x06);
	cmos_write(f, 0x02, 0x05);
	cmos_write(f, 0x04, 0x04);
	cmos_write(f, 0x07, 0x03);
	cmos_write(f, 0x08, 0x02);
	cmos_write(f, 0x09, 0x01);
	cmos_write(f, 0x32, 0x20);
	/* Frozen while SET is on. */
	assert_int_equal(cmos_read(f, 0x00), 0x06);
	assert_int_equal(cmos_read(f, 0x0a) & 0x80, 0);
	cmos_write(f, 0x0b, 0x02);
	t = rtc_read_time(f);
	assert_true(t >= expect && t <= expect + 1);
	assert_int_equal(cmos_read(f, 0x06), 0x07); /* 3 Feb 2001 was a Saturday */
	sleep_ms(1100);
	t = rtc_read_time(f);
	assert_true(t >= expect + 1 && t <= expect + 3);

	/* 12-hour mode: 12 AM is midnight, PM adds 12. */
	cmos_write(f, 0x0b, 0x80);
	cmos_write(f, 0x04, 0x12);
	cmos_write(f, 0x0b, 0x00);
	assert_int_equal(cmos_read(f, 0x04), 0x12);
	cmos_write(f, 0x0b, 0x02);
	assert_int_equal(cmos_read(f, 0x04), 0x00);
	cmos_write(f, 0x0b, 0x80);
	cmos_write(f, 0x04, 0x83);
	cmos_write(f, 0x0b, 0x00);
	cmos_write(f, 0x0b, 0x02);
	assert_int_equal(cmos_read(f, 0x04), 0x15);

	/* Nonsense leaves the clock alone. */
	cmos_write(f, 0x0b, 0x82);
	cmos_write(f, 0x08, 0x13);
	cmos_write(f, 0x0b, 0x02);
	t = rtc_read_time(f);
	assert_true(t >= expect && t <= expect + 86400);
}

static void test_rtc_uip(void **state)
{
	struct fixture *f = *state;
	uint64_t start = clock_monotonic_ns();
	uint8_t before = 0;
	bool seen = false;

	rtc_new(f);
	/*
	 * Every second UIP rises for 244 us, then the second changes. A loaded
	 * host can deschedule this loop across one such window: it gets four.
	 */
	while (!seen && clock_monotonic_ns() - start < 4500000000ull) {
		before = cmos_read(f, 0x00);
		seen = cmos_read(f, 0x0a) & 0x80;
	}
	assert_true(seen);
	while (cmos_read(f, 0x0a) & 0x80)
		assert_true(clock_monotonic_ns() - start < 5000000000ull);
	assert_int_not_equal(cmos_read(f, 0x00), before);
	assert_int_equal(cmos_read(f, 0x0a) & 0x7f, 0x26);
}

static void test_rtc_cmos_ram(void **state)
{
	struct fixture *f = *state;
	struct device *dev, *copy;
	struct fixture *g = fixture_new();
	struct state_writer w;
	struct state_reader r;
	struct err err = { 0 };

	dev = rtc_new(f);
	for (unsigned i = 0x0e; i < 0x80; i++)
		if (i != 0x32)
			cmos_write(f, (uint8_t)i, (uint8_t)(i * 7));
	for (unsigned i = 0x0e; i < 0x80; i++)
		if (i != 0x32)
			assert_int_equal(cmos_read(f, (uint8_t)i), (uint8_t)(i * 7));
	/* Bit 7 of the index is the NMI mask, not part of the index. */
	outb(f, 0x70, 0x8d);
	assert_int_equal(inb(f, 0x71), 0x80);
	outb(f, 0x70, 0xc0);
	assert_int_equal(inb(f, 0x71), (uint8_t)(0x40 * 7));

	/* Save and load: the same RAM and the same clock. */
	cmos_write(f, 0x0b, 0x82);
	cmos_write(f, 0x09, 0x42);
	cmos_write(f, 0x0b, 0x02);
	state_writer_init(&w);
	assert_int_equal(dev->ops->save(dev, &w), 0);
	copy = rtc_new(g);
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(copy->ops->load(copy, &r, &err), 0);
	assert_int_equal(cmos_read(g, 0x50), (uint8_t)(0x50 * 7));
	assert_int_equal(cmos_read(g, 0x09), 0x42);
	assert_true(llabs((long long)(rtc_read_time(f) - rtc_read_time(g))) <= 1);

	w.buf[40] = 0x80; /* index out of range */
	state_reader_init(&r, w.buf, w.len);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	w.buf[40] = 0;
	w.buf[41 + 7] = 0x7f; /* offset of about 2^62 seconds */
	state_reader_init(&r, w.buf, w.len);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	state_reader_init(&r, w.buf, 45);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	state_writer_free(&w);
	fixture_free(g);
	poke_everything(f, 0x70, 2);
}

static void set_memory(struct fixture *f, uint64_t size)
{
	uint64_t low = size < MEM_HOLE_START ? size : MEM_HOLE_START;

	f->vm.mem.ram_size = size;
	f->vm.mem.regions[0] = (struct mem_region){ .gpa = 0, .size = low };
	f->vm.mem.nr_regions = 1;
	if (size > low) {
		f->vm.mem.regions[1] = (struct mem_region){ .gpa = MEM_4G, .size = size - low };
		f->vm.mem.nr_regions = 2;
	}
}

static void test_rtc_memory_size(void **state)
{
	struct fixture *f = *state, *g = fixture_new();

	set_memory(f, MiB(256));
	rtc_new(f);
	assert_int_equal(cmos_read(f, 0x15) | cmos_read(f, 0x16) << 8, 640);
	assert_int_equal(cmos_read(f, 0x30) | cmos_read(f, 0x31) << 8, 0xffff); /* capped */
	assert_int_equal(cmos_read(f, 0x34) | cmos_read(f, 0x35) << 8, 240 * 16);
	assert_int_equal(cmos_read(f, 0x5b) | cmos_read(f, 0x5c) << 8 | cmos_read(f, 0x5d) << 16,
			 0);

	set_memory(g, GiB(6));
	rtc_new(g);
	assert_int_equal(cmos_read(g, 0x34) | cmos_read(g, 0x35) << 8, (3072 - 16) * 16);
	assert_int_equal(cmos_read(g, 0x5b) | cmos_read(g, 0x5c) << 8 | cmos_read(g, 0x5d) << 16,
			 3 * 1024 * 16);
	fixture_free(g);
}

/* --- ACPI PM --- */

#define PM1_STS ACPI_PM1A_EVT_PORT
#define PM1_EN (ACPI_PM1A_EVT_PORT + 2)
#define PM1_CNT ACPI_PM1A_CNT_PORT
#define PM_TMR ACPI_PM_TMR_PORT
#define SLP_EN 0x2000

static struct device *pm_new(struct fixture *f)
{
	return realized(f, acpi_pm_create(&f->vm, NULL));
}

static void test_acpi_sleep(void **state)
{
	struct fixture *f = *state;
	uint64_t n = 0;

	pm_new(f);
	assert_int_equal(inw(f, PM1_CNT) & 1, 1); /* SCI_EN */
	outw(f, PM1_CNT, 3 << 10 | SLP_EN);	  /* S3: not supported */
	assert_int_equal(stop_reason(f), VM_STOP_NONE);
	outw(f, PM1_CNT, ACPI_S5_SLP_TYP << 10); /* the type alone does nothing */
	assert_int_equal(stop_reason(f), VM_STOP_NONE);
	assert_int_equal(inw(f, PM1_CNT), ACPI_S5_SLP_TYP << 10 | 1);
	outw(f, PM1_CNT, ACPI_S5_SLP_TYP << 10 | SLP_EN);
	assert_int_equal(stop_reason(f), VM_STOP_POWEROFF);
	assert_int_equal(read(f->vm.stop_eventfd, &n, sizeof(n)), sizeof(n));
	assert_int_equal(inw(f, PM1_CNT) & SLP_EN, 0); /* write-only */
}

static void test_acpi_sleep_bytewise(void **state)
{
	struct fixture *f = *state;

	pm_new(f);
	/* The high byte alone carries SLP_TYP and SLP_EN. */
	outb(f, PM1_CNT + 1, (ACPI_S5_SLP_TYP << 2) | 0x20);
	assert_int_equal(stop_reason(f), VM_STOP_POWEROFF);
}

static void test_acpi_timer(void **state)
{
	struct fixture *f = *state;
	uint64_t t0, t1;
	uint32_t a, b;
	double expect, got;

	pm_new(f);
	t0 = clock_monotonic_ns();
	a = inl(f, PM_TMR);
	sleep_ms(10);
	b = inl(f, PM_TMR);
	t1 = clock_monotonic_ns();
	assert_int_equal(a >> 24, 0);
	assert_int_equal(b >> 24, 0);
	got = (double)((b - a) & 0xffffff);
	expect = (double)(t1 - t0) * 3579545.0 / 1e9;
	assert_true(got > expect * 0.8 && got < expect * 1.2);
	assert_true(got > 35795 * 0.8);
	/* Narrow reads see the same counter. */
	assert_int_equal(inb(f, PM_TMR + 3), 0);
	assert_true(((inw(f, PM_TMR) - (uint16_t)b) & 0xffff) < 0x8000);
	outw(f, PM_TMR, 0); /* read-only */
}

static void test_acpi_timer_wrap_and_status(void **state)
{
	struct fixture *f = *state, *g = fixture_new();
	struct device *dev = pm_new(f), *copy = pm_new(g);
	struct state_writer w;
	struct state_reader r;
	struct err err = { 0 };
	uint32_t v;
	uint8_t *p;

	state_writer_init(&w);
	assert_int_equal(dev->ops->save(dev, &w), 0);
	p = w.buf + 40;
	/* PWRBTN_STS and WAK_STS set, PWRBTN_EN, counter just below the wrap. */
	p[0] = 0x00, p[1] = 0x81, p[2] = 0x00, p[3] = 0x01;
	p[6] = 0xf0, p[7] = 0xff, p[8] = 0xff, p[9] = 0x00;
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(copy->ops->load(copy, &r, &err), 0);
	v = inl(g, PM_TMR);
	assert_true(v >= 0xfffff0 || v < 0x100000);
	sleep_ms(2);
	v = inl(g, PM_TMR);
	assert_true(v < 0x400000); /* wrapped to small values */

	/* Bit 23 toggled when the counter wrapped: TMR_STS. */
	assert_int_equal(inw(g, PM1_STS), 0x8101);
	assert_int_equal(inw(g, PM1_EN), 0x0100);
	outw(g, PM1_STS, 0x0101);
	assert_int_equal(inw(g, PM1_STS), 0x8000);
	outw(g, PM1_STS, 0x0000);
	assert_int_equal(inw(g, PM1_STS), 0x8000);
	outb(g, PM1_STS + 1, 0x80);
	assert_int_equal(inw(g, PM1_STS), 0x0000);
	/* Enable bits are stored; reserved ones read as zero. */
	outw(g, PM1_EN, 0xffff);
	assert_int_equal(inw(g, PM1_EN), 0x0721);
	assert_int_equal(inl(g, PM1_STS), 0x07210000);

	/* Continuity: the loaded counter runs on from the saved value. */
	state_writer_free(&w);
	state_writer_init(&w);
	assert_int_equal(dev->ops->save(dev, &w), 0);
	p = w.buf + 40;
	p[6] = 0x56, p[7] = 0x34, p[8] = 0x12;
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(copy->ops->load(copy, &r, &err), 0);
	v = inl(g, PM_TMR);
	assert_true(((v - 0x123456) & 0xffffff) < 0x40000);
	sleep_ms(10);
	assert_true(((inl(g, PM_TMR) - v) & 0xffffff) > 30000);

	w.buf[40 + 9] = 0x01; /* a 25-bit counter */
	state_reader_init(&r, w.buf, w.len);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	state_reader_init(&r, w.buf, w.len - 1);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	state_writer_free(&w);
	fixture_free(g);
}

static void test_acpi_odd_accesses(void **state)
{
	struct fixture *f = *state;

	pm_new(f);
	poke_everything(f, ACPI_PM1A_EVT_PORT, 12);
	/* Random writes may have put the VM to sleep; they must not have crashed it. */
	assert_int_equal(inl(f, PM_TMR) >> 24, 0);
	assert_false(io_bus_dispatch(&f->vm.pio, PM_TMR, (uint8_t[8]){ 0 }, 8, false));
}

/* ---- PCI host bridge ---------------------------------------------------- */

/* What Linux's type-1 probe and sanity check read: a host bridge at 00:00.0 and nothing else. */
static void test_pci_host(void **state)
{
	struct fixture *f = *state;
	struct err err = { 0 };

	realized(f, pci_host_create(&f->vm, &err));
	/* A byte write to 0xCFB is not CONFIG_ADDRESS; a dword write is, and reads back. */
	outb(f, 0xcfb, 0x01);
	assert_int_equal(inl(f, 0xcf8), 0);
	outl(f, 0xcf8, 0x80000000);
	assert_int_equal(inl(f, 0xcf8), 0x80000000);
	assert_int_equal(inw(f, 0xcfc), 0x1b36);      /* vendor */
	assert_int_equal(inw(f, 0xcfe), 0x0008);      /* device */
	outl(f, 0xcf8, 0x80000008);
	assert_int_equal(inl(f, 0xcfc) >> 8, 0x060000); /* class: host bridge */
	assert_int_equal(inw(f, 0xcfe), 0x0600);
	/* BARs do not size: the write is ignored and they read as zero. */
	outl(f, 0xcf8, 0x80000010);
	outl(f, 0xcfc, 0xffffffff);
	assert_int_equal(inl(f, 0xcfc), 0);
	/* Device 1, function 1, bus 1, and a disabled address: no device, all ones. */
	outl(f, 0xcf8, 0x80000800);
	assert_int_equal(inl(f, 0xcfc), 0xffffffff);
	outl(f, 0xcf8, 0x80000100);
	assert_int_equal(inl(f, 0xcfc), 0xffffffff);
	outl(f, 0xcf8, 0x80010000);
	assert_int_equal(inw(f, 0xcfc), 0xffff);
	outl(f, 0xcf8, 0x00000000);
	assert_int_equal(inl(f, 0xcfc), 0xffffffff);
}

/* ---- kvm-unit-tests' test devices ---- */

static uint8_t mmio_inb(struct fixture *f, uint64_t addr)
{
	uint8_t val = 0;

	assert_true(io_bus_dispatch(&f->vm.mmio, addr, &val, 1, false));
	return val;
}

static uint64_t fw_cfg_read(struct fixture *f, uint16_t item, unsigned bytes)
{
	uint64_t v = 0;

	outw(f, 0x510, item);
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)inb(f, 0x511) << (8 * i);
	return v;
}

static void test_testdev(void **state)
{
	struct fixture *f = *state, *g = fixture_new();
	struct err err = { 0 };
	struct device *dev, *copy;
	struct state_writer w;
	struct state_reader r;
	uint8_t b[4] = { 0xde, 0xad, 0xbe, 0xef };

	f->vm.nr_vcpus = 3;
	f->vm.mem.ram_size = 64ull << 20;
	dev = realized(f, testdev_create(&f->vm, &err));
	/* fw_cfg: the signature, the CPU count, the RAM size; zeros past an item and for unknown ones. */
	assert_int_equal(fw_cfg_read(f, 0, 4), 0x554d4551);
	assert_int_equal(fw_cfg_read(f, 5, 4), 3);
	assert_int_equal(fw_cfg_read(f, 3, 8), 64ull << 20);
	assert_int_equal(fw_cfg_read(f, 0x7777, 4), 0);
	/* The latch, at every width and through both windows. */
	outl(f, 0xe0, 0x12345678);
	assert_int_equal(inb(f, 0xe3), 0x12);
	outb(f, 0xea, 0x99);
	assert_int_equal(inl(f, 0xe0), 0x12995678);
	assert_int_equal(inw(f, 0xe9), 0x9956);
	/* Interrupt lines 0-23, level as written. */
	outb(f, 0x2000 + 5, 1);
	assert_int_equal(f->level[5], 1);
	outb(f, 0x2000 + 23, 7);
	assert_int_equal(f->level[23], 1);
	outb(f, 0x2000 + 5, 0);
	assert_int_equal(f->level[5], 0);
	/* Memory-like MMIO. */
	assert_true(io_bus_dispatch(&f->vm.mmio, 0xff00fffe, b, 2, true));
	assert_int_equal(mmio_inb(f, 0xff00ffff), 0xad);
	/* Odd widths and offsets everywhere: no crash, and no stray exit. */
	poke_everything(f, 0xe0, 12);
	poke_everything(f, 0x510, 2);
	assert_int_equal(stop_reason(f), VM_STOP_NONE);
	/* State round trip. */
	outl(f, 0xe0, 0xabcdef01);
	outw(f, 0x510, 5);
	inb(f, 0x511);
	state_writer_init(&w);
	assert_int_equal(dev->ops->save(dev, &w), 0);
	copy = realized(g, testdev_create(&g->vm, &err));
	g->vm.nr_vcpus = 3;
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(copy->ops->load(copy, &r, &err), 0);
	assert_int_equal(inl(g, 0xe0), 0xabcdef01);
	assert_int_equal(inb(g, 0x511), 0); /* the CPU count's second byte */
	assert_int_equal(mmio_inb(g, 0xff00ffff), 0xad);
	state_writer_free(&w);
	/* isa-debug-exit: status (v << 1) | 1, the first write's. */
	outl(f, 0xf4, 0x2a);
	assert_int_equal(stop_reason(f), VM_STOP_DEBUG_EXIT);
	outl(f, 0xf4, 0x01);
	assert_int_equal(vm_exit_status(&f->vm), 0x55);
	fixture_free(g);
}

/* ---- HPET ----------------------------------------------------------------- */

#define HPET_CFG 0x10
#define HPET_STS 0x20
#define HPET_CNT 0xf0
#define HPET_TCFG(n) (0x100 + 0x20 * (n))
#define HPET_TCMP(n) (0x108 + 0x20 * (n))
#define TN_LEVEL (1u << 1)
#define TN_INT_ENB (1u << 2)
#define TN_PERIODIC (1u << 3)
#define TN_VAL_SET (1u << 6)
#define TN_32MODE (1u << 8)
#define TN_ROUTE(n) ((uint64_t)(n) << 9)
#define TICKS_PER_MS 100000ull

static uint64_t hpet_rd(struct fixture *f, uint64_t off, unsigned len)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;

	io_bus_dispatch(&f->vm.mmio, HPET_BASE + off, b, len, false);
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void hpet_wr(struct fixture *f, uint64_t off, uint64_t v, unsigned len)
{
	uint8_t b[8];

	for (unsigned i = 0; i < len; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	io_bus_dispatch(&f->vm.mmio, HPET_BASE + off, b, len, true);
}

static struct device *hpet_new(struct fixture *f)
{
	return realized(f, hpet_create(&f->vm, NULL));
}

static void test_hpet_registers(void **state)
{
	struct fixture *f = *state;
	uint64_t c0, c1;

	hpet_new(f);
	/* Rev 1, 3 timers, 64-bit, LegacyReplacement, vendor 8086, 10 ns. */
	assert_int_equal(hpet_rd(f, 0, 8), 0x009896808086a201ull);
	assert_int_equal(hpet_rd(f, 4, 4), 10000000);
	assert_int_equal(hpet_block_id(), 0x8086a201);
	/* Halted at 0; the halves are written and read one at a time. */
	assert_int_equal(hpet_rd(f, HPET_CNT, 8), 0);
	hpet_wr(f, HPET_CNT + 4, 0x12345678, 4);
	hpet_wr(f, HPET_CNT, 0x9abcdef0, 4);
	sleep_ms(2);
	assert_int_equal(hpet_rd(f, HPET_CNT, 8), 0x123456789abcdef0ull);
	assert_int_equal(hpet_rd(f, HPET_CNT + 4, 4), 0x12345678);
	hpet_wr(f, HPET_CNT, 0, 8);
	/* Reserved configuration bits stay 0. */
	hpet_wr(f, HPET_CFG, ~0ull, 8);
	assert_int_equal(hpet_rd(f, HPET_CFG, 8), 3);
	hpet_wr(f, HPET_CFG, 0, 8);

	/* Enabled, it counts at 100 MHz from where it was. */
	hpet_wr(f, HPET_CFG, 1, 4);
	c0 = hpet_rd(f, HPET_CNT, 8);
	sleep_ms(20);
	c1 = hpet_rd(f, HPET_CNT, 8);
	assert_true(c1 - c0 >= 20 * TICKS_PER_MS);
	assert_true(c1 - c0 < 200 * TICKS_PER_MS);
	hpet_wr(f, HPET_CFG, 0, 4);
	c0 = hpet_rd(f, HPET_CNT, 8);
	sleep_ms(2);
	assert_int_equal(hpet_rd(f, HPET_CNT, 8), c0);

	/* Timer 0: 64-bit, periodic capable; 1 and 2: 32-bit one-shots; routes 10, 11. */
	assert_int_equal(hpet_rd(f, HPET_TCFG(0), 8), 0x00000c0000001430ull);
	assert_int_equal(hpet_rd(f, HPET_TCFG(1), 8), 0x00000c0000001400ull);
	assert_int_equal(hpet_rd(f, HPET_TCMP(0), 8), ~0ull);
	assert_int_equal(hpet_rd(f, HPET_TCMP(2), 8), 0xffffffffull);
	hpet_wr(f, HPET_TCFG(1), ~0ull, 8);
	assert_int_equal(hpet_rd(f, HPET_TCFG(1), 8), 0x00000c0000001406ull);
	hpet_wr(f, HPET_TCFG(1), TN_ROUTE(11), 4);
	assert_int_equal(hpet_rd(f, HPET_TCFG(1), 4), 0x1600);
	/* An input the timer cannot reach keeps the old route. */
	hpet_wr(f, HPET_TCFG(1), TN_ROUTE(5), 4);
	assert_int_equal(hpet_rd(f, HPET_TCFG(1), 4), 0x1600);
	hpet_wr(f, HPET_TCFG(1), TN_ROUTE(10), 4);
	assert_int_equal(hpet_rd(f, HPET_TCFG(1), 4), 0x1400);
	/* Forced 32-bit, timer 0's comparator keeps its low half. */
	hpet_wr(f, HPET_TCFG(0), TN_32MODE, 4);
	assert_int_equal(hpet_rd(f, HPET_TCMP(0), 8), 0xffffffffull);
	hpet_wr(f, HPET_TCMP(0) + 4, 0x1234, 4);
	assert_int_equal(hpet_rd(f, HPET_TCMP(0), 8), 0xffffffffull);
	hpet_wr(f, HPET_TCFG(0), 0, 4);
	hpet_wr(f, HPET_TCMP(0) + 4, 0x1234, 4);
	assert_int_equal(hpet_rd(f, HPET_TCMP(0), 8), 0x00001234ffffffffull);
	/* FSB route: not offered, reads 0. */
	hpet_wr(f, 0x110, ~0ull, 8);
	assert_int_equal(hpet_rd(f, 0x110, 8), 0);
}

static void test_hpet_level_interrupt(void **state)
{
	struct fixture *f = *state;
	uint64_t now;

	hpet_new(f);
	hpet_wr(f, HPET_TCFG(2), TN_LEVEL | TN_INT_ENB | TN_ROUTE(11), 4);
	hpet_wr(f, HPET_CFG, 1, 4);
	now = hpet_rd(f, HPET_CNT, 8);
	hpet_wr(f, HPET_TCMP(2), (uint32_t)(now + 5 * TICKS_PER_MS), 4);
	assert_int_equal(f->level[11], 0);
	for (int i = 0; i < 1000 && !f->level[11]; i++)
		sleep_ms(1);
	assert_int_equal(f->level[11], 1);
	assert_int_equal(hpet_rd(f, HPET_STS, 8), 4);
	assert_true(hpet_rd(f, HPET_CNT, 8) - now >= 5 * TICKS_PER_MS);
	/* Held until cleared; a 0 written clears nothing. */
	sleep_ms(2);
	assert_int_equal(f->level[11], 1);
	hpet_wr(f, HPET_STS, 0, 4);
	assert_int_equal(f->level[11], 1);
	/* Masked by Tn_INT_ENB_CNF but still latched in the status register. */
	hpet_wr(f, HPET_TCFG(2), TN_LEVEL | TN_ROUTE(11), 4);
	assert_int_equal(f->level[11], 0);
	hpet_wr(f, HPET_TCFG(2), TN_LEVEL | TN_INT_ENB | TN_ROUTE(11), 4);
	assert_int_equal(f->level[11], 1);
	hpet_wr(f, HPET_STS, 4, 4);
	assert_int_equal(f->level[11], 0);
	assert_int_equal(hpet_rd(f, HPET_STS, 8), 0);
	/* A one-shot fired once: the comparator stays where it was. */
	sleep_ms(10);
	assert_int_equal(f->level[11], 0);
	assert_int_equal(hpet_rd(f, HPET_TCMP(2), 8), (uint32_t)(now + 5 * TICKS_PER_MS));
}

/* LegacyReplacement: timer 0 periodic on IRQ0, as Linux programs it. */
static void test_hpet_legacy_periodic(void **state)
{
	struct fixture *f = *state;
	uint64_t now, cmp;
	unsigned n;

	hpet_new(f);
	hpet_wr(f, HPET_CFG, 3, 4);
	now = hpet_rd(f, HPET_CNT, 4);
	hpet_wr(f, HPET_TCFG(0), TN_INT_ENB | TN_PERIODIC | TN_VAL_SET | TN_32MODE, 4);
	hpet_wr(f, HPET_TCMP(0), now + 2 * TICKS_PER_MS, 4);
	hpet_wr(f, HPET_TCMP(0), 2 * TICKS_PER_MS, 4);
	assert_int_equal(hpet_rd(f, HPET_TCFG(0), 4) & TN_VAL_SET, 0);
	sleep_ms(41);
	n = f->raises[0];
	/* 20 periods, give or take a loaded host's scheduling. */
	assert_true(n >= 5 && n <= 21);
	assert_int_equal(f->raises[10], 0);
	/* The comparator says where the next match is: within one period ahead. */
	now = hpet_rd(f, HPET_CNT, 4);
	cmp = hpet_rd(f, HPET_TCMP(0), 4);
	assert_true((uint32_t)(cmp - now) <= 2 * TICKS_PER_MS);
	/* Out of legacy mode the timer takes its own route. */
	hpet_wr(f, HPET_CFG, 1, 4);
	sleep_ms(10);
	assert_true(f->raises[10] >= 1);
	n = f->raises[0];
	/* Halted, nothing fires. */
	hpet_wr(f, HPET_CFG, 0, 4);
	n = f->raises[10];
	sleep_ms(10);
	assert_int_equal(f->raises[10], n);
}

static void test_hpet_save_load(void **state)
{
	struct fixture *f = *state, *g = fixture_new();
	struct device *dev = hpet_new(f), *copy = hpet_new(g);
	struct state_writer w;
	struct state_reader r;
	struct err err = { 0 };
	uint8_t *bad;
	size_t body;

	hpet_wr(f, HPET_CNT, 0x1000000000ull, 8);
	hpet_wr(f, HPET_TCFG(1), TN_LEVEL | TN_INT_ENB | TN_ROUTE(11), 4);
	hpet_wr(f, HPET_TCMP(1), 0x10, 4);
	hpet_wr(f, HPET_CFG, 1, 4);
	for (int i = 0; i < 1000 && !f->level[11]; i++)
		sleep_ms(1);
	hpet_wr(f, HPET_CFG, 0, 4);
	state_writer_init(&w);
	assert_int_equal(dev->ops->save(dev, &w), 0);
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(copy->ops->load(copy, &r, &err), 0);
	assert_int_equal(hpet_rd(g, HPET_CNT, 8), hpet_rd(f, HPET_CNT, 8));
	assert_int_equal(hpet_rd(g, HPET_STS, 8), 2);
	assert_int_equal(hpet_rd(g, HPET_TCFG(1), 8), hpet_rd(f, HPET_TCFG(1), 8));
	assert_int_equal(hpet_rd(g, HPET_TCMP(1), 8), 0x10);
	/* Halted, its line is low; running again, the latched status drives it. */
	assert_int_equal(g->level[11], 0);
	hpet_wr(g, HPET_CFG, 1, 4);
	assert_int_equal(g->level[11], 1);

	/* Hostile states: each is refused whole. */
	body = w.len - 12 * 8;
	bad = malloc(w.len);
	assert_non_null(bad);
	memcpy(bad, w.buf, w.len);
	bad[body] = 0x04; /* a reserved configuration bit */
	state_reader_init(&r, bad, w.len);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	memcpy(bad, w.buf, w.len);
	bad[body + 8] = 0x01; /* status for edge-triggered timer 0 */
	state_reader_init(&r, bad, w.len);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	memcpy(bad, w.buf, w.len);
	bad[body + 24 + 24 + 1] = 0x0a; /* timer 1 routed to input 5 */
	state_reader_init(&r, bad, w.len);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	memcpy(bad, w.buf, w.len);
	bad[body + 24 + 24] |= TN_PERIODIC; /* periodic on a one-shot timer */
	state_reader_init(&r, bad, w.len);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	memcpy(bad, w.buf, w.len);
	bad[body + 24 + 24 + 8 + 4] = 1; /* a 33-bit comparator on a 32-bit timer */
	state_reader_init(&r, bad, w.len);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	state_reader_init(&r, w.buf, w.len - 1);
	assert_true(copy->ops->load(copy, &r, &err) < 0);
	free(bad);
	state_writer_free(&w);
	fixture_free(g);
}

static void test_hpet_odd_accesses(void **state)
{
	struct fixture *f = *state;
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	uint32_t seed = 777;

	hpet_new(f);
	for (unsigned round = 0; round < 4; round++) {
		for (unsigned off = 0; off < HPET_SIZE + 8; off++) {
			for (unsigned s = 0; s < ARRAY_SIZE(sizes); s++) {
				uint8_t data[8];

				for (unsigned i = 0; i < 8; i++) {
					seed = seed * 1103515245u + 12345u;
					data[i] = (uint8_t)(seed >> 16);
				}
				io_bus_dispatch(&f->vm.mmio, HPET_BASE + off, data, sizes[s],
						round & 1);
			}
		}
	}
	/* Whatever was written, the capabilities did not move and lines stayed in range. */
	assert_int_equal(hpet_rd(f, 0, 8), 0x009896808086a201ull);
	/* Bytes of a register read alone are that register's bytes. */
	assert_int_equal(hpet_rd(f, 1, 1), 0xa2);
	assert_int_equal(hpet_rd(f, 2, 2), 0x8086);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_uart_transmit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_divisor_and_scratch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_thre_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_iir_priorities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_receive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_save_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_load_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_odd_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_concurrent_receive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_i8042_self_test, setup, teardown),
		cmocka_unit_test_setup_teardown(test_i8042_command_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_i8042_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_i8042_save_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_i8042_odd_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port92_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port92_save_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtc_host_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtc_set_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtc_uip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtc_cmos_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtc_memory_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acpi_sleep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acpi_sleep_bytewise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acpi_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acpi_timer_wrap_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acpi_odd_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hpet_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hpet_level_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hpet_legacy_periodic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hpet_save_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hpet_odd_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_testdev, setup, teardown),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
