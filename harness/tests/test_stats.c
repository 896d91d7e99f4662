/*
 * test_stats.c - quantiles (type 7) and the Mann-Whitney U test against
 * values computed by hand (the arithmetic is in each test's comment) or
 * from published tables.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "stats.h"

#define EPS 1e-9

static void assert_close(double got, double want, double eps)
{
	if (fabs(got - want) > eps)
		fail_msg("got %.12g, want %.12g (+-%g)", got, want, eps);
}

/* R: quantile(c(1,2,3,4), c(0, .5, .9, 1)) = 1, 2.5, 3.7, 4 (type 7 is R's default). */
static void test_quantile_type7_matches_r(void **state)
{
	const double x[] = {1, 2, 3, 4};
	double q;

	(void)state;
	assert_int_equal(stats_quantile(x, 4, 0, &q), 0);
	assert_close(q, 1, EPS);
	assert_int_equal(stats_quantile(x, 4, 0.5, &q), 0);
	assert_close(q, 2.5, EPS);
	/* h = (4 - 1) * 0.9 = 2.7: x[2] + 0.7 (x[3] - x[2]) = 3.7 */
	assert_int_equal(stats_quantile(x, 4, 0.9, &q), 0);
	assert_close(q, 3.7, EPS);
	assert_int_equal(stats_quantile(x, 4, 1, &q), 0);
	assert_close(q, 4, EPS);
}

/* 1..10: h = 9 * 0.9 = 8.1 -> 9 + 0.1 = 9.1; median h = 4.5 -> 5.5. */
static void test_quantile_of_ten_values(void **state)
{
	double x[10], q;

	(void)state;
	for (int i = 0; i < 10; i++)
		x[i] = i + 1;
	assert_int_equal(stats_quantile(x, 10, 0.9, &q), 0);
	assert_close(q, 9.1, EPS);
	assert_int_equal(stats_quantile(x, 10, 0.5, &q), 0);
	assert_close(q, 5.5, EPS);
}

static void test_quantile_rejects_empty_and_bad_p(void **state)
{
	const double x[] = {1};
	double q = 42;

	(void)state;
	assert_int_equal(stats_quantile(x, 0, 0.5, &q), -EINVAL);
	assert_int_equal(stats_quantile(x, 1, 1.5, &q), -EINVAL);
	assert_int_equal(stats_quantile(x, 1, -0.1, &q), -EINVAL);
	assert_int_equal(stats_quantile(x, 1, NAN, &q), -EINVAL);
	assert_close(q, 42, 0); /* untouched */
}

/* Unsorted input: sorted 1 2 3 4 5, p90 h = 3.6 -> 4 + 0.6 = 4.6. */
static void test_summary_sorts_a_copy(void **state)
{
	double x[] = {5, 1, 4, 2, 3};
	struct stats_summary s;

	(void)state;
	assert_int_equal(stats_summarise(x, 5, &s), 0);
	assert_int_equal(s.n, 5);
	assert_close(s.min, 1, EPS);
	assert_close(s.max, 5, EPS);
	assert_close(s.median, 3, EPS);
	assert_close(s.p90, 4.6, EPS);
	assert_close(s.mean, 3, EPS);
	assert_close(x[0], 5, 0); /* the caller's order is kept */
	assert_int_equal(stats_summarise(x, 0, &s), -EINVAL);
}

static void test_summary_of_one_value(void **state)
{
	const double x[] = {17002569388.0};
	struct stats_summary s;

	(void)state;
	assert_int_equal(stats_summarise(x, 1, &s), 0);
	assert_close(s.median, 17002569388.0, 0);
	assert_close(s.p90, 17002569388.0, 0);
	assert_close(s.p99, 17002569388.0, 0);
	assert_close(s.min, s.max, 0);
}

/*
 * 1..100 shuffled: p99 h = 99 * 0.99 = 98.01 -> 99 + 0.01 = 99.01 (R:
 * quantile(1:100, .99)); nearest rank would say 99 or 100.
 */
static void test_summary_p99_interpolates(void **state)
{
	double x[100];
	struct stats_summary s;

	(void)state;
	for (int i = 0; i < 100; i++)
		x[i] = (i * 37) % 100 + 1; /* 37 is prime to 100: each of 1..100 once */
	assert_int_equal(stats_summarise(x, 100, &s), 0);
	assert_close(s.p99, 99.01, EPS);
	assert_close(s.median, 50.5, EPS);
	assert_close(s.p90, 90.1, EPS);
}

/*
 * x = {4,5,6} above every y = {1,2,3}: U = 9, the largest possible; one
 * ordering of C(6,3) = 20 gives it, so P(U >= 9) = 1/20 = 0.05.
 */
static void test_mwu_exact_complete_separation(void **state)
{
	const double x[] = {4, 5, 6}, y[] = {1, 2, 3};
	struct stats_mwu r;

	(void)state;
	assert_int_equal(stats_mann_whitney(x, 3, y, 3, STATS_GREATER, &r), 0);
	assert_true(r.exact);
	assert_false(r.ties);
	assert_close(r.u, 9, EPS);
	assert_close(r.p, 0.05, EPS);
	assert_int_equal(stats_mann_whitney(x, 3, y, 3, STATS_TWO_SIDED, &r), 0);
	assert_close(r.p, 0.1, EPS);
	assert_int_equal(stats_mann_whitney(x, 3, y, 3, STATS_LESS, &r), 0);
	assert_close(r.p, 1, EPS);
	/* Swapped, U of x is 0. */
	assert_int_equal(stats_mann_whitney(y, 3, x, 3, STATS_LESS, &r), 0);
	assert_close(r.u, 0, EPS);
	assert_close(r.p, 0.05, EPS);
}

/*
 * Published tables give 4 as the one-tailed 0.05 critical value of U for
 * n1 = n2 = 5: P(U <= 4) = (1 + 1 + 2 + 3 + 5) / C(10,5) = 12/252 = 0.047619
 * (partitions of 0..4 into at most 5 parts of at most 5).
 * x = {1,2,3,4,8.5}, y = {5,6,7,8,9}: only 8.5 beats y's (5,6,7,8): U = 4.
 */
static void test_mwu_exact_matches_table_for_five_and_five(void **state)
{
	const double x[] = {1, 2, 3, 4, 8.5}, y[] = {5, 6, 7, 8, 9};
	struct stats_mwu r;

	(void)state;
	assert_int_equal(stats_mann_whitney(x, 5, y, 5, STATS_LESS, &r), 0);
	assert_true(r.exact);
	assert_close(r.u, 4, EPS);
	assert_close(r.p, 12.0 / 252.0, 1e-12);
	/* Greater: P(U >= 4) = 1 - P(U <= 3) = 1 - 7/252. */
	assert_int_equal(stats_mann_whitney(x, 5, y, 5, STATS_GREATER, &r), 0);
	assert_close(r.p, 245.0 / 252.0, 1e-12);
}

/*
 * Unequal sizes 4 and 5: U = 0, 1, 2 occur in 1, 1, 2 of the C(9,4) = 126
 * orderings.  x = {1, 2, 3.5, 4}, y = {3, 5, 6, 7, 8}: 3.5 and 4 each beat
 * 3, so U = 2 and P(U <= 2) = 4/126; two-sided 8/126.
 */
static void test_mwu_exact_unequal_sizes(void **state)
{
	const double x[] = {1, 2, 3.5, 4}, y[] = {3, 5, 6, 7, 8};
	struct stats_mwu r;

	(void)state;
	assert_int_equal(stats_mann_whitney(x, 4, y, 5, STATS_LESS, &r), 0);
	assert_close(r.u, 2, EPS);
	assert_close(r.p, 4.0 / 126.0, 1e-12);
	assert_int_equal(stats_mann_whitney(x, 4, y, 5, STATS_TWO_SIDED, &r), 0);
	assert_close(r.p, 8.0 / 126.0, 1e-12);
}

/*
 * Ties: the normal approximation with tie and continuity corrections.
 * x = {3,4,4,5,6,7}, y = {1,2,3,4,4}:
 *   U of x = 2.5 (x=3) + 4 + 4 (x=4, twice) + 5 + 5 + 5 = 25.5
 *   ties: 3 twice (2^3 - 2 = 6), 4 four times (4^3 - 4 = 60): T = 66
 *   mu = 6*5/2 = 15; var = 30/12 * (12 - 66/(11*10)) = 2.5 * 11.4 = 28.5
 *   z = (25.5 - 15 - 0.5) / sqrt(28.5) = 1.873171623
 *   p = 1 - Phi(z) = 0.030522345
 */
static void test_mwu_normal_approximation_with_ties(void **state)
{
	const double x[] = {3, 4, 4, 5, 6, 7}, y[] = {1, 2, 3, 4, 4};
	struct stats_mwu r;

	(void)state;
	assert_int_equal(stats_mann_whitney(x, 6, y, 5, STATS_GREATER, &r), 0);
	assert_false(r.exact);
	assert_true(r.ties);
	assert_close(r.u, 25.5, EPS);
	assert_close(r.z, 1.873171623163388, 1e-9);
	assert_close(r.p, 0.030522344752994594, 1e-9);
	/* Two-sided doubles it: |U - mu| is the same distance. */
	assert_int_equal(stats_mann_whitney(x, 6, y, 5, STATS_TWO_SIDED, &r), 0);
	assert_close(r.p, 2 * 0.030522344752994594, 1e-9);
}

static void test_mwu_all_values_equal_is_not_significant(void **state)
{
	const double x[] = {7, 7, 7}, y[] = {7, 7};
	struct stats_mwu r;

	(void)state;
	assert_int_equal(stats_mann_whitney(x, 3, y, 2, STATS_GREATER, &r), 0);
	assert_close(r.u, 3, EPS); /* every pair a tie: 6 * 0.5 */
	assert_close(r.p, 1, EPS);
}

/* Past STATS_MWU_EXACT_MAX the approximation is used, and a clear shift is found. */
static void test_mwu_large_samples_use_the_approximation(void **state)
{
	double x[60], y[60];
	struct stats_mwu r;

	(void)state;
	for (int i = 0; i < 60; i++) {
		x[i] = 100 + i;	     /* 100..159 */
		y[i] = 70 + i + 0.5; /* 70.5..129.5: x is larger by 29.5 */
	}
	assert_int_equal(stats_mann_whitney(x, 60, y, 60, STATS_GREATER, &r), 0);
	assert_false(r.exact);
	assert_true(r.p < 1e-6);
	assert_int_equal(stats_mann_whitney(x, 60, y, 60, STATS_LESS, &r), 0);
	assert_true(r.p > 0.999);
}

/*
 * The exact p-value against brute force: every one of the C(11, 4) = 330
 * ways to place 4 x's among 11 ranks, counting those with U >= the observed.
 */
static void test_mwu_exact_equals_enumeration(void **state)
{
	const double x[] = {2, 4, 9, 11}, y[] = {1, 3, 5, 6, 7, 8, 10};
	int total = 0, ge = 0, le = 0;
	struct stats_mwu g, l;

	(void)state;
	/* Observed: 2 beats 1; 4 beats 1,3; 9 beats 1,3,5,6,7,8; 11 beats all 7. */
	assert_int_equal(stats_mann_whitney(x, 4, y, 7, STATS_GREATER, &g), 0);
	assert_close(g.u, 1 + 2 + 6 + 7, EPS);
	for (unsigned mask = 0; mask < (1u << 11); mask++) {
		int u = 0, ys_below = 0;

		if (__builtin_popcount(mask) != 4)
			continue;
		/* Rank r (ascending) holds an x if bit r is set; an x beats the y's below it. */
		for (int r = 0; r < 11; r++) {
			if (mask & (1u << r))
				u += ys_below;
			else
				ys_below++;
		}
		total++;
		ge += u >= 16;
		le += u <= 16;
	}
	assert_int_equal(total, 330);
	assert_true(g.exact);
	assert_close(g.p, (double)ge / total, 1e-12);
	assert_int_equal(stats_mann_whitney(x, 4, y, 7, STATS_LESS, &l), 0);
	assert_close(l.p, (double)le / total, 1e-12);
}

static void test_mwu_rejects_empty_samples(void **state)
{
	const double x[] = {1};
	struct stats_mwu r;

	(void)state;
	assert_int_equal(stats_mann_whitney(x, 0, x, 1, STATS_GREATER, &r), -EINVAL);
	assert_int_equal(stats_mann_whitney(x, 1, x, 0, STATS_GREATER, &r), -EINVAL);
}

/* 1/C(n1+n2, n1): 1 vs 1 -> 1/2; 3 vs 3 -> 1/20 (exactly alpha 0.05: not below); 3 vs 4 -> 1/35. */
static void test_mwu_smallest_p_decides_testability(void **state)
{
	(void)state;
	assert_close(stats_mwu_min_p(1, 1, STATS_GREATER), 0.5, 0);
	assert_false(stats_mwu_min_p(3, 3, STATS_GREATER) < 0.05);
	assert_close(stats_mwu_min_p(3, 3, STATS_GREATER), 0.05, 0);
	assert_close(stats_mwu_min_p(3, 4, STATS_GREATER), 1.0 / 35, 1e-15);
	assert_close(stats_mwu_min_p(3, 3, STATS_TWO_SIDED), 0.1, 1e-15);
	assert_close(stats_mwu_min_p(5, 5, STATS_GREATER), 1.0 / 252, 1e-15);
	assert_close(stats_mwu_min_p(0, 5, STATS_GREATER), 1, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quantile_type7_matches_r),
	    cmocka_unit_test(test_quantile_of_ten_values),
	    cmocka_unit_test(test_quantile_rejects_empty_and_bad_p),
	    cmocka_unit_test(test_summary_sorts_a_copy),
	    cmocka_unit_test(test_summary_of_one_value),
	    cmocka_unit_test(test_summary_p99_interpolates),
	    cmocka_unit_test(test_mwu_exact_complete_separation),
	    cmocka_unit_test(test_mwu_exact_matches_table_for_five_and_five),
	    cmocka_unit_test(test_mwu_exact_unequal_sizes),
	    cmocka_unit_test(test_mwu_normal_approximation_with_ties),
	    cmocka_unit_test(test_mwu_all_values_equal_is_not_significant),
	    cmocka_unit_test(test_mwu_large_samples_use_the_approximation),
	    cmocka_unit_test(test_mwu_exact_equals_enumeration),
	    cmocka_unit_test(test_mwu_rejects_empty_samples),
	    cmocka_unit_test(test_mwu_smallest_p_decides_testability),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
