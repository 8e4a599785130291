/*
 * fuzz/fuzz_vsock.c: libFuzzer target: virtio-vsock's transmit queue (the
 * packet header checks, connections made, data, shutdowns and resets) and
 * the control packets it then owes the guest on the receive queue.
 *
 * Input: byte 0 picks the transmit queue's size, byte 1 the receive
 * queue's (2^(b % 9) each), byte 2 the driver's features (bit 0
 * INDIRECT_DESC, 1 EVENT_IDX) and whether descriptor addresses are folded
 * into the first MiB (bit 2). The rest is guest RAM from FV_INPUT_GPA: the
 * transmit queue's table and avail ring, then (16-byte aligned) the receive
 * queue's; headers, payloads and indirect tables anywhere (fuzz/mkseeds.py).
 * The guest's cid is 3; a host listener waits at host port 5000 (the
 * UNIX socket uds_5000), so guest connections there succeed.
 *
 * Checked by the sanitizers, and: each handler gives back every chain it
 * took, and a reset finds nothing in flight (a hang here, reported as a
 * timeout, is a buffer the device kept).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz_vdev.h"

#define VSOCK_RX 0
#define VSOCK_TX 1
#define HEAD 3
#define CID 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vm *vm;
static struct virtio_dev *vdev;
static int listener;

static void setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/kite-fuzz-vsock.XXXXXX", uds[64];
	struct err err = { 0 };
	struct device *dev;

	vm = fv_vm_new();
	if (!mkdtemp(dir))
		abort();
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_5000", uds);
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listener, 128) < 0)
		abort();
	dev = virtio_vsock_create(vm, NULL, 0, CID, uds, &err);
	if (!dev)
		abort();
	vdev = virtio_dev_of(dev);
}

/* The host side of the connections the device made: closed for the next input. */
static void drain_listener(void)
{
	int fd;

	while ((fd = accept(listener, NULL, NULL)) >= 0)
		close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned tx_num, rx_num;
	uint64_t features = 0, rx_table;

	if (size < HEAD)
		return 0;
	if (!vm)
		setup();
	if (data[2] & 1)
		features |= 1ull << VIRTIO_F_RING_INDIRECT_DESC;
	if (data[2] & 2)
		features |= 1ull << VIRTIO_F_RING_EVENT_IDX;
	tx_num = 1u << (data[0] % 9);
	rx_num = 1u << (data[1] % 9);
	rx_table = FV_INPUT_GPA + fv_ring_bytes(tx_num);
	fv_load(vm, data + HEAD, size - HEAD);
	if (data[2] & 4) {
		fv_fold(vm, FV_INPUT_GPA, tx_num);
		fv_fold(vm, rx_table, rx_num);
	}
	fv_driver_ok(vdev, features);
	fv_queue(vdev, VSOCK_TX, tx_num, FV_INPUT_GPA);
	fv_queue(vdev, VSOCK_RX, rx_num, rx_table);

	fv_notify(vdev, VSOCK_TX);
	fv_check_idle(vdev, VSOCK_TX);
	/* What the transmit side owes the guest goes out when receive buffers come. */
	fv_notify(vdev, VSOCK_RX);
	fv_check_idle(vdev, VSOCK_RX);

	fv_reset(vdev);
	drain_listener();
	return 0;
}
