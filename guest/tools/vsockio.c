/*
 * guest/tools/vsockio.c: a vsock stream between stdin/stdout and a peer, as
 * socat would (busybox has no vsock applet):
 *   vsockio listen PORT       accepts one connection on PORT
 *   vsockio connect CID PORT  connects to CID (2: the host) on PORT
 * Copies stdin to the socket (then shuts down its write side) and the socket
 * to stdout until the peer closes; exits 0 when both directions finished.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (64 * 1024)

static int fail(const char *what)
{
	fprintf(stderr, "vsockio: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Writes all of p; -1 on error. */
static int write_all(int fd, const char *p, size_t len)
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

static int pump(int s)
{
	static char buf[BUF];
	struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = s, .events = POLLIN } };
	int in_open = 1, sock_open = 1;

	while (sock_open) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail("poll");
		}
		if (in_open && p[0].revents) {
			ssize_t n = read(0, buf, sizeof(buf));

			if (n < 0)
				return fail("read stdin");
			if (n == 0) {
				in_open = 0;
				p[0].fd = -1;
				shutdown(s, SHUT_WR);
			} else if (write_all(s, buf, (size_t)n) < 0) {
				return fail("send");
			}
		}
		if (p[1].revents) {
			ssize_t n = read(s, buf, sizeof(buf));

			if (n < 0)
				return fail("recv");
			if (n == 0)
				sock_open = 0;
			else if (write_all(1, buf, (size_t)n) < 0)
				return fail("write stdout");
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK };
	int s, c;

	if (argc == 3 && !strcmp(argv[1], "listen")) {
		sa.svm_cid = VMADDR_CID_ANY;
		sa.svm_port = (unsigned)strtoul(argv[2], NULL, 10);
		s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s < 0)
			return fail("socket");
		if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 1) < 0)
			return fail("listen");
		fprintf(stderr, "vsockio: listening on %u\n", sa.svm_port);
		c = accept(s, NULL, NULL);
		if (c < 0)
			return fail("accept");
		close(s);
		return pump(c);
	}
	if (argc == 4 && !strcmp(argv[1], "connect")) {
		sa.svm_cid = (unsigned)strtoul(argv[2], NULL, 10);
		sa.svm_port = (unsigned)strtoul(argv[3], NULL, 10);
		s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s < 0)
			return fail("socket");
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return fail("connect");
		return pump(s);
	}
	fprintf(stderr, "usage: vsockio listen PORT | vsockio connect CID PORT\n");
	return 2;
}
