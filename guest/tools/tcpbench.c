/*
 * guest/tools/tcpbench.c: stream throughput and request/response rate over
 * TCP or vsock (bench/run.sh net, vsock). The same source runs in the guest
 * (built static into the initramfs) and on the host (build/bench/tcpbench).
 *
 *   tcpbench listen|connect MODE ADDR [SECONDS]
 *
 * listen accepts one connection; connect retries for up to a minute, so
 * either end may start first. MODE is what this end does:
 *   send  writes for SECONDS, half-closes, then waits for the peer to close:
 *         the time so measured ends when the last byte has been read
 *   recv  reads until end of stream, then closes
 *   rr    connect: one-byte request, one-byte answer, for SECONDS;
 *         listen: echoes every byte until end of stream
 * ADDR is one of
 *   tcp:IPV4:PORT    (listen: the address to bind, 0.0.0.0 for any)
 *   vsock:CID:PORT   (listen: CID is ignored)
 *   unix:PATH        a UNIX socket, e.g. kite's PATH_PORT listener for a
 *                    guest's connection to the host's vsock PORT
 *   fc:PATH:PORT     connect only: kite's (Firecracker's) vsock UNIX socket,
 *                    "CONNECT PORT\n" and its "OK ..." answer first
 * Both ends print one line on stdout when done:
 *   tcpbench send|recv bytes=N seconds=S MBps=R      (MB: 10^6 bytes)
 *   tcpbench rr transactions=N seconds=S tps=R
 * Each end times from its first byte to its last, on its own clock.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "toolio.h"

#define BUF (128 * 1024)
#define CONNECT_TRIES 600 /* 100 ms apart */

static char buf[BUF];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what)
{
	fprintf(stderr, "tcpbench: %s: %s\n", what, strerror(errno));
	return -1;
}

/* One resolved ADDR: the socket address, and for fc: the vsock port. */
struct addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_vm vm;
		struct sockaddr_un un;
	} u;
	socklen_t len;
	long fc_port; /* -1 unless fc: */
};

static int parse_port(const char *s, long *port)
{
	char *end;

	errno = 0;
	*port = strtol(s, &end, 10);
	return (errno || end == s || *end || *port < 0 || *port > 0xffffffffL) ? -1 : 0;
}

/* Splits "PATH:PORT" at the last ':' (paths may hold ':'). */
static int parse_path_port(char *s, long *port)
{
	char *colon = strrchr(s, ':');

	if (!colon)
		return -1;
	*colon = '\0';
	return parse_port(colon + 1, port);
}

static int parse_addr(char *spec, struct addr *a)
{
	long port, cid;
	char *rest;

	memset(a, 0, sizeof(*a));
	a->fc_port = -1;
	if (!strncmp(spec, "tcp:", 4)) {
		rest = spec + 4;
		if (parse_path_port(rest, &port) < 0 || port > 0xffff)
			return -1;
		a->u.in.sin_family = AF_INET;
		a->u.in.sin_port = htons((unsigned short)port);
		if (inet_pton(AF_INET, rest, &a->u.in.sin_addr) != 1)
			return -1;
		a->len = sizeof(a->u.in);
	} else if (!strncmp(spec, "vsock:", 6)) {
		rest = spec + 6;
		if (parse_path_port(rest, &port) < 0 || parse_port(rest, &cid) < 0)
			return -1;
		a->u.vm.svm_family = AF_VSOCK;
		a->u.vm.svm_cid = (unsigned)cid;
		a->u.vm.svm_port = (unsigned)port;
		a->len = sizeof(a->u.vm);
	} else if (!strncmp(spec, "unix:", 5) || !strncmp(spec, "fc:", 3)) {
		rest = strchr(spec, ':') + 1;
		if (spec[0] == 'f' && parse_path_port(rest, &a->fc_port) < 0)
			return -1;
		if (strlen(rest) >= sizeof(a->u.un.sun_path))
			return -1;
		a->u.un.sun_family = AF_UNIX;
		strcpy(a->u.un.sun_path, rest);
		a->len = sizeof(a->u.un);
	} else {
		return -1;
	}
	return 0;
}

/* kite answers "OK <port>\n" once the guest accepted, or closes. 1: accepted. */
static int fc_handshake(int s, long port)
{
	char line[64];
	size_t n = 0;

	dprintf(s, "CONNECT %ld\n", port);
	while (n < sizeof(line) - 1) {
		ssize_t r = read(s, line + n, 1);

		if (r <= 0)
			return 0;
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
	return !strncmp(line, "OK ", 3);
}

static int open_connected(const struct addr *a)
{
	for (int i = 0; i < CONNECT_TRIES; i++) {
		int s = socket(a->u.sa.sa_family, SOCK_STREAM, 0);

		if (s < 0)
			return fail("socket");
		if (connect(s, &a->u.sa, a->len) == 0 &&
		    (a->fc_port < 0 || fc_handshake(s, a->fc_port)))
			return s;
		close(s);
		usleep(100 * 1000);
	}
	errno = ETIMEDOUT;
	return fail("connect");
}

static int open_accepted(struct addr *a)
{
	int s = socket(a->u.sa.sa_family, SOCK_STREAM, 0), c, one = 1;

	if (s < 0)
		return fail("socket");
	if (a->u.sa.sa_family == AF_INET)
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->u.sa.sa_family == AF_VSOCK)
		a->u.vm.svm_cid = VMADDR_CID_ANY;
	if (a->u.sa.sa_family == AF_UNIX)
		unlink(a->u.un.sun_path);
	if (bind(s, &a->u.sa, a->len) < 0 || listen(s, 1) < 0)
		return fail("listen");
	c = accept(s, NULL, NULL);
	if (c < 0)
		return fail("accept");
	close(s);
	if (a->u.sa.sa_family == AF_UNIX)
		unlink(a->u.un.sun_path);
	return c;
}

static void report_bytes(const char *mode, unsigned long long bytes, double t)
{
	printf("tcpbench %s bytes=%llu seconds=%.3f MBps=%.2f\n", mode, bytes, t,
	       t > 0 ? bytes / t / 1e6 : 0);
}

static void report_rr(unsigned long long n, double t)
{
	printf("tcpbench rr transactions=%llu seconds=%.3f tps=%.1f\n", n, t, t > 0 ? n / t : 0);
}

static int bulk_send(int s, double seconds)
{
	unsigned long long bytes = 0;
	double t0 = now(), end = t0 + seconds;

	memset(buf, 0x5a, sizeof(buf));
	while (now() < end) {
		if (write_all(s, buf, sizeof(buf)) < 0)
			return fail("send");
		bytes += sizeof(buf);
	}
	shutdown(s, SHUT_WR);
	while (read(s, buf, sizeof(buf)) > 0)
		;
	report_bytes("send", bytes, now() - t0);
	return 0;
}

static int bulk_recv(int s)
{
	unsigned long long bytes = 0;
	double t0 = 0;
	ssize_t n;

	while ((n = read(s, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail("recv");
		}
		if (!bytes)
			t0 = now();
		bytes += (size_t)n;
	}
	report_bytes("recv", bytes, bytes ? now() - t0 : 0);
	return 0;
}

static int rr_client(int s, double seconds)
{
	unsigned long long n = 0;
	double t0 = now(), end = t0 + seconds;
	char c = 'x';

	while (now() < end) {
		if (write(s, &c, 1) != 1 || read(s, &c, 1) != 1)
			return fail("request/response");
		n++;
	}
	report_rr(n, now() - t0);
	return 0;
}

static int rr_server(int s)
{
	unsigned long long n = 0;
	double t0 = 0;
	char c;
	ssize_t r;

	while ((r = read(s, &c, 1)) == 1) {
		if (!n)
			t0 = now();
		if (write(s, &c, 1) != 1)
			return fail("answer");
		n++;
	}
	if (r < 0)
		return fail("request");
	report_rr(n, n ? now() - t0 : 0);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: tcpbench listen|connect send|recv|rr "
			"tcp:IP:PORT|vsock:CID:PORT|unix:PATH|fc:PATH:PORT [SECONDS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct addr a;
	double seconds = 5;
	int listening, s, one = 1, rc;
	const char *mode;

	if (argc < 4 || argc > 5)
		return usage();
	listening = !strcmp(argv[1], "listen");
	mode = argv[2];
	if ((!listening && strcmp(argv[1], "connect")) ||
	    (strcmp(mode, "send") && strcmp(mode, "recv") && strcmp(mode, "rr")) ||
	    parse_addr(argv[3], &a) < 0 || (listening && a.fc_port >= 0))
		return usage();
	if (argc == 5 && (seconds = atof(argv[4])) <= 0)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	/* Never outlive the benchmark, whatever the peer does. */
	alarm((unsigned)seconds + 300);

	s = listening ? open_accepted(&a) : open_connected(&a);
	if (s < 0)
		return 1;
	if (a.u.sa.sa_family == AF_INET)
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!strcmp(mode, "send"))
		rc = bulk_send(s, seconds);
	else if (!strcmp(mode, "recv"))
		rc = bulk_recv(s);
	else
		rc = listening ? rr_server(s) : rr_client(s, seconds);
	close(s);
	return rc < 0;
}
