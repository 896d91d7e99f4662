/*
 * plot.h - the report's plots, drawn by gnuplot.
 *
 * Each function writes one gnuplot script (data inline, as datablocks) into
 * a private temporary directory, runs `gnuplot SCRIPT` (argv, no shell),
 * and moves the SVG (and the PNG, when asked) to the paths given.  Text
 * from results (method names, phase names) is quoted for gnuplot and drawn
 * with the terminal's "noenhanced" option, so it is shown as is.
 */
#ifndef TB_PLOT_H
#define TB_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct plot_out {
	const char *svg;      /* path of the SVG to write */
	const char *png;      /* path of a PNG to write too, or NULL */
	const char *png_term; /* from plot_png_terminal(), when png is set */
	const char *title;    /* the plot's title */
};

/*
 * A terminal that writes PNG: "pngcairo" if gnuplot has it, else "png"
 * (libgd).  Neither (or no gnuplot) is TB_EXIT_ENV with what to install.
 */
int plot_png_terminal(char *term, size_t len, struct tb_err *err);

/* One method's bars: downtime and maintenance window, every repetition's value. */
struct plot_method {
	const char *method;
	const double *downtime_ns;
	size_t ndowntime;
	const double *maintenance_ns;
	size_t nmaintenance;
};

/*
 * Downtime and maintenance window per method: a bar at the median, a
 * whisker from min to max, a dot per repetition.  The value axis is
 * logarithmic when the methods' medians differ by 10x or more.
 */
int plot_downtime(const struct plot_method *m, size_t n, const struct plot_out *out,
		  struct tb_err *err);

/* One curve of round-trip times (ns), any order. */
struct plot_cdf {
	const char *label;
	const double *rtt_ns;
	size_t n;
};

/*
 * The empirical CDF of the probe's round-trip times, one curve per series;
 * the time axis is logarithmic when the times span more than 100x.
 */
int plot_rtt_cdf(const struct plot_cdf *s, size_t n, const struct plot_out *out,
		 struct tb_err *err);

enum plot_lane { PLOT_LANE_A, PLOT_LANE_B };

struct plot_phase {
	const char *name;
	int64_t t_ns;
	enum plot_lane lane;
};

/* An interval without a probe reply: from one reply to the next. */
struct plot_gap {
	int64_t start_ns, end_ns;
};

/*
 * One repetition on one time axis (seconds from @origin_ns, the phase
 * @origin_name): a lane per
 * console (kernel A on console a, kernel B on console b) with the phases
 * as labelled markers and every console line as a tick, and a lane for the
 * probe showing when replies came, with the gap (the downtime) shaded
 * across all lanes and labelled, and every other gap in @gaps shaded in
 * another colour.  Lane b is drawn only when it has a phase or a line.
 */
struct plot_timeline {
	int64_t origin_ns;
	const char *origin_name; /* the phase at t = 0, for the axis label */
	const struct plot_phase *phases;
	size_t nphases;
	const int64_t *lines[2]; /* console a and b line stamps */
	size_t nlines[2];
	const int64_t *replies; /* probe reply stamps, ascending */
	size_t nreplies;
	int64_t probe_interval_ns;
	bool has_gap; /* the downtime's gap, from gap_start_ns to gap_end_ns */
	int64_t gap_start_ns, gap_end_ns;
	const struct plot_gap *gaps; /* every gap worth showing, ascending; the downtime's may be
				      * among them (it is drawn once, as the downtime) */
	size_t ngaps;
};

int plot_timeline(const struct plot_timeline *tl, const struct plot_out *out, struct tb_err *err);

/* @s as a single-quoted gnuplot string (quotes doubled, control characters dropped); malloc'd. */
char *plot_quote(const char *s);

#endif
