/*
 * config/config.h: the one description of a machine. Flags (main.c), a
 * Firecracker-style JSON file (config/json.c) and later the API fill it; the
 * builder turns it into a machine. Plain data with its own storage, so it
 * can be copied, kept and compared.
 */
#ifndef KITE_CONFIG_CONFIG_H
#define KITE_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/ratelimit.h"

#define VM_MAX_VCPUS 64
#define VM_DEFAULT_MEM (256ull << 20)
#define VM_MAX_DISKS 8

#define DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1"
#define DEFAULT_CMDLINE_HVC "console=hvc0 reboot=k panic=1"

/* Bounds of the strings a configuration holds. */
#define CONFIG_PATH_MAX 4096
#define CONFIG_CMDLINE_MAX 4096
/* A drive's id is the virtio-blk serial the guest reads (GET_ID): 20 bytes at most. */
#define CONFIG_DRIVE_ID_MAX 20
#define CONFIG_PARTUUID_MAX 64
/* virtio-mmio slots: every disk, the rng, the virtio console and every NIC take one each. */
#define CONFIG_MAX_VIRTIO_DEVICES 8
#define VM_MAX_NETS 4
/* Firecracker's iface_id; a host interface name is IFNAMSIZ - 1 bytes at most. */
#define CONFIG_IFACE_ID_MAX 64
#define CONFIG_IFNAME_MAX 15
/* sun_path's size less the "_<port>" suffix of guest-initiated connections. */
#define CONFIG_UDS_PATH_MAX 96

enum vm_accel { ACCEL_AUTO, ACCEL_KVM, ACCEL_SOFT };

/* How the soft engine runs guest code: translated (default) or interpreted. */
enum vm_soft_cpu { SOFT_CPU_BT, SOFT_CPU_INTERP };

/* Which device host stdin and the default console= go to (--console). */
enum vm_console_kind { VM_CONSOLE_SERIAL, VM_CONSOLE_VIRTIO };

/*
 * A raw disk image the guest sees as a virtio block device (--disk, or a
 * config file's "drives"). Field names follow Firecracker's Drive.
 */
struct vm_drive_config {
	char drive_id[CONFIG_DRIVE_ID_MAX + 1]; /* the GET_ID string; "": "disk<slot>" */
	char path_on_host[CONFIG_PATH_MAX];
	bool is_read_only;
	/* First virtio slot (/dev/vda) and root= on the kernel command line. */
	bool is_root_device;
	char partuuid[CONFIG_PARTUUID_MAX + 1]; /* "": root=/dev/vda, else root=PARTUUID= */
	struct ratelimit_config rate_limiter; /* all-zero: none */
};

/*
 * One port forwarded from the host into a user-mode network (QEMU's
 * hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT). Addresses
 * are in network byte order.
 */
struct vm_net_hostfwd {
	bool udp;
	uint8_t host_addr[4]; /* where kite listens; 0.0.0.0: every address */
	uint16_t host_port;
	uint8_t guest_addr[4]; /* inside 10.0.2.0/24; default 10.0.2.15 */
	uint16_t guest_port;
};

/* The longest hostfwd text: "udp:255.255.255.255:65535-255.255.255.255:65535". */
#define CONFIG_HOSTFWD_TEXT_MAX 48
#define VM_NET_HOSTFWD_MAX 16

/* QEMU's user-mode network: 10.0.2.0/24, host .2, DNS .3, DHCP from .15. */
#define USERNET_NET 0x0a000200u
#define USERNET_HOST 0x0a000202u
#define USERNET_DNS 0x0a000203u
#define USERNET_DHCP_START 0x0a00020fu
/*
 * Its MTU without mtu=, given to the guest through VIRTIO_NET_F_MTU. Nothing
 * on this link is Ethernet hardware: libslirp's own TCP stack ends every
 * connection, so the largest MTU it takes (as slirp4netns does) lets the
 * guest send and receive 64 KiB segments with no TSO or checksum offload,
 * which on the soft engine is several times the bulk rate of 1500 bytes.
 */
#define USERNET_MTU_DEFAULT 65520
#define USERNET_MTU_MAX 65521

/* Where an interface's frames go: a host TAP, or kite's user-mode stack. */
enum vm_net_kind { VM_NET_TAP, VM_NET_USER };

/*
 * A virtio network device (--net, a config file's "network-interfaces", PUT
 * /network-interfaces/{id}): eth0, eth1... in order. Field names follow
 * Firecracker's NetworkInterface; "user" is kite's extension (docs/config.md).
 */
struct vm_net_config {
	char iface_id[CONFIG_IFACE_ID_MAX + 1];
	enum vm_net_kind kind;
	char host_dev_name[CONFIG_IFNAME_MAX + 1]; /* VM_NET_TAP: the TAP; else "" */
	bool has_mac; /* else the guest's driver picks a random address */
	uint8_t guest_mac[6];
	/* VM_NET_USER */
	struct vm_net_hostfwd hostfwd[VM_NET_HOSTFWD_MAX];
	unsigned nr_hostfwd;
	/* kite's own: the MTU the guest is told (VIRTIO_NET_F_MTU); 0: none. A TAP's stays. */
	uint16_t mtu;
	/* rx: back-end -> guest, tx: guest -> back-end; all-zero: none. */
	struct ratelimit_config rx_rate_limiter, tx_rate_limiter;
};

/* What mtu= / "mtu" may be: IPv4's minimum to the 16-bit config field's maximum. */
#define CONFIG_MTU_MIN 68
#define CONFIG_MTU_MAX 65535

/* Where kite's log goes (PUT /logger): a file or FIFO, opened non-blocking. */
enum config_log_level { CONFIG_LOG_DEFAULT, CONFIG_LOG_ERROR, CONFIG_LOG_WARN, CONFIG_LOG_INFO,
			CONFIG_LOG_DEBUG, CONFIG_LOG_OFF };
struct vm_logger_config {
	char log_path[CONFIG_PATH_MAX]; /* "": stderr */
	enum config_log_level level;
	bool show_level, show_log_origin;
};

/* Where FlushMetrics writes kite's JSON metrics (PUT /metrics). */
struct vm_metrics_config {
	char metrics_path[CONFIG_PATH_MAX]; /* "": none */
};

/*
 * A virtio-vsock device (--vsock, a config file's "vsock", PUT /vsock), with
 * Firecracker's host side on the UNIX socket uds_path.
 */
struct vm_vsock_config {
	bool enabled;
	uint32_t guest_cid; /* 3 and up: 0-2 are reserved (hypervisor, local, host) */
	char uds_path[CONFIG_UDS_PATH_MAX];
};

struct vm_config {
	char kernel_path[CONFIG_PATH_MAX];
	char initrd_path[CONFIG_PATH_MAX]; /* "": none */
	char cmdline[CONFIG_CMDLINE_MAX];
	uint64_t mem_size;
	unsigned nr_cpus;
	enum vm_accel accel;
	enum vm_soft_cpu soft_cpu;
	uint64_t soft_code_cache; /* bytes of translated code per vCPU; 0: the default */
	/* Paravirtual devices (docs/virtio.md), one virtio-mmio slot each. */
	struct vm_drive_config drives[VM_MAX_DISKS];
	unsigned nr_drives;
	bool rng;
	enum vm_console_kind console;
	struct vm_net_config nets[VM_MAX_NETS];
	unsigned nr_nets;
	struct vm_vsock_config vsock;
	bool testdev; /* kvm-unit-tests' devices (devices/testdev.c) */
	/* Only the API sets these; the config file's sections are ignored (docs/config.md). */
	struct vm_logger_config logger;
	struct vm_metrics_config metrics;
};

/* kite's defaults: 1 vCPU, 256 MiB, engine auto, the rng on, nothing else. */
void config_init(struct vm_config *cfg);

/*
 * Copies src into dst of size bytes; -ENAMETOOLONG (dst untouched) when it
 * does not fit with its NUL.
 */
int config_str_set(char *dst, size_t size, const char *src);

/* The command line a guest gets when none is given: console= follows cfg->console. */
const char *config_default_cmdline(const struct vm_config *cfg);

/* Parses "aa:bb:cc:dd:ee:ff" into mac; -EINVAL unless it is a unicast address. */
int config_mac_parse(const char *text, uint8_t mac[6]);

/*
 * Parses one hostfwd rule, QEMU's [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT
 * (protocol default tcp, HOSTADDR default 127.0.0.1, GUESTADDR default
 * 10.0.2.15), into fwd. -EINVAL with err naming the bad part ("host port
 * '99999' is not 1 to 65535").
 */
int config_hostfwd_parse(const char *text, struct vm_net_hostfwd *fwd, struct err *err);

/* Whether rules a and b would listen on one host port (the second could not). */
bool config_hostfwd_clash(const struct vm_net_hostfwd *a, const struct vm_net_hostfwd *b);

/* Writes fwd as config_hostfwd_parse() reads it into buf (CONFIG_HOSTFWD_TEXT_MAX + 1). */
void config_hostfwd_format(const struct vm_net_hostfwd *fwd, char *buf, size_t size);

/*
 * One rate-limiter option of --net or --disk, after its prefix ("rx-",
 * "tx-" or ""): bw=SIZE/MS (SIZE bytes, K/M/G suffixes, refilled every MS
 * milliseconds), bw-burst=SIZE, ops=N/MS, ops-burst=N. Returns 1 when opt
 * was one (rl updated), 0 when it is not a rate-limiter option, or -EINVAL
 * with err naming the problem.
 */
int config_limit_option(const char *opt, const char *prefix, struct ratelimit_config *rl,
			struct err *err);

/* Checks a limiter's values (RATELIMIT_*_MAX); err names it as what. */
int config_limit_validate(const struct ratelimit_config *rl, const char *what, struct err *err);

/* Whether cfg names a log file, a log level or a metrics file (config file's logger/metrics). */
bool config_has_sinks(const struct vm_config *cfg);

/* The virtio-mmio slots cfg needs: disks, rng, virtio console, NICs. */
unsigned config_virtio_count(const struct vm_config *cfg);

/* The network interface whose iface_id is id, or NULL. */
const struct vm_net_config *config_net_find(const struct vm_config *cfg, const char *id);

/* The drive whose drive_id is id, or NULL. */
const struct vm_drive_config *config_drive_find(const struct vm_config *cfg, const char *id);

/*
 * Checks everything one configuration can get wrong by itself (not whether
 * files exist: the builder finds that out). On error err names the field in
 * the config file's terms, e.g. "drives[1].path_on_host: missing".
 */
int config_validate(const struct vm_config *cfg, struct err *err);
/* The parts of config_validate() an API request checks on its own. */
int config_validate_machine(const struct vm_config *cfg, struct err *err); /* sizes, engine */
int config_validate_devices(const struct vm_config *cfg, struct err *err); /* drives, virtio slots */

/* The largest config file kite reads: the size is checked before parsing. */
#define CONFIG_FILE_MAX (1u << 20)

/*
 * Reads the file at path (at most CONFIG_FILE_MAX bytes) into a NUL-terminated
 * buffer *text the caller frees; *len excludes the NUL.
 */
int config_file_read(const char *path, char **text, size_t *len, struct err *err);

/*
 * Fills cfg (config_init() first) from text, a Firecracker JSON config file
 * (docs/config.md): boot-source, machine-config, drives, entropy,
 * network-interfaces, vsock, logger, metrics; kite's own optional "kite"
 * section. Unknown fields, wrong
 * types, missing required fields and bad values are errors naming the field.
 * Does not run config_validate().
 */
int config_json_parse(struct vm_config *cfg, const char *text, size_t len, struct err *err);

/*
 * The API's request bodies (docs/api.md), each Firecracker's shape for one
 * part of the configuration.
 */
enum config_body {
	CONFIG_BODY_BOOT_SOURCE,   /* PUT /boot-source: the whole boot source */
	CONFIG_BODY_MACHINE,	   /* PUT /machine-config: vcpu_count, mem_size_mib required */
	CONFIG_BODY_MACHINE_PATCH, /* PATCH /machine-config: any of its fields */
	CONFIG_BODY_DRIVE,	   /* PUT /drives/{id}: adds drive id or replaces it */
	CONFIG_BODY_ENTROPY,	   /* PUT /entropy: the entropy device on */
	CONFIG_BODY_DRIVE_PATCH,   /* PATCH /drives/{id}: path_on_host of drive id */
	CONFIG_BODY_LOGGER,	   /* PUT /logger */
	CONFIG_BODY_METRICS,	   /* PUT /metrics */
	CONFIG_BODY_NET,	   /* PUT /network-interfaces/{id}: adds or replaces it */
	CONFIG_BODY_NET_PATCH,	   /* PATCH /network-interfaces/{id}: its rate limiters */
	CONFIG_BODY_VSOCK,	   /* PUT /vsock: guest_cid, uds_path */
};

/* The largest API body kite parses, Firecracker's default limit. */
#define CONFIG_BODY_MAX 51200u

/*
 * Applies one API body (at most CONFIG_BODY_MAX bytes) to cfg, all or
 * nothing: on error cfg is unchanged and err names the field, as
 * config_json_parse() does, with the body as the root ("vcpu_count: must be
 * an integer"). id is the path's drive id for CONFIG_BODY_DRIVE (the body's
 * drive_id must be the same) or iface id for CONFIG_BODY_NET(_PATCH), else unused. Checks what that part of the
 * configuration can get wrong by itself (config_validate_machine() or
 * _devices()); whether files exist is the caller's business.
 */
int config_json_apply(struct vm_config *cfg, enum config_body which, const char *id,
		      const char *text, size_t len, struct err *err);

/*
 * A body that is an object with one required string field, one of
 * choices (NULL-terminated): {"state": "Paused"}. *out is its index.
 */
int config_json_parse_choice(const char *text, size_t len, const char *field,
			     const char *const *choices, int *out, struct err *err);

enum config_json_part {
	CONFIG_JSON_FULL,    /* GET /vm/config: Firecracker's full VM configuration */
	CONFIG_JSON_MACHINE, /* GET /machine-config */
};

/* cfg as JSON text, in the shapes config_json_parse() reads; the caller frees it. NULL: no memory. */
char *config_json_write(const struct vm_config *cfg, enum config_json_part part);

#endif
