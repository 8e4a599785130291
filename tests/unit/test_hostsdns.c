/* tests/unit/test_hostsdns.c: the DNS relay answering from a hosts file, against hostile frames. */
#include <arpa/inet.h>
#include <errno.h>
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

#define DNS_ADDR 0x0a000203u /* 10.0.2.3 */

static char hosts[64];

static const char hosts_text[] =
	"# a comment line\n"
	"127.0.0.1 localhost\n"
	"192.0.2.1   Alpha.Example alpha # a trailing comment: beta\n"
	"192.0.2.2 alpha\n"
	"2001:db8::1 alpha six-only\n"
	"not-an-address beta\n"
	"10.0.0.1\n"
	"   # indented comment gamma\n"
	"192.0.2.9\tgamma\r\n"
	"#192.0.2.10 commented-out\n";

static int setup(void **state)
{
	FILE *f;
	int fd;

	(void)state;
	snprintf(hosts, sizeof(hosts), "/tmp/kite-hosts.XXXXXX");
	fd = mkstemp(hosts);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(hosts_text, f);
	/* A line over the limit naming "longname" is skipped whole, not split. */
	fputs("192.0.2.50 ", f);
	for (int i = 0; i < 300; i++)
		fputs("pad ", f);
	fputs("longname\n", f);
	for (int i = 0; i < 12; i++)
		fprintf(f, "192.0.2.%d many\n", 100 + i);
	fputs("192.0.2.77 last-line-without-newline", f);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(hosts);
	return 0;
}

/* ---- a query message ---------------------------------------------------- */

/* Writes a query for name (dotted) of type qtype into msg; its length. */
static size_t query_msg(uint8_t *msg, const char *name, uint16_t qtype, uint16_t id)
{
	size_t n = 12;
	const char *p = name;

	memset(msg, 0, 12);
	msg[0] = (uint8_t)(id >> 8);
	msg[1] = (uint8_t)id;
	msg[2] = 0x01; /* RD */
	msg[5] = 1;    /* one question */
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		msg[n++] = (uint8_t)l;
		memcpy(msg + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	msg[n++] = 0;
	msg[n++] = (uint8_t)(qtype >> 8);
	msg[n++] = (uint8_t)qtype;
	msg[n++] = 0;
	msg[n++] = 1; /* IN */
	return n;
}

static int qparse(const uint8_t *msg, size_t len, struct hostsdns_query *q)
{
	memset(q, 0xa5, sizeof(*q));
	return hostsdns_query_parse(msg, len, q);
}

static void test_query_parse(void **state)
{
	struct hostsdns_query q;
	uint8_t m[600];
	size_t len;

	(void)state;
	len = query_msg(m, "Alpha.EXAMPLE", 1, 0x1234);
	assert_int_equal(qparse(m, len, &q), 0);
	assert_string_equal(q.name, "alpha.example");
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.qtype, 1);
	assert_true(q.rd);
	assert_int_equal(q.question_len, len - 12);
	/* An EDNS OPT record in the additional section is fine. */
	m[11] = 1;
	assert_int_equal(qparse(m, len, &q), 0);
	m[11] = 0;
	/* Every truncation fails. */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(qparse(m, l, &q), -EINVAL);

	/* A response, another opcode, other counts. */
	m[2] |= 0x80;
	assert_int_equal(qparse(m, len, &q), -EINVAL);
	m[2] = 0x01 | (2 << 3); /* STATUS */
	assert_int_equal(qparse(m, len, &q), -EINVAL);
	m[2] = 0x01;
	m[5] = 0;
	assert_int_equal(qparse(m, len, &q), -EINVAL);
	m[5] = 2;
	assert_int_equal(qparse(m, len, &q), -EINVAL);
	m[5] = 1;
	m[7] = 1; /* an answer in a query */
	assert_int_equal(qparse(m, len, &q), -EINVAL);
	m[7] = 0;
	m[9] = 1; /* authority */
	assert_int_equal(qparse(m, len, &q), -EINVAL);
	m[9] = 0;
	/* Class CH. */
	m[len - 1] = 3;
	assert_int_equal(qparse(m, len, &q), -EINVAL);
	m[len - 1] = 1;
	assert_int_equal(qparse(m, len, &q), 0);

	/* A compression pointer, a reserved label type, a label running past the end. */
	m[12] = 0xc0;
	assert_int_equal(qparse(m, len, &q), -EINVAL);
	m[12] = 0x45;
	assert_int_equal(qparse(m, len, &q), -EINVAL);
	m[12] = 63;
	assert_int_equal(qparse(m, len, &q), -EINVAL);
	/* The root name, a dot or a NUL or a space inside a label. */
	len = query_msg(m, "", 1, 1);
	assert_int_equal(qparse(m, len, &q), -EINVAL);
	len = query_msg(m, "ab.cd", 1, 1);
	m[12] = 5; /* "ab.cd" as one label */
	m[15] = '.';
	assert_int_equal(qparse(m, len - 0, &q), -EINVAL);
	len = query_msg(m, "a b", 1, 1);
	assert_int_equal(qparse(m, len, &q), -EINVAL);
	len = query_msg(m, "ab", 1, 1);
	m[14] = 0;
	assert_int_equal(qparse(m, len, &q), -EINVAL);
}

/* Names of 253 bytes parse; 254 do not, nor do 64-byte labels. */
static void test_query_name_limits(void **state)
{
	struct hostsdns_query q;
	char name[300];
	uint8_t m[600];
	size_t len;

	(void)state;
	/* 4 labels of 63 and one of 1: 63*4 + 1 + 4 dots = 257; trim to exactly 253. */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0'; /* last label 61 bytes */
	len = query_msg(m, name, 1, 1);
	assert_int_equal(qparse(m, len, &q), 0);
	assert_int_equal(strlen(q.name), 253);
	name[253] = 'a';
	name[254] = '\0';
	len = query_msg(m, name, 1, 1);
	assert_int_equal(qparse(m, len, &q), -EINVAL);
	memset(name, 'b', 64);
	name[64] = '\0';
	len = query_msg(m, name, 1, 1);
	assert_int_equal(qparse(m, len, &q), -EINVAL);
}

/* ---- the hosts file ----------------------------------------------------- */

static int lookup(const char *name, int family, uint8_t (*a)[16], unsigned max)
{
	memset(a, 0, max * 16);
	return hostsdns_lookup(hosts, name, family, a, max);
}

static void test_lookup(void **state)
{
	uint8_t a[HOSTSDNS_ADDRS_MAX][16];
	uint8_t want[16];

	(void)state;
	assert_int_equal(lookup("alpha", AF_INET, a, 8), 2);
	inet_pton(AF_INET, "192.0.2.1", want);
	assert_memory_equal(a[0], want, 4);
	inet_pton(AF_INET, "192.0.2.2", want);
	assert_memory_equal(a[1], want, 4);
	/* Case-insensitive both ways. */
	assert_int_equal(lookup("alpha.example", AF_INET, a, 8), 1);
	assert_int_equal(lookup("ALPHA", AF_INET, a, 8), 2);
	assert_int_equal(lookup("alpha", AF_INET6, a, 8), 1);
	inet_pton(AF_INET6, "2001:db8::1", want);
	assert_memory_equal(a[0], want, 16);
	/* Known, but not with this family. */
	assert_int_equal(lookup("six-only", AF_INET, a, 8), 0);
	assert_int_equal(lookup("localhost", AF_INET6, a, 8), 0);
	assert_int_equal(lookup("localhost", AF_INET, a, 8), 1);
	/* Tabs and CRLF; the last line without its newline. */
	assert_int_equal(lookup("gamma", AF_INET, a, 8), 1);
	assert_int_equal(lookup("last-line-without-newline", AF_INET, a, 8), 1);
	/* Comments, lines without an address, a name only inside a too-long line. */
	assert_int_equal(lookup("beta", AF_INET, a, 8), -ENOENT);
	assert_int_equal(lookup("commented-out", AF_INET, a, 8), -ENOENT);
	assert_int_equal(lookup("comment", AF_INET, a, 8), -ENOENT);
	assert_int_equal(lookup("longname", AF_INET, a, 8), -ENOENT);
	assert_int_equal(lookup("pad", AF_INET, a, 8), -ENOENT);
	assert_int_equal(lookup("alph", AF_INET, a, 8), -ENOENT);
	assert_int_equal(lookup("192.0.2.1", AF_INET, a, 8), -ENOENT);
	/* At most max addresses. */
	assert_int_equal(lookup("many", AF_INET, a, 8), 8);
	assert_int_equal(lookup("many", AF_INET, a, 3), 3);
	assert_int_equal(hostsdns_lookup("/nonexistent/hosts", "alpha", AF_INET, a, 8), -ENOENT);
}

/* ---- frames ------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint16_t csum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += rd16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t udp_sum(const uint8_t *ip, const uint8_t *udp, size_t len)
{
	uint32_t s = (uint32_t)rd16(ip + 12) + rd16(ip + 14) + rd16(ip + 16) + rd16(ip + 18) + 17 +
		     (uint32_t)len;

	return csum(udp, len, s);
}

static const uint8_t guest_mac[6] = { 0x02, 0, 0, 0, 0, 0x15 };
static const uint8_t dns_mac[6] = { 0x52, 0x55, 10, 0, 2, 3 };

/* An Ethernet frame with a UDP query from 10.0.2.15:40000 to 10.0.2.3:53, checksummed. */
static size_t query_frame(uint8_t *f, const char *name, uint16_t qtype, size_t ihl)
{
	uint8_t *ip = f + 14, *udp = ip + ihl;
	size_t dlen = query_msg(udp + 8, name, qtype, 0xbeef), ulen = 8 + dlen;

	memcpy(f, dns_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, ihl);
	ip[0] = (uint8_t)(0x40 | ihl / 4);
	ip[2] = (uint8_t)((ihl + ulen) >> 8);
	ip[3] = (uint8_t)(ihl + ulen);
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, "10.0.2.15", ip + 12);
	inet_pton(AF_INET, "10.0.2.3", ip + 16);
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	udp[2] = 0;
	udp[3] = 53;
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	udp[6] = udp[7] = 0;
	{
		uint16_t s = udp_sum(ip, udp, ulen);

		s = s ? s : 0xffff;
		udp[6] = (uint8_t)(s >> 8);
		udp[7] = (uint8_t)s;
	}
	{
		uint16_t s = csum(ip, ihl, 0);

		ip[10] = (uint8_t)(s >> 8);
		ip[11] = (uint8_t)s;
	}
	return 14 + ihl + ulen;
}

/* Makes the IP header checksum right again after a change, where the header fits. */
static void ip_fix(uint8_t *f, size_t len)
{
	size_t ihl = (size_t)(f[14] & 0xf) * 4;
	uint16_t s;

	if (ihl < 20 || 14 + ihl > len)
		return;
	f[14 + 10] = f[14 + 11] = 0;
	s = csum(f + 14, ihl, 0);
	f[14 + 10] = (uint8_t)(s >> 8);
	f[14 + 11] = (uint8_t)s;
}

static size_t reply(const uint8_t *f, size_t len, uint8_t *out, size_t size)
{
	return hostsdns_reply(f, len, DNS_ADDR, hosts, out, size);
}

/* The reply is a well-formed frame back to the guest carrying the hosts file's addresses. */
static void test_reply(void **state)
{
	uint8_t f[1600], out[1600], want[16];
	const uint8_t *ip = out + 14, *udp = ip + 20, *dns = udp + 8;
	size_t len, n, ulen;

	(void)state;
	len = query_frame(f, "Alpha", 1, 20);
	n = reply(f, len, out, sizeof(out));
	assert_true(n > 0);
	assert_memory_equal(out, guest_mac, 6);
	assert_memory_equal(out + 6, dns_mac, 6);
	assert_int_equal(rd16(out + 12), 0x0800);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(rd16(ip + 2), n - 14);
	assert_int_equal(ip[9], 17);
	assert_int_equal(csum(ip, 20, 0), 0);
	assert_memory_equal(ip + 12, f + 14 + 16, 4); /* from 10.0.2.3 */
	assert_memory_equal(ip + 16, f + 14 + 12, 4); /* to the guest */
	assert_int_equal(rd16(udp), 53);
	assert_int_equal(rd16(udp + 2), 40000);
	ulen = rd16(udp + 4);
	assert_int_equal(ulen, n - 14 - 20);
	assert_int_equal(udp_sum(ip, udp, ulen), 0);
	/* DNS: same id, a response with RD and RA, NOERROR, the question, two answers. */
	assert_int_equal(rd16(dns), 0xbeef);
	assert_int_equal(rd16(dns + 2), 0x8180);
	assert_int_equal(rd16(dns + 4), 1);
	assert_int_equal(rd16(dns + 6), 2);
	assert_int_equal(rd16(dns + 8), 0);
	assert_int_equal(rd16(dns + 10), 0);
	assert_memory_equal(dns + 12, f + 14 + 20 + 8 + 12, 11); /* "\x05Alpha\0" + type + class */
	{
		const uint8_t *rr = dns + 12 + 11;

		assert_int_equal(rd16(rr), 0xc00c);
		assert_int_equal(rd16(rr + 2), 1);
		assert_int_equal(rd16(rr + 4), 1);
		assert_int_equal(rd16(rr + 10), 4);
		inet_pton(AF_INET, "192.0.2.1", want);
		assert_memory_equal(rr + 12, want, 4);
		inet_pton(AF_INET, "192.0.2.2", want);
		assert_memory_equal(rr + 16 + 12, want, 4);
		assert_int_equal(n, (size_t)(rr + 32 - out));
	}

	/* AAAA. */
	len = query_frame(f, "alpha", 28, 20);
	n = reply(f, len, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(rd16(dns + 6), 1);
	assert_int_equal(rd16(dns + 12 + 11 + 10), 16);
	inet_pton(AF_INET6, "2001:db8::1", want);
	assert_memory_equal(dns + 12 + 11 + 12, want, 16);
	/* Known without an AAAA address: NOERROR, no answer. */
	len = query_frame(f, "localhost", 28, 20);
	n = reply(f, len, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(rd16(dns + 2) & 0xf, 0);
	assert_int_equal(rd16(dns + 6), 0);
	/* IP options in the query: the reply has none. */
	len = query_frame(f, "gamma", 1, 24);
	n = reply(f, len, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(udp_sum(ip, udp, rd16(udp + 4)), 0);
	/* Ethernet padding after the IP packet is fine. */
	len = query_frame(f, "gamma", 1, 20);
	memset(f + len, 0, 20);
	assert_true(reply(f, len + 20, out, sizeof(out)) > 0);
	/* No room for the reply: left to libslirp. */
	assert_int_equal(reply(f, len, out, 60), 0);
}

/* What is not a query for a known name goes on, untouched, to libslirp. */
static void test_not_ours(void **state)
{
	uint8_t f[1600], g[1600], out[1600];
	size_t len;

	(void)state;
	len = query_frame(f, "unknown-name", 1, 20);
	assert_int_equal(reply(f, len, out, sizeof(out)), 0);
	len = query_frame(f, "alpha", 15, 20); /* MX */
	assert_int_equal(reply(f, len, out, sizeof(out)), 0);
	len = query_frame(f, "alpha", 1, 20);
	assert_true(reply(f, len, out, sizeof(out)) > 0);

	/* Each change below spoils one thing about the frame, checksums kept right. */
#define SPOILED(stmt)                                                 \
	do {                                                          \
		memcpy(g, f, len);                                    \
		g[14 + 20 + 6] = g[14 + 20 + 7] = 0;                  \
		stmt;                                                 \
		ip_fix(g, len);                                       \
		assert_int_equal(reply(g, len, out, sizeof(out)), 0); \
	} while (0)
	SPOILED(g[0] = 0xff);			/* to a multicast address */
	SPOILED(g[12] = 0x81);			/* a VLAN tag, not IPv4 */
	SPOILED(g[14] = 0x65);			/* IPv6 version */
	SPOILED(g[14] = 0x44);			/* IHL 4 */
	SPOILED(g[14] = 0x4f);			/* IHL beyond the packet */
	SPOILED(g[14 + 3] += 100);		/* total length past the frame */
	SPOILED(g[14 + 3] = 20 + 7);		/* total length below IP + UDP headers */
	SPOILED(g[14 + 6] = 0x20);		/* more fragments */
	SPOILED(g[14 + 7] = 1);			/* a fragment offset */
	SPOILED(g[14 + 9] = 6);			/* TCP */
	SPOILED(g[14 + 19] = 2);		/* to 10.0.2.2 */
	SPOILED(g[14 + 20 + 3] = 54);		/* port 54 */
	SPOILED(g[14 + 20 + 5] = 7);		/* UDP length below its header */
	SPOILED(g[14 + 20 + 5] += 1);		/* UDP length past the IP packet */
	SPOILED(g[14 + 20 + 8 + 2] |= 0x80);	/* a DNS response */
#undef SPOILED
	/* Wrong checksums: libslirp's to drop. */
	memcpy(g, f, len);
	g[14 + 10] ^= 1;
	assert_int_equal(reply(g, len, out, sizeof(out)), 0);
	memcpy(g, f, len);
	g[14 + 20 + 7] ^= 1;
	assert_int_equal(reply(g, len, out, sizeof(out)), 0);
	/* No UDP checksum at all is allowed. */
	memcpy(g, f, len);
	g[14 + 20 + 6] = g[14 + 20 + 7] = 0;
	assert_true(reply(g, len, out, sizeof(out)) > 0);
	/* Every truncation is refused. */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(reply(f, l, out, sizeof(out)), 0);
}

/* Random bytes where the headers are right: never a crash, never a reply past out. */
static void test_random(void **state)
{
	uint8_t f[700], out[600];
	unsigned seed = 1;

	(void)state;
	for (unsigned i = 0; i < 20000; i++) {
		size_t len = query_frame(f, "alpha", 1, 20), dlen, n;
		uint8_t *dns = f + 14 + 20 + 8;

		seed = seed * 1103515245 + 12345;
		dlen = 12 + seed % 200;
		for (size_t k = 0; k < dlen; k++) {
			seed = seed * 1103515245 + 12345;
			dns[k] = (uint8_t)(seed >> 16);
		}
		if (i & 1) /* mostly a query with one question, so the name parser is reached */
			dns[2] &= 0x7f, dns[3] = 0, dns[4] = 0, dns[5] = 1, dns[6] = dns[7] = 0,
			dns[8] = dns[9] = 0;
		len = 14 + 20 + 8 + dlen;
		f[14 + 2] = (uint8_t)((len - 14) >> 8);
		f[14 + 3] = (uint8_t)(len - 14);
		ip_fix(f, len);
		f[14 + 20 + 4] = (uint8_t)((8 + dlen) >> 8);
		f[14 + 20 + 5] = (uint8_t)(8 + dlen);
		f[14 + 20 + 6] = f[14 + 20 + 7] = 0; /* no checksum */
		n = reply(f, len, out, sizeof(out));
		assert_true(n <= sizeof(out));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_parse), cmocka_unit_test(test_query_name_limits),
		cmocka_unit_test(test_lookup),	    cmocka_unit_test(test_reply),
		cmocka_unit_test(test_not_ours),    cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
