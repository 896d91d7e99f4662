/*
 * gate.h - the regression gate: current results against a stored baseline.
 *
 * A baseline (results/baselines/NAME.json, written by `twinbench gate
 * --save`) holds, per scenario, what the scenario ran (method, kernels,
 * guest size, accelerator: resultset.h's struct scenario_key), the
 * verified ratio and, for downtime_ns, maintenance_ns and unavailable_ns
 * (each when the runs measured it), the median, every repetition's value
 * and the thresholds:
 *
 *   { "format": "twinbench-baseline/2", "alpha": 0.05,
 *     "scenarios": { "kexec": {
 *         "method": "kexec", "kernel_old": "6.1.0-50-amd64", "kernel_new": "6.1.0-50-amd64",
 *         "memory_mib": 512, "vcpus": 2, "accel": "tcg",
 *         "repetitions": 3,
 *         "verified": { "ratio": 1.0, "min_ratio": 1.0 },
 *         "downtime_ns": { "median": 29274700000, "values": [ ... ],
 *                          "thresholds": { "relative": 0.10, "absolute_ns": 10000000 } },
 *         "maintenance_ns": { ... }, "unavailable_ns": { ... } } } }
 *
 * A metric the entry does not have (unavailable_ns in a baseline saved
 * before runs recorded it) is not gated.
 *
 * A twinbench-baseline/1 file (keyed by method under "methods", written
 * before runs recorded their guest) still loads: each entry stands for
 * the rows of its method, with the kernels and accelerator of the file's
 * "environment" and no guest size.
 *
 * A metric regresses when the current median exceeds the baseline median
 * by more than median * relative AND by more than absolute_ns, AND the
 * current values are significantly larger than the baseline's (one-sided
 * Mann-Whitney U, p < alpha).  When the sample sizes cannot reach p < alpha
 * at all (1 vs 1 repetitions; 3 vs 3 at alpha 0.05) the test is skipped and
 * the thresholds alone decide; the verdict says so.  "verified" regresses
 * when the current ratio of verified repetitions is below min_ratio: a
 * scenario that stopped verifying fails whatever its times.  "capture"
 * fails when a repetition's packet capture (run.json's "capture")
 * disagrees with its probe's downtime: a measurement the capture
 * contradicts cannot be trusted, so the scenario fails whether or not the
 * baseline has it; with no repetition captured it is skipped.
 */
#ifndef TB_GATE_H
#define TB_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "resultset.h"

#define GATE_FORMAT	   "twinbench-baseline/2"
#define GATE_FORMAT_V1	   "twinbench-baseline/1" /* still read: keyed by method */
#define GATE_ALPHA_DEFAULT 0.05

/*
 * The times come first: a baseline entry has a struct gate_timing for each.
 * GATE_CAPTURE needs no baseline: it fails a scenario when a packet capture
 * contradicted the probe's downtime in any of its repetitions.
 */
enum gate_metric {
	GATE_DOWNTIME,
	GATE_MAINTENANCE,
	GATE_UNAVAILABLE,
	GATE_VERIFIED,
	GATE_CAPTURE,
};

#define GATE_TIMINGS 3 /* GATE_DOWNTIME .. GATE_UNAVAILABLE */
#define GATE_METRICS 5 /* checks per scenario: one test case each in junit.xml */

/* The metric's key in the baseline and its test case's name in junit.xml. */
const char *gate_metric_name(enum gate_metric m);

struct gate_timing {
	bool present;	/* in the baseline; when absent the metric is not gated */
	double median;	/* ns: what the thresholds compare against */
	double *values; /* ns: the baseline's repetitions, for the significance test */
	size_t nvalues;
	double relative;     /* allowed increase as a fraction of the median */
	int64_t absolute_ns; /* allowed increase in ns */
};

/* One scenario of a baseline. */
struct gate_baseline_entry {
	/*
	 * What it ran.  A field that is "" or 0 was not recorded and is not
	 * compared.  From a /1 file: scenario "" (the entry stands for the
	 * rows of its method), the kernels and accelerator of the file's
	 * environment, no guest size.
	 */
	struct scenario_key key;
	int repetitions;
	double verified_ratio, min_verified_ratio;
	struct gate_timing timing[GATE_TIMINGS]; /* by enum gate_metric */
};

struct gate_baseline {
	int version; /* 1 or 2: the file's format */
	double alpha;
	char accel[16]; /* environment.accel, "" if not recorded */
	struct gate_baseline_entry *entries;
	size_t n;
};

/*
 * Read and check a baseline file.  Every error is TB_EXIT_USAGE and names
 * FILE:LINE:COLUMN (for a value of the wrong type or range, the value's
 * position; for a missing key, its object's).
 */
int gate_baseline_load(const char *path, struct gate_baseline *b, struct tb_err *err);

void gate_baseline_free(struct gate_baseline *b);

/* Thresholds given to --save. */
struct gate_defaults {
	double relative;     /* default 0.10 */
	int64_t absolute_ns; /* 0: ten probe intervals of the method's runs */
	double alpha;	     /* default GATE_ALPHA_DEFAULT */
	const char *comment; /* written as "comment" when not NULL: how the baseline was made */
};

/*
 * Write a baseline made from @set's results to @path (atomically), an entry
 * per row of resultset_scenarios().  Two rows of one scenario (other kernels,
 * guest or accelerator) cannot both be the scenario's baseline: that is
 * TB_EXIT_USAGE, naming them.
 */
int gate_baseline_save(const char *path, const struct resultset *set, const struct gate_defaults *d,
		       struct tb_err *err);

enum gate_outcome { GATE_PASS, GATE_REGRESSION, GATE_SKIPPED };

struct gate_check {
	char scenario[128]; /* the baseline entry's name (a /1 entry's: its method), or the row's */
	enum gate_metric metric;
	enum gate_outcome outcome;
	double base, cur; /* medians (ns), verified ratios; capture: 1, the share agreeing */
	size_t nbase, ncur;
	bool tested;	   /* the significance test ran */
	double p;	   /* its p-value, when tested */
	char ran[256];	   /* what was compared: "kexec, OLD -> NEW, 512 MiB, 2 vCPUs, tcg" */
	char summary[256]; /* one line: "29.27 s -> 35.10 s (+19.9%)" */
	char detail[768];  /* why this outcome */
};

struct gate_result {
	struct gate_check *checks;
	size_t n, regressions, skipped;
	char notes[1024]; /* about the whole comparison (e.g. entries skipped as missing) */
};

enum gate_flags {
	GATE_ALLOW_MISSING = 1 << 0, /* an entry without current results is skipped, not failed */
};

/*
 * Compare @set with @b: one check per metric of each baseline entry, and of
 * each current row whose scenario (for a /1 baseline: method) no entry
 * names (skipped: nothing to compare with; but its capture is checked, as
 * it needs no baseline).  An entry is compared with the row that ran the
 * same method, kernels, guest size and accelerator.  An entry without such
 * a row fails, each check saying why: no current results of its scenario
 * (skipped instead with GATE_ALLOW_MISSING), rows that ran something else
 * (which kernels, accelerator...), or, for a /1 entry, several rows it
 * could mean.  @flags: enum gate_flags.
 */
int gate_compare(const struct gate_baseline *b, const struct resultset *set, unsigned flags,
		 struct gate_result *r, struct tb_err *err);

void gate_result_free(struct gate_result *r);

/* JUnit XML: one <testcase> per check, <failure> for a regression, <skipped> for a skip. */
int gate_write_junit(const struct gate_result *r, const char *path, struct tb_err *err);

/*
 * The verdict in Markdown, naming each regression with both values, to @f
 * (gate.md, and the terminal).  Returns 0, or -1 if writing failed.
 */
int gate_print_markdown(const struct gate_result *r, const char *baseline_path,
			const struct gate_baseline *b, FILE *f);

#endif
