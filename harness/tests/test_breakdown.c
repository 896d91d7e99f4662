/*
 * test_breakdown.c - a twin handoff's breakdown from its agents' lines:
 * parsing them, pairing A's and B's on a console, ordering a chain's,
 * and B's takeover of the rest of A given to the handoff before it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
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

static void test_a_takeover_line_parses(void **state)
{
	struct breakdown_side s;
	char text[256];

	(void)state;
	assert_int_equal(breakdown_parse_line("twinbench-b: takeover steps begun=0 parked=1800000 "
					      "cpus=125000000 memory=200000000 console=250000000",
					      &s),
			 't');
	assert_int_equal(s.nsteps, 5);
	breakdown_format(&s, text, sizeof(text));
	assert_string_equal(text, "parked 1.80, cpus 123.20, memory 75.00, console 50.00");
	assert_true(breakdown_total(&s) == 250000000);
	assert_int_equal(breakdown_parse_line("twinbench-b: takeover steps begun=x", &s), -1);
	assert_int_equal(breakdown_parse_line("twinbench-b: takeover done cpus=2", &s), 0);
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

/* Consoles a and b, fed by hand. */
struct pair {
	struct console *con[2];
};

static int pair_setup(void **state)
{
	struct pair *t = calloc(1, sizeof(*t));
	struct tb_err err;

	if (!t)
		return -1;
	t->con[0] = console_open("a", NULL, NULL, NULL, &err);
	t->con[1] = console_open("b", NULL, NULL, NULL, &err);
	*state = t;
	return t->con[0] && t->con[1] ? 0 : -1;
}

static int pair_teardown(void **state)
{
	struct pair *t = *state;

	for (int i = 0; i < 2; i++)
		if (t->con[i])
			console_close(t->con[i]);
	free(t);
	return 0;
}

/* A chain: the first handoff prints on console b, the second on console a, later. */
static void test_handoffs_are_paired_per_console_and_ordered_in_time(void **state)
{
	struct pair *t = *state;
	struct console **con = t->con;
	struct repetition rep;

	memset(&rep, 0, sizeof(rep));
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
}

/*
 * B's takeover line goes with the handoff B's agent closed on the same
 * console just before; one with no handoff before it goes nowhere.
 */
static void test_a_takeover_goes_with_its_handoff(void **state)
{
	struct pair *t = *state;
	struct console **con = t->con;
	struct repetition rep;

	memset(&rep, 0, sizeof(rep));
	/* A chain: B's handoff and takeover on console b, then C's on console a. */
	feed(con[1], 1 * NS_PER_S, "twinbench-b: takeover steps begun=0 cpus=7");
	feed(con[1], 2 * NS_PER_S, "twinbench-agent: handoff a request=0 ready=100");
	feed(con[1], 3 * NS_PER_S, "twinbench-agent: handoff b seen=0 reply=2000");
	feed(con[1], 4 * NS_PER_S, "twinbench-b: the kernel before let go");
	feed(con[1], 5 * NS_PER_S, "twinbench-b: takeover steps begun=0 parked=10 cpus=500");
	feed(con[0], 6 * NS_PER_S, "twinbench-agent: handoff a request=0 ready=200");
	feed(con[0], 7 * NS_PER_S, "twinbench-agent: handoff b seen=0 reply=3000");

	breakdown_collect(con, &rep);
	assert_int_equal(rep.nbreakdowns, 2);
	assert_int_equal(rep.breakdowns[0].rest.nsteps, 3);
	assert_true(breakdown_total(&rep.breakdowns[0].rest) == 500);
	/* C did not say how its takeover went (yet): none. */
	assert_int_equal(rep.breakdowns[1].rest.nsteps, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_line_gives_each_step_in_order),
		cmocka_unit_test(test_a_b_line_with_a_carriage_return_parses),
		cmocka_unit_test(test_a_takeover_line_parses),
		cmocka_unit_test(test_other_lines_are_not_breakdowns),
		cmocka_unit_test(test_malformed_breakdown_lines_are_refused),
		cmocka_unit_test_setup_teardown(test_handoffs_are_paired_per_console_and_ordered_in_time,
						pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(test_a_takeover_goes_with_its_handoff, pair_setup,
						pair_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
