/*
 * report.h - a result set (resultset.h) written as a report: report.html
 * (self-contained, plots inlined as SVG), report.md (the summary, for a
 * pull request) and summary.csv (one row per repetition), and its rows as
 * lines for the terminal.
 */
#ifndef TB_REPORT_H
#define TB_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "resultset.h"

/*
 * Row @i of @rows as one line for the terminal: what it ran, its downtime,
 * maintenance and unavailable medians, gaps per repetition, the probe's
 * achieved interval, the captures that agreed and the ratio to twin
 * ("kexec (kexec, A -> B, 512 MiB, 2 vCPUs, tcg): downtime median 29.3 ms,
 * ...").  What was not recorded is left out.
 */
void report_row_line(const struct scenario_stats *rows, size_t n, size_t i, char *buf, size_t len);

struct report_opts {
	const char *out; /* output directory (created if missing) */
	bool png;	 /* PNG copies of the plots as well (TB_EXIT_ENV if gnuplot has none) */
};

/*
 * Write report.html, report.md, summary.csv and plots/ (downtime.svg,
 * rtt-cdf.svg, timeline-<run>-<rep>.svg, and .png with @opts->png) into
 * @opts->out.
 */
int report_write(const struct resultset *set, const struct report_opts *opts, struct tb_err *err);

/*
 * The CSV escaper, exposed for its test: @s as one CSV field (RFC 4180).
 * A malloc'd string, or NULL when out of memory.
 */
char *report_csv_field(const char *s);

#endif
