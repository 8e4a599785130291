/* tests/unit/test_softcpu.c: the soft CPU system level: modes, descriptors, event delivery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "soft/cpu/cpu.h"
#include "soft_stubs.h"

#define RAM_SIZE (1u << 20)
#define GDT	 0x1000
#define IDT	 0x2000
#define TSS	 0x3000
#define CODE	 0x10000
#define STACK	 0x80000

struct env {
	struct cpu cpu;
	uint8_t *ram;
};

/* No paging in these tests: linear is physical, RAM only. */
static int t_translate(void *opaque, uint64_t la, enum cpu_access acc, struct cpu_xlate *x)
{
	struct env *e = opaque;

	(void)acc;
	if (la >= RAM_SIZE) {
		x->vector = 14;
		x->error_code = 0;
		return -1;
	}
	x->hva = e->ram + (la & ~0xfffull);
	x->gpa = la & ~0xfffull;
	return 0;
}

static const struct cpu_ops t_ops = {
    .translate = t_translate,
    .mmio = t_mmio,
    .pio = t_pio,
    .cpuid = t_cpuid,
    .rdtsc = t_rdtsc,
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	e->ram = calloc(1, RAM_SIZE);
	if (!e->ram || cpu_init(&e->cpu, &t_ops, e)) {
		free(e->ram);
		free(e);
		return -1;
	}
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	cpu_destroy(&e->cpu);
	free(e->ram);
	free(e);
	return 0;
}

static void put_code(struct env *e, uint64_t at, const uint8_t *code, size_t n)
{
	memcpy(e->ram + at, code, n);
}

static void put64(struct env *e, uint64_t at, uint64_t v)
{
	memcpy(e->ram + at, &v, 8);
}

static uint32_t get32(struct env *e, uint64_t at)
{
	uint32_t v;

	memcpy(&v, e->ram + at, 4);
	return v;
}

static uint64_t get64(struct env *e, uint64_t at)
{
	uint64_t v;

	memcpy(&v, e->ram + at, 8);
	return v;
}

static struct x86_segment flat(uint16_t sel, unsigned type, bool code64, bool db)
{
	return (struct x86_segment){.selector = sel,
				    .limit = 0xffffffffu,
				    .type = (uint8_t)type,
				    .s = 1,
				    .present = 1,
				    .l = code64,
				    .db = db,
				    .g = 1};
}

/* 32-bit protected mode, CPL 0, flat CS 0x08 / data 0x10, GDT and IDT in place. */
static void pm32(struct env *e)
{
	static const uint64_t gdt[] = {
	    0,
	    0x00cf9a000000ffffull, /* 0x08 code */
	    0x00cf92000000ffffull, /* 0x10 data */
	    0x00cf12000000ffffull, /* 0x18 data, not present */
	    0x00cf98000000ffffull, /* 0x20 execute-only code */
	    0x00cff2000000ffffull, /* 0x28 data, DPL 3 */
	    0x00cf90000000ffffull, /* 0x30 read-only data */
	    0x00af9a000000ffffull, /* 0x38 64-bit code */
	};
	struct x86_cpu_state st = {0};

	memcpy(e->ram + GDT, gdt, sizeof(gdt));
	st.cr0 = X86_CR0_PE | X86_CR0_ET;
	st.cs = flat(0x08, 0xb, false, true);
	st.ds = st.es = st.ss = st.fs = st.gs = flat(0x10, 0x3, false, true);
	st.tr = (struct x86_segment){.limit = 0x67, .type = 11, .present = 1};
	st.ldt = (struct x86_segment){.unusable = 1};
	st.gdt = (struct x86_dtable){GDT, sizeof(gdt) - 1};
	st.idt = (struct x86_dtable){IDT, 256 * 8 - 1};
	st.rip = CODE;
	st.gpr[X86_RSP] = STACK;
	st.rflags = X86_RFLAGS_FIXED;
	cpu_set_state(&e->cpu, &st);
}

/* A 32-bit interrupt gate (type 0xe) for vector to handler at CS 0x08. */
static void gate32(struct env *e, unsigned vector, uint32_t handler, unsigned dpl, bool present)
{
	uint64_t g = (handler & 0xffff) | (0x08ull << 16) | ((uint64_t)0xe << 40) |
		     ((uint64_t)dpl << 45) | ((uint64_t)present << 47) |
		     ((uint64_t)(handler >> 16) << 48);

	put64(e, IDT + vector * 8, g);
}

/* Runs until the CPU stops; returns the exit. */
static int run(struct env *e)
{
	return cpu_run(&e->cpu, 1000);
}

static void test_real_mode_segments(void **state)
{
	struct env *e = *state;
	/* mov $0x2000,%ax; mov %ax,%ds; movw $0x55aa,(0x10); mov (%bx,%si),%cx; hlt */
	static const uint8_t code[] = {0xb8, 0x00, 0x20, 0x8e, 0xd8, 0xc7, 0x06,
				       0x10, 0x00, 0xaa, 0x55, 0x8b, 0x08, 0xf4};
	struct x86_cpu_state st = {0};
	struct x86_segment rseg = {.limit = 0xffff, .type = 3, .s = 1, .present = 1};

	st.cr0 = X86_CR0_ET;
	st.cs = rseg;
	st.cs.type = 0xb;
	st.cs.selector = CODE >> 4;
	st.cs.base = CODE;
	st.ds = st.es = st.ss = st.fs = st.gs = rseg;
	st.idt.limit = 0x3ff;
	st.gpr[X86_RBX] = 0x08;
	st.gpr[X86_RSI] = 0xfff8; /* bx + si wraps at 64 KiB to 0 */
	st.rflags = X86_RFLAGS_FIXED;
	put_code(e, CODE, code, sizeof(code));
	e->ram[0x20000] = 0x34;
	e->ram[0x20001] = 0x12;
	cpu_set_state(&e->cpu, &st);
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_int_equal(e->ram[0x20010], 0xaa);
	assert_int_equal(e->ram[0x20011], 0x55);
	assert_int_equal(e->cpu.sys.ds.base, 0x20000);
	assert_int_equal(e->cpu.gpr[X86_RCX] & 0xffff, 0x1234);
	assert_int_equal(e->cpu.rip, sizeof(code));
}

/* Loads %ax into DS (or SS) in 32-bit protected mode and returns the exit. */
static int load_sreg(struct env *e, uint16_t sel, bool ss)
{
	const uint8_t code[] = {0x8e, ss ? 0xd0 : 0xd8, 0xf4};

	pm32(e);
	put_code(e, CODE, code, sizeof(code));
	e->cpu.gpr[X86_RAX] = sel;
	return run(e);
}

static void expect_fault(struct env *e, int rc, unsigned vector, uint32_t error)
{
	assert_int_equal(rc, CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc.vector, vector);
	assert_true(e->cpu.exc.has_error);
	assert_int_equal(e->cpu.exc.error_code, error);
	assert_int_equal(e->cpu.rip, CODE); /* a fault leaves RIP at the instruction */
}

static void test_segment_load_checks(void **state)
{
	struct env *e = *state;

	expect_fault(e, load_sreg(e, 0x18, false), 11, 0x18);	/* not present: #NP */
	expect_fault(e, load_sreg(e, 0x20, false), 13, 0x20);	/* execute-only code */
	expect_fault(e, load_sreg(e, 0x100, false), 13, 0x100); /* beyond the GDT */
	expect_fault(e, load_sreg(e, 0x0c, false), 13, 0x0c);	/* LDT: none loaded */
	expect_fault(e, load_sreg(e, 0x28, true), 13, 0x28);	/* SS: DPL 3 at CPL 0 */
	expect_fault(e, load_sreg(e, 0x30, true), 13, 0x30);	/* SS: read-only */
	expect_fault(e, load_sreg(e, 0x13, true), 13, 0x10);	/* SS: RPL != CPL */
	expect_fault(e, load_sreg(e, 0, true), 13, 0);		/* SS: null */

	/* A good load sets the accessed bit in the descriptor. */
	assert_int_equal(load_sreg(e, 0x10, false), CPU_EXIT_HLT);
	assert_int_equal(e->ram[GDT + 0x10 + 5], 0x93);
	assert_int_equal(e->cpu.sys.ds.selector, 0x10);

	/* No performance counters are offered: RDPMC of any counter is #GP(0), not #UD. */
	{
		static const uint8_t rdpmc[] = {0x0f, 0x33};

		put_code(e, CODE + 0x40, rdpmc, sizeof(rdpmc));
		e->cpu.rip = CODE + 0x40;
		e->cpu.gpr[X86_RCX] = 0;
		assert_int_equal(run(e), CPU_EXIT_EXCEPTION);
		assert_int_equal(e->cpu.exc.vector, 13);
		assert_int_equal(e->cpu.exc.error_code, 0);
		assert_int_equal(e->cpu.rip, CODE + 0x40);
	}

	/* A null DS loads; using it faults. */
	assert_int_equal(load_sreg(e, 0, false), CPU_EXIT_HLT);
	assert_true(e->cpu.sys.ds.unusable);
	{
		static const uint8_t use[] = {0x8b, 0x03}; /* mov (%ebx),%eax */

		put_code(e, CODE + 3, use, sizeof(use));
		e->cpu.rip = CODE + 3;
		assert_int_equal(run(e), CPU_EXIT_EXCEPTION);
		assert_int_equal(e->cpu.exc.vector, 13);
		assert_int_equal(e->cpu.exc.error_code, 0);
	}
}

static void test_interrupt_gate32(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = {0xcd, 0x40}; /* int $0x40 */
	static const uint8_t handler[] = {0xf4};

	pm32(e);
	put_code(e, CODE, code, sizeof(code));
	put_code(e, 0x20000, handler, sizeof(handler));
	gate32(e, 0x40, 0x20000, 0, true);
	e->cpu.rflags |= X86_RFLAGS_IF;
	assert_int_equal(run(e), CPU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exc.kind, CPU_EXC_SOFT);
	assert_int_equal(cpu_deliver_exception(&e->cpu), 0);
	assert_int_equal(e->cpu.rip, 0x20000);
	assert_int_equal(e->cpu.gpr[X86_RSP], STACK - 12);
	assert_int_equal(get32(e, STACK - 12), CODE + 2);      /* EIP */
	assert_int_equal(get32(e, STACK - 8), 0x08);	       /* CS */
	assert_true(get32(e, STACK - 4) & X86_RFLAGS_IF);      /* EFLAGS */
	assert_false(cpu_get_rflags(&e->cpu) & X86_RFLAGS_IF); /* interrupt gate */

	/* A not-present gate: #NP with the IDT error code, through the #NP gate. */
	pm32(e);
	put_code(e, CODE, code, sizeof(code));
	gate32(e, 0x40, 0x20000, 0, false);
	gate32(e, 11, 0x20000, 0, true);
	assert_int_equal(run(e), CPU_EXIT_EXCEPTION);
	assert_int_equal(cpu_deliver_exception(&e->cpu), 0);
	assert_int_equal(e->cpu.rip, 0x20000);
	assert_int_equal(get32(e, STACK - 16), 0x40 * 8 + 2); /* error code */
	/* A fault raised by INT n is the INT's: the handler returns to it (SDM 6.5). */
	assert_int_equal(get32(e, STACK - 12), CODE);
}

static void test_double_and_triple_fault(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = {0x0f, 0x0b}; /* ud2 */

	/* #UD gate not present -> #NP (benign then contributory: delivered). */
	pm32(e);
	put_code(e, CODE, code, sizeof(code));
	gate32(e, 6, 0x21000, 0, false);
	gate32(e, 11, 0x21000, 0, true);
	assert_int_equal(run(e), CPU_EXIT_EXCEPTION);
	assert_int_equal(cpu_deliver_exception(&e->cpu), 0);
	assert_int_equal(e->cpu.rip, 0x21000);

	/* #GP whose gate is missing: #NP on top of #GP is a double fault. */
	expect_fault(e, load_sreg(e, 0x100, false), 13, 0x100);
	memset(e->ram + IDT, 0, 256 * 8);
	gate32(e, 8, 0x22000, 0, true);
	assert_int_equal(cpu_deliver_exception(&e->cpu), 0);
	assert_int_equal(e->cpu.rip, 0x22000);
	assert_int_equal(get32(e, STACK - 16), 0); /* #DF error code */

	/* No IDT at all: a triple fault. */
	pm32(e);
	put_code(e, CODE, code, sizeof(code));
	e->cpu.sys.idt.limit = 0;
	assert_int_equal(run(e), CPU_EXIT_EXCEPTION);
	assert_int_equal(cpu_deliver_exception(&e->cpu), -1);
}

/* Long mode, CPL 0, 64-bit CS 0x38; a 64-bit TSS at TSS with IST1. */
static void lm64(struct env *e)
{
	pm32(e);
	e->cpu.sys.efer = X86_EFER_LME | X86_EFER_LMA;
	e->cpu.sys.cr0 |= X86_CR0_PG;
	e->cpu.sys.cr4 = X86_CR4_PAE;
	e->cpu.sys.cs = flat(0x38, 0xb, true, false);
	e->cpu.sys.tr = (struct x86_segment){.base = TSS, .limit = 0x67, .type = 11, .present = 1};
	e->cpu.sys.idt.limit = 256 * 16 - 1;
	{
		struct x86_cpu_state st;

		cpu_get_state(&e->cpu, &st);
		cpu_set_state(&e->cpu, &st);
	}
}

static void test_long_mode_ist(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = {0xcd, 0x20}; /* int $0x20 */
	uint64_t lo = (0x38ull << 16) | (1ull << 32) /* IST 1 */ | (0xeull << 40) | (1ull << 47) |
		      (0x3ull << 48); /* handler 0x30000 */

	lm64(e);
	put_code(e, CODE, code, sizeof(code));
	put64(e, IDT + 0x20 * 16, lo);
	put64(e, IDT + 0x20 * 16 + 8, 0);
	put64(e, TSS + 0x24, 0x70008); /* IST1, not 16-byte aligned */
	assert_true(e->cpu.mode64);
	assert_int_equal(run(e), CPU_EXIT_EXCEPTION);
	assert_int_equal(cpu_deliver_exception(&e->cpu), 0);
	assert_int_equal(e->cpu.rip, 0x30000);
	assert_int_equal(e->cpu.gpr[X86_RSP], 0x70000 - 40);
	assert_int_equal(get64(e, 0x70000 - 40), CODE + 2); /* RIP */
	assert_int_equal(get64(e, 0x70000 - 32), 0x38);	    /* CS */
	assert_int_equal(get64(e, 0x70000 - 16), STACK);    /* RSP */
	assert_int_equal(get64(e, 0x70000 - 8), 0x10);	    /* SS */

	/* IRETQ pops all five and returns. */
	{
		static const uint8_t iretq[] = {0x48, 0xcf};

		put_code(e, 0x30000, iretq, sizeof(iretq));
		put_code(e, CODE + 2, (const uint8_t[]){0xf4}, 1);
		assert_int_equal(run(e), CPU_EXIT_HLT);
		assert_int_equal(e->cpu.rip, CODE + 3);
		assert_int_equal(e->cpu.gpr[X86_RSP], STACK);
	}
}

static void test_compat_far_jump(void **state)
{
	struct env *e = *state;
	/* In compatibility mode: ljmp $0x38, $CODE + 7 (into 64-bit mode); then hlt. */
	static const uint8_t code[] = {0xea, 0x07, 0x00, 0x01, 0x00, 0x38, 0x00, 0xf4};

	lm64(e);
	e->cpu.sys.cs = flat(0x08, 0xb, false, true);
	{
		struct x86_cpu_state st;

		cpu_get_state(&e->cpu, &st);
		cpu_set_state(&e->cpu, &st);
	}
	assert_false(e->cpu.mode64);
	put_code(e, CODE, code, sizeof(code));
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_true(e->cpu.mode64);
	assert_int_equal(e->cpu.sys.cs.selector, 0x38);
	assert_int_equal(e->cpu.rip, CODE + 8);
}

static void test_control_register_checks(void **state)
{
	struct env *e = *state;
	static const uint8_t mov_cr0[] = {0x0f, 0x22, 0xc0}; /* mov %eax,%cr0 */
	static const uint8_t mov_cr4[] = {0x0f, 0x22, 0xe0}; /* mov %eax,%cr4 */
	static const uint8_t wrmsr[] = {0x0f, 0x30};

	pm32(e);
	put_code(e, CODE, mov_cr0, sizeof(mov_cr0));
	e->cpu.gpr[X86_RAX] = X86_CR0_PG | X86_CR0_ET; /* PG without PE */
	expect_fault(e, run(e), 13, 0);

	pm32(e);
	put_code(e, CODE, mov_cr4, sizeof(mov_cr4));
	e->cpu.gpr[X86_RAX] = X86_CR4_VME; /* not implemented: reserved */
	expect_fault(e, run(e), 13, 0);

	/* SMEP is offered (the MMU enforces it), SMAP not yet. */
	pm32(e);
	put_code(e, CODE, mov_cr4, sizeof(mov_cr4));
	e->cpu.gpr[X86_RAX] = X86_CR4_SMAP;
	expect_fault(e, run(e), 13, 0);
	pm32(e);
	put_code(e, CODE, mov_cr4, sizeof(mov_cr4));
	put_code(e, CODE + 3, (const uint8_t[]){0xf4}, 1);
	e->cpu.gpr[X86_RAX] = X86_CR4_SMEP;
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_true(e->cpu.sys.cr4 & X86_CR4_SMEP);

	/* PG with EFER.LME but without CR4.PAE. */
	pm32(e);
	put_code(e, CODE, mov_cr0, sizeof(mov_cr0));
	e->cpu.sys.efer = X86_EFER_LME;
	e->cpu.gpr[X86_RAX] = X86_CR0_PG | X86_CR0_PE | X86_CR0_ET;
	expect_fault(e, run(e), 13, 0);

	/* With PAE: long mode becomes active (compatibility mode). */
	pm32(e);
	put_code(e, CODE, mov_cr0, sizeof(mov_cr0));
	put_code(e, CODE + 3, (const uint8_t[]){0xf4}, 1);
	e->cpu.sys.efer = X86_EFER_LME;
	e->cpu.sys.cr4 = X86_CR4_PAE;
	e->cpu.gpr[X86_RAX] = X86_CR0_PG | X86_CR0_PE | X86_CR0_ET;
	assert_int_equal(run(e), CPU_EXIT_HLT);
	assert_true(e->cpu.sys.efer & X86_EFER_LMA);
	assert_false(e->cpu.mode64);

	/* EFER: a reserved bit faults. */
	pm32(e);
	put_code(e, CODE, wrmsr, sizeof(wrmsr));
	e->cpu.gpr[X86_RCX] = 0xc0000080;
	e->cpu.gpr[X86_RAX] = 2;
	expect_fault(e, run(e), 13, 0);
	/* An MSR nobody knows faults too (no engine callback here). */
	pm32(e);
	put_code(e, CODE, wrmsr, sizeof(wrmsr));
	e->cpu.gpr[X86_RCX] = 0x12345;
	expect_fault(e, run(e), 13, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_real_mode_segments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_segment_load_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interrupt_gate32, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_double_and_triple_fault, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_mode_ist, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_compat_far_jump, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_control_register_checks, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
