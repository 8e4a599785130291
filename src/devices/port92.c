/*
 * devices/port92.c: System Control Port A (port 0x92): the fast reset and
 * the A20 gate of PS/2-era and later PCs.
 *
 * Bit 0 is read/write; writing it 1 while it reads 0 pulses the CPU's reset
 * line, which kite handles as the i8042's reset (the VM stops with
 * VM_STOP_RESET); a guest has to write it back to 0 before another pulse.
 * Bit 1 is the alternate A20 gate, read back as written; kite keeps A20
 * enabled whatever it says, as it does for the i8042's gate. The other bits
 * (the security lock, the disk activity LEDs, reserved ones) read as 0 and
 * ignore writes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/util.h"
#include "bus/bus.h"
#include "devices/devices.h"
#include "vm/vm.h"

#define PORT92_RESET 0x01
#define PORT92_A20   0x02
#define PORT92_BITS  (PORT92_RESET | PORT92_A20)
/* As a BIOS leaves it: A20 enabled, the reset line quiet. */
#define PORT92_POWER_ON PORT92_A20

#define PORT92_STATE_VERSION 1

struct port92 {
	struct device dev;
	pthread_mutex_t lock;
	uint8_t value;
};

static struct port92 *to_port92(struct device *dev)
{
	return container_of(dev, struct port92, dev);
}

static void port92_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct port92 *p = opaque;
	bool pulse;

	(void)offset;
	(void)len; /* always 1: the bus hands a one-byte region nothing wider */
	pthread_mutex_lock(&p->lock);
	if (!is_write) {
		data[0] = p->value;
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pulse = (data[0] & PORT92_RESET) && !(p->value & PORT92_RESET);
	p->value = data[0] & PORT92_BITS;
	pthread_mutex_unlock(&p->lock);
	if (pulse) {
		log_ratelimited(LOG_INFO, "port92: guest pulsed the fast reset");
		vm_request_stop(p->dev.vm, VM_STOP_RESET);
	}
}

static int port92_realize(struct device *dev, struct err *err)
{
	return io_bus_register(&dev->vm->pio, PORT92_PORT, 1, port92_io, dev, "port92", err);
}

static void port92_reset(struct device *dev)
{
	struct port92 *p = to_port92(dev);

	pthread_mutex_lock(&p->lock);
	p->value = PORT92_POWER_ON;
	pthread_mutex_unlock(&p->lock);
}

static int port92_save(struct device *dev, struct state_writer *w)
{
	struct port92 *p = to_port92(dev);

	pthread_mutex_lock(&p->lock);
	state_section_begin(w, "port92", PORT92_STATE_VERSION);
	state_put_u8(w, p->value);
	state_section_end(w);
	pthread_mutex_unlock(&p->lock);
	return w->error;
}

static int port92_load(struct device *dev, struct state_reader *r, struct err *err)
{
	struct port92 *p = to_port92(dev);
	uint32_t version;
	uint8_t value;
	int rc;

	rc = state_section_open(r, "port92", PORT92_STATE_VERSION, &version, err);
	if (rc < 0)
		return rc;
	value = state_get_u8(r);
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "port92");
	if (value & ~PORT92_BITS)
		return err_set(err, -EINVAL, "port92: state has undefined bits 0x%x", value);
	pthread_mutex_lock(&p->lock);
	p->value = value;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void port92_destroy(struct device *dev)
{
	struct port92 *p = to_port92(dev);

	pthread_mutex_destroy(&p->lock);
	free(p);
}

static const struct device_ops port92_ops = {
    .type = "port92",
    .realize = port92_realize,
    .reset = port92_reset,
    .save = port92_save,
    .load = port92_load,
    .destroy = port92_destroy,
};

struct device *port92_create(struct vm *vm, struct err *err)
{
	struct port92 *p = calloc(1, sizeof(*p));

	if (!p) {
		err_set(err, -ENOMEM, "port92: out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->dev = (struct device){.ops = &port92_ops, .vm = vm, .name = "port92"};
	p->value = PORT92_POWER_ON;
	vm_add_device(vm, &p->dev);
	return &p->dev;
}
