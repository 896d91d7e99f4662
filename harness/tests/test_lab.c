/*
 * test_lab.c - the lab's bookkeeping, on a scratch state directory: who
 * counts as a user, who takes the lab down, the lock that serialises lab up
 * and down, and what a dead run's leftovers are.  Nothing here touches the
 * real lab: "dead" and "live" runs are child processes of the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lab.h"
#include "monotime.h"
#include "testlib.h"

struct scratch {
	char dir[64];
	pid_t live; /* a child that waits to be killed: a run still going */
	pid_t dead; /* a child already reaped: a run that died */
};

/* A run that is still going, until the test kills it. */
static pid_t spawn_live(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

/* A run that died: its PID is free (reuse within a test is not a worry). */
static pid_t spawn_dead(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void end_run(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));

	if (!s || tl_mkdtemp("/tmp/test_lab.XXXXXX", s->dir, sizeof(s->dir)) != 0)
		return -1;
	s->live = spawn_live();
	s->dead = spawn_dead();
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct scratch *s = *state;
	int rc;

	if (s->live > 0)
		end_run(s->live);
	rc = tl_rmtree(s->dir);
	free(s);
	return rc;
}

/* The live run ends (and is not killed again, its PID being free now). */
static void end_live(struct scratch *s)
{
	end_run(s->live);
	s->live = 0;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* "@dir/@fmt" with the PID @pid in place of @fmt's %d. */
static const char *named(const char *dir, const char *fmt, pid_t pid)
{
	char name[128];

	snprintf(name, sizeof(name), fmt, (int)pid);
	return tl_path(dir, name);
}


static void test_a_live_run_counts_and_a_dead_one_does_not(void **state)
{
	struct scratch *s = *state;
	struct tb_err err = { 0 };
	pid_t pids[4] = { 0 }, run;

	assert_int_equal(lab_users_join(s->dir, s->live, &err), 0);
	assert_int_equal(lab_users_alive(s->dir, pids, 4), 1);
	assert_int_equal(pids[0], s->live);

	/* A run cannot join once dead; one that dies after joining stops counting. */
	assert_int_equal(lab_users_join(s->dir, s->dead, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_ENV);
	run = s->live;
	end_live(s);
	assert_int_equal(lab_users_alive(s->dir, pids, 4), 0);
	/* Counting removes nothing: lab status counts without the lock. */
	assert_true(exists(named(s->dir, "users/%d", run)));
}

/* A run that died but whose parent has not reaped it yet is dead all the same. */
static void test_a_zombie_run_does_not_count(void **state)
{
	struct scratch *s = *state;
	struct tb_err err = { 0 };
	pid_t zombie = spawn_live(), pids[4];
	char stat_path[64], *text;
	int64_t deadline = monotime_now() + 5 * NS_PER_S;

	assert_int_equal(lab_users_join(s->dir, zombie, &err), 0);
	assert_int_equal(lab_users_alive(s->dir, pids, 4), 1);
	kill(zombie, SIGKILL);
	/* Not reaped: wait for the kernel to make it a zombie. */
	snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", (int)zombie);
	for (;;) {
		text = tl_read_file(stat_path);
		assert_non_null(text);
		if (strstr(text, ") Z ") || monotime_now() > deadline)
			break;
		free(text);
		monotime_sleep_until(monotime_now() + NS_PER_MS);
	}
	assert_non_null(strstr(text, ") Z "));
	free(text);
	assert_int_equal(lab_users_alive(s->dir, pids, 4), 0);
	assert_int_equal(waitpid(zombie, NULL, 0), zombie);
}

/* Another process given a dead run's PID is not that run. */
static void test_a_reused_pid_is_not_the_run_that_had_it(void **state)
{
	struct scratch *s = *state;
	struct tb_err err = { 0 };
	char name[32], record[64];
	pid_t pids[4];

	assert_int_equal(lab_users_join(s->dir, s->live, &err), 0);
	assert_int_equal(lab_users_alive(s->dir, pids, 4), 1);
	/* The record of a run that had this PID and started at another time. */
	snprintf(name, sizeof(name), "users/%d", (int)s->live);
	snprintf(record, sizeof(record), "%d 1\n", (int)s->live);
	assert_int_equal(tl_write_file(tl_path(s->dir, name), record), 0);
	assert_int_equal(lab_users_alive(s->dir, pids, 4), 0);
}

/*
 * A lab a run brought up is taken down by the last live run to leave: not
 * while another still uses it, and not waiting for one that died.
 */
static void test_the_last_live_run_takes_a_runs_lab_down(void **state)
{
	struct scratch *s = *state;
	struct tb_err err = { 0 };
	char dead_record[32];
	pid_t me = getpid();

	assert_int_equal(lab_set_owner(s->dir, me, &err), 0);
	assert_int_equal(lab_owner(s->dir), me);
	assert_int_equal(lab_users_join(s->dir, me, &err), 0);
	assert_int_equal(lab_users_join(s->dir, s->live, &err), 0);
	/* A run that joined and died without leaving (killed). */
	snprintf(dead_record, sizeof(dead_record), "users/%d", (int)s->dead);
	assert_int_equal(tl_write_file(tl_path(s->dir, dead_record), "0 0\n"), 0);

	/* The brought-up run leaves first: the other still has guests in it. */
	assert_false(lab_users_leave(s->dir, me, false));
	assert_int_equal(lab_users_alive(s->dir, (pid_t[4]){ 0 }, 4), 1);

	/* The other ends: whoever leaves last, the dead one aside, takes it down. */
	end_live(s);
	assert_int_equal(lab_users_join(s->dir, me, &err), 0);
	assert_true(lab_users_leave(s->dir, me, false));
	/* Leaving cleans up the dead runs' records. */
	assert_false(exists(tl_path(s->dir, dead_record)));
}

/* `twinbench lab up` made the lab the user's: no run takes it down. */
static void test_a_lab_brought_up_by_hand_stays_up(void **state)
{
	struct scratch *s = *state;
	struct tb_err err = { 0 };

	/* What lab_up() does after a run had brought the lab up. */
	assert_int_equal(lab_set_owner(s->dir, getpid(), &err), 0);
	assert_int_equal(lab_set_owner(s->dir, 0, &err), 0);
	assert_int_equal(lab_owner(s->dir), 0);
	assert_int_equal(lab_users_join(s->dir, getpid(), &err), 0);
	assert_false(lab_users_leave(s->dir, getpid(), false));

	/* Nor one of unknown origin (no owner recorded): up before any run counted. */
	assert_int_equal(lab_set_owner(s->dir, 0, &err), 0); /* already none: not an error */
	assert_int_equal(lab_users_join(s->dir, getpid(), &err), 0);
	assert_false(lab_users_leave(s->dir, getpid(), false));
}

/* --keep-lab makes the lab the user's, for every run after too. */
static void test_keep_lab_keeps_the_lab_for_good(void **state)
{
	struct scratch *s = *state;
	struct tb_err err = { 0 };

	assert_int_equal(lab_set_owner(s->dir, getpid(), &err), 0);
	assert_int_equal(lab_users_join(s->dir, getpid(), &err), 0);
	assert_int_equal(lab_users_join(s->dir, s->live, &err), 0);
	assert_false(lab_users_leave(s->dir, getpid(), true));
	assert_int_equal(lab_owner(s->dir), 0);

	end_live(s);
	assert_int_equal(lab_users_join(s->dir, getpid(), &err), 0);
	assert_false(lab_users_leave(s->dir, getpid(), false));
}

/*
 * Two runs find no lab at once.  Under the lock only the first brings it
 * up (the marker "up" stands for the lab); the second finds it up, and,
 * not being the last to leave, does not take it down under the first.
 */
static void race_to_bring_up(const char *dir, int fd_log)
{
	struct tb_err err = { 0 };
	int lock = lab_lock(dir, monotime_now() + 5 * NS_PER_S, &err);
	char line[32];

	if (lock < 0 || lab_users_join(dir, getpid(), &err) != 0)
		_exit(1);
	if (!exists(tl_path(dir, "up"))) {
		/* Slow, as a lab up is: the other run must wait for it, not start its own. */
		monotime_sleep_until(monotime_now() + 200 * NS_PER_MS);
		if (tl_write_file(tl_path(dir, "up"), "") != 0 ||
		    lab_set_owner(dir, getpid(), &err) != 0)
			_exit(1);
		snprintf(line, sizeof(line), "up %d\n", (int)getpid());
		if (write(fd_log, line, strlen(line)) < 0)
			_exit(1);
	}
	lab_unlock(lock);
	_exit(0);
}

static void test_two_runs_racing_bring_the_lab_up_once(void **state)
{
	struct scratch *s = *state;
	char *log;
	pid_t run[2];
	int status, fd;

	fd = open(tl_path(s->dir, "log"), O_WRONLY | O_CREAT | O_APPEND, 0644);
	assert_true(fd >= 0);
	for (int i = 0; i < 2; i++) {
		run[i] = fork();
		assert_true(run[i] >= 0);
		if (run[i] == 0)
			race_to_bring_up(s->dir, fd);
	}
	close(fd);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(waitpid(run[i], &status, 0), run[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	log = tl_read_file(tl_path(s->dir, "log"));
	assert_non_null(log);
	assert_int_equal(tl_count(log, "up "), 1);
	free(log);
	/* Both ended without leaving (killed): neither counts, and the lab is a run's. */
	assert_int_equal(lab_users_alive(s->dir, (pid_t[2]){ 0 }, 2), 0);
	assert_true(lab_owner(s->dir) == run[0] || lab_owner(s->dir) == run[1]);
}

/* A stuck holder: the waiter gives up at its deadline and says whom it waited for. */
static void test_a_held_lock_times_out_naming_its_holder(void **state)
{
	struct scratch *s = *state;
	struct tb_err err = { 0 };
	int64_t t0, deadline;
	int lock, status;
	char holder[32];
	pid_t waiter;

	lock = lab_lock(s->dir, monotime_now(), &err);
	assert_true(lock >= 0);
	snprintf(holder, sizeof(holder), "process %d ", (int)getpid());
	/* flock(2) excludes other open files, in this process too: wait in a child all the same. */
	waiter = fork();
	assert_true(waiter >= 0);
	if (waiter == 0) {
		t0 = monotime_now();
		deadline = t0 + 100 * NS_PER_MS;
		if (lab_lock(s->dir, deadline, &err) >= 0)
			_exit(1);
		if (monotime_now() < deadline || monotime_now() > deadline + 2 * NS_PER_S)
			_exit(2);
		_exit(err.exit == TB_EXIT_ENV && strstr(err.msg, holder) ? 0 : 3);
	}
	assert_int_equal(waitpid(waiter, &status, 0), waiter);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* Let go: the next one gets it at once. */
	lab_unlock(lock);
	lock = lab_lock(s->dir, monotime_now(), &err);
	assert_true(lock >= 0);
	lab_unlock(lock);
}

/* A unix socket at @path, as console_serve() makes one, left behind (not unlinked). */
static void make_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

/*
 * A dead run's relay sockets, work directory and user record go; a live
 * run's stay, and so does what is not a run's (other names, old-style work
 * directories without a PID, a file where a socket should be).
 */
static void test_reaping_removes_what_dead_runs_left_and_nothing_else(void **state)
{
	struct scratch *s = *state;
	struct tb_err err = { 0 };
	char work[128], consoles[128], path[256];
	const char *parents[] = { work, NULL };
	pid_t live;
	const char *const kept[] = {
		"consoles/tb-%d-reboot-a.sock",	   /* live run's */
		"work/twinbench-%d-Ab3dE9",	   /* live run's */
		"work/twinbench-Xy12Zq",	   /* today's runner: no PID, cannot tell */
		"work/twinbench-%d-short",	   /* not mkdtemp's six letters */
		"consoles/other-%d.sock",	   /* not a run's */
	};
	const char *const gone[] = {
		"consoles/tb-%d-reboot-a.sock",
		"consoles/tb-%d-reboot-b.sock",
		"work/twinbench-%d-Qw7rT1",
		"users/%d",
	};

	snprintf(work, sizeof(work), "%s/work", s->dir);
	snprintf(consoles, sizeof(consoles), "%s/consoles", s->dir);
	assert_int_equal(mkdir(work, 0755), 0);
	assert_int_equal(mkdir(consoles, 0700), 0);

	make_socket(named(s->dir, kept[0], s->live));
	assert_int_equal(mkdir(named(s->dir, kept[1], s->live), 0700), 0);
	assert_int_equal(mkdir(named(s->dir, kept[2], 0), 0700), 0);
	assert_int_equal(mkdir(named(s->dir, kept[3], s->dead), 0700), 0);
	make_socket(named(s->dir, kept[4], s->dead));
	assert_int_equal(lab_users_join(s->dir, s->live, &err), 0);

	make_socket(named(s->dir, gone[0], s->dead));
	make_socket(named(s->dir, gone[1], s->dead));
	snprintf(path, sizeof(path), "%s", named(s->dir, gone[2], s->dead));
	assert_int_equal(mkdir(path, 0700), 0);
	/* A work directory has a disk image and more in it. */
	assert_int_equal(mkdir(tl_path(path, "sub"), 0700), 0);
	assert_int_equal(tl_write_file(tl_path(path, "sub/disk.qcow2"), "x"), 0);
	assert_int_equal(tl_write_file(named(s->dir, gone[3], s->dead), "0 0\n"), 0);
	/* A file named like a dead run's socket is not one: not ours to remove. */
	assert_int_equal(tl_write_file(named(s->dir, "consoles/tb-%d-x-a.txt", s->dead), ""), 0);

	assert_int_equal(lab_reap_dead_runs_in(s->dir, parents), 3);
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		assert_false(exists(named(s->dir, gone[i], s->dead)));
	assert_true(exists(named(s->dir, kept[0], s->live)));
	assert_true(exists(named(s->dir, kept[1], s->live)));
	assert_true(exists(named(s->dir, kept[2], 0)));
	assert_true(exists(named(s->dir, kept[3], s->dead)));
	assert_true(exists(named(s->dir, kept[4], s->dead)));
	assert_true(exists(named(s->dir, "consoles/tb-%d-x-a.txt", s->dead)));
	assert_true(exists(named(s->dir, "users/%d", s->live)));

	/* Once the live run dies, its leftovers go too. */
	live = s->live;
	end_live(s);
	assert_int_equal(lab_reap_dead_runs_in(s->dir, parents), 2);
	assert_false(exists(named(s->dir, kept[0], live)));
	assert_false(exists(named(s->dir, kept[1], live)));
	assert_false(exists(named(s->dir, "users/%d", live)));
}

/* What a guest's start does with its console ports: bind them, as QEMU does. */
struct starter {
	struct lab lab;
	int port;
	int bound; /* the socket of a start that bound its port */
	int starts, repicks;
	int fail; /* 0: bind; else what start returns without binding */
};

static int start_binding(void *arg, struct tb_err *err)
{
	struct starter *st = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)st->port) };
	int fd;

	st->starts++;
	if (st->fail)
		return st->fail == -EADDRINUSE
			       ? (tb_err_set(err, TB_EXIT_ENV, "port %d: Address already in use",
					     st->port),
				  -EADDRINUSE)
			       : tb_err_set(err, TB_EXIT_ENV, "the domain's XML is bad");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1) != 0) {
		int e = errno;

		close(fd);
		tb_err_set(err, TB_EXIT_ENV, "port %d: %s", st->port, strerror(e));
		return e == EADDRINUSE ? -EADDRINUSE : -1;
	}
	st->bound = fd;
	return 0;
}

static int repick_port(void *arg, struct tb_err *err)
{
	struct starter *st = arg;

	st->repicks++;
	st->port = lab_free_port(&st->lab, err);
	return st->port < 0 ? -1 : 0;
}

static void test_a_port_taken_before_the_bind_is_chosen_again(void **state)
{
	struct starter st = { .lab = { .external = true }, .bound = -1 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct tb_err err = { 0 };
	int other, taken;

	(void)state;
	st.port = taken = lab_free_port(&st.lab, &err);
	assert_true(taken > 0);
	/* Another process takes the port between the choice and the start. */
	other = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_port = htons((uint16_t)taken);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(other, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(other, 1), 0);

	assert_int_equal(lab_with_free_ports(start_binding, repick_port, &st, &err), 0);
	assert_int_equal(st.starts, 2);
	assert_int_equal(st.repicks, 1);
	assert_int_not_equal(st.port, taken);
	assert_true(st.bound >= 0);
	close(st.bound);
	close(other);
}

static void test_ports_taken_every_time_give_up_naming_the_attempts(void **state)
{
	struct starter st = { .lab = { .external = true }, .fail = -EADDRINUSE };
	struct tb_err err = { 0 };

	(void)state;
	assert_int_equal(lab_with_free_ports(start_binding, repick_port, &st, &err), -1);
	assert_int_equal(st.starts, LAB_PORT_ATTEMPTS);
	assert_int_equal(st.repicks, LAB_PORT_ATTEMPTS - 1);
	assert_non_null(strstr(err.msg, "3 attempts, each with new ports"));
	assert_non_null(strstr(err.msg, "Address already in use"));
}

static void test_another_start_failure_is_not_retried(void **state)
{
	struct starter st = { .lab = { .external = true }, .fail = -1 };
	struct tb_err err = { 0 };

	(void)state;
	assert_int_equal(lab_with_free_ports(start_binding, repick_port, &st, &err), -1);
	assert_int_equal(st.starts, 1);
	assert_int_equal(st.repicks, 0);
	assert_string_equal(err.msg, "the domain's XML is bad");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_live_run_counts_and_a_dead_one_does_not,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_zombie_run_does_not_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_reused_pid_is_not_the_run_that_had_it, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_the_last_live_run_takes_a_runs_lab_down, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_lab_brought_up_by_hand_stays_up, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_keep_lab_keeps_the_lab_for_good, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_two_runs_racing_bring_the_lab_up_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_held_lock_times_out_naming_its_holder, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
		    test_reaping_removes_what_dead_runs_left_and_nothing_else, setup, teardown),
		cmocka_unit_test(test_a_port_taken_before_the_bind_is_chosen_again),
		cmocka_unit_test(test_ports_taken_every_time_give_up_naming_the_attempts),
		cmocka_unit_test(test_another_start_failure_is_not_retried),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
