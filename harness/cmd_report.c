/*
 * cmd_report.c - `twinbench report [--out DIR] [--png] RESULTS...`: the
 * HTML report, its Markdown summary and the per-repetition CSV.
 *
 * The report describes what happened; it does not judge it (that is the
 * gate's job), so a run with failed repetitions still reports with exit 0.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "report.h"
#include "resultset.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: twinbench report [OPTIONS] RESULTS...\n"
		"       twinbench report [OPTIONS] --latest BASE\n"
		"Write report.html (plots inlined), report.md and summary.csv for result\n"
		"directories (results/<stamp>-<scenario>): a row per scenario, pooling only\n"
		"runs with the same method, kernels, guest size and accelerator.\n\n"
		"  -o, --out DIR      where to write (default: the result directory if one,\n"
		"                     else a 'report' directory next to the first)\n"
		"      --png          PNG copies of the plots too (plots/*.png)\n"
		"      --latest BASE  the latest result directory of each scenario under BASE\n"
		"                     (by name order, i.e. start time) instead of RESULTS\n");
}

/* One line per row of the summary (report_row_line()). */
static int print_summary(const struct resultset *set, struct tb_err *err)
{
	struct scenario_stats *rows;
	char line[2048];
	size_t n, i;

	if (resultset_scenarios(set, &rows, &n, err))
		return -1;
	for (i = 0; i < n; i++) {
		report_row_line(rows, n, i, line, sizeof(line));
		printf("%s\n", line);
	}
	resultset_scenarios_free(rows, n);
	return 0;
}

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"png", no_argument, NULL, 'p'},
	    {"latest", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct report_opts opts = {0};
	struct resultset set = {0};
	struct tb_err err = {0};
	const char *latest = NULL;
	char **dirs = NULL, *out = NULL;
	size_t ndirs = 0;
	int c, rc = TB_EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			opts.out = optarg;
			break;
		case 'p':
			opts.png = true;
			break;
		case 'l':
			latest = optarg;
			break;
		case 'h':
			usage(stdout);
			return TB_EXIT_OK;
		default:
			usage(stderr);
			return TB_EXIT_USAGE;
		}
	}
	if (!!latest == (optind < argc)) {
		fprintf(stderr, "twinbench report: give result directories or --latest BASE\n");
		usage(stderr);
		return TB_EXIT_USAGE;
	}
	if (latest) {
		if (resultset_latest(latest, &dirs, &ndirs, &err))
			goto fail;
	}
	if (resultset_load(&set, latest ? dirs : argv + optind,
			   latest ? ndirs : (size_t)(argc - optind), &err))
		goto fail;
	if (!opts.out) {
		out = resultset_default_out(latest ? dirs : argv + optind,
					    latest ? ndirs : (size_t)(argc - optind));
		if (!out) {
			tb_err_set(&err, TB_EXIT_ENV, "out of memory");
			goto fail;
		}
		opts.out = out;
	}
	if (report_write(&set, &opts, &err))
		goto fail;
	if (print_summary(&set, &err))
		goto fail;
	printf("\nreport: %s/report.html\n        %s/report.md\n        %s/summary.csv\n",
	       opts.out, opts.out, opts.out);
	goto out;
fail:
	fprintf(stderr, "twinbench report: %s\n", err.msg);
	rc = err.exit ? (int)err.exit : TB_EXIT_ENV;
out:
	resultset_free(&set);
	resultset_free_dirs(dirs, ndirs);
	free(out);
	return rc;
}
