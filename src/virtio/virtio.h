/* virtio/virtio.h: virtio-mmio transport, split virtqueues and the virtio devices. */
#ifndef KITE_VIRTIO_VIRTIO_H
#define KITE_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/err.h"
#include "base/ratelimit.h"
#include "base/state.h"
#include "devices/device.h"
#include "memory/memory.h"

struct vm;
struct iothread;
struct iothread_timer;
struct acpi_config;

/*
 * Machine layout (docs/virtio.md): device i has a 0x200-byte register window
 * at VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_STRIDE and the level-triggered,
 * active-high interrupt GSI VIRTIO_MMIO_GSI_BASE + i (IOAPIC pins 16-23).
 */
#define VIRTIO_MMIO_BASE 0xc0000000ull
#define VIRTIO_MMIO_STRIDE 0x1000u
#define VIRTIO_MMIO_SIZE 0x200u
#define VIRTIO_MMIO_GSI_BASE 16u
#define VIRTIO_MMIO_MAX_DEVICES 8u

/* Register offsets (virtio 1.2, 4.2.2, "Version 2"). */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */
#define VIRTIO_MMIO_VERSION_2 2u
#define VIRTIO_VENDOR_KITE 0x4554494bu /* "KITE" */

#define VIRTIO_INT_USED 0x1u
#define VIRTIO_INT_CONFIG 0x2u

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED 128u

/* Transport feature bits. */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_TRANSPORT_FEATURES                                                   \
	((1ull << VIRTIO_F_RING_INDIRECT_DESC) | (1ull << VIRTIO_F_RING_EVENT_IDX) | \
	 (1ull << VIRTIO_F_VERSION_1))

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_VSOCK 19

/* Split virtqueue layout (virtio 1.2, 2.7). */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* QueueNumMax of every queue, and the longest chain (indirect tables too). */
#define VIRTQ_MAX_SIZE 256u
#define VIRTQ_CHAIN_MAX VIRTQ_MAX_SIZE

/* One descriptor chain: the device-readable buffers first, then the writable ones. */
struct virtq_chain {
	uint16_t head;
	unsigned nr_readable;
	unsigned nr_writable;
	uint32_t readable_len;
	uint32_t writable_len;
	struct iovec iov[VIRTQ_CHAIN_MAX];
};

struct virtio_dev;

/*
 * One split virtqueue. The transport writes the configuration (num, the three
 * addresses, ready) from vCPU threads; the I/O thread pops and the back-ends
 * push. Everything below "runtime" is protected by lock.
 */
struct virtq {
	pthread_mutex_t lock;
	pthread_cond_t idle; /* signalled when in_flight drops to 0 */
	struct virtio_dev *vdev;
	unsigned index;
	int notify_fd; /* eventfd the QueueNotify write (or an ioeventfd) signals */

	/* Configuration as the driver wrote it. */
	uint32_t num;
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* Runtime. */
	const struct guest_memory *mem;
	bool event_idx;	    /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;	    /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
	bool broken;	    /* the guest broke the rules: the queue is not used again */
	bool throttled;	    /* a pop was refused because in_flight reached num */
	uint8_t *desc;	    /* host views of the rings, set by virtq_map() */
	uint8_t *avail;
	uint8_t *used;
	uint16_t last_avail; /* next avail ring slot the device reads */
	uint16_t used_idx;   /* next used ring slot the device writes */
	uint16_t signalled_used;
	bool signalled_valid;
	unsigned in_flight; /* popped, not yet pushed */
};

/*
 * Checks the configured rings (size a power of two <= VIRTQ_MAX_SIZE,
 * alignment, every byte in guest RAM) and maps them. -EINVAL and a message in
 * err otherwise.
 */
int virtq_map(struct virtq *vq, const struct guest_memory *mem, struct err *err);

/*
 * Takes the next available chain into c. Returns 1 when one was taken, 0 when
 * none is available, or -EBADMSG when the guest broke the ring rules (index
 * jump, loop, chain too long, buffer outside RAM, length overflow, readable
 * after writable, nested or misplaced indirect table): then the queue is
 * marked broken and why names the rule. Caller holds vq->lock.
 */
int virtq_pop(struct virtq *vq, struct virtq_chain *c, const char **why);

/* Puts chain head in the used ring with len bytes written (release order). */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

/*
 * Puts n chains in the used ring and publishes them with one used index
 * store, so the driver sees all of them or none (a receive frame merged over
 * several buffers).
 */
void virtq_push_many(struct virtq *vq, const uint16_t *heads, const uint32_t *lens, unsigned n);

/*
 * Gives back the last n chains popped and not pushed: they are available
 * again, and the next pops return them (walked and checked anew). For a
 * device that found it cannot use them yet (a frame that needs more buffers,
 * a rate limiter), so no chain is held across I/O thread wake-ups.
 */
void virtq_unpop(struct virtq *vq, unsigned n);

/* After pushes: whether the driver asked to be interrupted (EVENT_IDX aware). */
bool virtq_should_interrupt(struct virtq *vq);

/*
 * Before the device goes idle: publishes avail_event (EVENT_IDX) and returns
 * true when more buffers arrived meanwhile, so the caller processes again.
 */
bool virtq_enable_notify(struct virtq *vq);

/* True when the driver made a chain available that the device has not taken. */
bool virtq_has_avail(struct virtq *vq);

/* Copies up to len bytes between a flat buffer and an iovec array at offset. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t offset, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t offset, const void *buf,
		    size_t len);
/* Describes [offset, offset+len) of src in dst (at most max entries); returns the count. */
unsigned iov_slice(const struct iovec *src, unsigned n, size_t offset, size_t len,
		   struct iovec *dst, unsigned max);

/* ---- the transport ---------------------------------------------------- */

#define VIRTIO_MAX_QUEUES 3
#define VIRTIO_CONFIG_MAX 64

/*
 * What a device type adds to the transport. queue_notify runs on the I/O
 * thread with vq->lock held; it pops with virtio_queue_pop() and completes
 * with virtio_queue_push() (inline) or virtio_queue_complete() (later, from
 * any thread). All ops but queue_notify may be NULL.
 */
struct virtio_dev_ops {
	uint32_t device_id;
	unsigned nr_queues;
	int (*realize)(struct virtio_dev *vdev, struct err *err);
	void (*queue_notify)(struct virtio_dev *vdev, struct virtq *vq);
	/*
	 * queue_notify may run on the vCPU thread that wrote QUEUE_NOTIFY
	 * (when no ioeventfd takes the write): it only starts work, never
	 * waits for it, and keeps no state outside the queue's lock.
	 */
	bool notify_on_vcpu;
	/* Back to power-on state; queues are already drained and stopped. */
	void (*reset)(struct virtio_dev *vdev);
	/* The device-specific section (see docs/virtio.md). */
	int (*save)(struct virtio_dev *vdev, struct state_writer *w);
	int (*load)(struct virtio_dev *vdev, struct state_reader *r, struct err *err);
	void (*destroy)(struct virtio_dev *vdev);
	/* The device type's own counters (device_ops.metrics adds the transport's). */
	unsigned (*metrics)(struct virtio_dev *vdev, struct metric *out, unsigned max);
};

/*
 * The transport state every virtio device embeds as its first member (the
 * transport frees the device through it). Lock order:
 * lock -> queues[i].lock -> irq_lock.
 */
struct virtio_dev {
	struct device dev;
	const struct virtio_dev_ops *ops;
	struct iothread *io;
	char name[32];
	unsigned slot; /* window and GSI index */
	uint64_t base;
	unsigned gsi;

	pthread_mutex_t lock; /* registers below */
	uint64_t device_features;
	uint64_t driver_features;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t status;
	uint32_t config_generation;
	uint8_t config[VIRTIO_CONFIG_MAX]; /* little-endian, built by the device */
	uint32_t config_len;
	_Atomic bool needs_reset;
	_Atomic bool paused;

	pthread_mutex_t irq_lock;
	uint32_t isr; /* InterruptStatus */
	/* With an engine irqfd: the line's eventfds (else -1; the line is irq_set). */
	int irq_trigger_fd;
	int irq_resample_fd;

	struct virtq queues[VIRTIO_MAX_QUEUES];

	/* Counters (docs/metrics.md), bumped from vCPU, I/O and back-end threads. */
	struct {
		_Atomic uint64_t notifies;     /* queue notifications processed */
		_Atomic uint64_t requests;     /* descriptor chains taken */
		_Atomic uint64_t interrupts;   /* times the interrupt line was asserted */
		_Atomic uint64_t queue_errors; /* queues failed: the driver broke the ring rules */
	} stats;
};

/*
 * Initialises the transport part of a device in slot (0..7) and adds it to the
 * VM. features are the device's own bits; the transport adds its own. The VM
 * owns the device from the first line on, even when this fails: the caller
 * must not free it, and its ops->destroy must cope with a half-built device.
 */
int virtio_dev_init(struct virtio_dev *vdev, struct vm *vm, struct iothread *io,
		    const struct virtio_dev_ops *ops, unsigned slot, const char *name,
		    uint64_t features, struct err *err);

/* The virtio device dev is, or NULL when it is another kind of device. */
struct virtio_dev *virtio_dev_of(struct device *dev);

/*
 * The device wrote the first len bytes of the buffers iov[0..n) (guest RAM):
 * tells the engine, whose cached decoded code may come from those pages.
 * Call it before the chain is pushed to the used ring.
 */
void virtio_dma_written(struct virtio_dev *vdev, const struct iovec *iov, unsigned n,
			uint64_t len);

/* Pops for queue_notify; on a guest error the queue is failed (NEEDS_RESET). */
int virtio_queue_pop(struct virtio_dev *vdev, struct virtq *vq, struct virtq_chain *c);
/* Completes a chain inline (caller holds vq->lock) and interrupts if asked. */
void virtio_queue_push(struct virtio_dev *vdev, struct virtq *vq, uint16_t head, uint32_t len);
/* virtq_push_many() for queue_notify, with virtio_queue_push()'s bookkeeping and interrupt. */
void virtio_queue_push_many(struct virtio_dev *vdev, struct virtq *vq, const uint16_t *heads,
			    const uint32_t *lens, unsigned n);
/* virtq_unpop() for queue_notify (caller holds vq->lock). */
void virtio_queue_unpop(struct virtio_dev *vdev, struct virtq *vq, unsigned n);
/* Completes a chain from any thread (takes vq->lock). */
void virtio_queue_complete(struct virtio_dev *vdev, struct virtq *vq, uint16_t head,
			   uint32_t len);
/* The chain just popped breaks the device's rules: forget it and fail the queue. */
void virtio_queue_drop(struct virtio_dev *vdev, struct virtq *vq, const char *why);
/* Marks vq broken, sets DEVICE_NEEDS_RESET and raises a config interrupt. */
void virtio_queue_fail(struct virtio_dev *vdev, struct virtq *vq, const char *why);
/* Wakes queue processing on the I/O thread, as a guest notification would. */
void virtio_queue_kick(struct virtq *vq);
/*
 * An iothread_fn (opaque: the struct virtq): runs the queue's queue_notify
 * under its lock if the queue is active, as a notification would. For what
 * resumes a queue besides the guest: a back-end's fd, a limiter's timer.
 */
void virtio_queue_run(void *vq);
/*
 * Charges rl for one request of bytes (and one op). False when the request
 * must wait: throttled is counted and t armed for when the bucket will have
 * refilled (its handler resumes the queue).
 */
bool virtio_limit_pay(struct ratelimit *rl, struct iothread_timer *t, _Atomic uint64_t *throttled,
		      uint64_t bytes);
/* Replaces vq's limiter rl under vq's lock, then kicks vq: what the old one held goes now. */
void virtio_queue_set_limit(struct virtq *vq, struct ratelimit *rl,
			    const struct ratelimit_config *cfg);
/* Raises InterruptStatus bits and the line. */
void virtio_irq_raise(struct virtio_dev *vdev, uint32_t bits);
/* True when the transport lets the device use vq (DRIVER_OK, ready, not broken). */
bool virtio_queue_active(struct virtio_dev *vdev, struct virtq *vq);

/* ---- devices ---------------------------------------------------------- */

#define VIRTIO_BLK_ID_BYTES 20

struct virtio_blk_config {
	const char *path;
	const char *id; /* GET_ID string, at most VIRTIO_BLK_ID_BYTES; NULL: "disk<slot>" */
	bool read_only;
	struct blkfile *file; /* the image opened with read_only, or NULL: open path */
	struct ratelimit_config rate_limit; /* all-zero: none */
};

/*
 * A raw image as a virtio block device; err names the image on failure. The
 * device owns cfg->file once it is created; on failure the caller keeps it.
 */
/*
 * Points the block device dev at the image path instead (opened as the old
 * one was): Firecracker's PATCH /drives. The caller has paused the VM, so no
 * request is in flight; the capacity and the config generation follow, and
 * virtio_config_changed() after the resume tells the driver. 0 or -errno.
 */
int virtio_blk_replace(struct device *dev, const char *path, struct err *err);

/*
 * Replaces the block device dev's rate limiter at run time (Firecracker's
 * PATCH /drives rate_limiter); it starts full. 0, or -ENODEV.
 */
int virtio_blk_set_rate_limit(struct device *dev, const struct ratelimit_config *cfg);

/* The device's config space changed: the config interrupt, once the driver is up. */
void virtio_config_changed(struct device *dev);

struct device *virtio_blk_create(struct vm *vm, struct iothread *io, unsigned slot,
				 const struct virtio_blk_config *cfg, struct err *err);

/* The bytes one rng request may take at most. */
#define VIRTIO_RNG_REQUEST_MAX (64u * 1024)
struct device *virtio_rng_create(struct vm *vm, struct iothread *io, unsigned slot,
				 struct err *err);

/* hvc0: output to out_fd, input from virtio_console_receive(). */
struct device *virtio_console_create(struct vm *vm, struct iothread *io, unsigned slot,
				     int out_fd, struct err *err);
/* Queues host input for the guest; returns how many bytes it took (flow control). */
size_t virtio_console_receive(struct device *dev, const uint8_t *buf, size_t len);

/* ---- the network device (virtio 1.2, 5.1; docs/virtio.md) ------------ */

#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_TCPV6 4

/* The header in front of every frame with VIRTIO_F_VERSION_1 (5.1.6), little-endian. */
#define VIRTIO_NET_HDR_LEN 12
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

/* The largest frame either way: an Ethernet header, a VLAN tag and 64 KiB of TSO payload. */
#define VIRTIO_NET_FRAME_MAX (65536u + 18u)

struct virtio_net_config {
	const char *id;	 /* the interface's name in messages (eth0); NULL: the device's */
	const char *tap; /* host interface name */
	/*
	 * Tests: > 0 is an open non-blocking fd that carries header-first frames
	 * (a SOCK_SEQPACKET socket) used instead of opening tap; no guest
	 * offloads. The device owns it from the call on.
	 */
	int fd;
	/*
	 * User-mode networking (backend/usernet.c) instead of a TAP, with these
	 * host port forwards; no checksum or segmentation offloads either way.
	 */
	bool user;
	const struct vm_net_hostfwd *hostfwd;
	unsigned nr_hostfwd;
	bool has_mac;	 /* else no VIRTIO_NET_F_MAC: the driver picks an address */
	uint8_t mac[6];
	/* The guest's MTU (VIRTIO_NET_F_MTU), 68..65535; 0: the feature is not offered. */
	uint16_t mtu;
	/* Receive (back-end -> guest) and transmit limiters; all-zero: none. */
	struct ratelimit_config rx_rate_limit, tx_rate_limit;
};

/*
 * eth<n> in slot order: a TAP (backend/tap.c) or the user-mode network;
 * err names the interface, or the forward whose host port is in use.
 */
struct device *virtio_net_create(struct vm *vm, struct iothread *io, unsigned slot,
				 const struct virtio_net_config *cfg, struct err *err);

/*
 * Replaces the rate limiters of the network device dev at run time
 * (Firecracker's PATCH /network-interfaces): NULL leaves that direction as
 * it is; a new limiter starts full. Any thread. 0, or -ENODEV when dev is
 * not a virtio-net device.
 */
int virtio_net_set_rate_limits(struct device *dev, const struct ratelimit_config *rx,
			       const struct ratelimit_config *tx);

/*
 * Validates one transmit chain against the negotiated features before the
 * TAP sees it: only device-readable buffers, a whole header, a frame of at
 * most VIRTIO_NET_FRAME_MAX bytes, offload requests the driver negotiated,
 * a checksum position and hdr_len inside the frame. Copies the header into hdr (the
 * guest may change its own copy meanwhile). 0, or -EBADMSG and why.
 */
int virtio_net_tx_parse(const struct virtq_chain *c, uint64_t features,
			struct virtio_net_hdr *hdr, const char **why);

/* ---- virtio-vsock (docs/virtio.md) ------------------------------------- */

#define VIRTIO_VSOCK_HOST_CID 2u
#define VIRTIO_VSOCK_HDR_LEN 44u
/* The largest payload one packet may carry (Linux sends at most 64 KiB). */
#define VIRTIO_VSOCK_PKT_MAX (64u * 1024)
#define VIRTIO_VSOCK_TYPE_STREAM 1
enum {
	VIRTIO_VSOCK_OP_INVALID,
	VIRTIO_VSOCK_OP_REQUEST,
	VIRTIO_VSOCK_OP_RESPONSE,
	VIRTIO_VSOCK_OP_RST,
	VIRTIO_VSOCK_OP_SHUTDOWN,
	VIRTIO_VSOCK_OP_RW,
	VIRTIO_VSOCK_OP_CREDIT_UPDATE,
	VIRTIO_VSOCK_OP_CREDIT_REQUEST,
};
#define VIRTIO_VSOCK_SHUTDOWN_RCV 1u
#define VIRTIO_VSOCK_SHUTDOWN_SEND 2u
#define VIRTIO_VSOCK_SHUTDOWN_BOTH 3u
#define VIRTIO_VSOCK_EVENT_TRANSPORT_RESET 0

/* The packet header, host-endian (on the wire: 44 little-endian bytes). */
struct virtio_vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

void virtio_vsock_hdr_decode(const uint8_t *p, struct virtio_vsock_hdr *h);
void virtio_vsock_hdr_encode(const struct virtio_vsock_hdr *h, uint8_t *p);

/*
 * Validates one transmit chain from the guest: readable only, a whole header,
 * len within the chain and VIRTIO_VSOCK_PKT_MAX, no payload but on RW, the
 * source the guest's cid, the destination the host, a known op. 0, -EBADMSG
 * (drop and count) or -EPROTONOSUPPORT (not a stream: answer RST).
 */
int virtio_vsock_tx_parse(const struct virtq_chain *c, uint64_t guest_cid,
			  struct virtio_vsock_hdr *h);

/* Bytes the peer can take: its buf_alloc less what is in flight (wrapping counters). */
uint32_t virtio_vsock_credit(uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt, uint32_t tx_cnt);

/*
 * A vsock device for guest cid guest_cid with Firecracker's host side: a
 * listener on the UNIX socket uds_path ("CONNECT <port>\n"), and guest
 * connections to host port P go to the listener uds_path_P.
 */
struct device *virtio_vsock_create(struct vm *vm, struct iothread *io, unsigned slot,
				   uint64_t guest_cid, const char *uds_path, struct err *err);

/* ---- the block request parser (exported for tests and fuzzing) --------- */

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_SECTOR 512u
#define VIRTIO_BLK_DWZ_SEG_MAX 32u	   /* discard / write-zeroes segments per request */
#define VIRTIO_BLK_DWZ_SECTORS_MAX (1u << 22) /* 2 GiB per segment */
#define VIRTIO_BLK_DWZ_FLAG_UNMAP 1u

struct virtio_blk_range {
	uint64_t offset; /* bytes */
	uint64_t len;
};

enum virtio_blk_verdict {
	BLK_REQ_MALFORMED, /* breaks the ring rules: fail the queue */
	BLK_REQ_DONE,	   /* status decided without I/O (error, GET_ID) */
	BLK_REQ_IO,	   /* valid: run op on the back-end */
};

struct virtio_blk_req {
	uint32_t type;
	uint8_t status;
	uint8_t *status_byte; /* host address of the status byte */
	uint64_t offset;      /* IN/OUT: bytes */
	uint64_t len;
	unsigned nr_iov; /* IN/OUT data; GET_ID: the id buffer */
	struct iovec iov[VIRTQ_CHAIN_MAX];
	unsigned nr_ranges; /* DISCARD/WRITE_ZEROES */
	struct virtio_blk_range ranges[VIRTIO_BLK_DWZ_SEG_MAX];
};

/*
 * Validates one request against a disk of capacity sectors before any I/O:
 * header readable and first, status writable and last, data direction,
 * sector + length within capacity (overflow-checked), segment counts, the
 * read-only flag. Fills req; never touches the image.
 */
enum virtio_blk_verdict virtio_blk_parse(const struct virtq_chain *c, uint64_t capacity,
					 bool read_only, struct virtio_blk_req *req);

/* ---- the machine ------------------------------------------------------ */

/*
 * Creates the I/O thread every virtio device's queues run on (vm->iothread),
 * as a device ahead of them on the VM's list, so it stops first.
 */
int virtio_iothread_create(struct vm *vm, struct err *err);

/* Adds every virtio device's window and GSI to the ACPI configuration. */
void virtio_devices_acpi(struct vm *vm, struct acpi_config *cfg);

#endif
