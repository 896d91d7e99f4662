/*
 * test_integration.c - the real thing: twinbench boots guests under the
 * lab's libvirtd, upgrades them and is checked from outside.
 *
 * Needs root, the packages of `make deps` and the images of `make image`.
 * Runs build/twinbench from the repository root, as `make integration` does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libvirt/libvirt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "breakdown.h"
#include "lab.h"
#include "methodfile.h"
#include "monotime.h"
#include "results.h"
#include "testlib.h"

extern char **environ;

/*
 * The start of a line a command prints in a guest's shell.  A command sent
 * right after the last one's output, before the shell printed its prompt
 * again, is echoed by the tty at once; the prompt then comes first on the
 * line of the command's output ("twinbench-a# back=0": seen in CI).
 */
#define OUT "^(twinbench-[ab]# )?"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	return tl_lab_suite_setup("/var/tmp/tbit.XXXXXX", tmpdir, sizeof(tmpdir));
}

static int teardown(void **state)
{
	(void)state;
	tl_rmtree(tmpdir);
	return 0;
}

/* Every phase of @names recorded in @rep, in that order. */
static void assert_names_ordered(const struct repetition *rep, const char *const *names)
{
	int64_t prev = 0;

	for (int i = 0; names[i]; i++) {
		int64_t t = repetition_phase(rep, names[i]);

		if (t < 0)
			fail_msg("phase %s missing", names[i]);
		if (t < prev)
			fail_msg("phase %s comes before the one listed ahead of it", names[i]);
		prev = t;
	}
}

/* The phases of method @ref (a name, or a method file), with its second round if @round2. */
static void assert_method_phases_ordered(const struct repetition *rep, const char *ref, bool round2)
{
	struct tb_err err;
	struct method m;
	const char **names;

	if (method_load(ref, ".", &m, &err) != 0)
		fail_msg("%s", err.msg);
	names = method_phase_list(&m, round2);
	assert_non_null(names);
	assert_names_ordered(rep, names);
	free(names);
	method_free(&m);
}

static void assert_phases_ordered(const struct repetition *rep, const char *method)
{
	assert_method_phases_ordered(rep, method, false);
}

static void check_upgrade(const char *base, const char *scenario, const char *m)
{
	char dir[512], path[600];
	struct repetition *reps = NULL;
	struct run_info info;
	struct tb_err err;
	size_t n = 0;
	char *log;

	tl_find_result(base, scenario, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/run.json", dir);
	if (results_load(path, &info, &reps, &n, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(n, 1);
	if (!reps[0].ok)
		fail_msg("%s repetition failed: %s", scenario, reps[0].error);
	assert_true(reps[0].measured);
	assert_true(reps[0].downtime_ns > 0);
	assert_true(reps[0].verified);
	assert_true(reps[0].boot_changed);
	assert_true(reps[0].state_continued);
	assert_true(reps[0].counter_after > reps[0].counter_before);
	assert_string_not_equal(reps[0].boot_id_before, reps[0].boot_id_after);
	assert_true(reps[0].maintenance_ns >= reps[0].downtime_ns);
	assert_phases_ordered(&reps[0], m);
	/* The agent's ready line follows the banner; it races service_back. */
	assert_true(repetition_phase(&reps[0], "userspace_ready") >=
		    repetition_phase(&reps[0], "new_first_line"));
	assert_string_equal(info.method, scenario);
	assert_true(info.accel[0] != '\0');
	assert_true(info.qemu_version[0] != '\0');
	assert_string_equal(info.kernel_old, reps[0].release_before);

	/* The guest's own words, from both kernels, on console a. */
	snprintf(path, sizeof(path), "%s/console-a.log", dir);
	log = tl_read_file(path);
	assert_non_null(log);
	assert_int_equal(tl_count(log, "twinbench-agent: ready"), 2);
	assert_true(tl_count(log, "Linux version") >= 2);
	assert_int_equal(tl_count(log, "twinbench-agent: state saved"), 1);
	assert_non_null(strstr(log, reps[0].boot_id_before));
	assert_non_null(strstr(log, reps[0].boot_id_after));
	free(log);
	snprintf(path, sizeof(path), "%s/probe.csv", dir);
	log = tl_read_file(path);
	assert_non_null(log);
	assert_true(tl_count(log, "\nrecv,1,") > 10);
	free(log);
	snprintf(path, sizeof(path), "%s/domain.xml", dir);
	log = tl_read_file(path);
	assert_non_null(log);
	assert_non_null(strstr(log, "<protocol type=\"telnet\"/>"));
	free(log);
	free(reps);
}

static void test_reboot_and_kexec_upgrades_are_verified_and_leave_nothing(void **state)
{
	char results[300];
	const char *args[] = { "run", "--results", results, "scenarios/reboot.yaml",
				"scenarios/kexec.yaml", NULL };
	int before = tl_work_dirs();

	(void)state;
	snprintf(results, sizeof(results), "%s/results", tmpdir);
	assert_int_equal(tl_run_twinbench(args, NULL, TL_LOG_STDERR), 0);
	check_upgrade(results, "reboot", "reboot");
	check_upgrade(results, "kexec", "kexec");
	/* The run brought the lab up, so it took it down, with every guest and tap. */
	tl_assert_nothing_left();
	assert_int_equal(tl_work_dirs(), before);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* Load the single repetition of @scenario's run under @base; free *reps after. */
static void load_one(const char *base, const char *scenario, char *dir, size_t dlen,
		     struct run_info *info, struct repetition **reps)
{
	char path[600];
	struct tb_err err;
	size_t n = 0;

	tl_find_result(base, scenario, dir, dlen);
	snprintf(path, sizeof(path), "%s/run.json", dir);
	if (results_load(path, info, reps, &n, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(n, 1);
}

/*
 * Run @text as scenario @name (written into the scratch directory) and
 * load its single repetition, which must have passed; free *@reps after.
 */
static void run_own_scenario(const char *name, const char *text, char *dir, size_t dlen,
			     struct run_info *info, struct repetition **reps)
{
	char results[300], scenario[300];
	const char *args[] = { "run", "--results", results, scenario, NULL };

	snprintf(results, sizeof(results), "%s/results", tmpdir);
	snprintf(scenario, sizeof(scenario), "%s/%s.yaml", tmpdir, name);
	assert_int_equal(tl_write_file(scenario, text), 0);
	assert_int_equal(tl_run_twinbench(args, NULL, TL_LOG_STDERR), 0);
	load_one(results, name, dir, dlen, info, reps);
	if (!(*reps)[0].ok)
		fail_msg("%s failed: %s", name, (*reps)[0].error);
}

/*
 * A method the harness has no code for, from its file alone
 * (fixtures/methods/kexec-twice.yaml): two kexecs in one repetition.
 */
static void test_a_method_from_a_file_alone_runs_in_the_lab(void **state)
{
	char fixture[PATH_MAX], kernel_a[PATH_MAX], kernel_b[PATH_MAX], rootfs[PATH_MAX];
	char dir[512], path[600], text[2048], *log;
	struct repetition *reps = NULL;
	struct run_info info;

	(void)state;
	assert_non_null(realpath("harness/tests/fixtures/methods/kexec-twice.yaml", fixture));
	assert_non_null(realpath("images/vmlinuz-twin-a", kernel_a));
	assert_non_null(realpath("images/vmlinuz-twin-b", kernel_b));
	assert_non_null(realpath("images/rootfs.img", rootfs));
	snprintf(text, sizeof(text),
		 "name: kexec-twice\nmethod: %s\n"
		 "guest:\n  kernel: %s\n  rootfs: %s\n"
		 "  cmdline: \"console=ttyS0,115200 root=/dev/vda rw init=/sbin/init\"\n"
		 "  memory: 1G\nupgrade:\n  kernel: %s\n"
		 "timeouts: {boot: 180s, upgrade: 180s}\n",
		 fixture, kernel_a, rootfs, kernel_b);
	run_own_scenario("kexec-twice", text, dir, sizeof(dir), &info, &reps);
	assert_string_equal(info.method, "kexec-twice");
	assert_true(reps[0].verified);
	assert_method_phases_ordered(&reps[0], fixture, false);
	/* Both kexecs happened: the second's phases come after the first's. */
	assert_true(repetition_phase(&reps[0], "second_kexec_exec") >
		    repetition_phase(&reps[0], "first_back"));
	assert_true(reps[0].maintenance_ns >= reps[0].downtime_ns);
	snprintf(path, sizeof(path), "%s/console-a.log", dir);
	log = tl_read_file(path);
	assert_non_null(log);
	assert_int_equal(tl_count(log, "twinbench-agent: ready"), 3);
	assert_int_equal(tl_count(log, "twinbench: kexec into the new kernel"), 2);
	free(log);
	free(reps);
	tl_assert_nothing_left();
}

/*
 * methods/custom.yaml: no program of its own, the scenario's steps are all
 * there is, every step kind available to them.
 */
static void test_custom_method_runs_only_the_scenario_steps(void **state)
{
	char kernel[PATH_MAX], rootfs[PATH_MAX], dir[512], text[2048];
	struct repetition *reps = NULL;
	struct run_info info;

	(void)state;
	assert_non_null(realpath("images/vmlinuz-twin-a", kernel));
	assert_non_null(realpath("images/rootfs.img", rootfs));
	snprintf(text, sizeof(text),
		 "name: custom\nmethod: custom\n"
		 "guest:\n  kernel: %s\n  rootfs: %s\n"
		 "  cmdline: \"console=ttyS0,115200 root=/dev/vda rw init=/sbin/init\"\n"
		 "timeouts: {boot: 180s}\n"
		 "steps:\n"
		 "  - expect: {console: a, pattern: \"twinbench-agent: ready \", whole_line: true,"
		 " timeout: boot, mark: ready}\n"
		 "  - wait_probe: {state: up, timeout: boot, mark: answered}\n"
		 /* Typed before the shell prompts, the answer would share the prompt's line. */
		 "  - expect: {console: a, pattern: \"twinbench-a# \", peek: true, timeout: boot}\n"
		 "  - uname: {console: a, kernel: old, mark: asked}\n",
		 kernel, rootfs);
	run_own_scenario("custom", text, dir, sizeof(dir), &info, &reps);
	assert_string_equal(info.method, "custom");
	/* Nothing upgraded: no downtime, the steps' phases in order, the release asked. */
	assert_false(reps[0].measured);
	assert_true(repetition_phase(&reps[0], "ready") > repetition_phase(&reps[0], "guest_start"));
	assert_true(repetition_phase(&reps[0], "asked") >= repetition_phase(&reps[0], "answered"));
	assert_true(ends_with(reps[0].console_release[0], "-twinbench-a"));
	free(reps);
	tl_assert_nothing_left();
}

/*
 * Handoff @k's breakdown: A's steps request .. ready and B's seen .. reply,
 * each side in order on its own clock.  "neigh" too: A always knows the
 * probe's host by the handoff, and B adds it.
 */
static void assert_breakdown_complete(const struct repetition *rep, int k)
{
	static const char *const a[] = { "request", "stopped", "written", "released", "ready" };
	static const char *const b[] = { "seen",  "nic", "link",    "addr",
					 "neigh", "arp", "request", "reply" };
	const struct handoff_breakdown *bd = &rep->breakdowns[k];

	assert_true(rep->nbreakdowns > k);
	assert_int_equal(bd->a.nsteps, 5);
	assert_int_equal(bd->b.nsteps, 8);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(bd->a.name[i], a[i]);
		assert_true(i == 0 || bd->a.ns[i] >= bd->a.ns[i - 1]);
	}
	for (int i = 0; i < 8; i++) {
		assert_string_equal(bd->b.name[i], b[i]);
		assert_true(i == 0 || bd->b.ns[i] >= bd->b.ns[i - 1]);
	}
}

/* One repetition of a shipped twin scenario, run, loaded and with both consoles' logs. */
struct twin_run {
	char dir[512];
	struct run_info info;
	struct repetition *reps;
	char *log_a, *log_b;
};

static void load_twin(const char *results, const char *name, struct twin_run *t);

/* @extra: one more option for `run` (e.g. --capture), or NULL. */
static void run_twin_with(const char *scenario, const char *name, const char *extra,
			  struct twin_run *t)
{
	char results[300];
	const char *args[] = { "run", "--results", results, scenario, extra, NULL };

	snprintf(results, sizeof(results), "%s/%s", tmpdir, name);
	assert_int_equal(tl_run_twinbench(args, NULL, TL_LOG_STDERR), 0);
	load_twin(results, name, t);
}

/* The run in @results: one repetition, succeeded and verified, both consoles' logs. */
static void load_twin(const char *results, const char *name, struct twin_run *t)
{
	char path[600];

	memset(t, 0, sizeof(*t));
	load_one(results, name, t->dir, sizeof(t->dir), &t->info, &t->reps);
	if (!t->reps[0].ok)
		fail_msg("%s failed: %s", name, t->reps[0].error);
	assert_true(t->reps[0].verified);
	snprintf(path, sizeof(path), "%s/console-a.log", t->dir);
	t->log_a = tl_read_file(path);
	snprintf(path, sizeof(path), "%s/console-b.log", t->dir);
	t->log_b = tl_read_file(path);
	assert_non_null(t->log_a);
	assert_non_null(t->log_b);
}

static void run_twin(const char *scenario, const char *name, struct twin_run *t)
{
	run_twin_with(scenario, name, NULL, t);
}

static void run_shipped_with(const char *shipped, const char *name, const char *replace,
			     const char *extra, int rc, char *results, size_t len);

/*
 * A shipped twin scenario with @steps of its own (and a line replaced, as
 * shipped_scenario_with() does; NULL: none), as run_twin() loads it.
 */
static void run_twin_steps(const char *shipped, const char *name, const char *replace,
			   const char *steps, struct twin_run *t)
{
	char results[300];

	run_shipped_with(shipped, name, replace, steps, 0, results, sizeof(results));
	load_twin(results, name, t);
}

/*
 * Run the shipped scenario @shipped as @name with a line replaced (as
 * shipped_scenario_with() does; NULL: none) and @steps appended, which
 * must fail (twinbench exits 1): its one repetition in *@reps (the caller
 * frees it), its run directory in @dir.
 */
static void run_failing(const char *shipped, const char *name, const char *replace,
			const char *steps, char *dir, size_t dlen, struct repetition **reps)
{
	char results[300];
	struct run_info info;

	run_shipped_with(shipped, name, replace, steps, 1, results, sizeof(results));
	load_one(results, name, dir, dlen, &info, reps);
}

/*
 * As run_failing(), for a run that must pass: twinbench exits 0 and its one
 * repetition is ok (else the test fails with the repetition's error).
 */
static void run_passing(const char *shipped, const char *name, const char *replace,
			const char *steps, char *dir, size_t dlen, struct run_info *info,
			struct repetition **reps)
{
	char results[300];

	run_shipped_with(shipped, name, replace, steps, 0, results, sizeof(results));
	load_one(results, name, dir, dlen, info, reps);
	if (!(*reps)[0].ok)
		fail_msg("%s failed: %s", name, (*reps)[0].error);
}

/* The log of console @which ('a' or 'b') of the run in @dir (the caller frees it). */
static char *console_log(const char *dir, char which)
{
	char path[600];
	char *log;

	snprintf(path, sizeof(path), "%s/console-%c.log", dir, which);
	log = tl_read_file(path);
	assert_non_null(log);
	return log;
}

static void twin_run_free(struct twin_run *t)
{
	free(t->log_a);
	free(t->log_b);
	free(t->reps);
}

static void test_twin_boot_runs_kernel_b_beside_a(void **state)
{
	struct twin_run t;
	struct repetition *reps;
	struct run_info info;
	const char *log_a, *log_b;

	(void)state;
	run_twin("scenarios/twin-boot.yaml", "twin-boot", &t);
	reps = t.reps;
	info = t.info;
	log_a = t.log_a;
	log_b = t.log_b;
	assert_phases_ordered(&reps[0], "twin-boot");

	/* Two kernels, each answering on its own console, at the same time. */
	assert_true(ends_with(reps[0].console_release[0], "-twinbench-a"));
	assert_true(ends_with(reps[0].console_release[1], "-twinbench-b"));
	assert_string_equal(reps[0].console_release[0], reps[0].release_before);
	assert_string_equal(info.kernel_old, reps[0].console_release[0]);
	assert_string_equal(info.kernel_new, reps[0].console_release[1]);

	/*
	 * A's service never stopped: same boot, counter grown, no stall.  A
	 * stalled NIC never comes back (its TX watchdog fires after 5 s); a
	 * loaded 2-core host alone has made gaps of 113 and 128 ms.
	 */
	assert_false(reps[0].boot_changed);
	assert_true(reps[0].state_continued);
	assert_true(reps[0].counter_after > reps[0].counter_before);
	assert_true(reps[0].downtime_ns > 0);
	assert_true(reps[0].downtime_ns < NS_PER_S);
	assert_true(reps[0].alive_at_end);

	assert_non_null(strstr(log_a, "twin_kernel: CPU 1 leaves for the crash-loaded kernel"));
	assert_non_null(strstr(log_b, "Linux version "));
	assert_non_null(strstr(log_b, reps[0].console_release[1]));
	assert_int_equal(tl_count(log_b, "twinbench-b: ready release="), 1);
	/*
	 * B scanned its host bridge but not A's devices, nor the idle ones:
	 * B sizes no BAR while A serves (README, "The lab").  The skips
	 * themselves are logged at debug level.
	 */
	assert_non_null(strstr(log_b, "pci 0000:00:00.0: ["));
	assert_null(strstr(log_b, "pci 0000:00:1f.2: ["));
	assert_null(strstr(log_b, "skipped (pci_skip=)"));
	assert_null(strstr(log_b, "pci_skip: cannot parse"));
	/* B writes only to its own console, and A only to its own. */
	assert_null(strstr(log_a, "twinbench-b"));
	assert_null(strstr(log_b, "twinbench-agent: ready release=6.1.192-twinbench-a"));
	twin_run_free(&t);
}

/*
 * A state region is zeroed by the kernel that sets it aside: kernel A
 * writes a block into its region and kexecs (which keeps memory as it
 * is); the next kernel sets its region aside at the same address, and
 * reads zeros there, not the block, nor a parked count.
 */
static void test_a_kernel_zeroes_the_state_region_an_earlier_kernel_left(void **state)
{
	char kernel_a[PATH_MAX], kernel_b[PATH_MAX], rootfs[PATH_MAX], text[4096], dir[512];
	char path[600], region[2][64] = { "", "" }, *log, *at;
	struct repetition *reps = NULL;
	struct run_info info;

	(void)state;
	assert_non_null(realpath("images/vmlinuz-twin-a", kernel_a));
	assert_non_null(realpath("images/vmlinuz-twin-b", kernel_b));
	assert_non_null(realpath("images/rootfs.img", rootfs));
	snprintf(text, sizeof(text),
		 "name: stale-region\nmethod: kexec\n"
		 "guest:\n  kernel: %s\n  rootfs: %s\n"
		 "  cmdline: \"console=ttyS0,115200 root=/dev/vda rw init=/sbin/init "
		 "crashkernel=192M no_ipi_broadcast=1 twin_state=64K\"\n"
		 "  memory: 2G\nupgrade:\n  kernel: %s\n"
		 "timeouts: {boot: 180s, upgrade: 180s}\n"
		 "steps:\n"
		 "  - send: {console: a, before: upgrade_start, text: \"echo "
		 "region-a=$(cat /sys/kernel/twin_kernel/state_region); printf stale-block "
		 "> /sys/kernel/twin_kernel/state; head -c 11 /sys/kernel/twin_kernel/state; "
		 "echo\\n\"}\n"
		 "  - expect: {console: a, before: upgrade_start, pattern: \"^stale-block$\", "
		 "whole_line: true}\n"
		 "  - expect: {console: a, pattern: \"twinbench-a# \", peek: true}\n"
		 "  - send: {console: a, text: \"echo region-b=$(cat "
		 "/sys/kernel/twin_kernel/state_region) parked=$(cat "
		 "/sys/kernel/twin_kernel/parked) bytes=$(od -An -tx1 -N16 "
		 "/sys/kernel/twin_kernel/state | tr -d ' \\\\n')\\n\"}\n"
		 "  - expect: {console: a, pattern: \"" OUT "region-b=.* bytes=[0-9a-f]+$\", "
		 "whole_line: true}\n",
		 kernel_a, rootfs, kernel_b);
	run_own_scenario("stale-region", text, dir, sizeof(dir), &info, &reps);
	assert_true(reps[0].verified);
	snprintf(path, sizeof(path), "%s/console-a.log", dir);
	log = tl_read_file(path);
	assert_non_null(log);
	/* The lines as printed, not the commands as echoed. */
	at = strstr(log, " region-a=0x");
	assert_non_null(at);
	assert_int_equal(sscanf(at, " region-a=%63s", region[0]), 1);
	at = strstr(log, " region-b=0x");
	assert_non_null(at);
	assert_int_equal(sscanf(at, " region-b=%63s", region[1]), 1);
	/* The same RAM both times: what the second kernel reads there was the first's. */
	assert_string_equal(region[0], region[1]);
	assert_non_null(strstr(at, " parked=0 bytes=00000000000000000000000000000000"));
	free(log);
	free(reps);
	tl_assert_nothing_left();
}

/*
 * Once B runs, A is fenced from it: A cannot unload (or replace) the crash
 * image B runs in, cannot bring B's CPU online, nor any other CPU (B's
 * real-mode trampoline may be where A's was), and a second twin-boot is
 * refused before it loads anything.  B still answers afterwards, and A's
 * service never stopped.  Three vCPUs: A takes CPU 1 offline before B
 * boots (on CPU 2) and tries to bring it back after.
 */
static void test_twin_boot_fences_kernel_b_from_kernel_a(void **state)
{
	struct twin_run t;
	const struct repetition *reps;

	(void)state;
	run_twin_steps(
	    "scenarios/twin-boot.yaml", "twin-fenced", "  vcpus: 3",
	    "steps:\n"
	    "  - send: {console: a, before: trigger, text: \"echo 0 > "
	    "/sys/devices/system/cpu/cpu1/online; echo down=$?\\n\"}\n"
	    "  - expect: {console: a, before: trigger, pattern: \"" OUT "down=0$\",\n"
	    "             whole_line: true}\n"
	    "  - send: {console: a, text: \"kexec -p -u; echo unload=$?\\n\"}\n"
	    "  - expect: {console: a, pattern: \"" OUT "unload=[1-9][0-9]*$\", whole_line: true}\n"
	    "  - send: {console: a, text: \"echo 1 > /sys/devices/system/cpu/cpu$(cat "
	    "/sys/kernel/twin_kernel/cpu)/online; echo online=$?\\n\"}\n"
	    "  - expect: {console: a, pattern: \"" OUT "online=1$\", whole_line: true}\n"
	    "  - send: {console: a, text: \"echo 1 > /sys/devices/system/cpu/cpu1/online; "
	    "echo up=$?\\n\"}\n"
	    "  - expect: {console: a, pattern: \"" OUT "up=1$\", whole_line: true}\n"
	    "  - send: {console: a, text: \"twinbench-upgrade twin-boot; echo again=$?\\n\"}\n"
	    "  - expect: {console: a, pattern: \"" OUT "again=1$\", whole_line: true}\n"
	    /* twin_kernel/release refuses a bridge and a function that is not there (0021). */
	    "  - send: {console: a, text: \"d=$(readlink -f /sys/class/net/eth0/device); "
	    "d=${d%/*/*}; echo ${d##*/} >/sys/kernel/twin_kernel/release; echo bridge=$?\\n\"}\n"
	    "  - expect: {console: a, pattern: \"" OUT "bridge=[1-9]$\", whole_line: true}\n"
	    "  - send: {console: a, text: \"echo 0000:ff:1f.7 >/sys/kernel/twin_kernel/release; "
	    "echo none=$?\\n\"}\n"
	    "  - expect: {console: a, pattern: \"" OUT "none=[1-9]$\", whole_line: true}\n"
	    /* Released: the payload disk alone, at twin-boot, and no longer mounted. */
	    "  - send: {console: a, text: \"[ \\\"$(cat /sys/kernel/twin_kernel/release)\\\" = "
	    "\\\"$(cat /run/twinbench/payload-released)\\\" ] && ! grep -q ' /run/twinbench/payload ' "
	    "/proc/mounts; echo payload=$?\\n\"}\n"
	    "  - expect: {console: a, pattern: \"" OUT "payload=0$\", whole_line: true}\n"
	    "  - uname: {console: b, kernel: new, mark: b_after_fences}\n"
	    "  - wait_probe: {state: up, mark: a_after_fences}\n",
	    &t);
	reps = t.reps;
	/* A's service went on unbroken through all of it (verified), and B still answers. */
	assert_false(reps[0].boot_changed);
	assert_true(repetition_phase(&reps[0], "b_after_fences") >
		    repetition_phase(&reps[0], "b_answered"));
	assert_true(ends_with(reps[0].console_release[1], "-twinbench-b"));
	/*
	 * kexec-tools' own words for the kernel's EBUSY (the write to B's
	 * CPU's online file failed: online=1), and the script's refusal.
	 */
	assert_non_null(strstr(t.log_a, "Device or resource busy"));
	assert_non_null(strstr(t.log_a, "refusing a second twin-boot"));
	assert_int_equal(tl_count(t.log_a, "twin_kernel: CPU 2 leaves for the crash-loaded kernel"),
			 1);
	/* The CPU A had taken offline itself stays so, and the kernel says why. */
	assert_int_equal(tl_count(t.log_a, "twin_kernel: CPU 1 stays offline: kernel B runs"), 1);
	twin_run_free(&t);
	tl_assert_nothing_left();
}

static void test_twin_boot_with_broken_b_fails_and_a_keeps_running(void **state)
{
	char results[300], scenario[300], dir[512], out[300], kernel[PATH_MAX], initramfs[PATH_MAX],
		kernel_b[PATH_MAX], rootfs[PATH_MAX], *msg;
	const char *args[] = { "run", "--results", results, scenario, NULL };
	struct repetition *reps = NULL;
	struct run_info info;
	FILE *f;

	(void)state;
	assert_non_null(realpath("images/vmlinuz-twin-a", kernel));
	assert_non_null(realpath("images/vmlinuz-twin-b", kernel_b));
	assert_non_null(realpath("images/initramfs-b.cpio", initramfs));
	assert_non_null(realpath("images/rootfs.img", rootfs));
	snprintf(results, sizeof(results), "%s/broken", tmpdir);
	snprintf(scenario, sizeof(scenario), "%s/twin-broken.yaml", tmpdir);
	snprintf(out, sizeof(out), "%s/twin-broken.err", tmpdir);
	f = fopen(scenario, "w");
	assert_non_null(f);
	/* B's init does not exist: B panics on console b, A must not notice. */
	fprintf(f,
		"name: twin-broken\nmethod: twin-boot\n"
		"guest:\n  kernel: %s\n  rootfs: %s\n  memory: 1G\n"
		"  cmdline: \"console=ttyS0,115200 root=/dev/vda rw init=/sbin/init "
		"crashkernel=256M no_ipi_broadcast=1 twin_state=64K\"\n"
		"upgrade:\n  kernel: %s\n  initrd: %s\n"
		"  cmdline: \"console=ttyS1,115200 earlyprintk=serial,ttyS1,115200 nr_cpus=1 "
		"noapic hpet=disable no_ipi_broadcast=1 pnpacpi=off 8250.skip_legacy=0x1 "
		"8250.poll_legacy=0x2 rdinit=/no-such-init init=/no-such-init\"\n"
		"timeouts:\n  boot: 180s\n  upgrade: 120s\n",
		kernel, rootfs, kernel_b, initramfs);
	fclose(f);
	assert_int_equal(tl_run_twinbench(args, out, TL_LOG_STDERR), 1);
	msg = tl_read_file(out);
	assert_non_null(strstr(msg, "FAILED"));
	assert_non_null(strstr(msg, "Kernel panic"));
	free(msg);

	load_one(results, "twin-broken", dir, sizeof(dir), &info, &reps);
	assert_false(reps[0].ok);
	assert_false(reps[0].verified);
	assert_non_null(strstr(reps[0].error, "console b: "));
	assert_non_null(strstr(reps[0].error, "Kernel panic"));
	assert_non_null(strstr(reps[0].error, "--- last lines of console b ---"));
	assert_true(repetition_phase(&reps[0], "b_ready") < 0);
	/* Where both vCPUs were when the repetition failed: A's and the dead B's. */
	snprintf(out, sizeof(out), "%s/cpu-state-1.txt", dir);
	msg = tl_read_file(out);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "CPU#0"));
	assert_non_null(strstr(msg, "CPU#1"));
	assert_int_equal(tl_count(msg, "RIP="), 2);
	/* ... and what could still interrupt them: both local APICs, the I/O APIC. */
	assert_int_equal(tl_count(msg, "dumping local APIC state for CPU"), 2);
	assert_non_null(strstr(msg, "ioapic0:"));
	/* ... read in one picture, with each NIC's receive and transmit queues. */
	assert_non_null(strstr(msg, "guest paused while read"));
	assert_int_equal(tl_count(msg, "== info virtio-queue-status "), 2);
	assert_int_equal(tl_count(msg, "last_avail_idx:"), 2);
	free(msg);
	/* What QEMU said, from its start to the end of the repetition. */
	snprintf(out, sizeof(out), "%s/qemu-1.log", dir);
	msg = tl_read_file(out);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "qemu-system-x86_64"));
	assert_non_null(strstr(msg, "twin-broken"));
	free(msg);
	/* A still answers, from the same boot, after B died. */
	assert_true(reps[0].alive_at_end);
	assert_true(reps[0].measured);
	assert_false(reps[0].boot_changed);
	free(reps);
}

static void test_twin_hands_the_service_to_kernel_b(void **state)
{
	struct twin_run t;
	struct repetition *reps;
	struct run_info info;
	const char *log_a, *log_b, *p;
	unsigned long long handed = 0;
	double said_at = 0;
	long long steps[4];

	(void)state;
	run_twin("scenarios/twin.yaml", "twin", &t);
	reps = t.reps;
	info = t.info;
	log_a = t.log_a;
	log_b = t.log_b;
	assert_phases_ordered(&reps[0], "twin");
	assert_breakdown_complete(&reps[0], 0);
	/* The method's quiet window (2 s), between the service's first reply and B's boot. */
	assert_true(reps[0].quiet_ns == 2 * NS_PER_S);
	assert_true(reps[0].quiet_from_ns >= repetition_phase(&reps[0], "service_up"));
	assert_true(reps[0].quiet_from_ns + reps[0].quiet_ns <=
		    repetition_phase(&reps[0], "trigger"));
	assert_true(reps[0].quiet_longest_ns <= reps[0].quiet_ns);

	/* Replies change from kernel A's release to kernel B's, from another boot. */
	assert_true(ends_with(reps[0].release_before, "-twinbench-a"));
	assert_true(ends_with(reps[0].release_after, "-twinbench-b"));
	assert_true(reps[0].boot_changed);
	assert_string_equal(info.kernel_new, reps[0].release_after);
	assert_true(reps[0].downtime_ns > 0);
	assert_true(reps[0].maintenance_ns >= reps[0].downtime_ns);

	/* The state went through memory: B's first reply is A's last count plus one. */
	p = strstr(log_a, "twinbench-agent: state handed over counter=");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "twinbench-agent: state handed over counter=%llu", &handed), 1);
	assert_true(reps[0].state_continued);
	assert_true(reps[0].counter_after == handed + 1);
	assert_non_null(strstr(log_a, " let go of the service"));
	/* A twin kernel A released its NIC with the driver bound (0021): no unbind in the window. */
	assert_non_null(strstr(log_a, "released to kernel B (its driver left bound)"));
	/*
	 * At boot A took CPU 1, the one twin-boot gave B, offline and online
	 * once (the scenario's 2 vCPUs), before its service was measured.
	 */
	p = strstr(log_a, "twinbench-agent: CPU 1 offline and online once in ");
	assert_non_null(p);
	assert_true(p < strstr(log_a, "twinbench: starting kernel B on CPU 1"));
	/* The log's lines begin with the host's clock, the phases': before the quiet window. */
	while (p > log_a && p[-1] != '\n')
		p--;
	assert_int_equal(sscanf(p, "%lf", &said_at), 1);
	assert_true(said_at * NS_PER_S < (double)reps[0].quiet_from_ns);
	assert_non_null(strstr(log_b, "twinbench-b: the kernel before let go"));
	/* B's agent said so before the takeover began: its line is whole. */
	assert_non_null(strstr(log_b, "state=taken-over nic=eth0"));
	assert_true(strstr(log_b, "state=taken-over") <
		    strstr(log_b, "twinbench-b: the kernel before let go"));
	assert_non_null(strstr(log_b, reps[0].boot_id_after));
	/*
	 * B's agent ran its first request's path once before the handoff (no
	 * NIC yet: the address tried on lo, the request over loopback), and B
	 * said it was ready only after that.
	 */
	p = strstr(log_b, "twinbench-agent: warmed up: no address probe (no NIC of its own), "
			  "the address tried on lo in ");
	assert_non_null(p);
	assert_non_null(strstr(p, " ms, a request answered in "));
	assert_true(p < strstr(log_b, "twinbench-b: ready release="));

	/*
	 * The takeover: B holds every vCPU and at least 85% of the RAM (the
	 * scenario's 2 vCPUs, 2 GiB), A's CPU came through the mailbox, and
	 * console a answers with B's release after A's last words.
	 */
	assert_int_equal(reps[0].takeover_cpus, 2);
	assert_true(reps[0].takeover_memtotal_kb >= 2048LL * 1024 * 85 / 100);
	assert_true(repetition_phase(&reps[0], "takeover_done") > 0);
	assert_true(repetition_phase(&reps[0], "a_parked") >= repetition_phase(&reps[0], "a_let_go"));
	/* B took the rest of A in its agent, each step stamped on B's clock, in order. */
	p = strstr(log_b, "twinbench-b: takeover steps begun=0 ");
	assert_non_null(p);
	assert_int_equal(sscanf(p,
				"twinbench-b: takeover steps begun=0 parked=%lld cpus=%lld "
				"memory=%lld console=%lld",
				&steps[0], &steps[1], &steps[2], &steps[3]),
			 4);
	for (int i = 0; i < 4; i++)
		assert_true(steps[i] >= (i ? steps[i - 1] : 0));
	assert_true(p < strstr(log_b, "twinbench-b: takeover done "));
	/* ... and run.json has them, with the handoff they followed. */
	assert_int_equal(reps[0].nbreakdowns, 1);
	assert_int_equal(reps[0].breakdowns[0].rest.nsteps, 5);
	assert_true(breakdown_step(&reps[0].breakdowns[0].rest, "console") == steps[3]);
	assert_non_null(strstr(log_b, "smpboot: Booting Node 0 Processor 1 APIC 0x0"));
	assert_string_equal(reps[0].console_release[0], reps[0].release_after);
	p = strstr(log_a, "twin_kernel: CPU 0 parks, the last of this kernel");
	assert_non_null(p);
	assert_non_null(strstr(p, "twinbench-b: console ttyS0 taken over by "));
	assert_null(strstr(p, "twinbench-a# "));
	/*
	 * A quiesced what it still drove before it parked: its root disk.  Its
	 * NIC went to B in the handoff, its payload disk at twin-boot.
	 */
	p = strstr(log_a, " PCI functions quiesced");
	assert_non_null(p);
	while (p > log_a && p[-1] >= '0' && p[-1] <= '9')
		p--;
	assert_int_equal(atoi(p), 1);
	p = strstr(log_a, "twinbench: payload disk ");
	assert_non_null(p);
	assert_non_null(strstr(p, " released to kernel B"));
	assert_true(p < strstr(log_a, "twinbench: kernel B started on CPU"));
	twin_run_free(&t);
}

/*
 * Scenario steps: B's takeover holds A's CPUs in the park (its test hook,
 * armed before the handoff), and B counts A's CPU there before the
 * takeover goes on; the steps that follow release the hold.
 */
#define STEPS_HOLD_A_IN_THE_PARK                                                                   \
	"  - send: {console: b, before: handoff_start, text: \"touch /run/twinbench-hold-park; "   \
	"echo held=$?\\n\"}\n"                                                                     \
	"  - expect: {console: b, before: handoff_start, pattern: \"" OUT "held=0$\", "            \
	"whole_line: true}\n"                                                                      \
	"  - send: {console: b, before: takeover_done, text: \"i=0; while [ $(cat "                \
	"/sys/kernel/twin_kernel/parked) -lt 1 ] && [ $i -lt 3000 ]; do usleep 10000; "            \
	"i=$((i + 1)); done; echo parked-before=$(cat /sys/kernel/twin_kernel/parked)\\n\"}\n"     \
	"  - expect: {console: b, before: takeover_done, pattern: \"" OUT "parked-before=1$\", "   \
	"whole_line: true}\n"

/*
 * An NMI while A's CPU waits in the park, before B wakes it (B's takeover
 * holds it there for the test): the guest goes on, B takes the CPU, the
 * memory and console a.  QEMU hands "inject-nmi" to each CPU whose local
 * APIC takes it on LINT1: B's boot CPU does (B says so); A's parked CPU
 * has its LINT1 masked since it left A.  What the park's own IDT catches
 * beyond that (an NMI IPI, a machine check) is not reached by this step.
 */
static void test_an_nmi_while_a_is_parked_leaves_the_takeover_whole(void **state)
{
	struct twin_run t;
	const struct repetition *reps;

	(void)state;
	run_twin_steps(
	    "scenarios/twin.yaml", "twin-nmi", NULL,
	    "steps:\n" STEPS_HOLD_A_IN_THE_PARK
	    "  - inject_nmi: {before: takeover_done, mark: nmi_sent}\n"
	    "  - send: {console: b, before: takeover_done, text: \"echo parked-after=$(cat "
	    "/sys/kernel/twin_kernel/parked); rm /run/twinbench-hold-park\\n\"}\n"
	    "  - expect: {console: b, before: takeover_done, pattern: \"" OUT "parked-after=1$\", "
	    "whole_line: true}\n",
	    &t);
	reps = t.reps;
	assert_int_equal(reps[0].takeover_cpus, 2);
	assert_true(repetition_phase(&reps[0], "nmi_sent") > repetition_phase(&reps[0], "a_let_go"));
	assert_true(repetition_phase(&reps[0], "takeover_done") >
		    repetition_phase(&reps[0], "nmi_sent"));
	/* The NMI arrived: B's kernel took it for one of unknown reason. */
	assert_non_null(strstr(t.log_b, "NMI received for unknown reason"));
	twin_run_free(&t);
	tl_assert_nothing_left();
}

/*
 * A machine check into A's CPU 0 while it waits in the park (held there as
 * above): the park's IDT halts that CPU (CR4.MCE set, so no shutdown), the
 * guest lives on.  B's wakeup of that CPU is not taken and is withdrawn
 * after its bound (a second), so the takeover fails, naming it, and the
 * service goes on from B.  On a park without its own IDT and CR4.MCE, QEMU
 * resets the whole guest ("MCE capability is not enabled").
 */
static void test_a_machine_check_in_the_park_halts_that_cpu_alone(void **state)
{
	char dir[512], *log;
	struct repetition *reps = NULL;

	(void)state;
	run_failing(
	    "scenarios/twin.yaml", "twin-mce", NULL,
	    "steps:\n" STEPS_HOLD_A_IN_THE_PARK
	    "  - inject_mce: {cpu: 0, before: takeover_done, mark: mce_sent}\n"
	    "  - send: {console: b, before: takeover_done, text: \"rm /run/twinbench-hold-park; "
	    "echo released=$?\\n\"}\n"
	    "  - expect: {console: b, before: takeover_done, pattern: \"" OUT "released=0$\", "
	    "whole_line: true}\n",
	    dir, sizeof(dir), &reps);
	assert_false(reps[0].ok);
	assert_non_null(strstr(reps[0].error, "twinbench-b: takeover failed"));
	/* B had the service before the machine check, and keeps it. */
	assert_true(reps[0].boot_changed);
	assert_true(repetition_phase(&reps[0], "mce_sent") >
		    repetition_phase(&reps[0], "b_service_ready"));
	assert_true(repetition_phase(&reps[0], "takeover_done") < 0);
	assert_true(reps[0].alive_at_end);
	log = console_log(dir, 'b');
	assert_int_equal(tl_count(log, "twin_kernel: parked CPU with APIC ID 0 did not wake within "
				       "1000 ms"),
			 1);
	free(log);
	/* The guest was not reset: A booted once, on console a. */
	log = console_log(dir, 'a');
	assert_int_equal(tl_count(log, "Linux version "), 1);
	free(log);
	free(reps);
	tl_assert_nothing_left();
}

/*
 * nic: dual: A leaves the second NIC to B from boot on, B brings it up while
 * it boots, and at the handoff only the address moves (gratuitous ARP).
 */
static void test_twin_dual_moves_only_the_address(void **state)
{
	struct twin_run t;
	const struct repetition *reps;
	const char *log_a, *log_b, *p;
	char own[32] = "";

	(void)state;
	/* With the packet capture: an independent view of the same downtime. */
	run_twin_with("scenarios/twin-dual.yaml", "twin-dual", "--capture", &t);
	reps = t.reps;
	if (!reps[0].captured)
		fail_msg("no capture verdict: %s", reps[0].capture_note);
	if (!reps[0].capture_agrees)
		fail_msg("the capture's downtime %lld ns disagrees with the probe's %lld ns",
			 (long long)reps[0].capture_downtime_ns, (long long)reps[0].downtime_ns);
	{
		char pcap[700];
		struct stat st;

		snprintf(pcap, sizeof(pcap), "%s/capture-1.pcapng", t.dir);
		assert_int_equal(stat(pcap, &st), 0);
		assert_true(st.st_size > 1000);
	}
	/* Every gap counted from the trigger on, the downtime's among them. */
	assert_true(reps[0].gaps_found >= 1);
	assert_true(reps[0].unavailable_ns >= reps[0].downtime_ns);
	assert_true(reps[0].interval_median_ns > 0);
	log_a = t.log_a;
	log_b = t.log_b;
	assert_string_equal(t.info.method, "twin-dual");
	assert_true(reps[0].state_continued);
	assert_true(ends_with(reps[0].release_after, "-twinbench-b"));
	assert_int_equal(reps[0].takeover_cpus, 2);

	assert_non_null(strstr(log_a, ") left to kernel B"));
	/* B's own NIC was up before the handoff, and it is the one that serves. */
	p = strstr(log_b, "twinbench-b: own NIC ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "twinbench-b: own NIC %31s", own), 1);
	assert_true(p < strstr(log_b, "twinbench-b: the kernel before let go"));
	/*
	 * Before the handoff, B's own NIC carried an address probe that kernel
	 * A answered, B looked up its way out (sending nothing), and the
	 * service answered a request of B's own: then B said it was ready.
	 */
	p = strstr(log_b, "twinbench-agent: warmed up: the address probe answered in ");
	assert_non_null(p);
	assert_non_null(strstr(p, " ms, the way out in "));
	assert_non_null(strstr(p, ", a request answered in "));
	assert_true(p < strstr(log_b, "twinbench-b: ready release="));
	/* B's own NIC (eth0 since its boot) took the address. */
	assert_breakdown_complete(&reps[0], 0);
	assert_non_null(strstr(log_b, "state=taken-over nic=eth0"));
	/* ... and it is not A's NIC (twinbench.nic= on B's command line). */
	p = strstr(log_b, "twinbench.nic=");
	assert_non_null(p);
	assert_int_not_equal(strncmp(p + strlen("twinbench.nic="), own, strlen(own)), 0);
	/*
	 * A's NIC kept its driver to the end: the park quiesced it, with the
	 * root disk (one NIC: the disk alone, the NIC is B's; the payload
	 * disk was released at twin-boot).
	 */
	p = strstr(log_a, " PCI functions quiesced");
	assert_non_null(p);
	while (p > log_a && p[-1] >= '0' && p[-1] <= '9')
		p--;
	assert_int_equal(atoi(p), 2);
	twin_run_free(&t);
}

/*
 * upgrade.next: A -> B -> C in one boot.  Each handoff is verified on its
 * own (new boot, state counter continued), the counter goes on across
 * both, and C, A's image again, ends up with every vCPU, the RAM and both
 * consoles: B's ttyS1 answers with C's release after B's last words.
 */
static void test_twin_repeat_upgrades_twice_in_one_boot(void **state)
{
	struct twin_run t;
	const struct repetition *rep;
	const struct handoff_round *h;
	const char *p;

	(void)state;
	run_twin("scenarios/twin-repeat.yaml", "twin-repeat", &t);
	rep = &t.reps[0];
	assert_string_equal(t.info.method, "twin-repeat");
	assert_int_equal(rep->nrounds, 2);
	h = rep->rounds;
	assert_true(h[0].verified && h[1].verified);
	assert_true(ends_with(h[0].release_before, "-twinbench-a"));
	assert_true(ends_with(h[0].release_after, "-twinbench-b"));
	assert_string_equal(h[1].release_before, h[0].release_after);
	assert_true(ends_with(h[1].release_after, "-twinbench-a"));
	/* Three boots, and the count never restarts: it only grows, by one per handoff. */
	assert_string_not_equal(h[0].boot_id_before, h[0].boot_id_after);
	assert_string_equal(h[1].boot_id_before, h[0].boot_id_after);
	assert_string_not_equal(h[1].boot_id_after, h[0].boot_id_after);
	assert_string_not_equal(h[1].boot_id_after, h[0].boot_id_before);
	assert_true(h[0].counter_after == h[0].counter_before + 1);
	assert_true(h[1].counter_before >= h[0].counter_after);
	assert_true(h[1].counter_after == h[1].counter_before + 1);
	assert_true(rep->counter_after == h[1].counter_after);
	assert_true(rep->downtime_ns == (h[0].downtime_ns > h[1].downtime_ns ? h[0].downtime_ns
										: h[1].downtime_ns));
	/* Both rounds' phases, in order, the second after the first's takeover. */
	assert_method_phases_ordered(rep, "twin", true);
	assert_breakdown_complete(rep, 0);
	assert_breakdown_complete(rep, 1);
	assert_true(repetition_phase(rep, "r2_trigger") > repetition_phase(rep, "a_console_b"));
	/* One quiet window, before the first round: the second holds nothing up. */
	assert_true(rep->quiet_ns == 2 * NS_PER_S);
	assert_true(rep->quiet_from_ns + rep->quiet_ns <= repetition_phase(rep, "trigger"));

	/* C took everything: the check on its takeover line, and console b answers with C. */
	assert_int_equal(rep->takeover_cpus, 2);
	assert_true(rep->takeover_memtotal_kb >= 4096LL * 1024 * 85 / 100);
	assert_string_equal(rep->console_release[1], h[1].release_after);
	p = strstr(t.log_b, "twin_kernel: CPU 0 parks, the last of this kernel");
	assert_non_null(p);
	assert_non_null(strstr(p, "twinbench-b: console ttyS1 taken over by "));
	/* B took the payload disk over to find C, and gave console a up to it. */
	assert_non_null(strstr(t.log_b, "twin_kernel: CPU 1 leaves for the crash-loaded kernel"));
	assert_true(tl_count(t.log_a, "twinbench-b: ready release=") >= 1);
	twin_run_free(&t);
}

/*
 * The shipped scenario @shipped as @name in the scratch directory (its
 * path in @scenario), with absolute image paths, the first line with the
 * same key as @replace ("repetitions: 2", "  vcpus: 3", indentation
 * included; the guest's "  cmdline:" comes before the upgrade's) replaced
 * by it (NULL: none) and @extra appended.
 */
static void shipped_scenario_with(const char *shipped, const char *name, const char *replace,
				  const char *extra, char *scenario, size_t len)
{
	char *yaml = tl_read_file(shipped);
	size_t key = replace ? strcspn(replace, ":") + 1 : 0;
	FILE *f;

	assert_non_null(yaml);
	snprintf(scenario, len, "%s/%s.yaml", tmpdir, name);
	f = fopen(scenario, "w");
	assert_non_null(f);
	for (char *line = strtok(yaml, "\n"); line; line = strtok(NULL, "\n")) {
		char *rel = strstr(line, "../images/"), cwd[PATH_MAX];

		if (!strncmp(line, "name:", 5)) {
			fprintf(f, "name: %s\n", name);
		} else if (replace && !strncmp(line, replace, key)) {
			fprintf(f, "%s\n", replace);
			replace = NULL;
		} else if (rel) {
			assert_non_null(getcwd(cwd, sizeof(cwd)));
			fprintf(f, "%.*s%s/%s\n", (int)(rel - line), line, cwd, rel + 3);
		} else {
			fprintf(f, "%s\n", line);
		}
	}
	fputs(extra, f);
	assert_int_equal(fclose(f), 0);
	free(yaml);
}

/*
 * Run the shipped scenario @shipped as @name (shipped_scenario_with()),
 * its results under the scratch directory's @name/ (in @results), and
 * expect twinbench to exit @rc.
 */
static void run_shipped_with(const char *shipped, const char *name, const char *replace,
			     const char *extra, int rc, char *results, size_t len)
{
	char scenario[300];
	const char *args[] = { "run", "--results", results, scenario, NULL };

	snprintf(results, len, "%s/%s", tmpdir, name);
	shipped_scenario_with(shipped, name, replace, extra, scenario, sizeof(scenario));
	assert_int_equal(tl_run_twinbench(args, NULL, TL_LOG_STDERR), rc);
}

/*
 * In @probe_csv, after @from_ns the service fell silent (A handed over)
 * and came back: every reply from the boot that answered first (A's), at
 * least @min_after after the longest silence, the counter going on across
 * it.
 */
static void assert_service_came_back_on_a(const char *probe_csv, int64_t from_ns, int min_after)
{
	char *csv = tl_read_file(probe_csv), first_boot[64] = "", *save = NULL;
	unsigned long long counter, prev_counter = 0, gap_before = 0, gap_after = 0;
	long long t_ns, prev_t = 0, gap = 0;
	int after_gap = 0;

	assert_non_null(csv);
	assert_true(from_ns > 0);
	for (char *line = strtok_r(csv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char boot[64];

		if (sscanf(line, "recv,%*d,%*u,%lld,%llu,%*[^,],%63s", &t_ns, &counter, boot) != 3)
			continue;
		if (!first_boot[0])
			snprintf(first_boot, sizeof(first_boot), "%s", boot);
		if (strcmp(boot, first_boot) != 0)
			fail_msg("a reply from boot %s, not A's %s", boot, first_boot);
		if (prev_t > from_ns && t_ns - prev_t > gap) {
			gap = t_ns - prev_t;
			gap_before = prev_counter;
			gap_after = counter;
			after_gap = 0;
		}
		after_gap++;
		prev_t = t_ns;
		prev_counter = counter;
	}
	free(csv);
	if (after_gap < min_after || gap_after <= gap_before)
		fail_msg("after the longest silence (%lld ms): %d replies, counter %llu before, "
			 "%llu after",
			 gap / 1000000, after_gap, gap_before, gap_after);
}

/*
 * A twin repetition in @dir that must end with the service back on A: it
 * failed with @error in its words, B never answered, A did not park, A's
 * console says @a_says once (its rollback), and the probe's replies after
 * the silence come from A's boot with the counter going on.
 */
static void assert_a_serves_on(const struct repetition *rep, const char *dir, const char *error,
			       const char *a_says)
{
	char path[600], *log;

	assert_false(rep->ok);
	assert_false(rep->verified);
	assert_non_null(strstr(rep->error, error));
	/* Never silently from zero: no reply came from kernel B at all. */
	assert_false(rep->boot_changed);
	assert_true(repetition_phase(rep, "a_let_go") < 0);
	assert_true(repetition_phase(rep, "b_service_ready") < 0);
	assert_int_equal(rep->nbreakdowns, 0);
	log = console_log(dir, 'b');
	assert_null(strstr(log, "state=taken-over"));
	assert_null(strstr(log, "twinbench-b: the kernel before let go"));
	free(log);
	/* A parks only for a B that serves: it keeps its CPUs. */
	assert_true(repetition_phase(rep, "a_parked") < 0);
	log = console_log(dir, 'a');
	assert_null(strstr(log, "parks, the last of this kernel"));
	/* And its service: the NIC back, the same counter, on A's boot. */
	assert_int_equal(tl_count(log, a_says), 1);
	free(log);
	assert_true(rep->alive_at_end);
	snprintf(path, sizeof(path), "%s/probe.csv", dir);
	/*
	 * The run ends at the failure: how many of A's replies come after its
	 * rollback depends on how soon the harness stops the probe (5 to 10
	 * and more have been seen).  What must hold is that they come from
	 * A's boot with the counter going on, the end's alive check among them.
	 */
	assert_service_came_back_on_a(path, repetition_phase(rep, "handoff_start"), 1);
}

/*
 * A releases its payload disk at twin-boot, once B is loaded from it.  When
 * B then refuses the service (a damaged block), A takes the disk back and
 * mounts it again: a fallback (kexec, reboot) finds the payload where it
 * was.  The custom method: the run goes on past the refusal, which in the
 * twin method ends the repetition before A is done.
 */
static void test_twin_refused_gives_a_its_payload_disk_back(void **state)
{
	char dir[512], *log;
	struct repetition *reps = NULL;
	struct run_info info;

	(void)state;
	run_passing(
	    "scenarios/twin.yaml", "twin-disk-back", "method: custom",
	    "steps:\n"
	    "  - expect: {console: a, pattern: \"twinbench-a# \", peek: true, timeout: boot}\n"
	    "  - expect: {console: a, pattern: \"twinbench-agent: ready \", whole_line: true,"
	    " timeout: boot}\n"
	    "  - send: {console: a, text: \"twinbench-upgrade twin-boot\\n\"}\n"
	    "  - expect: {console: a, pattern: \"^twinbench: payload disk [0-9a-f:.]+ released "
	    "to kernel B$\", whole_line: true, timeout: upgrade}\n"
	    "  - expect: {console: b, pattern: \"twinbench-b: ready \", whole_line: true,"
	    " timeout: upgrade}\n"
	    "  - send: {console: a, text: \"twinbench-upgrade twin-handoff --corrupt-state; "
	    "echo handoff=$?\\n\"}\n"
	    "  - expect: {console: b, pattern: \"twinbench-agent: refusing to take over: state "
	    "block is corrupt\", timeout: upgrade}\n"
	    "  - expect: {console: a, pattern: \"^twinbench: payload disk [0-9a-f:.]+ taken back, "
	    "at /run/twinbench/payload again$\", whole_line: true, timeout: upgrade}\n"
	    "  - expect: {console: a, pattern: \"" OUT "handoff=1$\", whole_line: true,"
	    " timeout: upgrade}\n"
	    "  - send: {console: a, text: \"[ -s /run/twinbench/payload/kernel ] && "
	    "[ ! -e /run/twinbench/payload-released ]; echo back=$?\\n\"}\n"
	    "  - expect: {console: a, pattern: \"" OUT "back=0$\", whole_line: true}\n"
	    "  - wait_probe: {state: up, timeout: upgrade, mark: a_serves}\n",
	    dir, sizeof(dir), &info, &reps);
	assert_string_equal(info.method, "custom");
	assert_false(reps[0].boot_changed);
	log = console_log(dir, 'a');
	assert_int_equal(tl_count(log, "kernel B refused the state block: serving on eth0"), 1);
	/* The take-back's own failure words never came. */
	assert_null(strstr(log, ": cannot bind "));
	assert_null(strstr(log, ": cannot mount "));
	assert_null(strstr(log, ": no block device within "));
	free(log);
	free(reps);
	tl_assert_nothing_left();
}

static void test_twin_with_corrupt_state_block_is_refused_by_b(void **state)
{
	char dir[512];
	struct repetition *reps = NULL;

	(void)state;
	/* Arms the helper's corruption hook just before the handoff starts. */
	run_failing("scenarios/twin.yaml", "twin-corrupt", NULL,
		    "steps:\n  - send: {console: a, text: \"mkdir -p /run/twinbench && "
		    "touch /run/twinbench/corrupt-state\\n\", before: handoff_start}\n",
		    dir, sizeof(dir), &reps);
	assert_a_serves_on(&reps[0], dir, "refusing to take over: state block is corrupt",
			   "kernel B refused the state block: serving on eth0");
	free(reps);
}

/*
 * B does not take the block (its agent held by the test hook, as a B that
 * hung would not): A withdraws it after its bound (CLAIM_BOUND_NS in
 * guest/agent/agent.c, 2 s), takes the NIC back and serves on from the
 * same counter; B, finding the block withdrawn, touches nothing and says
 * so, which fails the repetition.
 */
static void test_twin_block_b_does_not_take_is_withdrawn_and_a_serves_on(void **state)
{
	char dir[512];
	struct repetition *reps = NULL;

	(void)state;
	run_failing("scenarios/twin.yaml", "twin-withdrawn", NULL,
		    "steps:\n"
		    "  - send: {console: b, before: handoff_start, text: \"touch "
		    "/run/twinbench-hold-take; echo held=$?\\n\"}\n"
		    "  - expect: {console: b, before: handoff_start, pattern: \"" OUT "held=0$\", "
		    "whole_line: true}\n",
		    dir, sizeof(dir), &reps);
	assert_a_serves_on(&reps[0], dir, "refusing to take over: kernel A withdrew the state block",
			   "kernel B did not claim the state block within 2000 ms: serving on eth0 "
			   "counter=");
	free(reps);
}

/*
 * B claims the block, takes the NIC and then fails (the test hook stops
 * its takeover there): it lets go of the NIC (unbound, removed from its
 * PCI tree) and gives the block back; A binds the NIC again and serves on
 * from the same counter, no park.
 */
static void test_twin_takeover_failing_after_the_nic_gives_the_service_back(void **state)
{
	char dir[512], *log;
	struct repetition *reps = NULL;

	(void)state;
	run_failing("scenarios/twin.yaml", "twin-given-back", NULL,
		    "steps:\n"
		    "  - send: {console: b, before: handoff_start, text: \"touch "
		    "/run/twinbench-fail-take; echo armed=$?\\n\"}\n"
		    "  - expect: {console: b, before: handoff_start, pattern: \"" OUT "armed=0$\", "
		    "whole_line: true}\n",
		    dir, sizeof(dir), &reps);
	assert_a_serves_on(&reps[0], dir, "twinbench-agent: takeover failed: stopped by the test hook",
			   "kernel B gave the state block back: serving on eth0 counter=");
	log = console_log(dir, 'b');
	assert_int_equal(tl_count(log, "the NIC and the state block given back to kernel A"), 1);
	free(log);
	free(reps);
}

/*
 * B claims the block, takes the NIC and then stalls, as a B that died
 * would (the test hook; B's console stays quiet): A's lease on it (3 s
 * here, twinbench.lease_ms= on A's command line; 60 s by default) runs
 * out, A takes the block back, binds the NIC again and serves on; B,
 * finding the block expired, touches nothing more and says so.
 */
static void test_twin_b_stalled_past_its_lease_loses_the_service_to_a(void **state)
{
	char dir[512];
	struct repetition *reps = NULL;

	(void)state;
	run_failing("scenarios/twin.yaml", "twin-lease",
		    "  cmdline: \"console=ttyS0,115200 root=/dev/vda rw init=/sbin/init "
		    "crashkernel=192M no_ipi_broadcast=1 twin_state=64K twinbench.lease_ms=3000\"",
		    "steps:\n"
		    "  - send: {console: b, before: handoff_start, text: \"touch "
		    "/run/twinbench-stall-take; echo stalled=$?\\n\"}\n"
		    "  - expect: {console: b, before: handoff_start,"
		    " pattern: \"" OUT "stalled=0$\", "
		    "whole_line: true}\n",
		    dir, sizeof(dir), &reps);
	assert_a_serves_on(&reps[0], dir,
			   "refusing to take over: kernel A took the service back: B's lease ran out",
			   "kernel B did not serve within its lease of 3000 ms: serving on eth0 "
			   "counter=");
	free(reps);
}

/* The figure @key of the tool's figures named @tool in @rep, or -1. */
static int64_t tool_figure(const struct repetition *rep, const char *tool, const char *key)
{
	for (int i = 0; i < rep->ntool_stats; i++)
		if (!strcmp(rep->tool_stats[i].name, tool))
			for (int k = 0; k < rep->tool_stats[i].n; k++)
				if (!strcmp(rep->tool_stats[i].key[k], key))
					return rep->tool_stats[i].value[k];
	return -1;
}

/*
 * migrate: the service moves to the standby guest and back to the
 * primary's new kernel; two gaps, both judged, the standby's replies
 * between them, nothing left of either guest.
 */
static void test_migrate_moves_the_service_away_and_back(void **state)
{
	char results[300], dir[512], path[600], *log;
	struct repetition *reps = NULL;
	const struct handoff_round *away, *back;
	struct run_info info;
	int before = tl_work_dirs();

	(void)state;
	run_shipped_with("scenarios/migrate.yaml", "migrate", NULL, "", 0, results,
			 sizeof(results));
	load_one(results, "migrate", dir, sizeof(dir), &info, &reps);
	if (!reps[0].ok)
		fail_msg("migrate failed: %s", reps[0].error);
	assert_true(reps[0].verified);
	assert_int_equal(reps[0].nrounds, 2);
	away = &reps[0].rounds[0];
	back = &reps[0].rounds[1];
	assert_true(away->measured && away->verified && back->measured && back->verified);
	/* Away: another boot of the same kernel (the standby's), the counter going on. */
	assert_string_not_equal(away->boot_id_after, away->boot_id_before);
	assert_string_equal(away->release_after, away->release_before);
	assert_true(away->counter_after > away->counter_before);
	/* Between the moves the standby answered; back: the primary's new kernel. */
	assert_string_equal(back->boot_id_before, away->boot_id_after);
	assert_string_not_equal(back->boot_id_after, away->boot_id_before);
	assert_string_not_equal(back->release_after, away->release_before);
	assert_string_equal(reps[0].release_after, back->release_after);
	assert_true(back->counter_after > back->counter_before);
	assert_true(back->counter_before >= away->counter_after);
	/* Both gaps count; the downtime is the longer one. */
	assert_true(reps[0].gaps_found >= 2);
	assert_true(reps[0].unavailable_ns >= away->downtime_ns + back->downtime_ns);
	assert_int_equal(reps[0].downtime_ns, away->downtime_ns > back->downtime_ns
						      ? away->downtime_ns
						      : back->downtime_ns);
	assert_true(reps[0].maintenance_ns > reps[0].downtime_ns);
	assert_true(repetition_phase(&reps[0], "move_back_start") >
		    repetition_phase(&reps[0], "moved_away"));
	assert_method_phases_ordered(&reps[0], "migrate", false);
	/* Each move's steps as its two agents stamped them, holder and taker. */
	assert_true(tool_figure(&reps[0], "move-1-out", "released") > 0);
	assert_true(tool_figure(&reps[0], "move-1-in", "arp") > 0);
	assert_true(tool_figure(&reps[0], "move-2-out", "released") > 0);
	assert_true(tool_figure(&reps[0], "move-2-in", "arp") > 0);
	/* The spare's cost: its size, and it ran longer than the maintenance window. */
	assert_int_equal(info.standby_memory_mib, info.guest_memory_mib);
	assert_int_equal(info.standby_vcpus, info.guest_vcpus);
	assert_true(reps[0].standby_ns > reps[0].maintenance_ns);
	/* Less the quiet window, which fell while the spare ran: the harness's, not migrate's. */
	assert_true(reps[0].quiet_ns == 2 * NS_PER_S);
	assert_true(reps[0].quiet_from_ns > repetition_phase(&reps[0], "standby_start"));
	assert_true(reps[0].standby_ns == repetition_phase(&reps[0], "service_back") -
						  repetition_phase(&reps[0], "standby_start") -
						  reps[0].quiet_ns);

	/* The standby's console: it took the service with the primary's state, gave it back. */
	snprintf(path, sizeof(path), "%s/standby-a.log", dir);
	log = tl_read_file(path);
	assert_non_null(log);
	assert_non_null(strstr(log, away->boot_id_after));
	assert_int_equal(tl_count(log, "state=moved-in"), 1);
	assert_int_equal(tl_count(log, "twinbench-agent: service moved to boot "), 1);
	assert_non_null(strstr(log, back->boot_id_after));
	free(log);
	snprintf(path, sizeof(path), "%s/domain-standby.xml", dir);
	assert_true(access(path, R_OK) == 0);
	free(reps);
	/* Both guests, their taps and disks went with the lab. */
	tl_assert_nothing_left();
	assert_int_equal(tl_work_dirs(), before);
}

/* migrate with via: kexec: the primary upgrades by kexec, no firmware, no new domain. */
static void test_migrate_by_kexec_upgrades_the_primary_in_place(void **state)
{
	char results[300], dir[512];
	struct repetition *reps = NULL;
	struct run_info info;

	(void)state;
	run_shipped_with("scenarios/migrate-kexec.yaml", "migrate-kexec", NULL, "", 0, results,
			 sizeof(results));
	load_one(results, "migrate-kexec", dir, sizeof(dir), &info, &reps);
	if (!reps[0].ok)
		fail_msg("migrate-kexec failed: %s", reps[0].error);
	assert_true(reps[0].verified);
	assert_string_equal(info.method, "migrate-kexec");
	assert_int_equal(reps[0].nrounds, 2);
	assert_string_not_equal(reps[0].release_after, reps[0].release_before);
	assert_true(repetition_phase(&reps[0], "kexec_exec") > 0);
	assert_true(repetition_phase(&reps[0], "old_stopped") < 0);
	assert_true(repetition_phase(&reps[0], "new_started") < 0);
	free(reps);
}

/*
 * A state damaged on its way to the standby: the standby's agent refuses
 * it, the repetition fails saying so, and the primary serves on with the
 * same counter (nothing lost).
 */
static void test_migrate_with_a_damaged_transfer_keeps_the_service_on_the_primary(void **state)
{
	char results[300], dir[512], path[600], *log;
	struct repetition *reps = NULL;
	struct run_info info;

	(void)state;
	run_shipped_with("scenarios/migrate.yaml", "migrate-damaged", NULL,
			 "steps:\n  - send: {console: a, text: \"mkdir -p /run/twinbench && "
			 "touch /run/twinbench/corrupt-move\\n\", before: move_away_start}\n",
			 1, results, sizeof(results));
	load_one(results, "migrate-damaged", dir, sizeof(dir), &info, &reps);
	assert_false(reps[0].ok);
	assert_false(reps[0].verified);
	assert_non_null(strstr(reps[0].error, "twinbench-agent: refusing the service from "));
	assert_non_null(strstr(reps[0].error, "bad checksum"));
	assert_true(repetition_phase(&reps[0], "moved_away") < 0);
	snprintf(path, sizeof(path), "%s/console-a.log", dir);
	log = tl_read_file(path);
	assert_non_null(log);
	assert_int_equal(tl_count(log, "the service stays here: the taker refused the state"), 1);
	assert_null(strstr(log, "service moved to boot"));
	free(log);
	assert_true(reps[0].alive_at_end);
	snprintf(path, sizeof(path), "%s/probe.csv", dir);
	/* The repetition ends at the refusal: the alive check's reply is the last. */
	assert_service_came_back_on_a(path, repetition_phase(&reps[0], "move_away_start"), 1);
	free(reps);
}



/*
 * vm-migrate: libvirt moves the whole guest to the lab's second host while
 * the probe runs; the same boot answers on, the counter going on, the
 * consoles follow the guest, libvirt's own figures are kept beside the
 * probe's, and both hosts' daemons go with the lab.
 */
static void test_vm_migrate_moves_the_whole_guest_between_two_hosts(void **state)
{
	char results[300], dir[512];
	struct repetition *reps = NULL;
	struct run_info info;
	int before = tl_work_dirs();

	(void)state;
	run_shipped_with("scenarios/vm-migrate.yaml", "vm-migrate", NULL, "", 0, results,
			 sizeof(results));
	load_one(results, "vm-migrate", dir, sizeof(dir), &info, &reps);
	if (!reps[0].ok)
		fail_msg("vm-migrate failed: %s", reps[0].error);
	assert_true(reps[0].verified);
	assert_false(reps[0].boot_changed);
	assert_string_equal(reps[0].boot_id_after, reps[0].boot_id_before);
	assert_string_equal(reps[0].release_after, reps[0].release_before);
	assert_true(reps[0].counter_after > reps[0].counter_before);
	assert_string_equal(info.kernel_new, info.kernel_old);
	/* The guest answered on console a from the second host's QEMU. */
	assert_string_equal(reps[0].console_release[0], reps[0].release_before);
	assert_true(reps[0].console_reconnects[0] >= 1);
	/* libvirt's view beside the probe's: the limit in force, the pause it measured. */
	assert_true(tool_figure(&reps[0], "libvirt-migration", "max_downtime") > 0);
	assert_true(tool_figure(&reps[0], "libvirt-migration", "downtime") > 0);
	assert_true(tool_figure(&reps[0], "libvirt-migration", "time_elapsed") >
		    tool_figure(&reps[0], "libvirt-migration", "downtime"));
	/* Back at the probe's first reply after the gap, inside libvirt's call. */
	assert_true(repetition_phase(&reps[0], "service_back") <
		    repetition_phase(&reps[0], "migrated"));
	assert_true(reps[0].maintenance_ns > reps[0].downtime_ns);
	free(reps);
	/* The guest on the second host, both hosts' daemons, taps and disks: gone with the lab. */
	tl_assert_nothing_left();
	assert_int_equal(tl_work_dirs(), before);
}

/*
 * A live migration that cannot finish within its step's timeout (3 s;
 * this guest takes about ten under TCG) is aborted: the repetition fails
 * saying so, and the guest answers on where it was, the same boot with
 * its counter going on.
 */
static void test_vm_migrate_past_its_timeout_is_aborted_and_the_guest_runs_on(void **state)
{
	char method[300], kernel[PATH_MAX], rootfs[PATH_MAX], scenario[300], results[300];
	char text[2048], dir[512], path[600], *yaml, *at;
	const char *args[] = { "run", "--results", results, scenario, NULL };
	struct repetition *reps = NULL;
	struct run_info info;

	(void)state;
	yaml = tl_read_file("methods/vm-migrate.yaml");
	assert_non_null(yaml);
	at = strstr(yaml, "live_migrate: {timeout: upgrade,");
	assert_non_null(at);
	snprintf(text, sizeof(text), "%.*slive_migrate: {timeout: 3s,%s", (int)(at - yaml), yaml,
		 at + strlen("live_migrate: {timeout: upgrade,"));
	free(yaml);
	snprintf(method, sizeof(method), "%s/vm-migrate-3s.yaml", tmpdir);
	assert_int_equal(tl_write_file(method, text), 0);
	assert_non_null(realpath("images/vmlinuz-twin-a", kernel));
	assert_non_null(realpath("images/rootfs.img", rootfs));
	snprintf(text, sizeof(text),
		 "name: vm-migrate-3s\nmethod: %s\n"
		 "guest:\n  kernel: %s\n  rootfs: %s\n"
		 "  cmdline: \"console=ttyS0,115200 root=/dev/vda rw init=/sbin/init\"\n"
		 "  memory: 2G\n"
		 "timeouts: {boot: 180s, upgrade: 180s}\n",
		 method, kernel, rootfs);
	snprintf(scenario, sizeof(scenario), "%s/vm-migrate-3s-scenario.yaml", tmpdir);
	assert_int_equal(tl_write_file(scenario, text), 0);
	snprintf(results, sizeof(results), "%s/vm-migrate-3s", tmpdir);
	assert_int_equal(tl_run_twinbench(args, NULL, TL_LOG_STDERR), 1);
	load_one(results, "vm-migrate-3s", dir, sizeof(dir), &info, &reps);
	assert_false(reps[0].ok);
	assert_non_null(strstr(reps[0].error, "live migration did not finish in time and was "
					      "aborted"));
	assert_true(repetition_phase(&reps[0], "migrated") < 0);
	assert_int_equal(reps[0].ntool_stats, 0);
	/* The guest never left the first host: its consoles were never dialled anew. */
	assert_int_equal(reps[0].console_reconnects[0], 0);
	/* The destination's QEMU log is kept beside the source's: it says what it was told. */
	snprintf(path, sizeof(path), "%s/qemu-host2-1.log", dir);
	assert_true(access(path, R_OK) == 0);
	snprintf(path, sizeof(path), "%s/qemu-1.log", dir);
	assert_true(access(path, R_OK) == 0);
	assert_true(reps[0].alive_at_end);
	snprintf(path, sizeof(path), "%s/probe.csv", dir);
	assert_service_came_back_on_a(path, repetition_phase(&reps[0], "migrate_start"), 1);
	free(reps);
	tl_assert_nothing_left();
}

/*
 * kexec-criu (nvwa's flow): CRIU passes its own check on kernel A, the
 * agent - its state in memory only - is checkpointed, kexec'd over and
 * restored: the counter went on from the dumped process, on kernel B's
 * boot, and CRIU's own figures are in run.json.  CRIU's check passes on
 * kernel B too.
 */
static void test_kexec_criu_carries_the_process_over(void **state)
{
	char dir[512], path[600], *log;
	struct repetition *reps = NULL;
	struct run_info info;

	(void)state;
	run_passing("scenarios/kexec-criu.yaml", "kexec-criu", NULL,
		    "steps:\n"
		    "  - send: {console: a, text: \"criu check\\n\", before: upgrade_start}\n"
		    /*
		     * Every feature there, not "Looks good but some ... are
		     * missing"; its probes of absent ones it does not need
		     * (tun, veth) log errors it ignores.
		     */
		    "  - expect: {console: a, pattern: \"^Looks good[.]$\", whole_line: true,"
		    " fail: \"Does not look good|Could not initialize|Looks good but\","
		    " before: upgrade_start}\n"
		    /* And on kernel B, once the program is done. */
		    "  - expect: {console: a, pattern: \"twinbench-a# \", peek: true}\n"
		    "  - send: {console: a, text: \"criu check\\n\"}\n"
		    "  - expect: {console: a, pattern: \"^Looks good[.]$\", whole_line: true,"
		    " fail: \"Does not look good|Could not initialize|Looks good but\","
		    " mark: b_criu_checked}\n",
		    dir, sizeof(dir), &info, &reps);
	assert_true(reps[0].verified);
	assert_true(reps[0].boot_changed);
	assert_true(reps[0].state_continued);
	assert_true(reps[0].counter_after > reps[0].counter_before);
	assert_true(ends_with(reps[0].release_before, "-twinbench-a"));
	assert_true(ends_with(reps[0].release_after, "-twinbench-b"));
	assert_phases_ordered(&reps[0], "kexec-criu");
	assert_true(reps[0].maintenance_ns >= reps[0].downtime_ns);
	/* CRIU's own view, beside the probe's. */
	assert_int_equal(reps[0].ntool_stats, 2);
	assert_true(tool_figure(&reps[0], "criu-dump", "frozen_time") > 0);
	assert_true(tool_figure(&reps[0], "criu-dump", "pages_written") > 0);
	assert_true(tool_figure(&reps[0], "criu-restore", "restore_time") > 0);
	/* One agent ever started: the new kernel's is the restored process, not a fresh one. */
	snprintf(path, sizeof(path), "%s/console-a.log", dir);
	log = tl_read_file(path);
	assert_non_null(log);
	assert_int_equal(tl_count(log, "twinbench-agent: ready"), 1);
	assert_int_equal(tl_count(log, "twinbench: criu restore done"), 1);
	/* criu check passed on both kernels, B's after the service came back. */
	assert_int_equal(tl_count(log, "Looks good.\n"), 2);
	assert_true(repetition_phase(&reps[0], "b_criu_checked") >
		    repetition_phase(&reps[0], "service_back"));
	free(log);
	free(reps);
	tl_assert_nothing_left();
}

/*
 * A checkpoint damaged between dump and kexec -e (a scenario's hook
 * truncates the process's core image): the restore fails, the repetition
 * says so with CRIU's own error, no fresh agent serves from zero, and the
 * next repetition runs all the same.
 */
static void test_kexec_criu_with_a_damaged_checkpoint_fails_with_criu_s_error(void **state)
{
	char results[300], dir[512], path[600], *log;
	struct repetition *reps = NULL;
	struct run_info info;
	struct tb_err err;
	size_t n = 0;

	(void)state;
	run_shipped_with("scenarios/kexec-criu.yaml", "kexec-criu-damaged", "repetitions: 2",
			 "steps:\n"
			 "  - send: {console: a, before: upgrade_start, text: \"mkdir -p "
			 "/run/twinbench/hooks && echo 'truncate -s 0 "
			 "/var/lib/twinbench/criu/core-*.img' >/run/twinbench/hooks/before-kexec"
			 " && chmod +x /run/twinbench/hooks/before-kexec\\n\"}\n",
			 1, results, sizeof(results));
	tl_find_result(results, "kexec-criu-damaged", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/run.json", dir);
	if (results_load(path, &info, &reps, &n, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_false(reps[i].ok);
		assert_false(reps[i].verified);
		/* CRIU's own words on the damage: the core image ends too soon. */
		if (!strstr(reps[i].error, "twinbench: criu restore failed: ") ||
		    !strstr(reps[i].error, "Unexpected EOF"))
			fail_msg("rep %zu: not CRIU's error on the damage: %s", i + 1,
				 reps[i].error);
		/* Never silently from zero: the new kernel never answered. */
		assert_false(reps[i].boot_changed);
		assert_true(repetition_phase(&reps[i], "dump_end") > 0);
		assert_true(repetition_phase(&reps[i], "service_back") < 0);
	}
	/* CRIU's log is in the results, and no agent started on the new kernel. */
	snprintf(path, sizeof(path), "%s/console-a.log", dir);
	log = tl_read_file(path);
	assert_non_null(log);
	assert_int_equal(tl_count(log, "Restoring FAILED."), 2);
	assert_int_equal(tl_count(log, "Can't open core data for 5000"), 2);
	assert_int_equal(tl_count(log, "Can't fork"), 0);
	assert_int_equal(tl_count(log, "twinbench-agent: ready"), 2);
	free(log);
	free(reps);
	tl_assert_nothing_left();
}

/*
 * A failure between the checkpoint and kexec -e (a hook that fails): the
 * checkpointed agent, left stopped by CRIU, runs on in the old kernel with
 * its state, and the repetition fails saying why.
 */
static void test_kexec_criu_failing_before_kexec_lets_the_agent_run_on(void **state)
{
	char results[300], dir[512], path[600], *log;
	struct repetition *reps = NULL;
	struct run_info info;

	(void)state;
	run_shipped_with("scenarios/kexec-criu.yaml", "kexec-criu-rollback", NULL,
			 "steps:\n"
			 "  - send: {console: a, before: upgrade_start, text: \"mkdir -p "
			 "/run/twinbench/hooks && echo 'exit 7' >/run/twinbench/hooks/before-kexec"
			 " && chmod +x /run/twinbench/hooks/before-kexec\\n\"}\n",
			 1, results, sizeof(results));
	load_one(results, "kexec-criu-rollback", dir, sizeof(dir), &info, &reps);
	assert_false(reps[0].ok);
	assert_non_null(strstr(reps[0].error, "twinbench: upgrade failed (exit 7)"));
	assert_true(repetition_phase(&reps[0], "dump_end") > 0);
	assert_true(repetition_phase(&reps[0], "kexec_exec") < 0);
	/* The old kernel's agent answers again, its counter where it was. */
	assert_true(reps[0].alive_at_end);
	snprintf(path, sizeof(path), "%s/console-a.log", dir);
	log = tl_read_file(path);
	assert_non_null(log);
	assert_int_equal(tl_count(log, "runs on, not restored"), 1);
	assert_int_equal(tl_count(log, "Linux version"), 1);
	free(log);
	free(reps);
	tl_assert_nothing_left();
}

/*
 * --connect/--network: the lab's libvirtd stands in for a user's own, with
 * a libvirt network on its bridge; the harness runs inside the lab's
 * namespace, where that user's guests would be reachable.
 */
static void test_connect_uses_an_existing_libvirt(void **state)
{
	static const char net_xml[] = "<network><name>tbtest</name><forward mode='bridge'/>"
				      "<bridge name='" LAB_BRIDGE "'/></network>";
	const char *up[] = { "lab", "up", NULL }, *down[] = { "lab", "down", NULL };
	char results[300], dir[512];
	char *argv[] = { "ip", "netns", "exec", LAB_NETNS, TL_TWINBENCH, "run", "--connect",
			 LAB_URI, "--network", "tbtest", "--accel", "tcg", "--results", results,
			 "scenarios/kexec.yaml", NULL };
	struct repetition *reps = NULL;
	struct run_info info;
	virConnectPtr conn;
	virNetworkPtr net;
	int status;
	pid_t pid;

	(void)state;
	snprintf(results, sizeof(results), "%s/connect", tmpdir);
	assert_int_equal(tl_run_twinbench(up, NULL, TL_LOG_STDERR), 0);
	conn = virConnectOpen(LAB_URI);
	assert_non_null(conn);
	net = virNetworkCreateXML(conn, net_xml);
	assert_non_null(net);
	assert_int_equal(posix_spawnp(&pid, "ip", NULL, NULL, argv, environ), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* A method that needs the embedded lab's second host is refused before it starts. */
	{
		char *vm_argv[sizeof(argv) / sizeof(argv[0])], log[400], *text;
		posix_spawn_file_actions_t fa;
		int vm_status;

		memcpy(vm_argv, argv, sizeof(argv));
		vm_argv[14] = "scenarios/vm-migrate.yaml";
		snprintf(log, sizeof(log), "%s/connect-vm-migrate.err", tmpdir);
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_int_equal(posix_spawnp(&pid, "ip", &fa, NULL, vm_argv, environ), 0);
		posix_spawn_file_actions_destroy(&fa);
		assert_int_equal(waitpid(pid, &vm_status, 0), pid);
		assert_true(WIFEXITED(vm_status));
		assert_int_equal(WEXITSTATUS(vm_status), 3);
		text = tl_read_file(log);
		assert_non_null(text);
		assert_non_null(strstr(text, "scenarios/vm-migrate.yaml: the vm-migrate method "
					     "live-migrates the guest"));
		free(text);
	}
	virNetworkDestroy(net);
	virNetworkFree(net);
	virConnectClose(conn);
	/* The run did not own the lab: it is still up until we take it down. */
	assert_int_equal(lab_state(), LAB_UP);
	assert_int_equal(tl_run_twinbench(down, NULL, TL_LOG_STDERR), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	load_one(results, "kexec", dir, sizeof(dir), &info, &reps);
	assert_true(reps[0].ok);
	assert_true(reps[0].verified);
	assert_string_equal(info.accel, "tcg");
	free(reps);
	tl_assert_nothing_left();
}

static void test_lab_up_status_down(void **state)
{
	const char *up[] = { "lab", "up", NULL }, *status[] = { "lab", "status", NULL };
	const char *down[] = { "lab", "down", NULL };

	(void)state;
	assert_int_equal(tl_run_twinbench(up, NULL, TL_LOG_STDERR), 0);
	assert_int_equal(lab_state(), LAB_UP);
	assert_int_equal(tl_run_twinbench(up, NULL, TL_LOG_STDERR), 0); /* idempotent */
	assert_int_equal(tl_run_twinbench(status, NULL, TL_LOG_STDERR), 0);
	assert_int_equal(tl_run_twinbench(down, NULL, TL_LOG_STDERR), 0);
	assert_int_equal(tl_run_twinbench(status, NULL, TL_LOG_STDERR), 1);
	tl_assert_nothing_left();
}

static void test_stale_lab_is_cleaned_by_next_up(void **state)
{
	const char *up[] = { "lab", "up", NULL }, *down[] = { "lab", "down", NULL };
	char pid[32] = "";
	FILE *f;

	(void)state;
	assert_int_equal(tl_run_twinbench(up, NULL, TL_LOG_STDERR), 0);
	/* A killed run: the daemon dies, its namespace and files stay behind. */
	f = fopen(LAB_DIR "/libvirtd.pid", "r");
	assert_non_null(f);
	assert_non_null(fgets(pid, sizeof(pid), f));
	fclose(f);
	assert_int_equal(kill(atoi(pid), SIGKILL), 0);
	while (kill(atoi(pid), 0) == 0)
		monotime_sleep_until(monotime_now() + 10 * NS_PER_MS);
	assert_int_equal(lab_state(), LAB_STALE);
	assert_int_equal(tl_run_twinbench(up, NULL, TL_LOG_STDERR), 0);
	assert_int_equal(lab_state(), LAB_UP);
	assert_int_equal(tl_run_twinbench(down, NULL, TL_LOG_STDERR), 0);
	tl_assert_nothing_left();
}

static void test_sigint_during_boot_leaves_nothing(void **state)
{
	char results[300], dir[512], log[600];
	char *argv[] = { TL_TWINBENCH, "run", "--results", results, "scenarios/kexec.yaml", NULL };
	int64_t deadline = monotime_now() + 300 * NS_PER_S;
	int status, before = tl_work_dirs();
	bool booting = false;
	pid_t pid;

	(void)state;
	snprintf(results, sizeof(results), "%s/interrupted", tmpdir);
	assert_int_equal(posix_spawn(&pid, TL_TWINBENCH, NULL, NULL, argv, environ), 0);
	/* Interrupt once the guest kernel is printing: during boot. */
	while (!booting && monotime_now() < deadline) {
		char *text;

		monotime_sleep_until(monotime_now() + 50 * NS_PER_MS);
		if (access(results, F_OK) != 0)
			continue;
		tl_find_result(results, "kexec", dir, sizeof(dir));
		snprintf(log, sizeof(log), "%s/console-a.log", dir);
		text = tl_read_file(log);
		booting = text && strstr(text, "Linux version");
		free(text);
	}
	assert_true(booting);
	assert_int_equal(kill(pid, SIGINT), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 0);
	tl_assert_nothing_left();
	assert_int_equal(tl_work_dirs(), before);
}

static void test_bad_scenario_exits_2_and_starts_nothing(void **state)
{
	char path[300], out[300], *msg;
	const char *args[] = { "run", path, NULL };
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/bad.yaml", tmpdir);
	snprintf(out, sizeof(out), "%s/bad.err", tmpdir);
	f = fopen(path, "w");
	fputs("name: bad\nmethod: kexec\nrepetitions: many\n", f);
	fclose(f);
	assert_int_equal(tl_run_twinbench(args, out, TL_LOG_STDERR), 2);
	msg = tl_read_file(out);
	assert_non_null(strstr(msg, "bad.yaml:3:14:"));
	free(msg);
	tl_assert_nothing_left();
}

/* Its reader gone (a pipe's other end closed), twinbench still says no and exits 2. */
static void test_bad_scenario_with_output_gone_exits_2(void **state)
{
	char path[300];
	char *const argv[] = { TL_TWINBENCH, "run", path, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t def;
	int fds[2], status;
	pid_t pid;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/bad-pipe.yaml", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("name: bad\nmethod: kexec\nrepetitions: many\n", f);
	fclose(f);
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	/* SIGPIPE as a shell would leave it: its default action, death. */
	posix_spawnattr_init(&attr);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	assert_int_equal(posix_spawn(&pid, TL_TWINBENCH, &fa, &attr, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
	tl_assert_nothing_left();
}

static void test_missing_image_says_make_image(void **state)
{
	char path[300], out[300], *msg;
	const char *args[] = { "run", path, NULL };
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/scenarios", tmpdir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/scenarios/missing.yaml", tmpdir);
	snprintf(out, sizeof(out), "%s/missing.err", tmpdir);
	f = fopen(path, "w");
	fputs("name: missing\nmethod: kexec\nguest:\n  kernel: ../images/vmlinuz\n"
	      "upgrade:\n  kernel: ../images/vmlinuz\n",
	      f);
	fclose(f);
	assert_int_equal(tl_run_twinbench(args, out, TL_LOG_STDERR), 2);
	msg = tl_read_file(out);
	assert_non_null(strstr(msg, "missing.yaml:4:11:"));
	assert_non_null(strstr(msg, "make image"));
	free(msg);
}

/* "-n 5x" is a typo, not five repetitions (atoi read it as 5). */
static void test_repetitions_must_be_a_whole_number(void **state)
{
	char out[300], *msg;
	const char *bad[] = { "5x", "", "0", "-2", "1e3" };

	(void)state;
	snprintf(out, sizeof(out), "%s/reps.err", tmpdir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[] = { "run", "-n", bad[i], "scenarios/kexec.yaml", NULL };

		assert_int_equal(tl_run_twinbench(args, out, TL_LOG_STDERR), 2);
		msg = tl_read_file(out);
		assert_non_null(strstr(msg, "--repetitions wants a number >= 1"));
		free(msg);
	}
}

static void test_console_without_lab_says_what_to_do(void **state)
{
	char out[300], *msg;
	const char *args[] = { "console", "tb-1-x", "a", NULL };

	(void)state;
	snprintf(out, sizeof(out), "%s/console.err", tmpdir);
	assert_int_equal(tl_run_twinbench(args, out, TL_LOG_STDERR), 3);
	msg = tl_read_file(out);
	assert_non_null(strstr(msg, "twinbench lab up"));
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_scenario_exits_2_and_starts_nothing),
		cmocka_unit_test(test_bad_scenario_with_output_gone_exits_2),
		cmocka_unit_test(test_missing_image_says_make_image),
		cmocka_unit_test(test_console_without_lab_says_what_to_do),
		cmocka_unit_test(test_repetitions_must_be_a_whole_number),
		cmocka_unit_test(test_lab_up_status_down),
		cmocka_unit_test(test_stale_lab_is_cleaned_by_next_up),
		cmocka_unit_test(test_reboot_and_kexec_upgrades_are_verified_and_leave_nothing),
		cmocka_unit_test(test_migrate_moves_the_service_away_and_back),
		cmocka_unit_test(test_migrate_with_a_damaged_transfer_keeps_the_service_on_the_primary),
		cmocka_unit_test(test_migrate_by_kexec_upgrades_the_primary_in_place),
		cmocka_unit_test(test_vm_migrate_moves_the_whole_guest_between_two_hosts),
		cmocka_unit_test(test_vm_migrate_past_its_timeout_is_aborted_and_the_guest_runs_on),
		cmocka_unit_test(test_kexec_criu_carries_the_process_over),
		cmocka_unit_test(test_kexec_criu_with_a_damaged_checkpoint_fails_with_criu_s_error),
		cmocka_unit_test(test_kexec_criu_failing_before_kexec_lets_the_agent_run_on),
		cmocka_unit_test(test_a_method_from_a_file_alone_runs_in_the_lab),
		cmocka_unit_test(test_custom_method_runs_only_the_scenario_steps),
		cmocka_unit_test(test_sigint_during_boot_leaves_nothing),
		cmocka_unit_test(test_twin_boot_runs_kernel_b_beside_a),
		cmocka_unit_test(test_twin_boot_fences_kernel_b_from_kernel_a),
		cmocka_unit_test(test_a_kernel_zeroes_the_state_region_an_earlier_kernel_left),
		cmocka_unit_test(test_twin_boot_with_broken_b_fails_and_a_keeps_running),
		cmocka_unit_test(test_twin_hands_the_service_to_kernel_b),
		cmocka_unit_test(test_an_nmi_while_a_is_parked_leaves_the_takeover_whole),
		cmocka_unit_test(test_a_machine_check_in_the_park_halts_that_cpu_alone),
		cmocka_unit_test(test_twin_dual_moves_only_the_address),
		cmocka_unit_test(test_twin_repeat_upgrades_twice_in_one_boot),
		cmocka_unit_test(test_twin_refused_gives_a_its_payload_disk_back),
		cmocka_unit_test(test_twin_with_corrupt_state_block_is_refused_by_b),
		cmocka_unit_test(test_twin_block_b_does_not_take_is_withdrawn_and_a_serves_on),
		cmocka_unit_test(test_twin_takeover_failing_after_the_nic_gives_the_service_back),
		cmocka_unit_test(test_twin_b_stalled_past_its_lease_loses_the_service_to_a),
		cmocka_unit_test(test_connect_uses_an_existing_libvirt),
	};

	/* TB_TEST_FILTER=test_twin* runs a subset (cmocka's wildcard filter). */
	if (getenv("TB_TEST_FILTER"))
		cmocka_set_test_filter(getenv("TB_TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
