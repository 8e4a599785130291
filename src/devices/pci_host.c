/* devices/pci_host.c: a PCI host bridge alone on bus 0, through configuration mechanism #1. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"
#include "vm/vm.h"

/*
 * kite's devices are virtio-mmio, so there is no PCI bus to speak of. Linux
 * still looks for PCI configuration space at boot, and without any it
 * prints "PCI: Fatal: No config space access function found" (even with
 * pci=off). A host bridge at 00:00.0 that answers type-1 configuration
 * cycles is what it needs to find; every other function reads as absent.
 */
#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA	   0xcfc
#define PCI_ADDRESS_ENABLE (1u << 31)
/* Bus, device, function and dword register fields of CONFIG_ADDRESS. */
#define PCI_ADDRESS_BDF(a) (((a) >> 8) & 0xffffu)
#define PCI_ADDRESS_REG(a) ((a)&0xfcu)

/*
 * The bridge's type-0 header, read-only (the rest of its space reads as
 * zero): Red Hat's vendor id with QEMU's PCIe host bridge device id, as its
 * q35 uses, and class 06/00/00 (bridge, host).
 */
static const uint8_t host_header[64] = {
	[0x00] = 0x36, [0x01] = 0x1b, /* vendor 0x1b36 */
	[0x02] = 0x08, [0x03] = 0x00, /* device 0x0008 */
	[0x0a] = 0x00, [0x0b] = 0x06, /* subclass, class */
};

struct pci_host {
	struct device dev;
	uint32_t address; /* CONFIG_ADDRESS, the only state */
};

static void address_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_host *h = opaque;

	/* Only whole-dword accesses reach CONFIG_ADDRESS; Linux's type-1 probe relies on that. */
	if (offset != 0 || len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		memcpy(&h->address, data, 4);
	else
		memcpy(data, &h->address, 4);
}

static void data_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_host *h = opaque;
	unsigned reg = PCI_ADDRESS_REG(h->address) + (unsigned)offset;
	bool host = (h->address & PCI_ADDRESS_ENABLE) && PCI_ADDRESS_BDF(h->address) == 0;

	/* The header is read-only here: BARs size as unimplemented, commands stick to none. */
	if (is_write)
		return;
	for (unsigned i = 0; i < len; i++) {
		if (!host)
			data[i] = 0xff; /* no device: all ones */
		else
			data[i] = reg + i < sizeof(host_header) ? host_header[reg + i] : 0;
	}
}

static int pci_host_realize(struct device *dev, struct err *err)
{
	struct pci_host *h = (struct pci_host *)dev;
	int rc;

	rc = io_bus_register(&dev->vm->pio, PCI_CONFIG_ADDRESS, 4, address_io, h, "pci-address",
			     err);
	if (rc < 0)
		return rc;
	return io_bus_register(&dev->vm->pio, PCI_CONFIG_DATA, 4, data_io, h, "pci-data", err);
}

static void pci_host_destroy(struct device *dev)
{
	free(dev);
}

static const struct device_ops pci_host_ops = {
	.type = "pci-host",
	.realize = pci_host_realize,
	.destroy = pci_host_destroy,
};

struct device *pci_host_create(struct vm *vm, struct err *err)
{
	struct pci_host *h = calloc(1, sizeof(*h));

	if (!h) {
		err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	h->dev = (struct device){.ops = &pci_host_ops, .vm = vm, .name = "pci-host"};
	vm_add_device(vm, &h->dev);
	return &h->dev;
}
