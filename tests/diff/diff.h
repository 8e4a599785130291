/* tests/diff/diff.h: the differential harness: host CPU vs the soft CPU, case by case. */
#ifndef KITE_TESTS_DIFF_H
#define KITE_TESTS_DIFF_H

#include <stdbool.h>
#include <stdint.h>

/* Both sides use the same addresses: fixed mappings in the native child. */
#define DIFF_DATA_BASE	0x10000000ull
#define DIFF_DATA_SIZE	0x2000u
#define DIFF_CODE_BASE	0x20000000ull
#define DIFF_CODE_SIZE	0x1000u
#define DIFF_CODE_ENTRY (DIFF_CODE_BASE + 0x800)
#define DIFF_CODE_MAX	64 /* bytes of code under test; the rest of the page is INT3 */
#define DIFF_PATCHES	6

/* The x87/SSE state travels as a 64-bit FXSAVE image; bytes from 416 on are unused. */
#define DIFF_FX_SIZE 512
#define DIFF_FX_USED 416

/* The flags a user-mode test can set and compare: CF PF AF ZF SF DF OF. */
#define DIFF_FLAGS_MASK 0xcd5u

/* Layout known to enter.S: gpr[0..15], rflags at 128. */
struct diff_regs {
	uint64_t gpr[16];
	uint64_t rflags;
	uint64_t rip;
};

struct diff_patch {
	uint16_t off; /* into the data area */
	uint8_t len;  /* 1..8 */
	uint64_t val;
};

struct diff_case {
	uint8_t fx[DIFF_FX_SIZE] __attribute__((aligned(16))); /* x87/SSE state in */
	const char *group;
	uint8_t code[DIFF_CODE_MAX];
	unsigned code_len;
	struct diff_regs in;
	uint64_t data_seed;
	struct diff_patch patch[DIFF_PATCHES];
	unsigned nr_patch;
	uint32_t undef_flags; /* flags not compared (ISA-undefined) */
	bool skip;	      /* soft side did not finish: not run natively */
};

/* How one side ended: the exception vector (3 after the trailing INT3). */
struct diff_result {
	uint8_t fx[DIFF_FX_SIZE] __attribute__((aligned(16))); /* x87/SSE state out */
	struct diff_regs out;
	int vector;
	uint64_t error_code;
	uint64_t fault_addr; /* #PF */
	bool done;
	bool unimpl; /* soft side: #UD for an instruction it does not implement */
	uint8_t data[DIFF_DATA_SIZE];
};

/* A clean x87/SSE state: FNINIT, MXCSR 0x1f80, registers zero. */
void diff_fx_default(uint8_t *fx);

/* Fills the data area for a case (seeded contents plus patches). */
void diff_fill_data(const struct diff_case *c, uint8_t *data);

/* native.c: runs cases[0..n) on the host in a forked child. */
int diff_run_native(const struct diff_case *cases, struct diff_result *res, unsigned n);

/* soft.c */
struct diff_soft;
/* bt: 64-bit code runs through the binary translator (exits when the host cannot). */
struct diff_soft *diff_soft_create(bool bt);
void diff_soft_destroy(struct diff_soft *s);
void diff_soft_run(struct diff_soft *s, const struct diff_case *c, struct diff_result *r);
/* Runs c for up to budget instructions; returns how many retired. */
uint64_t diff_soft_bench(struct diff_soft *s, const struct diff_case *c, uint64_t budget);

/* gen.c */
struct diff_rng {
	uint64_t s;
};
uint64_t diff_rand(struct diff_rng *r);
struct diff_group {
	const char *name;
	/* Fills one case; returns false to ask for another draw. */
	bool (*gen)(struct diff_rng *r, struct diff_case *c, const void *arg);
	const void *arg;
	unsigned weight; /* cases per unit of --count */
};
/* All groups; *n receives their number. */
const struct diff_group *diff_groups(unsigned *n);

/* enter.S: loads the x87/SSE state (FXRSTOR64 of fx) and regs, jumps to diff_target. */
void diff_enter(const struct diff_regs *r, const uint8_t *fx) __attribute__((noreturn));
extern uint64_t diff_target;

#endif
