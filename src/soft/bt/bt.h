/*
 * soft/bt/bt.h: the soft engine's binary translator. 64-bit guest code is
 * translated block by block into host code in a per-vCPU code cache: most
 * integer instructions are copied as they are, with the guest's registers
 * and arithmetic flags in the host's; memory operands become an inline
 * lookup in the CPU's TLB; whatever else runs through the interpreter's
 * handler for that one instruction. The interpreter runs everything the
 * translator leaves (other modes, single-stepping, short budgets).
 */
#ifndef KITE_SOFT_BT_BT_H
#define KITE_SOFT_BT_BT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cpu;

/* The default code cache per vCPU, and the bounds --soft-code-cache takes. */
#define BT_CACHE_DEFAULT (64u << 20)
#define BT_CACHE_MIN	 (1u << 20)
#define BT_CACHE_MAX	 (1024u << 20)

/*
 * Whether this host can run translated code (an x86-64 host with LAHF/SAHF
 * in 64-bit mode); when not, *why says what is missing.
 */
bool bt_host_supported(const char **why);

/*
 * Gives cpu a translator with a code cache of cache_size bytes (never
 * writable and executable at once: two views of one memory file). Returns 0
 * or a negative errno.
 */
int bt_create(struct cpu *cpu, size_t cache_size);
void bt_destroy(struct cpu *cpu);

/* Drops every translation (the code cache starts empty). */
void bt_flush(struct cpu *cpu);

/*
 * Runs cpu until instruction count end as cpu_run does, translated where it
 * can. Returns an enum cpu_exit, or CPU_EXIT_RESELECT when the CPU left
 * 64-bit mode (or began single-stepping) and the interpreter must take over.
 */
int bt_run(struct cpu *cpu, uint64_t end);

/* cpu_run's fault path: counts the instructions translated code retired. */
void bt_fault_account(struct cpu *cpu);

/* Counters for benchmarks and logs. */
struct bt_stats {
	uint64_t blocks;      /* translated */
	uint64_t guest_bytes; /* of guest code they cover */
	uint64_t code_bytes;  /* of host code they produced */
	uint64_t flushes;     /* of the whole cache, when it filled up */
	uint64_t translate_ns;
	uint64_t helper_calls; /* instructions run by the interpreter from translated code */
	uint64_t entries;      /* from the dispatcher into translated code */
};
void bt_get_stats(const struct cpu *cpu, struct bt_stats *st);

#endif
