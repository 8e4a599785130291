/* backend/tap.c: a host TAP interface carrying virtio-net headers. */
#include "backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TUN_PATH "/dev/net/tun"

static const char *open_why(int e)
{
	switch (e) {
	case EBUSY:
		return "it is busy (another process has it open)";
	case EPERM:
	case EACCES:
		return "not permitted (it belongs to another user, or CAP_NET_ADMIN is needed)";
	case ENODEV:
	case ENOENT:
		return "no such TAP interface (create it with 'ip tuntap add dev NAME mode tap')";
	case EINVAL:
		return "it is not a TAP interface, or does not take IFF_VNET_HDR";
	default:
		return strerror(e);
	}
}

/* Which of the offloads the kernel takes on this TAP; leaves none set. */
static unsigned offload_probe(int fd)
{
	static const unsigned try[] = { TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6,
					TAP_OFFLOAD_CSUM };
	unsigned ok = 0;

	for (unsigned i = 0; i < sizeof(try) / sizeof(try[0]) && !ok; i++)
		if (tap_set_offload(fd, try[i]) == 0)
			ok = try[i];
	tap_set_offload(fd, 0);
	return ok;
}

int tap_open(const char *ifname, int *fd_out, unsigned *offloads, struct err *err)
{
	struct ifreq ifr = { 0 };
	int hdr_len = TAP_VNET_HDR_LEN;
	int fd, rc;

	if (!ifname[0] || strlen(ifname) >= IFNAMSIZ)
		return err_set(err, -EINVAL, "tap '%s': the name must be 1 to %u bytes", ifname,
			       IFNAMSIZ - 1);
	fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "tap %s: cannot open %s: %s", ifname, TUN_PATH,
			       strerror(errno));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	/*
	 * IFF_TUN_EXCL is left out: the TAP is expected to exist. An absent
	 * name would create one, which ip tuntap would have to clean up, so
	 * we look first.
	 */
	if (access("/sys/class/net", F_OK) == 0) {
		char path[64 + IFNAMSIZ];

		snprintf(path, sizeof(path), "/sys/class/net/%s", ifname);
		if (access(path, F_OK) < 0) {
			rc = err_set(err, -ENODEV, "tap %s: %s", ifname, open_why(ENODEV));
			goto err_close;
		}
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = err_set(err, -errno, "tap %s: %s", ifname, open_why(errno));
		goto err_close;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
		rc = err_set(err, -errno, "tap %s: TUNSETVNETHDRSZ: %s", ifname, strerror(errno));
		goto err_close;
	}
	*offloads = offload_probe(fd);
	*fd_out = fd;
	return 0;
err_close:
	close(fd);
	return rc;
}

int tap_set_offload(int fd, unsigned offloads)
{
	unsigned long flags = 0;

	if (offloads & TAP_OFFLOAD_CSUM)
		flags |= TUN_F_CSUM;
	if (offloads & TAP_OFFLOAD_TSO4)
		flags |= TUN_F_TSO4;
	if (offloads & TAP_OFFLOAD_TSO6)
		flags |= TUN_F_TSO6;
	return ioctl(fd, TUNSETOFFLOAD, flags) < 0 ? -errno : 0;
}
