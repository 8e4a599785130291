/*
 * devices/testdev.c: the test devices of kvm-unit-tests, as QEMU's
 * "-device isa-debug-exit,iobase=0xf4,iosize=4 -device pc-testdev" and its
 * fw_cfg give them; only with --testdev.
 *
 *   0xf4-0xf7    isa-debug-exit: a write of v stops kite with status (v << 1) | 1
 *   0xe0-0xe3    a 32-bit latch, read back as written, at any width
 *   0xe4-0xe7    "flush this page": nothing to do in kite
 *   0xe8-0xeb    the same latch again
 *   0x2000-0x2017  a write sets ISA interrupt line n to (value != 0)
 *   0x510, 0x511 fw_cfg: a 16-bit item selector, then the item byte by byte
 *   0xff000000   64 KiB of memory-like MMIO
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "devices/devices.h"
#include "vm/vm.h"

#define DEBUG_EXIT_PORT 0xf4
#define LATCH_PORT	0xe0
#define FLUSH_PORT	0xe4
#define LATCH_BYTE_PORT 0xe8
#define IRQ_PORT	0x2000
#define IRQ_LINES	24
#define FW_CFG_PORT	0x510 /* selector; data at +1 */
#define IOMEM_BASE	0xff000000ull
#define IOMEM_LEN	0x10000u

/* fw_cfg items (QEMU's docs/specs/fw_cfg.rst) */
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID	 0x01
#define FW_CFG_RAM_SIZE	 0x03
#define FW_CFG_NOGRAPHIC 0x04
#define FW_CFG_NB_CPUS	 0x05
#define FW_CFG_MAX_CPUS	 0x0f
#define FW_CFG_FILE_DIR	 0x19 /* a big-endian count of files: none */
#define FW_CFG_ID_TRADITIONAL 1u /* the port interface; no DMA */
#define FW_CFG_ITEM_MAX	 8

#define TESTDEV_STATE_VERSION 1

struct testdev {
	struct device dev;
	pthread_mutex_t lock; /* everything below: vCPUs access the ports concurrently */
	uint32_t latch;
	uint16_t fw_cfg_key;
	uint32_t fw_cfg_offset;
	uint8_t iomem[IOMEM_LEN];
};

static void debug_exit_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			  bool is_write)
{
	struct testdev *t = opaque;
	uint32_t v = 0;

	if (!is_write || offset) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	memcpy(&v, data, len < 4 ? len : 4);
	vm_request_debug_exit(t->dev.vm, (int)(((uint64_t)v << 1 | 1) & 0xff));
}

/* The latch takes and gives any bytes of its four, at any width. */
static void latch_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct testdev *t = opaque;
	uint8_t bytes[4];

	pthread_mutex_lock(&t->lock);
	memcpy(bytes, &t->latch, 4);
	for (unsigned i = 0; i < len; i++) {
		if (offset + i >= 4) {
			if (!is_write)
				data[i] = 0xff;
		} else if (is_write) {
			bytes[offset + i] = data[i];
		} else {
			data[i] = bytes[offset + i];
		}
	}
	memcpy(&t->latch, bytes, 4);
	pthread_mutex_unlock(&t->lock);
}

static void flush_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	(void)opaque;
	(void)offset;
	/* Guest RAM is plain host memory here: there is no mapping to drop. */
	if (!is_write)
		memset(data, 0xff, len);
}

static void irq_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct testdev *t = opaque;

	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	/* Byte writes, one line each; a wider one sets the lines it covers. */
	for (unsigned i = 0; i < len && offset + i < IRQ_LINES; i++)
		vm_irq_set(t->dev.vm, (unsigned)(offset + i), data[i] != 0);
}

/* The selected item's bytes; 0 when the selector names nothing. */
static unsigned fw_cfg_item(const struct testdev *t, uint8_t item[FW_CFG_ITEM_MAX])
{
	const struct vm *vm = t->dev.vm;
	uint64_t v;

	memset(item, 0, FW_CFG_ITEM_MAX);
	switch (t->fw_cfg_key) {
	case FW_CFG_SIGNATURE:
		memcpy(item, "QEMU", 4);
		return 4;
	case FW_CFG_ID:
		v = FW_CFG_ID_TRADITIONAL;
		memcpy(item, &v, 4);
		return 4;
	case FW_CFG_RAM_SIZE:
		v = vm->mem.ram_size;
		memcpy(item, &v, 8);
		return 8;
	case FW_CFG_NOGRAPHIC:
		item[0] = 1;
		return 2;
	case FW_CFG_NB_CPUS:
	case FW_CFG_MAX_CPUS:
		v = vm->nr_vcpus;
		memcpy(item, &v, 2);
		return 2;
	case FW_CFG_FILE_DIR:
		return 4; /* zero files, big-endian */
	default:
		return 0;
	}
}

static void fw_cfg_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct testdev *t = opaque;
	uint8_t item[FW_CFG_ITEM_MAX];
	unsigned size;

	pthread_mutex_lock(&t->lock);
	if (offset == 0) {
		/* The selector: a new item, read from its start. */
		if (is_write && len >= 2) {
			memcpy(&t->fw_cfg_key, data, 2);
			t->fw_cfg_offset = 0;
		} else if (!is_write) {
			memset(data, 0, len);
		}
	} else if (!is_write) {
		/* Past the end of an item, and for unknown items, zeros. */
		size = fw_cfg_item(t, item);
		for (unsigned i = 0; i < len; i++) {
			data[i] = t->fw_cfg_offset < size ? item[t->fw_cfg_offset] : 0;
			if (t->fw_cfg_offset < UINT32_MAX)
				t->fw_cfg_offset++;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

static void iomem_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct testdev *t = opaque;

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < len; i++) {
		if (offset + i >= IOMEM_LEN) {
			if (!is_write)
				data[i] = 0xff;
		} else if (is_write) {
			t->iomem[offset + i] = data[i];
		} else {
			data[i] = t->iomem[offset + i];
		}
	}
	pthread_mutex_unlock(&t->lock);
}

static int testdev_realize(struct device *dev, struct err *err)
{
	struct vm *vm = dev->vm;
	static const struct {
		uint16_t port, len;
		io_handler_fn fn;
		const char *name;
	} ports[] = {
	    {DEBUG_EXIT_PORT, 4, debug_exit_io, "isa-debug-exit"},
	    {LATCH_PORT, 4, latch_io, "pc-testdev latch"},
	    {FLUSH_PORT, 4, flush_io, "pc-testdev flush"},
	    {LATCH_BYTE_PORT, 4, latch_io, "pc-testdev latch"},
	    {IRQ_PORT, IRQ_LINES, irq_io, "pc-testdev irq"},
	    {FW_CFG_PORT, 2, fw_cfg_io, "fw_cfg"},
	};
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(ports); i++) {
		rc = io_bus_register(&vm->pio, ports[i].port, ports[i].len, ports[i].fn, dev,
				     ports[i].name, err);
		if (rc < 0)
			return rc;
	}
	return io_bus_register(&vm->mmio, IOMEM_BASE, IOMEM_LEN, iomem_io, dev,
			       "pc-testdev iomem", err);
}

static void testdev_reset(struct device *dev)
{
	struct testdev *t = (struct testdev *)dev;

	pthread_mutex_lock(&t->lock);
	t->latch = 0;
	t->fw_cfg_key = 0;
	t->fw_cfg_offset = 0;
	memset(t->iomem, 0, sizeof(t->iomem));
	pthread_mutex_unlock(&t->lock);
}

static int testdev_save(struct device *dev, struct state_writer *w)
{
	struct testdev *t = (struct testdev *)dev;

	state_section_begin(w, "testdev", TESTDEV_STATE_VERSION);
	state_put_u32(w, t->latch);
	state_put_u16(w, t->fw_cfg_key);
	state_put_u32(w, t->fw_cfg_offset);
	state_put_bytes(w, t->iomem, sizeof(t->iomem));
	state_section_end(w);
	return w->error;
}

/* Every value is as good as any other: the guest could have written it. */
static int testdev_load(struct device *dev, struct state_reader *r, struct err *err)
{
	struct testdev *t = (struct testdev *)dev;
	uint32_t version;
	int rc;

	rc = state_section_open(r, "testdev", TESTDEV_STATE_VERSION, &version, err);
	if (rc < 0)
		return rc;
	t->latch = state_get_u32(r);
	t->fw_cfg_key = state_get_u16(r);
	t->fw_cfg_offset = state_get_u32(r);
	state_get_bytes(r, t->iomem, sizeof(t->iomem));
	return state_section_close(r, err);
}

static void testdev_destroy(struct device *dev)
{
	struct testdev *t = (struct testdev *)dev;

	pthread_mutex_destroy(&t->lock);
	free(t);
}

static const struct device_ops testdev_ops = {
	.type = "testdev",
	.realize = testdev_realize,
	.reset = testdev_reset,
	.save = testdev_save,
	.load = testdev_load,
	.destroy = testdev_destroy,
};

struct device *testdev_create(struct vm *vm, struct err *err)
{
	struct testdev *t = calloc(1, sizeof(*t));

	if (!t) {
		err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	t->dev = (struct device){.ops = &testdev_ops, .vm = vm, .name = "testdev"};
	pthread_mutex_init(&t->lock, NULL);
	vm_add_device(vm, &t->dev);
	return &t->dev;
}
