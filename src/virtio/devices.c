/* virtio/devices.c: the I/O thread as a device, and the virtio devices' ACPI entries. */
#include "virtio/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "acpi/acpi.h"
#include "backend/backend.h"
#include "base/util.h"
#include "vm/vm.h"

/*
 * The I/O thread is itself on the VM's device list, ahead of every virtio
 * device, so vm_destroy() stops it before any device it serves is freed.
 */
struct iothread_dev {
	struct device dev;
	struct iothread *io;
};

static void iothread_dev_destroy(struct device *dev)
{
	struct iothread_dev *d = container_of(dev, struct iothread_dev, dev);

	iothread_destroy(d->io);
	d->dev.vm->iothread = NULL;
	free(d);
}

static const struct device_ops iothread_dev_ops = {
	.type = "iothread",
	.destroy = iothread_dev_destroy,
};

int virtio_iothread_create(struct vm *vm, struct err *err)
{
	struct iothread_dev *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return err_set(err, -ENOMEM, "iothread: out of memory");
	rc = iothread_create(&d->io, err);
	if (rc < 0) {
		free(d);
		return rc;
	}
	d->dev.ops = &iothread_dev_ops;
	d->dev.vm = vm;
	d->dev.name = "iothread";
	vm->iothread = d->io;
	vm_add_device(vm, &d->dev);
	return 0;
}

void virtio_devices_acpi(struct vm *vm, struct acpi_config *cfg)
{
	for (struct device *dev = vm->devices; dev; dev = dev->next) {
		const struct virtio_dev *vdev = virtio_dev_of(dev);

		if (!vdev || cfg->nr_mmio == ACPI_MAX_MMIO_DEVICES)
			continue;
		cfg->mmio[cfg->nr_mmio++] = (struct acpi_mmio_device){
			.base = vdev->base,
			.size = VIRTIO_MMIO_SIZE,
			.gsi = vdev->gsi,
		};
	}
}
