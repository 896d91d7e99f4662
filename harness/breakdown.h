/*
 * breakdown.h - a twin handoff's breakdown from what its agents print once
 * the service is back (guest/agent/agent.c):
 *
 *   twinbench-agent: handoff a request=0 stopped=41000 written=52000 ...
 *   twinbench-agent: handoff b seen=0 nic=18000000 link=19000000 ...
 *   twinbench-b: takeover steps begun=0 parked=1800000 cpus=125000000 ...
 *
 * each value in nanoseconds from the side's first step, on that kernel's
 * own clock.  An "a" line followed by a "b" line on the same console is one
 * handoff; a "takeover steps" line after them there, B's takeover of the
 * rest of A in that handoff.
 */
#ifndef TB_BREAKDOWN_H
#define TB_BREAKDOWN_H

#include "results.h"

struct console;

/*
 * Parse one console line: 'a' or 'b' for a breakdown line of that side,
 * 't' for a takeover's (filling @side), 0 for any other line, -1 for a
 * breakdown line that is malformed (a value that is no number, too many
 * steps).
 */
int breakdown_parse_line(const char *line, struct breakdown_side *side);

/*
 * Every handoff's breakdown on consoles @con[0] and @con[1] (NULL: none),
 * in the order the "b" lines arrived, into @rep (up to RESULTS_MAX_ROUNDS).
 */
void breakdown_collect(struct console *const con[2], struct repetition *rep);

/* The step @name of @side in ns, or -1 if the side has none of that name. */
int64_t breakdown_step(const struct breakdown_side *side, const char *name);

/*
 * @side for people: each step with the milliseconds since the one before,
 * "stopped 0.04, written 0.01, released 12.30, ready 0.02".
 */
void breakdown_format(const struct breakdown_side *side, char *buf, size_t len);

/* From @side's first step to its last, in ns (0 with fewer than two). */
int64_t breakdown_total(const struct breakdown_side *side);

#endif
