/* vm/vm.h: the VM object (the one owner of state), vCPUs and the engine boundary. */
#ifndef KITE_VM_VM_H
#define KITE_VM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/x86.h"
#include "bus/bus.h"
#include "config/config.h"
#include "devices/device.h"
#include "memory/memory.h"

/* Why the VM stopped; decides kite's exit status. */
enum vm_stop_reason {
	VM_STOP_NONE = 0,
	VM_STOP_POWEROFF, /* ACPI S5: status 0 */
	VM_STOP_RESET,	  /* guest reboot (i8042, port 0x92, reset register): status 0 */
	VM_STOP_SIGNAL,	  /* SIGINT/SIGTERM on the host: status 0 */
	VM_STOP_ERROR,	  /* triple fault, engine internal error, unknown exit */
	VM_STOP_PANIC,	  /* the guest kernel reported a panic (pvpanic) */
	VM_STOP_DEBUG_EXIT, /* the guest wrote isa-debug-exit (--testdev): its status */
};

/* kite's exit statuses, the CLI contract tests rely on. */
#define KITE_EXIT_OK 0
#define KITE_EXIT_SETUP 1	/* bad or unreadable file (kernel, disk, --config-file), no /dev/kvm, out of memory */
#define KITE_EXIT_USAGE 2	/* unknown flag, bad flag value, or a --config-file that says something wrong */
#define KITE_EXIT_GUEST_FAULT 3 /* VM_STOP_ERROR */
#define KITE_EXIT_GUEST_PANIC 4 /* VM_STOP_PANIC */

/*
 * vCPU state machine (STYLE 8). The thread owns the vCPU; others post a
 * request in the mailbox and kick it. State is read or written only while
 * the vCPU is PAUSED (or before it first runs).
 */
enum vcpu_state { VCPU_CREATED, VCPU_RUNNING, VCPU_PAUSED, VCPU_STOPPED };

/* What the engine's run loop tells the generic vCPU loop. */
enum vcpu_action {
	VCPU_CONTINUE, /* handled; run again (after checking the mailbox) */
	VCPU_STOP,     /* the VM is stopping (vm_request_stop was called) */
};

struct vm;
struct iothread;
struct json_object;

struct vcpu {
	struct vm *vm;
	unsigned id;
	pthread_t thread;
	bool thread_started; /* joinable: set by the creator after pthread_create */
	/*
	 * The thread publishes itself before it first looks at the mailbox, so
	 * a kick posted meanwhile cannot be lost (both sides are seq_cst).
	 */
	pthread_t self;
	_Atomic bool has_self;
	_Atomic int state;     /* enum vcpu_state */
	_Atomic int requested; /* mailbox: the state others want, or -1 */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void *engine_data;
};

/*
 * The engine boundary: kvm and soft implement this; everything else in the
 * machine model (memory, buses, devices, loaders, ACPI) is shared.
 */
struct engine_ops {
	const char *name;
	/* Upper bound on vCPUs this engine runs on this host. */
	unsigned (*max_vcpus)(struct vm *vm);
	/* After guest memory exists; creates VM-wide state (irqchip, timers). */
	int (*vm_create)(struct vm *vm, struct err *err);
	void (*vm_destroy)(struct vm *vm);
	int (*vcpu_create)(struct vcpu *vcpu, struct err *err);
	void (*vcpu_destroy)(struct vcpu *vcpu);
	int (*vcpu_set_state)(struct vcpu *vcpu, const struct x86_cpu_state *st, struct err *err);
	int (*vcpu_get_state)(struct vcpu *vcpu, struct x86_cpu_state *st);
	/* Enters the guest; returns when an exit needs the generic loop. */
	enum vcpu_action (*vcpu_run)(struct vcpu *vcpu);
	/* Makes vcpu_run return soon; callable from any thread. */
	void (*vcpu_kick)(struct vcpu *vcpu);
	/* Drives interrupt line gsi (ISA IRQs are GSIs 0-15) to level. */
	void (*irq_set)(struct vm *vm, unsigned gsi, int level);
	/*
	 * Optional (NULL: kite's MMIO handler signals fd itself). Signals eventfd
	 * fd when the guest writes len bytes equal to datamatch at MMIO address
	 * gpa, without leaving the engine (KVM_IOEVENTFD); assign false removes it.
	 */
	int (*ioeventfd_set)(struct vm *vm, uint64_t gpa, unsigned len, uint64_t datamatch,
			     int fd, bool assign);
	/*
	 * Optional (NULL: the device calls irq_set). Drives level-triggered line
	 * gsi from eventfds without a system call into kite (KVM_IRQFD with a
	 * resampler): a signal on trigger_fd asserts the line; when the guest
	 * ends the interrupt (EOI) the engine lowers it and signals resample_fd,
	 * and the device asserts it again if its condition still holds.
	 */
	int (*irqfd_set)(struct vm *vm, unsigned gsi, int trigger_fd, int resample_fd);
	/*
	 * Optional. Something other than a vCPU (device DMA) wrote guest RAM at
	 * host range [hva, hva + len); an engine that caches decoded guest code
	 * forgets what it decoded from there. Callable from any thread.
	 */
	void (*memory_written)(struct vm *vm, const void *hva, uint64_t len);
	/*
	 * Optional. vm_pause() calls vm_pause once every vCPU is parked and
	 * every device quiesced, just before the VM's clock stops: the engine
	 * stops its own timer threads and keeps what the guest's clock needs
	 * (KVM_GET_CLOCK). vm_resume() calls vm_resume just after the clock
	 * runs again, before any device or vCPU does.
	 */
	void (*vm_pause)(struct vm *vm);
	void (*vm_resume)(struct vm *vm);
	/*
	 * Optional. The vCPU's counters (docs/metrics.md) into out[0..max),
	 * returning how many; called from any thread while the vCPU runs.
	 */
	unsigned (*vcpu_metrics)(struct vcpu *vcpu, struct metric *out, unsigned max);
};

/*
 * The VM's clock (docs/design.md, "Time"): the host's CLOCK_MONOTONIC less
 * the time the VM spent paused, standing still while it is paused. Every
 * time source the guest reads from kite (the soft engine's TSC and
 * kvm-clock, the LAPIC timer, PIT, HPET, ACPI PM timer) and every timer
 * deadline of theirs counts in it, so a paused VM's time does not jump on
 * resume. All zeroes is a valid running clock equal to CLOCK_MONOTONIC.
 */
struct vm_clock {
	_Atomic uint32_t seq;	    /* odd while vm_pause/vm_resume change the rest */
	_Atomic bool frozen;	    /* the VM is paused: the clock reads frozen_ns */
	_Atomic uint64_t frozen_ns;
	_Atomic uint64_t paused_ns; /* host time not counted: the pauses so far */
};

struct vm {
	struct vm_config cfg;
	struct guest_memory mem;
	struct io_bus pio;
	struct io_bus mmio;
	struct device *devices; /* creation order */
	struct device *console; /* receives host stdin */
	/* Feeds host input to console; returns the bytes it took (flow control). */
	size_t (*console_input)(struct device *console, const uint8_t *buf, size_t len);
	struct iothread *iothread; /* virtio queue processing (backend/backend.h) */
	const struct engine_ops *engine;
	void *engine_data;
	struct vcpu vcpus[VM_MAX_VCPUS];
	unsigned nr_vcpus;
	struct x86_cpu_state boot_state; /* BSP entry state from the loader */
	int console_out_fd;
	_Atomic int stop_reason;  /* enum vm_stop_reason; first writer wins */
	int stop_eventfd;	  /* written once the VM must stop */
	_Atomic int debug_exit_status; /* with VM_STOP_DEBUG_EXIT; -1 before */
	struct vm_clock clock;
	_Atomic bool paused; /* between vm_pause() and vm_resume() */
};

/* The engines kite was built with. */
extern const struct engine_ops kvm_engine;
extern const struct engine_ops soft_engine;

/*
 * The steps builder/ takes to make a machine (builder_vm_create), in its
 * order; vm/ itself creates no device. vm_destroy() undoes any prefix of them.
 */
/* An empty machine: cfg copied, buses, the stop eventfd; no memory yet. */
int vm_init(struct vm *vm, const struct vm_config *cfg, int console_out_fd, struct err *err);
/* Creates engine's VM-wide state over vm->mem and checks it runs nr_vcpus here. */
int vm_engine_create(struct vm *vm, const struct engine_ops *engine, struct err *err);
/* Realizes every added device, in creation order. */
int vm_devices_realize(struct vm *vm, struct err *err);
/* Creates the vCPUs; the BSP starts from vm->boot_state, the others wait for INIT/SIPI. */
int vm_vcpus_create(struct vm *vm, struct err *err);

/* Starts one thread per vCPU. */
int vm_start(struct vm *vm, struct err *err);

/*
 * Asks the VM to stop for reason; the first reason wins. Callable from any
 * thread (devices, vCPUs, signal handling). Wakes vm->stop_eventfd.
 */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason);
/* The same for isa-debug-exit: kite then exits with status (0-255), unless a reason came first. */
void vm_request_debug_exit(struct vm *vm, int status);

/* Kicks, joins and destroys everything; safe after a partial build. */
void vm_destroy(struct vm *vm);

/*
 * Pauses the VM: every vCPU parks at an instruction boundary, then every
 * device quiesces (requests in flight complete; no new one starts, so
 * nothing touches guest memory or raises an interrupt), then the engine
 * and the VM's clock stop. Returns once all that is done. vm_resume()
 * undoes it in reverse order; the guest's clock goes on from where it
 * stopped. Both are called from one thread (the API's or main's); a second
 * pause, or a resume of a running VM, does nothing. Pausing and resuming
 * may repeat any number of times.
 */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);

/* The VM's clock in nanoseconds (struct vm_clock); callable from any thread, lock-free. */
uint64_t vm_clock_ns(struct vm *vm);
/*
 * The CLOCK_MONOTONIC time at which vm_clock_ns() reaches vm_ns, for a thread
 * that sleeps on a deadline; UINT64_MAX for UINT64_MAX and while the VM is
 * paused (nothing is due then: a sleeper must be woken by the resume path).
 */
uint64_t vm_clock_host_ns(struct vm *vm, uint64_t vm_ns);
/* Stops and restarts the clock (vm_pause/vm_resume do it; tests may too). */
void vm_clock_freeze(struct vm *vm);
void vm_clock_thaw(struct vm *vm);
/* Host time the VM's clock did not count so far: the time spent paused. */
uint64_t vm_clock_paused_ns(struct vm *vm);

/*
 * The VM's counters as one new JSON object (docs/metrics.md):
 * {"vm": {...}, "vcpus": [{...}, ...], "devices": {"NAME": {...}, ...}}.
 * Callable from any thread once the VM is built, running or paused;
 * counters are read as they are, so one may be a little behind another.
 * The caller owns *out (json_object_put). 0, or -ENOMEM.
 */
int vm_metrics_json(struct vm *vm, struct json_object **out);

/* Device helpers. */
void vm_add_device(struct vm *vm, struct device *dev);
static inline void vm_irq_set(struct vm *vm, unsigned gsi, int level)
{
	vm->engine->irq_set(vm, gsi, level);
}

static inline void vm_memory_written(struct vm *vm, const void *hva, uint64_t len)
{
	if (vm->engine && vm->engine->memory_written)
		vm->engine->memory_written(vm, hva, len);
}

/* True when the host CPU reports VMX or SVM (what --accel auto checks). */
bool host_has_hw_virt(void);

/* Interrupts a blocking call in the vCPU's thread (engines' kick helper). */
void vcpu_send_kick(struct vcpu *vcpu);

/* Exit status kite should end with for the reason the VM stopped. */
int vm_exit_status(const struct vm *vm);

/* Formats a vCPU's registers on one line (for fatal exits). */
void vm_format_cpu_state(const struct x86_cpu_state *st, char *buf, unsigned len);

#endif
