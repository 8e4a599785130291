/* devices/uart8250.c: 16550A UART (the guest console), output to a host fd. */
#include "devices/devices.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "bus/bus.h"
#include "vm/vm.h"

#define UART_NR_REGS 8
#define UART_FIFO_SIZE 16

/* Register offsets (DLAB selects DLL/DLM at 0 and 1). */
#define UART_RBR 0
#define UART_IER 1
#define UART_IIR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_ERBFI 0x01 /* RX data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f

#define IIR_NONE 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_CTI 0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_TRIGGER 0xc0

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08 /* gates the IRQ on a PC */
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_PE 0x04
#define LSR_FE 0x08
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

/*
 * A stalled console must not stall the vCPU: the first byte that cannot be
 * written waits this long, and later bytes are dropped at once until the fd
 * accepts one again.
 */
#define UART_TX_WAIT_MS 50
#define UART_TX_EINTR_RETRIES 8

#define UART_STATE_VERSION 1

struct uart {
	struct device dev;
	pthread_mutex_t lock;
	uint16_t port;
	unsigned irq;
	int out_fd;

	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t fcr;	    /* FCR_ENABLE | FCR_TRIGGER bits as last written */
	uint8_t lsr_errors; /* sticky error bits, cleared by reading LSR */
	uint8_t msr_deltas; /* delta bits, cleared by reading MSR */
	bool thr_ipending;  /* THRE interrupt source, see thre_raise() */
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;

	int irq_level; /* the level last driven */
	bool tx_stalled;
	/* Counters (docs/metrics.md): bumped under lock, read without it. */
	_Atomic uint64_t tx_bytes; /* guest output written to the host */
	_Atomic uint64_t tx_dropped;
	_Atomic uint64_t rx_bytes;   /* host input taken into the FIFO */
	_Atomic uint64_t interrupts; /* times the line went high */
};

static struct uart *to_uart(struct device *dev)
{
	return container_of(dev, struct uart, dev);
}

/* Modem status lines: wired to MCR outputs in loopback, a "ready" peer otherwise. */
static uint8_t msr_lines(const struct uart *u)
{
	uint8_t m = 0;

	if (!(u->mcr & MCR_LOOP))
		return MSR_CTS | MSR_DSR | MSR_DCD;
	if (u->mcr & MCR_RTS)
		m |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

static unsigned rx_trigger(const struct uart *u)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 };

	return levels[u->fcr >> 6];
}

static uint8_t iir_compute(const struct uart *u)
{
	uint8_t id = IIR_NONE;

	if ((u->ier & IER_ELSI) && (u->lsr_errors & LSR_ERRORS))
		id = IIR_RLSI;
	else if ((u->ier & IER_ERBFI) && u->rx_count)
		/* No character timer: data below the trigger level reports as a timeout. */
		id = (u->fcr & FCR_ENABLE) && u->rx_count < rx_trigger(u) ? IIR_CTI : IIR_RDI;
	else if ((u->ier & IER_ETBEI) && u->thr_ipending)
		id = IIR_THRI;
	else if ((u->ier & IER_EDSSI) && (u->msr_deltas & MSR_DELTAS))
		id = IIR_MSI;
	return id | ((u->fcr & FCR_ENABLE) ? IIR_FIFO_ON : 0);
}

/*
 * On a PC the UART's interrupt reaches the PIC only through OUT2, and Linux
 * relies on that gate. The in-kernel IOAPIC treats ISA lines as edge
 * triggered, so only changes are driven.
 */
static void irq_update(struct uart *u, bool force)
{
	int level = !(iir_compute(u) & IIR_NONE) && (u->mcr & MCR_OUT2);

	if (!force && level == u->irq_level)
		return;
	u->irq_level = level;
	if (level)
		counter_add_owned(&u->interrupts, 1);
	vm_irq_set(u->dev.vm, u->irq, level);
}

static void rx_clear(struct uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

/* Returns false (and flags an overrun) when the FIFO is full. */
static bool rx_push(struct uart *u, uint8_t byte)
{
	if (u->rx_count == UART_FIFO_SIZE) {
		u->lsr_errors |= LSR_OE;
		return false;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
	u->rx_count++;
	return true;
}

static uint8_t rx_pop(struct uart *u)
{
	uint8_t byte;

	if (!u->rx_count)
		return 0;
	byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	return byte;
}

/* Writes one byte without ever blocking the vCPU for long. */
static void tx_byte(struct uart *u, uint8_t byte)
{
	struct pollfd pfd = { .fd = u->out_fd, .events = POLLOUT };
	int wait_ms = u->tx_stalled ? 0 : UART_TX_WAIT_MS;

	if (u->out_fd < 0)
		return;
	for (unsigned tries = 0; tries < UART_TX_EINTR_RETRIES; tries++) {
		int rc = poll(&pfd, 1, wait_ms);

		if (rc < 0 && errno == EINTR)
			continue;
		/* A reader that went away would make the write raise SIGPIPE. */
		if (rc <= 0 || (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)))
			break;
		if (write(u->out_fd, &byte, 1) == 1) {
			u->tx_stalled = false;
			counter_add_owned(&u->tx_bytes, 1);
			return;
		}
		if (errno != EINTR && errno != EAGAIN)
			break;
	}
	if (!u->tx_stalled)
		log_ratelimited(LOG_WARN,
				"uart %#x: console output stalled or failed; dropping bytes",
				u->port);
	u->tx_stalled = true;
	counter_add_owned(&u->tx_dropped, 1);
}

static void thr_write(struct uart *u, uint8_t byte)
{
	u->thr_ipending = false;
	if (u->mcr & MCR_LOOP)
		rx_push(u, byte);
	else
		tx_byte(u, byte);
	/* The byte left at once: THR is empty again. */
	u->thr_ipending = true;
}

static void mcr_write(struct uart *u, uint8_t val)
{
	uint8_t old = msr_lines(u), now;

	u->mcr = val & MCR_MASK;
	now = msr_lines(u);
	if ((old ^ now) & MSR_CTS)
		u->msr_deltas |= MSR_DCTS;
	if ((old ^ now) & MSR_DSR)
		u->msr_deltas |= MSR_DDSR;
	if ((old ^ now) & MSR_DCD)
		u->msr_deltas |= MSR_DDCD;
	if ((old & MSR_RI) && !(now & MSR_RI))
		u->msr_deltas |= MSR_TERI;
}

static void fcr_write(struct uart *u, uint8_t val)
{
	/* Turning the FIFOs on or off empties them, as on the chip. */
	if ((val ^ u->fcr) & FCR_ENABLE)
		rx_clear(u);
	if (!(val & FCR_ENABLE)) {
		u->fcr = 0;
		return;
	}
	if (val & FCR_CLEAR_RX)
		rx_clear(u);
	u->fcr = val & (FCR_ENABLE | FCR_TRIGGER);
}

static void reg_write(struct uart *u, unsigned reg, uint8_t val)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case UART_RBR:
		if (dlab)
			u->dll = val;
		else
			thr_write(u, val);
		break;
	case UART_IER:
		if (dlab) {
			u->dlm = val;
			break;
		}
		/* Enabling ETBEI while THR is empty raises THRE (Linux tests this). */
		if ((val & IER_ETBEI) && !(u->ier & IER_ETBEI))
			u->thr_ipending = true;
		u->ier = val & IER_MASK;
		break;
	case UART_IIR:
		fcr_write(u, val);
		break;
	case UART_LCR:
		u->lcr = val;
		break;
	case UART_MCR:
		mcr_write(u, val);
		break;
	case UART_SCR:
		u->scr = val;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}

static uint8_t reg_read(struct uart *u, unsigned reg)
{
	bool dlab = u->lcr & LCR_DLAB;
	uint8_t val;

	switch (reg) {
	case UART_RBR:
		return dlab ? u->dll : rx_pop(u);
	case UART_IER:
		return dlab ? u->dlm : u->ier;
	case UART_IIR:
		val = iir_compute(u);
		/* Reading IIR acknowledges a THRE interrupt it reports. */
		if ((val & 0x0f) == IIR_THRI)
			u->thr_ipending = false;
		return val;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		val = u->lsr_errors | LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
		u->lsr_errors = 0;
		return val;
	case UART_MSR:
		val = msr_lines(u) | u->msr_deltas;
		u->msr_deltas = 0;
		return val;
	default:
		return u->scr;
	}
}

/* A wider access reaches the byte registers one after another, as on the ISA bus. */
static void uart_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct uart *u = opaque;

	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < len && offset + i < UART_NR_REGS; i++) {
		if (is_write)
			reg_write(u, (unsigned)offset + i, data[i]);
		else
			data[i] = reg_read(u, (unsigned)offset + i);
	}
	irq_update(u, false);
	pthread_mutex_unlock(&u->lock);
}

size_t uart_receive(struct device *dev, const uint8_t *buf, size_t len)
{
	struct uart *u = to_uart(dev);
	size_t n = 0;

	pthread_mutex_lock(&u->lock);
	if (u->mcr & MCR_LOOP) {
		/* The serial input is disconnected in loopback: the bytes are consumed. */
		n = len;
	} else {
		/*
		 * Host input is flow-controlled: kite keeps what does not fit and
		 * offers it again, so a full FIFO here is not a line overrun.
		 */
		while (n < len && u->rx_count < UART_FIFO_SIZE && rx_push(u, buf[n]))
			n++;
		counter_add_owned(&u->rx_bytes, n);
	}
	irq_update(u, false);
	pthread_mutex_unlock(&u->lock);
	return n;
}

static void regs_reset(struct uart *u)
{
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->scr = 0;
	u->dll = 0x0c; /* 9600 baud, what firmware usually leaves */
	u->dlm = 0;
	u->fcr = 0;
	u->lsr_errors = 0;
	u->msr_deltas = 0;
	u->thr_ipending = false;
	rx_clear(u);
}

static void uart_reset(struct device *dev)
{
	struct uart *u = to_uart(dev);

	pthread_mutex_lock(&u->lock);
	regs_reset(u);
	irq_update(u, false);
	pthread_mutex_unlock(&u->lock);
}

static int uart_realize(struct device *dev, struct err *err)
{
	struct uart *u = to_uart(dev);

	return io_bus_register(&dev->vm->pio, u->port, UART_NR_REGS, uart_io, u, dev->name, err);
}

static int uart_save(struct device *dev, struct state_writer *w)
{
	struct uart *u = to_uart(dev);

	pthread_mutex_lock(&u->lock);
	state_section_begin(w, "uart", UART_STATE_VERSION);
	state_put_u8(w, u->dll);
	state_put_u8(w, u->dlm);
	state_put_u8(w, u->ier);
	state_put_u8(w, u->fcr);
	state_put_u8(w, u->lcr);
	state_put_u8(w, u->mcr);
	state_put_u8(w, u->lsr_errors);
	state_put_u8(w, u->msr_deltas);
	state_put_u8(w, u->scr);
	state_put_u8(w, u->thr_ipending);
	state_put_u8(w, (uint8_t)u->rx_count);
	/* The FIFO oldest first, so the stream does not depend on the ring's position. */
	for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
		state_put_u8(w, i < u->rx_count ? u->rx[(u->rx_head + i) % UART_FIFO_SIZE] : 0);
	state_section_end(w);
	pthread_mutex_unlock(&u->lock);
	return w->error;
}

static int uart_load(struct device *dev, struct state_reader *r, struct err *err)
{
	struct uart *u = to_uart(dev);
	struct uart s = { 0 };
	uint32_t version;
	uint8_t thr, count;
	int rc;

	rc = state_section_open(r, "uart", UART_STATE_VERSION, &version, err);
	if (rc < 0)
		return rc;
	s.dll = state_get_u8(r);
	s.dlm = state_get_u8(r);
	s.ier = state_get_u8(r);
	s.fcr = state_get_u8(r);
	s.lcr = state_get_u8(r);
	s.mcr = state_get_u8(r);
	s.lsr_errors = state_get_u8(r);
	s.msr_deltas = state_get_u8(r);
	s.scr = state_get_u8(r);
	thr = state_get_u8(r);
	count = state_get_u8(r);
	state_get_bytes(r, s.rx, sizeof(s.rx));
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "uart %#x", u->port);
	if ((s.ier & ~IER_MASK) || (s.mcr & ~MCR_MASK) || (s.fcr & ~(FCR_ENABLE | FCR_TRIGGER)) ||
	    ((s.fcr & FCR_TRIGGER) && !(s.fcr & FCR_ENABLE)) || (s.lsr_errors & ~LSR_ERRORS) ||
	    (s.msr_deltas & ~MSR_DELTAS) || thr > 1)
		return err_set(err, -EINVAL, "uart %#x: state has invalid register values",
			       u->port);
	if (count > UART_FIFO_SIZE)
		return err_set(err, -EINVAL, "uart %#x: state claims %u bytes in a %u-byte FIFO",
			       u->port, count, UART_FIFO_SIZE);

	pthread_mutex_lock(&u->lock);
	u->dll = s.dll;
	u->dlm = s.dlm;
	u->ier = s.ier;
	u->fcr = s.fcr;
	u->lcr = s.lcr;
	u->mcr = s.mcr;
	u->lsr_errors = s.lsr_errors;
	u->msr_deltas = s.msr_deltas;
	u->scr = s.scr;
	u->thr_ipending = thr;
	memcpy(u->rx, s.rx, sizeof(u->rx));
	u->rx_head = 0;
	u->rx_count = count;
	/* The line's last level is not known to the restored interrupt controller. */
	irq_update(u, true);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static void uart_destroy(struct device *dev)
{
	struct uart *u = to_uart(dev);

	if (counter_get(&u->tx_dropped))
		log_info("uart %#x: dropped %llu console bytes", u->port,
			 (unsigned long long)counter_get(&u->tx_dropped));
	pthread_mutex_destroy(&u->lock);
	free(u);
}

static unsigned uart_metrics(struct device *dev, struct metric *out, unsigned max)
{
	struct uart *u = to_uart(dev);
	unsigned n = 0;

	metric_put(out, &n, max, "tx_bytes", counter_get(&u->tx_bytes));
	metric_put(out, &n, max, "tx_dropped_bytes", counter_get(&u->tx_dropped));
	metric_put(out, &n, max, "rx_bytes", counter_get(&u->rx_bytes));
	metric_put(out, &n, max, "interrupts", counter_get(&u->interrupts));
	return n;
}

static const struct device_ops uart_ops = {
	.type = "uart8250",
	.realize = uart_realize,
	.reset = uart_reset,
	.save = uart_save,
	.load = uart_load,
	.destroy = uart_destroy,
	.metrics = uart_metrics,
};

struct device *uart_create(struct vm *vm, uint16_t port, unsigned irq, int out_fd,
			   struct err *err)
{
	struct uart *u;

	if (irq >= 16) {
		err_set(err, -EINVAL, "uart %#x: IRQ %u is not an ISA interrupt", port, irq);
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		err_set(err, -ENOMEM, "uart %#x: out of memory", port);
		return NULL;
	}
	pthread_mutex_init(&u->lock, NULL);
	u->dev.ops = &uart_ops;
	u->dev.vm = vm;
	u->dev.name = "uart";
	u->port = port;
	u->irq = irq;
	u->out_fd = out_fd;
	regs_reset(u);
	vm_add_device(vm, &u->dev);
	return &u->dev;
}
