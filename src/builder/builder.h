/* builder/builder.h: turns one configuration into a running-ready machine (STYLE 5). */
#ifndef KITE_BUILDER_BUILDER_H
#define KITE_BUILDER_BUILDER_H

#include "base/err.h"
#include "vm/vm.h"

/*
 * Builds the whole machine cfg describes into vm, in one order: memory,
 * kernel and initrd, disk images, engine, platform devices, virtio devices,
 * ACPI tables, vCPUs. What the user gave (sizes, files) is checked before an
 * engine opens anything, so a bad file gets its own error on any host.
 * console_out_fd receives guest console output. On failure err says why and
 * vm_destroy() releases what was built; the VM is started with vm_start().
 */
int builder_vm_create(struct vm *vm, const struct vm_config *cfg, int console_out_fd,
		      struct err *err);

/* The virtio-net device the built machine has for iface_id, or NULL. */
struct device *builder_net_device(struct vm *vm, const char *iface_id);

/* The virtio-blk device the built machine has for drive_id, or NULL. */
struct device *builder_drive_device(struct vm *vm, const char *drive_id);

#endif
