/* soft/cpu/exec_legacy.c: 16/32-bit code: stack and near branches, and legacy-only instructions. */
#include "soft/cpu/internal.h"

static uint64_t ip_mask(unsigned osz)
{
	return osz == 2 ? 0xffffull : 0xffffffffull;
}

static void push1(struct cpu *c, unsigned sz, uint64_t v)
{
	struct stk k;

	stk_init(c, &k);
	stk_push(c, &k, sz, v);
	stk_commit(c, &k);
}

void exec_lpush(struct cpu *c, const struct x86_insn *in)
{
	uint64_t v = in->form == X86_FORM_E ? opnd_e_get(c, in, in->osz) : in->imm;

	push1(c, in->osz, v);
}

void exec_lpop(struct cpu *c, const struct x86_insn *in)
{
	uint64_t old = c->gpr[X86_RSP], v;
	struct stk k;

	stk_init(c, &k);
	v = stk_pop(c, &k, in->osz);
	if (in->flags & X86_F_MEM) {
		uint64_t la;

		/* An ESP-based destination is addressed after the increment. */
		stk_commit(c, &k);
		la = cpu_la(c, in);
		c->gpr[X86_RSP] = old;
		mem_write(c, la, in->osz, v, in->seg);
		stk_commit(c, &k);
		return;
	}
	stk_commit(c, &k);
	reg_set(c, in->rm, in->osz, v);
}

void exec_lpushf(struct cpu *c, const struct x86_insn *in)
{
	uint64_t f = flags_get(c) & ~(uint64_t)(X86_RFLAGS_RF | X86_RFLAGS_VM);

	push1(c, in->osz, f);
}

void exec_lpopf(struct cpu *c, const struct x86_insn *in)
{
	uint64_t f = flags_get(c), v, mask;
	unsigned iopl = (f >> 12) & 3;
	struct stk k;

	stk_init(c, &k);
	v = stk_pop(c, &k, in->osz);
	mask = FL_ARITH | X86_RFLAGS_TF | FL_DF | X86_RFLAGS_NT | X86_RFLAGS_AC | X86_RFLAGS_ID;
	if (c->cpl == 0)
		mask |= X86_RFLAGS_IOPL | X86_RFLAGS_IF;
	else if (c->cpl <= iopl)
		mask |= X86_RFLAGS_IF;
	if (in->osz == 2)
		mask &= 0xffff;
	stk_commit(c, &k);
	c->rflags = ((f & ~mask) | (v & mask) | X86_RFLAGS_FIXED) & ~(uint64_t)X86_RFLAGS_RF;
	cpu_if_enabled(c, f, c->rflags);
	/* Single-stepping starts after the next instruction: this block's rest runs one at a time. */
	if (c->rflags & X86_RFLAGS_TF)
		cpu_block_end(c);
}

void exec_lenter(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz, level = in->imm2 & 31;
	struct stk k;
	uint64_t frame, bp;

	stk_init(c, &k);
	bp = c->gpr[X86_RBP] & k.mask;
	stk_push(c, &k, sz, c->gpr[X86_RBP]);
	frame = k.sp;
	if (level > 0) {
		for (unsigned i = 1; i < level; i++) {
			bp = (bp - sz) & k.mask;
			stk_push(c, &k, sz, mem_read(c, k.base + bp, sz, X86_SEG_SS));
		}
		stk_push(c, &k, sz, frame);
	}
	k.sp = (k.sp - (in->imm & 0xffff)) & k.mask;
	reg_set(c, X86_RBP, k.mask == 0xffff ? 2 : sz, frame);
	stk_commit(c, &k);
}

void exec_lleave(struct cpu *c, const struct x86_insn *in)
{
	struct stk k;
	uint64_t v;

	stk_init(c, &k);
	k.sp = c->gpr[X86_RBP] & k.mask;
	v = stk_pop(c, &k, in->osz);
	stk_commit(c, &k);
	reg_set(c, X86_RBP, in->osz, v);
}

static void lbranch(struct cpu *c, uint64_t target, unsigned osz)
{
	target &= ip_mask(osz);
	branch_check(c, target);
	c->next_rip = target;
}

void exec_ljcc(struct cpu *c, const struct x86_insn *in)
{
	if (flags_cond(c, in->sub))
		lbranch(c, c->next_rip + in->imm, in->osz);
}

void exec_ljmp(struct cpu *c, const struct x86_insn *in)
{
	lbranch(c, c->next_rip + in->imm, in->osz);
}

static void lcall_to(struct cpu *c, uint64_t target, unsigned osz)
{
	target &= ip_mask(osz);
	branch_check(c, target);
	push1(c, osz, c->next_rip);
	c->next_rip = target;
}

void exec_lcall(struct cpu *c, const struct x86_insn *in)
{
	lcall_to(c, c->next_rip + in->imm, in->osz);
}

void exec_ljmpi(struct cpu *c, const struct x86_insn *in)
{
	lbranch(c, opnd_e_get(c, in, in->osz), in->osz);
}

void exec_lcalli(struct cpu *c, const struct x86_insn *in)
{
	lcall_to(c, opnd_e_get(c, in, in->osz), in->osz);
}

void exec_lret(struct cpu *c, const struct x86_insn *in)
{
	struct stk k;
	uint64_t target;

	stk_init(c, &k);
	target = stk_pop(c, &k, in->osz) & ip_mask(in->osz);
	branch_check(c, target);
	k.sp = (k.sp + (in->imm & 0xffff)) & k.mask;
	stk_commit(c, &k);
	c->next_rip = target;
}

void exec_lloop(struct cpu *c, const struct x86_insn *in)
{
	uint64_t cnt;

	if (loop_condition(c, in, &cnt))
		lbranch(c, c->next_rip + in->imm, in->osz);
	if (in->sub != 3)
		reg_set(c, X86_RCX, in->asz, cnt);
}

void exec_pusha(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;
	uint64_t sp = c->gpr[X86_RSP];
	struct stk k;

	stk_init(c, &k);
	for (unsigned r = X86_RAX; r <= X86_RDI; r++)
		stk_push(c, &k, sz, r == X86_RSP ? sp : c->gpr[r]);
	stk_commit(c, &k);
}

void exec_popa(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;
	uint64_t v[8];
	struct stk k;

	stk_init(c, &k);
	for (int r = X86_RDI; r >= X86_RAX; r--)
		v[r] = stk_pop(c, &k, sz);
	stk_commit(c, &k);
	for (unsigned r = X86_RAX; r <= X86_RDI; r++)
		if (r != X86_RSP)
			reg_set(c, r, sz, v[r]);
}

void exec_bound(struct cpu *c, const struct x86_insn *in)
{
	unsigned sz = in->osz;
	uint64_t la = cpu_la(c, in);
	int64_t idx = (int64_t)sext(reg_get(c, in->reg, sz), sz);
	int64_t lo = (int64_t)sext(mem_read(c, la, sz, in->seg), sz);
	int64_t hi = (int64_t)sext(mem_read(c, la + sz, sz, in->seg), sz);

	if (idx < lo || idx > hi)
		cpu_raise(c, VEC_BR, false, 0);
}

void exec_arpl(struct cpu *c, const struct x86_insn *in)
{
	uint64_t dst, src = reg_get(c, in->reg, 2);

	if (!cpu_pmode(c))
		cpu_raise_ud(c);
	dst = opnd_e_get(c, in, 2);
	if ((dst & 3) < (src & 3)) {
		opnd_e_set(c, in, 2, (dst & ~3ull) | (src & 3));
		flags_put(c, FL_ZF, FL_ZF);
	} else {
		flags_put(c, FL_ZF, 0);
	}
}

void exec_bcd(struct cpu *c, const struct x86_insn *in)
{
	uint64_t f = flags_get(c), nf;
	uint8_t al = c->gpr[X86_RAX] & 0xff, ah = (c->gpr[X86_RAX] >> 8) & 0xff, old = al;

	(void)ah;
	bool cf = f & FL_CF, af = f & FL_AF;
	unsigned base = in->imm & 0xff;

	switch (in->sub) {
	case 0: /* DAA */
	case 1: /* DAS */
		nf = 0;
		if ((al & 0xf) > 9 || af) {
			/*
			 * DAS keeps the borrow out of AL - 6 in CF (SDM); DAA's
			 * carry out of AL + 6 needs AL > 0x99, which sets CF below.
			 */
			if (in->sub && al < 6)
				nf |= FL_CF;
			al = in->sub ? al - 6 : al + 6;
			nf |= FL_AF;
		}
		if (old > 0x99 || cf) {
			al = in->sub ? al - 0x60 : al + 0x60;
			nf |= FL_CF;
		}
		flags_put(c, FL_ARITH, nf | flags_szp(al, 1));
		reg_set(c, X86_RAX, 1, al);
		return;
	case 2: /* AAA */
	case 3: /* AAS */
		if ((al & 0xf) > 9 || af) {
			uint16_t ax = c->gpr[X86_RAX] & 0xffff;

			ax = in->sub == 2 ? ax + 0x106 : ax - 0x106;
			reg_set(c, X86_RAX, 2, ax & 0xff0f);
			flags_put(c, FL_ARITH, FL_AF | FL_CF);
		} else {
			reg_set(c, X86_RAX, 1, al & 0xf);
			flags_put(c, FL_ARITH, 0);
		}
		return;
	case 4: /* AAM */
		if (!base)
			cpu_raise(c, VEC_DE, false, 0);
		ah = al / base;
		al = al % base;
		reg_set(c, X86_RAX, 2, ((uint16_t)ah << 8) | al);
		flags_put(c, FL_ARITH, flags_szp(al, 1));
		return;
	default: /* AAD */
		al = (uint8_t)(al + ah * base);
		reg_set(c, X86_RAX, 2, al);
		flags_put(c, FL_ARITH, flags_szp(al, 1));
		return;
	}
}

/*
 * SALC (D6): AL = CF ? 0xFF : 0, flags untouched. The SDM leaves the opcode
 * out of its map, but Intel and AMD processors run it outside 64-bit mode
 * (where it is #UD), and real-mode code such as kvm-unit-tests' uses it.
 */
void exec_salc(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	reg_set(c, X86_RAX, 1, flags_get(c) & FL_CF ? 0xff : 0);
}

void exec_into(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	if (flags_get(c) & FL_OF)
		cpu_raise_trap(c, VEC_OF, CPU_EXC_SOFT);
}
