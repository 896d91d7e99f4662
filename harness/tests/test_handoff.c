/*
 * test_handoff.c - the agent's state block (guest/agent/handoff.c) on a
 * plain file standing in for /sys/kernel/twin_kernel/state, and the real
 * agent binary's handoff: SIGUSR1, publish, take over, refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "handoff.h"
#include "monotime.h"
#include "probe.h"

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

	return handoff_read(path, boot, counter, why, sizeof(why));
}

static void test_fresh_region_is_missing(void **state)
{
	uint64_t counter = 0;

	assert_int_equal(read_status(*state, BOOT_A, &counter), HANDOFF_MISSING);
}

static void test_block_is_taken_only_once_it_is_ready(void **state)
{
	uint64_t counter = 0;

	assert_int_equal(handoff_write(*state, HANDOFF_WRITTEN, 4242, BOOT_A), 0);
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

	assert_int_equal(handoff_write(*state, HANDOFF_READY, 7, BOOT_A), 0);
	assert_int_equal(read_status(*state, BOOT_X, &counter), HANDOFF_STALE);
	assert_int_equal(counter, 0);
}

static void test_flipped_bit_is_corrupt(void **state)
{
	uint64_t counter = 0;

	assert_int_equal(handoff_write(*state, HANDOFF_WRITTEN, 1000, BOOT_A), 0);
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

static int wait_exit(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
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

static void test_agent_hands_over_and_is_taken_over(void **state)
{
	const char *region = *state;
	char port_a[8] = "47391", port_b[8] = "47392", boot[64] = "", out[] = "/tmp/tbagent.out";
	char *a_argv[] = { AGENT, "--port", port_a, "--state", "/tmp/tbagent.unused",
			   "--handoff-to", (char *)region, NULL };
	struct probe_record rec;
	uint64_t served;
	FILE *f;
	pid_t a, b;

	if (access(AGENT, X_OK) != 0)
		skip();
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	assert_non_null(fgets(boot, sizeof(boot), f));
	fclose(f);
	boot[strcspn(boot, "\n")] = '\0';

	a = spawn(a_argv, out);
	ask(atoi(port_a), &rec);
	ask(atoi(port_a), &rec);
	served = rec.counter;
	assert_int_equal(kill(a, SIGUSR1), 0);
	assert_int_equal(wait_exit(a), 0);
	assert_non_null(strstr(slurp(out), "state handed over counter="));

	/* Written, not yet released: B waits, then gives up saying so. */
	{
		char *w[] = { AGENT, "--wait-ready", (char *)region, "--from-boot", boot,
			      "--timeout-ms", "100", NULL };

		assert_int_equal(wait_exit(spawn(w, out)), 1);
		assert_non_null(strstr(slurp(out), "refusing to take over: state block is not ready"));
	}
	{
		char *p[] = { AGENT, "--publish", (char *)region, NULL };
		char *w[] = { AGENT, "--wait-ready", (char *)region, "--from-boot", boot, NULL };

		assert_int_equal(wait_exit(spawn(p, out)), 0);
		assert_int_equal(wait_exit(spawn(w, out)), 0);
	}
	{
		/* Released, not taken: kernel A would wait, and gives up saying so. */
		char *k[] = { AGENT, "--wait-taken", (char *)region, "--timeout-ms", "50", NULL };

		assert_int_equal(wait_exit(spawn(k, out)), 1);
		assert_non_null(strstr(slurp(out), "was not taken over within 50 ms"));
	}
	{
		char *t[] = { AGENT, "--port", port_b, "--take-from", (char *)region,
			      "--from-boot", boot, NULL };
		char *k[] = { AGENT, "--wait-taken", (char *)region, NULL };

		b = spawn(t, out);
		ask(atoi(port_b), &rec);
		/* The counter goes on from where A stopped: one more request served. */
		assert_int_equal(rec.counter, served + 1);
		assert_int_equal(wait_exit(spawn(k, "/dev/null")), 0);
		kill(b, SIGTERM);
		wait_exit(b);
		assert_non_null(strstr(slurp(out), "state=taken-over"));
	}
	{
		/* Taken once: a second kernel may not start from it again. */
		char *t[] = { AGENT, "--port", port_b, "--take-from", (char *)region,
			      "--from-boot", boot, NULL };

		assert_int_equal(wait_exit(spawn(t, out)), 1);
		assert_non_null(strstr(slurp(out), "refusing to take over: state block is stale"));
	}
	unlink(out);
	unlink("/tmp/tbagent.unused");
}

static void test_agent_refuses_corrupt_block_quickly(void **state)
{
	const char *region = *state;
	char out[] = "/tmp/tbagent2.out";
	char *w[] = { AGENT, "--wait-ready", (char *)region, "--from-boot", BOOT_A, "--timeout-ms",
		      "20000", NULL };
	int64_t start;

	if (access(AGENT, X_OK) != 0)
		skip();
	assert_int_equal(handoff_write(region, HANDOFF_WRITTEN, 99, BOOT_A), 0);
	assert_int_equal(handoff_corrupt(region), 0);
	start = monotime_now();
	assert_int_equal(wait_exit(spawn(w, out)), 1);
	/* Long before the 20 s timeout: a corrupt block is refused once it stays corrupt. */
	assert_true(monotime_now() - start < 10 * NS_PER_S);
	assert_non_null(strstr(slurp(out), "refusing to take over: state block is corrupt"));
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
