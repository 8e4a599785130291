/* soft/cpu/fpu.c: x87/SSE state reset, load and store as FXSAVE images. */
#include <errno.h>
#include <string.h>

#include "soft/cpu/sse.h"

/* The image bytes FXSAVE writes: legacy header, ST0-7, XMM0-15. */
#define FXSAVE_USED 416u

void cpu_fpu_reset(struct cpu_fpu *f)
{
	memset(f, 0, sizeof(*f));
	f->fcw = CPU_FCW_DEFAULT;
	f->mxcsr = CPU_MXCSR_DEFAULT;
	f->mxcsr_mask = CPU_MXCSR_MASK;
}

void fpu_canon(struct cpu_fpu *f)
{
	uint32_t hcsr;

	f->mxcsr &= CPU_MXCSR_MASK;
	__asm__ volatile("stmxcsr %[h]\n\t"
			 "fxrstor64 %[fx]\n\t"
			 "fxsave64 %[fx]\n\t"
			 "fninit\n\t"
			 "ldmxcsr %[h]"
			 : [fx] "+m"(*f), [h] "=m"(hcsr)
			 :
			 : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
			   "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

int cpu_fpu_load(struct cpu_fpu *f, const uint8_t image[CPU_FXSAVE_SIZE])
{
	uint32_t mxcsr;

	memcpy(&mxcsr, image + 24, 4);
	if (mxcsr & ~CPU_MXCSR_MASK)
		return -EINVAL;
	memcpy(f->image, image, FXSAVE_USED);
	memset(f->image + FXSAVE_USED, 0, CPU_FXSAVE_SIZE - FXSAVE_USED);
	fpu_canon(f);
	f->mxcsr_mask = CPU_MXCSR_MASK;
	return 0;
}

void cpu_fpu_save(const struct cpu_fpu *f, uint8_t image[CPU_FXSAVE_SIZE])
{
	memcpy(image, f->image, FXSAVE_USED);
	memcpy(image + 28, &(uint32_t){CPU_MXCSR_MASK}, 4);
	memset(image + FXSAVE_USED, 0, CPU_FXSAVE_SIZE - FXSAVE_USED);
}
