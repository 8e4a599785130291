/* base/log.c: levelled logging to stderr with monotonic timestamps. */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_threshold = LOG_INFO;
static _Atomic int log_fd = STDERR_FILENO;

void log_set_fd(int fd)
{
	atomic_store(&log_fd, fd < 0 ? STDERR_FILENO : fd);
}

void log_set_level(enum log_level level)
{
	atomic_store(&log_threshold, level);
}

enum log_level log_get_level(void)
{
	return atomic_load(&log_threshold);
}

uint64_t clock_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	char line[1024];
	uint64_t now = clock_monotonic_ns();
	int saved_errno = errno;
	int n;
	va_list ap;

	if ((int)level > atomic_load(&log_threshold) || level < LOG_ERROR)
		return;
	n = snprintf(line, sizeof(line), "[%6llu.%06llu] %s: ",
		     (unsigned long long)(now / 1000000000ull),
		     (unsigned long long)(now % 1000000000ull / 1000), names[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/*
	 * One write keeps lines from different threads whole (a pipe takes up
	 * to PIPE_BUF bytes at once, or none with EAGAIN: then the line is lost).
	 */
	if (write(atomic_load(&log_fd), line, (size_t)n) < 0) {
		/* Nowhere left to report it. */
	}
	errno = saved_errno;
}

_Bool log_ratelimit_allow(struct log_ratelimit *rl)
{
	uint64_t now = clock_monotonic_ns();
	uint64_t start = atomic_load(&rl->window_start_ns);

	if (now - start >= 1000000000ull &&
	    atomic_compare_exchange_strong(&rl->window_start_ns, &start, now)) {
		uint32_t dropped = atomic_exchange(&rl->suppressed, 0);

		atomic_store(&rl->in_window, 0);
		if (dropped)
			log_msg(LOG_WARN, "log: suppressed %u repeated messages", dropped);
	}
	if (atomic_fetch_add(&rl->in_window, 1) < LOG_RATE_BURST)
		return 1;
	atomic_fetch_add(&rl->suppressed, 1);
	return 0;
}
