/* virtio/mmio.c: the virtio-mmio transport (version 2) and the device lifecycle. */
#include "virtio/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/util.h"
#include "bus/bus.h"
#include "vm/vm.h"

#define VIRTIO_MMIO_STATE_VERSION 1

#define STATUS_DRIVER_BITS                                                   \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK | \
	 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_FAILED)

static struct virtio_dev *to_vdev(struct device *dev)
{
	return container_of(dev, struct virtio_dev, dev);
}

/* ---- interrupt -------------------------------------------------------- */

/* Caller holds irq_lock. */
static void irq_line_assert(struct virtio_dev *vdev)
{
	uint64_t one = 1;

	counter_add(&vdev->stats.interrupts, 1);
	if (vdev->irq_trigger_fd < 0) {
		vm_irq_set(vdev->dev.vm, vdev->gsi, 1);
		return;
	}
	/* Only EAGAIN (counter full) can fail, and then a signal is pending anyway. */
	if (write(vdev->irq_trigger_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "%s: cannot signal irqfd: %s", vdev->name,
				strerror(errno));
}

/*
 * The line follows InterruptStatus != 0: level-triggered, active high. With
 * an irqfd the engine lowers it at the guest's EOI and asks (irq_resampled)
 * whether it is still asserted, so an acknowledge does not lower it here.
 */
void virtio_irq_raise(struct virtio_dev *vdev, uint32_t bits)
{
	pthread_mutex_lock(&vdev->irq_lock);
	if (!vdev->isr && bits)
		irq_line_assert(vdev);
	vdev->isr |= bits;
	pthread_mutex_unlock(&vdev->irq_lock);
}

static void irq_ack(struct virtio_dev *vdev, uint32_t bits)
{
	pthread_mutex_lock(&vdev->irq_lock);
	if (vdev->isr && !(vdev->isr & ~bits) && vdev->irq_trigger_fd < 0)
		vm_irq_set(vdev->dev.vm, vdev->gsi, 0);
	vdev->isr &= ~bits;
	pthread_mutex_unlock(&vdev->irq_lock);
}

/* I/O thread: the guest ended an interrupt of this line, which the engine lowered. */
static void irq_resampled(void *opaque)
{
	struct virtio_dev *vdev = opaque;

	pthread_mutex_lock(&vdev->irq_lock);
	if (vdev->isr)
		irq_line_assert(vdev);
	pthread_mutex_unlock(&vdev->irq_lock);
}

/* Falls back to irq_set (returning 0) when the engine has no irqfd or it fails. */
static int irq_line_init(struct virtio_dev *vdev, struct err *err)
{
	struct vm *vm = vdev->dev.vm;
	int trigger, resample, rc;

	if (!vm->engine || !vm->engine->irqfd_set)
		return 0;
	trigger = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	resample = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (trigger < 0 || resample < 0) {
		rc = err_set(err, -errno, "%s: eventfd: %s", vdev->name, strerror(errno));
		goto err_close;
	}
	rc = vm->engine->irqfd_set(vm, vdev->gsi, trigger, resample);
	if (rc < 0) {
		log_debug("%s: no irqfd for GSI %u (%s); interrupts are raised by kite",
			  vdev->name, vdev->gsi, strerror(-rc));
		close(trigger);
		close(resample);
		return 0;
	}
	/* The engine holds its own references; ours close with the device. */
	vdev->irq_trigger_fd = trigger;
	vdev->irq_resample_fd = resample;
	return iothread_add(vdev->io, resample, irq_resampled, vdev, err);
err_close:
	if (trigger >= 0)
		close(trigger);
	if (resample >= 0)
		close(resample);
	return rc;
}

static uint32_t irq_status(struct virtio_dev *vdev)
{
	uint32_t isr;

	pthread_mutex_lock(&vdev->irq_lock);
	isr = vdev->isr;
	pthread_mutex_unlock(&vdev->irq_lock);
	return isr;
}

/* ---- queues ----------------------------------------------------------- */

void virtio_dma_written(struct virtio_dev *vdev, const struct iovec *iov, unsigned n,
			uint64_t len)
{
	for (unsigned i = 0; i < n && len; i++) {
		uint64_t part = iov[i].iov_len < len ? iov[i].iov_len : len;

		vm_memory_written(vdev->dev.vm, iov[i].iov_base, part);
		len -= part;
	}
}

bool virtio_queue_active(struct virtio_dev *vdev, struct virtq *vq)
{
	return vq->ready && vq->desc && !vq->broken && !atomic_load(&vdev->paused) &&
	       (__atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE) & VIRTIO_STATUS_DRIVER_OK);
}

void virtio_queue_kick(struct virtq *vq)
{
	uint64_t one = 1;

	if (vq->notify_fd >= 0 && write(vq->notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "virtio: queue notify: %s", strerror(errno));
}

void virtio_config_changed(struct device *dev)
{
	struct virtio_dev *vdev = container_of(dev, struct virtio_dev, dev);

	/* A driver that has not finished its set-up reads the config space anyway. */
	if (__atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE) & VIRTIO_STATUS_DRIVER_OK)
		virtio_irq_raise(vdev, VIRTIO_INT_CONFIG);
}

void virtio_queue_fail(struct virtio_dev *vdev, struct virtq *vq, const char *why)
{
	vq->broken = true;
	counter_add(&vdev->stats.queue_errors, 1);
	log_ratelimited(LOG_WARN, "%s: queue %u: %s; device needs reset", vdev->name, vq->index,
			why);
	atomic_store(&vdev->needs_reset, true);
	virtio_irq_raise(vdev, VIRTIO_INT_CONFIG);
}

int virtio_queue_pop(struct virtio_dev *vdev, struct virtq *vq, struct virtq_chain *c)
{
	const char *why;
	int rc;

	/* A compliant driver never has more than num chains out; a hostile one waits. */
	if (vq->in_flight >= vq->num) {
		vq->throttled = true;
		return 0;
	}
	rc = virtq_pop(vq, c, &why);
	if (rc < 0)
		virtio_queue_fail(vdev, vq, why);
	else if (rc > 0)
		counter_add(&vdev->stats.requests, 1);
	return rc;
}

void virtio_queue_drop(struct virtio_dev *vdev, struct virtq *vq, const char *why)
{
	if (vq->in_flight && --vq->in_flight == 0)
		pthread_cond_broadcast(&vq->idle);
	virtio_queue_fail(vdev, vq, why);
}

void virtio_queue_push(struct virtio_dev *vdev, struct virtq *vq, uint16_t head, uint32_t len)
{
	virtio_queue_push_many(vdev, vq, &head, &len, 1);
}

void virtio_queue_push_many(struct virtio_dev *vdev, struct virtq *vq, const uint16_t *heads,
			    const uint32_t *lens, unsigned n)
{
	/* A failed queue is not touched again; its in-flight work only drains. */
	if (vq->broken) {
		vq->in_flight = vq->in_flight > n ? vq->in_flight - n : 0;
		if (!vq->in_flight)
			pthread_cond_broadcast(&vq->idle);
		return;
	}
	virtq_push_many(vq, heads, lens, n);
	if (vq->in_flight == 0)
		pthread_cond_broadcast(&vq->idle);
	if (vq->throttled) {
		vq->throttled = false;
		virtio_queue_kick(vq);
	}
	if (virtq_should_interrupt(vq))
		virtio_irq_raise(vdev, VIRTIO_INT_USED);
}

void virtio_queue_unpop(struct virtio_dev *vdev, struct virtq *vq, unsigned n)
{
	(void)vdev;
	if (vq->broken) {
		vq->in_flight = vq->in_flight > n ? vq->in_flight - n : 0;
	} else {
		virtq_unpop(vq, n);
		/* The chains that made the queue look full are back with the driver. */
		vq->throttled = false;
	}
	if (!vq->in_flight)
		pthread_cond_broadcast(&vq->idle);
}

void virtio_queue_complete(struct virtio_dev *vdev, struct virtq *vq, uint16_t head,
			   uint32_t len)
{
	pthread_mutex_lock(&vq->lock);
	virtio_queue_push(vdev, vq, head, len);
	pthread_mutex_unlock(&vq->lock);
}

/* The I/O thread's handler for a queue's notify eventfd (or the vCPU's, see notify_on_vcpu). */
/* Runs vq's handler under its lock if vq is active; false when it is not. */
static bool queue_run(struct virtq *vq)
{
	struct virtio_dev *vdev = vq->vdev;
	bool active;

	pthread_mutex_lock(&vq->lock);
	active = virtio_queue_active(vdev, vq);
	if (active)
		vdev->ops->queue_notify(vdev, vq);
	pthread_mutex_unlock(&vq->lock);
	return active;
}

static void queue_notified(void *opaque)
{
	struct virtq *vq = opaque;

	if (queue_run(vq))
		counter_add(&vq->vdev->stats.notifies, 1);
}

void virtio_queue_run(void *vq)
{
	queue_run(vq);
}

bool virtio_limit_pay(struct ratelimit *rl, struct iothread_timer *t, _Atomic uint64_t *throttled,
		      uint64_t bytes)
{
	uint64_t wait;

	if (!ratelimit_enabled(rl))
		return true;
	wait = ratelimit_consume(rl, bytes, clock_monotonic_ns());
	if (!wait)
		return true;
	counter_add(throttled, 1);
	iothread_timer_arm(t, wait);
	return false;
}

void virtio_queue_set_limit(struct virtq *vq, struct ratelimit *rl,
			    const struct ratelimit_config *cfg)
{
	pthread_mutex_lock(&vq->lock);
	ratelimit_init(rl, cfg, clock_monotonic_ns());
	pthread_mutex_unlock(&vq->lock);
	/* A request may be waiting on the old bucket's timer, or a back-end on a full guest. */
	virtio_queue_kick(vq);
}

/* Waits until every popped chain of vq was pushed. Caller holds vq->lock. */
static void queue_drain(struct virtq *vq)
{
	while (vq->in_flight)
		pthread_cond_wait(&vq->idle, &vq->lock);
}

static void queue_clear(struct virtq *vq)
{
	vq->num = 0;
	vq->ready = false;
	vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
	vq->desc = vq->avail = vq->used = NULL;
	vq->broken = false;
	vq->throttled = false;
	vq->last_avail = vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_valid = false;
	vq->in_flight = 0;
}

/* Called with vdev->lock held: the driver's configuration becomes live. */
static void queue_set_ready(struct virtio_dev *vdev, struct virtq *vq, uint32_t val)
{
	struct err err = { 0 };

	pthread_mutex_lock(&vq->lock);
	if (!val) {
		/* The driver takes the queue back: finish what it gave us first. */
		vq->ready = false;
		queue_drain(vq);
		vq->desc = vq->avail = vq->used = NULL;
	} else if (!vq->ready) {
		vq->event_idx = vdev->driver_features & (1ull << VIRTIO_F_RING_EVENT_IDX);
		vq->indirect = vdev->driver_features & (1ull << VIRTIO_F_RING_INDIRECT_DESC);
		if (virtq_map(vq, &vdev->dev.vm->mem, &err) < 0) {
			virtio_queue_fail(vdev, vq, err.msg);
			pthread_mutex_unlock(&vq->lock);
			return;
		}
		vq->ready = true;
		vq->last_avail = vq->used_idx = 0;
		vq->signalled_valid = false;
	}
	pthread_mutex_unlock(&vq->lock);
	if (val)
		virtio_queue_kick(vq);
}

/* ---- registers -------------------------------------------------------- */

static struct virtq *queue_selected(struct virtio_dev *vdev)
{
	return vdev->queue_sel < vdev->ops->nr_queues ? &vdev->queues[vdev->queue_sel] : NULL;
}

/* Device reset: drain, then everything back to power-on. vdev->lock held. */
static void dev_reset(struct virtio_dev *vdev)
{
	for (unsigned i = 0; i < vdev->ops->nr_queues; i++) {
		struct virtq *vq = &vdev->queues[i];

		pthread_mutex_lock(&vq->lock);
		vq->ready = false;
		queue_drain(vq);
		queue_clear(vq);
		pthread_mutex_unlock(&vq->lock);
	}
	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	vdev->driver_features = 0;
	vdev->device_features_sel = vdev->driver_features_sel = 0;
	vdev->queue_sel = 0;
	__atomic_store_n(&vdev->status, 0, __ATOMIC_RELEASE);
	atomic_store(&vdev->needs_reset, false);
	irq_ack(vdev, ~0u);
}

static bool features_acceptable(const struct virtio_dev *vdev)
{
	uint64_t f = vdev->driver_features;

	return !(f & ~vdev->device_features) && (f & (1ull << VIRTIO_F_VERSION_1));
}

static void status_write(struct virtio_dev *vdev, uint32_t val)
{
	uint32_t old = vdev->status;

	if (val == 0) {
		dev_reset(vdev);
		return;
	}
	/* The driver only adds bits (virtio 1.2, 2.1.2); NEEDS_RESET is ours. */
	val = (val & STATUS_DRIVER_BITS) | old;
	if ((val & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !features_acceptable(vdev)) {
		log_ratelimited(LOG_INFO, "%s: driver features %#llx refused", vdev->name,
				(unsigned long long)vdev->driver_features);
		val &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(val & VIRTIO_STATUS_FEATURES_OK))
		val &= ~VIRTIO_STATUS_DRIVER_OK;
	__atomic_store_n(&vdev->status, val, __ATOMIC_RELEASE);
	/* Buffers the driver queued before DRIVER_OK are processed now. */
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
		for (unsigned i = 0; i < vdev->ops->nr_queues; i++)
			virtio_queue_kick(&vdev->queues[i]);
}

static uint32_t reg_read(struct virtio_dev *vdev, uint64_t off)
{
	struct virtq *vq = queue_selected(vdev);
	uint64_t f = vdev->device_features;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VIRTIO_MMIO_VERSION_2;
	case VIRTIO_MMIO_DEVICE_ID:
		return vdev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_VENDOR_KITE;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return vdev->device_features_sel < 2 ? (uint32_t)(f >> (32 * vdev->device_features_sel)) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return vq ? VIRTQ_MAX_SIZE : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return vq ? vq->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return irq_status(vdev);
	case VIRTIO_MMIO_STATUS:
		return vdev->status | (atomic_load(&vdev->needs_reset) ? VIRTIO_STATUS_NEEDS_RESET : 0);
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return vdev->config_generation;
	default:
		return 0; /* write-only and reserved registers */
	}
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	*v = high ? (*v & 0xffffffffull) | ((uint64_t)val << 32)
		  : (*v & ~0xffffffffull) | val;
}

/* Queue configuration registers: only while the queue is not ready. */
static void queue_reg_write(struct virtio_dev *vdev, uint64_t off, uint32_t val)
{
	struct virtq *vq = queue_selected(vdev);

	if (!vq)
		return;
	if (off == VIRTIO_MMIO_QUEUE_READY) {
		queue_set_ready(vdev, vq, val);
		return;
	}
	pthread_mutex_lock(&vq->lock);
	if (vq->ready)
		goto out_unlock;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		vq->num = val;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_half(&vq->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		set_half(&vq->avail_gpa, off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, val);
		break;
	default:
		set_half(&vq->used_gpa, off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, val);
		break;
	}
out_unlock:
	pthread_mutex_unlock(&vq->lock);
}

/* Returns the queue to notify once vdev->lock is dropped, if the device takes it on the vCPU. */
static struct virtq *reg_write(struct virtio_dev *vdev, uint64_t off, uint32_t val)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		vdev->device_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* Features are fixed once FEATURES_OK was accepted. */
		if (vdev->driver_features_sel < 2 && !(vdev->status & VIRTIO_STATUS_FEATURES_OK))
			set_half(&vdev->driver_features, vdev->driver_features_sel == 1, val);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		vdev->driver_features_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		vdev->queue_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		queue_reg_write(vdev, off, val);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if (val >= vdev->ops->nr_queues)
			break;
		/* Without a trip through the I/O thread: one wake-up less per request. */
		if (vdev->ops->notify_on_vcpu)
			return &vdev->queues[val];
		virtio_queue_kick(&vdev->queues[val]);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		irq_ack(vdev, val);
		break;
	case VIRTIO_MMIO_STATUS:
		status_write(vdev, val);
		break;
	default:
		break; /* read-only and reserved registers */
	}
	return NULL;
}

static void config_access(struct virtio_dev *vdev, uint64_t off, uint8_t *data, unsigned len,
			  bool is_write)
{
	if (len == 8 || !range_within(off, len, vdev->config_len)) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	/* Our config spaces are read-only; the driver's writes are dropped. */
	if (!is_write)
		memcpy(data, vdev->config + off, len);
}

/* Runs on vCPU threads. Registers take aligned 32-bit accesses only. */
static void mmio_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct virtio_dev *vdev = opaque;
	struct virtq *notify = NULL;
	uint32_t val;

	pthread_mutex_lock(&vdev->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		config_access(vdev, offset - VIRTIO_MMIO_CONFIG, data, len, is_write);
	} else if (len != 4 || (offset & 3)) {
		if (!is_write)
			memset(data, 0, len);
		log_ratelimited(LOG_DEBUG, "%s: %u-byte access at %#llx ignored", vdev->name, len,
				(unsigned long long)offset);
	} else if (is_write) {
		memcpy(&val, data, 4);
		notify = reg_write(vdev, offset, val);
	} else {
		val = reg_read(vdev, offset);
		memcpy(data, &val, 4);
	}
	pthread_mutex_unlock(&vdev->lock);
	if (notify)
		queue_notified(notify);
}

/* ---- lifecycle -------------------------------------------------------- */

static int vdev_realize(struct device *dev, struct err *err)
{
	struct virtio_dev *vdev = to_vdev(dev);
	struct vm *vm = dev->vm;
	int rc;

	rc = io_bus_register(&vm->mmio, vdev->base, VIRTIO_MMIO_SIZE, mmio_io, vdev, vdev->name,
			     err);
	if (rc < 0)
		return rc;
	rc = irq_line_init(vdev, err);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < vdev->ops->nr_queues; i++) {
		struct virtq *vq = &vdev->queues[i];

		rc = iothread_add(vdev->io, vq->notify_fd, queue_notified, vq, err);
		if (rc < 0)
			return rc;
		/* With an ioeventfd the vCPU signals the eventfd without leaving the engine. */
		if (vm->engine && vm->engine->ioeventfd_set &&
		    vm->engine->ioeventfd_set(vm, vdev->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, i,
					      vq->notify_fd, true) < 0)
			log_debug("%s: no ioeventfd for queue %u; notifies exit to kite",
				  vdev->name, i);
	}
	return vdev->ops->realize ? vdev->ops->realize(vdev, err) : 0;
}

static void vdev_reset(struct device *dev)
{
	struct virtio_dev *vdev = to_vdev(dev);

	pthread_mutex_lock(&vdev->lock);
	dev_reset(vdev);
	pthread_mutex_unlock(&vdev->lock);
}

/* Stops processing and waits for in-flight requests (their I/O completes). */
static void vdev_pause(struct device *dev)
{
	struct virtio_dev *vdev = to_vdev(dev);

	atomic_store(&vdev->paused, true);
	for (unsigned i = 0; i < vdev->ops->nr_queues; i++) {
		struct virtq *vq = &vdev->queues[i];

		/* Taking the lock waits out a queue_notify already running. */
		pthread_mutex_lock(&vq->lock);
		queue_drain(vq);
		pthread_mutex_unlock(&vq->lock);
	}
}

static void vdev_resume(struct device *dev)
{
	struct virtio_dev *vdev = to_vdev(dev);

	atomic_store(&vdev->paused, false);
	/* Notifications that arrived while paused were dropped; look again. */
	for (unsigned i = 0; i < vdev->ops->nr_queues; i++)
		virtio_queue_kick(&vdev->queues[i]);
}

static void queue_save(struct state_writer *w, const struct virtq *vq)
{
	state_put_u32(w, vq->num);
	state_put_u8(w, vq->ready);
	state_put_u8(w, vq->broken);
	state_put_u64(w, vq->desc_gpa);
	state_put_u64(w, vq->avail_gpa);
	state_put_u64(w, vq->used_gpa);
	state_put_u16(w, vq->last_avail);
	state_put_u16(w, vq->used_idx);
	state_put_u16(w, vq->signalled_used);
	state_put_u8(w, vq->signalled_valid);
}

/* Saved while paused: nothing is in flight, so the indices are the whole story. */
static int vdev_save(struct device *dev, struct state_writer *w)
{
	struct virtio_dev *vdev = to_vdev(dev);
	int rc = 0;

	pthread_mutex_lock(&vdev->lock);
	state_section_begin(w, "virtio-mmio", VIRTIO_MMIO_STATE_VERSION);
	state_put_u32(w, vdev->ops->device_id);
	state_put_u32(w, vdev->ops->nr_queues);
	state_put_u64(w, vdev->device_features);
	state_put_u64(w, vdev->driver_features);
	state_put_u32(w, vdev->device_features_sel);
	state_put_u32(w, vdev->driver_features_sel);
	state_put_u32(w, vdev->queue_sel);
	state_put_u32(w, vdev->status);
	state_put_u8(w, atomic_load(&vdev->needs_reset));
	state_put_u32(w, irq_status(vdev));
	state_put_u32(w, vdev->config_generation);
	for (unsigned i = 0; i < vdev->ops->nr_queues; i++) {
		pthread_mutex_lock(&vdev->queues[i].lock);
		queue_save(w, &vdev->queues[i]);
		pthread_mutex_unlock(&vdev->queues[i].lock);
	}
	state_section_end(w);
	if (vdev->ops->save)
		rc = vdev->ops->save(vdev, w);
	pthread_mutex_unlock(&vdev->lock);
	return rc < 0 ? rc : w->error;
}

struct loaded {
	uint64_t driver_features;
	uint32_t device_features_sel, driver_features_sel, queue_sel, status, isr, generation;
	uint8_t needs_reset;
	struct virtq q[VIRTIO_MAX_QUEUES];
};

static void queue_load(struct state_reader *r, struct virtq *q, uint8_t *ready, uint8_t *broken,
		       uint8_t *sig_valid)
{
	q->num = state_get_u32(r);
	*ready = state_get_u8(r);
	*broken = state_get_u8(r);
	q->desc_gpa = state_get_u64(r);
	q->avail_gpa = state_get_u64(r);
	q->used_gpa = state_get_u64(r);
	q->last_avail = state_get_u16(r);
	q->used_idx = state_get_u16(r);
	q->signalled_used = state_get_u16(r);
	*sig_valid = state_get_u8(r);
}

/* Every field is untrusted: a bad one rejects the whole section. */
static int loaded_check(struct virtio_dev *vdev, struct loaded *s, const uint8_t *ready,
			const uint8_t *broken, const uint8_t *sig_valid, struct err *err)
{
	uint32_t st = s->status;

	if ((st & ~STATUS_DRIVER_BITS) || s->needs_reset > 1 || (s->isr & ~3u))
		return err_set(err, -EINVAL, "%s: state has invalid status bits", vdev->name);
	if ((s->driver_features & ~vdev->device_features) ||
	    ((st & VIRTIO_STATUS_FEATURES_OK) && !(s->driver_features & (1ull << VIRTIO_F_VERSION_1))))
		return err_set(err, -EINVAL, "%s: state has features the device does not offer",
			       vdev->name);
	if ((st & VIRTIO_STATUS_DRIVER_OK) && !(st & VIRTIO_STATUS_FEATURES_OK))
		return err_set(err, -EINVAL, "%s: state has DRIVER_OK without FEATURES_OK",
			       vdev->name);
	for (unsigned i = 0; i < vdev->ops->nr_queues; i++) {
		struct virtq *q = &s->q[i];

		if (ready[i] > 1 || broken[i] > 1 || sig_valid[i] > 1 || q->num > VIRTQ_MAX_SIZE)
			return err_set(err, -EINVAL, "%s: queue %u state is invalid", vdev->name, i);
		if (!ready[i] || broken[i])
			continue;
		q->index = i;
		if (virtq_map(q, &vdev->dev.vm->mem, err) < 0)
			return err_wrap(err, "%s: queue %u state", vdev->name, i);
		/* Nothing is in flight in a saved device: used cannot lead avail. */
		if ((uint16_t)(q->last_avail - q->used_idx) != 0)
			return err_set(err, -EINVAL, "%s: queue %u state has requests in flight",
				       vdev->name, i);
	}
	return 0;
}

static void loaded_apply(struct virtio_dev *vdev, const struct loaded *s, const uint8_t *ready,
			 const uint8_t *broken, const uint8_t *sig_valid)
{
	vdev->driver_features = s->driver_features;
	vdev->device_features_sel = s->device_features_sel;
	vdev->driver_features_sel = s->driver_features_sel;
	vdev->queue_sel = s->queue_sel;
	__atomic_store_n(&vdev->status, s->status, __ATOMIC_RELEASE);
	atomic_store(&vdev->needs_reset, s->needs_reset);
	vdev->config_generation = s->generation;
	for (unsigned i = 0; i < vdev->ops->nr_queues; i++) {
		struct virtq *vq = &vdev->queues[i];
		const struct virtq *q = &s->q[i];

		pthread_mutex_lock(&vq->lock);
		queue_clear(vq);
		vq->num = q->num;
		vq->desc_gpa = q->desc_gpa;
		vq->avail_gpa = q->avail_gpa;
		vq->used_gpa = q->used_gpa;
		vq->broken = broken[i];
		if (ready[i] && !broken[i])
			virtq_map(vq, &vdev->dev.vm->mem, NULL);
		vq->ready = ready[i];
		vq->event_idx = s->driver_features & (1ull << VIRTIO_F_RING_EVENT_IDX);
		vq->indirect = s->driver_features & (1ull << VIRTIO_F_RING_INDIRECT_DESC);
		vq->last_avail = q->last_avail;
		vq->used_idx = q->used_idx;
		vq->signalled_used = q->signalled_used;
		vq->signalled_valid = sig_valid[i];
		pthread_mutex_unlock(&vq->lock);
	}
	/* The restored interrupt controller does not know the line's level. */
	pthread_mutex_lock(&vdev->irq_lock);
	vdev->isr = s->isr;
	if (vdev->irq_trigger_fd < 0)
		vm_irq_set(vdev->dev.vm, vdev->gsi, vdev->isr != 0);
	else if (vdev->isr)
		irq_line_assert(vdev);
	pthread_mutex_unlock(&vdev->irq_lock);
}

static int vdev_load(struct device *dev, struct state_reader *r, struct err *err)
{
	struct virtio_dev *vdev = to_vdev(dev);
	uint8_t ready[VIRTIO_MAX_QUEUES], broken[VIRTIO_MAX_QUEUES], sig_valid[VIRTIO_MAX_QUEUES];
	struct loaded s = { 0 };
	uint32_t version, id, nq;
	uint64_t dev_features;
	int rc;

	rc = state_section_open(r, "virtio-mmio", VIRTIO_MMIO_STATE_VERSION, &version, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	id = state_get_u32(r);
	nq = state_get_u32(r);
	dev_features = state_get_u64(r);
	if (r->error || id != vdev->ops->device_id || nq != vdev->ops->nr_queues ||
	    dev_features != vdev->device_features)
		return err_set(err, -EINVAL,
			       "%s: state is for a different device (id %u, %u queues, features %#llx)",
			       vdev->name, id, nq, (unsigned long long)dev_features);
	s.driver_features = state_get_u64(r);
	s.device_features_sel = state_get_u32(r);
	s.driver_features_sel = state_get_u32(r);
	s.queue_sel = state_get_u32(r);
	s.status = state_get_u32(r);
	s.needs_reset = state_get_u8(r);
	s.isr = state_get_u32(r);
	s.generation = state_get_u32(r);
	for (unsigned i = 0; i < nq; i++)
		queue_load(r, &s.q[i], &ready[i], &broken[i], &sig_valid[i]);
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	rc = loaded_check(vdev, &s, ready, broken, sig_valid, err);
	if (rc < 0)
		return rc;
	/* The device section is checked before anything is applied. */
	if (vdev->ops->load) {
		rc = vdev->ops->load(vdev, r, err);
		if (rc < 0)
			return rc;
	}
	pthread_mutex_lock(&vdev->lock);
	loaded_apply(vdev, &s, ready, broken, sig_valid);
	pthread_mutex_unlock(&vdev->lock);
	return 0;
}

static void vdev_destroy(struct device *dev)
{
	struct virtio_dev *vdev = to_vdev(dev);

	/* The back-end's threads are joined here, before the queues go away. */
	if (vdev->ops->destroy)
		vdev->ops->destroy(vdev);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct virtq *vq = &vdev->queues[i];

		if (vq->notify_fd >= 0)
			close(vq->notify_fd);
		pthread_cond_destroy(&vq->idle);
		pthread_mutex_destroy(&vq->lock);
	}
	if (vdev->irq_trigger_fd >= 0)
		close(vdev->irq_trigger_fd);
	if (vdev->irq_resample_fd >= 0)
		close(vdev->irq_resample_fd);
	pthread_mutex_destroy(&vdev->irq_lock);
	pthread_mutex_destroy(&vdev->lock);
	free(vdev);
}

/* The transport's counters, then the device type's own. */
static unsigned vdev_metrics(struct device *dev, struct metric *out, unsigned max)
{
	struct virtio_dev *vdev = to_vdev(dev);
	unsigned n = 0;

	metric_put(out, &n, max, "queue_notifies", counter_get(&vdev->stats.notifies));
	metric_put(out, &n, max, "requests", counter_get(&vdev->stats.requests));
	metric_put(out, &n, max, "interrupts", counter_get(&vdev->stats.interrupts));
	metric_put(out, &n, max, "queue_errors", counter_get(&vdev->stats.queue_errors));
	if (vdev->ops->metrics)
		n += vdev->ops->metrics(vdev, out + n, max - n);
	return n;
}

static const struct device_ops virtio_mmio_ops = {
	.type = "virtio-mmio",
	.realize = vdev_realize,
	.reset = vdev_reset,
	.pause = vdev_pause,
	.resume = vdev_resume,
	.save = vdev_save,
	.load = vdev_load,
	.destroy = vdev_destroy,
	.metrics = vdev_metrics,
};

struct virtio_dev *virtio_dev_of(struct device *dev)
{
	return dev && dev->ops == &virtio_mmio_ops ? to_vdev(dev) : NULL;
}

int virtio_dev_init(struct virtio_dev *vdev, struct vm *vm, struct iothread *io,
		    const struct virtio_dev_ops *ops, unsigned slot, const char *name,
		    uint64_t features, struct err *err)
{
	vdev->dev.ops = &virtio_mmio_ops;
	vdev->dev.vm = vm;
	snprintf(vdev->name, sizeof(vdev->name), "%s", name);
	vdev->dev.name = vdev->name;
	vdev->ops = ops;
	vdev->io = io;
	pthread_mutex_init(&vdev->lock, NULL);
	pthread_mutex_init(&vdev->irq_lock, NULL);
	vdev->irq_trigger_fd = -1;
	vdev->irq_resample_fd = -1;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct virtq *vq = &vdev->queues[i];

		pthread_mutex_init(&vq->lock, NULL);
		pthread_cond_init(&vq->idle, NULL);
		vq->vdev = vdev;
		vq->index = i;
		vq->notify_fd = -1;
	}
	/* From here on vm_destroy() owns the device, whatever fails below. */
	vm_add_device(vm, &vdev->dev);
	if (slot >= VIRTIO_MMIO_MAX_DEVICES)
		return err_set(err, -ENOSPC, "%s: at most %u virtio devices", name,
			       VIRTIO_MMIO_MAX_DEVICES);
	if (ops->nr_queues > VIRTIO_MAX_QUEUES)
		return err_set(err, -EINVAL, "%s: too many queues", name);
	vdev->slot = slot;
	vdev->base = VIRTIO_MMIO_BASE + (uint64_t)slot * VIRTIO_MMIO_STRIDE;
	vdev->gsi = VIRTIO_MMIO_GSI_BASE + slot;
	vdev->device_features = features | VIRTIO_TRANSPORT_FEATURES;
	for (unsigned i = 0; i < ops->nr_queues; i++) {
		vdev->queues[i].notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vdev->queues[i].notify_fd < 0)
			return err_set(err, -errno, "%s: eventfd: %s", name, strerror(errno));
	}
	return 0;
}
