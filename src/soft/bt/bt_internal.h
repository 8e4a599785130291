/* soft/bt/bt_internal.h: what bt.c and translate.c share (not an API). */
#ifndef KITE_SOFT_BT_BT_INTERNAL_H
#define KITE_SOFT_BT_BT_INTERNAL_H

#include <assert.h>
#include <stddef.h>
#include <stdio.h>

#include "soft/bt/bt.h"
#include "soft/bt/emit.h"
#include "soft/cpu/internal.h"

/* The vCPU context as translated code addresses it (%gs base = the cpu). */
#define OFF(f)	 ((int32_t)offsetof(struct cpu, f))
#define GPR(r)	 (OFF(gpr) + 8 * (int32_t)(r))
#define SPILL(r) (OFF(bt_spill) + 8 * (int32_t)(r))
/* The LAHF/SETO image of the guest flags while inline code needs them kept. */
#define SFLAGS (OFF(bt_spill) + 8 * RSP)

#define BT_BLOCK_INSNS 64
#define BT_TAB_SIZE    (1u << 16)
#define BT_JC_BITS     CPU_BT_JC_BITS
/* Jump cache set of la: the top bits of a multiplicative hash (the lookup stub's too). */
#define BT_JC_MUL 0xff51afd7ed558ccdull
static inline unsigned bt_jc_set(uint64_t la)
{
	return (unsigned)((la * BT_JC_MUL) >> (64 - BT_JC_BITS));
}
/*
 * An entry's key: the 48 significant bits of la, and cpu->bt_key (the
 * generation in bits 48-62, user mode in 63). The generation stops short
 * of 0x7fff, so the all-ones key of an empty entry matches nothing.
 */
#define BT_JC_GENS  0x7fffu
#define BT_JC_EMPTY UINT64_MAX
static inline uint64_t bt_jc_key(uint64_t la, uint64_t key)
{
	return (la & 0xffffffffffffull) | key;
}
/* bt_left is kept this far below the true budget: a block runs this many instructions unchecked. */
#define BT_MARGIN 64
/* With fewer instructions than this left, the interpreter finishes the batch exactly. */
#define BT_MIN_RUN 512
/*
 * At most this many instructions per stay in translated code: each CALL
 * may leave 8 bytes on the host stack until the stay ends (512 KiB).
 */
#define BT_MAX_RUN 65536
/*
 * A block that starts this far into its page or further may run on into
 * the next (its first instruction may cross). Such a block is never a
 * chained jump's target: exits go to it through the jump cache, which
 * forgets it when either page changes.
 */
#define BT_PAGE_TAIL (4096u - X86_INSN_MAX_LEN + 1)
/* Room a block may need in the cache and beside it (64 instructions at their longest). */
#define BT_BLOCK_SPACE (64u << 10)
#define BT_META_SPACE  (16u << 10)
#define BT_STUB_SPACE  (4u << 10)

/* One guest instruction of a block, for the interpreter when it runs it. */
struct bt_meta {
	struct x86_insn in;
	exec_fn fn;
	uint64_t rip;
	uint16_t idx;	/* its index in the block */
	uint16_t n;	/* the block's instruction count */
	uint16_t check; /* index of the instruction the block's budget check precedes */
};

/* A translation. */
struct bt_block {
	uint64_t la;
	uintptr_t entry; /* its code, in the executable view */
	uintptr_t entry_lent; /* past the spills of the registers it borrows */
	uint32_t borrowed;
	uint32_t tag;	 /* cpu->blk_tag it was translated under */
	uint32_t gen;	 /* its page's code generation then */
	uint32_t tlb_gen;
	uint16_t n, bytes;
	const uint8_t *page;
	_Atomic uint32_t *code;
	uint64_t hash;
	/* NULL, or the next page's, when the block runs on into it (see BT_PAGE_TAIL). */
	const uint8_t *page2;
	_Atomic uint32_t *code2;
	uint32_t gen2;
};
static_assert(sizeof(((struct cpu *)0)->bt_jc) == 32u << BT_JC_BITS, "the jump cache's size");
static_assert(sizeof(struct cpu_bt_jc) == 16 && offsetof(struct cpu_bt_jc, key) == 0 &&
		  offsetof(struct cpu_bt_jc, entry) == 8,
	      "the lookup stub's offsets");

/* A direct exit of a block, patched to jump to its target's block once known. */
struct bt_exit {
	struct bt_block *from;
	uint64_t target; /* the guest RIP it leaves for */
	uint32_t patch; /* cache offset of the jmp's rel32; 0: never chained */
	/*
	 * 0, or the rel32 of a jmp before the borrowed registers are given
	 * back: a block that borrows the same ones is entered past its spills.
	 */
	uint32_t patch_lent;
};

struct bt_slot {
	uint32_t epoch;
	struct bt_block *b;
};

/* Host instructions guest ones may be copied to. */
struct host_feat {
	bool popcnt, lzcnt, tzcnt;
};
void bt_host_features(struct host_feat *f);

/*
 * What translations of SSE instructions assumed: SSE enabled (CR0.EM and
 * TS clear, CR4.OSFXSR set) and every MXCSR exception masked.
 */
#define BT_SSE_ON     1u
#define BT_SSE_MASKED 2u
static inline unsigned bt_sse_state(const struct cpu *c)
{
	unsigned s = 0;

	if (!(c->sys.cr0 & (X86_CR0_EM | X86_CR0_TS)) && (c->sys.cr4 & X86_CR4_OSFXSR))
		s |= BT_SSE_ON;
	if ((c->fpu.mxcsr & 0x1f80) == 0x1f80)
		s |= BT_SSE_MASKED;
	return s;
}

struct bt {
	struct host_feat feat;
	unsigned sse_state; /* bt_sse_state() the translations were made under */
	uint8_t *rw, *rx; /* the cache's two views */
	size_t size, used, stubs_end;
	uint8_t *meta; /* bt_meta, bt_block, bt_exit records */
	size_t meta_size, meta_used;
	struct bt_slot *tab;
	uint32_t epoch;
	uint32_t stub_enter, stub_exit, stub_exit_tail, stub_helper, stub_lookup, stub_ret_miss;
	struct bt_stats st;
	FILE *perf_map; /* KITE_PERF_MAP: names for perf (/tmp/perf-PID.map) */
};

/* Restores the guest flags from SFLAGS (guest RAX must be in SPILL(RAX)). */
static inline void e_flags_restore(struct emit *e)
{
	e_ld(e, RAX, SFLAGS);
	b1(e, 0x04); /* add al, 0x7f: OF again */
	b1(e, 0x7f);
	b1(e, 0x9e); /* sahf */
	e_ld(e, RAX, SPILL(RAX));
}

/* Saves them there, with guest RAX in SPILL(RAX); RAX holds the image after. */
static inline void e_flags_save_clobber(struct emit *e)
{
	e_st(e, SPILL(RAX), RAX);
	b1(e, 0x9f); /* lahf */
	b1(e, 0x0f); /* seto al */
	b1(e, 0x90);
	b1(e, 0xc0);
	e_st(e, SFLAGS, RAX);
}

/* The same, leaving RAX as it was. */
static inline void e_flags_save(struct emit *e)
{
	e_flags_save_clobber(e);
	e_ld(e, RAX, SPILL(RAX));
}

/*
 * The same, with RAX back from register spare rather than from memory: what
 * reads RAX next does not wait for a store and a load.
 */
static inline void e_flags_save_via(struct emit *e, unsigned spare)
{
	e_mov(e, spare, RAX);
	e_flags_save_clobber(e);
	e_mov(e, RAX, spare);
}

int bt_helper(struct cpu *c, const struct bt_meta *m);
void *bt_meta_alloc(struct bt *bt, size_t n);
struct bt_block *bt_translate(struct cpu *c, uint64_t la, const uint8_t *page);
uint64_t bt_now_ns(void);

#endif
