/* backend/iothread.c: the VM's I/O thread, an epoll loop over eventfds. */
#include "backend/backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/log.h"

#define IOTHREAD_EVENTS 16

struct handler {
	int fd;
	iothread_fn fn;
	void *opaque;
	bool own;  /* not an eventfd: fn consumes the readiness itself */
};

struct iothread {
	int epoll_fd;
	int stop_fd;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* handlers[] and nr_handlers */
	struct handler handlers[IOTHREAD_MAX_HANDLERS];
	unsigned nr_handlers;
};

static void handler_run(struct handler *h)
{
	uint64_t count;

	/* Clearing first means a signal during fn() runs it once more, never zero times. */
	if (!h->own && read(h->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "iothread: read eventfd %d: %s", h->fd, strerror(errno));
	h->fn(h->opaque);
}

static void *iothread_main(void *arg)
{
	struct iothread *io = arg;
	struct epoll_event ev[IOTHREAD_EVENTS];

	for (;;) {
		int n = epoll_wait(io->epoll_fd, ev, IOTHREAD_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("iothread: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			if (!ev[i].data.ptr)
				return NULL; /* the stop eventfd */
			handler_run(ev[i].data.ptr);
		}
	}
	return NULL;
}

int iothread_create(struct iothread **out, struct err *err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct iothread *io = calloc(1, sizeof(*io));
	int rc;

	if (!io)
		return err_set(err, -ENOMEM, "iothread: out of memory");
	pthread_mutex_init(&io->lock, NULL);
	io->stop_fd = -1;
	io->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (io->epoll_fd < 0) {
		rc = err_set(err, -errno, "iothread: epoll_create1: %s", strerror(errno));
		goto err_free;
	}
	io->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (io->stop_fd < 0 || epoll_ctl(io->epoll_fd, EPOLL_CTL_ADD, io->stop_fd, &ev) < 0) {
		rc = err_set(err, -errno, "iothread: stop eventfd: %s", strerror(errno));
		goto err_close;
	}
	rc = pthread_create(&io->thread, NULL, iothread_main, io);
	if (rc) {
		rc = err_set(err, -rc, "iothread: cannot start thread: %s", strerror(rc));
		goto err_close;
	}
	io->started = true;
	*out = io;
	return 0;
err_close:
	if (io->stop_fd >= 0)
		close(io->stop_fd);
	close(io->epoll_fd);
err_free:
	pthread_mutex_destroy(&io->lock);
	free(io);
	return rc;
}

static int add(struct iothread *io, int fd, iothread_fn fn, void *opaque, bool own, bool edge,
	       struct err *err)
{
	/* Edge-triggered where asked: a TAP a full guest cannot drain must not make the loop spin. */
	struct epoll_event ev = { .events = edge ? EPOLLIN | EPOLLET : EPOLLIN };
	struct handler *h;
	int rc = 0;

	pthread_mutex_lock(&io->lock);
	if (io->nr_handlers == IOTHREAD_MAX_HANDLERS) {
		rc = err_set(err, -ENOSPC, "iothread: more than %u event sources",
			     IOTHREAD_MAX_HANDLERS);
		goto out_unlock;
	}
	/* Entries never move, so the pointer handed to epoll stays valid. */
	h = &io->handlers[io->nr_handlers];
	*h = (struct handler){ .fd = fd, .fn = fn, .opaque = opaque, .own = own };
	ev.data.ptr = h;
	if (epoll_ctl(io->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		rc = err_set(err, -errno, "iothread: epoll_ctl: %s", strerror(errno));
		goto out_unlock;
	}
	io->nr_handlers++;
out_unlock:
	pthread_mutex_unlock(&io->lock);
	return rc;
}

int iothread_add(struct iothread *io, int fd, iothread_fn fn, void *opaque, struct err *err)
{
	return add(io, fd, fn, opaque, false, false, err);
}

int iothread_add_fd(struct iothread *io, int fd, iothread_fn fn, void *opaque, struct err *err)
{
	return add(io, fd, fn, opaque, true, true, err);
}

int iothread_add_poll(struct iothread *io, int fd, iothread_fn fn, void *opaque,
		      struct err *err)
{
	return add(io, fd, fn, opaque, true, false, err);
}

/* A timerfd reads as its expiry count, as an eventfd does: iothread_add's reading fits. */
int iothread_timer_init(struct iothread *io, struct iothread_timer *t, iothread_fn fn,
			void *opaque, struct err *err)
{
	int rc;

	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd < 0)
		return err_set(err, -errno, "iothread: timerfd_create: %s", strerror(errno));
	rc = add(io, t->fd, fn, opaque, false, false, err);
	if (rc < 0) {
		close(t->fd);
		t->fd = -1;
	}
	return rc;
}

void iothread_timer_arm(struct iothread_timer *t, uint64_t delay_ns)
{
	struct itimerspec its = { 0 };

	/* An all-zero it_value would disarm it. */
	if (!delay_ns)
		delay_ns = 1;
	its.it_value.tv_sec = (time_t)(delay_ns / 1000000000u);
	its.it_value.tv_nsec = (long)(delay_ns % 1000000000u);
	if (timerfd_settime(t->fd, 0, &its, NULL) < 0)
		log_ratelimited(LOG_WARN, "iothread: timerfd_settime: %s", strerror(errno));
}

void iothread_timer_close(struct iothread_timer *t)
{
	if (t->fd > 0)
		close(t->fd);
	t->fd = -1;
}

void iothread_destroy(struct iothread *io)
{
	uint64_t one = 1;

	if (!io)
		return;
	if (io->started) {
		if (write(io->stop_fd, &one, sizeof(one)) < 0)
			log_err("iothread: cannot signal stop: %s", strerror(errno));
		pthread_join(io->thread, NULL);
	}
	close(io->stop_fd);
	close(io->epoll_fd);
	pthread_mutex_destroy(&io->lock);
	free(io);
}
