/*
 * methods.h - the step interpreter: runs a method file's program
 * (methodfile.h) and a scenario's own steps against a guest.
 *
 * Steps expect console lines, send text, mark phases, wait on the probe,
 * wait for the domain to stop, start the new kernel; the interpreter
 * records named phases in the repetition as it goes.
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

/* Consoles a step may name: the primary's a and b, the standby's ttyS0. */
#define METHOD_CONSOLES 3

struct method_env {
	const struct scenario *sc;
	struct console *console[METHOD_CONSOLES]; /* a, b, standby (NULL without one) */
	struct probe *probe;
	struct repetition *rep;

	/* Runner callbacks: wait for the guest to stop, boot the new kernel. */
	int (*wait_stopped)(void *runner, int64_t deadline_ns, struct tb_err *err);
	int (*start_new_kernel)(void *runner, struct tb_err *err);
	/*
	 * Live-migrate the guest to the lab's second host (QEMU's downtime
	 * limit if > 0), aborted at @deadline_ns.
	 */
	int (*live_migrate)(void *runner, int64_t max_downtime_ns, int64_t deadline_ns,
			    struct tb_err *err);
	/* Send the guest an NMI (libvirt's virDomainInjectNMI). */
	int (*inject_nmi)(void *runner, struct tb_err *err);
	/* Raise an uncorrected machine check on vCPU @cpu (QEMU's monitor). */
	int (*inject_mce)(void *runner, int cpu, struct tb_err *err);
	/* Tell the user which phase we are in (may be NULL). */
	void (*progress)(void *runner, const char *phase);
	void *runner;
};

/*
 * Run @env->sc's method program (and with upgrade.next its second round),
 * with the scenario's steps placed before the phases they name, then the
 * rest of the scenario's steps.  Phases are recorded in @env->rep; on
 * failure returns -1 with @err saying which step failed and why (the
 * caller adds the console's last lines).
 */
int method_run(struct method_env *env, struct tb_err *err);

#endif
