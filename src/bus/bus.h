/* bus/bus.h: the I/O bus: one handler signature serves port I/O and MMIO. */
#ifndef KITE_BUS_BUS_H
#define KITE_BUS_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

/*
 * A guest access to [base + offset, +len). For reads the handler fills
 * data[0..len); for writes it consumes it. len is 1, 2, 4 or 8. Handlers run
 * on vCPU threads, possibly several at once: a device locks its own state.
 * A guest access cannot fail; a handler ignores what it does not support.
 */
typedef void (*io_handler_fn)(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			      bool is_write);

struct io_region {
	uint64_t base;
	uint64_t len;
	io_handler_fn handler;
	void *opaque;
	const char *name;
};

#define IO_BUS_MAX_REGIONS 64

/*
 * Regions are registered while the machine is built and never change while
 * vCPUs run, so dispatch reads the sorted table without a lock.
 */
struct io_bus {
	const char *name; /* "pio" or "mmio" */
	struct io_region regions[IO_BUS_MAX_REGIONS];
	unsigned nr_regions;
	_Atomic uint64_t unclaimed_reads;
	_Atomic uint64_t unclaimed_writes;
};

void io_bus_init(struct io_bus *bus, const char *name);

/*
 * Claims [base, base+len) for handler. Fails with -EINVAL for an empty or
 * wrapping range, -EEXIST when it overlaps a registered region (err names
 * both), -ENOSPC when the table is full.
 */
int io_bus_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn handler,
		    void *opaque, const char *name, struct err *err);

/*
 * Routes one access. An access no region claims whole (including one that
 * straddles a region's end) reads as all-ones and a write is dropped; both are
 * counted, never fatal. Returns true when a region handled it.
 */
bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, unsigned len,
		     bool is_write);

/* The region containing addr, or NULL. */
const struct io_region *io_bus_find(const struct io_bus *bus, uint64_t addr);

#endif
