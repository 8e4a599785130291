/* tests/diff/gen.c: test-case generators: instruction templates, edge values, sequences, fuzz. */
#include <string.h>

#include "diff.h"
#include "soft/cpu/insn.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

uint64_t diff_rand(struct diff_rng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd(struct diff_rng *r, uint64_t n)
{
	return n ? diff_rand(r) % n : 0;
}

void diff_fill_data(const struct diff_case *c, uint8_t *data)
{
	struct diff_rng r = {c->data_seed | 1};

	for (unsigned i = 0; i < DIFF_DATA_SIZE; i += 8) {
		uint64_t v = diff_rand(&r);

		memcpy(data + i, &v, 8);
	}
	for (unsigned i = 0; i < c->nr_patch; i++)
		memcpy(data + c->patch[i].off, &c->patch[i].val, c->patch[i].len);
}

static const uint64_t edges[] = {
    0,
    1,
    2,
    3,
    7,
    8,
    0x0f,
    0x10,
    0x1f,
    0x20,
    0x3f,
    0x40,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x10000,
    0x7fffffff,
    0x80000000,
    0xffffffff,
    0x100000000,
    0x7fffffffffffffff,
    0x8000000000000000,
    0xffffffffffffffff,
    0xfffffffffffffffe,
    0xffffffff80000000,
    0xffffffffffff8000,
    0xffffffffffffff80,
    0x00ff00ff00ff00ff,
    0x5555555555555555,
    0xaaaaaaaaaaaaaaaa,
    0x0123456789abcdef,
};

static uint64_t edge(struct diff_rng *r)
{
	switch (rnd(r, 5)) {
	case 0:
	case 1:
		return edges[rnd(r, ARRAY_LEN(edges))];
	case 2:
		return edges[rnd(r, ARRAY_LEN(edges))] + rnd(r, 3) - 1;
	case 3:
		return rnd(r, 256) - 128;
	default:
		return diff_rand(r);
	}
}

static const uint8_t counts[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255};

static uint8_t count(struct diff_rng *r)
{
	return rnd(r, 4) ? counts[rnd(r, ARRAY_LEN(counts))] : (uint8_t)diff_rand(r);
}

/* ---- templates ---- */

enum { IM_NONE, IM_B, IM_W, IM_Z, IM_V, IM_WB };

#define T_MEM	  (1u << 0) /* memory form only */
#define T_REG	  (1u << 1) /* register form only */
#define T_LOCK	  (1u << 2) /* LOCK allowed with memory */
#define T_REGOP	  (1u << 3) /* register in the opcode's low bits */
#define T_NOMODRM (1u << 4) /* no ModRM byte */
#define T_CC	  (1u << 6) /* a random condition code in the opcode's low bits */
#define T_A16	  (1u << 7) /* memory operand mostly 16-byte aligned */
#define T_BIG	  (1u << 8) /* memory operand of 512 bytes (FXSAVE) */

#define S8  1
#define S16 2
#define S32 4
#define S64 8
#define SV  (S16 | S32 | S64)
#define SA  (S8 | SV)

struct gen;
typedef void (*tweak_fn)(struct gen *g);

struct tmpl {
	uint8_t op[3], oplen;
	int8_t digit; /* ModRM.reg: -1 any register, 0..7 a /digit */
	uint8_t sizes, imm, pfx;
	uint16_t f;
	uint16_t avoid; /* registers not to use for addressing (implicit operands) */
	tweak_fn tweak;
};

struct gen {
	struct diff_rng *r;
	struct diff_case *c;
	const struct tmpl *t;
	unsigned sz;
	bool mem, rex, gs;
	unsigned reg, rm, base, index, scale, mod;
	int target; /* data-area offset of the memory operand */
	int imm_at, disp_at;
	uint16_t fixed; /* registers holding addresses */
};

#define R(x) (1u << (x))
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };

static void patch(struct gen *g, unsigned off, unsigned len, uint64_t v)
{
	struct diff_case *c = g->c;

	if (c->nr_patch < DIFF_PATCHES && off + len <= DIFF_DATA_SIZE)
		c->patch[c->nr_patch++] = (struct diff_patch){.off = off, .len = len, .val = v};
}

static void setreg(struct gen *g, unsigned r, uint64_t v)
{
	if (!(g->fixed & R(r)))
		g->c->in.gpr[r] = v;
}

/* Sets the E operand's value (register, high byte register or memory). */
static void set_e(struct gen *g, uint64_t v)
{
	unsigned sz = g->sz;

	if (g->mem) {
		patch(g, g->target, sz, v);
		return;
	}
	if (sz == 1 && !g->rex && g->rm >= 4 && g->rm < 8) {
		uint64_t *p = &g->c->in.gpr[g->rm - 4];

		if (!(g->fixed & R(g->rm - 4)))
			*p = (*p & ~0xff00ull) | ((v & 0xff) << 8);
		return;
	}
	setreg(g, g->rm, v);
}

static void put(struct diff_case *c, uint8_t b)
{
	if (c->code_len < DIFF_CODE_MAX)
		c->code[c->code_len++] = b;
}

static void put_n(struct diff_case *c, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		put(c, v >> (8 * i));
}

static unsigned pick_reg(struct gen *g, uint16_t avoid)
{
	for (;;) {
		unsigned r = rnd(g->r, 16);

		if (!(avoid & R(r)))
			return r;
	}
}

/* Chooses the memory form and the register values that make it hit g->target. */
static void plan_mem(struct gen *g, bool a32)
{
	struct diff_rng *r = g->r;
	uint16_t avoid = g->t->avoid | g->fixed;
	uint64_t ea = (g->gs ? 0 : DIFF_DATA_BASE) + g->target;
	int64_t disp = 0, idx = 0;
	unsigned form = rnd(r, 7);

	g->base = g->index = 0xff;
	g->scale = rnd(r, 4);
	switch (form) {
	case 0: /* [base] */
		g->mod = 0;
		do
			g->base = pick_reg(g, avoid);
		while ((g->base & 7) == 5);
		break;
	case 1: /* [base + disp8] */
		g->mod = 1;
		g->base = pick_reg(g, avoid);
		disp = (int8_t)rnd(r, 256);
		break;
	case 2: /* [base + disp32] */
		g->mod = 2;
		g->base = pick_reg(g, avoid);
		disp = (int64_t)rnd(r, 0x20000) - 0x10000;
		break;
	case 3: /* [base + index*scale + disp] */
		g->mod = rnd(r, 3);
		do
			g->base = pick_reg(g, avoid);
		while (g->mod == 0 && (g->base & 7) == 5);
		g->index = pick_reg(g, avoid | R(RSP) | R(g->base));
		disp = g->mod == 1   ? (int8_t)rnd(r, 256)
		       : g->mod == 2 ? (int64_t)rnd(r, 0x2000) - 0x1000
				     : 0;
		idx = (int64_t)rnd(r, 128) - 64;
		break;
	case 4: /* [index*scale + disp32] */
		g->mod = 0;
		g->index = pick_reg(g, avoid | R(RSP));
		idx = (int64_t)rnd(r, 0x100);
		disp = (int64_t)ea - (idx << g->scale);
		break;
	case 5: /* [rip + disp32] */
		g->mod = 0;
		break;
	default: /* [disp32] through a SIB without base and index */
		g->mod = 0;
		disp = (int64_t)ea;
		break;
	}
	if (g->index != 0xff) {
		uint64_t v = (uint64_t)idx;

		if (a32)
			v = (uint32_t)v | (diff_rand(r) << 32);
		g->c->in.gpr[g->index] = v;
		g->fixed |= R(g->index);
	}
	if (g->base != 0xff) {
		uint64_t v = ea - (uint64_t)disp - ((uint64_t)idx << g->scale);

		if (a32)
			v = (uint32_t)v | (diff_rand(r) << 32);
		g->c->in.gpr[g->base] = v;
		g->fixed |= R(g->base);
	}
	g->disp_at = (int)disp; /* stash; emitted in emit_mem */
	g->rm = form == 5						? 5
		: (g->index != 0xff || form == 6 || (g->base & 7) == 4) ? 4
									: g->base & 7;
	if (form == 4 || form == 6)
		g->base = 0xff;
	g->scale = g->index == 0xff ? 0 : g->scale;
	/* Encode the form id in rm's upper bits for emit_mem. */
	g->mod |= form << 4;
}

static void emit_mem(struct gen *g, unsigned regfield)
{
	struct diff_case *c = g->c;
	unsigned form = g->mod >> 4, mod = g->mod & 3;
	int64_t disp = g->disp_at;

	put(c, (mod << 6) | ((regfield & 7) << 3) | g->rm);
	if (g->rm == 4) {
		unsigned idx = g->index == 0xff ? 4 : g->index & 7;
		unsigned base = g->base == 0xff ? 5 : g->base & 7;

		put(c, (g->scale << 6) | (idx << 3) | base);
	}
	g->disp_at = -1;
	if (form == 5) {
		g->disp_at = c->code_len;
		put_n(c, 0, 4);
	} else if (mod == 1) {
		put(c, (uint8_t)disp);
	} else if (mod == 2 || g->base == 0xff) {
		put_n(c, (uint64_t)disp, 4);
	}
}

static unsigned imm_len(const struct tmpl *t, unsigned sz)
{
	switch (t->imm) {
	case IM_B:
		return 1;
	case IM_W:
		return 2;
	case IM_Z:
		return sz == 1 ? 1 : sz == 2 ? 2 : 4;
	case IM_V:
		return sz;
	case IM_WB:
		return 3;
	default:
		return 0;
	}
}

static const uint8_t ignored_pfx[] = {0x2e, 0x3e, 0x26, 0x36};

static bool gen_tmpl(struct diff_rng *r, struct diff_case *c, const void *arg)
{
	const struct tmpl *list = ((const struct tmpl *const *)arg)[0];
	unsigned n = (unsigned)(uintptr_t)((const void *const *)arg)[1];
	const struct tmpl *t = &list[rnd(r, n)];
	struct gen g = {.r = r, .c = c, .t = t, .target = -1, .imm_at = -1, .disp_at = -1};
	unsigned sizes[4], ns = 0, rexbits = 0;
	bool a32, lock;

	for (unsigned b = 0; b < 4; b++)
		if (t->sizes & (1u << b))
			sizes[ns++] = 1u << b;
	g.sz = sizes[rnd(r, ns)];
	g.mem = (t->f & T_MEM) || (!(t->f & (T_REG | T_NOMODRM | T_REGOP)) && rnd(r, 2));
	g.reg = t->digit >= 0 ? (unsigned)t->digit : rnd(r, 16);
	g.rm = rnd(r, 16);
	a32 = g.mem && rnd(r, 8) == 0;
	lock = g.mem && (t->f & T_LOCK) && rnd(r, 2);

	for (unsigned i = 0; i < 16; i++)
		c->in.gpr[i] = edge(r);
	c->in.gpr[RSP] = DIFF_DATA_BASE + 0x1800 + 8 * rnd(r, 64) + (rnd(r, 8) ? 0 : rnd(r, 8));
	g.fixed = R(RSP);
	if (g.mem) {
		g.target = 0x100 + rnd(r, DIFF_DATA_SIZE - ((t->f & T_BIG) ? 0x400 : 0x200));
		if (rnd(r, 2))
			g.target &= ~(g.sz - 1);
		if ((t->f & (T_A16 | T_BIG)) && rnd(r, 8))
			g.target &= ~15;
		g.gs = rnd(r, 8) == 0;
		g.fixed = 0;
		plan_mem(&g, a32);
		if (!(g.fixed & R(RSP)))
			g.fixed |= R(RSP);
		if (rnd(r, 2))
			patch(&g, g.target, 8, edge(r));
	}
	if (t->digit < 0 && !(t->f & (T_NOMODRM | T_REGOP)) && (g.reg & 8))
		rexbits |= 4;
	if (g.mem) {
		if (g.index != 0xff && (g.index & 8))
			rexbits |= 2;
		if (g.base != 0xff && (g.base & 8))
			rexbits |= 1;
	} else if (!(t->f & (T_NOMODRM | T_CC)) && (g.rm & 8)) {
		rexbits |= 1;
	}
	if (g.sz == 8)
		rexbits |= 8;
	g.rex = rexbits || rnd(r, 4) == 0;

	/* Prefixes, in a random but valid order (REX last). */
	if (rnd(r, 10) == 0)
		put(c, ignored_pfx[rnd(r, 4)]);
	if (lock)
		put(c, 0xf0);
	if (a32)
		put(c, 0x67);
	if (g.gs)
		put(c, 0x65);
	if (g.sz == 2)
		put(c, 0x66);
	if (t->pfx)
		put(c, t->pfx);
	if (g.rex)
		put(c, 0x40 | rexbits);
	for (unsigned i = 0; i < t->oplen; i++) {
		uint8_t b = t->op[i];

		if (i + 1 == t->oplen && (t->f & T_REGOP))
			b += g.rm & 7;
		if (i + 1 == t->oplen && (t->f & T_CC))
			b += rnd(r, 8);
		put(c, b);
	}
	if (!(t->f & (T_NOMODRM | T_REGOP))) {
		if (g.mem)
			emit_mem(&g, g.reg);
		else
			put(c, 0xc0 | ((g.reg & 7) << 3) | (g.rm & 7));
	} else {
		g.disp_at = -1;
	}
	if (t->imm) {
		unsigned len = imm_len(t, g.sz);

		g.imm_at = c->code_len;
		put_n(c, edge(r), len);
	}
	if (g.disp_at >= 0) {
		uint64_t ea = (g.gs ? 0 : DIFF_DATA_BASE) + g.target;
		uint64_t next = DIFF_CODE_ENTRY + c->code_len;

		if (a32)
			next = (uint32_t)next;
		for (unsigned i = 0; i < 4; i++)
			c->code[g.disp_at + i] = (uint8_t)((ea - next) >> (8 * i));
	}
	if (t->f & (T_NOMODRM | T_REGOP))
		g.mem = false;
	if (t->tweak)
		t->tweak(&g);
	return true;
}

/* ---- tweaks ---- */

static void tw_cl(struct gen *g)
{
	setreg(g, RCX, (g->c->in.gpr[RCX] & ~0xffull) | count(g->r));
}

static void tw_rel(struct gen *g)
{
	int32_t v = (int32_t)rnd(g->r, 400) - 200;

	if (g->imm_at >= 0 && rnd(g->r, 4))
		memcpy(&g->c->code[g->imm_at], &v, g->c->code_len - g->imm_at >= 4 ? 4 : 2);
}

static void tw_imm_count(struct gen *g)
{
	if (g->imm_at >= 0)
		g->c->code[g->imm_at] = count(g->r);
}

static void tw_div(struct gen *g)
{
	struct diff_rng *r = g->r;
	unsigned sz = g->sz;
	uint64_t m = sz == 8 ? ~0ull : (1ull << (8 * sz)) - 1;
	uint64_t d = edge(r) & m, lo = diff_rand(r);
	unsigned mode = rnd(r, 8);
	bool sgn = g->t->digit == 7;

	if (mode == 0)
		d = 0;
	if (!d && mode != 0)
		d = 3;
	set_e(g, d);
	if (sz == 1) {
		uint64_t ax = lo & 0xffff;

		if (mode > 1)
			ax = sgn ? (uint64_t)(int64_t)(int8_t)lo & 0xffff
				 : (lo & 0xff) | ((rnd(r, d) & 0xff) << 8);
		setreg(g, RAX, (g->c->in.gpr[RAX] & ~0xffffull) | ax);
		return;
	}
	if (mode <= 1) {
		setreg(g, RDX, diff_rand(r));
		setreg(g, RAX, lo);
		return;
	}
	if (sgn) {
		int64_t v = (int64_t)(lo << (64 - 8 * sz)) >> (64 - 8 * sz);

		setreg(g, RAX, (uint64_t)v);
		setreg(g, RDX, v < 0 ? ~0ull : 0);
	} else {
		setreg(g, RAX, lo);
		setreg(g, RDX, rnd(r, d));
	}
}

static void tw_bt(struct gen *g)
{
	if (g->mem && !(g->fixed & R(g->reg)))
		g->c->in.gpr[g->reg] = rnd(g->r, 0x2000) - 0x1000;
}

static void tw_cmpxchg(struct gen *g)
{
	uint64_t v = edge(g->r);

	if (rnd(g->r, 2))
		return;
	set_e(g, v);
	setreg(g, RAX, v);
}

static void tw_cmpxchg2x(struct gen *g)
{
	uint64_t a = diff_rand(g->r), b = diff_rand(g->r);
	unsigned half = g->sz == 8 ? 8 : 4;

	if (rnd(g->r, 2)) {
		patch(g, g->target, half, a);
		patch(g, g->target + half, half, b);
		setreg(g, RAX, a);
		setreg(g, RDX, b);
	}
}

static uint64_t code_target(struct gen *g)
{
	switch (rnd(g->r, 6)) {
	case 0:
		return diff_rand(g->r); /* usually non-canonical: #GP */
	case 1:
		return DIFF_DATA_BASE + 0x100; /* not executable: #PF */
	default:
		return DIFF_CODE_ENTRY + 16 + rnd(g->r, 200);
	}
}

static void tw_jmpi(struct gen *g)
{
	set_e(g, code_target(g));
}

static void tw_ret(struct gen *g)
{
	patch(g, g->c->in.gpr[RSP] - DIFF_DATA_BASE, 8, code_target(g));
	if (g->imm_at >= 0 && rnd(g->r, 2))
		g->c->code[g->imm_at + 1] = 0;
}

static void tw_enter(struct gen *g)
{
	struct diff_case *c = g->c;

	c->code[g->imm_at] = rnd(g->r, 64);
	c->code[g->imm_at + 1] = 0;
	c->code[g->imm_at + 2] = rnd(g->r, 4) ? rnd(g->r, 5) : (uint8_t)diff_rand(g->r);
	setreg(g, RBP, DIFF_DATA_BASE + 0x1000 + 8 * rnd(g->r, 64));
}

static void tw_leave(struct gen *g)
{
	setreg(g, RBP, DIFF_DATA_BASE + 0x1000 + 8 * rnd(g->r, 256) + (rnd(g->r, 4) ? 0 : 4));
}

static void tw_loop(struct gen *g)
{
	static const uint64_t v[] = {0, 1, 2, 3, 0x100000000, 0x100000001, 0xffffffff};

	setreg(g, RCX, v[rnd(g->r, ARRAY_LEN(v))]);
}

static void tw_popf(struct gen *g)
{
	uint64_t v = diff_rand(g->r) & (DIFF_FLAGS_MASK | 0x3200 | 0x204000);

	patch(g, g->c->in.gpr[RSP] - DIFF_DATA_BASE, 8, v);
}

static void tw_xlat(struct gen *g)
{
	setreg(g, RBX, DIFF_DATA_BASE + rnd(g->r, DIFF_DATA_SIZE - 0x100));
}

static void tw_cpuid(struct gen *g)
{
	setreg(g, RAX, rnd(g->r, 2) ? 0 : 0x80000000);
	setreg(g, RCX, 0);
}

static void tw_string(struct gen *g)
{
	struct diff_rng *r = g->r;
	uint64_t si = DIFF_DATA_BASE + 0x600 + rnd(r, 0xc00);
	uint64_t di = rnd(r, 4) ? DIFF_DATA_BASE + 0x600 + rnd(r, 0xc00) : si;

	setreg(g, RSI, si);
	setreg(g, RDI, di);
	setreg(g, RCX, rnd(r, 4) ? rnd(r, 40) : rnd(r, 3));
	if (rnd(r, 2))
		patch(g, si - DIFF_DATA_BASE, 8, g->c->in.gpr[RAX]);
}

/* ---- x87/SSE state and values ---- */

#define FX_FCW	 0
#define FX_FSW	 2
#define FX_FTW	 4
#define FX_MXCSR 24
#define FX_ST	 32
#define FX_XMM	 160

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

void diff_fx_default(uint8_t *fx)
{
	memset(fx, 0, DIFF_FX_SIZE);
	put16(fx + FX_FCW, 0x37f);
	put32(fx + FX_MXCSR, 0x1f80);
}

static const uint32_t f32_edges[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0x40490fdb, 0x00000001,
    0x807fffff, 0x00400000, 0x00800000, 0x80800000, 0x7f7fffff, 0xff7fffff, 0x7f800000,
    0xff800000, 0x7fc00000, 0xffc00000, 0x7fc12345, 0x7f800001, 0xff8abcde, 0x7fbfffff,
    0x4f000000, 0xcf000000, 0x4effffff, 0x5f000000, 0xdf000000, 0x5effffff, 0x3f000000,
    0xbf000000, 0x3fffffff, 0x40200000, 0x0c000000, 0x73800000, 0x4b000000, 0x4affffff,
    0x4f800000, 0xcf000001, 0x00000002, 0x007fffff,
};

static const uint64_t f64_edges[] = {
    0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000,
    0x3ff8000000000000, 0x400921fb54442d18, 0x0000000000000001, 0x800fffffffffffff,
    0x0008000000000000, 0x0010000000000000, 0x8010000000000000, 0x7fefffffffffffff,
    0xffefffffffffffff, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000,
    0xfff8000000000000, 0x7ff8000000012345, 0x7ff0000000000001, 0xfff4000000abcdef,
    0x7ff7ffffffffffff, 0x41e0000000000000, 0xc1e0000000000000, 0x41dfffffffc00000,
    0xc1e0000000200000, 0x43e0000000000000, 0xc3e0000000000000, 0x43dfffffffffffff,
    0x3fe0000000000000, 0xbfe0000000000000, 0x4004000000000000, 0x3810000000000000,
    0x36a0000000000000, 0x47efffffe0000000, 0x47f0000000000000, 0x380fffffffffffff,
    0x36a0000000000001, 0x3690000000000000, 0x47efffffefffffff,
};

/* 80-bit values: mantissa, sign and exponent. */
static const struct {
	uint64_t m;
	uint16_t e;
} f80_edges[] = {
    {0, 0},
    {0, 0x8000},
    {1ull << 63, 0x3fff},
    {1ull << 63, 0xbfff},
    {0xc90fdaa22168c235ull, 0x4000},
    {1, 0},
    {0x7fffffffffffffffull, 0x8000},
    {1ull << 63, 0},			 /* pseudo-denormal */
    {0x4000000000000000ull, 0x3fff}, /* unnormal */
    {1ull << 63, 0x7fff},
    {1ull << 63, 0xffff},
    {0xc000000000000000ull, 0x7fff},
    {0xc000000000000000ull, 0xffff},
    {0xc000000000001234ull, 0x7fff},
    {0x8000000000000001ull, 0x7fff},
    {0x8000000000000001ull, 0xffff},
    {0, 0x7fff},		    /* pseudo-infinity */
    {0x4000000000000000ull, 0x7fff}, /* pseudo-NaN */
    {~0ull, 0x7ffe},
    {1ull << 63, 1},
    {1ull << 63, 0x400e},
    {1ull << 63, 0xc00e},
    {0xfffe000000000000ull, 0x400d},
    {1ull << 63, 0x401e},
    {1ull << 63, 0xc01e},
    {0xfffffffe00000000ull, 0x401d},
    {1ull << 63, 0x403e},
    {1ull << 63, 0xc03e},
    {~0ull, 0x403d},
    {1ull << 63, 0x3ffe},
    {0xc000000000000000ull, 0x3fff},
    {0xa000000000000000ull, 0x4000},
    {0xc000000000000000ull, 0xbffe},
    {1ull << 63, 0x3f81}, /* float min normal */
    {1ull << 63, 0x3c01}, /* double min normal */
    {~0ull, 0x407e},      /* above FLT_MAX */
    {1ull << 63, 0x43fe},
};

static uint32_t rnd_f32(struct diff_rng *r)
{
	uint32_t sign = (uint32_t)rnd(r, 2) << 31, mant = (uint32_t)diff_rand(r) & 0x7fffff;

	switch (rnd(r, 9)) {
	case 0:
	case 1:
	case 2:
		return f32_edges[rnd(r, ARRAY_LEN(f32_edges))];
	case 3:
		return (uint32_t)diff_rand(r);
	case 4:
		return sign | (uint32_t)rnd(r, 26) << 23 | mant;
	case 5:
		return sign | (uint32_t)(230 + rnd(r, 25)) << 23 | mant;
	case 6: /* near the integer limits */
		return sign | (uint32_t)(155 + rnd(r, 40)) << 23 | mant;
	default:
		return sign | (uint32_t)(117 + rnd(r, 20)) << 23 | mant;
	}
}

static uint64_t rnd_f64(struct diff_rng *r)
{
	uint64_t sign = rnd(r, 2) << 63, mant = diff_rand(r) & 0xfffffffffffffull;

	switch (rnd(r, 10)) {
	case 0:
	case 1:
	case 2:
		return f64_edges[rnd(r, ARRAY_LEN(f64_edges))];
	case 3:
		return diff_rand(r);
	case 4:
		return sign | rnd(r, 60) << 52 | mant;
	case 5:
		return sign | (1990 + rnd(r, 57)) << 52 | mant;
	case 6: /* around float's range ends, for conversions */
		return sign | (rnd(r, 2) ? 0x36a + rnd(r, 30) : 0x47e + rnd(r, 3)) << 52 | mant;
	case 7:
		return sign | (1050 + rnd(r, 15)) << 52 | mant;
	default:
		return sign | (1013 + rnd(r, 20)) << 52 | mant;
	}
}

/* 64 bits of SSE data: a double, two singles, or integers. */
static uint64_t rnd_sse64(struct diff_rng *r)
{
	switch (rnd(r, 8)) {
	case 0:
	case 1:
	case 2:
		return rnd_f64(r);
	case 3:
	case 4:
	case 5:
		return rnd_f32(r) | (uint64_t)rnd_f32(r) << 32;
	case 6:
		return edge(r);
	default:
		return diff_rand(r);
	}
}

static uint32_t rnd_mxcsr(struct diff_rng *r)
{
	uint32_t m = 0x1f80;

	if (rnd(r, 2))
		m |= (uint32_t)rnd(r, 4) << 13;
	if (rnd(r, 4) == 0)
		m |= 0x8000;
	if (rnd(r, 4) == 0)
		m |= 0x40;
	if (rnd(r, 5) == 0)
		m &= ~((uint32_t)rnd(r, 64) << 7);
	if (rnd(r, 4) == 0)
		m |= (uint32_t)rnd(r, 64);
	return m;
}

static void rnd_f80(struct diff_rng *r, uint64_t *m, uint16_t *e)
{
	uint16_t sign = (uint16_t)(rnd(r, 2) << 15);

	switch (rnd(r, 8)) {
	case 0:
	case 1:
	case 2: {
		unsigned i = rnd(r, ARRAY_LEN(f80_edges));

		*m = f80_edges[i].m;
		*e = f80_edges[i].e;
		return;
	}
	case 3:
		*m = diff_rand(r);
		*e = (uint16_t)diff_rand(r);
		return;
	case 4:
		*m = diff_rand(r) | 1ull << 63;
		*e = sign | (uint16_t)(rnd(r, 2) ? 1 + rnd(r, 80) : 0x7ffe - rnd(r, 80));
		return;
	case 5: /* integers around the conversion limits */
		*m = diff_rand(r) | 1ull << 63;
		*e = sign | (uint16_t)(0x400c + rnd(r, 52));
		return;
	default:
		*m = diff_rand(r) | 1ull << 63;
		*e = sign | (uint16_t)(0x3fff - 40 + rnd(r, 80));
		return;
	}
}

/*
 * A random x87 state: TOP, tags, precision and rounding, masks, flags (with
 * ES consistent, as the host would loop on an #MF with nothing unmasked).
 */
static void rnd_x87(struct diff_rng *r, uint8_t *fx)
{
	uint16_t fcw = 0x37f, fsw, flags = 0;
	unsigned top = rnd(r, 8), depth = rnd(r, 9);
	uint8_t ftw = 0;

	if (rnd(r, 2))
		fcw = (uint16_t)((fcw & ~0xf00) | rnd(r, 16) << 8);
	if (rnd(r, 6) == 0)
		fcw &= (uint16_t)~rnd(r, 64);
	if (rnd(r, 4) == 0)
		flags = (uint16_t)(rnd(r, 128) & 0x7f);
	fsw = (uint16_t)(flags | top << 11 | (rnd(r, 16) & 0x7) << 8 | (rnd(r, 2) << 14));
	if (flags & ~fcw & 0x3f)
		fsw |= 0x8080;
	for (unsigned i = 0; i < depth; i++)
		ftw |= (uint8_t)(1u << ((top + i) & 7));
	if (rnd(r, 4) == 0)
		ftw = (uint8_t)diff_rand(r);
	put16(fx + FX_FCW, fcw);
	put16(fx + FX_FSW, fsw);
	fx[FX_FTW] = ftw;
	for (unsigned i = 0; i < 8; i++) {
		uint64_t m;
		uint16_t e;

		rnd_f80(r, &m, &e);
		put64(fx + FX_ST + 16 * i, m);
		put16(fx + FX_ST + 16 * i + 8, e);
	}
}

static void rnd_xmm(struct diff_rng *r, uint8_t *fx, bool fp)
{
	for (unsigned i = 0; i < 32; i++)
		put64(fx + FX_XMM + 8 * i, fp ? rnd_sse64(r) : rnd(r, 2) ? edge(r) : diff_rand(r));
}

/* MMX registers with integer data, seen through a random TOP and tags. */
static void rnd_mmx(struct diff_rng *r, uint8_t *fx)
{
	rnd_x87(r, fx);
	if (rnd(r, 3)) {
		/* Usually no pending x87 exception: MMX instructions would #MF. */
		uint16_t fsw;

		memcpy(&fsw, fx + FX_FSW, 2);
		put16(fx + FX_FSW, fsw & 0x7f00);
	}
	for (unsigned i = 0; i < 8; i++)
		put64(fx + FX_ST + 16 * i, rnd(r, 2) ? edge(r) : diff_rand(r));
}

static void patch_fp(struct gen *g, unsigned off, unsigned kind)
{
	struct diff_rng *r = g->r;

	switch (kind) {
	case 0:
		patch(g, off, 8, rnd_sse64(r));
		break;
	case 1:
		patch(g, off, 4, rnd_f32(r));
		break;
	case 2:
		patch(g, off, 8, rnd_f64(r));
		break;
	case 3: {
		uint64_t m;
		uint16_t e;

		rnd_f80(r, &m, &e);
		patch(g, off, 8, m);
		patch(g, off + 8, 2, e);
		break;
	}
	default:
		patch(g, off, 8, edge(r));
		break;
	}
}

static void tw_sse(struct gen *g)
{
	rnd_xmm(g->r, g->c->fx, true);
	put32(g->c->fx + FX_MXCSR, rnd_mxcsr(g->r));
	if (g->mem) {
		patch_fp(g, g->target, 0);
		patch_fp(g, g->target + 8, 0);
	}
}

static void tw_sse_int(struct gen *g)
{
	rnd_xmm(g->r, g->c->fx, false);
	if (g->mem && rnd(g->r, 2)) {
		patch(g, g->target, 8, edge(g->r));
		patch(g, g->target + 8, 8, edge(g->r));
	}
}

static void tw_mmx(struct gen *g)
{
	rnd_mmx(g->r, g->c->fx);
	rnd_xmm(g->r, g->c->fx, rnd(g->r, 2));
	put32(g->c->fx + FX_MXCSR, rnd_mxcsr(g->r));
	if (g->mem && rnd(g->r, 2))
		patch(g, g->target, 8, edge(g->r));
}

static void tw_maskmov(struct gen *g)
{
	if (rnd(g->r, 2))
		tw_mmx(g);
	else
		tw_sse_int(g);
	setreg(g, RDI, DIFF_DATA_BASE + 0x100 + rnd(g->r, DIFF_DATA_SIZE - 0x200));
}

static void tw_x87(struct gen *g)
{
	rnd_x87(g->r, g->c->fx);
	if (rnd(g->r, 2))
		rnd_xmm(g->r, g->c->fx, true);
	if (g->mem)
		patch_fp(g, g->target, 1 + rnd(g->r, 4));
}

/* LDMXCSR/FXRSTOR read an MXCSR: mostly a valid one. */
static void tw_fxstate(struct gen *g)
{
	unsigned at = g->t->digit >= 2 ? 0 : 24;

	tw_sse(g);
	if (rnd(g->r, 2))
		rnd_x87(g->r, g->c->fx);
	if (g->mem && rnd(g->r, 4))
		patch(g, g->target + at, 4, rnd_mxcsr(g->r));
}

/* ---- template tables ---- */

#define T1(o, d, s, i, fl, tw)                                                                     \
	{                                                                                          \
		.op = {o}, .oplen = 1, .digit = d, .sizes = s, .imm = i, .f = fl, .tweak = tw      \
	}
#define T2(o, d, s, i, fl, tw)                                                                     \
	{                                                                                          \
		.op = {0x0f, o}, .oplen = 2, .digit = d, .sizes = s, .imm = i, .f = fl,            \
		.tweak = tw                                                                        \
	}
#define TA(o, d, s, i, fl, av, tw)                                                                 \
	{                                                                                          \
		.op = {o}, .oplen = 1, .digit = d, .sizes = s, .imm = i, .f = fl, .avoid = av,     \
		.tweak = tw                                                                        \
	}
#define TP(p, o, d, s, fl)                                                                         \
	{                                                                                          \
		.op = {0x0f, o}, .oplen = 2, .digit = d, .sizes = s, .pfx = p, .f = fl             \
	}

#define ALU_T(b, d, lk)                                                                            \
	T1(b + 0, -1, S8, 0, lk, NULL), T1(b + 1, -1, SV, 0, lk, NULL),                            \
	    T1(b + 2, -1, S8, 0, 0, NULL), T1(b + 3, -1, SV, 0, 0, NULL),                          \
	    T1(b + 4, 0, S8, IM_Z, T_NOMODRM, NULL), T1(b + 5, 0, SV, IM_Z, T_NOMODRM, NULL),      \
	    T1(0x80, d, S8, IM_Z, lk, NULL), T1(0x81, d, SV, IM_Z, lk, NULL),                      \
	    T1(0x83, d, SV, IM_B, lk, NULL)

static const struct tmpl t_add[] = {ALU_T(0x00, 0, T_LOCK)};
static const struct tmpl t_or[] = {ALU_T(0x08, 1, T_LOCK)};
static const struct tmpl t_adc[] = {ALU_T(0x10, 2, T_LOCK)};
static const struct tmpl t_sbb[] = {ALU_T(0x18, 3, T_LOCK)};
static const struct tmpl t_and[] = {ALU_T(0x20, 4, T_LOCK)};
static const struct tmpl t_sub[] = {ALU_T(0x28, 5, T_LOCK)};
static const struct tmpl t_xor[] = {ALU_T(0x30, 6, T_LOCK)};
static const struct tmpl t_cmp[] = {ALU_T(0x38, 7, 0)};
static const struct tmpl t_test[] = {
    T1(0x84, -1, S8, 0, 0, NULL),	    T1(0x85, -1, SV, 0, 0, NULL),
    T1(0xa8, 0, S8, IM_Z, T_NOMODRM, NULL), T1(0xa9, 0, SV, IM_Z, T_NOMODRM, NULL),
    T1(0xf6, 0, S8, IM_Z, 0, NULL),	    T1(0xf7, 0, SV, IM_Z, 0, NULL),
    T1(0xf6, 1, S8, IM_Z, 0, NULL),	    T1(0xf7, 1, SV, IM_Z, 0, NULL),
};
static const struct tmpl t_incdec[] = {
    T1(0xfe, 0, S8, 0, T_LOCK, NULL),
    T1(0xff, 0, SV, 0, T_LOCK, NULL),
    T1(0xfe, 1, S8, 0, T_LOCK, NULL),
    T1(0xff, 1, SV, 0, T_LOCK, NULL),
};
static const struct tmpl t_notneg[] = {
    T1(0xf6, 2, S8, 0, T_LOCK, NULL),
    T1(0xf7, 2, SV, 0, T_LOCK, NULL),
    T1(0xf6, 3, S8, 0, T_LOCK, NULL),
    T1(0xf7, 3, SV, 0, T_LOCK, NULL),
};
static const struct tmpl t_mul[] = {
    T1(0xf6, 4, S8, 0, 0, NULL),     T1(0xf7, 4, SV, 0, 0, NULL),  T1(0xf6, 5, S8, 0, 0, NULL),
    T1(0xf7, 5, SV, 0, 0, NULL),     T2(0xaf, -1, SV, 0, 0, NULL), T1(0x69, -1, SV, IM_Z, 0, NULL),
    T1(0x6b, -1, SV, IM_B, 0, NULL),
};
static const struct tmpl t_div[] = {
    TA(0xf6, 6, S8, 0, 0, R(RAX) | R(RDX), tw_div),
    TA(0xf7, 6, SV, 0, 0, R(RAX) | R(RDX), tw_div),
    TA(0xf6, 7, S8, 0, 0, R(RAX) | R(RDX), tw_div),
    TA(0xf7, 7, SV, 0, 0, R(RAX) | R(RDX), tw_div),
};

#define SHIFT_T(d)                                                                                 \
	T1(0xc0, d, S8, IM_B, 0, tw_imm_count), T1(0xc1, d, SV, IM_B, 0, tw_imm_count),            \
	    T1(0xd0, d, S8, 0, 0, NULL), T1(0xd1, d, SV, 0, 0, NULL),                              \
	    TA(0xd2, d, S8, 0, 0, R(RCX), tw_cl), TA(0xd3, d, SV, 0, 0, R(RCX), tw_cl)

static const struct tmpl t_rol[] = {SHIFT_T(0)};
static const struct tmpl t_ror[] = {SHIFT_T(1)};
static const struct tmpl t_rcl[] = {SHIFT_T(2)};
static const struct tmpl t_rcr[] = {SHIFT_T(3)};
static const struct tmpl t_shl[] = {SHIFT_T(4)};
static const struct tmpl t_shr[] = {SHIFT_T(5)};
static const struct tmpl t_sal[] = {SHIFT_T(6)};
static const struct tmpl t_sar[] = {SHIFT_T(7)};
static const struct tmpl t_shxd[] = {
    T2(0xa4, -1, SV, IM_B, 0, tw_imm_count),
    {.op = {0x0f, 0xa5}, .oplen = 2, .digit = -1, .sizes = SV, .avoid = R(RCX), .tweak = tw_cl},
    T2(0xac, -1, SV, IM_B, 0, tw_imm_count),
    {.op = {0x0f, 0xad}, .oplen = 2, .digit = -1, .sizes = SV, .avoid = R(RCX), .tweak = tw_cl},
};
static const struct tmpl t_mov[] = {
    T1(0x88, -1, S8, 0, 0, NULL),	  T1(0x89, -1, SV, 0, 0, NULL),
    T1(0x8a, -1, S8, 0, 0, NULL),	  T1(0x8b, -1, SV, 0, 0, NULL),
    T1(0xc6, 0, S8, IM_Z, 0, NULL),	  T1(0xc7, 0, SV, IM_Z, 0, NULL),
    T1(0xb0, 0, S8, IM_Z, T_REGOP, NULL), T1(0xb8, 0, SV, IM_V, T_REGOP, NULL),
};
static const struct tmpl t_movx[] = {
    T2(0xb6, -1, SV, 0, 0, NULL), T2(0xb7, -1, SV, 0, 0, NULL), T2(0xbe, -1, SV, 0, 0, NULL),
    T2(0xbf, -1, SV, 0, 0, NULL), T1(0x63, -1, SV, 0, 0, NULL),
};
static const struct tmpl t_lea[] = {T1(0x8d, -1, SV, 0, T_MEM, NULL)};
static const struct tmpl t_xchg[] = {
    T1(0x86, -1, S8, 0, T_LOCK, NULL),
    T1(0x87, -1, SV, 0, T_LOCK, NULL),
    T1(0x90, 0, SV, 0, T_REGOP, NULL),
};
static const struct tmpl t_nop[] = {
    T1(0x90, 0, SV, 0, T_NOMODRM, NULL),
    T2(0x1f, 0, SV, 0, 0, NULL),
    T2(0x18, -1, SV, 0, T_MEM, NULL),
    T2(0x0d, 1, SV, 0, T_MEM, NULL),
    TP(0xf3, 0x1e, -1, S32, 0),
    {.op = {0x90}, .oplen = 1, .sizes = S32, .pfx = 0xf3, .f = T_NOMODRM},
};
static const struct tmpl t_stack[] = {
    T1(0x50, 0, S16 | S64, 0, T_REGOP, NULL),
    T1(0x58, 0, S16 | S64, 0, T_REGOP, NULL),
    T1(0xff, 6, S16 | S64, 0, 0, NULL),
    T1(0x8f, 0, S16 | S64, 0, 0, NULL),
    T1(0x68, 0, S16 | S64, IM_Z, T_NOMODRM, NULL),
    T1(0x6a, 0, S16 | S64, IM_B, T_NOMODRM, NULL),
    T1(0x9c, 0, S16 | S64, 0, T_NOMODRM, NULL),
    T1(0x9d, 0, S16 | S64, 0, T_NOMODRM, tw_popf),
    T1(0xc8, 0, S16 | S64, IM_WB, T_NOMODRM, tw_enter),
    T1(0xc9, 0, S16 | S64, 0, T_NOMODRM, tw_leave),
};
static const struct tmpl t_jcc[] = {
    T1(0x70, 0, S64, IM_B, T_CC | T_NOMODRM, NULL),
    T1(0x78, 0, S64, IM_B, T_CC | T_NOMODRM, NULL),
    {.op = {0x0f, 0x80},
     .oplen = 2,
     .sizes = S64 | S16,
     .imm = IM_Z,
     .f = T_CC | T_NOMODRM,
     .tweak = tw_rel},
    {.op = {0x0f, 0x88},
     .oplen = 2,
     .sizes = S64,
     .imm = IM_Z,
     .f = T_CC | T_NOMODRM,
     .tweak = tw_rel},
};
static const struct tmpl t_branch[] = {
    T1(0xeb, 0, S64, IM_B, T_NOMODRM, NULL),
    T1(0xe9, 0, S64, IM_Z, T_NOMODRM, tw_rel),
    T1(0xe8, 0, S64 | S16, IM_Z, T_NOMODRM, tw_rel),
    T1(0xff, 4, S64, 0, 0, tw_jmpi),
    T1(0xff, 2, S64, 0, 0, tw_jmpi),
    T1(0xc3, 0, S64, 0, T_NOMODRM, tw_ret),
    T1(0xc2, 0, S64, IM_W, T_NOMODRM, tw_ret),
};
static const struct tmpl t_loop[] = {
    TA(0xe0, 0, S64, IM_B, T_NOMODRM, R(RCX), tw_loop),
    TA(0xe1, 0, S64, IM_B, T_NOMODRM, R(RCX), tw_loop),
    TA(0xe2, 0, S64, IM_B, T_NOMODRM, R(RCX), tw_loop),
    TA(0xe3, 0, S64, IM_B, T_NOMODRM, R(RCX), tw_loop),
};
static const struct tmpl t_setcc[] = {
    T2(0x90, -1, S8, 0, T_CC, NULL),
    T2(0x98, -1, S8, 0, T_CC, NULL),
};
static const struct tmpl t_cmov[] = {
    T2(0x40, -1, SV, 0, T_CC, NULL),
    T2(0x48, -1, SV, 0, T_CC, NULL),
};
static const struct tmpl t_conv[] = {
    T1(0x98, 0, SV, 0, T_NOMODRM, NULL),
    T1(0x99, 0, SV, 0, T_NOMODRM, NULL),
    T2(0xc8, 0, SV, 0, T_REGOP, NULL),
};
static const struct tmpl t_bt[] = {
    T2(0xa3, -1, SV, 0, 0, tw_bt),	 T2(0xab, -1, SV, 0, T_LOCK, tw_bt),
    T2(0xb3, -1, SV, 0, T_LOCK, tw_bt),	 T2(0xbb, -1, SV, 0, T_LOCK, tw_bt),
    T2(0xba, 4, SV, IM_B, 0, NULL),	 T2(0xba, 5, SV, IM_B, T_LOCK, NULL),
    T2(0xba, 6, SV, IM_B, T_LOCK, NULL), T2(0xba, 7, SV, IM_B, T_LOCK, NULL),
};
static const struct tmpl t_bitscan[] = {
    T2(0xbc, -1, SV, 0, 0, NULL), T2(0xbd, -1, SV, 0, 0, NULL), TP(0xf3, 0xbc, -1, SV, 0),
    TP(0xf3, 0xbd, -1, SV, 0),	  TP(0xf3, 0xb8, -1, SV, 0),
};
static const struct tmpl t_cmpxchg[] = {
    {.op = {0x0f, 0xb0},
     .oplen = 2,
     .digit = -1,
     .sizes = S8,
     .f = T_LOCK,
     .avoid = R(RAX),
     .tweak = tw_cmpxchg},
    {.op = {0x0f, 0xb1},
     .oplen = 2,
     .digit = -1,
     .sizes = SV,
     .f = T_LOCK,
     .avoid = R(RAX),
     .tweak = tw_cmpxchg},
    T2(0xc0, -1, S8, 0, T_LOCK, NULL),
    T2(0xc1, -1, SV, 0, T_LOCK, NULL),
    {.op = {0x0f, 0xc7},
     .oplen = 2,
     .digit = 1,
     .sizes = S32 | S64,
     .f = T_MEM | T_LOCK,
     .avoid = R(RAX) | R(RBX) | R(RCX) | R(RDX),
     .tweak = tw_cmpxchg2x},
};
static const struct tmpl t_misc[] = {
    T1(0xf5, 0, S32, 0, T_NOMODRM, NULL),
    T1(0xf8, 0, S32, 0, T_NOMODRM, NULL),
    T1(0xf9, 0, S32, 0, T_NOMODRM, NULL),
    T1(0xfc, 0, S32, 0, T_NOMODRM, NULL),
    T1(0xfd, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x9e, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x9f, 0, S32, 0, T_NOMODRM, NULL),
    T1(0xd7, 0, S64, 0, T_NOMODRM, tw_xlat),
    T2(0xa2, 0, S32, 0, T_NOMODRM, tw_cpuid),
    {.op = {0x0f, 0x38, 0xf0}, .oplen = 3, .digit = -1, .sizes = SV, .f = T_MEM},
    {.op = {0x0f, 0x38, 0xf1}, .oplen = 3, .digit = -1, .sizes = SV, .f = T_MEM},
};
static const struct tmpl t_string[] = {
    T1(0xa4, 0, S8, 0, T_NOMODRM, tw_string), T1(0xa5, 0, SV, 0, T_NOMODRM, tw_string),
    T1(0xaa, 0, S8, 0, T_NOMODRM, tw_string), T1(0xab, 0, SV, 0, T_NOMODRM, tw_string),
    T1(0xac, 0, S8, 0, T_NOMODRM, tw_string), T1(0xad, 0, SV, 0, T_NOMODRM, tw_string),
    T1(0xa6, 0, S8, 0, T_NOMODRM, tw_string), T1(0xa7, 0, SV, 0, T_NOMODRM, tw_string),
    T1(0xae, 0, S8, 0, T_NOMODRM, tw_string), T1(0xaf, 0, SV, 0, T_NOMODRM, tw_string),
};
static const struct tmpl t_priv[] = {
    T1(0xf4, 0, S32, 0, T_NOMODRM, NULL),     T1(0xfa, 0, S32, 0, T_NOMODRM, NULL),
    T1(0xfb, 0, S32, 0, T_NOMODRM, NULL),     T1(0xe4, 0, S8, IM_B, T_NOMODRM, NULL),
    T1(0xe5, 0, SV, IM_B, T_NOMODRM, NULL),   T1(0xe6, 0, S8, IM_B, T_NOMODRM, NULL),
    T1(0xe7, 0, SV, IM_B, T_NOMODRM, NULL),   T1(0xec, 0, S8, 0, T_NOMODRM, NULL),
    T1(0xed, 0, SV, 0, T_NOMODRM, NULL),      T1(0xee, 0, S8, 0, T_NOMODRM, NULL),
    T1(0xef, 0, SV, 0, T_NOMODRM, NULL),      T1(0x6c, 0, S8, 0, T_NOMODRM, tw_string),
    T1(0x6f, 0, SV, 0, T_NOMODRM, tw_string), T1(0xcc, 0, S32, 0, T_NOMODRM, NULL),
    T2(0x0b, 0, S32, 0, T_NOMODRM, NULL),
};
static const struct tmpl t_invalid[] = {
    T1(0x06, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x07, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x0e, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x16, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x17, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x1e, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x1f, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x27, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x2f, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x37, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x3f, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x60, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x61, 0, S32, 0, T_NOMODRM, NULL),
    T1(0x62, -1, S32, 0, 0, NULL),
    T1(0x82, 0, S8, IM_B, 0, NULL),
    T1(0x9a, 0, S32, 0, T_NOMODRM, NULL),
    T1(0xce, 0, S32, 0, T_NOMODRM, NULL),
    T1(0xd4, 0, S32, IM_B, T_NOMODRM, NULL),
    T1(0xd5, 0, S32, IM_B, T_NOMODRM, NULL),
    T1(0xd6, 0, S32, 0, T_NOMODRM, NULL),
    T1(0xea, 0, S32, 0, T_NOMODRM, NULL),
    T1(0xc6, 3, S8, IM_B, 0, NULL),
    T1(0xc7, 5, SV, IM_Z, 0, NULL),
    T1(0xfe, 2, S8, 0, 0, NULL),
    T1(0xfe, 7, S8, 0, 0, NULL),
    T1(0xff, 7, SV, 0, 0, NULL),
    T1(0x8f, 1, SV, 0, 0, NULL),
    T1(0x8d, -1, SV, 0, T_REG, NULL),
    T2(0xb9, -1, S32, 0, 0, NULL),
    T2(0x0a, 0, S32, 0, T_NOMODRM, NULL),
    T2(0xb8, -1, SV, 0, 0, NULL),
    T2(0xff, -1, S32, 0, 0, NULL),
    T2(0xc7, 1, S32 | S64, 0, T_REG, NULL),
    T2(0xc7, 0, S32, 0, 0, NULL),
    {.op = {0x0f, 0x38, 0xf0}, .oplen = 3, .digit = -1, .sizes = SV, .f = T_REG},
    /* LOCK where it is not allowed. */
    {.op = {0x01}, .oplen = 1, .digit = -1, .sizes = SV, .pfx = 0xf0, .f = T_REG},
    {.op = {0x39}, .oplen = 1, .digit = -1, .sizes = SV, .pfx = 0xf0},
    {.op = {0x89}, .oplen = 1, .digit = -1, .sizes = SV, .pfx = 0xf0},
    {.op = {0x0f, 0xa3}, .oplen = 2, .digit = -1, .sizes = SV, .pfx = 0xf0},
    {.op = {0x85}, .oplen = 1, .digit = -1, .sizes = SV, .pfx = 0xf0},
    {.op = {0x90}, .oplen = 1, .sizes = S32, .pfx = 0xf0, .f = T_NOMODRM},
    {.op = {0x8d}, .oplen = 1, .digit = -1, .sizes = SV, .pfx = 0xf0, .f = T_MEM},
};


/* ---- SSE, MMX, x87 ---- */

#define TS(p, o, fl, tw)                                                                           \
	{                                                                                          \
		.op = {0x0f, o}, .oplen = 2, .digit = -1, .sizes = S32, .pfx = p, .f = fl,         \
		.tweak = tw                                                                        \
	}
#define TSW(p, o, fl, tw)                                                                          \
	{                                                                                          \
		.op = {0x0f, o}, .oplen = 2, .digit = -1, .sizes = S32 | S64, .pfx = p, .f = fl,   \
		.tweak = tw                                                                        \
	}
#define TSI(p, o, fl, tw)                                                                          \
	{                                                                                          \
		.op = {0x0f, o}, .oplen = 2, .digit = -1, .sizes = S32, .imm = IM_B, .pfx = p,     \
		.f = fl, .tweak = tw                                                                \
	}
#define TSD(p, o, d, fl, tw)                                                                       \
	{                                                                                          \
		.op = {0x0f, o}, .oplen = 2, .digit = d, .sizes = S32 | S64, .imm = IM_B,          \
		.pfx = p, .f = fl, .tweak = tw                                                      \
	}
/* The four forms of a packed/scalar single/double operation. */
#define FP4(o, tw)                                                                                 \
	TS(0, o, T_A16, tw), TS(0x66, o, T_A16, tw), TS(0xf3, o, 0, tw), TS(0xf2, o, 0, tw)

static const struct tmpl t_sse_mov[] = {
    TS(0, 0x10, 0, tw_sse),	     TS(0x66, 0x10, 0, tw_sse),	   TS(0xf3, 0x10, 0, tw_sse),
    TS(0xf2, 0x10, 0, tw_sse),	     TS(0, 0x11, 0, tw_sse),	   TS(0x66, 0x11, 0, tw_sse),
    TS(0xf3, 0x11, 0, tw_sse),	     TS(0xf2, 0x11, 0, tw_sse),	   TS(0, 0x12, 0, tw_sse),
    TS(0x66, 0x12, 0, tw_sse),	     TS(0, 0x13, 0, tw_sse),	   TS(0x66, 0x13, 0, tw_sse),
    TS(0, 0x16, 0, tw_sse),	     TS(0x66, 0x16, 0, tw_sse),	   TS(0, 0x17, 0, tw_sse),
    TS(0x66, 0x17, 0, tw_sse),	     TS(0, 0x28, T_A16, tw_sse),   TS(0x66, 0x28, T_A16, tw_sse),
    TS(0, 0x29, T_A16, tw_sse),	     TS(0x66, 0x29, T_A16, tw_sse), TS(0, 0x2b, T_A16, tw_sse),
    TS(0x66, 0x2b, T_A16, tw_sse),   TSW(0x66, 0x6e, 0, tw_sse),   TSW(0x66, 0x7e, 0, tw_sse),
    TS(0x66, 0x6f, T_A16, tw_sse),   TS(0xf3, 0x6f, 0, tw_sse),	   TS(0x66, 0x7f, T_A16, tw_sse),
    TS(0xf3, 0x7f, 0, tw_sse),	     TS(0xf3, 0x7e, 0, tw_sse),	   TS(0x66, 0xd6, 0, tw_sse),
    TS(0x66, 0xe7, T_A16, tw_sse),   TSW(0, 0xc3, 0, tw_sse),	   TSW(0, 0x50, 0, tw_sse),
    TSW(0x66, 0x50, 0, tw_sse),	     TSW(0x66, 0xd7, 0, tw_sse_int), TS(0x66, 0xf7, T_REG, tw_maskmov),
    TSI(0x66, 0xc4, 0, tw_sse_int),  TSI(0x66, 0xc5, 0, tw_sse_int), TS(0xf3, 0x13, 0, tw_sse),
    TS(0xf2, 0x6f, 0, tw_sse),	     TS(0xf2, 0x12, 0, tw_sse),	   TS(0xf3, 0x16, 0, tw_sse),
};

static const struct tmpl t_sse_arith[] = {
    FP4(0x51, tw_sse), FP4(0x58, tw_sse),	FP4(0x59, tw_sse),	  FP4(0x5c, tw_sse),
    FP4(0x5d, tw_sse), FP4(0x5e, tw_sse),	FP4(0x5f, tw_sse),	  TS(0, 0x52, T_A16, tw_sse),
    TS(0xf3, 0x52, 0, tw_sse), TS(0, 0x53, T_A16, tw_sse), TS(0xf3, 0x53, 0, tw_sse),
    TS(0x66, 0x53, 0, tw_sse),
};

static const struct tmpl t_sse_cmp[] = {
    TSI(0, 0xc2, T_A16, tw_sse), TSI(0x66, 0xc2, T_A16, tw_sse), TSI(0xf3, 0xc2, 0, tw_sse),
    TSI(0xf2, 0xc2, 0, tw_sse),	 TS(0, 0x2e, 0, tw_sse),	   TS(0x66, 0x2e, 0, tw_sse),
    TS(0, 0x2f, 0, tw_sse),	 TS(0x66, 0x2f, 0, tw_sse),
};

static const struct tmpl t_sse_cvt[] = {
    FP4(0x5a, tw_sse),		    TS(0, 0x5b, T_A16, tw_sse),	    TS(0x66, 0x5b, T_A16, tw_sse),
    TS(0xf3, 0x5b, T_A16, tw_sse), TS(0x66, 0xe6, T_A16, tw_sse), TS(0xf3, 0xe6, 0, tw_sse),
    TS(0xf2, 0xe6, T_A16, tw_sse), TSW(0xf3, 0x2a, 0, tw_sse),	    TSW(0xf2, 0x2a, 0, tw_sse),
    TSW(0xf3, 0x2c, 0, tw_sse),	    TSW(0xf2, 0x2c, 0, tw_sse),	    TSW(0xf3, 0x2d, 0, tw_sse),
    TSW(0xf2, 0x2d, 0, tw_sse),	    TS(0, 0x2a, 0, tw_mmx),	    TS(0x66, 0x2a, 0, tw_mmx),
    TS(0, 0x2c, 0, tw_sse),	    TS(0x66, 0x2c, T_A16, tw_sse), TS(0, 0x2d, 0, tw_sse),
    TS(0x66, 0x2d, T_A16, tw_sse), TS(0, 0xe6, 0, tw_sse),
};

static const struct tmpl t_sse_logic[] = {
    TS(0, 0x14, T_A16, tw_sse),	   TS(0x66, 0x14, T_A16, tw_sse), TS(0, 0x15, T_A16, tw_sse),
    TS(0x66, 0x15, T_A16, tw_sse), TS(0, 0x54, T_A16, tw_sse),	  TS(0x66, 0x54, T_A16, tw_sse),
    TS(0, 0x55, T_A16, tw_sse),	   TS(0x66, 0x55, T_A16, tw_sse), TS(0, 0x56, T_A16, tw_sse),
    TS(0x66, 0x56, T_A16, tw_sse), TS(0, 0x57, T_A16, tw_sse),	  TS(0x66, 0x57, T_A16, tw_sse),
    TSI(0, 0xc6, T_A16, tw_sse),   TSI(0x66, 0xc6, T_A16, tw_sse), TS(0xf3, 0x54, 0, tw_sse),
};

/* The integer operations, 66 (XMM) or unprefixed (MMX). */
#define PI(p, o, tw) TS(p, o, T_A16, tw)
#define PI_ALL(p, tw)                                                                              \
	PI(p, 0x60, tw), PI(p, 0x61, tw), PI(p, 0x62, tw), PI(p, 0x63, tw), PI(p, 0x64, tw),       \
	    PI(p, 0x65, tw), PI(p, 0x66, tw), PI(p, 0x67, tw), PI(p, 0x68, tw), PI(p, 0x69, tw),  \
	    PI(p, 0x6a, tw), PI(p, 0x6b, tw), PI(p, 0x6c, tw), PI(p, 0x6d, tw), PI(p, 0x74, tw),  \
	    PI(p, 0x75, tw), PI(p, 0x76, tw), PI(p, 0xd1, tw), PI(p, 0xd2, tw), PI(p, 0xd3, tw),  \
	    PI(p, 0xd4, tw), PI(p, 0xd5, tw), PI(p, 0xd8, tw), PI(p, 0xd9, tw), PI(p, 0xda, tw),  \
	    PI(p, 0xdb, tw), PI(p, 0xdc, tw), PI(p, 0xdd, tw), PI(p, 0xde, tw), PI(p, 0xdf, tw),  \
	    PI(p, 0xe0, tw), PI(p, 0xe1, tw), PI(p, 0xe2, tw), PI(p, 0xe3, tw), PI(p, 0xe4, tw),  \
	    PI(p, 0xe5, tw), PI(p, 0xe8, tw), PI(p, 0xe9, tw), PI(p, 0xea, tw), PI(p, 0xeb, tw),  \
	    PI(p, 0xec, tw), PI(p, 0xed, tw), PI(p, 0xee, tw), PI(p, 0xef, tw), PI(p, 0xf1, tw),  \
	    PI(p, 0xf2, tw), PI(p, 0xf3, tw), PI(p, 0xf4, tw), PI(p, 0xf5, tw), PI(p, 0xf6, tw),  \
	    PI(p, 0xf8, tw), PI(p, 0xf9, tw), PI(p, 0xfa, tw), PI(p, 0xfb, tw), PI(p, 0xfc, tw),  \
	    PI(p, 0xfd, tw), PI(p, 0xfe, tw), TSI(p, 0x70, T_A16, tw), TSD(p, 0x71, 2, T_REG, tw), \
	    TSD(p, 0x71, 4, T_REG, tw), TSD(p, 0x71, 6, T_REG, tw), TSD(p, 0x72, 2, T_REG, tw),  \
	    TSD(p, 0x72, 4, T_REG, tw), TSD(p, 0x72, 6, T_REG, tw), TSD(p, 0x73, 2, T_REG, tw),  \
	    TSD(p, 0x73, 3, T_REG, tw), TSD(p, 0x73, 6, T_REG, tw), TSD(p, 0x73, 7, T_REG, tw),  \
	    TSD(p, 0x71, 0, 0, tw), TSD(p, 0x73, 5, T_REG, tw), TSI(p, 0xc4, 0, tw),              \
	    TSI(p, 0xc5, 0, tw), TSW(p, 0xd7, 0, tw)

static const struct tmpl t_sse_int[] = {
    PI_ALL(0x66, tw_sse_int), TSI(0xf3, 0x70, 0, tw_sse_int), TSI(0xf2, 0x70, 0, tw_sse_int),
    TS(0xf3, 0xfe, 0, tw_sse_int),
};

static const struct tmpl t_mmx[] = {
    PI_ALL(0, tw_mmx),
    TSW(0, 0x6e, 0, tw_mmx),
    TSW(0, 0x7e, 0, tw_mmx),
    TS(0, 0x6f, 0, tw_mmx),
    TS(0, 0x7f, 0, tw_mmx),
    TS(0, 0xe7, 0, tw_mmx),
    TS(0, 0xf7, T_REG, tw_maskmov),
    TS(0xf3, 0xd6, 0, tw_mmx),
    TS(0xf2, 0xd6, 0, tw_mmx),
    {.op = {0x0f, 0x77}, .oplen = 2, .sizes = S32, .f = T_NOMODRM, .tweak = tw_mmx},
    TS(0, 0x2c, 0, tw_mmx),
    TS(0x66, 0x2d, 0, tw_mmx),
};

static const struct tmpl t_sse_state[] = {
    {.op = {0x0f, 0xae}, .oplen = 2, .digit = 0, .sizes = S32 | S64, .f = T_MEM | T_BIG,
     .tweak = tw_fxstate},
    {.op = {0x0f, 0xae}, .oplen = 2, .digit = 1, .sizes = S32 | S64, .f = T_MEM | T_BIG,
     .tweak = tw_fxstate},
    {.op = {0x0f, 0xae}, .oplen = 2, .digit = 2, .sizes = S32, .f = T_MEM, .tweak = tw_fxstate},
    {.op = {0x0f, 0xae}, .oplen = 2, .digit = 3, .sizes = S32, .f = T_MEM, .tweak = tw_fxstate},
};

#define X87M(o, d) {.op = {o}, .oplen = 1, .digit = d, .sizes = S32, .f = T_MEM, .tweak = tw_x87}
#define X87R(o, d) {.op = {o}, .oplen = 1, .digit = d, .sizes = S32, .f = T_REG, .tweak = tw_x87}
#define X87ROW(o, X)                                                                               \
	X(o, 0), X(o, 1), X(o, 2), X(o, 3), X(o, 4), X(o, 5), X(o, 6), X(o, 7)

static const struct tmpl t_x87_reg[] = {
    X87ROW(0xd8, X87R), X87ROW(0xd9, X87R), X87ROW(0xda, X87R), X87ROW(0xdb, X87R),
    X87ROW(0xdc, X87R), X87ROW(0xdd, X87R), X87ROW(0xde, X87R), X87ROW(0xdf, X87R),
    X87R(0xd9, 4),	X87R(0xd9, 5),	    X87R(0xd9, 6),	X87R(0xd9, 7),
};

static const struct tmpl t_x87_mem[] = {
    X87ROW(0xd8, X87M), X87ROW(0xd9, X87M), X87ROW(0xda, X87M), X87ROW(0xdb, X87M),
    X87ROW(0xdc, X87M), X87ROW(0xdd, X87M), X87ROW(0xde, X87M), X87ROW(0xdf, X87M),
    {.op = {0x9b}, .oplen = 1, .sizes = S32, .f = T_NOMODRM, .tweak = tw_x87},
    {.op = {0xd9}, .oplen = 1, .digit = 4, .sizes = S16, .f = T_MEM, .tweak = tw_x87},
    {.op = {0xd9}, .oplen = 1, .digit = 6, .sizes = S16, .f = T_MEM, .tweak = tw_x87},
    {.op = {0xdd}, .oplen = 1, .digit = 4, .sizes = S16, .f = T_MEM, .tweak = tw_x87},
    {.op = {0xdd}, .oplen = 1, .digit = 6, .sizes = S16, .f = T_MEM, .tweak = tw_x87},
};

#define TG(name, tab, w)                                                                           \
	{                                                                                          \
		name, gen_tmpl, (const void *const[]){tab, (void *)(uintptr_t)ARRAY_LEN(tab)}, w   \
	}

/* ---- hand-written cases ---- */

static void base_regs(struct diff_rng *r, struct diff_case *c)
{
	for (unsigned i = 0; i < 16; i++)
		c->in.gpr[i] = edge(r);
	c->in.gpr[RSP] = DIFF_DATA_BASE + 0x1800 + 8 * rnd(r, 64);
}

static void code(struct diff_case *c, const uint8_t *b, unsigned n)
{
	memcpy(c->code + c->code_len, b, n);
	c->code_len += n;
}

static bool gen_seq(struct diff_rng *r, struct diff_case *c, const void *arg)
{
	/* Sum an array: add rax,[rsi]; add rsi,8; dec rcx; jnz */
	static const uint8_t sum[] = {0x48, 0x03, 0x06, 0x48, 0x83, 0xc6,
				      0x08, 0x48, 0xff, 0xc9, 0x75, 0xf4};
	static const uint8_t movsb[] = {0xf3, 0xa4};
	static const uint8_t stosq[] = {0xf3, 0x48, 0xab};
	/* mov rax,[rdi]; lea rdx,[rax+1]; lock cmpxchg [rdi],rdx; jnz; dec ecx; jnz */
	static const uint8_t cas[] = {0x48, 0x8b, 0x07, 0x48, 0x8d, 0x50, 0x01, 0xf0, 0x48,
				      0x0f, 0xb1, 0x17, 0x75, 0xf2, 0xff, 0xc9, 0x75, 0xee};
	/* call f; jmp +1; f: ret */
	static const uint8_t callret[] = {0xe8, 0x02, 0x00, 0x00, 0x00, 0xeb, 0x01, 0xc3};
	/* push rax; push rbx; pop rcx; pop rdx; pushfq; pop rsi; push -1; pop r9 */
	static const uint8_t pushpop[] = {0x50, 0x53, 0x59, 0x5a, 0x9c,
					  0x5e, 0x6a, 0xff, 0x41, 0x59};
	/* L: add eax, ecx; loop L */
	static const uint8_t loop[] = {0x01, 0xc8, 0xe2, 0xfc};
	/* L: imul rax, rax, 3; xor rdx,rdx; div rbx (rbx>0); dec ecx; jnz L */
	static const uint8_t arith[] = {0x48, 0x6b, 0xc0, 0x03, 0x48, 0x31, 0xd2,
					0x48, 0xf7, 0xf3, 0xff, 0xc9, 0x75, 0xf2};
	/* enter 32,0; mov [rbp-8], rax; leave; ret (to an INT3 target set up below) */
	static const uint8_t frame[] = {0xc8, 0x20, 0x00, 0x00, 0x48, 0x89, 0x45, 0xf8, 0xc9, 0xc3};
	unsigned which = rnd(r, 9);

	(void)arg;
	base_regs(r, c);
	c->in.gpr[RSI] = DIFF_DATA_BASE + 0x200 + 8 * rnd(r, 64);
	c->in.gpr[RDI] = DIFF_DATA_BASE + 0x900 + 8 * rnd(r, 64);
	switch (which) {
	case 0:
		code(c, sum, sizeof(sum));
		c->in.gpr[RCX] = 1 + rnd(r, 100);
		break;
	case 1:
		code(c, movsb, sizeof(movsb));
		c->in.gpr[RCX] = rnd(r, 0x600);
		c->in.rflags &= ~0x400ull;
		break;
	case 2:
		code(c, stosq, sizeof(stosq));
		c->in.gpr[RCX] = rnd(r, 0xc0);
		break;
	case 3:
		code(c, cas, sizeof(cas));
		c->in.gpr[RCX] = 1 + rnd(r, 50);
		break;
	case 4:
		code(c, callret, sizeof(callret));
		break;
	case 5:
		code(c, pushpop, sizeof(pushpop));
		break;
	case 6:
		code(c, loop, sizeof(loop));
		c->in.gpr[RCX] = rnd(r, 300);
		break;
	case 7:
		code(c, arith, sizeof(arith));
		c->in.gpr[RBX] = 1 + rnd(r, 1000);
		c->in.gpr[RCX] = 1 + rnd(r, 50);
		break;
	default: {
		struct diff_patch *p = &c->patch[c->nr_patch++];

		code(c, frame, sizeof(frame));
		c->in.gpr[RBP] = diff_rand(r);
		c->in.gpr[RSP] -= 8;
		*p = (struct diff_patch){.off = c->in.gpr[RSP] - DIFF_DATA_BASE,
					 .len = 8,
					 .val = DIFF_CODE_ENTRY + 0x40};
		break;
	}
	}
	return true;
}

/*
 * Short runs of x87, SSE and MMX instructions, so state flows from one to
 * the next (stack, tags, pending exceptions, MXCSR changes). RSI and RDI
 * point at FP data, RBX at a control word and an MXCSR.
 */
static bool gen_fpseq(struct diff_rng *r, struct diff_case *c, const void *arg)
{
	static const uint8_t x87[][4] = {
	    {2, 0xd9, 0xe8}, {2, 0xd9, 0xeb}, {2, 0xd9, 0xee}, {2, 0xd9, 0xea}, {2, 0xd9, 0xe9},
	    {2, 0xd9, 0xec}, {2, 0xd9, 0xed}, {2, 0xd9, 0xc1}, {2, 0xd9, 0xc9}, {2, 0xde, 0xc1},
	    {2, 0xde, 0xc9}, {2, 0xde, 0xe9}, {2, 0xde, 0xf9}, {2, 0xd9, 0xfa}, {2, 0xd9, 0xfe},
	    {2, 0xd9, 0xff}, {2, 0xd9, 0xfb}, {2, 0xd9, 0xf2}, {2, 0xd9, 0xf3}, {2, 0xd9, 0xf0},
	    {2, 0xd9, 0xf1}, {2, 0xd9, 0xf9}, {2, 0xd9, 0xfd}, {2, 0xd9, 0xf4}, {2, 0xd9, 0xf8},
	    {2, 0xd9, 0xf5}, {2, 0xd9, 0xfc}, {2, 0xd9, 0xe0}, {2, 0xd9, 0xe1}, {2, 0xd9, 0xe4},
	    {2, 0xd9, 0xe5}, {2, 0xdb, 0xe9}, {2, 0xdf, 0xe9}, {2, 0xda, 0xc1}, {2, 0xd8, 0xc1},
	    {2, 0xdd, 0xd9}, {1, 0x9b},	      {2, 0xdf, 0xe0}, {2, 0xdb, 0xe2}, {2, 0xdd, 0x1f},
	    {2, 0xd9, 0x1f}, {2, 0xdb, 0x3f}, {2, 0xdf, 0x3f}, {2, 0xdd, 0x06}, {2, 0xd9, 0x2b},
	    {2, 0xdb, 0x1f}, {2, 0xde, 0x06}, {2, 0xdb, 0x2e}, {2, 0xdf, 0x37}, {2, 0xd9, 0xc8},
	};
	static const uint8_t sse[][6] = {
	    {3, 0x0f, 0x28, 0xc1},	 {4, 0x66, 0x0f, 0x58, 0xc2}, {3, 0x0f, 0x59, 0xc3},
	    {4, 0xf2, 0x0f, 0x5e, 0xc1}, {4, 0xf3, 0x0f, 0x51, 0xc0}, {4, 0x66, 0x0f, 0x2f, 0xc1},
	    {3, 0x0f, 0x5a, 0xc0},	 {4, 0xf2, 0x0f, 0x2d, 0xc0}, {5, 0xf2, 0x48, 0x0f, 0x2a, 0xc0},
	    {4, 0x0f, 0xae, 0x53, 0x04}, {3, 0x0f, 0xae, 0x1f},	      {4, 0x66, 0x0f, 0x6f, 0x06},
	    {4, 0x66, 0x0f, 0xd4, 0xc1}, {5, 0x66, 0x0f, 0x73, 0xd0, 0x05},
	    {5, 0x66, 0x0f, 0x70, 0xc0, 0x1b}, {4, 0x0f, 0xc6, 0xc1, 0x4e},
	    {4, 0x66, 0x0f, 0x7e, 0xc0}, {4, 0xf3, 0x0f, 0x5c, 0x06}, {5, 0x66, 0x0f, 0xc2, 0xc1, 0x01},
	};
	static const uint8_t mmx[][4] = {
	    {3, 0x0f, 0x6f, 0xc1}, {3, 0x0f, 0xfe, 0xc1}, {2, 0x0f, 0x77},	 {3, 0x0f, 0x7e, 0xc0},
	    {3, 0x0f, 0x6e, 0xc8}, {3, 0x0f, 0xd5, 0x06}, {3, 0x0f, 0x63, 0xc1}, {2, 0xd9, 0xe8},
	    {3, 0x0f, 0x7f, 0x07}, {2, 0xdd, 0x1f},
	};
	unsigned kind = rnd(r, 3), n = 2 + rnd(r, 5);
	uint16_t fcw = (uint16_t)(0x37f & ~(rnd(r, 4) ? 0 : rnd(r, 64))) | (uint16_t)(rnd(r, 16) << 8);

	(void)arg;
	base_regs(r, c);
	c->in.gpr[RSI] = DIFF_DATA_BASE + 0x200 + 16 * rnd(r, 64);
	c->in.gpr[RDI] = DIFF_DATA_BASE + 0x800 + 16 * rnd(r, 64);
	c->in.gpr[RBX] = DIFF_DATA_BASE + 0xf00 + 8 * rnd(r, 64);
	rnd_x87(r, c->fx);
	rnd_xmm(r, c->fx, true);
	put32(c->fx + FX_MXCSR, rnd_mxcsr(r));
	if (kind == 2)
		rnd_mmx(r, c->fx);
	c->patch[c->nr_patch++] = (struct diff_patch){
	    .off = (uint16_t)(c->in.gpr[RSI] - DIFF_DATA_BASE), .len = 8, .val = rnd_sse64(r)};
	c->patch[c->nr_patch++] = (struct diff_patch){
	    .off = (uint16_t)(c->in.gpr[RBX] - DIFF_DATA_BASE), .len = 2, .val = fcw};
	c->patch[c->nr_patch++] = (struct diff_patch){
	    .off = (uint16_t)(c->in.gpr[RBX] - DIFF_DATA_BASE + 4), .len = 4, .val = rnd_mxcsr(r)};
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *op = kind == 0   ? x87[rnd(r, ARRAY_LEN(x87))]
				    : kind == 1 ? sse[rnd(r, ARRAY_LEN(sse))]
						: mmx[rnd(r, ARRAY_LEN(mmx))];

		code(c, op + 1, op[0]);
	}
	return true;
}

static bool gen_toolong(struct diff_rng *r, struct diff_case *c, const void *arg)
{
	unsigned n = 12 + rnd(r, 6);
	static const uint8_t pf[] = {0x67, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0xf3, 0xf2};

	(void)arg;
	base_regs(r, c);
	for (unsigned i = 0; i < n; i++)
		put(c, pf[rnd(r, sizeof(pf))]);
	/* nop, or mov eax, imm32 (5 more bytes) */
	if (rnd(r, 2)) {
		put(c, 0x90);
	} else {
		put(c, 0xb8);
		put_n(c, diff_rand(r), 4);
	}
	return true;
}

/* Random bytes; registers point into the data area so memory operands mostly land there. */
static bool gen_fuzz(struct diff_rng *r, struct diff_case *c, const void *arg)
{
	static const uint8_t pf[] = {0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x65,
				     0x40, 0x48, 0x41, 0x44, 0x4c, 0x4f};
	struct x86_insn in;

	(void)arg;
	for (unsigned i = 0; i < 16; i++)
		c->in.gpr[i] = rnd(r, 4) ? DIFF_DATA_BASE + 0x800 + rnd(r, 0x800) : edge(r);
	c->in.gpr[RSP] = DIFF_DATA_BASE + 0x1800 + 8 * rnd(r, 64);
	if (rnd(r, 2)) {
		rnd_x87(r, c->fx);
		rnd_xmm(r, c->fx, true);
		put32(c->fx + FX_MXCSR, rnd_mxcsr(r));
	}
	for (unsigned i = rnd(r, 3); i > 0; i--)
		put(c, pf[rnd(r, sizeof(pf))]);
	if (rnd(r, 3) == 0)
		put(c, 0x0f);
	for (unsigned i = 0; i < 10; i++)
		put(c,
		    (i == 1 && rnd(r, 2)) ? (uint8_t)(rnd(r, 0x40) | 0x40) : (uint8_t)diff_rand(r));
	if (x86_decode(c->code, c->code_len, X86_MODE_64, &in))
		return false;
	/* The host's FS base is its TLS block: not something both sides share. */
	if (in.seg == X86_SEG_FS)
		return false;
	/* F3 0F AE /0-/3 registers: RDFSBASE and co., which the host may run. */
	if (in.map == 1 && in.opc == 0xae && !(in.flags & X86_F_MEM))
		return false;
	/* Keep away from what differs run to run or could reach the host kernel. */
	switch (in.op) {
	case OP_UNIMPL:
	case OP_GRP6: /* SLDT/STR/SGDT/SIDT: the host kernel emulates them (UMIP) */
	case OP_GRP7:
	case OP_INT:
	case OP_RDTSC:
	case OP_CPUID:
		return false;
	default:
		break;
	}
	c->code_len = in.len < c->code_len ? in.len : c->code_len;
	return true;
}

static const struct diff_group groups[] = {
    TG("add", t_add, 3),
    TG("or", t_or, 2),
    TG("adc", t_adc, 3),
    TG("sbb", t_sbb, 3),
    TG("and", t_and, 2),
    TG("sub", t_sub, 3),
    TG("xor", t_xor, 2),
    TG("cmp", t_cmp, 3),
    TG("test", t_test, 2),
    TG("inc-dec", t_incdec, 2),
    TG("not-neg", t_notneg, 2),
    TG("mul-imul", t_mul, 4),
    TG("div-idiv", t_div, 4),
    TG("rol", t_rol, 3),
    TG("ror", t_ror, 3),
    TG("rcl", t_rcl, 3),
    TG("rcr", t_rcr, 3),
    TG("shl", t_shl, 3),
    TG("shr", t_shr, 3),
    TG("sal", t_sal, 2),
    TG("sar", t_sar, 3),
    TG("shld-shrd", t_shxd, 4),
    TG("mov", t_mov, 3),
    TG("movzx-movsx-movsxd", t_movx, 3),
    TG("lea", t_lea, 3),
    TG("xchg", t_xchg, 2),
    TG("nop", t_nop, 1),
    TG("push-pop-enter-leave", t_stack, 4),
    TG("jcc", t_jcc, 3),
    TG("jmp-call-ret", t_branch, 3),
    TG("loop-jrcxz", t_loop, 2),
    TG("setcc", t_setcc, 2),
    TG("cmovcc", t_cmov, 2),
    TG("cbw-cwd-bswap", t_conv, 2),
    TG("bt-bts-btr-btc", t_bt, 4),
    TG("bsf-bsr-tzcnt-lzcnt-popcnt", t_bitscan, 3),
    TG("cmpxchg-xadd", t_cmpxchg, 3),
    TG("flags-lahf-xlat-cpuid-movbe", t_misc, 2),
    TG("string", t_string, 4),
    TG("privileged-int3-ud2", t_priv, 1),
    TG("invalid-in-64bit", t_invalid, 2),
    TG("sse-mov", t_sse_mov, 12),
    TG("sse-arith", t_sse_arith, 16),
    TG("sse-cmp-comi", t_sse_cmp, 8),
    TG("sse-cvt", t_sse_cvt, 16),
    TG("sse-logic-shuffle", t_sse_logic, 4),
    TG("sse2-int", t_sse_int, 12),
    TG("mmx", t_mmx, 8),
    TG("sse-state", t_sse_state, 4),
    TG("x87-reg", t_x87_reg, 30),
    TG("x87-mem", t_x87_mem, 20),
    {"fp-sequences", gen_fpseq, NULL, 12},
    {"too-long", gen_toolong, NULL, 1},
    {"sequences", gen_seq, NULL, 2},
    {"fuzz", gen_fuzz, NULL, 8},
};

const struct diff_group *diff_groups(unsigned *n)
{
	*n = ARRAY_LEN(groups);
	return groups;
}
