/* backend/hostsdns.c: the user-mode network's DNS answers from the host's hosts file. */
#include "backend/backend.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/*
 * Everything here reads guest bytes: every offset is checked against the
 * length it indexes before the read, and a frame that is not exactly a
 * query we answer goes on to libslirp unchanged (which has its own checks).
 */

#define ETH_HLEN 14
#define ETH_P_IPV4 0x0800
#define IP_HLEN 20
#define IP_PROTO_UDP 17
#define UDP_HLEN 8
#define DNS_PORT 53
#define DNS_HLEN 12
#define DNS_TYPE_A 1
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1
#define DNS_FLAG_QR 0x8000u
#define DNS_FLAG_RD 0x0100u
#define DNS_FLAG_RA 0x0080u
#define DNS_OPCODE(f) (((f) >> 11) & 0xfu)
/* A name's labels are 63 bytes at most; a length byte with either top bit set is a pointer. */
#define DNS_LABEL_MAX 63
/* Answers are not cached: the hosts file is read again for every query. */
#define DNS_TTL 0
/* The reply's own IP header: no options, DF, the usual TTL. */
#define REPLY_IP_TTL 64
/* A hosts file line longer than this is skipped whole, not split. */
#define HOSTS_LINE_MAX 1024

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

/* ---- the DNS message ---------------------------------------------------- */

/* Appends label (len bytes at p) to name, lower-cased; -EINVAL for what we do not match. */
static int name_append(char *name, size_t *n, const uint8_t *p, size_t len)
{
	if (*n + !!*n + len > HOSTSDNS_NAME_MAX)
		return -EINVAL;
	if (*n)
		name[(*n)++] = '.';
	for (size_t i = 0; i < len; i++) {
		/* A dot or control byte inside a label could never match a hosts file name. */
		if (p[i] <= ' ' || p[i] == '.' || p[i] >= 0x7f)
			return -EINVAL;
		name[(*n)++] = (char)tolower(p[i]);
	}
	name[*n] = '\0';
	return 0;
}

int hostsdns_query_parse(const uint8_t *msg, size_t len, struct hostsdns_query *q)
{
	size_t off = DNS_HLEN, n = 0;
	uint16_t flags;

	if (len < DNS_HLEN)
		return -EINVAL;
	flags = be16(msg + 2);
	/* A query, opcode QUERY, one question, nothing in answer or authority (EDNS's OPT may follow). */
	if ((flags & DNS_FLAG_QR) || DNS_OPCODE(flags) != 0 || be16(msg + 4) != 1 ||
	    be16(msg + 6) != 0 || be16(msg + 8) != 0)
		return -EINVAL;
	q->name[0] = '\0';
	for (;;) {
		uint8_t l;

		if (off >= len)
			return -EINVAL;
		l = msg[off++];
		if (l == 0)
			break;
		/* Compression has nothing earlier to point at in a question; 0x40 is reserved. */
		if (l > DNS_LABEL_MAX || len - off < l)
			return -EINVAL;
		if (name_append(q->name, &n, msg + off, l) < 0)
			return -EINVAL;
		off += l;
	}
	if (!n || len - off < 4 || be16(msg + off + 2) != DNS_CLASS_IN)
		return -EINVAL;
	q->id = be16(msg);
	q->rd = !!(flags & DNS_FLAG_RD);
	q->qtype = be16(msg + off);
	q->question_len = off + 4 - DNS_HLEN;
	return 0;
}

ssize_t hostsdns_answer(const uint8_t *query, const struct hostsdns_query *q,
			const uint8_t (*addrs)[16], unsigned nr, uint8_t *out, size_t size)
{
	size_t alen = q->qtype == DNS_TYPE_AAAA ? 16 : 4;
	size_t rr = 2 + 2 + 2 + 4 + 2 + alen; /* pointer, type, class, TTL, rdlength, rdata */
	size_t need = DNS_HLEN + q->question_len + nr * rr;
	uint8_t *p;

	if ((q->qtype != DNS_TYPE_A && q->qtype != DNS_TYPE_AAAA) || nr > HOSTSDNS_ADDRS_MAX ||
	    q->question_len > HOSTSDNS_NAME_MAX + 2 + 4 || need > size)
		return -ENOSPC;
	put_be16(out, q->id);
	put_be16(out + 2, (uint16_t)(DNS_FLAG_QR | DNS_FLAG_RA | (q->rd ? DNS_FLAG_RD : 0)));
	put_be16(out + 4, 1);
	put_be16(out + 6, (uint16_t)nr);
	put_be16(out + 8, 0);
	put_be16(out + 10, 0);
	/* The question as the guest wrote it, so its case and bytes come back unchanged. */
	memcpy(out + DNS_HLEN, query + DNS_HLEN, q->question_len);
	p = out + DNS_HLEN + q->question_len;
	for (unsigned i = 0; i < nr; i++, p += rr) {
		put_be16(p, 0xc000 | DNS_HLEN); /* the question's name */
		put_be16(p + 2, q->qtype);
		put_be16(p + 4, DNS_CLASS_IN);
		put_be32(p + 6, DNS_TTL);
		put_be16(p + 10, (uint16_t)alen);
		memcpy(p + 12, addrs[i], alen);
	}
	return (ssize_t)need;
}

/* ---- the hosts file ----------------------------------------------------- */

/* One line, comment cut off: whether it names name; its address into addr when of family. */
static bool hosts_line(char *line, const char *name, int family, uint8_t addr[16], bool *ok)
{
	char *save, *tok, *hash = strchr(line, '#');
	uint8_t a[16];
	int fam;

	if (hash)
		*hash = '\0';
	tok = strtok_r(line, " \t\r\n", &save);
	if (!tok)
		return false;
	if (inet_pton(AF_INET, tok, a) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, tok, a) == 1)
		fam = AF_INET6;
	else
		return false; /* not an address glibc would take either */
	while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
		if (strcasecmp(tok, name))
			continue;
		*ok = fam == family;
		if (*ok)
			memcpy(addr, a, fam == AF_INET ? 4 : 16);
		return true;
	}
	return false;
}

int hostsdns_lookup(const char *path, const char *name, int family, uint8_t (*addrs)[16],
		    unsigned max)
{
	char line[HOSTS_LINE_MAX];
	bool found = false, skipping = false;
	unsigned nr = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		bool whole = strchr(line, '\n') || feof(f), ok = false;
		uint8_t a[16] = { 0 };

		/* The rest of an over-long line, or all of it: no part of it is trusted. */
		if (skipping || !whole) {
			skipping = !whole;
			continue;
		}
		if (!hosts_line(line, name, family, a, &ok))
			continue;
		found = true;
		if (ok && nr < max)
			memcpy(addrs[nr++], a, sizeof(a));
	}
	fclose(f);
	return found ? (int)nr : -ENOENT;
}

/* ---- Ethernet, IPv4, UDP ------------------------------------------------ */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += be16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The UDP checksum over the pseudo-header (addresses, protocol, length) and udp. */
static uint16_t udp_csum(const uint8_t *src, const uint8_t *dst, const uint8_t *udp, size_t len)
{
	uint32_t sum = csum_add(0, src, 4);

	sum = csum_add(sum, dst, 4);
	sum += IP_PROTO_UDP + (uint32_t)len;
	return csum_fold(csum_add(sum, udp, len));
}

/* Where the DNS message of a query frame starts, and its length; -EINVAL when it is no query to us. */
static int frame_dns(const uint8_t *f, size_t len, uint32_t dns_addr, size_t *off, size_t *dlen)
{
	const uint8_t *ip = f + ETH_HLEN, *udp;
	size_t ihl, tot, ulen;
	uint8_t dst[4];

	/* The reply comes from the address the query went to: a unicast one. */
	if (len < ETH_HLEN + IP_HLEN || be16(f + 12) != ETH_P_IPV4 || (f[0] & 1))
		return -EINVAL;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	tot = be16(ip + 2);
	put_be32(dst, dns_addr);
	/* Version 4, a whole header, no fragment, UDP to the DNS address; padding may follow. */
	if ((ip[0] >> 4) != 4 || ihl < IP_HLEN || tot < ihl + UDP_HLEN || tot > len - ETH_HLEN ||
	    (be16(ip + 6) & 0x3fff) || ip[9] != IP_PROTO_UDP || memcmp(ip + 16, dst, 4) ||
	    csum_fold(csum_add(0, ip, ihl)) != 0)
		return -EINVAL;
	udp = ip + ihl;
	ulen = be16(udp + 4);
	if (be16(udp + 2) != DNS_PORT || ulen < UDP_HLEN || ulen > tot - ihl)
		return -EINVAL;
	/* A wrong checksum is libslirp's to drop, as it would any other. */
	if (be16(udp + 6) && udp_csum(ip + 12, ip + 16, udp, ulen) != 0)
		return -EINVAL;
	*off = ETH_HLEN + ihl + UDP_HLEN;
	*dlen = ulen - UDP_HLEN;
	return 0;
}

/* Wraps the DNS message already at out + ETH_HLEN + IP_HLEN + UDP_HLEN for the query's sender. */
static size_t frame_reply(const uint8_t *query, size_t dns_len, uint8_t *out)
{
	const uint8_t *qip = query + ETH_HLEN, *qudp = qip + (size_t)(qip[0] & 0xf) * 4;
	uint8_t *ip = out + ETH_HLEN, *udp = ip + IP_HLEN;
	size_t ulen = UDP_HLEN + dns_len;
	uint16_t sum;

	memcpy(out, query + 6, 6); /* to the guest's address */
	memcpy(out + 6, query, 6); /* from the one it sent the query to */
	put_be16(out + 12, ETH_P_IPV4);
	memset(ip, 0, IP_HLEN);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)(IP_HLEN + ulen));
	put_be16(ip + 6, 0x4000); /* DF */
	ip[8] = REPLY_IP_TTL;
	ip[9] = IP_PROTO_UDP;
	memcpy(ip + 12, qip + 16, 4);
	memcpy(ip + 16, qip + 12, 4);
	put_be16(ip + 10, csum_fold(csum_add(0, ip, IP_HLEN)));
	put_be16(udp, DNS_PORT);
	memcpy(udp + 2, qudp, 2); /* the guest's source port */
	put_be16(udp + 4, (uint16_t)ulen);
	put_be16(udp + 6, 0);
	sum = udp_csum(ip + 12, ip + 16, udp, ulen);
	put_be16(udp + 6, sum ? sum : 0xffff); /* 0 would mean "no checksum" */
	return ETH_HLEN + IP_HLEN + ulen;
}

size_t hostsdns_reply(const uint8_t *frame, size_t len, uint32_t dns_addr,
		      const char *hosts_path, uint8_t *out, size_t size)
{
	const size_t hdrs = ETH_HLEN + IP_HLEN + UDP_HLEN;
	uint8_t addrs[HOSTSDNS_ADDRS_MAX][16];
	struct hostsdns_query q;
	size_t off, dlen;
	ssize_t alen;
	int nr;

	if (size < hdrs || frame_dns(frame, len, dns_addr, &off, &dlen) < 0 ||
	    hostsdns_query_parse(frame + off, dlen, &q) < 0 ||
	    (q.qtype != DNS_TYPE_A && q.qtype != DNS_TYPE_AAAA))
		return 0;
	nr = hostsdns_lookup(hosts_path, q.name, q.qtype == DNS_TYPE_A ? AF_INET : AF_INET6, addrs,
			     HOSTSDNS_ADDRS_MAX);
	/* A name the file does not know goes to the host's resolver through libslirp. */
	if (nr < 0)
		return 0;
	/* Known with no address of this family: NOERROR and no answer, as the host would say. */
	alen = hostsdns_answer(frame + off, &q, (const uint8_t(*)[16])addrs, (unsigned)nr,
			       out + hdrs, size - hdrs);
	if (alen < 0)
		return 0;
	return frame_reply(frame, (size_t)alen, out);
}
