/* vm/vm.c: the VM core: devices register here, one thread runs each vCPU, and it all tears down. */
#include "vm/vm.h"

#include <cpuid.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* A vCPU thread's stack at least: see vm_start. */
#define VCPU_STACK_SIZE (8u << 20)

/* The signal that interrupts a vCPU thread inside the engine. */
#define VCPU_KICK_SIGNAL SIGUSR1

bool host_has_hw_virt(void)
{
	unsigned int eax, ebx, ecx, edx;

	if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 5)))
		return true; /* VMX */
	if (__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 2)))
		return true; /* SVM */
	return false;
}

void vm_add_device(struct vm *vm, struct device *dev)
{
	struct device **tail = &vm->devices;

	while (*tail)
		tail = &(*tail)->next;
	dev->next = NULL;
	*tail = dev;
}

int vm_init(struct vm *vm, const struct vm_config *cfg, int console_out_fd, struct err *err)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = *cfg;
	vm->console_out_fd = console_out_fd;
	vm->nr_vcpus = cfg->nr_cpus;
	io_bus_init(&vm->pio, "pio");
	io_bus_init(&vm->mmio, "mmio");
	atomic_store(&vm->stop_reason, VM_STOP_NONE);
	atomic_store(&vm->debug_exit_status, -1);
	vm->stop_eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_eventfd < 0)
		return err_set(err, -errno, "eventfd: %s", strerror(errno));
	return 0;
}

int vm_engine_create(struct vm *vm, const struct engine_ops *engine, struct err *err)
{
	unsigned max;
	int rc;

	vm->engine = engine;
	rc = vm->engine->vm_create(vm, err);
	if (rc < 0)
		return rc;
	max = vm->engine->max_vcpus(vm);
	if (vm->nr_vcpus > max)
		return err_set(err, -EINVAL, "--cpus: %u is more than the %s engine supports here (%u)",
			       vm->nr_vcpus, vm->engine->name, max);
	return 0;
}

int vm_devices_realize(struct vm *vm, struct err *err)
{
	for (struct device *dev = vm->devices; dev; dev = dev->next) {
		int rc = dev->ops->realize ? dev->ops->realize(dev, err) : 0;

		if (rc < 0)
			return err_wrap(err, "device %s", dev->name);
	}
	return 0;
}

int vm_vcpus_create(struct vm *vm, struct err *err)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];
		int rc;

		vcpu->vm = vm;
		vcpu->id = i;
		atomic_store(&vcpu->state, VCPU_CREATED);
		atomic_store(&vcpu->requested, -1);
		pthread_mutex_init(&vcpu->lock, NULL);
		pthread_cond_init(&vcpu->cond, NULL);
		rc = vm->engine->vcpu_create(vcpu, err);
		if (rc < 0)
			return err_wrap(err, "vcpu %u", i);
	}
	/* Secondary vCPUs wait for INIT/SIPI; only the BSP gets the loader's state. */
	return vm->engine->vcpu_set_state(&vm->vcpus[0], &vm->boot_state, err);
}

static void vcpu_kick_handler(int sig)
{
	(void)sig; /* Only interrupts a blocking call in the vCPU thread. */
}

static void vcpu_park(struct vcpu *vcpu)
{
	pthread_mutex_lock(&vcpu->lock);
	atomic_store(&vcpu->state, VCPU_PAUSED);
	pthread_cond_broadcast(&vcpu->cond);
	while (atomic_load(&vcpu->requested) == VCPU_PAUSED &&
	       atomic_load(&vcpu->vm->stop_reason) == VM_STOP_NONE)
		pthread_cond_wait(&vcpu->cond, &vcpu->lock);
	atomic_store(&vcpu->state, VCPU_RUNNING);
	pthread_cond_broadcast(&vcpu->cond);
	pthread_mutex_unlock(&vcpu->lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t kick;

	vcpu->self = pthread_self();
	atomic_store(&vcpu->has_self, true);
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	atomic_store(&vcpu->state, VCPU_RUNNING);
	while (atomic_load(&vm->stop_reason) == VM_STOP_NONE) {
		if (atomic_load(&vcpu->requested) == VCPU_PAUSED) {
			vcpu_park(vcpu);
			continue;
		}
		if (vm->engine->vcpu_run(vcpu) == VCPU_STOP)
			break;
	}
	pthread_mutex_lock(&vcpu->lock);
	atomic_store(&vcpu->state, VCPU_STOPPED);
	pthread_cond_broadcast(&vcpu->cond); /* a vm_pause() waiting on us */
	pthread_mutex_unlock(&vcpu->lock);
	return NULL;
}

int vm_start(struct vm *vm, struct err *err)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };
	pthread_attr_t attr;
	sigset_t kick, old;
	size_t stack = 0;

	/*
	 * A stack of known size, whatever ulimit -s says: the soft engine's
	 * translated code keeps a return stack on it (up to 512 KiB).
	 */
	pthread_attr_init(&attr);
	if (pthread_attr_getstacksize(&attr, &stack) || stack < VCPU_STACK_SIZE)
		pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0) {
		pthread_attr_destroy(&attr);
		return err_set(err, -errno, "sigaction: %s", strerror(errno));
	}
	/* Threads start with the kick blocked and unblock it themselves. */
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &kick, &old);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];
		int rc = pthread_create(&vcpu->thread, &attr, vcpu_thread, vcpu);

		if (rc) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			pthread_attr_destroy(&attr);
			return err_set(err, -rc, "vcpu %u: cannot start thread: %s", i, strerror(rc));
		}
		vcpu->thread_started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return 0;
}

void vcpu_send_kick(struct vcpu *vcpu)
{
	if (atomic_load(&vcpu->has_self))
		pthread_kill(vcpu->self, VCPU_KICK_SIGNAL);
}

/*
 * Kicks every vCPU the engine knows, started or not: a thread that starts
 * after this sees the request in its first look at the mailbox.
 */
static void vcpus_kick_all(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (!vcpu->vm)
			continue; /* never created */
		pthread_mutex_lock(&vcpu->lock);
		pthread_cond_broadcast(&vcpu->cond);
		pthread_mutex_unlock(&vcpu->lock);
		if (vcpu->engine_data)
			vm->engine->vcpu_kick(vcpu);
	}
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason)
{
	int expected = VM_STOP_NONE;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&vm->stop_reason, &expected, reason))
		return;
	if (vm->engine)
		vcpus_kick_all(vm);
	if (vm->stop_eventfd >= 0 && write(vm->stop_eventfd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow from one write; nothing to do. */
	}
}

void vm_request_debug_exit(struct vm *vm, int status)
{
	int none = -1;

	/* The first write's status stands, as the first stop reason does. */
	if (atomic_compare_exchange_strong(&vm->debug_exit_status, &none, status))
		vm_request_stop(vm, VM_STOP_DEBUG_EXIT);
}

/*
 * vCPUs first: once they are parked no MMIO or port access is under way, so
 * a device's pause sees its registers still and only its back-end's work
 * to drain. The clock stops last, so no vCPU or device ever reads it frozen
 * while it still runs.
 */
void vm_pause(struct vm *vm)
{
	bool running = false;

	if (!atomic_compare_exchange_strong(&vm->paused, &running, true))
		return;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		atomic_store(&vcpu->requested, VCPU_PAUSED);
		if (vcpu->engine_data)
			vm->engine->vcpu_kick(vcpu);
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (!vcpu->thread_started)
			continue;
		pthread_mutex_lock(&vcpu->lock);
		/* A thread still starting up parks at its first look at the mailbox. */
		while (atomic_load(&vcpu->state) == VCPU_RUNNING ||
		       atomic_load(&vcpu->state) == VCPU_CREATED)
			pthread_cond_wait(&vcpu->cond, &vcpu->lock);
		pthread_mutex_unlock(&vcpu->lock);
	}
	for (struct device *dev = vm->devices; dev; dev = dev->next)
		if (dev->ops->pause)
			dev->ops->pause(dev);
	if (vm->engine && vm->engine->vm_pause)
		vm->engine->vm_pause(vm);
	vm_clock_freeze(vm);
}

void vm_resume(struct vm *vm)
{
	bool paused = true;

	if (!atomic_compare_exchange_strong(&vm->paused, &paused, false))
		return;
	vm_clock_thaw(vm);
	if (vm->engine && vm->engine->vm_resume)
		vm->engine->vm_resume(vm);
	for (struct device *dev = vm->devices; dev; dev = dev->next)
		if (dev->ops->resume)
			dev->ops->resume(dev);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		pthread_mutex_lock(&vcpu->lock);
		atomic_store(&vcpu->requested, -1);
		pthread_cond_broadcast(&vcpu->cond);
		pthread_mutex_unlock(&vcpu->lock);
	}
}

bool vm_is_paused(struct vm *vm)
{
	return atomic_load(&vm->paused);
}

void vm_destroy(struct vm *vm)
{
	struct device *dev, *next;

	vm_request_stop(vm, VM_STOP_SIGNAL);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->thread_started) {
			pthread_join(vcpu->thread, NULL);
			vcpu->thread_started = false;
			atomic_store(&vcpu->has_self, false);
		}
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->engine_data && vm->engine)
			vm->engine->vcpu_destroy(vcpu);
		if (vcpu->vm) {
			pthread_mutex_destroy(&vcpu->lock);
			pthread_cond_destroy(&vcpu->cond);
		}
	}
	for (dev = vm->devices; dev; dev = next) {
		next = dev->next;
		if (dev->ops->destroy)
			dev->ops->destroy(dev);
	}
	vm->devices = NULL;
	if (vm->engine && vm->engine_data)
		vm->engine->vm_destroy(vm);
	memory_destroy(&vm->mem);
	if (vm->stop_eventfd >= 0)
		close(vm->stop_eventfd);
	vm->stop_eventfd = -1;
}

int vm_exit_status(const struct vm *vm)
{
	switch (atomic_load(&vm->stop_reason)) {
	case VM_STOP_ERROR:
		return KITE_EXIT_GUEST_FAULT;
	case VM_STOP_PANIC:
		return KITE_EXIT_GUEST_PANIC;
	case VM_STOP_DEBUG_EXIT:
		return atomic_load(&vm->debug_exit_status);
	default:
		return KITE_EXIT_OK;
	}
}

static void format_seg(char *buf, size_t len, const char *name, const struct x86_segment *s)
{
	snprintf(buf, len, " %s=%04x/%" PRIx64 "/%x/%x", name, s->selector, s->base, s->limit,
		 s->type | (s->l << 5) | (s->db << 6));
}

void vm_format_cpu_state(const struct x86_cpu_state *st, char *buf, unsigned len)
{
	static const char *const names[X86_NR_GPRS] = {
		"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
	};
	size_t n;

	n = (size_t)snprintf(buf, len,
			     "rip=%016" PRIx64 " rflags=%08" PRIx64 " cr0=%08" PRIx64
			     " cr2=%016" PRIx64 " cr3=%016" PRIx64 " cr4=%08" PRIx64
			     " efer=%04" PRIx64,
			     st->rip, st->rflags, st->cr0, st->cr2, st->cr3, st->cr4, st->efer);
	for (unsigned i = 0; i < X86_NR_GPRS && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, " %s=%" PRIx64, names[i], st->gpr[i]);
	if (n < len)
		format_seg(buf + n, len - n, "cs", &st->cs);
	n = strlen(buf);
	if (n < len)
		format_seg(buf + n, len - n, "ss", &st->ss);
}
