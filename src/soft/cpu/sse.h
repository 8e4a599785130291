/* soft/cpu/sse.h: what the x87 and SSE/MMX units share (not an API). */
#ifndef KITE_SOFT_CPU_SSE_H
#define KITE_SOFT_CPU_SSE_H

#include "soft/cpu/internal.h"

#ifndef VEC_NM
#define VEC_NM 7
#endif
#define VEC_MF 16
#define VEC_XM 19

/* An unmasked x87 exception is waiting for the next waiting instruction. */
bool x87_pending(const struct cpu_fpu *f);

/* Writes n bytes to guest memory after checking every page is writable. */
void sse_guest_write(struct cpu *c, uint64_t la, unsigned seg, const uint8_t *buf, unsigned n);

/* Brings an image to what the host's FXRSTOR then FXSAVE make of it. */
void fpu_canon(struct cpu_fpu *f);

/* sse_fp.c: floating point on the host's SSE unit (see there). */
#include <emmintrin.h>
uint32_t sse_host_csr(const struct cpu *c);
/* Merges exception flags into MXCSR, raising #XM (#UD) for unmasked ones. */
void sse_fp_flags(struct cpu *c, uint32_t flags);
/*
 * The arithmetic, compare and conversion at 0F opc with prefix index pfx
 * (0 none, 1 66, 2 F3, 3 F2); tiny is lanes * 2 + is_double of the result
 * lanes that can underflow, or 0.
 */
__m128i sse_fp_exec(struct cpu *c, unsigned opc, unsigned pfx, unsigned imm, __m128i d, __m128i s,
		    unsigned tiny);
uint64_t sse_fp_comi(struct cpu *c, bool dbl, bool sig, __m128i d, __m128i s);
uint64_t sse_fp_cvt2si(struct cpu *c, bool dbl, bool trunc, bool w, __m128i s);
__m128i sse_fp_cvtsi(struct cpu *c, bool dbl, bool w, uint64_t v, __m128i d);
/*
 * ADDSD/MULSD/SUBSD/DIVSD (opc 58/59/5C/5E) and CVTSI2SD for the usual
 * MXCSR (sse_fp_fast_ok: all exceptions masked, nearest, no FTZ/DAZ).
 */
bool sse_fp_fast_ok(const struct cpu *c);
__m128i sse_fp_fast_sd(struct cpu *c, unsigned opc, __m128i d, __m128i s);
__m128i sse_fp_fast_cvtsi2sd(struct cpu *c, bool w, uint64_t v, __m128i d);

#endif
