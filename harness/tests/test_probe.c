/*
 * test_probe.c - the downtime and verification math on synthetic traces, the
 * reply parser, the prober thread against a fake agent on loopback, and the
 * real guest agent (build/twinbench-agent) run on the host.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "monotime.h"
#include "probe.h"

/* Long enough for a loaded CI machine (or valgrind), short enough to fail visibly. */
#define WAIT_NS (5 * NS_PER_S)

/* Synthetic traces start here: any clock value far from 0, which means "never answered". */
#define T0 (1000 * NS_PER_S)

#define BOOT_A "11111111-1111-4111-8111-111111111111"
#define BOOT_B "22222222-2222-4222-8222-222222222222"
#define REL_A  "6.1.0-old"
#define REL_B  "6.6.0-new"

/* cmocka 1.1 compares integers as unsigned: these keep the sign and print both sides. */
#define assert_ge(a, b)                                                                            \
	do {                                                                                       \
		int64_t a_ = (a), b_ = (b);                                                        \
		if (a_ < b_)                                                                       \
			fail_msg("%s = %" PRId64 " < %s = %" PRId64, #a, a_, #b, b_);              \
	} while (0)
#define assert_lt(a, b)                                                                            \
	do {                                                                                       \
		int64_t a_ = (a), b_ = (b);                                                        \
		if (a_ >= b_)                                                                      \
			fail_msg("%s = %" PRId64 " >= %s = %" PRId64, #a, a_, #b, b_);             \
	} while (0)

/* ------------------------------------------------------------------------ */
/* Synthetic traces                                                          */

/*
 * Reply latency of request @seq: varies from one request to the next so that
 * pairing the wrong two replies gives a different downtime.
 */
static int64_t latency_ns(size_t seq)
{
	return 150 * NS_PER_US + (int64_t)(seq % 7) * 20 * NS_PER_US;
}

/* @n requests, one every 1 ms from T0, none answered; owned by *state (freed in teardown). */
static struct probe_record *trace_new(void **state, size_t n)
{
	struct probe_record *r = calloc(n, sizeof(*r));

	assert_non_null(r);
	*state = r;
	for (size_t i = 0; i < n; i++) {
		r[i].seq = i;
		r[i].t_send_ns = T0 + (int64_t)i * NS_PER_MS;
	}
	return r;
}

/* Answer requests [@from, @to) as the agent of boot @boot would, counting on from *counter. */
static void trace_answer(struct probe_record *r, size_t from, size_t to, const char *release,
			 const char *boot, uint64_t *counter)
{
	for (size_t i = from; i < to; i++) {
		r[i].t_recv_ns = r[i].t_send_ns + latency_ns(i);
		r[i].counter = ++*counter;
		snprintf(r[i].release, sizeof(r[i].release), "%s", release);
		snprintf(r[i].boot_id, sizeof(r[i].boot_id), "%s", boot);
	}
}

static void trace_lose(struct probe_record *r, size_t seq)
{
	r[seq].t_recv_ns = 0;
}

static int trace_teardown(void **state)
{
	free(*state);
	return 0;
}

/*
 * 20 s of 1 ms probes: boot A answers up to the request sent at 10 s, nothing
 * answers for 4.5 s, then boot B answers.  A jitter loss inside the window and
 * losses outside it must not disturb the result.
 */
static struct probe_record *reboot_trace(void **state, size_t *n)
{
	struct probe_record *r = trace_new(state, 20000);
	uint64_t counter = 0;

	trace_answer(r, 0, 10001, REL_A, BOOT_A, &counter);
	trace_answer(r, 14500, 20000, REL_B, BOOT_B, &counter);
	trace_lose(r, 100);   /* before the window */
	trace_lose(r, 9500);  /* inside the window, a 2 ms jitter gap */
	trace_lose(r, 18000); /* after the window */
	*n = 20000;
	return r;
}

/* PROBE_GAP_INTERVALS of the synthetic traces' 1 ms probe. */
#define MIN_GAP_NS (PROBE_GAP_INTERVALS * NS_PER_MS)

/*
 * The longest gap of probe_gaps() is probe_analyse()'s downtime on the same
 * window: closed between the same two replies when the service came back,
 * else the open silence from the same last reply.  Returns the gap count.
 */
static size_t assert_longest_gap_is_downtime(const struct probe_record *r, size_t n,
					     int64_t from_ns, int64_t to_ns)
{
	struct probe_result res;
	struct probe_gap *gaps, longest = {0};
	int64_t unavailable;
	size_t ngaps;
	int rc = probe_analyse(r, n, from_ns, to_ns, &res);

	assert_true(rc == 0 || rc == -ETIMEDOUT);
	assert_int_equal(probe_gaps(r, n, from_ns, to_ns, MIN_GAP_NS, &gaps, &ngaps, &unavailable),
			 0);
	assert_true(ngaps > 0);
	for (size_t i = 0; i < ngaps; i++)
		if (gaps[i].end_ns - gaps[i].start_ns > longest.end_ns - longest.start_ns)
			longest = gaps[i];
	free(gaps);
	assert_int_equal(longest.start_ns, res.before.t_recv_ns);
	if (rc == 0) {
		assert_false(longest.open);
		assert_int_equal(longest.end_ns, res.after.t_recv_ns);
		assert_int_equal(longest.end_ns - longest.start_ns, res.downtime_ns);
	} else {
		assert_true(longest.open);
		assert_int_equal(longest.end_ns, to_ns);
	}
	return ngaps;
}

static void test_probe_gap_spans_reboot(void **state)
{
	size_t n;
	struct probe_record *r = reboot_trace(state, &n);
	struct probe_result res;

	assert_int_equal(probe_analyse(r, n, T0 + 9 * NS_PER_S, T0 + 16 * NS_PER_S, &res), 0);
	assert_int_equal(res.downtime_ns, r[14500].t_recv_ns - r[10000].t_recv_ns);
	/* 4.5 s between the sends, 20 us less between the replies (latencies 230 and 210 us). */
	assert_int_equal(res.downtime_ns, 4500 * NS_PER_MS - 20 * NS_PER_US);
	assert_int_equal(res.before.seq, 10000);
	assert_int_equal(res.before.t_recv_ns, r[10000].t_recv_ns);
	assert_string_equal(res.before.boot_id, BOOT_A);
	assert_int_equal(res.after.seq, 14500);
	assert_int_equal(res.after.t_recv_ns, r[14500].t_recv_ns);
	assert_string_equal(res.after.boot_id, BOOT_B);
	assert_int_equal(res.after.counter, res.before.counter + 1);
	/* Sent at 9.000 s .. 16.000 s inclusive; lost: 9500 and 10001..14499, not 100 or 18000. */
	assert_int_equal(res.sent, 7001);
	assert_int_equal(res.lost, 1 + 4499);
}

static void test_probe_longest_of_several_gaps_wins(void **state)
{
	struct probe_record *r = trace_new(state, 6000);
	struct probe_result res;
	uint64_t counter = 0;

	trace_answer(r, 0, 6000, REL_A, BOOT_A, &counter);
	for (size_t i = 1001; i < 1030; i++) /* 30 ms of jitter before */
		trace_lose(r, i);
	for (size_t i = 2001; i < 4000; i++) /* the 2 s outage */
		trace_lose(r, i);
	for (size_t i = 5001; i < 5050; i++) /* 50 ms after */
		trace_lose(r, i);

	assert_int_equal(probe_analyse(r, 6000, T0 + 500 * NS_PER_MS, T0 + 6 * NS_PER_S, &res), 0);
	assert_int_equal(res.before.seq, 2000);
	assert_int_equal(res.after.seq, 4000);
	assert_int_equal(res.downtime_ns, r[4000].t_recv_ns - r[2000].t_recv_ns);
	assert_int_equal(res.lost, 29 + 1999 + 49);
	assert_int_equal(
	    assert_longest_gap_is_downtime(r, 6000, T0 + 500 * NS_PER_MS, T0 + 6 * NS_PER_S), 3);
}

/*
 * The new kernel answers, then stalls longer than the handoff took (a twin
 * kernel waking the old one's CPUs): that stall is the downtime, and the
 * upgrade is still judged across the boot change, where it happened.
 */
static void test_probe_stall_after_the_boot_change_is_downtime_but_not_the_proof(void **state)
{
	struct probe_record *r = trace_new(state, 3000);
	struct probe_result res;
	struct probe_verdict v;
	uint64_t counter = 0;

	trace_answer(r, 0, 1001, REL_A, BOOT_A, &counter);
	trace_answer(r, 1200, 3000, REL_B, BOOT_B, &counter); /* 200 ms handoff */
	for (size_t i = 1501; i < 1711; i++)		      /* 210 ms stall in B */
		trace_lose(r, i);

	assert_int_equal(probe_analyse(r, 3000, T0 + 900 * NS_PER_MS, T0 + 3 * NS_PER_S, &res), 0);
	assert_int_equal(res.before.seq, 1500);
	assert_int_equal(res.after.seq, 1711);
	assert_int_equal(res.downtime_ns, r[1711].t_recv_ns - r[1500].t_recv_ns);
	assert_true(res.switched);
	assert_int_equal(res.last_old.seq, 1000);
	assert_int_equal(res.first_new.seq, 1200);
	probe_verify(&res, REL_B, &v);
	assert_true(v.verified);
	assert_int_equal(res.first_new.counter, res.last_old.counter + 1);
	/* Two gaps: the handoff, and the stall that is the downtime. */
	assert_int_equal(
	    assert_longest_gap_is_downtime(r, 3000, T0 + 900 * NS_PER_MS, T0 + 3 * NS_PER_S), 2);
}

static void test_probe_gap_uses_arrival_order_not_seq_order(void **state)
{
	struct probe_record *r = trace_new(state, 100);
	struct probe_result res;
	uint64_t counter = 0;

	trace_answer(r, 0, 100, REL_A, BOOT_A, &counter);
	for (size_t i = 6; i < 40; i++)
		trace_lose(r, i);
	/* Seq 5 overtakes seq 4, which arrives only when the service is back. */
	r[5].t_recv_ns = T0 + 5100 * NS_PER_US;
	r[4].t_recv_ns = T0 + 40 * NS_PER_MS;

	assert_int_equal(probe_analyse(r, 100, T0 + 2 * NS_PER_MS, T0 + 100 * NS_PER_MS, &res), 0);
	/* By arrival: 5.1 ms (seq 5) -> 40 ms (seq 4).  By seq it would be 3 -> 4, 36.79 ms. */
	assert_int_equal(res.before.seq, 5);
	assert_int_equal(res.after.seq, 4);
	assert_int_equal(res.downtime_ns, 34900 * NS_PER_US);
	assert_int_equal(
	    assert_longest_gap_is_downtime(r, 100, T0 + 2 * NS_PER_MS, T0 + 100 * NS_PER_MS), 1);
}

static void test_probe_no_reply_before_window_is_enoent(void **state)
{
	size_t n;
	struct probe_record *r = reboot_trace(state, &n);
	struct probe_result res;

	/* The first reply arrives 150 us after the first send, at T0. */
	assert_int_equal(probe_analyse(r, n, T0, T0 + 16 * NS_PER_S, &res), -ENOENT);
	assert_int_equal(probe_analyse(r, n, r[0].t_recv_ns - 1, T0 + 16 * NS_PER_S, &res),
			 -ENOENT);
	/* An empty trace has no reply at all. */
	assert_int_equal(probe_analyse(r, 0, T0, T0 + 16 * NS_PER_S, &res), -ENOENT);
}

static void test_probe_no_reply_after_window_start_is_etimedout_with_before(void **state)
{
	size_t n;
	struct probe_record *r = reboot_trace(state, &n);
	struct probe_result res;

	/* From 10.5 s to 14 s: the last reply is boot A's at 10 s and nothing follows. */
	assert_int_equal(probe_analyse(r, n, T0 + 10500 * NS_PER_MS, T0 + 14 * NS_PER_S, &res),
			 -ETIMEDOUT);
	assert_int_equal(res.before.seq, 10000);
	assert_int_equal(res.before.t_recv_ns, r[10000].t_recv_ns);
	assert_string_equal(res.before.boot_id, BOOT_A);
	assert_int_equal(res.after.t_recv_ns, 0);
}

static void test_probe_replies_after_window_end_are_ignored(void **state)
{
	size_t n;
	struct probe_record *r = reboot_trace(state, &n);
	struct probe_result res;
	int64_t back = r[14500].t_recv_ns;

	/* The end is inclusive: the first reply of boot B at exactly to_ns closes the gap. */
	assert_int_equal(probe_analyse(r, n, T0 + 9 * NS_PER_S, back, &res), 0);
	assert_int_equal(res.after.seq, 14500);

	/*
	 * One nanosecond earlier it is outside: the outage is still open at the
	 * end and longer than the 9.5 s jitter gap, so the service is not back.
	 */
	assert_int_equal(probe_analyse(r, n, T0 + 9 * NS_PER_S, back - 1, &res), -ETIMEDOUT);
	assert_int_equal(res.before.seq, 10000);
	assert_int_equal(res.after.t_recv_ns, 0);

	/* From after the outage began: nothing of boot B counts, so no reply after the start. */
	assert_int_equal(probe_analyse(r, n, T0 + 11 * NS_PER_S, back - 1, &res), -ETIMEDOUT);
	assert_int_equal(res.before.seq, 10000);
}

static void test_probe_anchor_is_last_reply_at_or_before_start(void **state)
{
	struct probe_record *r = trace_new(state, 5000);
	struct probe_result res;
	uint64_t counter = 0;

	trace_answer(r, 0, 1, REL_A, BOOT_A, &counter);
	trace_answer(r, 4000, 5000, REL_B, BOOT_B, &counter);

	/* The only reply before 3 s came at 150 us: it is still where the gap starts. */
	assert_int_equal(probe_analyse(r, 5000, T0 + 3 * NS_PER_S, T0 + 5 * NS_PER_S, &res), 0);
	assert_int_equal(res.before.seq, 0);
	assert_int_equal(res.after.seq, 4000);
	assert_int_equal(res.downtime_ns, r[4000].t_recv_ns - r[0].t_recv_ns);
	/* Requests sent at 3.000 .. 4.999 s, of which 3000 .. 3999 were lost. */
	assert_int_equal(res.sent, 2000);
	assert_int_equal(res.lost, 1000);

	/* "At or before": a window starting on the reply's own stamp keeps it as the anchor. */
	assert_int_equal(probe_analyse(r, 5000, r[0].t_recv_ns, T0 + 5 * NS_PER_S, &res), 0);
	assert_int_equal(res.before.seq, 0);
	assert_int_equal(res.after.seq, 4000);
	/* The gap starts before the window, at the anchor, like the downtime. */
	assert_int_equal(
	    assert_longest_gap_is_downtime(r, 5000, T0 + 3 * NS_PER_S, T0 + 5 * NS_PER_S), 1);
}

/*
 * 6 s of probes with three outages (30 ms, 2 s, 50 ms) and losses too short
 * to be gaps: single requests, and three in a row (a 4.08 ms silence).
 */
static void test_probe_gaps_lists_every_silence_longer_than_the_threshold(void **state)
{
	struct probe_record *r = trace_new(state, 6000);
	struct probe_gap *gaps;
	int64_t unavailable;
	uint64_t counter = 0;
	size_t ngaps;

	trace_answer(r, 0, 6000, REL_A, BOOT_A, &counter);
	for (size_t i = 1001; i < 1030; i++)
		trace_lose(r, i);
	for (size_t i = 2001; i < 4000; i++)
		trace_lose(r, i);
	for (size_t i = 5001; i < 5050; i++)
		trace_lose(r, i);
	trace_lose(r, 700);
	trace_lose(r, 4500);
	for (size_t i = 4700; i < 4703; i++)
		trace_lose(r, i);

	assert_int_equal(probe_gaps(r, 6000, T0 + 500 * NS_PER_MS, T0 + 6 * NS_PER_S, MIN_GAP_NS,
				    &gaps, &ngaps, &unavailable),
			 0);
	assert_int_equal(ngaps, 3);
	assert_int_equal(gaps[0].start_ns, r[1000].t_recv_ns);
	assert_int_equal(gaps[0].end_ns, r[1030].t_recv_ns);
	assert_int_equal(gaps[1].start_ns, r[2000].t_recv_ns);
	assert_int_equal(gaps[1].end_ns, r[4000].t_recv_ns);
	assert_int_equal(gaps[2].start_ns, r[5000].t_recv_ns);
	assert_int_equal(gaps[2].end_ns, r[5050].t_recv_ns);
	for (size_t i = 0; i < ngaps; i++)
		assert_false(gaps[i].open);
	/*
	 * Latencies (150 + 20 * (seq % 7) us): 30 ms - (270 - 170) us, 2 s -
	 * (250 - 210) us, 50 ms + (210 - 190) us.
	 */
	assert_int_equal(unavailable, (29900 + 1999960 + 50020) * NS_PER_US);
	free(gaps);
}

/* "Longer than": a silence of exactly the threshold is not a gap, 1 ns more is. */
static void test_probe_gaps_at_the_threshold_are_ignored(void **state)
{
	struct probe_record *r = trace_new(state, 100);
	struct probe_gap *gaps;
	int64_t unavailable, silence;
	uint64_t counter = 0;
	size_t ngaps;

	trace_answer(r, 0, 100, REL_A, BOOT_A, &counter);
	for (size_t i = 40; i < 45; i++)
		trace_lose(r, i);
	silence = r[45].t_recv_ns - r[39].t_recv_ns;

	assert_int_equal(probe_gaps(r, 100, T0 + 10 * NS_PER_MS, T0 + 100 * NS_PER_MS, silence,
				    &gaps, &ngaps, &unavailable),
			 0);
	assert_int_equal(ngaps, 0);
	assert_null(gaps);
	assert_int_equal(unavailable, 0);

	assert_int_equal(probe_gaps(r, 100, T0 + 10 * NS_PER_MS, T0 + 100 * NS_PER_MS, silence - 1,
				    &gaps, &ngaps, &unavailable),
			 0);
	assert_int_equal(ngaps, 1);
	assert_int_equal(gaps[0].start_ns, r[39].t_recv_ns);
	assert_int_equal(gaps[0].end_ns, r[45].t_recv_ns);
	assert_int_equal(unavailable, silence);
	free(gaps);
}

/*
 * The reboot trace up to 14 s: boot B has not answered yet, so the outage is
 * still open at the window's end and counts up to it; the 2 ms jitter gap
 * before it does not count at all.
 */
static void test_probe_gap_still_open_at_the_window_end_is_flagged_open(void **state)
{
	size_t n, ngaps;
	struct probe_record *r = reboot_trace(state, &n);
	struct probe_gap *gaps;
	int64_t unavailable;

	assert_int_equal(probe_gaps(r, n, T0 + 9 * NS_PER_S, T0 + 14 * NS_PER_S, MIN_GAP_NS, &gaps,
				    &ngaps, &unavailable),
			 0);
	assert_int_equal(ngaps, 1);
	assert_true(gaps[0].open);
	assert_int_equal(gaps[0].start_ns, r[10000].t_recv_ns);
	assert_int_equal(gaps[0].end_ns, T0 + 14 * NS_PER_S);
	/* Reply 10000 came 230 us after its send at 10 s. */
	assert_int_equal(unavailable, 4000 * NS_PER_MS - 230 * NS_PER_US);
	free(gaps);
	assert_longest_gap_is_downtime(r, n, T0 + 9 * NS_PER_S, T0 + 14 * NS_PER_S);

	/* To 16 s boot B has answered: the same gap, closed by its first reply. */
	assert_int_equal(probe_gaps(r, n, T0 + 9 * NS_PER_S, T0 + 16 * NS_PER_S, MIN_GAP_NS, &gaps,
				    &ngaps, &unavailable),
			 0);
	assert_int_equal(ngaps, 1);
	assert_false(gaps[0].open);
	assert_int_equal(gaps[0].end_ns, r[14500].t_recv_ns);
	assert_int_equal(unavailable, 4500 * NS_PER_MS - 20 * NS_PER_US);
	free(gaps);
	assert_longest_gap_is_downtime(r, n, T0 + 9 * NS_PER_S, T0 + 16 * NS_PER_S);
}

static void test_probe_gaps_need_a_reply_before_the_window(void **state)
{
	size_t n, ngaps = 42;
	struct probe_record *r = reboot_trace(state, &n);
	struct probe_gap untouched, *gaps = &untouched;
	int64_t unavailable = 42;

	assert_int_equal(
	    probe_gaps(r, n, T0, T0 + 16 * NS_PER_S, MIN_GAP_NS, &gaps, &ngaps, &unavailable),
	    -ENOENT);
	assert_null(gaps);
	assert_int_equal(ngaps, 0);
	assert_int_equal(unavailable, 0);
	assert_int_equal(
	    probe_gaps(r, 0, T0, T0 + 16 * NS_PER_S, MIN_GAP_NS, &gaps, &ngaps, &unavailable),
	    -ENOENT);
	assert_int_equal(probe_gaps(r, n, T0 + 9 * NS_PER_S, T0 + 16 * NS_PER_S, -1, &gaps, &ngaps,
				    &unavailable),
			 -EINVAL);
	assert_null(gaps);
}

/* ------------------------------------------------------------------------ */
/* The send schedule                                                         */

/* Not a whole number of microseconds, so that any rounding would show. */
#define ODD_INTERVAL_NS 999983LL

/*
 * A fake clock: each send goes out late by a different amount under one
 * interval, as a thread woken by a timer does.  Slot n is still due at exactly
 * start + n * interval; sleeping one interval from each send instead would be
 * late by the sum of the delays, about 5000 intervals by the end.
 */
static void test_probe_deadlines_do_not_drift_over_10000_sends(void **state)
{
	const int64_t start = T0 + 123;
	int64_t deadline = start;
	uint64_t slot = 0;

	(void)state;
	for (uint64_t i = 0; i < 10000; i++) {
		/* 0 .. 99 hundredths of an interval late, in a scrambled order (7919 is prime). */
		int64_t now = deadline + (int64_t)(i * 7919 % 100) * ODD_INTERVAL_NS / 100;

		deadline = probe_next_deadline(start, ODD_INTERVAL_NS, now, &slot);
		assert_int_equal(slot, i + 1);
		assert_int_equal(deadline, start + (int64_t)(i + 1) * ODD_INTERVAL_NS);
	}
	assert_int_equal(deadline, start + 10000 * ODD_INTERVAL_NS);
}

/*
 * The thread wakes 10 us after each deadline, but the host stalls it for
 * 37.5 intervals when slot 100 is due.  Slot 100 goes out when it runs again,
 * the 37 slots whose deadlines passed meanwhile (101 .. 137) are never sent,
 * and the next send is slot 138, on its own deadline: one send per wake-up,
 * no burst, and the grid is kept.
 */
static void test_probe_stall_skips_missed_slots_without_a_burst(void **state)
{
	const int64_t start = T0, iv = ODD_INTERVAL_NS, late = 10 * NS_PER_US;
	int64_t deadline = start, sent[200] = {0}, stall_end = start + 100 * iv + 75 * iv / 2;
	uint64_t slot = 0, slots[200] = {0};
	size_t n = 0;

	(void)state;
	while (deadline < start + 200 * iv) {
		int64_t now = slot == 100 ? stall_end : deadline + late;

		slots[n] = slot;
		sent[n++] = now;
		deadline = probe_next_deadline(start, iv, now, &slot);
		assert_true(deadline > now);
	}
	/* Slots 0 .. 199 but for the 37 skipped. */
	assert_int_equal(n, 200 - 37);
	assert_int_equal(slots[100], 100);
	assert_int_equal(sent[100], stall_end);
	assert_int_equal(slots[101], 138);
	assert_int_equal(sent[101], start + 138 * iv + late);
	for (size_t i = 1; i < n; i++) {
		if (i == 100 || i == 101)
			continue;
		/* Everywhere else one interval apart, to the nanosecond. */
		assert_int_equal(sent[i] - sent[i - 1], (int64_t)(slots[i] - slots[i - 1]) * iv);
	}
	/* Around the stall: 38.5 intervals (less 10 us) to the late send, 0.5 (+ 10 us) after. */
	assert_int_equal(sent[100] - sent[99], 77 * iv / 2 - late);
	assert_int_equal(sent[101] - sent[100], iv - iv / 2 + late);
}

/*
 * Late by less than one interval, nothing is skipped; late by one interval
 * or more, the slot whose deadline is already past (even exactly now) is.
 */
static void test_probe_deadline_skips_only_slots_already_due(void **state)
{
	const int64_t start = T0, iv = ODD_INTERVAL_NS;
	uint64_t slot;

	(void)state;
	slot = 5;
	assert_int_equal(probe_next_deadline(start, iv, start + 6 * iv - 1, &slot), start + 6 * iv);
	assert_int_equal(slot, 6);
	slot = 5;
	assert_int_equal(probe_next_deadline(start, iv, start + 6 * iv, &slot), start + 7 * iv);
	assert_int_equal(slot, 7);
	slot = 5;
	assert_int_equal(probe_next_deadline(start, iv, start + 9 * iv + 1, &slot),
			 start + 10 * iv);
	assert_int_equal(slot, 10);
	/* A clock before the start (it cannot be, but) keeps the next slot. */
	slot = 0;
	assert_int_equal(probe_next_deadline(start, iv, start - 5 * iv, &slot), start + iv);
	assert_int_equal(slot, 1);
}

/* A trace of @n sends spaced @spacing_ns[0 .. n-2] apart from T0; owned by *state. */
static struct probe_record *trace_spaced(void **state, const int64_t *spacing_ns, size_t n)
{
	struct probe_record *r = trace_new(state, n);

	for (size_t i = 1; i < n; i++)
		r[i].t_send_ns = r[i - 1].t_send_ns + spacing_ns[i - 1];
	return r;
}

/*
 * Spacings 1.0, 1.3, 1.1 and 2.0 ms: sorted 1.0 1.1 1.3 2.0, the median is
 * (1.1 + 1.3) / 2 = 1.2 ms and p99 (h = 3 * 0.99 = 2.97) is
 * 1.3 + 0.97 * 0.7 = 1.979 ms.  Neither is a spacing that occurred.
 */
static void test_probe_send_interval_interpolates_median_and_p99(void **state)
{
	const int64_t spacing[] = {1000 * NS_PER_US, 1300 * NS_PER_US, 1100 * NS_PER_US,
				   2000 * NS_PER_US};
	struct probe_record *r = trace_spaced(state, spacing, 5);
	int64_t median, p99;

	assert_int_equal(probe_send_interval(r, 5, INT64_MIN, INT64_MAX, &median, &p99), 0);
	assert_int_equal(median, 1200 * NS_PER_US);
	assert_int_equal(p99, 1979 * NS_PER_US);
}

/*
 * 100 spacings: 90 of 1 ms, 9 of 1.2 ms and one of 5 ms (a stall), mixed.
 * The median is 1 ms; p99 (h = 99 * 0.99 = 98.01) is 1.2 + 0.01 * 3.8 =
 * 1.238 ms.  A window without both sends of the stall leaves it out: before
 * it, 60 spacings (55 of 1 ms, 5 of 1.2 ms; with the stall's, p99 would be
 * 2.72 ms), after it 39 (35 and 4): p99 1.2 ms either way.
 */
static void test_probe_send_interval_counts_spacings_inside_the_window(void **state)
{
	int64_t spacing[100], median, p99, stall_start, stall_end;
	const size_t slow[] = {5, 16, 27, 38, 49, 71, 82, 93, 99}; /* the 1.2 ms spacings */
	struct probe_record *r;

	for (size_t i = 0; i < 100; i++)
		spacing[i] = NS_PER_MS;
	for (size_t i = 0; i < sizeof(slow) / sizeof(slow[0]); i++)
		spacing[slow[i]] = 1200 * NS_PER_US;
	spacing[60] = 5 * NS_PER_MS;
	r = trace_spaced(state, spacing, 101);
	stall_start = r[60].t_send_ns;
	stall_end = r[61].t_send_ns;

	assert_int_equal(probe_send_interval(r, 101, INT64_MIN, INT64_MAX, &median, &p99), 0);
	assert_int_equal(median, NS_PER_MS);
	assert_int_equal(p99, 1238 * NS_PER_US);
	/* The window is inclusive: the trace's own ends give the same. */
	assert_int_equal(
	    probe_send_interval(r, 101, r[0].t_send_ns, r[100].t_send_ns, &median, &p99), 0);
	assert_int_equal(p99, 1238 * NS_PER_US);

	assert_int_equal(probe_send_interval(r, 101, INT64_MIN, stall_end - 1, &median, &p99), 0);
	assert_int_equal(median, NS_PER_MS);
	assert_int_equal(p99, 1200 * NS_PER_US);
	assert_int_equal(probe_send_interval(r, 101, stall_start + 1, INT64_MAX, &median, &p99), 0);
	assert_int_equal(median, NS_PER_MS);
	assert_int_equal(p99, 1200 * NS_PER_US);
}

static void test_probe_send_interval_needs_two_sends_in_the_window(void **state)
{
	const int64_t spacing[] = {NS_PER_MS, NS_PER_MS};
	struct probe_record *r = trace_spaced(state, spacing, 3);
	int64_t median = 42, p99 = 42;

	assert_int_equal(probe_send_interval(r, 0, INT64_MIN, INT64_MAX, &median, &p99), -ENOENT);
	assert_int_equal(median, 0);
	assert_int_equal(p99, 0);
	/* One send inside: no spacing. */
	assert_int_equal(probe_send_interval(r, 3, T0 + 1, T0 + NS_PER_MS, &median, &p99), -ENOENT);
	/* Two: one spacing, which is both the median and p99. */
	assert_int_equal(probe_send_interval(r, 3, T0, T0 + NS_PER_MS, &median, &p99), 0);
	assert_int_equal(median, NS_PER_MS);
	assert_int_equal(p99, NS_PER_MS);
}

/* ------------------------------------------------------------------------ */
/* Verification                                                              */

/* A good upgrade: 4500 requests between the last reply of A and the first of B. */
static struct probe_result upgrade_result(void)
{
	struct probe_result res = {0};

	res.before.seq = 10000;
	res.before.t_send_ns = T0 + 10 * NS_PER_S;
	res.before.t_recv_ns = res.before.t_send_ns + 200 * NS_PER_US;
	res.before.counter = 10001;
	snprintf(res.before.release, sizeof(res.before.release), "%s", REL_A);
	snprintf(res.before.boot_id, sizeof(res.before.boot_id), "%s", BOOT_A);
	res.after.seq = 14500;
	res.after.t_send_ns = T0 + 14500 * NS_PER_MS;
	res.after.t_recv_ns = res.after.t_send_ns + 200 * NS_PER_US;
	res.after.counter = 10002;
	snprintf(res.after.release, sizeof(res.after.release), "%s", REL_B);
	snprintf(res.after.boot_id, sizeof(res.after.boot_id), "%s", BOOT_B);
	res.downtime_ns = res.after.t_recv_ns - res.before.t_recv_ns;
	return res;
}

static void test_verify_good_upgrade_is_verified(void **state)
{
	struct probe_result res = upgrade_result();
	struct probe_verdict v;

	(void)state;
	probe_verify(&res, REL_B, &v);
	assert_true(v.boot_changed);
	assert_true(v.release_ok);
	assert_true(v.state_continued);
	assert_true(v.verified);
	assert_string_equal(v.why, "");
}

static void test_verify_same_boot_id_is_not_verified(void **state)
{
	struct probe_result res = upgrade_result();
	struct probe_verdict v;

	(void)state;
	snprintf(res.after.boot_id, sizeof(res.after.boot_id), "%s", BOOT_A);
	probe_verify(&res, REL_B, &v);
	assert_false(v.boot_changed);
	assert_true(v.release_ok);
	assert_true(v.state_continued);
	assert_false(v.verified);
	assert_non_null(strstr(v.why, "boot id"));
	assert_non_null(strstr(v.why, BOOT_A));
}

static void test_verify_unexpected_release_is_not_verified(void **state)
{
	struct probe_result res = upgrade_result();
	struct probe_verdict v;

	(void)state;
	probe_verify(&res, "6.6.1-expected", &v);
	assert_true(v.boot_changed);
	assert_false(v.release_ok);
	assert_true(v.state_continued);
	assert_false(v.verified);
	assert_non_null(strstr(v.why, REL_B));
	assert_non_null(strstr(v.why, "6.6.1-expected"));
}

static void test_verify_counter_reset_is_not_continued(void **state)
{
	struct probe_result res = upgrade_result();
	struct probe_verdict v;

	(void)state;
	res.before.counter = 500;
	res.after.counter = 1;
	probe_verify(&res, REL_B, &v);
	assert_true(v.boot_changed);
	assert_true(v.release_ok);
	assert_false(v.state_continued);
	assert_false(v.verified);
	assert_non_null(strstr(v.why, "500"));
	assert_non_null(strstr(v.why, "state"));

	/* The first reply after the gap is itself counted: an equal counter is no continuation. */
	res.after.counter = 500;
	probe_verify(&res, REL_B, &v);
	assert_false(v.state_continued);
}

static void test_verify_counter_jump_beyond_requests_sent_is_not_continued(void **state)
{
	struct probe_result res = upgrade_result();
	uint64_t between = res.after.seq - res.before.seq;
	struct probe_verdict v;

	(void)state;
	/* Every request between was served (replies lost): the most the counter can grow. */
	res.after.counter = res.before.counter + between;
	probe_verify(&res, REL_B, &v);
	assert_true(v.state_continued);
	assert_true(v.verified);

	/* One more than was ever sent: a foreign state, not ours. */
	res.after.counter = res.before.counter + between + 1;
	probe_verify(&res, REL_B, &v);
	assert_false(v.state_continued);
	assert_false(v.verified);
	assert_non_null(strstr(v.why, "state"));
}

static void test_verify_no_expected_release_accepts_any(void **state)
{
	struct probe_result res = upgrade_result();
	struct probe_verdict v;

	(void)state;
	probe_verify(&res, NULL, &v);
	assert_true(v.release_ok);
	assert_true(v.verified);

	/* Even the old release: with a new boot id and the state continued, that is a reboot. */
	snprintf(res.after.release, sizeof(res.after.release), "%s", REL_A);
	probe_verify(&res, NULL, &v);
	assert_true(v.release_ok);
	assert_true(v.verified);
}

static void test_verify_no_reply_after_gap_is_not_verified(void **state)
{
	struct probe_result res = upgrade_result();
	struct probe_verdict v;

	(void)state;
	memset(&res.after, 0, sizeof(res.after));
	res.downtime_ns = 0;
	probe_verify(&res, NULL, &v);
	assert_false(v.boot_changed);
	assert_false(v.release_ok);
	assert_false(v.state_continued);
	assert_false(v.verified);
	assert_non_null(strstr(v.why, "never answered"));
}

/* ------------------------------------------------------------------------ */
/* Reply parsing                                                             */

static int parse_str(const char *s, struct probe_record *rec)
{
	return probe_parse_reply(s, strlen(s), rec);
}

static void test_parse_reply_reads_every_field(void **state)
{
	struct probe_record rec;

	(void)state;
	memset(&rec, 0xaa, sizeof(rec));
	assert_int_equal(parse_str("TB1 42 1001 6.1.0-13-amd64 "
				   "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f\n",
				   &rec),
			 0);
	assert_int_equal(rec.seq, 42);
	assert_int_equal(rec.counter, 1001);
	assert_string_equal(rec.release, "6.1.0-13-amd64");
	assert_string_equal(rec.boot_id, "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f");

	/* 64-bit values survive. */
	assert_int_equal(parse_str("TB1 18446744073709551615 9007199254740993 r b", &rec), 0);
	assert_int_equal(rec.seq, UINT64_MAX);
	assert_int_equal(rec.counter, 9007199254740993ULL);
}

static void test_parse_reply_reads_only_len_bytes(void **state)
{
	static const char buf[] = "TB1 7 8 rel bootXYZ";
	struct probe_record rec;

	(void)state;
	/* A datagram is not NUL-terminated: what follows it in the buffer is not part of it. */
	assert_int_equal(probe_parse_reply(buf, sizeof(buf) - 1 - 3, &rec), 0);
	assert_string_equal(rec.boot_id, "boot");
}

static void test_parse_reply_rejects_garbage(void **state)
{
	static const char *const bad[] = {
	    "",
	    "\n",
	    "hello world",
	    "tb1 1 2 r b",
	    "TB2 1 2 r b",
	    "TB1 x 2 r b",
	    "TB1 1 y r b",
	    "\x00\x01\x02\x03",
	};
	struct probe_record rec;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_str(bad[i], &rec) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void test_parse_reply_rejects_missing_fields(void **state)
{
	static const char *const bad[] = {
	    "TB1", "TB1 42\n", "TB1 42 1001\n", "TB1 42 1001 6.1.0\n", "TB1 42 1001 6.1.0 \n",
	};
	struct probe_record rec;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_str(bad[i], &rec) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void test_parse_reply_rejects_overlong_buffer(void **state)
{
	char buf[300];
	struct probe_record rec;

	(void)state;
	/* A valid reply padded with blanks: 255 bytes still parse, 256 (the recv buffer) not. */
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, "TB1 1 2 rel boot", 16);
	assert_int_equal(probe_parse_reply(buf, 255, &rec), 0);
	assert_int_equal(probe_parse_reply(buf, 256, &rec), -1);
	assert_int_equal(probe_parse_reply(buf, sizeof(buf), &rec), -1);
}

/*
 * BUG (probe.c:51): "%64s %39s" stops reading a field at the record's size and
 * goes on with the rest of it as the next field, so a release of 65 characters
 * becomes release = its first 64, boot id = its last one, and the real boot id
 * is ignored.
 */
static void test_parse_reply_rejects_field_longer_than_record(void **state)
{
	char buf[200];
	struct probe_record rec;

	(void)state;
	snprintf(buf, sizeof(buf), "TB1 1 2 %065d %s\n", 0, BOOT_A);
	assert_int_equal(parse_str(buf, &rec), -1);
	snprintf(buf, sizeof(buf), "TB1 1 2 rel %s%s\n", BOOT_A, "-and-more");
	assert_int_equal(parse_str(buf, &rec), -1);
}

/*
 * BUG (probe.c:51): a blank in a scanf format matches zero blanks, so "TB142 ..."
 * is read as tag "TB1", seq 42, and every later field shifts by one.
 */
static void test_parse_reply_requires_blank_after_tag(void **state)
{
	struct probe_record rec;

	(void)state;
	assert_int_equal(parse_str("TB142 1001 6.1.0 " BOOT_A "\n", &rec), -1);
}

/* ------------------------------------------------------------------------ */
/* Live: the prober thread, a fake agent and the real one, all on loopback    */

/* The fake agent's thread ends on its own after this, whatever the test does. */
#define FAKE_LIFETIME_NS (60 * NS_PER_S)
/* How long the fake agent keeps silent in the live test. */
#define SILENCE_NS (300 * NS_PER_MS)
/* No reply for this long = the probe has seen the agent go silent (1 ms probes). */
#define QUIET_NS (50 * NS_PER_MS)
/* The downtime's upper bound over the silence: about the math, not the machine. */
#define SLACK_NS (200 * NS_PER_MS)

/*
 * A stand-in for guest/agent/agent.c: same request and reply, a counter of
 * requests served, and on command a silence followed by a "new boot" (another
 * boot id and release) that continues the counter.  Replies are sent with the
 * lock held, so once fake_agent_go_silent() returns no reply is on its way.
 * The thread never asserts (cmocka is not thread-safe); it records an error.
 */
struct fake_agent {
	int fd;
	uint16_t port;
	pthread_t thread;
	bool started;

	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool stop;
	bool silent;
	int64_t resume_at_ns; /* while silent: answer again from then on; 0 = not yet */
	const char *release, *boot_id;
	const char *next_release, *next_boot_id;

	uint64_t counter;
	uint64_t answered;	   /* replies sent */
	uint64_t answered_before;  /* replies sent before the silence */
	uint64_t dropped;	   /* requests left unanswered while silent */
	int64_t last_tx_ns;	   /* after the last reply's sendto() */
	int64_t silence_from_ns;   /* last_tx_ns when told to go silent */
	int64_t first_tx_after_ns; /* before the first reply after the silence is sent */
	int error;
};

static void *fake_agent_thread(void *arg)
{
	struct fake_agent *fa = arg;
	int64_t end = monotime_now() + FAKE_LIFETIME_NS;
	struct pollfd pfd = {.fd = fa->fd, .events = POLLIN};

	while (monotime_now() < end) {
		char req[128], reply[256];
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		unsigned long long seq;
		bool stop;
		ssize_t n;
		int len, rc;

		pthread_mutex_lock(&fa->lock);
		stop = fa->stop;
		pthread_mutex_unlock(&fa->lock);
		if (stop)
			break;
		/* 10 ms: how late a stop request is noticed. */
		rc = poll(&pfd, 1, 10);
		if (rc <= 0)
			continue;
		n = recvfrom(fa->fd, req, sizeof(req) - 1, MSG_DONTWAIT, (struct sockaddr *)&peer,
			     &plen);
		if (n < 0)
			continue;
		req[n] = '\0';
		if (sscanf(req, "TB1 %llu", &seq) != 1)
			continue;

		pthread_mutex_lock(&fa->lock);
		if (fa->silent) {
			if (!fa->resume_at_ns || monotime_now() < fa->resume_at_ns) {
				fa->dropped++;
				pthread_mutex_unlock(&fa->lock);
				continue;
			}
			fa->silent = false;
			fa->release = fa->next_release;
			fa->boot_id = fa->next_boot_id;
			fa->first_tx_after_ns = monotime_now();
		}
		fa->counter++;
		len = snprintf(reply, sizeof(reply), "TB1 %llu %" PRIu64 " %s %s\n", seq,
			       fa->counter, fa->release, fa->boot_id);
		if (sendto(fa->fd, reply, (size_t)len, 0, (struct sockaddr *)&peer, plen) != len)
			fa->error = errno;
		fa->last_tx_ns = monotime_now();
		fa->answered++;
		pthread_cond_broadcast(&fa->changed);
		pthread_mutex_unlock(&fa->lock);
	}
	return NULL;
}

static struct fake_agent *fake_agent_start(const char *release, const char *boot_id)
{
	struct fake_agent *fa = calloc(1, sizeof(*fa));
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t alen = sizeof(addr);
	pthread_condattr_t attr;

	if (!fa)
		return NULL;
	fa->release = release;
	fa->boot_id = boot_id;
	pthread_mutex_init(&fa->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&fa->changed, &attr);
	pthread_condattr_destroy(&attr);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fa->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fa->fd < 0 || bind(fa->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    getsockname(fa->fd, (struct sockaddr *)&addr, &alen) != 0)
		goto err;
	fa->port = ntohs(addr.sin_port);
	if (pthread_create(&fa->thread, NULL, fake_agent_thread, fa) != 0)
		goto err;
	fa->started = true;
	return fa;
err:
	if (fa->fd >= 0)
		close(fa->fd);
	pthread_mutex_destroy(&fa->lock);
	pthread_cond_destroy(&fa->changed);
	free(fa);
	return NULL;
}

/* Stop the thread; the measurements stay readable until fake_agent_free(). */
static void fake_agent_stop(struct fake_agent *fa)
{
	if (!fa || !fa->started)
		return;
	pthread_mutex_lock(&fa->lock);
	fa->stop = true;
	pthread_mutex_unlock(&fa->lock);
	pthread_join(fa->thread, NULL);
	fa->started = false;
}

static void fake_agent_free(struct fake_agent *fa)
{
	if (!fa)
		return;
	fake_agent_stop(fa);
	close(fa->fd);
	pthread_mutex_destroy(&fa->lock);
	pthread_cond_destroy(&fa->changed);
	free(fa);
}

static void fake_agent_go_silent(struct fake_agent *fa)
{
	pthread_mutex_lock(&fa->lock);
	fa->silent = true;
	fa->resume_at_ns = 0;
	fa->answered_before = fa->answered;
	fa->silence_from_ns = fa->last_tx_ns;
	pthread_mutex_unlock(&fa->lock);
}

/* Answer again, as a new boot, to the first request that arrives at or after @t_ns. */
static void fake_agent_resume_at(struct fake_agent *fa, int64_t t_ns, const char *release,
				 const char *boot_id)
{
	pthread_mutex_lock(&fa->lock);
	fa->next_release = release;
	fa->next_boot_id = boot_id;
	fa->resume_at_ns = t_ns;
	pthread_mutex_unlock(&fa->lock);
}

/* Wait until the fake agent has sent @n replies in all; 0 or -ETIMEDOUT. */
static int fake_agent_wait_answered(struct fake_agent *fa, uint64_t n, int64_t deadline_ns)
{
	struct timespec ts = monotime_timespec(deadline_ns);
	int rc = 0;

	pthread_mutex_lock(&fa->lock);
	while (fa->answered < n && rc == 0)
		if (pthread_cond_timedwait(&fa->changed, &fa->lock, &ts) == ETIMEDOUT &&
		    fa->answered < n)
			rc = -ETIMEDOUT;
	pthread_mutex_unlock(&fa->lock);
	return rc;
}

/* A UDP socket bound to 127.0.0.1 on a port the kernel picked; *port set. */
static int loopback_udp_socket(uint16_t *port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t alen = sizeof(addr);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(addr.sin_port);
	return fd;
}

/* A UDP socket connect()ed to 127.0.0.1:@port, or -1. */
static int udp_connect_loopback(uint16_t port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Everything a live test holds, released by live_teardown() even when an assertion fails. */
struct live {
	char dir[64];
	char csv[128];
	struct fake_agent *fa;
	struct probe *p;
	struct probe_record *snap;
	size_t nsnap;
	unsigned char *seen;
	FILE *f;
	char *line;
	int held_fd;
	/* The real agent, when one runs, and what it printed. */
	pid_t agent_pid;
	int agent_out;
	char out[4096];
	size_t out_len;
};

static int live_setup(void **state)
{
	struct live *l = calloc(1, sizeof(*l));

	if (!l)
		return -1;
	snprintf(l->dir, sizeof(l->dir), "/tmp/tb-test-probe-XXXXXX");
	if (!mkdtemp(l->dir)) {
		free(l);
		return -1;
	}
	snprintf(l->csv, sizeof(l->csv), "%s/probe.csv", l->dir);
	l->held_fd = -1;
	l->agent_pid = -1;
	l->agent_out = -1;
	*state = l;
	return 0;
}

static void agent_reap(struct live *l);

static int live_teardown(void **state)
{
	struct live *l = *state;
	DIR *d;

	probe_free(l->p);
	fake_agent_free(l->fa);
	if (l->agent_pid > 0) {
		kill(l->agent_pid, SIGKILL);
		agent_reap(l);
	}
	if (l->agent_out >= 0)
		close(l->agent_out);
	if (l->held_fd >= 0)
		close(l->held_fd);
	if (l->f)
		fclose(l->f);
	free(l->line);
	free(l->seen);
	free(l->snap);
	d = opendir(l->dir);
	if (d) {
		struct dirent *e;

		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	rmdir(l->dir);
	free(l);
	return 0;
}

static struct probe *probe_start_or_fail(int fd, const char *csv, int rep)
{
	struct tb_err err = {0};
	struct probe *p;

	if (fd < 0)
		fail_msg("socket: %s", strerror(errno));
	p = probe_start(fd, NS_PER_MS, csv, rep, &err);
	if (!p)
		fail_msg("probe_start: %s", err.msg);
	return p;
}

/*
 * Check probe.csv against the trace: one header, a send row for every request
 * with its stamp, a recv row for every reply with its stamp and fields, and no
 * recv row without its send row.
 */
static void assert_csv_matches_trace(struct live *l, int rep)
{
	size_t cap = 0, sends = 0, recvs = 0, replies = 0;

	l->f = fopen(l->csv, "r");
	assert_non_null(l->f);
	assert_true(getline(&l->line, &cap, l->f) > 0);
	assert_string_equal(l->line, "event,rep,seq,t_ns,counter,release,boot_id\n");
	l->seen = calloc(l->nsnap ? l->nsnap : 1, 1);
	assert_non_null(l->seen);

	/* Bounded by the file, which the stopped probe no longer writes. */
	while (getline(&l->line, &cap, l->f) > 0) {
		unsigned long long seq, counter;
		long long t;
		char release[65], boot[40];
		int r, end = 0;

		if (sscanf(l->line, "send,%d,%llu,%lld%n", &r, &seq, &t, &end) == 3 && end) {
			assert_string_equal(l->line + end, ",,,\n");
			assert_int_equal(r, rep);
			assert_in_range(seq, 0, l->nsnap - 1);
			assert_int_equal(t, l->snap[seq].t_send_ns);
			assert_false(l->seen[seq]);
			l->seen[seq] = 1;
			sends++;
		} else if (sscanf(l->line, "recv,%d,%llu,%lld,%llu,%64[^,],%39[^\n]", &r, &seq, &t,
				  &counter, release, boot) == 6) {
			assert_int_equal(r, rep);
			assert_in_range(seq, 0, l->nsnap - 1);
			if (!l->seen[seq])
				fail_msg("recv row for seq %llu has no send row before it", seq);
			assert_int_equal(t, l->snap[seq].t_recv_ns);
			assert_int_equal(counter, l->snap[seq].counter);
			assert_string_equal(release, l->snap[seq].release);
			assert_string_equal(boot, l->snap[seq].boot_id);
			recvs++;
		} else {
			fail_msg("unexpected CSV row: %s", l->line);
		}
	}
	for (size_t i = 0; i < l->nsnap; i++)
		replies += l->snap[i].t_recv_ns != 0;
	assert_int_equal(sends, l->nsnap);
	assert_int_equal(recvs, replies);
}

static void test_probe_live_silence_is_downtime_and_new_boot_is_verified(void **state)
{
	struct live *l = *state;
	struct probe_record last_before, first_after, r;
	struct probe_result res;
	struct probe_verdict v;
	int64_t t_told, t_end, agent_silence, median, p99;
	size_t sent = 0, lost = 0, unanswered = 0, replies_a = 0;

	l->fa = fake_agent_start(REL_A, BOOT_A);
	assert_non_null(l->fa);
	l->p = probe_start_or_fail(udp_connect_loopback(l->fa->port), l->csv, 1);

	/* A steady service first. */
	assert_int_equal(fake_agent_wait_answered(l->fa, 50, monotime_now() + WAIT_NS), 0);
	assert_int_equal(probe_wait_reply(l->p, 0, monotime_now() + WAIT_NS, NULL), 0);

	t_told = monotime_now();
	fake_agent_go_silent(l->fa);
	assert_int_equal(probe_wait_silence(l->p, QUIET_NS, monotime_now() + WAIT_NS), 0);
	/* The newest reply the probe holds is the last one before the gap. */
	assert_int_equal(probe_wait_reply(l->p, 0, monotime_now() + WAIT_NS, &last_before), 0);
	assert_string_equal(last_before.boot_id, BOOT_A);
	fake_agent_resume_at(l->fa, last_before.t_recv_ns + SILENCE_NS, REL_B, BOOT_B);

	assert_int_equal(
	    probe_wait_reply(l->p, last_before.t_recv_ns, monotime_now() + WAIT_NS, &first_after),
	    0);
	assert_string_equal(first_after.boot_id, BOOT_B);
	r = first_after;
	for (int i = 0; i < 20; i++)
		assert_int_equal(probe_wait_reply(l->p, r.t_recv_ns, monotime_now() + WAIT_NS, &r),
				 0);
	probe_stop(l->p);
	t_end = monotime_now();
	fake_agent_stop(l->fa);
	assert_int_equal(l->fa->error, 0);

	l->snap = probe_snapshot(l->p, &l->nsnap);
	assert_non_null(l->snap);
	for (size_t i = 0; i < l->nsnap; i++) {
		assert_int_equal(l->snap[i].seq, i);
		if (i)
			assert_ge(l->snap[i].t_send_ns, l->snap[i - 1].t_send_ns);
		if (l->snap[i].t_send_ns >= t_told && l->snap[i].t_send_ns <= t_end) {
			sent++;
			lost += !l->snap[i].t_recv_ns;
		}
		unanswered += !l->snap[i].t_recv_ns;
		/*
		 * The kernel's receive stamp, moved from CLOCK_REALTIME onto the
		 * probe's clock: after the request left, and not in the future.
		 */
		if (l->snap[i].t_recv_ns) {
			assert_ge(l->snap[i].t_recv_ns, l->snap[i].t_send_ns);
			assert_ge(t_end, l->snap[i].t_recv_ns);
		}
		replies_a += l->snap[i].t_recv_ns && !strcmp(l->snap[i].boot_id, BOOT_A);
	}
	/* Loopback loses nothing: every reply of the first boot reached the probe. */
	assert_int_equal(replies_a, l->fa->answered_before);

	/*
	 * The interval achieved is the one asked for (1 ms): sleeping a
	 * rounded-up millisecond from each send gave a median of 1.13 ms.
	 */
	assert_int_equal(
	    probe_send_interval(l->snap, l->nsnap, INT64_MIN, INT64_MAX, &median, &p99), 0);
	assert_ge(median, NS_PER_MS - NS_PER_MS / 20);
	assert_lt(median, NS_PER_MS + NS_PER_MS / 20);
	assert_ge(p99, median);

	assert_int_equal(probe_analyse(l->snap, l->nsnap, t_told, t_end, &res), 0);
	assert_int_equal(res.before.seq, last_before.seq);
	assert_int_equal(res.before.t_recv_ns, last_before.t_recv_ns);
	assert_string_equal(res.before.boot_id, BOOT_A);
	assert_int_equal(res.before.counter, l->fa->answered_before);
	assert_string_equal(res.after.boot_id, BOOT_B);
	assert_string_equal(res.after.release, REL_B);
	assert_int_equal(res.after.counter, res.before.counter + 1);
	assert_ge(res.after.t_recv_ns, l->fa->first_tx_after_ns);

	/*
	 * The silence, on the one clock: the agent held its replies until
	 * SILENCE_NS after the probe had stamped the last one.  Measuring from
	 * the agent's own last send instead would compare two stamping
	 * latencies of a few microseconds each, and ">=" would be a coin toss.
	 */
	assert_ge(l->fa->first_tx_after_ns - last_before.t_recv_ns, SILENCE_NS);
	assert_ge(res.downtime_ns, l->fa->first_tx_after_ns - last_before.t_recv_ns);
	agent_silence = l->fa->first_tx_after_ns - l->fa->silence_from_ns;
	assert_lt(res.downtime_ns, agent_silence + SLACK_NS);

	assert_int_equal(res.sent, sent);
	assert_int_equal(res.lost, lost);
	/* Every request the agent dropped stays unanswered in the trace. */
	assert_true(l->fa->dropped > 0);
	assert_ge((int64_t)unanswered, (int64_t)l->fa->dropped);

	probe_verify(&res, REL_B, &v);
	if (!v.verified)
		fail_msg("not verified: %s", v.why);

	assert_csv_matches_trace(l, 1);
}

static void test_probe_waits_end_at_deadline(void **state)
{
	struct live *l = *state;
	int64_t t0;

	l->fa = fake_agent_start(REL_A, BOOT_A);
	assert_non_null(l->fa);
	l->p = probe_start_or_fail(udp_connect_loopback(l->fa->port), l->csv, 1);
	assert_int_equal(probe_wait_reply(l->p, 0, monotime_now() + WAIT_NS, NULL), 0);

	/* Replies every millisecond: never 10 s of silence. */
	t0 = monotime_now();
	assert_int_equal(probe_wait_silence(l->p, 10 * NS_PER_S, t0 + 100 * NS_PER_MS), -ETIMEDOUT);
	assert_ge(monotime_now(), t0 + 100 * NS_PER_MS);
	assert_lt(monotime_now(), t0 + WAIT_NS);

	fake_agent_go_silent(l->fa);
	assert_int_equal(probe_wait_silence(l->p, QUIET_NS, monotime_now() + WAIT_NS), 0);
	t0 = monotime_now();
	assert_int_equal(probe_wait_reply(l->p, t0, t0 + 100 * NS_PER_MS, NULL), -ETIMEDOUT);
	assert_ge(monotime_now(), t0 + 100 * NS_PER_MS);
	assert_lt(monotime_now(), t0 + WAIT_NS);
}

/*
 * The trace ends where the probe stopped sending, which probe_stop() says:
 * not when it returns, after the CSV's fsync (a trace ending there once
 * ended in a 110 ms silence the service never had).
 */
static void test_probe_stop_says_when_the_trace_ended(void **state)
{
	struct live *l = *state;
	int64_t asked, stopped, returned;

	l->fa = fake_agent_start(REL_A, BOOT_A);
	assert_non_null(l->fa);
	l->p = probe_start_or_fail(udp_connect_loopback(l->fa->port), l->csv, 1);
	assert_int_equal(probe_wait_reply(l->p, 0, monotime_now() + WAIT_NS, NULL), 0);

	asked = monotime_now();
	stopped = probe_stop(l->p);
	returned = monotime_now();
	assert_ge(stopped, asked);
	assert_ge(returned, stopped);
	/* Nothing was sent after it, and asking again changes nothing. */
	l->snap = probe_snapshot(l->p, &l->nsnap);
	assert_non_null(l->snap);
	assert_true(l->nsnap > 0);
	for (size_t i = 0; i < l->nsnap; i++)
		assert_ge(stopped, l->snap[i].t_send_ns);
	assert_int_equal(probe_stop(l->p), stopped);
	assert_int_equal(probe_stop(NULL), 0);
}

/* Requests into a closed loopback port: every one lost, the thread unharmed by ECONNREFUSED. */
static void probe_closed_port(struct live *l, uint16_t port, int rep)
{
	int64_t t0 = monotime_now();

	l->p = probe_start_or_fail(udp_connect_loopback(port), l->csv, rep);
	assert_int_equal(probe_wait_reply(l->p, 0, t0 + 100 * NS_PER_MS, NULL), -ETIMEDOUT);
	probe_stop(l->p);
	free(l->snap);
	l->snap = probe_snapshot(l->p, &l->nsnap);
	assert_non_null(l->snap);
	probe_free(l->p);
	l->p = NULL;
}

static void test_probe_closed_port_loses_all_and_csv_has_one_header(void **state)
{
	struct live *l = *state;
	struct probe_result res;
	size_t cap = 0, headers = 0, rows[3] = {0};
	uint16_t port = 0;
	int fd = loopback_udp_socket(&port);

	assert_true(fd >= 0);
	close(fd);

	probe_closed_port(l, port, 1);
	/* 100 ms of 1 ms probes; a thread killed by the first refusal would send 1 or 2. */
	assert_true(l->nsnap >= 10);
	for (size_t i = 0; i < l->nsnap; i++)
		assert_int_equal(l->snap[i].t_recv_ns, 0);
	assert_int_equal(probe_analyse(l->snap, l->nsnap, l->snap[0].t_send_ns, INT64_MAX, &res),
			 -ENOENT);

	/* A second repetition appends to the same file under its own tag. */
	probe_closed_port(l, port, 2);
	assert_true(l->nsnap >= 10);

	l->f = fopen(l->csv, "r");
	assert_non_null(l->f);
	while (getline(&l->line, &cap, l->f) > 0) {
		int rep;

		if (!strcmp(l->line, "event,rep,seq,t_ns,counter,release,boot_id\n"))
			headers++;
		else if (sscanf(l->line, "send,%d,", &rep) == 1 && rep >= 1 && rep <= 2)
			rows[rep]++;
		else
			fail_msg("unexpected CSV row: %s", l->line);
	}
	assert_int_equal(headers, 1);
	assert_true(rows[1] >= 10);
	assert_int_equal(rows[2], l->nsnap);
}

/* ------------------------------------------------------------------------ */
/* The real agent                                                            */

/* build/twinbench-agent: from the repo root where the tests run, else next to build/tests/. */
static bool agent_binary(char *path, size_t size)
{
	char exe[4096];
	ssize_t n;

	snprintf(path, size, "build/twinbench-agent");
	if (access(path, X_OK) == 0)
		return true;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	if (strrchr(exe, '/'))
		*strrchr(exe, '/') = '\0';
	snprintf(path, size, "%s/../twinbench-agent", exe);
	return access(path, X_OK) == 0;
}

/* Run the agent with its stdout and stderr on a pipe (l->agent_out). */
/* The agent on @port with its state in @state_path, and one more option @extra (or NULL). */
static void agent_spawn_with(struct live *l, const char *bin, uint16_t port,
			     const char *state_path, const char *extra)
{
	char port_s[16];
	char *argv[] = {(char *)bin,	   (char *)"--port",   port_s,
			(char *)"--state", (char *)state_path, (char *)extra, NULL};
	posix_spawn_file_actions_t fa;
	int pfd[2], rc;

	snprintf(port_s, sizeof(port_s), "%u", port);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDERR_FILENO);
	rc = posix_spawn(&l->agent_pid, bin, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		l->agent_pid = -1;
		fail_msg("posix_spawn %s: %s", bin, strerror(rc));
	}
	l->agent_out = pfd[0];
	l->out_len = 0;
	l->out[0] = '\0';
}

static void agent_spawn(struct live *l, const char *bin, uint16_t port, const char *state_path)
{
	agent_spawn_with(l, bin, port, state_path, NULL);
}

/*
 * Collect the agent's output until @needle appears (NULL: until EOF) or
 * @deadline_ns; 0, -EPIPE at EOF without the needle, or -ETIMEDOUT.
 */
static int agent_read_until(struct live *l, const char *needle, int64_t deadline_ns)
{
	for (;;) {
		struct pollfd pfd = {.fd = l->agent_out, .events = POLLIN};
		int64_t left = deadline_ns - monotime_now();
		ssize_t n;

		if (needle && strstr(l->out, needle))
			return 0;
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(left / NS_PER_MS) + 1) <= 0)
			continue;
		n = read(l->agent_out, l->out + l->out_len, sizeof(l->out) - 1 - l->out_len);
		if (n <= 0)
			return needle ? -EPIPE : 0;
		l->out_len += (size_t)n;
		l->out[l->out_len] = '\0';
	}
}

static void agent_reap(struct live *l)
{
	int status;

	while (waitpid(l->agent_pid, &status, 0) < 0 && errno == EINTR)
		;
	l->agent_pid = -1;
}

/* Wait for the agent to exit (killing it at the deadline); its exit status, or -1. */
static int agent_wait_exit(struct live *l, int64_t deadline_ns)
{
	int status;

	if (agent_read_until(l, NULL, deadline_ns) != 0) {
		kill(l->agent_pid, SIGKILL);
		agent_reap(l);
		fail_msg("agent did not exit; it printed: %s", l->out);
	}
	while (waitpid(l->agent_pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	l->agent_pid = -1;
	close(l->agent_out);
	l->agent_out = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void agent_expect_output(struct live *l, const char *needle)
{
	if (agent_read_until(l, needle, monotime_now() + WAIT_NS) != 0)
		fail_msg("agent output lacks \"%s\": %s", needle, l->out);
}

/* FNV-1a, as the state file format defines its checksum. */
static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static void state_line(char *buf, size_t size, uint64_t counter)
{
	char body[64];

	snprintf(body, sizeof(body), "TBSTATE 1 %" PRIu64, counter);
	snprintf(buf, size, "%s %08" PRIx32 "\n", body, fnv1a(body));
}

static void read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	n = read(fd, buf, size - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* One request "TB1 @seq" to 127.0.0.1:@port and its parsed reply. */
static void ask_agent(uint16_t port, uint64_t seq, struct probe_record *rec)
{
	struct pollfd pfd;
	char buf[256];
	int fd = udp_connect_loopback(port);
	ssize_t n;
	int len;

	assert_true(fd >= 0);
	len = snprintf(buf, sizeof(buf), "TB1 %" PRIu64, seq);
	assert_int_equal(send(fd, buf, (size_t)len, 0), len);
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, (int)(WAIT_NS / NS_PER_MS)) != 1) {
		close(fd);
		fail_msg("no reply from the agent on port %u", port);
	}
	n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	assert_true(n > 0);
	assert_int_equal(probe_parse_reply(buf, (size_t)n, rec), 0);
}

static void test_agent_state_survives_restart_and_corruption_is_refused(void **state)
{
	struct live *l = *state;
	char bin[4200], state_path[128], text[256], want[256], needle[128], boot_id[64] = "";
	struct probe_record r;
	struct utsname uts;
	uint64_t saved, max_counter = 0;
	size_t replies = 0;
	uint16_t port = 0;
	int fd;
	FILE *f;

	if (!agent_binary(bin, sizeof(bin)))
		skip();
	snprintf(state_path, sizeof(state_path), "%s/agent.state", l->dir);
	fd = loopback_udp_socket(&port);
	assert_true(fd >= 0);
	close(fd);

	/* Fresh start, probed at 1 ms. */
	agent_spawn(l, bin, port, state_path);
	agent_expect_output(l, "counter=0 state=fresh\n");
	l->p = probe_start_or_fail(udp_connect_loopback(port), l->csv, 1);
	r.t_recv_ns = 0;
	for (int i = 0; i < 50; i++)
		assert_int_equal(probe_wait_reply(l->p, r.t_recv_ns, monotime_now() + WAIT_NS, &r),
				 0);
	probe_stop(l->p);
	l->snap = probe_snapshot(l->p, &l->nsnap);
	assert_non_null(l->snap);
	for (size_t i = 0; i < l->nsnap; i++) {
		if (!l->snap[i].t_recv_ns)
			continue;
		/* One client on loopback: request seq is the agent's (seq + 1)th. */
		assert_int_equal(l->snap[i].counter, l->snap[i].seq + 1);
		replies++;
		max_counter = l->snap[i].counter;
	}
	assert_true(replies >= 50);

	/* SIGTERM: the state is saved in its format, counting every request served. */
	assert_int_equal(kill(l->agent_pid, SIGTERM), 0);
	assert_int_equal(agent_wait_exit(l, monotime_now() + WAIT_NS), 0);
	read_file(state_path, text, sizeof(text));
	assert_int_equal(sscanf(text, "TBSTATE 1 %" SCNu64, &saved), 1);
	assert_in_range(saved, max_counter, l->nsnap);
	state_line(want, sizeof(want), saved);
	assert_string_equal(text, want);
	snprintf(needle, sizeof(needle), "state saved counter=%" PRIu64 "\n", saved);
	assert_non_null(strstr(l->out, needle));

	/* Restart: restored, the file consumed, the counter continued. */
	agent_spawn(l, bin, port, state_path);
	snprintf(needle, sizeof(needle), "counter=%" PRIu64 " state=restored\n", saved);
	agent_expect_output(l, needle);
	assert_int_equal(access(state_path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	ask_agent(port, 7, &r);
	assert_int_equal(r.seq, 7);
	assert_int_equal(r.counter, saved + 1);
	assert_int_equal(uname(&uts), 0);
	assert_string_equal(r.release, uts.release);
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f) {
		if (fgets(boot_id, sizeof(boot_id), f))
			boot_id[strcspn(boot_id, "\n")] = '\0';
		fclose(f);
		assert_string_equal(r.boot_id, boot_id);
	}
	assert_int_equal(kill(l->agent_pid, SIGTERM), 0);
	assert_int_equal(agent_wait_exit(l, monotime_now() + WAIT_NS), 0);
	read_file(state_path, text, sizeof(text));
	state_line(want, sizeof(want), saved + 1);
	assert_string_equal(text, want);

	/* An edited counter under the old checksum: refused, and the evidence kept. */
	snprintf(text, sizeof(text), "TBSTATE 1 %" PRIu64 " %08" PRIx32 "\n", saved + 1000,
		 (uint32_t)strtoul(strrchr(want, ' ') + 1, NULL, 16));
	write_file(state_path, text);
	agent_spawn(l, bin, port, state_path);
	assert_int_equal(agent_wait_exit(l, monotime_now() + WAIT_NS), 1);
	assert_non_null(strstr(l->out, "refusing to start"));
	assert_non_null(strstr(l->out, state_path));
	read_file(state_path, want, sizeof(want));
	assert_string_equal(want, text);
}

/*
 * BUG (agent.c:172-184): the state file is removed as soon as it is read,
 * before the port is bound; when bind() fails the agent exits 1 and the
 * counter it restored is gone for good.
 */
static void test_agent_keeps_state_when_it_cannot_bind(void **state)
{
	struct live *l = *state;
	char bin[4200], state_path[128], text[256], want[256];
	uint16_t port = 0;

	if (!agent_binary(bin, sizeof(bin)))
		skip();
	snprintf(state_path, sizeof(state_path), "%s/agent.state", l->dir);
	state_line(want, sizeof(want), 41);
	write_file(state_path, want);

	/* Holding 127.0.0.1:port makes the agent's bind to 0.0.0.0:port fail. */
	l->held_fd = loopback_udp_socket(&port);
	assert_true(l->held_fd >= 0);
	agent_spawn(l, bin, port, state_path);
	assert_int_equal(agent_wait_exit(l, monotime_now() + WAIT_NS), 1);
	assert_non_null(strstr(l->out, "cannot bind"));

	if (access(state_path, F_OK) != 0)
		fail_msg("state file %s (counter 41) was removed by an agent that never ran",
			 state_path);
	read_file(state_path, text, sizeof(text));
	assert_string_equal(text, want);
}

/*
 * --memory-only (the kexec-criu method): the state is the process's memory.
 * A state file beside it is neither read nor consumed nor written: the
 * counter starts from zero, goes on per request, and a SIGTERM loses it.
 */
static void test_agent_memory_only_never_touches_the_state_file(void **state)
{
	struct live *l = *state;
	char bin[4200], state_path[128], text[256], want[256];
	struct probe_record r;
	uint16_t port = 0;
	int fd;

	if (!agent_binary(bin, sizeof(bin)))
		skip();
	snprintf(state_path, sizeof(state_path), "%s/agent.state", l->dir);
	state_line(want, sizeof(want), 41);
	write_file(state_path, want);
	fd = loopback_udp_socket(&port);
	assert_true(fd >= 0);
	close(fd);

	agent_spawn_with(l, bin, port, state_path, "--memory-only");
	agent_expect_output(l, "counter=0 state=memory\n");
	ask_agent(port, 1, &r);
	assert_int_equal(r.counter, 1);
	ask_agent(port, 2, &r);
	assert_int_equal(r.counter, 2);
	assert_int_equal(kill(l->agent_pid, SIGTERM), 0);
	assert_int_equal(agent_wait_exit(l, monotime_now() + WAIT_NS), 0);
	assert_non_null(strstr(l->out, "state (in memory only) lost counter=2\n"));
	read_file(state_path, text, sizeof(text));
	assert_string_equal(text, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_probe_gap_spans_reboot, trace_teardown),
	    cmocka_unit_test_teardown(test_probe_longest_of_several_gaps_wins, trace_teardown),
	    cmocka_unit_test_teardown(
		test_probe_stall_after_the_boot_change_is_downtime_but_not_the_proof, trace_teardown),
	    cmocka_unit_test_teardown(test_probe_gap_uses_arrival_order_not_seq_order,
				      trace_teardown),
	    cmocka_unit_test_teardown(test_probe_no_reply_before_window_is_enoent, trace_teardown),
	    cmocka_unit_test_teardown(
		test_probe_no_reply_after_window_start_is_etimedout_with_before, trace_teardown),
	    cmocka_unit_test_teardown(test_probe_replies_after_window_end_are_ignored,
				      trace_teardown),
	    cmocka_unit_test_teardown(test_probe_anchor_is_last_reply_at_or_before_start,
				      trace_teardown),
	    cmocka_unit_test_teardown(test_probe_gaps_lists_every_silence_longer_than_the_threshold,
				      trace_teardown),
	    cmocka_unit_test_teardown(test_probe_gaps_at_the_threshold_are_ignored, trace_teardown),
	    cmocka_unit_test_teardown(test_probe_gap_still_open_at_the_window_end_is_flagged_open,
				      trace_teardown),
	    cmocka_unit_test_teardown(test_probe_gaps_need_a_reply_before_the_window,
				      trace_teardown),
	    cmocka_unit_test(test_probe_deadlines_do_not_drift_over_10000_sends),
	    cmocka_unit_test(test_probe_stall_skips_missed_slots_without_a_burst),
	    cmocka_unit_test(test_probe_deadline_skips_only_slots_already_due),
	    cmocka_unit_test_teardown(test_probe_send_interval_interpolates_median_and_p99,
				      trace_teardown),
	    cmocka_unit_test_teardown(test_probe_send_interval_counts_spacings_inside_the_window,
				      trace_teardown),
	    cmocka_unit_test_teardown(test_probe_send_interval_needs_two_sends_in_the_window,
				      trace_teardown),
	    cmocka_unit_test(test_verify_good_upgrade_is_verified),
	    cmocka_unit_test(test_verify_same_boot_id_is_not_verified),
	    cmocka_unit_test(test_verify_unexpected_release_is_not_verified),
	    cmocka_unit_test(test_verify_counter_reset_is_not_continued),
	    cmocka_unit_test(test_verify_counter_jump_beyond_requests_sent_is_not_continued),
	    cmocka_unit_test(test_verify_no_expected_release_accepts_any),
	    cmocka_unit_test(test_verify_no_reply_after_gap_is_not_verified),
	    cmocka_unit_test(test_parse_reply_reads_every_field),
	    cmocka_unit_test(test_parse_reply_reads_only_len_bytes),
	    cmocka_unit_test(test_parse_reply_rejects_garbage),
	    cmocka_unit_test(test_parse_reply_rejects_missing_fields),
	    cmocka_unit_test(test_parse_reply_rejects_overlong_buffer),
	    cmocka_unit_test(test_parse_reply_rejects_field_longer_than_record),
	    cmocka_unit_test(test_parse_reply_requires_blank_after_tag),
	    cmocka_unit_test_setup_teardown(
		test_probe_live_silence_is_downtime_and_new_boot_is_verified, live_setup,
		live_teardown),
	    cmocka_unit_test_setup_teardown(test_probe_stop_says_when_the_trace_ended, live_setup,
					    live_teardown),
	    cmocka_unit_test_setup_teardown(test_probe_waits_end_at_deadline, live_setup,
					    live_teardown),
	    cmocka_unit_test_setup_teardown(test_probe_closed_port_loses_all_and_csv_has_one_header,
					    live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(
		test_agent_state_survives_restart_and_corruption_is_refused, live_setup,
		live_teardown),
	    cmocka_unit_test_setup_teardown(test_agent_keeps_state_when_it_cannot_bind, live_setup,
					    live_teardown),
	    cmocka_unit_test_setup_teardown(test_agent_memory_only_never_touches_the_state_file,
					    live_setup, live_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
