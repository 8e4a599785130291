/* bus/bus.c: the I/O bus: one handler signature serves port I/O and MMIO. */
#include "bus/bus.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"

void io_bus_init(struct io_bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

int io_bus_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn handler,
		    void *opaque, const char *name, struct err *err)
{
	uint64_t end;
	unsigned pos;

	if (len == 0 || add_overflows(base, len, &end) || !handler)
		return err_set(err, -EINVAL, "%s: invalid region %s at %#llx+%#llx", bus->name, name,
			       (unsigned long long)base, (unsigned long long)len);
	if (bus->nr_regions == IO_BUS_MAX_REGIONS)
		return err_set(err, -ENOSPC, "%s: no room for region %s", bus->name, name);
	for (pos = 0; pos < bus->nr_regions; pos++) {
		const struct io_region *r = &bus->regions[pos];

		if (base < r->base + r->len && r->base < end)
			return err_set(err, -EEXIST, "%s: %s at %#llx+%#llx overlaps %s at %#llx+%#llx",
				       bus->name, name, (unsigned long long)base,
				       (unsigned long long)len, r->name,
				       (unsigned long long)r->base, (unsigned long long)r->len);
		if (r->base > base)
			break;
	}
	memmove(&bus->regions[pos + 1], &bus->regions[pos],
		(bus->nr_regions - pos) * sizeof(bus->regions[0]));
	bus->regions[pos] = (struct io_region){ base, len, handler, opaque, name };
	bus->nr_regions++;
	return 0;
}

const struct io_region *io_bus_find(const struct io_bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->nr_regions;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct io_region *r = &bus->regions[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, unsigned len,
		     bool is_write)
{
	const struct io_region *r = io_bus_find(bus, addr);

	if (r && len <= r->len - (addr - r->base)) {
		r->handler(r->opaque, addr - r->base, data, len, is_write);
		return true;
	}
	if (is_write) {
		atomic_fetch_add(&bus->unclaimed_writes, 1);
	} else {
		atomic_fetch_add(&bus->unclaimed_reads, 1);
		memset(data, 0xff, len);
	}
	return false;
}
