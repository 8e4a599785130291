/* soft/soft.c: the software engine: interpreter vCPUs, soft MMU and kite's own irqchip. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "irqchip/irqchip.h"
#include "soft/bt/bt.h"
#include "soft/cpu/cpu.h"
#include "soft/mmu.h"
#include "soft/pvclock.h"
#include "soft/soft.h"
#include "vm/vm.h"

#define APIC_PAGE_SIZE 0x1000ull

/* MSRs the engine answers (the CPU core keeps the architectural ones itself). */
#define MSR_PLATFORM_ID	      0x17
#define MSR_FEATURE_CONTROL   0x3a
#define MSR_BIOS_SIGN_ID      0x8b
#define MSR_MTRR_CAP	      0xfe
#define MSR_MCG_CAP	      0x179
#define MSR_MCG_STATUS	      0x17a
#define MSR_MTRR_PHYS_BASE0   0x200
#define MSR_MTRR_FIX64K	      0x250
#define MSR_MTRR_FIX16K_80000 0x258
#define MSR_MTRR_FIX16K_A0000 0x259
#define MSR_MTRR_FIX4K_C0000  0x268
#define MSR_MTRR_DEF_TYPE     0x2ff
#define SOFT_MTRR_VAR	      8
/* MTRRcap: 8 variable ranges, fixed ranges, write-combining. */
#define SOFT_MTRR_CAP ((uint64_t)SOFT_MTRR_VAR | (1u << 8) | (1u << 10))
/* MISC_ENABLE: fast strings; BTS and PEBS unavailable. */
#define SOFT_MISC_ENABLE ((1u << 0) | (1u << 11) | (1u << 12))
/*
 * The architectural bits a guest may write (fast strings, automatic thermal
 * control, EIST, MONITOR enable, limit CPUID maxval, xTPR disable, XD
 * disable), stored as written as KVM does; 7, 11 and 12 are read-only and
 * the rest reserved (#GP).
 */
#define SOFT_MISC_WRITABLE ((1ull << 0) | (1ull << 3) | (1ull << 16) | (1ull << 18) | \
			    (1ull << 22) | (1ull << 23) | (1ull << 34))
#define SOFT_MISC_RO	   ((1ull << 7) | (1ull << 11) | (1ull << 12))

/*
 * Near a timer deadline a batch is cut to end about then, assuming the CPU
 * core runs no faster than one instruction per SOFT_NS_PER_INSN (it runs
 * slower, so the batch ends before the deadline and the next one is cut
 * again: the interrupt is late by at most SOFT_SHORT_BATCH instructions).
 */
#define SOFT_NS_PER_INSN 2
#define SOFT_SHORT_BATCH 1000

struct soft_vm {
	struct irqchip *irqchip;
	/*
	 * vCPUs vcpu_destroy has retired. The irqchip's timer thread and the
	 * devices may still kick one (a PIT tick as the VM shuts down), so the
	 * memory a kick touches lives until soft_vm_destroy has stopped them.
	 */
	struct soft_vcpu *retired[VM_MAX_VCPUS];
	/* Which RAM pages hold decoded code; shared so one vCPU sees another's stores. */
	struct cpu_code_map *code_map;
	uint64_t tsc_epoch_ns;
	struct pvclock pvclock;
};

/*
 * A vCPU's software side. The vCPU thread owns cpu; other threads only kick:
 * set wake and signal cond (for a sleeping vCPU) and ask cpu_run to return.
 */
struct soft_vcpu {
	struct cpu cpu;
	struct vcpu *vcpu;
	bool halted;	/* HLT retired; sleeping until an interrupt */
	bool wait_sipi; /* an AP after INIT, or before its first SIPI */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic bool wake;
	uint64_t halt_poll_ns; /* how long a halt spins before it sleeps (adaptive) */
	/*
	 * NMIs taken from the irqchip and not delivered yet: at most one while
	 * an NMI handler runs (the CPU latches one until its IRET), two
	 * otherwise (one goes in now, the other waits for that IRET).
	 */
	unsigned nmi_pending;
	int64_t tsc_offset; /* guest TSC minus the VM's nanosecond clock */
	uint64_t kvm_system_time; /* MSR_KVM_SYSTEM_TIME_NEW as last written */
	uint64_t kvm_wall_clock;  /* MSR_KVM_WALL_CLOCK_NEW as last written */
	uint64_t misc_enable;
	uint64_t mtrr_def_type;
	uint64_t mtrr_var[2 * SOFT_MTRR_VAR]; /* base/mask pairs */
	uint64_t mtrr_fixed[11];
	uint64_t bios_sign_id;
	/* Counters (docs/metrics.md): the vCPU thread bumps them, anyone reads. */
	struct {
		_Atomic uint64_t insns;	     /* published after each batch */
		_Atomic uint64_t hlt;	     /* HLT retired */
		_Atomic uint64_t pio;	     /* port accesses (each element of a string one) */
		_Atomic uint64_t mmio;	     /* device MMIO accesses, the local APIC's included */
		_Atomic uint64_t exceptions; /* exceptions delivered */
		_Atomic uint64_t interrupts; /* external interrupts delivered */
		_Atomic uint64_t nmis;	     /* NMIs delivered */
		_Atomic uint64_t pause;	     /* PAUSE in a spin loop, yielded to the host */
		_Atomic uint64_t hypercalls;
	} stats;
};

static struct soft_vm *soft_of(struct vm *vm)
{
	return vm->engine_data;
}

static struct soft_vcpu *svcpu_of(struct vcpu *vcpu)
{
	return vcpu->engine_data;
}

/* ---- callbacks from the CPU core (vCPU thread) --------------------------- */

/* Where this vCPU's local APIC page is, UINT64_MAX while the APIC is disabled. */
static uint64_t apic_page(struct soft_vcpu *sv)
{
	return irqchip_apic_page(soft_of(sv->vcpu->vm)->irqchip, sv->vcpu->id);
}

static bool apic_enabled(struct soft_vcpu *sv)
{
	return irqchip_apic_base(soft_of(sv->vcpu->vm)->irqchip, sv->vcpu->id) & APIC_BASE_ENABLE;
}

static int soft_translate(void *opaque, uint64_t la, enum cpu_access acc, struct cpu_xlate *x)
{
	struct soft_vcpu *sv = opaque;
	struct cpu *cpu = &sv->cpu;
	static const enum mmu_access kinds[CPU_NR_ACCESS] = {
		[CPU_ACCESS_READ] = MMU_READ,
		[CPU_ACCESS_WRITE] = MMU_WRITE,
		[CPU_ACCESS_EXEC] = MMU_FETCH,
	};
	struct mmu_ctx ctx = {
		.cr0 = cpu->sys.cr0,
		.cr3 = cpu->sys.cr3,
		.cr4 = cpu->sys.cr4,
		.efer = cpu->sys.efer,
		.user = cpu->cpl == 3 && !cpu->implicit_sv,
		.ac = cpu_get_rflags(cpu) & X86_RFLAGS_AC,
	};
	struct mmu_result res;

	if (mmu_translate(&sv->vcpu->vm->mem, &ctx, la, kinds[acc], &res) < 0) {
		x->vector = 14;
		x->error_code = res.error_code;
		return -EFAULT;
	}
	x->gpa = res.gpa & ~0xfffull;
	x->hva = res.hva ? res.hva - (res.gpa & 0xfff) : NULL;
	/* The local APIC's page hides whatever RAM lies under it. */
	if (x->hva && x->gpa == apic_page(sv))
		x->hva = NULL;
	x->no_cache = !x->hva;
	x->large = res.large;
	return 0;
}

/*
 * A device may stop the VM (poweroff, reset, panic): stop at this very
 * instruction, even when the kick cannot reach this thread yet (a vCPU that
 * started a moment ago).
 */
static void soft_check_stop(struct soft_vcpu *sv)
{
	if (atomic_load(&sv->vcpu->vm->stop_reason) != VM_STOP_NONE)
		cpu_request_exit(&sv->cpu);
}

static void soft_mmio(void *opaque, uint64_t gpa, uint8_t *data, unsigned len, bool is_write)
{
	struct soft_vcpu *sv = opaque;
	struct vm *vm = sv->vcpu->vm;
	struct irqchip *chip = soft_of(vm)->irqchip;
	uint64_t apic = apic_page(sv);

	counter_add_owned(&sv->stats.mmio, 1);
	/* The local APIC page is per vCPU, so it is routed here, not on the bus. */
	if (gpa - apic < APIC_PAGE_SIZE) {
		irqchip_lapic_access(chip, sv->vcpu->id, gpa & 0xfff, data, len, is_write);
		return;
	}
	io_bus_dispatch(&vm->mmio, gpa, data, len, is_write);
	if (is_write)
		soft_check_stop(sv);
}

static void soft_pio(void *opaque, uint16_t port, uint8_t *data, unsigned len, bool is_write)
{
	struct soft_vcpu *sv = opaque;

	counter_add_owned(&sv->stats.pio, 1);
	io_bus_dispatch(&sv->vcpu->vm->pio, port, data, len, is_write);
	if (is_write)
		soft_check_stop(sv);
}

static void soft_cpuid_op(void *opaque, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	struct soft_vcpu *sv = opaque;

	soft_cpuid(sv->vcpu->id, sv->vcpu->vm->nr_vcpus, leaf, subleaf, out);
	/* A local APIC disabled through IA32_APIC_BASE is absent from CPUID too. */
	if (leaf == 1 && !apic_enabled(sv))
		out[3] &= ~(1u << 9);
}

static int soft_tpr(void *opaque, bool is_write, uint8_t *tpr)
{
	struct soft_vcpu *sv = opaque;
	struct irqchip *chip = soft_of(sv->vcpu->vm)->irqchip;
	uint8_t reg[4] = {0};

	if (!apic_enabled(sv))
		return -1;
	reg[0] = *tpr;
	irqchip_lapic_access(chip, sv->vcpu->id, APIC_TPR_OFFSET, reg, sizeof(reg), is_write);
	*tpr = reg[0];
	return 0;
}

static uint64_t soft_rdtsc(void *opaque)
{
	struct soft_vcpu *sv = opaque;

	/*
	 * SOFT_TSC_HZ is 1 GHz: the TSC counts the VM's clock's nanoseconds
	 * since the VM started, so it stands still while the VM is paused.
	 */
	return vm_clock_ns(sv->vcpu->vm) - soft_of(sv->vcpu->vm)->tsc_epoch_ns +
	       (uint64_t)sv->tsc_offset;
}

/* The MTRR storage slot for msr, or NULL when msr is no MTRR kite has. */
static uint64_t *soft_mtrr(struct soft_vcpu *sv, uint32_t msr)
{
	if (msr >= MSR_MTRR_PHYS_BASE0 && msr < MSR_MTRR_PHYS_BASE0 + 2 * SOFT_MTRR_VAR)
		return &sv->mtrr_var[msr - MSR_MTRR_PHYS_BASE0];
	if (msr == MSR_MTRR_FIX64K)
		return &sv->mtrr_fixed[0];
	if (msr == MSR_MTRR_FIX16K_80000 || msr == MSR_MTRR_FIX16K_A0000)
		return &sv->mtrr_fixed[1 + msr - MSR_MTRR_FIX16K_80000];
	if (msr >= MSR_MTRR_FIX4K_C0000 && msr < MSR_MTRR_FIX4K_C0000 + 8)
		return &sv->mtrr_fixed[3 + msr - MSR_MTRR_FIX4K_C0000];
	if (msr == MSR_MTRR_DEF_TYPE)
		return &sv->mtrr_def_type;
	return NULL;
}

/* Memory types an MTRR may hold: UC, WC, WT, WP, WB. */
static bool soft_mtrr_type_ok(unsigned t)
{
	return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
}

static bool soft_mtrr_valid(uint32_t msr, uint64_t v)
{
	const uint64_t phys_rsvd = ~((1ull << SOFT_PHYS_BITS) - 1);

	if (msr == MSR_MTRR_DEF_TYPE)
		return !(v & ~0xcffull) && soft_mtrr_type_ok(v & 0xff);
	if (msr >= MSR_MTRR_PHYS_BASE0 && msr < MSR_MTRR_PHYS_BASE0 + 2 * SOFT_MTRR_VAR) {
		if ((msr - MSR_MTRR_PHYS_BASE0) & 1) /* mask: valid bit 11 */
			return !(v & (phys_rsvd | 0x7ff));
		return !(v & (phys_rsvd | 0xf00)) && soft_mtrr_type_ok(v & 0xff);
	}
	for (unsigned i = 0; i < 8; i++)
		if (!soft_mtrr_type_ok((v >> (8 * i)) & 0xff))
			return false;
	return true;
}

static int soft_rdmsr(void *opaque, uint32_t msr, uint64_t *val)
{
	struct soft_vcpu *sv = opaque;
	struct irqchip *chip = soft_of(sv->vcpu->vm)->irqchip;
	uint64_t *slot;

	switch (msr) {
	case MSR_IA32_TSC:
		*val = soft_rdtsc(sv);
		return 0;
	case MSR_KVM_SYSTEM_TIME_NEW:
		*val = sv->kvm_system_time;
		return 0;
	case MSR_KVM_WALL_CLOCK_NEW:
		*val = sv->kvm_wall_clock;
		return 0;
	case MSR_IA32_APICBASE:
		*val = irqchip_apic_base(chip, sv->vcpu->id);
		return 0;
	case MSR_IA32_MISC_ENABLE:
		*val = sv->misc_enable;
		return 0;
	case MSR_IA32_ARCH_CAPABILITIES:
		*val = SOFT_ARCH_CAPABILITIES;
		return 0;
	case MSR_MTRR_CAP:
		*val = SOFT_MTRR_CAP;
		return 0;
	case MSR_FEATURE_CONTROL:
		*val = 1; /* locked, VMX off */
		return 0;
	case MSR_BIOS_SIGN_ID:
		*val = sv->bios_sign_id;
		return 0;
	case MSR_PLATFORM_ID:
	case MSR_MCG_CAP:
	case MSR_MCG_STATUS:
		*val = 0;
		return 0;
	default:
		if (msr >= 0x800 && msr <= 0x8ff)
			return irqchip_x2apic_msr(chip, sv->vcpu->id, msr, val, false) < 0 ? -1 : 0;
		slot = soft_mtrr(sv, msr);
		if (!slot)
			return -1;
		*val = *slot;
		return 0;
	}
}

static int soft_wrmsr(void *opaque, uint32_t msr, uint64_t val)
{
	struct soft_vcpu *sv = opaque;
	struct irqchip *chip = soft_of(sv->vcpu->vm)->irqchip;
	uint64_t *slot;

	switch (msr) {
	case MSR_IA32_TSC:
		sv->tsc_offset += (int64_t)(val - soft_rdtsc(sv));
		/* kvm-clock's timestamp follows the TSC, as KVM updates it. */
		pvclock_system_time_write(&soft_of(sv->vcpu->vm)->pvclock, &sv->vcpu->vm->mem,
					  sv->kvm_system_time, (uint64_t)sv->tsc_offset);
		return 0;
	case MSR_KVM_SYSTEM_TIME_NEW:
		sv->kvm_system_time = val;
		if (pvclock_system_time_write(&soft_of(sv->vcpu->vm)->pvclock, &sv->vcpu->vm->mem,
					      val, (uint64_t)sv->tsc_offset) < 0)
			log_ratelimited(LOG_WARN, "soft: vcpu %u: kvm-clock area %#llx is not in RAM",
					sv->vcpu->id, (unsigned long long)val);
		return 0;
	case MSR_KVM_WALL_CLOCK_NEW:
		sv->kvm_wall_clock = val;
		if (pvclock_wall_clock_write(&soft_of(sv->vcpu->vm)->pvclock, &sv->vcpu->vm->mem,
					     val) < 0)
			log_ratelimited(LOG_WARN, "soft: kvm wall clock %#llx is not in RAM",
					(unsigned long long)val);
		return 0;
	case MSR_IA32_APICBASE:
		if (val >> SOFT_PHYS_BITS)
			return -1;
		if (irqchip_set_apic_base(chip, sv->vcpu->id, val) < 0)
			return -1;
		/* RAM the page now covers must stop being reached through the TLB. */
		cpu_tlb_flush(&sv->cpu);
		return 0;
	case MSR_IA32_MISC_ENABLE:
		if (val & ~(SOFT_MISC_WRITABLE | SOFT_MISC_RO))
			return -1;
		sv->misc_enable = (sv->misc_enable & SOFT_MISC_RO) | (val & SOFT_MISC_WRITABLE);
		return 0;
	case MSR_BIOS_SIGN_ID:
		sv->bios_sign_id = 0; /* no microcode: the revision stays 0 */
		return 0;
	case MSR_MCG_STATUS:
		return val ? -1 : 0;
	default:
		if (msr >= 0x800 && msr <= 0x8ff)
			return irqchip_x2apic_msr(chip, sv->vcpu->id, msr, &val, true) < 0 ? -1 : 0;
		slot = soft_mtrr(sv, msr);
		if (!slot || !soft_mtrr_valid(msr, val))
			return -1;
		*slot = val;
		return 0;
	}
}

/*
 * KVM_HC_SEND_IPI (Linux, Documentation/virt/kvm/x86/hypercalls.rst): a0
 * and a1 are a bitmap of APIC IDs from a2 on, 64 bits each (32 outside
 * 64-bit mode), a3 the ICR's low word. Returns how many vCPUs took the IPI.
 */
static int64_t soft_hypercall(void *opaque, uint64_t nr, const uint64_t a[4], bool mode64)
{
	struct soft_vcpu *sv = opaque;
	struct irqchip *chip = soft_of(sv->vcpu->vm)->irqchip;
	uint64_t min = (uint32_t)a[2]; /* KVM reads 32 bits of it */
	int lo, hi;

	counter_add_owned(&sv->stats.hypercalls, 1);
	if (nr != KVM_HC_SEND_IPI)
		return -KVM_ENOSYS;
	lo = irqchip_send_ipi_mask(chip, sv->vcpu->id, a[0], min, (uint32_t)a[3]);
	if (lo < 0)
		return -KVM_EINVAL;
	hi = irqchip_send_ipi_mask(chip, sv->vcpu->id, a[1], min + (mode64 ? 64 : 32),
				   (uint32_t)a[3]);
	return lo + (hi < 0 ? 0 : hi);
}

static const struct cpu_ops soft_cpu_ops = {
	.translate = soft_translate,
	.mmio = soft_mmio,
	.pio = soft_pio,
	.cpuid = soft_cpuid_op,
	.tpr = soft_tpr,
	.rdtsc = soft_rdtsc,
	.rdmsr = soft_rdmsr,
	.wrmsr = soft_wrmsr,
	.hypercall = soft_hypercall,
};

/* ---- waking and sleeping -------------------------------------------------- */

static void soft_vcpu_wake(struct soft_vcpu *sv)
{
	pthread_mutex_lock(&sv->lock);
	sv->wake = true;
	pthread_cond_signal(&sv->cond);
	pthread_mutex_unlock(&sv->lock);
	/* A kick may bring an interrupt: the next STI must not run past it. */
	atomic_store(&sv->cpu.irq_pending, true);
	cpu_request_exit(&sv->cpu);
}

static void soft_irqchip_kick(void *opaque, unsigned cpu)
{
	struct vm *vm = opaque;

	if (cpu < vm->nr_vcpus && vm->vcpus[cpu].engine_data)
		soft_vcpu_wake(svcpu_of(&vm->vcpus[cpu]));
}

/*
 * Halt polling, as KVM's halt_poll_ns: a vCPU whose wake-up usually comes
 * within SOFT_HALT_POLL_MAX_NS (a network reply, an I/O completion) spins
 * for it rather than paying a futex sleep and a scheduler wake-up, which on
 * a nested host cost more than the reply itself. The window doubles from
 * SOFT_HALT_POLL_START_NS while wake-ups come that soon and halves when they
 * do not, so an idle guest (timer ticks milliseconds apart) does not spin.
 */
#define SOFT_HALT_POLL_MAX_NS 200000u
#define SOFT_HALT_POLL_START_NS 10000u

static bool soft_vcpu_poll_wake(struct soft_vcpu *sv, uint64_t until_ns)
{
	while (clock_monotonic_ns() < until_ns) {
		if (atomic_load_explicit(&sv->wake, memory_order_acquire))
			return true;
		__builtin_ia32_pause();
	}
	return false;
}

static void soft_vcpu_halt_poll_adapt(struct soft_vcpu *sv, uint64_t waited_ns)
{
	if (waited_ns <= SOFT_HALT_POLL_MAX_NS) {
		sv->halt_poll_ns = sv->halt_poll_ns ? sv->halt_poll_ns * 2 : SOFT_HALT_POLL_START_NS;
		if (sv->halt_poll_ns > SOFT_HALT_POLL_MAX_NS)
			sv->halt_poll_ns = SOFT_HALT_POLL_MAX_NS;
	} else {
		sv->halt_poll_ns /= 2;
		if (sv->halt_poll_ns < SOFT_HALT_POLL_START_NS)
			sv->halt_poll_ns = 0;
	}
}

/* Sleeps until kicked or until deadline_ns (CLOCK_MONOTONIC; UINT64_MAX: none). */
static void soft_vcpu_sleep(struct soft_vcpu *sv, uint64_t deadline_ns)
{
	uint64_t start = clock_monotonic_ns();
	struct timespec ts;

	if (sv->halt_poll_ns) {
		uint64_t until = start + sv->halt_poll_ns;

		if (soft_vcpu_poll_wake(sv, until < deadline_ns ? until : deadline_ns)) {
			pthread_mutex_lock(&sv->lock);
			sv->wake = false;
			pthread_mutex_unlock(&sv->lock);
			return;
		}
	}
	pthread_mutex_lock(&sv->lock);
	if (!sv->wake) {
		if (deadline_ns == UINT64_MAX) {
			pthread_cond_wait(&sv->cond, &sv->lock);
		} else {
			ts.tv_sec = (time_t)(deadline_ns / 1000000000ull);
			ts.tv_nsec = (long)(deadline_ns % 1000000000ull);
			pthread_cond_timedwait(&sv->cond, &sv->lock, &ts);
		}
	}
	sv->wake = false;
	pthread_mutex_unlock(&sv->lock);
	soft_vcpu_halt_poll_adapt(sv, clock_monotonic_ns() - start);
}

/* ---- the engine ----------------------------------------------------------- */

static unsigned soft_max_vcpus(struct vm *vm)
{
	(void)vm;
	return VM_MAX_VCPUS;
}

static int soft_vm_create(struct vm *vm, struct err *err)
{
	struct irqchip_config cfg = {
		.nr_cpus = vm->nr_vcpus,
		.kick = soft_irqchip_kick,
		.kick_opaque = vm,
	};
	struct soft_vm *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(err, -ENOMEM, "out of memory");
	vm->engine_data = s;
	s->code_map = cpu_code_map_create(vm->mem.base, vm->mem.ram_size);
	if (!s->code_map)
		return err_set(err, -ENOMEM, "out of memory for the code map");
	s->tsc_epoch_ns = vm_clock_ns(vm);
	pvclock_init(&s->pvclock, s->tsc_epoch_ns);
	return irqchip_create(vm, &cfg, &s->irqchip, err);
}

static void soft_vm_destroy(struct vm *vm)
{
	struct soft_vm *s = soft_of(vm);

	if (s->irqchip)
		irqchip_destroy(s->irqchip);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		struct soft_vcpu *sv = s->retired[i];

		if (!sv)
			continue;
		pthread_cond_destroy(&sv->cond);
		pthread_mutex_destroy(&sv->lock);
		free(sv);
	}
	cpu_code_map_destroy(s->code_map);
	free(s);
	vm->engine_data = NULL;
}

static int soft_vcpu_create(struct vcpu *vcpu, struct err *err)
{
	struct soft_vcpu *sv;
	pthread_condattr_t attr;

	sv = calloc(1, sizeof(*sv));
	if (!sv)
		return err_set(err, -ENOMEM, "out of memory");
	vcpu->engine_data = sv;
	sv->vcpu = vcpu;
	pthread_mutex_init(&sv->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&sv->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (cpu_init(&sv->cpu, &soft_cpu_ops, sv) < 0)
		return err_set(err, -ENOMEM, "out of memory for the CPU core");
	cpu_set_code_map(&sv->cpu, soft_of(vcpu->vm)->code_map);
	if (vcpu->vm->cfg.soft_cpu == SOFT_CPU_BT) {
		uint64_t cache = vcpu->vm->cfg.soft_code_cache;
		const char *why;
		int rc;

		if (!bt_host_supported(&why)) {
			/* Said once, for the first vCPU: the others are the same. */
			if (vcpu->id == 0)
				log_warn("soft: %s; running the interpreter only", why);
		} else {
			rc = cpu_use_translator(&sv->cpu, cache ? cache : BT_CACHE_DEFAULT);
			if (rc < 0)
				return err_set(err, rc, "the translator's code cache: %s",
					       strerror(-rc));
		}
	}
	/* Spinning on a lock held by a vCPU that waits for a host core: yield it. */
	sv->cpu.pause_exits = vcpu->vm->nr_vcpus > 1;
	sv->misc_enable = SOFT_MISC_ENABLE;
	sv->mtrr_def_type = 0xc06; /* enabled, fixed ranges on, default write-back */
	/* Application processors wait for INIT/SIPI, as on a PC. */
	sv->wait_sipi = vcpu->id != 0;
	return 0;
}

static void soft_vcpu_destroy(struct vcpu *vcpu)
{
	struct soft_vcpu *sv = svcpu_of(vcpu);

	struct bt_stats st;

	bt_get_stats(&sv->cpu, &st);
	log_info("soft: vcpu %u retired %" PRIu64 " instructions", vcpu->id, sv->cpu.insns);
	if (st.blocks)
		log_info("soft: vcpu %u translated %" PRIu64 " blocks (%" PRIu64
			 " guest bytes -> %" PRIu64 " host bytes) in %.3f s, %" PRIu64
			 " cache flushes, %" PRIu64 " instructions via the interpreter, %" PRIu64
			 " entries from the dispatcher",
			 vcpu->id, st.blocks, st.guest_bytes, st.code_bytes, st.translate_ns / 1e9,
			 st.flushes, st.helper_calls, st.entries);
	cpu_destroy(&sv->cpu);
	vcpu->engine_data = NULL;
	/* Freed by soft_vm_destroy, once nothing can kick it (struct soft_vm). */
	soft_of(vcpu->vm)->retired[vcpu->id] = sv;
}

static int soft_vcpu_set_state(struct vcpu *vcpu, const struct x86_cpu_state *st, struct err *err)
{
	(void)err;
	cpu_set_state(&svcpu_of(vcpu)->cpu, st);
	return 0;
}

static int soft_vcpu_get_state(struct vcpu *vcpu, struct x86_cpu_state *st)
{
	cpu_get_state(&svcpu_of(vcpu)->cpu, st);
	st->apic_base = irqchip_apic_base(soft_of(vcpu->vm)->irqchip, vcpu->id);
	return 0;
}

/* Logs one line naming what happened and the registers, then stops the VM. */
static enum vcpu_action soft_fatal(struct soft_vcpu *sv, const char *what)
{
	struct x86_cpu_state st;
	char regs[1024];

	cpu_get_state(&sv->cpu, &st);
	vm_format_cpu_state(&st, regs, sizeof(regs));
	log_err("soft: vcpu %u: %s: %s", sv->vcpu->id, what, regs);
	vm_request_stop(sv->vcpu->vm, VM_STOP_ERROR);
	return VCPU_STOP;
}

/* Real-mode entry at vector * 0x1000, as a SIPI starts an application processor. */
static void soft_vcpu_start_at_sipi(struct soft_vcpu *sv, uint8_t vector)
{
	struct x86_cpu_state st = {
		.rip = 0,
		.rflags = X86_RFLAGS_FIXED,
		.cr0 = X86_CR0_ET | X86_CR0_NW | X86_CR0_CD,
		.gdt = { 0, 0xffff },
		.idt = { 0, 0xffff },
	};
	struct x86_segment data = { .limit = 0xffff, .type = 3, .s = 1, .present = 1 };

	st.cs = (struct x86_segment){ .selector = (uint16_t)(vector << 8),
				      .base = (uint64_t)vector << 12,
				      .limit = 0xffff, .type = 0xb, .s = 1, .present = 1 };
	st.ds = st.es = st.fs = st.gs = st.ss = data;
	st.tr = (struct x86_segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
	st.ldt = (struct x86_segment){ .limit = 0xffff, .type = 2, .present = 1 };
	st.apic_base = irqchip_apic_base(soft_of(sv->vcpu->vm)->irqchip, sv->vcpu->id);
	cpu_set_state(&sv->cpu, &st);
	cpu_tlb_flush(&sv->cpu);
}

static void soft_vcpu_startup(struct soft_vcpu *sv)
{
	struct irqchip *chip = soft_of(sv->vcpu->vm)->irqchip;
	uint8_t vector;

	for (;;) {
		switch (irqchip_take_startup(chip, sv->vcpu->id, &vector)) {
		case STARTUP_INIT:
			sv->wait_sipi = true;
			sv->halted = false;
			continue;
		case STARTUP_SIPI:
			if (sv->wait_sipi) {
				soft_vcpu_start_at_sipi(sv, vector);
				sv->wait_sipi = false;
			}
			continue;
		case STARTUP_NONE:
		default:
			return;
		}
	}
}

/* Delivers a pending NMI unless one is being handled or MOV SS/STI holds it off. */
static int soft_vcpu_nmi(struct soft_vcpu *sv)
{
	struct irqchip *chip = soft_of(sv->vcpu->vm)->irqchip;
	unsigned max = sv->cpu.nmi_blocked ? 1 : IRQCHIP_NMI_MAX;
	int r = 0;

	sv->nmi_pending += irqchip_take_nmis(chip, sv->vcpu->id);
	if (sv->nmi_pending > max)
		sv->nmi_pending = max;
	if (!sv->nmi_pending || sv->cpu.intr_shadow)
		goto out;
	r = cpu_nmi(&sv->cpu);
	if (r == 0) {
		counter_add_owned(&sv->stats.nmis, 1);
		sv->nmi_pending--;
		sv->halted = false;
	}
out:
	atomic_store(&sv->cpu.nmi_pending, sv->nmi_pending != 0);
	return r < 0 ? -1 : 0;
}

/* Delivers a pending external interrupt if RFLAGS.IF and no STI/MOV SS shadow allow it. */
static int soft_vcpu_interrupt(struct soft_vcpu *sv)
{
	struct irqchip *chip = soft_of(sv->vcpu->vm)->irqchip;
	int vector;

	if (!irqchip_has_interrupt(chip, sv->vcpu->id))
		return 0;
	if (!(cpu_get_rflags(&sv->cpu) & X86_RFLAGS_IF) || sv->cpu.intr_shadow)
		return 0;
	/*
	 * An NMI sent before this interrupt (another CPU's NMI, then its fixed
	 * IPI) may have landed since soft_vcpu_nmi() looked: on the APIC bus it
	 * comes first, and its delivery clears IF, holding the interrupt back.
	 */
	if (soft_vcpu_nmi(sv) < 0)
		return -1;
	if (!(cpu_get_rflags(&sv->cpu) & X86_RFLAGS_IF))
		return 0;
	vector = irqchip_take_interrupt(chip, sv->vcpu->id);
	if (vector < 0)
		return 0;
	sv->halted = false;
	counter_add_owned(&sv->stats.interrupts, 1);
	return cpu_interrupt(&sv->cpu, (uint8_t)vector);
}

static enum vcpu_action soft_vcpu_run(struct vcpu *vcpu)
{
	struct soft_vcpu *sv = svcpu_of(vcpu);
	struct irqchip *chip = soft_of(vcpu->vm)->irqchip;
	uint64_t deadline, now, batch = sv->cpu.bt ? SOFT_BATCH_INSNS_BT : SOFT_BATCH_INSNS;
	bool pending;
	char what[96];
	int rc;

	soft_vcpu_startup(sv);
	if (sv->wait_sipi) {
		soft_vcpu_sleep(sv, UINT64_MAX);
		return VCPU_CONTINUE;
	}
	now = vm_clock_ns(vcpu->vm);
	deadline = irqchip_lapic_timer_poll(chip, vcpu->id, now);
	if (soft_vcpu_nmi(sv) < 0)
		return soft_fatal(sv, "triple fault while delivering an NMI");
	if (soft_vcpu_interrupt(sv) < 0)
		return soft_fatal(sv, "triple fault while delivering an interrupt");
	if (sv->halted) {
		/* Not paused: vm_pause() parks the vCPUs before it stops the clock. */
		soft_vcpu_sleep(sv, vm_clock_host_ns(vcpu->vm, deadline));
		return VCPU_CONTINUE;
	}
	/* Near a timer deadline, a batch that ends about then keeps its interrupt on time. */
	if (deadline != UINT64_MAX) {
		uint64_t fit = deadline > now ? (deadline - now) / SOFT_NS_PER_INSN : 0;

		if (fit < batch)
			batch = fit < SOFT_SHORT_BATCH ? SOFT_SHORT_BATCH : fit;
	}
	/*
	 * Cleared before the interrupt check: a kick from then on still ends
	 * the batch, even if the irq_pending hint below overwrites its own.
	 */
	atomic_store(&sv->cpu.exit_request, false);
	pending = irqchip_has_interrupt(chip, vcpu->id);
	/* An interrupt held off by the STI/MOV SS shadow: one instruction, then deliver. */
	if (sv->cpu.intr_shadow && (pending || sv->nmi_pending))
		batch = 1;
	atomic_store(&sv->cpu.irq_pending, pending);
	rc = cpu_run(&sv->cpu, batch);
	atomic_store_explicit(&sv->stats.insns, sv->cpu.insns, memory_order_relaxed);
	switch (rc) {
	case CPU_EXIT_NONE:
	case CPU_EXIT_REQUEST:
		return VCPU_CONTINUE;
	case CPU_EXIT_HLT:
		counter_add_owned(&sv->stats.hlt, 1);
		sv->halted = true;
		return VCPU_CONTINUE;
	case CPU_EXIT_PAUSE:
		counter_add_owned(&sv->stats.pause, 1);
		sched_yield();
		return VCPU_CONTINUE;
	case CPU_EXIT_EXCEPTION:
		counter_add_owned(&sv->stats.exceptions, 1);
		if (cpu_deliver_exception(&sv->cpu) < 0)
			return soft_fatal(sv, "triple fault");
		return VCPU_CONTINUE;
	case CPU_EXIT_UNSUPPORTED:
	default:
		snprintf(what, sizeof(what),
			 "the CPU core cannot execute this (virtual-8086 mode, exit %d)", rc);
		return soft_fatal(sv, what);
	}
}

static void soft_vcpu_kick(struct vcpu *vcpu)
{
	struct soft_vcpu *sv = svcpu_of(vcpu);

	if (sv)
		soft_vcpu_wake(sv);
}

static unsigned soft_vcpu_metrics(struct vcpu *vcpu, struct metric *out, unsigned max)
{
	struct soft_vcpu *sv = svcpu_of(vcpu);
	unsigned n = 0;

	metric_put(out, &n, max, "instructions", counter_get(&sv->stats.insns));
	metric_put(out, &n, max, "hlt", counter_get(&sv->stats.hlt));
	metric_put(out, &n, max, "pio", counter_get(&sv->stats.pio));
	metric_put(out, &n, max, "mmio", counter_get(&sv->stats.mmio));
	metric_put(out, &n, max, "exceptions", counter_get(&sv->stats.exceptions));
	metric_put(out, &n, max, "interrupts", counter_get(&sv->stats.interrupts));
	metric_put(out, &n, max, "nmis", counter_get(&sv->stats.nmis));
	metric_put(out, &n, max, "pause", counter_get(&sv->stats.pause));
	metric_put(out, &n, max, "hypercalls", counter_get(&sv->stats.hypercalls));
	return n;
}

static void soft_vm_pause(struct vm *vm)
{
	irqchip_pause(soft_of(vm)->irqchip);
}

static void soft_vm_resume(struct vm *vm)
{
	irqchip_resume(soft_of(vm)->irqchip);
}

static void soft_irq_set(struct vm *vm, unsigned gsi, int level)
{
	irqchip_set_irq(soft_of(vm)->irqchip, gsi, level);
}

/* Device DMA: decoded code from those pages is retired, as a CPU store would. */
static void soft_memory_written(struct vm *vm, const void *hva, uint64_t len)
{
	cpu_code_map_written(soft_of(vm)->code_map, hva, len);
}

const struct engine_ops soft_engine = {
	.name = "soft",
	.max_vcpus = soft_max_vcpus,
	.vm_create = soft_vm_create,
	.vm_destroy = soft_vm_destroy,
	.vcpu_create = soft_vcpu_create,
	.vcpu_destroy = soft_vcpu_destroy,
	.vcpu_set_state = soft_vcpu_set_state,
	.vcpu_get_state = soft_vcpu_get_state,
	.vcpu_run = soft_vcpu_run,
	.vcpu_kick = soft_vcpu_kick,
	.irq_set = soft_irq_set,
	.memory_written = soft_memory_written,
	.vm_pause = soft_vm_pause,
	.vm_resume = soft_vm_resume,
	.vcpu_metrics = soft_vcpu_metrics,
};
