/*
 * test_gate.c - the gate's decisions on synthetic results, baseline files
 * (saved, loaded, and malformed ones with their FILE:LINE:COLUMN), the
 * exit codes of `twinbench gate` and the shape of junit.xml.
 *
 * Each test works in its own mkdtemp directory: result directories are
 * written with results_write_json(), as `twinbench run` writes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <limits.h>
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
#include <libxml/xmlschemas.h>

#include "commands.h"
#include "gate.h"
#include "monotime.h"
#include "resultset.h"
#include "results.h"
#include "testlib.h"

static char tmpdir[64]; /* the current test's scratch directory */

static int setup(void **state)
{
	(void)state;
	return tl_mkdtemp("/tmp/test_gate.XXXXXX", tmpdir, sizeof(tmpdir));
}

static int teardown(void **state)
{
	(void)state;
	return tl_rmtree(tmpdir);
}

/* @rel inside the test's directory; valid for the next 7 calls. */
static char *at(void **state, const char *rel)
{
	(void)state;
	return tl_path(tmpdir, rel);
}

static const char *fixture(const char *name)
{
	static char buf[PATH_MAX];
	char file[PATH_MAX];

	snprintf(file, sizeof(file), "%s", __FILE__);
	snprintf(buf, sizeof(buf), "%s/fixtures/%s%s", dirname(file),
		 strchr(name, '/') ? "" : "gate/", name);
	return buf;
}

/* 0 if the document at @path is valid against fixtures/report/junit.xsd. */
static int junit_schema_errors(const char *path)
{
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(fixture("report/junit.xsd"));
	xmlSchemaPtr schema = xmlSchemaParse(pc);
	xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
	xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
	int rc;

	assert_non_null(schema);
	assert_non_null(doc);
	rc = xmlSchemaValidateDoc(vc, doc);
	xmlFreeDoc(doc);
	xmlSchemaFreeValidCtxt(vc);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pc);
	return rc;
}

struct spec {
	const char *method; /* and the scenario's name */
	const char *accel;
	const double *down_ms; /* NULL: no repetition measured a downtime */
	const double *maint_ms;
	const int *verified; /* NULL: all verified */
	size_t n;
	const char *kernel_new; /* NULL: 6.1.0-b (kernel_old is always 6.1.0-a) */
	int memory_mib;		/* 0: 512 */
	const char *scenario;	/* NULL: the method's name */
};

/* What runs record since run.json lists gaps; none of it in one written before. */
struct spec_since {
	/* Each repetition's unavailable time, in one gap, with a 1 ms achieved interval. */
	const double *unav_ms;
	/* Each one's packet capture: 1 agrees, -1 says half the downtime (and why), 0 none. */
	const int *capture;
};

/*
 * A result directory @dir/run.json as `twinbench run` would write it, with
 * what @x says (NULL: as written before gaps were recorded).
 */
static void make_run_since(const char *dir, const struct spec *s, const struct spec_since *x)
{
	struct repetition *reps = calloc(s->n ? s->n : 1, sizeof(*reps));
	struct run_info info = {0};
	char path[PATH_MAX];
	struct tb_err err;

	assert_non_null(reps);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(info.scenario, sizeof(info.scenario), "%s", s->scenario ? s->scenario : s->method);
	snprintf(info.scenario_path, sizeof(info.scenario_path), "scenarios/%s.yaml",
		 info.scenario);
	snprintf(info.method, sizeof(info.method), "%s", s->method);
	snprintf(info.started, sizeof(info.started), "2026-11-22T02:00:00Z");
	snprintf(info.accel, sizeof(info.accel), "%s", s->accel ? s->accel : "tcg");
	snprintf(info.qemu_version, sizeof(info.qemu_version), "7.2.22");
	snprintf(info.libvirt_version, sizeof(info.libvirt_version), "9.0.0");
	snprintf(info.host_kernel, sizeof(info.host_kernel), "6.1.0");
	snprintf(info.kernel_old, sizeof(info.kernel_old), "6.1.0-a");
	snprintf(info.kernel_new, sizeof(info.kernel_new), "%s",
		 s->kernel_new ? s->kernel_new : "6.1.0-b");
	info.guest_memory_mib = s->memory_mib ? s->memory_mib : 512;
	info.guest_vcpus = 2;
	info.probe_interval_ns = NS_PER_MS;
	info.repetitions = (int)s->n;
	for (size_t i = 0; i < s->n; i++) {
		struct repetition *r = &reps[i];

		r->index = (int)i + 1;
		r->verified = s->verified ? s->verified[i] : true;
		r->ok = r->verified;
		r->measured = s->down_ms != NULL;
		r->downtime_ns = s->down_ms ? (int64_t)(s->down_ms[i] * NS_PER_MS) : 0;
		r->maintenance_ns = s->maint_ms ? (int64_t)(s->maint_ms[i] * NS_PER_MS) : 0;
		r->sent = 1000;
		repetition_mark(r, "upgrade_start", 1000 * NS_PER_S);
		if (x && x->unav_ms) {
			r->interval_median_ns = NS_PER_MS;
			r->interval_p99_ns = NS_PER_MS;
			r->unavailable_ns = (int64_t)(x->unav_ms[i] * NS_PER_MS);
			r->gaps[0] =
			    (struct rep_gap){1000 * NS_PER_S, 1000 * NS_PER_S + r->unavailable_ns,
					     false, "upgrade_start"};
			r->ngaps = r->gaps_found = 1;
		}
		if (x && x->capture && x->capture[i]) {
			r->captured = true;
			r->capture_agrees = x->capture[i] > 0;
			r->capture_downtime_ns =
			    r->capture_agrees ? r->downtime_ns : r->downtime_ns / 2;
			if (!r->capture_agrees)
				snprintf(r->capture_note, sizeof(r->capture_note),
					 "3 frames dropped");
		}
	}
	snprintf(path, sizeof(path), "%s/run.json", dir);
	if (results_write_json(path, &info, reps, s->n, &err))
		fail_msg("%s", err.msg);
	free(reps);
}

static void make_run(const char *dir, const struct spec *s)
{
	make_run_since(dir, s, NULL);
}

/* Run a subcommand with stdout silenced and stderr captured into @errbuf. */
static int run_cmd(int (*fn)(int, char **), const char *const *args, char *errbuf, size_t len)
{
	char *argv[32], tmpl[] = "/tmp/test_gate_err.XXXXXX";
	int argc = 0, rc, saved_out, saved_err, devnull, fd;
	ssize_t n;

	while (argc < 31 && args[argc]) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	fd = mkstemp(tmpl);
	devnull = open("/dev/null", O_WRONLY);
	assert_true(fd >= 0 && devnull >= 0);
	saved_out = dup(1);
	saved_err = dup(2);
	dup2(devnull, 1);
	dup2(fd, 2);
	rc = fn(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	close(devnull);
	n = pread(fd, errbuf, len - 1, 0);
	errbuf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(tmpl);
	return rc;
}

static const double base5[] = {95, 100, 102, 104, 110};
static const double maint5[] = {1000, 1000, 1000, 1000, 1000};

/* Save a baseline of kexec with @down_ms (5 repetitions); returns its path. */
static const char *save_baseline(void **state, const double *down_ms, size_t n)
{
	const struct spec s = {"kexec", NULL, down_ms, maint5, NULL, n, NULL, 0, NULL};
	char *dir = at(state, "base-kexec"), *file = at(state, "baseline.json"), err[2048];
	const char *args[] = {"gate", "--save", file, dir, NULL};

	make_run(dir, &s);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 0);
	return file;
}

/* Load @dirs and compare with @baseline through the library, with @flags. */
static void compare_with(const char *baseline, char **dirs, size_t n, unsigned flags,
			 struct gate_result *r)
{
	struct resultset set;
	struct gate_baseline b;
	struct tb_err err;

	if (gate_baseline_load(baseline, &b, &err) || resultset_load(&set, dirs, n, &err) ||
	    gate_compare(&b, &set, flags, r, &err))
		fail_msg("%s", err.msg);
	resultset_free(&set);
	gate_baseline_free(&b);
}

/* Load @dir and compare with @baseline through the library. */
static void compare(const char *baseline, char *dir, struct gate_result *r)
{
	struct resultset set;
	struct gate_baseline b;
	struct tb_err err;

	if (gate_baseline_load(baseline, &b, &err) || resultset_load(&set, &dir, 1, &err) ||
	    gate_compare(&b, &set, 0, r, &err))
		fail_msg("%s", err.msg);
	resultset_free(&set);
	gate_baseline_free(&b);
}

static const struct gate_check *check_of(const struct gate_result *r, const char *scenario,
					 enum gate_metric m)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->checks[i].scenario, scenario) && r->checks[i].metric == m)
			return &r->checks[i];
	fail_msg("no check for %s %s", scenario, gate_metric_name(m));
	return NULL;
}

static void test_equal_results_pass(void **state)
{
	const char *bl = save_baseline(state, base5, 5);
	const struct spec s = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	char *cur = at(state, "cur"), *out = at(state, "out"), err[2048], *junit;
	const char *args[] = {"gate", "--baseline", bl, "--out", out, cur, NULL};

	make_run(cur, &s);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 0);
	junit = tl_read_file(at(state, "out/junit.xml"));
	assert_non_null(junit);
	assert_non_null(strstr(junit, "tests=\"5\" failures=\"0\""));
	free(junit);
}

/* A second verdict into the same directory replaces both files whole: no temporary stays. */
static void test_verdict_files_are_replaced_whole(void **state)
{
	const char *bl = save_baseline(state, base5, 5);
	const struct spec s = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	char *cur = at(state, "cur"), *out = at(state, "out"), err[2048];
	const char *args[] = {"gate", "--baseline", bl, "--out", out, cur, NULL};

	make_run(cur, &s);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 0);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 0);
	assert_string_equal(tl_list_dir(out), "gate.md junit.xml");
}

/* A baseline that cannot be written is an environment problem (exit 3), named. */
static void test_save_into_a_missing_directory_exits_3(void **state)
{
	const struct spec s = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	char *cur = at(state, "cur"), *file = at(state, "no/such/base.json"), err[2048];
	const char *args[] = {"gate", "--save", file, cur, NULL};

	make_run(cur, &s);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 3);
	assert_non_null(strstr(err, "no/such/base.json"));
}

/* Twice as slow, every repetition: over the thresholds and significant. */
static void test_clearly_slower_fails_naming_both_values(void **state)
{
	static const double slow[] = {190, 200, 205, 210, 220};
	const char *bl = save_baseline(state, base5, 5);
	const struct spec s = {"kexec", NULL, slow, maint5, NULL, 5, NULL, 0, NULL};
	char *cur = at(state, "cur"), *out = at(state, "out"), err[2048], *md;
	const char *args[] = {"gate", "--baseline", bl, "--out", out, cur, NULL};
	const struct gate_check *c;
	struct gate_result r;

	make_run(cur, &s);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 1);
	compare(bl, cur, &r);
	assert_int_equal(r.regressions, 1);
	c = check_of(&r, "kexec", GATE_DOWNTIME);
	assert_int_equal(c->outcome, GATE_REGRESSION);
	assert_true(c->tested);
	/* All 5 above all 5: the exact one-sided p is 1/C(10,5) = 1/252. */
	assert_true(fabs(c->p - 1.0 / 252) < 1e-12);
	assert_int_equal(check_of(&r, "kexec", GATE_MAINTENANCE)->outcome, GATE_PASS);
	assert_int_equal(check_of(&r, "kexec", GATE_VERIFIED)->outcome, GATE_PASS);
	gate_result_free(&r);
	md = tl_read_file(at(state, "out/gate.md"));
	assert_non_null(md);
	assert_non_null(strstr(md, "FAIL, 1 regression"));
	assert_non_null(
	    strstr(md, "**kexec downtime**: median 205 ms against the baseline's 102 ms"));
	free(md);
	md = tl_read_file(at(state, "out/junit.xml"));
	assert_non_null(strstr(md, "<failure type=\"regression\" message=\"102 ms -&gt; 205 ms"));
	free(md);
}

/*
 * Medians 100 -> 112 ms (+12%, +12 ms: over 10% and 10 ms) but the samples
 * overlap: U = 16 of 25, exact one-sided p = 69/252 = 0.274.  Noise: pass.
 */
static void test_noisy_but_equal_passes(void **state)
{
	static const double base[] = {80, 95, 100, 105, 120}, cur5[] = {85, 98, 112, 115, 125};
	const char *bl = save_baseline(state, base, 5);
	const struct spec s = {"kexec", NULL, cur5, maint5, NULL, 5, NULL, 0, NULL};
	char *cur = at(state, "cur");
	const struct gate_check *c;
	struct gate_result r;

	make_run(cur, &s);
	compare(bl, cur, &r);
	c = check_of(&r, "kexec", GATE_DOWNTIME);
	assert_int_equal(c->outcome, GATE_PASS);
	assert_true(c->tested);
	assert_true(fabs(c->p - 69.0 / 252) < 1e-12);
	assert_true(fabs(c->cur - 112e6) < 1);
	assert_non_null(strstr(c->detail, "not significant"));
	assert_int_equal(r.regressions, 0);
	gate_result_free(&r);
}

static void test_method_no_longer_verified_fails(void **state)
{
	static const int verified[] = {1, 1, 0, 1, 1};
	const char *bl = save_baseline(state, base5, 5);
	const struct spec s = {"kexec", NULL, base5, maint5, verified, 5, NULL, 0, NULL};
	char *cur = at(state, "cur"), *out = at(state, "out"), err[2048];
	const char *args[] = {"gate", "--baseline", bl, "--out", out, cur, NULL};
	const struct gate_check *c;
	struct gate_result r;

	make_run(cur, &s);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 1);
	compare(bl, cur, &r);
	c = check_of(&r, "kexec", GATE_VERIFIED);
	assert_int_equal(c->outcome, GATE_REGRESSION);
	assert_non_null(strstr(c->detail, "4 of 5 repetitions verified"));
	assert_int_equal(check_of(&r, "kexec", GATE_DOWNTIME)->outcome, GATE_PASS);
	gate_result_free(&r);
}

/* 1 vs 1 cannot reach p < 0.05: the thresholds alone decide, and the verdict says so. */
static void test_single_repetition_falls_back_to_thresholds(void **state)
{
	static const double one[] = {100}, slower[] = {150}, close_by[] = {105};
	const char *bl = save_baseline(state, one, 1);
	const struct spec s1 = {"kexec", NULL, slower, maint5, NULL, 1, NULL, 0, NULL};
	const struct spec s2 = {"kexec", NULL, close_by, maint5, NULL, 1, NULL, 0, NULL};
	char *cur = at(state, "slower"), *cur2 = at(state, "close");
	const struct gate_check *c;
	struct gate_result r;

	make_run(cur, &s1);
	compare(bl, cur, &r);
	c = check_of(&r, "kexec", GATE_DOWNTIME);
	assert_int_equal(c->outcome, GATE_REGRESSION);
	assert_false(c->tested);
	assert_non_null(strstr(c->detail, "significance not testable with 1 vs 1 repetitions"));
	gate_result_free(&r);

	make_run(cur2, &s2);
	compare(bl, cur2, &r);
	assert_int_equal(check_of(&r, "kexec", GATE_DOWNTIME)->outcome, GATE_PASS);
	gate_result_free(&r);
}

/* +15% but only +4.5 ms with a 10 ms absolute threshold: significant, yet not a regression. */
static void test_increase_under_absolute_threshold_passes(void **state)
{
	static const double base[] = {29, 29.5, 30, 30.5, 31}, cur5[] = {33.5, 34, 34.5, 35, 35.5};
	const char *bl = save_baseline(state, base, 5);
	const struct spec s = {"kexec", NULL, cur5, maint5, NULL, 5, NULL, 0, NULL};
	char *cur = at(state, "cur");
	const struct gate_check *c;
	struct gate_result r;

	make_run(cur, &s);
	compare(bl, cur, &r);
	c = check_of(&r, "kexec", GATE_DOWNTIME);
	assert_true(c->tested);
	assert_true(c->p < 0.05);
	assert_int_equal(c->outcome, GATE_PASS);
	assert_non_null(strstr(c->detail, "within the thresholds"));
	gate_result_free(&r);
}

static void test_downtime_no_longer_measured_fails(void **state)
{
	const char *bl = save_baseline(state, base5, 5);
	const struct spec s = {"kexec", NULL, NULL, maint5, NULL, 5, NULL, 0, NULL};
	char *cur = at(state, "cur");
	const struct gate_check *c;
	struct gate_result r;

	make_run(cur, &s);
	compare(bl, cur, &r);
	c = check_of(&r, "kexec", GATE_DOWNTIME);
	assert_int_equal(c->outcome, GATE_REGRESSION);
	assert_non_null(strstr(c->detail, "no repetition measured it"));
	gate_result_free(&r);
}

/*
 * good.json has kexec and reboot; the results have kexec and twin-boot.
 * reboot has no results: a failure naming it, unless --allow-missing,
 * which skips it; twin-boot is not in the baseline: skipped either way.
 */
static void test_missing_entry_fails_unless_allowed(void **state)
{
	static const double tb[] = {5}, maint300[] = {300, 300, 300, 300, 300};
	const struct spec k = {"kexec", NULL, base5, maint300, NULL, 5, NULL, 0, NULL};
	const struct spec t = {"twin-boot", NULL, tb, NULL, NULL, 1, NULL, 0, NULL};
	char *dirs[] = {strdup(at(state, "kexec")), strdup(at(state, "twin"))};
	char *out = strdup(at(state, "out")), *good = strdup(fixture("good.json")), err[2048];
	const char *strict[] = {"gate", "--baseline", good, "--out", out, dirs[0], dirs[1], NULL};
	const char *lenient[] = {"gate", "--baseline", good, "--allow-missing",
				 "--out", out, dirs[0], dirs[1], NULL};
	char *junit, *md;
	const struct gate_check *c;
	struct gate_result r;

	make_run(dirs[0], &k);
	make_run(dirs[1], &t);
	compare_with(good, dirs, 2, 0, &r);
	assert_int_equal(r.n, 3 * GATE_METRICS);
	assert_int_equal(r.regressions, GATE_METRICS); /* reboot: every metric */
	/*
	 * twin-boot: no baseline, and no capture; kexec's unavailable: not in it
	 * (good.json predates it), and no capture either.
	 */
	assert_int_equal(r.skipped, GATE_METRICS + 2);
	assert_int_equal(check_of(&r, "kexec", GATE_UNAVAILABLE)->outcome, GATE_SKIPPED);
	c = check_of(&r, "reboot", GATE_VERIFIED);
	assert_int_equal(c->outcome, GATE_REGRESSION);
	assert_string_equal(c->summary, "no current results");
	assert_non_null(strstr(c->detail, "no current results for this scenario"));
	assert_int_equal(check_of(&r, "twin-boot", GATE_DOWNTIME)->outcome, GATE_SKIPPED);
	assert_int_equal(check_of(&r, "kexec", GATE_MAINTENANCE)->outcome, GATE_PASS);
	gate_result_free(&r);

	compare_with(good, dirs, 2, GATE_ALLOW_MISSING, &r);
	assert_int_equal(r.regressions, 0);
	assert_int_equal(r.skipped, 2 * GATE_METRICS + 2);
	assert_int_equal(check_of(&r, "reboot", GATE_DOWNTIME)->outcome, GATE_SKIPPED);
	assert_non_null(strstr(r.notes, "1 baseline scenario had no current results"));
	gate_result_free(&r);

	assert_int_equal(run_cmd(cmd_gate, strict, err, sizeof(err)), 1);
	assert_int_equal(junit_schema_errors(at(state, "out/junit.xml")), 0);
	md = tl_read_file(at(state, "out/gate.md"));
	assert_non_null(strstr(md, "FAIL, 5 regressions"));
	assert_non_null(strstr(md, "**reboot downtime**: no current results for this scenario"));
	free(md);
	assert_int_equal(run_cmd(cmd_gate, lenient, err, sizeof(err)), 0);
	assert_int_equal(junit_schema_errors(at(state, "out/junit.xml")), 0);
	junit = tl_read_file(at(state, "out/junit.xml"));
	assert_non_null(strstr(junit, "skipped=\"12\""));
	free(junit);
	free(out);
	free(good);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* A /1 entry stands for its method's row: two rows of kexec leave it not knowing which. */
static void test_v1_entry_matching_two_rows_fails(void **state)
{
	const struct spec k = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	const struct spec big = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 2048, "kexec-big"};
	char *dirs[] = {strdup(at(state, "kexec")), strdup(at(state, "big"))};
	const struct gate_check *c;
	struct gate_result r;

	make_run(dirs[0], &k);
	make_run(dirs[1], &big);
	compare_with(fixture("good.json"), dirs, 2, GATE_ALLOW_MISSING, &r);
	c = check_of(&r, "kexec", GATE_DOWNTIME);
	assert_int_equal(c->outcome, GATE_REGRESSION);
	assert_string_equal(c->summary, "ambiguous");
	assert_non_null(strstr(c->detail, "2 current rows match this entry (scenarios kexec, "
					  "kexec-big)"));
	gate_result_free(&r);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* A twinbench-baseline/1 file, keyed by method, still loads. */
static void test_good_fixture_loads_with_defaults(void **state)
{
	struct gate_baseline b;
	struct tb_err err;

	(void)state;
	if (gate_baseline_load(fixture("good.json"), &b, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(b.version, 1);
	assert_int_equal(b.n, 2);
	assert_string_equal(b.accel, "tcg");
	assert_true(fabs(b.alpha - 0.05) < 1e-12);
	assert_string_equal(b.entries[0].key.method, "kexec");
	assert_string_equal(b.entries[0].key.scenario, "");
	assert_string_equal(b.entries[0].key.accel, "tcg");
	assert_string_equal(b.entries[0].key.kernel_old, "");
	assert_int_equal(b.entries[0].key.memory_mib, 0);
	assert_int_equal(b.entries[0].repetitions, 5);
	assert_true(b.entries[0].min_verified_ratio == 1.0); /* defaults to the ratio */
	assert_true(b.entries[0].timing[GATE_DOWNTIME].present);
	assert_int_equal(b.entries[0].timing[GATE_DOWNTIME].nvalues, 5);
	assert_int_equal(b.entries[0].timing[GATE_DOWNTIME].absolute_ns, 10000000);
	assert_true(b.entries[0].timing[GATE_MAINTENANCE].present);
	assert_int_equal(b.entries[0].timing[GATE_MAINTENANCE].nvalues, 0);
	assert_true(fabs(b.entries[0].timing[GATE_MAINTENANCE].relative - 0.2) < 1e-12);
	assert_string_equal(b.entries[1].key.method, "reboot");
	assert_true(fabs(b.entries[1].min_verified_ratio - 0.6) < 1e-12);
	assert_false(b.entries[1].timing[GATE_MAINTENANCE].present);
	gate_baseline_free(&b);
}

/*
 * A format /1 baseline (the one committed until the twin kernels' bench
 * replaced it) loads, each entry with its environment's kernels.
 */
static void test_committed_baseline_still_loads(void **state)
{
	struct gate_baseline b;
	struct tb_err err;

	(void)state;
	/* The committed one is /2 now, of the twin kernels, and loads too. */
	if (gate_baseline_load(fixture("../../../results/baselines/tcg.json"), &b, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(b.version, 2);
	/* Every method upgrades twin-a -> twin-b; vm-migrate, a reference, upgrades nothing. */
	for (size_t i = 0; i < b.n; i++) {
		assert_string_equal(b.entries[i].key.kernel_old, "6.1.192-twinbench-a");
		assert_string_equal(b.entries[i].key.kernel_new,
				    strcmp(b.entries[i].key.method, "vm-migrate")
					    ? "6.1.192-twinbench-b"
					    : "6.1.192-twinbench-a");
	}
	gate_baseline_free(&b);
	if (gate_baseline_load(fixture("v1_tcg_debian.json"), &b, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(b.version, 1);
	assert_int_equal(b.n, 4);
	for (size_t i = 0; i < b.n; i++) {
		assert_string_equal(b.entries[i].key.kernel_old, "6.1.0-50-amd64");
		assert_string_equal(b.entries[i].key.kernel_new, "6.1.0-50-amd64");
		assert_string_equal(b.entries[i].key.accel, "tcg");
	}
	assert_string_equal(b.entries[3].key.method, "twin-dual");
	gate_baseline_free(&b);
}

/* A /2 file: an entry per scenario, with what it ran. */
static void test_scenario_fixture_loads_with_its_key(void **state)
{
	struct gate_baseline b;
	struct tb_err err;

	(void)state;
	if (gate_baseline_load(fixture("good_v2.json"), &b, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(b.version, 2);
	assert_int_equal(b.n, 2);
	assert_string_equal(b.entries[0].key.scenario, "kexec");
	assert_string_equal(b.entries[0].key.method, "kexec");
	assert_string_equal(b.entries[0].key.kernel_old, "6.1.0-a");
	assert_string_equal(b.entries[0].key.kernel_new, "6.1.0-b");
	assert_int_equal(b.entries[0].key.memory_mib, 512);
	assert_int_equal(b.entries[0].key.vcpus, 2);
	assert_string_equal(b.entries[0].key.accel, "tcg");
	assert_string_equal(b.entries[1].key.scenario, "kexec-big");
	assert_int_equal(b.entries[1].key.memory_mib, 2048);
	assert_true(fabs(b.entries[1].timing[GATE_DOWNTIME].median - 90e6) < 1);
	gate_baseline_free(&b);
}

/* Each malformed baseline, and where its error must point. */
static void test_malformed_baselines_exit_2_with_position(void **state)
{
	static const struct {
		const char *file, *where, *says;
	} cases[] = {
	    {"syntax_error.json", ":3:11: ", "expected"},
	    {"relative_not_number.json",
	     ":8:37: ", "methods.kexec.downtime_ns.thresholds.relative: expected a fraction"},
	    {"unknown_key.json", ":8:9: ", "methods.kexec.downtime_ns.treshold: unknown key"},
	    {"missing_thresholds.json", ":6:22: ", "missing \"thresholds\""},
	    {"negative_value.json", ":8:25: ", "values[1]: -5 is negative"},
	    {"ratio_out_of_range.json", ":4:40: ", "verified.ratio: 1.5 is out of range"},
	    {"wrong_format.json", ":2:13: ",
	     "is not \"twinbench-baseline/2\" (nor the older \"twinbench-baseline/1\")"},
	    {"v2_missing_method.json", ":4:14: ", "scenarios.kexec: missing \"method\""},
	    {"v2_fractional_vcpus.json", ":9:16: ", "scenarios.kexec.vcpus: expected a whole number"},
	    {"v2_keyed_by_method.json", ":3:3: ", "methods: unknown key"},
	    {"duplicate_method.json", ":5:", "duplicate object key"},
	    {"not_an_object.json", ":1:1: ", "expected an object, got an array"},
	    {"no_methods.json", ":1:48: ", "nothing to gate"},
	};
	const struct spec s = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	char *cur = at(state, "cur"), *out = at(state, "out"), err[4096], want[PATH_MAX];

	make_run(cur, &s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = fixture(cases[i].file);
		const char *args[] = {"gate", "--baseline", path, "--out", out, cur, NULL};

		snprintf(want, sizeof(want), "%s%s", path, cases[i].where);
		if (run_cmd(cmd_gate, args, err, sizeof(err)) != 2)
			fail_msg("%s: not exit 2: %s", cases[i].file, err);
		if (!strstr(err, want) || !strstr(err, cases[i].says))
			fail_msg("%s: want \"%s\" and \"%s\", got: %s", cases[i].file, want,
				 cases[i].says, err);
	}
}

static void test_bad_usage_exits_2(void **state)
{
	const struct spec s = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	char *cur = at(state, "cur"), err[2048];
	const char *no_baseline[] = {"gate", cur, NULL};
	const char *both[] = {"gate", "--baseline", "x.json", "--save", "y.json", cur, NULL};
	const char *no_results[] = {"gate", "--baseline", fixture("good.json"), NULL};
	const char *missing_dir[] = {"gate", "--baseline", fixture("good.json"),
				     at(state, "nonexistent"), NULL};
	const char *missing_file[] = {"gate", "--baseline", at(state, "nope.json"), cur, NULL};
	const char *bad_relative[] = {"gate", "--save", "x.json", "--relative", "lots", cur, NULL};

	make_run(cur, &s);
	assert_int_equal(run_cmd(cmd_gate, no_baseline, err, sizeof(err)), 2);
	assert_int_equal(run_cmd(cmd_gate, both, err, sizeof(err)), 2);
	assert_int_equal(run_cmd(cmd_gate, no_results, err, sizeof(err)), 2);
	assert_int_equal(run_cmd(cmd_gate, missing_dir, err, sizeof(err)), 2);
	assert_non_null(strstr(err, "nonexistent"));
	assert_int_equal(run_cmd(cmd_gate, missing_file, err, sizeof(err)), 2);
	assert_non_null(strstr(err, "nope.json"));
	assert_int_equal(run_cmd(cmd_gate, bad_relative, err, sizeof(err)), 2);
}

/* --save writes what --baseline reads: values, medians and the default thresholds. */
static void test_saved_baseline_round_trips(void **state)
{
	const char *bl = save_baseline(state, base5, 5);
	struct gate_baseline b;
	struct tb_err err;

	if (gate_baseline_load(bl, &b, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(b.version, 2);
	assert_int_equal(b.n, 1);
	assert_string_equal(b.entries[0].key.scenario, "kexec");
	assert_string_equal(b.entries[0].key.method, "kexec");
	assert_string_equal(b.entries[0].key.kernel_old, "6.1.0-a");
	assert_string_equal(b.entries[0].key.kernel_new, "6.1.0-b");
	assert_int_equal(b.entries[0].key.memory_mib, 512);
	assert_int_equal(b.entries[0].key.vcpus, 2);
	assert_string_equal(b.entries[0].key.accel, "tcg");
	assert_true(b.entries[0].verified_ratio == 1.0);
	assert_int_equal(b.entries[0].timing[GATE_DOWNTIME].nvalues, 5);
	assert_true(fabs(b.entries[0].timing[GATE_DOWNTIME].median - 102e6) < 1);
	assert_true(fabs(b.entries[0].timing[GATE_DOWNTIME].values[4] - 110e6) < 1);
	assert_true(fabs(b.entries[0].timing[GATE_DOWNTIME].relative - 0.10) < 1e-9);
	/* Ten probe intervals of 1 ms. */
	assert_int_equal(b.entries[0].timing[GATE_DOWNTIME].absolute_ns, 10 * NS_PER_MS);
	assert_true(fabs(b.entries[0].timing[GATE_MAINTENANCE].median - 1e9) < 1);
	gate_baseline_free(&b);
}

/* One scenario against two kernel pairs is two rows: no single baseline for it. */
static void test_save_refuses_two_rows_of_one_scenario(void **state)
{
	const struct spec a = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	const struct spec c = {"kexec", NULL, base5, maint5, NULL, 5, "6.1.0-c", 0, NULL};
	char *dirs[] = {strdup(at(state, "a")), strdup(at(state, "c"))};
	char *file = strdup(at(state, "baseline.json")), err[2048];
	const char *args[] = {"gate", "--save", file, dirs[0], dirs[1], NULL};

	make_run(dirs[0], &a);
	make_run(dirs[1], &c);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 2);
	assert_non_null(strstr(err, "two rows of scenario kexec"));
	assert_non_null(strstr(err, "6.1.0-a \xe2\x86\x92 6.1.0-b"));
	assert_non_null(strstr(err, "6.1.0-a \xe2\x86\x92 6.1.0-c"));
	assert_int_equal(access(file, F_OK), -1);
	free(file);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* Each entry is compared with the row that ran the same; the verdict says what that was. */
static void test_entry_is_compared_with_its_alike_row(void **state)
{
	static const double slow[] = {190, 200, 205, 210, 220};
	const struct spec k = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	const struct spec big = {"kexec", NULL, slow, maint5, NULL, 5, NULL, 2048, "kexec-big"};
	char *dirs[] = {at(state, "kexec"), at(state, "big")};
	struct resultset set;
	struct gate_baseline b;
	struct gate_result r;
	struct tb_err e;
	char *md;
	size_t len;
	FILE *f;

	make_run(dirs[0], &k);
	make_run(dirs[1], &big);
	if (gate_baseline_load(fixture("good_v2.json"), &b, &e) ||
	    resultset_load(&set, dirs, 2, &e) || gate_compare(&b, &set, 0, &r, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(r.n, 2 * GATE_METRICS);
	assert_int_equal(check_of(&r, "kexec", GATE_DOWNTIME)->outcome, GATE_PASS);
	/* kexec-big's baseline median is 90 ms: 205 ms is its regression, not kexec's. */
	assert_int_equal(check_of(&r, "kexec-big", GATE_DOWNTIME)->outcome, GATE_REGRESSION);
	assert_true(fabs(check_of(&r, "kexec-big", GATE_DOWNTIME)->base - 90e6) < 1);
	assert_string_equal(check_of(&r, "kexec-big", GATE_VERIFIED)->ran,
			    "kexec, 6.1.0-a \xe2\x86\x92 6.1.0-b, 2 GiB, 2 vCPUs, tcg");
	f = open_memstream(&md, &len);
	assert_int_equal(gate_print_markdown(&r, "good_v2.json", &b, f), 0);
	fclose(f);
	assert_non_null(strstr(md, "| scenario | metric |"));
	assert_non_null(strstr(md, "- kexec-big: kexec, 6.1.0-a \xe2\x86\x92 6.1.0-b, 2 GiB, 2 vCPUs, tcg\n"));
	free(md);
	gate_result_free(&r);
	resultset_free(&set);
	gate_baseline_free(&b);
}

/*
 * Valid against the JUnit schema (fixtures/report/junit.xsd), and the
 * counts add up: testsuites > testsuite > testcase*, failures as children.
 */
static void test_junit_has_the_schema_shape(void **state)
{
	static const double slow[] = {190, 200, 205, 210, 220};
	static const int verified[] = {1, 0, 1, 1, 1};
	const char *bl = save_baseline(state, base5, 5);
	const struct spec s = {"kexec", NULL, slow, maint5, verified, 5, NULL, 0, NULL};
	char *cur = at(state, "cur"), *out = at(state, "out"), err[2048];
	const char *args[] = {"gate", "--baseline", bl, "--out", out, cur, NULL};
	xmlNodePtr root, suite, tc;
	int cases = 0, failures = 0;
	xmlChar *v;
	xmlDocPtr doc;

	make_run(cur, &s);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 1);
	assert_int_equal(junit_schema_errors(at(state, "out/junit.xml")), 0);
	doc = xmlReadFile(at(state, "out/junit.xml"), NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	root = xmlDocGetRootElement(doc);
	assert_string_equal((const char *)root->name, "testsuites");
	suite = xmlFirstElementChild(root);
	assert_string_equal((const char *)suite->name, "testsuite");
	assert_null(xmlNextElementSibling(suite));
	for (tc = xmlFirstElementChild(suite); tc; tc = xmlNextElementSibling(tc)) {
		xmlNodePtr child = xmlFirstElementChild(tc);

		assert_string_equal((const char *)tc->name, "testcase");
		assert_true(xmlHasProp(tc, BAD_CAST "classname") &&
			    xmlHasProp(tc, BAD_CAST "name"));
		cases++;
		if (child && !strcmp((const char *)child->name, "failure")) {
			failures++;
			assert_non_null(xmlHasProp(child, BAD_CAST "message"));
		}
	}
	assert_int_equal(cases, GATE_METRICS);
	assert_int_equal(failures, 2); /* downtime and verified */
	v = xmlGetProp(suite, BAD_CAST "failures");
	assert_string_equal((const char *)v, "2");
	xmlFree(v);
	v = xmlGetProp(suite, BAD_CAST "tests");
	assert_string_equal((const char *)v, "5");
	xmlFree(v);
	xmlFreeDoc(doc);
}

/* Results from another accelerator than the baseline's fail, --allow-missing or not. */
static void test_other_accelerator_fails(void **state)
{
	const char *bl = save_baseline(state, base5, 5);
	const struct spec s = {"kexec", "kvm", base5, maint5, NULL, 5, NULL, 0, NULL};
	char *cur = at(state, "cur"), *out = at(state, "out"), err[2048];
	const char *args[] = {"gate", "--baseline", bl, "--allow-missing", "--out", out, cur, NULL};
	const struct gate_check *c;
	struct gate_result r;

	make_run(cur, &s);
	compare(bl, cur, &r);
	assert_int_equal(r.regressions, GATE_METRICS);
	c = check_of(&r, "kexec", GATE_DOWNTIME);
	assert_int_equal(c->outcome, GATE_REGRESSION);
	assert_string_equal(c->summary, "not comparable");
	assert_non_null(strstr(c->detail, "accelerator kvm (baseline: tcg)"));
	gate_result_free(&r);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 1);
}

/*
 * Results of other kernels than the baseline's fail, naming both pairs:
 * against a saved /2 baseline, and against a /1 one (Debian's kernels),
 * whose kernels are its environment's.
 */
static void test_other_kernels_fail(void **state)
{
	const char *bl = save_baseline(state, base5, 5);
	const struct spec s = {"kexec", NULL, base5, maint5, NULL, 5, "6.1.0-c", 0, NULL};
	char *cur = at(state, "cur"), *out = at(state, "out"), err[2048];
	const char *args[] = {"gate", "--baseline", bl, "--allow-missing", "--out", out, cur, NULL};
	const struct gate_check *c;
	struct gate_result r;

	make_run(cur, &s);
	compare(bl, cur, &r);
	assert_int_equal(r.regressions, GATE_METRICS);
	c = check_of(&r, "kexec", GATE_VERIFIED);
	assert_int_equal(c->outcome, GATE_REGRESSION);
	assert_non_null(strstr(c->detail, "kernels 6.1.0-a \xe2\x86\x92 6.1.0-c (baseline: "
					  "6.1.0-a \xe2\x86\x92 6.1.0-b)"));
	gate_result_free(&r);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 1);

	compare_with(fixture("v1_tcg_debian.json"), &cur, 1, GATE_ALLOW_MISSING, &r);
	c = check_of(&r, "kexec", GATE_DOWNTIME);
	assert_int_equal(c->outcome, GATE_REGRESSION);
	assert_non_null(strstr(c->detail, "(baseline: 6.1.0-50-amd64 \xe2\x86\x92 6.1.0-50-amd64)"));
	/* reboot, twin and twin-dual have no results: skipped, as asked. */
	assert_int_equal(r.regressions, GATE_METRICS);
	assert_int_equal(r.skipped, 3 * GATE_METRICS);
	gate_result_free(&r);
}

/* Save a baseline of kexec runs that recorded @unav_ms (5 repetitions); returns its path. */
static const char *save_unavailable_baseline(void **state, const double *unav_ms)
{
	const struct spec s = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	const struct spec_since x = {.unav_ms = unav_ms};
	char *dir = at(state, "base-kexec"), *file = at(state, "baseline.json"), err[2048];
	const char *args[] = {"gate", "--save", file, dir, NULL};

	make_run_since(dir, &s, &x);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 0);
	return file;
}

/*
 * The same downtimes, but twice as long unavailable (the service stalled
 * again after it came back): unavailable regresses, naming both medians,
 * while the downtime passes.
 */
static void test_unavailable_regression_fails(void **state)
{
	static const double twice[] = {190, 200, 205, 210, 220};
	const char *bl = save_unavailable_baseline(state, base5);
	const struct spec s = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	const struct spec_since x = {.unav_ms = twice};
	char *cur = at(state, "cur"), *out = at(state, "out"), err[2048], *md;
	const char *args[] = {"gate", "--baseline", bl, "--out", out, cur, NULL};
	const struct gate_check *c;
	struct gate_result r;

	make_run_since(cur, &s, &x);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 1);
	compare(bl, cur, &r);
	assert_int_equal(r.regressions, 1);
	c = check_of(&r, "kexec", GATE_UNAVAILABLE);
	assert_int_equal(c->outcome, GATE_REGRESSION);
	assert_true(fabs(c->base - 102e6) < 1);
	assert_true(fabs(c->cur - 205e6) < 1);
	assert_true(c->tested);
	assert_true(fabs(c->p - 1.0 / 252) < 1e-12);
	assert_int_equal(check_of(&r, "kexec", GATE_DOWNTIME)->outcome, GATE_PASS);
	gate_result_free(&r);
	md = tl_read_file(at(state, "out/gate.md"));
	assert_non_null(md);
	assert_non_null(
	    strstr(md, "**kexec unavailable**: median 205 ms against the baseline's 102 ms"));
	free(md);
	md = tl_read_file(at(state, "out/junit.xml"));
	assert_non_null(md);
	assert_non_null(strstr(md, "name=\"unavailable_ns\""));
	free(md);
}

/* --save writes unavailable_ns when the runs recorded it, with the same thresholds. */
static void test_saved_baseline_has_unavailable_when_the_runs_do(void **state)
{
	const char *bl = save_unavailable_baseline(state, base5);
	struct gate_baseline b;
	struct tb_err err;

	if (gate_baseline_load(bl, &b, &err))
		fail_msg("%s", err.msg);
	assert_true(b.entries[0].timing[GATE_UNAVAILABLE].present);
	assert_int_equal(b.entries[0].timing[GATE_UNAVAILABLE].nvalues, 5);
	assert_true(fabs(b.entries[0].timing[GATE_UNAVAILABLE].median - 102e6) < 1);
	assert_true(fabs(b.entries[0].timing[GATE_UNAVAILABLE].values[0] - 95e6) < 1);
	assert_int_equal(b.entries[0].timing[GATE_UNAVAILABLE].absolute_ns, 10 * NS_PER_MS);
	gate_baseline_free(&b);
}

/* Runs whose run.json lists no gaps make a baseline without unavailable_ns. */
static void test_saved_baseline_of_old_runs_has_no_unavailable(void **state)
{
	const char *bl = save_baseline(state, base5, 5);
	struct gate_baseline b;
	struct tb_err err;
	char *text;

	if (gate_baseline_load(bl, &b, &err))
		fail_msg("%s", err.msg);
	assert_false(b.entries[0].timing[GATE_UNAVAILABLE].present);
	assert_true(b.entries[0].timing[GATE_DOWNTIME].present);
	gate_baseline_free(&b);
	text = tl_read_file(bl);
	assert_null(strstr(text, "unavailable_ns"));
	free(text);
}

/* Strip @dir's run.json of what runs record since gaps were listed: none of their keys. */
static void make_legacy(const char *dir)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *root, *rep;
	size_t i;

	snprintf(path, sizeof(path), "%s/run.json", dir);
	root = json_load_file(path, 0, &jerr);
	assert_non_null(root);
	json_array_foreach(json_object_get(root, "repetitions"), i, rep)
	{
		json_object_del(rep, "gaps");
		json_object_del(rep, "capture");
		json_object_del(json_object_get(rep, "probe"), "interval_median_ns");
		json_object_del(json_object_get(rep, "probe"), "interval_p99_ns");
	}
	assert_int_equal(json_dump_file(root, path, JSON_INDENT(2)), 0);
	json_decref(root);
}

/*
 * Old meets new: a baseline without unavailable_ns (good_v2.json) against
 * runs that record it does not gate it; a run.json without gaps loads, and
 * against a baseline that has unavailable_ns fails that metric, saying why.
 */
static void test_old_baselines_and_old_runs_still_compare(void **state)
{
	const struct spec k = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	const struct spec_since x = {.unav_ms = base5};
	char *cur = strdup(at(state, "cur")), *old = strdup(at(state, "old"));
	const char *bl;
	const struct gate_check *c;
	struct gate_result r;

	make_run_since(cur, &k, &x);
	compare_with(fixture("good_v2.json"), &cur, 1, GATE_ALLOW_MISSING, &r);
	c = check_of(&r, "kexec", GATE_UNAVAILABLE);
	assert_int_equal(c->outcome, GATE_SKIPPED);
	assert_string_equal(c->detail, "not in the baseline");
	assert_int_equal(check_of(&r, "kexec", GATE_DOWNTIME)->outcome, GATE_PASS);
	assert_int_equal(r.regressions, 0);
	gate_result_free(&r);

	bl = save_unavailable_baseline(state, base5);
	make_run_since(old, &k, &x);
	make_legacy(old);
	compare(bl, old, &r);
	assert_int_equal(check_of(&r, "kexec", GATE_DOWNTIME)->outcome, GATE_PASS);
	c = check_of(&r, "kexec", GATE_UNAVAILABLE);
	assert_int_equal(c->outcome, GATE_REGRESSION);
	assert_non_null(strstr(c->detail, "no repetition measured it in the current results"));
	assert_non_null(strstr(c->detail, "a run.json written before gaps were recorded"));
	assert_int_equal(r.regressions, 1);
	gate_result_free(&r);
	free(cur);
	free(old);
}

/*
 * Repetition 2's capture saw half the probe's downtime: the scenario fails
 * on its capture, naming the repetition and both values, though every time
 * is the baseline's; the repetition without a capture is not counted.
 */
static void test_disagreeing_capture_fails_the_scenario(void **state)
{
	static const int capture[] = {1, -1, 1, 1, 0};
	const char *bl = save_baseline(state, base5, 5);
	const struct spec s = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	const struct spec_since x = {.capture = capture};
	char *cur = at(state, "cur"), *out = at(state, "out"), err[2048], *text;
	const char *args[] = {"gate", "--baseline", bl, "--out", out, cur, NULL};
	const struct gate_check *c;
	struct gate_result r;

	make_run_since(cur, &s, &x);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 1);
	compare(bl, cur, &r);
	assert_int_equal(r.regressions, 1);
	c = check_of(&r, "kexec", GATE_CAPTURE);
	assert_int_equal(c->outcome, GATE_REGRESSION);
	assert_string_equal(c->summary, "3/4 captures agree");
	assert_string_equal(c->detail,
			    "the packet capture contradicts the probe in 1 of 4 captured "
			    "repetitions, so this scenario's times cannot be trusted: repetition 2 "
			    "of cur: the probe measured 100 ms, the capture 50.0 ms (3 frames "
			    "dropped)");
	assert_int_equal(check_of(&r, "kexec", GATE_DOWNTIME)->outcome, GATE_PASS);
	gate_result_free(&r);
	text = tl_read_file(at(state, "out/junit.xml"));
	assert_non_null(text);
	assert_non_null(strstr(text, "tests=\"5\" failures=\"1\""));
	assert_non_null(strstr(text, "<failure type=\"untrusted\" message=\"3/4 captures agree\""));
	free(text);
	assert_int_equal(junit_schema_errors(at(state, "out/junit.xml")), 0);
	text = tl_read_file(at(state, "out/gate.md"));
	assert_non_null(text);
	assert_non_null(
	    strstr(text, "| kexec | capture | 3/4 captures agree |  | **UNTRUSTED** |"));
	assert_non_null(
	    strstr(text, "**kexec capture**: the packet capture contradicts the probe"));
	free(text);
}

/* Captures that all agree pass; none at all is a skip, not a pass. */
static void test_agreeing_captures_pass(void **state)
{
	static const int capture[] = {1, 1, 1, 1, 1};
	const char *bl = save_baseline(state, base5, 5);
	const struct spec s = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	const struct spec_since x = {.capture = capture};
	char *cur = at(state, "cur"), *none = at(state, "none");
	const struct gate_check *c;
	struct gate_result r;

	make_run_since(cur, &s, &x);
	compare(bl, cur, &r);
	c = check_of(&r, "kexec", GATE_CAPTURE);
	assert_int_equal(c->outcome, GATE_PASS);
	assert_string_equal(c->summary, "5/5 captures agree");
	assert_int_equal(r.regressions, 0);
	gate_result_free(&r);
	make_run(none, &s);
	compare(bl, none, &r);
	c = check_of(&r, "kexec", GATE_CAPTURE);
	assert_int_equal(c->outcome, GATE_SKIPPED);
	assert_non_null(strstr(c->detail, "no repetition had a packet capture"));
	gate_result_free(&r);
}

/* A capture needs no baseline: a scenario the baseline lacks still fails on one. */
static void test_disagreeing_capture_fails_a_scenario_not_in_the_baseline(void **state)
{
	static const int capture[] = {-1};
	static const double tb[] = {5};
	const struct spec t = {"twin-boot", NULL, tb, NULL, NULL, 1, NULL, 0, NULL};
	const struct spec_since x = {.capture = capture};
	char *cur = strdup(at(state, "twin"));
	const struct gate_check *c;
	struct gate_result r;

	make_run_since(cur, &t, &x);
	compare_with(fixture("good_v2.json"), &cur, 1, GATE_ALLOW_MISSING, &r);
	assert_int_equal(check_of(&r, "twin-boot", GATE_DOWNTIME)->outcome, GATE_SKIPPED);
	c = check_of(&r, "twin-boot", GATE_CAPTURE);
	assert_int_equal(c->outcome, GATE_REGRESSION);
	assert_non_null(strstr(c->detail, "repetition 1 of twin: the probe measured 5.0 ms, the "
					  "capture 2.5 ms"));
	assert_int_equal(r.regressions, 1);
	gate_result_free(&r);
	free(cur);
}

/* --allow-missing is for comparing; with --save it is a usage error. */
static void test_allow_missing_with_save_is_bad_usage(void **state)
{
	const struct spec s = {"kexec", NULL, base5, maint5, NULL, 5, NULL, 0, NULL};
	char *cur = at(state, "cur"), *file = at(state, "b.json"), err[2048];
	const char *args[] = {"gate", "--save", file, "--allow-missing", cur, NULL};

	make_run(cur, &s);
	assert_int_equal(run_cmd(cmd_gate, args, err, sizeof(err)), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_equal_results_pass, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verdict_files_are_replaced_whole, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_into_a_missing_directory_exits_3, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_clearly_slower_fails_naming_both_values, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_noisy_but_equal_passes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_method_no_longer_verified_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_single_repetition_falls_back_to_thresholds, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_increase_under_absolute_threshold_passes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_downtime_no_longer_measured_fails, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_missing_entry_fails_unless_allowed, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_v1_entry_matching_two_rows_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_good_fixture_loads_with_defaults, setup, teardown),
	    cmocka_unit_test(test_committed_baseline_still_loads),
	    cmocka_unit_test(test_scenario_fixture_loads_with_its_key),
	    cmocka_unit_test_setup_teardown(test_save_refuses_two_rows_of_one_scenario, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_entry_is_compared_with_its_alike_row, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_baselines_exit_2_with_position, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_bad_usage_exits_2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_saved_baseline_round_trips, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_junit_has_the_schema_shape, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_accelerator_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_kernels_fail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allow_missing_with_save_is_bad_usage, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_unavailable_regression_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_saved_baseline_has_unavailable_when_the_runs_do,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_saved_baseline_of_old_runs_has_no_unavailable,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_old_baselines_and_old_runs_still_compare, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_disagreeing_capture_fails_the_scenario, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_agreeing_captures_pass, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_disagreeing_capture_fails_a_scenario_not_in_the_baseline, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	xmlCleanupParser();
	return rc;
}
