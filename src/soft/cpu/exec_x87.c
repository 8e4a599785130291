/* soft/cpu/exec_x87.c: the x87 unit: each instruction runs on the host FPU over the guest state. */
#include "soft/cpu/internal.h"
#include "soft/cpu/sse.h"

/*
 * Bit-exactness (rounding, precision control, transcendental results, tags,
 * C0-C3, stack faults, denormals, unmasked responses) comes from executing
 * the very instruction on the host: FXRSTOR the guest image, call a stub
 * holding the instruction (register forms verbatim, memory forms rewritten
 * to [rdi] over a host buffer), FXSAVE back. Host x87 exceptions never
 * trap inside the stub: they are deferred until the next waiting x87
 * instruction, and the only ones that follow are FXSAVE and FNINIT.
 * Encodings that would #UD, and waiting instructions with an exception
 * pending (which would #MF), are filtered out before.
 */
__asm__(".pushsection .text\n"
	"\t.p2align 4\n"
	"kite_x87_reg:\n"
	"\t.irp op,0xd8,0xd9,0xda,0xdb,0xdc,0xdd,0xde,0xdf\n"
	"\t.set m,0xc0\n"
	"\t.rept 64\n"
	"\t.byte \\op,m,0xc3,0xcc\n"
	"\t.set m,m+1\n"
	"\t.endr\n"
	"\t.endr\n"
	"kite_x87_mem:\n"
	"\t.irp op,0xd8,0xd9,0xda,0xdb,0xdc,0xdd,0xde,0xdf\n"
	"\t.set m,0x07\n"
	"\t.rept 8\n"
	"\t.byte \\op,m,0xc3,0xcc\n"
	"\t.set m,m+8\n"
	"\t.endr\n"
	"\t.endr\n"
	"kite_x87_mem16:\n"
	"\t.irp op,0xd8,0xd9,0xda,0xdb,0xdc,0xdd,0xde,0xdf\n"
	"\t.set m,0x07\n"
	"\t.rept 8\n"
	"\t.byte 0x66,\\op,m,0xc3\n"
	"\t.set m,m+8\n"
	"\t.endr\n"
	"\t.endr\n"
	".popsection\n");

extern const uint8_t kite_x87_reg[], kite_x87_mem[], kite_x87_mem16[];

#define STUB_SIZE 4

/* Register forms (ModRM C0-FF, bit n = ModRM 0xc0 + n) that exist, per opcode D8-DF. */
static const uint64_t reg_valid[8] = {
    ~0ull,
    ~(0xfe0000ull | 0xc00000000ull | 0xc000000000ull | 0x800000000000ull),
    0xffffffffull | (1ull << 41),
    0xffffffffull | (0x1full << 32) | (0xffffull << 40),
    ~0ull,
    0xffffffffffffull,
    0xffffffull | (1ull << 25) | (0xffffffffull << 32),
    0xffffffffull | (1ull << 32) | (0xffffull << 40),
};

enum { MK_UD, MK_READ, MK_WRITE, MK_UNIMPL };
#define MF_CTL	  1 /* control instruction: FIP/FDP/FOP untouched */
#define MF_NOWAIT 2 /* does not check for a pending exception */
#define SZ_ENV	  0xfe
#define SZ_SAVE	  0xff

struct mem_form {
	uint8_t size, kind, f;
};

#define RD(n)	{n, MK_READ, 0}
#define WR(n)	{n, MK_WRITE, 0}
#define ALL8(x) {x, x, x, x, x, x, x, x}
static const struct mem_form mem_forms[8][8] = {
    ALL8(RD(4)),
    {RD(4), {0, MK_UD, 0}, WR(4), WR(4), {SZ_ENV, MK_READ, MF_CTL}, {2, MK_READ, MF_CTL},
     {SZ_ENV, MK_WRITE, MF_CTL | MF_NOWAIT}, {2, MK_WRITE, MF_CTL | MF_NOWAIT}},
    ALL8(RD(4)),
    /* /1 FISTTP is SSE3. */
    {RD(4), {4, MK_UNIMPL, 0}, WR(4), WR(4), {0, MK_UD, 0}, RD(10), {0, MK_UD, 0}, WR(10)},
    ALL8(RD(8)),
    {RD(8), {8, MK_UNIMPL, 0}, WR(8), WR(8), {SZ_SAVE, MK_READ, MF_CTL}, {0, MK_UD, 0},
     {SZ_SAVE, MK_WRITE, MF_CTL | MF_NOWAIT}, {2, MK_WRITE, MF_CTL | MF_NOWAIT}},
    ALL8(RD(2)),
    {RD(2), {2, MK_UNIMPL, 0}, WR(2), WR(2), RD(10), RD(8), WR(10), WR(8)},
};

/* The largest memory operand: FNSAVE/FRSTOR's 108 bytes. */
#define X87_MEM_MAX 112

/*
 * Runs one stub over f; flags carries CF/PF/ZF in (FCMOVcc) and out (FCOMI).
 * Returns the host's arithmetic flags after the instruction.
 */
static uint64_t host_run(struct cpu_fpu *f, const uint8_t *stub, void *mem, uint64_t flags)
{
	uint32_t hcsr;

	flags = (flags & (FL_CF | FL_PF | FL_ZF)) | X86_RFLAGS_FIXED;
	/* The stub's CALL must not land in this function's red zone. */
	__asm__ volatile("stmxcsr %[h]\n\t"
			 "fxrstor64 %[fx]\n\t"
			 "sub $128, %%rsp\n\t"
			 "push %[fl]\n\t"
			 "popfq\n\t"
			 "call *%[stub]\n\t"
			 "pushfq\n\t"
			 "pop %[fl]\n\t"
			 "add $128, %%rsp\n\t"
			 "fxsave64 %[fx]\n\t"
			 "fninit\n\t"
			 "ldmxcsr %[h]"
			 : [fx] "+m"(*f), [h] "=m"(hcsr), "+D"(mem), [fl] "+r"(flags)
			 : [stub] "r"(stub)
			 : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
			   "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
			   "xmm15");
	return flags & FL_ARITH;
}

bool x87_pending(const struct cpu_fpu *f)
{
	return (f->fsw & 0x80) || (f->fsw & ~f->fcw & 0x3f);
}

/* The ModRM byte of the current instruction (for FOP), fetched again. */
static uint8_t fetch_modrm(struct cpu *c, const struct x86_insn *in)
{
	uint8_t b[X86_INSN_MAX_LEN];

	mem_read_bytes(c, cpu_seg_base(c, X86_SEG_CS) + c->rip, b, in->len, X86_SEG_CS,
		       CPU_ACCESS_EXEC);
	for (unsigned i = 0; i + 1 < in->len; i++)
		if (b[i] >= 0xd8 && b[i] <= 0xdf)
			return b[i + 1];
	return 0;
}

/*
 * The last-instruction pointers (FIP, FDP, FOP) are the CPU model's, not the
 * host's: an AMD host's FXSAVE stores them only while an exception is
 * pending, an Intel host may record FOP or FDP only for unmasked exceptions.
 * The model is the classic one the CPUID leaves promise (no
 * FDP_EXCPTN_ONLY): every non-control instruction sets FIP and FOP, one with
 * a memory operand also FDP; FNINIT and FNSAVE clear them, FLDENV and FRSTOR
 * load them, FNSTENV and FNSAVE store them.
 */
static void pointers_set(struct cpu *c, struct cpu_fpu *f, const struct x86_insn *in)
{
	uint8_t modrm = (in->flags & X86_F_MEM) ? fetch_modrm(c, in)
						: 0xc0 | (in->reg & 7) << 3 | (in->rm & 7);

	f->fip = c->rip;
	f->fop = (uint16_t)((in->opc & 7) << 8 | modrm);
	if (in->flags & X86_F_MEM)
		f->fdp = cpu_ea(c, in);
}

static void pointers_store(const struct cpu_fpu *f, uint8_t *env, bool o16)
{
	if (o16) {
		memcpy(env + CPU_ENV16_FIP, &(uint16_t){(uint16_t)f->fip}, 2);
		memcpy(env + CPU_ENV16_FDP, &(uint16_t){(uint16_t)f->fdp}, 2);
		return;
	}
	memcpy(env + CPU_ENV32_FIP, &(uint32_t){(uint32_t)f->fip}, 4);
	memcpy(env + CPU_ENV32_FOP, &(uint16_t){(uint16_t)(f->fop & 0x7ff)}, 2);
	memcpy(env + CPU_ENV32_FDP, &(uint32_t){(uint32_t)f->fdp}, 4);
}

static void pointers_load(struct cpu_fpu *f, const uint8_t *env, bool o16)
{
	uint32_t fip = 0, fdp = 0;
	uint16_t fop;

	if (o16) {
		memcpy(&fip, env + CPU_ENV16_FIP, 2);
		memcpy(&fdp, env + CPU_ENV16_FDP, 2);
	} else {
		memcpy(&fip, env + CPU_ENV32_FIP, 4);
		memcpy(&fdp, env + CPU_ENV32_FDP, 4);
		memcpy(&fop, env + CPU_ENV32_FOP, 2);
		f->fop = fop & 0x7ff;
	}
	f->fip = fip;
	f->fdp = fdp;
}

/*
 * Runs the stub; the pointers the host's FXSAVE hands back are replaced by
 * the model's. ctl: a control instruction, which leaves them alone.
 */
static void run(struct cpu *c, struct cpu_fpu *f, const struct x86_insn *in, const uint8_t *stub,
		void *mem, bool ctl)
{
	uint64_t fip = f->fip, fdp = f->fdp, fl;
	uint16_t fop = f->fop;

	f->mxcsr &= CPU_MXCSR_MASK;
	fl = host_run(f, stub, mem, flags_get(c));
	/* FCOMI/FCOMIP/FUCOMI/FUCOMIP (DB/DF E8-F7) write EFLAGS. */
	if (!(in->flags & X86_F_MEM) && (in->opc == 0xdb || in->opc == 0xdf) &&
	    (in->reg & 7) >= 5 && (in->reg & 7) <= 6)
		flags_put(c, FL_ARITH, fl);
	f->fip = fip;
	f->fdp = fdp;
	f->fop = fop;
	if (!ctl)
		pointers_set(c, f, in);
}

static void guest_read(struct cpu *c, uint64_t la, unsigned seg, uint8_t *buf, unsigned n)
{
	for (unsigned i = 0; i < n; i += 16)
		mem_read_bytes(c, la + i, buf + i, n - i < 16 ? n - i : 16, seg, CPU_ACCESS_READ);
}

void sse_guest_write(struct cpu *c, uint64_t la, unsigned seg, const uint8_t *buf, unsigned n)
{
	/* Every page first, so a fault leaves memory untouched. */
	mem_probe(c, la, n, seg, CPU_ACCESS_WRITE);
	for (unsigned i = 0; i < n; i += 8) {
		unsigned k = n - i < 8 ? n - i : 8;
		uint64_t v = 0;

		memcpy(&v, buf + i, k);
		mem_write(c, la + i, k, v, seg);
	}
}

static void x87_reg(struct cpu *c, const struct x86_insn *in, unsigned op, unsigned r)
{
	struct cpu_fpu *f = &c->fpu;
	unsigned m = r << 3 | (in->rm & 7);
	bool ctl;

	if (!((reg_valid[op] >> m) & 1))
		cpu_raise_ud(c);
	if (c->sys.cr0 & (X86_CR0_EM | X86_CR0_TS))
		cpu_raise(c, VEC_NM, false, 0);
	if (op == 7 && m == 0x20) { /* FNSTSW AX */
		reg_set(c, X86_RAX, 2, f->fsw);
		return;
	}
	/* DB E0-E4: FNENI, FNDISI, FNCLEX, FNINIT, FNSETPM. */
	ctl = op == 3 && m >= 0x20 && m <= 0x24;
	if (!ctl && x87_pending(f))
		cpu_raise(c, VEC_MF, false, 0);
	run(c, &c->fpu, in, kite_x87_reg + (op * 64 + m) * STUB_SIZE, NULL, ctl);
	if (op == 3 && m == 0x23) { /* FNINIT */
		f->fip = f->fdp = 0;
		f->fop = 0;
	}
}

static bool all_zero(const uint8_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void x87_mem(struct cpu *c, const struct x86_insn *in, unsigned op, unsigned r)
{
	struct cpu_fpu *f = &c->fpu;
	const struct mem_form *mf = &mem_forms[op][r];
	uint8_t buf[X87_MEM_MAX] __attribute__((aligned(16))) = {0};
	bool o16 = in->osz == 2, big = mf->size >= SZ_ENV;
	unsigned n = mf->size;
	const uint8_t *stub;
	uint64_t la;

	if (mf->kind == MK_UD || mf->kind == MK_UNIMPL) {
		c->exc.unimplemented = mf->kind == MK_UNIMPL;
		cpu_raise_ud(c);
	}
	if (c->sys.cr0 & (X86_CR0_EM | X86_CR0_TS))
		cpu_raise(c, VEC_NM, false, 0);
	if (!(mf->f & MF_NOWAIT) && x87_pending(f))
		cpu_raise(c, VEC_MF, false, 0);
	if (n == SZ_ENV)
		n = o16 ? 14 : 28;
	else if (n == SZ_SAVE)
		n = o16 ? 94 : 108;
	la = cpu_la(c, in);
	stub = (big && o16 ? kite_x87_mem16 : kite_x87_mem) + (op * 8 + r) * STUB_SIZE;
	if (mf->kind == MK_READ) {
		guest_read(c, la, in->seg, buf, n);
		run(c, f, in, stub, buf, mf->f & MF_CTL);
		if (big) /* FLDENV, FRSTOR */
			pointers_load(f, buf, o16);
		return;
	}
	/*
	 * A store runs on a copy of the state: an unmasked invalid, denormal,
	 * overflow or underflow response suppresses the store and with it any
	 * page fault, and a store that faults must leave the state as it was.
	 */
	{
		struct cpu_fpu t;

		/* The XMM half is reloaded but not looked at. */
		memcpy(t.image, f->image, 160);
		run(c, &t, in, stub, buf, mf->f & MF_CTL);
		if (big) { /* FNSTENV, FNSAVE (which then initialises, as FNINIT) */
			pointers_store(f, buf, o16);
			if (mf->size == SZ_SAVE) {
				t.fip = t.fdp = 0;
				t.fop = 0;
			}
		}
		if ((mf->f & MF_NOWAIT) || !all_zero(buf, n) || !(t.fsw & ~t.fcw & 0x1f))
			sse_guest_write(c, la, in->seg, buf, n);
		memcpy(f->image, t.image, 160);
	}
}

void exec_x87(struct cpu *c, const struct x86_insn *in)
{
	if (in->opc == 0x9b) { /* FWAIT */
		if ((c->sys.cr0 & (X86_CR0_TS | X86_CR0_MP)) == (X86_CR0_TS | X86_CR0_MP))
			cpu_raise(c, VEC_NM, false, 0);
		if (x87_pending(&c->fpu))
			cpu_raise(c, VEC_MF, false, 0);
		return;
	}
	if (in->flags & X86_F_MEM)
		x87_mem(c, in, in->opc - 0xd8, in->reg & 7);
	else
		x87_reg(c, in, in->opc - 0xd8, in->reg & 7);
}
