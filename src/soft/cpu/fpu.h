/* soft/cpu/fpu.h: x87, MMX and SSE register state of the soft CPU. */
#ifndef KITE_SOFT_CPU_FPU_H
#define KITE_SOFT_CPU_FPU_H

#include <stdint.h>

/* The architectural state FXSAVE stores; the SSE/x87 units define its use. */
struct cpu_fpu {
	uint8_t fxsave[512] __attribute__((aligned(16)));
};

#endif
