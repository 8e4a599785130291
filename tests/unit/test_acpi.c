/* tests/unit/test_acpi.c: ACPI tables read back from guest memory by spec offsets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "acpi/acpi.h"
#include "acpi/aml.h"
#include "base/util.h"
#include "memory/memory.h"

/* Field offsets from the ACPI 6.3 spec, independent of acpi.c's structs. */
#define HDR_LEN		 36
#define RSDP_XSDT	 24
#define FADT_DSDT	 40
#define FADT_SCI_INT	 46
#define FADT_SMI_CMD	 48
#define FADT_PM1A_EVT	 56
#define FADT_PM1A_CNT	 64
#define FADT_PM_TMR	 76
#define FADT_PM1_EVT_LEN 88
#define FADT_PM1_CNT_LEN 89
#define FADT_PM_TMR_LEN	 91
#define FADT_BOOT_ARCH	 109
#define FADT_CENTURY	 108
#define FADT_FLAGS	 112
#define FADT_MINOR	 131
#define FADT_X_FACS	 132
#define FADT_X_DSDT	 140
#define FADT_X_PM1A_EVT	 148
#define FADT_X_PM1A_CNT	 172
#define FADT_X_PM_TMR	 208
#define MADT_LAPIC_ADDR	 36
#define MADT_FLAGS	 40
#define MADT_ENTRIES	 44

struct fixture {
	struct guest_memory mem;
	struct acpi_config cfg;
	uint64_t rsdp;
};

static void cfg_default(struct acpi_config *cfg, unsigned nr_cpus, unsigned nr_mmio)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nr_cpus = nr_cpus;
	cfg->ioapic_addr = 0xfec00000;
	cfg->lapic_addr = 0xfee00000;
	cfg->pm1a_evt_port = 0x600;
	cfg->pm1a_cnt_port = 0x604;
	cfg->pm_tmr_port = 0x608;
	cfg->sci_irq = 9;
	cfg->s5_slp_typ = 5;
	cfg->nr_mmio = nr_mmio;
	for (unsigned i = 0; i < nr_mmio; i++) {
		cfg->mmio[i].base = 0xd0000000 + i * 0x200;
		cfg->mmio[i].size = 0x200;
		cfg->mmio[i].gsi = 5 + i;
	}
}

static int setup(void **state)
{
	static struct fixture f;
	struct err err = {0};

	memset(&f, 0, sizeof(f));
	if (memory_init(&f.mem, MiB(64), &err))
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	memory_destroy(&f->mem);
	return 0;
}

static void build_ok(struct fixture *f)
{
	struct err err = {0};

	f->rsdp = 0;
	assert_int_equal(acpi_build(&f->mem, &f->cfg, &f->rsdp, &err), 0);
	assert_int_equal(err.code, 0);
}

static const uint8_t *gpa(struct fixture *f, uint64_t addr, uint64_t len)
{
	const uint8_t *p = gpa_to_hva(&f->mem, addr, len);

	assert_non_null(p);
	/* Everything must sit in the reserved window Linux scans. */
	assert_true(addr >= ACPI_TABLES_ADDR);
	assert_true(range_within(addr - ACPI_TABLES_ADDR, len, ACPI_TABLES_MAX));
	return p;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* A whole table with a valid header; its checksum must be 0. */
static const uint8_t *table_at(struct fixture *f, uint64_t addr, const char *sig)
{
	const uint8_t *t = gpa(f, addr, HDR_LEN);
	uint32_t len = rd32(t + 4);

	assert_memory_equal(t, sig, 4);
	assert_true(len >= HDR_LEN);
	t = gpa(f, addr, len);
	assert_int_equal(sum(t, len), 0);
	assert_memory_equal(t + 10, "KITE  ", 6);
	assert_memory_equal(t + 16, "KITEVM  ", 8);
	assert_int_equal(rd32(t + 24), 1);
	assert_memory_equal(t + 28, "KITE", 4);
	assert_int_equal(rd32(t + 32), 1);
	return t;
}

static const uint8_t *find_table(struct fixture *f, const char *sig)
{
	const uint8_t *rsdp = gpa(f, f->rsdp, 36);
	uint64_t xsdt_addr = rd64(rsdp + RSDP_XSDT);
	const uint8_t *xsdt = table_at(f, xsdt_addr, "XSDT");
	uint32_t n = (rd32(xsdt + 4) - HDR_LEN) / 8;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t addr = rd64(xsdt + HDR_LEN + 8 * i);
		const uint8_t *t = gpa(f, addr, HDR_LEN);

		if (!memcmp(t, sig, 4))
			return table_at(f, addr, sig);
	}
	fail_msg("table %s not in the XSDT", sig);
	return NULL;
}

static const uint8_t *find_dsdt(struct fixture *f, uint32_t *len)
{
	const uint8_t *fadt = find_table(f, "FACP");
	const uint8_t *dsdt = table_at(f, rd64(fadt + FADT_X_DSDT), "DSDT");

	*len = rd32(dsdt + 4);
	return dsdt;
}

static const uint8_t *memfind(const uint8_t *hay, size_t len, const void *needle, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(hay + i, needle, n))
			return hay + i;
	return NULL;
}

static unsigned memcount(const uint8_t *hay, size_t len, const void *needle, size_t n)
{
	unsigned count = 0;
	const uint8_t *p;

	while ((p = memfind(hay, len, needle, n))) {
		count++;
		len -= (size_t)(p - hay) + n;
		hay = p + n;
	}
	return count;
}

/* PkgLength decoded by the spec's rules; returns its size in bytes. */
static unsigned pkglen_decode(const uint8_t *p, uint32_t *value)
{
	unsigned follow = p[0] >> 6;

	if (!follow) {
		*value = p[0] & 0x3f;
		return 1;
	}
	*value = p[0] & 0x0f;
	for (unsigned i = 1; i <= follow; i++)
		*value |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	return follow + 1;
}

static void test_rsdp(void **state)
{
	struct fixture *f = *state;
	const uint8_t *r;

	cfg_default(&f->cfg, 1, 0);
	build_ok(f);
	assert_int_equal(f->rsdp, ACPI_TABLES_ADDR);
	assert_int_equal(f->rsdp % 16, 0);
	r = gpa(f, f->rsdp, 36);
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(sum(r, 36), 0);
	assert_memory_equal(r + 9, "KITE  ", 6);
	assert_int_equal(r[15], 2);
	assert_int_equal(rd32(r + 20), 36);
	table_at(f, rd64(r + RSDP_XSDT), "XSDT");
}

static void test_xsdt_tables(void **state)
{
	struct fixture *f = *state;
	const uint8_t *r, *xsdt;
	bool facp = false, apic = false;
	uint32_t n;

	cfg_default(&f->cfg, 2, 2);
	build_ok(f);
	r = gpa(f, f->rsdp, 36);
	xsdt = table_at(f, rd64(r + RSDP_XSDT), "XSDT");
	assert_int_equal(xsdt[8], 1);
	assert_int_equal((rd32(xsdt + 4) - HDR_LEN) % 8, 0);
	n = (rd32(xsdt + 4) - HDR_LEN) / 8;
	assert_true(n >= 2);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t addr = rd64(xsdt + HDR_LEN + 8 * i);
		const uint8_t *t = gpa(f, addr, HDR_LEN);
		char sig[5] = {0};

		memcpy(sig, t, 4);
		table_at(f, addr, sig);
		assert_true(rd32(t + 4) < 0x10000);
		facp |= !strcmp(sig, "FACP");
		apic |= !strcmp(sig, "APIC");
	}
	assert_true(facp);
	assert_true(apic);
}

/* The HPET table (HPET spec 1.0a, 3.2.4): block ID, base address in memory space. */
static void test_hpet(void **state)
{
	struct fixture *f = *state;
	const uint8_t *t, *xsdt;
	uint32_t n;

	cfg_default(&f->cfg, 1, 0);
	f->cfg.hpet_addr = 0xfed00000;
	f->cfg.hpet_block_id = 0x8086a201;
	f->cfg.hpet_min_tick = 10000;
	build_ok(f);
	t = find_table(f, "HPET");
	assert_int_equal(rd32(t + 4), 56);
	assert_int_equal(t[8], 1);
	assert_int_equal(rd32(t + 36), 0x8086a201);
	assert_int_equal(t[40], 0); /* system memory */
	assert_int_equal(t[41], 64);
	assert_int_equal(t[42], 0);
	assert_int_equal(rd64(t + 44), 0xfed00000);
	assert_int_equal(t[52], 0);
	assert_int_equal(rd16(t + 53), 10000);
	assert_int_equal(t[55], 1);

	/* Without an HPET there is no table. */
	f->cfg.hpet_addr = 0;
	build_ok(f);
	xsdt = table_at(f, rd64(gpa(f, f->rsdp, 36) + RSDP_XSDT), "XSDT");
	n = (rd32(xsdt + 4) - HDR_LEN) / 8;
	for (uint32_t i = 0; i < n; i++)
		assert_memory_not_equal(gpa(f, rd64(xsdt + HDR_LEN + 8 * i), 4), "HPET", 4);
}

static void test_fadt(void **state)
{
	struct fixture *f = *state;
	const uint8_t *fadt, *facs, *dsdt;
	uint64_t facs_addr;
	uint32_t flags;

	cfg_default(&f->cfg, 2, 1);
	build_ok(f);
	fadt = find_table(f, "FACP");
	assert_int_equal(rd32(fadt + 4), 276);
	assert_int_equal(fadt[8], 6);
	assert_int_equal(fadt[FADT_MINOR] & 0x0f, 3);
	assert_int_equal(rd16(fadt + FADT_SCI_INT), 9);
	assert_int_equal(rd32(fadt + FADT_SMI_CMD), 0);
	assert_int_equal(rd32(fadt + FADT_PM1A_EVT), 0x600);
	assert_int_equal(rd32(fadt + FADT_PM1A_CNT), 0x604);
	assert_int_equal(rd32(fadt + FADT_PM_TMR), 0x608);
	assert_int_equal(fadt[FADT_PM1_EVT_LEN], 4);
	assert_int_equal(fadt[FADT_PM1_CNT_LEN], 2);
	assert_int_equal(fadt[FADT_PM_TMR_LEN], 4);
	assert_int_equal(rd16(fadt + FADT_BOOT_ARCH) & 0x3, 0x3); /* legacy devices, 8042 */
	assert_int_equal(fadt[FADT_CENTURY], 0x32); /* RTC century register */

	flags = rd32(fadt + FADT_FLAGS);
	assert_true(flags & (1u << 0));	  /* WBINVD */
	assert_true(flags & (1u << 2));	  /* PROC_C1 */
	assert_true(flags & (1u << 4));	  /* PWR_BUTTON: control-method (none) */
	assert_true(flags & (1u << 5));	  /* SLP_BUTTON */
	assert_false(flags & (1u << 8));  /* TMR_VAL_EXT: 24-bit timer */
	assert_false(flags & (1u << 10)); /* RESET_REG_SUP */
	assert_false(flags & (1u << 20)); /* HW_REDUCED_ACPI */

	/* Extended addresses: system I/O, widths matching the legacy lengths. */
	assert_int_equal(fadt[FADT_X_PM1A_EVT], 1);
	assert_int_equal(fadt[FADT_X_PM1A_EVT + 1], 32);
	assert_int_equal(rd64(fadt + FADT_X_PM1A_EVT + 4), 0x600);
	assert_int_equal(fadt[FADT_X_PM1A_CNT], 1);
	assert_int_equal(fadt[FADT_X_PM1A_CNT + 1], 16);
	assert_int_equal(rd64(fadt + FADT_X_PM1A_CNT + 4), 0x604);
	assert_int_equal(fadt[FADT_X_PM_TMR], 1);
	assert_int_equal(fadt[FADT_X_PM_TMR + 1], 32);
	assert_int_equal(rd64(fadt + FADT_X_PM_TMR + 4), 0x608);

	facs_addr = rd64(fadt + FADT_X_FACS);
	assert_int_equal(facs_addr % 64, 0);
	facs = gpa(f, facs_addr, 64);
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal(rd32(facs + 4), 64);

	assert_int_equal(rd32(fadt + FADT_DSDT), rd64(fadt + FADT_X_DSDT));
	dsdt = table_at(f, rd64(fadt + FADT_X_DSDT), "DSDT");
	assert_int_equal(dsdt[8], 2);
}

static void test_fadt_no_pm_timer(void **state)
{
	struct fixture *f = *state;
	const uint8_t *fadt;

	cfg_default(&f->cfg, 1, 0);
	f->cfg.pm_tmr_port = 0;
	build_ok(f);
	fadt = find_table(f, "FACP");
	assert_int_equal(rd32(fadt + FADT_PM_TMR), 0);
	assert_int_equal(fadt[FADT_PM_TMR_LEN], 0);
	assert_int_equal(rd64(fadt + FADT_X_PM_TMR + 4), 0);
}

static void check_madt(struct fixture *f, unsigned nr_cpus)
{
	const uint8_t *madt, *e, *end;
	unsigned lapics = 0, ioapics = 0, sci_overrides = 0;

	cfg_default(&f->cfg, nr_cpus, 0);
	build_ok(f);
	madt = find_table(f, "APIC");
	assert_int_equal(rd32(madt + MADT_LAPIC_ADDR), 0xfee00000);
	assert_int_equal(rd32(madt + MADT_FLAGS) & 1, 1); /* PCAT_COMPAT */
	end = madt + rd32(madt + 4);
	for (e = madt + MADT_ENTRIES; e < end; e += e[1]) {
		assert_true(e + 2 <= end && e[1] >= 2 && e + e[1] <= end);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], lapics); /* processor UID */
			assert_int_equal(e[3], lapics); /* APIC ID */
			assert_int_equal(rd32(e + 4) & 1, 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], nr_cpus);
			assert_int_equal(rd32(e + 4), 0xfec00000);
			assert_int_equal(rd32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			/* IRQ0 must stay on GSI 0: KVM's PIT raises GSI 0. */
			assert_int_not_equal(e[3], 0);
			if (e[3] == 9) {
				assert_int_equal(e[2], 0);
				assert_int_equal(rd32(e + 4), 9);
				assert_int_equal(rd16(e + 8), 0x000d);
				sci_overrides++;
			}
			break;
		}
	}
	assert_ptr_equal(e, end);
	assert_int_equal(lapics, nr_cpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(sci_overrides, 1);
}

static void test_madt(void **state)
{
	check_madt(*state, 1);
	check_madt(*state, 2);
	check_madt(*state, 8);
}

static void check_s5(struct fixture *f, uint8_t slp_typ, const uint8_t *first, size_t first_len)
{
	const uint8_t *dsdt, *p;
	uint32_t len, pkglen;
	unsigned n;

	cfg_default(&f->cfg, 1, 0);
	f->cfg.s5_slp_typ = slp_typ;
	build_ok(f);
	dsdt = find_dsdt(f, &len);
	p = memfind(dsdt + HDR_LEN, len - HDR_LEN, "_S5_", 4);
	assert_non_null(p);
	assert_int_equal(p[-1], 0x5c); /* at the root */
	assert_int_equal(p[-2], 0x08); /* NameOp */
	p += 4;
	assert_int_equal(p[0], 0x12); /* PackageOp */
	n = pkglen_decode(p + 1, &pkglen);
	assert_true(p + 1 + pkglen <= dsdt + len);
	assert_int_equal(p[1 + n], 4); /* NumElements */
	assert_memory_equal(p + 2 + n, first, first_len);
	/* SLP_TYPb equals SLP_TYPa. */
	assert_memory_equal(p + 2 + n + first_len, first, first_len);
}

static void test_dsdt_s5(void **state)
{
	static const uint8_t five[] = {0x0a, 0x05};
	static const uint8_t zero[] = {0x00};
	static const uint8_t one[] = {0x01};

	check_s5(*state, 5, five, sizeof(five));
	check_s5(*state, 0, zero, sizeof(zero));
	check_s5(*state, 1, one, sizeof(one));
}

static void test_dsdt_mmio(void **state)
{
	static const uint8_t mem32[] = {0x86, 0x09, 0x00, 0x01};
	static const uint8_t ext_irq[] = {0x89, 0x06, 0x00, 0x01, 0x01};
	struct fixture *f = *state;
	const uint8_t *dsdt, *p, *end, *dev_end;
	uint32_t len, pkglen;

	cfg_default(&f->cfg, 1, 3);
	f->cfg.mmio[2].base = 0xfeb00000;
	f->cfg.mmio[2].size = 0x1000;
	f->cfg.mmio[2].gsi = 23;
	build_ok(f);
	dsdt = find_dsdt(f, &len);
	end = dsdt + len;
	assert_int_equal(memcount(dsdt, len, "LNRO0005", 8), 3);
	p = dsdt;
	for (unsigned i = 0; i < 3; i++) {
		char name[5];

		snprintf(name, sizeof(name), "V%03u", i);
		p = memfind(p, (size_t)(end - p), name, 4);
		assert_non_null(p);
		/* DeviceOp, then a 2-byte PkgLength (the body is over 63 bytes). */
		assert_memory_equal(p - 4, "\x5b\x82", 2);
		assert_int_equal(pkglen_decode(p - 2, &pkglen), 2);
		dev_end = p - 2 + pkglen;
		assert_true(dev_end <= end);
		p = memfind(p, (size_t)(end - p), "LNRO0005", 8);
		assert_non_null(p);
		p = memfind(p, (size_t)(end - p), mem32, sizeof(mem32));
		assert_non_null(p);
		assert_int_equal(rd32(p + 4), f->cfg.mmio[i].base);
		assert_int_equal(rd32(p + 8), f->cfg.mmio[i].size);
		p += 12;
		/* Consumer, level, active-high, exclusive, one interrupt. */
		assert_memory_equal(p, ext_irq, sizeof(ext_irq));
		assert_int_equal(rd32(p + 5), f->cfg.mmio[i].gsi);
		p += 9;
		assert_int_equal(p[0], 0x79); /* End tag */
		assert_int_equal(p[1], 0x00);
		assert_ptr_equal(p + 2, dev_end); /* _CRS is the device's last object */
	}
}

static void test_dsdt_pvpanic(void **state)
{
	/* I/O port descriptor: decode 16, min = max = port, alignment 1, length 1. */
	static const uint8_t io[] = {0x47, 0x01, 0x05, 0x05, 0x05, 0x05, 0x01, 0x01};
	struct fixture *f = *state;
	const uint8_t *dsdt, *p;
	uint32_t len;

	cfg_default(&f->cfg, 1, 0);
	f->cfg.pvpanic_port = 0x505;
	build_ok(f);
	dsdt = find_dsdt(f, &len);
	p = memfind(dsdt, len, "QEMU0001", 8);
	assert_non_null(p);
	assert_non_null(memfind(p, (size_t)(dsdt + len - p), io, sizeof(io)));

	f->cfg.pvpanic_port = 0;
	build_ok(f);
	dsdt = find_dsdt(f, &len);
	assert_null(memfind(dsdt, len, "QEMU0001", 8));
}

static void test_dsdt_rebuild_leaves_nothing_stale(void **state)
{
	struct fixture *f = *state;
	const uint8_t *window;

	cfg_default(&f->cfg, 1, 4);
	build_ok(f);
	cfg_default(&f->cfg, 1, 0);
	build_ok(f);
	window = gpa(f, ACPI_TABLES_ADDR, ACPI_TABLES_MAX);
	assert_int_equal(memcount(window, ACPI_TABLES_MAX, "LNRO0005", 8), 0);
}

static void test_bad_config(void **state)
{
	struct fixture *f = *state;
	struct err err;
	uint64_t rsdp = 0;

	cfg_default(&f->cfg, 1, 0);
	f->cfg.nr_mmio = ACPI_MAX_MMIO_DEVICES + 1;
	memset(&err, 0, sizeof(err));
	assert_int_equal(acpi_build(&f->mem, &f->cfg, &rsdp, &err), -EINVAL);
	assert_int_equal(err.code, -EINVAL);
	assert_non_null(strstr(err.msg, "virtio-mmio"));

	cfg_default(&f->cfg, 0, 0);
	assert_int_equal(acpi_build(&f->mem, &f->cfg, &rsdp, &err), -EINVAL);
	cfg_default(&f->cfg, 255, 0);
	assert_int_equal(acpi_build(&f->mem, &f->cfg, &rsdp, &err), -EINVAL);

	cfg_default(&f->cfg, 1, 1);
	f->cfg.mmio[0].base = 0xfffff000;
	f->cfg.mmio[0].size = 0x2000; /* crosses 4 GiB: no Memory32Fixed for it */
	assert_int_equal(acpi_build(&f->mem, &f->cfg, &rsdp, &err), -EINVAL);
	f->cfg.mmio[0].base = UINT64_MAX - 0x10;
	assert_int_equal(acpi_build(&f->mem, &f->cfg, &rsdp, &err), -EINVAL);
	f->cfg.mmio[0].base = 0xd0000000;
	f->cfg.mmio[0].size = 0;
	assert_int_equal(acpi_build(&f->mem, &f->cfg, &rsdp, &err), -EINVAL);

	cfg_default(&f->cfg, 1, 0);
	f->cfg.sci_irq = 0;
	assert_int_equal(acpi_build(&f->mem, &f->cfg, &rsdp, &err), -EINVAL);
	f->cfg.sci_irq = 16;
	assert_int_equal(acpi_build(&f->mem, &f->cfg, &rsdp, &err), -EINVAL);

	cfg_default(&f->cfg, 1, 0);
	f->cfg.s5_slp_typ = 8;
	assert_int_equal(acpi_build(&f->mem, &f->cfg, &rsdp, &err), -EINVAL);
	assert_int_equal(rsdp, 0);

	/* All 32 devices still fit. */
	cfg_default(&f->cfg, 8, ACPI_MAX_MMIO_DEVICES);
	build_ok(f);
}

static void test_pkglen_encode(void **state)
{
	static const struct {
		uint32_t value;
		unsigned n;
		uint8_t bytes[4];
	} cases[] = {
	    {63, 1, {0x3f}},
	    {64, 2, {0x40, 0x04}},
	    {4095, 2, {0x4f, 0xff}},
	    {4096, 3, {0x80, 0x00, 0x01}},
	    {1048575, 3, {0x8f, 0xff, 0xff}},
	    {1048576, 4, {0xc0, 0x00, 0x00, 0x01}},
	    {AML_PKGLEN_MAX, 4, {0xcf, 0xff, 0xff, 0xff}},
	};
	uint8_t out[4];
	uint32_t v;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(out, 0xaa, sizeof(out));
		assert_int_equal(aml_pkglen_encode(cases[i].value, out), cases[i].n);
		assert_memory_equal(out, cases[i].bytes, cases[i].n);
		assert_int_equal(pkglen_decode(out, &v), cases[i].n);
		assert_int_equal(v, cases[i].value);
	}
	assert_int_equal(aml_pkglen_encode(AML_PKGLEN_MAX + 1, out), 0);
}

static void test_pkglen_for_body(void **state)
{
	static const struct {
		uint32_t body;
		uint32_t total;
		unsigned n;
	} cases[] = {
	    {0, 1, 1},	     {62, 63, 1},	    {63, 65, 2},	   {4093, 4095, 2},
	    {4094, 4097, 3}, {1048572, 1048575, 3}, {1048573, 1048577, 4},
	};
	unsigned n;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(aml_pkglen_for_body(cases[i].body, &n), cases[i].total);
		assert_int_equal(n, cases[i].n);
	}
	assert_int_equal(aml_pkglen_for_body(AML_PKGLEN_MAX, &n), 0);
}

/* aml_pkg_end on real bodies at each encoding boundary, nested in an outer package. */
static void test_pkg_nested(void **state)
{
	static const uint32_t bodies[] = {0, 61, 62, 63, 4093, 4094, 70000};
	struct aml a;
	uint32_t v;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
		size_t outer, inner;
		unsigned n_out, n_in;

		aml_init(&a);
		aml_byte(&a, 0x10);
		outer = aml_pkg_begin(&a);
		aml_byte(&a, 0x12);
		inner = aml_pkg_begin(&a);
		for (uint32_t j = 0; j < bodies[i]; j++)
			aml_byte(&a, (uint8_t)j);
		aml_pkg_end(&a, inner);
		aml_pkg_end(&a, outer);
		assert_int_equal(a.error, 0);

		n_out = pkglen_decode(a.buf + 1, &v);
		assert_int_equal(1 + v, a.len); /* outer covers everything after its opcode */
		assert_int_equal(a.buf[1 + n_out], 0x12);
		n_in = pkglen_decode(a.buf + 2 + n_out, &v);
		assert_int_equal(v, bodies[i] + n_in);
		if (bodies[i])
			assert_int_equal(a.buf[a.len - 1], (uint8_t)(bodies[i] - 1));
		aml_free(&a);
	}
}

static void test_aml_names_and_data(void **state)
{
	static const uint8_t sb_dev[] = {0x5c, 0x2e, '_', 'S', 'B', '_', 'V', '0', '0', '0'};
	static const uint8_t multi[] = {0x2f, 3,   'A', '_', '_', '_', 'B',
					'C',  '_', '_', 'D', '1', '2', '3'};
	static const uint8_t ints[] = {0x00, 0x01, 0xff, 0x0a, 0x05, 0x0b, 0x34, 0x12,
				       0x0c, 0x78, 0x56, 0x34, 0x12, 0x0e, 0,	 0,
				       0,    0,	   1,	 0,    0,    0};
	static const uint8_t eisa[] = {0x0c, 0x41, 0xd0, 0x05, 0x01};
	static const uint8_t str[] = {0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0};
	struct aml a;

	(void)state;
	aml_init(&a);
	aml_name_string(&a, "\\_SB.V000");
	assert_int_equal(a.len, sizeof(sb_dev));
	assert_memory_equal(a.buf, sb_dev, sizeof(sb_dev));
	aml_free(&a);

	aml_init(&a);
	aml_name_string(&a, "A.BC.D123");
	assert_memory_equal(a.buf, multi, sizeof(multi));
	aml_free(&a);

	aml_init(&a);
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, UINT64_MAX);
	aml_integer(&a, 5);
	aml_integer(&a, 0x1234);
	aml_integer(&a, 0x12345678);
	aml_integer(&a, 1ull << 32);
	assert_int_equal(a.len, sizeof(ints));
	assert_memory_equal(a.buf, ints, sizeof(ints));
	aml_free(&a);

	aml_init(&a);
	aml_eisaid(&a, "PNP0501");
	aml_string(&a, "LNRO0005");
	assert_int_equal(a.error, 0);
	assert_memory_equal(a.buf, eisa, sizeof(eisa));
	assert_memory_equal(a.buf + sizeof(eisa), str, sizeof(str));
	aml_free(&a);

	/* Bad names poison the builder instead of emitting garbage. */
	const char *bad[] = {"abcd", "TOOLONG", "A..B", "1ABC", "", "A."};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		aml_init(&a);
		aml_name_string(&a, bad[i]);
		if (bad[i][0])
			assert_int_equal(a.error, -EINVAL);
		else
			assert_memory_equal(a.buf, "\0", 1); /* NullName */
		aml_free(&a);
	}
	aml_init(&a);
	aml_eisaid(&a, "PNP05G1");
	assert_int_equal(a.error, -EINVAL);
	aml_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rsdp),
	    cmocka_unit_test(test_xsdt_tables),
	    cmocka_unit_test(test_fadt),
	    cmocka_unit_test(test_fadt_no_pm_timer),
	    cmocka_unit_test(test_madt),
	    cmocka_unit_test(test_hpet),
	    cmocka_unit_test(test_dsdt_s5),
	    cmocka_unit_test(test_dsdt_mmio),
	    cmocka_unit_test(test_dsdt_rebuild_leaves_nothing_stale),
	    cmocka_unit_test(test_bad_config),
	    cmocka_unit_test(test_pkglen_encode),
	    cmocka_unit_test(test_dsdt_pvpanic),
	    cmocka_unit_test(test_pkglen_for_body),
	    cmocka_unit_test(test_pkg_nested),
	    cmocka_unit_test(test_aml_names_and_data),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
