/*
 * virtio/vsock_internal.h: what the two halves of the vsock device share,
 * and nothing else includes: vsock.c (the virtio device: its queues, the
 * packets, what is owed to the guest) and vsock_host.c (Firecracker's host
 * side: the UNIX listener, CONNECT, and each connection's socket). The API
 * is in virtio.h.
 *
 * Locking: struct vsock's lock covers everything below it and every
 * connection; it is taken after a queue's lock, never before.
 */
#ifndef KITE_VIRTIO_VSOCK_INTERNAL_H
#define KITE_VIRTIO_VSOCK_INTERNAL_H

#include "virtio/virtio.h"

/* Connections one device holds at once; more host connects are refused. */
#define VSOCK_MAX_CONNS 64
/* Guest bytes held per connection while the host peer is slow: our buf_alloc. */
#define VSOCK_CONN_BUF (256u * 1024)
/* Longest "CONNECT <port>\n" a host peer may send. */
#define VSOCK_CMD_MAX 32
/* Resets owed to the guest for packets no connection takes; more are dropped. */
#define VSOCK_ORPHAN_MAX 16

enum conn_state {
	CONN_CMD,	  /* host peer connected; waiting for "CONNECT <port>\n" */
	CONN_REQUESTED,	  /* REQUEST sent to the guest; waiting for RESPONSE or RST */
	CONN_ESTABLISHED,
};

/* Control packets owed to the guest for one connection. */
#define OWE_REQUEST 1u
#define OWE_RESPONSE 2u
#define OWE_CREDIT 4u
#define OWE_SHUTDOWN 8u
#define OWE_RST 16u

struct conn {
	bool used;
	int fd;
	enum conn_state state;
	uint32_t local_port; /* the host's port */
	uint32_t peer_port;  /* the guest's port */
	unsigned owe;	     /* OWE_* */
	/* Flow control toward the guest: its buffer and what it consumed. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* Toward the host peer: guest bytes not yet written, and those written. */
	uint8_t *buf; /* VSOCK_CONN_BUF ring */
	uint32_t buf_head, buf_len;
	uint32_t fwd_cnt, fwd_cnt_sent;
	uint32_t uncounted; /* leading buffered bytes that are kite's ("OK <port>\n") */
	bool hup;	    /* the socket reported HUP/ERR: poll it only for what we want */
	bool registered;    /* in epoll */
	bool guest_shut_send; /* the guest sends no more: shut the host side's write */
	bool host_eof;	      /* the host peer sends no more */
	bool shut_wr_done;
	char cmd[VSOCK_CMD_MAX + 1];
	unsigned cmd_len;
	uint32_t events; /* registered with epoll */
};

struct vsock {
	struct virtio_dev vdev;
	uint64_t guest_cid;
	char uds_path[108];
	int listen_fd;
	int epoll_fd; /* the listener and every connection; the I/O thread polls it */
	int kick_fd;  /* eventfd: packets are owed to the guest (the rx side sends them) */
	pthread_mutex_t lock; /* below; taken after a queue lock */
	struct conn conns[VSOCK_MAX_CONNS];
	uint32_t next_port;
	struct virtio_vsock_hdr orphans[VSOCK_ORPHAN_MAX];
	unsigned nr_orphans;
	bool rx_stalled;   /* the guest has no receive buffer: stop reading hosts */
	bool evt_reset;	   /* a TRANSPORT_RESET event is owed (after a restore) */
	/* I/O thread only: the chain each queue is working on (too big for the stack). */
	struct virtq_chain rx_chain, tx_chain, evt_chain;
	_Atomic uint64_t rx_bytes, tx_bytes, malformed, conns_total, resets;
};

/* Bytes the guest can take on c now. */
static inline uint32_t vsock_conn_credit(const struct conn *c)
{
	return virtio_vsock_credit(c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt);
}

/* ---- vsock.c: the guest's side -------------------------------------------- */

/* Wakes the receive side on the I/O thread: packets are owed to the guest. */
void vsock_kick_rx(struct vsock *v);

/* c failed: tell the guest (an RST, when tell_guest) and close the host side. */
void vsock_conn_reset(struct vsock *v, struct conn *c, bool tell_guest);

/*
 * Sends the guest what is owed, then, if ready is not NULL, one packet of
 * ready's host bytes. Takes the receive queue's lock and v->lock.
 */
void vsock_rx_run(struct vsock *v, struct conn *ready);

/* ---- vsock_host.c: the host's side ------------------------------------------ */

/* The live connection between host port local_port and guest port peer_port. */
struct conn *vsock_conn_find(struct vsock *v, uint32_t local_port, uint32_t peer_port);

/*
 * The guest connects to host port port: a connection to the listener
 * uds_path_<port>, established on the host's side; NULL when there is none
 * (or no room), and the caller answers RST.
 */
struct conn *vsock_conn_connect(struct vsock *v, uint32_t port);

void vsock_conn_free(struct vsock *v, struct conn *c);

/* Registers what c waits for on its socket, from its state and the guest's. */
void vsock_conn_update(struct vsock *v, struct conn *c);

/* Writes c's buffered guest bytes to the host peer; -errno when it is gone. */
int vsock_conn_flush(struct vsock *v, struct conn *c);

/* Appends bytes for the host peer; false when they do not fit (credit broken). */
bool vsock_conn_queue(struct conn *c, const struct iovec *iov, unsigned n, size_t off,
		      uint32_t len);

/* Closes every connection (a device reset). */
void vsock_conns_close(struct vsock *v);

/* Creates v->epoll_fd with a listener on v->uds_path in it; -errno and err. */
int vsock_host_open(struct vsock *v, struct err *err);

/* The I/O thread's handler for v->epoll_fd: the listener or a connection is ready. */
void vsock_host_ready(void *opaque);

/* Closes every connection, the listener (unlinking its path) and v->epoll_fd. */
void vsock_host_close(struct vsock *v);

#endif
