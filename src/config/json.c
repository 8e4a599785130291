/* config/json.c: a Firecracker JSON config file into a struct vm_config, with json-c. */
#include "config/config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/util.h"

/* A config file nests four deep; anything deeper is not one, and json-c recurses. */
#define JSON_DEPTH_MAX 16
/* Longest field path in a message: "drives[7].rate_limiter" and the like. */
#define PATH_MAX_LEN 96
/* mem_size_mib above this (1 TiB) is no host's memory; keeps << 20 from overflowing. */
#define MEM_MIB_MAX (1ull << 20)

struct parse_ctx {
	struct vm_config *cfg;
	struct vm_drive_config *drive; /* the drive being parsed */
	struct vm_net_config *net;     /* the network interface being parsed */
	struct ratelimit_config *limiter;	 /* the rate limiter being parsed */
	struct ratelimit_bucket_config *bucket; /* and its token bucket */
	bool has_boot_args;
	const char *root; /* what the top-level value is called in messages */
	const char *const *choices; /* config_json_parse_choice() */
	int choice;
};

/*
 * One field of one JSON object. A null value is the field left out
 * (Firecracker's Option), unless the field is required.
 */
struct field {
	const char *name;
	bool required;
	int (*parse)(struct parse_ctx *pc, struct json_object *v, const char *path, struct err *err);
};

static int want_string(struct json_object *v, const char *path, char *dst, size_t size,
		       struct err *err)
{
	const char *s;
	size_t len;

	if (!json_object_is_type(v, json_type_string))
		return err_set(err, -EINVAL, "%s: must be a string", path);
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len)
		return err_set(err, -EINVAL, "%s: contains a NUL byte", path);
	if (config_str_set(dst, size, s) < 0)
		return err_set(err, -EINVAL, "%s: %zu bytes is longer than the %zu kite takes", path,
			       len, size - 1);
	return 0;
}

static int want_bool(struct json_object *v, const char *path, bool *out, struct err *err)
{
	if (!json_object_is_type(v, json_type_boolean))
		return err_set(err, -EINVAL, "%s: must be true or false", path);
	*out = json_object_get_boolean(v);
	return 0;
}

static int want_uint(struct json_object *v, const char *path, uint64_t min, uint64_t max,
		     uint64_t *out, struct err *err)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return err_set(err, -EINVAL, "%s: must be an integer", path);
	n = json_object_get_int64(v);
	/* json-c clamps what int64 cannot hold to INT64_MIN/MAX: out of range here too. */
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return err_set(err, -EINVAL, "%s: %lld is outside %llu to %llu", path, (long long)n,
			       (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)n;
	return 0;
}

/* One of names (NULL-terminated); *out is its index. */
static int want_enum(struct json_object *v, const char *path, const char *const *names,
		     int *out, struct err *err)
{
	char choices[128] = "";
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return err_set(err, -EINVAL, "%s: must be a string", path);
	s = json_object_get_string(v);
	for (int i = 0; names[i]; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
		snprintf(choices + strlen(choices), sizeof(choices) - strlen(choices), "%s\"%s\"",
			 i ? ", " : "", names[i]);
	}
	return err_set(err, -EINVAL, "%s: \"%.64s\" is not one of %s", path, s, choices);
}

static int fields_parse(struct parse_ctx *pc, struct json_object *obj, const char *path,
			const struct field *fields, size_t nr, struct err *err)
{
	char sub[PATH_MAX_LEN];
	uint32_t seen = 0;
	int rc;

	if (!json_object_is_type(obj, json_type_object))
		return err_set(err, -EINVAL, "%s: must be an object", path[0] ? path : pc->root);
	json_object_object_foreach(obj, key, v) {
		size_t i;

		for (i = 0; i < nr && strcmp(key, fields[i].name); i++)
			;
		snprintf(sub, sizeof(sub), "%s%s%.48s", path, path[0] ? "." : "", key);
		if (i == nr)
			return err_set(err, -EINVAL, "%s: unknown field", sub);
		if (!v && !fields[i].required)
			continue;
		rc = fields[i].parse(pc, v, sub, err);
		if (rc < 0)
			return rc;
		seen |= 1u << i;
	}
	for (size_t i = 0; i < nr; i++) {
		if (fields[i].required && !(seen & (1u << i)))
			return err_set(err, -EINVAL, "%s%s%s: missing", path, path[0] ? "." : "",
				       fields[i].name);
	}
	return 0;
}

/* ---- boot-source ------------------------------------------------------ */

static int kernel_image_path(struct parse_ctx *pc, struct json_object *v, const char *path,
			     struct err *err)
{
	return want_string(v, path, pc->cfg->kernel_path, sizeof(pc->cfg->kernel_path), err);
}

static int initrd_path(struct parse_ctx *pc, struct json_object *v, const char *path,
		       struct err *err)
{
	return want_string(v, path, pc->cfg->initrd_path, sizeof(pc->cfg->initrd_path), err);
}

static int boot_args(struct parse_ctx *pc, struct json_object *v, const char *path,
		     struct err *err)
{
	pc->has_boot_args = true;
	return want_string(v, path, pc->cfg->cmdline, sizeof(pc->cfg->cmdline), err);
}

static const struct field boot_source_fields[] = {
	{ "kernel_image_path", true, kernel_image_path },
	{ "initrd_path", false, initrd_path },
	{ "boot_args", false, boot_args },
};

static int boot_source(struct parse_ctx *pc, struct json_object *v, const char *path,
		       struct err *err)
{
	return fields_parse(pc, v, path, boot_source_fields, ARRAY_SIZE(boot_source_fields), err);
}

/* ---- machine-config --------------------------------------------------- */

static int vcpu_count(struct parse_ctx *pc, struct json_object *v, const char *path,
		      struct err *err)
{
	uint64_t n = 0;
	int rc = want_uint(v, path, 1, VM_MAX_VCPUS, &n, err);

	if (rc == 0)
		pc->cfg->nr_cpus = (unsigned)n;
	return rc;
}

static int mem_size_mib(struct parse_ctx *pc, struct json_object *v, const char *path,
			struct err *err)
{
	uint64_t mib = 0;
	int rc = want_uint(v, path, 1, MEM_MIB_MAX, &mib, err);

	if (rc == 0)
		pc->cfg->mem_size = mib << 20;
	return rc;
}

static int smt(struct parse_ctx *pc, struct json_object *v, const char *path, struct err *err)
{
	bool on = false;
	int rc = want_bool(v, path, &on, err);

	(void)pc;
	if (rc == 0 && on)
		return err_set(err, -EINVAL, "%s: kite's vCPUs have no SMT siblings; only false", path);
	return rc;
}

static int track_dirty_pages(struct parse_ctx *pc, struct json_object *v, const char *path,
			     struct err *err)
{
	bool on = false;
	int rc = want_bool(v, path, &on, err);

	(void)pc;
	if (rc == 0 && on)
		log_warn("config: %s: kite has no diff snapshots yet; ignored", path);
	return rc;
}

/* Fields kite accepts only with the value that changes nothing. */
static int only_none(struct parse_ctx *pc, struct json_object *v, const char *path,
		     struct err *err)
{
	static const char *const none[] = { "None", NULL };
	int i;

	(void)pc;
	if (want_enum(v, path, none, &i, err) < 0)
		return err_wrap(err, "kite supports only \"None\"");
	return 0;
}

static const struct field machine_config_fields[] = {
	{ "vcpu_count", true, vcpu_count },
	{ "mem_size_mib", true, mem_size_mib },
	{ "smt", false, smt },
	{ "track_dirty_pages", false, track_dirty_pages },
	{ "cpu_template", false, only_none },
	{ "huge_pages", false, only_none },
};

static int machine_config(struct parse_ctx *pc, struct json_object *v, const char *path,
			  struct err *err)
{
	return fields_parse(pc, v, path, machine_config_fields, ARRAY_SIZE(machine_config_fields),
			    err);
}

/* ---- drives ----------------------------------------------------------- */

static int drive_id(struct parse_ctx *pc, struct json_object *v, const char *path,
		    struct err *err)
{
	struct vm_drive_config *d = pc->drive;
	int rc = want_string(v, path, d->drive_id, sizeof(d->drive_id), err);

	if (rc < 0)
		return rc;
	if (!d->drive_id[0])
		return err_set(err, -EINVAL, "%s: empty", path);
	/* Firecracker's ids, which also stay printable in the guest's serial. */
	if (strspn(d->drive_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
	    strlen(d->drive_id))
		return err_set(err, -EINVAL, "%s: \"%s\" has a character other than A-Z, a-z, 0-9, _",
			       path, d->drive_id);
	for (struct vm_drive_config *o = pc->cfg->drives; o < d; o++)
		if (!strcmp(o->drive_id, d->drive_id))
			return err_set(err, -EINVAL, "%s: \"%s\" is drives[%u]'s already", path,
				       d->drive_id, (unsigned)(o - pc->cfg->drives));
	return 0;
}

static int path_on_host(struct parse_ctx *pc, struct json_object *v, const char *path,
			struct err *err)
{
	struct vm_drive_config *d = pc->drive;
	int rc = want_string(v, path, d->path_on_host, sizeof(d->path_on_host), err);

	if (rc == 0 && !d->path_on_host[0])
		return err_set(err, -EINVAL, "%s: empty", path);
	return rc;
}

static int is_root_device(struct parse_ctx *pc, struct json_object *v, const char *path,
			  struct err *err)
{
	return want_bool(v, path, &pc->drive->is_root_device, err);
}

static int is_read_only(struct parse_ctx *pc, struct json_object *v, const char *path,
			struct err *err)
{
	return want_bool(v, path, &pc->drive->is_read_only, err);
}

static int partuuid(struct parse_ctx *pc, struct json_object *v, const char *path,
		    struct err *err)
{
	return want_string(v, path, pc->drive->partuuid, sizeof(pc->drive->partuuid), err);
}

/*
 * Firecracker's cache_type and io_engine choose among its own back-ends;
 * kite's honours the guest's flushes (Writeback) on a thread pool.
 */
static int cache_type(struct parse_ctx *pc, struct json_object *v, const char *path,
		      struct err *err)
{
	static const char *const names[] = { "Unsafe", "Writeback", NULL };
	int i;

	(void)pc;
	return want_enum(v, path, names, &i, err);
}

static int io_engine(struct parse_ctx *pc, struct json_object *v, const char *path,
		     struct err *err)
{
	static const char *const names[] = { "Sync", "Async", NULL };
	int i;

	(void)pc;
	return want_enum(v, path, names, &i, err);
}

static int socket_path(struct parse_ctx *pc, struct json_object *v, const char *path,
		       struct err *err)
{
	(void)pc;
	(void)v;
	return err_set(err, -EINVAL, "%s: kite has no vhost-user block devices", path);
}

/* ---- rate limiters (Firecracker's RateLimiter and TokenBucket) -------- */

static int bucket_u64(struct json_object *v, const char *path, uint64_t max, uint64_t *out,
		      struct err *err)
{
	return want_uint(v, path, 0, max, out, err);
}

static int bucket_size(struct parse_ctx *pc, struct json_object *v, const char *path,
		       struct err *err)
{
	return bucket_u64(v, path, RATELIMIT_SIZE_MAX, &pc->bucket->size, err);
}

static int bucket_burst(struct parse_ctx *pc, struct json_object *v, const char *path,
			struct err *err)
{
	return bucket_u64(v, path, RATELIMIT_SIZE_MAX, &pc->bucket->one_time_burst, err);
}

static int bucket_refill(struct parse_ctx *pc, struct json_object *v, const char *path,
			 struct err *err)
{
	return bucket_u64(v, path, RATELIMIT_REFILL_MS_MAX, &pc->bucket->refill_time_ms, err);
}

static const struct field bucket_fields[] = {
	{ "size", true, bucket_size },
	{ "one_time_burst", false, bucket_burst },
	{ "refill_time", true, bucket_refill },
};

/* A bucket given replaces the old one whole; one left out stays (PATCH merges). */
static int bucket_parse(struct parse_ctx *pc, struct json_object *v, const char *path,
			struct ratelimit_bucket_config *b, struct err *err)
{
	struct ratelimit_bucket_config *outer = pc->bucket;
	int rc;

	memset(b, 0, sizeof(*b));
	pc->bucket = b;
	rc = fields_parse(pc, v, path, bucket_fields, ARRAY_SIZE(bucket_fields), err);
	pc->bucket = outer;
	return rc;
}

static int limiter_bandwidth(struct parse_ctx *pc, struct json_object *v, const char *path,
			     struct err *err)
{
	return bucket_parse(pc, v, path, &pc->limiter->bandwidth, err);
}

static int limiter_ops(struct parse_ctx *pc, struct json_object *v, const char *path,
		       struct err *err)
{
	return bucket_parse(pc, v, path, &pc->limiter->ops, err);
}

static const struct field limiter_fields[] = {
	{ "bandwidth", false, limiter_bandwidth },
	{ "ops", false, limiter_ops },
};

static int limiter_parse(struct parse_ctx *pc, struct json_object *v, const char *path,
			 struct ratelimit_config *rl, struct err *err)
{
	pc->limiter = rl;
	return fields_parse(pc, v, path, limiter_fields, ARRAY_SIZE(limiter_fields), err);
}

/* The entropy device's limiter: kite serves entropy without one. */
static int rate_limiter_ignored(struct parse_ctx *pc, struct json_object *v, const char *path,
				struct err *err)
{
	struct ratelimit_config unused = { 0 };

	if (limiter_parse(pc, v, path, &unused, err) < 0)
		return err->code;
	log_warn("config: %s: the entropy device has no rate limiter in kite; ignored", path);
	return 0;
}

static int drive_rate_limiter(struct parse_ctx *pc, struct json_object *v, const char *path,
			      struct err *err)
{
	return limiter_parse(pc, v, path, &pc->drive->rate_limiter, err);
}

static const struct field drive_fields[] = {
	{ "drive_id", true, drive_id },
	{ "is_root_device", true, is_root_device },
	{ "path_on_host", true, path_on_host },
	{ "is_read_only", false, is_read_only },
	{ "partuuid", false, partuuid },
	{ "cache_type", false, cache_type },
	{ "io_engine", false, io_engine },
	{ "rate_limiter", false, drive_rate_limiter },
	{ "socket", false, socket_path },
};

/*
 * An array of at most max objects, each parsed with fields after select()
 * pointed pc at its zeroed element i; *count follows the parsed ones. what
 * names the elements in the message about too many.
 */
static int object_array(struct parse_ctx *pc, struct json_object *v, const char *path,
			size_t max, const char *what, void (*select)(struct parse_ctx *, size_t),
			const struct field *fields, size_t nr_fields, unsigned *count,
			struct err *err)
{
	char sub[PATH_MAX_LEN];
	size_t n;
	int rc;

	if (!json_object_is_type(v, json_type_array))
		return err_set(err, -EINVAL, "%s: must be an array", path);
	n = json_object_array_length(v);
	if (n > max)
		return err_set(err, -EINVAL, "%s: %zu %s; kite has at most %zu", path, n, what, max);
	for (size_t i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		select(pc, i);
		rc = fields_parse(pc, json_object_array_get_idx(v, i), sub, fields, nr_fields, err);
		if (rc < 0)
			return rc;
		*count = (unsigned)i + 1;
	}
	return 0;
}

static void drive_select(struct parse_ctx *pc, size_t i)
{
	pc->drive = &pc->cfg->drives[i];
	memset(pc->drive, 0, sizeof(*pc->drive));
}

static int drives(struct parse_ctx *pc, struct json_object *v, const char *path,
		  struct err *err)
{
	return object_array(pc, v, path, VM_MAX_DISKS, "drives", drive_select, drive_fields,
			    ARRAY_SIZE(drive_fields), &pc->cfg->nr_drives, err);
}

/* ---- entropy and what kite has not got -------------------------------- */

static const struct field entropy_fields[] = {
	{ "rate_limiter", false, rate_limiter_ignored },
};

static int entropy(struct parse_ctx *pc, struct json_object *v, const char *path,
		   struct err *err)
{
	pc->cfg->rng = true;
	return fields_parse(pc, v, path, entropy_fields, ARRAY_SIZE(entropy_fields), err);
}

/* Firecracker's VsockDeviceConfig; vsock_id is its deprecated name, accepted. */
static int vsock_id(struct parse_ctx *pc, struct json_object *v, const char *path,
		    struct err *err)
{
	char id[CONFIG_DRIVE_ID_MAX + 1];

	(void)pc;
	return want_string(v, path, id, sizeof(id), err);
}

static int guest_cid(struct parse_ctx *pc, struct json_object *v, const char *path,
		     struct err *err)
{
	uint64_t cid = 0;
	int rc = want_uint(v, path, 3, UINT32_MAX, &cid, err);

	if (rc == 0)
		pc->cfg->vsock.guest_cid = (uint32_t)cid;
	return rc;
}

static int uds_path(struct parse_ctx *pc, struct json_object *v, const char *path,
		    struct err *err)
{
	int rc = want_string(v, path, pc->cfg->vsock.uds_path, sizeof(pc->cfg->vsock.uds_path),
			     err);

	if (rc == 0 && !pc->cfg->vsock.uds_path[0])
		return err_set(err, -EINVAL, "%s: empty", path);
	return rc;
}

static const struct field vsock_fields[] = {
	{ "vsock_id", false, vsock_id },
	{ "guest_cid", true, guest_cid },
	{ "uds_path", true, uds_path },
};

static int vsock_section(struct parse_ctx *pc, struct json_object *v, const char *path,
			 struct err *err)
{
	/* Firecracker writes "vsock": null for no device. */
	if (json_object_is_type(v, json_type_null))
		return 0;
	memset(&pc->cfg->vsock, 0, sizeof(pc->cfg->vsock));
	pc->cfg->vsock.enabled = true;
	return fields_parse(pc, v, path, vsock_fields, ARRAY_SIZE(vsock_fields), err);
}

/* ---- network interfaces (Firecracker's NetworkInterface) --------------- */

static int iface_id(struct parse_ctx *pc, struct json_object *v, const char *path,
		    struct err *err)
{
	struct vm_net_config *n = pc->net;
	int rc = want_string(v, path, n->iface_id, sizeof(n->iface_id), err);

	if (rc < 0)
		return rc;
	if (!n->iface_id[0])
		return err_set(err, -EINVAL, "%s: empty", path);
	if (strspn(n->iface_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
	    strlen(n->iface_id))
		return err_set(err, -EINVAL, "%s: \"%s\" has a character other than A-Z, a-z, 0-9, _",
			       path, n->iface_id);
	return 0;
}

static int host_dev_name(struct parse_ctx *pc, struct json_object *v, const char *path,
			 struct err *err)
{
	struct vm_net_config *n = pc->net;
	int rc = want_string(v, path, n->host_dev_name, sizeof(n->host_dev_name), err);

	if (rc < 0)
		return rc;
	if (!n->host_dev_name[0] || strchr(n->host_dev_name, '/'))
		return err_set(err, -EINVAL, "%s: \"%s\" is not an interface name", path,
			       n->host_dev_name);
	if (n->kind == VM_NET_USER)
		return err_set(err, -EINVAL, "%s: not with \"user\" (user-mode networking)", path);
	return 0;
}

/* kite's "user": {"hostfwd": ["tcp::2222-:22", ...]}: QEMU's rules, as --net user,hostfwd=. */
static int user_hostfwd(struct parse_ctx *pc, struct json_object *v, const char *path,
			struct err *err)
{
	struct vm_net_config *n = pc->net;
	char sub[PATH_MAX_LEN], text[CONFIG_HOSTFWD_TEXT_MAX + 1];
	size_t nr;
	int rc;

	if (!json_object_is_type(v, json_type_array))
		return err_set(err, -EINVAL, "%s: must be an array", path);
	nr = json_object_array_length(v);
	if (nr > VM_NET_HOSTFWD_MAX)
		return err_set(err, -EINVAL, "%s: %zu rules; kite has at most %u", path, nr,
			       VM_NET_HOSTFWD_MAX);
	for (size_t i = 0; i < nr; i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		rc = want_string(json_object_array_get_idx(v, i), sub, text, sizeof(text), err);
		if (rc < 0)
			return rc;
		rc = config_hostfwd_parse(text, &n->hostfwd[i], err);
		if (rc < 0)
			return err_wrap(err, "%s", sub);
	}
	n->nr_hostfwd = (unsigned)nr;
	return 0;
}

static const struct field user_fields[] = {
	{ "hostfwd", false, user_hostfwd },
};

static int user(struct parse_ctx *pc, struct json_object *v, const char *path, struct err *err)
{
	if (pc->net->host_dev_name[0])
		return err_set(err, -EINVAL, "%s: not with host_dev_name (a TAP)", path);
	pc->net->kind = VM_NET_USER;
	return fields_parse(pc, v, path, user_fields, ARRAY_SIZE(user_fields), err);
}

static int guest_mac(struct parse_ctx *pc, struct json_object *v, const char *path,
		     struct err *err)
{
	char text[32];
	int rc = want_string(v, path, text, sizeof(text), err);

	if (rc < 0)
		return rc;
	if (config_mac_parse(text, pc->net->guest_mac) < 0)
		return err_set(err, -EINVAL, "%s: \"%s\" is not a unicast aa:bb:cc:dd:ee:ff", path,
			       text);
	pc->net->has_mac = true;
	return 0;
}

static int net_mtu(struct parse_ctx *pc, struct json_object *v, const char *path,
		   struct err *err)
{
	uint64_t mtu = 0;
	int rc = want_uint(v, path, CONFIG_MTU_MIN, CONFIG_MTU_MAX, &mtu, err);

	if (rc == 0)
		pc->net->mtu = (uint16_t)mtu;
	return rc;
}

static int rx_rate_limiter(struct parse_ctx *pc, struct json_object *v, const char *path,
			   struct err *err)
{
	return limiter_parse(pc, v, path, &pc->net->rx_rate_limiter, err);
}

static int tx_rate_limiter(struct parse_ctx *pc, struct json_object *v, const char *path,
			   struct err *err)
{
	return limiter_parse(pc, v, path, &pc->net->tx_rate_limiter, err);
}

static const struct field net_fields[] = {
	{ "iface_id", true, iface_id },
	/* One of host_dev_name and user: config_validate() says when neither is there. */
	{ "host_dev_name", false, host_dev_name },
	{ "user", false, user },
	{ "guest_mac", false, guest_mac },
	{ "rx_rate_limiter", false, rx_rate_limiter },
	{ "tx_rate_limiter", false, tx_rate_limiter },
	{ "mtu", false, net_mtu },
};

static void net_select(struct parse_ctx *pc, size_t i)
{
	pc->net = &pc->cfg->nets[i];
	memset(pc->net, 0, sizeof(*pc->net));
}

static int network_interfaces(struct parse_ctx *pc, struct json_object *v, const char *path,
			      struct err *err)
{
	return object_array(pc, v, path, VM_MAX_NETS, "interfaces", net_select, net_fields,
			    ARRAY_SIZE(net_fields), &pc->cfg->nr_nets, err);
}

/* PUT /network-interfaces/{id}: adds interface id, or replaces the one that has it. */
static int net_apply(struct parse_ctx *pc, struct json_object *root, const char *id,
		     struct err *err)
{
	struct vm_config *cfg = pc->cfg;
	unsigned slot;
	int rc;

	for (slot = 0; slot < cfg->nr_nets && strcmp(cfg->nets[slot].iface_id, id); slot++)
		;
	if (slot == VM_MAX_NETS)
		return err_set(err, -EINVAL, "iface_id: kite has at most %u network interfaces",
			       VM_MAX_NETS);
	pc->net = &cfg->nets[slot];
	memset(pc->net, 0, sizeof(*pc->net));
	rc = fields_parse(pc, root, "", net_fields, ARRAY_SIZE(net_fields), err);
	if (rc < 0)
		return rc;
	if (strcmp(pc->net->iface_id, id))
		return err_set(err, -EINVAL, "iface_id: \"%s\" is not the path's \"%.64s\"",
			       pc->net->iface_id, id);
	if (slot == cfg->nr_nets)
		cfg->nr_nets++;
	return config_validate_devices(cfg, err);
}

/* PATCH /network-interfaces/{id}: Firecracker's PartialNetworkInterface. */
static int patch_iface_id(struct parse_ctx *pc, struct json_object *v, const char *path,
			  struct err *err)
{
	return want_string(v, path, pc->net->iface_id, sizeof(pc->net->iface_id), err);
}

static const struct field net_patch_fields[] = {
	{ "iface_id", true, patch_iface_id },
	{ "rx_rate_limiter", false, rx_rate_limiter },
	{ "tx_rate_limiter", false, tx_rate_limiter },
};

/* The limiters given are merged into the interface's: a bucket left out stays. */
static int net_patch_apply(struct parse_ctx *pc, struct json_object *root, const char *id,
			   struct err *err)
{
	struct vm_net_config *n = NULL;
	struct vm_net_config patch;
	int rc;

	for (unsigned i = 0; i < pc->cfg->nr_nets && i < VM_MAX_NETS; i++)
		if (!strcmp(pc->cfg->nets[i].iface_id, id))
			n = &pc->cfg->nets[i];
	if (!n)
		return err_set(err, -ENOENT, "iface_id: no network interface \"%.64s\"", id);
	patch = *n;
	patch.iface_id[0] = '\0';
	pc->net = &patch;
	rc = fields_parse(pc, root, "", net_patch_fields, ARRAY_SIZE(net_patch_fields), err);
	if (rc < 0)
		return rc;
	if (strcmp(patch.iface_id, id))
		return err_set(err, -EINVAL, "iface_id: \"%s\" is not the path's \"%.64s\"",
			       patch.iface_id, id);
	n->rx_rate_limiter = patch.rx_rate_limiter;
	n->tx_rate_limiter = patch.tx_rate_limiter;
	return config_validate_devices(pc->cfg, err);
}

/* Sections that would change what the guest sees: refused rather than dropped. */
static int unsupported_section(struct parse_ctx *pc, struct json_object *v, const char *path,
			       struct err *err)
{
	(void)pc;
	if (json_object_is_type(v, json_type_array) && !json_object_array_length(v))
		return 0;
	return err_set(err, -EINVAL, "%s: not supported by kite", path);
}

/* ---- kite's own section ----------------------------------------------- */

static int kite_accel(struct parse_ctx *pc, struct json_object *v, const char *path,
		      struct err *err)
{
	static const char *const names[] = { "auto", "kvm", "soft", NULL };
	int i = 0, rc = want_enum(v, path, names, &i, err);

	_Static_assert(ACCEL_AUTO == 0 && ACCEL_KVM == 1 && ACCEL_SOFT == 2, "names[] order");
	if (rc == 0)
		pc->cfg->accel = (enum vm_accel)i;
	return rc;
}

static int kite_soft_cpu(struct parse_ctx *pc, struct json_object *v, const char *path,
			 struct err *err)
{
	static const char *const names[] = { "bt", "interp", NULL };
	int i = 0, rc = want_enum(v, path, names, &i, err);

	_Static_assert(SOFT_CPU_BT == 0 && SOFT_CPU_INTERP == 1, "names[] order");
	if (rc == 0)
		pc->cfg->soft_cpu = (enum vm_soft_cpu)i;
	return rc;
}

static int kite_soft_code_cache(struct parse_ctx *pc, struct json_object *v, const char *path,
				struct err *err)
{
	uint64_t mib = 0;
	int rc = want_uint(v, path, 1, 1024, &mib, err);

	if (rc == 0)
		pc->cfg->soft_code_cache = mib << 20;
	return rc;
}

static int kite_console(struct parse_ctx *pc, struct json_object *v, const char *path,
			struct err *err)
{
	static const char *const names[] = { "serial", "virtio", NULL };
	int i = 0, rc = want_enum(v, path, names, &i, err);

	_Static_assert(VM_CONSOLE_SERIAL == 0 && VM_CONSOLE_VIRTIO == 1, "names[] order");
	if (rc == 0)
		pc->cfg->console = (enum vm_console_kind)i;
	return rc;
}

static int kite_testdev(struct parse_ctx *pc, struct json_object *v, const char *path,
			struct err *err)
{
	return want_bool(v, path, &pc->cfg->testdev, err);
}

static const struct field kite_fields[] = {
	{ "accel", false, kite_accel },
	{ "soft_cpu", false, kite_soft_cpu },
	{ "soft_code_cache_mib", false, kite_soft_code_cache },
	{ "console", false, kite_console },
	{ "testdev", false, kite_testdev },
};

static int kite_section(struct parse_ctx *pc, struct json_object *v, const char *path,
			struct err *err)
{
	return fields_parse(pc, v, path, kite_fields, ARRAY_SIZE(kite_fields), err);
}

static int logger_section(struct parse_ctx *pc, struct json_object *v, const char *path,
			  struct err *err);
static int metrics_section(struct parse_ctx *pc, struct json_object *v, const char *path,
			   struct err *err);

/* Firecracker's VmmConfig, where "drives" has no default and so is required. */
static const struct field top_fields[] = {
	{ "boot-source", true, boot_source },
	{ "drives", true, drives },
	{ "machine-config", false, machine_config },
	{ "entropy", false, entropy },
	{ "network-interfaces", false, network_interfaces },
	{ "vsock", false, vsock_section },
	{ "logger", false, logger_section },
	{ "metrics", false, metrics_section },
	{ "balloon", false, unsupported_section },
	{ "cpu-config", false, unsupported_section },
	{ "mmds-config", false, unsupported_section },
	{ "pmem", false, unsupported_section },
	{ "memory-hotplug", false, unsupported_section },
	{ "kite", false, kite_section },
};

/*
 * The one JSON value text holds into *root (NULL for null); trailing
 * whitespace only. what names the text in messages ("config", "body").
 */
static int json_parse(const char *text, size_t len, size_t max, const char *what,
		      struct json_object **root, struct err *err)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	size_t end;
	int rc = 0;

	if (len > max)
		return err_set(err, -EFBIG, "%s: %zu bytes is more than the %zu kite reads", what,
			       len, max);
	tok = json_tokener_new_ex(JSON_DEPTH_MAX);
	if (!tok)
		return err_set(err, -ENOMEM, "%s: out of memory", what);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	*root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* A bare literal or number ends only at a delimiter: the end of text is one. */
		*root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	while (jerr == json_tokener_success && end < len && strchr(" \t\r\n", text[end]) &&
	       text[end])
		end++;
	if (jerr == json_tokener_continue)
		rc = err_set(err, -EINVAL, "%s: not JSON: the text ends inside a value", what);
	else if (jerr != json_tokener_success)
		rc = err_set(err, -EINVAL, "%s: not JSON at byte %zu: %s", what,
			     json_tokener_get_parse_end(tok), json_tokener_error_desc(jerr));
	else if (end < len)
		rc = err_set(err, -EINVAL, "%s: more after the JSON value, at byte %zu", what, end);
	if (rc < 0) {
		json_object_put(*root);
		*root = NULL;
	}
	json_tokener_free(tok);
	return rc;
}

int config_json_parse(struct vm_config *cfg, const char *text, size_t len, struct err *err)
{
	struct parse_ctx pc = { .cfg = cfg, .root = "config file" };
	struct json_object *root = NULL;
	int rc;

	rc = json_parse(text, len, CONFIG_FILE_MAX, "config", &root, err);
	if (rc < 0)
		return rc;
	/* As in Firecracker, the entropy device is there when the file asks for it. */
	cfg->rng = false;
	rc = fields_parse(&pc, root, "", top_fields, ARRAY_SIZE(top_fields), err);
	if (rc == 0 && !pc.has_boot_args)
		config_str_set(cfg->cmdline, sizeof(cfg->cmdline), config_default_cmdline(cfg));
	json_object_put(root);
	return rc;
}

/* ---- API request bodies ----------------------------------------------- */

/* PATCH /machine-config: the same fields, none of them required. */
static const struct field machine_patch_fields[] = {
	{ "vcpu_count", false, vcpu_count },
	{ "mem_size_mib", false, mem_size_mib },
	{ "smt", false, smt },
	{ "track_dirty_pages", false, track_dirty_pages },
	{ "cpu_template", false, only_none },
	{ "huge_pages", false, only_none },
};

/* PUT /drives/{id}: adds drive id, or replaces the drive that has it. */
static int drive_apply(struct parse_ctx *pc, struct json_object *root, const char *id,
		       struct err *err)
{
	struct vm_config *cfg = pc->cfg;
	unsigned slot;
	int rc;

	for (slot = 0; slot < cfg->nr_drives && strcmp(cfg->drives[slot].drive_id, id); slot++)
		;
	if (slot == VM_MAX_DISKS)
		return err_set(err, -EINVAL, "drive_id: kite has at most %u drives", VM_MAX_DISKS);
	pc->drive = &cfg->drives[slot];
	memset(pc->drive, 0, sizeof(*pc->drive));
	rc = fields_parse(pc, root, "", drive_fields, ARRAY_SIZE(drive_fields), err);
	if (rc < 0)
		return rc;
	if (strcmp(pc->drive->drive_id, id))
		return err_set(err, -EINVAL, "drive_id: \"%s\" is not the path's \"%.64s\"",
			       pc->drive->drive_id, id);
	if (slot == cfg->nr_drives)
		cfg->nr_drives++;
	return config_validate_devices(cfg, err);
}

/* PATCH /drives/{id}: Firecracker's PartialDrive. */
static int patch_drive_id(struct parse_ctx *pc, struct json_object *v, const char *path,
			  struct err *err)
{
	return want_string(v, path, pc->drive->drive_id, sizeof(pc->drive->drive_id), err);
}

static const struct field drive_patch_fields[] = {
	{ "drive_id", true, patch_drive_id },
	{ "path_on_host", false, path_on_host },
	{ "rate_limiter", false, drive_rate_limiter },
};

static int drive_patch_apply(struct parse_ctx *pc, struct json_object *root, const char *id,
			     struct err *err)
{
	struct vm_drive_config patch = { 0 };
	unsigned slot;
	int rc;

	for (slot = 0; slot < pc->cfg->nr_drives; slot++)
		if (!strcmp(pc->cfg->drives[slot].drive_id, id))
			break;
	/* The drive's limiter is the base a partial one merges into. */
	if (slot < pc->cfg->nr_drives)
		patch.rate_limiter = pc->cfg->drives[slot].rate_limiter;
	pc->drive = &patch;
	rc = fields_parse(pc, root, "", drive_patch_fields, ARRAY_SIZE(drive_patch_fields), err);
	if (rc < 0)
		return rc;
	if (strcmp(patch.drive_id, id))
		return err_set(err, -EINVAL, "drive_id: \"%s\" is not the path's \"%.64s\"",
			       patch.drive_id, id);
	if (slot == pc->cfg->nr_drives)
		return err_set(err, -ENOENT, "drive_id: no drive \"%s\"", id);
	if (patch.path_on_host[0])
		memcpy(pc->cfg->drives[slot].path_on_host, patch.path_on_host,
		       sizeof(patch.path_on_host));
	pc->cfg->drives[slot].rate_limiter = patch.rate_limiter;
	return config_validate_devices(pc->cfg, err);
}

/* PUT /logger: Firecracker's Logger; the level's name in any case. */
static int log_level(struct parse_ctx *pc, struct json_object *v, const char *path,
		     struct err *err)
{
	static const char *const names[] = { "Error", "Warning", "Info", "Debug", "Trace", "Off" };
	static const enum config_log_level levels[] = { CONFIG_LOG_ERROR, CONFIG_LOG_WARN,
							CONFIG_LOG_INFO,  CONFIG_LOG_DEBUG,
							CONFIG_LOG_DEBUG, CONFIG_LOG_OFF };

	if (!json_object_is_type(v, json_type_string))
		return err_set(err, -EINVAL, "%s: must be a string", path);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcasecmp(json_object_get_string(v), names[i])) {
			pc->cfg->logger.level = levels[i];
			return 0;
		}
	}
	return err_set(err, -EINVAL,
		       "%s: \"%.64s\" is not one of Error, Warning, Info, Debug, Trace, Off", path,
		       json_object_get_string(v));
}

static int log_path(struct parse_ctx *pc, struct json_object *v, const char *path,
		    struct err *err)
{
	struct vm_logger_config *l = &pc->cfg->logger;
	int rc = want_string(v, path, l->log_path, sizeof(l->log_path), err);

	if (rc == 0 && !l->log_path[0])
		return err_set(err, -EINVAL, "%s: empty", path);
	return rc;
}

static int show_level(struct parse_ctx *pc, struct json_object *v, const char *path,
		      struct err *err)
{
	return want_bool(v, path, &pc->cfg->logger.show_level, err);
}

static int show_log_origin(struct parse_ctx *pc, struct json_object *v, const char *path,
			   struct err *err)
{
	return want_bool(v, path, &pc->cfg->logger.show_log_origin, err);
}

static int log_module(struct parse_ctx *pc, struct json_object *v, const char *path,
		      struct err *err)
{
	char module[64];

	(void)pc;
	if (want_string(v, path, module, sizeof(module), err) < 0)
		return err->code;
	log_warn("api: %s: kite logs every subsystem; \"%s\" ignored", path, module);
	return 0;
}

static const struct field logger_fields[] = {
	{ "log_path", false, log_path },
	{ "level", false, log_level },
	{ "show_level", false, show_level },
	{ "show_log_origin", false, show_log_origin },
	{ "module", false, log_module },
};

/* PUT /metrics: Firecracker's Metrics. */
static int metrics_path(struct parse_ctx *pc, struct json_object *v, const char *path,
			struct err *err)
{
	struct vm_metrics_config *m = &pc->cfg->metrics;
	int rc = want_string(v, path, m->metrics_path, sizeof(m->metrics_path), err);

	if (rc == 0 && !m->metrics_path[0])
		return err_set(err, -EINVAL, "%s: empty", path);
	return rc;
}

static int emit_id(struct parse_ctx *pc, struct json_object *v, const char *path,
		   struct err *err)
{
	bool on;

	(void)pc;
	return want_bool(v, path, &on, err);
}

static int metrics_properties(struct parse_ctx *pc, struct json_object *v, const char *path,
			      struct err *err)
{
	(void)pc;
	if (!json_object_is_type(v, json_type_object))
		return err_set(err, -EINVAL, "%s: must be an object", path);
	log_warn("api: %s: not written by kite yet; ignored", path);
	return 0;
}

static const struct field metrics_fields[] = {
	{ "metrics_path", true, metrics_path },
	{ "emit_id", false, emit_id },
	{ "properties", false, metrics_properties },
};

/* The file's "logger" and "metrics": what PUT /logger and PUT /metrics take (the API opens them). */
static int logger_section(struct parse_ctx *pc, struct json_object *v, const char *path,
			  struct err *err)
{
	return fields_parse(pc, v, path, logger_fields, ARRAY_SIZE(logger_fields), err);
}

static int metrics_section(struct parse_ctx *pc, struct json_object *v, const char *path,
			   struct err *err)
{
	return fields_parse(pc, v, path, metrics_fields, ARRAY_SIZE(metrics_fields), err);
}

static int body_apply(struct parse_ctx *pc, enum config_body which, const char *id,
		      struct json_object *root, struct err *err)
{
	struct vm_config *cfg = pc->cfg;
	int rc;

	switch (which) {
	case CONFIG_BODY_BOOT_SOURCE:
		/* A PUT replaces the whole boot source: what it leaves out goes back to none. */
		cfg->initrd_path[0] = '\0';
		rc = fields_parse(pc, root, "", boot_source_fields, ARRAY_SIZE(boot_source_fields),
				  err);
		if (rc == 0 && !pc->has_boot_args)
			config_str_set(cfg->cmdline, sizeof(cfg->cmdline), config_default_cmdline(cfg));
		if (rc == 0 && !cfg->kernel_path[0])
			rc = err_set(err, -EINVAL, "kernel_image_path: empty");
		return rc;
	case CONFIG_BODY_MACHINE:
	case CONFIG_BODY_MACHINE_PATCH:
		rc = which == CONFIG_BODY_MACHINE
			     ? fields_parse(pc, root, "", machine_config_fields,
					    ARRAY_SIZE(machine_config_fields), err)
			     : fields_parse(pc, root, "", machine_patch_fields,
					    ARRAY_SIZE(machine_patch_fields), err);
		return rc < 0 ? rc : config_validate_machine(cfg, err);
	case CONFIG_BODY_DRIVE:
		return drive_apply(pc, root, id ? id : "", err);
	case CONFIG_BODY_ENTROPY:
		rc = entropy(pc, root, "", err);
		return rc < 0 ? rc : config_validate_devices(cfg, err);
	case CONFIG_BODY_DRIVE_PATCH:
		return drive_patch_apply(pc, root, id ? id : "", err);
	case CONFIG_BODY_NET:
		return net_apply(pc, root, id ? id : "", err);
	case CONFIG_BODY_NET_PATCH:
		return net_patch_apply(pc, root, id ? id : "", err);
	case CONFIG_BODY_LOGGER:
		memset(&cfg->logger, 0, sizeof(cfg->logger));
		return fields_parse(pc, root, "", logger_fields, ARRAY_SIZE(logger_fields), err);
	case CONFIG_BODY_VSOCK:
		rc = vsock_section(pc, root, "", err);
		return rc < 0 ? rc : config_validate_devices(cfg, err);
	case CONFIG_BODY_METRICS:
		memset(&cfg->metrics, 0, sizeof(cfg->metrics));
		return fields_parse(pc, root, "", metrics_fields, ARRAY_SIZE(metrics_fields), err);
	}
	return err_set(err, -EINVAL, "body: unknown kind %d", (int)which);
}

int config_json_apply(struct vm_config *cfg, enum config_body which, const char *id,
		      const char *text, size_t len, struct err *err)
{
	struct json_object *root = NULL;
	struct vm_config *scratch;
	struct parse_ctx pc = { .root = "body" };
	int rc;

	rc = json_parse(text, len, CONFIG_BODY_MAX, "body", &root, err);
	if (rc < 0)
		return rc;
	/* All or nothing: the request is tried on a copy, which replaces cfg if it holds. */
	scratch = malloc(sizeof(*scratch));
	if (!scratch) {
		json_object_put(root);
		return err_set(err, -ENOMEM, "body: out of memory");
	}
	*scratch = *cfg;
	pc.cfg = scratch;
	rc = body_apply(&pc, which, id, root, err);
	if (rc == 0)
		*cfg = *scratch;
	free(scratch);
	json_object_put(root);
	return rc;
}

static int choice_field(struct parse_ctx *pc, struct json_object *v, const char *path,
			struct err *err)
{
	return want_enum(v, path, pc->choices, &pc->choice, err);
}

int config_json_parse_choice(const char *text, size_t len, const char *field,
			     const char *const *choices, int *out, struct err *err)
{
	struct field fields[] = { { field, true, choice_field } };
	struct parse_ctx pc = { .root = "body", .choices = choices };
	struct json_object *root = NULL;
	int rc;

	rc = json_parse(text, len, CONFIG_BODY_MAX, "body", &root, err);
	if (rc < 0)
		return rc;
	rc = fields_parse(&pc, root, "", fields, ARRAY_SIZE(fields), err);
	if (rc == 0)
		*out = pc.choice;
	json_object_put(root);
	return rc;
}

/* ---- the configuration as JSON ---------------------------------------- */

static void put_str(struct json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, json_object_new_string(s));
}

static struct json_object *machine_json(const struct vm_config *cfg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "vcpu_count", json_object_new_int((int)cfg->nr_cpus));
	json_object_object_add(o, "mem_size_mib", json_object_new_int64((int64_t)(cfg->mem_size >> 20)));
	json_object_object_add(o, "smt", json_object_new_boolean(false));
	json_object_object_add(o, "track_dirty_pages", json_object_new_boolean(false));
	put_str(o, "huge_pages", "None");
	return o;
}

static struct json_object *bucket_json(const struct ratelimit_bucket_config *b)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "size", json_object_new_int64((int64_t)b->size));
	if (b->one_time_burst)
		json_object_object_add(o, "one_time_burst",
				       json_object_new_int64((int64_t)b->one_time_burst));
	json_object_object_add(o, "refill_time", json_object_new_int64((int64_t)b->refill_time_ms));
	return o;
}

/* Firecracker's RateLimiter with the buckets that limit; nothing when none does. */
static void limiter_json(struct json_object *parent, const char *key,
			 const struct ratelimit_config *rl)
{
	struct json_object *o;

	if (!ratelimit_bucket_enabled(&rl->bandwidth) && !ratelimit_bucket_enabled(&rl->ops))
		return;
	o = json_object_new_object();
	if (ratelimit_bucket_enabled(&rl->bandwidth))
		json_object_object_add(o, "bandwidth", bucket_json(&rl->bandwidth));
	if (ratelimit_bucket_enabled(&rl->ops))
		json_object_object_add(o, "ops", bucket_json(&rl->ops));
	json_object_object_add(parent, key, o);
}

static struct json_object *drive_json(const struct vm_drive_config *d)
{
	struct json_object *o = json_object_new_object();

	put_str(o, "drive_id", d->drive_id);
	if (d->partuuid[0])
		put_str(o, "partuuid", d->partuuid);
	json_object_object_add(o, "is_root_device", json_object_new_boolean(d->is_root_device));
	put_str(o, "cache_type", "Unsafe");
	json_object_object_add(o, "is_read_only", json_object_new_boolean(d->is_read_only));
	put_str(o, "path_on_host", d->path_on_host);
	put_str(o, "io_engine", "Sync");
	limiter_json(o, "rate_limiter", &d->rate_limiter);
	return o;
}

static struct json_object *net_json(const struct vm_net_config *n)
{
	struct json_object *o = json_object_new_object();
	char mac[18];

	put_str(o, "iface_id", n->iface_id);
	if (n->kind == VM_NET_USER) {
		struct json_object *user = json_object_new_object();
		struct json_object *fwd = json_object_new_array();
		char rule[CONFIG_HOSTFWD_TEXT_MAX + 1];

		for (unsigned i = 0; i < n->nr_hostfwd && i < VM_NET_HOSTFWD_MAX; i++) {
			config_hostfwd_format(&n->hostfwd[i], rule, sizeof(rule));
			json_object_array_add(fwd, json_object_new_string(rule));
		}
		json_object_object_add(user, "hostfwd", fwd);
		json_object_object_add(o, "user", user);
	} else {
		put_str(o, "host_dev_name", n->host_dev_name);
	}
	if (n->has_mac) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->guest_mac[0],
			 n->guest_mac[1], n->guest_mac[2], n->guest_mac[3], n->guest_mac[4],
			 n->guest_mac[5]);
		put_str(o, "guest_mac", mac);
	}
	limiter_json(o, "rx_rate_limiter", &n->rx_rate_limiter);
	limiter_json(o, "tx_rate_limiter", &n->tx_rate_limiter);
	if (n->mtu)
		json_object_object_add(o, "mtu", json_object_new_int(n->mtu));
	return o;
}

static struct json_object *kite_json(const struct vm_config *cfg)
{
	static const char *const accel[] = { "auto", "kvm", "soft" };
	struct json_object *o = json_object_new_object();

	put_str(o, "accel", accel[cfg->accel <= ACCEL_SOFT ? cfg->accel : 0]);
	put_str(o, "soft_cpu", cfg->soft_cpu == SOFT_CPU_INTERP ? "interp" : "bt");
	if (cfg->soft_code_cache)
		json_object_object_add(o, "soft_code_cache_mib",
				       json_object_new_int64((int64_t)(cfg->soft_code_cache >> 20)));
	put_str(o, "console", cfg->console == VM_CONSOLE_VIRTIO ? "virtio" : "serial");
	json_object_object_add(o, "testdev", json_object_new_boolean(cfg->testdev));
	return o;
}

static char *json_text(struct json_object *o)
{
	char *text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(o);
	return text;
}

char *config_json_write(const struct vm_config *cfg, enum config_json_part part)
{
	struct json_object *o, *boot, *drives, *nets;

	if (part == CONFIG_JSON_MACHINE)
		return json_text(machine_json(cfg));
	o = json_object_new_object();
	boot = json_object_new_object();
	put_str(boot, "kernel_image_path", cfg->kernel_path);
	if (cfg->initrd_path[0])
		put_str(boot, "initrd_path", cfg->initrd_path);
	put_str(boot, "boot_args", cfg->cmdline);
	json_object_object_add(o, "boot-source", boot);
	drives = json_object_new_array();
	for (unsigned i = 0; i < cfg->nr_drives && i < VM_MAX_DISKS; i++)
		json_object_array_add(drives, drive_json(&cfg->drives[i]));
	json_object_object_add(o, "drives", drives);
	json_object_object_add(o, "machine-config", machine_json(cfg));
	nets = json_object_new_array();
	for (unsigned i = 0; i < cfg->nr_nets && i < VM_MAX_NETS; i++)
		json_object_array_add(nets, net_json(&cfg->nets[i]));
	json_object_object_add(o, "network-interfaces", nets);
	if (cfg->rng)
		json_object_object_add(o, "entropy", json_object_new_object());
	if (cfg->logger.log_path[0]) {
		static const char *const levels[] = { "Info", "Error", "Warning", "Info", "Debug", "Off" };
		struct json_object *l = json_object_new_object();

		put_str(l, "log_path", cfg->logger.log_path);
		put_str(l, "level", levels[cfg->logger.level <= CONFIG_LOG_OFF ? cfg->logger.level : 0]);
		json_object_object_add(l, "show_level", json_object_new_boolean(cfg->logger.show_level));
		json_object_object_add(l, "show_log_origin",
				       json_object_new_boolean(cfg->logger.show_log_origin));
		json_object_object_add(o, "logger", l);
	}
	if (cfg->metrics.metrics_path[0]) {
		struct json_object *m = json_object_new_object();

		put_str(m, "metrics_path", cfg->metrics.metrics_path);
		json_object_object_add(o, "metrics", m);
	}
	json_object_object_add(o, "kite", kite_json(cfg));
	return json_text(o);
}
