/* devices/devices.h: the legacy PC devices kite emulates itself on every engine. */
#ifndef KITE_DEVICES_DEVICES_H
#define KITE_DEVICES_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"

struct vm;

#define COM1_PORT 0x3f8
#define COM1_IRQ 4

/* ACPI PM register blocks (FADT points at them). */
#define ACPI_PM1A_EVT_PORT 0x600 /* 4 bytes: PM1 status, PM1 enable */
#define ACPI_PM1A_CNT_PORT 0x604 /* 2 bytes: PM1 control (SLP_TYP, SLP_EN) */
#define ACPI_PM_TMR_PORT 0x608	 /* 4 bytes: 24-bit 3.579545 MHz timer */
#define ACPI_SCI_IRQ 9
#define ACPI_S5_SLP_TYP 5 /* the DSDT's \_S5 package says 5 */

/* 8250/16550A UART; output bytes go to out_fd, input comes from uart_receive(). */
struct device *uart_create(struct vm *vm, uint16_t port, unsigned irq, int out_fd,
			   struct err *err);
/* Queues host input for the guest; returns how many bytes fit in the FIFO. */
size_t uart_receive(struct device *dev, const uint8_t *buf, size_t len);

/* i8042 keyboard controller: enough for Linux, and 0xFE on port 0x64 resets. */
struct device *i8042_create(struct vm *vm, struct err *err);
/*
 * Presses and releases Ctrl, Alt and Del on vm's keyboard (the API's
 * SendCtrlAltDel), in the scan code set the guest reads; -ENODEV when vm has
 * no i8042, -EAGAIN when the keyboard is disabled or its buffer too full.
 * Callable from any thread.
 */
int i8042_send_ctrl_alt_del(struct vm *vm);

/*
 * System Control Port A: bit 0 written 1 (from 0) resets the machine as the
 * i8042 does; bit 1 is the A20 gate, read back (A20 stays enabled).
 */
#define PORT92_PORT 0x92
struct device *port92_create(struct vm *vm, struct err *err);

/* MC146818 CMOS RTC on ports 0x70/0x71 with the host's time. */
struct device *rtc_create(struct vm *vm, struct err *err);

/* pvpanic: the guest writes PVPANIC_PANICKED here from its panic notifier. */
#define PVPANIC_PORT 0x505
struct device *pvpanic_create(struct vm *vm, struct err *err);

/*
 * A PCI host bridge alone on bus 0 (ports 0xCF8/0xCFC), so Linux finds
 * configuration space and no PCI devices; kite's devices are virtio-mmio.
 */
struct device *pci_host_create(struct vm *vm, struct err *err);

/*
 * kvm-unit-tests' test devices (isa-debug-exit on 0xf4, pc-testdev, fw_cfg
 * on 0x510), as QEMU has them; only with --testdev.
 */
struct device *testdev_create(struct vm *vm, struct err *err);

/*
 * IA-PC HPET: 1 KiB of registers at HPET_BASE, a 64-bit main counter
 * ticking every HPET_PERIOD_FS femtoseconds (100 MHz) and three timers,
 * with its own thread for their deadlines; on every engine.
 */
#define HPET_BASE 0xfed00000u
#define HPET_SIZE 0x400u
#define HPET_PERIOD_FS 10000000ull
struct device *hpet_create(struct vm *vm, struct err *err);
/* The capabilities register's low half, which the ACPI HPET table repeats. */
uint32_t hpet_block_id(void);
/* The shortest periodic interval (in ticks) at which every interrupt is raised. */
#define HPET_MIN_TICK 10000u

/* ACPI PM1a event/control blocks and PM timer; S5 powers the VM off. */
struct device *acpi_pm_create(struct vm *vm, struct err *err);

#endif
