/* soft/cpu/internal.h: helpers shared by the CPU core's files (not an API). */
#ifndef KITE_SOFT_CPU_INTERNAL_H
#define KITE_SOFT_CPU_INTERNAL_H

#include <string.h>

#include "soft/cpu/cpu.h"

#define FL_CF	 X86_RFLAGS_CF
#define FL_PF	 X86_RFLAGS_PF
#define FL_AF	 X86_RFLAGS_AF
#define FL_ZF	 X86_RFLAGS_ZF
#define FL_SF	 X86_RFLAGS_SF
#define FL_DF	 X86_RFLAGS_DF
#define FL_OF	 X86_RFLAGS_OF
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

#define VEC_DE 0
#define VEC_DB 1
#define VEC_NMI 2
#define VEC_BP 3
#define VEC_OF 4
#define VEC_BR 5
#define VEC_UD 6
#define VEC_NM 7
#define VEC_DF 8
#define VEC_TS 10
#define VEC_NP 11
#define VEC_SS 12
#define VEC_GP 13
#define VEC_PF 14

#define MSR_SYSENTER_CS	 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176

/* pending_exit value that makes cpu_run pick the handlers for a new mode (never returned). */
#define CPU_EXIT_RESELECT 0x100
/*
 * pending_exit value that ends the decoded block after this instruction (its
 * code or the translation of its page may have changed); never returned.
 */
#define CPU_EXIT_BLOCK 0x101

static inline void cpu_block_end(struct cpu *c)
{
	if (!c->pending_exit)
		c->pending_exit = CPU_EXIT_BLOCK;
}

/*
 * RFLAGS.IF went from 0 to 1: end the batch so the engine can deliver an
 * interrupt that waited for it (after the STI shadow, by single-stepping).
 */
static inline void cpu_if_enabled(struct cpu *c, uint64_t old_flags, uint64_t new_flags)
{
	if (!(old_flags & X86_RFLAGS_IF) && (new_flags & X86_RFLAGS_IF) &&
	    (!c->pending_exit || c->pending_exit >= CPU_EXIT_RESELECT) &&
	    atomic_load_explicit(&c->irq_pending, memory_order_relaxed))
		c->pending_exit = CPU_EXIT_REQUEST;
}

/* IRET ends NMI blocking: end the batch too if the engine holds an NMI back for it. */
static inline void cpu_nmi_unblock(struct cpu *c)
{
	if (c->nmi_blocked && (!c->pending_exit || c->pending_exit >= CPU_EXIT_RESELECT) &&
	    atomic_load_explicit(&c->nmi_pending, memory_order_relaxed))
		c->pending_exit = CPU_EXIT_REQUEST;
	c->nmi_blocked = false;
}

/* Debug registers (soft/cpu/debug.c). */
#define DR6_B_MASK 0xfu
#define DR6_BD	   (1u << 13)
#define DR6_BS	   (1u << 14)
#define DR7_GD	   (1u << 13)

/*
 * Whether instructions must run one at a time with the #DB conditions
 * checked: single-stepping, a breakpoint enabled, or a #DB a MOV SS held.
 */
static inline bool cpu_debugging(const struct cpu *c)
{
	return (c->rflags & X86_RFLAGS_TF) || (c->dr[7] & 0xff) || c->dbg_pending;
}

/* After DR0-DR3 or DR7 changed: which pages are watched (flushes the TLB, ends the block). */
void cpu_debug_update(struct cpu *c);
/* Whether a data breakpoint watches accesses of kind acc somewhere in the 4 KiB page at page. */
bool dbg_page_watched(const struct cpu *c, uint64_t page, enum cpu_access acc);
/* An access of n bytes at la: the data breakpoints it matches join c->dbg_hits. */
void dbg_watch_check(struct cpu *c, uint64_t la, unsigned n, enum cpu_access acc);
/* Port I/O of n bytes at port: the I/O breakpoints it matches join c->dbg_hits. */
void dbg_io_check(struct cpu *c, uint16_t port, unsigned n);
/* The instruction breakpoints (B0-B3) at linear address la. */
unsigned dbg_code_match(const struct cpu *c, uint64_t la);
/* DR6 for a #DB about to be raised: B0-B3 = bits (and what a MOV SS held), other bits added. */
void dbg_report(struct cpu *c, uint32_t bits);

/*
 * Lazy flag operations (struct cpu_lazy.op). For the shifts a is the operand,
 * b the count (1..63) and AF is left clear. IMUL's SF and PF come from the
 * low half, ZF and AF are clear (what the host does with these undefined ones).
 */
enum {
	LF_NONE,
	LF_ADD,
	LF_SUB,
	LF_ADC,
	LF_SBB,
	LF_LOGIC,
	LF_INC,
	LF_DEC,
	LF_SHL,
	LF_SHR,
	LF_SAR,
	LF_MUL, /* res: the low half; a: 1 when the product overflowed it */
};

/* A spin-wait loop returns CPU_EXIT_PAUSE after this many PAUSEs. */
#define CPU_PAUSE_EXIT 64

/* REP string instructions yield after this many iterations. */
#define CPU_REP_CHUNK 4096

typedef void (*exec_fn)(struct cpu *cpu, const struct x86_insn *in);

/*
 * A decoded basic block: straight-line instructions from one 4 KiB page
 * (a conditional branch that is not taken falls through inside it). It is
 * keyed by linear address and decoding mode, and valid while the page's
 * translation gives the same host page and the page's code generation is
 * the one seen when it was decoded.
 */
#define CPU_BLK_MAX_INSNS 64
#define CPU_BLK_MAX_BYTES 512
#define CPU_BLK_TAB_SIZE  (1u << 18)
#define CPU_BLK_ARENA	  (64u << 20)

struct cpu_blk_insn {
	exec_fn fn;
	struct x86_insn in;
};

struct cpu_block {
	uint64_t la;		/* linear address of the first instruction */
	uint32_t tag;		/* cpu->blk_tag it was decoded under */
	const uint8_t *page;	/* host page the bytes came from */
	_Atomic uint32_t *code; /* its code generation slot */
	uint32_t gen;		/* the generation the bytes belong to */
	uint32_t tlb_gen;	/* cpu->tlb_gen when la last translated to page */
	uint64_t hash;		/* of the bytes, rechecked whenever tlb_gen is */
	uint16_t n;		/* instructions */
	uint16_t bytes;		/* their total length */
	/*
	 * The blocks that ran after this one (a branch target, the fall-through),
	 * found again without the hash table; checked like any other hit.
	 */
	uint64_t next_la[2];
	struct cpu_block *next[2];
	struct cpu_blk_insn insn[];
};

struct cpu_blk_slot {
	uint32_t tag; /* cpu->blk_tag when filled */
	struct cpu_block *b;
};

/* block.c */
static inline _Atomic uint32_t *code_slot(const struct cpu *c, const void *hva)
{
	struct cpu_code_map *m = c->code_map;

	return &m->gen[(((uintptr_t)hva - m->base) >> 12) & m->mask];
}
/* A store hit a page holding decoded code: retire its blocks, end the current one. */
void code_written(struct cpu *c, _Atomic uint32_t *slot);
/* Call after storing to the page whose slot this is. */
static inline void code_check(struct cpu *c, _Atomic uint32_t *slot)
{
	if (__builtin_expect(atomic_load_explicit(slot, memory_order_relaxed) & 1, 0))
		code_written(c, slot);
}
/* Whether in changes control flow or how the code after it decodes. */
bool cpu_insn_ends_block(const struct x86_insn *in);
/* The interpreter's handler for in (64-bit mode unless legacy). */
exec_fn cpu_exec_fn(const struct x86_insn *in, bool legacy);
/*
 * Marks the page of slot as holding decoded code (stores from now on retire
 * it); returns the generation the code belongs to. Read the bytes after.
 */
uint32_t code_mark(_Atomic uint32_t *slot);
int cpu_blocks_init(struct cpu *c);
/* The interpreter's run loop for this mode, inside cpu_run (soft/bt hands code back to it). */
int cpu_run_interp(struct cpu *c, uint64_t end);
void cpu_blocks_free(struct cpu *c);
/* Drops every decoded block. */
void cpu_blocks_flush(struct cpu *c);
/*
 * The slot tag for the current epoch, privilege and decoding mode. Blocks of
 * user and supervisor code are apart: one whose translation was checked at
 * CPL 0 is not run at CPL 3 without a new check (see tlb_gen).
 */
static inline void cpu_blocks_retag(struct cpu *c)
{
	c->blk_tag = (c->blk_epoch << 3) | (c->cpl == 3) << 2 | c->mode;
}
/*
 * A hash of n code bytes. Stores that bypass the CPUs (device DMA into a page
 * cache page that is then mapped as code) move no generation; they are
 * caught when the block is rechecked after a TLB flush, which mapping the
 * page needs.
 */
uint64_t cpu_code_hash(const uint8_t *p, unsigned n);
/*
 * Decodes the block at linear address la from host page page (the exec
 * translation of la's page); NULL when its first instruction crosses the
 * page (the caller decodes that one on its own).
 */
struct cpu_block *cpu_block_build(struct cpu *c, uint64_t la, const uint8_t *page);

static inline uint64_t sz_mask(unsigned sz)
{
	return sz >= 8 ? ~0ull : (1ull << (8 * sz)) - 1;
}

static inline uint64_t sz_msb(unsigned sz)
{
	return 1ull << (8 * sz - 1);
}

static inline uint64_t sext(uint64_t v, unsigned sz)
{
	unsigned sh = 64 - 8 * sz;

	return (uint64_t)((int64_t)(v << sh) >> sh);
}

static inline uint64_t reg_get(const struct cpu *c, unsigned r, unsigned sz)
{
	if (r >= X86_REG_HIGH8)
		return (c->gpr[r - X86_REG_HIGH8] >> 8) & 0xff;
	return c->gpr[r] & sz_mask(sz);
}

static inline void reg_set(struct cpu *c, unsigned r, unsigned sz, uint64_t v)
{
	if (r >= X86_REG_HIGH8) {
		uint64_t *p = &c->gpr[r - X86_REG_HIGH8];

		*p = (*p & ~0xff00ull) | ((v & 0xff) << 8);
		return;
	}
	switch (sz) {
	case 1:
		c->gpr[r] = (c->gpr[r] & ~0xffull) | (v & 0xff);
		break;
	case 2:
		c->gpr[r] = (c->gpr[r] & ~0xffffull) | (v & 0xffff);
		break;
	case 4:
		c->gpr[r] = (uint32_t)v;
		break;
	default:
		c->gpr[r] = v;
	}
}

/* cpu.c */
_Noreturn void cpu_raise(struct cpu *c, unsigned vector, bool has_error, uint32_t error);
/* Traps and INT n: RIP moves past the instruction first. */
_Noreturn void cpu_raise_trap(struct cpu *c, unsigned vector, unsigned kind);
static inline _Noreturn void cpu_raise_gp0(struct cpu *c)
{
	cpu_raise(c, VEC_GP, true, 0);
}
static inline _Noreturn void cpu_raise_ud(struct cpu *c)
{
	cpu_raise(c, VEC_UD, false, 0);
}

/* flags.c */
uint64_t flags_get(struct cpu *c);
bool flags_cond_slow(struct cpu *c, unsigned cc);
/* Replaces the bits in mask with val (other flags are materialised first). */
void flags_put(struct cpu *c, uint64_t mask, uint64_t val);
/* Flags ZF/SF/PF for a result of size sz. */
static inline uint64_t flags_szp(uint64_t res, unsigned sz)
{
	uint64_t f = 0;

	res &= sz_mask(sz);
	if (!res)
		f |= FL_ZF;
	if (res & sz_msb(sz))
		f |= FL_SF;
	if (!__builtin_parity((unsigned)(res & 0xff)))
		f |= FL_PF;
	return f;
}
/* CF alone, without materialising the other flags. */
uint64_t flags_cf(struct cpu *c);

/*
 * Condition code cc (the low nibble of Jcc/SETcc/CMOVcc). The common pairs,
 * a compare or a logic operation followed by a test of it, are answered
 * from the operands.
 */
static inline bool flags_cond(struct cpu *c, unsigned cc)
{
	const struct cpu_lazy *l = &c->lf;
	bool r;

	if (l->op == LF_SUB) {
		switch (cc >> 1) {
		case 1:
			r = l->a < l->b;
			return r ^ (cc & 1);
		case 2:
			r = l->a == l->b;
			return r ^ (cc & 1);
		case 3:
			r = l->a <= l->b;
			return r ^ (cc & 1);
		case 4:
			r = l->res & sz_msb(l->size);
			return r ^ (cc & 1);
		case 6:
			r = (int64_t)sext(l->a, l->size) < (int64_t)sext(l->b, l->size);
			return r ^ (cc & 1);
		case 7:
			r = (int64_t)sext(l->a, l->size) <= (int64_t)sext(l->b, l->size);
			return r ^ (cc & 1);
		default:
			break;
		}
	} else if (l->op == LF_LOGIC) {
		/* CF = OF = 0. */
		switch (cc >> 1) {
		case 0:
		case 1:
			return cc & 1;
		case 2:
		case 3:
			r = l->res == 0;
			return r ^ (cc & 1);
		case 4:
		case 6:
			r = l->res & sz_msb(l->size);
			return r ^ (cc & 1);
		case 7:
			r = l->res == 0 || (l->res & sz_msb(l->size));
			return r ^ (cc & 1);
		default:
			break;
		}
	} else if (l->op != LF_NONE && l->op != LF_MUL) {
		/* Every other lazy operation keeps its result: ZF and SF come from it. */
		switch (cc >> 1) {
		case 1:
			if (l->op != LF_ADD)
				break;
			r = l->res < l->a; /* the carry out of an ADD */
			return r ^ (cc & 1);
		case 2:
			r = l->res == 0;
			return r ^ (cc & 1);
		case 4:
			r = l->res & sz_msb(l->size);
			return r ^ (cc & 1);
		default:
			break;
		}
	}
	return flags_cond_slow(c, cc);
}

static inline void flags_lazy(struct cpu *c, unsigned op, unsigned sz, uint64_t res, uint64_t a,
			      uint64_t b)
{
	uint64_t m = sz_mask(sz);

	c->lf.op = op;
	c->lf.size = sz;
	c->lf.res = res & m;
	c->lf.a = a & m;
	c->lf.b = b & m;
}

/* mem.c */
static inline uint64_t cpu_seg_base(const struct cpu *c, unsigned seg)
{
	return c->seg_base[seg];
}
/* The effective address (offset) of the E operand, truncated to the address size. */
static inline uint64_t cpu_ea(const struct cpu *c, const struct x86_insn *in)
{
	uint64_t ea;

	if (__builtin_expect(in->flags & X86_F_MOFFS, 0)) {
		ea = in->imm;
	} else {
		ea = (uint64_t)(int64_t)in->disp;
		if (in->base != X86_REG_NONE)
			ea += c->gpr[in->base];
		else if (in->flags & X86_F_RIPREL)
			ea += c->next_rip;
		if (in->index != X86_REG_NONE)
			ea += c->gpr[in->index] << in->scale;
	}
	if (in->asz == 8)
		return ea;
	return in->asz == 4 ? (uint32_t)ea : (uint16_t)ea;
}
/* Its linear address. */
static inline uint64_t cpu_la(const struct cpu *c, const struct x86_insn *in)
{
	return cpu_ea(c, in) + cpu_seg_base(c, in->seg);
}
uint64_t mem_read_slow(struct cpu *c, uint64_t la, unsigned sz, unsigned seg);
void mem_write_slow(struct cpu *c, uint64_t la, unsigned sz, uint64_t v, unsigned seg);

/* Sized host loads and stores of 1..8 bytes (sz is usually a constant). */
static inline uint64_t host_load(const uint8_t *p, unsigned sz)
{
	uint8_t b;
	uint16_t w;
	uint32_t d;
	uint64_t q;

	switch (sz) {
	case 1:
		memcpy(&b, p, 1);
		return b;
	case 2:
		memcpy(&w, p, 2);
		return w;
	case 4:
		memcpy(&d, p, 4);
		return d;
	case 8:
		memcpy(&q, p, 8);
		return q;
	default: /* odd sizes: x87 environment images */
		q = 0;
		memcpy(&q, p, sz);
		return q;
	}
}

static inline void host_store(uint8_t *p, unsigned sz, uint64_t v)
{
	uint8_t b = (uint8_t)v;
	uint16_t w = (uint16_t)v;
	uint32_t d = (uint32_t)v;

	switch (sz) {
	case 1:
		memcpy(p, &b, 1);
		break;
	case 2:
		memcpy(p, &w, 2);
		break;
	case 4:
		memcpy(p, &d, 4);
		break;
	case 8:
		memcpy(p, &v, 8);
		break;
	default:
		memcpy(p, &v, sz);
		break;
	}
}

/*
 * Data accesses of sz bytes at linear address la. The fast path is a TLB hit
 * inside one page (a canonical tag implies a canonical la).
 */
static inline uint64_t mem_read(struct cpu *c, uint64_t la, unsigned sz, unsigned seg)
{
	const struct cpu_tlb_entry *e = &c->tlb[CPU_ACCESS_READ][(la >> 12) % CPU_TLB_SIZE];

	if (__builtin_expect(e->tag == (la & ~0xfffull) && (la & 0xfff) + sz <= 0x1000, 1))
		return host_load((uint8_t *)(uintptr_t)(la + e->addend), sz);
	return mem_read_slow(c, la, sz, seg);
}

static inline void mem_write(struct cpu *c, uint64_t la, unsigned sz, uint64_t v, unsigned seg)
{
	const struct cpu_tlb_entry *e = &c->tlb[CPU_ACCESS_WRITE][(la >> 12) % CPU_TLB_SIZE];

	if (__builtin_expect(e->tag == (la & ~0xfffull) && (la & 0xfff) + sz <= 0x1000, 1)) {
		host_store((uint8_t *)(uintptr_t)(la + e->addend), sz, v);
		code_check(c, e->code);
		return;
	}
	mem_write_slow(c, la, sz, v, seg);
}

/*
 * A host pointer for a read-modify-write of sz bytes at la on a write-TLB
 * hit inside one page, with the page's code slot; else NULL.
 */
static inline uint8_t *mem_wptr_fast(struct cpu *c, uint64_t la, unsigned sz,
				     _Atomic uint32_t **code)
{
	const struct cpu_tlb_entry *e = &c->tlb[CPU_ACCESS_WRITE][(la >> 12) % CPU_TLB_SIZE];

	if (__builtin_expect(e->tag == (la & ~0xfffull) && (la & 0xfff) + sz <= 0x1000, 1)) {
		*code = e->code;
		return (uint8_t *)(uintptr_t)(la + e->addend);
	}
	return NULL;
}
/* Copies n (<= 16) bytes; for CMPXCHG16B and instruction fetch. */
void mem_read_bytes(struct cpu *c, uint64_t la, void *dst, unsigned n, unsigned seg,
		    enum cpu_access acc);
/* Host pointer for an access inside one RAM page, else NULL; faults are raised. */
uint8_t *mem_ptr(struct cpu *c, uint64_t la, unsigned sz, unsigned seg, enum cpu_access acc);
/*
 * The host page holding the code at linear address la (through the exec
 * TLB), or NULL when it is not RAM; raises the fetch fault.
 */
const uint8_t *code_page(struct cpu *c, uint64_t la);
/* The same when the exec TLB holds la's page, else NULL: never faults. */
const uint8_t *code_page_cached(const struct cpu *c, uint64_t la);
/* Raises the fault an access of sz bytes at la would raise, without accessing. */
void mem_probe(struct cpu *c, uint64_t la, unsigned sz, unsigned seg, enum cpu_access acc);
/* Checks la..la+sz-1 is canonical, raising #GP(0)/#SS(0). */
void mem_check_canonical(struct cpu *c, uint64_t la, unsigned sz, unsigned seg);

/*
 * Read-modify-write of memory: rmw_begin reads (with a write translation),
 * rmw_commit stores. With lock set and an aligned RAM access the store is a
 * host compare-and-swap; it returns false when another vCPU changed the value
 * in between and the caller must redo the operation.
 */
struct rmw {
	uint8_t *p;
	uint64_t la;
	unsigned sz, seg;
	bool atomic;
};
uint64_t rmw_begin(struct cpu *c, struct rmw *r, uint64_t la, unsigned sz, unsigned seg, bool lock);
bool rmw_commit(struct cpu *c, struct rmw *r, uint64_t old, uint64_t val);

/* The E operand. */
static inline uint64_t opnd_e_get(struct cpu *c, const struct x86_insn *in, unsigned sz)
{
	if (in->flags & X86_F_MEM)
		return mem_read(c, cpu_la(c, in), sz, in->seg);
	return reg_get(c, in->rm, sz);
}

static inline void opnd_e_set(struct cpu *c, const struct x86_insn *in, unsigned sz, uint64_t v)
{
	if (in->flags & X86_F_MEM)
		mem_write(c, cpu_la(c, in), sz, v, in->seg);
	else
		reg_set(c, in->rm, sz, v);
}

/* Stack helpers (64-bit mode: the stack pointer is always RSP). */
void stack_push(struct cpu *c, unsigned sz, uint64_t v);
uint64_t stack_pop(struct cpu *c, unsigned sz);

/* Reads/writes n (<= 8) bytes at la as an implicit supervisor access (descriptor tables, TSS). */
uint64_t sys_read(struct cpu *c, uint64_t la, unsigned n);
void sys_write(struct cpu *c, uint64_t la, unsigned n, uint64_t v);

/*
 * A stack being pushed or popped by a multi-step instruction: nothing is
 * committed to RSP until stk_commit, so a fault part way leaves it as it was.
 * Works in every mode (SS base and B bit outside 64-bit mode).
 */
struct stk {
	uint64_t sp, mask, base;
};
void stk_init(struct cpu *c, struct stk *k);
void stk_push(struct cpu *c, struct stk *k, unsigned sz, uint64_t v);
uint64_t stk_pop(struct cpu *c, struct stk *k, unsigned sz);
void stk_commit(struct cpu *c, const struct stk *k);

/* seg.c: segments, descriptors, privilege, far transfers and event delivery. */
static inline bool cpu_pmode(const struct cpu *c)
{
	return c->sys.cr0 & X86_CR0_PE;
}
struct x86_segment *seg_reg(struct cpu *c, unsigned seg);
/* Recomputes seg_base/seg_limited of one segment, or mode and all segments. */
void seg_update(struct cpu *c, unsigned seg);
void cpu_mode_update(struct cpu *c);
/* Changes CPL (and the TLB set: user and supervisor rights are cached apart). */
void cpu_set_cpl(struct cpu *c, unsigned cpl);
/* Raises #GP(0)/#SS(0) when off..off+sz-1 is outside seg (not 64-bit mode). */
void seg_check(struct cpu *c, unsigned seg, uint64_t off, unsigned sz);
/* MOV/POP Sreg and LxS for a data or stack segment, with the architectural checks. */
void seg_load(struct cpu *c, unsigned seg, uint16_t sel);
/* Reads a GDT/LDT descriptor; false when sel is outside its table. */
bool desc_fetch(struct cpu *c, uint16_t sel, uint32_t d[2]);
void desc_unpack(uint32_t lo, uint32_t hi, uint16_t sel, struct x86_segment *s);
void far_jmp(struct cpu *c, uint16_t sel, uint64_t off, unsigned osz);
void far_call(struct cpu *c, uint16_t sel, uint64_t off, unsigned osz);
void far_ret(struct cpu *c, unsigned osz, unsigned release);
void exec_iret(struct cpu *c, const struct x86_insn *in);
/* Limit/canonical check of a near branch target in the current code segment. */
void branch_check(struct cpu *c, uint64_t target);

static inline bool is_canonical(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/* The exec_* files: one handler per enum x86_op. */
void exec_alu(struct cpu *c, const struct x86_insn *in);
void exec_test(struct cpu *c, const struct x86_insn *in);
void exec_incdec(struct cpu *c, const struct x86_insn *in);
void exec_not(struct cpu *c, const struct x86_insn *in);
void exec_neg(struct cpu *c, const struct x86_insn *in);
void exec_mul(struct cpu *c, const struct x86_insn *in);
void exec_imul1(struct cpu *c, const struct x86_insn *in);
void exec_imul23(struct cpu *c, const struct x86_insn *in);
void exec_div(struct cpu *c, const struct x86_insn *in);
void exec_idiv(struct cpu *c, const struct x86_insn *in);
void exec_shift(struct cpu *c, const struct x86_insn *in);
void exec_shld(struct cpu *c, const struct x86_insn *in);
void exec_shrd(struct cpu *c, const struct x86_insn *in);
void exec_bt(struct cpu *c, const struct x86_insn *in);
void exec_bsf(struct cpu *c, const struct x86_insn *in);
void exec_bsr(struct cpu *c, const struct x86_insn *in);
void exec_tzcnt(struct cpu *c, const struct x86_insn *in);
void exec_lzcnt(struct cpu *c, const struct x86_insn *in);
void exec_popcnt(struct cpu *c, const struct x86_insn *in);
void exec_cmpxchg(struct cpu *c, const struct x86_insn *in);
void exec_cmpxchg2x(struct cpu *c, const struct x86_insn *in);
void exec_xadd(struct cpu *c, const struct x86_insn *in);
void exec_xchg(struct cpu *c, const struct x86_insn *in);

void exec_mov(struct cpu *c, const struct x86_insn *in);
void exec_movzx(struct cpu *c, const struct x86_insn *in);
void exec_movsx(struct cpu *c, const struct x86_insn *in);
void exec_lea(struct cpu *c, const struct x86_insn *in);
void exec_nop(struct cpu *c, const struct x86_insn *in);
void exec_push(struct cpu *c, const struct x86_insn *in);
void exec_pop(struct cpu *c, const struct x86_insn *in);
void exec_pushf(struct cpu *c, const struct x86_insn *in);
void exec_popf(struct cpu *c, const struct x86_insn *in);
void exec_enter(struct cpu *c, const struct x86_insn *in);
void exec_leave(struct cpu *c, const struct x86_insn *in);
void exec_jcc(struct cpu *c, const struct x86_insn *in);
void exec_jmp(struct cpu *c, const struct x86_insn *in);
void exec_call(struct cpu *c, const struct x86_insn *in);
void exec_jmpi(struct cpu *c, const struct x86_insn *in);
void exec_calli(struct cpu *c, const struct x86_insn *in);
void exec_ret(struct cpu *c, const struct x86_insn *in);
void exec_loop(struct cpu *c, const struct x86_insn *in);
void exec_setcc(struct cpu *c, const struct x86_insn *in);
void exec_cmovcc(struct cpu *c, const struct x86_insn *in);
void exec_cbw(struct cpu *c, const struct x86_insn *in);
void exec_cwd(struct cpu *c, const struct x86_insn *in);
void exec_bswap(struct cpu *c, const struct x86_insn *in);
void exec_flag(struct cpu *c, const struct x86_insn *in);
void exec_cli(struct cpu *c, const struct x86_insn *in);
void exec_sti(struct cpu *c, const struct x86_insn *in);
void exec_lahf(struct cpu *c, const struct x86_insn *in);
void exec_sahf(struct cpu *c, const struct x86_insn *in);
void exec_xlat(struct cpu *c, const struct x86_insn *in);
void exec_cpuid(struct cpu *c, const struct x86_insn *in);
void exec_rdtsc(struct cpu *c, const struct x86_insn *in);
void exec_movbe(struct cpu *c, const struct x86_insn *in);
void exec_int3(struct cpu *c, const struct x86_insn *in);
void exec_icebp(struct cpu *c, const struct x86_insn *in);
void exec_int(struct cpu *c, const struct x86_insn *in);
/* The x87 and SSE/MMX units (exec_x87.c, exec_sse.c); their state is cpu->fpu. */
/*
 * LOOP/LOOPE/LOOPNE/JrCXZ (insn->sub 0-3): whether the branch is taken, and
 * the new rCX for the caller to store once the branch has not faulted.
 */
bool loop_condition(struct cpu *c, const struct x86_insn *in, uint64_t *count);
void exec_sse(struct cpu *c, const struct x86_insn *in);
/* A handler for one of the commonest SSE2 integer shapes, or NULL (exec_sse.c). */
exec_fn exec_sse_fast_pick(const struct x86_insn *in);
void exec_x87(struct cpu *c, const struct x86_insn *in);

void exec_movs(struct cpu *c, const struct x86_insn *in);
void exec_stos(struct cpu *c, const struct x86_insn *in);
void exec_lods(struct cpu *c, const struct x86_insn *in);
void exec_cmps(struct cpu *c, const struct x86_insn *in);
void exec_scas(struct cpu *c, const struct x86_insn *in);
void exec_ins(struct cpu *c, const struct x86_insn *in);
void exec_outs(struct cpu *c, const struct x86_insn *in);
void exec_in(struct cpu *c, const struct x86_insn *in);
void exec_out(struct cpu *c, const struct x86_insn *in);
/* Port permission: IOPL, then the TSS I/O bitmap (exec_str.c). */
void io_check(struct cpu *c, uint16_t port, unsigned sz);

/*
 * exec_fast.c: a handler specialised for in's operand shape, or NULL for the
 * generic one; legacy: 16/32-bit code (its stack and branches differ).
 */
exec_fn exec_fast_pick(const struct x86_insn *in, bool legacy);

/* exec_legacy.c: 16/32-bit code (stack through SS, IP/EIP wrap, CS limit). */
void exec_lpush(struct cpu *c, const struct x86_insn *in);
void exec_lpop(struct cpu *c, const struct x86_insn *in);
void exec_lpushf(struct cpu *c, const struct x86_insn *in);
void exec_lpopf(struct cpu *c, const struct x86_insn *in);
void exec_lenter(struct cpu *c, const struct x86_insn *in);
void exec_lleave(struct cpu *c, const struct x86_insn *in);
void exec_ljcc(struct cpu *c, const struct x86_insn *in);
void exec_ljmp(struct cpu *c, const struct x86_insn *in);
void exec_lcall(struct cpu *c, const struct x86_insn *in);
void exec_ljmpi(struct cpu *c, const struct x86_insn *in);
void exec_lcalli(struct cpu *c, const struct x86_insn *in);
void exec_lret(struct cpu *c, const struct x86_insn *in);
void exec_lloop(struct cpu *c, const struct x86_insn *in);
void exec_pusha(struct cpu *c, const struct x86_insn *in);
void exec_popa(struct cpu *c, const struct x86_insn *in);
void exec_bound(struct cpu *c, const struct x86_insn *in);
void exec_arpl(struct cpu *c, const struct x86_insn *in);
void exec_bcd(struct cpu *c, const struct x86_insn *in);
void exec_into(struct cpu *c, const struct x86_insn *in);
void exec_salc(struct cpu *c, const struct x86_insn *in);

/* exec_sys.c: segment register instructions, far transfers and system instructions. */
void exec_pushseg(struct cpu *c, const struct x86_insn *in);
void exec_popseg(struct cpu *c, const struct x86_insn *in);
void exec_movseg_ld(struct cpu *c, const struct x86_insn *in);
void exec_movseg_st(struct cpu *c, const struct x86_insn *in);
void exec_lseg(struct cpu *c, const struct x86_insn *in);
void exec_jmpf(struct cpu *c, const struct x86_insn *in);
void exec_callf(struct cpu *c, const struct x86_insn *in);
void exec_jmpfi(struct cpu *c, const struct x86_insn *in);
void exec_callfi(struct cpu *c, const struct x86_insn *in);
void exec_retf(struct cpu *c, const struct x86_insn *in);
void exec_grp6(struct cpu *c, const struct x86_insn *in);
void exec_grp7(struct cpu *c, const struct x86_insn *in);
void exec_larlsl(struct cpu *c, const struct x86_insn *in);
void exec_clts(struct cpu *c, const struct x86_insn *in);
void exec_movcr(struct cpu *c, const struct x86_insn *in);
void exec_movdr(struct cpu *c, const struct x86_insn *in);
void exec_rdmsr(struct cpu *c, const struct x86_insn *in);
void exec_wrmsr(struct cpu *c, const struct x86_insn *in);
void exec_syscall(struct cpu *c, const struct x86_insn *in);
void exec_sysret(struct cpu *c, const struct x86_insn *in);
void exec_sysenter(struct cpu *c, const struct x86_insn *in);
void exec_sysexit(struct cpu *c, const struct x86_insn *in);
void exec_cache(struct cpu *c, const struct x86_insn *in);
void exec_clflush(struct cpu *c, const struct x86_insn *in);
void exec_hlt(struct cpu *c, const struct x86_insn *in);

#endif
