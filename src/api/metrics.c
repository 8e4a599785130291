/* api/metrics.c: the JSON metrics line FlushMetrics writes, one object per flush. */
#include "api/internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "vm/vm.h"

static void put_u64(struct json_object *o, const char *key, uint64_t v)
{
	/* json-c's integers are signed: counters stay below 2^63 in practice. */
	json_object_object_add(o, key, json_object_new_int64((int64_t)(v & INT64_MAX)));
}

static uint64_t utc_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Each group is one subsystem's counters; a subsystem with counters of its
 * own (vCPUs, devices) adds its group here.
 */
static struct json_object *vmm_group(struct api *api)
{
	struct json_object *g = json_object_new_object();

	put_u64(g, "uptime_ms", (clock_monotonic_ns() - api->created_ns) / 1000000u);
	put_u64(g, "vcpus", api->started ? api->vm->nr_vcpus : 0);
	json_object_object_add(g, "paused", json_object_new_boolean(api->paused));
	return g;
}

static struct json_object *api_group(struct api *api)
{
	struct json_object *g = json_object_new_object();

	put_u64(g, "requests", atomic_load(&api->requests));
	put_u64(g, "request_fails", atomic_load(&api->request_fails));
	return g;
}

static struct json_object *bus_group(struct api *api)
{
	struct json_object *g = json_object_new_object();
	struct vm *vm = api->vm;

	if (!api->started)
		return g;
	put_u64(g, "pio_unclaimed_reads", atomic_load(&vm->pio.unclaimed_reads));
	put_u64(g, "pio_unclaimed_writes", atomic_load(&vm->pio.unclaimed_writes));
	put_u64(g, "mmio_unclaimed_reads", atomic_load(&vm->mmio.unclaimed_reads));
	put_u64(g, "mmio_unclaimed_writes", atomic_load(&vm->mmio.unclaimed_writes));
	return g;
}

char *api_metrics_format(struct api *api)
{
	struct json_object *o = json_object_new_object();
	char *text;

	put_u64(o, "utc_timestamp_ms", utc_ms());
	json_object_object_add(o, "api_server", api_group(api));
	json_object_object_add(o, "vmm", vmm_group(api));
	json_object_object_add(o, "bus", bus_group(api));
	if (api->started) {
		struct json_object *vm_counters;

		/* The VM's own groups (docs/metrics.md): "vm", "vcpus", "devices". */
		if (vm_metrics_json(api->vm, &vm_counters) == 0) {
			json_object_object_foreach(vm_counters, key, val)
				json_object_object_add(o, key, json_object_get(val));
			json_object_put(vm_counters);
		}
	}
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

void api_metrics_flush(struct api *api)
{
	char *text;
	size_t len;

	if (api->metrics_fd < 0)
		return;
	api->metrics_flushed_ns = clock_monotonic_ns();
	text = api_metrics_format(api);
	if (!text)
		return;
	len = strlen(text);
	text[len++] = '\n'; /* over the NUL: written by length */
	/* Non-blocking: a reader that is slow or gone loses this line, never the VM its time. */
	if (write(api->metrics_fd, text, len) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "api: metrics: %s", strerror(errno));
	free(text);
}
