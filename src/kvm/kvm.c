/* kvm/kvm.c: the hardware-assisted engine: /dev/kvm with in-kernel irqchip and PIT. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/log.h"
#include "base/reaper.h"
#include "base/util.h"
#include "kvm/kvm.h"
#include "vm/vm.h"

/* Three pages just below the BIOS area that VMX needs for real-mode emulation. */
#define KVM_TSS_ADDR 0xfffbd000ull
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull
#define KVM_CPUID_MAX_ENTRIES 256

struct kvm_vm {
	int sys_fd;
	int vm_fd;
	int run_size;
	struct kvm_cpuid2 *supported_cpuid;
	uint64_t clock_at_pause; /* kvm-clock (ns) when the VM paused */
	bool clock_saved;
};

/* Exit reasons counted one by one; the rest (unknown ones stop the VM) share one counter. */
#define KVM_EXITS_COUNTED (KVM_EXIT_SYSTEM_EVENT + 1)
_Static_assert(KVM_EXIT_FAIL_ENTRY < KVM_EXITS_COUNTED && KVM_EXIT_INTERNAL_ERROR < KVM_EXITS_COUNTED,
	       "every exit kite handles has its own counter");

struct kvm_vcpu {
	int fd;
	struct kvm_run *run;
	/* Counters (docs/metrics.md): the vCPU thread bumps them, anyone reads. */
	_Atomic uint64_t exits[KVM_EXITS_COUNTED];
	_Atomic uint64_t exits_other;
	_Atomic uint64_t run_interrupted; /* KVM_RUN ended by a kick (EINTR) */
};

static struct kvm_vm *kvm_of(struct vm *vm)
{
	return vm->engine_data;
}

static struct kvm_vcpu *kvcpu_of(struct vcpu *vcpu)
{
	return vcpu->engine_data;
}

static int kvm_open(struct kvm_vm *k, const char *path, struct err *err)
{
	struct stat st;
	int version;

	k->sys_fd = open(path, O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0)
		return err_set(err, -errno, "cannot open %s: %s%s", path, strerror(errno),
			       errno == EACCES ? " (add yourself to the kvm group or use --accel soft)"
			       : errno == ENOENT ? " (no KVM on this host; use --accel soft)" : "");
	if (fstat(k->sys_fd, &st) < 0 || !S_ISCHR(st.st_mode))
		return err_set(err, -ENODEV, "%s is not a KVM device: not a character device",
			       path);
	version = ioctl(k->sys_fd, KVM_GET_API_VERSION, 0);
	if (version < 0)
		return err_set(err, -ENODEV, "%s is not a KVM device: %s", path, strerror(errno));
	if (version != KVM_API_VERSION)
		return err_set(err, -ENOTSUP, "%s speaks KVM API %d, kite needs %d", path, version,
			       KVM_API_VERSION);
	return 0;
}

static int kvm_require_caps(struct kvm_vm *k, const char *path, struct err *err)
{
	static const struct {
		int cap;
		const char *name;
	} required[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(required); i++)
		if (ioctl(k->sys_fd, KVM_CHECK_EXTENSION, required[i].cap) <= 0)
			return err_set(err, -ENOTSUP, "%s lacks %s", path, required[i].name);
	return 0;
}

int kvm_probe(const char *path, struct err *err)
{
	struct kvm_vm k = {.sys_fd = -1, .vm_fd = -1};
	int vcpu_fd, rc;

	rc = kvm_open(&k, path, err);
	if (rc == 0)
		rc = kvm_require_caps(&k, path, err);
	if (rc == 0) {
		k.vm_fd = ioctl(k.sys_fd, KVM_CREATE_VM, 0);
		if (k.vm_fd < 0)
			rc = err_set(err, -errno, "%s: KVM_CREATE_VM: %s", path, strerror(errno));
	}
	if (rc == 0) {
		vcpu_fd = ioctl(k.vm_fd, KVM_CREATE_VCPU, 0);
		if (vcpu_fd < 0)
			rc = err_set(err, -errno, "%s: KVM_CREATE_VCPU: %s", path, strerror(errno));
		else
			close(vcpu_fd);
	}
	if (k.vm_fd >= 0)
		close(k.vm_fd);
	if (k.sys_fd >= 0)
		close(k.sys_fd);
	return rc;
}

static int kvm_memory_map(struct vm *vm, struct err *err)
{
	struct kvm_vm *k = kvm_of(vm);

	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct mem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};

		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return err_set(err, -errno, "KVM_SET_USER_MEMORY_REGION slot %u: %s", i,
				       strerror(errno));
	}
	return 0;
}

static int kvm_supported_cpuid(struct kvm_vm *k, struct err *err)
{
	size_t size = sizeof(*k->supported_cpuid) +
		      KVM_CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);

	k->supported_cpuid = calloc(1, size);
	if (!k->supported_cpuid)
		return err_set(err, -ENOMEM, "out of memory");
	k->supported_cpuid->nent = KVM_CPUID_MAX_ENTRIES;
	if (ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, k->supported_cpuid) < 0)
		return err_set(err, -errno, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	return 0;
}

static int kvm_vm_create(struct vm *vm, struct err *err)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t identity = KVM_IDENTITY_MAP_ADDR;
	struct kvm_vm *k;
	int rc;

	k = calloc(1, sizeof(*k));
	if (!k)
		return err_set(err, -ENOMEM, "out of memory");
	k->sys_fd = k->vm_fd = -1;
	vm->engine_data = k;
	rc = kvm_open(k, KVM_DEVICE, err);
	if (rc < 0)
		return rc;
	rc = kvm_require_caps(k, KVM_DEVICE, err);
	if (rc < 0)
		return rc;
	k->run_size = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size <= 0)
		return err_set(err, -errno, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0)
		return err_set(err, -errno, "KVM_CREATE_VM: %s", strerror(errno));
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		return err_set(err, -errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
		log_debug("kvm: KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	/*
	 * Memory slots before the irqchip: once an irqchip exists every slot
	 * update waits for an SRCU grace period (measured: 6 ms vs 0.04 ms).
	 */
	rc = kvm_memory_map(vm, err);
	if (rc < 0)
		return rc;
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return err_set(err, -errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return err_set(err, -errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	return kvm_supported_cpuid(k, err);
}

static void kvm_vm_destroy(struct vm *vm)
{
	struct kvm_vm *k = kvm_of(vm);
	/* The VM's last close waits for the kernel's teardown; a helper takes it. */
	if (k->vm_fd >= 0)
		reaper_close_detached(&k->vm_fd, 1);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	free(k->supported_cpuid);
	free(k);
	vm->engine_data = NULL;
}

static unsigned kvm_max_vcpus(struct vm *vm)
{
	int n = ioctl(kvm_of(vm)->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (n <= 0)
		n = ioctl(kvm_of(vm)->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (n <= 0)
		n = 4; /* what the KVM API promises without the capability */
	return n < VM_MAX_VCPUS ? (unsigned)n : VM_MAX_VCPUS;
}

/*
 * LINT0 delivers the 8259's interrupts (virtual wire), LINT1 NMIs, as a PC
 * BIOS leaves them; Linux expects this before it switches to the IOAPIC.
 */
static int kvm_vcpu_setup_lapic(struct kvm_vcpu *kv, struct err *err)
{
	struct kvm_lapic_state lapic;
	uint32_t *lvt_lint0 = (uint32_t *)&lapic.regs[0x350];
	uint32_t *lvt_lint1 = (uint32_t *)&lapic.regs[0x360];

	if (ioctl(kv->fd, KVM_GET_LAPIC, &lapic) < 0)
		return err_set(err, -errno, "KVM_GET_LAPIC: %s", strerror(errno));
	*lvt_lint0 = (*lvt_lint0 & ~0x700u) | (7u << 8);  /* ExtINT */
	*lvt_lint1 = (*lvt_lint1 & ~0x700u) | (4u << 8);  /* NMI */
	if (ioctl(kv->fd, KVM_SET_LAPIC, &lapic) < 0)
		return err_set(err, -errno, "KVM_SET_LAPIC: %s", strerror(errno));
	return 0;
}

static int kvm_vcpu_setup_fpu(struct kvm_vcpu *kv, struct err *err)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (ioctl(kv->fd, KVM_SET_FPU, &fpu) < 0)
		return err_set(err, -errno, "KVM_SET_FPU: %s", strerror(errno));
	return 0;
}

static int kvm_vcpu_create(struct vcpu *vcpu, struct err *err)
{
	struct kvm_vm *k = kvm_of(vcpu->vm);
	struct kvm_vcpu *kv;
	int rc;

	kv = calloc(1, sizeof(*kv));
	if (!kv)
		return err_set(err, -ENOMEM, "out of memory");
	kv->fd = -1;
	vcpu->engine_data = kv;
	kv->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, vcpu->id);
	if (kv->fd < 0)
		return err_set(err, -errno, "KVM_CREATE_VCPU: %s", strerror(errno));
	kv->run = mmap(NULL, (size_t)k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, kv->fd, 0);
	if (kv->run == MAP_FAILED) {
		kv->run = NULL;
		return err_set(err, -errno, "mmap kvm_run: %s", strerror(errno));
	}
	rc = kvm_cpuid_setup(vcpu, kv->fd, k->supported_cpuid, err);
	if (rc < 0)
		return rc;
	rc = kvm_vcpu_setup_lapic(kv, err);
	if (rc < 0)
		return rc;
	return kvm_vcpu_setup_fpu(kv, err);
}

static void kvm_vcpu_destroy(struct vcpu *vcpu)
{
	struct kvm_vcpu *kv = kvcpu_of(vcpu);

	if (kv->run)
		munmap(kv->run, (size_t)kvm_of(vcpu->vm)->run_size);
	if (kv->fd >= 0)
		close(kv->fd);
	free(kv);
	vcpu->engine_data = NULL;
}

static void seg_to_kvm(const struct x86_segment *s, struct kvm_segment *k)
{
	*k = (struct kvm_segment){
		.base = s->base,
		.limit = s->limit,
		.selector = s->selector,
		.type = s->type,
		.present = s->present,
		.dpl = s->dpl,
		.db = s->db,
		.s = s->s,
		.l = s->l,
		.g = s->g,
		.avl = s->avl,
		.unusable = s->unusable,
	};
}

static void seg_from_kvm(const struct kvm_segment *k, struct x86_segment *s)
{
	*s = (struct x86_segment){
		.base = k->base,
		.limit = k->limit,
		.selector = k->selector,
		.type = k->type,
		.present = k->present,
		.dpl = k->dpl,
		.db = k->db,
		.s = k->s,
		.l = k->l,
		.g = k->g,
		.avl = k->avl,
		.unusable = k->unusable,
	};
}

static int kvm_vcpu_set_state(struct vcpu *vcpu, const struct x86_cpu_state *st,
			      struct err *err)
{
	struct kvm_vcpu *kv = kvcpu_of(vcpu);
	struct kvm_regs regs = { 0 };
	struct kvm_sregs sregs;
	__u64 *gprs[X86_NR_GPRS] = {
		&regs.rax, &regs.rcx, &regs.rdx, &regs.rbx, &regs.rsp, &regs.rbp,
		&regs.rsi, &regs.rdi, &regs.r8,	 &regs.r9,  &regs.r10, &regs.r11,
		&regs.r12, &regs.r13, &regs.r14, &regs.r15,
	};

	if (ioctl(kv->fd, KVM_GET_SREGS, &sregs) < 0)
		return err_set(err, -errno, "KVM_GET_SREGS: %s", strerror(errno));
	for (unsigned i = 0; i < X86_NR_GPRS; i++)
		*gprs[i] = st->gpr[i];
	regs.rip = st->rip;
	regs.rflags = st->rflags | X86_RFLAGS_FIXED;
	seg_to_kvm(&st->cs, &sregs.cs);
	seg_to_kvm(&st->ds, &sregs.ds);
	seg_to_kvm(&st->es, &sregs.es);
	seg_to_kvm(&st->fs, &sregs.fs);
	seg_to_kvm(&st->gs, &sregs.gs);
	seg_to_kvm(&st->ss, &sregs.ss);
	seg_to_kvm(&st->tr, &sregs.tr);
	seg_to_kvm(&st->ldt, &sregs.ldt);
	sregs.gdt = (struct kvm_dtable){ .base = st->gdt.base, .limit = st->gdt.limit };
	sregs.idt = (struct kvm_dtable){ .base = st->idt.base, .limit = st->idt.limit };
	sregs.cr0 = st->cr0;
	sregs.cr2 = st->cr2;
	sregs.cr3 = st->cr3;
	sregs.cr4 = st->cr4;
	sregs.cr8 = st->cr8;
	sregs.efer = st->efer;
	if (st->apic_base)
		sregs.apic_base = st->apic_base;
	if (ioctl(kv->fd, KVM_SET_SREGS, &sregs) < 0)
		return err_set(err, -errno, "KVM_SET_SREGS: %s", strerror(errno));
	if (ioctl(kv->fd, KVM_SET_REGS, &regs) < 0)
		return err_set(err, -errno, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

static int kvm_vcpu_get_state(struct vcpu *vcpu, struct x86_cpu_state *st)
{
	struct kvm_vcpu *kv = kvcpu_of(vcpu);
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	if (ioctl(kv->fd, KVM_GET_REGS, &regs) < 0 || ioctl(kv->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	*st = (struct x86_cpu_state){
		.gpr = { regs.rax, regs.rcx, regs.rdx, regs.rbx, regs.rsp, regs.rbp,
			 regs.rsi, regs.rdi, regs.r8,  regs.r9,	 regs.r10, regs.r11,
			 regs.r12, regs.r13, regs.r14, regs.r15 },
		.rip = regs.rip,
		.rflags = regs.rflags,
		.gdt = { sregs.gdt.base, sregs.gdt.limit },
		.idt = { sregs.idt.base, sregs.idt.limit },
		.cr0 = sregs.cr0,
		.cr2 = sregs.cr2,
		.cr3 = sregs.cr3,
		.cr4 = sregs.cr4,
		.cr8 = sregs.cr8,
		.efer = sregs.efer,
		.apic_base = sregs.apic_base,
	};
	seg_from_kvm(&sregs.cs, &st->cs);
	seg_from_kvm(&sregs.ds, &st->ds);
	seg_from_kvm(&sregs.es, &st->es);
	seg_from_kvm(&sregs.fs, &st->fs);
	seg_from_kvm(&sregs.gs, &st->gs);
	seg_from_kvm(&sregs.ss, &st->ss);
	seg_from_kvm(&sregs.tr, &st->tr);
	seg_from_kvm(&sregs.ldt, &st->ldt);
	return 0;
}

/* Logs one line naming the exit and the vCPU's registers, then stops the VM. */
static enum vcpu_action kvm_fatal(struct vcpu *vcpu, const char *what)
{
	struct x86_cpu_state st;
	char regs[1024] = "registers unavailable";

	if (kvm_vcpu_get_state(vcpu, &st) == 0)
		vm_format_cpu_state(&st, regs, sizeof(regs));
	log_err("kvm: vcpu %u: %s: %s", vcpu->id, what, regs);
	vm_request_stop(vcpu->vm, VM_STOP_ERROR);
	return VCPU_STOP;
}

typedef enum vcpu_action (*kvm_exit_fn)(struct vcpu *vcpu, struct kvm_run *run);

static enum vcpu_action exit_io(struct vcpu *vcpu, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* KVM hands string I/O over as count back-to-back elements. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		io_bus_dispatch(&vcpu->vm->pio, run->io.port, data, run->io.size, is_write);
	return VCPU_CONTINUE;
}

static enum vcpu_action exit_mmio(struct vcpu *vcpu, struct kvm_run *run)
{
	unsigned len = run->mmio.len;

	if (len == 0 || len > sizeof(run->mmio.data))
		return kvm_fatal(vcpu, "MMIO exit with a bad length");
	io_bus_dispatch(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
			run->mmio.is_write);
	return VCPU_CONTINUE;
}

static enum vcpu_action exit_continue(struct vcpu *vcpu, struct kvm_run *run)
{
	(void)vcpu;
	(void)run;
	return VCPU_CONTINUE;
}

static enum vcpu_action exit_shutdown(struct vcpu *vcpu, struct kvm_run *run)
{
	(void)run;
	return kvm_fatal(vcpu, "triple fault (KVM_EXIT_SHUTDOWN)");
}

static enum vcpu_action exit_system_event(struct vcpu *vcpu, struct kvm_run *run)
{
	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_stop(vcpu->vm, VM_STOP_POWEROFF);
		return VCPU_STOP;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(vcpu->vm, VM_STOP_RESET);
		return VCPU_STOP;
	default:
		return kvm_fatal(vcpu, "system event (crash)");
	}
}

static enum vcpu_action exit_internal_error(struct vcpu *vcpu, struct kvm_run *run)
{
	char what[96];

	snprintf(what, sizeof(what), "KVM internal error, suberror %u", run->internal.suberror);
	return kvm_fatal(vcpu, what);
}

static enum vcpu_action exit_fail_entry(struct vcpu *vcpu, struct kvm_run *run)
{
	char what[96];

	snprintf(what, sizeof(what), "VM entry failed, reason %#llx",
		 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	return kvm_fatal(vcpu, what);
}

/* The exit table (STYLE 7): anything not listed stops the VM with its number. */
static const kvm_exit_fn kvm_exit_handlers[] = {
	[KVM_EXIT_IO] = exit_io,
	[KVM_EXIT_MMIO] = exit_mmio,
	[KVM_EXIT_HLT] = exit_continue, /* only without an in-kernel LAPIC */
	[KVM_EXIT_INTR] = exit_continue,
	[KVM_EXIT_IRQ_WINDOW_OPEN] = exit_continue,
	[KVM_EXIT_SHUTDOWN] = exit_shutdown,
	[KVM_EXIT_SYSTEM_EVENT] = exit_system_event,
	[KVM_EXIT_INTERNAL_ERROR] = exit_internal_error,
	[KVM_EXIT_FAIL_ENTRY] = exit_fail_entry,
};

static enum vcpu_action kvm_vcpu_run(struct vcpu *vcpu)
{
	struct kvm_vcpu *kv = kvcpu_of(vcpu);
	struct kvm_run *run = kv->run;
	uint32_t reason;
	int rc;

	rc = ioctl(kv->fd, KVM_RUN, 0);
	/* Cleared after the run so a kick posted meanwhile is seen by the loop. */
	__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	if (rc < 0) {
		char what[64];

		if (errno == EINTR || errno == EAGAIN) {
			counter_add_owned(&kv->run_interrupted, 1);
			return VCPU_CONTINUE;
		}
		snprintf(what, sizeof(what), "KVM_RUN failed: %s", strerror(errno));
		return kvm_fatal(vcpu, what);
	}
	reason = run->exit_reason;
	counter_add_owned(reason < KVM_EXITS_COUNTED ? &kv->exits[reason] : &kv->exits_other, 1);
	if (reason < ARRAY_SIZE(kvm_exit_handlers) && kvm_exit_handlers[reason])
		return kvm_exit_handlers[reason](vcpu, run);
	{
		char what[64];

		snprintf(what, sizeof(what), "unhandled KVM exit %u", reason);
		return kvm_fatal(vcpu, what);
	}
}

static void kvm_vcpu_kick(struct vcpu *vcpu)
{
	struct kvm_vcpu *kv = kvcpu_of(vcpu);

	if (!kv || !kv->run)
		return;
	__atomic_store_n(&kv->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	vcpu_send_kick(vcpu);
}

static void kvm_irq_set(struct vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };

	if (ioctl(kvm_of(vm)->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_ratelimited(LOG_WARN, "kvm: KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}

/*
 * A guest write of datamatch to [gpa, gpa+len) signals fd inside KVM: the
 * vCPU does not leave the kernel for a queue notification.
 */
static int kvm_ioeventfd_set(struct vm *vm, uint64_t gpa, unsigned len, uint64_t datamatch,
			     int fd, bool assign)
{
	struct kvm_ioeventfd ioev = {
		.datamatch = datamatch,
		.addr = gpa,
		.len = len,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	if (ioctl(kvm_of(vm)->vm_fd, KVM_IOEVENTFD, &ioev) < 0)
		return -errno;
	return 0;
}

static int kvm_irqfd_set(struct vm *vm, unsigned gsi, int trigger_fd, int resample_fd)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)trigger_fd,
		.gsi = gsi,
		.flags = KVM_IRQFD_FLAG_RESAMPLE,
		.resamplefd = (uint32_t)resample_fd,
	};

	if (ioctl(kvm_of(vm)->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	return 0;
}

/* The exits the metrics name (docs/metrics.md); the others count in exit_other. */
static const char *const kvm_exit_names[KVM_EXITS_COUNTED] = {
	[KVM_EXIT_IO] = "exit_io",
	[KVM_EXIT_MMIO] = "exit_mmio",
	[KVM_EXIT_HLT] = "exit_hlt",
	[KVM_EXIT_INTR] = "exit_intr",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "exit_irq_window_open",
	[KVM_EXIT_SHUTDOWN] = "exit_shutdown",
	[KVM_EXIT_SYSTEM_EVENT] = "exit_system_event",
	[KVM_EXIT_INTERNAL_ERROR] = "exit_internal_error",
	[KVM_EXIT_FAIL_ENTRY] = "exit_fail_entry",
};

static unsigned kvm_vcpu_metrics(struct vcpu *vcpu, struct metric *out, unsigned max)
{
	struct kvm_vcpu *kv = kvcpu_of(vcpu);
	uint64_t total = counter_get(&kv->exits_other), other = total;
	unsigned n = 0;

	for (unsigned i = 0; i < KVM_EXITS_COUNTED; i++) {
		uint64_t v = counter_get(&kv->exits[i]);

		total += v;
		if (kvm_exit_names[i])
			metric_put(out, &n, max, kvm_exit_names[i], v);
		else
			other += v;
	}
	metric_put(out, &n, max, "exit_other", other);
	metric_put(out, &n, max, "exits", total);
	metric_put(out, &n, max, "run_interrupted", counter_get(&kv->run_interrupted));
	return n;
}

/*
 * KVM's kvm-clock follows the host's clock even while no vCPU runs; saved
 * here and given back on resume, the guest's reads of it go on from where
 * they stopped, as QEMU does on stop and cont. The guest TSC itself runs on
 * (as under QEMU): Linux keeps time with kvm-clock, not the raw TSC.
 */
static void kvm_vm_pause(struct vm *vm)
{
	struct kvm_vm *k = kvm_of(vm);
	struct kvm_clock_data data = { 0 };

	k->clock_saved = false;
	if (ioctl(k->vm_fd, KVM_GET_CLOCK, &data) < 0) {
		log_warn("kvm: KVM_GET_CLOCK: %s; the guest's clock will jump on resume",
			 strerror(errno));
		return;
	}
	k->clock_at_pause = data.clock;
	k->clock_saved = true;
}

static void kvm_vm_resume(struct vm *vm)
{
	struct kvm_vm *k = kvm_of(vm);
	struct kvm_clock_data data = { .clock = k->clock_at_pause };

	if (k->clock_saved && ioctl(k->vm_fd, KVM_SET_CLOCK, &data) < 0)
		log_warn("kvm: KVM_SET_CLOCK: %s; the guest's clock jumps by the pause",
			 strerror(errno));
	k->clock_saved = false;
}

const struct engine_ops kvm_engine = {
	.name = "kvm",
	.max_vcpus = kvm_max_vcpus,
	.vm_create = kvm_vm_create,
	.vm_destroy = kvm_vm_destroy,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_set_state = kvm_vcpu_set_state,
	.vcpu_get_state = kvm_vcpu_get_state,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
	.irq_set = kvm_irq_set,
	.ioeventfd_set = kvm_ioeventfd_set,
	.irqfd_set = kvm_irqfd_set,
	.vm_pause = kvm_vm_pause,
	.vm_resume = kvm_vm_resume,
	.vcpu_metrics = kvm_vcpu_metrics,
};
