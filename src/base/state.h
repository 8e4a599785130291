/* base/state.h: field-by-field save/load streams for device and vCPU state. */
#ifndef KITE_BASE_STATE_H
#define KITE_BASE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/*
 * A device saves itself as a section: a name, a per-device version and the
 * fields in a fixed order, each written explicitly (STYLE 19). The stream is
 * little-endian and carries no host pointers. Snapshot files and migration
 * streams wrap these sections with their own magic, version and checksum.
 */
struct state_writer {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int error; /* first error (negative errno), sticky */
	size_t section_start;
};

struct state_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	int error; /* -EBADMSG once a read ran past the end, sticky */
	size_t section_end;
};

/* A section may not claim more than this; checked before it is parsed. */
#define STATE_SECTION_MAX (64u << 20)

void state_writer_init(struct state_writer *w);
void state_writer_free(struct state_writer *w);
void state_put_u8(struct state_writer *w, uint8_t v);
void state_put_u16(struct state_writer *w, uint16_t v);
void state_put_u32(struct state_writer *w, uint32_t v);
void state_put_u64(struct state_writer *w, uint64_t v);
void state_put_bytes(struct state_writer *w, const void *p, size_t n);
/* Opens a section "name" at "version"; state_section_end() patches its length. */
void state_section_begin(struct state_writer *w, const char *name, uint32_t version);
void state_section_end(struct state_writer *w);

void state_reader_init(struct state_reader *r, const void *buf, size_t len);
uint8_t state_get_u8(struct state_reader *r);
uint16_t state_get_u16(struct state_reader *r);
uint32_t state_get_u32(struct state_reader *r);
uint64_t state_get_u64(struct state_reader *r);
void state_get_bytes(struct state_reader *r, void *p, size_t n);
/*
 * Reads a section header; fails with -EINVAL and a message in err unless it is
 * named "name" with a version in [1, max_version]. Stores the version.
 */
int state_section_open(struct state_reader *r, const char *name, uint32_t max_version,
		       uint32_t *version, struct err *err);
/* Fails unless the section was consumed exactly and no read ran short. */
int state_section_close(struct state_reader *r, struct err *err);

#endif
