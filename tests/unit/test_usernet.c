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

/* The guest (10.0.2.15) asks who has 10.0.2.2: a 60-byte frame in f. */
static void arp_request(uint8_t f[60])
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08, f[13] = 0x06;
	f[14] = 0, f[15] = 1, f[16] = 0x08, f[17] = 0, f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 1;
	memcpy(f + 22, guest_mac, 6);
	inet_pton(AF_INET, "10.0.2.15", f + 28);
	inet_pton(AF_INET, "10.0.2.2", f + 38);
}

/* An ARP request for 10.0.2.2: libslirp answers with its host's address. */
static void test_arp(void **state)
{
	struct usernet *u;
	struct err err = { 0 };
	uint8_t f[60], got[1600];
	ssize_t n;
	int fd;

	(void)state;
	assert_int_equal(usernet_create(&u, "eth9", NULL, 0, 0, NULL, &fd, &err), 0);
	arp_request(f);
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
	/* One byte over the default MTU's frame: Ethernet header, a VLAN tag, the MTU. */
	static uint8_t big[HDR + 14 + 4 + USERNET_MTU_DEFAULT + 1];
	uint8_t got[64];
	int fd;

	(void)state;
	assert_int_equal(usernet_create(&u, "eth9", NULL, 0, 0, NULL, &fd, &err), 0);
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
	assert_int_equal(usernet_create(&u, "eth9", NULL, 0, 0, hosts, &fd, &err), 0);
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

/* An IPv4 header's checksum (RFC 1071). */
static uint16_t ip_csum(const uint8_t *p)
{
	uint32_t sum = 0;

	for (unsigned i = 0; i < 20; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * mtu= reaches libslirp both ways. With MTU 4000, a UDP datagram of 3000
 * bytes (3042 of frame, DF) to 10.0.2.2 is taken, not dropped as too long,
 * and reaches a socket on the host's loopback; the host's 3000-byte answer
 * comes back to the guest whole, one frame of the same size. An MTU
 * libslirp cannot take is refused up front.
 */
static void test_mtu(void **state)
{
	enum { PAYLOAD = 3000, FRAME = 14 + 20 + 8 + PAYLOAD };
	static uint8_t f[HDR + FRAME], got[HDR + 8192], data[PAYLOAD + 1];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
			   from;
	socklen_t alen = sizeof(a), flen = sizeof(from);
	uint8_t *ip = f + HDR + 14, *udp = ip + 20;
	struct pollfd p;
	struct usernet_stats st;
	struct usernet *u = NULL;
	struct err err = { 0 };
	uint16_t sum;
	ssize_t n = -1;
	int fd = -1, s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	(void)state;
	assert_int_equal(usernet_create(&u, "eth9", NULL, 0, USERNET_MTU_MAX + 1, NULL, &fd, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "eth9: user network: MTU 65522 is not 68 to 65521"));
	assert_null(u);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	assert_int_equal(usernet_create(&u, "eth9", NULL, 0, 4000, NULL, &fd, &err), 0);
	/* libslirp learns the guest's address from its ARP request, as it would from Linux's. */
	arp_request(got);
	send_frame(fd, got, 60);
	assert_true(next_frame(fd, got, sizeof(got)) >= 42);
	f[HDR + 0] = 0x52, f[HDR + 1] = 0x55, f[HDR + 2] = 10, f[HDR + 5] = 2;
	memcpy(f + HDR + 6, guest_mac, 6);
	f[HDR + 12] = 0x08;
	ip[0] = 0x45, ip[2] = (uint8_t)((20 + 8 + PAYLOAD) >> 8), ip[3] = (uint8_t)(20 + 8 + PAYLOAD);
	ip[6] = 0x40; /* DF: no fragment on the way */
	ip[8] = 64, ip[9] = 17;
	inet_pton(AF_INET, "10.0.2.15", ip + 12);
	inet_pton(AF_INET, "10.0.2.2", ip + 16);
	sum = ip_csum(ip);
	ip[10] = (uint8_t)(sum >> 8), ip[11] = (uint8_t)sum;
	/* Source port 40000; no UDP checksum (0: none, for IPv4). */
	udp[0] = 0x9c, udp[1] = 0x40, memcpy(udp + 2, &a.sin_port, 2);
	udp[4] = (uint8_t)((8 + PAYLOAD) >> 8), udp[5] = (uint8_t)(8 + PAYLOAD);
	for (unsigned i = 0; i < PAYLOAD; i++)
		udp[8 + i] = (uint8_t)(i * 7);
	assert_int_equal(send(fd, f, sizeof(f), 0), (ssize_t)sizeof(f));
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 2000), 1);
	assert_int_equal(recvfrom(s, data, sizeof(data), 0, (struct sockaddr *)&from, &flen), PAYLOAD);
	assert_memory_equal(data, udp + 8, PAYLOAD);
	usernet_stats(u, &st);
	assert_int_equal(st.from_guest_bad, 0);
	/* The answer; anything else libslirp sends (none expected) is skipped. */
	for (unsigned i = 0; i < PAYLOAD; i++)
		data[i] = (uint8_t)(i * 3);
	assert_int_equal(sendto(s, data, PAYLOAD, 0, (struct sockaddr *)&from, flen), PAYLOAD);
	for (unsigned tries = 0; tries < 10; tries++) {
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 2000) != 1)
			break;
		n = recv(fd, got, sizeof(got), 0);
		if (n >= HDR + 14 + 20 && got[HDR + 12] == 0x08 && got[HDR + 13] == 0 &&
		    got[HDR + 14 + 9] == 17)
			break;
		n = -1;
	}
	assert_int_equal(n, HDR + FRAME);
	assert_memory_equal(got + HDR + 14 + 20 + 8, data, PAYLOAD);
	close(s);
	close(fd);
	usernet_destroy(u);
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
	assert_int_equal(usernet_create(&u, "eth3", fwd, 2, 0, NULL, &fd, &err), -EADDRINUSE);
	assert_null(u);
	assert_int_equal(fd, -1);
	snprintf(rule, sizeof(rule), "eth3: hostfwd tcp:127.0.0.1:%u-10.0.2.15:22: host port %u is in use",
		 ntohs(a.sin_port), ntohs(a.sin_port));
	if (!strstr(err.msg, rule))
		fail_msg("message \"%s\", want \"%s\"", err.msg, rule);
	/* Once the port is free, the same rules work. */
	close(s);
	assert_int_equal(usernet_create(&u, "eth3", fwd, 2, 0, NULL, &fd, &err), 0);
	close(fd);
	usernet_destroy(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_mtu),
		cmocka_unit_test(test_port_in_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
