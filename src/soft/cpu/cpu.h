/* soft/cpu/cpu.h: the soft engine's x86-64 CPU core: an interpreter behind a small ops interface.
 */
#ifndef KITE_SOFT_CPU_CPU_H
#define KITE_SOFT_CPU_CPU_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/x86.h"
#include "soft/cpu/fpu.h"
#include "soft/cpu/insn.h"

/*
 * Everything outside the CPU goes through these callbacks; opaque is the
 * engine's per-vCPU context. They run on the vCPU thread, inside cpu_run.
 */
enum cpu_access { CPU_ACCESS_READ, CPU_ACCESS_WRITE, CPU_ACCESS_EXEC, CPU_NR_ACCESS };

struct cpu_xlate {
	/* On success: */
	uint8_t *hva;  /* host address of the 4 KiB page holding la; NULL: not RAM */
	uint64_t gpa;  /* guest-physical address of that page (for MMIO) */
	bool no_cache; /* do not keep this translation in the CPU's TLB */
	bool large;    /* it came from a page larger than 4 KiB */
	/* On failure: the exception to raise (e.g. #PF with its error code). */
	uint8_t vector;
	uint32_t error_code;
};

struct cpu_ops {
	/*
	 * Translates the linear address la for an access of kind acc. Returns 0
	 * with x->hva (RAM) or x->gpa (MMIO) filled, or a negative errno with
	 * x->vector/x->error_code naming the fault (CR2 becomes la). The CPU
	 * caches RAM translations until cpu_tlb_flush().
	 */
	int (*translate)(void *opaque, uint64_t la, enum cpu_access acc, struct cpu_xlate *x);
	/* An access to a guest-physical address that is not RAM. len is 1..8. */
	void (*mmio)(void *opaque, uint64_t gpa, uint8_t *data, unsigned len, bool is_write);
	/* Port I/O, already permission-checked. len is 1, 2 or 4. */
	void (*pio)(void *opaque, uint16_t port, uint8_t *data, unsigned len, bool is_write);
	/* CPUID leaf/subleaf -> eax, ebx, ecx, edx. */
	void (*cpuid)(void *opaque, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
	uint64_t (*rdtsc)(void *opaque);
	/*
	 * RDMSR/WRMSR of an MSR the core does not hold itself (see cpu_msrs):
	 * return 0, or -1 for the #GP(0) hardware raises for an unknown MSR or
	 * a bad value. Either may be NULL: every such MSR then faults.
	 */
	int (*rdmsr)(void *opaque, uint32_t msr, uint64_t *val);
	int (*wrmsr)(void *opaque, uint32_t msr, uint64_t val);
	/*
	 * CR8 is the local APIC's TPR[7:4]: reads or writes the TPR and returns
	 * 0, or -1 when there is no enabled local APIC (CR8 is then the CPU's
	 * own register). May be NULL.
	 */
	int (*tpr)(void *opaque, bool is_write, uint8_t *tpr);
	/*
	 * A KVM hypercall from ring 0 other than KVM_HC_VAPIC_POLL_IRQ: nr and
	 * the arguments (RBX, RCX, RDX, RSI; already cut to 32 bits outside
	 * 64-bit mode). Returns what goes back in RAX, -KVM_ENOSYS for a number
	 * it does not know. May be NULL: every such number is then unknown.
	 */
	int64_t (*hypercall)(void *opaque, uint64_t nr, const uint64_t a[4], bool mode64);
};

/* KVM's hypercall numbers and errors (Linux, include/uapi/linux/kvm_para.h). */
#define KVM_HC_VAPIC_POLL_IRQ 1
#define KVM_HC_SEND_IPI	      10
#define KVM_ENOSYS	      1000
#define KVM_EINVAL	      22
#define KVM_EPERM	      1

/* Why cpu_run/cpu_step returned. */
enum cpu_exit {
	CPU_EXIT_NONE,	      /* instruction budget used up */
	CPU_EXIT_EXCEPTION,   /* cpu->exc holds it; state is as the ISA leaves it */
	CPU_EXIT_HLT,	      /* HLT retired: RIP is past it; wait for an interrupt */
	CPU_EXIT_REQUEST,     /* cpu_request_exit() was called */
	CPU_EXIT_UNSUPPORTED, /* a CPU mode this core does not execute (virtual-8086) */
	CPU_EXIT_PAUSE,	      /* a spin-wait loop (PAUSE) went on (only with pause_exits) */
};

enum cpu_exc_kind {
	CPU_EXC_FAULT, /* RIP at the faulting instruction */
	CPU_EXC_TRAP,  /* RIP after the instruction (#BP from INT3, #DB traps) */
	CPU_EXC_SOFT,  /* INT n: RIP after; the IDT gate's DPL must be checked */
};

struct cpu_exception {
	uint8_t vector;
	uint8_t kind; /* enum cpu_exc_kind */
	bool has_error;
	uint32_t error_code;
	uint64_t cr2;	    /* the faulting linear address for #PF */
	bool unimplemented; /* #UD for a valid instruction this core lacks */
};

/*
 * Entries per access kind and privilege, direct-mapped by page; each has a
 * victim beside it, CPU_TLB_SIZE entries further on, where a fill moves
 * the page it evicts (two hot pages of one index no longer evict each
 * other on every access).
 */
#define CPU_TLB_SIZE 256

struct cpu_tlb_entry {
	uint64_t tag;  /* page-aligned linear address, or 1 when empty */
	uint64_t ntag; /* -(tag >> 12), or 1 when empty: translated code adds a page number to it */
	uintptr_t addend; /* host address of the page - tag: la + addend is la's host address */
	_Atomic uint32_t *code; /* the page's slot in the code map (struct cpu_code_map) */
	bool large;		/* derived from a 2 MiB/4 MiB/1 GiB page */
};

/* Lazy arithmetic flags: the last flag-setting operation, expanded on demand. */
struct cpu_lazy {
	uint64_t res, a, b;
	uint8_t op; /* enum in flags.c; 0: rflags holds the flags */
	uint8_t size;
};

struct cpu_block;
struct cpu_blk_slot;

/*
 * Which pages of guest RAM hold code the CPUs decoded, shared by all vCPUs
 * of a VM (one may write another's code). One generation counter per 4 KiB
 * host page, odd while decoded blocks depend on the page: a CPU store to an
 * odd page bumps it, which retires every block decoded from it.
 */
#define CPU_CODE_MAP_CPUS 64
struct cpu;
struct cpu_code_map {
	uintptr_t base; /* host address of page 0 */
	uint64_t mask;	/* entries - 1; pages beyond alias (over-invalidation only) */
	/*
	 * Bumped whenever a page holding decoded code is written; the CPUs
	 * sharing the map are told at once (translated code runs in chains
	 * that no lookup revalidates until it leaves them).
	 */
	_Atomic uint32_t writes;
	_Atomic(struct cpu *) cpus[CPU_CODE_MAP_CPUS];
	_Atomic uint32_t gen[];
};

/*
 * A map over the host range [ram, ram + size) (one slot per page, at most
 * CPU_CODE_MAP_MAX, aliasing above that). NULL on allocation failure.
 */
#define CPU_CODE_MAP_MAX (1u << 22)
struct cpu_code_map *cpu_code_map_create(const void *ram, uint64_t size);
void cpu_code_map_destroy(struct cpu_code_map *m);

/*
 * Something other than a CPU (device DMA, the loader) wrote guest RAM at
 * host range [hva, hva + len): decoded code from those pages is retired.
 */
void cpu_code_map_written(struct cpu_code_map *m, const void *hva, uint64_t len);

/* The MSRs the core keeps itself (EFER, FS/GS base and APIC base live in sys). */
struct cpu_msrs {
	uint64_t star, lstar, cstar, fmask, kernel_gs_base, tsc_aux;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t pat;
};

/* Jump-cache sets (two ways each): 256 KiB, in the L2 cache. */
#define CPU_BT_JC_BITS 13

struct cpu {
	/* Hot architectural state. */
	uint64_t gpr[X86_NR_GPRS];
	uint64_t rip;
	uint64_t rflags; /* arithmetic bits are stale while lf.op != 0 */
	struct cpu_lazy lf;
	/* Segments, descriptor tables and control registers (gpr/rip/rflags in here are unused). */
	struct x86_cpu_state sys;
	unsigned cpl;
	bool mode64;
	/*
	 * After STI, MOV SS, POP SS: interrupts and NMIs held off for one
	 * instruction. Translated code chains past the block such an
	 * instruction ends without clearing it: a stale shadow only delays an
	 * event by one instruction, while clearing it at the block's end let
	 * a kick leave at the next block's entry check, unshadowed, before the
	 * shadowed instruction ran.
	 */
	bool intr_shadow;
	bool nmi_blocked; /* an NMI handler runs: NMIs wait for the next IRET */
	/*
	 * Set while the core makes an implicit supervisor access (descriptor
	 * tables, TSS, IDT): translate must check it as CPL 0 whatever cpl is.
	 */
	bool implicit_sv;
	uint8_t mode;	  /* enum x86_mode the current code decodes in */
	uint8_t seg_limited; /* bit per enum x86_seg whose limit can fail an access (not 64-bit mode) */
	/* Segment bases by enum x86_seg as addressing uses them (ES, CS, SS, DS: 0 in 64-bit mode). */
	uint64_t seg_base[6];
	uint64_t dr[8]; /* debug registers (soft/cpu/debug.c; DR4/DR5 alias DR6/DR7) */
	uint8_t dbg_watch;   /* bit n: DR7 enables DRn as a data breakpoint (its pages stay out of the TLB) */
	uint8_t dbg_hits;    /* B0-B3: data or I/O breakpoints the current instruction matched */
	uint8_t dbg_pending; /* B0-B3 matched by a MOV SS/POP SS: reported after the next instruction */
	bool ss_shadow;	     /* the interrupt shadow is MOV SS/POP SS's, which holds off #DB too */
	struct cpu_msrs msr;

	struct cpu_exception exc;
	uint64_t insns; /* retired instructions */
	unsigned pauses;  /* PAUSEs since the last CPU_EXIT_PAUSE */
	bool pause_exits; /* the engine wants CPU_EXIT_PAUSE (other vCPUs may need the core) */
	atomic_bool exit_request;
	/*
	 * Set by the engine while an interrupt waits for RFLAGS.IF: only then
	 * does an instruction that sets IF end the batch to let it in.
	 */
	atomic_bool irq_pending;
	/* The engine holds an NMI back until nmi_blocked clears (IRET ends the batch then). */
	atomic_bool nmi_pending;

	const struct cpu_ops *ops;
	void *opaque;

	/* Per-instruction scratch. */
	uint64_t next_rip;
	int pending_exit;     /* enum cpu_exit to return after this instruction */
	uint64_t fault_flags; /* RFLAGS to report if this instruction faults */
	bool fault_flags_valid;
	jmp_buf fault_jmp;

	/*
	 * TLBs for user (CPL 3) and supervisor accesses, so privilege changes
	 * flush nothing; tlb points at the set the current CPL uses.
	 */
	struct cpu_tlb_entry (*tlb)[2 * CPU_TLB_SIZE];
	struct cpu_tlb_entry tlb_set[2][CPU_NR_ACCESS][2 * CPU_TLB_SIZE];
	bool tlb_large; /* some entry came from a large page (INVLPG must look wider) */
	uint32_t tlb_gen; /* bumped by every flush: blocks checked since need no TLB look */

	/* Decoded basic blocks (cpu.c, block.c). */
	struct cpu_code_map *code_map;
	struct cpu_code_map *own_code_map; /* when no map is shared (cpu_init's default) */
	struct cpu_blk_slot *blk_tab;
	uint8_t *blk_arena;
	size_t blk_used;
	uint32_t blk_epoch; /* bumped by a full flush: older slots are empty */
	uint32_t blk_tag;   /* epoch, privilege and decoding mode that slots must match */
	struct cpu_block *blk_one;	 /* scratch for an instruction run undecoded */
	const struct cpu_block *blk_cur; /* the block executing, for fault accounting */
	uint64_t blk_rip;		 /* RIP of its first instruction */
	uint64_t exc_rip;		 /* RIP of the instruction that raised exc */
	uint64_t soft_int_rip;		 /* RIP of the INT n, INT3 or INTO being delivered */

	/* x87, MMX and SSE state (soft/cpu/fpu.h). */
	struct cpu_fpu fpu;

	/*
	 * The binary translator (soft/bt/bt.h); NULL runs the interpreter only.
	 * The fields after it are what translated code reaches through %gs,
	 * whose base is this struct on the vCPU thread while it runs.
	 */
	struct bt *bt;
	uint64_t bt_spill[16];	 /* host registers saved around inline code, by number */
	uint64_t bt_flags;	 /* host RFLAGS image (arithmetic bits) into and out of it */
	/*
	 * Instructions translated code may still start, less a margin. A
	 * block leaves when it is negative; wanting the vCPU sets bit 63 too
	 * (cpu_bt_attention), so that one test sees both.
	 */
	_Atomic int64_t bt_left;
	int64_t bt_left0;	  /* bt_left when it was entered */
	_Atomic uint32_t bt_attn; /* nonzero: leave translated code at the next block */
	uint32_t bt_exit;	 /* the exit taken (0: none), for chaining blocks */
	uint64_t bt_key;	 /* a jump-cache key's high bits now: its generation, user mode */
	uint32_t bt_jc_gen;	 /* moves on when the TLB generation or the block tag does */
	uint32_t bt_jc_tlb_gen, bt_jc_tag; /* what it was last moved on for */
	uint64_t bt_target;	 /* an indirect branch's target */
	uint64_t bt_jmp;	 /* where an indirect jump goes */
	uint64_t bt_host_rsp;	 /* the host stack while translated code runs */
	uint64_t bt_helper_rsp;	 /* ... when the helper stub aligned it for C */
	uintptr_t bt_ret_miss;	 /* the bottom of the return stack (a stub's address) */
	struct cpu *bt_self;
	uint32_t bt_writes_seen; /* code_map->writes when the jump cache was last cleared */
	uint32_t bt_host_mxcsr;	 /* the host thread's MXCSR, restored after guest SSE arithmetic */
	const void *bt_cur;	 /* the instruction a helper runs, for fault accounting */
	/* Branch targets the lookup stub finds without leaving translated code (soft/bt). */
	struct cpu_bt_jc {
		uint64_t key;	 /* bt_jc_key(): the address, the generation, user mode */
		uintptr_t entry; /* the translation's code */
	} bt_jc[2u << CPU_BT_JC_BITS];
};

/*
 * Initialises cpu (zeroed registers, 64-bit mode flat segments, CPL 0) and
 * allocates its decoded-block cache, with a private code map that hashes
 * host pages. Returns 0 or -ENOMEM.
 */
int cpu_init(struct cpu *cpu, const struct cpu_ops *ops, void *opaque);
void cpu_destroy(struct cpu *cpu);

/*
 * Makes cpu run 64-bit code through the binary translator (soft/bt) with a
 * code cache of cache_size bytes; the interpreter keeps everything else.
 * Returns 0, -ENOTSUP on a host the translator cannot use, or -ENOMEM.
 */
int cpu_use_translator(struct cpu *cpu, size_t cache_size);

/*
 * Makes cpu track code through m, shared with the other vCPUs of its VM
 * (m outlives cpu). Call before cpu_run; drops the decoded blocks.
 */
void cpu_set_code_map(struct cpu *cpu, struct cpu_code_map *m);

/*
 * Loads/stores the architectural state (flags materialised). Loading also
 * drops decoded blocks: callers may have rewritten code behind the CPU.
 */
void cpu_set_state(struct cpu *cpu, const struct x86_cpu_state *st);
void cpu_get_state(struct cpu *cpu, struct x86_cpu_state *st);

/* RFLAGS with the lazy arithmetic flags expanded, and its setter. */
uint64_t cpu_get_rflags(struct cpu *cpu);
void cpu_set_rflags(struct cpu *cpu, uint64_t rflags);

/*
 * Executes at most max_insns instructions (a REP string instruction may
 * stop part way and count as one). Returns an enum cpu_exit.
 */
int cpu_run(struct cpu *cpu, uint64_t max_insns);

/* Executes one instruction: cpu_run(cpu, 1). */
int cpu_step(struct cpu *cpu);

/* Makes translated code leave for the dispatcher at its next block; any thread. */
void cpu_bt_attention(struct cpu *cpu);

/* Makes a running cpu_run return CPU_EXIT_REQUEST soon; any thread. */
void cpu_request_exit(struct cpu *cpu);

/*
 * Delivers external interrupt vector through the IDT as the current mode does
 * it (real-mode IVT, protected-mode or long-mode gates, privilege change,
 * IST), as if between instructions. Returns 0, or -1 when delivery itself
 * faulted all the way to a triple fault (the engine shuts the VM down).
 * The caller has checked RFLAGS.IF and the interrupt shadow.
 */
int cpu_interrupt(struct cpu *cpu, uint8_t vector);

/*
 * Delivers an NMI through IDT vector 2 unless one is being handled (until the
 * next IRET). Returns 1 when it must stay pending, 0 when delivered, -1 on a
 * triple fault. The caller checks nothing else: NMIs ignore RFLAGS.IF.
 */
int cpu_nmi(struct cpu *cpu);

/*
 * Delivers cpu->exc (after cpu_run returned CPU_EXIT_EXCEPTION) through the
 * IDT, with its error code and CR2, escalating a fault during delivery to #DF
 * and a fault during #DF to a triple fault. Returns 0, or -1 on triple fault.
 */
int cpu_deliver_exception(struct cpu *cpu);

/* Drops cached translations (CR3 write, memory map change). */
void cpu_tlb_flush(struct cpu *cpu);
/*
 * Caches the translations of [la, la + len) for acc at the current
 * privilege as an access would (pages that do not translate are left
 * out; nothing is raised). The differential test uses it so that
 * translated code's inline TLB hits are compared too, not only misses.
 */
void cpu_tlb_warm(struct cpu *cpu, uint64_t la, uint64_t len, enum cpu_access acc);
/* Drops the translations of the page holding la (INVLPG), large pages included. */
void cpu_tlb_flush_page(struct cpu *cpu, uint64_t la);

/*
 * Feature bits this core executes beyond the x86-64 baseline, for the
 * engine's CPUID: CPUID.1:ECX CX16 (CMPXCHG16B: without it Linux's SLUB
 * emulates it with interrupts off), MOVBE and POPCNT; CPUID.80000001:ECX
 * LAHF-SAHF and ABM (LZCNT). F3 0F BC executes as TZCNT, but BMI1 must stay clear until
 * the VEX-encoded BMI1 instructions exist; compilers only emit it ("rep bsf")
 * where TZCNT and BSF agree.
 */
#define CPU_FEAT_1_ECX	      ((1u << 13) | (1u << 22) | (1u << 23))
#define CPU_FEAT_80000001_ECX ((1u << 0) | (1u << 5))
/*
 * System features: CPUID.1:EDX VME-less DE, PSE, TSC, MSR, PAE, CX8, SEP
 * (SYSENTER/SYSEXIT), PGE, CMOV, PAT, CLFSH; CPUID.80000001:EDX SYSCALL, NX,
 * RDTSCP, LM.
 */
#define CPU_FEAT_1_EDX                                                                             \
	((1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 11) |      \
	 (1u << 13) | (1u << 15) | (1u << 16) | (1u << 19))
#define CPU_FEAT_80000001_EDX ((1u << 11) | (1u << 20) | (1u << 27) | (1u << 29))

#endif
