/*
 * test_faults.c - faults injected into real runs in the lab: the harness
 * killed with SIGKILL at three points of a twin upgrade, the lab's libvirt
 * daemon killed under a run, a console connection cut mid-upgrade, and two
 * runs at once.  After each, what the next run or `make test` checks finds
 * nothing left behind.
 *
 * Needs root, the packages of `make deps` and the images of `make image`;
 * run from the repository root, as `make integration` does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab.h"
#include "monotime.h"
#include "results.h"
#include "testlib.h"

extern char **environ;

/* How long a guest may take to reach a point of a twin upgrade under TCG. */
#define REACH_TIMEOUT_S 300

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	return tl_lab_suite_setup("/var/tmp/tbft.XXXXXX", tmpdir, sizeof(tmpdir));
}

static int teardown(void **state)
{
	(void)state;
	tl_rmtree(tmpdir);
	return 0;
}

/*
 * `twinbench run --results @results [-n @reps] @scenario`, started; its
 * stderr goes to @log.
 */
static pid_t start_run_n(const char *results, const char *reps, const char *scenario,
			 const char *log)
{
	char *argv[] = { TL_TWINBENCH, "run", "--results", (char *)results, (char *)scenario,
			 NULL, NULL, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;

	if (reps) {
		argv[4] = "-n";
		argv[5] = (char *)reps;
		argv[6] = (char *)scenario;
	}
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, log,
							  O_WRONLY | O_CREAT | O_TRUNC, 0644),
			 0);
	assert_int_equal(posix_spawn(&pid, TL_TWINBENCH, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static pid_t start_run(const char *results, const char *scenario, const char *log)
{
	return start_run_n(results, NULL, scenario, log);
}

/* The exit status of run @pid, or 128 + the signal that killed it. */
static int finish_run(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * Wait until the run writing under @results for scenario @name has @text in
 * its file @file (console-a.log, ...); its results directory into @dir.
 */
static void wait_reached(const char *results, const char *name, const char *file,
			 const char *text, char *dir, size_t dlen)
{
	int64_t deadline = monotime_now() + REACH_TIMEOUT_S * NS_PER_S;
	char path[PATH_MAX];

	/* The results directory appears once the run has started its scenario. */
	while (access(results, F_OK) != 0 || tl_dir_entries(results, "2") == 0) {
		if (monotime_now() >= deadline)
			fail_msg("no results directory under %s after %d s", results,
				 REACH_TIMEOUT_S);
		monotime_sleep_until(monotime_now() + 50 * NS_PER_MS);
	}
	tl_find_result(results, name, dir, dlen);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (!tl_wait_for_text(path, text, REACH_TIMEOUT_S))
		fail_msg("the run never reached '%s' in %s", text, path);
}

/* The single repetition of the run in @dir; free it after. */
static struct repetition *load_rep(const char *dir, struct run_info *info)
{
	struct repetition *reps = NULL;
	struct tb_err err;
	char path[PATH_MAX];
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/run.json", dir);
	if (results_load(path, info, &reps, &n, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(n, 1);
	return reps;
}

/* What a run that died leaves until the next one: its relay sockets and its guest. */
static void assert_left_by_dead_run(pid_t pid)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "tb-%d-", (int)pid);
	assert_int_equal(tl_dir_entries(CONSOLE_RELAY_DIR, prefix), 2);
	assert_true(tl_lab_processes() > 0);
	assert_int_equal(lab_state(), LAB_UP);
}

/*
 * SIGKILL at A's boot, while B boots (mid-upgrade) and in the takeover:
 * each next run cleans what the dead one left, and the last one, run to
 * its end, verifies its upgrade and takes everything down.
 */
static void test_kill_9_at_boot_mid_upgrade_and_takeover_then_a_run_succeeds(void **state)
{
	static const struct {
		const char *file, *text;
	} points[] = {
		{ "console-a.log", "Linux version" },			/* A boots */
		{ "console-b.log", "Linux version" },			/* B boots beside A */
		{ "console-b.log", "twinbench-b: the kernel before let go" }, /* the takeover */
	};
	char results[300], log[300], dir[PATH_MAX];
	struct repetition *rep;
	struct run_info info;
	int before = tl_work_dirs();

	(void)state;
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		pid_t pid;

		snprintf(results, sizeof(results), "%s/killed-%zu", tmpdir, i);
		snprintf(log, sizeof(log), "%s/killed-%zu.err", tmpdir, i);
		pid = start_run(results, "scenarios/twin.yaml", log);
		wait_reached(results, "twin", points[i].file, points[i].text, dir, sizeof(dir));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(finish_run(pid), 128 + SIGKILL);
		assert_left_by_dead_run(pid);
	}
	snprintf(results, sizeof(results), "%s/after", tmpdir);
	snprintf(log, sizeof(log), "%s/after.err", tmpdir);
	assert_int_equal(finish_run(start_run(results, "scenarios/twin.yaml", log)), 0);
	tl_find_result(results, "twin", dir, sizeof(dir));
	rep = load_rep(dir, &info);
	assert_true(rep->ok);
	assert_true(rep->verified);
	free(rep);
	tl_assert_nothing_left();
	assert_int_equal(tl_work_dirs(), before);
}

/* The lab's libvirtd killed while kernel B boots: exit 3, why, and nothing left. */
static void test_libvirtd_killed_mid_run_exits_3_and_leaves_nothing(void **state)
{
	char results[300], log[300], dir[PATH_MAX], pid_text[32] = "";
	struct repetition *rep;
	struct run_info info;
	char *err;
	pid_t run;
	FILE *f;

	(void)state;
	snprintf(results, sizeof(results), "%s/libvirtd", tmpdir);
	snprintf(log, sizeof(log), "%s/libvirtd.err", tmpdir);
	run = start_run(results, "scenarios/twin.yaml", log);
	wait_reached(results, "twin", "console-b.log", "Linux version", dir, sizeof(dir));
	f = fopen(LAB_DIR "/libvirtd.pid", "r");
	assert_non_null(f);
	assert_non_null(fgets(pid_text, sizeof(pid_text), f));
	fclose(f);
	assert_int_equal(kill(atoi(pid_text), SIGKILL), 0);

	assert_int_equal(finish_run(run), 3);
	err = tl_read_file(log);
	assert_non_null(err);
	assert_non_null(strstr(err, "libvirt daemon went away"));
	free(err);
	/* The repetition it was in is kept, failed, with the reason. */
	rep = load_rep(dir, &info);
	assert_false(rep->ok);
	assert_non_null(strstr(rep->error, "libvirt daemon went away"));
	free(rep);
	tl_assert_nothing_left();
}

/* The port of console @index (0: a, 1: b) in the domain XML the run saved in @dir. */
static int console_port(const char *dir, int index)
{
	char path[PATH_MAX], *xml, *p;
	int port = -1;

	snprintf(path, sizeof(path), "%s/domain.xml", dir);
	xml = tl_read_file(path);
	assert_non_null(xml);
	/* Written in order: console a's serial, then console b's (virt_domain_xml()). */
	p = xml;
	for (int i = 0; i <= index && p; i++) {
		p = strstr(p, "service=\"");
		if (p)
			p += strlen("service=\"");
	}
	if (p)
		port = atoi(p);
	free(xml);
	assert_true(port > 0);
	return port;
}

/*
 * Console b's connection cut (both ends, ss -K in the lab) while kernel B
 * boots: the harness dials again, the upgrade completes, and the log holds
 * lines from before the cut and after it.
 */
static void test_console_cut_mid_upgrade_is_dialled_again_and_lines_kept(void **state)
{
	char results[300], log[300], dir[PATH_MAX], filter[128], path[PATH_MAX];
	struct repetition *rep;
	struct run_info info;
	char *text;
	pid_t run;
	int port;

	(void)state;
	snprintf(results, sizeof(results), "%s/cut", tmpdir);
	snprintf(log, sizeof(log), "%s/cut.err", tmpdir);
	run = start_run(results, "scenarios/twin.yaml", log);
	wait_reached(results, "twin", "console-b.log", "Linux version", dir, sizeof(dir));
	port = console_port(dir, 1);
	/* Needs CONFIG_INET_DIAG_DESTROY in the host kernel, or nothing is cut (no reconnect). */
	snprintf(filter, sizeof(filter), "( dport = :%d or sport = :%d )", port, port);
	{
		const char *ss[] = { "ip",	"netns", "exec",	 LAB_NETNS, "ss", "-K", "-t",
				     "state", "established", filter, NULL };
		pid_t pid;

		assert_int_equal(posix_spawnp(&pid, "ip", NULL, NULL, (char **)ss, environ), 0);
		assert_int_equal(finish_run(pid), 0);
	}

	assert_int_equal(finish_run(run), 0);
	rep = load_rep(dir, &info);
	assert_true(rep->ok);
	assert_true(rep->verified);
	assert_true(rep->console_reconnects[1] >= 1);
	assert_int_equal(rep->console_reconnects[0], 0);
	free(rep);
	snprintf(path, sizeof(path), "%s/console-b.log", dir);
	text = tl_read_file(path);
	assert_non_null(text);
	assert_non_null(strstr(text, "Linux version"));
	assert_non_null(strstr(text, "twinbench-b: takeover done"));
	free(text);
	tl_assert_nothing_left();
}

/*
 * Two runs at once: the first brings the lab up and ends first, while the
 * second still upgrades its guest; the first must leave the lab (and the
 * second's guest) alone, and the second, the last to leave, takes it down.
 */
static void test_two_runs_at_once_both_complete(void **state)
{
	char results[2][300], log[2][300], dir[PATH_MAX], scenario[300], text[2048];
	char kernel[PATH_MAX], rootfs[PATH_MAX];
	struct run_info info;
	pid_t first, second;

	(void)state;
	assert_non_null(realpath("images/vmlinuz-twin-a", kernel));
	assert_non_null(realpath("images/rootfs.img", rootfs));
	/* A short run: boot, answer, say the release. */
	snprintf(text, sizeof(text),
		 "name: short\nmethod: custom\n"
		 "guest:\n  kernel: %s\n  rootfs: %s\n"
		 "  cmdline: \"console=ttyS0,115200 root=/dev/vda rw init=/sbin/init\"\n"
		 "timeouts: {boot: 300s}\n"
		 "steps:\n"
		 "  - wait_probe: {state: up, timeout: boot, mark: answered}\n"
		 /* Typed before the shell prompts, the answer would share the prompt's line. */
		 "  - expect: {console: a, pattern: \"twinbench-a# \", peek: true, timeout: boot}\n"
		 "  - uname: {console: a, kernel: old, mark: asked}\n",
		 kernel, rootfs);
	snprintf(scenario, sizeof(scenario), "%s/short.yaml", tmpdir);
	assert_int_equal(tl_write_file(scenario, text), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(results[i], sizeof(results[i]), "%s/together-%d", tmpdir, i);
		snprintf(log[i], sizeof(log[i]), "%s/together-%d.err", tmpdir, i);
	}
	first = start_run(results[0], scenario, log[0]);
	/* The second starts once the first's lab is up and its guest boots. */
	wait_reached(results[0], "short", "console-a.log", "Linux version", dir, sizeof(dir));
	/* Two repetitions: it runs well past the short one. */
	second = start_run_n(results[1], "2", "scenarios/kexec.yaml", log[1]);

	assert_int_equal(finish_run(first), 0);
	/* The first is gone; the second still upgrades in the lab the first left up. */
	assert_int_equal(waitpid(second, NULL, WNOHANG), 0);
	assert_int_equal(lab_state(), LAB_UP);
	assert_int_equal(finish_run(second), 0);
	tl_find_result(results[1], "kexec", dir, sizeof(dir));
	{
		struct repetition *reps = NULL;
		char path[PATH_MAX];
		struct tb_err err;
		size_t n = 0;

		snprintf(path, sizeof(path), "%s/run.json", dir);
		if (results_load(path, &info, &reps, &n, &err) != 0)
			fail_msg("%s", err.msg);
		assert_int_equal(n, 2);
		assert_true(reps[0].verified && reps[1].verified);
		free(reps);
	}
	tl_assert_nothing_left();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_9_at_boot_mid_upgrade_and_takeover_then_a_run_succeeds),
		cmocka_unit_test(test_libvirtd_killed_mid_run_exits_3_and_leaves_nothing),
		cmocka_unit_test(test_console_cut_mid_upgrade_is_dialled_again_and_lines_kept),
		cmocka_unit_test(test_two_runs_at_once_both_complete),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
