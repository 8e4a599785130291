/* tests/diff/soft.c: runs a test case in the soft CPU over an identity map of the code and data
 * pages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "soft/cpu/cpu.h"
#include "soft/soft.h"

#define SOFT_BUDGET 100000

struct diff_soft {
	struct cpu cpu;
	uint8_t data[DIFF_DATA_SIZE] __attribute__((aligned(4096)));
	uint8_t code[DIFF_CODE_SIZE] __attribute__((aligned(4096)));
	/*
	 * Every other case starts with the data pages in the TLB, so that
	 * translated code takes its inline hits as well as its misses.
	 */
	bool warm;
};

/* The host's user-mode page protections: data RW (no exec), code RWX, nothing else. */
static int soft_translate(void *opaque, uint64_t la, enum cpu_access acc, struct cpu_xlate *x)
{
	struct diff_soft *s = opaque;

	if (la >= DIFF_DATA_BASE && la < DIFF_DATA_BASE + DIFF_DATA_SIZE &&
	    acc != CPU_ACCESS_EXEC) {
		x->hva = s->data + (la - DIFF_DATA_BASE);
		return 0;
	}
	if (la >= DIFF_CODE_BASE && la < DIFF_CODE_BASE + DIFF_CODE_SIZE) {
		x->hva = s->code + (la - DIFF_CODE_BASE);
		return 0;
	}
	x->vector = 14;
	x->error_code = 4 | (acc == CPU_ACCESS_WRITE ? 2 : 0) | (acc == CPU_ACCESS_EXEC ? 16 : 0);
	return -EFAULT;
}

static void soft_mmio(void *opaque, uint64_t gpa, uint8_t *data, unsigned len, bool is_write)
{
	(void)opaque;
	(void)gpa;
	if (!is_write)
		memset(data, 0xff, len);
}

static void soft_pio(void *opaque, uint16_t port, uint8_t *data, unsigned len, bool is_write)
{
	(void)opaque;
	(void)port;
	if (!is_write)
		memset(data, 0xff, len);
}

/* The soft engine's CPU model, as a one-vCPU guest sees it. */
static void diff_cpuid(void *opaque, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	(void)opaque;
	soft_cpuid(0, 1, leaf, sub, out);
}

static uint64_t soft_rdtsc(void *opaque)
{
	(void)opaque;
	return 0;
}

static const struct cpu_ops soft_ops = {
    .translate = soft_translate,
    .mmio = soft_mmio,
    .pio = soft_pio,
    .cpuid = diff_cpuid,
    .rdtsc = soft_rdtsc,
};

struct diff_soft *diff_soft_create(bool bt)
{
	struct diff_soft *s = aligned_alloc(4096, sizeof(*s));
	int rc;

	if (!s)
		return NULL;
	if (cpu_init(&s->cpu, &soft_ops, s)) {
		free(s);
		return NULL;
	}
	rc = bt ? cpu_use_translator(&s->cpu, 4u << 20) : 0;
	if (rc < 0) {
		fprintf(stderr, "diff: the translator: %s\n", strerror(-rc));
		diff_soft_destroy(s);
		return NULL;
	}
	return s;
}

void diff_soft_destroy(struct diff_soft *s)
{
	cpu_destroy(&s->cpu);
	free(s);
}

static void soft_run(struct diff_soft *s, const struct diff_case *c, struct diff_result *r,
		     uint64_t budget)
{
	struct x86_cpu_state st;
	int rc;

	memset(s->code, 0xcc, sizeof(s->code));
	memcpy(s->code + (DIFF_CODE_ENTRY - DIFF_CODE_BASE), c->code, c->code_len);
	diff_fill_data(c, s->data);

	memset(&st, 0, sizeof(st));
	memcpy(st.gpr, c->in.gpr, sizeof(st.gpr));
	st.rip = DIFF_CODE_ENTRY;
	/* User mode as the host runs the native side: IF set, IOPL 0. */
	st.rflags = c->in.rflags | X86_RFLAGS_FIXED | X86_RFLAGS_IF;
	st.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_SCE | X86_EFER_NXE;
	/* Linux's user mode: eager FPU (no TS), native x87 errors, FXSR and #XM on. */
	st.cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE;
	st.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	st.cs = (struct x86_segment){
	    .selector = 0x33, .l = 1, .present = 1, .s = 1, .type = 11, .dpl = 3};
	st.ss = (struct x86_segment){.selector = 0x2b, .present = 1, .s = 1, .type = 3, .dpl = 3};
	st.gs.base = DIFF_DATA_BASE;
	cpu_set_state(&s->cpu, &st);
	s->warm = !s->warm;
	if (s->warm) {
		cpu_tlb_warm(&s->cpu, DIFF_DATA_BASE, DIFF_DATA_SIZE, CPU_ACCESS_READ);
		cpu_tlb_warm(&s->cpu, DIFF_DATA_BASE, DIFF_DATA_SIZE, CPU_ACCESS_WRITE);
	}
	/* The generators only make images with valid MXCSRs. */
	cpu_fpu_load(&s->cpu.fpu, c->fx);

	rc = cpu_run(&s->cpu, budget);
	memcpy(r->out.gpr, s->cpu.gpr, sizeof(r->out.gpr));
	r->out.rip = s->cpu.rip;
	r->out.rflags = cpu_get_rflags(&s->cpu);
	r->done = rc == CPU_EXIT_EXCEPTION;
	r->vector = rc == CPU_EXIT_EXCEPTION ? s->cpu.exc.vector : -1;
	r->error_code = s->cpu.exc.error_code;
	r->fault_addr = s->cpu.exc.cr2;
	r->unimpl = rc == CPU_EXIT_EXCEPTION && s->cpu.exc.unimplemented;
	cpu_fpu_save(&s->cpu.fpu, r->fx);
	memcpy(r->data, s->data, DIFF_DATA_SIZE);
}

void diff_soft_run(struct diff_soft *s, const struct diff_case *c, struct diff_result *r)
{
	soft_run(s, c, r, SOFT_BUDGET);
}

uint64_t diff_soft_bench(struct diff_soft *s, const struct diff_case *c, uint64_t budget)
{
	struct diff_result *r = malloc(sizeof(*r));
	uint64_t before = s->cpu.insns;

	if (!r)
		return 0;
	soft_run(s, c, r, budget);
	free(r);
	return s->cpu.insns - before;
}
