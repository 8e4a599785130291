/* soft/cpu/exec_alu.c: integer arithmetic, logic, shifts, multiply/divide and bit operations. */
#include "soft/cpu/internal.h"

/* Extra inputs and outputs of a read-modify-write operation. */
struct op_ctx {
	uint64_t b, cf;
	unsigned sub, sz;
	unsigned lop;	    /* lazy flag op for the result */
	uint64_t fl, fmask; /* eagerly computed flags and which bits they set */
	bool write;	    /* false: the operation leaves the operand as it was */
};

typedef uint64_t (*rmw_fn)(uint64_t a, struct op_ctx *x);

/* Applies fn to the E operand, atomically when LOCK says so. Returns the old value. */
static uint64_t e_rmw(struct cpu *c, const struct x86_insn *in, unsigned sz, rmw_fn fn,
		      struct op_ctx *x, uint64_t *res)
{
	struct rmw m;
	uint64_t a, r, la;

	if (!(in->flags & X86_F_MEM)) {
		a = reg_get(c, in->rm, sz);
		r = fn(a, x);
		if (x->write)
			reg_set(c, in->rm, sz, r);
		*res = r;
		return a;
	}
	la = cpu_la(c, in);
	do {
		a = rmw_begin(c, &m, la, sz, in->seg, in->flags & X86_F_LOCK);
		r = fn(a, x);
	} while (!rmw_commit(c, &m, a, x->write ? r : a));
	*res = r;
	return a;
}

static uint64_t alu_fn(uint64_t a, struct op_ctx *x)
{
	uint64_t b = x->b;

	x->write = x->sub != 7;
	switch (x->sub) {
	case 0:
		x->lop = LF_ADD;
		return a + b;
	case 1:
		x->lop = LF_LOGIC;
		return a | b;
	case 2:
		x->lop = LF_ADC;
		return a + b + x->cf;
	case 3:
		x->lop = LF_SBB;
		return a - b - x->cf;
	case 4:
		x->lop = LF_LOGIC;
		return a & b;
	case 6:
		x->lop = LF_LOGIC;
		return a ^ b;
	default:
		x->lop = LF_SUB;
		return a - b;
	}
}

void exec_alu(struct cpu *c, const struct x86_insn *in)
{
	struct op_ctx x = {.sub = in->sub, .sz = in->osz};
	unsigned sz = in->osz;
	uint64_t a, r;

	if (in->sub == 2 || in->sub == 3)
		x.cf = flags_cf(c);
	if (in->form == X86_FORM_GE) {
		a = reg_get(c, in->reg, sz);
		x.b = opnd_e_get(c, in, sz);
		r = alu_fn(a, &x);
		if (x.write)
			reg_set(c, in->reg, sz, r);
	} else {
		x.b = (in->form == X86_FORM_EI ? in->imm : reg_get(c, in->reg, sz)) & sz_mask(sz);
		if (in->sub == 7) {
			a = opnd_e_get(c, in, sz);
			r = alu_fn(a, &x);
		} else {
			a = e_rmw(c, in, sz, alu_fn, &x, &r);
		}
	}
	flags_lazy(c, x.lop, sz, r, a, x.b);
}

void exec_test(struct cpu *c, const struct x86_insn *in)
{
	uint64_t b = in->form == X86_FORM_EI ? in->imm : reg_get(c, in->reg, in->osz);
	uint64_t a = opnd_e_get(c, in, in->osz);

	flags_lazy(c, LF_LOGIC, in->osz, a & b, a, b);
}

static uint64_t incdec_fn(uint64_t a, struct op_ctx *x)
{
	x->write = true;
	return x->sub ? a - 1 : a + 1;
}

void exec_incdec(struct cpu *c, const struct x86_insn *in)
{
	struct op_ctx x = {.sub = in->op == OP_DEC};
	uint64_t a, r;

	/* INC/DEC keep CF: their lazy form takes it from rflags. */
	c->rflags = (c->rflags & ~(uint64_t)FL_CF) | flags_cf(c);
	a = e_rmw(c, in, in->osz, incdec_fn, &x, &r);
	flags_lazy(c, x.sub ? LF_DEC : LF_INC, in->osz, r, a, 1);
}

static uint64_t not_fn(uint64_t a, struct op_ctx *x)
{
	x->write = true;
	return ~a;
}

void exec_not(struct cpu *c, const struct x86_insn *in)
{
	struct op_ctx x = {0};
	uint64_t r;

	e_rmw(c, in, in->osz, not_fn, &x, &r);
}

static uint64_t neg_fn(uint64_t a, struct op_ctx *x)
{
	x->write = true;
	return -a;
}

void exec_neg(struct cpu *c, const struct x86_insn *in)
{
	struct op_ctx x = {0};
	uint64_t a, r;

	a = e_rmw(c, in, in->osz, neg_fn, &x, &r);
	flags_lazy(c, LF_SUB, in->osz, r, 0, a);
}

/*
 * Multiply flags: CF = OF = "the high half matters". For the undefined ones
 * the host (Intel) sets SF and PF from the low half and clears ZF and AF.
 */
static void mul_flags(struct cpu *c, bool overflow, uint64_t low, unsigned sz)
{
	flags_lazy(c, LF_MUL, sz, low, overflow, 0);
}

void exec_mul(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;
	uint64_t b = opnd_e_get(c, in, sz), a = reg_get(c, X86_RAX, sz);
	unsigned __int128 p = (unsigned __int128)a * b;
	uint64_t lo = (uint64_t)p & sz_mask(sz), hi;

	if (sz == 8) {
		hi = (uint64_t)(p >> 64);
	} else {
		hi = ((uint64_t)p >> (8 * sz)) & sz_mask(sz);
	}
	if (sz == 1) {
		reg_set(c, X86_RAX, 2, (uint64_t)p);
	} else {
		reg_set(c, X86_RAX, sz, lo);
		reg_set(c, X86_RDX, sz, hi);
	}
	mul_flags(c, hi != 0, lo, sz);
}

void exec_imul1(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;
	int64_t b = (int64_t)sext(opnd_e_get(c, in, sz), sz);
	int64_t a = (int64_t)sext(reg_get(c, X86_RAX, sz), sz);
	__int128 p = (__int128)a * b;
	uint64_t lo = (uint64_t)p & sz_mask(sz), hi;

	hi = sz == 8 ? (uint64_t)((unsigned __int128)p >> 64)
		     : ((uint64_t)p >> (8 * sz)) & sz_mask(sz);
	if (sz == 1) {
		reg_set(c, X86_RAX, 2, (uint64_t)p);
	} else {
		reg_set(c, X86_RAX, sz, lo);
		reg_set(c, X86_RDX, sz, hi);
	}
	mul_flags(c, p != (__int128)(int64_t)sext(lo, sz), lo, sz);
}

void exec_imul23(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;
	int64_t b = (int64_t)sext(opnd_e_get(c, in, sz), sz);
	int64_t a = in->op == OP_IMUL3 ? (int64_t)sext(in->imm, sz)
				       : (int64_t)sext(reg_get(c, in->reg, sz), sz);
	__int128 p = (__int128)a * b;
	uint64_t lo = (uint64_t)p & sz_mask(sz);

	reg_set(c, in->reg, sz, lo);
	mul_flags(c, p != (__int128)(int64_t)sext(lo, sz), lo, sz);
}

void exec_div(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;
	uint64_t d = opnd_e_get(c, in, sz);
	unsigned __int128 n, q, r;

	if (!d)
		cpu_raise(c, VEC_DE, false, 0);
	if (sz == 1)
		n = reg_get(c, X86_RAX, 2);
	else
		n = ((unsigned __int128)reg_get(c, X86_RDX, sz) << (8 * sz)) |
		    reg_get(c, X86_RAX, sz);
	q = n / d;
	r = n % d;
	if (q > sz_mask(sz))
		cpu_raise(c, VEC_DE, false, 0);
	if (sz == 1) {
		reg_set(c, X86_RAX, 2, (uint64_t)q | ((uint64_t)r << 8));
	} else {
		reg_set(c, X86_RAX, sz, (uint64_t)q);
		reg_set(c, X86_RDX, sz, (uint64_t)r);
	}
}

void exec_idiv(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;
	int64_t d = (int64_t)sext(opnd_e_get(c, in, sz), sz);
	unsigned __int128 un = 0;
	__int128 n, q, r, lim = (__int128)1 << (8 * sz - 1);

	if (!d)
		cpu_raise(c, VEC_DE, false, 0);
	if (sz == 1) {
		n = (int16_t)reg_get(c, X86_RAX, 2);
	} else {
		un = ((unsigned __int128)reg_get(c, X86_RDX, sz) << (8 * sz)) |
		     reg_get(c, X86_RAX, sz);
		/* Sign-extend the 2*sz-byte dividend. */
		unsigned sh = 128 - 16 * sz;

		n = (__int128)(un << sh) >> sh;
	}
	/* The one quotient C cannot compute: -2^127 / -1. */
	if (d == -1 && sz == 8 && un == (unsigned __int128)1 << 127)
		cpu_raise(c, VEC_DE, false, 0);
	q = n / d;
	r = n % d;
	if (q >= lim || q < -lim)
		cpu_raise(c, VEC_DE, false, 0);
	if (sz == 1) {
		reg_set(c, X86_RAX, 2, ((uint64_t)q & 0xff) | (((uint64_t)r & 0xff) << 8));
	} else {
		reg_set(c, X86_RAX, sz, (uint64_t)q);
		reg_set(c, X86_RDX, sz, (uint64_t)r);
	}
}

static unsigned shift_count(struct cpu *c, const struct x86_insn *in)
{
	unsigned n;

	if (in->flags & X86_F_IMM_ONE)
		n = 1;
	else if (in->flags & X86_F_IMM_CL)
		n = c->gpr[X86_RCX] & 0xff;
	else
		n = in->imm & 0xff;
	return n & (in->osz == 8 ? 0x3f : 0x1f);
}

/* x->b: count; x->cf: CF before. Leaves new flags in x->fl/x->fmask. */
static uint64_t shift_fn(uint64_t a, struct op_ctx *x)
{
	unsigned sz = x->sz, bits = 8 * sz, n = x->b;
	uint64_t m = sz_mask(sz), msb = sz_msb(sz), r, cf;
	unsigned __int128 w, wm;
	unsigned k;

	x->write = true;
	switch (x->sub) {
	case 0: /* rol */
		k = n % bits;
		r = k ? ((a << k) | (a >> (bits - k))) & m : a;
		cf = r & 1;
		x->fmask = FL_CF | FL_OF;
		/* The host computes OF as for a count of 1, from the operand. */
		x->fl = (cf ? FL_CF : 0) | (((a ^ (a << 1)) & msb) ? FL_OF : 0);
		return r;
	case 1: /* ror */
		k = n % bits;
		r = k ? ((a >> k) | (a << (bits - k))) & m : a;
		x->fmask = FL_CF | FL_OF;
		x->fl = ((r & msb) ? FL_CF : 0) | ((!!(a & msb) ^ (a & 1)) ? FL_OF : 0);
		return r;
	case 2: /* rcl */
	case 3: /* rcr */
		k = sz == 1 ? n % 9 : sz == 2 ? n % 17 : n;
		if (!k) {
			/* A whole turn through CF: the host changes no flag. */
			x->fmask = 0;
			return a;
		}
		w = ((unsigned __int128)x->cf << bits) | a;
		wm = ((unsigned __int128)1 << (bits + 1)) - 1;
		if (k && x->sub == 2)
			w = ((w << k) | (w >> (bits + 1 - k))) & wm;
		else if (k)
			w = ((w >> k) | (w << (bits + 1 - k))) & wm;
		r = (uint64_t)w & m;
		cf = (uint64_t)(w >> bits) & 1;
		x->fmask = FL_CF | FL_OF;
		/* OF as for a count of 1 (exact there; the host's choice otherwise). */
		if (x->sub == 2)
			x->fl = (cf ? FL_CF : 0) | (((a ^ (a << 1)) & msb) ? FL_OF : 0);
		else
			x->fl = (cf ? FL_CF : 0) | ((!!(a & msb) ^ !!x->cf) ? FL_OF : 0);
		return r;
	/* SHL/SHR/SAR: exec_shift leaves their flags lazy (LF_SHL/LF_SHR/LF_SAR). */
	case 4: /* shl */
	case 6: /* sal */
		return (a << n) & m;
	case 5: /* shr */
		return a >> n;
	default: /* sar */
		return (uint64_t)((int64_t)sext(a, sz) >> n) & m;
	}
}

void exec_shift(struct cpu *c, const struct x86_insn *in)
{
	struct op_ctx x = {.sub = in->sub, .sz = in->osz};
	uint64_t a, r;

	x.b = shift_count(c, in);
	if (!x.b) {
		/* Count 0: flags unchanged, but the operand is still accessed. */
		if (in->flags & X86_F_MEM)
			mem_ptr(c, cpu_la(c, in), in->osz, in->seg, CPU_ACCESS_WRITE);
		else if (in->osz == 4)
			reg_set(c, in->rm, 4, reg_get(c, in->rm, 4));
		return;
	}
	if (in->sub == 2 || in->sub == 3)
		x.cf = flags_cf(c);
	a = e_rmw(c, in, in->osz, shift_fn, &x, &r);
	if (in->sub >= 4) {
		flags_lazy(c, in->sub == 5 ? LF_SHR : in->sub == 7 ? LF_SAR : LF_SHL, in->osz, r, a,
			   x.b);
		return;
	}
	/*
	 * OF is undefined for counts other than 1. The host leaves it alone for
	 * ROL/ROR of a register by an immediate count, and otherwise computes
	 * it as for a count of 1 from the operand: copy both behaviours.
	 */
	if (in->sub < 2 && x.b != 1 && !(in->flags & (X86_F_IMM_CL | X86_F_MEM)))
		x.fmask &= ~(uint64_t)FL_OF;
	flags_put(c, x.fmask, x.fl);
}

/* Double shifts: x->b count, x->cf the other operand (G). */
static uint64_t shld_fn(uint64_t a, struct op_ctx *x)
{
	unsigned sz = x->sz, bits = 8 * sz, n = x->b;
	uint64_t s = x->cf, m = sz_mask(sz), msb = sz_msb(sz), r, cf;

	x->write = true;
	if (sz == 2) {
		/* Counts above 16 shift in the destination again (d:s:d). */
		uint64_t w = (a << 32) | (s << 16) | a;

		r = (w << n >> 32) & m;
		cf = (w >> (48 - n)) & 1;
	} else {
		r = ((a << n) | (s >> (bits - n))) & m;
		cf = (a >> (bits - n)) & 1;
	}
	x->fl = flags_szp(r, sz) | (cf ? FL_CF : 0) | (((r ^ a) & msb) ? FL_OF : 0);
	return r;
}

static uint64_t shrd_fn(uint64_t a, struct op_ctx *x)
{
	unsigned sz = x->sz, bits = 8 * sz, n = x->b;
	uint64_t s = x->cf, m = sz_mask(sz), msb = sz_msb(sz), r, cf;

	x->write = true;
	if (sz == 2) {
		uint64_t w = (a << 32) | (s << 16) | a;

		r = (w >> n) & m;
		cf = (w >> (n - 1)) & 1;
	} else {
		r = ((a >> n) | (s << (bits - n))) & m;
		cf = (a >> (n - 1)) & 1;
	}
	x->fl = flags_szp(r, sz) | (cf ? FL_CF : 0) | (((r ^ a) & msb) ? FL_OF : 0);
	return r;
}

static void exec_dshift(struct cpu *c, const struct x86_insn *in, rmw_fn fn)
{
	struct op_ctx x = {.sz = in->osz};
	unsigned n = (in->flags & X86_F_IMM_CL) ? c->gpr[X86_RCX] & 0xff : in->imm & 0xff;
	uint64_t r;

	n &= in->osz == 8 ? 0x3f : 0x1f;
	x.b = n;
	x.cf = reg_get(c, in->reg, in->osz);
	if (!n) {
		if (in->flags & X86_F_MEM)
			mem_ptr(c, cpu_la(c, in), in->osz, in->seg, CPU_ACCESS_WRITE);
		else if (in->osz == 4)
			reg_set(c, in->rm, 4, reg_get(c, in->rm, 4));
		return;
	}
	e_rmw(c, in, in->osz, fn, &x, &r);
	/* AF is undefined; the host clears it. */
	flags_put(c, FL_ARITH, x.fl);
}

void exec_shld(struct cpu *c, const struct x86_insn *in)
{
	exec_dshift(c, in, shld_fn);
}

void exec_shrd(struct cpu *c, const struct x86_insn *in)
{
	exec_dshift(c, in, shrd_fn);
}

static uint64_t bt_fn(uint64_t a, struct op_ctx *x)
{
	uint64_t bit = 1ull << x->b;

	x->write = x->sub != 0;
	x->fl = (a & bit) ? FL_CF : 0;
	switch (x->sub) {
	case 1:
		return a | bit;
	case 2:
		return a & ~bit;
	case 3:
		return a ^ bit;
	default:
		return a;
	}
}

void exec_bt(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz, bits = 8 * sz;
	struct op_ctx x = {.sub = in->sub, .sz = sz};
	uint64_t off, r;

	off = in->form == X86_FORM_EI ? in->imm : reg_get(c, in->reg, sz);
	x.b = off & (bits - 1);
	if ((in->flags & X86_F_MEM) && in->form == X86_FORM_EG) {
		/* A register bit offset is signed and may address beyond the operand. */
		int64_t soff = (int64_t)sext(off, sz);
		int64_t unit = soff >> (sz == 2 ? 4 : sz == 4 ? 5 : 6);
		uint64_t ea = cpu_ea(c, in) + (uint64_t)unit * sz;
		uint64_t la = (in->asz == 8 ? ea : in->asz == 4 ? (uint32_t)ea : (uint16_t)ea) +
			      cpu_seg_base(c, in->seg);
		struct rmw m;
		uint64_t a;

		if (!in->sub) {
			bt_fn(mem_read(c, la, sz, in->seg), &x);
		} else {
			do {
				a = rmw_begin(c, &m, la, sz, in->seg, in->flags & X86_F_LOCK);
				r = bt_fn(a, &x);
			} while (!rmw_commit(c, &m, a, r));
		}
	} else if (!in->sub) {
		bt_fn(opnd_e_get(c, in, sz), &x);
	} else {
		e_rmw(c, in, sz, bt_fn, &x, &r);
	}
	flags_put(c, FL_CF, x.fl);
}

void exec_bsf(struct cpu *c, const struct x86_insn *in)
{
	uint64_t s = opnd_e_get(c, in, in->osz);

	if (!s) {
		flags_put(c, FL_ARITH, FL_ZF | FL_PF);
		return;
	}
	reg_set(c, in->reg, in->osz, __builtin_ctzll(s));
	/* Undefined flags as the host leaves them: PF from the index, the rest clear. */
	flags_put(c, FL_ARITH, flags_szp(__builtin_ctzll(s), 1) & FL_PF);
}

void exec_bsr(struct cpu *c, const struct x86_insn *in)
{
	uint64_t s = opnd_e_get(c, in, in->osz);

	if (!s) {
		flags_put(c, FL_ARITH, FL_ZF | FL_PF);
		return;
	}
	reg_set(c, in->reg, in->osz, 63 - __builtin_clzll(s));
	flags_put(c, FL_ARITH, flags_szp(63 - __builtin_clzll(s), 1) & FL_PF);
}

void exec_tzcnt(struct cpu *c, const struct x86_insn *in)
{
	uint64_t s = opnd_e_get(c, in, in->osz);
	uint64_t r = s ? (uint64_t)__builtin_ctzll(s) : 8 * in->osz;

	reg_set(c, in->reg, in->osz, r);
	flags_put(c, FL_ARITH, (s ? 0 : FL_CF) | (r ? 0 : FL_ZF));
}

void exec_lzcnt(struct cpu *c, const struct x86_insn *in)
{
	uint64_t s = opnd_e_get(c, in, in->osz);
	uint64_t r = s ? (uint64_t)__builtin_clzll(s) - (64 - 8 * in->osz) : 8 * in->osz;

	reg_set(c, in->reg, in->osz, r);
	flags_put(c, FL_ARITH, (s ? 0 : FL_CF) | (r ? 0 : FL_ZF));
}

void exec_popcnt(struct cpu *c, const struct x86_insn *in)
{
	uint64_t s = opnd_e_get(c, in, in->osz);

	reg_set(c, in->reg, in->osz, __builtin_popcountll(s));
	flags_put(c, FL_ARITH, s ? 0 : FL_ZF);
}

static uint64_t cmpxchg_fn(uint64_t a, struct op_ctx *x)
{
	x->write = true;
	return a == x->cf ? x->b : a;
}

void exec_cmpxchg(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;
	struct op_ctx x = {.sz = sz};
	uint64_t acc = reg_get(c, X86_RAX, sz), d, r;

	x.cf = acc;
	x.b = reg_get(c, in->reg, sz);
	if (in->flags & X86_F_MEM) {
		d = e_rmw(c, in, sz, cmpxchg_fn, &x, &r);
	} else {
		d = reg_get(c, in->rm, sz);
		if (d == acc)
			reg_set(c, in->rm, sz, x.b);
	}
	if (d != acc)
		reg_set(c, X86_RAX, sz, d);
	flags_lazy(c, LF_SUB, sz, acc - d, acc, d);
}

/* 16-byte compare-and-swap on the host; false when *p did not hold *old. */
static bool cas16(uint8_t *p, uint64_t old[2], const uint64_t val[2])
{
	bool ok;

	__asm__ volatile("lock cmpxchg16b %1"
			 : "=@ccz"(ok), "+m"(*(unsigned __int128 *)p), "+a"(old[0]), "+d"(old[1])
			 : "b"(val[0]), "c"(val[1]));
	return ok;
}

void exec_cmpxchg2x(struct cpu *c, const struct x86_insn *in)
{
	unsigned half = in->osz == 8 ? 8 : 4, sz = 2 * half;
	uint64_t la = cpu_la(c, in);
	uint64_t cmp[2] = {reg_get(c, X86_RAX, half), reg_get(c, X86_RDX, half)};
	uint64_t val[2] = {reg_get(c, X86_RBX, half), reg_get(c, X86_RCX, half)};
	uint64_t cur[2] = {0, 0};
	uint8_t *p;
	bool eq;

	if (sz == 16 && (la & 15))
		cpu_raise_gp0(c);
	p = mem_ptr(c, la, sz, in->seg, CPU_ACCESS_WRITE);
	if (p && sz == 16) {
		cur[0] = cmp[0];
		cur[1] = cmp[1];
		eq = cas16(p, cur, val);
	} else if (p && !(la & 7)) {
		uint64_t e = cmp[0] | (cmp[1] << 32);

		eq = __atomic_compare_exchange_n((uint64_t *)p, &e, val[0] | (val[1] << 32), false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		cur[0] = (uint32_t)e;
		cur[1] = e >> 32;
	} else {
		/* Misaligned, page-crossing or MMIO: not atomic, like other split locks. */
		uint8_t buf[16];

		mem_read_bytes(c, la, buf, sz, in->seg, CPU_ACCESS_WRITE);
		memcpy(&cur[0], buf, half);
		memcpy(&cur[1], buf + half, half);
		eq = cur[0] == cmp[0] && cur[1] == cmp[1];
		if (eq) {
			memcpy(buf, &val[0], half);
			memcpy(buf + half, &val[1], half);
		}
		mem_write(c, la, half, eq ? val[0] : cur[0], in->seg);
		mem_write(c, la + half, half, eq ? val[1] : cur[1], in->seg);
	}
	if (!eq) {
		reg_set(c, X86_RAX, half, cur[0]);
		reg_set(c, X86_RDX, half, cur[1]);
	}
	flags_put(c, FL_ZF, eq ? FL_ZF : 0);
}

static uint64_t xadd_fn(uint64_t a, struct op_ctx *x)
{
	x->write = true;
	return a + x->b;
}

void exec_xadd(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;
	struct op_ctx x = {.sz = sz};
	uint64_t d, r;

	x.b = reg_get(c, in->reg, sz);
	if (in->flags & X86_F_MEM) {
		d = e_rmw(c, in, sz, xadd_fn, &x, &r);
		reg_set(c, in->reg, sz, d);
	} else {
		d = reg_get(c, in->rm, sz);
		r = d + x.b;
		reg_set(c, in->reg, sz, d);
		reg_set(c, in->rm, sz, r);
	}
	flags_lazy(c, LF_ADD, sz, r, d, x.b);
}

static uint64_t xchg_fn(uint64_t a, struct op_ctx *x)
{
	(void)a;
	x->write = true;
	return x->b;
}

void exec_xchg(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;
	uint64_t g = reg_get(c, in->reg, sz), d;

	if (in->flags & X86_F_MEM) {
		/* XCHG with memory is locked with or without the prefix. */
		uint64_t la = cpu_la(c, in);
		struct op_ctx x = {.b = g};
		struct rmw m;

		do {
			d = rmw_begin(c, &m, la, sz, in->seg, true);
		} while (!rmw_commit(c, &m, d, xchg_fn(d, &x)));
	} else {
		d = reg_get(c, in->rm, sz);
		reg_set(c, in->rm, sz, g);
	}
	reg_set(c, in->reg, sz, d);
}
