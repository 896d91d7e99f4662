/*
 * methods.h - upgrade methods as step programs, and the step interpreter.
 *
 * A method is a static table of steps (expect a console line, send text,
 * mark a phase, wait for the probe, wait for the domain to stop, start the
 * new kernel).  The interpreter runs the method's table and then the
 * scenario's own steps, recording named phases in the repetition as it goes.
 * What needs the runner (the domain) is reached through callbacks, so the
 * interpreter can be tested with fakes.
 */
#ifndef TB_METHODS_H
#define TB_METHODS_H

#include <stdint.h>

#include "console.h"
#include "error.h"
#include "probe.h"
#include "results.h"
#include "scenario.h"

/* Lines the guest prints that the programs expect (guest/rootfs/overlay). */
#define GUEST_READY_RE	   "twinbench-agent: ready "
#define GUEST_REFUSE_RE	   "twinbench-agent: refusing"
#define KERNEL_BANNER_RE   "Linux version [^ ]+"
#define GUEST_PROMPT_A	   "twinbench-a# "
#define GUEST_PROMPT_B	   "twinbench-b# "
#define GUEST_B_READY_RE   "twinbench-b: ready "
#define A_PARKED_RE	   "twin_kernel: CPU [0-9]+ parks, the last of this kernel"
#define TAKEOVER_DONE_RE   "twinbench-b: takeover done "
#define KERNEL_LOG_RE	   "^\\[ *[0-9]+\\.[0-9]+\\] "
#define TAKEOVER_FAILED_RE "twinbench-b: takeover failed|twinbench-agent: refusing"
#define UPGRADE_FAILED_RE  "twinbench: upgrade failed"
#define KERNEL_PANIC_RE	   "Kernel panic - not syncing"

struct method_env {
	const struct scenario *sc;
	struct console *console[2]; /* a, b */
	struct probe *probe;
	struct repetition *rep;

	/* Runner callbacks: wait for the guest to stop, boot the new kernel. */
	int (*wait_stopped)(void *runner, int64_t deadline_ns, struct tb_err *err);
	int (*start_new_kernel)(void *runner, struct tb_err *err);
	/* Tell the user which phase we are in (may be NULL). */
	void (*progress)(void *runner, const char *phase);
	void *runner;
};

/*
 * Run @env->sc's method program, then its steps.  Phases are recorded in
 * @env->rep; on failure returns -1 with @err saying which step failed and why
 * (the caller adds the console's last lines).
 */
int method_run(struct method_env *env, struct tb_err *err);

/*
 * Check that every step's "before:" names a phase one of @sc's method's own
 * steps records; -1 with "file:line:column: ..." (TB_EXIT_USAGE) if not.
 */
int method_check_steps(const struct scenario *sc, struct tb_err *err);

/*
 * The phase from which the probe's gap is measured: where the method's
 * program starts disturbing the service (upgrade_start, handoff_start, or
 * the trigger of twin-boot), or NULL for custom.
 */
const char *method_gap_start(enum method m);

/*
 * The phase names of a method's program, in the order they must occur.
 * The agent's ready line on a console (userspace_ready, b_service_ready) is
 * recorded but not listed: it and the first probe reply after the gap
 * (service_back) report one event by two paths, serial and network, and
 * arrive in either order.
 */
const char *const *method_phases(enum method m);

/*
 * The phases of a twin upgrade's second round (upgrade.next: B hands over to
 * C), in order: the twin phases from "trigger" on, prefixed "r2_".  The
 * kernels keep their roles' letters: in round 2, "a" is B (handing over)
 * and "b" is C.
 */
const char *const *method_round2_phases(void);

/* The second round's own gap start and the probe's service_back in it. */
#define ROUND2_GAP_START   "r2_handoff_start"
#define ROUND2_SERVICE_BACK "r2_service_back"

#endif
