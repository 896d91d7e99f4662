/* toolstats.c - a tool's own figures from the console (see toolstats.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "kvline.h"
#include "toolstats.h"

#define PREFIX "twinbench: criu stats-"

int toolstats_parse_line(const char *line, struct tool_stats *ts)
{
	const char *p = strstr(line, PREFIX), *kind;
	size_t kind_len;

	if (!p)
		return 0;
	kind = p + strlen(PREFIX);
	kind_len = strcspn(kind, " ");
	if (!((kind_len == 4 && !strncmp(kind, "dump", 4)) ||
	      (kind_len == 7 && !strncmp(kind, "restore", 7))) ||
	    kind[kind_len] != ' ')
		return 0;
	memset(ts, 0, sizeof(*ts));
	snprintf(ts->name, sizeof(ts->name), "criu-%.*s", (int)kind_len, kind);
	ts->n = kv_parse(kind + kind_len, ts->key[0], sizeof(ts->key[0]), ts->value,
			 TOOL_STATS_MAX_KEYS);
	if (ts->n < 0) {
		ts->n = 0;
		return -1;
	}
	return ts->n ? 1 : -1;
}

void toolstats_collect(struct console *const con[2], struct repetition *rep)
{
	for (int c = 0; c < 2; c++) {
		struct console_match m;

		for (size_t i = 0; con[c] && console_line(con[c], i, &m) == 0; i++) {
			struct tool_stats ts;
			int rc = toolstats_parse_line(m.text, &ts);

			if (rc < 0)
				fprintf(stderr, "twinbench: console %c: a statistics line that is "
						"not name=count pairs, left out: %.200s\n",
					'a' + c, m.text);
			if (rc == 1 && rep->ntool_stats < RESULTS_MAX_TOOL_STATS)
				rep->tool_stats[rep->ntool_stats++] = ts;
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
