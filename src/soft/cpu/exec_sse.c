/* soft/cpu/exec_sse.c: the SSE/SSE2/MMX unit (not executed yet: #UD). */
#include "soft/cpu/internal.h"

void exec_sse(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	c->exc.unimplemented = true;
	cpu_raise_ud(c);
}
