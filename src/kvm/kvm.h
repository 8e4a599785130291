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

/* The KVM device kite uses. */
#define KVM_DEVICE "/dev/kvm"

/*
 * Whether the KVM device at path can run a guest here: it opens read-write,
 * is a character device speaking KVM API 12 with the capabilities the
 * engine needs, and creates a VM and a vCPU. 0, or a negative errno with a
 * message naming path and what failed ("cannot open /dev/kvm: No such file
 * or directory", "/dev/null is not a KVM device: ...").
 */
int kvm_probe(const char *path, struct err *err);

#endif
