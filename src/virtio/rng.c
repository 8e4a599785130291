/* virtio/rng.c: virtio entropy device, fed by the host's getrandom(). */
#include "virtio/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/log.h"
#include "base/util.h"

#define RNG_STATE_VERSION 1
/* getrandom() calls one request may make before it gives up (short reads, EINTR). */
#define RNG_MAX_CALLS 64

struct rng {
	struct virtio_dev vdev;
	struct virtq_chain chain; /* I/O thread only */
	_Atomic uint64_t bytes_served; /* I/O thread writes, metrics read */
};

/* Fills one buffer; returns the bytes written (0 if the host source failed). */
static size_t fill(void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned calls = 0; done < len && calls < RNG_MAX_CALLS; calls++) {
		ssize_t n = getrandom((uint8_t *)buf + done, len - done, 0);

		if (n < 0 && errno != EINTR) {
			log_ratelimited(LOG_WARN, "virtio-rng: getrandom: %s", strerror(errno));
			break;
		}
		if (n > 0)
			done += (size_t)n;
	}
	return done;
}

static void rng_serve(struct rng *r, struct virtq_chain *c, struct virtq *vq)
{
	size_t total = 0;

	/* The device only writes here; a readable buffer is the wrong direction. */
	if (c->nr_readable) {
		virtio_queue_drop(&r->vdev, vq, "entropy request with a device-readable buffer");
		return;
	}
	for (unsigned i = 0; i < c->nr_writable && total < VIRTIO_RNG_REQUEST_MAX; i++) {
		size_t want = c->iov[i].iov_len, got;

		if (want > VIRTIO_RNG_REQUEST_MAX - total)
			want = VIRTIO_RNG_REQUEST_MAX - total;
		got = fill(c->iov[i].iov_base, want);
		total += got;
		if (got < want)
			break;
	}
	counter_add_owned(&r->bytes_served, total);
	virtio_dma_written(&r->vdev, c->iov, c->nr_writable, total);
	virtio_queue_push(&r->vdev, vq, c->head, (uint32_t)total);
}

static void rng_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct rng *r = container_of(vdev, struct rng, vdev);

	do {
		while (virtio_queue_pop(vdev, vq, &r->chain) > 0)
			rng_serve(r, &r->chain, vq);
	} while (!vq->broken && !vq->throttled && virtq_enable_notify(vq));
}

static int rng_save(struct virtio_dev *vdev, struct state_writer *w)
{
	struct rng *r = container_of(vdev, struct rng, vdev);

	state_section_begin(w, "virtio-rng", RNG_STATE_VERSION);
	state_put_u64(w, counter_get(&r->bytes_served));
	state_section_end(w);
	return w->error;
}

static int rng_load(struct virtio_dev *vdev, struct state_reader *r, struct err *err)
{
	struct rng *rng = container_of(vdev, struct rng, vdev);
	uint32_t version;
	uint64_t served;
	int rc;

	rc = state_section_open(r, "virtio-rng", RNG_STATE_VERSION, &version, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	served = state_get_u64(r);
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	atomic_store(&rng->bytes_served, served);
	return 0;
}

static void rng_destroy(struct virtio_dev *vdev)
{
	struct rng *r = container_of(vdev, struct rng, vdev);

	log_debug("%s: served %llu bytes", vdev->name, (unsigned long long)counter_get(&r->bytes_served));
}

static unsigned rng_metrics(struct virtio_dev *vdev, struct metric *out, unsigned max)
{
	struct rng *r = container_of(vdev, struct rng, vdev);
	unsigned n = 0;

	metric_put(out, &n, max, "bytes", counter_get(&r->bytes_served));
	return n;
}

static const struct virtio_dev_ops rng_ops = {
	.device_id = VIRTIO_ID_RNG,
	.nr_queues = 1,
	.queue_notify = rng_notify,
	.save = rng_save,
	.load = rng_load,
	.destroy = rng_destroy,
	.metrics = rng_metrics,
};

struct device *virtio_rng_create(struct vm *vm, struct iothread *io, unsigned slot,
				 struct err *err)
{
	struct rng *r = calloc(1, sizeof(*r));

	if (!r) {
		err_set(err, -ENOMEM, "virtio-rng: out of memory");
		return NULL;
	}
	if (virtio_dev_init(&r->vdev, vm, io, &rng_ops, slot, "virtio-rng", 0, err) < 0)
		return NULL;
	return &r->vdev.dev;
}
