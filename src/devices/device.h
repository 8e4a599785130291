/* devices/device.h: the lifecycle every device implements. */
#ifndef KITE_DEVICES_DEVICE_H
#define KITE_DEVICES_DEVICE_H

#include <stdint.h>

#include "base/err.h"
#include "base/state.h"

struct vm;
struct device;

/* One named counter as a device or a vCPU reports it (docs/metrics.md lists them all). */
struct metric {
	const char *name; /* a static string, snake_case */
	uint64_t value;
};

/* The most counters one device or vCPU reports. */
#define METRICS_MAX 32

/*
 * create   the device's own constructor (e.g. uart_create()), allocates it
 * realize  claims its I/O regions and interrupt on the VM; called once
 * reset    back to power-on state (guest reboot in place, restore)
 * pause    quiesce: no further guest-visible change; in-flight work drained
 * resume   undo pause
 * save     write its state as one section (pause first)
 * load     read it back, validating every field as untrusted input
 * destroy  release everything; safe after a failed realize
 * metrics  fills out[0..max) with its counters and returns how many; called
 *          from any thread, running or paused (docs/metrics.md)
 * Any op may be NULL when the device has nothing to do for it.
 */
struct device_ops {
	const char *type;
	int (*realize)(struct device *dev, struct err *err);
	void (*reset)(struct device *dev);
	void (*pause)(struct device *dev);
	void (*resume)(struct device *dev);
	int (*save)(struct device *dev, struct state_writer *w);
	int (*load)(struct device *dev, struct state_reader *r, struct err *err);
	void (*destroy)(struct device *dev);
	unsigned (*metrics)(struct device *dev, struct metric *out, unsigned max);
};

/* Appends name = value to out when *n < max (a metrics op's helper). */
static inline void metric_put(struct metric *out, unsigned *n, unsigned max, const char *name,
			      uint64_t value)
{
	if (*n < max)
		out[(*n)++] = (struct metric){ .name = name, .value = value };
}

/* Embedded as the first member of every device's own struct. */
struct device {
	const struct device_ops *ops;
	struct vm *vm;
	const char *name;
	struct device *next; /* the VM's list, in creation order */
};

#endif
