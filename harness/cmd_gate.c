/*
 * cmd_gate.c - `twinbench gate`: compare results with a baseline (exit 1
 * on a regression), or save a baseline from results.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomicfile.h"
#include "commands.h"
#include "gate.h"
#include "resultset.h"
#include "scenario.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: twinbench gate --baseline FILE [--out DIR] [--allow-missing] RESULTS...\n"
		"       twinbench gate --save FILE [--relative R] [--absolute DURATION]\n"
		"                      [--alpha A] RESULTS...\n"
		"Compare result directories with a baseline, per scenario and metric (downtime,\n"
		"maintenance window, unavailable, verified, capture), and write junit.xml and\n"
		"gate.md; or save a baseline (results/baselines/NAME.json) from result\n"
		"directories.  A baseline entry is compared only with results that ran the\n"
		"same method, kernels, guest size and accelerator.  A repetition whose packet\n"
		"capture disagrees with the probe fails its scenario.\n\n"
		"  -b, --baseline FILE  the baseline to compare with\n"
		"      --allow-missing  skip, rather than fail, a baseline scenario the results\n"
		"                       do not have (results that ran other kernels, another\n"
		"                       accelerator or guest still fail)\n"
		"  -o, --out DIR        where junit.xml and gate.md go (default: the result\n"
		"                       directory if one, else a 'report' directory next to the "
		"first)\n"
		"      --save FILE      write a baseline instead of comparing\n"
		"      --relative R     with --save: allowed increase of a median (default 0.10)\n"
		"      --absolute D     with --save: allowed increase in time (default ten probe\n"
		"                       intervals, e.g. 10ms)\n"
		"      --alpha A        with --save: significance level (default 0.05)\n"
		"      --comment TEXT   with --save: how the baseline was made (kept in the file)\n"
		"      --latest BASE    the latest result directory of each scenario under BASE\n"
		"                       instead of RESULTS\n"
		"Exit: 0 pass, 1 a regression, a scenario no longer verified or whose capture\n"
		"disagrees with the probe, a baseline scenario without results or with\n"
		"results of other kernels, accelerator or guest, 2 bad input, 3 environment.\n");
}

/* A number from the command line, within [@min, @max]. */
static int parse_fraction(const char *opt, const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || !(*out >= min && *out <= max)) {
		fprintf(stderr, "twinbench gate: %s wants a number from %g to %g, not '%s'\n", opt,
			min, max, s);
		return -1;
	}
	return 0;
}

static int write_verdict(const struct gate_result *r, const char *baseline,
			 const struct gate_baseline *b, const char *out, struct tb_err *err)
{
	struct atomic_file af;
	char path[4096];

	snprintf(path, sizeof(path), "%s/gate.md", out);
	if (atomic_open(&af, path, err))
		return -1;
	return atomic_commit(&af, gate_print_markdown(r, baseline, b, af.f) != 0, err);
}

int cmd_gate(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"baseline", required_argument, NULL, 'b'}, {"out", required_argument, NULL, 'o'},
	    {"save", required_argument, NULL, 's'},	{"relative", required_argument, NULL, 'r'},
	    {"absolute", required_argument, NULL, 'a'}, {"alpha", required_argument, NULL, 'A'},
	    {"latest", required_argument, NULL, 'l'},	{"comment", required_argument, NULL, 'c'},
	    {"allow-missing", no_argument, NULL, 'm'},	{"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct gate_defaults d = {.relative = 0.10, .alpha = GATE_ALPHA_DEFAULT};
	const char *baseline = NULL, *save = NULL, *latest = NULL, *outopt = NULL;
	struct gate_baseline b = {0};
	struct gate_result r = {0};
	struct resultset set = {0};
	struct tb_err err = {0};
	char **dirs = NULL, *out = NULL, path[4096];
	bool save_opts = false, compare_opts = false;
	unsigned flags = 0;
	size_t ndirs = 0;
	int c, rc = TB_EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "b:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			baseline = optarg;
			break;
		case 'o':
			outopt = optarg;
			break;
		case 's':
			save = optarg;
			break;
		case 'r':
			save_opts = true;
			if (parse_fraction("--relative", optarg, 0, 1e6, &d.relative))
				return TB_EXIT_USAGE;
			break;
		case 'a':
			save_opts = true;
			if (scenario_parse_duration(optarg, &d.absolute_ns)) {
				fprintf(
				    stderr,
				    "twinbench gate: --absolute wants a duration (10ms, 1s), not "
				    "'%s'\n",
				    optarg);
				return TB_EXIT_USAGE;
			}
			break;
		case 'A':
			save_opts = true;
			if (parse_fraction("--alpha", optarg, 1e-9, 0.5, &d.alpha))
				return TB_EXIT_USAGE;
			break;
		case 'l':
			latest = optarg;
			break;
		case 'm':
			compare_opts = true;
			flags |= GATE_ALLOW_MISSING;
			break;
		case 'c':
			save_opts = true;
			d.comment = optarg;
			break;
		case 'h':
			usage(stdout);
			return TB_EXIT_OK;
		default:
			usage(stderr);
			return TB_EXIT_USAGE;
		}
	}
	if (!!baseline == !!save || (save_opts && !save) || (save && (outopt || compare_opts)) ||
	    !!latest == (optind < argc)) {
		fprintf(stderr, "twinbench gate: give --baseline FILE or --save FILE, and result "
				"directories or --latest BASE\n");
		usage(stderr);
		return TB_EXIT_USAGE;
	}
	if (latest && resultset_latest(latest, &dirs, &ndirs, &err))
		goto fail;
	if (!latest) {
		dirs = argv + optind;
		ndirs = (size_t)(argc - optind);
	}
	if (resultset_load(&set, dirs, ndirs, &err))
		goto fail;
	if (save) {
		if (gate_baseline_save(save, &set, &d, &err))
			goto fail;
		printf("baseline: %s (%zu result director%s)\n", save, set.nruns,
		       set.nruns == 1 ? "y" : "ies");
		goto out;
	}
	if (gate_baseline_load(baseline, &b, &err) || gate_compare(&b, &set, flags, &r, &err))
		goto fail;
	out = outopt ? strdup(outopt) : resultset_default_out(dirs, ndirs);
	if (!out) {
		tb_err_set(&err, TB_EXIT_ENV, "out of memory");
		goto fail;
	}
	if (mkdir(out, 0755) && errno != EEXIST) {
		tb_err_set(&err, TB_EXIT_ENV, "%s: %s", out, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/junit.xml", out);
	if (gate_write_junit(&r, path, &err) || write_verdict(&r, baseline, &b, out, &err))
		goto fail;
	gate_print_markdown(&r, baseline, &b, stdout);
	printf("\ngate: %s/junit.xml, %s/gate.md\n", out, out);
	rc = r.regressions ? TB_EXIT_CHECK : TB_EXIT_OK;
	goto out;
fail:
	fprintf(stderr, "twinbench gate: %s\n", err.msg);
	rc = err.exit ? (int)err.exit : TB_EXIT_ENV;
out:
	gate_result_free(&r);
	gate_baseline_free(&b);
	resultset_free(&set);
	if (latest)
		resultset_free_dirs(dirs, ndirs);
	free(out);
	return rc;
}
