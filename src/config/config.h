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
/* virtio-mmio slots: every disk, the rng and the virtio console take one each. */
#define CONFIG_MAX_VIRTIO_DEVICES 8

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
	bool testdev; /* kvm-unit-tests' devices (devices/testdev.c) */
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

/* The drive whose drive_id is id, or NULL. */
const struct vm_drive_config *config_drive_find(const struct vm_config *cfg, const char *id);

/*
 * Checks everything one configuration can get wrong by itself (not whether
 * files exist: the builder finds that out). On error err names the field in
 * the config file's terms, e.g. "drives[1].path_on_host: missing".
 */
int config_validate(const struct vm_config *cfg, struct err *err);

/* The largest config file kite reads: the size is checked before parsing. */
#define CONFIG_FILE_MAX (1u << 20)

/*
 * Reads the file at path (at most CONFIG_FILE_MAX bytes) into a NUL-terminated
 * buffer *text the caller frees; *len excludes the NUL.
 */
int config_file_read(const char *path, char **text, size_t *len, struct err *err);

/*
 * Fills cfg (config_init() first) from text, a Firecracker JSON config file
 * (docs/config.md): boot-source, machine-config, drives, entropy; accepts
 * network-interfaces, vsock, logger and metrics with a warning that kite
 * ignores them; kite's own optional "kite" section. Unknown fields, wrong
 * types, missing required fields and bad values are errors naming the field.
 * Does not run config_validate().
 */
int config_json_parse(struct vm_config *cfg, const char *text, size_t len, struct err *err);

#endif
