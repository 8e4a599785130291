/* backend/usernet.c: user-mode networking: libslirp on its own thread, frames over a socket. */
#include "backend/backend.h"

#include <errno.h>
#include <libslirp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

/*
 * libslirp is not thread-safe, so one thread owns it: this one, polling the
 * device's socket, a stop eventfd and every socket libslirp has open. The
 * device (virtio/net.c) sees the other end of a SOCK_SEQPACKET pair as it
 * would a TAP. Both directions are bounded by the socket's buffer: a frame
 * for a guest that does not read is dropped and counted (TCP retransmits).
 */

#define ETH_HLEN 14
/* The largest frame from the guest: Ethernet, a VLAN tag, the MTU. */
#define USERNET_FRAME_MAX(mtu) (ETH_HLEN + 4 + (size_t)(mtu))
/* Frames from the guest per loop turn, so host sockets get their turn too. */
#define USERNET_BATCH 64
/* Asked for each end of the socket pair; the kernel caps it at wmem_max. */
#define USERNET_SOCKBUF (1 << 20)
#define USERNET_HOSTS "/etc/hosts"
/* A DNS reply from the hosts file: Ethernet, IP, UDP, a name and 8 addresses fit. */
#define USERNET_REPLY_MAX 1024
/* libslirp has one timer (IPv6 router advertisements); a few more are no harm. */
#define USERNET_TIMERS_PER_TURN 8
/* pollfd slots 0 and 1; libslirp's sockets follow. */
#define POLL_STOP 0
#define POLL_GUEST 1
#define POLL_FIRST 2

/* A libslirp timer: by id (SlirpCb.timer_new_opaque) or by callback (timer_new). */
struct usernet_timer {
	SlirpTimerId id;
	SlirpTimerCb cb; /* NULL: slirp_handle_timer(id) */
	void *cb_opaque;
	int64_t expire_ms; /* -1: not armed */
	struct usernet_timer *next;
};

struct usernet {
	Slirp *slirp;
	char name[32];
	char *hosts_path;
	int fd; /* our end of the pair */
	int stop_fd;
	unsigned mtu;	  /* libslirp's MTU and MRU: larger frames are not IP it takes */
	size_t frame_max; /* USERNET_FRAME_MAX(mtu) */
	pthread_t thread;
	bool started;
	bool peer_gone; /* the device closed its end */
	struct pollfd *pfd;
	unsigned nr_pfd, max_pfd;
	struct usernet_timer *timers;
	uint8_t in[TAP_VNET_HDR_LEN + USERNET_FRAME_MAX(USERNET_MTU_MAX)];
	uint8_t reply[USERNET_REPLY_MAX];
	struct {
		_Atomic uint64_t to_guest_dropped, from_guest_bad, dns_hosts;
	} stats;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- libslirp's callbacks (all on our thread) ------------------------- */

/* A frame for the guest: header first, whole, or dropped if the device's socket is full. */
static ssize_t to_guest(const void *buf, size_t len, void *opaque)
{
	struct usernet *u = opaque;
	uint8_t hdr[TAP_VNET_HDR_LEN] = { 0 };
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)buf, len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };

	if (sendmsg(u->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		if (errno != EAGAIN && errno != EPIPE && errno != ECONNRESET)
			log_ratelimited(LOG_WARN, "%s: user network: to the device: %s", u->name,
					strerror(errno));
		counter_add_owned(&u->stats.to_guest_dropped, 1);
	}
	/* libslirp only learns of errors it can do something about; a drop is not one. */
	return (ssize_t)len;
}

static void guest_error(const char *msg, void *opaque)
{
	struct usernet *u = opaque;

	log_ratelimited(LOG_WARN, "%s: user network: guest error: %s", u->name, msg);
}

static int64_t clock_get_ns(void *opaque)
{
	(void)opaque;
	return now_ns();
}

static struct usernet_timer *timer_add(struct usernet *u, SlirpTimerId id, SlirpTimerCb cb,
				       void *cb_opaque)
{
	struct usernet_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	*t = (struct usernet_timer){ .id = id, .cb = cb, .cb_opaque = cb_opaque,
				     .expire_ms = -1, .next = u->timers };
	u->timers = t;
	return t;
}

static void *timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	return timer_add(opaque, SLIRP_TIMER_NUM, cb, cb_opaque);
}

static void *timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	return timer_add(opaque, id, NULL, cb_opaque);
}

static void timer_free(void *timer, void *opaque)
{
	struct usernet *u = opaque;

	for (struct usernet_timer **p = &u->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = (*p)->next;
			free(timer);
			return;
		}
	}
}

static void timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	(void)opaque;
	((struct usernet_timer *)timer)->expire_ms = expire_ms;
}

/* We poll what slirp_pollfds_fill() lists every turn: nothing to keep. */
static void poll_fd_noop(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

/* libslirp can take more from the guest: the next loop turn sees it. */
static void notify_noop(void *opaque)
{
	(void)opaque;
}

static const SlirpCb usernet_cb = {
	.send_packet = to_guest,
	.guest_error = guest_error,
	.clock_get_ns = clock_get_ns,
	.timer_new = timer_new,
	.timer_free = timer_free,
	.timer_mod = timer_mod,
	.register_poll_fd = poll_fd_noop,
	.unregister_poll_fd = poll_fd_noop,
	.notify = notify_noop,
	.timer_new_opaque = timer_new_opaque,
};

/* ---- the poll loop ---------------------------------------------------- */

static int pfd_add(struct usernet *u, int fd, short events)
{
	if (u->nr_pfd == u->max_pfd) {
		unsigned max = u->max_pfd * 2;
		struct pollfd *p = realloc(u->pfd, max * sizeof(*p));

		if (!p)
			return -1; /* libslirp skips a socket with index -1 this turn */
		u->pfd = p;
		u->max_pfd = max;
	}
	u->pfd[u->nr_pfd] = (struct pollfd){ .fd = fd, .events = events };
	return (int)u->nr_pfd++;
}

static int add_poll(int fd, int events, void *opaque)
{
	short ev = 0;

	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	return pfd_add(opaque, fd, ev);
}

static int get_revents(int idx, void *opaque)
{
	struct usernet *u = opaque;
	short re;
	int ev = 0;

	if (idx < POLL_FIRST || (unsigned)idx >= u->nr_pfd)
		return 0;
	re = u->pfd[idx].revents;
	if (re & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (re & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (re & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (re & (POLLERR | POLLNVAL))
		ev |= SLIRP_POLL_ERR;
	if (re & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

/* poll()'s timeout: libslirp's (UINT32_MAX: none), or sooner for an armed timer. */
static int poll_timeout(const struct usernet *u, uint32_t slirp_ms)
{
	int64_t now = now_ns() / 1000000, t = slirp_ms == UINT32_MAX ? -1 : (int64_t)slirp_ms;

	for (const struct usernet_timer *p = u->timers; p; p = p->next) {
		int64_t left;

		if (p->expire_ms < 0)
			continue;
		left = p->expire_ms > now ? p->expire_ms - now : 0;
		if (t < 0 || left < t)
			t = left;
	}
	return t > INT32_MAX ? INT32_MAX : (int)t;
}

static void timers_run(struct usernet *u)
{
	int64_t now = now_ns() / 1000000;
	struct usernet_timer *t;

	/*
	 * A callback may re-arm or free timers: start over after each one. One
	 * re-armed for the past waits for the next turn rather than looping here.
	 */
	for (unsigned i = 0; i < USERNET_TIMERS_PER_TURN; i++) {
		for (t = u->timers; t && (t->expire_ms < 0 || t->expire_ms > now); t = t->next)
			;
		if (!t)
			return;
		t->expire_ms = -1;
		if (t->cb)
			t->cb(t->cb_opaque);
		else
			slirp_handle_timer(u->slirp, t->id, t->cb_opaque);
	}
}

/* One frame from the guest: answered from the hosts file, or into libslirp. */
static void frame_in(struct usernet *u, size_t len)
{
	const uint8_t *frame = u->in + TAP_VNET_HDR_LEN;
	size_t n;

	/* The header carries nothing: no offloads were offered. */
	if (len < TAP_VNET_HDR_LEN + ETH_HLEN || len - TAP_VNET_HDR_LEN > u->frame_max) {
		log_ratelimited(LOG_WARN, "%s: user network: dropped a %zu-byte frame from the guest",
				u->name, len);
		counter_add_owned(&u->stats.from_guest_bad, 1);
		return;
	}
	len -= TAP_VNET_HDR_LEN;
	n = hostsdns_reply(frame, len, USERNET_DNS, u->hosts_path, u->reply, sizeof(u->reply));
	if (n) {
		counter_add_owned(&u->stats.dns_hosts, 1);
		to_guest(u->reply, n, u);
		return;
	}
	slirp_input(u->slirp, frame, (int)len);
}

static void from_guest(struct usernet *u)
{
	for (unsigned i = 0; i < USERNET_BATCH; i++) {
		/* MSG_TRUNC: the frame's whole length, even past the buffer. */
		ssize_t r = recv(u->fd, u->in, sizeof(u->in), MSG_DONTWAIT | MSG_TRUNC);

		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_ratelimited(LOG_WARN, "%s: user network: from the device: %s",
						u->name, strerror(errno));
			return;
		}
		if (r == 0) { /* the device is gone: stop polling its end */
			u->peer_gone = true;
			return;
		}
		frame_in(u, (size_t)r);
	}
}

static void *usernet_main(void *arg)
{
	struct usernet *u = arg;

	for (;;) {
		uint32_t timeout = UINT32_MAX;
		int n;

		u->nr_pfd = POLL_FIRST;
		u->pfd[POLL_STOP] = (struct pollfd){ .fd = u->stop_fd, .events = POLLIN };
		u->pfd[POLL_GUEST] = (struct pollfd){ .fd = u->peer_gone ? -1 : u->fd,
						      .events = POLLIN };
		slirp_pollfds_fill(u->slirp, &timeout, add_poll, u);
		n = poll(u->pfd, u->nr_pfd, poll_timeout(u, timeout));
		if (n < 0 && errno != EINTR)
			log_ratelimited(LOG_WARN, "%s: user network: poll: %s", u->name,
					strerror(errno));
		slirp_pollfds_poll(u->slirp, n < 0, get_revents, u);
		timers_run(u);
		if (n > 0 && u->pfd[POLL_STOP].revents)
			return NULL;
		if (n > 0 && (u->pfd[POLL_GUEST].revents & (POLLIN | POLLHUP)))
			from_guest(u);
	}
}

/* ---- set-up ------------------------------------------------------------ */

static struct in_addr in4(uint32_t host_order)
{
	return (struct in_addr){ .s_addr = htonl(host_order) };
}

static int hostfwd_add(struct usernet *u, const struct vm_net_hostfwd *f, struct err *err)
{
	struct in_addr host, guest;
	char rule[CONFIG_HOSTFWD_TEXT_MAX + 1];

	memcpy(&host.s_addr, f->host_addr, 4);
	memcpy(&guest.s_addr, f->guest_addr, 4);
	errno = 0;
	if (slirp_add_hostfwd(u->slirp, f->udp, host, f->host_port, guest, f->guest_port) == 0)
		return 0;
	config_hostfwd_format(f, rule, sizeof(rule));
	if (errno == EADDRINUSE)
		return err_set(err, -EADDRINUSE,
			       "%s: hostfwd %s: host port %u is in use (another program listens on it)",
			       u->name, rule, f->host_port);
	return err_set(err, errno ? -errno : -EINVAL, "%s: hostfwd %s: cannot listen on port %u: %s",
		       u->name, rule, f->host_port,
		       errno ? strerror(errno) : "libslirp refused it");
}

static int slirp_start(struct usernet *u, const struct vm_net_hostfwd *fwd, unsigned nr_fwd,
		       struct err *err)
{
	SlirpConfig cfg = {
		.version = 4,
		.in_enabled = true,
		.vnetwork = in4(USERNET_NET),
		.vnetmask = in4(0xffffff00u),
		.vhost = in4(USERNET_HOST),
		.vdhcp_start = in4(USERNET_DHCP_START),
		.vnameserver = in4(USERNET_DNS),
		.if_mtu = u->mtu,
		.if_mru = u->mtu,
	};
	int rc;

	u->slirp = slirp_new(&cfg, &usernet_cb, u);
	if (!u->slirp)
		return err_set(err, -ENOMEM, "%s: user network: libslirp did not start", u->name);
	for (unsigned i = 0; i < nr_fwd; i++) {
		rc = hostfwd_add(u, &fwd[i], err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void usernet_free(struct usernet *u)
{
	if (u->slirp)
		slirp_cleanup(u->slirp);
	while (u->timers)
		timer_free(u->timers, u);
	if (u->fd >= 0)
		close(u->fd);
	if (u->stop_fd >= 0)
		close(u->stop_fd);
	free(u->pfd);
	free(u->hosts_path);
	free(u);
}

int usernet_create(struct usernet **out, const char *name, const struct vm_net_hostfwd *fwd,
		   unsigned nr_fwd, unsigned mtu, const char *hosts_path, int *fd,
		   struct err *err)
{
	struct usernet *u;
	int sv[2] = { -1, -1 }, size = USERNET_SOCKBUF, rc;

	/* libslirp refuses others with a message on stderr, not a reason. */
	if (mtu && (mtu < 68 || mtu > USERNET_MTU_MAX))
		return err_set(err, -EINVAL, "%s: user network: MTU %u is not 68 to %u", name, mtu,
			       USERNET_MTU_MAX);
	u = calloc(1, sizeof(*u));
	if (!u)
		return err_set(err, -ENOMEM, "%s: user network: out of memory", name);
	u->fd = u->stop_fd = -1;
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->mtu = mtu ? mtu : USERNET_MTU_DEFAULT;
	u->frame_max = USERNET_FRAME_MAX(u->mtu);
	u->max_pfd = 16;
	u->pfd = calloc(u->max_pfd, sizeof(*u->pfd));
	u->hosts_path = strdup(hosts_path ? hosts_path : USERNET_HOSTS);
	if (!u->pfd || !u->hosts_path) {
		rc = err_set(err, -ENOMEM, "%s: user network: out of memory", name);
		goto err_free;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = err_set(err, -errno, "%s: user network: socketpair: %s", name, strerror(errno));
		goto err_free;
	}
	u->fd = sv[0];
	for (unsigned i = 0; i < 2; i++)
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	u->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->stop_fd < 0) {
		rc = err_set(err, -errno, "%s: user network: eventfd: %s", name, strerror(errno));
		goto err_close;
	}
	rc = slirp_start(u, fwd, nr_fwd, err);
	if (rc < 0)
		goto err_close;
	rc = pthread_create(&u->thread, NULL, usernet_main, u);
	if (rc) {
		rc = err_set(err, -rc, "%s: user network: cannot start thread: %s", name,
			     strerror(rc));
		goto err_close;
	}
	u->started = true;
	*fd = sv[1];
	*out = u;
	return 0;
err_close:
	close(sv[1]);
err_free:
	usernet_free(u);
	return rc;
}

void usernet_stats(struct usernet *u, struct usernet_stats *st)
{
	st->to_guest_dropped = counter_get(&u->stats.to_guest_dropped);
	st->from_guest_bad = counter_get(&u->stats.from_guest_bad);
	st->dns_hosts = counter_get(&u->stats.dns_hosts);
}

void usernet_destroy(struct usernet *u)
{
	uint64_t one = 1;

	if (!u)
		return;
	if (u->started) {
		if (write(u->stop_fd, &one, sizeof(one)) < 0)
			log_err("%s: user network: cannot signal stop: %s", u->name, strerror(errno));
		pthread_join(u->thread, NULL);
	}
	usernet_free(u);
}
