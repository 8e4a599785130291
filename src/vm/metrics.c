/* vm/metrics.c: the VM's, vCPUs' and devices' counters as one JSON object (docs/metrics.md). */
#include <errno.h>
#include <json-c/json.h>
#include <time.h>

#include "base/util.h"
#include "vm/vm.h"

/* Adds name: value to obj; false when out of memory. */
static bool put_u64(struct json_object *obj, const char *name, uint64_t value)
{
	struct json_object *v = json_object_new_uint64(value);

	if (!v)
		return false;
	if (json_object_object_add(obj, name, v) < 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

static bool put_metrics(struct json_object *obj, const struct metric *m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!put_u64(obj, m[i].name, m[i].value))
			return false;
	return true;
}

/* Adds obj to parent under name (consuming it either way); false when out of memory. */
static bool put_obj(struct json_object *parent, const char *name, struct json_object *obj)
{
	if (!obj)
		return false;
	if (json_object_object_add(parent, name, obj) < 0) {
		json_object_put(obj);
		return false;
	}
	return true;
}

static struct json_object *vm_section(struct vm *vm)
{
	struct json_object *o = json_object_new_object();
	struct timespec now;
	bool ok;

	if (!o)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &now);
	ok = put_obj(o, "engine", json_object_new_string(vm->engine ? vm->engine->name : "none")) &&
	     put_obj(o, "paused", json_object_new_boolean(vm_is_paused(vm))) &&
	     put_u64(o, "utc_timestamp_ms",
		     (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000) &&
	     put_u64(o, "clock_ns", vm_clock_ns(vm)) &&
	     put_u64(o, "paused_ns", vm_clock_paused_ns(vm)) &&
	     put_u64(o, "unclaimed_pio_reads", counter_get(&vm->pio.unclaimed_reads)) &&
	     put_u64(o, "unclaimed_pio_writes", counter_get(&vm->pio.unclaimed_writes)) &&
	     put_u64(o, "unclaimed_mmio_reads", counter_get(&vm->mmio.unclaimed_reads)) &&
	     put_u64(o, "unclaimed_mmio_writes", counter_get(&vm->mmio.unclaimed_writes));
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *vcpus_section(struct vm *vm)
{
	struct json_object *a = json_object_new_array();
	struct metric m[METRICS_MAX];

	if (!a)
		return NULL;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];
		struct json_object *o = json_object_new_object();
		unsigned n = 0;

		if (!o || json_object_array_add(a, o) < 0) {
			json_object_put(o);
			goto err_put;
		}
		if (vcpu->engine_data && vm->engine->vcpu_metrics)
			n = vm->engine->vcpu_metrics(vcpu, m, METRICS_MAX);
		if (!put_u64(o, "id", i) || !put_metrics(o, m, n))
			goto err_put;
	}
	return a;
err_put:
	json_object_put(a);
	return NULL;
}

static struct json_object *devices_section(struct vm *vm)
{
	struct json_object *d = json_object_new_object();
	struct metric m[METRICS_MAX];

	if (!d)
		return NULL;
	for (struct device *dev = vm->devices; dev; dev = dev->next) {
		struct json_object *o;
		unsigned n;

		if (!dev->ops->metrics)
			continue;
		n = dev->ops->metrics(dev, m, METRICS_MAX);
		o = json_object_new_object();
		if (o && !put_metrics(o, m, n)) {
			json_object_put(o);
			goto err_put;
		}
		/* Device names are unique on a VM (virtio ones carry their slot). */
		if (!put_obj(d, dev->name, o))
			goto err_put;
	}
	return d;
err_put:
	json_object_put(d);
	return NULL;
}

int vm_metrics_json(struct vm *vm, struct json_object **out)
{
	struct json_object *root = json_object_new_object();

	if (!root || !put_obj(root, "vm", vm_section(vm)) ||
	    !put_obj(root, "vcpus", vcpus_section(vm)) ||
	    !put_obj(root, "devices", devices_section(vm))) {
		json_object_put(root);
		return -ENOMEM;
	}
	*out = root;
	return 0;
}
