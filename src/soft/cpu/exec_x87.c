/* soft/cpu/exec_x87.c: the x87 unit (not executed yet: #UD). */
#include "soft/cpu/internal.h"

void exec_x87(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	c->exc.unimplemented = true;
	cpu_raise_ud(c);
}
