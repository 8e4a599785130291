/* soft/cpu/exec_sse.c: the SSE/SSE2/MMX unit: moves, integer operations, dispatch. */
#include <emmintrin.h>

#include "soft/cpu/sse.h"

/* Mandatory prefix index: F2 and F3 win over 66, the last of F2/F3 wins. */
enum { P_NONE, P_66, P_F3, P_F2 };

/* Result lanes that can underflow, for sse_fp_exec: lanes * 2 + is_double. */
#define T_PS 8
#define T_PD 5
#define T_SS 2
#define T_SD 3
#define T_2S 4

static unsigned pfx_of(const struct x86_insn *in)
{
	if (in->flags & X86_F_REPNE)
		return P_F2;
	if (in->flags & X86_F_REP)
		return P_F3;
	return (in->flags & X86_F_OSZ16) ? P_66 : P_NONE;
}

static _Noreturn void unimpl(struct cpu *c)
{
	c->exc.unimplemented = true;
	cpu_raise_ud(c);
}

/* SSE/SSE2 instructions on XMM registers (and the SSE conversions to MMX). */
static inline void check_sse(struct cpu *c)
{
	if ((c->sys.cr0 & X86_CR0_EM) || !(c->sys.cr4 & X86_CR4_OSFXSR))
		cpu_raise_ud(c);
	if (c->sys.cr0 & X86_CR0_TS)
		cpu_raise(c, VEC_NM, false, 0);
}


static bool is_mem(const struct x86_insn *in)
{
	return in->flags & X86_F_MEM;
}

/* ---- registers ---- */

static inline __m128i xget(struct cpu *c, unsigned r)
{
	return _mm_load_si128((const __m128i *)&c->fpu.xmm[r & 15]);
}

static inline void xset(struct cpu *c, unsigned r, __m128i v)
{
	_mm_store_si128((__m128i *)&c->fpu.xmm[r & 15], v);
}

/* MMn is physical x87 register n: slot (n - TOP) in the FXSAVE image. */
static inline uint64_t mmget(struct cpu *c, unsigned r)
{
	return c->fpu.st[((r & 7) - (c->fpu.fsw >> 11)) & 7].mant;
}

/* The first half of the x87-to-MMX transition: TOP = 0. */
static void mmx_top0(struct cpu_fpu *f)
{
	unsigned top = (f->fsw >> 11) & 7;

	if (top) {
		struct cpu_x87_reg t[8];

		for (unsigned i = 0; i < 8; i++)
			t[(i + top) & 7] = f->st[i];
		memcpy(f->st, t, sizeof(t));
		f->fsw &= ~0x3800;
	}
}

/*
 * The x87-to-MMX transition: TOP = 0, every tag valid. A store makes TOP 0
 * first and marks the tags only once it has not faulted.
 */
static void mmx_enter(struct cpu_fpu *f)
{
	mmx_top0(f);
	f->ftw = 0xff;
}

/* Writes MMn after mmx_enter(): the exponent field reads as all ones. */
static inline void mmset(struct cpu *c, unsigned r, uint64_t v)
{
	c->fpu.st[r & 7].mant = v;
	c->fpu.st[r & 7].exp = 0xffff;
}

/*
 * Instructions on MMX registers: they also wait for pending x87 exceptions.
 * Callers then switch the x87 unit to MMX mode (mmx_enter) after loading a
 * memory source and before storing: a load that faults leaves the x87 state
 * alone, a store (or a conversion) that faults has made the switch.
 */
static void check_mmx(struct cpu *c, bool sse)
{
	if ((c->sys.cr0 & X86_CR0_EM) || (sse && !(c->sys.cr4 & X86_CR4_OSFXSR)))
		cpu_raise_ud(c);
	if (c->sys.cr0 & X86_CR0_TS)
		cpu_raise(c, VEC_NM, false, 0);
	if (x87_pending(&c->fpu))
		cpu_raise(c, VEC_MF, false, 0);
}

/* ---- memory operands ---- */

static uint64_t la_of(struct cpu *c, const struct x86_insn *in, unsigned align)
{
	uint64_t la = cpu_la(c, in);

	if (la & (align - 1))
		cpu_raise_gp0(c);
	return la;
}

static __m128i load128(struct cpu *c, const struct x86_insn *in, bool aligned)
{
	union cpu_xmm v;
	uint64_t la = la_of(c, in, aligned ? 16 : 1);

	mem_read_bytes(c, la, &v, 16, in->seg, CPU_ACCESS_READ);
	return _mm_load_si128((const __m128i *)&v);
}

static void store128(struct cpu *c, const struct x86_insn *in, __m128i v, bool aligned)
{
	uint64_t la = la_of(c, in, aligned ? 16 : 1);
	uint8_t *p = mem_ptr(c, la, 16, in->seg, CPU_ACCESS_WRITE);
	union cpu_xmm x;

	_mm_store_si128((__m128i *)&x, v);
	if (p) {
		memcpy(p, &x, 16);
		return;
	}
	sse_guest_write(c, la, in->seg, x.b, 16);
}

/* E as a full XMM register, or sz bytes of memory zero-extended (16: aligned). */
static inline __m128i src_x(struct cpu *c, const struct x86_insn *in, unsigned sz)
{
	if (!is_mem(in))
		return xget(c, in->rm);
	if (sz == 16)
		return load128(c, in, true);
	return _mm_cvtsi64_si128((long long)mem_read(c, cpu_la(c, in), sz, in->seg));
}

/* E as an MMX register or m64. */
static uint64_t src_mm(struct cpu *c, const struct x86_insn *in)
{
	if (!is_mem(in))
		return mmget(c, in->rm);
	return mem_read(c, cpu_la(c, in), 8, in->seg);
}

static uint64_t lo64(__m128i v)
{
	return (uint64_t)_mm_cvtsi128_si64(v);
}

static uint64_t hi64(__m128i v)
{
	return (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v));
}

static __m128i mk128(uint64_t lo, uint64_t hi)
{
	return _mm_set_epi64x((long long)hi, (long long)lo);
}

/* ---- integer operations ---- */

/* The two-operand integer operations at 0F opc on 128 bits (a: destination). */
static __m128i pint(unsigned opc, __m128i a, __m128i b)
{
	switch (opc) {
	case 0x60:
		return _mm_unpacklo_epi8(a, b);
	case 0x61:
		return _mm_unpacklo_epi16(a, b);
	case 0x62:
		return _mm_unpacklo_epi32(a, b);
	case 0x63:
		return _mm_packs_epi16(a, b);
	case 0x64:
		return _mm_cmpgt_epi8(a, b);
	case 0x65:
		return _mm_cmpgt_epi16(a, b);
	case 0x66:
		return _mm_cmpgt_epi32(a, b);
	case 0x67:
		return _mm_packus_epi16(a, b);
	case 0x68:
		return _mm_unpackhi_epi8(a, b);
	case 0x69:
		return _mm_unpackhi_epi16(a, b);
	case 0x6a:
		return _mm_unpackhi_epi32(a, b);
	case 0x6b:
		return _mm_packs_epi32(a, b);
	case 0x6c:
		return _mm_unpacklo_epi64(a, b);
	case 0x6d:
		return _mm_unpackhi_epi64(a, b);
	case 0x74:
		return _mm_cmpeq_epi8(a, b);
	case 0x75:
		return _mm_cmpeq_epi16(a, b);
	case 0x76:
		return _mm_cmpeq_epi32(a, b);
	case 0xd1:
		return _mm_srl_epi16(a, b);
	case 0xd2:
		return _mm_srl_epi32(a, b);
	case 0xd3:
		return _mm_srl_epi64(a, b);
	case 0xd4:
		return _mm_add_epi64(a, b);
	case 0xd5:
		return _mm_mullo_epi16(a, b);
	case 0xd8:
		return _mm_subs_epu8(a, b);
	case 0xd9:
		return _mm_subs_epu16(a, b);
	case 0xda:
		return _mm_min_epu8(a, b);
	case 0xdb:
		return _mm_and_si128(a, b);
	case 0xdc:
		return _mm_adds_epu8(a, b);
	case 0xdd:
		return _mm_adds_epu16(a, b);
	case 0xde:
		return _mm_max_epu8(a, b);
	case 0xdf:
		return _mm_andnot_si128(a, b);
	case 0xe0:
		return _mm_avg_epu8(a, b);
	case 0xe1:
		return _mm_sra_epi16(a, b);
	case 0xe2:
		return _mm_sra_epi32(a, b);
	case 0xe3:
		return _mm_avg_epu16(a, b);
	case 0xe4:
		return _mm_mulhi_epu16(a, b);
	case 0xe5:
		return _mm_mulhi_epi16(a, b);
	case 0xe8:
		return _mm_subs_epi8(a, b);
	case 0xe9:
		return _mm_subs_epi16(a, b);
	case 0xea:
		return _mm_min_epi16(a, b);
	case 0xeb:
		return _mm_or_si128(a, b);
	case 0xec:
		return _mm_adds_epi8(a, b);
	case 0xed:
		return _mm_adds_epi16(a, b);
	case 0xee:
		return _mm_max_epi16(a, b);
	case 0xef:
		return _mm_xor_si128(a, b);
	case 0xf1:
		return _mm_sll_epi16(a, b);
	case 0xf2:
		return _mm_sll_epi32(a, b);
	case 0xf3:
		return _mm_sll_epi64(a, b);
	case 0xf4:
		return _mm_mul_epu32(a, b);
	case 0xf5:
		return _mm_madd_epi16(a, b);
	case 0xf6:
		return _mm_sad_epu8(a, b);
	case 0xf8:
		return _mm_sub_epi8(a, b);
	case 0xf9:
		return _mm_sub_epi16(a, b);
	case 0xfa:
		return _mm_sub_epi32(a, b);
	case 0xfb:
		return _mm_sub_epi64(a, b);
	case 0xfc:
		return _mm_add_epi8(a, b);
	case 0xfd:
		return _mm_add_epi16(a, b);
	default: /* 0xfe */
		return _mm_add_epi32(a, b);
	}
}

/* The same on 64-bit MMX operands. */
static uint64_t pint64(unsigned opc, uint64_t a, uint64_t b)
{
	switch (opc) {
	case 0x63:
	case 0x67:
	case 0x6b: {
		/* Packs take a's elements then b's: pack one register holding both. */
		__m128i v = mk128(a, b);

		return lo64(pint(opc, v, v));
	}
	case 0x68:
	case 0x69:
	case 0x6a:
		return lo64(pint(opc - 8, mk128(a >> 32, 0), mk128(b >> 32, 0)));
	default:
		return lo64(pint(opc, mk128(a, 0), mk128(b, 0)));
	}
}

static bool pint_valid(unsigned opc, bool xmm)
{
	switch (opc) {
	case 0x60 ... 0x6b:
	case 0x74 ... 0x76:
	case 0xd1 ... 0xd5:
	case 0xd8 ... 0xe5:
	case 0xe8 ... 0xef:
	case 0xf1 ... 0xf6:
	case 0xf8 ... 0xfe:
		return true;
	case 0x6c:
	case 0x6d:
		return xmm;
	default:
		return false;
	}
}

static void op_pint(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	if (pfx == P_66) {
		__m128i b;

		check_sse(c);
		b = src_x(c, in, 16);
		xset(c, in->reg, pint(in->opc, xget(c, in->reg), b));
	} else {
		uint64_t b, a;

		check_mmx(c, false);
		b = src_mm(c, in);
		mmx_enter(&c->fpu);
		a = mmget(c, in->reg);
		mmset(c, in->reg, pint64(in->opc, a, b));
	}
}

/* 0F 71-73: shifts by an immediate; sub is ModRM.reg. */
static __m128i pshift_imm(unsigned opc, unsigned sub, __m128i a, unsigned n)
{
	__m128i cnt = _mm_cvtsi32_si128((int)n);
	union cpu_xmm x, r;

	switch (opc << 4 | sub) {
	case 0x712:
		return _mm_srl_epi16(a, cnt);
	case 0x714:
		return _mm_sra_epi16(a, cnt);
	case 0x716:
		return _mm_sll_epi16(a, cnt);
	case 0x722:
		return _mm_srl_epi32(a, cnt);
	case 0x724:
		return _mm_sra_epi32(a, cnt);
	case 0x726:
		return _mm_sll_epi32(a, cnt);
	case 0x732:
		return _mm_srl_epi64(a, cnt);
	case 0x736:
		return _mm_sll_epi64(a, cnt);
	default: /* 0x733 PSRLDQ, 0x737 PSLLDQ */
		_mm_store_si128((__m128i *)&x, a);
		memset(&r, 0, sizeof(r));
		for (unsigned i = 0; n < 16 && i < 16 - n; i++) {
			if (sub == 3)
				r.b[i] = x.b[i + n];
			else
				r.b[i + n] = x.b[i];
		}
		return _mm_load_si128((const __m128i *)&r);
	}
}

static void op_pshift_imm(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	unsigned sub = in->reg & 7, n = in->imm & 0xff;
	bool ok = sub == 2 || sub == 6 || (sub == 4 && in->opc != 0x73) ||
		  (in->opc == 0x73 && (sub == 3 || sub == 7) && pfx == P_66);

	if (!ok || is_mem(in) || pfx > P_66)
		cpu_raise_ud(c);
	if (pfx == P_66) {
		check_sse(c);
		xset(c, in->rm, pshift_imm(in->opc, sub, xget(c, in->rm), n));
	} else {
		uint64_t a;

		check_mmx(c, false);
		mmx_enter(&c->fpu);
		a = mmget(c, in->rm);
		mmset(c, in->rm, lo64(pshift_imm(in->opc, sub, mk128(a, 0), n)));
	}
}

static uint64_t shuf_words(uint64_t v, unsigned imm)
{
	uint64_t r = 0;

	for (unsigned i = 0; i < 4; i++)
		r |= ((v >> (16 * ((imm >> (2 * i)) & 3))) & 0xffff) << (16 * i);
	return r;
}

/* 0F 70: PSHUFW, PSHUFD, PSHUFHW, PSHUFLW. */
static void op_pshuf(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	unsigned imm = in->imm & 0xff;
	union cpu_xmm s, r;

	if (pfx == P_NONE) {
		uint64_t a;

		check_mmx(c, false);
		a = src_mm(c, in);
		mmx_enter(&c->fpu);
		mmset(c, in->reg, shuf_words(a, imm));
		return;
	}
	check_sse(c);
	_mm_store_si128((__m128i *)&s, src_x(c, in, 16));
	r = s;
	if (pfx == P_66) {
		for (unsigned i = 0; i < 4; i++)
			r.d[i] = s.d[(imm >> (2 * i)) & 3];
	} else if (pfx == P_F3) {
		r.q[1] = shuf_words(s.q[1], imm);
	} else {
		r.q[0] = shuf_words(s.q[0], imm);
	}
	xset(c, in->reg, _mm_load_si128((const __m128i *)&r));
}

/* ---- moves ---- */

/* 0F 10/11: MOVUPS/MOVUPD/MOVSS/MOVSD. */
static void op_movu(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	bool store = in->opc == 0x11;
	unsigned sz = pfx == P_F3 ? 4 : 8;

	check_sse(c);
	if (pfx <= P_66) {
		if (store && is_mem(in))
			store128(c, in, xget(c, in->reg), false);
		else if (store)
			xset(c, in->rm, xget(c, in->reg));
		else
			xset(c, in->reg, is_mem(in) ? load128(c, in, false) : xget(c, in->rm));
		return;
	}
	if (is_mem(in)) {
		uint64_t la = cpu_la(c, in);

		if (store) {
			mem_write(c, la, sz, lo64(xget(c, in->reg)), in->seg);
		} else {
			uint64_t v = mem_read(c, la, sz, in->seg);

			xset(c, in->reg, _mm_cvtsi64_si128((long long)v));
		}
		return;
	}
	{
		unsigned d = store ? in->rm : in->reg, s = store ? in->reg : in->rm;
		union cpu_xmm *dx = &c->fpu.xmm[d & 15], *sx = &c->fpu.xmm[s & 15];

		if (sz == 4)
			dx->d[0] = sx->d[0];
		else
			dx->q[0] = sx->q[0];
	}
}

/* 0F 12/13/16/17: MOVLPS/MOVHLPS/MOVLPD, MOVHPS/MOVLHPS/MOVHPD. */
static void op_movlh(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	bool high = in->opc >= 0x16, store = in->opc & 1;
	union cpu_xmm *g = &c->fpu.xmm[in->reg & 15];

	if ((in->opc & ~4) == 0x12 && pfx >= P_F3 && !(in->opc == 0x16 && pfx == P_F2))
		unimpl(c); /* MOVSLDUP, MOVDDUP, MOVSHDUP */
	if (pfx >= P_F3 || (!is_mem(in) && (store || pfx == P_66)))
		cpu_raise_ud(c);
	check_sse(c);
	if (!is_mem(in)) {
		/* MOVHLPS / MOVLHPS */
		const union cpu_xmm *e = &c->fpu.xmm[in->rm & 15];

		if (high)
			g->q[1] = e->q[0];
		else
			g->q[0] = e->q[1];
		return;
	}
	if (store) {
		mem_write(c, cpu_la(c, in), 8, g->q[high], in->seg);
	} else {
		uint64_t v = mem_read(c, cpu_la(c, in), 8, in->seg);

		g->q[high] = v;
	}
}

/* 0F 28/29/2B: MOVAPS/MOVAPD, MOVNTPS/MOVNTPD. */
static void op_mova(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	if (pfx > P_66 || (in->opc == 0x2b && !is_mem(in)))
		cpu_raise_ud(c);
	check_sse(c);
	if (in->opc == 0x28)
		xset(c, in->reg, src_x(c, in, 16));
	else if (is_mem(in))
		store128(c, in, xget(c, in->reg), true);
	else
		xset(c, in->rm, xget(c, in->reg));
}

/* 0F 6F/7F: MOVQ mm, MOVDQA, MOVDQU. */
static void op_movdq(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	bool store = in->opc == 0x7f;

	if (pfx == P_F2)
		cpu_raise_ud(c);
	if (pfx == P_NONE) {
		uint64_t v;

		check_mmx(c, false);
		if (store) {
			mmx_top0(&c->fpu);
			v = mmget(c, in->reg);
			if (is_mem(in))
				mem_write(c, cpu_la(c, in), 8, v, in->seg);
			mmx_enter(&c->fpu);
			if (!is_mem(in))
				mmset(c, in->rm, v);
		} else {
			v = src_mm(c, in);
			mmx_enter(&c->fpu);
			mmset(c, in->reg, v);
		}
		return;
	}
	check_sse(c);
	if (!is_mem(in)) {
		if (store)
			xset(c, in->rm, xget(c, in->reg));
		else
			xset(c, in->reg, xget(c, in->rm));
	} else if (store) {
		store128(c, in, xget(c, in->reg), pfx == P_66);
	} else {
		xset(c, in->reg, load128(c, in, pfx == P_66));
	}
}

/* 0F 6E/7E: MOVD/MOVQ between GPR/memory and MMX/XMM; F3 0F 7E MOVQ xmm. */
static void op_movd(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	unsigned sz = in->osz == 8 ? 8 : 4;
	uint64_t v;

	if (pfx == P_F2 || (pfx == P_F3 && in->opc == 0x6e))
		cpu_raise_ud(c);
	if (pfx == P_F3) {
		check_sse(c);
		xset(c, in->reg, _mm_move_epi64(src_x(c, in, 8)));
		return;
	}
	if (pfx == P_66) {
		check_sse(c);
		if (in->opc == 0x6e) {
			v = opnd_e_get(c, in, sz);
			xset(c, in->reg, _mm_cvtsi64_si128((long long)v));
		} else {
			opnd_e_set(c, in, sz, lo64(xget(c, in->reg)) & (sz == 8 ? ~0ull : 0xffffffffull));
		}
		return;
	}
	check_mmx(c, false);
	if (in->opc == 0x6e) {
		v = opnd_e_get(c, in, sz);
		mmx_enter(&c->fpu);
		mmset(c, in->reg, v);
	} else {
		mmx_top0(&c->fpu);
		v = mmget(c, in->reg);
		opnd_e_set(c, in, sz, sz == 8 ? v : (uint32_t)v);
		mmx_enter(&c->fpu);
	}
}

/* 0F D6: MOVQ xmm/m64, xmm; MOVQ2DQ; MOVDQ2Q. */
static void op_d6(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	if (pfx == P_NONE || (pfx != P_66 && is_mem(in)))
		cpu_raise_ud(c);
	if (pfx == P_66) {
		uint64_t v;

		check_sse(c);
		v = lo64(xget(c, in->reg));
		if (is_mem(in))
			mem_write(c, cpu_la(c, in), 8, v, in->seg);
		else
			xset(c, in->rm, mk128(v, 0));
		return;
	}
	check_mmx(c, true);
	mmx_enter(&c->fpu);
	if (pfx == P_F3) {
		uint64_t v = mmget(c, in->rm);

		xset(c, in->reg, mk128(v, 0));
	} else {
		mmset(c, in->reg, lo64(xget(c, in->rm)));
	}
}

/* 0F E7 MOVNTQ/MOVNTDQ, 0F C3 MOVNTI. */
static void op_movnt(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	if (!is_mem(in))
		cpu_raise_ud(c);
	if (in->opc == 0xc3) {
		if (pfx != P_NONE)
			cpu_raise_ud(c);
		opnd_e_set(c, in, in->osz == 8 ? 8 : 4, c->gpr[in->reg & 15]);
		return;
	}
	if (pfx == P_66) {
		check_sse(c);
		store128(c, in, xget(c, in->reg), true);
	} else if (pfx == P_NONE) {
		uint64_t v;

		check_mmx(c, false);
		mmx_top0(&c->fpu);
		v = mmget(c, in->reg);
		mem_write(c, cpu_la(c, in), 8, v, in->seg);
		mmx_enter(&c->fpu);
	} else {
		cpu_raise_ud(c);
	}
}

/* 0F F7: MASKMOVQ / MASKMOVDQU to DS:rDI. */
static void op_maskmov(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	uint64_t asz_mask = in->asz == 8 ? ~0ull : in->asz == 4 ? 0xffffffffull : 0xffffull;
	uint64_t la = cpu_seg_base(c, in->seg) + (c->gpr[X86_RDI] & asz_mask);
	union cpu_xmm d, m;
	unsigned n = pfx == P_66 ? 16 : 8, mask;

	if (pfx > P_66 || is_mem(in))
		cpu_raise_ud(c);
	if (pfx == P_66) {
		check_sse(c);
		_mm_store_si128((__m128i *)&d, xget(c, in->reg));
		_mm_store_si128((__m128i *)&m, xget(c, in->rm));
	} else {
		check_mmx(c, false);
		mmx_top0(&c->fpu);
		d.q[0] = mmget(c, in->reg);
		m.q[0] = mmget(c, in->rm);
	}
	mask = (unsigned)_mm_movemask_epi8(_mm_load_si128((const __m128i *)&m)) & ((1u << n) - 1);
	if (mask) {
		mem_probe(c, la, n, in->seg, CPU_ACCESS_WRITE);
		for (unsigned i = 0; i < n; i++)
			if (mask & (1u << i))
				mem_write(c, la + i, 1, d.b[i], in->seg);
	}
	if (pfx == P_NONE)
		mmx_enter(&c->fpu);
}

/* 0F 50 MOVMSKPS/PD, 0F D7 PMOVMSKB. */
static void op_movmsk(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	uint32_t v;

	if (is_mem(in) || pfx > P_66 || (in->opc == 0x50 && pfx > P_66))
		cpu_raise_ud(c);
	if (in->opc == 0xd7 && pfx == P_NONE) {
		uint64_t a;

		check_mmx(c, false);
		mmx_enter(&c->fpu);
		a = mmget(c, in->rm);
		v = (uint32_t)_mm_movemask_epi8(mk128(a, 0)) & 0xff;
	} else {
		__m128i a;

		check_sse(c);
		a = xget(c, in->rm);
		if (in->opc == 0xd7)
			v = (uint32_t)_mm_movemask_epi8(a);
		else if (pfx == P_66)
			v = (uint32_t)_mm_movemask_pd(_mm_castsi128_pd(a));
		else
			v = (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(a));
	}
	reg_set(c, in->reg, in->osz == 8 ? 8 : 4, v);
}

/* 0F C4 PINSRW, 0F C5 PEXTRW. */
static void op_pinsrw(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	unsigned imm = in->imm & 0xff;

	if (pfx > P_66 || (in->opc == 0xc5 && is_mem(in)))
		cpu_raise_ud(c);
	if (pfx == P_66)
		check_sse(c);
	else
		check_mmx(c, false);
	if (in->opc == 0xc4) {
		uint16_t w = (uint16_t)(is_mem(in) ? mem_read(c, cpu_la(c, in), 2, in->seg)
						   : c->gpr[in->rm & 15]);

		if (pfx == P_66) {
			c->fpu.xmm[in->reg & 15].w[imm & 7] = w;
		} else {
			uint64_t a;
			unsigned sh = 16 * (imm & 3);

			mmx_enter(&c->fpu);
			a = mmget(c, in->reg);
			mmset(c, in->reg, (a & ~(0xffffull << sh)) | ((uint64_t)w << sh));
		}
		return;
	}
	if (pfx == P_66) {
		reg_set(c, in->reg, 4, c->fpu.xmm[in->rm & 15].w[imm & 7]);
	} else {
		uint64_t a;

		mmx_enter(&c->fpu);
		a = mmget(c, in->rm);
		reg_set(c, in->reg, 4, (a >> (16 * (imm & 3))) & 0xffff);
	}
}

/* 0F C6: SHUFPS/SHUFPD. */
static void op_shufp(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	unsigned imm = in->imm & 0xff;
	union cpu_xmm d, s, r;

	if (pfx > P_66)
		cpu_raise_ud(c);
	check_sse(c);
	_mm_store_si128((__m128i *)&s, src_x(c, in, 16));
	_mm_store_si128((__m128i *)&d, xget(c, in->reg));
	if (pfx == P_66) {
		r.q[0] = d.q[imm & 1];
		r.q[1] = s.q[(imm >> 1) & 1];
	} else {
		r.d[0] = d.d[imm & 3];
		r.d[1] = d.d[(imm >> 2) & 3];
		r.d[2] = s.d[(imm >> 4) & 3];
		r.d[3] = s.d[(imm >> 6) & 3];
	}
	xset(c, in->reg, _mm_load_si128((const __m128i *)&r));
}

/* 0F 14/15 UNPCK[LH]P[SD], 0F 54-57 AND/ANDN/OR/XOR P[SD]: integer operations in disguise. */
static void op_fplogic(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	static const uint8_t as_int[2][6] = {{0x62, 0x6a, 0xdb, 0xdf, 0xeb, 0xef},
					     {0x6c, 0x6d, 0xdb, 0xdf, 0xeb, 0xef}};
	unsigned i = in->opc < 0x54 ? in->opc - 0x14 : in->opc - 0x52;
	__m128i b;

	if (pfx > P_66)
		cpu_raise_ud(c);
	check_sse(c);
	b = src_x(c, in, 16);
	xset(c, in->reg, pint(as_int[pfx][i], xget(c, in->reg), b));
}

/* ---- floating point ---- */

/* Memory operand size of the FP operations; 16 means an aligned m128. */
static unsigned fp_size(unsigned opc, unsigned pfx)
{
	switch (opc) {
	case 0x5a:
		return pfx == P_66 ? 16 : pfx == P_F3 ? 4 : 8;
	case 0xe6:
		return pfx == P_F3 ? 8 : 16;
	case 0x5b:
		return 16;
	default:
		return pfx == P_F3 ? 4 : pfx == P_F2 ? 8 : 16;
	}
}

static unsigned fp_tiny(unsigned opc, unsigned pfx)
{
	static const uint8_t arith[4] = {T_PS, T_PD, T_SS, T_SD};

	switch (opc) {
	case 0x58:
	case 0x59:
	case 0x5c:
	case 0x5e:
		return arith[pfx];
	case 0x5a:
		return pfx == P_66 ? T_2S : pfx == P_F2 ? T_SS : 0;
	default:
		return 0;
	}
}

static void op_fp(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	unsigned opc = in->opc;
	__m128i s, d;

	if ((opc == 0x52 || opc == 0x53) && (pfx & 1))
		cpu_raise_ud(c);
	if ((opc == 0x5b && pfx == P_F2) || (opc == 0xe6 && pfx == P_NONE))
		cpu_raise_ud(c);
	check_sse(c);
	s = src_x(c, in, fp_size(opc, pfx));
	d = xget(c, in->reg);
	xset(c, in->reg, sse_fp_exec(c, opc, pfx, in->imm & 0xff, d, s, fp_tiny(opc, pfx)));
}

/* 0F 2E/2F: UCOMISS/COMISS/UCOMISD/COMISD. */
static void op_comi(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	uint64_t fl;
	__m128i s;

	if (pfx > P_66)
		cpu_raise_ud(c);
	check_sse(c);
	s = src_x(c, in, pfx == P_66 ? 8 : 4);
	fl = sse_fp_comi(c, pfx == P_66, in->opc == 0x2f, xget(c, in->reg), s);
	flags_put(c, FL_ARITH, fl);
}

/* 0F 2A: CVTPI2PS, CVTPI2PD, CVTSI2SS, CVTSI2SD. */
static void op_cvt2a(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	__m128i d;

	if (pfx >= P_F3) {
		bool w = in->osz == 8;
		uint64_t v;

		check_sse(c);
		v = opnd_e_get(c, in, w ? 8 : 4);
		d = sse_fp_cvtsi(c, pfx == P_F2, w, v, xget(c, in->reg));
		xset(c, in->reg, d);
		return;
	}
	if (is_mem(in)) {
		check_sse(c);
	} else {
		check_mmx(c, true);
		mmx_enter(&c->fpu);
	}
	{
		uint64_t v = src_mm(c, in);
		__m128i s = mk128(v, 0);

		d = xget(c, in->reg);
		if (pfx == P_66) {
			d = sse_fp_exec(c, 0xe6, P_F3, 0, d, s, 0);
		} else {
			__m128i r = sse_fp_exec(c, 0x5b, P_NONE, 0, d, s, 0);

			d = mk128(lo64(r), hi64(d));
		}
		xset(c, in->reg, d);
	}
}

/* 0F 2C/2D: CVT(T)PS2PI, CVT(T)PD2PI, CVT(T)SS2SI, CVT(T)SD2SI. */
static void op_cvt2c(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	bool trunc = in->opc == 0x2c;
	__m128i s, r;

	if (pfx >= P_F3) {
		bool w = in->osz == 8;
		uint64_t v;

		check_sse(c);
		s = src_x(c, in, pfx == P_F2 ? 8 : 4);
		v = sse_fp_cvt2si(c, pfx == P_F2, trunc, w, s);
		reg_set(c, in->reg, w ? 8 : 4, v);
		return;
	}
	check_mmx(c, true);
	/*
	 * Only the low two singles take part: their exceptions alone count.
	 * The MMX switch happens even when the conversion then faults.
	 */
	s = pfx == P_66 ? src_x(c, in, 16) : _mm_move_epi64(src_x(c, in, 8));
	mmx_enter(&c->fpu);
	if (pfx == P_66)
		r = sse_fp_exec(c, 0xe6, trunc ? P_66 : P_F2, 0, _mm_setzero_si128(), s, 0);
	else
		r = sse_fp_exec(c, 0x5b, trunc ? P_F3 : P_66, 0, _mm_setzero_si128(), s, 0);
	mmset(c, in->reg, lo64(r));
}

/* ---- state: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR, EMMS ---- */

static void op_fxsave(struct cpu *c, const struct x86_insn *in)
{
	struct cpu_fpu *f = &c->fpu;
	uint8_t img[CPU_FXSAVE_SIZE] __attribute__((aligned(16)));
	bool w = in->osz == 8;
	uint64_t la;

	if (c->sys.cr0 & (X86_CR0_EM | X86_CR0_TS))
		cpu_raise(c, VEC_NM, false, 0);
	la = la_of(c, in, 16);
	if (in->sub == 0) {
		cpu_fpu_save(f, img);
		if (!w) {
			/* 32-bit pointers; FCS and FDS are deprecated (stored as zero). */
			uint32_t fip = (uint32_t)f->fip, fdp = (uint32_t)f->fdp;

			memset(img + 8, 0, 16);
			memcpy(img + 8, &fip, 4);
			memcpy(img + 16, &fdp, 4);
		}
		sse_guest_write(c, la, in->seg, img, 416);
		return;
	}
	for (unsigned i = 0; i < 416; i += 16)
		mem_read_bytes(c, la + i, img + i, 16, in->seg, CPU_ACCESS_READ);
	{
		uint32_t mxcsr;
		struct cpu_fpu t;

		memcpy(&mxcsr, img + 24, 4);
		if (mxcsr & ~CPU_MXCSR_MASK)
			cpu_raise_gp0(c);
		if (!w) {
			uint64_t fip = 0, fdp = 0;

			memcpy(&fip, img + 8, 4);
			memcpy(&fdp, img + 16, 4);
			memcpy(img + 8, &fip, 8);
			memcpy(img + 16, &fdp, 8);
		}
		memcpy(t.image, img, 416);
		memset(t.image + 416, 0, CPU_FXSAVE_SIZE - 416);
		fpu_canon(&t);
		t.mxcsr_mask = CPU_MXCSR_MASK;
		*f = t;
	}
}

static void op_grp15(struct cpu *c, const struct x86_insn *in, unsigned pfx)
{
	unsigned sub = in->reg & 7;

	if (pfx != P_NONE || !is_mem(in) || sub > 3)
		cpu_raise_ud(c);
	if (sub <= 1) {
		op_fxsave(c, in);
		return;
	}
	check_sse(c);
	if (sub == 2) {
		uint32_t v = (uint32_t)mem_read(c, cpu_la(c, in), 4, in->seg);

		if (v & ~CPU_MXCSR_MASK)
			cpu_raise_gp0(c);
		c->fpu.mxcsr = v;
	} else {
		mem_write(c, cpu_la(c, in), 4, c->fpu.mxcsr, in->seg);
	}
}

static void op_emms(struct cpu *c, unsigned pfx)
{
	if (pfx != P_NONE)
		cpu_raise_ud(c);
	check_mmx(c, false);
	/* EMMS also makes TOP 0. */
	mmx_enter(&c->fpu);
	c->fpu.ftw = 0;
}

void exec_sse(struct cpu *c, const struct x86_insn *in)
{
	unsigned pfx = pfx_of(in), opc = in->opc;

	if (in->map != 1)
		unimpl(c); /* SSSE3, SSE4 */
	switch (opc) {
	case 0x10:
	case 0x11:
		op_movu(c, in, pfx);
		break;
	case 0x12:
	case 0x13:
	case 0x16:
	case 0x17:
		op_movlh(c, in, pfx);
		break;
	case 0x14:
	case 0x15:
	case 0x54 ... 0x57:
		op_fplogic(c, in, pfx);
		break;
	case 0x28:
	case 0x29:
	case 0x2b:
		op_mova(c, in, pfx);
		break;
	case 0x2a:
		op_cvt2a(c, in, pfx);
		break;
	case 0x2c:
	case 0x2d:
		op_cvt2c(c, in, pfx);
		break;
	case 0x2e:
	case 0x2f:
		op_comi(c, in, pfx);
		break;
	case 0x50:
	case 0xd7:
		op_movmsk(c, in, pfx);
		break;
	case 0x51 ... 0x53:
	case 0x58 ... 0x5f:
	case 0xc2:
	case 0xe6:
		op_fp(c, in, pfx);
		break;
	case 0x6e:
	case 0x7e:
		op_movd(c, in, pfx);
		break;
	case 0x6f:
	case 0x7f:
		op_movdq(c, in, pfx);
		break;
	case 0x70:
		op_pshuf(c, in, pfx);
		break;
	case 0x71 ... 0x73:
		op_pshift_imm(c, in, pfx);
		break;
	case 0x77:
		op_emms(c, pfx);
		break;
	case 0x7c:
	case 0x7d:
	case 0xd0:
		if (pfx == P_66 || pfx == P_F2)
			unimpl(c); /* SSE3 HADD/HSUB/ADDSUB */
		cpu_raise_ud(c);
	case 0xf0:
		if (pfx == P_F2)
			unimpl(c); /* SSE3 LDDQU */
		cpu_raise_ud(c);
	case 0xae:
		op_grp15(c, in, pfx);
		break;
	case 0xc3:
	case 0xe7:
		op_movnt(c, in, pfx);
		break;
	case 0xc4:
	case 0xc5:
		op_pinsrw(c, in, pfx);
		break;
	case 0xc6:
		op_shufp(c, in, pfx);
		break;
	case 0xd6:
		op_d6(c, in, pfx);
		break;
	case 0xf7:
		op_maskmov(c, in, pfx);
		break;
	default:
		if (pfx > P_66 || !pint_valid(opc, pfx == P_66))
			cpu_raise_ud(c);
		op_pint(c, in, pfx);
		break;
	}
}

/* ---- shape-specialised handlers for the commonest SSE2 integer forms ---- */

#define PINT_FAST(name, expr)                                                                      \
	static void name(struct cpu *c, const struct x86_insn *in)                                 \
	{                                                                                          \
		__m128i a, b;                                                                      \
                                                                                                   \
		check_sse(c);                                                                      \
		b = src_x(c, in, 16);                                                              \
		a = xget(c, in->reg);                                                              \
		xset(c, in->reg, expr);                                                            \
	}

PINT_FAST(fast_pxor, _mm_xor_si128(a, b))
PINT_FAST(fast_por, _mm_or_si128(a, b))
PINT_FAST(fast_pand, _mm_and_si128(a, b))
PINT_FAST(fast_pandn, _mm_andnot_si128(a, b))
PINT_FAST(fast_paddb, _mm_add_epi8(a, b))
PINT_FAST(fast_paddw, _mm_add_epi16(a, b))
PINT_FAST(fast_paddd, _mm_add_epi32(a, b))
PINT_FAST(fast_paddq, _mm_add_epi64(a, b))
PINT_FAST(fast_psubb, _mm_sub_epi8(a, b))
PINT_FAST(fast_psubw, _mm_sub_epi16(a, b))
PINT_FAST(fast_psubd, _mm_sub_epi32(a, b))
PINT_FAST(fast_psubq, _mm_sub_epi64(a, b))
PINT_FAST(fast_pcmpeqb, _mm_cmpeq_epi8(a, b))
PINT_FAST(fast_pcmpeqd, _mm_cmpeq_epi32(a, b))
PINT_FAST(fast_punpcklbw, _mm_unpacklo_epi8(a, b))
PINT_FAST(fast_punpcklwd, _mm_unpacklo_epi16(a, b))

/*
 * 16-byte moves (MOVAPS/MOVAPD/MOVUPS/MOVUPD/MOVDQA/MOVDQU): a register
 * copy, or a TLB hit inside one page; anything else (misaligned MOVAPS,
 * page-crossing, MMIO, TLB miss) goes to exec_sse, which raises the faults.
 */
static bool aligned_form(const struct x86_insn *in)
{
	switch (in->opc) {
	case 0x28:
	case 0x29:
		return true;
	case 0x6f:
	case 0x7f:
		return pfx_of(in) == P_66;
	default:
		return false;
	}
}

static void fast_mov128_load(struct cpu *c, const struct x86_insn *in)
{
	const struct cpu_tlb_entry *e;
	uint64_t la;

	if (!is_mem(in)) {
		check_sse(c);
		xset(c, in->reg, xget(c, in->rm));
		return;
	}
	la = cpu_la(c, in);
	e = &c->tlb[CPU_ACCESS_READ][(la >> 12) % CPU_TLB_SIZE];
	if (e->tag != (la & ~0xfffull) || (la & 0xfff) > 0x1000 - 16 ||
	    (aligned_form(in) && (la & 15))) {
		exec_sse(c, in);
		return;
	}
	check_sse(c);
	xset(c, in->reg, _mm_loadu_si128((const __m128i *)((uint8_t *)(uintptr_t)(la + e->addend))));
}

static void fast_mov128_store(struct cpu *c, const struct x86_insn *in)
{
	_Atomic uint32_t *code;
	uint8_t *p;
	uint64_t la;

	if (!is_mem(in)) {
		check_sse(c);
		xset(c, in->rm, xget(c, in->reg));
		return;
	}
	la = cpu_la(c, in);
	p = mem_wptr_fast(c, la, 16, &code);
	if (!p || (aligned_form(in) && (la & 15))) {
		exec_sse(c, in);
		return;
	}
	check_sse(c);
	_mm_storeu_si128((__m128i *)p, xget(c, in->reg));
	code_check(c, code);
}

/* 66 0F D7: PMOVMSKB r, xmm. */
static void fast_pmovmskb(struct cpu *c, const struct x86_insn *in)
{
	uint32_t v;

	check_sse(c);
	v = (uint32_t)_mm_movemask_epi8(xget(c, in->rm));
	reg_set(c, in->reg, in->osz == 8 ? 8 : 4, v);
}

/* 66 0F 70: PSHUFD (built from lanes: no wide load of narrow stores). */
static void fast_pshufd(struct cpu *c, const struct x86_insn *in)
{
	unsigned imm = in->imm & 0xff;
	union cpu_xmm s;

	check_sse(c);
	_mm_store_si128((__m128i *)&s, src_x(c, in, 16));
	xset(c, in->reg,
	     _mm_set_epi32((int)s.d[(imm >> 6) & 3], (int)s.d[(imm >> 4) & 3],
			   (int)s.d[(imm >> 2) & 3], (int)s.d[imm & 3]));
}

/* 66 (REX.W) 0F 6E from a register: MOVD/MOVQ xmm, r32/r64. */
static void fast_movd_to_x(struct cpu *c, const struct x86_insn *in)
{
	uint64_t v = c->gpr[in->rm];

	check_sse(c);
	xset(c, in->reg, _mm_cvtsi64_si128((long long)(in->osz == 8 ? v : (uint32_t)v)));
}

/* 66 (REX.W) 0F 7E to a register: MOVD/MOVQ r32/r64, xmm. */
static void fast_movd_from_x(struct cpu *c, const struct x86_insn *in)
{
	uint64_t v = lo64(xget(c, in->reg));

	check_sse(c);
	c->gpr[in->rm] = in->osz == 8 ? v : (uint32_t)v;
}

/* F2 0F 58/59/5C/5E: scalar double arithmetic under the usual MXCSR. */
static void fast_sd_arith(struct cpu *c, const struct x86_insn *in)
{
	__m128i s, d;

	if (!sse_fp_fast_ok(c)) {
		exec_sse(c, in);
		return;
	}
	check_sse(c);
	s = src_x(c, in, 8);
	d = xget(c, in->reg);
	xset(c, in->reg, sse_fp_fast_sd(c, in->opc, d, s));
}

/* F2 0F 2A: CVTSI2SD. */
static void fast_cvtsi2sd(struct cpu *c, const struct x86_insn *in)
{
	bool w = in->osz == 8;
	uint64_t v;

	if (!sse_fp_fast_ok(c)) {
		exec_sse(c, in);
		return;
	}
	check_sse(c);
	v = opnd_e_get(c, in, w ? 8 : 4);
	xset(c, in->reg, sse_fp_fast_cvtsi2sd(c, w, v, xget(c, in->reg)));
}

exec_fn exec_sse_fast_pick(const struct x86_insn *in)
{
	unsigned pfx = pfx_of(in);

	if (in->map == 1 && pfx <= P_66) {
		switch (in->opc) {
		case 0x10:
		case 0x28:
			return fast_mov128_load;
		case 0x11:
		case 0x29:
			return fast_mov128_store;
		default:
			break;
		}
	}
	if (in->map == 1 && (pfx == P_66 || pfx == P_F3)) {
		if (in->opc == 0x6f)
			return fast_mov128_load;
		if (in->opc == 0x7f)
			return fast_mov128_store;
	}
	if (in->map == 1 && pfx == P_F2) {
		switch (in->opc) {
		case 0x58:
		case 0x59:
		case 0x5c:
		case 0x5e:
			return fast_sd_arith;
		case 0x2a:
			return fast_cvtsi2sd;
		default:
			return NULL;
		}
	}
	if (in->map != 1 || pfx_of(in) != P_66)
		return NULL;
	switch (in->opc) {
	case 0xef:
		return fast_pxor;
	case 0xeb:
		return fast_por;
	case 0xdb:
		return fast_pand;
	case 0xdf:
		return fast_pandn;
	case 0xfc:
		return fast_paddb;
	case 0xfd:
		return fast_paddw;
	case 0xfe:
		return fast_paddd;
	case 0xd4:
		return fast_paddq;
	case 0xf8:
		return fast_psubb;
	case 0xf9:
		return fast_psubw;
	case 0xfa:
		return fast_psubd;
	case 0xfb:
		return fast_psubq;
	case 0x74:
		return fast_pcmpeqb;
	case 0x76:
		return fast_pcmpeqd;
	case 0x70:
		return fast_pshufd;
	case 0x6e:
		return is_mem(in) ? NULL : fast_movd_to_x;
	case 0x7e:
		return is_mem(in) ? NULL : fast_movd_from_x;
	case 0x60:
		return fast_punpcklbw;
	case 0x61:
		return fast_punpcklwd;
	case 0xd7:
		return is_mem(in) ? NULL : fast_pmovmskb;
	default:
		return NULL;
	}
}
