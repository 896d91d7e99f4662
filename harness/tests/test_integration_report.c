/*
 * test_integration_report.c - report and gate on a real run's results.
 *
 * Runs `twinbench run` for reboot and kexec (one repetition each, one
 * invocation each) into a temporary results directory, then
 * `twinbench report` and `twinbench gate` on them from outside, as a user
 * or a CI job would.  The lab is brought up by the run if none is up (and
 * taken down again by it); a lab someone else has up is used and left alone.
 *
 * Needs root, the packages of `make deps` and the images of `make image`.
 * Runs build/twinbench from the repository root, as `make integration` does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <libgen.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static char tmpdir[256], results[300], reboot_dir[600], kexec_dir[600];

/* @rel inside the scratch directory; valid for the next 7 calls. */
static const char *tmp(const char *rel)
{
	return tl_path(tmpdir, rel);
}

static int group_setup(void **state)
{
	const char *reboot[] = {"run", "--results", results, "scenarios/reboot.yaml", NULL};
	const char *kexec[] = {"run", "--results", results, "scenarios/kexec.yaml", NULL};

	(void)state;
	if (!tl_integration_ready())
		return -1;
	if (tl_mkdtemp("/var/tmp/tbreport.XXXXXX", tmpdir, sizeof(tmpdir)))
		return -1;
	snprintf(results, sizeof(results), "%s/results", tmpdir);
	/* One scenario per run: each brings the lab up and down if none was up. */
	if (tl_run_twinbench(reboot, tmp("run.log"), TL_LOG_APPEND_ALL) != 0 ||
	    tl_run_twinbench(kexec, tmp("run.log"), TL_LOG_APPEND_ALL) != 0) {
		char *log = tl_read_file(tmp("run.log"));

		fprintf(stderr, "twinbench run failed:\n%s\n", log ? log : "");
		free(log);
		return -1;
	}
	tl_find_result(results, "reboot", reboot_dir, sizeof(reboot_dir));
	tl_find_result(results, "kexec", kexec_dir, sizeof(kexec_dir));
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (tmpdir[0])
		tl_rmtree(tmpdir);
	xmlCleanupParser();
	return 0;
}

static int parse_errors;

static void count_error(void *ctx, const xmlError *e)
{
	(void)ctx;
	if (e->level >= XML_ERR_ERROR) {
		fprintf(stderr, "report.html:%d: %s", e->line, e->message);
		parse_errors++;
	}
}

/* Element children of @n named @name, recursively. */
static int count_elements(xmlNodePtr n, const char *name)
{
	int c = 0;

	for (; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE) {
			c += !strcmp((const char *)n->name, name);
			c += count_elements(n->children, name);
		}
	return c;
}

static xmlNodePtr find_id(xmlNodePtr n, const char *id)
{
	for (; n; n = n->next) {
		xmlNodePtr hit;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		xmlChar *v = xmlGetProp(n, BAD_CAST "id");
		bool match = v && !strcmp((const char *)v, id);

		xmlFree(v);
		if (match)
			return n;
		hit = find_id(n->children, id);
		if (hit)
			return hit;
	}
	return NULL;
}

static void test_report_of_a_real_run_is_wellformed_with_one_svg_per_plot(void **state)
{
	const char *args[] = {"report", "--out", tmp("report"), reboot_dir, kexec_dir, NULL};
	static const char *const figures[] = {"plot-downtime", "plot-rtt", "timeline-1-1",
					      "timeline-2-1"};
	xmlDocPtr doc;
	char *md, *csv;

	(void)state;
	assert_int_equal(tl_run_twinbench(args, tmp("report.log"), TL_LOG_APPEND_ALL), 0);
	parse_errors = 0;
	xmlSetStructuredErrorFunc(NULL, (xmlStructuredErrorFunc)count_error);
	doc = xmlReadFile(tmp("report/report.html"), NULL, XML_PARSE_NONET);
	xmlSetStructuredErrorFunc(NULL, NULL);
	assert_non_null(doc);
	assert_int_equal(parse_errors, 0);
	/* Plots: downtime, round trips, one timeline per repetition (1 + 1). */
	assert_int_equal(count_elements(xmlDocGetRootElement(doc), "svg"), 4);
	for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]); i++) {
		xmlNodePtr fig = find_id(xmlDocGetRootElement(doc), figures[i]);

		if (!fig)
			fail_msg("no figure %s", figures[i]);
		assert_int_equal(count_elements(fig->children, "svg"), 1);
	}
	xmlFreeDoc(doc);

	md = tl_read_file(tmp("report/report.md"));
	assert_non_null(md);
	assert_non_null(strstr(md, "| reboot | 1 | 1/1 | "));
	assert_non_null(strstr(md, "| kexec | 1 | 1/1 | "));
	free(md);
	csv = tl_read_file(tmp("report/summary.csv"));
	assert_non_null(csv);
	assert_non_null(strstr(csv, ",reboot,reboot,1,1,1,1,"));
	assert_non_null(strstr(csv, ",kexec,kexec,1,1,1,1,"));
	free(csv);
}

/* --latest finds the same two directories under the results base. */
static void test_report_latest_finds_both_scenarios(void **state)
{
	const char *args[] = {"report", "--out", tmp("latest"), "--latest", results, NULL};
	char *md;

	(void)state;
	assert_int_equal(tl_run_twinbench(args, tmp("report.log"), TL_LOG_APPEND_ALL), 0);
	md = tl_read_file(tmp("latest/report.md"));
	assert_non_null(md);
	assert_non_null(strstr(md, "| reboot | 1 | 1/1 | "));
	assert_non_null(strstr(md, "| kexec | 1 | 1/1 | "));
	free(md);
}

/*
 * junit.xml at @path is valid against fixtures/report/junit.xsd, has @tests
 * test cases and @failures failures (any number if < 0), and its failures
 * attribute says how many it has.  Returns the number of failures.
 */
static int check_junit(const char *path, int tests, int failures)
{
	char file[PATH_MAX], xsd[PATH_MAX];
	xmlSchemaParserCtxtPtr pc;
	xmlSchemaValidCtxtPtr vc;
	xmlNodePtr root, suite, tc;
	xmlSchemaPtr schema;
	int cases = 0, failed = 0;
	xmlDocPtr doc;
	xmlChar *v;

	snprintf(file, sizeof(file), "%s", __FILE__);
	snprintf(xsd, sizeof(xsd), "%s/fixtures/report/junit.xsd", dirname(file));
	pc = xmlSchemaNewParserCtxt(xsd);
	schema = xmlSchemaParse(pc);
	assert_non_null(schema);
	vc = xmlSchemaNewValidCtxt(schema);
	doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	assert_int_equal(xmlSchemaValidateDoc(vc, doc), 0);
	root = xmlDocGetRootElement(doc);
	assert_string_equal((const char *)root->name, "testsuites");
	suite = xmlFirstElementChild(root);
	assert_string_equal((const char *)suite->name, "testsuite");
	for (tc = xmlFirstElementChild(suite); tc; tc = xmlNextElementSibling(tc)) {
		cases++;
		failed += count_elements(tc->children, "failure");
	}
	assert_int_equal(cases, tests);
	if (failures >= 0)
		assert_int_equal(failed, failures);
	v = xmlGetProp(suite, BAD_CAST "failures");
	assert_int_equal(atoi((const char *)v), failed);
	xmlFree(v);
	xmlFreeDoc(doc);
	xmlSchemaFreeValidCtxt(vc);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pc);
	return failed;
}

/* A baseline saved from the run passes the run; JUnit validates. */
static void test_gate_passes_the_run_against_its_own_baseline(void **state)
{
	const char *save[] = {"gate", "--save", tmp("own.json"), reboot_dir, kexec_dir, NULL};
	const char *gate[] = {"gate",	   "--baseline", tmp("own.json"), "--out",
			      tmp("gate"), reboot_dir,	 kexec_dir,	  NULL};
	char *md;

	(void)state;
	assert_int_equal(tl_run_twinbench(save, tmp("gate.log"), TL_LOG_APPEND_ALL), 0);
	assert_int_equal(tl_run_twinbench(gate, tmp("gate.log"), TL_LOG_APPEND_ALL), 0);
	/* reboot and kexec, each downtime, maintenance and verified. */
	check_junit(tmp("gate/junit.xml"), 10, 0);
	md = tl_read_file(tmp("gate/gate.md"));
	assert_non_null(strstr(md, "### twinbench gate: PASS"));
	free(md);
}

/*
 * A baseline ten times faster than the run (the run's medians / 10, one
 * repetition, so thresholds alone decide): both timings of both methods
 * regress, exit 1, and the verdict names both values.
 */
static void test_gate_fails_against_a_much_faster_baseline(void **state)
{
	const char *gate[] = {"gate",	   "--baseline", tmp("fast.json"), "--out",
			      tmp("fast"), reboot_dir,	 kexec_dir,	   NULL};
	json_t *root, *methods, *m, *metric;
	const char *name, *key;
	json_error_t jerr;
	char *md;

	(void)state;
	root = json_load_file(tmp("own.json"), 0, &jerr);
	assert_non_null(root);
	methods = json_object_get(root, "scenarios");
	json_object_foreach(methods, name, m)
	{
		json_object_foreach(m, key, metric)
		{
			json_int_t med;

			if (strcmp(key, "downtime_ns") && strcmp(key, "maintenance_ns"))
				continue;
			med = json_integer_value(json_object_get(metric, "median")) / 10;
			json_object_set_new(metric, "median", json_integer(med));
			json_object_set_new(metric, "values", json_pack("[I]", med));
		}
	}
	assert_int_equal(json_dump_file(root, tmp("fast.json"), JSON_INDENT(2)), 0);
	json_decref(root);
	assert_int_equal(tl_run_twinbench(gate, tmp("gate.log"), TL_LOG_APPEND_ALL), 1);
	check_junit(tmp("fast/junit.xml"), 10, 4);
	md = tl_read_file(tmp("fast/gate.md"));
	assert_non_null(strstr(md, "FAIL, 4 regressions"));
	assert_non_null(strstr(md, "**kexec downtime**: median "));
	assert_non_null(strstr(md, "significance not testable with 1 vs 1"));
	free(md);
}

/* The committed baseline is a valid file (whatever this machine's timing says). */
/*
 * Test cases the gate writes for reboot and kexec results against the
 * committed baseline: five checks (downtime, maintenance, unavailable,
 * verified, capture) for each entry in either, keyed by scenario
 * (twinbench-baseline/2) or by method (/1).
 */
static int committed_cases(void)
{
	json_t *root = json_load_file("results/baselines/tcg.json", 0, NULL);
	json_t *entries = json_object_get(root, "scenarios");
	int n;

	if (!entries)
		entries = json_object_get(root, "methods");
	assert_non_null(entries);
	n = (int)json_object_size(entries);
	n += !json_object_get(entries, "reboot") + !json_object_get(entries, "kexec");
	json_decref(root);
	return 5 * n;
}

static void test_committed_baseline_loads(void **state)
{
	const char *gate[] = {"gate",
			      "--baseline",
			      "results/baselines/tcg.json",
			      "--out",
			      tmp("committed"),
			      reboot_dir,
			      kexec_dir,
			      NULL};
	int rc;

	(void)state;
	rc = tl_run_twinbench(gate, tmp("committed.log"), TL_LOG_APPEND_ALL);
	if (rc != 0 && rc != 1) {
		char *log = tl_read_file(tmp("committed.log"));

		fail_msg("exit %d: %s", rc, log);
	}
	/* Exit 1 exactly when something regressed. */
	assert_int_equal(check_junit(tmp("committed/junit.xml"), committed_cases(), -1) > 0,
			 rc == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_report_of_a_real_run_is_wellformed_with_one_svg_per_plot),
	    cmocka_unit_test(test_report_latest_finds_both_scenarios),
	    cmocka_unit_test(test_gate_passes_the_run_against_its_own_baseline),
	    cmocka_unit_test(test_gate_fails_against_a_much_faster_baseline),
	    cmocka_unit_test(test_committed_baseline_loads),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
