/*
 * stats.h - order statistics and a rank test, for reports and the gate.
 *
 * Quantiles are Hyndman & Fan's type 7 (R's and NumPy's default): for n
 * sorted values x[0..n-1] and 0 <= p <= 1, h = (n - 1) p and
 * Q(p) = x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]).
 * The median is Q(0.5) (the mean of the two middle values for even n).
 *
 * The Mann-Whitney U test compares two independent samples without assuming
 * a distribution: U of x is the number of pairs (x_i, y_j) with x_i > y_j,
 * ties counting one half.  Its p-value is exact (the distribution of U
 * counted over every arrangement) when there are no ties and neither sample
 * has more than STATS_MWU_EXACT_MAX values; otherwise it is the normal
 * approximation with the tie correction of the variance and a continuity
 * correction of 0.5.
 */
#ifndef TB_STATS_H
#define TB_STATS_H

#include <stdbool.h>
#include <stddef.h>

/* Largest sample for the exact distribution: its table is O(n^3) to build. */
#define STATS_MWU_EXACT_MAX 50

struct stats_summary {
	size_t n;
	double min, max, median, p90, p99, mean;
};

/* Q(@p) of @sorted (ascending, @n >= 1), type 7; -EINVAL for n == 0 or p outside [0, 1]. */
int stats_quantile(const double *sorted, size_t n, double p, double *out);

/* n, min, max, median, p90, p99 and mean of @values (any order); -EINVAL if @n == 0, -ENOMEM. */
int stats_summarise(const double *values, size_t n, struct stats_summary *out);

enum stats_alternative {
	STATS_TWO_SIDED,
	STATS_GREATER, /* x tends to be larger than y */
	STATS_LESS,    /* x tends to be smaller than y */
};

struct stats_mwu {
	double u;   /* U of x (pairs x > y, ties one half); U of y is nx * ny - u */
	double z;   /* the normal approximation's z (also filled when exact) */
	double p;   /* p-value for the alternative asked */
	bool exact; /* p from the exact distribution */
	bool ties;  /* the samples share values (so the approximation was used) */
};

/* Mann-Whitney U test of @x against @y (both non-empty); -EINVAL, -ENOMEM. */
int stats_mann_whitney(const double *x, size_t nx, const double *y, size_t ny,
		       enum stats_alternative alt, struct stats_mwu *out);

/*
 * The smallest p-value the test can give for these sample sizes (no ties):
 * 1 / C(nx + ny, nx) one-sided, twice that two-sided.  When it is not below
 * alpha, no outcome can be significant at alpha.
 */
double stats_mwu_min_p(size_t nx, size_t ny, enum stats_alternative alt);

#endif
