/*
 * stats.c - quantiles (type 7) and the Mann-Whitney U test.
 *
 * Sample sizes here are repetitions of a benchmark: tens at most, so the
 * exact distribution of U is affordable and preferred to the normal
 * approximation, which is poor for small samples.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int stats_quantile(const double *sorted, size_t n, double p, double *out)
{
	double h, frac;
	size_t lo;

	if (!n || !(p >= 0 && p <= 1))
		return -EINVAL;
	h = (double)(n - 1) * p;
	lo = (size_t)floor(h);
	frac = h - (double)lo;
	if (lo + 1 >= n) {
		*out = sorted[n - 1];
		return 0;
	}
	*out = sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
	return 0;
}

int stats_summarise(const double *values, size_t n, struct stats_summary *out)
{
	double *s, sum = 0;
	size_t i;

	if (!n)
		return -EINVAL;
	s = malloc(n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memcpy(s, values, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	for (i = 0; i < n; i++)
		sum += s[i];
	out->n = n;
	out->min = s[0];
	out->max = s[n - 1];
	out->mean = sum / (double)n;
	stats_quantile(s, n, 0.5, &out->median);
	stats_quantile(s, n, 0.9, &out->p90);
	stats_quantile(s, n, 0.99, &out->p99);
	free(s);
	return 0;
}

/*
 * C(n, k) as a double: the running product stays an exact integer while it
 * fits in 53 bits, so C(6, 3) is exactly 20 and 1/C compares exactly with
 * an alpha of 0.05; beyond that it is as close as a double gets.
 */
static double choose(size_t n, size_t k)
{
	double c = 1;
	size_t i;

	if (k > n - k)
		k = n - k;
	for (i = 1; i <= k; i++)
		c = c * (double)(n - k + i) / (double)i;
	return c;
}

double stats_mwu_min_p(size_t nx, size_t ny, enum stats_alternative alt)
{
	double p;

	if (!nx || !ny)
		return 1;
	p = 1 / choose(nx + ny, nx);
	if (alt == STATS_TWO_SIDED)
		p *= 2;
	return p > 1 ? 1 : p;
}

/*
 * counts[k], k = 0..m*n: in how many of the C(m+n, m) orderings of m x's
 * and n y's U of x is k.  Recurrence on the largest value: if it is an x it
 * beats all n y's (count(m-1, n, k-n)), if it is a y it beats nothing
 * (count(m, n-1, k)).  Rows are kept for all j = 0..n of the current m.
 * Counts reach C(100, 50) ~ 1e29: doubles keep 16 significant digits, which
 * is all a p-value needs.
 */
static double *mwu_counts(size_t m, size_t n)
{
	size_t mn = m * n, w = mn + 1, i, j, k;
	double *prev, *cur, *swap, *out = NULL;

	prev = calloc((n + 1) * w, sizeof(*prev));
	cur = calloc((n + 1) * w, sizeof(*cur));
	if (!prev || !cur)
		goto out;
	/* m = 0: one ordering, U = 0, for every j. */
	for (j = 0; j <= n; j++)
		prev[j * w] = 1;
	for (i = 1; i <= m; i++) {
		memset(cur, 0, (n + 1) * w * sizeof(*cur));
		cur[0] = 1; /* j = 0: only x's, U = 0 */
		for (j = 1; j <= n; j++)
			for (k = 0; k <= i * j; k++)
				cur[j * w + k] =
				    (k >= j ? prev[j * w + k - j] : 0) + cur[(j - 1) * w + k];
		swap = prev;
		prev = cur;
		cur = swap;
	}
	out = malloc(w * sizeof(*out));
	if (out)
		memcpy(out, prev + n * w, w * sizeof(*out));
out:
	free(prev);
	free(cur);
	return out;
}

struct tagged {
	double v;
	int from_x;
};

static int cmp_tagged(const void *a, const void *b)
{
	return cmp_double(&((const struct tagged *)a)->v, &((const struct tagged *)b)->v);
}

int stats_mann_whitney(const double *x, size_t nx, const double *y, size_t ny,
		       enum stats_alternative alt, struct stats_mwu *out)
{
	size_t n = nx + ny, i, j;
	double rank_x = 0, tie_sum = 0, mu, var, sd;
	struct tagged *all;

	if (!nx || !ny)
		return -EINVAL;
	all = malloc(n * sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (i = 0; i < nx; i++)
		all[i] = (struct tagged){x[i], 1};
	for (i = 0; i < ny; i++)
		all[nx + i] = (struct tagged){y[i], 0};
	qsort(all, n, sizeof(*all), cmp_tagged);
	memset(out, 0, sizeof(*out));
	/* Ranks are 1-based; a group of t tied values shares their mean rank. */
	for (i = 0; i < n; i = j) {
		double t, mean_rank;

		for (j = i + 1; j < n && all[j].v == all[i].v; j++)
			;
		t = (double)(j - i);
		mean_rank = ((double)i + 1 + (double)j) / 2;
		for (size_t k = i; k < j; k++)
			if (all[k].from_x)
				rank_x += mean_rank;
		if (t > 1) {
			tie_sum += t * t * t - t;
			out->ties = true;
		}
	}
	free(all);
	out->u = rank_x - (double)nx * ((double)nx + 1) / 2;

	mu = (double)nx * (double)ny / 2;
	var = (double)nx * (double)ny / 12 *
	      (((double)n + 1) - tie_sum / ((double)n * ((double)n - 1)));
	sd = var > 0 ? sqrt(var) : 0;
	switch (alt) {
	case STATS_GREATER:
		out->z = sd > 0 ? (out->u - mu - 0.5) / sd : 0;
		out->p = sd > 0 ? 0.5 * erfc(out->z / M_SQRT2) : 1;
		break;
	case STATS_LESS:
		out->z = sd > 0 ? (out->u - mu + 0.5) / sd : 0;
		out->p = sd > 0 ? 0.5 * erfc(-out->z / M_SQRT2) : 1;
		break;
	case STATS_TWO_SIDED:
		out->z = sd > 0 ? (fmax(out->u, 2 * mu - out->u) - mu - 0.5) / sd : 0;
		out->p = sd > 0 ? fmin(1, erfc(out->z / M_SQRT2)) : 1;
		break;
	}

	if (!out->ties && nx <= STATS_MWU_EXACT_MAX && ny <= STATS_MWU_EXACT_MAX) {
		double *c = mwu_counts(nx, ny), total = 0, ge = 0, le = 0;
		size_t u = (size_t)out->u; /* an integer without ties */

		if (!c)
			return -ENOMEM;
		for (i = 0; i <= nx * ny; i++) {
			total += c[i];
			if (i >= u)
				ge += c[i];
			if (i <= u)
				le += c[i];
		}
		free(c);
		out->exact = true;
		if (alt == STATS_GREATER)
			out->p = ge / total;
		else if (alt == STATS_LESS)
			out->p = le / total;
		else
			out->p = fmin(1, 2 * fmin(ge, le) / total);
	}
	return 0;
}
