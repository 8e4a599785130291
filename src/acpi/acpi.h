/* acpi/acpi.h: ACPI tables built for the guest (RSDP, XSDT, FADT, FACS, MADT, HPET, DSDT). */
#ifndef KITE_ACPI_ACPI_H
#define KITE_ACPI_ACPI_H

#include <stdint.h>

#include "base/err.h"
#include "memory/memory.h"

#define ACPI_TABLES_ADDR MEM_BIOS_START /* RSDP first, where Linux scans for it */
#define ACPI_TABLES_MAX (MEM_BIOS_STUBS - MEM_BIOS_START)
#define ACPI_MAX_MMIO_DEVICES 32

/* A virtio-mmio device the DSDT describes (_HID "LNRO0005"). */
struct acpi_mmio_device {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

struct acpi_config {
	unsigned nr_cpus; /* MADT: one local APIC per vCPU, APIC IDs 0..n-1 */
	uint32_t ioapic_addr;
	uint32_t lapic_addr;
	uint16_t pm1a_evt_port;
	uint16_t pm1a_cnt_port;
	uint16_t pm_tmr_port; /* 0: no PM timer */
	uint16_t sci_irq;
	uint8_t s5_slp_typ;
	uint16_t pvpanic_port; /* 0: no pvpanic device (QEMU0001) */
	uint32_t hpet_addr;	/* 0: no HPET table */
	uint32_t hpet_block_id; /* the HPET's capabilities register, bits 31:0 */
	uint16_t hpet_min_tick; /* main counter ticks: the shortest useful periodic interval */
	struct acpi_mmio_device mmio[ACPI_MAX_MMIO_DEVICES];
	unsigned nr_mmio;
};

/*
 * Writes all tables into guest memory at ACPI_TABLES_ADDR, checksummed, and
 * returns the RSDP's address. -ENOSPC when they do not fit.
 */
int acpi_build(struct guest_memory *mem, const struct acpi_config *cfg, uint64_t *rsdp_gpa,
	       struct err *err);

#endif
