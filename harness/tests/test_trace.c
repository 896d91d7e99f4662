/*
 * test_trace.c - a run's traces read back for the plots: console stamps,
 * probe rows paired into replies and round trips, and the lookups a
 * timeline makes (its origin, the console lines of a window, the gap).
 *
 * The files are written in a mkdtemp directory, removed afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "monotime.h"
#include "results.h"
#include "testlib.h"
#include "trace.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	return tl_mkdtemp("/tmp/test_trace.XXXXXX", tmpdir, sizeof(tmpdir));
}

static int teardown(void **state)
{
	(void)state;
	return tl_rmtree(tmpdir);
}

static void load(const struct repetition *reps, size_t n, struct run_trace *t)
{
	struct tb_err err;

	if (trace_load(tmpdir, reps, n, t, &err))
		fail_msg("%s", err.msg);
}

static void test_console_stamps_are_sorted_and_unstamped_lines_skipped(void **state)
{
	struct repetition rep = {.index = 1};
	struct run_trace t;

	(void)state;
	/*
	 * Out of order, fewer and more than 9 decimals, no decimals, a stamp
	 * glued to its text, and lines without a stamp.
	 */
	assert_int_equal(tl_write_file(tl_path(tmpdir, "console-a.log"),
				       "20.5 late line\n"
				       "10.000000001 [    0.000000] Linux version\n"
				       "no stamp here\n"
				       "15.1234567899 ten decimals\n"
				       "12.5x glued\n"
				       "30\n"
				       "\n"),
			 0);
	load(&rep, 1, &t);
	assert_int_equal(t.lines[0].n, 4);
	assert_int_equal(t.lines[0].v[0], 10 * NS_PER_S + 1);
	assert_int_equal(t.lines[0].v[1], 15 * NS_PER_S + 123456789);
	assert_int_equal(t.lines[0].v[2], 20 * NS_PER_S + 500 * NS_PER_MS);
	assert_int_equal(t.lines[0].v[3], 30 * NS_PER_S);
	/* No console-b.log, no probe.csv: empty traces, not an error. */
	assert_int_equal(t.lines[1].n, 0);
	assert_int_equal(t.reps[0].replies.n, 0);
	assert_int_equal(t.reps[0].nrtt, 0);
	trace_free(&t, 1);
}

static void test_probe_replies_pair_with_their_requests(void **state)
{
	struct repetition reps[2] = {{.index = 1}, {.index = 2}};
	struct run_trace t;

	(void)state;
	assert_int_equal(tl_write_file(tl_path(tmpdir, "probe.csv"),
				       "event,rep,seq,t_ns,counter,release,boot_id\n"
				       "send,1,0,1000,,,\n"
				       "send,1,1,2000,,,\n"
				       "send,1,2,3000,,,\n"
				       "recv,1,1,2300,1,6.1.0,id\n"
				       "recv,1,0,1400,0,6.1.0,id\n"
				       /* no request: a reply, but no round trip */
				       "recv,1,9,9000,9,6.1.0,id\n"
				       /* before its request: a reply, but no round trip */
				       "recv,1,2,2900,2,6.1.0,id\n"
				       "send,2,0,5000,,,\n"
				       "recv,2,0,5700,0,6.1.0,id\n"
				       /* a repetition run.json does not list, and garbage */
				       "recv,3,0,6000,0,6.1.0,id\n"
				       "recv,x,0,7000,0,6.1.0,id\n"),
			 0);
	load(reps, 2, &t);
	assert_int_equal(t.reps[0].replies.n, 4);
	assert_int_equal(t.reps[0].replies.v[0], 1400);
	assert_int_equal(t.reps[0].replies.v[1], 2300);
	assert_int_equal(t.reps[0].replies.v[2], 2900);
	assert_int_equal(t.reps[0].replies.v[3], 9000);
	/* In reply-row order: seq 1, then seq 0. */
	assert_int_equal(t.reps[0].nrtt, 2);
	assert_true(t.reps[0].rtt[0] == 300.0);
	assert_true(t.reps[0].rtt[1] == 400.0);
	assert_int_equal(t.reps[1].replies.n, 1);
	assert_int_equal(t.reps[1].replies.v[0], 5700);
	assert_int_equal(t.reps[1].nrtt, 1);
	assert_true(t.reps[1].rtt[0] == 700.0);
	trace_free(&t, 2);
}

static void test_origin_is_the_upgrade_start_else_trigger_else_first_phase(void **state)
{
	struct repetition rep = {.index = 1};
	const char *name = "unset";

	(void)state;
	assert_int_equal(trace_first_phase(&rep), INT64_MAX);
	assert_int_equal(trace_origin(&rep, &name), 0);
	assert_null(name);

	repetition_mark(&rep, "boot_ready", 50);
	repetition_mark(&rep, "guest_start", 20);
	assert_int_equal(trace_first_phase(&rep), 20);
	assert_int_equal(trace_origin(&rep, &name), 20);
	assert_string_equal(name, "guest_start");

	repetition_mark(&rep, "trigger", 70);
	assert_int_equal(trace_origin(&rep, &name), 70);
	assert_string_equal(name, "trigger");

	repetition_mark(&rep, "upgrade_start", 90);
	assert_int_equal(trace_origin(&rep, &name), 90);
	assert_string_equal(name, "upgrade_start");
}

static void test_lower_bound_finds_the_first_stamp_at_or_after(void **state)
{
	int64_t v[] = {10, 20, 20, 30};
	struct trace_stamps a = {.v = v, .n = 4, .cap = 4}, none = {0};

	(void)state;
	assert_int_equal(trace_lower_bound(&a, 5), 0);
	assert_int_equal(trace_lower_bound(&a, 10), 0);
	assert_int_equal(trace_lower_bound(&a, 11), 1);
	assert_int_equal(trace_lower_bound(&a, 20), 1);
	assert_int_equal(trace_lower_bound(&a, 30), 3);
	assert_int_equal(trace_lower_bound(&a, 31), 4);
	assert_int_equal(trace_lower_bound(&none, 0), 0);
}

static void test_gap_is_the_pair_the_downtime_was_measured_from(void **state)
{
	/* Gaps of 10, 50 (before the origin), 30 and 40. */
	int64_t v[] = {100, 110, 160, 190, 230};
	struct trace_stamps r = {.v = v, .n = 5, .cap = 5};
	struct repetition rep = {.index = 1, .measured = true, .downtime_ns = 30};
	int64_t start = 0, end = 0;

	(void)state;
	assert_true(trace_find_gap(&rep, &r, 170, &start, &end));
	assert_int_equal(start, 160);
	assert_int_equal(end, 190);

	/* No pair matches the downtime: the longest gap ending at or after the origin. */
	rep.downtime_ns = 35;
	assert_true(trace_find_gap(&rep, &r, 170, &start, &end));
	assert_int_equal(start, 190);
	assert_int_equal(end, 230);
	assert_true(trace_find_gap(&rep, &r, 160, &start, &end));
	assert_int_equal(start, 110);
	assert_int_equal(end, 160);

	/* Nothing ends at or after the origin. */
	assert_false(trace_find_gap(&rep, &r, 231, &start, &end));
}

static void test_no_gap_without_a_measured_downtime(void **state)
{
	int64_t v[] = {100, 130};
	struct trace_stamps r = {.v = v, .n = 2, .cap = 2};
	struct repetition rep = {.index = 1, .measured = false, .downtime_ns = 30};
	int64_t start = 0, end = 0;

	(void)state;
	assert_false(trace_find_gap(&rep, &r, 0, &start, &end));
	rep.measured = true;
	r.n = 1;
	assert_false(trace_find_gap(&rep, &r, 0, &start, &end));
	assert_int_equal(start, 0);
	assert_int_equal(end, 0);
}

/* Every gap longer than five intervals, not only the longest; five exactly is not one. */
static void test_every_gap_longer_than_five_intervals_is_found(void **state)
{
	/* Interval 1000: holes of 6000, 5000 (not longer than five), 25000 and 5001. */
	int64_t v[] = {0, 1000, 2000, 8000, 9000, 14000, 15000, 40000, 41000, 46001};
	struct trace_stamps r = {.v = v, .n = 10, .cap = 10};
	struct trace_gap *gaps;
	size_t n;

	(void)state;
	assert_int_equal(trace_find_gaps(&r, 1000, &gaps, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(gaps[0].start_ns, 2000);
	assert_int_equal(gaps[0].end_ns, 8000);
	assert_int_equal(gaps[1].start_ns, 15000);
	assert_int_equal(gaps[1].end_ns, 40000);
	assert_int_equal(gaps[2].start_ns, 41000);
	assert_int_equal(gaps[2].end_ns, 46001);
	free(gaps);

	/* A coarser probe: only the 25000 hole is more than five intervals of 4000. */
	assert_int_equal(trace_find_gaps(&r, 4000, &gaps, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(gaps[0].start_ns, 15000);
	free(gaps);
}

static void test_no_gaps_in_a_steady_trace(void **state)
{
	int64_t v[] = {0, 1 * NS_PER_MS, 3 * NS_PER_MS, 8 * NS_PER_MS};
	struct trace_stamps r = {.v = v, .n = 4, .cap = 4}, none = {0};
	struct trace_gap *gaps = (void *)1;
	size_t n = 9;

	(void)state;
	/* Interval unknown: 1 ms; the largest hole, 5 ms, is not more than five. */
	assert_int_equal(trace_find_gaps(&r, 0, &gaps, &n), 0);
	assert_null(gaps);
	assert_int_equal(n, 0);
	assert_int_equal(trace_find_gaps(&none, NS_PER_MS, &gaps, &n), 0);
	assert_null(gaps);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_console_stamps_are_sorted_and_unstamped_lines_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_probe_replies_pair_with_their_requests, setup,
					    teardown),
	    cmocka_unit_test(test_origin_is_the_upgrade_start_else_trigger_else_first_phase),
	    cmocka_unit_test(test_lower_bound_finds_the_first_stamp_at_or_after),
	    cmocka_unit_test(test_gap_is_the_pair_the_downtime_was_measured_from),
	    cmocka_unit_test(test_no_gap_without_a_measured_downtime),
	    cmocka_unit_test(test_every_gap_longer_than_five_intervals_is_found),
	    cmocka_unit_test(test_no_gaps_in_a_steady_trace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
