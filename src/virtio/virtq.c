/* virtio/virtq.c: split virtqueues in guest memory, parsed as hostile input. */
#include "virtio/virtio.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"

/*
 * Ring layout for a queue of num entries (virtio 1.2, 2.7):
 *   desc   16 * num, 16-byte aligned
 *   avail  flags u16, idx u16, ring[num] u16, used_event u16; 2-byte aligned
 *   used   flags u16, idx u16, ring[num] {u32 id, u32 len}, avail_event u16; 4-byte aligned
 */
#define DESC_SIZE 16u
#define AVAIL_IDX 2u
#define AVAIL_RING 4u
#define USED_IDX 2u
#define USED_RING 4u
#define USED_ELEM_SIZE 8u

static uint64_t avail_bytes(uint32_t num)
{
	return AVAIL_RING + 2ull * num + 2;
}

static uint64_t used_bytes(uint32_t num)
{
	return USED_RING + (uint64_t)USED_ELEM_SIZE * num + 2;
}

/*
 * The guest may change its rings at any moment. Each field is loaded once,
 * with a single access, and only the local copy is trusted afterwards.
 */
static uint16_t ld16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}

static uint16_t ld16_acquire(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static void st16_release(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
}

static void st16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELAXED);
}

static void st32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, v, __ATOMIC_RELAXED);
}

/* Indirect tables need no alignment, so descriptors are copied bytewise. */
static void desc_read(const uint8_t *table, unsigned i, struct virtq_desc *d)
{
	memcpy(d, table + (size_t)i * DESC_SIZE, sizeof(*d));
}

int virtq_map(struct virtq *vq, const struct guest_memory *mem, struct err *err)
{
	uint32_t num = vq->num;

	if (num == 0 || num > VIRTQ_MAX_SIZE || (num & (num - 1)))
		return err_set(err, -EINVAL, "size %u is not a power of two in 1..%u", num,
			       VIRTQ_MAX_SIZE);
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		return err_set(err, -EINVAL, "misaligned ring address");
	vq->desc = gpa_to_hva(mem, vq->desc_gpa, (uint64_t)DESC_SIZE * num);
	vq->avail = gpa_to_hva(mem, vq->avail_gpa, avail_bytes(num));
	vq->used = gpa_to_hva(mem, vq->used_gpa, used_bytes(num));
	if (!vq->desc || !vq->avail || !vq->used) {
		vq->desc = vq->avail = vq->used = NULL;
		return err_set(err, -EINVAL, "ring outside guest RAM");
	}
	vq->mem = mem;
	return 0;
}

static int chain_fail(struct virtq *vq, const char **why, const char *what)
{
	vq->broken = true;
	*why = what;
	return -EBADMSG;
}

/* Adds one buffer to the chain, checking RAM, order and the running totals. */
static int chain_add(struct virtq *vq, struct virtq_chain *c, const struct virtq_desc *d,
		     const char **why)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	uint32_t *total = writable ? &c->writable_len : &c->readable_len;
	unsigned n = c->nr_readable + c->nr_writable;
	void *hva;

	if (n == VIRTQ_CHAIN_MAX)
		return chain_fail(vq, why, "descriptor chain too long");
	if (!writable && c->nr_writable)
		return chain_fail(vq, why, "device-readable descriptor after a writable one");
	if (__builtin_add_overflow(*total, d->len, total))
		return chain_fail(vq, why, "chain length overflows 32 bits");
	hva = gpa_to_hva(vq->mem, d->addr, d->len);
	if (!hva)
		return chain_fail(vq, why, "buffer outside guest RAM");
	c->iov[n] = (struct iovec){ .iov_base = hva, .iov_len = d->len };
	if (writable)
		c->nr_writable++;
	else
		c->nr_readable++;
	return 0;
}

/* Switches the walk to the indirect table d describes. */
static int chain_indirect(struct virtq *vq, const struct virtq_desc *d, bool at_head,
			  bool *in_indirect, const uint8_t **table, unsigned *size,
			  const char **why)
{
	if (!vq->indirect)
		return chain_fail(vq, why, "indirect descriptor without the feature");
	/*
	 * A flag, not a look at the table's address: a table the guest points
	 * back at the main ring must not restart the walk (and its step count).
	 */
	if (*in_indirect)
		return chain_fail(vq, why, "nested indirect descriptor");
	if (!at_head || (d->flags & VIRTQ_DESC_F_NEXT))
		return chain_fail(vq, why, "indirect descriptor chained to others");
	if (d->len == 0 || d->len % DESC_SIZE || d->len / DESC_SIZE > VIRTQ_CHAIN_MAX)
		return chain_fail(vq, why, "indirect table size invalid");
	*table = gpa_to_hva(vq->mem, d->addr, d->len);
	if (!*table)
		return chain_fail(vq, why, "indirect table outside guest RAM");
	*size = d->len / DESC_SIZE;
	*in_indirect = true;
	return 0;
}

/*
 * Walks a chain from head. Every step is counted against the table size, so
 * a loop ends as "too long" instead of spinning.
 */
static int chain_walk(struct virtq *vq, uint16_t head, struct virtq_chain *c, const char **why)
{
	const uint8_t *table = vq->desc;
	unsigned size = vq->num, idx = head, steps = 0;
	bool in_indirect = false;
	struct virtq_desc d;
	int rc;

	c->head = head;
	c->nr_readable = c->nr_writable = 0;
	c->readable_len = c->writable_len = 0;
	for (;;) {
		if (steps++ == size)
			return chain_fail(vq, why, "descriptor chain loops or exceeds the queue size");
		desc_read(table, idx, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			rc = chain_indirect(vq, &d, steps == 1, &in_indirect, &table, &size, why);
			if (rc < 0)
				return rc;
			idx = 0;
			steps = 0;
			continue;
		}
		rc = chain_add(vq, c, &d, why);
		if (rc < 0)
			return rc;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		idx = d.next;
		if (idx >= size)
			return chain_fail(vq, why, "next index outside the descriptor table");
	}
}

int virtq_pop(struct virtq *vq, struct virtq_chain *c, const char **why)
{
	uint16_t avail_idx, pending, head;
	int rc;

	*why = NULL;
	if (vq->broken || !vq->desc)
		return 0;
	/* Acquire: the ring entries and descriptors are read after the index. */
	avail_idx = ld16_acquire(vq->avail + AVAIL_IDX);
	pending = (uint16_t)(avail_idx - vq->last_avail);
	if (pending > vq->num)
		return chain_fail(vq, why, "avail index moved by more than the queue size");
	if (!pending)
		return 0;
	head = ld16(vq->avail + AVAIL_RING + 2u * (vq->last_avail & (vq->num - 1)));
	if (head >= vq->num)
		return chain_fail(vq, why, "avail ring names a descriptor outside the table");
	rc = chain_walk(vq, head, c, why);
	if (rc < 0)
		return rc;
	vq->last_avail++;
	vq->in_flight++;
	return 1;
}

bool virtq_has_avail(struct virtq *vq)
{
	if (vq->broken || !vq->desc)
		return false;
	return ld16_acquire(vq->avail + AVAIL_IDX) != vq->last_avail;
}

void virtq_push_many(struct virtq *vq, const uint16_t *heads, const uint32_t *lens, unsigned n)
{
	uint8_t *elem;

	if (!vq->used)
		return;
	for (unsigned i = 0; i < n; i++) {
		elem = vq->used + USED_RING +
		       (size_t)USED_ELEM_SIZE * ((uint16_t)(vq->used_idx + i) & (vq->num - 1));
		st32(elem, heads[i]);
		st32(elem + 4, lens[i]);
	}
	vq->used_idx = (uint16_t)(vq->used_idx + n);
	/* Release: the elements are visible before the index that publishes them. */
	st16_release(vq->used + USED_IDX, vq->used_idx);
	vq->in_flight = vq->in_flight > n ? vq->in_flight - n : 0;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	virtq_push_many(vq, &head, &len, 1);
}

void virtq_unpop(struct virtq *vq, unsigned n)
{
	if (n > vq->in_flight)
		n = vq->in_flight;
	vq->last_avail = (uint16_t)(vq->last_avail - n);
	vq->in_flight -= n;
}

/* The driver wants an event when new moved past event since old (virtio 1.2, 2.7.10). */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_should_interrupt(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, event;
	bool valid = vq->signalled_valid;

	if (!vq->used)
		return false;
	/* Full barrier: our used idx store must be visible before we read its flags. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(ld16(vq->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	event = ld16(vq->avail + AVAIL_RING + 2u * vq->num);
	vq->signalled_used = vq->used_idx;
	vq->signalled_valid = true;
	return !valid || need_event(event, vq->used_idx, old);
}

bool virtq_enable_notify(struct virtq *vq)
{
	if (vq->broken || !vq->used)
		return false;
	if (vq->event_idx)
		st16(vq->used + USED_RING + (size_t)USED_ELEM_SIZE * vq->num, vq->last_avail);
	/* Full barrier: publish avail_event before looking at avail idx again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ld16_acquire(vq->avail + AVAIL_IDX) != vq->last_avail;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t offset, void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t take;

		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - offset;
		if (take > len - done)
			take = len - done;
		memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + offset, take);
		done += take;
		offset = 0;
	}
	return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t offset, const void *buf,
		    size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t take;

		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - offset;
		if (take > len - done)
			take = len - done;
		memcpy((uint8_t *)iov[i].iov_base + offset, (const uint8_t *)buf + done, take);
		done += take;
		offset = 0;
	}
	return done;
}

unsigned iov_slice(const struct iovec *src, unsigned n, size_t offset, size_t len,
		   struct iovec *dst, unsigned max)
{
	unsigned out = 0;

	for (unsigned i = 0; i < n && len && out < max; i++) {
		size_t take;

		if (offset >= src[i].iov_len) {
			offset -= src[i].iov_len;
			continue;
		}
		take = src[i].iov_len - offset;
		if (take > len)
			take = len;
		dst[out++] = (struct iovec){ .iov_base = (uint8_t *)src[i].iov_base + offset,
					     .iov_len = take };
		len -= take;
		offset = 0;
	}
	return out;
}
