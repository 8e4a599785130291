/* fuzz/fuzz_blk.c: libFuzzer target: the virtio-blk request parser on hostile chains. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtio.h"

/*
 * Input: byte 0 the number of readable buffers, byte 1 of writable ones
 * (each % 8), byte 2 the read-only flag, bytes 3-10 the capacity in sectors,
 * then one length byte per buffer (b < 128: b bytes, else (b - 127) * 16), then the bytes the
 * buffers hold. Each buffer is its own heap allocation, so ASan sees any overrun.
 */
#define MAX_BUFS 16

static bool inside(const struct virtq_chain *c, const uint8_t *p, size_t len, unsigned from,
		   unsigned to)
{
	for (unsigned i = from; i < to; i++) {
		const uint8_t *b = c->iov[i].iov_base;

		if (p >= b && len <= c->iov[i].iov_len &&
		    p - b <= (ptrdiff_t)(c->iov[i].iov_len - len))
			return true;
	}
	return false;
}

static void req_check(const struct virtq_chain *c, const struct virtio_blk_req *r,
		      enum virtio_blk_verdict v, uint64_t capacity, bool ro)
{
	unsigned all = c->nr_readable + c->nr_writable;
	uint64_t sum = 0;

	if (v == BLK_REQ_MALFORMED)
		return;
	/* The status byte is the chain's last writable byte. */
	if (!r->status_byte || !inside(c, r->status_byte, 1, c->nr_readable, all))
		abort();
	for (unsigned i = 0; i < r->nr_iov; i++) {
		if (!inside(c, r->iov[i].iov_base, r->iov[i].iov_len, 0, all))
			abort();
		sum += r->iov[i].iov_len;
	}
	if (v != BLK_REQ_IO)
		return;
	if (ro && r->type != VIRTIO_BLK_T_IN && r->type != VIRTIO_BLK_T_FLUSH)
		abort();
	if (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT) {
		if (sum != r->len || r->len % VIRTIO_BLK_SECTOR ||
		    r->offset / VIRTIO_BLK_SECTOR > capacity ||
		    r->len / VIRTIO_BLK_SECTOR > capacity - r->offset / VIRTIO_BLK_SECTOR)
			abort();
		/* Reads land only in writable buffers, writes come only from readable ones. */
		for (unsigned i = 0; i < r->nr_iov; i++)
			if (!inside(c, r->iov[i].iov_base, r->iov[i].iov_len,
				    r->type == VIRTIO_BLK_T_IN ? c->nr_readable : 0,
				    r->type == VIRTIO_BLK_T_IN ? all : c->nr_readable))
				abort();
	}
	for (unsigned i = 0; i < r->nr_ranges; i++) {
		const struct virtio_blk_range *g = &r->ranges[i];

		if (g->offset % VIRTIO_BLK_SECTOR || g->len % VIRTIO_BLK_SECTOR ||
		    g->offset / VIRTIO_BLK_SECTOR > capacity ||
		    g->len / VIRTIO_BLK_SECTOR > capacity - g->offset / VIRTIO_BLK_SECTOR)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_chain c;
	static struct virtio_blk_req req;
	uint8_t *bufs[MAX_BUFS] = { 0 };
	unsigned nr, nw, n;
	uint64_t capacity = 0;
	enum virtio_blk_verdict v;
	size_t pos;
	bool ro;

	if (size < 11)
		return 0;
	nr = data[0] % 8;
	nw = data[1] % 8;
	ro = data[2] & 1;
	memcpy(&capacity, data + 3, 8);
	capacity >>= data[10] % 64; /* small capacities too */
	n = nr + nw;
	pos = 11;
	if (size < pos + n)
		return 0;
	memset(&c, 0, sizeof(c));
	c.nr_readable = nr;
	c.nr_writable = nw;
	for (unsigned i = 0; i < n; i++) {
		uint8_t b = data[pos + i];
		size_t len = b < 128 ? b : (size_t)(b - 127) * 16;

		bufs[i] = malloc(len ? len : 1);
		if (!bufs[i])
			abort();
		memset(bufs[i], 0, len ? len : 1);
		c.iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = len };
		*(i < nr ? &c.readable_len : &c.writable_len) += (uint32_t)len;
	}
	pos += n;
	/* The rest fills the buffers in order: headers, segments, data. */
	for (unsigned i = 0; i < n && pos < size; i++) {
		size_t take = size - pos < c.iov[i].iov_len ? size - pos : c.iov[i].iov_len;

		memcpy(bufs[i], data + pos, take);
		pos += take;
	}
	v = virtio_blk_parse(&c, capacity, ro, &req);
	req_check(&c, &req, v, capacity, ro);
	for (unsigned i = 0; i < n; i++)
		free(bufs[i]);
	return 0;
}
