/*
 * test_methods.c - what can be checked of the step programs without a
 * guest: scenario steps placed "before:" a phase must name a phase the
 * method's own steps record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "methods.h"

static struct scenario with_step_before(enum method m, const char *phase, struct step *st)
{
	struct scenario sc = { .path = "s.yaml", .method = m, .steps = st, .nsteps = 1 };

	memset(st, 0, sizeof(*st));
	st->kind = STEP_SEND;
	st->before = (char *)phase;
	st->line = 12;
	st->column = 5;
	return sc;
}

static void test_before_a_phase_of_the_method_is_accepted(void **state)
{
	struct step st;
	struct scenario sc = with_step_before(METHOD_TWIN, "handoff_start", &st);
	struct tb_err err = { 0 };

	(void)state;
	assert_int_equal(method_check_steps(&sc, &err), 0);
	sc = with_step_before(METHOD_KEXEC, "upgrade_start", &st);
	assert_int_equal(method_check_steps(&sc, &err), 0);
}

/* A chain of twin upgrades (upgrade.next) has the second round's phases too. */
static void test_before_a_second_round_phase_needs_a_next_upgrade(void **state)
{
	struct step st;
	struct scenario sc = with_step_before(METHOD_TWIN, "r2_handoff_start", &st);
	struct tb_err err = { 0 };
	const char *const *r2 = method_round2_phases();
	const char *const *twin = method_phases(METHOD_TWIN);
	size_t i = 0, k = 0;

	(void)state;
	assert_int_equal(method_check_steps(&sc, &err), -1);
	sc.upgrade.next.kernel = "/images/vmlinuz-c";
	assert_int_equal(method_check_steps(&sc, &err), 0);

	/* The twin phases from the trigger on, each prefixed, and nothing else. */
	while (strcmp(twin[k], "trigger"))
		k++;
	for (; twin[k]; i++, k++)
		assert_true(r2[i] && !strncmp(r2[i], "r2_", 3) && !strcmp(r2[i] + 3, twin[k]));
	assert_null(r2[i]);
	assert_ptr_equal(method_round2_phases(), r2);
	assert_string_equal(ROUND2_GAP_START, "r2_handoff_start");
}

static void test_before_an_unknown_phase_names_position_and_phases(void **state)
{
	struct step st;
	struct scenario sc = with_step_before(METHOD_KEXEC, "handoff_start", &st);
	struct tb_err err = { 0 };

	(void)state;
	assert_int_equal(method_check_steps(&sc, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "s.yaml:12:5: before: the kexec method has no phase "
					"'handoff_start' (it has: boot_ready, service_up, "
					"upgrade_start, kexec_exec, new_first_line, "
					"userspace_ready)"));
}

/* A derived phase (from the probe, or the line before the banner) has no step to precede. */
static void test_before_a_derived_phase_is_rejected(void **state)
{
	struct step st;
	struct scenario sc = with_step_before(METHOD_KEXEC, "service_back", &st);
	struct tb_err err = { 0 };

	(void)state;
	assert_int_equal(method_check_steps(&sc, &err), -1);
	sc = with_step_before(METHOD_CUSTOM, "trigger", &st);
	assert_int_equal(method_check_steps(&sc, &err), -1);
	assert_non_null(strstr(err.msg, "(it has: none)"));
}

/* Every gap-start phase is one the method's own steps record. */
static void test_gap_starts_at_a_phase_of_the_program(void **state)
{
	const enum method ms[] = { METHOD_REBOOT, METHOD_KEXEC, METHOD_TWIN_BOOT, METHOD_TWIN };
	struct tb_err err = { 0 };
	struct step st;

	(void)state;
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		struct scenario sc = with_step_before(ms[i], method_gap_start(ms[i]), &st);

		assert_non_null(method_gap_start(ms[i]));
		assert_int_equal(method_check_steps(&sc, &err), 0);
	}
	assert_null(method_gap_start(METHOD_CUSTOM));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_before_a_phase_of_the_method_is_accepted),
		cmocka_unit_test(test_before_a_second_round_phase_needs_a_next_upgrade),
		cmocka_unit_test(test_before_an_unknown_phase_names_position_and_phases),
		cmocka_unit_test(test_before_a_derived_phase_is_rejected),
		cmocka_unit_test(test_gap_starts_at_a_phase_of_the_program),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
