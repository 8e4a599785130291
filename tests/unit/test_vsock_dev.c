/*
 * tests/unit/test_vsock_dev.c: the virtio-vsock device driven through its
 * queues by a tiny (and often hostile) driver, with real UNIX sockets on the
 * host side.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "vdriver.h"

#define CID 3
#define RX 0
#define TX 1
#define EVT 2
#define QSIZE 64
#define RX_LEN (VIRTIO_VSOCK_HDR_LEN + 4096)
#define DATA_MAX VIRTIO_VSOCK_PKT_MAX
#define KITE_BUF (256u * 1024) /* the buf_alloc kite advertises */
#define HOST_PORT0 0x40000000u /* kite's first ephemeral port */
/* What the test's guest advertises unless a test says otherwise. */
#define GUEST_BUF (1u << 20)
#define FEATURES                                                                   \
	(VD_FEAT_BASE | (1ull << VIRTIO_F_RING_EVENT_IDX) |                         \
	 (1ull << VIRTIO_F_RING_INDIRECT_DESC))

struct g {
	struct vd *f;
	struct device *dev;
	struct vq q[3];
	uint64_t rxbuf[QSIZE]; /* descriptor i's receive buffer */
	uint64_t txh, txd;     /* the transmit header and payload buffers */
	char dir[64];
	char uds[96];
	int listen_fd; /* a host listener at uds_<port>, or -1 */
	uint32_t buf_alloc; /* what the guest advertises */
};

static struct g *g_new(void)
{
	struct g *g = calloc(1, sizeof(*g));
	struct err err = { 0 };

	assert_non_null(g);
	g->f = vd_new();
	g->listen_fd = -1;
	g->buf_alloc = GUEST_BUF;
	strcpy(g->dir, "/tmp/kite-vsock.XXXXXX");
	assert_non_null(mkdtemp(g->dir));
	snprintf(g->uds, sizeof(g->uds), "%s/v.sock", g->dir);
	g->dev = vd_realized(virtio_vsock_create(&g->f->vm, g->f->vm.iothread, 0, CID, g->uds,
						 &err),
			     &err);
	for (unsigned i = 0; i < QSIZE; i++)
		g->rxbuf[i] = vd_buf(g->f, RX_LEN, 0xee);
	g->txh = vd_buf(g->f, VIRTIO_VSOCK_HDR_LEN, 0);
	g->txd = vd_buf(g->f, DATA_MAX, 0);
	vd_start(g->f, 0, FEATURES, g->q, 3, QSIZE);
	return g;
}

static void g_free(struct g *g)
{
	char path[160];

	vd_free(g->f);
	if (g->listen_fd >= 0) {
		close(g->listen_fd);
		snprintf(path, sizeof(path), "%s_6000", g->uds);
		unlink(path);
	}
	rmdir(g->dir);
	free(g);
}

/* ---- the guest's side ------------------------------------------------------- */

/* Posts n receive buffers (descriptor i always uses rxbuf[i]); the test read all it got. */
static void rx_post(struct g *g, unsigned n)
{
	struct vq *q = &g->q[RX];
	uint16_t old = q->avail_idx;

	assert_true((uint16_t)(q->avail_idx - q->seen_used) + n <= QSIZE);
	for (unsigned i = 0; i < n; i++)
		vq_offer(q, vq_chain(q, &(struct vbuf){ g->rxbuf[q->free], RX_LEN, true }, 1));
	vq_kick(q, old);
}

/* The next packet the device put in a receive buffer, within ms; false if none came. */
static bool rx_get_within(struct g *g, struct virtio_vsock_hdr *h, uint8_t *data, unsigned ms)
{
	struct vq *q = &g->q[RX];
	uint32_t id, len;

	for (unsigned i = 0; vq_used_idx(q) == q->seen_used; i++) {
		if (i == ms)
			return false;
		vd_sleep_ms(1);
	}
	vq_used_elem(q, q->seen_used++, &id, &len);
	assert_true(id < QSIZE);
	assert_true(len >= VIRTIO_VSOCK_HDR_LEN && len <= RX_LEN);
	virtio_vsock_hdr_decode(vd_hva(g->f, g->rxbuf[id], VIRTIO_VSOCK_HDR_LEN), h);
	assert_int_equal(len, VIRTIO_VSOCK_HDR_LEN + h->len);
	assert_int_equal(h->src_cid, VIRTIO_VSOCK_HOST_CID);
	assert_int_equal(h->dst_cid, CID);
	if (data && h->len)
		memcpy(data, vd_hva(g->f, g->rxbuf[id] + VIRTIO_VSOCK_HDR_LEN, h->len), h->len);
	return true;
}

static void rx_get(struct g *g, struct virtio_vsock_hdr *h, uint8_t *data)
{
	assert_true(rx_get_within(g, h, data, VD_WAIT_MS));
}

static void rx_expect(struct g *g, uint16_t op, uint32_t src_port, uint32_t dst_port)
{
	struct virtio_vsock_hdr h;

	rx_get(g, &h, NULL);
	assert_int_equal(h.op, op);
	assert_int_equal(h.src_port, src_port);
	assert_int_equal(h.dst_port, dst_port);
}

static void rx_none(struct g *g, unsigned ms)
{
	struct virtio_vsock_hdr h;

	if (rx_get_within(g, &h, NULL, ms))
		fail_msg("unexpected packet op %u from port %u", h.op, h.src_port);
}

/* Sends one packet from the guest's port gport to the host's hport; waits for the device. */
static void tx(struct g *g, uint16_t op, uint32_t gport, uint32_t hport, uint32_t flags,
	       uint32_t fwd_cnt, const void *data, uint32_t len)
{
	struct virtio_vsock_hdr h = {
		.src_cid = CID, .dst_cid = VIRTIO_VSOCK_HOST_CID, .src_port = gport,
		.dst_port = hport, .len = len, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
		.flags = flags, .buf_alloc = g->buf_alloc, .fwd_cnt = fwd_cnt,
	};

	virtio_vsock_hdr_encode(&h, vd_hva(g->f, g->txh, VIRTIO_VSOCK_HDR_LEN));
	if (!len) {
		vq_run(&g->q[TX], &(struct vbuf){ g->txh, VIRTIO_VSOCK_HDR_LEN, false }, 1);
		return;
	}
	memcpy(vd_hva(g->f, g->txd, len), data, len);
	vq_run(&g->q[TX], (struct vbuf[]){ { g->txh, VIRTIO_VSOCK_HDR_LEN, false },
					   { g->txd, len, false } }, 2);
}

/* Sends raw header bytes (and len payload bytes from txd) as they are. */
static void tx_raw(struct g *g, const struct virtio_vsock_hdr *h, uint32_t hdr_len,
		   uint32_t payload)
{
	uint8_t raw[VIRTIO_VSOCK_HDR_LEN];

	virtio_vsock_hdr_encode(h, raw);
	memcpy(vd_hva(g->f, g->txh, VIRTIO_VSOCK_HDR_LEN), raw, sizeof(raw));
	if (!payload)
		vq_run(&g->q[TX], &(struct vbuf){ g->txh, hdr_len, false }, 1);
	else
		vq_run(&g->q[TX], (struct vbuf[]){ { g->txh, hdr_len, false },
						   { g->txd, payload, false } }, 2);
}

/* ---- the host's side -------------------------------------------------------- */

static void set_nonblock(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* A host process connecting to the guest's port: "CONNECT <port>\n". */
static int host_connect(struct g *g, uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cmd[32];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, g->uds);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(cmd, sizeof(cmd), "CONNECT %u\n", port);
	assert_int_equal(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	return fd;
}

/* Reads exactly len bytes within VD_WAIT_MS. */
static void host_read(int fd, void *buf, size_t len)
{
	size_t got = 0;

	for (unsigned i = 0; got < len; i++) {
		ssize_t n = recv(fd, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			fail_msg("EOF after %zu of %zu bytes", got, len);
		assert_int_equal(errno, EAGAIN);
		if (i == VD_WAIT_MS)
			fail_msg("only %zu of %zu bytes within %u ms", got, len, VD_WAIT_MS);
		vd_sleep_ms(1);
	}
}

/* Waits for EOF (0) or an error (-errno) on fd, discarding data; 1 on a timeout. */
static int host_wait_closed(int fd)
{
	uint8_t b[4096];

	for (unsigned i = 0; i < VD_WAIT_MS; i++) {
		ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

		if (n == 0)
			return 0;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (n < 0)
			vd_sleep_ms(1);
	}
	return 1;
}

/* kite resets connection hport-gport: an RST to the guest, EOF on the host's fd (closed). */
static void expect_reset(struct g *g, int fd, uint32_t hport, uint32_t gport)
{
	rx_expect(g, VIRTIO_VSOCK_OP_RST, hport, gport);
	assert_int_equal(host_wait_closed(fd), 0);
	close(fd);
}

/*
 * A connection from the host to guest port 5000, accepted by the guest with
 * buf_alloc GUEST_BUF: returns the host's fd and its kite port in *hport.
 */
static int host_established(struct g *g, uint32_t gport, uint32_t *hport)
{
	struct virtio_vsock_hdr h;
	char ok[32] = { 0 }, want[32];
	int fd = host_connect(g, gport);

	rx_get(g, &h, NULL);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(h.type, VIRTIO_VSOCK_TYPE_STREAM);
	assert_int_equal(h.buf_alloc, KITE_BUF);
	assert_int_equal(h.dst_port, gport);
	assert_true(h.src_port >= HOST_PORT0);
	*hport = h.src_port;
	tx(g, VIRTIO_VSOCK_OP_RESPONSE, gport, h.src_port, 0, 0, NULL, 0);
	snprintf(want, sizeof(want), "OK %u\n", h.src_port);
	host_read(fd, ok, strlen(want));
	assert_string_equal(ok, want);
	return fd;
}

/* The guest connects from gport to host port 6000, where the test listens. */
static int guest_established(struct g *g, uint32_t gport)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (g->listen_fd < 0) {
		g->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_true(g->listen_fd >= 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_6000", g->uds);
		assert_int_equal(bind(g->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(listen(g->listen_fd, 8), 0);
	}
	tx(g, VIRTIO_VSOCK_OP_REQUEST, gport, 6000, 0, 0, NULL, 0);
	rx_expect(g, VIRTIO_VSOCK_OP_RESPONSE, 6000, gport);
	fd = accept(g->listen_fd, NULL, NULL);
	assert_true(fd >= 0);
	return fd;
}

static void pattern(uint8_t *p, size_t len, uint64_t from)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((from + i) * 131 + ((from + i) >> 12));
}

/* Reads what arrives for connection (hport -> gport) and checks it against the pattern from *at. */
static void rx_data(struct g *g, uint32_t hport, uint32_t gport, uint64_t *at, uint64_t until)
{
	static uint8_t got[RX_LEN], want[RX_LEN];
	struct virtio_vsock_hdr h;

	while (*at < until) {
		if (g->q[RX].seen_used == g->q[RX].avail_idx)
			rx_post(g, QSIZE / 2);
		rx_get(g, &h, got);
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
		assert_int_equal(h.type, VIRTIO_VSOCK_TYPE_STREAM);
		assert_int_equal(h.src_port, hport);
		assert_int_equal(h.dst_port, gport);
		assert_true(h.len > 0 && h.len <= until - *at);
		pattern(want, h.len, *at);
		assert_memory_equal(got, want, h.len);
		*at += h.len;
	}
}

/* ---- well-behaved traffic --------------------------------------------------- */

static void test_host_connects(void **state)
{
	struct g *g = g_new();
	uint8_t buf[3000], back[3000];
	struct virtio_vsock_hdr h;
	uint64_t at = 0;
	uint32_t hport;
	int fd;

	(void)state;
	rx_post(g, 8);
	fd = host_established(g, 5000, &hport);
	/* Host to guest. */
	pattern(buf, sizeof(buf), 0);
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	rx_data(g, hport, 5000, &at, sizeof(buf));
	/* Guest to host. */
	pattern(buf, sizeof(buf), 7);
	tx(g, VIRTIO_VSOCK_OP_RW, 5000, hport, 0, 0, buf, sizeof(buf));
	host_read(fd, back, sizeof(back));
	assert_memory_equal(back, buf, sizeof(buf));
	/* The host half-closes: the guest is told without doing anything itself. */
	shutdown(fd, SHUT_WR);
	rx_get(g, &h, NULL);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	/* The guest closes: kite answers RST and closes the host side. */
	tx(g, VIRTIO_VSOCK_OP_SHUTDOWN, 5000, hport, VIRTIO_VSOCK_SHUTDOWN_BOTH, 0, NULL, 0);
	expect_reset(g, fd, hport, 5000);
	vd_expect_metrics(g->dev, { "rx_bytes", sizeof(buf) }, { "tx_bytes", sizeof(buf) },
			  { "connections", 1 }, { "malformed_packets", 0 });
	assert_false(vd_needs_reset(g->f, 0));
	g_free(g);
}

static void test_guest_connects(void **state)
{
	struct g *g = g_new();
	uint8_t buf[5000], back[5000];
	struct virtio_vsock_hdr h;
	uint64_t at = 0;
	int fd;

	(void)state;
	rx_post(g, 8);
	/* Nobody listens on port 6001: RST. */
	tx(g, VIRTIO_VSOCK_OP_REQUEST, 1234, 6001, 0, 0, NULL, 0);
	rx_expect(g, VIRTIO_VSOCK_OP_RST, 6001, 1234);
	fd = guest_established(g, 1234);
	pattern(buf, sizeof(buf), 0);
	tx(g, VIRTIO_VSOCK_OP_RW, 1234, 6000, 0, 0, buf, sizeof(buf));
	host_read(fd, back, sizeof(back));
	assert_memory_equal(back, buf, sizeof(buf));
	assert_int_equal(write(fd, buf, 100), 100);
	rx_data(g, 6000, 1234, &at, 100);
	/* The host closes its end entirely: SHUTDOWN, then the guest's own ends it. */
	close(fd);
	rx_get(g, &h, NULL);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	tx(g, VIRTIO_VSOCK_OP_SHUTDOWN, 1234, 6000, VIRTIO_VSOCK_SHUTDOWN_BOTH, 0, NULL, 0);
	rx_expect(g, VIRTIO_VSOCK_OP_RST, 6000, 1234);
	rx_none(g, 20);
	g_free(g);
}

/* A host peer that closes with the guest's bytes unread resets the connection. */
static void test_host_resets(void **state)
{
	struct g *g = g_new();
	uint8_t buf[100] = { 1 };
	int fd;

	(void)state;
	rx_post(g, 8);
	fd = guest_established(g, 1234);
	tx(g, VIRTIO_VSOCK_OP_RW, 1234, 6000, 0, 0, buf, sizeof(buf));
	vd_sleep_ms(10);
	close(fd);
	rx_expect(g, VIRTIO_VSOCK_OP_RST, 6000, 1234);
	rx_none(g, 20);
	assert_int_equal(vd_metric(g->dev, "resets"), 1);
	/* The port is free again. */
	fd = guest_established(g, 1234);
	close(fd);
	g_free(g);
}

/* ---- flow control: a guest that gives no buffers or no credit ---------------- */

/* Fills the host's socket until it would block; returns the bytes it took. */
static uint64_t host_flood(int fd, uint64_t from)
{
	static uint8_t buf[65536];
	uint64_t sent = 0;

	set_nonblock(fd);
	for (;;) {
		ssize_t n;

		pattern(buf, sizeof(buf), from + sent);
		n = send(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			return sent;
		}
		sent += (uint64_t)n;
		/* Unbounded reading by kite would never let this end. */
		if (sent > (64u << 20))
			fail_msg("the host wrote 64 MiB without blocking: kite reads without limit");
	}
}

static void test_no_rx_buffers(void **state)
{
	struct g *g = g_new();
	uint64_t sent, at = 0, rx_before;
	uint32_t hport;
	int fd;

	(void)state;
	rx_post(g, 2);
	fd = host_established(g, 5000, &hport); /* takes one buffer */
	/* One buffer left: the guest gets one packet, then kite must stop reading. */
	sent = host_flood(fd, 0);
	vd_sleep_ms(50);
	rx_before = vd_metric(g->dev, "rx_bytes");
	assert_true(rx_before > 0 && rx_before <= 4096);
	assert_int_equal(host_flood(fd, sent), 0);
	vd_sleep_ms(50);
	assert_int_equal(vd_metric(g->dev, "rx_bytes"), rx_before);
	assert_int_equal(vq_used_idx(&g->q[RX]), 2);
	/* Buffers again: everything the host wrote arrives, in order, nothing lost. */
	rx_data(g, hport, 5000, &at, sent);
	assert_int_equal(vd_metric(g->dev, "rx_bytes"), sent);
	close(fd);
	assert_false(vd_needs_reset(g->f, 0));
	g_free(g);
}

static void test_no_credit(void **state)
{
	struct g *g = g_new();
	struct virtio_vsock_hdr h;
	uint64_t sent, at = 0;
	uint32_t hport;
	int fd;

	(void)state;
	g->buf_alloc = 65536;
	rx_post(g, QSIZE);
	fd = host_established(g, 5000, &hport);
	/* The guest says it consumed nothing of its 64 KiB: kite sends exactly 64 KiB. */
	sent = host_flood(fd, 0);
	assert_true(sent > 65536);
	rx_data(g, hport, 5000, &at, 65536);
	rx_none(g, 50);
	assert_int_equal(vd_metric(g->dev, "rx_bytes"), 65536);
	/* Credit for 64 KiB more. */
	tx(g, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 5000, hport, 0, 65536, NULL, 0);
	rx_data(g, hport, 5000, &at, 2 * 65536);
	rx_none(g, 50);
	assert_int_equal(vd_metric(g->dev, "rx_bytes"), 2 * 65536);
	/* A guest whose counters do not add up (fwd_cnt beyond what it got) gets no credit. */
	tx(g, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 5000, hport, 0, 4 * 65536, NULL, 0);
	rx_none(g, 50);
	/* CREDIT_REQUEST is answered with kite's own numbers. */
	tx(g, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 5000, hport, 0, 65536, NULL, 0);
	rx_get(g, &h, NULL);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(h.buf_alloc, KITE_BUF);
	assert_int_equal(h.fwd_cnt, 0);
	close(fd);
	g_free(g);
}

/* The host peer does not read: kite holds at most its buf_alloc of the guest's bytes. */
static void test_guest_beyond_credit(void **state)
{
	struct g *g = g_new();
	static uint8_t buf[DATA_MAX];
	struct virtio_vsock_hdr h;
	uint32_t hport;
	int fd;

	(void)state;
	rx_post(g, 8);
	fd = host_established(g, 5000, &hport);
	pattern(buf, sizeof(buf), 0);
	for (unsigned i = 0; i < 64 && vd_metric(g->dev, "resets") == 0; i++)
		tx(g, VIRTIO_VSOCK_OP_RW, 5000, hport, 0, 0, buf, sizeof(buf));
	/* The packet beyond the credit resets the connection and is counted. */
	vd_expect_metrics(g->dev, { "resets", 1 }, { "malformed_packets", 1 });
	/* Credit updates for what the host socket took, then the RST. */
	do
		rx_get(g, &h, NULL);
	while (h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(h.src_port, hport);
	assert_true(host_wait_closed(fd) <= 0);
	close(fd);
	assert_false(vd_needs_reset(g->f, 0));
	g_free(g);
}

/* ---- the hostile guest ------------------------------------------------------ */

/* Each bad packet is dropped and counted; the queue and the connection work on. */
static void test_malformed_packets(void **state)
{
	struct g *g = g_new();
	struct virtio_vsock_hdr good, h;
	uint8_t buf[100], back[100];
	uint64_t bad = 0;
	uint32_t hport;
	int fd;

	(void)state;
	rx_post(g, 8);
	fd = host_established(g, 5000, &hport);
	good = (struct virtio_vsock_hdr){
		.src_cid = CID, .dst_cid = VIRTIO_VSOCK_HOST_CID, .src_port = 5000,
		.dst_port = hport, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RW,
		.buf_alloc = GUEST_BUF,
	};
	/* A zero-length chain, and a header one byte short. */
	tx_raw(g, &good, 0, 0);
	tx_raw(g, &good, VIRTIO_VSOCK_HDR_LEN - 1, 0);
	bad += 2;
	/* len beyond the chain, and beyond the largest packet. */
	h = good;
	h.len = 101;
	tx_raw(g, &h, VIRTIO_VSOCK_HDR_LEN, 100);
	h.len = DATA_MAX + 1;
	tx_raw(g, &h, VIRTIO_VSOCK_HDR_LEN, DATA_MAX);
	bad += 2;
	/* A spoofed source, another destination, a payload on a control packet, op 0 and 99. */
	h = good;
	h.src_cid = CID + 1;
	tx_raw(g, &h, VIRTIO_VSOCK_HDR_LEN, 0);
	h = good;
	h.dst_cid = 7;
	tx_raw(g, &h, VIRTIO_VSOCK_HDR_LEN, 0);
	h = good;
	h.op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	h.len = 10;
	tx_raw(g, &h, VIRTIO_VSOCK_HDR_LEN, 10);
	h = good;
	h.op = 0;
	tx_raw(g, &h, VIRTIO_VSOCK_HDR_LEN, 0);
	h.op = 99;
	tx_raw(g, &h, VIRTIO_VSOCK_HDR_LEN, 0);
	bad += 5;
	/* A transmit chain with a device-writable buffer. */
	virtio_vsock_hdr_encode(&good, vd_hva(g->f, g->txh, VIRTIO_VSOCK_HDR_LEN));
	vq_run(&g->q[TX], (struct vbuf[]){ { g->txh, VIRTIO_VSOCK_HDR_LEN, false },
					   { g->txd, 16, true } }, 2);
	bad++;
	assert_int_equal(vd_metric(g->dev, "malformed_packets"), bad);
	rx_none(g, 20);
	/* Not a stream: answered with RST, not counted as malformed. */
	h = good;
	h.type = 2;
	h.op = VIRTIO_VSOCK_OP_REQUEST;
	h.dst_port = 7000;
	tx_raw(g, &h, VIRTIO_VSOCK_HDR_LEN, 0);
	rx_get(g, &h, NULL);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(vd_metric(g->dev, "malformed_packets"), bad);
	/* The connection still carries data both ways. */
	pattern(buf, sizeof(buf), 3);
	tx(g, VIRTIO_VSOCK_OP_RW, 5000, hport, 0, 0, buf, sizeof(buf));
	host_read(fd, back, sizeof(back));
	assert_memory_equal(back, buf, sizeof(buf));
	assert_false(vd_needs_reset(g->f, 0));
	assert_int_equal(vd_metric(g->dev, "queue_errors"), 0);
	close(fd);
	g_free(g);
}

/* Packets for connections that do not exist, or out of order, end in RST. */
static void test_protocol_errors(void **state)
{
	struct g *g = g_new();
	uint8_t b = 1;
	uint32_t hport;
	int fd;

	(void)state;
	rx_post(g, 16);
	/* Data, RESPONSE or SHUTDOWN for a connection nobody made. */
	tx(g, VIRTIO_VSOCK_OP_RW, 77, 6000, 0, 0, &b, 1);
	rx_expect(g, VIRTIO_VSOCK_OP_RST, 6000, 77);
	tx(g, VIRTIO_VSOCK_OP_RESPONSE, 77, 6000, 0, 0, NULL, 0);
	rx_expect(g, VIRTIO_VSOCK_OP_RST, 6000, 77);
	/* An RST for nothing is not answered. */
	tx(g, VIRTIO_VSOCK_OP_RST, 77, 6000, 0, 0, NULL, 0);
	rx_none(g, 20);
	/* A second REQUEST on a live connection, and data before RESPONSE. */
	fd = host_established(g, 5000, &hport);
	tx(g, VIRTIO_VSOCK_OP_REQUEST, 5000, hport, 0, 0, NULL, 0);
	expect_reset(g, fd, hport, 5000);
	fd = host_connect(g, 5001);
	rx_expect(g, VIRTIO_VSOCK_OP_REQUEST, HOST_PORT0 + 1, 5001);
	tx(g, VIRTIO_VSOCK_OP_RW, 5001, HOST_PORT0 + 1, 0, 0, &b, 1);
	expect_reset(g, fd, HOST_PORT0 + 1, 5001);
	/* Data after the guest's own SHUTDOWN(SEND). */
	fd = host_established(g, 5002, &hport);
	tx(g, VIRTIO_VSOCK_OP_SHUTDOWN, 5002, hport, VIRTIO_VSOCK_SHUTDOWN_SEND, 0, NULL, 0);
	assert_int_equal(host_wait_closed(fd), 0); /* EOF: the guest sends no more */
	tx(g, VIRTIO_VSOCK_OP_RW, 5002, hport, 0, 0, &b, 1);
	rx_expect(g, VIRTIO_VSOCK_OP_RST, hport, 5002);
	assert_int_equal(vd_metric(g->dev, "malformed_packets"), 1);
	close(fd);
	assert_false(vd_needs_reset(g->f, 0));
	g_free(g);
}

/* Packets needing an RST while the guest gives no buffers: kite owes at most 16. */
static void test_reset_flood(void **state)
{
	struct g *g = g_new();
	struct virtio_vsock_hdr h;
	unsigned n = 0;
	uint8_t b = 1;

	(void)state;
	for (unsigned i = 0; i < 200; i++)
		tx(g, VIRTIO_VSOCK_OP_RW, 1000 + i, 6000, 0, 0, &b, 1);
	rx_post(g, QSIZE);
	while (rx_get_within(g, &h, NULL, 50)) {
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
		n++;
	}
	assert_int_equal(n, 16);
	/* The device works on. */
	tx(g, VIRTIO_VSOCK_OP_RW, 1, 6000, 0, 0, &b, 1);
	rx_expect(g, VIRTIO_VSOCK_OP_RST, 6000, 1);
	g_free(g);
}

/* More host connections than the device holds: the extra ones are closed, not queued. */
static void test_connection_limit(void **state)
{
	struct g *g = g_new();
	struct virtio_vsock_hdr req[64];
	unsigned closed = 0;
	int fds[65];
	uint32_t hport;

	(void)state;
	rx_post(g, QSIZE);
	for (unsigned i = 0; i < 65; i++)
		fds[i] = host_connect(g, 5000 + i);
	for (unsigned i = 0; i < 64; i++) {
		rx_get(g, &req[i], NULL);
		assert_int_equal(req[i].op, VIRTIO_VSOCK_OP_REQUEST);
	}
	rx_none(g, 20);
	assert_int_equal(vd_metric(g->dev, "connections"), 64);
	/* One of the 65 was refused at once; the others wait for the guest. */
	for (unsigned i = 0; i < 65; i++) {
		uint8_t b;

		set_nonblock(fds[i]);
		if (recv(fds[i], &b, 1, 0) == 0 || errno != EAGAIN) {
			closed++;
			close(fds[i]);
			fds[i] = -1;
		}
	}
	assert_int_equal(closed, 1);
	/* The guest refuses all of them: kite closes them and takes new ones again. */
	for (unsigned i = 0; i < 64; i++)
		tx(g, VIRTIO_VSOCK_OP_RST, req[i].dst_port, req[i].src_port, 0, 0, NULL, 0);
	assert_int_equal(vd_metric(g->dev, "resets"), 64);
	for (unsigned i = 0; i < 65; i++) {
		if (fds[i] < 0)
			continue;
		assert_int_equal(host_wait_closed(fds[i]), 0);
		close(fds[i]);
	}
	rx_none(g, 20);
	rx_post(g, 16);
	fds[0] = host_established(g, 5000, &hport);
	close(fds[0]);
	g_free(g);
}

/*
 * Ring-rule violations on the transmit and receive queues fail the queue
 * (DEVICE_NEEDS_RESET, counted in queue_errors); a reset brings it back.
 */
enum ring_case {
	RING_LOOP,
	RING_INDIRECT_SELF,
	RING_TOO_LONG,
	RING_FULL_LOOP,
	RING_RX_READABLE,
	RING_RX_SHORT,
};

static void ring_case(enum ring_case rc)
{
	struct g *g = g_new();
	struct vq *tq = &g->q[TX], *rq = &g->q[RX];
	uint64_t table = vd_buf(g->f, 16 * 300, 0);
	uint32_t hport;
	int fd;

	switch (rc) {
	case RING_LOOP: /* descriptor 1 points back at 0 */
		vd_desc(g->f, tq->desc, 0, g->txh, VIRTIO_VSOCK_HDR_LEN, VIRTQ_DESC_F_NEXT, 1);
		vd_desc(g->f, tq->desc, 1, g->txd, 16, VIRTQ_DESC_F_NEXT, 0);
		vq_publish(tq, 0);
		break;
	case RING_INDIRECT_SELF: /* an indirect table that is the ring itself */
		vd_desc(g->f, tq->desc, 0, tq->desc, 16 * QSIZE, VIRTQ_DESC_F_INDIRECT, 0);
		vq_publish(tq, 0);
		break;
	case RING_TOO_LONG: /* an indirect table of more buffers than any chain may have */
		for (unsigned i = 0; i < 300; i++)
			vd_desc(g->f, table, i, g->txd, 1, i < 299 ? VIRTQ_DESC_F_NEXT : 0,
				(uint16_t)(i + 1));
		vd_desc(g->f, tq->desc, 0, table, 16 * 300, VIRTQ_DESC_F_INDIRECT, 0);
		vq_publish(tq, 0);
		break;
	case RING_FULL_LOOP: /* every descriptor chained to the next, the last to the first */
		for (unsigned i = 0; i < QSIZE; i++)
			vd_desc(g->f, tq->desc, i, g->txd, 1, VIRTQ_DESC_F_NEXT,
				(uint16_t)((i + 1) % QSIZE));
		vq_publish(tq, 0);
		break;
	case RING_RX_READABLE: /* the device would write into a buffer it may only read */
		vq_publish(rq, vq_chain(rq, &(struct vbuf){ g->rxbuf[rq->free], RX_LEN, false }, 1));
		break;
	case RING_RX_SHORT:
		vq_publish(rq, vq_chain(rq, &(struct vbuf){ g->rxbuf[rq->free], 10, true }, 1));
		break;
	}
	if (rc == RING_RX_READABLE || rc == RING_RX_SHORT) {
		/* The receive queue is looked at only when there is something to send. */
		uint8_t b = 1;

		for (unsigned i = 0; i < 5; i++)
			tx(g, VIRTIO_VSOCK_OP_RW, 10 + i, 6000, 0, 0, &b, 1);
	}
	assert_true(vd_wait_needs_reset(g->f, 0));
	assert_int_equal(vd_metric(g->dev, "queue_errors"), 1);
	/* A reset brings the device back. */
	vd_start(g->f, 0, FEATURES, g->q, 3, QSIZE);
	assert_false(vd_needs_reset(g->f, 0));
	rx_post(g, 8);
	fd = host_established(g, 5000, &hport);
	close(fd);
	g_free(g);
}

#define RING_TEST(name, kind)       \
	static void name(void **state) \
	{                              \
		(void)state;           \
		ring_case(kind);       \
	}
RING_TEST(test_ring_loop, RING_LOOP)
RING_TEST(test_ring_indirect_self, RING_INDIRECT_SELF)
RING_TEST(test_ring_too_long, RING_TOO_LONG)
RING_TEST(test_ring_full_loop, RING_FULL_LOOP)
RING_TEST(test_ring_rx_readable, RING_RX_READABLE)
RING_TEST(test_ring_rx_short, RING_RX_SHORT)

/*
 * A reset, a pause or a snapshot must not wait forever on a receive buffer the
 * device took for a packet it then had nothing to put in (a host peer at EOF).
 */
static void test_reset_after_host_eof(void **state)
{
	struct g *g = g_new();
	struct virtio_vsock_hdr h;
	uint32_t hport;
	int fd;

	(void)state;
	alarm(20); /* a hang ends the test binary */
	rx_post(g, 8);
	fd = host_established(g, 5000, &hport);
	shutdown(fd, SHUT_WR);
	vd_sleep_ms(50);
	g->dev->ops->pause(g->dev);
	g->dev->ops->resume(g->dev);
	rx_get(g, &h, NULL);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	vd_start(g->f, 0, FEATURES, g->q, 3, QSIZE);
	assert_int_equal(host_wait_closed(fd), 0);
	close(fd);
	rx_post(g, 8);
	fd = host_established(g, 5000, &hport);
	close(fd);
	alarm(0);
	g_free(g);
}

/* A snapshot of the device loaded back into it, as a restore does. */
static void restore(struct g *g)
{
	struct err err = { 0 };
	struct state_writer w;
	struct state_reader r;

	g->dev->ops->pause(g->dev);
	state_writer_init(&w);
	assert_int_equal(g->dev->ops->save(g->dev, &w), 0);
	state_reader_init(&r, w.buf, w.len);
	assert_int_equal(g->dev->ops->load(g->dev, &r, &err), 0);
	assert_int_equal(r.pos, w.len);
	g->dev->ops->resume(g->dev);
	state_writer_free(&w);
}

/* The next event buffer, posted now; the event it got within VD_WAIT_MS. */
static uint32_t evt_next(struct g *g)
{
	uint64_t ev = vd_buf(g->f, 8, 0xee);
	uint32_t id, len;

	vq_publish(&g->q[EVT], vq_chain(&g->q[EVT], &(struct vbuf){ ev, 8, true }, 1));
	assert_true(vq_wait_used(&g->q[EVT], g->q[EVT].avail_idx));
	vq_used_elem(&g->q[EVT], (uint16_t)(g->q[EVT].avail_idx - 1), &id, &len);
	assert_int_equal(len, 4);
	return *(uint32_t *)vd_hva(g->f, ev, 4);
}

/*
 * A restored device has no connections: it tells the guest with
 * TRANSPORT_RESET on the event queue (when the guest gives the next event
 * buffer, which it must be told to notify about), closes the host sides and
 * takes new connections.
 */
static void test_restore_resets_transport(void **state)
{
	struct g *g = g_new();
	uint64_t spare = vd_buf(g->f, 8, 0xee);
	uint32_t hport;
	int fd;

	(void)state;
	rx_post(g, 8);
	fd = host_established(g, 5000, &hport);
	restore(g);
	assert_int_equal(host_wait_closed(fd), 0);
	close(fd);
	vd_sleep_ms(20); /* no event buffer yet: the event waits */
	assert_int_equal(evt_next(g), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	fd = host_established(g, 5000, &hport);
	close(fd);
	/* Again, now that the event queue has been used once (EVENT_IDX). */
	restore(g);
	vd_sleep_ms(20);
	assert_int_equal(evt_next(g), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	/* One event per restore. */
	vq_publish(&g->q[EVT], vq_chain(&g->q[EVT], &(struct vbuf){ spare, 8, true }, 1));
	vd_sleep_ms(20);
	assert_int_equal(vq_used_idx(&g->q[EVT]), 2);
	g_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_connects),
		cmocka_unit_test(test_guest_connects),
		cmocka_unit_test(test_host_resets),
		cmocka_unit_test(test_no_rx_buffers),
		cmocka_unit_test(test_no_credit),
		cmocka_unit_test(test_guest_beyond_credit),
		cmocka_unit_test(test_malformed_packets),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_reset_flood),
		cmocka_unit_test(test_connection_limit),
		cmocka_unit_test(test_ring_loop),
		cmocka_unit_test(test_ring_indirect_self),
		cmocka_unit_test(test_ring_too_long),
		cmocka_unit_test(test_ring_full_loop),
		cmocka_unit_test(test_ring_rx_readable),
		cmocka_unit_test(test_ring_rx_short),
		cmocka_unit_test(test_reset_after_host_eof),
		cmocka_unit_test(test_restore_resets_transport),
	};

	log_set_level(getenv("KITE_TEST_LOG") ? LOG_DEBUG : LOG_ERROR);
	if (getenv("KITE_TEST_FILTER"))
		cmocka_set_test_filter(getenv("KITE_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
