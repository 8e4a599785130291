/* soft/cpuid.c: the CPUID the soft engine presents: exactly what it implements. */
#include <string.h>

#include "irqchip/irqchip.h"
#include "soft/cpu/cpu.h"
#include "soft/mmu.h"
#include "soft/pvclock.h"
#include "soft/soft.h"

#define MAX_BASIC_LEAF 0x16u
#define MAX_EXT_LEAF 0x80000008u
/*
 * Family 6, model 0x1c (an in-order Atom), stepping 10. An interpreter
 * executes nothing speculatively, and this is the model Linux knows as such:
 * it then sets none of its speculation bug flags, so the guest kernel runs
 * without retpolines, return thunks, RSB stuffing or BHB clearing (the
 * early steppings' PSE erratum check stops at stepping 2).
 */
#define SIGNATURE 0x000106cau

/*
 * CPUID.1:EDX: what the core executes (CPU_FEAT_1_EDX) and what the engine
 * emulates: the xAPIC and the MTRR MSRs. FPU, MMX, FXSR, SSE and SSE2 join
 * through CPU_FPU_FEAT_1_EDX when the x87/SSE units define it.
 */
#ifdef CPU_FPU_FEAT_1_EDX
#define FPU_1_EDX CPU_FPU_FEAT_1_EDX /* defined by soft/cpu/fpu.h once complete */
#else
#define FPU_1_EDX 0u
#endif
#define LEAF1_EDX (CPU_FEAT_1_EDX | FPU_1_EDX | (1u << 9) /* APIC */ | (1u << 12) /* MTRR */)
#define LEAF1_ECX_X2APIC     (1u << 21)
#define LEAF1_ECX_HYPERVISOR (1u << 31)
/*
 * CPUID.7:EDX: IA32_ARCH_CAPABILITIES only. No IBRS/IBPB/STIBP: with nothing
 * to mitigate, Linux would only report "Spectre V2 : User space: Vulnerable"
 * for controls it has no reason to use.
 */
/* Subleaf 0 EBX: SMEP, which soft/mmu.c enforces on fetches (SMAP needs AC-aware TLBs). */
#define LEAF7_EBX_SMEP (1u << 7)
#define LEAF7_EDX (1u << 29)
#define LEAF1_EDX_HTT (1u << 28)

/* CPUID.80000001:EDX: the core's (SYSCALL, NX, RDTSCP, LM); 1 GiB pages are soft/mmu.c's. */
#define EXT1_EDX (CPU_FEAT_80000001_EDX | (1u << 26))

static void put_string(uint32_t out[4], const char *s, const unsigned order[3])
{
	for (unsigned i = 0; i < 3; i++)
		memcpy(&out[order[i]], s + 4 * i, 4);
}

static unsigned core_shift(unsigned n)
{
	unsigned shift = 0;

	while ((1u << shift) < n)
		shift++;
	return shift;
}

void soft_cpuid(unsigned apic_id, unsigned nr_cpus, uint32_t leaf, uint32_t subleaf,
		uint32_t out[4])
{
	static const unsigned vendor_order[3] = { 1, 3, 2 }; /* ebx, edx, ecx */
	unsigned shift = core_shift(nr_cpus);

	memset(out, 0, 4 * sizeof(out[0]));
	if (leaf > MAX_BASIC_LEAF && leaf < 0x40000000u)
		leaf = MAX_BASIC_LEAF; /* what Intel CPUs answer past the last leaf */
	switch (leaf) {
	case 0:
		out[0] = MAX_BASIC_LEAF;
		put_string(out, "GenuineIntel", vendor_order);
		break;
	case 1:
		out[0] = SIGNATURE;
		/* CLFLUSH line size 8 quadwords, logical processors, initial APIC ID. */
		out[1] = (8u << 8) | ((nr_cpus & 0xff) << 16) | (apic_id << 24);
		out[2] = CPU_FEAT_1_ECX | LEAF1_ECX_X2APIC | LEAF1_ECX_HYPERVISOR;
		out[3] = LEAF1_EDX | (nr_cpus > 1 ? LEAF1_EDX_HTT : 0);
		break;
	case 7:
		/* Subleaf 0 EDX: IA32_ARCH_CAPABILITIES exists (soft.c answers it). */
		if (subleaf == 0) {
			out[1] = LEAF7_EBX_SMEP;
			out[3] = LEAF7_EDX;
		}
		break;
	case 0xb:
		/* Topology: one thread per core, nr_cpus cores in one package. */
		out[3] = apic_id;
		if (subleaf == 0) {
			out[0] = 0;
			out[1] = 1;
			out[2] = (1u << 8) | subleaf;
		} else if (subleaf == 1) {
			out[0] = shift;
			out[1] = nr_cpus;
			out[2] = (2u << 8) | subleaf;
		} else {
			out[2] = subleaf;
		}
		break;
	case 0x15:
		/* TSC = crystal * ebx / eax: the guest TSC runs at SOFT_TSC_HZ. */
		out[0] = 1;
		out[1] = 1;
		out[2] = (uint32_t)SOFT_TSC_HZ;
		break;
	case 0x16:
		out[0] = (uint32_t)(SOFT_TSC_HZ / 1000000); /* base MHz */
		out[1] = out[0];			     /* max MHz */
		out[2] = (uint32_t)(IRQCHIP_LAPIC_TIMER_HZ / 1000000); /* bus MHz */
		break;
	case 0x40000000:
		/* KVM's signature: Linux then uses kvm-clock (and nothing we do not offer). */
		out[0] = 0x40000001;
		put_string(out, "KVMKVMKVM\0\0\0", (const unsigned[3]){ 1, 2, 3 });
		break;
	case 0x40000001:
		out[0] = KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_NOP_IO_DELAY |
			 KVM_FEATURE_PV_SEND_IPI | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT;
		break;
	case 0x80000000:
		out[0] = MAX_EXT_LEAF;
		break;
	case 0x80000001:
		out[2] = CPU_FEAT_80000001_ECX;
		out[3] = EXT1_EDX;
		break;
	case 0x80000002:
	case 0x80000003:
	case 0x80000004: {
		static const char brand[48] = "kite soft x86-64 CPU";

		memcpy(out, brand + 16 * (leaf - 0x80000002), 16);
		break;
	}
	case 0x80000007:
		out[3] = 1u << 8; /* invariant TSC */
		break;
	case 0x80000008:
		out[0] = SOFT_PHYS_BITS | (48u << 8); /* physical, linear address bits */
		break;
	default:
		break;
	}
}
