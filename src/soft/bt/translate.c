/*
 * soft/bt/translate.c: one guest basic block into host code.
 *
 * Register-to-register integer instructions are copied byte for byte
 * (guest and host registers are the same but for RSP, which is loaded into
 * a scratch register around an instruction that names it). A memory
 * operand becomes [scratch] after an inline, flag-free lookup in the TLB
 * (BMI2 shifts and JRCXZ: the guest's flags stay in the host's); a miss,
 * MMIO, a store to a page holding code or a page-crossing access goes to a
 * cold path that runs the instruction in the interpreter. Stack operations
 * and branches are rewritten; the rest runs in the interpreter, one
 * instruction at a time, with the guest state written back around it.
 */
#include <cpuid.h>

#include "soft/bt/bt_internal.h"

/* A path out of line: a TLB miss or another reason to let the interpreter run instruction k. */
struct cold {
	uint32_t jumps[4]; /* rel32s that go there */
	unsigned njumps;
	unsigned k;
	uint8_t regs[5]; /* scratch registers to restore first */
	unsigned nregs;
	bool flags; /* the guest flags from SFLAGS too */
	uint32_t resume;
	const struct cold *same; /* takes same's resume (a lookup's own registers restored first) */
};

/*
 * Consecutive instructions whose memory operands share a base register and
 * fall in one page: one lookup of the span they cover, then each accesses
 * [g + its offset]. A miss runs a second copy of them, each instruction
 * with its own lookup (and cold path), and joins after them.
 */
struct group {
	unsigned k, m;	 /* its instructions: k .. k + m - 1 */
	unsigned g;	 /* a borrowed register: the host address of base + lo */
	int64_t lo;	 /* the lowest displacement */
	uint32_t jumps[4]; /* rel32s to the second copy */
	unsigned njumps;
	uint32_t join;
};

struct tx {
	struct cpu *c;
	struct bt *bt;
	struct emit e;
	struct bt_block *b;
	struct bt_meta *m;
	unsigned n;
	bool user;
	unsigned ncold;
	uint32_t check_jumps[2];
	unsigned ncheck_jumps;
	unsigned check_at;
	bool check_clean;
	/*
	 * The clean check sits inside instruction check_at, a memory one:
	 * after its lookup (past which it cannot fault), before its access.
	 */
	bool check_inside;
	/*
	 * Pool registers no instruction of the block names: their guest
	 * values go to their spill slots once at the block's entry and come
	 * back at its exits, so in between they are scratch for free.
	 */
	uint32_t borrowed;
	/*
	 * NOREG, or a borrowed register that keeps guest RCX while the block's
	 * own code needs RCX (JRCXZ), when the block names RCX: a register
	 * move instead of a trip through memory.
	 */
	unsigned keep;
	unsigned ngroups;
	const struct group *in_group[BT_BLOCK_INSNS]; /* translated with its group's lookup */
	unsigned nside;
	/* Not cleared for each block (filled as they are used): */
	const uint8_t *raw[BT_BLOCK_INSNS];
	struct cold cold[BT_BLOCK_INSNS * 4];
	struct group groups[BT_BLOCK_INSNS / 2];
	/* Conditional branches inside the block: the taken way out of line. */
	struct side_exit {
		uint32_t jump;
		unsigned k;
	} side[BT_BLOCK_INSNS];
};

/* Scratch registers: never implicit operands (RAX, RCX, RDX), never awkward as a base. */
static const uint8_t pool[] = {RBX, RSI, RDI, R8, R9, R10, R11, R14, R15};

struct scratch {
	unsigned s0, s1, sub; /* sub: stands for RSP as a register operand, or NOREG */
};

static bool is_mem(const struct x86_insn *in)
{
	return in->flags & X86_F_MEM;
}

/* ModRM.reg names a general register operand. */
static bool g_is_gpr(const struct x86_insn *in)
{
	return in->form == X86_FORM_EG || in->form == X86_FORM_GE;
}

static unsigned low_reg(unsigned r)
{
	return r >= X86_REG_HIGH8 && r != X86_REG_NONE ? r - X86_REG_HIGH8 : r;
}

static bool uses_high8(const struct x86_insn *in)
{
	return (in->reg >= X86_REG_HIGH8 && in->reg != X86_REG_NONE) ||
	       (!is_mem(in) && in->rm >= X86_REG_HIGH8 && in->rm != X86_REG_NONE);
}

static bool is_string(const struct x86_insn *in)
{
	return in->op >= OP_MOVS && in->op <= OP_OUTS;
}

static uint32_t regs_used(const struct x86_insn *in)
{
	uint32_t m = 1u << RAX | 1u << RCX | 1u << RDX | 1u << RSP;

	if (in->reg != X86_REG_NONE)
		m |= 1u << low_reg(in->reg);
	if (!is_mem(in) && in->rm != X86_REG_NONE)
		m |= 1u << low_reg(in->rm);
	if (is_mem(in) && in->base != X86_REG_NONE)
		m |= 1u << in->base;
	if (is_mem(in) && in->index != X86_REG_NONE)
		m |= 1u << in->index;
	if (is_string(in))
		m |= 1u << RSI | 1u << RDI; /* string instructions name them implicitly */
	return m;
}

/*
 * A pool register not in avoid: a borrowed one if there is one (it costs
 * no spill), else the first; NOREG when none is left (or none borrowed and
 * borrowed_only).
 */
static unsigned pick_pool(const struct tx *t, uint32_t avoid, bool borrowed_only)
{
	unsigned got = NOREG;

	for (unsigned i = 0; i < sizeof(pool); i++) {
		unsigned r = pool[i];

		if ((avoid & (1u << r)) || r == t->keep)
			continue;
		if (t->borrowed & (1u << r))
			return r;
		if (got == NOREG && !borrowed_only)
			got = r;
	}
	return got;
}

static bool pick_scratch(const struct tx *t, const struct x86_insn *in, bool need_sub,
			 struct scratch *s)
{
	uint32_t used = regs_used(in);
	unsigned got[3], n = 0, want = need_sub ? 3 : 2, order[sizeof(pool)], norder = 0;
	bool low = uses_high8(in);

	/* Borrowed registers first: they cost no spill. */
	for (unsigned i = 0; i < sizeof(pool); i++)
		if (t->borrowed & (1u << pool[i]))
			order[norder++] = pool[i];
	for (unsigned i = 0; i < sizeof(pool); i++)
		if (!(t->borrowed & (1u << pool[i])))
			order[norder++] = pool[i];
	/*
	 * s0 (the new memory base) and sub appear in the re-encoded
	 * instruction: next to AH..BH they must encode without REX.
	 */
	for (unsigned pass = 0; pass < 2 && n < want; pass++) {
		for (unsigned i = 0; i < norder && n < want; i++) {
			unsigned r = order[i];

			if ((used & (1u << r)) || (pass == 0 && low && r >= 8) || (pass == 1 && low && r < 8))
				continue;
			got[n++] = r;
		}
	}
	if (n < want || (low && (got[0] >= 8 || (need_sub && got[1] >= 8))))
		return false;
	s->s0 = got[0];
	s->sub = need_sub ? got[1] : NOREG;
	s->s1 = got[need_sub ? 2 : 1];
	return true;
}

/* Saves guest r in its slot before it serves as scratch (a borrowed one is saved already). */
static void e_take(struct tx *t, unsigned r)
{
	if (r == RCX && t->keep != NOREG)
		e_mov(&t->e, t->keep, RCX);
	else if (r != NOREG && !(t->borrowed & (1u << r)))
		e_st(&t->e, SPILL(r), r);
}

/* Guest r back from where e_take put it, whether or not it is borrowed. */
static void e_restore(struct tx *t, unsigned r)
{
	if (r == RCX && t->keep != NOREG)
		e_mov(&t->e, RCX, t->keep);
	else
		e_ld(&t->e, r, SPILL(r));
}

static void e_give_back(struct tx *t, unsigned r)
{
	if (r != NOREG && !(t->borrowed & (1u << r)))
		e_restore(t, r);
}

/* A call site's scratch registers. */
static void e_spill(struct tx *t, const struct scratch *s)
{
	e_take(t, s->s0);
	e_take(t, s->s1);
	e_take(t, s->sub);
}

static void e_unspill(struct tx *t, const struct scratch *s)
{
	e_give_back(t, s->sub);
	e_give_back(t, s->s1);
	e_give_back(t, s->s0);
}

/* The borrowed registers' guest values: into the slots at the entry, back at every exit. */
static void e_borrow(struct tx *t)
{
	for (unsigned r = 0; r < 16; r++)
		if (t->borrowed & (1u << r))
			e_st(&t->e, SPILL(r), r);
}

static void e_return_borrowed(struct tx *t)
{
	for (unsigned r = 0; r < 16; r++)
		if (t->borrowed & (1u << r))
			e_ld(&t->e, r, SPILL(r));
}

static struct cold *cold_new(struct tx *t, unsigned k, const struct scratch *s, bool flags)
{
	struct cold *cd = &t->cold[t->ncold++];

	memset(cd, 0, sizeof(*cd));
	cd->k = k;
	cd->flags = flags;
	if (s) {
		const unsigned regs[3] = {s->s0, s->s1, s->sub};

		for (unsigned i = 0; i < 3; i++)
			if (regs[i] != NOREG && !(t->borrowed & (1u << regs[i])))
				cd->regs[cd->nregs++] = (uint8_t)regs[i];
	}
	return cd;
}

/* The interpreter runs instruction k (guest state in registers, as the instruction sees it). */
static void e_helper(struct tx *t, unsigned k)
{
	e_return_borrowed(t);
	e_st(&t->e, GPR(RAX), RAX);
	e_movi64(&t->e, RAX, (uint64_t)(uintptr_t)&t->m[k]);
	e_call(&t->e, t->bt->stub_helper);
	/* The instruction may have written one of them (CPUID writes RBX, say). */
	e_borrow(t);
}

/*
 * dst = the offset of in's memory operand (the lookup adds an FS or GS
 * base). Touches no flags.
 */
static void e_la(struct tx *t, const struct x86_insn *in, uint64_t next_rip, unsigned dst)
{
	struct emit *e = &t->e;
	unsigned base = in->base, index = in->index;

	if (in->flags & X86_F_RIPREL) {
		uint64_t v = next_rip + (uint64_t)(int64_t)in->disp;

		e_movi64(e, dst, in->asz == 4 ? (uint32_t)v : v);
	} else if (base == X86_REG_NONE && index == X86_REG_NONE) {
		int64_t d = in->disp;

		e_movi64(e, dst, in->asz == 4 ? (uint32_t)d : (uint64_t)d);
	} else {
		if (base == RSP) {
			e_ld(e, dst, GPR(RSP));
			base = dst;
		}
		e_rm(e, E_W | (in->asz == 4 ? E_67 : 0), 0x8d, 1, dst,
		     base == X86_REG_NONE ? NOREG : base, index == X86_REG_NONE ? NOREG : index,
		     in->scale, in->disp);
	}
}

/* A register of the pool for the inline lookup: not the instruction's, not s's. */
static unsigned pick_lookup_reg(const struct tx *t, const struct x86_insn *in,
				const struct scratch *s)
{
	return pick_pool(t, regs_used(in) | 1u << s->s0 | 1u << s->s1 |
				    (s->sub != NOREG ? 1u << s->sub : 0),
			 false);
}

/* A miss goes to cd, after restoring what the lookup took for itself. */
static struct cold *miss_path(struct tx *t, struct cold *cd, const unsigned *taken, unsigned ntaken)
{
	struct cold *m;

	if (!ntaken)
		return cd;
	m = &t->cold[t->ncold++];
	*m = *cd;
	m->njumps = 0;
	m->same = cd;
	for (unsigned i = 0; i < ntaken; i++)
		m->regs[m->nregs++] = (uint8_t)taken[i];
	return m;
}

/* Where a lookup goes when it misses: cd's cold path, or grp's second copy. */
static void e_miss(struct tx *t, struct cold *miss, struct group *grp, const unsigned *taken,
		   unsigned ntaken)
{
	struct emit *e = &t->e;

	if (miss) {
		e_jrcxz(e, 5);
		miss->jumps[miss->njumps++] = e_jmp(e, 0);
		return;
	}
	/* Inline, skipped on a hit: what the lookup took goes back first. */
	uint32_t over = e_pos(e);

	e_jrcxz(e, 0);
	for (unsigned i = 0; i < ntaken; i++)
		e_restore(t, taken[i]);
	grp->jumps[grp->njumps++] = e_jmp(e, 0);
	if (!e->overflow) {
		assert(e_pos(e) - (over + 2) < 128);
		e->base[over + 1] = (uint8_t)(e_pos(e) - (over + 2));
	}
}

/*
 * s0 = the host address of the sz bytes at linear address s0 (+ the FS or
 * GS base when seg is one), through the TLB of the block's privilege (the
 * entry, then its victim), inline and flag-free (BMI2 shifts, LEA,
 * JRCXZ). s1 is free here and serves as the index; a third register and
 * RCX are borrowed or saved. A page not cached, MMIO, a store to a page
 * holding translated code, a page-crossing or a misaligned aligned-SSE
 * access goes to cd.
 *
 * For a group (cd NULL, grp set) s1 was taken by the caller and goes back
 * on a miss too; align_off >= 0: s0 + align_off must be 16-byte aligned.
 * cnt, unless NOREG, holds a count of elements of sz = 1 << shift bytes
 * (at most a page of them; 0 goes to the miss path too).
 */
static void e_access_n(struct tx *t, const struct scratch *s, unsigned sz, unsigned cnt,
		       unsigned shift, bool write, unsigned seg, int32_t align_off, struct cold *cd,
		       struct group *grp)
{
	struct emit *e = &t->e;
	const struct x86_insn *in = &t->m[cd ? cd->k : grp->k].in;
	unsigned acc = write ? CPU_ACCESS_WRITE : CPU_ACCESS_READ;
	int32_t tlb = OFF(tlb_set) + (int32_t)(((t->user ? CPU_NR_ACCESS : 0) + acc) * 2 *
					       CPU_TLB_SIZE * sizeof(struct cpu_tlb_entry));
	/* The victim entry is this many 8-byte steps of ix further on. */
	int32_t victim = (int32_t)(CPU_TLB_SIZE * sizeof(struct cpu_tlb_entry) / 8);
	unsigned s0 = s->s0, ix = s->s1, tmp = pick_lookup_reg(t, in, s), taken[3], ntaken = 0;
	struct cold *miss = NULL;
	bool byte = sz == 1 && cnt == NOREG;
	uint32_t over = 0;

	if (!(t->borrowed & (1u << RCX)))
		taken[ntaken++] = RCX;
	if (!(t->borrowed & (1u << tmp)))
		taken[ntaken++] = tmp;
	if (cd)
		miss = miss_path(t, cd, taken, ntaken);
	else if (!(t->borrowed & (1u << ix)))
		taken[ntaken++] = ix;
	e_take(t, RCX);
	e_take(t, tmp);
	if (seg == X86_SEG_FS || seg == X86_SEG_GS) {
		e_ld(e, tmp, OFF(seg_base) + 8 * (int32_t)seg);
		e_lea(e, s0, s0, tmp, 0, 0);
	}
	e_movi32(e, tmp, 12);
	if (byte) {
		/* One byte: its page number is the one to compare, and gives the index. */
		e_shx(e, SHRX, RCX, s0, tmp);
		e_rr(e, E_REX, 0x0fb6, 2, ix, RCX); /* movzx ix, cl: the index */
	} else {
		e_shx(e, SHRX, ix, s0, tmp);
		e_rr(e, E_REX, 0x0fb6, 2, ix, ix); /* movzx ix, ix8: the index */
	}
	e_lea(e, ix, ix, ix, 2, 0); /* x5, and x8 below: 40-byte entries */
	for (unsigned way = 0; way < 2; way++) {
		if (way) {
			/* Not the entry: its victim, skipped over on a hit. */
			over = e_pos(e);
			e_jrcxz(e, 0);
			e_movi32(e, tmp, 12);
		}
		if (way || !byte) { /* else RCX holds the byte's page number already */
			if (cnt == NOREG)
				e_lea(e, RCX, s0, NOREG, 0, (int32_t)sz - 1);
			else
				e_lea(e, RCX, s0, cnt, shift, -1);
			e_shx(e, SHRX, RCX, RCX, tmp); /* the page number of the last byte */
		}
		e_rm(e, E_W | E_GS, 0x8b, 1, tmp, NOREG, ix, 3,
		     tlb + (int32_t)offsetof(struct cpu_tlb_entry, ntag) + (way ? 8 * victim : 0));
		e_lea(e, RCX, RCX, tmp, 0, 0); /* zero when it is the entry's */
	}
	e_miss(t, miss, grp, taken, ntaken);
	e_lea(e, ix, ix, NOREG, 0, victim); /* the victim's fields from here on */
	if (!e->overflow) {
		assert(e_pos(e) - (over + 2) < 128);
		e->base[over + 1] = (uint8_t)(e_pos(e) - (over + 2)); /* the hit's JRCXZ lands here */
	}
	if (write) {
		/* A page with translated code takes the interpreter's store, which retires it. */
		e_rm(e, E_W | E_GS, 0x8b, 1, RCX, NOREG, ix, 3,
		     tlb + (int32_t)offsetof(struct cpu_tlb_entry, code));
		e_rm(e, 0, 0x8b, 1, RCX, RCX, NOREG, 0, 0);
		e_movi32(e, tmp, 63);
		e_shx(e, SHLX, RCX, RCX, tmp);
		e_miss(t, miss, grp, taken, ntaken);
	}
	e_rm(e, E_W | E_GS, 0x8b, 1, tmp, NOREG, ix, 3,
	     tlb + (int32_t)offsetof(struct cpu_tlb_entry, addend));
	e_lea(e, s0, s0, tmp, 0, 0);
	if (align_off >= 0) {
		/* SSE's aligned forms: #GP for a misaligned operand, from the interpreter. */
		e_lea(e, RCX, s0, NOREG, 0, align_off);
		e_movi32(e, tmp, 60);
		e_shx(e, SHLX, RCX, RCX, tmp);
		e_miss(t, miss, grp, taken, ntaken);
	}
	e_give_back(t, tmp);
	e_give_back(t, RCX);
}

static void e_access(struct tx *t, const struct scratch *s, unsigned sz, bool write, unsigned seg,
		     bool align16, struct cold *cd)
{
	e_access_n(t, s, sz, NOREG, 0, write, seg, align16 ? 0 : -1, cd, NULL);
}

/* ModRM.reg and ModRM.rm of in as encoded (REX.R and REX.B included). */
static void modrm_fields(const uint8_t *raw, const struct x86_insn *in, unsigned *regf,
			 unsigned *rmf)
{
	unsigned rex = (in->flags & X86_F_REX) ? raw[in->opc_at - 1] : 0;
	unsigned modrm = raw[in->modrm_at];

	*regf = ((modrm >> 3) & 7) | (rex & 4 ? 8 : 0);
	*rmf = (modrm & 7) | (rex & 1 ? 8 : 0);
}

/*
 * Emits in from its own bytes with ModRM.reg = regf and ModRM.rm = rmf, or
 * [rmf] when mem (then without address-size and segment prefixes: the
 * address is already linear). A REX the instruction had stays, even an
 * empty one: it selects SPL..DIL over AH..BH.
 */
static void e_reencode_fields(struct emit *e, const uint8_t *raw, const struct x86_insn *in,
			      unsigned regf, unsigned rmf, bool mem, int32_t disp)
{
	unsigned rex = (in->flags & X86_F_REX) ? raw[in->opc_at - 1] : 0;
	unsigned nrex = (rex & 8) | (regf & 8 ? 4 : 0) | (rmf & 8 ? 1 : 0), i;

	for (i = 0; i < in->opc_at; i++) {
		uint8_t p = raw[i];

		if ((p & 0xf0) == 0x40)
			continue;
		if (mem && (p == 0x67 || p == 0x26 || p == 0x2e || p == 0x36 || p == 0x3e ||
			    p == 0x64 || p == 0x65))
			continue;
		b1(e, p);
	}
	if (nrex || rex)
		b1(e, 0x40 | nrex);
	for (i = in->opc_at; i < in->modrm_at; i++)
		b1(e, raw[i]);
	/* rmf is never RSP/R12 or RBP/R13 here: no SIB, no RIP-relative form. */
	b1(e, (!mem ? 0xc0 : disp ? 0x80 : 0) | (regf & 7) << 3 | (rmf & 7));
	if (mem && disp)
		b4(e, (uint32_t)disp);
	for (i = in->imm_at; i < in->len; i++)
		b1(e, raw[i]);
}

/* Emits in with [mem + disp] for its memory operand (NOREG: none) and sub for RSP as a register. */
static void e_reencode(struct emit *e, const uint8_t *raw, const struct x86_insn *in, unsigned mem,
		       int32_t disp, unsigned sub)
{
	unsigned regf, rmf;

	modrm_fields(raw, in, &regf, &rmf);
	if (sub != NOREG && g_is_gpr(in) && in->reg == RSP)
		regf = sub;
	if (mem != NOREG)
		rmf = mem;
	else if (sub != NOREG && in->rm == RSP)
		rmf = sub;
	e_reencode_fields(e, raw, in, regf, rmf, mem != NOREG, disp);
}

/* ---- which instructions run as themselves --------------------------------- */

void bt_host_features(struct host_feat *hf)
{
	unsigned a, b, c, d;
	struct host_feat f = {0};

	if (__get_cpuid(1, &a, &b, &c, &d))
		f.popcnt = c & (1u << 23);
	if (__get_cpuid(0x80000001, &a, &b, &c, &d))
		f.lzcnt = c & (1u << 5);
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
		f.tzcnt = b & (1u << 3);
	*hf = f;
}

/* Integer instructions whose host execution is the guest's, given the same operands. */
static bool copyable(const struct x86_insn *in, const struct host_feat *f)
{
	bool mem = is_mem(in);

	if (in->flags & X86_F_MOFFS)
		return false;
	switch (in->op) {
	case OP_ALU:
	case OP_TEST:
	case OP_INC:
	case OP_DEC:
	case OP_NOT:
	case OP_NEG:
	case OP_MUL:
	case OP_IMUL1:
	case OP_IMUL2:
	case OP_IMUL3:
	case OP_SHIFT:
	case OP_SHLD:
	case OP_SHRD:
	case OP_MOV:
	case OP_MOVZX:
	case OP_MOVSX:
	case OP_XCHG:
	case OP_SETCC:
	case OP_CMOVCC:
	case OP_BSF:
	case OP_BSR:
	case OP_CMPXCHG:
	case OP_XADD:
		return true;
	case OP_CBW:
	case OP_CWD:
	case OP_BSWAP:
	case OP_LAHF:
	case OP_SAHF:
		return !mem;
	case OP_BT: /* a register bit offset can reach past the operand in memory */
		return !mem || in->form == X86_FORM_EI;
	case OP_FLAG:
		return in->sub <= 2; /* CLC, STC, CMC; not CLD/STD */
	case OP_NOP:
		/* PAUSE counts towards spin-loop exits. */
		return !(in->map == 0 && in->opc == 0x90 && (in->flags & X86_F_REP));
	case OP_POPCNT:
		return f->popcnt;
	case OP_LZCNT:
		return f->lzcnt;
	case OP_TZCNT:
		return f->tzcnt;
	default:
		return false;
	}
}

/* Bytes the memory operand spans, and whether it is written. */
static unsigned mem_size(const struct x86_insn *in)
{
	if (in->op == OP_MOVZX || in->op == OP_MOVSX)
		return in->ssz;
	if (in->op == OP_SETCC)
		return 1;
	return in->osz;
}

static bool mem_writes(const struct x86_insn *in)
{
	switch (in->op) {
	case OP_BT:
		return in->sub != 0; /* BTS, BTR, BTC */
	case OP_ALU:
		return in->sub != 7 && in->form != X86_FORM_GE;
	case OP_MOV:
		return in->form != X86_FORM_GE;
	case OP_SETCC:
	case OP_INC:
	case OP_DEC:
	case OP_NOT:
	case OP_NEG:
	case OP_SHIFT:
	case OP_SHLD:
	case OP_SHRD:
	case OP_XCHG:
	case OP_CMPXCHG:
	case OP_XADD:
		return true;
	default:
		return false;
	}
}

static bool uses_rsp_reg(const struct x86_insn *in)
{
	return (g_is_gpr(in) && in->reg == RSP) ||
	       (!is_mem(in) && in->form != X86_FORM_NONE && in->rm == RSP);
}

/* Reads or writes an arithmetic flag (what runs in the interpreter does both). */
static bool touches_flags(const struct x86_insn *in, const struct host_feat *f)
{
	switch (in->op) {
	case OP_MOV:
	case OP_MOVZX:
	case OP_MOVSX:
	case OP_XCHG:
	case OP_LEA:
	case OP_BSWAP:
	case OP_CBW:
	case OP_CWD:
		return false;
	case OP_NOP:
		return !copyable(in, f);
	default:
		return true;
	}
}

/* A register-only instruction that sets every arithmetic flag and reads none. */
static bool kills_flags_op(const struct x86_insn *in, const struct host_feat *f)
{
	unsigned mask = in->osz == 8 ? 63 : 31;

	if (!copyable(in, f) || uses_rsp_reg(in))
		return false;
	switch (in->op) {
	case OP_ALU:
		return in->sub != 2 && in->sub != 3;
	case OP_TEST:
	case OP_NEG:
	case OP_MUL:
	case OP_IMUL1:
	case OP_IMUL2:
	case OP_IMUL3:
	case OP_POPCNT:
	case OP_CMPXCHG:
	case OP_XADD:
		return true;
	case OP_SHIFT:
		return in->sub >= 4 && !(in->flags & X86_F_IMM_CL) &&
		       ((in->flags & X86_F_IMM_ONE) || (in->imm & mask));
	default:
		return false;
	}
}

static bool kills_flags(const struct x86_insn *in, const struct host_feat *f)
{
	return !is_mem(in) && kills_flags_op(in, f);
}

/* ---- exits ---------------------------------------------------------------- */

/*
 * Whether rip's block can change without this one's doing (another page,
 * or one that may run on into the next): no patched jump goes there.
 */
static bool is_far(const struct tx *t, uint64_t rip)
{
	return ((rip ^ t->b->la) >> 12) || (rip & 0xfff) >= BT_PAGE_TAIL;
}

/* The exit record's half of an exit: tells the dispatcher where it came from and goes there. */
static void e_exit_record(struct tx *t, uint64_t rip, uint32_t at, uint32_t at_lent, bool chainable)
{
	struct emit *e = &t->e;
	struct bt_exit *x = bt_meta_alloc(t->bt, sizeof(*x));

	e_st32i(e, OFF(rip), (uint32_t)rip);
	e_st32i(e, OFF(rip) + 4, (uint32_t)(rip >> 32));
	if (x) {
		x->from = t->b;
		x->target = rip;
		x->patch = chainable ? at : 0;
		x->patch_lent = chainable ? at_lent : 0;
		e_st32i(e, OFF(bt_exit), (uint32_t)((uint8_t *)x - t->bt->meta));
	} else {
		e_st32i(e, OFF(bt_exit), 0);
	}
	e_jmp(e, t->bt->stub_exit);
}

/* e_exit, from code where the borrowed registers hold their guest values already. */
static void e_exit_lent(struct tx *t, uint64_t rip, bool chainable)
{
	struct emit *e = &t->e;

	/* No patched jump: the jump cache finds it without leaving. */
	if (chainable && is_far(t, rip)) {
		e_flags_save_clobber(e);
		e_movi64(e, RAX, rip);
		e_jmp(e, t->bt->stub_lookup);
		return;
	}
	e_exit_record(t, rip, e_jmp(e, e_pos(e) + 5), 0, chainable);
}

/*
 * Leaves the block for rip: a jmp that at first falls into a stub telling
 * the dispatcher where it came from, and is patched to jump to the next
 * block directly once the dispatcher found it (chain).
 */
static void e_exit(struct tx *t, uint64_t rip, bool chainable)
{
	struct emit *e = &t->e;
	uint32_t at_lent;

	if (!chainable || !t->borrowed || is_far(t, rip)) {
		e_return_borrowed(t);
		e_exit_lent(t, rip, chainable);
		return;
	}
	at_lent = e_jmp(e, e_pos(e) + 5);
	e_return_borrowed(t);
	e_exit_record(t, rip, e_jmp(e, e_pos(e) + 5), at_lent, chainable);
}

/*
 * Where a RET lands when it returns to the CALL before it: RAX holds its
 * target, SPILL(RAX) guest RAX, SFLAGS the guest flags (as the lookup stub
 * takes them). The target is ra most of the time: then on to ra's block.
 */
static void e_return_point(struct tx *t, uint64_t ra)
{
	struct emit *e = &t->e;

	if (is_far(t, ra)) {
		e_jmp(e, t->bt->stub_lookup);
		return;
	}
	if ((uint64_t)(int64_t)(int32_t)ra == ra) {
		e_rr(e, E_W, 0x81, 1, 7, RAX); /* cmp rax, imm32 */
		b4(e, (uint32_t)ra);
	} else {
		e_st(e, SPILL(RCX), RCX);
		e_movi64(e, RCX, ra);
		e_rr(e, E_W, 0x39, 1, RCX, RAX); /* cmp rax, rcx */
		e_ld(e, RCX, SPILL(RCX));
	}
	e_jcc(e, 5, t->bt->stub_lookup); /* jne */
	e_flags_restore(e);
	e_exit_lent(t, ra, true);
}

/*
 * A CALL's way to its target: a host CALL, so that the host's return
 * stack predicts the RET that comes back to ra (the RET ends in a host
 * RET; see e_return_point). The host stack grows by 8 bytes a call until
 * the vCPU leaves translated code; bt_run bounds the instructions, hence
 * the calls, of one stay.
 */
static void e_call_exit(struct tx *t, uint64_t target, uint64_t ra)
{
	struct emit *e = &t->e;
	uint32_t at;

	e_return_borrowed(t);
	if (is_far(t, target)) {
		e_flags_save_clobber(e);
		e_movi64(e, RAX, target);
		e_call(e, t->bt->stub_lookup);
		e_return_point(t, ra);
		return;
	}
	at = e_call(e, 0);
	e_return_point(t, ra);
	e_patch(e, at, e_pos(e));
	e_exit_record(t, target, at, 0, true);
}

/* ---- instruction translators ---------------------------------------------- */

static void tx_reg_rsp(struct tx *t, unsigned k)
{
	const struct x86_insn *in = &t->m[k].in;
	struct emit *e = &t->e;
	struct scratch s;

	if (!pick_scratch(t, in, true, &s)) {
		e_helper(t, k);
		return;
	}
	e_take(t, s.sub);
	e_ld(e, s.sub, GPR(RSP));
	e_reencode(e, t->raw[k], in, NOREG, 0, s.sub);
	e_st(e, GPR(RSP), s.sub);
	e_give_back(t, s.sub);
}

static void e_check(struct tx *t);

/* An inside check that cannot be: the flag-free one, before instruction k. */
static void e_check_before(struct tx *t, unsigned k)
{
	t->check_inside = false;
	t->check_clean = false;
	for (unsigned i = 0; i < t->n; i++)
		t->m[i].check = (uint16_t)k;
	e_check(t);
}

static void tx_mem(struct tx *t, unsigned k)
{
	const struct x86_insn *in = &t->m[k].in;
	struct emit *e = &t->e;
	bool sub = g_is_gpr(in) && in->reg == RSP;
	const struct group *grp = t->in_group[k];
	struct scratch s;
	struct cold *cd;

	if (grp) {
		e_reencode(e, t->raw[k], in, grp->g, (int32_t)(in->disp - grp->lo), NOREG);
		return;
	}
	if (!pick_scratch(t, in, sub, &s)) {
		if (k == t->check_at && t->check_inside)
			e_check_before(t, k);
		e_helper(t, k);
		return;
	}
	if (k == t->check_at && t->check_inside &&
	    (!(t->borrowed & (1u << s.s0)) || !(t->borrowed & (1u << s.s1))))
		e_check_before(t, k); /* its exit could not give back a taken register */
	cd = cold_new(t, k, &s, false);
	e_spill(t, &s);
	e_la(t, in, t->m[k].rip + in->len, s.s0);
	e_access(t, &s, mem_size(in), mem_writes(in), in->seg, false, cd);
	if (k == t->check_at && t->check_inside)
		e_check(t);
	if (sub)
		e_ld(e, s.sub, GPR(RSP));
	e_reencode(e, t->raw[k], in, s.s0, 0, sub ? s.sub : NOREG);
	if (sub)
		e_st(e, GPR(RSP), s.sub);
	e_unspill(t, &s);
	cd->resume = e_pos(e);
}

static void tx_lea(struct tx *t, unsigned k)
{
	const struct x86_insn *in = &t->m[k].in;
	struct emit *e = &t->e;
	struct scratch s;

	if (!(in->flags & X86_F_RIPREL) && in->base != RSP && in->reg != RSP) {
		for (unsigned i = 0; i < in->len; i++)
			b1(e, t->raw[k][i]);
		return;
	}
	if (in->osz == 2 || !pick_scratch(t, in, false, &s)) {
		e_helper(t, k);
		return;
	}
	e_take(t, s.s0);
	e_la(t, in, t->m[k].rip + in->len, s.s0);
	if (in->osz == 4)
		e_rr(e, 0, 0x89, 1, s.s0, s.s0); /* mov s0d, s0d */
	if (in->reg == RSP)
		e_st(e, GPR(RSP), s.s0);
	else
		e_mov(e, in->reg, s.s0);
	e_give_back(t, s.s0);
}

/*
 * REP MOVS and REP STOS with DF clear, when the bytes they read and write
 * each lie in one page (RCX elements at most a page): the host's own REP
 * MOVS/STOS on the host addresses, then RSI/RDI advanced and RCX zero.
 * Anything else (DF set, RCX zero or too large, a miss, MMIO, a store to
 * code) runs in the interpreter.
 */
static bool tx_rep_str(struct tx *t, unsigned k)
{
	const struct x86_insn *in = &t->m[k].in;
	struct emit *e = &t->e;
	bool movs = in->op == OP_MOVS;
	unsigned osz = in->osz, sc = osz == 8 ? 3 : osz == 4 ? 2 : osz == 2 ? 1 : 0, cnt;
	struct scratch s;
	struct cold *cd;

	if (!(in->flags & X86_F_REP) || (in->flags & (X86_F_REPNE | X86_F_LOCK)) || in->asz != 8 ||
	    (movs && (in->seg == X86_SEG_FS || in->seg == X86_SEG_GS)) ||
	    !pick_scratch(t, in, true, &s))
		return false;
	cnt = s.sub;
	cd = cold_new(t, k, &s, false);
	e_spill(t, &s);
	/* DF (RFLAGS bit 10) into RCX for JRCXZ; the interpreter takes DF set. */
	e_st(e, SPILL(RCX), RCX);
	e_ld(e, RCX, OFF(rflags));
	e_movi32(e, s.s1, 53);
	e_shx(e, SHLX, RCX, RCX, s.s1);
	e_movi32(e, s.s1, 63);
	e_shx(e, SHRX, RCX, RCX, s.s1);
	e_jrcxz(e, 9 + 5);
	e_ld(e, RCX, SPILL(RCX)); /* 9 bytes */
	cd->jumps[cd->njumps++] = e_jmp(e, 0);
	/*
	 * Fewer than 8 KiB of elements, or cnt * osz could wrap around to the
	 * first page and pass the page check below.
	 */
	e_ld(e, RCX, SPILL(RCX));
	e_mov(e, cnt, RCX);
	e_movi32(e, s.s1, 13 - sc);
	e_shx(e, SHRX, RCX, RCX, s.s1);
	e_jrcxz(e, 9 + 5);
	e_ld(e, RCX, SPILL(RCX)); /* 9 bytes */
	cd->jumps[cd->njumps++] = e_jmp(e, 0);
	e_ld(e, RCX, SPILL(RCX));
	if (movs) {
		e_mov(e, s.s0, RSI);
		e_access_n(t, &s, osz, cnt, sc, false, 0, -1, cd, NULL);
		e_st(e, OFF(bt_target), s.s0); /* the host source, while the destination is looked up */
	}
	e_mov(e, s.s0, RDI);
	e_access_n(t, &s, osz, cnt, sc, true, 0, -1, cd, NULL);
	e_st(e, SPILL(RDI), RDI);
	e_mov(e, RDI, s.s0);
	if (movs) {
		e_st(e, SPILL(RSI), RSI);
		e_ld(e, RSI, OFF(bt_target));
	}
	b1(e, 0xf3);
	if (osz == 2)
		b1(e, 0x66);
	if (osz == 8)
		b1(e, 0x48);
	b1(e, (movs ? 0xa4 : 0xaa) + (osz > 1)); /* rep movs/stos: RCX goes to zero */
	e_ld(e, RDI, SPILL(RDI));
	e_lea(e, RDI, RDI, cnt, sc, 0);
	if (movs) {
		e_ld(e, RSI, SPILL(RSI));
		e_lea(e, RSI, RSI, cnt, sc, 0);
	}
	e_unspill(t, &s);
	cd->resume = e_pos(e);
	return true;
}

/* s0 = the host address of the 8-byte stack slot at RSP + delta (delta: -8 push, 0 pop). */
static void e_stack(struct tx *t, const struct scratch *s, int32_t delta, bool write,
		    struct cold *cd)
{
	e_ld(&t->e, s->s0, GPR(RSP));
	if (delta)
		e_lea(&t->e, s->s0, s->s0, NOREG, 0, delta);
	e_access(t, s, 8, write, 0, false, cd);
}

static void e_rsp_add(struct tx *t, unsigned tmp, int32_t delta)
{
	e_ld(&t->e, tmp, GPR(RSP));
	e_lea(&t->e, tmp, tmp, NOREG, 0, delta);
	e_st(&t->e, GPR(RSP), tmp);
}

/* mov qword [s0], v (through tmp when v does not sign-extend from 32 bits). */
static void e_store_imm(struct emit *e, unsigned s0, unsigned tmp, uint64_t v)
{
	if ((uint64_t)(int64_t)(int32_t)v == v) {
		e_rm(e, E_W, 0xc7, 1, 0, s0, NOREG, 0, 0);
		b4(e, (uint32_t)v);
	} else {
		e_movi64(e, tmp, v);
		e_rm(e, E_W, 0x89, 1, tmp, s0, NOREG, 0, 0);
	}
}

static bool tx_push(struct tx *t, unsigned k)
{
	const struct x86_insn *in = &t->m[k].in;
	struct emit *e = &t->e;
	bool imm = in->form == X86_FORM_NONE;
	struct scratch s;
	struct cold *cd;

	if (in->osz != 8 || is_mem(in) || !pick_scratch(t, in, false, &s))
		return false;
	cd = cold_new(t, k, &s, false);
	e_spill(t, &s);
	e_stack(t, &s, -8, true, cd);
	if (imm) {
		e_store_imm(e, s.s0, s.s1, in->imm);
	} else if (in->rm == RSP) {
		e_ld(e, s.s1, GPR(RSP));
		e_rm(e, E_W, 0x89, 1, s.s1, s.s0, NOREG, 0, 0);
	} else {
		e_rm(e, E_W, 0x89, 1, in->rm, s.s0, NOREG, 0, 0);
	}
	e_rsp_add(t, s.s1, -8);
	e_unspill(t, &s);
	cd->resume = e_pos(e);
	return true;
}

static bool tx_pop(struct tx *t, unsigned k)
{
	const struct x86_insn *in = &t->m[k].in;
	struct emit *e = &t->e;
	struct scratch s;
	struct cold *cd;

	if (in->osz != 8 || is_mem(in) || in->rm == RSP || !pick_scratch(t, in, false, &s))
		return false;
	cd = cold_new(t, k, &s, false);
	e_spill(t, &s);
	e_stack(t, &s, 0, false, cd);
	e_rm(e, E_W, 0x8b, 1, in->rm, s.s0, NOREG, 0, 0);
	e_rsp_add(t, s.s1, 8);
	e_unspill(t, &s);
	cd->resume = e_pos(e);
	return true;
}

static bool tx_leave(struct tx *t, unsigned k)
{
	const struct x86_insn *in = &t->m[k].in;
	struct emit *e = &t->e;
	struct scratch s;
	struct cold *cd;

	if (in->osz != 8 || !pick_scratch(t, in, false, &s))
		return false;
	cd = cold_new(t, k, &s, false);
	e_spill(t, &s);
	e_mov(e, s.s0, RBP);
	e_access(t, &s, 8, false, 0, false, cd);
	e_rm(e, E_W, 0x8b, 1, s.s0, s.s0, NOREG, 0, 0);
	e_lea(e, s.s1, RBP, NOREG, 0, 8);
	e_st(e, GPR(RSP), s.s1);
	e_mov(e, RBP, s.s0);
	e_unspill(t, &s);
	cd->resume = e_pos(e);
	return true;
}

/*
 * Whether nothing can see the flags instruction k leaves: the block goes
 * on through register instructions that neither touch the flags nor fault
 * to one that rewrites them all.
 */
static bool flags_dead_after(const struct tx *t, unsigned k)
{
	const struct host_feat *f = &t->bt->feat;

	for (unsigned i = k + 1; i < t->n; i++) {
		const struct x86_insn *in = &t->m[i].in;

		if (kills_flags(in, f))
			return true;
		if (is_mem(in) || !copyable(in, f) || touches_flags(in, f))
			return false;
	}
	return false;
}

/*
 * DIV of 16, 32 or 64 bits runs on the host once the high half of the
 * dividend is known to be below the divisor (no #DE: that also excludes a
 * zero divisor); otherwise the interpreter raises it, with the flags as
 * they were.
 */
static bool tx_div(struct tx *t, unsigned k)
{
	const struct x86_insn *in = &t->m[k].in;
	struct emit *e = &t->e;
	bool mem = is_mem(in);
	unsigned fl = in->osz == 8 ? E_W : in->osz == 2 ? E_66 : 0, spare;
	struct scratch s;
	struct cold *cd;

	if (in->osz < 2 || (!mem && in->rm == RSP) || (mem && !pick_scratch(t, in, false, &s)))
		return false;
	/* DIV's dividend is RAX: kept in a spare register, it does not wait on memory. */
	spare = pick_pool(t, 0, true);
	if (spare != NOREG && !(mem && (spare == s.s0 || spare == s.s1)))
		e_flags_save_via(e, spare);
	else
		e_flags_save(e);
	cd = cold_new(t, k, mem ? &s : NULL, true);
	if (mem) {
		e_spill(t, &s);
		e_la(t, in, t->m[k].rip + in->len, s.s0);
		e_access(t, &s, in->osz, false, in->seg, false, cd);
		e_rm(e, fl, 0x3b, 1, RDX, s.s0, NOREG, 0, 0); /* cmp rdx, [s0] */
	} else {
		e_rr(e, fl, 0x3b, 1, RDX, in->rm); /* cmp rdx, divisor */
	}
	cd->jumps[cd->njumps++] = e_jcc(e, 0x3, 0); /* jae */
	/* The flags DIV leaves are the host's DIV's from the guest's, as everywhere. */
	if (!flags_dead_after(t, k))
		e_flags_restore(e);
	if (mem) {
		e_reencode(e, t->raw[k], in, s.s0, 0, NOREG);
		e_unspill(t, &s);
	} else {
		for (unsigned i = 0; i < in->len; i++)
			b1(e, t->raw[k][i]);
	}
	cd->resume = e_pos(e);
	return true;
}

/* Jumps to cd unless s0 is canonical (flags clobbered: the caller saved them). */
static void e_canonical(struct tx *t, unsigned s0, unsigned tmp, struct cold *cd)
{
	struct emit *e = &t->e;

	e_mov(e, tmp, s0);
	e_rr(e, E_W, 0xc1, 1, 4, tmp); /* shl tmp, 16 */
	b1(e, 16);
	e_rr(e, E_W, 0xc1, 1, 7, tmp); /* sar tmp, 16 */
	b1(e, 16);
	e_rr(e, E_W, 0x39, 1, s0, tmp); /* cmp tmp, s0 */
	cd->jumps[cd->njumps++] = e_jcc(e, 5, 0);
}

/*
 * RET, JMP/CALL through a register or memory: the target is computed, the
 * stack updated, and the lookup stub finds the target's block.
 */
static bool tx_indirect(struct tx *t, unsigned k)
{
	const struct x86_insn *in = &t->m[k].in;
	struct emit *e = &t->e;
	uint64_t next = t->m[k].rip + in->len;
	struct scratch s;
	struct cold *cd;

	if (in->osz != 8 || !pick_scratch(t, in, false, &s))
		return false;
	e_flags_save(e);
	cd = cold_new(t, k, &s, true);
	e_spill(t, &s);
	if (in->op == OP_RET) {
		e_stack(t, &s, 0, false, cd);
		e_rm(e, E_W, 0x8b, 1, s.s0, s.s0, NOREG, 0, 0);
	} else if (is_mem(in)) {
		e_la(t, in, next, s.s0);
		e_access(t, &s, 8, false, in->seg, false, cd);
		e_rm(e, E_W, 0x8b, 1, s.s0, s.s0, NOREG, 0, 0);
	} else if (in->rm == RSP) {
		e_ld(e, s.s0, GPR(RSP));
	} else {
		e_mov(e, s.s0, in->rm);
	}
	e_canonical(t, s.s0, s.s1, cd);
	e_st(e, OFF(bt_target), s.s0); /* for RAX at the end: its guest value is in its slot */
	if (in->op == OP_RET) {
		e_rsp_add(t, s.s1, 8 + (int32_t)(uint16_t)in->imm);
	} else if (in->op == OP_CALLI) {
		e_stack(t, &s, -8, true, cd);
		e_store_imm(e, s.s0, s.s1, next);
		e_rsp_add(t, s.s1, -8);
	}
	e_unspill(t, &s);
	e_return_borrowed(t);
	e_ld(e, RAX, OFF(bt_target));
	if (in->op == OP_RET) {
		b1(e, 0xc3); /* to the return point of the CALL that came here, if a host one did */
	} else if (in->op == OP_CALLI) {
		e_call(e, t->bt->stub_lookup);
		e_return_point(t, next);
	} else {
		e_jmp(e, t->bt->stub_lookup);
	}
	cd->resume = e_pos(e);
	e_exit(t, next, false);
	return true;
}

static bool tx_call(struct tx *t, unsigned k, uint64_t target)
{
	const struct x86_insn *in = &t->m[k].in;
	struct emit *e = &t->e;
	uint64_t next = t->m[k].rip + in->len;
	struct scratch s;
	struct cold *cd;

	if (!pick_scratch(t, in, false, &s))
		return false;
	cd = cold_new(t, k, &s, false);
	e_spill(t, &s);
	e_stack(t, &s, -8, true, cd);
	e_store_imm(e, s.s0, s.s1, next);
	e_rsp_add(t, s.s1, -8);
	e_unspill(t, &s);
	cd->resume = e_pos(e);
	e_call_exit(t, target, next);
	return true;
}

/* ---- SSE and SSE2 --------------------------------------------------------- */

/*
 * An SSE/SSE2 instruction runs on the host with the guest's XMM operands
 * loaded into xmm0 (ModRM.reg) and xmm1 (ModRM.rm) from cpu->fpu and
 * stored back after. Arithmetic runs under the guest's MXCSR, loaded for
 * the instruction, while every exception is masked (BT_SSE_MASKED).
 */
enum { FIELD_XMM, FIELD_GPR, FIELD_EXT };

struct sse_shape {
	bool fp;	 /* depends on MXCSR */
	uint8_t reg, rm; /* FIELD_* of ModRM.reg and of a register ModRM.rm */
	uint8_t msz;	 /* bytes of a memory operand; 0: register forms only */
	bool align;	 /* a memory operand must be 16-byte aligned */
	bool store;	 /* the memory operand is written (ModRM.reg only read) */
	bool reg_out;	 /* ModRM.reg is written whole and not read */
};

static bool in_range(unsigned v, unsigned lo, unsigned hi)
{
	return v >= lo && v <= hi;
}

/* The SSE/SSE2 encodings (map 0F) translated; false for the rest. */
static bool sse_shape(const struct x86_insn *in, const uint8_t *raw, struct sse_shape *sh)
{
	unsigned opc = in->opc, p, ext = (raw[in->modrm_at] >> 3) & 7;
	bool w = in->flags & X86_F_REX && (raw[in->opc_at - 1] & 8);
	unsigned npfx = !!(in->flags & X86_F_OSZ16) + !!(in->flags & X86_F_REP) +
			!!(in->flags & X86_F_REPNE);

	if (in->map != 1 || !in->modrm_at || npfx > 1 || (in->flags & X86_F_LOCK))
		return false;
	p = (in->flags & X86_F_REPNE) ? 3 : (in->flags & X86_F_REP) ? 2 : (in->flags & X86_F_OSZ16) ? 1 : 0;
	*sh = (struct sse_shape){.reg = FIELD_XMM, .rm = FIELD_XMM, .msz = 16, .align = true};
	switch (opc) {
	case 0x10:
	case 0x11:
		sh->msz = p == 2 ? 4 : p == 3 ? 8 : 16;
		sh->align = false;
		sh->store = opc == 0x11;
		/* MOVSS/MOVSD between registers keep the upper part. */
		sh->reg_out = opc == 0x10 && (p <= 1 || is_mem(in));
		return true;
	case 0x28:
	case 0x29:
		sh->store = opc == 0x29;
		sh->reg_out = opc == 0x28;
		return p <= 1;
	case 0x14:
	case 0x15:
	case 0x54 ... 0x57:
	case 0xc6:
		return p <= 1;
	case 0x51:
	case 0x58:
	case 0x59:
	case 0x5c ... 0x5f:
		sh->fp = true;
		sh->msz = p == 2 ? 4 : p == 3 ? 8 : 16;
		sh->align = p <= 1;
		sh->reg_out = opc == 0x51 && p <= 1;
		return true;
	case 0x5a:
		sh->fp = true;
		sh->msz = p == 1 ? 16 : p == 2 ? 4 : 8;
		sh->align = p == 1;
		sh->reg_out = p <= 1;
		return true;
	case 0x5b:
		sh->fp = true;
		sh->reg_out = true;
		return p <= 2;
	case 0xe6:
		sh->fp = true;
		sh->msz = p == 2 ? 8 : 16;
		sh->align = p != 2;
		sh->reg_out = true;
		return p >= 1;
	case 0x2a:
		sh->fp = true;
		sh->rm = FIELD_GPR;
		sh->msz = w ? 8 : 4;
		sh->align = false;
		return p >= 2;
	case 0x2c:
	case 0x2d:
		sh->fp = true;
		sh->reg = FIELD_GPR;
		sh->msz = p == 2 ? 4 : 8;
		sh->align = false;
		return p >= 2;
	case 0x2e:
	case 0x2f:
		sh->fp = true;
		sh->msz = p ? 8 : 4;
		sh->align = false;
		return p <= 1;
	case 0x6e:
	case 0x7e:
		if (opc == 0x7e && p == 2) { /* movq xmm, xmm/m64 */
			sh->msz = 8;
			sh->align = false;
			sh->reg_out = true;
			return true;
		}
		sh->rm = FIELD_GPR;
		sh->msz = w ? 8 : 4;
		sh->align = false;
		sh->store = opc == 0x7e;
		sh->reg_out = opc == 0x6e;
		return p == 1;
	case 0xd6:
		sh->msz = 8;
		sh->align = false;
		sh->store = true;
		return p == 1;
	case 0x6f:
	case 0x7f:
		sh->align = p == 1;
		sh->store = opc == 0x7f;
		sh->reg_out = opc == 0x6f;
		return p == 1 || p == 2;
	case 0x70:
		sh->reg_out = true;
		return p >= 1;
	case 0x71:
	case 0x72:
	case 0x73:
		sh->reg = FIELD_EXT;
		sh->msz = 0;
		if (p != 1)
			return false;
		return ext == 2 || ext == 4 || ext == 6 || (opc == 0x73 && (ext == 3 || ext == 7));
	case 0xc4:
		sh->rm = FIELD_GPR;
		sh->msz = 2;
		sh->align = false;
		return p == 1;
	case 0xc5:
	case 0xd7:
		sh->reg = FIELD_GPR;
		sh->msz = 0;
		return p == 1;
	default:
		if (p != 1)
			return false;
		return in_range(opc, 0x60, 0x6d) || in_range(opc, 0x74, 0x76) ||
		       in_range(opc, 0xd1, 0xd5) || in_range(opc, 0xd8, 0xdf) ||
		       in_range(opc, 0xe0, 0xe5) || in_range(opc, 0xe8, 0xef) ||
		       in_range(opc, 0xf1, 0xf6) || in_range(opc, 0xf8, 0xfe);
	}
}

static int32_t xmm_off(unsigned n)
{
	return OFF(fpu) + (int32_t)offsetof(struct cpu_fpu, xmm) + 16 * (int32_t)n;
}

/* movdqu xmm, gs:[off] / movdqu gs:[off], xmm. */
static void e_xmm(struct emit *e, bool store, unsigned xmm, int32_t off)
{
	b1(e, 0x65);
	b1(e, 0xf3);
	b1(e, 0x0f);
	b1(e, store ? 0x7f : 0x6f);
	e_modrm_mem(e, xmm, NOREG, NOREG, 0, off);
}

static bool tx_sse(struct tx *t, unsigned k)
{
	const struct x86_insn *in = &t->m[k].in;
	const uint8_t *raw = t->raw[k];
	struct emit *e = &t->e;
	bool mem = is_mem(in), same;
	unsigned regf, rmf, new_reg, new_rm;
	const struct group *grp = t->in_group[k];
	int32_t mdisp = 0;
	struct sse_shape sh;
	struct scratch s = {0};
	struct cold *cd = NULL;

	if (!(t->bt->sse_state & BT_SSE_ON) || !sse_shape(in, raw, &sh))
		return false;
	modrm_fields(raw, in, &regf, &rmf);
	if (sh.fp && !(t->bt->sse_state & BT_SSE_MASKED))
		return false;
	if ((mem && !sh.msz) || (sh.reg == FIELD_GPR && regf == RSP) ||
	    (!mem && sh.rm == FIELD_GPR && rmf == RSP))
		return false;
	if (grp) {
		s.s0 = grp->g;
		mdisp = (int32_t)(in->disp - grp->lo);
	} else if (mem) {
		if (!pick_scratch(t, in, false, &s))
			return false;
		cd = cold_new(t, k, &s, false);
		e_spill(t, &s);
		e_la(t, in, t->m[k].rip + in->len, s.s0);
		e_access(t, &s, sh.msz, sh.store, in->seg, sh.align, cd);
	}
	same = !mem && sh.reg == FIELD_XMM && sh.rm == FIELD_XMM && regf == rmf;
	new_reg = sh.reg == FIELD_XMM ? 0 : regf;
	if (mem)
		new_rm = s.s0;
	else if (sh.rm == FIELD_XMM)
		new_rm = same ? 0 : 1;
	else
		new_rm = rmf;
	if (sh.reg == FIELD_XMM && (!sh.reg_out || same))
		e_xmm(e, false, 0, xmm_off(regf));
	if (!mem && sh.rm == FIELD_XMM && !same)
		e_xmm(e, false, 1, xmm_off(rmf));
	if (sh.fp) /* ldmxcsr: the guest's rounding, DAZ/FTZ and sticky flags */
		e_rm(e, E_GS, 0x0fae, 2, 2, NOREG, NOREG, 0, OFF(fpu) + (int32_t)offsetof(struct cpu_fpu, mxcsr));
	e_reencode_fields(e, raw, in, new_reg, new_rm, mem, mdisp);
	if (sh.fp) {
		e_rm(e, E_GS, 0x0fae, 2, 3, NOREG, NOREG, 0, OFF(fpu) + (int32_t)offsetof(struct cpu_fpu, mxcsr));
		e_rm(e, E_GS, 0x0fae, 2, 2, NOREG, NOREG, 0, OFF(bt_host_mxcsr));
	}
	/*
	 * A store leaves its register operand as it was; only a store, or a
	 * shift by an immediate (ModRM.reg extends the opcode), writes ModRM.rm.
	 */
	if (sh.reg == FIELD_XMM && (!sh.store || same))
		e_xmm(e, true, 0, xmm_off(regf));
	if (!mem && sh.rm == FIELD_XMM && !same && (sh.store || sh.reg == FIELD_EXT))
		e_xmm(e, true, 1, xmm_off(rmf));
	if (mem && !grp) {
		e_unspill(t, &s);
		cd->resume = e_pos(e);
	}
	return true;
}

/* ---- groups of accesses to one page --------------------------------------- */

/* Writes RAX or RDX without naming it (a group's base must not change unseen). */
static bool writes_unnamed(const struct x86_insn *in)
{
	switch (in->op) {
	case OP_MUL:
	case OP_IMUL1:
	case OP_DIV:
	case OP_IDIV:
	case OP_CBW:
	case OP_CWD:
	case OP_CMPXCHG:
	case OP_LAHF:
	case OP_SAHF:
		return true;
	default:
		return false;
	}
}

/* The access in makes as a group member: its size and direction; false when it cannot be one. */
static bool group_member(const struct tx *t, unsigned k, unsigned *size, bool *write, bool *aligned)
{
	const struct x86_insn *in = &t->m[k].in;
	struct sse_shape sh;
	unsigned regf, rmf;

	if (!is_mem(in) || (in->flags & (X86_F_RIPREL | X86_F_MOFFS)) || in->base == X86_REG_NONE ||
	    in->index != X86_REG_NONE || in->asz != 8 || in->seg == X86_SEG_FS ||
	    in->seg == X86_SEG_GS || uses_rsp_reg(in))
		return false;
	*aligned = false;
	if (in->op == OP_SSE) {
		if (!(t->bt->sse_state & BT_SSE_ON) || !sse_shape(in, t->raw[k], &sh) || !sh.msz ||
		    (sh.fp && !(t->bt->sse_state & BT_SSE_MASKED)))
			return false;
		modrm_fields(t->raw[k], in, &regf, &rmf);
		if (sh.reg == FIELD_GPR && regf == RSP)
			return false;
		*size = sh.msz;
		*write = sh.store;
		*aligned = sh.align;
		return true;
	}
	/* NOP and LEA make no access. */
	if (in->op == OP_NOP || in->op == OP_LEA || writes_unnamed(in) ||
	    !copyable(in, &t->bt->feat))
		return false;
	*size = mem_size(in);
	*write = mem_writes(in);
	return true;
}

/*
 * A register-only instruction copied as it is that leaves base alone, so
 * a group may pass over it (it names no borrowed register: nothing in the
 * block does).
 */
static bool passes_by(const struct tx *t, unsigned i, unsigned base)
{
	const struct x86_insn *in = &t->m[i].in;

	if (is_mem(in) || uses_rsp_reg(in) || !copyable(in, &t->bt->feat) || writes_unnamed(in))
		return false;
	if ((in->flags & X86_F_IMM_CL) && base == RCX)
		return false;
	return low_reg(in->reg) != base && low_reg(in->rm) != base;
}

/*
 * A group starting at instruction k, when at least two accesses share its
 * base register (which none but the last may write, and the register-only
 * instructions between them leave alone) and span at most a page; the
 * block's budget check stays outside. Returns it or NULL.
 */
static struct group *group_form(struct tx *t, unsigned k, unsigned *span, bool *write,
				int32_t *align_off)
{
	const struct x86_insn *first = &t->m[k].in;
	unsigned base = first->base, m = 0, members = 0, g = pick_pool(t, 0, true);
	int64_t lo = INT64_MAX, hi = INT64_MIN, aligned_at = INT64_MIN;
	struct group *grp;

	*write = false;
	if (g == NOREG || t->ngroups == BT_BLOCK_INSNS / 2)
		return NULL;
	for (unsigned i = k; i < t->n; i++) {
		const struct x86_insn *in = &t->m[i].in;
		unsigned size;
		bool w, al;
		int64_t nlo, nhi;

		if ((i > k || t->check_inside) && i == t->check_at)
			break;
		if (!group_member(t, i, &size, &w, &al) || in->base != base) {
			if (i > k && passes_by(t, i, base))
				continue;
			break;
		}
		nlo = in->disp < lo ? in->disp : lo;
		nhi = in->disp + (int64_t)size > hi ? in->disp + (int64_t)size : hi;
		if (nhi - nlo > 4096)
			break;
		if (al) {
			/* One check covers the aligned ones that are 16 bytes apart. */
			if (aligned_at != INT64_MIN && ((in->disp - aligned_at) & 15))
				break;
			if (aligned_at == INT64_MIN)
				aligned_at = in->disp;
		}
		lo = nlo;
		hi = nhi;
		*write |= w;
		members++;
		m = i - k + 1;
		if (low_reg(in->reg) == base)
			break; /* it may write the base */
	}
	if (members < 2)
		return NULL;
	grp = &t->groups[t->ngroups++];
	*grp = (struct group){.k = k, .m = m, .g = g, .lo = lo};
	*span = (unsigned)(hi - lo);
	*align_off = aligned_at == INT64_MIN ? -1 : (int32_t)(aligned_at - lo);
	return grp;
}

/* The group's lookup: g = the host address of base + lo; a miss goes to its second copy. */
static void e_group(struct tx *t, struct group *grp, unsigned span, bool write, int32_t align_off)
{
	struct emit *e = &t->e;
	const struct x86_insn *in = &t->m[grp->k].in;
	struct scratch s = {
	    .s0 = grp->g, .s1 = pick_pool(t, regs_used(in) | 1u << grp->g, false), .sub = NOREG};

	if (in->base == RSP) {
		e_ld(e, grp->g, GPR(RSP));
		e_lea(e, grp->g, grp->g, NOREG, 0, (int32_t)grp->lo);
	} else {
		e_lea(e, grp->g, in->base, NOREG, 0, (int32_t)grp->lo);
	}
	e_take(t, s.s1);
	e_access_n(t, &s, span, NOREG, 0, write, 0, align_off, NULL, grp);
	e_give_back(t, s.s1);
	for (unsigned i = 0; i < grp->m; i++)
		t->in_group[grp->k + i] = grp;
}

/* ---- the budget check ----------------------------------------------------- */

/*
 * Subtracts the block's instructions from the budget and leaves when it is
 * spent or the vCPU is wanted. Where flags are about to be rewritten
 * (check_clean) it may use them; elsewhere it keeps them, with JRCXZ.
 */
/* bt_left += delta through register r, leaving the flags alone; r holds the new budget. */
static void e_budget_add(struct emit *e, unsigned r, int32_t delta)
{
	e_ld(e, r, OFF(bt_left));
	e_lea(e, r, r, NOREG, 0, delta);
	e_st(e, OFF(bt_left), r);
}

static void e_check(struct tx *t)
{
	struct emit *e = &t->e;

	/* bt_left goes negative when the budget is spent, or is negative already when the vCPU is wanted. */
	if (t->check_clean) {
		e_rm(e, E_W | E_GS, 0x81, 1, 5, NOREG, NOREG, 0, OFF(bt_left));
		b4(e, t->n);
		t->check_jumps[t->ncheck_jumps++] = e_jcc(e, 0xc, 0); /* jl */
		return;
	}
	e_take(t, RCX);
	e_budget_add(e, RCX, -(int32_t)t->n);
	/* Its top byte: 0 while the budget lasts (it stays below 2^56); JRCXZ spares the flags. */
	e_rorx(e, RCX, RCX, 56);
	e_rr(e, 0, 0x0fb6, 2, RCX, RCX); /* movzx ecx, cl */
	e_jrcxz(e, 5);
	t->check_jumps[t->ncheck_jumps++] = e_jmp(e, 0);
	e_give_back(t, RCX);
}

static void e_check_cold(struct tx *t)
{
	struct emit *e = &t->e;
	uint64_t rip = t->m[t->check_at].rip;
	int32_t back = (int32_t)(t->n - t->check_at);

	for (unsigned i = 0; i < t->ncheck_jumps; i++)
		e_patch(e, t->check_jumps[i], e_pos(e));
	if (t->check_clean) {
		e_rm(e, E_W | E_GS, 0x81, 1, 0, NOREG, NOREG, 0, OFF(bt_left)); /* add */
		b4(e, (uint32_t)back);
	} else {
		e_ld(e, RCX, OFF(bt_left));
		e_lea(e, RCX, RCX, NOREG, 0, back);
		e_st(e, OFF(bt_left), RCX);
		e_give_back(t, RCX);
	}
	e_st32i(e, OFF(rip), (uint32_t)rip);
	e_st32i(e, OFF(rip) + 4, (uint32_t)(rip >> 32));
	/* 1: the flags here are stale; the interpreter runs the instruction that rewrites them. */
	e_st32i(e, OFF(bt_exit), t->check_clean ? 1 : 0);
	e_return_borrowed(t);
	e_jmp(e, t->bt->stub_exit);
}

/* ---- the block ------------------------------------------------------------ */

static bool block_ends(const struct x86_insn *in)
{
	return cpu_insn_ends_block(in) || in->op == OP_JCC || in->op == OP_LOOP;
}

/*
 * A forward conditional branch does not end the block: its taken way is a
 * side exit and the block goes on, so that a loop whose body branches out
 * now and then is one block chained to itself. A backward one, most often
 * a loop's own branch back, ends it.
 */
static bool block_goes_on(const struct x86_insn *in, uint64_t rip)
{
	uint64_t target = rip + in->len + in->imm;

	return in->op == OP_JCC && (int64_t)in->imm > 0 && is_canonical(target);
}

/*
 * A small loop that branches back to its own start becomes several copies
 * of its body in one block; each copy's branch but the last's is reversed
 * and leaves by a side exit (handing back the budget of the copies it
 * skips), so the budget update and the jump back are paid once a few
 * rounds. Returns the block's instruction count; at[] holds each one's
 * offset from the block's start.
 */
#define BT_UNROLL_BODY 16
#define BT_UNROLL      4
static unsigned unroll(struct x86_insn *ins, uint16_t *at, unsigned n)
{
	const struct x86_insn *last = &ins[n - 1];
	unsigned copies = BT_BLOCK_INSNS / n < BT_UNROLL ? BT_BLOCK_INSNS / n : BT_UNROLL;

	if (last->op != OP_JCC || n > BT_UNROLL_BODY || at[n - 1] + last->len + last->imm != 0)
		return n;
	for (unsigned c = 1; c < copies; c++) {
		for (unsigned i = 0; i < n; i++) {
			ins[c * n + i] = ins[i];
			at[c * n + i] = at[i];
		}
	}
	for (unsigned c = 0; c + 1 < copies; c++) {
		ins[c * n + n - 1].sub ^= 1;
		ins[c * n + n - 1].imm = 0; /* to the instruction after the loop */
	}
	return n * copies;
}

static void translate_one(struct tx *t, unsigned k, const struct host_feat *f, bool *ended)
{
	const struct x86_insn *in = &t->m[k].in;
	uint64_t next = t->m[k].rip + in->len;
	uint64_t target = next + in->imm;

	switch (in->op) {
	case OP_LEA:
		tx_lea(t, k);
		return;
	case OP_PUSH:
		if (!tx_push(t, k))
			e_helper(t, k);
		return;
	case OP_POP:
		if (!tx_pop(t, k))
			e_helper(t, k);
		return;
	case OP_LEAVE:
		if (!tx_leave(t, k))
			e_helper(t, k);
		return;
	case OP_JMP:
		if (!is_canonical(target))
			break;
		e_exit(t, target, true);
		*ended = true;
		return;
	case OP_JCC: {
		uint32_t taken;

		if (!is_canonical(target))
			break;
		if (k + 1 < t->n) {
			t->side[t->nside].jump = e_jcc(&t->e, in->sub, 0);
			t->side[t->nside++].k = k;
			return;
		}
		taken = e_jcc(&t->e, in->sub, 0);
		e_exit(t, next, true);
		e_patch(&t->e, taken, e_pos(&t->e));
		e_exit(t, target, true);
		*ended = true;
		return;
	}
	case OP_CALL:
		if (!is_canonical(target) || !tx_call(t, k, target))
			break;
		*ended = true;
		return;
	case OP_RET:
	case OP_JMPI:
	case OP_CALLI:
		if (!tx_indirect(t, k))
			break;
		*ended = true;
		return;
	case OP_SSE:
		if (tx_sse(t, k))
			return;
		break;
	case OP_DIV:
		if (tx_div(t, k))
			return;
		break;
	case OP_MOVS:
	case OP_STOS:
		if (tx_rep_str(t, k))
			return;
		break;
	case OP_NOP:
		/* Hints and NOPs do nothing the guest can see (PAUSE is not one here). */
		if (copyable(in, f))
			return;
		break;
	default:
		if (!copyable(in, f))
			break;
		if (is_mem(in)) {
			tx_mem(t, k);
		} else if (uses_rsp_reg(in)) {
			if (in->modrm_at)
				tx_reg_rsp(t, k);
			else
				e_helper(t, k);
		} else {
			for (unsigned i = 0; i < in->len; i++)
				b1(&t->e, t->raw[k][i]);
		}
		return;
	}
	e_helper(t, k);
}

/* Each group's second copy: its instructions with a lookup each, then back after them. */
static void e_group_copies(struct tx *t, const struct host_feat *f)
{
	for (unsigned i = 0; i < t->ngroups; i++) {
		struct group *grp = &t->groups[i];
		bool ended = false;

		for (unsigned j = 0; j < grp->njumps; j++)
			e_patch(&t->e, grp->jumps[j], e_pos(&t->e));
		for (unsigned k = grp->k; k < grp->k + grp->m; k++) {
			t->in_group[k] = NULL;
			translate_one(t, k, f, &ended);
		}
		e_jmp(&t->e, grp->join);
	}
}

/*
 * The taken ways out of the block's inner conditional branches. The block
 * charged all its instructions to the budget; one that leaves early hands
 * back those it skips, without touching the flags the next block may read.
 */
static void e_side_exits(struct tx *t)
{
	struct emit *e = &t->e;

	for (unsigned i = 0; i < t->nside; i++) {
		const struct side_exit *x = &t->side[i];
		const struct x86_insn *in = &t->m[x->k].in;
		uint64_t target = t->m[x->k].rip + in->len + in->imm;
		unsigned r = pick_pool(t, 0, true);

		if (r == NOREG)
			r = RCX;
		e_patch(e, x->jump, e_pos(e));
		e_take(t, r);
		e_budget_add(e, r, (int32_t)(t->n - x->k - 1));
		e_give_back(t, r);
		e_exit(t, target, true);
	}
}

static void e_colds(struct tx *t)
{
	struct emit *e = &t->e;

	for (unsigned i = 0; i < t->ncold; i++) {
		struct cold *cd = &t->cold[i];

		for (unsigned j = 0; j < cd->njumps; j++)
			e_patch(e, cd->jumps[j], e_pos(e));
		for (unsigned j = cd->nregs; j-- > 0;)
			e_restore(t, cd->regs[j]);
		if (cd->flags)
			e_flags_restore(e);
		e_helper(t, cd->k);
		e_jmp(e, cd->same ? cd->same->resume : cd->resume);
	}
}

/* Names RCX, as an operand or implicitly (what runs in the interpreter restores it first). */
static bool names_rcx(const struct x86_insn *in)
{
	if ((in->flags & X86_F_IMM_CL) || in->op == OP_LOOP || is_string(in))
		return true;
	return low_reg(in->reg) == RCX || (!is_mem(in) && low_reg(in->rm) == RCX) ||
	       (is_mem(in) && (in->base == RCX || in->index == RCX));
}

/*
 * Up to three pool registers, and RCX, that no instruction of the block
 * names, when some instruction needs scratch registers (a memory operand,
 * the stack). When the block names RCX, a fourth, if one is free, keeps
 * guest RCX while lookups need RCX (*keep).
 */
static uint32_t borrowable(const struct x86_insn *ins, unsigned n, unsigned *keep)
{
	uint32_t used = 0, got = 0;
	bool needs = false, rcx = false;

	for (unsigned i = 0; i < n; i++) {
		const struct x86_insn *in = &ins[i];

		used |= regs_used(in);
		rcx |= names_rcx(in);
		switch (in->op) {
		case OP_PUSH:
		case OP_POP:
		case OP_LEAVE:
		case OP_CALL:
		case OP_CALLI:
		case OP_RET:
		case OP_JMPI:
			needs = true;
			break;
		default:
			needs |= is_mem(in) || uses_rsp_reg(in);
		}
	}
	*keep = NOREG;
	if (!needs)
		return 0;
	for (unsigned i = 0, k = 0; i < sizeof(pool) && k < 3u + rcx; i++) {
		if (!(used & (1u << pool[i]))) {
			got |= 1u << pool[i];
			if (++k == 4)
				*keep = pool[i];
		}
	}
	return got | (rcx ? 0 : 1u << RCX);
}

struct bt_block *bt_translate(struct cpu *c, uint64_t la, const uint8_t *page)
{
	struct bt *bt = c->bt;
	uint64_t t0 = bt_now_ns();
	unsigned off = la & 0xfff, avail = 4096 - off, pos = 0, n = 0;
	uint8_t bytes[CPU_BLK_MAX_BYTES * 2];
	struct x86_insn ins[BT_BLOCK_INSNS];
	uint16_t at[BT_BLOCK_INSNS];
	_Atomic uint32_t *slot = code_slot(c, page), *slot2 = NULL;
	const uint8_t *page2 = NULL;
	const struct host_feat *f = &bt->feat;
	struct tx tx, *t = &tx;
	struct bt_block *b;
	uint32_t gen, gen2 = 0, start;
	bool ended = false;

	memset(t, 0, offsetof(struct tx, raw));
	gen = code_mark(slot);
	if (avail > sizeof(bytes))
		avail = sizeof(bytes);
	memcpy(bytes, page + off, avail);
	/*
	 * Near the end of the page, on into the next, if the TLB has it (the
	 * interpreter raises its fetch fault otherwise).
	 */
	if (off >= BT_PAGE_TAIL && (page2 = code_page_cached(c, la - off + 4096))) {
		slot2 = code_slot(c, page2);
		gen2 = code_mark(slot2);
		memcpy(bytes + avail, page2, sizeof(bytes) - avail);
		avail = sizeof(bytes);
	}
	while (n < BT_BLOCK_INSNS) {
		if (x86_decode(bytes + pos, avail - pos, X86_MODE_64, &ins[n]) < 0)
			break;
		at[n] = (uint16_t)pos;
		pos += ins[n].len;
		n++;
		if ((block_ends(&ins[n - 1]) && !block_goes_on(&ins[n - 1], la + pos - ins[n - 1].len)) ||
		    pos >= avail)
			break;
	}
	if (!n)
		return NULL;
	n = unroll(ins, at, n);
	b = bt_meta_alloc(bt, sizeof(*b));
	t->m = bt_meta_alloc(bt, n * sizeof(*t->m));
	if (!b || !t->m)
		return NULL;
	t->c = c;
	t->bt = bt;
	t->b = b;
	t->n = n;
	t->user = c->cpl == 3;
	t->e = (struct emit){.base = bt->rw, .p = bt->rw + bt->used, .end = bt->rw + bt->size};
	start = e_pos(&t->e);
	memset(b, 0, sizeof(*b));
	b->la = la;
	b->tag = c->blk_tag;
	b->gen = gen;
	b->tlb_gen = c->tlb_gen;
	b->page = page;
	b->code = slot;
	b->n = (uint16_t)n;
	b->bytes = (uint16_t)pos;
	b->hash = cpu_code_hash(bytes, pos);
	if (pos > 4096 - off) {
		b->page2 = page2;
		b->code2 = slot2;
		b->gen2 = gen2;
	}
	b->entry = (uintptr_t)bt->rx + start;

	/*
	 * Where the budget check goes: before the first clean flag rewrite,
	 * if nothing precedes it that uses flags; in a memory one, after its
	 * lookup (its scratch registers must be borrowed ones: the check's
	 * exit gives back only those).
	 */
	t->borrowed = borrowable(ins, n, &t->keep);
	t->check_at = 0;
	t->check_clean = false;
	t->check_inside = false;
	for (unsigned i = 0; i < n; i++) {
		if (kills_flags(&ins[i], f) ||
		    (is_mem(&ins[i]) && kills_flags_op(&ins[i], f) &&
		     __builtin_popcount(t->borrowed & ~(1u << RCX) &
					~(t->keep != NOREG ? 1u << t->keep : 0)) >= 2)) {
			t->check_at = i;
			t->check_clean = true;
			t->check_inside = is_mem(&ins[i]);
			break;
		}
		if (touches_flags(&ins[i], f))
			break;
	}
	for (unsigned i = 0; i < n; i++) {
		struct bt_meta *m = &t->m[i];

		t->raw[i] = bytes + at[i];
		m->in = ins[i];
		m->fn = cpu_exec_fn(&ins[i], false);
		m->rip = la + at[i];
		m->idx = (uint16_t)i;
		m->n = (uint16_t)n;
		/* A fault in the lookup before an inside check comes before the budget is charged. */
		m->check = (uint16_t)(t->check_at + t->check_inside);
	}
	e_borrow(t);
	b->borrowed = t->borrowed;
	b->entry_lent = (uintptr_t)bt->rx + e_pos(&t->e);
	for (unsigned k = 0; k < n && !ended; k++) {
		struct group *grp;
		unsigned span;
		bool write;
		int32_t align_off;

		if (k == t->check_at && !t->check_inside)
			e_check(t);
		if (!t->in_group[k] && (grp = group_form(t, k, &span, &write, &align_off)))
			e_group(t, grp, span, write, align_off);
		translate_one(t, k, f, &ended);
		grp = (struct group *)t->in_group[k];
		if (grp && k == grp->k + grp->m - 1)
			grp->join = e_pos(&t->e);
	}
	if (!ended)
		e_exit(t, t->m[n - 1].rip + ins[n - 1].len, true);
	e_side_exits(t);
	e_check_cold(t);
	e_group_copies(t, f);
	e_colds(t);
	if (t->e.overflow)
		return NULL;
	bt->used = (e_pos(&t->e) + 15) & ~15u;
	bt->st.blocks++;
	bt->st.guest_bytes += pos;
	bt->st.code_bytes += e_pos(&t->e) - start;
	bt->st.translate_ns += bt_now_ns() - t0;
	if (bt->perf_map)
		fprintf(bt->perf_map, "%lx %x bt_%s_%lx\n", (unsigned long)b->entry,
			e_pos(&t->e) - start, t->user ? "u" : "k", (unsigned long)la);
	return b;
}
