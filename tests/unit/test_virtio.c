/* tests/unit/test_virtio.c: virtio-mmio devices driven by a tiny driver over real guest RAM. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "acpi/acpi.h"
#include "backend/backend.h"
#include "base/log.h"
#include "base/util.h"
#include "virtio/virtio.h"
#include "vm/vm.h"

#include "vdriver.h"

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- transport -------------------------------------------------------- */

static void test_identity_and_features(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	uint32_t lo, hi;

	(void)state;
	vd_realized(virtio_rng_create(&f->vm, f->vm.iothread, 0, &err), &err);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_VENDOR_ID), VIRTIO_VENDOR_KITE);
	vd_w32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = vd_r32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES);
	vd_w32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	hi = vd_r32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(lo & (1u << VIRTIO_F_RING_EVENT_IDX));
	assert_true(lo & (1u << VIRTIO_F_RING_INDIRECT_DESC));
	assert_true(hi & (1u << (VIRTIO_F_VERSION_1 - 32)));
	assert_false(hi & (1u << (VIRTIO_F_ACCESS_PLATFORM - 32)));
	vd_w32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	/* Wrong-width register accesses are ignored: reads 0, writes dropped. */
	assert_int_equal(vd_rd(f, 0, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	assert_int_equal(vd_rd(f, 0, VIRTIO_MMIO_MAGIC_VALUE + 1, 4), 0);
	vd_wr(f, 0, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_STATUS), 0);
	vd_free(f);
}

static void test_status_handshake(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	(void)state;
	vd_realized(virtio_rng_create(&f->vm, f->vm.iothread, 0, &err), &err);
	vd_w32(f, 0, VIRTIO_MMIO_STATUS, st);
	/* Without VERSION_1 the device refuses FEATURES_OK. */
	vd_w32(f, 0, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vd_w32(f, 0, VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_F_RING_EVENT_IDX);
	vd_w32(f, 0, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_STATUS), st);
	/* Nor a feature it does not offer (ACCESS_PLATFORM). */
	vd_w32(f, 0, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vd_w32(f, 0, VIRTIO_MMIO_DRIVER_FEATURES, 3);
	vd_w32(f, 0, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_STATUS), st);
	/* DRIVER_OK without FEATURES_OK does not stick either. */
	vd_w32(f, 0, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_STATUS), st);
	vd_w32(f, 0, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	vd_w32(f, 0, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_STATUS), st | VIRTIO_STATUS_FEATURES_OK);
	/* Features are frozen after FEATURES_OK. */
	vd_w32(f, 0, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	vd_w32(f, 0, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_STATUS), 0);
	/* A queue size that is not a power of two breaks the queue on QueueReady. */
	vd_w32(f, 0, VIRTIO_MMIO_QUEUE_SEL, 0);
	vd_w32(f, 0, VIRTIO_MMIO_QUEUE_NUM, 3);
	vd_w32(f, 0, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(vd_r32(f, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* A queue index past the device's reads as absent. */
	vd_w32(f, 0, VIRTIO_MMIO_QUEUE_SEL, 5);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	vd_w32(f, 0, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(atomic_load(&f->level[VIRTIO_MMIO_GSI_BASE]), 0);
	vd_free(f);
}

/* ---- rng -------------------------------------------------------------- */

static void test_rng_fills_and_caps(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct vq q;
	uint64_t a = vd_buf(f, 4096, 0), big = vd_buf(f, 128 * 1024, 0);

	(void)state;
	vd_realized(virtio_rng_create(&f->vm, f->vm.iothread, 0, &err), &err);
	vd_start(f, 0, VD_FEAT_BASE, &q, 1, 16);
	assert_int_equal(vq_run(&q, &(struct vbuf){ a, 4096, true }, 1), 4096);
	assert_false(all_zero(vd_hva(f, a, 4096), 4096));
	assert_true(vd_wait_isr(f, 0, VIRTIO_INT_USED));
	assert_int_equal(atomic_load(&f->level[VIRTIO_MMIO_GSI_BASE]), 1);
	vd_w32(f, 0, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(atomic_load(&f->level[VIRTIO_MMIO_GSI_BASE]), 0);
	/* One request takes at most VIRTIO_RNG_REQUEST_MAX bytes. */
	assert_int_equal(vq_run(&q, &(struct vbuf){ big, 128 * 1024, true }, 1),
			 VIRTIO_RNG_REQUEST_MAX);
	assert_true(all_zero(vd_hva(f, big + VIRTIO_RNG_REQUEST_MAX, 64 * 1024), 64 * 1024));
	vd_free(f);
}

static void test_indirect(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct vq q;
	uint64_t table = vd_buf(f, 3 * 16, 0);
	uint64_t b[3];

	(void)state;
	vd_realized(virtio_rng_create(&f->vm, f->vm.iothread, 0, &err), &err);
	vd_start(f, 0, VD_FEAT_BASE | (1ull << VIRTIO_F_RING_INDIRECT_DESC), &q, 1, 8);
	for (unsigned i = 0; i < 3; i++) {
		b[i] = vd_buf(f, 256, 0);
		vd_desc(f, table, i, b[i], 256,
			VIRTQ_DESC_F_WRITE | (i < 2 ? VIRTQ_DESC_F_NEXT : 0), (uint16_t)(i + 1));
	}
	vd_desc(f, q.desc, 0, table, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	vq_publish(&q, 0);
	assert_true(vq_wait_used(&q, 1));
	for (unsigned i = 0; i < 3; i++)
		assert_false(all_zero(vd_hva(f, b[i], 256), 256));
	vd_free(f);
}

static void test_event_idx_suppression(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct vq q;
	uint64_t a = vd_buf(f, 64, 0);
	uint16_t *used_event, *avail_event;

	(void)state;
	vd_realized(virtio_rng_create(&f->vm, f->vm.iothread, 0, &err), &err);
	vd_start(f, 0, VD_FEAT_BASE | (1ull << VIRTIO_F_RING_EVENT_IDX), &q, 1, 8);
	used_event = vq_avail_ring(&q, q.num);
	avail_event = vd_hva(f, q.used + 4 + 8ull * q.num, 2);
	/* First completion always interrupts (nothing was signalled yet). */
	vq_run(&q, &(struct vbuf){ a, 64, true }, 1);
	assert_true(vd_wait_isr(f, 0, VIRTIO_INT_USED));
	vd_w32(f, 0, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);
	/* used_event 5: no interrupt until used idx passes 5. */
	__atomic_store_n(used_event, 5, __ATOMIC_RELEASE);
	vq_run(&q, &(struct vbuf){ a, 64, true }, 1);
	vd_sleep_ms(20);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(atomic_load(&f->level[VIRTIO_MMIO_GSI_BASE]), 0);
	/* The device asked to be notified at the next avail entry. */
	assert_int_equal(__atomic_load_n(avail_event, __ATOMIC_ACQUIRE), 2);
	/* used_event 2: interrupt when used idx moves from 2 to 3. */
	__atomic_store_n(used_event, 2, __ATOMIC_RELEASE);
	vq_run(&q, &(struct vbuf){ a, 64, true }, 1);
	assert_true(vd_wait_isr(f, 0, VIRTIO_INT_USED));
	vd_free(f);
}

static void test_no_interrupt_flag(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct vq q;
	uint64_t a = vd_buf(f, 64, 0);

	(void)state;
	vd_realized(virtio_rng_create(&f->vm, f->vm.iothread, 0, &err), &err);
	vd_start(f, 0, VD_FEAT_BASE, &q, 1, 8);
	*(uint16_t *)vd_hva(f, q.avail, 2) = VIRTQ_AVAIL_F_NO_INTERRUPT;
	vq_run(&q, &(struct vbuf){ a, 64, true }, 1);
	vd_sleep_ms(20);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	vd_free(f);
}

/* ---- the hostile guest ------------------------------------------------ */

enum hostile {
	H_LOOP,
	H_TOO_LONG,
	H_OUT_OF_RAM,
	H_ADDR_WRAP,
	H_LEN_OVERFLOW,
	H_WRONG_DIRECTION,
	H_READ_AFTER_WRITE,
	H_NESTED_INDIRECT,
	H_INDIRECT_SELF,
	H_INDIRECT_NO_FEATURE,
	H_INDEX_JUMP,
	H_HEAD_OUT_OF_RANGE,
	H_NEXT_OUT_OF_RANGE,
};

/* Builds the hostile chain on queue q (8 entries); rng device, indirect negotiated. */
static void hostile_submit(struct vd *f, struct vq *q, enum hostile h)
{
	uint64_t b = vd_buf(f, 64, 0);
	uint64_t t1 = vd_buf(f, 16 * 300, 0), t2 = vd_buf(f, 16, 0);
	uint16_t *idx = vd_hva(f, q->avail + 2, 2);
	uint16_t W = VIRTQ_DESC_F_WRITE, N = VIRTQ_DESC_F_NEXT;

	switch (h) {
	case H_LOOP:
		vd_desc(f, q->desc, 0, b, 8, W | N, 1);
		vd_desc(f, q->desc, 1, b, 8, W | N, 0);
		break;
	case H_TOO_LONG: /* an indirect table longer than any chain may be */
		for (unsigned i = 0; i < 300; i++)
			vd_desc(f, t1, i, b, 1, W | (i < 299 ? N : 0), (uint16_t)(i + 1));
		vd_desc(f, q->desc, 0, t1, 16 * 300, VIRTQ_DESC_F_INDIRECT, 0);
		break;
	case H_OUT_OF_RAM:
		vd_desc(f, q->desc, 0, MEM_MIN_SIZE - 8, 64, W, 0);
		break;
	case H_ADDR_WRAP:
		vd_desc(f, q->desc, 0, UINT64_MAX - 15, 64, W, 0);
		break;
	case H_LEN_OVERFLOW: /* 256 buffers of all 16 MiB of RAM add up to 2^32 */
		for (unsigned i = 0; i < 256; i++)
			vd_desc(f, t1, i, 0, MEM_MIN_SIZE, W | (i < 255 ? N : 0),
				(uint16_t)(i + 1));
		vd_desc(f, q->desc, 0, t1, 16 * 256, VIRTQ_DESC_F_INDIRECT, 0);
		break;
	case H_WRONG_DIRECTION: /* rng buffers must be device-writable */
		vd_desc(f, q->desc, 0, b, 64, 0, 0);
		break;
	case H_READ_AFTER_WRITE:
		vd_desc(f, q->desc, 0, b, 8, W | N, 1);
		vd_desc(f, q->desc, 1, b, 8, 0, 0);
		break;
	case H_NESTED_INDIRECT:
		vd_desc(f, t2, 0, t1, 16, VIRTQ_DESC_F_INDIRECT, 0);
		vd_desc(f, t1, 0, b, 8, W, 0);
		vd_desc(f, q->desc, 0, t2, 16, VIRTQ_DESC_F_INDIRECT, 0);
		break;
	case H_INDIRECT_SELF: /* the table is the ring itself: must not restart the walk */
		vd_desc(f, q->desc, 0, q->desc, 16 * q->num, VIRTQ_DESC_F_INDIRECT, 0);
		break;
	case H_INDIRECT_NO_FEATURE:
		break; /* set up by the caller */
	case H_INDEX_JUMP:
		vd_desc(f, q->desc, 0, b, 8, W, 0);
		__atomic_store_n(idx, (uint16_t)(q->avail_idx + q->num + 1), __ATOMIC_RELEASE);
		vd_w32(f, q->slot, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
		return;
	case H_HEAD_OUT_OF_RANGE:
		*vq_avail_ring(q, q->avail_idx % q->num) = (uint16_t)q->num;
		__atomic_store_n(idx, ++q->avail_idx, __ATOMIC_RELEASE);
		vd_w32(f, q->slot, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
		return;
	case H_NEXT_OUT_OF_RANGE:
		vd_desc(f, q->desc, 0, b, 8, W | N, 200);
		break;
	}
	vq_publish(q, 0);
}

static void hostile_case(enum hostile h)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct vq q, good;
	uint64_t a = vd_buf(f, 64, 0);
	uint64_t feat = VD_FEAT_BASE | (1ull << VIRTIO_F_RING_INDIRECT_DESC);

	vd_realized(virtio_rng_create(&f->vm, f->vm.iothread, 0, &err), &err);
	vd_realized(virtio_rng_create(&f->vm, f->vm.iothread, 1, &err), &err);
	if (h == H_INDIRECT_NO_FEATURE) {
		uint64_t t = vd_buf(f, 16, 0);

		vd_start(f, 0, VD_FEAT_BASE, &q, 1, 8);
		vd_desc(f, t, 0, a, 8, VIRTQ_DESC_F_WRITE, 0);
		vd_desc(f, q.desc, 0, t, 16, VIRTQ_DESC_F_INDIRECT, 0);
		vq_publish(&q, 0);
	} else {
		vd_start(f, 0, feat, &q, 1, 8);
		hostile_submit(f, &q, h);
	}
	vd_start(f, 1, feat, &good, 1, 8);
	assert_true(vd_wait_needs_reset(f, 0));
	assert_true(vd_wait_isr(f, 0, VIRTIO_INT_CONFIG));
	assert_int_equal(atomic_load(&f->level[VIRTIO_MMIO_GSI_BASE]), 1);
	/* Nothing was completed on the broken queue, and it stays dead. */
	assert_int_equal(vq_used_idx(&q), 0);
	/* The other device is untouched. */
	assert_false(vd_r32(f, 1, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(vq_run(&good, &(struct vbuf){ a, 64, true }, 1), 64);
	/* A reset brings the broken device back. */
	vd_start(f, 0, feat, &q, 1, 8);
	assert_false(vd_r32(f, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(atomic_load(&f->level[VIRTIO_MMIO_GSI_BASE]), 0);
	assert_int_equal(vq_run(&q, &(struct vbuf){ a, 64, true }, 1), 64);
	vd_free(f);
}

/* One test per rule, so a failure names the rule. */
#define HOSTILE_TEST(name, kind)           \
	static void name(void **state)     \
	{                                  \
		(void)state;               \
		hostile_case(kind);         \
	}
HOSTILE_TEST(test_hostile_loop, H_LOOP)
HOSTILE_TEST(test_hostile_too_long, H_TOO_LONG)
HOSTILE_TEST(test_hostile_out_of_ram, H_OUT_OF_RAM)
HOSTILE_TEST(test_hostile_addr_wrap, H_ADDR_WRAP)
HOSTILE_TEST(test_hostile_len_overflow, H_LEN_OVERFLOW)
HOSTILE_TEST(test_hostile_wrong_direction, H_WRONG_DIRECTION)
HOSTILE_TEST(test_hostile_read_after_write, H_READ_AFTER_WRITE)
HOSTILE_TEST(test_hostile_nested_indirect, H_NESTED_INDIRECT)
HOSTILE_TEST(test_hostile_indirect_self, H_INDIRECT_SELF)
HOSTILE_TEST(test_hostile_indirect_no_feature, H_INDIRECT_NO_FEATURE)
HOSTILE_TEST(test_hostile_index_jump, H_INDEX_JUMP)
HOSTILE_TEST(test_hostile_head_range, H_HEAD_OUT_OF_RANGE)
HOSTILE_TEST(test_hostile_next_range, H_NEXT_OUT_OF_RANGE)

/* A ring placed outside RAM fails the queue when the driver makes it ready. */
static void test_hostile_ring_outside_ram(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;

	(void)state;
	vd_realized(virtio_rng_create(&f->vm, f->vm.iothread, 0, &err), &err);
	vd_w32(f, 0, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vd_w32(f, 0, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vd_w32(f, 0, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	vd_w32(f, 0, VIRTIO_MMIO_STATUS, st);
	vd_w32(f, 0, VIRTIO_MMIO_QUEUE_NUM, 256);
	vd_w32(f, 0, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)(MEM_MIN_SIZE - 16));
	vd_w32(f, 0, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(vd_r32(f, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	vd_free(f);
}

/* ---- blk -------------------------------------------------------------- */

#define IMG_SECTORS 64

/* A temp image of IMG_SECTORS sectors plus 100 stray bytes; sector i is filled with i. */
static void image_make(struct vd *f)
{
	uint8_t sector[VIRTIO_BLK_SECTOR];
	int fd;

	snprintf(f->image, sizeof(f->image), "/tmp/kite-test-virtio.XXXXXX");
	fd = mkstemp(f->image);
	assert_true(fd >= 0);
	for (unsigned i = 0; i < IMG_SECTORS; i++) {
		memset(sector, (int)i, sizeof(sector));
		assert_int_equal(write(fd, sector, sizeof(sector)), sizeof(sector));
	}
	assert_int_equal(write(fd, sector, 100), 100);
	close(fd);
}

static void image_read(struct vd *f, uint64_t off, void *buf, size_t len)
{
	int fd = open(f->image, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

struct blkreq {
	uint64_t hdr, data, status;
};

/* Submits type/sector with a data buffer of len bytes (writable for reads). */
static uint8_t blk_run(struct vq *q, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
		       bool data_writable)
{
	struct vd *f = q->f;
	uint64_t hdr = vd_buf(f, 16, 0), st = vd_buf(f, 1, 0xee);
	uint8_t *h = vd_hva(f, hdr, 16);
	struct vbuf b[3];
	unsigned n = 0;

	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	b[n++] = (struct vbuf){ hdr, 16, false };
	if (len)
		b[n++] = (struct vbuf){ data, len, data_writable };
	b[n++] = (struct vbuf){ st, 1, true };
	vq_run(q, b, n);
	return *(uint8_t *)vd_hva(f, st, 1);
}

static struct device *blk_new(struct vd *f, unsigned slot, bool ro, const char *id,
			      struct err *err)
{
	struct virtio_blk_config cfg = { .path = f->image, .read_only = ro, .id = id };

	return vd_realized(virtio_blk_create(&f->vm, f->vm.iothread, slot, &cfg, err), err);
}

static void test_blk_config(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	uint32_t lo;

	(void)state;
	image_make(f);
	blk_new(f, 0, false, NULL, &err);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	/* The partial last sector counts. */
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_CONFIG), IMG_SECTORS + 1);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_CONFIG + 4), 0);
	assert_int_equal(vd_rd(f, 0, VIRTIO_MMIO_CONFIG, 1), IMG_SECTORS + 1);
	assert_int_equal(vd_rd(f, 0, VIRTIO_MMIO_CONFIG, 2), IMG_SECTORS + 1);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_CONFIG + 12), VIRTQ_CHAIN_MAX - 2); /* seg_max */
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_CONFIG + 20), 512);		    /* blk_size */
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_CONFIG + 40), VIRTIO_BLK_DWZ_SEG_MAX);
	assert_int_equal(vd_rd(f, 0, VIRTIO_MMIO_CONFIG + 56, 1), 1); /* write_zeroes_may_unmap */
	/* Past the config space, and 8-byte accesses, read as zero. */
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_CONFIG + 60), 0);
	assert_int_equal(vd_rd(f, 0, VIRTIO_MMIO_CONFIG, 8), 0);
	vd_w32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = vd_r32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(lo & (1u << VIRTIO_BLK_F_FLUSH));
	assert_true(lo & (1u << VIRTIO_BLK_F_DISCARD));
	assert_true(lo & (1u << VIRTIO_BLK_F_WRITE_ZEROES));
	assert_true(lo & (1u << VIRTIO_BLK_F_SEG_MAX));
	assert_true(lo & (1u << VIRTIO_BLK_F_BLK_SIZE));
	assert_false(lo & (1u << VIRTIO_BLK_F_RO));
	vd_free(f);
}

static void test_blk_io(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct vq q;
	uint64_t data = vd_buf(f, 4096, 0);
	uint8_t got[1024], want[1024];
	struct stat st_before, st_after;

	(void)state;
	image_make(f);
	blk_new(f, 0, false, "my-disk", &err);
	vd_start(f, 0, VD_FEAT_BASE, &q, 1, 16);
	/* Read sectors 1-2; the engine hears of the data and status bytes written. */
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, 1, data, 1024, true), VIRTIO_BLK_S_OK);
	memset(want, 1, 512);
	memset(want + 512, 2, 512);
	assert_memory_equal(vd_hva(f, data, 1024), want, 1024);
	assert_int_equal(atomic_load(&f->dma_written), 1024 + 1);
	/* Write sector 3: only the status byte was written to guest RAM. */
	memset(vd_hva(f, data, 512), 0xab, 512);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_OUT, 3, data, 512, false), VIRTIO_BLK_S_OK);
	assert_int_equal(atomic_load(&f->dma_written), 1024 + 2);
	image_read(f, 3 * 512, got, 512);
	memset(want, 0xab, 512);
	assert_memory_equal(got, want, 512);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false), VIRTIO_BLK_S_OK);
	/* GET_ID: NUL-padded to 20 bytes. */
	memset(vd_hva(f, data, 20), 'x', 20);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_GET_ID, 0, data, 20, true), VIRTIO_BLK_S_OK);
	assert_memory_equal(vd_hva(f, data, 20), "my-disk\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
	/* The partial last sector: the file's 100 bytes, then zeros. */
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, data, 1024, true),
			 VIRTIO_BLK_S_OK);
	memset(want, IMG_SECTORS - 1, 512 + 100);
	memset(want + 512 + 100, 0, 512 - 100);
	assert_memory_equal(vd_hva(f, data, 1024), want, 1024);
	/* Past the capacity, or a partial sector: IOERR; unknown types: UNSUPP. */
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, IMG_SECTORS, data, 1024, true),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, UINT64_MAX, data, 512, true),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, 0, data, 100, true), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_run(&q, 99, 0, 0, 0, false), VIRTIO_BLK_S_UNSUPP);
	/* Discard sectors 8-15 and write-zeroes 16-23; the zeroes must read back. */
	stat(f->image, &st_before);
	for (unsigned i = 0; i < 2; i++) {
		uint8_t *seg = vd_hva(f, data, 16);
		uint64_t sector = 8 + 8 * i;
		uint32_t n = 8, flags = i ? VIRTIO_BLK_DWZ_FLAG_UNMAP : 0;

		memcpy(seg, &sector, 8);
		memcpy(seg + 8, &n, 4);
		memcpy(seg + 12, &flags, 4);
		assert_int_equal(blk_run(&q, i ? VIRTIO_BLK_T_WRITE_ZEROES : VIRTIO_BLK_T_DISCARD, 0,
					 data, 16, false),
				 VIRTIO_BLK_S_OK);
	}
	image_read(f, 16 * 512, got, 1024);
	assert_true(all_zero(got, 1024));
	image_read(f, 7 * 512, got, 512);
	memset(want, 7, 512);
	assert_memory_equal(got, want, 512);
	stat(f->image, &st_after);
	assert_int_equal(st_before.st_size, st_after.st_size);
	/* Discard may not ask to unmap; a range past the end is an I/O error. */
	{
		uint8_t *seg = vd_hva(f, data, 16);
		uint64_t sector = IMG_SECTORS - 4;
		uint32_t n = 8, flags = VIRTIO_BLK_DWZ_FLAG_UNMAP;

		memcpy(seg, &sector, 8);
		memcpy(seg + 8, &n, 4);
		memcpy(seg + 12, &flags, 4);
		assert_int_equal(blk_run(&q, VIRTIO_BLK_T_DISCARD, 0, data, 16, false),
				 VIRTIO_BLK_S_UNSUPP);
		flags = 0;
		memcpy(seg + 12, &flags, 4);
		assert_int_equal(blk_run(&q, VIRTIO_BLK_T_DISCARD, 0, data, 16, false),
				 VIRTIO_BLK_S_IOERR);
	}
	/* Writing the partial last sector makes the file whole. */
	memset(vd_hva(f, data, 512), 0x5c, 512);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_OUT, IMG_SECTORS, data, 512, false),
			 VIRTIO_BLK_S_OK);
	stat(f->image, &st_after);
	assert_int_equal(st_after.st_size, (IMG_SECTORS + 1) * 512);
	image_read(f, IMG_SECTORS * 512, got, 512);
	memset(want, 0x5c, 512);
	assert_memory_equal(got, want, 512);
	vd_free(f);
}

/* A read the page cache holds is served on the caller's thread; the rest is left to the workers. */
/* The drive's limiter: two ops per second; the third request waits for the refill. */
static void test_blk_rate_limit(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct virtio_blk_config cfg = { .rate_limit.ops = { .size = 2, .refill_time_ms = 1000 } };
	struct ratelimit_config none = { 0 };
	struct device *dev;
	uint64_t data, t0;
	struct vq q;

	(void)state;
	image_make(f);
	cfg.path = f->image;
	dev = vd_realized(virtio_blk_create(&f->vm, f->vm.iothread, 0, &cfg, &err), &err);
	vd_start(f, 0, VD_FEAT_BASE, &q, 1, 16);
	data = vd_buf(f, 512, 0);
	t0 = clock_monotonic_ns();
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, 1, data, 512, true), VIRTIO_BLK_S_OK);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, 2, data, 512, true), VIRTIO_BLK_S_OK);
	/* Half a second for one op: the request is answered, not before. */
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, 3, data, 512, true), VIRTIO_BLK_S_OK);
	assert_true(clock_monotonic_ns() - t0 >= 490000000ull);
	assert_int_equal(*(uint8_t *)vd_hva(f, data, 1), 3);
	assert_true(vd_metric(dev, "throttled") >= 1);
	/* Lifted at run time: the next ones go at once. */
	assert_int_equal(virtio_blk_set_rate_limit(dev, &none), 0);
	t0 = clock_monotonic_ns();
	for (int i = 0; i < 5; i++)
		assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, 4, data, 512, true), VIRTIO_BLK_S_OK);
	assert_true(clock_monotonic_ns() - t0 < 400000000ull);
	vd_free(f);
}

static void test_blk_metrics(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct json_object *root, *devs, *blk, *v;
	struct device *dev;
	struct vq q;
	uint64_t data = vd_buf(f, 4096, 0);

	(void)state;
	image_make(f);
	dev = blk_new(f, 0, false, NULL, &err);
	vd_start(f, 0, VD_FEAT_BASE, &q, 1, 16);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, 1, data, 1024, true), VIRTIO_BLK_S_OK);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_OUT, 3, data, 512, false), VIRTIO_BLK_S_OK);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false), VIRTIO_BLK_S_OK);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, IMG_SECTORS, data, 1024, true),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_run(&q, 99, 0, 0, 0, false), VIRTIO_BLK_S_UNSUPP);

	vd_expect_metrics(dev, { "read_requests", 1 }, { "read_bytes", 1024 },
			  { "write_requests", 1 }, { "write_bytes", 512 }, { "flush_requests", 1 },
			  { "discard_requests", 0 }, { "io_errors", 1 },
			  { "unsupported_requests", 1 }, { "requests", 5 }, { "queue_errors", 0 });
	assert_true(vd_metric(dev, "queue_notifies") >= 1);
	assert_true(vd_metric(dev, "interrupts") >= 1);

	/* The same numbers in the VM's JSON, under the device's name. */
	assert_int_equal(vm_metrics_json(&f->vm, &root), 0);
	assert_true(json_object_object_get_ex(root, "devices", &devs));
	assert_true(json_object_object_get_ex(devs, "virtio-blk0", &blk));
	assert_true(json_object_object_get_ex(blk, "read_bytes", &v));
	assert_int_equal(json_object_get_uint64(v), 1024);
	assert_true(json_object_object_get_ex(root, "vm", &v));
	assert_true(json_object_object_get_ex(root, "vcpus", &v));
	assert_int_equal(json_object_array_length(v), 0);
	json_object_put(root);
	vd_free(f);
}

static void test_blk_read_cached(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct blkfile *file;
	static uint8_t buf[BLKFILE_CACHED_MAX + 512];
	uint8_t want[1024];
	struct iovec iov[2] = { { buf, 512 }, { buf + 512, 512 } };
	bool nowait;
	int fd;

	(void)state;
	image_make(f);
	assert_int_equal(blkfile_open(&file, f->image, true, &err), 0);
	/* Past the end of the file (the partial last sector reads zeros there). */
	assert_int_equal(blkfile_read_cached(file, iov, 2, (IMG_SECTORS - 1) * 512), -EAGAIN);
	/* Longer than a read on the caller's thread may be. */
	iov[0] = (struct iovec){ buf, sizeof(buf) };
	assert_int_equal(blkfile_read_cached(file, iov, 1, 0), -EAGAIN);
	/* Some file systems (tmpfs on older kernels) refuse RWF_NOWAIT: then every read goes to a worker. */
	fd = open(f->image, O_RDONLY);
	assert_true(fd >= 0);
	nowait = preadv2(fd, iov, 1, 0, RWF_NOWAIT) >= 0 || errno != EOPNOTSUPP;
	close(fd);
	if (!nowait) {
		blkfile_close(file);
		vd_free(f);
		print_message("this file system refuses RWF_NOWAIT reads\n");
		skip();
	}
	/* Just written, so cached: sectors 2 and 3, in two pieces. */
	iov[0] = (struct iovec){ buf, 512 };
	memset(buf, 0xee, 1024);
	assert_int_equal(blkfile_read_cached(file, iov, 2, 2 * 512), 0);
	memset(want, 2, 512);
	memset(want + 512, 3, 512);
	assert_memory_equal(buf, want, 1024);
	blkfile_close(file);
	vd_free(f);
}

static void test_blk_read_only(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct vq q;
	uint64_t data = vd_buf(f, 512, 0x5a);
	uint8_t before[IMG_SECTORS * 512], after[IMG_SECTORS * 512];
	uint32_t lo;

	(void)state;
	image_make(f);
	image_read(f, 0, before, sizeof(before));
	blk_new(f, 0, true, NULL, &err);
	vd_w32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = vd_r32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(lo & (1u << VIRTIO_BLK_F_RO));
	assert_false(lo & (1u << VIRTIO_BLK_F_DISCARD));
	vd_start(f, 0, VD_FEAT_BASE | (1ull << VIRTIO_BLK_F_RO), &q, 1, 16);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_OUT, 0, data, 512, false), VIRTIO_BLK_S_IOERR);
	{
		uint8_t *seg = vd_hva(f, data, 16);
		uint64_t sector = 0;
		uint32_t n = 8, flags = 0;

		memcpy(seg, &sector, 8);
		memcpy(seg + 8, &n, 4);
		memcpy(seg + 12, &flags, 4);
		assert_int_equal(blk_run(&q, VIRTIO_BLK_T_WRITE_ZEROES, 0, data, 16, false),
				 VIRTIO_BLK_S_IOERR);
	}
	/* Reads still work; the default id names the slot. */
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, 5, data, 512, true), VIRTIO_BLK_S_OK);
	assert_int_equal(*(uint8_t *)vd_hva(f, data, 1), 5);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_GET_ID, 0, data, 20, true), VIRTIO_BLK_S_OK);
	assert_memory_equal(vd_hva(f, data, 6), "disk0", 6);
	image_read(f, 0, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
	vd_free(f);
}

static void test_blk_wrong_direction(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct vq q;
	uint64_t data = vd_buf(f, 512, 0);
	uint64_t hdr = vd_buf(f, 16, 0), st = vd_buf(f, 1, 0xee);
	uint32_t type = VIRTIO_BLK_T_IN;

	(void)state;
	image_make(f);
	blk_new(f, 0, false, NULL, &err);
	vd_start(f, 0, VD_FEAT_BASE, &q, 1, 16);
	/* A read whose data buffer is device-readable: the device would write into it. */
	memcpy(vd_hva(f, hdr, 4), &type, 4);
	vq_publish(&q, vq_chain(&q,
				(struct vbuf[]){ { hdr, 16, false }, { data, 512, false },
						 { st, 1, true } },
				3));
	assert_true(vd_wait_needs_reset(f, 0));
	assert_int_equal(*(uint8_t *)vd_hva(f, st, 1), 0xee);
	assert_true(all_zero(vd_hva(f, data, 512), 512));
	vd_free(f);
}

static void test_blk_lock(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct virtio_blk_config cfg;

	(void)state;
	image_make(f);
	cfg = (struct virtio_blk_config){ .path = f->image };
	blk_new(f, 0, false, NULL, &err);
	/* A second writer, or a reader, of a locked image is refused by name. */
	assert_null(virtio_blk_create(&f->vm, f->vm.iothread, 1, &cfg, &err));
	assert_int_equal(err.code, -EBUSY);
	assert_non_null(strstr(err.msg, f->image));
	assert_non_null(strstr(err.msg, "in use"));
	cfg.read_only = true;
	memset(&err, 0, sizeof(err));
	assert_null(virtio_blk_create(&f->vm, f->vm.iothread, 2, &cfg, &err));
	assert_int_equal(err.code, -EBUSY);
	cfg.path = "/nonexistent/kite.img";
	assert_null(virtio_blk_create(&f->vm, f->vm.iothread, 3, &cfg, &err));
	assert_non_null(strstr(err.msg, "/nonexistent/kite.img"));
	vd_free(f);
}

/* ---- console ---------------------------------------------------------- */

static void test_console(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct vq q[2];
	struct device *dev;
	uint64_t rx = vd_buf(f, 64, 0), tx = vd_buf(f, 16, 0);
	char out[16] = { 0 };
	uint16_t head;

	(void)state;
	assert_int_equal(pipe(f->pipe), 0);
	dev = vd_realized(virtio_console_create(&f->vm, f->vm.iothread, 0, f->pipe[1], &err), &err);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
	/* Input before the driver is up is held for it. */
	assert_int_equal(virtio_console_receive(dev, (const uint8_t *)"hi", 2), 2);
	vd_start(f, 0, VD_FEAT_BASE | (1ull << VIRTIO_F_RING_EVENT_IDX), q, 2, 8);
	head = vq_chain(&q[0], &(struct vbuf){ rx, 64, true }, 1);
	vq_publish(&q[0], head);
	assert_true(vq_wait_used(&q[0], 1));
	assert_memory_equal(vd_hva(f, rx, 2), "hi", 2);
	/* Input after the buffer was posted. */
	vq_publish(&q[0], vq_chain(&q[0], &(struct vbuf){ rx + 32, 32, true }, 1));
	vd_sleep_ms(10);
	assert_int_equal(vq_used_idx(&q[0]), 1); /* no input, buffer kept */
	assert_int_equal(virtio_console_receive(dev, (const uint8_t *)"there", 5), 5);
	assert_true(vq_wait_used(&q[0], 2));
	assert_memory_equal(vd_hva(f, rx + 32, 5), "there", 5);
	/* Output. */
	memcpy(vd_hva(f, tx, 6), "hello\n", 6);
	vq_run(&q[1], &(struct vbuf){ tx, 6, false }, 1);
	assert_int_equal(read(f->pipe[0], out, sizeof(out)), 6);
	assert_string_equal(out, "hello\n");
	vd_free(f);
}

/* ---- virtio-net over a socket standing in for the TAP --------------------- */

#define NET_FEATURES                                                                        \
	(VD_FEAT_BASE | (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |             \
	 (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_HOST_TSO4))

static struct device *net_new_with(struct vd *f, int peer[2], struct virtio_net_config nc)
{
	struct err err = { 0 };

	nc.tap = "test0";
	nc.has_mac = true;
	memcpy(nc.mac, (uint8_t[]){ 0x02, 1, 2, 3, 4, 5 }, 6);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, peer), 0);
	nc.fd = peer[0];
	return vd_realized(virtio_net_create(&f->vm, f->vm.iothread, 0, &nc, &err), &err);
}

static struct device *net_new(struct vd *f, int peer[2])
{
	return net_new_with(f, peer, (struct virtio_net_config){ 0 });
}

/* Transmits header hdr and a frame of len bytes, two descriptors; returns the used length. */
static uint32_t net_tx(struct vq *q, uint64_t hdr, uint64_t frame, uint32_t len, bool writable)
{
	struct vbuf b[] = { { hdr, VIRTIO_NET_HDR_LEN, false }, { frame, len, writable } };

	return vq_run(q, b, 2);
}

static void test_net_tx(void **state)
{
	struct vd *f = vd_new();
	uint64_t hdr = vd_buf(f, VIRTIO_NET_HDR_LEN, 0), frame = vd_buf(f, 60, 0xab);
	uint8_t got[256];
	struct vq q[2];
	int peer[2];

	(void)state;
	net_new(f, peer);
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	assert_int_equal(vd_rd(f, 0, VIRTIO_MMIO_CONFIG + 5, 1), 5);   /* mac[5] */
	assert_int_equal(vd_rd(f, 0, VIRTIO_MMIO_CONFIG + 6, 2), 1);   /* link up */
	vd_start(f, 0, NET_FEATURES, q, 2, 8);
	/* A frame, header and body in two descriptors, arrives whole. */
	assert_int_equal(net_tx(&q[1], hdr, frame, 60, false), 0);
	assert_int_equal(vd_peer_recv(peer[1], got, sizeof(got)), VIRTIO_NET_HDR_LEN + 60);
	assert_true(all_zero(got, VIRTIO_NET_HDR_LEN));
	assert_memory_equal(got + VIRTIO_NET_HDR_LEN, vd_hva(f, frame, 60), 60);
	/* Hostile: a short header, a writable buffer, TSO6 not negotiated, a bad checksum spot. */
	assert_int_equal(vq_run(&q[1], &(struct vbuf){ hdr, VIRTIO_NET_HDR_LEN - 1, false }, 1), 0);
	assert_int_equal(net_tx(&q[1], hdr, frame, 60, true), 0);
	memcpy(vd_hva(f, hdr, 2),
	       (uint8_t[]){ VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6 }, 2);
	*(uint16_t *)vd_hva(f, hdr + 4, 2) = 1000;
	assert_int_equal(net_tx(&q[1], hdr, frame, 60, false), 0);
	memcpy(vd_hva(f, hdr, 2), (uint8_t[]){ VIRTIO_NET_HDR_F_NEEDS_CSUM, 0 }, 2);
	*(uint16_t *)vd_hva(f, hdr + 6, 2) = 59;
	*(uint16_t *)vd_hva(f, hdr + 8, 2) = 0;
	assert_int_equal(net_tx(&q[1], hdr, frame, 60, false), 0);
	assert_int_equal(vd_peer_recv(peer[1], got, sizeof(got)), -1);
	/* Dropped frames cost only themselves: the queue works on. */
	assert_false(vd_r32(f, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	memset(vd_hva(f, hdr, VIRTIO_NET_HDR_LEN), 0, VIRTIO_NET_HDR_LEN);
	assert_int_equal(net_tx(&q[1], hdr, frame, 60, false), 0);
	assert_int_equal(vd_peer_recv(peer[1], got, sizeof(got)), VIRTIO_NET_HDR_LEN + 60);
	close(peer[1]);
	vd_free(f);
}

static void test_net_rx(void **state)
{
	struct vd *f = vd_new();
	uint64_t rx = vd_buf(f, 2048, 0xee), small = vd_buf(f, 50, 0xee);
	uint8_t frame[VIRTIO_NET_HDR_LEN + 100] = { 0 };
	uint32_t id, len;
	struct vq q[2];
	int peer[2];

	(void)state;
	for (size_t i = VIRTIO_NET_HDR_LEN; i < sizeof(frame); i++)
		frame[i] = (uint8_t)i;
	net_new(f, peer);
	vd_start(f, 0, NET_FEATURES | (1ull << VIRTIO_F_RING_EVENT_IDX), q, 2, 8);
	/* A frame before any buffer waits for one. */
	assert_int_equal(send(peer[1], frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	vd_sleep_ms(10);
	assert_int_equal(vq_run(&q[0], &(struct vbuf){ rx, 2048, true }, 1), sizeof(frame));
	assert_int_equal(*(uint16_t *)vd_hva(f, rx + 10, 2), 1); /* num_buffers */
	assert_memory_equal(vd_hva(f, rx + VIRTIO_NET_HDR_LEN, 100), frame + VIRTIO_NET_HDR_LEN,
			    100);
	/* Hostile: a device-readable receive buffer is returned empty, the frame kept. */
	vq_publish(&q[0], vq_chain(&q[0], &(struct vbuf){ rx, 2048, false }, 1));
	assert_int_equal(send(peer[1], frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	assert_true(vq_wait_used(&q[0], 2));
	vq_used_elem(&q[0], 1, &id, &len);
	assert_int_equal(len, 0);
	assert_int_equal(vq_run(&q[0], &(struct vbuf){ rx, 2048, true }, 1), sizeof(frame));
	/* A buffer too small for the frame: returned empty, the frame dropped, not overrun. */
	assert_int_equal(send(peer[1], frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	assert_int_equal(vq_run(&q[0], &(struct vbuf){ small, 50, true }, 1), 0);
	assert_int_equal(*(uint8_t *)vd_hva(f, small, 1), 0xee);
	assert_false(vd_r32(f, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* The next frame goes to the next buffer. */
	frame[VIRTIO_NET_HDR_LEN] = 0x77;
	assert_int_equal(send(peer[1], frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	assert_int_equal(vq_run(&q[0], &(struct vbuf){ rx, 2048, true }, 1), sizeof(frame));
	assert_int_equal(*(uint8_t *)vd_hva(f, rx + VIRTIO_NET_HDR_LEN, 1), 0x77);
	close(peer[1]);
	vd_free(f);
}

#define MRG (1ull << VIRTIO_NET_F_MRG_RXBUF)

/* A header and n payload bytes counting from first, as the TAP would hand them over. */
static size_t net_frame(uint8_t *buf, size_t n, uint8_t first)
{
	memset(buf, 0, VIRTIO_NET_HDR_LEN);
	for (size_t i = 0; i < n; i++)
		buf[VIRTIO_NET_HDR_LEN + i] = (uint8_t)(first + i);
	return VIRTIO_NET_HDR_LEN + n;
}

/* Makes one single-buffer writable chain of len bytes available. */
static uint64_t rx_post(struct vd *f, struct vq *q, uint32_t len)
{
	uint64_t gpa = vd_buf(f, len, 0xee);

	vq_publish(q, vq_chain(q, &(struct vbuf){ gpa, len, true }, 1));
	return gpa;
}

/* With MRG_RXBUF a frame spreads over buffers; num_buffers counts them (5.1.6.4). */
static void test_net_rx_mergeable(void **state)
{
	struct vd *f = vd_new();
	static uint8_t frame[VIRTIO_NET_HDR_LEN + 5000];
	uint64_t b[4];
	uint32_t id, len;
	struct device *dev;
	struct vq q[2];
	int peer[2];
	size_t n;

	(void)state;
	dev = net_new(f, peer);
	vd_start(f, 0, NET_FEATURES | MRG | (1ull << VIRTIO_F_RING_EVENT_IDX), q, 2, 8);
	/* 2012 bytes over 1024-byte buffers: two of them, the second part-filled. */
	n = net_frame(frame, 2000, 1);
	b[0] = rx_post(f, &q[0], 1024);
	b[1] = rx_post(f, &q[0], 1024);
	b[2] = rx_post(f, &q[0], 1024);
	assert_int_equal(send(peer[1], frame, n, 0), (ssize_t)n);
	assert_true(vq_wait_used(&q[0], 2));
	assert_int_equal(*(uint16_t *)vd_hva(f, b[0] + 10, 2), 2); /* num_buffers */
	vq_used_elem(&q[0], 0, &id, &len);
	assert_int_equal(len, 1024);
	vq_used_elem(&q[0], 1, &id, &len);
	assert_int_equal(len, n - 1024);
	assert_memory_equal(vd_hva(f, b[0] + VIRTIO_NET_HDR_LEN, 1024 - VIRTIO_NET_HDR_LEN),
			    frame + VIRTIO_NET_HDR_LEN, 1024 - VIRTIO_NET_HDR_LEN);
	assert_memory_equal(vd_hva(f, b[1], n - 1024), frame + 1024, n - 1024);
	/* 5012 bytes, one 1024-byte buffer there: the frame waits, nothing is used in part. */
	n = net_frame(frame, 5000, 7);
	assert_int_equal(send(peer[1], frame, n, 0), (ssize_t)n);
	vd_sleep_ms(20);
	assert_int_equal(vq_used_idx(&q[0]), 2);
	b[3] = rx_post(f, &q[0], 2048);
	vd_sleep_ms(20);
	assert_int_equal(vq_used_idx(&q[0]), 2);
	/* Enough now: 1024 + 2048 + 2048 >= 5012; the third buffer takes 1940. */
	rx_post(f, &q[0], 2048);
	assert_true(vq_wait_used(&q[0], 5));
	assert_int_equal(*(uint16_t *)vd_hva(f, b[2] + 10, 2), 3);
	vq_used_elem(&q[0], 4, &id, &len);
	assert_int_equal(len, n - 1024 - 2048);
	assert_memory_equal(vd_hva(f, b[3], 2048), frame + 1024, 2048);
	vd_expect_metrics(dev, { "rx_frames", 2 }, { "rx_dropped", 0 });
	close(peer[1]);
	vd_free(f);
}

/* A frame larger than the whole ring is dropped, and the buffers serve the next one. */
static void test_net_rx_mergeable_too_big(void **state)
{
	struct vd *f = vd_new();
	static uint8_t frame[VIRTIO_NET_HDR_LEN + 1000];
	uint64_t first, readable;
	uint32_t id, len;
	struct device *dev;
	struct vq q[2];
	int peer[2];
	size_t n;

	(void)state;
	dev = net_new(f, peer);
	vd_start(f, 0, NET_FEATURES | MRG, q, 2, 4);
	/* Hostile first: a readable chain and one shorter than the header come back empty. */
	readable = vd_buf(f, 64, 0xee);
	vq_publish(&q[0], vq_chain(&q[0], &(struct vbuf){ readable, 64, false }, 1));
	rx_post(f, &q[0], VIRTIO_NET_HDR_LEN - 1);
	n = net_frame(frame, 1000, 3);
	assert_int_equal(send(peer[1], frame, n, 0), (ssize_t)n);
	assert_true(vq_wait_used(&q[0], 2));
	vq_used_elem(&q[0], 0, &id, &len);
	assert_int_equal(len, 0);
	vq_used_elem(&q[0], 1, &id, &len);
	assert_int_equal(len, 0);
	assert_int_equal(vd_metric(dev, "rx_bad_buffers"), 2);
	/* Four 100-byte buffers, all the ring has, for 1012 bytes: dropped, buffers kept. */
	first = rx_post(f, &q[0], 100);
	for (int i = 0; i < 3; i++)
		rx_post(f, &q[0], 100);
	for (unsigned i = 0; i < VD_WAIT_MS && vd_metric(dev, "rx_dropped") == 0; i++)
		vd_sleep_ms(1);
	assert_int_equal(vd_metric(dev, "rx_dropped"), 1);
	assert_int_equal(vq_used_idx(&q[0]), 2);
	assert_int_equal(*(uint8_t *)vd_hva(f, first, 1), 0xee);
	/* A frame that fits goes to the first of them. */
	n = net_frame(frame, 150, 9);
	assert_int_equal(send(peer[1], frame, n, 0), (ssize_t)n);
	assert_true(vq_wait_used(&q[0], 4));
	assert_int_equal(*(uint16_t *)vd_hva(f, first + 10, 2), 2);
	assert_int_equal(*(uint8_t *)vd_hva(f, first + VIRTIO_NET_HDR_LEN, 1), 9);
	assert_false(vd_r32(f, 0, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	close(peer[1]);
	vd_free(f);
}

/* VIRTIO_NET_F_MTU: the config field, and no plain frame above it reaches the driver. */
static void test_net_mtu(void **state)
{
	struct vd *f = vd_new();
	static uint8_t frame[VIRTIO_NET_HDR_LEN + 1600];
	uint64_t buf;
	struct device *dev;
	struct vq q[2];
	int peer[2];
	size_t n;

	(void)state;
	dev = net_new_with(f, peer, (struct virtio_net_config){ .mtu = 1400 });
	vd_w32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_true(vd_r32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES) & (1u << VIRTIO_NET_F_MTU));
	assert_int_equal(vd_rd(f, 0, VIRTIO_MMIO_CONFIG + 10, 2), 1400);
	vd_start(f, 0, NET_FEATURES | MRG | (1ull << VIRTIO_NET_F_MTU), q, 2, 8);
	buf = rx_post(f, &q[0], 4096);
	/* 1400 + 18 bytes of Ethernet header and VLAN tag is the most. */
	n = net_frame(frame, 1419, 1);
	assert_int_equal(send(peer[1], frame, n, 0), (ssize_t)n);
	n = net_frame(frame, 1418, 2);
	assert_int_equal(send(peer[1], frame, n, 0), (ssize_t)n);
	assert_true(vq_wait_used(&q[0], 1));
	assert_int_equal(*(uint8_t *)vd_hva(f, buf + VIRTIO_NET_HDR_LEN, 1), 2);
	assert_int_equal(vd_metric(dev, "rx_dropped"), 1);
	close(peer[1]);
	vd_free(f);
	/* Without mtu= the feature is not offered. */
	f = vd_new();
	net_new(f, peer);
	vd_w32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_false(vd_r32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES) & (1u << VIRTIO_NET_F_MTU));
	close(peer[1]);
	vd_free(f);
}

/*
 * --net user: the user network behind the same receive path. It is offered
 * no checksum or TSO offloads but MRG_RXBUF and the MTU; an ARP request the
 * driver sends reaches libslirp, whose reply (42 bytes, padded) comes back
 * spread over two 48-byte buffers, num_buffers 2.
 */
static void test_net_user(void **state)
{
	static const uint64_t none = (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |
				     (1ull << VIRTIO_NET_F_GUEST_TSO4) |
				     (1ull << VIRTIO_NET_F_GUEST_TSO6) |
				     (1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_HOST_TSO6);
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x15 };
	struct virtio_net_config nc = { .id = "eth0", .user = true, .has_mac = true, .mtu = 4000 };
	struct vd *f = vd_new();
	uint64_t hdr = vd_buf(f, VIRTIO_NET_HDR_LEN, 0), arp = vd_buf(f, 42, 0), b[4];
	uint8_t *a = vd_hva(f, arp, 42), reply[96];
	struct err err = { 0 };
	struct device *dev;
	uint32_t id, len;
	uint64_t offered;
	struct vq q[2];

	(void)state;
	memcpy(nc.mac, mac, 6);
	dev = vd_realized(virtio_net_create(&f->vm, f->vm.iothread, 0, &nc, &err), &err);
	vd_w32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered = vd_r32(f, 0, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_int_equal(offered & none, 0);
	assert_true(offered & MRG);
	assert_true(offered & (1ull << VIRTIO_NET_F_MTU));
	assert_int_equal(vd_rd(f, 0, VIRTIO_MMIO_CONFIG + 10, 2), 4000);
	vd_start(f, 0,
		 VD_FEAT_BASE | (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) | MRG |
			 (1ull << VIRTIO_NET_F_MTU),
		 q, 2, 8);
	for (int i = 0; i < 4; i++)
		b[i] = rx_post(f, &q[0], 48);
	/* Who has 10.0.2.2? Tell 10.0.2.15. */
	memset(a, 0xff, 6);
	memcpy(a + 6, mac, 6);
	memcpy(a + 12, (uint8_t[]){ 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1 }, 10);
	memcpy(a + 22, mac, 6);
	memcpy(a + 28, (uint8_t[]){ 10, 0, 2, 15 }, 4);
	memcpy(a + 38, (uint8_t[]){ 10, 0, 2, 2 }, 4);
	assert_int_equal(net_tx(&q[1], hdr, arp, 42, false), 0);
	assert_true(vq_wait_used(&q[0], 2));
	assert_int_equal(*(uint16_t *)vd_hva(f, b[0] + 10, 2), 2); /* num_buffers */
	vq_used_elem(&q[0], 0, &id, &len);
	assert_int_equal(len, 48);
	vq_used_elem(&q[0], 1, &id, &len);
	/* 42 bytes of ARP, padded to Ethernet's 60 or more by libslirp. */
	assert_in_range(len, VIRTIO_NET_HDR_LEN + 42 - 48, 48);
	memcpy(reply, vd_hva(f, b[0] + VIRTIO_NET_HDR_LEN, 48 - VIRTIO_NET_HDR_LEN),
	       48 - VIRTIO_NET_HDR_LEN);
	memcpy(reply + 48 - VIRTIO_NET_HDR_LEN, vd_hva(f, b[1], len), len);
	assert_memory_equal(reply, mac, 6);
	assert_int_equal(reply[12] << 8 | reply[13], 0x0806);
	assert_int_equal(reply[20] << 8 | reply[21], 2);   /* a reply */
	assert_memory_equal(reply + 28, a + 38, 4);	    /* from 10.0.2.2 */
	assert_memory_equal(reply + 32, mac, 6);	    /* to the guest */
	vd_expect_metrics(dev, { "tx_frames", 1 }, { "rx_frames", 1 }, { "user_tx_malformed", 0 });
	vd_free(f);
}

/* The tx limiter holds a frame back until its bucket refills, on a timer, and can be lifted. */
static void test_net_tx_rate_limit(void **state)
{
	struct vd *f = vd_new();
	struct virtio_net_config nc = {
		/* 100 bytes per second: a 60-byte frame, then 40 left. */
		.tx_rate_limit.bandwidth = { .size = 100, .refill_time_ms = 1000 },
	};
	uint64_t hdr = vd_buf(f, VIRTIO_NET_HDR_LEN, 0), frame = vd_buf(f, 60, 0xab);
	struct vbuf chain[2] = { { hdr, VIRTIO_NET_HDR_LEN, false }, { frame, 60, false } };
	struct ratelimit_config none = { 0 };
	uint64_t t0;
	uint8_t got[128];
	struct device *dev;
	struct vq q[2];
	int peer[2];

	(void)state;
	dev = net_new_with(f, peer, nc);
	vd_start(f, 0, NET_FEATURES, q, 2, 8);
	assert_int_equal(vq_run(&q[1], chain, 2), 0);
	assert_int_equal(vd_peer_recv(peer[1], got, sizeof(got)), VIRTIO_NET_HDR_LEN + 60);
	/* The second needs 20 more tokens: 200 ms. It stays the driver's meanwhile. */
	t0 = clock_monotonic_ns();
	vq_publish(&q[1], vq_chain(&q[1], chain, 2));
	assert_int_equal(vd_peer_recv(peer[1], got, sizeof(got)), -1);
	assert_int_equal(vq_used_idx(&q[1]), 1);
	for (unsigned i = 0; i < VD_WAIT_MS && vd_metric(dev, "tx_throttled") == 0; i++)
		vd_sleep_ms(1);
	assert_true(vd_metric(dev, "tx_throttled") >= 1);
	assert_true(vq_wait_used(&q[1], 2));
	assert_true(clock_monotonic_ns() - t0 >= 190000000ull);
	assert_int_equal(vd_peer_recv(peer[1], got, sizeof(got)), VIRTIO_NET_HDR_LEN + 60);
	/* Empty again; lifting the limit lets the next one out at once. */
	vq_publish(&q[1], vq_chain(&q[1], chain, 2));
	assert_int_equal(vd_peer_recv(peer[1], got, sizeof(got)), -1);
	assert_int_equal(virtio_net_set_rate_limits(dev, NULL, &none), 0);
	assert_true(vq_wait_used(&q[1], 3));
	assert_int_equal(vd_peer_recv(peer[1], got, sizeof(got)), VIRTIO_NET_HDR_LEN + 60);
	assert_int_equal(vd_metric(dev, "tx_frames"), 3);
	close(peer[1]);
	vd_free(f);
}

/* The rx limiter keeps a frame in the device until the bucket allows it. */
static void test_net_rx_rate_limit(void **state)
{
	struct vd *f = vd_new();
	struct virtio_net_config nc = {
		/* One frame per second, whatever its size. */
		.rx_rate_limit.ops = { .size = 1, .refill_time_ms = 1000 },
	};
	static uint8_t frame[VIRTIO_NET_HDR_LEN + 100];
	struct ratelimit_config fast = { .ops = { .size = 1000, .refill_time_ms = 1 } };
	struct device *dev;
	struct vq q[2];
	uint64_t buf;
	int peer[2];
	size_t n;

	(void)state;
	dev = net_new_with(f, peer, nc);
	vd_start(f, 0, NET_FEATURES | MRG, q, 2, 8);
	rx_post(f, &q[0], 2048);
	buf = rx_post(f, &q[0], 2048);
	n = net_frame(frame, 100, 1);
	assert_int_equal(send(peer[1], frame, n, 0), (ssize_t)n);
	n = net_frame(frame, 100, 2);
	assert_int_equal(send(peer[1], frame, n, 0), (ssize_t)n);
	assert_true(vq_wait_used(&q[0], 1));
	vd_sleep_ms(100);
	assert_int_equal(vq_used_idx(&q[0]), 1);
	assert_true(vd_metric(dev, "rx_throttled") >= 1);
	/* A new limiter starts full and wakes the queue. */
	assert_int_equal(virtio_net_set_rate_limits(dev, &fast, NULL), 0);
	assert_true(vq_wait_used(&q[0], 2));
	assert_int_equal(*(uint8_t *)vd_hva(f, buf + VIRTIO_NET_HDR_LEN, 1), 2);
	close(peer[1]);
	vd_free(f);
}

/* ---- save / load ------------------------------------------------------ */

static int save_dev(struct device *dev, struct state_writer *w)
{
	dev->ops->pause(dev);
	state_writer_init(w);
	return dev->ops->save(dev, w);
}

static void test_save_load_rng(void **state)
{
	struct vd *a = vd_new(), *b = vd_new();
	struct err err = { 0 };
	struct state_writer w;
	struct state_reader r;
	struct device *da, *db;
	struct vq q;
	uint64_t buf = vd_buf(a, 64, 0);

	(void)state;
	da = vd_realized(virtio_rng_create(&a->vm, a->vm.iothread, 0, &err), &err);
	vd_start(a, 0, VD_FEAT_BASE | (1ull << VIRTIO_F_RING_EVENT_IDX), &q, 1, 8);
	vq_run(&q, &(struct vbuf){ buf, 64, true }, 1);
	vq_run(&q, &(struct vbuf){ buf, 64, true }, 1);
	assert_true(vd_wait_isr(a, 0, VIRTIO_INT_USED));
	assert_int_equal(save_dev(da, &w), 0);
	/* The destination: same RAM contents, a fresh device. */
	memcpy(b->vm.mem.base, a->vm.mem.base, a->vm.mem.ram_size);
	db = vd_realized(virtio_rng_create(&b->vm, b->vm.iothread, 0, &err), &err);
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(db->ops->load(db, &r, &err), 0);
	assert_int_equal(r.pos, w.len);
	db->ops->resume(db);
	assert_int_equal(atomic_load(&b->level[VIRTIO_MMIO_GSI_BASE]), 1);
	assert_int_equal(vd_r32(b, 0, VIRTIO_MMIO_STATUS),
			 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	/* The driver carries on where it was, on the restored device. */
	q.f = b;
	memset(vd_hva(b, buf, 64), 0, 64);
	assert_int_equal(vq_run(&q, &(struct vbuf){ buf, 64, true }, 1), 64);
	assert_int_equal(vq_used_idx(&q), 3);
	assert_false(all_zero(vd_hva(b, buf, 64), 64));
	state_writer_free(&w);
	vd_free(a);
	vd_free(b);
}

/* The MAC and the rings survive; the restored device sends on its own back-end. */
static void test_save_load_net(void **state)
{
	struct vd *a = vd_new(), *b = vd_new();
	uint64_t hdr = vd_buf(a, VIRTIO_NET_HDR_LEN, 0), frame = vd_buf(a, 60, 0x5a);
	struct err err = { 0 };
	struct state_writer w;
	struct state_reader r;
	struct device *da, *db;
	int pa[2], pb[2];
	uint8_t got[128];
	struct vq q[2];

	(void)state;
	da = net_new(a, pa);
	vd_start(a, 0, NET_FEATURES, q, 2, 8);
	net_tx(&q[1], hdr, frame, 60, false);
	assert_int_equal(vd_peer_recv(pa[1], got, sizeof(got)), VIRTIO_NET_HDR_LEN + 60);
	assert_int_equal(save_dev(da, &w), 0);
	memcpy(b->vm.mem.base, a->vm.mem.base, a->vm.mem.ram_size);
	db = net_new(b, pb);
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(db->ops->load(db, &r, &err), 0);
	assert_int_equal(r.pos, w.len);
	db->ops->resume(db);
	assert_int_equal(vd_rd(b, 0, VIRTIO_MMIO_CONFIG + 5, 1), 5);
	assert_int_equal(vd_rd(b, 0, VIRTIO_MMIO_CONFIG + 6, 2), 1);
	q[1].f = b;
	assert_int_equal(net_tx(&q[1], hdr, frame, 60, false), 0);
	assert_int_equal(vq_used_idx(&q[1]), 2);
	assert_int_equal(vd_peer_recv(pb[1], got, sizeof(got)), VIRTIO_NET_HDR_LEN + 60);
	assert_int_equal(got[VIRTIO_NET_HDR_LEN], 0x5a);
	state_writer_free(&w);
	close(pa[1]);
	close(pb[1]);
	vd_free(a);
	vd_free(b);
}

/* A guest told one MTU at probe cannot be restored onto an interface with another. */
static void test_save_load_net_mtu(void **state)
{
	struct vd *a = vd_new(), *b = vd_new();
	struct err err = { 0 };
	struct state_writer w;
	struct state_reader r;
	struct device *da, *db;
	int pa[2], pb[2];

	(void)state;
	da = net_new_with(a, pa, (struct virtio_net_config){ .mtu = 9000 });
	assert_int_equal(save_dev(da, &w), 0);
	db = net_new_with(b, pb, (struct virtio_net_config){ .mtu = 1500 });
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(db->ops->load(db, &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "told MTU 9000, this interface has 1500"));
	state_writer_free(&w);
	close(pa[1]);
	close(pb[1]);
	vd_free(a);
	vd_free(b);
}

static void test_save_load_blk(void **state)
{
	struct vd *a = vd_new(), *b = vd_new();
	struct err err = { 0 };
	struct state_writer w;
	struct state_reader r;
	struct device *da, *db;
	struct vq q;
	uint64_t data;

	(void)state;
	image_make(a);
	da = blk_new(a, 0, false, NULL, &err);
	vd_start(a, 0, VD_FEAT_BASE, &q, 1, 16);
	data = vd_buf(a, 512, 0);
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, 9, data, 512, true), VIRTIO_BLK_S_OK);
	assert_int_equal(save_dev(da, &w), 0);
	/* The image moves with the VM: close it on the source first (the lock). */
	da->ops->destroy(da);
	a->vm.devices = NULL;
	memcpy(b->vm.mem.base, a->vm.mem.base, a->vm.mem.ram_size);
	memcpy(b->image, a->image, sizeof(a->image));
	a->image[0] = '\0';
	db = blk_new(b, 0, false, NULL, &err);
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(db->ops->load(db, &r, &err), 0);
	db->ops->resume(db);
	q.f = b;
	b->next_buf = a->next_buf;
	assert_int_equal(blk_run(&q, VIRTIO_BLK_T_IN, 10, data, 512, true), VIRTIO_BLK_S_OK);
	assert_int_equal(*(uint8_t *)vd_hva(b, data, 1), 10);
	state_writer_free(&w);
	vd_free(a);
	vd_free(b);
}

/* Patches a saved stream at off, expects load to fail, and the device to be unchanged. */
static void load_corrupt(const struct state_writer *w, size_t off, const void *val, size_t n,
			 const char *needle)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct state_reader r;
	struct device *dev;
	uint8_t *copy = malloc(w->len);

	assert_non_null(copy);
	memcpy(copy, w->buf, w->len);
	if (val)
		memcpy(copy + off, val, n);
	dev = vd_realized(virtio_rng_create(&f->vm, f->vm.iothread, 0, &err), &err);
	state_reader_init(&r, copy, val ? w->len : off);
	assert_true(dev->ops->load(dev, &r, &err) < 0);
	if (needle)
		assert_non_null(strstr(err.msg, needle));
	assert_int_equal(vd_r32(f, 0, VIRTIO_MMIO_STATUS), 0);
	free(copy);
	vd_free(f);
}

/* Offsets in the "virtio-mmio" section: 40-byte header, then the fields in save order. */
#define OFF_ID 40
#define OFF_DRV_FEATURES 56
#define OFF_STATUS 76
#define OFF_ISR 81
#define OFF_Q0 89
#define OFF_Q0_NUM OFF_Q0
#define OFF_Q0_READY (OFF_Q0 + 4)
#define OFF_Q0_DESC (OFF_Q0 + 6)
#define OFF_Q0_LAST_AVAIL (OFF_Q0 + 30)

static void test_load_rejects_corrupt_state(void **state)
{
	struct vd *a = vd_new();
	struct err err = { 0 };
	struct state_writer w;
	struct device *da;
	struct vq q;
	uint64_t buf = vd_buf(a, 64, 0);
	uint32_t v32;
	uint64_t v64;
	uint16_t v16;
	uint8_t v8;

	(void)state;
	da = vd_realized(virtio_rng_create(&a->vm, a->vm.iothread, 0, &err), &err);
	vd_start(a, 0, VD_FEAT_BASE, &q, 1, 8);
	vq_run(&q, &(struct vbuf){ buf, 64, true }, 1);
	assert_int_equal(save_dev(da, &w), 0);
	/* Sanity: the offsets above point where the test thinks. */
	memcpy(&v32, w.buf + OFF_STATUS, 4);
	assert_int_equal(v32, 15);
	memcpy(&v32, w.buf + OFF_Q0_NUM, 4);
	assert_int_equal(v32, 8);

	v32 = VIRTIO_ID_BLOCK;
	load_corrupt(&w, OFF_ID, &v32, 4, "different device");
	v32 = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK;
	load_corrupt(&w, OFF_STATUS, &v32, 4, "DRIVER_OK");
	v32 = 0x10;
	load_corrupt(&w, OFF_STATUS, &v32, 4, "status");
	v32 = 0x7;
	load_corrupt(&w, OFF_ISR, &v32, 4, "status");
	v64 = 1ull << 40;
	load_corrupt(&w, OFF_DRV_FEATURES, &v64, 8, "features");
	v32 = 6;
	load_corrupt(&w, OFF_Q0_NUM, &v32, 4, "power of two");
	v32 = 512;
	load_corrupt(&w, OFF_Q0_NUM, &v32, 4, "queue 0");
	v8 = 2;
	load_corrupt(&w, OFF_Q0_READY, &v8, 1, "queue 0");
	v64 = MEM_MIN_SIZE;
	load_corrupt(&w, OFF_Q0_DESC, &v64, 8, "outside guest RAM");
	v16 = 7;
	load_corrupt(&w, OFF_Q0_LAST_AVAIL, &v16, 2, "in flight");
	/* Truncated streams, inside either section. */
	load_corrupt(&w, 60, NULL, 0, NULL);
	load_corrupt(&w, w.len - 3, NULL, 0, NULL);
	state_writer_free(&w);
	vd_free(a);
}

/* ---- the machine ------------------------------------------------------ */

static void test_acpi_windows(void **state)
{
	struct vd *f = vd_new();
	struct err err = { 0 };
	struct acpi_config cfg = { 0 };

	(void)state;
	vd_realized(virtio_rng_create(&f->vm, f->vm.iothread, 0, &err), &err);
	image_make(f);
	blk_new(f, 1, true, NULL, &err);
	virtio_devices_acpi(&f->vm, &cfg);
	assert_int_equal(cfg.nr_mmio, 2);
	assert_int_equal(cfg.mmio[0].base, VIRTIO_MMIO_BASE);
	assert_int_equal(cfg.mmio[0].gsi, 16);
	assert_int_equal(cfg.mmio[1].base, VIRTIO_MMIO_BASE + 0x1000);
	assert_int_equal(cfg.mmio[1].size, VIRTIO_MMIO_SIZE);
	assert_int_equal(cfg.mmio[1].gsi, 17);
	vd_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_and_features),
		cmocka_unit_test(test_status_handshake),
		cmocka_unit_test(test_rng_fills_and_caps),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_event_idx_suppression),
		cmocka_unit_test(test_no_interrupt_flag),
		cmocka_unit_test(test_hostile_loop),
		cmocka_unit_test(test_hostile_too_long),
		cmocka_unit_test(test_hostile_out_of_ram),
		cmocka_unit_test(test_hostile_addr_wrap),
		cmocka_unit_test(test_hostile_len_overflow),
		cmocka_unit_test(test_hostile_wrong_direction),
		cmocka_unit_test(test_hostile_read_after_write),
		cmocka_unit_test(test_hostile_nested_indirect),
		cmocka_unit_test(test_hostile_indirect_self),
		cmocka_unit_test(test_hostile_indirect_no_feature),
		cmocka_unit_test(test_hostile_index_jump),
		cmocka_unit_test(test_hostile_head_range),
		cmocka_unit_test(test_hostile_next_range),
		cmocka_unit_test(test_hostile_ring_outside_ram),
		cmocka_unit_test(test_blk_config),
		cmocka_unit_test(test_blk_io),
		cmocka_unit_test(test_blk_metrics),
		cmocka_unit_test(test_blk_rate_limit),
		cmocka_unit_test(test_blk_read_cached),
		cmocka_unit_test(test_blk_read_only),
		cmocka_unit_test(test_blk_wrong_direction),
		cmocka_unit_test(test_blk_lock),
		cmocka_unit_test(test_console),
		cmocka_unit_test(test_net_tx),
		cmocka_unit_test(test_net_rx),
		cmocka_unit_test(test_net_rx_mergeable),
		cmocka_unit_test(test_net_rx_mergeable_too_big),
		cmocka_unit_test(test_net_mtu),
		cmocka_unit_test(test_net_user),
		cmocka_unit_test(test_net_tx_rate_limit),
		cmocka_unit_test(test_net_rx_rate_limit),
		cmocka_unit_test(test_save_load_rng),
		cmocka_unit_test(test_save_load_blk),
		cmocka_unit_test(test_save_load_net),
		cmocka_unit_test(test_save_load_net_mtu),
		cmocka_unit_test(test_load_rejects_corrupt_state),
		cmocka_unit_test(test_acpi_windows),
	};

	/* KITE_TEST_LOG=1 shows why each hostile case was refused; a filter picks tests. */
	log_set_level(getenv("KITE_TEST_LOG") ? LOG_DEBUG : LOG_ERROR);
	if (getenv("KITE_TEST_FILTER"))
		cmocka_set_test_filter(getenv("KITE_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
