/*
 * test_toolstats.c - a tool's own figures from the console: CRIU's
 * statistics images as the agent reads them, on kexec-criu's new kernel,
 * and the steps of the agents that move a service between guests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "console.h"
#include "monotime.h"
#include "toolstats.h"

/* As the guest prints them (twinbench-upgrade criu-stats), from a kexec-criu run. */
#define DUMP_LINE                                                                        \
	"twinbench: criu stats-dump freezing_time=6515 frozen_time=130686 memdump_time=6853 " \
	"memwrite_time=2580 pages_scanned=309 pages_skipped_parent=0 pages_written=18 "     \
	"irmap_resolve=0 pages_lazy=0 page_pipes=3 page_pipe_bufs=3 shpages_scanned=0 "      \
	"shpages_skipped_parent=0 shpages_written=0"
#define RESTORE_LINE                                                                     \
	"twinbench: criu stats-restore pages_compared=0 pages_skipped_cow=0 forking_time=201 " \
	"restore_time=130450 pages_restored=18"

static void test_a_dump_line_gives_every_figure_by_name(void **state)
{
	struct tool_stats ts;
	char text[1024];

	(void)state;
	assert_int_equal(toolstats_parse_line(DUMP_LINE, &ts), 1);
	assert_string_equal(ts.name, "criu-dump");
	assert_int_equal(ts.n, 14);
	assert_string_equal(ts.key[0], "freezing_time");
	assert_string_equal(ts.key[13], "shpages_written");
	assert_true(toolstats_get(&ts, "frozen_time") == 130686);
	assert_true(toolstats_get(&ts, "pages_written") == 18);
	assert_true(toolstats_get(&ts, "restore_time") == -1);
	toolstats_format(&ts, text, sizeof(text));
	assert_string_equal(text, DUMP_LINE + strlen("twinbench: criu stats-dump "));
}

/* A carriage return may end the line. */
static void test_a_restore_line_with_a_carriage_return_parses(void **state)
{
	struct tool_stats ts;
	char line[1024];

	(void)state;
	snprintf(line, sizeof(line), "%s\r", RESTORE_LINE);
	assert_int_equal(toolstats_parse_line(line, &ts), 1);
	assert_string_equal(ts.name, "criu-restore");
	assert_int_equal(ts.n, 5);
	assert_true(toolstats_get(&ts, "restore_time") == 130450);
	assert_true(toolstats_get(&ts, "pages_restored") == 18);
}

static void test_other_lines_are_not_statistics(void **state)
{
	static const char *const other[] = {
		"twinbench: criu dump done",
		"twinbench: criu restore start",
		"twinbench: criu stats-predump a=1",
		"twinbench: criu stats-dumpx a=1",
		"twinbench-agent: ready release=6.1 boot_id=x counter=0 state=memory",
	};
	struct tool_stats ts;

	(void)state;
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (toolstats_parse_line(other[i], &ts) != 0)
			fail_msg("taken for statistics: %s", other[i]);
}

/* The agent's complaint instead of figures, a figure that is no count: refused. */
static void test_malformed_statistics_lines_are_refused(void **state)
{
	static const char *const bad[] = {
		"twinbench: criu stats-dump ",
		"twinbench: criu stats-dump twinbench-agent: stats-dump: not a CRIU statistics image",
		"twinbench: criu stats-dump frozen_time=-1",
		"twinbench: criu stats-dump frozen_time=1.5",
		"twinbench: criu stats-dump frozen_time=12x",
		"twinbench: criu stats-dump frozen_time=",
		"twinbench: criu stats-dump =12",
		"twinbench: criu stats-dump frozen_time=99999999999999999999",
		"twinbench: criu stats-dump a_name_far_longer_than_thirty_one_bytes=1",
		"twinbench: criu stats-dump a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9 j=10 k=11 l=12 m=13 "
		"n=14 o=15 p=16 q=17",
	};
	struct tool_stats ts;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (toolstats_parse_line(bad[i], &ts) != -1)
			fail_msg("accepted: %s", bad[i]);
}

static void feed(struct console *c, int64_t t, const char *line)
{
	console_feed(c, line, strlen(line), t);
	console_feed(c, "\r\n", 2, t);
}

static void test_collect_takes_the_lines_in_order_and_leaves_malformed_ones_out(void **state)
{
	struct tb_err err;
	struct console *con[2] = { console_open("a", NULL, NULL, NULL, &err), NULL };
	struct repetition rep;

	(void)state;
	memset(&rep, 0, sizeof(rep));
	assert_non_null(con[0]);
	feed(con[0], 1 * NS_PER_S, "twinbench: criu restore done (pid 212)");
	feed(con[0], 2 * NS_PER_S, DUMP_LINE);
	feed(con[0], 2 * NS_PER_S, "twinbench: criu stats-restore not figures");
	feed(con[0], 3 * NS_PER_S, RESTORE_LINE);
	toolstats_collect(con, 2, &rep);
	assert_int_equal(rep.ntool_stats, 2);
	assert_string_equal(rep.tool_stats[0].name, "criu-dump");
	assert_string_equal(rep.tool_stats[1].name, "criu-restore");
	console_close(con[0]);
}

#define MOVE_OUT_LINE "twinbench-agent: move out pulled=0 sent=180220 acked=2216840 released=2610110"
#define MOVE_IN_LINE                                                                          \
	"twinbench-agent: move in from=0b7c5e1f-3a57-4c1e-9d52-0d5fa3a6f1c2 connected=0 "    \
	"state=2701450 released=3020000 addr=3512300 arp=4230870"

/*
 * migrate: two moves, each a holder's "move out" and a taker's "move in",
 * on three consoles; in time order they are move-1-out, move-1-in,
 * move-2-out, move-2-in, whichever console each came on.
 */
static void test_moves_are_numbered_in_time_order_over_every_console(void **state)
{
	struct tb_err err;
	struct console *con[3] = { console_open("a", NULL, NULL, NULL, &err), NULL,
				   console_open("standby", NULL, NULL, NULL, &err) };
	struct repetition rep;
	struct tool_stats ts;

	(void)state;
	assert_int_equal(toolstats_parse_line(MOVE_IN_LINE "\r", &ts), 1);
	assert_string_equal(ts.name, "move-in");
	assert_int_equal(ts.n, 5);
	assert_string_equal(ts.key[0], "connected");
	assert_true(toolstats_get(&ts, "arp") == 4230870);
	assert_int_equal(toolstats_parse_line("twinbench-agent: move in from=x", &ts), -1);
	assert_int_equal(toolstats_parse_line("twinbench-agent: move out sent=soon", &ts), -1);

	memset(&rep, 0, sizeof(rep));
	/* Away: the primary (a) holds, the standby takes; back: the other way round. */
	feed(con[2], 2 * NS_PER_S, MOVE_IN_LINE);
	feed(con[0], 1 * NS_PER_S, MOVE_OUT_LINE);
	feed(con[0], 9 * NS_PER_S, MOVE_IN_LINE);
	feed(con[2], 8 * NS_PER_S, MOVE_OUT_LINE);
	toolstats_collect(con, 3, &rep);
	assert_int_equal(rep.ntool_stats, 4);
	assert_string_equal(rep.tool_stats[0].name, "move-1-out");
	assert_string_equal(rep.tool_stats[1].name, "move-1-in");
	assert_string_equal(rep.tool_stats[2].name, "move-2-out");
	assert_string_equal(rep.tool_stats[3].name, "move-2-in");
	assert_true(toolstats_get(&rep.tool_stats[2], "released") == 2610110);
	console_close(con[0]);
	console_close(con[2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_dump_line_gives_every_figure_by_name),
		cmocka_unit_test(test_a_restore_line_with_a_carriage_return_parses),
		cmocka_unit_test(test_other_lines_are_not_statistics),
		cmocka_unit_test(test_malformed_statistics_lines_are_refused),
		cmocka_unit_test(test_collect_takes_the_lines_in_order_and_leaves_malformed_ones_out),
		cmocka_unit_test(test_moves_are_numbered_in_time_order_over_every_console),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
