/*
 * guest/tools/blkbench.c: block I/O measurements inside the guest (bench/):
 *   blkbench read DEVICE MIB      sequential O_DIRECT reads, 1 MiB blocks
 *   blkbench write DEVICE MIB     sequential O_DIRECT writes, 1 MiB blocks
 *   blkbench randread DEVICE SEC  4 KiB random O_DIRECT reads for SEC seconds
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define SEQ_BLOCK (1u << 20)
#define RAND_BLOCK 4096u

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sequential(int fd, const char *mode, unsigned mib, void *buf)
{
	int is_write = !strcmp(mode, "write");
	double t0 = now(), t;

	memset(buf, 0x5a, SEQ_BLOCK);
	for (unsigned i = 0; i < mib; i++) {
		ssize_t n = is_write ? pwrite(fd, buf, SEQ_BLOCK, (off_t)i * SEQ_BLOCK)
				     : pread(fd, buf, SEQ_BLOCK, (off_t)i * SEQ_BLOCK);
		if (n != SEQ_BLOCK) {
			perror(mode);
			return 1;
		}
	}
	if (is_write && fdatasync(fd) < 0) {
		perror("fdatasync");
		return 1;
	}
	t = now() - t0;
	printf("blkbench %s: %u MiB in %.3f s, %.1f MB/s\n", mode, mib, t,
	       mib * (double)SEQ_BLOCK / 1e6 / t);
	return 0;
}

static int randread(int fd, double seconds, void *buf)
{
	uint64_t size, blocks, ops = 0, x = 88172645463325252ull;
	double t0, t;

	if (ioctl(fd, BLKGETSIZE64, &size) < 0 || size < RAND_BLOCK) {
		perror("BLKGETSIZE64");
		return 1;
	}
	blocks = size / RAND_BLOCK;
	t0 = now();
	do {
		for (int i = 0; i < 64; i++, ops++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift: no libc state */
			if (pread(fd, buf, RAND_BLOCK, (off_t)(x % blocks) * RAND_BLOCK) != RAND_BLOCK) {
				perror("pread");
				return 1;
			}
		}
		t = now() - t0;
	} while (t < seconds);
	printf("blkbench randread: %llu reads in %.2f s, %.0f IOPS\n", (unsigned long long)ops, t,
	       ops / t);
	return 0;
}

int main(int argc, char **argv)
{
	void *buf;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: blkbench read|write|randread DEVICE MIB|SECONDS\n");
		return 2;
	}
	fd = open(argv[2], (strcmp(argv[1], "write") ? O_RDONLY : O_WRONLY) | O_DIRECT);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	if (posix_memalign(&buf, 4096, SEQ_BLOCK))
		return 1;
	if (!strcmp(argv[1], "randread"))
		return randread(fd, atof(argv[3]), buf);
	return sequential(fd, argv[1], (unsigned)atoi(argv[3]), buf);
}
