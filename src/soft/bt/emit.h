/*
 * soft/bt/emit.h: a small x86-64 encoder for the translator: the few forms
 * it writes itself (moves to and from the vCPU context at %gs, LEA, the
 * flag-free shifts of BMI2, branches). Guest instructions are re-encoded in
 * translate.c from their own bytes.
 */
#ifndef KITE_SOFT_BT_EMIT_H
#define KITE_SOFT_BT_EMIT_H

#include <stdbool.h>
#include <stdint.h>

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
#define NOREG 0xffu

/* Where code is written (the cache's writable view); offsets count from base. */
struct emit {
	uint8_t *base, *p, *end;
	bool overflow;
};

static inline uint32_t e_pos(const struct emit *e)
{
	return (uint32_t)(e->p - e->base);
}

static inline void b1(struct emit *e, unsigned v)
{
	if (e->p < e->end)
		*e->p++ = (uint8_t)v;
	else
		e->overflow = true;
}

static inline void b4(struct emit *e, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		b1(e, v >> (8 * i));
}

static inline void b8(struct emit *e, uint64_t v)
{
	b4(e, (uint32_t)v);
	b4(e, (uint32_t)(v >> 32));
}

/* Rewrites the rel32 at offset at so that it reaches offset target. */
static inline void e_patch(struct emit *e, uint32_t at, uint32_t target)
{
	uint32_t rel = target - (at + 4);

	for (unsigned i = 0; i < 4; i++)
		e->base[at + i] = (uint8_t)(rel >> (8 * i));
}

/* Instruction flags for e_rr/e_rm. */
#define E_W    1u /* REX.W */
#define E_GS   2u /* %gs segment override: the vCPU context */
#define E_66   4u /* operand-size prefix */
#define E_REX  8u /* a REX even with no bit set (SPL..DIL byte registers) */
#define E_67   16u /* address-size prefix: 32-bit addressing */

static inline void e_pfx(struct emit *e, unsigned fl, unsigned reg, unsigned index, unsigned base)
{
	unsigned rex = (fl & E_W ? 8 : 0) | (reg & 8 ? 4 : 0) | (index != NOREG && (index & 8) ? 2 : 0) |
		       (base != NOREG && (base & 8) ? 1 : 0);

	if (fl & E_GS)
		b1(e, 0x65);
	if (fl & E_67)
		b1(e, 0x67);
	if (fl & E_66)
		b1(e, 0x66);
	if (rex || (fl & E_REX))
		b1(e, 0x40 | rex);
}

/* Opcode of oplen bytes, most significant first. */
static inline void e_opc(struct emit *e, uint32_t op, unsigned oplen)
{
	for (unsigned i = oplen; i-- > 0;)
		b1(e, op >> (8 * i));
}

/* op reg, rm (both registers; reg may be an opcode extension). */
static inline void e_rr(struct emit *e, unsigned fl, uint32_t op, unsigned oplen, unsigned reg,
			unsigned rm)
{
	e_pfx(e, fl, reg, NOREG, rm);
	e_opc(e, op, oplen);
	b1(e, 0xc0 | (reg & 7) << 3 | (rm & 7));
}

/* The ModRM/SIB/displacement of [base + index << scale + disp]; base NOREG: absolute. */
static inline void e_modrm_mem(struct emit *e, unsigned reg, unsigned base, unsigned index,
			       unsigned scale, int32_t disp)
{
	unsigned r = (reg & 7) << 3, mod;

	if (base == NOREG) {
		b1(e, 0x04 | r);
		b1(e, scale << 6 | (index == NOREG ? 4 : index & 7) << 3 | 5);
		b4(e, (uint32_t)disp);
		return;
	}
	mod = (disp == 0 && (base & 7) != 5) ? 0 : (disp >= -128 && disp <= 127) ? 1 : 2;
	if (index != NOREG || (base & 7) == 4) {
		b1(e, mod << 6 | r | 4);
		b1(e, scale << 6 | (index == NOREG ? 4 : index & 7) << 3 | (base & 7));
	} else {
		b1(e, mod << 6 | r | (base & 7));
	}
	if (mod == 1)
		b1(e, (uint8_t)disp);
	else if (mod == 2)
		b4(e, (uint32_t)disp);
}

/* op reg, [base + index << scale + disp]. */
static inline void e_rm(struct emit *e, unsigned fl, uint32_t op, unsigned oplen, unsigned reg,
			unsigned base, unsigned index, unsigned scale, int32_t disp)
{
	e_pfx(e, fl, reg, index, base);
	e_opc(e, op, oplen);
	e_modrm_mem(e, reg, base, index, scale, disp);
}

/* mov r64, gs:[off] and back. */
static inline void e_ld(struct emit *e, unsigned r, int32_t off)
{
	e_rm(e, E_W | E_GS, 0x8b, 1, r, NOREG, NOREG, 0, off);
}

static inline void e_st(struct emit *e, int32_t off, unsigned r)
{
	e_rm(e, E_W | E_GS, 0x89, 1, r, NOREG, NOREG, 0, off);
}

/* mov dword gs:[off], imm32. */
static inline void e_st32i(struct emit *e, int32_t off, uint32_t imm)
{
	e_rm(e, E_GS, 0xc7, 1, 0, NOREG, NOREG, 0, off);
	b4(e, imm);
}

/* mov dst, src (64-bit). */
static inline void e_mov(struct emit *e, unsigned dst, unsigned src)
{
	e_rr(e, E_W, 0x89, 1, src, dst);
}

static inline void e_movi64(struct emit *e, unsigned r, uint64_t imm)
{
	e_pfx(e, E_W, 0, NOREG, r);
	b1(e, 0xb8 + (r & 7));
	b8(e, imm);
}

/* mov r32, imm32 (zero-extends; touches no flags). */
static inline void e_movi32(struct emit *e, unsigned r, uint32_t imm)
{
	e_pfx(e, 0, 0, NOREG, r);
	b1(e, 0xb8 + (r & 7));
	b4(e, imm);
}

/* lea dst, [base + index << scale + disp] (64-bit). */
static inline void e_lea(struct emit *e, unsigned dst, unsigned base, unsigned index,
			 unsigned scale, int32_t disp)
{
	e_rm(e, E_W, 0x8d, 1, dst, base, index, scale, disp);
}

/* BMI2 SHLX/SHRX dst, src, cnt (64-bit; no flags). pp: 1 SHLX, 3 SHRX. */
static inline void e_shx(struct emit *e, unsigned pp, unsigned dst, unsigned src, unsigned cnt)
{
	b1(e, 0xc4);
	b1(e, ((dst & 8) ? 0 : 0x80) | 0x40 | ((src & 8) ? 0 : 0x20) | 0x02);
	b1(e, 0x80 | ((~cnt & 15) << 3) | pp);
	b1(e, 0xf7);
	b1(e, 0xc0 | (dst & 7) << 3 | (src & 7));
}
#define SHLX 1
#define SHRX 3

/* BMI2 RORX dst, src, imm (64-bit; no flags). */
static inline void e_rorx(struct emit *e, unsigned dst, unsigned src, unsigned imm)
{
	b1(e, 0xc4);
	b1(e, ((dst & 8) ? 0 : 0x80) | 0x40 | ((src & 8) ? 0 : 0x20) | 0x03);
	b1(e, 0xfb);
	b1(e, 0xf0);
	b1(e, 0xc0 | (dst & 7) << 3 | (src & 7));
	b1(e, imm);
}

/* jmp rel32 / jcc rel32 / call rel32 to offset target; return the rel32's offset. */
static inline uint32_t e_jmp(struct emit *e, uint32_t target)
{
	uint32_t at;

	b1(e, 0xe9);
	at = e_pos(e);
	b4(e, target - (at + 4));
	return at;
}

static inline uint32_t e_jcc(struct emit *e, unsigned cc, uint32_t target)
{
	uint32_t at;

	b1(e, 0x0f);
	b1(e, 0x80 + cc);
	at = e_pos(e);
	b4(e, target - (at + 4));
	return at;
}

static inline uint32_t e_call(struct emit *e, uint32_t target)
{
	uint32_t at;

	b1(e, 0xe8);
	at = e_pos(e);
	b4(e, target - (at + 4));
	return at;
}

static inline void e_push_reg(struct emit *e, unsigned r)
{
	if (r & 8)
		b1(e, 0x41);
	b1(e, 0x50 + (r & 7));
}

static inline void e_pop_reg(struct emit *e, unsigned r)
{
	if (r & 8)
		b1(e, 0x41);
	b1(e, 0x58 + (r & 7));
}

/* jrcxz over the next instruction when it is n bytes long. */
static inline void e_jrcxz(struct emit *e, unsigned n)
{
	b1(e, 0xe3);
	b1(e, n);
}

#endif
