/*
 * test_methods.c - what can be checked of the method files without a
 * guest: the shipped ones load and record the phases they always did, a
 * new method is a file alone, and every mistake in a method file or in a
 * scenario's use of it names file:line:column.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methodfile.h"
#include "monotime.h"
#include "scenario.h"
#include "testlib.h"
#include "yamlfile.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	return tl_mkdtemp("/tmp/tb-methods-XXXXXX", tmpdir, sizeof(tmpdir));
}

static int teardown(void **state)
{
	(void)state;
	return tl_rmtree(tmpdir);
}

static void load_ok(const char *ref, struct method *m)
{
	struct tb_err err = { 0 };

	if (method_load(ref, tmpdir, m, &err))
		fail_msg("%s", err.msg);
}

/* @m's ordered phases (with its second round if @round2) are exactly @want. */
static void assert_phases(const struct method *m, bool round2, const char *const *want)
{
	const char **got = method_phase_list(m, round2);
	size_t i;

	assert_non_null(got);
	for (i = 0; want[i]; i++) {
		if (!got[i] || strcmp(got[i], want[i]))
			fail_msg("%s: phase %zu is %s, want %s", m->name, i, got[i] ? got[i] : "none",
				 want[i]);
	}
	if (got[i])
		fail_msg("%s: one phase too many: %s", m->name, got[i]);
	free(got);
}

/* The phases the methods recorded when they were C tables: the port changed nothing. */
static void test_shipped_methods_record_their_phases_in_order(void **state)
{
	static const char *const reboot[] = {
		"guest_start", "boot_ready", "service_up", "upgrade_start", "old_last_line",
		"old_stopped", "new_started", "new_first_line", "service_back", NULL,
	};
	static const char *const kexec[] = {
		"guest_start", "boot_ready", "service_up", "upgrade_start", "kexec_exec",
		"old_last_line", "new_first_line", "service_back", NULL,
	};
	static const char *const twin_boot[] = {
		"guest_start", "boot_ready", "service_up", "trigger", "cpu_handed", "b_first_line",
		"b_ready", "a_answered", "b_answered", "a_service_after", NULL,
	};
	static const char *const twin[] = {
		"guest_start", "boot_ready", "service_up", "trigger", "cpu_handed", "b_first_line",
		"b_ready", "handoff_start", "b_service_ready", "service_back", "b_breakdown",
		"takeover_done", "a_console_b", NULL,
	};
	static const char *const twin_repeat[] = {
		"guest_start", "boot_ready", "service_up", "trigger", "cpu_handed", "b_first_line",
		"b_ready", "handoff_start", "b_service_ready", "service_back", "b_breakdown",
		"takeover_done", "a_console_b", "r2_trigger", "r2_cpu_handed", "r2_b_first_line",
		"r2_b_ready", "r2_handoff_start", "r2_b_service_ready", "r2_service_back",
		"r2_b_breakdown", "r2_takeover_done", "r2_a_console_b", NULL,
	};
	struct method m;

	(void)state;
	load_ok("reboot", &m);
	assert_phases(&m, false, reboot);
	assert_string_equal(m.downtime_from, "upgrade_start");
	assert_string_equal(m.maintenance_to, "service_back");
	assert_int_equal(m.verify, VERIFY_UPGRADE);
	method_free(&m);
	load_ok("kexec", &m);
	assert_phases(&m, false, kexec);
	method_free(&m);
	load_ok("twin-boot", &m);
	assert_phases(&m, false, twin_boot);
	assert_int_equal(m.verify, VERIFY_UNBROKEN);
	assert_null(m.maintenance_from);
	method_free(&m);
	load_ok("twin", &m);
	assert_phases(&m, false, twin);
	assert_phases(&m, true, twin_repeat);
	/* The upgrade starts with B's boot and ends when B holds everything. */
	assert_string_equal(m.downtime_from, "handoff_start");
	assert_string_equal(m.maintenance_from, "trigger");
	assert_string_equal(m.maintenance_to, "takeover_done");
	assert_string_equal(m.next_after, "service_up");
	/* Marks of unordered steps are phases, only not in the ordered list. */
	assert_true(method_has_phase(&m, false, "b_service_ready"));
	assert_true(method_has_phase(&m, true, "r2_takeover_done"));
	assert_false(method_has_phase(&m, false, "r2_takeover_done"));
	method_free(&m);
}

/* migrate's two ways to upgrade: each records its own phases, the rest are shared. */
static void test_migrate_records_the_phases_of_its_way_to_upgrade(void **state)
{
	static const char *const by_reboot[] = {
		"guest_start", "boot_ready", "service_up", "move_away_start", "moved_away",
		"upgrade_start", "old_last_line", "old_stopped", "new_started", "new_first_line",
		"upgrade_done", "move_back_start", "service_back", NULL,
	};
	static const char *const by_kexec[] = {
		"guest_start", "boot_ready", "service_up", "move_away_start", "moved_away",
		"upgrade_start", "kexec_exec", "old_last_line", "new_first_line", "upgrade_done",
		"move_back_start", "service_back", NULL,
	};
	struct method m;

	(void)state;
	load_ok("migrate", &m);
	assert_true(m.standby);
	assert_string_equal(m.second_from, "move_back_start");
	assert_int_equal(m.nvia, 2);
	assert_string_equal(m.via[0], "reboot");
	/* Without a scenario's choice, the first way. */
	assert_phases(&m, false, by_reboot);
	m.chosen_via = m.via[1];
	assert_phases(&m, false, by_kexec);
	method_free(&m);
}

/* vm-migrate: a reference that upgrades nothing; its live_migrate step and its limit. */
static void test_vm_migrate_is_a_reference_that_upgrades_nothing(void **state)
{
	static const char *const phases[] = {
		"guest_start", "boot_ready", "service_up", "migrate_start", "migrated", "console_moved",
		NULL,
	};
	char *path = tl_path(tmpdir, "limited.yaml");
	struct method m;

	(void)state;
	load_ok("vm-migrate", &m);
	assert_phases(&m, false, phases);
	/* The guest resumes inside libvirt's call: its first reply comes before "migrated". */
	assert_true(method_has_phase(&m, false, "service_back"));
	assert_string_equal(m.maintenance_to, "migrated");
	assert_true(m.no_upgrade);
	assert_false(m.standby);
	assert_int_equal(m.verify, VERIFY_UNBROKEN);
	assert_int_equal(m.steps[5].op, OP_LIVE_MIGRATE);
	/* QEMU's own downtime limit unless the step names one. */
	assert_int_equal(m.steps[5].max_downtime_ns, 0);
	assert_int_equal(m.steps[5].budget, BUDGET_UPGRADE);
	method_free(&m);

	assert_int_equal(tl_write_file(path, "verify: unbroken\ndowntime_from: go\n"
					     "upgrades: true\nsteps:\n  - mark: go\n"
					     "  - live_migrate: {max_downtime: 50ms, timeout: 90s}\n"),
			 0);
	load_ok(path, &m);
	assert_false(m.no_upgrade);
	assert_int_equal(m.steps[1].max_downtime_ns, 50 * NS_PER_MS);
	assert_int_equal(m.steps[1].timeout_ns, 90 * NS_PER_S);
	method_free(&m);

	/* A fault a scenario injects: an NMI, marked when it was sent. */
	assert_int_equal(tl_write_file(path, "verify: none\nsteps:\n  - mark: go\n"
					     "  - inject_nmi: {mark: nmi_sent}\n"),
			 0);
	load_ok(path, &m);
	assert_int_equal(m.steps[1].op, OP_INJECT_NMI);
	assert_string_equal(m.steps[1].mark, "nmi_sent");
	method_free(&m);

	/* A machine check into one vCPU (0 unless said). */
	assert_int_equal(tl_write_file(path, "verify: none\nsteps:\n  - mark: go\n"
					     "  - inject_mce: {cpu: 1, mark: mce_sent}\n"
					     "  - inject_mce: {}\n"),
			 0);
	load_ok(path, &m);
	assert_int_equal(m.steps[1].op, OP_INJECT_MCE);
	assert_int_equal(m.steps[1].cpu, 1);
	assert_string_equal(m.steps[1].mark, "mce_sent");
	assert_int_equal(m.steps[2].cpu, 0);
	method_free(&m);

	/* A quiet window: the service left alone for as long as it says. */
	assert_int_equal(tl_write_file(path, "verify: none\nsteps:\n"
					     "  - quiet: {for: 1500ms, doing: floor}\n"),
			 0);
	load_ok(path, &m);
	assert_int_equal(m.steps[0].op, OP_QUIET);
	assert_int_equal(m.steps[0].quiet_ns, 1500 * NS_PER_MS);
	assert_string_equal(m.steps[0].doing, "floor");
	method_free(&m);
}

/* Every shipped method that upgrades measures this host's floor before it starts. */
static void test_shipped_methods_measure_the_floor_before_the_upgrade(void **state)
{
	static const char *const names[] = {
		"reboot", "kexec", "kexec-criu", "migrate", "vm-migrate", "twin-boot", "twin",
	};
	struct method m;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t q = 0, up = 0, start = 0;

		load_ok(names[i], &m);
		for (size_t k = 0; k < m.nsteps; k++) {
			const struct step *s = &m.steps[k];

			if (s->op == OP_QUIET && !q)
				q = k + 1;
			if (s->mark && !strcmp(s->mark, "service_up"))
				up = k + 1;
			if (s->mark && m.maintenance_from && !strcmp(s->mark, m.maintenance_from))
				start = k + 1;
			if (s->mark && !m.maintenance_from && m.downtime_from &&
			    !strcmp(s->mark, m.downtime_from))
				start = k + 1;
		}
		if (!q || !up || !start || q < up || q > start)
			fail_msg("%s: the quiet step (step %zu) is not between service_up "
				 "(%zu) and the upgrade's start (%zu)",
				 names[i], q, up, start);
		assert_true(m.steps[q - 1].quiet_ns > 0);
		method_free(&m);
	}
}

/* A method the harness has never heard of, from a file alone: kexec twice. */
static void test_a_new_method_is_a_file(void **state)
{
	char fixture[PATH_MAX], *abs;
	struct method m;

	(void)state;
	/* Fixtures sit next to this file; `make` compiles from the repository root. */
	snprintf(fixture, sizeof(fixture), "%s", __FILE__);
	*strrchr(fixture, '/') = '\0';
	strncat(fixture, "/fixtures/methods/kexec-twice.yaml", sizeof(fixture) - strlen(fixture) - 1);
	abs = realpath(fixture, NULL);
	assert_non_null(abs);
	load_ok(abs, &m);
	free(abs);
	assert_string_equal(m.name, "kexec-twice");
	assert_string_equal(m.downtime_from, "upgrade_start");
	assert_string_equal(m.maintenance_to, "service_back");
	assert_true(method_has_phase(&m, false, "second_kexec_exec"));
	method_free(&m);
}

static void assert_method_fails_at(const char *text, int line, int col, const char *needle)
{
	char *path = tl_path(tmpdir, "bad.yaml"), prefix[PATH_MAX + 32];
	struct tb_err err = { 0 };
	struct method m;

	assert_int_equal(tl_write_file(path, text), 0);
	memset(&m, 0xa5, sizeof(m)); /* method_load must not trust what it is given */
	assert_int_equal(method_load(path, tmpdir, &m, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", path, line, col);
	if (strncmp(err.msg, prefix, strlen(prefix)) || !strstr(err.msg, needle))
		fail_msg("expected \"%s...%s\", got \"%s\"", prefix, needle, err.msg);
	assert_null(m.steps);
	assert_null(m.path);
}

static void test_method_file_errors_name_line_and_column(void **state)
{
	(void)state;
	assert_method_fails_at("verify: upgrade\ndowntime_from: upgrade_start\nsteps:\n"
			       "  - mark: upgrade_start\n  - sleep: 1s\n",
			       5, 5, "unknown step 'sleep' in steps[1]");
	assert_method_fails_at("verify: upgrade\ndowntime_from: upgrade_strat\nsteps:\n"
			       "  - mark: upgrade_start\n",
			       2, 16, "downtime_from: 'upgrade_strat' is not a phase");
	assert_method_fails_at("verify: upgrade\ndowntime_from: upgrade_start\n"
			       "maintenance: {from: upgrade_start, to: back}\nsteps:\n"
			       "  - mark: upgrade_start\n",
			       3, 40, "maintenance.to: 'back' is not a phase");
	assert_method_fails_at("verify: upgrade\nsteps:\n  - mark: upgrade_start\n", 1, 1,
			       "needs 'downtime_from'");
	assert_method_fails_at("steps: []\n", 1, 1, "missing required key 'verify'");
	assert_method_fails_at("verify: maybe\nsteps: []\n", 1, 9,
			       "expected upgrade, unbroken or none, got 'maybe'");
	assert_method_fails_at("verify: none\nsteps:\n  - send: {text: x, before: trigger}\n", 3,
			       11, "'before' is for a scenario's steps, not a method's");
	assert_method_fails_at("verify: none\nsteps:\n  - expect: {pattern: x, timeout: soon}\n",
			       3, 35, "bad timeout 'soon'");
	assert_method_fails_at("verify: none\nsteps:\n  - takeover: {pattern: x, min_memory: 85}\n",
			       3, 40, "expected a percentage");
	assert_method_fails_at("verify: none\nsteps:\n  - expect: {pattern: '(x'}\n", 3, 23,
			       "bad regular expression");
	assert_method_fails_at("verify: none\nvia: [reboot]\nsteps:\n"
			       "  - send: {text: x, via: kexec}\n",
			       4, 5, "via: 'kexec' is not one of the method's ways to upgrade");
	assert_method_fails_at("verify: none\nvia: [reboot, reboot]\nsteps: []\n", 2, 15,
			       "via: 'reboot' twice");
	assert_method_fails_at("verify: none\nvia: reboot\nsteps: []\n", 2, 6,
			       "expected a sequence of ways to upgrade");
	assert_method_fails_at("verify: none\nsteps:\n  - expect: {pattern: x, console: standby}\n",
			       3, 5, "console: standby, but the method has no standby guest");
	assert_method_fails_at("verify: upgrade\ndowntime_from: a\nsecond_window: {from: b}\n"
			       "steps:\n  - mark: a\n",
			       3, 23, "second_window.from: 'b' is not a phase");
	assert_method_fails_at("verify: none\nupgrades: sometimes\nsteps: []\n", 2, 11,
			       "upgrades");
	assert_method_fails_at("verify: none\nsteps:\n  - live_migrate: {max_downtime: soon}\n",
			       3, 34, "bad duration 'soon'");
	assert_method_fails_at("verify: none\nsteps:\n  - quiet: {}\n", 3, 12,
			       "missing required key 'for'");
	assert_method_fails_at("verify: none\nsteps:\n  - quiet: {for: 0s}\n", 3, 18,
			       "bad duration '0s'");
}

/*
 * glibc's regcomp() copies what a repetition repeats, so repetitions of
 * repetitions multiply: "a" and forty '+' (what fuzz_method found) took it
 * longer than anyone waits, and loops over what can match nothing cost it
 * more again.  Such patterns are refused before regcomp() sees them;
 * patterns a console line needs still load.
 */
static void test_pattern_too_costly_to_compile_is_refused(void **state)
{
	static const char *const costly[] = {
		"((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+", /* nested */
		"x{0,5000}",				       /* optional copies */
		"((((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))))", /* 34 deep */
		/* loops over what can match nothing: few copies, slow epsilon closures */
		"(((((((a?)+)?)+)?)+)?)+",
	};
	/* A repetition right after another: undefined in ERE, and glibc nests them. */
	static const struct {
		const char *pattern, *message;
	} stacked[] = {
		{ "agent+++++++++++++++: ready", "at offset 6 ('+' after '+')" }, /* 2^15 copies */
		{ "(ab){10}{10}{10}", "at offset 8 ('{' after '}')" },
		{ "a?+?+?+?+?+?+?+", "at offset 2 ('+' after '?')" },
		{ "(((((((a?)+?)+?)+?)+?)+?)+?)+", "at offset 11 ('?' after '+')" },
		/* what make fuzz found taking seconds in regcomp() (calc_eclosure_iter) */
		{ "twin\\\\\\)))time$)??????????????++k++++ Ans???" "?)r",
		  "at offset 17 ('?' after '?')" },
	};
	static const char *const fine[] = {
		"twinbench-agent: ready release=[^ ]+",
		"sha256=[0-9a-f]{64}$",
		"x{0,1000}",
		"(a|b|[[:digit:]]){1,30}( [a-z]+)*",
		"(x*|y)+ done",
	};
	char text[512], *path = tl_path(tmpdir, "pattern.yaml");
	struct tb_err err = { 0 };
	struct method m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(costly) / sizeof(costly[0]); i++) {
		snprintf(text, sizeof(text), "verify: none\nsteps:\n  - expect: {pattern: '%s'}\n",
			 costly[i]);
		assert_method_fails_at(text, 3, 23, "costs too much to compile");
	}
	for (i = 0; i < sizeof(stacked) / sizeof(stacked[0]); i++) {
		snprintf(text, sizeof(text), "verify: none\nsteps:\n  - expect: {pattern: '%s'}\n",
			 stacked[i].pattern);
		assert_method_fails_at(text, 3, 23, stacked[i].message);
	}
	for (i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		snprintf(text, sizeof(text), "verify: none\nsteps:\n  - expect: {pattern: '%s'}\n",
			 fine[i]);
		assert_int_equal(tl_write_file(path, text), 0);
		if (method_load(path, tmpdir, &m, &err))
			fail_msg("%s", err.msg);
		assert_string_equal(m.steps[0].text, fine[i]);
		method_free(&m);
	}
}

/* A scenario's step placed before a phase must name one its method records. */
static void test_before_an_unknown_phase_names_position_and_phases(void **state)
{
	char *images = tl_path(tmpdir, "vmlinuz");
	char *path, text[1024];
	struct tb_err err = { 0 };
	struct scenario sc;

	(void)state;
	assert_int_equal(tl_write_file(images, "not a kernel\n"), 0);
	path = tl_path(tmpdir, "s.yaml");
	snprintf(text, sizeof(text),
		 "name: s\nmethod: kexec\nguest: {kernel: vmlinuz}\nupgrade: {kernel: vmlinuz}\n"
		 "steps:\n  - send: {text: x, before: handoff_start}\n");
	assert_int_equal(tl_write_file(path, text), 0);
	assert_int_equal(scenario_load(path, &sc, &err), -1);
	assert_non_null(strstr(err.msg, "s.yaml:6:5: before: the kexec method has no phase "
					"'handoff_start' (it has: boot_ready, service_up, "
					"upgrade_start, kexec_exec, old_last_line, new_first_line, "
					"service_back)"));

	/* A second round's phase needs the second round. */
	snprintf(text, sizeof(text),
		 "name: s\nmethod: twin\nguest: {kernel: vmlinuz}\nupgrade: {kernel: vmlinuz}\n"
		 "steps:\n  - send: {text: x, before: r2_handoff_start}\n");
	assert_int_equal(tl_write_file(path, text), 0);
	assert_int_equal(scenario_load(path, &sc, &err), -1);
	snprintf(text, sizeof(text),
		 "name: s\nmethod: twin\nguest: {kernel: vmlinuz}\n"
		 "upgrade: {kernel: vmlinuz, next: {kernel: vmlinuz, cmdline: c}}\n"
		 "steps:\n  - send: {text: x, before: r2_handoff_start}\n");
	assert_int_equal(tl_write_file(path, text), 0);
	if (scenario_load(path, &sc, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(scenario_method_label(&sc), "twin-repeat");
	scenario_free(&sc);
}

/* method_load_text() reads a method's text as method_load() reads its file. */
static void test_method_text_loads_as_its_file_does(void **state)
{
	struct method from_file, from_text;
	struct tb_err err = { 0 };
	char absent[PATH_MAX];
	char *text;

	(void)state;
	snprintf(absent, sizeof(absent), "%s", tl_path(tmpdir, "not-on-disk.yaml"));
	load_ok("twin", &from_file);
	text = tl_read_file(from_file.path);
	assert_non_null(text);
	if (method_load_text(absent, text, strlen(text), &from_text, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(from_text.path, absent);
	assert_string_equal(from_text.name, from_file.name);
	assert_int_equal(from_text.nsteps, from_file.nsteps);
	assert_int_equal(from_text.steps[3].line, from_file.steps[3].line);
	assert_string_equal(from_text.next_after, from_file.next_after);
	method_free(&from_text);
	method_free(&from_file);

	/* An error names the path given, as for a file: here, its first line alone. */
	assert_int_equal(method_load_text(absent, text, strcspn(text, "\n"), &from_text, &err), -1);
	free(text);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_int_equal(strncmp(err.msg, absent, strlen(absent)), 0);
	assert_non_null(strstr(err.msg, ":1:1: empty method"));
	assert_null(from_text.path);
}

/*
 * wait_probe's "state" is struct step's bool probe_up: parsing it writes that
 * byte and no other (it used to store an int over the fields after it).
 */
static void test_probe_state_writes_only_its_bool(void **state)
{
	static const struct yf_field f = FIELD("state", yf_probe_state, struct step, probe_up);
	unsigned char want[sizeof(struct step)];
	struct tb_err err = { 0 };
	struct yf_loader ld;
	yaml_node_t *root;
	struct step st;
	const char *path;

	(void)state;
	path = tl_path(tmpdir, "state.yaml");
	assert_int_equal(tl_write_file(path, "up\n"), 0);
	root = yf_open(&ld, path, "test", &err);
	if (!root)
		fail_msg("%s", err.msg);
	memset(&st, 0xa5, sizeof(st));
	memcpy(want, &st, sizeof(want));
	want[offsetof(struct step, probe_up)] = 1;
	assert_int_equal(yf_probe_state(&ld, &f, "state", root, (char *)&st), 0);
	assert_memory_equal(&st, want, sizeof(want));
	yf_close(&ld);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_methods_record_their_phases_in_order),
		cmocka_unit_test(test_migrate_records_the_phases_of_its_way_to_upgrade),
		cmocka_unit_test(test_shipped_methods_measure_the_floor_before_the_upgrade),
		cmocka_unit_test(test_a_new_method_is_a_file),
		cmocka_unit_test(test_vm_migrate_is_a_reference_that_upgrades_nothing),
		cmocka_unit_test(test_method_file_errors_name_line_and_column),
		cmocka_unit_test(test_pattern_too_costly_to_compile_is_refused),
		cmocka_unit_test(test_before_an_unknown_phase_names_position_and_phases),
		cmocka_unit_test(test_method_text_loads_as_its_file_does),
		cmocka_unit_test(test_probe_state_writes_only_its_bool),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
