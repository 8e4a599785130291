/* base/log.h: levelled logging to stderr with monotonic timestamps. */
#ifndef KITE_BASE_LOG_H
#define KITE_BASE_LOG_H

#include <stdatomic.h>
#include <stdint.h>

/* LOG_OFF is a threshold only: nothing is logged at it. */
enum log_level { LOG_OFF = -1, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* The one piece of process-wide state kite allows (STYLE 4): the threshold. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/*
 * Sends the log to fd instead of stderr (-1: back to stderr); the caller
 * keeps fd open while it is the log. A line that cannot be written at once
 * is dropped, so with fd non-blocking a slow or absent FIFO reader never
 * stalls the thread that logs (a vCPU, the API).
 */
void log_set_fd(int fd);

/* Writes "[  secs.micros] LEVEL subsys: message" to the log, one write per line. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * Guest-triggerable messages go through a per-call-site limiter so a hostile
 * guest cannot flood the host log: at most LOG_RATE_BURST lines per second per
 * site, then one "suppressed N" line when the window reopens.
 */
#define LOG_RATE_BURST 10

struct log_ratelimit {
	_Atomic uint64_t window_start_ns;
	_Atomic uint32_t in_window;
	_Atomic uint32_t suppressed;
};

/* Returns true when this call may log; counts it otherwise. */
_Bool log_ratelimit_allow(struct log_ratelimit *rl);

#define log_ratelimited(level, ...)                                  \
	do {                                                         \
		static struct log_ratelimit rl_site_;                \
		if (log_ratelimit_allow(&rl_site_))                  \
			log_msg(level, __VA_ARGS__);                 \
	} while (0)

/* Monotonic clock in nanoseconds. */
uint64_t clock_monotonic_ns(void);

#endif
