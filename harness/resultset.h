/*
 * resultset.h - result directories read back, and their numbers per
 * scenario: what the report writes and the gate judges.
 *
 * Both read results through these functions, so that the numbers the
 * gate judges are the numbers the report shows.
 */
#ifndef TB_RESULTSET_H
#define TB_RESULTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "results.h"
#include "stats.h"

/* One result directory: its run.json as results_load() gives it. */
struct resultset_run {
	char *dir;
	struct run_info info;
	struct repetition *reps;
	size_t nreps;
};

struct resultset {
	struct resultset_run *runs;
	size_t nruns;
};

/*
 * Load the run.json of each of @dirs (in that order).  A directory without
 * a readable run.json, or a malformed one, is an error with TB_EXIT_USAGE.
 */
int resultset_load(struct resultset *set, char *const dirs[], size_t n, struct tb_err *err);

void resultset_free(struct resultset *set);

/*
 * The latest result directory of each scenario under @base: among the
 * directories that hold a run.json, by name order (the names start with
 * the start time, YYYYmmdd-HHMMSS), the last one per scenario name (read
 * from run.json).  *@dirs is a malloc'd array of malloc'd paths in name
 * order; free with resultset_free_dirs().  None found is TB_EXIT_USAGE.
 */
int resultset_latest(const char *base, char ***dirs, size_t *n, struct tb_err *err);

void resultset_free_dirs(char **dirs, size_t n);

/*
 * Where the outputs of the report and the gate go when no --out is given:
 * the result directory itself for one, a "report" directory next to the
 * first for several.  malloc'd.
 */
char *resultset_default_out(char *const dirs[], size_t n);

/*
 * What makes runs comparable: the scenario, the method (its label:
 * twin-dual, twin-repeat...), the kernels it upgraded between, the guest's
 * size and the accelerator.  A report pools the runs whose keys are equal
 * and gives every other key a row of its own; the gate keys its baseline
 * the same way.  Fields a run.json did not record are "" or 0, and only
 * equal to another run's unrecorded field.
 */
struct scenario_key {
	char scenario[128];
	char method[32];
	char kernel_old[65]; /* releases, as run_info has them */
	char kernel_new[65];
	int memory_mib, vcpus;
	int standby_memory_mib, standby_vcpus; /* the spare guest beside it; 0: none */
	char accel[16];
};

void resultset_key_of(const struct run_info *info, struct scenario_key *key);

bool resultset_key_equal(const struct scenario_key *a, const struct scenario_key *b);

/* The kernel pair: "OLD", an arrow (U+2192), "NEW"; "?" for an unknown release. */
void resultset_key_kernels(const struct scenario_key *k, char *buf, size_t len);

/* The guest's size, "2 GiB, 2 vCPUs" ("?" for what was not recorded). */
void resultset_key_guest(const struct scenario_key *k, char *buf, size_t len);

/* The spare guest's size the same way, "" for a key without one. */
void resultset_key_standby(const struct scenario_key *k, char *buf, size_t len);

/* True if run @r belongs to the row of key @key. */
bool resultset_run_in(const struct resultset_run *r, const struct scenario_key *key);

/* One scenario key, pooled over every run of it, in order of first appearance. */
struct scenario_stats {
	struct scenario_key key;
	size_t runs, reps, verified;
	double *downtime_ns; /* the measured repetitions' downtimes */
	size_t ndowntime;
	double *maintenance_ns; /* the repetitions with a known maintenance window */
	size_t nmaintenance;
	/*
	 * The measured repetitions whose run.json lists their gaps (see
	 * resultset_gaps_known()): the sum of every silence from the upgrade's
	 * real start to the end of the repetition, and how many there were.
	 */
	double *unavailable_ns;
	size_t nunavailable;
	int gaps_min, gaps_max; /* gaps per repetition over those, when nunavailable > 0 */
	struct stats_summary downtime, maintenance, unavailable; /* meaningful when n > 0 */
	int64_t probe_interval_ns; /* the coarsest asked of its runs */
	/*
	 * The interval the probe achieved, the downtime's real resolution: the
	 * median of the repetitions' median send intervals and the worst
	 * repetition's p99; 0 when no repetition recorded it.
	 */
	int64_t interval_median_ns, interval_p99_ns;
	/* How long the spare guest ran (standby_ns), over the repetitions that had one. */
	double *standby_ns;
	size_t nstandby;
	struct stats_summary standby;
	size_t captured;       /* repetitions a packet capture was analysed for */
	size_t capture_agrees; /* of those, the ones whose downtime agreed with the probe's */
};

/*
 * Whether @rep's run.json says what its gaps were (gaps, unavailable_ns):
 * a repetition whose gaps were looked for has either found some or, if
 * measured, recorded the probe's achieved interval with them; a run.json
 * written before either has neither.
 */
bool resultset_gaps_known(const struct repetition *rep);

/* A row per scenario key of @set, in *@out (*@n of them); free with resultset_scenarios_free(). */
int resultset_scenarios(const struct resultset *set, struct scenario_stats **out, size_t *n,
			struct tb_err *err);

void resultset_scenarios_free(struct scenario_stats *s, size_t n);

/*
 * The method label every row is measured against: twin is what twinbench
 * exists to measure, so the summary reads each downtime as a multiple of
 * its downtime.
 */
#define RESULTSET_YARDSTICK "twin"

/*
 * Row @i's downtime median as a multiple of twin's in the same rows.  The
 * twin row compared with ran the same kernels under the same accelerator
 * (else the ratio would measure those too, and there is none); in the same
 * guest when there is such a row, else the first, and the note says how
 * the guests differ (the twin scenarios need bigger guests than reboot).
 */
struct twin_ratio {
	bool has;	/* @ratio is meaningful */
	double ratio;	/* row @i's downtime median over the twin row's */
	size_t twin;	/* the twin row compared with, when @has */
	char note[512]; /* why there is no ratio, or how that twin row differs; "" if neither */
};

void resultset_twin_ratio(const struct scenario_stats *rows, size_t n, size_t i,
			  struct twin_ratio *out);

#endif
