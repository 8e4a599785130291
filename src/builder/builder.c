/* builder/builder.c: one configuration in, one machine out, devices in a readable order. */
#include "builder/builder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acpi/acpi.h"
#include "backend/backend.h"
#include "base/log.h"
#include "base/util.h"
#include "boot/boot.h"
#include "devices/devices.h"
#include "virtio/virtio.h"

/* A kernel image larger than this is not a kernel we can load. */
#define KERNEL_MAX_BYTES (512ull << 20)
/* Room for " root=PARTUUID=<partuuid> rw" after the configured command line. */
#define CMDLINE_ROOT_MAX (CONFIG_PARTUUID_MAX + 32)

/* The configuration's limits are the devices' own. */
_Static_assert(CONFIG_MAX_VIRTIO_DEVICES == VIRTIO_MMIO_MAX_DEVICES, "virtio slots");
_Static_assert(CONFIG_DRIVE_ID_MAX == VIRTIO_BLK_ID_BYTES, "drive_id is the GET_ID string");

/*
 * The machine's legacy devices, created in this order. Each entry makes one
 * device and adds it to the VM.
 */
struct machine_device {
	const char *name;
	struct device *(*create)(struct vm *vm, struct err *err);
};

static struct device *create_com1(struct vm *vm, struct err *err)
{
	struct device *dev = uart_create(vm, COM1_PORT, COM1_IRQ, vm->console_out_fd, err);

	if (dev) {
		vm->console = dev;
		vm->console_input = uart_receive;
	}
	return dev;
}

static const struct machine_device machine_devices[] = {
	{ "com1", create_com1 },
	{ "i8042", i8042_create },
	{ "port92", port92_create },
	{ "rtc", rtc_create },
	{ "hpet", hpet_create },
	{ "acpi-pm", acpi_pm_create },
	{ "pvpanic", pvpanic_create },
	{ "pci-host", pci_host_create },
};

static const struct engine_ops *engine_select(enum vm_accel accel)
{
	if (accel == ACCEL_AUTO)
		accel = host_has_hw_virt() ? ACCEL_KVM : ACCEL_SOFT;
	return accel == ACCEL_KVM ? &kvm_engine : &soft_engine;
}

static int platform_devices_create(struct vm *vm, struct err *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(machine_devices); i++) {
		if (!machine_devices[i].create(vm, err))
			return err_wrap(err, "device %s", machine_devices[i].name);
	}
	if (vm->cfg.testdev && !testdev_create(vm, err))
		return err_wrap(err, "device testdev");
	return 0;
}

/*
 * The root drive, if any, first, so it is /dev/vda; then the others in
 * configuration order. Fills order[] with nr_drives indices.
 */
static void drives_order(const struct vm_config *cfg, unsigned *order)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cfg->nr_drives; i++)
		if (cfg->drives[i].is_root_device)
			order[n++] = i;
	for (unsigned i = 0; i < cfg->nr_drives; i++)
		if (!cfg->drives[i].is_root_device)
			order[n++] = i;
}

/*
 * The paravirtual devices follow the legacy ones, in slot order: disks, rng,
 * console, network interfaces, vsock (docs/virtio.md). Each virtio-blk takes its image from disks[]
 * and leaves NULL behind.
 */
static int virtio_devices_create(struct vm *vm, struct blkfile **disks, struct err *err)
{
	const struct vm_config *cfg = &vm->cfg;
	unsigned order[VM_MAX_DISKS];
	unsigned slot = 0;
	int rc;

	if (cfg->nr_drives > VM_MAX_DISKS || cfg->nr_nets > VM_MAX_NETS ||
	    config_virtio_count(cfg) > VIRTIO_MMIO_MAX_DEVICES)
		return err_set(err, -EINVAL,
			       "at most %u virtio devices (disks, rng, console, network, vsock) fit",
			       VIRTIO_MMIO_MAX_DEVICES);
	if (!config_virtio_count(cfg))
		return 0;
	rc = virtio_iothread_create(vm, err);
	if (rc < 0)
		return rc;
	drives_order(cfg, order);
	for (unsigned k = 0; k < cfg->nr_drives; k++) {
		unsigned i = order[k];
		const struct vm_drive_config *d = &cfg->drives[i];
		struct virtio_blk_config bc = {
			.path = d->path_on_host,
			.id = d->drive_id[0] ? d->drive_id : NULL,
			.read_only = d->is_read_only,
			.file = disks[i],
			.rate_limit = d->rate_limiter,
		};

		if (!virtio_blk_create(vm, vm->iothread, slot++, &bc, err))
			return err->code;
		disks[i] = NULL;
	}
	if (cfg->rng && !virtio_rng_create(vm, vm->iothread, slot++, err))
		return err->code;
	if (cfg->console == VM_CONSOLE_VIRTIO) {
		struct device *con = virtio_console_create(vm, vm->iothread, slot++,
							   vm->console_out_fd, err);

		if (!con)
			return err->code;
		vm->console = con;
		vm->console_input = virtio_console_receive;
	}
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		const struct vm_net_config *n = &cfg->nets[i];
		struct virtio_net_config nc = {
			.id = n->iface_id,
			.tap = n->host_dev_name,
			.user = n->kind == VM_NET_USER,
			.hostfwd = n->hostfwd,
			.nr_hostfwd = n->nr_hostfwd,
			.has_mac = n->has_mac,
		};

		memcpy(nc.mac, n->guest_mac, sizeof(nc.mac));
		nc.mtu = n->mtu;
		nc.rx_rate_limit = n->rx_rate_limiter;
		nc.tx_rate_limit = n->tx_rate_limiter;
		if (!virtio_net_create(vm, vm->iothread, slot++, &nc, err))
			return err->code;
	}
	if (cfg->vsock.enabled && !virtio_vsock_create(vm, vm->iothread, slot++, cfg->vsock.guest_cid,
						       cfg->vsock.uds_path, err))
		return err->code;
	return 0;
}

static int acpi_setup(struct vm *vm, struct err *err)
{
	uint64_t rsdp_gpa;
	int rc;
	struct acpi_config cfg = {
		.nr_cpus = vm->nr_vcpus,
		.ioapic_addr = IOAPIC_DEFAULT_BASE,
		.lapic_addr = APIC_DEFAULT_BASE,
		.pm1a_evt_port = ACPI_PM1A_EVT_PORT,
		.pm1a_cnt_port = ACPI_PM1A_CNT_PORT,
		.pm_tmr_port = ACPI_PM_TMR_PORT,
		.sci_irq = ACPI_SCI_IRQ,
		.s5_slp_typ = ACPI_S5_SLP_TYP,
		.pvpanic_port = PVPANIC_PORT,
		.hpet_addr = HPET_BASE,
		.hpet_block_id = hpet_block_id(),
		.hpet_min_tick = HPET_MIN_TICK,
	};

	virtio_devices_acpi(vm, &cfg);
	rc = acpi_build(&vm->mem, &cfg, &rsdp_gpa, err);
	if (rc < 0)
		return rc;
	/* kernel_load() already told the guest where the RSDP is. */
	if (rsdp_gpa != ACPI_TABLES_ADDR)
		return err_set(err, -EINVAL, "acpi: RSDP at 0x%llx, the guest was told 0x%llx",
			       (unsigned long long)rsdp_gpa, (unsigned long long)ACPI_TABLES_ADDR);
	return 0;
}

/* Maps a whole file read-only; the size is checked against max first. */
static int file_map(const char *what, const char *path, uint64_t max, const char *max_what,
		    const uint8_t **data, size_t *len, struct err *err)
{
	struct stat st;
	void *p;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = err_set(err, -errno, "%s %s: %s", what, path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(err, -EINVAL, "%s %s: not a regular file", what, path);
		goto out_close;
	}
	if (st.st_size == 0) {
		rc = err_set(err, -EINVAL, "%s %s: file is empty", what, path);
		goto out_close;
	}
	if ((uint64_t)st.st_size > max) {
		rc = err_set(err, -EFBIG, "%s %s: %llu MiB is larger than %s (%llu MiB)", what,
			     path, (unsigned long long)(st.st_size >> 20), max_what,
			     (unsigned long long)(max >> 20));
		goto out_close;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		rc = err_set(err, -errno, "%s %s: %s", what, path, strerror(errno));
		goto out_close;
	}
	*data = p;
	*len = (size_t)st.st_size;
out_close:
	close(fd);
	return rc;
}

/*
 * The configured command line, and for a root drive what Firecracker adds:
 * root=/dev/vda (the root drive is first) or root=PARTUUID=, then ro or rw.
 */
static void cmdline_compose(const struct vm_config *cfg, char *buf, size_t size)
{
	size_t n = (size_t)snprintf(buf, size, "%s", cfg->cmdline);

	for (unsigned i = 0; i < cfg->nr_drives && n < size; i++) {
		const struct vm_drive_config *d = &cfg->drives[i];

		if (!d->is_root_device)
			continue;
		snprintf(buf + n, size - n, "%sroot=%s%s %s", n ? " " : "",
			 d->partuuid[0] ? "PARTUUID=" : "/dev/vda", d->partuuid,
			 d->is_read_only ? "ro" : "rw");
		break;
	}
}

static int kernel_load(struct vm *vm, struct err *err)
{
	char cmdline[CONFIG_CMDLINE_MAX + CMDLINE_ROOT_MAX];
	const uint8_t *kernel = NULL, *initrd = NULL;
	size_t kernel_len = 0, initrd_len = 0;
	struct boot_config boot = { 0 };
	enum boot_kind kind;
	int rc;

	rc = file_map("kernel", vm->cfg.kernel_path, KERNEL_MAX_BYTES, "the 512 MiB kite accepts",
		      &kernel, &kernel_len, err);
	if (rc < 0)
		return rc;
	if (vm->cfg.initrd_path[0]) {
		rc = file_map("initrd", vm->cfg.initrd_path, vm->mem.ram_size, "guest memory",
			      &initrd, &initrd_len, err);
		if (rc < 0)
			goto out_unmap;
	}
	cmdline_compose(&vm->cfg, cmdline, sizeof(cmdline));
	boot = (struct boot_config){
		.kernel = kernel,
		.kernel_len = kernel_len,
		.initrd = initrd,
		.initrd_len = initrd_len,
		.cmdline = cmdline,
		/* acpi_setup() writes the tables there once the devices exist (and checks). */
		.rsdp_gpa = ACPI_TABLES_ADDR,
	};
	rc = boot_load(&vm->mem, &boot, &vm->boot_state, &kind, err);
	if (rc < 0)
		err_wrap(err, "kernel %s", vm->cfg.kernel_path);
	else
		log_debug("boot: %s loaded as %s", vm->cfg.kernel_path,
			  kind == BOOT_PVH ? "PVH ELF" : kind == BOOT_MULTIBOOT ? "multiboot" : "bzImage");
out_unmap:
	if (initrd)
		munmap((void *)initrd, initrd_len);
	munmap((void *)kernel, kernel_len);
	return rc;
}

static int disks_open(const struct vm_config *cfg, struct blkfile **disks, struct err *err)
{
	for (unsigned i = 0; i < cfg->nr_drives; i++) {
		const struct vm_drive_config *d = &cfg->drives[i];
		int rc = blkfile_open(&disks[i], d->path_on_host, d->is_read_only, err);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The images no virtio-blk took (the build failed before it) are closed here. */
static void disks_close(struct blkfile **disks)
{
	for (unsigned i = 0; i < VM_MAX_DISKS; i++)
		blkfile_close(disks[i]);
}

static int machine_build(struct vm *vm, struct blkfile **disks, struct err *err)
{
	int rc;

	rc = memory_init(&vm->mem, vm->cfg.mem_size, err);
	if (rc < 0)
		return rc;
	rc = kernel_load(vm, err);
	if (rc < 0)
		return rc;
	rc = disks_open(&vm->cfg, disks, err);
	if (rc < 0)
		return rc;
	rc = vm_engine_create(vm, engine_select(vm->cfg.accel), err);
	if (rc < 0)
		return rc;
	rc = platform_devices_create(vm, err);
	if (rc < 0)
		return rc;
	rc = virtio_devices_create(vm, disks, err);
	if (rc < 0)
		return rc;
	rc = vm_devices_realize(vm, err);
	if (rc < 0)
		return rc;
	rc = acpi_setup(vm, err);
	if (rc < 0)
		return rc;
	return vm_vcpus_create(vm, err);
}

int builder_vm_create(struct vm *vm, const struct vm_config *cfg, int console_out_fd,
		      struct err *err)
{
	struct blkfile *disks[VM_MAX_DISKS] = { 0 };
	int rc;

	/* vm_init first: vm_destroy() relies on what it sets up. */
	rc = vm_init(vm, cfg, console_out_fd, err);
	if (rc < 0)
		return rc;
	rc = config_validate(cfg, err);
	if (rc < 0)
		return rc;
	rc = machine_build(vm, disks, err);
	disks_close(disks);
	return rc;
}

struct device *builder_net_device(struct vm *vm, const char *iface_id)
{
	const struct vm_config *cfg = &vm->cfg;
	/* virtio_devices_create()'s slots: the disks, the rng and the console come first. */
	unsigned slot = cfg->nr_drives + cfg->rng + (cfg->console == VM_CONSOLE_VIRTIO);
	char name[32];

	for (unsigned i = 0; i < cfg->nr_nets && i < VM_MAX_NETS; i++) {
		if (strcmp(cfg->nets[i].iface_id, iface_id))
			continue;
		snprintf(name, sizeof(name), "virtio-net%u", slot + i);
		for (struct device *dev = vm->devices; dev; dev = dev->next)
			if (!strcmp(dev->name, name))
				return dev;
	}
	return NULL;
}

struct device *builder_drive_device(struct vm *vm, const char *drive_id)
{
	unsigned order[VM_MAX_DISKS];
	char name[32];

	/* The slots virtio_devices_create() gave: the same order, the same names. */
	drives_order(&vm->cfg, order);
	for (unsigned k = 0; k < vm->cfg.nr_drives && k < VM_MAX_DISKS; k++) {
		if (strcmp(vm->cfg.drives[order[k]].drive_id, drive_id))
			continue;
		snprintf(name, sizeof(name), "virtio-blk%u", k);
		for (struct device *dev = vm->devices; dev; dev = dev->next)
			if (!strcmp(dev->name, name))
				return dev;
	}
	return NULL;
}
