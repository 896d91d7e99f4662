/*
 * report.h - result directories read back, summarised per method, and
 * written as a report: report.html (self-contained, plots inlined as SVG),
 * report.md (the summary, for a pull request) and summary.csv (one row per
 * repetition).
 *
 * The gate reads results through the same functions, so that the numbers
 * it judges are the numbers the report shows.
 */
#ifndef TB_REPORT_H
#define TB_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "results.h"
#include "stats.h"

/* One result directory: its run.json as results_load() gives it. */
struct report_run {
	char *dir;
	struct run_info info;
	struct repetition *reps;
	size_t nreps;
};

struct report_set {
	struct report_run *runs;
	size_t nruns;
};

/*
 * Load the run.json of each of @dirs (in that order).  A directory without
 * a readable run.json, or a malformed one, is an error with TB_EXIT_USAGE.
 */
int report_load(struct report_set *set, char *const dirs[], size_t n, struct tb_err *err);

void report_free(struct report_set *set);

/*
 * The latest result directory of each scenario under @base: among the
 * directories that hold a run.json, by name order (the names start with
 * the start time, YYYYmmdd-HHMMSS), the last one per scenario name (read
 * from run.json).  *@dirs is a malloc'd array of malloc'd paths in name
 * order; free with report_free_dirs().  None found is TB_EXIT_USAGE.
 */
int report_latest(const char *base, char ***dirs, size_t *n, struct tb_err *err);

void report_free_dirs(char **dirs, size_t n);

/*
 * Where the outputs go when no --out is given: the result directory itself
 * for one, a "report" directory next to the first for several.  malloc'd.
 */
char *report_default_out(char *const dirs[], size_t n);

/* One method, pooled over every run of it, in order of first appearance. */
struct method_stats {
	char method[32];
	size_t runs, reps, verified;
	double *downtime_ns; /* the measured repetitions' downtimes */
	size_t ndowntime;
	double *maintenance_ns; /* the repetitions with a known maintenance window */
	size_t nmaintenance;
	struct stats_summary downtime, maintenance; /* meaningful when n > 0 */
	int64_t probe_interval_ns; /* the coarsest of its runs: the downtime's resolution */
};

int report_methods(const struct report_set *set, struct method_stats **out, size_t *n,
		   struct tb_err *err);

void report_methods_free(struct method_stats *m, size_t n);

/* A duration for people: "17.00 s", "812.4 ms", "950 us" (with the micro sign). */
void report_duration(double ns, char *buf, size_t len);

struct report_opts {
	const char *out; /* output directory (created if missing) */
	bool png;	 /* PNG copies of the plots as well (TB_EXIT_ENV if gnuplot has none) */
};

/*
 * Write report.html, report.md, summary.csv and plots/ (downtime.svg,
 * rtt-cdf.svg, timeline-<run>-<rep>.svg, and .png with @opts->png) into
 * @opts->out.
 */
int report_write(const struct report_set *set, const struct report_opts *opts, struct tb_err *err);

/*
 * Escapers, exposed for their tests: @s as one Markdown table cell
 * (| and newlines neutralised, < as &lt;) and as one CSV field (RFC 4180).
 * Both return a malloc'd string or NULL when out of memory.
 */
char *report_md_cell(const char *s);
char *report_csv_field(const char *s);

#endif
