/* boot/elf.c: ELF kernel images for the PVH and multiboot loaders: headers and segments. */
#include "boot/boot.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "boot/loader.h"

int elf_open(const uint8_t *img, size_t len, struct elf *e, struct err *err)
{
	unsigned machine;

	memset(e, 0, sizeof(*e));
	if (!boot_is_elf(img, len) || len < EI_NIDENT)
		return err_set(err, -EINVAL, "not an ELF file");
	if (img[EI_CLASS] != ELFCLASS32 && img[EI_CLASS] != ELFCLASS64)
		return err_set(err, -EINVAL, "ELF class %u is neither 32- nor 64-bit",
			       img[EI_CLASS]);
	if (img[EI_DATA] != ELFDATA2LSB || img[EI_VERSION] != EV_CURRENT)
		return err_set(err, -EINVAL, "ELF file is not a little-endian version 1 ELF");
	e->img = img;
	e->len = len;
	e->is64 = img[EI_CLASS] == ELFCLASS64;
	if (len < (e->is64 ? EHDR64_SIZE : EHDR32_SIZE))
		return err_set(err, -EINVAL, "ELF header is truncated (%zu bytes)", len);
	machine = le16(img + 18);
	if (machine != EM_X86_64 && machine != EM_386)
		return err_set(err, -EINVAL, "ELF machine %u is not x86", machine);
	if (e->is64) {
		e->phoff = le64(img + 32);
		e->shoff = le64(img + 40);
		e->phentsize = le16(img + 54);
		e->phnum = le16(img + 56);
		e->shentsize = le16(img + 58);
		e->shnum = le16(img + 60);
	} else {
		e->phoff = le32(img + 28);
		e->shoff = le32(img + 32);
		e->phentsize = le16(img + 42);
		e->phnum = le16(img + 44);
		e->shentsize = le16(img + 46);
		e->shnum = le16(img + 48);
	}
	if (e->phnum == PN_XNUM)
		return err_set(err, -EINVAL, "ELF uses extended program header numbering");
	if (e->phnum && e->phentsize < (e->is64 ? PHDR64_SIZE : PHDR32_SIZE))
		return err_set(err, -EINVAL, "ELF program header size %u is too small",
			       e->phentsize);
	if (!table_within(e->phoff, e->phnum, e->phentsize, len))
		return err_set(err, -EINVAL,
			       "ELF program headers (%u at offset 0x%llx) run past the end of the "
			       "file (%zu bytes)",
			       e->phnum, (unsigned long long)e->phoff, len);
	return 0;
}

void elf_phdr(const struct elf *e, unsigned i, struct phdr *ph)
{
	const uint8_t *p = e->img + e->phoff + (uint64_t)i * e->phentsize;

	ph->type = le32(p);
	if (e->is64) {
		ph->offset = le64(p + 8);
		ph->paddr = le64(p + 24);
		ph->filesz = le64(p + 32);
		ph->memsz = le64(p + 40);
		ph->align = le64(p + 48);
	} else {
		ph->offset = le32(p + 4);
		ph->paddr = le32(p + 12);
		ph->filesz = le32(p + 16);
		ph->memsz = le32(p + 20);
		ph->align = le32(p + 28);
	}
}

static int segment_load(struct guest_memory *mem, const struct elf *e, unsigned i,
			const struct phdr *ph, const struct boot_reserved *reserved,
			unsigned nr_reserved, struct err *err)
{
	const struct boot_reserved *hit;
	uint64_t end;
	uint8_t *dst;

	if (ph->filesz > ph->memsz)
		return err_set(err, -EINVAL, "ELF segment %u has more file bytes than memory", i);
	if (!range_within(ph->offset, ph->filesz, e->len))
		return err_set(err, -EINVAL, "ELF segment %u runs past the end of the file", i);
	if (add_overflows(ph->paddr, ph->memsz, &end))
		return err_set(err, -EINVAL, "ELF segment %u wraps around the address space", i);
	hit = boot_reserved_hit(reserved, nr_reserved, ph->paddr, end);
	if (hit)
		return err_set(err, -EINVAL,
			       "ELF segment %u at 0x%llx-0x%llx overlaps the %s at 0x%llx-0x%llx", i,
			       (unsigned long long)ph->paddr, (unsigned long long)end, hit->what,
			       (unsigned long long)hit->start, (unsigned long long)hit->end);
	dst = gpa_to_hva(mem, ph->paddr, ph->memsz);
	if (!dst)
		return err_set(err, -EINVAL, "ELF segment %u at 0x%llx-0x%llx is outside guest RAM",
			       i, (unsigned long long)ph->paddr, (unsigned long long)end);
	memcpy(dst, e->img + ph->offset, ph->filesz);
	memset(dst + ph->filesz, 0, ph->memsz - ph->filesz);
	return 0;
}

int elf_segments_load(struct guest_memory *mem, const struct elf *e,
		      const struct boot_reserved *reserved, unsigned nr_reserved, uint64_t *top,
		      struct err *err)
{
	unsigned loaded = 0;
	struct phdr ph;
	int ret;

	*top = 0;
	for (unsigned i = 0; i < e->phnum; i++) {
		elf_phdr(e, i, &ph);
		if (ph.type != PT_LOAD || !ph.memsz)
			continue;
		ret = segment_load(mem, e, i, &ph, reserved, nr_reserved, err);
		if (ret)
			return ret;
		if (ph.paddr + ph.memsz > *top)
			*top = ph.paddr + ph.memsz;
		loaded++;
	}
	if (!loaded)
		return err_set(err, -EINVAL, "ELF kernel has no loadable segments");
	return 0;
}
