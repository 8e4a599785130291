/* base/state.c: field-by-field save/load streams for device and vCPU state. */
#include "base/state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SECTION_NAME_MAX 32

void state_writer_init(struct state_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void state_writer_free(struct state_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void state_put_bytes(struct state_writer *w, const void *p, size_t n)
{
	if (w->error)
		return;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *nb;

		while (cap < w->len + n)
			cap *= 2;
		nb = realloc(w->buf, cap);
		if (!nb) {
			w->error = -ENOMEM;
			return;
		}
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void put_le(struct state_writer *w, uint64_t v, unsigned n)
{
	uint8_t b[8];

	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	state_put_bytes(w, b, n);
}

void state_put_u8(struct state_writer *w, uint8_t v) { put_le(w, v, 1); }
void state_put_u16(struct state_writer *w, uint16_t v) { put_le(w, v, 2); }
void state_put_u32(struct state_writer *w, uint32_t v) { put_le(w, v, 4); }
void state_put_u64(struct state_writer *w, uint64_t v) { put_le(w, v, 8); }

void state_section_begin(struct state_writer *w, const char *name, uint32_t version)
{
	char padded[SECTION_NAME_MAX] = { 0 };

	strncpy(padded, name, sizeof(padded) - 1);
	state_put_bytes(w, padded, sizeof(padded));
	state_put_u32(w, version);
	w->section_start = w->len;
	state_put_u32(w, 0); /* length, patched by state_section_end */
}

void state_section_end(struct state_writer *w)
{
	uint32_t body;

	if (w->error)
		return;
	body = (uint32_t)(w->len - w->section_start - 4);
	for (unsigned i = 0; i < 4; i++)
		w->buf[w->section_start + i] = (uint8_t)(body >> (8 * i));
}

void state_reader_init(struct state_reader *r, const void *buf, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = len;
	r->section_end = len;
}

void state_get_bytes(struct state_reader *r, void *p, size_t n)
{
	if (r->error || n > r->section_end - r->pos) {
		r->error = -EBADMSG;
		memset(p, 0, n);
		return;
	}
	memcpy(p, r->buf + r->pos, n);
	r->pos += n;
}

static uint64_t get_le(struct state_reader *r, unsigned n)
{
	uint8_t b[8];
	uint64_t v = 0;

	state_get_bytes(r, b, n);
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

uint8_t state_get_u8(struct state_reader *r) { return (uint8_t)get_le(r, 1); }
uint16_t state_get_u16(struct state_reader *r) { return (uint16_t)get_le(r, 2); }
uint32_t state_get_u32(struct state_reader *r) { return (uint32_t)get_le(r, 4); }
uint64_t state_get_u64(struct state_reader *r) { return get_le(r, 8); }

int state_section_open(struct state_reader *r, const char *name, uint32_t max_version,
		       uint32_t *version, struct err *err)
{
	char got[SECTION_NAME_MAX];
	uint32_t body;

	r->section_end = r->len;
	state_get_bytes(r, got, sizeof(got));
	*version = state_get_u32(r);
	body = state_get_u32(r);
	if (r->error)
		return err_set(err, -EINVAL, "state: truncated section header for '%s'", name);
	got[SECTION_NAME_MAX - 1] = '\0';
	if (strcmp(got, name) != 0)
		return err_set(err, -EINVAL, "state: expected section '%s', found '%s'", name, got);
	if (*version == 0 || *version > max_version)
		return err_set(err, -EINVAL, "state: section '%s' has version %u, this kite reads 1..%u",
			       name, *version, max_version);
	if (body > STATE_SECTION_MAX || body > r->len - r->pos)
		return err_set(err, -EINVAL, "state: section '%s' claims %u bytes, %zu remain", name,
			       body, r->len - r->pos);
	r->section_end = r->pos + body;
	return 0;
}

int state_section_close(struct state_reader *r, struct err *err)
{
	if (r->error)
		return err_set(err, -EINVAL, "state: section is shorter than its fields");
	if (r->pos != r->section_end)
		return err_set(err, -EINVAL, "state: section has %zu unread bytes",
			       r->section_end - r->pos);
	r->section_end = r->len;
	return 0;
}
