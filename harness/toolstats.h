/*
 * toolstats.h - a tool's own figures of a repetition, from the console.
 *
 * kexec-criu's new kernel prints CRIU's statistics images once the service
 * is back, read by the agent (guest/agent/criustats.h), one line each:
 *
 *   twinbench: criu stats-dump freezing_time=6515 frozen_time=130686 ...
 *   twinbench: criu stats-restore pages_compared=0 ... restore_time=130450 ...
 *
 * Each becomes a struct tool_stats ("criu-dump", "criu-restore") with the
 * figures as stats.proto names them.
 *
 * The agents that move a service between guests (migrate) print their
 * steps once it moved, in ns on their own kernel's clock from the first:
 *
 *   twinbench-agent: move out pulled=0 sent=180220 acked=2216840 released=2610110
 *   twinbench-agent: move in from=BOOT connected=0 state=2701450 ... arp=64230870
 *
 * The k-th of each, in time order over every console, is "move-K-out"
 * (the holder's) and "move-K-in" (the taker's).
 */
#ifndef TB_TOOLSTATS_H
#define TB_TOOLSTATS_H

#include "results.h"

struct console;

/*
 * Parse one console line: 1 for a statistics line (filling @ts), 0 for any
 * other line, -1 for a statistics line that is malformed (no figures, a
 * figure that is no count, a name too long, too many figures).
 */
int toolstats_parse_line(const char *line, struct tool_stats *ts);

/*
 * Every statistics line on the @ncon consoles @con (NULL: none) into @rep
 * in time order, up to RESULTS_MAX_TOOL_STATS; a malformed one is said on
 * stderr.
 */
void toolstats_collect(struct console *const *con, int ncon, struct repetition *rep);

/* @ts for people: "freezing_time=120 frozen_time=5400 ...". */
void toolstats_format(const struct tool_stats *ts, char *buf, size_t len);

/* The value of @key in @ts, or -1 if it has none. */
int64_t toolstats_get(const struct tool_stats *ts, const char *key);

#endif
