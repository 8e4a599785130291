/* api/handlers.c: one function per endpoint, routed by method and path, as Firecracker's API has them. */
#include "api/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "builder/builder.h"
#include "devices/devices.h"
#include "virtio/virtio.h"
#include "vm/vm.h"

/* Firecracker's messages, which its clients match on. */
#define MSG_PRE_BOOT "The requested operation is not supported before starting the microVM."
#define MSG_POST_BOOT "The requested operation is not supported after starting the microVM."

/* One request as a handler sees it: the path's id (drives/{id}) and the body. */
struct call {
	const char *id;
	const char *body;
	size_t len;
};

/*
 * A handler returns 0 (204, or 200 with *reply) or a negative errno with
 * err set (400 with err's message as the fault_message). Runs with the lock.
 */
typedef int (*handler_fn)(struct api *api, const struct call *c, char **reply,
			  struct err *err);

enum when { ANY_TIME, PRE_BOOT, POST_BOOT };

struct route {
	const char *method;
	const char *path; /* without the leading '/' */
	bool has_id;	  /* path/{id} */
	enum when when;
	handler_fn handle;
};

static const char *state_name(const struct api *api)
{
	if (!api->started)
		return "Not started";
	return api->paused ? "Paused" : "Running";
}

static char *json_dup(struct json_object *o)
{
	char *text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(o);
	return text;
}

/* ---- GET ---------------------------------------------------------------- */

static int get_info(struct api *api, const struct call *c, char **reply, struct err *err)
{
	struct json_object *o = json_object_new_object();

	(void)c;
	(void)err;
	json_object_object_add(o, "id", json_object_new_string(api->id));
	json_object_object_add(o, "state", json_object_new_string(state_name(api)));
	json_object_object_add(o, "vmm_version", json_object_new_string(api->version));
	json_object_object_add(o, "app_name", json_object_new_string(API_APP_NAME));
	*reply = json_dup(o);
	return 0;
}

static int get_version(struct api *api, const struct call *c, char **reply, struct err *err)
{
	struct json_object *o = json_object_new_object();

	(void)c;
	(void)err;
	json_object_object_add(o, "firecracker_version", json_object_new_string(api->version));
	*reply = json_dup(o);
	return 0;
}

static int get_machine(struct api *api, const struct call *c, char **reply, struct err *err)
{
	(void)c;
	(void)err;
	*reply = config_json_write(&api->cfg, CONFIG_JSON_MACHINE);
	return 0;
}

static int get_vm_config(struct api *api, const struct call *c, char **reply, struct err *err)
{
	(void)c;
	(void)err;
	*reply = config_json_write(&api->cfg, CONFIG_JSON_FULL);
	return 0;
}

/* kite's own: the metrics FlushMetrics would write, as the answer. */
static int get_metrics(struct api *api, const struct call *c, char **reply, struct err *err)
{
	(void)c;
	(void)err;
	*reply = api_metrics_format(api);
	return 0;
}

/* ---- pre-boot configuration --------------------------------------------- */

static int file_check(const char *what, const char *path, int mode, struct err *err)
{
	if (path[0] && access(path, mode) < 0)
		return err_set(err, -errno, "%s: %s: %s", what, path, strerror(errno));
	return 0;
}

/*
 * Applies a body to a copy of the configuration, checks the files it names
 * (which Firecracker does at once, not at boot) and keeps it if all holds.
 */
static int config_apply(struct api *api, enum config_body which, const struct call *c,
			struct err *err)
{
	struct vm_config *tmp = malloc(sizeof(*tmp));
	int rc;

	if (!tmp)
		return err_set(err, -ENOMEM, "out of memory");
	*tmp = api->cfg;
	rc = config_json_apply(tmp, which, c->id, c->body, c->len, err);
	if (rc == 0 && which == CONFIG_BODY_BOOT_SOURCE) {
		rc = file_check("kernel_image_path", tmp->kernel_path, R_OK, err);
		if (rc == 0)
			rc = file_check("initrd_path", tmp->initrd_path, R_OK, err);
	}
	if (rc == 0 && which == CONFIG_BODY_DRIVE) {
		const struct vm_drive_config *d = config_drive_find(tmp, c->id);

		rc = file_check("path_on_host", d->path_on_host,
				d->is_read_only ? R_OK : R_OK | W_OK, err);
	}
	if (rc == 0)
		api->cfg = *tmp;
	free(tmp);
	return rc;
}

static int put_boot_source(struct api *api, const struct call *c, char **reply,
			   struct err *err)
{
	(void)reply;
	return config_apply(api, CONFIG_BODY_BOOT_SOURCE, c, err);
}

static int put_machine(struct api *api, const struct call *c, char **reply, struct err *err)
{
	(void)reply;
	return config_apply(api, CONFIG_BODY_MACHINE, c, err);
}

static int patch_machine(struct api *api, const struct call *c, char **reply, struct err *err)
{
	(void)reply;
	return config_apply(api, CONFIG_BODY_MACHINE_PATCH, c, err);
}

static int put_drive(struct api *api, const struct call *c, char **reply, struct err *err)
{
	(void)reply;
	return config_apply(api, CONFIG_BODY_DRIVE, c, err);
}

static int put_entropy(struct api *api, const struct call *c, char **reply, struct err *err)
{
	(void)reply;
	return config_apply(api, CONFIG_BODY_ENTROPY, c, err);
}

/* Pre-boot only: the TAP is opened, and any error about it given, at InstanceStart. */
static int put_net(struct api *api, const struct call *c, char **reply, struct err *err)
{
	(void)reply;
	return config_apply(api, CONFIG_BODY_NET, c, err);
}

static int put_vsock(struct api *api, const struct call *c, char **reply, struct err *err)
{
	(void)reply;
	return config_apply(api, CONFIG_BODY_VSOCK, c, err);
}

/*
 * A log or metrics file: a FIFO opened read-write never waits for a reader
 * and, non-blocking, never blocks a writer; a missing file is created.
 */
static int sink_open(const char *what, const char *path, struct err *err)
{
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
	struct stat st;

	if (fd < 0)
		return err_set(err, -errno, "%s: %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
		close(fd);
		return err_set(err, -EINVAL, "%s: %s: not a file or a FIFO", what, path);
	}
	return fd;
}

/* Makes tmp's logger the API's: opens its file, sets the level. */
static int logger_apply(struct api *api, struct vm_config *tmp, struct err *err)
{
	static const enum log_level levels[] = {
		[CONFIG_LOG_ERROR] = LOG_ERROR, [CONFIG_LOG_WARN] = LOG_WARN,
		[CONFIG_LOG_INFO] = LOG_INFO,	[CONFIG_LOG_DEBUG] = LOG_DEBUG,
		[CONFIG_LOG_OFF] = LOG_OFF,
	};
	int fd = -1;

	if (tmp->logger.log_path[0]) {
		fd = sink_open("log_path", tmp->logger.log_path, err);
		if (fd < 0)
			return fd;
		log_set_fd(fd);
		if (api->log_fd >= 0)
			close(api->log_fd);
		api->log_fd = fd;
	}
	if (tmp->logger.level != CONFIG_LOG_DEFAULT)
		log_set_level(levels[tmp->logger.level]);
	/* Without a log_path the log stays where it was, and so does its name. */
	if (fd < 0)
		memcpy(tmp->logger.log_path, api->cfg.logger.log_path, sizeof(tmp->logger.log_path));
	api->cfg.logger = tmp->logger;
	return 0;
}

static int put_logger(struct api *api, const struct call *c, char **reply, struct err *err)
{
	struct vm_config *tmp = malloc(sizeof(*tmp));
	int rc;

	(void)reply;
	if (!tmp)
		return err_set(err, -ENOMEM, "out of memory");
	*tmp = api->cfg;
	rc = config_json_apply(tmp, CONFIG_BODY_LOGGER, NULL, c->body, c->len, err);
	if (rc == 0)
		rc = logger_apply(api, tmp, err);
	free(tmp);
	return rc;
}

/* Makes tmp's metrics file the API's (callers see to it that it is the first). */
static int metrics_apply(struct api *api, const struct vm_config *tmp, struct err *err)
{
	int fd;

	fd = sink_open("metrics_path", tmp->metrics.metrics_path, err);
	if (fd < 0)
		return fd;
	api->metrics_fd = fd;
	api->metrics_set = true;
	api->metrics_flushed_ns = clock_monotonic_ns();
	api->cfg.metrics = tmp->metrics;
	return 0;
}

static int put_metrics(struct api *api, const struct call *c, char **reply, struct err *err)
{
	struct vm_config *tmp;
	int rc;

	(void)reply;
	if (api->metrics_set)
		return err_set(err, -EALREADY, "metrics: already configured");
	tmp = malloc(sizeof(*tmp));
	if (!tmp)
		return err_set(err, -ENOMEM, "out of memory");
	*tmp = api->cfg;
	rc = config_json_apply(tmp, CONFIG_BODY_METRICS, NULL, c->body, c->len, err);
	if (rc == 0)
		rc = metrics_apply(api, tmp, err);
	free(tmp);
	return rc;
}

/* ---- actions and the running VM ----------------------------------------- */

/* Boots under the lock: the configuration must hold; a failed build can be retried. */
static int instance_start(struct api *api, struct err *err)
{
	uint64_t one = 1;
	int rc;

	if (api->started)
		return err_set(err, -EBUSY, MSG_POST_BOOT);
	rc = config_validate(&api->cfg, err);
	if (rc < 0)
		return rc;
	rc = builder_vm_create(api->vm, &api->cfg, api->console_out_fd, err);
	if (rc == 0)
		rc = vm_start(api->vm, err);
	if (rc < 0) {
		vm_destroy(api->vm);
		return err_wrap(err, "InstanceStart");
	}
	api->started = true;
	api->paused = false;
	if (write(api->started_fd, &one, sizeof(one)) < 0) {
		/* An eventfd counter does not overflow from one write. */
	}
	log_info("api: the VM started");
	return 0;
}

static int put_actions(struct api *api, const struct call *c, char **reply, struct err *err)
{
	static const char *const actions[] = { "InstanceStart", "SendCtrlAltDel", "FlushMetrics",
					       NULL };
	int action = -1, rc;

	(void)reply;
	rc = config_json_parse_choice(c->body, c->len, "action_type", actions, &action, err);
	if (rc < 0)
		return rc;
	if (action == 0)
		return instance_start(api, err);
	if (!api->started)
		return err_set(err, -EINVAL, MSG_PRE_BOOT);
	if (action == 2) {
		api_metrics_flush(api);
		return 0;
	}
	rc = i8042_send_ctrl_alt_del(api->vm);
	if (rc == -ENODEV)
		return err_set(err, rc, "SendCtrlAltDel: this machine has no i8042 keyboard");
	if (rc < 0)
		return err_set(err, rc, "SendCtrlAltDel: the guest's keyboard is disabled or busy");
	return 0;
}

static int patch_vm(struct api *api, const struct call *c, char **reply, struct err *err)
{
	static const char *const states[] = { "Paused", "Resumed", NULL };
	int state = -1, rc;

	(void)reply;
	rc = config_json_parse_choice(c->body, c->len, "state", states, &state, err);
	if (rc < 0)
		return rc;
	/* vm_pause() parks every vCPU through its mailbox at an instruction boundary. */
	if (state == 0 && !api->paused)
		vm_pause(api->vm);
	else if (state == 1 && api->paused)
		vm_resume(api->vm);
	api->paused = state == 0;
	return 0;
}

/*
 * A new backing file for a running drive, as Firecracker's PATCH /drives
 * does: with every vCPU parked and the disk's requests done, the device
 * takes the file; then the driver hears of the new capacity.
 */
static int drive_swap(struct api *api, const char *id, const char *path, struct err *err)
{
	struct device *dev = builder_drive_device(api->vm, id);
	struct vm_drive_config *d;
	int rc;

	if (!dev)
		return err_set(err, -ENOENT, "drives/%s: no such drive in the machine", id);
	if (!api->paused)
		vm_pause(api->vm);
	rc = virtio_blk_replace(dev, path, err);
	if (!api->paused)
		vm_resume(api->vm);
	if (rc < 0)
		return err_wrap(err, "path_on_host");
	virtio_config_changed(dev);
	/* The machine's own record of its drives, which a later swap reads. */
	for (unsigned i = 0; i < api->vm->cfg.nr_drives; i++) {
		d = &api->vm->cfg.drives[i];
		if (!strcmp(d->drive_id, id))
			snprintf(d->path_on_host, sizeof(d->path_on_host), "%s", path);
	}
	return 0;
}

static int patch_drive(struct api *api, const struct call *c, char **reply, struct err *err)
{
	struct vm_config *tmp = malloc(sizeof(*tmp));
	const struct vm_drive_config *before, *after;
	int rc;

	(void)reply;
	if (!tmp)
		return err_set(err, -ENOMEM, "out of memory");
	*tmp = api->cfg;
	rc = config_json_apply(tmp, CONFIG_BODY_DRIVE_PATCH, c->id, c->body, c->len, err);
	if (rc == 0) {
		before = config_drive_find(&api->cfg, c->id);
		after = config_drive_find(tmp, c->id);
		if (strcmp(before->path_on_host, after->path_on_host))
			rc = drive_swap(api, c->id, after->path_on_host, err);
	}
	if (rc == 0 && memcmp(&before->rate_limiter, &after->rate_limiter,
			      sizeof(after->rate_limiter))) {
		struct device *dev = builder_drive_device(api->vm, c->id);

		rc = dev ? virtio_blk_set_rate_limit(dev, &after->rate_limiter) : -ENOENT;
		if (rc < 0)
			err_set(err, rc, "drives/%s: no such drive in the machine", c->id);
	}
	if (rc == 0)
		api->cfg = *tmp;
	free(tmp);
	return rc;
}

/*
 * Firecracker's PATCH /network-interfaces: new rate limiters for a running
 * interface. A limiter the body changes is replaced (full) at once, under
 * its queue's lock; the vCPUs run on.
 */
static int patch_net(struct api *api, const struct call *c, char **reply, struct err *err)
{
	struct vm_config *tmp = malloc(sizeof(*tmp));
	const struct vm_net_config *before, *after;
	struct device *dev;
	int rc;

	(void)reply;
	if (!tmp)
		return err_set(err, -ENOMEM, "out of memory");
	*tmp = api->cfg;
	rc = config_json_apply(tmp, CONFIG_BODY_NET_PATCH, c->id, c->body, c->len, err);
	if (rc == 0) {
		before = config_net_find(&api->cfg, c->id);
		after = config_net_find(tmp, c->id);
		dev = builder_net_device(api->vm, c->id);
		if (!dev)
			rc = err_set(err, -ENOENT, "network-interfaces/%s: no such device in the machine",
				     c->id);
		else
			rc = virtio_net_set_rate_limits(
				dev,
				memcmp(&before->rx_rate_limiter, &after->rx_rate_limiter,
				       sizeof(after->rx_rate_limiter)) ? &after->rx_rate_limiter : NULL,
				memcmp(&before->tx_rate_limiter, &after->tx_rate_limiter,
				       sizeof(after->tx_rate_limiter)) ? &after->tx_rate_limiter : NULL);
		if (rc < 0 && !err->msg[0])
			err_set(err, rc, "network-interfaces/%s: %s", c->id, strerror(-rc));
	}
	if (rc == 0)
		api->cfg = *tmp;
	free(tmp);
	return rc;
}

static const struct route routes[] = {
	{ "GET", "", false, ANY_TIME, get_info },
	{ "GET", "version", false, ANY_TIME, get_version },
	{ "GET", "machine-config", false, ANY_TIME, get_machine },
	{ "GET", "vm/config", false, ANY_TIME, get_vm_config },
	{ "GET", "metrics", false, ANY_TIME, get_metrics },
	{ "PUT", "actions", false, ANY_TIME, put_actions },
	{ "PUT", "boot-source", false, PRE_BOOT, put_boot_source },
	{ "PUT", "machine-config", false, PRE_BOOT, put_machine },
	{ "PATCH", "machine-config", false, PRE_BOOT, patch_machine },
	{ "PUT", "drives", true, PRE_BOOT, put_drive },
	{ "PATCH", "drives", true, POST_BOOT, patch_drive },
	{ "PUT", "network-interfaces", true, PRE_BOOT, put_net },
	{ "PATCH", "network-interfaces", true, POST_BOOT, patch_net },
	{ "PUT", "vsock", false, PRE_BOOT, put_vsock },
	{ "PUT", "entropy", false, PRE_BOOT, put_entropy },
	{ "PUT", "logger", false, PRE_BOOT, put_logger },
	{ "PUT", "metrics", false, PRE_BOOT, put_metrics },
	{ "PATCH", "vm", false, POST_BOOT, patch_vm },
};

/* The route for method and path (no leading '/'); *id points into path for path/{id}. */
static const struct route *route_find(const char *method, const char *path, const char **id)
{
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		const struct route *r = &routes[i];
		size_t n = strlen(r->path);

		if (strcmp(method, r->method) || strncmp(path, r->path, n))
			continue;
		if (!r->has_id && (path[n] == '\0' || !strcmp(path + n, "/")))
			return r;
		if (r->has_id && (path[n] == '\0' || (path[n] == '/' && !strchr(path + n + 1, '/')))) {
			*id = path[n] ? path + n + 1 : "";
			return r;
		}
	}
	return NULL;
}

static bool id_valid(const char *id)
{
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
	       strlen(id);
}

/* Checks what Firecracker checks before it parses a body; 0 when the request may go on. */
static int request_check(const struct api *api, const char *method, const char *url,
			 const struct route *r, const struct call *c, struct err *err)
{
	bool wants_body = strcmp(method, "GET") != 0;

	if (!wants_body && c->len)
		return err_set(err, -EINVAL, "GET request cannot have a body.");
	if (wants_body && !c->len && (!strcmp(method, "PUT") || !strcmp(method, "PATCH")))
		return err_set(err, -EINVAL, "Empty %s request.", method);
	if (!r)
		return err_set(err, -EINVAL, "Invalid request method and/or path: %.16s %.256s.",
			       method, url);
	if (r->has_id && !c->id[0])
		return err_set(err, -EINVAL, "The ID cannot be empty.");
	if (r->has_id && !id_valid(c->id))
		return err_set(err, -EINVAL,
			       "API Resource IDs can only contain alphanumeric characters and underscores.");
	if (r->when == PRE_BOOT && api->started)
		return err_set(err, -EINVAL, MSG_POST_BOOT);
	if (r->when == POST_BOOT && !api->started)
		return err_set(err, -EINVAL, MSG_PRE_BOOT);
	return 0;
}

static char *fault(const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "fault_message", json_object_new_string(msg));
	return json_dup(o);
}

unsigned api_handle(struct api *api, const char *method, const char *url, const char *body,
		    size_t len, char **reply)
{
	const char *path = url;
	struct call c = { .id = "", .body = body ? body : "", .len = body ? len : 0 };
	const struct route *r;
	struct err err = { 0 };
	int rc;

	*reply = NULL;
	atomic_fetch_add(&api->requests, 1);
	while (*path == '/')
		path++;
	r = route_find(method, path, &c.id);
	pthread_mutex_lock(&api->lock);
	rc = request_check(api, method, url, r, &c, &err);
	if (rc == 0)
		rc = r->handle(api, &c, reply, &err);
	pthread_mutex_unlock(&api->lock);
	if (rc == 0)
		return *reply ? 200 : 204;
	atomic_fetch_add(&api->request_fails, 1);
	log_info("api: %.16s %.256s: %s", method, url, err.msg);
	free(*reply);
	*reply = fault(err.msg[0] ? err.msg : strerror(-rc));
	return 400;
}

int api_instance_start(struct api *api, struct err *err)
{
	int rc;

	pthread_mutex_lock(&api->lock);
	rc = instance_start(api, err);
	pthread_mutex_unlock(&api->lock);
	return rc;
}

bool api_is_started(struct api *api)
{
	bool started;

	pthread_mutex_lock(&api->lock);
	started = api->started;
	pthread_mutex_unlock(&api->lock);
	return started;
}

int api_started_fd(const struct api *api)
{
	return api->started_fd;
}

int api_state_init(struct api *api, const struct vm_config *cfg, struct vm *vm,
		   int console_out_fd, struct err *err)
{
	memset(api, 0, sizeof(*api));
	pthread_mutex_init(&api->lock, NULL);
	api->cfg = *cfg;
	api->vm = vm;
	api->console_out_fd = console_out_fd;
	api->log_fd = api->metrics_fd = api->listen_fd = -1;
	api->created_ns = clock_monotonic_ns();
	snprintf(api->id, sizeof(api->id), "%s", API_DEFAULT_ID);
	snprintf(api->version, sizeof(api->version), "unknown");
	api->started_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (api->started_fd < 0) {
		pthread_mutex_destroy(&api->lock);
		return err_set(err, -errno, "api: eventfd: %s", strerror(errno));
	}
	return 0;
}

void api_state_destroy(struct api *api)
{
	if (api->log_fd >= 0) {
		log_set_fd(-1);
		close(api->log_fd);
	}
	if (api->metrics_fd >= 0) {
		/* The last line, with the counters the VM ended with. */
		api_metrics_flush(api);
		close(api->metrics_fd);
	}
	close(api->started_fd);
	pthread_mutex_destroy(&api->lock);
}

/* A config file's "logger" and "metrics" sections, opened as their PUTs would be. */
static int sinks_from_config(struct api *api, struct err *err)
{
	struct vm_config *tmp;
	int rc = 0;

	if (!config_has_sinks(&api->cfg))
		return 0;
	tmp = malloc(sizeof(*tmp));
	if (!tmp)
		return err_set(err, -ENOMEM, "out of memory");
	*tmp = api->cfg;
	memset(&api->cfg.logger, 0, sizeof(api->cfg.logger));
	memset(&api->cfg.metrics, 0, sizeof(api->cfg.metrics));
	rc = logger_apply(api, tmp, err);
	if (rc == 0 && tmp->metrics.metrics_path[0])
		rc = metrics_apply(api, tmp, err);
	free(tmp);
	return rc;
}

int api_create_detached(struct api **out, const struct vm_config *cfg, struct vm *vm,
			int console_out_fd, struct err *err)
{
	struct api *api = malloc(sizeof(*api));
	int rc;

	if (!api)
		return err_set(err, -ENOMEM, "api: out of memory");
	rc = api_state_init(api, cfg, vm, console_out_fd, err);
	if (rc < 0) {
		free(api);
		return rc;
	}
	rc = sinks_from_config(api, err);
	if (rc < 0) {
		api_state_destroy(api);
		free(api);
		return rc;
	}
	*out = api;
	return 0;
}

void api_tick(struct api *api)
{
	/* Firecracker writes a metrics line every 60 s once a metrics file is set. */
	if (api && api->metrics_fd >= 0 &&
	    clock_monotonic_ns() - api->metrics_flushed_ns >= API_METRICS_PERIOD_NS) {
		pthread_mutex_lock(&api->lock);
		api_metrics_flush(api);
		pthread_mutex_unlock(&api->lock);
	}
}

int api_tick_ms(const struct api *api)
{
	uint64_t due, now;

	if (!api || api->metrics_fd < 0)
		return -1;
	due = api->metrics_flushed_ns + API_METRICS_PERIOD_NS;
	now = clock_monotonic_ns();
	return due <= now ? 0 : (int)((due - now) / 1000000u) + 1;
}
