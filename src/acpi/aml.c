/* acpi/aml.c: a small AML byte-code and resource-template builder for the DSDT. */
#include "acpi/aml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Opcodes and prefixes, ACPI 6.x section 20.3. */
#define AML_ZERO_OP	       0x00
#define AML_ONE_OP	       0x01
#define AML_NAME_OP	       0x08
#define AML_BYTE_PREFIX	       0x0a
#define AML_WORD_PREFIX	       0x0b
#define AML_DWORD_PREFIX       0x0c
#define AML_STRING_PREFIX      0x0d
#define AML_QWORD_PREFIX       0x0e
#define AML_SCOPE_OP	       0x10
#define AML_BUFFER_OP	       0x11
#define AML_PACKAGE_OP	       0x12
#define AML_DUAL_NAME_PREFIX   0x2e
#define AML_MULTI_NAME_PREFIX  0x2f
#define AML_EXT_OP_PREFIX      0x5b
#define AML_ROOT_CHAR	       '\\'
#define AML_PARENT_PREFIX_CHAR '^'
#define AML_DEVICE_OP	       0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ONES_OP	       0xff

/* Resource descriptor tags (section 6.4): small items carry their length in bits 0-2. */
#define RES_SMALL_IRQ_NOFLAGS	 0x22
#define RES_SMALL_IO		 0x47
#define RES_SMALL_END		 0x79
#define RES_LARGE_MEMORY32_FIXED 0x86
#define RES_LARGE_EXT_IRQ	 0x89

#define NAME_SEG_LEN   4
#define MULTI_NAME_MAX 255

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

static void fail(struct aml *a, int code)
{
	if (!a->error)
		a->error = code;
}

/* Makes room for n more bytes; false (with a->error set) if it cannot. */
static bool reserve(struct aml *a, size_t n)
{
	size_t want, cap;
	uint8_t *p;

	if (a->error)
		return false;
	if (n > AML_MAX_LEN - a->len) {
		fail(a, -ENOSPC);
		return false;
	}
	want = a->len + n;
	if (want <= a->cap)
		return true;
	cap = a->cap ? a->cap : 256;
	while (cap < want)
		cap *= 2;
	p = realloc(a->buf, cap);
	if (!p) {
		fail(a, -ENOMEM);
		return false;
	}
	a->buf = p;
	a->cap = cap;
	return true;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (!reserve(a, n))
		return;
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

void aml_u16(struct aml *a, uint16_t v)
{
	uint8_t b[2] = {v & 0xff, v >> 8};

	aml_bytes(a, b, sizeof(b));
}

void aml_u32(struct aml *a, uint32_t v)
{
	uint8_t b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};

	aml_bytes(a, b, sizeof(b));
}

static void put_u64(struct aml *a, uint64_t v)
{
	aml_u32(a, (uint32_t)v);
	aml_u32(a, (uint32_t)(v >> 32));
}

/*
 * Section 20.2.4: one byte holds values below 64; otherwise bits 6-7 of the
 * lead byte count the bytes that follow, the lead byte's low nibble holds
 * bits 0-3 and each following byte the next eight bits.
 */
unsigned aml_pkglen_encode(uint32_t total, uint8_t out[4])
{
	unsigned follow;

	if (total < 0x40) {
		out[0] = (uint8_t)total;
		return 1;
	}
	if (total <= 0xfff)
		follow = 1;
	else if (total <= 0xfffff)
		follow = 2;
	else if (total <= AML_PKGLEN_MAX)
		follow = 3;
	else
		return 0;
	out[0] = (uint8_t)((follow << 6) | (total & 0x0f));
	for (unsigned i = 1; i <= follow; i++)
		out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	return follow + 1;
}

uint32_t aml_pkglen_for_body(uint32_t body, unsigned *nbytes)
{
	static const uint32_t limit[] = {0x3f, 0xfff, 0xfffff, AML_PKGLEN_MAX};

	/* The value includes its own size, so a longer encoding can be needed
	 * just because the shorter one would push the total over its limit. */
	for (unsigned n = 1; n <= 4; n++) {
		if (body <= limit[n - 1] - n) {
			*nbytes = n;
			return body + n;
		}
	}
	*nbytes = 0;
	return 0;
}

size_t aml_pkg_begin(struct aml *a)
{
	return a->len;
}

void aml_pkg_end(struct aml *a, size_t mark)
{
	uint8_t enc[4];
	uint32_t total;
	unsigned n;
	size_t body;

	if (a->error)
		return;
	if (mark > a->len) {
		fail(a, -EINVAL);
		return;
	}
	body = a->len - mark;
	total = body > AML_PKGLEN_MAX ? 0 : aml_pkglen_for_body((uint32_t)body, &n);
	if (!total) {
		fail(a, -ENOSPC);
		return;
	}
	aml_pkglen_encode(total, enc);
	if (!reserve(a, n))
		return;
	memmove(a->buf + mark + n, a->buf + mark, body);
	memcpy(a->buf + mark, enc, n);
	a->len += n;
}

static bool is_lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
	return is_lead_char(c) || (c >= '0' && c <= '9');
}

/* Appends one NameSeg from s (1-4 chars up to '.' or NUL); returns chars used, 0 if invalid. */
static size_t put_seg(struct aml *a, const char *s)
{
	char seg[NAME_SEG_LEN] = {'_', '_', '_', '_'};
	size_t n = 0;

	while (s[n] && s[n] != '.') {
		if (n == NAME_SEG_LEN || !is_name_char(s[n]) || (n == 0 && !is_lead_char(s[n])))
			return 0;
		seg[n] = s[n];
		n++;
	}
	if (n == 0)
		return 0;
	aml_bytes(a, seg, sizeof(seg));
	return n;
}

void aml_name_string(struct aml *a, const char *path)
{
	size_t nsegs = 1, used;
	const char *p;

	while (*path == AML_ROOT_CHAR || *path == AML_PARENT_PREFIX_CHAR)
		aml_byte(a, (uint8_t)*path++);
	if (!*path) {
		aml_byte(a, 0x00); /* NullName: the root itself */
		return;
	}
	for (p = path; *p; p++)
		nsegs += *p == '.';
	if (nsegs > MULTI_NAME_MAX) {
		fail(a, -EINVAL);
		return;
	}
	if (nsegs == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nsegs > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nsegs);
	}
	for (p = path; nsegs--; p += used + 1) {
		used = put_seg(a, p);
		if (!used) {
			fail(a, -EINVAL);
			return;
		}
	}
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v == UINT64_MAX) {
		aml_byte(a, AML_ONES_OP);
	} else if (v <= UINT8_MAX) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_byte(a, (uint8_t)v);
	} else if (v <= UINT16_MAX) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_u16(a, (uint16_t)v);
	} else if (v <= UINT32_MAX) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_u32(a, (uint32_t)v);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		put_u64(a, v);
	}
}

void aml_string(struct aml *a, const char *s)
{
	/* AsciiCharList is 0x01-0x7f: a NUL would end it early, high bytes are not ASCII. */
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p > 0x7f) {
			fail(a, -EINVAL);
			return;
		}
	}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Three letters of 5 bits each ('A' is 1) and four hex digits, stored so the
 * bytes in memory read most significant first.
 */
void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = 0;

	if (strlen(id) != 7) {
		fail(a, -EINVAL);
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			fail(a, -EINVAL);
			return;
		}
		v = (v << 5) | (uint32_t)(id[i] - 'A' + 1);
	}
	for (int i = 3; i < 7; i++) {
		int d = hex_digit(id[i]);

		if (d < 0) {
			fail(a, -EINVAL);
			return;
		}
		v = (v << 4) | (uint32_t)d;
	}
	aml_integer(a, __builtin_bswap32(v));
}

void aml_buffer(struct aml *a, const uint8_t *data, size_t len)
{
	size_t mark;

	aml_byte(a, AML_BUFFER_OP);
	mark = aml_pkg_begin(a);
	aml_integer(a, len);
	aml_bytes(a, data, len);
	aml_pkg_end(a, mark);
}

void aml_name(struct aml *a, const char *path)
{
	aml_byte(a, AML_NAME_OP);
	aml_name_string(a, path);
}

size_t aml_package_begin(struct aml *a, uint8_t nr_elems)
{
	size_t mark;

	aml_byte(a, AML_PACKAGE_OP);
	mark = aml_pkg_begin(a);
	aml_byte(a, nr_elems);
	return mark;
}

size_t aml_scope_begin(struct aml *a, const char *path)
{
	size_t mark;

	aml_byte(a, AML_SCOPE_OP);
	mark = aml_pkg_begin(a);
	aml_name_string(a, path);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *path)
{
	size_t mark;

	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	mark = aml_pkg_begin(a);
	aml_name_string(a, path);
	return mark;
}

/* IO(Decode16, base, base, 1, len): a fixed range of legacy ports. */
void aml_res_io(struct aml *rt, uint16_t base, uint8_t len)
{
	aml_byte(rt, RES_SMALL_IO);
	aml_byte(rt, 0x01); /* decodes all 16 address bits */
	aml_u16(rt, base);
	aml_u16(rt, base);
	aml_byte(rt, 1);
	aml_byte(rt, len);
}

/* IRQNoFlags(){irq}: an ISA IRQ, edge-triggered active-high by definition. */
void aml_res_irq_noflags(struct aml *rt, unsigned irq)
{
	if (irq > 15) {
		fail(rt, -EINVAL);
		return;
	}
	aml_byte(rt, RES_SMALL_IRQ_NOFLAGS);
	aml_u16(rt, (uint16_t)(1u << irq));
}

void aml_res_memory32_fixed(struct aml *rt, int writable, uint32_t base, uint32_t len)
{
	aml_byte(rt, RES_LARGE_MEMORY32_FIXED);
	aml_u16(rt, 9); /* bytes after the length field */
	aml_byte(rt, writable ? 0x01 : 0x00);
	aml_u32(rt, base);
	aml_u32(rt, len);
}

void aml_res_ext_irq(struct aml *rt, uint8_t flags, uint32_t gsi)
{
	aml_byte(rt, RES_LARGE_EXT_IRQ);
	aml_u16(rt, 6); /* flags, table length, one DWord */
	aml_byte(rt, flags);
	aml_byte(rt, 1);
	aml_u32(rt, gsi);
}

/* Checksum 0 tells the OS not to verify the template (section 6.4.2.9). */
void aml_res_end(struct aml *rt)
{
	aml_byte(rt, RES_SMALL_END);
	aml_byte(rt, 0x00);
}
