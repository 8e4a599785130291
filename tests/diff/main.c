/* tests/diff/main.c: differential test driver: generate, run natively and in the soft CPU, compare.
 */
#include <cpuid.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "diff.h"
#include "soft/bt/bt.h"
#include "soft/cpu/fpu.h"
#include "soft/cpu/insn.h"
#include "soft/soft.h"

#define BATCH 256

struct opts {
	uint64_t seed;
	unsigned count; /* cases per group weight unit */
	const char *only;
	bool strict, verbose, bench;
	bool interp; /* the soft side runs the interpreter only */
	unsigned max_dump;
};

#define MAX_HOST_WHY 8

struct stats {
	uint64_t run, failed, skipped, undef_diffs, dumped;
	uint64_t host_specific; /* cases not comparable on this host */
	struct {
		const char *why;
		uint64_t n;
	} host_why[MAX_HOST_WHY];
};

static void note_host_specific(struct stats *st, const char *why)
{
	st->host_specific++;
	for (unsigned i = 0; i < MAX_HOST_WHY; i++) {
		if (!st->host_why[i].why)
			st->host_why[i].why = why;
		if (st->host_why[i].why == why) {
			st->host_why[i].n++;
			return;
		}
	}
}

static const char *const reg_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					  "r8",	 "r9",	"r10", "r11", "r12", "r13", "r14", "r15"};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--quick] [--seed N] [--count N] [--group NAME] [--strict] [--verbose]\n"
		"          [--bench] [--soft-cpu bt|interp]\n"
		"  --count N   cases per weight unit of each group (default 400, --quick 60)\n"
		"  --strict    also report differences in ISA-undefined flags\n"
		"  --bench     measure the soft CPU's speed on an integer loop\n"
		"  --soft-cpu  the soft side translates (bt, default) or interprets\n",
		argv0);
}

static int parse(int argc, char **argv, struct opts *o)
{
	o->seed = 1;
	o->count = 400;
	o->max_dump = 8;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--quick")) {
			o->count = 60;
		} else if (!strcmp(a, "--seed") && i + 1 < argc) {
			o->seed = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--count") && i + 1 < argc) {
			o->count = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--group") && i + 1 < argc) {
			o->only = argv[++i];
		} else if (!strcmp(a, "--bench")) {
			o->bench = true;
		} else if (!strcmp(a, "--soft-cpu") && i + 1 < argc &&
			   (!strcmp(argv[i + 1], "bt") || !strcmp(argv[i + 1], "interp"))) {
			o->interp = !strcmp(argv[++i], "interp");
		} else if (!strcmp(a, "--strict")) {
			o->strict = true;
		} else if (!strcmp(a, "--verbose")) {
			o->verbose = true;
			o->max_dump = 100;
		} else {
			usage(argv[0]);
			return -1;
		}
	}
	return 0;
}

static void dump_side(const char *name, const struct diff_result *r)
{
	printf("    %-6s vector %d err %#" PRIx64 " addr %#" PRIx64 " rip %#" PRIx64
	       " rflags %#" PRIx64 "\n",
	       name, r->vector, r->error_code, r->fault_addr, r->out.rip, r->out.rflags);
}

static const char *fx_field(unsigned off)
{
	static const struct {
		unsigned end;
		const char *name;
	} f[] = {{2, "fcw"},	     {4, "fsw"},  {5, "ftw"},  {6, "rsvd"},
		 {8, "fop"},	     {16, "fip"}, {24, "fdp"}, {28, "mxcsr"},
		 {32, "mxcsr_mask"}, {160, "st"}, {416, "xmm"}};

	for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (off < f[i].end)
			return f[i].name;
	return "?";
}

/* The x87/SSE fields that differ, 16 bytes at a time. */
static void dump_fx(const struct diff_case *c, const struct diff_result *n,
		    const struct diff_result *s)
{
	for (unsigned off = 0; off < DIFF_FX_USED; off += 16) {
		if (!memcmp(n->fx + off, s->fx + off, 16) &&
		    memcmp(c->fx + off, n->fx + off, 16) == 0)
			continue;
		printf("    fx+%3u %-5s in", off, fx_field(off));
		for (unsigned i = 0; i < 16; i++)
			printf("%s%02x", i % 4 ? "" : " ", c->fx[off + i]);
		printf("\n%20s", "native");
		for (unsigned i = 0; i < 16; i++)
			printf("%s%02x", i % 4 ? "" : " ", n->fx[off + i]);
		printf("\n%20s", "soft");
		for (unsigned i = 0; i < 16; i++)
			printf("%s%02x", i % 4 ? "" : " ", s->fx[off + i]);
		printf("%s\n", memcmp(n->fx + off, s->fx + off, 16) ? "  <--" : "");
	}
}

static void dump(const struct diff_case *c, const struct diff_result *n,
		 const struct diff_result *s, const char *why)
{
	struct x86_insn in;

	x86_decode(c->code, c->code_len, X86_MODE_64, &in);
	printf("  MISMATCH %s (%s): op %s, code", c->group, why, x86_op_name(in.op));
	for (unsigned i = 0; i < c->code_len; i++)
		printf(" %02x", c->code[i]);
	printf("\n    input rflags %#" PRIx64 " data seed %#" PRIx64 "\n", c->in.rflags,
	       c->data_seed);
	for (unsigned i = 0; i < 16; i++)
		printf("    %-3s in %016" PRIx64 " native %016" PRIx64 " soft %016" PRIx64 "%s\n",
		       reg_names[i], c->in.gpr[i], n->out.gpr[i], s->out.gpr[i],
		       n->out.gpr[i] != s->out.gpr[i] ? "  <--" : "");
	dump_side("native", n);
	dump_side("soft", s);
	for (unsigned i = 0; i < DIFF_DATA_SIZE; i++) {
		if (n->data[i] != s->data[i]) {
			printf("    data differs first at +%#x: native %02x soft %02x\n", i,
			       n->data[i], s->data[i]);
			break;
		}
	}
	dump_fx(c, n, s);
}

/*
 * The host runs each case, but kite's CPU model defines some of what comes
 * out, and the host may be another model: what it answers to CPUID, its
 * MXCSR_MASK (an AMD host sets the MM bit), and when it records the x87
 * last-instruction pointers (an AMD host's FXSAVE stores FIP, FDP and FOP
 * only while an exception is pending; an Intel host may record FOP or FDP
 * only for unmasked exceptions). Before the two sides are compared, those
 * fields of the native result are replaced by the model's where the model
 * defines them (so the soft CPU must produce exactly those), or by the soft
 * side's where this host leaves them undefined.
 */

/* Decodes the case's instruction at pos as the CPU sees it: followed by INT3s. */
static int decode_at(const struct diff_case *c, unsigned pos, struct x86_insn *in)
{
	uint8_t b[DIFF_CODE_MAX + X86_INSN_MAX_LEN];

	memset(b, 0xcc, sizeof(b));
	memcpy(b, c->code, c->code_len);
	return x86_decode(b + pos, sizeof(b) - pos, X86_MODE_64, in);
}

/* Offsets in the 64-bit FXSAVE image and the 32- and 16-bit FNSTENV images. */
#define FX_FSW	      2
#define FX_FOP	      6
#define FX_FIP	      8
#define FX_FDP	      16
#define FX_MXCSR_MASK 28
#define ENV32_FSW     4
#define ENV16_FSW     2
#define FSW_ES	      0x80

/* Which pointer this host stores without a pending exception, per image kind. */
enum { PTR_FIP, PTR_FDP, PTR_FOP, NR_PTR };
struct host_x87 {
	bool fx[NR_PTR];  /* the FXSAVE image (instruction and signal frame) */
	bool env[NR_PTR]; /* FNSTENV/FNSAVE */
};

static struct host_x87 host_x87;

static uint64_t rd(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	memcpy(&v, p, n);
	return v;
}

/* Copies a field the host leaves undefined from the soft side's result. */
static void take_soft(uint8_t *native, const uint8_t *soft, unsigned off, unsigned n)
{
	memcpy(native + off, soft + off, n);
}

/* Pointers in an FXSAVE image at n/s: only what the host records is compared. */
static void fx_pointers(uint8_t *n, const uint8_t *s, bool w)
{
	if (rd(n + FX_FSW, 2) & FSW_ES)
		return;
	if (!host_x87.fx[PTR_FIP])
		take_soft(n, s, FX_FIP, w ? 8 : 4);
	if (!host_x87.fx[PTR_FDP])
		take_soft(n, s, FX_FDP, w ? 8 : 4);
	if (!host_x87.fx[PTR_FOP])
		take_soft(n, s, FX_FOP, 2);
}

static void env_pointers(uint8_t *n, const uint8_t *s, bool o16)
{
	if (rd(n + (o16 ? ENV16_FSW : ENV32_FSW), 2) & FSW_ES)
		return;
	if (!host_x87.env[PTR_FIP])
		take_soft(n, s, o16 ? CPU_ENV16_FIP : CPU_ENV32_FIP, o16 ? 2 : 4);
	if (!host_x87.env[PTR_FDP])
		take_soft(n, s, o16 ? CPU_ENV16_FDP : CPU_ENV32_FDP, o16 ? 2 : 4);
	if (!host_x87.env[PTR_FOP] && !o16)
		take_soft(n, s, CPU_ENV32_FOP, 2);
}

/* The data-area offset of in's memory operand at rip, or -1 outside it. */
static long data_offset(const struct diff_case *c, const struct x86_insn *in, uint64_t rip)
{
	uint64_t ea = (uint64_t)(int64_t)in->disp;

	if (in->base != X86_REG_NONE)
		ea += c->in.gpr[in->base];
	if (in->index != X86_REG_NONE)
		ea += c->in.gpr[in->index] << in->scale;
	if (in->flags & X86_F_RIPREL)
		ea += rip + in->len;
	if (in->asz == 4)
		ea = (uint32_t)ea;
	if (in->seg == X86_SEG_GS)
		ea += DIFF_DATA_BASE;
	if (ea < DIFF_DATA_BASE || ea >= DIFF_DATA_BASE + DIFF_DATA_SIZE - 512)
		return -1;
	return (long)(ea - DIFF_DATA_BASE);
}

/* An FXSAVE, FNSTENV or FNSAVE the case ran stored an image in the data area. */
static void stored_image(const struct diff_case *c, const struct x86_insn *in, uint64_t rip,
			 struct diff_result *n, const struct diff_result *s)
{
	bool fxsave = in->map == 1 && in->opc == 0xae && (in->reg & 7) == 0;
	bool env = in->map == 0 && (in->opc == 0xd9 || in->opc == 0xdd) && (in->reg & 7) == 6;
	long off;

	if (!(in->flags & X86_F_MEM) || !(fxsave || env))
		return;
	off = data_offset(c, in, rip);
	if (off < 0)
		return;
	if (fxsave) {
		memcpy(n->data + off + FX_MXCSR_MASK, &(uint32_t){CPU_MXCSR_MASK}, 4);
		fx_pointers(n->data + off, s->data + off, in->osz == 8);
	} else {
		env_pointers(n->data + off, s->data + off, in->osz == 2);
	}
}

static void expect_model(const struct diff_case *c, struct diff_result *n,
			 const struct diff_result *s)
{
	struct x86_insn in;
	uint32_t out[4];
	unsigned pos = 0;

	memcpy(n->fx + FX_MXCSR_MASK, &(uint32_t){CPU_MXCSR_MASK}, 4);
	fx_pointers(n->fx, s->fx, true);
	/* The case's straight-line instructions, when it ran to its end. */
	while (n->vector == 3 && n->out.rip == DIFF_CODE_ENTRY + c->code_len + 1 &&
	       pos < c->code_len && !decode_at(c, pos, &in) && in.op != OP_UD &&
	       in.op != OP_UNIMPL && in.op != OP_TOOLONG) {
		stored_image(c, &in, DIFF_CODE_ENTRY + pos, n, s);
		pos += in.len;
	}
	if (decode_at(c, 0, &in) || in.op != OP_CPUID || n->vector != 3 ||
	    n->out.rip != DIFF_CODE_ENTRY + in.len + 1)
		return;
	soft_cpuid(0, 1, (uint32_t)c->in.gpr[0], (uint32_t)c->in.gpr[1], out);
	n->out.gpr[0] = out[0]; /* rax */
	n->out.gpr[3] = out[1]; /* rbx */
	n->out.gpr[1] = out[2]; /* rcx */
	n->out.gpr[2] = out[3]; /* rdx */
}

/*
 * Which pointers this host records as the model defines them with no
 * exception pending: FLD m64 gs:[0x40] sets FDP, FLD1 (no memory operand)
 * sets FIP and FOP and must leave FDP alone; then FXSAVE64 gs:[0x100] and
 * FNSTENV gs:[0x300], run natively. A host that drops FDP on a register
 * form (the ISA does not say it may not) gets no FDP comparison.
 */
static int probe_host_x87(struct diff_case *c, struct diff_result *r)
{
	static const uint8_t code[] = {
	    0x65, 0xdd, 0x04, 0x25, 0x40, 0x00, 0x00, 0x00,		/* fld qword gs:[0x40] */
	    0xd9, 0xe8,							/* fld1 */
	    0x65, 0x48, 0x0f, 0xae, 0x04, 0x25, 0x00, 0x01, 0x00, 0x00, /* fxsave64 gs:[0x100] */
	    0x65, 0xd9, 0x34, 0x25, 0x00, 0x03, 0x00, 0x00,		/* fnstenv gs:[0x300] */
	};
	/* FDP is the operand's offset in its segment, not its linear address. */
	const uint64_t fip = DIFF_CODE_ENTRY + 8, fdp = 0x40, fop = 0x1e8;
	const uint8_t *fx = r->data + 0x100, *env = r->data + 0x300;

	memset(c, 0, sizeof(*c));
	diff_fx_default(c->fx);
	c->group = "probe";
	memcpy(c->code, code, sizeof(code));
	c->code_len = sizeof(code);
	c->patch[c->nr_patch++] =
	    (struct diff_patch){.off = 0x40, .len = 8, .val = 0x3ff8000000000000};
	if (diff_run_native(c, r, 1) || !r->done || r->vector != 3)
		return -1;
	host_x87.fx[PTR_FIP] = rd(fx + FX_FIP, 8) == fip;
	host_x87.fx[PTR_FDP] = rd(fx + FX_FDP, 8) == fdp;
	host_x87.fx[PTR_FOP] = rd(fx + FX_FOP, 2) == fop;
	host_x87.env[PTR_FIP] = rd(env + CPU_ENV32_FIP, 4) == (uint32_t)fip;
	host_x87.env[PTR_FDP] = rd(env + CPU_ENV32_FDP, 4) == (uint32_t)fdp;
	host_x87.env[PTR_FOP] = (rd(env + CPU_ENV32_FOP, 2) & 0x7ff) == fop;
	printf("host x87 pointers without a pending exception: FXSAVE%s%s%s, FNSTENV%s%s%s\n",
	       host_x87.fx[PTR_FIP] ? " FIP" : "", host_x87.fx[PTR_FDP] ? " FDP" : "",
	       host_x87.fx[PTR_FOP] ? " FOP" : "", host_x87.env[PTR_FIP] ? " FIP" : "",
	       host_x87.env[PTR_FDP] ? " FDP" : "", host_x87.env[PTR_FOP] ? " FOP" : "");
	return 0;
}

static bool host_amd;

/* Whether the case's first instruction carries a 66 (operand-size) prefix. */
static bool has_osz_prefix(const struct diff_case *c)
{
	for (unsigned i = 0; i < c->code_len; i++) {
		uint8_t b = c->code[i];

		if (b == 0x66)
			return true;
		if (!(b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3 || b == 0x26 || b == 0x2e ||
		      b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 || (b & 0xf0) == 0x40))
			return false;
	}
	return false;
}

static bool host_is_amd(void)
{
	unsigned a, b, c, d;
	char vendor[13] = {0};

	__cpuid(0, a, b, c, d);
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	return !strcmp(vendor, "AuthenticAMD") || !strcmp(vendor, "HygonGenuine");
}

/*
 * Whether an FXRSTOR or LDMXCSR loads an MXCSR with bits the model's
 * MXCSR_MASK lacks (an AMD host has bit 17, MM).
 */
static bool mxcsr_mm(const struct diff_case *c, const struct x86_insn *in)
{
	uint8_t *data;
	long off;
	bool mm;

	if (in->map != 1 || in->opc != 0xae || !(in->flags & X86_F_MEM) ||
	    ((in->reg & 7) != 1 && (in->reg & 7) != 2))
		return false;
	off = data_offset(c, in, DIFF_CODE_ENTRY);
	data = malloc(DIFF_DATA_SIZE);
	if (off < 0 || !data) {
		free(data);
		return false;
	}
	diff_fill_data(c, data);
	mm = rd(data + off + ((in->reg & 7) == 1 ? 24 : 0), 4) & ~CPU_MXCSR_MASK;
	free(data);
	return mm;
}

/* What an AMD host leaves otherwise than Intel when an instruction faults. */
static const char *amd_fault(const struct diff_case *c, const struct x86_insn *in)
{
	bool rep = in->flags & (X86_F_REP | X86_F_REPNE);
	bool mmx_store = in->map == 1 && (in->opc == 0x7e || in->opc == 0x7f || in->opc == 0xe7) &&
			 !(in->flags & (X86_F_REP | X86_F_REPNE)) && !has_osz_prefix(c);

	switch (in->op) {
	case OP_CMPS:
	case OP_SCAS:
		if (rep)
			return "AMD: a REP CMPS/SCAS that faults part-way has the last "
			       "iteration's flags";
		/* fallthrough */
	case OP_MOVS:
	case OP_STOS:
	case OP_LODS:
		if (rep && in->asz == 4)
			return "AMD: a REP string instruction with 32-bit addresses that faults "
			       "keeps the registers' upper halves";
		break;
	default:
		break;
	}
	if (mmx_store && (in->flags & X86_F_MEM))
		return "AMD: an MMX store that faults leaves TOP as it was";
	return NULL;
}

/*
 * Why a case cannot be compared on this host, or NULL: the ISA leaves its
 * result undefined, or the host's vendor defines it otherwise than the
 * model, which follows Intel's manuals (its CPUID says "GenuineIntel").
 */
static const char *host_specific(const struct diff_case *c, const struct diff_result *n,
				 const struct diff_result *s)
{
	struct x86_insn in;

	if (decode_at(c, 0, &in))
		return NULL;
	if ((in.op == OP_SHLD || in.op == OP_SHRD) && in.osz == 2) {
		unsigned count = (unsigned)((in.flags & X86_F_IMM_CL) ? c->in.gpr[1] : in.imm) & 31;

		if (count > 16)
			return "16-bit SHLD/SHRD by more than 16: result undefined";
	}
	if (!host_amd)
		return NULL;
	switch (in.op) {
	case OP_JCC:
	case OP_JMP:
	case OP_CALL:
	case OP_JMPI:
	case OP_CALLI:
	case OP_RET:
	case OP_LOOP:
		if (in.op == OP_LOOP && (in.flags & (X86_F_REP | X86_F_REPNE)))
			return "AMD: a REP prefix on LOOPcc";
		if (has_osz_prefix(c))
			return "AMD: a 66 prefix on a near branch in 64-bit mode";
		/* Intel stores the return address, then faults on the target. */
		if ((in.op == OP_CALL || in.op == OP_CALLI) && n->vector == 13 && s->vector == 13)
			return "AMD: a call to a non-canonical target does not store";
		break;
	case OP_SYSEXIT:
		if (n->vector == 6)
			return "AMD: SYSEXIT is #UD in 64-bit mode";
		break;
	case OP_RETF:
		if (n->vector != 3 && s->vector != 3 && n->vector != s->vector)
			return "AMD: a far return's faults in another order";
		break;
	case OP_LSEG:
	case OP_CALLFI:
	case OP_JMPFI:
		if (in.osz == 8)
			return "AMD: far pointers in memory are m16:32 even with REX.W";
		break;
	case OP_SSE:
		/* Only then is the case's data built again to read the MXCSR it loads. */
		if (s->vector == 13 && n->vector != 13 && mxcsr_mm(c, &in))
			return "AMD: MXCSR bit 17 (MM), which the model lacks";
		break;
	case OP_NOP:
		if (in.map == 1 && in.opc == 0x0d && !(in.flags & X86_F_MEM))
			return "AMD: 0F 0D with a register operand is #UD";
		break;
	default:
		break;
	}
	if (n->vector != 3 && n->vector == s->vector) {
		const char *why = amd_fault(c, &in);

		if (why)
			return why;
	}
	/* An x87 store whose unmasked exception suppresses it (ES set after). */
	if (in.op == OP_X87 && (in.flags & X86_F_MEM) && n->vector == 14 && s->vector == 3 &&
	    (rd(s->fx + FX_FSW, 2) & FSW_ES))
		return "AMD: an x87 store with an unmasked exception still faults on its page";
	/* SSE4a's MOVNTSS/SD, EXTRQ, INSERTQ and 3DNow!, which the model lacks. */
	if (in.map == 1 && (in.opc == 0x2b || in.opc == 0x78 || in.opc == 0x79 || in.opc == 0x0f) &&
	    s->vector == 6 && n->vector != 6)
		return "AMD: an encoding only AMD defines (SSE4a, 3DNow!)";
	return NULL;
}

/* Returns NULL when both sides agree, else what differs. */
static const char *compare(const struct diff_case *c, const struct diff_result *n,
			   const struct diff_result *s, struct stats *st, bool strict)
{
	uint32_t fmask = DIFF_FLAGS_MASK & ~c->undef_flags;
	uint64_t fdiff = (n->out.rflags ^ s->out.rflags) & DIFF_FLAGS_MASK;

	if (n->vector != s->vector)
		return "exception vector";
	if (n->out.rip != s->out.rip)
		return "rip";
	for (unsigned i = 0; i < 16; i++)
		if (n->out.gpr[i] != s->out.gpr[i])
			return "registers";
	if (fdiff & fmask)
		return "flags";
	if ((n->vector == 13 || n->vector == 12) && n->error_code != s->error_code)
		return "error code";
	if (n->vector == 14 && n->fault_addr != s->fault_addr)
		return "fault address";
	if (memcmp(n->data, s->data, DIFF_DATA_SIZE))
		return "data";
	if (memcmp(n->fx, s->fx, DIFF_FX_USED))
		return "x87/sse state";
	if (fdiff) {
		st->undef_diffs++;
		if (strict)
			return "undefined flags (strict)";
	}
	return NULL;
}

static void gen_case(const struct diff_group *g, struct diff_rng *r, struct diff_case *c)
{
	struct x86_insn in;

	do {
		memset(c, 0, sizeof(*c));
		diff_fx_default(c->fx);
		c->group = g->name;
		c->in.rflags = diff_rand(r) & (DIFF_FLAGS_MASK & ~0x400u);
		if (diff_rand(r) % 4 == 0)
			c->in.rflags |= 0x400; /* DF */
		c->data_seed = diff_rand(r);
	} while (!g->gen(r, c, g->arg));
	c->undef_flags = 0;
	if (x86_decode(c->code, c->code_len, X86_MODE_64, &in) == 0)
		c->undef_flags = x86_insn_undefined_flags(&in);
}

/*
 * On this machine's virtualised hosts the native run of a case has been
 * seen, rarely, to differ from every other run of it (a #UD for a valid
 * PINSRW). A mismatch is run natively twice more: when both runs agree
 * with each other and with the soft CPU, the first was the host's.
 */
static bool native_flake(const struct diff_case *c, struct diff_result *n,
			 const struct diff_result *s, struct stats *st, bool strict)
{
	struct diff_result again[2];

	for (unsigned i = 0; i < 2; i++) {
		if (diff_run_native(c, &again[i], 1) || !again[i].done)
			return false;
		expect_model(c, &again[i], s);
		if (compare(c, &again[i], s, st, strict))
			return false;
	}
	*n = again[1];
	return true;
}

static int run_group(const struct diff_group *g, unsigned gi, const struct opts *o,
		     struct diff_soft *soft, struct diff_case *cases, struct diff_result *nres,
		     struct diff_result *sres, struct stats *st)
{
	unsigned total = g->weight * o->count, failed = 0, skipped = 0;
	double t0 = now();

	for (unsigned done = 0; done < total;) {
		unsigned n = total - done < BATCH ? total - done : BATCH;

		for (unsigned i = 0; i < n; i++) {
			struct diff_rng r = {o->seed * 0x9e3779b97f4a7c15ull + gi * 1000003ull +
					     done + i + 1};

			diff_rand(&r);
			gen_case(g, &r, &cases[i]);
			diff_soft_run(soft, &cases[i], &sres[i]);
			/*
			 * A case the soft CPU could not finish would hang natively
			 * too; one it does not implement says nothing.
			 */
			cases[i].skip = !sres[i].done || sres[i].unimpl;
		}
		if (diff_run_native(cases, nres, n))
			return -1;
		for (unsigned i = 0; i < n; i++) {
			const char *why, *host_why;

			if (cases[i].skip || !nres[i].done) {
				skipped++;
				continue;
			}
			host_why = host_specific(&cases[i], &nres[i], &sres[i]);
			if (host_why) {
				note_host_specific(st, host_why);
				skipped++;
				continue;
			}
			expect_model(&cases[i], &nres[i], &sres[i]);
			why = compare(&cases[i], &nres[i], &sres[i], st, o->strict);
			if (why && native_flake(&cases[i], &nres[i], &sres[i], st, o->strict)) {
				note_host_specific(st, "the host itself ran it differently once (a second run agreed)");
				continue;
			}
			if (!why)
				continue;
			failed++;
			if (st->dumped++ < o->max_dump)
				dump(&cases[i], &nres[i], &sres[i], why);
		}
		done += n;
	}
	st->run += total - skipped;
	st->failed += failed;
	st->skipped += skipped;
	printf("%s %-30s %6u cases %4u skipped %4u failed %7.3f s\n", failed ? "FAIL" : "PASS",
	       g->name, total - skipped, skipped, failed, now() - t0);
	return 0;
}

/* Interpreter speed: nested loops summing the data area, with a CMP/Jcc and a store. */
static void bench(struct diff_soft *soft)
{
	static const uint8_t loop[] = {
	    0x41, 0xb8, 0x00, 0x00, 0x00, 0x40, /* mov r8d, 1 << 30 */
	    0xb9, 0xe8, 0x03, 0x00, 0x00,	/* outer: mov ecx, 1000 */
	    0x48, 0x03, 0x04, 0xce,		/* inner: add rax, [rsi+rcx*8] */
	    0x48, 0x89, 0x44, 0xce, 0x08,	/* mov [rsi+rcx*8+8], rax */
	    0x48, 0x83, 0xf9, 0x07,		/* cmp rcx, 7 */
	    0x74, 0x00,				/* je +0 */
	    0xff, 0xc9,				/* dec ecx */
	    0x75, 0xed,				/* jnz inner */
	    0x41, 0xff, 0xc8,			/* dec r8d */
	    0x75, 0xe3,				/* jnz outer */
	};
	struct diff_case *c = calloc(1, sizeof(*c));
	uint64_t budget = 200000000, n;
	double t0, t;

	if (!c)
		return;
	memcpy(c->code, loop, sizeof(loop));
	c->code_len = sizeof(loop);
	c->in.gpr[6] = DIFF_DATA_BASE;
	t0 = now();
	n = diff_soft_bench(soft, c, budget);
	t = now() - t0;
	printf("bench: %" PRIu64 " instructions in %.2f s: %.1f M instructions/s\n", n, t,
	       n / t / 1e6);
	free(c);
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	struct stats st = {0};
	const struct diff_group *groups;
	struct diff_result *nres, *sres;
	struct diff_case *cases;
	struct diff_soft *soft;
	unsigned ng, ran = 0;
	double t0 = now();
	const char *why;

	if (parse(argc, argv, &o))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	host_amd = host_is_amd();
	groups = diff_groups(&ng);
	if (!o.interp && !bt_host_supported(&why)) {
		/* Exit 77: the suite counts the translator's run as skipped, with this line. */
		printf("the translator cannot run on this host: %s\n", why);
		return 77;
	}
	soft = diff_soft_create(!o.interp);
	cases = calloc(BATCH, sizeof(*cases));
	sres = calloc(BATCH, sizeof(*sres));
	/* The native child writes its results here. */
	nres = mmap(NULL, BATCH * sizeof(*nres), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		    -1, 0);
	if (!soft || !cases || !sres || nres == MAP_FAILED) {
		fprintf(stderr, "diff: out of memory\n");
		return 2;
	}
	if (o.bench) {
		bench(soft);
		return 0;
	}
	printf("diff_x86: seed %" PRIu64 ", %u cases per weight unit, soft CPU: %s\n", o.seed,
	       o.count, o.interp ? "interpreter" : "translator");
	if (probe_host_x87(cases, nres)) {
		fprintf(stderr, "diff: the host x87 probe did not run\n");
		return 2;
	}
	for (unsigned gi = 0; gi < ng; gi++) {
		if (o.only && !strstr(groups[gi].name, o.only))
			continue;
#ifdef __SANITIZE_ADDRESS__
		/* ASan's shadow maps low memory the fuzz cases expect to be unmapped. */
		if (!strcmp(groups[gi].name, "fuzz")) {
			printf("SKIP fuzz (AddressSanitizer build)\n");
			continue;
		}
#endif
		if (run_group(&groups[gi], gi, &o, soft, cases, nres, sres, &st))
			return 2;
		ran++;
	}
	printf("%" PRIu64 " cases in %u groups: %" PRIu64 " passed, %" PRIu64 " failed, %" PRIu64
	       " skipped; %" PRIu64 " differ only in undefined flags; %.2f s\n",
	       st.run, ran, st.run - st.failed, st.failed, st.skipped, st.undef_diffs, now() - t0);
	for (unsigned i = 0; i < MAX_HOST_WHY && st.host_why[i].why; i++)
		printf("  skipped %" PRIu64 " not comparable on this host: %s\n", st.host_why[i].n,
		       st.host_why[i].why);
	munmap(nres, BATCH * sizeof(*nres));
	free(sres);
	free(cases);
	diff_soft_destroy(soft);
	return st.failed ? 1 : 0;
}
