/*
 * tests/unit/test_softblock.c: the soft CPU's decoded-block cache, code map,
 * TLB and REP paths, each through the interpreter and through the binary
 * translator; the translator's code cache.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "soft/bt/bt.h"
#include "soft/cpu/cpu.h"
#include "soft_stubs.h"

#define RAM_SIZE (4u << 20)
#define CODE	 0x10000
#define DATA	 0x100000
#define ALIAS	 0x300000 /* a linear page the test maps onto any physical page */

struct env {
	struct cpu cpu;
	uint8_t *ram;
	uint64_t alias_to; /* physical page ALIAS translates to */
	unsigned translations;
	bool bt; /* 64-bit code runs through the translator */
};

/* Identity paging for RAM, except the ALIAS page. */
static int t_translate(void *opaque, uint64_t la, enum cpu_access acc, struct cpu_xlate *x)
{
	struct env *e = opaque;
	uint64_t pa = la == ALIAS ? e->alias_to : la;

	(void)acc;
	e->translations++;
	if (pa >= RAM_SIZE) {
		x->vector = 14;
		x->error_code = 0;
		return -1;
	}
	x->hva = e->ram + pa;
	x->gpa = pa;
	return 0;
}

static const struct cpu_ops t_ops = {
    .translate = t_translate,
    .mmio = t_mmio,
    .pio = t_pio,
    .cpuid = t_cpuid,
    .rdtsc = t_rdtsc,
};

static int env_init(struct env *e, uint8_t *ram)
{
	memset(e, 0, sizeof(*e));
	e->ram = ram;
	e->alias_to = DATA;
	return cpu_init(&e->cpu, &t_ops, e);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	uint8_t *ram = calloc(1, RAM_SIZE);

	if (!e || !ram || env_init(e, ram)) {
		free(ram);
		free(e);
		return -1;
	}
	*state = e;
	return 0;
}

/* The same, through the translator (skipped where the host cannot run it). */
#define BT_TEST_CACHE (1u << 20)
static int setup_bt(void **state)
{
	struct env *e;
	const char *why;

	if (!bt_host_supported(&why)) {
		print_message("translator: %s\n", why);
		*state = NULL;
		return 0;
	}
	if (setup(state))
		return -1;
	e = *state;
	e->bt = true;
	return cpu_use_translator(&e->cpu, BT_TEST_CACHE);
}

static int teardown(void **state)
{
	struct env *e = *state;

	if (!e)
		return 0;
	cpu_destroy(&e->cpu);
	free(e->ram);
	free(e);
	return 0;
}

/* 64-bit mode, CPL 0, RIP at rip; cpu_init's default state is long mode. */
static void start(struct env *e, uint64_t rip)
{
	struct x86_cpu_state st;

	cpu_get_state(&e->cpu, &st);
	memset(st.gpr, 0, sizeof(st.gpr));
	st.rip = rip;
	st.rflags = X86_RFLAGS_FIXED;
	st.gpr[X86_RSP] = DATA + 0x8000;
	cpu_set_state(&e->cpu, &st);
}

static int run(struct env *e)
{
	return cpu_run(&e->cpu, 100000);
}

/* A store into the very block that is running changes what it runs next. */
static void test_smc_same_block(void **state)
{
	struct env *e = *state;

	if (!e)
		skip();
	/*
	 * mov $0x55, %al; mov %al, 1f+1(%rip); 1: mov $0x11, %bl; hlt
	 * (the store rewrites the immediate of the next instruction)
	 */
	static const uint8_t code[] = {0xb0, 0x55, 0x88, 0x05, 0x01, 0x00,
				       0x00, 0x00, 0xb3, 0x11, 0xf4};

	memcpy(e->ram + CODE, code, sizeof(code));
	start(e, CODE);
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[X86_RBX] & 0xff, 0x55);
	/* Run again from the top: the modified code is what is cached now. */
	e->ram[CODE + 9] = 0x22;
	start(e, CODE);
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[X86_RBX] & 0xff, 0x55);
}

/* Code run once, rewritten by a REP MOVSB of the guest, then run again. */
static void test_smc_rep_movs(void **state)
{
	struct env *e = *state;

	if (!e)
		skip();
	/* f: mov $1, %eax; ret */
	static const uint8_t f1[] = {0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3};
	static const uint8_t f2[] = {0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3};
	/* call f; mov %eax, %ebx; rep movsb f2 (RSI, set by the test) over f; call f; hlt */
	static const uint8_t code[] = {
	    0xe8, 0xfb, 0x00, 0x00, 0x00, /* call CODE+0x100 */
	    0x89, 0xc3,			  /* mov %eax, %ebx */
	    0xbf, 0x00, 0x01, 0x01, 0x00, /* mov $0x10100, %edi */
	    0xb9, 0x06, 0x00, 0x00, 0x00, /* mov $6, %ecx */
	    0xf3, 0xa4,			  /* rep movsb */
	    0xe8, 0xe8, 0x00, 0x00, 0x00, /* call CODE+0x100 */
	    0xf4,			  /* hlt */
	};

	memcpy(e->ram + CODE, code, sizeof(code));
	memcpy(e->ram + CODE + 0x100, f1, sizeof(f1));
	memcpy(e->ram + DATA, f2, sizeof(f2));
	start(e, CODE);
	e->cpu.gpr[X86_RSI] = DATA;
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[X86_RBX], 1);
	assert_int_equal(e->cpu.gpr[X86_RAX], 2);
}

/*
 * Two CPUs sharing one code map: the second rewrites code the first has
 * decoded, and the first runs the new code.
 */
static void test_cross_cpu_code_write(void **state)
{
	struct env *a = *state, b;
	struct cpu_code_map *m = cpu_code_map_create(a->ram, RAM_SIZE);
	/* mov $7, %ebx; hlt */
	static const uint8_t f[] = {0xbb, 0x07, 0x00, 0x00, 0x00, 0xf4};
	/* movb $9, CODE+1; hlt (absolute through a 32-bit displacement) */
	static const uint8_t w[] = {0xc6, 0x04, 0x25, 0x01, 0x00, 0x01, 0x00, 0x09, 0xf4};

	if (!a)
		skip();
	assert_non_null(m);
	assert_int_equal(env_init(&b, a->ram), 0);
	if (a->bt)
		assert_int_equal(cpu_use_translator(&b.cpu, BT_TEST_CACHE), 0);
	cpu_set_code_map(&a->cpu, m);
	cpu_set_code_map(&b.cpu, m);
	memcpy(a->ram + CODE, f, sizeof(f));
	memcpy(a->ram + CODE + 0x2000, w, sizeof(w));
	start(a, CODE);
	assert_int_equal(run(a), CPU_EXIT_HLT);
	assert_int_equal(a->cpu.gpr[X86_RBX], 7);
	start(&b, CODE + 0x2000);
	assert_int_equal(run(&b), CPU_EXIT_HLT);
	/* Not through cpu_set_state: the first CPU keeps its blocks. */
	a->cpu.rip = CODE;
	assert_int_equal(run(a), CPU_EXIT_HLT);
	assert_int_equal(a->cpu.gpr[X86_RBX], 9);
	/* A device-style write, reported through the map. */
	a->ram[CODE + 1] = 0x0b;
	cpu_code_map_written(m, a->ram + CODE + 1, 1);
	a->cpu.rip = CODE;
	assert_int_equal(run(a), CPU_EXIT_HLT);
	assert_int_equal(a->cpu.gpr[X86_RBX], 0x0b);
	cpu_destroy(&b.cpu);
	cpu_set_code_map(&a->cpu, NULL);
	cpu_code_map_destroy(m);
}

/*
 * A store no CPU saw (device DMA) and not reported to the code map is still
 * noticed once the translation is flushed, as mapping the page again needs.
 */
static void test_unreported_write_after_flush(void **state)
{
	struct env *e = *state;

	if (!e)
		skip();
	/* mov $7, %ebx; hlt */
	static const uint8_t f[] = {0xbb, 0x07, 0x00, 0x00, 0x00, 0xf4};

	memcpy(e->ram + CODE, f, sizeof(f));
	start(e, CODE);
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[X86_RBX], 7);
	e->ram[CODE + 1] = 0x0c;
	cpu_tlb_flush(&e->cpu);
	e->cpu.rip = CODE;
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[X86_RBX], 0x0c);
}

/* INVLPG drops the translation of its page: a remapped page is seen afterwards. */
static void test_invlpg(void **state)
{
	struct env *e = *state;

	if (!e)
		skip();
	/*
	 * mov ALIAS, %rbx; invlpg ALIAS; mov ALIAS, %rcx; hlt
	 * (the test remaps ALIAS between the two runs)
	 */
	static const uint8_t code[] = {
	    0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x30, 0x00, /* mov 0x300000, %rbx */
	    0xf4,					    /* hlt */
	    0x0f, 0x01, 0x3c, 0x25, 0x00, 0x00, 0x30, 0x00, /* invlpg 0x300000 */
	    0x48, 0x8b, 0x0c, 0x25, 0x00, 0x00, 0x30, 0x00, /* mov 0x300000, %rcx */
	    0xf4,					    /* hlt */
	};
	uint64_t one = 0x1111, two = 0x2222;

	memcpy(e->ram + CODE, code, sizeof(code));
	memcpy(e->ram + DATA, &one, 8);
	memcpy(e->ram + DATA + 0x1000, &two, 8);
	start(e, CODE);
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[X86_RBX], one);
	e->alias_to = DATA + 0x1000;
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[X86_RCX], two);
}

/*
 * Accesses through one base register, in one page, across two pages, and
 * across the end of RAM (the translator checks them with one lookup, and
 * each on its own when that misses): the same stores, loads and fault.
 */
static void test_same_base_accesses(void **state)
{
	struct env *e = *state;

	if (!e)
		skip();
	/*
	 * 1: mov %rax, 8(%rbx); mov %rcx, 16(%rbx); mov 24(%rbx), %rdx;
	 * dec %rsi; jnz 1b; hlt (twice: the first pass fills the TLB)
	 */
	static const uint8_t code[] = {0x48, 0x89, 0x43, 0x08, 0x48, 0x89, 0x4b, 0x10, 0x48,
				       0x8b, 0x53, 0x18, 0x48, 0xff, 0xce, 0x75, 0xef, 0xf4};
	const uint64_t bases[] = {DATA, DATA + 0xff0, DATA + 0x100, RAM_SIZE - 24};
	uint64_t v;

	memcpy(e->ram + CODE, code, sizeof(code));
	for (unsigned i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		uint64_t b = bases[i], before, third = 0x3333000000000000ull | i;
		bool faults = b + 24 >= RAM_SIZE;

		if (!faults)
			memcpy(e->ram + b + 24, &third, 8);
		start(e, CODE);
		e->cpu.gpr[X86_RAX] = 0x1111 + i;
		e->cpu.gpr[X86_RCX] = 0x2222 + i;
		e->cpu.gpr[X86_RBX] = b;
		e->cpu.gpr[X86_RSI] = 2;
		before = e->cpu.insns;
		if (faults) {
			assert_int_equal(run(e), CPU_EXIT_EXCEPTION);
			assert_int_equal(e->cpu.exc.vector, 14);
			assert_int_equal(e->cpu.rip, CODE + 8);
			assert_int_equal(e->cpu.insns - before, 2);
			assert_int_equal(e->cpu.gpr[X86_RDX], 0);
		} else {
			assert_int_equal(run(e), CPU_EXIT_HLT);
			assert_int_equal(e->cpu.gpr[X86_RDX], third);
			assert_int_equal(e->cpu.gpr[X86_RSI], 0);
		}
		memcpy(&v, e->ram + b + 8, 8);
		assert_int_equal(v, 0x1111 + i);
		memcpy(&v, e->ram + b + 16, 8);
		assert_int_equal(v, 0x2222 + i);
	}
}

/*
 * A compare with memory that faults keeps the flags as they were (the
 * translator's budget check, which clobbers them, sits after its lookup),
 * and one that does not sets them.
 */
static void test_flags_at_memory_fault(void **state)
{
	struct env *e = *state;
	/* mov %rax, %rbx; cmp %rcx, (%rdx); hlt */
	static const uint8_t code[] = {0x48, 0x89, 0xc3, 0x48, 0x39, 0x0a, 0xf4};
	const uint64_t arith = X86_RFLAGS_CF | X86_RFLAGS_ZF | X86_RFLAGS_SF | X86_RFLAGS_OF;
	uint64_t before, one = 1;

	if (!e)
		skip();
	memcpy(e->ram + CODE, code, sizeof(code));
	memcpy(e->ram + DATA, &one, 8);
	for (unsigned pass = 0; pass < 2; pass++) {
		start(e, CODE);
		cpu_set_rflags(&e->cpu, X86_RFLAGS_FIXED | arith);
		e->cpu.gpr[X86_RCX] = 1;
		e->cpu.gpr[X86_RDX] = 2ull * RAM_SIZE;
		before = e->cpu.insns;
		assert_int_equal(run(e), CPU_EXIT_EXCEPTION);
		assert_int_equal(e->cpu.exc.vector, 14);
		assert_int_equal(e->cpu.rip, CODE + 3);
		assert_int_equal(e->cpu.insns - before, 1);
		assert_int_equal(cpu_get_rflags(&e->cpu) & (arith | X86_RFLAGS_PF | X86_RFLAGS_AF), arith);
		start(e, CODE);
		cpu_set_rflags(&e->cpu, X86_RFLAGS_FIXED | arith);
		e->cpu.gpr[X86_RCX] = 1;
		e->cpu.gpr[X86_RDX] = DATA;
		assert_int_equal(run(e), CPU_EXIT_HLT);
		/* 1 - 1: ZF and PF set, CF, SF, OF clear */
		assert_int_equal(cpu_get_rflags(&e->cpu) & arith, X86_RFLAGS_ZF);
	}
}

/*
 * Two pages of one TLB index, read in turn: after the first pass both are
 * cached (one as the other's victim), so the MMU is asked no more.
 */
static void test_tlb_victim(void **state)
{
	struct env *e = *state;
	/* 1: add (%rbx), %rax; add (%rcx), %rax; dec %rsi; jnz 1b; hlt */
	static const uint8_t code[] = {0x48, 0x03, 0x03, 0x48, 0x03, 0x01,
				       0x48, 0xff, 0xce, 0x75, 0xf5, 0xf4};
	const uint64_t a = DATA + 0x40, b = a + CPU_TLB_SIZE * 0x1000ull;
	uint64_t one = 1, two = 2;
	unsigned before;

	if (!e)
		skip();
	memcpy(e->ram + CODE, code, sizeof(code));
	memcpy(e->ram + a, &one, 8);
	memcpy(e->ram + b, &two, 8);
	start(e, CODE);
	e->cpu.gpr[X86_RBX] = a;
	e->cpu.gpr[X86_RCX] = b;
	e->cpu.gpr[X86_RSI] = 1000;
	before = e->translations;
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[X86_RAX], 3000);
	assert_true(e->translations - before < 10);
}

/* A register-only instruction between two such accesses; one that moves the base ends them. */
static void test_same_base_between(void **state)
{
	struct env *e = *state;
	const uint64_t b = DATA + 0x200, a = 0x5150;
	uint64_t v;

	if (!e)
		skip();
	/*
	 * mov %rdx, 8(%rbx); jmp 1f (the page is in the TLB from here on);
	 * 1: mov %rax, 8(%rbx); inc %rax; mov %rax, 16(%rbx);
	 * add $0x100, %rbx; mov %rax, 8(%rbx); hlt
	 */
	static const uint8_t code[] = {0x48, 0x89, 0x53, 0x08, 0xeb, 0x00, 0x48, 0x89, 0x43,
				       0x08, 0x48, 0xff, 0xc0, 0x48, 0x89, 0x43, 0x10, 0x48,
				       0x81, 0xc3, 0x00, 0x01, 0x00, 0x00, 0x48, 0x89, 0x43,
				       0x08, 0xf4};

	memcpy(e->ram + CODE, code, sizeof(code));
	memset(e->ram + DATA, 0, 0x1000);
	start(e, CODE);
	e->cpu.gpr[X86_RAX] = a;
	e->cpu.gpr[X86_RBX] = b;
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[X86_RBX], b + 0x100);
	memcpy(&v, e->ram + b + 8, 8);
	assert_int_equal(v, a);
	memcpy(&v, e->ram + b + 16, 8);
	assert_int_equal(v, a + 1);
	memcpy(&v, e->ram + b + 0x108, 8);
	assert_int_equal(v, a + 1);
}

/*
 * REP STOSB and REP MOVSB within a page, across pages and with a zero
 * count, twice each (the translator runs them on the host once its TLB
 * holds the pages); then a REP STOSQ whose count times 8 wraps around to
 * a few bytes, which must fault at the end of RAM, not run on the host.
 */
static void test_rep_native(void **state)
{
	struct env *e = *state;

	if (!e)
		skip();
	/*
	 * 1: mov %r8, %rcx; mov %r9, %rdi; rep stosb; mov %r10, %rcx;
	 * mov %r11, %rsi; mov %r12, %rdi; rep movsb; dec %r13; jnz 1b; hlt
	 */
	static const uint8_t code[] = {0x4c, 0x89, 0xc1, 0x4c, 0x89, 0xcf, 0xf3, 0xaa, 0x4c,
				       0x89, 0xd1, 0x4c, 0x89, 0xde, 0x4c, 0x89, 0xe7, 0xf3,
				       0xa4, 0x49, 0xff, 0xcd, 0x75, 0xe8, 0xf4};
	/* mov %rax, (%rdi) (the TLB takes the page); rep stosq; hlt */
	static const uint8_t stosq[] = {0x48, 0x89, 0x07, 0xf3, 0x48, 0xab, 0xf4};
	static uint8_t want[0x4000];
	const struct {
		uint64_t stos_n, stos_at, movs_n, from, to;
	} cases[] = {
	    {100, DATA + 0x10, 50, DATA + 0x10, DATA + 0x800},
	    {0x30, DATA + 0xfe0, 0x40, DATA + 0xfe0, DATA + 0x2000},
	    {0, DATA, 0, DATA, DATA + 0x3000},
	};

	memcpy(e->ram + CODE, code, sizeof(code));
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(e->ram + DATA, 0, 0x4000);
		start(e, CODE);
		e->cpu.gpr[X86_RAX] = 0xa0 + i;
		e->cpu.gpr[8] = cases[i].stos_n;
		e->cpu.gpr[9] = cases[i].stos_at;
		e->cpu.gpr[10] = cases[i].movs_n;
		e->cpu.gpr[11] = cases[i].from;
		e->cpu.gpr[12] = cases[i].to;
		e->cpu.gpr[13] = 2;
		assert_int_equal(run(e), CPU_EXIT_HLT);
		assert_int_equal(e->cpu.gpr[X86_RCX], 0);
		assert_int_equal(e->cpu.gpr[X86_RSI], cases[i].from + cases[i].movs_n);
		assert_int_equal(e->cpu.gpr[X86_RDI], cases[i].to + cases[i].movs_n);
		memset(want, 0, sizeof(want));
		memset(want + cases[i].stos_at - DATA, 0xa0 + i, cases[i].stos_n);
		for (uint64_t j = 0; j < cases[i].movs_n; j++)
			want[cases[i].to - DATA + j] = want[cases[i].from - DATA + j];
		assert_memory_equal(e->ram + DATA, want, sizeof(want));
	}
	memcpy(e->ram + CODE, stosq, sizeof(stosq));
	start(e, CODE);
	e->cpu.gpr[X86_RCX] = (1ull << 61) + 1;
	e->cpu.gpr[X86_RDI] = RAM_SIZE - 16;
	assert_int_equal(run(e), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc.vector, 14);
	assert_int_equal(e->cpu.gpr[X86_RDI], RAM_SIZE);
	assert_int_equal(e->cpu.gpr[X86_RCX], (1ull << 61) - 1);
}

/* Running the same code again needs no translation: TLB entries and blocks are kept. */
static void test_tlb_and_blocks_kept(void **state)
{
	struct env *e = *state;

	if (!e)
		skip();
	/* mov DATA, %rax; hlt */
	static const uint8_t code[] = {0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x10, 0x00, 0xf4};
	unsigned before;

	memcpy(e->ram + CODE, code, sizeof(code));
	start(e, CODE);
	assert_int_equal(run(e), CPU_EXIT_HLT);
	before = e->translations;
	e->cpu.rip = CODE;
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->translations, before);
}

/* REP MOVS/STOS against an element-by-element reference, overlaps and page ends included. */
static void test_rep_reference(void **state)
{
	struct env *e = *state;

	if (!e)
		skip();
	uint8_t *ref = malloc(RAM_SIZE);
	unsigned seed = 1;

	assert_non_null(ref);
	for (unsigned t = 0; t < 300; t++) {
		unsigned movs = t & 1, sz = 1u << ((t >> 1) & 3), n = 0;
		uint64_t src, dst, cnt, rax = 0x1122334455667788ull ^ t;
		uint8_t code[8];

		seed = seed * 1103515245 + 12345;
		src = DATA + (seed >> 8) % 0x20000;
		seed = seed * 1103515245 + 12345;
		dst = (t % 5 == 0) ? src + (seed >> 8) % 64 - 32 : DATA + (seed >> 8) % 0x20000;
		seed = seed * 1103515245 + 12345;
		cnt = (seed >> 8) % (t % 3 ? 300 : 20000);
		for (unsigned i = DATA; i < DATA + 0x60000; i++)
			e->ram[i] = (uint8_t)(i * 7 + t);
		memcpy(ref, e->ram, RAM_SIZE);
		for (uint64_t i = 0; i < cnt; i++) {
			if (movs)
				memmove(ref + dst + i * sz, ref + src + i * sz, sz);
			else
				memcpy(ref + dst + i * sz, &rax, sz);
		}
		code[n++] = 0xf3;
		if (sz == 2)
			code[n++] = 0x66;
		if (sz == 8)
			code[n++] = 0x48;
		code[n++] = (uint8_t)((movs ? 0xa4 : 0xaa) + (sz > 1));
		code[n++] = 0xf4;
		memcpy(e->ram + CODE, code, n);
		memcpy(ref + CODE, code, n);
		start(e, CODE);
		e->cpu.gpr[X86_RSI] = src;
		e->cpu.gpr[X86_RDI] = dst;
		e->cpu.gpr[X86_RCX] = cnt;
		e->cpu.gpr[X86_RAX] = rax;
		for (unsigned k = 0; k < 1000 && run(e) != CPU_EXIT_HLT; k++)
			;
		assert_int_equal(e->cpu.gpr[X86_RCX], 0);
		assert_int_equal(e->cpu.gpr[X86_RDI], dst + cnt * sz);
		if (movs)
			assert_int_equal(e->cpu.gpr[X86_RSI], src + cnt * sz);
		assert_memory_equal(e->ram + DATA - 0x1000, ref + DATA - 0x1000, 0x61000);
	}
	free(ref);
}

/* Instructions retire one by one even when a fault stops a block in the middle. */
static void test_retired_count(void **state)
{
	struct env *e = *state;

	if (!e)
		skip();
	/* nop; nop; nop; mov (%rax), %rbx with rax beyond RAM: #PF */
	static const uint8_t code[] = {0x90, 0x90, 0x90, 0x48, 0x8b, 0x18, 0xf4};
	uint64_t before;

	memcpy(e->ram + CODE, code, sizeof(code));
	start(e, CODE);
	e->cpu.gpr[X86_RAX] = 2ull * RAM_SIZE;
	before = e->cpu.insns;
	assert_int_equal(run(e), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc.vector, 14);
	assert_int_equal(e->cpu.rip, CODE + 3);
	assert_int_equal(e->cpu.insns - before, 3);
	/* A budget of one runs exactly one instruction of a cached block. */
	start(e, CODE);
	before = e->cpu.insns;
	assert_int_equal(cpu_run(&e->cpu, 1), CPU_EXIT_NONE);
	assert_int_equal(e->cpu.rip, CODE + 1);
	assert_int_equal(e->cpu.insns - before, 1);
}

/*
 * A loop whose body branches forward every other time (through the
 * translator, a side exit out of the middle of a block): the count of
 * retired instructions is exact, and any budget stops on the instruction
 * and with the registers the interpreter stops on and with.
 */
static void inner_branch_start(struct env *e)
{
	static const uint8_t code[] = {
	    0x48, 0x8b, 0x32, /* 0x00 mov (%rdx), %rsi */
	    0xa8, 0x01,	      /* 0x03 test $1, %al */
	    0x74, 0x04,	      /* 0x05 je 0x0b */
	    0x48, 0xff, 0xc3, /* 0x07 inc %rbx */
	    0x90,	      /* 0x0a nop */
	    0x48, 0xff, 0xc6, /* 0x0b inc %rsi */
	    0x48, 0x89, 0x32, /* 0x0e mov %rsi, (%rdx) */
	    0x48, 0xff, 0xc8, /* 0x11 dec %rax */
	    0x75, 0xea,	      /* 0x14 jnz 0x00 */
	    0xf4,	      /* 0x16 hlt */
	};

	memcpy(e->ram + CODE, code, sizeof(code));
	memset(e->ram + DATA, 0, 8);
	start(e, CODE);
	e->cpu.gpr[X86_RAX] = 1000;
	e->cpu.gpr[X86_RDX] = DATA;
}

static void test_inner_branch_budget(void **state)
{
	struct env *e = *state, ref;
	struct x86_cpu_state st, ref_st;
	uint8_t *ref_ram;
	uint64_t before;

	if (!e)
		skip();
	ref_ram = calloc(1, RAM_SIZE);
	assert_non_null(ref_ram);
	assert_int_equal(env_init(&ref, ref_ram), 0);
	/* 500 rounds of 9 instructions, 500 of 7 (the branch taken), then HLT. */
	inner_branch_start(e);
	before = e->cpu.insns;
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.rip, CODE + 0x17);
	assert_int_equal(e->cpu.gpr[X86_RBX], 500);
	assert_int_equal(e->cpu.gpr[X86_RSI], 1000);
	assert_int_equal(e->ram[DATA] | e->ram[DATA + 1] << 8, 1000);
	assert_int_equal(e->cpu.insns - before, 8001);
	for (unsigned budget = 1; budget < 8001; budget += budget < 700 ? 37 : 997) {
		inner_branch_start(e);
		inner_branch_start(&ref);
		before = e->cpu.insns;
		assert_int_equal(cpu_run(&e->cpu, budget), CPU_EXIT_NONE);
		assert_int_equal(cpu_run(&ref.cpu, budget), CPU_EXIT_NONE);
		assert_int_equal(e->cpu.insns - before, budget);
		assert_int_equal(e->cpu.rip, ref.cpu.rip);
		assert_memory_equal(e->cpu.gpr, ref.cpu.gpr, sizeof(e->cpu.gpr));
		cpu_get_state(&e->cpu, &st);
		cpu_get_state(&ref.cpu, &ref_st);
		assert_int_equal(st.rflags, ref_st.rflags);
	}
	cpu_destroy(&ref.cpu);
	free(ref_ram);
}

/*
 * An instruction that crosses from one page into the next, in a loop (the
 * translator runs it in a block that spans both pages): the loop rewrites
 * its bytes on the second page as it goes, then that page is remapped.
 */
static void test_insn_across_pages(void **state)
{
	struct env *e = *state;

	if (!e)
		skip();
	static const uint8_t first[] = {
	    0x89, 0xca,				    /* 0x2fffea mov %ecx, %edx */
	    0x48, 0x85, 0xf6,			    /* 0x2fffec test %rsi, %rsi */
	    0x74, 0x07,				    /* 0x2fffef je 0x2ffff8 */
	    0x88, 0x14, 0x25, 0x00, 0x00, 0x30, 0x00, /* 0x2ffff1 mov %dl, ALIAS */
	    0x48, 0xff, 0xc3,			    /* 0x2ffff8 inc %rbx */
	    0x90, 0x90,				    /* 0x2ffffb nop; nop */
	    0xb8, 0x11, 0x22,			    /* 0x2ffffd mov $0x44332211, %eax (on into ALIAS) */
	};
	static const uint8_t second[] = {
	    0x33, 0x44,
	    0x48, 0xff, 0xc9, /* 0x300002 dec %rcx */
	    0x75, 0xe3,	      /* 0x300005 jnz 0x2fffea */
	    0xf4,	      /* 0x300007 hlt */
	};
	static const uint8_t flush[] = {
	    0x0f, 0x01, 0x3c, 0x25, 0x00, 0x00, 0x30, 0x00, /* invlpg ALIAS */
	    0xf4,					    /* hlt */
	};
	const uint64_t loop = ALIAS - sizeof(first);
	struct bt_stats before, after;

	memcpy(e->ram + loop, first, sizeof(first));
	memcpy(e->ram + DATA, second, sizeof(second));
	memcpy(e->ram + DATA + 0x1000, second, sizeof(second));
	e->ram[DATA + 0x1000] = 0x66;
	memcpy(e->ram + CODE, flush, sizeof(flush));

	start(e, loop);
	e->cpu.gpr[X86_RCX] = 1000;
	bt_get_stats(&e->cpu, &before);
	assert_int_equal(run(e), CPU_EXIT_HLT);
	bt_get_stats(&e->cpu, &after);
	assert_int_equal(e->cpu.rip, ALIAS + sizeof(second));
	assert_int_equal(e->cpu.gpr[X86_RAX], 0x44332211);
	assert_int_equal(e->cpu.gpr[X86_RBX], 1000);
	/* Once translated, the loop runs without leaving translated code each round. */
	if (e->bt)
		assert_true(after.entries - before.entries < 50);

	/* Each round stores its count into the immediate the next one loads. */
	start(e, loop);
	e->cpu.gpr[X86_RCX] = 10;
	e->cpu.gpr[X86_RSI] = 1;
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[X86_RAX], 0x44012211);
	assert_int_equal(e->cpu.gpr[X86_RBX], 10);

	e->alias_to = DATA + 0x1000;
	start(e, CODE);
	assert_int_equal(run(e), CPU_EXIT_HLT);
	start(e, loop);
	e->cpu.gpr[X86_RCX] = 10;
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->cpu.gpr[X86_RAX], 0x44662211);
	assert_int_equal(e->cpu.gpr[X86_RBX], 10);
}

/* No view of the code cache is writable and executable at once. */
static void test_bt_cache_wx(void **state)
{
	struct env *e = *state;
	char line[512];
	unsigned views = 0;
	FILE *f;

	if (!e)
		skip();
	f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char perms[8] = "";

		if (!strstr(line, "kite-bt") || sscanf(line, "%*s %7s", perms) != 1)
			continue;
		views++;
		assert_false(perms[1] == 'w' && perms[2] == 'x');
	}
	fclose(f);
	assert_true(views >= 2);
}

/* More code than the cache holds: it is flushed and refilled, and the guest sees nothing of it. */
static void test_bt_cache_full(void **state)
{
	struct env *e = *state;
	struct bt_stats st;
	unsigned n = 0;

	if (!e)
		skip();
	/* 40000 blocks of "inc %rax; jmp .+2", then hlt. */
	for (unsigned i = 0; i < 40000; i++) {
		static const uint8_t blk[] = {0x48, 0xff, 0xc0, 0xeb, 0x00};

		memcpy(e->ram + CODE + n, blk, sizeof(blk));
		n += sizeof(blk);
	}
	e->ram[CODE + n] = 0xf4;
	for (unsigned round = 0; round < 2; round++) {
		start(e, CODE);
		assert_int_equal(run(e), CPU_EXIT_HLT);
		assert_int_equal(e->cpu.gpr[X86_RAX], 40000);
	}
	bt_get_stats(&e->cpu, &st);
	assert_true(st.flushes >= 1);
	assert_true(st.blocks > 40000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_smc_same_block, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_smc_rep_movs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cross_cpu_code_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unreported_write_after_flush, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invlpg, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tlb_and_blocks_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rep_reference, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retired_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_smc_same_block, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_smc_rep_movs, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_cross_cpu_code_write, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_unreported_write_after_flush, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_invlpg, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_tlb_and_blocks_kept, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_rep_reference, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_retired_count, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_inner_branch_budget, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inner_branch_budget, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_insn_across_pages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_insn_across_pages, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_same_base_accesses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_same_base_accesses, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_tlb_victim, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tlb_victim, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_flags_at_memory_fault, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flags_at_memory_fault, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_same_base_between, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_same_base_between, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_rep_native, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rep_native, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_bt_cache_wx, setup_bt, teardown),
	    cmocka_unit_test_setup_teardown(test_bt_cache_full, setup_bt, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
