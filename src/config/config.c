/* config/config.c: the machine configuration's defaults, validation and file reading. */
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "base/util.h"
#include "memory/memory.h"
#include "soft/bt/bt.h"

void config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = VM_DEFAULT_MEM;
	cfg->nr_cpus = 1;
	cfg->accel = ACCEL_AUTO;
	cfg->rng = true;
}

int config_str_set(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);

	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, len + 1);
	return 0;
}

const char *config_default_cmdline(const struct vm_config *cfg)
{
	return cfg->console == VM_CONSOLE_VIRTIO ? DEFAULT_CMDLINE_HVC : DEFAULT_CMDLINE;
}

const struct vm_drive_config *config_drive_find(const struct vm_config *cfg, const char *id)
{
	for (unsigned i = 0; i < cfg->nr_drives && i < VM_MAX_DISKS; i++)
		if (cfg->drives[i].drive_id[0] && !strcmp(cfg->drives[i].drive_id, id))
			return &cfg->drives[i];
	return NULL;
}

static uint64_t host_memory_bytes(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return UINT64_MAX;
	return (uint64_t)si.totalram * si.mem_unit;
}

static bool has_nul(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static int boot_validate(const struct vm_config *cfg, struct err *err)
{
	if (!has_nul(cfg->kernel_path, sizeof(cfg->kernel_path)) || !cfg->kernel_path[0])
		return err_set(err, -EINVAL, "boot-source.kernel_image_path: missing");
	if (!has_nul(cfg->initrd_path, sizeof(cfg->initrd_path)))
		return err_set(err, -EINVAL, "boot-source.initrd_path: not a string");
	if (!has_nul(cfg->cmdline, sizeof(cfg->cmdline)))
		return err_set(err, -EINVAL, "boot-source.boot_args: not a string");
	return 0;
}

int config_validate_machine(const struct vm_config *cfg, struct err *err)
{
	if (cfg->nr_cpus < 1 || cfg->nr_cpus > VM_MAX_VCPUS)
		return err_set(err, -EINVAL, "machine-config.vcpu_count: %u is outside 1 to %u",
			       cfg->nr_cpus, VM_MAX_VCPUS);
	if (cfg->mem_size < MEM_MIN_SIZE)
		return err_set(err, -EINVAL, "machine-config.mem_size_mib: %llu MiB is below the %llu MiB minimum",
			       (unsigned long long)(cfg->mem_size >> 20),
			       (unsigned long long)(MEM_MIN_SIZE >> 20));
	if (cfg->mem_size % 4096)
		return err_set(err, -EINVAL, "machine-config.mem_size_mib: %llu bytes is not a multiple of 4 KiB",
			       (unsigned long long)cfg->mem_size);
	if (cfg->mem_size > host_memory_bytes())
		return err_set(err, -EINVAL, "machine-config.mem_size_mib: %llu MiB is more than this host's %llu MiB of memory",
			       (unsigned long long)(cfg->mem_size >> 20),
			       (unsigned long long)(host_memory_bytes() >> 20));
	if (cfg->accel > ACCEL_SOFT || cfg->soft_cpu > SOFT_CPU_INTERP ||
	    cfg->console > VM_CONSOLE_VIRTIO)
		return err_set(err, -EINVAL, "kite: engine, soft_cpu or console out of range");
	if (cfg->soft_code_cache &&
	    (cfg->soft_code_cache < BT_CACHE_MIN || cfg->soft_code_cache > BT_CACHE_MAX))
		return err_set(err, -EINVAL, "kite.soft_code_cache_mib: %llu MiB is outside 1 to 1024",
			       (unsigned long long)(cfg->soft_code_cache >> 20));
	return 0;
}

static int drive_validate(const struct vm_config *cfg, unsigned i, struct err *err)
{
	const struct vm_drive_config *d = &cfg->drives[i];
	char what[64];
	int rc;

	snprintf(what, sizeof(what), "drives[%u].rate_limiter", i);
	rc = config_limit_validate(&d->rate_limiter, what, err);
	if (rc < 0)
		return rc;
	if (!has_nul(d->drive_id, sizeof(d->drive_id)))
		return err_set(err, -EINVAL, "drives[%u].drive_id: longer than %u bytes", i,
			       CONFIG_DRIVE_ID_MAX);
	if (!has_nul(d->path_on_host, sizeof(d->path_on_host)) || !d->path_on_host[0])
		return err_set(err, -EINVAL, "drives[%u].path_on_host: missing", i);
	if (!has_nul(d->partuuid, sizeof(d->partuuid)))
		return err_set(err, -EINVAL, "drives[%u].partuuid: longer than %u bytes", i,
			       CONFIG_PARTUUID_MAX);
	if (d->partuuid[0] && !d->is_root_device)
		return err_set(err, -EINVAL, "drives[%u].partuuid: only for the root device", i);
	for (unsigned j = 0; j < i; j++)
		if (d->is_root_device && cfg->drives[j].is_root_device)
			return err_set(err, -EINVAL,
				       "drives[%u].is_root_device: drives[%u] is the root device already",
				       i, j);
	return 0;
}

int config_mac_parse(const char *text, uint8_t mac[6])
{
	unsigned v[6];
	int used = 0;

	if (strlen(text) != 17 ||
	    sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &used) != 6 || used != 17)
		return -EINVAL;
	if (v[0] & 1) /* multicast: no NIC's own address */
		return -EINVAL;
	for (unsigned i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

/* Splits *p at the next sep: returns the part before it (sep replaced by NUL), or NULL. */
static char *cut(char **p, char sep)
{
	char *start = *p, *at = strchr(start, sep);

	if (!at)
		return NULL;
	*at = '\0';
	*p = at + 1;
	return start;
}

static int port_parse(const char *text, const char *what, uint16_t *port, struct err *err)
{
	uint64_t v;

	if (parse_uint(text, 1, 65535, &v, NULL) < 0)
		return err_set(err, -EINVAL, "%s port '%s' is not 1 to 65535", what, text);
	*port = (uint16_t)v;
	return 0;
}

/* addr's host part inside 10.0.2.0/24, and none of the network's own. */
static int guest_addr_check(const char *text, const uint8_t addr[4], struct err *err)
{
	uint32_t a = (uint32_t)addr[0] << 24 | addr[1] << 16 | addr[2] << 8 | addr[3];
	uint32_t host = a & 0xff;

	if ((a & 0xffffff00u) != USERNET_NET)
		return err_set(err, -EINVAL, "guest address '%s' is not in 10.0.2.0/24", text);
	if (host == 0 || host == 255 || a == USERNET_HOST || a == USERNET_DNS)
		return err_set(err, -EINVAL,
			       "guest address '%s' is the network's own (.0, .2, .3 or .255)", text);
	return 0;
}

int config_hostfwd_parse(const char *text, struct vm_net_hostfwd *fwd, struct err *err)
{
	char buf[CONFIG_HOSTFWD_TEXT_MAX + 1], *p = buf, *proto, *haddr, *hport, *gaddr;
	struct vm_net_hostfwd f = { .udp = false,
				    .host_addr = { 127, 0, 0, 1 },
				    .guest_addr = { 10, 0, 2, 15 } };
	int rc;

	if (config_str_set(buf, sizeof(buf), text) < 0)
		return err_set(err, -EINVAL, "longer than %u bytes", CONFIG_HOSTFWD_TEXT_MAX);
	proto = cut(&p, ':');
	haddr = proto ? cut(&p, ':') : NULL;
	hport = haddr ? cut(&p, '-') : NULL;
	gaddr = hport ? cut(&p, ':') : NULL;
	if (!gaddr)
		return err_set(err, -EINVAL,
			       "not [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT");
	if (!strcmp(proto, "udp"))
		f.udp = true;
	else if (proto[0] && strcmp(proto, "tcp"))
		return err_set(err, -EINVAL, "protocol '%s' is not tcp or udp", proto);
	if (haddr[0] && inet_pton(AF_INET, haddr, f.host_addr) != 1)
		return err_set(err, -EINVAL, "host address '%s' is not an IPv4 address", haddr);
	rc = port_parse(hport, "host", &f.host_port, err);
	if (rc < 0)
		return rc;
	if (gaddr[0] && inet_pton(AF_INET, gaddr, f.guest_addr) != 1)
		return err_set(err, -EINVAL, "guest address '%s' is not an IPv4 address", gaddr);
	if (gaddr[0] && (rc = guest_addr_check(gaddr, f.guest_addr, err)) < 0)
		return rc;
	rc = port_parse(p, "guest", &f.guest_port, err);
	if (rc < 0)
		return rc;
	*fwd = f;
	return 0;
}

void config_hostfwd_format(const struct vm_net_hostfwd *f, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%u.%u.%u.%u:%u-%u.%u.%u.%u:%u", f->udp ? "udp" : "tcp",
		 f->host_addr[0], f->host_addr[1], f->host_addr[2], f->host_addr[3], f->host_port,
		 f->guest_addr[0], f->guest_addr[1], f->guest_addr[2], f->guest_addr[3],
		 f->guest_port);
}

const struct vm_net_config *config_net_find(const struct vm_config *cfg, const char *id)
{
	for (unsigned i = 0; i < cfg->nr_nets && i < VM_MAX_NETS; i++)
		if (!strcmp(cfg->nets[i].iface_id, id))
			return &cfg->nets[i];
	return NULL;
}

/* "SIZE/MS": bytes (with K/M/G) or a plain count, then the refill time in ms. */
static int bucket_parse(const char *text, bool bytes, struct ratelimit_bucket_config *b,
			struct err *err)
{
	char amount[32];
	const char *slash = strchr(text, '/');
	uint64_t size, ms;
	int rc;

	if (!slash || (size_t)(slash - text) >= sizeof(amount))
		return err_set(err, -EINVAL, "'%s' is not %s/REFILL_MS", text, bytes ? "SIZE" : "N");
	memcpy(amount, text, (size_t)(slash - text));
	amount[slash - text] = '\0';
	rc = bytes ? parse_size(amount, &size, err) : parse_uint(amount, 0, UINT64_MAX, &size, err);
	if (rc == 0)
		rc = parse_uint(slash + 1, 0, RATELIMIT_REFILL_MS_MAX, &ms, err);
	if (rc == 0 && size > RATELIMIT_SIZE_MAX)
		rc = err_set(err, -ERANGE, "%s is more than %llu", amount, RATELIMIT_SIZE_MAX);
	if (rc < 0)
		return err_wrap(err, "'%s'", text);
	b->size = size;
	b->refill_time_ms = ms;
	return 0;
}

static int burst_parse(const char *text, bool bytes, struct ratelimit_bucket_config *b,
		       struct err *err)
{
	uint64_t v;
	int rc = bytes ? parse_size(text, &v, err) : parse_uint(text, 0, UINT64_MAX, &v, err);

	if (rc == 0 && v > RATELIMIT_SIZE_MAX)
		rc = err_set(err, -ERANGE, "%s is more than %llu", text, RATELIMIT_SIZE_MAX);
	if (rc == 0)
		b->one_time_burst = v;
	return rc;
}

int config_limit_option(const char *opt, const char *prefix, struct ratelimit_config *rl,
			struct err *err)
{
	static const struct {
		const char *name;
		bool bytes, burst;
	} kinds[] = {
		{ "bw=", true, false },
		{ "bw-burst=", true, true },
		{ "ops=", false, false },
		{ "ops-burst=", false, true },
	};
	size_t plen = strlen(prefix);
	int rc;

	if (strncmp(opt, prefix, plen))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		size_t nlen = strlen(kinds[i].name);
		struct ratelimit_bucket_config *b = kinds[i].bytes ? &rl->bandwidth : &rl->ops;

		if (strncmp(opt + plen, kinds[i].name, nlen))
			continue;
		rc = kinds[i].burst ? burst_parse(opt + plen + nlen, kinds[i].bytes, b, err)
				    : bucket_parse(opt + plen + nlen, kinds[i].bytes, b, err);
		if (rc < 0)
			return err_wrap(err, "%.*s", (int)(plen + nlen - 1), opt);
		return 1;
	}
	return 0;
}

static int bucket_validate(const struct ratelimit_bucket_config *b, const char *what,
			   const char *name, struct err *err)
{
	if (b->size > RATELIMIT_SIZE_MAX || b->one_time_burst > RATELIMIT_SIZE_MAX)
		return err_set(err, -EINVAL, "%s.%s: size and one_time_burst are at most %llu", what,
			       name, RATELIMIT_SIZE_MAX);
	if (b->refill_time_ms > RATELIMIT_REFILL_MS_MAX)
		return err_set(err, -EINVAL, "%s.%s.refill_time: at most %llu ms", what, name,
			       RATELIMIT_REFILL_MS_MAX);
	return 0;
}

int config_limit_validate(const struct ratelimit_config *rl, const char *what, struct err *err)
{
	int rc = bucket_validate(&rl->bandwidth, what, "bandwidth", err);

	return rc < 0 ? rc : bucket_validate(&rl->ops, what, "ops", err);
}

bool config_has_sinks(const struct vm_config *cfg)
{
	return cfg->logger.log_path[0] || cfg->logger.level != CONFIG_LOG_DEFAULT ||
	       cfg->metrics.metrics_path[0];
}

unsigned config_virtio_count(const struct vm_config *cfg)
{
	return cfg->nr_drives + cfg->rng + (cfg->console == VM_CONSOLE_VIRTIO) + cfg->nr_nets +
	       cfg->vsock.enabled;
}

bool config_hostfwd_clash(const struct vm_net_hostfwd *a, const struct vm_net_hostfwd *b)
{
	static const uint8_t any[4];

	if (a->udp != b->udp || a->host_port != b->host_port)
		return false;
	return !memcmp(a->host_addr, b->host_addr, 4) || !memcmp(a->host_addr, any, 4) ||
	       !memcmp(b->host_addr, any, 4);
}

/* Rule k of interface i against every rule before it, on any interface. */
static int hostfwd_validate(const struct vm_config *cfg, unsigned i, unsigned k, struct err *err)
{
	const struct vm_net_hostfwd *f = &cfg->nets[i].hostfwd[k];

	for (unsigned j = 0; j <= i; j++) {
		const struct vm_net_config *o = &cfg->nets[j];

		if (o->kind != VM_NET_USER)
			continue;
		for (unsigned l = 0; l < (j == i ? k : o->nr_hostfwd); l++)
			if (config_hostfwd_clash(f, &o->hostfwd[l]))
				return err_set(err, -EINVAL,
					       "network-interfaces[%u].user.hostfwd[%u]: %s host port %u is network-interfaces[%u].user.hostfwd[%u]'s already",
					       i, k, f->udp ? "udp" : "tcp", f->host_port, j, l);
	}
	return 0;
}

static int net_validate(const struct vm_config *cfg, unsigned i, struct err *err)
{
	const struct vm_net_config *n = &cfg->nets[i];
	char what[64];
	int rc;

	if (!n->iface_id[0])
		return err_set(err, -EINVAL, "network-interfaces[%u].iface_id: missing", i);
	if (n->kind == VM_NET_TAP && !n->host_dev_name[0])
		return err_set(err, -EINVAL,
			       "network-interfaces[%u].host_dev_name: missing (or \"user\" for user-mode networking)",
			       i);
	if (n->kind == VM_NET_USER && n->host_dev_name[0])
		return err_set(err, -EINVAL,
			       "network-interfaces[%u].user: not with host_dev_name (a TAP)", i);
	if (n->nr_hostfwd > VM_NET_HOSTFWD_MAX || (n->kind != VM_NET_USER && n->nr_hostfwd))
		return err_set(err, -EINVAL, "network-interfaces[%u].user.hostfwd: at most %u", i,
			       n->kind == VM_NET_USER ? VM_NET_HOSTFWD_MAX : 0);
	if (n->mtu && n->mtu < CONFIG_MTU_MIN)
		return err_set(err, -EINVAL, "network-interfaces[%u].mtu: %u is below %u", i, n->mtu,
			       CONFIG_MTU_MIN);
	if (n->kind == VM_NET_USER && n->mtu > USERNET_MTU_MAX)
		return err_set(err, -EINVAL,
			       "network-interfaces[%u].mtu: %u is above %u, the most the user network takes",
			       i, n->mtu, USERNET_MTU_MAX);
	snprintf(what, sizeof(what), "network-interfaces[%u].rx_rate_limiter", i);
	rc = config_limit_validate(&n->rx_rate_limiter, what, err);
	if (rc < 0)
		return rc;
	snprintf(what, sizeof(what), "network-interfaces[%u].tx_rate_limiter", i);
	rc = config_limit_validate(&n->tx_rate_limiter, what, err);
	if (rc < 0)
		return rc;
	for (unsigned j = 0; j < i; j++) {
		if (!strcmp(cfg->nets[j].iface_id, n->iface_id))
			return err_set(err, -EINVAL,
				       "network-interfaces[%u].iface_id: \"%s\" is used twice", i,
				       n->iface_id);
		if (n->kind == VM_NET_TAP && cfg->nets[j].kind == VM_NET_TAP &&
		    !strcmp(cfg->nets[j].host_dev_name, n->host_dev_name))
			return err_set(err, -EINVAL,
				       "network-interfaces[%u].host_dev_name: %s is used twice", i,
				       n->host_dev_name);
	}
	for (unsigned k = 0; k < n->nr_hostfwd; k++) {
		rc = hostfwd_validate(cfg, i, k, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int config_validate_devices(const struct vm_config *cfg, struct err *err)
{
	unsigned virtio;
	int rc;

	if (cfg->nr_nets > VM_MAX_NETS)
		return err_set(err, -EINVAL, "network-interfaces: %u interfaces; kite has at most %u",
			       cfg->nr_nets, VM_MAX_NETS);
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		rc = net_validate(cfg, i, err);
		if (rc < 0)
			return rc;
	}

	if (cfg->nr_drives > VM_MAX_DISKS)
		return err_set(err, -EINVAL, "drives: %u drives; kite has at most %u",
			       cfg->nr_drives, VM_MAX_DISKS);
	for (unsigned i = 0; i < cfg->nr_drives; i++) {
		rc = drive_validate(cfg, i, err);
		if (rc < 0)
			return rc;
	}
	if (cfg->vsock.enabled && cfg->vsock.guest_cid < 3)
		return err_set(err, -EINVAL, "vsock.guest_cid: %u is reserved; use 3 or more",
			       cfg->vsock.guest_cid);
	if (cfg->vsock.enabled && !cfg->vsock.uds_path[0])
		return err_set(err, -EINVAL, "vsock.uds_path: empty");
	virtio = config_virtio_count(cfg);
	if (virtio > CONFIG_MAX_VIRTIO_DEVICES)
		return err_set(err, -EINVAL,
			       "drives: %u drives%s%s, %u network interfaces%s need %u virtio devices; kite has %u",
			       cfg->nr_drives, cfg->rng ? ", the entropy device" : "",
			       cfg->console == VM_CONSOLE_VIRTIO ? ", the virtio console" : "",
			       cfg->nr_nets, cfg->vsock.enabled ? " and vsock" : "", virtio,
			       CONFIG_MAX_VIRTIO_DEVICES);
	return 0;
}

int config_validate(const struct vm_config *cfg, struct err *err)
{
	int rc = boot_validate(cfg, err);

	if (rc == 0)
		rc = config_validate_machine(cfg, err);
	if (rc == 0)
		rc = config_validate_devices(cfg, err);
	return rc;
}

int config_file_read(const char *path, char **text, size_t *len, struct err *err)
{
	struct stat st;
	ssize_t n;
	char *buf;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "config file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = err_set(err, -errno, "config file %s: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(err, -EINVAL, "config file %s: not a regular file", path);
		goto out_close;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		rc = err_set(err, -EFBIG, "config file %s: %lld bytes is more than the %u kite reads",
			     path, (long long)st.st_size, CONFIG_FILE_MAX);
		goto out_close;
	}
	/* One byte more than the limit tells a file that grew since fstat. */
	buf = malloc(CONFIG_FILE_MAX + 2);
	if (!buf) {
		rc = err_set(err, -ENOMEM, "config file %s: out of memory", path);
		goto out_close;
	}
	*len = 0;
	while ((n = read(fd, buf + *len, CONFIG_FILE_MAX + 1 - *len)) > 0)
		*len += (size_t)n;
	if (n < 0 || *len > CONFIG_FILE_MAX) {
		rc = n < 0 ? err_set(err, -errno, "config file %s: %s", path, strerror(errno))
			   : err_set(err, -EFBIG, "config file %s: more than the %u bytes kite reads",
				     path, CONFIG_FILE_MAX);
		free(buf);
		goto out_close;
	}
	buf[*len] = '\0';
	*text = buf;
out_close:
	close(fd);
	return rc;
}
