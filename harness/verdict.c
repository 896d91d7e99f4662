/*
 * verdict.c - whether a repetition did what its method promises, judged
 * from the probe's trace as the method file says (verdict.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "methodfile.h"
#include "verdict.h"

/*
 * The service is back with the new kernel's first reply, to the probe's
 * stamp: move phase @name there from where its wait_probe step put it (the
 * first reply after that step started, which can be later).  Only between
 * the phase before it (the new kernel's evidence on its console, which
 * precedes any reply of it) and itself: with more than one boot change in
 * a repetition, the proof's reply can belong to an earlier one.
 */
static void refine_service_back(const struct scenario *sc, struct repetition *rep,
				const char *name, int64_t t)
{
	int64_t at = repetition_phase(rep, name), floor = INT64_MIN;
	const char **order;

	if (at < 0) {
		repetition_mark(rep, name, t);
		return;
	}
	order = method_phase_list(&sc->method, rep->nrounds > 1);
	for (size_t i = 1; order && order[i]; i++)
		if (!strcmp(order[i], name)) {
			floor = repetition_phase(rep, order[i - 1]);
			break;
		}
	free(order);
	if (t >= floor && t < at)
		repetition_set(rep, name, t);
}

/* One handoff of a twin chain as @res (analysed already) shows it. */
static void round_from(const struct probe_result *res, const char *release,
		       struct handoff_round *h)
{
	const struct probe_record *b, *a;
	struct probe_verdict v;

	probe_verify(res, release, &v);
	probe_proof(res, &b, &a);
	h->measured = true;
	h->verified = v.verified;
	h->downtime_ns = res->downtime_ns;
	h->counter_before = b->counter;
	h->counter_after = a->counter;
	snprintf(h->release_before, sizeof(h->release_before), "%s", b->release);
	snprintf(h->release_after, sizeof(h->release_after), "%s", a->release);
	snprintf(h->boot_id_before, sizeof(h->boot_id_before), "%s", b->boot_id);
	snprintf(h->boot_id_after, sizeof(h->boot_id_after), "%s", a->boot_id);
}

int64_t verdict_second_window(const struct scenario *sc, const struct repetition *rep)
{
	const struct method *m = &sc->method;
	char name[64];

	if (m->second_from)
		return repetition_phase(rep, m->second_from);
	if (!m->next_after || !sc->upgrade.next.kernel || !m->downtime_from)
		return -1;
	snprintf(name, sizeof(name), ROUND2_PREFIX "%s", m->downtime_from);
	return repetition_phase(rep, name);
}

/* The release the replies after window @i (0, 1) must name; NULL: any other boot. */
static const char *window_release(const struct scenario *sc, int i)
{
	/* Two windows of one upgrade: the service lands on another guest first. */
	if (sc->method.second_from)
		return i ? sc->upgrade.release : NULL;
	return i ? sc->upgrade.next.release : sc->upgrade.release;
}

/*
 * Two windows (upgrade.next's second round, or a method's second_window):
 * each on its own.  The first is @first, which verdict_judge() analysed up
 * to the second's start (@second); the second is analysed from there.  The
 * repetition's downtime is the longer gap, its state after is the last
 * kernel's; it is verified only if both windows are.
 */
static void judge_rounds(const struct scenario *sc, const struct probe_record *trace, size_t n,
			 int64_t end_ns, const struct probe_result *first, int64_t second,
			 struct repetition *rep)
{
	struct probe_result res;

	memset(rep->rounds, 0, sizeof(rep->rounds));
	round_from(first, window_release(sc, 0), &rep->rounds[0]);
	if (second >= 0 && probe_analyse(trace, n, second, end_ns, &res) == 0)
		round_from(&res, window_release(sc, 1), &rep->rounds[1]);
	rep->nrounds = 2;
	if (rep->rounds[1].measured) {
		const struct handoff_round *h = &rep->rounds[1];
		const struct probe_record *b, *a;

		probe_proof(&res, &b, &a);
		refine_service_back(sc, rep,
				    sc->method.second_from ? "service_back"
							   : ROUND2_PREFIX "service_back",
				    a->t_recv_ns);
		if (h->downtime_ns > rep->downtime_ns)
			rep->downtime_ns = h->downtime_ns;
		rep->counter_after = h->counter_after;
		snprintf(rep->release_after, sizeof(rep->release_after), "%s", h->release_after);
		snprintf(rep->boot_id_after, sizeof(rep->boot_id_after), "%s", h->boot_id_after);
	}
	for (int i = 0; i < rep->nrounds; i++)
		if (rep->ok && !rep->rounds[i].verified) {
			rep->ok = false;
			snprintf(rep->error, sizeof(rep->error), "%s %d of 2 not verified%s",
				 sc->method.second_from ? "window" : "handoff", i + 1,
				 rep->rounds[i].measured ? "" : ": no gap found");
		}
	rep->verified = rep->ok;
}

/* The last phase @rep recorded at or before @t, for a gap's "phase"; "" if none. */
static const char *phase_at(const struct repetition *rep, int64_t t)
{
	const char *name = "";
	int64_t best = INT64_MIN;

	for (int i = 0; i < rep->nphases && i < RESULTS_MAX_PHASES; i++)
		if (rep->phases[i].t_ns <= t && rep->phases[i].t_ns >= best) {
			best = rep->phases[i].t_ns;
			name = rep->phases[i].name;
		}
	return name;
}

static int by_length_desc(const void *a, const void *b)
{
	const struct probe_gap *x = a, *y = b;
	int64_t lx = x->end_ns - x->start_ns, ly = y->end_ns - y->start_ns;

	return (lx < ly) - (lx > ly);
}

static int by_start(const void *a, const void *b)
{
	const struct probe_gap *x = a, *y = b;

	return (x->start_ns > y->start_ns) - (x->start_ns < y->start_ns);
}

/*
 * Every gap longer than PROBE_GAP_INTERVALS intervals from @from_ns to the
 * end, and their sum: what the service lost in all, not only in its
 * longest silence.  All are counted and summed; the RESULTS_MAX_GAPS
 * longest are listed, in time order, with the phase each fell in (a busy
 * host makes hundreds of short ones, and the handoff's must not be the one
 * left out).
 */
static void list_gaps(const struct scenario *sc, const struct probe_record *trace, size_t n,
		      int64_t from_ns, int64_t end_ns, struct repetition *rep)
{
	struct probe_gap *gaps = NULL;
	size_t ngaps = 0;
	int64_t sum = 0;

	if (probe_gaps(trace, n, from_ns, end_ns, PROBE_GAP_INTERVALS * sc->service.interval_ns,
		       &gaps, &ngaps, &sum) != 0)
		return;
	rep->gaps_found = (int)ngaps;
	rep->unavailable_ns = sum;
	if (ngaps > RESULTS_MAX_GAPS) {
		qsort(gaps, ngaps, sizeof(*gaps), by_length_desc);
		qsort(gaps, RESULTS_MAX_GAPS, sizeof(*gaps), by_start);
	}
	for (size_t i = 0; i < ngaps && i < RESULTS_MAX_GAPS; i++) {
		struct rep_gap *g = &rep->gaps[i];

		g->start_ns = gaps[i].start_ns;
		g->end_ns = gaps[i].end_ns;
		g->open = gaps[i].open;
		snprintf(g->phase, sizeof(g->phase), "%s", phase_at(rep, gaps[i].start_ns));
		rep->ngaps = (int)i + 1;
	}
	free(gaps);
}

/*
 * The gaps of the quiet window (a method's quiet step): how many, the
 * longest, of those within it.  One from before the window counts from
 * its start; one still open at its end is the upgrade's (list_gaps() lists
 * it), so that no silence counts twice and none is longer than the window.
 */
static void judge_quiet(const struct scenario *sc, const struct probe_record *trace, size_t n,
			struct repetition *rep)
{
	struct probe_gap *gaps = NULL;
	size_t ngaps = 0;
	int64_t sum = 0;

	rep->quiet_gaps = 0;
	rep->quiet_longest_ns = 0;
	if (!rep->quiet_ns ||
	    probe_gaps(trace, n, rep->quiet_from_ns, rep->quiet_from_ns + rep->quiet_ns,
		       PROBE_GAP_INTERVALS * sc->service.interval_ns, &gaps, &ngaps, &sum) != 0)
		return;
	for (size_t i = 0; i < ngaps; i++) {
		int64_t start = gaps[i].start_ns > rep->quiet_from_ns ? gaps[i].start_ns
								       : rep->quiet_from_ns;

		if (gaps[i].open)
			continue;
		rep->quiet_gaps++;
		if (gaps[i].end_ns - start > rep->quiet_longest_ns)
			rep->quiet_longest_ns = gaps[i].end_ns - start;
	}
	free(gaps);
}

void verdict_judge(const struct scenario *sc, const struct probe_record *trace, size_t n,
		   int64_t end_ns, struct repetition *rep)
{
	const struct method *m = &sc->method;
	bool chain = m->next_after && sc->upgrade.next.kernel;
	bool two = chain || m->second_from;
	bool unbroken = m->verify == VERIFY_UNBROKEN;
	int64_t start = m->downtime_from ? repetition_phase(rep, m->downtime_from) : -1;
	int64_t second = -1, from, to;
	const struct probe_record *b, *a;
	struct probe_result res;
	struct probe_verdict v;
	char name[64];
	int rc;

	/* What the probe achieved, beside what it was asked (DESIGN.md). */
	probe_send_interval(trace, n, INT64_MIN, INT64_MAX, &rep->interval_median_ns,
			    &rep->interval_p99_ns);
	judge_quiet(sc, trace, n, rep);
	if (start < 0 || m->verify == VERIFY_NONE)
		return;
	second = verdict_second_window(sc, rep);
	from = m->maintenance_from ? repetition_phase(rep, m->maintenance_from) : -1;
	/* A chain's first handoff ends where the second begins. */
	rc = probe_analyse(trace, n, start, second < 0 ? end_ns : second, &res);
	if (rc != 0) {
		if (rep->ok)
			snprintf(rep->error, sizeof(rep->error), "%s",
				 rc == -ENOENT ? "the service never answered before the upgrade"
					       : "the service did not answer after the upgrade");
		rep->ok = false;
		/* The gaps say where the service went, even when it never came back. */
		list_gaps(sc, trace, n, from >= 0 ? from : start, end_ns, rep);
		return;
	}
	if (unbroken)
		probe_verify_unbroken(&res, &v);
	else
		probe_verify(&res, window_release(sc, 0), &v);
	rep->measured = true;
	rep->downtime_ns = res.downtime_ns;
	rep->sent = res.sent;
	rep->lost = res.lost;
	rep->verified = v.verified && rep->ok;
	rep->boot_changed = v.boot_changed;
	rep->release_ok = v.release_ok;
	rep->state_continued = v.state_continued;
	/* What is compared is what the verdict was on: across the boot change, if any. */
	probe_proof(&res, &b, &a);
	snprintf(rep->release_before, sizeof(rep->release_before), "%s", b->release);
	snprintf(rep->release_after, sizeof(rep->release_after), "%s", a->release);
	snprintf(rep->boot_id_before, sizeof(rep->boot_id_before), "%s", b->boot_id);
	snprintf(rep->boot_id_after, sizeof(rep->boot_id_after), "%s", a->boot_id);
	rep->counter_before = b->counter;
	rep->counter_after = a->counter;
	/*
	 * The service is back with the new kernel's first reply, to the probe's
	 * stamp; with a second window, that is the second's (judge_rounds()).
	 */
	if ((!unbroken || m->no_upgrade) && !m->second_from)
		refine_service_back(sc, rep, "service_back", a->t_recv_ns);
	if (rep->ok && !v.verified) {
		rep->ok = false;
		snprintf(rep->error, sizeof(rep->error), "%s: %s",
			 !unbroken	  ? "upgrade not verified"
			 : m->no_upgrade ? "the service was disturbed"
					 : "kernel A's service was disturbed",
			 v.why);
	}
	if (two)
		judge_rounds(sc, trace, n, end_ns, &res, second, rep);
	/* From the upgrade's real start to back in full: the last round's end. */
	to = -1;
	if (m->maintenance_to && chain) {
		snprintf(name, sizeof(name), ROUND2_PREFIX "%s", m->maintenance_to);
		to = repetition_phase(rep, name);
	} else if (m->maintenance_to) {
		to = repetition_phase(rep, m->maintenance_to);
	}
	if (from >= 0 && to >= from)
		rep->maintenance_ns = to - from;
	/* From the upgrade's real start (else the downtime window's) to the end. */
	list_gaps(sc, trace, n, from >= 0 ? from : start, end_ns, rep);
}

