/* soft/cpu/flags.c: lazy arithmetic flags and condition codes. */
#include "soft/cpu/internal.h"

uint64_t flags_szp(uint64_t res, unsigned sz)
{
	uint64_t f = 0;

	res &= sz_mask(sz);
	if (!res)
		f |= FL_ZF;
	if (res & sz_msb(sz))
		f |= FL_SF;
	if (!__builtin_parity((unsigned)(res & 0xff)))
		f |= FL_PF;
	return f;
}

static uint64_t lazy_compute(const struct cpu *c)
{
	const struct cpu_lazy *l = &c->lf;
	uint64_t a = l->a, b = l->b, r = l->res, msb = sz_msb(l->size);
	uint64_t f = flags_szp(r, l->size);

	switch (l->op) {
	case LF_ADD:
	case LF_ADC:
		/* Carry out of the top bit is the majority of a, b and the carry into it. */
		if (((a & b) | ((a | b) & ~r)) & msb)
			f |= FL_CF;
		if ((a ^ r) & (b ^ r) & msb)
			f |= FL_OF;
		f |= (a ^ b ^ r) & FL_AF;
		break;
	case LF_SUB:
	case LF_SBB:
		if (((~a & b) | (~(a ^ b) & r)) & msb)
			f |= FL_CF;
		if ((a ^ b) & (a ^ r) & msb)
			f |= FL_OF;
		f |= (a ^ b ^ r) & FL_AF;
		break;
	case LF_INC:
		f |= c->rflags & FL_CF;
		if (r == msb)
			f |= FL_OF;
		f |= (a ^ r) & FL_AF;
		break;
	case LF_DEC:
		f |= c->rflags & FL_CF;
		if (a == msb)
			f |= FL_OF;
		f |= (a ^ r) & FL_AF;
		break;
	default: /* LF_LOGIC: CF = OF = 0, AF = 0 as the hardware leaves it */
		break;
	}
	return f;
}

uint64_t flags_get(struct cpu *c)
{
	if (c->lf.op != LF_NONE) {
		c->rflags = (c->rflags & ~(uint64_t)FL_ARITH) | lazy_compute(c);
		c->lf.op = LF_NONE;
	}
	return c->rflags;
}

void flags_put(struct cpu *c, uint64_t mask, uint64_t val)
{
	uint64_t f = flags_get(c);

	c->rflags = (f & ~mask) | (val & mask);
}

bool flags_cond(struct cpu *c, unsigned cc)
{
	const struct cpu_lazy *l = &c->lf;
	uint64_t f;
	bool r;

	/* CMP/SUB followed by Jcc: answer from the operands directly. */
	if (l->op == LF_SUB) {
		int64_t sa = (int64_t)sext(l->a, l->size), sb = (int64_t)sext(l->b, l->size);

		switch (cc >> 1) {
		case 1:
			r = l->a < l->b;
			return r ^ (cc & 1);
		case 2:
			r = l->a == l->b;
			return r ^ (cc & 1);
		case 3:
			r = l->a <= l->b;
			return r ^ (cc & 1);
		case 6:
			r = sa < sb;
			return r ^ (cc & 1);
		case 7:
			r = sa <= sb;
			return r ^ (cc & 1);
		default:
			break;
		}
	}
	f = flags_get(c);
	switch (cc >> 1) {
	case 0:
		r = f & FL_OF;
		break;
	case 1:
		r = f & FL_CF;
		break;
	case 2:
		r = f & FL_ZF;
		break;
	case 3:
		r = f & (FL_CF | FL_ZF);
		break;
	case 4:
		r = f & FL_SF;
		break;
	case 5:
		r = f & FL_PF;
		break;
	case 6:
		r = !(f & FL_SF) != !(f & FL_OF);
		break;
	default:
		r = (f & FL_ZF) || (!(f & FL_SF) != !(f & FL_OF));
		break;
	}
	return r ^ (cc & 1);
}
