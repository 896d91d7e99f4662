/*
 * probe.h - the service probe: one UDP request every interval to the guest
 * agent, every send and reply stamped on the host clock, and the downtime
 * and verification math on the resulting trace.
 *
 * Protocol (guest/agent/agent.c): request "TB1 <seq>", reply
 * "TB1 <seq> <counter> <release> <boot_id>".
 */
#ifndef TB_PROBE_H
#define TB_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct probe_record {
	uint64_t seq;
	int64_t t_send_ns;
	int64_t t_recv_ns; /* 0: never answered */
	uint64_t counter;
	char release[65];
	char boot_id[40];
};

/*
 * The longest silence of the service inside a window (DESIGN.md, "Downtime"),
 * and where the replies changed boot: the new kernel's service may stall
 * again after it answered (a twin kernel waking the old one's CPUs), and
 * that stall can be the longest gap while the upgrade is the boot change.
 */
struct probe_result {
	int64_t downtime_ns;	    /* after.t_recv - before.t_recv */
	struct probe_record before; /* last reply before the gap */
	struct probe_record after;  /* first reply after the gap */
	bool switched;		    /* a reply from another boot than the first came */
	struct probe_record last_old;  /* switched: the last reply of the first boot */
	struct probe_record first_new; /* switched: the first reply of the other boot */
	size_t sent;		    /* requests sent inside the window */
	size_t lost;		    /* of those, never answered */
};

/*
 * A silence counts as a gap, and toward "unavailable" (DESIGN.md), when it is
 * longer than this many probe intervals.  Shorter ones are requests lost on a
 * busy host or a late reply, not the service down: while reply latencies vary
 * by less than an interval, three requests lost in a row (a silence of about
 * four intervals) never make a gap, and five always do.
 */
#define PROBE_GAP_INTERVALS 5

/*
 * One silence of the service (probe_gaps()), measured like the downtime:
 * its length is end_ns - start_ns.
 */
struct probe_gap {
	int64_t start_ns; /* t_recv of the last reply before it */
	int64_t end_ns;	  /* t_recv of the first reply after it; open: the window's end */
	bool open;	  /* no reply came after it inside the window */
};

struct probe_verdict {
	bool boot_changed;    /* boot id after the gap differs from before */
	bool release_ok;      /* release after the gap is the expected one (or none expected) */
	bool state_continued; /* counter grew, by no more than the requests sent between */
	bool verified;	      /* all three */
	char why[256];	      /* what failed, for humans */
};

struct probe;

/*
 * Start probing over @fd, a UDP socket already connect()ed to the agent
 * (the probe owns it from now on).  Sends and replies are appended to
 * @csv_path as "event,rep,seq,t_ns,counter,release,boot_id" rows, tagged with
 * @rep.
 */
struct probe *probe_start(int fd, int64_t interval_ns, const char *csv_path, int rep,
			  struct tb_err *err);

/*
 * The probe's schedule (DESIGN.md, "Time and measurement"): slot k is due at
 * @start_ns + k * @interval_ns (@interval_ns > 0), so deadlines never drift
 * however late each send is.  Slot *@n has just been sent at @now_ns: set *@n
 * to the next slot to send and return its deadline.  That is slot *@n + 1
 * unless its deadline is already at or before @now_ns (the thread fell more
 * than one interval behind); then it is the first slot due after @now_ns, and
 * the slots in between are never sent.
 */
int64_t probe_next_deadline(int64_t start_ns, int64_t interval_ns, int64_t now_ns, uint64_t *n);

/*
 * Stop the thread, flush and fsync the CSV; the trace stays.  Returns when
 * the thread stopped sending (CLOCK_MONOTONIC ns; the same on each later
 * call, 0 for no probe): where the trace ends.  Not the time it returns,
 * after the fsync: a trace ending there once ended in a 110 ms silence the
 * service never had (make bench, packet captures on the same disk).
 */
int64_t probe_stop(struct probe *p);

void probe_free(struct probe *p);

/* Wait for a reply received after @after_ns; 0 (filling @out if not NULL) or -ETIMEDOUT. */
int probe_wait_reply(struct probe *p, int64_t after_ns, int64_t deadline_ns,
		     struct probe_record *out);

/* Wait until no reply has come for @quiet_ns; 0 or -ETIMEDOUT. */
int probe_wait_silence(struct probe *p, int64_t quiet_ns, int64_t deadline_ns);

/* A malloc'd copy of the trace so far (ordered by seq); *n set to its length. */
struct probe_record *probe_snapshot(struct probe *p, size_t *n);

/*
 * The longest interval without a reply among replies received in
 * [@from_ns, @to_ns], anchored at the last reply received at or before
 * @from_ns.  Returns 0, -ENOENT if no reply came before @from_ns, or
 * -ETIMEDOUT if none came after it, or the silence still open at @to_ns is
 * the longest: the service is not back (res->before is filled then).
 */
int probe_analyse(const struct probe_record *r, size_t n, int64_t from_ns, int64_t to_ns,
		  struct probe_result *res);

/*
 * Every silence longer than @min_gap_ns (normally PROBE_GAP_INTERVALS probe
 * intervals) among the replies received in [@from_ns, @to_ns], anchored as
 * probe_analyse() anchors: in arrival order, from the last reply received at
 * or before @from_ns, so the first gap may start before the window does.  A
 * silence still open at @to_ns ends there and is flagged open.  The longest
 * gap is what probe_analyse() found on the same window (if longer than
 * @min_gap_ns): the downtime, from before to after, when it returns 0; the
 * open silence from before when it returns -ETIMEDOUT.
 *
 * *@gaps: a malloc'd array of the *@ngaps gaps in time order (NULL if none;
 * the caller frees it); *@unavailable_ns: the sum of their lengths.  Returns
 * 0, -ENOENT if no reply came at or before @from_ns, -EINVAL if @min_gap_ns
 * < 0, or -ENOMEM; on error *@gaps is NULL and the others 0.
 */
int probe_gaps(const struct probe_record *r, size_t n, int64_t from_ns, int64_t to_ns,
	       int64_t min_gap_ns, struct probe_gap **gaps, size_t *ngaps, int64_t *unavailable_ns);

/*
 * The interval the probe achieved, recorded beside the one it was asked for
 * (DESIGN.md, "Time and measurement"): the median and the 99th percentile
 * (stats.h: type 7, here rounded to the nanosecond) of the spacings between
 * consecutive sends of @r, ordered by seq as probe_snapshot() gives it (the
 * order they were sent).  Only spacings whose two sends are both in
 * [@from_ns, @to_ns] count; INT64_MIN, INT64_MAX for the whole trace.
 * Returns 0, -ENOENT if fewer than two requests were sent in the window, or
 * -ENOMEM; on error *@median_ns and *@p99_ns are 0.
 */
int probe_send_interval(const struct probe_record *r, size_t n, int64_t from_ns, int64_t to_ns,
			int64_t *median_ns, int64_t *p99_ns);

/*
 * The two replies an upgrade is judged on: across the boot change if there
 * was one (last_old, first_new), else across the gap (before, after).
 */
void probe_proof(const struct probe_result *res, const struct probe_record **before,
		 const struct probe_record **after);

/* Decide whether the replies (probe_proof) prove the upgrade. */
void probe_verify(const struct probe_result *res, const char *expected_release,
		  struct probe_verdict *v);

/*
 * Decide whether the same service kept running across the window: the
 * replies after the longest gap come from the same boot, with the state
 * counter grown (kernel A while kernel B boots beside it).
 */
void probe_verify_unbroken(const struct probe_result *res, struct probe_verdict *v);

/* Parse an agent reply; 0 or -1. */
int probe_parse_reply(const char *buf, size_t len, struct probe_record *rec);

#endif
