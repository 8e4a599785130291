/* backend/blkfile.c: raw disk images served by a small pool of worker threads. */
#include "backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

/* Zeroes written per call when the file system cannot punch holes. */
#define BLKFILE_ZERO_CHUNK (64u * 1024)
/* The sector a size that is not a multiple of rounds up to (virtio-blk's). */
#define BLKFILE_SECTOR 512u
/* preadv/pwritev take at most this many segments per call. */
#define BLKFILE_IOV_MAX 1024u

struct blkfile {
	int fd;
	uint64_t size;
	bool read_only;
	char path[256];
	pthread_mutex_t lock; /* queue, stopping */
	pthread_cond_t wake;
	struct blkfile_req *head, *tail;
	bool stopping;
	pthread_t workers[BLKFILE_WORKERS];
	unsigned nr_workers;
	_Atomic bool punch_unsupported; /* set once; workers race benignly */
	_Atomic bool nowait_unsupported; /* RWF_NOWAIT refused once */
};

static void iov_zero(const struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

/* Transfers a whole iovec list, resuming after short transfers. */
static int rw_all(struct blkfile *f, bool is_write, const struct iovec *iov, unsigned n,
		  uint64_t offset)
{
	struct iovec local[BLKFILE_IOV_MAX], *cur = local;
	uint64_t left = 0;

	if (n > BLKFILE_IOV_MAX)
		return -EINVAL;
	memcpy(local, iov, n * sizeof(*iov));
	for (unsigned i = 0; i < n; i++)
		left += iov[i].iov_len;
	while (left) {
		ssize_t done = is_write ? pwritev(f->fd, cur, (int)n, (off_t)offset)
					: preadv(f->fd, cur, (int)n, (off_t)offset);

		if (done < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (done == 0) {
			/* A partial last sector: the guest sees zeros past the end of the file. */
			if (!is_write && offset >= f->size &&
			    offset + left <= ALIGN_UP(f->size, BLKFILE_SECTOR)) {
				iov_zero(cur, n);
				return 0;
			}
			/* The image shrank under us: what was validated is no longer there. */
			return -EIO;
		}
		offset += (uint64_t)done;
		left -= (uint64_t)done;
		while (n && (size_t)done >= cur->iov_len) {
			done -= (ssize_t)cur->iov_len;
			cur++;
			n--;
		}
		if (n) {
			cur->iov_base = (uint8_t *)cur->iov_base + done;
			cur->iov_len -= (size_t)done;
		}
	}
	return 0;
}

static int zero_fill(struct blkfile *f, uint64_t offset, uint64_t len)
{
	static const uint8_t zeros[BLKFILE_ZERO_CHUNK];

	while (len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		struct iovec v = { .iov_base = (void *)zeros, .iov_len = n };
		int rc = rw_all(f, true, &v, 1, offset);

		if (rc < 0)
			return rc;
		offset += n;
		len -= n;
	}
	return 0;
}

/*
 * Both discard and write-zeroes punch a hole: it reads back as zeros, which
 * write-zeroes needs, and frees host space, which discard is for.
 */
static int punch(struct blkfile *f, const struct blkfile_range *r, bool must_zero)
{
	if (!f->punch_unsupported &&
	    fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)r->offset,
		      (off_t)r->len) == 0)
		return 0;
	if (!f->punch_unsupported && errno != EOPNOTSUPP && errno != ENOSYS)
		return -errno;
	f->punch_unsupported = true;
	/* Discard is only a hint; zeroes must be there. */
	return must_zero ? zero_fill(f, r->offset, r->len) : 0;
}

/*
 * Starts writing the range back now, without waiting: the disk works while
 * the guest prepares its next request, and its next flush finds less to do
 * (what QEMU's cache=none gets by writing through). Only a hint: the flush
 * still waits for everything.
 */
static void write_behind(struct blkfile *f, const struct iovec *iov, unsigned n, uint64_t offset)
{
	uint64_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (sync_file_range(f->fd, (off_t)offset, (off_t)len, SYNC_FILE_RANGE_WRITE) < 0 &&
	    errno != ESPIPE && errno != EINVAL)
		log_ratelimited(LOG_DEBUG, "disk %s: sync_file_range: %s", f->path, strerror(errno));
}

static int run(struct blkfile *f, struct blkfile_req *req)
{
	int rc = 0;

	switch (req->op) {
	case BLKFILE_READ:
		return rw_all(f, false, req->iov, req->nr_iov, req->offset);
	case BLKFILE_WRITE:
		if (f->read_only)
			return -EROFS;
		rc = rw_all(f, true, req->iov, req->nr_iov, req->offset);
		if (rc == 0)
			write_behind(f, req->iov, req->nr_iov, req->offset);
		return rc;
	case BLKFILE_FLUSH:
		while (fdatasync(f->fd) < 0) {
			if (errno != EINTR)
				return -errno;
		}
		return 0;
	case BLKFILE_DISCARD:
	case BLKFILE_WRITE_ZEROES:
		if (f->read_only)
			return -EROFS;
		for (unsigned i = 0; i < req->nr_ranges && rc == 0; i++)
			rc = punch(f, &req->ranges[i], req->op == BLKFILE_WRITE_ZEROES);
		return rc;
	}
	return -EINVAL;
}

static void *worker_main(void *arg)
{
	struct blkfile *f = arg;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		struct blkfile_req *req = f->head;

		if (!req) {
			if (f->stopping)
				break;
			pthread_cond_wait(&f->wake, &f->lock);
			continue;
		}
		f->head = req->next;
		if (!f->head)
			f->tail = NULL;
		pthread_mutex_unlock(&f->lock);
		req->done(req, run(f, req));
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

void blkfile_submit(struct blkfile *f, struct blkfile_req *req)
{
	req->next = NULL;
	pthread_mutex_lock(&f->lock);
	if (f->tail)
		f->tail->next = req;
	else
		f->head = req;
	f->tail = req;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

int blkfile_read_cached(struct blkfile *f, const struct iovec *iov, unsigned n, uint64_t offset)
{
	uint64_t len = 0;
	ssize_t done;

	if (n > BLKFILE_IOV_MAX || atomic_load_explicit(&f->nowait_unsupported, memory_order_relaxed))
		return -EAGAIN;
	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (len > BLKFILE_CACHED_MAX || offset + len > f->size)
		return -EAGAIN;
	done = preadv2(f->fd, iov, (int)n, (off_t)offset, RWF_NOWAIT);
	if (done < 0 && errno == EOPNOTSUPP)
		atomic_store_explicit(&f->nowait_unsupported, true, memory_order_relaxed);
	/* A short read leaves the rest to a worker, which redoes it all. */
	return done == (ssize_t)len ? 0 : -EAGAIN;
}

uint64_t blkfile_size(const struct blkfile *f)
{
	return f->size;
}

static int lock_image(struct blkfile *f, struct err *err)
{
	struct flock fl = {
		.l_type = f->read_only ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
	};

	/* An OFD lock belongs to this open file, so it lives and dies with f->fd. */
	if (fcntl(f->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return err_set(err, -EBUSY, "disk %s: in use (locked by another process, or named twice)",
			       f->path);
	return err_set(err, -errno, "disk %s: cannot lock: %s", f->path, strerror(errno));
}

static int open_image(struct blkfile *f, const char *path, struct err *err)
{
	struct stat st;
	off_t end;

	f->fd = open(path, (f->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (f->fd < 0)
		return err_set(err, -errno, "disk %s: %s", path, strerror(errno));
	if (fstat(f->fd, &st) < 0)
		return err_set(err, -errno, "disk %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return err_set(err, -EINVAL, "disk %s: not a regular file or block device", path);
	end = lseek(f->fd, 0, SEEK_END);
	if (end < 0)
		return err_set(err, -errno, "disk %s: cannot size: %s", path, strerror(errno));
	f->size = (uint64_t)end;
	return lock_image(f, err);
}

int blkfile_open(struct blkfile **out, const char *path, bool read_only, struct err *err)
{
	struct blkfile *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return err_set(err, -ENOMEM, "disk %s: out of memory", path);
	f->fd = -1;
	f->read_only = read_only;
	snprintf(f->path, sizeof(f->path), "%s", path);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	rc = open_image(f, path, err);
	if (rc < 0)
		goto err_close;
	for (unsigned i = 0; i < BLKFILE_WORKERS; i++) {
		rc = pthread_create(&f->workers[i], NULL, worker_main, f);
		if (rc) {
			rc = err_set(err, -rc, "disk %s: cannot start worker: %s", path,
				     strerror(rc));
			goto err_close;
		}
		f->nr_workers++;
	}
	*out = f;
	return 0;
err_close:
	blkfile_close(f);
	return rc;
}

void blkfile_close(struct blkfile *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_cond_broadcast(&f->wake);
	pthread_mutex_unlock(&f->lock);
	for (unsigned i = 0; i < f->nr_workers; i++)
		pthread_join(f->workers[i], NULL);
	if (f->fd >= 0)
		close(f->fd);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
