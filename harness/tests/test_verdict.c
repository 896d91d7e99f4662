/*
 * test_verdict.c - the verdict rules on synthetic probe traces: what a
 * method file's windows and verify make of a repetition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "monotime.h"
#include "verdict.h"

#define MS NS_PER_MS

/* Replies every 1 ms from @from_ms to @to_ms, boot @boot, counter from @counter on. */
static size_t replies(struct probe_record *r, size_t n, int from_ms, int to_ms, const char *boot,
		      const char *release, uint64_t *counter)
{
	for (int t = from_ms; t < to_ms; t++, n++) {
		memset(&r[n], 0, sizeof(r[n]));
		r[n].seq = n + 1;
		r[n].t_send_ns = (int64_t)t * MS;
		r[n].t_recv_ns = (int64_t)t * MS + MS / 4;
		r[n].counter = ++*counter;
		snprintf(r[n].boot_id, sizeof(r[n].boot_id), "%s", boot);
		snprintf(r[n].release, sizeof(r[n].release), "%s", release);
	}
	return n;
}

/* Requests every 1 ms from @from_ms to @to_ms that nobody answered. */
static size_t silence(struct probe_record *r, size_t n, int from_ms, int to_ms)
{
	for (int t = from_ms; t < to_ms; t++, n++) {
		memset(&r[n], 0, sizeof(r[n]));
		r[n].seq = n + 1;
		r[n].t_send_ns = (int64_t)t * MS;
	}
	return n;
}

static struct probe_record trace[20000];

static struct scenario upgrade_scenario(void)
{
	struct scenario sc = { 0 };

	sc.method.name = "kexec";
	sc.method.downtime_from = "upgrade_start";
	sc.method.maintenance_from = "upgrade_start";
	sc.method.maintenance_to = "service_back";
	sc.method.verify = VERIFY_UPGRADE;
	return sc;
}

static void rep_init(struct repetition *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->ok = true;
}

/* A kexec: A answers, 300 ms of silence, B answers with A's count going on. */
static void test_upgrade_with_state_continued_is_verified(void **state)
{
	struct scenario sc = upgrade_scenario();
	struct repetition rep;
	uint64_t counter = 0;
	size_t n;

	(void)state;
	n = replies(trace, 0, 0, 1000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 1000, 1300);
	n = replies(trace, n, 1300, 1500, "boot-b", "6.1-b", &counter);
	rep_init(&rep);
	repetition_mark(&rep, "upgrade_start", 900 * MS);
	verdict_judge(&sc, trace, n, 1500 * MS, &rep);
	assert_true(rep.ok);
	assert_true(rep.verified);
	assert_true(rep.measured);
	/* Last reply before at 999.25 ms, first after at 1300.25 ms. */
	assert_int_equal(rep.downtime_ns, 301 * MS);
	assert_int_equal(repetition_phase(&rep, "service_back"), 1300 * MS + MS / 4);
	assert_int_equal(rep.maintenance_ns, 400 * MS + MS / 4);
	assert_string_equal(rep.release_after, "6.1-b");
	assert_string_equal(rep.boot_id_before, "boot-a");
}

/* The new kernel's service starting from zero is not an upgrade that kept the state. */
static void test_upgrade_with_state_reset_fails(void **state)
{
	struct scenario sc = upgrade_scenario();
	struct repetition rep;
	uint64_t counter = 0;
	size_t n;

	(void)state;
	n = replies(trace, 0, 0, 1000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 1000, 1300);
	counter = 0;
	n = replies(trace, n, 1300, 1500, "boot-b", "6.1-b", &counter);
	rep_init(&rep);
	repetition_mark(&rep, "upgrade_start", 900 * MS);
	verdict_judge(&sc, trace, n, 1500 * MS, &rep);
	assert_false(rep.ok);
	assert_false(rep.verified);
	assert_false(rep.state_continued);
	assert_non_null(strstr(rep.error, "upgrade not verified: state counter went from"));
}

/* twin-boot: the same boot on both sides of the gap is what "unbroken" asks. */
static void test_unbroken_passes_on_one_boot_and_fails_on_a_restart(void **state)
{
	struct scenario sc = upgrade_scenario();
	struct repetition rep;
	uint64_t counter = 0;
	size_t n;

	(void)state;
	sc.method.downtime_from = "trigger";
	sc.method.maintenance_from = NULL;
	sc.method.maintenance_to = NULL;
	sc.method.verify = VERIFY_UNBROKEN;
	n = replies(trace, 0, 0, 1000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 1000, 1030);
	n = replies(trace, n, 1030, 1500, "boot-a", "6.1-a", &counter);
	rep_init(&rep);
	repetition_mark(&rep, "trigger", 500 * MS);
	verdict_judge(&sc, trace, n, 1500 * MS, &rep);
	assert_true(rep.verified);
	assert_int_equal(rep.downtime_ns, 31 * MS);
	assert_int_equal(rep.maintenance_ns, 0);
	assert_int_equal(repetition_phase(&rep, "service_back"), -1);

	n = replies(trace, 0, 0, 1000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 1000, 1030);
	n = replies(trace, n, 1030, 1500, "boot-x", "6.1-a", &counter);
	rep_init(&rep);
	repetition_mark(&rep, "trigger", 500 * MS);
	verdict_judge(&sc, trace, n, 1500 * MS, &rep);
	assert_false(rep.ok);
	assert_non_null(strstr(rep.error, "kernel A's service was disturbed"));
}

/*
 * vm-migrate: nothing upgraded, so unbroken; the guest resumed inside
 * libvirt's call, so the service was back at the probe's first reply after
 * the gap, not when the step after that call saw one.
 */
static void test_a_reference_without_upgrade_is_back_at_the_first_reply(void **state)
{
	struct scenario sc = upgrade_scenario();
	struct repetition rep;
	uint64_t counter = 0;
	size_t n;

	(void)state;
	sc.method.name = "vm-migrate";
	sc.method.downtime_from = "migrate_start";
	sc.method.maintenance_from = "migrate_start";
	sc.method.maintenance_to = "migrated";
	sc.method.verify = VERIFY_UNBROKEN;
	sc.method.no_upgrade = true;
	n = replies(trace, 0, 0, 1000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 1000, 1150);
	n = replies(trace, n, 1150, 3000, "boot-a", "6.1-a", &counter);
	rep_init(&rep);
	repetition_mark(&rep, "migrate_start", 500 * MS);
	repetition_mark(&rep, "migrated", 2500 * MS);
	repetition_mark(&rep, "service_back", 2501 * MS);
	verdict_judge(&sc, trace, n, 3000 * MS, &rep);
	assert_true(rep.ok);
	assert_true(rep.verified);
	assert_int_equal(rep.downtime_ns, 151 * MS);
	assert_int_equal(repetition_phase(&rep, "service_back"), 1150 * MS + MS / 4);
	assert_int_equal(rep.maintenance_ns, 2000 * MS);

	/* A guest that came back as another boot was not moved: it restarted. */
	n = replies(trace, 0, 0, 1000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 1000, 1150);
	n = replies(trace, n, 1150, 3000, "boot-x", "6.1-a", &counter);
	rep_init(&rep);
	repetition_mark(&rep, "migrate_start", 500 * MS);
	verdict_judge(&sc, trace, n, 3000 * MS, &rep);
	assert_false(rep.ok);
	assert_non_null(strstr(rep.error, "the service was disturbed: the service restarted"));
}

/* The maintenance window is the method's: twin's runs from the trigger to takeover_done. */
static void test_maintenance_window_runs_between_the_method_phases(void **state)
{
	struct scenario sc = upgrade_scenario();
	struct repetition rep;
	uint64_t counter = 0;
	size_t n;

	(void)state;
	sc.method.downtime_from = "handoff_start";
	sc.method.maintenance_from = "trigger";
	sc.method.maintenance_to = "takeover_done";
	n = replies(trace, 0, 0, 5000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 5000, 5100);
	n = replies(trace, n, 5100, 6000, "boot-b", "6.1-b", &counter);
	rep_init(&rep);
	repetition_mark(&rep, "trigger", 1000 * MS);
	repetition_mark(&rep, "handoff_start", 4990 * MS);
	repetition_mark(&rep, "takeover_done", 5800 * MS);
	verdict_judge(&sc, trace, n, 6000 * MS, &rep);
	assert_true(rep.verified);
	assert_int_equal(rep.downtime_ns, 101 * MS);
	assert_int_equal(rep.maintenance_ns, 4800 * MS);

	/* Not back in full (no takeover_done): no maintenance window to report. */
	rep_init(&rep);
	repetition_mark(&rep, "trigger", 1000 * MS);
	repetition_mark(&rep, "handoff_start", 4990 * MS);
	verdict_judge(&sc, trace, n, 6000 * MS, &rep);
	assert_int_equal(rep.maintenance_ns, 0);
}

/* A -> B -> C: each handoff judged on its own, the longer gap is the downtime. */
static void test_second_round_judges_each_handoff(void **state)
{
	struct scenario sc = upgrade_scenario();
	struct repetition rep;
	uint64_t counter = 0;
	size_t n;

	(void)state;
	sc.method.downtime_from = "handoff_start";
	sc.method.maintenance_from = "trigger";
	sc.method.maintenance_to = "takeover_done";
	sc.method.next_after = "service_up";
	sc.upgrade.next.kernel = "c";
	n = replies(trace, 0, 0, 1000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 1000, 1100);
	n = replies(trace, n, 1100, 2000, "boot-b", "6.1-b", &counter);
	n = silence(trace, n, 2000, 2250);
	n = replies(trace, n, 2250, 3000, "boot-c", "6.1-a", &counter);
	rep_init(&rep);
	repetition_mark(&rep, "trigger", 500 * MS);
	repetition_mark(&rep, "handoff_start", 990 * MS);
	repetition_mark(&rep, "takeover_done", 1500 * MS);
	repetition_mark(&rep, "r2_handoff_start", 1990 * MS);
	repetition_mark(&rep, "r2_takeover_done", 2700 * MS);
	verdict_judge(&sc, trace, n, 3000 * MS, &rep);
	assert_true(rep.verified);
	assert_int_equal(rep.nrounds, 2);
	assert_int_equal(rep.rounds[0].downtime_ns, 101 * MS);
	assert_int_equal(rep.rounds[1].downtime_ns, 251 * MS);
	assert_int_equal(rep.downtime_ns, 251 * MS);
	assert_string_equal(rep.boot_id_after, "boot-c");
	assert_int_equal(rep.maintenance_ns, 2200 * MS);
	assert_int_equal(repetition_phase(&rep, "r2_service_back"), 2250 * MS + MS / 4);
}

/* A migrate: the service moves to the standby and back to the primary's new kernel. */
static struct scenario migrate_scenario(void)
{
	struct scenario sc = upgrade_scenario();

	sc.method.name = "migrate";
	sc.method.downtime_from = "move_away_start";
	sc.method.second_from = "move_back_start";
	sc.method.maintenance_from = "move_away_start";
	sc.method.maintenance_to = "service_back";
	sc.upgrade.release = "6.1-b";
	sc.service.interval_ns = MS;
	return sc;
}

/*
 * The probe's view of a migrate: the primary (old kernel), 80 ms of
 * silence, the standby (the same kernel; its counter @from_zero: starting
 * again), 50 ms of silence, then @last_boot with @last_release; the
 * phases the method marks.  The trace's length.
 */
static size_t migrate_trace(struct repetition *rep, bool from_zero, const char *last_boot,
			    const char *last_release)
{
	uint64_t counter = 0, fresh = 0;
	size_t n;

	n = replies(trace, 0, 0, 1000, "boot-primary", "6.1-a", &counter);
	n = silence(trace, n, 1000, 1080);
	n = replies(trace, n, 1080, 3000, "boot-standby", "6.1-a", from_zero ? &fresh : &counter);
	n = silence(trace, n, 3000, 3050);
	n = replies(trace, n, 3050, 4000, last_boot, last_release, &counter);
	rep_init(rep);
	repetition_mark(rep, "move_away_start", 990 * MS);
	repetition_mark(rep, "move_back_start", 2990 * MS);
	repetition_mark(rep, "service_back", 3100 * MS);
	return n;
}

static void test_two_windows_each_judged_and_both_gaps_counted(void **state)
{
	struct scenario sc = migrate_scenario();
	struct repetition rep;
	size_t n = migrate_trace(&rep, false, "boot-primary-new", "6.1-b");

	(void)state;
	verdict_judge(&sc, trace, n, 4000 * MS, &rep);
	assert_true(rep.ok);
	assert_true(rep.verified);
	assert_int_equal(rep.nrounds, 2);
	/* The first lands on the standby (any release), the second on the new kernel. */
	assert_true(rep.rounds[0].verified);
	assert_string_equal(rep.rounds[0].boot_id_after, "boot-standby");
	assert_int_equal(rep.rounds[0].downtime_ns, 81 * MS);
	assert_true(rep.rounds[1].verified);
	assert_string_equal(rep.rounds[1].boot_id_before, "boot-standby");
	assert_string_equal(rep.rounds[1].release_after, "6.1-b");
	assert_int_equal(rep.rounds[1].downtime_ns, 51 * MS);
	/* The downtime is the longer gap, the unavailability their sum. */
	assert_int_equal(rep.downtime_ns, 81 * MS);
	assert_int_equal(rep.gaps_found, 2);
	assert_int_equal(rep.unavailable_ns, 132 * MS);
	assert_string_equal(rep.release_after, "6.1-b");
	assert_string_equal(rep.boot_id_after, "boot-primary-new");
	/* Back on the primary with its first reply; the window from the move away. */
	assert_int_equal(repetition_phase(&rep, "service_back"), 3050 * MS + MS / 4);
	assert_int_equal(rep.maintenance_ns, 3050 * MS + MS / 4 - 990 * MS);
}

/* Back on the old kernel (the primary's upgrade did not happen): the second window fails. */
static void test_two_windows_fail_when_the_service_returns_to_the_old_kernel(void **state)
{
	struct scenario sc = migrate_scenario();
	struct repetition rep;
	size_t n = migrate_trace(&rep, false, "boot-primary-again", "6.1-a");

	(void)state;
	verdict_judge(&sc, trace, n, 4000 * MS, &rep);
	assert_false(rep.ok);
	assert_true(rep.rounds[0].verified);
	assert_false(rep.rounds[1].verified);
	assert_string_equal(rep.error, "window 2 of 2 not verified");
}

/* The counter starting again on the standby: the first window fails. */
static void test_two_windows_fail_when_the_state_did_not_move(void **state)
{
	struct scenario sc = migrate_scenario();
	struct repetition rep;
	size_t n = migrate_trace(&rep, true, "boot-primary-new", "6.1-b");

	(void)state;
	verdict_judge(&sc, trace, n, 4000 * MS, &rep);
	assert_false(rep.ok);
	assert_false(rep.verified);
	assert_false(rep.rounds[0].verified);
	assert_non_null(strstr(rep.error, "upgrade not verified"));
}

/*
 * Every gap from the upgrade's start to the end counts toward unavailable:
 * the handoff's and the takeover's, not a stall shorter than 5 intervals,
 * nor one before the upgrade started.
 */
static void test_every_gap_from_the_upgrade_start_is_listed_and_summed(void **state)
{
	struct scenario sc = upgrade_scenario();
	struct repetition rep;
	uint64_t counter = 0;
	size_t n;

	(void)state;
	sc.service.interval_ns = MS;
	sc.method.downtime_from = "handoff_start";
	sc.method.maintenance_from = "trigger";
	sc.method.maintenance_to = "takeover_done";
	n = replies(trace, 0, 0, 500, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 500, 540); /* before the trigger: not counted */
	n = replies(trace, n, 540, 1000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 1000, 1025); /* while B boots */
	n = replies(trace, n, 1025, 1003 + 1000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 2003, 2006); /* 4 intervals: noise */
	n = replies(trace, n, 2006, 3000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 3000, 3100); /* the handoff */
	n = replies(trace, n, 3100, 3300, "boot-b", "6.1-b", &counter);
	n = silence(trace, n, 3300, 3380); /* the takeover */
	n = replies(trace, n, 3380, 4000, "boot-b", "6.1-b", &counter);
	rep_init(&rep);
	repetition_mark(&rep, "trigger", 800 * MS);
	repetition_mark(&rep, "b_ready", 2500 * MS);
	repetition_mark(&rep, "handoff_start", 2999 * MS);
	repetition_mark(&rep, "service_back", 3100 * MS);
	repetition_mark(&rep, "takeover_done", 3500 * MS);
	verdict_judge(&sc, trace, n, 4000 * MS, &rep);
	assert_true(rep.verified);
	assert_int_equal(rep.downtime_ns, 101 * MS);
	assert_int_equal(rep.gaps_found, 3);
	assert_int_equal(rep.ngaps, 3);
	assert_int_equal(rep.gaps[0].end_ns - rep.gaps[0].start_ns, 26 * MS);
	assert_string_equal(rep.gaps[0].phase, "trigger");
	assert_int_equal(rep.gaps[1].end_ns - rep.gaps[1].start_ns, 101 * MS);
	assert_string_equal(rep.gaps[1].phase, "handoff_start");
	assert_int_equal(rep.gaps[2].end_ns - rep.gaps[2].start_ns, 81 * MS);
	/* The judge moved service_back to the first reply of the new boot. */
	assert_string_equal(rep.gaps[2].phase, "service_back");
	assert_false(rep.gaps[2].open);
	assert_int_equal(rep.unavailable_ns, (26 + 101 + 81) * MS);
	assert_int_equal(rep.interval_median_ns, MS);
}

/* A busy host's hundred short stalls must not crowd the handoff's gap out of the list. */
static void test_the_longest_gaps_are_listed_when_there_are_too_many(void **state)
{
	struct scenario sc = upgrade_scenario();
	struct repetition rep;
	uint64_t counter = 0;
	size_t n = 0;
	int t = 0;
	bool found = false;

	(void)state;
	sc.service.interval_ns = MS;
	for (int i = 0; i < RESULTS_MAX_GAPS + 6; i++, t += 20) {
		n = replies(trace, n, t, t + 14, "boot-a", "6.1-a", &counter);
		n = silence(trace, n, t + 14, t + 20); /* 7 ms between replies */
	}
	n = replies(trace, n, t, t + 10, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, t + 10, t + 110);
	n = replies(trace, n, t + 110, t + 200, "boot-b", "6.1-b", &counter);
	rep_init(&rep);
	repetition_mark(&rep, "upgrade_start", 5 * MS);
	verdict_judge(&sc, trace, n, (int64_t)(t + 200) * MS, &rep);
	assert_true(rep.verified);
	assert_int_equal(rep.gaps_found, RESULTS_MAX_GAPS + 7);
	assert_int_equal(rep.ngaps, RESULTS_MAX_GAPS);
	for (int i = 0; i < rep.ngaps; i++) {
		if (i)
			assert_true(rep.gaps[i].start_ns > rep.gaps[i - 1].start_ns);
		found |= rep.gaps[i].end_ns - rep.gaps[i].start_ns == rep.downtime_ns;
	}
	assert_true(found);
	assert_int_equal(rep.downtime_ns, 101 * MS);
}

/* A service that never came back: the open gap still says where it went. */
static void test_a_service_that_never_came_back_has_an_open_gap(void **state)
{
	struct scenario sc = upgrade_scenario();
	struct repetition rep;
	uint64_t counter = 0;
	size_t n;

	(void)state;
	sc.service.interval_ns = MS;
	n = replies(trace, 0, 0, 1000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 1000, 2000);
	rep_init(&rep);
	repetition_mark(&rep, "upgrade_start", 900 * MS);
	verdict_judge(&sc, trace, n, 2000 * MS, &rep);
	assert_false(rep.ok);
	assert_non_null(strstr(rep.error, "did not answer after the upgrade"));
	assert_int_equal(rep.ngaps, 1);
	assert_true(rep.gaps[0].open);
	assert_int_equal(rep.gaps[0].end_ns, 2000 * MS);
	assert_int_equal(rep.unavailable_ns, 2000 * MS - (999 * MS + MS / 4));
}

/*
 * Two boot changes in one repetition (kexec twice): the proof's first
 * reply belongs to the first, so it must not pull service_back, which the
 * program recorded after the second, back before the second's phases.
 */
static void test_service_back_stays_after_the_phase_before_it(void **state)
{
	static struct step steps[3] = {
		{ .op = OP_MARK, .mark = "upgrade_start" },
		{ .op = OP_EXPECT, .mark = "second_first_line" },
		{ .op = OP_WAIT_PROBE, .mark = "service_back", .probe_up = true },
	};
	struct scenario sc = upgrade_scenario();
	struct repetition rep;
	uint64_t counter = 0;
	size_t n;

	(void)state;
	sc.method.steps = steps;
	sc.method.nsteps = 3;
	n = replies(trace, 0, 0, 1000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 1000, 1300);
	n = replies(trace, n, 1300, 2000, "boot-b", "6.1-b", &counter);
	n = silence(trace, n, 2000, 2200);
	n = replies(trace, n, 2200, 3000, "boot-c", "6.1-b", &counter);
	rep_init(&rep);
	repetition_mark(&rep, "upgrade_start", 900 * MS);
	repetition_mark(&rep, "second_first_line", 2150 * MS);
	repetition_mark(&rep, "service_back", 2210 * MS);
	verdict_judge(&sc, trace, n, 3000 * MS, &rep);
	assert_true(rep.verified);
	assert_int_equal(repetition_phase(&rep, "service_back"), 2210 * MS);

	/* One boot change: the first reply of the new boot is where it is back. */
	n = replies(trace, 0, 0, 1000, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 1000, 1300);
	n = replies(trace, n, 1300, 2000, "boot-b", "6.1-b", &counter);
	rep_init(&rep);
	repetition_mark(&rep, "upgrade_start", 900 * MS);
	repetition_mark(&rep, "second_first_line", 1250 * MS);
	repetition_mark(&rep, "service_back", 1320 * MS);
	verdict_judge(&sc, trace, n, 2000 * MS, &rep);
	assert_int_equal(repetition_phase(&rep, "service_back"), 1300 * MS + MS / 4);
	assert_int_equal(rep.maintenance_ns, 400 * MS + MS / 4);
}

/* verify: none, and a repetition that never reached the window: left as they are. */
static void test_nothing_to_judge_leaves_the_repetition_alone(void **state)
{
	struct scenario sc = upgrade_scenario();
	struct repetition rep;
	uint64_t counter = 0;
	size_t n;

	(void)state;
	n = replies(trace, 0, 0, 100, "boot-a", "6.1-a", &counter);
	rep_init(&rep);
	verdict_judge(&sc, trace, n, 100 * MS, &rep);
	assert_true(rep.ok);
	assert_false(rep.measured);
	sc.method.verify = VERIFY_NONE;
	repetition_mark(&rep, "upgrade_start", 50 * MS);
	verdict_judge(&sc, trace, n, 100 * MS, &rep);
	assert_true(rep.ok);
	assert_false(rep.measured);
}

/*
 * The quiet window's gaps are counted on their own: the host's floor, in
 * none of the upgrade's figures.  A silence from before the window counts
 * from its start; one still open at its end is the upgrade's.  A method
 * without verify judges the window too.
 */
static void test_the_quiet_window_has_its_own_gaps(void **state)
{
	struct scenario sc = upgrade_scenario();
	struct repetition rep;
	uint64_t counter = 0;
	size_t n;

	(void)state;
	sc.service.interval_ns = MS;
	n = replies(trace, 0, 0, 90, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 90, 120); /* across the window's start: 20 ms of it in */
	n = replies(trace, n, 120, 200, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 200, 212); /* in the window */
	n = replies(trace, n, 212, 600, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 600, 608); /* in the window */
	n = replies(trace, n, 608, 700, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 700, 703); /* 4 intervals: noise */
	n = replies(trace, n, 703, 990, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 990, 1050); /* across the window's end: the upgrade's */
	n = replies(trace, n, 1050, 1100, "boot-a", "6.1-a", &counter);
	n = silence(trace, n, 1100, 1300); /* the downtime */
	n = replies(trace, n, 1300, 1500, "boot-b", "6.1-b", &counter);
	rep_init(&rep);
	rep.quiet_from_ns = 100 * MS;
	rep.quiet_ns = 900 * MS;
	repetition_mark(&rep, "upgrade_start", 1000 * MS);
	repetition_mark(&rep, "service_back", 1300 * MS);
	verdict_judge(&sc, trace, n, 1500 * MS, &rep);
	assert_true(rep.verified);
	assert_int_equal(rep.quiet_gaps, 3);
	assert_int_equal(rep.quiet_longest_ns, 20 * MS + MS / 4);
	/* The silence open at the window's end is the upgrade's, whole. */
	assert_int_equal(rep.gaps_found, 2);
	assert_int_equal(rep.gaps[0].end_ns - rep.gaps[0].start_ns, 61 * MS);
	assert_int_equal(rep.unavailable_ns, (61 + 201) * MS);

	/* Judged for a program with nothing else to judge; none without a window. */
	sc.method.verify = VERIFY_NONE;
	rep_init(&rep);
	rep.quiet_from_ns = 100 * MS;
	rep.quiet_ns = 900 * MS;
	verdict_judge(&sc, trace, n, 1500 * MS, &rep);
	assert_int_equal(rep.quiet_gaps, 3);
	rep_init(&rep);
	rep.quiet_gaps = 7;
	rep.quiet_longest_ns = 7;
	verdict_judge(&sc, trace, n, 1500 * MS, &rep);
	assert_int_equal(rep.quiet_gaps, 0);
	assert_int_equal(rep.quiet_longest_ns, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upgrade_with_state_continued_is_verified),
		cmocka_unit_test(test_upgrade_with_state_reset_fails),
		cmocka_unit_test(test_unbroken_passes_on_one_boot_and_fails_on_a_restart),
		cmocka_unit_test(test_a_reference_without_upgrade_is_back_at_the_first_reply),
		cmocka_unit_test(test_maintenance_window_runs_between_the_method_phases),
		cmocka_unit_test(test_second_round_judges_each_handoff),
		cmocka_unit_test(test_two_windows_each_judged_and_both_gaps_counted),
		cmocka_unit_test(test_two_windows_fail_when_the_service_returns_to_the_old_kernel),
		cmocka_unit_test(test_two_windows_fail_when_the_state_did_not_move),
		cmocka_unit_test(test_nothing_to_judge_leaves_the_repetition_alone),
		cmocka_unit_test(test_every_gap_from_the_upgrade_start_is_listed_and_summed),
		cmocka_unit_test(test_a_service_that_never_came_back_has_an_open_gap),
		cmocka_unit_test(test_service_back_stays_after_the_phase_before_it),
		cmocka_unit_test(test_the_longest_gaps_are_listed_when_there_are_too_many),
		cmocka_unit_test(test_the_quiet_window_has_its_own_gaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
