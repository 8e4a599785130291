/* soft/cpu/fpu.h: x87, MMX and SSE register state of the soft CPU. */
#ifndef KITE_SOFT_CPU_FPU_H
#define KITE_SOFT_CPU_FPU_H

#include <stdint.h>

/* MXCSR bits a guest may set: flags, masks, rounding, FTZ and DAZ. */
#define CPU_MXCSR_MASK	  0xffffu
#define CPU_MXCSR_DEFAULT 0x1f80u
#define CPU_FCW_DEFAULT	  0x037fu
#define CPU_FXSAVE_SIZE	  512u

union cpu_xmm {
	uint8_t b[16];
	uint16_t w[8];
	uint32_t d[4];
	uint64_t q[2];
} __attribute__((aligned(16)));

/* One x87 register slot as FXSAVE lays it out (MMX uses the mantissa). */
struct cpu_x87_reg {
	uint64_t mant;
	uint16_t exp;
	uint16_t pad[3];
};

/*
 * The state is kept exactly as a 64-bit FXSAVE (REX.W) image: the x87 unit
 * hands it to the host's FXRSTOR as is, guest FXSAVE/FXRSTOR are copies, and
 * a snapshot can store it as one blob. The x87 registers are in stack order
 * (slot i is ST(i)); MMn is physical register n, slot (n - TOP) & 7. Invariant:
 * mxcsr has no bits outside CPU_MXCSR_MASK (the host would fault on them).
 */
struct cpu_fpu {
	union {
		uint8_t image[CPU_FXSAVE_SIZE];
		struct {
			uint16_t fcw, fsw;
			uint8_t ftw; /* abridged: bit n set = physical register n not empty */
			uint8_t rsvd0;
			uint16_t fop;
			uint64_t fip, fdp;
			uint32_t mxcsr, mxcsr_mask;
			struct cpu_x87_reg st[8];
			union cpu_xmm xmm[16];
		};
	};
} __attribute__((aligned(16)));

/*
 * Where FNSTENV/FNSAVE put the last-instruction pointers (protected-mode
 * formats, 32- and 16-bit operand size; the 16-bit one has no FOP).
 */
#define CPU_ENV32_FIP 12
#define CPU_ENV32_FOP 18 /* bits 0-10 of the word above FCS */
#define CPU_ENV32_FDP 20
#define CPU_ENV16_FIP 6
#define CPU_ENV16_FDP 10

/* The FNINIT state plus MXCSR 0x1f80 and zeroed registers (power-on). */
void cpu_fpu_reset(struct cpu_fpu *f);

/*
 * Loads a 64-bit FXSAVE image; returns 0, or -EINVAL (state unchanged) when
 * its MXCSR has reserved bits set, as FXRSTOR would fault.
 */
int cpu_fpu_load(struct cpu_fpu *f, const uint8_t image[CPU_FXSAVE_SIZE]);
/* Stores the state as a 64-bit FXSAVE image (MXCSR_MASK filled, bytes 416.. zero). */
void cpu_fpu_save(const struct cpu_fpu *f, uint8_t image[CPU_FXSAVE_SIZE]);

/*
 * CPUID.1:EDX bits the x87/MMX/SSE units execute completely: FPU, MMX, FXSR,
 * SSE, SSE2 (soft/cpuid.c advertises them). SSE3 and later stay clear.
 */
#define CPU_FPU_FEAT_1_EDX ((1u << 0) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26))

#endif
