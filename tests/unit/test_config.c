/* tests/unit/test_config.c: the configuration's validation and the JSON config file parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/log.h"
#include "config/config.h"

#define BOOT "\"boot-source\": {\"kernel_image_path\": \"/k\"}"

static struct vm_config cfg;

/* Parses text into a fresh cfg; the message, if any, stays in err. */
static int parse(const char *text, struct err *err)
{
	*err = (struct err){ 0 };
	config_init(&cfg);
	return config_json_parse(&cfg, text, strlen(text), err);
}

/* text must be refused with a message containing want. */
static void refused(const char *text, const char *want)
{
	struct err err;
	int rc = parse(text, &err);

	if (rc == 0)
		rc = config_validate(&cfg, &err);
	if (rc == 0 || !strstr(err.msg, want))
		fail_msg("%s\n  rc %d, message \"%s\", want \"%s\"", text, rc, err.msg, want);
}

/* text must parse and validate. */
static void accepted(const char *text)
{
	struct err err;
	int rc = parse(text, &err);

	if (rc == 0)
		rc = config_validate(&cfg, &err);
	if (rc != 0)
		fail_msg("%s\n  rc %d, message \"%s\"", text, rc, err.msg);
}

static void test_good_file(void **state)
{
	(void)state;
	accepted("{\n"
		 "  \"boot-source\": {\"kernel_image_path\": \"/img/vmlinux\",\n"
		 "    \"initrd_path\": \"/img/initrd\", \"boot_args\": \"console=ttyS0 quiet\"},\n"
		 "  \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 128, \"smt\": false,\n"
		 "    \"track_dirty_pages\": false, \"cpu_template\": \"None\", \"huge_pages\": \"None\"},\n"
		 "  \"drives\": [\n"
		 "    {\"drive_id\": \"scratch\", \"is_root_device\": false, \"is_read_only\": true,\n"
		 "     \"path_on_host\": \"/img/scratch.ext4\", \"cache_type\": \"Writeback\",\n"
		 "     \"io_engine\": \"Sync\", \"rate_limiter\": null, \"partuuid\": null},\n"
		 "    {\"drive_id\": \"rootfs\", \"is_root_device\": true,\n"
		 "     \"path_on_host\": \"/img/rootfs.ext4\", \"partuuid\": \"0eaa91a0-01\"}\n"
		 "  ],\n"
		 "  \"entropy\": {},\n"
		 "  \"network-interfaces\": [],\n"
		 "  \"vsock\": null,\n"
		 "  \"kite\": {\"accel\": \"soft\", \"soft_cpu\": \"interp\", \"soft_code_cache_mib\": 16,\n"
		 "    \"console\": \"serial\", \"testdev\": true}\n"
		 "}\n");
	assert_string_equal(cfg.kernel_path, "/img/vmlinux");
	assert_string_equal(cfg.initrd_path, "/img/initrd");
	assert_string_equal(cfg.cmdline, "console=ttyS0 quiet");
	assert_int_equal(cfg.nr_cpus, 2);
	assert_int_equal(cfg.mem_size, 128ull << 20);
	assert_int_equal(cfg.nr_drives, 2);
	assert_string_equal(cfg.drives[0].drive_id, "scratch");
	assert_string_equal(cfg.drives[0].path_on_host, "/img/scratch.ext4");
	assert_true(cfg.drives[0].is_read_only);
	assert_false(cfg.drives[0].is_root_device);
	assert_string_equal(cfg.drives[0].partuuid, "");
	assert_string_equal(cfg.drives[1].drive_id, "rootfs");
	assert_true(cfg.drives[1].is_root_device);
	assert_false(cfg.drives[1].is_read_only);
	assert_string_equal(cfg.drives[1].partuuid, "0eaa91a0-01");
	assert_ptr_equal(config_drive_find(&cfg, "rootfs"), &cfg.drives[1]);
	assert_null(config_drive_find(&cfg, "nope"));
	assert_true(cfg.rng);
	assert_int_equal(cfg.accel, ACCEL_SOFT);
	assert_int_equal(cfg.soft_cpu, SOFT_CPU_INTERP);
	assert_int_equal(cfg.soft_code_cache, 16ull << 20);
	assert_int_equal(cfg.console, VM_CONSOLE_SERIAL);
	assert_true(cfg.testdev);
}

static void test_defaults(void **state)
{
	(void)state;
	/* Firecracker's minimum; kite's own defaults fill the rest, no entropy device. */
	accepted("{" BOOT ", \"drives\": []}");
	assert_int_equal(cfg.nr_cpus, 1);
	assert_int_equal(cfg.mem_size, VM_DEFAULT_MEM);
	assert_int_equal(cfg.accel, ACCEL_AUTO);
	assert_false(cfg.rng);
	assert_int_equal(cfg.nr_drives, 0);
	assert_string_equal(cfg.initrd_path, "");
	assert_string_equal(cfg.cmdline, DEFAULT_CMDLINE);
	/* The default command line follows the console, wherever "kite" is in the file. */
	accepted("{\"kite\": {\"console\": \"virtio\"}, " BOOT ", \"drives\": []}");
	assert_string_equal(cfg.cmdline, DEFAULT_CMDLINE_HVC);
	/* An empty boot_args is an empty command line, not the default. */
	accepted("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"\"},"
		 " \"drives\": []}");
	assert_string_equal(cfg.cmdline, "");
	/* Whitespace around the value is fine. */
	accepted(" \n\t{" BOOT ", \"drives\": []}\r\n\n");
	/* What kite ignores is accepted (with a warning). */
	accepted("{" BOOT ", \"drives\": [], \"network-interfaces\": [],"
		 " \"logger\": {}, \"balloon\": null, \"pmem\": []}");
	/* Network interfaces, Firecracker's fields. */
	accepted("{" BOOT ", \"drives\": [], \"network-interfaces\": [{\"iface_id\": \"eth0\","
		 " \"host_dev_name\": \"tap0\", \"guest_mac\": \"02:00:00:aa:bb:0c\"},"
		 " {\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\"}]}");
	assert_int_equal(cfg.nr_nets, 2);
	assert_string_equal(cfg.nets[0].host_dev_name, "tap0");
	assert_true(cfg.nets[0].has_mac);
	assert_int_equal(cfg.nets[0].guest_mac[5], 0x0c);
	assert_false(cfg.nets[1].has_mac);
	refused("{" BOOT ", \"drives\": [], \"network-interfaces\": [{\"iface_id\": \"eth0\"}]}",
		"network-interfaces[0].host_dev_name: missing");
	refused("{" BOOT ", \"drives\": [], \"network-interfaces\": [{\"iface_id\": \"eth0\","
		" \"host_dev_name\": \"tap0\", \"guest_mac\": \"01:00:00:00:00:01\"}]}",
		"network-interfaces[0].guest_mac");
	refused("{" BOOT ", \"drives\": [], \"network-interfaces\": [{\"iface_id\": \"eth0\","
		" \"host_dev_name\": \"a-name-too-long-for-linux\"}]}",
		"network-interfaces[0].host_dev_name");
	/* Firecracker's vsock section, and what it must hold. */
	accepted("{" BOOT ", \"drives\": [], \"vsock\": {\"vsock_id\": \"v\", \"guest_cid\": 7,"
		 " \"uds_path\": \"/run/v.sock\"}}");
	assert_true(cfg.vsock.enabled);
	assert_int_equal(cfg.vsock.guest_cid, 7);
	assert_string_equal(cfg.vsock.uds_path, "/run/v.sock");
	refused("{" BOOT ", \"drives\": [], \"vsock\": {\"guest_cid\": 3}}", "vsock.uds_path: missing");
	refused("{" BOOT ", \"drives\": [], \"vsock\": {\"guest_cid\": 2, \"uds_path\": \"/v\"}}",
		"vsock.guest_cid");
	/* logger and metrics are PUT /logger's and PUT /metrics's bodies, checked as those. */
	accepted("{" BOOT ", \"drives\": [], \"logger\": {\"log_path\": \"/l\", \"level\": \"debug\"},"
		 " \"metrics\": {\"metrics_path\": \"/m\"}}");
	assert_string_equal(cfg.logger.log_path, "/l");
	assert_int_equal(cfg.logger.level, CONFIG_LOG_DEBUG);
	assert_string_equal(cfg.metrics.metrics_path, "/m");
	refused("{" BOOT ", \"drives\": [], \"metrics\": {}}", "metrics.metrics_path: missing");
	refused("{" BOOT ", \"drives\": [], \"logger\": {\"level\": \"loud\"}}", "logger.level");
}

static void test_wrong_types(void **state)
{
	(void)state;
	refused("[]", "config file: must be an object");
	refused("null", "config file: must be an object");
	refused("{\"boot-source\": [], \"drives\": []}", "boot-source: must be an object");
	refused("{\"boot-source\": {\"kernel_image_path\": 5}, \"drives\": []}",
		"boot-source.kernel_image_path: must be a string");
	refused("{\"boot-source\": {\"kernel_image_path\": null}, \"drives\": []}",
		"boot-source.kernel_image_path: must be a string");
	refused("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": [\"a\"]},"
		" \"drives\": []}", "boot-source.boot_args: must be a string");
	refused("{" BOOT ", \"drives\": {}}", "drives: must be an array");
	refused("{" BOOT ", \"drives\": [3]}", "drives[0]: must be an object");
	refused("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": \"false\","
		" \"path_on_host\": \"/d\"}]}", "drives[0].is_root_device: must be true or false");
	refused("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": false,"
		" \"path_on_host\": \"/d\", \"is_read_only\": 1}]}",
		"drives[0].is_read_only: must be true or false");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": \"2\","
		" \"mem_size_mib\": 64}}", "machine-config.vcpu_count: must be an integer");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 1,"
		" \"mem_size_mib\": 64.5}}", "machine-config.mem_size_mib: must be an integer");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": true,"
		" \"mem_size_mib\": 64}}", "machine-config.vcpu_count: must be an integer");
	refused("{" BOOT ", \"drives\": [], \"entropy\": []}", "entropy: must be an object");
	refused("{" BOOT ", \"drives\": [], \"network-interfaces\": {}}",
		"network-interfaces: must be an array");
	refused("{" BOOT ", \"drives\": [], \"logger\": \"stderr\"}", "logger: must be an object");
	refused("{" BOOT ", \"drives\": [], \"kite\": {\"accel\": 1}}", "kite.accel: must be a string");
	refused("{" BOOT ", \"drives\": [], \"kite\": {\"testdev\": \"yes\"}}",
		"kite.testdev: must be true or false");
}

static void test_unknown_fields(void **state)
{
	(void)state;
	refused("{" BOOT ", \"drives\": [], \"bogus\": 1}", "bogus: unknown field");
	refused("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"kernel\": \"/k\"},"
		" \"drives\": []}", "boot-source.kernel: unknown field");
	refused("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": false,"
		" \"path_on_host\": \"/d\"}, {\"drive_id\": \"b\", \"is_root_device\": false,"
		" \"path_on_host\": \"/d\", \"size\": 4}]}", "drives[1].size: unknown field");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 1,"
		" \"mem_size_mib\": 64, \"vcpus\": 2}}", "machine-config.vcpus: unknown field");
	refused("{" BOOT ", \"drives\": [], \"entropy\": {\"bytes\": 1}}",
		"entropy.bytes: unknown field");
	refused("{" BOOT ", \"drives\": [], \"kite\": {\"turbo\": true}}", "kite.turbo: unknown field");
	/* Case matters, as in Firecracker's serde names. */
	refused("{\"Boot-Source\": {\"kernel_image_path\": \"/k\"}, \"drives\": []}",
		"Boot-Source: unknown field");
}

static void test_missing_fields(void **state)
{
	(void)state;
	refused("{}", "boot-source: missing");
	refused("{" BOOT "}", "drives: missing");
	refused("{\"boot-source\": {}, \"drives\": []}", "boot-source.kernel_image_path: missing");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 1}}",
		"machine-config.mem_size_mib: missing");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"mem_size_mib\": 64}}",
		"machine-config.vcpu_count: missing");
	refused("{" BOOT ", \"drives\": [{\"is_root_device\": false, \"path_on_host\": \"/d\"}]}",
		"drives[0].drive_id: missing");
	refused("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/d\"}]}",
		"drives[0].is_root_device: missing");
	refused("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": false}]}",
		"drives[0].path_on_host: missing");
	/* A required field given as null is not given. */
	refused("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": null,"
		" \"path_on_host\": \"/d\"}]}", "drives[0].is_root_device: must be true or false");
}

#define DRIVE(id, root) \
	"{\"drive_id\": \"" id "\", \"is_root_device\": " root ", \"path_on_host\": \"/d\"}"

static void test_bad_values(void **state)
{
	(void)state;
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 0,"
		" \"mem_size_mib\": 64}}", "machine-config.vcpu_count: 0 is outside 1 to 64");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 65,"
		" \"mem_size_mib\": 64}}", "machine-config.vcpu_count: 65 is outside");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": -1,"
		" \"mem_size_mib\": 64}}", "machine-config.vcpu_count: -1 is outside");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 1,"
		" \"mem_size_mib\": 0}}", "machine-config.mem_size_mib: 0 is outside");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 1,"
		" \"mem_size_mib\": 8}}", "machine-config.mem_size_mib: 8 MiB is below the 16 MiB");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 1,"
		" \"mem_size_mib\": 1099511627776}}", "machine-config.mem_size_mib: 1099511627776 is outside");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 1,"
		" \"mem_size_mib\": 99999999999999999999999}}", "machine-config.mem_size_mib:");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 1,"
		" \"mem_size_mib\": 1048576}}", "more than this host's");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 2,"
		" \"mem_size_mib\": 64, \"smt\": true}}", "machine-config.smt:");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 1,"
		" \"mem_size_mib\": 64, \"cpu_template\": \"T2\"}}",
		"machine-config.cpu_template: \"T2\" is not one of \"None\"");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 1,"
		" \"mem_size_mib\": 64, \"huge_pages\": \"2M\"}}", "machine-config.huge_pages:");
	refused("{" BOOT ", \"drives\": [" DRIVE("a b", "false") "]}",
		"drives[0].drive_id: \"a b\" has a character other than");
	refused("{" BOOT ", \"drives\": [" DRIVE("", "false") "]}", "drives[0].drive_id: empty");
	refused("{" BOOT ", \"drives\": [" DRIVE("abcdefghijklmnopqrstu", "false") "]}",
		"drives[0].drive_id: 21 bytes is longer than the 20");
	refused("{" BOOT ", \"drives\": [" DRIVE("a", "false") ", " DRIVE("a", "false") "]}",
		"drives[1].drive_id: \"a\" is drives[0]'s already");
	refused("{" BOOT ", \"drives\": [" DRIVE("a", "true") ", " DRIVE("b", "true") "]}",
		"drives[1].is_root_device: drives[0] is the root device already");
	refused("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": false,"
		" \"path_on_host\": \"\"}]}", "drives[0].path_on_host: empty");
	refused("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": false,"
		" \"path_on_host\": \"/d\", \"partuuid\": \"1234\"}]}",
		"drives[0].partuuid: only for the root device");
	refused("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": false,"
		" \"path_on_host\": \"/d\", \"cache_type\": \"Fast\"}]}",
		"drives[0].cache_type: \"Fast\" is not one of \"Unsafe\", \"Writeback\"");
	refused("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": false,"
		" \"socket\": \"/run/vhost.sock\"}]}", "drives[0].socket: kite has no vhost-user");
	refused("{" BOOT ", \"drives\": [" DRIVE("a", "false") "," DRIVE("b", "false") ","
		DRIVE("c", "false") "," DRIVE("d", "false") "," DRIVE("e", "false") ","
		DRIVE("f", "false") "," DRIVE("g", "false") "," DRIVE("h", "false") ","
		DRIVE("i", "false") "]}", "drives: 9 drives; kite has at most 8");
	/* Eight drives fit, but not with the entropy device. */
	accepted("{" BOOT ", \"drives\": [" DRIVE("a", "false") "," DRIVE("b", "false") ","
		 DRIVE("c", "false") "," DRIVE("d", "false") "," DRIVE("e", "false") ","
		 DRIVE("f", "false") "," DRIVE("g", "false") "," DRIVE("h", "false") "]}");
	refused("{" BOOT ", \"entropy\": {}, \"drives\": [" DRIVE("a", "false") ","
		DRIVE("b", "false") "," DRIVE("c", "false") "," DRIVE("d", "false") ","
		DRIVE("e", "false") "," DRIVE("f", "false") "," DRIVE("g", "false") ","
		DRIVE("h", "false") "]}", "need 9 virtio devices; kite has 8");
	refused("{" BOOT ", \"drives\": [], \"balloon\": {\"amount_mib\": 0}}",
		"balloon: not supported by kite");
	refused("{" BOOT ", \"drives\": [], \"pmem\": [{\"id\": \"p\"}]}", "pmem: not supported");
	refused("{" BOOT ", \"drives\": [], \"kite\": {\"accel\": \"warp\"}}",
		"kite.accel: \"warp\" is not one of \"auto\", \"kvm\", \"soft\"");
	refused("{" BOOT ", \"drives\": [], \"kite\": {\"soft_code_cache_mib\": 0}}",
		"kite.soft_code_cache_mib: 0 is outside 1 to 1024");
	refused("{" BOOT ", \"drives\": [], \"kite\": {\"soft_code_cache_mib\": 2048}}",
		"kite.soft_code_cache_mib: 2048 is outside");
	refused("{\"boot-source\": {\"kernel_image_path\": \"/k\\u0000x\"}, \"drives\": []}",
		"boot-source.kernel_image_path: contains a NUL byte");
}

static void test_long_strings(void **state)
{
	static const char head[] =
		"{\"drives\": [], \"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"";
	size_t n = CONFIG_CMDLINE_MAX + 100;
	char *text = calloc(1, sizeof(head) + n + 8);

	(void)state;
	assert_non_null(text);
	strcpy(text, head);
	memset(text + strlen(head), 'a', n);
	strcat(text, "\"}}");
	refused(text, "boot-source.boot_args: 4196 bytes is longer than the 4095 kite takes");
	free(text);
}

static void test_not_json(void **state)
{
	struct err err;
	char deep[256];

	(void)state;
	refused("", "config: not JSON");
	refused("{", "config: not JSON");
	refused("{\"boot-source\": }", "config: not JSON at byte");
	refused("{" BOOT ", \"drives\": [],}", "config: not JSON");
	refused("{" BOOT ", /* a comment */ \"drives\": []}", "config: not JSON");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": NaN,"
		" \"mem_size_mib\": 64}}", "machine-config.vcpu_count: must be an integer");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 1,"
		" \"mem_size_mib\": 1e400}}", "machine-config.mem_size_mib: must be an integer");
	refused("{" BOOT ", \"drives\": [], \"machine-config\": {\"vcpu_count\": 1,"
		" \"mem_size_mib\": 18446744073709551615}}", "machine-config.mem_size_mib:");
	refused("true", "config file: must be an object");
	refused("42", "config file: must be an object");
	refused("{" BOOT ", \"drives\": []} {}", "config: not JSON at byte 59");
	refused("{" BOOT ", \"drives\": []}x", "config: not JSON at byte 58");
	/* Nesting deeper than a config file needs stops the parser, not the stack. */
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	refused(deep, "config: not JSON");
	/* A NUL byte after the value is not whitespace. */
	config_init(&cfg);
	assert_int_equal(config_json_parse(&cfg, "{\"drives\": []}\0 ", 16, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "more after the JSON value"));
	/* The size limit holds whoever calls the parser. */
	config_init(&cfg);
	assert_int_equal(config_json_parse(&cfg, "{}", CONFIG_FILE_MAX + 1, &err), -EFBIG);
}

static void test_validate(void **state)
{
	struct err err = { 0 };

	(void)state;
	config_init(&cfg);
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_string_equal(err.msg, "boot-source.kernel_image_path: missing");
	assert_int_equal(config_str_set(cfg.kernel_path, sizeof(cfg.kernel_path), "/k"), 0);
	assert_int_equal(config_validate(&cfg, &err), 0);
	cfg.nr_drives = 1;
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_string_equal(err.msg, "drives[0].path_on_host: missing");
	strcpy(cfg.drives[0].path_on_host, "/d");
	assert_int_equal(config_validate(&cfg, &err), 0);
	/* A string without its NUL (a caller's bug) is caught, not read past. */
	memset(cfg.drives[0].drive_id, 'x', sizeof(cfg.drives[0].drive_id));
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "drives[0].drive_id: longer than 20 bytes"));
	cfg.drives[0].drive_id[0] = '\0';
	cfg.mem_size = (64ull << 20) + 512;
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a multiple of 4 KiB"));
	cfg.mem_size = 64ull << 20;
	cfg.soft_code_cache = 4096;
	assert_int_equal(config_validate(&cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "kite.soft_code_cache_mib"));
	assert_int_equal(config_str_set(cfg.drives[0].drive_id, 3, "abc"), -ENAMETOOLONG);
}

static void test_file_read(void **state)
{
	char path[] = "/tmp/kite-config-XXXXXX";
	struct err err = { 0 };
	size_t len;
	char *text;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("{\"a\": 1}", f);
	fflush(f);
	assert_int_equal(config_file_read(path, &text, &len, &err), 0);
	assert_int_equal(len, 8);
	assert_string_equal(text, "{\"a\": 1}");
	free(text);
	/* One byte over the limit is refused before anything is parsed. */
	assert_int_equal(ftruncate(fd, CONFIG_FILE_MAX + 1), 0);
	assert_int_equal(config_file_read(path, &text, &len, &err), -EFBIG);
	assert_non_null(strstr(err.msg, "more than the 1048576"));
	assert_int_equal(ftruncate(fd, CONFIG_FILE_MAX), 0);
	assert_int_equal(config_file_read(path, &text, &len, &err), 0);
	assert_int_equal(len, CONFIG_FILE_MAX);
	free(text);
	fclose(f);
	unlink(path);
	assert_int_equal(config_file_read(path, &text, &len, &err), -ENOENT);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(config_file_read("/tmp", &text, &len, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a regular file"));
}

/* body must be refused for which with a message containing want, and leave cfg as it was. */
static void body_refused(enum config_body which, const char *id, const char *body,
			 const char *want)
{
	static struct vm_config before;
	struct err err = { 0 };
	int rc;

	before = cfg;
	rc = config_json_apply(&cfg, which, id, body, strlen(body), &err);
	if (rc == 0 || !strstr(err.msg, want))
		fail_msg("%s\n  rc %d, message \"%s\", want \"%s\"", body, rc, err.msg, want);
	if (memcmp(&before, &cfg, sizeof(cfg)))
		fail_msg("%s: refused, yet the configuration changed", body);
}

static void body_accepted(enum config_body which, const char *id, const char *body)
{
	struct err err = { 0 };

	if (config_json_apply(&cfg, which, id, body, strlen(body), &err) != 0)
		fail_msg("%s\n  message \"%s\"", body, err.msg);
}

static void test_api_bodies(void **state)
{
	static const char *const states[] = { "Paused", "Resumed", NULL };
	struct err err = { 0 };
	char *big, *text;
	int i = -1;

	(void)state;
	config_init(&cfg);
	body_accepted(CONFIG_BODY_BOOT_SOURCE, NULL, "{\"kernel_image_path\": \"/k\", \"initrd_path\": \"/i\"}");
	assert_string_equal(cfg.initrd_path, "/i");
	assert_string_equal(cfg.cmdline, DEFAULT_CMDLINE);
	/* A PUT replaces the boot source: the initrd it leaves out is gone. */
	body_accepted(CONFIG_BODY_BOOT_SOURCE, NULL, "{\"kernel_image_path\": \"/k2\", \"boot_args\": \"x\"}");
	assert_string_equal(cfg.initrd_path, "");
	assert_string_equal(cfg.cmdline, "x");
	body_refused(CONFIG_BODY_BOOT_SOURCE, NULL, "{\"kernel_image_path\": \"\"}", "kernel_image_path: empty");
	body_refused(CONFIG_BODY_BOOT_SOURCE, NULL, "[]", "body: must be an object");
	body_refused(CONFIG_BODY_MACHINE, NULL, "{\"vcpu_count\": 2}", "mem_size_mib: missing");
	body_refused(CONFIG_BODY_MACHINE, NULL, "{\"vcpu_count\": 2, \"mem_size_mib\": 1}", "mem_size_mib");
	body_refused(CONFIG_BODY_MACHINE_PATCH, NULL, "{\"vcpu_count\": 65}", "vcpu_count: 65 is outside");
	body_refused(CONFIG_BODY_MACHINE_PATCH, NULL, "{\"vcpu_count\": 2, \"x\": 1}", "x: unknown field");
	body_accepted(CONFIG_BODY_MACHINE_PATCH, NULL, "{\"vcpu_count\": 3}");
	assert_int_equal(cfg.nr_cpus, 3);
	body_accepted(CONFIG_BODY_DRIVE, "a", "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": true}");
	body_accepted(CONFIG_BODY_DRIVE, "a", "{\"drive_id\": \"a\", \"path_on_host\": \"/a2\", \"is_root_device\": true}");
	assert_int_equal(cfg.nr_drives, 1);
	assert_string_equal(cfg.drives[0].path_on_host, "/a2");
	body_refused(CONFIG_BODY_DRIVE, "b", "{\"drive_id\": \"b\", \"path_on_host\": \"/b\", \"is_root_device\": true}",
		     "drives[0] is the root device already");
	body_refused(CONFIG_BODY_DRIVE, "b", "{\"drive_id\": \"c\", \"path_on_host\": \"/b\", \"is_root_device\": false}",
		     "is not the path's");
	body_refused(CONFIG_BODY_DRIVE_PATCH, "z", "{\"drive_id\": \"z\"}", "no drive");
	body_accepted(CONFIG_BODY_DRIVE_PATCH, "a", "{\"drive_id\": \"a\", \"path_on_host\": \"/a3\"}");
	assert_string_equal(cfg.drives[0].path_on_host, "/a3");
	body_accepted(CONFIG_BODY_LOGGER, NULL, "{\"log_path\": \"/l\", \"level\": \"wARNing\"}");
	assert_int_equal(cfg.logger.level, CONFIG_LOG_WARN);
	body_refused(CONFIG_BODY_LOGGER, NULL, "{\"level\": \"Loud\"}", "level");
	body_refused(CONFIG_BODY_METRICS, NULL, "{\"emit_id\": true}", "metrics_path: missing");
	/* Over the limit: refused before parsing. */
	big = calloc(1, CONFIG_BODY_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', CONFIG_BODY_MAX + 1);
	body_refused(CONFIG_BODY_MACHINE, NULL, big, "more than");
	free(big);
	assert_int_equal(config_json_parse_choice("{\"state\": \"Resumed\"}", 20, "state", states, &i, &err), 0);
	assert_int_equal(i, 1);
	assert_int_not_equal(config_json_parse_choice("{\"state\": \"Gone\"}", 17, "state", states, &i, &err), 0);
	assert_non_null(strstr(err.msg, "is not one of"));
	/* GET /vm/config shows the drive as patched. */
	text = config_json_write(&cfg, CONFIG_JSON_FULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"path_on_host\":\"/a3\""));
	free(text);
}

static void hostfwd_ok(const char *text, bool udp, const char *host, unsigned hport,
		       const char *guest, unsigned gport)
{
	struct vm_net_hostfwd f;
	struct err err = { 0 };
	char hbuf[16], gbuf[16];

	if (config_hostfwd_parse(text, &f, &err) != 0)
		fail_msg("%s: %s", text, err.msg);
	snprintf(hbuf, sizeof(hbuf), "%u.%u.%u.%u", f.host_addr[0], f.host_addr[1], f.host_addr[2],
		 f.host_addr[3]);
	snprintf(gbuf, sizeof(gbuf), "%u.%u.%u.%u", f.guest_addr[0], f.guest_addr[1],
		 f.guest_addr[2], f.guest_addr[3]);
	assert_int_equal(f.udp, udp);
	assert_string_equal(hbuf, host);
	assert_int_equal(f.host_port, hport);
	assert_string_equal(gbuf, guest);
	assert_int_equal(f.guest_port, gport);
}

static void hostfwd_bad(const char *text, const char *want)
{
	struct vm_net_hostfwd f;
	struct err err = { 0 };

	if (config_hostfwd_parse(text, &f, &err) == 0 || !strstr(err.msg, want))
		fail_msg("%s\n  message \"%s\", want \"%s\"", text, err.msg, want);
}

/* QEMU's hostfwd rules, every part optional where QEMU's is, and each bad part named. */
static void test_hostfwd(void **state)
{
	struct vm_net_hostfwd f;
	struct err err = { 0 };
	char text[CONFIG_HOSTFWD_TEXT_MAX + 1], big[200];

	(void)state;
	hostfwd_ok("tcp::2222-:22", false, "127.0.0.1", 2222, "10.0.2.15", 22);
	hostfwd_ok("udp:0.0.0.0:5353-10.0.2.20:53", true, "0.0.0.0", 5353, "10.0.2.20", 53);
	hostfwd_ok(":127.0.0.2:1-:65535", false, "127.0.0.2", 1, "10.0.2.15", 65535);
	/* What config_hostfwd_format() writes reads back the same. */
	assert_int_equal(config_hostfwd_parse("udp::7-10.0.2.99:8", &f, &err), 0);
	config_hostfwd_format(&f, text, sizeof(text));
	assert_string_equal(text, "udp:127.0.0.1:7-10.0.2.99:8");
	config_hostfwd_format(&(struct vm_net_hostfwd){ true, { 255, 255, 255, 255 }, 65535,
							{ 255, 255, 255, 255 }, 65535 },
			      text, sizeof(text));
	assert_string_equal(text, "udp:255.255.255.255:65535-255.255.255.255:65535");

	hostfwd_bad("", "not [tcp|udp]");
	hostfwd_bad("tcp", "not [tcp|udp]");
	hostfwd_bad("tcp::22", "not [tcp|udp]");
	hostfwd_bad("tcp::22-22", "not [tcp|udp]");
	hostfwd_bad("icmp::1-:1", "protocol 'icmp'");
	hostfwd_bad("TCP::1-:1", "protocol 'TCP'");
	hostfwd_bad("tcp:localhost:1-:1", "host address 'localhost'");
	hostfwd_bad("tcp:1.2.3:1-:1", "host address '1.2.3'");
	hostfwd_bad("tcp:::1:1-:1", "host port ':1:1'"); /* no IPv6 */
	hostfwd_bad("tcp::-:1", "host port ''");
	hostfwd_bad("tcp::0-:1", "host port '0'");
	hostfwd_bad("tcp::65536-:1", "host port '65536'");
	hostfwd_bad("tcp::-1-:1", "host port ''");
	hostfwd_bad("tcp::+5-:1", "host port '+5'");
	hostfwd_bad("tcp::99999999999999999999-:1", "host port");
	hostfwd_bad("tcp::1-10.0.2:1", "guest address '10.0.2'");
	hostfwd_bad("tcp::1-10.0.3.15:1", "not in 10.0.2.0/24");
	hostfwd_bad("tcp::1-10.0.2.2:1", "the network's own");
	hostfwd_bad("tcp::1-10.0.2.3:1", "the network's own");
	hostfwd_bad("tcp::1-10.0.2.0:1", "the network's own");
	hostfwd_bad("tcp::1-10.0.2.255:1", "the network's own");
	hostfwd_bad("tcp::1-:", "guest port ''");
	hostfwd_bad("tcp::1-:0", "guest port '0'");
	hostfwd_bad("tcp::1-:22x", "guest port '22x'");
	hostfwd_bad("tcp::1-:2:3", "guest port '2:3'");
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	hostfwd_bad(big, "longer than");
}

#define NET(x) "{" BOOT ", \"drives\": [], \"network-interfaces\": [" x "]}"

/* kite's "user" interfaces in a config file: hostfwd rules, and what cannot go with them. */
static void test_user_net(void **state)
{
	char *text;

	(void)state;
	accepted(NET("{\"iface_id\": \"eth0\", \"user\": {}}"));
	assert_int_equal(cfg.nets[0].kind, VM_NET_USER);
	assert_int_equal(cfg.nets[0].nr_hostfwd, 0);
	accepted(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"},"
		     "{\"iface_id\": \"eth1\", \"user\": {\"hostfwd\": [\"tcp::2222-:22\","
		     " \"udp:0.0.0.0:5353-:53\"]}, \"guest_mac\": \"02:00:00:00:00:02\"},"
		     "{\"iface_id\": \"eth2\", \"user\": {\"hostfwd\": [\"tcp::2223-:22\"]}}"));
	assert_int_equal(cfg.nr_nets, 3);
	assert_int_equal(cfg.nets[0].kind, VM_NET_TAP);
	assert_int_equal(cfg.nets[1].kind, VM_NET_USER);
	assert_int_equal(cfg.nets[1].nr_hostfwd, 2);
	assert_int_equal(cfg.nets[1].hostfwd[0].host_port, 2222);
	assert_true(cfg.nets[1].hostfwd[1].udp);
	assert_true(cfg.nets[1].has_mac);
	assert_int_equal(cfg.nets[2].hostfwd[0].host_port, 2223);
	/* Written back in the same shape. */
	text = config_json_write(&cfg, CONFIG_JSON_FULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"user\":{\"hostfwd\":[\"tcp:127.0.0.1:2222-10.0.2.15:22\","
				     "\"udp:0.0.0.0:5353-10.0.2.15:53\"]}"));
	assert_non_null(strstr(text, "\"host_dev_name\":\"tap0\""));
	free(text);

	refused(NET("{\"iface_id\": \"eth0\", \"user\": {}, \"host_dev_name\": \"tap0\"}"),
		"network-interfaces[0].host_dev_name: not with \"user\"");
	refused(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"user\": {}}"),
		"network-interfaces[0].user: not with host_dev_name");
	refused(NET("{\"iface_id\": \"eth0\", \"user\": []}"), "network-interfaces[0].user: must be an object");
	refused(NET("{\"iface_id\": \"eth0\", \"user\": {\"dns\": 1}}"),
		"network-interfaces[0].user.dns: unknown field");
	refused(NET("{\"iface_id\": \"eth0\", \"user\": {\"hostfwd\": \"tcp::1-:1\"}}"),
		"network-interfaces[0].user.hostfwd: must be an array");
	refused(NET("{\"iface_id\": \"eth0\", \"user\": {\"hostfwd\": [\"tcp::1-:1\", 7]}}"),
		"network-interfaces[0].user.hostfwd[1]: must be a string");
	refused(NET("{\"iface_id\": \"eth0\", \"user\": {\"hostfwd\": [\"tcp::1-:99999\"]}}"),
		"network-interfaces[0].user.hostfwd[0]: guest port '99999' is not 1 to 65535");
	refused(NET("{\"iface_id\": \"eth0\", \"user\": {\"hostfwd\": [\"" "tcp::1-:1\", \"tcp::2-:1\","
		    "\"tcp::3-:1\", \"tcp::4-:1\", \"tcp::5-:1\", \"tcp::6-:1\", \"tcp::7-:1\", \"tcp::8-:1\","
		    "\"tcp::9-:1\", \"tcp::10-:1\", \"tcp::11-:1\", \"tcp::12-:1\", \"tcp::13-:1\","
		    "\"tcp::14-:1\", \"tcp::15-:1\", \"tcp::16-:1\", \"tcp::17-:1\"]}}"),
		"network-interfaces[0].user.hostfwd: 17 rules; kite has at most 16");
	/* One host port twice, on one interface or two; tcp and udp do not clash. */
	refused(NET("{\"iface_id\": \"eth0\", \"user\": {\"hostfwd\": [\"tcp::80-:80\", \"tcp::80-:81\"]}}"),
		"network-interfaces[0].user.hostfwd[1]: tcp host port 80 is network-interfaces[0].user.hostfwd[0]'s already");
	refused(NET("{\"iface_id\": \"eth0\", \"user\": {\"hostfwd\": [\"tcp:0.0.0.0:80-:80\"]}},"
		    "{\"iface_id\": \"eth1\", \"user\": {\"hostfwd\": [\"tcp:127.0.0.5:80-:81\"]}}"),
		"network-interfaces[1].user.hostfwd[0]: tcp host port 80");
	accepted(NET("{\"iface_id\": \"eth0\", \"user\": {\"hostfwd\": [\"tcp::80-:80\", \"udp::80-:80\","
		     " \"tcp:127.0.0.2:80-:80\"]}}"));
	/* Neither a TAP nor "user": the message says both. */
	refused(NET("{\"iface_id\": \"eth0\"}"), "host_dev_name: missing (or \"user\"");
	/* null is a field left out, as for Firecracker's own. */
	refused(NET("{\"iface_id\": \"a\", \"user\": null}"), "host_dev_name: missing");
}

static void test_user_net_api(void **state)
{
	(void)state;
	config_init(&cfg);
	body_accepted(CONFIG_BODY_NET, "eth0",
		      "{\"iface_id\": \"eth0\", \"user\": {\"hostfwd\": [\"tcp::2222-:22\"]}}");
	assert_int_equal(cfg.nr_nets, 1);
	assert_int_equal(cfg.nets[0].kind, VM_NET_USER);
	assert_int_equal(cfg.nets[0].hostfwd[0].guest_port, 22);
	/* A PUT replaces the interface: a TAP now, without the forwards. */
	body_accepted(CONFIG_BODY_NET, "eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}");
	assert_int_equal(cfg.nets[0].kind, VM_NET_TAP);
	assert_int_equal(cfg.nets[0].nr_hostfwd, 0);
	body_refused(CONFIG_BODY_NET, "eth1",
		     "{\"iface_id\": \"eth1\", \"user\": {\"hostfwd\": [\"tcp::x-:22\"]}}",
		     "user.hostfwd[0]: host port 'x' is not 1 to 65535");
	body_refused(CONFIG_BODY_NET, "eth1", "{\"iface_id\": \"eth1\"}", "host_dev_name: missing");
	assert_int_equal(cfg.nr_nets, 1);
}

#define NET_TAP0 "{" BOOT ", \"drives\": [], \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\""

/* Firecracker's RateLimiter and TokenBucket, and kite's mtu, in network-interfaces. */
static void test_net_limits_and_mtu(void **state)
{
	const struct vm_net_config *n = &cfg.nets[0];

	(void)state;
	accepted(NET_TAP0 ", \"mtu\": 9000, \"rx_rate_limiter\": {\"bandwidth\": {\"size\": 1048576,"
		 " \"one_time_burst\": 4096, \"refill_time\": 1000}, \"ops\": {\"size\": 100,"
		 " \"refill_time\": 10}}, \"tx_rate_limiter\": {\"ops\": {\"size\": 5,"
		 " \"refill_time\": 1}}}]}");
	assert_int_equal(n->mtu, 9000);
	assert_int_equal(n->rx_rate_limiter.bandwidth.size, 1048576);
	assert_int_equal(n->rx_rate_limiter.bandwidth.one_time_burst, 4096);
	assert_int_equal(n->rx_rate_limiter.bandwidth.refill_time_ms, 1000);
	assert_int_equal(n->rx_rate_limiter.ops.size, 100);
	assert_int_equal(n->rx_rate_limiter.ops.refill_time_ms, 10);
	assert_int_equal(n->tx_rate_limiter.bandwidth.size, 0);
	assert_int_equal(n->tx_rate_limiter.ops.size, 5);
	/* An empty limiter, or null, limits nothing. */
	accepted(NET_TAP0 ", \"rx_rate_limiter\": {}, \"tx_rate_limiter\": null}]}");
	assert_int_equal(n->mtu, 0);
	assert_int_equal(n->rx_rate_limiter.bandwidth.size, 0);
	refused(NET_TAP0 ", \"mtu\": 67}]}", "network-interfaces[0].mtu: 67 is outside 68 to 65535");
	refused(NET_TAP0 ", \"mtu\": 65536}]}", "network-interfaces[0].mtu");
	refused(NET_TAP0 ", \"mtu\": \"1500\"}]}", "mtu: must be an integer");
	refused(NET_TAP0 ", \"rx_rate_limiter\": {\"bandwidth\": {\"size\": 1}}}]}",
		"network-interfaces[0].rx_rate_limiter.bandwidth.refill_time: missing");
	refused(NET_TAP0 ", \"tx_rate_limiter\": {\"ops\": {\"refill_time\": 1}}}]}",
		"tx_rate_limiter.ops.size: missing");
	refused(NET_TAP0 ", \"tx_rate_limiter\": {\"ops\": {\"size\": -1, \"refill_time\": 1}}}]}",
		"tx_rate_limiter.ops.size: -1 is outside");
	refused(NET_TAP0 ", \"tx_rate_limiter\": {\"bandwidth\": {\"size\": 1, \"refill_time\": 4294967297}}}]}",
		"refill_time: 4294967297 is outside");
	refused(NET_TAP0 ", \"tx_rate_limiter\": {\"bw\": {}}}]}", "tx_rate_limiter.bw: unknown field");
	refused(NET_TAP0 ", \"tx_rate_limiter\": []}]}", "tx_rate_limiter: must be an object");
	/* Drives take one too; the entropy device's is checked and ignored. */
	accepted("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": false,"
		 " \"path_on_host\": \"/a\", \"rate_limiter\": {\"ops\": {\"size\": 10,"
		 " \"refill_time\": 100}}}], \"entropy\": {\"rate_limiter\": {}}}");
	assert_int_equal(cfg.drives[0].rate_limiter.ops.size, 10);
	refused("{" BOOT ", \"drives\": [], \"entropy\": {\"rate_limiter\": {\"ops\": 1}}}",
		"entropy.rate_limiter.ops: must be an object");
}

/* PATCH /network-interfaces/{id} merges: a bucket given replaces one, the rest stay. */
static void test_net_patch(void **state)
{
	const struct vm_net_config *n = &cfg.nets[0];
	char *text;

	(void)state;
	config_init(&cfg);
	body_accepted(CONFIG_BODY_NET, "eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\","
		      " \"tx_rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"refill_time\": 100}},"
		      " \"rx_rate_limiter\": {\"ops\": {\"size\": 7, \"refill_time\": 70}}}");
	body_accepted(CONFIG_BODY_NET_PATCH, "eth0", "{\"iface_id\": \"eth0\","
		      " \"tx_rate_limiter\": {\"ops\": {\"size\": 3, \"refill_time\": 30}}}");
	assert_int_equal(n->tx_rate_limiter.bandwidth.size, 1000);
	assert_int_equal(n->tx_rate_limiter.ops.size, 3);
	assert_int_equal(n->rx_rate_limiter.ops.size, 7);
	/* Firecracker's way to lift a limit: a 0-sized bucket. */
	body_accepted(CONFIG_BODY_NET_PATCH, "eth0", "{\"iface_id\": \"eth0\","
		      " \"tx_rate_limiter\": {\"bandwidth\": {\"size\": 0, \"refill_time\": 0}}}");
	assert_false(ratelimit_bucket_enabled(&n->tx_rate_limiter.bandwidth));
	assert_int_equal(n->tx_rate_limiter.ops.size, 3);
	body_refused(CONFIG_BODY_NET_PATCH, "eth1", "{\"iface_id\": \"eth1\"}", "no network interface");
	body_refused(CONFIG_BODY_NET_PATCH, "eth0", "{\"iface_id\": \"eth2\"}", "is not the path's");
	body_refused(CONFIG_BODY_NET_PATCH, "eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"x\"}",
		     "host_dev_name: unknown field");
	body_refused(CONFIG_BODY_NET_PATCH, "eth0", "{\"iface_id\": \"eth0\", \"rx_rate_limiter\":"
		     " {\"ops\": {\"size\": 1}}}", "rx_rate_limiter.ops.refill_time: missing");
	/* GET /vm/config shows the limiters that limit, in Firecracker's shape. */
	text = config_json_write(&cfg, CONFIG_JSON_FULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"tx_rate_limiter\":{\"ops\":{\"size\":3,\"refill_time\":30}}"));
	assert_non_null(strstr(text, "\"rx_rate_limiter\":{\"ops\":{\"size\":7,\"refill_time\":70}}"));
	free(text);
	/* PATCH /drives merges a drive's limiter the same way. */
	body_accepted(CONFIG_BODY_DRIVE, "d", "{\"drive_id\": \"d\", \"path_on_host\": \"/d\","
		      " \"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": 9, \"refill_time\": 9}}}");
	body_accepted(CONFIG_BODY_DRIVE_PATCH, "d", "{\"drive_id\": \"d\", \"rate_limiter\":"
		      " {\"bandwidth\": {\"size\": 512, \"refill_time\": 1}}}");
	assert_int_equal(cfg.drives[0].rate_limiter.ops.size, 9);
	assert_int_equal(cfg.drives[0].rate_limiter.bandwidth.size, 512);
	assert_string_equal(cfg.drives[0].path_on_host, "/d");
}

/*
 * A user-mode interface takes an mtu and limiters as a TAP does, up to the
 * MTU libslirp can run; a PATCH changes its limiters and keeps its forwards.
 */
static void test_user_net_limits_and_mtu(void **state)
{
	const struct vm_net_config *n = &cfg.nets[0];
	char *text;

	(void)state;
	accepted(NET("{\"iface_id\": \"eth0\", \"user\": {\"hostfwd\": [\"tcp::2222-:22\"]},"
		     " \"mtu\": 65521, \"rx_rate_limiter\": {\"bandwidth\": {\"size\": 1000,"
		     " \"refill_time\": 10}}, \"tx_rate_limiter\": {\"ops\": {\"size\": 5,"
		     " \"refill_time\": 1}}}"));
	assert_int_equal(n->kind, VM_NET_USER);
	assert_int_equal(n->nr_hostfwd, 1);
	assert_int_equal(n->mtu, 65521);
	assert_int_equal(n->rx_rate_limiter.bandwidth.size, 1000);
	assert_int_equal(n->tx_rate_limiter.ops.size, 5);
	text = config_json_write(&cfg, CONFIG_JSON_FULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"mtu\":65521"));
	assert_non_null(strstr(text, "\"user\":{\"hostfwd\":[\"tcp:127.0.0.1:2222-10.0.2.15:22\"]}"));
	free(text);
	refused(NET("{\"iface_id\": \"eth0\", \"user\": {}, \"mtu\": 65522}"),
		"network-interfaces[0].mtu: 65522 is above 65521, the most the user network takes");
	/* A TAP's MTU goes to 65535: kite does not run that network. */
	accepted(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"mtu\": 65535}"));
	refused(NET("{\"iface_id\": \"eth0\", \"user\": {}, \"tx_rate_limiter\": {\"ops\": {\"size\": 1}}}"),
		"network-interfaces[0].tx_rate_limiter.ops.refill_time: missing");

	config_init(&cfg);
	body_accepted(CONFIG_BODY_NET, "eth0", "{\"iface_id\": \"eth0\", \"user\": {\"hostfwd\":"
		      " [\"udp::5353-:53\"]}, \"mtu\": 9000}");
	body_accepted(CONFIG_BODY_NET_PATCH, "eth0", "{\"iface_id\": \"eth0\","
		      " \"rx_rate_limiter\": {\"bandwidth\": {\"size\": 4096, \"refill_time\": 100}}}");
	assert_int_equal(n->kind, VM_NET_USER);
	assert_int_equal(n->nr_hostfwd, 1);
	assert_true(n->hostfwd[0].udp);
	assert_int_equal(n->mtu, 9000);
	assert_int_equal(n->rx_rate_limiter.bandwidth.size, 4096);
	body_refused(CONFIG_BODY_NET_PATCH, "eth0", "{\"iface_id\": \"eth0\", \"user\": {}}",
		     "user: unknown field");
	body_refused(CONFIG_BODY_NET, "eth1", "{\"iface_id\": \"eth1\", \"user\": {}, \"mtu\": 65535}",
		     "network-interfaces[1].mtu: 65535 is above 65521");
}

/* --net and --disk's rate-limiter options. */
static void test_limit_options(void **state)
{
	struct ratelimit_config rl = { 0 };
	struct err err = { 0 };

	(void)state;
	assert_int_equal(config_limit_option("tx-bw=1M/1000", "tx-", &rl, &err), 1);
	assert_int_equal(rl.bandwidth.size, 1 << 20);
	assert_int_equal(rl.bandwidth.refill_time_ms, 1000);
	assert_int_equal(config_limit_option("tx-bw-burst=64K", "tx-", &rl, &err), 1);
	assert_int_equal(rl.bandwidth.one_time_burst, 64 << 10);
	assert_int_equal(config_limit_option("tx-ops=500/100", "tx-", &rl, &err), 1);
	assert_int_equal(rl.ops.size, 500);
	assert_int_equal(rl.ops.refill_time_ms, 100);
	assert_int_equal(config_limit_option("tx-ops-burst=20", "tx-", &rl, &err), 1);
	assert_int_equal(rl.ops.one_time_burst, 20);
	assert_int_equal(config_limit_option("bw=100/1", "", &rl, &err), 1);
	assert_int_equal(rl.bandwidth.size, 100);
	/* Not ours: another prefix, another option. */
	assert_int_equal(config_limit_option("rx-bw=1M/1", "tx-", &rl, &err), 0);
	assert_int_equal(config_limit_option("mac=02:00:00:00:00:01", "", &rl, &err), 0);
	assert_int_equal(config_limit_option("tx-bw=1M", "tx-", &rl, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "tx-bw: '1M' is not SIZE/REFILL_MS"));
	assert_true(config_limit_option("tx-ops=1K/10", "tx-", &rl, &err) < 0);
	assert_non_null(strstr(err.msg, "tx-ops"));
	assert_true(config_limit_option("tx-bw=1M/-1", "tx-", &rl, &err) < 0);
	assert_true(config_limit_option("tx-bw=1M/4294967297", "tx-", &rl, &err) < 0);
	assert_true(config_limit_option("tx-bw=8T/1", "tx-", &rl, &err) == 1);
	assert_true(config_limit_option("tx-bw=99999999T/1", "tx-", &rl, &err) < 0);
	assert_true(config_limit_option("tx-bw-burst=x", "tx-", &rl, &err) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),     cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_wrong_types),   cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_missing_fields), cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_long_strings),  cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_validate),      cmocka_unit_test(test_file_read),
		cmocka_unit_test(test_api_bodies),    cmocka_unit_test(test_hostfwd),
		cmocka_unit_test(test_user_net),      cmocka_unit_test(test_user_net_api),
		cmocka_unit_test(test_net_limits_and_mtu),
		cmocka_unit_test(test_net_patch),
		cmocka_unit_test(test_user_net_limits_and_mtu),
		cmocka_unit_test(test_limit_options),
	};

	/* The warnings about what kite ignores are expected here. */
	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
