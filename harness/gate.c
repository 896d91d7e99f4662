/*
 * gate.c - baseline files, the per-scenario comparison, JUnit and Markdown
 * verdicts.
 *
 * jansson keeps no positions for values, only for syntax errors.  So that
 * a baseline with a wrong value is reported at FILE:LINE:COLUMN like every
 * other input of twinbench, the loader keeps the JSON path of what it is
 * looking at and, on error, walks the file's text along that path to find
 * where the value starts (locate()).  The text is known to be valid JSON
 * by then, which keeps that walk small.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libxml/tree.h>

#include "atomicfile.h"
#include "duration.h"
#include "gate.h"
#include "jsonfile.h"
#include "jsonkind.h"
#include "markdown.h"
#include "stats.h"
#include "xmlfile.h"

/* Baselines are a few kilobytes; anything this big is not one. */
#define BASELINE_MAX_BYTES (16 << 20)
/* Default absolute threshold: this many probe intervals (the downtime's resolution). */
#define ABSOLUTE_INTERVALS 10
#define RELATIVE_DEFAULT   0.10

const char *gate_metric_name(enum gate_metric m)
{
	switch (m) {
	case GATE_DOWNTIME:
		return "downtime_ns";
	case GATE_MAINTENANCE:
		return "maintenance_ns";
	case GATE_UNAVAILABLE:
		return "unavailable_ns";
	case GATE_VERIFIED:
		return "verified";
	case GATE_CAPTURE:
		return "capture";
	}
	abort();
}

/* What people call the metric. */
static const char *metric_label(enum gate_metric m)
{
	switch (m) {
	case GATE_DOWNTIME:
		return "downtime";
	case GATE_MAINTENANCE:
		return "maintenance window";
	case GATE_UNAVAILABLE:
		return "unavailable";
	case GATE_VERIFIED:
		return "verified";
	case GATE_CAPTURE:
		return "capture";
	}
	abort();
}

/* ---- positions in the JSON text ---------------------------------------- */

struct seg {
	const char *key; /* NULL: an array index */
	size_t index;
};

struct jcur {
	const char *s;
	size_t len, i;
	bool want_key; /* the last step's key, not its value (unknown keys) */
};

static void jws(struct jcur *c)
{
	while (c->i < c->len && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\r' ||
				 c->s[c->i] == '\n'))
		c->i++;
}

/* At a '"': past the closing quote. */
static bool jskip_string(struct jcur *c)
{
	if (c->i >= c->len || c->s[c->i] != '"')
		return false;
	for (c->i++; c->i < c->len;) {
		char ch = c->s[c->i++];

		if (ch == '\\')
			c->i++;
		else if (ch == '"')
			return true;
	}
	return false;
}

static bool jskip_value(struct jcur *c)
{
	char close;

	jws(c);
	if (c->i >= c->len)
		return false;
	if (c->s[c->i] == '"')
		return jskip_string(c);
	if (c->s[c->i] != '{' && c->s[c->i] != '[') {
		/* number, true, false, null */
		while (c->i < c->len && !strchr(",]} \t\r\n", c->s[c->i]))
			c->i++;
		return true;
	}
	close = c->s[c->i] == '{' ? '}' : ']';
	c->i++;
	jws(c);
	if (c->i < c->len && c->s[c->i] == close) {
		c->i++;
		return true;
	}
	for (;;) {
		if (close == '}') {
			jws(c);
			if (!jskip_string(c))
				return false;
			jws(c);
			if (c->i >= c->len || c->s[c->i] != ':')
				return false;
			c->i++;
		}
		if (!jskip_value(c))
			return false;
		jws(c);
		if (c->i >= c->len)
			return false;
		if (c->s[c->i] == ',') {
			c->i++;
			continue;
		}
		if (c->s[c->i] == close) {
			c->i++;
			return true;
		}
		return false;
	}
}

/*
 * Offset of the value at @path, or of the deepest object or array on the
 * way that lacks the next step (a missing key is reported at its object).
 */
static size_t locate(struct jcur *c, const struct seg *path, size_t depth)
{
	size_t start, n;

	jws(c);
	start = c->i;
	if (!depth || c->i >= c->len)
		return start;
	if (c->s[start] == '{' && path->key) {
		c->i++;
		jws(c);
		while (c->i < c->len && c->s[c->i] == '"') {
			size_t k = c->i + 1, klen;

			if (!jskip_string(c))
				return start;
			klen = c->i - 1 - k;
			jws(c);
			if (c->i >= c->len || c->s[c->i] != ':')
				return start;
			c->i++;
			/* Raw bytes: a key written with escapes is not found, and its object is
			 * named. */
			if (strlen(path->key) == klen && !memcmp(c->s + k, path->key, klen))
				return depth == 1 && c->want_key ? k - 1
								 : locate(c, path + 1, depth - 1);
			if (!jskip_value(c))
				return start;
			jws(c);
			if (c->i >= c->len || c->s[c->i] != ',')
				break;
			c->i++;
			jws(c);
		}
		return start;
	}
	if (c->s[start] == '[' && !path->key) {
		c->i++;
		for (n = 0;; n++) {
			jws(c);
			if (n == path->index)
				return locate(c, path + 1, depth - 1);
			if (!jskip_value(c))
				return start;
			jws(c);
			if (c->i >= c->len || c->s[c->i] != ',')
				return start;
			c->i++;
		}
	}
	return start;
}

/* ---- loading ----------------------------------------------------------- */

#define MAX_DEPTH 8

struct loader {
	const char *path;
	const char *text;
	size_t len;
	struct seg stack[MAX_DEPTH];
	size_t depth;
	bool at_key;
	struct tb_err *err;
};

static void push(struct loader *ld, const char *key)
{
	if (ld->depth < MAX_DEPTH)
		ld->stack[ld->depth] = (struct seg){key, 0};
	ld->depth++;
}

static void push_index(struct loader *ld, size_t index)
{
	if (ld->depth < MAX_DEPTH)
		ld->stack[ld->depth] = (struct seg){NULL, index};
	ld->depth++;
}

static void pop(struct loader *ld)
{
	ld->depth--;
}

/*
 * An error at the current path: FILE:LINE:COLUMN: PATH: message.  The
 * position is the value's, or the key's when the loader says the key itself
 * is wrong (ld->at_key).
 */
static int __attribute__((format(printf, 2, 3))) bad(struct loader *ld, const char *fmt, ...)
{
	struct jcur c = {ld->text, ld->len, 0, ld->at_key};
	size_t depth = ld->depth < MAX_DEPTH ? ld->depth : MAX_DEPTH, off, i, used = 0;
	char where[256] = "", msg[1024];
	int line = 1, col = 1;
	va_list ap;

	off = locate(&c, ld->stack, depth);
	for (i = 0; i < off && i < ld->len; i++) {
		if (ld->text[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)ld->text[i] & 0xc0) != 0x80) {
			col++; /* columns count characters, as jansson's do */
		}
	}
	for (i = 0; i < depth && used < sizeof(where); i++) {
		if (ld->stack[i].key)
			used += (size_t)snprintf(where + used, sizeof(where) - used, "%s%s",
						 i ? "." : "", ld->stack[i].key);
		else
			used += (size_t)snprintf(where + used, sizeof(where) - used, "[%zu]",
						 ld->stack[i].index);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return tb_err_set(ld->err, TB_EXIT_USAGE, "%s:%d:%d: %s%s%s", ld->path, line, col, where,
			  where[0] ? ": " : "", msg);
}

/* Every key of @obj must be one of @allowed (NULL-terminated): typos are errors, not defaults. */
static int check_keys(struct loader *ld, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		size_t i;
		char list[256] = "";

		for (i = 0; allowed[i] && strcmp(allowed[i], key); i++)
			;
		if (allowed[i])
			continue;
		for (i = 0; allowed[i]; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 i ? ", " : "", allowed[i]);
		push(ld, key);
		ld->at_key = true;
		bad(ld, "unknown key (expected %s)", list);
		ld->at_key = false;
		pop(ld);
		return -1;
	}
	return 0;
}

/*
 * Member @key of @obj: NULL if absent (an error when @required) or with the
 * error set when it is not of @type (JSON_INTEGER accepts any number).
 */
static json_t *member(struct loader *ld, json_t *obj, const char *key, bool required,
		      json_type type, const char *what, bool *failed)
{
	json_t *v = json_object_get(obj, key);
	bool ok;

	*failed = false;
	if (!v) {
		if (required) {
			bad(ld, "missing \"%s\" (%s)", key, what);
			*failed = true;
		}
		return NULL;
	}
	ok = type == JSON_INTEGER || type == JSON_REAL ? json_is_number(v) : json_typeof(v) == type;
	if (!ok) {
		push(ld, key);
		bad(ld, "expected %s, got %s", what, json_kind_name(v));
		pop(ld);
		*failed = true;
		return NULL;
	}
	return v;
}

/* A number in [@min, @max] at @key; absent leaves *@out as is unless @required. */
static int get_number(struct loader *ld, json_t *obj, const char *key, bool required, double min,
		      double max, const char *what, double *out)
{
	bool failed;
	json_t *v = member(ld, obj, key, required, JSON_REAL, what, &failed);
	double x;

	if (failed)
		return -1;
	if (!v)
		return 0;
	x = json_number_value(v);
	if (!(x >= min && x <= max)) {
		push(ld, key);
		bad(ld, "%g is out of range (%s)", x, what);
		pop(ld);
		return -1;
	}
	*out = x;
	return 0;
}

static int load_timing(struct loader *ld, json_t *obj, struct gate_timing *t)
{
	static const char *const keys[] = {"median", "values", "thresholds", NULL};
	static const char *const tkeys[] = {"relative", "absolute_ns", NULL};
	json_t *values, *th, *v;
	double abs_ns = 0;
	bool failed;
	size_t i;

	if (check_keys(ld, obj, keys) ||
	    get_number(ld, obj, "median", true, 0, 1e18, "a duration in ns, >= 0", &t->median))
		return -1;
	values =
	    member(ld, obj, "values", false, JSON_ARRAY, "an array of durations in ns", &failed);
	if (failed)
		return -1;
	if (values && json_array_size(values)) {
		t->values = calloc(json_array_size(values), sizeof(*t->values));
		if (!t->values)
			return tb_err_set(ld->err, TB_EXIT_ENV, "out of memory");
		push(ld, "values");
		json_array_foreach(values, i, v)
		{
			push_index(ld, i);
			if (!json_is_number(v))
				return bad(ld, "expected a duration in ns, got %s", json_kind_name(v));
			if (!(json_number_value(v) >= 0))
				return bad(ld, "%g is negative (a duration in ns)",
					   json_number_value(v));
			pop(ld);
			t->values[t->nvalues++] = json_number_value(v);
		}
		pop(ld);
	}
	th = member(ld, obj, "thresholds", true, JSON_OBJECT,
		    "an object: {\"relative\": 0.1, \"absolute_ns\": 10000000}", &failed);
	if (failed)
		return -1;
	push(ld, "thresholds");
	if (check_keys(ld, th, tkeys) ||
	    get_number(ld, th, "relative", true, 0, 1e6, "a fraction of the median, >= 0",
		       &t->relative) ||
	    get_number(ld, th, "absolute_ns", true, 0, 1e18, "a duration in ns, >= 0", &abs_ns))
		return -1;
	pop(ld);
	t->absolute_ns = (int64_t)llround(abs_ns);
	t->present = true;
	return 0;
}

/* A string at @key that fits @size bytes; absent leaves @dst as is unless @required. */
static int get_string(struct loader *ld, json_t *obj, const char *key, bool required, char *dst,
		      size_t size)
{
	bool failed;
	json_t *v = member(ld, obj, key, required, JSON_STRING, "a string", &failed);

	if (failed)
		return -1;
	if (!v)
		return 0;
	if (strlen(json_string_value(v)) >= size) {
		push(ld, key);
		bad(ld, "longer than %zu characters", size - 1);
		pop(ld);
		return -1;
	}
	snprintf(dst, size, "%s", json_string_value(v));
	return 0;
}

/* What a /2 entry ran: every key required, "" or 0 where the runs did not record it. */
static int load_key(struct loader *ld, json_t *obj, struct scenario_key *k)
{
	double mem = 0, cpus = 0;

	if (get_string(ld, obj, "method", true, k->method, sizeof(k->method)) ||
	    get_string(ld, obj, "kernel_old", true, k->kernel_old, sizeof(k->kernel_old)) ||
	    get_string(ld, obj, "kernel_new", true, k->kernel_new, sizeof(k->kernel_new)) ||
	    get_number(ld, obj, "memory_mib", true, 0, INT_MAX, "MiB, 0 if not recorded", &mem) ||
	    get_number(ld, obj, "vcpus", true, 0, INT_MAX, "a count, 0 if not recorded", &cpus) ||
	    get_string(ld, obj, "accel", true, k->accel, sizeof(k->accel)))
		return -1;
	if (mem != floor(mem) || cpus != floor(cpus)) {
		push(ld, mem != floor(mem) ? "memory_mib" : "vcpus");
		bad(ld, "expected a whole number");
		pop(ld);
		return -1;
	}
	k->memory_mib = (int)mem;
	k->vcpus = (int)cpus;
	return 0;
}

/*
 * One entry: "scenarios".NAME of a /2 file, or "methods".NAME of a /1
 * file, where @env is what the file's environment says of every entry.
 */
static int load_entry(struct loader *ld, int version, const char *name, json_t *obj,
		      const struct scenario_key *env, struct gate_baseline_entry *m)
{
	static const char *const keys_v1[] = {"repetitions",	"verified", "downtime_ns",
					      "maintenance_ns", "comment",  NULL};
	static const char *const keys_v2[] = {
	    "method",	      "kernel_old",  "kernel_new", "memory_mib",  "vcpus",
	    "accel",	      "repetitions", "verified",   "downtime_ns", "maintenance_ns",
	    "unavailable_ns", "comment",     NULL};
	static const char *const vkeys[] = {"ratio", "min_ratio", NULL};
	const char *const *keys = version == 1 ? keys_v1 : keys_v2;
	double reps = 0;
	json_t *verified;
	bool failed;
	int k;

	if (version == 1) {
		if (strlen(name) >= sizeof(m->key.method) || !name[0])
			return bad(ld, "a method name of 1 to %zu characters",
				   sizeof(m->key.method) - 1);
		m->key = *env;
		snprintf(m->key.method, sizeof(m->key.method), "%s", name);
	} else {
		if (strlen(name) >= sizeof(m->key.scenario) || !name[0])
			return bad(ld, "a scenario name of 1 to %zu characters",
				   sizeof(m->key.scenario) - 1);
		snprintf(m->key.scenario, sizeof(m->key.scenario), "%s", name);
	}
	if (!json_is_object(obj))
		return bad(ld, "expected an object, got %s", json_kind_name(obj));
	if (check_keys(ld, obj, keys) || (version == 2 && load_key(ld, obj, &m->key)) ||
	    get_number(ld, obj, "repetitions", false, 0, 1e9, "a count", &reps))
		return -1;
	m->repetitions = (int)reps;
	verified = member(ld, obj, "verified", true, JSON_OBJECT,
			  "an object: {\"ratio\": 1.0, \"min_ratio\": 1.0}", &failed);
	if (failed)
		return -1;
	push(ld, "verified");
	if (check_keys(ld, verified, vkeys) ||
	    get_number(ld, verified, "ratio", true, 0, 1, "a fraction, 0 to 1", &m->verified_ratio))
		return -1;
	m->min_verified_ratio = m->verified_ratio;
	if (get_number(ld, verified, "min_ratio", false, 0, 1, "a fraction, 0 to 1",
		       &m->min_verified_ratio))
		return -1;
	pop(ld);
	for (k = 0; k < GATE_TIMINGS; k++) {
		const char *key = gate_metric_name((enum gate_metric)k);
		json_t *t = member(ld, obj, key, false, JSON_OBJECT, "an object", &failed);

		if (failed)
			return -1;
		if (!t)
			continue;
		push(ld, key);
		if (load_timing(ld, t, &m->timing[k]))
			return -1;
		pop(ld);
	}
	return 0;
}

void gate_baseline_free(struct gate_baseline *b)
{
	size_t i;

	for (i = 0; b->entries && i < b->n; i++)
		for (int k = 0; k < GATE_TIMINGS; k++)
			free(b->entries[i].timing[k].values);
	free(b->entries);
	memset(b, 0, sizeof(*b));
}

int gate_baseline_load(const char *path, struct gate_baseline *b, struct tb_err *err)
{
	static const char *const keys_v1[] = {"format",  "created", "alpha",   "environment",
					      "sources", "methods", "comment", NULL};
	static const char *const keys_v2[] = {"format",	   "created",	"alpha",   "environment",
					      "sources", "scenarios", "comment", NULL};
	struct loader ld = {.path = path, .err = err};
	struct scenario_key env_key = {0};
	const char *key, *container;
	json_t *root, *entries, *env, *v;
	struct jsonfile jf;
	bool failed;
	size_t i = 0;

	memset(b, 0, sizeof(*b));
	b->alpha = GATE_ALPHA_DEFAULT;
	if (jsonfile_load(path, BASELINE_MAX_BYTES, "a baseline", &jf, err))
		return -1;
	root = jf.root;
	ld.text = jf.text;
	ld.len = jf.len;
	if (!json_is_object(root)) {
		bad(&ld, "expected an object, got %s", json_kind_name(root));
		goto err;
	}
	v = member(&ld, root, "format", true, JSON_STRING, "\"" GATE_FORMAT "\"", &failed);
	if (failed)
		goto err;
	if (!strcmp(json_string_value(v), GATE_FORMAT)) {
		b->version = 2;
	} else if (!strcmp(json_string_value(v), GATE_FORMAT_V1)) {
		b->version = 1;
	} else {
		push(&ld, "format");
		bad(&ld, "\"%s\" is not \"%s\" (nor the older \"%s\")", json_string_value(v),
		    GATE_FORMAT, GATE_FORMAT_V1);
		goto err;
	}
	if (check_keys(&ld, root, b->version == 1 ? keys_v1 : keys_v2))
		goto err;
	if (get_number(&ld, root, "alpha", false, 1e-9, 0.5, "a significance level, 0 to 0.5",
		       &b->alpha))
		goto err;
	env = member(&ld, root, "environment", false, JSON_OBJECT, "an object", &failed);
	if (failed)
		goto err;
	if (env && json_is_string(json_object_get(env, "accel")))
		snprintf(b->accel, sizeof(b->accel), "%s",
			 json_string_value(json_object_get(env, "accel")));
	/* A /1 file's entries ran what its environment says (runs then recorded no guest). */
	if (b->version == 1 && env) {
		snprintf(env_key.accel, sizeof(env_key.accel), "%s", b->accel);
		push(&ld, "environment");
		if (get_string(&ld, env, "kernel_old", false, env_key.kernel_old,
			       sizeof(env_key.kernel_old)) ||
		    get_string(&ld, env, "kernel_new", false, env_key.kernel_new,
			       sizeof(env_key.kernel_new)))
			goto err;
		pop(&ld);
	}
	container = b->version == 1 ? "methods" : "scenarios";
	entries = member(&ld, root, container, true, JSON_OBJECT,
			 b->version == 1 ? "an object, one key per method"
					 : "an object, one key per scenario",
			 &failed);
	if (failed)
		goto err;
	if (!json_object_size(entries)) {
		push(&ld, container);
		bad(&ld, "no %s: nothing to gate", b->version == 1 ? "method" : "scenario");
		goto err;
	}
	b->entries = calloc(json_object_size(entries), sizeof(*b->entries));
	if (!b->entries) {
		tb_err_set(err, TB_EXIT_ENV, "out of memory");
		goto err;
	}
	push(&ld, container);
	json_object_foreach(entries, key, v)
	{
		push(&ld, key);
		b->n = ++i;
		if (load_entry(&ld, b->version, key, v, &env_key, &b->entries[i - 1]))
			goto err;
		pop(&ld);
	}
	jsonfile_free(&jf);
	return 0;
err:
	jsonfile_free(&jf);
	gate_baseline_free(b);
	return -1;
}

/* ---- saving ------------------------------------------------------------ */

/* "kexec, 6.1.0-50-amd64 -> 6.1.0-51-amd64, 512 MiB, 2 vCPUs, tcg": what a row or entry ran. */
static void describe_key(const struct scenario_key *k, char *buf, size_t len)
{
	char kernels[160], guest[64];

	resultset_key_kernels(k, kernels, sizeof(kernels));
	resultset_key_guest(k, guest, sizeof(guest));
	snprintf(buf, len, "%s, %s, %s, %s", k->method, kernels, guest,
		 k->accel[0] ? k->accel : "?");
}

static json_t *timing_json(const double *v, size_t n, double relative, int64_t absolute_ns)
{
	struct stats_summary s;
	json_t *values = json_array();
	size_t i;

	if (!values || stats_summarise(v, n, &s)) {
		json_decref(values);
		return NULL;
	}
	for (i = 0; i < n; i++)
		json_array_append_new(values, json_integer((json_int_t)llround(v[i])));
	return json_pack("{s:I, s:o, s:{s:f, s:I}}", "median", (json_int_t)llround(s.median),
			 "values", values, "thresholds", "relative", relative, "absolute_ns",
			 (json_int_t)absolute_ns);
}

int gate_baseline_save(const char *path, const struct resultset *set, const struct gate_defaults *d,
		       struct tb_err *err)
{
	const struct run_info *info = &set->runs[0].info;
	struct scenario_stats *m = NULL;
	json_t *root = NULL, *scenarios, *sources;
	struct atomic_file af;
	char created[32];
	size_t nm = 0, i, j;
	time_t now = time(NULL);
	struct tm tm;
	bool failed;
	int ret = -1;

	if (resultset_scenarios(set, &m, &nm, err))
		return -1;
	for (i = 0; i < nm; i++)
		for (j = i + 1; j < nm; j++)
			if (!strcmp(m[i].key.scenario, m[j].key.scenario)) {
				char a[512], b[512];

				describe_key(&m[i].key, a, sizeof(a));
				describe_key(&m[j].key, b, sizeof(b));
				tb_err_set(err, TB_EXIT_USAGE,
					   "the results hold two rows of scenario %s (%s; %s): a "
					   "baseline has one per scenario; save it from alike runs",
					   m[i].key.scenario, a, b);
				goto out;
			}
	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	scenarios = json_object();
	sources = json_array();
	root = json_pack("{s:s, s:s, s:f, s:{s:s, s:s, s:s, s:s}, s:o, s:o}", "format",
			 GATE_FORMAT, "created", created, "alpha", d->alpha, "environment", "accel",
			 info->accel, "qemu", info->qemu_version, "libvirt", info->libvirt_version,
			 "host_kernel", info->host_kernel, "sources", sources, "scenarios",
			 scenarios);
	if (!root || (d->comment && json_object_set_new(root, "comment", json_string(d->comment))))
		goto nomem;
	for (i = 0; i < set->nruns; i++)
		if (json_array_append_new(sources, json_string(set->runs[i].dir)))
			goto nomem;
	for (i = 0; i < nm; i++) {
		const struct scenario_key *k = &m[i].key;
		int64_t abs_ns =
		    d->absolute_ns ? d->absolute_ns : ABSOLUTE_INTERVALS * m[i].probe_interval_ns;
		double ratio = m[i].reps ? (double)m[i].verified / (double)m[i].reps : 0;
		json_t *jm = json_pack(
		    "{s:s, s:s, s:s, s:i, s:i, s:s, s:I, s:{s:f, s:f}}", "method", k->method,
		    "kernel_old", k->kernel_old, "kernel_new", k->kernel_new, "memory_mib",
		    k->memory_mib, "vcpus", k->vcpus, "accel", k->accel, "repetitions",
		    (json_int_t)m[i].reps, "verified", "ratio", ratio, "min_ratio", ratio);

		if (!jm || json_object_set_new(scenarios, k->scenario, jm))
			goto nomem;
		if (m[i].ndowntime &&
		    json_object_set_new(
			jm, "downtime_ns",
			timing_json(m[i].downtime_ns, m[i].ndowntime, d->relative, abs_ns)))
			goto nomem;
		if (m[i].nmaintenance &&
		    json_object_set_new(
			jm, "maintenance_ns",
			timing_json(m[i].maintenance_ns, m[i].nmaintenance, d->relative, abs_ns)))
			goto nomem;
		/* Only when the runs recorded it: a baseline of old runs does not gate it. */
		if (m[i].nunavailable &&
		    json_object_set_new(
			jm, "unavailable_ns",
			timing_json(m[i].unavailable_ns, m[i].nunavailable, d->relative, abs_ns)))
			goto nomem;
	}
	if (atomic_open(&af, path, err))
		goto out;
	failed = json_dumpf(root, af.f, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0;
	ret = atomic_commit(&af, failed, err);
	goto out;
nomem:
	tb_err_set(err, TB_EXIT_ENV, "out of memory building the baseline");
out:
	json_decref(root);
	resultset_scenarios_free(m, nm);
	return ret;
}

/* ---- comparing --------------------------------------------------------- */

static void check_verified(const struct gate_baseline_entry *bm, const struct scenario_stats *cm,
			   struct gate_check *c)
{
	c->base = bm->verified_ratio;
	c->nbase = (size_t)bm->repetitions;
	c->ncur = cm->reps;
	c->cur = cm->reps ? (double)cm->verified / (double)cm->reps : 0;
	snprintf(c->summary, sizeof(c->summary), "%zu/%zu verified (baseline %.0f%%)", cm->verified,
		 cm->reps, 100 * bm->verified_ratio);
	if (!cm->reps) {
		c->outcome = GATE_REGRESSION;
		snprintf(c->detail, sizeof(c->detail), "no repetition in the current results");
	} else if (c->cur < bm->min_verified_ratio - 1e-9) {
		c->outcome = GATE_REGRESSION;
		snprintf(c->detail, sizeof(c->detail),
			 "%zu of %zu repetitions verified (%.0f%%), below the baseline's minimum "
			 "of %.0f%%: the upgrade no longer proves a new kernel with the service's "
			 "state kept",
			 cm->verified, cm->reps, 100 * c->cur, 100 * bm->min_verified_ratio);
	} else {
		c->outcome = GATE_PASS;
		snprintf(c->detail, sizeof(c->detail), "%.0f%% verified, minimum %.0f%%",
			 100 * c->cur, 100 * bm->min_verified_ratio);
	}
}

static void check_timing(const struct gate_timing *t, const double *cur, size_t ncur, double alpha,
			 struct gate_check *c)
{
	char b[32], n[32], d[32], rl[32], al[32];
	double diff, pct, rel_lim;
	bool exceeds, testable;
	struct stats_summary s;
	struct stats_mwu mwu;

	c->base = t->median;
	c->nbase = t->nvalues;
	c->ncur = ncur;
	duration_format(t->median, b, sizeof(b));
	if (!ncur) {
		c->outcome = GATE_REGRESSION;
		snprintf(c->summary, sizeof(c->summary), "%s -> not measured", b);
		snprintf(c->detail, sizeof(c->detail),
			 "no repetition measured it in the current results (baseline median %s)",
			 b);
		return;
	}
	stats_summarise(cur, ncur, &s);
	c->cur = s.median;
	diff = s.median - t->median;
	pct = t->median > 0 ? 100 * diff / t->median : 0;
	rel_lim = t->median * t->relative;
	duration_format(s.median, n, sizeof(n));
	duration_format(diff, d, sizeof(d));
	duration_format(rel_lim, rl, sizeof(rl));
	duration_format((double)t->absolute_ns, al, sizeof(al));
	snprintf(c->summary, sizeof(c->summary), "%s -> %s (%s%s, %+.1f%%)", b, n,
		 diff >= 0 ? "+" : "", d, pct);
	exceeds = diff > rel_lim && diff > (double)t->absolute_ns;
	testable = t->nvalues && stats_mwu_min_p(ncur, t->nvalues, STATS_GREATER) < alpha;
	if (testable &&
	    !stats_mann_whitney(cur, ncur, t->values, t->nvalues, STATS_GREATER, &mwu)) {
		c->tested = true;
		c->p = mwu.p;
	}
	if (!exceeds) {
		c->outcome = GATE_PASS;
		snprintf(c->detail, sizeof(c->detail),
			 "median %s against the baseline's %s: %s%s (%+.1f%%), within the "
			 "thresholds (+%.0f%% = %s, or %s, whichever is larger)",
			 n, b, diff >= 0 ? "+" : "", d, pct, 100 * t->relative, rl, al);
		return;
	}
	if (c->tested && c->p >= alpha) {
		c->outcome = GATE_PASS;
		snprintf(c->detail, sizeof(c->detail),
			 "median %s against the baseline's %s: +%s (%+.1f%%) is over the "
			 "thresholds but not significant (Mann-Whitney U, one-sided p = %.3g, "
			 "alpha %.3g, %zu vs %zu repetitions): taken as noise",
			 n, b, d, pct, c->p, alpha, ncur, t->nvalues);
		return;
	}
	c->outcome = GATE_REGRESSION;
	if (c->tested)
		snprintf(c->detail, sizeof(c->detail),
			 "median %s against the baseline's %s: +%s (%+.1f%%), over both "
			 "thresholds (+%.0f%% = %s and %s), and significantly slower "
			 "(Mann-Whitney U, one-sided p = %.3g < alpha %.3g, %zu vs %zu "
			 "repetitions)",
			 n, b, d, pct, 100 * t->relative, rl, al, c->p, alpha, ncur, t->nvalues);
	else
		snprintf(c->detail, sizeof(c->detail),
			 "median %s against the baseline's %s: +%s (%+.1f%%), over both "
			 "thresholds (+%.0f%% = %s and %s); significance not testable with %zu "
			 "vs %zu repetitions (smallest possible p = %.3g, alpha %.3g), so the "
			 "thresholds alone decide",
			 n, b, d, pct, 100 * t->relative, rl, al, ncur, t->nvalues,
			 stats_mwu_min_p(ncur, t->nvalues, STATS_GREATER), alpha);
}

static void skip(struct gate_check *c, const char *why)
{
	c->outcome = GATE_SKIPPED;
	snprintf(c->summary, sizeof(c->summary), "skipped");
	snprintf(c->detail, sizeof(c->detail), "%s", why);
}

/*
 * Whether the packet captures of row @key's repetitions agree with the
 * probe.  It needs no baseline: the capture measured the same repetition
 * again.  A disagreement fails the scenario, naming each repetition (as
 * many as fit) with both values, since its times cannot be trusted.
 */
static void check_capture(const struct resultset *set, const struct scenario_key *key,
			  struct gate_check *c)
{
	size_t i, k, captured = 0, agree = 0, unlisted = 0, used = 0;
	char list[512] = "", rest[48] = "";

	for (i = 0; i < set->nruns; i++) {
		const struct resultset_run *run = &set->runs[i];
		const char *slash = strrchr(run->dir, '/');

		if (!resultset_run_in(run, key))
			continue;
		for (k = 0; k < run->nreps; k++) {
			const struct repetition *rep = &run->reps[k];
			char probe[32] = "no downtime", cap[32], one[384];
			int len;

			if (!rep->captured)
				continue;
			captured++;
			if (rep->capture_agrees) {
				agree++;
				continue;
			}
			if (rep->measured)
				duration_format((double)rep->downtime_ns, probe, sizeof(probe));
			duration_format((double)rep->capture_downtime_ns, cap, sizeof(cap));
			len = snprintf(
			    one, sizeof(one),
			    "%srepetition %d of %s: the probe measured %s, the capture %s%s%s",
			    used ? "; " : "", rep->index, slash ? slash + 1 : run->dir, probe, cap,
			    rep->capture_note[0] ? " (" : "",
			    rep->capture_note[0] ? rep->capture_note : "");
			/* Whole repetitions only; the rest are counted. */
			if (len > 0 && used + (size_t)len + 2 < sizeof(list)) {
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
							 one, rep->capture_note[0] ? ")" : "");
			} else {
				unlisted++;
			}
		}
	}
	c->base = 1;
	c->nbase = c->ncur = captured;
	c->cur = captured ? (double)agree / (double)captured : 0;
	if (!captured) {
		skip(c, "no repetition had a packet capture: nothing to check the probe against");
		return;
	}
	snprintf(c->summary, sizeof(c->summary), "%zu/%zu captures agree", agree, captured);
	if (agree == captured) {
		c->outcome = GATE_PASS;
		snprintf(c->detail, sizeof(c->detail),
			 "%zu of %zu captured repetitions agree with the probe's downtime (within "
			 "one probe interval)",
			 agree, captured);
		return;
	}
	c->outcome = GATE_REGRESSION;
	if (unlisted)
		snprintf(rest, sizeof(rest), "; and %zu more", unlisted);
	snprintf(c->detail, sizeof(c->detail),
		 "the packet capture contradicts the probe in %zu of %zu captured repetitions, "
		 "so this scenario's times cannot be trusted: %s%s",
		 captured - agree, captured, list, rest);
}

void gate_result_free(struct gate_result *r)
{
	free(r->checks);
	memset(r, 0, sizeof(*r));
}

/* The entry's name in the baseline: its scenario, or a /1 entry's method. */
static const char *entry_name(const struct gate_baseline_entry *e)
{
	return e->key.scenario[0] ? e->key.scenario : e->key.method;
}

/* Whether row @k is of entry @e's scenario (a /1 entry's: of its method), alike or not. */
static bool entry_names(const struct gate_baseline_entry *e, const struct scenario_key *k)
{
	return e->key.scenario[0] ? !strcmp(e->key.scenario, k->scenario)
				  : !strcmp(e->key.method, k->method);
}

static void add_difference(char *buf, size_t len, const char *what, const char *cur,
			   const char *base)
{
	size_t used = strlen(buf);

	snprintf(buf + used, len - used, "%s%s %s (baseline: %s)", used ? "; " : "", what, cur,
		 base);
}

/*
 * How row @k differs from what entry @e ran, into @buf ("" if it does not).
 * What the entry did not record ("" or 0) is not compared.
 */
static void key_difference(const struct scenario_key *e, const struct scenario_key *k, char *buf,
			   size_t len)
{
	char cur[192], base[192];

	buf[0] = '\0';
	if (strcmp(e->method, k->method))
		add_difference(buf, len, "method", k->method, e->method);
	if ((e->kernel_old[0] && strcmp(e->kernel_old, k->kernel_old)) ||
	    (e->kernel_new[0] && strcmp(e->kernel_new, k->kernel_new))) {
		resultset_key_kernels(k, cur, sizeof(cur));
		resultset_key_kernels(e, base, sizeof(base));
		add_difference(buf, len, "kernels", cur, base);
	}
	if ((e->memory_mib && e->memory_mib != k->memory_mib) || (e->vcpus && e->vcpus != k->vcpus)) {
		resultset_key_guest(k, cur, sizeof(cur));
		resultset_key_guest(e, base, sizeof(base));
		add_difference(buf, len, "guest", cur, base);
	}
	if (e->accel[0] && strcmp(e->accel, k->accel))
		add_difference(buf, len, "accelerator", k->accel[0] ? k->accel : "?", e->accel);
}

/* A check that cannot be judged and so fails: @summary in short, @why in full. */
static void not_comparable(struct gate_check *c, const char *summary, const char *why)
{
	c->outcome = GATE_REGRESSION;
	snprintf(c->summary, sizeof(c->summary), "%s", summary);
	snprintf(c->detail, sizeof(c->detail), "%s", why);
}

/* Why an entry has no row to be compared with. */
enum no_row { HAS_ROW, ROW_MISSING, ROW_MISSING_ALLOWED, ROW_UNLIKE, ROW_AMBIGUOUS };

/* Row @cm's values of the time @metric, *@n of them. */
static const double *row_values(const struct scenario_stats *cm, enum gate_metric metric, size_t *n)
{
	switch (metric) {
	case GATE_DOWNTIME:
		*n = cm->ndowntime;
		return cm->downtime_ns;
	case GATE_MAINTENANCE:
		*n = cm->nmaintenance;
		return cm->maintenance_ns;
	case GATE_UNAVAILABLE:
		*n = cm->nunavailable;
		return cm->unavailable_ns;
	default:
		abort();
	}
}

/*
 * The checks of one entry (one per metric) against its alike row @cm, or,
 * when it has none, as @no says, @why in full.
 */
static void check_entry(const struct gate_baseline *b, const struct gate_baseline_entry *e,
			const struct resultset *set, const struct scenario_stats *cm,
			enum no_row no, const char *why, struct gate_result *r)
{
	static const char *const summaries[] = {
	    [ROW_MISSING] = "no current results",
	    [ROW_UNLIKE] = "not comparable",
	    [ROW_AMBIGUOUS] = "ambiguous",
	};
	int metric;

	for (metric = 0; metric < GATE_METRICS; metric++) {
		struct gate_check *c = &r->checks[r->n++];
		const double *v;
		size_t nv;

		snprintf(c->scenario, sizeof(c->scenario), "%s", entry_name(e));
		describe_key(cm ? &cm->key : &e->key, c->ran, sizeof(c->ran));
		c->metric = (enum gate_metric)metric;
		if (no == ROW_MISSING_ALLOWED) {
			skip(c, why);
		} else if (no != HAS_ROW) {
			not_comparable(c, summaries[no], why);
		} else if (metric == GATE_VERIFIED) {
			check_verified(e, cm, c);
		} else if (metric == GATE_CAPTURE) {
			check_capture(set, &cm->key, c);
		} else if (!e->timing[metric].present) {
			skip(c, "not in the baseline");
		} else {
			v = row_values(cm, c->metric, &nv);
			check_timing(&e->timing[metric], v, nv, b->alpha, c);
			if (!nv && metric == GATE_UNAVAILABLE)
				snprintf(c->detail + strlen(c->detail),
					 sizeof(c->detail) - strlen(c->detail),
					 "; a run.json written before gaps were recorded has none");
		}
	}
}

int gate_compare(const struct gate_baseline *b, const struct resultset *set, unsigned flags,
		 struct gate_result *r, struct tb_err *err)
{
	struct scenario_stats *m = NULL;
	size_t nm = 0, i, k, allowed = 0;
	bool *named = NULL;
	int metric;

	memset(r, 0, sizeof(*r));
	if (resultset_scenarios(set, &m, &nm, err))
		return -1;
	r->checks = calloc(GATE_METRICS * (b->n + nm) + 1, sizeof(*r->checks));
	named = calloc(nm + 1, sizeof(*named));
	if (!r->checks || !named) {
		resultset_scenarios_free(m, nm);
		free(named);
		gate_result_free(r);
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	}
	for (i = 0; i < b->n; i++) {
		const struct gate_baseline_entry *e = &b->entries[i];
		const struct scenario_stats *cm = NULL;
		char why[768] = "", diff[512], alike[256] = "";
		size_t nalike = 0, nnamed = 0;
		enum no_row no = HAS_ROW;

		for (k = 0; k < nm; k++) {
			if (!entry_names(e, &m[k].key))
				continue;
			named[k] = true;
			nnamed++;
			key_difference(&e->key, &m[k].key, diff, sizeof(diff));
			if (!diff[0]) {
				size_t used = strlen(alike);

				snprintf(alike + used, sizeof(alike) - used, "%s%s",
					 used ? ", " : "", m[k].key.scenario);
				cm = &m[k];
				nalike++;
			} else if (!why[0]) {
				snprintf(why, sizeof(why),
					 "the current results of %s ran something else than the "
					 "baseline, so their times say nothing of a regression: %s",
					 entry_name(e), diff);
			}
		}
		if (nalike > 1) {
			/* A /1 entry has no guest size nor scenario to tell its rows apart. */
			no = ROW_AMBIGUOUS;
			snprintf(why, sizeof(why),
				 "%zu current rows match this entry (scenarios %s), which does not "
				 "say which to compare with (save a %s baseline to key it by "
				 "scenario)",
				 nalike, alike, GATE_FORMAT);
		} else if (!nnamed) {
			no = flags & GATE_ALLOW_MISSING ? ROW_MISSING_ALLOWED : ROW_MISSING;
			allowed += no == ROW_MISSING_ALLOWED;
			snprintf(why, sizeof(why),
				 "no current results for this scenario%s",
				 no == ROW_MISSING_ALLOWED
				     ? " (skipped: --allow-missing)"
				     : ": the baseline expects it (give its results, or "
				       "--allow-missing to skip it)");
		} else if (!nalike) {
			no = ROW_UNLIKE;
		}
		check_entry(b, e, set, cm, no, why, r);
	}
	for (k = 0; k < nm; k++) {
		if (named[k])
			continue;
		for (metric = 0; metric < GATE_METRICS; metric++) {
			struct gate_check *c = &r->checks[r->n++];

			snprintf(c->scenario, sizeof(c->scenario), "%s", m[k].key.scenario);
			describe_key(&m[k].key, c->ran, sizeof(c->ran));
			c->metric = (enum gate_metric)metric;
			if (metric == GATE_CAPTURE)
				check_capture(set, &m[k].key, c);
			else
				skip(c,
				     "scenario not in the baseline: nothing to compare with (save "
				     "a new baseline to gate it)");
		}
	}
	for (i = 0; i < r->n; i++) {
		r->regressions += r->checks[i].outcome == GATE_REGRESSION;
		r->skipped += r->checks[i].outcome == GATE_SKIPPED;
	}
	if (allowed)
		snprintf(r->notes, sizeof(r->notes),
			 "%zu baseline scenario%s had no current results and %s skipped "
			 "(--allow-missing).",
			 allowed, allowed == 1 ? "" : "s", allowed == 1 ? "was" : "were");
	free(named);
	resultset_scenarios_free(m, nm);
	return 0;
}

/* ---- verdicts ---------------------------------------------------------- */

static void set_count(xmlNodePtr n, const char *name, size_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%zu", v);
	xmlNewProp(n, BAD_CAST name, BAD_CAST buf);
}

int gate_write_junit(const struct gate_result *r, const char *path, struct tb_err *err)
{
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr suites, suite;
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;
	int rc;

	if (!doc)
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	suites = xmlNewNode(NULL, BAD_CAST "testsuites");
	xmlDocSetRootElement(doc, suites);
	xmlNewProp(suites, BAD_CAST "name", BAD_CAST "twinbench gate");
	set_count(suites, "tests", r->n);
	set_count(suites, "failures", r->regressions);
	set_count(suites, "errors", 0);
	set_count(suites, "skipped", r->skipped);
	suite = xmlNewChild(suites, NULL, BAD_CAST "testsuite", NULL);
	xmlNewProp(suite, BAD_CAST "name", BAD_CAST "twinbench.gate");
	set_count(suite, "tests", r->n);
	set_count(suite, "failures", r->regressions);
	set_count(suite, "errors", 0);
	set_count(suite, "skipped", r->skipped);
	xmlNewProp(suite, BAD_CAST "time", BAD_CAST "0");
	xmlNewProp(suite, BAD_CAST "timestamp", BAD_CAST stamp);
	for (i = 0; i < r->n; i++) {
		const struct gate_check *c = &r->checks[i];
		xmlNodePtr tc = xmlNewChild(suite, NULL, BAD_CAST "testcase", NULL), f;
		char cls[160];

		snprintf(cls, sizeof(cls), "twinbench.gate.%s", c->scenario);
		xmlNewProp(tc, BAD_CAST "classname", BAD_CAST cls);
		xmlNewProp(tc, BAD_CAST "name", BAD_CAST gate_metric_name(c->metric));
		xmlNewProp(tc, BAD_CAST "time", BAD_CAST "0");
		if (c->outcome == GATE_REGRESSION) {
			f = xmlNewTextChild(tc, NULL, BAD_CAST "failure", BAD_CAST c->detail);
			xmlNewProp(
			    f, BAD_CAST "type",
			    BAD_CAST(c->metric == GATE_CAPTURE ? "untrusted" : "regression"));
			xmlNewProp(f, BAD_CAST "message", BAD_CAST c->summary);
		} else if (c->outcome == GATE_SKIPPED) {
			f = xmlNewChild(tc, NULL, BAD_CAST "skipped", NULL);
			xmlNewProp(f, BAD_CAST "message", BAD_CAST c->detail);
		} else {
			xmlNewTextChild(tc, NULL, BAD_CAST "system-out", BAD_CAST c->detail);
		}
	}
	rc = xmlfile_save(doc, path, XML_SAVE_FORMAT, err);
	xmlFreeDoc(doc);
	return rc;
}

static const char *outcome_word(const struct gate_check *c)
{
	switch (c->outcome) {
	case GATE_PASS:
		return "pass";
	case GATE_REGRESSION:
		/* A capture that disagrees is no slower kernel: the measurement is in doubt. */
		return c->metric == GATE_CAPTURE ? "**UNTRUSTED**" : "**REGRESSION**";
	case GATE_SKIPPED:
		return "skipped";
	}
	abort();
}

/* "- **scenario metric**: why." */
static void md_item(FILE *f, const struct gate_check *c, bool bold)
{
	char *scenario = markdown_cell(c->scenario), *detail = markdown_cell(c->detail);

	fprintf(f, "- %s%s %s%s: %s.\n", bold ? "**" : "", scenario ? scenario : "",
		metric_label(c->metric), bold ? "**" : "", detail ? detail : "");
	free(scenario);
	free(detail);
}

int gate_print_markdown(const struct gate_result *r, const char *baseline_path,
			const struct gate_baseline *b, FILE *f)
{
	size_t i;

	if (r->regressions)
		fprintf(f, "### twinbench gate: FAIL, %zu regression%s\n\n", r->regressions,
			r->regressions == 1 ? "" : "s");
	else
		fprintf(f, "### twinbench gate: PASS\n\n");
	fprintf(f,
		"Baseline `%s`%s%s%s; a metric regresses when its median grows by more than both "
		"thresholds and the growth is significant (one-sided Mann-Whitney U, "
		"alpha %.3g); a scenario whose packet capture contradicts the probe in any "
		"repetition fails (capture).\n\n",
		baseline_path, b->accel[0] ? " (measured under " : "", b->accel,
		b->accel[0] ? ")" : "", b->alpha);
	fputs("| scenario | metric | baseline \xe2\x86\x92 current | p | verdict |\n"
	      "|---|---|---|---:|---|\n",
	      f);
	for (i = 0; i < r->n; i++) {
		const struct gate_check *c = &r->checks[i];
		char *scenario = markdown_cell(c->scenario), *summary = markdown_cell(c->summary);
		char p[32] = "";

		if (c->tested)
			snprintf(p, sizeof(p), "%.3g", c->p);
		fprintf(f, "| %s | %s | %s | %s | %s |\n", scenario ? scenario : "",
			metric_label(c->metric), summary ? summary : "", p, outcome_word(c));
		free(scenario);
		free(summary);
	}
	/* What each scenario ran (its checks come together, GATE_METRICS to a scenario). */
	fputs("\nScenarios (method, kernels, guest, accelerator):\n\n", f);
	for (i = 0; i < r->n; i++) {
		char *scenario, *ran;

		if (i && !strcmp(r->checks[i].scenario, r->checks[i - 1].scenario))
			continue;
		scenario = markdown_cell(r->checks[i].scenario);
		ran = markdown_cell(r->checks[i].ran);
		fprintf(f, "- %s: %s\n", scenario ? scenario : "", ran ? ran : "");
		free(scenario);
		free(ran);
	}
	if (r->regressions) {
		fputs("\nRegressions:\n\n", f);
		for (i = 0; i < r->n; i++)
			if (r->checks[i].outcome == GATE_REGRESSION)
				md_item(f, &r->checks[i], true);
	}
	fputs("\nDetails:\n\n", f);
	for (i = 0; i < r->n; i++)
		if (r->checks[i].outcome != GATE_REGRESSION)
			md_item(f, &r->checks[i], false);
	if (r->notes[0])
		fprintf(f, "\nNote: %s\n", r->notes);
	return ferror(f) ? -1 : 0;
}
