/*
 * guest/tools/udpecho.c: one UDP datagram in and back out (busybox's nc has
 * no UDP), for the user network's hostfwd=udp test:
 *   udpecho PORT SECONDS   waits up to SECONDS for a datagram on PORT, writes
 *                          it and a newline to stdout and sends it back to
 *                          its sender; exit 0 after one echo, 1 otherwise
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "udpecho: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, from;
	socklen_t flen = sizeof(from);
	static char buf[65536]; /* any datagram: the user network's MTU may be large */
	struct pollfd p;
	ssize_t n;
	int s;

	if (argc != 3) {
		fprintf(stderr, "usage: udpecho PORT SECONDS\n");
		return 2;
	}
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		return fail("bind");
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	if (poll(&p, 1, atoi(argv[2]) * 1000) != 1) {
		fprintf(stderr, "udpecho: no datagram within %s s\n", argv[2]);
		return 1;
	}
	n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
	if (n < 0)
		return fail("recvfrom");
	fwrite(buf, 1, (size_t)n, stdout);
	putchar('\n');
	if (sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, flen) != n)
		return fail("sendto");
	return 0;
}
