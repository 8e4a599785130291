/* fuzz/fuzz_virtq.c: libFuzzer target: the split virtqueue chain parser on hostile rings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "memory/memory.h"
#include "virtio/virtio.h"

/*
 * Input: byte 0 picks the queue size (2^(b % 9)), byte 1 the negotiated ring
 * features (bits 0-1) and whether descriptor addresses are folded into the
 * first MiB (bit 2, so most buffers are RAM and the walk goes deeper); the
 * rest is copied to guest RAM at RING_GPA: the descriptor table first, then
 * the avail ring, then whatever indirect tables the descriptors point at. The
 * used ring sits in RAM the input does not reach.
 */
#define RING_GPA    0x1000ull
#define USED_GPA    0x40000ull
#define SCRATCH_LEN 0x80000ull
#define FOLD_MASK   0xfffffull

static struct guest_memory mem;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct err err = { 0 };

	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	if (memory_init(&mem, MEM_MIN_SIZE, &err) < 0)
		abort();
	return 0;
}

/* Every buffer the parser handed out must be inside guest RAM. */
static void chain_check(const struct virtq_chain *c)
{
	const uint8_t *lo = mem.base, *hi = mem.base + mem.ram_size;
	uint64_t rd = 0, wr = 0;

	if (c->nr_readable + c->nr_writable > VIRTQ_CHAIN_MAX)
		abort();
	for (unsigned i = 0; i < c->nr_readable + c->nr_writable; i++) {
		const uint8_t *p = c->iov[i].iov_base;

		if (p < lo || p > hi || c->iov[i].iov_len > (size_t)(hi - p))
			abort();
		*(i < c->nr_readable ? &rd : &wr) += c->iov[i].iov_len;
	}
	if (rd != c->readable_len || wr != c->writable_len)
		abort();
}

/* Folds the table's (and so any indirect table's) addresses into low RAM. */
static void fold_addresses(unsigned num)
{
	for (unsigned i = 0; i < num; i++) {
		struct virtq_desc d;
		uint8_t *p = mem.base + RING_GPA + 16ull * i;

		memcpy(&d, p, sizeof(d));
		d.addr &= FOLD_MASK;
		memcpy(p, &d, sizeof(d));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_chain chain;
	struct virtq vq = { 0 };
	const char *why;
	size_t copy;

	if (size < 2)
		return 0;
	memset(mem.base, 0, SCRATCH_LEN);
	copy = size - 2 < USED_GPA - RING_GPA ? size - 2 : USED_GPA - RING_GPA;
	memcpy(mem.base + RING_GPA, data + 2, copy);
	vq.num = 1u << (data[0] % 9);
	if (data[1] & 4)
		fold_addresses(vq.num);
	vq.desc_gpa = RING_GPA;
	vq.avail_gpa = RING_GPA + 16ull * vq.num;
	vq.used_gpa = USED_GPA;
	vq.indirect = data[1] & 1;
	vq.event_idx = data[1] & 2;
	if (virtq_map(&vq, &mem, NULL) < 0)
		abort();
	/* More pops than the ring holds: the index check must stop them. */
	for (unsigned i = 0; i <= vq.num + 1; i++) {
		int rc = virtq_pop(&vq, &chain, &why);

		if (rc < 0) {
			if (!vq.broken || !why)
				abort();
			break;
		}
		if (rc == 0)
			break;
		chain_check(&chain);
		virtq_push(&vq, chain.head, chain.writable_len);
		virtq_should_interrupt(&vq);
		virtq_enable_notify(&vq);
	}
	return 0;
}
