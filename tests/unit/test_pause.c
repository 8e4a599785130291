/* tests/unit/test_pause.c: pause and resume a running guest; its clocks must not jump. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "base/log.h"
#include "builder/builder.h"
#include "kvm/kvm.h"
#include "vm/vm.h"

/* What tests/guests/clock.S publishes. */
#define CLOCK_AREA 0x01000000ull
#define AREA_SIZE 96
#define FLAG_KVMCLOCK 1u
#define FLAG_SAMPLING 2u
#define OFF_PVCLOCK 64

#define MS 1000000ull
#define PAUSE_NS (300 * MS)
/* A jump of a third of the pause fails; scheduling noise on a shared host stays well below. */
#define JUMP_MAX_NS (100 * MS)
#define PM_HZ 3579545ull
#define HPET_NS_PER_TICK 10ull

struct sample {
	uint64_t host_ns; /* CLOCK_MONOTONIC just after the read */
	uint32_t flags;
	uint64_t tsc;
	uint32_t pm;
	uint32_t hpet;
	uint32_t lapic; /* the timer's current count, down from 2^32 - 1 at 1 GHz */
	uint64_t kvmclock_ns; /* with FLAG_KVMCLOCK: kvm-clock at tsc */
};

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static uint32_t get32(const volatile uint8_t *p)
{
	uint32_t v;

	memcpy(&v, (const void *)p, sizeof(v));
	return v;
}

static uint64_t get64(const volatile uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* kvm-clock at tsc from pvclock_vcpu_time_info, as a guest computes it. */
static uint64_t kvmclock_at(const volatile uint8_t *pv, uint64_t tsc)
{
	uint64_t stamp = get64(pv + 8), system_time = get64(pv + 16), delta;
	uint32_t mul = get32(pv + 24);
	int8_t shift = (int8_t)pv[28];

	delta = tsc - stamp;
	delta = shift < 0 ? delta >> -shift : delta << shift;
	return system_time + (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

/*
 * One consistent round of the guest's loop (its sequence count even and
 * unchanged), waiting up to a second for one; with any, whatever is there
 * (a paused guest may have stopped between its stores).
 */
static bool sample_read_how(struct vm *vm, struct sample *s, bool any)
{
	volatile uint8_t *a = gpa_to_hva(&vm->mem, CLOCK_AREA, AREA_SIZE);
	uint64_t start = clock_monotonic_ns();

	while (clock_monotonic_ns() - start < 1000 * MS) {
		uint32_t seq = get32(a), pv_version;

		atomic_thread_fence(memory_order_acquire);
		s->flags = get32(a + 4);
		s->tsc = get64(a + 8);
		s->pm = get32(a + 16);
		s->hpet = get32(a + 20);
		s->lapic = get32(a + 24);
		pv_version = get32(a + OFF_PVCLOCK);
		if (s->flags & FLAG_KVMCLOCK)
			s->kvmclock_ns = kvmclock_at(a + OFF_PVCLOCK, s->tsc);
		atomic_thread_fence(memory_order_acquire);
		if (any || (!(seq & 1) && get32(a) == seq && !(pv_version & 1) &&
			    get32(a + OFF_PVCLOCK) == pv_version)) {
			s->host_ns = clock_monotonic_ns();
			return true;
		}
	}
	return false;
}

static bool sample_read(struct vm *vm, struct sample *s)
{
	return sample_read_how(vm, s, false);
}

static struct vm *guest_start(enum vm_accel accel, enum vm_soft_cpu cpu)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	struct vm_config cfg;
	struct err err = { 0 };
	struct sample s;
	struct vm *vm;
	int out;

	config_init(&cfg);
	snprintf(cfg.kernel_path, sizeof(cfg.kernel_path), "%s/guests/clock.elf", build);
	if (access(cfg.kernel_path, R_OK) != 0)
		return NULL;
	cfg.mem_size = 64 << 20;
	cfg.rng = false;
	cfg.accel = accel;
	cfg.soft_cpu = cpu;
	out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(out >= 0);
	vm = calloc(1, sizeof(*vm));
	assert_non_null(vm);
	if (builder_vm_create(vm, &cfg, out, &err) < 0 || vm_start(vm, &err) < 0)
		fail_msg("building the clock guest: %s", err.msg);
	for (int i = 0; i < 5000; i++) {
		if (sample_read(vm, &s) && (s.flags & FLAG_SAMPLING))
			return vm;
		sleep_ns(MS);
	}
	fail_msg("the clock guest never started sampling");
	return NULL;
}

static void guest_stop(struct vm *vm)
{
	int out = vm->console_out_fd;

	vm_destroy(vm);
	free(vm);
	close(out);
}

/*
 * Guest time between two samples that straddle a pause, less the host time
 * the guest ran meanwhile: how far the guest's clock jumped. Printed, then
 * checked.
 */
static void jump_check(const char *engine, const char *clock, uint64_t guest_ns,
		       uint64_t host_ns, uint64_t paused_ns)
{
	int64_t jump = (int64_t)guest_ns - (int64_t)(host_ns - paused_ns);

	print_message("%s: %s: %.1f ms of guest time over %.1f ms of host time with %.1f ms "
		      "paused: a jump of %+.1f ms\n",
		      engine, clock, guest_ns / 1e6, host_ns / 1e6, paused_ns / 1e6, jump / 1e6);
	assert_true(guest_ns > 0);
	assert_true(jump < (int64_t)JUMP_MAX_NS);
}

/* root.section[.index].name as a number; fails the test when absent. */
static uint64_t json_u64(struct json_object *root, const char *section, int index,
			 const char *name)
{
	struct json_object *o, *v;

	if (!json_object_object_get_ex(root, section, &o))
		fail_msg("metrics: no \"%s\"", section);
	if (index >= 0)
		o = json_object_array_get_idx(o, (size_t)index);
	if (!o || !json_object_object_get_ex(o, name, &v))
		fail_msg("metrics: no \"%s\" in \"%s\"", name, section);
	return json_object_get_uint64(v);
}

static uint64_t device_u64(struct json_object *root, const char *dev, const char *name)
{
	struct json_object *devs, *d, *v;

	if (!json_object_object_get_ex(root, "devices", &devs) ||
	    !json_object_object_get_ex(devs, dev, &d) || !json_object_object_get_ex(d, name, &v))
		fail_msg("metrics: no devices.%s.%s", dev, name);
	return json_object_get_uint64(v);
}

/* What the clock guest did shows in the counters, which only grow. */
static void metrics_check(struct vm *vm, enum vm_accel accel)
{
	struct json_object *a, *b;
	const char *io = accel == ACCEL_SOFT ? "pio" : "exit_io";
	const char *mmio = accel == ACCEL_SOFT ? "mmio" : "exit_mmio";

	assert_int_equal(vm_metrics_json(vm, &a), 0);
	sleep_ns(20 * MS);
	assert_int_equal(vm_metrics_json(vm, &b), 0);
	print_message("%s\n", json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
	/* The PM timer's port and the HPET's and LAPIC's registers, every round. */
	assert_true(json_u64(a, "vcpus", 0, io) > 100);
	assert_true(json_u64(a, "vcpus", 0, mmio) > 100);
	assert_true(json_u64(b, "vcpus", 0, io) > json_u64(a, "vcpus", 0, io));
	if (accel == ACCEL_SOFT) {
		assert_true(json_u64(b, "vcpus", 0, "instructions") >
			    json_u64(a, "vcpus", 0, "instructions"));
		assert_int_equal(json_u64(b, "vcpus", 0, "hlt"), 0);
	} else {
		assert_true(json_u64(b, "vcpus", 0, "exits") >=
			    json_u64(b, "vcpus", 0, "exit_io") + json_u64(b, "vcpus", 0, "exit_mmio"));
	}
	assert_int_equal(device_u64(b, "uart", "tx_bytes"), strlen("clock: sampling\n"));
	assert_int_equal(device_u64(b, "hpet", "interrupts"), 0);
	assert_true(json_u64(b, "vm", -1, "paused_ns") >= PAUSE_NS);
	json_object_put(a);
	json_object_put(b);
}

static void pause_case(const char *engine, enum vm_accel accel, enum vm_soft_cpu cpu)
{
	struct sample a, b, c;
	uint64_t paused_at, paused_ns;
	struct vm *vm = guest_start(accel, cpu);

	if (!vm)
		skip();
	sleep_ns(50 * MS);
	assert_true(sample_read(vm, &a));
	vm_pause(vm);
	assert_true(vm_is_paused(vm));
	paused_at = clock_monotonic_ns();
	/* Paused: the guest writes nothing, and the VM's clock stands still. */
	assert_true(sample_read_how(vm, &b, true));
	sleep_ns(PAUSE_NS);
	assert_true(sample_read_how(vm, &c, true));
	assert_int_equal(b.tsc, c.tsc);
	paused_ns = clock_monotonic_ns() - paused_at;
	vm_resume(vm);
	sleep_ns(100 * MS);
	assert_true(sample_read(vm, &b));
	assert_true(b.tsc != c.tsc); /* it runs again */

	/* The soft engine's TSC is the VM's clock at 1 GHz; KVM's runs on (kvm-clock does not). */
	if (accel == ACCEL_SOFT)
		jump_check(engine, "TSC", b.tsc - a.tsc, b.host_ns - a.host_ns, paused_ns);
	if (a.flags & FLAG_KVMCLOCK)
		jump_check(engine, "kvm-clock", b.kvmclock_ns - a.kvmclock_ns,
			   b.host_ns - a.host_ns, paused_ns);
	jump_check(engine, "PM timer", ((b.pm - a.pm) & 0xffffffu) * 1000000000ull / PM_HZ,
		   b.host_ns - a.host_ns, paused_ns);
	/* KVM's in-kernel LAPIC timer runs on host time, as under QEMU. */
	if (accel == ACCEL_SOFT)
		jump_check(engine, "LAPIC timer", (uint32_t)(a.lapic - b.lapic),
			   b.host_ns - a.host_ns, paused_ns);
	jump_check(engine, "HPET", (uint64_t)(uint32_t)(b.hpet - a.hpet) * HPET_NS_PER_TICK,
		   b.host_ns - a.host_ns, paused_ns);

	/* Many short pauses: each resumes, and no clock ever goes back. */
	for (int i = 0; i < 20; i++) {
		vm_pause(vm);
		vm_pause(vm); /* a second pause is a no-op */
		sleep_ns(2 * MS);
		vm_resume(vm);
		vm_resume(vm);
		sleep_ns(5 * MS);
		assert_true(sample_read(vm, &c));
		assert_true((int64_t)(c.tsc - b.tsc) >= 0);
		if (b.flags & FLAG_KVMCLOCK)
			assert_true((int64_t)(c.kvmclock_ns - b.kvmclock_ns) >= 0);
		b = c;
	}
	sleep_ns(20 * MS);
	assert_true(sample_read(vm, &c));
	assert_true(c.tsc != b.tsc);
	assert_int_equal(atomic_load(&vm->stop_reason), VM_STOP_NONE);
	metrics_check(vm, accel);
	guest_stop(vm);
}

static void test_pause_soft(void **state)
{
	(void)state;
	pause_case("soft", ACCEL_SOFT, SOFT_CPU_BT);
}

static void test_pause_interp(void **state)
{
	(void)state;
	pause_case("interp", ACCEL_SOFT, SOFT_CPU_INTERP);
}

static void test_pause_kvm(void **state)
{
	struct err err = { 0 };

	(void)state;
	if (kvm_probe("/dev/kvm", &err) < 0)
		skip();
	pause_case("kvm", ACCEL_KVM, SOFT_CPU_BT);
}

/* The clock itself: frozen while paused, then on from where it stopped. */
static void test_vm_clock(void **state)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	uint64_t t0, t1, t2, host;

	(void)state;
	assert_non_null(vm);
	t0 = vm_clock_ns(vm);
	assert_true(t0 <= clock_monotonic_ns());
	vm_clock_freeze(vm);
	t1 = vm_clock_ns(vm);
	assert_int_equal(vm_clock_host_ns(vm, t1 + MS), UINT64_MAX);
	sleep_ns(20 * MS);
	assert_int_equal(vm_clock_ns(vm), t1);
	vm_clock_thaw(vm);
	t2 = vm_clock_ns(vm);
	assert_true(t2 >= t1 && t2 - t1 < 10 * MS);
	assert_true(vm_clock_paused_ns(vm) >= 20 * MS);
	host = vm_clock_host_ns(vm, t2 + 5 * MS);
	assert_true(host >= clock_monotonic_ns() + 4 * MS);
	assert_int_equal(vm_clock_host_ns(vm, UINT64_MAX), UINT64_MAX);
	free(vm);
}

int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_clock),
		cmocka_unit_test(test_pause_soft),
		cmocka_unit_test(test_pause_interp),
		cmocka_unit_test(test_pause_kvm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
