/* tests/unit/test_kvmprobe.c: what kvm_probe() decides about a KVM device path. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "kvm/kvm.h"

static void assert_refused(const char *path, int code, const char *what)
{
	struct err err = { 0 };

	assert_int_equal(kvm_probe(path, &err), code);
	assert_int_equal(err.code, code);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, what));
}

static void test_missing_device(void **state)
{
	(void)state;
	assert_refused("/nonexistent/kvm", -ENOENT, "no KVM on this host");
}

/* A character device that is not KVM: the API-version ioctl fails. */
static void test_other_character_device(void **state)
{
	(void)state;
	assert_refused("/dev/null", -ENODEV, "not a KVM device");
}

static void test_regular_file(void **state)
{
	char path[] = "/tmp/kite-kvmprobe.XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_refused(path, -ENODEV, "not a character device");
	unlink(path);
}

static void test_directory(void **state)
{
	(void)state;
	assert_refused("/tmp", -EISDIR, "cannot open");
}

/*
 * A device its user may not open, as /dev/kvm for a user outside the kvm
 * group. Root opens anything, so root probes as user nobody in a child.
 */
static int probe_unprivileged(const char *path, char *msg, size_t len)
{
	struct err err = { 0 };
	int fds[2], status, rc;
	pid_t pid;

	if (geteuid() != 0) {
		rc = kvm_probe(path, &err);
		snprintf(msg, len, "%s", err.msg);
		return rc;
	}
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (setgid(65534) || setuid(65534))
			_exit(1);
		rc = kvm_probe(path, &err);
		if (write(fds[1], err.msg, strlen(err.msg) + 1) < 0)
			_exit(1);
		_exit(rc == -EACCES ? 0 : 2);
	}
	close(fds[1]);
	memset(msg, 0, len);
	if (read(fds[0], msg, len - 1) < 0)
		msg[0] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? -EACCES : -1;
}

static void test_no_permission(void **state)
{
	char path[] = "/tmp/kite-kvmprobe.XXXXXX", msg[512];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0600), 0);
	close(fd);
	assert_int_equal(probe_unprivileged(path, msg, sizeof(msg)), -EACCES);
	unlink(path);
	assert_non_null(strstr(msg, path));
	assert_non_null(strstr(msg, "kvm group"));
}

/*
 * Whatever this host has, the answer is consistent: usable, or refused with
 * a message naming /dev/kvm.
 */
static void test_host_device(void **state)
{
	struct err err = { 0 };
	int rc = kvm_probe(KVM_DEVICE, &err);

	(void)state;
	if (rc == 0) {
		assert_int_equal(err.code, 0);
		return;
	}
	assert_true(rc < 0);
	assert_int_equal(err.code, rc);
	assert_non_null(strstr(err.msg, KVM_DEVICE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_missing_device), cmocka_unit_test(test_other_character_device),
	    cmocka_unit_test(test_regular_file),   cmocka_unit_test(test_directory),
	    cmocka_unit_test(test_no_permission),  cmocka_unit_test(test_host_device),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
