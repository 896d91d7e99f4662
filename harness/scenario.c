/*
 * scenario.c - load a YAML scenario file into a struct scenario.
 *
 * The file is read whole, composed into a libyaml document and walked with
 * one table of fields per mapping.  The tables are the schema: they decide
 * which keys exist, which are required and how each value is checked, so
 * unknown, duplicate and missing keys are reported the same way at every
 * level.  Every message starts with FILE:LINE:COLUMN of the node at fault;
 * libyaml's marks are 0-based, ours are 1-based.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "array_size.h"
#include "monotime.h"
#include "scenario.h"

/* The name ends up in directory and libvirt domain names; keep it short. */
#define NAME_MAX_LEN 64

/* Large enough for every table below; walk_mapping() checks it. */
#define MAX_FIELDS 16

struct loader {
	const char *path; /* as given, the prefix of every message */
	char *dir;	  /* realpath of the file's directory: base of relative paths */
	const char *text; /* the file, to locate reader errors (byte offsets only) */
	size_t len;
	yaml_document_t doc;
	struct tb_err *err;
};

struct field;

/* Check @v and store it at @base + f->off; @what is the key path for messages. */
typedef int (*field_fn)(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
			char *base);

struct field {
	const char *key;
	field_fn parse;
	size_t off; /* destination within the struct being filled */
	int required;
	long min, max;		 /* parse_int */
	const struct field *sub; /* parse_mapping: the nested table */
	size_t nsub;
};

static int vfail_at(struct loader *ld, yaml_mark_t mark, const char *fmt, va_list ap)
{
	char msg[1536];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	tb_err_set(ld->err, TB_EXIT_USAGE, "%s:%zu:%zu: %s", ld->path, mark.line + 1,
		   mark.column + 1, msg);
	return -1; /* spelled out: callers rely on it to skip their outputs */
}

static int __attribute__((format(printf, 3, 4)))
fail_at(struct loader *ld, yaml_mark_t mark, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfail_at(ld, mark, fmt, ap);
	va_end(ap);
	return ret;
}

static int __attribute__((format(printf, 3, 4)))
fail_node(struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfail_at(ld, node->start_mark, fmt, ap);
	va_end(ap);
	return ret;
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_SCALAR_NODE:
		/* `key:` with nothing after it: say so rather than "a scalar". */
		if (n->data.scalar.length == 0 && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			return "an empty value";
		return "a scalar";
	default:
		return "nothing";
	}
}

/* The text of scalar @v, or NULL after an error naming @expected. */
static const char *want_scalar(struct loader *ld, const char *what, const char *expected,
			       const yaml_node_t *v)
{
	if (v->type != YAML_SCALAR_NODE) {
		fail_node(ld, v, "%s: expected %s, got %s", what, expected, node_kind(v));
		return NULL;
	}
	/* Double-quoted "\0" is valid YAML but would silently cut a C string. */
	if (strlen((const char *)v->data.scalar.value) != v->data.scalar.length) {
		fail_node(ld, v, "%s: contains a NUL character", what);
		return NULL;
	}
	return (const char *)v->data.scalar.value;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Letters, digits, '.', '_' and '-': safe in file, directory and domain names. */
static int is_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!is_digit(*s) && !(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    *s != '.' && *s != '_' && *s != '-')
			return 0;
	return 1;
}

static int64_t pow10_i64(int n)
{
	int64_t v = 1;

	while (n-- > 0)
		v *= 10;
	return v;
}

/*
 * Integer arithmetic only, so that "0.1s" is exactly 100000000 ns.  At most
 * 12 fraction digits are kept: with the largest unit (60e9 ns) the rest is
 * worth less than a nanosecond, and 12 digits times 60 still fits easily.
 */
int scenario_parse_duration(const char *text, int64_t *ns)
{
	static const struct {
		const char *name;
		int64_t mult; /* unit = mult * 10^exp ns */
		int exp;
	} units[] = {
	    {"ns", 1, 0}, {"us", 1, 3}, {"ms", 1, 6}, {"s", 1, 9}, {"m", 60, 9},
	};
	int64_t ip = 0, frac = 0, scale, f, total;
	int fdigits = 0;
	const char *p = text;
	size_t i;

	if (!text || !is_digit(*p))
		return -1;
	for (; is_digit(*p); p++) {
		if (ip > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		ip = ip * 10 + (*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return -1;
		for (; is_digit(*p); p++) {
			if (fdigits < 12) {
				frac = frac * 10 + (*p - '0');
				fdigits++;
			}
		}
	}
	for (i = 0; i < ARRAY_SIZE(units); i++)
		if (!strcmp(p, units[i].name))
			break;
	if (i == ARRAY_SIZE(units))
		return -1;

	scale = units[i].mult * pow10_i64(units[i].exp);
	if (ip > INT64_MAX / scale)
		return -1;
	total = ip * scale;
	f = frac * units[i].mult;
	if (fdigits <= units[i].exp)
		f *= pow10_i64(units[i].exp - fdigits);
	else
		f /= pow10_i64(fdigits - units[i].exp);
	if (total > INT64_MAX - f)
		return -1;
	total += f;
	if (total <= 0)
		return -1;
	*ns = total;
	return 0;
}

/*
 * A bare number is refused on purpose: "512" could as well mean bytes, as
 * it does in libvirt's XML, and a 512-byte guest is never what was meant.
 */
int scenario_parse_size_mib(const char *text, int *mib)
{
	const char *p = text;
	long v = 0, scale;

	if (!text || !is_digit(*p))
		return -1;
	for (; is_digit(*p); p++) {
		if (v > (INT_MAX - (*p - '0')) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (!strcmp(p, "M") || !strcmp(p, "MiB"))
		scale = 1;
	else if (!strcmp(p, "G") || !strcmp(p, "GiB"))
		scale = 1024;
	else
		return -1;
	if (v == 0 || v > INT_MAX / scale)
		return -1;
	*mib = (int)(v * scale);
	return 0;
}

static const char *const method_names[] = {
    [METHOD_REBOOT] = "reboot",
    [METHOD_KEXEC] = "kexec",
    [METHOD_TWIN_BOOT] = "twin-boot",
    [METHOD_TWIN] = "twin",
    [METHOD_CUSTOM] = "custom",
};

const char *scenario_method_label(const struct scenario *sc)
{
	if (sc->method == METHOD_TWIN && sc->upgrade.next.kernel)
		return "twin-repeat";
	if (sc->method == METHOD_TWIN && sc->guest.nic == NIC_DUAL)
		return "twin-dual";
	return method_name(sc->method);
}

const char *method_name(enum method m)
{
	if ((unsigned)m >= ARRAY_SIZE(method_names))
		return "unknown";
	return method_names[m];
}

int method_from_name(const char *name, enum method *m)
{
	size_t i;

	if (!name)
		return -1;
	for (i = 0; i < ARRAY_SIZE(method_names); i++) {
		if (!strcmp(name, method_names[i])) {
			*m = (enum method)i;
			return 0;
		}
	}
	return -1;
}

/*
 * Collapse ".", ".." and repeated slashes of the absolute path @p in place.
 * Only used to show a path that does not exist, where realpath() cannot help.
 */
static void path_clean(char *p)
{
	const char *r = p;
	size_t w = 0;

	while (*r) {
		size_t n;

		while (*r == '/')
			r++;
		n = strcspn(r, "/");
		if (n == 0 || (n == 1 && r[0] == '.')) {
			r += n;
			continue;
		}
		if (n == 2 && r[0] == '.' && r[1] == '.') {
			while (w > 0 && p[w - 1] != '/')
				w--;
			if (w > 0)
				w--;
			r += n;
			continue;
		}
		/* The output never overtakes the input, so memmove is enough. */
		p[w++] = '/';
		memmove(p + w, r, n);
		w += n;
		r += n;
	}
	if (w == 0)
		p[w++] = '/';
	p[w] = '\0';
}

/* --- field parsers: each checks one value and stores it at base + f->off --- */

static int parse_string(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
			char *base)
{
	const char *s;
	char **dst = (char **)(base + f->off);

	s = want_scalar(ld, what, "a string", v);
	if (!s)
		return -1;
	*dst = strdup(s);
	if (!*dst)
		return fail_node(ld, v, "%s: out of memory", what);
	return 0;
}

static int parse_nonempty_string(struct loader *ld, const struct field *f, const char *what,
				 yaml_node_t *v, char *base)
{
	const char *s;

	s = want_scalar(ld, what, "a string", v);
	if (!s)
		return -1;
	if (!*s)
		return fail_node(ld, v, "%s: expected a string, got an empty value", what);
	return parse_string(ld, f, what, v, base);
}

static int parse_name(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
		      char *base)
{
	const char *s;

	s = want_scalar(ld, what, "a name", v);
	if (!s)
		return -1;
	if (!is_name(s) || !strcmp(s, ".") || !strcmp(s, "..") || strlen(s) > NAME_MAX_LEN)
		return fail_node(ld, v,
				 "%s: expected up to %d letters, digits, '.', '_' or '-' "
				 "(it names directories and domains), got '%s'",
				 what, NAME_MAX_LEN, s);
	return parse_string(ld, f, what, v, base);
}

/* A phase name as recorded in results: same alphabet as scenario names. */
static int parse_phase(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
		       char *base)
{
	const char *s;

	s = want_scalar(ld, what, "a phase name", v);
	if (!s)
		return -1;
	if (!is_name(s))
		return fail_node(ld, v,
				 "%s: expected a phase name of letters, digits, '.', '_' or '-', "
				 "got '%s'",
				 what, s);
	return parse_string(ld, f, what, v, base);
}

static int parse_method(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
			char *base)
{
	char names[128] = "";
	const char *s;

	s = want_scalar(ld, what, "a method", v);
	if (!s)
		return -1;
	if (!method_from_name(s, (enum method *)(base + f->off)))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(method_names); i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 i ? ", " : "", method_names[i]);
	return fail_node(ld, v, "%s: unknown method '%s' (expected one of: %s)", what, s, names);
}

static int parse_nic(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
		     char *base)
{
	enum nic_mode *mode = (enum nic_mode *)(base + f->off);
	const char *s;

	s = want_scalar(ld, what, "a NIC mode", v);
	if (!s)
		return -1;
	if (!strcmp(s, "handoff"))
		*mode = NIC_HANDOFF;
	else if (!strcmp(s, "dual"))
		*mode = NIC_DUAL;
	else
		return fail_node(ld, v, "%s: expected 'handoff' or 'dual', got '%s'", what, s);
	return 0;
}

static int parse_int(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
		     char *base)
{
	char expected[64];
	const char *s, *p;
	long long n = 0;

	if (f->max == INT_MAX)
		snprintf(expected, sizeof(expected), "an integer >= %ld", f->min);
	else
		snprintf(expected, sizeof(expected), "an integer %ld..%ld", f->min, f->max);
	s = want_scalar(ld, what, expected, v);
	if (!s)
		return -1;
	/* Digits only: YAML's 0x1f, 1_000 or +3 are not worth the surprise. */
	for (p = s; is_digit(*p) && n <= f->max; p++)
		n = n * 10 + (*p - '0');
	if (p == s || *p || n < f->min || n > f->max)
		return fail_node(ld, v, "%s: expected %s, got '%s'", what, expected, s);
	*(int *)(base + f->off) = (int)n;
	return 0;
}

static int parse_duration(struct loader *ld, const struct field *f, const char *what,
			  yaml_node_t *v, char *base)
{
	const char *s;

	s = want_scalar(ld, what, "a duration", v);
	if (!s)
		return -1;
	if (scenario_parse_duration(s, (int64_t *)(base + f->off)))
		return fail_node(ld, v,
				 "%s: bad duration '%s' (expected a number > 0 and a unit "
				 "ns, us, ms, s or m without a space, e.g. 250ms or 1.5s)",
				 what, s);
	return 0;
}

static int parse_size(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
		      char *base)
{
	const char *s;

	s = want_scalar(ld, what, "a size", v);
	if (!s)
		return -1;
	if (scenario_parse_size_mib(s, (int *)(base + f->off)))
		return fail_node(ld, v,
				 "%s: bad size '%s' (expected a whole number of MiB or GiB, "
				 "e.g. 512M, 512MiB, 1G or 1GiB)",
				 what, s);
	return 0;
}

/*
 * Resolve against the scenario's directory and insist on a regular file, so
 * that a missing image fails here, with a line number, and not minutes later
 * inside libvirt.
 */
static int parse_path(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
		      char *base)
{
	char **dst = (char **)(base + f->off);
	char *joined = NULL, *real = NULL;
	const char *s;
	struct stat st;
	int e;

	s = want_scalar(ld, what, "a path", v);
	if (!s)
		return -1;
	if (!*s)
		return fail_node(ld, v, "%s: expected a path, got an empty value", what);
	if (s[0] == '/')
		joined = strdup(s);
	else if (asprintf(&joined, "%s/%s", ld->dir, s) < 0)
		joined = NULL;
	if (!joined)
		return fail_node(ld, v, "%s: out of memory", what);

	real = realpath(joined, NULL);
	if (!real) {
		e = errno;
		path_clean(joined);
		if (e == ENOENT)
			fail_node(ld, v, "%s: %s: no such file%s", what, joined,
				  strstr(joined, "/images/")
				      ? " (run 'make image' to build the guest images)"
				      : "");
		else
			fail_node(ld, v, "%s: %s: %s", what, joined, strerror(e));
		goto err;
	}
	if (stat(real, &st)) {
		fail_node(ld, v, "%s: %s: %s", what, real, strerror(errno));
		goto err;
	}
	if (!S_ISREG(st.st_mode)) {
		fail_node(ld, v, "%s: %s: not a regular file", what, real);
		goto err;
	}
	free(joined);
	*dst = real;
	return 0;
err:
	free(joined);
	free(real);
	return -1;
}

static int parse_console(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
			 char *base)
{
	const char *s;

	s = want_scalar(ld, what, "a console", v);
	if (!s)
		return -1;
	if (strcmp(s, "a") && strcmp(s, "b"))
		return fail_node(ld, v, "%s: expected 'a' or 'b', got '%s'", what, s);
	*(base + f->off) = s[0];
	return 0;
}

static int parse_probe_state(struct loader *ld, const struct field *f, const char *what,
			     yaml_node_t *v, char *base)
{
	const char *s;

	s = want_scalar(ld, what, "a probe state", v);
	if (!s)
		return -1;
	if (strcmp(s, "up") && strcmp(s, "down"))
		return fail_node(ld, v, "%s: expected 'up' or 'down', got '%s'", what, s);
	*(int *)(base + f->off) = !strcmp(s, "up");
	return 0;
}

/* Compiled once here only to reject it early; the console module compiles its own. */
static int parse_pattern(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
			 char *base)
{
	const char *s;
	char msg[256];
	regex_t re;
	int rc;

	s = want_scalar(ld, what, "a regular expression", v);
	if (!s)
		return -1;
	if (!*s)
		return fail_node(ld, v, "%s: empty pattern (it would match any line)", what);
	rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		regerror(rc, &re, msg, sizeof(msg));
		return fail_node(ld, v, "%s: bad regular expression '%s': %s", what, s, msg);
	}
	regfree(&re);
	return parse_string(ld, f, what, v, base);
}

/*
 * Double-quoted scalars arrive decoded by YAML already; decoding them again
 * would turn "a\\n" (a backslash and an n) into a newline.  Plain and
 * single-quoted ones keep backslashes, so `text: uname -r\n` is decoded here.
 * Block scalars carry real newlines and are left alone.
 */
static int parse_send_text(struct loader *ld, const struct field *f, const char *what,
			   yaml_node_t *v, char *base)
{
	char **dst = (char **)(base + f->off);
	const char *s;
	char *out;
	size_t w = 0;

	s = want_scalar(ld, what, "a string", v);
	if (!s)
		return -1;
	if (!*s)
		return fail_node(ld, v, "%s: expected text to send, got an empty value", what);
	if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
	    v->data.scalar.style != YAML_SINGLE_QUOTED_SCALAR_STYLE)
		return parse_string(ld, f, what, v, base);

	out = malloc(strlen(s) + 1);
	if (!out)
		return fail_node(ld, v, "%s: out of memory", what);
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] && strchr("nrt\\", s[1])) {
			s++;
			out[w++] = *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s == 't' ? '\t' : '\\';
		} else {
			out[w++] = *s;
		}
	}
	out[w] = '\0';
	*dst = out;
	return 0;
}

static int walk_mapping(struct loader *ld, yaml_node_t *node, const char *what,
			const struct field *fields, size_t nfields, char *base);

static int parse_mapping(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
			 char *base)
{
	return walk_mapping(ld, v, what, f->sub, f->nsub, base + f->off);
}

/* upgrade.next: a mapping like upgrade's, remembered with its place for later checks. */
static int parse_next(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
		      char *base)
{
	struct upgrade_next *next = (struct upgrade_next *)(base + f->off);

	next->line = (int)v->start_mark.line + 1;
	next->column = (int)v->start_mark.column + 1;
	return parse_mapping(ld, f, what, v, base);
}

static int parse_steps(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
		       char *base);

/* --- the schema --- */

/* Kept by hand: clang-format spreads each of these over four lines. */
/* clang-format off */
#define FIELD(k, fn, type, member) { .key = k, .parse = fn, .off = offsetof(type, member) }
#define REQUIRED(k, fn, type, member) \
	{ .key = k, .parse = fn, .off = offsetof(type, member), .required = 1 }
#define INT_FIELD(k, type, member, lo, hi) \
	{ .key = k, .parse = parse_int, .off = offsetof(type, member), .min = lo, .max = hi }
#define NESTED(k, type, member, table, req) \
	{ .key = k, .parse = parse_mapping, .off = offsetof(type, member), .required = req, \
	  .sub = table, .nsub = ARRAY_SIZE(table) }
/* clang-format on */

static const struct field guest_fields[] = {
    REQUIRED("kernel", parse_path, struct guest_spec, kernel),
    FIELD("initrd", parse_path, struct guest_spec, initrd),
    FIELD("rootfs", parse_path, struct guest_spec, rootfs),
    FIELD("cmdline", parse_string, struct guest_spec, cmdline),
    FIELD("memory", parse_size, struct guest_spec, memory_mib),
    /* 64: well above what the lab's hosts give a guest; catches typos like 200. */
    INT_FIELD("vcpus", struct guest_spec, vcpus, 1, 64),
    FIELD("nic", parse_nic, struct guest_spec, nic),
};

static const struct field next_fields[] = {
    REQUIRED("kernel", parse_path, struct upgrade_next, kernel),
    FIELD("initrd", parse_path, struct upgrade_next, initrd),
    /* Required: the next kernel boots beside B, on the other console. */
    REQUIRED("cmdline", parse_string, struct upgrade_next, cmdline),
    FIELD("release", parse_nonempty_string, struct upgrade_next, release),
};

static const struct field upgrade_fields[] = {
    REQUIRED("kernel", parse_path, struct upgrade_spec, kernel),
    FIELD("initrd", parse_path, struct upgrade_spec, initrd),
    FIELD("cmdline", parse_string, struct upgrade_spec, cmdline),
    FIELD("release", parse_nonempty_string, struct upgrade_spec, release),
    { .key = "next", .parse = parse_next, .off = offsetof(struct upgrade_spec, next),
      .sub = next_fields, .nsub = ARRAY_SIZE(next_fields) },
};

static const struct field service_fields[] = {
    INT_FIELD("port", struct service_spec, port, 1, 65535),
    FIELD("interval", parse_duration, struct service_spec, interval_ns),
};

static const struct field timeout_fields[] = {
    FIELD("boot", parse_duration, struct timeouts, boot_ns),
    FIELD("upgrade", parse_duration, struct timeouts, upgrade_ns),
    FIELD("step", parse_duration, struct timeouts, step_ns),
};

static const struct field top_fields[] = {
    REQUIRED("name", parse_name, struct scenario, name),
    REQUIRED("method", parse_method, struct scenario, method),
    INT_FIELD("repetitions", struct scenario, repetitions, 1, INT_MAX),
    NESTED("guest", struct scenario, guest, guest_fields, 1),
    /* Required unless the method is custom: checked in scenario_load(). */
    NESTED("upgrade", struct scenario, upgrade, upgrade_fields, 0),
    NESTED("service", struct scenario, service, service_fields, 0),
    NESTED("timeouts", struct scenario, timeouts, timeout_fields, 0),
    FIELD("steps", parse_steps, struct scenario, steps),
};

static const struct field expect_fields[] = {
    FIELD("console", parse_console, struct step, console),
    REQUIRED("pattern", parse_pattern, struct step, text),
    FIELD("timeout", parse_duration, struct step, timeout_ns),
    FIELD("mark", parse_phase, struct step, mark),
    FIELD("before", parse_phase, struct step, before),
};

static const struct field send_fields[] = {
    FIELD("console", parse_console, struct step, console),
    REQUIRED("text", parse_send_text, struct step, text),
    FIELD("before", parse_phase, struct step, before),
};

static const struct field wait_probe_fields[] = {
    REQUIRED("state", parse_probe_state, struct step, probe_up),
    FIELD("timeout", parse_duration, struct step, timeout_ns),
    FIELD("mark", parse_phase, struct step, mark),
    FIELD("before", parse_phase, struct step, before),
};

/* The mark step's value is a bare phase name, not a mapping. */
static const struct field mark_field = FIELD("mark", parse_phase, struct step, text);

static const struct {
	const char *name;
	enum step_kind kind;
	const struct field *fields; /* NULL: the value is a scalar (mark) */
	size_t nfields;
} step_kinds[] = {
    {"expect", STEP_EXPECT, expect_fields, ARRAY_SIZE(expect_fields)},
    {"send", STEP_SEND, send_fields, ARRAY_SIZE(send_fields)},
    {"mark", STEP_MARK, NULL, 0},
    {"wait_probe", STEP_WAIT_PROBE, wait_probe_fields, ARRAY_SIZE(wait_probe_fields)},
};

static void join_keys(char *buf, size_t size, const struct field *fields, size_t n)
{
	size_t i, w = 0;

	buf[0] = '\0';
	for (i = 0; i < n && w < size; i++)
		w += snprintf(buf + w, size - w, "%s%s", i ? ", " : "", fields[i].key);
}

/*
 * Check every key of @node against @fields and hand each value to its
 * parser.  @what is the mapping's key path ("" for the top level).
 */
static int walk_mapping(struct loader *ld, yaml_node_t *node, const char *what,
			const struct field *fields, size_t nfields, char *base)
{
	const yaml_node_t *seen[MAX_FIELDS] = {0};
	char where[128], path[192], keys[256];
	yaml_node_pair_t *pair;
	size_t i;

	if (nfields > MAX_FIELDS)
		abort();
	if (*what)
		snprintf(where, sizeof(where), "in %s", what);
	else
		snprintf(where, sizeof(where), "at the top level");
	if (node->type != YAML_MAPPING_NODE) {
		if (*what)
			return fail_node(ld, node, "%s: expected a mapping, got %s", what,
					 node_kind(node));
		return fail_node(ld, node, "expected a mapping at the top level, got %s",
				 node_kind(node));
	}

	for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(&ld->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&ld->doc, pair->value);
		const char *key;

		if (k->type != YAML_SCALAR_NODE)
			return fail_node(ld, k, "expected a key %s, got %s", where, node_kind(k));
		key = (const char *)k->data.scalar.value;
		for (i = 0; i < nfields; i++)
			if (!strcmp(key, fields[i].key))
				break;
		if (i == nfields) {
			join_keys(keys, sizeof(keys), fields, nfields);
			return fail_node(ld, k, "unknown key '%s' %s (expected one of: %s)", key,
					 where, keys);
		}
		if (seen[i])
			return fail_node(ld, k, "duplicate key '%s' %s (first at %zu:%zu)", key,
					 where, seen[i]->start_mark.line + 1,
					 seen[i]->start_mark.column + 1);
		seen[i] = k;
		if (*what)
			snprintf(path, sizeof(path), "%s.%s", what, key);
		else
			snprintf(path, sizeof(path), "%s", key);
		if (fields[i].parse(ld, &fields[i], path, v, base))
			return -1;
	}

	for (i = 0; i < nfields; i++)
		if (fields[i].required && !seen[i])
			return fail_node(ld, node, "missing required key '%s' %s", fields[i].key,
					 where);
	return 0;
}

static int parse_step(struct loader *ld, yaml_node_t *item, const char *what, struct step *st)
{
	char kinds[128] = "", path[192];
	yaml_node_pair_t *pairs;
	yaml_node_t *k, *v;
	size_t i, w = 0;

	for (i = 0; i < ARRAY_SIZE(step_kinds); i++)
		w += snprintf(kinds + w, sizeof(kinds) - w, "%s%s", i ? ", " : "",
			      step_kinds[i].name);
	if (item->type != YAML_MAPPING_NODE)
		return fail_node(ld, item, "%s: expected a mapping with one key (%s), got %s", what,
				 kinds, node_kind(item));
	pairs = item->data.mapping.pairs.start;
	if (item->data.mapping.pairs.top == pairs)
		return fail_node(ld, item, "%s: empty step (expected one of: %s)", what, kinds);
	k = yaml_document_get_node(&ld->doc, pairs[0].key);
	v = yaml_document_get_node(&ld->doc, pairs[0].value);
	if (item->data.mapping.pairs.top - pairs > 1) {
		yaml_node_t *k2 = yaml_document_get_node(&ld->doc, pairs[1].key);

		if (k2->type != YAML_SCALAR_NODE)
			return fail_node(ld, k2, "%s: a step has exactly one key, got a second one",
					 what);
		return fail_node(ld, k2,
				 "%s: a step has exactly one key, got a second one '%s' "
				 "(start each step with its own '-')",
				 what, (const char *)k2->data.scalar.value);
	}
	if (k->type != YAML_SCALAR_NODE)
		return fail_node(ld, k, "%s: expected a step kind (%s), got %s", what, kinds,
				 node_kind(k));
	for (i = 0; i < ARRAY_SIZE(step_kinds); i++)
		if (!strcmp((const char *)k->data.scalar.value, step_kinds[i].name))
			break;
	if (i == ARRAY_SIZE(step_kinds))
		return fail_node(ld, k, "unknown step '%s' in %s (expected one of: %s)",
				 (const char *)k->data.scalar.value, what, kinds);

	st->kind = step_kinds[i].kind;
	st->console = 'a';
	st->line = (int)item->start_mark.line + 1;
	st->column = (int)item->start_mark.column + 1;
	snprintf(path, sizeof(path), "%s.%s", what, step_kinds[i].name);
	if (!step_kinds[i].fields)
		return mark_field.parse(ld, &mark_field, path, v, (char *)st);
	return walk_mapping(ld, v, path, step_kinds[i].fields, step_kinds[i].nfields, (char *)st);
}

static int parse_steps(struct loader *ld, const struct field *f, const char *what, yaml_node_t *v,
		       char *base)
{
	struct scenario *sc = (struct scenario *)base;
	yaml_node_item_t *item;
	char path[64]; /* "steps[N]" */
	size_t n, i;

	(void)f;
	if (v->type != YAML_SEQUENCE_NODE)
		return fail_node(ld, v, "%s: expected a sequence of steps, got %s", what,
				 node_kind(v));
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0)
		return 0;
	/* Zeroed, and counted in full at once, so scenario_free() copes with a partial list. */
	sc->steps = calloc(n, sizeof(*sc->steps));
	if (!sc->steps)
		return fail_node(ld, v, "%s: out of memory", what);
	sc->nsteps = n;
	for (i = 0, item = v->data.sequence.items.start; i < n; i++, item++) {
		snprintf(path, sizeof(path), "%s[%zu]", what, i);
		if (parse_step(ld, yaml_document_get_node(&ld->doc, *item), path, &sc->steps[i]))
			return -1;
	}
	return 0;
}

/* --- loading --- */

static int read_file(const char *path, char **text, size_t *len, struct tb_err *err)
{
	size_t cap = 4096, n = 0, r;
	char *buf = NULL, *tmp;
	FILE *fp;

	fp = fopen(path, "rb");
	if (!fp)
		return tb_err_set(err, TB_EXIT_USAGE, "%s: cannot open: %s", path, strerror(errno));
	buf = malloc(cap);
	if (!buf)
		goto nomem;
	while ((r = fread(buf + n, 1, cap - n, fp)) > 0) {
		n += r;
		if (n == cap) {
			tmp = realloc(buf, cap * 2);
			if (!tmp)
				goto nomem;
			buf = tmp;
			cap *= 2;
		}
	}
	if (ferror(fp)) {
		/* A directory opens fine and fails here with EISDIR. */
		tb_err_set(err, TB_EXIT_USAGE, "%s: cannot read: %s", path, strerror(errno));
		goto err;
	}
	fclose(fp);
	*text = buf;
	*len = n;
	return 0;
nomem:
	tb_err_set(err, TB_EXIT_USAGE, "%s: out of memory", path);
err:
	free(buf);
	fclose(fp);
	return -1;
}

/*
 * libyaml reports reader errors (bad UTF-8, control characters) as a byte
 * offset without a mark; count lines ourselves so the message has one.
 */
static yaml_mark_t mark_of_offset(const struct loader *ld, size_t off)
{
	yaml_mark_t m = {0};
	size_t i;

	for (i = 0; i < off && i < ld->len; i++) {
		if (ld->text[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if (((unsigned char)ld->text[i] & 0xc0) != 0x80) {
			m.column++; /* count characters, not UTF-8 continuation bytes */
		}
	}
	m.index = off;
	return m;
}

static int syntax_error(struct loader *ld, const yaml_parser_t *parser)
{
	switch (parser->error) {
	case YAML_MEMORY_ERROR:
		return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: out of memory while parsing",
				  ld->path);
	case YAML_READER_ERROR:
		if (parser->problem_value != -1)
			return fail_at(ld, mark_of_offset(ld, parser->problem_offset),
				       "cannot read YAML: %s (#%X)", parser->problem,
				       parser->problem_value);
		return fail_at(ld, mark_of_offset(ld, parser->problem_offset),
			       "cannot read YAML: %s", parser->problem);
	default:
		if (parser->context)
			return fail_at(ld, parser->problem_mark,
				       "YAML syntax error: %s (%s at %zu:%zu)", parser->problem,
				       parser->context, parser->context_mark.line + 1,
				       parser->context_mark.column + 1);
		return fail_at(ld, parser->problem_mark, "YAML syntax error: %s",
			       parser->problem ? parser->problem : "unknown error");
	}
}

static int finish_scenario(struct loader *ld, yaml_node_t *root, struct scenario *sc)
{
	if (sc->method != METHOD_CUSTOM && !sc->upgrade.kernel)
		return fail_node(ld, root,
				 "missing required key 'upgrade' at the top level "
				 "(only method custom goes without one)");
	if (sc->upgrade.next.kernel && sc->method != METHOD_TWIN) {
		yaml_mark_t at = { .line = (size_t)sc->upgrade.next.line - 1,
				   .column = (size_t)sc->upgrade.next.column - 1 };

		return fail_at(ld, at,
			       "upgrade.next: a second upgrade is for method twin only "
			       "(the kernel that took over hands over in turn), not %s",
			       method_name(sc->method));
	}
	if (sc->upgrade.next.kernel && sc->guest.nic != NIC_HANDOFF) {
		yaml_mark_t at = { .line = (size_t)sc->upgrade.next.line - 1,
				   .column = (size_t)sc->upgrade.next.column - 1 };

		return fail_at(ld, at, "upgrade.next: a second upgrade needs guest.nic: handoff "
				       "(one NIC, handed on from kernel to kernel)");
	}
	if (!sc->guest.cmdline) {
		sc->guest.cmdline = strdup("");
		if (!sc->guest.cmdline)
			return fail_node(ld, root, "out of memory");
	}
	/* Upgrading to the same command line is the common case; say it once. */
	if (sc->upgrade.kernel && !sc->upgrade.cmdline) {
		sc->upgrade.cmdline = strdup(sc->guest.cmdline);
		if (!sc->upgrade.cmdline)
			return fail_node(ld, root, "out of memory");
	}
	return 0;
}

int scenario_load(const char *path, struct scenario *sc, struct tb_err *err)
{
	struct loader ld = {.path = path, .err = err};
	yaml_parser_t parser;
	yaml_document_t extra;
	yaml_node_t *root, *next;
	char *text = NULL, *dircopy = NULL;
	int parser_ready = 0, doc_ready = 0;
	size_t len = 0;
	yaml_mark_t first = {0};

	memset(sc, 0, sizeof(*sc));
	if (read_file(path, &text, &len, err))
		return -1;
	ld.text = text;
	ld.len = len;

	dircopy = strdup(path);
	if (!dircopy) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: out of memory", path);
		goto err;
	}
	ld.dir = realpath(dirname(dircopy), NULL);
	if (!ld.dir) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: cannot resolve its directory: %s", path,
			   strerror(errno));
		goto err;
	}

	if (!yaml_parser_initialize(&parser)) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: out of memory", path);
		goto err;
	}
	parser_ready = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	/* On failure yaml_parser_load() frees the document itself. */
	if (!yaml_parser_load(&parser, &ld.doc)) {
		syntax_error(&ld, &parser);
		goto err;
	}
	doc_ready = 1;
	root = yaml_document_get_root_node(&ld.doc);
	if (!root) {
		fail_at(&ld, first,
			"empty scenario (expected a mapping with name, method, "
			"guest and upgrade)");
		goto err;
	}
	/* Read the rest of the stream: a second document would be silently ignored. */
	if (!yaml_parser_load(&parser, &extra)) {
		syntax_error(&ld, &parser);
		goto err;
	}
	next = yaml_document_get_root_node(&extra);
	if (next)
		fail_node(&ld, next, "a scenario file holds one YAML document, found a second");
	yaml_document_delete(&extra);
	if (next)
		goto err;

	sc->path = strdup(path);
	if (!sc->path) {
		fail_node(&ld, root, "out of memory");
		goto err;
	}
	sc->repetitions = 1;
	sc->guest.memory_mib = 512;
	sc->guest.vcpus = 2;
	sc->service.port = 7777;
	sc->service.interval_ns = NS_PER_MS;
	sc->timeouts.boot_ns = 120 * NS_PER_S;
	sc->timeouts.upgrade_ns = 120 * NS_PER_S;
	sc->timeouts.step_ns = 30 * NS_PER_S;
	if (walk_mapping(&ld, root, "", top_fields, ARRAY_SIZE(top_fields), (char *)sc))
		goto err;
	if (finish_scenario(&ld, root, sc))
		goto err;

	yaml_document_delete(&ld.doc);
	yaml_parser_delete(&parser);
	free(ld.dir);
	free(dircopy);
	free(text);
	return 0;
err:
	if (doc_ready)
		yaml_document_delete(&ld.doc);
	if (parser_ready)
		yaml_parser_delete(&parser);
	free(ld.dir);
	free(dircopy);
	free(text);
	scenario_free(sc);
	return -1;
}

void scenario_free(struct scenario *sc)
{
	size_t i;

	if (!sc)
		return;
	free(sc->path);
	free(sc->name);
	free(sc->guest.kernel);
	free(sc->guest.initrd);
	free(sc->guest.rootfs);
	free(sc->guest.cmdline);
	free(sc->upgrade.kernel);
	free(sc->upgrade.initrd);
	free(sc->upgrade.cmdline);
	free(sc->upgrade.release);
	free(sc->upgrade.next.kernel);
	free(sc->upgrade.next.initrd);
	free(sc->upgrade.next.cmdline);
	free(sc->upgrade.next.release);
	for (i = 0; i < sc->nsteps; i++) {
		free(sc->steps[i].text);
		free(sc->steps[i].mark);
		free(sc->steps[i].before);
	}
	free(sc->steps);
	memset(sc, 0, sizeof(*sc));
}
