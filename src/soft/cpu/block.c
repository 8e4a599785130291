/* soft/cpu/block.c: the decoded-block cache and the code map that keeps it coherent. */
#include <errno.h>
#include <stdlib.h>

#include "soft/bt/bt.h"
#include "soft/cpu/internal.h"

#define PAGE_SIZE 4096u
#define PAGE_MASK (~(uint64_t)(PAGE_SIZE - 1))

/* Slots of the private map cpu_init gives a CPU nobody shares a map with. */
#define OWN_MAP_SLOTS (1u << 16)

static struct cpu_code_map *map_alloc(uintptr_t base, uint64_t slots)
{
	struct cpu_code_map *m = calloc(1, sizeof(*m) + slots * sizeof(m->gen[0]));

	if (!m)
		return NULL;
	m->base = base;
	m->mask = slots - 1;
	return m;
}

struct cpu_code_map *cpu_code_map_create(const void *ram, uint64_t size)
{
	uint64_t pages = (size + PAGE_SIZE - 1) / PAGE_SIZE, slots = 1;

	while (slots < pages && slots < CPU_CODE_MAP_MAX)
		slots <<= 1;
	return map_alloc((uintptr_t)ram, slots);
}

void cpu_code_map_destroy(struct cpu_code_map *m)
{
	free(m);
}

/*
 * Generations only grow, one step per change, so a block's (page, gen) pair
 * can never match again once the page was written: odd -> even on a store,
 * even -> odd when a block is decoded from the page.
 */
static void slot_bump(struct cpu_code_map *m, _Atomic uint32_t *slot)
{
	uint32_t g = atomic_load_explicit(slot, memory_order_relaxed);

	/* A failed exchange means someone else moved it on already. */
	if ((g & 1) && atomic_compare_exchange_strong(slot, &g, g + 1)) {
		atomic_fetch_add(&m->writes, 1);
		for (unsigned i = 0; i < CPU_CODE_MAP_CPUS; i++) {
			struct cpu *c = atomic_load_explicit(&m->cpus[i], memory_order_acquire);

			if (c)
				cpu_bt_attention(c);
		}
	}
}

uint32_t code_mark(_Atomic uint32_t *slot)
{
	uint32_t g = atomic_load(slot);

	while (!(g & 1))
		if (atomic_compare_exchange_weak(slot, &g, g + 1))
			return g + 1;
	return g;
}

void cpu_code_map_written(struct cpu_code_map *m, const void *hva, uint64_t len)
{
	/* Pages count from m->base, as the CPUs index them (it need not be host-aligned). */
	uint64_t first = ((uintptr_t)hva - m->base) >> 12;
	uint64_t last = ((uintptr_t)hva - m->base + len - 1) >> 12;

	if (!len)
		return;
	if (last - first > m->mask)
		last = first + m->mask;
	for (uint64_t p = first; p <= last; p++) {
		_Atomic uint32_t *slot = &m->gen[p & m->mask];

		if (atomic_load_explicit(slot, memory_order_relaxed) & 1)
			slot_bump(m, slot);
	}
}

void code_written(struct cpu *c, _Atomic uint32_t *slot)
{
	slot_bump(c->code_map, slot);
	/* The running block may be one of those just retired (self-modifying code). */
	cpu_block_end(c);
}

/* The CPUs of a map hear of every code write (soft/bt chains blocks past lookups). */
static void map_join(struct cpu_code_map *m, struct cpu *c)
{
	for (unsigned i = 0; i < CPU_CODE_MAP_CPUS; i++) {
		struct cpu *none = NULL;

		if (atomic_compare_exchange_strong(&m->cpus[i], &none, c))
			return;
	}
}

static void map_leave(struct cpu_code_map *m, struct cpu *c)
{
	if (!m)
		return;
	for (unsigned i = 0; i < CPU_CODE_MAP_CPUS; i++) {
		struct cpu *me = c;

		atomic_compare_exchange_strong(&m->cpus[i], &me, NULL);
	}
}

int cpu_blocks_init(struct cpu *c)
{
	c->own_code_map = map_alloc(0, OWN_MAP_SLOTS);
	c->blk_tab = calloc(CPU_BLK_TAB_SIZE, sizeof(*c->blk_tab));
	c->blk_arena = malloc(CPU_BLK_ARENA);
	c->blk_one = calloc(1, sizeof(struct cpu_block) + sizeof(struct cpu_blk_insn));
	if (!c->own_code_map || !c->blk_tab || !c->blk_arena || !c->blk_one) {
		cpu_blocks_free(c);
		return -ENOMEM;
	}
	c->code_map = c->own_code_map;
	map_join(c->code_map, c);
	cpu_blocks_flush(c);
	return 0;
}

void cpu_blocks_free(struct cpu *c)
{
	map_leave(c->code_map, c);
	cpu_code_map_destroy(c->own_code_map);
	free(c->blk_tab);
	free(c->blk_arena);
	free(c->blk_one);
	c->blk_one = NULL;
	c->own_code_map = NULL;
	c->code_map = NULL;
	c->blk_tab = NULL;
	c->blk_arena = NULL;
}

void cpu_set_code_map(struct cpu *c, struct cpu_code_map *m)
{
	map_leave(c->code_map, c);
	c->code_map = m ? m : c->own_code_map;
	map_join(c->code_map, c);
	c->bt_writes_seen = atomic_load(&c->code_map->writes);
	cpu_tlb_flush(c);
	cpu_blocks_flush(c);
}

void cpu_blocks_flush(struct cpu *c)
{
	if (c->bt)
		bt_flush(c);
	c->blk_used = 0;
	c->blk_cur = NULL;
	/* Slot tags hold the epoch in 29 bits: on wrap, clear them for real. */
	if (++c->blk_epoch >= (1u << 29)) {
		memset(c->blk_tab, 0, CPU_BLK_TAB_SIZE * sizeof(*c->blk_tab));
		c->blk_epoch = 1;
	}
	cpu_blocks_retag(c);
}

uint64_t cpu_code_hash(const uint8_t *p, unsigned n)
{
	uint64_t h = 0xcbf29ce484222325ull, w;
	unsigned i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Ends a block after instructions that change control flow or how code must be decoded. */
bool cpu_insn_ends_block(const struct x86_insn *in)
{
	switch (in->op) {
	case OP_UD:
	case OP_UNIMPL:
	case OP_TOOLONG:
	case OP_UD2:
	case OP_JMP:
	case OP_CALL:
	case OP_JMPI:
	case OP_CALLI:
	case OP_RET:
	case OP_HLT:
	case OP_INT3:
	case OP_ICEBP:
	case OP_INT:
	case OP_INTO:
	case OP_JMPF:
	case OP_CALLF:
	case OP_JMPFI:
	case OP_CALLFI:
	case OP_RETF:
	case OP_IRET:
	case OP_SYSRET:
	case OP_SYSEXIT:
	/* These set the interrupt shadow, which only the block's end may show. */
	case OP_STI:
	case OP_MOVSEG_LD:
	case OP_POPSEG:
	/* Mode, paging and descriptor table changes. */
	case OP_MOVCR:
	case OP_GRP6:
	case OP_GRP7:
	case OP_WRMSR:
	case OP_LSEG:
		return true;
	default:
		return false;
	}
}

struct cpu_block *cpu_block_build(struct cpu *c, uint64_t la, const uint8_t *page)
{
	const size_t worst =
	    sizeof(struct cpu_block) + CPU_BLK_MAX_INSNS * sizeof(struct cpu_blk_insn);
	unsigned off = la & ~PAGE_MASK, avail = PAGE_SIZE - off, pos = 0, n = 0;
	uint8_t bytes[CPU_BLK_MAX_BYTES];
	struct cpu_blk_slot *s;
	struct cpu_block *b;
	_Atomic uint32_t *slot = code_slot(c, page);
	uint32_t gen;

	if (c->blk_used + worst > CPU_BLK_ARENA)
		cpu_blocks_flush(c);
	b = (struct cpu_block *)(c->blk_arena + c->blk_used);
	/* Mark the page before reading it: a store from now on retires the block. */
	gen = code_mark(slot);
	/* A private copy: another vCPU may be rewriting the page while we decode. */
	if (avail > sizeof(bytes))
		avail = sizeof(bytes);
	memcpy(bytes, page + off, avail);
	while (n < CPU_BLK_MAX_INSNS) {
		struct cpu_blk_insn *bi = &b->insn[n];

		if (x86_decode(bytes + pos, avail - pos, c->mode, &bi->in) < 0)
			break;
		bi->fn = cpu_exec_fn(&bi->in, !c->mode64);
		pos += bi->in.len;
		n++;
		if (cpu_insn_ends_block(&bi->in) || pos >= avail)
			break;
	}
	if (!n)
		return NULL;
	b->la = la;
	b->tag = c->blk_tag;
	b->next[0] = b->next[1] = NULL;
	b->next_la[0] = b->next_la[1] = 0;
	b->page = page;
	b->code = slot;
	b->gen = gen;
	b->tlb_gen = c->tlb_gen;
	b->hash = cpu_code_hash(bytes, pos);
	b->n = (uint16_t)n;
	b->bytes = (uint16_t)pos;
	c->blk_used += (sizeof(*b) + n * sizeof(b->insn[0]) + 15) & ~(size_t)15;
	s = &c->blk_tab[(la ^ (la >> 12)) % CPU_BLK_TAB_SIZE];
	s->tag = c->blk_tag;
	s->b = b;
	return b;
}
