/* kvm/cpuid.c: per-vCPU CPUID for the kvm engine (host features, our topology). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm/kvm.h"

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)

/* Bits needed to number n cores (the x2APIC ID shift of the core level). */
static unsigned core_shift(unsigned n)
{
	unsigned shift = 0;

	while ((1u << shift) < n)
		shift++;
	return shift;
}

static void cpuid_patch(struct kvm_cpuid_entry2 *e, unsigned apic_id, unsigned nr_cpus)
{
	unsigned shift = core_shift(nr_cpus);

	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0x0000ffffu) | (apic_id << 24) | ((nr_cpus & 0xff) << 16);
		e->ecx |= CPUID_1_ECX_HYPERVISOR;
		if (nr_cpus > 1)
			e->edx |= CPUID_1_EDX_HTT;
		else
			e->edx &= ~CPUID_1_EDX_HTT;
		break;
	case 4:
		/* Cores per package minus one; every cache private to one core. */
		e->eax = (e->eax & 0x03ffc3ffu) | (((1u << shift) - 1) << 26);
		break;
	case 0xb:
	case 0x1f:
		e->edx = apic_id;
		if (e->index == 0) { /* SMT level: one thread per core */
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1u << 8) | 0;
		} else if (e->index == 1) { /* core level */
			e->eax = shift;
			e->ebx = nr_cpus;
			e->ecx = (2u << 8) | 1;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		break;
	default:
		break;
	}
}

int kvm_cpuid_setup(struct vcpu *vcpu, int vcpu_fd,
		    const struct kvm_cpuid2 *supported, struct err *err)
{
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *cpuid;
	int rc = 0;

	cpuid = malloc(size);
	if (!cpuid)
		return err_set(err, -ENOMEM, "out of memory");
	memcpy(cpuid, supported, size);
	for (unsigned i = 0; i < cpuid->nent; i++)
		cpuid_patch(&cpuid->entries[i], vcpu->id, vcpu->vm->nr_vcpus);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid) < 0)
		rc = err_set(err, -errno, "KVM_SET_CPUID2: %s", strerror(errno));
	free(cpuid);
	return rc;
}
