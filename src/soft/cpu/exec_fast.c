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

static ALWAYS_INLINE uint64_t rd(const struct cpu *c, unsigned r, unsigned sz)
{
	return sz == 8 ? c->gpr[r] : (uint32_t)c->gpr[r];
}

static ALWAYS_INLINE uint64_t imm_of(const struct x86_insn *in, unsigned sz)
{
	return sz == 8 ? in->imm : (uint32_t)in->imm;
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
	if (sz == 4)
		r = (uint32_t)r;
	c->lf.res = r;
	c->lf.a = a;
	c->lf.b = b;
	c->lf.op = op;
	c->lf.size = sz;
	return r;
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
	if (!p || (in->flags & X86_F_LOCK)) {
		exec_alu(c, in);
		return;
	}
	a = host_load(p, sz);
	host_store(p, sz, alu(c, sub, sz, a, b));
	code_check(c, code);
}

#define ALU_SHAPES(sub, sz)                                                                        \
	static void alu_rr_##sub##_##sz(struct cpu *c, const struct x86_insn *in)                  \
	{                                                                                          \
		uint64_t r = alu(c, sub, sz, rd(c, in->rm, sz), rd(c, in->reg, sz));               \
		if (sub != 7)                                                                      \
			c->gpr[in->rm] = r;                                                        \
	}                                                                                          \
	static void alu_gr_##sub##_##sz(struct cpu *c, const struct x86_insn *in)                  \
	{                                                                                          \
		uint64_t r = alu(c, sub, sz, rd(c, in->reg, sz), rd(c, in->rm, sz));               \
		if (sub != 7)                                                                      \
			c->gpr[in->reg] = r;                                                       \
	}                                                                                          \
	static void alu_ri_##sub##_##sz(struct cpu *c, const struct x86_insn *in)                  \
	{                                                                                          \
		uint64_t r = alu(c, sub, sz, rd(c, in->rm, sz), imm_of(in, sz));                   \
		if (sub != 7)                                                                      \
			c->gpr[in->rm] = r;                                                        \
	}                                                                                          \
	static void alu_gm_##sub##_##sz(struct cpu *c, const struct x86_insn *in)                  \
	{                                                                                          \
		uint64_t b = mem_read(c, cpu_la(c, in), sz, in->seg);                              \
		uint64_t r = alu(c, sub, sz, rd(c, in->reg, sz), b);                               \
		if (sub != 7)                                                                      \
			c->gpr[in->reg] = r;                                                       \
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

ALU_SUBS(4)
ALU_SUBS(8)

enum { S_RR, S_GR, S_RI, S_GM, S_MR, S_MI, NR_SHAPES };

#define ALU_ROW(shape)                                                                             \
	{                                                                                          \
		[0] = {alu_##shape##_0_4, alu_##shape##_0_8},                                      \
		[1] = {alu_##shape##_1_4, alu_##shape##_1_8},                                      \
		[4] = {alu_##shape##_4_4, alu_##shape##_4_8},                                      \
		[5] = {alu_##shape##_5_4, alu_##shape##_5_8},                                      \
		[6] = {alu_##shape##_6_4, alu_##shape##_6_8},                                      \
		[7] = {alu_##shape##_7_4, alu_##shape##_7_8},                                      \
	}

static const exec_fn alu_fast[NR_SHAPES][8][2] = {
    [S_RR] = ALU_ROW(rr), [S_GR] = ALU_ROW(gr), [S_RI] = ALU_ROW(ri),
    [S_GM] = ALU_ROW(gm), [S_MR] = ALU_ROW(mr), [S_MI] = ALU_ROW(mi),
};

/* TEST: AND without the store. */
static void test_rr_4(struct cpu *c, const struct x86_insn *in)
{
	alu(c, 4, 4, rd(c, in->rm, 4), rd(c, in->reg, 4));
}

static void test_rr_8(struct cpu *c, const struct x86_insn *in)
{
	alu(c, 4, 8, rd(c, in->rm, 8), rd(c, in->reg, 8));
}

static void test_ri_4(struct cpu *c, const struct x86_insn *in)
{
	alu(c, 4, 4, rd(c, in->rm, 4), imm_of(in, 4));
}

static void test_ri_8(struct cpu *c, const struct x86_insn *in)
{
	alu(c, 4, 8, rd(c, in->rm, 8), imm_of(in, 8));
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

/* SHL/SHR/SAR of a register by an immediate count. */
static ALWAYS_INLINE void shift_ri(struct cpu *c, const struct x86_insn *in, unsigned sz,
				   unsigned sub)
{
	unsigned n = (in->flags & X86_F_IMM_ONE) ? 1 : in->imm & (sz == 8 ? 0x3f : 0x1f);
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
		if (mem || (in->form != X86_FORM_EG && in->form != X86_FORM_GE))
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
	return alu_fast[shape][in->sub][in->osz == 8];
}

static exec_fn pick_mov(const struct x86_insn *in)
{
	bool mem = in->flags & X86_F_MEM, wide = in->osz == 4 || in->osz == 8;

	switch (in->form) {
	case X86_FORM_EG:
		if (mem)
			return mov_store;
		return wide ? (in->osz == 8 ? mov_rr_8 : mov_rr_4) : NULL;
	case X86_FORM_GE:
		if (!wide)
			return NULL;
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
	    [0] = {rol_ri4, rol_ri8}, [1] = {ror_ri4, ror_ri8},
	    [4] = {shl_ri4, shl_ri8}, [5] = {shr_ri4, shr_ri8},
	    [6] = {shl_ri4, shl_ri8}, [7] = {sar_ri4, sar_ri8},
	};

	if ((in->flags & (X86_F_MEM | X86_F_IMM_CL)) || (in->osz != 4 && in->osz != 8))
		return NULL;
	return fns[in->sub & 7][in->osz == 8];
}

exec_fn exec_fast_pick(const struct x86_insn *in, bool legacy)
{
	bool mem = in->flags & X86_F_MEM;
	bool wide = in->osz == 4 || in->osz == 8, q = in->osz == 8;

	switch (in->op) {
	case OP_ALU:
		return wide ? pick_alu(in) : NULL;
	case OP_TEST:
		if (mem || !wide || (in->form != X86_FORM_EG && in->form != X86_FORM_EI))
			return NULL;
		if (in->form == X86_FORM_EG)
			return q ? test_rr_8 : test_rr_4;
		return q ? test_ri_8 : test_ri_4;
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
		return (in->flags & X86_F_REP) && in->map == 0 && in->opc == 0x90 ? pause_insn : NULL;
	case OP_LEA:
		return wide ? (q ? lea_8 : lea_4) : NULL;
	case OP_INC:
		return !mem && wide ? (q ? inc_r8 : inc_r4) : NULL;
	case OP_DEC:
		return !mem && wide ? (q ? dec_r8 : dec_r4) : NULL;
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
