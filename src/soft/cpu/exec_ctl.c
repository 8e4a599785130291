/* soft/cpu/exec_ctl.c: data movement, stack, control transfer and flag/misc instructions. */
#include "soft/cpu/internal.h"

void exec_mov(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;

	switch (in->form) {
	case X86_FORM_GE:
		reg_set(c, in->reg, sz, opnd_e_get(c, in, sz));
		break;
	case X86_FORM_EG:
		opnd_e_set(c, in, sz, reg_get(c, in->reg, sz));
		break;
	default:
		opnd_e_set(c, in, sz, in->imm);
		break;
	}
}

void exec_movzx(struct cpu *c, const struct x86_insn *in)
{
	reg_set(c, in->reg, in->osz, opnd_e_get(c, in, in->ssz));
}

void exec_movsx(struct cpu *c, const struct x86_insn *in)
{
	reg_set(c, in->reg, in->osz, sext(opnd_e_get(c, in, in->ssz), in->ssz));
}

void exec_lea(struct cpu *c, const struct x86_insn *in)
{
	reg_set(c, in->reg, in->osz, cpu_ea(c, in));
}

void exec_nop(struct cpu *c, const struct x86_insn *in)
{
	(void)c;
	(void)in;
}

void exec_push(struct cpu *c, const struct x86_insn *in)
{
	uint64_t v = in->form == X86_FORM_E ? opnd_e_get(c, in, in->osz) : in->imm;

	stack_push(c, in->osz, v);
}

void exec_pop(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;
	uint64_t rsp = c->gpr[X86_RSP];
	uint64_t v = mem_read(c, rsp, sz, X86_SEG_SS);

	if (in->flags & X86_F_MEM) {
		uint64_t la;

		/* An RSP-based destination is addressed after the increment. */
		c->gpr[X86_RSP] = rsp + sz;
		la = cpu_la(c, in);
		c->gpr[X86_RSP] = rsp;
		mem_write(c, la, sz, v, in->seg);
		c->gpr[X86_RSP] = rsp + sz;
		return;
	}
	c->gpr[X86_RSP] = rsp + sz;
	reg_set(c, in->rm, sz, v);
}

void exec_pushf(struct cpu *c, const struct x86_insn *in)
{
	/* The image never shows RF or VM. */
	uint64_t f = flags_get(c) & ~(uint64_t)(X86_RFLAGS_RF | X86_RFLAGS_VM);

	stack_push(c, in->osz, f);
}

void exec_popf(struct cpu *c, const struct x86_insn *in)
{
	uint64_t v = mem_read(c, c->gpr[X86_RSP], in->osz, X86_SEG_SS);
	uint64_t f = flags_get(c), mask;
	unsigned iopl = (f >> 12) & 3;

	mask = FL_ARITH | X86_RFLAGS_TF | FL_DF | X86_RFLAGS_NT | X86_RFLAGS_AC | X86_RFLAGS_ID;
	if (c->cpl == 0)
		mask |= X86_RFLAGS_IOPL | X86_RFLAGS_IF;
	else if (c->cpl <= iopl)
		mask |= X86_RFLAGS_IF;
	if (in->osz == 2)
		mask &= 0xffff;
	c->gpr[X86_RSP] += in->osz;
	c->rflags = ((f & ~mask) | (v & mask) | X86_RFLAGS_FIXED) & ~(uint64_t)X86_RFLAGS_RF;
	cpu_if_enabled(c, f, c->rflags);
	/* Single-stepping starts after the next instruction: this block's rest runs one at a time. */
	if (c->rflags & X86_RFLAGS_TF)
		cpu_block_end(c);
}

void exec_enter(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz, level = in->imm2 & 31;
	uint64_t rsp = c->gpr[X86_RSP], rbp = c->gpr[X86_RBP], frame;

	rsp -= sz;
	mem_write(c, rsp, sz, rbp, X86_SEG_SS);
	frame = rsp;
	if (level > 0) {
		for (unsigned i = 1; i < level; i++) {
			rbp -= sz;
			uint64_t v = mem_read(c, rbp, sz, X86_SEG_SS);

			rsp -= sz;
			mem_write(c, rsp, sz, v, X86_SEG_SS);
		}
		rsp -= sz;
		mem_write(c, rsp, sz, frame, X86_SEG_SS);
	}
	rsp -= in->imm & 0xffff;
	/* The host write-checks the new stack top before committing. */
	mem_probe(c, rsp, sz, X86_SEG_SS, CPU_ACCESS_WRITE);
	reg_set(c, X86_RBP, sz, frame);
	c->gpr[X86_RSP] = rsp;
}

void exec_leave(struct cpu *c, const struct x86_insn *in)
{
	uint64_t rbp = c->gpr[X86_RBP];
	uint64_t v = mem_read(c, rbp, in->osz, X86_SEG_SS);

	c->gpr[X86_RSP] = rbp + in->osz;
	reg_set(c, X86_RBP, in->osz, v);
}

/* Near branches fault on the branch itself when the target is not canonical. */
static void branch(struct cpu *c, uint64_t target)
{
	if (!is_canonical(target))
		cpu_raise_gp0(c);
	c->next_rip = target;
}

void exec_jcc(struct cpu *c, const struct x86_insn *in)
{
	if (flags_cond(c, in->sub))
		branch(c, c->next_rip + in->imm);
}

void exec_jmp(struct cpu *c, const struct x86_insn *in)
{
	branch(c, c->next_rip + in->imm);
}

/*
 * The host stores the return address before it checks the target: a #GP for
 * a non-canonical target leaves RSP alone but the stack slot written.
 */
static void call_to(struct cpu *c, uint64_t target)
{
	uint64_t rsp = c->gpr[X86_RSP] - 8;

	mem_write(c, rsp, 8, c->next_rip, X86_SEG_SS);
	if (!is_canonical(target))
		cpu_raise_gp0(c);
	c->gpr[X86_RSP] = rsp;
	c->next_rip = target;
}

void exec_call(struct cpu *c, const struct x86_insn *in)
{
	call_to(c, c->next_rip + in->imm);
}

void exec_jmpi(struct cpu *c, const struct x86_insn *in)
{
	branch(c, opnd_e_get(c, in, 8));
}

void exec_calli(struct cpu *c, const struct x86_insn *in)
{
	call_to(c, opnd_e_get(c, in, 8));
}

void exec_ret(struct cpu *c, const struct x86_insn *in)
{
	uint64_t target = mem_read(c, c->gpr[X86_RSP], 8, X86_SEG_SS);

	branch(c, target);
	c->gpr[X86_RSP] += 8 + (in->imm & 0xffff);
}

bool loop_condition(struct cpu *c, const struct x86_insn *in, uint64_t *count)
{
	uint64_t cnt = reg_get(c, X86_RCX, in->asz);
	bool take;

	if (in->sub == 3) {
		take = cnt == 0;
	} else {
		cnt = (cnt - 1) & sz_mask(in->asz);
		take = cnt != 0;
		if (in->sub == 0)
			take = take && !(flags_get(c) & FL_ZF);
		else if (in->sub == 1)
			take = take && (flags_get(c) & FL_ZF);
	}
	*count = cnt;
	return take;
}

void exec_loop(struct cpu *c, const struct x86_insn *in)
{
	uint64_t cnt;

	/* The branch may fault; rCX changes only once it has not. */
	if (loop_condition(c, in, &cnt))
		branch(c, c->next_rip + in->imm);
	if (in->sub != 3)
		reg_set(c, X86_RCX, in->asz, cnt);
}

void exec_setcc(struct cpu *c, const struct x86_insn *in)
{
	opnd_e_set(c, in, 1, flags_cond(c, in->sub));
}

void exec_cmovcc(struct cpu *c, const struct x86_insn *in)
{
	uint64_t v = opnd_e_get(c, in, in->osz);

	/* A 32-bit CMOV writes (zero-extends) its destination even when false. */
	if (!flags_cond(c, in->sub))
		v = reg_get(c, in->reg, in->osz);
	reg_set(c, in->reg, in->osz, v);
}

void exec_cbw(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;

	reg_set(c, X86_RAX, sz, sext(reg_get(c, X86_RAX, sz / 2), sz / 2));
}

void exec_cwd(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;
	bool neg = reg_get(c, X86_RAX, sz) & sz_msb(sz);

	reg_set(c, X86_RDX, sz, neg ? ~0ull : 0);
}

void exec_bswap(struct cpu *c, const struct x86_insn *in)
{
	uint64_t v = c->gpr[in->rm];

	if (in->osz == 8)
		c->gpr[in->rm] = __builtin_bswap64(v);
	else if (in->osz == 4)
		c->gpr[in->rm] = __builtin_bswap32((uint32_t)v);
	else
		reg_set(c, in->rm, 2, 0); /* undefined; the hardware clears the word */
}

void exec_flag(struct cpu *c, const struct x86_insn *in)
{
	uint64_t f = flags_get(c);

	switch (in->sub) {
	case 0:
		f &= ~(uint64_t)FL_CF;
		break;
	case 1:
		f |= FL_CF;
		break;
	case 2:
		f ^= FL_CF;
		break;
	case 3:
		f &= ~(uint64_t)FL_DF;
		break;
	default:
		f |= FL_DF;
		break;
	}
	c->rflags = f;
}

static void check_iopl(struct cpu *c)
{
	if (c->cpl > ((c->rflags >> 12) & 3))
		cpu_raise_gp0(c);
}

void exec_cli(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	check_iopl(c);
	c->rflags &= ~(uint64_t)X86_RFLAGS_IF;
}

void exec_sti(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	check_iopl(c);
	if (!(c->rflags & X86_RFLAGS_IF)) {
		c->intr_shadow = true;
		cpu_if_enabled(c, 0, X86_RFLAGS_IF);
	}
	c->rflags |= X86_RFLAGS_IF;
}

void exec_lahf(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	reg_set(c, X86_REG_HIGH8 + X86_RAX, 1, (flags_get(c) & 0xd5) | X86_RFLAGS_FIXED);
}

void exec_sahf(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	flags_put(c, FL_SF | FL_ZF | FL_AF | FL_PF | FL_CF, c->gpr[X86_RAX] >> 8);
}

void exec_xlat(struct cpu *c, const struct x86_insn *in)
{
	uint64_t ea = c->gpr[X86_RBX] + (c->gpr[X86_RAX] & 0xff);

	if (in->asz == 4)
		ea = (uint32_t)ea;
	else if (in->asz == 2)
		ea = (uint16_t)ea;
	reg_set(c, X86_RAX, 1, mem_read(c, ea + cpu_seg_base(c, in->seg), 1, in->seg));
}

void exec_cpuid(struct cpu *c, const struct x86_insn *in)
{
	uint32_t r[4];

	(void)in;
	c->ops->cpuid(c->opaque, (uint32_t)c->gpr[X86_RAX], (uint32_t)c->gpr[X86_RCX], r);
	c->gpr[X86_RAX] = r[0];
	c->gpr[X86_RBX] = r[1];
	c->gpr[X86_RCX] = r[2];
	c->gpr[X86_RDX] = r[3];
}

void exec_rdtsc(struct cpu *c, const struct x86_insn *in)
{
	uint64_t t;

	(void)in;
	if (c->cpl != 0 && (c->sys.cr4 & X86_CR4_TSD))
		cpu_raise_gp0(c);
	t = c->ops->rdtsc(c->opaque);
	c->gpr[X86_RAX] = (uint32_t)t;
	c->gpr[X86_RDX] = t >> 32;
}

static uint64_t bswap_sz(uint64_t v, unsigned sz)
{
	if (sz == 2)
		return __builtin_bswap16((uint16_t)v);
	if (sz == 4)
		return __builtin_bswap32((uint32_t)v);
	return __builtin_bswap64(v);
}

void exec_movbe(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;

	if (in->form == X86_FORM_GE)
		reg_set(c, in->reg, sz, bswap_sz(opnd_e_get(c, in, sz), sz));
	else
		opnd_e_set(c, in, sz, bswap_sz(reg_get(c, in->reg, sz), sz));
}

void exec_int3(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	/* A software interrupt: the gate's DPL is checked like INT n's. */
	cpu_raise_trap(c, VEC_BP, CPU_EXC_SOFT);
}

void exec_int(struct cpu *c, const struct x86_insn *in)
{
	cpu_raise_trap(c, in->imm & 0xff, CPU_EXC_SOFT);
}
