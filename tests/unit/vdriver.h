/*
 * tests/unit/vdriver.h: a VM with no engine and a tiny virtio-mmio driver over
 * its real guest RAM, for the device tests (test_virtio.c, test_net_dev.c,
 * test_vsock_dev.c).
 * Every function asserts with cmocka; include after <cmocka.h>.
 */
#ifndef KITE_TESTS_VDRIVER_H
#define KITE_TESTS_VDRIVER_H

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/util.h"
#include "virtio/virtio.h"
#include "vm/vm.h"

#define VD_NR_GSIS 32
#define VD_RING_AREA 0x100000ull /* rings: 64 KiB per (slot, queue) */
#define VD_BUF_AREA 0x800000ull	 /* data buffers, bump-allocated up to the end of RAM */
#define VD_WAIT_MS 3000

/* A VM with no engine behind it: interrupt lines are only recorded. */
struct vd {
	struct vm vm;
	_Atomic int level[VD_NR_GSIS];
	_Atomic uint64_t dma_written; /* bytes devices reported writing to guest RAM */
	uint64_t next_buf;
	/* Backends a test made for its devices, gone with the VM: */
	char image[64]; /* a temp file, unlinked when named */
	int pipe[2];    /* closed when >= 0 */
};

static inline void vd_irq_set(struct vm *vm, unsigned gsi, int level)
{
	struct vd *f = container_of(vm, struct vd, vm);

	if (gsi < VD_NR_GSIS)
		atomic_store(&f->level[gsi], level);
}

static inline void vd_memory_written(struct vm *vm, const void *hva, uint64_t len)
{
	struct vd *f = container_of(vm, struct vd, vm);

	/* A device writing outside guest RAM is the worst bug there is: stop at once. */
	if ((const uint8_t *)hva < vm->mem.base ||
	    (const uint8_t *)hva + len > vm->mem.base + vm->mem.ram_size)
		abort();
	atomic_fetch_add(&f->dma_written, len);
}

static const struct engine_ops vd_engine = {
	.name = "fake",
	.irq_set = vd_irq_set,
	.memory_written = vd_memory_written,
};

static inline struct vd *vd_new(void)
{
	struct vd *f = calloc(1, sizeof(*f));
	struct err err = { 0 };

	assert_non_null(f);
	io_bus_init(&f->vm.pio, "pio");
	io_bus_init(&f->vm.mmio, "mmio");
	f->vm.engine = &vd_engine;
	f->vm.stop_eventfd = -1;
	assert_int_equal(memory_init(&f->vm.mem, MEM_MIN_SIZE, &err), 0);
	assert_int_equal(iothread_create(&f->vm.iothread, &err), 0);
	f->next_buf = VD_BUF_AREA;
	f->pipe[0] = f->pipe[1] = -1;
	return f;
}

static inline void vd_free(struct vd *f)
{
	struct device *dev, *next;

	iothread_destroy(f->vm.iothread);
	for (dev = f->vm.devices; dev; dev = next) {
		next = dev->next;
		dev->ops->destroy(dev);
	}
	memory_destroy(&f->vm.mem);
	if (f->image[0])
		unlink(f->image);
	if (f->pipe[0] >= 0)
		close(f->pipe[0]);
	if (f->pipe[1] >= 0)
		close(f->pipe[1]);
	free(f);
}

static inline struct device *vd_realized(struct device *dev, struct err *err)
{
	if (!dev)
		fail_msg("device not created: %s", err->msg);
	assert_int_equal(dev->ops->realize(dev, err), 0);
	return dev;
}

static inline void *vd_hva(struct vd *f, uint64_t gpa, uint64_t len)
{
	void *p = gpa_to_hva(&f->vm.mem, gpa, len);

	assert_non_null(p);
	return p;
}

static inline uint64_t vd_buf(struct vd *f, uint64_t len, uint8_t fill)
{
	uint64_t gpa = f->next_buf;

	f->next_buf = ALIGN_UP(f->next_buf + len, 64);
	memset(vd_hva(f, gpa, len), fill, len);
	return gpa;
}

static inline void vd_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* ---- registers ------------------------------------------------------------ */

static inline uint32_t vd_rd(struct vd *f, unsigned slot, uint64_t off, unsigned len)
{
	uint64_t base = VIRTIO_MMIO_BASE + (uint64_t)slot * VIRTIO_MMIO_STRIDE;
	uint8_t data[8] = { 0 };
	uint32_t v = 0;

	assert_true(io_bus_dispatch(&f->vm.mmio, base + off, data, len, false));
	memcpy(&v, data, len < 4 ? len : 4);
	return v;
}

static inline uint32_t vd_r32(struct vd *f, unsigned slot, uint64_t off)
{
	return vd_rd(f, slot, off, 4);
}

static inline void vd_wr(struct vd *f, unsigned slot, uint64_t off, uint32_t v, unsigned len)
{
	uint64_t base = VIRTIO_MMIO_BASE + (uint64_t)slot * VIRTIO_MMIO_STRIDE;
	uint8_t data[8] = { 0 };

	memcpy(data, &v, len < 4 ? len : 4);
	assert_true(io_bus_dispatch(&f->vm.mmio, base + off, data, len, true));
}

static inline void vd_w32(struct vd *f, unsigned slot, uint64_t off, uint32_t v)
{
	vd_wr(f, slot, off, v, 4);
}

static inline bool vd_needs_reset(struct vd *f, unsigned slot)
{
	return vd_r32(f, slot, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET;
}

static inline bool vd_wait_needs_reset(struct vd *f, unsigned slot)
{
	for (unsigned i = 0; i < VD_WAIT_MS; i++) {
		if (vd_needs_reset(f, slot))
			return true;
		vd_sleep_ms(1);
	}
	return false;
}

/* Waits until all of bits are set in InterruptStatus; false after VD_WAIT_MS. */
static inline bool vd_wait_isr(struct vd *f, unsigned slot, uint32_t bits)
{
	for (unsigned i = 0; i < VD_WAIT_MS; i++) {
		if ((vd_r32(f, slot, VIRTIO_MMIO_INTERRUPT_STATUS) & bits) == bits)
			return true;
		vd_sleep_ms(1);
	}
	return false;
}

/* What a backend socket's other end got, or -1 when nothing came within 50 ms. */
static inline ssize_t vd_peer_recv(int fd, uint8_t *buf, size_t len)
{
	for (unsigned i = 0; i < 50; i++) {
		ssize_t r = recv(fd, buf, len, MSG_DONTWAIT);

		if (r >= 0)
			return r;
		vd_sleep_ms(1);
	}
	return -1;
}

/* The device's counter called name (the transport's too), or UINT64_MAX. */
static inline uint64_t vd_metric(struct device *dev, const char *name)
{
	struct metric m[METRICS_MAX];
	unsigned n = dev->ops->metrics(dev, m, METRICS_MAX);

	for (unsigned i = 0; i < n; i++)
		if (!strcmp(m[i].name, name))
			return m[i].value;
	return UINT64_MAX;
}

struct vd_count {
	const char *name;
	uint64_t value;
};

static inline void vd_expect_counts(struct device *dev, const struct vd_count *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t got = vd_metric(dev, c[i].name);

		if (got != c[i].value)
			fail_msg("%s: %" PRIu64 ", expected %" PRIu64, c[i].name, got, c[i].value);
	}
}

/* Asserts the device's counters, { "name", value } each, naming the first that differs. */
#define vd_expect_metrics(dev, ...)                                                                \
	vd_expect_counts(dev, (const struct vd_count[]){ __VA_ARGS__ },                            \
			 sizeof((const struct vd_count[]){ __VA_ARGS__ }) / sizeof(struct vd_count))

/* ---- queues --------------------------------------------------------------- */

struct vq {
	struct vd *f;
	unsigned slot, index, num;
	uint64_t desc, avail, used;
	uint16_t avail_idx;
	uint16_t free;	   /* next descriptor to hand out */
	uint16_t seen_used; /* used entries the test has looked at */
	bool event_idx;	    /* VIRTIO_F_RING_EVENT_IDX negotiated: notify as Linux does */
};

struct vbuf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

static inline void vd_desc(struct vd *f, uint64_t table, unsigned i, uint64_t addr,
			   uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(vd_hva(f, table + 16ull * i, 16), &d, 16);
}

/* Avail ring entry i; entry num is used_event. */
static inline uint16_t *vq_avail_ring(struct vq *q, unsigned i)
{
	return vd_hva(q->f, q->avail + 4 + 2ull * i, 2);
}

static inline uint16_t vq_used_idx(struct vq *q)
{
	return __atomic_load_n((uint16_t *)vd_hva(q->f, q->used + 2, 2), __ATOMIC_ACQUIRE);
}

static inline void vq_used_elem(struct vq *q, unsigned i, uint32_t *id, uint32_t *len)
{
	uint32_t e[2];

	memcpy(e, vd_hva(q->f, q->used + 4 + 8ull * (i % q->num), 8), 8);
	*id = e[0];
	*len = e[1];
}

static inline void vq_setup(struct vd *f, unsigned slot, unsigned index, unsigned num,
			    struct vq *q)
{
	uint64_t area = VD_RING_AREA + (slot * VIRTIO_MAX_QUEUES + index) * 0x10000ull;

	*q = (struct vq){ .f = f, .slot = slot, .index = index, .num = num, .desc = area,
			  .avail = area + 0x4000, .used = area + 0x8000 };
	memset(vd_hva(f, area, 0x10000), 0, 0x10000);
	vd_w32(f, slot, VIRTIO_MMIO_QUEUE_SEL, index);
	assert_int_equal(vd_r32(f, slot, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	assert_int_equal(vd_r32(f, slot, VIRTIO_MMIO_QUEUE_READY), 0);
	vd_w32(f, slot, VIRTIO_MMIO_QUEUE_NUM, num);
	vd_w32(f, slot, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
	vd_w32(f, slot, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
	vd_w32(f, slot, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)q->avail);
	vd_w32(f, slot, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	vd_w32(f, slot, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)q->used);
	vd_w32(f, slot, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	vd_w32(f, slot, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(vd_r32(f, slot, VIRTIO_MMIO_QUEUE_READY), 1);
}

#define VD_FEAT_BASE (1ull << VIRTIO_F_VERSION_1)

/* Reset, negotiate features, set up nq queues of num entries, DRIVER_OK. */
static inline void vd_start(struct vd *f, unsigned slot, uint64_t features, struct vq *qs,
			    unsigned nq, unsigned num)
{
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	vd_w32(f, slot, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(vd_r32(f, slot, VIRTIO_MMIO_STATUS), 0);
	vd_w32(f, slot, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	vd_w32(f, slot, VIRTIO_MMIO_STATUS, st);
	vd_w32(f, slot, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vd_w32(f, slot, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	vd_w32(f, slot, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vd_w32(f, slot, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	st |= VIRTIO_STATUS_FEATURES_OK;
	vd_w32(f, slot, VIRTIO_MMIO_STATUS, st);
	assert_int_equal(vd_r32(f, slot, VIRTIO_MMIO_STATUS), st);
	for (unsigned i = 0; i < nq; i++) {
		vq_setup(f, slot, i, num, &qs[i]);
		qs[i].event_idx = features & (1ull << VIRTIO_F_RING_EVENT_IDX);
	}
	st |= VIRTIO_STATUS_DRIVER_OK;
	vd_w32(f, slot, VIRTIO_MMIO_STATUS, st);
	assert_int_equal(vd_r32(f, slot, VIRTIO_MMIO_STATUS), st);
}

/* Writes a direct chain of n buffers at the next free descriptors; returns its head. */
static inline uint16_t vq_chain(struct vq *q, const struct vbuf *b, unsigned n)
{
	uint16_t head = q->free;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((q->free + i) % q->num);
		uint16_t flags = (b[i].write ? VIRTQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);

		vd_desc(q->f, q->desc, idx, b[i].gpa, b[i].len, flags,
			(uint16_t)((idx + 1) % q->num));
	}
	q->free = (uint16_t)((q->free + n) % q->num);
	return head;
}

/* Makes head available without notifying. */
static inline void vq_offer(struct vq *q, uint16_t head)
{
	*vq_avail_ring(q, q->avail_idx % q->num) = head;
	q->avail_idx++;
	__atomic_store_n((uint16_t *)vd_hva(q->f, q->avail + 2, 2), q->avail_idx,
			 __ATOMIC_RELEASE);
}

static inline void vq_notify(struct vq *q)
{
	vd_w32(q->f, q->slot, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

/*
 * Notifies about the chains offered since avail index old, unless the
 * device's avail_event says it does not need to hear (virtio 1.2, 2.7.10):
 * a device that forgets to publish it waits for buffers forever, as with
 * Linux.
 */
static inline void vq_kick(struct vq *q, uint16_t old)
{
	uint16_t event;

	if (q->event_idx) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		event = __atomic_load_n((uint16_t *)vd_hva(q->f, q->used + 4 + 8ull * q->num, 2),
					__ATOMIC_ACQUIRE);
		if ((uint16_t)(q->avail_idx - event - 1) >= (uint16_t)(q->avail_idx - old))
			return;
	}
	vq_notify(q);
}

static inline void vq_publish(struct vq *q, uint16_t head)
{
	uint16_t old = q->avail_idx;

	vq_offer(q, head);
	vq_kick(q, old);
}

/* Waits until the used index reaches idx; false after VD_WAIT_MS. */
static inline bool vq_wait_used(struct vq *q, uint16_t idx)
{
	for (unsigned i = 0; i < VD_WAIT_MS; i++) {
		if (vq_used_idx(q) == idx)
			return true;
		vd_sleep_ms(1);
	}
	return false;
}

/* Submits one chain and waits for it; returns the used length. */
static inline uint32_t vq_run(struct vq *q, const struct vbuf *b, unsigned n)
{
	uint16_t head = vq_chain(q, b, n);
	uint32_t id, len;

	vq_publish(q, head);
	assert_true(vq_wait_used(q, q->avail_idx));
	vq_used_elem(q, (uint16_t)(q->avail_idx - 1), &id, &len);
	assert_int_equal(id, head);
	q->seen_used = q->avail_idx;
	return len;
}

#endif
