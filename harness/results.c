/*
 * results.c - a run's results directory and its run.json.
 *
 * The whole run (info, every repetition so far, a summary) is kept in memory
 * and run.json is rewritten from it after every change: the file is small,
 * and a full rewrite through a temporary file plus rename (atomicfile.h)
 * means a reader (or a crash) only ever sees a complete document.  The summary is derived data;
 * results_load() ignores it and callers recompute what they need.
 *
 * The layout written here is read by reports, the gate and the integration
 * tests: change it only together with "format".
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "atomicfile.h"
#include "jsonfile.h"
#include "jsonkind.h"
#include "results.h"
#include "stats.h"

#define RESULTS_FORMAT "twinbench-run/1"

/* int64_t and uint64_t fields are written as json_int_t and read back through it. */
_Static_assert(sizeof(json_int_t) == sizeof(int64_t), "json_int_t is not 64-bit");

/* Enough for every restarted run in one second; beyond that something loops. */
#define MAX_DIR_SUFFIX 1000

struct results {
	char *dir;
	char *json_path;
	struct run_info info;
	struct repetition *reps;
	size_t n, cap;
};

/*
 * Copy @src into @dst (@size bytes) with truncation.  The cut is moved back
 * to a character boundary so that a truncated UTF-8 string stays valid and
 * can be written back to JSON unchanged.
 */
static void copy_str(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);

	if (len >= size) {
		len = size - 1;
		/* 10xxxxxx is a continuation byte: drop the partial character. */
		while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Length of the valid UTF-8 sequence at @s (@len bytes left), 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	size_t need, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and beyond U+10FFFF are invalid. */
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return need;
}

/*
 * A JSON string for the C string in a fixed buffer of @size bytes.  Error
 * messages may quote raw console output, which need not be UTF-8, and
 * jansson refuses such strings: invalid bytes become '?' rather than losing
 * the whole message.  The length is bounded by @size in case a caller left
 * a buffer unterminated.
 */
static json_t *json_str(const char *s, size_t size)
{
	size_t len = strnlen(s, size), i = 0, k;
	json_t *j;
	char *fixed;

	j = json_stringn(s, len);
	if (j)
		return j;
	fixed = malloc(len + 1);
	if (!fixed)
		return NULL;
	memcpy(fixed, s, len);
	while (i < len) {
		k = utf8_seq_len((const unsigned char *)fixed + i, len - i);
		if (!k) {
			fixed[i] = '?';
			k = 1;
		}
		i += k;
	}
	j = json_stringn(fixed, len);
	free(fixed);
	return j;
}

#define JSON_STR(field) json_str((field), sizeof(field))

/* JSON has no unsigned integers and jansson's are long long. */
static json_t *json_u64(uint64_t v)
{
	if (v > (uint64_t)INT64_MAX)
		return NULL;
	return json_integer((json_int_t)v);
}

int results_summarise(const struct repetition *reps, size_t n, struct results_summary *out)
{
	struct stats_summary s;
	double *d;
	size_t i, m = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->repetitions = (int)n;
	for (i = 0; i < n; i++) {
		out->ok += reps[i].ok;
		out->verified += reps[i].verified;
		m += reps[i].measured;
	}
	if (!m)
		return 0;
	d = malloc(m * sizeof(*d));
	if (!d)
		return -ENOMEM;
	m = 0;
	for (i = 0; i < n; i++)
		if (reps[i].measured)
			d[m++] = (double)reps[i].downtime_ns;
	/* The one median of the tree (stats.h), rounded to the nanosecond. */
	rc = stats_summarise(d, m, &s);
	free(d);
	if (rc != 0)
		return rc;
	out->measured = (int)m;
	out->median_ns = llround(s.median);
	out->min_ns = llround(s.min);
	out->max_ns = llround(s.max);
	return 0;
}

/* Median, min and max of the measured downtimes, or JSON null if none was measured. */
static json_t *downtime_summary(const struct results_summary *sum)
{
	if (!sum->measured)
		return json_null();
	return json_pack("{s:I, s:I, s:I}", "median", (json_int_t)sum->median_ns, "min",
			 (json_int_t)sum->min_ns, "max", (json_int_t)sum->max_ns);
}

static json_t *phases_to_json(const struct repetition *rep)
{
	json_t *a = json_array();
	int i;

	if (!a)
		return NULL;
	for (i = 0; i < rep->nphases && i < RESULTS_MAX_PHASES; i++) {
		json_t *p = json_pack("{s:o, s:I}", "name", JSON_STR(rep->phases[i].name), "t_ns",
				      (json_int_t)rep->phases[i].t_ns);

		if (json_array_append_new(a, p)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The handoffs of a chain of twin upgrades; NULL only when out of memory. */
static json_t *rounds_to_json(const struct repetition *rep)
{
	json_t *a = json_array();

	for (int i = 0; a && i < rep->nrounds; i++) {
		const struct handoff_round *h = &rep->rounds[i];
		json_t *o = json_pack(
		    "{s:b, s:b, s:I, s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}}", "measured",
		    h->measured, "verified", h->verified, "downtime_ns", (json_int_t)h->downtime_ns,
		    "before", "release", JSON_STR(h->release_before), "boot_id",
		    JSON_STR(h->boot_id_before), "counter", json_u64(h->counter_before), "after",
		    "release", JSON_STR(h->release_after), "boot_id", JSON_STR(h->boot_id_after),
		    "counter", json_u64(h->counter_after));

		if (json_array_append_new(a, o)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Every gap of the repetition and their sum; NULL only when out of memory. */
static json_t *gaps_to_json(const struct repetition *rep)
{
	json_t *list = json_array();

	for (int i = 0; list && i < rep->ngaps && i < RESULTS_MAX_GAPS; i++) {
		const struct rep_gap *g = &rep->gaps[i];

		if (json_array_append_new(list, json_pack("{s:I, s:I, s:I, s:b, s:o}", "start_ns",
							  (json_int_t)g->start_ns, "end_ns",
							  (json_int_t)g->end_ns, "length_ns",
							  (json_int_t)(g->end_ns - g->start_ns),
							  "open", g->open, "phase",
							  JSON_STR(g->phase)))) {
			json_decref(list);
			return NULL;
		}
	}
	return json_pack("{s:I, s:i, s:o}", "unavailable_ns", (json_int_t)rep->unavailable_ns,
			 "found", rep->gaps_found, "list", list);
}

/* One side of a breakdown: [{"step": "request", "ns": 0}, ...], in order. */
static json_t *side_to_json(const struct breakdown_side *side)
{
	json_t *list = json_array();

	for (int i = 0; list && i < side->nsteps; i++)
		if (json_array_append_new(list, json_pack("{s:s, s:I}", "step", side->name[i],
							  "ns", (json_int_t)side->ns[i]))) {
			json_decref(list);
			return NULL;
		}
	return list;
}

static json_t *breakdowns_to_json(const struct repetition *rep)
{
	json_t *list = json_array();

	for (int i = 0; list && i < rep->nbreakdowns; i++) {
		const struct handoff_breakdown *bd = &rep->breakdowns[i];
		json_t *o = json_pack("{s:o, s:o}", "a", side_to_json(&bd->a), "b",
				      side_to_json(&bd->b));

		/* B's takeover of the rest of A, when it said how it went. */
		if (o && bd->rest.nsteps &&
		    json_object_set_new(o, "takeover", side_to_json(&bd->rest))) {
			json_decref(o);
			o = NULL;
		}
		if (json_array_append_new(list, o)) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/* [{"tool": "criu-dump", "figures": {"freezing_time": 120, ...}}, ...]; NULL: no memory. */
static json_t *tool_stats_to_json(const struct repetition *rep)
{
	json_t *list = json_array();

	for (int i = 0; list && i < rep->ntool_stats; i++) {
		const struct tool_stats *ts = &rep->tool_stats[i];
		json_t *figures = json_object();

		for (int k = 0; figures && k < ts->n; k++)
			if (json_object_set_new(figures, ts->key[k], json_integer(ts->value[k]))) {
				json_decref(figures);
				figures = NULL;
			}
		if (json_array_append_new(list, json_pack("{s:o, s:o}", "tool", JSON_STR(ts->name),
							  "figures", figures))) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/* One repetition; NULL only when out of memory. */
static json_t *rep_to_json(const struct repetition *rep)
{
	json_t *error = rep->error[0] ? JSON_STR(rep->error) : json_null();
	json_t *o;

	/*
	 * With "o", json_pack fails on a NULL value (an allocation that failed
	 * above) and still releases every value passed to it.
	 */
	o = json_pack(
	    "{s:i, s:b, s:o, s:o, s:b, s:I, s:I, s:{s:o, s:o},"
	    " s:b, s:b, s:b, s:b,"
	    " s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}, s:b, s:{s:o, s:o}, s:{s:i, s:I}}",
	    "index", rep->index, "ok", rep->ok, "error", error, "phases", phases_to_json(rep),
	    "measured", rep->measured, "downtime_ns", (json_int_t)rep->downtime_ns,
	    "maintenance_ns", (json_int_t)rep->maintenance_ns, "probe", "sent", json_u64(rep->sent),
	    "lost", json_u64(rep->lost), "verified", rep->verified, "boot_changed",
	    rep->boot_changed, "release_ok", rep->release_ok, "state_continued",
	    rep->state_continued, "before", "release", JSON_STR(rep->release_before), "boot_id",
	    JSON_STR(rep->boot_id_before), "counter", json_u64(rep->counter_before), "after",
	    "release", JSON_STR(rep->release_after), "boot_id", JSON_STR(rep->boot_id_after),
	    "counter", json_u64(rep->counter_after), "alive_at_end", rep->alive_at_end,
	    "console_release", "a", JSON_STR(rep->console_release[0]), "b",
	    JSON_STR(rep->console_release[1]), "takeover", "cpus", rep->takeover_cpus,
	    "memtotal_kb", (json_int_t)rep->takeover_memtotal_kb);
	if (o && rep->nrounds && json_object_set_new(o, "rounds", rounds_to_json(rep))) {
		json_decref(o);
		return NULL;
	}
	if (o && json_object_set_new(o, "gaps", gaps_to_json(rep))) {
		json_decref(o);
		return NULL;
	}
	if (o && rep->quiet_ns &&
	    json_object_set_new(o, "quiet",
				json_pack("{s:I, s:I, s:i, s:I}", "from_ns",
					  (json_int_t)rep->quiet_from_ns, "window_ns",
					  (json_int_t)rep->quiet_ns, "gaps", rep->quiet_gaps,
					  "longest_ns", (json_int_t)rep->quiet_longest_ns))) {
		json_decref(o);
		return NULL;
	}
	if (o && (json_object_set_new(json_object_get(o, "probe"), "interval_median_ns",
				      json_integer(rep->interval_median_ns)) ||
		  json_object_set_new(json_object_get(o, "probe"), "interval_p99_ns",
				      json_integer(rep->interval_p99_ns)))) {
		json_decref(o);
		return NULL;
	}
	if (o && (rep->captured || rep->capture_note[0]) &&
	    json_object_set_new(o, "capture",
				json_pack("{s:b, s:I, s:b, s:o}", "analysed", rep->captured,
					  "downtime_ns", (json_int_t)rep->capture_downtime_ns,
					  "agrees", rep->capture_agrees, "note",
					  JSON_STR(rep->capture_note)))) {
		json_decref(o);
		return NULL;
	}
	if (o && rep->nbreakdowns &&
	    json_object_set_new(o, "handoff_breakdowns", breakdowns_to_json(rep))) {
		json_decref(o);
		return NULL;
	}
	if (o && rep->ntool_stats &&
	    json_object_set_new(o, "tool_stats", tool_stats_to_json(rep))) {
		json_decref(o);
		return NULL;
	}
	/* A method with a standby: how long the spare ran (results.h). */
	if (o && rep->standby_ns > 0 &&
	    json_object_set_new(o, "standby_ns", json_integer(rep->standby_ns))) {
		json_decref(o);
		return NULL;
	}
	if (o && (rep->console_reconnects[0] || rep->console_reconnects[1]) &&
	    json_object_set_new(o, "console_reconnects",
				json_pack("{s:i, s:i}", "a", rep->console_reconnects[0], "b",
					  rep->console_reconnects[1]))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * JSON integers are signed 64-bit here, so a counter past INT64_MAX cannot
 * be written; check before building so that it is not reported as an
 * allocation failure.  Real counters are nowhere near.
 */
static int check_counters(const struct repetition *reps, size_t n, struct tb_err *err)
{
	const uint64_t max = (uint64_t)INT64_MAX;
	size_t i;

	for (i = 0; i < n; i++)
		if (reps[i].sent > max || reps[i].lost > max || reps[i].counter_before > max ||
		    reps[i].counter_after > max)
			return tb_err_set(err, TB_EXIT_USAGE,
					  "repetition %d: a counter does not fit a JSON integer",
					  reps[i].index);
	return 0;
}

/* "" or 64 lowercase hex digits: what sha256sum prints. */
static bool sha256_hex_ok(const char *s, size_t size)
{
	size_t len = strnlen(s, size), i;

	if (!len)
		return true;
	if (len != 64)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A digest that would not load back is refused before it is written. */
static int check_info(const struct run_info *info, struct tb_err *err)
{
	if (!sha256_hex_ok(info->boot_old.sha256, sizeof(info->boot_old.sha256)))
		return tb_err_set(err, TB_EXIT_USAGE,
				  "environment.images.kernel_old.sha256: \"%.64s\" is not 64 "
				  "lowercase hex digits",
				  info->boot_old.sha256);
	if (!sha256_hex_ok(info->boot_new.sha256, sizeof(info->boot_new.sha256)))
		return tb_err_set(err, TB_EXIT_USAGE,
				  "environment.images.kernel_new.sha256: \"%.64s\" is not 64 "
				  "lowercase hex digits",
				  info->boot_new.sha256);
	return 0;
}

/* One booted kernel; NULL only when out of memory. */
static json_t *kernel_to_json(const struct run_kernel *k)
{
	return json_pack("{s:o, s:o, s:I}", "path", JSON_STR(k->image), "sha256",
			 JSON_STR(k->sha256), "initrd_bytes", (json_int_t)k->initrd_bytes);
}

static json_t *run_to_json(const struct run_info *info, const struct repetition *reps, size_t n,
			   struct tb_err *err)
{
	struct results_summary sum;
	json_t *root, *a;
	size_t i;

	if (check_counters(reps, n, err) || check_info(info, err))
		return NULL;
	if (results_summarise(reps, n, &sum) != 0)
		goto nomem;
	a = json_array();
	if (!a)
		goto nomem;
	for (i = 0; i < n; i++) {
		if (json_array_append_new(a, rep_to_json(&reps[i]))) {
			json_decref(a);
			goto nomem;
		}
	}
	root = json_pack(
	    "{s:s, s:{s:o, s:o, s:o, s:o, s:i}, s:o,"
	    " s:{s:o, s:o, s:o, s:o, s:o, s:o, s:{s:i, s:i}, s:{s:o, s:o, s:o}},"
	    " s:{s:I}, s:o,"
	    " s:{s:I, s:I, s:I, s:o}}",
	    "format", RESULTS_FORMAT, "scenario", "name", JSON_STR(info->scenario), "path",
	    JSON_STR(info->scenario_path), "method", JSON_STR(info->method), "method_file",
	    JSON_STR(info->method_file), "repetitions",
	    info->repetitions, "started", JSON_STR(info->started), "environment", "accel",
	    JSON_STR(info->accel), "qemu", JSON_STR(info->qemu_version), "libvirt",
	    JSON_STR(info->libvirt_version), "host_kernel", JSON_STR(info->host_kernel),
	    "kernel_old", JSON_STR(info->kernel_old), "kernel_new", JSON_STR(info->kernel_new),
	    "guest", "memory_mib", info->guest_memory_mib, "vcpus", info->guest_vcpus, "images",
	    "kernel_old", kernel_to_json(&info->boot_old), "kernel_new",
	    kernel_to_json(&info->boot_new), "rootfs", JSON_STR(info->rootfs), "probe",
	    "interval_ns", (json_int_t)info->probe_interval_ns, "repetitions", a, "summary",
	    "repetitions", (json_int_t)n, "ok", (json_int_t)sum.ok, "verified",
	    (json_int_t)sum.verified, "downtime_ns", downtime_summary(&sum));
	if (!root)
		goto nomem;
	if (info->standby_memory_mib > 0 &&
	    json_object_set_new(json_object_get(root, "environment"), "standby",
				json_pack("{s:i, s:i}", "memory_mib", info->standby_memory_mib,
					  "vcpus", info->standby_vcpus))) {
		json_decref(root);
		goto nomem;
	}
	return root;
nomem:
	tb_err_set(err, TB_EXIT_ENV, "out of memory building run.json");
	return NULL;
}

int results_write_json(const char *path, const struct run_info *info, const struct repetition *reps,
		       size_t n, struct tb_err *err)
{
	struct atomic_file af;
	bool failed;
	json_t *root;
	int rc;

	root = run_to_json(info, reps, n, err);
	if (!root)
		return -1;
	if (atomic_open(&af, path, err)) {
		json_decref(root);
		return -1;
	}
	failed = json_dumpf(root, af.f, JSON_INDENT(2)) != 0 || fputc('\n', af.f) == EOF;
	rc = atomic_commit(&af, failed, err);
	json_decref(root);
	return rc;
}

/* mkdir that treats an existing directory as success. */
static int mkdir_exist_ok(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		return -1;
	return 0;
}

/* The directory part of @path ("." if none), malloc'd. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* Create @base, and its parent if that is missing too. */
static int make_base(const char *base, struct tb_err *err)
{
	char *parent;

	if (!mkdir_exist_ok(base))
		return 0;
	if (errno != ENOENT)
		return tb_err_set(err, TB_EXIT_ENV, "%s: %s", base, strerror(errno));
	parent = dir_of(base);
	if (!parent)
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	if (mkdir_exist_ok(parent)) {
		tb_err_set(err, TB_EXIT_ENV, "%s: %s", parent, strerror(errno));
		free(parent);
		return -1;
	}
	free(parent);
	if (mkdir_exist_ok(base))
		return tb_err_set(err, TB_EXIT_ENV, "%s: %s", base, strerror(errno));
	return 0;
}

/*
 * mkdir fails with EEXIST when another run (or this one, restarted within
 * the same second) got there first, which makes the name unique without a
 * separate existence check that could race.
 */
static char *make_run_dir(const char *base, const char *stamp, const char *scenario,
			  struct tb_err *err)
{
	char *dir;
	int i;

	for (i = 1; i <= MAX_DIR_SUFFIX; i++) {
		int len;

		if (i == 1)
			len = asprintf(&dir, "%s/%s-%s", base, stamp, scenario);
		else
			len = asprintf(&dir, "%s/%s-%s-%d", base, stamp, scenario, i);
		if (len < 0) {
			tb_err_set(err, TB_EXIT_ENV, "out of memory");
			return NULL;
		}
		if (!mkdir(dir, 0755))
			return dir;
		if (errno != EEXIST) {
			tb_err_set(err, TB_EXIT_ENV, "%s: %s", dir, strerror(errno));
			free(dir);
			return NULL;
		}
		free(dir);
	}
	tb_err_set(err, TB_EXIT_ENV, "%s/%s-%s: %d directories already exist", base, stamp,
		   scenario, MAX_DIR_SUFFIX);
	return NULL;
}

struct results *results_create(const char *base, const struct run_info *info, struct tb_err *err)
{
	struct results *r;
	char stamp[32];
	struct tm tm;
	time_t now;

	/* The name becomes a path component: refuse what would escape @base. */
	if (!info->scenario[0] || strchr(info->scenario, '/') || !strcmp(info->scenario, ".") ||
	    !strcmp(info->scenario, "..")) {
		tb_err_set(err, TB_EXIT_USAGE, "scenario name \"%s\" cannot name a directory",
			   info->scenario);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		tb_err_set(err, TB_EXIT_ENV, "out of memory");
		return NULL;
	}
	r->info = *info;
	now = time(NULL);
	gmtime_r(&now, &tm);
	/* The caller may leave "started" empty: it is then the directory's time. */
	if (!r->info.started[0])
		strftime(r->info.started, sizeof(r->info.started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);

	if (make_base(base, err))
		goto err;
	r->dir = make_run_dir(base, stamp, info->scenario, err);
	if (!r->dir)
		goto err;
	if (asprintf(&r->json_path, "%s/run.json", r->dir) < 0) {
		r->json_path = NULL;
		tb_err_set(err, TB_EXIT_ENV, "out of memory");
		goto err;
	}
	if (results_write_json(r->json_path, &r->info, NULL, 0, err))
		goto err;
	return r;
err:
	results_close(r);
	return NULL;
}

const char *results_dir(const struct results *r)
{
	return r->dir;
}

int results_set_info(struct results *r, const struct run_info *info, struct tb_err *err)
{
	char started[sizeof(r->info.started)];

	/* Keep the start time results_create() filled in if the caller has none. */
	memcpy(started, r->info.started, sizeof(started));
	r->info = *info;
	if (!r->info.started[0])
		memcpy(r->info.started, started, sizeof(started));
	return results_write_json(r->json_path, &r->info, r->reps, r->n, err);
}

int results_add(struct results *r, const struct repetition *rep, struct tb_err *err)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 8;
		struct repetition *reps = realloc(r->reps, cap * sizeof(*reps));

		if (!reps)
			return tb_err_set(err, TB_EXIT_ENV, "out of memory");
		r->reps = reps;
		r->cap = cap;
	}
	/*
	 * Kept even if the write below fails: the repetition happened, and the
	 * next successful rewrite should still include it.
	 */
	r->reps[r->n++] = *rep;
	return results_write_json(r->json_path, &r->info, r->reps, r->n, err);
}

void results_close(struct results *r)
{
	if (!r)
		return;
	free(r->dir);
	free(r->json_path);
	free(r->reps);
	free(r);
}

int repetition_mark(struct repetition *rep, const char *name, int64_t t_ns)
{
	struct phase *p;

	if (rep->nphases < 0 || rep->nphases >= RESULTS_MAX_PHASES)
		return -1;
	p = &rep->phases[rep->nphases];
	copy_str(p->name, sizeof(p->name), name);
	p->t_ns = t_ns;
	return rep->nphases++;
}

int repetition_set(struct repetition *rep, const char *name, int64_t t_ns)
{
	for (int i = 0; i < rep->nphases && i < RESULTS_MAX_PHASES; i++)
		if (!strcmp(rep->phases[i].name, name)) {
			rep->phases[i].t_ns = t_ns;
			return i;
		}
	return repetition_mark(rep, name, t_ns);
}

int64_t repetition_phase(const struct repetition *rep, const char *name)
{
	int i;

	for (i = 0; i < rep->nphases && i < RESULTS_MAX_PHASES; i++)
		if (!strncmp(rep->phases[i].name, name, sizeof(rep->phases[i].name)))
			return rep->phases[i].t_ns;
	return -1;
}

/*
 * Reading run.json back.  Every shape error names the file and the JSON path
 * of the value at fault ("repetitions[2].probe.sent"); jansson keeps no
 * positions for values, so there is no line:column for those.
 */
struct loader {
	const char *path;
	struct tb_err *err;
};

enum kind { K_OBJECT, K_ARRAY, K_STRING, K_STRING_OR_NULL, K_INTEGER, K_BOOL };

static const char *kind_name(enum kind k)
{
	switch (k) {
	case K_OBJECT:
		return "an object";
	case K_ARRAY:
		return "an array";
	case K_STRING:
		return "a string";
	case K_STRING_OR_NULL:
		return "a string or null";
	case K_INTEGER:
		return "an integer";
	case K_BOOL:
		return "true or false";
	}
	abort();
}

static bool is_kind(const json_t *j, enum kind k)
{
	switch (k) {
	case K_OBJECT:
		return json_is_object(j);
	case K_ARRAY:
		return json_is_array(j);
	case K_STRING:
		return json_is_string(j);
	case K_STRING_OR_NULL:
		return json_is_string(j) || json_is_null(j);
	case K_INTEGER:
		return json_is_integer(j);
	case K_BOOL:
		return json_is_boolean(j);
	}
	return false;
}

/* Member @key of @obj (at @where) if it has kind @k, else NULL with the error set. */
static json_t *member(struct loader *ld, json_t *obj, const char *where, const char *key,
		      enum kind k)
{
	json_t *v = json_object_get(obj, key);
	const char *dot = where[0] ? "." : "";

	if (!v) {
		tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s%s%s: missing", ld->path, where, dot,
			   key);
		return NULL;
	}
	if (!is_kind(v, k)) {
		tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s%s%s: expected %s, got %s", ld->path,
			   where, dot, key, kind_name(k), json_kind_name(v));
		return NULL;
	}
	return v;
}

static int get_str(struct loader *ld, json_t *obj, const char *where, const char *key, char *dst,
		   size_t size)
{
	json_t *v = member(ld, obj, where, key, K_STRING);

	if (!v)
		return -1;
	copy_str(dst, size, json_string_value(v));
	return 0;
}

/* An integer within [@min, @max]. */
static int get_int(struct loader *ld, json_t *obj, const char *where, const char *key,
		   json_int_t min, json_int_t max, json_int_t *out)
{
	json_t *v = member(ld, obj, where, key, K_INTEGER);

	if (!v)
		return -1;
	*out = json_integer_value(v);
	if (*out < min || *out > max)
		return tb_err_set(ld->err, TB_EXIT_USAGE,
				  "%s: %s%s%s: %" JSON_INTEGER_FORMAT " is out of range", ld->path,
				  where, where[0] ? "." : "", key, *out);
	return 0;
}

static int get_bool(struct loader *ld, json_t *obj, const char *where, const char *key, bool *out)
{
	json_t *v = member(ld, obj, where, key, K_BOOL);

	if (!v)
		return -1;
	*out = json_is_true(v);
	return 0;
}

static int load_takeover(struct loader *ld, json_t *jrep, const char *where,
			 struct repetition *rep)
{
	json_t *t = member(ld, jrep, where, "takeover", K_OBJECT);
	json_int_t cpus, kb;
	char twhere[64];

	if (!t)
		return -1;
	snprintf(twhere, sizeof(twhere), "%s.takeover", where);
	if (get_int(ld, t, twhere, "cpus", 0, INT_MAX, &cpus) ||
	    get_int(ld, t, twhere, "memtotal_kb", 0, INT64_MAX, &kb))
		return -1;
	rep->takeover_cpus = (int)cpus;
	rep->takeover_memtotal_kb = kb;
	return 0;
}

static int load_side(struct loader *ld, json_t *obj, const char *where, const char *key,
		     struct breakdown_side *side)
{
	json_t *list = member(ld, obj, where, key, K_ARRAY), *item;
	char swhere[128], iwhere[160];
	json_int_t ns;
	size_t i;

	if (!list)
		return -1;
	snprintf(swhere, sizeof(swhere), "%s.%s", where, key);
	if (json_array_size(list) > BREAKDOWN_MAX_STEPS)
		return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s: more than %d steps", ld->path,
				  swhere, BREAKDOWN_MAX_STEPS);
	json_array_foreach(list, i, item)
	{
		snprintf(iwhere, sizeof(iwhere), "%s[%zu]", swhere, i);
		if (!json_is_object(item))
			return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s: expected %s, got %s",
					  ld->path, iwhere, kind_name(K_OBJECT),
					  json_kind_name(item));
		if (get_str(ld, item, iwhere, "step", side->name[i], sizeof(side->name[i])) ||
		    get_int(ld, item, iwhere, "ns", 0, INT64_MAX, &ns))
			return -1;
		side->ns[i] = ns;
		side->nsteps = (int)i + 1;
	}
	return 0;
}

static int load_breakdowns(struct loader *ld, json_t *jrep, const char *where,
			   struct repetition *rep)
{
	json_t *list = member(ld, jrep, where, "handoff_breakdowns", K_ARRAY), *item;
	char iwhere[128];
	size_t i;

	if (!list)
		return -1;
	if (json_array_size(list) > RESULTS_MAX_ROUNDS)
		return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s.handoff_breakdowns: more than %d",
				  ld->path, where, RESULTS_MAX_ROUNDS);
	json_array_foreach(list, i, item)
	{
		snprintf(iwhere, sizeof(iwhere), "%s.handoff_breakdowns[%zu]", where, i);
		if (!json_is_object(item))
			return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s: expected %s, got %s",
					  ld->path, iwhere, kind_name(K_OBJECT),
					  json_kind_name(item));
		rep->breakdowns[i].rest.nsteps = 0;
		if (load_side(ld, item, iwhere, "a", &rep->breakdowns[i].a) ||
		    load_side(ld, item, iwhere, "b", &rep->breakdowns[i].b) ||
		    (json_object_get(item, "takeover") &&
		     load_side(ld, item, iwhere, "takeover", &rep->breakdowns[i].rest)))
			return -1;
		rep->nbreakdowns = (int)i + 1;
	}
	return 0;
}

static int load_tool_stats(struct loader *ld, json_t *jrep, const char *where,
			   struct repetition *rep)
{
	json_t *list = member(ld, jrep, where, "tool_stats", K_ARRAY), *item, *figures, *v;
	char iwhere[128], fwhere[160];
	const char *key;
	size_t i;

	if (!list)
		return -1;
	if (json_array_size(list) > RESULTS_MAX_TOOL_STATS)
		return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s.tool_stats: more than %d", ld->path,
				  where, RESULTS_MAX_TOOL_STATS);
	json_array_foreach(list, i, item)
	{
		struct tool_stats *ts = &rep->tool_stats[i];

		snprintf(iwhere, sizeof(iwhere), "%s.tool_stats[%zu]", where, i);
		if (!json_is_object(item))
			return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s: expected %s, got %s",
					  ld->path, iwhere, kind_name(K_OBJECT),
					  json_kind_name(item));
		if (get_str(ld, item, iwhere, "tool", ts->name, sizeof(ts->name)))
			return -1;
		figures = member(ld, item, iwhere, "figures", K_OBJECT);
		if (!figures)
			return -1;
		snprintf(fwhere, sizeof(fwhere), "%s.figures", iwhere);
		if (json_object_size(figures) > TOOL_STATS_MAX_KEYS)
			return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s: more than %d figures",
					  ld->path, fwhere, TOOL_STATS_MAX_KEYS);
		ts->n = 0;
		json_object_foreach(figures, key, v)
		{
			json_int_t n;

			if (strlen(key) >= sizeof(ts->key[0]))
				return tb_err_set(ld->err, TB_EXIT_USAGE,
						  "%s: %s: a name longer than %zu bytes", ld->path,
						  fwhere, sizeof(ts->key[0]) - 1);
			if (get_int(ld, figures, fwhere, key, 0, INT64_MAX, &n))
				return -1;
			snprintf(ts->key[ts->n], sizeof(ts->key[0]), "%s", key);
			ts->value[ts->n++] = n;
		}
		rep->ntool_stats = (int)i + 1;
	}
	return 0;
}

static int load_reconnects(struct loader *ld, json_t *jrep, const char *where,
			   struct repetition *rep)
{
	json_t *o = member(ld, jrep, where, "console_reconnects", K_OBJECT);
	char cwhere[64];
	json_int_t a, b;

	if (!o)
		return -1;
	snprintf(cwhere, sizeof(cwhere), "%s.console_reconnects", where);
	if (get_int(ld, o, cwhere, "a", 0, INT_MAX, &a) || get_int(ld, o, cwhere, "b", 0, INT_MAX, &b))
		return -1;
	rep->console_reconnects[0] = (int)a;
	rep->console_reconnects[1] = (int)b;
	return 0;
}

/* environment.images.kernel_old or kernel_new. */
static int load_kernel(struct loader *ld, json_t *images, const char *key, struct run_kernel *k)
{
	json_t *o = member(ld, images, "environment.images", key, K_OBJECT);
	char where[64];
	json_int_t v;

	if (!o)
		return -1;
	snprintf(where, sizeof(where), "environment.images.%s", key);
	if (get_str(ld, o, where, "path", k->image, sizeof(k->image)) ||
	    get_str(ld, o, where, "sha256", k->sha256, sizeof(k->sha256)) ||
	    get_int(ld, o, where, "initrd_bytes", 0, INT64_MAX, &v))
		return -1;
	/* Checked on the JSON string: a longer one must not pass by being truncated. */
	if (!sha256_hex_ok(json_string_value(json_object_get(o, "sha256")), 66))
		return tb_err_set(ld->err, TB_EXIT_USAGE,
				  "%s: %s.sha256: expected \"\" or 64 lowercase hex digits",
				  ld->path, where);
	k->initrd_bytes = v;
	return 0;
}

/*
 * environment.guest and environment.images: what was booted.  Added after
 * twinbench-run/1 was first written, so each object is optional; when
 * there, every key in it is required.
 */
static int load_boot(struct loader *ld, json_t *env, struct run_info *info)
{
	json_t *guest, *images;
	json_int_t v;

	if (json_object_get(env, "guest")) {
		guest = member(ld, env, "environment", "guest", K_OBJECT);
		if (!guest || get_int(ld, guest, "environment.guest", "memory_mib", 0, INT_MAX, &v))
			return -1;
		info->guest_memory_mib = (int)v;
		if (get_int(ld, guest, "environment.guest", "vcpus", 0, INT_MAX, &v))
			return -1;
		info->guest_vcpus = (int)v;
	}
	if (json_object_get(env, "standby")) {
		json_t *sb = member(ld, env, "environment", "standby", K_OBJECT);

		if (!sb ||
		    get_int(ld, sb, "environment.standby", "memory_mib", 1, INT_MAX, &v))
			return -1;
		info->standby_memory_mib = (int)v;
		if (get_int(ld, sb, "environment.standby", "vcpus", 1, INT_MAX, &v))
			return -1;
		info->standby_vcpus = (int)v;
	}
	if (json_object_get(env, "images")) {
		images = member(ld, env, "environment", "images", K_OBJECT);
		if (!images || load_kernel(ld, images, "kernel_old", &info->boot_old) ||
		    load_kernel(ld, images, "kernel_new", &info->boot_new) ||
		    get_str(ld, images, "environment.images", "rootfs", info->rootfs,
			    sizeof(info->rootfs)))
			return -1;
	}
	return 0;
}

static int load_info(struct loader *ld, json_t *root, struct run_info *info)
{
	json_t *scenario, *env, *probe;
	json_int_t v;

	scenario = member(ld, root, "", "scenario", K_OBJECT);
	if (!scenario ||
	    get_str(ld, scenario, "scenario", "name", info->scenario, sizeof(info->scenario)) ||
	    get_str(ld, scenario, "scenario", "path", info->scenario_path,
		    sizeof(info->scenario_path)) ||
	    get_str(ld, scenario, "scenario", "method", info->method, sizeof(info->method)) ||
	    get_int(ld, scenario, "scenario", "repetitions", 0, INT_MAX, &v))
		return -1;
	/* Older runs did not name the method file. */
	if (json_object_get(scenario, "method_file") &&
	    get_str(ld, scenario, "scenario", "method_file", info->method_file,
		    sizeof(info->method_file)))
		return -1;
	info->repetitions = (int)v;
	if (get_str(ld, root, "", "started", info->started, sizeof(info->started)))
		return -1;
	env = member(ld, root, "", "environment", K_OBJECT);
	if (!env || get_str(ld, env, "environment", "accel", info->accel, sizeof(info->accel)) ||
	    get_str(ld, env, "environment", "qemu", info->qemu_version,
		    sizeof(info->qemu_version)) ||
	    get_str(ld, env, "environment", "libvirt", info->libvirt_version,
		    sizeof(info->libvirt_version)) ||
	    get_str(ld, env, "environment", "host_kernel", info->host_kernel,
		    sizeof(info->host_kernel)) ||
	    get_str(ld, env, "environment", "kernel_old", info->kernel_old,
		    sizeof(info->kernel_old)) ||
	    get_str(ld, env, "environment", "kernel_new", info->kernel_new,
		    sizeof(info->kernel_new)) ||
	    load_boot(ld, env, info))
		return -1;
	probe = member(ld, root, "", "probe", K_OBJECT);
	if (!probe || get_int(ld, probe, "probe", "interval_ns", 0, INT64_MAX, &v))
		return -1;
	info->probe_interval_ns = v;
	return 0;
}

static int load_phases(struct loader *ld, json_t *jrep, const char *where, struct repetition *rep)
{
	char pwhere[96];
	json_t *a;
	size_t i;

	a = member(ld, jrep, where, "phases", K_ARRAY);
	if (!a)
		return -1;
	if (json_array_size(a) > RESULTS_MAX_PHASES)
		return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s.phases: more than %d phases",
				  ld->path, where, RESULTS_MAX_PHASES);
	for (i = 0; i < json_array_size(a); i++) {
		json_t *p = json_array_get(a, i);
		json_int_t t;

		snprintf(pwhere, sizeof(pwhere), "%s.phases[%zu]", where, i);
		if (!json_is_object(p))
			return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s: expected %s, got %s",
					  ld->path, pwhere, kind_name(K_OBJECT), json_kind_name(p));
		if (get_str(ld, p, pwhere, "name", rep->phases[i].name,
			    sizeof(rep->phases[i].name)) ||
		    get_int(ld, p, pwhere, "t_ns", INT64_MIN, INT64_MAX, &t))
			return -1;
		rep->phases[i].t_ns = t;
	}
	rep->nphases = (int)json_array_size(a);
	return 0;
}

/* The "before" or "after" snapshot of the guest. */
static int load_snapshot(struct loader *ld, json_t *jrep, const char *where, const char *key,
			 char *release, size_t release_size, char *boot_id, size_t boot_id_size,
			 uint64_t *counter)
{
	char swhere[96];
	json_int_t v;
	json_t *s;

	s = member(ld, jrep, where, key, K_OBJECT);
	if (!s)
		return -1;
	snprintf(swhere, sizeof(swhere), "%s.%s", where, key);
	if (get_str(ld, s, swhere, "release", release, release_size) ||
	    get_str(ld, s, swhere, "boot_id", boot_id, boot_id_size) ||
	    get_int(ld, s, swhere, "counter", 0, INT64_MAX, &v))
		return -1;
	*counter = (uint64_t)v;
	return 0;
}

/* "rounds": the handoffs of a chain of twin upgrades. */
static int load_rounds(struct loader *ld, json_t *jrep, const char *where, struct repetition *rep)
{
	json_t *a = member(ld, jrep, where, "rounds", K_ARRAY);
	char rwhere[96];
	size_t i;
	json_t *o;

	if (!a)
		return -1;
	if (json_array_size(a) > RESULTS_MAX_ROUNDS)
		return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s.rounds: more than %d rounds",
				  ld->path, where, RESULTS_MAX_ROUNDS);
	json_array_foreach(a, i, o) {
		struct handoff_round *h = &rep->rounds[i];
		json_int_t v;

		snprintf(rwhere, sizeof(rwhere), "%s.rounds[%zu]", where, i);
		if (!json_is_object(o))
			return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s: expected %s, got %s",
					  ld->path, rwhere, kind_name(K_OBJECT), json_kind_name(o));
		if (get_bool(ld, o, rwhere, "measured", &h->measured) ||
		    get_bool(ld, o, rwhere, "verified", &h->verified) ||
		    get_int(ld, o, rwhere, "downtime_ns", INT64_MIN, INT64_MAX, &v))
			return -1;
		h->downtime_ns = v;
		if (load_snapshot(ld, o, rwhere, "before", h->release_before,
				  sizeof(h->release_before), h->boot_id_before,
				  sizeof(h->boot_id_before), &h->counter_before) ||
		    load_snapshot(ld, o, rwhere, "after", h->release_after,
				  sizeof(h->release_after), h->boot_id_after, sizeof(h->boot_id_after),
				  &h->counter_after))
			return -1;
	}
	rep->nrounds = (int)json_array_size(a);
	return 0;
}

/* The quiet window: {"from_ns", "window_ns", "gaps", "longest_ns"}. */
static int load_quiet(struct loader *ld, json_t *jrep, const char *where, struct repetition *rep)
{
	json_t *q = member(ld, jrep, where, "quiet", K_OBJECT);
	char qwhere[96];
	json_int_t from, len, gaps, longest;

	if (!q)
		return -1;
	snprintf(qwhere, sizeof(qwhere), "%s.quiet", where);
	if (get_int(ld, q, qwhere, "from_ns", INT64_MIN, INT64_MAX, &from) ||
	    get_int(ld, q, qwhere, "window_ns", 1, INT64_MAX, &len) ||
	    get_int(ld, q, qwhere, "gaps", 0, INT_MAX, &gaps) ||
	    get_int(ld, q, qwhere, "longest_ns", 0, len, &longest))
		return -1;
	rep->quiet_from_ns = from;
	rep->quiet_ns = len;
	rep->quiet_gaps = (int)gaps;
	rep->quiet_longest_ns = longest;
	return 0;
}

static int load_gaps(struct loader *ld, json_t *jrep, const char *where, struct repetition *rep)
{
	json_t *g = member(ld, jrep, where, "gaps", K_OBJECT), *list, *item;
	char gwhere[96], iwhere[128];
	json_int_t v;
	size_t i;

	if (!g)
		return -1;
	snprintf(gwhere, sizeof(gwhere), "%s.gaps", where);
	if (get_int(ld, g, gwhere, "unavailable_ns", 0, INT64_MAX, &v))
		return -1;
	rep->unavailable_ns = v;
	if (get_int(ld, g, gwhere, "found", 0, INT_MAX, &v))
		return -1;
	rep->gaps_found = (int)v;
	list = member(ld, g, gwhere, "list", K_ARRAY);
	if (!list)
		return -1;
	if (json_array_size(list) > RESULTS_MAX_GAPS)
		return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s.list: more than %d gaps",
				  ld->path, gwhere, RESULTS_MAX_GAPS);
	json_array_foreach(list, i, item)
	{
		struct rep_gap *gap = &rep->gaps[i];
		json_int_t s, e;

		snprintf(iwhere, sizeof(iwhere), "%s.list[%zu]", gwhere, i);
		if (!json_is_object(item))
			return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s: expected %s, got %s",
					  ld->path, iwhere, kind_name(K_OBJECT),
					  json_kind_name(item));
		if (get_int(ld, item, iwhere, "start_ns", INT64_MIN, INT64_MAX, &s) ||
		    get_int(ld, item, iwhere, "end_ns", s, INT64_MAX, &e) ||
		    get_bool(ld, item, iwhere, "open", &gap->open) ||
		    get_str(ld, item, iwhere, "phase", gap->phase, sizeof(gap->phase)))
			return -1;
		gap->start_ns = s;
		gap->end_ns = e;
		rep->ngaps = (int)i + 1;
	}
	return 0;
}

static int load_capture(struct loader *ld, json_t *jrep, const char *where,
			struct repetition *rep)
{
	json_t *c = member(ld, jrep, where, "capture", K_OBJECT);
	char cwhere[96];
	json_int_t v;

	if (!c)
		return -1;
	snprintf(cwhere, sizeof(cwhere), "%s.capture", where);
	if (get_bool(ld, c, cwhere, "analysed", &rep->captured) ||
	    get_int(ld, c, cwhere, "downtime_ns", INT64_MIN, INT64_MAX, &v) ||
	    get_bool(ld, c, cwhere, "agrees", &rep->capture_agrees) ||
	    get_str(ld, c, cwhere, "note", rep->capture_note, sizeof(rep->capture_note)))
		return -1;
	rep->capture_downtime_ns = v;
	return 0;
}

static int load_rep(struct loader *ld, json_t *jrep, const char *where, struct repetition *rep)
{
	char pwhere[96];
	json_t *error, *probe, *consoles;
	json_int_t v;

	if (!json_is_object(jrep))
		return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: %s: expected %s, got %s", ld->path,
				  where, kind_name(K_OBJECT), json_kind_name(jrep));
	if (get_int(ld, jrep, where, "index", INT_MIN, INT_MAX, &v))
		return -1;
	rep->index = (int)v;
	if (get_bool(ld, jrep, where, "ok", &rep->ok))
		return -1;
	error = member(ld, jrep, where, "error", K_STRING_OR_NULL);
	if (!error)
		return -1;
	copy_str(rep->error, sizeof(rep->error),
		 json_is_null(error) ? "" : json_string_value(error));
	if (load_phases(ld, jrep, where, rep) ||
	    get_bool(ld, jrep, where, "measured", &rep->measured))
		return -1;
	if (get_int(ld, jrep, where, "downtime_ns", INT64_MIN, INT64_MAX, &v))
		return -1;
	rep->downtime_ns = v;
	if (get_int(ld, jrep, where, "maintenance_ns", INT64_MIN, INT64_MAX, &v))
		return -1;
	rep->maintenance_ns = v;
	probe = member(ld, jrep, where, "probe", K_OBJECT);
	if (!probe)
		return -1;
	snprintf(pwhere, sizeof(pwhere), "%s.probe", where);
	if (get_int(ld, probe, pwhere, "sent", 0, INT64_MAX, &v))
		return -1;
	rep->sent = (uint64_t)v;
	if (get_int(ld, probe, pwhere, "lost", 0, INT64_MAX, &v))
		return -1;
	rep->lost = (uint64_t)v;
	if (get_bool(ld, jrep, where, "verified", &rep->verified) ||
	    get_bool(ld, jrep, where, "boot_changed", &rep->boot_changed) ||
	    get_bool(ld, jrep, where, "release_ok", &rep->release_ok) ||
	    get_bool(ld, jrep, where, "state_continued", &rep->state_continued))
		return -1;
	if (load_snapshot(ld, jrep, where, "before", rep->release_before,
			  sizeof(rep->release_before), rep->boot_id_before,
			  sizeof(rep->boot_id_before), &rep->counter_before) ||
	    load_snapshot(ld, jrep, where, "after", rep->release_after, sizeof(rep->release_after),
			  rep->boot_id_after, sizeof(rep->boot_id_after), &rep->counter_after))
		return -1;
	/* Added after twinbench-run/1 was first written: optional, so older runs still load. */
	if (json_object_get(jrep, "alive_at_end") &&
	    get_bool(ld, jrep, where, "alive_at_end", &rep->alive_at_end))
		return -1;
	if (json_object_get(jrep, "console_release")) {
		consoles = member(ld, jrep, where, "console_release", K_OBJECT);
		if (!consoles)
			return -1;
		snprintf(pwhere, sizeof(pwhere), "%s.console_release", where);
		if (get_str(ld, consoles, pwhere, "a", rep->console_release[0],
			    sizeof(rep->console_release[0])) ||
		    get_str(ld, consoles, pwhere, "b", rep->console_release[1],
			    sizeof(rep->console_release[1])))
			return -1;
	}
	if (json_object_get(jrep, "takeover") && load_takeover(ld, jrep, where, rep))
		return -1;
	if (json_object_get(probe, "interval_median_ns")) {
		snprintf(pwhere, sizeof(pwhere), "%s.probe", where);
		if (get_int(ld, probe, pwhere, "interval_median_ns", 0, INT64_MAX, &v))
			return -1;
		rep->interval_median_ns = v;
		if (get_int(ld, probe, pwhere, "interval_p99_ns", 0, INT64_MAX, &v))
			return -1;
		rep->interval_p99_ns = v;
	}
	if (json_object_get(jrep, "standby_ns")) {
		if (get_int(ld, jrep, where, "standby_ns", 1, INT64_MAX, &v))
			return -1;
		rep->standby_ns = v;
	}
	if (json_object_get(jrep, "gaps") && load_gaps(ld, jrep, where, rep))
		return -1;
	if (json_object_get(jrep, "quiet") && load_quiet(ld, jrep, where, rep))
		return -1;
	if (json_object_get(jrep, "capture") && load_capture(ld, jrep, where, rep))
		return -1;
	if (json_object_get(jrep, "tool_stats") && load_tool_stats(ld, jrep, where, rep))
		return -1;
	if (json_object_get(jrep, "console_reconnects") && load_reconnects(ld, jrep, where, rep))
		return -1;
	if (json_object_get(jrep, "handoff_breakdowns") && load_breakdowns(ld, jrep, where, rep))
		return -1;
	return json_object_get(jrep, "rounds") ? load_rounds(ld, jrep, where, rep) : 0;
}

int results_load(const char *run_json, struct run_info *info, struct repetition **reps, size_t *n,
		 struct tb_err *err)
{
	struct loader ld = {.path = run_json, .err = err};
	struct repetition *out = NULL;
	struct run_info in = {0};
	json_t *root, *format, *a;
	struct jsonfile jf;
	size_t i, nreps;

	*reps = NULL;
	*n = 0;
	if (jsonfile_load(run_json, RESULTS_JSON_MAX_BYTES, "a run.json", &jf, err))
		return -1;
	root = jf.root;
	if (!json_is_object(root)) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: expected an object, got %s", run_json,
			   json_kind_name(root));
		goto err;
	}
	format = member(&ld, root, "", "format", K_STRING);
	if (!format)
		goto err;
	if (strcmp(json_string_value(format), RESULTS_FORMAT)) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: format: \"%s\" is not \"%s\"", run_json,
			   json_string_value(format), RESULTS_FORMAT);
		goto err;
	}
	if (load_info(&ld, root, &in))
		goto err;
	a = member(&ld, root, "", "repetitions", K_ARRAY);
	if (!a)
		goto err;
	nreps = json_array_size(a);
	/* No repetitions yet (a run that just started) is NULL, not malloc(0). */
	if (nreps) {
		out = calloc(nreps, sizeof(*out));
		if (!out) {
			tb_err_set(err, TB_EXIT_ENV, "%s: out of memory", run_json);
			goto err;
		}
	}
	for (i = 0; out && i < nreps; i++) {
		char where[32];

		snprintf(where, sizeof(where), "repetitions[%zu]", i);
		if (load_rep(&ld, json_array_get(a, i), where, &out[i]))
			goto err;
	}
	*info = in;
	*reps = out;
	*n = nreps;
	jsonfile_free(&jf);
	return 0;
err:
	free(out);
	jsonfile_free(&jf);
	return -1;
}
