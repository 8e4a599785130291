/* devices/pvpanic.c: the pvpanic port, through which a guest kernel reports a panic. */
#include <errno.h>
#include <stdlib.h>

#include "base/log.h"
#include "devices/devices.h"
#include "vm/vm.h"

/* Bits of the pvpanic event byte (QEMU's pvpanic specification). */
#define PVPANIC_PANICKED (1u << 0)
#define PVPANIC_CRASH_LOADED (1u << 1)
#define PVPANIC_FEATURES (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

struct pvpanic {
	struct device dev;
};

static void pvpanic_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct pvpanic *p = opaque;

	(void)offset;
	if (!is_write) {
		/* Reading the port tells the driver which events kite understands. */
		for (unsigned i = 0; i < len; i++)
			data[i] = i == 0 ? PVPANIC_FEATURES : 0;
		return;
	}
	if (data[0] & PVPANIC_PANICKED) {
		log_err("pvpanic: the guest kernel panicked");
		vm_request_stop(p->dev.vm, VM_STOP_PANIC);
	} else if (data[0] & PVPANIC_CRASH_LOADED) {
		log_ratelimited(LOG_WARN, "pvpanic: the guest panicked into its crash kernel");
	}
}

static int pvpanic_realize(struct device *dev, struct err *err)
{
	return io_bus_register(&dev->vm->pio, PVPANIC_PORT, 1, pvpanic_io, dev, "pvpanic", err);
}

static void pvpanic_destroy(struct device *dev)
{
	free(dev);
}

static const struct device_ops pvpanic_ops = {
	.type = "pvpanic",
	.realize = pvpanic_realize,
	.destroy = pvpanic_destroy,
};

struct device *pvpanic_create(struct vm *vm, struct err *err)
{
	struct pvpanic *p = calloc(1, sizeof(*p));

	if (!p) {
		err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	p->dev = (struct device){ .ops = &pvpanic_ops, .vm = vm, .name = "pvpanic" };
	vm_add_device(vm, &p->dev);
	return &p->dev;
}
