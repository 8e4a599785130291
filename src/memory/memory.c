/* memory/memory.c: guest RAM, its layout around the 4 GiB hole, and checked access. */
#include "memory/memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "base/util.h"

int memory_init(struct guest_memory *mem, uint64_t ram_size, struct err *err)
{
	uint64_t low;
	void *p;

	memset(mem, 0, sizeof(*mem));
	if (ram_size < MEM_MIN_SIZE)
		return err_set(err, -EINVAL, "memory size %llu MiB is below the minimum of %llu MiB",
			       (unsigned long long)(ram_size >> 20),
			       (unsigned long long)(MEM_MIN_SIZE >> 20));
	if (ram_size > MEM_MAX_SIZE)
		return err_set(err, -EINVAL, "memory size %llu GiB is above the maximum of %llu GiB",
			       (unsigned long long)(ram_size >> 30),
			       (unsigned long long)(MEM_MAX_SIZE >> 30));
	if (ram_size % 4096)
		return err_set(err, -EINVAL, "memory size must be a multiple of 4 KiB");
	/* NORESERVE: only pages the guest touches cost host memory. */
	p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return err_set(err, -errno, "cannot map %llu MiB of guest memory: %s",
			       (unsigned long long)(ram_size >> 20), strerror(errno));
	mem->base = p;
	mem->ram_size = ram_size;
	low = ram_size < MEM_HOLE_START ? ram_size : MEM_HOLE_START;
	mem->regions[0] = (struct mem_region){ .gpa = 0, .size = low, .hva = mem->base };
	mem->nr_regions = 1;
	if (ram_size > low) {
		mem->regions[1] = (struct mem_region){
			.gpa = MEM_4G, .size = ram_size - low, .hva = mem->base + low
		};
		mem->nr_regions = 2;
	}
	return 0;
}

void memory_destroy(struct guest_memory *mem)
{
	if (mem->base)
		munmap(mem->base, mem->ram_size);
	memset(mem, 0, sizeof(*mem));
}

void *gpa_to_hva(const struct guest_memory *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];

		if (gpa < r->gpa)
			continue;
		if (range_within(gpa - r->gpa, len, r->size))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int memory_write(const struct guest_memory *mem, uint64_t gpa, const void *src, size_t len)
{
	void *dst = gpa_to_hva(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int memory_read(const struct guest_memory *mem, uint64_t gpa, void *dst, size_t len)
{
	const void *src = gpa_to_hva(mem, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

uint64_t memory_top(const struct guest_memory *mem)
{
	const struct mem_region *last;

	if (!mem->nr_regions)
		return 0;
	last = &mem->regions[mem->nr_regions - 1];
	return last->gpa + last->size;
}

unsigned memory_e820(const struct guest_memory *mem, struct e820_entry *map, unsigned max)
{
	struct e820_entry all[E820_MAX_ENTRIES];
	unsigned n = 0;

	all[n++] = (struct e820_entry){ 0, MEM_EBDA_START, E820_RAM };
	all[n++] = (struct e820_entry){ MEM_EBDA_START, MEM_BIOS_END - MEM_EBDA_START,
					E820_RESERVED };
	all[n++] = (struct e820_entry){ MEM_BIOS_END, mem->regions[0].size - MEM_BIOS_END,
					E820_RAM };
	if (mem->nr_regions > 1)
		all[n++] = (struct e820_entry){ mem->regions[1].gpa, mem->regions[1].size,
						E820_RAM };
	if (n > max)
		n = max;
	memcpy(map, all, n * sizeof(*map));
	return n;
}
