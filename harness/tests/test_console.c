/*
 * test_console.c - console line assembly, telnet handling, expect, the log,
 * and reconnecting to a real (loopback) telnet server.
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libtelnet.h>

#include "console.h"
#include "monotime.h"

#define IAC	  "\xff"
#define WILL	  "\xfb"
#define WONT	  "\xfc"
#define DO	  "\xfd"
#define DONT	  "\xfe"
#define SB	  "\xfa"
#define SE	  "\xf0"
#define NOP	  "\xf1"
#define OPT_ECHO  "\x01"
#define OPT_SGA	  "\x03"
#define OPT_TTYPE "\x18"
#define OPT_NAWS  "\x1f"

/* Long enough for a loaded CI machine, short enough to fail visibly. */
#define WAIT_NS (5 * NS_PER_S)

static struct console *open_fed(void)
{
	struct tb_err err = {0};
	struct console *c = console_open("a", NULL, NULL, NULL, &err);

	assert_non_null(c);
	return c;
}

static void feed_str(struct console *c, const char *s, int64_t t_ns)
{
	console_feed(c, s, strlen(s), t_ns);
}

static void assert_line(struct console *c, size_t index, const char *text, int64_t t_ns)
{
	struct console_match m;

	assert_int_equal(console_line(c, index, &m), 0);
	assert_int_equal(m.index, index);
	assert_string_equal(m.text, text);
	if (t_ns >= 0)
		assert_int_equal(m.t_ns, t_ns);
}

/*
 * What QEMU sends at connect, then guest output as a tty writes it: CRLF,
 * NUL padding, a 0xFF data byte (escaped IAC IAC), the NVT's CR NUL, a
 * subnegotiation and a NOP in the middle of a line.
 */
static const char negotiated_stream[] = IAC WILL OPT_ECHO IAC WILL OPT_SGA IAC DO OPT_TTYPE
    "Linux version 6.1\r\n\0\0"
    "byte " IAC IAC " here" IAC NOP "\r\0\r\n" IAC SB OPT_TTYPE "\x01" IAC SE "# ls\r\n";

static void assert_negotiated_lines(struct console *c)
{
	assert_int_equal(console_cursor(c), 3);
	assert_line(c, 0, "Linux version 6.1", -1);
	assert_line(c, 1, "byte \xff here", -1);
	assert_line(c, 2, "# ls", -1);
}

static void test_iac_split_at_every_byte_yields_same_lines(void **state)
{
	size_t len = sizeof(negotiated_stream) - 1, k;

	(void)state;
	for (k = 0; k <= len; k++) {
		struct console *c = open_fed();

		console_feed(c, negotiated_stream, k, 1);
		console_feed(c, negotiated_stream + k, len - k, 2);
		assert_negotiated_lines(c);
		console_close(c);
	}
}

static void test_iac_one_byte_at_a_time_yields_same_lines(void **state)
{
	size_t len = sizeof(negotiated_stream) - 1, k;
	struct console *c = open_fed();

	(void)state;
	for (k = 0; k < len; k++)
		console_feed(c, negotiated_stream + k, 1, (int64_t)k);
	assert_negotiated_lines(c);
	console_close(c);
}

static void test_line_stamped_with_first_byte_arrival(void **state)
{
	struct console *c = open_fed();

	(void)state;
	feed_str(c, "hel", 100);
	feed_str(c, "lo\r\n", 200);
	/* A line starting in the feed that completes the previous one. */
	feed_str(c, "a\nb", 300);
	feed_str(c, "\n", 400);
	/* Padding after a newline does not start the next line early. */
	feed_str(c, "c\r\n", 500);
	console_feed(c, "\0\0\r", 3, 600);
	feed_str(c, "d\n", 700);
	/* An empty line is stamped with its newline. */
	feed_str(c, "\r\n", 800);

	assert_int_equal(console_cursor(c), 6);
	assert_line(c, 0, "hello", 100);
	assert_line(c, 1, "a", 300);
	assert_line(c, 2, "b", 300);
	assert_line(c, 3, "c", 500);
	assert_line(c, 4, "d", 700);
	assert_line(c, 5, "", 800);
	console_close(c);
}

static void test_long_line_split_at_4095_bytes(void **state)
{
	struct console *c = open_fed();
	char *buf = malloc(5001), *tail;
	struct console_match m;

	(void)state;
	assert_non_null(buf);
	memset(buf, 'x', 5000);
	buf[5000] = '\n';
	console_feed(c, buf, 4000, 10);
	console_feed(c, buf + 4000, 1001, 20);
	assert_int_equal(console_cursor(c), 2);
	tail = console_tail(c, 2);
	assert_non_null(tail);
	assert_int_equal(strlen(tail), 4095 + 1 + 905);
	assert_int_equal(strchr(tail, '\n') - tail, 4095);
	free(tail);
	/* The second part's first byte came with the second feed. */
	assert_int_equal(console_line(c, 0, &m), 0);
	assert_int_equal(m.t_ns, 10);
	assert_int_equal(console_line(c, 1, &m), 0);
	assert_int_equal(m.t_ns, 20);
	console_close(c);
	free(buf);
}

static void test_line_of_exactly_4095_bytes_stays_one_line(void **state)
{
	struct console *c = open_fed();
	char *buf = malloc(4096);

	(void)state;
	assert_non_null(buf);
	memset(buf, 'y', 4095);
	buf[4095] = '\n';
	console_feed(c, buf, 4096, 10);
	assert_int_equal(console_cursor(c), 1);
	console_close(c);
	free(buf);
}

static void test_line_copy_truncates_to_match_text(void **state)
{
	struct console *c = open_fed();
	struct console_match m;
	char buf[1001];

	(void)state;
	memset(buf, 'z', 1000);
	buf[1000] = '\n';
	console_feed(c, buf, sizeof(buf), 5);
	assert_int_equal(console_line(c, 0, &m), 0);
	assert_int_equal(strlen(m.text), sizeof(m.text) - 1);
	assert_int_equal(console_line(c, 1, &m), -1);
	console_close(c);
}

static void test_expect_matches_completed_line_and_advances_cursor(void **state)
{
	struct console *c = open_fed();
	struct console_match m;
	struct tb_err err = {0};
	size_t cursor = 0;

	(void)state;
	feed_str(c, "booting\nready 1\nready 2\n", 42);
	assert_int_equal(console_expect(c, "^ready", &cursor, monotime_now(), &m, &err), 0);
	assert_int_equal(m.index, 1);
	assert_int_equal(m.t_ns, 42);
	assert_string_equal(m.text, "ready 1");
	assert_int_equal(cursor, 2);

	assert_int_equal(console_expect(c, "^ready", &cursor, monotime_now(), &m, &err), 0);
	assert_int_equal(m.index, 2);
	assert_int_equal(cursor, 3);

	assert_int_equal(console_expect(c, "^ready", &cursor, monotime_now(), &m, &err),
			 -ETIMEDOUT);
	assert_int_equal(cursor, 3);
	console_close(c);
}

static void test_expect_matches_unfinished_prompt_once(void **state)
{
	struct console *c = open_fed();
	struct console_match m;
	struct tb_err err = {0};
	size_t cursor = 0;

	(void)state;
	feed_str(c, "Debian\r\nlog", 10);
	feed_str(c, "in: ", 20);
	assert_int_equal(console_expect(c, "login: $", &cursor, monotime_now(), &m, &err), 0);
	assert_int_equal(m.index, 1);
	assert_int_equal(m.t_ns, 10);
	assert_string_equal(m.text, "login: ");
	assert_int_equal(cursor, 2);

	/* Neither the prompt nor the line it becomes matches a second time. */
	assert_int_equal(console_expect(c, "login", &cursor, monotime_now(), &m, &err), -ETIMEDOUT);
	feed_str(c, "root\r\n", 30);
	assert_line(c, 1, "login: root", 10);
	assert_int_equal(console_expect(c, "login", &cursor, monotime_now(), &m, &err), -ETIMEDOUT);
	feed_str(c, "# ", 40);
	assert_int_equal(console_expect(c, "^# $", &cursor, monotime_now(), &m, &err), 0);
	assert_int_equal(m.index, 2);
	assert_int_equal(m.t_ns, 40);
	console_close(c);
}

static void test_expect_line_waits_for_the_whole_line(void **state)
{
	struct console *c = open_fed();
	struct console_match m;
	struct tb_err err = {0};
	size_t cursor = 0;

	(void)state;
	/* A polled UART hands the answer over in pieces: a prefix already matches ^...$. */
	feed_str(c, "6.1.192-twinbenc", 10);
	assert_int_equal(console_expect_line(c, "^[0-9.]+-[a-z-]+$", &cursor, monotime_now(), &m,
					     &err),
			 -ETIMEDOUT);
	assert_int_equal(cursor, 0);
	feed_str(c, "h-b\r\n", 20);
	assert_int_equal(console_expect_line(c, "^[0-9.]+-[a-z-]+$", &cursor, monotime_now(), &m,
					     &err),
			 0);
	assert_string_equal(m.text, "6.1.192-twinbench-b");
	assert_int_equal(m.t_ns, 10);
	assert_int_equal(cursor, 1);
	console_close(c);
}

static void test_expect_times_out_at_deadline(void **state)
{
	struct console *c = open_fed();
	struct console_match m;
	struct tb_err err = {0};
	size_t cursor = 0;
	int64_t t0 = monotime_now(), t1;

	(void)state;
	feed_str(c, "nothing to see\n", 1);
	assert_int_equal(console_expect(c, "login", &cursor, t0 + 30 * NS_PER_MS, &m, &err),
			 -ETIMEDOUT);
	t1 = monotime_now();
	assert_true(t1 - t0 >= 30 * NS_PER_MS);
	assert_true(t1 - t0 < 2 * NS_PER_S);
	assert_int_equal(cursor, 0);
	console_close(c);
}

static void test_expect_bad_pattern_is_usage_error(void **state)
{
	struct console *c = open_fed();
	struct console_match m;
	struct tb_err err = {0};
	size_t cursor = 0;

	(void)state;
	assert_int_equal(console_expect(c, "(unclosed", &cursor, monotime_now(), &m, &err),
			 -EINVAL);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "(unclosed"));
	/* regerror()'s text follows the pattern. */
	assert_true(strlen(strstr(err.msg, "(unclosed")) > strlen("(unclosed\": "));
	console_close(c);
}

struct late_feed {
	struct console *c;
	const char *text;
};

static void *feed_later(void *arg)
{
	struct late_feed *lf = arg;

	monotime_sleep_until(monotime_now() + 50 * NS_PER_MS);
	feed_str(lf->c, lf->text, monotime_now());
	return NULL;
}

static void test_expect_wakes_when_line_arrives_from_other_thread(void **state)
{
	struct console *c = open_fed();
	struct late_feed lf = {c, "reboot: Restarting system\r\n"};
	struct console_match m;
	struct tb_err err = {0};
	size_t cursor = console_cursor(c);
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, feed_later, &lf), 0);
	assert_int_equal(
	    console_expect(c, "Restarting", &cursor, monotime_now() + WAIT_NS, &m, &err), 0);
	pthread_join(t, NULL);
	assert_string_equal(m.text, "reboot: Restarting system");
	console_close(c);
}

static void test_tail_joins_last_lines_and_unfinished_one(void **state)
{
	struct console *c = open_fed();
	char *s;

	(void)state;
	s = console_tail(c, 5);
	assert_string_equal(s, "");
	free(s);

	feed_str(c, "a\n\nc\n", 1);
	s = console_tail(c, 2);
	assert_string_equal(s, "\nc");
	free(s);

	feed_str(c, "d", 2);
	s = console_tail(c, 10);
	assert_string_equal(s, "a\n\nc\nd");
	free(s);
	s = console_tail(c, 0);
	assert_string_equal(s, "d");
	free(s);
	console_close(c);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = calloc(1, 4096);

	assert_non_null(f);
	assert_non_null(s);
	assert_true(fread(s, 1, 4095, f) < 4095);
	fclose(f);
	return s;
}

static void test_log_lines_are_seconds_dot_nanoseconds_text(void **state)
{
	char path[] = "/tmp/test_console_log.XXXXXX";
	struct tb_err err = {0};
	struct console *c;
	char *s;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old\n", 4), 4);
	close(fd);

	c = console_open("b", path, NULL, NULL, &err);
	assert_non_null(c);
	feed_str(c, "first line\r\nsec", 1500000000LL);
	feed_str(c, "ond\r\nunfinished", 12 * NS_PER_S + 7);
	/* Flushed after every feed, before close. */
	s = read_file(path);
	assert_string_equal(s, "old\n1.500000000 first line\n1.500000000 second\n");
	free(s);
	feed_str(c, "\n", 13 * NS_PER_S);
	console_close(c);

	s = read_file(path);
	assert_string_equal(s, "old\n1.500000000 first line\n1.500000000 second\n"
			       "12.000000007 unfinished\n");
	free(s);
	unlink(path);
}

/* A guest cut off mid-line (the run ended, the domain went) still leaves what it said. */
static void test_close_logs_the_unfinished_line(void **state)
{
	char path[] = "/tmp/test_console_log.XXXXXX";
	struct tb_err err = {0};
	struct console *c;
	char *s;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	c = console_open("b", path, NULL, NULL, &err);
	assert_non_null(c);
	feed_str(c, "done\r\ntwinbench-agent: ready rel", 2 * NS_PER_S);
	feed_str(c, "ease=6.1", 3 * NS_PER_S);
	console_close(c);
	s = read_file(path);
	assert_string_equal(s, "2.000000000 done\n2.000000000 twinbench-agent: ready release=6.1\n");
	free(s);
	unlink(path);
}

/*
 * The kernel printed its records in the middle of B's ready line (seen in a
 * twin-boot run): the line is put back together in its place, before the
 * records, stamped with its first byte; the records keep their own times.
 */
static void test_kernel_records_cutting_a_line_are_taken_out_of_it(void **state)
{
	char path[] = "/tmp/test_console_log.XXXXXX";
	struct tb_err err = {0};
	struct console_match m;
	size_t cursor = 0;
	struct console *c;
	char *s;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	c = console_open("b", path, NULL, NULL, &err);
	assert_non_null(c);
	feed_str(c, "twinbench", 1 * NS_PER_MS);
	feed_str(c, "[    1.798293] tsc: Refined\r\n", 2 * NS_PER_MS);
	feed_str(c, "[    1.801543] clocksource: tsc\r\n-b: ready releas", 3 * NS_PER_MS);
	/* Not whole yet: no piece of it matches as a line ... */
	assert_int_equal(console_expect_line(c, "ready", &cursor, monotime_now(), &m, &err),
			 -ETIMEDOUT);
	/* ... but its pieces so far are the unfinished line. */
	assert_int_equal(console_expect(c, "^twinbench-b: ready releas$", &(size_t){0},
					monotime_now(), &m, &err),
			 0);
	assert_int_equal(m.index, 0);
	feed_str(c, "[    1.809546] clocksource: Switched\r\n", 5 * NS_PER_MS);
	feed_str(c, "e=6.1 cpus=1\r\n", 6 * NS_PER_MS);

	assert_int_equal(console_cursor(c), 4);
	assert_line(c, 0, "twinbench-b: ready release=6.1 cpus=1", 1 * NS_PER_MS);
	assert_line(c, 1, "[    1.798293] tsc: Refined", 2 * NS_PER_MS);
	assert_line(c, 2, "[    1.801543] clocksource: tsc", 3 * NS_PER_MS);
	assert_line(c, 3, "[    1.809546] clocksource: Switched", 5 * NS_PER_MS);
	assert_int_equal(console_expect(c, "^twinbench-b: ready release=[^ ]+ cpus=1$", &cursor,
					monotime_now(), &m, &err),
			 0);
	assert_int_equal(m.index, 0);
	/* What the kernel said after the line started is still ahead of the cursor. */
	assert_int_equal(console_expect(c, "Switched", &cursor, monotime_now(), &m, &err), 0);
	assert_int_equal(m.index, 3);
	console_close(c);

	/* The log has each line once: the records as they came, the line once whole. */
	s = read_file(path);
	assert_string_equal(s, "0.002000000 [    1.798293] tsc: Refined\n"
			       "0.003000000 [    1.801543] clocksource: tsc\n"
			       "0.005000000 [    1.809546] clocksource: Switched\n"
			       "0.001000000 twinbench-b: ready release=6.1 cpus=1\n");
	free(s);
	unlink(path);
}

/* A long burst of records keeps the cut line open: what counts is the gap after the last. */
static void test_cut_line_waits_through_a_burst_of_records(void **state)
{
	struct console *c = open_fed();

	(void)state;
	feed_str(c, "twinbench: kernel 6.1 let go", 0);
	for (int i = 1; i <= 4; i++)
		feed_str(c, "[    9.832740] twin_kernel: parking\r\n", i * 400 * NS_PER_MS);
	feed_str(c, " of the service\r\n", 1700 * NS_PER_MS);
	assert_int_equal(console_cursor(c), 5);
	assert_line(c, 0, "twinbench: kernel 6.1 let go of the service", 0);
	assert_line(c, 4, "[    9.832740] twin_kernel: parking", 1600 * NS_PER_MS);
	console_close(c);
}

/* A waiting expect sees the cut line as soon as its rest arrives. */
static void *feed_rest_later(void *arg)
{
	struct timespec d = {0, 50 * 1000 * 1000};

	nanosleep(&d, NULL);
	feed_str(arg, "ady\r\n", 3 * NS_PER_MS);
	return NULL;
}

static void test_expect_waiting_on_a_cut_line_wakes_when_it_is_whole(void **state)
{
	struct console *c = open_fed();
	struct console_match m;
	struct tb_err err = {0};
	size_t cursor = 0;
	pthread_t t;

	(void)state;
	feed_str(c, "b: re[    2.000000] virtio_net virtio0\r\n", 1 * NS_PER_MS);
	assert_int_equal(pthread_create(&t, NULL, feed_rest_later, c), 0);
	assert_int_equal(console_expect_line(c, "^b: ready$", &cursor, monotime_now() + WAIT_NS,
					     &m, &err),
			 0);
	pthread_join(t, NULL);
	assert_int_equal(m.index, 0);
	assert_int_equal(cursor, 1);
	console_close(c);
}

/*
 * A prompt followed by a kernel record stays the unfinished line; what is
 * typed much later is a line of its own.  Bracketed text that is no kernel
 * record (a terminal query, a job number) cuts nothing.
 */
static void test_prompt_cut_by_a_record_stays_the_unfinished_line(void **state)
{
	struct console *c = open_fed();
	struct console_match m;
	struct tb_err err = {0};
	size_t cursor = 0;

	(void)state;
	feed_str(c, "twinbench-a# ", 1 * NS_PER_MS);
	feed_str(c, "[    9.833936] twin_kernel: CPU 0 parks\r\n", 2 * NS_PER_MS);
	assert_int_equal(console_expect(c, "^twinbench-a# $", &cursor, monotime_now(), &m, &err),
			 0);
	assert_int_equal(m.index, 0);
	assert_int_equal(m.t_ns, 1 * NS_PER_MS);
	assert_int_equal(console_expect_line(c, "parks$", &cursor, monotime_now(), &m, &err), 0);
	assert_int_equal(m.index, 1);

	feed_str(c, "\x1b[6nuname -r [1] 12.5] x\r\n", 2 * NS_PER_S);
	assert_int_equal(console_cursor(c), 3);
	assert_line(c, 0, "twinbench-a# ", 1 * NS_PER_MS);
	assert_line(c, 2, "\x1b[6nuname -r [1] 12.5] x", 2 * NS_PER_S);
	console_close(c);
}

/* The guest's QEMU went away: a waiting expect ends at once, saying so, not at its deadline. */
static int watch_calls;

static const char *watch_gone_on_second_call(void *ctx)
{
	(void)ctx;
	return ++watch_calls >= 2 ? "the guest is gone" : NULL;
}

static void test_watch_ends_a_wait_for_a_guest_that_is_gone(void **state)
{
	struct console *c = open_fed();
	struct console_match m;
	struct tb_err err = {0};
	size_t cursor = 0;
	int64_t start = monotime_now();

	(void)state;
	watch_calls = 0;
	console_set_watch(c, watch_gone_on_second_call, NULL);
	feed_str(c, "booting\n", 1);
	assert_int_equal(console_expect_line(c, "^ready$", &cursor, start + 60 * NS_PER_S, &m, &err),
			 -EPIPE);
	assert_int_equal(watch_calls, 2);
	assert_string_equal(err.msg, "console a: the guest is gone");
	assert_int_equal(cursor, 0);
	console_close(c);
}

static void test_open_fails_on_unwritable_log(void **state)
{
	struct tb_err err = {0};

	(void)state;
	assert_null(console_open("a", "/nonexistent-dir/console.log", NULL, NULL, &err));
	assert_int_equal(err.exit, TB_EXIT_ENV);
	assert_non_null(strstr(err.msg, "/nonexistent-dir/console.log"));
}

static void test_send_without_connection_is_enotconn(void **state)
{
	struct console *c = open_fed();
	struct tb_err err = {0};

	(void)state;
	assert_int_equal(console_send(c, "x", 1, &err), -ENOTCONN);
	assert_int_equal(err.exit, TB_EXIT_ENV);
	console_close(c);
}

/* Read exactly @len bytes or fail within WAIT_NS. */
static ssize_t read_full(int fd, char *buf, size_t len)
{
	int64_t deadline = monotime_now() + WAIT_NS;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - monotime_now();

		if (left <= 0 || poll(&pfd, 1, (int)(left / NS_PER_MS)) <= 0)
			break;
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

/* Hands out one end of a socketpair once, then refuses. */
struct pair_dial {
	int fd;
	int dials;
};

static int dial_pair(void *ctx)
{
	struct pair_dial *pd = ctx;
	int fd = pd->fd;

	__atomic_add_fetch(&pd->dials, 1, __ATOMIC_SEQ_CST);
	pd->fd = -1;
	return fd >= 0 ? fd : -ECONNREFUSED;
}

/*
 * The relay: a viewer on the unix socket sees what the guest sends, and
 * what it types reaches the guest, while the console keeps its own
 * connection (QEMU's single telnet client).
 */
static void test_relay_lets_a_viewer_watch_and_type(void **state)
{
	char path[] = "/tmp/test_console_relay.sock", buf[256] = "";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pair_dial pd;
	struct tb_err err = {0};
	struct console *c;
	int sv[2], viewer;
	size_t got = 0;
	int64_t deadline;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pd.fd = sv[1];
	pd.dials = 0;
	c = console_open("a", NULL, dial_pair, &pd, &err);
	assert_non_null(c);
	assert_int_equal(console_wait_connected(c, monotime_now() + WAIT_NS), 0);
	assert_int_equal(console_serve(c, path, &err), 0);

	viewer = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(viewer, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* The viewer is registered by the relay thread: the guest repeats itself until seen. */
	deadline = monotime_now() + WAIT_NS;
	while (!strstr(buf, "guest says hi") && monotime_now() < deadline) {
		struct pollfd pfd = {.fd = viewer, .events = POLLIN};
		ssize_t n;

		assert_int_equal(write(sv[0], "guest says hi\r\n", 15), 15);
		if (poll(&pfd, 1, 20) == 1 && (n = read(viewer, buf + got, sizeof(buf) - got - 1)) > 0)
			got += (size_t)n;
		buf[got] = '\0';
	}
	assert_non_null(strstr(buf, "guest says hi\r\n"));
	/* Keystrokes go to the guest. */
	assert_int_equal(write(viewer, "uname -r\n", 9), 9);
	assert_int_equal(read_full(sv[0], buf, 9), 9);
	assert_memory_equal(buf, "uname -r\n", 9);
	/* The console's own lines are unaffected. */
	assert_true(console_cursor(c) >= 1);

	console_close(c);
	/* Closed: the socket is gone and the viewer, past what was in flight, sees the end. */
	assert_int_not_equal(access(path, F_OK), 0);
	{
		ssize_t n;

		while ((n = read(viewer, buf, sizeof(buf))) > 0)
			;
		assert_int_equal(n, 0);
	}
	close(viewer);
	close(sv[0]);
}

static void test_negotiation_accepts_echo_sga_and_refuses_the_rest(void **state)
{
	static const char offer[] =
	    IAC WILL OPT_ECHO IAC WILL OPT_SGA IAC DO OPT_TTYPE IAC WILL OPT_NAWS;
	static const char reply[] =
	    IAC DO OPT_ECHO IAC DO OPT_SGA IAC WONT OPT_TTYPE IAC DONT OPT_NAWS;
	struct pair_dial pd;
	struct tb_err err = {0};
	struct console *c;
	char buf[64];
	int sv[2], rc;
	int64_t deadline;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pd.fd = sv[1];
	pd.dials = 0;
	c = console_open("a", NULL, dial_pair, &pd, &err);
	assert_non_null(c);
	assert_int_equal(console_wait_connected(c, monotime_now() + WAIT_NS), 0);

	assert_int_equal(write(sv[0], offer, sizeof(offer) - 1), sizeof(offer) - 1);
	assert_int_equal(read_full(sv[0], buf, sizeof(reply) - 1), sizeof(reply) - 1);
	assert_memory_equal(buf, reply, sizeof(reply) - 1);

	/* Once the peer is gone the console says so, and keeps redialling. */
	close(sv[0]);
	deadline = monotime_now() + WAIT_NS;
	do {
		rc = console_send(c, "x", 1, &err);
		if (rc != -ENOTCONN)
			monotime_sleep_until(monotime_now() + NS_PER_MS);
	} while (rc != -ENOTCONN && monotime_now() < deadline);
	assert_int_equal(rc, -ENOTCONN);
	monotime_sleep_until(monotime_now() + 100 * NS_PER_MS);
	assert_true(__atomic_load_n(&pd.dials, __ATOMIC_SEQ_CST) >= 3);
	console_close(c);
}

/* A send that a guest never reads, made on another thread (the step program's). */
struct stuck_send {
	struct console *c;
	const char *text;
	size_t len;
	int64_t deadline_ns;
	int rc;
	int64_t returned_ns;
	bool done;
	struct tb_err err;
};

static void *send_stuck(void *arg)
{
	struct stuck_send *s = arg;

	s->rc = console_send_until(s->c, s->text, s->len, s->deadline_ns, &s->err);
	s->returned_ns = monotime_now();
	__atomic_store_n(&s->done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Read and drop what the console sends until @want is seen at the end of it. */
struct drain {
	int fd;
	const char *want;
	bool seen;
};

static void *drain_until(void *arg)
{
	struct drain *d = arg;
	size_t want_len = strlen(d->want), kept = 0;
	char tail[64] = "", buf[4096];
	int64_t deadline = monotime_now() + WAIT_NS;

	while (!d->seen && monotime_now() < deadline) {
		struct pollfd pfd = {.fd = d->fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(d->fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		/* Keep the last bytes seen, enough to find @want across reads. */
		for (ssize_t i = 0; i < n; i++) {
			if (kept == sizeof(tail) - 1) {
				memmove(tail, tail + 1, kept - 1);
				kept--;
			}
			tail[kept++] = buf[i];
		}
		tail[kept] = '\0';
		d->seen = kept >= want_len && !strcmp(tail + kept - want_len, d->want);
	}
	return NULL;
}

/*
 * A guest that stops reading its UART fills the socket: a send must give up
 * at its deadline, saying what it waited for, and meanwhile the reader must
 * go on stamping what the guest prints (it shares the telnet lock with the
 * sender).  When the guest reads again, what was queued goes out whole and
 * in order, before what is typed next.
 */
static void test_send_to_a_guest_that_never_reads_gives_up_and_lines_keep_coming(void **state)
{
	size_t big = 4 << 20; /* far more than any socket buffer holds */
	struct stuck_send s = {0};
	struct console_match m;
	struct tb_err err = {0};
	struct pair_dial pd;
	struct drain d;
	struct console *c;
	size_t cursor;
	pthread_t t;
	char *text;
	int sv[2];

	(void)state;
	text = malloc(big);
	assert_non_null(text);
	memset(text, 'x', big);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pd.fd = sv[1];
	pd.dials = 0;
	c = console_open("a", NULL, dial_pair, &pd, &err);
	assert_non_null(c);
	assert_int_equal(console_wait_connected(c, monotime_now() + WAIT_NS), 0);
	cursor = console_cursor(c);

	s = (struct stuck_send){
	    .c = c, .text = text, .len = big, .deadline_ns = monotime_now() + 1 * NS_PER_S};
	assert_int_equal(pthread_create(&t, NULL, send_stuck, &s), 0);
	/* The sender is stuck by now; the guest prints while it is. */
	monotime_sleep_until(monotime_now() + 200 * NS_PER_MS);
	assert_int_equal(write(sv[0], "still here\r\n", 12), 12);
	assert_int_equal(
	    console_expect(c, "^still here$", &cursor, monotime_now() + 500 * NS_PER_MS, &m, &err),
	    0);
	assert_false(__atomic_load_n(&s.done, __ATOMIC_SEQ_CST));
	assert_true(m.t_ns < s.deadline_ns);

	pthread_join(t, NULL);
	assert_int_equal(s.rc, -ETIMEDOUT);
	assert_true(s.returned_ns >= s.deadline_ns);
	assert_true(s.returned_ns < s.deadline_ns + 500 * NS_PER_MS);
	assert_int_equal(s.err.exit, TB_EXIT_CHECK);
	assert_non_null(strstr(s.err.msg, "console a"));
	assert_non_null(strstr(s.err.msg, "waiting for the guest to read its serial console"));

	/* The guest reads again: the rest of the queue, then the next command, arrive. */
	d = (struct drain){.fd = sv[0], .want = "x\r\nuname -r\r\n"};
	assert_int_equal(pthread_create(&t, NULL, drain_until, &d), 0);
	assert_int_equal(
	    console_send_until(c, "\r\nuname -r\r\n", 12, monotime_now() + WAIT_NS, &err), 0);
	pthread_join(t, NULL);
	assert_true(d.seen);

	console_close(c);
	close(sv[0]);
	free(text);
}

static int dial_refused(void *ctx)
{
	(void)ctx;
	return -ECONNREFUSED;
}

static void test_close_stops_redialling_reader_promptly(void **state)
{
	struct tb_err err = {0};
	struct console *c = console_open("a", NULL, dial_refused, NULL, &err);
	int64_t t0;

	(void)state;
	assert_non_null(c);
	t0 = monotime_now();
	assert_int_equal(console_wait_connected(c, t0 + 50 * NS_PER_MS), -ETIMEDOUT);
	assert_true(monotime_now() - t0 >= 50 * NS_PER_MS);
	t0 = monotime_now();
	console_close(c);
	assert_true(monotime_now() - t0 < 500 * NS_PER_MS);
}

/*
 * A loopback telnet server that serves two connections, the way QEMU does
 * across a guest reboot seen from the console: the first one ends in the
 * middle of a line, the second one finishes it and then records what the
 * console sends.
 */
struct telnet_server {
	int lfd;
	int port;
	const char *want; /* bytes to wait for on the second connection */
	size_t want_len;
	char first_reply[6];
	size_t first_reply_len;
	char got[256];
	size_t got_len;
	int accepted;
};

static void send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len && (n = send(fd, buf, len, MSG_NOSIGNAL)) > 0) {
		buf += n;
		len -= n;
	}
}

static void *telnet_server_run(void *arg)
{
	static const char conn1[] = IAC WILL OPT_ECHO IAC WILL OPT_SGA "first\r\npartial-";
	static const char conn2[] = IAC WILL OPT_ECHO "rest\r\nsecond\r\n";
	struct telnet_server *s = arg;
	int fd;
	ssize_t n;

	fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	s->accepted++;
	send_all(fd, conn1, sizeof(conn1) - 1);
	/* Read the replies before closing, or the close would be a reset. */
	s->first_reply_len = read_full(fd, s->first_reply, sizeof(s->first_reply));
	close(fd);

	fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	s->accepted++;
	send_all(fd, conn2, sizeof(conn2) - 1);
	while (s->got_len < sizeof(s->got) && !memmem(s->got, s->got_len, s->want, s->want_len)) {
		n = read_full(fd, s->got + s->got_len, 1);
		if (n <= 0)
			break;
		s->got_len += n;
	}
	close(fd);
	return NULL;
}

static int dial_loopback(void *ctx)
{
	struct telnet_server *s = ctx;
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(s->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static void test_reconnect_keeps_unfinished_line_and_send_escapes_iac(void **state)
{
	static const char payload[] = "echo \xff\r";
	static const char wire[] = "echo " IAC IAC "\r";
	struct telnet_server s = {.want = wire, .want_len = sizeof(wire) - 1};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sin);
	struct console_match m;
	struct tb_err err = {0};
	struct console *c;
	size_t cursor = 0;
	pthread_t t;

	(void)state;
	s.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s.lfd >= 0);
	assert_int_equal(bind(s.lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s.lfd, 4), 0);
	assert_int_equal(getsockname(s.lfd, (struct sockaddr *)&sin, &slen), 0);
	s.port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&t, NULL, telnet_server_run, &s), 0);

	c = console_open("a", NULL, dial_loopback, &s, &err);
	assert_non_null(c);
	assert_int_equal(console_expect(c, "^second$", &cursor, monotime_now() + WAIT_NS, &m, &err),
			 0);
	assert_int_equal(m.index, 2);
	assert_int_equal(console_send(c, payload, sizeof(payload) - 1, &err), 0);
	pthread_join(t, NULL);

	assert_int_equal(s.accepted, 2);
	assert_int_equal(console_reconnects(c), 1);
	assert_int_equal(s.first_reply_len, 6);
	assert_memory_equal(s.first_reply, IAC DO OPT_ECHO IAC DO OPT_SGA, 6);
	assert_non_null(memmem(s.got, s.got_len, wire, sizeof(wire) - 1));
	assert_line(c, 0, "first", -1);
	assert_line(c, 1, "partial-rest", -1);
	assert_line(c, 2, "second", -1);
	console_close(c);
	close(s.lfd);
}

struct redial_ctx {
	int port; /* what the next dial connects to */
};

static int dial_port(void *ctx)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(__atomic_load_n(&((struct redial_ctx *)ctx)->port,
								    __ATOMIC_ACQUIRE)),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* A listening socket on a free loopback port, its port into *@port. */
static int listener(int *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Accept on @lfd within 5 s. */
static int accept_within(int lfd)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	assert_int_equal(poll(&p, 1, 5000), 1);
	return accept(lfd, NULL, NULL);
}

/* A port that was someone else's: after a redial the console talks to the new one. */
static void test_redial_leaves_a_wrong_port_for_the_new_one(void **state)
{
	struct redial_ctx ctx;
	int wrong_l = listener(&ctx.port), right_port, right_l = listener(&right_port);
	struct console_match m;
	struct tb_err err = {0};
	struct console *c;
	size_t cursor = 0;
	int wrong, right;
	char buf[8];

	(void)state;
	c = console_open("a", NULL, dial_port, &ctx, &err);
	assert_non_null(c);
	wrong = accept_within(wrong_l);
	send_all(wrong, "wrong\r\n", 7);
	assert_int_equal(console_expect(c, "^wrong$", &cursor, monotime_now() + WAIT_NS, &m, &err), 0);
	/* Connected, but by the first connection: not a newer one. */
	assert_int_equal(console_connections(c), 1);
	assert_int_equal(console_wait_connected_after(c, 1, monotime_now() + 50 * NS_PER_MS),
			 -ETIMEDOUT);

	__atomic_store_n(&ctx.port, right_port, __ATOMIC_RELEASE);
	console_redial(c);
	/* The wrong one is hung up on... */
	assert_int_equal(read_full(wrong, buf, sizeof(buf)), 0);
	/* ... and the right one dialled. */
	right = accept_within(right_l);
	assert_int_equal(console_wait_connected_after(c, 1, monotime_now() + WAIT_NS), 0);
	send_all(right, "right\r\n", 7);
	assert_int_equal(console_expect(c, "^right$", &cursor, monotime_now() + WAIT_NS, &m, &err), 0);
	assert_int_equal(console_reconnects(c), 1);
	console_close(c);
	close(wrong);
	close(right);
	close(wrong_l);
	close(right_l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_iac_split_at_every_byte_yields_same_lines),
	    cmocka_unit_test(test_iac_one_byte_at_a_time_yields_same_lines),
	    cmocka_unit_test(test_line_stamped_with_first_byte_arrival),
	    cmocka_unit_test(test_long_line_split_at_4095_bytes),
	    cmocka_unit_test(test_line_of_exactly_4095_bytes_stays_one_line),
	    cmocka_unit_test(test_line_copy_truncates_to_match_text),
	    cmocka_unit_test(test_expect_matches_completed_line_and_advances_cursor),
	    cmocka_unit_test(test_expect_matches_unfinished_prompt_once),
	    cmocka_unit_test(test_expect_line_waits_for_the_whole_line),
	    cmocka_unit_test(test_expect_times_out_at_deadline),
	    cmocka_unit_test(test_expect_bad_pattern_is_usage_error),
	    cmocka_unit_test(test_expect_wakes_when_line_arrives_from_other_thread),
	    cmocka_unit_test(test_tail_joins_last_lines_and_unfinished_one),
	    cmocka_unit_test(test_log_lines_are_seconds_dot_nanoseconds_text),
	    cmocka_unit_test(test_close_logs_the_unfinished_line),
	    cmocka_unit_test(test_kernel_records_cutting_a_line_are_taken_out_of_it),
	    cmocka_unit_test(test_cut_line_waits_through_a_burst_of_records),
	    cmocka_unit_test(test_expect_waiting_on_a_cut_line_wakes_when_it_is_whole),
	    cmocka_unit_test(test_prompt_cut_by_a_record_stays_the_unfinished_line),
	    cmocka_unit_test(test_watch_ends_a_wait_for_a_guest_that_is_gone),
	    cmocka_unit_test(test_relay_lets_a_viewer_watch_and_type),
	    cmocka_unit_test(test_open_fails_on_unwritable_log),
	    cmocka_unit_test(test_send_without_connection_is_enotconn),
	    cmocka_unit_test(test_negotiation_accepts_echo_sga_and_refuses_the_rest),
	    cmocka_unit_test(test_send_to_a_guest_that_never_reads_gives_up_and_lines_keep_coming),
	    cmocka_unit_test(test_close_stops_redialling_reader_promptly),
	    cmocka_unit_test(test_reconnect_keeps_unfinished_line_and_send_escapes_iac),
	    cmocka_unit_test(test_redial_leaves_a_wrong_port_for_the_new_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
