/*
 * test_takerest.c - kernel B taking the rest of kernel A (guest/agent/
 * takerest.c) on a fake sysfs (a scratch tree with the attributes it
 * reads and writes) and fake UART, shell, mount and pinning: A's CPUs are
 * woken only once all are parked, the rest runs on them, A's memory
 * blocks added, A's console taken
 * and its shell recorded, the payload disk found and mounted; each wait
 * gives up at its bound and says what it waited for; nothing is taken
 * without a park area.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "takerest.h"
#include "testlib.h"

#define PAYLOAD "0000:00:05.0"

struct fake {
	char dir[64]; /* the scratch tree: sys/, run/ */
	char sysfs[128];
	char run[128];
	char calls[512]; /* the UART, shell and mount steps, in order */
	bool fail_serial;
	bool fail_pin;
	struct rest_ops ops;
};

static void call(struct fake *f, const char *what)
{
	size_t used = strlen(f->calls);

	snprintf(f->calls + used, sizeof(f->calls) - used, "%s%s", used ? " " : "", what);
}

/* @text into @base/@rel. */
static void put(const char *base, const char *rel, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	assert_int_equal(tl_write_file(path, text), 0);
}

/* What @base/@rel holds (a static buffer), "" if nothing. */
static const char *got(const char *base, const char *rel)
{
	static char text[256];
	char path[256], *s;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	s = tl_read_file(path);
	snprintf(text, sizeof(text), "%s", s ? s : "");
	free(s);
	return text;
}

static int fake_serial(void *ctx, const char *tty, unsigned int io, char *why, size_t len)
{
	struct fake *f = ctx;
	char what[64];

	snprintf(what, sizeof(what), "serial:%s:0x%x", tty, io);
	call(f, what);
	if (f->fail_serial) {
		snprintf(why, len, "cannot take /dev/%s: no such device", tty);
		return -1;
	}
	return 0;
}

static int fake_say(void *ctx, const char *tty, const char *line, char *why, size_t len)
{
	char what[160];

	(void)why;
	(void)len;
	snprintf(what, sizeof(what), "say:%s:%.*s", tty, (int)strcspn(line, "\n"), line);
	call(ctx, what);
	return 0;
}

static pid_t fake_shell(void *ctx, const char *tty, char *why, size_t len)
{
	char what[64];

	(void)why;
	(void)len;
	snprintf(what, sizeof(what), "shell:%s", tty);
	call(ctx, what);
	return 4242;
}

static int fake_mount_ro(void *ctx, const char *dev, const char *dir, char *why, size_t len)
{
	struct fake *f = ctx;
	char what[256];

	(void)why;
	(void)len;
	/* Where it is mounted, relative to the scratch tree. */
	snprintf(what, sizeof(what), "mount:%s:%s", dev, dir + strlen(f->dir));
	call(f, what);
	return 0;
}

static int fake_pin(void *ctx, const int *cpus, int n, char *why, size_t len)
{
	struct fake *f = ctx;
	char what[64] = "pin:";

	for (int i = 0; i < n; i++)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s%d", i ? "," : "",
			 cpus[i]);
	call(f, what);
	if (f->fail_pin) {
		snprintf(why, len, "cannot run on A's CPUs: Invalid argument");
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f || tl_mkdtemp("/tmp/tbtakerest.XXXXXX", f->dir, sizeof(f->dir)))
		return -1;
	snprintf(f->sysfs, sizeof(f->sysfs), "%s/sys", f->dir);
	snprintf(f->run, sizeof(f->run), "%s/run", f->dir);
	if (mkdir(f->sysfs, 0755) != 0 || mkdir(f->run, 0755) != 0)
		return -1;
	tl_mkdirs(f->sysfs, "kernel/twin_kernel");
	tl_mkdirs(f->sysfs, "devices/system/memory");
	tl_mkdirs(f->sysfs, "devices/system/cpu/cpu0");
	tl_mkdirs(f->sysfs, "devices/system/cpu/cpu1");
	tl_mkdirs(f->sysfs, "devices/system/cpu/cpufreq");
	tl_mkdirs(f->sysfs, "bus/pci");
	/* B booted on one CPU (cpu0, its own); A's cpu1 is present, offline. */
	put(f->sysfs, "devices/system/cpu/cpu0/online", "1\n");
	put(f->sysfs, "devices/system/cpu/cpu1/online", "0\n");
	put(f->sysfs, "devices/system/memory/probe", "");
	put(f->sysfs, "kernel/twin_kernel/park_region", "0x7f000000\n");
	put(f->sysfs, "kernel/twin_kernel/parked", "1\n");
	put(f->sysfs, "bus/pci/skip", "0000:00:03.0," PAYLOAD "\n");
	put(f->sysfs, "bus/pci/rescan", "");
	f->ops = (struct rest_ops){ .ctx = f, .serial = fake_serial, .say = fake_say,
				    .shell = fake_shell, .mount_ro = fake_mount_ro,
				    .pin = fake_pin };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	tl_rmtree(f->dir);
	free(f);
	return 0;
}

static struct rest rest_of(struct fake *f, const char *cmdline)
{
	return (struct rest){ .sysfs = f->sysfs, .cmdline = cmdline, .run = f->run,
			      .ops = &f->ops, .poll_ns = 1000000LL, .step_ns = 50000000LL,
			      .hold_ns = 50000000LL };
}

static void test_all_of_a_is_taken_in_order(void **state)
{
	struct fake *f = *state;
	struct rest r = rest_of(f, "console=ttyS1 twinbench.mem=0x80000000,0x88000000 "
				   "8250.skip_legacy=1 quiet\n");

	assert_int_equal(rest_take(&r), 0);
	/* A's CPU woken, B's own left alone. */
	assert_int_equal(r.cpus, 1);
	assert_string_equal(got(f->sysfs, "devices/system/cpu/cpu1/online"), "1\n");
	assert_string_equal(got(f->sysfs, "devices/system/cpu/cpu0/online"), "1\n");
	/* Both blocks added, one write each: the last is what the file holds. */
	assert_int_equal(r.blocks, 2);
	assert_string_equal(got(f->sysfs, "devices/system/memory/probe"), "0x88000000\n");
	/*
	 * The rest on A's CPU, off B's; then A's console: the UART, a line, a
	 * shell, recorded for the next upgrade.
	 */
	assert_string_equal(r.tty, "ttyS0");
	assert_int_equal(strncmp(f->calls,
				 "pin:1 serial:ttyS0:0x3f8 say:ttyS0:twinbench-b: console "
				 "ttyS0 taken over by ",
				 75),
			 0);
	assert_non_null(strstr(f->calls, " shell:ttyS0"));
	assert_int_equal(r.shell, 4242);
	assert_string_equal(got(f->run, "twinbench/console-shell"), "ttyS0 4242\n");
	/* No payload asked for: the skip list is as it was, nothing mounted. */
	assert_string_equal(got(f->sysfs, "bus/pci/skip"), "0000:00:03.0," PAYLOAD "\n");
	assert_null(strstr(f->calls, "mount:"));
	/* Every step stamped, in order, on one clock; the payload's not. */
	for (int i = R_BEGUN; i < R_PAYLOAD; i++) {
		assert_true(r.ns[i] > 0);
		assert_true(i == R_BEGUN || r.ns[i] >= r.ns[i - 1]);
	}
	assert_int_equal(r.ns[R_PAYLOAD], 0);
}

static void test_without_a_park_area_nothing_is_taken(void **state)
{
	struct fake *f = *state;
	struct rest r = rest_of(f, "twinbench.mem=0x80000000\n");

	put(f->sysfs, "kernel/twin_kernel/park_region", "\n");
	assert_int_equal(rest_take(&r), 1);
	assert_string_equal(got(f->sysfs, "devices/system/cpu/cpu1/online"), "0\n");
	assert_string_equal(got(f->sysfs, "devices/system/memory/probe"), "");
	assert_string_equal(f->calls, "");
}

static void test_cpus_are_woken_only_once_all_are_parked(void **state)
{
	struct fake *f = *state;
	struct rest r = rest_of(f, "twinbench.mem=0x80000000\n");

	/* A second CPU of A's, and A parked one of its two. */
	tl_mkdirs(f->sysfs, "devices/system/cpu/cpu2");
	put(f->sysfs, "devices/system/cpu/cpu2/online", "0\n");
	assert_int_equal(rest_take(&r), -1);
	assert_string_equal(r.why, "kernel A did not park its 2 CPUs within 50 ms");
	assert_int_equal(r.cpus, 0);
	assert_string_equal(got(f->sysfs, "devices/system/cpu/cpu1/online"), "0\n");
	assert_string_equal(got(f->sysfs, "devices/system/cpu/cpu2/online"), "0\n");
	assert_string_equal(got(f->sysfs, "devices/system/memory/probe"), "");
	assert_string_equal(f->calls, "");
}

static void test_the_park_hook_holds_the_cpus_until_its_bound(void **state)
{
	struct fake *f = *state;
	struct rest r = rest_of(f, "\n");
	char why[256];

	put(f->run, REST_HOLD_PARK, "");
	assert_int_equal(rest_take(&r), -1);
	snprintf(why, sizeof(why),
		 "A's CPUs held in the park: %s/" REST_HOLD_PARK " stayed within 50 ms", f->run);
	assert_string_equal(r.why, why);
	assert_true(r.ns[R_PARKED] > 0);
	assert_string_equal(got(f->sysfs, "devices/system/cpu/cpu1/online"), "0\n");
}

static void test_the_second_uart_and_a_console_there_is_none_of(void **state)
{
	struct fake *f = *state;
	struct rest r = rest_of(f, "8250.skip_legacy=0x2\n");

	assert_int_equal(rest_take(&r), 0);
	assert_string_equal(r.tty, "ttyS1");
	assert_int_equal(strncmp(f->calls, "pin:1 serial:ttyS1:0x2f8 ", 25), 0);

	f->calls[0] = '\0';
	put(f->sysfs, "devices/system/cpu/cpu1/online", "0\n");
	r = rest_of(f, "8250.skip_legacy=4\n");
	assert_int_equal(rest_take(&r), -1);
	assert_string_equal(r.why, "no console to take over (8250.skip_legacy=4)");
	assert_string_equal(f->calls, "pin:1");
}

static void test_a_uart_that_cannot_be_taken_says_why(void **state)
{
	struct fake *f = *state;
	struct rest r = rest_of(f, "\n");

	f->fail_serial = true;
	assert_int_equal(rest_take(&r), -1);
	assert_string_equal(r.why, "cannot take /dev/ttyS0: no such device");
	/* No shell on a console that is not ours, and none recorded. */
	assert_null(strstr(f->calls, "shell:"));
	assert_int_equal(access(tl_path(f->run, "twinbench/console-shell"), F_OK), -1);
	assert_int_equal(r.ns[R_CONSOLE], 0);
}

static void test_a_rest_that_cannot_leave_the_service_cpu_adds_no_memory(void **state)
{
	struct fake *f = *state;
	struct rest r = rest_of(f, "twinbench.mem=0x80000000 8250.skip_legacy=1\n");

	/* A's two CPUs, both parked: the rest is pinned to both. */
	tl_mkdirs(f->sysfs, "devices/system/cpu/cpu2");
	put(f->sysfs, "devices/system/cpu/cpu2/online", "0\n");
	put(f->sysfs, "kernel/twin_kernel/parked", "2\n");
	f->fail_pin = true;
	assert_int_equal(rest_take(&r), -1);
	assert_string_equal(r.why, "cannot run on A's CPUs: Invalid argument");
	assert_int_equal(r.cpus, 2);
	assert_true(strcmp(f->calls, "pin:1,2") == 0 || strcmp(f->calls, "pin:2,1") == 0);
	assert_string_equal(got(f->sysfs, "devices/system/memory/probe"), "");
	assert_int_equal(r.blocks, 0);
	assert_int_equal(r.ns[R_MEMORY], 0);
}

static void test_the_payload_disk_is_taken_off_the_skip_list_and_mounted(void **state)
{
	struct fake *f = *state;
	struct rest r = rest_of(f, "twinbench.payload=" PAYLOAD "\n");

	/* The rescan found it (here: there already), its virtio disk is vdb. */
	tl_mkdirs(f->sysfs, "bus/pci/devices/" PAYLOAD "/virtio2/block/vdb");
	assert_int_equal(rest_take(&r), 0);
	assert_string_equal(got(f->sysfs, "bus/pci/skip"), "0000:00:03.0\n");
	assert_string_equal(got(f->sysfs, "bus/pci/rescan"), "1\n");
	assert_non_null(strstr(f->calls, " mount:vdb:/run/twinbench/disk"));
	assert_true(r.ns[R_PAYLOAD] >= r.ns[R_CONSOLE]);
}

static void test_a_payload_disk_that_never_appears_fails_at_its_bound(void **state)
{
	struct fake *f = *state;
	struct rest r = rest_of(f, "twinbench.payload=" PAYLOAD "\n");

	tl_mkdirs(f->sysfs, "bus/pci/devices/" PAYLOAD "/virtio2");
	assert_int_equal(rest_take(&r), -1);
	assert_string_equal(r.why, "the payload disk " PAYLOAD " did not appear within 50 ms");
	assert_null(strstr(f->calls, "mount:"));
}

static void test_steps_are_named(void **state)
{
	(void)state;
	assert_string_equal(rest_step_name(R_BEGUN), "begun");
	assert_string_equal(rest_step_name(R_PAYLOAD), "payload");
	assert_string_equal(rest_step_name(R_STEPS), "?");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_all_of_a_is_taken_in_order),
		T(test_without_a_park_area_nothing_is_taken),
		T(test_cpus_are_woken_only_once_all_are_parked),
		T(test_the_park_hook_holds_the_cpus_until_its_bound),
		T(test_the_second_uart_and_a_console_there_is_none_of),
		T(test_a_uart_that_cannot_be_taken_says_why),
		T(test_a_rest_that_cannot_leave_the_service_cpu_adds_no_memory),
		T(test_the_payload_disk_is_taken_off_the_skip_list_and_mounted),
		T(test_a_payload_disk_that_never_appears_fails_at_its_bound),
		cmocka_unit_test(test_steps_are_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
