/* soft/cpu/exec_str.c: string instructions (with REP) and port I/O. */
#include "soft/cpu/internal.h"

enum str_kind { S_MOVS, S_STOS, S_LODS, S_CMPS, S_SCAS, S_INS, S_OUTS };

/*
 * Above IOPL (protected mode) the 32/64-bit TSS's I/O permission bitmap must
 * clear every bit of the ports accessed.
 */
void io_check(struct cpu *c, uint16_t port, unsigned sz)
{
	const struct x86_segment *tr = &c->sys.tr;
	uint64_t map;
	uint32_t off, bits;

	if (!cpu_pmode(c) || c->cpl <= ((c->rflags >> 12) & 3))
		return;
	if (tr->unusable || (tr->type != 9 && tr->type != 11) || tr->limit < 0x67)
		cpu_raise_gp0(c);
	off = (uint32_t)sys_read(c, tr->base + 0x66, 2) + port / 8;
	if (off + 1 > tr->limit)
		cpu_raise_gp0(c);
	map = sys_read(c, tr->base + off, 2);
	bits = ((1u << sz) - 1) << (port & 7);
	if (map & bits)
		cpu_raise_gp0(c);
}

static unsigned io_size(const struct x86_insn *in)
{
	return in->osz > 4 ? 4 : in->osz;
}

static uint64_t port_in(struct cpu *c, uint16_t port, unsigned sz)
{
	uint8_t buf[4] = {0};
	uint32_t v;

	if (c->dr[7] & 0xff)
		dbg_io_check(c, port, sz);
	c->ops->pio(c->opaque, port, buf, sz, false);
	memcpy(&v, buf, 4);
	return v & sz_mask(sz);
}

static void port_out(struct cpu *c, uint16_t port, unsigned sz, uint64_t v)
{
	uint8_t buf[4];
	uint32_t w = v;

	memcpy(buf, &w, 4);
	if (c->dr[7] & 0xff)
		dbg_io_check(c, port, sz);
	c->ops->pio(c->opaque, port, buf, sz, true);
}

static void advance(struct cpu *c, unsigned r, unsigned asz, int64_t delta)
{
	reg_set(c, r, asz, reg_get(c, r, asz) + (uint64_t)delta);
}

/* One element; returns false when a REPE/REPNE comparison ends the loop. */
static bool str_once(struct cpu *c, const struct x86_insn *in, enum str_kind k, unsigned sz)
{
	unsigned asz = in->asz;
	int64_t d = (c->rflags & FL_DF) ? -(int64_t)sz : (int64_t)sz;
	uint64_t si = reg_get(c, X86_RSI, asz) + cpu_seg_base(c, in->seg);
	uint64_t di = reg_get(c, X86_RDI, asz) + c->seg_base[X86_SEG_ES];
	uint64_t a, b;

	switch (k) {
	case S_MOVS:
		mem_write(c, di, sz, mem_read(c, si, sz, in->seg), X86_SEG_ES);
		advance(c, X86_RSI, asz, d);
		advance(c, X86_RDI, asz, d);
		return true;
	case S_STOS:
		mem_write(c, di, sz, c->gpr[X86_RAX], X86_SEG_ES);
		advance(c, X86_RDI, asz, d);
		return true;
	case S_LODS:
		reg_set(c, X86_RAX, sz, mem_read(c, si, sz, in->seg));
		advance(c, X86_RSI, asz, d);
		return true;
	case S_INS:
		a = port_in(c, c->gpr[X86_RDX] & 0xffff, sz);
		mem_write(c, di, sz, a, X86_SEG_ES);
		advance(c, X86_RDI, asz, d);
		return true;
	case S_OUTS:
		port_out(c, c->gpr[X86_RDX] & 0xffff, sz, mem_read(c, si, sz, in->seg));
		advance(c, X86_RSI, asz, d);
		return true;
	case S_CMPS:
		/* The host reads ES:rDI first: it decides which fault is reported. */
		b = mem_read(c, di, sz, X86_SEG_ES);
		a = mem_read(c, si, sz, in->seg);
		advance(c, X86_RSI, asz, d);
		advance(c, X86_RDI, asz, d);
		break;
	default: /* S_SCAS */
		a = reg_get(c, X86_RAX, sz);
		b = mem_read(c, di, sz, X86_SEG_ES);
		advance(c, X86_RDI, asz, d);
		break;
	}
	flags_lazy(c, LF_SUB, sz, a - b, a, b);
	if (in->flags & X86_F_REP)
		return ((a - b) & sz_mask(sz)) == 0;
	return ((a - b) & sz_mask(sz)) != 0;
}

/* Bytes a fast REP MOVS/STOS moves before the instruction yields (and restarts). */
#define REP_FAST_BYTES (64u << 10)

/*
 * Copies n elements of sz bytes forward, as REP MOVS does one element after
 * the other: where the destination starts inside the source, bytes already
 * copied are copied again (a pattern repeats), which memmove would not do.
 */
static void copy_forward(uint8_t *d, const uint8_t *s, uint64_t n, unsigned sz)
{
	uint64_t len = n * sz;

	if (d <= s || d >= s + len) {
		memmove(d, s, len);
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		host_store(d + i * sz, sz, host_load(s + i * sz, sz));
}

static void fill(uint8_t *d, uint64_t n, unsigned sz, uint64_t v)
{
	if (sz == 1) {
		memset(d, (int)(v & 0xff), n);
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		host_store(d + i * sz, sz, v);
}

/*
 * REP MOVS/STOS with 64-bit addresses and DF clear: whole runs inside one
 * source and one destination page of RAM become memmove/memset. Returns
 * false when the next element needs the element-by-element path (it crosses
 * a page or touches MMIO); true when done or when the instruction must yield.
 */
static bool rep_fast(struct cpu *c, const struct x86_insn *in, enum str_kind k, unsigned sz)
{
	uint64_t moved = 0;

	while (c->gpr[X86_RCX]) {
		uint64_t si = c->gpr[X86_RSI] + cpu_seg_base(c, in->seg);
		uint64_t di = c->gpr[X86_RDI] + c->seg_base[X86_SEG_ES];
		uint64_t n = c->gpr[X86_RCX], room = (0x1000 - (di & 0xfff)) / sz;
		uint8_t *src = NULL, *dst;

		if (k == S_MOVS) {
			uint64_t sroom = (0x1000 - (si & 0xfff)) / sz;

			if (sroom < room)
				room = sroom;
		}
		if (!room)
			return false;
		if (n > room)
			n = room;
		if (moved >= REP_FAST_BYTES) {
			/* Yield: the instruction restarts with the registers as they are. */
			c->next_rip = c->rip;
			return true;
		}
		/* The first element's faults, in the order the slow path raises them. */
		if (k == S_MOVS) {
			src = mem_ptr(c, si, sz, in->seg, CPU_ACCESS_READ);
			if (!src)
				return false;
		}
		dst = mem_ptr(c, di, sz, X86_SEG_ES, CPU_ACCESS_WRITE);
		if (!dst)
			return false;
		/* The rest of the run is in the same pages: no other fault is possible. */
		if (k == S_MOVS) {
			copy_forward(dst, src, n, sz);
			c->gpr[X86_RSI] += n * sz;
		} else {
			fill(dst, n, sz, c->gpr[X86_RAX]);
		}
		c->gpr[X86_RDI] += n * sz;
		c->gpr[X86_RCX] -= n;
		moved += n * sz;
	}
	return true;
}

static void str_exec(struct cpu *c, const struct x86_insn *in, enum str_kind k, unsigned sz)
{
	unsigned asz = in->asz;

	if (!(in->flags & (X86_F_REP | X86_F_REPNE))) {
		str_once(c, in, k, sz);
		return;
	}
	/*
	 * With 32-bit addressing the host writes ECX up front, zero-extending
	 * it, even if the first element faults; its fast REP MOVS/STOS do the
	 * same to ESI and EDI.
	 */
	if (asz == 4)
		c->gpr[X86_RCX] = (uint32_t)c->gpr[X86_RCX];
	if (asz == 4 && (k == S_MOVS || k == S_STOS)) {
		c->gpr[X86_RDI] = (uint32_t)c->gpr[X86_RDI];
		if (k == S_MOVS)
			c->gpr[X86_RSI] = (uint32_t)c->gpr[X86_RSI];
	}
	/*
	 * The host reports a fault inside REPE/REPNE CMPS/SCAS with the flags
	 * the instruction started with (it restarts and recomputes them).
	 */
	if (k == S_CMPS || k == S_SCAS) {
		c->fault_flags = flags_get(c);
		c->fault_flags_valid = true;
	}
	for (unsigned n = 0;; n++) {
		uint64_t cnt = reg_get(c, X86_RCX, asz);
		bool more;

		if (!cnt)
			break;
		if (n == CPU_REP_CHUNK) {
			/* Yield: the instruction restarts with the registers as they are. */
			c->next_rip = c->rip;
			break;
		}
		if (asz == 8 && (k == S_MOVS || k == S_STOS) && !(c->rflags & FL_DF)) {
			if (rep_fast(c, in, k, sz))
				break;
			cnt = c->gpr[X86_RCX];
		}
		more = str_once(c, in, k, sz);
		reg_set(c, X86_RCX, asz, cnt - 1);
		if (!more && (k == S_CMPS || k == S_SCAS))
			break;
	}
	c->fault_flags_valid = false;
}

void exec_movs(struct cpu *c, const struct x86_insn *in)
{
	str_exec(c, in, S_MOVS, in->osz);
}

void exec_stos(struct cpu *c, const struct x86_insn *in)
{
	str_exec(c, in, S_STOS, in->osz);
}

void exec_lods(struct cpu *c, const struct x86_insn *in)
{
	str_exec(c, in, S_LODS, in->osz);
}

void exec_cmps(struct cpu *c, const struct x86_insn *in)
{
	str_exec(c, in, S_CMPS, in->osz);
}

void exec_scas(struct cpu *c, const struct x86_insn *in)
{
	str_exec(c, in, S_SCAS, in->osz);
}

void exec_ins(struct cpu *c, const struct x86_insn *in)
{
	io_check(c, c->gpr[X86_RDX] & 0xffff, io_size(in));
	str_exec(c, in, S_INS, io_size(in));
}

void exec_outs(struct cpu *c, const struct x86_insn *in)
{
	io_check(c, c->gpr[X86_RDX] & 0xffff, io_size(in));
	str_exec(c, in, S_OUTS, io_size(in));
}

void exec_in(struct cpu *c, const struct x86_insn *in)
{
	uint16_t port = (in->flags & X86_F_IMM_CL) ? c->gpr[X86_RDX] & 0xffff : in->imm & 0xff;
	unsigned sz = io_size(in);

	io_check(c, port, sz);
	reg_set(c, X86_RAX, sz, port_in(c, port, sz));
}

void exec_out(struct cpu *c, const struct x86_insn *in)
{
	uint16_t port = (in->flags & X86_F_IMM_CL) ? c->gpr[X86_RDX] & 0xffff : in->imm & 0xff;
	unsigned sz = io_size(in);

	io_check(c, port, sz);
	port_out(c, port, sz, c->gpr[X86_RAX]);
}
