/*
 * soft/bt/bt.c: the translator's code cache, its fixed stubs and the
 * dispatcher that finds, translates and chains blocks (translate.c writes
 * the blocks).
 *
 * While translated code runs, the guest's general registers other than RSP
 * are the host's, its arithmetic flags are the host's, and %gs points at
 * the struct cpu: guest RSP, spill slots, the TLB and the budget are all
 * reached through it, so no host register is stolen from the guest. The
 * host stack stays the host's (guest RSP lives in cpu->gpr[RSP]), so calls
 * into C and signals need no stack switch. DF is kept in cpu->rflags and
 * is clear in the host, as C expects; anything that reads or writes it is
 * run by the interpreter.
 */
#include <asm/prctl.h>
#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "soft/bt/bt_internal.h"

static_assert(sizeof(struct cpu_tlb_entry) == 40, "translated code scales TLB indexes by 40");
static_assert(offsetof(struct cpu_tlb_entry, tag) == 0, "tag first");

bool bt_host_supported(const char **why)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(0x80000001, &a, &b, &c, &d) || !(c & 1)) {
		*why = "the host CPU lacks LAHF/SAHF in 64-bit mode";
		return false;
	}
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 8))) {
		*why = "the host CPU lacks BMI2 (SHLX/SHRX)";
		return false;
	}
	*why = NULL;
	return true;
}

/* ---- stubs shared by every block ------------------------------------------ */

static const unsigned guest_regs[] = {RAX, RCX, RDX, RBX, RBP, RSI, RDI, R8,
				      R9,  R10, R11, R12, R13, R14, R15};

static void e_save_all(struct emit *e, bool with_rax)
{
	for (unsigned i = 0; i < sizeof(guest_regs) / sizeof(guest_regs[0]); i++)
		if (with_rax || guest_regs[i] != RAX)
			e_st(e, GPR(guest_regs[i]), guest_regs[i]);
}

static void e_load_all(struct emit *e)
{
	for (unsigned i = 0; i < sizeof(guest_regs) / sizeof(guest_regs[0]); i++)
		e_ld(e, guest_regs[i], GPR(guest_regs[i]));
}

/* popfq from gs:[off] / pushfq into it. */
static void e_flags_in(struct emit *e, int32_t off)
{
	e_rm(e, E_GS, 0xff, 1, 6, NOREG, NOREG, 0, off); /* push qword gs:[off] */
	b1(e, 0x9d);
}

static void e_flags_out(struct emit *e, int32_t off)
{
	b1(e, 0x9c);
	e_rm(e, E_GS, 0x8f, 1, 0, NOREG, NOREG, 0, off); /* pop qword gs:[off] */
}

static const unsigned callee_saved[] = {RBX, RBP, R12, R13, R14, R15};

static bool build_stubs(struct bt *bt)
{
	struct emit e = {.base = bt->rw, .p = bt->rw, .end = bt->rw + BT_STUB_SPACE};
	uint32_t miss_at, way0_at, attn_at, exit_at;

	/* enter(cpu, code): from C into translated code. */
	bt->stub_enter = e_pos(&e);
	for (unsigned i = 0; i < 6; i++)
		e_push_reg(&e, callee_saved[i]);
	e_rr(&e, E_W, 0x83, 1, 5, RSP); /* sub rsp, 8: 16-byte aligned for calls */
	b1(&e, 8);
	e_st(&e, OFF(bt_host_rsp), RSP);
	/* The bottom of the return stack: a RET with no host CALL under it. */
	e_rm(&e, E_GS, 0xff, 1, 6, NOREG, NOREG, 0, OFF(bt_ret_miss)); /* push qword gs:[ret_miss] */
	e_st(&e, OFF(bt_jmp), RSI);
	e_flags_in(&e, OFF(bt_flags));
	e_load_all(&e);
	e_rm(&e, E_GS, 0xff, 1, 4, NOREG, NOREG, 0, OFF(bt_jmp)); /* jmp gs:[bt_jmp] */

	/* exit: guest registers and flags back into the cpu, return to C. */
	bt->stub_exit = e_pos(&e);
	e_save_all(&e, true);
	e_flags_out(&e, OFF(bt_flags));
	bt->stub_exit_tail = e_pos(&e);
	e_ld(&e, RSP, OFF(bt_host_rsp));
	e_rr(&e, E_W, 0x83, 1, 0, RSP); /* add rsp, 8 */
	b1(&e, 8);
	for (unsigned i = 6; i-- > 0;)
		e_pop_reg(&e, callee_saved[i]);
	b1(&e, 0xc3);

	/*
	 * helper: rax holds the instruction's bt_meta, guest RAX is in the cpu.
	 * Runs it in the interpreter; returns to the caller, or leaves for C.
	 */
	bt->stub_helper = e_pos(&e);
	e_save_all(&e, false);
	e_flags_out(&e, OFF(bt_flags));
	e_ld(&e, RDI, OFF(bt_self));
	e_mov(&e, RSI, RAX);
	/* The return stack leaves the host stack aligned to 8 or 16: C wants 16. */
	e_st(&e, OFF(bt_helper_rsp), RSP);
	e_rr(&e, E_W, 0x83, 1, 4, RSP); /* and rsp, -16 */
	b1(&e, 0xf0);
	e_movi64(&e, RAX, (uint64_t)(uintptr_t)bt_helper);
	e_rr(&e, 0, 0xff, 1, 2, RAX); /* call rax */
	e_ld(&e, RSP, OFF(bt_helper_rsp));
	e_rr(&e, 0, 0x85, 1, RAX, RAX); /* test eax, eax */
	exit_at = e_jcc(&e, 5, 0);	/* jnz .exit */
	e_flags_in(&e, OFF(bt_flags));
	e_load_all(&e);
	b1(&e, 0xc3);
	e_patch(&e, exit_at, e_pos(&e));
	e_rr(&e, E_W, 0x83, 1, 0, RSP); /* drop the return into the block */
	b1(&e, 8);
	e_jmp(&e, bt->stub_exit_tail);

	/*
	 * lookup: a branch to another page or an indirect one. The target
	 * is in RAX, guest RAX in its spill slot, the guest flags in SFLAGS
	 * (LAHF/SETO image). Jumps to the target's block when the jump cache
	 * has it, else leaves for the dispatcher.
	 */
	bt->stub_lookup = e_pos(&e);
	e_st(&e, SPILL(RCX), RCX);
	e_st(&e, OFF(bt_target), RAX);
	e_movi64(&e, RCX, BT_JC_MUL);
	e_rr(&e, E_W, 0x0faf, 2, RCX, RAX); /* imul rcx, rax: bt_jc_set() */
	e_rr(&e, E_W, 0xc1, 1, 5, RCX); /* shr rcx, 64 - BT_JC_BITS */
	b1(&e, 64 - BT_JC_BITS);
	e_rr(&e, 0, 0xc1, 1, 4, RCX); /* shl ecx, 5: 32-byte sets */
	b1(&e, 5);
	e_rr(&e, E_W, 0xc1, 1, 4, RAX); /* shl rax, 16; shr rax, 16; or rax, [bt_key]: bt_jc_key() */
	b1(&e, 16);
	e_rr(&e, E_W, 0xc1, 1, 5, RAX);
	b1(&e, 16);
	e_rm(&e, E_W | E_GS, 0x0b, 1, RAX, NOREG, NOREG, 0, OFF(bt_key));
	e_rm(&e, E_W | E_GS, 0x3b, 1, RAX, NOREG, RCX, 0, OFF(bt_jc)); /* cmp rax, way 0's key */
	way0_at = e_jcc(&e, 4, 0);					 /* je */
	e_rm(&e, E_W | E_GS, 0x3b, 1, RAX, NOREG, RCX, 0, OFF(bt_jc) + 16); /* way 1's */
	miss_at = e_jcc(&e, 5, 0);
	e_lea(&e, RCX, RCX, NOREG, 0, 16);
	e_patch(&e, way0_at, e_pos(&e));
	/* A request the blocks' unlocked budget update lost is seen here. */
	e_rm(&e, E_GS, 0x83, 1, 7, NOREG, NOREG, 0, OFF(bt_attn)); /* cmp dword [attn], 0 */
	b1(&e, 0);
	attn_at = e_jcc(&e, 5, 0);
	e_rm(&e, E_W | E_GS, 0x8b, 1, RCX, NOREG, RCX, 0, OFF(bt_jc) + 8); /* rcx = the entry */
	e_st(&e, OFF(bt_jmp), RCX);
	e_ld(&e, RCX, SPILL(RCX));
	e_flags_restore(&e);
	e_rm(&e, E_GS, 0xff, 1, 4, NOREG, NOREG, 0, OFF(bt_jmp));
	e_patch(&e, miss_at, e_pos(&e));
	e_patch(&e, attn_at, e_pos(&e));
	e_ld(&e, RCX, SPILL(RCX));
	e_ld(&e, RAX, OFF(bt_target));
	e_st(&e, OFF(rip), RAX);
	e_st32i(&e, OFF(bt_exit), 0);
	e_flags_restore(&e);
	e_jmp(&e, bt->stub_exit);

	/* ret_miss: a RET found the bottom of the return stack; it stays there. */
	bt->stub_ret_miss = e_pos(&e);
	e_rm(&e, E_GS, 0xff, 1, 6, NOREG, NOREG, 0, OFF(bt_ret_miss));
	e_jmp(&e, bt->stub_lookup);

	if (bt->perf_map) {
		fprintf(bt->perf_map, "%lx %x bt_stubs\n", (unsigned long)(uintptr_t)bt->rx,
			bt->stub_lookup);
		fprintf(bt->perf_map, "%lx %x bt_lookup\n",
			(unsigned long)(uintptr_t)bt->rx + bt->stub_lookup, e_pos(&e) - bt->stub_lookup);
	}
	bt->stubs_end = (e_pos(&e) + 63) & ~63u;
	return !e.overflow;
}

/* ---- the cache ------------------------------------------------------------ */

static void jc_empty(struct cpu *c)
{
	for (unsigned i = 0; i < 2u << BT_JC_BITS; i++)
		c->bt_jc[i] = (struct cpu_bt_jc){.key = BT_JC_EMPTY};
}

int bt_create(struct cpu *c, size_t cache_size)
{
	struct bt *bt;
	const char *why;
	int fd;

	if (!bt_host_supported(&why))
		return -ENOTSUP;
	if (cache_size < BT_CACHE_MIN || cache_size > BT_CACHE_MAX)
		return -EINVAL;
	bt = calloc(1, sizeof(*bt));
	if (!bt)
		return -ENOMEM;
	bt->size = cache_size;
	bt->meta_size = cache_size;
	bt->tab = calloc(BT_TAB_SIZE, sizeof(*bt->tab));
	bt->meta = malloc(bt->meta_size);
	fd = (int)syscall(SYS_memfd_create, "kite-bt", 1u /* MFD_CLOEXEC */);
	if (!bt->tab || !bt->meta || fd < 0 || ftruncate(fd, (off_t)cache_size) < 0)
		goto fail;
	/* One memory file, two views: written through one, executed through the other. */
	bt->rw = mmap(NULL, cache_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	bt->rx = mmap(NULL, cache_size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	close(fd);
	fd = -1;
	if (bt->rw == MAP_FAILED || bt->rx == MAP_FAILED)
		goto fail;
	bt_host_features(&bt->feat);
	if (getenv("KITE_PERF_MAP")) {
		char path[64];

		snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
		bt->perf_map = fopen(path, "a");
	}
	if (!build_stubs(bt))
		goto fail;
	c->bt = bt;
	c->bt_self = c;
	c->bt_ret_miss = (uintptr_t)bt->rx + bt->stub_ret_miss;
	jc_empty(c);
	bt_flush(c);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (bt->rw && bt->rw != MAP_FAILED)
		munmap(bt->rw, cache_size);
	if (bt->rx && bt->rx != MAP_FAILED)
		munmap(bt->rx, cache_size);
	free(bt->tab);
	free(bt->meta);
	free(bt);
	return -ENOMEM;
}

void bt_destroy(struct cpu *c)
{
	struct bt *bt = c->bt;

	if (!bt)
		return;
	munmap(bt->rw, bt->size);
	munmap(bt->rx, bt->size);
	if (bt->perf_map)
		fclose(bt->perf_map);
	free(bt->tab);
	free(bt->meta);
	free(bt);
	c->bt = NULL;
}

/*
 * Empties the jump cache in O(1): its entries are keyed by a generation
 * that moves on with the TLB generation (translations of code are
 * revalidated, as after a TLB flush); see jc_key().
 */
static void jc_clear(struct cpu *c)
{
	c->tlb_gen++;
}

void bt_flush(struct cpu *c)
{
	struct bt *bt = c->bt;

	bt->used = bt->stubs_end;
	bt->meta_used = 64; /* offset 0 and 1 mean "no exit record" */
	if (++bt->epoch == 0) {
		memset(bt->tab, 0, BT_TAB_SIZE * sizeof(*bt->tab));
		bt->epoch = 1;
	}
	jc_clear(c);
	c->bt_exit = 0;
}

void bt_get_stats(const struct cpu *c, struct bt_stats *st)
{
	if (c->bt)
		*st = c->bt->st;
	else
		memset(st, 0, sizeof(*st));
}

void *bt_meta_alloc(struct bt *bt, size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (bt->meta_used + n > bt->meta_size)
		return NULL;
	p = bt->meta + bt->meta_used;
	bt->meta_used += n;
	return p;
}

/* ---- running -------------------------------------------------------------- */

/*
 * bt_left without the attention bit: far from zero once it is set (the
 * budget stays well within +-2^56), so whether it flipped bit 63 shows.
 */
static int64_t bt_left_get(struct cpu *c)
{
	int64_t v = atomic_load_explicit(&c->bt_left, memory_order_relaxed);

	if (v < -(INT64_C(1) << 56) || v >= INT64_C(1) << 56)
		v = (int64_t)((uint64_t)v ^ (1ull << 63));
	return v;
}

static void bt_left_set(struct cpu *c, int64_t v)
{
	atomic_store_explicit(&c->bt_left, v, memory_order_relaxed);
}

int bt_helper(struct cpu *c, const struct bt_meta *m)
{
	uint64_t next = m->rip + m->in.len;
	uint32_t tlb_gen = c->tlb_gen, tag = c->blk_tag, epoch = c->bt->epoch;
	unsigned sse = bt_sse_state(c);

	c->rflags = (c->rflags & ~(uint64_t)FL_ARITH) | (c->bt_flags & FL_ARITH);
	c->lf.op = LF_NONE;
	c->rip = m->rip;
	c->next_rip = next;
	c->bt_cur = m;
	c->bt->st.helper_calls++;
	m->fn(c, &m->in);
	c->bt_cur = NULL;
	c->rip = c->next_rip;
	c->bt_flags = (flags_get(c) & FL_ARITH) | X86_RFLAGS_FIXED;
	if (c->rip == next && !c->pending_exit && c->tlb_gen == tlb_gen && c->blk_tag == tag &&
	    c->bt->epoch == epoch && c->mode64 && !(c->rflags & X86_RFLAGS_TF) &&
	    bt_sse_state(c) == sse)
		return 0;
	/* Leave after this instruction: hand back the budget of the block's rest. */
	bt_left_set(c, bt_left_get(c) +
			   (m->idx >= m->check ? m->n - m->idx - 1 : -(int64_t)(m->idx + 1)));
	c->bt_exit = 0;
	return 1;
}

void bt_fault_account(struct cpu *c)
{
	const struct bt_meta *m = c->bt_cur;

	if (!m)
		return;
	/* The faulting instruction did not retire. */
	bt_left_set(c, bt_left_get(c) + (m->idx >= m->check ? m->n - m->idx : -(int64_t)m->idx));
	c->insns += c->bt_left0 - bt_left_get(c);
	c->bt_cur = NULL;
}

/* %gs is this vCPU's context on the thread that runs it. */
static void gs_claim(struct cpu *c)
{
	static __thread struct cpu *gs_owner; /* what this thread's %gs base holds */

	if (gs_owner != c) {
		syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)c);
		gs_owner = c;
	}
	c->bt_host_mxcsr = __builtin_ia32_stmxcsr();
}

static inline struct bt_slot *tab_slot(struct bt *bt, uint64_t la)
{
	return &bt->tab[(la ^ (la >> 12)) % BT_TAB_SIZE];
}

/* Whether b's code, in one page or two, is unwritten since its translation. */
static bool block_unwritten(const struct bt_block *b)
{
	return atomic_load_explicit(b->code, memory_order_relaxed) == b->gen &&
	       (!b->code2 || atomic_load_explicit(b->code2, memory_order_relaxed) == b->gen2);
}

/* Whether b's code is still what la (in host page page) holds now, after a TLB change. */
static bool block_still_there(struct cpu *c, const struct bt_block *b, const uint8_t *page)
{
	unsigned off = b->la & 0xfff, first = 4096 - off;
	uint8_t bytes[2 * CPU_BLK_MAX_BYTES];

	if (b->page != page || !block_unwritten(b))
		return false;
	if (!b->page2)
		return cpu_code_hash(page + off, b->bytes) == b->hash;
	if (b->page2 != code_page_cached(c, b->la - off + 4096) || b->bytes > sizeof(bytes))
		return false;
	memcpy(bytes, page + off, first);
	memcpy(bytes + first, b->page2, b->bytes - first);
	return cpu_code_hash(bytes, b->bytes) == b->hash;
}

/*
 * The block at la: a cached translation that still holds (same page, same
 * code, checked since the last TLB flush), else a new one. NULL when the
 * code cannot be translated (the interpreter runs an instruction).
 */
static struct bt_block *find_block(struct cpu *c, uint64_t la)
{
	struct bt *bt = c->bt;
	struct bt_slot *s = tab_slot(bt, la);
	struct bt_block *b = s->epoch == bt->epoch ? s->b : NULL;
	const uint8_t *page;

	if (b && b->la == la && b->tag == c->blk_tag && b->tlb_gen == c->tlb_gen && block_unwritten(b))
		return b;
	page = code_page(c, la);
	if (!page)
		return NULL;
	if (b && b->la == la && b->tag == c->blk_tag && block_still_there(c, b, page)) {
		b->tlb_gen = c->tlb_gen;
		return b;
	}
	if (bt->size - bt->used < BT_BLOCK_SPACE || bt->meta_size - bt->meta_used < BT_META_SPACE) {
		bt->st.flushes++;
		bt_flush(c);
	}
	b = bt_translate(c, la, page);
	if (!b)
		return NULL;
	s->epoch = bt->epoch;
	s->b = b;
	return b;
}

/* Patches the exit the last run left through to go straight to b next time. */
static void chain(struct cpu *c, struct bt_block *b)
{
	struct bt *bt = c->bt;
	const struct bt_exit *x;
	struct emit e = {.base = bt->rw};

	if (c->bt_exit < 64)
		return;
	x = (const struct bt_exit *)(bt->meta + c->bt_exit);
	c->bt_exit = 0;
	/* Within one page only: its translation and its code are then b's too. */
	if (!x->patch || x->target != b->la || b->page2 || (x->from->la ^ b->la) >> 12 ||
	    x->from->page != b->page ||
	    x->from->gen != b->gen || x->from->tag != b->tag)
		return;
	if (x->patch_lent && b->borrowed == x->from->borrowed)
		e_patch(&e, x->patch_lent, (uint32_t)(b->entry_lent - (uintptr_t)bt->rx));
	else
		e_patch(&e, x->patch, (uint32_t)(b->entry - (uintptr_t)bt->rx));
}

/*
 * cpu->bt_key for the entries made and looked up now: the jump cache's
 * generation moves on when the TLB generation or the block tag (but for
 * its user bit, which the key holds itself) does, and the cache is
 * emptied when it wraps.
 */
static uint64_t jc_key(struct cpu *c)
{
	uint32_t tag = c->blk_tag & ~4u;

	if (c->tlb_gen != c->bt_jc_tlb_gen || tag != c->bt_jc_tag) {
		c->bt_jc_tlb_gen = c->tlb_gen;
		c->bt_jc_tag = tag;
		if (++c->bt_jc_gen == BT_JC_GENS) {
			c->bt_jc_gen = 0;
			jc_empty(c);
		}
	}
	return (uint64_t)c->bt_jc_gen << 48 | (uint64_t)(c->cpl == 3) << 63;
}

/* Enters b into la's set: the other way keeps the newest of the two there before. */
static void jc_fill(struct cpu *c, const struct bt_block *b)
{
	struct cpu_bt_jc *set = &c->bt_jc[2 * bt_jc_set(b->la)];
	uint64_t key = bt_jc_key(b->la, c->bt_key);

	if (set[0].key != key)
		set[1] = set[0];
	set[0] = (struct cpu_bt_jc){.key = key, .entry = b->entry};
}

/* Runs one instruction in the interpreter. */
static int interp_one(struct cpu *c)
{
	c->bt_exit = 0;
	return cpu_run_interp(c, c->insns + 1);
}

int bt_run(struct cpu *c, uint64_t end)
{
	struct bt *bt = c->bt;
	typedef void (*enter_fn)(struct cpu *, uintptr_t);
	enter_fn enter = (enter_fn)(void *)(bt->rx + bt->stub_enter);

	gs_claim(c);
	/* An exit taken before the CPU left translated code leads nowhere now. */
	c->bt_exit = 0;
	for (;;) {
		struct bt_block *b;
		uint32_t writes;
		int r;

		if (c->insns + BT_MIN_RUN > end || !c->mode64 ||
		    cpu_debugging(c))
			return CPU_EXIT_RESELECT;
		if (c->bt_exit == 1) {
			/*
			 * The block stopped where the flags were about to be
			 * rewritten: that instruction first, before an interrupt
			 * could see the stale flags.
			 */
			r = interp_one(c);
			if (r != CPU_EXIT_NONE)
				return r;
			continue;
		}
		atomic_store_explicit(&c->bt_attn, 0, memory_order_relaxed);
		if (atomic_load_explicit(&c->exit_request, memory_order_acquire)) {
			atomic_store_explicit(&c->exit_request, false, memory_order_relaxed);
			return CPU_EXIT_REQUEST;
		}
		writes = atomic_load_explicit(&c->code_map->writes, memory_order_acquire);
		if (bt_sse_state(c) != bt->sse_state) {
			/* Translated SSE code assumed what no longer holds. */
			bt_flush(c);
			bt->sse_state = bt_sse_state(c);
		}
		if (writes != c->bt_writes_seen) {
			/* Some block may be stale: find them through checked lookups. */
			c->bt_writes_seen = writes;
			jc_clear(c);
			c->bt_exit = 0;
		}
		c->intr_shadow = false;
		b = find_block(c, c->rip);
		if (!b) {
			r = interp_one(c);
			if (r != CPU_EXIT_NONE)
				return r;
			continue;
		}
		chain(c, b);
		c->bt_key = jc_key(c);
		jc_fill(c, b);
		c->bt_left0 = (int64_t)(end - c->insns > BT_MAX_RUN ? BT_MAX_RUN : end - c->insns) -
			      BT_MARGIN;
		bt_left_set(c, c->bt_left0);
		/* A request between the top of the loop and here would be lost. */
		if (atomic_load_explicit(&c->bt_attn, memory_order_acquire))
			cpu_bt_attention(c);
		c->bt_flags = (flags_get(c) & FL_ARITH) | X86_RFLAGS_FIXED;
		bt->st.entries++;
		enter(c, b->entry);
		c->insns += c->bt_left0 - bt_left_get(c);
		c->rflags = (c->rflags & ~(uint64_t)FL_ARITH) | (c->bt_flags & FL_ARITH);
		c->lf.op = LF_NONE;
		r = c->pending_exit;
		if (r) {
			c->pending_exit = 0;
			if (r != CPU_EXIT_BLOCK)
				return r;
		}
	}
}

uint64_t bt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
