/*
 * report.c - a result set written as report.html, report.md and
 * summary.csv, with the plots of plot.c.
 *
 * run.json (through resultset.c) gives the numbers; probe.csv and the
 * console logs (through trace_load) give what only the plots need: reply
 * times, round-trip times, and the stamps of console lines.  The HTML is
 * built as an XHTML tree with libxml2, which escapes every text and
 * attribute, and gnuplot's SVGs are parsed and grafted into it, so the
 * file is well-formed XML by construction and needs nothing from the
 * network.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include "atomicfile.h"
#include "breakdown.h"
#include "toolstats.h"
#include "duration.h"
#include "markdown.h"
#include "monotime.h"
#include "plot.h"
#include "probe.h"
#include "report.h"
#include "trace.h"
#include "xmlfile.h"

#define XHTML_NS "http://www.w3.org/1999/xhtml"

/* ---- output files ------------------------------------------------------ */

char *report_csv_field(const char *s)
{
	size_t len = strlen(s), i, o = 0;
	char *q;

	if (!strpbrk(s, ",\"\r\n"))
		return strdup(s);
	q = malloc(2 * len + 3);
	if (!q)
		return NULL;
	q[o++] = '"';
	for (i = 0; i < len; i++) {
		if (s[i] == '"')
			q[o++] = '"';
		q[o++] = s[i];
	}
	q[o++] = '"';
	q[o] = '\0';
	return q;
}

static void put_csv(FILE *f, const char *s, const char *sep)
{
	char *q = report_csv_field(s);

	fputs(q ? q : "", f);
	fputs(sep, f);
	free(q);
}

static int write_csv(const struct resultset *set, const char *out, struct tb_err *err)
{
	struct atomic_file af;
	char path[PATH_MAX];
	size_t i, k;
	FILE *f;

	snprintf(path, sizeof(path), "%s/summary.csv", out);
	if (atomic_open(&af, path, err))
		return -1;
	f = af.f;
	fputs("results,scenario,method,rep,ok,verified,measured,downtime_ns,maintenance_ns,"
	      "unavailable_ns,gaps,interval_median_ns,interval_p99_ns,capture_downtime_ns,"
	      "capture_agrees,sent,lost,boot_changed,state_continued,release_before,"
	      "release_after,accel,kernel_old,kernel_new,memory_mib,vcpus,error\n",
	      f);
	for (i = 0; i < set->nruns; i++) {
		const struct resultset_run *r = &set->runs[i];

		for (k = 0; k < r->nreps; k++) {
			const struct repetition *rep = &r->reps[k];

			put_csv(f, r->dir, ",");
			put_csv(f, r->info.scenario, ",");
			put_csv(f, r->info.method, ",");
			fprintf(f, "%d,%d,%d,%d,", rep->index, rep->ok, rep->verified,
				rep->measured);
			if (rep->measured)
				fprintf(f, "%" PRId64, rep->downtime_ns);
			fputc(',', f);
			if (rep->maintenance_ns > 0)
				fprintf(f, "%" PRId64, rep->maintenance_ns);
			fputc(',', f);
			/* Empty where run.json does not say: unknown is not zero. */
			if (resultset_gaps_known(rep))
				fprintf(f, "%" PRId64 ",%d", rep->unavailable_ns, rep->gaps_found);
			else
				fputc(',', f);
			fputc(',', f);
			if (rep->interval_median_ns > 0)
				fprintf(f, "%" PRId64, rep->interval_median_ns);
			fputc(',', f);
			if (rep->interval_p99_ns > 0)
				fprintf(f, "%" PRId64, rep->interval_p99_ns);
			fputc(',', f);
			if (rep->captured)
				fprintf(f, "%" PRId64 ",%d", rep->capture_downtime_ns,
					rep->capture_agrees);
			else
				fputc(',', f);
			fprintf(f, ",%" PRIu64 ",%" PRIu64 ",%d,%d,", rep->sent, rep->lost,
				rep->boot_changed, rep->state_continued);
			put_csv(f, rep->release_before, ",");
			put_csv(f, rep->release_after, ",");
			put_csv(f, r->info.accel, ",");
			put_csv(f, r->info.kernel_old, ",");
			put_csv(f, r->info.kernel_new, ",");
			fprintf(f, "%d,%d,", r->info.guest_memory_mib, r->info.guest_vcpus);
			put_csv(f, rep->error, "\n");
		}
	}
	return atomic_commit(&af, ferror(f) != 0, err);
}

/* A summary cell: the statistic if there are values, else an em dash. */
static void stat_cell(char *buf, size_t len, size_t n, double v)
{
	if (n)
		duration_format(v, buf, len);
	else
		snprintf(buf, len, "\xe2\x80\x94");
}

/* Every cell of one row of the summary, in the column order of summary_head. */
#define SUMMARY_COLS	22
#define SUMMARY_NUMERIC 17 /* the columns before this one are right-aligned in Markdown */
#define SUMMARY_CELL	192
static const char *const summary_head[SUMMARY_COLS] = {
    "scenario",
    "repetitions",
    "verified",
    "downtime median",
    ("\xc3\x97 " RESULTSET_YARDSTICK), /* one cell: "× twin" */
    "downtime p90",
    "downtime min",
    "downtime max",
    "maintenance median",
    "maintenance max",
    "unavailable median",
    "unavailable p90",
    "unavailable min",
    "unavailable max",
    "gaps per repetition",
    "probe interval (median, p99)",
    "capture",
    "spare guest (running, median)",
    "method",
    "kernel (old \xe2\x86\x92 new)",
    "guest",
    "accelerator",
};

/* Footnotes of the summary's ratio column: each text once, numbered in order of first use. */
struct footnotes {
	char (*text)[sizeof(((struct twin_ratio *)0)->note)];
	size_t n;
};

/* The ratio cell of row @i: "12.3×", or "-"; with its footnote's number, if it has one. */
static void ratio_cell(const struct scenario_stats *m, size_t n, size_t i, struct footnotes *fn,
		       char *buf, size_t len)
{
	struct twin_ratio tr;
	size_t k, used;

	resultset_twin_ratio(m, n, i, &tr);
	if (!tr.has)
		snprintf(buf, len, "-");
	else if (tr.ratio >= 100)
		snprintf(buf, len, "%.0f\xc3\x97", tr.ratio);
	else if (tr.ratio >= 10)
		snprintf(buf, len, "%.1f\xc3\x97", tr.ratio);
	else
		snprintf(buf, len, "%.2f\xc3\x97", tr.ratio);
	if (!tr.note[0])
		return;
	for (k = 0; k < fn->n && strcmp(fn->text[k], tr.note); k++)
		;
	/* fn has room for a note per row, so a new one always fits. */
	if (k == fn->n)
		memcpy(fn->text[fn->n++], tr.note, sizeof(tr.note));
	used = strlen(buf);
	snprintf(buf + used, len - used, " [%zu]", k + 1);
}

/* Gaps per repetition: "2", or the range "1-3" (an en dash); an em dash when unknown. */
static void gaps_cell(const struct scenario_stats *m, char *buf, size_t len)
{
	if (!m->nunavailable)
		snprintf(buf, len, "\xe2\x80\x94");
	else if (m->gaps_min == m->gaps_max)
		snprintf(buf, len, "%d", m->gaps_min);
	else
		snprintf(buf, len, "%d\xe2\x80\x93%d", m->gaps_min, m->gaps_max);
}

/* The probe's achieved interval: "1.0 ms (p99 1.3 ms)"; an em dash when not recorded. */
static void interval_cell(int64_t median_ns, int64_t p99_ns, char *buf, size_t len)
{
	char med[32], p99[32];

	if (median_ns <= 0) {
		snprintf(buf, len, "\xe2\x80\x94");
		return;
	}
	duration_format((double)median_ns, med, sizeof(med));
	if (p99_ns <= 0) {
		snprintf(buf, len, "%s", med);
		return;
	}
	duration_format((double)p99_ns, p99, sizeof(p99));
	snprintf(buf, len, "%s (p99 %s)", med, p99);
}

/* "agrees 3/3": the captures that agreed with the probe, of those analysed. */
static void capture_cell(const struct scenario_stats *m, char *buf, size_t len)
{
	if (m->captured)
		snprintf(buf, len, "agrees %zu/%zu", m->capture_agrees, m->captured);
	else
		snprintf(buf, len, "\xe2\x80\x94");
}

/*
 * What a method that moves the service to a second guest costs beside its
 * downtime: that guest's size and how long it ran, "2 GiB, 2 vCPUs for
 * 14.6 s"; "none" for a method without one.
 */
static void spare_cell(const struct scenario_stats *m, char *buf, size_t len)
{
	char size[64], t[32];

	resultset_key_standby(&m->key, size, sizeof(size));
	if (!size[0]) {
		snprintf(buf, len, "none");
		return;
	}
	if (m->nstandby)
		duration_format(m->standby.median, t, sizeof(t));
	snprintf(buf, len, "%s for %s", size, m->nstandby ? t : "?");
}

static void summary_row(const struct scenario_stats *rows, size_t n, size_t i,
			struct footnotes *fn, char cells[SUMMARY_COLS][SUMMARY_CELL])
{
	const struct scenario_stats *m = &rows[i];

	snprintf(cells[0], SUMMARY_CELL, "%s", m->key.scenario);
	snprintf(cells[1], SUMMARY_CELL, "%zu", m->reps);
	snprintf(cells[2], SUMMARY_CELL, "%zu/%zu", m->verified, m->reps);
	stat_cell(cells[3], SUMMARY_CELL, m->ndowntime, m->downtime.median);
	ratio_cell(rows, n, i, fn, cells[4], SUMMARY_CELL);
	stat_cell(cells[5], SUMMARY_CELL, m->ndowntime, m->downtime.p90);
	stat_cell(cells[6], SUMMARY_CELL, m->ndowntime, m->downtime.min);
	stat_cell(cells[7], SUMMARY_CELL, m->ndowntime, m->downtime.max);
	stat_cell(cells[8], SUMMARY_CELL, m->nmaintenance, m->maintenance.median);
	stat_cell(cells[9], SUMMARY_CELL, m->nmaintenance, m->maintenance.max);
	stat_cell(cells[10], SUMMARY_CELL, m->nunavailable, m->unavailable.median);
	stat_cell(cells[11], SUMMARY_CELL, m->nunavailable, m->unavailable.p90);
	stat_cell(cells[12], SUMMARY_CELL, m->nunavailable, m->unavailable.min);
	stat_cell(cells[13], SUMMARY_CELL, m->nunavailable, m->unavailable.max);
	gaps_cell(m, cells[14], SUMMARY_CELL);
	interval_cell(m->interval_median_ns, m->interval_p99_ns, cells[15], SUMMARY_CELL);
	capture_cell(m, cells[16], SUMMARY_CELL);
	spare_cell(m, cells[17], SUMMARY_CELL);
	snprintf(cells[18], SUMMARY_CELL, "%s", m->key.method);
	resultset_key_kernels(&m->key, cells[19], SUMMARY_CELL);
	resultset_key_guest(&m->key, cells[20], SUMMARY_CELL);
	snprintf(cells[21], SUMMARY_CELL, "%s", m->key.accel[0] ? m->key.accel : "?");
}

/* Append printf(@fmt, ...) to @buf. */
static void __attribute__((format(printf, 3, 4)))
append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

void report_row_line(const struct scenario_stats *rows, size_t n, size_t i, char *buf, size_t len)
{
	const struct scenario_stats *m = &rows[i];
	char kernels[160], guest[64], v[SUMMARY_CELL];
	struct twin_ratio tr;

	resultset_key_kernels(&m->key, kernels, sizeof(kernels));
	resultset_key_guest(&m->key, guest, sizeof(guest));
	snprintf(buf, len, "%s (%s, %s, %s, %s): downtime median ", m->key.scenario, m->key.method,
		 kernels, guest, m->key.accel[0] ? m->key.accel : "?");
	if (m->ndowntime)
		duration_format(m->downtime.median, v, sizeof(v));
	append(buf, len, "%s", m->ndowntime ? v : "not measured");
	if (m->nmaintenance) {
		duration_format(m->maintenance.median, v, sizeof(v));
		append(buf, len, ", maintenance median %s", v);
	}
	if (m->nunavailable) {
		duration_format(m->unavailable.median, v, sizeof(v));
		append(buf, len, ", unavailable median %s", v);
		gaps_cell(m, v, sizeof(v));
		append(buf, len, " (gaps per repetition %s)", v);
	}
	if (m->interval_median_ns > 0) {
		interval_cell(m->interval_median_ns, m->interval_p99_ns, v, sizeof(v));
		append(buf, len, ", probe interval %s", v);
	}
	if (m->captured)
		append(buf, len, ", capture agrees %zu/%zu", m->capture_agrees, m->captured);
	if (m->key.standby_memory_mib > 0) {
		spare_cell(m, v, sizeof(v));
		append(buf, len, ", spare guest %s", v);
	}
	resultset_twin_ratio(rows, n, i, &tr);
	if (tr.has)
		append(buf, len, ", %.3g\xc3\x97 %s%s%s", tr.ratio, RESULTSET_YARDSTICK,
		       tr.note[0] ? " - " : "", tr.note);
	else
		append(buf, len, ", \xc3\x97 %s: - (%s)", RESULTSET_YARDSTICK, tr.note);
}

/* Append ", @part" to the label in @buf, or " (@part" if it is the first part. */
static void label_part(char *buf, size_t len, bool *first, const char *part)
{
	size_t used = strlen(buf);

	snprintf(buf + used, len - used, "%s%s", *first ? " (" : ", ", part);
	*first = false;
}

/*
 * Row @i's name in a plot: its scenario, and what varies among the rows of
 * that scenario (method, kernels, guest, accelerator) if it has several.
 */
static void row_label(const struct scenario_stats *m, size_t n, size_t i, char *buf, size_t len)
{
	const struct scenario_key *k = &m[i].key;
	bool method = false, kernels = false, guest = false, accel = false, first = true;
	char part[192];
	size_t j;

	for (j = 0; j < n; j++) {
		const struct scenario_key *o = &m[j].key;

		if (j == i || strcmp(o->scenario, k->scenario))
			continue;
		method |= strcmp(o->method, k->method) != 0;
		kernels |= strcmp(o->kernel_old, k->kernel_old) || strcmp(o->kernel_new, k->kernel_new);
		guest |= o->memory_mib != k->memory_mib || o->vcpus != k->vcpus;
		accel |= strcmp(o->accel, k->accel) != 0;
	}
	snprintf(buf, len, "%s", k->scenario);
	if (method)
		label_part(buf, len, &first, k->method);
	if (kernels) {
		resultset_key_kernels(k, part, sizeof(part));
		label_part(buf, len, &first, part);
	}
	if (guest) {
		resultset_key_guest(k, part, sizeof(part));
		label_part(buf, len, &first, part);
	}
	if (accel)
		label_part(buf, len, &first, k->accel[0] ? k->accel : "?");
	if (!first) {
		size_t used = strlen(buf);

		snprintf(buf + used, len - used, ")");
	}
}

static const char *const env_head[] = {
    "results",	   "scenario",	     "method",	"started",
    "accelerator", "QEMU",	     "libvirt", "kernel (old \xe2\x86\x92 new)",
    "guest",	   "booted",	     "host kernel", "probe interval",
};
#define ENV_COLS (sizeof(env_head) / sizeof(env_head[0]))
#define ENV_CELL 1024

/* A size in bytes for people: "30.0 MiB", "812 KiB". */
static void byte_size(int64_t bytes, char *buf, size_t len)
{
	if (bytes >= 1024 * 1024)
		snprintf(buf, len, "%.1f MiB", (double)bytes / (1024 * 1024));
	else if (bytes >= 1024)
		snprintf(buf, len, "%.0f KiB", (double)bytes / 1024);
	else
		snprintf(buf, len, "%" PRId64 " B", bytes);
}

/* Digests are shown by their first 12 hex digits: enough to tell images apart. */
#define DIGEST_SHOWN 12

/* "old: vmlinuz (sha256 0123456789ab, initrd 30.0 MiB)" */
static void kernel_cell(const char *role, const struct run_kernel *k, char *buf, size_t len)
{
	const char *slash = strrchr(k->image, '/');
	char initrd[48] = "no initrd";

	if (!k->image[0]) {
		snprintf(buf, len, "%s: ?", role);
		return;
	}
	if (k->initrd_bytes > 0) {
		strcpy(initrd, "initrd ");
		byte_size(k->initrd_bytes, initrd + 7, sizeof(initrd) - 7);
	}
	snprintf(buf, len, "%s: %s (sha256 %.*s, %s)", role, slash ? slash + 1 : k->image,
		 DIGEST_SHOWN, k->sha256[0] ? k->sha256 : "?", initrd);
}

/* What was booted: both kernels and the root disk, by file name and digest. */
static void booted_cell(const struct run_info *info, char *buf, size_t len)
{
	const char *path = info->rootfs, *digest = strstr(info->rootfs, " sha256:");
	char old[400], new[400], rootfs[300];
	const char *slash;
	int plen;

	if (!info->boot_old.image[0] && !info->boot_new.image[0] && !info->rootfs[0]) {
		snprintf(buf, len, "?");
		return;
	}
	kernel_cell("old", &info->boot_old, old, sizeof(old));
	kernel_cell("new", &info->boot_new, new, sizeof(new));
	plen = digest ? (int)(digest - path) : (int)strlen(path);
	slash = memrchr(path, '/', (size_t)plen);
	if (slash) {
		plen -= (int)(slash + 1 - path);
		path = slash + 1;
	}
	if (!info->rootfs[0])
		snprintf(rootfs, sizeof(rootfs), "none");
	else if (digest)
		snprintf(rootfs, sizeof(rootfs), "%.*s (sha256 %.*s)", plen, path, DIGEST_SHOWN,
			 digest + 8);
	else
		snprintf(rootfs, sizeof(rootfs), "%.*s", plen, path);
	snprintf(buf, len, "%s; %s; rootfs: %s", old, new, rootfs);
}

static void env_row(const struct resultset_run *r, char cells[ENV_COLS][ENV_CELL])
{
	const char *slash = strrchr(r->dir, '/');
	struct scenario_key key;

	resultset_key_of(&r->info, &key);
	snprintf(cells[0], ENV_CELL, "%s", slash ? slash + 1 : r->dir);
	snprintf(cells[1], ENV_CELL, "%s", r->info.scenario);
	snprintf(cells[2], ENV_CELL, "%s", r->info.method);
	snprintf(cells[3], ENV_CELL, "%s", r->info.started);
	snprintf(cells[4], ENV_CELL, "%s", r->info.accel);
	snprintf(cells[5], ENV_CELL, "%s", r->info.qemu_version);
	snprintf(cells[6], ENV_CELL, "%s", r->info.libvirt_version);
	resultset_key_kernels(&key, cells[7], ENV_CELL);
	resultset_key_guest(&key, cells[8], ENV_CELL);
	booted_cell(&r->info, cells[9], ENV_CELL);
	snprintf(cells[10], ENV_CELL, "%s", r->info.host_kernel);
	duration_format((double)r->info.probe_interval_ns, cells[11], ENV_CELL);
}

/* What the summary's numbers mean: said under the table in both formats. */
static void resolution_note(const struct scenario_stats *m, size_t n, char *buf, size_t len)
{
	int64_t asked = 0, achieved = 0;
	char res[320], a[32], b[32];
	size_t i;

	for (i = 0; i < n; i++) {
		if (m[i].probe_interval_ns > asked)
			asked = m[i].probe_interval_ns;
		if (m[i].interval_median_ns > achieved)
			achieved = m[i].interval_median_ns;
	}
	duration_format((double)asked, a, sizeof(a));
	duration_format((double)achieved, b, sizeof(b));
	/* A run.json from before the achieved interval was recorded has only the asked one. */
	if (achieved)
		snprintf(res, sizeof(res),
			 "the interval the probe achieved (probe interval: the median of the "
			 "repetitions' median send intervals, up to %s here, and the worst "
			 "repetition's p99; asked: %s)",
			 b, a);
	else
		snprintf(res, sizeof(res),
			 "the probe interval (%s; the achieved one was not recorded)", a);
	snprintf(buf, len,
		 "One row per scenario, method, kernel pair, guest size and accelerator: only "
		 "runs that agree on all of them are pooled. \xc3\x97 %s: the downtime median "
		 "over that of the %s row with the same kernels and accelerator. "
		 "Downtime is the longest interval without a probe reply after the upgrade "
		 "started; its resolution is %s. Maintenance window: the method's window, from "
		 "the upgrade's real start to back in full (for %s: from the trigger, kernel "
		 "B's boot, to takeover_done). Unavailable: the sum of every silence longer "
		 "than %d probe intervals from the upgrade's real start to the end of the "
		 "repetition, over the measured repetitions whose run.json lists them; gaps "
		 "per repetition: how many silences that is. Capture: the repetitions whose "
		 "packet capture agreed with the probe's downtime (within one probe interval), "
		 "of those captured. Medians and p90 are quantiles by linear interpolation "
		 "(type 7); min and max are over the measured repetitions; verified counts "
		 "repetitions whose replies came from a new boot with the service's state "
		 "kept.",
		 RESULTSET_YARDSTICK, RESULTSET_YARDSTICK, res, RESULTSET_YARDSTICK,
		 PROBE_GAP_INTERVALS);
}

static void md_row(FILE *f, const char *const *cells, size_t n)
{
	size_t i;

	fputs("|", f);
	for (i = 0; i < n; i++) {
		char *c = markdown_cell(cells[i]);

		fprintf(f, " %s |", c ? c : "");
		free(c);
	}
	fputs("\n", f);
}

/* The cells of one handoff breakdown row (BREAKDOWN_COLS of them). */
#define BREAKDOWN_COLS 10
static const char *const breakdown_head[BREAKDOWN_COLS] = {
	"scenario",
	"rep",
	"handoff",
	"kernel A: ms per step (A's clock)",
	"A in all ms",
	"kernel B: ms per step (B's clock)",
	"B in all ms",
	"downtime (probe)",
	"B takes the rest of A: ms per step (B's clock)",
	"takeover in all ms",
};

static void breakdown_row(const struct resultset_run *r, const struct repetition *rep, int k,
			  char cells[BREAKDOWN_COLS][256])
{
	const struct handoff_breakdown *bd = &rep->breakdowns[k];
	int64_t down = k < rep->nrounds ? rep->rounds[k].downtime_ns : rep->downtime_ns;

	snprintf(cells[0], 256, "%s", r->info.scenario);
	snprintf(cells[1], 256, "%d", rep->index);
	snprintf(cells[2], 256, "%d", k + 1);
	breakdown_format(&bd->a, cells[3], 256);
	snprintf(cells[4], 256, "%.2f", (double)breakdown_total(&bd->a) / 1e6);
	breakdown_format(&bd->b, cells[5], 256);
	snprintf(cells[6], 256, "%.2f", (double)breakdown_total(&bd->b) / 1e6);
	stat_cell(cells[7], 256, rep->measured, (double)down);
	/* After the service is back: none when B did not say (an older agent). */
	breakdown_format(&bd->rest, cells[8], 256);
	if (bd->rest.nsteps)
		snprintf(cells[9], 256, "%.2f", (double)breakdown_total(&bd->rest) / 1e6);
	else
		cells[9][0] = '\0';
}

/* Call @row for each handoff breakdown in @set, in run and repetition order; how many. */
static int each_breakdown(const struct resultset *set,
			  void (*row)(void *ctx, bool first, const char *const *cells), void *ctx)
{
	int n = 0;

	for (size_t i = 0; i < set->nruns; i++)
		for (size_t k = 0; k < set->runs[i].nreps; k++) {
			const struct repetition *rep = &set->runs[i].reps[k];

			for (int b = 0; b < rep->nbreakdowns; b++) {
				char cells[BREAKDOWN_COLS][256];
				const char *ptr[BREAKDOWN_COLS];

				breakdown_row(&set->runs[i], rep, b, cells);
				for (int c = 0; c < BREAKDOWN_COLS; c++)
					ptr[c] = cells[c];
				row(ctx, n++ == 0, ptr);
			}
		}
	return n;
}

/*
 * A table of the report that is there only once it has a row: its
 * heading, a note and its head row come with the first.
 */
struct late_table_spec {
	const char *title, *md_note, *html_note;
	const char *id;	     /* the HTML table's */
	const char *md_rule; /* the Markdown row under the head: the columns' alignment */
	const char *const *head;
	int ncols;
};

struct late_table {
	const struct late_table_spec *spec;
	FILE *f;	/* Markdown */
	struct html *h; /* or HTML */
	xmlNodePtr table;
};

/* A row callback for each_breakdown(), each_gap_phase() and each_tool_stats(), in Markdown. */
static void md_late_row(void *ctx, bool first, const char *const *cells)
{
	struct late_table *t = ctx;

	if (first) {
		fprintf(t->f, "#### %s\n\n%s\n\n", t->spec->title, t->spec->md_note);
		md_row(t->f, t->spec->head, t->spec->ncols);
		fprintf(t->f, "%s\n", t->spec->md_rule);
	}
	md_row(t->f, cells, t->spec->ncols);
}

/*
 * Where each twin handoff's time went, from its agents' stamps: kernel A's
 * steps on A's clock, B's on B's.  The probe's gap also holds the time
 * between A's "ready" and B's "seen" (B's look at the region) and the
 * network's: neither kernel can stamp those.
 */
static const struct late_table_spec breakdown_table = {
	.title = "Handoff breakdown",
	.md_note = "Each kernel's steps on its own clock; the probe's downtime also holds B's "
		   "look at the region and the network. Then, with the service back, B's "
		   "takeover of A's CPUs, memory and console.",
	.html_note = "Each kernel's steps on its own clock, in ms since the step before; the "
		     "probe's downtime also holds B's look at the region and the network. Then, "
		     "with the service back, B's takeover of A's CPUs, memory and console.",
	.id = "breakdown",
	.md_rule = "|---|---:|---:|---|---:|---|---:|---:|---|---:|",
	.head = breakdown_head,
	.ncols = BREAKDOWN_COLS,
};

static void md_breakdowns(FILE *f, const struct resultset *set)
{
	struct late_table t = { .spec = &breakdown_table, .f = f };

	if (each_breakdown(set, md_late_row, &t))
		fputs("\n", f);
}

/* The cells of one row of a tool's own figures (TOOL_COLS of them). */
#define TOOL_COLS 4
static const char *const tool_head[TOOL_COLS] = { "scenario", "rep", "tool",
						  "its own figures, in its units" };
#define TOOL_FIGURES_NOTE                                                                      \
	"What the method's tools measured themselves, as they name it (CRIU's stats-dump and "   \
	"stats-restore images: times in microseconds, pages counted; libvirt's completed "      \
	"migration job: times in milliseconds, memory in bytes, downtime the time the guest's " \
	"vCPUs were paused; the agents' steps of the k-th move of a service, move-K-out the "   \
	"holder's and move-K-in the taker's: nanoseconds from the first step, on each guest's " \
	"own clock), beside the probe's downtime and phases."

/* Call @row for each tool's figures in @set, in run and repetition order; how many. */
static int each_tool_stats(const struct resultset *set,
			   void (*row)(void *ctx, bool first, const char *const *cells), void *ctx)
{
	int n = 0;

	for (size_t i = 0; i < set->nruns; i++)
		for (size_t k = 0; k < set->runs[i].nreps; k++) {
			const struct repetition *rep = &set->runs[i].reps[k];

			for (int t = 0; t < rep->ntool_stats; t++) {
				char index[16], figures[1024];
				const char *cells[TOOL_COLS] = { set->runs[i].info.scenario, index,
								 rep->tool_stats[t].name, figures };

				snprintf(index, sizeof(index), "%d", rep->index);
				toolstats_format(&rep->tool_stats[t], figures, sizeof(figures));
				row(ctx, n++ == 0, cells);
			}
		}
	return n;
}

static const struct late_table_spec tool_table = {
	.title = "The tools' own figures",
	.md_note = TOOL_FIGURES_NOTE,
	.html_note = TOOL_FIGURES_NOTE,
	.id = "tool-stats",
	.md_rule = "|---|---:|---|---|",
	.head = tool_head,
	.ncols = TOOL_COLS,
};

static void md_tool_stats(FILE *f, const struct resultset *set)
{
	struct late_table t = { .spec = &tool_table, .f = f };

	if (each_tool_stats(set, md_late_row, &t))
		fputs("\n", f);
}

/*
 * The gaps beside the downtime, by the phase each started in (GAP_PHASE_COLS
 * cells a row): an upgrade's side effects, which its downtime does not show.
 */
#define GAP_PHASE_COLS 6
static const char *const gap_phase_head[GAP_PHASE_COLS] = {
	"scenario", "phase", "gaps", "repetitions with one", "longest per repetition (rep: ms)",
	"longest ms",
};
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define GAP_PHASE_NOTE                                                                         \
	"Every silence longer than " STRINGIFY(PROBE_GAP_INTERVALS) " probe intervals but the " \
	"downtime (each handoff's, in a chain), from the upgrade's real start to the end of "   \
	"the repetition, by the phase it started in (the last one marked at or before its "     \
	"start): how many over the repetitions that list their gaps, in how many of those, "    \
	"and each one's longest. A twin handoff's gaps while kernel B boots are those in "      \
	"trigger, cpu_handed and b_first_line; those once the service is back, while B takes "  \
	"the rest of A, are those after the downtime up to takeover_done. The quiet row, "      \
	"first, is the method's quiet window just before the upgrade: the service alone, "      \
	"nothing else running, what this host does to it on its own (its gaps are in none "     \
	"of the other rows); read the rest against it."

/* Mark in @down which of @rep's listed gaps are its downtime, or each round's in a chain. */
static void mark_downtimes(const struct repetition *rep, bool down[RESULTS_MAX_GAPS])
{
	int64_t want[RESULTS_MAX_ROUNDS + 1];
	int nwant = 0, ngaps = rep->ngaps < RESULTS_MAX_GAPS ? rep->ngaps : RESULTS_MAX_GAPS;

	/* A chain's downtime is the longest of its rounds': the rounds say it all. */
	for (int k = 0; k < rep->nrounds && k < RESULTS_MAX_ROUNDS; k++)
		if (rep->rounds[k].measured)
			want[nwant++] = rep->rounds[k].downtime_ns;
	if (!rep->nrounds && rep->measured)
		want[nwant++] = rep->downtime_ns;
	for (int i = 0; i < RESULTS_MAX_GAPS; i++)
		down[i] = false;
	for (int w = 0; w < nwant; w++)
		for (int i = 0; i < ngaps; i++)
			if (!down[i] && rep->gaps[i].end_ns - rep->gaps[i].start_ns == want[w]) {
				down[i] = true;
				break;
			}
}

#define GAP_LABEL_MAX 64
#define AFTER_DOWNTIME ", after the downtime"

/*
 * The row gap @i of @rep counts in: the phase it started in, and in the
 * downtime's own phase, whether it came after the downtime (the phases
 * are marked as the runner sees them, so the downtime's may go on after it).
 */
static void gap_label(const struct repetition *rep, int i, const bool *down, char *buf,
		      size_t len)
{
	const struct rep_gap *g = &rep->gaps[i];
	const char *phase = g->phase[0] ? g->phase : "?";
	int ngaps = rep->ngaps < RESULTS_MAX_GAPS ? rep->ngaps : RESULTS_MAX_GAPS;

	for (int j = 0; j < ngaps; j++)
		if (down[j] && !strcmp(rep->gaps[j].phase, g->phase) &&
		    g->start_ns >= rep->gaps[j].end_ns) {
			snprintf(buf, len, "%s" AFTER_DOWNTIME, phase);
			return;
		}
	snprintf(buf, len, "%s", phase);
}

/* Add @name to @names (of *@n, room for @max) unless it is there. */
static void add_name(char (*names)[GAP_LABEL_MAX], size_t *n, size_t max, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(names[i], name))
			return;
	if (*n < max)
		snprintf(names[(*n)++], GAP_LABEL_MAX, "%s", name);
}

/* One row of the gap table as its repetitions fill it (gap_tally_add()). */
struct gap_tally {
	int total, with, known; /* gaps; repetitions with one; repetitions counted */
	int64_t longest;	/* the longest of all */
	size_t used;		/* of the per-repetition list, cells[4] */
};

/* Count a repetition: @count gaps in it (0: none), the longest @longest. */
static void gap_tally_add(struct gap_tally *t, char cells[GAP_PHASE_COLS][1024], int index,
			  int count, int64_t longest)
{
	if (!t->known++)
		cells[4][0] = '\0';
	if (!count)
		return;
	t->total += count;
	t->with++;
	if (longest > t->longest)
		t->longest = longest;
	if (t->used < 1024)
		t->used += (size_t)snprintf(cells[4] + t->used, 1024 - t->used, "%s%d: %.1f",
					    t->used ? ", " : "", index, (double)longest / 1e6);
}

/* The rest of the row: run @r, the row's @name, and the tally's figures ("-" for none). */
static void gap_tally_cells(const struct gap_tally *t, const struct resultset_run *r,
			    const char *name, char cells[GAP_PHASE_COLS][1024])
{
	snprintf(cells[0], 1024, "%s", r->info.scenario);
	snprintf(cells[1], 1024, "%s", name);
	snprintf(cells[2], 1024, "%d", t->total);
	snprintf(cells[3], 1024, "%d/%d", t->with, t->known);
	snprintf(cells[5], 1024, "%.1f", (double)t->longest / 1e6);
	if (!t->total) {
		snprintf(cells[4], 1024, "-");
		snprintf(cells[5], 1024, "-");
	}
}

/* One row of run @r's gaps labelled @name; false if it had none. */
static bool gap_phase_row(const struct resultset_run *r, const char *name,
			  char cells[GAP_PHASE_COLS][1024])
{
	struct gap_tally t = { 0 };

	for (size_t k = 0; k < r->nreps; k++) {
		const struct repetition *rep = &r->reps[k];
		int ngaps = rep->ngaps < RESULTS_MAX_GAPS ? rep->ngaps : RESULTS_MAX_GAPS, count = 0;
		bool down[RESULTS_MAX_GAPS];
		int64_t longest = 0;

		if (!resultset_gaps_known(rep))
			continue;
		mark_downtimes(rep, down);
		for (int i = 0; i < ngaps; i++) {
			int64_t len = rep->gaps[i].end_ns - rep->gaps[i].start_ns;
			char label[GAP_LABEL_MAX];

			if (down[i])
				continue;
			gap_label(rep, i, down, label, sizeof(label));
			if (strcmp(label, name))
				continue;
			count++;
			if (len > longest)
				longest = len;
		}
		gap_tally_add(&t, cells, rep->index, count, longest);
	}
	if (!t.total)
		return false;
	gap_tally_cells(&t, r, name, cells);
	return true;
}

/*
 * The quiet row of run @r: its repetitions' quiet windows, even without a
 * gap (none is a finding too); false if no repetition had one.
 */
static bool quiet_row(const struct resultset_run *r, char cells[GAP_PHASE_COLS][1024])
{
	struct gap_tally t = { 0 };
	int64_t window = 0;
	char name[64];

	for (size_t k = 0; k < r->nreps; k++) {
		const struct repetition *rep = &r->reps[k];

		if (!rep->quiet_ns)
			continue;
		window = rep->quiet_ns;
		gap_tally_add(&t, cells, rep->index, rep->quiet_gaps, rep->quiet_longest_ns);
	}
	if (!t.known)
		return false;
	snprintf(name, sizeof(name), "quiet (%g s, the service alone)", (double)window / NS_PER_S);
	gap_tally_cells(&t, r, name, cells);
	return true;
}

/*
 * Call @row for each phase of each run in @set that holds a gap other than
 * the downtime, after the run's quiet row if it has one: the phases in the
 * order the repetitions marked them (each followed by its part after the
 * downtime), then any other a gap names.  How many rows.
 */
static int each_gap_phase(const struct resultset *set,
			  void (*row)(void *ctx, bool first, const char *const *cells), void *ctx)
{
	enum { MAX_NAMES = 2 * RESULTS_MAX_PHASES + RESULTS_MAX_GAPS };
	static char names[MAX_NAMES][GAP_LABEL_MAX];
	int n = 0;

	for (size_t i = 0; i < set->nruns; i++) {
		const struct resultset_run *r = &set->runs[i];
		size_t nn = 0;
		char qcells[GAP_PHASE_COLS][1024];

		if (quiet_row(r, qcells)) {
			const char *ptr[GAP_PHASE_COLS];

			for (int c = 0; c < GAP_PHASE_COLS; c++)
				ptr[c] = qcells[c];
			row(ctx, n++ == 0, ptr);
		}
		for (size_t k = 0; k < r->nreps; k++)
			for (int p = 0; p < r->reps[k].nphases && p < RESULTS_MAX_PHASES; p++) {
				char after[GAP_LABEL_MAX];

				add_name(names, &nn, MAX_NAMES, r->reps[k].phases[p].name);
				snprintf(after, sizeof(after), "%s" AFTER_DOWNTIME,
					 r->reps[k].phases[p].name);
				add_name(names, &nn, MAX_NAMES, after);
			}
		for (size_t k = 0; k < r->nreps; k++) {
			const struct repetition *rep = &r->reps[k];
			bool down[RESULTS_MAX_GAPS];

			mark_downtimes(rep, down);
			for (int g = 0; g < rep->ngaps && g < RESULTS_MAX_GAPS; g++) {
				char label[GAP_LABEL_MAX];

				gap_label(rep, g, down, label, sizeof(label));
				add_name(names, &nn, MAX_NAMES, label);
			}
		}
		for (size_t p = 0; p < nn; p++) {
			char cells[GAP_PHASE_COLS][1024];
			const char *ptr[GAP_PHASE_COLS];

			if (!gap_phase_row(r, names[p], cells))
				continue;
			for (int c = 0; c < GAP_PHASE_COLS; c++)
				ptr[c] = cells[c];
			row(ctx, n++ == 0, ptr);
		}
	}
	return n;
}

static const struct late_table_spec gap_phase_table = {
	.title = "Gaps beside the downtime, by phase",
	.md_note = GAP_PHASE_NOTE,
	.html_note = GAP_PHASE_NOTE,
	.id = "gap-phases",
	.md_rule = "|---|---|---:|---:|---|---:|",
	.head = gap_phase_head,
	.ncols = GAP_PHASE_COLS,
};

static void md_gap_phases(FILE *f, const struct resultset *set)
{
	struct late_table t = { .spec = &gap_phase_table, .f = f };

	if (each_gap_phase(set, md_late_row, &t))
		fputs("\n", f);
}

static int write_md(const struct resultset *set, const struct scenario_stats *m, size_t nm,
		    const char *out, struct tb_err *err)
{
	struct footnotes fn = {calloc(nm ? nm : 1, sizeof(*fn.text)), 0};
	char path[PATH_MAX], note[2048];
	struct atomic_file af;
	size_t i, c;
	FILE *f;

	if (!fn.text)
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	snprintf(path, sizeof(path), "%s/report.md", out);
	if (atomic_open(&af, path, err)) {
		free(fn.text);
		return -1;
	}
	f = af.f;
	fputs("### twinbench: downtime per scenario\n\n", f);
	md_row(f, summary_head, SUMMARY_COLS);
	fputs("|---|", f);
	for (c = 1; c < SUMMARY_COLS; c++)
		fputs(c < SUMMARY_NUMERIC ? "---:|" : "---|", f);
	fputs("\n", f);
	for (i = 0; i < nm; i++) {
		char cells[SUMMARY_COLS][SUMMARY_CELL];
		const char *ptr[SUMMARY_COLS];

		summary_row(m, nm, i, &fn, cells);
		for (c = 0; c < SUMMARY_COLS; c++)
			ptr[c] = cells[c];
		md_row(f, ptr, SUMMARY_COLS);
	}
	fputs("\n", f);
	for (i = 0; i < fn.n; i++) {
		char *text = markdown_cell(fn.text[i]);

		fprintf(f, "[%zu] %s  \n", i + 1, text ? text : "");
		free(text);
	}
	free(fn.text);
	resolution_note(m, nm, note, sizeof(note));
	fprintf(f, "%s%s\n\n", fn.n ? "\n" : "", note);
	md_breakdowns(f, set);
	md_gap_phases(f, set);
	md_tool_stats(f, set);
	fputs("#### Environment\n\n", f);
	md_row(f, env_head, ENV_COLS);
	for (c = 0; c < ENV_COLS; c++)
		fputs(c ? "---|" : "|---|", f);
	fputs("\n", f);
	for (i = 0; i < set->nruns; i++) {
		char cells[ENV_COLS][ENV_CELL];
		const char *ptr[ENV_COLS];

		env_row(&set->runs[i], cells);
		for (c = 0; c < ENV_COLS; c++)
			ptr[c] = cells[c];
		md_row(f, ptr, ENV_COLS);
	}
	fputs("\nPlots (downtime, probe round trips, a timeline per repetition): "
	      "`report.html`; every repetition: `summary.csv`.\n",
	      f);
	return atomic_commit(&af, ferror(f) != 0, err);
}

/* ---- HTML -------------------------------------------------------------- */

struct html {
	xmlDocPtr doc;
	xmlNsPtr ns;
	xmlNodePtr body;
	int nsvg; /* SVGs inlined so far: their ids get a per-plot prefix */
};

static xmlNodePtr el(struct html *h, xmlNodePtr parent, const char *name, const char *text)
{
	return xmlNewTextChild(parent, h->ns, BAD_CAST name, text ? BAD_CAST text : NULL);
}

static void attr(xmlNodePtr n, const char *name, const char *value)
{
	xmlNewProp(n, BAD_CAST name, BAD_CAST value);
}

static void table_row(struct html *h, xmlNodePtr table, const char *const *cells, size_t n,
		      bool head)
{
	xmlNodePtr tr = el(h, table, "tr", NULL);
	size_t i;

	for (i = 0; i < n; i++)
		el(h, tr, head ? "th" : "td", cells[i]);
}

/* The ids given out in one SVG so far: gnuplot repeats some (an opaque key is drawn twice). */
struct id_set {
	char **ids;
	size_t n;
};

static bool id_seen(struct id_set *set, const char *id)
{
	char **more;
	size_t i;

	for (i = 0; i < set->n; i++)
		if (!strcmp(set->ids[i], id))
			return true;
	more = realloc(set->ids, (set->n + 1) * sizeof(*more));
	if (!more)
		return false;
	set->ids = more;
	set->ids[set->n] = strdup(id);
	if (set->ids[set->n])
		set->n++;
	return false;
}

/*
 * Make the ids of an inlined SVG unique in the page: gnuplot gives every
 * SVG the same ones (gpPt0, gnuplot_canvas...), and a reference would
 * otherwise resolve into the first plot.  Rewrites id="X", href="#X" and
 * url(#X) into the prefixed id; a repeated id also gets a counter (the
 * references keep pointing at the first, as they did).
 */
static void prefix_ids(xmlNodePtr n, const char *prefix, struct id_set *seen)
{
	for (; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		for (xmlAttrPtr a = n->properties; a; a = a->next) {
			xmlChar *v = xmlNodeGetContent((xmlNodePtr)a);
			const char *name = (const char *)a->name;
			char *nv = NULL;
			const char *url;

			if (!v)
				continue;
			if (!strcmp(name, "id")) {
				if (asprintf(&nv, "%s%s", prefix, (char *)v) < 0)
					nv = NULL;
				for (int k = 2; nv && id_seen(seen, nv); k++) {
					free(nv);
					if (asprintf(&nv, "%s%s-%d", prefix, (char *)v, k) < 0)
						nv = NULL;
				}
			} else if (!strcmp(name, "href") && v[0] == '#') {
				if (asprintf(&nv, "#%s%s", prefix, (char *)v + 1) < 0)
					nv = NULL;
			} else if ((url = strstr((char *)v, "url(#"))) {
				if (asprintf(&nv, "%.*surl(#%s%s", (int)(url - (char *)v),
					     (char *)v, prefix, url + 5) < 0)
					nv = NULL;
			}
			if (nv)
				xmlSetNsProp(n, a->ns, a->name, BAD_CAST nv);
			free(nv);
			xmlFree(v);
		}
		prefix_ids(n->children, prefix, seen);
	}
}

/* Graft the SVG at @path into @parent, titled @title. */
static int inline_svg(struct html *h, xmlNodePtr parent, const char *path, const char *title,
		      struct tb_err *err)
{
	xmlDocPtr svg = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
	struct id_set seen = {0};
	xmlNodePtr root, copy, c;
	char prefix[32];

	if (!svg)
		return tb_err_set(err, TB_EXIT_ENV, "%s: gnuplot wrote an SVG that does not parse",
				  path);
	root = xmlDocGetRootElement(svg);
	if (!root || strcmp((const char *)root->name, "svg")) {
		xmlFreeDoc(svg);
		return tb_err_set(err, TB_EXIT_ENV, "%s: not an SVG", path);
	}
	snprintf(prefix, sizeof(prefix), "p%d-", ++h->nsvg);
	prefix_ids(root, prefix, &seen);
	for (size_t i = 0; i < seen.n; i++)
		free(seen.ids[i]);
	free(seen.ids);
	/* gnuplot's <title> says "Gnuplot": say what the plot is instead. */
	for (c = root->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, "title")) {
			xmlChar *esc = xmlEncodeSpecialChars(svg, BAD_CAST title);

			xmlNodeSetContent(c, esc);
			xmlFree(esc);
			break;
		}
	xmlSetProp(root, BAD_CAST "role", BAD_CAST "img");
	xmlSetProp(root, BAD_CAST "aria-label", BAD_CAST title);
	copy = xmlDocCopyNode(root, h->doc, 1);
	xmlFreeDoc(svg);
	if (!copy || !xmlAddChild(parent, copy)) {
		xmlFreeNode(copy);
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	}
	return 0;
}

static const char css[] =
    "body{font-family:sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}"
    "table{border-collapse:collapse;margin:0.5em 0 1em}"
    "th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}"
    "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
    "table.env td{text-align:left}figure{margin:1em 0 2em}"
    "figcaption{color:#555;font-size:0.9em}svg{width:100%;height:auto}"
    "p.note{color:#444;font-size:0.9em;max-width:60em}"
    "table.gaps caption{color:#555;font-size:0.9em;text-align:left}";

/* One figure in the body: the SVG at @svg inlined, and its caption; *@node it, if asked. */
static int figure(struct html *h, const char *svg, const char *title, const char *caption,
		  const char *id, xmlNodePtr *node, struct tb_err *err)
{
	xmlNodePtr fig = el(h, h->body, "figure", NULL);

	attr(fig, "id", id);
	if (inline_svg(h, fig, svg, title, err))
		return -1;
	el(h, fig, "figcaption", caption);
	if (node)
		*node = fig;
	return 0;
}

/* File names made from scenario names: keep [A-Za-z0-9._-]. */
static void safe_name(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	for (; *src && o + 1 < len; src++)
		dst[o++] = (strchr("._-", *src) || (*src >= '0' && *src <= '9') ||
			    (*src >= 'a' && *src <= 'z') || (*src >= 'A' && *src <= 'Z'))
			       ? *src
			       : '_';
	dst[o] = '\0';
}

/* Paths of one plot's files under @out/plots. */
static void plot_paths(const char *out, const char *stem, const struct report_opts *opts,
		       const char *png_term, char *svg, char *png, size_t len, struct plot_out *po,
		       const char *title)
{
	snprintf(svg, len, "%s/plots/%s.svg", out, stem);
	snprintf(png, len, "%s/plots/%s.png", out, stem);
	*po = (struct plot_out){
	    .svg = svg, .png = opts->png ? png : NULL, .png_term = png_term, .title = title};
}

/* The summary table per scenario, its note, and the environment of every run. */
static int html_summary(struct html *h, const struct resultset *set, const struct scenario_stats *m,
			size_t nm, struct tb_err *err)
{
	struct footnotes fn = {calloc(nm ? nm : 1, sizeof(*fn.text)), 0};
	xmlNodePtr table, p;
	char note[2048];
	size_t i, c;

	if (!fn.text)
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	el(h, h->body, "h2", "Summary per scenario");
	table = el(h, h->body, "table", NULL);
	attr(table, "id", "summary");
	table_row(h, table, summary_head, SUMMARY_COLS, true);
	for (i = 0; i < nm; i++) {
		char cells[SUMMARY_COLS][SUMMARY_CELL];
		const char *ptr[SUMMARY_COLS];

		summary_row(m, nm, i, &fn, cells);
		for (c = 0; c < SUMMARY_COLS; c++)
			ptr[c] = cells[c];
		table_row(h, table, ptr, SUMMARY_COLS, false);
	}
	for (i = 0; i < fn.n; i++) {
		char text[sizeof(fn.text[i]) + 16];

		snprintf(text, sizeof(text), "[%zu] %s", i + 1, fn.text[i]);
		p = el(h, h->body, "p", text);
		attr(p, "class", "note");
	}
	free(fn.text);
	resolution_note(m, nm, note, sizeof(note));
	p = el(h, h->body, "p", note);
	attr(p, "class", "note");

	el(h, h->body, "h2", "Environment");
	table = el(h, h->body, "table", NULL);
	attr(table, "class", "env");
	attr(table, "id", "environment");
	table_row(h, table, env_head, ENV_COLS, true);
	for (i = 0; i < set->nruns; i++) {
		char cells[ENV_COLS][ENV_CELL];
		const char *ptr[ENV_COLS];

		env_row(&set->runs[i], cells);
		for (c = 0; c < ENV_COLS; c++)
			ptr[c] = cells[c];
		table_row(h, table, ptr, ENV_COLS, false);
	}
	return 0;
}

/* What the capture said of one repetition: "agrees (29.3 ms)", its note, or an em dash. */
static void rep_capture_cell(const struct repetition *rep, char *buf, size_t len)
{
	char d[32];

	if (!rep->captured) {
		snprintf(buf, len, "%s", rep->capture_note[0] ? rep->capture_note : "\xe2\x80\x94");
		return;
	}
	duration_format((double)rep->capture_downtime_ns, d, sizeof(d));
	snprintf(buf, len, "%s (%s)%s%s", rep->capture_agrees ? "agrees" : "DISAGREES", d,
		 rep->capture_note[0] ? ": " : "", rep->capture_note);
}

static void html_repetitions(struct html *h, const struct resultset *set)
{
	static const char *const head[] = {
	    "scenario",	   "rep",	  "verified", "downtime",
	    "maintenance", "unavailable", "gaps",     "probe interval (median, p99)",
	    "capture",	   "probes sent", "lost",     "error"};
	xmlNodePtr table;
	size_t i, k;

	el(h, h->body, "h2", "Repetitions");
	table = el(h, h->body, "table", NULL);
	attr(table, "id", "repetitions");
	table_row(h, table, head, sizeof(head) / sizeof(head[0]), true);
	for (i = 0; i < set->nruns; i++)
		for (k = 0; k < set->runs[i].nreps; k++) {
			const struct repetition *rep = &set->runs[i].reps[k];
			bool known = resultset_gaps_known(rep);
			char idx[16], down[32], maint[32], unav[32], gaps[16], interval[80],
			    capture[320], sent[24], lost[24];
			const char *cells[] = {set->runs[i].info.scenario,
					       idx,
					       rep->verified ? "yes" : "no",
					       down,
					       maint,
					       unav,
					       gaps,
					       interval,
					       capture,
					       sent,
					       lost,
					       rep->error[0] ? rep->error : ""};

			snprintf(idx, sizeof(idx), "%d", rep->index);
			stat_cell(down, sizeof(down), rep->measured, (double)rep->downtime_ns);
			stat_cell(maint, sizeof(maint), rep->maintenance_ns > 0,
				  (double)rep->maintenance_ns);
			stat_cell(unav, sizeof(unav), known, (double)rep->unavailable_ns);
			if (known)
				snprintf(gaps, sizeof(gaps), "%d", rep->gaps_found);
			else
				snprintf(gaps, sizeof(gaps), "\xe2\x80\x94");
			interval_cell(rep->interval_median_ns, rep->interval_p99_ns, interval,
				      sizeof(interval));
			rep_capture_cell(rep, capture, sizeof(capture));
			snprintf(sent, sizeof(sent), "%" PRIu64, rep->sent);
			snprintf(lost, sizeof(lost), "%" PRIu64, rep->lost);
			table_row(h, table, cells, sizeof(cells) / sizeof(cells[0]), false);
		}
}

/* A row callback for each_breakdown(), each_gap_phase() and each_tool_stats(), in HTML. */
static void html_late_row(void *ctx, bool first, const char *const *cells)
{
	struct late_table *t = ctx;

	if (first) {
		el(t->h, t->h->body, "h2", t->spec->title);
		el(t->h, t->h->body, "p", t->spec->html_note);
		t->table = el(t->h, t->h->body, "table", NULL);
		attr(t->table, "id", t->spec->id);
		table_row(t->h, t->table, t->spec->head, t->spec->ncols, true);
	}
	table_row(t->h, t->table, cells, t->spec->ncols, false);
}

static void html_breakdowns(struct html *h, const struct resultset *set)
{
	struct late_table t = { .spec = &breakdown_table, .h = h };

	each_breakdown(set, html_late_row, &t);
}

static void html_gap_phases(struct html *h, const struct resultset *set)
{
	struct late_table t = { .spec = &gap_phase_table, .h = h };

	each_gap_phase(set, html_late_row, &t);
}

static void html_tool_stats(struct html *h, const struct resultset *set)
{
	struct late_table t = { .spec = &tool_table, .h = h };

	each_tool_stats(set, html_late_row, &t);
}

/* A gap as a timeline shades it and lists it. */
struct shown_gap {
	int64_t start_ns, end_ns;
	bool open;	   /* no reply came again before the repetition ended */
	const char *phase; /* the phase it fell in; "" if not known */
};

/*
 * The gaps of @rep to show: run.json's list when it has one (from the
 * upgrade's real start, with their phases), else, for a run.json written
 * before the list, those found in its probe replies @rp.  *@listed says
 * which.  A malloc'd array in *@out, of *@n; 0, or -1 when out of memory.
 */
static int rep_gaps(const struct repetition *rep, const struct trace_stamps *rp,
		    int64_t interval_ns, struct shown_gap **out, size_t *n, bool *listed)
{
	struct trace_gap *found = NULL;
	size_t i, count = 0;

	*out = NULL;
	*n = 0;
	*listed = resultset_gaps_known(rep);
	if (*listed)
		count = rep->ngaps > 0 ? (size_t)rep->ngaps : 0;
	else if (trace_find_gaps(rp, interval_ns, &found, &count))
		return -1;
	/* results_load() lists at most RESULTS_MAX_GAPS. */
	if (*listed && count > RESULTS_MAX_GAPS)
		count = RESULTS_MAX_GAPS;
	*out = calloc(count ? count : 1, sizeof(**out));
	if (!*out) {
		free(found);
		return -1;
	}
	for (i = 0; i < count; i++) {
		struct shown_gap *g = &(*out)[i];

		if (*listed)
			*g = (struct shown_gap){rep->gaps[i].start_ns, rep->gaps[i].end_ns,
						rep->gaps[i].open, rep->gaps[i].phase};
		else
			*g = (struct shown_gap){found[i].start_ns, found[i].end_ns, false, ""};
	}
	free(found);
	*n = count;
	return 0;
}

/*
 * Under a repetition's timeline, in @parent: every gap it shades, with its
 * start (t from the timeline's origin), length and phase, which is the
 * downtime's (@tl's gap) and which never closed.
 */
static void html_gap_list(struct html *h, xmlNodePtr parent, const struct repetition *rep,
			  const struct shown_gap *g, size_t n, bool listed,
			  const struct plot_timeline *tl)
{
	static const char *const head[] = {"gap", "start", "length", "phase", ""};
	const char *origin = tl->origin_name ? tl->origin_name : "the first phase";
	char text[512], unav[32], more[96] = "";
	xmlNodePtr table, p;
	size_t i;

	if (!n) {
		snprintf(text, sizeof(text),
			 listed ? "No silence longer than %d probe intervals from the upgrade's "
				  "real start to the end of the repetition."
				: "No silence longer than %d probe intervals in probe.csv.",
			 PROBE_GAP_INTERVALS);
		p = el(h, parent, "p", text);
		attr(p, "class", "note");
		return;
	}
	if (listed) {
		duration_format((double)rep->unavailable_ns, unav, sizeof(unav));
		if ((size_t)rep->gaps_found > n)
			snprintf(more, sizeof(more), "; the first %zu of %d listed", n,
				 rep->gaps_found);
		snprintf(text, sizeof(text),
			 "Unavailable %s in %d gap%s: every silence longer than %d probe intervals "
			 "from the upgrade's real start to the end of the repetition%s. Start: t "
			 "from %s.",
			 unav, rep->gaps_found, rep->gaps_found == 1 ? "" : "s",
			 PROBE_GAP_INTERVALS, more, origin);
	} else {
		snprintf(text, sizeof(text),
			 "Silences longer than %d probe intervals, found in probe.csv: this "
			 "run.json predates the list of gaps (no phases, no unavailable time). "
			 "Start: t from %s.",
			 PROBE_GAP_INTERVALS, origin);
	}
	table = el(h, parent, "table", NULL);
	attr(table, "class", "gaps");
	el(h, table, "caption", text);
	table_row(h, table, head, sizeof(head) / sizeof(head[0]), true);
	for (i = 0; i < n; i++) {
		char idx[16], start[32], len[32];
		const char *cells[] = {idx, start, len, g[i].phase[0] ? g[i].phase : "?", ""};

		snprintf(idx, sizeof(idx), "%zu", i + 1);
		snprintf(start, sizeof(start), "%+.3f s",
			 (double)(g[i].start_ns - tl->origin_ns) / NS_PER_S);
		duration_format((double)(g[i].end_ns - g[i].start_ns), len, sizeof(len));
		if (g[i].open)
			cells[4] = "open: no reply before the repetition ended";
		else if (tl->has_gap && g[i].start_ns == tl->gap_start_ns &&
			 g[i].end_ns == tl->gap_end_ns)
			cells[4] = "the downtime";
		table_row(h, table, cells, sizeof(cells) / sizeof(cells[0]), false);
	}
}

/* The timelines of one run's repetitions: a figure each. */
static int html_timelines(struct html *h, const struct resultset_run *r, size_t run_no,
			  const struct run_trace *tr, const char *out,
			  const struct report_opts *opts, const char *png_term, struct tb_err *err)
{
	struct plot_phase phases[RESULTS_MAX_PHASES];
	size_t k;

	for (k = 0; k < r->nreps; k++) {
		const struct repetition *rep = &r->reps[k];
		int64_t from = trace_first_phase(rep), to = INT64_MAX, origin;
		const char *origin_name;
		char svg[PATH_MAX], png[PATH_MAX], stem[200], name[160], title[512], caption[1400],
		    id[64], down[32];
		struct plot_timeline tl = {0};
		const struct trace_stamps *rp = &tr->reps[k].replies;
		struct shown_gap *gaps;
		struct plot_gap *pgaps;
		struct plot_out po;
		xmlNodePtr fig;
		size_t c, lo, hi, ngaps;
		bool listed;
		int i, rc;

		/* A repetition's console lines: from its first phase to the next's. */
		if (k + 1 < r->nreps)
			to = trace_first_phase(&r->reps[k + 1]);
		for (i = 0; i < rep->nphases && i < RESULTS_MAX_PHASES; i++)
			phases[i] = (struct plot_phase){
			    .name = rep->phases[i].name,
			    .t_ns = rep->phases[i].t_ns,
			    /* Kernel B's phases are named b_*; everything else is A's side. */
			    .lane =
				strncmp(rep->phases[i].name, "b_", 2) ? PLOT_LANE_A : PLOT_LANE_B,
			};
		origin = trace_origin(rep, &origin_name);
		tl.origin_ns = origin;
		tl.origin_name = origin_name;
		tl.phases = phases;
		tl.nphases = (size_t)(rep->nphases > 0 ? rep->nphases : 0);
		for (c = 0; c < 2; c++) {
			lo = from == INT64_MAX ? 0 : trace_lower_bound(&tr->lines[c], from);
			tl.lines[c] = tr->lines[c].v ? tr->lines[c].v + lo : NULL;
			hi =
			    to == INT64_MAX ? tr->lines[c].n : trace_lower_bound(&tr->lines[c], to);
			tl.nlines[c] = hi - lo;
		}
		tl.replies = rp->v;
		tl.nreplies = rp->n;
		tl.probe_interval_ns = r->info.probe_interval_ns;
		tl.has_gap = trace_find_gap(rep, rp, origin, &tl.gap_start_ns, &tl.gap_end_ns);
		if (rep_gaps(rep, rp, r->info.probe_interval_ns, &gaps, &ngaps, &listed))
			return tb_err_set(err, TB_EXIT_ENV, "out of memory");
		pgaps = calloc(ngaps ? ngaps : 1, sizeof(*pgaps));
		if (!pgaps) {
			free(gaps);
			return tb_err_set(err, TB_EXIT_ENV, "out of memory");
		}
		for (c = 0; c < ngaps; c++) {
			pgaps[c] = (struct plot_gap){gaps[c].start_ns, gaps[c].end_ns};
			/* Without probe.csv, run.json's list still says which was the downtime. */
			if (!tl.has_gap && listed && rep->measured && !gaps[c].open &&
			    gaps[c].end_ns - gaps[c].start_ns == rep->downtime_ns) {
				tl.has_gap = true;
				tl.gap_start_ns = gaps[c].start_ns;
				tl.gap_end_ns = gaps[c].end_ns;
			}
		}
		tl.gaps = pgaps;
		tl.ngaps = ngaps;

		safe_name(name, sizeof(name), r->info.scenario);
		snprintf(stem, sizeof(stem), "timeline-%zu-%s-rep%d", run_no, name, rep->index);
		stat_cell(down, sizeof(down), rep->measured, (double)rep->downtime_ns);
		snprintf(title, sizeof(title), "%s (%s), repetition %d: downtime %s, %s",
			 r->info.scenario, r->info.method, rep->index, down,
			 rep->verified ? "verified" : "NOT verified");
		plot_paths(out, stem, opts, png_term, svg, png, sizeof(svg), &po, title);
		rc = plot_timeline(&tl, &po, err);
		free(pgaps);
		if (rc) {
			free(gaps);
			return -1;
		}
		snprintf(caption, sizeof(caption),
			 "Phases on the lane of the console they belong to (phases named b_* are "
			 "kernel B's), console lines as ticks, probe replies as the green bar; the "
			 "red interval is the probe's gap (the downtime), orange ones every other "
			 "time without a reply for more than %d probe intervals%s. t = 0 is %s. "
			 "%s%s",
			 PROBE_GAP_INTERVALS, listed ? " from the upgrade's real start" : "",
			 origin_name ? origin_name : "the first phase",
			 rep->error[0] ? "Error: " : "", rep->error);
		snprintf(id, sizeof(id), "timeline-%zu-%d", run_no, rep->index);
		rc = figure(h, svg, title, caption, id, &fig, err);
		if (!rc)
			html_gap_list(h, fig, rep, gaps, ngaps, listed, &tl);
		free(gaps);
		if (rc)
			return -1;
	}
	return 0;
}

static int write_html(const struct resultset *set, const struct scenario_stats *m, size_t nm,
		      struct run_trace *traces, const char *out, const struct report_opts *opts,
		      const char *png_term, struct tb_err *err)
{
	struct html h = {0};
	char path[PATH_MAX], svg[PATH_MAX], png[PATH_MAX], stamp[64];
	struct plot_method *bars = NULL;
	struct plot_cdf *cdf = NULL;
	char (*labels)[256] = NULL;
	xmlNodePtr html, head, n;
	struct plot_out po;
	size_t i, k;
	time_t now = time(NULL);
	struct tm tm;
	int ret = -1;

	h.doc = xmlNewDoc(BAD_CAST "1.0");
	if (!h.doc)
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	xmlCreateIntSubset(h.doc, BAD_CAST "html", NULL, NULL);
	html = xmlNewNode(NULL, BAD_CAST "html");
	h.ns = xmlNewNs(html, BAD_CAST XHTML_NS, NULL);
	xmlSetNs(html, h.ns);
	xmlDocSetRootElement(h.doc, html);
	attr(html, "lang", "en");
	head = el(&h, html, "head", NULL);
	n = el(&h, head, "meta", NULL);
	attr(n, "charset", "utf-8");
	el(&h, head, "title", "twinbench report");
	el(&h, head, "style", css);
	h.body = el(&h, html, "body", NULL);
	el(&h, h.body, "h1", "twinbench: kernel upgrade downtime");
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "Generated %Y-%m-%d %H:%M:%S UTC from ", &tm);
	n = el(&h, h.body, "p", stamp);
	for (i = 0; i < set->nruns; i++) {
		el(&h, n, "code", set->runs[i].dir);
		if (i + 1 < set->nruns)
			xmlAddChild(n, xmlNewText(BAD_CAST ", "));
	}
	if (html_summary(&h, set, m, nm, err))
		goto out;

	/* Downtime per scenario. */
	bars = calloc(nm ? nm : 1, sizeof(*bars));
	cdf = calloc(nm ? nm : 1, sizeof(*cdf));
	labels = calloc(nm ? nm : 1, sizeof(*labels));
	if (!bars || !cdf || !labels) {
		tb_err_set(err, TB_EXIT_ENV, "out of memory");
		goto out;
	}
	for (i = 0; i < nm; i++) {
		row_label(m, nm, i, labels[i], sizeof(labels[i]));
		bars[i] = (struct plot_method){labels[i], m[i].downtime_ns, m[i].ndowntime,
					       m[i].maintenance_ns, m[i].nmaintenance};
	}
	el(&h, h.body, "h2", "Downtime per scenario");
	plot_paths(out, "downtime", opts, png_term, svg, png, sizeof(svg), &po,
		   "Downtime and maintenance window per scenario");
	if (plot_downtime(bars, nm, &po, err) ||
	    figure(&h, svg, po.title,
		   "Bar: median over the repetitions; whisker: min to max; dots: each repetition. "
		   "Downtime: longest interval without a probe reply. Maintenance window: the "
		   "method's window, from the upgrade's real start to back in full.",
		   "plot-downtime", NULL, err))
		goto out;

	/* Round trips per scenario, pooled over its runs and repetitions. */
	for (i = 0; i < nm; i++) {
		size_t total = 0, j;

		for (j = 0; j < set->nruns; j++)
			if (resultset_run_in(&set->runs[j], &m[i].key))
				for (k = 0; k < set->runs[j].nreps; k++)
					total += traces[j].reps[k].nrtt;
		cdf[i].label = labels[i];
		cdf[i].rtt_ns = malloc((total ? total : 1) * sizeof(double));
		if (!cdf[i].rtt_ns) {
			tb_err_set(err, TB_EXIT_ENV, "out of memory");
			goto out;
		}
		for (j = 0; j < set->nruns; j++)
			if (resultset_run_in(&set->runs[j], &m[i].key))
				for (k = 0; k < set->runs[j].nreps; k++) {
					memcpy((double *)cdf[i].rtt_ns + cdf[i].n,
					       traces[j].reps[k].rtt,
					       traces[j].reps[k].nrtt * sizeof(double));
					cdf[i].n += traces[j].reps[k].nrtt;
				}
	}
	el(&h, h.body, "h2", "Probe round-trip times");
	plot_paths(out, "rtt-cdf", opts, png_term, svg, png, sizeof(svg), &po,
		   "Probe round-trip time, cumulative distribution");
	if (plot_rtt_cdf(cdf, nm, &po, err) ||
	    figure(&h, svg, po.title,
		   "For each scenario, the fraction of probe replies that came back within a given "
		   "round-trip time (request sent to reply received, host clock), over all its "
		   "repetitions.",
		   "plot-rtt", NULL, err))
		goto out;

	el(&h, h.body, "h2", "Timeline of each repetition");
	for (i = 0; i < set->nruns; i++)
		if (html_timelines(&h, &set->runs[i], i + 1, &traces[i], out, opts, png_term, err))
			goto out;
	html_repetitions(&h, set);
	html_breakdowns(&h, set);
	html_gap_phases(&h, set);
	html_tool_stats(&h, set);

	snprintf(path, sizeof(path), "%s/report.html", out);
	/*
	 * XHTML rules: no XML declaration, and non-void elements never written
	 * as <x/>, which an HTML parser would read as an open tag.
	 */
	ret = xmlfile_save(h.doc, path, XML_SAVE_FORMAT | XML_SAVE_NO_DECL | XML_SAVE_XHTML, err);
out:
	for (i = 0; cdf && i < nm; i++)
		free((double *)cdf[i].rtt_ns);
	free(cdf);
	free(bars);
	free(labels);
	xmlFreeDoc(h.doc);
	return ret;
}

static int make_dir(const char *path, struct tb_err *err)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		return tb_err_set(err, TB_EXIT_ENV, "%s: %s", path, strerror(errno));
	return 0;
}

int report_write(const struct resultset *set, const struct report_opts *opts, struct tb_err *err)
{
	struct run_trace *traces = NULL;
	struct scenario_stats *m = NULL;
	char plots[PATH_MAX], png_term[32] = "";
	size_t nm = 0, i, loaded = 0;
	int ret = -1;

	if (opts->png && plot_png_terminal(png_term, sizeof(png_term), err))
		return -1;
	snprintf(plots, sizeof(plots), "%s/plots", opts->out);
	if (make_dir(opts->out, err) || make_dir(plots, err))
		return -1;
	if (resultset_scenarios(set, &m, &nm, err))
		return -1;
	traces = calloc(set->nruns ? set->nruns : 1, sizeof(*traces));
	if (!traces) {
		tb_err_set(err, TB_EXIT_ENV, "out of memory");
		goto out;
	}
	for (loaded = 0; loaded < set->nruns; loaded++) {
		const struct resultset_run *r = &set->runs[loaded];

		if (trace_load(r->dir, r->reps, r->nreps, &traces[loaded], err))
			goto out;
	}
	if (write_csv(set, opts->out, err) || write_md(set, m, nm, opts->out, err) ||
	    write_html(set, m, nm, traces, opts->out, opts, png_term, err))
		goto out;
	ret = 0;
out:
	for (i = 0; traces && i < loaded; i++)
		trace_free(&traces[i], set->runs[i].nreps);
	free(traces);
	resultset_scenarios_free(m, nm);
	return ret;
}
