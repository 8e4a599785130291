/* virtio/net.c: virtio network device over a host TAP (backend/tap.c) or user-mode networking. */
#include "virtio/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/ratelimit.h"
#include "base/util.h"

/* 2: the MTU the driver was told. */
#define NET_STATE_VERSION 2
#define NET_RX 0
#define NET_TX 1

/* Config space layout (virtio 1.2, 5.1.4): mac, status, max_virtqueue_pairs, mtu. */
#define CFG_MAC 0
#define CFG_STATUS 6
#define CFG_MAX_VQ_PAIRS 8
#define CFG_MTU 10
#define CFG_LEN 12
#define NET_S_LINK_UP 1
/* With VIRTIO_NET_F_MTU, the Ethernet header and one VLAN tag come on top of the MTU. */
#define NET_MTU_L2_HDR 18u

/* A frame read from the back-end waits here, header first, until the guest gives a buffer. */
#define NET_RX_BUF (VIRTIO_NET_HDR_LEN + VIRTIO_NET_FRAME_MAX)
/* offloads_set's value before the first negotiation: never a real TAP_OFFLOAD_* set. */
#define NET_OFFLOADS_UNSET (~0u)
/*
 * With MRG_RXBUF a frame spreads over receive chains: at most one per ring
 * entry, and this many buffers in all (a hostile driver's long chains end
 * in a dropped frame, not an overrun; Linux gives one buffer per chain).
 */
#define NET_RX_IOV_MAX (2 * VIRTQ_CHAIN_MAX)

struct net {
	struct virtio_dev vdev;
	int tap_fd;	       /* the TAP, or the user-mode network's socket */
	char backend[48];      /* "tap NAME" or "user network", for messages */
	struct usernet *user;  /* NULL: a TAP */
	unsigned tap_offloads; /* what the TAP accepted at open */
	uint16_t mtu;	       /* config space mtu; 0: VIRTIO_NET_F_MTU not offered */
	/* Under the rx queue's lock. */
	unsigned offloads_set; /* what TUNSETOFFLOAD was last given */
	size_t rx_len;	       /* bytes waiting in rx_buf; 0: none */
	bool rx_paid;	       /* the rx limiter was charged for the waiting frame */
	struct virtq_chain rx_chain;
	uint8_t rx_buf[NET_RX_BUF];
	/* MRG_RXBUF: the chains popped for the waiting frame, never kept past one call. */
	unsigned rx_held, rx_nr_iov;
	uint32_t rx_held_cap; /* their writable bytes */
	uint16_t rx_heads[VIRTQ_MAX_SIZE];
	uint32_t rx_lens[VIRTQ_MAX_SIZE]; /* each one's writable bytes, then bytes written */
	struct iovec rx_iov[NET_RX_IOV_MAX];
	struct ratelimit rx_limit;
	struct iothread_timer rx_timer; /* the rx bucket has refilled */
	/* Under the tx queue's lock. */
	struct virtq_chain tx_chain;
	struct iovec tx_iov[VIRTQ_CHAIN_MAX + 1];
	struct ratelimit tx_limit;
	struct iothread_timer tx_timer;
	/* Counters (docs/metrics.md), I/O thread only. */
	struct {
		_Atomic uint64_t rx_frames, rx_bytes, rx_dropped, rx_bad_buffers;
		_Atomic uint64_t tx_frames, tx_bytes, tx_dropped, tx_malformed;
		_Atomic uint64_t rx_throttled, tx_throttled;
	} stats;
};

static struct net *to_net(struct virtio_dev *vdev)
{
	return container_of(vdev, struct net, vdev);
}

static bool has(uint64_t features, unsigned bit)
{
	return features & (1ull << bit);
}

/* ---- transmit: guest -> back-end ---------------------------------------- */

static int tx_gso_check(const struct virtio_net_hdr *h, uint64_t f, const char **why)
{
	switch (h->gso_type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return 0;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (has(f, VIRTIO_NET_F_HOST_TSO4))
			break;
		*why = "TSO4 frame without VIRTIO_NET_F_HOST_TSO4";
		return -EBADMSG;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (has(f, VIRTIO_NET_F_HOST_TSO6))
			break;
		*why = "TSO6 frame without VIRTIO_NET_F_HOST_TSO6";
		return -EBADMSG;
	default:
		/* UDP fragmentation and ECN are not offered. */
		*why = "unsupported gso_type";
		return -EBADMSG;
	}
	/* Segmentation needs the partial checksum the driver leaves for it. */
	if (!h->gso_size || !(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		*why = "TSO frame without gso_size or NEEDS_CSUM";
		return -EBADMSG;
	}
	return 0;
}

int virtio_net_tx_parse(const struct virtq_chain *c, uint64_t f, struct virtio_net_hdr *h,
			const char **why)
{
	uint8_t raw[VIRTIO_NET_HDR_LEN];
	uint32_t frame;

	if (c->nr_writable) {
		*why = "transmit chain with a device-writable buffer";
		return -EBADMSG;
	}
	if (c->readable_len < VIRTIO_NET_HDR_LEN) {
		*why = "transmit chain shorter than the header";
		return -EBADMSG;
	}
	frame = c->readable_len - VIRTIO_NET_HDR_LEN;
	if (frame > VIRTIO_NET_FRAME_MAX) {
		*why = "transmit frame larger than VIRTIO_NET_FRAME_MAX";
		return -EBADMSG;
	}
	iov_to_buf(c->iov, c->nr_readable, 0, raw, sizeof(raw));
	*h = (struct virtio_net_hdr){
		.flags = raw[0],
		.gso_type = raw[1],
		.hdr_len = le16(raw + 2),
		.gso_size = le16(raw + 4),
		.csum_start = le16(raw + 6),
		.csum_offset = le16(raw + 8),
		.num_buffers = 0, /* the driver's value means nothing on transmit */
	};
	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		*why = "unknown transmit header flags";
		return -EBADMSG;
	}
	/* The headers a TAP copies into each segment must lie inside the frame. */
	if (h->hdr_len > frame) {
		*why = "hdr_len beyond the frame";
		return -EBADMSG;
	}
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!has(f, VIRTIO_NET_F_CSUM)) {
			*why = "NEEDS_CSUM without VIRTIO_NET_F_CSUM";
			return -EBADMSG;
		}
		/* The 16-bit checksum field must lie inside the frame. */
		if ((uint32_t)h->csum_start + h->csum_offset + 2 > frame) {
			*why = "checksum position outside the frame";
			return -EBADMSG;
		}
	}
	return tx_gso_check(h, f, why);
}

static void hdr_encode(const struct virtio_net_hdr *h, uint8_t *raw)
{
	raw[0] = h->flags;
	raw[1] = h->gso_type;
	put_le16(raw + 2, h->hdr_len);
	put_le16(raw + 4, h->gso_size);
	put_le16(raw + 6, h->csum_start);
	put_le16(raw + 8, h->csum_offset);
	put_le16(raw + 10, h->num_buffers);
}

/* Sends one frame: our checked copy of the header, then the guest's frame bytes. */
static void tx_send(struct net *n, const struct virtq_chain *c, const struct virtio_net_hdr *h)
{
	uint8_t raw[VIRTIO_NET_HDR_LEN];
	uint32_t frame = c->readable_len - VIRTIO_NET_HDR_LEN;
	unsigned cnt;
	ssize_t w;

	hdr_encode(h, raw);
	n->tx_iov[0] = (struct iovec){ .iov_base = raw, .iov_len = sizeof(raw) };
	cnt = 1 + iov_slice(c->iov, c->nr_readable, VIRTIO_NET_HDR_LEN, frame, n->tx_iov + 1,
			    VIRTQ_CHAIN_MAX);
	/* A TAP takes or drops a frame at once; EAGAIN only means its queue is full. */
	w = writev(n->tap_fd, n->tx_iov, (int)cnt);
	if (w < 0) {
		if (errno != EAGAIN)
			log_ratelimited(LOG_WARN, "%s: write to %s: %s", n->vdev.name, n->backend,
					strerror(errno));
		counter_add_owned(&n->stats.tx_dropped, 1);
		return;
	}
	counter_add_owned(&n->stats.tx_frames, 1);
	counter_add_owned(&n->stats.tx_bytes, frame);
}

static void tx_drain(struct net *n, struct virtq *vq)
{
	struct virtio_net_hdr h;
	const char *why;

	do {
		while (virtio_queue_pop(&n->vdev, vq, &n->tx_chain) > 0) {
			if (virtio_net_tx_parse(&n->tx_chain, n->vdev.driver_features, &h, &why) < 0) {
				/* A bad frame costs only itself: dropped, counted, buffer returned. */
				log_ratelimited(LOG_WARN, "%s: dropped a transmit frame: %s",
						n->vdev.name, why);
				counter_add_owned(&n->stats.tx_malformed, 1);
			} else if (!virtio_limit_pay(&n->tx_limit, &n->tx_timer, &n->stats.tx_throttled,
					      n->tx_chain.readable_len - VIRTIO_NET_HDR_LEN)) {
				/* The frame stays with the driver; the timer brings us back. */
				virtio_queue_unpop(&n->vdev, vq, 1);
				return;
			} else {
				tx_send(n, &n->tx_chain, &h);
			}
			virtio_queue_push(&n->vdev, vq, n->tx_chain.head, 0);
		}
	} while (!vq->broken && !vq->throttled && virtq_enable_notify(vq));
}

/* ---- receive: back-end -> guest ---------------------------------------- */

/* The TAP may hand us only what the driver said it can take (5.1.6.4). */
static unsigned offloads_wanted(const struct net *n)
{
	uint64_t f = n->vdev.driver_features;
	unsigned o = 0;

	if (!has(f, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	o = TAP_OFFLOAD_CSUM;
	if (has(f, VIRTIO_NET_F_GUEST_TSO4))
		o |= TAP_OFFLOAD_TSO4;
	if (has(f, VIRTIO_NET_F_GUEST_TSO6))
		o |= TAP_OFFLOAD_TSO6;
	return o & n->tap_offloads;
}

static void offloads_apply(struct net *n)
{
	unsigned want = offloads_wanted(n);
	int rc;

	/* A TAP that took no offloads at open (or a test's socket) keeps none. */
	if (want == n->offloads_set || !n->tap_offloads)
		return;
	rc = tap_set_offload(n->tap_fd, want);
	if (rc < 0)
		log_ratelimited(LOG_WARN, "%s: TUNSETOFFLOAD on %s: %s", n->vdev.name, n->backend,
				strerror(-rc));
	n->offloads_set = want;
}

/* The waiting frame is gone: delivered or dropped. */
static void rx_frame_done(struct net *n)
{
	n->rx_len = 0;
	n->rx_paid = false;
}

/* With VIRTIO_NET_F_MTU the driver takes no plain frame above mtu (5.1.6.3.2). */
static bool rx_over_mtu(const struct net *n, size_t frame)
{
	return has(n->vdev.driver_features, VIRTIO_NET_F_MTU) &&
	       n->rx_buf[1] == VIRTIO_NET_HDR_GSO_NONE && frame > n->mtu + NET_MTU_L2_HDR;
}

/* Reads the next frame into rx_buf; false when the back-end has none now. */
static bool rx_read(struct net *n)
{
	for (;;) {
		ssize_t r = read(n->tap_fd, n->rx_buf, sizeof(n->rx_buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			if (errno != EAGAIN)
				log_ratelimited(LOG_WARN, "%s: read from %s: %s", n->vdev.name,
						n->backend, strerror(errno));
			return false;
		}
		if (r == 0) /* the back-end hung up (a test's socket); a TAP never does */
			return false;
		if (r <= VIRTIO_NET_HDR_LEN || rx_over_mtu(n, (size_t)r - VIRTIO_NET_HDR_LEN)) {
			counter_add_owned(&n->stats.rx_dropped, 1);
			continue;
		}
		n->rx_len = (size_t)r;
		return true;
	}
}

static void rx_count(struct net *n)
{
	counter_add_owned(&n->stats.rx_frames, 1);
	counter_add_owned(&n->stats.rx_bytes, n->rx_len - VIRTIO_NET_HDR_LEN);
}

/* Puts the waiting frame in chain c, or drops it when c cannot hold it. */
static void rx_deliver(struct net *n, struct virtq *vq, const struct virtq_chain *c)
{
	uint32_t len = 0;

	if (c->nr_readable) {
		log_ratelimited(LOG_WARN, "%s: receive buffer is device-readable", n->vdev.name);
		counter_add_owned(&n->stats.rx_bad_buffers, 1);
	} else if (c->writable_len < n->rx_len) {
		/* Without MRG_RXBUF one buffer holds one frame; a short one loses the frame. */
		log_ratelimited(LOG_WARN, "%s: receive buffer of %u bytes for a %zu-byte frame",
				n->vdev.name, c->writable_len, n->rx_len);
		counter_add_owned(&n->stats.rx_bad_buffers, 1);
		counter_add_owned(&n->stats.rx_dropped, 1);
		rx_frame_done(n);
	} else {
		/* num_buffers: the frame takes exactly this one buffer. */
		put_le16(n->rx_buf + 10, 1);
		len = (uint32_t)iov_from_buf(c->iov, c->nr_writable, 0, n->rx_buf, n->rx_len);
		virtio_dma_written(&n->vdev, c->iov, c->nr_writable, len);
		rx_count(n);
		rx_frame_done(n);
	}
	virtio_queue_push(&n->vdev, vq, c->head, len);
}

/* One frame, one chain (no MRG_RXBUF); false when the guest has no buffer now. */
static bool rx_single(struct net *n, struct virtq *vq)
{
	if (!virtq_has_avail(vq)) {
		/* The frame waits; the driver's next rx notification resumes us. */
		return virtq_enable_notify(vq);
	}
	if (virtio_queue_pop(&n->vdev, vq, &n->rx_chain) <= 0)
		return false;
	rx_deliver(n, vq, &n->rx_chain);
	return true;
}

/* ---- receive with VIRTIO_NET_F_MRG_RXBUF (5.1.6.4) ---------------------- */

/* The held chains are the driver's again, or published. */
static void rx_unhold(struct net *n)
{
	n->rx_held = n->rx_nr_iov = 0;
	n->rx_held_cap = 0;
}

/* Gives the held chains back to the driver untouched. */
static void rx_release(struct net *n, struct virtq *vq)
{
	virtio_queue_unpop(&n->vdev, vq, n->rx_held);
	rx_unhold(n);
}

/*
 * A chain the device cannot write into (readable, empty, or a first one
 * shorter than the header): it and the chains held before it go back
 * empty, counted. The frame waits for good ones.
 */
static void rx_reject(struct net *n, struct virtq *vq, const struct virtq_chain *c)
{
	log_ratelimited(LOG_WARN, "%s: unusable receive buffer (%u readable, %u writable bytes)",
			n->vdev.name, c->readable_len, c->writable_len);
	counter_add_owned(&n->stats.rx_bad_buffers, 1);
	n->rx_heads[n->rx_held] = c->head;
	for (unsigned i = 0; i <= n->rx_held; i++)
		n->rx_lens[i] = 0;
	virtio_queue_push_many(&n->vdev, vq, n->rx_heads, n->rx_lens, n->rx_held + 1);
	rx_unhold(n);
}

/* Adds c to the held chains; false when the tables cannot take it. */
static bool rx_hold(struct net *n, const struct virtq_chain *c)
{
	if (c->nr_writable > NET_RX_IOV_MAX - n->rx_nr_iov)
		return false;
	memcpy(n->rx_iov + n->rx_nr_iov, c->iov, c->nr_writable * sizeof(c->iov[0]));
	n->rx_nr_iov += c->nr_writable;
	n->rx_heads[n->rx_held] = c->head;
	n->rx_lens[n->rx_held++] = c->writable_len;
	n->rx_held_cap += c->writable_len;
	return true;
}

enum rx_gather { RX_READY, RX_WAIT, RX_TOO_BIG };

/* Pops chains until they hold the waiting frame. */
static enum rx_gather rx_gather(struct net *n, struct virtq *vq)
{
	struct virtq_chain *c = &n->rx_chain;
	int rc;

	while (n->rx_held_cap < n->rx_len) {
		/* A ring holds at most VIRTQ_MAX_SIZE chains; rx_heads[] has no room for more. */
		if (n->rx_held == VIRTQ_MAX_SIZE)
			return RX_TOO_BIG;
		rc = virtio_queue_pop(&n->vdev, vq, c);
		if (rc < 0)
			return RX_WAIT; /* the queue failed; a reset drops the frame */
		if (rc == 0 && vq->throttled)
			return RX_TOO_BIG; /* every buffer of the ring is held */
		if (rc == 0) {
			/* More may have come while we looked; else the next one notifies. */
			if (virtq_enable_notify(vq))
				continue;
			return RX_WAIT;
		}
		if (c->nr_readable || !c->writable_len ||
		    (!n->rx_held && c->writable_len < VIRTIO_NET_HDR_LEN))
			rx_reject(n, vq, c);
		else if (!rx_hold(n, c))
			return RX_TOO_BIG;
	}
	return RX_READY;
}

/* Writes the frame over the held chains and publishes them at once. */
static void rx_deliver_merged(struct net *n, struct virtq *vq)
{
	size_t left = n->rx_len;

	put_le16(n->rx_buf + 10, (uint16_t)n->rx_held);
	iov_from_buf(n->rx_iov, n->rx_nr_iov, 0, n->rx_buf, n->rx_len);
	virtio_dma_written(&n->vdev, n->rx_iov, n->rx_nr_iov, n->rx_len);
	for (unsigned i = 0; i < n->rx_held; i++) {
		uint32_t take = n->rx_lens[i] < left ? n->rx_lens[i] : (uint32_t)left;

		n->rx_lens[i] = take;
		left -= take;
	}
	virtio_queue_push_many(&n->vdev, vq, n->rx_heads, n->rx_lens, n->rx_held);
	rx_unhold(n);
	rx_count(n);
	rx_frame_done(n);
}

/*
 * One frame over as many chains as it needs; false when the guest has not
 * given enough buffers yet (the frame waits, the chains stay the driver's).
 * A frame larger than every buffer the ring can hold is dropped and counted;
 * it never goes out in part.
 */
static bool rx_merge(struct net *n, struct virtq *vq)
{
	switch (rx_gather(n, vq)) {
	case RX_READY:
		rx_deliver_merged(n, vq);
		return true;
	case RX_TOO_BIG:
		log_ratelimited(LOG_WARN, "%s: dropped a %zu-byte frame: more than the receive ring holds",
				n->vdev.name, n->rx_len);
		counter_add_owned(&n->stats.rx_dropped, 1);
		rx_release(n, vq);
		rx_frame_done(n);
		return true;
	case RX_WAIT:
		break;
	}
	rx_release(n, vq);
	return false;
}

/* Moves frames from the back-end while the guest has buffers; rx queue's lock held. */
static void rx_process(struct net *n, struct virtq *vq)
{
	bool merge = has(n->vdev.driver_features, VIRTIO_NET_F_MRG_RXBUF);

	offloads_apply(n);
	for (;;) {
		if (!n->rx_len && !rx_read(n))
			return; /* the next frame raises a new edge */
		if (!n->rx_paid) {
			/* The frame waits in rx_buf until the bucket's timer fires. */
			if (!virtio_limit_pay(&n->rx_limit, &n->rx_timer, &n->stats.rx_throttled,
				       n->rx_len - VIRTIO_NET_HDR_LEN))
				return;
			n->rx_paid = true;
		}
		if (!(merge ? rx_merge(n, vq) : rx_single(n, vq)))
			return;
	}
}

static void net_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	if (vq->index == NET_RX)
		rx_process(to_net(vdev), vq);
	else
		tx_drain(to_net(vdev), vq);
}

/* ---- lifecycle --------------------------------------------------------- */

static int net_realize(struct virtio_dev *vdev, struct err *err)
{
	struct net *n = to_net(vdev);
	int rc;

	struct virtq *rx = &vdev->queues[NET_RX], *tx = &vdev->queues[NET_TX];

	/* The back-end's frames and the rx bucket's refill both resume the rx queue. */
	rc = iothread_timer_init(vdev->io, &n->rx_timer, virtio_queue_run, rx, err);
	if (rc == 0)
		rc = iothread_timer_init(vdev->io, &n->tx_timer, virtio_queue_run, tx, err);
	if (rc == 0)
		rc = iothread_add_fd(vdev->io, n->tap_fd, virtio_queue_run, rx, err);
	return rc;
}

static void net_reset(struct virtio_dev *vdev)
{
	struct net *n = to_net(vdev);
	struct virtq *vq = &vdev->queues[NET_RX];

	pthread_mutex_lock(&vq->lock);
	rx_frame_done(n);
	n->offloads_set = NET_OFFLOADS_UNSET;
	pthread_mutex_unlock(&vq->lock);
}

/*
 * A frame waiting in rx_buf is not saved: the network may lose a frame, and
 * the peer retransmits. The MAC is, so a restored guest keeps its address.
 */
static int net_save(struct virtio_dev *vdev, struct state_writer *w)
{
	state_section_begin(w, "virtio-net", NET_STATE_VERSION);
	state_put_bytes(w, vdev->config + CFG_MAC, 6);
	state_put_u16(w, le16(vdev->config + CFG_STATUS));
	state_put_u16(w, to_net(vdev)->mtu);
	state_section_end(w);
	return w->error;
}

static int net_load(struct virtio_dev *vdev, struct state_reader *r, struct err *err)
{
	struct net *n = to_net(vdev);
	uint8_t mac[6];
	uint32_t version;
	uint16_t status, mtu = 0;
	int rc;

	rc = state_section_open(r, "virtio-net", NET_STATE_VERSION, &version, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	state_get_bytes(r, mac, sizeof(mac));
	status = state_get_u16(r);
	if (version >= 2)
		mtu = state_get_u16(r);
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	if (status & ~NET_S_LINK_UP)
		return err_set(err, -EINVAL, "%s: unknown link status bits %#x", vdev->name, status);
	/* The driver sized its buffers and its device's MTU once, at probe. */
	if (version >= 2 && mtu != n->mtu)
		return err_set(err, -EINVAL,
			       "%s: the saved guest was told MTU %u, this interface has %u (mtu=)",
			       vdev->name, mtu, n->mtu);
	memcpy(vdev->config + CFG_MAC, mac, sizeof(mac));
	vdev->config[CFG_STATUS] = (uint8_t)status;
	/* The restored features decide the TAP's offloads on the next receive. */
	n->offloads_set = NET_OFFLOADS_UNSET;
	rx_frame_done(n);
	return 0;
}

static void net_destroy(struct virtio_dev *vdev)
{
	struct net *n = to_net(vdev);

	if (n->tap_fd >= 0)
		close(n->tap_fd);
	n->tap_fd = -1;
	usernet_destroy(n->user);
	n->user = NULL;
	iothread_timer_close(&n->rx_timer);
	iothread_timer_close(&n->tx_timer);
}

static unsigned net_metrics(struct virtio_dev *vdev, struct metric *out, unsigned max)
{
	struct net *n = to_net(vdev);
	unsigned k = 0;

	metric_put(out, &k, max, "rx_frames", counter_get(&n->stats.rx_frames));
	metric_put(out, &k, max, "rx_bytes", counter_get(&n->stats.rx_bytes));
	metric_put(out, &k, max, "rx_dropped", counter_get(&n->stats.rx_dropped));
	metric_put(out, &k, max, "rx_bad_buffers", counter_get(&n->stats.rx_bad_buffers));
	metric_put(out, &k, max, "tx_frames", counter_get(&n->stats.tx_frames));
	metric_put(out, &k, max, "tx_bytes", counter_get(&n->stats.tx_bytes));
	metric_put(out, &k, max, "tx_dropped", counter_get(&n->stats.tx_dropped));
	metric_put(out, &k, max, "tx_malformed", counter_get(&n->stats.tx_malformed));
	metric_put(out, &k, max, "rx_throttled", counter_get(&n->stats.rx_throttled));
	metric_put(out, &k, max, "tx_throttled", counter_get(&n->stats.tx_throttled));
	if (n->user) {
		struct usernet_stats st;

		usernet_stats(n->user, &st);
		metric_put(out, &k, max, "user_rx_dropped", st.to_guest_dropped);
		metric_put(out, &k, max, "user_tx_malformed", st.from_guest_bad);
		metric_put(out, &k, max, "user_dns_hosts", st.dns_hosts);
	}
	return k;
}

static const struct virtio_dev_ops net_ops = {
	.device_id = VIRTIO_ID_NET,
	.nr_queues = 2,
	.realize = net_realize,
	.queue_notify = net_notify,
	.reset = net_reset,
	.save = net_save,
	.load = net_load,
	.destroy = net_destroy,
	.metrics = net_metrics,
};

/* The MTU the guest is told (0: none); the user network always has one. */
static uint16_t mtu_of(const struct virtio_net_config *cfg)
{
	if (!cfg->mtu && cfg->user)
		return USERNET_MTU_DEFAULT;
	return cfg->mtu;
}

/*
 * Host offloads (guest -> TAP) always work with IFF_VNET_HDR; guest ones need
 * TUNSETOFFLOAD. The user-mode network takes and gives only whole frames
 * with their checksums, so it is offered none.
 */
static uint64_t features_of(const struct virtio_net_config *cfg, unsigned tap_offloads)
{
	uint64_t f = 1ull << VIRTIO_NET_F_STATUS;

	if (!cfg->user)
		f |= (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_HOST_TSO4) |
		     (1ull << VIRTIO_NET_F_HOST_TSO6);
	if (cfg->has_mac)
		f |= 1ull << VIRTIO_NET_F_MAC;
	if (tap_offloads & TAP_OFFLOAD_CSUM)
		f |= 1ull << VIRTIO_NET_F_GUEST_CSUM;
	if (tap_offloads & TAP_OFFLOAD_TSO4)
		f |= 1ull << VIRTIO_NET_F_GUEST_TSO4;
	if (tap_offloads & TAP_OFFLOAD_TSO6)
		f |= 1ull << VIRTIO_NET_F_GUEST_TSO6;
	/* Frames over several receive chains (rx_merge): Linux then posts small buffers. */
	f |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
	if (mtu_of(cfg))
		f |= 1ull << VIRTIO_NET_F_MTU;
	return f;
}

/* Opens the back-end: the test's fd, the user-mode network or the TAP. */
static int backend_open(struct net *n, const struct virtio_net_config *cfg, const char *name,
			struct err *err)
{
	if (cfg->fd > 0) {
		n->tap_fd = cfg->fd;
		snprintf(n->backend, sizeof(n->backend), "tap %s", cfg->tap ? cfg->tap : "");
		return 0;
	}
	if (cfg->user) {
		snprintf(n->backend, sizeof(n->backend), "user network");
		return usernet_create(&n->user, cfg->id ? cfg->id : name, cfg->hostfwd,
				      cfg->nr_hostfwd, mtu_of(cfg), NULL, &n->tap_fd, err);
	}
	snprintf(n->backend, sizeof(n->backend), "tap %s", cfg->tap);
	return tap_open(cfg->tap, &n->tap_fd, &n->tap_offloads, err);
}

struct device *virtio_net_create(struct vm *vm, struct iothread *io, unsigned slot,
				 const struct virtio_net_config *cfg, struct err *err)
{
	struct net *n = calloc(1, sizeof(*n));
	char name[32];

	snprintf(name, sizeof(name), "virtio-net%u", slot);
	if (!n) {
		if (cfg->fd > 0)
			close(cfg->fd);
		err_set(err, -ENOMEM, "%s: out of memory", name);
		return NULL;
	}
	n->tap_fd = -1;
	n->rx_timer.fd = n->tx_timer.fd = -1;
	if (backend_open(n, cfg, name, err) < 0) {
		free(n);
		return NULL;
	}
	n->offloads_set = NET_OFFLOADS_UNSET;
	/* From here the VM owns n; net_destroy closes the back-end. */
	if (virtio_dev_init(&n->vdev, vm, io, &net_ops, slot, name,
			    features_of(cfg, n->tap_offloads), err) < 0)
		return NULL;
	if (cfg->has_mac)
		memcpy(n->vdev.config + CFG_MAC, cfg->mac, 6);
	n->vdev.config[CFG_STATUS] = NET_S_LINK_UP;
	put_le16(n->vdev.config + CFG_MAX_VQ_PAIRS, 1);
	n->mtu = mtu_of(cfg);
	put_le16(n->vdev.config + CFG_MTU, n->mtu);
	n->vdev.config_len = CFG_LEN;
	ratelimit_init(&n->rx_limit, &cfg->rx_rate_limit, clock_monotonic_ns());
	ratelimit_init(&n->tx_limit, &cfg->tx_rate_limit, clock_monotonic_ns());
	return &n->vdev.dev;
}

int virtio_net_set_rate_limits(struct device *dev, const struct ratelimit_config *rx,
			       const struct ratelimit_config *tx)
{
	struct virtio_dev *vdev = virtio_dev_of(dev);
	struct net *n;

	if (!vdev || vdev->ops != &net_ops)
		return -ENODEV;
	n = to_net(vdev);
	if (rx)
		virtio_queue_set_limit(&vdev->queues[NET_RX], &n->rx_limit, rx);
	if (tx)
		virtio_queue_set_limit(&vdev->queues[NET_TX], &n->tx_limit, tx);
	return 0;
}
