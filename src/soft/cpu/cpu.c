/* soft/cpu/cpu.c: the CPU core's run loop over decoded blocks, and its state. */
#include <errno.h>
#include <stdlib.h>

#include "soft/bt/bt.h"
#include "soft/cpu/internal.h"

#define PAGE_SIZE 4096u
#define PAGE_MASK (~(uint64_t)(PAGE_SIZE - 1))

static void exec_invalid(struct cpu *c, const struct x86_insn *in)
{
	if (in->op == OP_UNIMPL && in->sub == X86_UNIMPL_SYSCALL) {
		exec_syscall(c, in);
		return;
	}
	if (in->op == OP_UNIMPL && in->sub == X86_UNIMPL_SYSENTER) {
		exec_sysenter(c, in);
		return;
	}
	/* CPUID leaf 0xA offers no counters: every ECX names one that does not exist. */
	if (in->op == OP_UNIMPL && in->sub == X86_UNIMPL_RDPMC)
		cpu_raise_gp0(c);
	c->exc.unimplemented = in->op == OP_UNIMPL;
	cpu_raise_ud(c);
}

static void exec_toolong(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	cpu_raise_gp0(c);
}

void exec_hlt(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	if (c->cpl != 0)
		cpu_raise_gp0(c);
	/* A halted CPU is past any shadow, even one translated code left stale. */
	c->intr_shadow = false;
	c->pending_exit = CPU_EXIT_HLT;
}

/* Handlers every mode shares. */
#define EXEC_COMMON \
    [OP_UD] = exec_invalid, \
    [OP_UNIMPL] = exec_invalid, \
    [OP_TOOLONG] = exec_toolong, \
    [OP_ALU] = exec_alu, \
    [OP_TEST] = exec_test, \
    [OP_INC] = exec_incdec, \
    [OP_DEC] = exec_incdec, \
    [OP_NOT] = exec_not, \
    [OP_NEG] = exec_neg, \
    [OP_MUL] = exec_mul, \
    [OP_IMUL1] = exec_imul1, \
    [OP_IMUL2] = exec_imul23, \
    [OP_IMUL3] = exec_imul23, \
    [OP_DIV] = exec_div, \
    [OP_IDIV] = exec_idiv, \
    [OP_SHIFT] = exec_shift, \
    [OP_SHLD] = exec_shld, \
    [OP_SHRD] = exec_shrd, \
    [OP_MOV] = exec_mov, \
    [OP_MOVZX] = exec_movzx, \
    [OP_MOVSX] = exec_movsx, \
    [OP_LEA] = exec_lea, \
    [OP_XCHG] = exec_xchg, \
    [OP_NOP] = exec_nop, \
    [OP_SETCC] = exec_setcc, \
    [OP_CMOVCC] = exec_cmovcc, \
    [OP_CBW] = exec_cbw, \
    [OP_CWD] = exec_cwd, \
    [OP_BSWAP] = exec_bswap, \
    [OP_BT] = exec_bt, \
    [OP_BSF] = exec_bsf, \
    [OP_BSR] = exec_bsr, \
    [OP_TZCNT] = exec_tzcnt, \
    [OP_LZCNT] = exec_lzcnt, \
    [OP_POPCNT] = exec_popcnt, \
    [OP_MOVS] = exec_movs, \
    [OP_STOS] = exec_stos, \
    [OP_LODS] = exec_lods, \
    [OP_CMPS] = exec_cmps, \
    [OP_SCAS] = exec_scas, \
    [OP_INS] = exec_ins, \
    [OP_OUTS] = exec_outs, \
    [OP_IN] = exec_in, \
    [OP_OUT] = exec_out, \
    [OP_CMPXCHG] = exec_cmpxchg, \
    [OP_CMPXCHG2X] = exec_cmpxchg2x, \
    [OP_XADD] = exec_xadd, \
    [OP_FLAG] = exec_flag, \
    [OP_CLI] = exec_cli, \
    [OP_STI] = exec_sti, \
    [OP_LAHF] = exec_lahf, \
    [OP_SAHF] = exec_sahf, \
    [OP_XLAT] = exec_xlat, \
    [OP_CPUID] = exec_cpuid, \
    [OP_RDTSC] = exec_rdtsc, \
    [OP_MOVBE] = exec_movbe, \
    [OP_HLT] = exec_hlt, \
    [OP_INT3] = exec_int3, \
    [OP_ICEBP] = exec_icebp, \
    [OP_INT] = exec_int, \
    [OP_UD2] = exec_invalid, \
    [OP_SSE] = exec_sse, \
    [OP_X87] = exec_x87, \
    [OP_PUSHSEG] = exec_pushseg, \
    [OP_POPSEG] = exec_popseg, \
    [OP_MOVSEG_LD] = exec_movseg_ld, \
    [OP_MOVSEG_ST] = exec_movseg_st, \
    [OP_LSEG] = exec_lseg, \
    [OP_PUSHA] = exec_pusha, \
    [OP_POPA] = exec_popa, \
    [OP_BOUND] = exec_bound, \
    [OP_ARPL] = exec_arpl, \
    [OP_BCD] = exec_bcd, \
    [OP_INTO] = exec_into, \
    [OP_SALC] = exec_salc, \
    [OP_JMPF] = exec_jmpf, \
    [OP_CALLF] = exec_callf, \
    [OP_JMPFI] = exec_jmpfi, \
    [OP_CALLFI] = exec_callfi, \
    [OP_RETF] = exec_retf, \
    [OP_IRET] = exec_iret, \
    [OP_GRP6] = exec_grp6, \
    [OP_GRP7] = exec_grp7, \
    [OP_LAR] = exec_larlsl, \
    [OP_LSL] = exec_larlsl, \
    [OP_CLTS] = exec_clts, \
    [OP_MOVCR] = exec_movcr, \
    [OP_MOVDR] = exec_movdr, \
    [OP_RDMSR] = exec_rdmsr, \
    [OP_WRMSR] = exec_wrmsr, \
    [OP_SYSRET] = exec_sysret, \
    [OP_SYSEXIT] = exec_sysexit, \
    [OP_CACHE] = exec_cache, \
    [OP_CLFLUSH] = exec_clflush,

static const exec_fn exec_table64[OP_NR] = {
    EXEC_COMMON
    [OP_PUSH] = exec_push,
    [OP_POP] = exec_pop,
    [OP_PUSHF] = exec_pushf,
    [OP_POPF] = exec_popf,
    [OP_ENTER] = exec_enter,
    [OP_LEAVE] = exec_leave,
    [OP_JCC] = exec_jcc,
    [OP_JMP] = exec_jmp,
    [OP_CALL] = exec_call,
    [OP_JMPI] = exec_jmpi,
    [OP_CALLI] = exec_calli,
    [OP_RET] = exec_ret,
    [OP_LOOP] = exec_loop,
};

/* 16- and 32-bit code: the stack goes through SS, branches wrap and check the CS limit. */
static const exec_fn exec_table_legacy[OP_NR] = {
    EXEC_COMMON
    [OP_PUSH] = exec_lpush,
    [OP_POP] = exec_lpop,
    [OP_PUSHF] = exec_lpushf,
    [OP_POPF] = exec_lpopf,
    [OP_ENTER] = exec_lenter,
    [OP_LEAVE] = exec_lleave,
    [OP_JCC] = exec_ljcc,
    [OP_JMP] = exec_ljmp,
    [OP_CALL] = exec_lcall,
    [OP_JMPI] = exec_ljmpi,
    [OP_CALLI] = exec_lcalli,
    [OP_RET] = exec_lret,
    [OP_LOOP] = exec_lloop,
};

exec_fn cpu_exec_fn(const struct x86_insn *in, bool legacy)
{
	exec_fn fn = exec_fast_pick(in, legacy);

	return fn ? fn : (legacy ? exec_table_legacy : exec_table64)[in->op];
}

_Noreturn void cpu_raise(struct cpu *c, unsigned vector, bool has_error, uint32_t error)
{
	c->exc.vector = vector;
	c->exc.has_error = has_error;
	c->exc.error_code = error;
	c->exc.kind = CPU_EXC_FAULT;
	c->exc_rip = c->rip;
	longjmp(c->fault_jmp, 1);
}

_Noreturn void cpu_raise_trap(struct cpu *c, unsigned vector, unsigned kind)
{
	/* The instruction retires: run_block's fault path counts it from exc_rip. */
	c->exc_rip = c->rip + 1;
	c->soft_int_rip = c->rip;
	c->rip = c->next_rip;
	c->exc.vector = vector;
	c->exc.has_error = false;
	c->exc.error_code = 0;
	c->exc.kind = kind;
	longjmp(c->fault_jmp, 1);
}

int cpu_init(struct cpu *c, const struct cpu_ops *ops, void *opaque)
{
	memset(c, 0, sizeof(*c));
	if (cpu_blocks_init(c) < 0)
		return -ENOMEM;
	c->ops = ops;
	c->opaque = opaque;
	c->rflags = X86_RFLAGS_FIXED;
	c->mode64 = true;
	c->mode = X86_MODE_64;
	c->sys.efer = X86_EFER_LME | X86_EFER_LMA;
	c->sys.cr0 = X86_CR0_PE | X86_CR0_PG;
	c->sys.cr4 = X86_CR4_PAE;
	c->sys.cs.l = 1;
	c->sys.cs.present = 1;
	c->msr.pat = 0x0007040600070406ull;
	c->dr[6] = 0xffff0ff0;
	c->dr[7] = 0x400;
	/* Until an engine says otherwise, every STI may have an interrupt to let in. */
	atomic_store(&c->irq_pending, true);
	cpu_fpu_reset(&c->fpu);
	c->tlb = c->tlb_set[0];
	cpu_tlb_flush(c);
	cpu_blocks_retag(c);
	return 0;
}

void cpu_destroy(struct cpu *c)
{
	bt_destroy(c);
	cpu_blocks_free(c);
}

int cpu_use_translator(struct cpu *c, size_t cache_size)
{
	if (c->bt)
		return 0;
	return bt_create(c, cache_size);
}

void cpu_set_state(struct cpu *c, const struct x86_cpu_state *st)
{
	c->sys = *st;
	memcpy(c->gpr, st->gpr, sizeof(c->gpr));
	c->rip = st->rip;
	cpu_set_rflags(c, st->rflags);
	cpu_set_cpl(c, (st->cr0 & X86_CR0_PE) ? st->cs.selector & 3 : 0);
	cpu_mode_update(c);
	c->pending_exit = 0;
	c->intr_shadow = c->ss_shadow = false;
	c->dbg_pending = 0;
	cpu_tlb_flush(c);
	cpu_blocks_flush(c);
}

void cpu_get_state(struct cpu *c, struct x86_cpu_state *st)
{
	*st = c->sys;
	memcpy(st->gpr, c->gpr, sizeof(st->gpr));
	st->rip = c->rip;
	st->rflags = flags_get(c);
}

uint64_t cpu_get_rflags(struct cpu *c)
{
	return flags_get(c);
}

void cpu_set_rflags(struct cpu *c, uint64_t rflags)
{
	c->lf.op = LF_NONE;
	c->rflags = (rflags & 0x3f7fd5) | X86_RFLAGS_FIXED;
}

void cpu_bt_attention(struct cpu *c)
{
	atomic_store_explicit(&c->bt_attn, 1, memory_order_release);
	/*
	 * Translated code updates bt_left without a lock and may undo this;
	 * bt_attn stays, and the lookup stub and the dispatcher test it.
	 */
	atomic_fetch_or_explicit(&c->bt_left, INT64_MIN, memory_order_release);
}

void cpu_request_exit(struct cpu *c)
{
	atomic_store_explicit(&c->exit_request, true, memory_order_release);
	cpu_bt_attention(c);
}

/*
 * Slow fetch: gathers the bytes at linear address la (crossing a page if the
 * instruction does) and decodes them in the current mode.
 */
static void fetch_slow(struct cpu *c, uint64_t la, uint8_t *bytes, struct x86_insn *in)
{
	unsigned first = PAGE_SIZE - (la & ~PAGE_MASK);

	if (first > X86_INSN_MAX_LEN)
		first = X86_INSN_MAX_LEN;
	mem_read_bytes(c, la, bytes, first, X86_SEG_CS, CPU_ACCESS_EXEC);
	if (x86_decode(bytes, first, c->mode, in) == 0)
		return;
	/* The instruction continues on the next page: its fault is the one to raise. */
	mem_read_bytes(c, la + first, bytes + first, X86_INSN_MAX_LEN - first, X86_SEG_CS,
		       CPU_ACCESS_EXEC);
	x86_decode(bytes, X86_INSN_MAX_LEN, c->mode, in);
}

/*
 * A one-instruction block in c->blk_one that is never cached: page-crossing
 * or MMIO code, or a block reaching past the CS limit.
 */
static struct cpu_block *fetch_one(struct cpu *c, uint64_t la, bool legacy,
				   const exec_fn *table)
{
	uint8_t bytes[X86_INSN_MAX_LEN];
	struct cpu_block *one = c->blk_one;
	struct x86_insn *in = &one->insn[0].in;

	if (legacy && c->rip > c->sys.cs.limit)
		cpu_raise_gp0(c);
	fetch_slow(c, la, bytes, in);
	/* Bytes past the CS limit cannot be fetched (the decode keeps its fault first). */
	if (legacy && c->rip + in->len - 1 > c->sys.cs.limit)
		cpu_raise_gp0(c);
	one->la = la;
	one->n = 1;
	one->bytes = in->len;
	one->insn[0].fn = table[in->op];
	return one;
}

/*
 * The block at linear address la (RIP in CS): a cached one whose page still
 * translates to the same host page and holds the same code, else decoded now.
 */
static struct cpu_block *fetch_block(struct cpu *c, uint64_t la, bool legacy,
				     const exec_fn *table)
{
	struct cpu_blk_slot *s = &c->blk_tab[(la ^ (la >> 12)) % CPU_BLK_TAB_SIZE];
	struct cpu_block *b = s->b;
	const uint8_t *page;

	/*
	 * No flush since the block's page was last translated: the guest has not
	 * invalidated that translation, so it may still be used (x86 allows a
	 * stale TLB entry until INVLPG or a CR3 write). After a flush, the
	 * bytes are compared too (cpu_code_hash: writes no CPU saw).
	 */
	if (s->tag == c->blk_tag && b->la == la && b->tlb_gen == c->tlb_gen &&
	    atomic_load_explicit(b->code, memory_order_relaxed) == b->gen)
		goto hit;
	page = code_page(c, la);
	if (!page)
		return fetch_one(c, la, legacy, table);
	if (s->tag == c->blk_tag && b->la == la && b->page == page &&
	    atomic_load_explicit(b->code, memory_order_relaxed) == b->gen &&
	    cpu_code_hash(page + (la & ~PAGE_MASK), b->bytes) == b->hash) {
		b->tlb_gen = c->tlb_gen;
	} else {
		if (legacy && c->rip > c->sys.cs.limit)
			cpu_raise_gp0(c);
		b = cpu_block_build(c, la, page);
		if (!b)
			return fetch_one(c, la, legacy, table);
	}
hit:
	/* A block reaching past the CS limit runs one checked instruction at a time. */
	if (legacy && c->rip + b->bytes - 1 > c->sys.cs.limit)
		return fetch_one(c, la, legacy, table);
	return b;
}

/*
 * 16/32-bit code: a memory operand through a segment whose limit can fail is
 * checked before the instruction runs (LEA and hinting NOPs touch nothing).
 */
static inline void operand_limit_check(struct cpu *c, const struct x86_insn *in)
{
	if ((in->flags & X86_F_MEM) && (c->seg_limited >> in->seg & 1) && in->op != OP_LEA &&
	    in->op != OP_NOP)
		seg_check(c, in->seg, cpu_ea(c, in), in->osz);
}

/* The block that ran after prev at la last time, if it is still valid. */
static inline struct cpu_block *chain_next(struct cpu *c, const struct cpu_block *prev,
					   uint64_t la)
{
	struct cpu_block *b;

	if (prev->next_la[0] == la)
		b = prev->next[0];
	else if (prev->next_la[1] == la)
		b = prev->next[1];
	else
		return NULL;
	if (b && b->tag == c->blk_tag && b->tlb_gen == c->tlb_gen &&
	    atomic_load_explicit(b->code, memory_order_relaxed) == b->gen)
		return b;
	return NULL;
}

static inline void chain_link(struct cpu_block *prev, uint64_t la, struct cpu_block *b)
{
	unsigned k = prev->next[0] && prev->next_la[0] != la;

	prev->next_la[k] = la;
	prev->next[k] = b;
}

/*
 * Runs blocks until the budget ends or an instruction asks to stop. Per
 * instruction: the handler, then a check that control went where the block
 * goes and that nothing asked for the block to end.
 */
static inline __attribute__((always_inline)) int run_blocks(struct cpu *c, uint64_t end,
							     bool legacy)
{
	const exec_fn *table = legacy ? exec_table_legacy : exec_table64;
	struct cpu_block *prev = NULL;

	while (c->insns < end) {
		struct cpu_block *b;
		uint64_t rip, la;
		unsigned n, i;
		int r;

		if (atomic_load_explicit(&c->exit_request, memory_order_relaxed)) {
			atomic_store_explicit(&c->exit_request, false, memory_order_relaxed);
			return CPU_EXIT_REQUEST;
		}
		/* TF or a breakpoint came on: run_debug takes over. */
		if (__builtin_expect(cpu_debugging(c), 0))
			return CPU_EXIT_RESELECT;
		c->intr_shadow = c->ss_shadow = false;
		la = legacy ? (uint32_t)(c->seg_base[X86_SEG_CS] + c->rip) : c->rip;
		b = prev ? chain_next(c, prev, la) : NULL;
		if (!b) {
			uint32_t epoch = c->blk_epoch;

			b = fetch_block(c, la, legacy, table);
			/* Link only blocks of one epoch: a flush reused prev's memory. */
			if (prev && b != c->blk_one && epoch == c->blk_epoch)
				chain_link(prev, la, b);
		}
		prev = (legacy || b == c->blk_one) ? NULL : b;
		n = b->n;
		if (end - c->insns < n)
			n = (unsigned)(end - c->insns);
		rip = c->rip;
		c->blk_cur = b;
		c->blk_rip = rip;
		for (i = 0; i < n;) {
			const struct cpu_blk_insn *bi = &b->insn[i];
			uint64_t next = rip + bi->in.len;

			c->next_rip = next;
			if (legacy)
				operand_limit_check(c, &bi->in);
			bi->fn(c, &bi->in);
			i++;
			rip = c->next_rip;
			c->rip = rip;
			if (__builtin_expect(rip != next || c->pending_exit, 0))
				break;
		}
		c->blk_cur = NULL;
		c->insns += i;
		r = c->pending_exit;
		if (r) {
			c->pending_exit = 0;
			if (r != CPU_EXIT_BLOCK)
				return r;
		}
	}
	return CPU_EXIT_NONE;
}

/* Apart from cpu_run: its setjmp would keep the loop's state in memory. */
static __attribute__((noinline)) int run64(struct cpu *c, uint64_t end)
{
	return run_blocks(c, end, false);
}

/* 16/32-bit code: CS base and limit, segment limits of memory operands. */
static __attribute__((noinline)) int run_legacy(struct cpu *c, uint64_t end)
{
	return run_blocks(c, end, true);
}

/*
 * SYSCALL and SYSRET single-step on the TF they leave, not the one they
 * found: SYSCALL's FMASK clearing TF steps nothing in the kernel, and a TF
 * SYSRET restores traps at once (exec_sysret raises that #DB itself).
 */
static bool steps_on_new_tf(const struct x86_insn *in)
{
	return (in->op == OP_UNIMPL && in->sub == X86_UNIMPL_SYSCALL) || in->op == OP_SYSRET;
}

/* Stops before the instruction at RIP with #DB in c->exc (kind: fault or trap). */
static int debug_exit(struct cpu *c, uint8_t kind)
{
	c->exc = (struct cpu_exception){.vector = VEC_DB, .kind = kind};
	c->exc_rip = c->rip;
	return CPU_EXIT_EXCEPTION;
}

/*
 * Single-stepping or breakpoints (SDM vol. 3, 18.3): one instruction at a
 * time, undecoded blocks, with the #DB conditions checked around each. An
 * instruction breakpoint is a fault before the instruction unless RF says
 * the handler resumes past it; data and I/O breakpoints and single-step are
 * traps after it, reported in one #DB. MOV SS and POP SS hold theirs until
 * after the next instruction, which may instead raise its own exception
 * (cpu_deliver_exception delivers the held #DB after that).
 */
static int run_debug(struct cpu *c, uint64_t end)
{
	while (c->insns < end) {
		bool legacy = !c->mode64, in_ss_shadow = c->ss_shadow, tf, rf;
		const exec_fn *table = legacy ? exec_table_legacy : exec_table64;
		const struct x86_insn *in;
		struct cpu_block *one;
		uint32_t trap;
		uint64_t la;
		int r;

		if (atomic_load_explicit(&c->exit_request, memory_order_relaxed)) {
			atomic_store_explicit(&c->exit_request, false, memory_order_relaxed);
			return CPU_EXIT_REQUEST;
		}
		if (!cpu_debugging(c))
			return CPU_EXIT_RESELECT;
		if (c->rflags & X86_RFLAGS_VM)
			return CPU_EXIT_UNSUPPORTED;
		tf = c->rflags & X86_RFLAGS_TF;
		rf = c->rflags & X86_RFLAGS_RF;
		c->intr_shadow = c->ss_shadow = false;
		la = legacy ? (uint32_t)(c->seg_base[X86_SEG_CS] + c->rip) : c->rip;
		if (!rf && !in_ss_shadow && (c->dr[7] & 0xff)) {
			unsigned bits = dbg_code_match(c, la);

			if (bits) {
				dbg_report(c, bits);
				return debug_exit(c, CPU_EXC_FAULT);
			}
		}
		c->dbg_hits = 0;
		one = fetch_one(c, la, legacy, table);
		in = &one->insn[0].in;
		c->next_rip = c->rip + in->len;
		if (legacy)
			operand_limit_check(c, in);
		one->insn[0].fn(c, in);
		c->rip = c->next_rip;
		c->insns++;
		r = c->pending_exit;
		c->pending_exit = 0;
		/* RF lasts one instruction, unless that instruction is an IRET that loaded it. */
		if (rf && in->op != OP_IRET)
			c->rflags &= ~(uint64_t)X86_RFLAGS_RF;
		trap = c->dbg_hits;
		if (steps_on_new_tf(in) ? (c->rflags & X86_RFLAGS_TF) : tf)
			trap |= DR6_BS;
		if (c->ss_shadow && !in_ss_shadow) {
			/* The next instruction's own single-step stands for this one's. */
			c->dbg_pending |= trap & DR6_B_MASK;
		} else if (trap || c->dbg_pending) {
			/* Before an interrupt, and instead of halting: the #DB handler runs first. */
			dbg_report(c, trap);
			return debug_exit(c, CPU_EXC_TRAP);
		}
		if (r && r < CPU_EXIT_RESELECT)
			return r;
	}
	return CPU_EXIT_NONE;
}

/* After a fault: count the block's instructions that retired before it. */
static void count_retired(struct cpu *c)
{
	const struct cpu_block *b = c->blk_cur;
	uint64_t at = c->blk_rip;

	if (!b)
		return;
	for (unsigned i = 0; i < b->n && at < c->exc_rip; i++) {
		at += b->insn[i].in.len;
		c->insns++;
	}
	c->blk_cur = NULL;
}

int cpu_run(struct cpu *c, uint64_t max_insns)
{
	uint64_t end = c->insns + max_insns;

	c->pending_exit = 0;
	/*
	 * RF (set by IRET) must be clear once an instruction completed. Without
	 * instruction breakpoints it changes nothing but the flags an event
	 * pushes, so it is dropped per batch instead of per instruction.
	 */
	if (!(c->dr[7] & 0xff))
		c->rflags &= ~(uint64_t)X86_RFLAGS_RF;
	c->exc.unimplemented = false;
	c->exc.cr2 = 0;
	c->fault_flags_valid = false;
	c->blk_cur = NULL;
	if (setjmp(c->fault_jmp)) {
		/* Registers are as the faulting instruction left them; RIP is unchanged. */
		count_retired(c);
		bt_fault_account(c);
		c->pending_exit = 0;
		if (c->fault_flags_valid && c->exc.kind == CPU_EXC_FAULT)
			cpu_set_rflags(c, c->fault_flags);
		c->fault_flags_valid = false;
		return CPU_EXIT_EXCEPTION;
	}
	for (;;) {
		int r;

		/* Virtual-8086 mode is not executed. */
		if (c->rflags & X86_RFLAGS_VM)
			return CPU_EXIT_UNSUPPORTED;
		r = c->bt ? bt_run(c, end) : CPU_EXIT_RESELECT;
		if (r == CPU_EXIT_RESELECT)
			r = cpu_run_interp(c, end);
		if (r != CPU_EXIT_RESELECT)
			return r;
	}
}

int cpu_run_interp(struct cpu *c, uint64_t end)
{
	if (cpu_debugging(c))
		return run_debug(c, end);
	return c->mode64 ? run64(c, end) : run_legacy(c, end);
}

int cpu_step(struct cpu *c)
{
	return cpu_run(c, 1);
}
