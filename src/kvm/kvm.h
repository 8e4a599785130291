/* kvm/kvm.h: internals of the kvm engine shared between its files. */
#ifndef KITE_KVM_KVM_H
#define KITE_KVM_KVM_H

#include <linux/kvm.h>

#include "base/err.h"
#include "vm/vm.h"

/*
 * Gives the vCPU the host-supported CPUID with this VM's topology: APIC ID =
 * vCPU id, one core per vCPU in one package, the hypervisor bit set.
 */
int kvm_cpuid_setup(struct vcpu *vcpu, int vcpu_fd,
		    const struct kvm_cpuid2 *supported, struct err *err);

#endif
