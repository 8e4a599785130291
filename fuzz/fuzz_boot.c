/*
 * fuzz/fuzz_boot.c: libFuzzer target: the kernel loaders (bzImage, PVH ELF,
 * multiboot) on hostile images. Whatever the bytes, boot_load either loads
 * them into guest RAM or names what is wrong; it never reads or writes
 * outside the image and guest memory (ASan watches both).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"

#define FUZZ_GUEST_MEM (64ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_memory mem;
	static bool ready;
	static const uint8_t initrd[] = "initrd";
	struct x86_cpu_state bsp;
	struct err err = {0};
	enum boot_kind kind;
	/* Its own allocation, so that reading past the image is caught. */
	uint8_t *img = malloc(size ? size : 1);
	struct boot_config cfg = {.kernel = img,
				  .kernel_len = size,
				  .initrd = initrd,
				  .initrd_len = sizeof(initrd),
				  .cmdline = "console=ttyS0"};

	if (!img)
		return 0;
	if (!ready) {
		if (memory_init(&mem, FUZZ_GUEST_MEM, &err))
			abort();
		ready = true;
	}
	memcpy(img, data, size);
	if (boot_load(&mem, &cfg, &bsp, &kind, &err) < 0 && !err.msg[0])
		abort(); /* a failure must say why */
	free(img);
	return 0;
}
