/* tests/unit/test_vsock.c: virtio-vsock packet parsing and credit, with hostile input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "virtio/virtio.h"

#define GUEST_CID 3

struct pkt {
	uint8_t hdr[VIRTIO_VSOCK_HDR_LEN];
	uint8_t data[256];
	struct virtq_chain c;
};

/* A transmit chain: the header in one buffer, len payload bytes in a second. */
static void pkt_make(struct pkt *p, uint16_t op, uint32_t len, uint32_t payload)
{
	struct virtio_vsock_hdr h = {
		.src_cid = GUEST_CID, .dst_cid = VIRTIO_VSOCK_HOST_CID, .src_port = 1234,
		.dst_port = 5000, .len = len, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = 65536, .fwd_cnt = 7,
	};

	memset(p, 0, sizeof(*p));
	virtio_vsock_hdr_encode(&h, p->hdr);
	p->c.iov[0] = (struct iovec){ p->hdr, sizeof(p->hdr) };
	p->c.nr_readable = 1;
	p->c.readable_len = sizeof(p->hdr);
	if (payload) {
		p->c.iov[1] = (struct iovec){ p->data, payload };
		p->c.nr_readable = 2;
		p->c.readable_len += payload;
	}
}

static void test_roundtrip(void **state)
{
	struct virtio_vsock_hdr h = { 0x1122334455667788ull, 2, 0xdeadbeef, 5, 9, 1, 5, 3,
				      0x10000, 0xfffffff0u }, g;
	uint8_t raw[VIRTIO_VSOCK_HDR_LEN];

	(void)state;
	virtio_vsock_hdr_encode(&h, raw);
	assert_int_equal(raw[0], 0x88); /* little-endian on the wire */
	assert_int_equal(raw[28], 1);
	virtio_vsock_hdr_decode(raw, &g);
	/* Field by field: the struct's padding is not part of the header. */
	assert_true(g.src_cid == h.src_cid && g.dst_cid == h.dst_cid);
	assert_true(g.src_port == h.src_port && g.dst_port == h.dst_port && g.len == h.len);
	assert_true(g.type == h.type && g.op == h.op && g.flags == h.flags);
	assert_true(g.buf_alloc == h.buf_alloc && g.fwd_cnt == h.fwd_cnt);
}

static void test_valid_rw(void **state)
{
	struct virtio_vsock_hdr h;
	struct pkt p;

	(void)state;
	pkt_make(&p, VIRTIO_VSOCK_OP_RW, 100, 100);
	assert_int_equal(virtio_vsock_tx_parse(&p.c, GUEST_CID, &h), 0);
	assert_int_equal(h.len, 100);
	assert_int_equal(h.fwd_cnt, 7);
	pkt_make(&p, VIRTIO_VSOCK_OP_REQUEST, 0, 0);
	assert_int_equal(virtio_vsock_tx_parse(&p.c, GUEST_CID, &h), 0);
}

static void test_hostile(void **state)
{
	struct virtio_vsock_hdr h;
	struct pkt p;
	uint8_t b;

	(void)state;
	/* len beyond the chain's bytes */
	pkt_make(&p, VIRTIO_VSOCK_OP_RW, 101, 100);
	assert_int_equal(virtio_vsock_tx_parse(&p.c, GUEST_CID, &h), -EBADMSG);
	pkt_make(&p, VIRTIO_VSOCK_OP_RW, UINT32_MAX, 100);
	assert_int_equal(virtio_vsock_tx_parse(&p.c, GUEST_CID, &h), -EBADMSG);
	/* a short header */
	pkt_make(&p, VIRTIO_VSOCK_OP_RW, 0, 0);
	p.c.iov[0].iov_len = p.c.readable_len = VIRTIO_VSOCK_HDR_LEN - 1;
	assert_int_equal(virtio_vsock_tx_parse(&p.c, GUEST_CID, &h), -EBADMSG);
	/* a device-writable buffer in a transmit chain */
	pkt_make(&p, VIRTIO_VSOCK_OP_RW, 0, 0);
	p.c.iov[1] = (struct iovec){ &b, 1 };
	p.c.nr_writable = 1;
	assert_int_equal(virtio_vsock_tx_parse(&p.c, GUEST_CID, &h), -EBADMSG);
	/* a payload on a control packet */
	pkt_make(&p, VIRTIO_VSOCK_OP_REQUEST, 10, 10);
	assert_int_equal(virtio_vsock_tx_parse(&p.c, GUEST_CID, &h), -EBADMSG);
	/* unknown ops */
	pkt_make(&p, 0, 0, 0);
	assert_int_equal(virtio_vsock_tx_parse(&p.c, GUEST_CID, &h), -EBADMSG);
	pkt_make(&p, 8, 0, 0);
	assert_int_equal(virtio_vsock_tx_parse(&p.c, GUEST_CID, &h), -EBADMSG);
	/* a spoofed source cid, and a destination other than the host */
	pkt_make(&p, VIRTIO_VSOCK_OP_REQUEST, 0, 0);
	assert_int_equal(virtio_vsock_tx_parse(&p.c, GUEST_CID + 1, &h), -EBADMSG);
	p.hdr[8] = 7;
	assert_int_equal(virtio_vsock_tx_parse(&p.c, GUEST_CID, &h), -EBADMSG);
	/* not a stream: answered with RST */
	pkt_make(&p, VIRTIO_VSOCK_OP_REQUEST, 0, 0);
	p.hdr[28] = 2;
	assert_int_equal(virtio_vsock_tx_parse(&p.c, GUEST_CID, &h), -EPROTONOSUPPORT);
}

static void test_credit(void **state)
{
	(void)state;
	assert_int_equal(virtio_vsock_credit(65536, 0, 0), 65536);
	assert_int_equal(virtio_vsock_credit(65536, 100, 1100), 64536);
	assert_int_equal(virtio_vsock_credit(65536, 0, 65536), 0);
	/* counters wrap at 2^32 */
	assert_int_equal(virtio_vsock_credit(4096, UINT32_MAX - 9, 10), 4096 - 20);
	/* a peer claiming to have consumed more than it was sent, or a shrunk buffer */
	assert_int_equal(virtio_vsock_credit(4096, 500, 100), 0);
	assert_int_equal(virtio_vsock_credit(0, 0, 0), 0);
	assert_int_equal(virtio_vsock_credit(100, 0, 200), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_valid_rw),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_credit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
