/*
 * test_handoff.c - the agent's state block (guest/agent/handoff.c) on a
 * plain file standing in for /sys/kernel/twin_kernel/state, and the real
 * agent binary's handoff: SIGUSR1, publish, take over, refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <time.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "handoff.h"
#include "monotime.h"
#include "probe.h"
#include "testlib.h"

/* The agent of the build this test belongs to (the Makefile says which). */
#ifdef TB_AGENT
#define AGENT TB_AGENT
#else
#define AGENT "build/twinbench-agent"
#endif
#define BOOT_A "11111111-2222-3333-4444-555555555555"
#define BOOT_X "99999999-8888-7777-6666-555555555555"

extern char **environ;

/* A zeroed 64 KiB file: what a fresh region looks like. */
static int region_setup(void **state)
{
	char *path = strdup("/tmp/tbhandoff.XXXXXX");
	int fd = mkstemp(path);

	if (fd < 0 || ftruncate(fd, 65536) != 0)
		return -1;
	close(fd);
	*state = path;
	return 0;
}

static int region_teardown(void **state)
{
	unlink(*state);
	free(*state);
	return 0;
}

static enum handoff_status read_status(const char *path, const char *boot, uint64_t *counter)
{
	char why[160];

	return handoff_read(path, boot, counter, NULL, NULL, why, sizeof(why));
}

static void test_fresh_region_is_missing(void **state)
{
	uint64_t counter = 0;

	assert_int_equal(read_status(*state, BOOT_A, &counter), HANDOFF_MISSING);
}

static void test_block_is_taken_only_once_it_is_ready(void **state)
{
	uint64_t counter = 0;

	assert_int_equal(handoff_write(*state, HANDOFF_WRITTEN, 4242, BOOT_A, NULL, NULL), 0);
	assert_int_equal(read_status(*state, BOOT_A, &counter), HANDOFF_NOT_READY);
	assert_int_equal(handoff_mark(*state, HANDOFF_READY), 0);
	assert_int_equal(read_status(*state, BOOT_A, &counter), HANDOFF_OK);
	assert_int_equal(counter, 4242);
	assert_int_equal(handoff_taken(*state), 0);
	assert_int_equal(handoff_mark(*state, HANDOFF_TAKEN), 0);
	assert_int_equal(handoff_taken(*state), 1);
	assert_int_equal(read_status(*state, BOOT_A, &counter), HANDOFF_STALE);
}

static void test_block_of_another_boot_is_stale(void **state)
{
	uint64_t counter = 0;

	assert_int_equal(handoff_write(*state, HANDOFF_READY, 7, BOOT_A, NULL, NULL), 0);
	assert_int_equal(read_status(*state, BOOT_X, &counter), HANDOFF_STALE);
	assert_int_equal(counter, 0);
}

static void test_flipped_bit_is_corrupt(void **state)
{
	uint64_t counter = 0;

	assert_int_equal(handoff_write(*state, HANDOFF_WRITTEN, 1000, BOOT_A, NULL, NULL), 0);
	assert_int_equal(handoff_corrupt(*state), 0);
	assert_int_equal(read_status(*state, BOOT_A, &counter), HANDOFF_CORRUPT);
	/* A corrupt block cannot be published or taken either. */
	assert_int_equal(handoff_mark(*state, HANDOFF_READY), -1);
}

static pid_t spawn(char *const argv[], const char *out)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* @pid's exit status, within 10 s (looked at every ms); else it is killed, the test failed. */
static int wait_exit(pid_t pid)
{
	int64_t deadline = monotime_now() + 10 * NS_PER_S;
	struct timespec ms = { 0, 1000000 };
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0) {
		if (monotime_now() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("pid %d did not exit within 10 s", (int)pid);
		}
		nanosleep(&ms, NULL);
	}
	assert_int_equal(r, pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Ask the agent on 127.0.0.1:@port once; fills @rec. */
static void ask(int port, struct probe_record *rec)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int64_t deadline = monotime_now() + 10 * NS_PER_S;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
	char buf[256];

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		ssize_t n;

		sendto(fd, "TB1 1", 5, 0, (struct sockaddr *)&sa, sizeof(sa));
		n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0 && probe_parse_reply(buf, (size_t)n, rec) == 0)
			break;
		if (monotime_now() > deadline)
			fail_msg("the agent on port %d never answered", port);
	}
	close(fd);
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

/* A file holding @pid: the agent's PID file as kernel A's init writes it. */
static void write_pidfile(const char *path, pid_t pid)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "%d\n", (int)pid);
	fclose(f);
}

static void read_boot(char *boot, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	assert_non_null(f);
	assert_non_null(fgets(boot, (int)len, f));
	fclose(f);
	boot[strcspn(boot, "\n")] = '\0';
}

/* Whether the inotify events on @watch (on /tmp) created or moved in tbagent.done. */
static void done_events(int watch, bool *created, bool *moved)
{
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(watch, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->len && strcmp(ev->name, "tbagent.done") == 0) {
				*created = *created || (ev->mask & IN_CREATE);
				*moved = *moved || (ev->mask & IN_MOVED_TO);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

/*
 * Both agents for real, on one machine: B serves on its port and watches
 * the region; A, asked by --request-handoff, stops and publishes; B takes
 * over and answers from A's count; the helper returns once B took it.
 */
static void test_agent_hands_over_and_is_taken_over(void **state)
{
	const char *region = *state;
	char port_a[8] = "47391", port_b[8] = "47392", boot[64] = "";
	char out_a[] = "/tmp/tbagent-a.out", out_b[] = "/tmp/tbagent-b.out";
	char pidfile[] = "/tmp/tbagent.pid";
	char *a_argv[] = { AGENT, "--port", port_a, "--state", "/tmp/tbagent.unused",
			   "--handoff-to", (char *)region, "--timeout-ms", "20000", NULL };
	char *b_argv[] = { AGENT, "--port", port_b, "--state", "/tmp/tbagent-b.unused",
			   "--take-from", (char *)region, "--from-boot", boot,
			   "--done-file", "/tmp/tbagent.done", NULL };
	char *req[] = { AGENT, "--request-handoff", pidfile, "--handoff-to", (char *)region,
			"--timeout-ms", "20000", NULL };
	/* B's takeover of the rest of A, here with no park area: nothing more to take. */
	char *rest[] = { AGENT, "--take-rest", "/tmp/tbagent.done", "--timeout-ms", "20000",
			 "--sysfs", "/tmp/tbagent-no-sysfs", NULL };
	struct probe_record rec;
	uint64_t served;
	bool created = false, moved = false;
	int watch;
	pid_t a, b;
	char *text;

	if (access(AGENT, X_OK) != 0)
		skip();
	read_boot(boot, sizeof(boot));
	unlink("/tmp/tbagent.done");
	/* How the done file comes to be: renamed into place, never created empty. */
	watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(watch >= 0 && inotify_add_watch(watch, "/tmp", IN_CREATE | IN_MOVED_TO) >= 0);
	a = spawn(a_argv, out_a);
	ask(atoi(port_a), &rec);
	ask(atoi(port_a), &rec);
	served = rec.counter;
	b = spawn(b_argv, out_b);
	write_pidfile(pidfile, a);

	assert_int_equal(wait_exit(spawn(req, "/dev/null")), 0);
	assert_int_equal(wait_exit(a), 0);
	assert_non_null(strstr(slurp(out_a), "state handed over counter="));
	ask(atoi(port_b), &rec);
	/* The counter goes on from where A stopped: one more request served. */
	assert_int_equal(rec.counter, served + 1);
	/* B said so, its steps and A's, then wrote how it ended. */
	assert_int_equal(wait_exit(spawn(rest, out_a)), 0);
	assert_string_equal(slurp("/tmp/tbagent.done"), "taken\n");
	assert_string_equal(slurp(out_a), "twinbench-b: the kernel before let go\n");
	done_events(watch, &created, &moved);
	assert_false(created);
	assert_true(moved);
	close(watch);
	text = slurp(out_b);
	assert_non_null(strstr(text, "state=waiting-for-handoff"));
	assert_non_null(strstr(text, "state=taken-over"));
	assert_non_null(strstr(text, "twinbench-agent: handoff a request=0 stopped="));
	assert_non_null(strstr(text, " ready="));
	/* Asked only after the helper returned, B said so without a reply stamp. */
	assert_non_null(strstr(text, "twinbench-agent: handoff b seen=0 "));
	kill(b, SIGTERM);
	wait_exit(b);
	{
		/* Taken once: a kernel waiting for a next handoff finds none and says so. */
		char *t[] = { AGENT, "--port", port_b, "--state", "/tmp/tbagent-b.unused",
			      "--take-from", (char *)region, "--from-boot", boot,
			      "--timeout-ms", "100", NULL };

		b = spawn(t, out_b);
		assert_true(tl_wait_for_text(out_b, "no state block was released within 100 ms", 10));
		kill(b, SIGTERM);
		wait_exit(b);
	}
	unlink(out_a);
	unlink(out_b);
	unlink(pidfile);
	unlink("/tmp/tbagent.done");
	unlink("/tmp/tbagent.unused");
	unlink("/tmp/tbagent-b.unused");
}

/*
 * How many threads of @pid besides the first, each checked to block
 * SIGTERM and SIGUSR1 (their SigBlk in /proc): the stop and handoff signals
 * are the service thread's, which takes them in ppoll().
 */
static int other_threads_blocking_stops(pid_t pid)
{
	char dir[64], path[128], line[256];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d))) {
		unsigned long long blk = 0;
		bool seen = false;
		FILE *f;

		if (e->d_name[0] == '.' || atoi(e->d_name) == pid)
			continue;
		snprintf(path, sizeof(path), "%s/%s/status", dir, e->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "SigBlk: %llx", &blk) == 1)
				seen = true;
		fclose(f);
		assert_true(seen);
		assert_true(blk & (1ULL << (SIGTERM - 1)));
		assert_true(blk & (1ULL << (SIGUSR1 - 1)));
		n++;
	}
	closedir(d);
	return n;
}

/*
 * A's helper asks for a damaged block: B refuses it and says so in the
 * region; the helper is told, and A's agent serves on from the same count.
 */
static void test_agent_refuses_corrupt_block_quickly(void **state)
{
	const char *region = *state;
	char port_a[8] = "47393", port_b[8] = "47394", boot[64] = "";
	char out_a[] = "/tmp/tbagent2-a.out", out_b[] = "/tmp/tbagent2-b.out";
	char out_req[] = "/tmp/tbagent2-req.out", pidfile[] = "/tmp/tbagent2.pid";
	char *a_argv[] = { AGENT, "--port", port_a, "--state", "/tmp/tbagent2.unused",
			   "--handoff-to", (char *)region, "--timeout-ms", "1000", NULL };
	char *b_argv[] = { AGENT, "--port", port_b, "--state", "/tmp/tbagent2-b.unused",
			   "--take-from", (char *)region, "--from-boot", boot,
			   "--timeout-ms", "20000", NULL };
	char *req[] = { AGENT, "--request-handoff", pidfile, "--handoff-to", (char *)region,
			"--corrupt-state", NULL };
	struct probe_record rec;
	uint64_t before;
	int64_t start;
	pid_t a, b;

	if (access(AGENT, X_OK) != 0)
		skip();
	read_boot(boot, sizeof(boot));
	unlink("/tmp/tbagent2.unused");
	a = spawn(a_argv, out_a);
	ask(atoi(port_a), &rec);
	before = rec.counter;
	b = spawn(b_argv, out_b);
	write_pidfile(pidfile, a);
	start = monotime_now();
	assert_int_equal(wait_exit(spawn(req, out_req)), 1);
	assert_non_null(strstr(slurp(out_req), "kernel B refused the state block"));
	/* Long before B's 20 s: a corrupt block is refused once it stays corrupt. */
	assert_true(tl_wait_for_text(out_b, "refusing to take over: state block is corrupt", 10));
	assert_true(monotime_now() - start < 10 * NS_PER_S);
	/* A took the service back (no NIC to rebind here) and counts on. */
	assert_true(tl_wait_for_text(out_a, "kernel B refused the state block: serving on - ",
				     10));
	ask(atoi(port_a), &rec);
	assert_true(rec.counter == before + 1);
	/* Refused, B still serves on its own: nothing was taken. */
	ask(atoi(port_b), &rec);
	assert_int_equal(rec.counter, 1);
	kill(a, SIGTERM);
	assert_int_equal(wait_exit(a), 0);
	/*
	 * Refused, B's teller (the thread that would have told the takeover)
	 * waits on for good; it must leave SIGTERM to the service thread.
	 */
	assert_int_equal(other_threads_blocking_stops(b), 1);
	kill(b, SIGTERM);
	assert_int_equal(wait_exit(b), 0);
	unlink(out_req);
	unlink(out_a);
	unlink(out_b);
	unlink(pidfile);
	unlink("/tmp/tbagent2.unused");
	unlink("/tmp/tbagent2-b.unused");
}

/*
 * Before the handoff the service is A's: B, waiting for the block, reads a
 * request and leaves it unanswered and uncounted.  Its warm-up's own
 * request went through the service's parse and answer.  Once it gave up
 * waiting, B serves on its own, from 1.
 */
static void test_agent_waiting_to_take_over_answers_nobody(void **state)
{
	const char *region = *state;
	char port_b[8] = "47395", boot[64] = "", out_b[] = "/tmp/tbagent4-b.out", buf[256];
	char *b_argv[] = { AGENT, "--port", port_b, "--state", "/tmp/tbagent4-b.unused",
			   "--take-from", (char *)region, "--from-boot", boot,
			   "--timeout-ms", "3000", NULL };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(47395) };
	struct probe_record rec;
	int fd;
	pid_t b;

	if (access(AGENT, X_OK) != 0)
		skip();
	read_boot(boot, sizeof(boot));
	b = spawn(b_argv, out_b);
	assert_true(tl_wait_for_text(out_b, "state=waiting-for-handoff", 10));
	assert_non_null(strstr(slurp(out_b), "a request answered in "));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, "TB1 7", 5, 0), 5);
	/* Answered, the reply would have come long before B gave up waiting. */
	assert_true(tl_wait_for_text(out_b, "no state block was released within 3000 ms", 10));
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	close(fd);
	ask(atoi(port_b), &rec);
	assert_int_equal(rec.counter, 1);
	kill(b, SIGTERM);
	assert_int_equal(wait_exit(b), 0);
	unlink(out_b);
	unlink("/tmp/tbagent4-b.unused");
}

/*
 * B's takeover of the rest of A begins only on "taken": a takeover that
 * ended otherwise, or never said how, takes nothing and says why.
 */
static void test_the_rest_is_taken_only_after_the_service(void **state)
{
	char done[] = "/tmp/tbagent3.done", out[] = "/tmp/tbagent3.out";
	char *rest[] = { AGENT, "--take-rest", done, "--timeout-ms", "50", "--sysfs",
			 "/tmp/tbagent-no-sysfs", NULL };

	(void)state;
	if (access(AGENT, X_OK) != 0)
		skip();
	assert_int_equal(tl_write_file(done, "refused: state block is corrupt\n"), 0);
	assert_int_equal(wait_exit(spawn(rest, out)), 1);
	assert_string_equal(slurp(out), "twinbench-b: takeover failed: the agent did not take the "
					"service over (refused: state block is corrupt)\n");
	unlink(done);
	assert_int_equal(wait_exit(spawn(rest, out)), 1);
	assert_string_equal(slurp(out), "twinbench-agent: /tmp/tbagent3.done did not appear within "
					"50 ms\ntwinbench-b: takeover failed: the agent did not "
					"say how the takeover ended\n");
	unlink(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_region_is_missing, region_setup,
						region_teardown),
		cmocka_unit_test_setup_teardown(test_block_is_taken_only_once_it_is_ready,
						region_setup, region_teardown),
		cmocka_unit_test_setup_teardown(test_block_of_another_boot_is_stale, region_setup,
						region_teardown),
		cmocka_unit_test_setup_teardown(test_flipped_bit_is_corrupt, region_setup,
						region_teardown),
		cmocka_unit_test_setup_teardown(test_agent_hands_over_and_is_taken_over,
						region_setup, region_teardown),
		cmocka_unit_test_setup_teardown(test_agent_refuses_corrupt_block_quickly,
						region_setup, region_teardown),
		cmocka_unit_test_setup_teardown(test_agent_waiting_to_take_over_answers_nobody,
						region_setup, region_teardown),
		cmocka_unit_test(test_the_rest_is_taken_only_after_the_service),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
