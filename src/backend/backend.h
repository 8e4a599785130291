/* backend/backend.h: the VM's I/O thread and the block image back-end. */
#ifndef KITE_BACKEND_BACKEND_H
#define KITE_BACKEND_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/err.h"

/*
 * One I/O thread per VM (docs/virtio.md): an epoll loop over eventfds. vCPU
 * threads only signal eventfds (QueueNotify, or an ioeventfd inside the
 * engine); queue processing runs here.
 */
struct iothread;

typedef void (*iothread_fn)(void *opaque);

#define IOTHREAD_MAX_HANDLERS 64

/* Creates the thread; it sleeps until a registered eventfd is signalled. */
int iothread_create(struct iothread **out, struct err *err);

/*
 * Calls fn(opaque) on the I/O thread each time eventfd fd is signalled (the
 * counter is read and cleared first). Callable before or while it runs.
 */
int iothread_add(struct iothread *io, int fd, iothread_fn fn, void *opaque, struct err *err);

/*
 * Calls fn(opaque) on the I/O thread when fd (a socket, TAP, ...) becomes
 * readable. Edge-triggered and nothing is read: fn reads until EAGAIN, or
 * until it cannot take more, and then must come back to fd by itself (for
 * instance when the guest adds buffers), because no new edge may come.
 */
int iothread_add_fd(struct iothread *io, int fd, iothread_fn fn, void *opaque, struct err *err);

/*
 * Calls fn(opaque) on the I/O thread while fd (a socket, or an epoll fd of
 * the caller's) is readable; nothing is read first: fn must consume what made
 * it ready, or it runs again (level-triggered).
 */
int iothread_add_poll(struct iothread *io, int fd, iothread_fn fn, void *opaque,
		      struct err *err);

/*
 * A one-shot timer on the I/O thread (a timerfd in its epoll set): fn(opaque)
 * runs there once each time an armed timer expires. Devices use it to come
 * back to a queue later (a rate limiter's bucket refilling) instead of
 * spinning or sleeping. The owner closes it after the I/O thread stopped.
 */
struct iothread_timer {
	int fd;
};

int iothread_timer_init(struct iothread *io, struct iothread_timer *t, iothread_fn fn,
			void *opaque, struct err *err);

/* (Re)arms t to expire once, delay_ns from now (at least 1 ns); any thread. */
void iothread_timer_arm(struct iothread_timer *t, uint64_t delay_ns);

/* Closes the timerfd; t may be one iothread_timer_init() never set up (fd 0 or -1). */
void iothread_timer_close(struct iothread_timer *t);

/* Stops and joins the thread; no handler runs after it returns. NULL is fine. */
void iothread_destroy(struct iothread *io);

/*
 * A raw disk image. Requests run on a small pool of worker threads so neither
 * a vCPU nor the I/O thread waits for the disk; done() is called on a worker.
 */
struct blkfile;

enum blkfile_op { BLKFILE_READ, BLKFILE_WRITE, BLKFILE_FLUSH, BLKFILE_DISCARD,
		  BLKFILE_WRITE_ZEROES };

struct blkfile_range {
	uint64_t offset;
	uint64_t len;
};

struct blkfile_req {
	enum blkfile_op op;
	uint64_t offset; /* READ/WRITE */
	const struct iovec *iov;
	unsigned nr_iov;
	const struct blkfile_range *ranges; /* DISCARD/WRITE_ZEROES */
	unsigned nr_ranges;
	void (*done)(struct blkfile_req *req, int result); /* 0 or -errno */
	struct blkfile_req *next;			  /* the pool's queue */
};

#define BLKFILE_WORKERS 4

/*
 * Opens path (read-only or read-write) and takes an OFD lock on it, shared
 * for read-only and exclusive otherwise, so two kites cannot write one image
 * (-EBUSY: "disk PATH: in use ..."). Regular files and block
 * devices are accepted.
 */
int blkfile_open(struct blkfile **out, const char *path, bool read_only, struct err *err);

/* The image's size in bytes. */
uint64_t blkfile_size(const struct blkfile *f);

/*
 * Queues req; a FLUSH completes only once fdatasync() returned. A READ of
 * the partial sector at the end of an image whose size is not a multiple of
 * 512 gets zeros past the end of the file; a WRITE there extends the file.
 */
void blkfile_submit(struct blkfile *f, struct blkfile_req *req);

/* Reads no larger than this may be served on the calling thread (blkfile_read_cached). */
#define BLKFILE_CACHED_MAX (64u * 1024)

/*
 * Reads the whole range into iov on the calling thread if the host's page
 * cache holds all of it, without waiting for the disk: 0, or -EAGAIN when
 * the read must go through blkfile_submit (not cached, longer than
 * BLKFILE_CACHED_MAX, past the end of the file, or any error).
 */
int blkfile_read_cached(struct blkfile *f, const struct iovec *iov, unsigned n, uint64_t offset);

/* Runs what is queued, joins the workers, closes (and unlocks) the image. */
void blkfile_close(struct blkfile *f);

/*
 * A host TAP interface (backend/tap.c), opened IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR with the 12-byte virtio-net header (virtio 1.x) in front of
 * every frame, non-blocking.
 */
#define TAP_VNET_HDR_LEN 12
/* Offloads the reader (kite, for the guest) takes: TUNSETOFFLOAD's TUN_F_* bits. */
#define TAP_OFFLOAD_CSUM 0x01u
#define TAP_OFFLOAD_TSO4 0x02u
#define TAP_OFFLOAD_TSO6 0x04u

/*
 * Opens the existing interface ifname into *fd. err names the interface and
 * says whether it is missing, busy or not permitted. *offloads gets the
 * TAP_OFFLOAD_* bits the kernel accepted (then reset to none).
 */
int tap_open(const char *ifname, int *fd, unsigned *offloads, struct err *err);

/* Sets the offloads frames read from fd may carry; 0 or -errno. */
int tap_set_offload(int fd, unsigned offloads);

#endif
