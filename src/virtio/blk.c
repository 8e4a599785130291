/* virtio/blk.c: virtio block device over a raw image (backend/blkfile.c). */
#include "virtio/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/ratelimit.h"
#include "base/util.h"
#include "vm/vm.h"

#define BLK_STATE_VERSION 1
/* Two descriptors of every chain are the header and the status byte. */
#define BLK_SEG_MAX (VIRTQ_CHAIN_MAX - 2)
/* Discard granularity in sectors: a typical host file-system block. */
#define BLK_DISCARD_ALIGN 8u

/* Config space layout (virtio 1.2, 5.2.4). */
#define CFG_CAPACITY 0
#define CFG_SEG_MAX 12
#define CFG_BLK_SIZE 20
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG 40
#define CFG_DISCARD_ALIGN 44
#define CFG_MAX_WZ_SECTORS 48
#define CFG_MAX_WZ_SEG 52
#define CFG_WZ_MAY_UNMAP 56
#define CFG_LEN 60

struct blk {
	struct virtio_dev vdev;
	struct blkfile *file;
	uint64_t capacity; /* sectors; a partial last sector counts */
	bool read_only;
	char id[VIRTIO_BLK_ID_BYTES];
	struct virtq_chain chain; /* under the queue's lock */
	struct ratelimit limit;	  /* under the queue's lock */
	struct iothread_timer timer; /* the limiter's bucket has refilled */
	/* Counters (docs/metrics.md): completed requests, from the I/O thread and workers. */
	struct {
		_Atomic uint64_t reads, read_bytes;
		_Atomic uint64_t writes, write_bytes;
		_Atomic uint64_t flushes;
		_Atomic uint64_t discards; /* DISCARD and WRITE_ZEROES */
		_Atomic uint64_t errors;   /* VIRTIO_BLK_S_IOERR: back-end failure or a bad range */
		_Atomic uint64_t unsupported; /* VIRTIO_BLK_S_UNSUPP */
		_Atomic uint64_t throttled;   /* times the rate limiter held the queue back */
	} stats;
};

/* One request between the I/O thread and a back-end worker. */
struct blk_job {
	struct blkfile_req io;
	struct blk *blk;
	struct virtq *vq;
	uint16_t head;
	uint32_t written;
	struct virtio_blk_req req;
	struct blkfile_range ranges[VIRTIO_BLK_DWZ_SEG_MAX];
};

static void job_count(struct blk *b, const struct virtio_blk_req *req, uint8_t status)
{
	if (status == VIRTIO_BLK_S_IOERR) {
		counter_add(&b->stats.errors, 1);
		return;
	}
	if (status != VIRTIO_BLK_S_OK) {
		counter_add(&b->stats.unsupported, 1);
		return;
	}
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		counter_add(&b->stats.reads, 1);
		counter_add(&b->stats.read_bytes, req->len);
		break;
	case VIRTIO_BLK_T_OUT:
		counter_add(&b->stats.writes, 1);
		counter_add(&b->stats.write_bytes, req->len);
		break;
	case VIRTIO_BLK_T_FLUSH:
		counter_add(&b->stats.flushes, 1);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		counter_add(&b->stats.discards, 1);
		break;
	default:
		break;
	}
}

/* Stores the status byte and reports it and the data the device wrote. */
static void job_set_status(struct blk_job *job, uint8_t status)
{
	job_count(job->blk, &job->req, status);
	__atomic_store_n(job->req.status_byte, status, __ATOMIC_RELAXED);
	virtio_dma_written(&job->blk->vdev, job->req.iov, job->req.nr_iov, job->written);
	vm_memory_written(job->blk->vdev.dev.vm, job->req.status_byte, 1);
}

/* Completes job under the queue's lock (the caller holds it). */
static void job_finish_locked(struct blk_job *job, uint8_t status)
{
	job_set_status(job, status);
	virtio_queue_push(&job->blk->vdev, job->vq, job->head, job->written + 1);
	free(job);
}

static void job_finish(struct blk_job *job, uint8_t status)
{
	job_set_status(job, status);
	virtio_queue_complete(&job->blk->vdev, job->vq, job->head, job->written + 1);
	free(job);
}

/* Runs on a back-end worker. */
static void job_done(struct blkfile_req *io, int result)
{
	struct blk_job *job = container_of(io, struct blk_job, io);

	if (result < 0)
		log_ratelimited(LOG_WARN, "%s: request type %u failed: %s", job->blk->vdev.name,
				job->req.type, strerror(-result));
	if (result == 0 && job->req.type == VIRTIO_BLK_T_IN)
		job->written = (uint32_t)job->req.len;
	job_finish(job, result == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
}

static void job_submit(struct blk *b, struct blk_job *job)
{
	static const enum blkfile_op ops[] = {
		[VIRTIO_BLK_T_IN] = BLKFILE_READ,
		[VIRTIO_BLK_T_OUT] = BLKFILE_WRITE,
		[VIRTIO_BLK_T_FLUSH] = BLKFILE_FLUSH,
		[VIRTIO_BLK_T_DISCARD] = BLKFILE_DISCARD,
		[VIRTIO_BLK_T_WRITE_ZEROES] = BLKFILE_WRITE_ZEROES,
	};

	for (unsigned i = 0; i < job->req.nr_ranges; i++)
		job->ranges[i] = (struct blkfile_range){ .offset = job->req.ranges[i].offset,
							 .len = job->req.ranges[i].len };
	job->io = (struct blkfile_req){
		.op = ops[job->req.type],
		.offset = job->req.offset,
		.iov = job->req.iov,
		.nr_iov = job->req.nr_iov,
		.ranges = job->ranges,
		.nr_ranges = job->req.nr_ranges,
		.done = job_done,
	};
	blkfile_submit(b->file, &job->io);
}

/*
 * Charges the limiter for a request that goes to the image: one op, and its
 * data bytes. False (the timer armed) when the bucket must refill first.
 */
static bool blk_pay(struct blk *b, const struct virtio_blk_req *req)
{
	uint64_t bytes = req->type == VIRTIO_BLK_T_IN || req->type == VIRTIO_BLK_T_OUT ? req->len : 0;

	return virtio_limit_pay(&b->limit, &b->timer, &b->stats.throttled, bytes);
}

/* Starts the request in c; false when the rate limiter holds it back (c is not taken). */
static bool blk_handle(struct blk *b, struct virtq *vq, const struct virtq_chain *c)
{
	struct blk_job *job = malloc(sizeof(*job));

	if (!job) {
		log_ratelimited(LOG_ERROR, "%s: out of memory for a request", b->vdev.name);
		virtio_queue_push(&b->vdev, vq, c->head, 0);
		return true;
	}
	*job = (struct blk_job){ .blk = b, .vq = vq, .head = c->head };
	switch (virtio_blk_parse(c, b->capacity, b->read_only, &job->req)) {
	case BLK_REQ_MALFORMED:
		free(job);
		virtio_queue_drop(&b->vdev, vq, "malformed block request");
		return true;
	case BLK_REQ_DONE:
		if (job->req.type == VIRTIO_BLK_T_GET_ID && job->req.status == VIRTIO_BLK_S_OK)
			job->written = (uint32_t)iov_from_buf(job->req.iov, job->req.nr_iov, 0,
							      b->id, job->req.len);
		job_finish_locked(job, job->req.status);
		return true;
	case BLK_REQ_IO:
		if (!blk_pay(b, &job->req)) {
			free(job);
			return false;
		}
		/* Already in the host's page cache: done now, without a worker's wake-up. */
		if (job->req.type == VIRTIO_BLK_T_IN &&
		    blkfile_read_cached(b->file, job->req.iov, job->req.nr_iov, job->req.offset) == 0) {
			job->written = (uint32_t)job->req.len;
			job_finish_locked(job, VIRTIO_BLK_S_OK);
			return true;
		}
		job_submit(b, job);
		return true;
	}
	return true;
}

static void blk_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct blk *b = container_of(vdev, struct blk, vdev);

	do {
		while (virtio_queue_pop(vdev, vq, &b->chain) > 0) {
			if (!blk_handle(b, vq, &b->chain)) {
				/* The request stays the driver's; the limiter's timer resumes us. */
				virtio_queue_unpop(vdev, vq, 1);
				return;
			}
		}
	} while (!vq->broken && !vq->throttled && virtq_enable_notify(vq));
}

static int blk_realize(struct virtio_dev *vdev, struct err *err)
{
	struct blk *b = container_of(vdev, struct blk, vdev);

	/* The bucket's refill resumes the queue. */
	return iothread_timer_init(vdev->io, &b->timer, virtio_queue_run, &vdev->queues[0], err);
}

static int blk_save(struct virtio_dev *vdev, struct state_writer *w)
{
	struct blk *b = container_of(vdev, struct blk, vdev);

	state_section_begin(w, "virtio-blk", BLK_STATE_VERSION);
	state_put_u64(w, b->capacity);
	state_put_u8(w, b->read_only);
	state_put_bytes(w, b->id, sizeof(b->id));
	state_section_end(w);
	return w->error;
}

/* The image is named on the command line again; the state only checks it matches. */
static int blk_load(struct virtio_dev *vdev, struct state_reader *r, struct err *err)
{
	struct blk *b = container_of(vdev, struct blk, vdev);
	char id[VIRTIO_BLK_ID_BYTES];
	uint64_t capacity;
	uint32_t version;
	uint8_t ro;
	int rc;

	rc = state_section_open(r, "virtio-blk", BLK_STATE_VERSION, &version, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	capacity = state_get_u64(r);
	ro = state_get_u8(r);
	state_get_bytes(r, id, sizeof(id));
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "%s", vdev->name);
	if (capacity != b->capacity || ro != b->read_only)
		return err_set(err, -EINVAL,
			       "%s: state is for a %s disk of %llu sectors, this one is %s with %llu",
			       vdev->name, ro ? "read-only" : "writable",
			       (unsigned long long)capacity, b->read_only ? "read-only" : "writable",
			       (unsigned long long)b->capacity);
	return 0;
}

static void blk_destroy(struct virtio_dev *vdev)
{
	struct blk *b = container_of(vdev, struct blk, vdev);

	blkfile_close(b->file);
	b->file = NULL;
	iothread_timer_close(&b->timer);
}

static unsigned blk_metrics(struct virtio_dev *vdev, struct metric *out, unsigned max)
{
	struct blk *b = container_of(vdev, struct blk, vdev);
	unsigned n = 0;

	metric_put(out, &n, max, "read_requests", counter_get(&b->stats.reads));
	metric_put(out, &n, max, "read_bytes", counter_get(&b->stats.read_bytes));
	metric_put(out, &n, max, "write_requests", counter_get(&b->stats.writes));
	metric_put(out, &n, max, "write_bytes", counter_get(&b->stats.write_bytes));
	metric_put(out, &n, max, "flush_requests", counter_get(&b->stats.flushes));
	metric_put(out, &n, max, "discard_requests", counter_get(&b->stats.discards));
	metric_put(out, &n, max, "io_errors", counter_get(&b->stats.errors));
	metric_put(out, &n, max, "unsupported_requests", counter_get(&b->stats.unsupported));
	metric_put(out, &n, max, "throttled", counter_get(&b->stats.throttled));
	return n;
}

static const struct virtio_dev_ops blk_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.nr_queues = 1,
	.realize = blk_realize,
	.queue_notify = blk_notify,
	.notify_on_vcpu = true,
	.save = blk_save,
	.load = blk_load,
	.destroy = blk_destroy,
	.metrics = blk_metrics,
};

static void config_build(struct blk *b)
{
	uint8_t *cfg = b->vdev.config;

	put_le64(cfg + CFG_CAPACITY, b->capacity);
	put_le32(cfg + CFG_SEG_MAX, BLK_SEG_MAX);
	put_le32(cfg + CFG_BLK_SIZE, VIRTIO_BLK_SECTOR);
	if (!b->read_only) {
		put_le32(cfg + CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_DWZ_SECTORS_MAX);
		put_le32(cfg + CFG_MAX_DISCARD_SEG, VIRTIO_BLK_DWZ_SEG_MAX);
		put_le32(cfg + CFG_DISCARD_ALIGN, BLK_DISCARD_ALIGN);
		put_le32(cfg + CFG_MAX_WZ_SECTORS, VIRTIO_BLK_DWZ_SECTORS_MAX);
		put_le32(cfg + CFG_MAX_WZ_SEG, VIRTIO_BLK_DWZ_SEG_MAX);
		cfg[CFG_WZ_MAY_UNMAP] = 1;
	}
	b->vdev.config_len = CFG_LEN;
}

struct device *virtio_blk_create(struct vm *vm, struct iothread *io, unsigned slot,
				 const struct virtio_blk_config *cfg, struct err *err)
{
	uint64_t features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
			    (1ull << VIRTIO_BLK_F_FLUSH);
	struct blk *b = calloc(1, sizeof(*b));
	char name[32];

	if (!b) {
		err_set(err, -ENOMEM, "disk %s: out of memory", cfg->path);
		return NULL;
	}
	if (cfg->id && strlen(cfg->id) > VIRTIO_BLK_ID_BYTES) {
		err_set(err, -EINVAL, "disk %s: id '%s' is longer than %u bytes", cfg->path, cfg->id,
			VIRTIO_BLK_ID_BYTES);
		free(b);
		return NULL;
	}
	b->read_only = cfg->read_only;
	b->timer.fd = -1;
	ratelimit_init(&b->limit, &cfg->rate_limit, clock_monotonic_ns());
	features |= b->read_only ? 1ull << VIRTIO_BLK_F_RO
				 : (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	snprintf(name, sizeof(name), "virtio-blk%u", slot);
	if (virtio_dev_init(&b->vdev, vm, io, &blk_ops, slot, name, features, err) < 0)
		return NULL;
	/* The id is NUL-padded, and not terminated when it takes all 20 bytes. */
	if (cfg->id)
		memcpy(b->id, cfg->id, strlen(cfg->id));
	else
		snprintf(b->id, sizeof(b->id), "disk%u", slot);
	if (cfg->file)
		b->file = cfg->file;
	else if (blkfile_open(&b->file, cfg->path, cfg->read_only, err) < 0)
		return NULL;
	/*
	 * A partial last sector is visible, as QEMU shows it: it reads as zeros
	 * past the end of the file, and a write to it extends the file.
	 */
	b->capacity = ALIGN_UP(blkfile_size(b->file), VIRTIO_BLK_SECTOR) / VIRTIO_BLK_SECTOR;
	if (blkfile_size(b->file) % VIRTIO_BLK_SECTOR)
		log_warn("disk %s: size %llu is not a multiple of %u bytes; the last sector reads as zeros past the end%s",
			 cfg->path, (unsigned long long)blkfile_size(b->file), VIRTIO_BLK_SECTOR,
			 b->read_only ? "" : " and grows the file when written");
	config_build(b);
	return &b->vdev.dev;
}

int virtio_blk_set_rate_limit(struct device *dev, const struct ratelimit_config *cfg)
{
	struct virtio_dev *vdev = virtio_dev_of(dev);
	struct blk *b;

	if (!vdev || vdev->ops != &blk_ops)
		return -ENODEV;
	b = container_of(vdev, struct blk, vdev);
	virtio_queue_set_limit(&vdev->queues[0], &b->limit, cfg);
	return 0;
}

int virtio_blk_replace(struct device *dev, const char *path, struct err *err)
{
	struct virtio_dev *vdev = container_of(dev, struct virtio_dev, dev);
	struct blk *b = container_of(vdev, struct blk, vdev);
	struct blkfile *file;
	int rc;

	if (vdev->ops != &blk_ops)
		return err_set(err, -EINVAL, "%s is not a block device", dev->name);
	rc = blkfile_open(&file, path, b->read_only, err);
	if (rc < 0)
		return rc;
	/* Paused: no request holds the old file, and none reads the capacity. */
	blkfile_close(b->file);
	b->file = file;
	b->capacity = ALIGN_UP(blkfile_size(file), VIRTIO_BLK_SECTOR) / VIRTIO_BLK_SECTOR;
	pthread_mutex_lock(&vdev->lock);
	config_build(b);
	vdev->config_generation++;
	pthread_mutex_unlock(&vdev->lock);
	return 0;
}
