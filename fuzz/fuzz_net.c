/*
 * fuzz/fuzz_net.c: libFuzzer target: virtio-net's queues on hostile rings:
 * the transmit header and chain checks, and the delivery of received frames.
 *
 * Input: byte 0 picks the queue size (2^(b % 9)), byte 1 the driver's
 * features (bit 0 INDIRECT_DESC, 1 EVENT_IDX, 2 CSUM, 3 HOST_TSO4, 4
 * HOST_TSO6, 6 MRG_RXBUF, 7 MTU: the device has mtu 1500) and whether
 * descriptor addresses are folded into the first MiB (bit 5); byte 2 how many frames the back-end has for the guest (% 4),
 * bytes 3-10 their lengths (le16 each, % the largest frame + 1; each is
 * filled from the input). The rest is guest RAM from FV_INPUT_GPA: the
 * transmit queue's table and avail ring, then (16-byte aligned) the receive
 * queue's; buffers and indirect tables anywhere (fuzz/mkseeds.py).
 *
 * Checked by the sanitizers, and: no frame reaches the back-end with a
 * header the parser should have refused; each transmit chain is counted
 * once; each handler gives back every chain it took; a reset finds nothing
 * in flight.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_vdev.h"

#define NET_RX 0
#define NET_TX 1
#define HEAD 11
#define FRAME_BUF (VIRTIO_NET_HDR_LEN + VIRTIO_NET_FRAME_MAX)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vm *vm;
static struct virtio_dev *vdev;
static int peer, dev_fd;

static uint64_t metric(const char *name)
{
	struct metric m[METRICS_MAX];
	unsigned n = vdev->dev.ops->metrics(&vdev->dev, m, METRICS_MAX);

	for (unsigned i = 0; i < n; i++)
		if (!strcmp(m[i].name, name))
			return m[i].value;
	abort();
}

static void setup(void)
{
	struct virtio_net_config nc = { .tap = "fuzz0", .has_mac = true, .mtu = 1500 };
	struct err err = { 0 };
	struct device *dev;
	int sv[2];
	int big = 4 << 20;

	vm = fv_vm_new();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	/* Room for every frame one input can send or receive. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	nc.fd = dev_fd = sv[0];
	peer = sv[1];
	dev = virtio_net_create(vm, NULL, 0, &nc, &err);
	if (!dev)
		abort();
	vdev = virtio_dev_of(dev);
}

/* What the back-end got must have passed the parser: a recheck of its header. */
static void check_sent(void)
{
	static uint8_t f[FRAME_BUF + 1];
	ssize_t n;

	while ((n = recv(peer, f, sizeof(f), MSG_DONTWAIT)) >= 0) {
		uint16_t hdr_len = (uint16_t)(f[2] | f[3] << 8);
		uint16_t start = (uint16_t)(f[6] | f[7] << 8), off = (uint16_t)(f[8] | f[9] << 8);
		size_t frame = (size_t)n - VIRTIO_NET_HDR_LEN;

		if (n < VIRTIO_NET_HDR_LEN || frame > VIRTIO_NET_FRAME_MAX)
			abort();
		if ((f[0] & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) || hdr_len > frame)
			abort();
		if ((f[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) && (size_t)start + off + 2 > frame)
			abort();
		if (f[1] != VIRTIO_NET_HDR_GSO_NONE && f[1] != VIRTIO_NET_HDR_GSO_TCPV4 &&
		    f[1] != VIRTIO_NET_HDR_GSO_TCPV6)
			abort();
		if (f[10] || f[11]) /* num_buffers is zero toward the back-end */
			abort();
	}
}

/* Frames the device did not take are the next input's business: none. */
static void drain_backend(void)
{
	static uint8_t f[FRAME_BUF];

	while (recv(dev_fd, f, sizeof(f), MSG_DONTWAIT) >= 0)
		;
}

static void inject_frames(const uint8_t *data, size_t size)
{
	static uint8_t f[FRAME_BUF];
	unsigned count = data[2] % 4;

	for (unsigned i = 0; i < count; i++) {
		size_t len = (size_t)(data[3 + 2 * i] | data[4 + 2 * i] << 8) % (FRAME_BUF + 1);

		for (size_t k = 0; k < len; k++)
			f[k] = data[(k + i) % size];
		if (send(peer, f, len, MSG_DONTWAIT) < 0 && errno != EAGAIN)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Bit 5 of byte 1 is the folding, not a feature: 0 stands in for it. */
	static const unsigned feature_bits[] = { VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_F_RING_EVENT_IDX,
						 VIRTIO_NET_F_CSUM,	      VIRTIO_NET_F_HOST_TSO4,
						 VIRTIO_NET_F_HOST_TSO6,      0,
						 VIRTIO_NET_F_MRG_RXBUF,      VIRTIO_NET_F_MTU };
	uint64_t features = 0, sum, taken, rx_table;
	unsigned num;

	if (size < HEAD)
		return 0;
	if (!vm)
		setup();
	num = 1u << (data[0] % 9);
	for (unsigned i = 0; i < 8; i++)
		if (i != 5 && (data[1] & (1u << i)))
			features |= 1ull << feature_bits[i];
	rx_table = FV_INPUT_GPA + fv_ring_bytes(num);
	fv_load(vm, data + HEAD, size - HEAD);
	if (data[1] & 0x20) {
		fv_fold(vm, FV_INPUT_GPA, num);
		fv_fold(vm, rx_table, num);
	}
	fv_driver_ok(vdev, features);
	fv_queue(vdev, NET_RX, num, rx_table);
	fv_queue(vdev, NET_TX, num, FV_INPUT_GPA);

	/* Each transmit chain taken is sent, refused or dropped, and counted once. */
	sum = metric("tx_frames") + metric("tx_malformed") + metric("tx_dropped");
	taken = metric("requests");
	fv_notify(vdev, NET_TX);
	if (metric("tx_frames") + metric("tx_malformed") + metric("tx_dropped") - sum !=
	    metric("requests") - taken)
		abort();
	check_sent();
	fv_check_idle(vdev, NET_TX);

	inject_frames(data, size);
	fv_notify(vdev, NET_RX);
	fv_check_idle(vdev, NET_RX);

	fv_reset(vdev);
	drain_backend();
	return 0;
}
