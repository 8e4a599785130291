/* soft/cpu/sse_fp.c: SSE/SSE2 floating point, computed by the host's own SSE unit under the guest MXCSR. */
#include <emmintrin.h>

#include "soft/cpu/sse.h"

/*
 * Each operation runs as the host instruction with the guest's rounding,
 * FTZ and DAZ and every exception masked, so results and flags are the
 * host's (bit-exact by construction) and the host never traps. An unmasked
 * guest exception is then derived from the flags: pre-computation ones
 * (invalid, denormal, divide) report only themselves; post-computation ones
 * (overflow, underflow, precision) report every flag raised, but next to an
 * unmasked overflow or underflow nothing is rounded to the destination
 * format and PE says whether the result is exact at unbounded exponent. Underflow
 * unmasked also fires on exact tiny results, which the masked run does not
 * flag: those are the denormal results of an operation that can underflow,
 * computed with FTZ off (FTZ only acts while underflow is masked).
 */

#define MX_IE  0x01u
#define MX_DE  0x02u
#define MX_ZE  0x04u
#define MX_OE  0x08u
#define MX_UE  0x10u
#define MX_PE  0x20u
#define MX_PRE (MX_IE | MX_DE | MX_ZE)
#define MX_FTZ 0x8000u

#define K(opc, pfx) ((opc) << 2 | (pfx))

/* insn is "name" or "name $imm,": the template appends " src, dst". */
#define HF(insn)                                                                                   \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" insn " %[s], %[d]\n\t"                  \
			 "stmxcsr %[g]\n\tldmxcsr %[h]"                                             \
			 : [d] "+x"(d), [g] "+m"(*csr), [h] "=m"(hcsr)                              \
			 : [s] "x"(s))

#define FP4(opc, a, b, c, e)                                                                       \
	case K(opc, 0):                                                                            \
		HF(a);                                                                             \
		break;                                                                             \
	case K(opc, 1):                                                                            \
		HF(b);                                                                             \
		break;                                                                             \
	case K(opc, 2):                                                                            \
		HF(c);                                                                             \
		break;                                                                             \
	case K(opc, 3):                                                                            \
		HF(e);                                                                             \
		break;

#define CMP8(name)                                                                                 \
	switch (imm & 7) {                                                                         \
	case 0:                                                                                    \
		HF(name " $0,");                                                                   \
		break;                                                                             \
	case 1:                                                                                    \
		HF(name " $1,");                                                                   \
		break;                                                                             \
	case 2:                                                                                    \
		HF(name " $2,");                                                                   \
		break;                                                                             \
	case 3:                                                                                    \
		HF(name " $3,");                                                                   \
		break;                                                                             \
	case 4:                                                                                    \
		HF(name " $4,");                                                                   \
		break;                                                                             \
	case 5:                                                                                    \
		HF(name " $5,");                                                                   \
		break;                                                                             \
	case 6:                                                                                    \
		HF(name " $6,");                                                                   \
		break;                                                                             \
	default:                                                                                   \
		HF(name " $7,");                                                                   \
		break;                                                                             \
	}

/* The host operation for key K(opc, pfx); d is the destination. */
static __m128i fp_host(unsigned key, unsigned imm, __m128i d, __m128i s, uint32_t *csr)
{
	uint32_t hcsr;

	switch (key) {
		FP4(0x51, "sqrtps", "sqrtpd", "sqrtss", "sqrtsd")
		FP4(0x58, "addps", "addpd", "addss", "addsd")
		FP4(0x59, "mulps", "mulpd", "mulss", "mulsd")
		FP4(0x5a, "cvtps2pd", "cvtpd2ps", "cvtss2sd", "cvtsd2ss")
		FP4(0x5c, "subps", "subpd", "subss", "subsd")
		FP4(0x5d, "minps", "minpd", "minss", "minsd")
		FP4(0x5e, "divps", "divpd", "divss", "divsd")
		FP4(0x5f, "maxps", "maxpd", "maxss", "maxsd")
	case K(0x52, 0):
		HF("rsqrtps");
		break;
	case K(0x52, 2):
		HF("rsqrtss");
		break;
	case K(0x53, 0):
		HF("rcpps");
		break;
	case K(0x53, 2):
		HF("rcpss");
		break;
	case K(0x5b, 0):
		HF("cvtdq2ps");
		break;
	case K(0x5b, 1):
		HF("cvtps2dq");
		break;
	case K(0x5b, 2):
		HF("cvttps2dq");
		break;
	case K(0xe6, 1):
		HF("cvttpd2dq");
		break;
	case K(0xe6, 2):
		HF("cvtdq2pd");
		break;
	case K(0xe6, 3):
		HF("cvtpd2dq");
		break;
	case K(0xc2, 0):
		CMP8("cmpps");
		break;
	case K(0xc2, 1):
		CMP8("cmppd");
		break;
	case K(0xc2, 2):
		CMP8("cmpss");
		break;
	case K(0xc2, 3):
		CMP8("cmpsd");
		break;
	default:
		break;
	}
	return d;
}

static bool is_tiny(__m128i v, unsigned tiny)
{
	union cpu_xmm x;
	unsigned lanes = tiny >> 1;

	_mm_store_si128((__m128i *)&x, v);
	for (unsigned i = 0; i < lanes; i++) {
		if (tiny & 1) {
			if (!(x.q[i] & 0x7ff0000000000000ull) && (x.q[i] & 0xfffffffffffffull))
				return true;
		} else if (!(x.d[i] & 0x7f800000u) && (x.d[i] & 0x7fffffu)) {
			return true;
		}
	}
	return false;
}

/*
 * Whether op (0F 58 add, 59 mul, 5C sub, 5E div, 5A narrowing) would be
 * inexact with an unbounded exponent: what PE reports next to an unmasked
 * overflow or underflow, as the hardware then rounds nothing to the
 * destination format. Worked out on integer mantissas.
 */
struct fpv {
	int cls; /* 0 zero, 1 finite, 2 infinity/NaN */
	int neg, exp;
	uint64_t mant; /* value = mant * 2^exp */
};

static struct fpv fp_unpack(uint64_t bits, bool dbl, bool daz)
{
	unsigned p = dbl ? 52 : 23, emax = dbl ? 0x7ff : 0xff, bias = dbl ? 1023 : 127;
	unsigned e = (unsigned)(bits >> p) & emax;
	struct fpv v = {.neg = (int)(bits >> (dbl ? 63 : 31)) & 1,
			.mant = bits & ((1ull << p) - 1)};

	if (e == emax) {
		v.cls = 2;
	} else if (e == 0) {
		v.cls = (v.mant && !daz) ? 1 : 0;
		v.exp = 1 - (int)bias - (int)p;
	} else {
		v.cls = 1;
		v.mant |= 1ull << p;
		v.exp = (int)e - (int)bias - (int)p;
	}
	return v;
}

static unsigned ctz128(unsigned __int128 v)
{
	uint64_t lo = (uint64_t)v;

	return lo ? (unsigned)__builtin_ctzll(lo) : 64 + (unsigned)__builtin_ctzll((uint64_t)(v >> 64));
}

/* Significant bits of a nonzero integer. */
static unsigned span128(unsigned __int128 v)
{
	uint64_t hi = (uint64_t)(v >> 64);
	unsigned bits = hi ? 128 - (unsigned)__builtin_clzll(hi)
			   : 64 - (unsigned)__builtin_clzll((uint64_t)v);

	return bits - ctz128(v);
}

static bool lane_inexact(unsigned opc, uint64_t da, uint64_t sb, bool dbl, bool daz)
{
	unsigned prec = dbl ? 53 : 24;
	struct fpv a = fp_unpack(da, dbl, daz), b = fp_unpack(sb, dbl, daz);
	if (opc == 0x5a) /* narrowing double to single: the source is b */
		return b.cls == 1 && span128(b.mant) > 24;
	if (a.cls != 1 || b.cls != 1)
		return false;
	switch (opc) {
	case 0x59:
		return span128((unsigned __int128)a.mant * b.mant) > prec;
	case 0x5e: {
		uint64_t oa = a.mant >> __builtin_ctzll(a.mant), ob = b.mant >> __builtin_ctzll(b.mant);

		return oa % ob || span128(oa / ob) > prec;
	}
	default: { /* 0x58 add, 0x5c sub */
		int nb = b.neg ^ (opc == 0x5c), nhi = a.neg, nlo = nb;
		struct fpv hi = a, lo = b;
		__int128 sum;

		if (a.exp < b.exp) {
			hi = b;
			lo = a;
			nhi = nb;
			nlo = a.neg;
		}
		/* An addend below an ulp of the other leaves bits behind. */
		if (hi.exp - lo.exp > 64)
			return true;
		sum = (__int128)((unsigned __int128)hi.mant << (hi.exp - lo.exp));
		sum = nhi == nlo ? sum + (__int128)lo.mant : sum - (__int128)lo.mant;
		if (sum < 0)
			sum = -sum;
		return sum && span128((unsigned __int128)sum) > prec;
	}
	}
	return false;
}

/* MXCSR for a host run: the guest's controls, every exception masked, no flags. */
uint32_t sse_host_csr(const struct cpu *c)
{
	uint32_t g = c->fpu.mxcsr;

	if (!(g & (MX_UE << 7)))
		g &= ~MX_FTZ;
	return (g & ~0x3fu) | 0x1f80u;
}

void sse_fp_flags(struct cpu *c, uint32_t fl)
{
	uint32_t unmasked = ~(c->fpu.mxcsr >> 7) & 0x3f;

	fl &= 0x3f;
	if (fl & unmasked) {
		if (fl & unmasked & MX_PRE)
			fl &= MX_PRE;
		c->fpu.mxcsr |= fl;
		if (!(c->sys.cr4 & X86_CR4_OSXMMEXCPT))
			cpu_raise_ud(c);
		cpu_raise(c, VEC_XM, false, 0);
	}
	c->fpu.mxcsr |= fl;
}

/* PE for an unmasked overflow/underflow: any lane inexact with an unbounded exponent. */
static bool any_inexact(unsigned opc, unsigned tiny, bool daz, __m128i d, __m128i s)
{
	union cpu_xmm a, b;
	bool dbl = opc == 0x5a || (tiny & 1);
	unsigned lanes = tiny >> 1;

	_mm_store_si128((__m128i *)&a, d);
	_mm_store_si128((__m128i *)&b, s);
	for (unsigned i = 0; i < lanes; i++) {
		uint64_t x = dbl ? a.q[i] : a.d[i], y = dbl ? b.q[i] : b.d[i];

		if (lane_inexact(opc, x, y, dbl, daz))
			return true;
	}
	return false;
}

__m128i sse_fp_exec(struct cpu *c, unsigned opc, unsigned pfx, unsigned imm, __m128i d, __m128i s,
		    unsigned tiny)
{
	uint32_t csr = sse_host_csr(c), fl, unmasked = ~(c->fpu.mxcsr >> 7) & 0x3f;
	__m128i r = fp_host(K(opc, pfx), imm, d, s, &csr);

	fl = csr & 0x3f;
	if (tiny && (unmasked & MX_UE) && is_tiny(r, tiny))
		fl |= MX_UE;
	if (tiny && (fl & unmasked & (MX_OE | MX_UE)) && !(fl & unmasked & MX_PRE)) {
		fl &= ~MX_PE;
		if (any_inexact(opc, tiny, c->fpu.mxcsr & 0x40, d, s))
			fl |= MX_PE;
	}
	sse_fp_flags(c, fl);
	return r;
}

/* COMISS/UCOMISS/COMISD/UCOMISD: the EFLAGS image (ZF PF CF). */
uint64_t sse_fp_comi(struct cpu *c, bool dbl, bool sig, __m128i d, __m128i s)
{
	uint32_t csr = sse_host_csr(c), hcsr, *pcsr = &csr;
	bool zf, pf, cf;

#define HC(insn)                                                                                   \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" insn " %[s], %[d]\n\t"                  \
			 "stmxcsr %[g]\n\tldmxcsr %[h]"                                             \
			 : "=@ccz"(zf), "=@ccp"(pf), "=@ccc"(cf), [g] "+m"(*pcsr), [h] "=m"(hcsr)   \
			 : [s] "x"(s), [d] "x"(d))
	if (dbl && sig)
		HC("comisd");
	else if (dbl)
		HC("ucomisd");
	else if (sig)
		HC("comiss");
	else
		HC("ucomiss");
#undef HC
	sse_fp_flags(c, csr);
	return (zf ? X86_RFLAGS_ZF : 0) | (pf ? X86_RFLAGS_PF : 0) | (cf ? X86_RFLAGS_CF : 0);
}

/* CVT(T)SS2SI/CVT(T)SD2SI to a 32- or 64-bit integer. */
uint64_t sse_fp_cvt2si(struct cpu *c, bool dbl, bool trunc, bool w, __m128i s)
{
	uint32_t csr = sse_host_csr(c), hcsr, *pcsr = &csr;
	uint64_t r;

#define HI(insn, mod)                                                                              \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" insn " %[s], %" mod "[r]\n\t"           \
			 "stmxcsr %[g]\n\tldmxcsr %[h]"                                             \
			 : [r] "=r"(r), [g] "+m"(*pcsr), [h] "=m"(hcsr)                             \
			 : [s] "x"(s))
	switch ((dbl ? 4 : 0) | (trunc ? 2 : 0) | (w ? 1 : 0)) {
	case 0:
		HI("cvtss2si", "k");
		r = (uint32_t)r;
		break;
	case 1:
		HI("cvtss2si", "q");
		break;
	case 2:
		HI("cvttss2si", "k");
		r = (uint32_t)r;
		break;
	case 3:
		HI("cvttss2si", "q");
		break;
	case 4:
		HI("cvtsd2si", "k");
		r = (uint32_t)r;
		break;
	case 5:
		HI("cvtsd2si", "q");
		break;
	case 6:
		HI("cvttsd2si", "k");
		r = (uint32_t)r;
		break;
	default:
		HI("cvttsd2si", "q");
		break;
	}
#undef HI
	sse_fp_flags(c, csr);
	return r;
}

/* CVTSI2SS/CVTSI2SD from a 32- or 64-bit integer into d's low element. */
__m128i sse_fp_cvtsi(struct cpu *c, bool dbl, bool w, uint64_t v, __m128i d)
{
	uint32_t csr = sse_host_csr(c), hcsr, *pcsr = &csr;
	uint32_t v32 = (uint32_t)v;

#define HS(insn, src)                                                                              \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" insn " %[s], %[d]\n\t"                  \
			 "stmxcsr %[g]\n\tldmxcsr %[h]"                                             \
			 : [d] "+x"(d), [g] "+m"(*pcsr), [h] "=m"(hcsr)                             \
			 : [s] "r"(src))
	if (dbl && w)
		HS("cvtsi2sdq", v);
	else if (dbl)
		HS("cvtsi2sdl", v32);
	else if (w)
		HS("cvtsi2ssq", v);
	else
		HS("cvtsi2ssl", v32);
#undef HS
	sse_fp_flags(c, csr);
	return d;
}

/*
 * The usual guest MXCSR: every exception masked, round to nearest, neither
 * FTZ nor DAZ, which are the host's own controls. Then the host MXCSR can
 * carry the guest's flags between operations: loaded only when it holds a
 * flag the guest has not (the engine's own code may have raised one), and
 * each operation costs one STMXCSR instead of two MXCSR round trips.
 */
#define MX_DEFAULT 0x1f80u

bool sse_fp_fast_ok(const struct cpu *c)
{
	return (c->fpu.mxcsr & ~0x3fu) == MX_DEFAULT;
}

static inline void fast_enter(const struct cpu *c)
{
	uint32_t h, g = c->fpu.mxcsr & 0x3f;

	__asm__ volatile("stmxcsr %0" : "=m"(h));
	if ((h & ~0x3fu) != MX_DEFAULT || (h & 0x3f & ~g)) {
		h = MX_DEFAULT | g;
		__asm__ volatile("ldmxcsr %0" : : "m"(h));
	}
}

#define FAST_SD(insn)                                                                              \
	__asm__ volatile(insn " %[s], %[d]\n\tstmxcsr %[h]" : [d] "+x"(d), [h] "=m"(h) : [s] "x"(s))

__m128i sse_fp_fast_sd(struct cpu *c, unsigned opc, __m128i d, __m128i s)
{
	uint32_t h;

	fast_enter(c);
	switch (opc) {
	case 0x58:
		FAST_SD("addsd");
		break;
	case 0x59:
		FAST_SD("mulsd");
		break;
	case 0x5c:
		FAST_SD("subsd");
		break;
	default:
		FAST_SD("divsd");
		break;
	}
	c->fpu.mxcsr |= h & 0x3f;
	return d;
}

__m128i sse_fp_fast_cvtsi2sd(struct cpu *c, bool w, uint64_t v, __m128i d)
{
	uint32_t h, v32 = (uint32_t)v;

	fast_enter(c);
	if (w)
		__asm__ volatile("cvtsi2sdq %[s], %[d]\n\tstmxcsr %[h]"
				 : [d] "+x"(d), [h] "=m"(h)
				 : [s] "r"(v));
	else
		__asm__ volatile("cvtsi2sdl %[s], %[d]\n\tstmxcsr %[h]"
				 : [d] "+x"(d), [h] "=m"(h)
				 : [s] "r"(v32));
	c->fpu.mxcsr |= h & 0x3f;
	return d;
}
