/* virtio/net.c: virtio network device over a host TAP (backend/tap.c) or user-mode networking. */
#include "virtio/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/util.h"

#define NET_STATE_VERSION 1
#define NET_RX 0
#define NET_TX 1

/* Config space layout (virtio 1.2, 5.1.4): mac, then status. */
#define CFG_MAC 0
#define CFG_STATUS 6
#define CFG_LEN 8
#define NET_S_LINK_UP 1

/* A frame read from the back-end waits here, header first, until the guest gives a buffer. */
#define NET_RX_BUF (VIRTIO_NET_HDR_LEN + VIRTIO_NET_FRAME_MAX)
/* offloads_set's value before the first negotiation: never a real TAP_OFFLOAD_* set. */
#define NET_OFFLOADS_UNSET (~0u)

struct net {
	struct virtio_dev vdev;
	int tap_fd;	       /* the TAP, or the user-mode network's socket */
	char backend[48];      /* "tap NAME" or "user network", for messages */
	struct usernet *user;  /* NULL: a TAP */
	unsigned tap_offloads; /* what the TAP accepted at open */
	/* Under the rx queue's lock. */
	unsigned offloads_set; /* what TUNSETOFFLOAD was last given */
	size_t rx_len;	       /* bytes waiting in rx_buf; 0: none */
	struct virtq_chain rx_chain;
	uint8_t rx_buf[NET_RX_BUF];
	/* Under the tx queue's lock. */
	struct virtq_chain tx_chain;
	struct iovec tx_iov[VIRTQ_CHAIN_MAX + 1];
	/* Counters (docs/metrics.md), I/O thread only. */
	struct {
		_Atomic uint64_t rx_frames, rx_bytes, rx_dropped, rx_bad_buffers;
		_Atomic uint64_t tx_frames, tx_bytes, tx_dropped, tx_malformed;
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

/* ---- transmit: guest -> TAP -------------------------------------------- */

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
			} else {
				tx_send(n, &n->tx_chain, &h);
			}
			virtio_queue_push(&n->vdev, vq, n->tx_chain.head, 0);
		}
	} while (!vq->broken && !vq->throttled && virtq_enable_notify(vq));
}

/* ---- receive: TAP -> guest --------------------------------------------- */

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

/* Reads the next frame into rx_buf; false when the TAP has none now. */
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
		if (r <= VIRTIO_NET_HDR_LEN) {
			counter_add_owned(&n->stats.rx_dropped, 1);
			continue;
		}
		n->rx_len = (size_t)r;
		return true;
	}
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
		n->rx_len = 0;
	} else {
		/* num_buffers: the frame takes exactly this one buffer. */
		n->rx_buf[10] = 1;
		n->rx_buf[11] = 0;
		len = (uint32_t)iov_from_buf(c->iov, c->nr_writable, 0, n->rx_buf, n->rx_len);
		virtio_dma_written(&n->vdev, c->iov, c->nr_writable, len);
		counter_add_owned(&n->stats.rx_frames, 1);
		counter_add_owned(&n->stats.rx_bytes, n->rx_len - VIRTIO_NET_HDR_LEN);
		n->rx_len = 0;
	}
	virtio_queue_push(&n->vdev, vq, c->head, len);
}

/* Moves frames from the TAP while the guest has buffers; rx queue's lock held. */
static void rx_process(struct net *n, struct virtq *vq)
{
	offloads_apply(n);
	for (;;) {
		if (!n->rx_len && !rx_read(n))
			return; /* the next frame raises a new edge */
		if (!virtq_has_avail(vq)) {
			/* The frame waits; the driver's next rx notification resumes us. */
			if (!virtq_enable_notify(vq))
				return;
			continue;
		}
		if (virtio_queue_pop(&n->vdev, vq, &n->rx_chain) <= 0)
			return;
		rx_deliver(n, vq, &n->rx_chain);
	}
}

/* I/O thread: the TAP has frames. */
static void tap_readable(void *opaque)
{
	struct net *n = opaque;
	struct virtq *vq = &n->vdev.queues[NET_RX];

	pthread_mutex_lock(&vq->lock);
	if (virtio_queue_active(&n->vdev, vq))
		rx_process(n, vq);
	pthread_mutex_unlock(&vq->lock);
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

	return iothread_add_fd(vdev->io, n->tap_fd, tap_readable, n, err);
}

static void net_reset(struct virtio_dev *vdev)
{
	struct net *n = to_net(vdev);
	struct virtq *vq = &vdev->queues[NET_RX];

	pthread_mutex_lock(&vq->lock);
	n->rx_len = 0;
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
	state_section_end(w);
	return w->error;
}

static int net_load(struct virtio_dev *vdev, struct state_reader *r, struct err *err)
{
	struct net *n = to_net(vdev);
	uint8_t mac[6];
	uint32_t version;
	uint16_t status;
	int rc;

	rc = state_section_open(r, "virtio-net", NET_STATE_VERSION, &version, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	state_get_bytes(r, mac, sizeof(mac));
	status = state_get_u16(r);
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	if (status & ~NET_S_LINK_UP)
		return err_set(err, -EINVAL, "%s: unknown link status bits %#x", vdev->name, status);
	memcpy(vdev->config + CFG_MAC, mac, sizeof(mac));
	vdev->config[CFG_STATUS] = (uint8_t)status;
	/* The restored features decide the TAP's offloads on the next receive. */
	n->offloads_set = NET_OFFLOADS_UNSET;
	n->rx_len = 0;
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
				      cfg->nr_hostfwd, NULL, &n->tap_fd, err);
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
	n->vdev.config_len = CFG_LEN;
	return &n->vdev.dev;
}
