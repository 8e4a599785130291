/*
 * fuzz/fuzz_vdev.h: a VM without an engine or an I/O thread for the device
 * targets (fuzz_net.c, fuzz_vsock.c): the device is never realized, and the
 * target runs its queue handlers itself, on its own thread, so every run is
 * deterministic. The rings and buffers come from the input.
 */
#ifndef KITE_FUZZ_VDEV_H
#define KITE_FUZZ_VDEV_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "virtio/virtio.h"
#include "vm/vm.h"

/* Guest RAM the input is copied to; descriptor addresses may be folded into FV_FOLD. */
#define FV_INPUT_GPA 0x1000ull
#define FV_INPUT_MAX 0x3f000ull
#define FV_USED_GPA 0x40000ull /* used rings: 0x1000 apart, out of the input's reach */
#define FV_FOLD 0xfffffull

static void fv_irq_set(struct vm *vm, unsigned gsi, int level)
{
	(void)vm;
	(void)gsi;
	(void)level;
}

/* A device writing outside guest RAM is the bug this looks for first. */
static void fv_memory_written(struct vm *vm, const void *hva, uint64_t len)
{
	if ((const uint8_t *)hva < vm->mem.base || len > vm->mem.ram_size ||
	    (const uint8_t *)hva + len > vm->mem.base + vm->mem.ram_size)
		abort();
}

static const struct engine_ops fv_engine = {
	.name = "fuzz",
	.irq_set = fv_irq_set,
	.memory_written = fv_memory_written,
};

static inline struct vm *fv_vm_new(void)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	struct err err = { 0 };

	if (!vm)
		abort();
	log_set_level(LOG_OFF);
	io_bus_init(&vm->pio, "pio");
	io_bus_init(&vm->mmio, "mmio");
	vm->engine = &fv_engine;
	vm->stop_eventfd = -1;
	if (memory_init(&vm->mem, MEM_MIN_SIZE, &err) < 0)
		abort();
	return vm;
}

/* The ring area of a queue of num entries: its table, then its avail ring. */
static inline uint64_t fv_ring_bytes(unsigned num)
{
	return (16ull * num + 6 + 2ull * num + 15) & ~15ull;
}

/* Copies the input to guest RAM at FV_INPUT_GPA (the rest of the area zeroed). */
static inline size_t fv_load(struct vm *vm, const uint8_t *data, size_t size)
{
	size_t n = size < FV_INPUT_MAX ? size : FV_INPUT_MAX;

	memset(vm->mem.base, 0, FV_USED_GPA + 0x1000ull * VIRTIO_MAX_QUEUES);
	memcpy(vm->mem.base + FV_INPUT_GPA, data, n);
	return n;
}

/* Folds the addresses of a descriptor table in RAM into low memory (so most are RAM). */
static inline void fv_fold(struct vm *vm, uint64_t table, unsigned num)
{
	for (unsigned i = 0; i < num; i++) {
		uint8_t *p = vm->mem.base + table + 16ull * i;
		uint64_t addr;

		memcpy(&addr, p, 8);
		addr &= FV_FOLD;
		memcpy(p, &addr, 8);
	}
}

/* The driver's part of the transport, done directly: features, then DRIVER_OK. */
static inline void fv_driver_ok(struct virtio_dev *vdev, uint64_t features)
{
	vdev->driver_features = (features | (1ull << VIRTIO_F_VERSION_1)) & vdev->device_features;
	__atomic_store_n(&vdev->status,
			 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK,
			 __ATOMIC_RELEASE);
}

/* Queue i of num entries with its table at desc and its avail ring right after it. */
static inline void fv_queue(struct virtio_dev *vdev, unsigned i, unsigned num, uint64_t desc)
{
	struct virtq *vq = &vdev->queues[i];

	vq->num = num;
	vq->desc_gpa = desc;
	vq->avail_gpa = desc + 16ull * num;
	vq->used_gpa = FV_USED_GPA + 0x1000ull * i;
	vq->event_idx = vdev->driver_features & (1ull << VIRTIO_F_RING_EVENT_IDX);
	vq->indirect = vdev->driver_features & (1ull << VIRTIO_F_RING_INDIRECT_DESC);
	if (virtq_map(vq, &vdev->dev.vm->mem, NULL) < 0)
		abort();
	vq->ready = true;
}

/* Runs the device's handler for queue i, as the I/O thread would on a notify. */
static inline void fv_notify(struct virtio_dev *vdev, unsigned i)
{
	struct virtq *vq = &vdev->queues[i];

	pthread_mutex_lock(&vq->lock);
	if (virtio_queue_active(vdev, vq))
		vdev->ops->queue_notify(vdev, vq);
	pthread_mutex_unlock(&vq->lock);
}

/*
 * After a handler returns, every chain it took is back in the used ring (a
 * kept one would make a reset or a pause wait forever). The used ring
 * itself is guest memory the input may point buffers at, so it proves
 * nothing: the device's own indices are what is checked.
 */
static inline void fv_check_idle(struct virtio_dev *vdev, unsigned i)
{
	struct virtq *vq = &vdev->queues[i];

	if (vq->in_flight || (uint16_t)(vq->last_avail - vq->used_idx) > vq->num)
		abort();
	if (!vq->broken && vq->used_idx != vq->last_avail)
		abort();
}

/* Back to power-on, as a driver writing status 0 would: queues drained and cleared. */
static inline void fv_reset(struct virtio_dev *vdev)
{
	vdev->dev.ops->reset(&vdev->dev);
	for (unsigned i = 0; i < vdev->ops->nr_queues; i++)
		if (vdev->queues[i].in_flight || vdev->queues[i].ready)
			abort();
}

#endif
