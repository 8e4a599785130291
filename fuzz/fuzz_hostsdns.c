/*
 * fuzz/fuzz_hostsdns.c: libFuzzer target: the user network's DNS relay on
 * hostile guest frames. The IP header checksum is made right and the UDP
 * checksum left out before each run, so the fuzzer reaches the DNS parser
 * instead of stopping at a checksum. Whatever the bytes, hostsdns_reply()
 * answers within its buffer or leaves the frame to libslirp (0), and never
 * reads past the frame (its own allocation, so ASan sees).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void hosts_remove(void)
{
	unlink(path);
}

static const char *hosts_file(void)
{
	FILE *f;

	if (path[0])
		return path;
	snprintf(path, sizeof(path), "/tmp/kite-fuzz-hosts.%d", (int)getpid());
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs("127.0.0.1 localhost\n192.0.2.1 alpha alpha.example\n2001:db8::1 alpha six\n", f);
	fclose(f);
	atexit(hosts_remove);
	return path;
}

static void fix_ip(uint8_t *f, size_t size)
{
	size_t ihl = (size_t)(f[14] & 0xf) * 4;
	uint32_t sum = 0;

	if (ihl < 20 || 14 + ihl + 8 > size)
		return;
	f[24] = f[25] = 0;
	for (size_t i = 0; i < ihl; i += 2)
		sum += (uint32_t)(f[14 + i] << 8 | f[14 + i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[24] = (uint8_t)(~sum >> 8);
	f[25] = (uint8_t)~sum;
	f[14 + ihl + 6] = f[14 + ihl + 7] = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *frame = malloc(size ? size : 1), out[600];
	size_t n;

	if (!frame)
		return 0;
	memcpy(frame, data, size);
	if (size > 34)
		fix_ip(frame, size);
	n = hostsdns_reply(frame, size, 0x0a000203u, hosts_file(), out, sizeof(out));
	if (n > sizeof(out))
		abort();
	free(frame);
	return 0;
}
