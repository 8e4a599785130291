/* tests/unit/test_vm.c: the vCPU state machine and VM stop, with a fake engine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <cmocka.h>

#include "vm/vm.h"

static _Atomic uint64_t runs[VM_MAX_VCPUS];

static unsigned fake_max_vcpus(struct vm *vm)
{
	(void)vm;
	return 4;
}

static enum vcpu_action fake_run(struct vcpu *vcpu)
{
	atomic_fetch_add(&runs[vcpu->id], 1);
	usleep(100);
	return VCPU_CONTINUE;
}

static void fake_kick(struct vcpu *vcpu)
{
	(void)vcpu;
}

static void fake_irq(struct vm *vm, unsigned gsi, int level)
{
	(void)vm;
	(void)gsi;
	(void)level;
}

static const struct engine_ops fake_engine = {
	.name = "fake",
	.max_vcpus = fake_max_vcpus,
	.vcpu_run = fake_run,
	.vcpu_kick = fake_kick,
	.irq_set = fake_irq,
};

static void vm_fake_init(struct vm *vm, unsigned nr)
{
	memset(vm, 0, sizeof(*vm));
	vm->engine = &fake_engine;
	vm->nr_vcpus = nr;
	vm->stop_eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (unsigned i = 0; i < nr; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
		atomic_store(&vm->vcpus[i].requested, -1);
		pthread_mutex_init(&vm->vcpus[i].lock, NULL);
		pthread_cond_init(&vm->vcpus[i].cond, NULL);
		atomic_store(&runs[i], 0);
	}
}

static void wait_runs(unsigned id, uint64_t above)
{
	for (int i = 0; i < 2000 && atomic_load(&runs[id]) <= above; i++)
		usleep(1000);
}

static void test_pause_resume_stop(void **state)
{
	struct vm vm;
	struct err err = { 0 };
	uint64_t before[2], value;

	(void)state;
	vm_fake_init(&vm, 2);
	assert_int_equal(vm_start(&vm, &err), 0);
	wait_runs(0, 0);
	wait_runs(1, 0);
	assert_true(atomic_load(&runs[0]) > 0 && atomic_load(&runs[1]) > 0);

	vm_pause(&vm);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(atomic_load(&vm.vcpus[i].state), VCPU_PAUSED);
		before[i] = atomic_load(&runs[i]);
	}
	usleep(20000);
	for (int i = 0; i < 2; i++)
		assert_int_equal(atomic_load(&runs[i]), before[i]);

	vm_resume(&vm);
	wait_runs(0, before[0]);
	wait_runs(1, before[1]);
	assert_true(atomic_load(&runs[0]) > before[0]);
	assert_true(atomic_load(&runs[1]) > before[1]);

	/* The first reason wins and wakes the stop eventfd. */
	vm_request_stop(&vm, VM_STOP_POWEROFF);
	vm_request_stop(&vm, VM_STOP_ERROR);
	assert_int_equal(read(vm.stop_eventfd, &value, sizeof(value)), sizeof(value));
	assert_int_equal(atomic_load(&vm.stop_reason), VM_STOP_POWEROFF);
	vm_destroy(&vm);
	assert_int_equal(atomic_load(&vm.vcpus[0].state), VCPU_STOPPED);
	assert_int_equal(atomic_load(&vm.vcpus[1].state), VCPU_STOPPED);
	assert_int_equal(vm_exit_status(&vm), KITE_EXIT_OK);
}

static void test_error_stop_status(void **state)
{
	struct vm vm;
	struct err err = { 0 };

	(void)state;
	vm_fake_init(&vm, 1);
	assert_int_equal(vm_start(&vm, &err), 0);
	wait_runs(0, 0);
	vm_request_stop(&vm, VM_STOP_ERROR);
	vm_destroy(&vm);
	assert_int_equal(vm_exit_status(&vm), KITE_EXIT_GUEST_FAULT);
}

static void test_stop_while_paused(void **state)
{
	struct vm vm;
	struct err err = { 0 };

	(void)state;
	vm_fake_init(&vm, 2);
	assert_int_equal(vm_start(&vm, &err), 0);
	vm_pause(&vm);
	/* A paused VM still stops: parked threads wake and exit. */
	vm_request_stop(&vm, VM_STOP_SIGNAL);
	vm_destroy(&vm);
	assert_int_equal(atomic_load(&vm.vcpus[0].state), VCPU_STOPPED);
	assert_int_equal(vm_exit_status(&vm), KITE_EXIT_OK);
}

static void test_format_cpu_state(void **state)
{
	struct x86_cpu_state st = { .rip = 0x100200, .cr0 = 0x80000011 };
	char buf[1024];

	(void)state;
	st.gpr[X86_RSP] = 0x8ff0;
	vm_format_cpu_state(&st, buf, sizeof(buf));
	assert_non_null(strstr(buf, "rip=0000000000100200"));
	assert_non_null(strstr(buf, "rsp=8ff0"));
	assert_non_null(strstr(buf, "cr0=80000011"));
	/* A short buffer is cut, never overrun. */
	vm_format_cpu_state(&st, buf, 16);
	assert_int_equal(strlen(buf), 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pause_resume_stop),
		cmocka_unit_test(test_error_stop_status),
		cmocka_unit_test(test_stop_while_paused),
		cmocka_unit_test(test_format_cpu_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
