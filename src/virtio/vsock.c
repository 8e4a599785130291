/*
 * virtio/vsock.c: virtio socket device: its queues, the packets, and what is
 * owed to the guest; the host side, Firecracker's, is in vsock_host.c.
 */
#include "virtio/vsock_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/util.h"

#define VSOCK_STATE_VERSION 1
#define VSOCK_RX 0
#define VSOCK_TX 1
#define VSOCK_EVT 2
#define VSOCK_CFG_LEN 8 /* le64 guest_cid */

static struct vsock *to_vsock(struct virtio_dev *vdev)
{
	return container_of(vdev, struct vsock, vdev);
}

/* ---- packet headers ---------------------------------------------------- */

void virtio_vsock_hdr_decode(const uint8_t *p, struct virtio_vsock_hdr *h)
{
	h->src_cid = le64(p);
	h->dst_cid = le64(p + 8);
	h->src_port = le32(p + 16);
	h->dst_port = le32(p + 20);
	h->len = le32(p + 24);
	h->type = le16(p + 28);
	h->op = le16(p + 30);
	h->flags = le32(p + 32);
	h->buf_alloc = le32(p + 36);
	h->fwd_cnt = le32(p + 40);
}

void virtio_vsock_hdr_encode(const struct virtio_vsock_hdr *h, uint8_t *p)
{
	put_le64(p, h->src_cid);
	put_le64(p + 8, h->dst_cid);
	put_le32(p + 16, h->src_port);
	put_le32(p + 20, h->dst_port);
	put_le32(p + 24, h->len);
	put_le16(p + 28, h->type);
	put_le16(p + 30, h->op);
	put_le32(p + 32, h->flags);
	put_le32(p + 36, h->buf_alloc);
	put_le32(p + 40, h->fwd_cnt);
}

int virtio_vsock_tx_parse(const struct virtq_chain *c, uint64_t guest_cid,
			  struct virtio_vsock_hdr *h)
{
	uint8_t raw[VIRTIO_VSOCK_HDR_LEN];

	if (c->nr_writable)
		return -EBADMSG; /* a transmit buffer the device would write */
	if (c->readable_len < VIRTIO_VSOCK_HDR_LEN)
		return -EBADMSG;
	if (iov_to_buf(c->iov, c->nr_readable, 0, raw, sizeof(raw)) != sizeof(raw))
		return -EBADMSG;
	virtio_vsock_hdr_decode(raw, h);
	/* The payload length comes from the guest: it must lie inside the chain. */
	if (h->len > VIRTIO_VSOCK_PKT_MAX || h->len > c->readable_len - VIRTIO_VSOCK_HDR_LEN)
		return -EBADMSG;
	if (h->op != VIRTIO_VSOCK_OP_RW && h->len)
		return -EBADMSG;
	if (h->src_cid != guest_cid || h->dst_cid != VIRTIO_VSOCK_HOST_CID)
		return -EBADMSG; /* spoofed source or another destination */
	if (h->op == VIRTIO_VSOCK_OP_INVALID || h->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		return -EBADMSG;
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM)
		return -EPROTONOSUPPORT; /* answered with RST */
	return 0;
}

uint32_t virtio_vsock_credit(uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt, uint32_t tx_cnt)
{
	/* Wrapping 32-bit counters (virtio 1.2, 5.10.6.3); a lying peer gets 0. */
	uint32_t in_flight = tx_cnt - peer_fwd_cnt;

	return in_flight > peer_buf_alloc ? 0 : peer_buf_alloc - in_flight;
}

/* ---- guest -> host ----------------------------------------------------- */

void vsock_kick_rx(struct vsock *v)
{
	uint64_t one = 1;

	if (write(v->kick_fd, &one, sizeof(one)) < 0)
		log_ratelimited(LOG_WARN, "%s: kick eventfd: %s", v->vdev.name, strerror(errno));
}

void vsock_conn_reset(struct vsock *v, struct conn *c, bool tell_guest)
{
	if (tell_guest && c->state != CONN_CMD && v->nr_orphans < VSOCK_ORPHAN_MAX) {
		v->orphans[v->nr_orphans++] = (struct virtio_vsock_hdr){
			.src_cid = VIRTIO_VSOCK_HOST_CID, .dst_cid = v->guest_cid,
			.src_port = c->local_port, .dst_port = c->peer_port,
			.type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RST,
		};
		vsock_kick_rx(v);
	}
	counter_add_owned(&v->resets, 1);
	vsock_conn_free(v, c);
}

static void orphan_rst(struct vsock *v, const struct virtio_vsock_hdr *h)
{
	if (h->op == VIRTIO_VSOCK_OP_RST || v->nr_orphans >= VSOCK_ORPHAN_MAX)
		return; /* never answer a reset with a reset */
	v->orphans[v->nr_orphans++] = (struct virtio_vsock_hdr){
		.src_cid = VIRTIO_VSOCK_HOST_CID, .dst_cid = v->guest_cid,
		.src_port = h->dst_port, .dst_port = h->src_port,
		.type = h->type, .op = VIRTIO_VSOCK_OP_RST,
	};
}

/* The guest connects to host port P: kite connects to the listener PATH_P. */
static void guest_connect(struct vsock *v, const struct virtio_vsock_hdr *h)
{
	struct conn *c = vsock_conn_connect(v, h->dst_port);

	if (!c) {
		orphan_rst(v, h);
		return;
	}
	c->peer_port = h->src_port;
	c->owe = OWE_RESPONSE;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	vsock_conn_update(v, c);
}

static void guest_rw(struct vsock *v, struct conn *c, const struct virtq_chain *ch,
		     const struct virtio_vsock_hdr *h)
{
	if (c->guest_shut_send ||
	    !vsock_conn_queue(c, ch->iov, ch->nr_readable, VIRTIO_VSOCK_HDR_LEN, h->len)) {
		/* More than the credit we gave, or data after SHUTDOWN: a broken peer. */
		counter_add_owned(&v->malformed, 1);
		vsock_conn_reset(v, c, true);
		return;
	}
	counter_add_owned(&v->tx_bytes, h->len);
	if (vsock_conn_flush(v, c) < 0)
		vsock_conn_reset(v, c, true);
}

static void guest_packet(struct vsock *v, const struct virtq_chain *ch,
			 const struct virtio_vsock_hdr *h)
{
	struct conn *c = vsock_conn_find(v, h->dst_port, h->src_port);

	if (!c) {
		if (h->op == VIRTIO_VSOCK_OP_REQUEST)
			guest_connect(v, h);
		else
			orphan_rst(v, h);
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != CONN_REQUESTED) {
			vsock_conn_reset(v, c, true);
			return;
		}
		c->state = CONN_ESTABLISHED;
		c->buf_len = (uint32_t)snprintf((char *)c->buf, VSOCK_CMD_MAX, "OK %" PRIu32 "\n",
						c->local_port);
		c->buf_head = 0;
		c->uncounted = c->buf_len;
		break;
	case VIRTIO_VSOCK_OP_RST:
		vsock_conn_reset(v, c, false);
		return;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (h->flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
			c->guest_shut_send = true;
		if ((h->flags & VIRTIO_VSOCK_SHUTDOWN_BOTH) == VIRTIO_VSOCK_SHUTDOWN_BOTH) {
			/* A full close: the guest waits for our RST to finish it. */
			(void)vsock_conn_flush(v, c);
			vsock_conn_reset(v, c, true);
			return;
		}
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state != CONN_ESTABLISHED) {
			vsock_conn_reset(v, c, true);
			return;
		}
		guest_rw(v, c, ch, h);
		return;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->owe |= OWE_CREDIT;
		break;
	case VIRTIO_VSOCK_OP_REQUEST: /* a second REQUEST on a live connection */
		vsock_conn_reset(v, c, true);
		return;
	default: /* CREDIT_UPDATE: the fields above were the news */
		break;
	}
	if (vsock_conn_flush(v, c) < 0) {
		vsock_conn_reset(v, c, true);
		return;
	}
	vsock_conn_update(v, c);
}

static void tx_drain(struct vsock *v, struct virtq *vq)
{
	struct virtio_vsock_hdr h;

	do {
		while (virtio_queue_pop(&v->vdev, vq, &v->tx_chain) > 0) {
			int rc = virtio_vsock_tx_parse(&v->tx_chain, v->guest_cid, &h);

			pthread_mutex_lock(&v->lock);
			if (rc == -EPROTONOSUPPORT) {
				orphan_rst(v, &h);
			} else if (rc < 0) {
				counter_add_owned(&v->malformed, 1);
				log_ratelimited(LOG_WARN, "%s: malformed packet dropped",
						v->vdev.name);
			} else {
				guest_packet(v, &v->tx_chain, &h);
			}
			if (v->nr_orphans)
				vsock_kick_rx(v);
			pthread_mutex_unlock(&v->lock);
			virtio_queue_push(&v->vdev, vq, v->tx_chain.head, 0);
		}
	} while (!vq->broken && !vq->throttled && virtq_enable_notify(vq));
	/* Control packets may be owed (RESPONSE, credit): the rx side sends them. */
	vsock_kick_rx(v);
}

/* ---- host -> guest ----------------------------------------------------- */

static void hdr_for(struct vsock *v, const struct conn *c, uint16_t op,
		    struct virtio_vsock_hdr *h)
{
	*h = (struct virtio_vsock_hdr){
		.src_cid = VIRTIO_VSOCK_HOST_CID, .dst_cid = v->guest_cid,
		.src_port = c->local_port, .dst_port = c->peer_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = VSOCK_CONN_BUF, .fwd_cnt = c->fwd_cnt,
	};
}

/*
 * Takes the next receive buffer into v->rx_chain; false when there is none.
 * A buffer is taken only once the packet for it is certain, and given back
 * before the caller returns: a reset or a pause waits for every taken buffer.
 */
static bool rx_take(struct vsock *v, struct virtq *vq)
{
	struct virtq_chain *ch = &v->rx_chain;
	int rc = virtio_queue_pop(&v->vdev, vq, ch);

	/*
	 * With EVENT_IDX the driver notifies only once its index passes the
	 * avail_event we publish: publish it before waiting for its next buffer.
	 */
	if (rc == 0 && !vq->throttled && virtq_enable_notify(vq))
		rc = virtio_queue_pop(&v->vdev, vq, ch);
	if (rc <= 0) {
		v->rx_stalled = true;
		return false;
	}
	if (ch->nr_readable || ch->writable_len < VIRTIO_VSOCK_HDR_LEN) {
		virtio_queue_drop(&v->vdev, vq, "receive buffer is readable or too short");
		return false;
	}
	return true;
}

/* Completes the taken buffer: header h, then the len payload bytes already in it. */
static void rx_put(struct vsock *v, struct virtq *vq, const struct virtio_vsock_hdr *h,
		   uint32_t len)
{
	struct virtq_chain *ch = &v->rx_chain;
	const struct iovec *w = ch->iov + ch->nr_readable;
	uint8_t raw[VIRTIO_VSOCK_HDR_LEN];

	virtio_vsock_hdr_encode(h, raw);
	iov_from_buf(w, ch->nr_writable, 0, raw, sizeof(raw));
	virtio_dma_written(&v->vdev, w, ch->nr_writable, VIRTIO_VSOCK_HDR_LEN + len);
	virtio_queue_push(&v->vdev, vq, ch->head, VIRTIO_VSOCK_HDR_LEN + len);
}

/* The next control packet one connection owes, if any; its bit is cleared. */
static bool conn_control(struct vsock *v, struct conn *c, struct virtio_vsock_hdr *h)
{
	static const struct { unsigned bit; uint16_t op; } order[] = {
		{ OWE_REQUEST, VIRTIO_VSOCK_OP_REQUEST }, { OWE_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE },
		{ OWE_CREDIT, VIRTIO_VSOCK_OP_CREDIT_UPDATE }, { OWE_SHUTDOWN, VIRTIO_VSOCK_OP_SHUTDOWN },
	};

	/* A reset ends the connection: whatever else was owed no longer matters. */
	if (c->owe & OWE_RST) {
		c->owe = 0;
		hdr_for(v, c, VIRTIO_VSOCK_OP_RST, h);
		return true;
	}
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(c->owe & order[i].bit))
			continue;
		c->owe &= ~order[i].bit;
		hdr_for(v, c, order[i].op, h);
		if (order[i].bit == OWE_SHUTDOWN)
			h->flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
		c->fwd_cnt_sent = c->fwd_cnt;
		return true;
	}
	return false;
}

/* Sends the control packets c owes while there are receive buffers; a reset frees c. */
static void conn_send_owed(struct vsock *v, struct virtq *vq, struct conn *c)
{
	struct virtio_vsock_hdr h;

	while (c->used) {
		/* Both directions finished: close with a reset, as the spec asks. */
		if (c->host_eof && c->guest_shut_send && !c->owe && !c->buf_len)
			c->owe = OWE_RST;
		if (!c->owe || !rx_take(v, vq))
			return;
		conn_control(v, c, &h);
		rx_put(v, vq, &h, 0);
		if (h.op == VIRTIO_VSOCK_OP_RST) {
			counter_add_owned(&v->resets, 1);
			vsock_conn_free(v, c);
		}
	}
}

/* What a host socket holds for the guest, looked at without taking it. */
enum peek { PEEK_NOTHING, PEEK_DATA, PEEK_EOF, PEEK_ERROR };

static enum peek conn_peek(const struct conn *c)
{
	uint8_t b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n > 0)
		return PEEK_DATA;
	if (n == 0)
		return PEEK_EOF;
	return errno == EAGAIN || errno == EINTR ? PEEK_NOTHING : PEEK_ERROR;
}

/* One packet of the host peer's bytes, straight from its socket into a receive buffer. */
static void conn_send_data(struct vsock *v, struct virtq *vq, struct conn *c)
{
	struct virtq_chain *ch = &v->rx_chain;
	struct iovec sl[VIRTQ_CHAIN_MAX];
	struct virtio_vsock_hdr h;
	uint32_t max, credit;
	enum peek peek;
	unsigned n;
	ssize_t got;

	/* Control packets go first (a RESPONSE before any data). */
	if (!c->used || c->state != CONN_ESTABLISHED || c->host_eof || c->owe)
		return;
	credit = vsock_conn_credit(c);
	if (!credit)
		return;
	peek = conn_peek(c);
	if (peek == PEEK_NOTHING)
		return;
	if (peek != PEEK_DATA) {
		/* The host peer finished sending (or failed): half-close toward the guest. */
		c->host_eof = true;
		c->owe |= peek == PEEK_EOF ? OWE_SHUTDOWN : OWE_RST;
		conn_send_owed(v, vq, c);
		return;
	}
	if (!rx_take(v, vq))
		return;
	max = ch->writable_len - VIRTIO_VSOCK_HDR_LEN;
	if (max > credit)
		max = credit;
	if (max > VIRTIO_VSOCK_PKT_MAX)
		max = VIRTIO_VSOCK_PKT_MAX;
	n = iov_slice(ch->iov + ch->nr_readable, ch->nr_writable, VIRTIO_VSOCK_HDR_LEN, max, sl,
		      VIRTQ_CHAIN_MAX);
	got = max ? readv(c->fd, sl, (int)n) : 0;
	if (got <= 0) {
		/* The peeked bytes are gone (a zero-byte buffer, a socket error): reset. */
		hdr_for(v, c, VIRTIO_VSOCK_OP_RST, &h);
		rx_put(v, vq, &h, 0);
		counter_add_owned(&v->resets, 1);
		vsock_conn_free(v, c);
		return;
	}
	c->tx_cnt += (uint32_t)got;
	counter_add_owned(&v->rx_bytes, (uint64_t)got);
	hdr_for(v, c, VIRTIO_VSOCK_OP_RW, &h);
	h.len = (uint32_t)got;
	c->fwd_cnt_sent = c->fwd_cnt;
	rx_put(v, vq, &h, h.len);
}

/* Sends what is owed: resets first, then control packets, then data. Holds both locks. */
static void rx_process(struct vsock *v, struct virtq *vq, struct conn *ready)
{
	if (!virtio_queue_active(&v->vdev, vq))
		return;
	while (v->nr_orphans && rx_take(v, vq))
		rx_put(v, vq, &v->orphans[--v->nr_orphans], 0);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		conn_send_owed(v, vq, &v->conns[i]);
	if (ready)
		conn_send_data(v, vq, ready);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].used)
			vsock_conn_update(v, &v->conns[i]);
}

void vsock_rx_run(struct vsock *v, struct conn *ready)
{
	struct virtq *vq = &v->vdev.queues[VSOCK_RX];

	pthread_mutex_lock(&vq->lock);
	pthread_mutex_lock(&v->lock);
	rx_process(v, vq, ready);
	pthread_mutex_unlock(&v->lock);
	pthread_mutex_unlock(&vq->lock);
}

/* ---- events and the device ----------------------------------------------- */

/* After a restore the guest's connections are gone: tell it so. */
static void evt_send(struct vsock *v)
{
	struct virtq *vq = &v->vdev.queues[VSOCK_EVT];
	struct virtq_chain *ch = &v->evt_chain;
	uint8_t ev[4] = { VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, 0, 0, 0 };
	int rc;

	pthread_mutex_lock(&vq->lock);
	if (!v->evt_reset || !virtio_queue_active(&v->vdev, vq))
		goto out_unlock;
	rc = virtio_queue_pop(&v->vdev, vq, ch);
	/* No buffer: ask to hear of the next one (EVENT_IDX), then look once more. */
	if (rc == 0 && virtq_enable_notify(vq))
		rc = virtio_queue_pop(&v->vdev, vq, ch);
	if (rc <= 0)
		goto out_unlock;
	if (ch->nr_readable || ch->writable_len < sizeof(ev)) {
		virtio_queue_drop(&v->vdev, vq, "event buffer is readable or too short");
		goto out_unlock;
	}
	iov_from_buf(ch->iov, ch->nr_writable, 0, ev, sizeof(ev));
	virtio_dma_written(&v->vdev, ch->iov, ch->nr_writable, sizeof(ev));
	virtio_queue_push(&v->vdev, vq, ch->head, sizeof(ev));
	v->evt_reset = false;
out_unlock:
	pthread_mutex_unlock(&vq->lock);
}

static void kicked(void *opaque)
{
	struct vsock *v = opaque;
	bool evt;

	pthread_mutex_lock(&v->lock);
	evt = v->evt_reset;
	pthread_mutex_unlock(&v->lock);
	if (evt)
		evt_send(v);
	vsock_rx_run(v, NULL);
}

static void vsock_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct vsock *v = to_vsock(vdev);

	if (vq->index == VSOCK_TX) {
		tx_drain(v, vq);
	} else if (vq->index == VSOCK_RX) {
		/* New receive buffers: hosts may be read again. */
		pthread_mutex_lock(&v->lock);
		v->rx_stalled = false;
		rx_process(v, vq, NULL);
		pthread_mutex_unlock(&v->lock);
	} else {
		vsock_kick_rx(v);
	}
}

static void vsock_reset(struct virtio_dev *vdev)
{
	struct vsock *v = to_vsock(vdev);

	pthread_mutex_lock(&v->lock);
	vsock_conns_close(v);
	v->nr_orphans = 0;
	v->rx_stalled = false;
	pthread_mutex_unlock(&v->lock);
}

static int vsock_realize(struct virtio_dev *vdev, struct err *err)
{
	struct vsock *v = to_vsock(vdev);
	int rc = iothread_add(vdev->io, v->kick_fd, kicked, v, err);

	if (rc < 0)
		return rc;
	return iothread_add_poll(vdev->io, v->epoll_fd, vsock_host_ready, v, err);
}

static int vsock_save(struct virtio_dev *vdev, struct state_writer *w)
{
	struct vsock *v = to_vsock(vdev);

	/* Connections are not saved: the restored guest gets TRANSPORT_RESET. */
	state_section_begin(w, "virtio-vsock", VSOCK_STATE_VERSION);
	state_put_u64(w, v->guest_cid);
	state_section_end(w);
	return w->error;
}

static int vsock_load(struct virtio_dev *vdev, struct state_reader *r, struct err *err)
{
	struct vsock *v = to_vsock(vdev);
	uint32_t version;
	uint64_t cid;
	int rc;

	rc = state_section_open(r, "virtio-vsock", VSOCK_STATE_VERSION, &version, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	cid = state_get_u64(r);
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	if (cid != v->guest_cid)
		return err_set(err, -EINVAL, "%s: state has guest cid %" PRIu64 ", this VM %" PRIu64,
			       vdev->name, cid, v->guest_cid);
	vsock_reset(vdev);
	pthread_mutex_lock(&v->lock);
	v->evt_reset = true;
	pthread_mutex_unlock(&v->lock);
	vsock_kick_rx(v);
	return 0;
}

static void vsock_destroy(struct virtio_dev *vdev)
{
	struct vsock *v = to_vsock(vdev);

	vsock_host_close(v);
	if (v->kick_fd >= 0)
		close(v->kick_fd);
	pthread_mutex_destroy(&v->lock);
}

static unsigned vsock_metrics(struct virtio_dev *vdev, struct metric *out, unsigned max)
{
	struct vsock *v = to_vsock(vdev);
	unsigned n = 0;

	metric_put(out, &n, max, "rx_bytes", counter_get(&v->rx_bytes));
	metric_put(out, &n, max, "tx_bytes", counter_get(&v->tx_bytes));
	metric_put(out, &n, max, "malformed_packets", counter_get(&v->malformed));
	metric_put(out, &n, max, "connections", counter_get(&v->conns_total));
	metric_put(out, &n, max, "resets", counter_get(&v->resets));
	return n;
}

static const struct virtio_dev_ops vsock_ops = {
	.device_id = VIRTIO_ID_VSOCK,
	.nr_queues = 3,
	.realize = vsock_realize,
	.queue_notify = vsock_notify,
	.reset = vsock_reset,
	.save = vsock_save,
	.load = vsock_load,
	.destroy = vsock_destroy,
	.metrics = vsock_metrics,
};

struct device *virtio_vsock_create(struct vm *vm, struct iothread *io, unsigned slot,
				   uint64_t guest_cid, const char *uds_path, struct err *err)
{
	struct vsock *v = calloc(1, sizeof(*v));

	if (!v) {
		err_set(err, -ENOMEM, "virtio-vsock: out of memory");
		return NULL;
	}
	pthread_mutex_init(&v->lock, NULL);
	v->listen_fd = v->epoll_fd = -1;
	v->guest_cid = guest_cid;
	snprintf(v->uds_path, sizeof(v->uds_path), "%s", uds_path);
	v->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (virtio_dev_init(&v->vdev, vm, io, &vsock_ops, slot, "virtio-vsock", 0, err) < 0)
		return NULL;
	if (v->kick_fd < 0) {
		err_set(err, -errno, "virtio-vsock: eventfd: %s", strerror(errno));
		return NULL;
	}
	if (guest_cid < 3 || guest_cid > UINT32_MAX) {
		err_set(err, -EINVAL, "vsock: guest cid %" PRIu64 " is not in 3..%u", guest_cid,
			UINT32_MAX);
		return NULL;
	}
	if (vsock_host_open(v, err) < 0)
		return NULL;
	put_le64(v->vdev.config, guest_cid);
	v->vdev.config_len = VSOCK_CFG_LEN;
	return &v->vdev.dev;
}
