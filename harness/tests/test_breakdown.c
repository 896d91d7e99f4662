/*
 * test_breakdown.c - a twin handoff's breakdown from its agents' lines:
 * parsing them, pairing A's and B's on a console, ordering a chain's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "breakdown.h"
#include "console.h"
#include "monotime.h"

static void test_a_line_gives_each_step_in_order(void **state)
{
	struct breakdown_side s;

	(void)state;
	assert_int_equal(breakdown_parse_line("twinbench-agent: handoff a request=0 stopped=41000 "
					      "written=52000 released=12000000 ready=12100000",
					      &s),
			 'a');
	assert_int_equal(s.nsteps, 5);
	assert_string_equal(s.name[0], "request");
	assert_string_equal(s.name[4], "ready");
	assert_true(s.ns[3] == 12000000);
	assert_true(breakdown_step(&s, "written") == 52000);
	assert_true(breakdown_step(&s, "seen") == -1);
	assert_true(breakdown_total(&s) == 12100000);
}

static void test_a_b_line_with_a_carriage_return_parses(void **state)
{
	struct breakdown_side s;
	char text[256];

	(void)state;
	assert_int_equal(breakdown_parse_line("twinbench-agent: handoff b seen=0 nic=18000000 "
					      "reply=25000000\r",
					      &s),
			 'b');
	assert_int_equal(s.nsteps, 3);
	breakdown_format(&s, text, sizeof(text));
	assert_string_equal(text, "nic 18.00, reply 7.00");
}

static void test_other_lines_are_not_breakdowns(void **state)
{
	struct breakdown_side s;

	(void)state;
	assert_int_equal(breakdown_parse_line("twinbench-agent: ready release=x", &s), 0);
	assert_int_equal(breakdown_parse_line("twinbench-agent: handoff c seen=0", &s), 0);
	assert_int_equal(breakdown_parse_line("[ 1.0] twin_kernel: handoff", &s), 0);
}

static void test_malformed_breakdown_lines_are_refused(void **state)
{
	static const char *const bad[] = {
		"twinbench-agent: handoff a ",
		"twinbench-agent: handoff a request=",
		"twinbench-agent: handoff a request=x",
		"twinbench-agent: handoff a request=-5",
		"twinbench-agent: handoff a =5",
		"twinbench-agent: handoff a request=5x",
		"twinbench-agent: handoff a a_step_name_that_is_too_long=5",
		"twinbench-agent: handoff a s1=1 s2=2 s3=3 s4=4 s5=5 s6=6 s7=7 s8=8 s9=9",
	};
	struct breakdown_side s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (breakdown_parse_line(bad[i], &s) != -1)
			fail_msg("accepted: %s", bad[i]);
}

static void feed(struct console *c, int64_t t, const char *line)
{
	console_feed(c, line, strlen(line), t);
	console_feed(c, "\r\n", 2, t);
}

/* A chain: the first handoff prints on console b, the second on console a, later. */
static void test_handoffs_are_paired_per_console_and_ordered_in_time(void **state)
{
	struct tb_err err;
	struct console *con[2] = { console_open("a", NULL, NULL, NULL, &err),
				   console_open("b", NULL, NULL, NULL, &err) };
	struct repetition rep;

	(void)state;
	memset(&rep, 0, sizeof(rep));
	assert_non_null(con[0]);
	assert_non_null(con[1]);
	feed(con[0], 5 * NS_PER_S, "twinbench-agent: handoff a request=0 ready=200");
	feed(con[0], 6 * NS_PER_S, "twinbench-agent: handoff b seen=0 reply=3000");
	feed(con[1], 1 * NS_PER_S, "twinbench-agent: handoff a request=0 ready=100");
	feed(con[1], 1 * NS_PER_S, "some other line");
	feed(con[1], 2 * NS_PER_S, "twinbench-agent: handoff b seen=0 reply=2000");
	/* A lone "b" line (no "a" before it) is no handoff. */
	feed(con[1], 3 * NS_PER_S, "twinbench-agent: handoff b seen=0 reply=9");

	breakdown_collect(con, &rep);
	assert_int_equal(rep.nbreakdowns, 2);
	assert_true(breakdown_total(&rep.breakdowns[0].a) == 100);
	assert_true(breakdown_total(&rep.breakdowns[0].b) == 2000);
	assert_true(breakdown_total(&rep.breakdowns[1].a) == 200);
	assert_true(breakdown_total(&rep.breakdowns[1].b) == 3000);
	console_close(con[0]);
	console_close(con[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_line_gives_each_step_in_order),
		cmocka_unit_test(test_a_b_line_with_a_carriage_return_parses),
		cmocka_unit_test(test_other_lines_are_not_breakdowns),
		cmocka_unit_test(test_malformed_breakdown_lines_are_refused),
		cmocka_unit_test(test_handoffs_are_paired_per_console_and_ordered_in_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
