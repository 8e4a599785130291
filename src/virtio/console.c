/* virtio/console.c: virtio console (hvc0), one port, host stdin in and an fd out. */
#include "virtio/virtio.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/util.h"

#define CONSOLE_STATE_VERSION 1
#define CONSOLE_RX 0
#define CONSOLE_TX 1
/* Host input held for the guest; main.c keeps the rest (flow control). */
#define CONSOLE_IN_MAX 4096u
/* As for the UART: a stalled output waits this long once, then drops. */
#define CONSOLE_TX_WAIT_MS 50
#define CONSOLE_TX_EINTR_RETRIES 8
#define CFG_MAX_NR_PORTS 4
#define CFG_LEN 12

struct vcon {
	struct virtio_dev vdev;
	int out_fd;
	int input_fd; /* eventfd: host input arrived */
	pthread_mutex_t in_lock;
	uint8_t in[CONSOLE_IN_MAX];
	size_t in_head, in_len;
	struct virtq_chain chain; /* I/O thread only */
	bool tx_stalled;
	/* Counters (docs/metrics.md): the I/O thread bumps them, anyone reads. */
	_Atomic uint64_t tx_bytes; /* guest output written to the host */
	_Atomic uint64_t tx_dropped;
	_Atomic uint64_t rx_bytes; /* host input given to the guest */
};

static struct vcon *to_vcon(struct virtio_dev *vdev)
{
	return container_of(vdev, struct vcon, vdev);
}

/* Moves up to the chain's writable length of pending input into it. */
static uint32_t rx_copy(struct vcon *c, const struct virtq_chain *ch)
{
	size_t done = 0;

	pthread_mutex_lock(&c->in_lock);
	while (c->in_len && done < ch->writable_len) {
		size_t run = CONSOLE_IN_MAX - c->in_head, n;

		if (run > c->in_len)
			run = c->in_len;
		if (run > ch->writable_len - done)
			run = ch->writable_len - done;
		n = iov_from_buf(ch->iov + ch->nr_readable, ch->nr_writable, done,
				 c->in + c->in_head, run);
		c->in_head = (c->in_head + n) % CONSOLE_IN_MAX;
		c->in_len -= n;
		done += n;
		if (n < run)
			break;
	}
	pthread_mutex_unlock(&c->in_lock);
	virtio_dma_written(&c->vdev, ch->iov + ch->nr_readable, ch->nr_writable, done);
	counter_add_owned(&c->rx_bytes, done);
	return (uint32_t)done;
}

static bool rx_pending(struct vcon *c)
{
	bool pending;

	pthread_mutex_lock(&c->in_lock);
	pending = c->in_len != 0;
	pthread_mutex_unlock(&c->in_lock);
	return pending;
}

/* Only takes a receive buffer when there is input to put in it. */
static void rx_fill(struct vcon *c, struct virtq *vq)
{
	for (;;) {
		while (rx_pending(c) && virtq_has_avail(vq)) {
			if (virtio_queue_pop(&c->vdev, vq, &c->chain) <= 0)
				return;
			if (c->chain.nr_readable) {
				virtio_queue_drop(&c->vdev, vq, "receive buffer is device-readable");
				return;
			}
			virtio_queue_push(&c->vdev, vq, c->chain.head, rx_copy(c, &c->chain));
		}
		/* Input waits for buffers: ask the driver to tell us when it adds one. */
		if (!rx_pending(c) || !virtq_enable_notify(vq))
			return;
	}
}

/* Writes one buffer without stalling the I/O thread for long. */
static void tx_write(struct vcon *c, const uint8_t *p, size_t len)
{
	struct pollfd pfd = { .fd = c->out_fd, .events = POLLOUT };
	unsigned tries = 0;

	while (len && c->out_fd >= 0 && tries < CONSOLE_TX_EINTR_RETRIES) {
		int rc = poll(&pfd, 1, c->tx_stalled ? 0 : CONSOLE_TX_WAIT_MS);
		ssize_t n;

		if (rc < 0 && errno == EINTR) {
			tries++;
			continue;
		}
		if (rc <= 0 || (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)))
			break;
		n = write(c->out_fd, p, len);
		if (n < 0) {
			if (errno != EINTR && errno != EAGAIN)
				break;
			tries++;
			continue;
		}
		c->tx_stalled = false;
		counter_add_owned(&c->tx_bytes, (uint64_t)n);
		p += n;
		len -= (size_t)n;
	}
	if (!len)
		return;
	if (!c->tx_stalled)
		log_ratelimited(LOG_WARN, "%s: console output stalled or failed; dropping bytes",
				c->vdev.name);
	c->tx_stalled = true;
	counter_add_owned(&c->tx_dropped, len);
}

static void tx_drain(struct vcon *c, struct virtq *vq)
{
	do {
		while (virtio_queue_pop(&c->vdev, vq, &c->chain) > 0) {
			if (c->chain.nr_writable) {
				virtio_queue_drop(&c->vdev, vq, "transmit buffer is device-writable");
				return;
			}
			for (unsigned i = 0; i < c->chain.nr_readable; i++)
				tx_write(c, c->chain.iov[i].iov_base, c->chain.iov[i].iov_len);
			virtio_queue_push(&c->vdev, vq, c->chain.head, 0);
		}
	} while (!vq->broken && !vq->throttled && virtq_enable_notify(vq));
}

static void con_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	if (vq->index == CONSOLE_RX)
		rx_fill(to_vcon(vdev), vq);
	else
		tx_drain(to_vcon(vdev), vq);
}

/* I/O thread: host input arrived. */
static void input_ready(void *opaque)
{
	struct vcon *c = opaque;
	struct virtq *vq = &c->vdev.queues[CONSOLE_RX];

	pthread_mutex_lock(&vq->lock);
	if (virtio_queue_active(&c->vdev, vq))
		rx_fill(c, vq);
	pthread_mutex_unlock(&vq->lock);
}

size_t virtio_console_receive(struct device *dev, const uint8_t *buf, size_t len)
{
	struct vcon *c = to_vcon(virtio_dev_of(dev));
	uint64_t one = 1;
	size_t n = 0;

	pthread_mutex_lock(&c->in_lock);
	while (n < len && c->in_len < CONSOLE_IN_MAX) {
		c->in[(c->in_head + c->in_len) % CONSOLE_IN_MAX] = buf[n++];
		c->in_len++;
	}
	pthread_mutex_unlock(&c->in_lock);
	if (n && write(c->input_fd, &one, sizeof(one)) < 0)
		log_ratelimited(LOG_WARN, "%s: input eventfd: %s", c->vdev.name, strerror(errno));
	return n;
}

static int con_realize(struct virtio_dev *vdev, struct err *err)
{
	struct vcon *c = to_vcon(vdev);

	return iothread_add(vdev->io, c->input_fd, input_ready, c, err);
}

static int con_save(struct virtio_dev *vdev, struct state_writer *w)
{
	struct vcon *c = to_vcon(vdev);

	pthread_mutex_lock(&c->in_lock);
	state_section_begin(w, "virtio-console", CONSOLE_STATE_VERSION);
	state_put_u32(w, (uint32_t)c->in_len);
	for (size_t i = 0; i < c->in_len; i++)
		state_put_u8(w, c->in[(c->in_head + i) % CONSOLE_IN_MAX]);
	state_section_end(w);
	pthread_mutex_unlock(&c->in_lock);
	return w->error;
}

static int con_load(struct virtio_dev *vdev, struct state_reader *r, struct err *err)
{
	struct vcon *c = to_vcon(vdev);
	uint8_t in[CONSOLE_IN_MAX];
	uint32_t version, len;
	int rc;

	rc = state_section_open(r, "virtio-console", CONSOLE_STATE_VERSION, &version, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	len = state_get_u32(r);
	if (len > CONSOLE_IN_MAX)
		return err_set(err, -EINVAL, "%s: state holds %u input bytes, at most %u fit",
			       vdev->name, len, CONSOLE_IN_MAX);
	state_get_bytes(r, in, len);
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	pthread_mutex_lock(&c->in_lock);
	memcpy(c->in, in, len);
	c->in_head = 0;
	c->in_len = len;
	pthread_mutex_unlock(&c->in_lock);
	return 0;
}

static void con_destroy(struct virtio_dev *vdev)
{
	struct vcon *c = to_vcon(vdev);

	if (counter_get(&c->tx_dropped))
		log_info("%s: dropped %llu console bytes", vdev->name,
			 (unsigned long long)counter_get(&c->tx_dropped));
	if (c->input_fd >= 0)
		close(c->input_fd);
	pthread_mutex_destroy(&c->in_lock);
}

static unsigned con_metrics(struct virtio_dev *vdev, struct metric *out, unsigned max)
{
	struct vcon *c = to_vcon(vdev);
	unsigned n = 0;

	metric_put(out, &n, max, "tx_bytes", counter_get(&c->tx_bytes));
	metric_put(out, &n, max, "tx_dropped_bytes", counter_get(&c->tx_dropped));
	metric_put(out, &n, max, "rx_bytes", counter_get(&c->rx_bytes));
	return n;
}

static const struct virtio_dev_ops con_ops = {
	.device_id = VIRTIO_ID_CONSOLE,
	.nr_queues = 2,
	.realize = con_realize,
	.queue_notify = con_notify,
	.save = con_save,
	.load = con_load,
	.destroy = con_destroy,
	.metrics = con_metrics,
};

struct device *virtio_console_create(struct vm *vm, struct iothread *io, unsigned slot,
				     int out_fd, struct err *err)
{
	struct vcon *c = calloc(1, sizeof(*c));

	if (!c) {
		err_set(err, -ENOMEM, "virtio-console: out of memory");
		return NULL;
	}
	c->out_fd = out_fd;
	pthread_mutex_init(&c->in_lock, NULL);
	c->input_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (virtio_dev_init(&c->vdev, vm, io, &con_ops, slot, "virtio-console", 0, err) < 0)
		return NULL;
	if (c->input_fd < 0) {
		err_set(err, -errno, "virtio-console: eventfd: %s", strerror(errno));
		return NULL;
	}
	/* No MULTIPORT: one port, hvc0; max_nr_ports is only read with it. */
	c->vdev.config[CFG_MAX_NR_PORTS] = 1;
	c->vdev.config_len = CFG_LEN;
	return &c->vdev.dev;
}
