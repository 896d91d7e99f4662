/*
 * test_scenario.c - scenario files: values, defaults, and the exact
 * FILE:LINE:COLUMN of every kind of input error.
 *
 * The group setup builds a scratch tree
 *
 *	TMP/images/{vmlinuz,vmlinuz-new,initrd.img,rootfs.img}
 *	TMP/scenarios/<every fixture>.yaml
 *
 * so that the fixtures' "../images/..." paths resolve to files the test
 * owns, whatever the state of the real images/ directory.  Each invalid
 * fixture states its expected error on its first line.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "monotime.h"
#include "scenario.h"
#include "testlib.h"

static char tmpdir[256]; /* realpath of the scratch tree, short enough for any test path */

/* Fixtures sit next to this file; `make` compiles from the repository root. */
static void fixture_dir(char *buf, size_t size)
{
	char file[PATH_MAX];

	snprintf(file, sizeof(file), "%s", __FILE__);
	snprintf(buf, size, "%s/fixtures/scenario", dirname(file));
}

/* @rel inside the scratch tree; valid for the next 7 calls. */
static const char *scratch(const char *rel)
{
	return tl_path(tmpdir, rel);
}

static const char *scenario_path(const char *name)
{
	char rel[512];

	snprintf(rel, sizeof(rel), "scenarios/%s", name);
	return scratch(rel);
}

static int copy_file(const char *from, const char *to)
{
	char *text = tl_read_file(from);
	int rc;

	if (!text)
		return -1;
	rc = tl_write_file(to, text);
	free(text);
	return rc;
}

static int setup_tree(void **state)
{
	static const char *const images[] = {"vmlinuz", "vmlinuz-new", "initrd.img", "rootfs.img"};
	char made[64], dir[PATH_MAX], from[PATH_MAX + 256];
	struct dirent *de;
	char *real;
	DIR *d;
	size_t i;

	(void)state;
	if (tl_mkdtemp("/tmp/tb-scenario-XXXXXX", made, sizeof(made)))
		return -1;
	/* /tmp may be a symlink; the loader reports resolved paths. */
	real = realpath(made, NULL);
	if (!real || strlen(real) >= sizeof(tmpdir)) {
		free(real);
		return -1;
	}
	strcpy(tmpdir, real);
	free(real);
	if (mkdir(scratch("images"), 0755) || mkdir(scratch("scenarios"), 0755))
		return -1;
	for (i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "images/%s", images[i]);
		if (tl_write_file(scratch(rel), "not a kernel\n"))
			return -1;
	}

	fixture_dir(dir, sizeof(dir));
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "%s: %s (run the test from the repository root)\n", dir,
			strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n < 5 || strcmp(de->d_name + n - 5, ".yaml"))
			continue;
		snprintf(from, sizeof(from), "%s/%s", dir, de->d_name);
		if (copy_file(from, scenario_path(de->d_name))) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

static int teardown_tree(void **state)
{
	(void)state;
	if (!tmpdir[0])
		return 0;
	return tl_rmtree(tmpdir);
}

static void assert_scenario_empty(const struct scenario *sc)
{
	static const struct scenario zero;

	assert_memory_equal(sc, &zero, sizeof(zero));
}

/*
 * Load @path, which must fail with TB_EXIT_USAGE and a message that starts
 * with exactly "@path:@line:@col: " and contains @needle.
 */
static void assert_load_fails_at(const char *path, int line, int col, const char *needle)
{
	struct scenario sc;
	struct tb_err err = {0};
	char prefix[PATH_MAX + 64];

	memset(&sc, 0xa5, sizeof(sc)); /* scenario_load must not trust what it is given */
	assert_int_equal(scenario_load(path, &sc, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", path, line, col);
	if (strncmp(err.msg, prefix, strlen(prefix)))
		fail_msg("expected prefix \"%s\", got \"%s\"", prefix, err.msg);
	if (!strstr(err.msg, needle))
		fail_msg("expected \"%s\" in \"%s\"", needle, err.msg);
	assert_scenario_empty(&sc);
}

static void assert_fixture_fails_at(const char *name, int line, int col, const char *needle)
{
	assert_load_fails_at(scenario_path(name), line, col, needle);
}

static void load_ok(const char *path, struct scenario *sc)
{
	struct tb_err err = {0};

	if (scenario_load(path, sc, &err))
		fail_msg("%s", err.msg);
}

/* --- valid files --- */

static void test_full_file_sets_every_field(void **state)
{
	struct scenario sc;

	(void)state;
	load_ok(scenario_path("full.yaml"), &sc);
	assert_string_equal(sc.path, scenario_path("full.yaml"));
	assert_string_equal(sc.name, "kexec-full_1.0");
	assert_string_equal(sc.method.name, "kexec");
	assert_int_equal(sc.repetitions, 3);

	assert_string_equal(sc.guest.kernel, scratch("images/vmlinuz"));
	assert_string_equal(sc.guest.initrd, scratch("images/initrd.img"));
	assert_string_equal(sc.guest.rootfs, scratch("images/rootfs.img"));
	assert_string_equal(sc.guest.cmdline, "console=ttyS0,115200 root=/dev/vda rw");
	assert_int_equal(sc.guest.memory_mib, 1024);
	assert_int_equal(sc.guest.vcpus, 4);

	assert_string_equal(sc.upgrade.kernel, scratch("images/vmlinuz-new"));
	assert_string_equal(sc.upgrade.initrd, scratch("images/initrd.img"));
	assert_string_equal(sc.upgrade.cmdline, "console=ttyS0,115200 root=/dev/vda ro");
	assert_string_equal(sc.upgrade.release, "6.1.0-27-amd64");

	assert_int_equal(sc.service.port, 7000);
	assert_int_equal(sc.service.interval_ns, 250 * NS_PER_US);
	assert_int_equal(sc.timeouts.boot_ns, 90 * NS_PER_S); /* 1.5m */
	assert_int_equal(sc.timeouts.upgrade_ns, 90 * NS_PER_S);
	assert_int_equal(sc.timeouts.step_ns, 10 * NS_PER_S);
	assert_int_equal(sc.nsteps, 7);
	scenario_free(&sc);
	assert_scenario_empty(&sc);
}

static void test_steps_keep_order_fields_and_line_numbers(void **state)
{
	struct scenario sc;
	const struct step *s;

	(void)state;
	load_ok(scenario_path("full.yaml"), &sc);
	assert_int_equal(sc.nsteps, 7);
	s = sc.steps;

	assert_int_equal(s[0].op, OP_EXPECT);
	assert_int_equal(s[0].console, 'a');
	assert_string_equal(s[0].text, "login:");
	assert_string_equal(s[0].mark, "prompt");
	assert_int_equal(s[0].timeout_ns, 10 * NS_PER_S);
	assert_int_equal(s[0].line, 23);
	assert_int_equal(s[0].column, 5);

	assert_int_equal(s[1].op, OP_SEND);
	assert_int_equal(s[1].console, 'b');
	assert_int_equal(s[1].line, 24);

	assert_int_equal(s[2].op, OP_SEND);
	assert_int_equal(s[2].console, 'a'); /* default */
	assert_null(s[2].mark);
	assert_int_equal(s[2].timeout_ns, 0);

	assert_int_equal(s[4].op, OP_MARK);
	assert_string_equal(s[4].mark, "upgrade_start");
	assert_int_equal(s[4].line, 27);

	assert_int_equal(s[5].op, OP_WAIT_PROBE);
	assert_int_equal(s[5].probe_up, 0);
	assert_int_equal(s[5].timeout_ns, 0); /* 0: the scenario's step timeout */
	assert_null(s[5].mark);

	assert_int_equal(s[6].op, OP_WAIT_PROBE);
	assert_int_equal(s[6].probe_up, 1);
	assert_int_equal(s[6].timeout_ns, 30 * NS_PER_S);
	assert_string_equal(s[6].mark, "back");
	assert_int_equal(s[6].line, 29);
	assert_int_equal(s[6].column, 5);
	scenario_free(&sc);
}

static void test_send_text_escapes_decoded_once(void **state)
{
	struct scenario sc;

	(void)state;
	load_ok(scenario_path("full.yaml"), &sc);
	/* plain scalar: `uname -r\n` is decoded here */
	assert_string_equal(sc.steps[1].text, "uname -r\n");
	/* placed before a phase of the method; the others run at the end */
	assert_string_equal(sc.steps[1].before, "upgrade_start");
	assert_null(sc.steps[2].before);
	assert_null(sc.steps[0].before);
	/* single-quoted: \t decoded, \\ becomes one backslash followed by n */
	assert_string_equal(sc.steps[2].text, "a\tb\\n");
	/* double-quoted: YAML decoded it; "\\n" must stay backslash-n */
	assert_string_equal(sc.steps[3].text, "ls\\n\r");
	scenario_free(&sc);
}

static void test_minimal_file_gets_defaults(void **state)
{
	struct scenario sc;

	(void)state;
	load_ok(scenario_path("minimal.yaml"), &sc);
	assert_string_equal(sc.name, "reboot");
	assert_string_equal(sc.method.name, "reboot");
	assert_int_equal(sc.repetitions, 1);
	assert_null(sc.guest.initrd);
	assert_null(sc.guest.rootfs);
	assert_string_equal(sc.guest.cmdline, "");
	assert_int_equal(sc.guest.memory_mib, 512);
	assert_int_equal(sc.guest.vcpus, 2);
	assert_int_equal(sc.guest.nic, NIC_HANDOFF);
	assert_null(sc.upgrade.initrd);
	assert_string_equal(sc.upgrade.cmdline, "");
	assert_null(sc.upgrade.release);
	assert_int_equal(sc.service.port, 7777);
	assert_int_equal(sc.service.interval_ns, NS_PER_MS);
	assert_int_equal(sc.timeouts.boot_ns, 120 * NS_PER_S);
	assert_int_equal(sc.timeouts.upgrade_ns, 120 * NS_PER_S);
	assert_int_equal(sc.timeouts.step_ns, 30 * NS_PER_S);
	assert_null(sc.steps);
	assert_int_equal(sc.nsteps, 0);
	scenario_free(&sc);
}

static void test_upgrade_cmdline_defaults_to_guest_cmdline(void **state)
{
	static const char text[] =
	    "name: same-cmdline\n"
	    "method: kexec\n"
	    "guest: {kernel: ../images/vmlinuz, cmdline: console=ttyS0 quiet}\n"
	    "upgrade: {kernel: ../images/vmlinuz-new}\n";
	const char *path = scenario_path("generated-cmdline.yaml");
	struct scenario sc;

	(void)state;
	assert_int_equal(tl_write_file(path, text), 0);
	load_ok(path, &sc);
	assert_string_equal(sc.guest.cmdline, "console=ttyS0 quiet");
	assert_string_equal(sc.upgrade.cmdline, "console=ttyS0 quiet");
	scenario_free(&sc);
}

/* A standby says only what differs from the primary: the rest is the primary's. */
static void test_standby_defaults_to_the_primary(void **state)
{
	static const char text[] =
	    "name: pair\n"
	    "method: migrate\n"
	    "guest: {kernel: ../images/vmlinuz, rootfs: ../images/rootfs.img, memory: 1G,\n"
	    "        vcpus: 2, cmdline: console=ttyS0}\n"
	    "standby: {memory: 512M}\n"
	    "upgrade: {kernel: ../images/vmlinuz-new}\n";
	const char *path = scenario_path("generated-standby.yaml");
	struct scenario sc;

	(void)state;
	assert_int_equal(tl_write_file(path, text), 0);
	load_ok(path, &sc);
	assert_true(sc.method.standby);
	assert_string_equal(sc.method.second_from, "move_back_start");
	assert_true(sc.standby.present);
	assert_int_equal(sc.standby.memory_mib, 512);
	assert_int_equal(sc.standby.vcpus, 2);
	assert_string_equal(sc.standby.kernel, sc.guest.kernel);
	assert_string_equal(sc.standby.rootfs, sc.guest.rootfs);
	assert_string_equal(sc.standby.cmdline, "console=ttyS0");
	assert_null(sc.standby.initrd);
	scenario_free(&sc);
}

/* via: one of the method's ways to upgrade; the label says which, if not the default. */
static void test_via_chooses_the_method_s_way_to_upgrade(void **state)
{
	static const char text[] =
	    "name: pair-kexec\n"
	    "method: migrate\n"
	    "via: kexec\n"
	    "guest: {kernel: ../images/vmlinuz}\n"
	    "standby: {}\n"
	    "upgrade: {kernel: ../images/vmlinuz-new}\n";
	const char *path = scenario_path("generated-via.yaml");
	struct scenario sc;
	size_t i;

	(void)state;
	assert_int_equal(tl_write_file(path, text), 0);
	load_ok(path, &sc);
	assert_string_equal(sc.method.chosen_via, "kexec");
	assert_string_equal(scenario_method_label(&sc), "migrate-kexec");
	for (i = 0; i < sc.method.nsteps; i++)
		if (sc.method.steps[i].op == OP_START_NEW)
			break;
	assert_true(i < sc.method.nsteps);
	assert_false(method_step_runs(&sc.method, &sc.method.steps[i]));
	scenario_free(&sc);
}

static void test_via_that_the_method_does_not_offer_is_refused(void **state)
{
	static const char bad_way[] =
	    "name: pair\n"
	    "method: migrate\n"
	    "via: carrier-pigeon\n"
	    "guest: {kernel: ../images/vmlinuz}\n"
	    "standby: {}\n"
	    "upgrade: {kernel: ../images/vmlinuz-new}\n";
	static const char one_way[] =
	    "name: alone\n"
	    "method: kexec\n"
	    "via: reboot\n"
	    "guest: {kernel: ../images/vmlinuz}\n"
	    "upgrade: {kernel: ../images/vmlinuz-new}\n";
	const char *path = scenario_path("generated-via-bad.yaml");

	(void)state;
	assert_int_equal(tl_write_file(path, bad_way), 0);
	assert_load_fails_at(path, 3, 6,
			     "via: the migrate method upgrades by reboot, kexec, not 'carrier-pigeon'");
	assert_int_equal(tl_write_file(path, one_way), 0);
	assert_load_fails_at(path, 3, 6, "via: the kexec method has one way to upgrade, no 'reboot'");
}

static void test_a_method_with_a_standby_needs_one(void **state)
{
	static const char text[] =
	    "name: alone\n"
	    "method: migrate\n"
	    "guest: {kernel: ../images/vmlinuz}\n"
	    "upgrade: {kernel: ../images/vmlinuz-new}\n";
	const char *path = scenario_path("generated-no-standby.yaml");

	(void)state;
	assert_int_equal(tl_write_file(path, text), 0);
	assert_load_fails_at(path, 1, 1, "missing required key 'standby'");
}

static void test_a_standby_for_a_method_without_one_is_refused(void **state)
{
	static const char text[] =
	    "name: spare\n"
	    "method: reboot\n"
	    "guest: {kernel: ../images/vmlinuz}\n"
	    "standby:\n"
	    "  memory: 1G\n"
	    "upgrade: {kernel: ../images/vmlinuz-new}\n";
	const char *path = scenario_path("generated-spare.yaml");

	(void)state;
	assert_int_equal(tl_write_file(path, text), 0);
	assert_load_fails_at(path, 5, 3, "the reboot method has no standby guest");
}

static void test_a_step_on_the_standby_console_needs_a_standby(void **state)
{
	static const char text[] =
	    "name: nobody\n"
	    "method: reboot\n"
	    "guest: {kernel: ../images/vmlinuz}\n"
	    "upgrade: {kernel: ../images/vmlinuz-new}\n"
	    "steps:\n"
	    "  - send: {console: standby, text: \"x\\n\"}\n";
	const char *path = scenario_path("generated-nobody.yaml");

	(void)state;
	assert_int_equal(tl_write_file(path, text), 0);
	assert_load_fails_at(path, 6, 5, "the scenario has no standby guest");
}

static void test_custom_method_needs_no_upgrade(void **state)
{
	struct scenario sc;

	(void)state;
	load_ok(scenario_path("custom_without_upgrade.yaml"), &sc);
	assert_string_equal(sc.method.name, "custom");
	assert_null(sc.upgrade.kernel);
	assert_null(sc.upgrade.cmdline);
	assert_int_equal(sc.nsteps, 1);
	assert_string_equal(sc.steps[0].text, "^login:");
	scenario_free(&sc);
}

/* @size bytes of @image to @path. */
static void write_bytes(const char *path, const unsigned char *image, size_t size)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(image, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
}

/* upgrade.release, once a kexec scenario upgrading to @kernel (with @extra) is loaded. */
static char *loaded_release(const char *kernel, const char *extra)
{
	const char *path = scenario_path("generated-release.yaml");
	char text[2 * PATH_MAX], *release;
	struct scenario sc;

	snprintf(text, sizeof(text),
		 "name: named\nmethod: kexec\nguest: {kernel: ../images/vmlinuz}\n"
		 "upgrade: {kernel: %s%s}\n", kernel, extra);
	assert_int_equal(tl_write_file(path, text), 0);
	load_ok(path, &sc);
	release = sc.upgrade.release ? strdup(sc.upgrade.release) : NULL;
	scenario_free(&sc);
	return release;
}

/*
 * Without upgrade.release, the new kernel must be the one its image names
 * in its x86 boot header; a file that is no such image leaves it to any
 * new boot, and a release the scenario gives wins.
 */
static void test_the_release_defaults_to_what_the_image_names(void **state)
{
	static const char version[] = "6.1.99-twinbench-z (someone@somewhere) #7 SMP";
	unsigned char image[0x400] = { 0 };
	char bz[PATH_MAX], *release;

	(void)state;
	/* kernel_version at 0x20e: the string's offset from 0x200. */
	memcpy(image + 0x202, "HdrS", 4);
	image[0x20e] = 0x80;
	memcpy(image + 0x280, version, sizeof(version));
	snprintf(bz, sizeof(bz), "%s", scratch("images/bzImage-z"));
	write_bytes(bz, image, sizeof(image));
	release = loaded_release(bz, "");
	assert_string_equal(release, "6.1.99-twinbench-z");
	free(release);
	release = loaded_release(bz, ", release: 6.1.99-other");
	assert_string_equal(release, "6.1.99-other");
	free(release);
	/* A header without the magic names nothing. */
	memset(image + 0x202, 0, 4);
	write_bytes(bz, image, sizeof(image));
	assert_null(loaded_release(bz, ""));
}

/* vm-migrate measures a move, not an upgrade: no upgrade: key, and none needed. */
static void test_a_method_that_upgrades_nothing_needs_no_upgrade(void **state)
{
	static const char text[] = "name: move\n"
				   "method: vm-migrate\n"
				   "guest: {kernel: ../images/vmlinuz}\n";
	const char *path = scenario_path("generated-move.yaml");
	struct scenario sc;

	(void)state;
	assert_int_equal(tl_write_file(path, text), 0);
	load_ok(path, &sc);
	assert_true(sc.method.no_upgrade);
	assert_null(sc.upgrade.kernel);
	scenario_free(&sc);
}

static void test_absolute_paths_are_kept(void **state)
{
	const char *path = scenario_path("generated-absolute.yaml");
	char text[3 * PATH_MAX];
	struct scenario sc;

	(void)state;
	snprintf(text, sizeof(text),
		 "name: abs\nmethod: reboot\nguest: {kernel: %s}\nupgrade: {kernel: %s}\n",
		 scratch("images/vmlinuz"), scratch("images/vmlinuz-new"));
	assert_int_equal(tl_write_file(path, text), 0);
	load_ok(path, &sc);
	assert_string_equal(sc.guest.kernel, scratch("images/vmlinuz"));
	assert_string_equal(sc.upgrade.kernel, scratch("images/vmlinuz-new"));
	scenario_free(&sc);
}

/* Relative paths follow the scenario file, not the working directory. */
static void test_relative_paths_resolve_against_scenario_dir(void **state)
{
	char cwd[PATH_MAX];
	struct scenario sc;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(scratch("images")), 0);
	load_ok("../scenarios/minimal.yaml", &sc);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(sc.path, "../scenarios/minimal.yaml");
	assert_string_equal(sc.guest.kernel, scratch("images/vmlinuz"));
	assert_string_equal(sc.upgrade.kernel, scratch("images/vmlinuz-new"));
	scenario_free(&sc);
}

static void test_error_names_the_path_as_given(void **state)
{
	char cwd[PATH_MAX];

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_load_fails_at("scenarios/unknown_guest_key.yaml", 6, 3, "unknown key 'memroy'");
	assert_int_equal(chdir(cwd), 0);
}

/* --- invalid files: exact position and the gist of the message --- */

static void test_unknown_top_level_key_names_line_and_column(void **state)
{
	(void)state;
	assert_fixture_fails_at("unknown_top_key.yaml", 5, 1,
				"unknown key 'repetiton' at the top level (expected one of: name, "
				"method, via, repetitions, guest, standby, upgrade, service, "
				"timeouts, steps)");
}

static void test_unknown_guest_key_names_line_and_column(void **state)
{
	(void)state;
	assert_fixture_fails_at("unknown_guest_key.yaml", 6, 3,
				"unknown key 'memroy' in guest (expected one of: kernel, initrd, "
				"rootfs, cmdline, memory, vcpus, nic)");
}

static void test_unknown_key_in_flow_step_mapping_points_at_key(void **state)
{
	(void)state;
	assert_fixture_fails_at("unknown_expect_key.yaml", 6, 26,
				"unknown key 'patern' in steps[0].expect");
}

static void test_string_for_integer_is_rejected_at_value(void **state)
{
	(void)state;
	assert_fixture_fails_at("repetitions_not_integer.yaml", 4, 14,
				"repetitions: expected an integer >= 1, got 'many'");
}

static void test_mapping_instead_of_scalar_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at("name_is_mapping.yaml", 3, 3,
				"name: expected a name, got a mapping");
}

static void test_scalar_instead_of_mapping_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at("guest_is_scalar.yaml", 4, 8,
				"guest: expected a mapping, got a scalar");
}

static void test_duration_with_space_is_bad(void **state)
{
	(void)state;
	assert_fixture_fails_at("timeout_with_space.yaml", 7, 9,
				"timeouts.boot: bad duration '10 s'");
}

static void test_duration_with_unknown_unit_is_bad(void **state)
{
	(void)state;
	assert_fixture_fails_at("interval_unknown_unit.yaml", 7, 13,
				"service.interval: bad duration '5parsecs'");
}

static void test_negative_step_timeout_is_bad(void **state)
{
	(void)state;
	assert_fixture_fails_at("step_timeout_negative.yaml", 6, 42,
				"steps[0].expect.timeout: bad timeout '-1s'");
}

static void test_zero_duration_is_bad(void **state)
{
	(void)state;
	assert_fixture_fails_at("timeout_zero.yaml", 7, 9, "timeouts.step: bad duration '0ms'");
}

static void test_bad_memory_size_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at("memory_bad_size.yaml", 6, 11, "guest.memory: bad size '512K'");
}

static void test_missing_guest_kernel_points_at_guest_mapping(void **state)
{
	(void)state;
	assert_fixture_fails_at("missing_guest_kernel.yaml", 5, 3,
				"missing required key 'kernel' in guest");
}

static void test_missing_upgrade_points_at_top_mapping(void **state)
{
	(void)state;
	assert_fixture_fails_at("missing_upgrade.yaml", 2, 1,
				"missing required key 'upgrade' at the top level");
}

static void test_missing_image_names_resolved_path_and_make_image(void **state)
{
	char needle[PATH_MAX + 128];

	(void)state;
	snprintf(needle, sizeof(needle),
		 "guest.kernel: %s: no such file (run 'make image' to build the guest images)",
		 scratch("images/vmlinuz-6.1"));
	assert_fixture_fails_at("missing_kernel_file.yaml", 5, 11, needle);
}

static void test_directory_as_kernel_is_not_a_regular_file(void **state)
{
	char needle[PATH_MAX + 64];

	(void)state;
	snprintf(needle, sizeof(needle), "upgrade.kernel: %s: not a regular file",
		 scratch("images"));
	assert_fixture_fails_at("kernel_is_directory.yaml", 4, 19, needle);
}

static void test_unknown_method_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at("bad_method.yaml", 3, 9,
				"method: unknown method 'kexex': no ");
}

static void test_dual_nic_is_read(void **state)
{
	struct scenario sc;

	(void)state;
	load_ok(scenario_path("dual_nic.yaml"), &sc);
	assert_string_equal(sc.method.name, "twin");
	assert_int_equal(sc.guest.nic, NIC_DUAL);
	assert_string_equal(scenario_method_label(&sc), "twin-dual");
	scenario_free(&sc);
}

static void test_unknown_nic_mode_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at("bad_nic.yaml", 6, 8,
				"guest.nic: expected 'handoff' or 'dual', got 'triple'");
}

static void test_next_upgrade_is_read(void **state)
{
	struct scenario sc;

	(void)state;
	load_ok(scenario_path("twin_repeat.yaml"), &sc);
	assert_string_equal(sc.method.name, "twin");
	assert_non_null(sc.upgrade.next.kernel);
	assert_string_equal(sc.upgrade.next.kernel, sc.guest.kernel);
	assert_null(sc.upgrade.next.initrd);
	assert_string_equal(sc.upgrade.next.cmdline, "console=ttyS0");
	assert_string_equal(sc.upgrade.next.release, "6.1.0-c");
	assert_int_equal(sc.upgrade.next.line, 9);
	assert_int_equal(sc.upgrade.next.column, 5);
	assert_string_equal(scenario_method_label(&sc), "twin-repeat");
	scenario_free(&sc);
}

/* Only the twin method hands over twice, and only its one-NIC variant. */
static void test_next_upgrade_needs_twin_with_one_nic(void **state)
{
	(void)state;
	assert_fixture_fails_at("bad_next_method.yaml", 8, 5,
				"upgrade.next: the kexec method has no second round");
	assert_fixture_fails_at("bad_next_dual.yaml", 9, 9,
				"upgrade.next: a second upgrade needs guest.nic: handoff");
	assert_fixture_fails_at("bad_next_cmdline.yaml", 9, 5, "missing required key 'cmdline'");
}

static void test_name_with_space_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at("bad_name.yaml", 2, 7, "got 'my run'");
}

static void test_bad_regex_points_at_pattern(void **state)
{
	(void)state;
	assert_fixture_fails_at("bad_regex.yaml", 7, 23,
				"steps[1].expect.pattern: bad regular expression '(login'");
}

static void test_step_with_two_keys_points_at_second_key(void **state)
{
	(void)state;
	assert_fixture_fails_at("step_two_keys.yaml", 7, 5,
				"steps[0]: a step has exactly one key, got a second one 'send'");
}

static void test_unknown_step_kind_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at("unknown_step_kind.yaml", 7, 5,
				"unknown step 'sleep' in steps[1] (expected one of: expect, send, "
				"mark, wait_probe, wait_stopped, start_new, uname, last_words, "
				"silent, takeover, live_migrate, inject_nmi, inject_mce, quiet)");
}

static void test_wait_probe_bad_state_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at(
	    "wait_probe_bad_state.yaml", 6, 25,
	    "steps[0].wait_probe.state: expected 'up' or 'down', got 'sideways'");
}

static void test_send_without_text_points_at_its_mapping(void **state)
{
	(void)state;
	assert_fixture_fails_at("send_without_text.yaml", 6, 11,
				"missing required key 'text' in steps[0].send");
}

static void test_console_other_than_a_or_b_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at("bad_console.yaml", 6, 21,
				"steps[0].send.console: expected 'a', 'b' or 'standby', got 'c'");
}

static void test_mark_name_with_space_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at("bad_mark_name.yaml", 6, 11, "got 'upgrade start'");
}

static void test_steps_must_be_a_sequence(void **state)
{
	(void)state;
	assert_fixture_fails_at("steps_not_sequence.yaml", 6, 3,
				"steps: expected a sequence of steps, got a mapping");
}

static void test_port_out_of_range_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at("port_out_of_range.yaml", 7, 9,
				"service.port: expected an integer 1..65535, got '70000'");
}

static void test_zero_vcpus_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at("vcpus_out_of_range.yaml", 4, 43,
				"guest.vcpus: expected an integer 1..64, got '0'");
}

static void test_duplicate_key_points_at_second_and_names_first(void **state)
{
	(void)state;
	assert_fixture_fails_at("duplicate_key.yaml", 7, 3,
				"duplicate key 'vcpus' in guest (first at 5:3)");
}

static void test_unclosed_quote_is_a_syntax_error(void **state)
{
	(void)state;
	assert_fixture_fails_at("unclosed_quote.yaml", 7, 1,
				"YAML syntax error: found unexpected end of stream (while "
				"scanning a quoted scalar at 6:11)");
}

static void test_bad_indentation_is_a_syntax_error(void **state)
{
	(void)state;
	assert_fixture_fails_at("bad_indentation.yaml", 6, 3,
				"YAML syntax error: did not find expected key");
}

static void test_invalid_utf8_names_its_position(void **state)
{
	static const char text[] = "name: reboot\nmethod: re\xffoot\n";
	const char *path = scenario_path("generated-utf8.yaml");

	(void)state;
	assert_int_equal(tl_write_file(path, text), 0);
	assert_load_fails_at(path, 2, 11, "invalid leading UTF-8 octet");
}

static void test_empty_file_is_an_error_at_1_1(void **state)
{
	(void)state;
	assert_fixture_fails_at("empty.yaml", 1, 1, "empty scenario");
}

static void test_comments_only_is_an_empty_scenario(void **state)
{
	(void)state;
	assert_fixture_fails_at("comments_only.yaml", 1, 1, "empty scenario");
}

static void test_second_document_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at("two_documents.yaml", 7, 1,
				"a scenario file holds one YAML document");
}

static void test_top_level_sequence_is_rejected(void **state)
{
	(void)state;
	assert_fixture_fails_at("top_level_sequence.yaml", 2, 1,
				"expected a mapping at the top level, got a sequence");
}

static void test_unopenable_file_has_no_position(void **state)
{
	const char *path = scenario_path("does-not-exist.yaml");
	struct tb_err err = {0};
	struct scenario sc;
	char want[PATH_MAX + 64];

	(void)state;
	assert_int_equal(scenario_load(path, &sc, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	snprintf(want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOENT));
	assert_string_equal(err.msg, want);
	assert_scenario_empty(&sc);
}

/* --- the public value parsers --- */

static void test_parse_duration_accepts_every_unit_and_fractions(void **state)
{
	static const struct {
		const char *text;
		int64_t ns;
	} good[] = {
	    {"100ns", 100},
	    {"1ns", 1},
	    {"250us", 250 * NS_PER_US},
	    {"1ms", NS_PER_MS},
	    {"1.25ms", 1250 * NS_PER_US},
	    {"1.5s", 1500 * NS_PER_MS},
	    {"0.1s", 100 * NS_PER_MS}, /* exact: no floating point */
	    {"120s", 120 * NS_PER_S},
	    {"2m", 120 * NS_PER_S},
	    {"0.5m", 30 * NS_PER_S},
	    {"007s", 7 * NS_PER_S},
	    {"1.0000000000001s", NS_PER_S}, /* below a nanosecond: dropped */
	    {"9223372036854775807ns", INT64_MAX},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t ns = -1;

		if (scenario_parse_duration(good[i].text, &ns))
			fail_msg("'%s' rejected", good[i].text);
		if (ns != good[i].ns)
			fail_msg("'%s' -> %lld, want %lld", good[i].text, (long long)ns,
				 (long long)good[i].ns);
	}
}

static void test_parse_duration_rejects_malformed_and_non_positive(void **state)
{
	static const char *const bad[] = {
	    "",
	    "10 s",
	    " 1s",
	    "1s ",
	    "5parsecs",
	    "-1s",
	    "+1s",
	    "0ms",
	    "0.0s",
	    "0.1ns",
	    "1",
	    "s",
	    ".5s",
	    "1.s",
	    "1e3ms",
	    "1h",
	    "1.5.5s",
	    "1S",
	    "1sec",
	    "10000000000000000000ns",
	    "9223372036854775808ns",
	    "153722868m", /* just above 2^63 ns */
	};
	size_t i;
	int64_t ns;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (scenario_parse_duration(bad[i], &ns) != -1)
			fail_msg("'%s' accepted", bad[i]);
	assert_int_equal(scenario_parse_duration(NULL, &ns), -1);
}

static void test_parse_size_accepts_mib_and_gib_forms(void **state)
{
	int mib = 0;

	(void)state;
	assert_int_equal(scenario_parse_size_mib("512M", &mib), 0);
	assert_int_equal(mib, 512);
	assert_int_equal(scenario_parse_size_mib("512MiB", &mib), 0);
	assert_int_equal(mib, 512);
	assert_int_equal(scenario_parse_size_mib("1G", &mib), 0);
	assert_int_equal(mib, 1024);
	assert_int_equal(scenario_parse_size_mib("3GiB", &mib), 0);
	assert_int_equal(mib, 3072);
	assert_int_equal(scenario_parse_size_mib("2097151G", &mib), 0);
	assert_int_equal(mib, 2097151 * 1024);
}

static void test_parse_size_rejects_bare_numbers_other_units_and_zero(void **state)
{
	static const char *const bad[] = {
	    "",
	    "512",
	    "0M",
	    "0G",
	    "512K",
	    "512KiB",
	    "1.5G",
	    "512 M",
	    "512m",
	    "512MB",
	    "-1G",
	    "+1G",
	    "G",
	    "1T",
	    "2097152G", /* > INT_MAX MiB */
	    "99999999999M",
	};
	size_t i;
	int mib;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (scenario_parse_size_mib(bad[i], &mib) != -1)
			fail_msg("'%s' accepted", bad[i]);
	assert_int_equal(scenario_parse_size_mib(NULL, &mib), -1);
}

/* x86 drops what is past 2047 bytes of a command line: say so instead. */
static void test_too_long_cmdline_is_refused_at_its_value(void **state)
{
	const char *path = scratch("long-cmdline.yaml");
	char text[4096], arg[1800];

	(void)state;
	memset(arg, 'x', sizeof(arg) - 1);
	arg[sizeof(arg) - 1] = '\0';
	snprintf(text, sizeof(text),
		 "name: x\nmethod: custom\nguest:\n  kernel: images/vmlinuz\n"
		 "  cmdline: \"%s\"\n",
		 arg);
	assert_int_equal(tl_write_file(path, text), 0);
	assert_load_fails_at(path, 5, 12, "guest.cmdline: 1799 bytes, more than the 1791");
}

/* method: names a method file; an unknown name lists the methods there are. */
static void test_unknown_method_names_the_known_ones(void **state)
{
	struct scenario sc;
	struct tb_err err;

	(void)state;
	const char *path = scratch("unknown-method.yaml");

	assert_int_equal(tl_write_file(path, "name: x\nmethod: kexec-twice\nguest:\n"
					     "  kernel: images/vmlinuz\n"),
			 0);
	assert_int_equal(scenario_load(path, &sc, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_non_null(strstr(err.msg, ":2:9: method: unknown method 'kexec-twice'"));
	assert_non_null(strstr(err.msg, "kexec"));
	assert_non_null(strstr(err.msg, "twin"));
}

/*
 * scenario_load_text() (the fuzz target's way in) reads the text as the file
 * at its path would be read: relative paths from that path's directory,
 * errors naming it.  The path itself is never opened.
 */
static void test_text_loads_as_its_file_does(void **state)
{
	struct scenario from_file, from_text;
	struct tb_err err = {0};
	char full[PATH_MAX], absent[PATH_MAX], prefix[PATH_MAX + 16];
	char *text;

	(void)state;
	snprintf(full, sizeof(full), "%s", scenario_path("full.yaml"));
	snprintf(absent, sizeof(absent), "%s", scenario_path("not-on-disk.yaml"));
	text = tl_read_file(full);
	assert_non_null(text);
	load_ok(full, &from_file);
	if (scenario_load_text(absent, text, strlen(text), &from_text, &err))
		fail_msg("%s", err.msg);
	free(text);
	assert_string_equal(from_text.path, absent);
	assert_string_equal(from_text.name, from_file.name);
	assert_string_equal(from_text.method.path, from_file.method.path);
	assert_string_equal(from_text.guest.kernel, scratch("images/vmlinuz"));
	assert_string_equal(from_text.upgrade.cmdline, from_file.upgrade.cmdline);
	assert_int_equal(from_text.timeouts.boot_ns, from_file.timeouts.boot_ns);
	assert_int_equal(from_text.nsteps, from_file.nsteps);
	assert_int_equal(from_text.steps[6].line, from_file.steps[6].line);
	scenario_free(&from_file);
	scenario_free(&from_text);

	text = tl_read_file(scenario_path("unknown_top_key.yaml"));
	assert_non_null(text);
	memset(&from_text, 0xa5, sizeof(from_text));
	assert_int_equal(scenario_load_text(absent, text, strlen(text), &from_text, &err), -1);
	free(text);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	snprintf(prefix, sizeof(prefix), "%s:5:1: ", absent);
	if (strncmp(err.msg, prefix, strlen(prefix)))
		fail_msg("expected prefix \"%s\", got \"%s\"", prefix, err.msg);
	assert_scenario_empty(&from_text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_file_sets_every_field),
	    cmocka_unit_test(test_text_loads_as_its_file_does),
	    cmocka_unit_test(test_steps_keep_order_fields_and_line_numbers),
	    cmocka_unit_test(test_send_text_escapes_decoded_once),
	    cmocka_unit_test(test_minimal_file_gets_defaults),
	    cmocka_unit_test(test_upgrade_cmdline_defaults_to_guest_cmdline),
	    cmocka_unit_test(test_custom_method_needs_no_upgrade),
	    cmocka_unit_test(test_a_method_that_upgrades_nothing_needs_no_upgrade),
	    cmocka_unit_test(test_the_release_defaults_to_what_the_image_names),
	    cmocka_unit_test(test_standby_defaults_to_the_primary),
	    cmocka_unit_test(test_a_method_with_a_standby_needs_one),
	    cmocka_unit_test(test_via_chooses_the_method_s_way_to_upgrade),
	    cmocka_unit_test(test_via_that_the_method_does_not_offer_is_refused),
	    cmocka_unit_test(test_a_standby_for_a_method_without_one_is_refused),
	    cmocka_unit_test(test_a_step_on_the_standby_console_needs_a_standby),
	    cmocka_unit_test(test_absolute_paths_are_kept),
	    cmocka_unit_test(test_relative_paths_resolve_against_scenario_dir),
	    cmocka_unit_test(test_error_names_the_path_as_given),

	    cmocka_unit_test(test_unknown_top_level_key_names_line_and_column),
	    cmocka_unit_test(test_unknown_guest_key_names_line_and_column),
	    cmocka_unit_test(test_unknown_key_in_flow_step_mapping_points_at_key),
	    cmocka_unit_test(test_string_for_integer_is_rejected_at_value),
	    cmocka_unit_test(test_mapping_instead_of_scalar_is_rejected),
	    cmocka_unit_test(test_scalar_instead_of_mapping_is_rejected),
	    cmocka_unit_test(test_duration_with_space_is_bad),
	    cmocka_unit_test(test_duration_with_unknown_unit_is_bad),
	    cmocka_unit_test(test_negative_step_timeout_is_bad),
	    cmocka_unit_test(test_zero_duration_is_bad),
	    cmocka_unit_test(test_bad_memory_size_is_rejected),
	    cmocka_unit_test(test_missing_guest_kernel_points_at_guest_mapping),
	    cmocka_unit_test(test_missing_upgrade_points_at_top_mapping),
	    cmocka_unit_test(test_missing_image_names_resolved_path_and_make_image),
	    cmocka_unit_test(test_directory_as_kernel_is_not_a_regular_file),
	    cmocka_unit_test(test_unknown_method_is_rejected),
	    cmocka_unit_test(test_dual_nic_is_read),
	    cmocka_unit_test(test_next_upgrade_is_read),
	    cmocka_unit_test(test_next_upgrade_needs_twin_with_one_nic),
	    cmocka_unit_test(test_unknown_nic_mode_is_rejected),
	    cmocka_unit_test(test_name_with_space_is_rejected),
	    cmocka_unit_test(test_bad_regex_points_at_pattern),
	    cmocka_unit_test(test_step_with_two_keys_points_at_second_key),
	    cmocka_unit_test(test_unknown_step_kind_is_rejected),
	    cmocka_unit_test(test_wait_probe_bad_state_is_rejected),
	    cmocka_unit_test(test_send_without_text_points_at_its_mapping),
	    cmocka_unit_test(test_console_other_than_a_or_b_is_rejected),
	    cmocka_unit_test(test_mark_name_with_space_is_rejected),
	    cmocka_unit_test(test_steps_must_be_a_sequence),
	    cmocka_unit_test(test_port_out_of_range_is_rejected),
	    cmocka_unit_test(test_zero_vcpus_is_rejected),
	    cmocka_unit_test(test_duplicate_key_points_at_second_and_names_first),
	    cmocka_unit_test(test_unclosed_quote_is_a_syntax_error),
	    cmocka_unit_test(test_bad_indentation_is_a_syntax_error),
	    cmocka_unit_test(test_invalid_utf8_names_its_position),
	    cmocka_unit_test(test_empty_file_is_an_error_at_1_1),
	    cmocka_unit_test(test_comments_only_is_an_empty_scenario),
	    cmocka_unit_test(test_second_document_is_rejected),
	    cmocka_unit_test(test_top_level_sequence_is_rejected),
	    cmocka_unit_test(test_unopenable_file_has_no_position),

	    cmocka_unit_test(test_parse_duration_accepts_every_unit_and_fractions),
	    cmocka_unit_test(test_parse_duration_rejects_malformed_and_non_positive),
	    cmocka_unit_test(test_parse_size_accepts_mib_and_gib_forms),
	    cmocka_unit_test(test_parse_size_rejects_bare_numbers_other_units_and_zero),
	    cmocka_unit_test(test_unknown_method_names_the_known_ones),
	    cmocka_unit_test(test_too_long_cmdline_is_refused_at_its_value),
	};

	return cmocka_run_group_tests(tests, setup_tree, teardown_tree);
}
