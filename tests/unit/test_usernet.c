/* tests/unit/test_usernet.c: the user-mode network back-end driven through its socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/backend.h"

#define HDR TAP_VNET_HDR_LEN

static const uint8_t guest_mac[6] = { 0x02, 0, 0, 0, 0, 0x15 };

/* The next frame from the back-end within 2 s (header stripped), or -1. */
static ssize_t next_frame(int fd, uint8_t *buf, size_t len)
{
	uint8_t msg[2048];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 2000) != 1)
		return -1;
	n = recv(fd, msg, sizeof(msg), 0);
	if (n < HDR)
		return -1;
	/* The header carries nothing: whole frames, checksums done. */
	for (unsigned i = 0; i < HDR; i++)
		assert_int_equal(msg[i], 0);
	memcpy(buf, msg + HDR, (size_t)n - HDR < len ? (size_t)n - HDR : len);
	return n - HDR;
}

static void send_frame(int fd, const uint8_t *frame, size_t len)
{
	uint8_t msg[2048] = { 0 };

	memcpy(msg + HDR, frame, len);
	assert_int_equal(send(fd, msg, HDR + len, 0), (ssize_t)(HDR + len));
}

/* An ARP request for 10.0.2.2: libslirp answers with its host's address. */
static void test_arp(void **state)
{
	struct usernet *u;
	struct err err = { 0 };
	uint8_t f[60] = { 0 }, got[1600];
	ssize_t n;
	int fd;

	(void)state;
	assert_int_equal(usernet_create(&u, "eth9", NULL, 0, NULL, &fd, &err), 0);
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08, f[13] = 0x06;
	f[14] = 0, f[15] = 1, f[16] = 0x08, f[17] = 0, f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 1;
	memcpy(f + 22, guest_mac, 6);
	inet_pton(AF_INET, "10.0.2.15", f + 28);
	inet_pton(AF_INET, "10.0.2.2", f + 38);
	send_frame(fd, f, sizeof(f));
	n = next_frame(fd, got, sizeof(got));
	assert_true(n >= 42);
	assert_memory_equal(got, guest_mac, 6);
	assert_int_equal(got[12] << 8 | got[13], 0x0806);
	assert_int_equal(got[20] << 8 | got[21], 2); /* a reply */
	assert_memory_equal(got + 28, f + 38, 4);    /* for 10.0.2.2 */
	close(fd);
	usernet_destroy(u);
}

/* Too short, too long: dropped and counted; the back-end carries on. */
static void test_bad_frames(void **state)
{
	struct usernet_stats st;
	struct usernet *u;
	struct err err = { 0 };
	static uint8_t big[HDR + 9000];
	uint8_t got[64];
	int fd;

	(void)state;
	assert_int_equal(usernet_create(&u, "eth9", NULL, 0, NULL, &fd, &err), 0);
	assert_int_equal(send(fd, big, 1, 0), 1);
	assert_int_equal(send(fd, big, HDR + 13, 0), HDR + 13);
	assert_int_equal(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	for (unsigned i = 0; i < 200; i++) {
		usernet_stats(u, &st);
		if (st.from_guest_bad == 3)
			break;
		usleep(10000);
	}
	assert_int_equal(st.from_guest_bad, 3);
	/* 14 zero bytes: a frame of no known type, which libslirp ignores. */
	send_frame(fd, big, 14);
	assert_int_equal(next_frame(fd, got, sizeof(got)), -1);
	close(fd);
	usernet_destroy(u);
}

/* A DNS query for a hosts file name comes back answered, through the thread and the socket. */
static void test_dns(void **state)
{
	char hosts[] = "/tmp/kite-hosts.XXXXXX";
	struct usernet_stats st;
	struct usernet *u;
	struct err err = { 0 };
	uint8_t f[128] = { 0 }, got[1600], *ip = f + 14, *udp = ip + 20, *dns = udp + 8;
	static const uint8_t q[] = { 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, 'k', 'i', 't',
				     'e', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1 };
	uint32_t sum = 0;
	ssize_t n;
	int fd, hfd = mkstemp(hosts);

	(void)state;
	assert_true(hfd >= 0);
	assert_int_equal(write(hfd, "192.0.2.44 kite.test\n", 21), 21);
	close(hfd);
	assert_int_equal(usernet_create(&u, "eth9", NULL, 0, hosts, &fd, &err), 0);
	f[0] = 0x52, f[1] = 0x55, f[2] = 10, f[5] = 3;
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08;
	ip[0] = 0x45, ip[3] = (uint8_t)(20 + 8 + sizeof(q)), ip[8] = 64, ip[9] = 17;
	inet_pton(AF_INET, "10.0.2.15", ip + 12);
	inet_pton(AF_INET, "10.0.2.3", ip + 16);
	for (unsigned i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8), ip[11] = (uint8_t)~sum;
	udp[0] = 0x9c, udp[1] = 0x40, udp[3] = 53, udp[5] = (uint8_t)(8 + sizeof(q));
	memcpy(dns, q, sizeof(q));
	send_frame(fd, f, 14 + 20 + 8 + sizeof(q));
	n = next_frame(fd, got, sizeof(got));
	assert_int_equal(n, 14 + 20 + 8 + sizeof(q) + 16);
	assert_memory_equal(got, guest_mac, 6);
	assert_int_equal(got[14 + 20 + 8] << 8 | got[14 + 20 + 9], 0x1234);
	assert_int_equal(got[14 + 20 + 8 + 7], 1); /* one answer */
	assert_int_equal(got[n - 4], 192);
	assert_int_equal(got[n - 1], 44);
	usernet_stats(u, &st);
	assert_int_equal(st.dns_hosts, 1);
	close(fd);
	usernet_destroy(u);
	unlink(hosts);
}

/* A host port someone else listens on: refused, naming the rule and the port. */
static void test_port_in_use(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct vm_net_hostfwd fwd[2];
	struct usernet *u = NULL;
	struct err err = { 0 };
	char rule[128];
	int s = socket(AF_INET, SOCK_STREAM, 0), fd = -1;

	(void)state;
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 1), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	/* The first rule, on a free port, listens; the second cannot. */
	snprintf(rule, sizeof(rule), "udp::%u-:53", ntohs(a.sin_port));
	assert_int_equal(config_hostfwd_parse(rule, &fwd[0], &err), 0);
	snprintf(rule, sizeof(rule), "tcp::%u-:22", ntohs(a.sin_port));
	assert_int_equal(config_hostfwd_parse(rule, &fwd[1], &err), 0);
	assert_int_equal(usernet_create(&u, "eth3", fwd, 2, NULL, &fd, &err), -EADDRINUSE);
	assert_null(u);
	assert_int_equal(fd, -1);
	snprintf(rule, sizeof(rule), "eth3: hostfwd tcp:127.0.0.1:%u-10.0.2.15:22: host port %u is in use",
		 ntohs(a.sin_port), ntohs(a.sin_port));
	if (!strstr(err.msg, rule))
		fail_msg("message \"%s\", want \"%s\"", err.msg, rule);
	/* Once the port is free, the same rules work. */
	close(s);
	assert_int_equal(usernet_create(&u, "eth3", fwd, 2, NULL, &fd, &err), 0);
	close(fd);
	usernet_destroy(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_port_in_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
