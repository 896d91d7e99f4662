/*
 * plot.c - gnuplot scripts for the report's plots, and running gnuplot.
 *
 * Scripts are built in memory (open_memstream), written to a private
 * mkdtemp directory and run as `gnuplot SCRIPT`; gnuplot writes its output
 * into that directory too, so no path a user chose is ever pasted into a
 * script.  Data goes in as datablocks ($name << EOD), which also lets the
 * PNG be a `replot` of the same script.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirtree.h"
#include "filecopy.h"
#include "monotime.h"
#include "plot.h"
#include "program.h"
#include "stats.h"

/* Pixel sizes: wide enough for ten methods or a 40-phase timeline. */
#define PLOT_WIDTH  1000
#define BARS_HEIGHT 440
#define CDF_HEIGHT  420
#define LANE_PX	    150 /* timeline height per lane */
#define FONT	    "sans,11"

/*
 * Timeline lanes are 1 unit apart: labels stack on up to LABEL_LEVELS
 * levels LABEL_STEP apart above their marker, console ticks hang below it
 * (TICK_TOP to TICK_TOP + TICK_LEN), clear of the labels of the lane below.
 */
#define LABEL_LEVELS 6
#define LABEL_BASE   0.14
#define LABEL_STEP   0.12
#define TICK_TOP     (-0.08)
#define TICK_LEN     0.14
/* Approximate width of one character of the label font (',9') in pixels, and padding. */
#define LABEL_CHAR_PX 6.5
#define LABEL_PAD_PX  12
/* The boot is cut from the axis when it would take more than this times the upgrade's span. */
#define BOOT_MAX_RATIO 2.0
/* The timeline's plot area, in screen fractions (fixed so label widths can be computed). */
#define TL_LEFT	 0.14
#define TL_RIGHT 0.98

/* The narrowest a gap's shading is drawn, in pixels. */
#define GAP_MIN_PX 4
/* Gaps other than the downtime's: orange, apart from its red. */
#define OTHER_GAP_RGB "#ff7f0e"

/* Probe replies closer than this many intervals are drawn as one "up" bar. */
#define UP_JOIN_INTERVALS 20

char *plot_quote(const char *s)
{
	size_t len = strlen(s), i, o = 0;
	char *q = malloc(2 * len + 3);

	if (!q)
		return NULL;
	q[o++] = '\'';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		/* A newline would end the command; other controls mean nothing in a label. */
		if (c < 0x20 || c == 0x7f)
			continue;
		if (c == '\'')
			q[o++] = '\'';
		q[o++] = (char)c;
	}
	q[o++] = '\'';
	q[o] = '\0';
	return q;
}

/* Print @s quoted for gnuplot into @f (quote lost when out of memory: prints ''). */
static void put_quoted(FILE *f, const char *s)
{
	char *q = plot_quote(s);

	fputs(q ? q : "''", f);
	free(q);
}

int plot_png_terminal(char *term, size_t len, struct tb_err *err)
{
	static const char *const terms[] = {"pngcairo", "png"};
	char out[512];
	size_t i;

	for (i = 0; i < sizeof(terms) / sizeof(terms[0]); i++) {
		char cmd[64];
		int rc;

		/* gnuplot exits 1 on "unknown or ambiguous terminal type". */
		snprintf(cmd, sizeof(cmd), "set terminal %s", terms[i]);
		rc = program_run((char *[]){"gnuplot", "-e", cmd, NULL}, out, sizeof(out), err);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			snprintf(term, len, "%s", terms[i]);
			return 0;
		}
	}
	return tb_err_set(
	    err, TB_EXIT_ENV,
	    "this gnuplot has no PNG terminal (neither pngcairo nor png): install "
	    "gnuplot-nox or gnuplot-qt, or leave out --png (the SVG plots need none)");
}

/*
 * Put gnuplot's finished output in place.  No atomicfile.h here: the file
 * is already whole, so rename(2) alone replaces the old one at once; across
 * file systems (/tmp is often tmpfs) file_copy() writes it through its own
 * temporary file.
 */
static int move_file(const char *from, const char *to, struct tb_err *err)
{
	if (!rename(from, to))
		return 0;
	if (errno != EXDEV)
		return tb_err_set(err, TB_EXIT_ENV, "rename %s to %s: %s", from, to,
				  strerror(errno));
	return file_copy(from, 0, to, err);
}

/*
 * Run the script body in @body (everything after the terminal and output
 * settings) for an SVG of @width x @height, and a PNG as well when asked.
 */
static int render(const char *body, int width, int height, const struct plot_out *out,
		  struct tb_err *err)
{
	char dir[] = "/tmp/twinbench-plot.XXXXXX", script[64], svg[64], png[64], msg[2048];
	FILE *f = NULL;
	int rc, ret = -1;

	if (!mkdtemp(dir))
		return tb_err_set(err, TB_EXIT_ENV, "mkdtemp %s: %s", dir, strerror(errno));
	snprintf(script, sizeof(script), "%s/plot.gp", dir);
	snprintf(svg, sizeof(svg), "%s/plot.svg", dir);
	snprintf(png, sizeof(png), "%s/plot.png", dir);
	f = fopen(script, "we");
	if (!f) {
		tb_err_set(err, TB_EXIT_ENV, "%s: %s", script, strerror(errno));
		goto out;
	}
	/* "dynamic": only a viewBox, so that the SVG scales with the page. */
	fprintf(f,
		"set terminal svg size %d,%d dynamic noenhanced font '%s' background '#ffffff'\n",
		width, height, FONT);
	fprintf(f, "set output '%s'\n", svg);
	fputs(body, f);
	fputs("unset output\n", f);
	if (out->png) {
		fprintf(
		    f,
		    "set terminal %s size %d,%d noenhanced font 'sans,10' background '#ffffff'\n",
		    out->png_term ? out->png_term : "pngcairo", width, height);
		fprintf(f, "set output '%s'\nreplot\nunset output\n", png);
	}
	if (fclose(f)) {
		f = NULL;
		tb_err_set(err, TB_EXIT_ENV, "%s: write: %s", script, strerror(errno));
		goto out;
	}
	f = NULL;
	rc = program_run((char *[]){"gnuplot", script, NULL}, msg, sizeof(msg), err);
	if (rc < 0)
		goto out;
	if (rc > 0) {
		for (size_t len = strlen(msg); len && msg[len - 1] == '\n';)
			msg[--len] = '\0';
		tb_err_set(err, TB_EXIT_ENV, "gnuplot failed on the plot \"%s\" (exit %d): %s",
			   out->title ? out->title : "", rc, msg);
		goto out;
	}
	if (move_file(svg, out->svg, err))
		goto out;
	if (out->png && move_file(png, out->png, err))
		goto out;
	ret = 0;
out:
	dirtree_remove(dir);
	return ret;
}

/* A script being written, with the common header (title) already in. */
struct script {
	FILE *f;
	char *buf;
	size_t len;
};

static int script_open(struct script *s, const struct plot_out *out, struct tb_err *err)
{
	s->buf = NULL;
	s->len = 0;
	s->f = open_memstream(&s->buf, &s->len);
	if (!s->f)
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	fputs("set encoding utf8\nset title ", s->f);
	put_quoted(s->f, out->title ? out->title : "");
	fputs(" font ',13'\n", s->f);
	return 0;
}

static int script_render(struct script *s, int width, int height, const struct plot_out *out,
			 struct tb_err *err)
{
	int rc;

	if (fclose(s->f)) {
		free(s->buf);
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	}
	rc = render(s->buf, width, height, out, err);
	free(s->buf);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* A display unit for durations around @ns: its name and its size in ns. */
static const char *unit_for(double ns, double *scale)
{
	if (ns >= NS_PER_S) {
		*scale = NS_PER_S;
		return "s";
	}
	if (ns >= NS_PER_MS) {
		*scale = NS_PER_MS;
		return "ms";
	}
	*scale = NS_PER_US;
	return "\xc2\xb5s";
}

/* A value already in display units, with as many decimals as it deserves. */
static void fmt_value(char *buf, size_t len, double v, const char *unit)
{
	if (v >= 100)
		snprintf(buf, len, "%.0f %s", v, unit);
	else if (v >= 10)
		snprintf(buf, len, "%.1f %s", v, unit);
	else
		snprintf(buf, len, "%.2f %s", v, unit);
}

/* A duration in ns in its own unit: "20.0 ms", "29.4 s". */
static void fmt_ns(char *buf, size_t len, double ns)
{
	double scale;
	const char *unit = unit_for(ns, &scale);

	fmt_value(buf, len, ns / scale, unit);
}

/* One bar series: "x median min max" rows, and the repetitions as "x value" points. */
static void put_bars(FILE *f, const char *name, const struct plot_method *m, size_t n,
		     bool maintenance, double offset, double scale)
{
	size_t i, j;

	fprintf(f, "$%s << EOD\n", name);
	for (i = 0; i < n; i++) {
		const double *v = maintenance ? m[i].maintenance_ns : m[i].downtime_ns;
		size_t nv = maintenance ? m[i].nmaintenance : m[i].ndowntime;
		struct stats_summary s;

		if (!nv || stats_summarise(v, nv, &s))
			continue;
		fprintf(f, "%.3f %.9g %.9g %.9g\n", (double)i + offset, s.median / scale,
			s.min / scale, s.max / scale);
	}
	fputs("EOD\n", f);
	fprintf(f, "$%s_reps << EOD\n", name);
	for (i = 0; i < n; i++) {
		const double *v = maintenance ? m[i].maintenance_ns : m[i].downtime_ns;
		size_t nv = maintenance ? m[i].nmaintenance : m[i].ndowntime;

		/* Spread the dots across the bar so that equal values stay visible. */
		for (j = 0; j < nv; j++)
			fprintf(f, "%.3f %.9g\n",
				(double)i + offset +
				    (nv > 1 ? 0.2 * ((double)j / (double)(nv - 1) - 0.5) : 0),
				v[j] / scale);
	}
	fputs("EOD\n", f);
}

/* The median of @v above the bar's whisker at @x. */
static void put_label(FILE *f, double x, const double *v, size_t nv, double scale)
{
	struct stats_summary st;
	char text[64];

	if (!nv || stats_summarise(v, nv, &st))
		return;
	/* Each label in its own unit: "20.0 ms" beside "29.4 s" on a log axis. */
	fmt_ns(text, sizeof(text), st.median);
	fprintf(f, "%.3f %.9g \"%s\"\n", x, st.max / scale, text);
}

int plot_downtime(const struct plot_method *m, size_t n, const struct plot_out *out,
		  struct tb_err *err)
{
	double lo = INFINITY, hi = 0, top = 0, scale;
	bool logscale;
	const char *unit;
	struct script s;
	size_t i, j;

	if (!n)
		return tb_err_set(err, TB_EXIT_USAGE, "no method to plot");
	for (i = 0; i < n; i++) {
		struct stats_summary st;

		if (m[i].ndowntime && !stats_summarise(m[i].downtime_ns, m[i].ndowntime, &st) &&
		    st.median > 0) {
			lo = fmin(lo, st.median);
			hi = fmax(hi, st.median);
		}
		for (j = 0; j < m[i].ndowntime; j++)
			top = fmax(top, m[i].downtime_ns[j]);
		for (j = 0; j < m[i].nmaintenance; j++)
			top = fmax(top, m[i].maintenance_ns[j]);
	}
	/* Medians an order of magnitude apart would flatten the small ones. */
	logscale = isfinite(lo) && hi / lo >= 10;
	unit = unit_for(isfinite(lo) ? lo : (top > 0 ? top : NS_PER_S), &scale);
	if (script_open(&s, out, err))
		return -1;
	put_bars(s.f, "down", m, n, false, -0.18, scale);
	put_bars(s.f, "maint", m, n, true, 0.18, scale);
	fputs("$labels << EOD\n", s.f);
	for (i = 0; i < n; i++) {
		if (!m[i].ndowntime)
			fprintf(s.f, "%.3f %.9g \"no downtime measured\"\n", (double)i - 0.18,
				logscale ? lo / scale : 0.0);
		put_label(s.f, (double)i - 0.18, m[i].downtime_ns, m[i].ndowntime, scale);
		put_label(s.f, (double)i + 0.18, m[i].maintenance_ns, m[i].nmaintenance, scale);
	}
	fputs("EOD\n", s.f);

	fputs("set style fill solid 0.8 border -1\nset boxwidth 0.34\n", s.f);
	fprintf(s.f, "set xrange [-0.6:%zu.6]\nset xtics scale 0 (", n - 1);
	for (i = 0; i < n; i++) {
		fputs(i ? ", " : "", s.f);
		put_quoted(s.f, m[i].method);
		fprintf(s.f, " %zu", i);
	}
	fputs(") font ',12'\n", s.f);
	fprintf(s.f, "set ylabel 'time (%s)%s'\n", unit, logscale ? ", log scale" : "");
	if (logscale)
		fprintf(s.f, "set logscale y\nset yrange [%.9g:%.9g]\n", lo / scale / 3,
			top / scale * 8);
	else
		fprintf(s.f, "set yrange [0:%.9g]\n", top > 0 ? top / scale * 1.18 : 1);
	fputs("set grid ytics lc rgb '#dddddd'\nset key top left horizontal\n"
	      "set xlabel 'bar: median    whisker: min to max    dot: one repetition' "
	      "font ',9' tc rgb '#555555'\n",
	      s.f);
	fputs("plot $down using 1:2 with boxes lc rgb '#4e79a7' title 'downtime', \\\n"
	      "  $maint using 1:2 with boxes lc rgb '#f28e2b' title 'maintenance window', \\\n"
	      "  $down using 1:3:(0):($4-$3) with vectors nohead lc rgb '#222222' lw 1.5 notitle, "
	      "\\\n"
	      "  $maint using 1:3:(0):($4-$3) with vectors nohead lc rgb '#222222' lw 1.5 notitle, "
	      "\\\n"
	      "  $down using ($1-0.04):3:(0.08):(0) with vectors nohead lc rgb '#222222' lw 1.5 "
	      "notitle, \\\n"
	      "  $down using ($1-0.04):4:(0.08):(0) with vectors nohead lc rgb '#222222' lw 1.5 "
	      "notitle, \\\n"
	      "  $maint using ($1-0.04):3:(0.08):(0) with vectors nohead lc rgb '#222222' lw 1.5 "
	      "notitle, \\\n"
	      "  $maint using ($1-0.04):4:(0.08):(0) with vectors nohead lc rgb '#222222' lw 1.5 "
	      "notitle, \\\n"
	      "  $down_reps using 1:2 with points pt 7 ps 0.7 lc rgb '#111111' notitle, \\\n"
	      "  $maint_reps using 1:2 with points pt 7 ps 0.7 lc rgb '#111111' notitle, \\\n"
	      "  $labels using 1:2:3 with labels offset 0,1 font ',10' notitle\n",
	      s.f);
	return script_render(&s, PLOT_WIDTH, BARS_HEIGHT, out, err);
}

/* Rows of the CDF: at most this many per curve (quantiles beyond that). */
#define CDF_POINTS 800

int plot_rtt_cdf(const struct plot_cdf *c, size_t n, const struct plot_out *out, struct tb_err *err)
{
	double lo = INFINITY, hi = 0, all_median = 0, scale;
	const char *unit;
	struct script s;
	size_t i, k, curves = 0;
	double **sorted;
	int ret = -1;

	sorted = calloc(n ? n : 1, sizeof(*sorted));
	if (!sorted)
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	for (i = 0; i < n; i++) {
		if (!c[i].n)
			continue;
		sorted[i] = malloc(c[i].n * sizeof(double));
		if (!sorted[i]) {
			tb_err_set(err, TB_EXIT_ENV, "out of memory");
			goto out;
		}
		memcpy(sorted[i], c[i].rtt_ns, c[i].n * sizeof(double));
		qsort(sorted[i], c[i].n, sizeof(double), cmp_double);
		lo = fmin(lo, fmax(sorted[i][0], 1));
		hi = fmax(hi, sorted[i][c[i].n - 1]);
		stats_quantile(sorted[i], c[i].n, 0.5, &all_median);
		curves++;
	}
	unit = unit_for(all_median > 0 ? all_median : 1, &scale);
	if (script_open(&s, out, err))
		goto out;
	for (i = 0; i < n; i++) {
		if (!sorted[i])
			continue;
		fprintf(s.f, "$rtt%zu << EOD\n", i);
		/* Each row is (value, fraction of values <= it): the curve's corners. */
		if (c[i].n <= CDF_POINTS) {
			for (k = 0; k < c[i].n; k++)
				fprintf(s.f, "%.9g %.6f\n", sorted[i][k] / scale,
					(double)(k + 1) / (double)c[i].n);
		} else {
			for (k = 0; k < CDF_POINTS; k++) {
				size_t at = (size_t)llround((double)k * (double)(c[i].n - 1) /
							    (CDF_POINTS - 1));

				fprintf(s.f, "%.9g %.6f\n", sorted[i][at] / scale,
					(double)(at + 1) / (double)c[i].n);
			}
		}
		fputs("EOD\n", s.f);
	}
	fprintf(s.f, "set xlabel 'probe round-trip time (%s)%s'\n", unit,
		curves && hi / lo > 100 ? ", log scale" : "");
	fputs("set ylabel 'fraction of replies at or below'\nset yrange [0:1.02]\n"
	      "set ytics 0.1\nset grid xtics ytics mxtics lc rgb '#cccccc'\n"
	      "set key bottom right box opaque\n",
	      s.f);
	if (curves && hi / lo > 100)
		fputs("set logscale x\n", s.f);
	if (!curves) {
		fputs("set xrange [0:1]\nset label 1 'no probe replies' at graph 0.5, graph 0.5 "
		      "center\nplot NaN notitle\n",
		      s.f);
	} else {
		const char *sep = "plot ";

		for (i = 0; i < n; i++) {
			char title[256], med[32], p99[32];
			double q;

			if (!sorted[i])
				continue;
			stats_quantile(sorted[i], c[i].n, 0.5, &q);
			fmt_ns(med, sizeof(med), q);
			stats_quantile(sorted[i], c[i].n, 0.99, &q);
			fmt_ns(p99, sizeof(p99), q);
			snprintf(title, sizeof(title), "%s (n = %zu, median %s, p99 %s)",
				 c[i].label, c[i].n, med, p99);
			fprintf(s.f, "%s$rtt%zu using 1:2 with steps lw 2 title ", sep, i);
			put_quoted(s.f, title);
			sep = ", \\\n  ";
		}
		fputs("\n", s.f);
	}
	ret = script_render(&s, PLOT_WIDTH, CDF_HEIGHT, out, err);
out:
	for (i = 0; i < n; i++)
		free(sorted[i]);
	free(sorted);
	return ret;
}

static double secs(int64_t t_ns, int64_t origin_ns)
{
	return (double)(t_ns - origin_ns) / NS_PER_S;
}

struct placed {
	size_t phase;
	double x, y;
	bool right; /* anchored at its right end (near the axis' end) */
};

/*
 * Labels of one lane, placed greedily: each goes on the lowest level whose
 * previous label ends before this one starts, so that phases a few
 * microseconds apart (service_up, upgrade_start) stay readable.
 */
static void place_labels(const struct plot_timeline *tl, enum plot_lane lane, double lane_y,
			 double xmin, double xmax, struct placed *out, size_t *nout)
{
	double px_per_unit = PLOT_WIDTH * (TL_RIGHT - TL_LEFT) / (xmax - xmin);
	double end[LABEL_LEVELS];
	size_t i, *order = NULL, n = 0, a, b;
	int l;

	for (l = 0; l < LABEL_LEVELS; l++)
		end[l] = -INFINITY;
	order = malloc((tl->nphases ? tl->nphases : 1) * sizeof(*order));
	if (!order)
		return;
	for (i = 0; i < tl->nphases; i++)
		if (tl->phases[i].lane == lane && secs(tl->phases[i].t_ns, tl->origin_ns) >= xmin)
			order[n++] = i;
	/* Insertion sort by time: a repetition has a few dozen phases at most. */
	for (a = 1; a < n; a++)
		for (b = a; b > 0 && tl->phases[order[b - 1]].t_ns > tl->phases[order[b]].t_ns;
		     b--) {
			size_t t = order[b];

			order[b] = order[b - 1];
			order[b - 1] = t;
		}
	for (i = 0; i < n; i++) {
		const struct plot_phase *p = &tl->phases[order[i]];
		double x = secs(p->t_ns, tl->origin_ns);
		double w = ((double)strlen(p->name) * LABEL_CHAR_PX + LABEL_PAD_PX) / px_per_unit;
		bool right = x + w > xmax;
		double start = right ? x - w : x;
		int best = 0;

		for (l = 0; l < LABEL_LEVELS; l++)
			if (end[l] < start)
				break;
		if (l < LABEL_LEVELS) {
			best = l;
		} else {
			/* Every level taken: overlap where the last label ended first. */
			for (l = 1; l < LABEL_LEVELS; l++)
				if (end[l] < end[best])
					best = l;
		}
		end[best] = right ? x : x + w;
		out[*nout] =
		    (struct placed){order[i], x, lane_y + LABEL_BASE + LABEL_STEP * best, right};
		(*nout)++;
	}
	free(order);
}

/*
 * Whether one of @tl's gaps starts at the reply @t.  Replies are visited in
 * ascending order, so *@next (the first gap not yet passed) only moves on.
 */
static bool gap_starts_at(const struct plot_timeline *tl, int64_t t, size_t *next)
{
	while (*next < tl->ngaps && tl->gaps[*next].start_ns < t)
		(*next)++;
	return *next < tl->ngaps && tl->gaps[*next].start_ns == t;
}

/* A gap from @g0 to @g1 (s) as drawn: at least GAP_MIN_PX wide on an axis of @xmin..@xmax. */
static void gap_extent(double *g0, double *g1, double xmin, double xmax)
{
	double min_w = GAP_MIN_PX * (xmax - xmin) / (PLOT_WIDTH * (TL_RIGHT - TL_LEFT));

	/* A gap of milliseconds on an axis of seconds is still drawn, a few pixels wide. */
	if (*g1 - *g0 < min_w) {
		*g0 = (*g0 + *g1 - min_w) / 2;
		*g1 = *g0 + min_w;
	}
}

int plot_timeline(const struct plot_timeline *tl, const struct plot_out *out, struct tb_err *err)
{
	int64_t join =
	    UP_JOIN_INTERVALS * (tl->probe_interval_ns > 0 ? tl->probe_interval_ns : NS_PER_MS);
	double xmin = INFINITY, xmax = -INFINITY, span, lane_y[2];
	bool lane_b = tl->nlines[1] > 0, cut = false, other_gaps = false;
	size_t next_gap = 0;
	char hidden[256] = "", xlabel[128];
	struct placed *labels = NULL;
	size_t i, nlabels = 0;
	struct script s;
	int lanes;

	for (i = 0; i < tl->nphases; i++) {
		double x = secs(tl->phases[i].t_ns, tl->origin_ns);

		xmin = fmin(xmin, x);
		xmax = fmax(xmax, x);
		lane_b |= tl->phases[i].lane == PLOT_LANE_B;
	}
	if (tl->has_gap) {
		xmin = fmin(xmin, secs(tl->gap_start_ns, tl->origin_ns));
		xmax = fmax(xmax, secs(tl->gap_end_ns, tl->origin_ns));
	}
	for (i = 0; i < tl->ngaps; i++) {
		xmin = fmin(xmin, secs(tl->gaps[i].start_ns, tl->origin_ns));
		xmax = fmax(xmax, secs(tl->gaps[i].end_ns, tl->origin_ns));
	}
	if (!isfinite(xmin)) {
		xmin = -1;
		xmax = 1;
	}
	/*
	 * A boot much longer than the upgrade (twin methods, where the upgrade
	 * takes milliseconds) would squeeze the upgrade into a sliver: start
	 * the axis shortly before t = 0 and name the phases left out.
	 */
	if (xmax > 0 && -xmin > BOOT_MAX_RATIO * xmax) {
		cut = true;
		xmin = -0.5 * xmax;
		for (i = 0; i < tl->nphases; i++) {
			double x = secs(tl->phases[i].t_ns, tl->origin_ns);
			size_t used = strlen(hidden);

			if (x < xmin)
				snprintf(hidden + used, sizeof(hidden) - used, "%s%s at %.2f s",
					 used ? ", " : "", tl->phases[i].name, x);
		}
	}
	span = xmax - xmin > 1e-6 ? xmax - xmin : 1;
	xmin -= 0.02 * span;
	xmax += 0.02 * span;
	lanes = lane_b ? 3 : 2;
	lane_y[PLOT_LANE_A] = lanes - 1;
	lane_y[PLOT_LANE_B] = 1;

	labels = calloc(tl->nphases ? tl->nphases : 1, sizeof(*labels));
	if (!labels)
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	place_labels(tl, PLOT_LANE_A, lane_y[PLOT_LANE_A], xmin, xmax, labels, &nlabels);
	if (lane_b)
		place_labels(tl, PLOT_LANE_B, lane_y[PLOT_LANE_B], xmin, xmax, labels, &nlabels);
	if (script_open(&s, out, err)) {
		free(labels);
		return -1;
	}

	/* Console lines as ticks below their lane's axis line. */
	fputs("$ticks << EOD\n", s.f);
	for (int c = 0; c < (lane_b ? 2 : 1); c++)
		for (i = 0; i < tl->nlines[c]; i++)
			if (secs(tl->lines[c][i], tl->origin_ns) >= xmin)
				fprintf(s.f, "%.9f %.2f\n", secs(tl->lines[c][i], tl->origin_ns),
					lane_y[c] + TICK_TOP - TICK_LEN);
	fputs("EOD\n$phases << EOD\n", s.f);
	for (i = 0; i < tl->nphases; i++)
		if ((tl->phases[i].lane == PLOT_LANE_A || lane_b) &&
		    secs(tl->phases[i].t_ns, tl->origin_ns) >= xmin)
			fprintf(s.f, "%.9f %.2f\n", secs(tl->phases[i].t_ns, tl->origin_ns),
				lane_y[tl->phases[i].lane]);
	fputs("EOD\n$leaders << EOD\n", s.f);
	for (i = 0; i < nlabels; i++)
		fprintf(s.f, "%.9f %.2f %.2f\n", labels[i].x,
			lane_y[tl->phases[labels[i].phase].lane], labels[i].y);
	fputs("EOD\n", s.f);
	for (int right = 0; right < 2; right++) {
		fprintf(s.f, "$labels%d << EOD\n", right);
		for (i = 0; i < nlabels; i++)
			if (labels[i].right == right) {
				fprintf(s.f, "%.9f %.2f ", labels[i].x, labels[i].y);
				/* Phase names are [a-z_0-9] by construction; quote anyway. */
				fputc('"', s.f);
				for (const char *p = tl->phases[labels[i].phase].name; *p; p++)
					if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
						fputc(*p, s.f);
				fputs("\"\n", s.f);
			}
		fputs("EOD\n", s.f);
	}
	/* Probe replies as bars: runs of replies closer than @join apart. */
	fputs("$up << EOD\n", s.f);
	for (i = 0; i < tl->nreplies;) {
		size_t j = i;

		double from, to;

		/* Joined across small holes, but never across a shaded gap, however short. */
		while (j + 1 < tl->nreplies && tl->replies[j + 1] - tl->replies[j] <= join &&
		       !(tl->has_gap && tl->replies[j] == tl->gap_start_ns) &&
		       !gap_starts_at(tl, tl->replies[j], &next_gap))
			j++;
		from = fmax(secs(tl->replies[i], tl->origin_ns), xmin);
		to = secs(tl->replies[j], tl->origin_ns);
		if (to >= from)
			fprintf(s.f, "%.9f 0 %.9f\n", from, to - from);
		i = j + 1;
	}
	fputs("EOD\n", s.f);

	fprintf(s.f, "set xrange [%.9f:%.9f]\nset yrange [-0.6:%d.9]\n", xmin, xmax, lanes - 1);
	fprintf(s.f, "set lmargin at screen %.2f\nset rmargin at screen %.2f\n", TL_LEFT, TL_RIGHT);
	snprintf(xlabel, sizeof(xlabel), "time from %s (s)",
		 tl->origin_name ? tl->origin_name : "the upgrade's start");
	fputs("set xlabel ", s.f);
	put_quoted(s.f, xlabel);
	fputs("\nset grid xtics lc rgb '#eeeeee'\nset xtics nomirror\nset ytics scale 0 (", s.f);
	fprintf(s.f, "'console a: kernel A' %g, ", lane_y[PLOT_LANE_A]);
	if (lane_b)
		fprintf(s.f, "'console b: kernel B' %g, ", lane_y[PLOT_LANE_B]);
	fputs("'probe: replies' 0)\n", s.f);
	if (tl->has_gap) {
		char text[64];
		double d = (double)(tl->gap_end_ns - tl->gap_start_ns);
		double g0 = secs(tl->gap_start_ns, tl->origin_ns),
		       g1 = secs(tl->gap_end_ns, tl->origin_ns);
		bool right_half;

		fmt_ns(text, sizeof(text), d);
		gap_extent(&g0, &g1, xmin, xmax);
		fprintf(s.f,
			"set object 1 rect from %.9f, graph 0 to %.9f, graph 1 behind "
			"fc rgb '#d62728' fs transparent solid 0.15 noborder\n",
			g0, g1);
		/*
		 * Hung from the gap's inner edge, so that a gap at either end of
		 * the axis keeps its label on the plot.
		 */
		right_half = (g0 + g1) / 2 > (xmin + xmax) / 2;
		fprintf(s.f,
			"set label 1 'downtime %s' at %.9f, -0.45 %s tc rgb '#b22222' "
			"font ',10' front\n",
			text, right_half ? g1 : g0, right_half ? "right" : "left");
	}
	/* Every other gap: shaded like the downtime but in its own colour, and not labelled. */
	for (i = 0; i < tl->ngaps; i++) {
		double g0 = secs(tl->gaps[i].start_ns, tl->origin_ns),
		       g1 = secs(tl->gaps[i].end_ns, tl->origin_ns);

		if (tl->has_gap && tl->gaps[i].start_ns == tl->gap_start_ns &&
		    tl->gaps[i].end_ns == tl->gap_end_ns)
			continue;
		other_gaps = true;
		gap_extent(&g0, &g1, xmin, xmax);
		fprintf(s.f,
			"set object %zu rect from %.9f, graph 0 to %.9f, graph 1 behind "
			"fc rgb '" OTHER_GAP_RGB "' fs transparent solid 0.25 noborder\n",
			i + 2, g0, g1);
	}
	for (i = 0; i < tl->nphases; i++)
		if ((tl->phases[i].lane == PLOT_LANE_A || lane_b) &&
		    secs(tl->phases[i].t_ns, tl->origin_ns) >= xmin)
			fprintf(s.f,
				"set arrow from %.9f, graph 0 to %.9f, graph 1 nohead back "
				"lc rgb '#bbbbbb' dt 3\n",
				secs(tl->phases[i].t_ns, tl->origin_ns),
				secs(tl->phases[i].t_ns, tl->origin_ns));
	if (cut)
		fprintf(s.f,
			"set label 2 %s at graph 0.005, graph 0.975 left font ',9' "
			"tc rgb '#555555' front\n",
			"'\xe2\x86\x90 earlier'");
	if (hidden[0]) {
		fputs("set label 3 ", s.f);
		put_quoted(s.f, hidden);
		fputs(" at graph 0.005, graph 0.93 left font ',8' tc rgb '#555555' front\n", s.f);
	}
	fprintf(
	    s.f,
	    "set key outside bottom center horizontal font ',9' samplen 2\n"
	    "plot $up using 1:2:3:(0) with vectors nohead lw 7 lc rgb '#2ca02c' "
	    "title 'probe replies', \\\n"
	    "  keyentry with boxes fc rgb '#d62728' fs transparent solid 0.15 noborder "
	    "title 'no reply (downtime)', \\\n"
	    "%s"
	    "  $ticks using 1:2:(0):(%g) with vectors nohead lw 0.6 lc rgb '#555555' "
	    "title 'console line', \\\n"
	    "  $leaders using 1:2:(0):($3-$2) with vectors nohead lc rgb '#9ecae1' notitle, \\\n"
	    "  $phases using 1:2 with points pt 7 ps 0.9 lc rgb '#1f4e79' title 'phase', \\\n"
	    "  $labels0 using 1:2:3 with labels left offset 0.3,0 font ',9' notitle, \\\n"
	    "  $labels1 using 1:2:3 with labels right offset -0.3,0 font ',9' notitle\n",
	    other_gaps ? "  keyentry with boxes fc rgb '" OTHER_GAP_RGB "' fs transparent solid "
			 "0.25 noborder title 'no reply (another gap)', \\\n"
		       : "",
	    TICK_LEN);
	free(labels);
	return script_render(&s, PLOT_WIDTH, 70 + LANE_PX * lanes, out, err);
}
