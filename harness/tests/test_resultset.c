/*
 * test_resultset.c - result directories read back and pooled per
 * scenario key: which runs share a row, the ratio to twin, the latest
 * run of each scenario, where outputs go by default.
 */
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

#include <cmocka.h>

#include "monotime.h"
#include "results.h"
#include "resultset.h"
#include "testlib.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	return tl_mkdtemp("/tmp/test_resultset.XXXXXX", tmpdir, sizeof(tmpdir));
}

static int teardown(void **state)
{
	(void)state;
	return tl_rmtree(tmpdir);
}

/* @rel inside the test's directory; valid for the next 7 calls. */
static char *at(const char *rel)
{
	return tl_path(tmpdir, rel);
}

/*
 * A result directory @dir holding only run.json: one repetition of
 * scenario @scenario (method kexec) whose downtime was @downtime_ms,
 * kernels 6.1.0-old -> 6.1.0-new in a guest of 512 MiB and 2 vCPUs
 * under tcg.
 */
static void write_run(const char *dir, const char *scenario, int64_t downtime_ms)
{
	struct run_info info = {0};
	struct repetition rep = {0};
	char path[PATH_MAX];
	struct tb_err err;

	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(info.scenario, sizeof(info.scenario), "%s", scenario);
	snprintf(info.method, sizeof(info.method), "kexec");
	snprintf(info.accel, sizeof(info.accel), "tcg");
	snprintf(info.kernel_old, sizeof(info.kernel_old), "6.1.0-old");
	snprintf(info.kernel_new, sizeof(info.kernel_new), "6.1.0-new");
	info.guest_memory_mib = 512;
	info.guest_vcpus = 2;
	info.probe_interval_ns = NS_PER_MS;
	info.repetitions = 1;
	rep.index = 1;
	rep.ok = rep.verified = rep.measured = true;
	rep.downtime_ns = downtime_ms * NS_PER_MS;
	snprintf(path, sizeof(path), "%s/run.json", dir);
	if (results_write_json(path, &info, &rep, 1, &err))
		fail_msg("%s", err.msg);
}

static void load_rows(char **dirs, size_t n, struct resultset *set, struct scenario_stats **rows,
		      size_t *nrows)
{
	struct tb_err err;

	if (resultset_load(set, dirs, n, &err) || resultset_scenarios(set, rows, nrows, &err))
		fail_msg("%s", err.msg);
}

/* Two runs of one scenario with the same kernels, guest and accelerator: one row. */
static void test_same_scenario_twice_is_pooled(void **state)
{
	char *dirs[] = {strdup(at("20261122-010000-kexec")), strdup(at("20261122-020000-kexec"))};
	struct scenario_stats *rows;
	struct resultset set;
	size_t n;

	(void)state;
	write_run(dirs[0], "kexec", 20);
	write_run(dirs[1], "kexec", 60);
	load_rows(dirs, 2, &set, &rows, &n);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].runs, 2);
	assert_int_equal(rows[0].reps, 2);
	assert_int_equal(rows[0].ndowntime, 2);
	/* Median of 20 and 60 ms. */
	assert_true(fabs(rows[0].downtime.median - 40e6) < 1);
	assert_int_equal(rows[0].key.memory_mib, 512);
	assert_string_equal(rows[0].key.kernel_new, "6.1.0-new");
	resultset_scenarios_free(rows, n);
	resultset_free(&set);
	for (int i = 0; i < 2; i++)
		free(dirs[i]);
}

/* A row of the summary as resultset_scenarios() gives it: what resultset_twin_ratio() reads. */
static struct scenario_stats row(const char *scenario, const char *method, const char *kernel_new,
				 int memory_mib, const char *accel, double median_ms)
{
	struct scenario_stats r = {0};

	snprintf(r.key.scenario, sizeof(r.key.scenario), "%s", scenario);
	snprintf(r.key.method, sizeof(r.key.method), "%s", method);
	snprintf(r.key.kernel_old, sizeof(r.key.kernel_old), "6.1.0-a");
	snprintf(r.key.kernel_new, sizeof(r.key.kernel_new), "%s", kernel_new);
	r.key.memory_mib = memory_mib;
	r.key.vcpus = 2;
	snprintf(r.key.accel, sizeof(r.key.accel), "%s", accel);
	if (median_ms >= 0) {
		r.ndowntime = 1;
		r.downtime.median = median_ms * NS_PER_MS;
	}
	return r;
}

/*
 * Each row against the twin row of its kernels and accelerator; another
 * guest is said in a note; other kernels or another accelerator is no
 * ratio, with the reason.
 */
static void test_ratio_is_against_twin_of_the_same_kernels(void **state)
{
	const struct scenario_stats rows[] = {
	    row("twin", "twin", "6.1.0-b", 2048, "tcg", 20),
	    row("twin", "twin", "6.1.0-c", 2048, "tcg", 50),
	    row("kexec", "kexec", "6.1.0-c", 2048, "tcg", 200),
	    row("kexec", "kexec", "6.1.0-b", 512, "tcg", 100),
	    row("reboot", "reboot", "6.1.0-d", 512, "tcg", 1000),
	    row("kexec", "kexec", "6.1.0-b", 2048, "kvm", 30),
	    row("twin-dual", "twin-dual", "6.1.0-b", 2048, "tcg", 25),
	};
	struct twin_ratio tr;

	(void)state;
	resultset_twin_ratio(rows, 7, 0, &tr);
	assert_true(tr.has);
	assert_true(tr.ratio == 1.0);
	assert_string_equal(tr.note, "");

	/* 200 / 50, not 200 / 20: the twin row of 6.1.0-c. */
	resultset_twin_ratio(rows, 7, 2, &tr);
	assert_true(tr.has);
	assert_int_equal(tr.twin, 1);
	assert_true(fabs(tr.ratio - 4.0) < 1e-12);
	assert_string_equal(tr.note, "");

	resultset_twin_ratio(rows, 7, 3, &tr);
	assert_true(tr.has);
	assert_int_equal(tr.twin, 0);
	assert_true(fabs(tr.ratio - 5.0) < 1e-12);
	assert_string_equal(tr.note, "Against twin (scenario twin) in a guest of 2 GiB, 2 vCPUs; "
				     "this row's guest: 512 MiB, 2 vCPUs.");

	resultset_twin_ratio(rows, 7, 4, &tr);
	assert_false(tr.has);
	assert_string_equal(
	    tr.note, "No twin run with kernels 6.1.0-a \xe2\x86\x92 6.1.0-d under tcg in this "
		     "report (twin ran 6.1.0-a \xe2\x86\x92 6.1.0-b under tcg; "
		     "6.1.0-a \xe2\x86\x92 6.1.0-c under tcg): no ratio.");

	resultset_twin_ratio(rows, 7, 5, &tr);
	assert_false(tr.has);
	assert_non_null(strstr(tr.note, "under kvm in this report"));

	/* twin-dual is its own method, not the yardstick. */
	resultset_twin_ratio(rows, 7, 6, &tr);
	assert_true(tr.has);
	assert_true(fabs(tr.ratio - 1.25) < 1e-12);
}

/* Of two alike twin rows, the one in the same guest, even if it comes second. */
static void test_ratio_prefers_twin_in_the_same_guest(void **state)
{
	const struct scenario_stats rows[] = {
	    row("twin", "twin", "6.1.0-b", 2048, "tcg", 10),
	    row("twin-small", "twin", "6.1.0-b", 512, "tcg", 40),
	    row("kexec", "kexec", "6.1.0-b", 512, "tcg", 80),
	};
	struct twin_ratio tr;

	(void)state;
	resultset_twin_ratio(rows, 3, 2, &tr);
	assert_true(tr.has);
	assert_int_equal(tr.twin, 1);
	assert_true(fabs(tr.ratio - 2.0) < 1e-12);
	assert_string_equal(tr.note, "");
}

static void test_no_ratio_without_a_measured_twin(void **state)
{
	const struct scenario_stats rows[] = {
	    row("kexec", "kexec", "6.1.0-b", 512, "tcg", 80),
	    row("twin", "twin", "6.1.0-b", 512, "tcg", -1),
	    row("reboot", "reboot", "6.1.0-b", 512, "tcg", -1),
	};
	struct twin_ratio tr;

	(void)state;
	resultset_twin_ratio(rows, 1, 0, &tr);
	assert_false(tr.has);
	assert_string_equal(tr.note, "No twin run in this report: no ratio.");
	resultset_twin_ratio(rows, 3, 0, &tr);
	assert_false(tr.has);
	assert_non_null(strstr(tr.note,
			       "twin (scenario twin, kernels 6.1.0-a \xe2\x86\x92 6.1.0-b) "
			       "measured no downtime"));
	resultset_twin_ratio(rows, 3, 2, &tr);
	assert_false(tr.has);
	assert_string_equal(tr.note, "No downtime measured: no ratio.");
}

/* A run.json from before guest sizes and images were recorded: "?" where they go. */
static void test_unrecorded_guest_shows_as_unknown(void **state)
{
	struct scenario_key k = {.scenario = "kexec", .method = "kexec"};
	char buf[128];

	(void)state;
	resultset_key_guest(&k, buf, sizeof(buf));
	assert_string_equal(buf, "?");
	resultset_key_kernels(&k, buf, sizeof(buf));
	assert_string_equal(buf, "? \xe2\x86\x92 ?");
	k.memory_mib = 1536;
	k.vcpus = 1;
	resultset_key_guest(&k, buf, sizeof(buf));
	assert_string_equal(buf, "1536 MiB, 1 vCPU");
}

static void make_plain_run(const char *name, const char *scenario)
{
	write_run(at(name), scenario, 20);
}

static void test_latest_picks_the_last_run_of_each_scenario(void **state)
{
	char **dirs = NULL;
	size_t n = 0;
	struct tb_err err;

	(void)state;
	make_plain_run("20260101-000000-kexec", "kexec");
	make_plain_run("20260102-000000-kexec", "kexec");
	/* Same second as another run: the suffix does not make it another scenario. */
	make_plain_run("20260102-000000-kexec-2", "kexec");
	make_plain_run("20260101-000000-reboot", "reboot");
	assert_int_equal(mkdir(at("baselines"), 0755), 0); /* no run.json: not a result */
	/* Broken run.json: still the latest of its scenario (by its name), to fail loudly. */
	assert_int_equal(mkdir(at("20260105-000000-reboot"), 0755), 0);
	fclose(fopen(at("20260105-000000-reboot/run.json"), "w"));
	if (resultset_latest(tmpdir, &dirs, &n, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(n, 2);
	assert_string_equal(dirs[0], at("20260102-000000-kexec-2"));
	assert_string_equal(dirs[1], at("20260105-000000-reboot"));
	resultset_free_dirs(dirs, n);
	assert_int_equal(resultset_latest(at("baselines"), &dirs, &n, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
}

static void test_default_out(void **state)
{
	char *one[] = {"results/20260101-000000-kexec/"};
	char *two[] = {"results/a", "results/b"};
	char *bare[] = {"a", "b"};
	char *o;

	(void)state;
	o = resultset_default_out(one, 1);
	assert_string_equal(o, "results/20260101-000000-kexec");
	free(o);
	o = resultset_default_out(two, 2);
	assert_string_equal(o, "results/report");
	free(o);
	o = resultset_default_out(bare, 2);
	assert_string_equal(o, "report");
	free(o);
}

/* A path that is no result directory is bad input (exit 2), named in the message. */
static void test_load_refuses_what_is_not_a_result_directory(void **state)
{
	char *missing = strdup(at("nonexistent")), *file = strdup(at("file")),
	     *empty = strdup(at("empty"));
	struct resultset set;
	struct tb_err err;

	(void)state;
	assert_int_equal(tl_write_file(file, "not a directory\n"), 0);
	assert_int_equal(mkdir(empty, 0755), 0);
	assert_int_equal(resultset_load(&set, &missing, 1, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "nonexistent: No such file or directory"));
	assert_int_equal(resultset_load(&set, &file, 1, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "file: not a result directory"));
	assert_int_equal(resultset_load(&set, &empty, 1, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "empty/run.json"));
	assert_int_equal(resultset_load(&set, NULL, 0, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_null(set.runs);
	assert_int_equal(set.nruns, 0);
	free(missing);
	free(file);
	free(empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_same_scenario_twice_is_pooled, setup, teardown),
	    cmocka_unit_test(test_unrecorded_guest_shows_as_unknown),
	    cmocka_unit_test(test_ratio_is_against_twin_of_the_same_kernels),
	    cmocka_unit_test(test_ratio_prefers_twin_in_the_same_guest),
	    cmocka_unit_test(test_no_ratio_without_a_measured_twin),
	    cmocka_unit_test_setup_teardown(test_latest_picks_the_last_run_of_each_scenario, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_default_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_refuses_what_is_not_a_result_directory, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
