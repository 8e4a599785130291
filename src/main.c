/* main.c: the kite command line, the console and the one place errors are reported. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/sysinfo.h>
#include <termios.h>
#include <unistd.h>

#include "api/api.h"
#include "base/log.h"
#include "base/reaper.h"
#include "base/util.h"
#include "builder/builder.h"
#include "kvm/kvm.h"
#include "soft/bt/bt.h"
#include "vm/vm.h"

#define KITE_VERSION "0.1.0"
/* Ctrl-A x ends kite from a raw terminal, as with QEMU's -nographic. */
#define CONSOLE_ESCAPE 0x01
#define CONSOLE_INPUT_MAX 4096

struct options {
	struct vm_config cfg;
	char default_kernel[PATH_MAX];
	char default_initrd[PATH_MAX];
	bool has_cmdline;
	const char *config_file;
	const char *api_sock;
	const char *id;
	const char *machine_flag; /* the first flag that shapes the machine, for --config-file */
};

struct console {
	bool is_tty;
	bool raw;
	struct termios saved;
	bool escape_pending;
	uint8_t pending[CONSOLE_INPUT_MAX]; /* input the UART FIFO had no room for */
	size_t pending_len;
	bool input_open;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kite run [--kernel PATH] [--initrd PATH] [--cmdline STR] [--cpus N]\n"
		"                [--mem SIZE] [--accel kvm|soft|auto] [--log-level LEVEL]\n"
		"                [--disk PATH[,ro][,id=NAME][,LIMITS]]... [--rng|--no-rng]\n"
		"                [--net tap=IFNAME|user[,hostfwd=RULE]...[,mac=MAC][,mtu=N]\n"
		"                       [,LIMITS]]...\n"
		"                [--console serial|virtio] [--soft-cpu bt|interp]\n"
		"                [--soft-code-cache SIZE] [--vsock cid=N,uds=PATH] [--testdev]\n"
		"       kite run --config-file FILE [--log-level LEVEL]\n"
		"       kite run --api-sock PATH [--id ID] [--config-file FILE | run flags]\n"
		"       kite ctl --api-sock PATH start|pause|resume|info|config|metrics|ctrl-alt-del\n"
		"       kite ctl --api-sock PATH get|put|patch URL [JSON]\n"
		"       kite probe [KVM_DEVICE]\n"
		"       kite --help | --version\n"
		"\n"
		"  --kernel PATH    bzImage, ELF vmlinux with a PVH note, or a multiboot kernel\n"
		"                   (default: the guest built by `make guest`, next to this binary)\n"
		"  --initrd PATH    initial ramdisk\n"
		"  --cmdline STR    kernel command line (default \"" DEFAULT_CMDLINE "\")\n"
		"  --cpus N         vCPUs (default 1)\n"
		"  --mem SIZE       guest memory, e.g. 512M or 2G (default 256M)\n"
		"  --accel ENGINE   kvm, soft or auto (default auto: kvm when the CPU has VT-x/AMD-V)\n"
		"  --log-level L    error, warn, info or debug (default warn)\n"
		"  --disk SPEC      raw image as a virtio disk (repeatable, at most 8 virtio\n"
		"                   devices in all): PATH, then ,ro for read-only,\n"
		"                   ,id=NAME (up to 20 bytes) for its serial, and rate limits\n"
		"                   bw=SIZE/MS, ops=N/MS, bw-burst=SIZE, ops-burst=N (as --net's)\n"
		"  --net SPEC       virtio network device (repeatable: eth0, eth1...):\n"
		"                   tap=IFNAME for an existing host TAP, or user for\n"
		"                   user-mode networking (no root: 10.0.2.0/24, DHCP, DNS\n"
		"                   at 10.0.2.3, the host at 10.0.2.2), with any number of\n"
		"                   ,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT\n"
		"                   (HOSTADDR default 127.0.0.1); then ,mac=MAC\n"
		"                   (aa:bb:cc:dd:ee:ff; default: the guest picks one),\n"
		"                   ,mtu=N (the guest's MTU: 68-65535, for user at most 65521;\n"
		"                   a TAP's own is not changed) and rate limits (token\n"
		"                   buckets, as Firecracker's): {rx,tx}-bw=SIZE/MS (SIZE bytes\n"
		"                   per MS milliseconds, e.g. tx-bw=1M/1000), {rx,tx}-ops=N/MS\n"
		"                   (frames), and {rx,tx}-bw-burst=SIZE, {rx,tx}-ops-burst=N\n"
		"                   (one-time extra)\n"
		"  --rng, --no-rng  virtio entropy device from the host's getrandom (default on)\n"
		"  --console KIND   serial (ttyS0, default) or virtio (hvc0): where stdin goes\n"
		"                   and what console= the default command line names\n"
		"  --vsock cid=N,uds=PATH  virtio-vsock for guest cid N (3 and up), with\n"
		"                   Firecracker's host side: connect to PATH and send\n"
		"                   \"CONNECT <port>\\n\"; guest connections to host port P\n"
		"                   reach a listener on PATH_P\n"
		"  --soft-cpu KIND  how the soft engine runs 64-bit guest code: bt (binary\n"
		"                   translation, default) or interp (the interpreter only)\n"
		"  --soft-code-cache SIZE  translated code per vCPU, 1M to 1G (default 64M);\n"
		"                   flushed and refilled when full\n"
		"  --testdev        kvm-unit-tests' test devices, as QEMU's isa-debug-exit\n"
		"                   (port 0xf4: a write of V exits with status V*2+1),\n"
		"                   pc-testdev and fw_cfg (ports 0x510/0x511)\n"
		"  --config-file FILE  the machine from a Firecracker JSON config file\n"
		"                   (boot-source, machine-config, drives, entropy, and kite's\n"
		"                   own \"kite\" section; docs/config.md); no other flag but\n"
		"                   --log-level goes with it\n"
		"  --api-sock PATH  serve Firecracker's REST API on the UNIX socket PATH\n"
		"                   (docs/api.md); the VM boots on InstanceStart, or at\n"
		"                   once with --config-file; the other flags pre-configure it\n"
		"  --id ID          the instance id GET / reports (default " API_DEFAULT_ID ")\n"
		"\n"
		"`kite ctl` sends one request to a kite serving --api-sock and prints the\n"
		"answer; exit status 1 when the server refused it (4xx, 5xx) or did not answer.\n"
		"\n"
		"The guest's console (ttyS0, or hvc0 with --console virtio) is on stdin/stdout;\n"
		"on a terminal, Ctrl-A x quits.\n"
		"\n"
		"`kite probe` says which engines this host can run: kvm when /dev/kvm (or\n"
		"KVM_DEVICE) opens and creates a VM and a vCPU, and why not otherwise; exit\n"
		"status 0 when kvm is usable, 1 when it is not.\n");
}

/* Prints one usage error line and returns the usage exit status. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("kite: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see kite --help)\n", stderr);
	return KITE_EXIT_USAGE;
}

static uint64_t host_memory_bytes(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return UINT64_MAX;
	return (uint64_t)si.totalram * si.mem_unit;
}

/* The default guest lives in build/guest/, next to build/kite. */
static void default_guest_paths(struct options *opt)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *dir;

	if (n <= 0)
		return;
	exe[n] = '\0';
	dir = dirname(exe);
	snprintf(opt->default_kernel, sizeof(opt->default_kernel), "%s/guest/vmlinux", dir);
	snprintf(opt->default_initrd, sizeof(opt->default_initrd), "%s/guest/initramfs.cpio.gz",
		 dir);
}

static int parse_accel(const char *text, enum vm_accel *accel)
{
	if (!strcmp(text, "kvm"))
		*accel = ACCEL_KVM;
	else if (!strcmp(text, "soft"))
		*accel = ACCEL_SOFT;
	else if (!strcmp(text, "auto"))
		*accel = ACCEL_AUTO;
	else
		return -EINVAL;
	return 0;
}

static int parse_log_level(const char *text)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(text, names[i])) {
			log_set_level((enum log_level)i);
			return 0;
		}
	return -EINVAL;
}

/* Copies a flag's string value into the configuration; returns 0 or the exit status. */
static int set_string(char *dst, size_t size, const char *flag, const char *value)
{
	if (config_str_set(dst, size, value) < 0)
		return usage_error("%s: %zu bytes is longer than the %zu kite takes", flag,
				   strlen(value), size - 1);
	return 0;
}

/* --vsock cid=N,uds=PATH: both keys, in either order. Prints the usage error itself. */
static int parse_vsock(char *arg, struct vm_config *cfg)
{
	struct vm_vsock_config *v = &cfg->vsock;
	char *save = NULL, *end;
	unsigned long long cid;
	bool has_cid = false;

	memset(v, 0, sizeof(*v));
	for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "uds=", 4)) {
			if (!tok[4] || config_str_set(v->uds_path, sizeof(v->uds_path), tok + 4) < 0)
				goto bad_uds;
			continue;
		}
		if (strncmp(tok, "cid=", 4)) {
			usage_error("--vsock: '%s' is not cid=N or uds=PATH", tok);
			return -1;
		}
		errno = 0;
		cid = strtoull(tok + 4, &end, 10);
		if (errno || end == tok + 4 || *end || cid < 3 || cid > UINT32_MAX) {
			usage_error("--vsock: cid '%s' is not a number from 3 to %u", tok + 4,
				    UINT32_MAX);
			return -1;
		}
		v->guest_cid = (uint32_t)cid;
		has_cid = true;
	}
	if (!has_cid || !v->uds_path[0]) {
		usage_error("--vsock: needs cid=N and uds=PATH");
		return -1;
	}
	v->enabled = true;
	return 0;
bad_uds:
	usage_error("--vsock: uds path is empty or longer than %u bytes", CONFIG_UDS_PATH_MAX - 1);
	return -1;
}

/*
 * --disk PATH[,ro][,id=NAME][,LIMITS]: splits the argument in place and
 * copies the parts. Prints the usage error itself.
 */
static int parse_disk(char *arg, struct vm_config *cfg)
{
	struct vm_drive_config *d;
	char *opt, *next, *id;
	struct err err = { 0 };
	int rc;

	if (cfg->nr_drives == VM_MAX_DISKS) {
		usage_error("--disk: at most %u disks", VM_MAX_DISKS);
		return -EINVAL;
	}
	d = &cfg->drives[cfg->nr_drives];
	*d = (struct vm_drive_config){ 0 };
	next = strchr(arg, ',');
	if (next)
		*next++ = '\0';
	if (!*arg) {
		usage_error("--disk: no image path given");
		return -EINVAL;
	}
	if (set_string(d->path_on_host, sizeof(d->path_on_host), "--disk", arg))
		return -EINVAL;
	for (opt = next; opt; opt = next) {
		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		if (!strcmp(opt, "ro")) {
			d->is_read_only = true;
		} else if (!strncmp(opt, "id=", 3)) {
			id = opt + 3;
			if (*id && config_str_set(d->drive_id, sizeof(d->drive_id), id) == 0)
				continue;
			usage_error("--disk %s: id '%s' must be 1 to %u bytes", arg, id,
				    CONFIG_DRIVE_ID_MAX);
			return -EINVAL;
		} else if ((rc = config_limit_option(opt, "", &d->rate_limiter, &err)) != 0) {
			if (rc > 0)
				continue;
			usage_error("--disk %s: %s", arg, err.msg);
			return -EINVAL;
		} else {
			usage_error("--disk %s: unknown option '%s' (ro, id=NAME, bw=SIZE/MS, "
				    "ops=N/MS, bw-burst=SIZE, ops-burst=N)", arg, opt);
			return -EINVAL;
		}
	}
	cfg->nr_drives++;
	return 0;
}

/* One --net option that names the back-end: tap=IFNAME or user. */
static int parse_net_backend(const char *opt, struct vm_net_config *n)
{
	if (n->kind == VM_NET_USER || n->host_dev_name[0])
		return usage_error("--net: '%s': tap=IFNAME or user, once", opt);
	if (!strcmp(opt, "user")) {
		n->kind = VM_NET_USER;
		return 0;
	}
	if (opt[4] && config_str_set(n->host_dev_name, sizeof(n->host_dev_name), opt + 4) == 0)
		return 0;
	return usage_error("--net: tap '%s' must be 1 to %u bytes", opt + 4, CONFIG_IFNAME_MAX);
}

/* One hostfwd= rule of cfg's interface n, which no earlier --net may forward already. */
static int parse_net_hostfwd(const char *rule, struct vm_config *cfg, struct vm_net_config *n)
{
	struct vm_net_hostfwd *f = &n->hostfwd[n->nr_hostfwd];
	struct err err = { 0 };

	if (n->nr_hostfwd == VM_NET_HOSTFWD_MAX)
		return usage_error("--net: at most %u hostfwd= per interface", VM_NET_HOSTFWD_MAX);
	if (config_hostfwd_parse(rule, f, &err) < 0)
		return usage_error("--net: hostfwd '%s': %s", rule, err.msg);
	for (struct vm_net_config *o = cfg->nets; o <= n; o++)
		for (unsigned i = 0; i < (o == n ? n->nr_hostfwd : o->nr_hostfwd); i++)
			if (config_hostfwd_clash(f, &o->hostfwd[i]))
				return usage_error("--net: hostfwd '%s': %s host port %u is forwarded already",
						   rule, f->udp ? "udp" : "tcp", f->host_port);
	n->nr_hostfwd++;
	return 0;
}

/*
 * --net's mtu= and rate-limiter options (config_limit_option()): 1 when opt
 * was one, 0 when not, -EINVAL after printing the usage error.
 */
static int parse_net_tuning(const char *opt, struct vm_net_config *n)
{
	struct err err = { 0 };
	uint64_t mtu;
	int rc;

	if (!strncmp(opt, "mtu=", 4)) {
		if (parse_uint(opt + 4, CONFIG_MTU_MIN, CONFIG_MTU_MAX, &mtu, &err) == 0) {
			n->mtu = (uint16_t)mtu;
			return 1;
		}
		usage_error("--net: mtu '%s' is not a number from %u to %u", opt + 4, CONFIG_MTU_MIN,
			    CONFIG_MTU_MAX);
		return -EINVAL;
	}
	rc = config_limit_option(opt, "rx-", &n->rx_rate_limiter, &err);
	if (rc == 0)
		rc = config_limit_option(opt, "tx-", &n->tx_rate_limiter, &err);
	if (rc < 0)
		usage_error("--net: %s", err.msg);
	return rc;
}

/*
 * --net tap=IFNAME|user[,hostfwd=RULE]...[,mac=MAC][,mtu=N][,{rx,tx}-{bw,ops}[-burst]=...]:
 * like parse_disk(), prints its own usage error.
 */
static int parse_net(char *arg, struct vm_config *cfg)
{
	struct vm_net_config *n;
	char *opt, *next;
	int rc = 0;

	if (cfg->nr_nets == VM_MAX_NETS) {
		usage_error("--net: at most %u network interfaces", VM_MAX_NETS);
		return -EINVAL;
	}
	n = &cfg->nets[cfg->nr_nets];
	*n = (struct vm_net_config){ 0 };
	for (opt = arg; opt && rc == 0; opt = next) {
		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		if (!strncmp(opt, "tap=", 4) || !strcmp(opt, "user")) {
			rc = parse_net_backend(opt, n);
		} else if (!strncmp(opt, "hostfwd=", 8)) {
			rc = parse_net_hostfwd(opt + 8, cfg, n);
		} else if (!strncmp(opt, "mac=", 4) && config_mac_parse(opt + 4, n->guest_mac) == 0) {
			n->has_mac = true;
		} else if (!strncmp(opt, "mac=", 4)) {
			rc = usage_error("--net: mac '%s' is not a unicast aa:bb:cc:dd:ee:ff", opt + 4);
		} else {
			/* 1: mtu= or a limit, taken; 0: none of them; < 0: printed already. */
			rc = parse_net_tuning(opt, n);
			if (rc > 0)
				rc = 0;
			else if (rc == 0)
				rc = usage_error("--net: unknown option '%s' (tap=IFNAME, user, hostfwd=RULE, "
						 "mac=MAC, mtu=N, rx-bw=SIZE/MS, tx-ops=N/MS...)", opt);
		}
	}
	if (rc)
		return -EINVAL;
	if (n->kind == VM_NET_TAP && !n->host_dev_name[0]) {
		usage_error("--net: no tap=IFNAME or user given");
		return -EINVAL;
	}
	if (n->kind != VM_NET_USER && n->nr_hostfwd) {
		usage_error("--net: hostfwd= is for user networking, not a TAP");
		return -EINVAL;
	}
	if (n->kind == VM_NET_USER && n->mtu > USERNET_MTU_MAX) {
		usage_error("--net: mtu %u is above %u, the most the user network takes", n->mtu,
			    USERNET_MTU_MAX);
		return -EINVAL;
	}
	snprintf(n->iface_id, sizeof(n->iface_id), "eth%u", cfg->nr_nets);
	cfg->nr_nets++;
	return 0;
}

/* Returns 0, or the exit status to end with. */
static int parse_run_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "cpus", required_argument, NULL, 'n' },
		{ "mem", required_argument, NULL, 'm' },
		{ "accel", required_argument, NULL, 'a' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "disk", required_argument, NULL, 'D' },
		{ "net", required_argument, NULL, 'N' },
		{ "rng", no_argument, NULL, 'r' },
		{ "no-rng", no_argument, NULL, 'R' },
		{ "console", required_argument, NULL, 'C' },
		{ "soft-cpu", required_argument, NULL, 'S' },
		{ "soft-code-cache", required_argument, NULL, 'Z' },
		{ "testdev", no_argument, NULL, 'T' },
		{ "vsock", required_argument, NULL, 'V' },
		{ "config-file", required_argument, NULL, 'F' },
		{ "api-sock", required_argument, NULL, 'A' },
		{ "id", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct err err = { 0 };
	uint64_t value;
	int c, longindex, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, &longindex)) != -1) {
		if (c != 'l' && c != 'F' && c != 'A' && c != 'I' && c != 'h' && c != ':' && c != '?' &&
		    !opt->machine_flag)
			opt->machine_flag = longopts[longindex].name;
		switch (c) {
		case 'F':
			opt->config_file = optarg;
			break;
		case 'A':
			if (!*optarg)
				return usage_error("--api-sock: empty path");
			opt->api_sock = optarg;
			break;
		case 'I':
			if (!*optarg || strlen(optarg) > 63)
				return usage_error("--id: 1 to 63 bytes");
			opt->id = optarg;
			break;
		case 'k':
			/* "" is "no kernel" in the configuration, not a file to open. */
			if (!*optarg)
				return usage_error("--kernel: empty path");
			rc = set_string(opt->cfg.kernel_path, sizeof(opt->cfg.kernel_path), "--kernel",
					optarg);
			if (rc)
				return rc;
			break;
		case 'i':
			if (!*optarg)
				return usage_error("--initrd: empty path");
			rc = set_string(opt->cfg.initrd_path, sizeof(opt->cfg.initrd_path), "--initrd",
					optarg);
			if (rc)
				return rc;
			break;
		case 'c':
			rc = set_string(opt->cfg.cmdline, sizeof(opt->cfg.cmdline), "--cmdline", optarg);
			if (rc)
				return rc;
			opt->has_cmdline = true;
			break;
		case 'n':
			if (parse_uint(optarg, 1, VM_MAX_VCPUS, &value, &err) < 0)
				return usage_error("--cpus: %s", err.msg);
			opt->cfg.nr_cpus = (unsigned)value;
			break;
		case 'm':
			if (parse_size(optarg, &value, &err) < 0)
				return usage_error("--mem: %s", err.msg);
			if (value < MEM_MIN_SIZE)
				return usage_error("--mem: %s is below the %llu MiB minimum", optarg,
						   (unsigned long long)(MEM_MIN_SIZE >> 20));
			if (value > host_memory_bytes())
				return usage_error("--mem: %s is more than this host's %llu MiB of memory",
						   optarg,
						   (unsigned long long)(host_memory_bytes() >> 20));
			if (value % 4096)
				return usage_error("--mem: %s is not a multiple of 4 KiB", optarg);
			opt->cfg.mem_size = value;
			break;
		case 'a':
			if (parse_accel(optarg, &opt->cfg.accel) < 0)
				return usage_error("--accel: '%s' is not kvm, soft or auto", optarg);
			break;
		case 'l':
			if (parse_log_level(optarg) < 0)
				return usage_error("--log-level: '%s' is not error, warn, info or debug",
						   optarg);
			break;
		case 'D':
			if (parse_disk(optarg, &opt->cfg) < 0)
				return KITE_EXIT_USAGE;
			break;
		case 'N':
			if (parse_net(optarg, &opt->cfg) < 0)
				return KITE_EXIT_USAGE;
			break;
		case 'r':
		case 'R':
			opt->cfg.rng = c == 'r';
			break;
		case 'T':
			opt->cfg.testdev = true;
			break;
		case 'V':
			if (parse_vsock(optarg, &opt->cfg) < 0)
				return KITE_EXIT_USAGE;
			break;
		case 'C':
			if (!strcmp(optarg, "serial"))
				opt->cfg.console = VM_CONSOLE_SERIAL;
			else if (!strcmp(optarg, "virtio"))
				opt->cfg.console = VM_CONSOLE_VIRTIO;
			else
				return usage_error("--console: '%s' is not serial or virtio", optarg);
			break;
		case 'S':
			if (!strcmp(optarg, "bt"))
				opt->cfg.soft_cpu = SOFT_CPU_BT;
			else if (!strcmp(optarg, "interp"))
				opt->cfg.soft_cpu = SOFT_CPU_INTERP;
			else
				return usage_error("--soft-cpu: '%s' is not bt or interp", optarg);
			break;
		case 'Z':
			if (parse_size(optarg, &value, &err) < 0)
				return usage_error("--soft-code-cache: %s", err.msg);
			if (value < BT_CACHE_MIN || value > BT_CACHE_MAX)
				return usage_error("--soft-code-cache: %s is outside 1M to 1G", optarg);
			opt->cfg.soft_code_cache = value;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case ':':
			return usage_error("option %s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (opt->config_file && opt->machine_flag)
		return usage_error("--%s: not with --config-file, which describes the whole machine",
				   opt->machine_flag);
	if (opt->config_file)
		return 0;
	value = config_virtio_count(&opt->cfg);
	if (value > CONFIG_MAX_VIRTIO_DEVICES)
		return usage_error("%u disks%s%s, %u --net need %llu virtio devices; kite has %u",
				   opt->cfg.nr_drives, opt->cfg.rng ? ", the rng (--no-rng)" : "",
				   opt->cfg.console == VM_CONSOLE_VIRTIO ? ", the virtio console" : "",
				   opt->cfg.nr_nets, (unsigned long long)value,
				   CONFIG_MAX_VIRTIO_DEVICES);
	if (!opt->cfg.kernel_path[0]) {
		/* With the API, PUT /boot-source may name the kernel later. */
		if (access(opt->default_kernel, R_OK) != 0 && opt->api_sock)
			goto cmdline;
		if (access(opt->default_kernel, R_OK) != 0) {
			fprintf(stderr,
				"kite: no --kernel given and the default guest %s is not built (run `make guest`)\n",
				opt->default_kernel);
			return KITE_EXIT_SETUP;
		}
		/* Both are PATH_MAX, CONFIG_PATH_MAX at most: they fit. */
		config_str_set(opt->cfg.kernel_path, sizeof(opt->cfg.kernel_path),
			       opt->default_kernel);
		if (!opt->cfg.initrd_path[0] && access(opt->default_initrd, R_OK) == 0)
			config_str_set(opt->cfg.initrd_path, sizeof(opt->cfg.initrd_path),
				       opt->default_initrd);
	}
cmdline:
	if (!opt->has_cmdline)
		config_str_set(opt->cfg.cmdline, sizeof(opt->cfg.cmdline),
			       config_default_cmdline(&opt->cfg));
	return 0;
}

/*
 * --config-file: the machine from a Firecracker JSON file. Returns 0 or the
 * exit status: a file kite cannot read is a bad file (KITE_EXIT_SETUP), a
 * file that says something wrong is a bad flag value (KITE_EXIT_USAGE).
 */
static int load_config_file(struct options *opt)
{
	struct err err = { 0 };
	size_t len;
	char *text;
	int rc;

	if (config_file_read(opt->config_file, &text, &len, &err) < 0) {
		fprintf(stderr, "kite: %s\n", err.msg);
		return KITE_EXIT_SETUP;
	}
	rc = config_json_parse(&opt->cfg, text, len, &err);
	free(text);
	if (rc == 0)
		rc = config_validate(&opt->cfg, &err);
	if (rc < 0) {
		fprintf(stderr, "kite: config file %s: %s\n", opt->config_file, err.msg);
		return KITE_EXIT_USAGE;
	}
	return 0;
}

static void console_restore(struct console *con)
{
	if (con->raw) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &con->saved);
		con->raw = false;
	}
}

static void console_open(struct console *con)
{
	struct termios raw;

	memset(con, 0, sizeof(*con));
	con->input_open = true;
	con->is_tty = isatty(STDIN_FILENO);
	if (!con->is_tty || tcgetattr(STDIN_FILENO, &con->saved) < 0)
		return;
	raw = con->saved;
	cfmakeraw(&raw);
	/* Keep output post-processing so our own messages still start on a new line. */
	raw.c_oflag |= OPOST;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0)
		con->raw = true;
}

static void console_flush_pending(struct vm *vm, struct console *con)
{
	size_t done;

	if (!con->pending_len || !vm->console || !vm->console_input)
		return;
	done = vm->console_input(vm->console, con->pending, con->pending_len);
	memmove(con->pending, con->pending + done, con->pending_len - done);
	con->pending_len -= done;
}

/* Reads host input into the pending buffer, handling the Ctrl-A escape. */
static void console_read(struct vm *vm, struct console *con)
{
	uint8_t buf[512];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			con->input_open = false;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		uint8_t b = buf[i];

		if (con->raw && con->escape_pending) {
			con->escape_pending = false;
			if (b == 'x') {
				vm_request_stop(vm, VM_STOP_SIGNAL);
				return;
			}
			if (b != CONSOLE_ESCAPE && con->pending_len < sizeof(con->pending))
				con->pending[con->pending_len++] = CONSOLE_ESCAPE;
		} else if (con->raw && b == CONSOLE_ESCAPE) {
			con->escape_pending = true;
			continue;
		}
		if (con->pending_len < sizeof(con->pending))
			con->pending[con->pending_len++] = b;
	}
	console_flush_pending(vm, con);
}

static int signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	/* A closed stdout must not kill kite mid-teardown. */
	signal(SIGPIPE, SIG_IGN);
	return pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* The main thread's loop: console input, host signals, and the VM's stop. */
static void main_loop(struct vm *vm, struct console *con, int sig_fd, struct api *api)
{
	while (atomic_load(&vm->stop_reason) == VM_STOP_NONE) {
		struct pollfd fds[3] = {
			{ .fd = vm->stop_eventfd, .events = POLLIN },
			{ .fd = sig_fd, .events = POLLIN },
			{ .fd = con->input_open && con->pending_len < sizeof(con->pending) ? STDIN_FILENO : -1,
			  .events = POLLIN },
		};
		/* Pending input is retried as the guest drains the UART FIFO. */
		int timeout = con->pending_len ? 10 : -1, tick = api_tick_ms(api);

		if (tick >= 0 && (timeout < 0 || tick < timeout))
			timeout = tick;
		if (poll(fds, ARRAY_SIZE(fds), timeout) < 0 && errno != EINTR)
			break;
		api_tick(api);
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) == sizeof(si))
				log_info("kite: signal %u, stopping the VM", si.ssi_signo);
			vm_request_stop(vm, VM_STOP_SIGNAL);
		}
		if (fds[2].revents & (POLLIN | POLLHUP | POLLERR))
			console_read(vm, con);
		console_flush_pending(vm, con);
	}
}

static int cmd_probe(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : KVM_DEVICE;
	struct err err = { 0 };

	if (argc > 2)
		return usage_error("probe: one KVM device path at most");
	printf("soft: usable\n");
	if (kvm_probe(path, &err) < 0) {
		printf("kvm: unusable: %s\n", err.msg);
		return KITE_EXIT_SETUP;
	}
	printf("kvm: usable (%s)\n", path);
	return KITE_EXIT_OK;
}

/*
 * With --api-sock: serves the API until InstanceStart boots the VM (or at once
 * with --config-file). Returns 0 once the VM runs, 1 when a signal came
 * first, or the exit status of a failure.
 */
static int api_boot(struct options *opt, struct vm *vm, int sig_fd, struct api **api)
{
	struct err err = { 0 };
	struct pollfd fds[2];

	if (api_create(api, opt->api_sock, &opt->cfg, vm, STDOUT_FILENO, opt->id, KITE_VERSION,
		       &err) < 0) {
		fprintf(stderr, "kite: %s\n", err.msg);
		return KITE_EXIT_SETUP;
	}
	if (opt->config_file) {
		if (api_instance_start(*api, &err) == 0)
			return 0;
		fprintf(stderr, "kite: %s\n", err.msg);
		return KITE_EXIT_SETUP;
	}
	fds[0] = (struct pollfd){ .fd = api_started_fd(*api), .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
	while (!api_is_started(*api)) {
		if (poll(fds, ARRAY_SIZE(fds), -1) < 0 && errno != EINTR)
			return KITE_EXIT_SETUP;
		if (fds[1].revents & POLLIN)
			return -1;
	}
	return 0;
}

/*
 * A config file's logger and metrics without --api-sock: the API's state,
 * with no socket, opens them, boots the VM and flushes its metrics.
 */
static int detached_boot(struct options *opt, struct vm *vm, struct api **api)
{
	struct err err = { 0 };

	if (api_create_detached(api, &opt->cfg, vm, STDOUT_FILENO, &err) < 0 ||
	    api_instance_start(*api, &err) < 0) {
		fprintf(stderr, "kite: %s\n", err.msg);
		return KITE_EXIT_SETUP;
	}
	return 0;
}

/* Builds and starts the VM from the flags or the config file alone. */
static int direct_boot(struct options *opt, struct vm *vm)
{
	struct err err = { 0 };
	int rc;

	rc = builder_vm_create(vm, &opt->cfg, STDOUT_FILENO, &err);
	if (rc == 0)
		rc = vm_start(vm, &err);
	if (rc < 0) {
		fprintf(stderr, "kite: %s\n", err.msg[0] ? err.msg : strerror(-rc));
		vm_destroy(vm);
		return KITE_EXIT_SETUP;
	}
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct options opt = { 0 };
	struct api *api = NULL;
	struct console con;
	struct vm *vm;
	sigset_t sigs;
	int sig_fd, rc, status;

	config_init(&opt.cfg);
	default_guest_paths(&opt);
	rc = parse_run_options(argc, argv, &opt);
	if (rc)
		return rc < 0 ? KITE_EXIT_OK : rc;
	if (opt.config_file) {
		rc = load_config_file(&opt);
		if (rc)
			return rc;
	}
	/* Before any thread: the API's and the vCPUs' inherit the blocked signals. */
	if (signals_block(&sigs) != 0 || (sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "kite: cannot set up signal handling: %s\n", strerror(errno));
		return KITE_EXIT_SETUP;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		fprintf(stderr, "kite: out of memory\n");
		close(sig_fd);
		return KITE_EXIT_SETUP;
	}
	if (opt.api_sock)
		rc = api_boot(&opt, vm, sig_fd, &api);
	else if (config_has_sinks(&opt.cfg))
		rc = detached_boot(&opt, vm, &api);
	else
		rc = direct_boot(&opt, vm);
	if (rc) {
		/* The API destroyed what a failed InstanceStart built. */
		api_destroy(api);
		free(vm);
		close(sig_fd);
		return rc < 0 ? KITE_EXIT_OK : rc;
	}
	console_open(&con);
	main_loop(vm, &con, sig_fd, api);
	console_restore(&con);
	/* No request may reach the VM while it is torn down. */
	api_destroy(api);
	vm_destroy(vm);
	status = vm_exit_status(vm);
	if (vm->pio.unclaimed_writes || vm->mmio.unclaimed_writes)
		log_debug("kite: unclaimed writes: %llu port, %llu mmio",
			  (unsigned long long)vm->pio.unclaimed_writes,
			  (unsigned long long)vm->mmio.unclaimed_writes);
	free(vm);
	close(sig_fd);
	return status;
}

/* kite ctl --api-sock PATH VERB [ARGS]: one request, the answer on stdout. */
static int cmd_ctl(int argc, char **argv)
{
	static const struct {
		const char *verb, *method, *url, *body;
	} verbs[] = {
		{ "start", "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}" },
		{ "pause", "PATCH", "/vm", "{\"state\": \"Paused\"}" },
		{ "resume", "PATCH", "/vm", "{\"state\": \"Resumed\"}" },
		{ "info", "GET", "/", NULL },
		{ "config", "GET", "/vm/config", NULL },
		{ "metrics", "GET", "/metrics", NULL },
		{ "ctrl-alt-del", "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}" },
	};
	const char *method = NULL, *url = NULL, *body = NULL;
	struct err err = { 0 };
	char *reply;
	unsigned status;

	if (argc < 4 || strcmp(argv[1], "--api-sock"))
		return usage_error("ctl: --api-sock PATH VERB [ARGS]");
	for (size_t i = 0; i < ARRAY_SIZE(verbs) && !method; i++) {
		if (strcmp(argv[3], verbs[i].verb))
			continue;
		if (argc != 4)
			return usage_error("ctl %s: no arguments", argv[3]);
		method = verbs[i].method;
		url = verbs[i].url;
		body = verbs[i].body;
	}
	if (!method && (!strcmp(argv[3], "get") || !strcmp(argv[3], "put") ||
			!strcmp(argv[3], "patch"))) {
		if (argc < 5 || argc > 6 || (argv[3][0] == 'g' && argc != 5))
			return usage_error("ctl %s: URL%s", argv[3], argv[3][0] == 'g' ? "" : " [JSON]");
		method = argv[3][0] == 'g' ? "GET" : argv[3][1] == 'u' ? "PUT" : "PATCH";
		url = argv[4];
		body = argc == 6 ? argv[5] : NULL;
	}
	if (!method)
		return usage_error("ctl: unknown verb '%s'", argv[3]);
	status = api_client_request(argv[2], method, url, body, &reply, &err);
	if (!status) {
		fprintf(stderr, "kite ctl: %s\n", err.msg);
		return KITE_EXIT_SETUP;
	}
	if (reply[0])
		printf("%s\n", reply);
	free(reply);
	if (status >= 400) {
		fprintf(stderr, "kite ctl: %s %s: HTTP %u\n", method, url, status);
		return KITE_EXIT_SETUP;
	}
	return KITE_EXIT_OK;
}

int main(int argc, char **argv)
{
	log_set_level(LOG_WARN);
	if (argc < 2) {
		usage(stderr);
		return KITE_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return KITE_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("kite %s\n", KITE_VERSION);
		return KITE_EXIT_OK;
	}
	if (!strcmp(argv[1], REAPER_COMMAND))
		return reaper_main();
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ctl"))
		return cmd_ctl(argc - 1, argv + 1);
	if (!strcmp(argv[1], "probe"))
		return cmd_probe(argc - 1, argv + 1);
	return usage_error("unknown command '%s'", argv[1]);
}
