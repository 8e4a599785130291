/*
 * virtio/vsock_host.c: virtio-vsock's host side, Firecracker's: the UNIX
 * listener, CONNECT <port>, and each connection's socket.
 */
#include "virtio/vsock_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

/* Ephemeral host ports kite picks for host-initiated connections start here. */
#define VSOCK_EPHEMERAL_BASE 0x40000000u
#define VSOCK_EVENTS 16

/* ---- connections ------------------------------------------------------- */

struct conn *vsock_conn_find(struct vsock *v, uint32_t local_port, uint32_t peer_port)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct conn *c = &v->conns[i];

		if (c->used && c->local_port == local_port && c->peer_port == peer_port &&
		    c->state != CONN_CMD)
			return c;
	}
	return NULL;
}

static bool port_in_use(struct vsock *v, const struct conn *self, uint32_t port)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (&v->conns[i] != self && v->conns[i].used && v->conns[i].local_port == port)
			return true;
	return false;
}

static struct conn *conn_new(struct vsock *v, int fd)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct conn *c = &v->conns[i];
		uint8_t *buf;

		if (c->used)
			continue;
		buf = malloc(VSOCK_CONN_BUF);
		if (!buf)
			return NULL;
		*c = (struct conn){ .used = true, .fd = fd, .buf = buf, .registered = true };
		if (epoll_ctl(v->epoll_fd, EPOLL_CTL_ADD, fd,
			      &(struct epoll_event){ .events = 0, .data.ptr = c }) < 0) {
			free(buf);
			c->used = false;
			return NULL;
		}
		counter_add_owned(&v->conns_total, 1);
		return c;
	}
	return NULL;
}

void vsock_conn_free(struct vsock *v, struct conn *c)
{
	if (c->registered)
		epoll_ctl(v->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	c->used = false;
	c->buf = NULL;
}

void vsock_conns_close(struct vsock *v)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].used)
			vsock_conn_free(v, &v->conns[i]);
}

void vsock_conn_update(struct vsock *v, struct conn *c)
{
	uint32_t ev = 0;

	if (c->state == CONN_CMD)
		ev |= EPOLLIN;
	if (c->state == CONN_ESTABLISHED && !c->host_eof && !v->rx_stalled && vsock_conn_credit(c))
		ev |= EPOLLIN;
	if (c->buf_len)
		ev |= EPOLLOUT;
	/* HUP is reported whatever the mask: leave epoll while nothing is wanted. */
	if (c->hup && !ev) {
		if (c->registered)
			epoll_ctl(v->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
		c->registered = false;
		return;
	}
	if (ev == c->events && c->registered)
		return;
	c->events = ev;
	if (epoll_ctl(v->epoll_fd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd,
		      &(struct epoll_event){ .events = ev, .data.ptr = c }) < 0)
		log_ratelimited(LOG_WARN, "%s: epoll_ctl: %s", v->vdev.name, strerror(errno));
	c->registered = true;
}

int vsock_conn_flush(struct vsock *v, struct conn *c)
{
	while (c->buf_len) {
		uint32_t run = VSOCK_CONN_BUF - c->buf_head;
		ssize_t n;

		if (run > c->buf_len)
			run = c->buf_len;
		n = send(c->fd, c->buf + c->buf_head, run, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		c->buf_head = (c->buf_head + (uint32_t)n) % VSOCK_CONN_BUF;
		c->buf_len -= (uint32_t)n;
		if ((uint32_t)n <= c->uncounted) {
			c->uncounted -= (uint32_t)n;
		} else {
			c->fwd_cnt += (uint32_t)n - c->uncounted;
			c->uncounted = 0;
		}
	}
	/* Tell the guest about freed space before it can run out (no stall). */
	if (c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_CONN_BUF / 2 && !(c->owe & OWE_CREDIT)) {
		c->owe |= OWE_CREDIT;
		vsock_kick_rx(v);
	}
	if (!c->buf_len && c->guest_shut_send && !c->shut_wr_done) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr_done = true;
	}
	return 0;
}

bool vsock_conn_queue(struct conn *c, const struct iovec *iov, unsigned n, size_t off,
		      uint32_t len)
{
	if (len > VSOCK_CONN_BUF - c->buf_len)
		return false;
	while (len) {
		uint32_t tail = (c->buf_head + c->buf_len) % VSOCK_CONN_BUF;
		uint32_t run = VSOCK_CONN_BUF - tail;

		if (run > len)
			run = len;
		run = (uint32_t)iov_to_buf(iov, n, off, c->buf + tail, run);
		if (!run)
			return false;
		c->buf_len += run;
		off += run;
		len -= run;
	}
	return true;
}

struct conn *vsock_conn_connect(struct vsock *v, uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct conn *c;
	int fd;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%" PRIu32, v->uds_path,
			     port) >= sizeof(sa.sun_path))
		return NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return NULL;
	}
	c = conn_new(v, fd);
	if (!c) {
		close(fd);
		return NULL;
	}
	c->state = CONN_ESTABLISHED;
	c->local_port = port;
	return c;
}

/* ---- the listener and its connections' events ---------------------------- */

/* "CONNECT <port>\n" from a host peer: ask the guest's listener. */
static void host_command(struct vsock *v, struct conn *c)
{
	ssize_t n = recv(c->fd, c->cmd + c->cmd_len, VSOCK_CMD_MAX - c->cmd_len, MSG_DONTWAIT);
	char *nl, *end;
	unsigned long port;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		goto close;
	c->cmd_len += (unsigned)n;
	c->cmd[c->cmd_len] = '\0';
	nl = strchr(c->cmd, '\n');
	if (!nl) {
		if (c->cmd_len == VSOCK_CMD_MAX)
			goto close; /* no line in the bytes a command may take */
		return;
	}
	*nl = '\0';
	if (strncmp(c->cmd, "CONNECT ", 8) || !c->cmd[8])
		goto close;
	errno = 0;
	port = strtoul(c->cmd + 8, &end, 10);
	if (errno || *end || port > UINT32_MAX)
		goto close;
	/* Bytes after the line would be the stream's first: Firecracker forbids them too. */
	if (nl + 1 != c->cmd + c->cmd_len)
		goto close;
	/* At most VSOCK_MAX_CONNS ports are taken, so this ends within as many tries. */
	do
		c->local_port = (v->next_port++ & ~VSOCK_EPHEMERAL_BASE) | VSOCK_EPHEMERAL_BASE;
	while (port_in_use(v, c, c->local_port));
	c->peer_port = (uint32_t)port;
	c->state = CONN_REQUESTED;
	c->owe = OWE_REQUEST;
	vsock_conn_update(v, c);
	vsock_kick_rx(v);
	return;
close:
	vsock_conn_free(v, c);
}

static void host_accept(struct vsock *v)
{
	for (;;) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return;
		c = conn_new(v, fd);
		if (!c) {
			log_ratelimited(LOG_WARN, "%s: more than %u connections; refused",
					v->vdev.name, VSOCK_MAX_CONNS);
			close(fd);
			continue;
		}
		c->state = CONN_CMD;
		vsock_conn_update(v, c);
	}
}

static void host_event(struct vsock *v, struct conn *c, uint32_t ev)
{
	if (c->state == CONN_CMD) {
		host_command(v, c);
		return;
	}
	if (ev & (EPOLLHUP | EPOLLERR))
		c->hup = true;
	if ((ev & EPOLLOUT) || (ev & (EPOLLERR | EPOLLHUP))) {
		if (vsock_conn_flush(v, c) < 0) {
			vsock_conn_reset(v, c, true);
			return;
		}
	}
	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->state == CONN_ESTABLISHED) {
		pthread_mutex_unlock(&v->lock);
		vsock_rx_run(v, c);
		pthread_mutex_lock(&v->lock);
		return;
	}
	if ((ev & (EPOLLHUP | EPOLLERR)) && c->state == CONN_REQUESTED)
		vsock_conn_reset(v, c, true);
	else
		vsock_conn_update(v, c);
}

void vsock_host_ready(void *opaque)
{
	struct vsock *v = opaque;
	struct epoll_event ev[VSOCK_EVENTS];
	int n = epoll_wait(v->epoll_fd, ev, VSOCK_EVENTS, 0);

	pthread_mutex_lock(&v->lock);
	for (int i = 0; i < n; i++) {
		struct conn *c = ev[i].data.ptr;

		if (!c)
			host_accept(v);
		else if (c->used)
			host_event(v, c, ev[i].events);
	}
	pthread_mutex_unlock(&v->lock);
}

int vsock_host_open(struct vsock *v, struct err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	v->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (v->epoll_fd < 0)
		return err_set(err, -errno, "vsock: epoll_create1: %s", strerror(errno));
	if (strlen(v->uds_path) >= sizeof(sa.sun_path))
		return err_set(err, -ENAMETOOLONG, "vsock: uds path '%s' is too long", v->uds_path);
	strcpy(sa.sun_path, v->uds_path);
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (v->listen_fd < 0)
		return err_set(err, -errno, "vsock: socket: %s", strerror(errno));
	if (bind(v->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(v->listen_fd, 16) < 0) {
		int rc = -errno;

		close(v->listen_fd);
		v->listen_fd = -1;
		return err_set(err, rc, "vsock: cannot listen on %s: %s", v->uds_path,
			       strerror(-rc));
	}
	if (epoll_ctl(v->epoll_fd, EPOLL_CTL_ADD, v->listen_fd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL }) < 0)
		return err_set(err, -errno, "vsock: epoll_ctl: %s", strerror(errno));
	return 0;
}

void vsock_host_close(struct vsock *v)
{
	vsock_conns_close(v);
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		unlink(v->uds_path);
		v->listen_fd = -1;
	}
	if (v->epoll_fd >= 0)
		close(v->epoll_fd);
	v->epoll_fd = -1;
}
