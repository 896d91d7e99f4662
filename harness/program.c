/* program.c - run programs (posix_spawn) with captured output. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "program.h"

extern char **environ;

int program_run(char *const argv[], char *out, size_t outlen, struct tb_err *err)
{
	posix_spawn_file_actions_t fa;
	size_t used = 0;
	int pipefd[2], status, rc;
	pid_t pid;
	char sink[256];

	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return tb_err_set(err, TB_EXIT_ENV, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		return tb_err_set(err, TB_EXIT_ENV, "cannot run %s: %s (is it installed? try 'make deps')",
				  argv[0], strerror(rc));
	}
	for (;;) {
		char *dst = out && used + 1 < outlen ? out + used : sink;
		size_t room = out && used + 1 < outlen ? outlen - used - 1 : sizeof(sink);
		ssize_t n = read(pipefd[0], dst, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (dst != sink)
			used += (size_t)n;
	}
	close(pipefd[0]);
	if (out && outlen)
		out[used] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status))
		return tb_err_set(err, TB_EXIT_ENV, "%s died from signal %d", argv[0],
				  WTERMSIG(status));
	return WEXITSTATUS(status);
}

int program_check(char *const argv[], struct tb_err *err)
{
	char out[1024], cmd[512];
	size_t used = 0;
	int rc = program_run(argv, out, sizeof(out), err);

	if (rc <= 0)
		return rc;
	for (int i = 0; argv[i] && used < sizeof(cmd); i++)
		used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, "%s%s", i ? " " : "", argv[i]);
	for (size_t len = strlen(out); len && out[len - 1] == '\n';)
		out[--len] = '\0';
	return tb_err_set(err, TB_EXIT_ENV, "'%s' failed (exit %d): %s", cmd, rc, out);
}
