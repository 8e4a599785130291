/* tests/diff/main.c: differential test driver: generate, run natively and in the soft CPU, compare.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "diff.h"
#include "soft/cpu/insn.h"

#define BATCH 256

struct opts {
	uint64_t seed;
	unsigned count; /* cases per group weight unit */
	const char *only;
	bool strict, verbose, bench;
	unsigned max_dump;
};

struct stats {
	uint64_t run, failed, skipped, undef_diffs, dumped;
};

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
		"          [--bench]\n"
		"  --count N   cases per weight unit of each group (default 400, --quick 60)\n"
		"  --strict    also report differences in ISA-undefined flags\n"
		"  --bench     measure the soft CPU's speed on an integer loop\n",
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
	} f[] = {{2, "fcw"},   {4, "fsw"},   {5, "ftw"},   {6, "rsvd"},	  {8, "fop"},
		 {16, "fip"},  {24, "fdp"},  {28, "mxcsr"}, {32, "mxcsr_mask"}, {160, "st"},
		 {416, "xmm"}};

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
		if (!memcmp(n->fx + off, s->fx + off, 16) && memcmp(c->fx + off, n->fx + off, 16) == 0)
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
			const char *why;

			if (cases[i].skip || !nres[i].done) {
				skipped++;
				continue;
			}
			why = compare(&cases[i], &nres[i], &sres[i], st, o->strict);
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

	if (parse(argc, argv, &o))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	groups = diff_groups(&ng);
	soft = diff_soft_create();
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
	printf("diff_x86: seed %" PRIu64 ", %u cases per weight unit\n", o.seed, o.count);
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
	munmap(nres, BATCH * sizeof(*nres));
	free(sres);
	free(cases);
	diff_soft_destroy(soft);
	return st.failed ? 1 : 0;
}
