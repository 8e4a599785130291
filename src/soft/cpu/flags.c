/* soft/cpu/flags.c: lazy arithmetic flags and condition codes. */
#include "soft/cpu/internal.h"

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
	case LF_SHL: {
		unsigned bits = 8 * l->size;

		/* OF as for a count of 1 whatever the count (what the host does). */
		if (b <= bits && ((a >> (bits - b)) & 1))
			f |= FL_CF;
		if ((a ^ (a << 1)) & msb)
			f |= FL_OF;
		break;
	}
	case LF_SHR:
		if ((a >> (b - 1)) & 1)
			f |= FL_CF;
		if (a & msb)
			f |= FL_OF;
		break;
	case LF_SAR:
		if (((uint64_t)((int64_t)sext(a, l->size) >> (b - 1))) & 1)
			f |= FL_CF;
		break;
	case LF_MUL:
		f &= ~(uint64_t)FL_ZF;
		if (a)
			f |= FL_CF | FL_OF;
		break;
	default: /* LF_LOGIC: CF = OF = 0, AF = 0 as the hardware leaves it */
		break;
	}
	return f;
}

uint64_t flags_cf(struct cpu *c)
{
	const struct cpu_lazy *l = &c->lf;

	switch (l->op) {
	case LF_NONE:
		return c->rflags & FL_CF;
	case LF_LOGIC:
		return 0;
	case LF_SUB:
		return l->a < l->b ? FL_CF : 0;
	case LF_ADD:
		return l->res < l->a ? FL_CF : 0;
	case LF_ADC:
		return (((l->a & l->b) | ((l->a | l->b) & ~l->res)) & sz_msb(l->size)) ? FL_CF : 0;
	case LF_SBB:
		return (((~l->a & l->b) | (~(l->a ^ l->b) & l->res)) & sz_msb(l->size)) ? FL_CF : 0;
	case LF_INC:
	case LF_DEC:
		return c->rflags & FL_CF;
	case LF_MUL:
		return l->a ? FL_CF : 0;
	default:
		return lazy_compute(c) & FL_CF;
	}
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
	uint64_t f;

	/* Replacing every arithmetic flag: nothing lazy needs computing. */
	if ((mask & FL_ARITH) == FL_ARITH) {
		c->lf.op = LF_NONE;
		c->rflags = (c->rflags & ~mask) | (val & mask);
		return;
	}
	f = flags_get(c);
	c->rflags = (f & ~mask) | (val & mask);
}

bool flags_cond_slow(struct cpu *c, unsigned cc)
{
	uint64_t f;
	bool r;

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
