/*
 * resultset.c - result directories read back and pooled per scenario key
 * (resultset.h).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jsonfile.h"
#include "resultset.h"

/* ---- loading ----------------------------------------------------------- */

void resultset_free(struct resultset *set)
{
	size_t i;

	for (i = 0; i < set->nruns; i++) {
		free(set->runs[i].dir);
		free(set->runs[i].reps);
	}
	free(set->runs);
	set->runs = NULL;
	set->nruns = 0;
}

/* @dir without trailing slashes (but "/" stays), malloc'd. */
static char *trim_dir(const char *dir)
{
	size_t len = strlen(dir);

	while (len > 1 && dir[len - 1] == '/')
		len--;
	return strndup(dir, len);
}

int resultset_load(struct resultset *set, char *const dirs[], size_t n, struct tb_err *err)
{
	size_t i;

	set->runs = NULL;
	set->nruns = 0;
	if (!n)
		return tb_err_set(err, TB_EXIT_USAGE, "no result directory given");
	set->runs = calloc(n, sizeof(*set->runs));
	if (!set->runs)
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	for (i = 0; i < n; i++) {
		struct resultset_run *r = &set->runs[i];
		char path[PATH_MAX];
		struct stat st;

		r->dir = trim_dir(dirs[i]);
		set->nruns = i + 1;
		if (!r->dir) {
			tb_err_set(err, TB_EXIT_ENV, "out of memory");
			goto err;
		}
		if (stat(r->dir, &st)) {
			tb_err_set(err, TB_EXIT_USAGE, "%s: %s", r->dir, strerror(errno));
			goto err;
		}
		if (!S_ISDIR(st.st_mode)) {
			tb_err_set(err, TB_EXIT_USAGE, "%s: not a result directory", r->dir);
			goto err;
		}
		snprintf(path, sizeof(path), "%s/run.json", r->dir);
		if (results_load(path, &r->info, &r->reps, &r->nreps, err))
			goto err;
	}
	return 0;
err:
	resultset_free(set);
	return -1;
}

void resultset_free_dirs(char **dirs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The scenario a result directory belongs to: run.json's scenario.name, or
 * (when run.json cannot be read) the directory name after its
 * "YYYYmmdd-HHMMSS-" stamp, so that a broken latest run is still chosen
 * and then reported as broken rather than silently passed over.
 */
static void scenario_of(const char *dir, const char *name, char *out, size_t len)
{
	char path[PATH_MAX];
	struct jsonfile jf;
	struct tb_err ignored;
	const char *s = NULL;

	snprintf(path, sizeof(path), "%s/run.json", dir);
	if (!jsonfile_load(path, RESULTS_JSON_MAX_BYTES, "a run.json", &jf, &ignored))
		s = json_string_value(json_object_get(json_object_get(jf.root, "scenario"), "name"));
	if (s)
		snprintf(out, len, "%s", s);
	else
		snprintf(out, len, "%s", strlen(name) > 16 ? name + 16 : name);
	jsonfile_free(&jf);
}

int resultset_latest(const char *base, char ***dirs, size_t *n, struct tb_err *err)
{
	char **names = NULL, **out = NULL, (*scen)[128] = NULL;
	size_t count = 0, cap = 0, i, j, nout = 0;
	struct dirent *de;
	DIR *d;

	*dirs = NULL;
	*n = 0;
	d = opendir(base);
	if (!d)
		return tb_err_set(err, TB_EXIT_USAGE, "%s: %s", base, strerror(errno));
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/run.json", base, de->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (count == cap) {
			char **more = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*names));

			if (!more)
				goto nomem;
			names = more;
		}
		names[count] = strdup(de->d_name);
		if (!names[count])
			goto nomem;
		count++;
	}
	closedir(d);
	d = NULL;
	if (!count) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: no result directory (none holds a run.json)",
			   base);
		goto err;
	}
	qsort(names, count, sizeof(*names), cmp_str);
	scen = calloc(count, sizeof(*scen));
	out = calloc(count, sizeof(*out));
	if (!scen || !out)
		goto nomem;
	for (i = 0; i < count; i++) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s/%s", base, names[i]);
		scenario_of(dir, names[i], scen[i], sizeof(scen[i]));
	}
	/* Keep a directory when no later one (by name) has its scenario. */
	for (i = 0; i < count; i++) {
		for (j = i + 1; j < count && strcmp(scen[i], scen[j]); j++)
			;
		if (j < count)
			continue;
		if (asprintf(&out[nout], "%s/%s", base, names[i]) < 0) {
			out[nout] = NULL;
			goto nomem;
		}
		nout++;
	}
	resultset_free_dirs(names, count);
	free(scen);
	*dirs = out;
	*n = nout;
	return 0;
nomem:
	tb_err_set(err, TB_EXIT_ENV, "out of memory");
err:
	if (d)
		closedir(d);
	resultset_free_dirs(names, count);
	resultset_free_dirs(out, nout);
	free(scen);
	return -1;
}

char *resultset_default_out(char *const dirs[], size_t n)
{
	char *first, *slash, *out = NULL;

	if (!n)
		return NULL;
	first = trim_dir(dirs[0]);
	if (!first || n == 1)
		return first;
	slash = strrchr(first, '/');
	if (!slash)
		out = strdup("report");
	else if (slash == first)
		out = strdup("/report");
	else if (asprintf(&out, "%.*s/report", (int)(slash - first), first) < 0)
		out = NULL;
	free(first);
	return out;
}

/* ---- per-scenario numbers ---------------------------------------------- */

void resultset_key_of(const struct run_info *info, struct scenario_key *key)
{
	memset(key, 0, sizeof(*key));
	snprintf(key->scenario, sizeof(key->scenario), "%s", info->scenario);
	snprintf(key->method, sizeof(key->method), "%s", info->method);
	snprintf(key->kernel_old, sizeof(key->kernel_old), "%s", info->kernel_old);
	snprintf(key->kernel_new, sizeof(key->kernel_new), "%s", info->kernel_new);
	key->memory_mib = info->guest_memory_mib;
	key->vcpus = info->guest_vcpus;
	key->standby_memory_mib = info->standby_memory_mib;
	key->standby_vcpus = info->standby_vcpus;
	snprintf(key->accel, sizeof(key->accel), "%s", info->accel);
}

bool resultset_key_equal(const struct scenario_key *a, const struct scenario_key *b)
{
	return !strcmp(a->scenario, b->scenario) && !strcmp(a->method, b->method) &&
	       !strcmp(a->kernel_old, b->kernel_old) && !strcmp(a->kernel_new, b->kernel_new) &&
	       a->memory_mib == b->memory_mib && a->vcpus == b->vcpus &&
	       a->standby_memory_mib == b->standby_memory_mib &&
	       a->standby_vcpus == b->standby_vcpus && !strcmp(a->accel, b->accel);
}

void resultset_key_kernels(const struct scenario_key *k, char *buf, size_t len)
{
	snprintf(buf, len, "%s \xe2\x86\x92 %s", k->kernel_old[0] ? k->kernel_old : "?",
		 k->kernel_new[0] ? k->kernel_new : "?");
}

/* "2 GiB, 2 vCPUs" for @memory_mib and @vcpus; "?" for what is not known. */
static void size_text(int memory_mib, int vcpus, char *buf, size_t len)
{
	char mem[32] = "? MiB", cpus[32] = "? vCPUs";

	if (memory_mib > 0 && memory_mib % 1024 == 0)
		snprintf(mem, sizeof(mem), "%d GiB", memory_mib / 1024);
	else if (memory_mib > 0)
		snprintf(mem, sizeof(mem), "%d MiB", memory_mib);
	if (vcpus > 0)
		snprintf(cpus, sizeof(cpus), "%d vCPU%s", vcpus, vcpus == 1 ? "" : "s");
	if (memory_mib <= 0 && vcpus <= 0)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%s, %s", mem, cpus);
}

void resultset_key_guest(const struct scenario_key *k, char *buf, size_t len)
{
	size_text(k->memory_mib, k->vcpus, buf, len);
}

void resultset_key_standby(const struct scenario_key *k, char *buf, size_t len)
{
	if (k->standby_memory_mib > 0)
		size_text(k->standby_memory_mib, k->standby_vcpus, buf, len);
	else
		snprintf(buf, len, "%s", "");
}

bool resultset_run_in(const struct resultset_run *r, const struct scenario_key *key)
{
	struct scenario_key k;

	resultset_key_of(&r->info, &k);
	return resultset_key_equal(&k, key);
}

void resultset_scenarios_free(struct scenario_stats *s, size_t n)
{
	size_t i;

	for (i = 0; s && i < n; i++) {
		free(s[i].downtime_ns);
		free(s[i].maintenance_ns);
		free(s[i].unavailable_ns);
		free(s[i].standby_ns);
	}
	free(s);
}

bool resultset_gaps_known(const struct repetition *rep)
{
	return rep->gaps_found > 0 || (rep->measured && rep->interval_median_ns > 0);
}

/*
 * The probe's achieved interval over row @row's repetitions: the median of
 * their medians (in @scratch, room for every repetition) and the worst p99.
 */
static void row_interval(const struct resultset *set, struct scenario_stats *row, double *scratch)
{
	struct stats_summary sum;
	size_t i, k, n = 0;

	for (i = 0; i < set->nruns; i++) {
		if (!resultset_run_in(&set->runs[i], &row->key))
			continue;
		for (k = 0; k < set->runs[i].nreps; k++) {
			const struct repetition *rep = &set->runs[i].reps[k];

			if (rep->interval_median_ns > 0)
				scratch[n++] = (double)rep->interval_median_ns;
			if (rep->interval_p99_ns > row->interval_p99_ns)
				row->interval_p99_ns = rep->interval_p99_ns;
		}
	}
	if (n && !stats_summarise(scratch, n, &sum))
		row->interval_median_ns = llround(sum.median);
}

int resultset_scenarios(const struct resultset *set, struct scenario_stats **out, size_t *n,
			struct tb_err *err)
{
	size_t total = 0, i, k, ns = 0;
	struct scenario_stats *s;
	double *scratch;

	*out = NULL;
	*n = 0;
	for (i = 0; i < set->nruns; i++)
		total += set->runs[i].nreps;
	s = calloc(set->nruns ? set->nruns : 1, sizeof(*s));
	if (!s)
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	for (i = 0; i < set->nruns; i++) {
		const struct resultset_run *r = &set->runs[i];
		struct scenario_stats *row = NULL;
		struct scenario_key key;

		resultset_key_of(&r->info, &key);
		for (k = 0; k < ns && !row; k++)
			if (resultset_key_equal(&s[k].key, &key))
				row = &s[k];
		if (!row) {
			row = &s[ns++];
			row->key = key;
			/* Room for every repetition of the set: a few dozen values. */
			row->downtime_ns = calloc(total ? total : 1, sizeof(double));
			row->maintenance_ns = calloc(total ? total : 1, sizeof(double));
			row->unavailable_ns = calloc(total ? total : 1, sizeof(double));
			row->standby_ns = calloc(total ? total : 1, sizeof(double));
			if (!row->downtime_ns || !row->maintenance_ns || !row->unavailable_ns ||
			    !row->standby_ns) {
				resultset_scenarios_free(s, ns);
				return tb_err_set(err, TB_EXIT_ENV, "out of memory");
			}
		}
		row->runs++;
		if (r->info.probe_interval_ns > row->probe_interval_ns)
			row->probe_interval_ns = r->info.probe_interval_ns;
		for (k = 0; k < r->nreps; k++) {
			const struct repetition *rep = &r->reps[k];

			row->reps++;
			row->verified += rep->verified;
			if (rep->measured)
				row->downtime_ns[row->ndowntime++] = (double)rep->downtime_ns;
			if (rep->maintenance_ns > 0)
				row->maintenance_ns[row->nmaintenance++] =
				    (double)rep->maintenance_ns;
			/* Over the same repetitions as the downtime, so the two compare. */
			if (rep->measured && resultset_gaps_known(rep)) {
				if (!row->nunavailable || rep->gaps_found < row->gaps_min)
					row->gaps_min = rep->gaps_found;
				if (!row->nunavailable || rep->gaps_found > row->gaps_max)
					row->gaps_max = rep->gaps_found;
				row->unavailable_ns[row->nunavailable++] =
				    (double)rep->unavailable_ns;
			}
			if (rep->standby_ns > 0)
				row->standby_ns[row->nstandby++] = (double)rep->standby_ns;
			row->captured += rep->captured;
			row->capture_agrees += rep->captured && rep->capture_agrees;
		}
	}
	scratch = calloc(total ? total : 1, sizeof(*scratch));
	if (!scratch) {
		resultset_scenarios_free(s, ns);
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	}
	for (k = 0; k < ns; k++) {
		if (s[k].ndowntime)
			stats_summarise(s[k].downtime_ns, s[k].ndowntime, &s[k].downtime);
		if (s[k].nmaintenance)
			stats_summarise(s[k].maintenance_ns, s[k].nmaintenance, &s[k].maintenance);
		if (s[k].nunavailable)
			stats_summarise(s[k].unavailable_ns, s[k].nunavailable, &s[k].unavailable);
		if (s[k].nstandby)
			stats_summarise(s[k].standby_ns, s[k].nstandby, &s[k].standby);
		row_interval(set, &s[k], scratch);
	}
	free(scratch);
	*out = s;
	*n = ns;
	return 0;
}

static bool same_guest(const struct scenario_key *a, const struct scenario_key *b)
{
	return a->memory_mib == b->memory_mib && a->vcpus == b->vcpus;
}

void resultset_twin_ratio(const struct scenario_stats *rows, size_t n, size_t i,
			  struct twin_ratio *out)
{
	const struct scenario_key *k = &rows[i].key;
	const struct scenario_stats *t = NULL;
	char kernels[160], guest[64], tguest[64], others[256] = "";
	size_t j, ntwin = 0;

	memset(out, 0, sizeof(*out));
	for (j = 0; j < n; j++) {
		const struct scenario_key *tk = &rows[j].key;

		if (strcmp(tk->method, RESULTSET_YARDSTICK))
			continue;
		ntwin++;
		if (strcmp(tk->kernel_old, k->kernel_old) ||
		    strcmp(tk->kernel_new, k->kernel_new) || strcmp(tk->accel, k->accel)) {
			size_t used = strlen(others);

			resultset_key_kernels(tk, kernels, sizeof(kernels));
			snprintf(others + used, sizeof(others) - used, "%s%s under %s",
				 used ? "; " : "", kernels, tk->accel[0] ? tk->accel : "?");
			continue;
		}
		/* The first alike twin row, unless a later one also has the same guest. */
		if (!t || (!same_guest(&t->key, k) && same_guest(tk, k))) {
			t = &rows[j];
			out->twin = j;
		}
	}
	resultset_key_kernels(k, kernels, sizeof(kernels));
	if (!ntwin) {
		snprintf(out->note, sizeof(out->note), "No %s run in this report: no ratio.",
			 RESULTSET_YARDSTICK);
		return;
	}
	if (!t) {
		snprintf(out->note, sizeof(out->note),
			 "No %s run with kernels %s under %s in this report (%s ran %s): no "
			 "ratio.",
			 RESULTSET_YARDSTICK, kernels, k->accel[0] ? k->accel : "?",
			 RESULTSET_YARDSTICK, others);
		return;
	}
	if (!rows[i].ndowntime) {
		snprintf(out->note, sizeof(out->note), "No downtime measured: no ratio.");
		return;
	}
	if (!t->ndowntime || !(t->downtime.median > 0)) {
		snprintf(out->note, sizeof(out->note),
			 "%s (scenario %s, kernels %s) measured no downtime: no ratio.",
			 RESULTSET_YARDSTICK, t->key.scenario, kernels);
		return;
	}
	out->has = true;
	out->ratio = rows[i].downtime.median / t->downtime.median;
	if (!same_guest(&t->key, k)) {
		resultset_key_guest(&t->key, tguest, sizeof(tguest));
		resultset_key_guest(k, guest, sizeof(guest));
		snprintf(out->note, sizeof(out->note),
			 "Against %s (scenario %s) in a guest of %s; this row's guest: %s.",
			 RESULTSET_YARDSTICK, t->key.scenario, tguest, guest);
	}
}
