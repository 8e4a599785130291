/* virtio/blkreq.c: virtio-blk request parsing, validated before any I/O. */
#include "virtio/virtio.h"

#include <string.h>

#include "base/util.h"

/* Request layout (virtio 1.2, 5.2.6): header, data, status byte. */
#define BLK_HDR_SIZE 16u
#define BLK_DWZ_SEG_SIZE 16u

/* True when [sector, sector + sectors) lies within the disk. */
static bool in_capacity(uint64_t sector, uint64_t sectors, uint64_t capacity)
{
	return sector <= capacity && sectors <= capacity - sector;
}

/* The status byte is the last byte of the writable part, wherever it falls. */
static uint8_t *status_byte(const struct virtq_chain *c)
{
	for (unsigned i = c->nr_readable + c->nr_writable; i-- > c->nr_readable;)
		if (c->iov[i].iov_len)
			return (uint8_t *)c->iov[i].iov_base + c->iov[i].iov_len - 1;
	return NULL;
}

static enum virtio_blk_verdict done(struct virtio_blk_req *req, uint8_t status)
{
	req->status = status;
	return BLK_REQ_DONE;
}

static enum virtio_blk_verdict parse_rw(const struct virtq_chain *c, uint64_t sector,
					uint64_t capacity, bool is_write, struct virtio_blk_req *req)
{
	uint64_t len = is_write ? c->readable_len - BLK_HDR_SIZE : c->writable_len - 1u;

	/* Data must flow the way the request says: reads only write, writes only read. */
	if (is_write ? c->writable_len != 1 : c->readable_len != BLK_HDR_SIZE)
		return BLK_REQ_MALFORMED;
	if (len % VIRTIO_BLK_SECTOR || !in_capacity(sector, len / VIRTIO_BLK_SECTOR, capacity))
		return done(req, VIRTIO_BLK_S_IOERR);
	req->offset = sector * VIRTIO_BLK_SECTOR;
	req->len = len;
	if (is_write)
		req->nr_iov = iov_slice(c->iov, c->nr_readable, BLK_HDR_SIZE, len, req->iov,
					VIRTQ_CHAIN_MAX);
	else
		req->nr_iov = iov_slice(c->iov + c->nr_readable, c->nr_writable, 0, len, req->iov,
					VIRTQ_CHAIN_MAX);
	return BLK_REQ_IO;
}

static enum virtio_blk_verdict parse_dwz(const struct virtq_chain *c, uint64_t capacity,
					 struct virtio_blk_req *req)
{
	uint64_t len = c->readable_len - BLK_HDR_SIZE;
	uint8_t seg[BLK_DWZ_SEG_SIZE];

	if (c->writable_len != 1)
		return BLK_REQ_MALFORMED;
	if (len == 0 || len % BLK_DWZ_SEG_SIZE || len / BLK_DWZ_SEG_SIZE > VIRTIO_BLK_DWZ_SEG_MAX)
		return done(req, VIRTIO_BLK_S_UNSUPP);
	req->nr_ranges = (unsigned)(len / BLK_DWZ_SEG_SIZE);
	for (unsigned i = 0; i < req->nr_ranges; i++) {
		uint64_t sector;
		uint32_t sectors, flags;

		iov_to_buf(c->iov, c->nr_readable, BLK_HDR_SIZE + i * BLK_DWZ_SEG_SIZE, seg,
			   sizeof(seg));
		sector = le64(seg);
		sectors = le32(seg + 8);
		flags = le32(seg + 12);
		/* Discard may not be asked to unmap; write-zeroes may (we always do). */
		if ((flags & ~VIRTIO_BLK_DWZ_FLAG_UNMAP) ||
		    (req->type == VIRTIO_BLK_T_DISCARD && flags))
			return done(req, VIRTIO_BLK_S_UNSUPP);
		if (sectors > VIRTIO_BLK_DWZ_SECTORS_MAX || !in_capacity(sector, sectors, capacity))
			return done(req, VIRTIO_BLK_S_IOERR);
		req->ranges[i] = (struct virtio_blk_range){ .offset = sector * VIRTIO_BLK_SECTOR,
							    .len = (uint64_t)sectors *
								   VIRTIO_BLK_SECTOR };
	}
	return BLK_REQ_IO;
}

enum virtio_blk_verdict virtio_blk_parse(const struct virtq_chain *c, uint64_t capacity,
					 bool read_only, struct virtio_blk_req *req)
{
	uint8_t hdr[BLK_HDR_SIZE];
	uint64_t sector;

	memset(req, 0, offsetof(struct virtio_blk_req, iov));
	req->nr_ranges = 0;
	/* The header must be device-readable and the status byte writable. */
	if (c->readable_len < BLK_HDR_SIZE || c->writable_len < 1)
		return BLK_REQ_MALFORMED;
	req->status_byte = status_byte(c);
	if (!req->status_byte)
		return BLK_REQ_MALFORMED;
	iov_to_buf(c->iov, c->nr_readable, 0, hdr, sizeof(hdr));
	req->type = le32(hdr);
	sector = le64(hdr + 8);
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		return parse_rw(c, sector, capacity, false, req);
	case VIRTIO_BLK_T_OUT:
		if (c->writable_len != 1)
			return BLK_REQ_MALFORMED;
		if (read_only)
			return done(req, VIRTIO_BLK_S_IOERR);
		return parse_rw(c, sector, capacity, true, req);
	case VIRTIO_BLK_T_FLUSH:
		return BLK_REQ_IO;
	case VIRTIO_BLK_T_GET_ID:
		if (c->readable_len != BLK_HDR_SIZE)
			return BLK_REQ_MALFORMED;
		req->len = c->writable_len - 1u;
		if (req->len > VIRTIO_BLK_ID_BYTES)
			req->len = VIRTIO_BLK_ID_BYTES;
		req->nr_iov = iov_slice(c->iov + c->nr_readable, c->nr_writable, 0, req->len,
					req->iov, VIRTQ_CHAIN_MAX);
		return done(req, VIRTIO_BLK_S_OK);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (c->writable_len != 1)
			return BLK_REQ_MALFORMED;
		if (read_only)
			return done(req, VIRTIO_BLK_S_IOERR);
		return parse_dwz(c, capacity, req);
	default:
		return done(req, VIRTIO_BLK_S_UNSUPP);
	}
}

