/*
 * trace.c - a run's traces read back for the report's plots: the probe's
 * replies and round-trip times from probe.csv, the stamps of the console
 * lines from console-a.log and console-b.log, and the lookups a
 * repetition's timeline makes in them.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monotime.h"
#include "trace.h"

/* ---- loading ----------------------------------------------------------- */

static int stamps_push(struct trace_stamps *a, int64_t v)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 256;
		int64_t *more = realloc(a->v, cap * sizeof(*more));

		if (!more)
			return -1;
		a->v = more;
		a->cap = cap;
	}
	a->v[a->n++] = v;
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

void trace_free(struct run_trace *t, size_t nreps)
{
	size_t i;

	for (i = 0; t->reps && i < nreps; i++) {
		free(t->reps[i].replies.v);
		free(t->reps[i].rtt);
	}
	free(t->reps);
	free(t->lines[0].v);
	free(t->lines[1].v);
}

/* "123.456789012" (seconds, up to 9 decimals) as ns; -1 if not that. */
static int64_t parse_stamp(const char *s, char **end)
{
	int64_t sec = 0, frac = 0;
	int digits = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (sec > (INT64_MAX / NS_PER_S - 9) / 10)
			return -1;
		sec = sec * 10 + (*s - '0');
	}
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			if (digits < 9) {
				frac = frac * 10 + (*s - '0');
				digits++;
			}
	for (; digits < 9; digits++)
		frac *= 10;
	*end = (char *)s;
	return sec * NS_PER_S + frac;
}

/* Stamps of every line of a console log; a missing log is an empty one. */
static int load_console(const char *path, struct trace_stamps *out)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, *end;
	size_t cap = 0;
	int ret = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		int64_t t = parse_stamp(line, &end);

		if (t >= 0 && (*end == ' ' || *end == '\n' || !*end) && stamps_push(out, t)) {
			ret = -1;
			break;
		}
	}
	free(line);
	fclose(f);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_i64);
	return ret;
}

struct seq_time {
	uint64_t seq;
	int64_t t;
};

static int cmp_seq(const void *a, const void *b)
{
	uint64_t x = ((const struct seq_time *)a)->seq, y = ((const struct seq_time *)b)->seq;

	return (x > y) - (x < y);
}

struct probe_rows {
	struct seq_time *send, *recv;
	size_t nsend, nrecv, capsend, caprecv;
};

static int push_row(struct seq_time **a, size_t *n, size_t *cap, uint64_t seq, int64_t t)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 1024;
		struct seq_time *more = realloc(*a, c * sizeof(*more));

		if (!more)
			return -1;
		*a = more;
		*cap = c;
	}
	(*a)[(*n)++] = (struct seq_time){seq, t};
	return 0;
}

/*
 * probe.csv: "event,rep,seq,t_ns,counter,release,boot_id".  Rows of a
 * repetition the run.json does not know, and rows that do not parse, are
 * skipped: the plots show what can be read.
 */
static int load_probe(const char *path, const struct repetition *reps, size_t nreps,
		      struct run_trace *t)
{
	struct probe_rows *rows = calloc(nreps ? nreps : 1, sizeof(*rows));
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0, i, k;
	int ret = -1;

	if (!rows)
		goto out;
	if (!f) {
		ret = 0;
		goto out;
	}
	while (getline(&line, &cap, f) > 0) {
		char ev[8];
		int rep;
		uint64_t seq;
		int64_t tns;
		struct probe_rows *pr = NULL;

		if (sscanf(line, "%7[a-z],%d,%" SCNu64 ",%" SCNd64 ",", ev, &rep, &seq, &tns) != 4)
			continue;
		for (k = 0; k < nreps; k++)
			if (reps[k].index == rep)
				pr = &rows[k];
		if (!pr)
			continue;
		if (!strcmp(ev, "send") && push_row(&pr->send, &pr->nsend, &pr->capsend, seq, tns))
			goto out;
		if (!strcmp(ev, "recv") && push_row(&pr->recv, &pr->nrecv, &pr->caprecv, seq, tns))
			goto out;
	}
	for (k = 0; k < nreps; k++) {
		struct probe_rows *pr = &rows[k];
		struct rep_trace *rt = &t->reps[k];

		rt->rtt = malloc((pr->nrecv ? pr->nrecv : 1) * sizeof(*rt->rtt));
		if (!rt->rtt)
			goto out;
		if (pr->nsend)
			qsort(pr->send, pr->nsend, sizeof(*pr->send), cmp_seq);
		for (i = 0; i < pr->nrecv; i++) {
			struct seq_time *s = pr->nsend ? bsearch(&pr->recv[i], pr->send, pr->nsend,
								 sizeof(*pr->send), cmp_seq)
						       : NULL;

			if (stamps_push(&rt->replies, pr->recv[i].t))
				goto out;
			if (s && pr->recv[i].t >= s->t)
				rt->rtt[rt->nrtt++] = (double)(pr->recv[i].t - s->t);
		}
		if (rt->replies.n)
			qsort(rt->replies.v, rt->replies.n, sizeof(int64_t), cmp_i64);
	}
	ret = 0;
out:
	for (k = 0; rows && k < nreps; k++) {
		free(rows[k].send);
		free(rows[k].recv);
	}
	free(rows);
	free(line);
	if (f)
		fclose(f);
	return ret;
}

int trace_load(const char *dir, const struct repetition *reps, size_t nreps, struct run_trace *t,
	       struct tb_err *err)
{
	char path[PATH_MAX];

	memset(t, 0, sizeof(*t));
	t->reps = calloc(nreps ? nreps : 1, sizeof(*t->reps));
	if (!t->reps)
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	snprintf(path, sizeof(path), "%s/console-a.log", dir);
	if (load_console(path, &t->lines[0]))
		goto nomem;
	snprintf(path, sizeof(path), "%s/console-b.log", dir);
	if (load_console(path, &t->lines[1]))
		goto nomem;
	snprintf(path, sizeof(path), "%s/probe.csv", dir);
	if (load_probe(path, reps, nreps, t))
		goto nomem;
	return 0;
nomem:
	trace_free(t, nreps);
	memset(t, 0, sizeof(*t));
	return tb_err_set(err, TB_EXIT_ENV, "%s: out of memory reading the traces", dir);
}

/* ---- timelines --------------------------------------------------------- */

int64_t trace_first_phase(const struct repetition *rep)
{
	int64_t t = INT64_MAX;
	int i;

	for (i = 0; i < rep->nphases; i++)
		if (rep->phases[i].t_ns < t)
			t = rep->phases[i].t_ns;
	return t;
}

int64_t trace_origin(const struct repetition *rep, const char **name)
{
	static const char *const starts[] = {"upgrade_start", "trigger"};
	int64_t t;
	int i;

	for (i = 0; i < 2; i++) {
		t = repetition_phase(rep, starts[i]);
		if (t >= 0) {
			*name = starts[i];
			return t;
		}
	}
	t = trace_first_phase(rep);
	for (i = 0; i < rep->nphases && i < RESULTS_MAX_PHASES; i++)
		if (rep->phases[i].t_ns == t) {
			*name = rep->phases[i].name;
			return t;
		}
	*name = NULL;
	return 0;
}

size_t trace_lower_bound(const struct trace_stamps *a, int64_t t)
{
	size_t lo = 0, hi = a->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a->v[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool trace_find_gap(const struct repetition *rep, const struct trace_stamps *r, int64_t origin,
		    int64_t *start, int64_t *end)
{
	int64_t best = 0;
	size_t i;

	if (!rep->measured || r->n < 2)
		return false;
	for (i = 0; i + 1 < r->n; i++)
		if (r->v[i + 1] - r->v[i] == rep->downtime_ns) {
			*start = r->v[i];
			*end = r->v[i + 1];
			return true;
		}
	for (i = 0; i + 1 < r->n; i++)
		if (r->v[i + 1] >= origin && r->v[i + 1] - r->v[i] > best) {
			best = r->v[i + 1] - r->v[i];
			*start = r->v[i];
			*end = r->v[i + 1];
		}
	return best > 0;
}

int trace_find_gaps(const struct trace_stamps *r, int64_t interval_ns, struct trace_gap **gaps,
		    size_t *n)
{
	int64_t min = TRACE_GAP_INTERVALS * (interval_ns > 0 ? interval_ns : NS_PER_MS);
	size_t i, count = 0;

	*gaps = NULL;
	*n = 0;
	for (i = 0; i + 1 < r->n; i++)
		count += r->v[i + 1] - r->v[i] > min;
	if (!count)
		return 0;
	*gaps = malloc(count * sizeof(**gaps));
	if (!*gaps)
		return -1;
	for (i = 0; i + 1 < r->n; i++)
		if (r->v[i + 1] - r->v[i] > min)
			(*gaps)[(*n)++] = (struct trace_gap){r->v[i], r->v[i + 1]};
	return 0;
}
