/*
 * tests/unit/test_net_dev.c: virtio-net driven through its queues by a hostile
 * driver; a SOCK_SEQPACKET socket stands in for the TAP (one frame a
 * message, header first), and a real TAP where the host allows one.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "vdriver.h"

#define RX 0
#define TX 1
#define QSIZE 64
#define HDR VIRTIO_NET_HDR_LEN
#define RX_LEN 2048
#define FEATURES                                                                            \
	(VD_FEAT_BASE | (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |          \
	 (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_HOST_TSO4) |                     \
	 (1ull << VIRTIO_F_RING_INDIRECT_DESC) | (1ull << VIRTIO_F_RING_EVENT_IDX))

struct n {
	struct vd *f;
	struct device *dev;
	struct vq q[2];
	int peer; /* the "TAP"'s other end */
	uint64_t rxbuf[QSIZE];
	uint64_t hdr, frame; /* transmit buffers */
};

static struct n *n_new(void)
{
	struct virtio_net_config nc = { .tap = "test0", .has_mac = true,
					.mac = { 0x02, 1, 2, 3, 4, 5 } };
	struct n *n = calloc(1, sizeof(*n));
	struct err err = { 0 };
	int sv[2];

	assert_non_null(n);
	n->f = vd_new();
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	nc.fd = sv[0];
	n->peer = sv[1];
	n->dev = vd_realized(virtio_net_create(&n->f->vm, n->f->vm.iothread, 0, &nc, &err), &err);
	for (unsigned i = 0; i < QSIZE; i++)
		n->rxbuf[i] = vd_buf(n->f, RX_LEN, 0xee);
	n->hdr = vd_buf(n->f, HDR, 0);
	n->frame = vd_buf(n->f, VIRTIO_NET_FRAME_MAX + 64, 0xab);
	vd_start(n->f, 0, FEATURES, n->q, 2, QSIZE);
	return n;
}

static void n_free(struct n *n)
{
	vd_free(n->f);
	close(n->peer);
	free(n);
}

struct nethdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

static void hdr_put(struct n *n, const struct nethdr *h)
{
	uint8_t *p = vd_hva(n->f, n->hdr, HDR);

	memset(p, 0, HDR);
	p[0] = h->flags;
	p[1] = h->gso_type;
	memcpy(p + 2, &h->hdr_len, 2);
	memcpy(p + 4, &h->gso_size, 2);
	memcpy(p + 6, &h->csum_start, 2);
	memcpy(p + 8, &h->csum_offset, 2);
}

/* Transmits header h and a frame of len bytes (two descriptors). */
static void tx_frame(struct n *n, const struct nethdr *h, uint32_t len)
{
	hdr_put(n, h);
	assert_int_equal(vq_run(&n->q[TX], (struct vbuf[]){ { n->hdr, HDR, false },
							    { n->frame, len, false } }, 2),
			 0);
}

/* A plain 60-byte frame reaches the "TAP" whole. */
static void tx_works(struct n *n)
{
	uint8_t got[256];

	tx_frame(n, &(struct nethdr){ 0 }, 60);
	assert_int_equal(vd_peer_recv(n->peer, got, sizeof(got)), HDR + 60);
	assert_memory_equal(got + HDR, vd_hva(n->f, n->frame, 60), 60);
}

/* Posts n receive buffers of len bytes (descriptor i uses rxbuf[i]). */
static void rx_post(struct n *n, unsigned count, uint32_t len, bool write)
{
	struct vq *q = &n->q[RX];
	uint16_t old = q->avail_idx;

	for (unsigned i = 0; i < count; i++)
		vq_offer(q, vq_chain(q, &(struct vbuf){ n->rxbuf[q->free], len, write }, 1));
	vq_kick(q, old);
}

/* The next used receive buffer: its length and, with data, its bytes. */
static uint32_t rx_get(struct n *n, uint8_t *data)
{
	struct vq *q = &n->q[RX];
	uint32_t id, len;

	for (unsigned i = 0; vq_used_idx(q) == q->seen_used; i++) {
		if (i == VD_WAIT_MS)
			fail_msg("no receive buffer used within %u ms", VD_WAIT_MS);
		vd_sleep_ms(1);
	}
	vq_used_elem(q, q->seen_used++, &id, &len);
	assert_true(id < QSIZE && len <= RX_LEN);
	if (data)
		memcpy(data, vd_hva(n->f, n->rxbuf[id], len), len);
	return len;
}

static void frame_make(uint8_t *p, size_t len, unsigned seq)
{
	memset(p, 0, HDR);
	for (size_t i = HDR; i < len; i++)
		p[i] = (uint8_t)(seq * 7 + i);
	memcpy(p + HDR, &seq, sizeof(seq));
}

/* ---- transmit ------------------------------------------------------------- */

/* Each malformed header is dropped and counted; nothing reaches the TAP. */
static void test_tx_malformed_headers(void **state)
{
	struct n *n = n_new();
	const uint16_t C = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	const struct nethdr bad[] = {
		{ .gso_type = 3 },					 /* UDP: never offered */
		{ .gso_type = 0x81, .flags = C, .gso_size = 1000 },	 /* TCPv4 with ECN */
		{ .gso_type = 0xff },
		{ .gso_type = VIRTIO_NET_HDR_GSO_TCPV6, .flags = C, .gso_size = 1000,
		  .csum_start = 54, .csum_offset = 16 },		 /* TSO6 not negotiated */
		{ .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .flags = C, .csum_start = 34,
		  .csum_offset = 16 },				 /* TSO without gso_size */
		{ .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1000 }, /* TSO without NEEDS_CSUM */
		{ .flags = C, .csum_start = 90, .csum_offset = 16 },	 /* checksum beyond the frame */
		{ .flags = C, .csum_start = 0xffff, .csum_offset = 0xffff }, /* ... and wrapping */
		{ .flags = C, .csum_start = 99, .csum_offset = 0 },	 /* half of it inside */
		{ .flags = 0x80 },					 /* an unknown flag */
		{ .flags = VIRTIO_NET_HDR_F_DATA_VALID },		 /* a receive-only flag */
		{ .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .flags = C, .gso_size = 1000,
		  .hdr_len = 101, .csum_start = 34, .csum_offset = 16 }, /* headers beyond the frame */
	};
	uint8_t got[256];

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tx_frame(n, &bad[i], 100);
		if (vd_peer_recv(n->peer, got, sizeof(got)) >= 0)
			fail_msg("malformed header %u reached the TAP", i);
		assert_int_equal(vd_metric(n->dev, "tx_malformed"), i + 1);
	}
	assert_int_equal(vd_metric(n->dev, "tx_frames"), 0);
	/* The same frame, well-formed, goes through: with and without offloads. */
	tx_frame(n, &(struct nethdr){ .flags = C, .csum_start = 34, .csum_offset = 16 }, 100);
	assert_int_equal(vd_peer_recv(n->peer, got, sizeof(got)), HDR + 100);
	assert_int_equal(got[0], C);
	tx_frame(n, &(struct nethdr){ .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .flags = C,
				      .gso_size = 40, .hdr_len = 54, .csum_start = 34,
				      .csum_offset = 16 }, 100);
	assert_int_equal(vd_peer_recv(n->peer, got, sizeof(got)), HDR + 100);
	tx_works(n);
	assert_int_equal(vd_metric(n->dev, "tx_frames"), 3);
	assert_false(vd_needs_reset(n->f, 0));
	n_free(n);
}

/* Zero-length, short, writable and oversized transmit chains: dropped, counted. */
static void test_tx_bad_chains(void **state)
{
	struct n *n = n_new();
	uint8_t got[256];
	uint64_t bad = 0;

	(void)state;
	hdr_put(n, &(struct nethdr){ 0 });
	vq_run(&n->q[TX], &(struct vbuf){ n->hdr, 0, false }, 1);
	vq_run(&n->q[TX], &(struct vbuf){ n->hdr, HDR - 1, false }, 1);
	vq_run(&n->q[TX], (struct vbuf[]){ { n->hdr, 0, false }, { n->frame, 0, false } }, 2);
	vq_run(&n->q[TX], (struct vbuf[]){ { n->hdr, HDR, false }, { n->frame, 60, true } }, 2);
	vq_run(&n->q[TX], &(struct vbuf){ n->frame, 60, true }, 1);
	bad += 5;
	/* One byte beyond the largest frame, and exactly the largest. */
	tx_frame(n, &(struct nethdr){ 0 }, VIRTIO_NET_FRAME_MAX + 1);
	bad++;
	assert_int_equal(vd_metric(n->dev, "tx_malformed"), bad);
	assert_int_equal(vd_peer_recv(n->peer, got, sizeof(got)), -1);
	tx_frame(n, &(struct nethdr){ 0 }, VIRTIO_NET_FRAME_MAX);
	{
		static uint8_t big[HDR + VIRTIO_NET_FRAME_MAX + 1];

		assert_int_equal(vd_peer_recv(n->peer, big, sizeof(big)),
				 HDR + VIRTIO_NET_FRAME_MAX);
	}
	tx_works(n);
	assert_int_equal(vd_metric(n->dev, "tx_malformed"), bad);
	assert_false(vd_needs_reset(n->f, 0));
	n_free(n);
}

/* ---- receive -------------------------------------------------------------- */

static void test_rx_bad_buffers(void **state)
{
	struct n *n = n_new();
	uint8_t frame[HDR + 100], got[RX_LEN];

	(void)state;
	frame_make(frame, sizeof(frame), 1);
	/* A device-readable buffer is returned empty and counted; the frame waits. */
	rx_post(n, 1, RX_LEN, false);
	assert_int_equal(send(n->peer, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	assert_int_equal(rx_get(n, NULL), 0);
	vd_expect_metrics(n->dev, { "rx_bad_buffers", 1 }, { "rx_dropped", 0 });
	rx_post(n, 1, RX_LEN, true);
	assert_int_equal(rx_get(n, got), sizeof(frame));
	assert_memory_equal(got + HDR, frame + HDR, 100);
	/* A zero-length buffer, and one too short: each costs its frame, counted. */
	rx_post(n, 1, 0, true);
	assert_int_equal(send(n->peer, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	assert_int_equal(rx_get(n, NULL), 0);
	rx_post(n, 1, HDR + 99, true);
	assert_int_equal(send(n->peer, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	assert_int_equal(rx_get(n, NULL), 0);
	vd_expect_metrics(n->dev, { "rx_bad_buffers", 3 }, { "rx_dropped", 2 });
	/* Runts from the back-end (no room for a header and a byte) are dropped too. */
	assert_int_equal(send(n->peer, frame, HDR, 0), HDR);
	frame_make(frame, sizeof(frame), 2);
	assert_int_equal(send(n->peer, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	rx_post(n, 1, RX_LEN, true);
	assert_int_equal(rx_get(n, got), sizeof(frame));
	assert_memory_equal(got + HDR, frame + HDR, 100);
	vd_expect_metrics(n->dev, { "rx_dropped", 3 }, { "rx_frames", 2 });
	assert_false(vd_needs_reset(n->f, 0));
	n_free(n);
}

/*
 * A guest that never refills its receive queue: the device holds one frame
 * (a fixed buffer, nothing allocated) and stops reading, so the back-end
 * backs up; kite's memory does not grow. Frames come back in order once the
 * guest gives buffers.
 */
static void test_rx_never_refilled(void **state)
{
	struct n *n = n_new();
	uint8_t frame[HDR + 1000], got[RX_LEN];
	unsigned sent = 0, round;

	(void)state;
	/* Fill the back-end until it stays full (kite takes its one frame meanwhile). */
	for (round = 0; round < 5; round++) {
		unsigned before = sent;

		for (;;) {
			frame_make(frame, sizeof(frame), sent);
			if (send(n->peer, frame, sizeof(frame), MSG_DONTWAIT) < 0) {
				assert_int_equal(errno, EAGAIN);
				break;
			}
			if (++sent > 100000)
				fail_msg("100000 frames taken without receive buffers");
		}
		if (round && sent == before)
			break;
		vd_sleep_ms(50);
	}
	assert_true(round < 5); /* kite stopped reading */
	vd_expect_metrics(n->dev, { "rx_frames", 0 }, { "rx_dropped", 0 });
	for (unsigned i = 0; i < sent; i++) {
		unsigned seq;

		if (n->q[RX].seen_used == n->q[RX].avail_idx)
			rx_post(n, QSIZE, RX_LEN, true);
		assert_int_equal(rx_get(n, got), sizeof(frame));
		memcpy(&seq, got + HDR, sizeof(seq));
		assert_int_equal(seq, i);
	}
	vd_expect_metrics(n->dev, { "rx_frames", sent }, { "rx_dropped", 0 });
	n_free(n);
}

/* ---- ring rules ------------------------------------------------------------- */

enum ring_case { RING_TX_LOOP, RING_TX_INDIRECT_SELF, RING_TX_TOO_LONG, RING_RX_LOOP };

/* Ring-rule violations fail the queue (NEEDS_RESET, queue_errors); a reset brings it back. */
static void ring_case(enum ring_case rc)
{
	struct n *n = n_new();
	struct vq *tq = &n->q[TX], *rq = &n->q[RX];
	uint64_t table = vd_buf(n->f, 16 * 300, 0);
	uint8_t frame[HDR + 60] = { 0 };

	switch (rc) {
	case RING_TX_LOOP:
		vd_desc(n->f, tq->desc, 0, n->hdr, HDR, VIRTQ_DESC_F_NEXT, 1);
		vd_desc(n->f, tq->desc, 1, n->frame, 60, VIRTQ_DESC_F_NEXT, 0);
		vq_publish(tq, 0);
		break;
	case RING_TX_INDIRECT_SELF:
		vd_desc(n->f, tq->desc, 0, tq->desc, 16 * QSIZE, VIRTQ_DESC_F_INDIRECT, 0);
		vq_publish(tq, 0);
		break;
	case RING_TX_TOO_LONG: /* 300 buffers: more than the queue has entries */
		for (unsigned i = 0; i < 300; i++)
			vd_desc(n->f, table, i, n->frame, 1, i < 299 ? VIRTQ_DESC_F_NEXT : 0,
				(uint16_t)(i + 1));
		vd_desc(n->f, tq->desc, 0, table, 16 * 300, VIRTQ_DESC_F_INDIRECT, 0);
		vq_publish(tq, 0);
		break;
	case RING_RX_LOOP:
		vd_desc(n->f, rq->desc, 0, n->rxbuf[0], 100, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
		vq_publish(rq, 0);
		assert_int_equal(send(n->peer, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
		break;
	}
	assert_true(vd_wait_needs_reset(n->f, 0));
	vd_expect_metrics(n->dev, { "queue_errors", 1 }, { "tx_frames", 0 });
	vd_start(n->f, 0, FEATURES, n->q, 2, QSIZE);
	assert_false(vd_needs_reset(n->f, 0));
	tx_works(n);
	n_free(n);
}

#define RING_TEST(name, kind)       \
	static void name(void **state) \
	{                              \
		(void)state;           \
		ring_case(kind);       \
	}
RING_TEST(test_ring_tx_loop, RING_TX_LOOP)
RING_TEST(test_ring_tx_indirect_self, RING_TX_INDIRECT_SELF)
RING_TEST(test_ring_tx_too_long, RING_TX_TOO_LONG)
RING_TEST(test_ring_rx_loop, RING_RX_LOOP)

/* ---- a real TAP --------------------------------------------------------------- */

/* Creates a persistent TAP for a test; *state is its name. Skips without CAP_NET_ADMIN. */
static int tap_setup(void **state)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	char *name = calloc(1, IFNAMSIZ);
	int tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	assert_non_null(name);
	strcpy(ifr.ifr_name, "kitet%d");
	if (tun >= 0 && ioctl(tun, TUNSETIFF, &ifr) == 0 && ioctl(tun, TUNSETPERSIST, 1) == 0)
		memcpy(name, ifr.ifr_name, IFNAMSIZ - 1);
	if (tun >= 0)
		close(tun);
	*state = name;
	return 0;
}

static int tap_teardown(void **state)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	char *name = *state;
	int tun;

	if (name[0]) {
		tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		memcpy(ifr.ifr_name, name, IFNAMSIZ);
		if (tun >= 0 && ioctl(tun, TUNSETIFF, &ifr) == 0)
			ioctl(tun, TUNSETPERSIST, 0);
		if (tun >= 0)
			close(tun);
	}
	free(name);
	return 0;
}

/* Brings TAP name up (without IPv6 chatter of its own); returns a socket to keep. */
static int tap_up(const char *name)
{
	struct ifreq ifr = { 0 };
	char path[96];
	FILE *fp;
	int ctl;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	fp = fopen(path, "w");
	if (fp) {
		fputs("1\n", fp);
		fclose(fp);
	}
	ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(ctl >= 0);
	memcpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	assert_int_equal(ioctl(ctl, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(ctl, SIOCSIFFLAGS, &ifr), 0);
	return ctl;
}

static unsigned long long tap_stat(const char *name, const char *what)
{
	unsigned long long v = 0;
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", name, what);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_int_equal(fscanf(fp, "%llu", &v), 1);
	fclose(fp);
	return v;
}

/*
 * With a TAP, the frames a guest without receive buffers cannot take pile up
 * in the kernel's queue for the TAP, which drops and counts them (the
 * interface's tx_dropped); kite holds one frame and nothing more.
 */
static void test_rx_never_refilled_tap(void **state)
{
	struct virtio_net_config nc = { .has_mac = true, .mac = { 0x02, 1, 2, 3, 4, 5 } };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_halen = 6 };
	const char *name = *state;
	struct err err = { 0 };
	uint8_t frame[60];
	struct device *dev;
	struct vq q[2];
	struct vd *f;
	int ps, ctl;

	/* A packet socket sends frames out of the interface: into the TAP, to kite. */
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (!name[0] || ps < 0) {
		if (ps >= 0)
			close(ps);
		skip(); /* no /dev/net/tun, or no CAP_NET_ADMIN or CAP_NET_RAW */
	}
	nc.tap = name;
	f = vd_new();
	dev = vd_realized(virtio_net_create(&f->vm, f->vm.iothread, 0, &nc, &err), &err);
	vd_start(f, 0, FEATURES, q, 2, QSIZE);
	ctl = tap_up(name);
	sll.sll_ifindex = (int)if_nametoindex(name);
	memset(frame, 0xff, 12);
	frame[12] = 0x88; /* a local experimental ethertype */
	frame[13] = 0xb5;
	for (unsigned i = 0; i < 3000; i++) {
		memcpy(frame + 14, &i, sizeof(i));
		assert_int_equal(sendto(ps, frame, sizeof(frame), 0, (struct sockaddr *)&sll,
					sizeof(sll)), (ssize_t)sizeof(frame));
	}
	/* Most were dropped by the kernel and counted there; kite delivered none. */
	assert_true(tap_stat(name, "tx_dropped") >= 1000);
	vd_expect_metrics(dev, { "rx_frames", 0 }, { "rx_dropped", 0 });
	/* The guest's first buffers get the first frames, in order. */
	for (unsigned want = 0, used = 0; want < 3; used++) {
		uint64_t gpa = vd_buf(f, RX_LEN, 0);
		uint8_t *p = vd_hva(f, gpa, RX_LEN);
		unsigned seq;

		vq_publish(&q[RX], vq_chain(&q[RX], &(struct vbuf){ gpa, RX_LEN, true }, 1));
		assert_true(vq_wait_used(&q[RX], (uint16_t)(used + 1)));
		if (p[HDR + 12] != 0x88 || p[HDR + 13] != 0xb5)
			continue; /* the kernel's own traffic on a new interface */
		memcpy(&seq, p + HDR + 14, sizeof(seq));
		assert_int_equal(seq, want);
		want++;
	}
	close(ps);
	close(ctl);
	vd_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_malformed_headers),
		cmocka_unit_test(test_tx_bad_chains),
		cmocka_unit_test(test_rx_bad_buffers),
		cmocka_unit_test(test_rx_never_refilled),
		cmocka_unit_test(test_ring_tx_loop),
		cmocka_unit_test(test_ring_tx_indirect_self),
		cmocka_unit_test(test_ring_tx_too_long),
		cmocka_unit_test(test_ring_rx_loop),
		cmocka_unit_test_setup_teardown(test_rx_never_refilled_tap, tap_setup, tap_teardown),
	};

	log_set_level(getenv("KITE_TEST_LOG") ? LOG_DEBUG : LOG_ERROR);
	if (getenv("KITE_TEST_FILTER"))
		cmocka_set_test_filter(getenv("KITE_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
