/* toolstats.c - a tool's own figures from the console (see toolstats.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "kvline.h"
#include "toolstats.h"

#define PREFIX "twinbench: criu stats-"
/* The agents' steps of a service moved between guests (guest/agent/migrate.h). */
#define MOVE_OUT "twinbench-agent: move out "
#define MOVE_IN	 "twinbench-agent: move in from="

/*
 * @ts named as @fmt says, its figures the pairs from @p to the line's end:
 * 1, or -1 if there are none or one is malformed.
 */
__attribute__((format(printf, 3, 4))) static int figures(struct tool_stats *ts, const char *p,
							 const char *fmt, ...)
{
	va_list ap;

	memset(ts, 0, sizeof(*ts));
	va_start(ap, fmt);
	vsnprintf(ts->name, sizeof(ts->name), fmt, ap);
	va_end(ap);
	ts->n = kv_parse(p, ts->key[0], sizeof(ts->key[0]), ts->value, TOOL_STATS_MAX_KEYS);
	if (ts->n < 0) {
		ts->n = 0;
		return -1;
	}
	return ts->n ? 1 : -1;
}

/* "move out STEPS" (the holder's) or "move in from=BOOT STEPS" (the taker's). */
static int parse_move(const char *p, bool out, struct tool_stats *ts)
{
	if (!out)
		p += strcspn(p, " \r");
	return figures(ts, p, "move-%s", out ? "out" : "in");
}

int toolstats_parse_line(const char *line, struct tool_stats *ts)
{
	const char *p = strstr(line, PREFIX), *kind;
	size_t kind_len;

	if (!p && (kind = strstr(line, MOVE_OUT)))
		return parse_move(kind + strlen(MOVE_OUT), true, ts);
	if (!p && (kind = strstr(line, MOVE_IN)))
		return parse_move(kind + strlen(MOVE_IN), false, ts);
	if (!p)
		return 0;
	kind = p + strlen(PREFIX);
	kind_len = strcspn(kind, " ");
	if (!((kind_len == 4 && !strncmp(kind, "dump", 4)) ||
	      (kind_len == 7 && !strncmp(kind, "restore", 7))) ||
	    kind[kind_len] != ' ')
		return 0;
	return figures(ts, kind + kind_len, "criu-%.*s", (int)kind_len, kind);
}

/* A statistics line found, stamped: the lines of all consoles go in time order. */
struct found {
	int64_t t_ns;
	struct tool_stats ts;
};

static int by_time(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	return (x->t_ns > y->t_ns) - (x->t_ns < y->t_ns);
}

void toolstats_collect(struct console *const *con, int ncon, struct repetition *rep)
{
	struct found found[RESULTS_MAX_TOOL_STATS];
	int n = 0, moves[2] = { 0, 0 };

	for (int c = 0; c < ncon; c++) {
		struct console_match m;

		for (size_t i = 0; con[c] && console_line(con[c], i, &m) == 0; i++) {
			struct tool_stats ts;
			int rc = toolstats_parse_line(m.text, &ts);

			if (rc < 0)
				fprintf(stderr, "twinbench: console %s: a statistics line that is "
						"not name=count pairs, left out: %.200s\n",
					console_name(con[c]), m.text);
			if (rc == 1 && n < RESULTS_MAX_TOOL_STATS)
				found[n++] = (struct found){ .t_ns = m.t_ns, .ts = ts };
		}
	}
	qsort(found, (size_t)n, sizeof(found[0]), by_time);
	for (int i = 0; i < n && rep->ntool_stats < RESULTS_MAX_TOOL_STATS; i++) {
		struct tool_stats *ts = &rep->tool_stats[rep->ntool_stats++];

		*ts = found[i].ts;
		/* The k-th move's holder and taker: move-K-out, move-K-in. */
		if (!strcmp(ts->name, "move-out") || !strcmp(ts->name, "move-in")) {
			bool out = ts->name[5] == 'o';

			snprintf(ts->name, sizeof(ts->name), "move-%d-%s", ++moves[!out],
				 out ? "out" : "in");
		}
	}
}

void toolstats_format(const struct tool_stats *ts, char *buf, size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (int i = 0; i < ts->n && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s=%lld", i ? " " : "", ts->key[i],
				 (long long)ts->value[i]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

int64_t toolstats_get(const struct tool_stats *ts, const char *key)
{
	for (int i = 0; i < ts->n; i++)
		if (!strcmp(ts->key[i], key))
			return ts->value[i];
	return -1;
}
