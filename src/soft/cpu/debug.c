/* soft/cpu/debug.c: the debug registers: breakpoint matching and what DR6 reports (SDM vol. 3, ch. 18). */
#include "soft/cpu/internal.h"

enum { DR_RW_EXEC, DR_RW_WRITE, DR_RW_IO, DR_RW_ACCESS };

static unsigned dr_rw(const struct cpu *c, unsigned n)
{
	return (c->dr[7] >> (16 + 4 * n)) & 3;
}

static bool dr_enabled(const struct cpu *c, unsigned n)
{
	return (c->dr[7] >> (2 * n)) & 3;
}

/*
 * Whether [a, a + n) overlaps breakpoint i: its address aligned down to
 * its length (LEN 00, 01, 11, 10: 1, 2, 4, 8 bytes), as the CPU compares.
 */
static bool dr_overlaps(const struct cpu *c, unsigned i, uint64_t a, uint64_t n)
{
	static const uint8_t len_of[4] = {1, 2, 8, 4};
	uint64_t len = len_of[(c->dr[7] >> (18 + 4 * i)) & 3];
	uint64_t lo = c->dr[i] & ~(len - 1);

	return a <= lo + (len - 1) && lo <= a + (n - 1);
}

/* Whether breakpoint i watches accesses of kind acc (a read-modify-write counts as a write). */
static bool dr_watches(const struct cpu *c, unsigned i, enum cpu_access acc)
{
	return (c->dbg_watch >> i & 1) && (acc == CPU_ACCESS_WRITE || dr_rw(c, i) == DR_RW_ACCESS);
}

void cpu_debug_update(struct cpu *c)
{
	uint8_t watch = 0;

	for (unsigned i = 0; i < 4; i++)
		if (dr_enabled(c, i) && (dr_rw(c, i) == DR_RW_WRITE || dr_rw(c, i) == DR_RW_ACCESS))
			watch |= 1u << i;
	c->dbg_watch = watch;
	/*
	 * Watched pages now stay out of the TLB, so every access to them takes
	 * the slow path that matches it; this also ends the block, and the
	 * run loop then picks the one that checks breakpoints.
	 */
	cpu_tlb_flush(c);
}

bool dbg_page_watched(const struct cpu *c, uint64_t page, enum cpu_access acc)
{
	if (acc == CPU_ACCESS_EXEC)
		return false;
	for (unsigned i = 0; i < 4; i++)
		if (dr_watches(c, i, acc) && dr_overlaps(c, i, page, 4096))
			return true;
	return false;
}

void dbg_watch_check(struct cpu *c, uint64_t la, unsigned n, enum cpu_access acc)
{
	if (acc == CPU_ACCESS_EXEC)
		return;
	for (unsigned i = 0; i < 4; i++)
		if (dr_watches(c, i, acc) && dr_overlaps(c, i, la, n))
			c->dbg_hits |= (uint8_t)(1u << i);
}

void dbg_io_check(struct cpu *c, uint16_t port, unsigned n)
{
	/* R/W = 10 means an I/O breakpoint only with CR4.DE; without it, nothing matches. */
	if (!(c->sys.cr4 & X86_CR4_DE))
		return;
	for (unsigned i = 0; i < 4; i++)
		if (dr_enabled(c, i) && dr_rw(c, i) == DR_RW_IO && dr_overlaps(c, i, port, n))
			c->dbg_hits |= (uint8_t)(1u << i);
}

unsigned dbg_code_match(const struct cpu *c, uint64_t la)
{
	unsigned bits = 0;

	for (unsigned i = 0; i < 4; i++)
		if (dr_enabled(c, i) && dr_rw(c, i) == DR_RW_EXEC && dr_overlaps(c, i, la, 1))
			bits |= 1u << i;
	return bits;
}

void dbg_report(struct cpu *c, uint32_t bits)
{
	/*
	 * Every #DB rewrites B0-B3 with the breakpoints that matched; BD, BS
	 * and the rest are only ever set, software clears them. What a MOV SS
	 * held back goes with this one.
	 */
	bits |= c->dbg_pending;
	c->dbg_pending = 0;
	c->dr[6] = (c->dr[6] & ~(uint64_t)DR6_B_MASK) | bits;
}

void exec_icebp(struct cpu *c, const struct x86_insn *in)
{
	(void)in;
	/* Unlike INT 1, INT1 delivers like a hardware #DB: no gate DPL check, EXT set. */
	dbg_report(c, 0);
	cpu_raise_trap(c, VEC_DB, CPU_EXC_TRAP);
}
