/*
 * trace.h - a run's traces read back for the report's plots: the probe's
 * replies and round-trip times (probe.csv), the stamps of the console lines
 * (console-a.log, console-b.log), and the lookups a repetition's timeline
 * makes in them.
 */
#ifndef TB_TRACE_H
#define TB_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "probe.h"
#include "results.h"

/* A growing array of stamps (ns). */
struct trace_stamps {
	int64_t *v;
	size_t n, cap;
};

/* What the plots need of one repetition. */
struct rep_trace {
	struct trace_stamps replies; /* reply times, ascending */
	double *rtt;		     /* round-trip times (ns) */
	size_t nrtt;
};

struct run_trace {
	struct rep_trace *reps;	      /* parallel to the run's repetitions */
	struct trace_stamps lines[2]; /* console a and b line stamps, ascending */
};

/*
 * Read the traces of the result directory @dir, whose run.json lists the
 * @nreps repetitions @reps.  A missing file is an empty trace; rows of a
 * repetition not in @reps, and lines that do not parse, are skipped: the
 * plots show what can be read.  Only running out of memory fails
 * (TB_EXIT_ENV, @t left empty).  Free with trace_free(@t, @nreps).
 */
int trace_load(const char *dir, const struct repetition *reps, size_t nreps, struct run_trace *t,
	       struct tb_err *err);

void trace_free(struct run_trace *t, size_t nreps);

/* The earliest phase of @rep; INT64_MAX if it has none. */
int64_t trace_first_phase(const struct repetition *rep);

/*
 * t = 0 of a timeline: the upgrade's start (upgrade_start, or trigger for
 * twin methods), else the first phase; *@name says which (NULL, and 0
 * returned, if @rep has no phase).
 */
int64_t trace_origin(const struct repetition *rep, const char **name);

/* Index of the first stamp >= @t in ascending @a. */
size_t trace_lower_bound(const struct trace_stamps *a, int64_t t);

/*
 * The probe's gap in @rep's ascending replies @r, as *@start and *@end:
 * the pair of consecutive replies exactly downtime_ns apart (the probe
 * measured it from the same stamps), else the longest that ends at or
 * after @origin.  False if @rep has no measured downtime or no such gap.
 */
bool trace_find_gap(const struct repetition *rep, const struct trace_stamps *r, int64_t origin,
		    int64_t *start, int64_t *end);

/*
 * A gap is shaded when no reply came for more than this many probe
 * intervals: the verdict's threshold for a gap (probe.h), so that a run.json
 * written before its list of gaps is shaded as a newer one lists them.
 */
#define TRACE_GAP_INTERVALS PROBE_GAP_INTERVALS

/* No reply from @start_ns (a reply) to @end_ns (the next reply). */
struct trace_gap {
	int64_t start_ns, end_ns;
};

/*
 * Every gap in the ascending replies @r longer than TRACE_GAP_INTERVALS
 * probe intervals of @interval_ns (1 ms if not known), in time order, as
 * a malloc'd array in *@gaps (NULL if none) of *@n.  0, or -1 when out of
 * memory (*@gaps NULL, *@n 0).
 */
int trace_find_gaps(const struct trace_stamps *r, int64_t interval_ns, struct trace_gap **gaps,
		    size_t *n);

#endif
