/* soft/cpu/mem.c: guest memory access: addresses, the software TLB, RAM fast path, MMIO. */
#include <errno.h>

#include "soft/cpu/internal.h"

#define PAGE_SIZE 4096u
#define PAGE_MASK (~(uint64_t)(PAGE_SIZE - 1))

void mem_check_canonical(struct cpu *c, uint64_t la, unsigned sz, unsigned seg)
{
	if (!is_canonical(la) || !is_canonical(la + sz - 1))
		cpu_raise(c, seg == X86_SEG_SS ? VEC_SS : VEC_GP, true, 0);
}

static void tlb_clear(struct cpu_tlb_entry *e)
{
	e->tag = 1;
	e->ntag = 1; /* no page number is -1 */
}

void cpu_tlb_flush(struct cpu *c)
{
	for (unsigned u = 0; u < 2; u++)
		for (unsigned k = 0; k < CPU_NR_ACCESS; k++)
			for (unsigned i = 0; i < 2 * CPU_TLB_SIZE; i++)
				tlb_clear(&c->tlb_set[u][k][i]);
	c->tlb_large = false;
	c->tlb_gen++;
	/* The running block's next instruction may now translate elsewhere. */
	cpu_block_end(c);
}

/*
 * INVLPG: the 4 KiB entry of la, and when large pages were cached, every
 * large-page entry in la's 1 GiB (its 2 MiB or 4 MiB page lies inside).
 */
void cpu_tlb_flush_page(struct cpu *c, uint64_t la)
{
	uint64_t tag = la & PAGE_MASK;

	for (unsigned u = 0; u < 2; u++) {
		for (unsigned k = 0; k < CPU_NR_ACCESS; k++) {
			struct cpu_tlb_entry *e = &c->tlb_set[u][k][(la >> 12) % CPU_TLB_SIZE];

			if (e->tag == tag)
				tlb_clear(e);
			if (e[CPU_TLB_SIZE].tag == tag)
				tlb_clear(&e[CPU_TLB_SIZE]);
			if (!c->tlb_large)
				continue;
			for (unsigned i = 0; i < 2 * CPU_TLB_SIZE; i++) {
				e = &c->tlb_set[u][k][i];
				if (e->large && ((e->tag ^ la) >> 30) == 0)
					tlb_clear(e);
			}
		}
	}
	c->tlb_gen++;
	cpu_block_end(c);
}

/* Caches the RAM translation x of the page at tag in entry e. */
static void tlb_fill(struct cpu *c, struct cpu_tlb_entry *e, uint64_t tag,
		     const struct cpu_xlate *x)
{
	/* The page it held becomes the victim, unless it is the one filled again. */
	if (e->tag != 1 && e->tag != tag)
		e[CPU_TLB_SIZE] = *e;
	else if (e[CPU_TLB_SIZE].tag == tag)
		tlb_clear(&e[CPU_TLB_SIZE]);
	e->tag = tag;
	e->ntag = -(tag >> 12);
	e->addend = (uintptr_t)x->hva - tag;
	e->code = code_slot(c, x->hva);
	e->large = x->large;
	c->tlb_large |= x->large;
}

/*
 * The host address of la's page for acc, or NULL with *gpa set for MMIO.
 * Raises the translation fault.
 */
static uint8_t *page_lookup(struct cpu *c, uint64_t la, enum cpu_access acc, uint64_t *gpa)
{
	struct cpu_tlb_entry *e = &c->tlb[acc][(la >> 12) % CPU_TLB_SIZE];
	struct cpu_xlate x = {0};

	if (e->tag == (la & PAGE_MASK))
		return (uint8_t *)(uintptr_t)(e->tag + e->addend);
	if (e[CPU_TLB_SIZE].tag == (la & PAGE_MASK)) {
		/* The victim: the two swap places. */
		struct cpu_tlb_entry v = e[CPU_TLB_SIZE];

		e[CPU_TLB_SIZE] = *e;
		*e = v;
		return (uint8_t *)(uintptr_t)(e->tag + e->addend);
	}
	if (c->ops->translate(c->opaque, la & PAGE_MASK, acc, &x) < 0) {
		c->exc.cr2 = la;
		cpu_raise(c, x.vector, true, x.error_code);
	}
	if (!x.hva) {
		*gpa = x.gpa;
		return NULL;
	}
	if (!x.no_cache && !(c->dbg_watch && dbg_page_watched(c, la & PAGE_MASK, acc)))
		tlb_fill(c, e, la & PAGE_MASK, &x);
	return x.hva;
}

void cpu_tlb_warm(struct cpu *c, uint64_t la, uint64_t len, enum cpu_access acc)
{
	for (uint64_t p = la & PAGE_MASK; p < la + len; p += PAGE_SIZE) {
		struct cpu_xlate x = {0};

		if (c->ops->translate(c->opaque, p, acc, &x) == 0 && x.hva && !x.no_cache &&
		    !(c->dbg_watch && dbg_page_watched(c, p, acc)))
			tlb_fill(c, &c->tlb[acc][(p >> 12) % CPU_TLB_SIZE], p, &x);
	}
}

const uint8_t *code_page_cached(const struct cpu *c, uint64_t la)
{
	const struct cpu_tlb_entry *t = &c->tlb[CPU_ACCESS_EXEC][(la >> 12) % CPU_TLB_SIZE];

	return t->tag == (la & PAGE_MASK) ? (const uint8_t *)(uintptr_t)(t->tag + t->addend) : NULL;
}

const uint8_t *code_page(struct cpu *c, uint64_t la)
{
	const uint8_t *page = code_page_cached(c, la);

	if (page)
		return page;
	page = mem_ptr(c, la, 1, X86_SEG_CS, CPU_ACCESS_EXEC);
	return page ? page - (la & ~PAGE_MASK) : NULL;
}

uint8_t *mem_ptr(struct cpu *c, uint64_t la, unsigned sz, unsigned seg, enum cpu_access acc)
{
	uint64_t gpa;
	uint8_t *page;

	mem_check_canonical(c, la, sz, seg);
	if ((la & ~PAGE_MASK) + sz > PAGE_SIZE)
		return NULL;
	if (c->dbg_watch)
		dbg_watch_check(c, la, sz, acc);
	page = page_lookup(c, la, acc, &gpa);
	if (!page)
		return NULL;
	/*
	 * The caller stores through the pointer after this: retiring decoded
	 * code first is enough for this vCPU, whose block ends here.
	 */
	if (acc == CPU_ACCESS_WRITE)
		code_check(c, code_slot(c, page));
	return page + (la & ~PAGE_MASK);
}

/* One access that stays inside a page. */
void mem_probe(struct cpu *c, uint64_t la, unsigned sz, unsigned seg, enum cpu_access acc)
{
	uint64_t gpa;

	mem_check_canonical(c, la, sz, seg);
	if (c->dbg_watch)
		dbg_watch_check(c, la, sz, acc);
	page_lookup(c, la, acc, &gpa);
	if ((la & ~PAGE_MASK) + sz > PAGE_SIZE)
		page_lookup(c, (la & PAGE_MASK) + PAGE_SIZE, acc, &gpa);
}

/* One access that stays inside a page; acc picks the translation, store the direction. */
static void access_in_page(struct cpu *c, uint64_t la, uint8_t *buf, unsigned n,
			   enum cpu_access acc, bool store)
{
	uint64_t gpa = 0;
	uint8_t *page = page_lookup(c, la, acc, &gpa);

	if (c->dbg_watch)
		dbg_watch_check(c, la, n, acc);

	if (page) {
		if (store) {
			memcpy(page + (la & ~PAGE_MASK), buf, n);
			code_check(c, code_slot(c, page));
		} else {
			memcpy(buf, page + (la & ~PAGE_MASK), n);
		}
		return;
	}
	c->ops->mmio(c->opaque, gpa + (la & ~PAGE_MASK), buf, n, store);
}

/*
 * A page-crossing access: both pages are translated before any byte is
 * written, so a fault on the second leaves memory untouched.
 */
static void access_split(struct cpu *c, uint64_t la, uint8_t *buf, unsigned n, enum cpu_access acc,
			 bool store)
{
	unsigned first = PAGE_SIZE - (la & ~PAGE_MASK);
	uint64_t gpa;

	if (acc == CPU_ACCESS_WRITE) {
		page_lookup(c, la, acc, &gpa);
		page_lookup(c, la + first, acc, &gpa);
	}
	access_in_page(c, la, buf, first, acc, store);
	access_in_page(c, la + first, buf + first, n - first, acc, store);
}

void mem_read_bytes(struct cpu *c, uint64_t la, void *dst, unsigned n, unsigned seg,
		    enum cpu_access acc)
{
	mem_check_canonical(c, la, n, seg);
	if ((la & ~PAGE_MASK) + n > PAGE_SIZE)
		access_split(c, la, dst, n, acc, false);
	else
		access_in_page(c, la, dst, n, acc, false);
}

uint64_t mem_read_slow(struct cpu *c, uint64_t la, unsigned sz, unsigned seg)
{
	uint64_t v = 0;

	mem_read_bytes(c, la, &v, sz, seg, CPU_ACCESS_READ);
	return v;
}

void mem_write_slow(struct cpu *c, uint64_t la, unsigned sz, uint64_t v, unsigned seg)
{
	mem_check_canonical(c, la, sz, seg);
	if ((la & ~PAGE_MASK) + sz > PAGE_SIZE)
		access_split(c, la, (uint8_t *)&v, sz, CPU_ACCESS_WRITE, true);
	else
		access_in_page(c, la, (uint8_t *)&v, sz, CPU_ACCESS_WRITE, true);
}

uint64_t rmw_begin(struct cpu *c, struct rmw *r, uint64_t la, unsigned sz, unsigned seg, bool lock)
{
	uint64_t v = 0;

	r->la = la;
	r->sz = sz;
	r->seg = seg;
	r->p = mem_ptr(c, la, sz, seg, CPU_ACCESS_WRITE);
	/*
	 * Misaligned or page-crossing locked accesses are done as plain
	 * read-then-write: real split locks are rare and slow.
	 */
	r->atomic = lock && r->p && ((uintptr_t)r->p & (sz - 1)) == 0;
	if (r->atomic) {
		switch (sz) {
		case 1:
			v = __atomic_load_n(r->p, __ATOMIC_SEQ_CST);
			break;
		case 2:
			v = __atomic_load_n((uint16_t *)r->p, __ATOMIC_SEQ_CST);
			break;
		case 4:
			v = __atomic_load_n((uint32_t *)r->p, __ATOMIC_SEQ_CST);
			break;
		default:
			v = __atomic_load_n((uint64_t *)r->p, __ATOMIC_SEQ_CST);
			break;
		}
		return v;
	}
	if (r->p) {
		memcpy(&v, r->p, sz);
		return v;
	}
	/* Fault on the write translation first, as a locked access would. */
	if ((la & ~PAGE_MASK) + sz > PAGE_SIZE) {
		uint64_t gpa;

		page_lookup(c, la, CPU_ACCESS_WRITE, &gpa);
		page_lookup(c, (la & PAGE_MASK) + PAGE_SIZE, CPU_ACCESS_WRITE, &gpa);
	}
	return mem_read(c, la, sz, seg);
}

bool rmw_commit(struct cpu *c, struct rmw *r, uint64_t old, uint64_t val)
{
	if (r->atomic) {
		switch (r->sz) {
		case 1: {
			uint8_t e = old;

			return __atomic_compare_exchange_n(r->p, &e, (uint8_t)val, false,
							   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		}
		case 2: {
			uint16_t e = old;

			return __atomic_compare_exchange_n((uint16_t *)r->p, &e, (uint16_t)val,
							   false, __ATOMIC_SEQ_CST,
							   __ATOMIC_SEQ_CST);
		}
		case 4: {
			uint32_t e = old;

			return __atomic_compare_exchange_n((uint32_t *)r->p, &e, (uint32_t)val,
							   false, __ATOMIC_SEQ_CST,
							   __ATOMIC_SEQ_CST);
		}
		default: {
			uint64_t e = old;

			return __atomic_compare_exchange_n((uint64_t *)r->p, &e, val, false,
							   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		}
		}
	}
	if (r->p)
		memcpy(r->p, &val, r->sz);
	else
		mem_write(c, r->la, r->sz, val, r->seg);
	return true;
}

void stack_push(struct cpu *c, unsigned sz, uint64_t v)
{
	uint64_t rsp = c->gpr[X86_RSP] - sz;

	mem_write(c, rsp, sz, v, X86_SEG_SS);
	c->gpr[X86_RSP] = rsp;
}

uint64_t stack_pop(struct cpu *c, unsigned sz)
{
	uint64_t v = mem_read(c, c->gpr[X86_RSP], sz, X86_SEG_SS);

	c->gpr[X86_RSP] += sz;
	return v;
}

/* Implicit supervisor accesses bypass the TLB: its entries carry the current CPL's rights. */
static void sys_access(struct cpu *c, uint64_t la, uint8_t *buf, unsigned n, bool store)
{
	while (n) {
		unsigned chunk = PAGE_SIZE - (la & ~PAGE_MASK);
		struct cpu_xlate x = {0};
		int r;

		if (chunk > n)
			chunk = n;
		if (c->mode64 || (c->sys.efer & X86_EFER_LMA)) {
			if (!is_canonical(la))
				cpu_raise_gp0(c);
		} else {
			la = (uint32_t)la;
		}
		c->implicit_sv = true;
		r = c->ops->translate(c->opaque, la & PAGE_MASK,
				      store ? CPU_ACCESS_WRITE : CPU_ACCESS_READ, &x);
		c->implicit_sv = false;
		if (r < 0) {
			c->exc.cr2 = la;
			cpu_raise(c, x.vector, true, x.error_code);
		}
		if (x.hva && store) {
			memcpy(x.hva + (la & ~PAGE_MASK), buf, chunk);
			code_check(c, code_slot(c, x.hva));
		} else if (x.hva)
			memcpy(buf, x.hva + (la & ~PAGE_MASK), chunk);
		else
			c->ops->mmio(c->opaque, x.gpa + (la & ~PAGE_MASK), buf, chunk, store);
		la += chunk;
		buf += chunk;
		n -= chunk;
	}
}

uint64_t sys_read(struct cpu *c, uint64_t la, unsigned n)
{
	uint64_t v = 0;

	sys_access(c, la, (uint8_t *)&v, n, false);
	return v;
}

void sys_write(struct cpu *c, uint64_t la, unsigned n, uint64_t v)
{
	sys_access(c, la, (uint8_t *)&v, n, true);
}

void stk_init(struct cpu *c, struct stk *k)
{
	if (c->mode64) {
		k->sp = c->gpr[X86_RSP];
		k->mask = ~0ull;
		k->base = 0;
		return;
	}
	k->mask = c->sys.ss.db ? 0xffffffffull : 0xffffull;
	k->sp = c->gpr[X86_RSP] & k->mask;
	k->base = c->seg_base[X86_SEG_SS];
}

void stk_push(struct cpu *c, struct stk *k, unsigned sz, uint64_t v)
{
	uint64_t sp = (k->sp - sz) & k->mask;

	if (k->mask != ~0ull && (c->seg_limited & (1u << X86_SEG_SS)))
		seg_check(c, X86_SEG_SS, sp, sz);
	mem_write(c, k->base + sp, sz, v, X86_SEG_SS);
	k->sp = sp;
}

uint64_t stk_pop(struct cpu *c, struct stk *k, unsigned sz)
{
	uint64_t v;

	if (k->mask != ~0ull && (c->seg_limited & (1u << X86_SEG_SS)))
		seg_check(c, X86_SEG_SS, k->sp, sz);
	v = mem_read(c, k->base + k->sp, sz, X86_SEG_SS);
	k->sp = (k->sp + sz) & k->mask;
	return v;
}

void stk_commit(struct cpu *c, const struct stk *k)
{
	if (k->mask == 0xffffull)
		reg_set(c, X86_RSP, 2, k->sp);
	else
		c->gpr[X86_RSP] = k->sp;
}
