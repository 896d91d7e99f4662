/*
 * test_guest_scripts.c - the guest's shell helpers run on the host, where
 * they can: twinbench-stop-agent stops an agent that exits, and gives up,
 * saying so, on one that ignores SIGTERM instead of waiting for ever.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define STOP_AGENT "guest/rootfs/overlay/usr/local/sbin/twinbench-stop-agent"

extern char **environ;

static char dir[64];

static int setup(void **state)
{
	(void)state;
	return tl_mkdtemp("/tmp/tbscripts.XXXXXX", dir, sizeof(dir));
}

static int teardown(void **state)
{
	(void)state;
	return tl_rmtree(dir);
}

/*
 * A stand-in for the agent: `sh -c @script` in the background of a shell
 * that exits, so that init reaps it as it reaps the agent in a guest (a
 * zombie child of ours would still answer kill -0).  Its PID is written to
 * dir/agent.pid.
 */
static pid_t fake_agent(const char *script)
{
	char line[512], *argv[] = { "sh", "-c", line, NULL }, *text;
	pid_t pid;
	int status;

	snprintf(line, sizeof(line), "sh -c \"%s\" </dev/null >/dev/null 2>&1 & echo $! >%s/agent.pid",
		 script, dir);
	assert_int_equal(posix_spawnp(&pid, "sh", NULL, NULL, argv, environ), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	text = tl_read_file(tl_path(dir, "agent.pid"));
	assert_non_null(text);
	pid = atoi(text);
	free(text);
	assert_true(pid > 0);
	return pid;
}

/* Run twinbench-stop-agent on dir/agent.pid with a bound of @limit_ms; its exit status. */
static int stop_agent(const char *limit_ms)
{
	char *argv[] = { "sh", STOP_AGENT, NULL };
	char pidfile[128], limit[64];
	char *env[] = { pidfile, limit, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	snprintf(pidfile, sizeof(pidfile), "TWINBENCH_AGENT_PIDFILE=%s/agent.pid", dir);
	snprintf(limit, sizeof(limit), "TWINBENCH_STOP_LIMIT_MS=%s", limit_ms);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, tl_path(dir, "stderr"),
							  O_WRONLY | O_CREAT | O_TRUNC, 0644),
			 0);
	assert_int_equal(posix_spawnp(&pid, "sh", &fa, NULL, argv, env), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Has @pid exited: no such process, or a zombie its parent did not reap yet. */
static bool gone(pid_t pid)
{
	char path[64], *stat;
	bool zombie;

	if (kill(pid, 0) != 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	stat = tl_read_file(path);
	zombie = stat && strstr(stat, ") Z ");
	free(stat);
	return zombie;
}

static void test_stop_agent_waits_for_an_agent_that_exits(void **state)
{
	pid_t agent = fake_agent("exec sleep 60");

	(void)state;
	assert_int_equal(stop_agent("10000"), 0);
	assert_true(gone(agent));
	/* Stopped for good: its PID file goes with it. */
	assert_int_not_equal(access(tl_path(dir, "agent.pid"), F_OK), 0);
}

static void test_stop_agent_gives_up_on_an_agent_that_ignores_sigterm(void **state)
{
	char script[256], *err;
	pid_t agent;

	(void)state;
	snprintf(script, sizeof(script),
		 "trap '' TERM; echo ignoring >%s/ready; while :; do sleep 1; done", dir);
	agent = fake_agent(script);
	/* The stop comes once SIGTERM is ignored. */
	assert_true(tl_wait_for_text(tl_path(dir, "ready"), "ignoring", 10));
	assert_int_equal(stop_agent("200"), 1);
	err = tl_read_file(tl_path(dir, "stderr"));
	assert_non_null(err);
	assert_non_null(strstr(err, "did not exit within 200 ms of SIGTERM"));
	free(err);
	/* Still there: the helper said so instead of waiting for ever. */
	assert_false(gone(agent));
	kill(agent, SIGKILL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stop_agent_waits_for_an_agent_that_exits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
		    test_stop_agent_gives_up_on_an_agent_that_ignores_sigterm, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
