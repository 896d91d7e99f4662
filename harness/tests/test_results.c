/*
 * test_results.c - run.json round trip, summary, the results directory,
 * atomic rewrites after each repetition, load errors and phase marks.
 *
 * Every test works in its own mkdtemp directory, removed afterwards.
 */
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "results.h"
#include "testlib.h"

struct tmp {
	char dir[64];
	char path[PATH_MAX]; /* scratch for tmp_path() */
};

static int setup_tmp(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	if (tl_mkdtemp("/tmp/test_results.XXXXXX", t->dir, sizeof(t->dir))) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown_tmp(void **state)
{
	struct tmp *t = *state;
	int ret = tl_rmtree(t->dir);

	free(t);
	return ret;
}

/* @name inside the test's directory; valid until the next call. */
static const char *tmp_path(void **state, const char *name)
{
	struct tmp *t = *state;

	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	return t->path;
}

static json_t *read_json(const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);

	if (!root)
		fail_msg("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
	return root;
}

static struct run_info sample_info(void)
{
	struct run_info info = {0};

	strcpy(info.scenario, "reboot");
	strcpy(info.scenario_path, "scenarios/r\xc3\xa9"
				   "boot \"quoted\".yaml");
	strcpy(info.method, "reboot");
	strcpy(info.started, "2026-11-22T02:30:00Z");
	strcpy(info.accel, "tcg");
	strcpy(info.qemu_version, "7.2.22");
	strcpy(info.libvirt_version, "9.0.0");
	strcpy(info.host_kernel, "6.1.0-50-amd64 #1 SMP PREEMPT_DYNAMIC");
	strcpy(info.kernel_old, "6.1.0-50-amd64");
	strcpy(info.kernel_new, "6.1.0-51-amd64");
	info.probe_interval_ns = 1000000;
	info.repetitions = 5;
	info.guest_memory_mib = 2048;
	info.guest_vcpus = 3;
	strcpy(info.boot_old.image, "/srv/images/vmlinuz-6.1.0-50-amd64");
	strcpy(info.boot_old.sha256,
	       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	info.boot_old.initrd_bytes = 31457281;
	strcpy(info.boot_new.image, "/srv/images/vmlinuz-twin-b");
	strcpy(info.boot_new.sha256,
	       "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
	info.boot_new.initrd_bytes = 0;
	strcpy(info.rootfs, "/srv/images/rootfs.img sha256:"
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	return info;
}

static struct repetition sample_rep(int index, bool measured, int64_t downtime_ns)
{
	struct repetition rep = {0};

	rep.index = index;
	rep.ok = true;
	rep.measured = measured;
	rep.downtime_ns = downtime_ns;
	rep.verified = true;
	return rep;
}

/* Three repetitions exercising every field, with values easy to get wrong. */
static void full_reps(struct repetition reps[3])
{
	int i;

	for (i = 0; i < 3; i++) {
		struct repetition *r = &reps[i];

		*r = sample_rep(i + 1, true, 4500000000LL + i);
		repetition_mark(r, "upgrade_start", 123 + i);
		repetition_mark(r, "service_down", 9000000000000000LL + i);
		repetition_mark(r, "service_up", INT64_MAX - i);
		r->maintenance_ns = 5000000000LL * (i + 1);
		r->sent = 5000 + (uint64_t)i;
		r->lost = 4500;
		r->boot_changed = true;
		r->release_ok = true;
		r->state_continued = true;
		strcpy(r->release_before, "6.1.0-50-amd64");
		strcpy(r->release_after, "6.1.0-51-amd64");
		strcpy(r->boot_id_before, "0b4c9f6e-4a53-4bd4-9d8e-3f1a2b3c4d5e");
		strcpy(r->boot_id_after, "9f8e7d6c-5b4a-4321-8fed-cba987654321");
		r->counter_before = (1ULL << 40) - 1 + (uint64_t)i;
		r->counter_after = (1ULL << 40) + (uint64_t)i;
		r->alive_at_end = i != 2;
		strcpy(r->console_release[0], "6.1.192-twinbench-a");
		if (i == 0) {
			strcpy(r->console_release[1], "6.1.192-twinbench-b");
			r->takeover_cpus = 2;
			r->takeover_memtotal_kb = 1843200;
			/* A chain of two twin upgrades, the second not verified. */
			r->nrounds = 2;
			for (int k = 0; k < 2; k++) {
				struct handoff_round *h = &r->rounds[k];

				h->measured = true;
				h->verified = k == 0;
				h->downtime_ns = 300000000 + k;
				h->counter_before = 100 + 10 * (uint64_t)k;
				h->counter_after = 101 + 10 * (uint64_t)k;
				snprintf(h->release_before, sizeof(h->release_before), "rel-%d", k);
				snprintf(h->release_after, sizeof(h->release_after), "rel-%d", k + 1);
				snprintf(h->boot_id_before, sizeof(h->boot_id_before), "boot-%d", k);
				snprintf(h->boot_id_after, sizeof(h->boot_id_after), "boot-%d", k + 1);
			}
		}
	}
	/* Two gaps, the achieved interval and a capture on rep 1; a note only on rep 2. */
	reps[0].ngaps = reps[0].gaps_found = 2;
	reps[0].gaps[0] = (struct rep_gap){ .start_ns = 1000, .end_ns = 26001000, .phase = "trigger" };
	reps[0].gaps[1] = (struct rep_gap){ .start_ns = 5000000000, .end_ns = 5400000000,
					    .open = true, .phase = "handoff_start" };
	reps[0].unavailable_ns = 426000000;
	reps[0].quiet_from_ns = 900000000;
	reps[0].quiet_ns = 2000000000;
	reps[0].quiet_gaps = 3;
	reps[0].quiet_longest_ns = 11800000;
	reps[0].interval_median_ns = 1000012;
	reps[0].interval_p99_ns = 1400000;
	reps[0].captured = true;
	reps[0].capture_downtime_ns = 400100000;
	reps[0].capture_agrees = true;
	snprintf(reps[2].capture_note, sizeof(reps[2].capture_note), "dumpcap dropped 3 packets");
	reps[2].console_reconnects[1] = 2;
	reps[0].nbreakdowns = 1;
	reps[0].breakdowns[0].a = (struct breakdown_side){
		.nsteps = 2, .name = { "request", "ready" }, .ns = { 0, 61000 } };
	reps[0].breakdowns[0].b = (struct breakdown_side){
		.nsteps = 3, .name = { "seen", "nic", "reply" }, .ns = { 0, 18000000, 25000000 } };
	reps[0].breakdowns[0].rest = (struct breakdown_side){
		.nsteps = 3, .name = { "begun", "parked", "cpus" }, .ns = { 0, 1800000, 125000000 } };
	reps[2].ntool_stats = 2;
	reps[2].tool_stats[0] = (struct tool_stats){
		.name = "criu-dump", .n = 3, .key = { "freezing_time", "frozen_time", "pages_written" },
		.value = { 120, 54000, 31 } };
	reps[2].tool_stats[1] = (struct tool_stats){
		.name = "criu-restore", .n = 1, .key = { "restore_time" }, .value = { 81000 } };
	reps[1].ok = false;
	reps[1].verified = false;
	reps[1].state_continued = false;
	strcpy(reps[1].error, "agent said \"no\"\nthen:\t\\ backslash, caf\xc3\xa9 \xe2\x9c\x93 "
			      "\xf0\x9f\x9a\x80");
	reps[2].measured = false;
	reps[2].downtime_ns = 0;
	reps[2].maintenance_ns = 0;
	reps[2].nphases = 0;
	repetition_mark(&reps[2], "upgrade_start", -7);
}

static void assert_info_equal(const struct run_info *a, const struct run_info *b)
{
	assert_string_equal(a->scenario, b->scenario);
	assert_string_equal(a->scenario_path, b->scenario_path);
	assert_string_equal(a->method, b->method);
	assert_string_equal(a->started, b->started);
	assert_string_equal(a->accel, b->accel);
	assert_string_equal(a->qemu_version, b->qemu_version);
	assert_string_equal(a->libvirt_version, b->libvirt_version);
	assert_string_equal(a->host_kernel, b->host_kernel);
	assert_string_equal(a->kernel_old, b->kernel_old);
	assert_string_equal(a->kernel_new, b->kernel_new);
	assert_int_equal(a->probe_interval_ns, b->probe_interval_ns);
	assert_int_equal(a->repetitions, b->repetitions);
	assert_int_equal(a->guest_memory_mib, b->guest_memory_mib);
	assert_int_equal(a->guest_vcpus, b->guest_vcpus);
	assert_string_equal(a->boot_old.image, b->boot_old.image);
	assert_string_equal(a->boot_old.sha256, b->boot_old.sha256);
	assert_int_equal(a->boot_old.initrd_bytes, b->boot_old.initrd_bytes);
	assert_string_equal(a->boot_new.image, b->boot_new.image);
	assert_string_equal(a->boot_new.sha256, b->boot_new.sha256);
	assert_int_equal(a->boot_new.initrd_bytes, b->boot_new.initrd_bytes);
	assert_string_equal(a->rootfs, b->rootfs);
}

static void assert_rep_equal(const struct repetition *a, const struct repetition *b)
{
	int i;

	assert_int_equal(a->index, b->index);
	assert_int_equal(a->ok, b->ok);
	assert_string_equal(a->error, b->error);
	assert_int_equal(a->nphases, b->nphases);
	for (i = 0; i < a->nphases; i++) {
		assert_string_equal(a->phases[i].name, b->phases[i].name);
		assert_true(a->phases[i].t_ns == b->phases[i].t_ns);
	}
	assert_int_equal(a->measured, b->measured);
	assert_true(a->downtime_ns == b->downtime_ns);
	assert_true(a->maintenance_ns == b->maintenance_ns);
	assert_true(a->sent == b->sent);
	assert_true(a->lost == b->lost);
	assert_int_equal(a->verified, b->verified);
	assert_int_equal(a->boot_changed, b->boot_changed);
	assert_int_equal(a->release_ok, b->release_ok);
	assert_int_equal(a->state_continued, b->state_continued);
	assert_string_equal(a->release_before, b->release_before);
	assert_string_equal(a->release_after, b->release_after);
	assert_string_equal(a->boot_id_before, b->boot_id_before);
	assert_string_equal(a->boot_id_after, b->boot_id_after);
	assert_true(a->counter_before == b->counter_before);
	assert_true(a->counter_after == b->counter_after);
	assert_int_equal(a->alive_at_end, b->alive_at_end);
	assert_string_equal(a->console_release[0], b->console_release[0]);
	assert_string_equal(a->console_release[1], b->console_release[1]);
	assert_int_equal(a->takeover_cpus, b->takeover_cpus);
	assert_int_equal(a->takeover_memtotal_kb, b->takeover_memtotal_kb);
	assert_int_equal(a->ngaps, b->ngaps);
	assert_int_equal(a->gaps_found, b->gaps_found);
	assert_true(a->quiet_from_ns == b->quiet_from_ns);
	assert_true(a->quiet_ns == b->quiet_ns);
	assert_int_equal(a->quiet_gaps, b->quiet_gaps);
	assert_true(a->quiet_longest_ns == b->quiet_longest_ns);
	for (i = 0; i < a->ngaps; i++) {
		assert_true(a->gaps[i].start_ns == b->gaps[i].start_ns);
		assert_true(a->gaps[i].end_ns == b->gaps[i].end_ns);
		assert_int_equal(a->gaps[i].open, b->gaps[i].open);
		assert_string_equal(a->gaps[i].phase, b->gaps[i].phase);
	}
	assert_true(a->unavailable_ns == b->unavailable_ns);
	assert_true(a->interval_median_ns == b->interval_median_ns);
	assert_true(a->interval_p99_ns == b->interval_p99_ns);
	assert_int_equal(a->captured, b->captured);
	assert_true(a->capture_downtime_ns == b->capture_downtime_ns);
	assert_int_equal(a->capture_agrees, b->capture_agrees);
	assert_string_equal(a->capture_note, b->capture_note);
	assert_int_equal(a->console_reconnects[0], b->console_reconnects[0]);
	assert_int_equal(a->console_reconnects[1], b->console_reconnects[1]);
	assert_int_equal(a->nbreakdowns, b->nbreakdowns);
	assert_memory_equal(a->breakdowns, b->breakdowns,
			    sizeof(a->breakdowns[0]) * (size_t)a->nbreakdowns);
	assert_int_equal(a->ntool_stats, b->ntool_stats);
	for (i = 0; i < a->ntool_stats; i++) {
		assert_string_equal(a->tool_stats[i].name, b->tool_stats[i].name);
		assert_int_equal(a->tool_stats[i].n, b->tool_stats[i].n);
		for (int k = 0; k < a->tool_stats[i].n; k++) {
			assert_string_equal(a->tool_stats[i].key[k], b->tool_stats[i].key[k]);
			assert_true(a->tool_stats[i].value[k] == b->tool_stats[i].value[k]);
		}
	}
	assert_int_equal(a->nrounds, b->nrounds);
	for (i = 0; i < a->nrounds; i++) {
		const struct handoff_round *x = &a->rounds[i], *y = &b->rounds[i];

		assert_int_equal(x->measured, y->measured);
		assert_int_equal(x->verified, y->verified);
		assert_true(x->downtime_ns == y->downtime_ns);
		assert_true(x->counter_before == y->counter_before);
		assert_true(x->counter_after == y->counter_after);
		assert_string_equal(x->release_before, y->release_before);
		assert_string_equal(x->release_after, y->release_after);
		assert_string_equal(x->boot_id_before, y->boot_id_before);
		assert_string_equal(x->boot_id_after, y->boot_id_after);
	}
}

static void test_round_trip_keeps_every_field(void **state)
{
	const char *path = tmp_path(state, "run.json");
	struct run_info info = sample_info(), back;
	struct repetition reps[3], *loaded = NULL;
	struct tb_err err = {0};
	size_t n = 99, i;

	full_reps(reps);
	assert_int_equal(results_write_json(path, &info, reps, 3, &err), 0);
	memset(&back, 0x55, sizeof(back));
	assert_int_equal(results_load(path, &back, &loaded, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_info_equal(&info, &back);
	for (i = 0; i < n; i++)
		assert_rep_equal(&reps[i], &loaded[i]);
	free(loaded);
}

/* The guest's size and its images sit in "environment", where the gate and report read them. */
static void test_boot_images_and_guest_size_are_written_under_environment(void **state)
{
	const char *path = tmp_path(state, "run.json");
	struct run_info info = sample_info();
	struct tb_err err = {0};
	json_t *root, *env, *k;

	assert_int_equal(results_write_json(path, &info, NULL, 0, &err), 0);
	root = read_json(path);
	env = json_object_get(root, "environment");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(env, "guest"), "memory_mib")), 2048);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(env, "guest"), "vcpus")), 3);
	k = json_object_get(json_object_get(env, "images"), "kernel_old");
	assert_string_equal(json_string_value(json_object_get(k, "path")),
			    "/srv/images/vmlinuz-6.1.0-50-amd64");
	assert_int_equal(json_integer_value(json_object_get(k, "initrd_bytes")), 31457281);
	k = json_object_get(json_object_get(env, "images"), "kernel_new");
	assert_int_equal(strlen(json_string_value(json_object_get(k, "sha256"))), 64);
	assert_int_equal(json_integer_value(json_object_get(k, "initrd_bytes")), 0);
	assert_non_null(
	    strstr(json_string_value(json_object_get(json_object_get(env, "images"), "rootfs")),
		   "rootfs.img sha256:aaaa"));
	json_decref(root);
}

/* run.json written before the guest and its images were recorded: zeros and "", no error. */
static void test_load_without_boot_images_gives_zeros(void **state)
{
	const char *path = tmp_path(state, "run.json");
	struct run_info info = sample_info(), back;
	struct repetition *loaded = NULL;
	struct tb_err err = {0};
	size_t n = 99;
	json_t *root, *env;

	assert_int_equal(results_write_json(path, &info, NULL, 0, &err), 0);
	root = read_json(path);
	env = json_object_get(root, "environment");
	json_object_del(env, "guest");
	json_object_del(env, "images");
	assert_int_equal(json_dump_file(root, path, JSON_INDENT(2)), 0);
	json_decref(root);
	memset(&back, 0x55, sizeof(back));
	assert_int_equal(results_load(path, &back, &loaded, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_string_equal(back.kernel_old, "6.1.0-50-amd64");
	assert_int_equal(back.guest_memory_mib, 0);
	assert_int_equal(back.guest_vcpus, 0);
	assert_string_equal(back.boot_old.image, "");
	assert_string_equal(back.boot_old.sha256, "");
	assert_int_equal(back.boot_old.initrd_bytes, 0);
	assert_string_equal(back.boot_new.sha256, "");
	assert_string_equal(back.rootfs, "");
	free(loaded);
}

static void test_ok_repetition_error_is_null_and_failed_one_a_string(void **state)
{
	const char *path = tmp_path(state, "run.json");
	struct run_info info = sample_info();
	struct repetition reps[3];
	struct tb_err err = {0};
	json_t *root, *a;

	full_reps(reps);
	assert_int_equal(results_write_json(path, &info, reps, 3, &err), 0);
	root = read_json(path);
	a = json_object_get(root, "repetitions");
	assert_true(json_is_null(json_object_get(json_array_get(a, 0), "error")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "error")),
			    reps[1].error);
	assert_string_equal(json_string_value(json_object_get(root, "format")), "twinbench-run/1");
	json_decref(root);
}

static void test_phases_written_in_recorded_order(void **state)
{
	const char *path = tmp_path(state, "run.json");
	struct run_info info = sample_info();
	struct repetition rep = sample_rep(1, false, 0);
	struct tb_err err = {0};
	json_t *root, *phases;

	/* Later names first and out of time order: nothing may sort them. */
	repetition_mark(&rep, "zeta", 30);
	repetition_mark(&rep, "alpha", 10);
	repetition_mark(&rep, "mid", 20);
	assert_int_equal(results_write_json(path, &info, &rep, 1, &err), 0);
	root = read_json(path);
	phases = json_object_get(json_array_get(json_object_get(root, "repetitions"), 0), "phases");
	assert_int_equal(json_array_size(phases), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(phases, 0), "name")),
			    "zeta");
	assert_string_equal(json_string_value(json_object_get(json_array_get(phases, 1), "name")),
			    "alpha");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(phases, 2), "t_ns")),
			 20);
	json_decref(root);
}

static void test_invalid_utf8_in_error_is_replaced_not_dropped(void **state)
{
	const char *path = tmp_path(state, "run.json");
	struct run_info info = sample_info();
	struct repetition rep = sample_rep(1, false, 0), *loaded = NULL;
	struct tb_err err = {0};
	size_t n;

	/* Raw console bytes: a lone 0xFF, a truncated 3-byte sequence, then valid text. */
	rep.ok = false;
	strcpy(rep.error, "got \xff here \xe2\x9c then caf\xc3\xa9");
	assert_int_equal(results_write_json(path, &info, &rep, 1, &err), 0);
	assert_int_equal(results_load(path, &info, &loaded, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(loaded[0].error, "got ? here ?? then caf\xc3\xa9");
	free(loaded);
}

/* Write @reps and return the run.json's summary (caller decrefs the root). */
static json_t *summary_of(void **state, const struct repetition *reps, size_t n, json_t **root)
{
	const char *path = tmp_path(state, "run.json");
	struct run_info info = sample_info();
	struct tb_err err = {0};

	assert_int_equal(results_write_json(path, &info, reps, n, &err), 0);
	*root = read_json(path);
	return json_object_get(*root, "summary");
}

static json_int_t downtime_stat(json_t *summary, const char *key)
{
	json_t *v = json_object_get(json_object_get(summary, "downtime_ns"), key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void test_summary_odd_count_excludes_unmeasured(void **state)
{
	struct repetition reps[4] = {
	    sample_rep(1, true, 5000),
	    sample_rep(2, true, 1000),
	    sample_rep(3, false, 999999), /* not measured: its downtime is meaningless */
	    sample_rep(4, true, 3000),
	};
	json_t *root, *s;

	reps[1].ok = false;
	reps[3].verified = false;
	s = summary_of(state, reps, 4, &root);
	assert_int_equal(json_integer_value(json_object_get(s, "repetitions")), 4);
	assert_int_equal(json_integer_value(json_object_get(s, "ok")), 3);
	assert_int_equal(json_integer_value(json_object_get(s, "verified")), 3);
	assert_int_equal(downtime_stat(s, "median"), 3000);
	assert_int_equal(downtime_stat(s, "min"), 1000);
	assert_int_equal(downtime_stat(s, "max"), 5000);
	json_decref(root);
}

static void test_summary_even_count_median_is_mean_of_middle_rounded(void **state)
{
	struct repetition reps[5] = {
	    sample_rep(1, true, 4000000000LL), sample_rep(2, true, 1000000000LL),
	    sample_rep(3, false, 1),	       sample_rep(4, true, 3100000001LL),
	    sample_rep(5, true, 2000000000LL),
	};
	json_t *root, *s;

	s = summary_of(state, reps, 5, &root);
	/*
	 * Middle values 2000000000 and 3100000001: the mean, as stats.h's
	 * median (the report's) has it, rounded to the nanosecond.
	 */
	assert_int_equal(downtime_stat(s, "median"), 2550000001LL);
	assert_int_equal(downtime_stat(s, "min"), 1000000000LL);
	assert_int_equal(downtime_stat(s, "max"), 4000000000LL);
	json_decref(root);
}

static void test_summary_downtime_null_when_none_measured(void **state)
{
	struct repetition reps[2] = {sample_rep(1, false, 7), sample_rep(2, false, 8)};
	json_t *root, *s;

	s = summary_of(state, reps, 2, &root);
	assert_int_equal(json_integer_value(json_object_get(s, "repetitions")), 2);
	assert_non_null(json_object_get(s, "downtime_ns"));
	assert_true(json_is_null(json_object_get(s, "downtime_ns")));
	json_decref(root);
}

static void test_summary_of_no_repetitions_is_zero_and_null(void **state)
{
	json_t *root, *s;

	s = summary_of(state, NULL, 0, &root);
	assert_int_equal(json_integer_value(json_object_get(s, "repetitions")), 0);
	assert_int_equal(json_integer_value(json_object_get(s, "ok")), 0);
	assert_true(json_is_null(json_object_get(s, "downtime_ns")));
	assert_int_equal(json_array_size(json_object_get(root, "repetitions")), 0);
	json_decref(root);
}

static void assert_run_dir_name(const char *dir, const char *scenario)
{
	const char *name = strrchr(dir, '/') + 1;
	int i;

	/* YYYYmmdd-HHMMSS-<scenario> */
	for (i = 0; i < 15; i++)
		if (i == 8)
			assert_int_equal(name[i], '-');
		else
			assert_true(name[i] >= '0' && name[i] <= '9');
	assert_int_equal(name[15], '-');
	assert_memory_equal(name + 16, scenario, strlen(scenario));
}

static void test_create_makes_unique_dir_each_time(void **state)
{
	struct run_info info = sample_info();
	struct tb_err err = {0};
	char base[PATH_MAX], want[PATH_MAX + 8];
	int attempt;

	/*
	 * The two calls may straddle a second boundary; then try again, in a
	 * base of its own: the directories of the attempt before would take
	 * the names this one expects.
	 */
	for (attempt = 0; attempt < 5; attempt++) {
		struct results *r1, *r2;
		struct stat st;
		char rel[32];

		/* Two levels missing: the base and its parent are both created. */
		snprintf(rel, sizeof(rel), "out%d/results", attempt);
		snprintf(base, sizeof(base), "%s", tmp_path(state, rel));
		r1 = results_create(base, &info, &err);

		assert_non_null(r1);
		r2 = results_create(base, &info, &err);
		assert_non_null(r2);
		assert_string_not_equal(results_dir(r1), results_dir(r2));
		assert_int_equal(stat(results_dir(r2), &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_memory_equal(results_dir(r1), base, strlen(base));
		assert_run_dir_name(results_dir(r1), "reboot");
		assert_run_dir_name(results_dir(r2), "reboot");
		if (!memcmp(results_dir(r1), results_dir(r2), strlen(base) + 1 + 15)) {
			snprintf(want, sizeof(want), "%s-2", results_dir(r1));
			assert_string_equal(results_dir(r2), want);
			results_close(r1);
			results_close(r2);
			return;
		}
		results_close(r1);
		results_close(r2);
	}
	fail_msg("every pair of calls fell on a second boundary");
}

static void test_create_writes_run_json_with_zero_repetitions(void **state)
{
	struct run_info info = sample_info(), back;
	struct repetition *reps = (void *)1;
	struct tb_err err = {0};
	struct results *r;
	char path[PATH_MAX];
	json_t *root;
	size_t n = 99;

	r = results_create(tmp_path(state, "results"), &info, &err);
	assert_non_null(r);
	snprintf(path, sizeof(path), "%s/run.json", results_dir(r));
	assert_int_equal(results_load(path, &back, &reps, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(reps);
	assert_info_equal(&info, &back);
	root = read_json(path);
	assert_int_equal(json_array_size(json_object_get(root, "repetitions")), 0);
	assert_true(json_is_array(json_object_get(root, "repetitions")));
	json_decref(root);
	results_close(r);
}

static void test_create_fills_empty_started_with_utc_time(void **state)
{
	struct run_info info = sample_info(), back;
	struct repetition *reps;
	struct tb_err err = {0};
	struct results *r;
	char path[PATH_MAX];
	size_t n;

	info.started[0] = '\0';
	r = results_create(tmp_path(state, "results"), &info, &err);
	assert_non_null(r);
	snprintf(path, sizeof(path), "%s/run.json", results_dir(r));
	assert_int_equal(results_load(path, &back, &reps, &n, &err), 0);
	/* 2026-11-22T02:30:00Z */
	assert_int_equal(strlen(back.started), 20);
	assert_int_equal(back.started[10], 'T');
	assert_int_equal(back.started[19], 'Z');
	/* The directory carries the same instant. */
	assert_memory_equal(strrchr(results_dir(r), '/') + 1, back.started, 4);
	results_close(r);
}

static void test_create_refuses_scenario_name_with_slash(void **state)
{
	struct run_info info = sample_info();
	struct tb_err err = {0};

	strcpy(info.scenario, "../escape");
	assert_null(results_create(tmp_path(state, "results"), &info, &err));
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "../escape"));
}

static void test_create_in_unwritable_place_is_env_error(void **state)
{
	struct run_info info = sample_info();
	struct tb_err err = {0};
	char base[PATH_MAX];

	/* A regular file where the base's parent should be. */
	assert_int_equal(tl_write_file(tmp_path(state, "file"), "x"), 0);
	snprintf(base, sizeof(base), "%s", tmp_path(state, "file/results"));
	assert_null(results_create(base, &info, &err));
	assert_int_equal(err.exit, TB_EXIT_ENV);
	assert_non_null(strstr(err.msg, base));
	assert_non_null(strstr(err.msg, "Not a directory"));
}

/* @dir holds run.json and nothing else (no run.json.tmp left behind). */
static void assert_only_run_json(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strcmp(e->d_name, "run.json"))
			fail_msg("unexpected %s in %s", e->d_name, dir);
		n++;
	}
	closedir(d);
	assert_int_equal(n, 1);
}

static void test_add_rewrites_run_json_after_each_repetition(void **state)
{
	struct run_info info = sample_info();
	struct repetition reps[3];
	struct tb_err err = {0};
	struct results *r;
	char path[PATH_MAX];
	json_t *root;

	full_reps(reps);
	r = results_create(tmp_path(state, "results"), &info, &err);
	assert_non_null(r);
	snprintf(path, sizeof(path), "%s/run.json", results_dir(r));
	assert_int_equal(results_add(r, &reps[0], &err), 0);
	assert_int_equal(results_add(r, &reps[1], &err), 0);

	/* What a crash now would leave: both repetitions, complete. */
	root = read_json(path);
	assert_int_equal(json_array_size(json_object_get(root, "repetitions")), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(root, "summary"), "repetitions")),
	    2);
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(json_object_get(root, "repetitions"), 1), "index")),
			 2);
	json_decref(root);
	assert_only_run_json(results_dir(r));
	results_close(r);
}

static void test_add_grows_past_initial_capacity(void **state)
{
	struct run_info info = sample_info(), back;
	struct repetition rep, *loaded;
	struct tb_err err = {0};
	struct results *r;
	char path[PATH_MAX];
	size_t n, i;

	r = results_create(tmp_path(state, "results"), &info, &err);
	assert_non_null(r);
	for (i = 1; i <= 20; i++) {
		rep = sample_rep((int)i, true, (int64_t)i * 1000);
		assert_int_equal(results_add(r, &rep, &err), 0);
	}
	snprintf(path, sizeof(path), "%s/run.json", results_dir(r));
	assert_int_equal(results_load(path, &back, &loaded, &n, &err), 0);
	assert_int_equal(n, 20);
	for (i = 0; i < n; i++)
		assert_int_equal(loaded[i].downtime_ns, (int64_t)(i + 1) * 1000);
	free(loaded);
	results_close(r);
}

static void test_set_info_rewrites_and_keeps_repetitions(void **state)
{
	struct run_info info = sample_info(), back;
	struct repetition rep = sample_rep(1, true, 42), *loaded;
	struct tb_err err = {0};
	struct results *r;
	char path[PATH_MAX];
	size_t n;

	info.kernel_new[0] = '\0';
	r = results_create(tmp_path(state, "results"), &info, &err);
	assert_non_null(r);
	assert_int_equal(results_add(r, &rep, &err), 0);
	strcpy(info.kernel_new, "6.1.0-52-amd64");
	assert_int_equal(results_set_info(r, &info, &err), 0);
	snprintf(path, sizeof(path), "%s/run.json", results_dir(r));
	assert_int_equal(results_load(path, &back, &loaded, &n, &err), 0);
	assert_string_equal(back.kernel_new, "6.1.0-52-amd64");
	assert_int_equal(n, 1);
	assert_int_equal(loaded[0].downtime_ns, 42);
	free(loaded);
	results_close(r);
}

static void test_write_into_missing_directory_is_env_error(void **state)
{
	struct run_info info = sample_info();
	struct tb_err err = {0};
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", tmp_path(state, "nowhere/run.json"));
	assert_int_equal(results_write_json(path, &info, NULL, 0, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_ENV);
	assert_non_null(strstr(err.msg, "nowhere/run.json.tmp"));
}

static void test_counter_beyond_int64_is_refused(void **state)
{
	struct run_info info = sample_info();
	struct repetition rep = sample_rep(3, true, 1);
	struct tb_err err = {0};
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", tmp_path(state, "run.json"));
	rep.counter_after = (uint64_t)INT64_MAX + 1;
	assert_int_equal(results_write_json(path, &info, &rep, 1, &err), -1);
	assert_non_null(strstr(err.msg, "repetition 3"));
	assert_int_equal(access(path, F_OK), -1);
}

static void assert_load_fails(const char *path, const char *want_prefix, const char *want_sub)
{
	struct repetition *reps = (void *)1;
	struct tb_err err = {0};
	struct run_info info;
	size_t n = 99;

	assert_int_equal(results_load(path, &info, &reps, &n, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_null(reps);
	assert_int_equal(n, 0);
	if (strncmp(err.msg, want_prefix, strlen(want_prefix)))
		fail_msg("\"%s\" does not start with \"%s\"", err.msg, want_prefix);
	if (want_sub && !strstr(err.msg, want_sub))
		fail_msg("\"%s\" does not contain \"%s\"", err.msg, want_sub);
}

static void test_load_malformed_json_names_line_and_column(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 8];

	snprintf(path, sizeof(path), "%s", tmp_path(state, "run.json"));
	assert_int_equal(tl_write_file(path, "{\n"
					     "  \"format\": \"twinbench-run/1\",\n"
					     "  \"started\": ,\n"
					     "  \"repetitions\": []\n"
					     "}\n"),
			 0);
	snprintf(want, sizeof(want), "%s:3:", path);
	assert_load_fails(path, want, NULL);
}

static void test_load_missing_file_names_it(void **state)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", tmp_path(state, "absent.json"));
	assert_load_fails(path, path, "No such file");
}

/* Write a complete run.json, let @edit change it, and expect @want_sub on load. */
static void assert_edited_load_fails(void **state, void (*edit)(json_t *root), const char *want_sub)
{
	struct run_info info = sample_info();
	struct repetition reps[3];
	struct tb_err err = {0};
	char path[PATH_MAX], want[PATH_MAX + 8];
	json_t *root;

	snprintf(path, sizeof(path), "%s", tmp_path(state, "run.json"));
	full_reps(reps);
	assert_int_equal(results_write_json(path, &info, reps, 3, &err), 0);
	root = read_json(path);
	edit(root);
	assert_int_equal(json_dump_file(root, path, JSON_INDENT(2)), 0);
	json_decref(root);
	snprintf(want, sizeof(want), "%s: ", path);
	assert_load_fails(path, want, want_sub);
}

static void edit_format_string(json_t *root)
{
	json_object_set_new(root, "format", json_string("twinbench-run/2"));
}

static void edit_drop_format(json_t *root)
{
	json_object_del(root, "format");
}

static void edit_repetitions_to_integer(json_t *root)
{
	json_object_set_new(root, "repetitions", json_integer(5));
}

static void edit_sent_to_string(json_t *root)
{
	json_t *rep = json_array_get(json_object_get(root, "repetitions"), 1);

	json_object_set_new(json_object_get(rep, "probe"), "sent", json_string("5000"));
}

static void edit_negative_counter(json_t *root)
{
	json_t *rep = json_array_get(json_object_get(root, "repetitions"), 0);

	json_object_set_new(json_object_get(rep, "after"), "counter", json_integer(-1));
}

static void edit_drop_phase_name(json_t *root)
{
	json_t *rep = json_array_get(json_object_get(root, "repetitions"), 0);

	json_object_del(json_array_get(json_object_get(rep, "phases"), 1), "name");
}

static void test_load_wrong_format_string_is_rejected(void **state)
{
	assert_edited_load_fails(state, edit_format_string, "twinbench-run/2");
}

static void test_load_missing_format_is_rejected(void **state)
{
	assert_edited_load_fails(state, edit_drop_format, "format: missing");
}

static void test_load_repetitions_of_wrong_type_is_rejected(void **state)
{
	assert_edited_load_fails(state, edit_repetitions_to_integer,
				 "repetitions: expected an array, got an integer");
}

static void test_load_wrong_type_deep_names_its_json_path(void **state)
{
	assert_edited_load_fails(state, edit_sent_to_string,
				 "repetitions[1].probe.sent: expected an integer, got a string");
}

static void test_load_negative_counter_is_out_of_range(void **state)
{
	assert_edited_load_fails(state, edit_negative_counter,
				 "repetitions[0].after.counter: -1 is out of range");
}

static void test_load_missing_phase_name_names_it(void **state)
{
	assert_edited_load_fails(state, edit_drop_phase_name,
				 "repetitions[0].phases[1].name: missing");
}

/* A digest that is not 64 lowercase hex digits is neither written nor read. */
static void test_sha256_that_is_not_hex_is_refused(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 8];
	struct run_info info = sample_info();
	struct tb_err err = {0};
	json_t *root, *k;

	snprintf(path, sizeof(path), "%s", tmp_path(state, "run.json"));
	strcpy(info.boot_new.sha256, "not a digest");
	assert_int_equal(results_write_json(path, &info, NULL, 0, &err), -1);
	assert_int_equal(err.exit, TB_EXIT_USAGE);
	assert_non_null(strstr(err.msg, "environment.images.kernel_new.sha256"));

	info = sample_info();
	assert_int_equal(results_write_json(path, &info, NULL, 0, &err), 0);
	root = read_json(path);
	k = json_object_get(json_object_get(json_object_get(root, "environment"), "images"),
			    "kernel_old");
	/* 65 digits: would pass if only the 64 kept in the buffer were checked. */
	json_object_set_new(k, "sha256",
			    json_string("0123456789abcdef0123456789abcdef"
					"0123456789abcdef0123456789abcdef0"));
	assert_int_equal(json_dump_file(root, path, 0), 0);
	json_decref(root);
	snprintf(want, sizeof(want), "%s: ", path);
	assert_load_fails(path, want, "environment.images.kernel_old.sha256: expected");
}

static void test_load_truncates_long_strings_on_a_character_boundary(void **state)
{
	struct run_info info = sample_info();
	struct repetition rep = sample_rep(1, true, 1), *loaded;
	struct tb_err err = {0};
	char path[PATH_MAX], long_id[128] = "";
	json_t *root, *after;
	size_t n, i;

	snprintf(path, sizeof(path), "%s", tmp_path(state, "run.json"));
	assert_int_equal(results_write_json(path, &info, &rep, 1, &err), 0);
	/* 30 two-byte characters: the 40-byte buffer holds 19 of them, not 19.5. */
	for (i = 0; i < 30; i++)
		strcat(long_id, "\xc3\xa9");
	root = read_json(path);
	after = json_object_get(json_array_get(json_object_get(root, "repetitions"), 0), "after");
	json_object_set_new(after, "boot_id", json_string(long_id));
	assert_int_equal(json_dump_file(root, path, 0), 0);
	json_decref(root);
	assert_int_equal(results_load(path, &info, &loaded, &n, &err), 0);
	assert_int_equal(strlen(loaded[0].boot_id_after), 38);
	assert_memory_equal(loaded[0].boot_id_after, long_id, 38);
	free(loaded);
}

static void test_mark_keeps_order_and_phase_returns_first_match(void **state)
{
	struct repetition rep = {0};

	(void)state;
	assert_int_equal(repetition_mark(&rep, "upgrade_start", 100), 0);
	assert_int_equal(repetition_mark(&rep, "service_down", 200), 1);
	assert_int_equal(repetition_mark(&rep, "service_up", 300), 2);
	assert_int_equal(repetition_mark(&rep, "service_down", 400), 3);
	assert_int_equal(rep.nphases, 4);
	assert_string_equal(rep.phases[0].name, "upgrade_start");
	assert_string_equal(rep.phases[2].name, "service_up");
	assert_int_equal(rep.phases[3].t_ns, 400);
	assert_int_equal(repetition_phase(&rep, "service_down"), 200);
	assert_int_equal(repetition_phase(&rep, "service_up"), 300);
}

static void test_phase_missing_returns_minus_one(void **state)
{
	struct repetition rep = {0};

	(void)state;
	assert_int_equal(repetition_phase(&rep, "upgrade_start"), -1);
	repetition_mark(&rep, "upgrade_start", 5);
	assert_int_equal(repetition_phase(&rep, "upgrade"), -1);
	assert_int_equal(repetition_phase(&rep, "upgrade_start_"), -1);
}

static void test_mark_limit_enforced(void **state)
{
	struct repetition rep = {0};
	char name[16];
	int i;

	(void)state;
	for (i = 0; i < RESULTS_MAX_PHASES; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(repetition_mark(&rep, name, i), i);
	}
	assert_int_equal(repetition_mark(&rep, "one_too_many", 999), -1);
	assert_int_equal(rep.nphases, RESULTS_MAX_PHASES);
	assert_int_equal(repetition_phase(&rep, "one_too_many"), -1);
	assert_int_equal(repetition_phase(&rep, "p31"), 31);
}

static void test_mark_truncates_long_name(void **state)
{
	struct repetition rep = {0};
	char name[100];

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(repetition_mark(&rep, name, 1), 0);
	assert_int_equal(strlen(rep.phases[0].name), sizeof(rep.phases[0].name) - 1);
}

static void test_close_accepts_null(void **state)
{
	(void)state;
	results_close(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_tmp, teardown_tmp)

/*
 * The run loop summarises after every repetition; each call must start from
 * scratch (it once accumulated, overflowing a stack array by the fifth).
 */
static void test_summarise_after_each_repetition_counts_each_once(void **state)
{
	struct repetition reps[5];
	struct results_summary sum;
	const int64_t down[5] = { 500, 100, 400, 200, 300 };

	(void)state;
	memset(reps, 0, sizeof(reps));
	for (int i = 0; i < 5; i++) {
		reps[i].index = i + 1;
		reps[i].ok = i != 3;
		reps[i].verified = i != 3;
		reps[i].measured = i != 1;
		reps[i].downtime_ns = down[i];
		assert_int_equal(results_summarise(reps, (size_t)i + 1, &sum), 0);
		assert_int_equal(sum.repetitions, i + 1);
	}
	assert_int_equal(sum.ok, 4);
	assert_int_equal(sum.verified, 4);
	assert_int_equal(sum.measured, 4);
	/* measured: 500, 400, 200, 300 -> sorted 200 300 400 500 */
	assert_int_equal(sum.min_ns, 200);
	assert_int_equal(sum.max_ns, 500);
	assert_int_equal(sum.median_ns, 350);
	assert_int_equal(results_summarise(reps, 0, &sum), 0);
	assert_int_equal(sum.repetitions, 0);
	assert_int_equal(sum.measured, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_summarise_after_each_repetition_counts_each_once),
	    T(test_round_trip_keeps_every_field),
	    T(test_boot_images_and_guest_size_are_written_under_environment),
	    T(test_load_without_boot_images_gives_zeros),
	    T(test_ok_repetition_error_is_null_and_failed_one_a_string),
	    T(test_phases_written_in_recorded_order),
	    T(test_invalid_utf8_in_error_is_replaced_not_dropped),
	    T(test_summary_odd_count_excludes_unmeasured),
	    T(test_summary_even_count_median_is_mean_of_middle_rounded),
	    T(test_summary_downtime_null_when_none_measured),
	    T(test_summary_of_no_repetitions_is_zero_and_null),
	    T(test_create_makes_unique_dir_each_time),
	    T(test_create_writes_run_json_with_zero_repetitions),
	    T(test_create_fills_empty_started_with_utc_time),
	    T(test_create_refuses_scenario_name_with_slash),
	    T(test_create_in_unwritable_place_is_env_error),
	    T(test_add_rewrites_run_json_after_each_repetition),
	    T(test_add_grows_past_initial_capacity),
	    T(test_set_info_rewrites_and_keeps_repetitions),
	    T(test_write_into_missing_directory_is_env_error),
	    T(test_counter_beyond_int64_is_refused),
	    T(test_load_malformed_json_names_line_and_column),
	    T(test_load_missing_file_names_it),
	    T(test_load_wrong_format_string_is_rejected),
	    T(test_load_missing_format_is_rejected),
	    T(test_load_repetitions_of_wrong_type_is_rejected),
	    T(test_load_wrong_type_deep_names_its_json_path),
	    T(test_load_negative_counter_is_out_of_range),
	    T(test_load_missing_phase_name_names_it),
	    T(test_sha256_that_is_not_hex_is_refused),
	    T(test_load_truncates_long_strings_on_a_character_boundary),
	    cmocka_unit_test(test_mark_keeps_order_and_phase_returns_first_match),
	    cmocka_unit_test(test_phase_missing_returns_minus_one),
	    cmocka_unit_test(test_mark_limit_enforced),
	    cmocka_unit_test(test_mark_truncates_long_name),
	    cmocka_unit_test(test_close_accepts_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
