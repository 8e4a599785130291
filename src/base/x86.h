/* base/x86.h: architectural x86-64 constants and the engine-neutral vCPU state. */
#ifndef KITE_BASE_X86_H
#define KITE_BASE_X86_H

#include <stdint.h>

#define X86_CR0_PE (1u << 0)
#define X86_CR0_MP (1u << 1)
#define X86_CR0_EM (1u << 2)
#define X86_CR0_TS (1u << 3)
#define X86_CR0_ET (1u << 4)
#define X86_CR0_NE (1u << 5)
#define X86_CR0_WP (1u << 16)
#define X86_CR0_AM (1u << 18)
#define X86_CR0_NW (1u << 29)
#define X86_CR0_CD (1u << 30)
#define X86_CR0_PG (1u << 31)

#define X86_CR4_VME (1u << 0)
#define X86_CR4_PVI (1u << 1)
#define X86_CR4_TSD (1u << 2)
#define X86_CR4_DE (1u << 3)
#define X86_CR4_PSE (1u << 4)
#define X86_CR4_PAE (1u << 5)
#define X86_CR4_MCE (1u << 6)
#define X86_CR4_PGE (1u << 7)
#define X86_CR4_PCE (1u << 8)
#define X86_CR4_OSFXSR (1u << 9)
#define X86_CR4_OSXMMEXCPT (1u << 10)
#define X86_CR4_UMIP (1u << 11)
#define X86_CR4_FSGSBASE (1u << 16)
#define X86_CR4_PCIDE (1u << 17)
#define X86_CR4_OSXSAVE (1u << 18)
#define X86_CR4_SMEP (1u << 20)
#define X86_CR4_SMAP (1u << 21)

#define X86_EFER_SCE (1u << 0)
#define X86_EFER_LME (1u << 8)
#define X86_EFER_LMA (1u << 10)
#define X86_EFER_NXE (1u << 11)

#define X86_RFLAGS_CF (1u << 0)
#define X86_RFLAGS_FIXED (1u << 1)
#define X86_RFLAGS_PF (1u << 2)
#define X86_RFLAGS_AF (1u << 4)
#define X86_RFLAGS_ZF (1u << 6)
#define X86_RFLAGS_SF (1u << 7)
#define X86_RFLAGS_TF (1u << 8)
#define X86_RFLAGS_IF (1u << 9)
#define X86_RFLAGS_DF (1u << 10)
#define X86_RFLAGS_OF (1u << 11)
#define X86_RFLAGS_IOPL (3u << 12)
#define X86_RFLAGS_NT (1u << 14)
#define X86_RFLAGS_RF (1u << 16)
#define X86_RFLAGS_VM (1u << 17)
#define X86_RFLAGS_AC (1u << 18)
#define X86_RFLAGS_VIF (1u << 19)
#define X86_RFLAGS_VIP (1u << 20)
#define X86_RFLAGS_ID (1u << 21)

#define X86_PTE_P (1ull << 0)
#define X86_PTE_RW (1ull << 1)
#define X86_PTE_US (1ull << 2)
#define X86_PTE_PWT (1ull << 3)
#define X86_PTE_PCD (1ull << 4)
#define X86_PTE_A (1ull << 5)
#define X86_PTE_D (1ull << 6)
#define X86_PTE_PS (1ull << 7)
#define X86_PTE_G (1ull << 8)
#define X86_PTE_NX (1ull << 63)

#define MSR_IA32_TSC 0x10
#define MSR_IA32_APICBASE 0x1b
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_IA32_CR_PAT 0x277
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX 0xc0000103

#define APIC_DEFAULT_BASE 0xfee00000u
#define APIC_BASE_BSP (1u << 8)
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_BASE_EXTD (1u << 10) /* x2APIC mode */
#define APIC_TPR_OFFSET 0x80 /* the task priority register in the xAPIC page */
#define IOAPIC_DEFAULT_BASE 0xfec00000u

enum x86_gpr {
	X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI, X86_RDI,
	X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15,
	X86_NR_GPRS
};

/* A segment register as the hidden descriptor cache holds it. */
struct x86_segment {
	uint64_t base;
	uint32_t limit; /* byte granular, already expanded by G */
	uint16_t selector;
	uint8_t type; /* descriptor type field, 4 bits */
	uint8_t s, dpl, present, avl, l, db, g;
	uint8_t unusable;
};

struct x86_dtable {
	uint64_t base;
	uint16_t limit;
};

/*
 * The vCPU state every engine can load and store: what the boot loaders set
 * up and what a snapshot carries. FPU/SSE state travels separately.
 */
struct x86_cpu_state {
	uint64_t gpr[X86_NR_GPRS];
	uint64_t rip, rflags;
	struct x86_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct x86_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer;
	uint64_t apic_base;
};

#endif
