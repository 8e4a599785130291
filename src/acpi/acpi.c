/* acpi/acpi.c: the guest's ACPI tables (RSDP, XSDT, FADT, FACS, MADT, HPET, DSDT), ACPI 6.3. */
#include "acpi/acpi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi/aml.h"
#include "base/util.h"

/* The tables are built as packed little-endian structs on the host. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ACPI tables need a little-endian host");

#define FADT_RTC_CENTURY_INDEX 0x32
#define OEM_ID		 "KITE  "
#define OEM_TABLE_ID	 "KITEVM  "
#define OEM_REVISION	 1
#define CREATOR_ID	 "KITE"
#define CREATOR_REVISION 1

/*
 * APIC ID 0xff is the broadcast ID and processor UID 0xff means "all" in the
 * MADT NMI entry; the I/O APIC takes ID nr_cpus, so 254 CPUs at most.
 */
#define ACPI_MAX_CPUS 254
#define ISA_IRQS      16
#define SLP_TYP_MAX   7 /* a 3-bit field of PM1_CNT */

/* Legacy PC devices the DSDT describes (the standard ISA addresses). */
#define COM1_IO	      0x3f8
#define COM1_IO_LEN   8
#define COM1_ISA_IRQ  4
#define I8042_DATA_IO 0x60
#define I8042_CMD_IO  0x64
#define I8042_ISA_IRQ 1

struct sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct sdt_header) == 36, "SDT header is 36 bytes");

struct rsdp {
	char signature[8];
	uint8_t checksum; /* over the first 20 bytes (the ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_addr;
	uint32_t length;
	uint64_t xsdt_addr;
	uint8_t ext_checksum; /* over all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct rsdp) == 36, "RSDP is 36 bytes");
#define RSDP_V1_LEN 20

/* Generic Address Structure. */
struct gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct gas) == 12, "GAS is 12 bytes");

#define GAS_SPACE_SYSTEM_MEMORY 0
#define GAS_SPACE_SYSTEM_IO 1
#define GAS_ACCESS_WORD	    2
#define GAS_ACCESS_DWORD    3

struct fadt {
	struct sdt_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0; /* INT_MODEL in ACPI 1.0 */
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct gas x_pm1a_evt_blk;
	struct gas x_pm1b_evt_blk;
	struct gas x_pm1a_cnt_blk;
	struct gas x_pm1b_cnt_blk;
	struct gas x_pm2_cnt_blk;
	struct gas x_pm_tmr_blk;
	struct gas x_gpe0_blk;
	struct gas x_gpe1_blk;
	struct gas sleep_control_reg;
	struct gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));
_Static_assert(sizeof(struct fadt) == 276, "FADT revision 6 is 276 bytes");

#define FADT_REVISION	   6
#define FADT_MINOR_VERSION 3
#define FADT_PM1_EVT_LEN   4
#define FADT_PM1_CNT_LEN   2
#define FADT_PM_TMR_LEN	   4

#define FADT_BOOT_LEGACY_DEVICES (1u << 0)
#define FADT_BOOT_8042		 (1u << 1)

#define FADT_F_WBINVD	  (1u << 0)
#define FADT_F_PROC_C1	  (1u << 2)
#define FADT_F_PWR_BUTTON (1u << 4) /* set: no fixed-feature power button */
#define FADT_F_SLP_BUTTON (1u << 5) /* set: no fixed-feature sleep button */

struct facs {
	char signature[4];
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved0[3];
	uint32_t ospm_flags;
	uint8_t reserved1[24];
} __attribute__((packed));
_Static_assert(sizeof(struct facs) == 64, "FACS is 64 bytes");
#define FACS_VERSION 2
#define FACS_ALIGN   64

struct madt {
	struct sdt_header h;
	uint32_t lapic_addr;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct madt) == 44, "MADT header is 44 bytes");
#define MADT_REVISION	 5
#define MADT_PCAT_COMPAT (1u << 0)

struct madt_lapic {
	uint8_t type;
	uint8_t length;
	uint8_t uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type;
	uint8_t length;
	uint8_t id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

struct madt_iso {
	uint8_t type;
	uint8_t length;
	uint8_t bus;
	uint8_t source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type;
	uint8_t length;
	uint8_t uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

_Static_assert(sizeof(struct madt_lapic) == 8, "MADT local APIC entry is 8 bytes");
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT I/O APIC entry is 12 bytes");
_Static_assert(sizeof(struct madt_iso) == 10, "MADT override entry is 10 bytes");
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT local APIC NMI entry is 6 bytes");

#define MADT_TYPE_LAPIC	    0
#define MADT_TYPE_IOAPIC    1
#define MADT_TYPE_ISO	    2
#define MADT_TYPE_LAPIC_NMI 4
#define MADT_LAPIC_ENABLED  (1u << 0)
/* MPS INTI flags: polarity in bits 0-1, trigger mode in bits 2-3. */
#define MPS_ACTIVE_HIGH	    0x1
#define MPS_EDGE	    (0x1 << 2)
#define MPS_LEVEL	    (0x3 << 2)
#define MADT_ALL_PROCESSORS 0xff

/* IA-PC HPET specification 1.0a, 3.2.4: the HPET description table. */
struct hpet_table {
	struct sdt_header h;
	uint32_t block_id;
	struct gas base;
	uint8_t number;
	uint16_t min_tick;
	uint8_t page_protection;
} __attribute__((packed));
_Static_assert(sizeof(struct hpet_table) == 56, "HPET table is 56 bytes");
#define HPET_TABLE_REVISION 1
#define HPET_PAGE_PROTECT_4K 1 /* nothing else shares the block's 4 KiB page */

#define DSDT_REVISION	 2 /* 2 and above: AML integers are 64 bits */
#define XSDT_REVISION	 1
#define XSDT_MAX_ENTRIES 4 /* FADT, MADT, HPET */

/* The tables are laid out in a host image of the whole window, then copied once. */
struct image {
	uint8_t *buf;
	size_t len;
};

static int img_alloc(struct image *img, size_t size, size_t align, size_t *off)
{
	size_t start = ALIGN_UP(img->len, align);

	if (start > ACPI_TABLES_MAX || size > ACPI_TABLES_MAX - start)
		return -ENOSPC;
	*off = start;
	img->len = start + size;
	return 0;
}

static uint64_t img_gpa(size_t off)
{
	return ACPI_TABLES_ADDR + off;
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

static void header_init(struct sdt_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, sizeof(h->signature));
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, OEM_ID, sizeof(h->oem_id));
	memcpy(h->oem_table_id, OEM_TABLE_ID, sizeof(h->oem_table_id));
	h->oem_revision = OEM_REVISION;
	memcpy(h->creator_id, CREATOR_ID, sizeof(h->creator_id));
	h->creator_revision = CREATOR_REVISION;
}

/* Call last, once every byte of the table is final. */
static void header_seal(struct sdt_header *h)
{
	h->checksum = 0;
	h->checksum = checksum((const uint8_t *)h, h->length);
}

static struct gas gas_io(uint16_t port, uint8_t len, uint8_t access)
{
	return (struct gas){
	    .space_id = GAS_SPACE_SYSTEM_IO,
	    .bit_width = (uint8_t)(len * 8),
	    .access_size = access,
	    .address = port,
	};
}

/* One _CRS Buffer holding a ResourceTemplate. */
static void dsdt_crs(struct aml *dsdt, const struct aml *rt)
{
	if (rt->error) {
		if (!dsdt->error)
			dsdt->error = rt->error;
		return;
	}
	aml_name(dsdt, "_CRS");
	aml_buffer(dsdt, rt->buf, rt->len);
}

static void dsdt_legacy(struct aml *dsdt)
{
	struct aml rt;
	size_t dev;

	dev = aml_device_begin(dsdt, "COM1");
	aml_name(dsdt, "_HID");
	aml_eisaid(dsdt, "PNP0501");
	aml_name(dsdt, "_UID");
	aml_integer(dsdt, 1);
	aml_init(&rt);
	aml_res_io(&rt, COM1_IO, COM1_IO_LEN);
	aml_res_irq_noflags(&rt, COM1_ISA_IRQ);
	aml_res_end(&rt);
	dsdt_crs(dsdt, &rt);
	aml_free(&rt);
	aml_device_end(dsdt, dev);

	dev = aml_device_begin(dsdt, "PS2K");
	aml_name(dsdt, "_HID");
	aml_eisaid(dsdt, "PNP0303");
	aml_init(&rt);
	aml_res_io(&rt, I8042_DATA_IO, 1);
	aml_res_io(&rt, I8042_CMD_IO, 1);
	aml_res_irq_noflags(&rt, I8042_ISA_IRQ);
	aml_res_end(&rt);
	dsdt_crs(dsdt, &rt);
	aml_free(&rt);
	aml_device_end(dsdt, dev);
}

/* Linux's virtio_mmio driver binds to LNRO0005 and takes MEM 0 and IRQ 0 from _CRS. */
static void dsdt_virtio_mmio(struct aml *dsdt, const struct acpi_mmio_device *d, unsigned i)
{
	char name[16];
	struct aml rt;
	size_t dev;

	snprintf(name, sizeof(name), "V%03u", i);
	dev = aml_device_begin(dsdt, name);
	aml_name(dsdt, "_HID");
	aml_string(dsdt, "LNRO0005");
	aml_name(dsdt, "_UID");
	aml_integer(dsdt, i);
	aml_name(dsdt, "_CCA");
	aml_integer(dsdt, 1);
	aml_init(&rt);
	aml_res_memory32_fixed(&rt, 1, (uint32_t)d->base, d->size);
	aml_res_ext_irq(&rt, AML_RES_EXT_IRQ_CONSUMER, d->gsi); /* level, active-high, exclusive */
	aml_res_end(&rt);
	dsdt_crs(dsdt, &rt);
	aml_free(&rt);
	aml_device_end(dsdt, dev);
}

/* Linux's pvpanic-mmio driver binds to QEMU0001 and takes its I/O port from _CRS. */
static void dsdt_pvpanic(struct aml *dsdt, uint16_t port)
{
	struct aml rt;
	size_t dev;

	dev = aml_device_begin(dsdt, "PEVT");
	aml_name(dsdt, "_HID");
	aml_string(dsdt, "QEMU0001");
	aml_init(&rt);
	aml_res_io(&rt, port, 1);
	aml_res_end(&rt);
	dsdt_crs(dsdt, &rt);
	aml_free(&rt);
	aml_device_end(dsdt, dev);
}

static void dsdt_body(struct aml *dsdt, const struct acpi_config *cfg)
{
	size_t pkg, scope;

	/* SLP_TYPa, SLP_TYPb, reserved, reserved: what the OS writes to PM1_CNT for S5. */
	aml_name(dsdt, "\\_S5");
	pkg = aml_package_begin(dsdt, 4);
	aml_integer(dsdt, cfg->s5_slp_typ);
	aml_integer(dsdt, cfg->s5_slp_typ);
	aml_integer(dsdt, 0);
	aml_integer(dsdt, 0);
	aml_package_end(dsdt, pkg);

	scope = aml_scope_begin(dsdt, "\\_SB");
	dsdt_legacy(dsdt);
	if (cfg->pvpanic_port)
		dsdt_pvpanic(dsdt, cfg->pvpanic_port);
	for (unsigned i = 0; i < cfg->nr_mmio; i++)
		dsdt_virtio_mmio(dsdt, &cfg->mmio[i], i);
	aml_scope_end(dsdt, scope);
}

static int build_dsdt(struct image *img, const struct acpi_config *cfg, size_t *off)
{
	struct aml aml;
	struct sdt_header *h;
	int ret;

	aml_init(&aml);
	dsdt_body(&aml, cfg);
	ret = aml.error;
	if (!ret)
		ret = img_alloc(img, sizeof(*h) + aml.len, 16, off);
	if (!ret) {
		h = (struct sdt_header *)(img->buf + *off);
		header_init(h, "DSDT", (uint32_t)(sizeof(*h) + aml.len), DSDT_REVISION);
		memcpy(h + 1, aml.buf, aml.len);
		header_seal(h);
	}
	aml_free(&aml);
	return ret;
}

static int build_facs(struct image *img, size_t *off)
{
	struct facs *facs;
	int ret;

	ret = img_alloc(img, sizeof(*facs), FACS_ALIGN, off);
	if (ret)
		return ret;
	facs = (struct facs *)(img->buf + *off);
	memcpy(facs->signature, "FACS", sizeof(facs->signature));
	facs->length = sizeof(*facs);
	facs->version = FACS_VERSION;
	return 0;
}

static int build_fadt(struct image *img, const struct acpi_config *cfg, size_t facs, size_t dsdt,
		      size_t *off)
{
	struct fadt *f;
	int ret;

	ret = img_alloc(img, sizeof(*f), 16, off);
	if (ret)
		return ret;
	f = (struct fadt *)(img->buf + *off);
	header_init(&f->h, "FACP", sizeof(*f), FADT_REVISION);
	f->minor_version = FADT_MINOR_VERSION;
	/* X_FIRMWARE_CTRL alone: the spec wants FIRMWARE_CTRL zero when it is set. */
	f->x_firmware_ctrl = img_gpa(facs);
	f->dsdt = (uint32_t)img_gpa(dsdt);
	f->x_dsdt = img_gpa(dsdt);
	f->sci_int = cfg->sci_irq;
	/* SMI_CMD 0: the platform is always in ACPI mode, there is nothing to switch. */
	f->smi_cmd = 0;
	f->pm1a_evt_blk = cfg->pm1a_evt_port;
	f->pm1_evt_len = FADT_PM1_EVT_LEN;
	f->x_pm1a_evt_blk = gas_io(cfg->pm1a_evt_port, FADT_PM1_EVT_LEN, GAS_ACCESS_WORD);
	f->pm1a_cnt_blk = cfg->pm1a_cnt_port;
	f->pm1_cnt_len = FADT_PM1_CNT_LEN;
	f->x_pm1a_cnt_blk = gas_io(cfg->pm1a_cnt_port, FADT_PM1_CNT_LEN, GAS_ACCESS_WORD);
	if (cfg->pm_tmr_port) {
		f->pm_tmr_blk = cfg->pm_tmr_port;
		f->pm_tmr_len = FADT_PM_TMR_LEN;
		f->x_pm_tmr_blk = gas_io(cfg->pm_tmr_port, FADT_PM_TMR_LEN, GAS_ACCESS_DWORD);
	}
	/* No C2/C3: latencies above 100 and 1000 us tell the OS they are absent. */
	f->p_lvl2_lat = 101;
	f->p_lvl3_lat = 1001;
	f->iapc_boot_arch = FADT_BOOT_LEGACY_DEVICES | FADT_BOOT_8042;
	/* Where the RTC keeps the century, so Linux reads years past 2099 right. */
	f->century = FADT_RTC_CENTURY_INDEX;
	/*
	 * TMR_VAL_EXT stays clear (the timer is 24 bits), RESET_REG_SUP clear
	 * (reset goes through the i8042), HW_REDUCED_ACPI clear.
	 */
	f->flags = FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON;
	header_seal(&f->h);
	return 0;
}

static int build_madt(struct image *img, const struct acpi_config *cfg, size_t *off)
{
	struct madt_lapic_nmi *nmi;
	struct madt_ioapic *io;
	struct madt_lapic *lapic;
	struct madt_iso *iso;
	struct madt *m;
	size_t len;
	uint8_t *p;
	int ret;

	len =
	    sizeof(*m) + cfg->nr_cpus * sizeof(*lapic) + sizeof(*io) + sizeof(*iso) + sizeof(*nmi);
	ret = img_alloc(img, len, 16, off);
	if (ret)
		return ret;
	m = (struct madt *)(img->buf + *off);
	header_init(&m->h, "APIC", (uint32_t)len, MADT_REVISION);
	m->lapic_addr = cfg->lapic_addr;
	m->flags = MADT_PCAT_COMPAT;
	p = (uint8_t *)(m + 1);
	for (unsigned i = 0; i < cfg->nr_cpus; i++) {
		lapic = (struct madt_lapic *)p;
		*lapic = (struct madt_lapic){
		    .type = MADT_TYPE_LAPIC,
		    .length = sizeof(*lapic),
		    .uid = (uint8_t)i,
		    .apic_id = (uint8_t)i,
		    .flags = MADT_LAPIC_ENABLED,
		};
		p += sizeof(*lapic);
	}
	io = (struct madt_ioapic *)p;
	*io = (struct madt_ioapic){
	    .type = MADT_TYPE_IOAPIC,
	    .length = sizeof(*io),
	    .id = (uint8_t)cfg->nr_cpus,
	    .address = cfg->ioapic_addr,
	    .gsi_base = 0,
	};
	p += sizeof(*io);
	/*
	 * Only the SCI is overridden (to level, active-high). ISA IRQs are
	 * otherwise identity-mapped, IRQ0 included: KVM's in-kernel PIT raises
	 * GSI 0, so the usual IRQ0->GSI2 override would lose the timer.
	 */
	iso = (struct madt_iso *)p;
	*iso = (struct madt_iso){
	    .type = MADT_TYPE_ISO,
	    .length = sizeof(*iso),
	    .bus = 0,
	    .source = (uint8_t)cfg->sci_irq,
	    .gsi = cfg->sci_irq,
	    .flags = MPS_ACTIVE_HIGH | MPS_LEVEL,
	};
	p += sizeof(*iso);
	nmi = (struct madt_lapic_nmi *)p;
	*nmi = (struct madt_lapic_nmi){
	    .type = MADT_TYPE_LAPIC_NMI,
	    .length = sizeof(*nmi),
	    .uid = MADT_ALL_PROCESSORS,
	    .flags = MPS_ACTIVE_HIGH | MPS_EDGE,
	    .lint = 1,
	};
	header_seal(&m->h);
	return 0;
}

static int build_hpet(struct image *img, const struct acpi_config *cfg, size_t *off)
{
	struct hpet_table *t;
	int ret;

	ret = img_alloc(img, sizeof(*t), 16, off);
	if (ret)
		return ret;
	t = (struct hpet_table *)(img->buf + *off);
	header_init(&t->h, "HPET", sizeof(*t), HPET_TABLE_REVISION);
	t->block_id = cfg->hpet_block_id;
	t->base = (struct gas){
	    .space_id = GAS_SPACE_SYSTEM_MEMORY,
	    .bit_width = 64,
	    .address = cfg->hpet_addr,
	};
	t->number = 0;
	t->min_tick = cfg->hpet_min_tick;
	t->page_protection = HPET_PAGE_PROTECT_4K;
	header_seal(&t->h);
	return 0;
}

static int build_xsdt(struct image *img, const size_t *tables, unsigned n, size_t *off)
{
	struct sdt_header *h;
	size_t len = sizeof(*h) + n * sizeof(uint64_t);
	int ret;

	ret = img_alloc(img, len, 16, off);
	if (ret)
		return ret;
	h = (struct sdt_header *)(img->buf + *off);
	header_init(h, "XSDT", (uint32_t)len, XSDT_REVISION);
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = img_gpa(tables[i]);

		/* Entries sit at offset 36, not 8-aligned: copy bytes. */
		memcpy((uint8_t *)(h + 1) + i * sizeof(gpa), &gpa, sizeof(gpa));
	}
	header_seal(h);
	return 0;
}

static void build_rsdp(struct image *img, size_t rsdp_off, size_t xsdt)
{
	struct rsdp *r = (struct rsdp *)(img->buf + rsdp_off);

	memcpy(r->signature, "RSD PTR ", sizeof(r->signature));
	memcpy(r->oem_id, OEM_ID, sizeof(r->oem_id));
	r->revision = 2;
	r->rsdt_addr = 0; /* XSDT only: every OS we boot reads it */
	r->length = sizeof(*r);
	r->xsdt_addr = img_gpa(xsdt);
	r->checksum = checksum((const uint8_t *)r, RSDP_V1_LEN);
	r->ext_checksum = checksum((const uint8_t *)r, sizeof(*r));
}

static int config_check(const struct acpi_config *cfg, struct err *err)
{
	if (cfg->nr_cpus < 1 || cfg->nr_cpus > ACPI_MAX_CPUS)
		return err_set(err, -EINVAL, "acpi: %u vCPUs is outside 1..%u", cfg->nr_cpus,
			       ACPI_MAX_CPUS);
	if (cfg->nr_mmio > ACPI_MAX_MMIO_DEVICES)
		return err_set(err, -EINVAL, "acpi: %u virtio-mmio devices, at most %u fit",
			       cfg->nr_mmio, ACPI_MAX_MMIO_DEVICES);
	/* The SCI gets an ISA override; IRQ0 (timer) and IRQ2 (cascade) are taken. */
	if (cfg->sci_irq >= ISA_IRQS || cfg->sci_irq == 0 || cfg->sci_irq == 2)
		return err_set(err, -EINVAL, "acpi: SCI IRQ %u is not a free ISA IRQ",
			       cfg->sci_irq);
	if (!cfg->pm1a_evt_port || !cfg->pm1a_cnt_port)
		return err_set(err, -EINVAL, "acpi: PM1a event and control ports are required");
	if (cfg->s5_slp_typ > SLP_TYP_MAX)
		return err_set(err, -EINVAL, "acpi: S5 SLP_TYP %u does not fit in 3 bits",
			       cfg->s5_slp_typ);
	for (unsigned i = 0; i < cfg->nr_mmio; i++) {
		const struct acpi_mmio_device *d = &cfg->mmio[i];

		/* Memory32Fixed: the window must lie below 4 GiB. */
		if (!d->size || !range_within(d->base, d->size, MEM_4G))
			return err_set(err, -EINVAL,
				       "acpi: virtio-mmio device %u at 0x%llx+0x%x is not a "
				       "non-empty range below 4 GiB",
				       i, (unsigned long long)d->base, d->size);
	}
	return 0;
}

static int layout(struct image *img, const struct acpi_config *cfg)
{
	size_t rsdp, facs, dsdt, fadt, madt, hpet, xsdt;
	size_t tables[XSDT_MAX_ENTRIES];
	unsigned n = 0;
	int ret;

	/* The RSDP goes first: Linux scans the window on 16-byte boundaries. */
	ret = img_alloc(img, sizeof(struct rsdp), 16, &rsdp);
	if (!ret)
		ret = build_facs(img, &facs);
	if (!ret)
		ret = build_dsdt(img, cfg, &dsdt);
	if (!ret)
		ret = build_fadt(img, cfg, facs, dsdt, &fadt);
	if (!ret)
		ret = build_madt(img, cfg, &madt);
	if (ret)
		return ret;
	tables[n++] = fadt;
	tables[n++] = madt;
	if (cfg->hpet_addr) {
		ret = build_hpet(img, cfg, &hpet);
		if (ret)
			return ret;
		tables[n++] = hpet;
	}
	ret = build_xsdt(img, tables, n, &xsdt);
	if (ret)
		return ret;
	build_rsdp(img, rsdp, xsdt);
	return 0;
}

int acpi_build(struct guest_memory *mem, const struct acpi_config *cfg, uint64_t *rsdp_gpa,
	       struct err *err)
{
	struct image img = {0};
	int ret;

	ret = config_check(cfg, err);
	if (ret)
		return ret;
	img.buf = calloc(1, ACPI_TABLES_MAX);
	if (!img.buf)
		return err_set(err, -ENOMEM, "acpi: cannot allocate the table image");
	ret = layout(&img, cfg);
	if (ret == -ENOSPC) {
		err_set(err, ret, "acpi: tables do not fit in the %u KiB window",
			(unsigned)(ACPI_TABLES_MAX >> 10));
		goto out_free;
	}
	if (ret) {
		err_set(err, ret, "acpi: cannot build the DSDT");
		goto out_free;
	}
	/* The whole window, so a rebuild leaves no stale bytes after the tables. */
	ret = memory_write(mem, ACPI_TABLES_ADDR, img.buf, ACPI_TABLES_MAX);
	if (ret) {
		err_set(err, ret, "acpi: guest RAM does not cover 0x%llx..0x%llx",
			(unsigned long long)ACPI_TABLES_ADDR,
			(unsigned long long)(ACPI_TABLES_ADDR + ACPI_TABLES_MAX));
		goto out_free;
	}
	*rsdp_gpa = ACPI_TABLES_ADDR;
out_free:
	free(img.buf);
	return ret;
}
