/* backend/backend.h: the VM's I/O thread and the block, TAP and user-mode network back-ends. */
#ifndef KITE_BACKEND_BACKEND_H
#define KITE_BACKEND_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/err.h"
#include "config/config.h"

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

/*
 * User-mode networking (backend/usernet.c): libslirp's TCP/IP stack on a
 * thread of its own, QEMU's network 10.0.2.0/24 (the host's loopback at
 * 10.0.2.2, DNS at 10.0.2.3, DHCP from 10.0.2.15), IPv4 only. The device
 * talks to it over a socket as to a TAP: frames with the 12-byte virtio-net
 * header in front, whole and checksummed both ways (no offloads).
 */
struct usernet;

struct usernet_stats {
	uint64_t to_guest_dropped; /* the device's socket was full: the guest is not reading */
	uint64_t from_guest_bad;   /* shorter than a header and an Ethernet header, or over the MTU */
	uint64_t dns_hosts;	   /* DNS queries answered from the hosts file */
};

/*
 * Starts the stack for interface name (in messages) with the forwards in
 * fwd, listening on their host ports now; *fd gets the device's end of the
 * socket (non-blocking). mtu is the network's MTU and MRU, the guest's
 * (68 to USERNET_MTU_MAX; 0: USERNET_MTU_DEFAULT). hosts_path is the hosts
 * file DNS answers from (NULL: /etc/hosts). err names a rule whose host
 * port is in use.
 */
int usernet_create(struct usernet **out, const char *name, const struct vm_net_hostfwd *fwd,
		   unsigned nr_fwd, unsigned mtu, const char *hosts_path, int *fd,
		   struct err *err);

/* The counters so far; callable from any thread. */
void usernet_stats(struct usernet *u, struct usernet_stats *st);

/* Stops the thread and closes every socket (the device's end is the device's). NULL is fine. */
void usernet_destroy(struct usernet *u);

/*
 * The DNS relay's wire code (backend/hostsdns.c): libslirp hands queries to
 * the host's resolver, which never reads /etc/hosts; A and AAAA queries for
 * names in it are answered here instead.
 */
#define HOSTSDNS_NAME_MAX 253 /* dotted, no trailing dot */
#define HOSTSDNS_ADDRS_MAX 8  /* answers in one reply */

struct hostsdns_query {
	uint16_t id;
	bool rd;
	uint16_t qtype;
	char name[HOSTSDNS_NAME_MAX + 1]; /* lower case */
	size_t question_len;		  /* bytes of the question section */
};

/*
 * Parses a DNS query of len bytes: 0, or -EINVAL unless it is a standard
 * query with exactly one question of class IN whose name is uncompressed,
 * printable, without dots inside labels, at most HOSTSDNS_NAME_MAX bytes.
 */
int hostsdns_query_parse(const uint8_t *msg, size_t len, struct hostsdns_query *q);

/*
 * The addresses of family (AF_INET or AF_INET6) that the hosts file at path
 * gives name (case-insensitive; comments and malformed lines ignored), at
 * most max, into addrs: how many (0 when the file names it only with the
 * other family), -ENOENT when it does not name it, or -errno from opening.
 */
int hostsdns_lookup(const char *path, const char *name, int family, uint8_t (*addrs)[16],
		    unsigned max);

/*
 * Writes the reply to query (q parsed from it, qtype A or AAAA) with nr
 * addresses into out: its length, or -ENOSPC.
 */
ssize_t hostsdns_answer(const uint8_t *query, const struct hostsdns_query *q,
			const uint8_t (*addrs)[16], unsigned nr, uint8_t *out, size_t size);

/*
 * If frame (len bytes of Ethernet from the guest) is a checksummed UDP query
 * to dns_addr (host byte order) port 53 for an A or AAAA record of a name
 * hosts_path knows, writes the whole reply frame into out and returns its
 * length; 0 otherwise (the frame goes to libslirp unchanged).
 */
size_t hostsdns_reply(const uint8_t *frame, size_t len, uint32_t dns_addr,
		      const char *hosts_path, uint8_t *out, size_t size);

#endif
