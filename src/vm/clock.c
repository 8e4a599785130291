/* vm/clock.c: the VM's clock: the host's monotonic time less the time the VM spent paused. */
#include "vm/vm.h"

#include "base/log.h"

/*
 * A sequence lock: readers (vCPUs reading the TSC, device threads) never
 * block and never write; the one writer (vm_pause/vm_resume) makes seq odd
 * while it changes the fields. A reader that saw it odd or changed retries.
 * Reading the host clock inside the loop matters: a value taken before a
 * resume could combine with the new offset into a time before the pause.
 */
uint64_t vm_clock_ns(struct vm *vm)
{
	struct vm_clock *c = &vm->clock;
	uint64_t v;
	uint32_t s;

	for (;;) {
		s = atomic_load_explicit(&c->seq, memory_order_acquire);
		if (atomic_load_explicit(&c->frozen, memory_order_relaxed))
			v = atomic_load_explicit(&c->frozen_ns, memory_order_relaxed);
		else
			v = clock_monotonic_ns() -
			    atomic_load_explicit(&c->paused_ns, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (!(s & 1) && atomic_load_explicit(&c->seq, memory_order_relaxed) == s)
			return v;
	}
}

uint64_t vm_clock_host_ns(struct vm *vm, uint64_t vm_ns)
{
	struct vm_clock *c = &vm->clock;
	uint64_t host, paused;
	bool frozen;
	uint32_t s;

	do {
		s = atomic_load_explicit(&c->seq, memory_order_acquire);
		frozen = atomic_load_explicit(&c->frozen, memory_order_relaxed);
		paused = atomic_load_explicit(&c->paused_ns, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
	} while ((s & 1) || atomic_load_explicit(&c->seq, memory_order_relaxed) != s);
	if (frozen || vm_ns == UINT64_MAX || __builtin_add_overflow(vm_ns, paused, &host))
		return UINT64_MAX;
	return host;
}

static void clock_write_begin(struct vm_clock *c)
{
	uint32_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);

	atomic_store_explicit(&c->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void clock_write_end(struct vm_clock *c)
{
	uint32_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);

	atomic_store_explicit(&c->seq, s + 1, memory_order_release);
}

void vm_clock_freeze(struct vm *vm)
{
	struct vm_clock *c = &vm->clock;
	uint64_t now = clock_monotonic_ns();

	if (atomic_load(&c->frozen))
		return;
	clock_write_begin(c);
	atomic_store_explicit(&c->frozen_ns,
			      now - atomic_load_explicit(&c->paused_ns, memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(&c->frozen, true, memory_order_relaxed);
	clock_write_end(c);
}

void vm_clock_thaw(struct vm *vm)
{
	struct vm_clock *c = &vm->clock;
	uint64_t now = clock_monotonic_ns();

	if (!atomic_load(&c->frozen))
		return;
	clock_write_begin(c);
	/* From now on the clock reads frozen_ns + (host time since now). */
	atomic_store_explicit(&c->paused_ns,
			      now - atomic_load_explicit(&c->frozen_ns, memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(&c->frozen, false, memory_order_relaxed);
	clock_write_end(c);
}

uint64_t vm_clock_paused_ns(struct vm *vm)
{
	uint64_t now = clock_monotonic_ns(), v = vm_clock_ns(vm);

	return now > v ? now - v : 0;
}
