/* soft/cpu/exec_sys.c: segment register instructions, far transfers and system instructions. */
#include "soft/cpu/internal.h"

#define SEL_ERR(sel) ((uint32_t)(sel)&0xfffc)

/* CR4 bits this CPU implements (CPUID advertises the matching features). */
#define CR4_OK                                                                                     \
	(X86_CR4_TSD | X86_CR4_DE | X86_CR4_PSE | X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE |        \
	 X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT | X86_CR4_SMEP)
/* CR3 bits above the physical address width (40) are reserved in long mode. */
#define CR3_RSVD_LM 0xffffff0000000000ull
#define EFER_OK	    (X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE)

static void need_cpl0(struct cpu *c)
{
	if (c->cpl != 0)
		cpu_raise_gp0(c);
}

static void need_pmode(struct cpu *c)
{
	if (!cpu_pmode(c) || (c->rflags & X86_RFLAGS_VM))
		cpu_raise_ud(c);
}

/* ---- segment registers ----------------------------------------------------- */

void exec_pushseg(struct cpu *c, const struct x86_insn *in)
{
	struct stk k;

	stk_init(c, &k);
	stk_push(c, &k, in->osz, seg_reg(c, in->sub)->selector);
	stk_commit(c, &k);
}

void exec_popseg(struct cpu *c, const struct x86_insn *in)
{
	struct stk k;
	uint16_t sel;

	stk_init(c, &k);
	sel = (uint16_t)stk_pop(c, &k, in->osz);
	seg_load(c, in->sub, sel);
	stk_commit(c, &k);
}

/* REX.R does not extend the segment register number. */
void exec_movseg_ld(struct cpu *c, const struct x86_insn *in)
{
	unsigned seg = in->reg & 7;

	if (seg > X86_SEG_GS || seg == X86_SEG_CS)
		cpu_raise_ud(c);
	seg_load(c, seg, (uint16_t)opnd_e_get(c, in, 2));
}

void exec_movseg_st(struct cpu *c, const struct x86_insn *in)
{
	unsigned seg = in->reg & 7;
	uint16_t sel;

	if (seg > X86_SEG_GS)
		cpu_raise_ud(c);
	sel = seg_reg(c, seg)->selector;
	if (in->flags & X86_F_MEM)
		mem_write(c, cpu_la(c, in), 2, sel, in->seg);
	else
		reg_set(c, in->rm, in->osz, sel);
}

void exec_lseg(struct cpu *c, const struct x86_insn *in)
{
	uint64_t la = cpu_la(c, in);
	uint64_t off = mem_read(c, la, in->osz, in->seg);
	uint16_t sel = (uint16_t)mem_read(c, la + in->osz, 2, in->seg);

	seg_load(c, in->sub, sel);
	reg_set(c, in->reg, in->osz, off);
}

void exec_jmpf(struct cpu *c, const struct x86_insn *in)
{
	far_jmp(c, in->imm2, in->imm, in->osz);
}

void exec_callf(struct cpu *c, const struct x86_insn *in)
{
	far_call(c, in->imm2, in->imm, in->osz);
}

static void far_pointer(struct cpu *c, const struct x86_insn *in, uint16_t *sel, uint64_t *off)
{
	uint64_t la = cpu_la(c, in);

	*off = mem_read(c, la, in->osz, in->seg);
	*sel = (uint16_t)mem_read(c, la + in->osz, 2, in->seg);
}

void exec_jmpfi(struct cpu *c, const struct x86_insn *in)
{
	uint16_t sel;
	uint64_t off;

	far_pointer(c, in, &sel, &off);
	far_jmp(c, sel, off, in->osz);
}

void exec_callfi(struct cpu *c, const struct x86_insn *in)
{
	uint16_t sel;
	uint64_t off;

	far_pointer(c, in, &sel, &off);
	far_call(c, sel, off, in->osz);
}

void exec_retf(struct cpu *c, const struct x86_insn *in)
{
	far_ret(c, in->osz, in->imm & 0xffff);
}

/* ---- descriptor tables ------------------------------------------------------ */

/* A system descriptor for LLDT/LTR from the GDT (16 bytes in long mode). */
static void sys_desc(struct cpu *c, uint16_t sel, struct x86_segment *n, uint64_t *la)
{
	bool lm = c->sys.efer & X86_EFER_LMA;
	uint32_t d[2];

	if (sel & 4)
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel));
	if ((uint32_t)(sel & ~7u) + (lm ? 15 : 7) > c->sys.gdt.limit || !desc_fetch(c, sel, d))
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel));
	desc_unpack(d[0], d[1], sel, n);
	*la = c->sys.gdt.base + (sel & ~7u);
	if (lm)
		n->base |= sys_read(c, *la + 8, 4) << 32;
}

static void exec_lldt(struct cpu *c, uint16_t sel)
{
	struct x86_segment n;
	uint64_t la;

	need_cpl0(c);
	if (!(sel & ~3u)) {
		memset(&c->sys.ldt, 0, sizeof(c->sys.ldt));
		c->sys.ldt.selector = sel;
		c->sys.ldt.unusable = 1;
		return;
	}
	sys_desc(c, sel, &n, &la);
	if (n.s || n.type != 2)
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel));
	if (!n.present)
		cpu_raise(c, VEC_NP, true, SEL_ERR(sel));
	if ((c->sys.efer & X86_EFER_LMA) && !is_canonical(n.base))
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel));
	c->sys.ldt = n;
}

static void exec_ltr(struct cpu *c, uint16_t sel)
{
	bool lm = c->sys.efer & X86_EFER_LMA;
	struct x86_segment n;
	uint64_t la;

	need_cpl0(c);
	if (!(sel & ~3u))
		cpu_raise_gp0(c);
	sys_desc(c, sel, &n, &la);
	/* An available TSS: 16-bit (legacy only) or 32/64-bit. */
	if (n.s || !(n.type == 9 || (!lm && n.type == 1)))
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel));
	if (!n.present)
		cpu_raise(c, VEC_NP, true, SEL_ERR(sel));
	if (lm && !is_canonical(n.base))
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel));
	n.type |= 2; /* busy, in the descriptor too */
	sys_write(c, la + 5, 1, (uint64_t)n.type | (n.dpl << 5) | 0x80);
	c->sys.tr = n;
}

/* VERR/VERW: ZF says whether sel may be read/written at CPL and its RPL. */
static void exec_verrw(struct cpu *c, uint16_t sel, bool write)
{
	struct x86_segment n;
	uint32_t d[2];
	bool ok = false;

	if ((sel & ~3u) && desc_fetch(c, sel, d)) {
		bool code, conforming;

		desc_unpack(d[0], d[1], sel, &n);
		code = n.type & 8;
		conforming = code && (n.type & 4);
		ok = n.s && (conforming || (n.dpl >= c->cpl && n.dpl >= (sel & 3u)));
		if (write)
			ok = ok && !code && (n.type & 2);
		else
			ok = ok && (!code || (n.type & 2));
	}
	flags_put(c, FL_ZF, ok ? FL_ZF : 0);
}

static void store_sel(struct cpu *c, const struct x86_insn *in, uint16_t sel)
{
	if (in->flags & X86_F_MEM)
		mem_write(c, cpu_la(c, in), 2, sel, in->seg);
	else
		reg_set(c, in->rm, in->osz, sel);
}

void exec_grp6(struct cpu *c, const struct x86_insn *in)
{
	need_pmode(c);
	switch (in->sub) {
	case 0:
		store_sel(c, in, c->sys.ldt.selector);
		return;
	case 1:
		store_sel(c, in, c->sys.tr.selector);
		return;
	case 2:
		need_cpl0(c);
		exec_lldt(c, (uint16_t)opnd_e_get(c, in, 2));
		return;
	case 3:
		need_cpl0(c);
		exec_ltr(c, (uint16_t)opnd_e_get(c, in, 2));
		return;
	case 4:
	case 5:
		exec_verrw(c, (uint16_t)opnd_e_get(c, in, 2), in->sub == 5);
		return;
	default:
		cpu_raise_ud(c);
	}
}

static void store_dtable(struct cpu *c, const struct x86_insn *in, const struct x86_dtable *t)
{
	uint64_t la = cpu_la(c, in);

	mem_probe(c, la, c->mode64 ? 10 : 6, in->seg, CPU_ACCESS_WRITE);
	mem_write(c, la, 2, t->limit, in->seg);
	if (c->mode64)
		mem_write(c, la + 2, 8, t->base, in->seg);
	else
		mem_write(c, la + 2, 4, (uint32_t)t->base, in->seg);
}

static void load_dtable(struct cpu *c, const struct x86_insn *in, struct x86_dtable *t)
{
	uint64_t la = cpu_la(c, in), base;
	uint16_t limit;

	need_cpl0(c);
	limit = (uint16_t)mem_read(c, la, 2, in->seg);
	if (c->mode64) {
		base = mem_read(c, la + 2, 8, in->seg);
		if (!is_canonical(base))
			cpu_raise_gp0(c);
	} else {
		base = mem_read(c, la + 2, 4, in->seg);
		if (in->osz == 2)
			base &= 0xffffff;
	}
	t->limit = limit;
	t->base = base;
}

static void set_cr0(struct cpu *c, uint64_t v);

static void exec_rdtscp(struct cpu *c)
{
	uint64_t t;

	if (c->cpl != 0 && (c->sys.cr4 & X86_CR4_TSD))
		cpu_raise_gp0(c);
	t = c->ops->rdtsc(c->opaque);
	c->gpr[X86_RAX] = (uint32_t)t;
	c->gpr[X86_RDX] = t >> 32;
	c->gpr[X86_RCX] = (uint32_t)c->msr.tsc_aux;
}

static void exec_swapgs(struct cpu *c)
{
	uint64_t t;

	if (!c->mode64)
		cpu_raise_ud(c);
	need_cpl0(c);
	t = c->sys.gs.base;
	c->sys.gs.base = c->msr.kernel_gs_base;
	c->msr.kernel_gs_base = t;
	seg_update(c, X86_SEG_GS);
}

/*
 * VMCALL and VMMCALL: KVM's hypercall ABI, since CPUID 0x40000000 says
 * KVM. RAX is the number, RBX, RCX, RDX and RSI the arguments, the result
 * goes back in RAX (32 bits of each outside 64-bit mode): 0 for
 * KVM_HC_VAPIC_POLL_IRQ, which has nothing to do, -KVM_EPERM outside ring
 * 0, and what the engine says for the rest (-KVM_ENOSYS for numbers of
 * features it does not advertise).
 */
static void exec_hypercall(struct cpu *c)
{
	static const unsigned regs[4] = {X86_RBX, X86_RCX, X86_RDX, X86_RSI};
	uint64_t nr = c->gpr[X86_RAX], a[4], ret;

	for (unsigned i = 0; i < 4; i++)
		a[i] = c->mode64 ? c->gpr[regs[i]] : (uint32_t)c->gpr[regs[i]];
	if (!c->mode64)
		nr = (uint32_t)nr;
	if (c->cpl != 0)
		ret = (uint64_t)-KVM_EPERM;
	else if (nr == KVM_HC_VAPIC_POLL_IRQ)
		ret = 0;
	else if (c->ops->hypercall)
		ret = (uint64_t)c->ops->hypercall(c->opaque, nr, a, c->mode64);
	else
		ret = (uint64_t)-KVM_ENOSYS;
	c->gpr[X86_RAX] = c->mode64 ? ret : (uint32_t)ret;
}

void exec_grp7(struct cpu *c, const struct x86_insn *in)
{
	bool mem = in->flags & X86_F_MEM;

	if (!mem) {
		switch (in->sub) {
		case 0: /* VMCALL (0F 01 C1) */
		case 3: /* VMMCALL (0F 01 D9) */
			if ((in->rm & 7) == 1) {
				exec_hypercall(c);
				return;
			}
			c->exc.unimplemented = true;
			cpu_raise_ud(c);
		case 4: /* SMSW r */
			reg_set(c, in->rm, in->osz, c->sys.cr0);
			return;
		case 6: /* LMSW r */
			break;
		case 7:
			if ((in->rm & 7) == 0) {
				exec_swapgs(c);
				return;
			}
			if ((in->rm & 7) == 1) {
				exec_rdtscp(c);
				return;
			}
			cpu_raise_ud(c);
		default:
			/* VMX, MONITOR/MWAIT, CLAC/STAC, XGETBV, SVM: not advertised. */
			c->exc.unimplemented = true;
			cpu_raise_ud(c);
		}
	}
	switch (in->sub) {
	case 0:
		store_dtable(c, in, &c->sys.gdt);
		return;
	case 1:
		store_dtable(c, in, &c->sys.idt);
		return;
	case 2:
		load_dtable(c, in, &c->sys.gdt);
		return;
	case 3:
		load_dtable(c, in, &c->sys.idt);
		return;
	case 4:
		mem_write(c, cpu_la(c, in), 2, c->sys.cr0 & 0xffff, in->seg);
		return;
	case 6: {
		uint64_t v, cr0 = c->sys.cr0;

		need_cpl0(c);
		v = opnd_e_get(c, in, 2);
		/* LMSW sets PE but never clears it. */
		set_cr0(c, (cr0 & ~0xeull) | (v & 0xf) | (cr0 & X86_CR0_PE));
		return;
	}
	case 7: { /* INVLPG */
		uint64_t la = cpu_la(c, in);

		need_cpl0(c);
		cpu_tlb_flush_page(c, la);
		/* Outside long mode the access paths may have cached either form. */
		if (!(c->sys.efer & X86_EFER_LMA))
			cpu_tlb_flush_page(c, (uint32_t)la);
		return;
	}
	default:
		cpu_raise_ud(c);
	}
}

void exec_larlsl(struct cpu *c, const struct x86_insn *in)
{
	uint16_t sel;
	struct x86_segment n = {0};
	uint32_t d[2] = {0};
	bool ok = false, lm = c->sys.efer & X86_EFER_LMA;

	need_pmode(c);
	sel = (uint16_t)opnd_e_get(c, in, 2);
	if ((sel & ~3u) && desc_fetch(c, sel, d)) {
		desc_unpack(d[0], d[1], sel, &n);
		if (n.s) {
			bool conforming = (n.type & 0xc) == 0xc;

			ok = conforming || (n.dpl >= c->cpl && n.dpl >= (sel & 3u));
		} else {
			/* LDT and TSS for both; gates for LAR only. */
			unsigned t = n.type;
			bool valid =
			    lm ? (t == 2 || t == 9 || t == 11 || (in->op == OP_LAR && t == 12))
			       : (t == 1 || t == 2 || t == 3 || t == 9 || t == 11 ||
				  (in->op == OP_LAR && (t == 4 || t == 5 || t == 12)));

			ok = valid && n.dpl >= c->cpl && n.dpl >= (sel & 3u);
		}
	}
	if (ok) {
		uint64_t v = in->op == OP_LAR ? (d[1] & 0x00f0ff00u) : n.limit;

		reg_set(c, in->reg, in->osz, in->osz == 2 ? v & 0xffff : v);
	}
	flags_put(c, FL_ZF, ok ? FL_ZF : 0);
}

void exec_clts(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	need_cpl0(c);
	c->sys.cr0 &= ~(uint64_t)X86_CR0_TS;
}

/* ---- control and debug registers ------------------------------------------ */

static void set_cr0(struct cpu *c, uint64_t v)
{
	uint64_t old = c->sys.cr0;

	if (v >> 32)
		cpu_raise_gp0(c);
	v |= X86_CR0_ET;
	if (((v & X86_CR0_PG) && !(v & X86_CR0_PE)) || ((v & X86_CR0_NW) && !(v & X86_CR0_CD)))
		cpu_raise_gp0(c);
	if ((v & X86_CR0_PG) && !(old & X86_CR0_PG) && (c->sys.efer & X86_EFER_LME)) {
		/* Activating long mode needs PAE and must not start in a 64-bit CS. */
		if (!(c->sys.cr4 & X86_CR4_PAE) || c->sys.cs.l)
			cpu_raise_gp0(c);
		c->sys.efer |= X86_EFER_LMA;
	}
	if (!(v & X86_CR0_PG) && (old & X86_CR0_PG) && (c->sys.efer & X86_EFER_LMA)) {
		if (c->mode64)
			cpu_raise_gp0(c);
		c->sys.efer &= ~(uint64_t)X86_EFER_LMA;
	}
	c->sys.cr0 = v;
	if ((old ^ v) & (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE))
		cpu_tlb_flush(c);
	if ((old ^ v) & (X86_CR0_PE | X86_CR0_PG)) {
		if (!(v & X86_CR0_PE))
			cpu_set_cpl(c, 0);
		cpu_mode_update(c);
	}
}

static void set_cr4(struct cpu *c, uint64_t v)
{
	uint64_t old = c->sys.cr4;

	if (v & ~(uint64_t)CR4_OK)
		cpu_raise_gp0(c);
	if ((c->sys.efer & X86_EFER_LMA) && !(v & X86_CR4_PAE))
		cpu_raise_gp0(c);
	c->sys.cr4 = v;
	if ((old ^ v) & (X86_CR4_PGE | X86_CR4_PAE | X86_CR4_PSE | X86_CR4_SMEP | X86_CR4_SMAP))
		cpu_tlb_flush(c);
}

void exec_movcr(struct cpu *c, const struct x86_insn *in)
{
	unsigned cr = in->reg;
	uint64_t v;

	if (cr != 0 && cr != 2 && cr != 3 && cr != 4 && !(cr == 8 && c->mode64))
		cpu_raise_ud(c);
	need_cpl0(c);
	if (in->sub == 0) {
		switch (cr) {
		case 0:
			v = c->sys.cr0;
			break;
		case 2:
			v = c->sys.cr2;
			break;
		case 3:
			v = c->sys.cr3;
			break;
		case 4:
			v = c->sys.cr4;
			break;
		default: {
			uint8_t tpr;

			if (c->ops->tpr && c->ops->tpr(c->opaque, false, &tpr) == 0)
				c->sys.cr8 = tpr >> 4;
			v = c->sys.cr8;
			break;
		}
		}
		reg_set(c, in->rm, in->osz, v);
		return;
	}
	v = reg_get(c, in->rm, in->osz);
	switch (cr) {
	case 0:
		set_cr0(c, v);
		break;
	case 2:
		c->sys.cr2 = v;
		break;
	case 3:
		if ((c->sys.efer & X86_EFER_LMA) && (v & CR3_RSVD_LM))
			cpu_raise_gp0(c);
		c->sys.cr3 = v;
		cpu_tlb_flush(c);
		break;
	case 4:
		set_cr4(c, v);
		break;
	default: {
		uint8_t tpr = (uint8_t)(v << 4);

		if (v >> 4)
			cpu_raise_gp0(c);
		c->sys.cr8 = v;
		if (c->ops->tpr)
			c->ops->tpr(c->opaque, true, &tpr);
		break;
	}
	}
}

void exec_movdr(struct cpu *c, const struct x86_insn *in)
{
	unsigned dr = in->reg;
	uint64_t v;

	if (dr > 7 || ((dr == 4 || dr == 5) && (c->sys.cr4 & X86_CR4_DE)))
		cpu_raise_ud(c);
	need_cpl0(c);
	/* General detect: a fault before the access, which debuggers use to guard the registers. */
	if (c->dr[7] & DR7_GD) {
		c->dr[7] &= ~(uint64_t)DR7_GD;
		dbg_report(c, DR6_BD);
		cpu_raise(c, VEC_DB, false, 0);
	}
	/* RF lasts until an instruction completes: it must not hide a breakpoint enabled now. */
	c->rflags &= ~(uint64_t)X86_RFLAGS_RF;
	if (dr == 4 || dr == 5)
		dr += 2;
	if (in->sub == 0) {
		reg_set(c, in->rm, in->osz, c->dr[dr]);
		return;
	}
	v = reg_get(c, in->rm, in->osz);
	if ((dr == 6 || dr == 7) && (v >> 32))
		cpu_raise_gp0(c);
	if (dr == 6)
		v = (v | 0xffff0ff0u) & 0xffffefffu;
	else if (dr == 7)
		v = (v | 0x400) & ~0xd800ull;
	c->dr[dr] = v;
	if (dr != 6)
		cpu_debug_update(c);
}

/* ---- MSRs ------------------------------------------------------------------- */

static bool pat_valid(uint64_t v)
{
	for (unsigned i = 0; i < 8; i++) {
		unsigned t = (v >> (8 * i)) & 0xff;

		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

/* The core's own MSRs: 1 handled, 0 not one of them, -1 #GP. */
static int msr_core_read(struct cpu *c, uint32_t msr, uint64_t *v)
{
	switch (msr) {
	case MSR_EFER:
		*v = c->sys.efer;
		return 1;
	case MSR_STAR:
		*v = c->msr.star;
		return 1;
	case MSR_LSTAR:
		*v = c->msr.lstar;
		return 1;
	case MSR_CSTAR:
		*v = c->msr.cstar;
		return 1;
	case MSR_SYSCALL_MASK:
		*v = c->msr.fmask;
		return 1;
	case MSR_FS_BASE:
		*v = c->sys.fs.base;
		return 1;
	case MSR_GS_BASE:
		*v = c->sys.gs.base;
		return 1;
	case MSR_KERNEL_GS_BASE:
		*v = c->msr.kernel_gs_base;
		return 1;
	case MSR_TSC_AUX:
		*v = c->msr.tsc_aux;
		return 1;
	case MSR_SYSENTER_CS:
		*v = c->msr.sysenter_cs;
		return 1;
	case MSR_SYSENTER_ESP:
		*v = c->msr.sysenter_esp;
		return 1;
	case MSR_SYSENTER_EIP:
		*v = c->msr.sysenter_eip;
		return 1;
	case MSR_IA32_CR_PAT:
		*v = c->msr.pat;
		return 1;
	default:
		return 0;
	}
}

static int msr_core_write(struct cpu *c, uint32_t msr, uint64_t v)
{
	switch (msr) {
	case MSR_EFER: {
		uint64_t old = c->sys.efer;

		if (v & ~(uint64_t)EFER_OK)
			return -1;
		/* LME cannot change while paging is on; LMA is the CPU's. */
		if (((v ^ old) & X86_EFER_LME) && (c->sys.cr0 & X86_CR0_PG))
			return -1;
		c->sys.efer = (v & ~(uint64_t)X86_EFER_LMA) | (old & X86_EFER_LMA);
		if ((v ^ old) & X86_EFER_NXE)
			cpu_tlb_flush(c);
		return 1;
	}
	case MSR_STAR:
		c->msr.star = v;
		return 1;
	case MSR_LSTAR:
	case MSR_CSTAR:
		if (!is_canonical(v))
			return -1;
		*(msr == MSR_LSTAR ? &c->msr.lstar : &c->msr.cstar) = v;
		return 1;
	case MSR_SYSCALL_MASK:
		c->msr.fmask = (uint32_t)v;
		return 1;
	case MSR_FS_BASE:
	case MSR_GS_BASE:
		if (!is_canonical(v))
			return -1;
		seg_reg(c, msr == MSR_FS_BASE ? X86_SEG_FS : X86_SEG_GS)->base = v;
		seg_update(c, msr == MSR_FS_BASE ? X86_SEG_FS : X86_SEG_GS);
		return 1;
	case MSR_KERNEL_GS_BASE:
		if (!is_canonical(v))
			return -1;
		c->msr.kernel_gs_base = v;
		return 1;
	case MSR_TSC_AUX:
		if (v >> 32)
			return -1;
		c->msr.tsc_aux = v;
		return 1;
	case MSR_SYSENTER_CS:
		c->msr.sysenter_cs = v & 0xffff;
		return 1;
	case MSR_SYSENTER_ESP:
	case MSR_SYSENTER_EIP:
		if (!is_canonical(v))
			return -1;
		*(msr == MSR_SYSENTER_ESP ? &c->msr.sysenter_esp : &c->msr.sysenter_eip) = v;
		return 1;
	case MSR_IA32_CR_PAT:
		if (!pat_valid(v))
			return -1;
		c->msr.pat = v;
		return 1;
	default:
		return 0;
	}
}

void exec_rdmsr(struct cpu *c, const struct x86_insn *in)
{
	uint32_t msr = (uint32_t)c->gpr[X86_RCX];
	uint64_t v = 0;
	int r;

	(void)in;
	need_cpl0(c);
	r = msr_core_read(c, msr, &v);
	if (r == 0)
		r = (c->ops->rdmsr && c->ops->rdmsr(c->opaque, msr, &v) == 0) ? 1 : -1;
	if (r < 0)
		cpu_raise_gp0(c);
	c->gpr[X86_RAX] = (uint32_t)v;
	c->gpr[X86_RDX] = v >> 32;
}

void exec_wrmsr(struct cpu *c, const struct x86_insn *in)
{
	uint32_t msr = (uint32_t)c->gpr[X86_RCX];
	uint64_t v = (uint32_t)c->gpr[X86_RAX] | (c->gpr[X86_RDX] << 32);
	int r;

	(void)in;
	need_cpl0(c);
	r = msr_core_write(c, msr, v);
	if (r == 0)
		r = (c->ops->wrmsr && c->ops->wrmsr(c->opaque, msr, v) == 0) ? 1 : -1;
	if (r < 0)
		cpu_raise_gp0(c);
}

/* ---- fast system calls ------------------------------------------------------- */

static struct x86_segment flat_seg(uint16_t sel, unsigned type, unsigned dpl, bool l, bool db)
{
	return (struct x86_segment){.selector = sel,
				    .limit = 0xffffffffu,
				    .type = (uint8_t)type,
				    .s = 1,
				    .dpl = (uint8_t)dpl,
				    .present = 1,
				    .l = l,
				    .db = db,
				    .g = 1};
}

/* Enters CPL 0 or 3 with flat CS/SS as SYSCALL/SYSRET/SYSENTER/SYSEXIT define them. */
static void fast_switch(struct cpu *c, uint16_t cs, uint16_t ss, unsigned pl, bool l)
{
	c->sys.cs = flat_seg(cs, 0xb, pl, l, !l);
	c->sys.ss = flat_seg(ss, 0x3, pl, false, true);
	cpu_set_cpl(c, pl);
	cpu_mode_update(c);
}

void exec_syscall(struct cpu *c, const struct x86_insn *in)
{
	uint16_t sel = (uint16_t)(c->msr.star >> 32);
	uint64_t fl = flags_get(c), target = c->mode64 ? c->msr.lstar : c->msr.cstar;

	(void)in;
	/* Long mode only (64-bit and compatibility code). */
	if (!(c->sys.efer & X86_EFER_SCE) || !(c->sys.efer & X86_EFER_LMA))
		cpu_raise_ud(c);
	c->gpr[X86_RCX] = c->next_rip;
	c->gpr[X86_R11] = fl & ~(uint64_t)X86_RFLAGS_RF;
	cpu_set_rflags(c, fl & ~(c->msr.fmask | X86_RFLAGS_RF));
	fast_switch(c, sel & 0xfffc, (uint16_t)(sel + 8), 0, true);
	c->next_rip = target;
}

void exec_sysret(struct cpu *c, const struct x86_insn *in)
{
	uint16_t sel = (uint16_t)(c->msr.star >> 48);
	bool to64 = in->osz == 8;

	if (!(c->sys.efer & X86_EFER_SCE) || !c->mode64)
		cpu_raise_ud(c);
	need_cpl0(c);
	if (to64 && !is_canonical(c->gpr[X86_RCX]))
		cpu_raise_gp0(c);
	cpu_set_rflags(c, (c->gpr[X86_R11] & 0x3c7fd7) | X86_RFLAGS_FIXED);
	c->next_rip = to64 ? c->gpr[X86_RCX] : (uint32_t)c->gpr[X86_RCX];
	fast_switch(c, (uint16_t)((to64 ? sel + 16 : sel) | 3), (uint16_t)((sel + 8) | 3), 3, to64);
	/*
	 * Unlike IRET's, a TF that SYSRET restores traps at once, in user mode
	 * (why Linux returns with IRET to a task being single-stepped).
	 */
	if (c->rflags & X86_RFLAGS_TF) {
		dbg_report(c, DR6_BS);
		cpu_raise_trap(c, VEC_DB, CPU_EXC_TRAP);
	}
}

void exec_sysenter(struct cpu *c, const struct x86_insn *in)
{
	uint16_t sel = (uint16_t)c->msr.sysenter_cs;
	bool lm = c->sys.efer & X86_EFER_LMA;

	(void)in;
	if (!cpu_pmode(c) || !(sel & 0xfffc))
		cpu_raise_gp0(c);
	cpu_set_rflags(c,
		       flags_get(c) & ~(uint64_t)(X86_RFLAGS_VM | X86_RFLAGS_IF | X86_RFLAGS_RF));
	fast_switch(c, sel & 0xfffc, (uint16_t)((sel & 0xfffc) + 8), 0, lm);
	c->gpr[X86_RSP] = lm ? c->msr.sysenter_esp : (uint32_t)c->msr.sysenter_esp;
	c->next_rip = lm ? c->msr.sysenter_eip : (uint32_t)c->msr.sysenter_eip;
}

void exec_sysexit(struct cpu *c, const struct x86_insn *in)
{
	uint16_t sel = (uint16_t)c->msr.sysenter_cs;
	bool to64 = in->osz == 8;

	if (!cpu_pmode(c) || !(sel & 0xfffc))
		cpu_raise_gp0(c);
	need_cpl0(c);
	if (to64 && (!is_canonical(c->gpr[X86_RDX]) || !is_canonical(c->gpr[X86_RCX])))
		cpu_raise_gp0(c);
	c->next_rip = to64 ? c->gpr[X86_RDX] : (uint32_t)c->gpr[X86_RDX];
	c->gpr[X86_RSP] = to64 ? c->gpr[X86_RCX] : (uint32_t)c->gpr[X86_RCX];
	fast_switch(c, (uint16_t)((sel + (to64 ? 32 : 16)) | 3),
		    (uint16_t)((sel + (to64 ? 40 : 24)) | 3), 3, to64);
}

/* ---- caches ----------------------------------------------------------------- */

void exec_cache(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	need_cpl0(c);
}

void exec_clflush(struct cpu *c, const struct x86_insn *in)
{
	/* Only the access check is architectural here: the cache is the host's. */
	mem_probe(c, cpu_la(c, in), 1, in->seg, CPU_ACCESS_READ);
}
