/*
 * progress.h - the run's progress line on stderr: which scenario, which
 * repetition, which step, and for how long.
 *
 * On a terminal one line is redrawn five times a second by a thread of
 * its own; elsewhere (a log, CI) each step is a line of its own, once.
 */
#ifndef TB_PROGRESS_H
#define TB_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

struct progress;

/* Progress of scenario @name's @reps repetitions, to @out; NULL if out of memory. */
struct progress *progress_start(const char *name, int reps, FILE *out);

/* Repetition @rep (1-based) begins now. */
void progress_rep(struct progress *p, int rep);

/* Repetition's current step, in words (copied). */
void progress_step(struct progress *p, const char *doing);

/* Clear the line (on a terminal) before other output. */
void progress_clear(struct progress *p);

/* Stop the redrawing thread, clear the line, free. */
void progress_stop(struct progress *p);

#endif
