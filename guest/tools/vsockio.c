/*
 * guest/tools/vsockio.c: a vsock stream between stdin/stdout and a peer, as
 * socat would (busybox has no vsock applet):
 *   vsockio listen PORT       accepts one connection on PORT
 *   vsockio connect CID PORT  connects to CID (2: the host) on PORT
 * Copies stdin to the socket (then shuts down its write side) and the socket
 * to stdout until the peer's end; exits 0 when both directions finished,
 * 1 when the peer reset the connection first.
 *
 * And for the tests' bulk and many-connection cases (tests/vsock_peer.py
 * speaks the same stream on the host):
 *   vsockio gen BYTES SEED    writes the test stream BYTES long to stdout
 *   vsockio multi listen PORT N BYTES SEED
 *   vsockio multi connect CID PORT N BYTES SEED
 *                             N connections at once; connection i sends the
 *                             stream of seed SEED+i and checks that what it
 *                             receives is one whole stream of BYTES (of any
 *                             seed, which it prints); exits 0 when all did.
 *
 * The test stream: 4096-byte blocks, block k being le32 seed, le32 k, then
 * 1022 le32 words of xorshift32 from seed * 2654435761 | 1 (the same in every
 * block, so the host computes it cheaply); the seed and index make every
 * block of every stream distinct.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "toolio.h"

#define BUF (64 * 1024)
#define BLOCK 4096
#define MULTI_MAX 64

static int fail(const char *what)
{
	fprintf(stderr, "vsockio: %s: %s\n", what, strerror(errno));
	return 1;
}

/* ---- the test stream ----------------------------------------------------- */

struct stream {
	uint32_t seed;
	uint64_t pos, len;
	uint8_t block[BLOCK];
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static void stream_init(struct stream *s, uint32_t seed, uint64_t len)
{
	uint32_t x = seed * 2654435761u | 1;

	s->seed = seed;
	s->pos = 0;
	s->len = len;
	put32(s->block, seed);
	for (unsigned i = 8; i < BLOCK; i += 4) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		put32(s->block + i, x);
	}
}

/* The next up to max bytes of the stream into p; 0 at its end. */
static size_t stream_next(struct stream *s, uint8_t *p, size_t max)
{
	size_t n = 0;

	while (n < max && s->pos < s->len) {
		size_t off = s->pos % BLOCK, take = BLOCK - off;

		if (take > max - n)
			take = max - n;
		if (take > s->len - s->pos)
			take = s->len - s->pos;
		put32(s->block + 4, (uint32_t)(s->pos / BLOCK));
		memcpy(p + n, s->block + off, take);
		n += take;
		s->pos += take;
	}
	return n;
}

/* Checks received bytes against the stream whose seed its first 4 bytes name. */
struct check {
	struct stream want;
	uint8_t head[4];
	uint64_t got;
	int bad;
};

static void check_feed(struct check *c, const uint8_t *p, size_t n)
{
	static uint8_t exp[BUF];

	for (; c->got < 4 && n; c->got++, p++, n--)
		c->head[c->got] = *p;
	if (c->got == 4 && !c->want.len) {
		stream_init(&c->want, (uint32_t)(c->head[0] | c->head[1] << 8 | c->head[2] << 16 |
						 (uint32_t)c->head[3] << 24), UINT64_MAX);
		stream_next(&c->want, exp, 4);
	}
	while (n && !c->bad) {
		size_t take = n < sizeof(exp) ? n : sizeof(exp);

		stream_next(&c->want, exp, take);
		c->bad = memcmp(exp, p, take) != 0;
		c->got += take;
		p += take;
		n -= take;
	}
}

/* ---- pumping --------------------------------------------------------------- */

/* Where a connection's bytes come from (fd, else the stream) and go (fd, else checked). */
struct ends {
	int in_fd, out_fd;
	struct stream *gen;
	struct check *check;
};

static int pump(int s, struct ends *e)
{
	static uint8_t buf[BUF];
	struct pollfd p[2] = { { .fd = e->in_fd, .events = POLLIN }, { .fd = s, .events = POLLIN } };

	/* A generated stream never blocks: wait for room in the socket instead. */
	if (e->gen) {
		p[0].fd = s;
		p[0].events = POLLOUT;
	}
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail("poll");
		}
		if (p[0].fd >= 0 && p[0].revents) {
			ssize_t n = e->gen ? (ssize_t)stream_next(e->gen, buf, sizeof(buf))
					   : read(e->in_fd, buf, sizeof(buf));

			if (n < 0)
				return fail("read stdin");
			if (n == 0) {
				p[0].fd = -1;
				shutdown(s, SHUT_WR);
			} else if (write_all(s, (char *)buf, (size_t)n) < 0) {
				return fail("send");
			}
		}
		if (p[1].revents) {
			ssize_t n = read(s, buf, sizeof(buf));

			if (n < 0)
				return fail("recv");
			if (n == 0)
				p[1].fd = -1;
			else if (e->check)
				check_feed(e->check, buf, (size_t)n);
			else if (write_all(e->out_fd, (char *)buf, (size_t)n) < 0)
				return fail("write stdout");
		}
	}
	return 0;
}

static int vsock_listen(unsigned port, int backlog)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, backlog) < 0)
		return -1;
	fprintf(stderr, "vsockio: listening on %u\n", port);
	return s;
}

static int vsock_connect(unsigned cid, unsigned port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* Connection i in its own process: the stream of seed out, a whole stream of len back. */
static int multi_one(int s, unsigned i, uint64_t len, uint32_t seed)
{
	static struct stream gen;
	static struct check check;
	struct ends e = { .in_fd = -1, .out_fd = -1, .gen = &gen, .check = &check };

	stream_init(&gen, seed, len);
	if (pump(s, &e))
		return 1;
	if (check.bad || check.got != len) {
		printf("vsockio: conn %u got %llu bytes%s\n", i, (unsigned long long)check.got,
		       check.bad ? ", not the stream" : "");
		return 1;
	}
	printf("vsockio: conn %u got seed %u\n", i, check.want.seed);
	return 0;
}

/* argv: listen PORT N BYTES SEED | connect CID PORT N BYTES SEED */
static int multi(int argc, char **argv)
{
	int listening = argc == 6 && !strcmp(argv[1], "listen");
	unsigned n, bad = 0, i;
	int s = -1, st;
	uint64_t len;
	uint32_t seed;

	if (!listening && !(argc == 7 && !strcmp(argv[1], "connect")))
		return 2;
	n = (unsigned)strtoul(argv[argc - 3], NULL, 10);
	len = strtoull(argv[argc - 2], NULL, 10);
	seed = (uint32_t)strtoul(argv[argc - 1], NULL, 10);
	if (!n || n > MULTI_MAX)
		return 2;
	if (listening) {
		s = vsock_listen((unsigned)strtoul(argv[2], NULL, 10), (int)n);
		if (s < 0)
			return fail("listen");
	}
	fflush(stdout);
	for (i = 0; i < n; i++) {
		int c = listening ? accept(s, NULL, NULL)
				  : vsock_connect((unsigned)strtoul(argv[2], NULL, 10),
						  (unsigned)strtoul(argv[3], NULL, 10));
		pid_t pid;

		if (c < 0)
			return fail(listening ? "accept" : "connect");
		pid = fork();
		if (pid < 0)
			return fail("fork");
		if (pid == 0) {
			int rc = multi_one(c, i, len, seed + i);

			fflush(stdout);
			_exit(rc);
		}
		close(c);
	}
	for (i = 0; i < n; i++)
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	printf("vsockio: %u of %u connections whole\n", n - bad, n);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct ends std = { .in_fd = 0, .out_fd = 1 };
	int s, c;

	if (argc == 3 && !strcmp(argv[1], "listen")) {
		s = vsock_listen((unsigned)strtoul(argv[2], NULL, 10), 1);
		if (s < 0)
			return fail("listen");
		c = accept(s, NULL, NULL);
		if (c < 0)
			return fail("accept");
		close(s);
		return pump(c, &std);
	}
	if (argc == 4 && !strcmp(argv[1], "connect")) {
		s = vsock_connect((unsigned)strtoul(argv[2], NULL, 10),
				  (unsigned)strtoul(argv[3], NULL, 10));
		if (s < 0)
			return fail("connect");
		return pump(s, &std);
	}
	if (argc == 4 && !strcmp(argv[1], "gen")) {
		static struct stream gen;
		static char buf[BUF];
		size_t n;

		stream_init(&gen, (uint32_t)strtoul(argv[3], NULL, 10),
			    strtoull(argv[2], NULL, 10));
		while ((n = stream_next(&gen, (uint8_t *)buf, sizeof(buf))))
			if (write_all(1, buf, n) < 0)
				return fail("write stdout");
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "multi")) {
		int rc = multi(argc - 1, argv + 1);

		if (rc != 2)
			return rc;
	}
	fprintf(stderr, "usage: vsockio listen PORT | connect CID PORT | gen BYTES SEED |\n"
			"       multi listen PORT N BYTES SEED | multi connect CID PORT N BYTES SEED\n");
	return 2;
}
