/* tests/unit/test_net.c: virtio-net's transmit chain checks against hostile descriptors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "virtio/virtio.h"

#define ALL_HOST_FEATURES                                                                  \
	((1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_HOST_TSO4) |                   \
	 (1ull << VIRTIO_NET_F_HOST_TSO6) | (1ull << VIRTIO_F_VERSION_1))

/* One chain: a 12-byte header buffer and a frame buffer, both device-readable. */
struct tx {
	uint8_t hdr[VIRTIO_NET_HDR_LEN];
	uint8_t *frame;
	size_t frame_len;
	struct virtq_chain c;
};

static struct tx *tx_new(size_t frame_len)
{
	struct tx *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->frame = calloc(1, frame_len ? frame_len : 1);
	assert_non_null(t->frame);
	t->frame_len = frame_len;
	t->c.iov[0] = (struct iovec){ t->hdr, sizeof(t->hdr) };
	t->c.iov[1] = (struct iovec){ t->frame, frame_len };
	t->c.nr_readable = 2;
	t->c.readable_len = (uint32_t)(sizeof(t->hdr) + frame_len);
	return t;
}

static void tx_free(struct tx *t)
{
	free(t->frame);
	free(t);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static int parse(struct tx *t, uint64_t features, struct virtio_net_hdr *h, const char **why)
{
	*why = NULL;
	return virtio_net_tx_parse(&t->c, features, h, why);
}

static void test_plain_frame(void **state)
{
	struct tx *t = tx_new(60);
	struct virtio_net_hdr h;
	const char *why;

	(void)state;
	t->hdr[10] = 7; /* num_buffers from the driver: ignored, zero to the TAP */
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), 0);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(h.num_buffers, 0);
	tx_free(t);
}

/* The header split over several descriptors, a byte at a time, still parses. */
static void test_header_scattered(void **state)
{
	uint8_t bytes[VIRTIO_NET_HDR_LEN + 100] = { 0 };
	struct virtq_chain *c = calloc(1, sizeof(*c));
	struct virtio_net_hdr h;
	const char *why;

	(void)state;
	assert_non_null(c);
	bytes[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	put16(bytes + 6, 34);
	put16(bytes + 8, 16);
	for (unsigned i = 0; i < VIRTIO_NET_HDR_LEN; i++)
		c->iov[i] = (struct iovec){ bytes + i, 1 };
	c->iov[VIRTIO_NET_HDR_LEN] = (struct iovec){ bytes + VIRTIO_NET_HDR_LEN, 100 };
	c->nr_readable = VIRTIO_NET_HDR_LEN + 1;
	c->readable_len = sizeof(bytes);
	assert_int_equal(virtio_net_tx_parse(c, ALL_HOST_FEATURES, &h, &why), 0);
	assert_int_equal(h.csum_start, 34);
	assert_int_equal(h.csum_offset, 16);
	free(c);
}

static void test_short_header(void **state)
{
	struct tx *t = tx_new(0);
	struct virtio_net_hdr h;
	const char *why;

	(void)state;
	t->c.iov[0].iov_len = VIRTIO_NET_HDR_LEN - 1;
	t->c.nr_readable = 1;
	t->c.readable_len = VIRTIO_NET_HDR_LEN - 1;
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), -EBADMSG);
	assert_non_null(why);
	tx_free(t);
}

static void test_writable_buffer(void **state)
{
	struct tx *t = tx_new(60);
	struct virtio_net_hdr h;
	const char *why;

	(void)state;
	t->c.nr_readable = 1;
	t->c.nr_writable = 1;
	t->c.readable_len = VIRTIO_NET_HDR_LEN;
	t->c.writable_len = 60;
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), -EBADMSG);
	tx_free(t);
}

static void test_frame_too_big(void **state)
{
	struct tx *t = tx_new(VIRTIO_NET_FRAME_MAX + 1);
	struct virtio_net_hdr h;
	const char *why;

	(void)state;
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), -EBADMSG);
	t->c.iov[1].iov_len = VIRTIO_NET_FRAME_MAX;
	t->c.readable_len = VIRTIO_NET_HDR_LEN + VIRTIO_NET_FRAME_MAX;
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), 0);
	tx_free(t);
}

/* Checksum offload asked for without negotiating it, or pointing outside the frame. */
static void test_csum(void **state)
{
	struct tx *t = tx_new(100);
	struct virtio_net_hdr h;
	const char *why;

	(void)state;
	t->hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	put16(t->hdr + 6, 34);
	put16(t->hdr + 8, 16);
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), 0);
	assert_int_equal(parse(t, 1ull << VIRTIO_F_VERSION_1, &h, &why), -EBADMSG);
	put16(t->hdr + 6, 98); /* field at 98 + 16: past the end */
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), -EBADMSG);
	put16(t->hdr + 6, 0xffff); /* start + offset must not wrap */
	put16(t->hdr + 8, 0xffff);
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), -EBADMSG);
	put16(t->hdr + 6, 96);
	put16(t->hdr + 8, 2); /* the last two bytes: just inside */
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), 0);
	t->hdr[0] = 0x80; /* an unknown flag */
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), -EBADMSG);
	tx_free(t);
}

static void test_gso(void **state)
{
	struct tx *t = tx_new(3000);
	struct virtio_net_hdr h;
	const char *why;

	(void)state;
	t->hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	t->hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	put16(t->hdr + 2, 54);
	put16(t->hdr + 4, 1448);
	put16(t->hdr + 6, 34);
	put16(t->hdr + 8, 16);
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), 0);
	assert_int_equal(h.gso_size, 1448);
	/* TSO4 not negotiated. */
	assert_int_equal(parse(t, ALL_HOST_FEATURES & ~(1ull << VIRTIO_NET_F_HOST_TSO4), &h, &why),
			 -EBADMSG);
	t->hdr[1] = VIRTIO_NET_HDR_GSO_TCPV6;
	assert_int_equal(parse(t, ALL_HOST_FEATURES & ~(1ull << VIRTIO_NET_F_HOST_TSO6), &h, &why),
			 -EBADMSG);
	/* UDP fragmentation and ECN are never offered. */
	t->hdr[1] = 3;
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), -EBADMSG);
	t->hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4 | 0x80;
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), -EBADMSG);
	/* Segmentation without a segment size, or without the partial checksum. */
	t->hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	put16(t->hdr + 4, 0);
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), -EBADMSG);
	put16(t->hdr + 4, 1448);
	t->hdr[0] = 0;
	assert_int_equal(parse(t, ALL_HOST_FEATURES, &h, &why), -EBADMSG);
	tx_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_frame),
		cmocka_unit_test(test_header_scattered),
		cmocka_unit_test(test_short_header),
		cmocka_unit_test(test_writable_buffer),
		cmocka_unit_test(test_frame_too_big),
		cmocka_unit_test(test_csum),
		cmocka_unit_test(test_gso),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
