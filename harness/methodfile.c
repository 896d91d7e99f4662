/*
 * methodfile.c - method files (methods/NAME.yaml) and the step language
 * they share with scenarios.
 *
 * A step is a mapping with one key, its kind; the kind's table below is
 * its schema.  A method file is checked whole when it is loaded: every
 * phase it names for its windows must be one its program records, so that
 * a misspelt phase fails here, with a line number, not after a guest booted.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array_size.h"
#include "methodfile.h"
#include "yamlfile.h"

/* What the new kernel must hold after a takeover, of the guest's RAM, unless told. */
#define TAKEOVER_MEM_PCT_DEFAULT 85

/* "timeout: 10s", or the name of one of the scenario's timeouts. */
static int parse_timeout(struct yf_loader *ld, const struct yf_field *f, const char *what,
			 yaml_node_t *v, char *base)
{
	struct step *st = (struct step *)base;
	static const char *const names[] = { [BUDGET_STEP] = "step", [BUDGET_BOOT] = "boot",
					     [BUDGET_UPGRADE] = "upgrade" };
	const char *s = yf_want_scalar(ld, what, "a duration or boot, upgrade or step", v);

	(void)f;
	if (!s)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i])) {
			st->budget = (enum step_budget)i;
			st->timeout_ns = 0;
			return 0;
		}
	if (scenario_parse_duration(s, &st->timeout_ns))
		return yf_fail_node(ld, v,
				    "%s: bad timeout '%s' (expected a duration such as 250ms or "
				    "1.5s, or the scenario's boot, upgrade or step timeout)",
				    what, s);
	return 0;
}

static int parse_kernel_role(struct yf_loader *ld, const struct yf_field *f, const char *what,
			     yaml_node_t *v, char *base)
{
	const char *s = yf_want_scalar(ld, what, "old or new", v);

	if (!s)
		return -1;
	if (strcmp(s, "old") && strcmp(s, "new"))
		return yf_fail_node(ld, v, "%s: expected old or new, got '%s'", what, s);
	*(bool *)(base + f->off) = !strcmp(s, "new");
	return 0;
}

static int parse_percent(struct yf_loader *ld, const struct yf_field *f, const char *what,
			 yaml_node_t *v, char *base)
{
	const char *s = yf_want_scalar(ld, what, "a percentage", v);
	char *end;
	long pct;

	if (!s)
		return -1;
	pct = strtol(s, &end, 10);
	if (end == s || strcmp(end, "%") || pct < 1 || pct > 100)
		return yf_fail_node(ld, v, "%s: expected a percentage 1%%..100%%, got '%s'", what,
				    s);
	*(int *)(base + f->off) = (int)pct;
	return 0;
}

/* --- the step kinds' schemas --- */

#define COMMON(type)                                                                               \
	FIELD("mark", yf_phase, type, mark), FIELD("before", yf_phase, type, before),             \
	    FIELD("doing", yf_nonempty_string, type, doing),                                       \
	    FIELD("unordered", yf_bool, type, unordered), FIELD("via", yf_name, type, via)
#define TIMEOUT { .key = "timeout", .parse = parse_timeout }

static const struct yf_field expect_fields[] = {
	COMMON(struct step),
	FIELD("console", yf_console, struct step, console),
	REQUIRED("pattern", yf_pattern, struct step, text),
	TIMEOUT,
	FIELD("fail", yf_pattern, struct step, fail),
	FIELD("last_line", yf_phase, struct step, last_line),
	FIELD("whole_line", yf_bool, struct step, whole_line),
	FIELD("peek", yf_bool, struct step, peek),
};

static const struct yf_field send_fields[] = {
	FIELD("via", yf_name, struct step, via),
	FIELD("before", yf_phase, struct step, before),
	FIELD("doing", yf_nonempty_string, struct step, doing),
	FIELD("console", yf_console, struct step, console),
	REQUIRED("text", yf_send_text, struct step, text),
};

static const struct yf_field wait_probe_fields[] = {
	COMMON(struct step),
	REQUIRED("state", yf_probe_state, struct step, probe_up),
	FIELD("kernel", parse_kernel_role, struct step, new_kernel),
	TIMEOUT,
};

static const struct yf_field wait_stopped_fields[] = {
	COMMON(struct step),
	FIELD("console", yf_console, struct step, console),
	FIELD("last_line", yf_phase, struct step, last_line),
	TIMEOUT,
};

static const struct yf_field start_new_fields[] = {
	COMMON(struct step),
};

static const struct yf_field uname_fields[] = {
	COMMON(struct step),
	FIELD("console", yf_console, struct step, console),
	FIELD("kernel", parse_kernel_role, struct step, new_kernel),
	TIMEOUT,
};

static const struct yf_field last_words_fields[] = {
	COMMON(struct step),
	FIELD("console", yf_console, struct step, console),
	REQUIRED("pattern", yf_pattern, struct step, text),
	FIELD("fail", yf_pattern, struct step, fail),
	TIMEOUT,
};

static const struct yf_field silent_fields[] = {
	FIELD("via", yf_name, struct step, via),
	FIELD("before", yf_phase, struct step, before),
	FIELD("doing", yf_nonempty_string, struct step, doing),
	FIELD("console", yf_console, struct step, console),
	REQUIRED("pattern", yf_pattern, struct step, text),
};

static const struct yf_field takeover_fields[] = {
	COMMON(struct step),
	FIELD("console", yf_console, struct step, console),
	REQUIRED("pattern", yf_pattern, struct step, text),
	FIELD("fail", yf_pattern, struct step, fail),
	FIELD("min_memory", parse_percent, struct step, min_memory_pct),
	TIMEOUT,
};

static const struct yf_field live_migrate_fields[] = {
	COMMON(struct step),
	FIELD("max_downtime", yf_duration, struct step, max_downtime_ns),
	TIMEOUT,
};

static const struct yf_field quiet_fields[] = {
	COMMON(struct step),
	REQUIRED("for", yf_duration, struct step, quiet_ns),
};

static const struct yf_field inject_nmi_fields[] = {
	COMMON(struct step),
};

static const struct yf_field inject_mce_fields[] = {
	COMMON(struct step),
	INT_FIELD("cpu", struct step, cpu, 0, 4095),
};

/* The mark step's value is a bare phase name, not a mapping. */
static const struct yf_field mark_field = FIELD("mark", yf_phase, struct step, mark);

static const struct {
	const char *name;
	enum step_op op;
	const struct yf_field *fields; /* NULL: the value is a scalar (mark) */
	size_t nfields;
} step_kinds[] = {
#define KIND(name, op, t) { name, op, t, ARRAY_SIZE(t) }
	KIND("expect", OP_EXPECT, expect_fields),
	KIND("send", OP_SEND, send_fields),
	{ "mark", OP_MARK, NULL, 0 },
	KIND("wait_probe", OP_WAIT_PROBE, wait_probe_fields),
	KIND("wait_stopped", OP_WAIT_STOPPED, wait_stopped_fields),
	KIND("start_new", OP_START_NEW, start_new_fields),
	KIND("uname", OP_UNAME, uname_fields),
	KIND("last_words", OP_LAST_WORDS, last_words_fields),
	KIND("silent", OP_SILENT, silent_fields),
	KIND("takeover", OP_TAKEOVER, takeover_fields),
	KIND("live_migrate", OP_LIVE_MIGRATE, live_migrate_fields),
	KIND("inject_nmi", OP_INJECT_NMI, inject_nmi_fields),
	KIND("inject_mce", OP_INJECT_MCE, inject_mce_fields),
	KIND("quiet", OP_QUIET, quiet_fields),
#undef KIND
};

/* Does mapping @v have the key @key? */
static bool has_key(struct yf_loader *ld, yaml_node_t *v, const char *key)
{
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&ld->doc, p->key);

		if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
			return true;
	}
	return false;
}

static int parse_step(struct yf_loader *ld, yaml_node_t *item, const char *what, bool scenario,
		      struct step *st)
{
	char kinds[256] = "", path[192];
	yaml_node_pair_t *pairs;
	yaml_node_t *k, *v;
	size_t i, w = 0;

	for (i = 0; i < ARRAY_SIZE(step_kinds); i++)
		w += snprintf(kinds + w, sizeof(kinds) - w, "%s%s", i ? ", " : "",
			      step_kinds[i].name);
	if (item->type != YAML_MAPPING_NODE)
		return yf_fail_node(ld, item, "%s: expected a mapping with one key (%s), got %s",
				    what, kinds, yf_node_kind(item));
	pairs = item->data.mapping.pairs.start;
	if (item->data.mapping.pairs.top == pairs)
		return yf_fail_node(ld, item, "%s: empty step (expected one of: %s)", what, kinds);
	k = yaml_document_get_node(&ld->doc, pairs[0].key);
	v = yaml_document_get_node(&ld->doc, pairs[0].value);
	if (item->data.mapping.pairs.top - pairs > 1) {
		yaml_node_t *k2 = yaml_document_get_node(&ld->doc, pairs[1].key);

		if (k2->type != YAML_SCALAR_NODE)
			return yf_fail_node(ld, k2,
					    "%s: a step has exactly one key, got a second one", what);
		return yf_fail_node(ld, k2,
				    "%s: a step has exactly one key, got a second one '%s' "
				    "(start each step with its own '-')",
				    what, (const char *)k2->data.scalar.value);
	}
	if (k->type != YAML_SCALAR_NODE)
		return yf_fail_node(ld, k, "%s: expected a step kind (%s), got %s", what, kinds,
				    yf_node_kind(k));
	for (i = 0; i < ARRAY_SIZE(step_kinds); i++)
		if (!strcmp((const char *)k->data.scalar.value, step_kinds[i].name))
			break;
	if (i == ARRAY_SIZE(step_kinds))
		return yf_fail_node(ld, k, "unknown step '%s' in %s (expected one of: %s)",
				    (const char *)k->data.scalar.value, what, kinds);

	st->op = step_kinds[i].op;
	st->console = 'a';
	st->min_memory_pct = TAKEOVER_MEM_PCT_DEFAULT;
	st->line = (int)item->start_mark.line + 1;
	st->column = (int)item->start_mark.column + 1;
	snprintf(path, sizeof(path), "%s.%s", what, step_kinds[i].name);
	if (!step_kinds[i].fields)
		return mark_field.parse(ld, &mark_field, path, v, (char *)st);
	if (yf_walk_mapping(ld, v, path, step_kinds[i].fields, step_kinds[i].nfields, (char *)st))
		return -1;
	/* A method's program is one sequence: "before" places a scenario's step in it. */
	if (st->before && !scenario)
		return yf_fail_node(ld, v, "%s: 'before' is for a scenario's steps, not a method's",
				    path);
	/* The ways to upgrade are the method's: a scenario chooses one (its via:). */
	if (st->via && scenario)
		return yf_fail_node(ld, v, "%s: 'via' is for a method's steps, not a scenario's",
				    path);
	/* uname's default role follows the console: the old kernel on a, the new on b. */
	if (st->op == OP_UNAME && !has_key(ld, v, "kernel"))
		st->new_kernel = st->console == 'b';
	return 0;
}

int steps_parse(struct yf_loader *ld, yaml_node_t *v, const char *what, bool scenario,
		struct step **steps, size_t *n)
{
	yaml_node_item_t *item;
	char path[64]; /* "steps[N]" */
	size_t count, i;

	*steps = NULL;
	*n = 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return yf_fail_node(ld, v, "%s: expected a sequence of steps, got %s", what,
				    yf_node_kind(v));
	count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (count == 0)
		return 0;
	/* Zeroed, and counted in full at once, so steps_free() copes with a partial list. */
	*steps = calloc(count, sizeof(**steps));
	if (!*steps)
		return yf_fail_node(ld, v, "%s: out of memory", what);
	*n = count;
	for (i = 0, item = v->data.sequence.items.start; i < count; i++, item++) {
		snprintf(path, sizeof(path), "%s[%zu]", what, i);
		if (parse_step(ld, yaml_document_get_node(&ld->doc, *item), path, scenario,
			       &(*steps)[i]))
			return -1;
	}
	return 0;
}

void steps_free(struct step *steps, size_t n)
{
	for (size_t i = 0; steps && i < n; i++) {
		free(steps[i].text);
		free(steps[i].mark);
		free(steps[i].fail);
		free(steps[i].last_line);
		free(steps[i].before);
		free(steps[i].doing);
		free(steps[i].via);
	}
	free(steps);
}

/* --- method files --- */

static int parse_method_steps(struct yf_loader *ld, const struct yf_field *f, const char *what,
			      yaml_node_t *v, char *base)
{
	struct method *m = (struct method *)base;

	(void)f;
	return steps_parse(ld, v, what, false, &m->steps, &m->nsteps);
}

static int parse_verify(struct yf_loader *ld, const struct yf_field *f, const char *what,
			yaml_node_t *v, char *base)
{
	const char *s = yf_want_scalar(ld, what, "upgrade, unbroken or none", v);
	enum method_verify *out = (enum method_verify *)(base + f->off);

	if (!s)
		return -1;
	if (!strcmp(s, "upgrade"))
		*out = VERIFY_UPGRADE;
	else if (!strcmp(s, "unbroken"))
		*out = VERIFY_UNBROKEN;
	else if (!strcmp(s, "none"))
		*out = VERIFY_NONE;
	else
		return yf_fail_node(ld, v, "%s: expected upgrade, unbroken or none, got '%s'",
				    what, s);
	return 0;
}

static const struct yf_field maintenance_fields[] = {
	REQUIRED("from", yf_phase, struct method, maintenance_from),
	REQUIRED("to", yf_phase, struct method, maintenance_to),
};

static const struct yf_field next_round_fields[] = {
	REQUIRED("after", yf_phase, struct method, next_after),
};

/* via: the ways the method can upgrade, a sequence of names, the default first. */
static int parse_via(struct yf_loader *ld, const struct yf_field *f, const char *what,
		     yaml_node_t *v, char *base)
{
	struct method *m = (struct method *)base;

	(void)f;
	if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top == v->data.sequence.items.start)
		return yf_fail_node(ld, v, "%s: expected a sequence of ways to upgrade (the default "
				    "first), got %s", what, yf_node_kind(v));
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(&ld->doc, *it);
		const char *s = yf_want_scalar(ld, what, "a name", item);

		if (!s)
			return -1;
		if (m->nvia == METHOD_MAX_VIA)
			return yf_fail_node(ld, item, "%s: more than %d ways", what, METHOD_MAX_VIA);
		if (!yf_is_name(s))
			return yf_fail_node(ld, item, "%s: '%s' is not a name", what, s);
		for (int i = 0; i < m->nvia; i++)
			if (!strcmp(m->via[i], s))
				return yf_fail_node(ld, item, "%s: '%s' twice", what, s);
		m->via[m->nvia] = strdup(s);
		if (!m->via[m->nvia])
			return yf_fail_node(ld, item, "out of memory");
		m->nvia++;
	}
	return 0;
}

/* upgrades: false - a method that boots no new kernel (a reference such as vm-migrate). */
static int parse_upgrades(struct yf_loader *ld, const struct yf_field *f, const char *what,
			  yaml_node_t *v, char *base)
{
	struct method *m = (struct method *)base;
	bool upgrades = true;
	const struct yf_field field = { .key = f->key, .parse = yf_bool };

	if (yf_bool(ld, &field, what, v, (char *)&upgrades))
		return -1;
	m->no_upgrade = !upgrades;
	return 0;
}

bool method_step_runs(const struct method *m, const struct step *s)
{
	const char *way = m->chosen_via ? m->chosen_via : m->nvia ? m->via[0] : NULL;

	return !s->via || (way && !strcmp(s->via, way));
}

static const struct yf_field second_window_fields[] = {
	REQUIRED("from", yf_phase, struct method, second_from),
};

/* Nested tables fill fields of struct method itself: offset 0. */
#define SAME_STRUCT(k, table) \
	{ .key = k, .parse = yf_mapping, .off = 0, .sub = table, .nsub = ARRAY_SIZE(table) }

static const struct yf_field method_fields[] = {
	FIELD("name", yf_name, struct method, name),
	FIELD("description", yf_nonempty_string, struct method, description),
	FIELD("downtime_from", yf_phase, struct method, downtime_from),
	SAME_STRUCT("maintenance", maintenance_fields),
	REQUIRED("verify", parse_verify, struct method, verify),
	SAME_STRUCT("next_round", next_round_fields),
	SAME_STRUCT("second_window", second_window_fields),
	FIELD("standby", yf_bool, struct method, standby),
	{ .key = "upgrades", .parse = parse_upgrades },
	{ .key = "via", .parse = parse_via },
	REQUIRED("steps", parse_method_steps, struct method, steps),
};

bool method_has_phase(const struct method *m, bool round2, const char *phase)
{
	const char **list = method_phase_list(m, round2);
	bool found = false;

	for (size_t i = 0; list && list[i] && !found; i++)
		found = !strcmp(list[i], phase);
	/* Unordered marks are phases too, only not in the ordered list. */
	for (size_t i = 0; !found && i < m->nsteps; i++)
		found = m->steps[i].mark && !strcmp(m->steps[i].mark, phase);
	free(list);
	return found;
}

const char **method_phase_list(const struct method *m, bool round2)
{
	size_t n = 1, first2 = m->nsteps, names = 0, k = 0;
	const char **list;
	char *buf;

	/* Count: every step gives at most two phases, in each round. */
	n += 2 * m->nsteps * (round2 ? 2 : 1);
	for (size_t i = 0; round2 && m->next_after && i < m->nsteps; i++)
		if (m->steps[i].mark && !strcmp(m->steps[i].mark, m->next_after)) {
			first2 = i + 1;
			break;
		}
	for (size_t i = first2; round2 && i < m->nsteps; i++)
		names += (m->steps[i].mark ? strlen(m->steps[i].mark) : 0) +
			 (m->steps[i].last_line ? strlen(m->steps[i].last_line) : 0) +
			 2 * sizeof(ROUND2_PREFIX);
	list = malloc((n + 1) * sizeof(*list) + names);
	if (!list)
		return NULL;
	buf = (char *)(list + n + 1);
	list[k++] = "guest_start";
	for (int r = 0; r < (round2 ? 2 : 1); r++) {
		for (size_t i = r ? first2 : 0; i < m->nsteps; i++) {
			const struct step *st = &m->steps[i];
			const char *names2[2] = { st->last_line, st->unordered ? NULL : st->mark };

			/* A step for another way to upgrade records nothing. */
			if (!method_step_runs(m, st))
				continue;

			for (int j = 0; j < 2; j++) {
				if (!names2[j])
					continue;
				if (!r) {
					list[k++] = names2[j];
					continue;
				}
				list[k++] = buf;
				buf += sprintf(buf, ROUND2_PREFIX "%s", names2[j]) + 1;
			}
		}
	}
	list[k] = NULL;
	return list;
}

/* The method files there are, for a message: "custom, kexec, reboot". */
static void list_methods(const char *dir, char *buf, size_t len)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	size_t w = 0;

	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]->d_name);

		if (l > 5 && !strcmp(names[i]->d_name + l - 5, ".yaml") && w < len)
			w += snprintf(buf + w, len - w, "%s%.*s", w ? ", " : "", (int)(l - 5),
				      names[i]->d_name);
		free(names[i]);
	}
	free(names);
}

/* The value of @key in mapping @map (NULL if absent or @map is no mapping). */
static yaml_node_t *value_of(struct yf_loader *ld, yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map && map->type == YAML_MAPPING_NODE
					   ? map->data.mapping.pairs.start
					   : NULL;
	     p && p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&ld->doc, p->key);

		if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
			return yaml_document_get_node(&ld->doc, p->value);
	}
	return NULL;
}

/* Is @phase (at @key, or @outer.@key) one of @m's phases?  If not, name its place. */
static int check_phase(struct yf_loader *ld, yaml_node_t *root, const struct method *m,
		       const char *outer, const char *key, const char *phase)
{
	yaml_node_t *at = outer ? value_of(ld, value_of(ld, root, outer), key)
				: value_of(ld, root, key);

	if (!phase || method_has_phase(m, false, phase))
		return 0;
	return yf_fail_node(ld, at ? at : root,
			    "%s%s%s: '%s' is not a phase this method's steps record",
			    outer ? outer : "", outer ? "." : "", key, phase);
}

bool method_has_via(const struct method *m, const char *way)
{
	for (int i = 0; i < m->nvia; i++)
		if (!strcmp(m->via[i], way))
			return true;
	return false;
}

static int finish_method(struct yf_loader *ld, yaml_node_t *root, struct method *m)
{
	if (!m->name) {
		const char *base = strrchr(ld->path, '/') ? strrchr(ld->path, '/') + 1 : ld->path;

		m->name = strndup(base, strlen(base) - (strlen(base) > 5 ? 5 : 0));
		if (!m->name)
			return yf_fail_node(ld, root, "out of memory");
	}
	if (m->verify != VERIFY_NONE && !m->downtime_from)
		return yf_fail_node(ld, root,
				    "a method that verifies an upgrade needs 'downtime_from': the "
				    "phase its downtime window opens at");
	if (check_phase(ld, root, m, NULL, "downtime_from", m->downtime_from) ||
	    check_phase(ld, root, m, "maintenance", "from", m->maintenance_from) ||
	    check_phase(ld, root, m, "maintenance", "to", m->maintenance_to) ||
	    check_phase(ld, root, m, "next_round", "after", m->next_after) ||
	    check_phase(ld, root, m, "second_window", "from", m->second_from))
		return -1;
	if (m->second_from && m->next_after)
		return yf_fail_node(ld, value_of(ld, root, "second_window"),
				    "second_window: a method with a next_round has its second "
				    "window there already");
	for (size_t i = 0; i < m->nsteps; i++)
		if (m->steps[i].via && !method_has_via(m, m->steps[i].via))
			return yf_fail_at(ld,
					  (yaml_mark_t){ .line = (size_t)m->steps[i].line - 1,
							 .column = (size_t)m->steps[i].column - 1 },
					  "via: '%s' is not one of the method's ways to upgrade "
					  "(its top-level via: lists them)",
					  m->steps[i].via);
	for (size_t i = 0; i < m->nsteps; i++)
		if (m->steps[i].console == 's' && !m->standby)
			return yf_fail_at(ld,
					  (yaml_mark_t){ .line = (size_t)m->steps[i].line - 1,
							 .column = (size_t)m->steps[i].column - 1 },
					  "console: standby, but the method has no standby guest "
					  "(say 'standby: true' at the top level)");
	return 0;
}

/* The method at @root of @ld (from yf_open or yf_open_text) into @m; closes @ld. */
static int method_parse(struct yf_loader *ld, yaml_node_t *root, struct method *m)
{
	int rc = -1;

	if (root && yf_walk_mapping(ld, root, "", method_fields, ARRAY_SIZE(method_fields),
				    (char *)m) == 0)
		rc = finish_method(ld, root, m);
	yf_close(ld);
	if (rc != 0)
		method_free(m);
	return rc;
}

int method_load(const char *ref, const char *base_dir, struct method *m, struct tb_err *err)
{
	const char *dir = getenv("TWINBENCH_METHODS");
	size_t len = strlen(ref);
	struct yf_loader ld;
	char *path = NULL;
	int rc;

	memset(m, 0, sizeof(*m));
	if (!dir || !*dir)
		dir = TB_METHODS_DIR;
	if (strchr(ref, '/') || (len > 5 && !strcmp(ref + len - 5, ".yaml")))
		rc = ref[0] == '/' ? asprintf(&path, "%s", ref)
				   : asprintf(&path, "%s/%s", base_dir, ref);
	else
		rc = asprintf(&path, "%s/%s.yaml", dir, ref);
	if (rc < 0)
		return tb_err_set(err, TB_EXIT_USAGE, "out of memory");
	if (!strchr(ref, '/') && !(len > 5 && !strcmp(ref + len - 5, ".yaml")) &&
	    access(path, F_OK) != 0) {
		char known[512];

		list_methods(dir, known, sizeof(known));
		tb_err_set(err, TB_EXIT_USAGE, "unknown method '%s': no %s (the methods in %s: %s)",
			   ref, path, dir, known[0] ? known : "none");
		free(path);
		return -1;
	}
	m->path = path;
	return method_parse(&ld, yf_open(&ld, path, "method", err), m);
}

int method_load_text(const char *path, const char *text, size_t len, struct method *m,
		     struct tb_err *err)
{
	struct yf_loader ld;

	memset(m, 0, sizeof(*m));
	m->path = strdup(path);
	if (!m->path)
		return tb_err_set(err, TB_EXIT_USAGE, "out of memory");
	return method_parse(&ld, yf_open_text(&ld, m->path, text, len, "method", err), m);
}

void method_free(struct method *m)
{
	if (!m)
		return;
	free(m->path);
	free(m->name);
	free(m->description);
	steps_free(m->steps, m->nsteps);
	free(m->downtime_from);
	free(m->maintenance_from);
	free(m->maintenance_to);
	free(m->next_after);
	free(m->second_from);
	for (int i = 0; i < m->nvia; i++)
		free(m->via[i]);
	memset(m, 0, sizeof(*m));
}
