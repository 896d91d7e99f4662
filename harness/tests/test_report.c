/*
 * test_report.c - the report on synthetic result directories: the three
 * files, one SVG per plot inlined into well-formed XHTML, the numbers in
 * the Markdown table and the CSV, escaping of odd names, the twin lane,
 * choosing the latest results, and the small formatters.
 *
 * Result directories are made in a mkdtemp directory: run.json through
 * results_write_json(), probe.csv and the console logs in the formats
 * cmd_run writes.  Set TEST_REPORT_KEEP=1 to keep them (and look at the
 * plots).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "commands.h"
#include "monotime.h"
#include "plot.h"
#include "probe.h"
#include "report.h"
#include "results.h"
#include "testlib.h"
#include "trace.h"

static char tmpdir[64];

/* Ranges in the summary ("1-2") are written with an en dash. */
#define EN_DASH "\xe2\x80\x93"

static int setup(void **state)
{
	(void)state;
	return tl_mkdtemp("/tmp/test_report.XXXXXX", tmpdir, sizeof(tmpdir));
}

static int teardown(void **state)
{
	(void)state;
	if (getenv("TEST_REPORT_KEEP")) {
		fprintf(stderr, "kept %s\n", tmpdir);
		return 0;
	}
	return tl_rmtree(tmpdir);
}

/* @rel inside the test's directory; valid for the next 7 calls. */
static char *at(const char *rel)
{
	return tl_path(tmpdir, rel);
}

/* One synthetic repetition: its phases, console lines and probe trace. */
struct synth_rep {
	int64_t t0;	   /* upgrade start */
	int64_t gap_ms;	   /* no reply for this long from t0 + 500.4 ms; 0: no gap */
	bool twin;	   /* twin-boot phases (b_*) and console b lines */
	const char *error; /* "" if ok */
	int64_t stall_ms;  /* no reply for this long again, 500 ms after the gap; 0: none */
	int capture;	   /* a capture that agrees (1), disagrees by -50 ms (-1); 0: none */
};

/* What a run booted, in which guest: what tells its scenario's rows apart. */
struct synth_env {
	const char *kernel_old, *kernel_new;
	int memory_mib, vcpus;
	const char *accel;
};

static const struct synth_env default_env = {"6.1.0-old", "6.1.0-new", 512, 2, "tcg"};

/* A run.json's gap list as the verdict makes it: every silence over PROBE_GAP_INTERVALS ms. */
static void synth_gap(struct repetition *r, int64_t start, int64_t end)
{
	if (end - start <= PROBE_GAP_INTERVALS * NS_PER_MS)
		return;
	r->gaps[r->ngaps] = (struct rep_gap){.start_ns = start, .end_ns = end};
	snprintf(r->gaps[r->ngaps].phase, sizeof(r->gaps[0].phase), "%s",
		 r->ngaps ? "service_back" : "upgrade_start");
	r->ngaps++;
	r->gaps_found++;
	r->unavailable_ns += end - start;
}

/*
 * A result directory: run.json for @reps, probe.csv with a request every
 * millisecond from t0 - 1 s to 1 s after the gap (or the stall) (replies
 * 400 us later, none inside the gap or the stall), console-a.log (and
 * console-b.log for twin) lines.  Every repetition's probe achieved a 1 ms
 * interval, with a p99 of 1.1 ms for the first, 1.2 ms for the second...
 */
static void make_run_in(const char *dir, const char *scenario, const char *method,
			const struct synth_env *env, const struct synth_rep *s, size_t n)
{
	struct repetition *reps = calloc(n, sizeof(*reps));
	struct run_info info = {0};
	char path[PATH_MAX];
	FILE *probe, *ca, *cb;
	struct tb_err err;

	assert_non_null(reps);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/probe.csv", dir);
	probe = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/console-a.log", dir);
	ca = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/console-b.log", dir);
	cb = fopen(path, "w");
	assert_true(probe && ca && cb);
	fputs("event,rep,seq,t_ns,counter,release,boot_id\n", probe);
	for (size_t i = 0; i < n; i++) {
		struct repetition *r = &reps[i];
		/* The gap runs from one reply (gs) to another (ge): downtime = gap_ms exactly. */
		int64_t t0 = s[i].t0, gs = t0 + 500 * NS_PER_MS + 400 * NS_PER_US;
		int64_t ge = gs + s[i].gap_ms * NS_PER_MS;
		int64_t ss = ge + 500 * NS_PER_MS, se = ss + s[i].stall_ms * NS_PER_MS;
		int64_t end = (s[i].stall_ms ? se : ge) + NS_PER_S, last_before = 0,
			first_after = 0;
		uint64_t seq = 0;

		r->index = (int)i + 1;
		r->verified = r->ok = !s[i].error[0];
		snprintf(r->error, sizeof(r->error), "%s", s[i].error);
		repetition_mark(r, "guest_start", t0 - 3 * NS_PER_S);
		repetition_mark(r, "boot_ready", t0 - 200 * NS_PER_MS);
		repetition_mark(r, "service_up", t0 - 100 * NS_PER_MS);
		repetition_mark(r, s[i].twin ? "trigger" : "upgrade_start", t0);
		for (int64_t t = t0 - NS_PER_S; t < end; t += NS_PER_MS, seq++) {
			fprintf(probe, "send,%d,%" PRIu64 ",%" PRId64 ",,,\n", r->index, seq, t);
			if (s[i].gap_ms && t + 400 * NS_PER_US > gs && t + 400 * NS_PER_US < ge)
				continue;
			if (s[i].stall_ms && t + 400 * NS_PER_US > ss && t + 400 * NS_PER_US < se)
				continue;
			fprintf(probe, "recv,%d,%" PRIu64 ",%" PRId64 ",%" PRIu64 ",6.1.0,id\n",
				r->index, seq, (int64_t)(t + 400 * NS_PER_US), seq);
			if (t + 400 * NS_PER_US <= gs)
				last_before = t + 400 * NS_PER_US;
			else if (!first_after)
				first_after = t + 400 * NS_PER_US;
		}
		if (s[i].gap_ms) {
			r->measured = true;
			r->downtime_ns = first_after - last_before;
			r->maintenance_ns = first_after - t0;
			repetition_mark(r, "old_last_line", gs - 50 * NS_PER_MS);
			repetition_mark(r, "new_first_line", gs + 100 * NS_PER_MS);
			repetition_mark(r, "service_back", first_after);
			synth_gap(r, last_before, first_after);
		}
		if (s[i].stall_ms)
			synth_gap(r, ss, se);
		r->interval_median_ns = NS_PER_MS;
		r->interval_p99_ns = NS_PER_MS + (int64_t)(i + 1) * 100 * NS_PER_US;
		if (s[i].capture) {
			r->captured = true;
			r->capture_agrees = s[i].capture > 0;
			r->capture_downtime_ns =
			    r->downtime_ns - (s[i].capture > 0 ? 0 : 50 * NS_PER_MS);
		}
		if (!s[i].twin && strcmp(method, "reboot") == 0) {
			/* A tool's own figures (kexec-criu's CRIU): the report is generic. */
			r->ntool_stats = 1;
			r->tool_stats[0] = (struct tool_stats){
				.name = "criu-dump", .n = 2, .key = { "frozen_time", "pages_written" },
				.value = { 215482, 37 + (int64_t)i } };
		}
		if (s[i].twin) {
			repetition_mark(r, "cpu_handed", t0 + 50 * NS_PER_MS);
			repetition_mark(r, "b_first_line", t0 + 150 * NS_PER_MS);
			repetition_mark(r, "b_ready", t0 + 700 * NS_PER_MS);
			repetition_mark(r, "a_answered", t0 + 800 * NS_PER_MS);
			repetition_mark(r, "b_answered", t0 + 900 * NS_PER_MS);
			r->nbreakdowns = 1;
			r->breakdowns[0].a = (struct breakdown_side){
				.nsteps = 5,
				.name = { "request", "stopped", "written", "released", "ready" },
				.ns = { 0, 40000, 50000, 12050000, 12060000 } };
			r->breakdowns[0].b = (struct breakdown_side){
				.nsteps = 6,
				.name = { "seen", "nic", "link", "addr", "arp", "reply" },
				.ns = { 0, 18000000, 18500000, 18600000, 18700000, 25000000 } };
			r->breakdowns[0].rest = (struct breakdown_side){
				.nsteps = 5,
				.name = { "begun", "parked", "cpus", "memory", "console" },
				.ns = { 0, 1800000, 125000000, 200000000, 250000000 } };
			for (int k = 0; k < 40; k++) {
				int64_t t = t0 + 150 * NS_PER_MS + k * 10 * NS_PER_MS;

				fprintf(cb, "%" PRId64 ".%09" PRId64 " [    0.%06d] B line %d\n",
					(int64_t)(t / NS_PER_S), (int64_t)(t % NS_PER_S), k, k);
			}
		}
		for (int k = 0; k < 50; k++) {
			int64_t t = t0 - 3 * NS_PER_S + k * 80 * NS_PER_MS;

			fprintf(ca, "%" PRId64 ".%09" PRId64 " A line %d\n",
				(int64_t)(t / NS_PER_S), (int64_t)(t % NS_PER_S), k);
		}
		r->sent = seq;
	}
	fclose(probe);
	fclose(ca);
	fclose(cb);
	snprintf(info.scenario, sizeof(info.scenario), "%s", scenario);
	snprintf(info.scenario_path, sizeof(info.scenario_path), "scenarios/%s.yaml", scenario);
	snprintf(info.method, sizeof(info.method), "%s", method);
	snprintf(info.started, sizeof(info.started), "2026-11-22T02:00:00Z");
	snprintf(info.accel, sizeof(info.accel), "%s", env->accel);
	snprintf(info.qemu_version, sizeof(info.qemu_version), "7.2.22");
	snprintf(info.libvirt_version, sizeof(info.libvirt_version), "9.0.0");
	snprintf(info.host_kernel, sizeof(info.host_kernel), "6.1.0-host");
	snprintf(info.kernel_old, sizeof(info.kernel_old), "%s", env->kernel_old);
	snprintf(info.kernel_new, sizeof(info.kernel_new), "%s", env->kernel_new);
	info.guest_memory_mib = env->memory_mib;
	info.guest_vcpus = env->vcpus;
	snprintf(info.boot_old.image, sizeof(info.boot_old.image), "/img/vmlinuz-a");
	snprintf(info.boot_old.sha256, sizeof(info.boot_old.sha256), "%s",
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	info.boot_old.initrd_bytes = 30 * 1024 * 1024 + 1;
	snprintf(info.boot_new.image, sizeof(info.boot_new.image), "/img/vmlinuz-b");
	snprintf(info.rootfs, sizeof(info.rootfs), "/img/rootfs.img sha256:%s",
		 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
	info.probe_interval_ns = NS_PER_MS;
	info.repetitions = (int)n;
	snprintf(path, sizeof(path), "%s/run.json", dir);
	if (results_write_json(path, &info, reps, n, &err))
		fail_msg("%s", err.msg);
	free(reps);
}

static void make_run(const char *dir, const char *scenario, const char *method,
		     const struct synth_rep *s, size_t n)
{
	make_run_in(dir, scenario, method, &default_env, s, n);
}

/* @dir's run.json, to edit. */
static json_t *run_json_load(const char *dir)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *root;

	snprintf(path, sizeof(path), "%s/run.json", dir);
	root = json_load_file(path, 0, &jerr);
	assert_non_null(root);
	return root;
}

/* Write @root back as @dir's run.json, and let go of it. */
static void run_json_save(const char *dir, json_t *root)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/run.json", dir);
	assert_int_equal(json_dump_file(root, path, JSON_INDENT(2)), 0);
	json_decref(root);
}

/*
 * Make @dir's run.json one written before gaps, the achieved interval and
 * captures were recorded: none of their keys.
 */
static void make_legacy(const char *dir)
{
	json_t *root = run_json_load(dir), *rep;
	size_t i;

	json_array_foreach(json_object_get(root, "repetitions"), i, rep)
	{
		json_object_del(rep, "gaps");
		json_object_del(rep, "capture");
		json_object_del(json_object_get(rep, "probe"), "interval_median_ns");
		json_object_del(json_object_get(rep, "probe"), "interval_p99_ns");
	}
	run_json_save(dir, root);
}

/* Two reboot repetitions (gaps of 100 and 300 ms) and one twin-boot repetition. */
static void make_two_runs(char *dirs[2])
{
	const struct synth_rep reboot[] = {
	    {1000 * NS_PER_S, 100, false, "", 0, 0},
	    {1010 * NS_PER_S, 300, false, "", 0, 0},
	};
	const struct synth_rep twin[] = {
	    {2000 * NS_PER_S, 5, true, "probe: \"late\", then lost", 0, 0},
	};

	dirs[0] = strdup(at("20261122-020000-reboot"));
	dirs[1] = strdup(at("20261122-020100-twin-boot"));
	make_run(dirs[0], "reboot", "reboot", reboot, 2);
	make_run(dirs[1], "twin-boot", "twin-boot", twin, 1);
}

static void write_report(char **dirs, size_t n, const char *out)
{
	struct report_opts opts = {.out = out};
	struct resultset set;
	struct tb_err err;

	if (resultset_load(&set, dirs, n, &err) || report_write(&set, &opts, &err))
		fail_msg("%s", err.msg);
	resultset_free(&set);
}

static void count_svgs(xmlNodePtr n, int *svgs, int *figures)
{
	for (; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (!strcmp((const char *)n->name, "svg"))
			(*svgs)++;
		if (!strcmp((const char *)n->name, "figure"))
			(*figures)++;
		count_svgs(n->children, svgs, figures);
	}
}

/* A second report into the same directory replaces each file whole: no temporary stays. */
static void test_outputs_are_replaced_whole(void **state)
{
	char *dirs[2];

	(void)state;
	make_two_runs(dirs);
	write_report(dirs, 2, at("out"));
	write_report(dirs, 2, at("out"));
	assert_string_equal(tl_list_dir(at("out")), "plots report.html report.md summary.csv");
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

static void test_html_is_wellformed_with_one_svg_per_plot(void **state)
{
	char *dirs[2], *html;
	int svgs = 0, figures = 0;
	xmlDocPtr doc;

	(void)state;
	make_two_runs(dirs);
	write_report(dirs, 2, at("out"));
	doc = xmlReadFile(at("out/report.html"), NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	count_svgs(xmlDocGetRootElement(doc), &svgs, &figures);
	/* downtime + round trips + 3 timelines (2 reboot repetitions, 1 twin) */
	assert_int_equal(svgs, 5);
	assert_int_equal(figures, 5);
	xmlFreeDoc(doc);
	html = tl_read_file(at("out/report.html"));
	assert_non_null(html);
	/* Self-contained: no script, no stylesheet or image fetched. */
	assert_int_equal(tl_count(html, "<script"), 0);
	assert_int_equal(tl_count(html, "<link"), 0);
	assert_int_equal(tl_count(html, "http://") - tl_count(html, "http://www.w3.org/"), 0);
	assert_int_equal(tl_count(html, "https://"), 0);
	assert_non_null(strstr(html, "id=\"timeline-2-1\""));
	/* The environment and the error of the failed repetition are shown. */
	assert_non_null(strstr(html, "6.1.0-old \xe2\x86\x92 6.1.0-new"));
	assert_non_null(strstr(html, "probe: &quot;late&quot;, then lost") ||
			strstr(html, "probe: \"late\", then lost"));
	free(html);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* Round trips pair each reply with its request: 400 us in every synthetic exchange. */
static void test_rtt_cdf_pairs_replies_with_requests(void **state)
{
	char *dirs[2], *svg;

	(void)state;
	make_two_runs(dirs);
	write_report(dirs, 2, at("out"));
	svg = tl_read_file(at("out/plots/rtt-cdf.svg"));
	assert_non_null(svg);
	/*
	 * reboot: a request every ms from t0 - 1 s while t < t0 + 1500.4 ms + gap:
	 * 2501 + gap requests, less gap - 1 replies lost inside it: 2502 a repetition.
	 */
	assert_non_null(strstr(svg, "reboot (n = 5004, median 400 \xc2\xb5s, p99 400 \xc2\xb5s)"));
	assert_non_null(strstr(svg, "twin-boot (n = "));
	free(svg);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* Every id in the page is unique once gnuplot's per-SVG ids are prefixed. */
static void test_inlined_svg_ids_are_unique(void **state)
{
	char *dirs[2], *html, **ids = NULL;
	size_t n = 0;

	(void)state;
	make_two_runs(dirs);
	write_report(dirs, 2, at("out"));
	html = tl_read_file(at("out/report.html"));
	for (const char *p = html; (p = strstr(p, " id=")); p += 4) {
		char quote = p[4];
		const char *end = strchr(p + 5, quote);
		char **grown = realloc(ids, (n + 1) * sizeof(*ids));

		assert_non_null(grown);
		ids = grown;
		ids[n++] = strndup(p + 5, (size_t)(end - p - 5));
	}
	assert_true(n > 20); /* gnuplot defines gpPt0..14 and more in every SVG */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (!strcmp(ids[i], ids[j]))
				fail_msg("id \"%s\" appears twice", ids[i]);
	/* And the references point at the prefixed ids. */
	assert_int_equal(tl_count(html, "href=\"#gpPt"), 0);
	assert_true(tl_count(html, "href=\"#p1-gpPt") > 0);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	free(html);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* The y (pixels, down) at which the SVG draws the text @text: gnuplot's translate(x,y). */
static double svg_text_y(const char *svg, const char *text)
{
	char needle[128];
	const char *hit, *tr;
	double x, y;

	snprintf(needle, sizeof(needle), "<text>%s</text>", text);
	hit = strstr(svg, needle);
	if (!hit)
		fail_msg("no text \"%s\" in the SVG", text);
	for (tr = hit; tr > svg && strncmp(tr, "translate(", 10); tr--)
		;
	assert_int_equal(sscanf(tr, "translate(%lf,%lf)", &x, &y), 2);
	return y;
}

/* The twin repetition gets a console-b lane; the reboot ones do not. */
static void test_timeline_lanes_follow_the_phases(void **state)
{
	char *dirs[2], *svg;
	double lane_a, lane_b;

	(void)state;
	make_two_runs(dirs);
	write_report(dirs, 2, at("out"));
	svg = tl_read_file(at("out/plots/timeline-2-twin-boot-rep1.svg"));
	assert_non_null(svg);
	assert_non_null(strstr(svg, "console b: kernel B"));
	assert_non_null(strstr(svg, "downtime 5."));
	/* b_* phases are labelled on kernel B's lane, the others on A's (labels sit just above). */
	lane_a = svg_text_y(svg, "console a: kernel A");
	lane_b = svg_text_y(svg, "console b: kernel B");
	assert_true(lane_a < lane_b);
	for (size_t i = 0; i < 2; i++) {
		double y = svg_text_y(svg, i ? "b_ready" : "b_first_line");

		assert_true(y < lane_b && y > lane_a);
	}
	assert_true(svg_text_y(svg, "cpu_handed") < lane_a);
	free(svg);
	svg = tl_read_file(at("out/plots/timeline-1-reboot-rep2.svg"));
	assert_non_null(svg);
	assert_null(strstr(svg, "console b: kernel B"));
	assert_non_null(strstr(svg, "console a: kernel A"));
	/* Its gap, 300 ms of missing replies: the title and the label under the shading. */
	assert_int_equal(tl_count(svg, "downtime 300 ms"), 2);
	assert_non_null(strstr(svg, "service_back"));
	free(svg);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* How many times the SVG fills a shape with the colour rgb(@r, @g, @b). */
static int svg_fills(const char *svg, int r, int g, int b)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "fill = 'rgb(%3d, %3d, %3d)'", r, g, b);
	return tl_count(svg, needle);
}

/*
 * Every gap of more than five probe intervals is shaded, found in the
 * replies as the report finds them; the downtime's (the longest) keeps its
 * red and its label, the others are orange, and the probe's bar breaks at
 * each.
 */
static void test_timeline_shades_every_gap(void **state)
{
	/* A reply every ms for 2 s, but none in 3 holes: 8 ms, 40 ms (the downtime) and 12 ms. */
	static const int64_t holes[][2] = {{300, 308}, {1000, 1040}, {1500, 1512}};
	struct trace_stamps replies = {0};
	struct plot_timeline tl = {0};
	struct plot_phase phase = {"upgrade_start", 0, PLOT_LANE_A};
	struct plot_gap pg[8];
	struct trace_gap *gaps;
	struct plot_out po = {.svg = at("timeline.svg"), .title = "gaps"};
	struct tb_err err;
	size_t n, i;
	char *svg;

	(void)state;
	replies.v = calloc(2001, sizeof(int64_t));
	assert_non_null(replies.v);
	for (int64_t ms = 0; ms <= 2000; ms++) {
		bool hole = false;

		for (i = 0; i < 3; i++)
			hole |= ms > holes[i][0] && ms < holes[i][1];
		if (!hole)
			replies.v[replies.n++] = ms * NS_PER_MS;
	}
	assert_int_equal(trace_find_gaps(&replies, NS_PER_MS, &gaps, &n), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_int_equal(gaps[i].start_ns, holes[i][0] * NS_PER_MS);
		assert_int_equal(gaps[i].end_ns, holes[i][1] * NS_PER_MS);
		pg[i] = (struct plot_gap){gaps[i].start_ns, gaps[i].end_ns};
	}
	free(gaps);
	tl.phases = &phase;
	tl.nphases = 1;
	tl.origin_name = "upgrade_start";
	tl.replies = replies.v;
	tl.nreplies = replies.n;
	tl.probe_interval_ns = NS_PER_MS;
	tl.has_gap = true;
	tl.gap_start_ns = 1000 * NS_PER_MS;
	tl.gap_end_ns = 1040 * NS_PER_MS;
	tl.gaps = pg;
	tl.ngaps = n;
	if (plot_timeline(&tl, &po, &err))
		fail_msg("%s", err.msg);
	svg = tl_read_file(po.svg);
	assert_non_null(svg);
	/* The downtime once on the plot and once in the key; each other gap once, and the key. */
	assert_int_equal(svg_fills(svg, 214, 39, 40), 2);
	assert_int_equal(svg_fills(svg, 255, 127, 14), 3);
	assert_int_equal(tl_count(svg, "downtime 40.0 ms"), 1);
	assert_non_null(strstr(svg, "no reply (another gap)"));
	free(svg);
	free(replies.v);
}

/* reboot: downtimes 100 and 300 ms: median 200, p90 = 100 + 0.9 * 200 = 280. */
static void test_markdown_table_has_the_numbers(void **state)
{
	char *dirs[2], *md;

	(void)state;
	make_two_runs(dirs);
	write_report(dirs, 2, at("out"));
	md = tl_read_file(at("out/report.md"));
	assert_non_null(md);
	assert_non_null(strstr(md, "| scenario | repetitions | verified | downtime median |"));
	/* twin-boot is not twin: there is no yardstick here, and a footnote says so. */
	assert_non_null(
	    strstr(md, "| reboot | 2 | 2/2 | 200 ms | - [1] | 280 ms | 100 ms | 300 ms |"));
	assert_non_null(strstr(md, "\n[1] No twin run in this report: no ratio."));
	assert_non_null(strstr(md, "| twin-boot | 1 | 0/1 | 5.0 ms |"));
	/* 5 ms is not longer than 5 intervals: no gap, nothing unavailable. */
	assert_non_null(strstr(md, "| 0 ns | 0 ns | 0 ns | 0 ns | 0 | 1.0 ms (p99 1.1 ms) | "
				   "\xe2\x80\x94 | none | twin-boot |"));
	assert_non_null(strstr(md, "its resolution is the interval the probe achieved"));
	assert_non_null(strstr(md, "up to 1.0 ms here"));
	assert_non_null(strstr(md, "asked: 1.0 ms"));
	free(md);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* Where a twin handoff's time went: each kernel's steps, in ms since the one before. */
static void test_handoff_breakdown_is_tabled(void **state)
{
	char *dirs[2], *md, *html;

	(void)state;
	make_two_runs(dirs);
	write_report(dirs, 2, at("out"));
	md = tl_read_file(at("out/report.md"));
	assert_non_null(md);
	assert_non_null(strstr(md, "#### Handoff breakdown"));
	assert_non_null(strstr(md, "| twin-boot | 1 | 1 | stopped 0.04, written 0.01, released 12.00, "
				   "ready 0.01 | 12.06 | nic 18.00, link 0.50, addr 0.10, arp 0.10, "
				   "reply 6.30 | 25.00 | 5.0 ms | parked 1.80, cpus 123.20, "
				   "memory 75.00, console 50.00 | 250.00 |\n"));
	html = tl_read_file(at("out/report.html"));
	assert_non_null(html);
	assert_non_null(strstr(html, "id=\"breakdown\""));
	free(md);
	free(html);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* What a method's tool measured itself: one row per tool and repetition. */
static void test_tool_figures_are_tabled(void **state)
{
	char *dirs[2], *md, *html;

	(void)state;
	make_two_runs(dirs);
	write_report(dirs, 2, at("out"));
	md = tl_read_file(at("out/report.md"));
	assert_non_null(md);
	assert_non_null(strstr(md, "#### The tools' own figures"));
	/* Markdown's emphasis escaped in the names. */
	assert_non_null(strstr(md, "| 1 | criu-dump | frozen\\_time=215482 pages\\_written=37 |"));
	assert_non_null(strstr(md, "| 2 | criu-dump | frozen\\_time=215482 pages\\_written=38 |"));
	html = tl_read_file(at("out/report.html"));
	assert_non_null(html);
	assert_non_null(strstr(html, "id=\"tool-stats\""));
	assert_non_null(strstr(html, "<td>frozen_time=215482 pages_written=38</td>"));
	free(md);
	free(html);
	/* A run whose tools said nothing has no such table. */
	write_report(&dirs[1], 1, at("out-twin"));
	md = tl_read_file(at("out-twin/report.md"));
	assert_non_null(md);
	assert_null(strstr(md, "#### The tools' own figures"));
	free(md);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* Give every repetition of @dir's run.json a spare guest of @memory_mib that ran @ms. */
static void add_standby(const char *dir, int memory_mib, int64_t ms)
{
	json_t *root = run_json_load(dir), *rep;
	size_t i;

	assert_int_equal(json_object_set_new(json_object_get(root, "environment"), "standby",
					     json_pack("{s:i, s:i}", "memory_mib", memory_mib,
						       "vcpus", 2)),
			 0);
	json_array_foreach(json_object_get(root, "repetitions"), i, rep)
		json_object_set_new(rep, "standby_ns", json_integer((ms + (int64_t)i) * NS_PER_MS));
	run_json_save(dir, root);
}

/*
 * A method with a spare guest shows what it cost beside the downtime; one
 * without says none; runs with spares of other sizes are not pooled.
 */
static void test_the_spare_guest_is_shown_and_keys_the_row(void **state)
{
	const struct synth_rep moved[] = {
	    {1000 * NS_PER_S, 80, false, "", 0, 0},
	    {1010 * NS_PER_S, 90, false, "", 0, 0},
	};
	char *dirs[3], *md;

	(void)state;
	dirs[0] = strdup(at("20261122-030000-migrate"));
	dirs[1] = strdup(at("20261122-030100-migrate"));
	dirs[2] = strdup(at("20261122-030200-kexec"));
	make_run(dirs[0], "migrate", "migrate", moved, 2);
	make_run(dirs[1], "migrate", "migrate", moved, 1);
	make_run(dirs[2], "kexec", "kexec", moved, 1);
	add_standby(dirs[0], 2048, 14600);
	add_standby(dirs[1], 1024, 9000);
	write_report(dirs, 3, at("out-spare"));
	md = tl_read_file(at("out-spare/report.md"));
	assert_non_null(md);
	/* The median of 14.600 s and 14.601 s. */
	assert_non_null(strstr(md, "| 2 GiB, 2 vCPUs for 14.60 s | migrate |"));
	assert_non_null(strstr(md, "| 1 GiB, 2 vCPUs for 9.00 s | migrate |"));
	assert_non_null(strstr(md, "| none | kexec |"));
	free(md);
	for (int i = 0; i < 3; i++)
		free(dirs[i]);
}

static void test_csv_has_one_row_per_repetition(void **state)
{
	char *dirs[2], *csv;

	(void)state;
	make_two_runs(dirs);
	write_report(dirs, 2, at("out"));
	csv = tl_read_file(at("out/summary.csv"));
	assert_non_null(csv);
	assert_int_equal(tl_count(csv, "\n"), 4); /* header + 3 repetitions */
	assert_non_null(strstr(csv, ",reboot,reboot,2,1,1,1,"));
	/* RFC 4180: the error has a comma and quotes. */
	assert_non_null(strstr(csv, ",\"probe: \"\"late\"\", then lost\"\n"));
	free(csv);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

static void load_rows(char **dirs, size_t n, struct resultset *set, struct scenario_stats **rows,
		      size_t *nrows)
{
	struct tb_err err;

	if (resultset_load(set, dirs, n, &err) || resultset_scenarios(set, rows, nrows, &err))
		fail_msg("%s", err.msg);
}

/*
 * reboot, pooled from a run that lists its gaps and one from before that
 * (no gaps, no achieved interval): downtimes 100, 300 (then a 50 ms stall)
 * and 200 ms.  Unavailable is over the two that say: 100 and 350 ms, so
 * median 225, p90 = 100 + 0.9 * 250 = 325; one gap, then two.  Of the two
 * captures, one agreed.
 */
static void make_unavailable_runs(char *dirs[2])
{
	const struct synth_rep listed[] = {
	    {1000 * NS_PER_S, 100, false, "", 0, 1},
	    {1010 * NS_PER_S, 300, false, "", 50, -1},
	};
	const struct synth_rep legacy[] = {{1100 * NS_PER_S, 200, false, "", 0, 0}};

	dirs[0] = strdup(at("20261122-020000-reboot"));
	dirs[1] = strdup(at("20261121-020000-reboot"));
	make_run(dirs[0], "reboot", "reboot", listed, 2);
	make_run(dirs[1], "reboot", "reboot", legacy, 1);
	make_legacy(dirs[1]);
}

static void test_unavailable_is_pooled_over_the_repetitions_that_list_gaps(void **state)
{
	struct scenario_stats *rows;
	struct resultset set;
	char *dirs[2], line[2048];
	size_t n;

	(void)state;
	make_unavailable_runs(dirs);
	load_rows(dirs, 2, &set, &rows, &n);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].ndowntime, 3);
	assert_true(fabs(rows[0].downtime.median - 200e6) < 1);
	assert_int_equal(rows[0].nunavailable, 2);
	assert_true(fabs(rows[0].unavailable.median - 225e6) < 1);
	assert_true(fabs(rows[0].unavailable.p90 - 325e6) < 1);
	assert_true(fabs(rows[0].unavailable.min - 100e6) < 1);
	assert_true(fabs(rows[0].unavailable.max - 350e6) < 1);
	assert_int_equal(rows[0].gaps_min, 1);
	assert_int_equal(rows[0].gaps_max, 2);
	/* The legacy run recorded no interval: the median is over the other two. */
	assert_int_equal(rows[0].interval_median_ns, NS_PER_MS);
	assert_int_equal(rows[0].interval_p99_ns, NS_PER_MS + 200 * NS_PER_US);
	assert_int_equal(rows[0].captured, 2);
	assert_int_equal(rows[0].capture_agrees, 1);
	report_row_line(rows, n, 0, line, sizeof(line));
	assert_string_equal(line, "reboot (reboot, 6.1.0-old \xe2\x86\x92 6.1.0-new, 512 MiB, "
				  "2 vCPUs, tcg): downtime median 200 ms, maintenance median "
				  "700 ms, unavailable median 225 ms (gaps per repetition "
				  "1" EN_DASH "2), probe interval 1.0 ms (p99 1.2 ms), capture "
				  "agrees 1/2, \xc3\x97 twin: - (No twin run in this report: no "
				  "ratio.)");
	resultset_scenarios_free(rows, n);
	resultset_free(&set);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* The same row in both tables: unavailable beside downtime and maintenance. */
static void test_summary_shows_unavailable_gaps_interval_and_capture(void **state)
{
	char *dirs[2], *md, *html;

	(void)state;
	make_unavailable_runs(dirs);
	write_report(dirs, 2, at("out"));
	md = tl_read_file(at("out/report.md"));
	assert_non_null(md);
	assert_non_null(strstr(md, "| maintenance max | unavailable median | unavailable p90 | "
				   "unavailable min | unavailable max | gaps per repetition | "
				   "probe interval (median, p99) | capture | spare guest (running, median) | method |"));
	assert_non_null(strstr(md, "| reboot | 3 | 3/3 | 200 ms | - [1] | 280 ms | 100 ms | "
				   "300 ms | 700 ms | 800 ms | 225 ms | 325 ms | 100 ms | 350 ms | "
				   "1" EN_DASH "2 | 1.0 ms (p99 1.2 ms) | agrees 1/2 | none | reboot |"));
	free(md);
	html = tl_read_file(at("out/report.html"));
	assert_non_null(html);
	assert_non_null(strstr(html, "<td>225 ms</td>"));
	assert_non_null(strstr(html, "<td>agrees 1/2</td>"));
	free(html);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/*
 * The gaps beside the downtime, by phase: the stall after the downtime is
 * there, the downtimes are not, and a run.json without a list adds nothing.
 */
static void test_gaps_beside_the_downtime_are_tabled_by_phase(void **state)
{
	char *dirs[2], *md, *html;

	(void)state;
	make_unavailable_runs(dirs);
	write_report(dirs, 2, at("out"));
	md = tl_read_file(at("out/report.md"));
	assert_non_null(md);
	assert_non_null(strstr(md, "#### Gaps beside the downtime, by phase"));
	assert_non_null(strstr(md, "| reboot | service\\_back | 1 | 1/2 | 2: 50.0 | 50.0 |\n"));
	assert_null(strstr(md, "| reboot | upgrade\\_start |"));
	html = tl_read_file(at("out/report.html"));
	assert_non_null(html);
	assert_non_null(strstr(html, "id=\"gap-phases\""));
	free(md);
	free(html);
	/* Only downtimes: no table. */
	write_report(&dirs[1], 1, at("out-legacy"));
	md = tl_read_file(at("out-legacy/report.md"));
	assert_non_null(md);
	assert_null(strstr(md, "#### Gaps beside the downtime"));
	free(md);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* Give repetition @k of the run in @dir a 2 s quiet window with @gaps gaps, the longest @ns. */
static void set_quiet(const char *dir, size_t k, int64_t from_ns, int gaps, int64_t ns)
{
	json_t *root = run_json_load(dir);
	json_t *rep = json_array_get(json_object_get(root, "repetitions"), k);

	assert_non_null(rep);
	json_object_set_new(rep, "quiet",
			    json_pack("{s:I, s:I, s:i, s:I}", "from_ns", (json_int_t)from_ns,
				      "window_ns", (json_int_t)2 * NS_PER_S, "gaps", gaps,
				      "longest_ns", (json_int_t)ns));
	run_json_save(dir, root);
}

#define QUIET_ROW "| reboot | quiet (2 s, the service alone) | "
#define GAP_RULE  "|---|---|---:|---:|---|---:|\n"

/*
 * The quiet window comes first, as a row of its own: its gaps (3 in rep 1,
 * none in rep 2, which is said too) are in no other row.
 */
static void test_the_quiet_window_is_the_first_row_of_the_gaps(void **state)
{
	char *dirs[2], *md, *q, *first;

	(void)state;
	make_unavailable_runs(dirs);
	set_quiet(dirs[0], 0, 990 * NS_PER_S, 3, 11800 * NS_PER_US);
	set_quiet(dirs[0], 1, 1005 * NS_PER_S, 0, 0);
	write_report(dirs, 1, at("out"));
	md = tl_read_file(at("out/report.md"));
	assert_non_null(md);
	q = strstr(md, QUIET_ROW "3 | 1/2 | 1: 11.8 | 11.8 |\n");
	first = strstr(md, GAP_RULE);
	assert_non_null(q);
	assert_non_null(first);
	assert_ptr_equal(q, first + strlen(GAP_RULE));
	assert_non_null(strstr(md, "| reboot | service\\_back | 1 | 1/2 | 2: 50.0 | 50.0 |\n"));
	free(md);
	/* Quiet windows without a gap: a row all the same, with nothing to list. */
	set_quiet(dirs[0], 0, 990 * NS_PER_S, 0, 0);
	write_report(dirs, 1, at("out2"));
	md = tl_read_file(at("out2/report.md"));
	assert_non_null(md);
	assert_non_null(strstr(md, QUIET_ROW "0 | 0/2 | - | - |\n"));
	free(md);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* A run.json without gaps: its row says nothing of unavailable, rather than 0. */
static void test_legacy_run_json_has_no_unavailable(void **state)
{
	const struct synth_rep legacy[] = {{1100 * NS_PER_S, 200, false, "", 0, 0}};
	char *dir = strdup(at("20261121-020000-kexec")), *md, *csv;

	(void)state;
	make_run(dir, "kexec", "kexec", legacy, 1);
	make_legacy(dir);
	write_report(&dir, 1, at("out"));
	md = tl_read_file(at("out/report.md"));
	assert_non_null(md);
	assert_non_null(strstr(md, "| 700 ms | 700 ms | \xe2\x80\x94 | \xe2\x80\x94 | "
				   "\xe2\x80\x94 | \xe2\x80\x94 | \xe2\x80\x94 | "
				   "\xe2\x80\x94 | \xe2\x80\x94 | none | kexec |"));
	assert_non_null(strstr(md, "its resolution is the probe interval (1.0 ms; the achieved "
				   "one was not recorded)"));
	free(md);
	csv = tl_read_file(at("out/summary.csv"));
	assert_non_null(strstr(csv, ",200000000,700400000,,,,,,,"));
	free(csv);
	free(dir);
}

/* The new columns, where they go, empty where run.json does not say. */
static void test_csv_has_unavailable_interval_and_capture(void **state)
{
	char *dirs[2], *csv;

	(void)state;
	make_unavailable_runs(dirs);
	write_report(dirs, 2, at("out"));
	csv = tl_read_file(at("out/summary.csv"));
	assert_non_null(csv);
	assert_non_null(strstr(csv, "downtime_ns,maintenance_ns,unavailable_ns,gaps,"
				    "interval_median_ns,interval_p99_ns,capture_downtime_ns,"
				    "capture_agrees,sent,"));
	assert_non_null(strstr(csv, ",1,1,1,1,100000000,600400000,100000000,1,1000000,1100000,"
				    "100000000,1,"));
	/* 300 ms, then a stall of 50: 350 ms in two gaps; the capture saw 250. */
	assert_non_null(strstr(csv, ",2,1,1,1,300000000,800400000,350000000,2,1000000,1200000,"
				    "250000000,0,"));
	assert_non_null(strstr(csv, ",1,1,1,1,200000000,700400000,,,,,,,"));
	free(csv);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* The element with id @id under @n, or NULL. */
static xmlNodePtr find_id(xmlNodePtr n, const char *id)
{
	for (; n; n = n->next) {
		xmlChar *v;
		xmlNodePtr hit;
		bool match;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		v = xmlGetProp(n, BAD_CAST "id");
		match = v && !strcmp((const char *)v, id);
		xmlFree(v);
		if (match)
			return n;
		hit = find_id(n->children, id);
		if (hit)
			return hit;
	}
	return NULL;
}

/* The first element named @name under @n (depth first), or NULL. */
static xmlNodePtr find_element(xmlNodePtr n, const char *name)
{
	for (; n; n = n->next) {
		xmlNodePtr hit;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (!strcmp((const char *)n->name, name))
			return n;
		hit = find_element(n->children, name);
		if (hit)
			return hit;
	}
	return NULL;
}

/*
 * The gap list under the timeline with id @id in report.html: its caption,
 * then a line per row, cells joined by '|'.  NULL if it has no table.
 */
static char *gap_list(const char *id)
{
	xmlDocPtr doc = xmlReadFile(at("out/report.html"), NULL, XML_PARSE_NONET);
	xmlNodePtr fig, table, row, cell;
	char *text = NULL;
	size_t len = 0;
	bool first;
	FILE *f;

	assert_non_null(doc);
	fig = find_id(xmlDocGetRootElement(doc), id);
	assert_non_null(fig);
	table = find_element(fig->children, "table");
	if (!table) {
		xmlFreeDoc(doc);
		return NULL;
	}
	f = open_memstream(&text, &len);
	for (row = table->children; row; row = row->next) {
		xmlChar *c;

		if (row->type != XML_ELEMENT_NODE)
			continue;
		if (!strcmp((const char *)row->name, "caption")) {
			c = xmlNodeGetContent(row);
			fprintf(f, "%s\n", (const char *)c);
			xmlFree(c);
			continue;
		}
		if (!find_element(row->children, "td"))
			continue; /* the head */
		for (cell = row->children, first = true; cell; cell = cell->next) {
			if (cell->type != XML_ELEMENT_NODE)
				continue;
			c = xmlNodeGetContent(cell);
			fprintf(f, "%s%s", first ? "" : "|", (const char *)c);
			first = false;
			xmlFree(c);
		}
		fputc('\n', f);
	}
	fclose(f);
	xmlFreeDoc(doc);
	return text;
}

/*
 * Each gap under its timeline: start from t = 0 (upgrade_start), length,
 * phase, and which is the downtime; run.json's list where it has one (the
 * 50 ms stall 500 ms after the downtime is its second), else what
 * probe.csv shows (no phase).
 */
static void test_timeline_lists_every_gap_with_its_phase(void **state)
{
	char *dirs[2], *list, *svg;

	(void)state;
	make_unavailable_runs(dirs);
	write_report(dirs, 2, at("out"));
	list = gap_list("timeline-1-2");
	assert_non_null(list);
	assert_non_null(strstr(list, "Unavailable 350 ms in 2 gaps: every silence longer than 5 "
				     "probe intervals from the upgrade's real start"));
	assert_non_null(strstr(list, "\n1|+0.500 s|300 ms|upgrade_start|the downtime\n"
				     "2|+1.300 s|50.0 ms|service_back|\n"));
	free(list);
	list = gap_list("timeline-2-1");
	assert_non_null(list);
	assert_non_null(strstr(list, "this run.json predates the list of gaps"));
	assert_non_null(strstr(list, "\n1|+0.500 s|200 ms|?|the downtime\n"));
	free(list);
	/* The stall is shaded orange (and keyed), the downtime red. */
	svg = tl_read_file(at("out/plots/timeline-1-reboot-rep2.svg"));
	assert_non_null(svg);
	assert_int_equal(svg_fills(svg, 255, 127, 14), 2);
	free(svg);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/*
 * run.json's list is what is shown when there is one: a silence in
 * probe.csv it does not list (here the stall, taken out of it) is neither
 * listed nor shaded, and a gap it says is open is said to be open.
 */
static void test_timeline_prefers_the_gaps_run_json_lists(void **state)
{
	const struct synth_rep reps[] = {{1000 * NS_PER_S, 100, false, "", 40, 0}};
	char *dir = strdup(at("20261122-020000-kexec")), *list, *svg, path[PATH_MAX];
	json_t *root, *gaps;
	json_error_t jerr;

	(void)state;
	make_run(dir, "kexec", "kexec", reps, 1);
	snprintf(path, sizeof(path), "%s/run.json", dir);
	root = json_load_file(path, 0, &jerr);
	assert_non_null(root);
	gaps = json_object_get(json_array_get(json_object_get(root, "repetitions"), 0), "gaps");
	assert_int_equal(json_array_size(json_object_get(gaps, "list")), 2);
	assert_int_equal(json_array_remove(json_object_get(gaps, "list"), 1), 0);
	json_object_set_new(json_array_get(json_object_get(gaps, "list"), 0), "open", json_true());
	json_object_set_new(gaps, "found", json_integer(1));
	assert_int_equal(json_dump_file(root, path, JSON_INDENT(2)), 0);
	json_decref(root);
	write_report(&dir, 1, at("out"));
	list = gap_list("timeline-1-1");
	assert_non_null(list);
	assert_non_null(strstr(list, "\n1|+0.500 s|100 ms|upgrade_start|open: no reply before "
				     "the repetition ended\n"));
	assert_null(strstr(list, "\n2|"));
	free(list);
	svg = tl_read_file(at("out/plots/timeline-1-kexec-rep1.svg"));
	assert_non_null(svg);
	assert_int_equal(svg_fills(svg, 255, 127, 14), 0);
	free(svg);
	free(dir);
}

/* The repetitions table: each one's unavailable time, gaps, interval and capture. */
static void test_repetitions_table_has_unavailable_and_capture(void **state)
{
	char *dirs[2], *html;

	(void)state;
	make_unavailable_runs(dirs);
	write_report(dirs, 2, at("out"));
	html = tl_read_file(at("out/report.html"));
	assert_non_null(html);
	assert_non_null(strstr(html, "<td>300 ms</td>\n        <td>800 ms</td>\n        "
				     "<td>350 ms</td>\n        <td>2</td>\n        "
				     "<td>1.0 ms (p99 1.2 ms)</td>\n        "
				     "<td>DISAGREES (250 ms)</td>"));
	free(html);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* A method name with Markdown and XML syntax in it comes out as text in both. */
static void test_odd_names_are_escaped(void **state)
{
	const struct synth_rep r[] = {{100 * NS_PER_S, 20, false, "", 0, 0}};
	char *dir = strdup(at("20261122-030000-odd")), *md, *html;
	xmlDocPtr doc;

	(void)state;
	make_run(dir, "a|b<c>&'d", "a|b<c>&'d", r, 1);
	write_report(&dir, 1, at("out"));
	md = tl_read_file(at("out/report.md"));
	assert_non_null(strstr(md, "| a\\|b&lt;c>&'d | 1 | 1/1 |"));
	doc = xmlReadFile(at("out/report.html"), NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	xmlFreeDoc(doc);
	html = tl_read_file(at("out/report.html"));
	assert_non_null(strstr(html, "<td>a|b&lt;c&gt;&amp;'d</td>"));
	free(html);
	free(md);
	free(dir);
}

/* The repetitions of the unlike runs below: one each, downtimes easy to tell apart. */
static const struct synth_rep gap20[] = {{100 * NS_PER_S, 20, false, "", 0, 0}};
static const struct synth_rep gap40[] = {{100 * NS_PER_S, 40, false, "", 0, 0}};
static const struct synth_rep gap60[] = {{100 * NS_PER_S, 60, false, "", 0, 0}};
static const struct synth_rep gap80[] = {{100 * NS_PER_S, 80, false, "", 0, 0}};
static const struct synth_rep gap100[] = {{100 * NS_PER_S, 100, false, "", 0, 0}};

/*
 * kexec against other kernels, in a bigger guest, under another
 * accelerator: each a row of its own, its own downtime; the rows say
 * which is which, and so does the downtime plot.
 */
static void test_unlike_runs_of_a_method_get_rows_of_their_own(void **state)
{
	static const struct synth_env newer = {"6.1.0-old", "6.1.0-newer", 512, 2, "tcg"};
	static const struct synth_env big = {"6.1.0-old", "6.1.0-new", 1024, 4, "tcg"};
	static const struct synth_env kvm = {"6.1.0-old", "6.1.0-new", 512, 2, "kvm"};
	char *dirs[] = {strdup(at("r1")), strdup(at("r2")), strdup(at("r3")), strdup(at("r4")),
			strdup(at("r5"))};
	struct scenario_stats *rows;
	struct resultset set;
	char *md, *svg;
	size_t n;

	(void)state;
	make_run(dirs[0], "kexec", "kexec", gap20, 1);
	make_run_in(dirs[1], "kexec", "kexec", &newer, gap40, 1);
	make_run_in(dirs[2], "kexec", "kexec", &big, gap60, 1);
	make_run_in(dirs[3], "kexec", "kexec", &kvm, gap80, 1);
	make_run(dirs[4], "kexec", "kexec", gap100, 1);
	load_rows(dirs, 5, &set, &rows, &n);
	assert_int_equal(n, 4);
	/* In order of first appearance; the fifth run pools with the first. */
	assert_int_equal(rows[0].reps, 2);
	assert_true(fabs(rows[0].downtime.median - 60e6) < 1);
	assert_string_equal(rows[1].key.kernel_new, "6.1.0-newer");
	assert_int_equal(rows[1].reps, 1);
	assert_true(fabs(rows[1].downtime.median - 40e6) < 1);
	assert_int_equal(rows[2].key.memory_mib, 1024);
	assert_int_equal(rows[2].key.vcpus, 4);
	assert_true(fabs(rows[2].downtime.median - 60e6) < 1);
	assert_string_equal(rows[3].key.accel, "kvm");
	assert_true(fabs(rows[3].downtime.median - 80e6) < 1);
	resultset_scenarios_free(rows, n);
	resultset_free(&set);

	write_report(dirs, 5, at("out"));
	md = tl_read_file(at("out/report.md"));
	assert_non_null(md);
	assert_non_null(strstr(md, "| kexec | 2 | 2/2 | 60.0 ms |"));
	assert_non_null(strstr(md, "| kexec | 1 | 1/1 | 40.0 ms |"));
	assert_non_null(strstr(md, "| kexec | 6.1.0-old \xe2\x86\x92 6.1.0-newer | 512 MiB, 2 vCPUs "
				   "| tcg |"));
	assert_non_null(strstr(md, "| kexec | 6.1.0-old \xe2\x86\x92 6.1.0-new | 1 GiB, 4 vCPUs | tcg |"));
	assert_non_null(strstr(md, "| kexec | 6.1.0-old \xe2\x86\x92 6.1.0-new | 512 MiB, 2 vCPUs | kvm |"));
	/* The environment says what was booted: file names, digests, initrd sizes. */
	assert_non_null(strstr(md, "old: vmlinuz-a (sha256 0123456789ab, initrd 30.0 MiB); "
				   "new: vmlinuz-b (sha256 ?, no initrd); "
				   "rootfs: rootfs.img (sha256 fedcba987654)"));
	free(md);
	svg = tl_read_file(at("out/plots/downtime.svg"));
	assert_non_null(svg);
	/* What varies among the rows of kexec is named in each of their labels. */
	assert_non_null(
	    strstr(svg, "kexec (6.1.0-old \xe2\x86\x92 6.1.0-newer, 512 MiB, 2 vCPUs, tcg)"));
	assert_non_null(
	    strstr(svg, "kexec (6.1.0-old \xe2\x86\x92 6.1.0-new, 1 GiB, 4 vCPUs, tcg)"));
	assert_non_null(
	    strstr(svg, "kexec (6.1.0-old \xe2\x86\x92 6.1.0-new, 512 MiB, 2 vCPUs, kvm)"));
	free(svg);
	for (int i = 0; i < 5; i++)
		free(dirs[i]);
}

/* In the files: a ratio column beside the median, and the footnotes under the table. */
static void test_summary_shows_the_ratio_to_twin(void **state)
{
	static const struct synth_rep twin[] = {{100 * NS_PER_S, 20, true, "", 0, 0}};
	static const struct synth_env newer = {"6.1.0-old", "6.1.0-newer", 512, 2, "tcg"};
	char *dirs[] = {strdup(at("twin")), strdup(at("kexec")), strdup(at("kexec-newer"))};
	char *md, *html;

	(void)state;
	make_run(dirs[0], "twin", "twin", twin, 1);
	make_run(dirs[1], "kexec", "kexec", gap60, 1);
	make_run_in(dirs[2], "kexec", "kexec", &newer, gap40, 1);
	write_report(dirs, 3, at("out"));
	md = tl_read_file(at("out/report.md"));
	assert_non_null(md);
	assert_non_null(strstr(md, "| downtime median | \xc3\x97 twin | downtime p90 |"));
	assert_non_null(strstr(md, "| twin | 1 | 1/1 | 20.0 ms | 1.00\xc3\x97 |"));
	assert_non_null(strstr(md, "| kexec | 1 | 1/1 | 60.0 ms | 3.00\xc3\x97 |"));
	assert_non_null(strstr(md, "| kexec | 1 | 1/1 | 40.0 ms | - [1] |"));
	assert_non_null(strstr(md, "\n[1] No twin run with kernels 6.1.0-old \xe2\x86\x92 "
				   "6.1.0-newer under tcg"));
	free(md);
	html = tl_read_file(at("out/report.html"));
	assert_non_null(html);
	assert_non_null(strstr(html, "<td>3.00\xc3\x97</td>"));
	assert_non_null(strstr(html, "<p class=\"note\">[1] No twin run with kernels"));
	free(html);
	for (int i = 0; i < 3; i++)
		free(dirs[i]);
}

static void test_escapers(void **state)
{
	char *s;

	(void)state;
	s = report_csv_field("plain");
	assert_string_equal(s, "plain");
	free(s);
	s = report_csv_field("a,\"b\"\nc");
	assert_string_equal(s, "\"a,\"\"b\"\"\nc\"");
	free(s);
	s = plot_quote("it's\na \"label\"");
	assert_string_equal(s, "'it''sa \"label\"'");
	free(s);
}

/* --png: PNGs next to the SVGs when gnuplot has a PNG terminal, else exit 3 saying so. */
static void test_png_on_request(void **state)
{
	char *dirs[2], term[32], *out = strdup(at("out")), *png;
	char *argv[] = {"report", "--png", "--out", out, NULL, NULL, NULL};
	struct tb_err err;
	int rc, saved = dup(1), devnull = open("/dev/null", O_WRONLY);

	(void)state;
	make_two_runs(dirs);
	argv[4] = dirs[0];
	argv[5] = dirs[1];
	fflush(stdout);
	dup2(devnull, 1);
	rc = cmd_report(6, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(devnull);
	if (plot_png_terminal(term, sizeof(term), &err) == 0) {
		assert_int_equal(rc, 0);
		png = tl_read_file(at("out/plots/timeline-2-twin-boot-rep1.png"));
		assert_non_null(png);
		assert_memory_equal(png, "\x89PNG", 4);
		free(png);
		png = tl_read_file(at("out/plots/downtime.png"));
		assert_non_null(png);
		free(png);
	} else {
		assert_int_equal(rc, 3);
	}
	free(out);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

static void test_bad_results_exit_2(void **state)
{
	char *missing = strdup(at("nonexistent")), *broken = strdup(at("broken"));
	char *a1[] = {"report", missing, NULL}, *a2[] = {"report", broken, NULL};
	char *a3[] = {"report", NULL};
	FILE *f;
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY);

	(void)state;
	assert_int_equal(mkdir(broken, 0755), 0);
	f = fopen(at("broken/run.json"), "w");
	fputs("{\n  \"format\": \"twinbench-run/1\",\n  oops\n}\n", f);
	fclose(f);
	fflush(stderr);
	dup2(devnull, 2);
	assert_int_equal(cmd_report(2, a1), 2);
	assert_int_equal(cmd_report(2, a2), 2);
	assert_int_equal(cmd_report(1, a3), 2);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	free(missing);
	free(broken);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_html_is_wellformed_with_one_svg_per_plot, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_inlined_svg_ids_are_unique, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rtt_cdf_pairs_replies_with_requests, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_timeline_lanes_follow_the_phases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeline_shades_every_gap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_markdown_table_has_the_numbers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csv_has_one_row_per_repetition, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handoff_breakdown_is_tabled, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tool_figures_are_tabled, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_the_spare_guest_is_shown_and_keys_the_row, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_unavailable_is_pooled_over_the_repetitions_that_list_gaps, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_summary_shows_unavailable_gaps_interval_and_capture, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gaps_beside_the_downtime_are_tabled_by_phase,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_the_quiet_window_is_the_first_row_of_the_gaps,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_legacy_run_json_has_no_unavailable, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_csv_has_unavailable_interval_and_capture, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_timeline_lists_every_gap_with_its_phase, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_timeline_prefers_the_gaps_run_json_lists, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_repetitions_table_has_unavailable_and_capture,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_odd_names_are_escaped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unlike_runs_of_a_method_get_rows_of_their_own,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_summary_shows_the_ratio_to_twin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escapers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_png_on_request, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outputs_are_replaced_whole, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_results_exit_2, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	xmlCleanupParser();
	return rc;
}
