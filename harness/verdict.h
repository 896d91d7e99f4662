/*
 * verdict.h - whether a repetition did what its method promises: the
 * probe's trace judged as the method file says (its downtime window, its
 * verify, its second round, its maintenance window).
 *
 * A pure function of the scenario, the trace and the phases the step
 * interpreter recorded, so that the rules are tested on synthetic traces.
 */
#ifndef TB_VERDICT_H
#define TB_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "probe.h"
#include "results.h"
#include "scenario.h"

/*
 * Fill the probe's view into @rep from @trace (@n records, as
 * probe_snapshot() gives them; the repetition ended at @end_ns): the gap
 * from the downtime window's start, and whether the replies after it show
 * a new kernel with the old state (verify: upgrade) or the same service
 * unbroken (verify: unbroken); with a second round (upgrade.next), each
 * handoff.  The maintenance window runs between the method's two phases,
 * the second round's end if there was one.  @rep stays ok only if that
 * holds; its error says why not.  A method with verify: none, or a
 * repetition that never reached the window's start, is left as it is.
 */
void verdict_judge(const struct scenario *sc, const struct probe_record *trace, size_t n,
		   int64_t end_ns, struct repetition *rep);

/*
 * Where @rep's second window starts (a method's second_window, or the
 * second round of an upgrade.next chain); -1 if it has none, or never got
 * there.
 */
int64_t verdict_second_window(const struct scenario *sc, const struct repetition *rep);

#endif
