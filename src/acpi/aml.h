/* acpi/aml.h: a small AML byte-code and resource-template builder for the DSDT. */
#ifndef KITE_ACPI_AML_H
#define KITE_ACPI_AML_H

#include <stddef.h>
#include <stdint.h>

/*
 * A growable byte buffer. Appends never fail visibly: the first failure
 * (no memory, or the buffer passing AML_MAX_LEN) is kept in error and later
 * appends are ignored, so a whole table is built and checked once at the end.
 */
#define AML_MAX_LEN (1u << 20) /* far above any DSDT we emit; bounds the growth */

struct aml {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int error; /* 0, -ENOMEM or -ENOSPC */
};

/* PkgLength counts its own bytes; its largest encodable value (28 bits). */
#define AML_PKGLEN_MAX 0x0fffffffu

void aml_init(struct aml *a);
void aml_free(struct aml *a);

void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_u16(struct aml *a, uint16_t v);
void aml_u32(struct aml *a, uint32_t v);

/*
 * Encodes a PkgLength whose value (which includes the encoding itself) is
 * total; returns its size in bytes (1..4), or 0 when total is not encodable.
 */
unsigned aml_pkglen_encode(uint32_t total, uint8_t out[4]);
/* The PkgLength value for a package whose contents after it are body bytes; 0 if too big. */
uint32_t aml_pkglen_for_body(uint32_t body, unsigned *nbytes);

/*
 * Opens a PkgLength-prefixed package at the current end: returns a mark for
 * aml_pkg_end, which inserts the PkgLength once the body is complete.
 */
size_t aml_pkg_begin(struct aml *a);
void aml_pkg_end(struct aml *a, size_t mark);

/* NameString from "\\_SB.V000", "_S5", "^FOO": segments padded with '_' to 4. */
void aml_name_string(struct aml *a, const char *path);

/* Data objects: the shortest of Zero/One/Ones/Byte/Word/DWord/QWord. */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EISA ID ("PNP0501") compressed to a DWord, as _HID expects. */
void aml_eisaid(struct aml *a, const char *id);
void aml_buffer(struct aml *a, const uint8_t *data, size_t len);

/* Name(path, ...): the data object follows. */
void aml_name(struct aml *a, const char *path);

/* Package(n){...}: n elements follow, then aml_package_end. */
size_t aml_package_begin(struct aml *a, uint8_t nr_elems);
#define aml_package_end aml_pkg_end

size_t aml_scope_begin(struct aml *a, const char *path);
#define aml_scope_end aml_pkg_end

size_t aml_device_begin(struct aml *a, const char *path);
#define aml_device_end aml_pkg_end

/*
 * Resource template descriptors (ACPI 6.x section 6.4), appended to a raw
 * struct aml that is then wrapped by aml_buffer().
 */
#define AML_RES_EXT_IRQ_CONSUMER   0x01
#define AML_RES_EXT_IRQ_EDGE	   0x02
#define AML_RES_EXT_IRQ_ACTIVE_LOW 0x04
#define AML_RES_EXT_IRQ_SHARED	   0x08

void aml_res_io(struct aml *rt, uint16_t base, uint8_t len);
void aml_res_irq_noflags(struct aml *rt, unsigned irq);
void aml_res_memory32_fixed(struct aml *rt, int writable, uint32_t base, uint32_t len);
void aml_res_ext_irq(struct aml *rt, uint8_t flags, uint32_t gsi);
void aml_res_end(struct aml *rt);

#endif
