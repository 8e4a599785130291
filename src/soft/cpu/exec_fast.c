/* soft/cpu/exec_fast.c: handlers specialised by operand shape for the commonest instructions. */
#include "soft/cpu/internal.h"

/*
 * The block builder asks exec_fast_pick for a handler fitted to one decoded
 * instruction (operation, operand size, register or memory, form), falling
 * back to the generic handler of its op. Each one must do exactly what the
 * generic handler does for that shape; anything unusual on the way (a TLB
 * miss, a page-crossing access) is handed to the generic handler whole.
 */

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Registers by size; 8- and 16-bit ones (AH..BH included) go through reg_get/reg_set. */
static ALWAYS_INLINE uint64_t rd(const struct cpu *c, unsigned r, unsigned sz)
{
	if (sz == 8)
		return c->gpr[r];
	if (sz == 4)
		return (uint32_t)c->gpr[r];
	return reg_get(c, r, sz);
}

/* v is already zero-extended to sz. */
static ALWAYS_INLINE void wr(struct cpu *c, unsigned r, unsigned sz, uint64_t v)
{
	if (sz >= 4)
		c->gpr[r] = v;
	else
		reg_set(c, r, sz, v);
}

static ALWAYS_INLINE uint64_t imm_of(const struct x86_insn *in, unsigned sz)
{
	return in->imm & sz_mask(sz);
}

/* ADD, OR, AND, SUB, XOR, CMP (not ADC/SBB) with lazy flags; a, b already sized. */
static ALWAYS_INLINE uint64_t alu(struct cpu *c, unsigned sub, unsigned sz, uint64_t a, uint64_t b)
{
	uint64_t r;
	uint8_t op;

	switch (sub) {
	case 0:
		r = a + b;
		op = LF_ADD;
		break;
	case 1:
		r = a | b;
		op = LF_LOGIC;
		break;
	case 4:
		r = a & b;
		op = LF_LOGIC;
		break;
	case 6:
		r = a ^ b;
		op = LF_LOGIC;
		break;
	default: /* 5 sub, 7 cmp */
		r = a - b;
		op = LF_SUB;
		break;
	}
	r &= sz_mask(sz);
	c->lf.res = r;
	c->lf.a = a;
	c->lf.b = b;
	c->lf.op = op;
	c->lf.size = sz;
	return r;
}

/* LOCK ADD/OR/AND/SUB/XOR on an aligned host pointer: returns the old value. */
static ALWAYS_INLINE uint64_t atomic_rmw(uint8_t *p, unsigned sz, unsigned sub, uint64_t b)
{
	if (sz == 4) {
		uint32_t *q = (uint32_t *)p, v = (uint32_t)b;

		switch (sub) {
		case 0:
			return __atomic_fetch_add(q, v, __ATOMIC_SEQ_CST);
		case 1:
			return __atomic_fetch_or(q, v, __ATOMIC_SEQ_CST);
		case 4:
			return __atomic_fetch_and(q, v, __ATOMIC_SEQ_CST);
		case 6:
			return __atomic_fetch_xor(q, v, __ATOMIC_SEQ_CST);
		default:
			return __atomic_fetch_sub(q, v, __ATOMIC_SEQ_CST);
		}
	}
	switch (sub) {
	case 0:
		return __atomic_fetch_add((uint64_t *)p, b, __ATOMIC_SEQ_CST);
	case 1:
		return __atomic_fetch_or((uint64_t *)p, b, __ATOMIC_SEQ_CST);
	case 4:
		return __atomic_fetch_and((uint64_t *)p, b, __ATOMIC_SEQ_CST);
	case 6:
		return __atomic_fetch_xor((uint64_t *)p, b, __ATOMIC_SEQ_CST);
	default:
		return __atomic_fetch_sub((uint64_t *)p, b, __ATOMIC_SEQ_CST);
	}
}

/* Memory destination: a write-TLB hit inside one page, else the generic handler. */
static ALWAYS_INLINE void alu_mem(struct cpu *c, const struct x86_insn *in, unsigned sub,
				  unsigned sz, uint64_t b)
{
	_Atomic uint32_t *code;
	uint64_t la = cpu_la(c, in), a;
	uint8_t *p;

	if (sub == 7) {
		alu(c, sub, sz, mem_read(c, la, sz, in->seg), b);
		return;
	}
	p = mem_wptr_fast(c, la, sz, &code);
	if (!p) {
		exec_alu(c, in);
		return;
	}
	if (in->flags & X86_F_LOCK) {
		/* Aligned: one host atomic; split locks take the generic path. */
		if (sz < 4 || ((uintptr_t)p & (sz - 1))) {
			exec_alu(c, in);
			return;
		}
		a = atomic_rmw(p, sz, sub, b);
		alu(c, sub, sz, a, b);
	} else {
		a = host_load(p, sz);
		host_store(p, sz, alu(c, sub, sz, a, b));
	}
	code_check(c, code);
}

#define ALU_SHAPES(sub, sz)                                                                        \
	static void alu_rr_##sub##_##sz(struct cpu *c, const struct x86_insn *in)                  \
	{                                                                                          \
		uint64_t r = alu(c, sub, sz, rd(c, in->rm, sz), rd(c, in->reg, sz));               \
		if (sub != 7)                                                                      \
			wr(c, in->rm, sz, r);                                                      \
	}                                                                                          \
	static void alu_gr_##sub##_##sz(struct cpu *c, const struct x86_insn *in)                  \
	{                                                                                          \
		uint64_t r = alu(c, sub, sz, rd(c, in->reg, sz), rd(c, in->rm, sz));               \
		if (sub != 7)                                                                      \
			wr(c, in->reg, sz, r);                                                     \
	}                                                                                          \
	static void alu_ri_##sub##_##sz(struct cpu *c, const struct x86_insn *in)                  \
	{                                                                                          \
		uint64_t r = alu(c, sub, sz, rd(c, in->rm, sz), imm_of(in, sz));                   \
		if (sub != 7)                                                                      \
			wr(c, in->rm, sz, r);                                                      \
	}                                                                                          \
	static void alu_gm_##sub##_##sz(struct cpu *c, const struct x86_insn *in)                  \
	{                                                                                          \
		uint64_t b = mem_read(c, cpu_la(c, in), sz, in->seg);                              \
		uint64_t r = alu(c, sub, sz, rd(c, in->reg, sz), b);                               \
		if (sub != 7)                                                                      \
			wr(c, in->reg, sz, r);                                                     \
	}                                                                                          \
	static void alu_mr_##sub##_##sz(struct cpu *c, const struct x86_insn *in)                  \
	{                                                                                          \
		alu_mem(c, in, sub, sz, rd(c, in->reg, sz));                                       \
	}                                                                                          \
	static void alu_mi_##sub##_##sz(struct cpu *c, const struct x86_insn *in)                  \
	{                                                                                          \
		alu_mem(c, in, sub, sz, imm_of(in, sz));                                           \
	}

#define ALU_SUBS(sz)                                                                               \
	ALU_SHAPES(0, sz)                                                                          \
	ALU_SHAPES(1, sz)                                                                          \
	ALU_SHAPES(4, sz)                                                                          \
	ALU_SHAPES(5, sz)                                                                          \
	ALU_SHAPES(6, sz)                                                                          \
	ALU_SHAPES(7, sz)

ALU_SUBS(1)
ALU_SUBS(2)
ALU_SUBS(4)
ALU_SUBS(8)

enum { S_RR, S_GR, S_RI, S_GM, S_MR, S_MI, NR_SHAPES };

#define ALU_SIZES(shape, sub)                                                                      \
	{alu_##shape##_##sub##_1, alu_##shape##_##sub##_2, alu_##shape##_##sub##_4,                \
	 alu_##shape##_##sub##_8}
#define ALU_ROW(shape)                                                                             \
	{                                                                                          \
		[0] = ALU_SIZES(shape, 0), [1] = ALU_SIZES(shape, 1), [4] = ALU_SIZES(shape, 4),   \
		[5] = ALU_SIZES(shape, 5), [6] = ALU_SIZES(shape, 6), [7] = ALU_SIZES(shape, 7),   \
	}

/* By shape, ALU sub-operation and log2 of the operand size. */
static const exec_fn alu_fast[NR_SHAPES][8][4] = {
    [S_RR] = ALU_ROW(rr), [S_GR] = ALU_ROW(gr), [S_RI] = ALU_ROW(ri),
    [S_GM] = ALU_ROW(gm), [S_MR] = ALU_ROW(mr), [S_MI] = ALU_ROW(mi),
};

/* TEST: AND without the store. */
#define TEST_SHAPES(sz)                                                                            \
	static void test_rr_##sz(struct cpu *c, const struct x86_insn *in)                         \
	{                                                                                          \
		alu(c, 4, sz, rd(c, in->rm, sz), rd(c, in->reg, sz));                              \
	}                                                                                          \
	static void test_ri_##sz(struct cpu *c, const struct x86_insn *in)                         \
	{                                                                                          \
		alu(c, 4, sz, rd(c, in->rm, sz), imm_of(in, sz));                                  \
	}                                                                                          \
	static void test_mr_##sz(struct cpu *c, const struct x86_insn *in)                         \
	{                                                                                          \
		alu(c, 4, sz, mem_read(c, cpu_la(c, in), sz, in->seg), rd(c, in->reg, sz));        \
	}                                                                                          \
	static void test_mi_##sz(struct cpu *c, const struct x86_insn *in)                         \
	{                                                                                          \
		alu(c, 4, sz, mem_read(c, cpu_la(c, in), sz, in->seg), imm_of(in, sz));            \
	}

TEST_SHAPES(1)
TEST_SHAPES(2)
TEST_SHAPES(4)
TEST_SHAPES(8)

/* By register/memory, register/immediate and log2 of the operand size. */
static const exec_fn test_fast[2][2][4] = {
    {{test_rr_1, test_rr_2, test_rr_4, test_rr_8}, {test_ri_1, test_ri_2, test_ri_4, test_ri_8}},
    {{test_mr_1, test_mr_2, test_mr_4, test_mr_8}, {test_mi_1, test_mi_2, test_mi_4, test_mi_8}},
};

static unsigned size_log2(unsigned sz)
{
	return sz == 8 ? 3 : sz == 4 ? 2 : sz == 2 ? 1 : 0;
}

/* MOV, MOVZX and LEA. */
static void mov_rr_4(struct cpu *c, const struct x86_insn *in)
{
	unsigned d = in->form == X86_FORM_EG ? in->rm : in->reg;
	unsigned s = in->form == X86_FORM_EG ? in->reg : in->rm;

	c->gpr[d] = (uint32_t)c->gpr[s];
}

static void mov_rr_8(struct cpu *c, const struct x86_insn *in)
{
	unsigned d = in->form == X86_FORM_EG ? in->rm : in->reg;
	unsigned s = in->form == X86_FORM_EG ? in->reg : in->rm;

	c->gpr[d] = c->gpr[s];
}

/* 8- and 16-bit moves merge into the destination register. */
static void mov_rr_small(struct cpu *c, const struct x86_insn *in)
{
	unsigned d = in->form == X86_FORM_EG ? in->rm : in->reg;
	unsigned s = in->form == X86_FORM_EG ? in->reg : in->rm;

	reg_set(c, d, in->osz, reg_get(c, s, in->osz));
}

static void mov_load_small(struct cpu *c, const struct x86_insn *in)
{
	reg_set(c, in->reg, in->osz, mem_read(c, cpu_la(c, in), in->osz, in->seg));
}

static void mov_load_4(struct cpu *c, const struct x86_insn *in)
{
	c->gpr[in->reg] = mem_read(c, cpu_la(c, in), 4, in->seg);
}

static void mov_load_8(struct cpu *c, const struct x86_insn *in)
{
	c->gpr[in->reg] = mem_read(c, cpu_la(c, in), 8, in->seg);
}

static void mov_store(struct cpu *c, const struct x86_insn *in)
{
	mem_write(c, cpu_la(c, in), in->osz, reg_get(c, in->reg, in->osz), in->seg);
}

static void mov_ri(struct cpu *c, const struct x86_insn *in)
{
	reg_set(c, in->rm, in->osz, in->imm);
}

static void mov_mi(struct cpu *c, const struct x86_insn *in)
{
	mem_write(c, cpu_la(c, in), in->osz, in->imm, in->seg);
}

static void movzx_load(struct cpu *c, const struct x86_insn *in)
{
	reg_set(c, in->reg, in->osz, mem_read(c, cpu_la(c, in), in->ssz, in->seg));
}

static void lea_8(struct cpu *c, const struct x86_insn *in)
{
	c->gpr[in->reg] = cpu_ea(c, in);
}

static void lea_4(struct cpu *c, const struct x86_insn *in)
{
	c->gpr[in->reg] = (uint32_t)cpu_ea(c, in);
}

/* 64-bit mode stack and near branches. */
static void push_r64(struct cpu *c, const struct x86_insn *in)
{
	uint64_t rsp = c->gpr[X86_RSP] - 8;

	mem_write(c, rsp, 8, c->gpr[in->rm], X86_SEG_SS);
	c->gpr[X86_RSP] = rsp;
}

static void pop_r64(struct cpu *c, const struct x86_insn *in)
{
	uint64_t rsp = c->gpr[X86_RSP];
	uint64_t v = mem_read(c, rsp, 8, X86_SEG_SS);

	/* POP RSP loads the popped value, not the incremented pointer. */
	c->gpr[X86_RSP] = rsp + 8;
	c->gpr[in->rm] = v;
}

static ALWAYS_INLINE void branch64(struct cpu *c, uint64_t target)
{
	if (__builtin_expect(!is_canonical(target), 0))
		cpu_raise_gp0(c);
	c->next_rip = target;
}

static void jcc64(struct cpu *c, const struct x86_insn *in)
{
	if (flags_cond(c, in->sub))
		branch64(c, c->next_rip + in->imm);
}

static void jmp64(struct cpu *c, const struct x86_insn *in)
{
	branch64(c, c->next_rip + in->imm);
}

static void call64(struct cpu *c, const struct x86_insn *in)
{
	uint64_t rsp = c->gpr[X86_RSP] - 8, target = c->next_rip + in->imm;

	/* Store first: a non-canonical target faults with the slot written (exec_call). */
	mem_write(c, rsp, 8, c->next_rip, X86_SEG_SS);
	if (!is_canonical(target))
		cpu_raise_gp0(c);
	c->gpr[X86_RSP] = rsp;
	c->next_rip = target;
}

static void ret64(struct cpu *c, const struct x86_insn *in)
{
	uint64_t target = mem_read(c, c->gpr[X86_RSP], 8, X86_SEG_SS);

	(void)in;
	branch64(c, target);
	c->gpr[X86_RSP] += 8;
}

/* INC/DEC of a register: CF stays, so it goes to rflags before the lazy state changes. */
static ALWAYS_INLINE void incdec_r(struct cpu *c, const struct x86_insn *in, unsigned sz, bool dec)
{
	uint64_t a = rd(c, in->rm, sz), r = dec ? a - 1 : a + 1;

	if (sz == 4)
		r = (uint32_t)r;
	c->rflags = (c->rflags & ~(uint64_t)FL_CF) | flags_cf(c);
	c->gpr[in->rm] = r;
	c->lf.res = r;
	c->lf.a = a;
	c->lf.b = 1;
	c->lf.op = dec ? LF_DEC : LF_INC;
	c->lf.size = sz;
}

/* INC/DEC of memory (LOCK too, when aligned). */
static ALWAYS_INLINE void incdec_m(struct cpu *c, const struct x86_insn *in, unsigned sz, bool dec)
{
	_Atomic uint32_t *code;
	uint8_t *p = mem_wptr_fast(c, cpu_la(c, in), sz, &code);
	bool lock = in->flags & X86_F_LOCK;
	uint64_t a, r;

	if (!p || (lock && ((uintptr_t)p & (sz - 1)))) {
		exec_incdec(c, in);
		return;
	}
	if (lock && sz == 4)
		a = __atomic_fetch_add((uint32_t *)p, dec ? ~0u : 1u, __ATOMIC_SEQ_CST);
	else if (lock)
		a = __atomic_fetch_add((uint64_t *)p, dec ? ~0ull : 1ull, __ATOMIC_SEQ_CST);
	else
		a = host_load(p, sz);
	r = dec ? a - 1 : a + 1;
	if (sz == 4)
		r = (uint32_t)r;
	if (!lock)
		host_store(p, sz, r);
	code_check(c, code);
	c->rflags = (c->rflags & ~(uint64_t)FL_CF) | flags_cf(c);
	c->lf.res = r;
	c->lf.a = a;
	c->lf.b = 1;
	c->lf.op = dec ? LF_DEC : LF_INC;
	c->lf.size = sz;
}

static void inc_m4(struct cpu *c, const struct x86_insn *in)
{
	incdec_m(c, in, 4, false);
}

static void inc_m8(struct cpu *c, const struct x86_insn *in)
{
	incdec_m(c, in, 8, false);
}

static void dec_m4(struct cpu *c, const struct x86_insn *in)
{
	incdec_m(c, in, 4, true);
}

static void dec_m8(struct cpu *c, const struct x86_insn *in)
{
	incdec_m(c, in, 8, true);
}

static void inc_r4(struct cpu *c, const struct x86_insn *in)
{
	incdec_r(c, in, 4, false);
}

static void inc_r8(struct cpu *c, const struct x86_insn *in)
{
	incdec_r(c, in, 8, false);
}

static void dec_r4(struct cpu *c, const struct x86_insn *in)
{
	incdec_r(c, in, 4, true);
}

static void dec_r8(struct cpu *c, const struct x86_insn *in)
{
	incdec_r(c, in, 8, true);
}

/* SHL/SHR/SAR of a register by an immediate count or CL. */
static ALWAYS_INLINE void shift_ri(struct cpu *c, const struct x86_insn *in, unsigned sz,
				   unsigned sub)
{
	unsigned n = (in->flags & X86_F_IMM_ONE)  ? 1
		     : (in->flags & X86_F_IMM_CL) ? c->gpr[X86_RCX] & 0xff
						  : in->imm & 0xff;

	n &= sz == 8 ? 0x3f : 0x1f;
	uint64_t a = rd(c, in->rm, sz), r;

	if (!n) {
		/* Flags unchanged; a 32-bit destination is still zero-extended. */
		c->gpr[in->rm] = a;
		return;
	}
	if (sub == 5)
		r = a >> n;
	else if (sub == 7)
		r = sz == 8 ? (uint64_t)((int64_t)a >> n) : (uint32_t)((int32_t)a >> n);
	else
		r = a << n;
	if (sz == 4)
		r = (uint32_t)r;
	c->gpr[in->rm] = r;
	c->lf.res = r;
	c->lf.a = a;
	c->lf.b = n;
	c->lf.op = sub == 5 ? LF_SHR : sub == 7 ? LF_SAR : LF_SHL;
	c->lf.size = sz;
}

/*
 * ROL/ROR of a register by an immediate count: CF, and OF only for a count
 * of 1 (the host leaves OF alone for other immediate counts, see exec_shift).
 */
static ALWAYS_INLINE void rot_ri(struct cpu *c, const struct x86_insn *in, unsigned sz, bool ror)
{
	unsigned n = (in->flags & X86_F_IMM_ONE) ? 1 : in->imm & (sz == 8 ? 0x3f : 0x1f);
	unsigned bits = 8 * sz;
	uint64_t a = rd(c, in->rm, sz), msb = sz_msb(sz), r, f;
	bool cf, of;

	if (!n) {
		c->gpr[in->rm] = a;
		return;
	}
	r = ror ? (a >> n) | (a << (bits - n)) : (a << n) | (a >> (bits - n));
	if (sz == 4)
		r = (uint32_t)r;
	c->gpr[in->rm] = r;
	if (ror) {
		cf = r & msb;
		of = !!(a & msb) ^ (a & 1);
	} else {
		cf = r & 1;
		of = (a ^ (a << 1)) & msb;
	}
	f = flags_get(c) & ~(uint64_t)(FL_CF | (n == 1 ? FL_OF : 0));
	c->rflags = f | (cf ? FL_CF : 0) | (n == 1 && of ? FL_OF : 0);
}

#define SHIFT_FN(name, sz, sub)                                                                    \
	static void name(struct cpu *c, const struct x86_insn *in)                                 \
	{                                                                                          \
		shift_ri(c, in, sz, sub);                                                          \
	}
SHIFT_FN(shl_ri4, 4, 4)
SHIFT_FN(shl_ri8, 8, 4)
SHIFT_FN(shr_ri4, 4, 5)
SHIFT_FN(shr_ri8, 8, 5)
SHIFT_FN(sar_ri4, 4, 7)
SHIFT_FN(sar_ri8, 8, 7)

static void rol_ri4(struct cpu *c, const struct x86_insn *in)
{
	rot_ri(c, in, 4, false);
}

static void rol_ri8(struct cpu *c, const struct x86_insn *in)
{
	rot_ri(c, in, 8, false);
}

static void ror_ri4(struct cpu *c, const struct x86_insn *in)
{
	rot_ri(c, in, 4, true);
}

static void ror_ri8(struct cpu *c, const struct x86_insn *in)
{
	rot_ri(c, in, 8, true);
}

/* Two- and three-operand IMUL: lazy flags (LF_MUL: CF = OF = the product overflowed). */
static ALWAYS_INLINE void imul_do(struct cpu *c, const struct x86_insn *in, unsigned sz, uint64_t a,
				  uint64_t b)
{
	uint64_t lo;
	bool ovf;

	if (sz == 8) {
		int64_t p;

		ovf = __builtin_mul_overflow((int64_t)a, (int64_t)b, &p);
		lo = (uint64_t)p;
	} else {
		int64_t p = (int64_t)(int32_t)a * (int32_t)b;

		lo = (uint32_t)p;
		ovf = p != (int32_t)lo;
	}
	c->gpr[in->reg] = lo;
	c->lf.res = lo;
	c->lf.a = ovf;
	c->lf.b = 0;
	c->lf.op = LF_MUL;
	c->lf.size = sz;
}

static void imul2_r4(struct cpu *c, const struct x86_insn *in)
{
	imul_do(c, in, 4, c->gpr[in->reg], c->gpr[in->rm]);
}

static void imul2_r8(struct cpu *c, const struct x86_insn *in)
{
	imul_do(c, in, 8, c->gpr[in->reg], c->gpr[in->rm]);
}

static void imul2_m4(struct cpu *c, const struct x86_insn *in)
{
	imul_do(c, in, 4, c->gpr[in->reg], mem_read(c, cpu_la(c, in), 4, in->seg));
}

static void imul2_m8(struct cpu *c, const struct x86_insn *in)
{
	imul_do(c, in, 8, c->gpr[in->reg], mem_read(c, cpu_la(c, in), 8, in->seg));
}

static void imul3_r4(struct cpu *c, const struct x86_insn *in)
{
	imul_do(c, in, 4, in->imm, c->gpr[in->rm]);
}

static void imul3_r8(struct cpu *c, const struct x86_insn *in)
{
	imul_do(c, in, 8, in->imm, c->gpr[in->rm]);
}

/* CMOVcc, SETcc, MOVZX and MOVSX of registers. */
static void cmov_rr4(struct cpu *c, const struct x86_insn *in)
{
	/* A 32-bit CMOV zero-extends its destination even when false. */
	c->gpr[in->reg] = (uint32_t)c->gpr[flags_cond(c, in->sub) ? in->rm : in->reg];
}

static void cmov_rr8(struct cpu *c, const struct x86_insn *in)
{
	if (flags_cond(c, in->sub))
		c->gpr[in->reg] = c->gpr[in->rm];
}

static void setcc_r(struct cpu *c, const struct x86_insn *in)
{
	reg_set(c, in->rm, 1, flags_cond(c, in->sub));
}

static void movzx_r(struct cpu *c, const struct x86_insn *in)
{
	reg_set(c, in->reg, in->osz, reg_get(c, in->rm, in->ssz));
}

static void movsx_r(struct cpu *c, const struct x86_insn *in)
{
	reg_set(c, in->reg, in->osz, sext(reg_get(c, in->rm, in->ssz), in->ssz));
}

static void movsx_load(struct cpu *c, const struct x86_insn *in)
{
	uint64_t v = mem_read(c, cpu_la(c, in), in->ssz, in->seg);

	reg_set(c, in->reg, in->osz, sext(v, in->ssz));
}

/* ADC/SBB of registers: the carry in comes from the lazy state without the other flags. */
static ALWAYS_INLINE void adcsbb_rr(struct cpu *c, const struct x86_insn *in, unsigned sz, bool sbb)
{
	bool eg = in->form == X86_FORM_EG;
	unsigned d = eg ? in->rm : in->reg, s = eg ? in->reg : in->rm;
	uint64_t a = rd(c, d, sz), b = rd(c, s, sz), cf = flags_cf(c), r;

	r = sbb ? a - b - cf : a + b + cf;
	if (sz == 4)
		r = (uint32_t)r;
	c->gpr[d] = r;
	c->lf.res = r;
	c->lf.a = a;
	c->lf.b = b;
	c->lf.op = sbb ? LF_SBB : LF_ADC;
	c->lf.size = sz;
}

static void adc_rr4(struct cpu *c, const struct x86_insn *in)
{
	adcsbb_rr(c, in, 4, false);
}

static void adc_rr8(struct cpu *c, const struct x86_insn *in)
{
	adcsbb_rr(c, in, 8, false);
}

static void sbb_rr4(struct cpu *c, const struct x86_insn *in)
{
	adcsbb_rr(c, in, 4, true);
}

static void sbb_rr8(struct cpu *c, const struct x86_insn *in)
{
	adcsbb_rr(c, in, 8, true);
}

/*
 * PAUSE: a spin-wait loop. Another vCPU holds what it waits for, and that
 * vCPU's host thread may be waiting for a core: give the engine a chance
 * to yield now and then.
 */
static void pause_insn(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	if (c->pause_exits && ++c->pauses >= CPU_PAUSE_EXIT && !c->pending_exit) {
		c->pauses = 0;
		c->pending_exit = CPU_EXIT_PAUSE;
	}
}

static exec_fn pick_alu(const struct x86_insn *in)
{
	bool mem = in->flags & X86_F_MEM;
	unsigned shape;

	if (in->sub == 2 || in->sub == 3) {
		if (mem || (in->osz != 4 && in->osz != 8) ||
		    (in->form != X86_FORM_EG && in->form != X86_FORM_GE))
			return NULL;
		if (in->sub == 2)
			return in->osz == 8 ? adc_rr8 : adc_rr4;
		return in->osz == 8 ? sbb_rr8 : sbb_rr4;
	}
	switch (in->form) {
	case X86_FORM_EG:
		shape = mem ? S_MR : S_RR;
		break;
	case X86_FORM_GE:
		shape = mem ? S_GM : S_GR;
		break;
	case X86_FORM_EI:
		shape = mem ? S_MI : S_RI;
		break;
	default:
		return NULL;
	}
	return alu_fast[shape][in->sub][size_log2(in->osz)];
}

static exec_fn pick_mov(const struct x86_insn *in)
{
	bool mem = in->flags & X86_F_MEM, wide = in->osz == 4 || in->osz == 8;

	switch (in->form) {
	case X86_FORM_EG:
		if (mem)
			return mov_store;
		return wide ? (in->osz == 8 ? mov_rr_8 : mov_rr_4) : mov_rr_small;
	case X86_FORM_GE:
		if (!wide)
			return mem ? mov_load_small : mov_rr_small;
		if (mem)
			return in->osz == 8 ? mov_load_8 : mov_load_4;
		return in->osz == 8 ? mov_rr_8 : mov_rr_4;
	case X86_FORM_EI:
		return mem ? mov_mi : mov_ri;
	default:
		return NULL;
	}
}

static exec_fn pick_shift(const struct x86_insn *in)
{
	static const exec_fn fns[8][2] = {
	    [0] = {rol_ri4, rol_ri8}, [1] = {ror_ri4, ror_ri8}, [4] = {shl_ri4, shl_ri8},
	    [5] = {shr_ri4, shr_ri8}, [6] = {shl_ri4, shl_ri8}, [7] = {sar_ri4, sar_ri8},
	};

	if ((in->flags & X86_F_MEM) || (in->osz != 4 && in->osz != 8))
		return NULL;
	/* By CL: the shifts only (the rotates keep OF differently for CL counts). */
	if ((in->flags & X86_F_IMM_CL) && in->sub < 4)
		return NULL;
	return fns[in->sub & 7][in->osz == 8];
}

exec_fn exec_fast_pick(const struct x86_insn *in, bool legacy)
{
	bool mem = in->flags & X86_F_MEM;
	bool wide = in->osz == 4 || in->osz == 8, q = in->osz == 8;

	switch (in->op) {
	case OP_ALU:
		return pick_alu(in);
	case OP_TEST:
		if (in->form != X86_FORM_EG && in->form != X86_FORM_EI)
			return NULL;
		return test_fast[mem][in->form == X86_FORM_EI][size_log2(in->osz)];
	case OP_MOV:
		return pick_mov(in);
	case OP_MOVZX:
		return wide ? (mem ? movzx_load : movzx_r) : NULL;
	case OP_MOVSX:
		return wide ? (mem ? movsx_load : movsx_r) : NULL;
	case OP_IMUL2:
		if (!wide)
			return NULL;
		if (mem)
			return q ? imul2_m8 : imul2_m4;
		return q ? imul2_r8 : imul2_r4;
	case OP_IMUL3:
		return wide && !mem ? (q ? imul3_r8 : imul3_r4) : NULL;
	case OP_CMOVCC:
		return wide && !mem ? (q ? cmov_rr8 : cmov_rr4) : NULL;
	case OP_SETCC:
		return mem ? NULL : setcc_r;
	case OP_SSE:
		return exec_sse_fast_pick(in);
	case OP_NOP:
		return (in->flags & X86_F_REP) && in->map == 0 && in->opc == 0x90 ? pause_insn
										  : NULL;
	case OP_LEA:
		return wide ? (q ? lea_8 : lea_4) : NULL;
	case OP_INC:
		if (!wide)
			return NULL;
		return mem ? (q ? inc_m8 : inc_m4) : (q ? inc_r8 : inc_r4);
	case OP_DEC:
		if (!wide)
			return NULL;
		return mem ? (q ? dec_m8 : dec_m4) : (q ? dec_r8 : dec_r4);
	case OP_SHIFT:
		return pick_shift(in);
	default:
		break;
	}
	if (legacy)
		return NULL;
	switch (in->op) {
	case OP_PUSH:
		return in->form == X86_FORM_E && !mem && q ? push_r64 : NULL;
	case OP_POP:
		return !mem && q ? pop_r64 : NULL;
	case OP_JCC:
		return jcc64;
	case OP_JMP:
		return jmp64;
	case OP_CALL:
		return call64;
	case OP_RET:
		return in->imm & 0xffff ? NULL : ret64;
	default:
		return NULL;
	}
}
