/*
 * yamlfile.c - the YAML input files' common machinery (yamlfile.h).
 *
 * The file is read whole, composed into a libyaml document and walked with
 * one table of fields per mapping.  libyaml's marks are 0-based, ours are
 * 1-based.
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

#include "array_size.h"
#include "yamlfile.h"

static int yf_vfail_at(struct yf_loader *ld, yaml_mark_t mark, const char *fmt, va_list ap)
{
	char msg[1536];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	tb_err_set(ld->err, TB_EXIT_USAGE, "%s:%zu:%zu: %s", ld->path, mark.line + 1,
		   mark.column + 1, msg);
	return -1; /* spelled out: callers rely on it to skip their outputs */
}

int __attribute__((format(printf, 3, 4)))
yf_fail_at(struct yf_loader *ld, yaml_mark_t mark, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = yf_vfail_at(ld, mark, fmt, ap);
	va_end(ap);
	return ret;
}

int __attribute__((format(printf, 3, 4)))
yf_fail_node(struct yf_loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = yf_vfail_at(ld, node->start_mark, fmt, ap);
	va_end(ap);
	return ret;
}

const char *yf_node_kind(const yaml_node_t *n)
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
const char *yf_want_scalar(struct yf_loader *ld, const char *what, const char *expected,
			       const yaml_node_t *v)
{
	if (v->type != YAML_SCALAR_NODE) {
		yf_fail_node(ld, v, "%s: expected %s, got %s", what, expected, yf_node_kind(v));
		return NULL;
	}
	/* Double-quoted "\0" is valid YAML but would silently cut a C string. */
	if (strlen((const char *)v->data.scalar.value) != v->data.scalar.length) {
		yf_fail_node(ld, v, "%s: contains a NUL character", what);
		return NULL;
	}
	return (const char *)v->data.scalar.value;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Letters, digits, '.', '_' and '-': safe in file, directory and domain names. */
int yf_is_name(const char *s)
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

int yf_string(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
			char *base)
{
	const char *s;
	char **dst = (char **)(base + f->off);

	s = yf_want_scalar(ld, what, "a string", v);
	if (!s)
		return -1;
	*dst = strdup(s);
	if (!*dst)
		return yf_fail_node(ld, v, "%s: out of memory", what);
	return 0;
}

int yf_nonempty_string(struct yf_loader *ld, const struct yf_field *f, const char *what,
				 yaml_node_t *v, char *base)
{
	const char *s;

	s = yf_want_scalar(ld, what, "a string", v);
	if (!s)
		return -1;
	if (!*s)
		return yf_fail_node(ld, v, "%s: expected a string, got an empty value", what);
	return yf_string(ld, f, what, v, base);
}

int yf_name(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
		      char *base)
{
	const char *s;

	s = yf_want_scalar(ld, what, "a name", v);
	if (!s)
		return -1;
	if (!yf_is_name(s) || !strcmp(s, ".") || !strcmp(s, "..") || strlen(s) > YF_NAME_MAX_LEN)
		return yf_fail_node(ld, v,
				 "%s: expected up to %d letters, digits, '.', '_' or '-' "
				 "(it names directories and domains), got '%s'",
				 what, YF_NAME_MAX_LEN, s);
	return yf_string(ld, f, what, v, base);
}

/* A phase name as recorded in results: same alphabet as scenario names. */
int yf_phase(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
		       char *base)
{
	const char *s;

	s = yf_want_scalar(ld, what, "a phase name", v);
	if (!s)
		return -1;
	if (!yf_is_name(s))
		return yf_fail_node(ld, v,
				 "%s: expected a phase name of letters, digits, '.', '_' or '-', "
				 "got '%s'",
				 what, s);
	return yf_string(ld, f, what, v, base);
}

/* YAML 1.2's core booleans only: "yes" and "on" are not worth the surprise. */
int yf_bool(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
	    char *base)
{
	const char *s = yf_want_scalar(ld, what, "true or false", v);

	if (!s)
		return -1;
	if (strcmp(s, "true") && strcmp(s, "false"))
		return yf_fail_node(ld, v, "%s: expected true or false, got '%s'", what, s);
	*(bool *)(base + f->off) = !strcmp(s, "true");
	return 0;
}

int yf_int(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
		     char *base)
{
	char expected[64];
	const char *s, *p;
	long long n = 0;

	if (f->max == INT_MAX)
		snprintf(expected, sizeof(expected), "an integer >= %ld", f->min);
	else
		snprintf(expected, sizeof(expected), "an integer %ld..%ld", f->min, f->max);
	s = yf_want_scalar(ld, what, expected, v);
	if (!s)
		return -1;
	/* Digits only: YAML's 0x1f, 1_000 or +3 are not worth the surprise. */
	for (p = s; is_digit(*p) && n <= f->max; p++)
		n = n * 10 + (*p - '0');
	if (p == s || *p || n < f->min || n > f->max)
		return yf_fail_node(ld, v, "%s: expected %s, got '%s'", what, expected, s);
	*(int *)(base + f->off) = (int)n;
	return 0;
}

int yf_duration(struct yf_loader *ld, const struct yf_field *f, const char *what,
			  yaml_node_t *v, char *base)
{
	const char *s;

	s = yf_want_scalar(ld, what, "a duration", v);
	if (!s)
		return -1;
	if (scenario_parse_duration(s, (int64_t *)(base + f->off)))
		return yf_fail_node(ld, v,
				 "%s: bad duration '%s' (expected a number > 0 and a unit "
				 "ns, us, ms, s or m without a space, e.g. 250ms or 1.5s)",
				 what, s);
	return 0;
}

int yf_size(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
		      char *base)
{
	const char *s;

	s = yf_want_scalar(ld, what, "a size", v);
	if (!s)
		return -1;
	if (scenario_parse_size_mib(s, (int *)(base + f->off)))
		return yf_fail_node(ld, v,
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
int yf_path(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
		      char *base)
{
	char **dst = (char **)(base + f->off);
	char *joined = NULL, *real = NULL;
	const char *s;
	struct stat st;
	int e;

	s = yf_want_scalar(ld, what, "a path", v);
	if (!s)
		return -1;
	if (!*s)
		return yf_fail_node(ld, v, "%s: expected a path, got an empty value", what);
	if (s[0] == '/')
		joined = strdup(s);
	else if (asprintf(&joined, "%s/%s", ld->dir, s) < 0)
		joined = NULL;
	if (!joined)
		return yf_fail_node(ld, v, "%s: out of memory", what);

	real = realpath(joined, NULL);
	if (!real) {
		e = errno;
		path_clean(joined);
		if (e == ENOENT)
			yf_fail_node(ld, v, "%s: %s: no such file%s", what, joined,
				  strstr(joined, "/images/")
				      ? " (run 'make image' to build the guest images)"
				      : "");
		else
			yf_fail_node(ld, v, "%s: %s: %s", what, joined, strerror(e));
		goto err;
	}
	if (stat(real, &st)) {
		yf_fail_node(ld, v, "%s: %s: %s", what, real, strerror(errno));
		goto err;
	}
	if (!S_ISREG(st.st_mode)) {
		yf_fail_node(ld, v, "%s: %s: not a regular file", what, real);
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

int yf_console(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
			 char *base)
{
	const char *s;

	s = yf_want_scalar(ld, what, "a console", v);
	if (!s)
		return -1;
	if (strcmp(s, "a") && strcmp(s, "b") && strcmp(s, "standby"))
		return yf_fail_node(ld, v, "%s: expected 'a', 'b' or 'standby', got '%s'", what, s);
	*(base + f->off) = s[0];
	return 0;
}

int yf_probe_state(struct yf_loader *ld, const struct yf_field *f, const char *what,
			     yaml_node_t *v, char *base)
{
	const char *s;

	s = yf_want_scalar(ld, what, "a probe state", v);
	if (!s)
		return -1;
	if (strcmp(s, "up") && strcmp(s, "down"))
		return yf_fail_node(ld, v, "%s: expected 'up' or 'down', got '%s'", what, s);
	*(bool *)(base + f->off) = !strcmp(s, "up");
	return 0;
}

/*
 * What a pattern may cost glibc's regcomp() (pattern_cost()).  A thousand
 * compile in 25 ms at most, and are more than a console line needs; ten
 * thousand optional copies ("a{0,10000}") take seconds, and the cost of a
 * short pattern can run to 2^40.
 */
#define PATTERN_MAX_COST  1000
#define PATTERN_MAX_DEPTH 32 /* nested groups; the methods' patterns use a few */
#define COST_OVER	  (PATTERN_MAX_COST + 1)
/*
 * A loop over what can match nothing ("(x?)+", "a*+") costs regcomp()'s
 * epsilon closures about eight times more per level than its copies
 * alone (measured: seven levels of "a?+" take 0.5 s, eight 5 s).
 */
#define NULLABLE_LOOP_COST 8

/* @a * @b, or COST_OVER if that is more (so that sums cannot wrap either). */
static size_t cost_mul(size_t a, size_t b)
{
	return b && a > COST_OVER / b ? COST_OVER : a * b;
}

static size_t cost_add(size_t a, size_t b)
{
	return a + b > PATTERN_MAX_COST ? COST_OVER : a + b;
}

/* The number at @s if it starts with a digit, @end past it; else -1. */
static long interval_bound(const char *s, char **end)
{
	unsigned long n;

	if (*s < '0' || *s > '9')
		return -1;
	n = strtoul(s, end, 10);
	return n > COST_OVER ? COST_OVER : (long)n;
}

/* A group of a pattern, as pattern_cost() reads it. */
struct pattern_group {
	size_t cost;	   /* of what it holds so far */
	size_t last;	   /* of its last atom or group (with its repetitions) */
	bool last_empty;   /* that last can match the empty string */
	bool before_empty; /* so can everything of this branch before it */
	bool any_empty;	   /* so can a branch before this one ('|') */
};

static void cost_atom(struct pattern_group *g, size_t cost, bool empty)
{
	g->before_empty = g->before_empty && g->last_empty;
	g->cost = cost_add(g->cost, cost);
	g->last = cost;
	g->last_empty = empty;
}

/* The last atom (or group) of @g repeated: @n copies, @loop if unbounded. */
static void cost_repeat(struct pattern_group *g, long n, bool loop)
{
	size_t copies = cost_mul(g->last, (size_t)n);

	if (loop && g->last_empty)
		copies = cost_mul(copies, NULLABLE_LOOP_COST);
	g->cost = cost_add(g->cost, copies > g->last ? copies - g->last : 0);
	g->last = copies;
}

/*
 * How many copies of its atoms regcomp() builds for the ERE @s: glibc
 * expands a counted repetition into copies of what it repeats ("x+" is
 * "xx*", "x{2,5}" five x's), so repetitions of repetitions multiply, nested
 * ("((a+)+)+") or stacked ("a+++"), and each level doubles the time it
 * takes, or more for loops over what can match nothing.  An estimate,
 * enough to refuse what would take seconds or forever; anything over
 * PATTERN_MAX_COST is COST_OVER.  Bad syntax is regcomp()'s to report, but
 * it copies as it parses: what comes before an error counts.
 *
 * A repetition right after a repetition ("a??", "a*+", "a{2}?") is
 * undefined in POSIX extended expressions, and glibc nests each in the one
 * before, its compile time growing with every one ("x)??????..." took
 * seconds, found by make fuzz): *@stacked is then its offset (else -1) and
 * the cost COST_OVER.
 */
static size_t pattern_cost(const char *s, long *stacked)
{
	struct pattern_group groups[PATTERN_MAX_DEPTH + 1], *g = groups;
	const char *start = s, *rbracket;
	bool empty, loop, rep = false, after_rep = false;
	long n, m;
	char *end;
	size_t c;

	*stacked = -1;
	*g = (struct pattern_group){.before_empty = true, .last_empty = true};
	for (; *s; after_rep = rep, s++) {
		rep = *s == '*' || *s == '?' || *s == '+' ||
		      (*s == '{' && interval_bound(s + 1, &end) >= 0);
		if (rep && after_rep) {
			*stacked = s - start;
			return COST_OVER;
		}
		switch (*s) {
		case '(':
			if (g == groups + PATTERN_MAX_DEPTH)
				return COST_OVER;
			*++g = (struct pattern_group){.before_empty = true, .last_empty = true};
			continue;
		case ')':
			if (g == groups)
				break;
			c = cost_add(g->cost, 1);
			empty = g->any_empty || (g->before_empty && g->last_empty);
			g--;
			cost_atom(g, c, empty);
			continue;
		case '|':
			g->any_empty = g->any_empty || (g->before_empty && g->last_empty);
			g->before_empty = g->last_empty = true;
			g->last = 0;
			continue;
		case '*':
			/* One copy, looped: no cost of its own. */
			g->last_empty = true;
			continue;
		case '?':
			g->last_empty = true;
			continue;
		case '+':
			cost_repeat(g, 2, true);
			continue;
		case '{':
			/* {n}, {n,}, {,m} and {n,m}: n, n + 1, m and m copies; else an atom. */
			n = interval_bound(s + 1, &end);
			if (n < 0)
				end = (char *)s + 1;
			m = n;
			loop = false;
			if (*end == ',') {
				m = interval_bound(end + 1, &end);
				if (m < 0 && n >= 0) {
					m = n + 1;
					loop = true;
					end++;
				}
			}
			if (m < 0 || *end != '}')
				break;
			s = end;
			cost_repeat(g, m > n ? m : n, loop);
			if (n <= 0)
				g->last_empty = true;
			continue;
		case '[':
			/* One atom: skip to its ']' ("[]a]", "[^]a]", "[[:digit:]x]"). */
			rbracket = s + 1;
			if (*rbracket == '^')
				rbracket++;
			if (*rbracket == ']')
				rbracket++;
			while (*rbracket && *rbracket != ']') {
				if (*rbracket == '[' && rbracket[1] && strchr(":=.", rbracket[1])) {
					end = strchr(rbracket + 2, rbracket[1]);
					while (end && end[1] != ']')
						end = strchr(end + 1, rbracket[1]);
					if (!end)
						break;
					rbracket = end + 1;
				}
				rbracket++;
			}
			if (*rbracket != ']')
				goto out; /* unterminated: regcomp() stops there */
			s = rbracket;
			break;
		case '\\':
			if (s[1])
				s++;
			break;
		}
		cost_atom(g, 1, false);
	}
out:
	/* Groups left open were copied all the same. */
	for (; g > groups; g--)
		g[-1].cost = cost_add(g[-1].cost, g->cost);
	return groups[0].cost;
}

/* Compiled once here only to reject it early; the console module compiles its own. */
int yf_pattern(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
			 char *base)
{
	const char *s;
	char msg[256];
	regex_t re;
	long stacked;
	size_t cost;
	int rc;

	s = yf_want_scalar(ld, what, "a regular expression", v);
	if (!s)
		return -1;
	if (!*s)
		return yf_fail_node(ld, v, "%s: empty pattern (it would match any line)", what);
	/* Before regcomp(), which would take minutes or all the memory on such a pattern. */
	cost = pattern_cost(s, &stacked);
	if (stacked > 0)
		return yf_fail_node(ld, v,
				    "%s: pattern '%s' repeats a repetition at offset %ld ('%c' after "
				    "'%c'): undefined in extended regular expressions; group what "
				    "is repeated",
				    what, s, stacked, s[stacked], s[stacked - 1]);
	if (cost > PATTERN_MAX_COST)
		return yf_fail_node(ld, v,
				    "%s: pattern '%s' costs too much to compile: more than %d "
				    "copies of its parts (repetitions of repetitions multiply) or "
				    "groups nested deeper than %d",
				    what, s, PATTERN_MAX_COST, PATTERN_MAX_DEPTH);
	rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		regerror(rc, &re, msg, sizeof(msg));
		return yf_fail_node(ld, v, "%s: bad regular expression '%s': %s", what, s, msg);
	}
	regfree(&re);
	return yf_string(ld, f, what, v, base);
}

/*
 * Double-quoted scalars arrive decoded by YAML already; decoding them again
 * would turn "a\\n" (a backslash and an n) into a newline.  Plain and
 * single-quoted ones keep backslashes, so `text: uname -r\n` is decoded here.
 * Block scalars carry real newlines and are left alone.
 */
int yf_send_text(struct yf_loader *ld, const struct yf_field *f, const char *what,
			   yaml_node_t *v, char *base)
{
	char **dst = (char **)(base + f->off);
	const char *s;
	char *out;
	size_t w = 0;

	s = yf_want_scalar(ld, what, "a string", v);
	if (!s)
		return -1;
	if (!*s)
		return yf_fail_node(ld, v, "%s: expected text to send, got an empty value", what);
	if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
	    v->data.scalar.style != YAML_SINGLE_QUOTED_SCALAR_STYLE)
		return yf_string(ld, f, what, v, base);

	out = malloc(strlen(s) + 1);
	if (!out)
		return yf_fail_node(ld, v, "%s: out of memory", what);
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

static void yf_join_keys(char *buf, size_t size, const struct yf_field *fields, size_t n)
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
int yf_walk_mapping(struct yf_loader *ld, yaml_node_t *node, const char *what,
			const struct yf_field *fields, size_t nfields, char *base)
{
	const yaml_node_t *seen[YF_MAX_FIELDS] = {0};
	char where[128], path[192], keys[256];
	yaml_node_pair_t *pair;
	size_t i;

	if (nfields > YF_MAX_FIELDS)
		abort();
	if (*what)
		snprintf(where, sizeof(where), "in %s", what);
	else
		snprintf(where, sizeof(where), "at the top level");
	if (node->type != YAML_MAPPING_NODE) {
		if (*what)
			return yf_fail_node(ld, node, "%s: expected a mapping, got %s", what,
					 yf_node_kind(node));
		return yf_fail_node(ld, node, "expected a mapping at the top level, got %s",
				 yf_node_kind(node));
	}

	for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(&ld->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&ld->doc, pair->value);
		const char *key;

		if (k->type != YAML_SCALAR_NODE)
			return yf_fail_node(ld, k, "expected a key %s, got %s", where, yf_node_kind(k));
		key = (const char *)k->data.scalar.value;
		for (i = 0; i < nfields; i++)
			if (!strcmp(key, fields[i].key))
				break;
		if (i == nfields) {
			yf_join_keys(keys, sizeof(keys), fields, nfields);
			return yf_fail_node(ld, k, "unknown key '%s' %s (expected one of: %s)", key,
					 where, keys);
		}
		if (seen[i])
			return yf_fail_node(ld, k, "duplicate key '%s' %s (first at %zu:%zu)", key,
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
			return yf_fail_node(ld, node, "missing required key '%s' %s", fields[i].key,
					 where);
	return 0;
}

/* --- loading --- */

static int yf_read_file(const char *path, char **text, size_t *len, struct tb_err *err)
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
		if (n > YF_MAX_FILE_SIZE) {
			tb_err_set(err, TB_EXIT_USAGE, "%s: larger than %d KiB: not an input file",
				   path, YF_MAX_FILE_SIZE / 1024);
			goto err;
		}
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
static yaml_mark_t yf_mark_of_offset(const struct yf_loader *ld, size_t off)
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

static int yf_syntax_error(struct yf_loader *ld, const yaml_parser_t *parser)
{
	switch (parser->error) {
	case YAML_MEMORY_ERROR:
		return tb_err_set(ld->err, TB_EXIT_USAGE, "%s: out of memory while parsing",
				  ld->path);
	case YAML_READER_ERROR:
		if (parser->problem_value != -1)
			return yf_fail_at(ld, yf_mark_of_offset(ld, parser->problem_offset),
				       "cannot read YAML: %s (#%X)", parser->problem,
				       parser->problem_value);
		return yf_fail_at(ld, yf_mark_of_offset(ld, parser->problem_offset),
			       "cannot read YAML: %s", parser->problem);
	default:
		if (parser->context)
			return yf_fail_at(ld, parser->problem_mark,
				       "YAML syntax error: %s (%s at %zu:%zu)", parser->problem,
				       parser->context, parser->context_mark.line + 1,
				       parser->context_mark.column + 1);
		return yf_fail_at(ld, parser->problem_mark, "YAML syntax error: %s",
			       parser->problem ? parser->problem : "unknown error");
	}
}

int yf_mapping(struct yf_loader *ld, const struct yf_field *f, const char *what, yaml_node_t *v,
	       char *base)
{
	return yf_walk_mapping(ld, v, what, f->sub, f->nsub, base + f->off);
}

/* Compose ld->text (ld->path's, by yf_open or yf_open_text) into ld->doc; its root or NULL. */
static yaml_node_t *yf_compose(struct yf_loader *ld, const char *what)
{
	const char *path = ld->path;
	struct tb_err *err = ld->err;
	yaml_parser_t parser;
	yaml_document_t extra;
	yaml_node_t *root = NULL, *next;
	yaml_mark_t first = { 0 };
	char *dircopy;

	dircopy = strdup(path);
	if (!dircopy) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: out of memory", path);
		return NULL;
	}
	ld->dir = realpath(dirname(dircopy), NULL);
	free(dircopy);
	if (!ld->dir) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: cannot resolve its directory: %s", path,
			   strerror(errno));
		return NULL;
	}
	if (!yaml_parser_initialize(&parser)) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: out of memory", path);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)ld->text, ld->len);
	/* On failure yaml_parser_load() frees the document itself. */
	if (!yaml_parser_load(&parser, &ld->doc)) {
		yf_syntax_error(ld, &parser);
		goto out;
	}
	ld->doc_ready = 1;
	root = yaml_document_get_root_node(&ld->doc);
	if (!root) {
		yf_fail_at(ld, first, "empty %s (expected a mapping)", what);
		goto out;
	}
	/* Read the rest of the stream: a second document would be silently ignored. */
	if (!yaml_parser_load(&parser, &extra)) {
		yf_syntax_error(ld, &parser);
		root = NULL;
		goto out;
	}
	next = yaml_document_get_root_node(&extra);
	if (next) {
		yf_fail_node(ld, next, "a %s file holds one YAML document, found a second", what);
		root = NULL;
	}
	yaml_document_delete(&extra);
out:
	yaml_parser_delete(&parser);
	return root;
}

yaml_node_t *yf_open(struct yf_loader *ld, const char *path, const char *what,
		     struct tb_err *err)
{
	char *text = NULL;
	size_t len = 0;

	memset(ld, 0, sizeof(*ld));
	ld->path = path;
	ld->err = err;
	if (yf_read_file(path, &text, &len, err))
		return NULL;
	ld->text = text;
	ld->len = len;
	return yf_compose(ld, what);
}

yaml_node_t *yf_open_text(struct yf_loader *ld, const char *path, const char *text, size_t len,
			  const char *what, struct tb_err *err)
{
	char *copy;

	memset(ld, 0, sizeof(*ld));
	ld->path = path;
	ld->err = err;
	/* What yf_read_file() refuses, refused here too. */
	if (len > YF_MAX_FILE_SIZE) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: larger than %d KiB: not an input file", path,
			   YF_MAX_FILE_SIZE / 1024);
		return NULL;
	}
	/* One more byte: malloc(0) may return NULL, and that is no error. */
	copy = malloc(len + 1);
	if (!copy) {
		tb_err_set(err, TB_EXIT_USAGE, "%s: out of memory", path);
		return NULL;
	}
	if (len)
		memcpy(copy, text, len);
	ld->text = copy;
	ld->len = len;
	return yf_compose(ld, what);
}

void yf_close(struct yf_loader *ld)
{
	if (ld->doc_ready)
		yaml_document_delete(&ld->doc);
	free((char *)ld->text);
	free(ld->dir);
	memset(ld, 0, sizeof(*ld));
}
