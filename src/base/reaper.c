/* base/reaper.c: hands the last reference of slow-to-close fds to a helper process. */
#include "base/reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

/* In the helper: fd 3 is the pipe from the parent, the held fds follow. */
#define REAPER_PIPE_FD 3

extern char **environ;

static void close_all(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int reaper_close_detached(const int *fds, unsigned n)
{
	char *argv[] = { "kite", REAPER_COMMAND, NULL };
	posix_spawn_file_actions_t actions;
	int pipefd[2], rc;
	pid_t pid;

	if (n > REAPER_MAX_FDS || pipe2(pipefd, O_CLOEXEC) < 0) {
		close_all(fds, n);
		return -EINVAL;
	}
	rc = posix_spawn_file_actions_init(&actions);
	if (rc)
		goto out_close;
	/* The helper must not hold the console: readers would wait for its exit. */
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, pipefd[0], REAPER_PIPE_FD);
	for (unsigned i = 0; i < n; i++)
		posix_spawn_file_actions_adddup2(&actions, fds[i], REAPER_PIPE_FD + 1 + (int)i);
	rc = posix_spawn(&pid, "/proc/self/exe", &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
out_close:
	close(pipefd[0]);
	/* Ours go first; closing the pipe then tells the helper it holds the last ones. */
	close_all(fds, n);
	close(pipefd[1]);
	return rc ? -rc : 0;
}

int reaper_main(void)
{
	char byte;

	while (read(REAPER_PIPE_FD, &byte, 1) != 0) {
		if (errno != EINTR)
			break;
	}
	return 0; /* exit closes the held fds */
}
