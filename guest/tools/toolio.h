/*
 * guest/tools/toolio.h: I/O helpers the guest tools share (tcpbench.c,
 * vsockio.c). Each tool is one .c built static on its own (guest/mkguest.sh),
 * so these are static functions, not a library.
 */
#ifndef KITE_GUEST_TOOLIO_H
#define KITE_GUEST_TOOLIO_H

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/* Writes all of p, retrying on EINTR and short writes; -1 on error. */
static inline int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

#endif
