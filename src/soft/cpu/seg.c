/* soft/cpu/seg.c: segmentation, privilege checks, far transfers, IRET and event delivery. */
#include "soft/cpu/internal.h"

#define SEL_ERR(sel) ((uint32_t)(sel)&0xfffc)

/* Descriptor type bits (with S set). */
#define T_ACCESSED 0x1
#define T_RW	   0x2 /* data: writable; code: readable */
#define T_DC	   0x4 /* data: expand-down; code: conforming */
#define T_CODE	   0x8

/* RFLAGS bits an event clears in the handler. */
#define FL_EVENT_CLEAR (X86_RFLAGS_TF | X86_RFLAGS_NT | X86_RFLAGS_RF | X86_RFLAGS_VM)

struct x86_segment *seg_reg(struct cpu *c, unsigned seg)
{
	switch (seg) {
	case X86_SEG_ES:
		return &c->sys.es;
	case X86_SEG_CS:
		return &c->sys.cs;
	case X86_SEG_SS:
		return &c->sys.ss;
	case X86_SEG_DS:
		return &c->sys.ds;
	case X86_SEG_FS:
		return &c->sys.fs;
	default:
		return &c->sys.gs;
	}
}

void seg_update(struct cpu *c, unsigned seg)
{
	const struct x86_segment *s = seg_reg(c, seg);
	uint8_t bit = (uint8_t)(1u << seg);
	bool limited;

	if (c->mode64) {
		c->seg_base[seg] = seg >= X86_SEG_FS ? s->base : 0;
		c->seg_limited &= (uint8_t)~bit;
		return;
	}
	c->seg_base[seg] = (uint32_t)s->base;
	limited = s->limit != 0xffffffffu || (s->s && (s->type & (T_CODE | T_DC)) == T_DC) ||
		  (s->unusable && cpu_pmode(c));
	if (limited)
		c->seg_limited |= bit;
	else
		c->seg_limited &= (uint8_t)~bit;
}

void cpu_mode_update(struct cpu *c)
{
	bool m64 = (c->sys.efer & X86_EFER_LMA) && c->sys.cs.l;
	uint8_t mode = m64 ? X86_MODE_64 : c->sys.cs.db ? X86_MODE_32 : X86_MODE_16;

	if (m64 != c->mode64 || mode != c->mode) {
		c->mode64 = m64;
		c->mode = mode;
		/* Blocks are keyed by mode: those of the old mode wait for its return. */
		cpu_blocks_retag(c);
		if (!c->pending_exit || c->pending_exit == CPU_EXIT_BLOCK)
			c->pending_exit = CPU_EXIT_RESELECT;
	}
	for (unsigned s = 0; s < 6; s++)
		seg_update(c, s);
}

void cpu_set_cpl(struct cpu *c, unsigned cpl)
{
	c->tlb = c->tlb_set[cpl == 3];
	c->cpl = cpl;
	cpu_blocks_retag(c);
}

void seg_check(struct cpu *c, unsigned seg, uint64_t off, unsigned sz)
{
	const struct x86_segment *s = seg_reg(c, seg);
	uint64_t last = off + sz - 1;
	bool bad;

	if (s->unusable && cpu_pmode(c))
		bad = true;
	else if (s->s && (s->type & (T_CODE | T_DC)) == T_DC)
		bad = off <= s->limit || last > (s->db ? 0xffffffffull : 0xffffull);
	else
		bad = last > s->limit;
	if (bad)
		cpu_raise(c, seg == X86_SEG_SS ? VEC_SS : VEC_GP, true, 0);
}

void desc_unpack(uint32_t lo, uint32_t hi, uint16_t sel, struct x86_segment *s)
{
	uint32_t limit = (lo & 0xffff) | (hi & 0xf0000);

	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u);
	s->type = (hi >> 8) & 0xf;
	s->s = (hi >> 12) & 1;
	s->dpl = (hi >> 13) & 3;
	s->present = (hi >> 15) & 1;
	s->avl = (hi >> 20) & 1;
	s->l = (hi >> 21) & 1;
	s->db = (hi >> 22) & 1;
	s->g = (hi >> 23) & 1;
	s->limit = s->g ? (limit << 12) | 0xfff : limit;
}

/* The linear address of sel's descriptor, or false when it is outside its table. */
static bool desc_addr(struct cpu *c, uint16_t sel, unsigned size, uint64_t *la)
{
	uint64_t base;
	uint32_t limit;

	if (sel & 4) {
		if (c->sys.ldt.unusable || !(c->sys.ldt.selector & ~3u) || !c->sys.ldt.present)
			return false;
		base = c->sys.ldt.base;
		limit = c->sys.ldt.limit;
	} else {
		base = c->sys.gdt.base;
		limit = c->sys.gdt.limit;
	}
	if ((uint32_t)(sel & ~7u) + size - 1 > limit)
		return false;
	*la = base + (sel & ~7u);
	if (!(c->sys.efer & X86_EFER_LMA))
		*la = (uint32_t)*la;
	return true;
}

bool desc_fetch(struct cpu *c, uint16_t sel, uint32_t d[2])
{
	uint64_t la, v;

	if (!desc_addr(c, sel, 8, &la))
		return false;
	v = sys_read(c, la, 8);
	d[0] = (uint32_t)v;
	d[1] = (uint32_t)(v >> 32);
	return true;
}

/* Sets the accessed bit in the descriptor as a segment load does. */
static void desc_touch(struct cpu *c, uint16_t sel, uint32_t hi)
{
	uint64_t la;

	if ((hi & (T_ACCESSED << 8)) || !desc_addr(c, sel, 8, &la))
		return;
	sys_write(c, la + 5, 1, (hi >> 8 | T_ACCESSED) & 0xff);
}

/* Real-mode (and virtual-8086) segment load: only selector and base change. */
static void seg_load_real(struct cpu *c, unsigned seg, uint16_t sel)
{
	struct x86_segment *s = seg_reg(c, seg);

	s->selector = sel;
	s->base = (uint32_t)sel << 4;
	s->unusable = 0;
	s->present = 1;
	seg_update(c, seg);
}

/*
 * The checks a stack segment for privilege level pl passes (SS loads,
 * inter-privilege returns and calls); vector is #GP or #TS for the
 * selector errors. Returns false when sel is null.
 */
static bool ss_fetch(struct cpu *c, uint16_t sel, unsigned pl, unsigned vector, uint32_t ext,
		     struct x86_segment *n)
{
	uint32_t d[2];

	if (!(sel & ~3u))
		return false;
	if (!desc_fetch(c, sel, d))
		cpu_raise(c, vector, true, SEL_ERR(sel) | ext);
	desc_unpack(d[0], d[1], sel, n);
	if ((sel & 3) != pl || n->dpl != pl || !n->s || (n->type & (T_CODE | T_RW)) != T_RW)
		cpu_raise(c, vector, true, SEL_ERR(sel) | ext);
	if (!n->present)
		cpu_raise(c, VEC_SS, true, SEL_ERR(sel) | ext);
	desc_touch(c, sel, d[1]);
	n->type |= T_ACCESSED;
	return true;
}

/* A null SS as 64-bit mode keeps it (privilege change into a 64-bit handler, returns). */
static void ss_null(struct x86_segment *n, uint16_t sel, unsigned pl)
{
	memset(n, 0, sizeof(*n));
	n->selector = sel;
	n->dpl = pl;
	n->unusable = 1;
	n->db = 1;
}

void seg_load(struct cpu *c, unsigned seg, uint16_t sel)
{
	struct x86_segment *s = seg_reg(c, seg), n;
	unsigned rpl = sel & 3;
	uint32_t d[2];

	if (!cpu_pmode(c) || (c->rflags & X86_RFLAGS_VM)) {
		seg_load_real(c, seg, sel);
		if (seg == X86_SEG_SS)
			c->intr_shadow = c->ss_shadow = true;
		return;
	}
	if (seg == X86_SEG_SS) {
		if (!ss_fetch(c, sel, c->cpl, VEC_GP, 0, &n)) {
			/* 64-bit mode allows a null SS below CPL 3 with RPL = CPL. */
			if (!c->mode64 || c->cpl == 3 || rpl != c->cpl)
				cpu_raise_gp0(c);
			ss_null(&n, sel, rpl);
		}
		*s = n;
		seg_update(c, seg);
		c->intr_shadow = c->ss_shadow = true;
		return;
	}
	if (!(sel & ~3u)) {
		/* A null selector loads an unusable segment; faults come on use. */
		memset(s, 0, sizeof(*s));
		s->selector = sel;
		s->unusable = 1;
		seg_update(c, seg);
		return;
	}
	if (!desc_fetch(c, sel, d))
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel));
	desc_unpack(d[0], d[1], sel, &n);
	if (!n.s || (n.type & (T_CODE | T_RW)) == T_CODE)
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel));
	/* Data and non-conforming code need RPL and CPL at most DPL. */
	if ((n.type & (T_CODE | T_DC)) != (T_CODE | T_DC) && (rpl > n.dpl || c->cpl > n.dpl))
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel));
	if (!n.present)
		cpu_raise(c, VEC_NP, true, SEL_ERR(sel));
	desc_touch(c, sel, d[1]);
	n.type |= T_ACCESSED;
	*s = n;
	seg_update(c, seg);
}

/*
 * A code segment for a far JMP/CALL/RET/IRET or an event to land in at
 * privilege pl (CODE_JMP: JMP/CALL rules, CPL unchanged; CODE_EVENT: the
 * caller checks DPL). Raises #GP/#NP on failure.
 */
#define CODE_JMP   (-1)
#define CODE_EVENT (-2)

static void code_fetch(struct cpu *c, uint16_t sel, int pl, uint32_t ext, struct x86_segment *n)
{
	uint32_t d[2];

	if (!(sel & ~3u))
		cpu_raise(c, VEC_GP, true, ext);
	if (!desc_fetch(c, sel, d))
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel) | ext);
	desc_unpack(d[0], d[1], sel, n);
	/* Call gates, task gates and TSS descriptors: not supported, #GP. */
	if (!n->s || !(n->type & T_CODE))
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel) | ext);
	if (pl == CODE_EVENT) {
		/* DPL <= CPL for every code segment: checked by the caller. */
	} else if (pl == CODE_JMP) {
		if (n->type & T_DC) {
			if (n->dpl > c->cpl)
				cpu_raise(c, VEC_GP, true, SEL_ERR(sel) | ext);
		} else if ((sel & 3u) > c->cpl || n->dpl != c->cpl) {
			cpu_raise(c, VEC_GP, true, SEL_ERR(sel) | ext);
		}
	} else if ((n->type & T_DC) ? n->dpl > (unsigned)pl : n->dpl != (unsigned)pl) {
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel) | ext);
	}
	if (!n->present)
		cpu_raise(c, VEC_NP, true, SEL_ERR(sel) | ext);
	if ((c->sys.efer & X86_EFER_LMA) && n->l && n->db)
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel) | ext);
	desc_touch(c, sel, d[1]);
	n->type |= T_ACCESSED;
}

static bool seg_is64(const struct cpu *c, const struct x86_segment *cs)
{
	return (c->sys.efer & X86_EFER_LMA) && cs->l;
}

/* The target offset of a far transfer into cs: canonical or inside the limit. */
static void target_check(struct cpu *c, const struct x86_segment *cs, uint64_t off)
{
	if (seg_is64(c, cs) ? !is_canonical(off) : off > cs->limit)
		cpu_raise_gp0(c);
}

void branch_check(struct cpu *c, uint64_t target)
{
	if (c->mode64 ? !is_canonical(target) : target > c->sys.cs.limit)
		cpu_raise_gp0(c);
}

static void cs_set(struct cpu *c, const struct x86_segment *n, unsigned cpl)
{
	c->sys.cs = *n;
	c->sys.cs.selector = (uint16_t)((n->selector & ~3u) | cpl);
	cpu_set_cpl(c, cpl);
	cpu_mode_update(c);
}

static void cs_set_real(struct cpu *c, uint16_t sel)
{
	c->sys.cs.selector = sel;
	c->sys.cs.base = (uint32_t)sel << 4;
	seg_update(c, X86_SEG_CS);
}

static uint64_t osz_mask(unsigned osz)
{
	return osz == 8 ? ~0ull : osz == 4 ? 0xffffffffull : 0xffffull;
}

void far_jmp(struct cpu *c, uint16_t sel, uint64_t off, unsigned osz)
{
	struct x86_segment n;

	off &= osz_mask(osz);
	if (!cpu_pmode(c) || (c->rflags & X86_RFLAGS_VM)) {
		if (off > c->sys.cs.limit)
			cpu_raise_gp0(c);
		cs_set_real(c, sel);
		c->next_rip = off;
		return;
	}
	code_fetch(c, sel, CODE_JMP, 0, &n);
	target_check(c, &n, off);
	cs_set(c, &n, c->cpl);
	c->next_rip = off;
}

void far_call(struct cpu *c, uint16_t sel, uint64_t off, unsigned osz)
{
	struct x86_segment n;
	struct stk k;

	off &= osz_mask(osz);
	stk_init(c, &k);
	if (!cpu_pmode(c) || (c->rflags & X86_RFLAGS_VM)) {
		if (off > c->sys.cs.limit)
			cpu_raise_gp0(c);
		stk_push(c, &k, osz, c->sys.cs.selector);
		stk_push(c, &k, osz, c->next_rip);
		stk_commit(c, &k);
		cs_set_real(c, sel);
		c->next_rip = off;
		return;
	}
	code_fetch(c, sel, CODE_JMP, 0, &n);
	target_check(c, &n, off);
	stk_push(c, &k, osz, c->sys.cs.selector);
	stk_push(c, &k, osz, c->next_rip);
	stk_commit(c, &k);
	cs_set(c, &n, c->cpl);
	c->next_rip = off;
}

/* After a return to an outer level: data segments the new CPL may not use become null. */
static void seg_drop_inner(struct cpu *c)
{
	static const unsigned segs[] = {X86_SEG_ES, X86_SEG_DS, X86_SEG_FS, X86_SEG_GS};

	for (unsigned i = 0; i < 4; i++) {
		struct x86_segment *s = seg_reg(c, segs[i]);
		bool conforming = (s->type & (T_CODE | T_DC)) == (T_CODE | T_DC);

		if (!s->unusable && s->dpl < c->cpl && !conforming) {
			uint64_t base = s->base;

			memset(s, 0, sizeof(*s));
			s->unusable = 1;
			/* 64-bit mode keeps FS/GS bases (MSR-loaded). */
			if (c->mode64 && segs[i] >= X86_SEG_FS)
				s->base = base;
			seg_update(c, segs[i]);
		}
	}
}

/* Loads SS:RSP popped by an inter-privilege RET or IRET (or a 64-bit IRET). */
static void ss_return(struct cpu *c, uint16_t sel, unsigned pl, const struct x86_segment *cs,
		      struct x86_segment *n)
{
	if (ss_fetch(c, sel, pl, VEC_GP, 0, n))
		return;
	/* 64-bit mode: a null SS is fine for a return to a 64-bit CPL 0-2. */
	if (!seg_is64(c, cs) || pl == 3 || (sel & 3u) != pl)
		cpu_raise_gp0(c);
	ss_null(n, sel, pl);
}

void far_ret(struct cpu *c, unsigned osz, unsigned release)
{
	struct x86_segment n, ss;
	struct stk k;
	uint64_t off, sp;
	uint16_t sel, ssel;
	unsigned rpl;

	stk_init(c, &k);
	off = stk_pop(c, &k, osz);
	sel = (uint16_t)stk_pop(c, &k, osz);
	if (!cpu_pmode(c) || (c->rflags & X86_RFLAGS_VM)) {
		if (off > c->sys.cs.limit)
			cpu_raise_gp0(c);
		k.sp = (k.sp + release) & k.mask;
		stk_commit(c, &k);
		cs_set_real(c, sel);
		c->next_rip = off;
		return;
	}
	rpl = sel & 3;
	if (!(sel & ~3u))
		cpu_raise_gp0(c);
	if (rpl < c->cpl)
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel));
	code_fetch(c, sel, (int)rpl, 0, &n);
	target_check(c, &n, off);
	k.sp = (k.sp + release) & k.mask;
	if (rpl == c->cpl) {
		stk_commit(c, &k);
		cs_set(c, &n, rpl);
		c->next_rip = off;
		return;
	}
	sp = stk_pop(c, &k, osz);
	ssel = (uint16_t)stk_pop(c, &k, osz);
	ss_return(c, ssel, rpl, &n, &ss);
	cs_set(c, &n, rpl);
	c->sys.ss = ss;
	seg_update(c, X86_SEG_SS);
	sp += release;
	if (c->mode64 || ss.db)
		c->gpr[X86_RSP] = c->mode64 ? sp : (uint32_t)sp;
	else
		reg_set(c, X86_RSP, 2, sp);
	seg_drop_inner(c);
	c->next_rip = off;
}

void exec_iret(struct cpu *c, const struct x86_insn *in)
{
	unsigned osz = in->osz, rpl, old_cpl = c->cpl, iopl;
	uint64_t fl = flags_get(c), nfl, ip, sp = 0, mask;
	struct x86_segment n, ss;
	uint16_t sel, ssel = 0;
	bool outer;
	struct stk k;

	stk_init(c, &k);
	if (!cpu_pmode(c)) {
		ip = stk_pop(c, &k, osz);
		sel = (uint16_t)stk_pop(c, &k, osz);
		nfl = stk_pop(c, &k, osz);
		if (ip > c->sys.cs.limit)
			cpu_raise_gp0(c);
		if (osz == 2)
			nfl = (fl & ~0xffffull) | (nfl & 0x7fd5);
		else
			nfl = (nfl & 0x257fd5) | (fl & 0x1a0000);
		stk_commit(c, &k);
		cs_set_real(c, sel);
		cpu_set_rflags(c, nfl | X86_RFLAGS_FIXED);
		cpu_if_enabled(c, fl, nfl);
		cpu_nmi_unblock(c);
		c->next_rip = ip;
		return;
	}
	/* Virtual-8086 mode and task returns are not supported. */
	if ((fl & X86_RFLAGS_VM) || (fl & X86_RFLAGS_NT))
		cpu_raise_gp0(c);
	ip = stk_pop(c, &k, osz);
	sel = (uint16_t)stk_pop(c, &k, osz);
	nfl = stk_pop(c, &k, osz);
	if (osz == 4 && (nfl & X86_RFLAGS_VM) && c->cpl == 0 && !(c->sys.efer & X86_EFER_LMA))
		cpu_raise_gp0(c);
	rpl = sel & 3;
	if (!(sel & ~3u))
		cpu_raise_gp0(c);
	if (rpl < c->cpl)
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel));
	code_fetch(c, sel, (int)rpl, 0, &n);
	target_check(c, &n, ip);
	outer = c->mode64 || rpl > c->cpl;
	if (outer) {
		sp = stk_pop(c, &k, osz);
		ssel = (uint16_t)stk_pop(c, &k, osz);
		ss_return(c, ssel, rpl, &n, &ss);
	}
	iopl = (fl >> 12) & 3;
	mask = FL_ARITH | X86_RFLAGS_TF | FL_DF | X86_RFLAGS_NT | X86_RFLAGS_RF | X86_RFLAGS_AC |
	       X86_RFLAGS_ID;
	if (old_cpl == 0)
		mask |= X86_RFLAGS_IOPL | X86_RFLAGS_IF | X86_RFLAGS_VIF | X86_RFLAGS_VIP;
	else if (old_cpl <= iopl)
		mask |= X86_RFLAGS_IF;
	if (osz == 2)
		mask &= 0xffff;
	nfl = (fl & ~mask) | (nfl & mask) | X86_RFLAGS_FIXED;
	if (!outer)
		stk_commit(c, &k);
	cs_set(c, &n, rpl);
	if (outer) {
		c->sys.ss = ss;
		seg_update(c, X86_SEG_SS);
		if (c->mode64 || osz == 8)
			c->gpr[X86_RSP] = sp;
		else if (ss.db)
			c->gpr[X86_RSP] = (uint32_t)sp;
		else
			reg_set(c, X86_RSP, 2, sp);
		if (rpl > old_cpl)
			seg_drop_inner(c);
	}
	cpu_set_rflags(c, nfl);
	cpu_if_enabled(c, fl, nfl);
	cpu_nmi_unblock(c);
	c->next_rip = ip;
}

/* ---- event delivery -------------------------------------------------------- */

/* Event kind beyond enum cpu_exc_kind: an external interrupt or NMI. */
#define EV_IRQ 3

struct event {
	uint8_t vector;
	uint8_t kind; /* enum cpu_exc_kind or EV_IRQ */
	bool has_err;
	uint32_t err;
	uint32_t ext; /* 1 for hardware events and exceptions: the EXT bit of error codes */
};

static void deliver_real(struct cpu *c, const struct event *ev, uint64_t fl)
{
	uint32_t ent;
	struct stk k;

	if (ev->vector * 4u + 3 > c->sys.idt.limit)
		cpu_raise_gp0(c);
	ent = (uint32_t)sys_read(c, c->sys.idt.base + ev->vector * 4u, 4);
	stk_init(c, &k);
	stk_push(c, &k, 2, fl);
	stk_push(c, &k, 2, c->sys.cs.selector);
	stk_push(c, &k, 2, c->rip);
	stk_commit(c, &k);
	cs_set_real(c, (uint16_t)(ent >> 16));
	cpu_set_rflags(
	    c, fl & ~(uint64_t)(X86_RFLAGS_IF | X86_RFLAGS_TF | X86_RFLAGS_AC | X86_RFLAGS_RF));
	c->rip = ent & 0xffff;
}

/* The stack pointer for privilege level pl from the current TSS (legacy layouts). */
static void tss_stack(struct cpu *c, unsigned pl, uint32_t ext, uint16_t *ss, uint64_t *sp)
{
	const struct x86_segment *tr = &c->sys.tr;
	bool tss32 = tr->type == 9 || tr->type == 11;
	unsigned off = tss32 ? 4 + 8 * pl : 2 + 4 * pl, w = tss32 ? 4 : 2;

	if (tr->unusable || !tr->present || off + 2 * w - 1 > tr->limit)
		cpu_raise(c, VEC_TS, true, SEL_ERR(tr->selector) | ext);
	*sp = sys_read(c, tr->base + off, w);
	*ss = (uint16_t)sys_read(c, tr->base + off + w, 2);
}

/* Reads the IDT gate of vector: lo, hi and (long mode) the upper offset. */
static void idt_gate(struct cpu *c, const struct event *ev, bool lm, uint32_t g[3])
{
	unsigned size = lm ? 16 : 8;
	uint32_t gerr = ev->vector * 8u + 2 + ev->ext;
	uint64_t v;

	if (ev->vector * size + size - 1 > c->sys.idt.limit)
		cpu_raise(c, VEC_GP, true, gerr);
	v = sys_read(c, c->sys.idt.base + ev->vector * size, 8);
	g[0] = (uint32_t)v;
	g[1] = (uint32_t)(v >> 32);
	g[2] = lm ? (uint32_t)sys_read(c, c->sys.idt.base + ev->vector * size + 8, 4) : 0;
}

static void deliver_protected(struct cpu *c, const struct event *ev, uint64_t fl)
{
	bool lm = c->sys.efer & X86_EFER_LMA, gate32, trap;
	uint32_t g[3], gerr = ev->vector * 8u + 2 + ev->ext;
	unsigned type, newcpl, w, old_cpl = c->cpl;
	struct x86_segment n, ss;
	uint16_t sel, ssel = 0;
	uint64_t off, sp = 0;
	struct stk k;

	idt_gate(c, ev, lm, g);
	type = (g[1] >> 8) & 0x1f; /* with S: a gate has it clear */
	if (lm) {
		if (type != 0xe && type != 0xf)
			cpu_raise(c, VEC_GP, true, gerr);
		gate32 = true;
	} else if (type == 0x6 || type == 0x7 || type == 0xe || type == 0xf) {
		gate32 = type & 8;
	} else {
		/* Task gates and anything else. */
		cpu_raise(c, VEC_GP, true, gerr);
	}
	trap = type & 1;
	if (ev->kind == CPU_EXC_SOFT && ((g[1] >> 13) & 3) < c->cpl)
		cpu_raise(c, VEC_GP, true, ev->vector * 8u + 2);
	if (!((g[1] >> 15) & 1))
		cpu_raise(c, VEC_NP, true, gerr);
	sel = (uint16_t)(g[0] >> 16);
	off = g[0] & 0xffff;
	if (gate32)
		off |= g[1] & 0xffff0000u;
	if (lm)
		off |= (uint64_t)g[2] << 32;
	code_fetch(c, sel, CODE_EVENT, ev->ext, &n);
	if (n.dpl > c->cpl)
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel) | ev->ext);
	if (lm && (!n.l || n.db))
		cpu_raise(c, VEC_GP, true, SEL_ERR(sel) | ev->ext);
	newcpl = (n.type & T_DC) ? c->cpl : n.dpl;
	target_check(c, &n, off);

	if (lm) {
		unsigned ist = g[1] & 7;

		if (ist || newcpl < c->cpl) {
			unsigned o = ist ? 0x24 + 8 * (ist - 1) : 4 + 8 * newcpl;

			if (c->sys.tr.unusable || o + 7 > c->sys.tr.limit)
				cpu_raise(c, VEC_TS, true, SEL_ERR(c->sys.tr.selector) | ev->ext);
			sp = sys_read(c, c->sys.tr.base + o, 8);
			if (!is_canonical(sp))
				cpu_raise(c, VEC_SS, true, ev->ext);
		} else {
			sp = c->gpr[X86_RSP];
		}
		k.sp = sp & ~0xfull;
		k.mask = ~0ull;
		k.base = 0;
		/* The pushes are supervisor accesses at the new level. */
		cpu_set_cpl(c, newcpl);
		stk_push(c, &k, 8, c->sys.ss.selector);
		stk_push(c, &k, 8, c->gpr[X86_RSP]);
		stk_push(c, &k, 8, fl);
		stk_push(c, &k, 8, c->sys.cs.selector);
		stk_push(c, &k, 8, c->rip);
		if (ev->has_err)
			stk_push(c, &k, 8, ev->err);
		if (newcpl < old_cpl) {
			ss_null(&ss, (uint16_t)newcpl, newcpl);
			c->sys.ss = ss;
		}
		c->gpr[X86_RSP] = k.sp;
	} else {
		w = gate32 ? 4 : 2;
		if (newcpl < c->cpl) {
			tss_stack(c, newcpl, ev->ext, &ssel, &sp);
			if (!ss_fetch(c, ssel, newcpl, VEC_TS, ev->ext, &ss))
				cpu_raise(c, VEC_TS, true, ev->ext);
			k.base = (uint32_t)ss.base;
			k.mask = ss.db ? 0xffffffffull : 0xffffull;
			k.sp = sp & k.mask;
			cpu_set_cpl(c, newcpl);
			stk_push(c, &k, w, c->sys.ss.selector);
			stk_push(c, &k, w, c->gpr[X86_RSP]);
		} else {
			stk_init(c, &k);
		}
		stk_push(c, &k, w, fl);
		stk_push(c, &k, w, c->sys.cs.selector);
		stk_push(c, &k, w, c->rip);
		if (ev->has_err)
			stk_push(c, &k, w, ev->err);
		if (newcpl < old_cpl) {
			c->sys.ss = ss;
			c->gpr[X86_RSP] = k.sp;
			if (!ss.db)
				c->gpr[X86_RSP] = (uint32_t)k.sp;
		} else {
			stk_commit(c, &k);
		}
	}
	cs_set(c, &n, newcpl);
	seg_update(c, X86_SEG_SS);
	fl &= ~(uint64_t)FL_EVENT_CLEAR;
	if (!trap)
		fl &= ~(uint64_t)X86_RFLAGS_IF;
	cpu_set_rflags(c, fl);
	c->rip = off;
}

static void deliver_one(struct cpu *c, const struct event *ev)
{
	uint64_t fl = flags_get(c);

	/* Faults push RF set so the handler's IRET does not re-trigger a breakpoint. */
	if (ev->kind == CPU_EXC_FAULT && ev->vector != VEC_DB)
		fl |= X86_RFLAGS_RF;
	if (!cpu_pmode(c))
		deliver_real(c, ev, fl);
	else
		deliver_protected(c, ev, fl);
}

/* Exception classes for the double-fault rules. */
enum { CLASS_BENIGN, CLASS_CONTRIBUTORY, CLASS_PF };

static int exc_class(const struct event *ev)
{
	if (ev->kind == EV_IRQ || ev->kind == CPU_EXC_SOFT)
		return CLASS_BENIGN;
	switch (ev->vector) {
	case VEC_DE:
	case VEC_TS:
	case VEC_NP:
	case VEC_SS:
	case VEC_GP:
		return CLASS_CONTRIBUTORY;
	case VEC_PF:
		return CLASS_PF;
	default:
		return CLASS_BENIGN;
	}
}

/*
 * Delivers ev; a fault while doing so is delivered instead, or escalates to
 * #DF, and a fault while delivering #DF is a triple fault (-1). Nothing of
 * a failed delivery is committed except descriptor accessed bits.
 */
static int deliver(struct cpu *c, struct event ev)
{
	unsigned cpl = c->cpl;

	c->pending_exit = 0;
	for (;;) {
		struct event nx;

		if (!setjmp(c->fault_jmp)) {
			deliver_one(c, &ev);
			c->intr_shadow = c->ss_shadow = false;
			if (c->pending_exit >= CPU_EXIT_RESELECT)
				c->pending_exit = 0;
			return 0;
		}
		cpu_set_cpl(c, cpl);
		if (ev.vector == VEC_DF && ev.kind == CPU_EXC_FAULT)
			return -1;
		/* A software interrupt that cannot be delivered faults on its own instruction. */
		if (ev.kind == CPU_EXC_SOFT)
			c->rip = c->soft_int_rip;
		nx = (struct event){.vector = c->exc.vector,
				    .kind = CPU_EXC_FAULT,
				    .has_err = c->exc.has_error,
				    .err = c->exc.error_code,
				    .ext = 1};
		if (nx.vector == VEC_PF)
			c->sys.cr2 = c->exc.cr2;
		int a = exc_class(&ev), b = exc_class(&nx);

		if ((a == CLASS_CONTRIBUTORY && b == CLASS_CONTRIBUTORY) ||
		    (a == CLASS_PF && b != CLASS_BENIGN))
			nx = (struct event){
			    .vector = VEC_DF, .kind = CPU_EXC_FAULT, .has_err = true, .ext = 1};
		ev = nx;
	}
}

int cpu_interrupt(struct cpu *c, uint8_t vector)
{
	return deliver(c, (struct event){.vector = vector, .kind = EV_IRQ, .ext = 1});
}

int cpu_nmi(struct cpu *c)
{
	int r;

	if (c->nmi_blocked)
		return 1;
	r = deliver(c, (struct event){.vector = VEC_NMI, .kind = EV_IRQ, .ext = 1});
	if (r == 0)
		c->nmi_blocked = true;
	return r;
}

int cpu_deliver_exception(struct cpu *c)
{
	struct event ev = {
	    .vector = c->exc.vector,
	    .kind = c->exc.kind,
	    .has_err = c->exc.has_error,
	    .err = c->exc.error_code,
	    .ext = c->exc.kind != CPU_EXC_SOFT,
	};

	if (ev.vector == VEC_PF)
		c->sys.cr2 = c->exc.cr2;
	/* INT3 and INTO are software events too, but their errors carry no EXT. */
	if (ev.vector == VEC_BP || ev.vector == VEC_OF)
		ev.ext = 0;
	if (deliver(c, ev) < 0)
		return -1;
	/*
	 * A MOV SS's data breakpoint whose next instruction raised something
	 * else (INT3, INT n, a fault): its #DB comes at the handler's first
	 * instruction, before that runs.
	 */
	if (c->dbg_pending) {
		dbg_report(c, 0);
		return deliver(c, (struct event){.vector = VEC_DB, .kind = CPU_EXC_TRAP, .ext = 1});
	}
	return 0;
}
