/*
 * gate.c - baseline files, the per-method comparison, JUnit and Markdown
 * verdicts.
 *
 * jansson keeps no positions for values, only for syntax errors.  So that
 * a baseline with a wrong value is reported at FILE:LINE:COLUMN like every
 * other input of twinbench, the loader keeps the JSON path of what it is
 * looking at and, on error, walks the file's text along that path to find
 * where the value starts (locate()).  The text is known to be valid JSON
 * by then, which keeps that walk small.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libxml/tree.h>

#include "gate.h"
#include "jsonkind.h"
#include "stats.h"

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
	case GATE_VERIFIED:
		return "verified";
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
	case GATE_VERIFIED:
		return "verified";
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

static int load_method(struct loader *ld, const char *name, json_t *obj,
		       struct gate_baseline_method *m)
{
	static const char *const keys[] = {"repetitions",    "verified", "downtime_ns",
					   "maintenance_ns", "comment",	 NULL};
	static const char *const vkeys[] = {"ratio", "min_ratio", NULL};
	double reps = 0;
	json_t *verified;
	bool failed;
	int k;

	if (strlen(name) >= sizeof(m->method) || !name[0])
		return bad(ld, "a method name of 1 to %zu characters", sizeof(m->method) - 1);
	snprintf(m->method, sizeof(m->method), "%s", name);
	if (!json_is_object(obj))
		return bad(ld, "expected an object, got %s", json_kind_name(obj));
	if (check_keys(ld, obj, keys) ||
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
	for (k = GATE_DOWNTIME; k <= GATE_MAINTENANCE; k++) {
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

	for (i = 0; b->methods && i < b->n; i++) {
		free(b->methods[i].timing[0].values);
		free(b->methods[i].timing[1].values);
	}
	free(b->methods);
	memset(b, 0, sizeof(*b));
}

/* The whole file in memory (NUL-terminated); TB_EXIT_USAGE if unreadable. */
static char *read_text(const char *path, size_t *len, struct tb_err *err)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t got;

		if (n + 4096 + 1 > cap) {
			char *more;

			cap = cap ? 2 * cap : 8192;
			if (cap > BASELINE_MAX_BYTES + 8192) {
				tb_err_set(err, TB_EXIT_USAGE, "%s: too large for a baseline",
					   path);
				goto err;
			}
			more = realloc(buf, cap);
			if (!more) {
				tb_err_set(err, TB_EXIT_ENV, "out of memory");
				goto err;
			}
			buf = more;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: read error", path);
		goto err;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
err:
	fclose(f);
	free(buf);
	return NULL;
}

int gate_baseline_load(const char *path, struct gate_baseline *b, struct tb_err *err)
{
	static const char *const keys[] = {"format",  "created", "alpha",   "environment",
					   "sources", "methods", "comment", NULL};
	struct loader ld = {.path = path, .err = err};
	json_t *root = NULL, *methods, *env, *v;
	const char *key;
	json_error_t jerr;
	bool failed;
	size_t i = 0;

	memset(b, 0, sizeof(*b));
	b->alpha = GATE_ALPHA_DEFAULT;
	ld.text = read_text(path, &ld.len, err);
	if (!ld.text)
		return -1;
	root = json_loadb(ld.text, ld.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		tb_err_set(err, TB_EXIT_USAGE, "%s:%d:%d: %s", path, jerr.line, jerr.column,
			   jerr.text);
		goto err;
	}
	if (!json_is_object(root)) {
		bad(&ld, "expected an object, got %s", json_kind_name(root));
		goto err;
	}
	if (check_keys(&ld, root, keys))
		goto err;
	v = member(&ld, root, "format", true, JSON_STRING, "\"" GATE_FORMAT "\"", &failed);
	if (failed)
		goto err;
	if (strcmp(json_string_value(v), GATE_FORMAT)) {
		push(&ld, "format");
		bad(&ld, "\"%s\" is not \"%s\"", json_string_value(v), GATE_FORMAT);
		goto err;
	}
	if (get_number(&ld, root, "alpha", false, 1e-9, 0.5, "a significance level, 0 to 0.5",
		       &b->alpha))
		goto err;
	env = member(&ld, root, "environment", false, JSON_OBJECT, "an object", &failed);
	if (failed)
		goto err;
	if (env && json_is_string(json_object_get(env, "accel")))
		snprintf(b->accel, sizeof(b->accel), "%s",
			 json_string_value(json_object_get(env, "accel")));
	methods = member(&ld, root, "methods", true, JSON_OBJECT, "an object, one key per method",
			 &failed);
	if (failed)
		goto err;
	if (!json_object_size(methods)) {
		push(&ld, "methods");
		bad(&ld, "no method: nothing to gate");
		goto err;
	}
	b->methods = calloc(json_object_size(methods), sizeof(*b->methods));
	if (!b->methods) {
		tb_err_set(err, TB_EXIT_ENV, "out of memory");
		goto err;
	}
	push(&ld, "methods");
	json_object_foreach(methods, key, v)
	{
		push(&ld, key);
		b->n = ++i;
		if (load_method(&ld, key, v, &b->methods[i - 1]))
			goto err;
		pop(&ld);
	}
	json_decref(root);
	free((char *)ld.text);
	return 0;
err:
	json_decref(root);
	free((char *)ld.text);
	gate_baseline_free(b);
	return -1;
}

/* ---- saving ------------------------------------------------------------ */

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

int gate_baseline_save(const char *path, const struct report_set *set,
		       const struct gate_defaults *d, struct tb_err *err)
{
	const struct run_info *info = &set->runs[0].info;
	struct scenario_stats *m = NULL;
	json_t *root = NULL, *methods, *sources;
	char created[32], tmp[4096];
	size_t nm = 0, i;
	time_t now = time(NULL);
	struct tm tm;
	int ret = -1;

	if (report_scenarios(set, &m, &nm, err))
		return -1;
	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	methods = json_object();
	sources = json_array();
	root = json_pack("{s:s, s:s, s:f, s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:o, s:o}", "format",
			 GATE_FORMAT, "created", created, "alpha", d->alpha, "environment", "accel",
			 info->accel, "qemu", info->qemu_version, "libvirt", info->libvirt_version,
			 "host_kernel", info->host_kernel, "kernel_old", info->kernel_old,
			 "kernel_new", info->kernel_new, "sources", sources, "methods", methods);
	if (!root || (d->comment && json_object_set_new(root, "comment", json_string(d->comment))))
		goto nomem;
	for (i = 0; i < set->nruns; i++)
		if (json_array_append_new(sources, json_string(set->runs[i].dir)))
			goto nomem;
	for (i = 0; i < nm; i++) {
		int64_t abs_ns =
		    d->absolute_ns ? d->absolute_ns : ABSOLUTE_INTERVALS * m[i].probe_interval_ns;
		double ratio = m[i].reps ? (double)m[i].verified / (double)m[i].reps : 0;
		json_t *jm = json_pack("{s:I, s:{s:f, s:f}}", "repetitions", (json_int_t)m[i].reps,
				       "verified", "ratio", ratio, "min_ratio", ratio);

		if (!jm || json_object_set_new(methods, m[i].key.method, jm))
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
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(root, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) ||
	    rename(tmp, path)) {
		tb_err_set(err, TB_EXIT_ENV, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	ret = 0;
	goto out;
nomem:
	tb_err_set(err, TB_EXIT_ENV, "out of memory building the baseline");
out:
	json_decref(root);
	report_scenarios_free(m, nm);
	return ret;
}

/* ---- comparing --------------------------------------------------------- */

static void check_verified(const struct gate_baseline_method *bm, const struct scenario_stats *cm,
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
	report_duration(t->median, b, sizeof(b));
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
	report_duration(s.median, n, sizeof(n));
	report_duration(diff, d, sizeof(d));
	report_duration(rel_lim, rl, sizeof(rl));
	report_duration((double)t->absolute_ns, al, sizeof(al));
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

void gate_result_free(struct gate_result *r)
{
	free(r->checks);
	memset(r, 0, sizeof(*r));
}

int gate_compare(const struct gate_baseline *b, const struct report_set *set, struct gate_result *r,
		 struct tb_err *err)
{
	struct scenario_stats *m = NULL;
	size_t nm = 0, i, k;
	int metric;

	memset(r, 0, sizeof(*r));
	if (report_scenarios(set, &m, &nm, err))
		return -1;
	r->checks = calloc(3 * (b->n + nm) + 1, sizeof(*r->checks));
	if (!r->checks) {
		report_scenarios_free(m, nm);
		return tb_err_set(err, TB_EXIT_ENV, "out of memory");
	}
	for (i = 0; i < b->n; i++) {
		const struct gate_baseline_method *bm = &b->methods[i];
		const struct scenario_stats *cm = NULL;

		for (k = 0; k < nm; k++)
			if (!strcmp(m[k].key.method, bm->method))
				cm = &m[k];
		for (metric = GATE_DOWNTIME; metric <= GATE_VERIFIED; metric++) {
			struct gate_check *c = &r->checks[r->n++];

			snprintf(c->method, sizeof(c->method), "%s", bm->method);
			c->metric = (enum gate_metric)metric;
			if (!cm)
				skip(c, "no current results for this method");
			else if (metric == GATE_VERIFIED)
				check_verified(bm, cm, c);
			else if (!bm->timing[metric].present)
				skip(c, "not in the baseline");
			else if (metric == GATE_DOWNTIME)
				check_timing(&bm->timing[metric], cm->downtime_ns, cm->ndowntime,
					     b->alpha, c);
			else
				check_timing(&bm->timing[metric], cm->maintenance_ns,
					     cm->nmaintenance, b->alpha, c);
		}
	}
	for (k = 0; k < nm; k++) {
		for (i = 0; i < b->n && strcmp(m[k].key.method, b->methods[i].method); i++)
			;
		if (i < b->n)
			continue;
		for (metric = GATE_DOWNTIME; metric <= GATE_VERIFIED; metric++) {
			struct gate_check *c = &r->checks[r->n++];

			snprintf(c->method, sizeof(c->method), "%s", m[k].key.method);
			c->metric = (enum gate_metric)metric;
			skip(c, "method not in the baseline: nothing to compare with (save a new "
				"baseline to gate it)");
		}
	}
	for (i = 0; i < r->n; i++) {
		r->regressions += r->checks[i].outcome == GATE_REGRESSION;
		r->skipped += r->checks[i].outcome == GATE_SKIPPED;
	}
	for (i = 0; b->accel[0] && i < set->nruns; i++)
		if (strcmp(set->runs[i].info.accel, b->accel)) {
			snprintf(r->notes, sizeof(r->notes),
				 "The baseline was measured under %s, %s under %s: the times are "
				 "not comparable; save a baseline for this accelerator.",
				 b->accel, set->runs[i].dir, set->runs[i].info.accel);
			break;
		}
	report_scenarios_free(m, nm);
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
	char tmp[4096], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

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
		char cls[64];

		snprintf(cls, sizeof(cls), "twinbench.gate.%s", c->method);
		xmlNewProp(tc, BAD_CAST "classname", BAD_CAST cls);
		xmlNewProp(tc, BAD_CAST "name", BAD_CAST gate_metric_name(c->metric));
		xmlNewProp(tc, BAD_CAST "time", BAD_CAST "0");
		if (c->outcome == GATE_REGRESSION) {
			f = xmlNewTextChild(tc, NULL, BAD_CAST "failure", BAD_CAST c->detail);
			xmlNewProp(f, BAD_CAST "type", BAD_CAST "regression");
			xmlNewProp(f, BAD_CAST "message", BAD_CAST c->summary);
		} else if (c->outcome == GATE_SKIPPED) {
			f = xmlNewChild(tc, NULL, BAD_CAST "skipped", NULL);
			xmlNewProp(f, BAD_CAST "message", BAD_CAST c->detail);
		} else {
			xmlNewTextChild(tc, NULL, BAD_CAST "system-out", BAD_CAST c->detail);
		}
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (xmlSaveFormatFileEnc(tmp, doc, "UTF-8", 1) < 0 || rename(tmp, path)) {
		unlink(tmp);
		xmlFreeDoc(doc);
		return tb_err_set(err, TB_EXIT_ENV, "cannot write %s", path);
	}
	xmlFreeDoc(doc);
	return 0;
}

static const char *outcome_word(enum gate_outcome o)
{
	switch (o) {
	case GATE_PASS:
		return "pass";
	case GATE_REGRESSION:
		return "**REGRESSION**";
	case GATE_SKIPPED:
		return "skipped";
	}
	abort();
}

/* "- **method metric**: why." */
static void md_item(FILE *f, const struct gate_check *c, bool bold)
{
	char *method = report_md_cell(c->method), *detail = report_md_cell(c->detail);

	fprintf(f, "- %s%s %s%s: %s.\n", bold ? "**" : "", method ? method : "",
		metric_label(c->metric), bold ? "**" : "", detail ? detail : "");
	free(method);
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
		"alpha %.3g).\n\n",
		baseline_path, b->accel[0] ? " (measured under " : "", b->accel,
		b->accel[0] ? ")" : "", b->alpha);
	fputs("| method | metric | baseline \xe2\x86\x92 current | p | verdict |\n"
	      "|---|---|---|---:|---|\n",
	      f);
	for (i = 0; i < r->n; i++) {
		const struct gate_check *c = &r->checks[i];
		char *method = report_md_cell(c->method), *summary = report_md_cell(c->summary);
		char p[32] = "";

		if (c->tested)
			snprintf(p, sizeof(p), "%.3g", c->p);
		fprintf(f, "| %s | %s | %s | %s | %s |\n", method ? method : "",
			metric_label(c->metric), summary ? summary : "", p,
			outcome_word(c->outcome));
		free(method);
		free(summary);
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
